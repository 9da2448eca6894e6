/* Parsing of the node's YAML configuration; see config.h. */
#include "node/config.h"
#include "node/metrics.h"
#include "core/alloc.h"
#include "core/util.h"
#include "router/forwarder.h"
#include "router/router.h"
#include "session/jwt.h"
#include "transport/endpoint.h"

#include <stdio.h>
#include <string.h>

typedef struct walk {
    const slim_cfg_doc *doc;
    slim_cfg_error *err;
    slim_cfg_warn_fn warn;
    void *ud;
} walk;

static void note(walk *w, slim_cfg_node *n, const char *path, const char *why) {
    if (w->warn != NULL && n != NULL)
        w->warn(path, n->line, why, w->ud);
}

static char *copy_str(const char *s) {
    return slim_strndup(s, strlen(s));
}

static slim_status tracing(walk *w, slim_cfg_node *root, slim_node_config *c) {
    slim_cfg_node *t = slim_cfg_get(root, "tracing");
    slim_status st = slim_cfg_expect(w->doc, t, "tracing", SLIM_CFG_MAP, w->err);
    if (st != SLIM_OK || t == NULL)
        return st;
    slim_cfg_node *lvl = slim_cfg_get(t, "log_level");
    if (lvl != NULL && lvl->kind != SLIM_CFG_NULL) {
        const char *s;
        if ((st = slim_cfg_string(w->doc, lvl, "tracing.log_level", &s, w->err)) != SLIM_OK)
            return st;
        if (slim_log_level_parse(s, &c->log_level) != 0)
            return slim_cfg_fail(w->err, w->doc, lvl, "tracing.log_level",
                                 "expected error, warn, info, debug or trace, found \"%s\"", s);
        c->has_log_level = true;
    }
    static const char *const cosmetic[] = {"display_thread_names", "display_thread_ids", "filter"};
    for (size_t i = 0; i < sizeof cosmetic / sizeof cosmetic[0]; i++)
        slim_cfg_mark_used(slim_cfg_get(t, cosmetic[i]));
    slim_cfg_node *otel = slim_cfg_get(t, "opentelemetry");
    if (otel != NULL) {
        slim_cfg_mark_used(otel);
        slim_cfg_node *en = slim_cfg_get(otel, "enabled");
        bool on = false;
        if (en != NULL &&
            slim_cfg_bool(w->doc, en, "tracing.opentelemetry.enabled", &on, w->err) != SLIM_OK)
            return SLIM_E_INVALID_ARG;
        if (on)
            note(w, en, "tracing.opentelemetry.enabled",
                 "OpenTelemetry export is not implemented; logs go to stderr");
    }
    return SLIM_OK;
}

static slim_status runtime(walk *w, slim_cfg_node *root, slim_node_config *c) {
    slim_cfg_node *r = slim_cfg_get(root, "runtime");
    slim_status st = slim_cfg_expect(w->doc, r, "runtime", SLIM_CFG_MAP, w->err);
    if (st != SLIM_OK || r == NULL)
        return st;
    slim_cfg_node *n = slim_cfg_get(r, "n_cores");
    if (n != NULL && n->kind != SLIM_CFG_NULL) {
        if ((st = slim_cfg_uint(w->doc, n, "runtime.n_cores", 0, 4096, &c->n_cores, w->err)) !=
            SLIM_OK)
            return st;
        if (c->n_cores != 1)
            note(w, n, "runtime.n_cores", "accepted; the node runs one event-loop thread");
    }
    slim_cfg_mark_used(slim_cfg_get(r, "thread_name"));
    slim_cfg_node *d = slim_cfg_get(r, "drain_timeout");
    if (d != NULL && d->kind != SLIM_CFG_NULL)
        st = slim_cfg_duration_ms(w->doc, d, "runtime.drain_timeout", &c->drain_timeout_ms, w->err);
    return st;
}

