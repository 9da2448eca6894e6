/*
 * An app's sessions: the session core (src/session, pure) driven on the
 * app's loop thread, and the queues the callers read from.
 *
 * The loop feeds the core what the router delivers on the app's LOCAL
 * connection, the callers' commands and its timer, then drains the core's
 * outputs: SEND goes back into the router on the LOCAL connection (which
 * may deliver more to us: the pump goes round until nothing is left),
 * MESSAGE into the session's queue (or to a caller waiting for it), NEW
 * into the queue of sessions to listen for, DONE to its operation,
 * UNDELIVERED/LOST/CLOSED into events.
 *
 * The queues live under the app's mutex, so a caller that finds a message
 * waiting takes it without a trip through the loop.
 */
#include "client/app_int.h"
#include "core/alloc.h"
#include "core/khash.h"
#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "session/identity.h"
#include "session/sessions.h"
#include "slim/session.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MOD "app"

/* Sessions peers opened that nobody listened for yet (upstream: 128). */
#define LISTEN_QUEUE 128

/* ---- the caller-side records (under mu) ---- */

static int sess_eq(const slim_hnode *n, const void *key) {
    return SLIM_CONTAINER_OF(n, app_session, node)->id == *(const slim_session_id *)key;
}

app_session *slim_app__session_find(slim_app *app, slim_session_id id) {
    slim_hnode *n = slim_hmap_find(&app->sessions, slim_mix64(id), sess_eq, &id);
    return n ? SLIM_CONTAINER_OF(n, app_session, node) : NULL;
}

void slim_app__session_free(app_session *s) {
    slim_free(s->members);
    for (size_t i = 0; i < s->q_count; i++)
        slim_message_free(s->q[(s->q_head + i) % s->q_cap]);
    slim_free(s->q);
    slim_free(s->getters);
    slim_session_info_free(s->info);
    slim_free(s);
}

/* ---- identity ops (loop thread, from inside the core) ---- */

static uint64_t wall_s(void) {
    return (uint64_t)time(NULL);
}

static uint64_t op_random(void *ud) {
    (void)ud;
    uint64_t v = 0;
    if (slim_random_bytes(&v, sizeof v) != SLIM_OK)
        v = slim_now_ns() * 0x9e3779b97f4a7c15ull;
    return v;
}

static slim_status op_stamp(void *ud, slim_msg *m) {
    slim_app *app = ud;
    return slim_app__identity_stamp(&app->identity, m, wall_s());
}

static slim_status op_verify(void *ud, const slim_msg *m, bool need_sig) {
    slim_app *app = ud;
    return slim_app__identity_verify(&app->identity, m, need_sig, wall_s());
}

static slim_status op_mls_self(void *ud, slim_bytes *credential, slim_bytes *sig_priv,
                               uint16_t *suite) {
    slim_app *app = ud;
    return slim_app__identity_mls_self(&app->identity, wall_s(), credential, sig_priv, suite);
}

static slim_status op_mls_check(void *ud, slim_bytes credential, slim_bytes signature_key,
                                bool fresh, slim_id *app_id) {
    slim_app *app = ud;
    return slim_app__identity_mls_check(&app->identity, credential, signature_key, fresh, wall_s(),
                                        app_id);
}

static uint64_t op_unix_time(void *ud) {
    (void)ud;
    return wall_s();
}

/* ---- names and records ---- */

/* Formats a core name as "org/ns/service/<uuid>" (or without the id). */
static void name_text(const slim_sname *n, char *buf, size_t cap) {
    if (slim_name_format(n->text, n->name.id, buf, cap, NULL) != SLIM_OK)
        (void)slim_name_format_hashes(&n->name, buf, cap);
}

static slim_session_info *info_from_core(slim_app *app, slim_session_id id) {
    slim_ss_info ci;
    if (slim_sessions_info(app->ss, id, &ci) != SLIM_OK)
        return NULL;
    size_t md = 0;
    for (size_t i = 0; i < ci.metadata_len; i++)
        md += ci.metadata[i].key.len + ci.metadata[i].value.len + 2;
    slim_session_info *info =
        slim_calloc(1, sizeof *info + ci.metadata_len * sizeof(slim_metadata) + md);
    if (info == NULL)
        return NULL;
    info->session = id;
    info->id = ci.id;
    info->type = (slim_session_type)ci.type;
    info->initiator = ci.initiator;
    info->timeout_ms = ci.timeout_ms;
    info->max_retries = ci.max_retries;
    info->mls = ci.mls;
    info->moderator = ci.moderator;
    name_text(&ci.local, info->src, sizeof info->src);
    if (ci.peer.text[0].len > 0)
        name_text(&ci.peer, info->dst, sizeof info->dst);
    info->metadata = (slim_metadata *)(info + 1);
    info->metadata_len = ci.metadata_len;
    char *p = (char *)(info->metadata + ci.metadata_len);
    for (size_t i = 0; i < ci.metadata_len; i++) {
        const slim_str *kv[2] = {&ci.metadata[i].key, &ci.metadata[i].value};
        for (int j = 0; j < 2; j++) {
            memcpy(p, kv[j]->ptr, kv[j]->len);
            p[kv[j]->len] = 0;
            if (j == 0)
                info->metadata[i].key = p;
            else
                info->metadata[i].value = p;
            p += kv[j]->len + 1;
        }
    }
    return info;
}

/* Queue length at which a reliable session is held: room is left above it
 * for what the core's reorder buffer may still release. */
static size_t hold_mark(const app_session *s) {
    size_t room = s->q_cap / 2 < SLIM_SESSIONS_RX_SPAN ? s->q_cap / 2 : SLIM_SESSIONS_RX_SPAN;
    return s->q_cap - room;
}

/* The members as the core knows them, as one NULL-terminated block of
 * "org/ns/service/<uuid>" strings; NULL when out of memory. */
