/*
 * Streams and links around one forwarder. Every stream is a hub_conn,
 * keyed by the forwarder's connection id: accepted streams come from
 * slim_hub_accept(); dialled ones from a hub_link, which owns a
 * reconnecting gRPC client and opens a new stream whenever its connection
 * is (again) READY. A 250 ms sweep applies what needs a clock: the link
 * negotiation deadline, backpressure grace and slow consumers.
 */
#include "link/hub.h"
#include "core/alloc.h"
#include "core/hmap.h"
#include "core/khash.h"
#include "core/log.h"
#include "core/time.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

#define MOD       "link"
#define SWEEP_MS  250
#define REOPEN_MS 1000 /* a dialled stream that ended on a live connection */

/* BACKPRESSURE: when a message meets a full connection, the connection it
 * came from stops being read (so its sender's HTTP/2 window closes and the
 * sender slows down) and the message is queued past the limit, up to twice
 * it. A LOCAL connection (an application in this process, through
 * slim_hub_local_input) is paused the same way: slim_hub_local_full() says
 * so, and the application holds back what it can. The input resumes when the full connection drains
 * below half, or after this grace (letting a message through to its other destinations); a message
 * that meets the still-full connection pauses it again. So a publisher goes at the pace of its
 * slowest subscriber until that one is closed as a slow consumer (full for slow_consumer_timeout).
 * Messages for a connection at twice the limit, or that come from no pausable input (the hub
 * itself, or the full connection), are dropped and counted. */
#define BACKPRESSURE_GRACE_MS 200

typedef struct slim_hub_link hub_link;

typedef struct hub_conn {
    slim_hnode node;
    uint64_t id;
    slim_hub *owner;
    slim_grpc_call *call; /* NULL once the call ended */
    hub_link *link;       /* dialled streams: the link that opened it */
    uint64_t opened_ms;
    uint64_t full_since_ms; /* 0 when the send queue has room */
    bool paused;            /* reading stopped: a destination of ours is full */
    uint64_t paused_for;    /* that destination */
    uint64_t paused_at_ms;
    uint64_t negotiation_ms; /* accepted: its listener's negotiation_timeout */
    slim_hub_local_fn local; /* a LOCAL connection: where its messages go */
    void *local_ud;
    char peer[64];
} hub_conn;

struct slim_hub_link {
    slim_hub *owner;
    char *endpoint, *link_id; /* copied from the client config */
    slim_link_type connection_type;
    bool require_header_mac;
    slim_hub_link_cbs cbs;
    slim_grpc_client *client;
    hub_conn *conn; /* the current stream, NULL when none */
    uint64_t id;    /* every stream's connection id (0 before the first) */
    uv_timer_t reopen;
    bool closing;
    hub_link *next;
};

struct slim_hub {
    uv_loop_t *loop;
    slim_hub_callbacks cbs;
    slim_fwd *fwd;
    slim_hmap conns;
    uint64_t next_id;
    uint64_t slow_consumer_ms;
    hub_link *links;
    size_t n_links;
    bool links_stopped;
    uv_timer_t sweep;
    int open_handles; /* handles still to close before the hub's memory goes */
    bool freeing;
    uint64_t unsent; /* messages queued on streams that ended before writing them */
    hub_conn *input; /* the connection whose message is being forwarded */
};

static int conn_eq(const slim_hnode *n, const void *key) {
    return SLIM_CONTAINER_OF(n, hub_conn, node)->id == *(const uint64_t *)key;
}

static hub_conn *find(const slim_hub *h, uint64_t id) {
    slim_hnode *n = slim_hmap_find(&h->conns, slim_mix64(id), conn_eq, &id);
    return n ? SLIM_CONTAINER_OF(n, hub_conn, node) : NULL;
}

