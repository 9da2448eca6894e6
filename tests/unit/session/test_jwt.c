/* Unit tests for src/session/jwt: the RFC 7515 and RFC 8037 examples,
 * every algorithm signed and verified with keys as PEM, JWK and JWKS, every
 * refusal with its named status, key type checks, JWKS key choice, token
 * reuse, the verified-token cache (counted signature checks), autoresolve's
 * issuer gate, message stamping and checking, static tokens, the OIDC
 * discovery helpers and allocation failures. Tokens made by independent
 * code (Python) are checked in tests/interop/test_jwt_interop.py. */
#include "test.h"
#include "core/base64.h"
#include "core/util.h"
#include "session/identity.h"
#include "session/jwt.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define T0 1800000000ull

static slim_str S(const char *s) {
    slim_str v = {s, strlen(s)};
    return v;
}

static slim_bytes B(const char *s) {
    return slim_bytes_of(s, strlen(s));
}

static const char HMAC_SECRET[] = "a JWT HMAC secret long enough for HS512, 64 bytes and more...!";

/* ---- key material made with OpenSSL here ---------------------------- */

static EVP_PKEY *rsa_key, *p256_key, *p384_key, *ed_key;

static EVP_PKEY *key_for(slim_jwt_alg a) {
    if (a >= SLIM_JWT_RS256 && a <= SLIM_JWT_PS512) {
        if (rsa_key == NULL)
            rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        return rsa_key;
    }
    if (a == SLIM_JWT_ES256) {
        if (p256_key == NULL)
            p256_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        return p256_key;
    }
    if (a == SLIM_JWT_ES384) {
        if (p384_key == NULL)
            p384_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
        return p384_key;
    }
    if (a == SLIM_JWT_EDDSA) {
        if (ed_key == NULL)
            ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        return ed_key;
    }
    return NULL;
}

static char *bio_text(BIO *b) {
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = malloc((size_t)n + 1);
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    BIO_free(b);
    return s;
}

/* PEM text of a key (private PKCS#8 or public SPKI); HS*: the secret. */
static char *pem_of(slim_jwt_alg a, bool priv) {
    EVP_PKEY *k = key_for(a);
    if (k == NULL)
        return strdup(HMAC_SECRET);
    BIO *b = BIO_new(BIO_s_mem());
    CHECK_EQ(priv ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)
                  : PEM_write_bio_PUBKEY(b, k),
             1);
    return bio_text(b);
}

static void set_b64(json_t *o, const char *name, const uint8_t *p, size_t n) {
    slim_buf b = SLIM_BUF_INIT;
    CHECK_OK(slim_b64_encode(slim_bytes_of(p, n), SLIM_B64_URL, &b));
    json_object_set_new(o, name, json_stringn((const char *)b.data, b.len));
    slim_buf_cleanup(&b);
}