static char **members_from_core(slim_app *app, slim_session_id id) {
    size_t n = 0;
    if (slim_sessions_members(app->ss, id, NULL, 0, &n) != SLIM_OK)
        n = 0;
    slim_sname *v = n ? slim_calloc(n, sizeof *v) : NULL;
    if (n > 0 && (v == NULL || slim_sessions_members(app->ss, id, v, n, &n) != SLIM_OK))
        n = 0;
    char text[512];
    size_t len = (n + 1) * sizeof(char *);
    for (size_t i = 0; i < n; i++) {
        name_text(&v[i], text, sizeof text);
        len += strlen(text) + 1;
    }
    char **out = slim_calloc(1, len);
    if (out != NULL) {
        char *p = (char *)(out + n + 1);
        for (size_t i = 0; i < n; i++) {
            name_text(&v[i], text, sizeof text);
            size_t l = strlen(text) + 1;
            memcpy(p, text, l);
            out[i] = p;
            p += l;
        }
    }
    slim_free(v);
    return out;
}

/* Under no lock: replaces the record's copy of the members. */
static void members_refresh(slim_app *app, slim_session_id id) {
    char **m = members_from_core(app, id);
    uv_mutex_lock(&app->mu);
    app_session *s = slim_app__session_find(app, id);
    if (s != NULL && m != NULL) {
        slim_free(s->members);
        s->members = m;
        m = NULL;
    }
    uv_mutex_unlock(&app->mu);
    slim_free(m);
}

/* A record for a session the core just made (ours or a peer's). */
static app_session *record_new(slim_app *app, slim_session_id id) {
    app_session *s = slim_calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->id = id;
    s->q_cap = app->opts.session_queue;
    s->q = slim_calloc(s->q_cap, sizeof *s->q);
    s->info = info_from_core(app, id);
    s->members = members_from_core(app, id);
    slim_ss_info ci;
    /* A group member that falls behind is not held: its senders would
     * wait for it, and so would everyone else. What does not fit its
     * queue is dropped (acknowledged) and reported (SLIM_EVENT_DROPPED). */
    s->holdable = slim_sessions_info(app->ss, id, &ci) == SLIM_OK && ci.reliable &&
                  ci.type != SLIM_SESSION_MULTICAST;
    if (s->q == NULL || s->info == NULL || s->members == NULL) {
        slim_app__session_free(s);
        return NULL;
    }
    uv_mutex_lock(&app->mu);
    slim_hmap_insert(&app->sessions, &s->node, slim_mix64(id));
    uv_mutex_unlock(&app->mu);
    return s;
}

/* Under mu: a closed session's record goes once nothing is left to read. */
static void record_maybe_drop(slim_app *app, app_session *s) {
    if (!s->closed || s->q_count > 0 || s->n_getters > 0 || s->waiting > 0)
        return;
    slim_hmap_remove(&app->sessions, &s->node);
    slim_app__session_free(s);
}

/* ---- what the core says (loop thread) ---- */

static slim_message *message_new(slim_session_id session, const slim_sout *o) {
    const slim_msg_ctx *c = &o->ctx;
    char src[512], dst[512];
    name_text(&c->source, src, sizeof src);
    name_text(&c->destination, dst, sizeof dst);
    size_t extra = strlen(src) + strlen(dst) + c->payload_type.len + 3 + o->bytes.len;
    for (size_t i = 0; i < c->metadata_len; i++)
        extra += c->metadata[i].key.len + c->metadata[i].value.len + 2;
    slim_message *m = slim_malloc(sizeof *m + c->metadata_len * sizeof(slim_metadata) + extra);
    if (m == NULL)
        return NULL;
    slim_metadata *md = (slim_metadata *)(m + 1);
    char *p = (char *)(md + c->metadata_len);
    *m = (slim_message){.session = session,
                        .source = c->source.name,
                        .destination = c->destination.name,
                        .metadata = md,
                        .metadata_len = c->metadata_len,
                        .input_conn = c->input_conn,
                        .message_id = c->message_id};
    size_t n = strlen(src) + 1;
    memcpy(p, src, n);
    m->source_text = p;
    p += n;
    n = strlen(dst) + 1;
    memcpy(p, dst, n);
    m->destination_text = p;
    p += n;
    memcpy(p, c->payload_type.ptr, c->payload_type.len);
    p[c->payload_type.len] = 0;
    m->payload_type = p;
    p += c->payload_type.len + 1;
    for (size_t i = 0; i < c->metadata_len; i++) {
        const slim_str *kv[2] = {&c->metadata[i].key, &c->metadata[i].value};
        for (int j = 0; j < 2; j++) {
            memcpy(p, kv[j]->ptr, kv[j]->len);
            p[kv[j]->len] = 0;
            if (j == 0)
                md[i].key = p;
            else
                md[i].value = p;
            p += kv[j]->len + 1;
        }
    }
    memcpy(p, o->bytes.ptr, o->bytes.len);
    m->payload = (slim_bytes){(const uint8_t *)p, o->bytes.len};
    return m;
}

void slim_message_free(slim_message *m) {
    slim_free(m);
}

/* Under mu: hands m to the first async getter as its OP_DONE event. */
static void give_to_getter(slim_app *app, app_session *s, slim_message *m) {
    slim_event ev = {.kind = SLIM_EVENT_OP_DONE,
                     .op = s->getters[0],
                     .status = SLIM_OK,
                     .session = s->id,
                     .message = m};
    memmove(s->getters, s->getters + 1, --s->n_getters * sizeof *s->getters);
    slim_app__push_event(app, &ev);
}