static hub_conn *conn_new(slim_hub *h, hub_link *link) {
    hub_conn *c = slim_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    /* A dialled link keeps one connection id across its streams, so that
     * what was learned about it (routes, a session's way back) stays true
     * after a reconnect. */
    if (link != NULL && link->id == 0)
        link->id = ++h->next_id;
    c->id = link != NULL ? link->id : ++h->next_id;
    c->owner = h;
    c->link = link;
    c->opened_ms = slim_now_ms();
    slim_hmap_insert(&h->conns, &c->node, slim_mix64(c->id));
    return c;
}

static void conn_drop(slim_hub *h, hub_conn *c) {
    slim_fwd_conn_close(h->fwd, c->id);
    slim_hmap_remove(&h->conns, &c->node);
    slim_free(c);
}

/* ---- backpressure ---- */

/* Resumes the inputs paused for `dest` (any destination when dest is 0)
 * that were paused at or before `older_than_ms` (any time when 0). */
static void resume_inputs(slim_hub *h, uint64_t dest, uint64_t older_than_ms) {
    slim_hmap_iter it;
    for (slim_hnode *n = slim_hmap_first(&h->conns, &it); n; n = slim_hmap_next(&h->conns, &it)) {
        hub_conn *c = SLIM_CONTAINER_OF(n, hub_conn, node);
        if (!c->paused || (dest != 0 && c->paused_for != dest) ||
            (older_than_ms != 0 && c->paused_at_ms > older_than_ms))
            continue;
        c->paused = false;
        if (c->call != NULL)
            slim_grpc_call_resume(c->call);
    }
}

/* ---- forwarder callbacks ---- */

static slim_status fwd_send(void *ud, uint64_t id, slim_rcbuf *buf) {
    slim_hub *h = ud;
    hub_conn *c = find(h, id);
    if (c != NULL && c->local != NULL)
        return c->local(c->local_ud, buf);
    if (c == NULL || c->call == NULL)
        return SLIM_E_CLOSED;
    slim_status st = slim_grpc_call_send_rc(c->call, buf);
    if (st == SLIM_E_QUEUE_FULL) {
        uint64_t now = slim_now_ms();
        if (c->full_since_ms == 0)
            c->full_since_ms = now;
        hub_conn *in = h->input;
        if (in != NULL && in != c && (in->call != NULL || in->local != NULL)) {
            /* The input stops here, so the message that met the limit can
             * go past it (bounded by the transport) instead of being lost. */
            if (!in->paused) {
                in->paused = true;
                in->paused_for = c->id;
                in->paused_at_ms = now;
                if (in->call != NULL)
                    slim_grpc_call_pause(in->call);
            }
            st = slim_grpc_call_send_rc_forced(c->call, buf);
        }
    } else if (st == SLIM_OK) {
        c->full_since_ms = 0;
    }
    return st;
}

static void fwd_close(void *ud, uint64_t id, slim_status why, const char *detail) {
    slim_hub *h = ud;
    hub_conn *c = find(h, id);
    if (c == NULL || c->call == NULL)
        return;
    if (c->link != NULL)
        slim_grpc_call_cancel(c->call);
    else
        (void)slim_grpc_call_finish(c->call, why, detail, NULL);
}

static void fwd_linked(void *ud, uint64_t id, slim_conn_kind kind, const char *peer_node) {
    slim_hub *h = ud;
    hub_conn *c = find(h, id);
    char node_id[160] = "";
    if (peer_node != NULL)
        slim_log_escape(peer_node, strlen(peer_node), node_id, sizeof node_id);
    SLIM_LOGI(MOD, "connection %llu %s %s linked as %s%s%s", (unsigned long long)id,
              c && c->link ? "to" : "from", c ? c->peer : "?", slim_conn_kind_name(kind),
              node_id[0] ? ", node " : "", node_id);
    if (c != NULL && c->link != NULL && c->link->cbs.up != NULL)
        c->link->cbs.up(c->link->cbs.ud, id);
}

