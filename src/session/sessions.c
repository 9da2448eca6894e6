/*
 * The session core as one object (sessions.h): names the application
 * answers for, the sessions by local handle and by wire id, the queue of
 * outputs, one heap of sessions ordered by their next deadline, and the
 * dispatch of what arrives. The protocol itself is in ss_p2p.c (control)
 * and ss_data.c (data).
 *
 * Ownership rules that hold everywhere:
 *   - an output, once queued, belongs to the queue; the one last returned
 *     by slim_sessions_next() is freed at the next call on the object;
 *   - a session the application knows is freed when its CLOSED output is
 *     freed (every output naming it comes before its CLOSED); a session it
 *     never saw (a joiner that never got its welcome) is freed at the
 *     start of the next call (the `grave` list), so handlers may keep
 *     using a session they have just ended until they return;
 *   - handlers take ownership of the decoded message they are given.
 */
#include "session/ss_int.h"
#include "core/alloc.h"
#include "core/khash.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- names ---- */

void ss_name_clear(ss_name *n) {
    for (int i = 0; i < 3; i++) {
        slim_free(n->text[i]);
        n->text[i] = NULL;
    }
}

bool ss_name_has_text(const ss_name *n) {
    return n->text[0] != NULL;
}

slim_status ss_name_set(ss_name *dst, const slim_name *n, const slim_str *text) {
    char *t[3] = {NULL, NULL, NULL};
    if (text != NULL && text[0].len && text[1].len && text[2].len) {
        for (int i = 0; i < 3; i++) {
            t[i] = slim_strndup(text[i].ptr, text[i].len);
            if (t[i] == NULL) {
                for (int j = 0; j < i; j++)
                    slim_free(t[j]);
                return SLIM_E_NOMEM;
            }
        }
    }
    ss_name_clear(dst);
    dst->name = *n;
    for (int i = 0; i < 3; i++)
        dst->text[i] = t[i];
    return SLIM_OK;
}

slim_status ss_name_from_pb(ss_name *dst, const slim_pb_name *pb) {
    slim_name n;
    slim_status st = slim_wire_name_get(pb, &n);
    if (st != SLIM_OK)
        return st;
    slim_str text[3];
    return ss_name_set(dst, &n, slim_wire_name_strings(pb, text) ? text : NULL);
}

slim_wire_name ss_name_wire(const ss_name *n, slim_str tmp[3]) {
    slim_wire_name w = {&n->name, NULL};
    if (ss_name_has_text(n)) {
        for (int i = 0; i < 3; i++) {
            tmp[i].ptr = n->text[i];
            tmp[i].len = strlen(n->text[i]);
        }
        w.text = tmp;
    }
    return w;
}

void ss_name_view(const ss_name *n, slim_sname *out) {
    memset(out, 0, sizeof *out);
    out->name = n->name;
    if (ss_name_has_text(n))
        for (int i = 0; i < 3; i++) {
            out->text[i].ptr = n->text[i];
            out->text[i].len = strlen(n->text[i]);
        }
}

static bool sname_text_ok(const slim_sname *n, bool required) {
    int set = (n->text[0].len > 0) + (n->text[1].len > 0) + (n->text[2].len > 0);
    for (int i = 0; i < 3; i++)
        if (n->text[i].len > SLIM_NAME_COMPONENT_MAX || (n->text[i].len && !n->text[i].ptr))
            return false;
    return set == 3 || (set == 0 && !required);
}

bool ss_is_our_name(const slim_sessions *ss, const slim_name *n, const ss_appname **which) {
    if (!slim_id_is_any(n->id) && !slim_id_equal(n->id, ss->local.name.id))
        return false;
    for (uint32_t i = 0; i < ss->nnames; i++)
        if (slim_name_same_service(&ss->names[i].n.name, n)) {
            if (which != NULL)
                *which = &ss->names[i];
            return true;
        }
    return false;
}

static long name_index(const slim_sessions *ss, const slim_name *n) {
    for (uint32_t i = 0; i < ss->nnames; i++)
        if (slim_name_same_service(&ss->names[i].n.name, n))
            return (long)i;
    return -1;
}

static slim_status add_name(slim_sessions *ss, const slim_sname *name) {
    if (name_index(ss, &name->name) >= 0)
        return SLIM_OK;
    if (ss->nnames == ss->names_cap) {
        uint32_t cap = ss->names_cap ? ss->names_cap * 2 : 4;
        ss_appname *p = slim_realloc(ss->names, cap * sizeof *p);
        if (p == NULL)
            return SLIM_E_NOMEM;
        ss->names = p;
        ss->names_cap = cap;
    }
    ss_appname *a = &ss->names[ss->nnames];
    memset(a, 0, sizeof *a);
    slim_status st = ss_name_set(&a->n, &name->name, name->text);
    if (st != SLIM_OK)
        return st;
    ss->nnames++;
    return SLIM_OK;
}

/* ---- outputs ---- */

ss_out *ss_out_new(slim_sout_kind kind, ss_sess *s) {
    ss_out *o = slim_calloc(1, sizeof *o);
    if (o != NULL) {
        o->kind = kind;
        o->sess = s;
        o->handle = s ? s->handle : 0;
    }
    return o;
}

void ss_out_free(ss_out *o) {
    if (o == NULL)
        return;
    slim_free(o->bytes);
    slim_wire_free(o->msg);
    slim_free(o->kv);
    ss_name_clear(&o->who);
    slim_free(o->note);
    slim_free(o);
}

void ss_out_push(slim_sessions *ss, ss_out *o) {
    o->next = NULL;
    if (ss->out_tail != NULL)
        ss->out_tail->next = o;
    else
        ss->out_head = o;
    ss->out_tail = o;
    ss->out_len++;
}

void ss_out_settle(slim_sessions *ss, ss_out **slot, slim_status st, ss_reason why, uint32_t arg) {
    ss_out *o = *slot;
    if (o == NULL)
        return;
    *slot = NULL;
    o->status = st;
    o->reason = why;
    o->arg = arg;
    ss_out_push(ss, o);
}

/* Frees an output that left the queue; a CLOSED takes its session along. */
static void out_release(ss_out *o) {
    if (o == NULL)
        return;
    if (o->kind == SLIM_SOUT_CLOSED && o->sess != NULL)
        ss_sess_free(o->sess);
    ss_out_free(o);
}

static void grave_empty(slim_sessions *ss);

/* What every call does first: the views of the last output die here. */
void ss_begin(slim_sessions *ss) {
    out_release(ss->cur);
    ss->cur = NULL;
    grave_empty(ss);
}

/* ---- the heap of sessions by deadline ---- */

static void heap_swap(slim_sessions *ss, size_t a, size_t b) {
    ss_sess *t = ss->heap[a];
    ss->heap[a] = ss->heap[b];
    ss->heap[b] = t;
    ss->heap[a]->heap_idx = a;
    ss->heap[b]->heap_idx = b;
}

static void heap_up(slim_sessions *ss, size_t i) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (ss->heap[p]->deadline <= ss->heap[i]->deadline)
            break;
        heap_swap(ss, p, i);
        i = p;
    }
}

static void heap_down(slim_sessions *ss, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < ss->heap_len && ss->heap[l]->deadline < ss->heap[m]->deadline)
            m = l;
        if (r < ss->heap_len && ss->heap[r]->deadline < ss->heap[m]->deadline)
            m = r;
        if (m == i)
            break;
        heap_swap(ss, i, m);
        i = m;
    }
}

static void heap_remove(slim_sessions *ss, ss_sess *s) {
    size_t i = s->heap_idx;
    if (i == SIZE_MAX)
        return;
    ss->heap_len--;
    if (i != ss->heap_len) {
        ss->heap[i] = ss->heap[ss->heap_len];
        ss->heap[i]->heap_idx = i;
        heap_down(ss, i);
        heap_up(ss, i);
    }
    s->heap_idx = SIZE_MAX;
}

/* Room for every live session is made when it is created, so this never
 * allocates. */
