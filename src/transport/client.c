/*
 * gRPC client: one HTTP/2 connection (h2c with prior knowledge) to one
 * target. The h2conn exists from the start, so calls can be opened while
 * the name is resolved (uv_getaddrinfo, on the libuv thread pool) and the
 * addresses are tried in order; the frames queued meanwhile go out as soon
 * as the socket connects.
 *
 * Part 1 connects once: when the connection ends, the client reports CLOSED
 * and refuses new calls. Reconnection with backoff belongs to part 2.
 */
#include "transport/grpc.h"
#include "transport/endpoint.h"
#include "transport/h2conn.h"
#include "core/alloc.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>

#define MOD "transport"

struct slim_grpc_client {
    uv_loop_t *loop;
    slim_grpc_config cfg;
    slim_endpoint ep;
    char target[SLIM_ENDPOINT_HOST_MAX + 16];
    char authority[SLIM_ENDPOINT_HOST_MAX + 16];
    slim_grpc_state_cb cb;
    void *ud;
    slim_h2conn *conn; /* NULL once closed */
    slim_grpc_conn_stats last_stats;
    uv_getaddrinfo_t gai;
    bool resolving;
    struct addrinfo *addrs, *next_addr;
    slim_io *attempt; /* socket being connected */
    uv_connect_t creq;
    bool connecting;
    int last_error; /* libuv error of the last failed attempt */
    bool freeing;
};

static void maybe_release(slim_grpc_client *c) {
    if (!c->freeing || c->resolving || c->connecting || c->conn != NULL)
        return;
    if (c->addrs != NULL)
        uv_freeaddrinfo(c->addrs);
    slim_free(c);
}

static void conn_closed(void *owner, slim_h2conn *conn, slim_status why) {
    slim_grpc_client *c = owner;
    slim_h2conn_stats(conn, &c->last_stats);
    c->conn = NULL;
    if (!c->freeing && c->cb != NULL)
        c->cb(c, SLIM_GRPC_CLOSED, why, c->ud);
    maybe_release(c);
}

/* Gives up connecting: the connection (and its calls) end with `why`. */
static void client_fail(slim_grpc_client *c, slim_status why, const char *reason) {
    SLIM_LOGW(MOD, "client %s: %s", c->target, reason);
    if (c->conn != NULL)
        slim_h2conn_close(c->conn, why, reason);
}

static void try_next_address(slim_grpc_client *c);

