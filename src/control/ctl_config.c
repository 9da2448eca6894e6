/*
 * The controller's YAML configuration: upstream's keys (northbound,
 * southbound, reconciler, logging) and ours (database, routes, timeouts,
 * the auth blocks, metrics).
 *
 *   northbound: {httpHost: 127.0.0.1, httpPort: 50051,
 *                tls: {certFile: ..., keyFile: ..., caFile: ...},
 *                auth: {tokens: [T1, T2]}}
 *   southbound: {httpHost: 127.0.0.1, httpPort: 50052,
 *                tls: {certFile: ..., keyFile: ..., caFile: ...},
 *                auth: {sharedSecret: S, nodes: [slim/0, slim/1]}}
 *   logging:    {level: info}
 *   database:   {path: ./slim-control-plane.db}
 *   routes:     {automatic: true}
 *   timeouts:   {node: 10s, register: 15s, drain: 10s}
 *   metrics:    {endpoint: "127.0.0.1:9465"}
 *
 * Both tls blocks mean the same (caFile: client certificates signed by it
 * are required; useSpiffe is refused). northbound.auth.tokens: every
 * northbound call must carry "authorization: Bearer <one of them>".
 * southbound.auth.sharedSecret: every control stream must carry a
 * shared-secret token (docs/identity.md) made for the node it registers;
 * southbound.auth.nodes: the only node ids that may register. Lists are
 * non-empty lists of non-empty strings. docs/control-plane.md has the
 * statuses of each refusal.
 *
 * The environment variables upstream reads (NB_API_HTTP_HOST,
 * NB_API_HTTP_PORT, SB_API_HTTP_HOST, SB_API_HTTP_PORT, API_LOG_LEVEL) win
 * over the file.
 */
#include "control/ctl.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "node/metrics.h"
#include "session/identity.h"
#include "transport/endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_HOST    "127.0.0.1"
#define DEFAULT_NB_PORT "50051"
#define DEFAULT_SB_PORT "50052"
#define DEFAULT_DB      "./slim-control-plane.db"

typedef struct walk {
    slim_cfg_doc *doc;
    slim_cfg_error *err;
    slim_cfg_warn_fn warn;
    void *ud;
} walk;

static void note(walk *w, const slim_cfg_node *n, const char *path, const char *why) {
    if (w->warn != NULL)
        w->warn(path, n != NULL ? n->line : 0, why, w->ud);
}

static void unknown_key(const char *path, unsigned line, void *ud) {
    walk *w = ud;
    if (w->warn != NULL)
        w->warn(path, line, "unknown key, ignored", w->ud);
}

void slim_ctl_config_defaults(slim_ctl_config *c) {
    memset(c, 0, sizeof *c);
    slim_tls_config *t[2] = {&c->nb_tls, &c->sb_tls};
    for (int i = 0; i < 2; i++) {
        t[i]->insecure = true;
        t[i]->include_system_ca = true;
        t[i]->version = SLIM_TLS_1_3;
    }
    c->auto_routes = true;
    c->node_timeout_ms = 10000;
    c->channel_timeout_ms = 75000;
    c->register_timeout_ms = 15000;
    c->drain_timeout_ms = 10000;
}

void slim_ctl_config_cleanup(slim_ctl_config *c) {
    slim_free(c->nb_endpoint);
    slim_free(c->sb_endpoint);
    slim_free(c->db_path);
    slim_tls_config_cleanup(&c->nb_tls);
    slim_tls_config_cleanup(&c->sb_tls);
    for (size_t i = 0; i < c->n_nb_tokens; i++) {
        slim_memzero(c->nb_tokens[i], strlen(c->nb_tokens[i]));
        slim_free(c->nb_tokens[i]);
    }
    slim_free(c->nb_tokens);
    if (c->sb_secret != NULL)
        slim_memzero(c->sb_secret, strlen(c->sb_secret));
    slim_free(c->sb_secret);
    for (size_t i = 0; i < c->n_sb_nodes; i++)
        slim_free(c->sb_nodes[i]);
    slim_free(c->sb_nodes);
    slim_free(c->metrics_endpoint);
    memset(c, 0, sizeof *c);
}

/* A string or a number, as text (ports are written both ways). */
static slim_status scalar(walk *w, slim_cfg_node *n, const char *path, const char **out) {
    if (n == NULL)
        return SLIM_OK;
    return slim_cfg_string(w->doc, n, path, out, w->err);
}

static slim_status set_str(char **dst, const char *v) {
    char *copy = slim_strdup(v);
    if (copy == NULL)
        return SLIM_E_NOMEM;
    slim_free(*dst);
    *dst = copy;
    return SLIM_OK;
}