static void set_bn(json_t *o, const char *name, EVP_PKEY *k, const char *param, size_t pad) {
    BIGNUM *bn = NULL;
    CHECK_EQ(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    uint8_t buf[1024];
    int n = pad > 0 ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
    set_b64(o, name, buf, (size_t)n);
    BN_clear_free(bn);
}

/* A JWK of the key for alg (alg and kid members when given). */
static json_t *jwk_obj(slim_jwt_alg a, bool priv, const char *alg, const char *kid) {
    EVP_PKEY *k = key_for(a);
    json_t *o = json_object();
    if (k == NULL) {
        json_object_set_new(o, "kty", json_string("oct"));
        set_b64(o, "k", (const uint8_t *)HMAC_SECRET, strlen(HMAC_SECRET));
    } else if (a <= SLIM_JWT_PS512) {
        json_object_set_new(o, "kty", json_string("RSA"));
        set_bn(o, "n", k, OSSL_PKEY_PARAM_RSA_N, 0);
        set_bn(o, "e", k, OSSL_PKEY_PARAM_RSA_E, 0);
        if (priv) {
            set_bn(o, "d", k, OSSL_PKEY_PARAM_RSA_D, 0);
            set_bn(o, "p", k, OSSL_PKEY_PARAM_RSA_FACTOR1, 0);
            set_bn(o, "q", k, OSSL_PKEY_PARAM_RSA_FACTOR2, 0);
            set_bn(o, "dp", k, OSSL_PKEY_PARAM_RSA_EXPONENT1, 0);
            set_bn(o, "dq", k, OSSL_PKEY_PARAM_RSA_EXPONENT2, 0);
            set_bn(o, "qi", k, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 0);
        }
    } else if (a == SLIM_JWT_EDDSA) {
        uint8_t raw[32];
        size_t n = 32;
        json_object_set_new(o, "kty", json_string("OKP"));
        json_object_set_new(o, "crv", json_string("Ed25519"));
        CHECK_EQ(EVP_PKEY_get_raw_public_key(k, raw, &n), 1);
        set_b64(o, "x", raw, n);
        if (priv) {
            CHECK_EQ(EVP_PKEY_get_raw_private_key(k, raw, &n), 1);
            set_b64(o, "d", raw, n);
        }
    } else {
        size_t n = a == SLIM_JWT_ES256 ? 32 : 48;
        json_object_set_new(o, "kty", json_string("EC"));
        json_object_set_new(o, "crv", json_string(n == 32 ? "P-256" : "P-384"));
        set_bn(o, "x", k, OSSL_PKEY_PARAM_EC_PUB_X, n);
        set_bn(o, "y", k, OSSL_PKEY_PARAM_EC_PUB_Y, n);
        if (priv)
            set_bn(o, "d", k, OSSL_PKEY_PARAM_PRIV_KEY, n);
    }
    if (alg != NULL)
        json_object_set_new(o, "alg", json_string(alg));
    if (kid != NULL)
        json_object_set_new(o, "kid", json_string(kid));
    return o;
}

static char *dump(json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static char *jwk_of(slim_jwt_alg a, bool priv, const char *alg, const char *kid) {
    return dump(jwk_obj(a, priv, alg, kid));
}

static slim_jwt_keys *keys(slim_jwt_alg a, slim_jwt_key_format f, const char *text, bool sign) {
    slim_jwt_keys *k = NULL;
    CHECK_OK(slim_jwt_keys_parse(a, f, B(text), sign, &k));
    return k;
}

static slim_jwt_keys *pem_keys(slim_jwt_alg a, bool priv) {
    char *t = pem_of(a, priv);
    slim_jwt_keys *k = keys(a, SLIM_JWT_KEY_PEM, t, priv);
    free(t);
    return k;
}

static slim_jwt_provider *provider(slim_jwt_keys *k, const slim_jwt_provider_params *p) {
    slim_jwt_provider *pr = NULL;
    CHECK_OK(slim_jwt_provider_new(k, p, &pr));
    return pr;
}

static slim_jwt_verifier *verifier(slim_jwt_keys *k, const slim_jwt_verifier_params *p) {
    slim_jwt_verifier *v = NULL;
    CHECK_OK(slim_jwt_verifier_new(k, p, &v));
    return v;
}

static slim_jwt_verifier_stats vstats(const slim_jwt_verifier *v) {
    slim_jwt_verifier_stats s;
    slim_jwt_verifier_stats_get(v, &s);
    return s;
}

static char *copy_str(slim_str t) {
    char *c = malloc(t.len + 1);
    memcpy(c, t.ptr, t.len);
    c[t.len] = '\0';
    return c;
}

static char *token_at(slim_jwt_provider *p, uint64_t now) {
    slim_str t = {0};
    CHECK_OK(slim_jwt_provider_token(p, now, &t));
    CHECK_EQ(strlen(t.ptr), t.len); /* NUL-terminated */
    return copy_str(t);
}

/* "b64(header).b64(claims).b64(signature)", signed with k under alg. */
static char *craft(const char *header, const char *claims, const slim_jwt_keys *k,
                   slim_jwt_alg alg) {
    slim_buf t = SLIM_BUF_INIT, sig = SLIM_BUF_INIT;
    CHECK_OK(slim_b64_encode(B(header), SLIM_B64_URL, &t));
    CHECK_OK(slim_buf_append_u8(&t, '.'));
    CHECK_OK(slim_b64_encode(B(claims), SLIM_B64_URL, &t));
    CHECK_OK(slim_jwt_jws_sign(k, alg, slim_buf_view(&t), &sig));
    CHECK_OK(slim_buf_append_u8(&t, '.'));
    CHECK_OK(slim_b64_encode(slim_buf_view(&sig), SLIM_B64_URL, &t));
    char *s = copy_str((slim_str){(const char *)t.data, t.len});
    slim_buf_cleanup(&t);
    slim_buf_cleanup(&sig);
    return s;
}

/* ---- RFC examples --------------------------------------------------- */

/* RFC 7515 appendix A.1 (HS256) and A.3 (ES256), RFC 8037 appendix A.4
 * (Ed25519): keys, signing inputs and signatures as printed there. */
static const char A1_KEY[] = "{\"kty\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_"
                             "T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"}";
static const char A1_TOKEN[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
                               "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
                               "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_"
                               "wW1gFWFOEjXk";
static const char A3_KEY[] = "{\"kty\":\"EC\",\"crv\":\"P-256\","
                             "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                             "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
static const char A3_TOKEN[] = "eyJhbGciOiJFUzI1NiJ9."
                               "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
                               "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-"
                               "F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
static const char ED_KEY[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                             "\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\","
                             "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
static const char ED_INPUT[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
static const char ED_SIG[] =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
#define RFC_EXP 1300819380ull

TEST(rfc_examples) {
    /* A.1: the verifier accepts the token until exp + leeway; our HMAC of
     * the signing input is the printed signature. */
    slim_jwt_verifier *v = verifier(keys(SLIM_JWT_HS256, SLIM_JWT_KEY_JWK, A1_KEY, false), NULL);
    slim_jwt_claims c;
    CHECK_OK(slim_jwt_verifier_check_token(v, S(A1_TOKEN), RFC_EXP, &c));
    CHECK(c.issuer.len == 3 && memcmp(c.issuer.ptr, "joe", 3) == 0);
    CHECK_U64(c.expires_at, RFC_EXP);
    CHECK_OK(slim_jwt_verifier_check_token(v, S(A1_TOKEN), RFC_EXP + SLIM_JWT_LEEWAY_S, NULL));
    CHECK_STATUS(
        slim_jwt_verifier_check_token(v, S(A1_TOKEN), RFC_EXP + SLIM_JWT_LEEWAY_S + 1, NULL),
        SLIM_E_JWT_EXPIRED);
    slim_jwt_verifier_free(v);
    slim_jwt_keys *k = keys(SLIM_JWT_HS256, SLIM_JWT_KEY_JWK, A1_KEY, true);
    slim_buf sig = SLIM_BUF_INIT, sig64 = SLIM_BUF_INIT;
    const char *dot2 = strrchr(A1_TOKEN, '.');
    CHECK_OK(slim_jwt_jws_sign(k, 0, slim_bytes_of(A1_TOKEN, (size_t)(dot2 - A1_TOKEN)), &sig));
    CHECK_OK(slim_b64_encode(slim_buf_view(&sig), SLIM_B64_URL, &sig64));
    CHECK(sig64.len == strlen(dot2 + 1) && memcmp(sig64.data, dot2 + 1, sig64.len) == 0);
    slim_jwt_keys_free(k);

    /* A.3: ES256 as R || S. */
    v = verifier(keys(SLIM_JWT_ES256, SLIM_JWT_KEY_JWK, A3_KEY, false), NULL);
    CHECK_OK(slim_jwt_verifier_check_token(v, S(A3_TOKEN), RFC_EXP - 100, NULL));
    char *bad = strdup(A3_TOKEN);
    bad[strlen(bad) - 3] ^= 1; /* 'U' -> 'T': another S */
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(bad), RFC_EXP - 100, NULL),
                 SLIM_E_JWT_BAD_SIGNATURE);
    free(bad);
    slim_jwt_verifier_free(v);

    /* RFC 8037 A.4: Ed25519 signatures are deterministic, so ours is the
     * printed one; it verifies under the public half. (Its payload is
     * not JSON, so this is a JWS, not a JWT: checked at the JWS level.) */
    k = keys(SLIM_JWT_EDDSA, SLIM_JWT_KEY_JWK, ED_KEY, true);
    sig.len = sig64.len = 0;
    CHECK_OK(slim_jwt_jws_sign(k, 0, B(ED_INPUT), &sig));
    CHECK_OK(slim_b64_encode(slim_buf_view(&sig), SLIM_B64_URL, &sig64));
    CHECK(sig64.len == strlen(ED_SIG) && memcmp(sig64.data, ED_SIG, sig64.len) == 0);
    slim_jwt_keys *pub = keys(SLIM_JWT_EDDSA, SLIM_JWT_KEY_JWK, ED_KEY, false);
    CHECK_OK(slim_jwt_jws_verify(pub, 0, SLIM_JWT_EDDSA, B(ED_INPUT), slim_buf_view(&sig)));
    sig.data[10] ^= 0x40;
    CHECK_STATUS(slim_jwt_jws_verify(pub, 0, SLIM_JWT_EDDSA, B(ED_INPUT), slim_buf_view(&sig)),
                 SLIM_E_JWT_BAD_SIGNATURE);
    slim_jwt_keys_free(pub);
    slim_jwt_keys_free(k);
    slim_buf_cleanup(&sig);
    slim_buf_cleanup(&sig64);
}

TEST(alg_names) {
    for (int a = SLIM_JWT_HS256; a <= SLIM_JWT_EDDSA; a++) {
        slim_jwt_alg got = 0;
        CHECK_OK(slim_jwt_alg_parse(S(slim_jwt_alg_name((slim_jwt_alg)a)), &got));
        CHECK_EQ(got, a);
    }
    slim_jwt_alg x;
    CHECK_STATUS(slim_jwt_alg_parse(S("none"), &x), SLIM_E_JWT_BAD_ALG);
    CHECK_STATUS(slim_jwt_alg_parse(S("hs256"), &x), SLIM_E_JWT_BAD_ALG);
    CHECK_STATUS(slim_jwt_alg_parse(S("ES512"), &x), SLIM_E_JWT_BAD_ALG);
    CHECK(slim_jwt_alg_name((slim_jwt_alg)0) == NULL);
    CHECK(slim_jwt_alg_name((slim_jwt_alg)13) == NULL);
}

/* ---- every algorithm, every key format ------------------------------ */

static void round_trip(slim_jwt_alg a, slim_jwt_keys *sk, slim_jwt_keys *vk) {
    slim_str aud[2] = {S("svc-b"), S("svc-c")};
    slim_jwt_provider_params pp = {.issuer = S("https://issuer.test"),
                                   .subject = S("agntcy/ns/alice"),
                                   .audience = aud,
                                   .audience_len = 2,
                                   .duration_s = 600};
    slim_jwt_provider *p = provider(sk, &pp);
    slim_str want_aud = S("svc-c");
    slim_jwt_verifier_params vp = {.issuer = S("https://issuer.test"),
                                   .audience = &want_aud,
                                   .audience_len = 1,
                                   .subject = S("agntcy/ns/alice"),
                                   .require_iss = true,
                                   .require_aud = true,
                                   .require_sub = true};
    slim_jwt_verifier *v = verifier(vk, &vp);
    char *t = token_at(p, T0);
    slim_jwt_claims c;
    slim_status st = slim_jwt_verifier_check_token(v, S(t), T0 + 10, &c);
    if (st != SLIM_OK)
        TEST_FAIL_AT("%s: %s", slim_jwt_alg_name(a), slim_status_name(st));
    CHECK(c.subject.len == 15 && memcmp(c.subject.ptr, "agntcy/ns/alice", 15) == 0);
    CHECK_U64(c.issued_at, T0);
    CHECK_U64(c.not_before, T0);
    CHECK_U64(c.expires_at, T0 + 600);
    /* the header names the algorithm */
    slim_jwt_peeked pk = {0};
    CHECK_OK(slim_jwt_peek(S(t), &pk));
    CHECK_EQ(pk.alg, a);
    slim_jwt_peeked_cleanup(&pk);
    /* one changed signature bit is refused */
    char *bad = strdup(t);
    size_t n = strlen(bad);
    bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
    st = slim_jwt_verifier_check_token(v, S(bad), T0 + 10, NULL);
    if (st != SLIM_E_JWT_BAD_SIGNATURE)
        TEST_FAIL_AT("%s tampered: %s", slim_jwt_alg_name(a), slim_status_name(st));
    free(bad);
    free(t);
    slim_jwt_verifier_free(v);
    slim_jwt_provider_free(p);
}

TEST(every_algorithm_pem) {
    for (int a = SLIM_JWT_HS256; a <= SLIM_JWT_EDDSA; a++)
        round_trip((slim_jwt_alg)a, pem_keys((slim_jwt_alg)a, true),
                   pem_keys((slim_jwt_alg)a, false));
}

TEST(every_algorithm_jwk_and_jwks) {
    for (int a = SLIM_JWT_HS256; a <= SLIM_JWT_EDDSA; a++) {
        const char *name = slim_jwt_alg_name((slim_jwt_alg)a);
        /* private JWK with its alg, public JWK without: the configured alg */
        char *priv = jwk_of((slim_jwt_alg)a, true, name, "k1");
        char *pub = jwk_of((slim_jwt_alg)a, false, NULL, "k1");
        round_trip((slim_jwt_alg)a, keys((slim_jwt_alg)a, SLIM_JWT_KEY_JWK, priv, true),
                   keys((slim_jwt_alg)a, SLIM_JWT_KEY_JWK, pub, false));
        /* a JWKS with the key after one of another type; no alg given */
        json_t *set = json_object(), *arr = json_array();
        json_array_append_new(arr, jwk_obj(a == SLIM_JWT_EDDSA ? SLIM_JWT_ES256 : SLIM_JWT_EDDSA,
                                           false, NULL, "other"));
        json_array_append_new(arr, jwk_obj((slim_jwt_alg)a, false, name, "k1"));
        json_object_set_new(set, "keys", arr);
        char *jwks = dump(set);
        slim_jwt_keys *vk = keys(0, SLIM_JWT_KEY_JWKS, jwks, false);
        CHECK_EQ(slim_jwt_keys_count(vk), 2);
        round_trip((slim_jwt_alg)a, keys((slim_jwt_alg)a, SLIM_JWT_KEY_JWK, priv, true), vk);
        free(priv);
        free(pub);
        free(jwks);
    }
}

TEST(pem_variants) {
    /* a private key verifies too (its public half), a certificate-free
     * PKCS#1 public key reads, a PEM with text around it reads */
    char *priv = pem_of(SLIM_JWT_RS256, true);
    slim_jwt_keys *k = keys(SLIM_JWT_RS256, SLIM_JWT_KEY_PEM, priv, false);
    round_trip(SLIM_JWT_RS256, pem_keys(SLIM_JWT_RS256, true), k);
    BIO *b = BIO_new(BIO_s_mem());
    BIO_puts(b, "comment line\n");
    CHECK_EQ(PEM_write_bio_PUBKEY(b, key_for(SLIM_JWT_ES256)), 1);
    char *pub = bio_text(b);
    round_trip(SLIM_JWT_ES256, pem_keys(SLIM_JWT_ES256, true),
               keys(SLIM_JWT_ES256, SLIM_JWT_KEY_PEM, pub, false));
    free(pub);
    free(priv);
}

/* ---- refusals ------------------------------------------------------- */

TEST(key_refusals) {
    slim_jwt_keys *k = NULL;
    char *rsa = pem_of(SLIM_JWT_RS256, false), *ec = pem_of(SLIM_JWT_ES256, false);
    char *ec_priv = pem_of(SLIM_JWT_ES256, true), *p384 = pem_of(SLIM_JWT_ES384, false);
    /* a key of another type than the algorithm */
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_RS256, SLIM_JWT_KEY_PEM, B(ec), false, &k),
                 SLIM_E_JWT_KEY_MISMATCH);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_ES256, SLIM_JWT_KEY_PEM, B(rsa), false, &k),
                 SLIM_E_JWT_KEY_MISMATCH);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_ES256, SLIM_JWT_KEY_PEM, B(p384), false, &k),
                 SLIM_E_JWT_KEY_MISMATCH);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_EDDSA, SLIM_JWT_KEY_PEM, B(ec), false, &k),
                 SLIM_E_JWT_KEY_MISMATCH);
    char *jwk = jwk_of(SLIM_JWT_ES256, false, NULL, NULL);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_ES384, SLIM_JWT_KEY_JWK, B(jwk), false, &k),
                 SLIM_E_JWT_KEY_MISMATCH);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_HS256, SLIM_JWT_KEY_JWK, B(jwk), false, &k),
                 SLIM_E_JWT_KEY_MISMATCH);
    free(jwk);
    jwk = jwk_of(SLIM_JWT_RS256, false, "RS256", NULL);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_PS256, SLIM_JWT_KEY_JWK, B(jwk), false, &k),
                 SLIM_E_JWT_KEY_MISMATCH); /* its own alg differs */
    free(jwk);
    jwk = jwk_of(SLIM_JWT_HS256, false, "ES256", NULL); /* an oct key claiming ES256 */
    CHECK_STATUS(slim_jwt_keys_parse(0, SLIM_JWT_KEY_JWK, B(jwk), false, &k),
                 SLIM_E_JWT_KEY_MISMATCH);
    free(jwk);
    /* signing needs a private key */
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_ES256, SLIM_JWT_KEY_PEM, B(ec), true, &k),
                 SLIM_E_JWT_BAD_KEY);
    jwk = jwk_of(SLIM_JWT_ES256, false, NULL, NULL);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_ES256, SLIM_JWT_KEY_JWK, B(jwk), true, &k),
                 SLIM_E_JWT_BAD_KEY);
    free(jwk);
    /* unreadable */
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_RS256, SLIM_JWT_KEY_PEM, B("garbage"), false, &k),
                 SLIM_E_JWT_BAD_KEY);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_HS256, SLIM_JWT_KEY_PEM, B(""), false, &k),
                 SLIM_E_JWT_BAD_KEY);
    CHECK_STATUS(
        slim_jwt_keys_parse(SLIM_JWT_HS256, SLIM_JWT_KEY_JWK, B("{\"kty\":\"oct\"}"), false, &k),
        SLIM_E_JWT_BAD_KEY);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_HS256, SLIM_JWT_KEY_JWK,
                                     B("{\"kty\":\"oct\",\"k\":\"AAA=\"}"), false, &k),
                 SLIM_E_JWT_BAD_KEY); /* padded */
    CHECK_STATUS(slim_jwt_keys_parse(0, SLIM_JWT_KEY_JWK, B("[1]"), false, &k), SLIM_E_JWT_BAD_KEY);
    CHECK_STATUS(slim_jwt_keys_parse(0, SLIM_JWT_KEY_JWK, B("{\"kty\":\"XYZ\"}"), false, &k),
                 SLIM_E_JWT_BAD_KEY);
    CHECK_STATUS(slim_jwt_keys_parse(0, SLIM_JWT_KEY_JWK,
                                     B("{\"kty\":\"oct\",\"k\":\"AAAA\",\"use\":\"enc\"}"), false,
                                     &k),
                 SLIM_E_JWT_KEY_MISMATCH);
    CHECK_STATUS(slim_jwt_keys_parse(0, SLIM_JWT_KEY_JWK,
                                     B("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\"}"),
                                     false, &k),
                 SLIM_E_JWT_KEY_MISMATCH);
    /* a point off the curve (y changed) */
    json_t *o = jwk_obj(SLIM_JWT_ES256, false, NULL, NULL);
    uint8_t y[32] = {1};
    set_b64(o, "y", y, 32);
    char *off = dump(o);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_ES256, SLIM_JWT_KEY_JWK, B(off), false, &k),
                 SLIM_E_JWT_BAD_KEY);
    free(off);
    /* an Ed25519 private key whose x is not its public half */
    o = jwk_obj(SLIM_JWT_EDDSA, true, NULL, NULL);
    set_b64(o, "x", y, 32);
    off = dump(o);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_EDDSA, SLIM_JWT_KEY_JWK, B(off), true, &k),
                 SLIM_E_JWT_BAD_KEY);
    free(off);
    /* an RSA private key whose numbers do not match: it would sign, but
     * nothing would verify */
    o = jwk_obj(SLIM_JWT_RS256, true, NULL, NULL);
    uint8_t junk[256];
    memset(junk, 0x5a, sizeof junk);
    set_b64(o, "d", junk, 255);
    set_b64(o, "dp", junk, 127);
    set_b64(o, "dq", junk, 127);
    off = dump(o);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_RS256, SLIM_JWT_KEY_JWK, B(off), true, &k),
                 SLIM_E_JWT_BAD_KEY);
    free(off);
    /* RSA shorter than 2048 bits */
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, small);
    char *sm = bio_text(b);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_RS256, SLIM_JWT_KEY_PEM, B(sm), false, &k),
                 SLIM_E_JWT_BAD_KEY);
    free(sm);
    EVP_PKEY_free(small);
    /* an encrypted private key is not read (no passphrase prompt) */
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PKCS8PrivateKey(b, key_for(SLIM_JWT_ES256), EVP_aes_128_cbc(), NULL, 0, NULL,
                                  (void *)"pass");
    char *enc = bio_text(b);
    CHECK_STATUS(slim_jwt_keys_parse(SLIM_JWT_ES256, SLIM_JWT_KEY_PEM, B(enc), true, &k),
                 SLIM_E_JWT_BAD_KEY);
    free(enc);
    /* JWKS: nothing usable, too many keys, not a set */
    CHECK_STATUS(slim_jwt_keys_parse(0, SLIM_JWT_KEY_JWKS, B("{\"keys\":[]}"), false, &k),
                 SLIM_E_JWT_NO_KEY);
    CHECK_STATUS(slim_jwt_keys_parse(
                     0, SLIM_JWT_KEY_JWKS,
                     B("{\"keys\":[{\"kty\":\"oct\",\"use\":\"enc\",\"k\":\"AA\"}]}"), false, &k),
                 SLIM_E_JWT_KEY_MISMATCH);
    CHECK_STATUS(slim_jwt_keys_parse(0, SLIM_JWT_KEY_JWKS, B("{\"kes\":[]}"), false, &k),
                 SLIM_E_JWT_BAD_KEY);
    slim_buf many = SLIM_BUF_INIT;
    CHECK_OK(slim_buf_append(&many, "{\"keys\":[", 9));
    for (int i = 0; i <= SLIM_JWT_MAX_KEYS; i++)
        CHECK_OK(slim_buf_append(&many, i ? ",{}" : "{}", i ? 3 : 2));
    CHECK_OK(slim_buf_append(&many, "]}", 2));
    CHECK_STATUS(slim_jwt_keys_parse(0, SLIM_JWT_KEY_JWKS, slim_buf_view(&many), false, &k),
                 SLIM_E_TOO_LARGE);
    slim_buf_cleanup(&many);
    /* PEM needs an algorithm */
    CHECK_STATUS(slim_jwt_keys_parse(0, SLIM_JWT_KEY_PEM, B(ec), false, &k), SLIM_E_INVALID_ARG);
    free(rsa);
    free(ec);
    free(ec_priv);
    free(p384);
}

