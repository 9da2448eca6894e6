/*
 * gRPC server: listeners (TCP and Unix sockets), the method table, and the
 * list of accepted connections. Each accepted socket becomes a plain pipe
 * (wrapped in TLS on a TLS listener) and an h2conn; everything
 * protocol-related happens in h2conn.c.
 *
 * Each listener has a profile: the transport settings and TLS context of
 * the connections it accepts (SLIM configures them per listener). Profiles
 * live until the server is released, so connections may borrow them.
 *
 * The method table is a short array searched linearly: a node registers a
 * handful of methods, and lookups happen once per call, not per message.
 */
#include "transport/grpc.h"
#include "transport/endpoint.h"
#include "transport/h2conn.h"
#include "transport/tls.h"
#include "core/alloc.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MOD            "transport"
#define LISTEN_BACKLOG 128

/* One per listener; it lives as long as the server, so connections can
 * count themselves out after their listener closed. */
typedef struct profile {
    slim_grpc_config cfg;
    slim_tls_ctx *tls; /* NULL: plaintext */
    struct profile *next;
    size_t open;      /* connections accepted on it and still open */
    uint64_t refused; /* closed at once: `open` was at cfg.max_connections */
    uint64_t warned_ms;
    char endpoint[96];
    const slim_server_config *sc; /* borrowed; NULL unless listen_config */
} profile;

typedef struct listener {
    slim_uv_stream h;
    slim_grpc_server *srv; /* NULL once detached from a server */
    struct listener *next;
    profile *prof;
    bool is_unix;
    char unix_path[SLIM_ENDPOINT_PATH_MAX + 1]; /* socket file to remove at free */
} listener;

struct slim_grpc_server {
    uv_loop_t *loop;
    slim_grpc_config cfg;
    profile *profiles;          /* one per listener */
    slim_grpc_method **methods; /* each allocated alone: calls point at them */
    size_t n_methods;
    slim_grpc_header_check check;
    void *check_ud;
    listener *listeners;
    size_t listeners_open;
    slim_h2conn *conns;
    size_t n_conns;
    uint64_t accepted, tls_failed;
    bool freeing;
    bool shutting_down, shutdown_reported;
    slim_grpc_shutdown_cb shutdown_cb;
    void *shutdown_ud;
    int busy; /* inside a user callback: do not release */
};

/* ---- Connections ---- */

static const slim_grpc_method *find_method(void *owner, slim_str path) {
    slim_grpc_server *srv = owner;
    for (size_t i = 0; i < srv->n_methods; i++) {
        const char *p = srv->methods[i]->path;
        if (strlen(p) == path.len && memcmp(p, path.ptr, path.len) == 0)
            return srv->methods[i];
    }
    return NULL;
}

static slim_status run_check(void *owner, slim_grpc_call *call, const char **message) {
    slim_grpc_server *srv = owner;
    return srv->check != NULL ? srv->check(call, srv->check_ud, message) : SLIM_OK;
}

static void maybe_release(slim_grpc_server *srv) {
    if (!srv->freeing || srv->listeners_open > 0 || srv->n_conns > 0 || srv->busy > 0)
        return;
    while (srv->profiles != NULL) {
        profile *p = srv->profiles;
        srv->profiles = p->next;
        slim_tls_ctx_unref(p->tls);
        slim_free(p);
    }
    for (size_t i = 0; i < srv->n_methods; i++) {
        slim_free((void *)srv->methods[i]->path);
        slim_free(srv->methods[i]);
    }
    slim_free(srv->methods);
    slim_free(srv);
}

/* The shutdown finished once no connection is left. */
static void maybe_shutdown_done(slim_grpc_server *srv) {
    if (!srv->shutting_down || srv->shutdown_reported || srv->n_conns > 0)
        return;
    srv->shutdown_reported = true;
    SLIM_LOGD(MOD, "server shutdown complete");
    if (srv->shutdown_cb != NULL) {
        srv->busy++;
        srv->shutdown_cb(srv, srv->shutdown_ud);
        srv->busy--;
    }
}

static bool tls_error(slim_status st) {
    return st <= SLIM_E_TLS_CONFIG && st >= SLIM_E_TLS_VERSION;
}

