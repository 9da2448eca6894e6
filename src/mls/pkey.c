/*
 * X25519 / P-256 Diffie-Hellman and Ed25519 / ECDSA-P256 signatures on
 * OpenSSL 3.0. Raw keys become EVP_PKEY objects per call: X25519 and
 * Ed25519 through the raw-key constructors, P-256 private keys through
 * EVP_PKEY_fromdata (group name, private scalar) and P-256 public keys by
 * setting the uncompressed point on a copy of a parameter-only key made
 * once per process (see p256_params: the one piece of static state besides
 * the operation counts; immutable once made). The P-256 public point of a
 * private scalar is computed with EC_POINT_mul on the generator.
 */
#include "mls/pkey.h"
#include "core/alloc.h"
#include "core/util.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#define P256_SCALAR 32
#define P256_POINT  65

/* This thread's operation counts (see pkey.h). */
static _Thread_local slim_mls_pkey_counts counts;

void slim_mls_pkey_counts_get(slim_mls_pkey_counts *out) {
    *out = counts;
}

void slim_mls_pkey_counts_reset(void) {
    memset(&counts, 0, sizeof counts);
}

uint64_t slim_mls_pkey_counts_total(const slim_mls_pkey_counts *c) {
    return c->dh + c->derive_pub + c->sign + c->verify;
}

size_t slim_mls_dh_private_size(slim_mls_dh_group g) {
    switch (g) {
    case SLIM_MLS_DH_X25519:
    case SLIM_MLS_DH_P256:
        return 32;
    }
    return 0;
}

size_t slim_mls_dh_public_size(slim_mls_dh_group g) {
    switch (g) {
    case SLIM_MLS_DH_X25519:
        return 32;
    case SLIM_MLS_DH_P256:
        return P256_POINT;
    }
    return 0;
}

size_t slim_mls_dh_secret_size(slim_mls_dh_group g) {
    return slim_mls_dh_private_size(g);
}

size_t slim_mls_sig_private_size(slim_mls_sig_scheme s) {
    switch (s) {
    case SLIM_MLS_SIG_ED25519:
    case SLIM_MLS_SIG_ECDSA_P256_SHA256:
        return 32;
    }
    return 0;
}

size_t slim_mls_sig_public_size(slim_mls_sig_scheme s) {
    switch (s) {
    case SLIM_MLS_SIG_ED25519:
        return 32;
    case SLIM_MLS_SIG_ECDSA_P256_SHA256:
        return P256_POINT;
    }
    return 0;
}

size_t slim_mls_sig_max_size(slim_mls_sig_scheme s) {
    switch (s) {
    case SLIM_MLS_SIG_ED25519:
        return 64;
    case SLIM_MLS_SIG_ECDSA_P256_SHA256:
        return 72; /* DER SEQUENCE of two INTEGERs of up to 33 bytes */
    }
    return 0;
}

/* ---- P-256 ---------------------------------------------------------- */

/* The order n of the P-256 group, big-endian. */
static const uint8_t p256_order[P256_SCALAR] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

/* SLIM_OK when sk is a 32-byte scalar with 0 < sk < n, in time that does
 * not depend on its value. */
static slim_status p256_check_scalar(slim_bytes sk) {
    if (sk.len != P256_SCALAR)
        return SLIM_E_MLS_BAD_KEY;
    unsigned borrow = 0, any = 0;
    for (size_t i = P256_SCALAR; i-- > 0;) {
        unsigned d = (unsigned)sk.ptr[i] - p256_order[i] - borrow;
        borrow = (d >> 8) & 1; /* sk - n borrows out iff sk < n */
        any |= sk.ptr[i];
    }
    return (borrow & (unsigned)(any != 0)) ? SLIM_OK : SLIM_E_MLS_BAD_KEY;
}

/* Writes the uncompressed point sk*G to pub (sk already checked). */
static slim_status p256_public(slim_bytes sk, uint8_t *pub) {
    slim_status st = p256_check_scalar(sk);
    if (st != SLIM_OK)
        return st;
    st = SLIM_E_MLS_CRYPTO;
    EC_GROUP *grp = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *d = BN_secure_new();
    BN_CTX *bc = BN_CTX_secure_new();
    EC_POINT *p = grp == NULL ? NULL : EC_POINT_new(grp);
    if (grp == NULL || d == NULL || bc == NULL || p == NULL ||
        BN_bin2bn(sk.ptr, (int)sk.len, d) == NULL)
        goto done;
    if (EC_POINT_mul(grp, p, d, NULL, NULL, bc) != 1 ||
        EC_POINT_point2oct(grp, p, POINT_CONVERSION_UNCOMPRESSED, pub, P256_POINT, bc) !=
            P256_POINT)
        goto done;
    st = SLIM_OK;
done:
    EC_POINT_free(p);
    BN_CTX_free(bc);
    BN_clear_free(d);
    EC_GROUP_free(grp);
    return st;
}

