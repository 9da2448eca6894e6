/*
 * The node glues the transport (src/transport) to the forwarder
 * (src/router/forwarder.c). Connections are tracked in a hash map by the
 * forwarder's connection id; a 250 ms sweep timer applies the time-based
 * policies (negotiation deadline, slow consumers, drain deadline).
 */
#include "node/node.h"
#include "core/alloc.h"
#include "core/hmap.h"
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

typedef struct node_conn {
    slim_hnode node;
    uint64_t id;
    slim_node *owner;
    slim_grpc_call *call;     /* NULL once the call ended */
    slim_grpc_client *client; /* dialled links: the connection carrying the call */
    size_t client_index;      /* dialled links: which dataplane.clients entry */
    bool dialled;
    uint64_t opened_ms;
    uint64_t full_since_ms; /* 0 when the send queue has room */
    bool paused;            /* reading stopped: a destination of ours is full */
    uint64_t paused_for;    /* that destination */
    uint64_t paused_at_ms;
    char peer[64];
} node_conn;

struct slim_node {
    uv_loop_t *loop;
    const slim_node_config *cfg;
    slim_node_callbacks cbs;
    slim_fwd *fwd;
    slim_grpc_server *server;
    slim_hmap conns;
    uint64_t next_id;
    uv_timer_t sweep;
    bool sweep_started;
    bool draining;
    uint64_t drain_deadline_ms;
    bool stopped;
    uint64_t last_stats_ms;
    node_conn *input; /* the connection whose message is being forwarded */
};

/* Backpressure: when a message cannot be queued on a full connection, the
 * connection it came from stops being read (so its sender's HTTP/2 window
 * closes and the sender slows down) until the full one drains or this grace
 * passes; after the grace the input resumes and further messages for the
 * full connection are dropped, as the slow-consumer policy says. */
#define BACKPRESSURE_GRACE_MS 200

static uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static int conn_eq(const slim_hnode *n, const void *key) {
    return SLIM_CONTAINER_OF(n, node_conn, node)->id == *(const uint64_t *)key;
}

static node_conn *find(const slim_node *n, uint64_t id) {
    slim_hnode *h = slim_hmap_find(&n->conns, mix(id), conn_eq, &id);
    return h ? SLIM_CONTAINER_OF(h, node_conn, node) : NULL;
}

static node_conn *conn_new(slim_node *n, bool dialled) {
    node_conn *c = slim_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->id = ++n->next_id;
    c->owner = n;
    c->dialled = dialled;
    c->opened_ms = slim_now_ms();
    slim_hmap_insert(&n->conns, &c->node, mix(c->id));
    return c;
}

static void conn_drop(slim_node *n, node_conn *c) {
    slim_fwd_conn_close(n->fwd, c->id);
    slim_hmap_remove(&n->conns, &c->node);
    slim_free(c);
}

/* ---- forwarder callbacks ---- */

