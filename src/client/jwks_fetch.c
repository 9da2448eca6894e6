/*
 * JWKS discovery and fetching with libcurl (see jwks_fetch.h).
 *
 * One curl easy handle per request (fetches are rare: once per issuer and
 * refresh period). The body goes into a slim_buf through a write callback
 * that stops the transfer past max_bytes. Per issuer the fetcher keeps
 * when it last tried and how that went, to rate-limit requests; the keys
 * themselves live in the verifier.
 */
#include "client/jwks_fetch.h"
#include "core/alloc.h"
#include "core/log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MOD           "jwt"
#define MAX_REDIRECTS 3

typedef struct attempt {
    char *issuer;
    size_t len;
    uint64_t at;    /* when it was last fetched (or tried) */
    slim_status st; /* how that went */
    uint64_t seq;   /* the least recent is replaced */
} attempt;

struct slim_jwks_fetcher {
    char *ca_file;
    uint32_t timeout_ms, refresh_s, retry_s;
    size_t max_bytes;
    bool allow_http;
    attempt tried[SLIM_JWT_MAX_ISSUERS];
    size_t n_tried;
    uint64_t seq;
    char error[512];
    slim_jwks_fetch_stats stats;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void) {
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

slim_status slim_jwks_fetcher_new(const slim_jwks_fetch_params *p, slim_jwks_fetcher **out) {
    if (out == NULL)
        return SLIM_E_INVALID_ARG;
    slim_jwks_fetch_params c = {0};
    if (p != NULL)
        c = *p;
    pthread_once(&curl_once, curl_init);
    if (curl_init_result != CURLE_OK)
        return SLIM_E_INTERNAL;
    slim_jwks_fetcher *f = slim_calloc(1, sizeof *f);
    if (f == NULL)
        return SLIM_E_NOMEM;
    if (c.ca_file != NULL && (f->ca_file = slim_strndup(c.ca_file, strlen(c.ca_file))) == NULL) {
        slim_free(f);
        return SLIM_E_NOMEM;
    }
    f->timeout_ms = c.timeout_ms != 0 ? c.timeout_ms : SLIM_JWKS_TIMEOUT_MS;
    f->max_bytes = c.max_bytes != 0 ? c.max_bytes : SLIM_JWKS_MAX_BYTES;
    f->refresh_s = c.refresh_s != 0 ? c.refresh_s : SLIM_JWKS_REFRESH_S;
    f->retry_s = c.retry_s != 0 ? c.retry_s : SLIM_JWKS_RETRY_S;
    f->allow_http = c.allow_http;
    *out = f;
    return SLIM_OK;
}

void slim_jwks_fetcher_free(slim_jwks_fetcher *f) {
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n_tried; i++)
        slim_free(f->tried[i].issuer);
    slim_free(f->ca_file);
    slim_free(f);
}

const char *slim_jwks_fetcher_last_error(const slim_jwks_fetcher *f) {
    return f->error;
}

void slim_jwks_fetcher_stats_get(const slim_jwks_fetcher *f, slim_jwks_fetch_stats *out) {
    *out = f->stats;
}

/* ---- one GET -------------------------------------------------------- */

typedef struct body {
    slim_buf *buf;
    size_t start, max;
    bool too_large, nomem;
} body;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud) {
    body *b = ud;
    size_t len = size * n;
    if (b->buf->len - b->start + len > b->max) {
        b->too_large = true;
        return 0; /* stops the transfer */
    }
    if (slim_buf_append(b->buf, ptr, len) != SLIM_OK) {
        b->nomem = true;
        return 0;
    }
    return len;
}

/* GETs url, appending the body to out; *status gets the HTTP status. */
static slim_status http_get(slim_jwks_fetcher *f, const char *url, slim_buf *out, long *status) {
    *status = 0;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return SLIM_E_NOMEM;
    const char *protos = f->allow_http ? "http,https" : "https";
    char errbuf[CURL_ERROR_SIZE] = "";
    body b = {out, out->len, f->max_bytes, false, false};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/json");
    CURLcode r = CURLE_OK;
#define SET(opt, val)                                                                              \
    if (r == CURLE_OK)                                                                             \
    r = curl_easy_setopt(c, opt, val)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, protos);
    SET(CURLOPT_REDIR_PROTOCOLS_STR, protos);
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
    SET(CURLOPT_TIMEOUT_MS, (long)f->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)f->timeout_ms);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_USERAGENT, "libslim");
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, &b);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (f->ca_file != NULL)
        SET(CURLOPT_CAINFO, f->ca_file);
