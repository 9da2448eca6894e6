/*
 * OpenSSL 3.0 EVP wrappers for hash, HMAC, HKDF and AEAD. Every OpenSSL
 * object is created and freed inside one call, so there is no shared state;
 * a slim_mls_prepared (end of file) keeps only keyless setup between calls.
 */
#include "mls/primitives.h"
#include "core/alloc.h"
#include "core/util.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

static const EVP_MD *md_of(slim_mls_hash_alg alg) {
    switch (alg) {
    case SLIM_MLS_HASH_SHA256:
        return EVP_sha256();
    }
    return NULL;
}

static const char *md_name(slim_mls_hash_alg alg) {
    switch (alg) {
    case SLIM_MLS_HASH_SHA256:
        return "SHA256";
    }
    return NULL;
}

size_t slim_mls_hash_size(slim_mls_hash_alg alg) {
    switch (alg) {
    case SLIM_MLS_HASH_SHA256:
        return 32;
    }
    return 0;
}

slim_status slim_mls_hash(slim_mls_hash_alg alg, slim_bytes data, uint8_t *out) {
    return slim_mls_hash_parts(alg, &data, 1, out);
}

slim_status slim_mls_hash_parts(slim_mls_hash_alg alg, const slim_bytes *parts, size_t n,
                                uint8_t *out) {
    const EVP_MD *md = md_of(alg);
    if (md == NULL)
        return SLIM_E_INVALID_ARG;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return SLIM_E_MLS_CRYPTO;
    slim_status st = SLIM_E_MLS_CRYPTO;
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len > 0 && EVP_DigestUpdate(ctx, parts[i].ptr, parts[i].len) != 1)
            goto done;
    }
    unsigned int outl = 0;
    if (EVP_DigestFinal_ex(ctx, out, &outl) == 1 && outl == slim_mls_hash_size(alg))
        st = SLIM_OK;
done:
    EVP_MD_CTX_free(ctx);
    return st;
}

slim_status slim_mls_hmac(slim_mls_hash_alg alg, slim_bytes key, slim_bytes data, uint8_t *out) {
    const char *name = md_name(alg);
    if (name == NULL)
        return SLIM_E_INVALID_ARG;
    /* HMAC pads a short key with zeros, so an empty key equals one zero
     * byte; OpenSSL wants a non-NULL pointer either way. */
    static const uint8_t zero[1] = {0};
    const uint8_t *k = key.len > 0 ? key.ptr : zero;
    static const uint8_t empty[1] = {0};
    const uint8_t *d = data.len > 0 ? data.ptr : empty;
    size_t nh = slim_mls_hash_size(alg);
    size_t outl = 0;
    if (EVP_Q_mac(NULL, "HMAC", NULL, name, NULL, k, key.len > 0 ? key.len : 1, d, data.len, out,
                  nh, &outl) == NULL ||
        outl != nh)
        return SLIM_E_MLS_CRYPTO;
    return SLIM_OK;
}

slim_status slim_mls_hmac_verify(slim_mls_hash_alg alg, slim_bytes key, slim_bytes data,
                                 slim_bytes tag) {
    uint8_t mac[SLIM_MLS_MAX_HASH];
    size_t nh = slim_mls_hash_size(alg);
    slim_status st = slim_mls_hmac(alg, key, data, mac);
    if (st == SLIM_OK && (tag.len != nh || !slim_ct_equal(mac, tag.ptr, nh)))
        st = SLIM_E_MLS_BAD_MAC;
    slim_memzero(mac, sizeof mac);
    return st;
}

/* One HKDF call in the given mode (extract-only or expand-only). */
static slim_status hkdf(slim_mls_hash_alg alg, int mode, slim_bytes key, slim_bytes salt_or_info,
                        uint8_t *out, size_t len) {
    const char *name = md_name(alg);
    if (name == NULL)
        return SLIM_E_INVALID_ARG;
    /* OpenSSL treats a NULL octet-string pointer as "unset"; empty values
     * get a real pointer with length 0. */
    static const uint8_t empty[1] = {0};
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf == NULL ? NULL : EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (ctx == NULL)
        return SLIM_E_MLS_CRYPTO;
    OSSL_PARAM params[5];
    size_t i = 0;
    params[i++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)name, 0);
    params[i++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_KEY, (void *)(key.len > 0 ? key.ptr : empty), key.len);
    params[i++] = OSSL_PARAM_construct_octet_string(
        mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY ? OSSL_KDF_PARAM_SALT : OSSL_KDF_PARAM_INFO,
        (void *)(salt_or_info.len > 0 ? salt_or_info.ptr : empty), salt_or_info.len);
    params[i] = OSSL_PARAM_construct_end();
    slim_status st = EVP_KDF_derive(ctx, out, len, params) == 1 ? SLIM_OK : SLIM_E_MLS_CRYPTO;
    EVP_KDF_CTX_free(ctx);
    if (st != SLIM_OK)
        slim_memzero(out, len);
    return st;
}