void ss_reschedule(slim_sessions *ss, ss_sess *s) {
    if (s->state == S_DEAD) {
        heap_remove(ss, s);
        return;
    }
    uint64_t d = s->g != NULL ? ss_group_deadline(s) : ss_p2p_deadline(s);
    uint64_t dd = ss_data_deadline(s);
    if (dd < d)
        d = dd;
    dd = ss_mls_deadline(s);
    if (dd < d)
        d = dd;
    if (d == UINT64_MAX) {
        heap_remove(ss, s);
        s->deadline = d;
        return;
    }
    s->deadline = d;
    if (s->heap_idx == SIZE_MAX) {
        s->heap_idx = ss->heap_len;
        ss->heap[ss->heap_len++] = s;
        heap_up(ss, s->heap_idx);
    } else {
        heap_down(ss, s->heap_idx);
        heap_up(ss, s->heap_idx);
    }
}

static slim_status heap_reserve(slim_sessions *ss, size_t n) {
    if (n <= ss->heap_cap)
        return SLIM_OK;
    size_t cap = ss->heap_cap ? ss->heap_cap : 16;
    while (cap < n)
        cap *= 2;
    ss_sess **p = slim_realloc(ss->heap, cap * sizeof *p);
    if (p == NULL)
        return SLIM_E_NOMEM;
    ss->heap = p;
    ss->heap_cap = cap;
    return SLIM_OK;
}

/* ---- sessions by handle and by wire id ---- */

static int eq_handle(const slim_hnode *n, const void *key) {
    return SLIM_CONTAINER_OF(n, ss_sess, by_handle)->handle == *(const uint64_t *)key;
}

static int eq_id(const slim_hnode *n, const void *key) {
    return SLIM_CONTAINER_OF(n, ss_sess, by_id)->id == *(const uint32_t *)key;
}

static ss_sess *find_handle(const slim_sessions *ss, uint64_t h) {
    slim_hnode *n = slim_hmap_find(&ss->by_handle, slim_mix64(h), eq_handle, &h);
    return n ? SLIM_CONTAINER_OF(n, ss_sess, by_handle) : NULL;
}

ss_sess *ss_find_id(const slim_sessions *ss, uint32_t id) {
    slim_hnode *n = slim_hmap_find(&ss->by_id, slim_khash_u64(id), eq_id, &id);
    return n ? SLIM_CONTAINER_OF(n, ss_sess, by_id) : NULL;
}

uint32_t ss_random_id(slim_sessions *ss) {
    uint32_t v;
    do
        v = (uint32_t)ss->ops.random64(ss->ops.ud);
    while (v == 0);
    return v;
}

void ss_sess_free(ss_sess *s) {
    if (s == NULL)
        return;
    ss_ctl_clear(s);
    slim_free(s->ctl);
    ss_data_free(s);
    ss_group_free(s);
    ss_mls_free(s->mls);
    ss_name_clear(&s->local);
    ss_name_clear(&s->peer);
    for (uint32_t i = 0; i < s->ninst; i++)
        ss_name_clear(&s->inst[i].n);
    slim_free(s->inst);
    slim_free(s->meta);
    slim_free(s->meta_store);
    ss_out_free(s->open_done);
    ss_out_free(s->close_done);
    ss_out_free(s->closed);
    slim_free(s);
}

/* Dead sessions nobody will free through a CLOSED output wait in
 * ss->grave for the next call; they are chained through by_handle.next. */
static void grave_add(slim_sessions *ss, ss_sess *s) {
    s->by_handle.next = ss->grave ? &ss->grave->by_handle : NULL;
    ss->grave = s;
}

static void grave_empty(slim_sessions *ss) {
    ss_sess *s = ss->grave;
    ss->grave = NULL;
    while (s != NULL) {
        ss_sess *next =
            s->by_handle.next ? SLIM_CONTAINER_OF(s->by_handle.next, ss_sess, by_handle) : NULL;
        ss_sess_free(s);
        s = next;
    }
}

/* A new session, linked nowhere yet, with its CLOSED output ready. */
ss_sess *ss_sess_new(slim_sessions *ss) {
    ss_sess *s = slim_calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->heap_idx = SIZE_MAX;
    s->deadline = UINT64_MAX;
    s->rxq.next = 1;
    s->rxq.conn = UINT64_MAX;
    s->conn = UINT64_MAX;
    s->closed = ss_out_new(SLIM_SOUT_CLOSED, s);
    if (s->closed == NULL || heap_reserve(ss, ss->nsessions + 1) != SLIM_OK) {
        ss_sess_free(s);
        return NULL;
    }
    s->handle = ss->next_handle++; /* a failed open wastes one: never reused */
    s->closed->handle = s->handle;
    return s;
}

void ss_sess_link(slim_sessions *ss, ss_sess *s) {
    slim_hmap_insert(&ss->by_handle, &s->by_handle, slim_mix64(s->handle));
    slim_hmap_insert(&ss->by_id, &s->by_id, slim_khash_u64(s->id));
    s->in_ids = true;
    ss->nsessions++;
}

/* Copies metadata into one block of storage. */
slim_status ss_meta_copy(ss_sess *s, const slim_ss_kv *kv, size_t n) {
    if (n == 0)
        return SLIM_OK;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += kv[i].key.len + kv[i].value.len + 2;
    s->meta = slim_calloc(n, sizeof *s->meta);
    s->meta_store = slim_malloc(total);
    if (s->meta == NULL || s->meta_store == NULL)
        return SLIM_E_NOMEM;
    char *p = s->meta_store;
    for (size_t i = 0; i < n; i++) {
        const slim_str *f[2] = {&kv[i].key, &kv[i].value};
        slim_str *t[2] = {&s->meta[i].key, &s->meta[i].value};
        for (int j = 0; j < 2; j++) {
            if (f[j]->len)
                memcpy(p, f[j]->ptr, f[j]->len);
            p[f[j]->len] = '\0';
            t[j]->ptr = p;
            t[j]->len = f[j]->len;
            p += f[j]->len + 1;
        }
    }
    s->nmeta = n;
    return SLIM_OK;
}

/* The metadata of a decoded message, as the session's own. */
static slim_status meta_from_msg(ss_sess *s, const slim_msg *m) {
    if (m->n_metadata == 0)
        return SLIM_OK;
    slim_ss_kv *kv = slim_calloc(m->n_metadata, sizeof *kv);
    if (kv == NULL)
        return SLIM_E_NOMEM;
    for (size_t i = 0; i < m->n_metadata; i++) {
        kv[i].key.ptr = m->metadata[i]->key;
        kv[i].key.len = strlen(m->metadata[i]->key);
        kv[i].value.ptr = m->metadata[i]->value;
        kv[i].value.len = strlen(m->metadata[i]->value);
    }
    slim_status st = ss_meta_copy(s, kv, m->n_metadata);
    slim_free(kv);
    return st;
}

/* ---- tombstones ---- */

void ss_tomb_add(slim_sessions *ss, const ss_sess *s, uint64_t now) {
    ss_tomb *t = &ss->tombs[ss->tomb_next];
    ss->tomb_next = (ss->tomb_next + 1) % SS_TOMBSTONES;
    t->id = s->id;
    t->peer = s->peer.name;
    t->anycast = s->from_anycast;
    t->opener = s->type == SLIM_SESSION_ANYCAST && s->initiator;
    t->join_id = s->initiator ? 0 : s->join_id;
    t->until = now + SS_TOMBSTONE_MS;
}

/* A JOIN_REQUEST (id mid) is a late copy of the one that made session sid,
 * which has ended. Another one is a new invite (a member removed, or that
 * left, invited back). */
static bool tomb_join_copy(const slim_sessions *ss, uint32_t sid, uint32_t mid, uint64_t now) {
    for (uint32_t i = 0; i < SS_TOMBSTONES; i++)
        if (ss->tombs[i].until > now && ss->tombs[i].id == sid && ss->tombs[i].join_id == mid)
            return true;
    return false;
}