/* metrics: {endpoint: "host:port"} (ours): the /metrics listener. */
static slim_status metrics(walk *w, slim_cfg_node *root, slim_node_config *c) {
    (void)root;
    const char *s;
    slim_status st = slim_metrics_config(w->doc, &s, w->err);
    if (st != SLIM_OK || s == NULL)
        return st;
    return (c->metrics_endpoint = copy_str(s)) != NULL ? SLIM_OK : SLIM_E_NOMEM;
}

/* A list of ServerConfig or ClientConfig at `key` of map. */
static slim_status endpoints(walk *w, slim_cfg_node *map, const char *path, const char *key,
                             bool server, void **out, size_t *count) {
    char p[512];
    slim_cfg_path(p, sizeof p, path, key);
    slim_cfg_node *list = slim_cfg_get(map, key);
    slim_status st = slim_cfg_expect(w->doc, list, p, SLIM_CFG_SEQ, w->err);
    if (st != SLIM_OK || list == NULL || list->kind != SLIM_CFG_SEQ || list->n == 0)
        return st;
    size_t size = server ? sizeof(slim_server_config) : sizeof(slim_client_config);
    char *arr = slim_calloc(list->n, size);
    if (arr == NULL)
        return SLIM_E_NOMEM;
    size_t done = 0;
    for (; done < list->n; done++) {
        char ip[512];
        slim_cfg_path_index(ip, sizeof ip, p, done);
        void *slot = arr + done * size;
        st = server ? slim_server_config_parse(w->doc, list->items[done], ip, slot, w->warn, w->ud,
                                               w->err)
                    : slim_client_config_parse(w->doc, list->items[done], ip, slot, w->warn, w->ud,
                                               w->err);
        if (st != SLIM_OK)
            break;
    }
    if (st != SLIM_OK) {
        for (size_t i = 0; i < done; i++) {
            if (server)
                slim_server_config_cleanup((slim_server_config *)(arr + i * size));
            else
                slim_client_config_cleanup((slim_client_config *)(arr + i * size));
        }
        slim_free(arr);
        return st;
    }
    *out = arr;
    *count = list->n;
    return SLIM_OK;
}

static slim_status dataplane(walk *w, slim_cfg_node *svc, const char *path, slim_node_config *c) {
    const char *key = "dataplane";
    slim_cfg_node *dp = slim_cfg_get(svc, key);
    if (dp == NULL) {
        key = "pubsub";
        dp = slim_cfg_get(svc, key);
    }
    char p[512];
    slim_cfg_path(p, sizeof p, path, key);
    slim_status st = slim_cfg_expect(w->doc, dp, p, SLIM_CFG_MAP, w->err);
    if (st != SLIM_OK)
        return st;
    if ((st = endpoints(w, dp, p, "servers", true, (void **)&c->servers, &c->n_servers)) !=
            SLIM_OK ||
        (st = endpoints(w, dp, p, "clients", false, (void **)&c->clients, &c->n_clients)) !=
            SLIM_OK)
        return st;
    if (c->n_servers == 0 && c->n_clients == 0)
        return slim_cfg_fail(w->err, w->doc, dp ? dp : svc, p,
                             "no dataplane server or clients configured");
    char kp[512];
    slim_cfg_node *n;
    if ((n = slim_cfg_get(dp, "slow_consumer_timeout")) != NULL) {
        slim_cfg_path(kp, sizeof kp, p, "slow_consumer_timeout");
        if ((st = slim_cfg_duration_ms(w->doc, n, kp, &c->slow_consumer_timeout_ms, w->err)) !=
            SLIM_OK)
            return st;
    }
    if ((n = slim_cfg_get(dp, "max_subscriptions_per_connection")) != NULL) {
        slim_cfg_path(kp, sizeof kp, p, "max_subscriptions_per_connection");
        if ((st = slim_cfg_uint(w->doc, n, kp, 1, 100000000, &c->max_subscriptions_per_conn,
                                w->err)) != SLIM_OK)
            return st;
    }
    if ((n = slim_cfg_get(dp, "max_message_size")) != NULL) {
        slim_cfg_path(kp, sizeof kp, p, "max_message_size");
        if ((st = slim_cfg_uint(w->doc, n, kp, 1024, 64u * 1024 * 1024, &c->max_message_size,
                                w->err)) != SLIM_OK)
            return st;
    }
    if ((n = slim_cfg_get(dp, "duplicate_filter")) != NULL) {
        slim_cfg_path(kp, sizeof kp, p, "duplicate_filter");
        if ((st = slim_cfg_bool(w->doc, n, kp, &c->duplicate_filter, w->err)) != SLIM_OK)
            return st;
        if (!c->duplicate_filter)
            note(w, n, kp,
                 "the duplicate filter is off: messages that loop are stopped by the "
                 "ttl only (for tests)");
    }
    /* Token settings in this block are unused upstream too. */
    slim_cfg_mark_used(slim_cfg_get(dp, "token_provider"));
    slim_cfg_mark_used(slim_cfg_get(dp, "token_verifier"));
    return SLIM_OK;
}