slim_status slim_mls_hkdf_extract(slim_mls_hash_alg alg, slim_bytes salt, slim_bytes ikm,
                                  uint8_t *out) {
    size_t nh = slim_mls_hash_size(alg);
    if (nh == 0)
        return SLIM_E_INVALID_ARG;
    return hkdf(alg, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, salt, out, nh);
}

slim_status slim_mls_hkdf_expand(slim_mls_hash_alg alg, slim_bytes prk, slim_bytes info,
                                 uint8_t *out, size_t len) {
    size_t nh = slim_mls_hash_size(alg);
    if (nh == 0)
        return SLIM_E_INVALID_ARG;
    if (len == 0 || len > 255 * nh)
        return SLIM_E_MLS_KDF_LENGTH;
    return hkdf(alg, EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, info, out, len);
}

/* ---- AEAD ------------------------------------------------------------ */

static const EVP_CIPHER *cipher_of(slim_mls_aead_alg alg) {
    switch (alg) {
    case SLIM_MLS_AEAD_AES128GCM:
        return EVP_aes_128_gcm();
    case SLIM_MLS_AEAD_CHACHA20POLY1305:
        return EVP_chacha20_poly1305();
    }
    return NULL;
}

size_t slim_mls_aead_key_size(slim_mls_aead_alg alg) {
    switch (alg) {
    case SLIM_MLS_AEAD_AES128GCM:
        return 16;
    case SLIM_MLS_AEAD_CHACHA20POLY1305:
        return 32;
    }
    return 0;
}

size_t slim_mls_aead_nonce_size(slim_mls_aead_alg alg) {
    return cipher_of(alg) == NULL ? 0 : 12;
}

size_t slim_mls_aead_tag_size(slim_mls_aead_alg alg) {
    return cipher_of(alg) == NULL ? 0 : SLIM_MLS_AEAD_TAG;
}

/* Runs one AEAD operation. For sealing, `in` is the plaintext and the tag
 * is written after the ciphertext; for opening, `in` is ciphertext||tag. */
static slim_status aead_run(slim_mls_aead_alg alg, const EVP_CIPHER *cipher, int enc,
                            slim_bytes key, slim_bytes nonce, slim_bytes aad, slim_bytes in,
                            slim_buf *out) {
    if (cipher == NULL || key.len != slim_mls_aead_key_size(alg) ||
        nonce.len != slim_mls_aead_nonce_size(alg))
        return SLIM_E_INVALID_ARG;
    size_t body;
    if (enc) {
        body = in.len;
    } else {
        if (in.len < SLIM_MLS_AEAD_TAG)
            return SLIM_E_MLS_AEAD_OPEN;
        body = in.len - SLIM_MLS_AEAD_TAG;
    }
    if (body > INT_MAX - 64 || aad.len > INT_MAX)
        return SLIM_E_TOO_LARGE;
    size_t out_len = enc ? body + SLIM_MLS_AEAD_TAG : body;
    /* At least one byte, so dst is a real pointer even for empty output. */
    slim_status st = slim_buf_reserve(out, out_len > 0 ? out_len : 1);
    if (st != SLIM_OK)
        return st;
    uint8_t *dst = out->data + out->len;

    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return SLIM_E_MLS_CRYPTO;
    st = SLIM_E_MLS_CRYPTO;
    int n = 0, fin = 0;
    if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)nonce.len, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key.ptr, nonce.ptr, enc) != 1)
        goto done;
    if (aad.len > 0 && EVP_CipherUpdate(ctx, NULL, &n, aad.ptr, (int)aad.len) != 1)
        goto done;
    n = 0;
    if (body > 0 && EVP_CipherUpdate(ctx, dst, &n, in.ptr, (int)body) != 1)
        goto done;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SLIM_MLS_AEAD_TAG,
                                    (void *)(in.ptr + body)) != 1)
        goto done;
    if (EVP_CipherFinal_ex(ctx, dst + n, &fin) != 1) {
        if (!enc)
            st = SLIM_E_MLS_AEAD_OPEN;
        goto done;
    }
    if ((size_t)n + (size_t)fin != body)
        goto done;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SLIM_MLS_AEAD_TAG, dst + body) != 1)
        goto done;
    out->len += out_len;
    st = SLIM_OK;
done:
    EVP_CIPHER_CTX_free(ctx);
    if (st != SLIM_OK)
        slim_memzero(dst, out_len);
    return st;
}

slim_status slim_mls_aead_seal(slim_mls_aead_alg alg, slim_bytes key, slim_bytes nonce,
                               slim_bytes aad, slim_bytes pt, slim_buf *out) {
    return aead_run(alg, cipher_of(alg), 1, key, nonce, aad, pt, out);
}

slim_status slim_mls_aead_open(slim_mls_aead_alg alg, slim_bytes key, slim_bytes nonce,
                               slim_bytes aad, slim_bytes ct, slim_buf *out) {
    return aead_run(alg, cipher_of(alg), 0, key, nonce, aad, ct, out);
}

/* ---- prepared primitives -------------------------------------------- */

struct slim_mls_prepared {
    slim_mls_hash_alg hash;
    slim_mls_aead_alg aead;
    EVP_MAC_CTX *hmac;  /* the hash set, never keyed: copied for each use */
    EVP_CIPHER *cipher; /* fetched once */
};

