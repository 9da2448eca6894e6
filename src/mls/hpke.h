/*
 * HPKE, RFC 9180, written on the OpenSSL primitives of primitives.h and
 * pkey.h (OpenSSL 3.0 has no HPKE of its own).
 *
 * Supported: KEMs DHKEM(X25519, HKDF-SHA256) (0x0020) and DHKEM(P-256,
 * HKDF-SHA256) (0x0010), KDF HKDF-SHA256 (0x0001), AEADs AES-128-GCM
 * (0x0001), ChaCha20-Poly1305 (0x0003) and export-only (0xFFFF); modes
 * base, psk, auth and auth_psk.
 *
 * Key encodings are those of RFC 9180 §7.1 (see pkey.h). Private keys from
 * DeriveKeyPair are returned as the KEM produces them (X25519 keys are not
 * clamped here; X25519 clamps when it uses them).
 *
 * The sender's ephemeral key pair is DeriveKeyPair(ikm_e). The caller may
 * give ikm_e (test vectors do, to reproduce `enc`); otherwise ikm_e is Nsk
 * bytes from the injected RNG, which is a valid GenerateKeyPair.
 *
 * A context (slim_mls_hpke_ctx) is a plain value the caller owns: set up by
 * one of the setup functions, wiped by slim_mls_hpke_ctx_cleanup. It holds
 * the AEAD key, base nonce, sequence number and exporter secret. Not
 * thread-safe per context; no global state.
 */
#ifndef SLIM_MLS_HPKE_H
#define SLIM_MLS_HPKE_H

#include "core/buf.h"
#include "mls/pkey.h"
#include "mls/primitives.h"
#include "mls/rng.h"
#include "slim/status.h"

/* RFC 9180 §7 identifiers. */
#define SLIM_MLS_HPKE_KEM_P256_SHA256   0x0010
#define SLIM_MLS_HPKE_KEM_X25519_SHA256 0x0020
#define SLIM_MLS_HPKE_KDF_HKDF_SHA256   0x0001
#define SLIM_MLS_HPKE_AEAD_AES128GCM    0x0001
#define SLIM_MLS_HPKE_AEAD_CHACHA20     0x0003
#define SLIM_MLS_HPKE_AEAD_EXPORT_ONLY  0xFFFF

#define SLIM_MLS_HPKE_MAX_ENC    SLIM_MLS_MAX_DH_PUBLIC
#define SLIM_MLS_HPKE_MAX_SECRET 32

typedef enum slim_mls_hpke_mode {
    SLIM_MLS_HPKE_MODE_BASE = 0,
    SLIM_MLS_HPKE_MODE_PSK = 1,
    SLIM_MLS_HPKE_MODE_AUTH = 2,
    SLIM_MLS_HPKE_MODE_AUTH_PSK = 3,
} slim_mls_hpke_mode;

typedef struct slim_mls_hpke_suite {
    uint16_t kem_id;
    uint16_t kdf_id;
    uint16_t aead_id;
} slim_mls_hpke_suite;

/* SLIM_OK when all three ids are supported, E_MLS_HPKE_UNSUPPORTED if not. */
slim_status slim_mls_hpke_suite_check(slim_mls_hpke_suite suite);

/* KEM sizes (RFC 9180 §7.1): shared secret, enc, public key, private key.
 * 0 for an unsupported KEM. */
size_t slim_mls_hpke_kem_nsecret(uint16_t kem_id);
size_t slim_mls_hpke_kem_nenc(uint16_t kem_id);
size_t slim_mls_hpke_kem_npk(uint16_t kem_id);
size_t slim_mls_hpke_kem_nsk(uint16_t kem_id);

/* DeriveKeyPair(ikm) (RFC 9180 §7.1.3): sk[0..Nsk), pk[0..Npk).
 * E_MLS_HPKE_DERIVE_KEY_PAIR when P-256 finds no scalar in 256 tries. */
slim_status slim_mls_hpke_derive_key_pair(uint16_t kem_id, slim_bytes ikm, uint8_t *sk,
                                          uint8_t *pk);

/* GenerateKeyPair(): DeriveKeyPair of Nsk bytes from rng. */
slim_status slim_mls_hpke_generate_key_pair(uint16_t kem_id, const slim_mls_rng *rng, uint8_t *sk,
                                            uint8_t *pk);

/* pk[0..Npk) = the public key of sk. E_MLS_BAD_KEY. */
slim_status slim_mls_hpke_public_key(uint16_t kem_id, slim_bytes sk, uint8_t *pk);

/* Encap / AuthEncap (RFC 9180 §4.1): shared_secret[0..Nsecret) and
 * enc[0..Nenc) for recipient key pk_r. sk_s non-empty selects AuthEncap.
 * The ephemeral key is DeriveKeyPair(ikm_e), ikm_e from rng when empty. */
slim_status slim_mls_hpke_encap(uint16_t kem_id, slim_bytes pk_r, slim_bytes sk_s, slim_bytes ikm_e,
                                const slim_mls_rng *rng, uint8_t *shared_secret, uint8_t *enc);

