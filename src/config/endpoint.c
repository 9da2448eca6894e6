/*
 * ServerConfig / ClientConfig parsing. Each parser walks the node with the
 * typed accessors of cfg.h; unknown keys are left unread so the caller's
 * unknown-key report catches them.
 */
#include "config/endpoint.h"
#include "core/alloc.h"

#include <stdio.h>
#include <string.h>

typedef struct ctx {
    const slim_cfg_doc *doc;
    slim_cfg_error *err;
    slim_cfg_warn_fn warn;
    void *ud;
} ctx;

static char *dup(const char *s) {
    return s ? slim_strndup(s, strlen(s)) : NULL;
}

static void warn(ctx *c, slim_cfg_node *n, const char *path, const char *why) {
    if (c->warn != NULL && n != NULL)
        c->warn(path, n->line, why, c->ud);
}

/* Reads an optional string key into *out (a copy). */
static slim_status opt_string(ctx *c, slim_cfg_node *map, const char *path, const char *key,
                              char **out) {
    slim_cfg_node *n = slim_cfg_get(map, key);
    if (n == NULL || n->kind == SLIM_CFG_NULL)
        return SLIM_OK;
    char p[512];
    slim_cfg_path(p, sizeof p, path, key);
    const char *s;
    slim_status st = slim_cfg_string(c->doc, n, p, &s, c->err);
    if (st != SLIM_OK)
        return st;
    char *copy = dup(s);
    if (copy == NULL)
        return SLIM_E_NOMEM;
    slim_free(*out);
    *out = copy;
    return SLIM_OK;
}

static slim_status opt_bool(ctx *c, slim_cfg_node *map, const char *path, const char *key,
                            bool *out) {
    slim_cfg_node *n = slim_cfg_get(map, key);
    if (n == NULL || n->kind == SLIM_CFG_NULL)
        return SLIM_OK;
    char p[512];
    slim_cfg_path(p, sizeof p, path, key);
    return slim_cfg_bool(c->doc, n, p, out, c->err);
}

static slim_status opt_duration(ctx *c, slim_cfg_node *map, const char *path, const char *key,
                                uint64_t *out) {
    slim_cfg_node *n = slim_cfg_get(map, key);
    if (n == NULL || n->kind == SLIM_CFG_NULL)
        return SLIM_OK;
    char p[512];
    slim_cfg_path(p, sizeof p, path, key);
    return slim_cfg_duration_ms(c->doc, n, p, out, c->err);
}

static slim_status opt_uint(ctx *c, slim_cfg_node *map, const char *path, const char *key,
                            uint64_t max, uint64_t *out) {
    slim_cfg_node *n = slim_cfg_get(map, key);
    if (n == NULL || n->kind == SLIM_CFG_NULL)
        return SLIM_OK;
    char p[512];
    slim_cfg_path(p, sizeof p, path, key);
    return slim_cfg_uint(c->doc, n, p, 0, max, out, c->err);
}

/* A key that is accepted and has no effect here. */
static void ignored(ctx *c, slim_cfg_node *map, const char *path, const char *key,
                    const char *why) {
    slim_cfg_node *n = slim_cfg_get(map, key);
    if (n == NULL || n->kind == SLIM_CFG_NULL)
        return;
    slim_cfg_mark_used(n);
    char p[512];
    slim_cfg_path(p, sizeof p, path, key);
    warn(c, n, p, why);
}

/* The `type` of a tagged union ({type: file, ...}); NULL with an error set
 * when missing. */
static const char *type_of(ctx *c, slim_cfg_node *n, const char *path, slim_status *st) {
    char p[512];
    slim_cfg_path(p, sizeof p, path, "type");
    const char *t = NULL;
    *st = slim_cfg_expect(c->doc, n, path, SLIM_CFG_MAP, c->err);
    if (*st == SLIM_OK)
        *st = slim_cfg_string(c->doc, slim_cfg_get(n, "type"), p, &t, c->err);
    return *st == SLIM_OK ? t : NULL;
}