/* A string at key of map (absent: *out untouched), copied. */
static slim_status opt_dup(walk *w, slim_cfg_node *map, const char *path, const char *key,
                           const char **out) {
    slim_cfg_node *n = slim_cfg_get(map, key);
    if (n == NULL)
        return SLIM_OK;
    char p[600];
    slim_cfg_path(p, sizeof p, path, key);
    const char *v;
    slim_status st = slim_cfg_string(w->doc, n, p, &v, w->err);
    if (st != SLIM_OK)
        return st;
    if (v[0] == '\0')
        return slim_cfg_fail(w->err, w->doc, n, p, "empty");
    return (*out = copy_str(v)) != NULL ? SLIM_OK : SLIM_E_NOMEM;
}

/* upstream's static_jwt: {file: PATH, duration: seconds}; the file is
 * watched (looked at every few seconds) whatever the duration says. */
static slim_status static_jwt(walk *w, slim_cfg_node *n, const char *path,
                              slim_identity_config *c) {
    slim_status st = slim_cfg_expect(w->doc, n, path, SLIM_CFG_MAP, w->err);
    if (st != SLIM_OK)
        return st;
    c->kind = SLIM_IDENTITY_STATIC_JWT;
    if ((st = opt_dup(w, n, path, "file", &c->token_file)) != SLIM_OK)
        return st;
    if (c->token_file == NULL)
        return slim_cfg_fail(w->err, w->doc, n, path, "file is required");
    slim_cfg_node *d = slim_cfg_get(n, "duration");
    if (d != NULL) {
        uint64_t v;
        char p[600];
        slim_cfg_path(p, sizeof p, path, "duration");
        if ((st = slim_cfg_uint(w->doc, d, p, 0, UINT32_MAX, &v, w->err)) != SLIM_OK)
            return st;
    }
    return SLIM_OK;
}

/* upstream's jwt provider: {claims: {audience: [..], issuer, subject},
 * duration: 1h, key: {encoding: {algorithm, format: pem|jwk|jwks, file |
 * str}}}. */
