/*
 * MLS cipher-suite table and labeled operations. The labeled structures
 * (KDFLabel, RefHashInput, SignContent, EncryptContext) are encoded with
 * the TLS codec and handed to the primitives; nothing is cached.
 */
#include "mls/crypto.h"
#include "core/util.h"
#include "mls/tls.h"

#include <string.h>

static const slim_mls_suite suites[] = {
    {
        .id = SLIM_MLS_SUITE_X25519_AES128GCM_SHA256_ED25519,
        .name = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519",
        .hpke = {SLIM_MLS_HPKE_KEM_X25519_SHA256, SLIM_MLS_HPKE_KDF_HKDF_SHA256,
                 SLIM_MLS_HPKE_AEAD_AES128GCM},
        .hash = SLIM_MLS_HASH_SHA256,
        .aead = SLIM_MLS_AEAD_AES128GCM,
        .sig = SLIM_MLS_SIG_ED25519,
        .nh = 32,
        .nk = 16,
        .nn = 12,
        .nt = 16,
        .kem_npk = 32,
        .kem_nsk = 32,
        .sig_npk = 32,
        .sig_nsk = 32,
        .sig_max = 64,
    },
    {
        .id = SLIM_MLS_SUITE_P256_AES128GCM_SHA256_P256,
        .name = "MLS_128_DHKEMP256_AES128GCM_SHA256_P256",
        .hpke = {SLIM_MLS_HPKE_KEM_P256_SHA256, SLIM_MLS_HPKE_KDF_HKDF_SHA256,
                 SLIM_MLS_HPKE_AEAD_AES128GCM},
        .hash = SLIM_MLS_HASH_SHA256,
        .aead = SLIM_MLS_AEAD_AES128GCM,
        .sig = SLIM_MLS_SIG_ECDSA_P256_SHA256,
        .nh = 32,
        .nk = 16,
        .nn = 12,
        .nt = 16,
        .kem_npk = 65,
        .kem_nsk = 32,
        .sig_npk = 65,
        .sig_nsk = 32,
        .sig_max = 72,
    },
};

const slim_mls_suite *slim_mls_suite_get(uint16_t id) {
    for (size_t i = 0; i < SLIM_ARRAY_LEN(suites); i++) {
        if (suites[i].id == id)
            return &suites[i];
    }
    return NULL;
}

slim_status slim_mls_suite_find(uint16_t id, const slim_mls_suite **out) {
    const slim_mls_suite *s = slim_mls_suite_get(id);
    if (s == NULL)
        return SLIM_E_MLS_UNKNOWN_SUITE;
    *out = s;
    return SLIM_OK;
}

/* ---- hash, MAC, KDF ------------------------------------------------- */

slim_status slim_mls_suite_hash(const slim_mls_suite *s, slim_bytes data, uint8_t *out) {
    return slim_mls_hash(s->hash, data, out);
}

slim_status slim_mls_suite_mac(const slim_mls_suite *s, slim_bytes key, slim_bytes data,
                               uint8_t *out) {
    return slim_mls_hmac(s->hash, key, data, out);
}

slim_status slim_mls_suite_mac_verify(const slim_mls_suite *s, slim_bytes key, slim_bytes data,
                                      slim_bytes tag) {
    return slim_mls_hmac_verify(s->hash, key, data, tag);
}

slim_status slim_mls_kdf_extract(const slim_mls_suite *s, slim_bytes salt, slim_bytes ikm,
                                 uint8_t *out) {
    return slim_mls_hkdf_extract(s->hash, salt, ikm, out);
}

slim_status slim_mls_kdf_expand(const slim_mls_suite *s, slim_bytes prk, slim_bytes info,
                                uint8_t *out, size_t len) {
    return slim_mls_hkdf_expand(s->hash, prk, info, out, len);
}

/* Writes opaque label<V> = "MLS 1.0 " + label. */
static slim_status put_mls_label(slim_mls_tls_writer *w, slim_bytes label) {
    static const char prefix[] = "MLS 1.0 ";
    slim_mls_tls_put_varint(w, sizeof prefix - 1 + label.len);
    slim_mls_tls_put_raw(w, slim_bytes_of(prefix, sizeof prefix - 1));
    return slim_mls_tls_put_raw(w, label);
}