static void fwd_subscription_ack(void *ud, uint64_t conn, uint64_t id, bool success,
                                 const char *error) {
    slim_hub *h = ud;
    if (h->cbs.subscription_ack != NULL)
        h->cbs.subscription_ack(conn, id, success, error, h->cbs.ud);
}

static void fwd_app_names(void *ud, const slim_name *name, const slim_str *text, bool added) {
    slim_hub *h = ud;
    if (h->cbs.app_names != NULL)
        h->cbs.app_names(name, text, added, h->cbs.ud);
}

static uint64_t fwd_random(void *ud) {
    (void)ud;
    uint64_t v = 0;
    if (slim_random_bytes(&v, sizeof v) != SLIM_OK)
        v = slim_now_ns() * 0x9e3779b97f4a7c15ull; /* getrandom failing is near impossible */
    return v;
}

/* ---- transport callbacks (accepted and dialled streams alike) ---- */

static void on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    (void)call;
    hub_conn *c = data;
    if (c == NULL)
        return; /* refused before it got a hub_conn */
    c->owner->input = c;
    /* The loop's cached time (updated once per iteration) is all the
     * forwarder needs (the duplicate window, error rate limits), and saves
     * a clock read per message. */
    slim_status st = slim_fwd_input(c->owner->fwd, c->id, msg, uv_now(c->owner->loop));
    c->owner->input = NULL;
    if (st != SLIM_OK)
        SLIM_LOGT(MOD, "connection %llu: %s", (unsigned long long)c->id, slim_status_str(st));
}

static void on_half_close(slim_grpc_call *call, void *data) {
    if (data != NULL) /* the peer is done sending: end the stream from our side too */
        (void)slim_grpc_call_finish(call, SLIM_OK, NULL, NULL);
}

static void on_writable(slim_grpc_call *call, void *data) {
    (void)call;
    hub_conn *c = data;
    if (c == NULL)
        return;
    c->full_since_ms = 0;
    resume_inputs(c->owner, c->id, 0);
}

static void on_unsent(slim_grpc_call *call, slim_bytes msg, slim_rcbuf *rc, void *data) {
    (void)call;
    (void)msg;
    (void)rc;
    hub_conn *c = data;
    if (c != NULL)
        c->owner->unsent++;
}

static void link_open_later(hub_link *l);

static void on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    hub_conn *c = data;
    if (c == NULL)
        return;
    slim_hub *h = c->owner;
    char why[256];
    slim_log_escape(res->message.ptr, res->message.len, why, sizeof why);
    SLIM_LOGI(MOD, "connection %llu %s %s closed: %s%s%s", (unsigned long long)c->id,
              c->link ? "to" : "from", c->peer,
              res->status == SLIM_OK ? "ok" : slim_status_str(res->status),
              res->message.len ? ": " : "", why);
    if (res->unsent > 0)
        SLIM_LOGD(MOD, "connection %llu: %zu queued message(s) never written",
                  (unsigned long long)c->id, res->unsent);
    c->call = NULL;
    resume_inputs(h, c->id, 0);
    hub_link *l = c->link;
    uint64_t id = c->id;
    conn_drop(h, c);
    if (l != NULL) {
        l->conn = NULL;
        if (l->cbs.down != NULL && !h->freeing && !l->closing)
            l->cbs.down(l->cbs.ud, id, res->status, why);
        /* A stream that ends on a live connection is reopened after a pause;
         * a lost connection reconnects (with the link's backoff) and READY
         * opens the next stream. */
        if (!h->links_stopped && !l->closing &&
            slim_grpc_client_state(l->client) == SLIM_GRPC_READY)
            link_open_later(l);
    }
    if (h->cbs.stream_closed != NULL && !h->freeing)
        h->cbs.stream_closed(h->conns.count, h->cbs.ud);
}

static const slim_grpc_call_cbs call_cbs = {
    .on_message = on_message,
    .on_half_close = on_half_close,
    .on_writable = on_writable,
    .on_close = on_close,
    .on_unsent = on_unsent,
};