TEST(token_refusals) {
    slim_jwt_keys *hk = keys(SLIM_JWT_HS256, SLIM_JWT_KEY_PEM, HMAC_SECRET, true);
    slim_str aud = S("svc-b");
    slim_jwt_verifier_params vp = {.issuer = S("iss-a"),
                                   .audience = &aud,
                                   .audience_len = 1,
                                   .subject = S("alice"),
                                   .no_leeway = true};
    slim_jwt_verifier *v =
        verifier(keys(SLIM_JWT_HS256, SLIM_JWT_KEY_PEM, HMAC_SECRET, false), &vp);
    const char *H = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    struct {
        const char *header, *claims;
        slim_status want;
    } cases[] = {
        {H, "{\"iss\":\"iss-a\",\"sub\":\"alice\",\"aud\":\"svc-b\",\"exp\":1800000100}", SLIM_OK},
        {H, "{\"exp\":1800000100}", SLIM_OK}, /* nothing else required */
        {H, "{\"exp\":1800000000}", SLIM_OK}, /* exp == now */
        {H, "{\"exp\":1799999999}", SLIM_E_JWT_EXPIRED},
        {H, "{\"exp\":1800000100,\"nbf\":1800000001}", SLIM_E_JWT_NOT_YET_VALID},
        {H, "{\"exp\":1800000100,\"iat\":1800000001}", SLIM_E_JWT_NOT_YET_VALID},
        {H, "{\"exp\":1800000100,\"nbf\":1800000000,\"iat\":1700000000}", SLIM_OK},
        {H, "{\"iss\":\"iss-b\",\"exp\":1800000100}", SLIM_E_JWT_ISSUER},
        {H, "{\"sub\":\"bob\",\"exp\":1800000100}", SLIM_E_JWT_SUBJECT},
        {H, "{\"aud\":\"svc-x\",\"exp\":1800000100}", SLIM_E_JWT_AUDIENCE},
        {H, "{\"aud\":[\"svc-x\",\"svc-b\"],\"exp\":1800000100}", SLIM_OK},
        {H, "{\"aud\":[\"svc-x\"],\"exp\":1800000100}", SLIM_E_JWT_AUDIENCE},
        {H, "{\"aud\":[],\"exp\":1800000100}", SLIM_E_JWT_AUDIENCE},
        {H, "{\"iss\":\"iss-a\"}", SLIM_E_JWT_MISSING_CLAIM},
        {H, "{\"exp\":\"1800000100\"}", SLIM_E_JWT_BAD_CLAIM},
        {H, "{\"exp\":-1}", SLIM_E_JWT_BAD_CLAIM},
        {H, "{\"exp\":1800000100.5}", SLIM_OK},
        {H, "{\"exp\":1800000100,\"iss\":7}", SLIM_E_JWT_BAD_CLAIM},
        {H, "{\"exp\":1800000100,\"aud\":[1]}", SLIM_E_JWT_BAD_CLAIM},
        {H, "{\"exp\":1800000100,\"exp\":1800000200}", SLIM_E_JWT_BAD_JSON},
        {H, "[1]", SLIM_E_JWT_BAD_JSON},
        {H, "{\"exp\":18", SLIM_E_JWT_BAD_JSON},
        {"{\"alg\":\"none\"}", "{\"exp\":1800000100}", SLIM_E_JWT_BAD_ALG},
        {"{\"alg\":\"HS256\",\"alg\":\"HS256\"}", "{\"exp\":1800000100}", SLIM_E_JWT_BAD_JSON},
        {"{\"typ\":\"JWT\"}", "{\"exp\":1800000100}", SLIM_E_JWT_BAD_ALG},
        {"{\"alg\":256}", "{\"exp\":1800000100}", SLIM_E_JWT_BAD_CLAIM},
        {"{\"alg\":\"HS256\",\"kid\":5}", "{\"exp\":1800000100}", SLIM_E_JWT_BAD_CLAIM},
        {"{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", "{\"exp\":1800000100}", SLIM_E_JWT_MALFORMED},
        {"\"HS256\"", "{\"exp\":1800000100}", SLIM_E_JWT_BAD_JSON},
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(cases); i++) {
        char *t = craft(cases[i].header, cases[i].claims, hk, SLIM_JWT_HS256);
        slim_status got = slim_jwt_verifier_check_token(v, S(t), T0, NULL);
        if (got != cases[i].want)
            TEST_FAIL_AT("case %zu %s %s: got %s, want %s", i, cases[i].header, cases[i].claims,
                         slim_status_name(got), slim_status_name(cases[i].want));
        free(t);
    }
    /* a token that names an algorithm other than the key's */
    slim_jwt_keys *h384 = keys(SLIM_JWT_HS384, SLIM_JWT_KEY_PEM, HMAC_SECRET, true);
    char *t = craft("{\"alg\":\"HS384\"}", "{\"exp\":1800000100}", h384, SLIM_JWT_HS384);
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(t), T0, NULL), SLIM_E_JWT_WRONG_ALG);
    free(t);
    /* an RS256 header over an HMAC signature (algorithm confusion) */
    t = craft("{\"alg\":\"RS256\"}", "{\"exp\":1800000100}", hk, SLIM_JWT_HS256);
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(t), T0, NULL), SLIM_E_JWT_WRONG_ALG);
    free(t);
    slim_jwt_keys_free(h384);
    /* another secret */
    slim_jwt_keys *other = keys(SLIM_JWT_HS256, SLIM_JWT_KEY_PEM, "another secret", true);
    t = craft(H, "{\"exp\":1800000100}", other, SLIM_JWT_HS256);
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(t), T0, NULL), SLIM_E_JWT_BAD_SIGNATURE);
    free(t);
    slim_jwt_keys_free(other);
    /* shapes */
    char *good = craft(H, "{\"exp\":1800000100}", hk, SLIM_JWT_HS256);
    CHECK_OK(slim_jwt_verifier_check_token(v, S(good), T0, NULL));
    size_t n = strlen(good);
    const char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');
    struct {
        const char *text;
        slim_status want;
    } shapes[] = {
        {"", SLIM_E_JWT_MALFORMED},
        {"abc", SLIM_E_JWT_MALFORMED},
        {"abc.def", SLIM_E_JWT_MALFORMED},
        {"a.b.c.d", SLIM_E_JWT_MALFORMED},
        {"a.b.c.d.e", SLIM_E_JWT_MALFORMED},
        {".e30.AAAA", SLIM_E_JWT_MALFORMED},
        {"e30..AAAA", SLIM_E_JWT_MALFORMED},
        {"e30.e30.", SLIM_E_JWT_MALFORMED},
        {"e30=.e30.AAAA", SLIM_E_JWT_BAD_BASE64},
        {"e3+0.e30.AAAA", SLIM_E_JWT_BAD_BASE64},
        {"e31.e30.AAAA", SLIM_E_JWT_BAD_BASE64}, /* unused bits set */
        {"e30.e30.AAAA", SLIM_E_JWT_BAD_ALG},    /* {} has no alg */
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(shapes); i++) {
        slim_status got = slim_jwt_verifier_check_token(v, S(shapes[i].text), T0, NULL);
        if (got != shapes[i].want)
            TEST_FAIL_AT("\"%s\": got %s, want %s", shapes[i].text, slim_status_name(got),
                         slim_status_name(shapes[i].want));
    }
    /* the good token with its signature padded, cut, or in standard base64 */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s=", good);
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(buf), T0, NULL), SLIM_E_JWT_BAD_BASE64);
    snprintf(buf, sizeof buf, "%.*s", (int)(n - 3), good); /* 40 characters: 30 bytes */
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(buf), T0, NULL), SLIM_E_JWT_BAD_SIGNATURE);
    snprintf(buf, sizeof buf, "%.*s.%s", (int)(dot2 - good), good, "AAAA");
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(buf), T0, NULL), SLIM_E_JWT_BAD_SIGNATURE);
    /* claims swapped under the same header and signature */
    char *other_claims = craft(H, "{\"exp\":1800000200}", hk, SLIM_JWT_HS256);
    const char *oc1 = strchr(other_claims, '.'), *oc2 = strrchr(other_claims, '.');
    snprintf(buf, sizeof buf, "%.*s%.*s%s", (int)(dot1 - good), good, (int)(oc2 - oc1), oc1, dot2);
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(buf), T0, NULL), SLIM_E_JWT_BAD_SIGNATURE);
    free(other_claims);
    /* too long */
    char *huge = malloc(SLIM_JWT_MAX_TOKEN + 2);
    memset(huge, 'A', SLIM_JWT_MAX_TOKEN + 1);
    huge[SLIM_JWT_MAX_TOKEN + 1] = '\0';
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(huge), T0, NULL), SLIM_E_TOO_LARGE);
    free(huge);
    CHECK_STATUS(slim_jwt_verifier_check_token(NULL, S(good), T0, NULL), SLIM_E_INVALID_ARG);
    free(good);
    slim_jwt_verifier_free(v);

    /* RFC 7519 §4.1.3, as upstream: without a configured audience a token
     * naming one is refused, an empty list passes */
    v = verifier(keys(SLIM_JWT_HS256, SLIM_JWT_KEY_PEM, HMAC_SECRET, false), NULL);
    t = craft(H, "{\"aud\":\"x\",\"exp\":1800000100}", hk, SLIM_JWT_HS256);
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(t), T0, NULL), SLIM_E_JWT_AUDIENCE);
    free(t);
    t = craft(H, "{\"aud\":[],\"exp\":1800000100}", hk, SLIM_JWT_HS256);
    CHECK_OK(slim_jwt_verifier_check_token(v, S(t), T0, NULL));
    free(t);
    /* the default leeway is 60 s */
    t = craft(H, "{\"exp\":1799999940,\"nbf\":1800000060}", hk, SLIM_JWT_HS256);
    CHECK_OK(slim_jwt_verifier_check_token(v, S(t), T0, NULL));
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(t), T0 + 1, NULL), SLIM_E_JWT_EXPIRED);
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(t), T0 - 1, NULL), SLIM_E_JWT_NOT_YET_VALID);
    free(t);
    slim_jwt_verifier_free(v);

    /* required claims */
    slim_jwt_verifier_params req[3] = {
        {.require_iss = true}, {.require_sub = true}, {.require_aud = true}};
    for (int i = 0; i < 3; i++) {
        v = verifier(keys(SLIM_JWT_HS256, SLIM_JWT_KEY_PEM, HMAC_SECRET, false), &req[i]);
        t = craft(H, "{\"exp\":1800000100}", hk, SLIM_JWT_HS256);
        CHECK_STATUS(slim_jwt_verifier_check_token(v, S(t), T0, NULL), SLIM_E_JWT_MISSING_CLAIM);
        free(t);
        slim_jwt_verifier_free(v);
    }
    slim_jwt_keys_free(hk);
}