static const ss_tomb *tomb_find(const slim_sessions *ss, uint32_t id, uint64_t now) {
    for (uint32_t i = 0; i < SS_TOMBSTONES; i++)
        if (ss->tombs[i].until > now && ss->tombs[i].id == id)
            return &ss->tombs[i];
    return NULL;
}

/* A GROUP_CLOSE or LEAVE_REQUEST of type `type` from src is from the peer
 * of ended session t. An ANYCAST session we opened wrote to any instance
 * of a name: it answers each instance's LEAVE_REQUEST, as while open. */
static bool tomb_from_peer(const ss_tomb *t, const slim_name *src, uint32_t type) {
    if (slim_name_equal(src, &t->peer))
        return true;
    return t->opener && type == T_LEAVE_REQUEST && slim_name_same_service(&t->peer, src) &&
           (slim_id_is_any(t->peer.id) || slim_id_equal(t->peer.id, src->id));
}

/* ---- ending a session ---- */

void ss_end(slim_sessions *ss, ss_sess *s, slim_status st, ss_reason why, uint32_t arg,
            uint64_t now) {
    if (s->state == S_DEAD)
        return;
    s->state = S_DEAD;
    ss_ctl_clear(s);
    if (s->g != NULL)
        ss_group_end(ss, s);
    ss_data_end(ss, s);
    if (st != SLIM_OK)
        ss_out_settle(ss, &s->open_done, st, why, arg);
    else
        ss_out_settle(ss, &s->open_done, SLIM_E_CANCELLED, R_OPEN_CANCELLED, arg);
    ss_out_settle(ss, &s->close_done, SLIM_OK, why == R_CLOSE_UNANSWERED ? why : R_CLOSE_DONE, arg);
    s->end_status = st;
    s->end_reason = why;
    s->end_arg = arg;
    ss_route_release(ss, s);
    if (s->in_ids) {
        slim_hmap_remove(&ss->by_id, &s->by_id);
        s->in_ids = false;
    }
    slim_hmap_remove(&ss->by_handle, &s->by_handle);
    heap_remove(ss, s);
    ss->nsessions--;
    ss_tomb_add(ss, s, now);
    if (s->announced) {
        s->closed->status = st;
        s->closed->reason = why;
        s->closed->arg = arg;
        ss_out_push(ss, s->closed);
        s->closed = NULL;
    } else {
        grave_add(ss, s);
    }
}

/* ---- creation and freeing ---- */

slim_status slim_sessions_new(const slim_sessions_config *cfg, const slim_sessions_ops *ops,
                              slim_sessions **out) {
    if (cfg == NULL || ops == NULL || out == NULL || ops->random64 == NULL || ops->stamp == NULL ||
        ops->verify == NULL || !sname_text_ok(&cfg->local, true))
        return SLIM_E_INVALID_ARG;
    slim_sessions *ss = slim_calloc(1, sizeof *ss);
    if (ss == NULL)
        return SLIM_E_NOMEM;
    ss->ops = *ops;
    ss->max_sessions = cfg->max_sessions ? cfg->max_sessions : 1024;
    ss->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : 10000;
    ss->heartbeat_misses = cfg->heartbeat_misses ? cfg->heartbeat_misses : 3;
    ss->sub_ack_ms = cfg->subscription_ack_ms ? cfg->subscription_ack_ms : 10000;
    ss->max_message = cfg->max_message_size ? cfg->max_message_size : SLIM_WIRE_DEFAULT_MAX_SIZE;
    ss->idle_ms = cfg->idle_ms ? cfg->idle_ms : 60000;
    ss->max_backlog = cfg->max_backlog ? cfg->max_backlog : 65536;
    ss->any_timeout_ms = cfg->anycast_timeout_ms;
    ss->any_max_retries = cfg->anycast_max_retries;
    ss->max_members = cfg->max_members ? cfg->max_members : 1024;
    ss->max_tasks = cfg->max_tasks ? cfg->max_tasks : 1024;
    ss->offline_removal_ms = cfg->offline_removal_ms ? cfg->offline_removal_ms : 300000;
    ss->send_window = cfg->send_window ? cfg->send_window : SS_WINDOW;
    ss->next_handle = 1;
    slim_status st;
    if (cfg->provider_id.len > 0 && cfg->provider_id.ptr != NULL) {
        ss->provider_id = slim_strndup(cfg->provider_id.ptr, cfg->provider_id.len);
    } else {
        /* the app id as 32 hex digits */
        char hex[33];
        snprintf(hex, sizeof hex, "%016" PRIx64 "%016" PRIx64, cfg->local.name.id.hi,
                 cfg->local.name.id.lo);
        ss->provider_id = slim_strndup(hex, 32);
    }
    if (ss->provider_id == NULL) {
        slim_sessions_free(ss);
        return SLIM_E_NOMEM;
    }
    if ((st = ss_name_set(&ss->local, &cfg->local.name, cfg->local.text)) != SLIM_OK ||
        (st = add_name(ss, &cfg->local)) != SLIM_OK ||
        (st = slim_hmap_init(&ss->by_handle, 16)) != SLIM_OK ||
        (st = slim_hmap_init(&ss->by_id, 16)) != SLIM_OK) {
        slim_sessions_free(ss);
        return st;
    }
    *out = ss;
    return SLIM_OK;
}

void slim_sessions_free(slim_sessions *ss) {
    if (ss == NULL)
        return;
    out_release(ss->cur);
    while (ss->out_head != NULL) {
        ss_out *o = ss->out_head;
        ss->out_head = o->next;
        out_release(o);
    }
    grave_empty(ss);
    if (ss->by_handle.buckets != NULL) {
        slim_hmap_iter it;
        for (slim_hnode *n = slim_hmap_first(&ss->by_handle, &it); n != NULL;
             n = slim_hmap_next(&ss->by_handle, &it)) {
            ss_sess *s = SLIM_CONTAINER_OF(n, ss_sess, by_handle);
            slim_hmap_remove(&ss->by_handle, n);
            ss_sess_free(s);
        }
    }
    slim_hmap_cleanup(&ss->by_handle);
    slim_hmap_cleanup(&ss->by_id);
    ss_route_free_all(ss);
    slim_free(ss->heap);
    for (uint32_t i = 0; i < ss->nnames; i++)
        ss_name_clear(&ss->names[i].n);
    slim_free(ss->names);
    ss_name_clear(&ss->local);
    slim_free(ss->provider_id);
    slim_free(ss);
}

slim_status slim_sessions_add_name(slim_sessions *ss, const slim_sname *name) {
    if (ss == NULL || name == NULL || !sname_text_ok(name, true))
        return SLIM_E_INVALID_ARG;
    ss_begin(ss);
    return add_name(ss, name);
}

slim_status slim_sessions_remove_name(slim_sessions *ss, const slim_sname *name) {
    if (ss == NULL || name == NULL)
        return SLIM_E_INVALID_ARG;
    ss_begin(ss);
    long i = name_index(ss, &name->name);
    if (i < 0)
        return SLIM_E_NOT_FOUND;
    if (slim_name_same_service(&ss->names[i].n.name, &ss->local.name))
        return SLIM_E_INVALID_ARG; /* the app's own name stays */
    ss_name_clear(&ss->names[i].n);
    ss->names[i] = ss->names[--ss->nnames];
    return SLIM_OK;
}

/* ---- inputs ---- */

/* Publish messages an embedded router or a node makes about an unroutable
 * message of ours: error set and the payload type "slim.error". */
static bool is_node_error(const slim_msg *m) {
    const slim_pb_header *h = m->publish->header;
    const Dataplane__Proto__V1__ApplicationPayload *a = ss_msg_app_payload(m);
    return h->_error_case && a != NULL && strcmp(a->payload_type, "slim.error") == 0 &&
           ss_msg_type(m) != T_RTX_REPLY;
}

/* Headers and names present. */
static bool publish_has_headers(const slim_msg *m) {
    const Dataplane__Proto__V1__Publish *p = m->publish;
    if (p == NULL || p->header == NULL || p->session == NULL)
        return false;
    slim_name n;
    return ss_msg_source(m, &n) && ss_msg_dest(m, &n);
}