/* ---- accepted streams ---- */

void slim_hub_call_cbs(slim_grpc_call_cbs *out) {
    *out = call_cbs;
}

void slim_hub_accept(slim_hub *h, slim_grpc_call *call, const slim_fwd_link_opts *opts,
                     uint64_t negotiation_ms) {
    slim_grpc_call_set_data(call, NULL);
    hub_conn *c = conn_new(h, NULL);
    if (c == NULL) {
        (void)slim_grpc_call_finish(call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL);
        return;
    }
    c->call = call;
    c->negotiation_ms = negotiation_ms;
    snprintf(c->peer, sizeof c->peer, "%s", slim_grpc_call_peer(call));
    slim_grpc_call_set_data(call, c);
    slim_status st = slim_fwd_conn_open_opts(h->fwd, c->id, SLIM_FWD_ACCEPTED, NULL, opts);
    if (st != SLIM_OK)
        (void)slim_grpc_call_finish(call, SLIM_E_GRPC_INTERNAL, slim_status_str(st), NULL);
    else
        SLIM_LOGD(MOD, "connection %llu accepted from %s", (unsigned long long)c->id, c->peer);
}

/* ---- dialled links ---- */

/* Opens a data-plane stream on the link's client and starts negotiation:
 * the configured link id, or a fresh UUID for each stream. */
static void link_open(hub_link *l) {
    slim_hub *h = l->owner;
    if (l->conn != NULL || h->links_stopped)
        return;
    hub_conn *c = conn_new(h, l);
    if (c == NULL)
        return;
    snprintf(c->peer, sizeof c->peer, "%s", l->endpoint);
    slim_grpc_call_opts opts = {.method = SLIM_DATAPLANE_METHOD};
    char fresh[SLIM_ID_TEXT_LEN + 1];
    const char *link_id = l->link_id;
    slim_status st = slim_grpc_client_open(l->client, &opts, &call_cbs, c, &c->call);
    if (st == SLIM_OK) {
        l->conn = c;
        if (link_id == NULL && (st = slim_uuid_v4(fresh)) == SLIM_OK)
            link_id = fresh;
    }
    if (st == SLIM_OK) {
        slim_fwd_link_opts fo = {.announce = l->connection_type,
                                 .require_header_mac = l->require_header_mac};
        st = slim_fwd_conn_open_opts(h->fwd, c->id, SLIM_FWD_DIALLED, link_id, &fo);
    }
    if (st == SLIM_OK) {
        SLIM_LOGI(MOD, "link %llu to %s: stream opened", (unsigned long long)c->id, c->peer);
        return;
    }
    SLIM_LOGW(MOD, "link to %s: cannot open a stream: %s", l->endpoint, slim_status_str(st));
    if (c->call != NULL) {
        slim_grpc_call_cancel(c->call); /* on_close drops c */
        return;
    }
    conn_drop(h, c);
    link_open_later(l);
}

static void reopen_fire(uv_timer_t *t) {
    link_open(t->data);
}

static void link_open_later(hub_link *l) {
    uv_timer_start(&l->reopen, reopen_fire, REOPEN_MS, 0);
}

static void link_state(slim_grpc_client *cl, slim_grpc_conn_state state, slim_status why,
                       void *ud) {
    (void)cl;
    hub_link *l = ud;
    if (state == SLIM_GRPC_READY) {
        SLIM_LOGI(MOD, "link to %s: connected", l->endpoint);
        link_open(l);
    } else if (state == SLIM_GRPC_TRANSIENT_FAILURE || state == SLIM_GRPC_SHUTDOWN) {
        const char *text = slim_grpc_client_why(l->client);
        SLIM_LOGW(MOD, "link to %s: %s: %s%s", l->endpoint, slim_grpc_conn_state_name(state),
                  text[0] ? text : slim_status_str(why),
                  state == SLIM_GRPC_SHUTDOWN ? " (no more attempts)" : ", retrying");
        if (l->cbs.failed != NULL && !l->closing)
            l->cbs.failed(l->cbs.ud, why, text[0] ? text : slim_status_str(why),
                          state == SLIM_GRPC_SHUTDOWN);
    }
}