/* ---- authentication: only "none" is implemented ---- */

static slim_status auth(ctx *c, slim_cfg_node *map, const char *path) {
    slim_cfg_node *n = slim_cfg_get(map, "auth");
    if (n == NULL || n->kind == SLIM_CFG_NULL)
        return SLIM_OK;
    char p[512];
    slim_cfg_path(p, sizeof p, path, "auth");
    slim_cfg_mark_used(n);
    const char *kind = NULL;
    if (n->kind == SLIM_CFG_SCALAR)
        kind = n->text; /* older spelling: auth: none */
    else if (n->kind == SLIM_CFG_MAP && slim_cfg_get(n, "type") != NULL &&
             slim_cfg_get(n, "type")->kind == SLIM_CFG_SCALAR)
        kind = slim_cfg_get(n, "type")->text;
    else if (n->kind == SLIM_CFG_MAP && n->n == 1)
        kind = n->keys[0]; /* older spelling: auth: {basic: {...}} */
    if (kind != NULL && strcmp(kind, "none") == 0)
        return SLIM_OK;
    return slim_cfg_fail(c->err, c->doc, n, p,
                         "authentication \"%s\" is not supported by this implementation; "
                         "remove it or use `type: none` (the node will not run with less "
                         "security than its config asks for)",
                         kind ? kind : "?");
}

/* ---- per-hop header MACs (default on, as upstream) ---- */

static slim_status header_mac(ctx *c, slim_cfg_node *map, const char *path, bool *require) {
    ignored(c, map, path, "link_hmac_poll_interval_ms",
            "the link key is ready when negotiation ends; nothing polls for it");
    return opt_bool(c, map, path, "require_header_mac", require);
}

/* ---- TLS ---- */

static slim_status tls_version(ctx *c, slim_cfg_node *tls, const char *path,
                               slim_tls_version *out) {
    slim_cfg_node *n = slim_cfg_get(tls, "tls_version");
    if (n == NULL || n->kind == SLIM_CFG_NULL)
        return SLIM_OK;
    char p[512];
    slim_cfg_path(p, sizeof p, path, "tls_version");
    const char *v;
    slim_status st = slim_cfg_string(c->doc, n, p, &v, c->err);
    if (st != SLIM_OK)
        return st;
    if (strcmp(v, "tls1.3") == 0)
        *out = SLIM_TLS_1_3;
    else if (strcmp(v, "tls1.2") == 0)
        *out = SLIM_TLS_1_2;
    else
        return slim_cfg_fail(c->err, c->doc, n, p,
                             "expected \"tls1.2\" or \"tls1.3\", found \"%s\"", v);
    return SLIM_OK;
}

/* source: {type: file, cert, key} | {type: pem, cert, key} | {type: none} */
static slim_status tls_source(ctx *c, slim_cfg_node *tls, const char *path, slim_tls_config *t) {
    slim_cfg_node *n = slim_cfg_get(tls, "source");
    if (n == NULL || n->kind == SLIM_CFG_NULL)
        return SLIM_OK;
    char p[512];
    slim_cfg_path(p, sizeof p, path, "source");
    slim_status st;
    const char *type = type_of(c, n, p, &st);
    if (type == NULL)
        return st;
    if (strcmp(type, "none") == 0)
        return SLIM_OK;
    if (strcmp(type, "file") == 0 || strcmp(type, "pem") == 0) {
        bool file = type[0] == 'f';
        char **cert = file ? &t->cert_file : &t->cert_pem;
        char **key = file ? &t->key_file : &t->key_pem;
        if ((st = opt_string(c, n, p, "cert", cert)) != SLIM_OK ||
            (st = opt_string(c, n, p, "key", key)) != SLIM_OK)
            return st;
        if (*cert == NULL || *key == NULL)
            return slim_cfg_fail(c->err, c->doc, n, p, "needs both cert and key");
        return SLIM_OK;
    }
    return slim_cfg_fail(c->err, c->doc, n, p,
                         "certificate source \"%s\" is not supported (use file or pem)", type);
}

