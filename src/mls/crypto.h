/*
 * MLS cipher suites (RFC 9420 §5.1, §17.1) and the labeled operations
 * built on them: ExpandWithLabel, DeriveSecret, DeriveTreeSecret (§8, §9),
 * RefHash (§5.2), SignWithLabel / VerifyWithLabel (§5.1.2) and
 * EncryptWithLabel / DecryptWithLabel (§5.1.3), plus the suite's hash,
 * MAC, KDF and AEAD.
 *
 * Supported suites, keyed by their IANA id:
 *   1  MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
 *   2  MLS_128_DHKEMP256_AES128GCM_SHA256_P256
 *
 * A suite is a const table entry (slim_mls_suite_get); every function takes
 * it as its first argument. Labels are C strings; the functions that the
 * RFC defines with the "MLS 1.0 " prefix add it themselves, RefHash does
 * not (callers pass the full label, e.g. "MLS 1.0 KeyPackage Reference").
 *
 * Pure and thread-safe; secrets in intermediate buffers are wiped.
 */
#ifndef SLIM_MLS_CRYPTO_H
#define SLIM_MLS_CRYPTO_H

#include "core/buf.h"
#include "mls/hpke.h"
#include "mls/pkey.h"
#include "mls/primitives.h"
#include "mls/rng.h"
#include "mls/tls.h"
#include "slim/status.h"

#define SLIM_MLS_SUITE_X25519_AES128GCM_SHA256_ED25519 0x0001
#define SLIM_MLS_SUITE_P256_AES128GCM_SHA256_P256      0x0002

typedef struct slim_mls_suite {
    uint16_t id;
    const char *name;
    slim_mls_hpke_suite hpke; /* KEM, KDF and AEAD ids */
    slim_mls_hash_alg hash;
    slim_mls_aead_alg aead;
    slim_mls_sig_scheme sig;
    size_t nh;      /* hash / KDF output (KDF.Nh) */
    size_t nk;      /* AEAD key (AEAD.Nk) */
    size_t nn;      /* AEAD nonce (AEAD.Nn) */
    size_t nt;      /* AEAD tag */
    size_t kem_npk; /* HPKE public key = enc size */
    size_t kem_nsk; /* HPKE private key */
    size_t sig_npk; /* signature public key */
    size_t sig_nsk; /* signature private key */
    size_t sig_max; /* longest signature */
} slim_mls_suite;

/* The suite with IANA id `id`, or NULL when unsupported. Static storage. */
const slim_mls_suite *slim_mls_suite_get(uint16_t id);

/* Same, as a status: E_MLS_UNKNOWN_SUITE when unsupported. */
slim_status slim_mls_suite_find(uint16_t id, const slim_mls_suite **out);

/* ---- hash, MAC, KDF ------------------------------------------------- */

/* out[0..Nh) = Hash(data). */
slim_status slim_mls_suite_hash(const slim_mls_suite *s, slim_bytes data, uint8_t *out);

/* out[0..Nh) = MAC(key, data), HMAC with the suite's hash. */
slim_status slim_mls_suite_mac(const slim_mls_suite *s, slim_bytes key, slim_bytes data,
                               uint8_t *out);

/* Recomputes MAC(key, data) and compares it with `tag` in constant time.
 * E_MLS_BAD_MAC when they differ. */
slim_status slim_mls_suite_mac_verify(const slim_mls_suite *s, slim_bytes key, slim_bytes data,
                                      slim_bytes tag);

/* out[0..Nh) = KDF.Extract(salt, ikm). */
slim_status slim_mls_kdf_extract(const slim_mls_suite *s, slim_bytes salt, slim_bytes ikm,
                                 uint8_t *out);

/* out[0..len) = KDF.Expand(prk, info, len). E_MLS_KDF_LENGTH. */
slim_status slim_mls_kdf_expand(const slim_mls_suite *s, slim_bytes prk, slim_bytes info,
                                uint8_t *out, size_t len);

/*
 * struct {
 *     uint16 length;
 *     opaque label<V>;
 *     opaque context<V>;
 * } KDFLabel;
 *
 * out[0..len) = ExpandWithLabel(secret, label, context, len)
 *             = KDF.Expand(secret, KDFLabel{len, "MLS 1.0 " + label, context}, len).
 * E_MLS_KDF_LENGTH for len 0, above 65535 or above 255*Nh.
 */
slim_status slim_mls_expand_with_label(const slim_mls_suite *s, slim_bytes secret,
                                       const char *label, slim_bytes context, uint8_t *out,
                                       size_t len);

/* The same with a label of arbitrary bytes (e.g. an exporter label). */
slim_status slim_mls_expand_with_label_bytes(const slim_mls_suite *s, slim_bytes secret,
                                             slim_bytes label, slim_bytes context, uint8_t *out,
                                             size_t len);

/* The same with prepared primitives (mls/primitives.h; p from
 * slim_mls_suite_prepare, or NULL for the plain path): the KDFLabel is fed
 * to HMAC in pieces, without a buffer. For the per-message path. */
