/*
 * gRPC client: one target, one live HTTP/2 connection at a time (plus
 * connections draining after a GOAWAY), reconnected with upstream SLIM's
 * backoff. States and transitions are listed in grpc.h.
 *
 * An attempt: resolve (uv_getaddrinfo, on the libuv thread pool), connect
 * to each address in order, wrap the socket in TLS for https://, attach it
 * to the attempt's h2conn, and wait for the server's SETTINGS (READY). The
 * h2conn exists from the start of the attempt, so calls can be opened while
 * CONNECTING; their frames go out once the socket is attached, and they
 * fail with the attempt.
 *
 * One uv_timer serves the connect timeout (during an attempt) and the
 * backoff delay (between attempts).
 */
#include "transport/grpc.h"
#include "transport/endpoint.h"
#include "transport/h2conn.h"
#include "transport/tls.h"
#include "core/alloc.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>

#define MOD "transport"
/* A connection lost sooner than this after READY counts as a failed
 * attempt (the backoff goes on) instead of restarting it. */
#define MIN_READY_MS 1000

struct slim_grpc_client {
    uv_loop_t *loop;
    slim_grpc_config cfg;
    slim_endpoint ep;
    char target[SLIM_ENDPOINT_HOST_MAX + 16];
    char authority[SLIM_ENDPOINT_HOST_MAX + 16];
    char tls_name[SLIM_ENDPOINT_HOST_MAX + 1];
    slim_tls_ctx *tls; /* NULL: plaintext */
    slim_backoff_config backoff;
    uint64_t connect_timeout_ms; /* 0: none */
    uint64_t request_timeout_ms; /* unary calls without a timeout */
    uint64_t tcp_keepalive_ms;
    slim_grpc_md headers; /* sent with every call */
    slim_grpc_state_cb cb;
    void *ud;

    slim_grpc_conn_state state;
    slim_status why;
    char why_text[224];
    slim_h2conn *conn;     /* the attempt's or the ready connection */
    slim_h2conn *draining; /* connections that got GOAWAY (h2conn links) */
    size_t n_conns;        /* live h2conns, all kinds */
    slim_grpc_conn_stats last_stats;

    uv_getaddrinfo_t gai;
    bool resolving;
    struct addrinfo *addrs, *next_addr;
    slim_io *attempt; /* plain socket being connected */
    uv_connect_t creq;
    bool connecting;
    int last_error;   /* libuv error of the last failed connect */
    uint64_t retries; /* failed attempts since the last READY */
    uint64_t retries_at_ready, ready_at;
    uv_timer_t timer;
    bool timer_is_backoff;
    bool restart_pending; /* start an attempt once the last one's requests end */
    uint64_t rng;
    bool freeing;
};

const char *slim_grpc_conn_state_name(slim_grpc_conn_state st) {
    switch (st) {
    case SLIM_GRPC_IDLE:
        return "IDLE";
    case SLIM_GRPC_CONNECTING:
        return "CONNECTING";
    case SLIM_GRPC_READY:
        return "READY";
    case SLIM_GRPC_TRANSIENT_FAILURE:
        return "TRANSIENT_FAILURE";
    case SLIM_GRPC_SHUTDOWN:
        return "SHUTDOWN";
    }
    return "?";
}

static void set_state(slim_grpc_client *c, slim_grpc_conn_state st, slim_status why,
                      const char *text) {
    c->why = why;
    if (text != NULL)
        snprintf(c->why_text, sizeof c->why_text, "%s", text);
    if (c->state == st && st != SLIM_GRPC_TRANSIENT_FAILURE)
        return;
    c->state = st;
    SLIM_LOGD(MOD, "client %s: %s%s%s", c->target, slim_grpc_conn_state_name(st),
              why != SLIM_OK ? ": " : "", why != SLIM_OK ? c->why_text : "");
    if (!c->freeing && c->cb != NULL)
        c->cb(c, st, why, c->ud);
}

