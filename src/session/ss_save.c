/*
 * Saving and restoring a member's group sessions (docs/client.md, "State
 * at rest"): what an app needs to come back into its groups after a
 * restart, as bytes the caller encrypts. The encoding uses the TLS
 * presentation codec of the MLS library:
 *
 *   uint16 version = 1
 *   Session sessions<V>
 *
 *   Session: uint32 id; uint8 flags (1: reliable, 2: rotation off);
 *            uint32 timeout_ms, max_retries, ctl_timeout_ms, ctl_retries;
 *            Name local, moderator, data, control; Name roster<V>;
 *            (opaque key<V>, opaque value<V>) metadata<V>;
 *            uint32 last_id, welcome_id;
 *            optional<uint32 commit_id, opaque mls_state<V>>
 *   Name:    uint64 component[3], id_hi, id_lo; opaque text[3]<V>
 *
 * A restored session is a member that took its welcome again: its routes
 * are asked for, then the application gets it as a NEW session. Its data
 * ids go on SS_RESTORE_SKIP_IDS past the saved ones and its MLS ratchets
 * past the saved generations (ss_mls_restore), since the app may have sent
 * after it saved: a member that had those ids reports them lost rather
 * than taking a new message for an old one. What was sent to the group
 * while it was away is read if its senders still hold it; a commit it
 * missed makes the moderator add it again (docs/sessions.md, "MLS").
 */
#include "core/alloc.h"
#include "mls/tls.h"
#include "session/ss_int.h"

#include <string.h>

#define SAVE_VERSION        1u
#define SS_RESTORE_SKIP_IDS 64u
#define FLAG_RELIABLE       1u
#define FLAG_ROTATION_OFF   2u

static void put_name(slim_mls_tls_writer *w, const ss_name *n) {
    for (int i = 0; i < 3; i++)
        slim_mls_tls_put_u64(w, n->name.component[i]);
    slim_mls_tls_put_u64(w, n->name.id.hi);
    slim_mls_tls_put_u64(w, n->name.id.lo);
    for (int i = 0; i < 3; i++) {
        const char *t = n->text[i];
        slim_mls_tls_put_opaque(w, slim_bytes_of(t, t != NULL ? strlen(t) : 0));
    }
}

static bool exportable(const ss_sess *s) {
    return s->g != NULL && !s->g->moderator && s->state == S_READY;
}

/* One session; measure: the MLS state's bytes as zeros (sizing the
 * buffer, which then never grows, so no copy of a secret is left in
 * memory it freed). */
static void put_session(slim_mls_tls_writer *w, const ss_sess *s, bool measure) {
    const ss_group *g = s->g;
    slim_mls_tls_put_u32(w, s->id);
    slim_mls_tls_put_u8(
        w, (uint8_t)((s->reliable ? FLAG_RELIABLE : 0) | (g->rot_off ? FLAG_ROTATION_OFF : 0)));
    slim_mls_tls_put_u32(w, s->timeout_ms);
    slim_mls_tls_put_u32(w, s->max_retries);
    slim_mls_tls_put_u32(w, s->ctl_timeout_ms);
    slim_mls_tls_put_u32(w, s->ctl_retries);
    put_name(w, &s->local);
    put_name(w, &s->peer);
    put_name(w, &g->data);
    put_name(w, &g->ctrl);
    size_t mark = slim_mls_tls_vec_begin(w);
    for (uint32_t i = 0; i < g->nmem; i++)
        put_name(w, &g->mem[i].n);
    slim_mls_tls_vec_end(w, mark);
    mark = slim_mls_tls_vec_begin(w);
    for (size_t i = 0; i < s->nmeta; i++) {
        slim_mls_tls_put_opaque(w, slim_bytes_of(s->meta[i].key.ptr, s->meta[i].key.len));
        slim_mls_tls_put_opaque(w, slim_bytes_of(s->meta[i].value.ptr, s->meta[i].value.len));
    }
    slim_mls_tls_vec_end(w, mark);
    slim_mls_tls_put_u32(w, s->last_id);
    slim_mls_tls_put_u32(w, g->welcome_id);
    slim_mls_tls_put_optional(w, s->mls != NULL);
    if (s->mls != NULL) {
        slim_buf st;
        slim_buf_init(&st);
        slim_status e = ss_mls_save(s->mls, &st);
        slim_mls_tls_put_u32(w, ss_mls_commit_id(s->mls));
        if (measure)
            memset(st.data, 0, st.len);
        slim_mls_tls_put_opaque(w, slim_buf_view(&st));
        slim_buf_cleanup_secret(&st);
        if (e != SLIM_OK)
            slim_mls_tls_writer_fail(w, e);
    }
}