#undef SET
    if (r == CURLE_OK) {
        f->stats.requests++;
        r = curl_easy_perform(c);
    }
    slim_status st = SLIM_OK;
    if (b.too_large) {
        snprintf(f->error, sizeof f->error, "GET %s: more than %zu bytes", url, f->max_bytes);
        st = SLIM_E_TOO_LARGE;
    } else if (b.nomem) {
        st = SLIM_E_NOMEM;
    } else if (r != CURLE_OK) {
        snprintf(f->error, sizeof f->error, "GET %s: %s", url,
                 errbuf[0] != '\0' ? errbuf : curl_easy_strerror(r));
        st = SLIM_E_JWT_FETCH;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return st;
}

/* ---- discovery ------------------------------------------------------ */

/* A URL as a C string (url: bytes without NUL). */
static char *cstr(const slim_buf *b) {
    return slim_strndup(b->data != NULL ? (const char *)b->data : "", b->len);
}

slim_status slim_jwks_fetch(slim_jwks_fetcher *f, slim_str issuer, slim_buf *jwks) {
    if (f == NULL || jwks == NULL || (issuer.ptr == NULL && issuer.len > 0))
        return SLIM_E_INVALID_ARG;
    f->error[0] = '\0';
    if (!f->allow_http && (issuer.len < 8 || memcmp(issuer.ptr, "https://", 8) != 0)) {
        snprintf(f->error, sizeof f->error, "issuer %.*s is not an https URL",
                 (int)(issuer.len > 200 ? 200 : issuer.len), issuer.ptr);
        return SLIM_E_JWT_DISCOVERY;
    }
    slim_buf url = SLIM_BUF_INIT, doc = SLIM_BUF_INIT, uri = SLIM_BUF_INIT;
    char *u = NULL;
    long status = 0;
    slim_status st = slim_jwt_well_known_url(issuer, "/.well-known/openid-configuration", &url);
    if (st == SLIM_E_JWT_DISCOVERY)
        snprintf(f->error, sizeof f->error, "issuer %.*s is not a URL we fetch from",
                 (int)(issuer.len > 200 ? 200 : issuer.len), issuer.ptr);
    if (st == SLIM_OK && (u = cstr(&url)) == NULL)
        st = SLIM_E_NOMEM;
    if (st == SLIM_OK) {
        /* Any failure here means: try the well-known JWKS location. */
        slim_status got = http_get(f, u, &doc, &status);
        if (got == SLIM_E_NOMEM)
            st = got;
        else if (got == SLIM_OK && status == 200) {
            st = slim_jwt_discovery_jwks_uri(slim_buf_view(&doc), issuer, &uri);
            if (st == SLIM_E_JWT_DISCOVERY)
                snprintf(f->error, sizeof f->error,
                         "%s names another issuer or a jwks_uri outside the issuer's origin", u);
        } else {
            st = SLIM_E_NOT_FOUND;
        }
        SLIM_LOGD(MOD, "GET %s: %s, HTTP %ld", u, slim_status_name(got), status);
    }
    if (st == SLIM_E_NOT_FOUND) {
        uri.len = 0;
        st = slim_jwt_well_known_url(issuer, "/.well-known/jwks.json", &uri);
    }
    slim_free(u);
    u = NULL;
    if (st == SLIM_OK && (u = cstr(&uri)) == NULL)
        st = SLIM_E_NOMEM;
    if (st == SLIM_OK) {
        size_t start = jwks->len;
        st = http_get(f, u, jwks, &status);
        if (st == SLIM_OK && status != 200) {
            snprintf(f->error, sizeof f->error, "GET %s: HTTP %ld", u, status);
            jwks->len = start;
            st = SLIM_E_JWT_FETCH;
        }
    }
    if (st == SLIM_OK)
        f->error[0] = '\0';
    slim_free(u);
    slim_buf_cleanup(&url);
    slim_buf_cleanup(&doc);
    slim_buf_cleanup(&uri);
    return st;
}

/* ---- verifier integration ------------------------------------------- */

static attempt *find_attempt(slim_jwks_fetcher *f, slim_str iss) {
    for (size_t i = 0; i < f->n_tried; i++)
        if (f->tried[i].len == iss.len && memcmp(f->tried[i].issuer, iss.ptr, iss.len) == 0)
            return &f->tried[i];
    return NULL;
}

static attempt *new_attempt(slim_jwks_fetcher *f, slim_str iss) {
    char *copy = slim_strndup(iss.ptr, iss.len);
    if (copy == NULL)
        return NULL;
    attempt *a;
    if (f->n_tried < SLIM_JWT_MAX_ISSUERS) {
        a = &f->tried[f->n_tried++];
    } else {
        a = &f->tried[0];
        for (size_t i = 1; i < f->n_tried; i++)
            if (f->tried[i].seq < a->seq)
                a = &f->tried[i];
        slim_free(a->issuer);
    }
    memset(a, 0, sizeof *a);
    a->issuer = copy;
    a->len = iss.len;
    return a;
}