static slim_status fwd_send(void *ud, uint64_t id, slim_rcbuf *buf) {
    slim_node *n = ud;
    node_conn *c = find(n, id);
    if (c == NULL || c->call == NULL)
        return SLIM_E_CLOSED;
    slim_status st = slim_grpc_call_send(c->call, slim_rcbuf_view(buf));
    if (st == SLIM_E_QUEUE_FULL) {
        uint64_t now = slim_now_ms();
        if (c->full_since_ms == 0)
            c->full_since_ms = now;
        node_conn *in = n->input;
        if (in != NULL && in != c && !in->paused && in->call != NULL) {
            in->paused = true;
            in->paused_for = c->id;
            in->paused_at_ms = now;
            slim_grpc_call_pause(in->call);
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
    if (c->dialled)
        slim_grpc_call_cancel(c->call);
    else
        (void)slim_grpc_call_finish(c->call, why, detail, NULL);
}

static void fwd_linked(void *ud, uint64_t id, slim_conn_kind kind, const char *peer_node) {
    slim_node *n = ud;
    node_conn *c = find(n, id);
    SLIM_LOGI(MOD, "connection %llu from %s linked as %s%s%s", (unsigned long long)id,
              c ? c->peer : "?", slim_conn_kind_name(kind),
              peer_node && *peer_node ? ", node " : "", peer_node ? peer_node : "");
}

static uint64_t fwd_random(void *ud) {
    (void)ud;
    uint64_t v = 0;
    if (slim_random_bytes(&v, sizeof v) != SLIM_OK)
        v = slim_now_ns() * 0x9e3779b97f4a7c15ull; /* getrandom failing is near impossible */
    return v;
}

/* ---- transport callbacks (accepted and dialled calls alike) ---- */

static void on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    (void)call;
    node_conn *c = data;
    c->owner->input = c;
    slim_status st = slim_fwd_input(c->owner->fwd, c->id, msg, slim_now_ms());
    c->owner->input = NULL;
    if (st != SLIM_OK)
        SLIM_LOGT(MOD, "connection %llu: %s", (unsigned long long)c->id, slim_status_str(st));
}

static void on_half_close(slim_grpc_call *call, void *data) {
    (void)data;
    /* The peer is done sending: end the stream from our side too. */
    (void)slim_grpc_call_finish(call, SLIM_OK, NULL, NULL);
}

/* Resumes the inputs paused for `dest` (all paused ones when dest is 0). */
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

static void on_writable(slim_grpc_call *call, void *data) {
    (void)call;
    node_conn *c = data;
    c->full_since_ms = 0;
    resume_inputs(c->owner, c->id, 0);
}

static void redial_later(slim_node *n, size_t index);
static void log_counters(const slim_node *n, slim_log_level level);

static void on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    node_conn *c = data;
    slim_node *n = c->owner;
    SLIM_LOGI(MOD, "connection %llu from %s closed: %s%s%.*s", (unsigned long long)c->id, c->peer,
              res->status == SLIM_OK ? "ok" : slim_status_str(res->status),
              res->message.len ? ": " : "", (int)res->message.len, res->message.ptr);
    c->call = NULL;
    resume_inputs(n, c->id, 0);
    bool dialled = c->dialled;
    size_t index = c->client_index;
    slim_grpc_client *client = c->client;
    conn_drop(n, c);
    if (dialled) {
        slim_grpc_client_free(client);
        if (!n->draining)
            redial_later(n, index);
    }
}

static void on_call(slim_grpc_call *call, slim_bytes request, void *ud) {
    (void)request;
    slim_node *n = ud;
    if (n->draining) {
        (void)slim_grpc_call_finish(call, SLIM_E_GRPC_UNAVAILABLE, "node shutting down", NULL);
        slim_grpc_call_set_data(call, NULL);
        return;
    }
    node_conn *c = conn_new(n, false);
    if (c == NULL) {
        (void)slim_grpc_call_finish(call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL);
        slim_grpc_call_set_data(call, NULL);
        return;
    }
    c->call = call;
    snprintf(c->peer, sizeof c->peer, "%s", slim_grpc_call_peer(call));
    slim_grpc_call_set_data(call, c);
    slim_status st = slim_fwd_conn_open(n->fwd, c->id, SLIM_FWD_ACCEPTED, NULL);
    if (st != SLIM_OK)
        (void)slim_grpc_call_finish(call, SLIM_E_GRPC_INTERNAL, slim_status_str(st), NULL);
    else
        SLIM_LOGD(MOD, "connection %llu accepted from %s", (unsigned long long)c->id, c->peer);
}

/* Calls the server refused before they got a node_conn carry no data. */
static void on_message_guard(slim_grpc_call *call, slim_bytes msg, void *data) {
    if (data != NULL)
        on_message(call, msg, data);
}

static void on_half_close_guard(slim_grpc_call *call, void *data) {
    if (data != NULL)
        on_half_close(call, data);
}

static void on_writable_guard(slim_grpc_call *call, void *data) {
    if (data != NULL)
        on_writable(call, data);
}

static void on_close_guard(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    if (data != NULL)
        on_close(call, res, data);
}

static const slim_grpc_call_cbs call_cbs = {
    .on_message = on_message_guard,
    .on_half_close = on_half_close_guard,
    .on_writable = on_writable_guard,
    .on_close = on_close_guard,
};

/* ---- dialled links ---- */

static void client_state(slim_grpc_client *cl, slim_grpc_conn_state state, slim_status why,
                         void *ud) {
    (void)cl;
    node_conn *c = ud;
    if (state == SLIM_GRPC_READY)
        SLIM_LOGI(MOD, "link %llu to %s connected", (unsigned long long)c->id, c->peer);
    else if (state == SLIM_GRPC_CLOSED)
        SLIM_LOGW(MOD, "link %llu to %s: %s", (unsigned long long)c->id, c->peer,
                  slim_status_str(why));
}