static slim_bytes str_bytes(const char *s) {
    return slim_bytes_of(s, strlen(s));
}

/* Encodes struct { opaque label<V>; opaque x<V>; } with the MLS prefix on
 * the label: SignContent and EncryptContext. */
static slim_status label_and_value(slim_buf *b, const char *label, slim_bytes value) {
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, b);
    put_mls_label(&w, str_bytes(label));
    slim_mls_tls_put_opaque(&w, value);
    return slim_mls_tls_writer_status(&w);
}

size_t slim_mls_sign_content_begin(slim_mls_tls_writer *w, const char *label) {
    put_mls_label(w, str_bytes(label));
    return slim_mls_tls_vec_begin(w);
}

slim_status slim_mls_sign_content(const slim_mls_suite *s, const slim_mls_sig_key *sk,
                                  slim_bytes sign_content, slim_buf *sig) {
    if (slim_mls_sig_key_scheme(sk) != s->sig)
        return SLIM_E_MLS_BAD_KEY;
    return slim_mls_sig_key_sign(sk, sign_content, sig);
}

slim_status slim_mls_verify_content(const slim_mls_suite *s, const slim_mls_sig_key *pk,
                                    slim_bytes sign_content, slim_bytes sig) {
    if (slim_mls_sig_key_scheme(pk) != s->sig)
        return SLIM_E_MLS_BAD_KEY;
    return slim_mls_sig_key_verify(pk, sign_content, sig);
}

slim_status slim_mls_verify_content_raw(const slim_mls_suite *s, slim_bytes pk,
                                        slim_bytes sign_content, slim_bytes sig) {
    if (pk.len != s->sig_npk)
        return SLIM_E_MLS_BAD_KEY;
    return slim_mls_sig_verify(s->sig, pk, sign_content, sig);
}

slim_status slim_mls_expand_with_label(const slim_mls_suite *s, slim_bytes secret,
                                       const char *label, slim_bytes context, uint8_t *out,
                                       size_t len) {
    return slim_mls_expand_with_label_bytes(s, secret, str_bytes(label), context, out, len);
}

slim_status slim_mls_expand_with_label_bytes(const slim_mls_suite *s, slim_bytes secret,
                                             slim_bytes label, slim_bytes context, uint8_t *out,
                                             size_t len) {
    if (len == 0 || len > 0xffff)
        return SLIM_E_MLS_KDF_LENGTH;
    slim_buf info = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &info);
    slim_mls_tls_put_u16(&w, (uint16_t)len);
    put_mls_label(&w, label);
    slim_mls_tls_put_opaque(&w, context);
    slim_status st = slim_mls_tls_writer_status(&w);
    if (st == SLIM_OK)
        st = slim_mls_kdf_expand(s, secret, slim_buf_view(&info), out, len);
    slim_buf_cleanup_secret(&info);
    return st;
}

/* The pieces of KDFLabel{uint16 length, "MLS 1.0 " + label <V>,
 * context<V>}: the two length headers live in hdr (8 bytes), the rest is
 * borrowed. */
static slim_status kdf_label_parts(const char *label, slim_bytes context, size_t len, uint8_t *hdr,
                                   slim_bytes *parts) {
    static const char prefix[] = "MLS 1.0 ";
    if (len == 0 || len > 0xffff)
        return SLIM_E_MLS_KDF_LENGTH;
    size_t label_len = strlen(label), lhn, chn;
    hdr[0] = (uint8_t)(len >> 8);
    hdr[1] = (uint8_t)len;
    slim_status st = slim_mls_tls_varint_encode(sizeof prefix - 1 + label_len, hdr + 2, &lhn);
    if (st == SLIM_OK)
        st = slim_mls_tls_varint_encode(context.len, hdr + 2 + lhn, &chn);
    if (st != SLIM_OK)
        return st;
    parts[0] = slim_bytes_of(hdr, 2 + lhn);
    parts[1] = slim_bytes_of(prefix, sizeof prefix - 1);
    parts[2] = slim_bytes_of(label, label_len);
    parts[3] = slim_bytes_of(hdr + 2 + lhn, chn);
    parts[4] = context;
    return SLIM_OK;
}