static void link_free(hub_link *l) {
    slim_free(l->endpoint);
    slim_free(l->link_id);
    slim_free(l);
}

slim_status slim_hub_dial_link(slim_hub *h, const slim_client_config *cc,
                               const slim_grpc_config *base, const slim_hub_link_cbs *cbs,
                               slim_hub_link **out) {
    hub_link *l = slim_calloc(1, sizeof *l);
    if (l == NULL)
        return SLIM_E_NOMEM;
    l->owner = h;
    l->endpoint = slim_strndup(cc->endpoint, strlen(cc->endpoint));
    l->link_id = cc->link_id != NULL ? slim_strndup(cc->link_id, strlen(cc->link_id)) : NULL;
    l->connection_type = cc->connection_type;
    l->require_header_mac = cc->require_header_mac;
    if (cbs != NULL)
        l->cbs = *cbs;
    if (l->endpoint == NULL || (cc->link_id != NULL && l->link_id == NULL)) {
        link_free(l);
        return SLIM_E_NOMEM;
    }
    slim_status st = slim_grpc_client_new_config(h->loop, cc, base, link_state, l, &l->client);
    if (st != SLIM_OK) {
        SLIM_LOGE(MOD, "cannot dial %s: %s", cc->endpoint, slim_status_str(st));
        link_free(l);
        return st;
    }
    uv_timer_init(h->loop, &l->reopen);
    l->reopen.data = l;
    h->open_handles++;
    l->next = h->links;
    h->links = l;
    h->n_links++;
    link_open(l); /* goes out when the connection is READY */
    if (out != NULL)
        *out = l;
    return SLIM_OK;
}

slim_status slim_hub_dial(slim_hub *h, const slim_client_config *cc, const slim_grpc_config *base) {
    return slim_hub_dial_link(h, cc, base, NULL, NULL);
}

uint64_t slim_hub_link_conn(const slim_hub_link *l) {
    return l->conn != NULL ? l->conn->id : 0;
}

static void link_closed(uv_handle_t *hd);

void slim_hub_link_close(slim_hub *h, slim_hub_link *l) {
    for (hub_link **p = &h->links; *p != NULL; p = &(*p)->next) {
        if (*p != l)
            continue;
        *p = l->next;
        h->n_links--;
        break;
    }
    l->closing = true;
    uv_timer_stop(&l->reopen);
    /* Freeing the client ends its call; on_close drops the stream. */
    slim_grpc_client_free(l->client);
    l->client = NULL;
    uv_close((uv_handle_t *)&l->reopen, link_closed);
}

/* ---- local connections ---- */

slim_status slim_hub_local_open(slim_hub *h, slim_hub_local_fn fn, void *ud, uint64_t *conn) {
    hub_conn *c = conn_new(h, NULL);
    if (c == NULL)
        return SLIM_E_NOMEM;
    c->local = fn;
    c->local_ud = ud;
    snprintf(c->peer, sizeof c->peer, "local");
    slim_status st = slim_fwd_conn_open(h->fwd, c->id, SLIM_FWD_LOCAL, NULL);
    if (st != SLIM_OK) {
        conn_drop(h, c);
        return st;
    }
    *conn = c->id;
    return SLIM_OK;
}

slim_status slim_hub_local_input(slim_hub *h, uint64_t conn, slim_bytes msg, uint64_t now_ms) {
    hub_conn *c = find(h, conn), *outer = h->input;
    h->input = c != NULL && c->local != NULL ? c : NULL;
    slim_status st = slim_fwd_input(h->fwd, conn, msg, now_ms);
    h->input = outer;
    return st;
}

bool slim_hub_local_full(const slim_hub *h, uint64_t conn) {
    const hub_conn *c = find(h, conn);
    return c != NULL && c->local != NULL && c->paused;
}

