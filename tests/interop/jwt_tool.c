/*
 * Drives src/session/jwt and src/client/jwks_fetch for
 * test_jwt_interop.py and test_jwt_autoresolve.py: one command per stdin
 * line, one answer per stdout line. Arguments are hex ("-" for empty)
 * except numbers, which are decimal. Answers start with the status name
 * ("OK", "E_JWT_EXPIRED", ...), then hex or decimal values.
 *
 *   provider CONFIG    -> OK PUBKEY          (CONFIG: JSON, below)
 *   static TOKEN       -> OK SUBJECT EXP
 *   token NOW          -> OK TOKEN
 *   verifier CONFIG    -> OK
 *   check NOW TOKEN    -> OK ISSUER SUBJECT EXP   (the verifier alone)
 *   resolve NOW TOKEN  -> OK ISSUER SUBJECT EXP   (with JWKS fetching)
 *   pubkey NOW TOKEN   -> OK PUBKEY
 *   keys ALG FORMAT TEXT SIGN -> OK COUNT   (ALG: a JOSE name or "-")
 *   fetch ISSUER       -> OK JWKS, or STATUS ERROR_TEXT
 *   stats              -> OK SIGNATURES HITS REQUESTS FETCHES FAILURES
 *
 * Provider CONFIG: {"alg", "format": "pem"|"jwk"|"jwks", "key": text,
 * "duration", "iss", "sub", "aud": [..], "kid", "extra": {..},
 * "no_pubkey"}. Verifier CONFIG: {"alg", "format", "key", "iss", "aud",
 * "sub", "require_iss", "require_aud", "require_sub", "leeway",
 * "autoresolve", "ca_file", "allow_http", "max_bytes", "timeout_ms",
 * "retry_s"}.
 */
#include "client/jwks_fetch.h"
#include "core/util.h"
#include "session/jwt.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE (1u << 22)

static slim_jwt_provider *prov;
static slim_jwt_verifier *ver;
static slim_jwks_fetcher *fetcher;

static bool arg_hex(const char *a, slim_buf *out) {
    out->len = 0;
    if (a == NULL)
        return false;
    if (strcmp(a, "-") == 0)
        return true;
    size_t n = strlen(a);
    if (slim_buf_reserve(out, n / 2 + 1) != SLIM_OK)
        return false;
    size_t got;
    if (slim_hex_decode(a, n, out->data, out->cap, &got) != SLIM_OK)
        return false;
    out->len = got;
    return true;
}

static bool arg_u64(const char *a, uint64_t *v) {
    if (a == NULL)
        return false;
    char *end;
    *v = strtoull(a, &end, 10);
    return *end == '\0';
}

static void put_hex(const void *p, size_t n) {
    const uint8_t *b = p;
    if (n == 0)
        fputs(" -", stdout);
    else
        putchar(' ');
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
}

static slim_str jstr(const json_t *o, const char *name) {
    const json_t *v = json_object_get(o, name);
    slim_str s = {"", 0};
    if (json_is_string(v))
        s = (slim_str){json_string_value(v), json_string_length(v)};
    return s;
}