/* An EVP_PKEY for a P-256 public point, or for a private scalar when sk
 * is not NULL (pub then unused: signing and ECDH need only the scalar).
 * E_MLS_BAD_KEY when the point does not decode onto the curve. */
/*
 * A key holding only the P-256 domain parameters, made once per process
 * (OpenSSL's run-once) and never changed or freed afterwards: public keys
 * are imported by copying its parameters and setting the point
 * (EVP_PKEY_set1_encoded_public_key, which refuses a point not on the
 * curve), about 7 us instead of 45 us for EVP_PKEY_fromdata, which builds
 * the curve's group anew on every call. A verification of every member's
 * leaf when joining imports one key per member.
 */
static CRYPTO_ONCE p256_once = CRYPTO_ONCE_STATIC_INIT;
static EVP_PKEY *p256_params;

static void p256_params_init(void) {
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)SN_X9_62_prime256v1, 0);
    params[1] = OSSL_PARAM_construct_end();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;
    if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEY_PARAMETERS, params) == 1)
        p256_params = k;
    EVP_PKEY_CTX_free(ctx);
}

/* The public point `pub` through the parameter key; E_MLS_CRYPTO when
 * that key could not be made (the caller then takes the long way). */
static slim_status p256_public_fast(slim_bytes pub, EVP_PKEY **out) {
    if (CRYPTO_THREAD_run_once(&p256_once, p256_params_init) != 1 || p256_params == NULL)
        return SLIM_E_MLS_CRYPTO;
    EVP_PKEY *k = EVP_PKEY_new();
    if (k == NULL || EVP_PKEY_copy_parameters(k, p256_params) != 1) {
        EVP_PKEY_free(k);
        return SLIM_E_MLS_CRYPTO;
    }
    if (EVP_PKEY_set1_encoded_public_key(k, pub.ptr, pub.len) != 1) {
        EVP_PKEY_free(k);
        return SLIM_E_MLS_BAD_KEY;
    }
    *out = k;
    return SLIM_OK;
}

static slim_status p256_pkey(const uint8_t *sk, slim_bytes pub, EVP_PKEY **out) {
    *out = NULL;
    if (sk == NULL && (pub.len != P256_POINT || pub.ptr[0] != 0x04))
        return SLIM_E_MLS_BAD_KEY;
    if (sk == NULL) {
        slim_status fast = p256_public_fast(pub, out);
        if (fast != SLIM_E_MLS_CRYPTO)
            return fast;
    }
    slim_status st = SLIM_E_MLS_CRYPTO;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    BIGNUM *d = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (bld == NULL ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1, 0) !=
            1 ||
        (sk == NULL &&
         OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub.ptr, pub.len) != 1))
        goto done;
    if (sk != NULL) {
        d = BN_secure_new();
        if (d == NULL || BN_bin2bn(sk, P256_SCALAR, d) == NULL ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1)
            goto done;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1)
        goto done;
    if (EVP_PKEY_fromdata(ctx, out, sk != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) !=
        1) {
        *out = NULL;
        st = SLIM_E_MLS_BAD_KEY;
        goto done;
    }
    st = SLIM_OK;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    BN_clear_free(d);
    OSSL_PARAM_BLD_free(bld);
    return st;
}

/* An EVP_PKEY holding the P-256 private scalar sk. */
static slim_status p256_private_pkey(slim_bytes sk, EVP_PKEY **out) {
    slim_status st = p256_check_scalar(sk);
    if (st == SLIM_OK)
        st = p256_pkey(sk.ptr, slim_bytes_of(NULL, 0), out);
    return st;
}

/* ---- X25519 / Ed25519 raw keys -------------------------------------- */

static slim_status raw_key(int type, slim_bytes k, int priv, EVP_PKEY **out) {
    *out = NULL;
    if (k.len != 32)
        return SLIM_E_MLS_BAD_KEY;
    *out = priv ? EVP_PKEY_new_raw_private_key(type, NULL, k.ptr, k.len)
                : EVP_PKEY_new_raw_public_key(type, NULL, k.ptr, k.len);
    return *out != NULL ? SLIM_OK : SLIM_E_MLS_CRYPTO;
}