/* xorshift64*: jitter needs no more. */
static double rand01(slim_grpc_client *c) {
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return (double)((c->rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void maybe_release(slim_grpc_client *c) {
    if (!c->freeing || c->resolving || c->connecting || c->n_conns > 0 || c->timer.data != NULL)
        return;
    if (c->addrs != NULL)
        uv_freeaddrinfo(c->addrs);
    slim_tls_ctx_unref(c->tls);
    slim_grpc_md_cleanup(&c->headers);
    slim_free(c);
}

static void on_timer_closed(uv_handle_t *h) {
    slim_grpc_client *c = h->data;
    h->data = NULL; /* closed: maybe_release may go */
    c->timer_is_backoff = false;
    maybe_release(c);
}

static void start_attempt(slim_grpc_client *c);

/* Starts an attempt, or defers it until the resolution or connection of
 * the last one (which share one request each) has come back. */
static void begin_attempt(slim_grpc_client *c) {
    if (c->freeing || c->conn != NULL)
        return;
    if (c->resolving || c->connecting) {
        c->restart_pending = true;
        return;
    }
    c->restart_pending = false;
    start_attempt(c);
}

/* A request of an attempt that is over came back. */
static void stale_request_done(slim_grpc_client *c) {
    if (c->restart_pending && !c->resolving && !c->connecting)
        begin_attempt(c);
    maybe_release(c);
}

/* The attempt the pending request belongs to is still the current one. */
static bool attempt_live(const slim_grpc_client *c) {
    return !c->freeing && c->conn != NULL && !slim_h2conn_closing(c->conn);
}

static void on_backoff(uv_timer_t *t) {
    slim_grpc_client *c = t->data;
    c->timer_is_backoff = false;
    if (c->state == SLIM_GRPC_TRANSIENT_FAILURE)
        begin_attempt(c);
}

/* The attempt (or the ready connection) failed: report it and retry after
 * the backoff delay, or give up. */
static void attempt_failed(slim_grpc_client *c, slim_status why, const char *reason) {
    uv_timer_stop(&c->timer);
    uint64_t delay = slim_grpc_backoff_delay(&c->backoff, c->retries, rand01(c));
    c->retries++;
    if (delay == SLIM_GRPC_OFF) {
        SLIM_LOGW(MOD, "client %s: %s (%s); giving up after %llu attempt(s)", c->target, reason,
                  slim_status_name(why), (unsigned long long)c->retries);
        set_state(c, SLIM_GRPC_SHUTDOWN, why, reason);
        return;
    }
    SLIM_LOGW(MOD, "client %s: %s (%s); reconnecting in %llu ms", c->target, reason,
              slim_status_name(why), (unsigned long long)delay);
    set_state(c, SLIM_GRPC_TRANSIENT_FAILURE, why, reason);
    if (c->freeing || c->state != SLIM_GRPC_TRANSIENT_FAILURE || c->conn != NULL)
        return; /* the callback freed the client or already started over */
    c->timer_is_backoff = true;
    uv_timer_start(&c->timer, on_backoff, delay, 0);
}

/* Ends the current attempt with `why`: its connection (and calls) close,
 * which reports through conn_closed. */
static void attempt_abort(slim_grpc_client *c, slim_status why, const char *reason) {
    if (c->resolving) {
        uv_cancel((uv_req_t *)&c->gai);
    }
    if (c->connecting && c->attempt != NULL) {
        slim_io_close(c->attempt); /* on_connect follows with UV_ECANCELED */
        c->attempt = NULL;
    }
    if (c->conn != NULL)
        slim_h2conn_close(c->conn, why, reason);
}

/* ---- Connection events ---- */

static void conn_ready(void *owner, slim_h2conn *conn) {
    slim_grpc_client *c = owner;
    if (conn != c->conn || c->freeing)
        return;
    if (!c->timer_is_backoff)
        uv_timer_stop(&c->timer); /* the connect timeout */
    c->retries_at_ready = c->retries;
    c->retries = 0;
    c->ready_at = uv_now(c->loop);
    set_state(c, SLIM_GRPC_READY, SLIM_OK, "");
}

static void link_draining(slim_grpc_client *c, slim_h2conn *conn) {
    slim_h2conn_link *l = slim_h2conn_links(conn);
    l->prev = NULL;
    l->next = c->draining;
    if (c->draining != NULL)
        slim_h2conn_links(c->draining)->prev = conn;
    c->draining = conn;
}

static void unlink_draining(slim_grpc_client *c, slim_h2conn *conn) {
    slim_h2conn_link *l = slim_h2conn_links(conn);
    if (l->prev != NULL)
        slim_h2conn_links(l->prev)->next = l->next;
    else if (c->draining == conn)
        c->draining = l->next;
    if (l->next != NULL)
        slim_h2conn_links(l->next)->prev = l->prev;
    l->prev = l->next = NULL;
}

static void conn_goaway(void *owner, slim_h2conn *conn) {
    slim_grpc_client *c = owner;
    if (conn != c->conn || c->freeing)
        return;
    /* Open calls finish on it; new ones go to a new connection. */
    c->conn = NULL;
    link_draining(c, conn);
    uv_timer_stop(&c->timer);
    c->retries = 0;
    set_state(c, SLIM_GRPC_IDLE, SLIM_E_TRANSPORT_GOAWAY, slim_h2conn_goaway_text(conn));
    if (c->state == SLIM_GRPC_IDLE)
        begin_attempt(c);
}

static void conn_closed(void *owner, slim_h2conn *conn, slim_status why, const char *reason) {
    slim_grpc_client *c = owner;
    slim_h2conn_stats(conn, &c->last_stats);
    c->n_conns--;
    if (conn != c->conn) {
        unlink_draining(c, conn);
        maybe_release(c);
        return;
    }
    c->conn = NULL;
    if (c->freeing) {
        maybe_release(c);
        return;
    }
    if (c->state == SLIM_GRPC_READY && uv_now(c->loop) - c->ready_at < MIN_READY_MS) {
        /* Lost right after it worked: count it as a failed attempt, so a
         * peer that accepts and drops at once meets the backoff. */
        c->retries = c->retries_at_ready;
        attempt_failed(c, why, reason);
        return;
    }
    if (c->state == SLIM_GRPC_READY) {
        /* A working connection was lost: try again at once. */
        SLIM_LOGW(MOD, "client %s: connection lost: %s (%s)", c->target, reason,
                  slim_status_name(why));
        c->retries = 0;
        set_state(c, SLIM_GRPC_TRANSIENT_FAILURE, why, reason);
        if (c->state == SLIM_GRPC_TRANSIENT_FAILURE)
            begin_attempt(c);
        return;
    }
    attempt_failed(c, why, reason);
}

/* ---- Connecting ---- */

static void try_next_address(slim_grpc_client *c);

/* The socket is connected: TLS if asked, then HTTP/2. */
static void attach(slim_grpc_client *c, slim_io *io) {
    slim_io_name_peer(io);
    slim_io_tcp_keepalive(io, c->tcp_keepalive_ms);
    SLIM_LOGD(MOD, "client %s: connected to %s", c->target, io->peer);
    if (c->tls != NULL) {
        slim_status st = slim_io_tls_new(c->tls, io, c->tls_name, &io);
        if (st != SLIM_OK) {
            slim_h2conn_close(c->conn, st, "cannot start TLS");
            return;
        }
    }
    slim_h2conn_attach(c->conn, io);
}

static void on_connect(uv_connect_t *req, int status) {
    slim_grpc_client *c = req->data;
    slim_io *io = c->attempt;
    c->connecting = false;
    c->attempt = NULL;
    if (!attempt_live(c)) {
        /* Freed or aborted meanwhile: the pipe was closed already, or is
         * closed here. */
        if (status != UV_ECANCELED && io != NULL)
            slim_io_close(io);
        if (c->addrs != NULL) {
            uv_freeaddrinfo(c->addrs);
            c->addrs = c->next_addr = NULL;
        }
        stale_request_done(c);
        return;
    }
    if (status < 0) {
        c->last_error = status;
        slim_io_close(io);
        try_next_address(c);
        return;
    }
    if (c->addrs != NULL) {
        uv_freeaddrinfo(c->addrs);
        c->addrs = c->next_addr = NULL;
    }
    attach(c, io);
}

static void try_next_address(slim_grpc_client *c) {
    while (c->next_addr != NULL) {
        struct addrinfo *ai = c->next_addr;
        c->next_addr = ai->ai_next;
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        slim_io *io;
        if (slim_io_tcp_new(c->loop, &io) != SLIM_OK)
            break;
        c->creq.data = c;
        int rc = uv_tcp_connect(&c->creq, (uv_tcp_t *)slim_io_stream(io), ai->ai_addr, on_connect);
        if (rc != 0) {
            c->last_error = rc;
            slim_io_close(io);
            continue;
        }
        c->attempt = io;
        c->connecting = true;
        return;
    }
    if (c->addrs != NULL) {
        uv_freeaddrinfo(c->addrs);
        c->addrs = c->next_addr = NULL;
    }
    char reason[200];
    snprintf(reason, sizeof reason, "cannot connect: %s",
             c->last_error != 0 ? uv_strerror(c->last_error) : "no usable address");
    slim_h2conn_close(c->conn, SLIM_E_TRANSPORT_CONNECT, reason);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    slim_grpc_client *c = req->data;
    c->resolving = false;
    if (!attempt_live(c)) {
        if (res != NULL)
            uv_freeaddrinfo(res);
        stale_request_done(c);
        return;
    }
    if (status < 0) {
        char reason[200];
        snprintf(reason, sizeof reason, "cannot resolve %.100s: %s", c->ep.host,
                 uv_strerror(status));
        slim_h2conn_close(c->conn, SLIM_E_TRANSPORT_RESOLVE, reason);
        return;
    }
    c->addrs = c->next_addr = res;
    c->last_error = 0;
    try_next_address(c);
}

static void on_connect_timeout(uv_timer_t *t) {
    slim_grpc_client *c = t->data;
    char reason[96];
    snprintf(reason, sizeof reason, "not connected within the connect timeout (%llu ms)",
             (unsigned long long)c->connect_timeout_ms);
    attempt_abort(c, SLIM_E_TRANSPORT_TIMEOUT, reason);
}

static void start_attempt(slim_grpc_client *c) {
    slim_h2conn_owner owner = {NULL, NULL, conn_ready, conn_goaway, conn_closed, c};
    slim_status st = slim_h2conn_new(c->loop, false, c->tls != NULL, &c->cfg, &owner, &c->conn);
    if (st != SLIM_OK) {
        c->conn = NULL;
        attempt_failed(c, st, "cannot create a connection");
        return;
    }
    c->n_conns++;
    set_state(c, SLIM_GRPC_CONNECTING, SLIM_OK, NULL);
    if (c->freeing || c->conn == NULL)
        return;
    if (c->connect_timeout_ms != 0) {
        c->timer_is_backoff = false;
        uv_timer_start(&c->timer, on_connect_timeout, c->connect_timeout_ms, 0);
    }
    if (c->ep.kind == SLIM_ENDPOINT_UNIX) {
        slim_io *io;
        if (slim_io_unix_new(c->loop, &io) != SLIM_OK) {
            slim_h2conn_close(c->conn, SLIM_E_NOMEM, "out of memory");
            return;
        }
        c->creq.data = c;
        c->attempt = io;
        c->connecting = true;
        uv_pipe_connect(&c->creq, (uv_pipe_t *)slim_io_stream(io), c->ep.path, on_connect);
        return;
    }
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)c->ep.port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c->gai.data = c;
    int rc = uv_getaddrinfo(c->loop, &c->gai, on_resolved, c->ep.host, port, &hints);
    if (rc == 0) {
        c->resolving = true;
    } else {
        char reason[200];
        snprintf(reason, sizeof reason, "cannot resolve %.100s: %s", c->ep.host, uv_strerror(rc));
        slim_h2conn_close(c->conn, SLIM_E_TRANSPORT_RESOLVE, reason);
    }
}

/* ---- Creation ---- */

typedef struct client_setup {
    const char *target;
    const slim_grpc_config *cfg; /* resolved for the client role */
    const slim_tls_config *tls;  /* NULL: from the scheme (https: system roots) */
    const slim_backoff_config *backoff;
    uint64_t connect_timeout_ms, request_timeout_ms, tcp_keepalive_ms;
    const char *origin;
    const slim_kv *headers;
    size_t n_headers;
} client_setup;

/* The :authority an origin ("https://name:port", "name:port") asks for. */
static void origin_authority(const char *origin, char *out, size_t cap) {
    const char *p = strstr(origin, "://");
    p = p != NULL ? p + 3 : origin;
    size_t n = strcspn(p, "/");
    snprintf(out, cap, "%.*s", (int)n, p);
}

static slim_status client_create(uv_loop_t *loop, const client_setup *s, slim_grpc_state_cb cb,
                                 void *ud, slim_grpc_client **out) {
    slim_endpoint ep;
    slim_status st = slim_endpoint_parse(s->target, &ep);
    if (st != SLIM_OK)
        return st;
    slim_grpc_client *c = slim_calloc(1, sizeof *c);
    if (c == NULL)
        return SLIM_E_NOMEM;
    c->loop = loop;
    c->ep = ep;
    c->cb = cb;
    c->ud = ud;
    c->cfg = *s->cfg;
    c->backoff = *s->backoff;
    c->connect_timeout_ms = s->connect_timeout_ms;
    c->request_timeout_ms = s->request_timeout_ms;
    c->tcp_keepalive_ms = s->tcp_keepalive_ms;
    c->rng = uv_hrtime() ^ (uintptr_t)c ^ 0x9e3779b97f4a7c15ull;
    slim_grpc_md_init(&c->headers);
    if (ep.kind == SLIM_ENDPOINT_UNIX)
        snprintf(c->authority, sizeof c->authority, "localhost");
    else
        (void)slim_endpoint_format(&ep, c->authority, sizeof c->authority);
    if (s->origin != NULL && s->origin[0] != '\0')
        origin_authority(s->origin, c->authority, sizeof c->authority);
    (void)slim_endpoint_format(&ep, c->target, sizeof c->target);
    for (size_t i = 0; i < s->n_headers && st == SLIM_OK; i++)
        st = slim_grpc_md_add_str(&c->headers, s->headers[i].key, s->headers[i].value);
    bool secure = ep.tls && (s->tls == NULL || !s->tls->insecure);
    if (st == SLIM_OK && secure) {
        slim_tls_config dflt;
        memset(&dflt, 0, sizeof dflt);
        dflt.include_system_ca = true;
        dflt.version = SLIM_TLS_1_3;
        const slim_tls_config *tls = s->tls != NULL ? s->tls : &dflt;
        snprintf(c->tls_name, sizeof c->tls_name, "%s",
                 tls->server_name != NULL && tls->server_name[0] != '\0' ? tls->server_name
                                                                         : ep.host);
        char err[256];
        st = slim_tls_ctx_new(tls, false, &c->tls, err, sizeof err);
        if (st != SLIM_OK)
            SLIM_LOGW(MOD, "client %s: TLS settings unusable: %s", c->target, err);
    }
    if (st != SLIM_OK) {
        slim_grpc_md_cleanup(&c->headers);
        slim_free(c);
        return st;
    }
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->state = SLIM_GRPC_CONNECTING; /* reported changes start from here */
    start_attempt(c);
    *out = c;
    return SLIM_OK;
}

slim_status slim_grpc_client_new(uv_loop_t *loop, const char *target, const slim_grpc_config *cfg,
                                 slim_grpc_state_cb cb, void *ud, slim_grpc_client **out) {
    slim_grpc_config rc;
    slim_grpc_config_resolve_role(cfg, false, &rc);
    slim_client_config dflt;
    slim_client_config_defaults(&dflt); /* upstream's backoff: every 2 s, forever */
    client_setup s = {target, &rc, NULL, &dflt.backoff, 0, 0, 0, NULL, NULL, 0};
    return client_create(loop, &s, cb, ud, out);
}

slim_status slim_grpc_client_new_config(uv_loop_t *loop, const slim_client_config *cc,
                                        const slim_grpc_config *base, slim_grpc_state_cb cb,
                                        void *ud, slim_grpc_client **out) {
    if (cc == NULL || cc->endpoint == NULL)
        return SLIM_E_INVALID_ARG;
    slim_grpc_config rc;
    slim_grpc_config_from_client(cc, base, &rc);
    client_setup s = {cc->endpoint,
                      &rc,
                      &cc->tls,
                      &cc->backoff,
                      cc->connect_timeout_ms,
                      cc->request_timeout_ms,
                      cc->keepalive.tcp_keepalive_ms,
                      cc->origin,
                      cc->headers,
                      cc->n_headers};
    return client_create(loop, &s, cb, ud, out);
}

/* ---- Use ---- */

slim_grpc_conn_state slim_grpc_client_state(const slim_grpc_client *c) {
    return c->state;
}

const char *slim_grpc_client_why(const slim_grpc_client *c) {
    return c->why_text;
}

slim_status slim_grpc_client_open(slim_grpc_client *c, const slim_grpc_call_opts *opts,
                                  const slim_grpc_call_cbs *cbs, void *data, slim_grpc_call **out) {
    if (c->freeing || c->state == SLIM_GRPC_SHUTDOWN)
        return SLIM_E_CLOSED;
    if (c->conn == NULL || !slim_h2conn_accepting(c->conn))
        return SLIM_E_GRPC_UNAVAILABLE;
    return slim_h2conn_open(c->conn, c->authority, &c->headers, opts, cbs, data, out);
}

void slim_grpc_client_stats(const slim_grpc_client *c, slim_grpc_conn_stats *out) {
    if (c->conn != NULL)
        slim_h2conn_stats(c->conn, out);
    else
        *out = c->last_stats;
}

void slim_grpc_client_free(slim_grpc_client *c) {
    if (c == NULL || c->freeing)
        return;
    c->freeing = true;
    c->state = SLIM_GRPC_SHUTDOWN;
    if (c->resolving)
        uv_cancel((uv_req_t *)&c->gai); /* on_resolved follows, cancelled or not */
    if (c->connecting && c->attempt != NULL) {
        slim_io_close(c->attempt); /* on_connect follows with UV_ECANCELED */
        c->attempt = NULL;
    }
    if (c->conn != NULL)
        slim_h2conn_close(c->conn, SLIM_E_CANCELLED, "client closed");
    for (slim_h2conn *d = c->draining; d != NULL; d = slim_h2conn_links(d)->next)
        slim_h2conn_close(d, SLIM_E_CANCELLED, "client closed");
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    maybe_release(c);
}

/* ---- Unary calls ---- */

typedef struct unary_call {
    slim_grpc_unary_cb cb;
    void *ud;
    slim_buf response;
    unsigned count;
    bool silent; /* the call failed to start: nobody to tell */
} unary_call;

static void unary_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    unary_call *u = data;
    if (++u->count == 1 && slim_buf_append(&u->response, msg.ptr, msg.len) != SLIM_OK)
        slim_grpc_call_cancel(call);
}

static void unary_on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    unary_call *u = data;
    if (!u->silent) {
        slim_grpc_result r = *res;
        char msg[80];
        if (r.status == SLIM_OK && u->count != 1) {
            snprintf(msg, sizeof msg, "unary response carried %u messages", u->count);
            r.status = SLIM_E_GRPC_INTERNAL;
            r.code = SLIM_GRPC_INTERNAL;
            r.message = slim_str_of(msg, strlen(msg));
            r.local = true;
        }
        slim_bytes resp = r.status == SLIM_OK ? slim_buf_view(&u->response) : slim_bytes_of("", 0);
        u->cb(&r, resp, slim_grpc_call_metadata(call), u->ud);
    }
    slim_buf_cleanup(&u->response);
    slim_free(u);
}

