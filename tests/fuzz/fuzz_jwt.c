/* libFuzzer target: src/session/jwt's token parser and verifier. The first
 * byte picks what the rest is:
 *
 *   0  a token, checked at a fixed time by a verifier holding a JWKS (the
 *      RFC 7515 A.1 HMAC key "h", the RFC 7515 A.3 P-256 key "e", the
 *      RFC 8037 Ed25519 key "d"). Checking it again gives the same answer
 *      (the second from the cache when it passed); a token that passes
 *      reads (slim_jwt_peek) to the same subject and expiry.
 *   1  a header and claims, JSON texts split at the first 0xff byte,
 *      encoded and signed with the HMAC key, so that they pass the
 *      signature and reach the claim checks; the same checks as 0, and a
 *      passing token's exp is not before now minus the leeway.
 *   2  a static token: slim_jwt_provider_new_static, which reads it
 *      unverified; when it is taken, the provider hands out the same text
 *      without the white space around it.
 *
 * Seeds in corpus/fuzz_jwt/ (docs/jwt.md says how they were made). */
#include "core/base64.h"
#include "session/jwt.h"

#include <stdlib.h>
#include <string.h>

#define NOW 1300819380ull /* the RFC tokens' exp */

static const char JWKS[] =
    "{\"keys\":["
    "{\"kty\":\"oct\",\"kid\":\"h\",\"alg\":\"HS256\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-"
    "EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"},"
    "{\"kty\":\"EC\",\"kid\":\"e\",\"crv\":\"P-256\",\"x\":"
    "\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
    "{\"kty\":\"OKP\",\"kid\":\"d\",\"crv\":\"Ed25519\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

static const char HMAC_JWK[] =
    "{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-"
    "1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"}";

static slim_jwt_verifier *verifier(void) {
    static slim_jwt_verifier *v;
    if (v == NULL) {
        slim_jwt_keys *k = NULL;
        slim_jwt_verifier_params p = {.cache_max = 64};
        if (slim_jwt_keys_parse(0, SLIM_JWT_KEY_JWKS, slim_bytes_of(JWKS, sizeof JWKS - 1), false,
                                &k) != SLIM_OK ||
            slim_jwt_keys_count(k) != 3 || slim_jwt_verifier_new(k, &p, &v) != SLIM_OK)
            abort();
    }
    return v;
}

static const slim_jwt_keys *hmac_key(void) {
    static slim_jwt_keys *k;
    if (k == NULL &&
        slim_jwt_keys_parse(0, SLIM_JWT_KEY_JWK, slim_bytes_of(HMAC_JWK, sizeof HMAC_JWK - 1), true,
                            &k) != SLIM_OK)
        abort();
    return k;
}

static void check_token(slim_str t, bool signed_here) {
    slim_jwt_verifier *v = verifier();
    slim_jwt_claims c;
    slim_status a = slim_jwt_verifier_check_token(v, t, NOW, &c);
    uint64_t exp = c.expires_at;
    size_t sub_len = a == SLIM_OK ? c.subject.len : 0;
    char sub[64];
    if (a == SLIM_OK)
        memcpy(sub, c.subject.ptr, sub_len < sizeof sub ? sub_len : sizeof sub);
    slim_status b = slim_jwt_verifier_check_token(v, t, NOW, NULL);
    if (a != b)
        abort();
    if (a != SLIM_OK)
        return;
    if (signed_here && exp + SLIM_JWT_LEEWAY_S < NOW)
        abort(); /* accepted though expired */
    slim_jwt_peeked pk = {0};
    if (slim_jwt_peek(t, &pk) != SLIM_OK)
        abort(); /* verified but unreadable */
    if (pk.expires_at != exp || pk.subject.len != sub_len ||
        (sub_len > 0 && sub_len <= sizeof sub && memcmp(pk.subject.data, sub, sub_len) != 0))
        abort();
    slim_jwt_peeked_cleanup(&pk);
}

static void check_signed(const uint8_t *data, size_t size) {
    const uint8_t *cut = memchr(data, 0xff, size);
    if (cut == NULL)
        return;
    slim_buf t = SLIM_BUF_INIT, sig = SLIM_BUF_INIT;
    size_t hl = (size_t)(cut - data);
    if (slim_b64_encode(slim_bytes_of(data, hl), SLIM_B64_URL, &t) != SLIM_OK ||
        slim_buf_append_u8(&t, '.') != SLIM_OK ||
        slim_b64_encode(slim_bytes_of(cut + 1, size - hl - 1), SLIM_B64_URL, &t) != SLIM_OK ||
        slim_jwt_jws_sign(hmac_key(), 0, slim_buf_view(&t), &sig) != SLIM_OK ||
        slim_buf_append_u8(&t, '.') != SLIM_OK ||
        slim_b64_encode(slim_buf_view(&sig), SLIM_B64_URL, &t) != SLIM_OK)
        abort();
    check_token((slim_str){(const char *)t.data, t.len}, true);
    slim_buf_cleanup(&t);
    slim_buf_cleanup(&sig);
}

static bool is_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static void check_static(slim_str t) {
    slim_jwt_provider *p = NULL;
    if (slim_jwt_provider_new_static(t, &p) != SLIM_OK)
        return;
    slim_str got;
    if (slim_jwt_provider_token(p, NOW, &got) != SLIM_OK)
        abort();
    while (t.len > 0 && is_space(t.ptr[0]))
        t.ptr++, t.len--;
    while (t.len > 0 && is_space(t.ptr[t.len - 1]))
        t.len--;
    if (got.len != t.len || memcmp(got.ptr, t.ptr, t.len) != 0)
        abort();
    slim_jwt_provider_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    slim_str rest = {(const char *)data + 1, size - 1};
    switch (data[0] % 3) {
    case 0:
        check_token(rest, false);
        break;
    case 1:
        check_signed(data + 1, size - 1);
        break;
    default:
        check_static(rest);
        break;
    }
    return 0;
}