static void on_connect(uv_connect_t *req, int status) {
    slim_grpc_client *c = req->data;
    slim_io *io = c->attempt;
    c->connecting = false;
    c->attempt = NULL;
    if (c->freeing || c->conn == NULL) {
        /* Freed meanwhile: the pipe was closed by slim_grpc_client_free, or
         * is closed here. */
        if (status != UV_ECANCELED && io != NULL)
            slim_io_close(io);
        maybe_release(c);
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
    slim_io_name_peer(io);
    SLIM_LOGD(MOD, "client %s: connected to %s", c->target, io->peer);
    slim_h2conn *conn = c->conn;
    slim_h2conn_attach(conn, io);
    if (c->conn == conn && !slim_h2conn_closing(conn) && c->cb != NULL)
        c->cb(c, SLIM_GRPC_READY, SLIM_OK, c->ud);
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
    char reason[200];
    snprintf(reason, sizeof reason, "cannot connect: %s",
             c->last_error != 0 ? uv_strerror(c->last_error) : "no usable address");
    client_fail(c, SLIM_E_TRANSPORT_CONNECT, reason);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    slim_grpc_client *c = req->data;
    c->resolving = false;
    if (c->freeing || c->conn == NULL) {
        if (res != NULL)
            uv_freeaddrinfo(res);
        maybe_release(c);
        return;
    }
    if (status < 0) {
        char reason[200];
        snprintf(reason, sizeof reason, "cannot resolve %.100s: %s", c->ep.host,
                 uv_strerror(status));
        client_fail(c, SLIM_E_TRANSPORT_RESOLVE, reason);
        return;
    }
    c->addrs = c->next_addr = res;
    try_next_address(c);
}

static void start_unix(slim_grpc_client *c) {
    slim_io *io;
    if (slim_io_unix_new(c->loop, &io) != SLIM_OK) {
        client_fail(c, SLIM_E_TRANSPORT_CONNECT, "out of memory");
        return;
    }
    c->creq.data = c;
    c->attempt = io;
    c->connecting = true;
    uv_pipe_connect(&c->creq, (uv_pipe_t *)slim_io_stream(io), c->ep.path, on_connect);
}

slim_status slim_grpc_client_new(uv_loop_t *loop, const char *target, const slim_grpc_config *cfg,
                                 slim_grpc_state_cb cb, void *ud, slim_grpc_client **out) {
    slim_endpoint ep;
    slim_status st = slim_endpoint_parse(target, &ep);
    if (st != SLIM_OK)
        return st;
    if (ep.tls)
        return SLIM_E_UNSUPPORTED;
    slim_grpc_client *c = slim_calloc(1, sizeof *c);
    if (c == NULL)
        return SLIM_E_NOMEM;
    c->loop = loop;
    c->ep = ep;
    c->cb = cb;
    c->ud = ud;
    slim_grpc_config_resolve(cfg, &c->cfg);
    if (ep.kind == SLIM_ENDPOINT_UNIX)
        snprintf(c->authority, sizeof c->authority, "localhost");
    else
        (void)slim_endpoint_format(&ep, c->authority, sizeof c->authority);
    (void)slim_endpoint_format(&ep, c->target, sizeof c->target);
    slim_h2conn_owner owner = {NULL, NULL, conn_closed, c};
    st = slim_h2conn_new(loop, false, &c->cfg, &owner, &c->conn);
    if (st != SLIM_OK) {
        slim_free(c);
        return st;
    }
    if (ep.kind == SLIM_ENDPOINT_UNIX) {
        start_unix(c);
    } else {
        char port[8];
        snprintf(port, sizeof port, "%u", (unsigned)ep.port);
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        c->gai.data = c;
        int rc = uv_getaddrinfo(loop, &c->gai, on_resolved, ep.host, port, &hints);
        if (rc == 0) {
            c->resolving = true;
        } else {
            char reason[200];
            snprintf(reason, sizeof reason, "cannot resolve %.100s: %s", ep.host, uv_strerror(rc));
            client_fail(c, SLIM_E_TRANSPORT_RESOLVE, reason);
        }
    }
    *out = c;
    return SLIM_OK;
}

slim_status slim_grpc_client_open(slim_grpc_client *c, const slim_grpc_call_opts *opts,
                                  const slim_grpc_call_cbs *cbs, void *data, slim_grpc_call **out) {
    if (c->freeing || c->conn == NULL)
        return SLIM_E_CLOSED;
    return slim_h2conn_open(c->conn, c->authority, opts, cbs, data, out);
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
    if (c->resolving)
        uv_cancel((uv_req_t *)&c->gai); /* on_resolved follows, cancelled or not */
    if (c->connecting && c->attempt != NULL) {
        slim_io_close(c->attempt); /* on_connect follows with UV_ECANCELED */
        c->attempt = NULL;
    }
    if (c->conn != NULL)
        slim_h2conn_close(c->conn, SLIM_E_CANCELLED, "client closed");
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
    if (cb == NULL)
        return SLIM_E_INVALID_ARG;
    if (request.len > c->cfg.max_message_size)
        return SLIM_E_TRANSPORT_MSG_TOO_LARGE;
    unary_call *u = slim_calloc(1, sizeof *u);
    if (u == NULL)
        return SLIM_E_NOMEM;
    u->cb = cb;
    u->ud = ud;
    static const slim_grpc_call_cbs cbs = {NULL, unary_on_message, NULL, NULL, unary_on_close};
    slim_grpc_call *call;
    slim_status st = slim_grpc_client_open(c, opts, &cbs, u, &call);
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
