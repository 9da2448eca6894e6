/*
 * JWKS auto-resolution for JWT verifiers (upstream's `autoresolve`,
 * crates/auth resolver.rs): the keys of a token's issuer are fetched over
 * HTTPS with libcurl and handed to the pure verifier (src/session/jwt.h)
 * as JWKS text.
 *
 * Discovery, as upstream: GET <issuer>/.well-known/openid-configuration;
 * when that answers 200 with a JSON object holding "jwks_uri", its
 * "issuer" (if any) must be ours and the jwks_uri of the issuer's origin
 * (else E_JWT_DISCOVERY, no fallback); otherwise (an error, another
 * status, not JSON, no jwks_uri) GET <issuer>/.well-known/jwks.json. The
 * JWKS must answer 200.
 *
 * Limits: https only (http with allow_http, for tests), at most 3
 * redirects (https only), a timeout per request, at most max_bytes per
 * document (E_TOO_LARGE), TLS peers verified against the system's CAs or
 * ca_file. Keys are kept (in the verifier) for refresh_s, after which the
 * next token of that issuer that is not in the verifier's cache fetches
 * them again; an issuer is fetched at most once per retry_s (a token with
 * an unknown kid, a failing issuer), so tokens cannot make us flood it.
 * Only issuers the verifier accepts are fetched (it checks iss first).
 *
 * Blocking: a fetch waits for the network (at most about
 * 2 * timeout_ms). Each object is used by one thread at a time;
 * libcurl's global state is set up once, thread-safely.
 */
#ifndef SLIM_CLIENT_JWKS_FETCH_H
#define SLIM_CLIENT_JWKS_FETCH_H

#include "session/jwt.h"

#define SLIM_JWKS_TIMEOUT_MS 5000
#define SLIM_JWKS_MAX_BYTES  (256 * 1024)
#define SLIM_JWKS_REFRESH_S  3600 /* upstream's JWKS cache TTL */
#define SLIM_JWKS_RETRY_S    30

typedef struct slim_jwks_fetch_params {
    const char *ca_file; /* PEM CAs to trust instead of the system's; NULL: the system's. Copied. */
    uint32_t timeout_ms; /* per request; 0 = SLIM_JWKS_TIMEOUT_MS */
    size_t max_bytes;    /* per document; 0 = SLIM_JWKS_MAX_BYTES */
    uint32_t refresh_s;  /* 0 = SLIM_JWKS_REFRESH_S */
    uint32_t retry_s;    /* 0 = SLIM_JWKS_RETRY_S */
    bool allow_http;     /* accept http:// issuers and URLs (tests only) */
} slim_jwks_fetch_params;

typedef struct slim_jwks_fetcher slim_jwks_fetcher;

/* p may be NULL. E_NOMEM, E_INTERNAL (libcurl could not start). */
slim_status slim_jwks_fetcher_new(const slim_jwks_fetch_params *p, slim_jwks_fetcher **out);

void slim_jwks_fetcher_free(slim_jwks_fetcher *f);

/* Discovers and GETs the JWKS of issuer (blocking); appends its text to
 * jwks. E_JWT_DISCOVERY (issuer not an https URL, openid-configuration of
 * another issuer or pointing elsewhere), E_JWT_FETCH (network, TLS or
 * HTTP status; slim_jwks_fetcher_last_error says which), E_TOO_LARGE,
 * E_NOMEM. */
slim_status slim_jwks_fetch(slim_jwks_fetcher *f, slim_str issuer, slim_buf *jwks);

/* What went wrong in the last failed fetch, e.g. "GET
 * https://idp/.well-known/jwks.json: HTTP 404"; "" after a success.
 * Borrowed until the next call on f. */
const char *slim_jwks_fetcher_last_error(const slim_jwks_fetcher *f);

/* slim_jwt_verifier_check_token, fetching the issuer's keys when the
 * verifier (autoresolve) asks for them (E_JWT_KEYS_NEEDED, or E_JWT_NO_KEY
 * with a JWKS older than retry_s), then checking again. Besides the
 * verifier's errors: those of slim_jwks_fetch and of reading the JWKS
 * (slim_jwt_keys_parse). Within retry_s of a failed fetch the failure is
 * returned again without a request. */
slim_status slim_jwks_check_token(slim_jwks_fetcher *f, slim_jwt_verifier *v, slim_str token,
                                  uint64_t unix_s, slim_jwt_claims *claims);

/* slim_jwt_verifier_credential, fetching the issuer's keys as
 * slim_jwks_check_token does (unix_s is now: it dates the fetch). */
slim_status slim_jwks_credential(slim_jwks_fetcher *f, slim_jwt_verifier *v, slim_str token,
                                 bool fresh, uint64_t unix_s, slim_jwt_claims *claims,
                                 slim_bytes *pubkey);

/* slim_jwt_verifier_check_msg with the token check of
 * slim_jwks_check_token. */
slim_status slim_jwks_check_msg(slim_jwks_fetcher *f, slim_jwt_verifier *v, const slim_msg *m,
                                bool need_sig, uint64_t unix_s);

typedef struct slim_jwks_fetch_stats {
    uint64_t requests; /* HTTP GETs sent */
    uint64_t fetches;  /* JWKS obtained and given to a verifier */
    uint64_t failures; /* fetches that failed */
} slim_jwks_fetch_stats;

void slim_jwks_fetcher_stats_get(const slim_jwks_fetcher *f, slim_jwks_fetch_stats *out);

#endif