/* The content its session message type calls for. */
static bool publish_well_formed(const slim_msg *m) {
    const Dataplane__Proto__V1__Publish *p = m->publish;
    uint32_t t = ss_msg_type(m);
    if (t < T_MSG || t > T_REJOIN_REPLY)
        return false;
    if (ss_is_command(t)) {
        const slim_pb_command *c = ss_msg_command(m);
        return c != NULL && (uint32_t)c->command_payload_type_case == t - 4;
    }
    if (t == T_MSG || (t == T_RTX_REPLY && !p->header->_error_case))
        return ss_msg_app_payload(m) != NULL;
    return true;
}

static slim_status verify(slim_sessions *ss, const slim_msg *m, bool need_sig) {
    slim_status st = ss->ops.verify(ss->ops.ud, m, need_sig);
    if (st != SLIM_OK) {
        ss->c.drop_identity++;
        return st;
    }
    return SLIM_OK;
}

/* In an MLS session, a command message (signed, so its id is its
 * sender's) taken before is not taken again (session-protocol-head.md
 * §7.4); a request among them is answered again, as its first answer may
 * have been lost. Id 0 is refused. */
static slim_status replay_check(slim_sessions *ss, ss_sess *s, const slim_msg *m,
                                const slim_name *src) {
    uint32_t type = ss_msg_type(m), id = ss_msg_mid(m);
    /* These are taken once by their own handlers (a welcome by its id, an
     * update by its commit id, a join request by its id) or answered
     * without state (a discovery), which answer a copy as they should. */
    bool own = type == T_GROUP_WELCOME || type == T_GROUP_UPDATE || type == T_JOIN_REQUEST ||
               type == T_DISCOVERY_REQUEST;
    if (id != 0 && (own || !ss_mls_replayed(s->mls, src, id)))
        return SLIM_OK;
    ss->c.drop_replay++;
    if (id != 0 && s->state != S_DEAD) {
        if (type == T_GROUP_CLOSE)
            ss_answer(ss, s, m, T_GROUP_ACK);
        else if (type == T_LEAVE_REQUEST)
            ss_answer(ss, s, m, T_LEAVE_REPLY);
        else if (type == T_GROUP_PROPOSAL && s->g != NULL && s->g->moderator)
            ss_answer(ss, s, m, s->g->rot_off ? T_GROUP_NACK : T_GROUP_ACK);
    }
    return SLIM_E_SESSION_REPLAY;
}

/* Common settings of a session a peer opens. */
static void peer_session_timers(ss_sess *s, bool reliable, uint32_t timeout, uint32_t retries) {
    s->reliable = reliable;
    s->timeout_ms = timeout < SLIM_SESSION_MIN_TIMEOUT_MS ? SLIM_SESSION_MIN_TIMEOUT_MS : timeout;
    s->max_retries = retries;
    s->ctl_timeout_ms = reliable ? s->timeout_ms : SS_DEFAULT_CTL_TIMEOUT;
    s->ctl_retries = reliable ? retries : SS_DEFAULT_CTL_RETRIES;
}

/* A session for a peer's message: local name = the message's destination
 * with our id. Not linked. */
static slim_status peer_session(slim_sessions *ss, slim_msg *m, const ss_appname *ours,
                                slim_session_type type, ss_sess **out) {
    if (ss->nsessions >= ss->max_sessions) {
        ss->c.drop_limit++;
        return SLIM_E_SESSION_LIMIT;
    }
    ss_sess *s = ss_sess_new(ss);
    if (s == NULL)
        return SLIM_E_NOMEM;
    s->id = ss_msg_sid(m);
    s->type = type;
    s->initiator = false;
    slim_status st = ss_name_from_pb(&s->local, m->publish->header->destination);
    if (st == SLIM_OK && !ss_name_has_text(&s->local)) {
        slim_sname v;
        ss_name_view(&ours->n, &v);
        st = ss_name_set(&s->local, &s->local.name, v.text);
    }
    s->local.name.id = ss->local.name.id;
    if (st == SLIM_OK)
        st = ss_name_from_pb(&s->peer, m->publish->header->source);
    if (st == SLIM_OK)
        st = meta_from_msg(s, m);
    if (st != SLIM_OK) {
        ss_sess_free(s);
        return st;
    }
    s->peer_known = true;
    *out = s;
    return SLIM_OK;
}

/* A JOIN_REQUEST for no session of ours. */
static slim_status joiner(slim_sessions *ss, slim_msg *m, const ss_appname *ours, uint64_t now) {
    ss_sess *s;
    bool group = m->publish->session->session_type == SS_MULTICAST;
    slim_status st =
        peer_session(ss, m, ours, group ? SLIM_SESSION_MULTICAST : SLIM_SESSION_UNICAST, &s);
    if (st != SLIM_OK)
        return st;
    if (group && (st = ss_group_joiner(ss, s, m)) != SLIM_OK) {
        ss_sess_free(s);
        if (st != SLIM_E_NOMEM)
            ss->c.drop_malformed++;
        return st;
    }
    const Dataplane__Proto__V1__JoinRequestPayload *jr = ss_msg_command(m)->join_request;
    if (jr->_timer_settings_case && jr->timer_settings != NULL && jr->timer_settings->timeout) {
        /* They set how long we wait for the welcome and for the answer to
         * our close: bounded, whatever the peer asks. */
        uint32_t t = jr->timer_settings->timeout, r = jr->timer_settings->max_retries;
        peer_session_timers(s, true, t < SS_PEER_MAX_TIMEOUT_MS ? t : SS_PEER_MAX_TIMEOUT_MS,
                            r < SS_PEER_MAX_RETRIES ? r : SS_PEER_MAX_RETRIES);
    } else
        peer_session_timers(s, false, 0, 0);
    /* MLS when asked (the percentage is ours: every message is checked) */
    if (jr->_mls_settings_case && (st = ss_mls_new(ss, s)) != SLIM_OK) {
        ss_sess_free(s);
        return st;
    }
    if (!ss_msg_in_conn(m, &s->conn)) {
        ss_sess_free(s);
        ss->c.drop_malformed++;
        return SLIM_E_WIRE_MISSING_FIELD;
    }
    s->join_id = ss_msg_mid(m);
    s->state = S_ROUTE;
    ss_sess_link(ss, s);
    ss_p2p_joiner_new(ss, s, now);
    ss_reschedule(ss, s);
    return SLIM_OK;
}

/* The first message of a peer's ANYCAST session. */
static slim_status anycast_peer(slim_sessions *ss, slim_msg *m, const ss_appname *ours,
                                uint64_t now) {
    ss_sess *s;
    slim_status st = peer_session(ss, m, ours, SLIM_SESSION_ANYCAST, &s);
    if (st != SLIM_OK) {
        slim_wire_free(m);
        return st;
    }
    ss_out *news = ss_out_new(SLIM_SOUT_NEW, s);
    if (news == NULL) {
        ss_sess_free(s);
        slim_wire_free(m);
        return SLIM_E_NOMEM;
    }
    bool rel = ss->any_timeout_ms != 0 && ss->any_max_retries != 0;
    peer_session_timers(s, rel, ss->any_timeout_ms, ss->any_max_retries);
    s->from_anycast = true;
    s->announced = true;
    (void)ss_msg_in_conn(m, &s->conn);
    s->state = S_READY;
    s->idle_deadline = now + ss->idle_ms;
    ss_sess_link(ss, s);
    news->handle = s->handle;
    ss_out_push(ss, news);
    st = ss_data_input(ss, s, m, now);
    ss_reschedule(ss, s);
    return st;
}