static slim_status raw_public(int type, slim_bytes sk, uint8_t *pk) {
    EVP_PKEY *key;
    slim_status st = raw_key(type, sk, 1, &key);
    if (st != SLIM_OK)
        return st;
    size_t len = 32;
    if (EVP_PKEY_get_raw_public_key(key, pk, &len) != 1 || len != 32)
        st = SLIM_E_MLS_CRYPTO;
    EVP_PKEY_free(key);
    return st;
}

/* ---- Diffie-Hellman ------------------------------------------------- */

slim_status slim_mls_dh_check_private(slim_mls_dh_group g, slim_bytes sk) {
    switch (g) {
    case SLIM_MLS_DH_X25519:
        return sk.len == 32 ? SLIM_OK : SLIM_E_MLS_BAD_KEY;
    case SLIM_MLS_DH_P256:
        return p256_check_scalar(sk);
    }
    return SLIM_E_INVALID_ARG;
}

slim_status slim_mls_dh_public(slim_mls_dh_group g, slim_bytes sk, uint8_t *pk) {
    counts.derive_pub++;
    switch (g) {
    case SLIM_MLS_DH_X25519:
        return raw_public(EVP_PKEY_X25519, sk, pk);
    case SLIM_MLS_DH_P256:
        return p256_public(sk, pk);
    }
    return SLIM_E_INVALID_ARG;
}

slim_status slim_mls_dh(slim_mls_dh_group g, slim_bytes sk, slim_bytes pk, uint8_t *out) {
    counts.dh++;
    EVP_PKEY *mine = NULL, *peer = NULL;
    slim_status st;
    switch (g) {
    case SLIM_MLS_DH_X25519:
        st = raw_key(EVP_PKEY_X25519, sk, 1, &mine);
        if (st == SLIM_OK)
            st = raw_key(EVP_PKEY_X25519, pk, 0, &peer);
        break;
    case SLIM_MLS_DH_P256:
        st = p256_private_pkey(sk, &mine);
        if (st == SLIM_OK)
            st = p256_pkey(NULL, pk, &peer);
        break;
    default:
        return SLIM_E_INVALID_ARG;
    }
    size_t n = slim_mls_dh_secret_size(g);
    EVP_PKEY_CTX *ctx = NULL;
    if (st != SLIM_OK)
        goto done;
    st = SLIM_E_MLS_CRYPTO;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
    if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1)
        goto done;
    /* Validates the peer key (for P-256: on the curve, right order). */
    if (EVP_PKEY_derive_set_peer(ctx, peer) != 1) {
        st = SLIM_E_MLS_BAD_KEY;
        goto done;
    }
    size_t len = n;
    if (EVP_PKEY_derive(ctx, out, &len) != 1 || len != n) {
        /* OpenSSL's X25519 refuses an all-zero result, its one failure
         * for keys of the right length. */
        st = g == SLIM_MLS_DH_X25519 ? SLIM_E_MLS_DH_ZERO : SLIM_E_MLS_CRYPTO;
        goto done;
    }
    static const uint8_t zero[SLIM_MLS_MAX_DH_SECRET] = {0};
    st = slim_ct_equal(out, zero, n) ? SLIM_E_MLS_DH_ZERO : SLIM_OK;
done:
    if (st != SLIM_OK && n > 0)
        slim_memzero(out, n);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(mine);
    EVP_PKEY_free(peer);
    return st;
}

/* ---- signatures ----------------------------------------------------- */

slim_status slim_mls_sig_public(slim_mls_sig_scheme s, slim_bytes sk, uint8_t *pk) {
    counts.derive_pub++;
    switch (s) {
    case SLIM_MLS_SIG_ED25519:
        return raw_public(EVP_PKEY_ED25519, sk, pk);
    case SLIM_MLS_SIG_ECDSA_P256_SHA256:
        return p256_public(sk, pk);
    }
    return SLIM_E_INVALID_ARG;
}

slim_status slim_mls_sig_generate(slim_mls_sig_scheme s, const slim_mls_rng *rng, uint8_t *sk,
                                  uint8_t *pk) {
    size_t n = slim_mls_sig_private_size(s);
    if (n == 0)
        return SLIM_E_INVALID_ARG;
    /* A P-256 candidate is out of range with probability about 2^-32;
     * a generator that keeps producing such values is broken. */
    for (int attempt = 0; attempt < 16; attempt++) {
        slim_status st = slim_mls_rng_fill(rng, sk, n);
        if (st == SLIM_OK)
            st = slim_mls_sig_public(s, slim_bytes_of(sk, n), pk);
        if (st != SLIM_E_MLS_BAD_KEY) {
            if (st != SLIM_OK)
                slim_memzero(sk, n);
            return st;
        }
    }
    slim_memzero(sk, n);
    return SLIM_E_MLS_RNG;
}

