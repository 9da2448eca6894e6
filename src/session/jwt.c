/*
 * JWT keys, signing, providers and verifiers (see jwt.h and docs/jwt.md).
 *
 * Every signature goes through OpenSSL 3's EVP interface: HMAC() for HS*,
 * EVP_DigestSign/Verify for the rest, with PSS padding set on the key
 * context for PS* and the JOSE raw R || S converted to and from DER
 * (ECDSA_SIG) for ES*. Keys come from OSSL_DECODER (PEM), PEM X509
 * (certificates) or EVP_PKEY_fromdata / raw Ed25519 (JWK); JSON is read
 * and written with jansson.
 *
 * The verifier remembers tokens that passed (never ones that failed, so
 * forged tokens cannot fill it): a hash table keyed by the SHA-256 of the
 * token (its first 8 bytes are the table hash; the full 32 bytes are
 * compared), and a list in insertion order for eviction. An entry keeps
 * what a later check needs without the token's JSON: exp, nbf, iat, iss,
 * sub and the decoded "pubkey". A hit repeats only the time check.
 */
#include "session/jwt.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/hmap.h"
#include "core/util.h"
#include "mls/pkey.h"
#include "session/identity.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#define P256_SK        32
#define P256_PK        65
#define MIN_RSA_BITS   2048
#define MAX_RSA_BITS   8192 /* larger keys only cost time */
#define MAX_AUDIENCE   64
#define MAX_CACHED_STR 1024 /* longer iss/sub: the token is verified each time */

/* ---- algorithms ----------------------------------------------------- */

typedef enum family { FAM_HMAC = 1, FAM_RSA, FAM_PSS, FAM_EC, FAM_ED } family;

/* Key types. */
typedef enum kind { KIND_OCT = 1, KIND_RSA, KIND_EC256, KIND_EC384, KIND_ED25519 } kind;

typedef struct algdef {
    const char *name;
    family fam;
    int hash_bits; /* 0 for EdDSA */
    kind key;      /* the key type it needs */
} algdef;

static const algdef ALGS[SLIM_JWT_ALG_COUNT + 1] = {
    [SLIM_JWT_HS256] = {"HS256", FAM_HMAC, 256, KIND_OCT},
    [SLIM_JWT_HS384] = {"HS384", FAM_HMAC, 384, KIND_OCT},
    [SLIM_JWT_HS512] = {"HS512", FAM_HMAC, 512, KIND_OCT},
    [SLIM_JWT_RS256] = {"RS256", FAM_RSA, 256, KIND_RSA},
    [SLIM_JWT_RS384] = {"RS384", FAM_RSA, 384, KIND_RSA},
    [SLIM_JWT_RS512] = {"RS512", FAM_RSA, 512, KIND_RSA},
    [SLIM_JWT_PS256] = {"PS256", FAM_PSS, 256, KIND_RSA},
    [SLIM_JWT_PS384] = {"PS384", FAM_PSS, 384, KIND_RSA},
    [SLIM_JWT_PS512] = {"PS512", FAM_PSS, 512, KIND_RSA},
    [SLIM_JWT_ES256] = {"ES256", FAM_EC, 256, KIND_EC256},
    [SLIM_JWT_ES384] = {"ES384", FAM_EC, 384, KIND_EC384},
    [SLIM_JWT_EDDSA] = {"EdDSA", FAM_ED, 0, KIND_ED25519},
};

static bool alg_valid(slim_jwt_alg a) {
    return a >= SLIM_JWT_HS256 && a <= SLIM_JWT_EDDSA;
}

const char *slim_jwt_alg_name(slim_jwt_alg alg) {
    return alg_valid(alg) ? ALGS[alg].name : NULL;
}

slim_status slim_jwt_alg_parse(slim_str name, slim_jwt_alg *out) {
    for (int a = SLIM_JWT_HS256; a <= SLIM_JWT_EDDSA; a++)
        if (name.len == strlen(ALGS[a].name) && memcmp(name.ptr, ALGS[a].name, name.len) == 0) {
            *out = (slim_jwt_alg)a;
            return SLIM_OK;
        }
    return SLIM_E_JWT_BAD_ALG;
}

