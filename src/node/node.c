/*
 * The node glues the transport (src/transport) to the forwarder
 * (src/router/forwarder.c).
 *
 * Every data-plane stream is a node_conn, keyed by the forwarder's
 * connection id: accepted streams come from the gRPC server; dialled ones
 * from a node_link, one per `dataplane.clients` entry, which owns a
 * reconnecting gRPC client and opens a new stream whenever its connection
 * is (again) READY. A 250 ms sweep applies what needs a clock: the link
 * negotiation deadline, backpressure grace, slow consumers and the drain
 * deadline.
 */
#include "node/node.h"
#include "node/metrics.h"
#include "node/stats.h"
#include "core/alloc.h"
#include "core/hmap.h"
#include "core/khash.h"
#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "slim/slim.h"
#include "transport/grpc.h"

#include <stdio.h>
#include <string.h>

#define MOD              "node"
#define DATAPLANE_METHOD "/dataplane.proto.v1.DataPlaneService/OpenChannel"
#define SWEEP_MS         250
#define REOPEN_MS        1000 /* a dialled stream that ended on a live connection */

/* Backpressure: when a message meets a full connection, the connection it
 * came from stops being read (so its sender's HTTP/2 window closes and the
 * sender slows down) and the message is queued past the limit, up to twice
 * it. The input resumes when the full connection drains below half, or
 * after this grace (letting a message through to its other destinations);
 * a message that meets the still-full connection pauses it again. So a
 * publisher goes at the pace of its slowest subscriber until that one is
 * closed as a slow consumer (full for slow_consumer_timeout). Messages for
 * a connection at twice the limit, or that come from no pausable input (the
 * node itself, or the full connection), are dropped and counted. */
#define BACKPRESSURE_GRACE_MS 200

typedef struct node_link node_link;

typedef struct node_conn {
    slim_hnode node;
    uint64_t id;
    slim_node *owner;
    slim_grpc_call *call; /* NULL once the call ended */
    node_link *link;      /* dialled streams: the link that opened it */
    uint64_t opened_ms;
    uint64_t full_since_ms; /* 0 when the send queue has room */
    bool paused;            /* reading stopped: a destination of ours is full */
    uint64_t paused_for;    /* that destination */
    uint64_t paused_at_ms;
    uint64_t negotiation_ms; /* accepted: its listener's negotiation_timeout */
    char peer[64];
} node_conn;

struct node_link {
    slim_node *owner;
    const slim_client_config *cfg;
    slim_grpc_client *client;
    node_conn *conn; /* the current stream, NULL when none */
    uv_timer_t reopen;
};

struct slim_node {
    uv_loop_t *loop;
    const slim_node_config *cfg;
    slim_node_callbacks cbs;
    slim_fwd *fwd;
    slim_grpc_server *server;
    node_link *links;
    size_t n_links;
    slim_hmap conns;
    uint64_t next_id;
    uv_timer_t sweep;
    int open_handles; /* timers still to close before the node's memory goes */
    bool freeing;
    bool draining;
    bool server_drained;
    uint64_t drain_deadline_ms;
    bool stopped;
    uint64_t last_stats_ms;
    uint64_t unsent;  /* messages queued on streams that ended before writing them */
    node_conn *input; /* the connection whose message is being forwarded */
    slim_metrics *metrics;
};

static int conn_eq(const slim_hnode *n, const void *key) {
    return SLIM_CONTAINER_OF(n, node_conn, node)->id == *(const uint64_t *)key;
}

static node_conn *find(const slim_node *n, uint64_t id) {
    slim_hnode *h = slim_hmap_find(&n->conns, slim_mix64(id), conn_eq, &id);
    return h ? SLIM_CONTAINER_OF(h, node_conn, node) : NULL;
}

static node_conn *conn_new(slim_node *n, node_link *link) {
    node_conn *c = slim_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->id = ++n->next_id;
    c->owner = n;
    c->link = link;
    c->opened_ms = slim_now_ms();
    slim_hmap_insert(&n->conns, &c->node, slim_mix64(c->id));
    return c;
}

static void conn_drop(slim_node *n, node_conn *c) {
    slim_fwd_conn_close(n->fwd, c->id);
    slim_hmap_remove(&n->conns, &c->node);
    slim_free(c);
}