struct slim_mls_sig_key {
    slim_mls_sig_scheme scheme;
    bool has_private;
    EVP_PKEY *pkey;
};

slim_status slim_mls_sig_key_new(slim_mls_sig_scheme s, slim_bytes key, bool is_private,
                                 slim_mls_sig_key **out) {
    EVP_PKEY *pkey = NULL;
    slim_status st;
    switch (s) {
    case SLIM_MLS_SIG_ED25519:
        st = raw_key(EVP_PKEY_ED25519, key, is_private, &pkey);
        break;
    case SLIM_MLS_SIG_ECDSA_P256_SHA256:
        st = is_private ? p256_private_pkey(key, &pkey) : p256_pkey(NULL, key, &pkey);
        break;
    default:
        return SLIM_E_INVALID_ARG;
    }
    if (st != SLIM_OK)
        return st;
    slim_mls_sig_key *k = slim_malloc(sizeof *k);
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return SLIM_E_NOMEM;
    }
    k->scheme = s;
    k->has_private = is_private;
    k->pkey = pkey;
    *out = k;
    return SLIM_OK;
}

slim_mls_sig_scheme slim_mls_sig_key_scheme(const slim_mls_sig_key *k) {
    return k->scheme;
}

void slim_mls_sig_key_free(slim_mls_sig_key *k) {
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey); /* OpenSSL clears private key material */
    slim_free(k);
}

static const EVP_MD *sig_md(slim_mls_sig_scheme s) {
    return s == SLIM_MLS_SIG_ECDSA_P256_SHA256 ? EVP_sha256() : NULL;
}

slim_status slim_mls_sig_key_sign(const slim_mls_sig_key *k, slim_bytes msg, slim_buf *sig) {
    counts.sign++;
    if (!k->has_private)
        return SLIM_E_INVALID_ARG;
    size_t max = slim_mls_sig_max_size(k->scheme);
    slim_status st = slim_buf_reserve(sig, max);
    if (st != SLIM_OK)
        return st;
    st = SLIM_E_MLS_CRYPTO;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    static const uint8_t empty[1] = {0};
    size_t len = max;
    if (ctx != NULL && EVP_DigestSignInit(ctx, NULL, sig_md(k->scheme), NULL, k->pkey) == 1 &&
        EVP_DigestSign(ctx, sig->data + sig->len, &len, msg.len > 0 ? msg.ptr : empty, msg.len) ==
            1 &&
        len <= max) {
        sig->len += len;
        st = SLIM_OK;
    }
    EVP_MD_CTX_free(ctx);
    return st;
}

slim_status slim_mls_sig_key_verify(const slim_mls_sig_key *k, slim_bytes msg, slim_bytes sig) {
    counts.verify++;
    if (k->has_private)
        return SLIM_E_INVALID_ARG;
    slim_status st = SLIM_E_MLS_CRYPTO;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    static const uint8_t empty[1] = {0};
    if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, sig_md(k->scheme), NULL, k->pkey) == 1) {
        int ok = EVP_DigestVerify(ctx, sig.len > 0 ? sig.ptr : empty, sig.len,
                                  msg.len > 0 ? msg.ptr : empty, msg.len);
        st = ok == 1 ? SLIM_OK : SLIM_E_MLS_BAD_SIGNATURE;
    }
    EVP_MD_CTX_free(ctx);
    return st;
}

slim_status slim_mls_sig_sign(slim_mls_sig_scheme s, slim_bytes sk, slim_bytes msg, slim_buf *sig) {
    slim_mls_sig_key *k = NULL;
    slim_status st = slim_mls_sig_key_new(s, sk, true, &k);
    if (st == SLIM_OK)
        st = slim_mls_sig_key_sign(k, msg, sig);
    slim_mls_sig_key_free(k);
    return st;
}

slim_status slim_mls_sig_verify(slim_mls_sig_scheme s, slim_bytes pk, slim_bytes msg,
                                slim_bytes sig) {
    slim_mls_sig_key *k = NULL;
    slim_status st = slim_mls_sig_key_new(s, pk, false, &k);
    if (st == SLIM_OK)
        st = slim_mls_sig_key_verify(k, msg, sig);
    slim_mls_sig_key_free(k);
    return st;
}
