/*
 * Symmetric primitives for MLS and HPKE, each a thin wrapper over an
 * OpenSSL 3.0 EVP call: hash, HMAC, HKDF extract/expand (RFC 5869) and the
 * AEADs AES-128-GCM and ChaCha20-Poly1305 (RFC 5116 interface: ciphertext
 * with the tag appended). Nothing here is a hand-written primitive.
 *
 * Algorithms are named by small enums so the suite tables above can pick
 * them; sizes come from the functions below. Outputs go to caller buffers
 * of the stated size or are appended to a slim_buf. On failure nothing is
 * appended and partial output is wiped.
 *
 * Errors: E_MLS_CRYPTO when OpenSSL fails (its own allocation failures
 * included: OpenSSL does not allocate through slim_set_allocator),
 * E_MLS_AEAD_OPEN when a tag does not verify, E_MLS_KDF_LENGTH for an HKDF
 * output length out of range, E_INVALID_ARG for an unknown algorithm or a
 * key/nonce of the wrong size, E_TOO_LARGE for inputs beyond INT_MAX bytes,
 * E_NOMEM when growing an output buffer fails.
 *
 * Pure and thread-safe: no state besides the arguments.
 */
#ifndef SLIM_MLS_PRIMITIVES_H
#define SLIM_MLS_PRIMITIVES_H

#include "core/buf.h"
#include "slim/status.h"

/* Upper bounds over every algorithm below, for fixed-size buffers. */
#define SLIM_MLS_MAX_HASH       64
#define SLIM_MLS_MAX_AEAD_KEY   32
#define SLIM_MLS_MAX_AEAD_NONCE 12
#define SLIM_MLS_AEAD_TAG       16

typedef enum slim_mls_hash_alg {
    SLIM_MLS_HASH_SHA256 = 1,
} slim_mls_hash_alg;

/* HPKE AEAD ids (RFC 9180 §7.3). */
typedef enum slim_mls_aead_alg {
    SLIM_MLS_AEAD_AES128GCM = 0x0001,
    SLIM_MLS_AEAD_CHACHA20POLY1305 = 0x0003,
} slim_mls_aead_alg;

/* Output size of the hash (Nh), 0 for an unknown algorithm. */
size_t slim_mls_hash_size(slim_mls_hash_alg alg);

/* out[0..Nh) = Hash(data). */
slim_status slim_mls_hash(slim_mls_hash_alg alg, slim_bytes data, uint8_t *out);

/* out[0..Nh) = Hash(parts[0] || ... || parts[n-1]). */
slim_status slim_mls_hash_parts(slim_mls_hash_alg alg, const slim_bytes *parts, size_t n,
                                uint8_t *out);

/* out[0..Nh) = HMAC-Hash(key, data). */
slim_status slim_mls_hmac(slim_mls_hash_alg alg, slim_bytes key, slim_bytes data, uint8_t *out);

/* Computes HMAC(key, data) and compares it with `tag` in constant time.
 * E_MLS_BAD_MAC when they differ (or tag has the wrong length). */
slim_status slim_mls_hmac_verify(slim_mls_hash_alg alg, slim_bytes key, slim_bytes data,
                                 slim_bytes tag);

/* out[0..Nh) = HKDF-Extract(salt, ikm). An empty salt means Nh zeros. */
slim_status slim_mls_hkdf_extract(slim_mls_hash_alg alg, slim_bytes salt, slim_bytes ikm,
                                  uint8_t *out);

/* out[0..len) = HKDF-Expand(prk, info, len). E_MLS_KDF_LENGTH when len is
 * 0 or above 255*Nh. */
slim_status slim_mls_hkdf_expand(slim_mls_hash_alg alg, slim_bytes prk, slim_bytes info,
                                 uint8_t *out, size_t len);

/* Key size (Nk), nonce size (Nn), tag size (Nt); 0 for unknown. */
size_t slim_mls_aead_key_size(slim_mls_aead_alg alg);
size_t slim_mls_aead_nonce_size(slim_mls_aead_alg alg);
size_t slim_mls_aead_tag_size(slim_mls_aead_alg alg);

/* Appends Seal(key, nonce, aad, pt) = ciphertext || tag to `out`. */
slim_status slim_mls_aead_seal(slim_mls_aead_alg alg, slim_bytes key, slim_bytes nonce,
                               slim_bytes aad, slim_bytes pt, slim_buf *out);

/* Appends Open(key, nonce, aad, ct) to `out`. E_MLS_AEAD_OPEN when the tag
 * does not verify or ct is shorter than the tag (nothing appended). The
 * tag check is OpenSSL's, in constant time. */
slim_status slim_mls_aead_open(slim_mls_aead_alg alg, slim_bytes key, slim_bytes nonce,
                               slim_bytes aad, slim_bytes ct, slim_buf *out);

/* ---- prepared primitives -------------------------------------------- */

/*
 * OpenSSL 3 spends about as long fetching an algorithm and setting up its
 * context as on a short HMAC or an AES-GCM of a kilobyte. A
 * slim_mls_prepared holds what can be set up once for a hash and an AEAD:
 * an HMAC context with the hash chosen but no key, and the fetched cipher.
 * Each operation works on a fresh copy of the HMAC context (or a fresh
 * cipher context) that it frees, and OpenSSL wipes, before returning, so
 * no key outlives the call that used it (RFC 9420 §9.2 deletion holds).
 *
 * Owned by the caller (a secret tree owns one per epoch); read-only after
 * creation, used by one thread at a time. Not a cache of secrets.
 */
typedef struct slim_mls_prepared slim_mls_prepared;

/* E_INVALID_ARG for an unknown algorithm, E_MLS_CRYPTO, E_NOMEM. */
slim_status slim_mls_prepared_new(slim_mls_hash_alg hash, slim_mls_aead_alg aead,
                                  slim_mls_prepared **out);

/* NULL is a no-op. */
void slim_mls_prepared_free(slim_mls_prepared *p);

/* out[0..len) = HKDF-Expand(prk, info, len) (RFC 5869 §2.3), where info is
 * parts[0] || ... || parts[n-1]: T(i) = HMAC(prk, T(i-1) || info || i),
 * computed with OpenSSL's HMAC so the info needs no buffer of its own.
 * E_MLS_KDF_LENGTH when len is 0 or above 255*Nh. */
slim_status slim_mls_prepared_hkdf_expand(const slim_mls_prepared *p, slim_bytes prk,
                                          const slim_bytes *parts, size_t n, uint8_t *out,
                                          size_t len);

/* One output of slim_mls_prepared_hkdf_expand_many: info in n parts. */
typedef struct slim_mls_expand_out {
    const slim_bytes *parts;
    size_t n;
    uint8_t *out;
    size_t len;
} slim_mls_expand_out;

/* Several HKDF-Expand outputs under one prk (e.g. a ratchet's key, nonce
 * and next secret): the HMAC key is set up once for all of them. On
 * failure every output is wiped. */
slim_status slim_mls_prepared_hkdf_expand_many(const slim_mls_prepared *p, slim_bytes prk,
                                               const slim_mls_expand_out *outs, size_t n_outs);

/* The AEAD of slim_mls_aead_seal / _open with the prepared cipher. */
slim_status slim_mls_prepared_seal(const slim_mls_prepared *p, slim_bytes key, slim_bytes nonce,
                                   slim_bytes aad, slim_bytes pt, slim_buf *out);
slim_status slim_mls_prepared_open(const slim_mls_prepared *p, slim_bytes key, slim_bytes nonce,
                                   slim_bytes aad, slim_bytes ct, slim_buf *out);

#endif
