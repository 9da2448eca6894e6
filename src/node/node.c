/*
 * The node: a hub (src/link/hub.c: the forwarder and its streams) fed by
 * the data-plane gRPC server, the links of `dataplane.clients`, the control
 * agent when `controller.clients` are configured (src/control/agent.h; it
 * hears from the forwarder which names the applications hold), the drain
 * at shutdown, and the counters (the log line of SIGUSR1 and /metrics).
 *
 * A 250 ms sweep of its own handles the drain deadline's backstop and the
 * periodic counters at debug level; everything per stream is the hub's.
 */
#include "node/node.h"
#include "control/agent.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "link/hub.h"
#include "node/metrics.h"
#include "node/stats.h"
#include "slim/slim.h"
#include "transport/grpc.h"

#include <string.h>

#define MOD      "node"
#define SWEEP_MS 250

struct slim_node {
    uv_loop_t *loop;
    const slim_node_config *cfg;
    slim_node_callbacks cbs;
    slim_hub *hub;
    slim_grpc_server *server;
    slim_metrics *metrics;
    slim_agent *agent; /* when controller.clients are configured */
    char **registered; /* per data-plane server: the endpoint the agent registers */
    uv_timer_t sweep;
    bool freeing;
    bool draining;
    bool server_drained;
    uint64_t drain_deadline_ms;
    bool stopped;
    uint64_t last_stats_ms;
};

/* ---- accepted streams ---- */

static void on_call(slim_grpc_call *call, slim_bytes request, void *ud) {
    (void)request;
    slim_node *n = ud;
    if (n->draining) {
        slim_grpc_call_set_data(call, NULL);
        (void)slim_grpc_call_finish(call, SLIM_E_GRPC_UNAVAILABLE, "node shutting down", NULL);
        return;
    }
    /* The listener's own settings (every node listener has a config). */
    const slim_server_config *sc = slim_grpc_call_server_config(call);
    slim_fwd_link_opts opts = {.require_header_mac = sc == NULL || sc->require_header_mac};
    slim_hub_accept(n->hub, call, &opts, sc != NULL ? sc->negotiation_timeout_ms : 5000);
}

/* ---- the control agent ---- */

static void app_names(const slim_name *name, const slim_str *text, bool added, void *ud) {
    slim_node *n = ud;
    if (n->agent != NULL)
        slim_agent_app_name(n->agent, name, text, added);
}

/* The endpoint to register for a listener: as configured, with the bound
 * port when the configured one is 0 (nobody could dial port 0). */
static char *registered_endpoint(const char *configured, const char *bound) {
    const char *cp = strrchr(configured, ':'), *bp = strrchr(bound, ':');
    size_t n = strlen(configured) + 16;
    char *out = slim_malloc(n);
    if (out == NULL)
        return NULL;
    if (strncmp(configured, "unix:", 5) != 0 && cp != NULL && bp != NULL && strcmp(cp, ":0") == 0)
        snprintf(out, n, "%.*s%s", (int)(cp - configured), configured, bp);
    else
        snprintf(out, n, "%s", configured);
    return out;
}

static void control_listening(const char *addr, void *ud) {
    slim_node *n = ud;
    if (n->cbs.listening != NULL)
        n->cbs.listening("controller", addr, n->cbs.ud);
}

static slim_status start_agent(slim_node *n) {
    slim_agent_config ac = {
        .info = {.node_id = n->cfg->node_id,
                 .group_name = n->cfg->group_name,
                 .servers = n->cfg->servers,
                 .n_servers = n->cfg->n_servers,
                 .endpoints = (const char *const *)n->registered,
                 .token_secret = n->cfg->token_secret,
                 .token_jwt = n->cfg->token_jwt,
                 .request_timeout_ms = n->cfg->request_timeout_ms},
        .controllers = n->cfg->controllers,
        .n_controllers = n->cfg->n_controllers,
        .servers = n->cfg->ctl_servers,
        .n_servers = n->cfg->n_ctl_servers,
        .verifier_secret = n->cfg->verifier_secret,
        .listening = control_listening,
        .listening_ud = n,
        /* as the node's own links */
        .link_base = {.max_message_size = n->cfg->max_message_size + 64 * 1024,
                      .keepalive_min_interval_ms = SLIM_GRPC_OFF},
    };
    slim_status st = slim_agent_new(n->loop, n->hub, &ac, &n->agent);
    if (st == SLIM_OK)
        st = slim_agent_start(n->agent);
    if (st != SLIM_OK)
        SLIM_LOGE(MOD, "cannot start the control agent: %s", slim_status_str(st));
    return st;
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
    if (n->draining && n->server_drained && slim_hub_streams(n->hub) == 0)
        finish_stop(n, 0);
}