static const EVP_MD *md_of(slim_jwt_alg a) {
    switch (ALGS[a].hash_bits) {
    case 256:
        return EVP_sha256();
    case 384:
        return EVP_sha384();
    case 512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

/* Bytes of R (and of S) in an ES* signature (RFC 7518 §3.4). */
static size_t ec_half(slim_jwt_alg a) {
    return a == SLIM_JWT_ES256 ? 32 : 48;
}

static bool fits(kind k, slim_jwt_alg a) {
    return alg_valid(a) && ALGS[a].key == k;
}

/* ---- keys ----------------------------------------------------------- */

typedef struct jkey {
    slim_jwt_alg alg; /* 0: any the type fits */
    kind kind;
    bool priv;
    char *kid; /* NULL: none */
    size_t kid_len;
    EVP_PKEY *pkey;  /* all but oct */
    uint8_t *secret; /* oct */
    size_t secret_len;
} jkey;

struct slim_jwt_keys {
    size_t n;
    bool single; /* one key given as PEM or JWK: its kid is not matched */
    jkey k[];
};

static void jkey_cleanup(jkey *k) {
    EVP_PKEY_free(k->pkey);
    if (k->secret != NULL) {
        slim_memzero(k->secret, k->secret_len);
        slim_free(k->secret);
    }
    slim_free(k->kid);
    memset(k, 0, sizeof *k);
}

void slim_jwt_keys_free(slim_jwt_keys *k) {
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->n; i++)
        jkey_cleanup(&k->k[i]);
    slim_free(k);
}

size_t slim_jwt_keys_count(const slim_jwt_keys *k) {
    return k != NULL ? k->n : 0;
}

slim_jwt_alg slim_jwt_keys_alg(const slim_jwt_keys *k, size_t i) {
    return i < k->n ? k->k[i].alg : (slim_jwt_alg)0;
}

slim_str slim_jwt_keys_kid(const slim_jwt_keys *k, size_t i) {
    slim_str s = {"", 0};
    if (i < k->n && k->k[i].kid != NULL)
        s = (slim_str){k->k[i].kid, k->k[i].kid_len};
    return s;
}

static slim_jwt_keys *keys_alloc(size_t n) {
    slim_jwt_keys *k = slim_calloc(1, sizeof *k + n * sizeof(jkey));
    return k;
}

/* The type of an OpenSSL key; 0 when it is none we use. */
static kind kind_of_pkey(EVP_PKEY *pk) {
    switch (EVP_PKEY_get_base_id(pk)) {
    case EVP_PKEY_RSA:
        return KIND_RSA;
    case EVP_PKEY_ED25519:
        return KIND_ED25519;
    case EVP_PKEY_EC: {
        char name[64];
        size_t len = 0;
        if (EVP_PKEY_get_group_name(pk, name, sizeof name, &len) != 1)
            return 0;
        int nid = OBJ_sn2nid(name);
        if (nid == NID_undef)
            nid = EC_curve_nist2nid(name);
        return nid == NID_X9_62_prime256v1 ? KIND_EC256 : nid == NID_secp384r1 ? KIND_EC384 : 0;
    }
    default:
        return 0;
    }
}

static slim_status jws_sign_key(const jkey *k, slim_jwt_alg alg, slim_bytes in, slim_buf *sig);
static slim_status jws_verify_key(const jkey *k, slim_jwt_alg alg, slim_bytes in, slim_bytes sig);

/* A private key signs, and its public half verifies the signature: OpenSSL
 * reads keys whose private numbers do not match (a damaged file) and then
 * makes signatures nobody can verify. */
static slim_status self_test(EVP_PKEY *pk, kind kd) {
    static const slim_jwt_alg by_kind[] = {[KIND_RSA] = SLIM_JWT_RS256,
                                           [KIND_EC256] = SLIM_JWT_ES256,
                                           [KIND_EC384] = SLIM_JWT_ES384,
                                           [KIND_ED25519] = SLIM_JWT_EDDSA};
    jkey k = {.kind = kd, .priv = true, .pkey = pk};
    slim_bytes in = slim_bytes_of("e30.e30", 7);
    slim_buf sig = SLIM_BUF_INIT;
    slim_status st = jws_sign_key(&k, by_kind[kd], in, &sig);
    if (st == SLIM_OK)
        st = jws_verify_key(&k, by_kind[kd], in, slim_buf_view(&sig));
    slim_buf_cleanup(&sig);
    return st == SLIM_E_JWT_BAD_SIGNATURE || st == SLIM_E_MLS_CRYPTO ? SLIM_E_JWT_BAD_KEY : st;
}

/* Checks a key of an asymmetric type: RSA of MIN_RSA_BITS to
 * MAX_RSA_BITS, EC points on the curve, private keys by a self test. */
static slim_status check_pkey(EVP_PKEY *pk, kind k, bool priv) {
    if (k == KIND_RSA &&
        (EVP_PKEY_get_bits(pk) < MIN_RSA_BITS || EVP_PKEY_get_bits(pk) > MAX_RSA_BITS))
        return SLIM_E_JWT_BAD_KEY;
    if (k == KIND_EC256 || k == KIND_EC384) {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
        if (c == NULL)
            return SLIM_E_MLS_CRYPTO;
        int ok = priv ? EVP_PKEY_pairwise_check(c) : EVP_PKEY_public_check(c);
        EVP_PKEY_CTX_free(c);
        ERR_clear_error();
        if (ok != 1)
            return SLIM_E_JWT_BAD_KEY;
    }
    return priv ? self_test(pk, k) : SLIM_OK;
}

/* Fills in k from an OpenSSL key (taking it) for alg (0: any). */
static slim_status key_from_pkey(EVP_PKEY *pk, bool priv, slim_jwt_alg alg, jkey *k) {
    kind kd = kind_of_pkey(pk);
    slim_status st = SLIM_OK;
    if (kd == 0 || (alg != 0 && !fits(kd, alg)))
        st = SLIM_E_JWT_KEY_MISMATCH;
    else
        st = check_pkey(pk, kd, priv);
    if (st != SLIM_OK) {
        EVP_PKEY_free(pk);
        return st;
    }
    k->pkey = pk;
    k->kind = kd;
    k->priv = priv;
    k->alg = alg;
    return SLIM_OK;
}

/* One PEM key: a private key (PKCS#8, PKCS#1, SEC1) when want_private,
 * else a public key (SPKI, PKCS#1), a certificate, or a private key. */
static slim_status pem_pkey(slim_bytes text, bool want_private, EVP_PKEY **out, bool *is_private) {
    static const int sel[2] = {EVP_PKEY_KEYPAIR, EVP_PKEY_PUBLIC_KEY};
    for (int i = 0; i < (want_private ? 1 : 2); i++) {
        EVP_PKEY *pk = NULL;
        OSSL_DECODER_CTX *d =
            OSSL_DECODER_CTX_new_for_pkey(&pk, "PEM", NULL, NULL, sel[i], NULL, NULL);
        if (d == NULL)
            return SLIM_E_MLS_CRYPTO;
        const unsigned char *p = text.ptr;
        size_t n = text.len;
        int ok = OSSL_DECODER_from_data(d, &p, &n);
        OSSL_DECODER_CTX_free(d);
        if (ok == 1 && pk != NULL) {
            ERR_clear_error();
            *out = pk;
            *is_private = i == 0;
            return SLIM_OK;
        }
        EVP_PKEY_free(pk);
    }
    ERR_clear_error();
    if (want_private)
        return SLIM_E_JWT_BAD_KEY;
    BIO *b = BIO_new_mem_buf(text.ptr, (int)text.len);
    if (b == NULL)
        return SLIM_E_MLS_CRYPTO;
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    EVP_PKEY *pk = x != NULL ? X509_get_pubkey(x) : NULL;
    X509_free(x);
    ERR_clear_error();
    if (pk == NULL)
        return SLIM_E_JWT_BAD_KEY;
    *out = pk;
    *is_private = false;
    return SLIM_OK;
}

static slim_status pem_key(slim_jwt_alg alg, slim_bytes text, bool for_signing, jkey *k) {
    if (ALGS[alg].fam == FAM_HMAC) {
        if (text.len == 0)
            return SLIM_E_JWT_BAD_KEY;
        k->secret = slim_malloc(text.len);
        if (k->secret == NULL)
            return SLIM_E_NOMEM;
        memcpy(k->secret, text.ptr, text.len);
        k->secret_len = text.len;
        k->kind = KIND_OCT;
        k->priv = true;
        k->alg = alg;
        return SLIM_OK;
    }
    EVP_PKEY *pk;
    bool priv;
    slim_status st = pem_pkey(text, for_signing, &pk, &priv);
    if (st != SLIM_OK)
        return st;
    return key_from_pkey(pk, priv, alg, k);
}

/* ---- JWK ------------------------------------------------------------ */

static slim_status json_status(const json_error_t *e, slim_status otherwise) {
    return json_error_code(e) == json_error_out_of_memory ? SLIM_E_NOMEM : otherwise;
}

/* A JWK member holding unpadded base64url: decoded into out (emptied
 * first). E_NOT_FOUND when absent, E_JWT_BAD_KEY when not such a string. */
static slim_status jwk_b64(const json_t *o, const char *name, slim_buf *out) {
    out->len = 0;
    const json_t *v = json_object_get(o, name);
    if (v == NULL)
        return SLIM_E_NOT_FOUND;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return SLIM_E_JWT_BAD_KEY;
    slim_str s = {json_string_value(v), json_string_length(v)};
    slim_status st = slim_b64_decode(s, SLIM_B64_URL, out);
    return st == SLIM_E_INVALID_ARG ? SLIM_E_JWT_BAD_KEY : st;
}

static slim_status jwk_b64_required(const json_t *o, const char *name, slim_buf *out) {
    slim_status st = jwk_b64(o, name, out);
    return st == SLIM_E_NOT_FOUND ? SLIM_E_JWT_BAD_KEY : st;
}

/* Wipes the values of params holding private numbers, then frees. */
static void params_clear_free(OSSL_PARAM *p) {
    if (p == NULL)
        return;
    for (OSSL_PARAM *q = p; q->key != NULL; q++)
        if (q->data != NULL && q->data_size > 0)
            OPENSSL_cleanse(q->data, q->data_size);
    OSSL_PARAM_free(p);
}

static slim_status from_params(const char *type, int selection, OSSL_PARAM_BLD *bld,
                               EVP_PKEY **out) {
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pk = NULL;
    slim_status st = SLIM_E_MLS_CRYPTO;
    if (params != NULL && c != NULL && EVP_PKEY_fromdata_init(c) == 1)
        st = EVP_PKEY_fromdata(c, &pk, selection, params) == 1 && pk != NULL ? SLIM_OK
                                                                             : SLIM_E_JWT_BAD_KEY;
    EVP_PKEY_CTX_free(c);
    params_clear_free(params);
    ERR_clear_error();
    if (st == SLIM_OK)
        *out = pk;
    else
        EVP_PKEY_free(pk);
    return st;
}

/* Pushes a big-endian unsigned integer (wiped from the BIGNUM when
 * secret). The BIGNUM is kept in bns[*nb] until the params are built. */
static slim_status push_bn(OSSL_PARAM_BLD *bld, const char *key, const slim_buf *b, BIGNUM **bns,
                           size_t *nb, bool secret) {
    BIGNUM *bn = secret ? BN_secure_new() : BN_new();
    if (bn == NULL || BN_bin2bn(b->data, (int)b->len, bn) == NULL) {
        BN_free(bn);
        return SLIM_E_MLS_CRYPTO;
    }
    bns[(*nb)++] = bn;
    return OSSL_PARAM_BLD_push_BN(bld, key, bn) == 1 ? SLIM_OK : SLIM_E_MLS_CRYPTO;
}

static slim_status jwk_rsa(const json_t *o, bool priv, EVP_PKEY **out) {
    static const char *const names[] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
    static const char *const params[] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    slim_buf b = SLIM_BUF_INIT;
    BIGNUM *bns[8];
    size_t nb = 0;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    slim_status st = bld != NULL ? SLIM_OK : SLIM_E_MLS_CRYPTO;
    size_t count = priv ? 3 : 2;
    if (st == SLIM_OK && priv) {
        /* The CRT members come all together or not at all. */
        size_t crt = 0;
        for (size_t i = 3; i < 8; i++)
            crt += json_object_get(o, names[i]) != NULL;
        if (crt == 5)
            count = 8;
        else if (crt != 0)
            st = SLIM_E_JWT_BAD_KEY;
    }
    for (size_t i = 0; i < count && st == SLIM_OK; i++)
        if ((st = jwk_b64_required(o, names[i], &b)) == SLIM_OK)
            st = push_bn(bld, params[i], &b, bns, &nb, i >= 2);
    slim_buf_cleanup_secret(&b);
    if (st == SLIM_OK)
        st = from_params("RSA", priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld, out);
    for (size_t i = 0; i < nb; i++)
        BN_clear_free(bns[i]);
    OSSL_PARAM_BLD_free(bld);
    return st;
}

static slim_status jwk_ec(const json_t *o, kind kd, bool priv, EVP_PKEY **out) {
    size_t n = kd == KIND_EC256 ? 32 : 48;
    uint8_t point[1 + 2 * 48];
    slim_buf b = SLIM_BUF_INIT;
    BIGNUM *bns[1];
    size_t nb = 0;
    slim_status st = jwk_b64_required(o, "x", &b);
    if (st == SLIM_OK && b.len != n)
        st = SLIM_E_JWT_BAD_KEY;
    if (st == SLIM_OK) {
        point[0] = 0x04;
        memcpy(point + 1, b.data, n);
        if ((st = jwk_b64_required(o, "y", &b)) == SLIM_OK && b.len != n)
            st = SLIM_E_JWT_BAD_KEY;
    }
    if (st == SLIM_OK)
        memcpy(point + 1 + n, b.data, n);
    OSSL_PARAM_BLD *bld = st == SLIM_OK ? OSSL_PARAM_BLD_new() : NULL;
    if (st == SLIM_OK && bld == NULL)
        st = SLIM_E_MLS_CRYPTO;
    if (st == SLIM_OK &&
        (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                         kd == KIND_EC256 ? "prime256v1" : "secp384r1", 0) != 1 ||
         OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * n) != 1))
        st = SLIM_E_MLS_CRYPTO;
    if (st == SLIM_OK && priv) {
        if ((st = jwk_b64_required(o, "d", &b)) == SLIM_OK && b.len != n)
            st = SLIM_E_JWT_BAD_KEY;
        if (st == SLIM_OK)
            st = push_bn(bld, OSSL_PKEY_PARAM_PRIV_KEY, &b, bns, &nb, true);
    }
    slim_buf_cleanup_secret(&b);
    if (st == SLIM_OK)
        st = from_params("EC", priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld, out);
    for (size_t i = 0; i < nb; i++)
        BN_clear_free(bns[i]);
    OSSL_PARAM_BLD_free(bld);
    return st;
}

static slim_status jwk_ed25519(const json_t *o, bool priv, EVP_PKEY **out) {
    slim_buf x = SLIM_BUF_INIT, d = SLIM_BUF_INIT;
    slim_status st = jwk_b64_required(o, "x", &x);
    if (st == SLIM_OK && x.len != 32)
        st = SLIM_E_JWT_BAD_KEY;
    if (st == SLIM_OK && priv && (st = jwk_b64_required(o, "d", &d)) == SLIM_OK && d.len != 32)
        st = SLIM_E_JWT_BAD_KEY;
    EVP_PKEY *pk = NULL;
    if (st == SLIM_OK) {
        pk = priv ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d.data, 32)
                  : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x.data, 32);
        if (pk == NULL)
            st = SLIM_E_JWT_BAD_KEY;
    }
    if (st == SLIM_OK && priv) { /* x must be the public half of d */
        uint8_t pub[32];
        size_t len = sizeof pub;
        if (EVP_PKEY_get_raw_public_key(pk, pub, &len) != 1 || len != 32 ||
            memcmp(pub, x.data, 32) != 0)
            st = SLIM_E_JWT_BAD_KEY;
    }
    slim_buf_cleanup(&x);
    slim_buf_cleanup_secret(&d);
    ERR_clear_error();
    if (st == SLIM_OK)
        *out = pk;
    else
        EVP_PKEY_free(pk);
    return st;
}

/* A JWK object into k. alg: the configured algorithm (0 = none). A
 * verification key is made from the public members only. */
static slim_status jwk_key(const json_t *o, slim_jwt_alg alg, bool for_signing, jkey *k) {
    if (!json_is_object(o))
        return SLIM_E_JWT_BAD_KEY;
    const json_t *v = json_object_get(o, "kty");
    if (!json_is_string(v))
        return SLIM_E_JWT_BAD_KEY;
    const char *kty = json_string_value(v);
    kind kd;
    if (strcmp(kty, "oct") == 0) {
        kd = KIND_OCT;
    } else if (strcmp(kty, "RSA") == 0) {
        kd = KIND_RSA;
    } else if (strcmp(kty, "EC") == 0 || strcmp(kty, "OKP") == 0) {
        const json_t *c = json_object_get(o, "crv");
        const char *crv = json_is_string(c) ? json_string_value(c) : "";
        if (kty[0] == 'E' && strcmp(crv, "P-256") == 0)
            kd = KIND_EC256;
        else if (kty[0] == 'E' && strcmp(crv, "P-384") == 0)
            kd = KIND_EC384;
        else if (kty[0] == 'O' && strcmp(crv, "Ed25519") == 0)
            kd = KIND_ED25519;
        else
            return SLIM_E_JWT_KEY_MISMATCH; /* a curve no algorithm here uses */
    } else {
        return SLIM_E_JWT_BAD_KEY;
    }
    /* "use", when present, must allow signatures (RFC 7517 §4.2). */
    if ((v = json_object_get(o, "use")) != NULL &&
        (!json_is_string(v) || strcmp(json_string_value(v), "sig") != 0))
        return SLIM_E_JWT_KEY_MISMATCH;
    slim_jwt_alg own = 0;
    if ((v = json_object_get(o, "alg")) != NULL) {
        if (!json_is_string(v))
            return SLIM_E_JWT_BAD_KEY;
        slim_str a = {json_string_value(v), json_string_length(v)};
        if (slim_jwt_alg_parse(a, &own) != SLIM_OK)
            return SLIM_E_JWT_KEY_MISMATCH;
        if (alg != 0 && own != alg)
            return SLIM_E_JWT_KEY_MISMATCH;
    }
    slim_jwt_alg use = own != 0 ? own : alg;
    if (use != 0 && !fits(kd, use))
        return SLIM_E_JWT_KEY_MISMATCH;
    const json_t *kid = json_object_get(o, "kid");
    if (kid != NULL && !json_is_string(kid))
        return SLIM_E_JWT_BAD_KEY;
    slim_status st;
    if (kd == KIND_OCT) {
        slim_buf s = SLIM_BUF_INIT;
        if ((st = jwk_b64_required(o, "k", &s)) != SLIM_OK) {
            slim_buf_cleanup_secret(&s);
            return st;
        }
        k->secret = s.data; /* owned by k now */
        k->secret_len = s.len;
        k->priv = true;
    } else {
        bool priv = for_signing && json_object_get(o, "d") != NULL;
        if (for_signing && !priv)
            return SLIM_E_JWT_BAD_KEY; /* a public key cannot sign */
        EVP_PKEY *pk = NULL;
        st = kd == KIND_RSA       ? jwk_rsa(o, priv, &pk)
             : kd == KIND_ED25519 ? jwk_ed25519(o, priv, &pk)
                                  : jwk_ec(o, kd, priv, &pk);
        if (st != SLIM_OK)
            return st;
        if ((st = key_from_pkey(pk, priv, use, k)) != SLIM_OK)
            return st;
    }
    k->kind = kd;
    k->alg = use;
    if (kid != NULL) {
        k->kid_len = json_string_length(kid);
        if ((k->kid = slim_strndup(json_string_value(kid), k->kid_len)) == NULL) {
            jkey_cleanup(k);
            return SLIM_E_NOMEM;
        }
    }
    return SLIM_OK;
}

