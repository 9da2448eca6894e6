/*
 * Shared-secret identity for the session layer: the token every outgoing
 * session message carries in its header `identity`, the app id derived
 * from it, the signing key whose signature (e2e_header_sig) protects the
 * header of command messages, and the verifier that checks all three on
 * the way in. Wire-compatible with upstream SLIM's SharedSecret provider
 * and verifier (crates/auth shared_secret.rs, utils.rs, identity_claims.rs
 * at commit cece03f79); docs/identity.md describes the formats.
 *
 * A token is the text
 *
 *   <id>:<unix seconds>:<nonce>:<claims>:<mac>
 *
 * with id = "<configured id>_<8 random letters or digits>", nonce = 12
 * random bytes and claims = the JSON {"pubkey":"<base64 of the public
 * key>"}, both in unpadded URL-safe base64, and mac = the unpadded
 * URL-safe base64 of HMAC-SHA256(secret, everything before the last ':').
 * The key (P-256, or Ed25519: the signature scheme of the app's MLS
 * cipher suite) signs the header of command messages and is the app's
 * MLS signature key; the token is its MLS credential.
 * The secret itself never travels. A token is valid from 5 s before its
 * timestamp (clock skew) to 3600 s after it (validity), ends included.
 *
 * Pure: no I/O, clock, thread or lock. Time comes in as `unix_s`, wall
 * clock seconds since the Unix epoch (tokens carry wall-clock time, so a
 * monotonic clock will not do). Randomness comes from the slim_mls_rng of
 * the config. Each object is used by one thread at a time; the free
 * functions without an object are thread-safe.
 *
 * Memory: objects allocate through the libslim allocator, except what
 * OpenSSL (keys, HMAC) and jansson (claims JSON) allocate inside
 * themselves. Secrets (the shared secret, the private key) are wiped when
 * the object is freed.
 */
#ifndef SLIM_SESSION_IDENTITY_H
#define SLIM_SESSION_IDENTITY_H

#include "core/buf.h"
#include "mls/pkey.h"
#include "mls/rng.h"
#include "slim/name.h"
#include "slim/status.h"
#include "wire/wire.h"

/* Upstream's defaults. */
#define SLIM_IDENTITY_VALIDITY_S   3600 /* a token's lifetime after its timestamp */
#define SLIM_IDENTITY_CLOCK_SKEW_S 5    /* how far ahead of now a timestamp may be */
#define SLIM_IDENTITY_MIN_SECRET   32   /* shorter secrets work but are weak */
#define SLIM_IDENTITY_CACHE_MAX    1024 /* default verified-token cache size */
/* Tokens longer than this are verified every time, never cached (ours are
 * about 200 bytes). Bounds the cache at cache_max * (this + ~120) bytes. */
#define SLIM_IDENTITY_CACHE_TOKEN_MAX 2048
/* Length of the random suffix of a provider id, "<base_id>_<suffix>". */
#define SLIM_IDENTITY_SUFFIX_LEN 8
/* Longest public key and ECDSA P-256 DER signature. */
#define SLIM_IDENTITY_MAX_PUBKEY    65
#define SLIM_IDENTITY_MAX_SIGNATURE 72

typedef struct slim_identity_params {
    /* Token lifetime in seconds; 0 = SLIM_IDENTITY_VALIDITY_S. Provider
     * and verifier must agree: the verifier refuses older tokens, the
     * provider renews its token after half of it. */
    uint32_t validity_s;
    /* Verifier: tolerated clock skew in seconds; 0 = SLIM_IDENTITY_CLOCK_SKEW_S. */
    uint32_t clock_skew_s;
    /* Verifier: how many verified tokens to remember; 0 =
     * SLIM_IDENTITY_CACHE_MAX. */
    uint32_t cache_max;
    /* Randomness: the provider's id suffix, nonces and signing key, the
     * verifier's cache hash seed. NULL = OpenSSL's (slim_mls_rng_default).
     * Borrowed for the object's life. */
    const slim_mls_rng *rng;
    /* Provider: the scheme of its signing key, that of the app's MLS
     * cipher suite: SLIM_MLS_SIG_ECDSA_P256_SHA256 (suite 2) or
     * SLIM_MLS_SIG_ED25519 (suite 1); 0 = P-256. */
    slim_mls_sig_scheme sig_scheme;
} slim_identity_params;

/* True when the secret is shorter than SLIM_IDENTITY_MIN_SECRET bytes.
 * Upstream refuses such secrets; we accept them (its earlier examples use
 * "secret") and the caller should log a warning. */
bool slim_identity_secret_is_weak(slim_str secret);

/* The app id of a provider id (spec §2.4): XXH3-128 (seed 0) of its bytes,
 * hi = the upper 64 bits (NameId id_0); a value in the reserved top 51
 * (>= 2^128 - 51) is reduced modulo 2^128 - 51, as upstream does. */
slim_id slim_identity_app_id_of(slim_str provider_id);

/* The reduction step of slim_identity_app_id_of alone (for tests: no
 * known input hashes into the reserved range). */
slim_id slim_identity_app_id_reduce(slim_id hash);