/* host:port of a listener block; env_host/env_port override. */
static slim_status listener(walk *w, const char *key, const char *env_host, const char *env_port,
                            const char *def_port, char **out) {
    slim_cfg_node *b = slim_cfg_get(w->doc->root, key);
    slim_status st = slim_cfg_expect(w->doc, b, key, SLIM_CFG_MAP, w->err);
    if (st != SLIM_OK)
        return st;
    const char *host = DEFAULT_HOST, *port = def_port;
    char p[128];
    slim_cfg_path(p, sizeof p, key, "httpHost");
    if ((st = scalar(w, slim_cfg_get(b, "httpHost"), p, &host)) != SLIM_OK)
        return st;
    slim_cfg_path(p, sizeof p, key, "httpPort");
    slim_cfg_node *pn = slim_cfg_get(b, "httpPort");
    if ((st = scalar(w, pn, p, &port)) != SLIM_OK)
        return st;
    if (getenv(env_host) != NULL && getenv(env_host)[0] != '\0')
        host = getenv(env_host);
    if (getenv(env_port) != NULL && getenv(env_port)[0] != '\0')
        port = getenv(env_port);
    char *end;
    unsigned long v = strtoul(port, &end, 10);
    if (port[0] == '\0' || *end != '\0' || v > 65535)
        return slim_cfg_fail(w->err, w->doc, pn, p, "not a port number: \"%s\"", port);
    if (host[0] == '\0')
        return slim_cfg_fail(w->err, w->doc, b, key, "httpHost is empty");
    char buf[512];
    int n = strchr(host, ':') != NULL && host[0] != '['
                ? snprintf(buf, sizeof buf, "[%s]:%lu", host, v)
                : snprintf(buf, sizeof buf, "%s:%lu", host, v);
    if (n < 0 || (size_t)n >= sizeof buf)
        return slim_cfg_fail(w->err, w->doc, b, key, "host name too long");
    return set_str(out, buf);
}

/* <block>.tls, for northbound and southbound alike, in either spelling:
 * upstream's controller's certFile/keyFile/caFile (client certificates
 * required when caFile is set; SPIFFE is not supported), or a node
 * ServerConfig's (docs/configuration.md: source / cert_file, key_file,
 * client_ca / client_ca_file, insecure, tls_version). */
static slim_status tls_block(walk *w, const char *block, slim_tls_config *out) {
    slim_cfg_node *b = slim_cfg_get(w->doc->root, block);
    slim_cfg_node *t = slim_cfg_get(b, "tls");
    char path[64], p[128];
    slim_cfg_path(path, sizeof path, block, "tls");
    slim_status st = slim_cfg_expect(w->doc, t, path, SLIM_CFG_MAP, w->err);
    if (st != SLIM_OK || t == NULL)
        return st;
    static const char *const upstream[] = {"certFile", "keyFile", "caFile", "useSpiffe"};
    bool camel = false;
    for (size_t i = 0; i < sizeof upstream / sizeof upstream[0]; i++)
        camel = camel || slim_cfg_get(t, upstream[i]) != NULL;
    if (!camel) {
        slim_tls_config_cleanup(out);
        return slim_server_tls_parse(w->doc, b, block, out, w->warn, w->ud, w->err);
    }
    bool spiffe = false;
    slim_cfg_node *n;
    slim_cfg_path(p, sizeof p, path, "useSpiffe");
    if ((n = slim_cfg_get(t, "useSpiffe")) != NULL &&
        (st = slim_cfg_bool(w->doc, n, p, &spiffe, w->err)) != SLIM_OK)
        return st;
    if (spiffe)
        return slim_cfg_fail(w->err, w->doc, n, p,
                             "SPIFFE certificates are not supported; use certFile, keyFile and "
                             "caFile");
    static const struct {
        const char *key;
        size_t off;
    } files[] = {
        {"certFile", offsetof(slim_tls_config, cert_file)},
        {"keyFile", offsetof(slim_tls_config, key_file)},
        {"caFile", offsetof(slim_tls_config, client_ca_file)},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *v = NULL;
        slim_cfg_path(p, sizeof p, path, files[i].key);
        if ((st = scalar(w, slim_cfg_get(t, files[i].key), p, &v)) != SLIM_OK)
            return st;
        if (v != NULL && (st = set_str((char **)((char *)out + files[i].off), v)) != SLIM_OK)
            return st;
    }
    if (out->cert_file == NULL || out->key_file == NULL)
        return slim_cfg_fail(w->err, w->doc, t, path, "TLS needs both certFile and keyFile");
    out->insecure = false;
    return SLIM_OK;
}