static slim_status publish_in(slim_sessions *ss, slim_msg *m, uint64_t now) {
    if (!publish_has_headers(m)) {
        ss->c.drop_malformed++;
        slim_wire_free(m);
        return SLIM_E_WIRE_MISSING_FIELD;
    }
    uint32_t type = ss_msg_type(m), sid = ss_msg_sid(m);
    ss_sess *s = ss_find_id(ss, sid);
    if (is_node_error(m)) {
        if (s != NULL && s->g != NULL)
            ss_group_node_error(ss, s, m, now);
        else if (s != NULL)
            ss_p2p_node_error(ss, s, m, now);
        slim_wire_free(m);
        if (s == NULL) {
            ss->c.drop_unknown++;
            return SLIM_E_SESSION_UNKNOWN;
        }
        ss_reschedule(ss, s);
        return SLIM_OK;
    }
    if (!publish_well_formed(m)) {
        ss->c.drop_malformed++;
        slim_wire_free(m);
        return SLIM_E_WIRE_MISSING_FIELD;
    }
    int stype = m->publish->session->session_type;
    if (stype != SS_P2P && stype != SS_MULTICAST) {
        ss->c.drop_unknown++;
        slim_wire_free(m);
        return SLIM_E_SESSION_UNKNOWN;
    }
    slim_status st;
    if (s != NULL) {
        if ((stype == SS_MULTICAST) != (s->g != NULL)) {
            ss->c.drop_unexpected++;
            slim_wire_free(m);
            return SLIM_E_SESSION_UNEXPECTED;
        }
        /* Groups check the signature of command messages too (upstream
         * only does with MLS). */
        if ((st = verify(ss, m, (s->g != NULL || s->mls != NULL) && ss_is_command(type))) !=
            SLIM_OK) {
            slim_wire_free(m);
            return st;
        }
        slim_name src;
        bool src_ok = ss_msg_source(m, &src);
        if (s->mls != NULL && ss_is_command(type) && src_ok &&
            (st = replay_check(ss, s, m, &src)) != SLIM_OK) {
            slim_wire_free(m);
            return st;
        }
        if (s->g != NULL && src_ok)
            ss_group_heard(ss, s, &src, now);
        uint32_t mid = ss_msg_mid(m);
        if (type <= T_RTX_REPLY)
            st = ss_data_input(ss, s, m, now);
        else if (s->g != NULL)
            st = ss_group_input(ss, s, m, now);
        else
            st = ss_p2p_input(ss, s, m, now);
        if (st == SLIM_OK && s->mls != NULL && ss_is_command(type) && src_ok)
            ss_mls_seen(s->mls, &src, mid);
        ss_reschedule(ss, s);
        return st;
    }
    /* No session with this id. */
    slim_name dst;
    const ss_appname *ours = NULL;
    (void)ss_msg_dest(m, &dst);
    const ss_tomb *tomb = tomb_find(ss, sid, now);
    if (type == T_GROUP_CLOSE || type == T_LEAVE_REQUEST) {
        /* Our answer to an earlier copy may have been lost. */
        slim_name src;
        if (tomb != NULL && ss_msg_source(m, &src) && tomb_from_peer(tomb, &src, type)) {
            st = verify(ss, m, false);
            if (st == SLIM_OK)
                st = ss_p2p_tomb_answer(ss, m);
            slim_wire_free(m);
            return st;
        }
    }
    /* A session that ended takes no late copy of its JOIN_REQUEST, and no
     * MSG unless it was a peer's ANYCAST session (its opener goes on: a
     * new one starts). */
    if ((type != T_DISCOVERY_REQUEST && type != T_JOIN_REQUEST && type != T_MSG) ||
        (type == T_MSG && stype == SS_MULTICAST) ||
        (type == T_JOIN_REQUEST && tomb_join_copy(ss, sid, ss_msg_mid(m), now)) ||
        (tomb != NULL && type == T_MSG && !tomb->anycast)) {
        ss->c.drop_unknown++;
        slim_wire_free(m);
        return SLIM_E_SESSION_UNKNOWN;
    }
    if (!ss_is_our_name(ss, &dst, &ours)) {
        ss->c.drop_unknown++;
        slim_wire_free(m);
        return SLIM_E_SESSION_NOT_OURS;
    }
    if (type == T_JOIN_REQUEST && sid >= SLIM_SESSION_ID_MAX) {
        ss->c.drop_malformed++;
        slim_wire_free(m);
        return SLIM_E_SESSION_BAD_ID;
    }
    /* Discovery is answered without a session, after checking the token and
     * the signature (upstream checks these always). */
    bool mls_join = type == T_JOIN_REQUEST && ss_msg_command(m) != NULL &&
                    ss_msg_command(m)->join_request->_mls_settings_case;
    if ((st = verify(ss, m, type == T_DISCOVERY_REQUEST || mls_join)) != SLIM_OK) {
        slim_wire_free(m);
        return st;
    }
    if (type == T_DISCOVERY_REQUEST) {
        st = ss_p2p_discovery_reply(ss, m, ours);
        slim_wire_free(m);
        return st;
    }
    if (type == T_JOIN_REQUEST) {
        st = joiner(ss, m, ours, now);
        if (st == SLIM_E_NOMEM)
            ss->c.drop_nomem++;
        slim_wire_free(m);
        return st;
    }
    st = anycast_peer(ss, m, ours, now);
    if (st == SLIM_E_NOMEM)
        ss->c.drop_nomem++;
    return st;
}

static void sub_ack_in(slim_sessions *ss, const Dataplane__Proto__V1__SubscriptionAck *a,
                       uint64_t now) {
    for (ss_route *r = ss->routes; r != NULL; r = r->next)
        if (r->sub_id == a->subscription_id && !r->acked && !r->failed) {
            ss_p2p_route_ack(ss, r, a->success, now);
            return;
        }
}

slim_status slim_sessions_input(slim_sessions *ss, slim_bytes msg, uint64_t now_ms) {
    if (ss == NULL)
        return SLIM_E_INVALID_ARG;
    ss_begin(ss);
    ss->now = now_ms;
    if (ss->out_len >= ss->max_backlog) {
        ss->c.drop_backlog++;
        return SLIM_E_QUEUE_FULL;
    }
    slim_msg *m = NULL;
    slim_status st = slim_wire_decode(msg, ss->max_message, &m);
    if (st != SLIM_OK) {
        if (st == SLIM_E_NOMEM)
            ss->c.drop_nomem++;
        else
            ss->c.drop_malformed++;
        return st;
    }
    switch (slim_wire_kind(m)) {
    case SLIM_MSG_PUBLISH:
        return publish_in(ss, m, now_ms);
    case SLIM_MSG_SUBSCRIPTION_ACK:
        sub_ack_in(ss, m->subscription_ack, now_ms);
        slim_wire_free(m);
        return SLIM_OK;
    default:
        ss->c.drop_unknown++;
        slim_wire_free(m);
        return SLIM_E_SESSION_UNKNOWN;
    }
}

void slim_sessions_expire(slim_sessions *ss, uint64_t now_ms) {
    if (ss == NULL)
        return;
    ss_begin(ss);
    ss->now = now_ms;
    /* Every handler moves the deadlines it serves past now, so each
     * session is taken at most a few times; the bound is a safety net. */
    for (size_t guard = 0; ss->heap_len > 0 && guard < 4 * ss->heap_len + 64; guard++) {
        ss_sess *s = ss->heap[0];
        if (s->deadline > now_ms)
            break;
        if (s->g != NULL)
            ss_group_expire(ss, s, now_ms);
        else
            ss_p2p_expire(ss, s, now_ms);
        if (s->state != S_DEAD)
            ss_data_expire(ss, s, now_ms);
        if (s->state != S_DEAD)
            ss_mls_expire(s, now_ms);
        ss_reschedule(ss, s);
    }
}

uint64_t slim_sessions_deadline(const slim_sessions *ss) {
    if (ss == NULL || ss->heap_len == 0)
        return UINT64_MAX;
    return ss->heap[0]->deadline;
}

/* ---- the application's calls ---- */