static void stream_closed(size_t open, void *ud) {
    (void)open;
    check_stopped(ud);
}

static void server_drained(slim_grpc_server *srv, void *ud) {
    (void)srv;
    slim_node *n = ud;
    n->server_drained = true;
    check_stopped(n);
}

/* ---- periodic ---- */

static void log_counters(const slim_node *n, slim_log_level level);

static void sweep(uv_timer_t *t) {
    slim_node *n = t->data;
    uint64_t now = slim_now_ms();
    if (slim_log_enabled(SLIM_LOG_DEBUG) && now - n->last_stats_ms >= 30000) {
        n->last_stats_ms = now;
        log_counters(n, SLIM_LOG_DEBUG);
    }
    /* The transport resets what is left at its drain deadline; this is the
     * backstop in case something outlives it. */
    if (n->draining && now >= n->drain_deadline_ms + 1000) {
        size_t left = slim_hub_streams(n->hub);
        SLIM_LOGW(MOD, "drain deadline passed with %zu stream(s) still open:", left);
        slim_hub_log_streams(n->hub, SLIM_LOG_WARN);
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
    slim_hub_config hc = {
        .fwd = {.node_id = cfg->node_id,
                .version = slim_version(),
                .announce = SLIM_LINK_TYPE_REMOTE,
                .max_message_size = cfg->max_message_size,
                .max_subscriptions_per_conn = cfg->max_subscriptions_per_conn,
                .propagate = true,
                .dedupe = cfg->duplicate_filter},
        .slow_consumer_timeout_ms = cfg->slow_consumer_timeout_ms,
    };
    slim_hub_callbacks hcb = {.stream_closed = stream_closed,
                              .app_names = cfg->n_controllers > 0 ? app_names : NULL,
                              .ud = n};
    /* Each data-plane stream is a connection of its own (upstream's
     * clients open one per HTTP/2 connection): a low stream cap keeps what
     * one TCP connection can hold bounded (docs/configuration.md). */
    slim_grpc_config gc = {.max_message_size = cfg->max_message_size + 64 * 1024,
                           .max_concurrent_streams = SLIM_NODE_DEFAULT_STREAMS};
    slim_status st = slim_hub_new(loop, &hc, &hcb, &n->hub);
    if (st == SLIM_OK)
        st = slim_grpc_server_new(loop, &gc, &n->server);
    if (st == SLIM_OK) {
        slim_grpc_method m = {.path = SLIM_DATAPLANE_METHOD,
                              .kind = SLIM_GRPC_BIDI_STREAMING,
                              .on_call = on_call,
                              .cbs = {0},
                              .ud = n};
        slim_hub_call_cbs(&m.cbs);
        st = slim_grpc_server_add_method(n->server, &m);
    }
    if (st != SLIM_OK) {
        slim_grpc_server_free(n->server);
        slim_hub_free(n->hub);
        slim_free(n);
        return st;
    }
    uv_timer_init(loop, &n->sweep);
    n->sweep.data = n;
    *out = n;
    return SLIM_OK;
}

static void render_metrics(void *ud, slim_buf *out);

slim_status slim_node_start(slim_node *n) {
    if (n->cfg->n_servers > 0 &&
        (n->registered = slim_calloc(n->cfg->n_servers, sizeof *n->registered)) == NULL)
        return SLIM_E_NOMEM;
    for (size_t i = 0; i < n->cfg->n_servers; i++) {
        const slim_server_config *sc = &n->cfg->servers[i];
        char bound[128];
        slim_status st = slim_grpc_server_listen_config(n->server, sc, bound, sizeof bound);
        if (st != SLIM_OK) {
            SLIM_LOGE(MOD, "cannot listen on %s: %s", sc->endpoint, slim_status_str(st));
            return st;
        }
        if ((n->registered[i] = registered_endpoint(sc->endpoint, bound)) == NULL)
            return SLIM_E_NOMEM;
        if (n->cbs.listening != NULL)
            n->cbs.listening("dataplane", bound, n->cbs.ud);
    }
    for (size_t i = 0; i < n->cfg->n_clients; i++) {
        /* Node links are our own protocol: ping on schedule, without the
         * floor grpcio servers need, so a dead node is noticed in time. */
        slim_grpc_config base = {.max_message_size = n->cfg->max_message_size + 64 * 1024,
                                 .keepalive_min_interval_ms = SLIM_GRPC_OFF};
        slim_status st = slim_hub_dial(n->hub, &n->cfg->clients[i], &base);
        if (st != SLIM_OK)
            return st;
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
    if (n->cfg->n_controllers > 0 || n->cfg->n_ctl_servers > 0) {
        slim_status st = start_agent(n);
        if (st != SLIM_OK)
            return st;
    }
    uv_timer_start(&n->sweep, sweep, SWEEP_MS, SWEEP_MS);
    return SLIM_OK;
}

void slim_node_shutdown(slim_node *n, uint64_t drain_ms) {
    if (n->draining)
        return;
    n->draining = true;
    n->drain_deadline_ms = slim_now_ms() + drain_ms;
    SLIM_LOGI(MOD, "shutting down: %zu stream(s) to drain within %llu ms", slim_hub_streams(n->hub),
              (unsigned long long)drain_ms);
    /* The control streams are not the hub's: they end now and nothing
     * redials them, so the drain never waits for them. */
    if (n->agent != NULL)
        slim_agent_stop(n->agent);
    /* Our own links first: ending them withdraws nothing anyone needs. */
    slim_hub_stop_links(n->hub);
    slim_grpc_server_shutdown(n->server, drain_ms, server_drained, n);
    if (!uv_is_active((uv_handle_t *)&n->sweep))
        uv_timer_start(&n->sweep, sweep, SWEEP_MS, SWEEP_MS);
    check_stopped(n);
}

size_t slim_node_connections(const slim_node *n) {
    return slim_hub_streams(n->hub);
}

void slim_node_log_counters(const slim_node *n) {
    log_counters(n, SLIM_LOG_INFO);
}

void slim_node_stats_get(const slim_node *n, slim_node_stats *out) {
    slim_fwd *f = slim_hub_fwd(n->hub);
    slim_hub_stats hs;
    slim_hub_stats_get(n->hub, &hs);
    *out = (slim_node_stats){.connections = slim_hub_streams(n->hub),
                             .unsent = hs.unsent,
                             .queued_bytes = hs.queued_bytes,
                             .queued_max = hs.queued_max,
                             .links = hs.links,
                             .links_up = hs.links_up};
    memcpy(out->by_kind, hs.by_kind, sizeof out->by_kind);
    slim_fwd_counters_get(f, &out->fwd);
    slim_router_stats_get(slim_fwd_router(f), &out->router);
    slim_grpc_server_stats_get(n->server, &out->server);
    slim_agent_stats_get(n->agent, &out->control);
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
    slim_hub_log_streams(n->hub, level);
}

static void node_closed(uv_handle_t *h) {
    slim_free(h->data);
}

void slim_node_free(slim_node *n) {
    if (n == NULL)
        return;
    n->draining = true;
    n->freeing = true;
    slim_metrics_free(n->metrics);
    n->metrics = NULL;
    /* Before the hub: it closes the links it made there. */
    slim_agent_free(n->agent);
    n->agent = NULL;
    for (size_t i = 0; n->registered != NULL && i < n->cfg->n_servers; i++)
        slim_free(n->registered[i]);
    slim_free(n->registered);
    n->registered = NULL;
    /* Freeing the server ends its calls; the hub drops their streams. */
    slim_grpc_server_free(n->server);
    slim_hub_free(n->hub);
    uv_close((uv_handle_t *)&n->sweep, node_closed);
}