/* ca_source / client_ca: {type: file, path} | {type: pem, data} | {type: none} */
static slim_status ca_source(ctx *c, slim_cfg_node *tls, const char *path, const char *key,
                             char **file, char **pem) {
    slim_cfg_node *n = slim_cfg_get(tls, key);
    if (n == NULL || n->kind == SLIM_CFG_NULL)
        return SLIM_OK;
    char p[512];
    slim_cfg_path(p, sizeof p, path, key);
    slim_status st;
    const char *type = type_of(c, n, p, &st);
    if (type == NULL)
        return st;
    if (strcmp(type, "none") == 0)
        return SLIM_OK;
    if (strcmp(type, "file") == 0) {
        if ((st = opt_string(c, n, p, "path", file)) != SLIM_OK)
            return st;
        return *file ? SLIM_OK : slim_cfg_fail(c->err, c->doc, n, p, "needs a path");
    }
    if (strcmp(type, "pem") == 0) {
        if ((st = opt_string(c, n, p, "data", pem)) != SLIM_OK)
            return st;
        return *pem ? SLIM_OK : slim_cfg_fail(c->err, c->doc, n, p, "needs data");
    }
    return slim_cfg_fail(c->err, c->doc, n, p,
                         "CA source \"%s\" is not supported (use file or pem)", type);
}

static slim_status tls(ctx *c, slim_cfg_node *map, const char *path, bool server,
                       slim_tls_config *t) {
    slim_cfg_node *n = slim_cfg_get(map, "tls");
    char p[512];
    slim_cfg_path(p, sizeof p, path, "tls");
    slim_status st = slim_cfg_expect(c->doc, n, p, SLIM_CFG_MAP, c->err);
    if (st != SLIM_OK)
        return st;
    if (n == NULL)
        return server ? slim_cfg_fail(c->err, c->doc, map, p,
                                      "missing server cert and key (or set insecure: true for "
                                      "plaintext)")
                      : SLIM_OK;
    if ((st = opt_bool(c, n, p, "insecure", &t->insecure)) != SLIM_OK ||
        (st = opt_bool(c, n, p, "include_system_ca_certs_pool", &t->include_system_ca)) !=
            SLIM_OK ||
        (st = tls_version(c, n, p, &t->version)) != SLIM_OK ||
        (st = tls_source(c, n, p, t)) != SLIM_OK ||
        (st = ca_source(c, n, p, "ca_source", &t->ca_file, &t->ca_pem)) != SLIM_OK)
        return st;
    /* The older flattened spelling. */
    if ((st = opt_string(c, n, p, "cert_file", &t->cert_file)) != SLIM_OK ||
        (st = opt_string(c, n, p, "key_file", &t->key_file)) != SLIM_OK ||
        (st = opt_string(c, n, p, "cert_pem", &t->cert_pem)) != SLIM_OK ||
        (st = opt_string(c, n, p, "key_pem", &t->key_pem)) != SLIM_OK ||
        (st = opt_string(c, n, p, "ca_file", &t->ca_file)) != SLIM_OK ||
        (st = opt_string(c, n, p, "ca_pem", &t->ca_pem)) != SLIM_OK)
        return st;
    if (server) {
        if ((st = ca_source(c, n, p, "client_ca", &t->client_ca_file, &t->client_ca_pem)) !=
                SLIM_OK ||
            (st = opt_string(c, n, p, "client_ca_file", &t->client_ca_file)) != SLIM_OK ||
            (st = opt_string(c, n, p, "client_ca_pem", &t->client_ca_pem)) != SLIM_OK)
            return st;
        ignored(c, n, p, "reload_client_ca_file", "certificate reloading is not implemented");
        static const char *const client_side[] = {"ca_file", "ca_pem", "ca_source"};
        for (size_t i = 0; i < sizeof client_side / sizeof client_side[0]; i++)
            ignored(c, n, p, client_side[i],
                    "a client's setting, without effect on a server: client_ca requires client "
                    "certificates");
    } else {
        if ((st = opt_bool(c, n, p, "insecure_skip_verify", &t->insecure_skip_verify)) != SLIM_OK)
            return st;
    }
    ignored(c, n, p, "reload_interval", "certificate reloading is not implemented");
    if ((t->cert_file && t->cert_pem) || (t->key_file && t->key_pem))
        return slim_cfg_fail(c->err, c->doc, n, p,
                             "give the certificate and key either as files or as PEM, not both");
    if (!!(t->cert_file || t->cert_pem) != !!(t->key_file || t->key_pem))
        return slim_cfg_fail(c->err, c->doc, n, p, "a certificate needs its key and vice versa");
    if (server && !t->insecure && !(t->cert_file || t->cert_pem))
        return slim_cfg_fail(c->err, c->doc, n, p,
                             "missing server cert and key (or set insecure: true for plaintext)");
    return SLIM_OK;
}