static slim_status dial(slim_node *n, size_t index) {
    const slim_client_config *cc = &n->cfg->clients[index];
    node_conn *c = conn_new(n, true);
    if (c == NULL)
        return SLIM_E_NOMEM;
    c->client_index = index;
    snprintf(c->peer, sizeof c->peer, "%s", cc->endpoint);
    slim_grpc_config gc = {.max_message_size = n->cfg->max_message_size + 64 * 1024};
    slim_status st = slim_grpc_client_new(n->loop, cc->endpoint, &gc, client_state, c, &c->client);
    if (st == SLIM_OK) {
        slim_grpc_call_opts opts = {.method = DATAPLANE_METHOD};
        st = slim_grpc_client_open(c->client, &opts, &call_cbs, c, &c->call);
    }
    char link_id[37];
    if (st == SLIM_OK)
        st = cc->link_id ? (snprintf(link_id, sizeof link_id, "%s", cc->link_id), SLIM_OK)
                         : slim_uuid_v4(link_id);
    if (st == SLIM_OK)
        st = slim_fwd_conn_open(n->fwd, c->id, SLIM_FWD_DIALLED, link_id);
    if (st != SLIM_OK) {
        SLIM_LOGW(MOD, "cannot dial %s: %s", cc->endpoint, slim_status_str(st));
        if (c->call != NULL) {
            slim_grpc_call_cancel(c->call); /* on_close frees c and the client */
            return st;
        }
        slim_grpc_client_free(c->client);
        conn_drop(n, c);
        return st;
    }
    SLIM_LOGI(MOD, "dialling %s (link %llu)", cc->endpoint, (unsigned long long)c->id);
    return SLIM_OK;
}

typedef struct redial {
    uv_timer_t timer;
    slim_node *node;
    size_t index;
} redial;

static void redial_closed(uv_handle_t *h) {
    slim_free(h->data);
}

static void redial_fire(uv_timer_t *t) {
    redial *r = t->data;
    if (!r->node->draining)
        (void)dial(r->node, r->index);
    uv_close((uv_handle_t *)&r->timer, redial_closed);
}

static void redial_later(slim_node *n, size_t index) {
    redial *r = slim_calloc(1, sizeof *r);
    if (r == NULL)
        return;
    r->node = n;
    r->index = index;
    uv_timer_init(n->loop, &r->timer);
    r->timer.data = r;
    uint64_t delay = n->cfg->clients[index].backoff.type == SLIM_BACKOFF_FIXED_INTERVAL
                         ? n->cfg->clients[index].backoff.interval_ms
                         : n->cfg->clients[index].backoff.max_delay_ms;
    uv_timer_start(&r->timer, redial_fire, delay ? delay : 1000, 0);
}

/* ---- periodic policies ---- */

static void finish_stop(slim_node *n, size_t leftover) {
    if (n->stopped)
        return;
    n->stopped = true;
    uv_timer_stop(&n->sweep);
    if (n->cbs.stopped != NULL)
        n->cbs.stopped(leftover, n->cbs.ud);
}

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
        if (!c->dialled && !slim_fwd_conn_ready(n->fwd, c->id) &&
            now - c->opened_ms > n->cfg->servers[0].negotiation_timeout_ms) {
            SLIM_LOGW(MOD, "connection %llu from %s: no link negotiation within %llu ms, closing",
                      (unsigned long long)c->id, c->peer,
                      (unsigned long long)n->cfg->servers[0].negotiation_timeout_ms);
            (void)slim_grpc_call_finish(c->call, SLIM_E_GRPC_DEADLINE_EXCEEDED,
                                        "link negotiation timed out", NULL);
        } else if (c->full_since_ms != 0 &&
                   now - c->full_since_ms > n->cfg->slow_consumer_timeout_ms) {
            SLIM_LOGW(MOD,
                      "connection %llu from %s: send queue full for more than %llu ms, "
                      "closing a slow consumer",
                      (unsigned long long)c->id, c->peer,
                      (unsigned long long)n->cfg->slow_consumer_timeout_ms);
            c->full_since_ms = 0;
            slim_grpc_call_cancel(c->call);
        }
    }
    if (slim_log_enabled(SLIM_LOG_DEBUG) && now - n->last_stats_ms >= 30000) {
        n->last_stats_ms = now;
        log_counters(n, SLIM_LOG_DEBUG);
    }
    if (n->draining && n->conns.count == 0)
        finish_stop(n, 0);
    else if (n->draining && now >= n->drain_deadline_ms) {
        size_t left = n->conns.count;
        SLIM_LOGW(MOD, "drain timeout: resetting %zu connection(s) still open", left);
        for (slim_hnode *h = slim_hmap_first(&n->conns, &it); h;
             h = slim_hmap_next(&n->conns, &it)) {
            node_conn *c = SLIM_CONTAINER_OF(h, node_conn, node);
            SLIM_LOGW(MOD, "  connection %llu from %s (%zu subscriptions)",
                      (unsigned long long)c->id, c->peer,
                      slim_router_conn_subscription_count(slim_fwd_router(n->fwd), c->id));
        }
        finish_stop(n, left);
    }
}