/* A list of non-empty strings at `path`, copied into *out / *n_out. */
static slim_status str_list(walk *w, slim_cfg_node *l, const char *path, char ***out,
                            size_t *n_out) {
    slim_status st = slim_cfg_expect(w->doc, l, path, SLIM_CFG_SEQ, w->err);
    if (st != SLIM_OK || l == NULL)
        return st;
    if (l->n == 0)
        return slim_cfg_fail(w->err, w->doc, l, path, "the list is empty");
    char **v = slim_calloc(l->n, sizeof *v);
    if (v == NULL)
        return SLIM_E_NOMEM;
    *out = v;
    for (size_t i = 0; i < l->n; i++) {
        char p[128];
        const char *s;
        slim_cfg_path_index(p, sizeof p, path, i);
        if ((st = slim_cfg_string(w->doc, l->items[i], p, &s, w->err)) != SLIM_OK)
            return st;
        if (s[0] == '\0')
            return slim_cfg_fail(w->err, w->doc, l->items[i], p, "empty string");
        if ((v[i] = slim_strdup(s)) == NULL)
            return SLIM_E_NOMEM;
        *n_out = i + 1;
    }
    return SLIM_OK;
}

/* northbound.auth: {tokens: [...]}; southbound.auth: {sharedSecret, nodes}. */
static slim_status auth(walk *w, slim_ctl_config *c) {
    slim_cfg_node *a = slim_cfg_get(slim_cfg_get(w->doc->root, "northbound"), "auth");
    slim_status st = slim_cfg_expect(w->doc, a, "northbound.auth", SLIM_CFG_MAP, w->err);
    if (st != SLIM_OK)
        return st;
    if (a != NULL) {
        slim_cfg_node *t = slim_cfg_get(a, "tokens");
        if (t == NULL)
            return slim_cfg_fail(w->err, w->doc, a, "northbound.auth",
                                 "needs tokens: a list of the tokens callers may bear");
        if ((st = str_list(w, t, "northbound.auth.tokens", &c->nb_tokens, &c->n_nb_tokens)) !=
            SLIM_OK)
            return st;
    }
    a = slim_cfg_get(slim_cfg_get(w->doc->root, "southbound"), "auth");
    if ((st = slim_cfg_expect(w->doc, a, "southbound.auth", SLIM_CFG_MAP, w->err)) != SLIM_OK ||
        a == NULL)
        return st;
    slim_cfg_node *n = slim_cfg_get(a, "sharedSecret");
    const char *s = NULL;
    if ((st = scalar(w, n, "southbound.auth.sharedSecret", &s)) != SLIM_OK)
        return st;
    if (s != NULL) {
        if (s[0] == '\0')
            return slim_cfg_fail(w->err, w->doc, n, "southbound.auth.sharedSecret", "empty secret");
        if (slim_identity_secret_is_weak((slim_str){s, strlen(s)}))
            note(w, n, "southbound.auth.sharedSecret", "weak: shorter than 32 bytes");
        if ((st = set_str(&c->sb_secret, s)) != SLIM_OK)
            return st;
    }
    return str_list(w, slim_cfg_get(a, "nodes"), "southbound.auth.nodes", &c->sb_nodes,
                    &c->n_sb_nodes);
}

/* metrics: {endpoint: "host:port"}, as the node's. */
static slim_status metrics(walk *w, slim_ctl_config *c) {
    const char *s;
    slim_status st = slim_metrics_config(w->doc, &s, w->err);
    return st != SLIM_OK || s == NULL ? st : set_str(&c->metrics_endpoint, s);
}

static slim_status durations(walk *w, slim_ctl_config *c) {
    slim_cfg_node *t = slim_cfg_get(w->doc->root, "timeouts");
    slim_status st = slim_cfg_expect(w->doc, t, "timeouts", SLIM_CFG_MAP, w->err);
    if (st != SLIM_OK || t == NULL)
        return st;
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"node", offsetof(slim_ctl_config, node_timeout_ms)},
        {"channel", offsetof(slim_ctl_config, channel_timeout_ms)},
        {"register", offsetof(slim_ctl_config, register_timeout_ms)},
        {"drain", offsetof(slim_ctl_config, drain_timeout_ms)},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        slim_cfg_node *n = slim_cfg_get(t, keys[i].key);
        char p[64];
        slim_cfg_path(p, sizeof p, "timeouts", keys[i].key);
        uint64_t *dst = (uint64_t *)((char *)c + keys[i].off);
        if (n != NULL && (st = slim_cfg_duration_ms(w->doc, n, p, dst, w->err)) != SLIM_OK)
            return st;
        if (*dst == 0)
            return slim_cfg_fail(w->err, w->doc, n, p, "must be more than 0");
    }
    return SLIM_OK;
}