/* ---- keepalive and backoff ---- */

static slim_status server_keepalive(ctx *c, slim_cfg_node *map, const char *path,
                                    slim_server_keepalive *k) {
    slim_cfg_node *n = slim_cfg_get(map, "keepalive");
    char p[512];
    slim_cfg_path(p, sizeof p, path, "keepalive");
    slim_status st = slim_cfg_expect(c->doc, n, p, SLIM_CFG_MAP, c->err);
    if (st != SLIM_OK || n == NULL)
        return st;
    if ((st = opt_duration(c, n, p, "time", &k->time_ms)) != SLIM_OK ||
        (st = opt_duration(c, n, p, "timeout", &k->timeout_ms)) != SLIM_OK ||
        (st = opt_duration(c, n, p, "max_connection_idle", &k->max_connection_idle_ms)) !=
            SLIM_OK ||
        (st = opt_duration(c, n, p, "max_connection_age", &k->max_connection_age_ms)) != SLIM_OK ||
        (st = opt_duration(c, n, p, "max_connection_age_grace", &k->max_connection_age_grace_ms)) !=
            SLIM_OK)
        return st;
    return SLIM_OK;
}

static slim_status client_keepalive(ctx *c, slim_cfg_node *map, const char *path,
                                    slim_client_keepalive *k) {
    slim_cfg_node *n = slim_cfg_get(map, "keepalive");
    char p[512];
    slim_cfg_path(p, sizeof p, path, "keepalive");
    slim_status st = slim_cfg_expect(c->doc, n, p, SLIM_CFG_MAP, c->err);
    if (st != SLIM_OK || n == NULL)
        return st;
    if ((st = opt_duration(c, n, p, "http2_keepalive", &k->http2_keepalive_ms)) != SLIM_OK ||
        (st = opt_duration(c, n, p, "timeout", &k->timeout_ms)) != SLIM_OK ||
        (st = opt_duration(c, n, p, "tcp_keepalive", &k->tcp_keepalive_ms)) != SLIM_OK ||
        (st = opt_bool(c, n, p, "keep_alive_while_idle", &k->while_idle)) != SLIM_OK)
        return st;
    return SLIM_OK;
}

/* base: milliseconds as a number (upstream) or a duration string. */
static slim_status millis(ctx *c, slim_cfg_node *map, const char *path, const char *key,
                          uint64_t *out) {
    slim_cfg_node *n = slim_cfg_get(map, key);
    if (n == NULL || n->kind == SLIM_CFG_NULL)
        return SLIM_OK;
    if (n->kind == SLIM_CFG_SCALAR && n->text[0] >= '0' && n->text[0] <= '9' &&
        strspn(n->text, "0123456789") == strlen(n->text))
        return opt_uint(c, map, path, key, UINT64_MAX, out);
    return opt_duration(c, map, path, key, out);
}