/* ---- lifecycle ---- */

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
    slim_status st = slim_hmap_init(&n->conns, 64);
    if (st == SLIM_OK)
        st = slim_fwd_new(&fc, &ops, n, &n->fwd);
    if (st == SLIM_OK) {
        slim_grpc_config gc = {.max_message_size = cfg->max_message_size + 64 * 1024};
        if (cfg->n_servers > 0) {
            gc.max_concurrent_streams = cfg->servers[0].max_concurrent_streams;
            gc.max_header_list_size = cfg->servers[0].max_header_list_size;
        }
        st = slim_grpc_server_new(loop, &gc, &n->server);
    }
    if (st == SLIM_OK) {
        slim_grpc_method m = {.path = DATAPLANE_METHOD,
                              .kind = SLIM_GRPC_BIDI_STREAMING,
                              .on_call = on_call,
                              .cbs = call_cbs,
                              .ud = n};
        st = slim_grpc_server_add_method(n->server, &m);
    }
    if (st != SLIM_OK) {
        slim_node_free(n);
        return st;
    }
    uv_timer_init(loop, &n->sweep);
    n->sweep.data = n;
    n->sweep_started = true;
    *out = n;
    return SLIM_OK;
}

slim_status slim_node_start(slim_node *n) {
    for (size_t i = 0; i < n->cfg->n_servers; i++) {
        const slim_server_config *sc = &n->cfg->servers[i];
        if (!sc->tls.insecure) {
            SLIM_LOGE(MOD, "%s: TLS listeners are not available yet; set tls.insecure: true",
                      sc->endpoint);
            return SLIM_E_UNSUPPORTED;
        }
        char bound[128];
        slim_status st = slim_grpc_server_listen(n->server, sc->endpoint, bound, sizeof bound);
        if (st != SLIM_OK) {
            SLIM_LOGE(MOD, "cannot listen on %s: %s", sc->endpoint, slim_status_str(st));
            return st;
        }
        if (n->cbs.listening != NULL)
            n->cbs.listening("dataplane", bound, n->cbs.ud);
    }
    for (size_t i = 0; i < n->cfg->n_clients; i++) {
        if (!n->cfg->clients[i].tls.insecure) {
            SLIM_LOGE(MOD, "%s: TLS clients are not available yet; use http://",
                      n->cfg->clients[i].endpoint);
            return SLIM_E_UNSUPPORTED;
        }
        if (dial(n, i) != SLIM_OK)
            redial_later(n, i);
    }
    uv_timer_start(&n->sweep, sweep, SWEEP_MS, SWEEP_MS);
    return SLIM_OK;
}

void slim_node_shutdown(slim_node *n, uint64_t drain_ms) {
    if (n->draining)
        return;
    n->draining = true;
    n->drain_deadline_ms = slim_now_ms() + drain_ms;
    SLIM_LOGI(MOD, "shutting down: %zu connection(s) to drain within %llu ms", n->conns.count,
              (unsigned long long)drain_ms);
    slim_hmap_iter it;
    for (slim_hnode *h = slim_hmap_first(&n->conns, &it); h; h = slim_hmap_next(&n->conns, &it)) {
        node_conn *c = SLIM_CONTAINER_OF(h, node_conn, node);
        if (c->call == NULL)
            continue;
        if (c->dialled)
            slim_grpc_call_cancel(c->call);
        else
            (void)slim_grpc_call_finish(c->call, SLIM_E_GRPC_UNAVAILABLE, "node shutting down",
                                        NULL);
    }
    if (!uv_is_active((uv_handle_t *)&n->sweep))
        uv_timer_start(&n->sweep, sweep, SWEEP_MS, SWEEP_MS);
}