void slim_hub_local_close(slim_hub *h, uint64_t conn) {
    hub_conn *c = find(h, conn);
    if (c != NULL && c->local != NULL)
        conn_drop(h, c);
}

void slim_hub_stop_links(slim_hub *h) {
    h->links_stopped = true;
    for (hub_link *l = h->links; l != NULL; l = l->next) {
        uv_timer_stop(&l->reopen);
        if (l->conn != NULL && l->conn->call != NULL)
            slim_grpc_call_cancel(l->conn->call);
    }
}

/* ---- periodic policies ---- */

static void sweep(uv_timer_t *t) {
    slim_hub *h = t->data;
    uint64_t now = slim_now_ms();
    if (now > BACKPRESSURE_GRACE_MS)
        resume_inputs(h, 0, now - BACKPRESSURE_GRACE_MS);
    slim_hmap_iter it;
    for (slim_hnode *n = slim_hmap_first(&h->conns, &it); n; n = slim_hmap_next(&h->conns, &it)) {
        hub_conn *c = SLIM_CONTAINER_OF(n, hub_conn, node);
        if (c->call == NULL)
            continue;
        if (c->link == NULL && !slim_fwd_conn_ready(h->fwd, c->id) &&
            now - c->opened_ms > c->negotiation_ms) {
            SLIM_LOGW_LIMITED(MOD,
                              "connection %llu from %s: no link negotiation within %llu ms, "
                              "closing",
                              (unsigned long long)c->id, c->peer,
                              (unsigned long long)c->negotiation_ms);
            (void)slim_grpc_call_finish(c->call, SLIM_E_GRPC_DEADLINE_EXCEEDED,
                                        "link negotiation timed out", NULL);
        } else if (c->full_since_ms != 0 && now - c->full_since_ms > h->slow_consumer_ms) {
            SLIM_LOGW_LIMITED(MOD,
                              "connection %llu %s %s: send queue full for more than %llu ms, "
                              "closing a slow consumer",
                              (unsigned long long)c->id, c->link ? "to" : "from", c->peer,
                              (unsigned long long)h->slow_consumer_ms);
            c->full_since_ms = 0;
            slim_grpc_call_cancel(c->call);
        }
    }
}

/* ---- introspection ---- */

slim_fwd *slim_hub_fwd(slim_hub *h) {
    return h->fwd;
}

size_t slim_hub_streams(const slim_hub *h) {
    return h->conns.count;
}

void slim_hub_streams_foreach(const slim_hub *h,
                              void (*fn)(uint64_t conn, const char *peer, bool dialled, void *ud),
                              void *ud) {
    slim_hmap_iter it;
    for (slim_hnode *n = slim_hmap_first(&h->conns, &it); n; n = slim_hmap_next(&h->conns, &it)) {
        const hub_conn *c = SLIM_CONTAINER_OF(n, hub_conn, node);
        if (c->call != NULL || c->local != NULL)
            fn(c->id, c->peer, c->link != NULL, ud);
    }
}

void slim_hub_stats_get(const slim_hub *h, slim_hub_stats *out) {
    *out = (slim_hub_stats){.unsent = h->unsent, .links = h->n_links};
    const slim_router *r = slim_fwd_router(h->fwd);
    slim_hmap_iter it;
    for (slim_hnode *n = slim_hmap_first(&h->conns, &it); n; n = slim_hmap_next(&h->conns, &it)) {
        const hub_conn *c = SLIM_CONTAINER_OF(n, hub_conn, node);
        if (c->call == NULL)
            continue;
        slim_conn_kind k;
        if (slim_fwd_conn_ready(h->fwd, c->id) && slim_router_conn_kind(r, c->id, &k) == SLIM_OK)
            out->by_kind[k]++;
        else
            out->by_kind[SLIM_CONN_NODE + 1]++;
        uint64_t q = slim_grpc_call_send_queued(c->call);
        out->queued_bytes += q;
        if (q > out->queued_max)
            out->queued_max = q;
        if (c->link != NULL)
            out->links_up++;
    }
}

