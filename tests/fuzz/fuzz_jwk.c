/* libFuzzer target: src/session/jwt's key readers (PEM, JWK, JWKS, as
 * given inline, read from files or fetched by autoresolve) and the OIDC
 * discovery helpers autoresolve uses. The first byte picks what the rest
 * is:
 *
 *   0-2  key text as PEM, JWK or JWKS (in that order), for signing when
 *        (byte / 5) is odd, with the algorithm ALGS[(byte / 10) % 8] (0:
 *        none given; PEM then uses HS256). Keys read have a count of at
 *        least one; a signing key with an algorithm signs "e30.e30", the
 *        signature verifies under the same key, and not with one bit
 *        changed.
 *   3    an OpenID configuration document for the issuer
 *        https://idp.test/realm: when a jwks_uri comes out, it is of the
 *        issuer's origin.
 *   4    a URL: its well-known URLs, when made, start with it (trailing
 *        '/' dropped) and are of its origin.
 *
 * Seeds in corpus/fuzz_jwk/ (docs/jwt.md). */
#include "session/jwt.h"

#include <stdlib.h>
#include <string.h>

static const slim_jwt_alg ALGS[8] = {0,
                                     SLIM_JWT_HS256,
                                     SLIM_JWT_RS256,
                                     SLIM_JWT_PS384,
                                     SLIM_JWT_ES256,
                                     SLIM_JWT_ES384,
                                     SLIM_JWT_EDDSA,
                                     SLIM_JWT_HS512};

static void check_keys(uint8_t sel, const uint8_t *data, size_t size) {
    slim_jwt_key_format fmt = (slim_jwt_key_format)(1 + sel % 5);
    bool sign = (sel / 5) % 2 != 0;
    slim_jwt_alg alg = ALGS[(sel / 10) % 8];
    if (fmt == SLIM_JWT_KEY_PEM && alg == 0)
        alg = SLIM_JWT_HS256;
    slim_jwt_keys *k = NULL;
    if (slim_jwt_keys_parse(alg, fmt, slim_bytes_of(data, size), sign, &k) != SLIM_OK)
        return;
    size_t n = slim_jwt_keys_count(k);
    if (n == 0 || n > SLIM_JWT_MAX_KEYS)
        abort();
    if (sign && slim_jwt_keys_alg(k, 0) != 0) {
        slim_buf sig = SLIM_BUF_INIT;
        slim_bytes in = slim_bytes_of("e30.e30", 7);
        slim_jwt_alg a = slim_jwt_keys_alg(k, 0);
        if (slim_jwt_jws_sign(k, 0, in, &sig) != SLIM_OK)
            abort();
        if (slim_jwt_jws_verify(k, 0, a, in, slim_buf_view(&sig)) != SLIM_OK)
            abort();
        sig.data[0] ^= 1;
        if (slim_jwt_jws_verify(k, 0, a, in, slim_buf_view(&sig)) == SLIM_OK)
            abort();
        slim_buf_cleanup(&sig);
    }
    slim_jwt_keys_free(k);
}

static void check_discovery(const uint8_t *data, size_t size) {
    static const char issuer[] = "https://idp.test/realm";
    slim_buf uri = SLIM_BUF_INIT;
    slim_str iss = {issuer, sizeof issuer - 1};
    if (slim_jwt_discovery_jwks_uri(slim_bytes_of(data, size), iss, &uri) == SLIM_OK &&
        !slim_jwt_same_origin(iss, (slim_str){(const char *)uri.data, uri.len}))
        abort();
    slim_buf_cleanup(&uri);
}

static void check_url(const uint8_t *data, size_t size) {
    slim_str u = {(const char *)data, size};
    slim_buf out = SLIM_BUF_INIT;
    if (slim_jwt_well_known_url(u, "/.well-known/jwks.json", &out) == SLIM_OK) {
        size_t base = out.len - strlen("/.well-known/jwks.json");
        if (base > size || memcmp(out.data, data, base) != 0 ||
            !slim_jwt_same_origin(u, (slim_str){(const char *)out.data, out.len}))
            abort();
    }
    slim_buf_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    uint8_t sel = data[0];
    switch (sel % 5) {
    case 3:
        check_discovery(data + 1, size - 1);
        break;
    case 4:
        check_url(data + 1, size - 1);
        break;
    default:
        check_keys(sel, data + 1, size - 1);
        break;
    }
    return 0;
}