/* ---- JWKS key choice ------------------------------------------------ */

TEST(jwks_key_choice) {
    EVP_PKEY *second = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *saved = p256_key;
    /* keys "a" and "b" (P-256, no alg), and an RS256 key without kid */
    json_t *arr = json_array();
    json_array_append_new(arr, jwk_obj(SLIM_JWT_ES256, false, NULL, "a"));
    p256_key = second;
    json_array_append_new(arr, jwk_obj(SLIM_JWT_ES256, false, NULL, "b"));
    char *priv_b = jwk_of(SLIM_JWT_ES256, true, "ES256", NULL);
    p256_key = saved;
    char *priv_a = jwk_of(SLIM_JWT_ES256, true, "ES256", NULL);
    json_array_append_new(arr, jwk_obj(SLIM_JWT_RS256, false, "RS256", NULL));
    json_t *set = json_object();
    json_object_set_new(set, "keys", arr);
    char *jwks = dump(set);
    slim_jwt_verifier *v = verifier(keys(0, SLIM_JWT_KEY_JWKS, jwks, false), NULL);
    slim_jwt_keys *ka = keys(SLIM_JWT_ES256, SLIM_JWT_KEY_JWK, priv_a, true);
    slim_jwt_keys *kb = keys(SLIM_JWT_ES256, SLIM_JWT_KEY_JWK, priv_b, true);
    const char *C = "{\"exp\":1800000100}";
    struct {
        const char *header;
        slim_jwt_keys *key;
        slim_status want;
        uint64_t signatures; /* checks it costs */
    } cases[] = {
        {"{\"alg\":\"ES256\",\"kid\":\"b\"}", NULL, SLIM_OK, 1},
        {"{\"alg\":\"ES256\",\"kid\":\"a\"}", NULL, SLIM_OK, 1},
        {"{\"alg\":\"ES256\",\"kid\":\"a\",\"x\":1}", NULL, SLIM_E_JWT_BAD_SIGNATURE, 1},
        {"{\"alg\":\"ES256\"}", NULL, SLIM_OK, 2},                /* b is tried second */
        {"{\"alg\":\"ES256\",\"kid\":\"zz\"}", NULL, SLIM_OK, 2}, /* unknown kid: by alg */
        {"{\"alg\":\"ES384\"}", NULL, SLIM_E_JWT_NO_KEY, 0},
        {"{\"alg\":\"ES256\",\"kid\":\"new\"}", NULL, SLIM_E_JWT_NO_KEY, 2}, /* a third key */
        {"{\"alg\":\"RS256\",\"kid\":\"b\"}", NULL, SLIM_E_JWT_WRONG_ALG, 0},
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(cases); i++) {
        /* a kid "a" token signed by b; the rest signed by the key its kid names (b otherwise) */
        slim_jwt_keys *signer = strstr(cases[i].header, "\"a\"") && i != 2 ? ka : kb;
        slim_jwt_alg alg = strstr(cases[i].header, "ES384")   ? SLIM_JWT_ES384
                           : strstr(cases[i].header, "RS256") ? SLIM_JWT_RS256
                                                              : SLIM_JWT_ES256;
        slim_jwt_keys *own = NULL;
        if (alg != SLIM_JWT_ES256)
            signer = own = pem_keys(alg, true);
        if (strstr(cases[i].header, "\"new\"") != NULL) { /* a key the set does not have */
            EVP_PKEY *third = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
            p256_key = third;
            char *j = jwk_of(SLIM_JWT_ES256, true, "ES256", NULL);
            p256_key = saved;
            EVP_PKEY_free(third);
            signer = own = keys(SLIM_JWT_ES256, SLIM_JWT_KEY_JWK, j, true);
            free(j);
        }
        char *t = craft(cases[i].header, C, signer, alg);
        uint64_t before = vstats(v).signatures;
        slim_status got = slim_jwt_verifier_check_token(v, S(t), T0, NULL);
        if (got != cases[i].want)
            TEST_FAIL_AT("%s: got %s, want %s", cases[i].header, slim_status_name(got),
                         slim_status_name(cases[i].want));
        CHECK_U64(vstats(v).signatures - before, cases[i].signatures);
        free(t);
        slim_jwt_keys_free(own);
    }
    slim_jwt_keys_free(ka);
    slim_jwt_keys_free(kb);
    slim_jwt_verifier_free(v);
    free(jwks);
    free(priv_a);
    free(priv_b);
    EVP_PKEY_free(second);
}

