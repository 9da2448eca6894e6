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

#endif