static slim_status load_json(slim_bytes text, json_t **out) {
    json_error_t e;
    json_t *j = json_loadb((const char *)text.ptr, text.len, JSON_REJECT_DUPLICATES, &e);
    if (j == NULL)
        return json_status(&e, SLIM_E_JWT_BAD_KEY);
    *out = j;
    return SLIM_OK;
}

static slim_status jwks_keys(const json_t *root, slim_jwt_alg alg, bool for_signing,
                             slim_jwt_keys **out) {
    const json_t *arr = json_is_object(root) ? json_object_get(root, "keys") : NULL;
    if (!json_is_array(arr))
        return SLIM_E_JWT_BAD_KEY;
    size_t n = json_array_size(arr);
    if (n > SLIM_JWT_MAX_KEYS)
        return SLIM_E_TOO_LARGE;
    slim_jwt_keys *ks = keys_alloc(n > 0 ? n : 1);
    if (ks == NULL)
        return SLIM_E_NOMEM;
    slim_status first = SLIM_OK;
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(arr, i);
        /* the configured alg is the default of entries without one */
        const json_t *own = json_is_object(o) ? json_object_get(o, "alg") : NULL;
        jkey k = {0};
        slim_status st = jwk_key(o, own != NULL ? 0 : alg, for_signing, &k);
        if (st == SLIM_E_JWT_KEY_MISMATCH && own == NULL && alg != 0)
            st = jwk_key(o, 0, for_signing, &k); /* it fits another algorithm */
        if (st == SLIM_E_NOMEM) {
            slim_jwt_keys_free(ks);
            return st;
        }
        if (st == SLIM_OK && for_signing && (k.alg == 0 || (alg != 0 && k.alg != alg)))
            st = SLIM_E_JWT_KEY_MISMATCH;
        if (st != SLIM_OK) {
            jkey_cleanup(&k);
            if (first == SLIM_OK)
                first = st;
            continue;
        }
        ks->k[ks->n++] = k;
        if (for_signing)
            break; /* the first usable private key signs */
    }
    if (ks->n == 0) {
        slim_jwt_keys_free(ks);
        return first != SLIM_OK ? first : SLIM_E_JWT_NO_KEY;
    }
    *out = ks;
    return SLIM_OK;
}

slim_status slim_jwt_keys_parse(slim_jwt_alg alg, slim_jwt_key_format format, slim_bytes text,
                                bool for_signing, slim_jwt_keys **out) {
    if (out == NULL || (text.ptr == NULL && text.len > 0) || (alg != 0 && !alg_valid(alg)))
        return SLIM_E_INVALID_ARG;
    if (text.len > SLIM_JWT_MAX_KEYTEXT)
        return SLIM_E_TOO_LARGE;
    if (format == SLIM_JWT_KEY_PEM) {
        if (alg == 0)
            return SLIM_E_INVALID_ARG;
        slim_jwt_keys *ks = keys_alloc(1);
        if (ks == NULL)
            return SLIM_E_NOMEM;
        slim_status st = pem_key(alg, text, for_signing, &ks->k[0]);
        if (st != SLIM_OK) {
            slim_jwt_keys_free(ks);
            return st;
        }
        ks->n = 1;
        ks->single = true;
        *out = ks;
        return SLIM_OK;
    }
    if (format != SLIM_JWT_KEY_JWK && format != SLIM_JWT_KEY_JWKS)
        return SLIM_E_INVALID_ARG;
    json_t *root;
    slim_status st = load_json(text, &root);
    if (st != SLIM_OK)
        return st;
    if (format == SLIM_JWT_KEY_JWKS) {
        st = jwks_keys(root, alg, for_signing, out);
        json_decref(root);
        return st;
    }
    slim_jwt_keys *ks = keys_alloc(1);
    if (ks == NULL)
        st = SLIM_E_NOMEM;
    else if ((st = jwk_key(root, alg, for_signing, &ks->k[0])) == SLIM_OK) {
        ks->n = 1;
        ks->single = true;
        *out = ks;
    }
    json_decref(root);
    if (st != SLIM_OK)
        slim_jwt_keys_free(ks);
    return st;
}

/* ---- JWS signatures ------------------------------------------------- */

/* DER ECDSA signature -> R || S, each `half` bytes. */
static slim_status der_to_raw(const uint8_t *der, size_t len, size_t half, slim_buf *out) {
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
    if (s == NULL)
        return SLIM_E_MLS_CRYPTO;
    const BIGNUM *r, *ss;
    ECDSA_SIG_get0(s, &r, &ss);
    uint8_t *dst;
    slim_status st = slim_buf_append_zeros(out, 2 * half, &dst);
    if (st == SLIM_OK && (BN_bn2binpad(r, dst, (int)half) != (int)half ||
                          BN_bn2binpad(ss, dst + half, (int)half) != (int)half)) {
        out->len -= 2 * half;
        st = SLIM_E_MLS_CRYPTO;
    }
    ECDSA_SIG_free(s);
    return st;
}

/* R || S -> DER (allocated by OpenSSL into *der). */
static slim_status raw_to_der(slim_bytes raw, uint8_t **der, int *der_len) {
    size_t half = raw.len / 2;
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw.ptr, (int)half, NULL);
    BIGNUM *ss = BN_bin2bn(raw.ptr + half, (int)half, NULL);
    slim_status st = SLIM_E_MLS_CRYPTO;
    if (s != NULL && r != NULL && ss != NULL && ECDSA_SIG_set0(s, r, ss) == 1) {
        r = ss = NULL; /* owned by s */
        *der = NULL;
        *der_len = i2d_ECDSA_SIG(s, der);
        if (*der_len > 0)
            st = SLIM_OK;
    }
    BN_free(r);
    BN_free(ss);
    ECDSA_SIG_free(s);
    return st;
}

/* The digest context for k and alg, PSS padding set for PS*. */
static slim_status md_ctx(const jkey *k, slim_jwt_alg alg, bool sign, EVP_MD_CTX **out) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    const EVP_MD *md = md_of(alg);
    int ok = c != NULL && (sign ? EVP_DigestSignInit(c, &pc, md, NULL, k->pkey)
                                : EVP_DigestVerifyInit(c, &pc, md, NULL, k->pkey)) == 1;
    if (ok && ALGS[alg].fam == FAM_PSS)
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pc, md) == 1;
    else if (ok && ALGS[alg].fam == FAM_RSA)
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1;
    if (!ok) {
        EVP_MD_CTX_free(c);
        ERR_clear_error();
        return SLIM_E_MLS_CRYPTO;
    }
    *out = c;
    return SLIM_OK;
}