void slim_hub_log_streams(const slim_hub *h, slim_log_level level) {
    const slim_router *r = slim_fwd_router(h->fwd);
    slim_hmap_iter it;
    for (slim_hnode *n = slim_hmap_first(&h->conns, &it); n; n = slim_hmap_next(&h->conns, &it)) {
        const hub_conn *c = SLIM_CONTAINER_OF(n, hub_conn, node);
        slim_log(level, MOD, "  connection %llu %s %s: queued %zu bytes, %zu subscriptions",
                 (unsigned long long)c->id, c->link ? "to" : "from", c->peer,
                 c->call != NULL ? slim_grpc_call_send_queued(c->call) : 0,
                 slim_router_conn_subscription_count(r, c->id));
    }
}

/* ---- life ---- */

slim_status slim_hub_new(uv_loop_t *loop, const slim_hub_config *cfg, const slim_hub_callbacks *cbs,
                         slim_hub **out) {
    slim_hub *h = slim_calloc(1, sizeof *h);
    if (h == NULL)
        return SLIM_E_NOMEM;
    h->loop = loop;
    if (cbs != NULL)
        h->cbs = *cbs;
    h->slow_consumer_ms = cfg->slow_consumer_timeout_ms ? cfg->slow_consumer_timeout_ms : 10000;
    slim_fwd_ops ops = {.send = fwd_send,
                        .close = fwd_close,
                        .linked = fwd_linked,
                        .subscription_ack = fwd_subscription_ack,
                        .random64 = fwd_random,
                        .app_names = h->cbs.app_names != NULL ? fwd_app_names : NULL};
    slim_status st = slim_hmap_init(&h->conns, 64);
    if (st == SLIM_OK)
        st = slim_fwd_new(&cfg->fwd, &ops, h, &h->fwd);
    if (st != SLIM_OK) {
        slim_hmap_cleanup(&h->conns);
        slim_free(h);
        return st;
    }
    uv_timer_init(loop, &h->sweep);
    h->sweep.data = h;
    h->open_handles = 1;
    uv_timer_start(&h->sweep, sweep, SWEEP_MS, SWEEP_MS);
    *out = h;
    return SLIM_OK;
}

static void handle_closed(uv_handle_t *hd) {
    slim_hub *h = hd->data;
    if (--h->open_handles == 0 && h->freeing)
        slim_free(h);
}

/* A link's memory goes with its timer. */
static void link_closed(uv_handle_t *hd) {
    hub_link *l = hd->data;
    slim_hub *h = l->owner;
    link_free(l);
    if (--h->open_handles == 0 && h->freeing)
        slim_free(h);
}

void slim_hub_free(slim_hub *h) {
    if (h == NULL)
        return;
    h->links_stopped = true;
    h->freeing = true;
    /* Freeing the clients ends their calls; on_close drops the streams. */
    for (hub_link *l = h->links; l != NULL; l = l->next) {
        slim_grpc_client_free(l->client);
        l->client = NULL;
    }
    slim_hmap_iter it;
    for (slim_hnode *n = slim_hmap_first(&h->conns, &it); n; n = slim_hmap_next(&h->conns, &it)) {
        hub_conn *c = SLIM_CONTAINER_OF(n, hub_conn, node);
        if (c->call != NULL)
            slim_grpc_call_set_data(c->call, NULL);
        conn_drop(h, c);
    }
    slim_fwd_free(h->fwd);
    slim_hmap_cleanup(&h->conns);
    uv_close((uv_handle_t *)&h->sweep, handle_closed);
    for (hub_link *l = h->links, *next; l != NULL; l = next) {
        next = l->next;
        l->reopen.data = l;
        uv_close((uv_handle_t *)&l->reopen, link_closed);
    }
}