static uint64_t jnum(const json_t *o, const char *name) {
    const json_t *v = json_object_get(o, name);
    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static bool jbool(const json_t *o, const char *name) {
    return json_is_true(json_object_get(o, name));
}

static slim_jwt_key_format format_of(slim_str f) {
    if (f.len == 3 && memcmp(f.ptr, "jwk", 3) == 0)
        return SLIM_JWT_KEY_JWK;
    if (f.len == 4 && memcmp(f.ptr, "jwks", 4) == 0)
        return SLIM_JWT_KEY_JWKS;
    return SLIM_JWT_KEY_PEM;
}

static slim_jwt_alg alg_of(slim_str name) {
    slim_jwt_alg a = 0;
    if (name.len > 0 && slim_jwt_alg_parse(name, &a) != SLIM_OK)
        a = (slim_jwt_alg)99; /* refused by the parser */
    return a;
}

/* The "aud" array of a config as views (at most 8). */
static size_t audience(const json_t *o, slim_str *out) {
    const json_t *a = json_object_get(o, "aud");
    size_t n = 0;
    for (size_t i = 0; json_is_array(a) && i < json_array_size(a) && n < 8; i++) {
        const json_t *s = json_array_get(a, i);
        if (json_is_string(s))
            out[n++] = (slim_str){json_string_value(s), json_string_length(s)};
    }
    return n;
}

static slim_status load_keys(const json_t *o, bool sign, slim_jwt_keys **k) {
    slim_str text = jstr(o, "key");
    return slim_jwt_keys_parse(alg_of(jstr(o, "alg")), format_of(jstr(o, "format")),
                               slim_bytes_of(text.ptr, text.len), sign, k);
}

static slim_status cmd_provider(const json_t *o) {
    slim_jwt_keys *k = NULL;
    slim_status st = load_keys(o, true, &k);
    if (st != SLIM_OK)
        return st;
    slim_str aud[8];
    char *extra = NULL;
    const json_t *e = json_object_get(o, "extra");
    if (e != NULL)
        extra = json_dumps(e, JSON_COMPACT);
    slim_jwt_provider_params p = {.issuer = jstr(o, "iss"),
                                  .subject = jstr(o, "sub"),
                                  .audience = aud,
                                  .audience_len = audience(o, aud),
                                  .duration_s = (uint32_t)jnum(o, "duration"),
                                  .kid = jstr(o, "kid"),
                                  .extra_claims = {extra ? extra : "", extra ? strlen(extra) : 0},
                                  .no_pubkey = jbool(o, "no_pubkey")};
    slim_jwt_provider *next = NULL;
    st = slim_jwt_provider_new(k, &p, &next);
    free(extra);
    if (st != SLIM_OK) {
        slim_jwt_keys_free(k);
        return st;
    }
    slim_jwt_provider_free(prov);
    prov = next;
    slim_bytes pk = slim_jwt_provider_public_key(prov);
    printf("OK");
    put_hex(pk.ptr, pk.len);
    printf("\n");
    return SLIM_OK;
}

static slim_status cmd_verifier(const json_t *o) {
    bool autoresolve = jbool(o, "autoresolve");
    slim_jwt_keys *k = NULL;
    slim_status st = autoresolve ? SLIM_OK : load_keys(o, false, &k);
    if (st != SLIM_OK)
        return st;
    slim_str aud[8];
    slim_jwt_verifier_params p = {.issuer = jstr(o, "iss"),
                                  .subject = jstr(o, "sub"),
                                  .audience = aud,
                                  .audience_len = audience(o, aud),
                                  .require_iss = jbool(o, "require_iss"),
                                  .require_aud = jbool(o, "require_aud"),
                                  .require_sub = jbool(o, "require_sub"),
                                  .leeway_s = (uint32_t)jnum(o, "leeway"),
                                  .autoresolve = autoresolve};
    slim_jwt_verifier *next = NULL;
    if ((st = slim_jwt_verifier_new(k, &p, &next)) != SLIM_OK) {
        slim_jwt_keys_free(k);
        return st;
    }
    slim_str ca = jstr(o, "ca_file");
    char *ca_path = ca.len > 0 ? strndup(ca.ptr, ca.len) : NULL;
    slim_jwks_fetch_params fp = {.ca_file = ca_path,
                                 .allow_http = jbool(o, "allow_http"),
                                 .max_bytes = (size_t)jnum(o, "max_bytes"),
                                 .timeout_ms = (uint32_t)jnum(o, "timeout_ms"),
                                 .retry_s = (uint32_t)jnum(o, "retry_s")};
    slim_jwks_fetcher *nf = NULL;
    st = slim_jwks_fetcher_new(&fp, &nf);
    free(ca_path);
    if (st != SLIM_OK) {
        slim_jwt_verifier_free(next);
        return st;
    }
    slim_jwt_verifier_free(ver);
    slim_jwks_fetcher_free(fetcher);
    ver = next;
    fetcher = nf;
    printf("OK\n");
    return SLIM_OK;
}

static void put_claims(const slim_jwt_claims *c) {
    printf("OK");
    put_hex(c->issuer.ptr, c->issuer.len);
    put_hex(c->subject.ptr, c->subject.len);
    printf(" %" PRIu64 "\n", c->expires_at);
}

static void run(char **a, int n) {
    slim_buf x = SLIM_BUF_INIT;
    uint64_t now = 0;
    slim_status st = SLIM_E_INVALID_ARG;
    const char *cmd = n > 0 ? a[0] : "";
    if ((strcmp(cmd, "provider") == 0 || strcmp(cmd, "verifier") == 0) && arg_hex(a[1], &x)) {
        json_t *o = json_loadb((const char *)x.data, x.len, 0, NULL);
        if (o != NULL) {
            st = cmd[0] == 'p' ? cmd_provider(o) : cmd_verifier(o);
            json_decref(o);
            if (st == SLIM_OK)
                goto done;
        }
    } else if (strcmp(cmd, "static") == 0 && arg_hex(a[1], &x)) {
        slim_jwt_provider *next = NULL;
        if ((st = slim_jwt_provider_new_static((slim_str){(const char *)x.data, x.len}, &next)) ==
            SLIM_OK) {
            slim_jwt_provider_free(prov);
            prov = next;
            slim_str id = slim_jwt_provider_id(prov);
            printf("OK");
            put_hex(id.ptr, id.len);
            printf(" %" PRIu64 "\n", slim_jwt_provider_expiry(prov));
            goto done;
        }
    } else if (strcmp(cmd, "token") == 0 && prov && arg_u64(a[1], &now)) {
        slim_str t;
        if ((st = slim_jwt_provider_token(prov, now, &t)) == SLIM_OK) {
            printf("OK");
            put_hex(t.ptr, t.len);
            printf("\n");
            goto done;
        }
    } else if ((strcmp(cmd, "check") == 0 || strcmp(cmd, "resolve") == 0) && ver &&
               arg_u64(a[1], &now) && arg_hex(a[2], &x)) {
        slim_jwt_claims c;
        slim_str t = {(const char *)x.data, x.len};
        st = cmd[0] == 'c' ? slim_jwt_verifier_check_token(ver, t, now, &c)
                           : slim_jwks_check_token(fetcher, ver, t, now, &c);
        if (st == SLIM_OK) {
            put_claims(&c);
            goto done;
        }
        if (cmd[0] == 'r') {
            const char *e = slim_jwks_fetcher_last_error(fetcher);
            printf("%s", slim_status_name(st));
            put_hex(e, strlen(e));
            printf("\n");
            goto done;
        }
    } else if (strcmp(cmd, "pubkey") == 0 && ver && arg_u64(a[1], &now) && arg_hex(a[2], &x)) {
        slim_bytes pk;
        if ((st = slim_jwt_verifier_pubkey(ver, (slim_str){(const char *)x.data, x.len}, now,
                                           &pk)) == SLIM_OK) {
            printf("OK");
            put_hex(pk.ptr, pk.len);
            printf("\n");
            goto done;
        }
    } else if (strcmp(cmd, "keys") == 0 && n >= 5 && arg_hex(a[3], &x)) {
        slim_jwt_keys *k = NULL;
        slim_str alg = {a[1], strcmp(a[1], "-") == 0 ? 0 : strlen(a[1])};
        if ((st = slim_jwt_keys_parse(alg_of(alg), format_of((slim_str){a[2], strlen(a[2])}),
                                      slim_buf_view(&x), strcmp(a[4], "1") == 0, &k)) == SLIM_OK) {
            printf("OK %zu\n", slim_jwt_keys_count(k));
            slim_jwt_keys_free(k);
            goto done;
        }
    } else if (strcmp(cmd, "fetch") == 0 && fetcher && arg_hex(a[1], &x)) {
        slim_buf out = SLIM_BUF_INIT;
        st = slim_jwks_fetch(fetcher, (slim_str){(const char *)x.data, x.len}, &out);
        if (st == SLIM_OK)
            printf("OK");
        else
            printf("%s", slim_status_name(st));
        if (st == SLIM_OK) {
            put_hex(out.data, out.len);
        } else {
            const char *e = slim_jwks_fetcher_last_error(fetcher);
            put_hex(e, strlen(e));
        }
        printf("\n");
        slim_buf_cleanup(&out);
        goto done;
    } else if (strcmp(cmd, "stats") == 0 && ver && fetcher) {
        slim_jwt_verifier_stats vs;
        slim_jwks_fetch_stats fs;
        slim_jwt_verifier_stats_get(ver, &vs);
        slim_jwks_fetcher_stats_get(fetcher, &fs);
        printf("OK %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", vs.signatures,
               vs.cache_hits, fs.requests, fs.fetches, fs.failures);
        goto done;
    }
    printf("%s\n", slim_status_name(st));
done:
    fflush(stdout);
    slim_buf_cleanup(&x);
}

int main(void) {
    char *line = malloc(MAX_LINE);
    if (line == NULL)
        return 1;
    while (fgets(line, (int)MAX_LINE, stdin) != NULL) {
        char *args[8];
        int n = 0;
        for (char *tok = strtok(line, " \n"); tok != NULL && n < 8; tok = strtok(NULL, " \n"))
            args[n++] = tok;
        for (int i = n; i < 8; i++)
            args[i] = NULL;
        run(args, n);
    }
    slim_jwt_provider_free(prov);
    slim_jwt_verifier_free(ver);
    slim_jwks_fetcher_free(fetcher);
    free(line);
    return 0;
}
