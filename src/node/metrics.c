/*
 * The monitoring listener: libmicrohttpd's own thread answers HTTP, the
 * loop thread renders. A request bumps `wanted` and wakes the loop; the
 * loop renders into `page` and sets `served`; the request waits (at most a
 * second) for served to reach what it wanted, then copies the page.
 */
#include "node/metrics.h"
#include "core/alloc.h"
#include "core/log.h"
#include "transport/endpoint.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MOD        "metrics"
#define WAIT_MS    1000
#define CONTENT    "text/plain; version=0.0.4; charset=utf-8"
#define MAX_CLIENT 64

struct slim_metrics {
    uv_async_t wake;
    struct MHD_Daemon *daemon;
    slim_metrics_render render;
    void *ud;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t wanted, served; /* request and answer counts */
    bool closing;
    slim_buf page; /* the last page rendered */
};

/* ---- the loop side ---- */

static void on_wake(uv_async_t *a) {
    slim_metrics *m = a->data;
    slim_buf page = SLIM_BUF_INIT;
    m->render(m->ud, &page);
    pthread_mutex_lock(&m->mu);
    slim_buf tmp = m->page;
    m->page = page;
    page = tmp;
    m->served = m->wanted;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    slim_buf_cleanup(&page);
}

/* ---- the HTTP side ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
                             const void *body, size_t len) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

/* Asks the loop for a fresh page; copies it into *out (caller frees) and
 * returns true, or false when the loop did not answer in time. */
static bool fresh_page(slim_metrics *m, char **out, size_t *len) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&m->mu);
    uint64_t want = ++m->wanted;
    uv_async_send(&m->wake);
    int rc = 0;
    while (m->served < want && !m->closing && rc == 0)
        rc = pthread_cond_timedwait(&m->cv, &m->mu, &until);
    bool ok = m->served >= want && !m->closing;
    *out = NULL;
    *len = 0;
    if (ok && (*out = slim_malloc(m->page.len + 1)) != NULL) {
        memcpy(*out, m->page.data, m->page.len);
        *len = m->page.len;
    }
    pthread_mutex_unlock(&m->mu);
    return ok && *out != NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **state) {
    (void)version;
    (void)upload_data;
    (void)upload_size;
    (void)state;
    slim_metrics *m = cls;
    static const char busy[] = "the node's loop did not answer in time\n";
    bool metrics = strcmp(url, "/metrics") == 0, health = strcmp(url, "/healthz") == 0;
    if (!metrics && !health) {
        static const char nf[] = "not found: try /metrics or /healthz\n";
        return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", nf, sizeof nf - 1);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char na[] = "only GET\n";
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", na, sizeof na - 1);
    }
    char *page;
    size_t len;
    if (!fresh_page(m, &page, &len))
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", busy, sizeof busy - 1);
    enum MHD_Result rc = metrics ? reply(c, MHD_HTTP_OK, CONTENT, page, len)
                                 : reply(c, MHD_HTTP_OK, "text/plain", "ok\n", 3);
    slim_free(page);
    return rc;
}

/* ---- life ---- */

static void on_closed(uv_handle_t *h) {
    slim_metrics *m = h->data;
    slim_buf_cleanup(&m->page);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    slim_free(m);
}

static slim_status resolve(const char *endpoint, struct sockaddr_storage *addr) {
    slim_endpoint ep;
    slim_status st = slim_endpoint_parse(endpoint, &ep);
    if (st != SLIM_OK || ep.kind != SLIM_ENDPOINT_TCP || ep.tls)
        return SLIM_E_TRANSPORT_BAD_ENDPOINT;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", ep.port);
    if (getaddrinfo(ep.host, port, &hints, &res) != 0 || res == NULL) {
        SLIM_LOGE(MOD, "cannot resolve %s", ep.host);
        return SLIM_E_TRANSPORT_LISTEN;
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return SLIM_OK;
}

slim_status slim_metrics_new(uv_loop_t *loop, const char *endpoint, slim_metrics_render render,
                             void *ud, char *bound, size_t cap, slim_metrics **out) {
    struct sockaddr_storage addr;
    slim_status st = resolve(endpoint, &addr);
    if (st != SLIM_OK)
        return st;
    slim_metrics *m = slim_calloc(1, sizeof *m);
    if (m == NULL)
        return SLIM_E_NOMEM;
    m->render = render;
    m->ud = ud;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    uv_async_init(loop, &m->wake, on_wake);
    m->wake.data = m;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)MAX_CLIENT, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                                 MHD_OPTION_END);
    if (m->daemon == NULL) {
        SLIM_LOGE(MOD, "cannot listen on %s for metrics", endpoint);
        uv_close((uv_handle_t *)&m->wake, on_closed);
        return SLIM_E_TRANSPORT_LISTEN;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    char host[INET6_ADDRSTRLEN] = "?";
    const void *a = addr.ss_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)&addr)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)&addr)->sin_addr;
    inet_ntop(addr.ss_family, a, host, sizeof host);
    snprintf(bound, cap, addr.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
             info != NULL ? info->port : 0);
    *out = m;
    return SLIM_OK;
}

void slim_metrics_free(slim_metrics *m) {
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    m->closing = true;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    MHD_stop_daemon(m->daemon); /* joins the HTTP thread */
    uv_close((uv_handle_t *)&m->wake, on_closed);
}

/* ---- the page ---- */

void slim_metrics_emit(slim_metrics_page *p, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (p->st == SLIM_OK && n > 0)
        p->st =
            slim_buf_append(p->out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void slim_metrics_head(slim_metrics_page *p, const char *name, const char *type, const char *help) {
    slim_metrics_emit(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void slim_metrics_one(slim_metrics_page *p, const char *name, const char *type, const char *help,
                      uint64_t v) {
    slim_metrics_head(p, name, type, help);
    slim_metrics_emit(p, "%s %llu\n", name, (unsigned long long)v);
}

/* ---- the configuration ---- */

slim_status slim_metrics_config(const slim_cfg_doc *doc, const char **endpoint,
                                slim_cfg_error *err) {
    *endpoint = NULL;
    slim_cfg_node *m = slim_cfg_get(doc->root, "metrics");
    slim_status st = slim_cfg_expect(doc, m, "metrics", SLIM_CFG_MAP, err);
    if (st != SLIM_OK || m == NULL)
        return st;
    slim_cfg_node *e = slim_cfg_get(m, "endpoint");
    if (e == NULL)
        return slim_cfg_fail(err, doc, m, "metrics",
                             "needs an endpoint, such as \"127.0.0.1:9464\"");
    const char *s;
    if ((st = slim_cfg_string(doc, e, "metrics.endpoint", &s, err)) != SLIM_OK)
        return st;
    slim_endpoint ep;
    if (slim_endpoint_parse(s, &ep) != SLIM_OK || ep.kind != SLIM_ENDPOINT_TCP || ep.tls)
        return slim_cfg_fail(err, doc, e, "metrics.endpoint",
                             "\"%s\": expected host:port (port 0: any free port)", s);
    *endpoint = s;
    return SLIM_OK;
}