slim_status slim_sessions_open(slim_sessions *ss, const slim_session_config *cfg, uint64_t op,
                               uint64_t now_ms, uint64_t *session) {
    if (ss == NULL || cfg == NULL || session == NULL)
        return SLIM_E_INVALID_ARG;
    ss_begin(ss);
    ss->now = now_ms;
    if (cfg->mls && (cfg->type == SLIM_SESSION_ANYCAST || ss->ops.mls_self == NULL ||
                     ss->ops.mls_check == NULL))
        return SLIM_E_UNSUPPORTED;
    if ((cfg->type != SLIM_SESSION_ANYCAST && cfg->type != SLIM_SESSION_UNICAST &&
         cfg->type != SLIM_SESSION_MULTICAST) ||
        !sname_text_ok(&cfg->peer, cfg->type != SLIM_SESSION_ANYCAST) ||
        (cfg->metadata_len && cfg->metadata == NULL))
        return SLIM_E_INVALID_ARG;
    if (cfg->session_id != SLIM_SESSION_ID_ANY && cfg->session_id >= SLIM_SESSION_ID_MAX)
        return SLIM_E_SESSION_BAD_ID;
    if (cfg->session_id != SLIM_SESSION_ID_ANY && ss_find_id(ss, cfg->session_id) != NULL)
        return SLIM_E_EXISTS;
    if (ss->nsessions >= ss->max_sessions)
        return SLIM_E_SESSION_LIMIT;
    if (ss->out_len >= ss->max_backlog)
        return SLIM_E_QUEUE_FULL;
    ss_sess *s = ss_sess_new(ss);
    if (s == NULL)
        return SLIM_E_NOMEM;
    if (cfg->session_id != SLIM_SESSION_ID_ANY) {
        s->id = cfg->session_id;
    } else {
        do
            s->id = (uint32_t)(ss->ops.random64(ss->ops.ud) % SLIM_SESSION_ID_MAX);
        while (ss_find_id(ss, s->id) != NULL);
    }
    s->type = cfg->type;
    s->initiator = true;
    s->announced = true;
    s->reliable = cfg->timeout_ms != 0 && cfg->max_retries != 0;
    uint32_t t = cfg->timeout_ms < SLIM_SESSION_MIN_TIMEOUT_MS ? SLIM_SESSION_MIN_TIMEOUT_MS
                                                               : cfg->timeout_ms;
    s->timeout_ms = t;
    s->max_retries = cfg->max_retries;
    s->ctl_timeout_ms = cfg->timeout_ms ? t : SS_DEFAULT_CTL_TIMEOUT;
    s->ctl_retries = cfg->max_retries ? cfg->max_retries : SS_DEFAULT_CTL_RETRIES;
    slim_status st = ss_name_set(&s->local, &ss->local.name, NULL);
    if (st == SLIM_OK) {
        slim_sname v;
        ss_name_view(&ss->local, &v);
        st = ss_name_set(&s->local, &ss->local.name, v.text);
    }
    if (st == SLIM_OK)
        st = ss_name_set(&s->peer, &cfg->peer.name, cfg->peer.text);
    if (st == SLIM_OK)
        st = ss_meta_copy(s, cfg->metadata, cfg->metadata_len);
    if (st == SLIM_OK && op != 0) {
        s->open_op = op;
        s->open_done = ss_out_new(SLIM_SOUT_DONE, s);
        if (s->open_done == NULL)
            st = SLIM_E_NOMEM;
        else
            s->open_done->op = op;
    }
    if (st == SLIM_OK && cfg->mls && (st = ss_mls_new(ss, s)) == SLIM_OK)
        st = ss_mls_create(ss, s); /* the one-member group we commit into */
    if (st == SLIM_OK && cfg->type == SLIM_SESSION_UNICAST) {
        s->state = S_DISCOVER;
        st = ss_p2p_open(ss, s, now_ms);
    }
    if (st == SLIM_OK && cfg->type == SLIM_SESSION_MULTICAST)
        st = ss_group_open(ss, s, &cfg->peer, cfg->mls_rotation_ms);
    if (st != SLIM_OK) {
        ss_sess_free(s);
        return st;
    }
    ss_sess_link(ss, s);
    if (s->open_done != NULL)
        s->open_done->handle = s->handle;
    if (cfg->type == SLIM_SESSION_ANYCAST) {
        s->state = S_READY;
        ss_out_settle(ss, &s->open_done, SLIM_OK, R_OPEN_OK, 0);
    } else if (cfg->type == SLIM_SESSION_MULTICAST) {
        s->state = S_READY;
        ss_out_settle(ss, &s->open_done, SLIM_OK, R_GROUP_OPEN, 0);
    }
    ss_reschedule(ss, s);
    *session = s->handle;
    return SLIM_OK;
}

slim_status slim_sessions_publish(slim_sessions *ss, uint64_t session, const slim_publish *p,
                                  uint64_t now_ms, uint32_t *message_id) {
    if (ss == NULL || p == NULL || (p->payload.len && p->payload.ptr == NULL) ||
        (p->metadata_len && p->metadata == NULL))
        return SLIM_E_INVALID_ARG;
    ss_begin(ss);
    ss->now = now_ms;
    ss_sess *s = find_handle(ss, session);
    if (s == NULL || s->state == S_DEAD || !s->announced)
        return SLIM_E_CLOSED;
    if (s->state == S_DRAIN || s->state == S_CLOSING)
        return SLIM_E_SESSION_CLOSING;
    if (ss->out_len >= ss->max_backlog)
        return SLIM_E_QUEUE_FULL;
    slim_status st = ss_data_publish(ss, s, p, now_ms, message_id);
    ss_reschedule(ss, s);
    return st;
}

void slim_sessions_congested(slim_sessions *ss, bool congested) {
    if (ss != NULL)
        ss->congested = congested;
}

slim_status slim_sessions_hold(slim_sessions *ss, uint64_t session, bool hold) {
    if (ss == NULL)
        return SLIM_E_INVALID_ARG;
    ss_sess *s = find_handle(ss, session); /* no begin(): the current output stays valid */
    if (s == NULL || s->state == S_DEAD)
        return SLIM_E_CLOSED;
    s->held = hold;
    return SLIM_OK;
}

slim_status slim_sessions_close(slim_sessions *ss, uint64_t session, uint64_t op, uint64_t now_ms) {
    if (ss == NULL)
        return SLIM_E_INVALID_ARG;
    ss_begin(ss);
    ss->now = now_ms;
    ss_sess *s = find_handle(ss, session);
    if (s == NULL || s->state == S_DEAD || !s->announced)
        return SLIM_E_CLOSED;
    if (s->state == S_DRAIN || s->state == S_CLOSING)
        return SLIM_E_SESSION_CLOSING;
    if (op != 0) {
        s->close_done = ss_out_new(SLIM_SOUT_DONE, s);
        if (s->close_done == NULL)
            return SLIM_E_NOMEM;
        s->close_done->op = op;
        s->close_op = op;
    }
    slim_status st = s->g != NULL ? ss_group_close(ss, s, now_ms) : ss_p2p_close(ss, s, now_ms);
    ss_reschedule(ss, s);
    return st;
}

/* ---- outputs ---- */

/* The text of a name for details: "org/ns/bob" or "org/ns/bob/<uuid>". */
static void name_text(const ss_name *n, char *buf, size_t cap) {
    if (ss_name_has_text(n)) {
        slim_str t[3];
        for (int i = 0; i < 3; i++) {
            t[i].ptr = n->text[i];
            t[i].len = strlen(n->text[i]);
        }
        if (slim_name_format(t, n->name.id, buf, cap, NULL) == SLIM_OK)
            return;
    }
    if (slim_name_format_hashes(&n->name, buf, cap) != SLIM_OK)
        snprintf(buf, cap, "(unnamed)");
}

static const char *purpose_word(uint32_t p) {
    switch (p) {
    case P_DISCOVERY:
        return "discovery";
    case P_JOIN:
        return "join";
    case P_WELCOME:
        return "welcome";
    default:
        return "close";
    }
}