static void on_message(slim_app *app, const slim_sout *o) {
    slim_message *m = message_new(o->session, o);
    uv_mutex_lock(&app->mu);
    app_session *s = slim_app__session_find(app, o->session);
    if (s == NULL || m == NULL) {
        if (s != NULL)
            s->dropped++;
        app->counters.messages_dropped++;
        uv_mutex_unlock(&app->mu);
        slim_message_free(m);
        return;
    }
    if (s->n_getters > 0) {
        give_to_getter(app, s, m);
    } else if (s->q_count == s->q_cap) {
        s->dropped++; /* the oldest are kept: the newest goes */
        app->counters.messages_dropped++;
        app->drops_pending = true;
        slim_message_free(m);
    } else {
        s->q[(s->q_head + s->q_count++) % s->q_cap] = m;
        slim_app__wake(app);
    }
    bool hold = s->holdable && !s->held && s->q_count >= hold_mark(s);
    if (hold) {
        s->held = true;
        s->release = false;
    }
    uv_mutex_unlock(&app->mu);
    if (hold)
        (void)slim_sessions_hold(app->ss, o->session, true);
}

/* Releases the held sessions whose readers caught up (loop thread). */
static void release_held(slim_app *app) {
    slim_session_id ids[64];
    size_t n = 0;
    uv_mutex_lock(&app->mu);
    app->release_pending = false;
    slim_hmap_iter it;
    for (slim_hnode *h = slim_hmap_first(&app->sessions, &it); h != NULL;
         h = slim_hmap_next(&app->sessions, &it)) {
        app_session *s = SLIM_CONTAINER_OF(h, app_session, node);
        if (!s->release)
            continue;
        if (n == SLIM_ARRAY_LEN(ids)) {
            app->release_pending = true; /* the rest next time round */
            break;
        }
        s->release = false;
        s->held = false;
        ids[n++] = s->id;
    }
    uv_mutex_unlock(&app->mu);
    for (size_t i = 0; i < n; i++)
        (void)slim_sessions_hold(app->ss, ids[i], false);
    if (app->release_pending)
        uv_async_send(&app->wake);
}

/* A session a peer opened: to a waiting listener, else into the queue. */
static bool on_new(slim_app *app, slim_session_id id) {
    app_session *s = record_new(app, id);
    if (s == NULL) {
        SLIM_LOGW(MOD, "session %llu from a peer: out of memory, closing it",
                  (unsigned long long)id);
        (void)slim_sessions_close(app->ss, id, 0, slim_now_ms());
        return false;
    }
    uv_mutex_lock(&app->mu);
    if (app->n_listeners > 0) {
        slim_event ev = {.kind = SLIM_EVENT_OP_DONE, .op = app->listeners[0], .session = id};
        memmove(app->listeners, app->listeners + 1, --app->n_listeners * sizeof *app->listeners);
        slim_app__push_event(app, &ev);
    } else if (app->lq_count == LISTEN_QUEUE) {
        app->counters.sessions_refused++;
        uv_mutex_unlock(&app->mu);
        SLIM_LOGW(MOD,
                  "session %u from a peer: %d sessions already wait to be listened for, "
                  "closing it",
                  s->info->id, LISTEN_QUEUE);
        (void)slim_sessions_close(app->ss, id, 0, slim_now_ms());
        return false;
    } else {
        app->listen_q[(app->lq_head + app->lq_count++) % LISTEN_QUEUE] = id;
        slim_app__wake(app);
    }
    uv_mutex_unlock(&app->mu);
    return true;
}

bool slim_app__session_offer(slim_app *app, slim_session_id id) {
    return on_new(app, id);
}

static void on_closed(slim_app *app, const slim_sout *o) {
    slim_event ev = {.kind = SLIM_EVENT_SESSION_CLOSED, .session = o->session, .status = o->status};
    snprintf(ev.detail, sizeof ev.detail, "%s", o->detail != NULL ? o->detail : "");
    SLIM_LOGI(MOD, "session %llu ended: %s (%s)", (unsigned long long)o->session, ev.detail,
              slim_status_name(o->status));
    uv_mutex_lock(&app->mu);
    app_session *s = slim_app__session_find(app, o->session);
    if (s != NULL) {
        s->closed = true;
        while (s->n_getters > 0) {
            slim_event g = {.kind = SLIM_EVENT_OP_DONE,
                            .op = s->getters[--s->n_getters],
                            .status = SLIM_E_CLOSED,
                            .session = s->id};
            snprintf(g.detail, sizeof g.detail, "the session ended");
            slim_app__push_event(app, &g);
        }
        slim_app__wake(app);
        record_maybe_drop(app, s);
    }
    slim_app__push_event(app, &ev);
    uv_mutex_unlock(&app->mu);
    if (app->closing_all && app->ss != NULL) {
        slim_sessions_counters c;
        slim_sessions_counters_get(app->ss, &c);
        if (c.sessions_open == 0)
            app->all_closed = true;
    }
}

static void on_done(slim_app *app, const slim_sout *o) {
    if (o->status == SLIM_OK) {
        /* The info changed (a unicast peer joined: its id is known now). */
        slim_session_info *info = info_from_core(app, o->session);
        if (info != NULL) {
            uv_mutex_lock(&app->mu);
            app_session *s = slim_app__session_find(app, o->session);
            if (s != NULL) {
                slim_session_info_free(s->info);
                s->info = info;
                info = NULL;
            }
            uv_mutex_unlock(&app->mu);
            slim_session_info_free(info);
        }
        members_refresh(app, o->session);
    }
    slim_event r = {.session = o->session};
    slim_app__complete(app, o->op, o->status, o->detail, &r);
}

static void on_timer(uv_timer_t *t);

/* Drains the core's outputs, then arms its timer. */
/* The core's counters, for slim_app_counters_get (any thread). */
static void copy_counters(slim_app *app) {
    slim_sessions_counters c;
    slim_sessions_counters_get(app->ss, &c);
    slim_fwd_counters f;
    slim_fwd_counters_get(slim_hub_fwd(app->hub), &f);
    uv_mutex_lock(&app->mu);
    slim_app_counters *a = &app->counters;
    a->drop_queue_full = f.drop_queue_full;
    a->sessions_open = c.sessions_open;
    a->messages_in = c.messages_in;
    a->messages_out = c.messages_out;
    a->retransmissions = c.retransmissions;
    a->undelivered = c.undelivered;
    a->lost = c.lost;
    a->mls_commits = c.mls_commits;
    a->drop_identity = c.drop_identity;
    a->drop_malformed = c.drop_malformed;
    a->drop_other = c.drop_unknown + c.drop_duplicate + c.drop_unexpected + c.drop_backlog +
                    c.drop_limit + c.drop_nomem;
    uv_mutex_unlock(&app->mu);
}