#define KDF_LABEL_PARTS 5

slim_status slim_mls_expand_labels_prepared(const slim_mls_suite *s, const slim_mls_prepared *p,
                                            slim_bytes secret, slim_bytes context, size_t n,
                                            const char *const *labels, uint8_t *const *outs,
                                            const size_t *lens) {
    if (n > SLIM_MLS_EXPAND_MAX_LABELS)
        return SLIM_E_INVALID_ARG;
    slim_status st = SLIM_OK;
    if (p == NULL) {
        for (size_t i = 0; i < n && st == SLIM_OK; i++)
            st = slim_mls_expand_with_label(s, secret, labels[i], context, outs[i], lens[i]);
    } else {
        uint8_t hdr[SLIM_MLS_EXPAND_MAX_LABELS][8];
        slim_bytes parts[SLIM_MLS_EXPAND_MAX_LABELS][KDF_LABEL_PARTS];
        slim_mls_expand_out o[SLIM_MLS_EXPAND_MAX_LABELS];
        for (size_t i = 0; i < n && st == SLIM_OK; i++) {
            st = kdf_label_parts(labels[i], context, lens[i], hdr[i], parts[i]);
            o[i] = (slim_mls_expand_out){parts[i], KDF_LABEL_PARTS, outs[i], lens[i]};
        }
        if (st == SLIM_OK)
            st = slim_mls_prepared_hkdf_expand_many(p, secret, o, n);
    }
    if (st != SLIM_OK) {
        for (size_t i = 0; i < n; i++)
            slim_memzero(outs[i], lens[i]);
    }
    return st;
}

slim_status slim_mls_expand_with_label_prepared(const slim_mls_suite *s, const slim_mls_prepared *p,
                                                slim_bytes secret, const char *label,
                                                slim_bytes context, uint8_t *out, size_t len) {
    return slim_mls_expand_labels_prepared(s, p, secret, context, 1, &label, &out, &len);
}

slim_status slim_mls_derive_secret(const slim_mls_suite *s, slim_bytes secret, const char *label,
                                   uint8_t *out) {
    return slim_mls_expand_with_label(s, secret, label, slim_bytes_of(NULL, 0), out, s->nh);
}

slim_status slim_mls_derive_tree_secret(const slim_mls_suite *s, slim_bytes secret,
                                        const char *label, uint32_t generation, uint8_t *out,
                                        size_t len) {
    return slim_mls_derive_tree_secret_prepared(s, NULL, secret, label, generation, out, len);
}

slim_status slim_mls_derive_tree_secret_prepared(const slim_mls_suite *s,
                                                 const slim_mls_prepared *p, slim_bytes secret,
                                                 const char *label, uint32_t generation,
                                                 uint8_t *out, size_t len) {
    uint8_t ctx[4] = {(uint8_t)(generation >> 24), (uint8_t)(generation >> 16),
                      (uint8_t)(generation >> 8), (uint8_t)generation};
    return slim_mls_expand_with_label_prepared(s, p, secret, label, slim_bytes_of(ctx, 4), out,
                                               len);
}

slim_status slim_mls_ref_hash(const slim_mls_suite *s, slim_bytes label, slim_bytes value,
                              uint8_t *out) {
    slim_buf b = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &b);
    slim_mls_tls_put_opaque(&w, label);
    slim_mls_tls_put_opaque(&w, value);
    slim_status st = slim_mls_tls_writer_status(&w);
    if (st == SLIM_OK)
        st = slim_mls_suite_hash(s, slim_buf_view(&b), out);
    slim_buf_cleanup(&b);
    return st;
}

/* ---- signatures ----------------------------------------------------- */

slim_status slim_mls_sign_with_label_key(const slim_mls_suite *s, const slim_mls_sig_key *sk,
                                         const char *label, slim_bytes content, slim_buf *sig) {
    if (slim_mls_sig_key_scheme(sk) != s->sig)
        return SLIM_E_MLS_BAD_KEY;
    slim_buf tbs = SLIM_BUF_INIT;
    slim_status st = label_and_value(&tbs, label, content);
    if (st == SLIM_OK)
        st = slim_mls_sig_key_sign(sk, slim_buf_view(&tbs), sig);
    slim_buf_cleanup(&tbs);
    return st;
}