static const char *detail(slim_sessions *ss, const ss_out *o) {
    const ss_sess *s = o->sess;
    if (s == NULL || o->reason == R_NONE)
        return NULL;
    char peer[3 * SLIM_NAME_COMPONENT_MAX + 64];
    if (s->type == SLIM_SESSION_ANYCAST && !ss_name_has_text(&s->peer) && !s->from_anycast)
        snprintf(peer, sizeof peer, "its destination");
    else if (ss_name_has_text(&o->who))
        name_text(&o->who, peer, sizeof peer); /* a group's member */
    else
        name_text(&s->peer, peer, sizeof peer);
    char *d = ss->detail;
    size_t cap = sizeof ss->detail;
    uint32_t id = s->id, a = o->arg, mid = o->message_id;
    switch (o->reason) {
    case R_OPEN_OK:
        if (s->type == SLIM_SESSION_ANYCAST)
            snprintf(d, cap, "anycast session %" PRIu32 " ready", id);
        else
            snprintf(d, cap, "session %" PRIu32 " open with %s", id, peer);
        break;
    case R_DISCOVERY_FAILED:
        snprintf(d, cap,
                 "discovery of %s (session %" PRIu32 "): no answer after %" PRIu32 " retries", peer,
                 id, a);
        break;
    case R_JOIN_FAILED:
        snprintf(d, cap, "join of %s (session %" PRIu32 "): no answer after %" PRIu32 " retries",
                 peer, id, a);
        break;
    case R_WELCOME_FAILED:
        snprintf(d, cap,
                 "welcome of %s (session %" PRIu32 "): no acknowledgement after %" PRIu32
                 " retries",
                 peer, id, a);
        break;
    case R_NO_ROUTE:
        snprintf(d, cap, "%s of %s (session %" PRIu32 "): the node has no route to it",
                 purpose_word(a), peer, id);
        break;
    case R_ROUTE_REFUSED:
        snprintf(d, cap, "route to %s (session %" PRIu32 "): refused by the router", peer, id);
        break;
    case R_ROUTE_TIMEOUT:
        snprintf(d, cap,
                 "route to %s (session %" PRIu32 "): no answer from the router in %" PRIu32 " ms",
                 peer, id, a);
        break;
    case R_OPEN_CANCELLED:
        snprintf(d, cap, "open of session %" PRIu32 " cancelled: closed before %s joined", id,
                 peer);
        break;
    case R_UNDELIVERED:
        snprintf(d, cap,
                 "message %" PRIu32 " of session %" PRIu32 " to %s: no acknowledgement "
                 "after %" PRIu32 " retries",
                 mid, id, peer, a);
        break;
    case R_UNDELIVERED_ENDED:
        snprintf(d, cap,
                 "message %" PRIu32 " of session %" PRIu32 " to %s: the session ended "
                 "before it was acknowledged",
                 mid, id, peer);
        break;
    case R_LOST_SENDER:
        snprintf(d, cap,
                 "message %" PRIu32 " of session %" PRIu32 " from %s: lost (the sender "
                 "no longer has it)",
                 mid, id, peer);
        break;
    case R_LOST_RTX:
        snprintf(d, cap,
                 "message %" PRIu32 " of session %" PRIu32 " from %s: lost (no answer to "
                 "%" PRIu32 " retransmission requests)",
                 mid, id, peer, a + 1);
        break;
    case R_CLOSED_LOCAL:
    case R_CLOSE_DONE:
        snprintf(d, cap, "session %" PRIu32 " closed", id);
        break;
    case R_CLOSED_BY_PEER:
        snprintf(d, cap, "session %" PRIu32 " closed by %s", id, peer);
        break;
    case R_PEER_LEFT:
        snprintf(d, cap, "%s left session %" PRIu32, peer, id);
        break;
    case R_PEER_GONE:
        snprintf(d, cap,
                 "session %" PRIu32 ": nothing from %s for %" PRIu32 " heartbeat ticks (%" PRIu32
                 " ms periods)",
                 id, peer, a, ss->heartbeat_ms);
        break;
    case R_IDLE:
        snprintf(d, cap, "anycast session %" PRIu32 " from %s: nothing received for %" PRIu32 " ms",
                 id, peer, a);
        break;
    case R_CLOSE_UNANSWERED:
        snprintf(d, cap,
                 "session %" PRIu32 " closed; %s did not answer the close after %" PRIu32
                 " retries",
                 id, peer, a);
        break;
    case R_NOMEM:
        snprintf(d, cap, "session %" PRIu32 " with %s: out of memory during the %s", id, peer,
                 purpose_word(a));
        break;
    case R_LOST_LATE:
        snprintf(d, cap,
                 "message %" PRIu32 " of session %" PRIu32 " from %s: lost (it came after "
                 "later ones were delivered: we joined while it was in flight)",
                 mid, id, peer);
        break;
    case R_GROUP_OPEN:
        snprintf(d, cap, "group %s (session %" PRIu32 ") created; we moderate it", peer, id);
        break;
    case R_INVITE_OK:
        snprintf(d, cap, "%s joined group session %" PRIu32, peer, id);
        break;
    case R_ALREADY_MEMBER:
        snprintf(d, cap, "invite of %s (session %" PRIu32 "): an instance is already a member",
                 peer, id);
        break;
    case R_NOT_MEMBER:
        snprintf(d, cap, "removal of %s (session %" PRIu32 "): not a member", peer, id);
        break;
    case R_MEMBER_LIMIT:
        snprintf(d, cap,
                 "invite of %s (session %" PRIu32 "): the group has its %" PRIu32 " members", peer,
                 id, a);
        break;
    case R_UPDATE_FAILED:
        snprintf(d, cap,
                 "group update about %s (session %" PRIu32 "): not acknowledged after %" PRIu32
                 " retries%s%s",
                 peer, id, a, o->note ? " by " : "", o->note ? o->note : "");
        break;
    case R_LEAVE_FAILED:
        snprintf(d, cap,
                 "removal of %s (session %" PRIu32 "): removed, but it did not answer after "
                 "%" PRIu32 " retries",
                 peer, id, a);
        break;
    case R_REMOVE_OK:
        snprintf(d, cap, "%s removed from group session %" PRIu32, peer, id);
        break;
    case R_TASK_CANCELLED:
        snprintf(d, cap, "invite or removal of %s (session %" PRIu32 ") cancelled: group closed",
                 peer, id);
        break;
    case R_REMOVED:
        snprintf(d, cap, "removed from group session %" PRIu32 " by its moderator %s", id, peer);
        break;
    case R_MODERATOR_CLOSED:
        snprintf(d, cap, "group session %" PRIu32 " closed by its moderator %s", id, peer);
        break;
    case R_MODERATOR_GONE:
        snprintf(d, cap,
                 "group session %" PRIu32 " ended: its moderator %s sent no heartbeats for %" PRIu32
                 " s",
                 id, peer, a);
        break;
    case R_MLS_REFUSED:
        snprintf(d, cap, "invite of %s (session %" PRIu32 "): its MLS KeyPackage was refused (%s)",
                 peer, id, slim_status_str(o->status));
        break;
    case R_MLS_FAILED:
        snprintf(d, cap, "session %" PRIu32 " with %s: MLS failed (%s)", id, peer,
                 slim_status_str(o->status));
        break;
    case R_ROTATED:
        snprintf(d, cap, "group session %" PRIu32 ": %s", id,
                 s != NULL && s->g != NULL && !s->g->moderator
                     ? "the moderator takes the key update request"
                     : "key update committed and acknowledged by every member");
        break;
    case R_ROTATE_REFUSED:
        snprintf(d, cap, "group session %" PRIu32 ": no key rotation in this group", id);
        break;
    case R_ROTATE_UNANSWERED:
        snprintf(d, cap,
                 "group session %" PRIu32 ": the moderator did not answer the key update request "
                 "after %" PRIu32 " retries",
                 id, a);
        break;
    case R_UNDELIVERED_GROUP:
        snprintf(d, cap,
                 "message %" PRIu32 " of group session %" PRIu32 ": after %" PRIu32 " retries, %s",
                 mid, id, a, o->note ? o->note : "some members never acknowledged it");
        break;
    default:
        return NULL;
    }
    return d;
}