static slim_status jwt(walk *w, slim_cfg_node *n, const char *path, slim_identity_config *c) {
    slim_status st = slim_cfg_expect(w->doc, n, path, SLIM_CFG_MAP, w->err);
    if (st != SLIM_OK)
        return st;
    c->kind = SLIM_IDENTITY_JWT;
    char p[600], kp[700];
    slim_cfg_node *cl = slim_cfg_get(n, "claims");
    slim_cfg_path(p, sizeof p, path, "claims");
    if ((st = slim_cfg_expect(w->doc, cl, p, SLIM_CFG_MAP, w->err)) != SLIM_OK ||
        (st = opt_dup(w, cl, p, "issuer", &c->issuer)) != SLIM_OK ||
        (st = opt_dup(w, cl, p, "subject", &c->subject)) != SLIM_OK)
        return st;
    slim_cfg_node *aud = slim_cfg_get(cl, "audience");
    slim_cfg_path(kp, sizeof kp, p, "audience");
    if ((st = slim_cfg_expect(w->doc, aud, kp, SLIM_CFG_SEQ, w->err)) != SLIM_OK)
        return st;
    if (aud != NULL && aud->n > 0) {
        if (aud->n > 64)
            return slim_cfg_fail(w->err, w->doc, aud, kp, "at most 64 entries");
        const char **list = slim_calloc(aud->n, sizeof *list);
        if (list == NULL)
            return SLIM_E_NOMEM;
        c->audience = list;
        for (size_t i = 0; i < aud->n; i++) {
            char ip[720];
            slim_cfg_path_index(ip, sizeof ip, kp, i);
            const char *v;
            if ((st = slim_cfg_string(w->doc, aud->items[i], ip, &v, w->err)) != SLIM_OK)
                return st;
            if ((list[i] = copy_str(v)) == NULL)
                return SLIM_E_NOMEM;
            c->audience_len = i + 1;
        }
    }
    slim_cfg_node *d = slim_cfg_get(n, "duration");
    if (d != NULL) {
        uint64_t ms;
        slim_cfg_path(p, sizeof p, path, "duration");
        if ((st = slim_cfg_duration_ms(w->doc, d, p, &ms, w->err)) != SLIM_OK)
            return st;
        if (ms < 1000 || ms / 1000 > UINT32_MAX)
            return slim_cfg_fail(w->err, w->doc, d, p, "between 1s and 136 years");
        c->duration_s = (uint32_t)(ms / 1000);
    }
    slim_cfg_node *key = slim_cfg_get(n, "key");
    slim_cfg_path(p, sizeof p, path, "key");
    if ((st = slim_cfg_expect(w->doc, key, p, SLIM_CFG_MAP, w->err)) != SLIM_OK)
        return st;
    slim_cfg_node *enc = slim_cfg_get(key, "encoding");
    slim_cfg_path(kp, sizeof kp, p, "encoding");
    if (enc == NULL)
        return slim_cfg_fail(w->err, w->doc, key != NULL ? key : n, p,
                             "a signing key is required: key: {encoding: {algorithm, format, "
                             "file}}");
    if ((st = slim_cfg_expect(w->doc, enc, kp, SLIM_CFG_MAP, w->err)) != SLIM_OK ||
        (st = opt_dup(w, enc, kp, "algorithm", &c->algorithm)) != SLIM_OK ||
        (st = opt_dup(w, enc, kp, "format", &c->key_format)) != SLIM_OK ||
        (st = opt_dup(w, enc, kp, "file", &c->key_file)) != SLIM_OK ||
        (st = opt_dup(w, enc, kp, "str", &c->key)) != SLIM_OK)
        return st;
    if (c->algorithm == NULL)
        return slim_cfg_fail(w->err, w->doc, enc, kp, "algorithm is required");
    if ((c->key_file == NULL) == (c->key == NULL))
        return slim_cfg_fail(w->err, w->doc, enc, kp, "give the key as file or as str");
    if (c->key_format != NULL) {
        /* upstream writes Pem, Jwk, Jwks */
        char *f = (char *)c->key_format;
        for (char *q = f; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q - 'A' + 'a');
        if (strcmp(f, "pem") != 0 && strcmp(f, "jwk") != 0 && strcmp(f, "jwks") != 0) {
            slim_cfg_path(p, sizeof p, kp, "format");
            return slim_cfg_fail(w->err, w->doc, slim_cfg_get(enc, "format"), p,
                                 "expected pem, jwk or jwks");
        }
    }
    slim_jwt_alg alg;
    if (slim_jwt_alg_parse((slim_str){c->algorithm, strlen(c->algorithm)}, &alg) != SLIM_OK) {
        slim_cfg_path(p, sizeof p, kp, "algorithm");
        return slim_cfg_fail(w->err, w->doc, slim_cfg_get(enc, "algorithm"), p,
                             "unknown algorithm \"%s\" (HS256, HS384, HS512, RS256, RS384, RS512, "
                             "PS256, PS384, PS512, ES256, ES384, EdDSA)",
                             c->algorithm);
    }
    return SLIM_OK;
}