static slim_status backoff(ctx *c, slim_cfg_node *map, const char *path, slim_backoff_config *b) {
    slim_cfg_node *n = slim_cfg_get(map, "backoff");
    if (n == NULL || n->kind == SLIM_CFG_NULL)
        return SLIM_OK;
    char p[512];
    slim_cfg_path(p, sizeof p, path, "backoff");
    slim_status st;
    const char *type = type_of(c, n, p, &st);
    if (type == NULL)
        return st;
    /* A type given without some of its keys takes upstream's defaults for
     * that type (exponential: 100, factor 1, max_delay 1s, no jitter;
     * fixed_interval: 1s), not those of an absent backoff block. */
    uint64_t attempts = b->max_attempts;
    memset(b, 0, sizeof *b);
    b->base_ms = 100;
    b->factor = 1;
    b->max_delay_ms = 1000;
    b->interval_ms = 1000;
    b->max_attempts = attempts;
    if (strcmp(type, "exponential") == 0) {
        b->type = SLIM_BACKOFF_EXPONENTIAL;
        if ((st = millis(c, n, p, "base", &b->base_ms)) != SLIM_OK ||
            (st = opt_uint(c, n, p, "factor", UINT32_MAX, &b->factor)) != SLIM_OK ||
            (st = opt_duration(c, n, p, "max_delay", &b->max_delay_ms)) != SLIM_OK ||
            (st = opt_bool(c, n, p, "jitter", &b->jitter)) != SLIM_OK)
            return st;
    } else if (strcmp(type, "fixed_interval") == 0) {
        b->type = SLIM_BACKOFF_FIXED_INTERVAL;
        if ((st = opt_duration(c, n, p, "interval", &b->interval_ms)) != SLIM_OK)
            return st;
    } else {
        char tp[512];
        slim_cfg_path(tp, sizeof tp, p, "type");
        return slim_cfg_fail(c->err, c->doc, slim_cfg_get(n, "type"), tp,
                             "expected exponential or fixed_interval, found \"%s\"", type);
    }
    return opt_uint(c, n, p, "max_attempts", UINT64_MAX, &b->max_attempts);
}

/* A map of strings (headers, metadata); non-string values are skipped. */
static slim_status string_map(ctx *c, slim_cfg_node *map, const char *path, const char *key,
                              slim_kv **out, size_t *count) {
    slim_cfg_node *n = slim_cfg_get(map, key);
    char p[512];
    slim_cfg_path(p, sizeof p, path, key);
    slim_status st = slim_cfg_expect(c->doc, n, p, SLIM_CFG_MAP, c->err);
    if (st != SLIM_OK || n == NULL || n->kind != SLIM_CFG_MAP)
        return st;
    slim_cfg_mark_used(n);
    slim_kv *kv = slim_calloc(n->n ? n->n : 1, sizeof *kv);
    if (kv == NULL)
        return SLIM_E_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n->n; i++) {
        if (n->items[i]->kind != SLIM_CFG_SCALAR)
            continue;
        kv[k].key = dup(n->keys[i]);
        kv[k].value = dup(n->items[i]->text);
        if (kv[k].key == NULL || kv[k].value == NULL) {
            for (size_t j = 0; j <= k; j++) {
                slim_free(kv[j].key);
                slim_free(kv[j].value);
            }
            slim_free(kv);
            return SLIM_E_NOMEM;
        }
        k++;
    }
    *out = kv;
    *count = k;
    return SLIM_OK;
}

/* ---- defaults and cleanup ---- */

static void tls_defaults(slim_tls_config *t) {
    memset(t, 0, sizeof *t);
    t->include_system_ca = true;
    t->version = SLIM_TLS_1_3;
}

void slim_tls_config_cleanup(slim_tls_config *t) {
    char **s[] = {&t->cert_file, &t->key_file,       &t->cert_pem,      &t->key_pem,    &t->ca_file,
                  &t->ca_pem,    &t->client_ca_file, &t->client_ca_pem, &t->server_name};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        slim_free(*s[i]);
        *s[i] = NULL;
    }
}