/* Fetches the keys of the issuer v asks for and gives them to v. */
static slim_status resolve(slim_jwks_fetcher *f, slim_jwt_verifier *v, slim_status why,
                           uint64_t now) {
    slim_str w = slim_jwt_verifier_wanted_issuer(v);
    if (w.len == 0)
        return why;
    char *iss = slim_strndup(w.ptr, w.len); /* w is the verifier's, reused by its calls */
    if (iss == NULL)
        return SLIM_E_NOMEM;
    slim_str is = {iss, w.len};
    attempt *a = find_attempt(f, is);
    slim_status st;
    if (a != NULL && now >= a->at && now - a->at < f->retry_s) {
        /* tried lately: the keys we got then (why) or the failure */
        st = a->st != SLIM_OK ? a->st : why;
        slim_free(iss);
        return st;
    }
    if (a == NULL && (a = new_attempt(f, is)) == NULL) {
        slim_free(iss);
        return SLIM_E_NOMEM;
    }
    a->at = now;
    a->seq = ++f->seq;
    slim_buf text = SLIM_BUF_INIT;
    slim_jwt_keys *keys = NULL;
    st = slim_jwks_fetch(f, is, &text);
    if (st == SLIM_OK && (st = slim_jwt_keys_parse(0, SLIM_JWT_KEY_JWKS, slim_buf_view(&text),
                                                   false, &keys)) != SLIM_OK)
        snprintf(f->error, sizeof f->error, "JWKS of %s: %s", iss, slim_status_str(st));
    if (st == SLIM_OK &&
        (st = slim_jwt_verifier_set_issuer_keys(v, is, keys, now + f->refresh_s)) != SLIM_OK)
        slim_jwt_keys_free(keys);
    if (st == SLIM_OK) {
        f->stats.fetches++;
        SLIM_LOGI(MOD, "JWKS of %s fetched: %zu keys", iss, slim_jwt_keys_count(keys));
    } else {
        f->stats.failures++;
        SLIM_LOG_LIMITED(SLIM_LOG_WARN, 2, MOD, "JWKS of %s not fetched: %s (%s)", iss,
                         slim_status_str(st), f->error);
    }
    a->st = st == SLIM_E_NOMEM ? SLIM_OK : st; /* a lack of memory may pass: try again */
    if (st == SLIM_E_NOMEM)
        a->at = 0;
    slim_buf_cleanup(&text);
    slim_free(iss);
    return st;
}

slim_status slim_jwks_check_token(slim_jwks_fetcher *f, slim_jwt_verifier *v, slim_str token,
                                  uint64_t unix_s, slim_jwt_claims *claims) {
    if (f == NULL || v == NULL)
        return SLIM_E_INVALID_ARG;
    slim_status st = slim_jwt_verifier_check_token(v, token, unix_s, claims);
    if (st != SLIM_E_JWT_KEYS_NEEDED && st != SLIM_E_JWT_NO_KEY)
        return st;
    slim_status got = resolve(f, v, st, unix_s);
    if (got != SLIM_OK)
        return got;
    return slim_jwt_verifier_check_token(v, token, unix_s, claims);
}

slim_status slim_jwks_credential(slim_jwks_fetcher *f, slim_jwt_verifier *v, slim_str token,
                                 bool fresh, uint64_t unix_s, slim_jwt_claims *claims,
                                 slim_bytes *pubkey) {
    if (f == NULL || v == NULL)
        return SLIM_E_INVALID_ARG;
    slim_status st = slim_jwt_verifier_credential(v, token, fresh, unix_s, claims, pubkey);
    if (st != SLIM_E_JWT_KEYS_NEEDED && st != SLIM_E_JWT_NO_KEY)
        return st;
    slim_status got = resolve(f, v, st, unix_s);
    if (got != SLIM_OK)
        return got;
    return slim_jwt_verifier_credential(v, token, fresh, unix_s, claims, pubkey);
}

slim_status slim_jwks_check_msg(slim_jwks_fetcher *f, slim_jwt_verifier *v, const slim_msg *m,
                                bool need_sig, uint64_t unix_s) {
    if (f == NULL || v == NULL || m == NULL)
        return SLIM_E_INVALID_ARG;
    const slim_pb_header *h = slim_wire_header(m);
    if (h == NULL)
        return SLIM_E_WIRE_MISSING_FIELD;
    slim_str token = {h->identity != NULL ? h->identity : "",
                      h->identity != NULL ? strlen(h->identity) : 0};
    /* Resolves the keys if need be; the token is then in v's cache. */
    slim_status st = slim_jwks_check_token(f, v, token, unix_s, NULL);
    if (st != SLIM_OK)
        return st;
    return slim_jwt_verifier_check_msg(v, m, need_sig, unix_s);
}