/* ---- provider ------------------------------------------------------- */

TEST(token_reused_until_half_validity) {
    slim_jwt_provider_params pp = {.subject = S("alice"), .duration_s = 100};
    slim_jwt_provider *p = provider(pem_keys(SLIM_JWT_ES256, true), &pp);
    char *a = token_at(p, T0);
    char *b = token_at(p, T0 + 49);
    CHECK_STR(a, b);
    CHECK_U64(slim_jwt_provider_expiry(p), T0 + 100);
    char *c = token_at(p, T0 + 50);
    CHECK(strcmp(a, c) != 0);
    CHECK_U64(slim_jwt_provider_expiry(p), T0 + 150);
    char *d = token_at(p, T0 + 40); /* the clock went back before its iat */
    CHECK(strcmp(c, d) != 0);
    slim_jwt_provider_stats s;
    slim_jwt_provider_stats_get(p, &s);
    CHECK_U64(s.tokens_signed, 3);
    CHECK_U64(s.tokens_reused, 1);
    /* the token carries the claims and the header the docs name */
    slim_jwt_peeked pk = {0};
    CHECK_OK(slim_jwt_peek(S(d), &pk));
    CHECK_STR((const char *)pk.subject.data, "alice");
    CHECK_STR((const char *)pk.kid.data, "alice"); /* kid = sub, as upstream */
    CHECK_U64(pk.expires_at, T0 + 140);
    CHECK_EQ(pk.issuer.len, 0);
    slim_jwt_peeked_cleanup(&pk);
    free(a);
    free(b);
    free(c);
    free(d);
    /* the id and app id come from the subject */
    CHECK(slim_jwt_provider_has_id(p));
    slim_id want = slim_identity_app_id_of(S("alice"));
    CHECK_U64(slim_jwt_provider_app_id(p).hi, want.hi);
    CHECK_U64(slim_jwt_provider_app_id(p).lo, want.lo);
    CHECK_EQ(slim_jwt_provider_public_key(p).len, 65);
    CHECK_EQ(slim_jwt_provider_private_key(p).len, 32);
    slim_jwt_provider_free(p);
}

static json_t *claims_of(const char *token) {
    const char *d1 = strchr(token, '.'), *d2 = strrchr(token, '.');
    slim_buf raw = SLIM_BUF_INIT;
    CHECK_OK(slim_b64_decode((slim_str){d1 + 1, (size_t)(d2 - d1 - 1)}, SLIM_B64_URL, &raw));
    json_t *j = json_loadb((const char *)raw.data, raw.len, 0, NULL);
    slim_buf_cleanup(&raw);
    return j;
}

TEST(provider_claims) {
    slim_str aud[1] = {S("svc")};
    slim_jwt_provider_params pp = {.issuer = S("me"),
                                   .subject = S("alice"),
                                   .audience = aud,
                                   .audience_len = 1,
                                   .kid = S("key-7"),
                                   .extra_claims = S("{\"role\":\"moderator\",\"n\":[1,2]}")};
    slim_jwt_provider *p = provider(pem_keys(SLIM_JWT_EDDSA, true), &pp);
    char *t = token_at(p, T0);
    json_t *c = claims_of(t);
    CHECK_STR(json_string_value(json_object_get(c, "iss")), "me");
    CHECK_STR(json_string_value(json_object_get(c, "sub")), "alice");
    CHECK(json_is_array(json_object_get(c, "aud")));
    CHECK_STR(json_string_value(json_array_get(json_object_get(c, "aud"), 0)), "svc");
    CHECK_U64(json_integer_value(json_object_get(c, "exp")), T0 + SLIM_JWT_DURATION_S);
    CHECK_U64(json_integer_value(json_object_get(c, "iat")), T0);
    CHECK_U64(json_integer_value(json_object_get(c, "nbf")), T0);
    CHECK_STR(json_string_value(json_object_get(c, "role")), "moderator");
    /* pubkey: standard padded base64 of the P-256 public key */
    slim_buf pub = SLIM_BUF_INIT;
    const char *pk = json_string_value(json_object_get(c, "pubkey"));
    CHECK(pk != NULL);
    CHECK_OK(slim_b64_decode(S(pk ? pk : ""), SLIM_B64_PAD, &pub));
    CHECK_EQ(pub.len, 65);
    CHECK(pub.len == 65 && memcmp(pub.data, slim_jwt_provider_public_key(p).ptr, 65) == 0);
    slim_buf_cleanup(&pub);
    json_decref(c);
    slim_jwt_peeked pe = {0};
    CHECK_OK(slim_jwt_peek(S(t), &pe));
    CHECK_STR((const char *)pe.kid.data, "key-7");
    CHECK_EQ(pe.alg, SLIM_JWT_EDDSA);
    slim_jwt_peeked_cleanup(&pe);
    free(t);
    slim_jwt_provider_free(p);

    /* the key's own kid, when it has one; no sub, no kid, no id */
    char *jwk = jwk_of(SLIM_JWT_HS512, true, "HS512", "jwk-kid");
    slim_jwt_provider_params np = {.no_pubkey = true};
    p = provider(keys(0, SLIM_JWT_KEY_JWK, jwk, true), &np);
    t = token_at(p, T0);
    CHECK(!slim_jwt_provider_has_id(p));
    CHECK_EQ(slim_jwt_provider_public_key(p).len, 0);
    CHECK_OK(slim_jwt_peek(S(t), &pe));
    CHECK_STR((const char *)pe.kid.data, "jwk-kid");
    CHECK_EQ(pe.alg, SLIM_JWT_HS512);
    slim_jwt_peeked_cleanup(&pe);
    c = claims_of(t);
    CHECK(json_object_get(c, "pubkey") == NULL);
    CHECK(json_object_get(c, "sub") == NULL);
    json_decref(c);
    free(t);
    slim_jwt_provider_free(p);
    free(jwk);

    /* bad arguments: extra claims that are not an object or override */
    const char *bad_extra[] = {"[1]", "{\"exp\":5}", "{\"pubkey\":\"x\"}", "{\"sub\":\"x\"}", "{"};
    for (size_t i = 0; i < SLIM_ARRAY_LEN(bad_extra); i++) {
        slim_jwt_keys *k = pem_keys(SLIM_JWT_HS256, true);
        slim_jwt_provider_params bp = {.extra_claims = S(bad_extra[i])};
        CHECK_STATUS(slim_jwt_provider_new(k, &bp, &p), SLIM_E_INVALID_ARG);
        slim_jwt_keys_free(k); /* not taken on failure */
    }
    slim_jwt_keys *k = pem_keys(SLIM_JWT_HS256, true);
    slim_jwt_provider_params bp = {.subject = {"a\0b", 3}};
    CHECK_STATUS(slim_jwt_provider_new(k, &bp, &p), SLIM_E_INVALID_ARG);
    bp = (slim_jwt_provider_params){.subject = {"\xff", 1}};
    CHECK_STATUS(slim_jwt_provider_new(k, &bp, &p), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_jwt_provider_new(NULL, NULL, &p), SLIM_E_INVALID_ARG);
    slim_jwt_keys_free(k);
    /* a verification key cannot sign */
    k = pem_keys(SLIM_JWT_ES384, false);
    CHECK_STATUS(slim_jwt_provider_new(k, NULL, &p), SLIM_E_JWT_BAD_KEY);
    slim_jwt_keys_free(k);

    /* a new key: a new header and token */
    p = provider(pem_keys(SLIM_JWT_ES256, true), NULL);
    char *t1 = token_at(p, T0);
    CHECK_OK(slim_jwt_provider_set_key(p, pem_keys(SLIM_JWT_PS384, true)));
    char *t2 = token_at(p, T0);
    CHECK(strcmp(t1, t2) != 0);
    CHECK_OK(slim_jwt_peek(S(t2), &pe));
    CHECK_EQ(pe.alg, SLIM_JWT_PS384);
    slim_jwt_peeked_cleanup(&pe);
    CHECK_STATUS(slim_jwt_provider_set_token(p, S(t1)), SLIM_E_INVALID_ARG);
    free(t1);
    free(t2);
    slim_jwt_provider_free(p);
}

TEST(static_token) {
    slim_jwt_keys *hk = keys(SLIM_JWT_HS256, SLIM_JWT_KEY_PEM, HMAC_SECRET, true);
    char *t =
        craft("{\"alg\":\"HS256\"}", "{\"sub\":\"svc-a\",\"exp\":1800000100}", hk, SLIM_JWT_HS256);
    char padded[1024];
    snprintf(padded, sizeof padded, "\n  %s\r\n", t);
    slim_jwt_provider *p = NULL;
    CHECK_OK(slim_jwt_provider_new_static(S(padded), &p));
    slim_str got;
    CHECK_OK(slim_jwt_provider_token(p, T0, &got));
    CHECK(got.len == strlen(t) && memcmp(got.ptr, t, got.len) == 0);
    CHECK_U64(slim_jwt_provider_expiry(p), 1800000100);
    CHECK(slim_jwt_provider_has_id(p));
    CHECK(slim_jwt_provider_id(p).len == 5 && memcmp(slim_jwt_provider_id(p).ptr, "svc-a", 5) == 0);
    CHECK_EQ(slim_jwt_provider_public_key(p).len, 0);
    /* a new token; garbage keeps the old one */
    char *t2 =
        craft("{\"alg\":\"HS256\"}", "{\"sub\":\"svc-b\",\"exp\":1800000200}", hk, SLIM_JWT_HS256);
    CHECK_OK(slim_jwt_provider_set_token(p, S(t2)));
    CHECK_OK(slim_jwt_provider_token(p, T0, &got));
    CHECK(got.len == strlen(t2) && memcmp(got.ptr, t2, got.len) == 0);
    CHECK_U64(slim_jwt_provider_expiry(p), 1800000200);
    CHECK_STATUS(slim_jwt_provider_set_token(p, S("not a token")), SLIM_E_JWT_MALFORMED);
    CHECK_STATUS(slim_jwt_provider_set_token(p, S(" \n")), SLIM_E_JWT_MALFORMED);
    CHECK_OK(slim_jwt_provider_token(p, T0, &got));
    CHECK(got.len == strlen(t2));
    CHECK_STATUS(slim_jwt_provider_set_key(p, hk), SLIM_E_INVALID_ARG);
    slim_jwt_provider_free(p);
    CHECK_STATUS(slim_jwt_provider_new_static(S(""), &p), SLIM_E_JWT_MALFORMED);
    CHECK_STATUS(slim_jwt_provider_new_static(S("a.b"), &p), SLIM_E_JWT_MALFORMED);
    free(t);
    free(t2);
    slim_jwt_keys_free(hk);
}