static void kv_free(slim_kv *kv, size_t n) {
    for (size_t i = 0; i < n; i++) {
        slim_free(kv[i].key);
        slim_free(kv[i].value);
    }
    slim_free(kv);
}

void slim_server_config_defaults(slim_server_config *c) {
    memset(c, 0, sizeof *c);
    tls_defaults(&c->tls);
    c->keepalive = (slim_server_keepalive){
        .time_ms = 120000,
        .timeout_ms = 20000,
        .max_connection_idle_ms = 3600000,
        .max_connection_age_ms = 7200000,
        .max_connection_age_grace_ms = 300000,
    };
    c->negotiation_timeout_ms = 5000;
    c->require_header_mac = true;
}

void slim_client_config_defaults(slim_client_config *c) {
    memset(c, 0, sizeof *c);
    tls_defaults(&c->tls);
    c->keepalive = (slim_client_keepalive){
        .http2_keepalive_ms = 60000, .timeout_ms = 10000, .tcp_keepalive_ms = 60000};
    /* Without a backoff block upstream reconnects every 2 s, forever
     * (crates/config/src/client.rs default_backoff at cece03f79). */
    c->backoff = (slim_backoff_config){.type = SLIM_BACKOFF_FIXED_INTERVAL,
                                       .base_ms = 100,
                                       .factor = 1,
                                       .max_delay_ms = 1000,
                                       .interval_ms = 2000,
                                       .max_attempts = UINT64_MAX};
    c->require_header_mac = true;
}

void slim_server_config_cleanup(slim_server_config *c) {
    slim_free(c->endpoint);
    slim_tls_config_cleanup(&c->tls);
    kv_free(c->metadata, c->n_metadata);
    memset(c, 0, sizeof *c);
}

void slim_client_config_cleanup(slim_client_config *c) {
    slim_free(c->endpoint);
    slim_free(c->origin);
    slim_free(c->link_id);
    slim_tls_config_cleanup(&c->tls);
    kv_free(c->headers, c->n_headers);
    memset(c, 0, sizeof *c);
}

/* ---- the two parsers ---- */

static slim_status endpoint(ctx *c, slim_cfg_node *node, const char *path, char **out) {
    char p[512];
    slim_cfg_path(p, sizeof p, path, "endpoint");
    slim_cfg_node *n = slim_cfg_get(node, "endpoint");
    if (n == NULL)
        return slim_cfg_fail(c->err, c->doc, node, path, "endpoint is required");
    slim_status st = opt_string(c, node, path, "endpoint", out);
    if (st == SLIM_OK && (*out == NULL || (*out)[0] == '\0'))
        st = slim_cfg_fail(c->err, c->doc, n, p, "endpoint must not be empty");
    return st;
}

slim_status slim_server_tls_parse(const slim_cfg_doc *doc, slim_cfg_node *map, const char *path,
                                  slim_tls_config *out, slim_cfg_warn_fn warn_fn, void *ud,
                                  slim_cfg_error *err) {
    ctx c = {doc, err, warn_fn, ud};
    memset(out, 0, sizeof *out);
    tls_defaults(out);
    slim_status st = tls(&c, map, path, true, out);
    if (st != SLIM_OK)
        slim_tls_config_cleanup(out);
    return st;
}