static void conn_closed(void *owner, slim_h2conn *c, slim_status why, const char *reason) {
    (void)reason;
    slim_grpc_server *srv = owner;
    if (tls_error(why))
        srv->tls_failed++;
    slim_h2conn_link *l = slim_h2conn_links(c);
    ((profile *)l->tag)->open--;
    if (l->prev != NULL)
        slim_h2conn_links(l->prev)->next = l->next;
    else
        srv->conns = l->next;
    if (l->next != NULL)
        slim_h2conn_links(l->next)->prev = l->prev;
    srv->n_conns--;
    maybe_shutdown_done(srv);
    maybe_release(srv);
}

static void on_connection(uv_stream_t *server, int status) {
    listener *li = server->data;
    slim_grpc_server *srv = li->srv;
    if (srv == NULL || srv->freeing || srv->shutting_down)
        return;
    if (status < 0) {
        SLIM_LOGW_LIMITED(MOD, "accept failed: %s", uv_strerror(status));
        return;
    }
    slim_io *io;
    slim_status st =
        li->is_unix ? slim_io_unix_new(server->loop, &io) : slim_io_tcp_new(server->loop, &io);
    if (st != SLIM_OK) {
        SLIM_LOGW_LIMITED(MOD, "cannot accept a connection: %s", slim_status_str(st));
        return;
    }
    if (uv_accept(server, slim_io_stream(io)) != 0) {
        slim_io_close(io);
        return;
    }
    slim_io_name_peer(io);
    profile *prof = li->prof;
    if (prof->open >= prof->cfg.max_connections) {
        /* Accepted and closed at once, so the backlog does not fill with
         * connections that would only time out. */
        prof->refused++;
        uint64_t now = uv_now(server->loop);
        if (prof->warned_ms == 0 || now - prof->warned_ms >= 1000) {
            prof->warned_ms = now;
            SLIM_LOGW(MOD,
                      "listener %s: %zu connections open (max_connections); refusing new ones "
                      "(%llu refused so far)",
                      prof->endpoint, prof->open, (unsigned long long)prof->refused);
        }
        slim_io_close(io);
        return;
    }
    if (prof->tls != NULL) {
        st = slim_io_tls_new(prof->tls, io, NULL, &io); /* closes io on error */
        if (st != SLIM_OK) {
            SLIM_LOGW_LIMITED(MOD, "cannot start TLS for a connection: %s", slim_status_str(st));
            return;
        }
    }
    slim_h2conn_owner owner = {find_method, run_check, NULL, NULL, conn_closed, srv};
    slim_h2conn *c;
    st = slim_h2conn_new(server->loop, true, prof->tls != NULL, &prof->cfg, &owner, &c);
    if (st != SLIM_OK) {
        SLIM_LOGW_LIMITED(MOD, "cannot serve %s: %s", io->peer, slim_status_str(st));
        slim_io_close(io);
        return;
    }
    slim_h2conn_link *l = slim_h2conn_links(c);
    l->prev = NULL;
    l->tag = prof;
    prof->open++;
    srv->accepted++;
    l->next = srv->conns;
    if (srv->conns != NULL)
        slim_h2conn_links(srv->conns)->prev = c;
    srv->conns = c;
    srv->n_conns++;
    SLIM_LOGD(MOD, "accepted connection from %s", io->peer);
    slim_h2conn_attach(c, io);
}

/* ---- Listening ---- */

static void on_listener_closed(uv_handle_t *h) {
    listener *li = h->data;
    slim_grpc_server *srv = li->srv;
    slim_free(li);
    if (srv != NULL) {
        srv->listeners_open--;
        maybe_release(srv);
    }
}

/* A socket file at `path`: removed when nobody accepts on it (a leftover of
 * a process that died), an error when someone does or when it is not a
 * socket. */