/* ---- verifier cache ------------------------------------------------- */

TEST(verified_tokens_are_cached) {
    slim_jwt_provider_params pp = {.subject = S("alice"), .duration_s = 100};
    slim_jwt_provider *p = provider(pem_keys(SLIM_JWT_RS256, true), &pp);
    slim_jwt_verifier_params vp = {.leeway_s = 5, .cache_max = 3};
    slim_jwt_verifier *v = verifier(pem_keys(SLIM_JWT_RS256, false), &vp);
    char *t = token_at(p, T0);
    slim_jwt_claims c;
    for (int i = 0; i < 5; i++) {
        CHECK_OK(slim_jwt_verifier_check_token(v, S(t), T0 + (uint64_t)i, &c));
        CHECK(c.subject.len == 5 && memcmp(c.subject.ptr, "alice", 5) == 0);
        CHECK_U64(c.expires_at, T0 + 100);
    }
    CHECK_U64(vstats(v).signatures, 1);
    CHECK_U64(vstats(v).cache_hits, 4);
    CHECK_U64(vstats(v).cache_size, 1);
    /* a cached token still expires: at exp + leeway + 1 */
    CHECK_OK(slim_jwt_verifier_check_token(v, S(t), T0 + 105, NULL));
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(t), T0 + 106, NULL), SLIM_E_JWT_EXPIRED);
    CHECK_U64(vstats(v).cache_size, 0);
    CHECK_U64(vstats(v).signatures, 1);
    /* failures are not cached: each costs a check */
    char *bad = strdup(t);
    bad[strlen(bad) - 5] = bad[strlen(bad) - 5] == 'A' ? 'B' : 'A';
    CHECK(slim_jwt_verifier_check_token(v, S(bad), T0, NULL) != SLIM_OK);
    CHECK(slim_jwt_verifier_check_token(v, S(bad), T0, NULL) != SLIM_OK);
    CHECK_U64(vstats(v).signatures, 3);
    CHECK_U64(vstats(v).cache_size, 0);
    free(bad);
    /* bounded: the oldest goes */
    char *toks[5];
    for (int i = 0; i < 5; i++) {
        slim_jwt_provider *q = provider(pem_keys(SLIM_JWT_RS256, true), &pp);
        toks[i] = token_at(q, T0);
        slim_jwt_provider_free(q);
        CHECK_OK(slim_jwt_verifier_check_token(v, S(toks[i]), T0, NULL));
    }
    CHECK_U64(vstats(v).cache_size, 3);
    uint64_t sigs = vstats(v).signatures;
    CHECK_OK(slim_jwt_verifier_check_token(v, S(toks[4]), T0, NULL));
    CHECK_U64(vstats(v).signatures, sigs); /* newest: cached */
    CHECK_OK(slim_jwt_verifier_check_token(v, S(toks[0]), T0, NULL));
    CHECK_U64(vstats(v).signatures, sigs + 1); /* oldest: dropped */
    /* new keys empty the cache */
    CHECK_OK(slim_jwt_verifier_set_keys(v, pem_keys(SLIM_JWT_RS256, false)));
    CHECK_U64(vstats(v).cache_size, 0);
    CHECK_OK(slim_jwt_verifier_check_token(v, S(toks[4]), T0, NULL));
    CHECK_U64(vstats(v).signatures, sigs + 2);
    CHECK_STATUS(slim_jwt_verifier_set_keys(v, NULL), SLIM_E_INVALID_ARG);
    for (int i = 0; i < 5; i++)
        free(toks[i]);
    free(t);
    slim_jwt_verifier_free(v);
    slim_jwt_provider_free(p);
}

/* ---- autoresolve's pure half ---------------------------------------- */

TEST(autoresolve_issuer_gate) {
    slim_jwt_verifier *v = NULL;
    slim_jwt_verifier_params bad = {0};
    CHECK_STATUS(slim_jwt_verifier_new(NULL, &bad, &v), SLIM_E_INVALID_ARG);
    slim_jwt_keys *k = pem_keys(SLIM_JWT_ES256, false);
    bad.autoresolve = true;
    CHECK_STATUS(slim_jwt_verifier_new(k, &bad, &v), SLIM_E_INVALID_ARG);
    slim_jwt_keys_free(k);
    slim_jwt_verifier_params vp = {.autoresolve = true, .issuer = S("https://idp.test")};
    v = verifier(NULL, &vp);
    slim_jwt_keys *sk = pem_keys(SLIM_JWT_ES256, true);
    const char *H = "{\"alg\":\"ES256\"}";
    char *no_iss = craft(H, "{\"exp\":1800000100}", sk, SLIM_JWT_ES256);
    char *evil = craft(H, "{\"iss\":\"https://evil.test\",\"exp\":1800000100}", sk, SLIM_JWT_ES256);
    char *good = craft(H, "{\"iss\":\"https://idp.test\",\"exp\":1800000100}", sk, SLIM_JWT_ES256);
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(no_iss), T0, NULL), SLIM_E_JWT_MISSING_CLAIM);
    CHECK_EQ(slim_jwt_verifier_wanted_issuer(v).len, 0);
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(evil), T0, NULL), SLIM_E_JWT_ISSUER);
    CHECK_EQ(slim_jwt_verifier_wanted_issuer(v).len, 0); /* nothing to fetch from evil.test */
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(good), T0, NULL), SLIM_E_JWT_KEYS_NEEDED);
    slim_str w = slim_jwt_verifier_wanted_issuer(v);
    CHECK(w.len == 16 && memcmp(w.ptr, "https://idp.test", 16) == 0);
    /* keys of another type: no key fits, the issuer is named again */
    CHECK_OK(slim_jwt_verifier_set_issuer_keys(v, S("https://idp.test"),
                                               pem_keys(SLIM_JWT_ES384, false), T0 + 60));
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(good), T0, NULL), SLIM_E_JWT_WRONG_ALG);
    char *json = jwk_of(SLIM_JWT_ES384, false, "ES384", NULL);
    char jwks[4096];
    snprintf(jwks, sizeof jwks, "{\"keys\":[%s]}", json);
    free(json);
    CHECK_OK(slim_jwt_verifier_set_issuer_keys(v, S("https://idp.test"),
                                               keys(0, SLIM_JWT_KEY_JWKS, jwks, false), T0 + 60));
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(good), T0, NULL), SLIM_E_JWT_NO_KEY);
    CHECK_EQ(slim_jwt_verifier_wanted_issuer(v).len, 16);
    /* the right keys until valid_until */
    CHECK_OK(slim_jwt_verifier_set_issuer_keys(v, S("https://idp.test"),
                                               pem_keys(SLIM_JWT_ES256, false), T0 + 60));
    CHECK_OK(slim_jwt_verifier_check_token(v, S(good), T0, NULL));
    CHECK_EQ(slim_jwt_verifier_wanted_issuer(v).len, 0);
    CHECK_OK(slim_jwt_verifier_check_token(v, S(good), T0 + 61, NULL)); /* cached */
    char *other = craft(H, "{\"iss\":\"https://idp.test\",\"exp\":1800000101}", sk, SLIM_JWT_ES256);
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(other), T0 + 60, NULL), SLIM_E_JWT_KEYS_NEEDED);
    slim_jwt_keys *unused = pem_keys(SLIM_JWT_ES256, false);
    CHECK_STATUS(slim_jwt_verifier_set_keys(v, unused), SLIM_E_INVALID_ARG);
    slim_jwt_keys_free(unused); /* not taken on failure */
    /* many issuers: the oldest is dropped */
    slim_jwt_verifier_params any = {.autoresolve = true};
    slim_jwt_verifier *v2 = verifier(NULL, &any);
    for (int i = 0; i < SLIM_JWT_MAX_ISSUERS + 1; i++) {
        char iss[64];
        snprintf(iss, sizeof iss, "https://idp%d.test", i);
        CHECK_OK(slim_jwt_verifier_set_issuer_keys(v2, S(iss), pem_keys(SLIM_JWT_ES256, false),
                                                   T0 + 60));
    }
    char *first =
        craft(H, "{\"iss\":\"https://idp0.test\",\"exp\":1800000100}", sk, SLIM_JWT_ES256);
    char *last =
        craft(H, "{\"iss\":\"https://idp16.test\",\"exp\":1800000100}", sk, SLIM_JWT_ES256);
    CHECK_STATUS(slim_jwt_verifier_check_token(v2, S(first), T0, NULL), SLIM_E_JWT_KEYS_NEEDED);
    CHECK_OK(slim_jwt_verifier_check_token(v2, S(last), T0, NULL));
    free(first);
    free(last);
    slim_jwt_verifier_free(v2);
    free(other);
    free(no_iss);
    free(evil);
    free(good);
    slim_jwt_keys_free(sk);
    slim_jwt_verifier_free(v);
}

/* ---- messages ------------------------------------------------------- */

static slim_msg *publish(int mtype) {
    slim_name src = {{1, 2, 3}, {0, 5}}, dst = {{1, 2, 4}, {UINT64_MAX, UINT64_MAX}};
    slim_str text[3] = {S("agntcy"), S("ns"), S("alice")};
    slim_wire_header_spec h = {.source = {&src, text}, .destination = {&dst, NULL}, .fanout = 1};
    slim_wire_session_spec s = {
        .session_type = 1, .message_type = mtype, .session_id = 9, .message_id = 300};
    slim_msg *m = NULL;
    CHECK_OK(slim_wire_publish_new(&h, &s, &m));
    if (slim_wire_is_command_type(mtype)) {
        slim_pb_command *cmd = NULL;
        CHECK_OK(slim_wire_command_new(
            DATAPLANE__PROTO__V1__COMMAND_PAYLOAD__COMMAND_PAYLOAD_TYPE_DISCOVERY_REQUEST, &cmd));
        CHECK_OK(slim_wire_set_command(m, cmd));
    } else {
        CHECK_OK(slim_wire_set_app_payload(m, "msg", slim_bytes_of("hi", 2)));
    }
    return m;
}