slim_status slim_server_config_parse(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path,
                                     slim_server_config *out, slim_cfg_warn_fn warn_fn, void *ud,
                                     slim_cfg_error *err) {
    ctx c = {doc, err, warn_fn, ud};
    slim_server_config_defaults(out);
    slim_status st = slim_cfg_expect(doc, node, path, SLIM_CFG_MAP, err);
    if (st == SLIM_OK && node == NULL)
        st = slim_cfg_fail(err, doc, NULL, path, "missing");
    uint64_t v;
    if (st == SLIM_OK)
        st = endpoint(&c, node, path, &out->endpoint);
    if (st == SLIM_OK)
        st = tls(&c, node, path, true, &out->tls);
    if (st == SLIM_OK)
        st = auth(&c, node, path);
    if (st == SLIM_OK)
        st = server_keepalive(&c, node, path, &out->keepalive);
    if (st == SLIM_OK &&
        (v = 0, st = opt_uint(&c, node, path, "max_concurrent_streams", UINT32_MAX, &v)) == SLIM_OK)
        out->max_concurrent_streams = (uint32_t)v;
    if (st == SLIM_OK &&
        (v = 0, st = opt_uint(&c, node, path, "max_header_list_size", UINT32_MAX, &v)) == SLIM_OK)
        out->max_header_list_size = (uint32_t)v;
    if (st == SLIM_OK &&
        (v = 0, st = opt_uint(&c, node, path, "max_connections", UINT32_MAX, &v)) == SLIM_OK)
        out->max_connections = (uint32_t)v;
    if (st == SLIM_OK &&
        (v = 0, st = opt_uint(&c, node, path, "max_frame_size", 4096, &v)) == SLIM_OK)
        out->max_message_size = v * 1024 * 1024;
    if (st == SLIM_OK)
        st = string_map(&c, node, path, "metadata", &out->metadata, &out->n_metadata);
    if (st == SLIM_OK)
        st = header_mac(&c, node, path, &out->require_header_mac);
    if (st == SLIM_OK) {
        uint64_t secs = out->negotiation_timeout_ms / 1000;
        slim_cfg_node *nt = slim_cfg_get(node, "negotiation_timeout_secs");
        if (nt == NULL)
            nt = slim_cfg_get(node, "link_hmac_timeout_secs"); /* upstream's alias */
        char ntp[512];
        slim_cfg_path(ntp, sizeof ntp, path, "negotiation_timeout_secs");
        if (nt != NULL && nt->kind != SLIM_CFG_NULL)
            st = slim_cfg_uint(doc, nt, ntp, 1, 3600, &secs, err);
        out->negotiation_timeout_ms = secs * 1000;
    }
    if (st == SLIM_OK) {
        bool h2 = true;
        st = opt_bool(&c, node, path, "http2_only", &h2);
        if (st == SLIM_OK && !h2)
            st = slim_cfg_fail(err, doc, slim_cfg_get(node, "http2_only"), path,
                               "http2_only: false is not supported; gRPC needs HTTP/2");
    }
    if (st == SLIM_OK) {
        ignored(&c, node, path, "read_buffer_size", "buffer sizes are managed by the transport");
        ignored(&c, node, path, "write_buffer_size", "buffer sizes are managed by the transport");
    }
    if (st != SLIM_OK)
        slim_server_config_cleanup(out);
    return st;
}