/* The source and destination of a decoded message as views. */
static void pb_sname(const slim_pb_name *pb, slim_sname *out) {
    memset(out, 0, sizeof *out);
    (void)slim_wire_name_get(pb, &out->name);
    if (!slim_wire_name_strings(pb, out->text))
        memset(out->text, 0, sizeof out->text);
}

bool slim_sessions_next(slim_sessions *ss, slim_sout *out) {
    if (ss == NULL || out == NULL)
        return false;
    ss_begin(ss);
    ss_out *o = ss->out_head;
    if (o == NULL)
        return false;
    ss->out_head = o->next;
    if (ss->out_head == NULL)
        ss->out_tail = NULL;
    ss->out_len--;
    ss->cur = o;
    memset(out, 0, sizeof *out);
    out->kind = o->kind;
    out->session = o->handle;
    out->op = o->op;
    out->status = o->status;
    out->message_id = o->message_id;
    out->detail = detail(ss, o);
    if (o->kind == SLIM_SOUT_SEND) {
        out->bytes = slim_bytes_of(o->bytes, o->len);
    } else if (o->kind == SLIM_SOUT_MESSAGE) {
        const slim_msg *m = o->msg;
        const Dataplane__Proto__V1__ApplicationPayload *a = ss_msg_app_payload(m);
        out->bytes = slim_bytes_of(a->blob.data, a->blob.len);
        pb_sname(m->publish->header->source, &out->ctx.source);
        pb_sname(m->publish->header->destination, &out->ctx.destination);
        out->ctx.payload_type.ptr = a->payload_type;
        out->ctx.payload_type.len = strlen(a->payload_type);
        out->ctx.metadata = o->kv;
        out->ctx.metadata_len = o->nkv;
        (void)ss_msg_in_conn(m, &out->ctx.input_conn);
        out->ctx.message_id = ss_msg_mid(m);
    } else if (o->kind == SLIM_SOUT_LOST || o->kind == SLIM_SOUT_MEMBER) {
        ss_name_view(&o->who, &out->ctx.source);
        out->ctx.message_id = o->message_id;
        if (o->kind == SLIM_SOUT_MEMBER)
            out->member = (slim_member_change)o->arg;
    }
    return true;
}

/* ---- inspection ---- */

slim_status slim_sessions_info(const slim_sessions *ss, uint64_t session, slim_ss_info *out) {
    if (ss == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    const ss_sess *s = find_handle(ss, session);
    if (s == NULL || s->state == S_DEAD || !s->announced)
        return SLIM_E_CLOSED;
    memset(out, 0, sizeof *out);
    out->id = s->id;
    out->type = s->type;
    out->initiator = s->initiator;
    out->ready = s->state == S_READY || s->state == S_DRAIN ||
                 (s->type == SLIM_SESSION_ANYCAST && s->state != S_CLOSING);
    out->moderator = s->g != NULL && s->g->moderator;
    out->reliable = s->reliable;
    out->mls = s->mls != NULL;
    ss_name_view(&s->local, &out->local);
    ss_name_view(s->g != NULL ? &s->g->data : &s->peer, &out->peer);
    out->metadata = s->meta;
    out->metadata_len = s->nmeta;
    out->timeout_ms = s->timeout_ms;
    out->max_retries = s->max_retries;
    out->mls_epoch = ss_mls_epoch(s->mls);
    out->mls_past_epochs = ss_mls_past_epochs(s->mls);
    return SLIM_OK;
}

void slim_sessions_counters_get(const slim_sessions *ss, slim_sessions_counters *out) {
    if (ss == NULL || out == NULL)
        return;
    *out = ss->c;
    out->sessions_open = ss->nsessions;
}

/* ---- groups ---- */

static slim_status group_call(slim_sessions *ss, uint64_t session, const slim_sname *name,
                              ss_sess **out) {
    ss_sess *s = find_handle(ss, session);
    if (s == NULL || s->state == S_DEAD || !s->announced)
        return SLIM_E_CLOSED;
    if (s->state == S_DRAIN || s->state == S_CLOSING)
        return SLIM_E_SESSION_CLOSING;
    if (s->g == NULL)
        return SLIM_E_SESSION_EXPECTED_MULTICAST;
    if (!s->g->moderator)
        return SLIM_E_SESSION_NOT_MODERATOR;
    if (!sname_text_ok(name, true))
        return SLIM_E_INVALID_ARG;
    *out = s;
    return SLIM_OK;
}

/* An invite (or, with remove, a removal) queued on the group. */
static slim_status group_task(slim_sessions *ss, uint64_t session, const slim_sname *name,
                              bool remove, uint64_t op, uint64_t now_ms) {
    if (ss == NULL || name == NULL)
        return SLIM_E_INVALID_ARG;
    ss_begin(ss);
    ss->now = now_ms;
    ss_sess *s;
    slim_status st = group_call(ss, session, name, &s);
    if (st != SLIM_OK)
        return st;
    st = ss_group_invite(ss, s, name, remove, op, now_ms);
    ss_reschedule(ss, s);
    return st;
}

slim_status slim_sessions_invite(slim_sessions *ss, uint64_t session, const slim_sname *name,
                                 uint64_t op, uint64_t now_ms) {
    return group_task(ss, session, name, false, op, now_ms);
}

slim_status slim_sessions_remove(slim_sessions *ss, uint64_t session, const slim_sname *name,
                                 uint64_t op, uint64_t now_ms) {
    return group_task(ss, session, name, true, op, now_ms);
}

slim_status slim_sessions_rotate(slim_sessions *ss, uint64_t session, uint64_t op,
                                 uint64_t now_ms) {
    if (ss == NULL)
        return SLIM_E_INVALID_ARG;
    ss_begin(ss);
    ss->now = now_ms;
    ss_sess *s = find_handle(ss, session);
    if (s == NULL || s->state == S_DEAD)
        return SLIM_E_CLOSED;
    if (s->state == S_DRAIN || s->state == S_CLOSING)
        return SLIM_E_SESSION_CLOSING;
    if (s->g == NULL)
        return SLIM_E_SESSION_EXPECTED_MULTICAST;
    slim_status st = ss_group_rotate(ss, s, op, now_ms);
    ss_reschedule(ss, s);
    return st;
}

slim_status slim_sessions_members(const slim_sessions *ss, uint64_t session, slim_sname *out,
                                  size_t cap, size_t *n) {
    if (ss == NULL || n == NULL || (cap && out == NULL))
        return SLIM_E_INVALID_ARG;
    const ss_sess *s = find_handle(ss, session);
    if (s == NULL || s->state == S_DEAD || !s->announced)
        return SLIM_E_CLOSED;
    if (s->g != NULL) {
        /* The moderator first (ourselves, or the member's peer). */
        const slim_name *mod = s->g->moderator ? &s->local.name : &s->peer.name;
        uint32_t first = 0;
        while (first < s->g->nmem && !slim_name_equal(&s->g->mem[first].n.name, mod))
            first++;
        if (first == s->g->nmem)
            first = 0;
        size_t k = 0;
        if (s->g->nmem > 0 && k < cap)
            ss_name_view(&s->g->mem[first].n, &out[k]);
        k++;
        for (uint32_t i = 0; i < s->g->nmem; i++)
            if (i != first && k < cap)
                ss_name_view(&s->g->mem[i].n, &out[k++]);
        *n = s->g->nmem;
        return SLIM_OK;
    }
    size_t k = 0;
    if (k < cap)
        ss_name_view(&s->local, &out[k]);
    k++;
    bool ready = s->state == S_READY || s->state == S_DRAIN || s->state == S_CLOSING;
    bool peer = s->type == SLIM_SESSION_UNICAST ? s->peer_known && ready : s->from_anycast;
    if (peer) {
        if (k < cap)
            ss_name_view(&s->peer, &out[k]);
        k++;
    }
    *n = k;
    return SLIM_OK;
}