TEST(stamp_and_check_messages) {
    slim_jwt_provider_params pp = {.subject = S("alice")};
    slim_jwt_provider *p = provider(pem_keys(SLIM_JWT_PS256, true), &pp);
    slim_jwt_verifier *v = verifier(pem_keys(SLIM_JWT_PS256, false), NULL);
    slim_msg *m = publish(5);
    CHECK_OK(slim_jwt_provider_stamp(p, m, T0));
    CHECK(slim_wire_header(m)->_e2e_header_sig_case);
    CHECK_OK(slim_jwt_verifier_check_msg(v, m, true, T0));
    CHECK_U64(vstats(v).header_sigs, 1);
    slim_bytes pk;
    CHECK_OK(slim_jwt_verifier_pubkey(v, S(slim_wire_header(m)->identity), T0, &pk));
    CHECK(pk.len == 65 && memcmp(pk.ptr, slim_jwt_provider_public_key(p).ptr, 65) == 0);
    CHECK_U64(vstats(v).signatures, 1); /* the pubkey came from the cache */
    /* through the wire and back */
    slim_buf b = SLIM_BUF_INIT;
    CHECK_OK(slim_wire_encode(m, SIZE_MAX, &b));
    slim_msg *d = NULL;
    CHECK_OK(slim_wire_decode(slim_buf_view(&b), SIZE_MAX, &d));
    CHECK_OK(slim_jwt_verifier_check_msg(v, d, true, T0 + 60));
    d->publish->session->message_id++;
    CHECK_STATUS(slim_jwt_verifier_check_msg(v, d, true, T0), SLIM_E_IDENTITY_BAD_SIGNATURE);
    CHECK_OK(slim_jwt_verifier_check_msg(v, d, false, T0));
    CHECK_OK(slim_wire_set_header_sig(d, slim_bytes_of(NULL, 0)));
    CHECK_STATUS(slim_jwt_verifier_check_msg(v, d, true, T0), SLIM_E_IDENTITY_NO_SIGNATURE);
    /* another provider's token with this one's signature */
    slim_jwt_provider *eve = provider(pem_keys(SLIM_JWT_PS256, true), &pp);
    CHECK_OK(slim_jwt_provider_stamp(p, m, T0));
    slim_str et;
    CHECK_OK(slim_jwt_provider_token(eve, T0, &et));
    CHECK_OK(slim_wire_set_identity(m, et));
    CHECK_STATUS(slim_jwt_verifier_check_msg(v, m, true, T0), SLIM_E_IDENTITY_BAD_SIGNATURE);
    slim_jwt_provider_free(eve);
    /* a token that is not ours */
    CHECK_OK(slim_wire_set_identity(m, S("x.y.z")));
    CHECK_STATUS(slim_jwt_verifier_check_msg(v, m, false, T0), SLIM_E_JWT_BAD_BASE64);
    slim_wire_free(d);
    slim_wire_free(m);
    slim_buf_cleanup(&b);
    /* data messages: a token, no signature */
    m = publish(1);
    CHECK_OK(slim_jwt_provider_stamp(p, m, T0));
    CHECK(!slim_wire_header(m)->_e2e_header_sig_case);
    CHECK_OK(slim_jwt_verifier_check_msg(v, m, true, T0));
    slim_wire_free(m);
    /* a static token signs nothing: its commands fail where a signature is due */
    slim_jwt_keys *hk = pem_keys(SLIM_JWT_PS256, true);
    char *t =
        craft("{\"alg\":\"PS256\"}", "{\"sub\":\"svc\",\"exp\":1800000100}", hk, SLIM_JWT_PS256);
    slim_jwt_provider *sp = NULL;
    CHECK_OK(slim_jwt_provider_new_static(S(t), &sp));
    m = publish(5);
    CHECK_OK(slim_jwt_provider_stamp(sp, m, T0));
    CHECK(!slim_wire_header(m)->_e2e_header_sig_case);
    CHECK_OK(slim_jwt_verifier_check_msg(v, m, false, T0));
    CHECK_STATUS(slim_jwt_verifier_check_msg(v, m, true, T0), SLIM_E_IDENTITY_NO_SIGNATURE);
    CHECK_OK(slim_wire_set_header_sig(m, slim_bytes_of("x", 1)));
    CHECK_STATUS(slim_jwt_verifier_check_msg(v, m, true, T0), SLIM_E_IDENTITY_NO_PUBKEY);
    slim_wire_free(m);
    slim_jwt_provider_free(sp);
    free(t);
    slim_jwt_keys_free(hk);
    CHECK_OK(slim_wire_subscription_ack_new(1, true, NULL, &m));
    CHECK_STATUS(slim_jwt_provider_stamp(p, m, T0), SLIM_E_WIRE_MISSING_FIELD);
    CHECK_STATUS(slim_jwt_verifier_check_msg(v, m, true, T0), SLIM_E_WIRE_MISSING_FIELD);
    slim_wire_free(m);
    slim_jwt_verifier_free(v);
    slim_jwt_provider_free(p);
}

/* Suite 1's scheme: an Ed25519 pubkey claim (32 bytes), 64-byte header
 * signatures; then tokens checked as MLS credentials. */
TEST(ed25519_key_and_credentials) {
    slim_str aud = S("svc-b");
    slim_jwt_provider_params pp = {.subject = S("alice"),
                                   .audience = &aud,
                                   .audience_len = 1,
                                   .duration_s = 10,
                                   .sig_scheme = SLIM_MLS_SIG_ED25519};
    slim_jwt_provider *p = provider(pem_keys(SLIM_JWT_ES256, true), &pp);
    slim_bytes key = slim_jwt_provider_public_key(p), sk = slim_jwt_provider_private_key(p);
    CHECK_EQ(key.len, 32);
    CHECK_EQ(sk.len, 32);
    uint8_t derived[32];
    CHECK_OK(slim_mls_sig_public(SLIM_MLS_SIG_ED25519, sk, derived));
    CHECK_MEM(derived, key.ptr, 32);
    slim_jwt_verifier_params vp = {.audience = &aud, .audience_len = 1, .no_leeway = true};
    slim_jwt_verifier *v = verifier(pem_keys(SLIM_JWT_ES256, false), &vp);
    slim_msg *m = publish(5);
    CHECK_OK(slim_jwt_provider_stamp(p, m, T0));
    CHECK_EQ(slim_wire_header(m)->e2e_header_sig.len, 64);
    CHECK_OK(slim_jwt_verifier_check_msg(v, m, true, T0));
    slim_bytes pk;
    CHECK_OK(slim_jwt_verifier_pubkey(v, S(slim_wire_header(m)->identity), T0, &pk));
    CHECK(pk.len == 32 && memcmp(pk.ptr, key.ptr, 32) == 0);
    slim_wire_free(m);

    char *tok = token_at(p, T0);
    slim_jwt_claims c;
    CHECK_OK(slim_jwt_verifier_credential(v, S(tok), true, T0 + 10, &c, &pk));
    CHECK(slim_identity_same_key(pk, key));
    CHECK(c.subject.len == 5 && memcmp(c.subject.ptr, "alice", 5) == 0);
    /* expired: refused when fresh, genuine otherwise; never cached as valid */
    CHECK_STATUS(slim_jwt_verifier_credential(v, S(tok), true, T0 + 11, &c, &pk),
                 SLIM_E_JWT_EXPIRED);
    CHECK_OK(slim_jwt_verifier_credential(v, S(tok), false, T0 + 100000, &c, &pk));
    CHECK(slim_identity_same_key(pk, key));
    CHECK_STATUS(slim_jwt_verifier_credential(v, S(tok), true, T0 + 100000, &c, &pk),
                 SLIM_E_JWT_EXPIRED);
    CHECK_STATUS(slim_jwt_verifier_check_token(v, S(tok), T0 + 100000, NULL), SLIM_E_JWT_EXPIRED);
    /* a changed signature, another audience: refused either way */
    char *bad = strdup(tok);
    char *sig = strrchr(bad, '.') + 5;
    *sig = *sig == 'A' ? 'B' : 'A';
    CHECK_STATUS(slim_jwt_verifier_credential(v, S(bad), false, T0, &c, &pk),
                 SLIM_E_JWT_BAD_SIGNATURE);
    CHECK_STATUS(slim_jwt_verifier_credential(v, S(bad), true, T0, &c, &pk),
                 SLIM_E_JWT_BAD_SIGNATURE);
    free(bad);
    slim_jwt_verifier_params other = {.audience = &pp.subject, .audience_len = 1};
    slim_jwt_verifier *v2 = verifier(pem_keys(SLIM_JWT_ES256, false), &other);
    CHECK_STATUS(slim_jwt_verifier_credential(v2, S(tok), false, T0 + 100000, &c, &pk),
                 SLIM_E_JWT_AUDIENCE);
    slim_jwt_verifier_free(v2);
    /* bytes a JWT cannot hold */
    CHECK_STATUS(
        slim_jwt_verifier_credential(v, (slim_str){tok, strlen(tok) + 1}, false, T0, &c, &pk),
        SLIM_E_JWT_MALFORMED);
    CHECK_STATUS(slim_jwt_verifier_credential(v, S("a.\xc3\xa9.c"), false, T0, &c, &pk),
                 SLIM_E_JWT_MALFORMED);
    free(tok);
    /* no iat, no nbf: its own time is its exp */
    slim_jwt_keys *ek = pem_keys(SLIM_JWT_ES256, true);
    char *t = craft("{\"alg\":\"ES256\"}",
                    "{\"exp\":1800000010,\"aud\":\"svc-b\","
                    "\"pubkey\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}",
                    ek, SLIM_JWT_ES256);
    CHECK_OK(slim_jwt_verifier_credential(v, S(t), false, T0 + 5000, &c, &pk));
    CHECK_EQ(pk.len, 32);
    CHECK_EQ(c.subject.len, 0);
    CHECK_STATUS(slim_jwt_verifier_credential(v, S(t), true, T0 + 5000, &c, &pk),
                 SLIM_E_JWT_EXPIRED);
    free(t);
    slim_jwt_keys_free(ek);
    /* only the two schemes of the suites */
    slim_jwt_provider *q = NULL;
    slim_jwt_provider_params bp = {.sig_scheme = (slim_mls_sig_scheme)0x0503};
    slim_jwt_keys *k = pem_keys(SLIM_JWT_ES256, true);
    CHECK_STATUS(slim_jwt_provider_new(k, &bp, &q), SLIM_E_INVALID_ARG);
    slim_jwt_keys_free(k);
    slim_jwt_verifier_free(v);
    slim_jwt_provider_free(p);
}