static slim_status jws_sign_key(const jkey *k, slim_jwt_alg alg, slim_bytes in, slim_buf *sig) {
    if (!fits(k->kind, alg) || (k->alg != 0 && k->alg != alg))
        return SLIM_E_JWT_KEY_MISMATCH;
    if (!k->priv)
        return SLIM_E_JWT_BAD_KEY;
    if (in.len > INT32_MAX)
        return SLIM_E_TOO_LARGE;
    if (ALGS[alg].fam == FAM_HMAC) {
        uint8_t mac[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        if (k->secret_len > INT32_MAX ||
            HMAC(md_of(alg), k->secret, (int)k->secret_len, in.ptr, in.len, mac, &len) == NULL)
            return SLIM_E_MLS_CRYPTO;
        slim_status st = slim_buf_append(sig, mac, len);
        slim_memzero(mac, sizeof mac);
        return st;
    }
    EVP_MD_CTX *c;
    slim_status st = md_ctx(k, alg, true, &c);
    if (st != SLIM_OK)
        return st;
    size_t len = 0;
    uint8_t *tmp = NULL;
    st = SLIM_E_MLS_CRYPTO;
    if (EVP_DigestSign(c, NULL, &len, in.ptr, in.len) == 1 && len > 0 &&
        (tmp = slim_malloc(len)) != NULL && EVP_DigestSign(c, tmp, &len, in.ptr, in.len) == 1)
        st = ALGS[alg].fam == FAM_EC ? der_to_raw(tmp, len, ec_half(alg), sig)
                                     : slim_buf_append(sig, tmp, len);
    else if (len > 0 && tmp == NULL)
        st = SLIM_E_NOMEM;
    slim_free(tmp);
    EVP_MD_CTX_free(c);
    ERR_clear_error();
    return st;
}

static slim_status jws_verify_key(const jkey *k, slim_jwt_alg alg, slim_bytes in, slim_bytes sig) {
    if (!fits(k->kind, alg) || (k->alg != 0 && k->alg != alg))
        return SLIM_E_JWT_WRONG_ALG;
    if (in.len > INT32_MAX)
        return SLIM_E_TOO_LARGE;
    if (ALGS[alg].fam == FAM_HMAC) {
        uint8_t mac[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        if (k->secret_len > INT32_MAX ||
            HMAC(md_of(alg), k->secret, (int)k->secret_len, in.ptr, in.len, mac, &len) == NULL)
            return SLIM_E_MLS_CRYPTO;
        bool ok = sig.len == len && slim_ct_equal(mac, sig.ptr, len);
        return ok ? SLIM_OK : SLIM_E_JWT_BAD_SIGNATURE;
    }
    uint8_t *der = NULL;
    int der_len = 0;
    slim_bytes s = sig;
    if (ALGS[alg].fam == FAM_EC) {
        if (sig.len != 2 * ec_half(alg))
            return SLIM_E_JWT_BAD_SIGNATURE;
        slim_status st = raw_to_der(sig, &der, &der_len);
        if (st != SLIM_OK)
            return st;
        s = slim_bytes_of(der, (size_t)der_len);
    }
    EVP_MD_CTX *c;
    slim_status st = md_ctx(k, alg, false, &c);
    if (st == SLIM_OK) {
        st = EVP_DigestVerify(c, s.ptr, s.len, in.ptr, in.len) == 1 ? SLIM_OK
                                                                    : SLIM_E_JWT_BAD_SIGNATURE;
        EVP_MD_CTX_free(c);
    }
    OPENSSL_free(der);
    ERR_clear_error();
    return st;
}

slim_status slim_jwt_jws_sign(const slim_jwt_keys *k, slim_jwt_alg alg, slim_bytes input,
                              slim_buf *sig) {
    if (k == NULL || k->n == 0 || sig == NULL || (input.ptr == NULL && input.len > 0))
        return SLIM_E_INVALID_ARG;
    if (alg == 0)
        alg = k->k[0].alg;
    if (!alg_valid(alg))
        return SLIM_E_JWT_BAD_ALG;
    return jws_sign_key(&k->k[0], alg, input, sig);
}

slim_status slim_jwt_jws_verify(const slim_jwt_keys *k, size_t i, slim_jwt_alg alg,
                                slim_bytes input, slim_bytes sig) {
    if (k == NULL || i >= k->n || (input.ptr == NULL && input.len > 0) ||
        (sig.ptr == NULL && sig.len > 0))
        return SLIM_E_INVALID_ARG;
    if (!alg_valid(alg))
        return SLIM_E_JWT_BAD_ALG;
    return jws_verify_key(&k->k[i], alg, input, sig);
}

/* ---- token parsing -------------------------------------------------- */

typedef struct parsed {
    slim_str input; /* "header.payload": what the signature covers */
    slim_str sig64;
    json_t *header, *claims;
    slim_jwt_alg alg;
    const json_t *kid; /* a string, or NULL */
} parsed;

static void parsed_cleanup(parsed *p) {
    json_decref(p->header);
    json_decref(p->claims);
    p->header = p->claims = NULL;
}

/* The JSON object that a base64url segment holds. */
static slim_status segment_json(slim_str seg, json_t **out) {
    slim_buf raw = SLIM_BUF_INIT;
    slim_status st = slim_b64_decode(seg, SLIM_B64_URL, &raw);
    if (st != SLIM_OK) {
        slim_buf_cleanup(&raw);
        return st == SLIM_E_INVALID_ARG ? SLIM_E_JWT_BAD_BASE64 : st;
    }
    json_error_t e;
    json_t *j = json_loadb((const char *)raw.data, raw.len, JSON_REJECT_DUPLICATES, &e);
    slim_buf_cleanup(&raw);
    if (j == NULL)
        return json_status(&e, SLIM_E_JWT_BAD_JSON);
    if (!json_is_object(j)) {
        json_decref(j);
        return SLIM_E_JWT_BAD_JSON;
    }
    *out = j;
    return SLIM_OK;
}

/* Splits and decodes a token's header and claims (not the signature).
 * On error p holds nothing to clean up. */
static slim_status parse_token(slim_str t, parsed *p) {
    memset(p, 0, sizeof *p);
    if (t.len > SLIM_JWT_MAX_TOKEN)
        return SLIM_E_TOO_LARGE;
    const char *d1 = t.len > 0 ? memchr(t.ptr, '.', t.len) : NULL;
    if (d1 == NULL)
        return SLIM_E_JWT_MALFORMED;
    size_t rest = t.len - (size_t)(d1 + 1 - t.ptr);
    const char *d2 = rest > 0 ? memchr(d1 + 1, '.', rest) : NULL;
    if (d2 == NULL)
        return SLIM_E_JWT_MALFORMED;
    size_t tail = t.len - (size_t)(d2 + 1 - t.ptr);
    if (tail > 0 && memchr(d2 + 1, '.', tail) != NULL)
        return SLIM_E_JWT_MALFORMED; /* a JWE has five segments; anything else is not ours */
    slim_str h = {t.ptr, (size_t)(d1 - t.ptr)};
    slim_str c = {d1 + 1, (size_t)(d2 - d1 - 1)};
    if (h.len == 0 || c.len == 0 || tail == 0)
        return SLIM_E_JWT_MALFORMED;
    p->input = (slim_str){t.ptr, (size_t)(d2 - t.ptr)};
    p->sig64 = (slim_str){d2 + 1, tail};
    slim_status st = segment_json(h, &p->header);
    if (st != SLIM_OK)
        return st;
    const json_t *a = json_object_get(p->header, "alg");
    if (a == NULL)
        st = SLIM_E_JWT_BAD_ALG;
    else if (!json_is_string(a))
        st = SLIM_E_JWT_BAD_CLAIM;
    else
        st = slim_jwt_alg_parse((slim_str){json_string_value(a), json_string_length(a)}, &p->alg);
    /* We implement no JWS extension, so a "crit" header cannot be
     * honoured (RFC 7515 §4.1.11). */
    if (st == SLIM_OK && json_object_get(p->header, "crit") != NULL)
        st = SLIM_E_JWT_MALFORMED;
    if (st == SLIM_OK && (p->kid = json_object_get(p->header, "kid")) != NULL &&
        !json_is_string(p->kid))
        st = SLIM_E_JWT_BAD_CLAIM;
    if (st == SLIM_OK)
        st = segment_json(c, &p->claims);
    if (st != SLIM_OK)
        parsed_cleanup(p);
    return st;
}

/* The registered claims a check needs (views into the claims JSON). */
typedef struct claims_view {
    slim_str iss, sub;
    bool has_iss, has_sub, has_exp, has_nbf, has_iat;
    const json_t *aud; /* a string or an array of strings, or NULL */
    uint64_t exp, nbf, iat;
} claims_view;

/* A NumericDate (RFC 7519 §2): a non-negative number of seconds,
 * fractions dropped. */
static slim_status numeric_date(const json_t *v, bool *has, uint64_t *out) {
    *has = false;
    if (v == NULL || json_is_null(v))
        return SLIM_OK;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 0x1p63) {
        *out = (uint64_t)json_real_value(v);
    } else {
        return SLIM_E_JWT_BAD_CLAIM;
    }
    *has = true;
    return SLIM_OK;
}

static slim_status string_claim(const json_t *v, bool *has, slim_str *out) {
    *has = false;
    if (v == NULL || json_is_null(v))
        return SLIM_OK;
    if (!json_is_string(v))
        return SLIM_E_JWT_BAD_CLAIM;
    *out = (slim_str){json_string_value(v), json_string_length(v)};
    *has = true;
    return SLIM_OK;
}

static slim_status read_claims(const json_t *c, claims_view *cv) {
    memset(cv, 0, sizeof *cv);
    slim_status st;
    if ((st = string_claim(json_object_get(c, "iss"), &cv->has_iss, &cv->iss)) != SLIM_OK ||
        (st = string_claim(json_object_get(c, "sub"), &cv->has_sub, &cv->sub)) != SLIM_OK ||
        (st = numeric_date(json_object_get(c, "exp"), &cv->has_exp, &cv->exp)) != SLIM_OK ||
        (st = numeric_date(json_object_get(c, "nbf"), &cv->has_nbf, &cv->nbf)) != SLIM_OK ||
        (st = numeric_date(json_object_get(c, "iat"), &cv->has_iat, &cv->iat)) != SLIM_OK)
        return st;
    const json_t *aud = json_object_get(c, "aud");
    if (aud == NULL || json_is_null(aud))
        return SLIM_OK;
    if (json_is_array(aud)) {
        for (size_t i = 0; i < json_array_size(aud); i++)
            if (!json_is_string(json_array_get(aud, i)))
                return SLIM_E_JWT_BAD_CLAIM;
    } else if (!json_is_string(aud)) {
        return SLIM_E_JWT_BAD_CLAIM;
    }
    cv->aud = aud;
    return SLIM_OK;
}

static void buf_set(slim_buf *b, slim_str s) {
    b->len = 0;
    if (slim_buf_reserve(b, s.len + 1) == SLIM_OK) {
        memcpy(b->data, s.ptr, s.len);
        b->data[s.len] = '\0';
        b->len = s.len;
    }
}

static slim_status buf_set_checked(slim_buf *b, slim_str s) {
    buf_set(b, s);
    return b->len == s.len && b->data != NULL ? SLIM_OK : SLIM_E_NOMEM;
}

void slim_jwt_peeked_cleanup(slim_jwt_peeked *p) {
    slim_buf_cleanup(&p->issuer);
    slim_buf_cleanup(&p->subject);
    slim_buf_cleanup(&p->kid);
    p->alg = 0;
    p->expires_at = 0;
}

static slim_status set_or_clear(slim_buf *b, bool has, slim_str s) {
    if (!has) {
        b->len = 0;
        return SLIM_OK;
    }
    return buf_set_checked(b, s);
}

slim_status slim_jwt_peek(slim_str token, slim_jwt_peeked *out) {
    if (out == NULL || (token.ptr == NULL && token.len > 0))
        return SLIM_E_INVALID_ARG;
    parsed p;
    slim_status st = parse_token(token, &p);
    if (st != SLIM_OK)
        return st;
    claims_view cv;
    if ((st = read_claims(p.claims, &cv)) == SLIM_OK) {
        slim_str kid = p.kid != NULL
                           ? (slim_str){json_string_value(p.kid), json_string_length(p.kid)}
                           : (slim_str){"", 0};
        if ((st = set_or_clear(&out->issuer, cv.has_iss, cv.iss)) == SLIM_OK &&
            (st = set_or_clear(&out->subject, cv.has_sub, cv.sub)) == SLIM_OK &&
            (st = set_or_clear(&out->kid, p.kid != NULL, kid)) == SLIM_OK) {
            out->alg = p.alg;
            out->expires_at = cv.has_exp ? cv.exp : 0;
        }
    }
    parsed_cleanup(&p);
    return st;
}

/* ---- shared helpers ------------------------------------------------- */

static bool has_nul(slim_str s) {
    return s.len > 0 && memchr(s.ptr, '\0', s.len) != NULL;
}

static char *dup_str(slim_str s) {
    return slim_strndup(s.len > 0 ? s.ptr : "", s.len);
}

/* A list of strings copied (audience). */
typedef struct strlist {
    char **v;
    size_t *len;
    size_t n;
} strlist;

static void strlist_free(strlist *l) {
    for (size_t i = 0; i < l->n; i++)
        slim_free(l->v[i]);
    slim_free(l->v);
    slim_free(l->len);
    memset(l, 0, sizeof *l);
}

static slim_status strlist_copy(const slim_str *src, size_t n, strlist *l) {
    memset(l, 0, sizeof *l);
    if (n == 0)
        return SLIM_OK;
    if (src == NULL || n > MAX_AUDIENCE)
        return SLIM_E_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if ((src[i].ptr == NULL && src[i].len > 0) || has_nul(src[i]))
            return SLIM_E_INVALID_ARG;
    l->v = slim_calloc(n, sizeof *l->v);
    l->len = slim_calloc(n, sizeof *l->len);
    if (l->v == NULL || l->len == NULL) {
        strlist_free(l);
        return SLIM_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if ((l->v[i] = dup_str(src[i])) == NULL) {
            l->n = i;
            strlist_free(l);
            return SLIM_E_NOMEM;
        }
        l->len[i] = src[i].len;
    }
    l->n = n;
    return SLIM_OK;
}

static bool str_eq(slim_str a, const char *b, size_t blen) {
    return a.len == blen && (blen == 0 || memcmp(a.ptr, b, blen) == 0);
}

static bool arg_str_ok(slim_str s) {
    return !(s.ptr == NULL && s.len > 0) && !has_nul(s);
}

/* What jansson will take as a JSON string (UTF-8); false also without
 * memory, which the caller then reports as a bad argument. */
static bool utf8_ok(slim_str s) {
    json_t *j = json_stringn(s.len > 0 ? s.ptr : "", s.len);
    json_decref(j);
    return j != NULL;
}

/* Serializes j compactly and appends its unpadded base64url. */
static slim_status append_json_b64(const json_t *j, slim_buf *out) {
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    if (n == 0)
        return SLIM_E_NOMEM;
    char *text = slim_malloc(n);
    if (text == NULL)
        return SLIM_E_NOMEM;
    slim_status st = json_dumpb(j, text, n, JSON_COMPACT) == n
                         ? slim_b64_encode(slim_bytes_of(text, n), SLIM_B64_URL, out)
                         : SLIM_E_INTERNAL;
    slim_free(text);
    return st;
}

static bool is_command_publish(const slim_msg *m) {
    return slim_wire_kind(m) == SLIM_MSG_PUBLISH && m->publish != NULL &&
           m->publish->session != NULL &&
           slim_wire_is_command_type((int)m->publish->session->session_message_type);
}

/* ---- provider ------------------------------------------------------- */

static const char *const RESERVED_CLAIMS[] = {"iss", "sub", "aud", "exp", "nbf", "iat", "pubkey"};

struct slim_jwt_provider {
    bool is_static;
    slim_jwt_keys *key;
    slim_jwt_alg alg;
    char *iss, *sub, *kid_cfg; /* NULL when not set */
    strlist aud;
    json_t *extra; /* NULL or an object */
    uint32_t duration_s;
    slim_buf header; /* base64url of the header JSON */
    slim_buf pub64;  /* standard base64 of pk */
    char *id;
    size_t id_len;
    bool has_id;
    slim_id app_id;
    bool has_signer;
    uint8_t sk[P256_SK]; /* P-256 scalar or Ed25519 seed: 32 bytes either way */
    uint8_t pk[P256_PK];
    size_t pk_len; /* 65 (P-256) or 32 (Ed25519) */
    slim_mls_sig_key *signer;
    slim_buf token; /* NUL after len */
    bool has_token;
    uint64_t iat, exp;
    slim_buf aad, sig;
    slim_jwt_provider_stats stats;
};

void slim_jwt_provider_free(slim_jwt_provider *p) {
    if (p == NULL)
        return;
    slim_jwt_keys_free(p->key);
    slim_free(p->iss);
    slim_free(p->sub);
    slim_free(p->kid_cfg);
    strlist_free(&p->aud);
    json_decref(p->extra);
    slim_buf_cleanup(&p->header);
    slim_buf_cleanup(&p->pub64);
    slim_free(p->id);
    slim_memzero(p->sk, sizeof p->sk);
    slim_mls_sig_key_free(p->signer);
    slim_buf_cleanup(&p->token);
    slim_buf_cleanup(&p->aad);
    slim_buf_cleanup(&p->sig);
    slim_free(p);
}

static slim_status set_id(slim_jwt_provider *p, bool has, slim_str sub) {
    slim_free(p->id);
    p->id = dup_str(has ? sub : (slim_str){"", 0});
    if (p->id == NULL)
        return SLIM_E_NOMEM;
    p->id_len = has ? sub.len : 0;
    p->has_id = has;
    p->app_id = has ? slim_identity_app_id_of((slim_str){p->id, p->id_len}) : (slim_id){0, 0};
    return SLIM_OK;
}

/* The header for the current key: {"alg", "typ":"JWT", "kid"?}. */
static slim_status make_header(slim_jwt_provider *p) {
    const jkey *k = &p->key->k[0];
    const char *kid = p->kid_cfg != NULL ? p->kid_cfg : k->kid != NULL ? k->kid : p->sub;
    json_t *h = json_object();
    slim_status st = h != NULL ? SLIM_OK : SLIM_E_NOMEM;
    if (st == SLIM_OK && (json_object_set_new(h, "alg", json_string(ALGS[p->alg].name)) != 0 ||
                          json_object_set_new(h, "typ", json_string("JWT")) != 0 ||
                          (kid != NULL && json_object_set_new(h, "kid", json_string(kid)) != 0)))
        st = SLIM_E_INVALID_ARG; /* not UTF-8, or no memory */
    slim_buf b = SLIM_BUF_INIT;
    if (st == SLIM_OK && (st = append_json_b64(h, &b)) == SLIM_OK) {
        slim_buf_cleanup(&p->header);
        p->header = b;
    } else {
        slim_buf_cleanup(&b);
    }
    json_decref(h);
    return st;
}

static slim_status check_signing_key(const slim_jwt_keys *key) {
    if (key == NULL || key->n == 0)
        return SLIM_E_INVALID_ARG;
    const jkey *k = &key->k[0];
    if (k->alg == 0)
        return SLIM_E_INVALID_ARG; /* signing needs an algorithm */
    if (!k->priv)
        return SLIM_E_JWT_BAD_KEY;
    return fits(k->kind, k->alg) ? SLIM_OK : SLIM_E_JWT_KEY_MISMATCH;
}

static slim_status parse_extra(slim_str text, json_t **out) {
    *out = NULL;
    if (text.len == 0)
        return SLIM_OK;
    json_error_t e;
    json_t *j = json_loadb(text.ptr, text.len, JSON_REJECT_DUPLICATES, &e);
    if (j == NULL)
        return json_status(&e, SLIM_E_INVALID_ARG);
    bool ok = json_is_object(j);
    for (size_t i = 0; ok && i < SLIM_ARRAY_LEN(RESERVED_CLAIMS); i++)
        ok = json_object_get(j, RESERVED_CLAIMS[i]) == NULL;
    if (!ok) {
        json_decref(j);
        return SLIM_E_INVALID_ARG;
    }
    *out = j;
    return SLIM_OK;
}

slim_status slim_jwt_provider_new(slim_jwt_keys *key, const slim_jwt_provider_params *prm,
                                  slim_jwt_provider **out) {
    slim_jwt_provider_params c = {0};
    if (prm != NULL)
        c = *prm;
    if (out == NULL || !arg_str_ok(c.issuer) || !arg_str_ok(c.subject) || !arg_str_ok(c.kid) ||
        (c.extra_claims.ptr == NULL && c.extra_claims.len > 0) || !utf8_ok(c.issuer) ||
        !utf8_ok(c.subject) || !utf8_ok(c.kid))
        return SLIM_E_INVALID_ARG;
    for (size_t i = 0; c.audience != NULL && i < c.audience_len; i++)
        if (!arg_str_ok(c.audience[i]) || !utf8_ok(c.audience[i]))
            return SLIM_E_INVALID_ARG;
    if (c.sig_scheme == 0)
        c.sig_scheme = SLIM_MLS_SIG_ECDSA_P256_SHA256;
    if (c.sig_scheme != SLIM_MLS_SIG_ECDSA_P256_SHA256 && c.sig_scheme != SLIM_MLS_SIG_ED25519)
        return SLIM_E_INVALID_ARG;
    slim_status st = check_signing_key(key);
    if (st != SLIM_OK)
        return st;
    slim_jwt_provider *p = slim_calloc(1, sizeof *p);
    if (p == NULL)
        return SLIM_E_NOMEM;
    p->alg = key->k[0].alg;
    p->duration_s = c.duration_s != 0 ? c.duration_s : SLIM_JWT_DURATION_S;
    st = SLIM_E_NOMEM;
    if ((c.issuer.len > 0 && (p->iss = dup_str(c.issuer)) == NULL) ||
        (c.subject.len > 0 && (p->sub = dup_str(c.subject)) == NULL) ||
        (c.kid.len > 0 && (p->kid_cfg = dup_str(c.kid)) == NULL))
        goto fail;
    if ((st = strlist_copy(c.audience, c.audience_len, &p->aud)) != SLIM_OK ||
        (st = parse_extra(c.extra_claims, &p->extra)) != SLIM_OK ||
        (st = set_id(p, c.subject.len > 0, c.subject)) != SLIM_OK)
        goto fail;
    p->key = key; /* for make_header; given back on failure below */
    st = make_header(p);
    p->key = NULL;
    if (st != SLIM_OK)
        goto fail;
    if (!c.no_pubkey) {
        const slim_mls_rng *rng = c.rng != NULL ? c.rng : slim_mls_rng_default();
        p->pk_len = slim_mls_sig_public_size(c.sig_scheme);
        if (c.signing_key.len > 0 && c.signing_key.len != slim_mls_sig_private_size(c.sig_scheme))
            st = SLIM_E_MLS_BAD_KEY;
        else if (c.signing_key.len > 0) {
            memcpy(p->sk, c.signing_key.ptr, c.signing_key.len);
            st = slim_mls_sig_public(c.sig_scheme, c.signing_key, p->pk);
        } else {
            st = slim_mls_sig_generate(c.sig_scheme, rng, p->sk, p->pk);
        }
        if (st != SLIM_OK ||
            (st = slim_mls_sig_key_new(c.sig_scheme, slim_bytes_of(p->sk, P256_SK), true,
                                       &p->signer)) != SLIM_OK ||
            (st = slim_b64_encode(slim_bytes_of(p->pk, p->pk_len), SLIM_B64_PAD, &p->pub64)) !=
                SLIM_OK)
            goto fail;
        p->has_signer = true;
    }
    p->key = key;
    *out = p;
    return SLIM_OK;
fail:
    slim_jwt_provider_free(p);
    return st;
}

/* A static token: white space trimmed, read (not verified). */
static slim_status static_token(slim_str t, slim_buf *text, slim_jwt_peeked *pk) {
    while (t.len > 0 && (t.ptr[0] == ' ' || (t.ptr[0] >= '\t' && t.ptr[0] <= '\r')))
        t.ptr++, t.len--;
    while (t.len > 0 &&
           (t.ptr[t.len - 1] == ' ' || (t.ptr[t.len - 1] >= '\t' && t.ptr[t.len - 1] <= '\r')))
        t.len--;
    if (t.len == 0)
        return SLIM_E_JWT_MALFORMED;
    slim_status st = slim_jwt_peek(t, pk);
    if (st == SLIM_OK)
        st = buf_set_checked(text, t);
    return st;
}

slim_status slim_jwt_provider_new_static(slim_str token, slim_jwt_provider **out) {
    if (out == NULL || (token.ptr == NULL && token.len > 0))
        return SLIM_E_INVALID_ARG;
    slim_jwt_provider *p = slim_calloc(1, sizeof *p);
    if (p == NULL)
        return SLIM_E_NOMEM;
    p->is_static = true;
    slim_jwt_peeked pk = {0};
    slim_status st = static_token(token, &p->token, &pk);
    if (st == SLIM_OK)
        st = set_id(p, pk.subject.len > 0,
                    (slim_str){(const char *)pk.subject.data, pk.subject.len});
    if (st == SLIM_OK) {
        p->has_token = true;
        p->exp = pk.expires_at;
        *out = p;
    } else {
        slim_jwt_provider_free(p);
    }
    slim_jwt_peeked_cleanup(&pk);
    return st;
}

slim_status slim_jwt_provider_set_token(slim_jwt_provider *p, slim_str token) {
    if (p == NULL || !p->is_static || (token.ptr == NULL && token.len > 0))
        return SLIM_E_INVALID_ARG;
    slim_buf text = SLIM_BUF_INIT;
    slim_jwt_peeked pk = {0};
    slim_status st = static_token(token, &text, &pk);
    if (st == SLIM_OK) {
        slim_buf_cleanup(&p->token);
        p->token = text;
        p->exp = pk.expires_at;
    } else {
        slim_buf_cleanup(&text);
    }
    slim_jwt_peeked_cleanup(&pk);
    return st;
}

slim_status slim_jwt_provider_set_key(slim_jwt_provider *p, slim_jwt_keys *key) {
    if (p == NULL || p->is_static)
        return SLIM_E_INVALID_ARG;
    slim_status st = check_signing_key(key);
    if (st != SLIM_OK)
        return st;
    slim_jwt_keys *old = p->key;
    slim_jwt_alg old_alg = p->alg;
    p->key = key;
    p->alg = key->k[0].alg;
    if ((st = make_header(p)) != SLIM_OK) {
        p->key = old;
        p->alg = old_alg;
        return st;
    }
    slim_jwt_keys_free(old);
    p->has_token = false;
    return SLIM_OK;
}

/* A new signed token for unix_s into out (empty on entry). */
static slim_status sign_token(slim_jwt_provider *p, uint64_t now, slim_buf *out) {
    if (now > (uint64_t)INT64_MAX - p->duration_s)
        return SLIM_E_OVERFLOW;
    json_t *c = json_object();
    slim_status st = c != NULL ? SLIM_OK : SLIM_E_NOMEM;
    json_t *aud = NULL;
    if (st == SLIM_OK && p->aud.n > 0) {
        aud = json_array();
        for (size_t i = 0; aud != NULL && i < p->aud.n; i++)
            if (json_array_append_new(aud, json_stringn(p->aud.v[i], p->aud.len[i])) != 0)
                st = SLIM_E_INVALID_ARG;
        if (aud == NULL)
            st = SLIM_E_NOMEM;
    }
    /* Upstream's order: iss, sub, aud, exp, iat, nbf, then custom claims. */
    if (st == SLIM_OK &&
        ((p->iss != NULL && json_object_set_new(c, "iss", json_string(p->iss)) != 0) ||
         (p->sub != NULL && json_object_set_new(c, "sub", json_string(p->sub)) != 0) ||
         (aud != NULL && json_object_set(c, "aud", aud) != 0) ||
         json_object_set_new(c, "exp", json_integer((json_int_t)(now + p->duration_s))) != 0 ||
         json_object_set_new(c, "iat", json_integer((json_int_t)now)) != 0 ||
         json_object_set_new(c, "nbf", json_integer((json_int_t)now)) != 0 ||
         (p->extra != NULL && json_object_update(c, p->extra) != 0) ||
         (p->has_signer &&
          json_object_set_new(c, "pubkey",
                              json_stringn((const char *)p->pub64.data, p->pub64.len)) != 0)))
        st = SLIM_E_INVALID_ARG; /* a string that is not UTF-8, or no memory */
    json_decref(aud);
    if (st == SLIM_OK && (st = slim_buf_append(out, p->header.data, p->header.len)) == SLIM_OK &&
        (st = slim_buf_append_u8(out, '.')) == SLIM_OK)
        st = append_json_b64(c, out);
    json_decref(c);
    slim_buf sig = SLIM_BUF_INIT;
    if (st == SLIM_OK) {
        st = jws_sign_key(&p->key->k[0], p->alg, slim_buf_view(out), &sig);
        if (st == SLIM_OK)
            p->stats.tokens_signed++;
    }
    if (st == SLIM_OK && (st = slim_buf_append_u8(out, '.')) == SLIM_OK &&
        (st = slim_b64_encode(slim_buf_view(&sig), SLIM_B64_URL, out)) == SLIM_OK &&
        (st = slim_buf_append_u8(out, '\0')) == SLIM_OK)
        out->len--; /* the NUL stays after the text */
    slim_buf_cleanup(&sig);
    return st;
}

slim_status slim_jwt_provider_token(slim_jwt_provider *p, uint64_t unix_s, slim_str *token) {
    if (p == NULL || token == NULL)
        return SLIM_E_INVALID_ARG;
    bool fresh =
        p->has_token && (p->is_static || (unix_s >= p->iat && unix_s - p->iat < p->duration_s / 2));
    if (!fresh) {
        slim_buf next = SLIM_BUF_INIT;
        slim_status st = sign_token(p, unix_s, &next);
        if (st != SLIM_OK) {
            slim_buf_cleanup(&next);
            return st;
        }
        slim_buf_cleanup(&p->token);
        p->token = next;
        p->has_token = true;
        p->iat = unix_s;
        p->exp = unix_s + p->duration_s;
    } else {
        p->stats.tokens_reused++;
    }
    token->ptr = (const char *)p->token.data;
    token->len = p->token.len;
    return SLIM_OK;
}

uint64_t slim_jwt_provider_expiry(const slim_jwt_provider *p) {
    return p->has_token ? p->exp : 0;
}

slim_str slim_jwt_provider_id(const slim_jwt_provider *p) {
    return (slim_str){p->id, p->id_len};
}

slim_id slim_jwt_provider_app_id(const slim_jwt_provider *p) {
    return p->app_id;
}

bool slim_jwt_provider_has_id(const slim_jwt_provider *p) {
    return p->has_id;
}

slim_bytes slim_jwt_provider_public_key(const slim_jwt_provider *p) {
    return p->has_signer ? slim_bytes_of(p->pk, p->pk_len) : slim_bytes_of(NULL, 0);
}

slim_bytes slim_jwt_provider_private_key(const slim_jwt_provider *p) {
    return p->has_signer ? slim_bytes_of(p->sk, P256_SK) : slim_bytes_of(NULL, 0);
}

slim_status slim_jwt_provider_stamp(slim_jwt_provider *p, slim_msg *m, uint64_t unix_s) {
    if (p == NULL || m == NULL)
        return SLIM_E_INVALID_ARG;
    if (slim_wire_header(m) == NULL)
        return SLIM_E_WIRE_MISSING_FIELD;
    slim_str token;
    slim_status st = slim_jwt_provider_token(p, unix_s, &token);
    if (st != SLIM_OK || (st = slim_wire_set_identity(m, token)) != SLIM_OK)
        return st;
    if (!p->has_signer || !is_command_publish(m))
        return SLIM_OK;
    p->aad.len = 0;
    p->sig.len = 0;
    if ((st = slim_wire_header_aad(m, &p->aad)) != SLIM_OK ||
        (st = slim_mls_sig_key_sign(p->signer, slim_buf_view(&p->aad), &p->sig)) != SLIM_OK)
        return st;
    return slim_wire_set_header_sig(m, slim_buf_view(&p->sig));
}

void slim_jwt_provider_stats_get(const slim_jwt_provider *p, slim_jwt_provider_stats *out) {
    *out = p->stats;
}

/* ---- verifier ------------------------------------------------------- */

typedef struct ventry {
    slim_hnode node;
    struct ventry *older, *newer; /* insertion order */
    uint8_t digest[32];
    claims_view times; /* has_/exp/nbf/iat only */
    slim_status pk_st; /* reading "pubkey" */
    uint8_t pk[P256_PK];
    size_t pk_len;
    size_t iss_len, sub_len;
    bool has_iss, has_sub;
    char text[]; /* iss, then sub */
} ventry;

typedef struct issuer_keys {
    char *iss;
    size_t len;
    slim_jwt_keys *keys;
    uint64_t valid_until;
    uint64_t seq; /* when set: the oldest goes first */
} issuer_keys;

struct slim_jwt_verifier {
    slim_jwt_keys *keys; /* static keys, or NULL with autoresolve */
    bool autoresolve;
    issuer_keys issuers[SLIM_JWT_MAX_ISSUERS];
    size_t n_issuers;
    uint64_t seq;
    char *iss, *sub; /* expected; NULL: any */
    size_t iss_len, sub_len;
    strlist aud;
    bool require_iss, require_aud, require_sub;
    uint32_t leeway, cache_max;
    slim_hmap map;
    ventry *oldest, *newest;
    slim_jwt_verifier_stats stats;
    slim_buf c_iss, c_sub, wanted; /* what the last call hands out */
    uint8_t pk[P256_PK];
    size_t pk_len;
    slim_buf aad;
};

slim_status slim_jwt_verifier_new(slim_jwt_keys *keys, const slim_jwt_verifier_params *prm,
                                  slim_jwt_verifier **out) {
    slim_jwt_verifier_params c = {0};
    if (prm != NULL)
        c = *prm;
    if (out == NULL || (keys == NULL) != c.autoresolve || (keys != NULL && keys->n == 0) ||
        !arg_str_ok(c.issuer) || !arg_str_ok(c.subject))
        return SLIM_E_INVALID_ARG;
    slim_jwt_verifier *v = slim_calloc(1, sizeof *v);
    if (v == NULL)
        return SLIM_E_NOMEM;
    v->autoresolve = c.autoresolve;
    v->require_iss = c.require_iss;
    v->require_aud = c.require_aud;
    v->require_sub = c.require_sub;
    v->leeway = c.no_leeway ? 0 : c.leeway_s != 0 ? c.leeway_s : SLIM_JWT_LEEWAY_S;
    v->cache_max = c.cache_max != 0 ? c.cache_max : SLIM_JWT_CACHE_MAX;
    slim_status st = SLIM_E_NOMEM;
    if ((c.issuer.len > 0 && (v->iss = dup_str(c.issuer)) == NULL) ||
        (c.subject.len > 0 && (v->sub = dup_str(c.subject)) == NULL))
        goto fail;
    v->iss_len = c.issuer.len;
    v->sub_len = c.subject.len;
    if ((st = strlist_copy(c.audience, c.audience_len, &v->aud)) != SLIM_OK ||
        (st = slim_hmap_init(&v->map, v->cache_max < 64 ? v->cache_max : 64)) != SLIM_OK)
        goto fail;
    v->keys = keys;
    *out = v;
    return SLIM_OK;
fail:
    slim_jwt_verifier_free(v);
    return st;
}

static void unlink_entry(slim_jwt_verifier *v, ventry *e) {
    slim_hmap_remove(&v->map, &e->node);
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        v->oldest = e->newer;
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        v->newest = e->older;
    slim_free(e);
}

static void evict(slim_jwt_verifier *v, ventry *e) {
    unlink_entry(v, e);
    v->stats.evictions++;
    v->stats.cache_size--;
}

static void flush_cache(slim_jwt_verifier *v) {
    while (v->oldest != NULL)
        evict(v, v->oldest);
}

void slim_jwt_verifier_free(slim_jwt_verifier *v) {
    if (v == NULL)
        return;
    while (v->oldest != NULL)
        unlink_entry(v, v->oldest);
    slim_hmap_cleanup(&v->map);
    slim_jwt_keys_free(v->keys);
    for (size_t i = 0; i < v->n_issuers; i++) {
        slim_free(v->issuers[i].iss);
        slim_jwt_keys_free(v->issuers[i].keys);
    }
    slim_free(v->iss);
    slim_free(v->sub);
    strlist_free(&v->aud);
    slim_buf_cleanup(&v->c_iss);
    slim_buf_cleanup(&v->c_sub);
    slim_buf_cleanup(&v->wanted);
    slim_buf_cleanup(&v->aad);
    slim_free(v);
}

slim_status slim_jwt_verifier_set_keys(slim_jwt_verifier *v, slim_jwt_keys *keys) {
    if (v == NULL || v->autoresolve || keys == NULL || keys->n == 0)
        return SLIM_E_INVALID_ARG;
    slim_jwt_keys_free(v->keys);
    v->keys = keys;
    flush_cache(v);
    return SLIM_OK;
}

static issuer_keys *find_issuer(slim_jwt_verifier *v, slim_str iss) {
    for (size_t i = 0; i < v->n_issuers; i++)
        if (str_eq(iss, v->issuers[i].iss, v->issuers[i].len))
            return &v->issuers[i];
    return NULL;
}

slim_status slim_jwt_verifier_set_issuer_keys(slim_jwt_verifier *v, slim_str issuer,
                                              slim_jwt_keys *keys, uint64_t valid_until) {
    if (v == NULL || !v->autoresolve || keys == NULL || keys->n == 0 || !arg_str_ok(issuer) ||
        issuer.len == 0)
        return SLIM_E_INVALID_ARG;
    issuer_keys *ik = find_issuer(v, issuer);
    if (ik == NULL) {
        char *copy = dup_str(issuer);
        if (copy == NULL)
            return SLIM_E_NOMEM;
        if (v->n_issuers < SLIM_JWT_MAX_ISSUERS) {
            ik = &v->issuers[v->n_issuers++];
        } else {
            ik = &v->issuers[0];
            for (size_t i = 1; i < v->n_issuers; i++)
                if (v->issuers[i].seq < ik->seq)
                    ik = &v->issuers[i];
            slim_free(ik->iss);
            slim_jwt_keys_free(ik->keys);
        }
        ik->iss = copy;
        ik->len = issuer.len;
        ik->keys = NULL;
    }
    slim_jwt_keys_free(ik->keys);
    ik->keys = keys;
    ik->valid_until = valid_until;
    ik->seq = ++v->seq;
    flush_cache(v);
    return SLIM_OK;
}

slim_str slim_jwt_verifier_wanted_issuer(const slim_jwt_verifier *v) {
    return v->wanted.len > 0 ? (slim_str){(const char *)v->wanted.data, v->wanted.len}
                             : (slim_str){"", 0};
}

void slim_jwt_verifier_stats_get(const slim_jwt_verifier *v, slim_jwt_verifier_stats *out) {
    *out = v->stats;
}

static slim_status check_times(uint32_t leeway, const claims_view *c, uint64_t now) {
    if (now > c->exp && now - c->exp > leeway)
        return SLIM_E_JWT_EXPIRED;
    if (c->has_nbf && c->nbf > now && c->nbf - now > leeway)
        return SLIM_E_JWT_NOT_YET_VALID;
    if (c->has_iat && c->iat > now && c->iat - now > leeway)
        return SLIM_E_JWT_NOT_YET_VALID;
    return SLIM_OK;
}

/* The time a token is checked at when its own time counts (an MLS
 * credential already in a group): the later of iat and nbf, else exp. At
 * it only a token that was never valid fails the time checks. */
static uint64_t own_time(const claims_view *c) {
    if (!c->has_iat && !c->has_nbf)
        return c->exp;
    uint64_t a = c->has_iat ? c->iat : 0, b = c->has_nbf ? c->nbf : 0;
    return a > b ? a : b;
}

static bool in_audience(const slim_jwt_verifier *v, const json_t *s) {
    slim_str a = {json_string_value(s), json_string_length(s)};
    for (size_t i = 0; i < v->aud.n; i++)
        if (str_eq(a, v->aud.v[i], v->aud.len[i]))
            return true;
    return false;
}

/* The claim checks after the signature, in upstream's order: required
 * claims, times, sub, iss, aud. */
static slim_status check_claims(const slim_jwt_verifier *v, const claims_view *c, uint64_t now) {
    if (!c->has_exp || (v->require_iss && !c->has_iss) || (v->require_aud && c->aud == NULL) ||
        (v->require_sub && !c->has_sub))
        return SLIM_E_JWT_MISSING_CLAIM;
    slim_status st = check_times(v->leeway, c, now);
    if (st != SLIM_OK)
        return st;
    if (v->sub != NULL && c->has_sub && !str_eq(c->sub, v->sub, v->sub_len))
        return SLIM_E_JWT_SUBJECT;
    if (v->iss != NULL && c->has_iss && !str_eq(c->iss, v->iss, v->iss_len))
        return SLIM_E_JWT_ISSUER;
    if (c->aud == NULL)
        return SLIM_OK;
    if (json_is_string(c->aud))
        return in_audience(v, c->aud) ? SLIM_OK : SLIM_E_JWT_AUDIENCE;
    size_t n = json_array_size(c->aud);
    if (n == 0) /* as jsonwebtoken: [] passes unless an audience is configured */
        return v->aud.n == 0 ? SLIM_OK : SLIM_E_JWT_AUDIENCE;
    for (size_t i = 0; i < n; i++)
        if (in_audience(v, json_array_get(c->aud, i)))
            return SLIM_OK;
    return SLIM_E_JWT_AUDIENCE;
}

/* Reads "pubkey" (top level, else custom_claims.pubkey). */
static slim_status claims_pubkey(const json_t *claims, uint8_t *pk, size_t *pk_len) {
    const json_t *v = json_object_get(claims, "pubkey");
    if (!json_is_string(v)) {
        const json_t *cc = json_object_get(claims, "custom_claims");
        v = json_is_object(cc) ? json_object_get(cc, "pubkey") : NULL;
    }
    if (!json_is_string(v))
        return SLIM_E_IDENTITY_NO_PUBKEY;
    slim_str text = {json_string_value(v), json_string_length(v)};
    slim_status st = slim_b64_decode_to(text, SLIM_B64_PAD, pk, P256_PK, pk_len);
    if (st == SLIM_E_BUFFER_SMALL)
        return SLIM_E_IDENTITY_BAD_PUBKEY;
    if (st != SLIM_OK)
        return SLIM_E_IDENTITY_BAD_BASE64;
    return *pk_len == 32 || *pk_len == 33 || *pk_len == P256_PK ? SLIM_OK
                                                                : SLIM_E_IDENTITY_BAD_PUBKEY;
}

static slim_status set_wanted(slim_jwt_verifier *v, slim_str iss, slim_status st) {
    buf_set(&v->wanted, iss);
    return st;
}

/* Verifies p's signature with the keys that fit its kid and alg: the key
 * whose kid matches, else every key of the token's algorithm, trying each
 * (as upstream's resolver: the signature selects the key). */
static slim_status verify_with(slim_jwt_verifier *v, const slim_jwt_keys *ks, const parsed *p,
                               slim_bytes sig) {
    slim_bytes in = slim_bytes_of(p->input.ptr, p->input.len);
    const jkey *only = ks->single ? &ks->k[0] : NULL;
    if (only == NULL && p->kid != NULL) {
        slim_str kid = {json_string_value(p->kid), json_string_length(p->kid)};
        for (size_t i = 0; i < ks->n && only == NULL; i++)
            if (ks->k[i].kid != NULL && str_eq(kid, ks->k[i].kid, ks->k[i].kid_len))
                only = &ks->k[i];
    }
    if (only != NULL) { /* the one key, or the one the kid names */
        if (!fits(only->kind, p->alg) || (only->alg != 0 && only->alg != p->alg))
            return SLIM_E_JWT_WRONG_ALG;
        v->stats.signatures++;
        return jws_verify_key(only, p->alg, in, sig);
    }
    slim_status st = SLIM_E_JWT_NO_KEY;
    for (size_t i = 0; i < ks->n; i++) {
        const jkey *k = &ks->k[i];
        if (!fits(k->kind, p->alg) || (k->alg != 0 && k->alg != p->alg))
            continue;
        v->stats.signatures++;
        st = jws_verify_key(k, p->alg, in, sig);
        if (st != SLIM_E_JWT_BAD_SIGNATURE)
            return st;
    }
    /* A kid none of the keys has, and none of them verifies: the key is
     * missing (with autoresolve, the issuer may have rotated its keys). */
    return p->kid != NULL ? SLIM_E_JWT_NO_KEY : st;
}

static slim_status fill_claims(slim_jwt_verifier *v, bool has_iss, slim_str iss, bool has_sub,
                               slim_str sub, const claims_view *t, slim_jwt_claims *out) {
    if (out == NULL)
        return SLIM_OK;
    if (buf_set_checked(&v->c_iss, has_iss ? iss : (slim_str){"", 0}) != SLIM_OK ||
        buf_set_checked(&v->c_sub, has_sub ? sub : (slim_str){"", 0}) != SLIM_OK)
        return SLIM_E_NOMEM;
    out->issuer = (slim_str){v->c_iss.data ? (const char *)v->c_iss.data : "", v->c_iss.len};
    out->subject = (slim_str){v->c_sub.data ? (const char *)v->c_sub.data : "", v->c_sub.len};
    out->expires_at = t->exp;
    out->not_before = t->has_nbf ? t->nbf : 0;
    out->issued_at = t->has_iat ? t->iat : 0;
    return SLIM_OK;
}

static int entry_eq(const slim_hnode *n, const void *key) {
    const ventry *e = SLIM_CONTAINER_OF(n, ventry, node);
    return memcmp(e->digest, key, 32) == 0;
}

static uint64_t digest_hash(const uint8_t *d) {
    uint64_t h;
    memcpy(&h, d, sizeof h);
    return h;
}

/* Remembers a token that verified; no memory only means it will be
 * verified in full next time. */
static ventry *remember(slim_jwt_verifier *v, const uint8_t *digest, const claims_view *c,
                        slim_status pk_st, const uint8_t *pk, size_t pk_len, uint64_t now) {
    size_t il = c->has_iss ? c->iss.len : 0, sl = c->has_sub ? c->sub.len : 0;
    if (il > MAX_CACHED_STR || sl > MAX_CACHED_STR)
        return NULL;
    while (v->oldest != NULL &&
           check_times(v->leeway, &v->oldest->times, now) == SLIM_E_JWT_EXPIRED)
        evict(v, v->oldest);
    while (v->oldest != NULL && v->stats.cache_size >= v->cache_max)
        evict(v, v->oldest);
    ventry *e = slim_malloc(sizeof *e + il + sl);
    if (e == NULL)
        return NULL;
    memset(e, 0, sizeof *e);
    memcpy(e->digest, digest, 32);
    e->times.exp = c->exp;
    e->times.has_exp = true;
    e->times.nbf = c->nbf;
    e->times.has_nbf = c->has_nbf;
    e->times.iat = c->iat;
    e->times.has_iat = c->has_iat;
    e->pk_st = pk_st;
    memcpy(e->pk, pk, pk_len);
    e->pk_len = pk_len;
    e->has_iss = c->has_iss;
    e->has_sub = c->has_sub;
    e->iss_len = il;
    e->sub_len = sl;
    if (il > 0)
        memcpy(e->text, c->iss.ptr, il);
    if (sl > 0)
        memcpy(e->text + il, c->sub.ptr, sl);
    e->older = v->newest;
    if (v->newest != NULL)
        v->newest->newer = e;
    else
        v->oldest = e;
    v->newest = e;
    slim_hmap_insert(&v->map, &e->node, digest_hash(digest));
    v->stats.cache_size++;
    return e;
}

/* The full check of a token not in the cache, its times at now or, when
 * own, at own_time (now still decides whether the issuer's keys are
 * current). On success v->pk holds its pubkey (or pk_st why not). */
static slim_status verify_full(slim_jwt_verifier *v, slim_str t, const uint8_t *digest,
                               uint64_t now, bool own, slim_jwt_claims *claims,
                               slim_status *pk_st) {
    parsed p;
    slim_status st = parse_token(t, &p);
    if (st != SLIM_OK)
        return st;
    slim_buf sig = SLIM_BUF_INIT;
    claims_view c;
    const slim_jwt_keys *ks = v->keys;
    if ((st = read_claims(p.claims, &c)) != SLIM_OK)
        goto done;
    if (v->autoresolve) {
        /* The issuer picks the keys: check it before asking for them. */
        if (!c.has_iss) {
            st = SLIM_E_JWT_MISSING_CLAIM;
            goto done;
        }
        if (v->iss != NULL && !str_eq(c.iss, v->iss, v->iss_len)) {
            st = SLIM_E_JWT_ISSUER;
            goto done;
        }
        issuer_keys *ik = find_issuer(v, c.iss);
        if (ik == NULL || now >= ik->valid_until) {
            st = set_wanted(v, c.iss, SLIM_E_JWT_KEYS_NEEDED);
            goto done;
        }
        ks = ik->keys;
    }
    st = slim_b64_decode(p.sig64, SLIM_B64_URL, &sig);
    if (st == SLIM_E_INVALID_ARG)
        st = SLIM_E_JWT_BAD_BASE64;
    if (st != SLIM_OK)
        goto done;
    st = verify_with(v, ks, &p, slim_buf_view(&sig));
    if (st == SLIM_E_JWT_NO_KEY && v->autoresolve)
        set_wanted(v, c.iss, st);
    if (st != SLIM_OK || (st = check_claims(v, &c, own ? own_time(&c) : now)) != SLIM_OK)
        goto done;
    v->pk_len = 0;
    *pk_st = claims_pubkey(p.claims, v->pk, &v->pk_len);
    if (*pk_st != SLIM_OK)
        v->pk_len = 0;
    if (!own || check_times(v->leeway, &c, now) == SLIM_OK) /* only what passes at now */
        remember(v, digest, &c, *pk_st, v->pk, v->pk_len, now);
    st = fill_claims(v, c.has_iss, c.iss, c.has_sub, c.sub, &c, claims);
done:
    slim_buf_cleanup(&sig);
    parsed_cleanup(&p);
    return st;
}

/* The token check (times at now, or at the token's own time when own); on
 * success v->pk / *pk_st say what its pubkey is. */
static slim_status verify_token(slim_jwt_verifier *v, slim_str t, uint64_t now, bool own,
                                slim_jwt_claims *claims, slim_status *pk_st) {
    if (v == NULL || (t.ptr == NULL && t.len > 0))
        return SLIM_E_INVALID_ARG;
    v->wanted.len = 0;
    if (t.len > SLIM_JWT_MAX_TOKEN)
        return SLIM_E_TOO_LARGE;
    uint8_t digest[32];
    unsigned dlen = 0;
    if (EVP_Digest(t.len > 0 ? t.ptr : "", t.len, digest, &dlen, EVP_sha256(), NULL) != 1)
        return SLIM_E_MLS_CRYPTO;
    slim_hnode *n = slim_hmap_find(&v->map, digest_hash(digest), entry_eq, digest);
    if (n == NULL)
        return verify_full(v, t, digest, now, own, claims, pk_st);
    ventry *e = SLIM_CONTAINER_OF(n, ventry, node);
    slim_status st = check_times(v->leeway, &e->times, own ? own_time(&e->times) : now);
    if (st != SLIM_OK) {
        evict(v, e);
        return st;
    }
    v->stats.cache_hits++;
    memcpy(v->pk, e->pk, e->pk_len);
    v->pk_len = e->pk_len;
    *pk_st = e->pk_st;
    return fill_claims(v, e->has_iss, (slim_str){e->text, e->iss_len}, e->has_sub,
                       (slim_str){e->text + e->iss_len, e->sub_len}, &e->times, claims);
}

slim_status slim_jwt_verifier_check_token(slim_jwt_verifier *v, slim_str token, uint64_t unix_s,
                                          slim_jwt_claims *claims) {
    slim_status pk_st;
    return verify_token(v, token, unix_s, false, claims, &pk_st);
}

slim_status slim_jwt_verifier_pubkey(slim_jwt_verifier *v, slim_str token, uint64_t unix_s,
                                     slim_bytes *pubkey) {
    if (pubkey == NULL)
        return SLIM_E_INVALID_ARG;
    slim_status pk_st;
    slim_status st = verify_token(v, token, unix_s, false, NULL, &pk_st);
    if (st == SLIM_OK && (st = pk_st) == SLIM_OK)
        *pubkey = slim_bytes_of(v->pk, v->pk_len);
    return st;
}

slim_status slim_jwt_verifier_credential(slim_jwt_verifier *v, slim_str token, bool fresh,
                                         uint64_t unix_s, slim_jwt_claims *claims,
                                         slim_bytes *pubkey) {
    if (v == NULL || pubkey == NULL || (token.ptr == NULL && token.len > 0))
        return SLIM_E_INVALID_ARG;
    if (token.len > SLIM_JWT_MAX_TOKEN)
        return SLIM_E_TOO_LARGE;
    /* A compact JWS is ASCII: a NUL or any other byte cannot be one. */
    for (size_t i = 0; i < token.len; i++)
        if (token.ptr[i] == '\0' || (unsigned char)token.ptr[i] >= 0x80)
            return SLIM_E_JWT_MALFORMED;
    slim_status pk_st;
    slim_status st = verify_token(v, token, unix_s, !fresh, claims, &pk_st);
    if (st == SLIM_OK && (st = pk_st) == SLIM_OK)
        *pubkey = slim_bytes_of(v->pk, v->pk_len);
    return st;
}

slim_status slim_jwt_verifier_check_msg(slim_jwt_verifier *v, const slim_msg *m, bool need_sig,
                                        uint64_t unix_s) {
    if (v == NULL || m == NULL)
        return SLIM_E_INVALID_ARG;
    const slim_pb_header *h = slim_wire_header(m);
    if (h == NULL)
        return SLIM_E_WIRE_MISSING_FIELD;
    slim_str token = {h->identity != NULL ? h->identity : "",
                      h->identity != NULL ? strlen(h->identity) : 0};
    slim_status pk_st;
    slim_status st = verify_token(v, token, unix_s, false, NULL, &pk_st);
    if (st != SLIM_OK || !need_sig || slim_wire_kind(m) != SLIM_MSG_PUBLISH)
        return st;
    if (m->publish->session == NULL)
        return SLIM_E_WIRE_MISSING_FIELD;
    if (!is_command_publish(m))
        return SLIM_OK;
    if (!h->_e2e_header_sig_case)
        return SLIM_E_IDENTITY_NO_SIGNATURE;
    if (pk_st != SLIM_OK)
        return pk_st;
    v->aad.len = 0;
    if ((st = slim_wire_header_aad(m, &v->aad)) != SLIM_OK)
        return st;
    v->stats.header_sigs++;
    return slim_identity_verify_signature(
        slim_bytes_of(v->pk, v->pk_len), slim_buf_view(&v->aad),
        slim_bytes_of(h->e2e_header_sig.data, h->e2e_header_sig.len));
}

/* ---- OIDC discovery helpers ----------------------------------------- */

typedef struct url_parts {
    slim_str scheme, host;
    uint32_t port;
    size_t path_start, path_end; /* offsets of the path in the URL */
    bool extra;                  /* query, fragment or user info */
} url_parts;

static bool ieq(slim_str a, slim_str b) {
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        char x = a.ptr[i], y = b.ptr[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

static bool url_parse(slim_str u, url_parts *o) {
    memset(o, 0, sizeof *o);
    size_t i = 0;
    while (i < u.len &&
           ((u.ptr[i] >= 'a' && u.ptr[i] <= 'z') || (u.ptr[i] >= 'A' && u.ptr[i] <= 'Z') ||
            (i > 0 && ((u.ptr[i] >= '0' && u.ptr[i] <= '9') || u.ptr[i] == '+' || u.ptr[i] == '-' ||
                       u.ptr[i] == '.'))))
        i++;
    if (i == 0 || u.len - i < 3 || memcmp(u.ptr + i, "://", 3) != 0)
        return false;
    o->scheme = (slim_str){u.ptr, i};
    size_t a = i + 3, e = a;
    while (e < u.len && u.ptr[e] != '/' && u.ptr[e] != '?' && u.ptr[e] != '#')
        e++;
    slim_str auth = {u.ptr + a, e - a};
    if (auth.len > 0 && memchr(auth.ptr, '@', auth.len) != NULL)
        o->extra = true;
    size_t host_end; /* offset in auth */
    if (auth.len > 0 && auth.ptr[0] == '[') {
        const char *rb = memchr(auth.ptr, ']', auth.len);
        if (rb == NULL)
            return false;
        host_end = (size_t)(rb - auth.ptr) + 1;
    } else {
        host_end = 0;
        while (host_end < auth.len && auth.ptr[host_end] != ':')
            host_end++;
    }
    o->host = (slim_str){auth.ptr, host_end};
    if (o->host.len == 0)
        return false;
    if (ieq(o->scheme, (slim_str){"https", 5}))
        o->port = 443;
    else if (ieq(o->scheme, (slim_str){"http", 4}))
        o->port = 80;
    if (host_end < auth.len) {
        if (auth.ptr[host_end] != ':')
            return false;
        size_t k = host_end + 1;
        if (k < auth.len) {
            uint32_t port = 0;
            for (; k < auth.len; k++) {
                if (auth.ptr[k] < '0' || auth.ptr[k] > '9')
                    return false;
                port = port * 10 + (uint32_t)(auth.ptr[k] - '0');
                if (port > 65535)
                    return false;
            }
            o->port = port;
        }
    }
    o->path_start = e;
    o->path_end = e;
    while (o->path_end < u.len && u.ptr[o->path_end] != '?' && u.ptr[o->path_end] != '#')
        o->path_end++;
    if (o->path_end < u.len)
        o->extra = true;
    return true;
}

bool slim_jwt_same_origin(slim_str a, slim_str b) {
    url_parts x, y;
    if (!url_parse(a, &x) || !url_parse(b, &y))
        return false;
    return ieq(x.scheme, y.scheme) && ieq(x.host, y.host) && x.port == y.port;
}

slim_status slim_jwt_well_known_url(slim_str issuer, const char *suffix, slim_buf *out) {
    if (out == NULL || suffix == NULL || (issuer.ptr == NULL && issuer.len > 0))
        return SLIM_E_INVALID_ARG;
    url_parts u;
    if (!url_parse(issuer, &u) || u.extra || has_nul(issuer) ||
        !(ieq(u.scheme, (slim_str){"https", 5}) || ieq(u.scheme, (slim_str){"http", 4})))
        return SLIM_E_JWT_DISCOVERY;
    size_t end = u.path_end;
    while (end > u.path_start && issuer.ptr[end - 1] == '/')
        end--;
    slim_status st = slim_buf_append(out, issuer.ptr, end);
    if (st == SLIM_OK)
        st = slim_buf_append(out, suffix, strlen(suffix));
    return st;
}

static slim_str trim_slashes(slim_str s) {
    while (s.len > 0 && s.ptr[s.len - 1] == '/')
        s.len--;
    return s;
}

slim_status slim_jwt_discovery_jwks_uri(slim_bytes doc, slim_str issuer, slim_buf *out) {
    if (out == NULL || (doc.ptr == NULL && doc.len > 0) || (issuer.ptr == NULL && issuer.len > 0))
        return SLIM_E_INVALID_ARG;
    json_error_t e;
    json_t *j = json_loadb((const char *)doc.ptr, doc.len, 0, &e);
    if (j == NULL)
        return json_status(&e, SLIM_E_NOT_FOUND);
    slim_status st = SLIM_E_NOT_FOUND;
    if (json_is_object(j)) {
        const json_t *iss = json_object_get(j, "issuer");
        const json_t *uri = json_object_get(j, "jwks_uri");
        if (json_is_string(iss)) {
            slim_str a = trim_slashes((slim_str){json_string_value(iss), json_string_length(iss)});
            slim_str b = trim_slashes(issuer);
            if (!str_eq(a, b.ptr, b.len)) {
                json_decref(j);
                return SLIM_E_JWT_DISCOVERY;
            }
        }
        if (json_is_string(uri)) {
            slim_str u = {json_string_value(uri), json_string_length(uri)};
            st = slim_jwt_same_origin(issuer, u) && !has_nul(u) ? slim_buf_append(out, u.ptr, u.len)
                                                                : SLIM_E_JWT_DISCOVERY;
        }
    }
    json_decref(j);
    return st;
}