/* Decap / AuthDecap: shared_secret[0..Nsecret). pk_s non-empty selects
 * AuthDecap. E_MLS_BAD_KEY for an enc that is not a valid public key. */
slim_status slim_mls_hpke_decap(uint16_t kem_id, slim_bytes enc, slim_bytes sk_r, slim_bytes pk_s,
                                uint8_t *shared_secret);

typedef struct slim_mls_hpke_ctx {
    slim_mls_hpke_suite suite;
    bool sender;
    size_t nk, nn, nh;
    uint8_t key[SLIM_MLS_MAX_AEAD_KEY];
    uint8_t base_nonce[SLIM_MLS_MAX_AEAD_NONCE];
    uint8_t exporter_secret[SLIM_MLS_MAX_HASH];
    uint64_t seq;
} slim_mls_hpke_ctx;

/* Wipes a context. Safe on a zeroed or cleaned-up context. */
void slim_mls_hpke_ctx_cleanup(slim_mls_hpke_ctx *ctx);

/* KeySchedule<ROLE> (RFC 9180 §5.1) from a KEM shared secret. psk and
 * psk_id must both be empty (base, auth) or both set (psk, auth_psk):
 * E_MLS_HPKE_PSK_INPUTS otherwise. */
slim_status slim_mls_hpke_key_schedule(slim_mls_hpke_suite suite, bool sender,
                                       slim_mls_hpke_mode mode, slim_bytes shared_secret,
                                       slim_bytes info, slim_bytes psk, slim_bytes psk_id,
                                       slim_mls_hpke_ctx *ctx);

/* Inputs of a setup beyond the keys. Unused fields stay empty. */
typedef struct slim_mls_hpke_setup {
    slim_mls_hpke_mode mode;
    slim_bytes info;
    slim_bytes psk, psk_id; /* psk and auth_psk modes */
    slim_bytes sk_s;        /* sender, auth modes: the sender's private key */
    slim_bytes pk_s;        /* recipient, auth modes: the sender's public key */
    slim_bytes ikm_e;       /* sender: ephemeral IKM; empty means from rng */
    const slim_mls_rng *rng;
} slim_mls_hpke_setup;

/* SetupBaseS / SetupPSKS / SetupAuthS / SetupAuthPSKS: writes
 * enc[0..Nenc) and a sender context. E_MLS_HPKE_UNSUPPORTED,
 * E_MLS_HPKE_PSK_INPUTS, E_MLS_HPKE_AUTH_INPUTS (sk_s missing in an auth
 * mode or given in another), E_MLS_BAD_KEY, E_MLS_DH_ZERO, E_MLS_RNG. */
slim_status slim_mls_hpke_setup_sender(slim_mls_hpke_suite suite, slim_bytes pk_r,
                                       const slim_mls_hpke_setup *in, uint8_t *enc,
                                       slim_mls_hpke_ctx *ctx);

/* SetupBaseR / SetupPSKR / SetupAuthR / SetupAuthPSKR: a recipient
 * context. Errors as for the sender (pk_s instead of sk_s). */
slim_status slim_mls_hpke_setup_receiver(slim_mls_hpke_suite suite, slim_bytes enc, slim_bytes sk_r,
                                         const slim_mls_hpke_setup *in, slim_mls_hpke_ctx *ctx);

/* ContextS.Seal: appends the ciphertext to `ct` and advances the sequence
 * number. E_MLS_HPKE_WRONG_ROLE on a recipient context,
 * E_MLS_HPKE_EXPORT_ONLY, E_MLS_HPKE_MESSAGE_LIMIT. */
slim_status slim_mls_hpke_seal(slim_mls_hpke_ctx *ctx, slim_bytes aad, slim_bytes pt, slim_buf *ct);

/* ContextR.Open: appends the plaintext to `pt` and advances the sequence
 * number; on E_MLS_AEAD_OPEN the sequence number stays. */
slim_status slim_mls_hpke_open(slim_mls_hpke_ctx *ctx, slim_bytes aad, slim_bytes ct, slim_buf *pt);

/* Context.Export: out[0..len) = LabeledExpand(exporter_secret, "sec",
 * exporter_context, len). E_MLS_KDF_LENGTH for len 0 or above 255*Nh. */
slim_status slim_mls_hpke_export(const slim_mls_hpke_ctx *ctx, slim_bytes exporter_context,
                                 uint8_t *out, size_t len);

/* Single-shot SealBase (RFC 9180 §6.1): appends enc to `enc` and the
 * ciphertext to `ct`. Ephemeral randomness from rng. */
slim_status slim_mls_hpke_seal_base(slim_mls_hpke_suite suite, slim_bytes pk_r, slim_bytes info,
                                    slim_bytes aad, slim_bytes pt, const slim_mls_rng *rng,
                                    slim_buf *enc, slim_buf *ct);

/* Single-shot OpenBase: appends the plaintext to `pt`. */
slim_status slim_mls_hpke_open_base(slim_mls_hpke_suite suite, slim_bytes enc, slim_bytes sk_r,
                                    slim_bytes info, slim_bytes aad, slim_bytes ct, slim_buf *pt);

#endif