slim_status slim_client_config_parse(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path,
                                     slim_client_config *out, slim_cfg_warn_fn warn_fn, void *ud,
                                     slim_cfg_error *err) {
    ctx c = {doc, err, warn_fn, ud};
    slim_client_config_defaults(out);
    slim_status st = slim_cfg_expect(doc, node, path, SLIM_CFG_MAP, err);
    if (st == SLIM_OK && node == NULL)
        st = slim_cfg_fail(err, doc, NULL, path, "missing");
    if (st == SLIM_OK)
        st = endpoint(&c, node, path, &out->endpoint);
    if (st == SLIM_OK && strncmp(out->endpoint, "http://", 7) != 0 &&
        strncmp(out->endpoint, "https://", 8) != 0 && strncmp(out->endpoint, "unix://", 7) != 0)
        st = slim_cfg_fail(err, doc, slim_cfg_get(node, "endpoint"), path,
                           "endpoint \"%s\" needs a scheme: http://, https:// or unix://",
                           out->endpoint);
    if (st == SLIM_OK)
        st = tls(&c, node, path, false, &out->tls);
    if (st == SLIM_OK) {
        /* The scheme decides: http:// is plaintext, https:// is TLS. */
        bool https = strncmp(out->endpoint, "https://", 8) == 0;
        if (https && out->tls.insecure)
            st = slim_cfg_fail(err, doc, slim_cfg_get(node, "tls"), path,
                               "an https:// endpoint with tls.insecure: true; use http:// for "
                               "plaintext");
        else if (!https && (out->tls.cert_file || out->tls.cert_pem || out->tls.ca_file ||
                            out->tls.ca_pem || out->tls.insecure_skip_verify))
            st = slim_cfg_fail(err, doc, slim_cfg_get(node, "tls"), path,
                               "TLS settings on a plaintext endpoint; use https://");
        out->tls.insecure = !https;
    }
    if (st == SLIM_OK)
        st = auth(&c, node, path);
    if (st == SLIM_OK)
        st = client_keepalive(&c, node, path, &out->keepalive);
    if (st == SLIM_OK)
        st = backoff(&c, node, path, &out->backoff);
    if (st == SLIM_OK)
        st = opt_duration(&c, node, path, "connect_timeout", &out->connect_timeout_ms);
    if (st == SLIM_OK)
        st = opt_duration(&c, node, path, "request_timeout", &out->request_timeout_ms);
    if (st == SLIM_OK)
        st = opt_string(&c, node, path, "origin", &out->origin);
    if (st == SLIM_OK)
        st = opt_string(&c, node, path, "server_name", &out->tls.server_name);
    if (st == SLIM_OK)
        st = opt_string(&c, node, path, "link_id", &out->link_id);
    if (st == SLIM_OK && out->link_id != NULL &&
        (out->link_id[0] == '\0' || strlen(out->link_id) > SLIM_LINK_ID_MAX))
        st = slim_cfg_fail(err, doc, slim_cfg_get(node, "link_id"), path,
                           "link_id: 1 to %d characters", SLIM_LINK_ID_MAX);
    if (st == SLIM_OK)
        st = string_map(&c, node, path, "headers", &out->headers, &out->n_headers);
    if (st == SLIM_OK)
        st = header_mac(&c, node, path, &out->require_header_mac);
    if (st == SLIM_OK) {
        char *type = NULL;
        st = opt_string(&c, node, path, "connection_type", &type);
        if (st == SLIM_OK && type != NULL) {
            if (strcmp(type, "edge") == 0)
                out->connection_type = SLIM_LINK_TYPE_EDGE;
            else if (strcmp(type, "peer") == 0)
                out->connection_type = SLIM_LINK_TYPE_PEER;
            else if (strcmp(type, "remote") == 0)
                out->connection_type = SLIM_LINK_TYPE_REMOTE;
            else
                st = slim_cfg_fail(err, doc, slim_cfg_get(node, "connection_type"), path,
                                   "connection_type \"%s\": expected edge, peer or remote", type);
        }
        slim_free(type);
    }
    if (st == SLIM_OK) {
        slim_cfg_node *px = slim_cfg_get(node, "proxy");
        if (px != NULL && px->kind != SLIM_CFG_NULL) {
            slim_cfg_mark_used(px);
            st = slim_cfg_fail(err, doc, px, path,
                               "proxy: connecting through a proxy is not supported");
        }
    }
    if (st == SLIM_OK) {
        slim_cfg_node *cp = slim_cfg_get(node, "compression");
        char cpath[512];
        slim_cfg_path(cpath, sizeof cpath, path, "compression");
        if (cp != NULL && cp->kind == SLIM_CFG_SCALAR && strcmp(cp->text, "None") != 0 &&
            strcmp(cp->text, "Empty") != 0)
            warn(&c, cp, cpath, "compression is not implemented; messages are sent uncompressed");
        slim_cfg_mark_used(cp);
        ignored(&c, node, path, "buffer_size", "buffer sizes are managed by the transport");
        ignored(&c, node, path, "rate_limit", "rate limiting is not implemented");
        slim_cfg_mark_used(slim_cfg_get(node, "metadata"));
    }
    if (st != SLIM_OK)
        slim_client_config_cleanup(out);
    return st;
}