void slim_app__sessions_drain(slim_app *app) {
    if (app->ss == NULL)
        return;
    uv_mutex_lock(&app->mu);
    bool release = app->release_pending;
    uv_mutex_unlock(&app->mu);
    if (release)
        release_held(app);
    slim_sout o;
    while (slim_sessions_next(app->ss, &o)) {
        switch (o.kind) {
        case SLIM_SOUT_SEND: {
            slim_app__route_seen(app, o.bytes);
            slim_status st =
                slim_hub_local_input(app->hub, app->local, o.bytes, uv_now(&app->loop));
            if (st != SLIM_OK) {
                SLIM_LOGT(MOD, "session message not routed: %s", slim_status_str(st));
                uv_mutex_lock(&app->mu);
                app->counters.drop_unrouted++;
                uv_mutex_unlock(&app->mu);
            }
            break;
        }
        case SLIM_SOUT_NEW:
            (void)on_new(app, o.session);
            break;
        case SLIM_SOUT_MESSAGE:
            on_message(app, &o);
            break;
        case SLIM_SOUT_DONE:
            on_done(app, &o);
            break;
        case SLIM_SOUT_UNDELIVERED:
        case SLIM_SOUT_LOST: {
            slim_event ev = {.kind = o.kind == SLIM_SOUT_LOST ? SLIM_EVENT_MESSAGE_LOST
                                                              : SLIM_EVENT_UNDELIVERED,
                             .session = o.session,
                             .status = o.status,
                             .message_id = o.message_id};
            snprintf(ev.detail, sizeof ev.detail, "%s", o.detail != NULL ? o.detail : "");
            if (o.kind == SLIM_SOUT_LOST && o.ctx.source.text[0].len > 0)
                name_text(&o.ctx.source, ev.name, sizeof ev.name);
            slim_app__event(app, &ev);
            break;
        }
        case SLIM_SOUT_CLOSED:
            on_closed(app, &o);
            break;
        case SLIM_SOUT_MEMBER: {
            slim_event ev = {.kind = SLIM_EVENT_MEMBER,
                             .session = o.session,
                             .status = o.status,
                             .member = (int)o.member};
            snprintf(ev.detail, sizeof ev.detail, "%s", o.detail != NULL ? o.detail : "");
            name_text(&o.ctx.source, ev.name, sizeof ev.name);
            members_refresh(app, o.session);
            slim_app__event(app, &ev);
            break;
        }
        }
    }
    if (app->drops_pending) {
        app->drops_pending = false;
        uv_mutex_lock(&app->mu);
        slim_hmap_iter it;
        for (slim_hnode *n = slim_hmap_first(&app->sessions, &it); n;
             n = slim_hmap_next(&app->sessions, &it)) {
            app_session *s = SLIM_CONTAINER_OF(n, app_session, node);
            if (s->dropped == 0)
                continue;
            slim_event ev = {.kind = SLIM_EVENT_DROPPED, .session = s->id, .count = s->dropped};
            snprintf(ev.detail, sizeof ev.detail,
                     "%llu message(s) dropped: the session's queue is full",
                     (unsigned long long)s->dropped);
            s->dropped = 0;
            slim_app__push_event(app, &ev);
        }
        uv_mutex_unlock(&app->mu);
    }
    copy_counters(app);
    uint64_t deadline = slim_sessions_deadline(app->ss);
    if (deadline == UINT64_MAX) {
        uv_timer_stop(&app->ss_timer);
        return;
    }
    uint64_t now = slim_now_ms();
    uv_timer_start(&app->ss_timer, on_timer, deadline > now ? deadline - now : 0, 0);
}

static void on_timer(uv_timer_t *t) {
    slim_app *app = t->data;
    slim_sessions_expire(app->ss, slim_now_ms());
    slim_app__pump(app);
}

/* A message the router delivered to us that is not an answer to our own
 * subscriptions. */
void slim_app__sessions_input(slim_app *app, slim_bytes msg) {
    if (app->ss == NULL)
        return;
    if (slim_app__ctl_is_request(msg)) {
        slim_app__ctl_input(app, msg);
        return;
    }
    slim_status st = slim_sessions_input(app->ss, msg, slim_now_ms());
    if (st != SLIM_OK)
        SLIM_LOGT(MOD, "message not taken by the sessions: %s", slim_status_str(st));
}

/* ---- commands (loop thread) ---- */

static void create_cmd(slim_app *app, app_cmd *c) {
    const cmd_session *cs = &c->s;
    slim_ss_kv *md = NULL;
    if (cs->md_len > 0 && (md = slim_calloc(cs->md_len, sizeof *md)) == NULL) {
        slim_app__complete(app, c->op, SLIM_E_NOMEM, NULL, NULL);
        return;
    }
    for (size_t i = 0; i < cs->md_len; i++)
        md[i] = (slim_ss_kv){{cs->md[2 * i], strlen(cs->md[2 * i])},
                             {cs->md[2 * i + 1], strlen(cs->md[2 * i + 1])}};
    slim_session_config cfg = {.type = cs->type,
                               .timeout_ms = cs->timeout_ms,
                               .max_retries = cs->max_retries,
                               .mls = cs->mls,
                               .mls_rotation_ms = cs->mls_rotation_ms,
                               .metadata = md,
                               .metadata_len = cs->md_len,
                               .session_id = SLIM_SESSION_ID_ANY};
    if (cs->to_text != NULL) {
        cfg.peer.name = cs->to;
        memcpy(cfg.peer.text, cs->to_parts, sizeof cfg.peer.text);
    }
    uint64_t id = 0;
    slim_status st = slim_sessions_open(app->ss, &cfg, c->op, slim_now_ms(), &id);
    slim_free(md);
    if (st != SLIM_OK) {
        char why[160];
        snprintf(why, sizeof why, "cannot open the session: %s", slim_status_str(st));
        slim_app__complete(app, c->op, st, why, NULL);
        return;
    }
    if (record_new(app, id) == NULL) {
        (void)slim_sessions_close(app->ss, id, 0, slim_now_ms());
        slim_app__complete(app, c->op, SLIM_E_NOMEM, NULL, NULL);
        /* The core's DONE for c->op finds no operation left: dropped. */
    }
}

