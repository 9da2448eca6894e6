/*
 * Asymmetric primitives for MLS and HPKE on OpenSSL 3.0 EVP_PKEY: the
 * Diffie-Hellman groups of the DHKEMs (X25519, P-256) and the signature
 * schemes of the MLS suites (Ed25519, ECDSA P-256 with SHA-256).
 *
 * Keys cross this interface as bytes in the encodings MLS and HPKE use:
 *   X25519   private: 32 raw bytes (clamped inside X25519, not here)
 *            public:  32 raw bytes
 *   P-256    private: 32-byte big-endian scalar in [1, n-1]
 *            public:  65-byte uncompressed point 0x04 || X || Y
 *   Ed25519  private: the 32-byte seed; public: 32 bytes (RFC 8032)
 * ECDSA signatures are DER-encoded (RFC 9420 §5.1.2 via RFC 8446);
 * Ed25519 signatures are the 64-byte R || S.
 *
 * Errors: E_MLS_BAD_KEY for a key of the wrong length or not on the curve
 * or out of range, E_MLS_DH_ZERO for an all-zero X25519 result,
 * E_MLS_BAD_SIGNATURE when a signature does not verify, E_MLS_CRYPTO when
 * OpenSSL fails, E_INVALID_ARG for an unknown group or scheme, E_NOMEM.
 *
 * Randomness: slim_mls_sig_generate draws from the injected RNG. ECDSA
 * signing draws its per-signature nonce inside OpenSSL (OpenSSL 3.0 takes
 * no nonce from the caller); Ed25519 signing is deterministic.
 *
 * Pure and thread-safe. Private key bytes that pass through OpenSSL live
 * in objects freed with their clear-free functions.
 *
 * Operation counts. Each thread counts the public-key operations it runs
 * here (slim_mls_pkey_counts_get), so benchmarks can report them beside
 * their times. This thread-local tally is the module's one piece of
 * mutable state besides its arguments: it is only ever read by the
 * caller and never changes what a function computes.
 */
#ifndef SLIM_MLS_PKEY_H
#define SLIM_MLS_PKEY_H

#include "core/buf.h"
#include "mls/rng.h"
#include "slim/status.h"

#define SLIM_MLS_MAX_DH_PRIVATE  32
#define SLIM_MLS_MAX_DH_PUBLIC   65
#define SLIM_MLS_MAX_DH_SECRET   32
#define SLIM_MLS_MAX_SIG_PUBLIC  65
#define SLIM_MLS_MAX_SIG_PRIVATE 32
#define SLIM_MLS_MAX_SIGNATURE   72

typedef enum slim_mls_dh_group {
    SLIM_MLS_DH_X25519 = 1,
    SLIM_MLS_DH_P256 = 2,
} slim_mls_dh_group;

/* TLS SignatureScheme code points. */
typedef enum slim_mls_sig_scheme {
    SLIM_MLS_SIG_ECDSA_P256_SHA256 = 0x0403,
    SLIM_MLS_SIG_ED25519 = 0x0807,
} slim_mls_sig_scheme;

/* Sizes of private keys, public keys and DH outputs (Ndh); 0 if unknown. */
size_t slim_mls_dh_private_size(slim_mls_dh_group g);
size_t slim_mls_dh_public_size(slim_mls_dh_group g);
size_t slim_mls_dh_secret_size(slim_mls_dh_group g);

/* SLIM_OK when sk is a valid private key of the group (for P-256: a
 * scalar in [1, n-1]), E_MLS_BAD_KEY otherwise. */
slim_status slim_mls_dh_check_private(slim_mls_dh_group g, slim_bytes sk);

/* pk[0..public_size) = the public key of sk. */
slim_status slim_mls_dh_public(slim_mls_dh_group g, slim_bytes sk, uint8_t *pk);

/* out[0..secret_size) = DH(sk, pk): the X25519 output, or the x-coordinate
 * of the P-256 product. The peer key is validated (on the curve, not the
 * identity); E_MLS_DH_ZERO for an all-zero X25519 result. */
slim_status slim_mls_dh(slim_mls_dh_group g, slim_bytes sk, slim_bytes pk, uint8_t *out);

/* Sizes of private keys, public keys, and the longest signature. */
size_t slim_mls_sig_private_size(slim_mls_sig_scheme s);
size_t slim_mls_sig_public_size(slim_mls_sig_scheme s);
size_t slim_mls_sig_max_size(slim_mls_sig_scheme s);

/* pk[0..public_size) = the public key of sk. */
slim_status slim_mls_sig_public(slim_mls_sig_scheme s, slim_bytes sk, uint8_t *pk);

/* A fresh key pair from `rng`: sk[0..private_size), pk[0..public_size).
 * E_MLS_RNG when the generator fails. */
slim_status slim_mls_sig_generate(slim_mls_sig_scheme s, const slim_mls_rng *rng, uint8_t *sk,
                                  uint8_t *pk);

/* Appends the signature of msg under sk to `sig`. */
slim_status slim_mls_sig_sign(slim_mls_sig_scheme s, slim_bytes sk, slim_bytes msg, slim_buf *sig);

/* SLIM_OK when sig is a valid signature of msg under pk; E_MLS_BAD_SIGNATURE
 * when not (including a malformed signature), E_MLS_BAD_KEY for a public
 * key that does not decode. */
slim_status slim_mls_sig_verify(slim_mls_sig_scheme s, slim_bytes pk, slim_bytes msg,
                                slim_bytes sig);

/* A signature key prepared once for many signatures or verifications
 * (the per-call functions above import the key into OpenSSL each time).
 * Opaque; owned by the caller; read-only once made, so several threads may
 * use it at once. */
typedef struct slim_mls_sig_key slim_mls_sig_key;

/* A signing key from private key bytes (is_private) or a verification key
 * from public key bytes. E_MLS_BAD_KEY, E_INVALID_ARG, E_NOMEM. */
slim_status slim_mls_sig_key_new(slim_mls_sig_scheme s, slim_bytes key, bool is_private,
                                 slim_mls_sig_key **out);

/* Frees the key (OpenSSL wipes private material). NULL is a no-op. */
void slim_mls_sig_key_free(slim_mls_sig_key *k);

slim_mls_sig_scheme slim_mls_sig_key_scheme(const slim_mls_sig_key *k);

/* As slim_mls_sig_sign / slim_mls_sig_verify with a prepared key.
 * E_INVALID_ARG when signing with a verification key or verifying with a
 * signing key. */
slim_status slim_mls_sig_key_sign(const slim_mls_sig_key *k, slim_bytes msg, slim_buf *sig);
slim_status slim_mls_sig_key_verify(const slim_mls_sig_key *k, slim_bytes msg, slim_bytes sig);

/* Public-key operations run by the calling thread since it started or
 * last reset its counts. Every call is counted, failed ones included. */
typedef struct slim_mls_pkey_counts {
    uint64_t dh;         /* Diffie-Hellman: slim_mls_dh */
    uint64_t derive_pub; /* public key from a private key (a fixed-base scalar
                          * multiplication): slim_mls_dh_public,
                          * slim_mls_sig_public, key generation and
                          * HPKE DeriveKeyPair */
    uint64_t sign;       /* signatures made */
    uint64_t verify;     /* signatures verified */
} slim_mls_pkey_counts;

/* *out = this thread's counts. */
void slim_mls_pkey_counts_get(slim_mls_pkey_counts *out);

/* Sets this thread's counts to zero. */
void slim_mls_pkey_counts_reset(void);

/* The sum of the four counts. */
uint64_t slim_mls_pkey_counts_total(const slim_mls_pkey_counts *c);

#endif