static slim_status clear_stale_socket(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? SLIM_OK : SLIM_E_TRANSPORT_LISTEN;
    if (!S_ISSOCK(sb.st_mode)) {
        SLIM_LOGW(MOD, "cannot listen on unix://%s: the file exists and is not a socket", path);
        return SLIM_E_TRANSPORT_LISTEN;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return SLIM_E_TRANSPORT_LISTEN;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int err = errno;
    close(fd);
    if (rc == 0) {
        SLIM_LOGW(MOD, "cannot listen on unix://%s: another process is listening there", path);
        return SLIM_E_TRANSPORT_LISTEN;
    }
    if (err != ECONNREFUSED) {
        SLIM_LOGW(MOD, "cannot listen on unix://%s: %s", path, strerror(err));
        return SLIM_E_TRANSPORT_LISTEN;
    }
    if (unlink(path) != 0) {
        SLIM_LOGW(MOD, "cannot remove stale socket unix://%s: %s", path, strerror(errno));
        return SLIM_E_TRANSPORT_LISTEN;
    }
    SLIM_LOGI(MOD, "removed stale socket file unix://%s", path);
    return SLIM_OK;
}

/* Resolves a listening address: literals directly, names with a
 * synchronous getaddrinfo (listening is a start-up step). */
static slim_status resolve_listen(uv_loop_t *loop, const slim_endpoint *ep,
                                  struct sockaddr_storage *out) {
    memset(out, 0, sizeof *out);
    if (uv_ip4_addr(ep->host, ep->port, (struct sockaddr_in *)out) == 0)
        return SLIM_OK;
    if (uv_ip6_addr(ep->host, ep->port, (struct sockaddr_in6 *)out) == 0)
        return SLIM_OK;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)ep->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    uv_getaddrinfo_t req;
    int rc = uv_getaddrinfo(loop, &req, NULL, ep->host, port, &hints);
    if (rc != 0) {
        SLIM_LOGW(MOD, "cannot resolve %s: %s", ep->host, uv_strerror(rc));
        return SLIM_E_TRANSPORT_RESOLVE;
    }
    slim_status st = SLIM_E_TRANSPORT_RESOLVE;
    for (struct addrinfo *ai = req.addrinfo; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
            memcpy(out, ai->ai_addr, ai->ai_addrlen);
            st = SLIM_OK;
            break;
        }
    }
    uv_freeaddrinfo(req.addrinfo);
    return st;
}

static slim_status bound_name(listener *li, const slim_endpoint *ep, char *out, size_t cap) {
    slim_endpoint b = *ep;
    if (!li->is_unix) {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        if (uv_tcp_getsockname(&li->h.tcp, (struct sockaddr *)&ss, &len) != 0)
            return SLIM_E_TRANSPORT_LISTEN;
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, b.host, sizeof b.host);
            b.port = ntohs(a->sin6_port);
        } else {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
            uv_ip4_name(a, b.host, sizeof b.host);
            b.port = ntohs(a->sin_port);
        }
    }
    return out != NULL ? slim_endpoint_format(&b, out, cap) : SLIM_OK;
}

/* The profile of a new listener: its settings (the server's unless it has
 * its own), TLS context and connection count. */
static slim_status make_profile(slim_grpc_server *srv, const char *endpoint,
                                const slim_tls_config *tls, const slim_grpc_config *cfg,
                                profile **out) {
    bool secure = tls != NULL && !tls->insecure;
    profile *p = slim_calloc(1, sizeof *p);
    if (p == NULL)
        return SLIM_E_NOMEM;
    snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
    slim_grpc_config_resolve_role(cfg != NULL ? cfg : &srv->cfg, true, &p->cfg);
    if (secure) {
        char err[256];
        slim_status st = slim_tls_ctx_new(tls, true, &p->tls, err, sizeof err);
        if (st != SLIM_OK) {
            SLIM_LOGW(MOD, "cannot listen on %s with TLS: %s", endpoint, err);
            slim_free(p);
            return st;
        }
    }
    p->next = srv->profiles;
    srv->profiles = p;
    *out = p;
    return SLIM_OK;
}

slim_status slim_grpc_server_listen(slim_grpc_server *srv, const char *endpoint, char *bound,
                                    size_t bound_cap) {
    return slim_grpc_server_listen_tls(srv, endpoint, NULL, NULL, bound, bound_cap);
}