void slim_node_identity_config_cleanup(slim_identity_config *c) {
    if (c == NULL)
        return;
    const char *s[] = {c->issuer,   c->subject, c->algorithm, c->key_format,
                       c->key_file, c->key,     c->token_file};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        slim_free((char *)s[i]);
    for (size_t i = 0; i < c->audience_len; i++)
        slim_free((char *)c->audience[i]);
    slim_free((void *)c->audience);
    slim_free(c);
}

/* token_provider / token_verifier: shared_secret, static_jwt, jwt or none.
 * secret gets a copy of the shared secret; a provider's JWT kinds go into
 * *jwt_out. A JWT verifier is refused: the node's control endpoint checks
 * shared-secret tokens only, and would otherwise run unauthenticated. */
static slim_status token(walk *w, slim_cfg_node *ctl, const char *path, const char *key,
                         char **secret, slim_identity_config **jwt_out) {
    slim_cfg_node *n = slim_cfg_get(ctl, key);
    if (n == NULL || n->kind == SLIM_CFG_NULL)
        return SLIM_OK;
    char p[512];
    slim_cfg_path(p, sizeof p, path, key);
    if (n->kind == SLIM_CFG_SCALAR && strcmp(n->text, "none") == 0)
        return SLIM_OK;
    if (n->kind == SLIM_CFG_MAP && n->n == 1) {
        static const char *const kinds[] = {"shared_secret", "static_jwt", "jwt", "none"};
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
            if (strcmp(n->keys[0], kinds[i]) != 0)
                continue;
            char kp[600];
            slim_cfg_path(kp, sizeof kp, p, kinds[i]);
            slim_cfg_node *v = slim_cfg_get(n, kinds[i]);
            if (i == 0) {
                const char *s;
                slim_status st = slim_cfg_string(w->doc, v, kp, &s, w->err);
                if (st != SLIM_OK)
                    return st;
                if (s[0] == '\0')
                    return slim_cfg_fail(w->err, w->doc, v, kp, "the shared secret is empty");
                return (*secret = copy_str(s)) != NULL ? SLIM_OK : SLIM_E_NOMEM;
            }
            if (i == 3) {
                slim_cfg_mark_used(v);
                return SLIM_OK;
            }
            if (jwt_out == NULL)
                return slim_cfg_fail(w->err, w->doc, n, kp,
                                     "a JWT token_verifier is not supported (use shared_secret)");
            slim_identity_config *c = slim_calloc(1, sizeof *c);
            if (c == NULL)
                return SLIM_E_NOMEM;
            slim_status st = i == 1 ? static_jwt(w, v, kp, c) : jwt(w, v, kp, c);
            if (st != SLIM_OK) {
                slim_node_identity_config_cleanup(c);
                return st;
            }
            *jwt_out = c;
            return SLIM_OK;
        }
    }
    return slim_cfg_fail(w->err, w->doc, n, p,
                         "expected one of shared_secret, static_jwt, jwt or none");
}