static const char *cipher_name(slim_mls_aead_alg alg) {
    switch (alg) {
    case SLIM_MLS_AEAD_AES128GCM:
        return "AES-128-GCM";
    case SLIM_MLS_AEAD_CHACHA20POLY1305:
        return "ChaCha20-Poly1305";
    }
    return NULL;
}

slim_status slim_mls_prepared_new(slim_mls_hash_alg hash, slim_mls_aead_alg aead,
                                  slim_mls_prepared **out) {
    const char *md = md_name(hash), *cn = cipher_name(aead);
    if (md == NULL || cn == NULL)
        return SLIM_E_INVALID_ARG;
    slim_mls_prepared *p = slim_calloc(1, sizeof *p);
    if (p == NULL)
        return SLIM_E_NOMEM;
    p->hash = hash;
    p->aead = aead;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    p->hmac = mac == NULL ? NULL : EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context keeps its own reference */
    p->cipher = EVP_CIPHER_fetch(NULL, cn, NULL);
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (p->hmac == NULL || p->cipher == NULL || EVP_MAC_CTX_set_params(p->hmac, params) != 1) {
        slim_mls_prepared_free(p);
        return SLIM_E_MLS_CRYPTO;
    }
    *out = p;
    return SLIM_OK;
}

void slim_mls_prepared_free(slim_mls_prepared *p) {
    if (p == NULL)
        return;
    EVP_MAC_CTX_free(p->hmac);
    EVP_CIPHER_free(p->cipher);
    slim_free(p);
}

/* One HKDF-Expand output with the HMAC context c, keyed with the PRK:
 * each block restarts c with that key (EVP_MAC_init without a key). */
static slim_status expand_one(EVP_MAC_CTX *c, size_t nh, const slim_mls_expand_out *o) {
    uint8_t t[SLIM_MLS_MAX_HASH];
    size_t tlen = 0, done = 0;
    slim_status st = SLIM_OK;
    if (o->len == 0 || o->len > 255 * nh)
        return SLIM_E_MLS_KDF_LENGTH;
    for (uint8_t i = 1; done < o->len && st == SLIM_OK; i++) {
        size_t ol = 0, j = 0;
        st = SLIM_E_MLS_CRYPTO;
        if (EVP_MAC_init(c, NULL, 0, NULL) != 1 || (tlen > 0 && EVP_MAC_update(c, t, tlen) != 1))
            break;
        while (j < o->n &&
               (o->parts[j].len == 0 || EVP_MAC_update(c, o->parts[j].ptr, o->parts[j].len) == 1))
            j++;
        if (j == o->n && EVP_MAC_update(c, &i, 1) == 1 && EVP_MAC_final(c, t, &ol, nh) == 1 &&
            ol == nh) {
            size_t take = o->len - done < nh ? o->len - done : nh;
            memcpy(o->out + done, t, take);
            done += take;
            tlen = nh;
            st = SLIM_OK;
        }
    }
    slim_memzero(t, sizeof t);
    return st;
}

slim_status slim_mls_prepared_hkdf_expand_many(const slim_mls_prepared *p, slim_bytes prk,
                                               const slim_mls_expand_out *outs, size_t n_outs) {
    size_t nh = slim_mls_hash_size(p->hash);
    /* As in slim_mls_hmac: an empty key is the same as one zero byte. */
    static const uint8_t zero[1] = {0};
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(p->hmac);
    slim_status st = SLIM_E_MLS_CRYPTO;
    if (c != NULL &&
        EVP_MAC_init(c, prk.len > 0 ? prk.ptr : zero, prk.len > 0 ? prk.len : 1, NULL) == 1)
        st = SLIM_OK;
    for (size_t k = 0; k < n_outs && st == SLIM_OK; k++)
        st = expand_one(c, nh, &outs[k]);
    EVP_MAC_CTX_free(c); /* OpenSSL wipes the keyed state */
    if (st != SLIM_OK) {
        for (size_t k = 0; k < n_outs; k++)
            slim_memzero(outs[k].out, outs[k].len);
    }
    return st;
}

slim_status slim_mls_prepared_hkdf_expand(const slim_mls_prepared *p, slim_bytes prk,
                                          const slim_bytes *parts, size_t n, uint8_t *out,
                                          size_t len) {
    slim_mls_expand_out o = {parts, n, out, len};
    return slim_mls_prepared_hkdf_expand_many(p, prk, &o, 1);
}

slim_status slim_mls_prepared_seal(const slim_mls_prepared *p, slim_bytes key, slim_bytes nonce,
                                   slim_bytes aad, slim_bytes pt, slim_buf *out) {
    return aead_run(p->aead, p->cipher, 1, key, nonce, aad, pt, out);
}

slim_status slim_mls_prepared_open(const slim_mls_prepared *p, slim_bytes key, slim_bytes nonce,
                                   slim_bytes aad, slim_bytes ct, slim_buf *out) {
    return aead_run(p->aead, p->cipher, 0, key, nonce, aad, ct, out);
}