/* ---- Provider: this app's identity ---------------------------------- */

typedef struct slim_identity slim_identity;

/* Makes an identity for the configured id `base_id` and the shared
 * secret (both copied; cfg may be NULL for the defaults): a random id
 * "<base_id>_<8 alphanumerics>", a fresh signing key of cfg->sig_scheme.
 * The caller should warn when slim_identity_secret_is_weak(secret).
 * E_IDENTITY_BAD_ID (empty, not UTF-8, or holding ':' or white space, as
 * upstream refuses; also a NUL, which a protobuf-c string cannot carry),
 * E_IDENTITY_NO_SECRET (empty secret), E_INVALID_ARG (another scheme),
 * E_MLS_RNG, E_MLS_CRYPTO, E_NOMEM. */
slim_status slim_identity_new(slim_str base_id, slim_str secret, const slim_identity_params *cfg,
                              slim_identity **out);

/* Makes again the identity an app had before a restart, from what it
 * saved: full_id, the id slim_identity_id returned ("<base_id>_<8
 * alphanumerics>"), and signing_key, the bytes slim_identity_private_key
 * returned (32: the P-256 scalar or the Ed25519 seed, of cfg->sig_scheme).
 * The secret (copied) is given again, not saved. The public key, app id
 * and claims are computed as slim_identity_new computes them; tokens are
 * made afresh. E_IDENTITY_BAD_ID (full_id not of that shape, or its base
 * refused as slim_identity_new refuses it), E_IDENTITY_NO_SECRET,
 * E_MLS_BAD_KEY (a key of another length, or not a key of the scheme: a
 * P-256 scalar of 0 or not below the group order), E_INVALID_ARG (another
 * scheme), E_MLS_CRYPTO, E_NOMEM. */
slim_status slim_identity_restore(slim_str full_id, slim_str secret, slim_bytes signing_key,
                                  const slim_identity_params *cfg, slim_identity **out);

/* Wipes the secret and the private key and frees. NULL is a no-op. */
void slim_identity_free(slim_identity *id);

/* The provider id, "<base_id>_<suffix>" (NUL-terminated), and the app id
 * derived from it (slim_identity_app_id_of). Borrowed for id's life. */
slim_str slim_identity_id(const slim_identity *id);
slim_id slim_identity_app_id(const slim_identity *id);

/* The public key that tokens carry, in the encoding of the MLS suite's
 * signature scheme: P-256, the 65-byte uncompressed point 0x04 || X || Y;
 * Ed25519, the 32 raw bytes. The private key as MLS takes it (sig_nsk,
 * src/mls/pkey.h): the 32-byte big-endian P-256 scalar, or the 32-byte
 * Ed25519 seed (secret: for building the MLS signing identity only). Both
 * borrowed for id's life. */
slim_bytes slim_identity_public_key(const slim_identity *id);
slim_bytes slim_identity_private_key(const slim_identity *id);

/* The token to send at unix_s: the current one while it is younger than
 * half the validity (same text, so peers find it in their caches), else a
 * new one (fresh timestamp and nonce; also when the clock went back past
 * the current token's timestamp). *token is NUL-terminated and borrowed
 * until the next call on id. E_MLS_RNG, E_MLS_CRYPTO, E_NOMEM (the old
 * token is kept). */
slim_status slim_identity_token(slim_identity *id, uint64_t unix_s, slim_str *token);

/* Appends the signature of msg made with id's key: ECDSA P-256 SHA-256,
 * DER-encoded, or Ed25519, the 64-byte R || S. E_MLS_CRYPTO, E_NOMEM. */
slim_status slim_identity_sign(const slim_identity *id, slim_bytes msg, slim_buf *sig);

/* Readies m to be sent at unix_s: sets its header identity to
 * slim_identity_token(), and, when m is a Publish of a command message
 * (session message type 5-20), sets e2e_header_sig to the signature of
 * its header AAD (slim_wire_header_aad), computed after the identity is
 * set. Other messages keep whatever e2e_header_sig they have.
 * E_INVALID_ARG, E_WIRE_MISSING_FIELD (no header; a command without
 * names or session header), token and signing errors. On error m may
 * hold the new identity without a signature: do not send it. */
slim_status slim_identity_stamp(slim_identity *id, slim_msg *m, uint64_t unix_s);

/* ---- Verifier ------------------------------------------------------- */

typedef struct slim_identity_verifier slim_identity_verifier;

/* A verifier for tokens made with `secret` (copied). cfg may be NULL.
 * E_IDENTITY_NO_SECRET, E_MLS_RNG (cache seed), E_NOMEM. */
slim_status slim_identity_verifier_new(slim_str secret, const slim_identity_params *cfg,
                                       slim_identity_verifier **out);

/* Wipes the secret and frees. NULL is a no-op. */
void slim_identity_verifier_free(slim_identity_verifier *v);

/* What a verified token says (views into the token passed in). */
typedef struct slim_identity_claims {
    slim_str subject;    /* the id field: the sender's provider id */
    uint64_t issued_at;  /* its timestamp */
    uint64_t expires_at; /* issued_at + validity */
} slim_identity_claims;