static void publish_cmd(slim_app *app, app_cmd *c) {
    const cmd_session *cs = &c->s;
    if (slim_hub_local_full(app->hub, app->local)) {
        /* A message of ours met a connection whose send queue is full:
         * without this, what follows it would be dropped there. */
        slim_event r = {.session = cs->session};
        slim_app__complete(app, c->op, SLIM_E_QUEUE_FULL,
                           "a connection to a node has a full send queue", &r);
        return;
    }
    slim_ss_kv md[SLIM_APP_MAX_METADATA];
    for (size_t i = 0; i < cs->md_len; i++)
        md[i] = (slim_ss_kv){{cs->md[2 * i], strlen(cs->md[2 * i])},
                             {cs->md[2 * i + 1], strlen(cs->md[2 * i + 1])}};
    slim_publish p = {.mode = cs->mode,
                      .conn = cs->conn,
                      .payload = {cs->payload, cs->payload_len},
                      .metadata = md,
                      .metadata_len = cs->md_len};
    if (cs->payload_type != NULL)
        p.payload_type = (slim_str){cs->payload_type, strlen(cs->payload_type)};
    if (cs->to_text != NULL) {
        p.to.name = cs->to;
        memcpy(p.to.text, cs->to_parts, sizeof p.to.text);
    }
    uint32_t mid = 0;
    slim_status st = slim_sessions_publish(app->ss, cs->session, &p, slim_now_ms(), &mid);
    slim_event r = {.session = cs->session, .message_id = mid};
    slim_app__complete(app, c->op, st, st != SLIM_OK ? slim_status_str(st) : NULL, &r);
}

void slim_app__run_session_cmd(slim_app *app, app_cmd *c) {
    switch (c->kind) {
    case CMD_SESSION_CREATE:
        create_cmd(app, c);
        break;
    case CMD_SESSION_DELETE: {
        slim_status st = slim_sessions_close(app->ss, c->s.session, c->op, slim_now_ms());
        if (st != SLIM_OK)
            slim_app__complete(app, c->op, st, "the session is gone or already closing", NULL);
        break;
    }
    case CMD_PUBLISH:
        publish_cmd(app, c);
        break;
    case CMD_SESSION_INVITE:
    case CMD_SESSION_REMOVE: {
        slim_sname who = {.name = c->s.to};
        memcpy(who.text, c->s.to_parts, sizeof who.text);
        bool invite = c->kind == CMD_SESSION_INVITE;
        slim_status st =
            invite ? slim_sessions_invite(app->ss, c->s.session, &who, c->op, slim_now_ms())
                   : slim_sessions_remove(app->ss, c->s.session, &who, c->op, slim_now_ms());
        if (st != SLIM_OK) {
            char why[160];
            snprintf(why, sizeof why, "cannot %s %s: %s", invite ? "invite" : "remove",
                     c->s.to_text, slim_status_str(st));
            slim_event r = {.session = c->s.session};
            slim_app__complete(app, c->op, st, why, &r);
        }
        break;
    }
    case CMD_SESSION_ROTATE: {
        slim_status st = slim_sessions_rotate(app->ss, c->s.session, c->op, slim_now_ms());
        if (st != SLIM_OK) {
            char why[160];
            snprintf(why, sizeof why, "cannot update the group's keys: %s", slim_status_str(st));
            slim_event r = {.session = c->s.session};
            slim_app__complete(app, c->op, st, why, &r);
        }
        break;
    }
    default:
        break;
    }
    slim_app__sessions_drain(app);
}

/* Closes every session (app stop): true when none is left. */
bool slim_app__sessions_close_all(slim_app *app) {
    if (app->ss == NULL)
        return true;
    app->closing_all = true;
    uv_mutex_lock(&app->mu);
    size_t n = 0, cap = app->sessions.count;
    slim_session_id *ids = cap ? slim_calloc(cap, sizeof *ids) : NULL;
    slim_hmap_iter it;
    for (slim_hnode *h = slim_hmap_first(&app->sessions, &it); h && ids;
         h = slim_hmap_next(&app->sessions, &it)) {
        app_session *s = SLIM_CONTAINER_OF(h, app_session, node);
        if (!s->closed)
            ids[n++] = s->id;
    }
    uv_mutex_unlock(&app->mu);
    for (size_t i = 0; i < n; i++)
        (void)slim_sessions_close(app->ss, ids[i], 0, slim_now_ms());
    slim_free(ids);
    slim_app__sessions_drain(app);
    slim_sessions_counters c;
    slim_sessions_counters_get(app->ss, &c);
    return c.sessions_open == 0;
}

/* ---- the API (callers) ---- */

void slim_session_info_free(slim_session_info *info) {
    slim_free(info);
}