slim_status slim_mls_expand_with_label_prepared(const slim_mls_suite *s, const slim_mls_prepared *p,
                                                slim_bytes secret, const char *label,
                                                slim_bytes context, uint8_t *out, size_t len);

/* ExpandWithLabel of one secret and context under n labels (at most
 * SLIM_MLS_EXPAND_MAX_LABELS): outs[i][0..lens[i]) for labels[i]. With
 * prepared primitives the HMAC key is set up once for all of them (a
 * ratchet step's key, nonce and next secret; the sender-data key and
 * nonce); p may be NULL. On failure every output is wiped. */
#define SLIM_MLS_EXPAND_MAX_LABELS 4
slim_status slim_mls_expand_labels_prepared(const slim_mls_suite *s, const slim_mls_prepared *p,
                                            slim_bytes secret, slim_bytes context, size_t n,
                                            const char *const *labels, uint8_t *const *outs,
                                            const size_t *lens);

/* out[0..Nh) = DeriveSecret(secret, label) = ExpandWithLabel(secret, label,
 * "", Nh). */
slim_status slim_mls_derive_secret(const slim_mls_suite *s, slim_bytes secret, const char *label,
                                   uint8_t *out);

/* out[0..len) = DeriveTreeSecret(secret, label, generation, len)
 *             = ExpandWithLabel(secret, label, uint32(generation), len). */
slim_status slim_mls_derive_tree_secret(const slim_mls_suite *s, slim_bytes secret,
                                        const char *label, uint32_t generation, uint8_t *out,
                                        size_t len);

/* DeriveTreeSecret with prepared primitives (p may be NULL). */
slim_status slim_mls_derive_tree_secret_prepared(const slim_mls_suite *s,
                                                 const slim_mls_prepared *p, slim_bytes secret,
                                                 const char *label, uint32_t generation,
                                                 uint8_t *out, size_t len);

/*
 * struct {
 *   opaque label<V>;
 *   opaque value<V>;
 * } RefHashInput;
 *
 * out[0..Nh) = RefHash(label, value) = Hash(RefHashInput{label, value}).
 * The label is used as given (no prefix).
 */
slim_status slim_mls_ref_hash(const slim_mls_suite *s, slim_bytes label, slim_bytes value,
                              uint8_t *out);

/* ---- signatures ----------------------------------------------------- */

/*
 * struct {
 *     opaque label<V>;
 *     opaque content<V>;
 * } SignContent;
 *
 * Appends SignWithLabel(sk, label, content) = Signature.Sign(sk,
 * SignContent{"MLS 1.0 " + label, content}) to `sig`. Ed25519 signatures
 * are deterministic; ECDSA P-256 ones are DER and use OpenSSL's nonce.
 * E_MLS_BAD_KEY for a private key of the wrong size or out of range.
 */
slim_status slim_mls_sign_with_label(const slim_mls_suite *s, slim_bytes sk, const char *label,
                                     slim_bytes content, slim_buf *sig);

/* VerifyWithLabel(pk, label, content, sig): SLIM_OK when valid,
 * E_MLS_BAD_SIGNATURE when not, E_MLS_BAD_KEY for a bad public key. */
slim_status slim_mls_verify_with_label(const slim_mls_suite *s, slim_bytes pk, const char *label,
                                       slim_bytes content, slim_bytes sig);

/* The same with a key prepared by slim_mls_sig_key_new (for many
 * messages under one key: no per-call key import). E_MLS_BAD_KEY when the
 * key's scheme is not the suite's. */
slim_status slim_mls_sign_with_label_key(const slim_mls_suite *s, const slim_mls_sig_key *sk,
                                         const char *label, slim_bytes content, slim_buf *sig);
slim_status slim_mls_verify_with_label_key(const slim_mls_suite *s, const slim_mls_sig_key *pk,
                                           const char *label, slim_bytes content, slim_bytes sig);

/* SignContent built in place, for hot paths whose Content is itself an
 * encoding (e.g. FramedContentTBS): writes label<V> = "MLS 1.0 " + label
 * and opens the content vector. The caller writes Content, closes it with
 * slim_mls_tls_vec_end(w, mark) and signs or verifies the whole buffer
 * with slim_mls_sign_content / slim_mls_verify_content. Returns the mark. */
size_t slim_mls_sign_content_begin(slim_mls_tls_writer *w, const char *label);

/* Signs / verifies a SignContent built as above with a prepared key.
 * E_MLS_BAD_KEY when the key's scheme is not the suite's; verify also
 * E_MLS_BAD_SIGNATURE. */
slim_status slim_mls_sign_content(const slim_mls_suite *s, const slim_mls_sig_key *sk,
                                  slim_bytes sign_content, slim_buf *sig);
slim_status slim_mls_verify_content(const slim_mls_suite *s, const slim_mls_sig_key *pk,
                                    slim_bytes sign_content, slim_bytes sig);

/* The same verification with a public key given as bytes (imported for
 * this one call). E_MLS_BAD_KEY for a key of the wrong size. */