static slim_status parse(walk *w, slim_ctl_config *c) {
    slim_status st;
    if ((st = listener(w, "northbound", "NB_API_HTTP_HOST", "NB_API_HTTP_PORT", DEFAULT_NB_PORT,
                       &c->nb_endpoint)) != SLIM_OK ||
        (st = listener(w, "southbound", "SB_API_HTTP_HOST", "SB_API_HTTP_PORT", DEFAULT_SB_PORT,
                       &c->sb_endpoint)) != SLIM_OK ||
        (st = tls_block(w, "northbound", &c->nb_tls)) != SLIM_OK ||
        (st = tls_block(w, "southbound", &c->sb_tls)) != SLIM_OK || (st = auth(w, c)) != SLIM_OK ||
        (st = metrics(w, c)) != SLIM_OK || (st = durations(w, c)) != SLIM_OK)
        return st;

    slim_cfg_node *root = w->doc->root, *b, *n;
    const char *s = NULL;
    b = slim_cfg_get(root, "logging");
    if ((st = slim_cfg_expect(w->doc, b, "logging", SLIM_CFG_MAP, w->err)) != SLIM_OK)
        return st;
    n = slim_cfg_get(b, "level");
    if ((st = scalar(w, n, "logging.level", &s)) != SLIM_OK)
        return st;
    if (getenv("API_LOG_LEVEL") != NULL && getenv("API_LOG_LEVEL")[0] != '\0')
        s = getenv("API_LOG_LEVEL");
    if (s != NULL) {
        if (slim_log_level_parse(s, &c->log_level) != 0)
            return slim_cfg_fail(w->err, w->doc, n, "logging.level",
                                 "unknown level \"%s\" (trace, debug, info, warn, error)", s);
        c->has_log_level = true;
    }

    b = slim_cfg_get(root, "database");
    if ((st = slim_cfg_expect(w->doc, b, "database", SLIM_CFG_MAP, w->err)) != SLIM_OK)
        return st;
    s = NULL;
    n = slim_cfg_get(b, "path");
    if ((st = scalar(w, n, "database.path", &s)) != SLIM_OK)
        return st;
    if (s != NULL) {
        if (s[0] == '\0')
            return slim_cfg_fail(w->err, w->doc, n, "database.path", "empty path");
        if ((st = set_str(&c->db_path, s)) != SLIM_OK)
            return st;
    }

    b = slim_cfg_get(root, "routes");
    if ((st = slim_cfg_expect(w->doc, b, "routes", SLIM_CFG_MAP, w->err)) != SLIM_OK)
        return st;
    if ((n = slim_cfg_get(b, "automatic")) != NULL &&
        (st = slim_cfg_bool(w->doc, n, "routes.automatic", &c->auto_routes, w->err)) != SLIM_OK)
        return st;

    /* Upstream's reconciler settings: our controller applies changes as
     * they come and re-sends the whole state when a node registers. */
    if ((b = slim_cfg_get(root, "reconciler")) != NULL) {
        slim_cfg_mark_used(b);
        note(w, b, "reconciler", "accepted without effect: changes are applied as they come");
    }
    if ((b = slim_cfg_get(root, "spire")) != NULL) {
        slim_cfg_mark_used(b);
        note(w, b, "spire", "accepted without effect: SPIFFE is not supported");
    }
    return SLIM_OK;
}

slim_status slim_ctl_config_load(const char *path, slim_ctl_config *out, slim_cfg_warn_fn warn,
                                 void *ud, slim_cfg_error *err) {
    slim_ctl_config c;
    slim_ctl_config_defaults(&c);
    slim_cfg_doc *doc = NULL;
    slim_status st = path != NULL ? slim_cfg_load_file(path, &doc, err)
                                  : slim_cfg_load_string("{}", 2, "<defaults>", &doc, err);
    if (st != SLIM_OK)
        return st;
    walk w = {doc, err, warn, ud};
    st = parse(&w, &c);
    if (st == SLIM_OK && c.db_path == NULL)
        st = set_str(&c.db_path, DEFAULT_DB);
    if (st == SLIM_OK)
        slim_cfg_unknown_keys(doc->root, "", unknown_key, &w);
    slim_cfg_free(doc);
    if (st != SLIM_OK) {
        if (st == SLIM_E_NOMEM)
            snprintf(err->msg, sizeof err->msg, "out of memory");
        slim_ctl_config_cleanup(&c);
        return st;
    }
    *out = c;
    return SLIM_OK;
}