/* Checks a token at unix_s as upstream's verifier does, in this order:
 * shape (five ':'-separated fields, no ':' in the claims, a decimal u64
 * timestamp with an optional '+'), time (E_IDENTITY_NOT_YET_VALID more
 * than the skew ahead, E_IDENTITY_EXPIRED older than the validity), MAC
 * (43 characters of unpadded URL-safe base64, else E_IDENTITY_MALFORMED or
 * E_IDENTITY_BAD_BASE64; compared in constant time, E_IDENTITY_BAD_MAC).
 * The id, nonce and claims are covered by the MAC but not interpreted
 * here. A token that verified is remembered (bounded cache, oldest
 * evicted first, see slim_identity_verifier_stats): checking it again
 * costs a lookup and the time check, not an HMAC. claims may be NULL.
 * E_IDENTITY_MALFORMED, E_IDENTITY_..., E_MLS_CRYPTO, E_NOMEM. */
slim_status slim_identity_verifier_check_token(slim_identity_verifier *v, slim_str token,
                                               uint64_t unix_s, slim_identity_claims *claims);

/* Verifies the token (as above), then reads the public key it carries:
 * the claims (unpadded URL-safe base64 of a JSON object; E_IDENTITY_
 * BAD_BASE64, E_IDENTITY_BAD_CLAIMS), its top-level "pubkey" string
 * (E_IDENTITY_NO_PUBKEY; upstream looks for it at the top level of its
 * claims and then under "custom_claims", which for a shared-secret token
 * is this object), padded standard base64 (E_IDENTITY_BAD_BASE64) of a
 * 32-byte Ed25519 key or a 33- or 65-byte P-256 point
 * (E_IDENTITY_BAD_PUBKEY). A compressed point comes back uncompressed.
 * The result is cached with the token. *pubkey is borrowed until the next
 * call on v. */
slim_status slim_identity_verifier_pubkey(slim_identity_verifier *v, slim_str token,
                                          uint64_t unix_s, slim_bytes *pubkey);

/* Checks a received message at unix_s as upstream's session layer does:
 * the header's identity token (slim_identity_verifier_check_token); then,
 * when need_sig and m is a Publish of a command message (types 5-20), its
 * e2e_header_sig (E_IDENTITY_NO_SIGNATURE when absent) against the header
 * AAD under the token's public key (slim_identity_verifier_pubkey,
 * slim_identity_verify_signature). Upstream checks signatures on
 * DISCOVERY_REQUESTs always and on everything else only in MLS sessions:
 * the caller decides with need_sig. E_INVALID_ARG, E_WIRE_MISSING_FIELD,
 * and the errors of the calls named. */
slim_status slim_identity_verifier_check_msg(slim_identity_verifier *v, const slim_msg *m,
                                             bool need_sig, uint64_t unix_s);

/* Checks a token as an MLS credential (a member's Basic credential,
 * docs/identity.md "MLS credentials") and reads the public key it
 * carries: as slim_identity_verifier_pubkey at unix_s when `fresh`;
 * otherwise at the token's own timestamp, so that its shape, MAC and
 * claims are checked but not its age (a leaf keeps its token past the
 * token's validity). A token with a NUL or not UTF-8 is
 * E_IDENTITY_MALFORMED. claims may be NULL; *pubkey is borrowed until the
 * next call on v. The errors of slim_identity_verifier_pubkey. */
slim_status slim_identity_verifier_credential(slim_identity_verifier *v, slim_str token, bool fresh,
                                              uint64_t unix_s, slim_identity_claims *claims,
                                              slim_bytes *pubkey);

/* True when a and b are the same public key: equal Ed25519 keys (32
 * bytes), or the same point on P-256, each compressed (33 bytes) or not
 * (65). False for anything else. */
bool slim_identity_same_key(slim_bytes a, slim_bytes b);

/* Counters of a verifier (for tests and metrics). */
typedef struct slim_identity_verifier_stats {
    uint64_t hmacs;         /* MACs computed (tokens not found in the cache) */
    uint64_t cache_hits;    /* checks answered from the cache */
    uint64_t cache_size;    /* tokens cached now (<= cache_max) */
    uint64_t evictions;     /* cached tokens dropped for room or expiry */
    uint64_t claims_parsed; /* pubkey claims decoded (once per cached token) */
    uint64_t signatures;    /* signatures verified */
} slim_identity_verifier_stats;

void slim_identity_verifier_stats_get(const slim_identity_verifier *v,
                                      slim_identity_verifier_stats *out);

/* Verifies a header signature as upstream does, the scheme chosen by the
 * key's length: 32 bytes -> Ed25519 (sig: the 64-byte R || S); 33
 * (compressed) or 65 (uncompressed) -> ECDSA P-256 with SHA-256 (sig:
 * DER). E_IDENTITY_BAD_PUBKEY (other length, or not a point on the
 * curve), E_IDENTITY_BAD_SIGNATURE (wrong or malformed signature),
 * E_MLS_CRYPTO, E_NOMEM. */
slim_status slim_identity_verify_signature(slim_bytes pubkey, slim_bytes msg, slim_bytes sig);

#endif