slim_status slim_grpc_client_unary(slim_grpc_client *c, const slim_grpc_call_opts *opts,
                                   slim_bytes request, slim_grpc_unary_cb cb, void *ud) {
    if (cb == NULL || opts == NULL)
        return SLIM_E_INVALID_ARG;
    if (request.len > c->cfg.max_message_size)
        return SLIM_E_TRANSPORT_MSG_TOO_LARGE;
    unary_call *u = slim_calloc(1, sizeof *u);
    if (u == NULL)
        return SLIM_E_NOMEM;
    u->cb = cb;
    u->ud = ud;
    slim_grpc_call_opts o = *opts;
    if (o.timeout_ms == 0)
        o.timeout_ms = c->request_timeout_ms;
    static const slim_grpc_call_cbs cbs = {NULL, unary_on_message, NULL,
                                           NULL, unary_on_close,   NULL};
    slim_grpc_call *call;
    slim_status st = slim_grpc_client_open(c, &o, &cbs, u, &call);
    if (st != SLIM_OK) {
        slim_free(u);
        return st;
    }
    st = slim_grpc_call_send(call, request);
    if (st == SLIM_OK)
        st = slim_grpc_call_close_send(call);
    if (st != SLIM_OK) {
        u->silent = true;
        slim_grpc_call_cancel(call);
    }
    return st;
}