static slim_status listen_any(slim_grpc_server *srv, const char *endpoint,
                              const slim_tls_config *tls, const slim_grpc_config *cfg,
                              const slim_server_config *sc, char *bound, size_t bound_cap);

slim_status slim_grpc_server_listen_config(slim_grpc_server *srv, const slim_server_config *sc,
                                           char *bound, size_t bound_cap) {
    if (sc == NULL || sc->endpoint == NULL)
        return SLIM_E_INVALID_ARG;
    slim_grpc_config cfg;
    slim_grpc_config_from_server(sc, &srv->cfg, &cfg);
    return listen_any(srv, sc->endpoint, &sc->tls, &cfg, sc, bound, bound_cap);
}

slim_status slim_grpc_server_listen_tls(slim_grpc_server *srv, const char *endpoint,
                                        const slim_tls_config *tls, const slim_grpc_config *cfg,
                                        char *bound, size_t bound_cap) {
    return listen_any(srv, endpoint, tls, cfg, NULL, bound, bound_cap);
}

static slim_status listen_any(slim_grpc_server *srv, const char *endpoint,
                              const slim_tls_config *tls, const slim_grpc_config *cfg,
                              const slim_server_config *sc, char *bound, size_t bound_cap) {
    if (srv->freeing || srv->shutting_down)
        return SLIM_E_STATE;
    slim_endpoint ep;
    slim_status st = slim_endpoint_parse(endpoint, &ep);
    if (st != SLIM_OK)
        return st;
    if (ep.tls && (tls == NULL || tls->insecure)) {
        SLIM_LOGW(MOD, "cannot listen on %s: an https:// endpoint needs TLS settings", endpoint);
        return SLIM_E_TLS_CONFIG;
    }
    profile *prof;
    st = make_profile(srv, endpoint, tls, cfg, &prof);
    if (st != SLIM_OK)
        return st;
    prof->sc = sc;
    struct sockaddr_storage addr;
    if (ep.kind == SLIM_ENDPOINT_TCP) {
        st = resolve_listen(srv->loop, &ep, &addr);
        if (st != SLIM_OK)
            return st;
    } else {
        st = clear_stale_socket(ep.path);
        if (st != SLIM_OK)
            return st;
    }
    listener *li = slim_calloc(1, sizeof *li);
    if (li == NULL)
        return SLIM_E_NOMEM;
    li->is_unix = ep.kind == SLIM_ENDPOINT_UNIX;
    li->prof = prof;
    int rc = slim_uv_stream_init(srv->loop, &li->h, li->is_unix);
    if (rc != 0) {
        slim_free(li);
        return SLIM_E_TRANSPORT_LISTEN;
    }
    li->h.handle.data = li;
    if (li->is_unix)
        rc = uv_pipe_bind(&li->h.pipe, ep.path);
    else
        rc = uv_tcp_bind(&li->h.tcp, (const struct sockaddr *)&addr, 0);
    if (rc == 0) {
        if (li->is_unix)
            snprintf(li->unix_path, sizeof li->unix_path, "%s", ep.path);
        rc = uv_listen(&li->h.stream, LISTEN_BACKLOG, on_connection);
    }
    if (rc == 0)
        st = bound_name(li, &ep, bound, bound_cap);
    if (rc == 0 && st == SLIM_OK) /* for its warnings: the port actually bound */
        (void)bound_name(li, &ep, prof->endpoint, sizeof prof->endpoint);
    if (rc != 0 || st != SLIM_OK) {
        SLIM_LOGW(MOD, "cannot listen on %s: %s", endpoint,
                  rc != 0 ? uv_strerror(rc) : slim_status_str(st));
        if (li->unix_path[0] != '\0')
            unlink(li->unix_path);
        uv_close(&li->h.handle, on_listener_closed); /* li->srv is NULL: just frees */
        return rc != 0 ? SLIM_E_TRANSPORT_LISTEN : st;
    }
    li->srv = srv;
    li->next = srv->listeners;
    srv->listeners = li;
    srv->listeners_open++;
    return SLIM_OK;
}

/* ---- Server life ---- */