static void check_stopped(slim_node *n);

/* ---- backpressure ---- */

/* Resumes the inputs paused for `dest` (any destination when dest is 0)
 * that were paused at or before `older_than_ms` (any time when 0). */
static void resume_inputs(slim_node *n, uint64_t dest, uint64_t older_than_ms) {
    slim_hmap_iter it;
    for (slim_hnode *h = slim_hmap_first(&n->conns, &it); h; h = slim_hmap_next(&n->conns, &it)) {
        node_conn *c = SLIM_CONTAINER_OF(h, node_conn, node);
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
    slim_node *n = ud;
    node_conn *c = find(n, id);
    if (c == NULL || c->call == NULL)
        return SLIM_E_CLOSED;
    slim_status st = slim_grpc_call_send_rc(c->call, buf);
    if (st == SLIM_E_QUEUE_FULL) {
        uint64_t now = slim_now_ms();
        if (c->full_since_ms == 0)
            c->full_since_ms = now;
        node_conn *in = n->input;
        if (in != NULL && in != c && in->call != NULL) {
            /* The input stops here, so the message that met the limit can
             * go past it (bounded by the transport) instead of being lost. */
            if (!in->paused) {
                in->paused = true;
                in->paused_for = c->id;
                in->paused_at_ms = now;
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
    slim_node *n = ud;
    node_conn *c = find(n, id);
    if (c == NULL || c->call == NULL)
        return;
    if (c->link != NULL)
        slim_grpc_call_cancel(c->call);
    else
        (void)slim_grpc_call_finish(c->call, why, detail, NULL);
}

static void fwd_linked(void *ud, uint64_t id, slim_conn_kind kind, const char *peer_node) {
    slim_node *n = ud;
    node_conn *c = find(n, id);
    char node_id[160] = "";
    if (peer_node != NULL)
        slim_log_escape(peer_node, strlen(peer_node), node_id, sizeof node_id);
    SLIM_LOGI(MOD, "connection %llu %s %s linked as %s%s%s", (unsigned long long)id,
              c && c->link ? "to" : "from", c ? c->peer : "?", slim_conn_kind_name(kind),
              node_id[0] ? ", node " : "", node_id);
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
    node_conn *c = data;
    if (c == NULL)
        return; /* refused before it got a node_conn */
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
    node_conn *c = data;
    if (c == NULL)
        return;
    c->full_since_ms = 0;
    resume_inputs(c->owner, c->id, 0);
}

static void on_unsent(slim_grpc_call *call, slim_bytes msg, slim_rcbuf *rc, void *data) {
    (void)call;
    (void)msg;
    (void)rc;
    node_conn *c = data;
    if (c != NULL)
        c->owner->unsent++;
}

static void link_open_later(node_link *l);

static void on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    node_conn *c = data;
    if (c == NULL)
        return;
    slim_node *n = c->owner;
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
    resume_inputs(n, c->id, 0);
    node_link *l = c->link;
    conn_drop(n, c);
    if (l != NULL) {
        l->conn = NULL;
        /* A stream that ends on a live connection is reopened after a pause;
         * a lost connection reconnects (with the link's backoff) and READY
         * opens the next stream. */
        if (!n->draining && slim_grpc_client_state(l->client) == SLIM_GRPC_READY)
            link_open_later(l);
    }
    check_stopped(n);
}

static const slim_grpc_call_cbs call_cbs = {
    .on_message = on_message,
    .on_half_close = on_half_close,
    .on_writable = on_writable,
    .on_close = on_close,
    .on_unsent = on_unsent,
};

static void on_call(slim_grpc_call *call, slim_bytes request, void *ud) {
    (void)request;
    slim_node *n = ud;
    slim_grpc_call_set_data(call, NULL);
    if (n->draining) {
        (void)slim_grpc_call_finish(call, SLIM_E_GRPC_UNAVAILABLE, "node shutting down", NULL);
        return;
    }
    node_conn *c = conn_new(n, NULL);
    if (c == NULL) {
        (void)slim_grpc_call_finish(call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL);
        return;
    }
    c->call = call;
    snprintf(c->peer, sizeof c->peer, "%s", slim_grpc_call_peer(call));
    slim_grpc_call_set_data(call, c);
    /* The listener's own settings (every node listener has a config). */
    const slim_server_config *sc = slim_grpc_call_server_config(call);
    slim_fwd_link_opts opts = {.require_header_mac = sc == NULL || sc->require_header_mac};
    c->negotiation_ms = sc != NULL ? sc->negotiation_timeout_ms : 5000;
    slim_status st = slim_fwd_conn_open_opts(n->fwd, c->id, SLIM_FWD_ACCEPTED, NULL, &opts);
    if (st != SLIM_OK)
        (void)slim_grpc_call_finish(call, SLIM_E_GRPC_INTERNAL, slim_status_str(st), NULL);
    else
        SLIM_LOGD(MOD, "connection %llu accepted from %s", (unsigned long long)c->id, c->peer);
}

/* ---- dialled links ---- */

/* What a dialled link announces: `connection_type` of its config, REMOTE
 * unless it says otherwise. */
static Dataplane__Proto__V1__LinkConnectionType announce_type(slim_link_type t) {
    switch (t) {
    case SLIM_LINK_TYPE_PEER:
        return DATAPLANE__PROTO__V1__LINK_CONNECTION_TYPE__LINK_CONNECTION_TYPE_PEER;
    case SLIM_LINK_TYPE_EDGE:
        return DATAPLANE__PROTO__V1__LINK_CONNECTION_TYPE__LINK_CONNECTION_TYPE_EDGE;
    default:
        return DATAPLANE__PROTO__V1__LINK_CONNECTION_TYPE__LINK_CONNECTION_TYPE_REMOTE;
    }
}

/* Opens a data-plane stream on the link's client and starts negotiation. */
static void link_open(node_link *l) {
    slim_node *n = l->owner;
    if (l->conn != NULL || n->draining)
        return;
    node_conn *c = conn_new(n, l);
    if (c == NULL)
        return;
    snprintf(c->peer, sizeof c->peer, "%s", l->cfg->endpoint);
    slim_grpc_call_opts opts = {.method = DATAPLANE_METHOD};
    char link_id[SLIM_ID_TEXT_LEN + 1];
    slim_status st = slim_grpc_client_open(l->client, &opts, &call_cbs, c, &c->call);
    if (st == SLIM_OK) {
        l->conn = c;
        st = l->cfg->link_id ? (snprintf(link_id, sizeof link_id, "%s", l->cfg->link_id), SLIM_OK)
                             : slim_uuid_v4(link_id);
    }
    if (st == SLIM_OK)
        st = slim_fwd_conn_open_opts(
            n->fwd, c->id, SLIM_FWD_DIALLED, link_id,
            &(slim_fwd_link_opts){.announce = announce_type(l->cfg->connection_type),
                                  .require_header_mac = l->cfg->require_header_mac});
    if (st == SLIM_OK) {
        SLIM_LOGI(MOD, "link %llu to %s: stream opened", (unsigned long long)c->id, c->peer);
        return;
    }
    SLIM_LOGW(MOD, "link to %s: cannot open a stream: %s", l->cfg->endpoint, slim_status_str(st));
    if (c->call != NULL) {
        slim_grpc_call_cancel(c->call); /* on_close drops c */
        return;
    }
    conn_drop(n, c);
    link_open_later(l);
}

static void reopen_fire(uv_timer_t *t) {
    link_open(t->data);
}

static void link_open_later(node_link *l) {
    uv_timer_start(&l->reopen, reopen_fire, REOPEN_MS, 0);
}

static void link_state(slim_grpc_client *cl, slim_grpc_conn_state state, slim_status why,
                       void *ud) {
    (void)cl;
    node_link *l = ud;
    if (state == SLIM_GRPC_READY) {
        SLIM_LOGI(MOD, "link to %s: connected", l->cfg->endpoint);
        link_open(l);
    } else if (state == SLIM_GRPC_TRANSIENT_FAILURE || state == SLIM_GRPC_SHUTDOWN) {
        SLIM_LOGW(MOD, "link to %s: %s: %s%s", l->cfg->endpoint, slim_grpc_conn_state_name(state),
                  slim_status_str(why),
                  state == SLIM_GRPC_SHUTDOWN ? " (no more attempts)" : ", retrying");
    }
}

/* ---- shutdown ---- */

static void finish_stop(slim_node *n, size_t leftover) {
    if (n->stopped)
        return;
    n->stopped = true;
    uv_timer_stop(&n->sweep);
    if (n->cbs.stopped != NULL)
        n->cbs.stopped(leftover, n->cbs.ud);
}

static void check_stopped(slim_node *n) {
    if (n->draining && n->server_drained && n->conns.count == 0)
        finish_stop(n, 0);
}

static void server_drained(slim_grpc_server *srv, void *ud) {
    (void)srv;
    slim_node *n = ud;
    n->server_drained = true;
    check_stopped(n);
}

/* ---- periodic policies ---- */

static void log_counters(const slim_node *n, slim_log_level level);

static void sweep(uv_timer_t *t) {
    slim_node *n = t->data;
    uint64_t now = slim_now_ms();
    if (now > BACKPRESSURE_GRACE_MS)
        resume_inputs(n, 0, now - BACKPRESSURE_GRACE_MS);
    slim_hmap_iter it;
    for (slim_hnode *h = slim_hmap_first(&n->conns, &it); h; h = slim_hmap_next(&n->conns, &it)) {
        node_conn *c = SLIM_CONTAINER_OF(h, node_conn, node);
        if (c->call == NULL)
            continue;
        if (c->link == NULL && !slim_fwd_conn_ready(n->fwd, c->id) &&
            now - c->opened_ms > c->negotiation_ms) {
            SLIM_LOGW_LIMITED(MOD,
                              "connection %llu from %s: no link negotiation within %llu ms, "
                              "closing",
                              (unsigned long long)c->id, c->peer,
                              (unsigned long long)c->negotiation_ms);
            (void)slim_grpc_call_finish(c->call, SLIM_E_GRPC_DEADLINE_EXCEEDED,
                                        "link negotiation timed out", NULL);
        } else if (c->full_since_ms != 0 &&
                   now - c->full_since_ms > n->cfg->slow_consumer_timeout_ms) {
            SLIM_LOGW_LIMITED(MOD,
                              "connection %llu %s %s: send queue full for more than %llu ms, "
                              "closing a slow consumer",
                              (unsigned long long)c->id, c->link ? "to" : "from", c->peer,
                              (unsigned long long)n->cfg->slow_consumer_timeout_ms);
            c->full_since_ms = 0;
            slim_grpc_call_cancel(c->call);
        }
    }
    if (slim_log_enabled(SLIM_LOG_DEBUG) && now - n->last_stats_ms >= 30000) {
        n->last_stats_ms = now;
        log_counters(n, SLIM_LOG_DEBUG);
    }
    /* The transport resets what is left at its drain deadline; this is the
     * backstop in case something outlives it. */
    if (n->draining && now >= n->drain_deadline_ms + 1000) {
        size_t left = n->conns.count;
        SLIM_LOGW(MOD, "drain deadline passed with %zu stream(s) still open:", left);
        for (slim_hnode *h = slim_hmap_first(&n->conns, &it); h;
             h = slim_hmap_next(&n->conns, &it)) {
            node_conn *c = SLIM_CONTAINER_OF(h, node_conn, node);
            SLIM_LOGW(MOD, "  connection %llu %s %s (%zu subscriptions)", (unsigned long long)c->id,
                      c->link ? "to" : "from", c->peer,
                      slim_router_conn_subscription_count(slim_fwd_router(n->fwd), c->id));
        }
        finish_stop(n, left);
    }
}

/* ---- lifecycle ---- */

static void handle_closed(uv_handle_t *h) {
    slim_node *n = h->data;
    if (--n->open_handles == 0 && n->freeing) {
        slim_free(n->links);
        slim_free(n);
    }
}

slim_status slim_node_new(uv_loop_t *loop, const slim_node_config *cfg,
                          const slim_node_callbacks *cbs, slim_node **out) {
    slim_node *n = slim_calloc(1, sizeof *n);
    if (n == NULL)
        return SLIM_E_NOMEM;
    n->loop = loop;
    n->cfg = cfg;
    if (cbs != NULL)
        n->cbs = *cbs;
    slim_fwd_config fc = {
        .node_id = cfg->node_id,
        .version = slim_version(),
        .announce = DATAPLANE__PROTO__V1__LINK_CONNECTION_TYPE__LINK_CONNECTION_TYPE_REMOTE,
        .max_message_size = cfg->max_message_size,
        .max_subscriptions_per_conn = cfg->max_subscriptions_per_conn,
        .propagate = true,
        .dedupe = cfg->duplicate_filter,
    };
    static const slim_fwd_ops ops = {fwd_send, fwd_close, fwd_linked, NULL, fwd_random};
    /* Each data-plane stream is a connection of its own (upstream's
     * clients open one per HTTP/2 connection): a low stream cap keeps what
     * one TCP connection can hold bounded (docs/configuration.md). */
    slim_grpc_config gc = {.max_message_size = cfg->max_message_size + 64 * 1024,
                           .max_concurrent_streams = SLIM_NODE_DEFAULT_STREAMS};
    slim_status st = slim_hmap_init(&n->conns, 64);
    if (st == SLIM_OK)
        st = slim_fwd_new(&fc, &ops, n, &n->fwd);
    if (st == SLIM_OK)
        st = slim_grpc_server_new(loop, &gc, &n->server);
    if (st == SLIM_OK) {
        slim_grpc_method m = {.path = DATAPLANE_METHOD,
                              .kind = SLIM_GRPC_BIDI_STREAMING,
                              .on_call = on_call,
                              .cbs = call_cbs,
                              .ud = n};
        st = slim_grpc_server_add_method(n->server, &m);
    }
    if (st == SLIM_OK && cfg->n_clients > 0 &&
        (n->links = slim_calloc(cfg->n_clients, sizeof *n->links)) == NULL)
        st = SLIM_E_NOMEM;
    if (st != SLIM_OK) {
        slim_fwd_free(n->fwd);
        slim_grpc_server_free(n->server);
        slim_hmap_cleanup(&n->conns);
        slim_free(n->links);
        slim_free(n);
        return st;
    }
    n->n_links = cfg->n_clients;
    uv_timer_init(loop, &n->sweep);
    n->sweep.data = n;
    n->open_handles = 1;
    for (size_t i = 0; i < n->n_links; i++) {
        node_link *l = &n->links[i];
        l->owner = n;
        l->cfg = &cfg->clients[i];
        uv_timer_init(loop, &l->reopen);
        l->reopen.data = l;
        n->open_handles++;
    }
    *out = n;
    return SLIM_OK;
}

static void render_metrics(void *ud, slim_buf *out);

slim_status slim_node_start(slim_node *n) {
    for (size_t i = 0; i < n->cfg->n_servers; i++) {
        const slim_server_config *sc = &n->cfg->servers[i];
        char bound[128];
        slim_status st = slim_grpc_server_listen_config(n->server, sc, bound, sizeof bound);
        if (st != SLIM_OK) {
            SLIM_LOGE(MOD, "cannot listen on %s: %s", sc->endpoint, slim_status_str(st));
            return st;
        }
        if (n->cbs.listening != NULL)
            n->cbs.listening("dataplane", bound, n->cbs.ud);
    }
    for (size_t i = 0; i < n->n_links; i++) {
        node_link *l = &n->links[i];
        /* Node links are our own protocol: ping on schedule, without the
         * floor grpcio servers need, so a dead node is noticed in time. */
        slim_grpc_config base = {.max_message_size = n->cfg->max_message_size + 64 * 1024,
                                 .keepalive_min_interval_ms = SLIM_GRPC_OFF};
        slim_status st =
            slim_grpc_client_new_config(n->loop, l->cfg, &base, link_state, l, &l->client);
        if (st != SLIM_OK) {
            SLIM_LOGE(MOD, "cannot dial %s: %s", l->cfg->endpoint, slim_status_str(st));
            return st;
        }
        link_open(l); /* goes out when the connection is READY */
    }
    if (n->cfg->metrics_endpoint != NULL) {
        char bound[128];
        slim_status st = slim_metrics_new(n->loop, n->cfg->metrics_endpoint, render_metrics, n,
                                          bound, sizeof bound, &n->metrics);
        if (st != SLIM_OK) {
            SLIM_LOGE(MOD, "cannot serve metrics on %s: %s", n->cfg->metrics_endpoint,
                      slim_status_str(st));
            return st;
        }
        if (n->cbs.listening != NULL)
            n->cbs.listening("metrics", bound, n->cbs.ud);
    }
    uv_timer_start(&n->sweep, sweep, SWEEP_MS, SWEEP_MS);
    return SLIM_OK;
}

void slim_node_shutdown(slim_node *n, uint64_t drain_ms) {
    if (n->draining)
        return;
    n->draining = true;
    n->drain_deadline_ms = slim_now_ms() + drain_ms;
    SLIM_LOGI(MOD, "shutting down: %zu stream(s) to drain within %llu ms", n->conns.count,
              (unsigned long long)drain_ms);
    /* Our own links first: ending them withdraws nothing anyone needs. */
    for (size_t i = 0; i < n->n_links; i++) {
        uv_timer_stop(&n->links[i].reopen);
        if (n->links[i].conn != NULL && n->links[i].conn->call != NULL)
            slim_grpc_call_cancel(n->links[i].conn->call);
    }
    slim_grpc_server_shutdown(n->server, drain_ms, server_drained, n);
    if (!uv_is_active((uv_handle_t *)&n->sweep))
        uv_timer_start(&n->sweep, sweep, SWEEP_MS, SWEEP_MS);
    check_stopped(n);
}

size_t slim_node_connections(const slim_node *n) {
    return n->conns.count;
}

void slim_node_log_counters(const slim_node *n) {
    log_counters(n, SLIM_LOG_INFO);
}

void slim_node_stats_get(const slim_node *n, slim_node_stats *out) {
    *out =
        (slim_node_stats){.connections = n->conns.count, .unsent = n->unsent, .links = n->n_links};
    slim_fwd_counters_get(n->fwd, &out->fwd);
    slim_router_stats_get(slim_fwd_router(n->fwd), &out->router);
    slim_grpc_server_stats_get(n->server, &out->server);
    const slim_router *r = slim_fwd_router(n->fwd);
    slim_hmap_iter it;
    for (slim_hnode *h = slim_hmap_first(&n->conns, &it); h; h = slim_hmap_next(&n->conns, &it)) {
        const node_conn *c = SLIM_CONTAINER_OF(h, node_conn, node);
        if (c->call == NULL)
            continue;
        slim_conn_kind k;
        if (slim_fwd_conn_ready(n->fwd, c->id) && slim_router_conn_kind(r, c->id, &k) == SLIM_OK)
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

static void render_metrics(void *ud, slim_buf *out) {
    slim_node_stats s;
    slim_node_stats_get(ud, &s);
    (void)slim_node_stats_prometheus(&s, slim_version(), out);
}

static void log_counters(const slim_node *n, slim_log_level level) {
    slim_node_stats s;
    slim_node_stats_get(n, &s);
    slim_node_stats_log(&s, level);
    slim_hmap_iter it;
    for (slim_hnode *h = slim_hmap_first(&n->conns, &it); h; h = slim_hmap_next(&n->conns, &it)) {
        const node_conn *nc = SLIM_CONTAINER_OF(h, node_conn, node);
        if (nc->call != NULL)
            slim_log(level, MOD, "  connection %llu %s %s: queued %zu bytes, %zu subscriptions",
                     (unsigned long long)nc->id, nc->link ? "to" : "from", nc->peer,
                     slim_grpc_call_send_queued(nc->call),
                     slim_router_conn_subscription_count(slim_fwd_router(n->fwd), nc->id));
    }
}

void slim_node_free(slim_node *n) {
    if (n == NULL)
        return;
    n->draining = true;
    slim_metrics_free(n->metrics);
    n->metrics = NULL;
    /* Freeing the server and the clients ends their calls; on_close drops
     * the connections. */
    slim_grpc_server_free(n->server);
    for (size_t i = 0; i < n->n_links; i++) {
        slim_grpc_client_free(n->links[i].client);
        n->links[i].client = NULL;
    }
    slim_hmap_iter it;
    for (slim_hnode *h = slim_hmap_first(&n->conns, &it); h; h = slim_hmap_next(&n->conns, &it))
        conn_drop(n, SLIM_CONTAINER_OF(h, node_conn, node));
    slim_fwd_free(n->fwd);
    slim_hmap_cleanup(&n->conns);
    n->freeing = true;
    uv_close((uv_handle_t *)&n->sweep, handle_closed);
    for (size_t i = 0; i < n->n_links; i++) {
        n->links[i].reopen.data = n;
        uv_close((uv_handle_t *)&n->links[i].reopen, handle_closed);
    }
}