slim_status slim_mls_verify_content_raw(const slim_mls_suite *s, slim_bytes pk,
                                        slim_bytes sign_content, slim_bytes sig);

/* Writes a to-be-signed structure (LeafNodeTBS, KeyPackageTBS, ...) from
 * `obj`; returns the writer's status. */
typedef slim_status (*slim_mls_tbs_fn)(slim_mls_tls_writer *w, const void *obj);

/* SignWithLabel(sk, label, TBS) where `tbs` writes the TBS from `obj`
 * straight into the SignContent (no intermediate copy). The signature is
 * appended to `sig` and *view set to it (a view into sig). */
slim_status slim_mls_sign_tbs(const slim_mls_suite *s, const slim_mls_sig_key *sk,
                              const char *label, slim_mls_tbs_fn tbs, const void *obj,
                              slim_buf *sig, slim_bytes *view);

/* VerifyWithLabel(pk, label, TBS, sig) with pk as bytes. E_MLS_BAD_KEY,
 * E_MLS_BAD_SIGNATURE. */
slim_status slim_mls_verify_tbs(const slim_mls_suite *s, slim_bytes pk, const char *label,
                                slim_mls_tbs_fn tbs, const void *obj, slim_bytes sig);

/* The same with a prepared verification key. */
slim_status slim_mls_verify_tbs_key(const slim_mls_suite *s, const slim_mls_sig_key *pk,
                                    const char *label, slim_mls_tbs_fn tbs, const void *obj,
                                    slim_bytes sig);

/* A fresh signature key pair: sk[0..sig_nsk), pk[0..sig_npk). */
slim_status slim_mls_signature_key_generate(const slim_mls_suite *s, const slim_mls_rng *rng,
                                            uint8_t *sk, uint8_t *pk);

/* pk[0..sig_npk) = the signature public key of sk. */
slim_status slim_mls_signature_public_key(const slim_mls_suite *s, slim_bytes sk, uint8_t *pk);

/* ---- public-key encryption ------------------------------------------ */

/*
 * struct {
 *   opaque label<V>;
 *   opaque context<V>;
 * } EncryptContext;
 *
 * EncryptWithLabel(pk, label, context, pt) = SealBase(pk, EncryptContext{
 * "MLS 1.0 " + label, context}, "", pt): appends the KEM output to
 * `kem_output` and the ciphertext to `ct`. Ephemeral randomness from rng.
 */
slim_status slim_mls_encrypt_with_label(const slim_mls_suite *s, slim_bytes pk, const char *label,
                                        slim_bytes context, slim_bytes pt, const slim_mls_rng *rng,
                                        slim_buf *kem_output, slim_buf *ct);

/* DecryptWithLabel(sk, label, context, kem_output, ct): appends the
 * plaintext to `pt`. E_MLS_AEAD_OPEN when it does not decrypt,
 * E_MLS_BAD_KEY for a malformed key or kem_output. */
slim_status slim_mls_decrypt_with_label(const slim_mls_suite *s, slim_bytes sk, const char *label,
                                        slim_bytes context, slim_bytes kem_output, slim_bytes ct,
                                        slim_buf *pt);

/* HPKE key pairs of the suite's KEM: DeriveKeyPair(secret) (§8.3, §7.4)
 * and GenerateKeyPair. sk[0..kem_nsk), pk[0..kem_npk). */
slim_status slim_mls_suite_derive_key_pair(const slim_mls_suite *s, slim_bytes secret, uint8_t *sk,
                                           uint8_t *pk);
slim_status slim_mls_suite_generate_key_pair(const slim_mls_suite *s, const slim_mls_rng *rng,
                                             uint8_t *sk, uint8_t *pk);

/* ---- AEAD ----------------------------------------------------------- */

/* The suite's AEAD: appends ciphertext||tag (seal) or the plaintext (open).
 * key is Nk bytes and nonce Nn bytes (E_INVALID_ARG otherwise);
 * E_MLS_AEAD_OPEN when the tag does not verify. */
slim_status slim_mls_suite_seal(const slim_mls_suite *s, slim_bytes key, slim_bytes nonce,
                                slim_bytes aad, slim_bytes pt, slim_buf *ct);
slim_status slim_mls_suite_open(const slim_mls_suite *s, slim_bytes key, slim_bytes nonce,
                                slim_bytes aad, slim_bytes ct, slim_buf *pt);

/* Prepared primitives for the suite's hash and AEAD (free with
 * slim_mls_prepared_free), and the AEAD through them (p may be NULL). */
slim_status slim_mls_suite_prepare(const slim_mls_suite *s, slim_mls_prepared **out);
slim_status slim_mls_suite_seal_prepared(const slim_mls_suite *s, const slim_mls_prepared *p,
                                         slim_bytes key, slim_bytes nonce, slim_bytes aad,
                                         slim_bytes pt, slim_buf *ct);
slim_status slim_mls_suite_open_prepared(const slim_mls_suite *s, const slim_mls_prepared *p,
                                         slim_bytes key, slim_bytes nonce, slim_bytes aad,
                                         slim_bytes ct, slim_buf *pt);

#endif