TEST(pubkey_claim_shapes) {
    slim_jwt_keys *hk = keys(SLIM_JWT_HS256, SLIM_JWT_KEY_PEM, HMAC_SECRET, true);
    slim_jwt_verifier *v =
        verifier(keys(SLIM_JWT_HS256, SLIM_JWT_KEY_PEM, HMAC_SECRET, false), NULL);
    /* 32 bytes: "AAAA...=" (44 characters) */
    struct {
        const char *claims;
        slim_status want;
        size_t len;
    } cases[] = {
        {"{\"exp\":1800000100,\"pubkey\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}",
         SLIM_OK, 32},
        {"{\"exp\":1800000100,\"custom_claims\":{\"pubkey\":"
         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}}",
         SLIM_OK, 32},
        {"{\"exp\":1800000100}", SLIM_E_IDENTITY_NO_PUBKEY, 0},
        {"{\"exp\":1800000100,\"pubkey\":5}", SLIM_E_IDENTITY_NO_PUBKEY, 0},
        {"{\"exp\":1800000100,\"pubkey\":\"AAAA\"}", SLIM_E_IDENTITY_BAD_PUBKEY, 0},
        {"{\"exp\":1800000100,\"pubkey\":\"A\"}", SLIM_E_IDENTITY_BAD_BASE64, 0},
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(cases); i++) {
        char *t = craft("{\"alg\":\"HS256\"}", cases[i].claims, hk, SLIM_JWT_HS256);
        for (int k = 0; k < 2; k++) { /* the second answer comes from the cache */
            slim_bytes pk = {0};
            slim_status got = slim_jwt_verifier_pubkey(v, S(t), T0, &pk);
            if (got != cases[i].want)
                TEST_FAIL_AT("%s: got %s, want %s", cases[i].claims, slim_status_name(got),
                             slim_status_name(cases[i].want));
            if (got == SLIM_OK)
                CHECK_EQ(pk.len, cases[i].len);
        }
        free(t);
    }
    CHECK_U64(vstats(v).signatures, SLIM_ARRAY_LEN(cases));
    slim_jwt_verifier_free(v);
    slim_jwt_keys_free(hk);
}

/* ---- discovery helpers ---------------------------------------------- */

TEST(discovery_helpers) {
    struct {
        const char *issuer, *want;
    } urls[] = {
        {"https://idp.test", "https://idp.test/.well-known/jwks.json"},
        {"https://idp.test/", "https://idp.test/.well-known/jwks.json"},
        {"https://idp.test:8443/realms/a//",
         "https://idp.test:8443/realms/a/.well-known/jwks.json"},
        {"http://[::1]:80/x", "http://[::1]:80/x/.well-known/jwks.json"},
        {"ftp://idp.test", NULL},
        {"https://idp.test?x=1", NULL},
        {"https://idp.test/#f", NULL},
        {"https://user@idp.test", NULL},
        {"https://", NULL},
        {"idp.test", NULL},
        {"https://idp.test:99999", NULL},
        {"https://idp.test:x", NULL},
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(urls); i++) {
        slim_buf b = SLIM_BUF_INIT;
        slim_status st = slim_jwt_well_known_url(S(urls[i].issuer), "/.well-known/jwks.json", &b);
        if (urls[i].want == NULL) {
            if (st != SLIM_E_JWT_DISCOVERY)
                TEST_FAIL_AT("%s: got %s", urls[i].issuer, slim_status_name(st));
        } else if (st != SLIM_OK || b.len != strlen(urls[i].want) ||
                   memcmp(b.data, urls[i].want, b.len) != 0) {
            TEST_FAIL_AT("%s: got %s \"%.*s\"", urls[i].issuer, slim_status_name(st), (int)b.len,
                         b.data ? (const char *)b.data : "");
        }
        slim_buf_cleanup(&b);
    }
    CHECK(slim_jwt_same_origin(S("https://a.test/x"), S("HTTPS://A.test:443/y?z")));
    CHECK(slim_jwt_same_origin(S("http://a.test"), S("http://a.test:80/")));
    CHECK(!slim_jwt_same_origin(S("https://a.test"), S("http://a.test")));
    CHECK(!slim_jwt_same_origin(S("https://a.test"), S("https://a.test:8443")));
    CHECK(!slim_jwt_same_origin(S("https://a.test"), S("https://a.test.evil")));
    CHECK(!slim_jwt_same_origin(S("https://a.test"), S("not a url")));
    struct {
        const char *doc;
        slim_status want;
        const char *uri;
    } docs[] = {
        {"{\"issuer\":\"https://idp.test/\",\"jwks_uri\":\"https://idp.test/keys\"}", SLIM_OK,
         "https://idp.test/keys"},
        {"{\"jwks_uri\":\"https://idp.test:443/k\"}", SLIM_OK, "https://idp.test:443/k"},
        {"{\"issuer\":\"https://other.test\",\"jwks_uri\":\"https://idp.test/keys\"}",
         SLIM_E_JWT_DISCOVERY, NULL},
        {"{\"jwks_uri\":\"https://evil.test/keys\"}", SLIM_E_JWT_DISCOVERY, NULL},
        {"{\"jwks_uri\":\"http://idp.test/keys\"}", SLIM_E_JWT_DISCOVERY, NULL},
        {"{\"issuer\":\"https://idp.test\"}", SLIM_E_NOT_FOUND, NULL},
        {"{\"jwks_uri\":5}", SLIM_E_NOT_FOUND, NULL},
        {"[]", SLIM_E_NOT_FOUND, NULL},
        {"<html>", SLIM_E_NOT_FOUND, NULL},
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(docs); i++) {
        slim_buf b = SLIM_BUF_INIT;
        slim_status st = slim_jwt_discovery_jwks_uri(B(docs[i].doc), S("https://idp.test"), &b);
        if (st != docs[i].want)
            TEST_FAIL_AT("%s: got %s, want %s", docs[i].doc, slim_status_name(st),
                         slim_status_name(docs[i].want));
        if (docs[i].uri != NULL &&
            (b.len != strlen(docs[i].uri) || memcmp(b.data, docs[i].uri, b.len) != 0))
            TEST_FAIL_AT("%s: uri \"%.*s\"", docs[i].doc, (int)b.len, (const char *)b.data);
        slim_buf_cleanup(&b);
    }
}

/* ---- allocation failures -------------------------------------------- */

TEST(allocation_failure) {
    char *priv = jwk_of(SLIM_JWT_ES256, true, "ES256", "kid-1");
    char *pub = jwk_of(SLIM_JWT_ES256, false, NULL, "kid-1");
    char jwks[2048];
    snprintf(jwks, sizeof jwks, "{\"keys\":[%s]}", pub);
    test_alloc_install();
    int nomem = 0;
    for (long k = 1; k < 400; k++) {
        test_alloc_fail_after(k);
        slim_jwt_keys *sk = NULL, *vk = NULL;
        slim_jwt_provider *p = NULL;
        slim_jwt_verifier *v = NULL;
        slim_msg *m = NULL;
        slim_str t;
        slim_jwt_claims c;
        slim_str aud = S("svc");
        slim_jwt_provider_params pp = {
            .issuer = S("iss"), .subject = S("alice"), .audience = &aud, .audience_len = 1};
        slim_jwt_verifier_params vp = {.issuer = S("iss"), .audience = &aud, .audience_len = 1};
        slim_status st = slim_jwt_keys_parse(0, SLIM_JWT_KEY_JWK, B(priv), true, &sk);
        if (st == SLIM_OK)
            st = slim_jwt_keys_parse(0, SLIM_JWT_KEY_JWKS, B(jwks), false, &vk);
        if (st == SLIM_OK && (st = slim_jwt_provider_new(sk, &pp, &p)) == SLIM_OK)
            sk = NULL;
        if (st == SLIM_OK && (st = slim_jwt_verifier_new(vk, &vp, &v)) == SLIM_OK)
            vk = NULL;
        if (st == SLIM_OK)
            st = slim_jwt_provider_token(p, T0, &t);
        if (st == SLIM_OK)
            st = slim_jwt_verifier_check_token(v, t, T0, &c);
        if (st == SLIM_OK)
            st = slim_jwt_verifier_check_token(v, t, T0, &c);
        if (st == SLIM_OK) {
            slim_name n = {{1, 2, 3}, {4, 5}};
            slim_wire_header_spec h = {.source = {&n, NULL}, .destination = {&n, NULL}};
            slim_wire_session_spec s = {.session_type = 1, .message_type = 5};
            st = slim_wire_publish_new(&h, &s, &m);
        }
        if (st == SLIM_OK)
            st = slim_jwt_provider_stamp(p, m, T0);
        if (st == SLIM_OK)
            st = slim_jwt_verifier_check_msg(v, m, true, T0);
        if (st == SLIM_E_NOMEM)
            nomem++;
        else if (st != SLIM_OK)
            TEST_FAIL_AT("k=%ld: %s", k, slim_status_name(st));
        slim_wire_free(m);
        slim_jwt_verifier_free(v);
        slim_jwt_provider_free(p);
        slim_jwt_keys_free(sk);
        slim_jwt_keys_free(vk);
        test_alloc_fail_after(0);
        if (test_alloc_live() != 0)
            TEST_FAIL_AT("k=%ld: %ld allocations leaked", k, test_alloc_live());
        if (st == SLIM_OK)
            break;
    }
    CHECK_INT(nomem, >, 10);
    test_alloc_uninstall();
    free(priv);
    free(pub);
}

static void free_keys(void) {
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(p256_key);
    EVP_PKEY_free(p384_key);
    EVP_PKEY_free(ed_key);
}

TEST(cleanup) {
    free_keys();
}

TEST_MAIN(TEST_ENTRY(rfc_examples), TEST_ENTRY(alg_names), TEST_ENTRY(every_algorithm_pem),
          TEST_ENTRY(every_algorithm_jwk_and_jwks), TEST_ENTRY(pem_variants),
          TEST_ENTRY(key_refusals), TEST_ENTRY(token_refusals), TEST_ENTRY(jwks_key_choice),
          TEST_ENTRY(token_reused_until_half_validity), TEST_ENTRY(provider_claims),
          TEST_ENTRY(static_token), TEST_ENTRY(verified_tokens_are_cached),
          TEST_ENTRY(autoresolve_issuer_gate), TEST_ENTRY(stamp_and_check_messages),
          TEST_ENTRY(ed25519_key_and_credentials), TEST_ENTRY(pubkey_claim_shapes),
          TEST_ENTRY(discovery_helpers), TEST_ENTRY(allocation_failure), TEST_ENTRY(cleanup))