slim_status slim_mls_verify_with_label_key(const slim_mls_suite *s, const slim_mls_sig_key *pk,
                                           const char *label, slim_bytes content, slim_bytes sig) {
    if (slim_mls_sig_key_scheme(pk) != s->sig)
        return SLIM_E_MLS_BAD_KEY;
    slim_buf tbs = SLIM_BUF_INIT;
    slim_status st = label_and_value(&tbs, label, content);
    if (st == SLIM_OK)
        st = slim_mls_sig_key_verify(pk, slim_buf_view(&tbs), sig);
    slim_buf_cleanup(&tbs);
    return st;
}

slim_status slim_mls_sign_with_label(const slim_mls_suite *s, slim_bytes sk, const char *label,
                                     slim_bytes content, slim_buf *sig) {
    if (sk.len != s->sig_nsk)
        return SLIM_E_MLS_BAD_KEY;
    slim_mls_sig_key *k = NULL;
    slim_status st = slim_mls_sig_key_new(s->sig, sk, true, &k);
    if (st == SLIM_OK)
        st = slim_mls_sign_with_label_key(s, k, label, content, sig);
    slim_mls_sig_key_free(k);
    return st;
}

slim_status slim_mls_verify_with_label(const slim_mls_suite *s, slim_bytes pk, const char *label,
                                       slim_bytes content, slim_bytes sig) {
    if (pk.len != s->sig_npk)
        return SLIM_E_MLS_BAD_KEY;
    slim_mls_sig_key *k = NULL;
    slim_status st = slim_mls_sig_key_new(s->sig, pk, false, &k);
    if (st == SLIM_OK)
        st = slim_mls_verify_with_label_key(s, k, label, content, sig);
    slim_mls_sig_key_free(k);
    return st;
}

/* Builds SignContent{label, TBS} in b. */
static slim_status tbs_content(slim_buf *b, const char *label, slim_mls_tbs_fn tbs,
                               const void *obj) {
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, b);
    size_t mark = slim_mls_sign_content_begin(&w, label);
    tbs(&w, obj);
    slim_mls_tls_vec_end(&w, mark);
    return slim_mls_tls_writer_status(&w);
}

slim_status slim_mls_sign_tbs(const slim_mls_suite *s, const slim_mls_sig_key *sk,
                              const char *label, slim_mls_tbs_fn tbs, const void *obj,
                              slim_buf *sig, slim_bytes *view) {
    slim_buf b = SLIM_BUF_INIT;
    size_t start = sig->len;
    slim_status st = tbs_content(&b, label, tbs, obj);
    if (st == SLIM_OK)
        st = slim_mls_sign_content(s, sk, slim_buf_view(&b), sig);
    if (st == SLIM_OK)
        *view = slim_bytes_of(sig->data + start, sig->len - start);
    slim_buf_cleanup(&b);
    return st;
}

/* Verifies with a prepared key, or with raw key bytes when pk is NULL. */
static slim_status verify_tbs(const slim_mls_suite *s, const slim_mls_sig_key *pk, slim_bytes raw,
                              const char *label, slim_mls_tbs_fn tbs, const void *obj,
                              slim_bytes sig) {
    slim_buf b = SLIM_BUF_INIT;
    slim_status st = tbs_content(&b, label, tbs, obj);
    if (st == SLIM_OK)
        st = pk != NULL ? slim_mls_verify_content(s, pk, slim_buf_view(&b), sig)
                        : slim_mls_verify_content_raw(s, raw, slim_buf_view(&b), sig);
    slim_buf_cleanup(&b);
    return st;
}

slim_status slim_mls_verify_tbs(const slim_mls_suite *s, slim_bytes pk, const char *label,
                                slim_mls_tbs_fn tbs, const void *obj, slim_bytes sig) {
    return verify_tbs(s, NULL, pk, label, tbs, obj, sig);
}

slim_status slim_mls_verify_tbs_key(const slim_mls_suite *s, const slim_mls_sig_key *pk,
                                    const char *label, slim_mls_tbs_fn tbs, const void *obj,
                                    slim_bytes sig) {
    return verify_tbs(s, pk, slim_bytes_of(NULL, 0), label, tbs, obj, sig);
}