static slim_status controller(walk *w, slim_cfg_node *svc, const char *path, slim_node_config *c) {
    slim_cfg_node *ctl = slim_cfg_get(svc, "controller");
    char p[512];
    slim_cfg_path(p, sizeof p, path, "controller");
    slim_status st = slim_cfg_expect(w->doc, ctl, p, SLIM_CFG_MAP, w->err);
    if (st != SLIM_OK || ctl == NULL)
        return st;
    c->has_controller = true;
    st = endpoints(w, ctl, p, "servers", true, (void **)&c->ctl_servers, &c->n_ctl_servers);
    if (st == SLIM_OK)
        st = endpoints(w, ctl, p, "clients", false, (void **)&c->controllers, &c->n_controllers);
    if (st == SLIM_OK)
        st = token(w, ctl, p, "token_provider", &c->token_secret, &c->token_jwt);
    if (st == SLIM_OK)
        st = token(w, ctl, p, "token_verifier", &c->verifier_secret, NULL);
    slim_cfg_node *rt = slim_cfg_get(ctl, "request_timeout");
    if (st == SLIM_OK && rt != NULL) {
        char kp[600];
        slim_cfg_path(kp, sizeof kp, p, "request_timeout");
        st = slim_cfg_duration_ms(w->doc, rt, kp, &c->request_timeout_ms, w->err);
        if (st == SLIM_OK && c->request_timeout_ms == 0)
            st = slim_cfg_fail(w->err, w->doc, rt, kp, "must be longer than 0");
    }
    if (st == SLIM_OK && c->n_ctl_servers > 0 && c->verifier_secret == NULL) {
        bool mtls = true;
        for (size_t i = 0; i < c->n_ctl_servers; i++)
            mtls = mtls && !c->ctl_servers[i].tls.insecure &&
                   (c->ctl_servers[i].tls.client_ca_file != NULL ||
                    c->ctl_servers[i].tls.client_ca_pem != NULL);
        char sp[600];
        slim_cfg_path(sp, sizeof sp, p, "servers");
        if (!mtls)
            note(w, slim_cfg_get(ctl, "servers"), sp,
                 "anyone who reaches this control endpoint can change the node's routes: set "
                 "token_verifier or require client certificates");
    }
    return st;
}