slim_status slim_grpc_server_new(uv_loop_t *loop, const slim_grpc_config *cfg,
                                 slim_grpc_server **out) {
    slim_grpc_server *srv = slim_calloc(1, sizeof *srv);
    if (srv == NULL)
        return SLIM_E_NOMEM;
    srv->loop = loop;
    slim_grpc_config_resolve_role(cfg, true, &srv->cfg);
    *out = srv;
    return SLIM_OK;
}

slim_status slim_grpc_server_add_method(slim_grpc_server *srv, const slim_grpc_method *m) {
    if (m == NULL || m->path == NULL || m->path[0] != '/' || m->on_call == NULL ||
        m->kind > SLIM_GRPC_BIDI_STREAMING)
        return SLIM_E_INVALID_ARG;
    if (find_method(srv, slim_str_of(m->path, strlen(m->path))) != NULL)
        return SLIM_E_EXISTS;
    char *path = slim_strndup(m->path, strlen(m->path));
    slim_grpc_method *copy = slim_malloc(sizeof *copy);
    slim_grpc_method **arr = slim_realloc(srv->methods, (srv->n_methods + 1) * sizeof *arr);
    if (arr != NULL)
        srv->methods = arr;
    if (path == NULL || copy == NULL || arr == NULL) {
        slim_free(path);
        slim_free(copy);
        return SLIM_E_NOMEM;
    }
    *copy = *m;
    copy->path = path;
    arr[srv->n_methods++] = copy;
    return SLIM_OK;
}

void slim_grpc_server_set_header_check(slim_grpc_server *srv, slim_grpc_header_check fn, void *ud) {
    srv->check = fn;
    srv->check_ud = ud;
}

size_t slim_grpc_server_connections(const slim_grpc_server *srv) {
    return srv->n_conns;
}

const slim_server_config *slim_grpc_call_server_config(const slim_grpc_call *call) {
    const profile *p = slim_h2conn_links(slim_h2conn_of(call))->tag;
    return p != NULL ? p->sc : NULL;
}

void slim_grpc_server_stats_get(const slim_grpc_server *srv, slim_grpc_server_stats *out) {
    *out = (slim_grpc_server_stats){
        .open = srv->n_conns, .accepted = srv->accepted, .tls_failed = srv->tls_failed};
    for (const profile *p = srv->profiles; p != NULL; p = p->next)
        out->refused += p->refused;
}

static void close_listeners(slim_grpc_server *srv) {
    for (listener *li = srv->listeners; li != NULL; li = li->next) {
        if (li->unix_path[0] != '\0')
            unlink(li->unix_path);
        uv_close(&li->h.handle, on_listener_closed);
    }
    srv->listeners = NULL;
}

void slim_grpc_server_shutdown(slim_grpc_server *srv, uint64_t drain_timeout_ms,
                               slim_grpc_shutdown_cb done, void *ud) {
    if (srv->freeing || srv->shutting_down)
        return;
    srv->shutting_down = true;
    srv->shutdown_cb = done;
    srv->shutdown_ud = ud;
    close_listeners(srv);
    SLIM_LOGI(MOD, "server shutting down: draining %zu connection(s) for up to %llu ms",
              srv->n_conns, (unsigned long long)drain_timeout_ms);
    srv->busy++; /* a drain may close connections (and call back) at once */
    for (slim_h2conn *c = srv->conns, *next; c != NULL; c = next) {
        next = slim_h2conn_links(c)->next;
        slim_h2conn_drain(c, true, "server shutting down", drain_timeout_ms);
    }
    srv->busy--;
    maybe_shutdown_done(srv);
    maybe_release(srv);
}

void slim_grpc_server_free(slim_grpc_server *srv) {
    if (srv == NULL || srv->freeing)
        return;
    srv->freeing = true;
    if (!srv->shutting_down)
        close_listeners(srv);
    srv->shutting_down = srv->shutdown_reported = true; /* no shutdown callback any more */
    for (slim_h2conn *c = srv->conns; c != NULL; c = slim_h2conn_links(c)->next)
        slim_h2conn_close(c, SLIM_E_CLOSED, "server shutting down");
    maybe_release(srv);
}