void slim_node_counters(const slim_node *n, slim_fwd_counters *out) {
    slim_fwd_counters_get(n->fwd, out);
}

size_t slim_node_connections(const slim_node *n) {
    return n->conns.count;
}

void slim_node_log_counters(const slim_node *n) {
    log_counters(n, SLIM_LOG_INFO);
}

static void log_counters(const slim_node *n, slim_log_level level) {
    slim_fwd_counters c;
    slim_router_stats rs;
    slim_fwd_counters_get(n->fwd, &c);
    slim_router_stats_get(slim_fwd_router(n->fwd), &rs);
    slim_log(level, MOD,
             "counters: connections %zu, subscriptions %zu, in %llu, out %llu, publish %llu "
             "(matched %llu), subscribe %llu, unsubscribe %llu, acks %llu, errors sent %llu "
             "(suppressed %llu); dropped: ttl %llu, no route %llu, queue full %llu, too large "
             "%llu, malformed %llu, duplicate %llu, other %llu; links refused %llu; "
             "subscriptions propagated %llu, seen %llu, replayed %llu",
             n->conns.count, rs.subscriptions, (unsigned long long)c.messages_in,
             (unsigned long long)c.messages_out, (unsigned long long)c.publish_in,
             (unsigned long long)c.publish_matched, (unsigned long long)c.subscribe_in,
             (unsigned long long)c.unsubscribe_in, (unsigned long long)c.acks_sent,
             (unsigned long long)c.errors_sent, (unsigned long long)c.errors_suppressed,
             (unsigned long long)c.drop_ttl, (unsigned long long)c.drop_no_route,
             (unsigned long long)c.drop_queue_full, (unsigned long long)c.drop_too_large,
             (unsigned long long)c.drop_malformed, (unsigned long long)c.drop_duplicate,
             (unsigned long long)c.drop_other, (unsigned long long)c.links_refused,
             (unsigned long long)c.subs_propagated, (unsigned long long)c.subs_seen,
             (unsigned long long)c.subs_replayed);
    slim_hmap_iter it;
    for (slim_hnode *h = slim_hmap_first(&n->conns, &it); h; h = slim_hmap_next(&n->conns, &it)) {
        const node_conn *nc = SLIM_CONTAINER_OF(h, node_conn, node);
        if (nc->call != NULL)
            slim_log(level, MOD, "  connection %llu %s: queued %zu bytes, %zu subscriptions",
                     (unsigned long long)nc->id, nc->peer, slim_grpc_call_send_queued(nc->call),
                     slim_router_conn_subscription_count(slim_fwd_router(n->fwd), nc->id));
    }
}

static void sweep_closed(uv_handle_t *h) {
    slim_free(h->data);
}

void slim_node_free(slim_node *n) {
    if (n == NULL)
        return;
    /* Freeing the server ends its calls; their on_close drops the conns. */
    slim_grpc_server_free(n->server);
    n->draining = true;
    slim_hmap_iter it;
    for (slim_hnode *h = slim_hmap_first(&n->conns, &it); h; h = slim_hmap_next(&n->conns, &it)) {
        node_conn *c = SLIM_CONTAINER_OF(h, node_conn, node);
        if (c->dialled) {
            slim_grpc_client *cl = c->client;
            c->client = NULL;
            c->dialled = false; /* on_close must not free the client again */
            slim_grpc_client_free(cl);
        }
    }
    /* Anything left has had its call freed without our seeing on_close. */
    for (slim_hnode *h = slim_hmap_first(&n->conns, &it); h; h = slim_hmap_next(&n->conns, &it))
        conn_drop(n, SLIM_CONTAINER_OF(h, node_conn, node));
    slim_fwd_free(n->fwd);
    slim_hmap_cleanup(&n->conns);
    if (n->sweep_started) {
        n->sweep.data = n;
        uv_close((uv_handle_t *)&n->sweep, sweep_closed);
    } else {
        slim_free(n);
    }
}