static slim_status put_all(const slim_sessions *ss, slim_buf *out, bool measure, uint32_t *n) {
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    slim_mls_tls_put_u16(&w, SAVE_VERSION);
    size_t mark = slim_mls_tls_vec_begin(&w);
    *n = 0;
    slim_hmap_iter it;
    for (slim_hnode *h = slim_hmap_first(&ss->by_handle, &it); h != NULL;
         h = slim_hmap_next(&ss->by_handle, &it)) {
        const ss_sess *s = SLIM_CONTAINER_OF(h, ss_sess, by_handle);
        if (exportable(s)) {
            put_session(&w, s, measure);
            (*n)++;
        }
    }
    slim_mls_tls_vec_end(&w, mark);
    return slim_mls_tls_writer_status(&w);
}

slim_status slim_sessions_export(const slim_sessions *ss, slim_buf *out, uint32_t *count) {
    if (ss == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    /* measured first, with the secrets as zeros; then written into room
     * made for all of it */
    slim_buf m;
    slim_buf_init(&m);
    uint32_t n = 0;
    size_t was = out->len;
    slim_status st = put_all(ss, &m, true, &n);
    if (st == SLIM_OK)
        st = slim_buf_reserve(out, m.len);
    slim_buf_cleanup(&m);
    if (st == SLIM_OK)
        st = put_all(ss, out, false, &n);
    if (st != SLIM_OK) {
        if (out->len > was)
            memset(out->data + was, 0, out->len - was);
        out->len = was;
    } else if (count != NULL) {
        *count = n;
    }
    return st;
}

/* ---- restoring ---- */

static slim_status get_name(slim_mls_tls_reader *r, ss_name *out) {
    slim_name n;
    slim_bytes t[3];
    for (int i = 0; i < 3; i++)
        slim_mls_tls_get_u64(r, &n.component[i]);
    slim_mls_tls_get_u64(r, &n.id.hi);
    slim_mls_tls_get_u64(r, &n.id.lo);
    for (int i = 0; i < 3; i++)
        slim_mls_tls_get_opaque_max(r, SLIM_NAME_COMPONENT_MAX, &t[i]);
    slim_status st = slim_mls_tls_reader_status(r);
    if (st != SLIM_OK)
        return st;
    slim_str text[3];
    bool has = true;
    for (int i = 0; i < 3; i++) {
        text[i] = (slim_str){(const char *)t[i].ptr, t[i].len};
        has = has && t[i].len > 0 && memchr(t[i].ptr, '\0', t[i].len) == NULL;
    }
    return ss_name_set(out, &n, has ? text : NULL);
}

/* One saved session, made and linked (its routes asked for). */
static slim_status restore_one(slim_sessions *ss, slim_mls_tls_reader *r, uint64_t conn,
                               uint64_t now) {
    uint32_t id = 0, to = 0, retries = 0, cto = 0, cretries = 0, last_id = 0, wid = 0, cid = 0;
    uint8_t flags = 0;
    slim_mls_tls_get_u32(r, &id);
    slim_mls_tls_get_u8(r, &flags);
    slim_mls_tls_get_u32(r, &to);
    slim_mls_tls_get_u32(r, &retries);
    slim_mls_tls_get_u32(r, &cto);
    slim_mls_tls_get_u32(r, &cretries);
    ss_sess *s = ss_sess_new(ss);
    if (s == NULL)
        return SLIM_E_NOMEM;
    ss_name *roster = NULL;
    uint32_t nr = 0, cap = 0;
    slim_ss_kv *kv = NULL;
    size_t nkv = 0;
    slim_status st = SLIM_OK;
    s->g = ss_group_new();
    if (s->g == NULL)
        st = SLIM_E_NOMEM;
    if (st == SLIM_OK && (st = get_name(r, &s->local)) == SLIM_OK &&
        (st = get_name(r, &s->peer)) == SLIM_OK && (st = get_name(r, &s->g->data)) == SLIM_OK)
        st = get_name(r, &s->g->ctrl);
    slim_mls_tls_reader v;
    if (st == SLIM_OK && (st = slim_mls_tls_get_vector(r, &v)) == SLIM_OK) {
        while (st == SLIM_OK && slim_mls_tls_reader_more(&v)) {
            if (nr == cap) {
                uint32_t c = cap ? 2 * cap : 16;
                ss_name *p = c <= ss->max_members ? slim_realloc(roster, c * sizeof *p) : NULL;
                if (p == NULL) {
                    st = c <= ss->max_members ? SLIM_E_NOMEM : SLIM_E_TOO_LARGE;
                    break;
                }
                roster = p;
                cap = c;
            }
            memset(&roster[nr], 0, sizeof roster[nr]);
            st = get_name(&v, &roster[nr]);
            nr += st == SLIM_OK;
        }
        if (st == SLIM_OK)
            st = slim_mls_tls_end_vector(r, &v);
    }
    if (st == SLIM_OK && (st = slim_mls_tls_get_vector(r, &v)) == SLIM_OK) {
        slim_mls_tls_reader c = v; /* counted first: one allocation */
        size_t n = 0;
        slim_bytes k, val;
        while (slim_mls_tls_reader_more(&c) && slim_mls_tls_get_opaque(&c, &k) == SLIM_OK &&
               slim_mls_tls_get_opaque(&c, &val) == SLIM_OK)
            n++;
        kv = n > 0 ? slim_calloc(n, sizeof *kv) : NULL;
        if (n > 0 && kv == NULL)
            st = SLIM_E_NOMEM;
        while (st == SLIM_OK && nkv < n) {
            slim_mls_tls_get_opaque(&v, &k);
            slim_mls_tls_get_opaque(&v, &val);
            kv[nkv++] =
                (slim_ss_kv){{(const char *)k.ptr, k.len}, {(const char *)val.ptr, val.len}};
        }
        if (st == SLIM_OK)
            st = slim_mls_tls_end_vector(r, &v);
    }
    slim_mls_tls_get_u32(r, &last_id);
    slim_mls_tls_get_u32(r, &wid);
    bool has_mls = false;
    slim_bytes mls = {0};
    slim_mls_tls_get_optional(r, &has_mls);
    if (has_mls) {
        slim_mls_tls_get_u32(r, &cid);
        slim_mls_tls_get_opaque(r, &mls);
    }
    if (st == SLIM_OK)
        st = slim_mls_tls_reader_status(r);
    /* it must be ours, and not here already */
    if (st == SLIM_OK && (!slim_id_equal(s->local.name.id, ss->local.name.id) ||
                          !slim_name_same_service(&s->g->data.name, &s->g->ctrl.name)))
        st = SLIM_E_INVALID_ARG;
    if (st == SLIM_OK && ss_find_id(ss, id) != NULL)
        st = SLIM_E_SESSION_DUPLICATE;
    if (st == SLIM_OK && ss->nsessions >= ss->max_sessions)
        st = SLIM_E_SESSION_LIMIT;
    if (st == SLIM_OK) {
        s->id = id;
        s->type = SLIM_SESSION_MULTICAST;
        s->initiator = false;
        s->peer_known = true;
        s->reliable = (flags & FLAG_RELIABLE) != 0;
        s->timeout_ms = to;
        s->max_retries = retries;
        s->ctl_timeout_ms = cto ? cto : SS_DEFAULT_CTL_TIMEOUT;
        s->ctl_retries = cretries;
        s->g->rot_off = (flags & FLAG_ROTATION_OFF) != 0;
        s->last_id = ss_seq_add(last_id, SS_RESTORE_SKIP_IDS);
        st = ss_meta_copy(s, kv, nkv);
    }
    if (st == SLIM_OK && has_mls && (st = ss_mls_new(ss, s)) == SLIM_OK)
        st = ss_mls_restore(s, mls, cid);
    if (st == SLIM_OK) {
        ss_sess_link(ss, s);
        st = ss_group_restore(ss, s, roster, nr, wid, conn, now);
        if (st != SLIM_OK)
            ss_end(ss, s, st, R_NOMEM, P_WELCOME, now); /* linked: it ends */
        ss_reschedule(ss, s);
        s = NULL;
    }
    for (uint32_t i = 0; i < nr; i++)
        ss_name_clear(&roster[i]);
    slim_free(roster);
    slim_free(kv);
    ss_sess_free(s);
    return st;
}

slim_status slim_sessions_import(slim_sessions *ss, slim_bytes saved, uint64_t conn,
                                 uint64_t now_ms, uint32_t *count) {
    if (ss == NULL || (saved.ptr == NULL && saved.len > 0))
        return SLIM_E_INVALID_ARG;
    ss_begin(ss);
    ss->now = now_ms;
    slim_mls_tls_reader r, v;
    slim_mls_tls_reader_init(&r, saved);
    uint16_t version = 0;
    slim_mls_tls_get_u16(&r, &version);
    slim_status st = slim_mls_tls_reader_status(&r);
    if (st == SLIM_OK && version != SAVE_VERSION)
        return SLIM_E_UNSUPPORTED;
    if (st == SLIM_OK)
        st = slim_mls_tls_get_vector(&r, &v);
    uint32_t n = 0;
    while (st == SLIM_OK && slim_mls_tls_reader_more(&v)) {
        st = restore_one(ss, &v, conn, now_ms);
        n += st == SLIM_OK;
    }
    if (count != NULL)
        *count = n;
    return st;
}