slim_status slim_session_info_get(slim_app *app, slim_session_id id, slim_session_info **out) {
    if (app == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    uv_mutex_lock(&app->mu);
    app_session *s = slim_app__session_find(app, id);
    slim_status st = SLIM_E_CLOSED;
    if (s != NULL && !s->closed && s->info != NULL) {
        const slim_session_info *i = s->info;
        size_t len = sizeof *i + i->metadata_len * sizeof(slim_metadata);
        for (size_t k = 0; k < i->metadata_len; k++)
            len += strlen(i->metadata[k].key) + strlen(i->metadata[k].value) + 2;
        slim_session_info *copy = slim_malloc(len);
        if (copy == NULL) {
            st = SLIM_E_NOMEM;
        } else {
            memcpy(copy, i, len); /* one block: rebase the pointers */
            ptrdiff_t d = (char *)copy - (char *)i;
            copy->metadata = (slim_metadata *)((char *)i->metadata + d);
            for (size_t k = 0; k < i->metadata_len; k++) {
                copy->metadata[k].key = i->metadata[k].key + d;
                copy->metadata[k].value = i->metadata[k].value + d;
            }
            *out = copy;
            st = SLIM_OK;
        }
    }
    uv_mutex_unlock(&app->mu);
    return st;
}

static app_cmd *cmd_new(cmd_kind kind, slim_session_id session) {
    app_cmd *c = slim_calloc(1, sizeof *c);
    if (c != NULL) {
        c->kind = kind;
        c->s.session = session;
    }
    return c;
}

/* Copies metadata into c (key, value, key, value...). */
static slim_status copy_metadata(cmd_session *cs, const slim_metadata *md, size_t n) {
    if (n > SLIM_APP_MAX_METADATA || (n > 0 && md == NULL))
        return SLIM_E_INVALID_ARG;
    if (n == 0)
        return SLIM_OK;
    cs->md = slim_calloc(2 * n, sizeof *cs->md);
    if (cs->md == NULL)
        return SLIM_E_NOMEM;
    cs->md_len = n;
    for (size_t i = 0; i < n; i++) {
        if (md[i].key == NULL || md[i].value == NULL)
            return SLIM_E_INVALID_ARG;
        cs->md[2 * i] = slim_strndup(md[i].key, strlen(md[i].key));
        cs->md[2 * i + 1] = slim_strndup(md[i].value, strlen(md[i].value));
        if (cs->md[2 * i] == NULL || cs->md[2 * i + 1] == NULL)
            return SLIM_E_NOMEM;
    }
    return SLIM_OK;
}

/* Parses a name into cs->to (text copied). */
static slim_status copy_name(cmd_session *cs, const char *name) {
    cs->to_text = slim_strndup(name, strlen(name));
    if (cs->to_text == NULL)
        return SLIM_E_NOMEM;
    slim_name_parts parts;
    slim_status st = slim_name_parse(cs->to_text, strlen(cs->to_text), &cs->to, &parts);
    for (int i = 0; st == SLIM_OK && i < 3; i++)
        cs->to_parts[i] = parts.component[i];
    return st;
}

/* Frees c when st says building it failed; else posts it: waited for
 * when wait (its result in *r), or completed later as op's event. */
static slim_status submit(slim_app *app, app_cmd *c, slim_status st, bool wait, int64_t timeout_ms,
                          slim_op *op, slim_event *r) {
    if (st != SLIM_OK) {
        slim_app__cmd_free(c);
        return st;
    }
    return wait ? slim_app__post_wait(app, c, timeout_ms, r) : slim_app__post_async(app, c, op);
}

static slim_status create(slim_app *app, const slim_session_options *o, bool wait,
                          int64_t timeout_ms, slim_session_id *out, slim_op *op) {
    if (app == NULL || o == NULL || (o->type == SLIM_SESSION_UNICAST && o->peer == NULL))
        return SLIM_E_INVALID_ARG;
    if (o->type == SLIM_SESSION_MULTICAST && o->peer == NULL)
        return SLIM_E_INVALID_ARG;
    if (o->type != SLIM_SESSION_ANYCAST && o->type != SLIM_SESSION_UNICAST &&
        o->type != SLIM_SESSION_MULTICAST)
        return SLIM_E_INVALID_ARG;
    app_cmd *c = cmd_new(CMD_SESSION_CREATE, 0);
    if (c == NULL)
        return SLIM_E_NOMEM;
    cmd_session *cs = &c->s;
    cs->type = o->type;
    cs->timeout_ms = o->timeout_ms;
    cs->max_retries = o->max_retries;
    cs->mls = o->mls;
    uint64_t rot = o->mls_rotation_set ? (uint64_t)o->mls_rotation_s * 1000u
                                       : (uint64_t)SLIM_MLS_ROTATION_DEFAULT_S * 1000u;
    cs->mls_rotation_ms = rot > UINT32_MAX ? UINT32_MAX : (uint32_t)rot;
    slim_status st = copy_metadata(cs, o->metadata, o->metadata_len);
    if (st == SLIM_OK && o->peer != NULL)
        st = copy_name(cs, o->peer);
    slim_event r;
    st = submit(app, c, st, wait, timeout_ms, op, &r);
    if (st == SLIM_OK && wait && out != NULL)
        *out = r.session;
    return st;
}

slim_status slim_session_create(slim_app *app, const slim_session_options *o, int64_t timeout_ms,
                                slim_session_id *out) {
    return create(app, o, true, timeout_ms, out, NULL);
}

slim_status slim_session_create_async(slim_app *app, const slim_session_options *o, slim_op *op) {
    return create(app, o, false, 0, NULL, op);
}

slim_status slim_session_delete(slim_app *app, slim_session_id s, int64_t timeout_ms) {
    if (app == NULL || s == 0)
        return SLIM_E_INVALID_ARG;
    app_cmd *c = cmd_new(CMD_SESSION_DELETE, s);
    return c != NULL ? slim_app__post_wait(app, c, timeout_ms, NULL) : SLIM_E_NOMEM;
}

slim_status slim_session_delete_async(slim_app *app, slim_session_id s, slim_op *op) {
    if (app == NULL || s == 0)
        return SLIM_E_INVALID_ARG;
    app_cmd *c = cmd_new(CMD_SESSION_DELETE, s);
    return c != NULL ? slim_app__post_async(app, c, op) : SLIM_E_NOMEM;
}

static slim_status member_cmd(slim_app *app, cmd_kind kind, slim_session_id s, const char *name,
                              bool wait, int64_t timeout_ms, slim_op *op) {
    if (app == NULL || s == 0 || name == NULL)
        return SLIM_E_INVALID_ARG;
    app_cmd *c = cmd_new(kind, s);
    if (c == NULL)
        return SLIM_E_NOMEM;
    slim_status st = copy_name(&c->s, name);
    return submit(app, c, st, wait, timeout_ms, op, NULL);
}

slim_status slim_session_invite(slim_app *app, slim_session_id s, const char *name,
                                int64_t timeout_ms) {
    return member_cmd(app, CMD_SESSION_INVITE, s, name, true, timeout_ms, NULL);
}

slim_status slim_session_invite_async(slim_app *app, slim_session_id s, const char *name,
                                      slim_op *op) {
    return member_cmd(app, CMD_SESSION_INVITE, s, name, false, 0, op);
}

slim_status slim_session_remove(slim_app *app, slim_session_id s, const char *name,
                                int64_t timeout_ms) {
    return member_cmd(app, CMD_SESSION_REMOVE, s, name, true, timeout_ms, NULL);
}

slim_status slim_session_remove_async(slim_app *app, slim_session_id s, const char *name,
                                      slim_op *op) {
    return member_cmd(app, CMD_SESSION_REMOVE, s, name, false, 0, op);
}

static slim_status rotate(slim_app *app, slim_session_id s, bool wait, int64_t timeout_ms,
                          slim_op *op) {
    if (app == NULL || s == 0)
        return SLIM_E_INVALID_ARG;
    app_cmd *c = cmd_new(CMD_SESSION_ROTATE, s);
    return c != NULL ? submit(app, c, SLIM_OK, wait, timeout_ms, op, NULL) : SLIM_E_NOMEM;
}

slim_status slim_session_rotate_keys(slim_app *app, slim_session_id s, int64_t timeout_ms) {
    return rotate(app, s, true, timeout_ms, NULL);
}

slim_status slim_session_rotate_keys_async(slim_app *app, slim_session_id s, slim_op *op) {
    return rotate(app, s, false, 0, op);
}

slim_status slim_session_members(slim_app *app, slim_session_id id, char ***names, size_t *n) {
    if (app == NULL || names == NULL)
        return SLIM_E_INVALID_ARG;
    uv_mutex_lock(&app->mu);
    app_session *s = slim_app__session_find(app, id);
    slim_status st = SLIM_E_CLOSED;
    if (s != NULL && !s->closed && s->members != NULL) {
        size_t k = 0, len = sizeof(char *);
        for (; s->members[k] != NULL; k++)
            len += sizeof(char *) + strlen(s->members[k]) + 1;
        char **copy = slim_malloc(len);
        if (copy == NULL) {
            st = SLIM_E_NOMEM;
        } else {
            char *p = (char *)(copy + k + 1);
            for (size_t i = 0; i < k; i++) {
                size_t l = strlen(s->members[i]) + 1;
                memcpy(p, s->members[i], l);
                copy[i] = p;
                p += l;
            }
            copy[k] = NULL;
            *names = copy;
            if (n != NULL)
                *n = k;
            st = SLIM_OK;
        }
    }
    uv_mutex_unlock(&app->mu);
    return st;
}

void slim_session_members_free(char **names) {
    slim_free(names);
}

static slim_status publish(slim_app *app, slim_session_id s, slim_publish_mode mode, const char *to,
                           uint64_t conn, slim_bytes payload, const slim_publish_options *o,
                           bool wait, int64_t timeout_ms, uint32_t *message_id, slim_op *op) {
    if (app == NULL || s == 0 || (payload.len > 0 && payload.ptr == NULL))
        return SLIM_E_INVALID_ARG;
    if (payload.len > app->opts.max_message_size)
        return SLIM_E_TOO_LARGE;
    app_cmd *c = cmd_new(CMD_PUBLISH, s);
    if (c == NULL)
        return SLIM_E_NOMEM;
    cmd_session *cs = &c->s;
    cs->mode = mode;
    cs->conn = conn;
    slim_status st = SLIM_OK;
    if (payload.len > 0 && (cs->payload = slim_malloc(payload.len)) == NULL)
        st = SLIM_E_NOMEM;
    else if (payload.len > 0)
        memcpy(cs->payload, payload.ptr, payload.len);
    cs->payload_len = payload.len;
    if (st == SLIM_OK && o != NULL)
        st = copy_metadata(cs, o->metadata, o->metadata_len);
    if (st == SLIM_OK && o != NULL && o->payload_type != NULL &&
        (cs->payload_type = slim_strndup(o->payload_type, strlen(o->payload_type))) == NULL)
        st = SLIM_E_NOMEM;
    if (st == SLIM_OK && to != NULL)
        st = copy_name(cs, to);
    slim_event r;
    st = submit(app, c, st, wait, timeout_ms, op, &r);
    if (st == SLIM_OK && wait && message_id != NULL)
        *message_id = r.message_id;
    return st;
}

slim_status slim_session_publish(slim_app *app, slim_session_id s, slim_bytes payload,
                                 const slim_publish_options *o, int64_t timeout_ms,
                                 uint32_t *message_id) {
    return publish(app, s, SLIM_PUBLISH_DEFAULT, NULL, 0, payload, o, true, timeout_ms, message_id,
                   NULL);
}

slim_status slim_session_publish_async(slim_app *app, slim_session_id s, slim_bytes payload,
                                       const slim_publish_options *o, slim_op *op) {
    return publish(app, s, SLIM_PUBLISH_DEFAULT, NULL, 0, payload, o, false, 0, NULL, op);
}

slim_status slim_session_publish_to(slim_app *app, slim_session_id s, const slim_message *ctx,
                                    slim_bytes payload, const slim_publish_options *o,
                                    int64_t timeout_ms, uint32_t *message_id) {
    if (ctx == NULL)
        return SLIM_E_INVALID_ARG;
    return publish(app, s, SLIM_PUBLISH_TO, ctx->source_text, ctx->input_conn, payload, o, true,
                   timeout_ms, message_id, NULL);
}

slim_status slim_session_publish_to_async(slim_app *app, slim_session_id s, const slim_message *ctx,
                                          slim_bytes payload, const slim_publish_options *o,
                                          slim_op *op) {
    if (ctx == NULL)
        return SLIM_E_INVALID_ARG;
    return publish(app, s, SLIM_PUBLISH_TO, ctx->source_text, ctx->input_conn, payload, o, false, 0,
                   NULL, op);
}

slim_status slim_session_publish_with_destination(slim_app *app, slim_session_id s,
                                                  const char *dest, slim_bytes payload,
                                                  const slim_publish_options *o, int64_t timeout_ms,
                                                  uint32_t *message_id) {
    if (dest == NULL)
        return SLIM_E_INVALID_ARG;
    return publish(app, s, SLIM_PUBLISH_DESTINATION, dest, 0, payload, o, true, timeout_ms,
                   message_id, NULL);
}

slim_status slim_session_publish_with_destination_async(slim_app *app, slim_session_id s,
                                                        const char *dest, slim_bytes payload,
                                                        const slim_publish_options *o,
                                                        slim_op *op) {
    if (dest == NULL)
        return SLIM_E_INVALID_ARG;
    return publish(app, s, SLIM_PUBLISH_DESTINATION, dest, 0, payload, o, false, 0, NULL, op);
}

/* Under mu: takes the next queued message of s; a held session whose
 * reader has caught up is marked for the loop to release. */
static slim_message *pop(slim_app *app, app_session *s) {
    if (s->q_count == 0)
        return NULL;
    slim_message *m = s->q[s->q_head];
    s->q_head = (s->q_head + 1) % s->q_cap;
    s->q_count--;
    if (s->held && !s->release && s->q_count <= hold_mark(s) / 2) {
        s->release = true;
        app->release_pending = true;
        uv_async_send(&app->wake);
    }
    return m;
}

slim_status slim_session_get_message(slim_app *app, slim_session_id id, int64_t timeout_ms,
                                     slim_message **out) {
    if (app == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    uint64_t deadline = timeout_ms > 0 ? slim_now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    uv_mutex_lock(&app->mu);
    app_session *s = slim_app__session_find(app, id);
    slim_status st = SLIM_E_TIMEOUT;
    if (s == NULL) {
        st = SLIM_E_CLOSED;
    } else {
        s->waiting++;
        for (;;) {
            slim_message *m = pop(app, s);
            if (m != NULL) {
                *out = m;
                st = SLIM_OK;
                break;
            }
            if (s->closed) {
                st = SLIM_E_CLOSED;
                break;
            }
            if (!slim_app__wait(app, timeout_ms, deadline))
                break;
        }
        s->waiting--;
        record_maybe_drop(app, s);
    }
    uv_mutex_unlock(&app->mu);
    return st;
}

slim_status slim_session_get_message_async(slim_app *app, slim_session_id id, slim_op *op) {
    if (app == NULL || op == NULL)
        return SLIM_E_INVALID_ARG;
    uv_mutex_lock(&app->mu);
    app_session *s = slim_app__session_find(app, id);
    slim_status st = SLIM_OK;
    if (s == NULL || (s->closed && s->q_count == 0)) {
        st = SLIM_E_CLOSED;
    } else if (s->n_getters == s->cap_getters && s->cap_getters >= app->opts.session_queue) {
        st = SLIM_E_QUEUE_FULL;
    } else {
        if (s->n_getters == s->cap_getters) {
            size_t cap = s->cap_getters ? 2 * s->cap_getters : 8;
            slim_op *g = slim_realloc(s->getters, cap * sizeof *g);
            if (g == NULL) {
                uv_mutex_unlock(&app->mu);
                return SLIM_E_NOMEM;
            }
            s->getters = g;
            s->cap_getters = cap;
        }
        *op = ++app->next_op;
        s->getters[s->n_getters++] = *op;
        slim_message *m = pop(app, s);
        if (m != NULL)
            give_to_getter(app, s, m);
        record_maybe_drop(app, s);
    }
    uv_mutex_unlock(&app->mu);
    return st;
}

slim_status slim_app_listen(slim_app *app, int64_t timeout_ms, slim_session_id *out) {
    if (app == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    uint64_t deadline = timeout_ms > 0 ? slim_now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    uv_mutex_lock(&app->mu);
    slim_status st = SLIM_E_TIMEOUT;
    for (;;) {
        if (app->lq_count > 0) {
            *out = app->listen_q[app->lq_head];
            app->lq_head = (app->lq_head + 1) % LISTEN_QUEUE;
            app->lq_count--;
            st = SLIM_OK;
            break;
        }
        if (!slim_app__wait(app, timeout_ms, deadline))
            break;
    }
    uv_mutex_unlock(&app->mu);
    return st;
}

slim_status slim_app_listen_async(slim_app *app, slim_op *op) {
    if (app == NULL || op == NULL)
        return SLIM_E_INVALID_ARG;
    uv_mutex_lock(&app->mu);
    slim_status st = SLIM_OK;
    *op = ++app->next_op;
    if (app->lq_count > 0) {
        slim_event ev = {
            .kind = SLIM_EVENT_OP_DONE, .op = *op, .session = app->listen_q[app->lq_head]};
        app->lq_head = (app->lq_head + 1) % LISTEN_QUEUE;
        app->lq_count--;
        slim_app__push_event(app, &ev);
    } else if (app->n_listeners == LISTEN_QUEUE) {
        st = SLIM_E_QUEUE_FULL;
    } else {
        app->listeners[app->n_listeners++] = *op;
    }
    uv_mutex_unlock(&app->mu);
    return st;
}

void slim_app__sessions_ops(slim_app *app, slim_sessions_ops *ops) {
    *ops = (slim_sessions_ops){.ud = app,
                               .random64 = op_random,
                               .stamp = op_stamp,
                               .verify = op_verify,
                               .mls_self = op_mls_self,
                               .mls_check = op_mls_check,
                               .unix_time = op_unix_time};
}