static bool valid_service_key(const char *k, const char **name) {
    const char *slash = strchr(k, '/');
    if (slash == NULL || slash == k || slash - k > 63)
        return false;
    if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z')))
        return false;
    for (const char *p = k; p < slash; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    if (strlen(slash + 1) > 1024)
        return false;
    for (const char *p = slash + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    *name = slash + 1;
    return true;
}

static slim_status services(walk *w, slim_cfg_node *root, slim_node_config *c) {
    slim_cfg_node *s = slim_cfg_get(root, "services");
    slim_status st = slim_cfg_expect(w->doc, s, "services", SLIM_CFG_MAP, w->err);
    if (st != SLIM_OK)
        return st;
    if (s == NULL || s->kind != SLIM_CFG_MAP || s->n == 0)
        return slim_cfg_fail(w->err, w->doc, s ? s : root, "services",
                             "at least one service (slim/<name>) is required");
    if (s->n > 1)
        return slim_cfg_fail(w->err, w->doc, s->items[1], "services",
                             "one service per node process; found %zu", s->n);
    const char *key = s->keys[0];
    char p[1100];
    slim_cfg_path(p, sizeof p, "services", key);
    const char *name = NULL;
    slim_cfg_node *svc = slim_cfg_get(s, key);
    if (!valid_service_key(key, &name))
        return slim_cfg_fail(w->err, w->doc, svc, "services",
                             "\"%s\" is not <kind>/<name> (name: lowercase letters, digits, -)",
                             key);
    if (strncmp(key, "slim/", 5) != 0)
        return slim_cfg_fail(w->err, w->doc, svc, p, "unknown service kind; expected slim/<name>");
    if ((st = slim_cfg_expect(w->doc, svc, p, SLIM_CFG_MAP, w->err)) != SLIM_OK)
        return st;
    c->service = copy_str(key);
    if (c->service == NULL)
        return SLIM_E_NOMEM;
    slim_cfg_node *nid = slim_cfg_get(svc, "node_id");
    const char *id = name;
    char kp[1200];
    if (nid != NULL && nid->kind != SLIM_CFG_NULL) {
        slim_cfg_path(kp, sizeof kp, p, "node_id");
        if ((st = slim_cfg_string(w->doc, nid, kp, &id, w->err)) != SLIM_OK)
            return st;
    }
    size_t n = strlen(id) + 6;
    c->node_id = slim_malloc(n);
    if (c->node_id == NULL)
        return SLIM_E_NOMEM;
    snprintf(c->node_id, n, "slim/%s", id);
    slim_cfg_node *g = slim_cfg_get(svc, "group_name");
    if (g != NULL && g->kind != SLIM_CFG_NULL) {
        const char *gs;
        slim_cfg_path(kp, sizeof kp, p, "group_name");
        if ((st = slim_cfg_string(w->doc, g, kp, &gs, w->err)) != SLIM_OK)
            return st;
        if ((c->group_name = copy_str(gs)) == NULL)
            return SLIM_E_NOMEM;
    }
    if ((st = dataplane(w, svc, p, c)) != SLIM_OK)
        return st;
    return controller(w, svc, p, c);
}

static void on_unknown(const char *path, unsigned line, void *ud) {
    walk *w = ud;
    if (w->warn != NULL)
        w->warn(path, line, "unknown key, ignored", w->ud);
}

slim_status slim_node_config_parse(const slim_cfg_doc *doc, slim_node_config *out,
                                   slim_cfg_warn_fn warn, void *ud, slim_cfg_error *err) {
    memset(out, 0, sizeof *out);
    out->drain_timeout_ms = 10000;
    out->slow_consumer_timeout_ms = 10000;
    out->max_subscriptions_per_conn = SLIM_ROUTER_DEFAULT_MAX_SUBS;
    out->max_message_size = SLIM_FWD_DEFAULT_MAX_MESSAGE;
    out->duplicate_filter = true;
    out->request_timeout_ms = 60000;
    walk w = {doc, err, warn, ud};
    slim_status st = tracing(&w, doc->root, out);
    if (st == SLIM_OK)
        st = runtime(&w, doc->root, out);
    if (st == SLIM_OK)
        st = metrics(&w, doc->root, out);
    if (st == SLIM_OK)
        st = services(&w, doc->root, out);
    if (st != SLIM_OK) {
        slim_node_config_cleanup(out);
        return st;
    }
    doc->root->used = true;
    slim_cfg_unknown_keys(doc->root, "", on_unknown, &w);
    return SLIM_OK;
}

slim_status slim_node_config_load(const char *path, slim_node_config *out, slim_cfg_warn_fn warn,
                                  void *ud, slim_cfg_error *err) {
    slim_cfg_doc *doc = NULL;
    slim_status st = slim_cfg_load_file(path, &doc, err);
    if (st != SLIM_OK)
        return st;
    st = slim_node_config_parse(doc, out, warn, ud, err);
    slim_cfg_free(doc);
    return st;
}

void slim_node_config_cleanup(slim_node_config *c) {
    for (size_t i = 0; i < c->n_servers; i++)
        slim_server_config_cleanup(&c->servers[i]);
    for (size_t i = 0; i < c->n_clients; i++)
        slim_client_config_cleanup(&c->clients[i]);
    for (size_t i = 0; i < c->n_controllers; i++)
        slim_client_config_cleanup(&c->controllers[i]);
    for (size_t i = 0; i < c->n_ctl_servers; i++)
        slim_server_config_cleanup(&c->ctl_servers[i]);
    slim_free(c->ctl_servers);
    slim_free(c->servers);
    slim_free(c->clients);
    slim_free(c->controllers);
    slim_free(c->service);
    slim_free(c->node_id);
    slim_free(c->group_name);
    char *secrets[2] = {c->token_secret, c->verifier_secret};
    for (int i = 0; i < 2; i++) {
        if (secrets[i] != NULL)
            slim_memzero(secrets[i], strlen(secrets[i]));
        slim_free(secrets[i]);
    }
    slim_node_identity_config_cleanup(c->token_jwt);
    slim_free(c->metrics_endpoint);
    memset(c, 0, sizeof *c);
}