slim_status slim_mls_signature_key_generate(const slim_mls_suite *s, const slim_mls_rng *rng,
                                            uint8_t *sk, uint8_t *pk) {
    return slim_mls_sig_generate(s->sig, rng, sk, pk);
}

slim_status slim_mls_signature_public_key(const slim_mls_suite *s, slim_bytes sk, uint8_t *pk) {
    if (sk.len != s->sig_nsk)
        return SLIM_E_MLS_BAD_KEY;
    return slim_mls_sig_public(s->sig, sk, pk);
}

/* ---- public-key encryption ------------------------------------------ */

slim_status slim_mls_encrypt_with_label(const slim_mls_suite *s, slim_bytes pk, const char *label,
                                        slim_bytes context, slim_bytes pt, const slim_mls_rng *rng,
                                        slim_buf *kem_output, slim_buf *ct) {
    slim_buf info = SLIM_BUF_INIT;
    slim_status st = label_and_value(&info, label, context);
    if (st == SLIM_OK)
        st = slim_mls_hpke_seal_base(s->hpke, pk, slim_buf_view(&info), slim_bytes_of(NULL, 0), pt,
                                     rng, kem_output, ct);
    slim_buf_cleanup(&info);
    return st;
}

slim_status slim_mls_decrypt_with_label(const slim_mls_suite *s, slim_bytes sk, const char *label,
                                        slim_bytes context, slim_bytes kem_output, slim_bytes ct,
                                        slim_buf *pt) {
    slim_buf info = SLIM_BUF_INIT;
    slim_status st = label_and_value(&info, label, context);
    if (st == SLIM_OK)
        st = slim_mls_hpke_open_base(s->hpke, kem_output, sk, slim_buf_view(&info),
                                     slim_bytes_of(NULL, 0), ct, pt);
    slim_buf_cleanup(&info);
    return st;
}

slim_status slim_mls_suite_derive_key_pair(const slim_mls_suite *s, slim_bytes secret, uint8_t *sk,
                                           uint8_t *pk) {
    return slim_mls_hpke_derive_key_pair(s->hpke.kem_id, secret, sk, pk);
}

slim_status slim_mls_suite_generate_key_pair(const slim_mls_suite *s, const slim_mls_rng *rng,
                                             uint8_t *sk, uint8_t *pk) {
    return slim_mls_hpke_generate_key_pair(s->hpke.kem_id, rng, sk, pk);
}

/* ---- AEAD ----------------------------------------------------------- */

slim_status slim_mls_suite_seal(const slim_mls_suite *s, slim_bytes key, slim_bytes nonce,
                                slim_bytes aad, slim_bytes pt, slim_buf *ct) {
    return slim_mls_aead_seal(s->aead, key, nonce, aad, pt, ct);
}

slim_status slim_mls_suite_open(const slim_mls_suite *s, slim_bytes key, slim_bytes nonce,
                                slim_bytes aad, slim_bytes ct, slim_buf *pt) {
    return slim_mls_aead_open(s->aead, key, nonce, aad, ct, pt);
}

slim_status slim_mls_suite_prepare(const slim_mls_suite *s, slim_mls_prepared **out) {
    return slim_mls_prepared_new(s->hash, s->aead, out);
}

slim_status slim_mls_suite_seal_prepared(const slim_mls_suite *s, const slim_mls_prepared *p,
                                         slim_bytes key, slim_bytes nonce, slim_bytes aad,
                                         slim_bytes pt, slim_buf *ct) {
    if (p == NULL)
        return slim_mls_suite_seal(s, key, nonce, aad, pt, ct);
    return slim_mls_prepared_seal(p, key, nonce, aad, pt, ct);
}

slim_status slim_mls_suite_open_prepared(const slim_mls_suite *s, const slim_mls_prepared *p,
                                         slim_bytes key, slim_bytes nonce, slim_bytes aad,
                                         slim_bytes ct, slim_buf *pt) {
    if (p == NULL)
        return slim_mls_suite_open(s, key, nonce, aad, ct, pt);
    return slim_mls_prepared_open(p, key, nonce, aad, ct, pt);
}
