/*
 * JWT identities for the session layer, as upstream SLIM's bindings offer
 * them (PyIdentityProvider.Jwt / .StaticJwt, PyIdentityVerifier.Jwt; the
 * auth crate's jwt.rs, builder.rs and resolver.rs): keys, token signing, a
 * provider that reuses its token, and a verifier with a cache of verified
 * tokens. docs/jwt.md describes the formats and the choices made here.
 *
 * Algorithms (RFC 7518 §3): HS256/384/512 (HMAC), RS256/384/512 (RSA
 * PKCS#1 v1.5), PS256/384/512 (RSA-PSS, MGF1 with the same hash, salt as
 * long as the hash), ES256/ES384 (ECDSA P-256/P-384, signature as the raw
 * R || S of RFC 7518 §3.4) and EdDSA (Ed25519, RFC 8037). Keys: PEM (an
 * HMAC "PEM" key is the secret's bytes, as upstream reads it), JWK or
 * JWKS (RFC 7517). RSA keys shorter than 2048 bits (RFC 7518 §3.3) or
 * longer than 8192 bits are refused, HMAC keys must not be empty.
 *
 * Tokens are JWS compact serializations (RFC 7515 §7.1) of a JSON claims
 * set (RFC 7519): header {"alg", "typ":"JWT", "kid" when known}, claims
 * iss, sub, aud (an array, as upstream writes it), exp, iat, nbf, the
 * caller's extra claims, and "pubkey": the standard padded base64 of the
 * provider's public key (P-256 or Ed25519, the signature scheme of the
 * app's MLS suite), which signs the header of command messages
 * (e2e_header_sig) and is the app's MLS signature key, as upstream's
 * SignerJwt puts it in every token at HEAD. Parsing is strict: exactly
 * three segments, unpadded base64url with zero unused bits, a JSON object
 * in header and claims (duplicate members refused), alg one of the twelve
 * above ("none" refused) and equal to the verifying key's (never trusted
 * on its own).
 *
 * Checks, in this order: shape, header, claims JSON, key choice, the
 * signature, then exp (required) and nbf and iat (when present) against
 * `now` with a leeway (SLIM_JWT_LEEWAY_S = 60 s, upstream's; the same for
 * all three: expired when now > exp + leeway, not yet valid when nbf or
 * iat > now + leeway), then iss, aud, sub. As upstream (jsonwebtoken's
 * Validation): a configured issuer or subject is compared when the token
 * has the claim and required only when require_iss / require_sub; a token
 * carrying a non-empty aud is refused unless the verifier has an audience
 * and one of the token's values is in it (RFC 7519 §4.1.3).
 *
 * Pure: no I/O, clock, thread or lock; time comes in as `unix_s`, wall
 * clock seconds. Files, HTTPS (autoresolve) and reloading live in
 * src/client/jwt_file.h and src/client/jwks_fetch.h. Each object is used
 * by one thread at a time; keys (slim_jwt_keys) are read-only once made
 * and may be shared by threads.
 *
 * Memory: objects allocate through the libslim allocator, except what
 * OpenSSL (keys, signatures) and jansson (JSON) allocate inside
 * themselves. Private keys and HMAC secrets are wiped when freed.
 *
 * How an app holds either kind of identity (the client's integration):
 * both providers and both verifiers have the same four calls with the
 * same meaning, so the app keeps a tagged union and dispatches:
 *
 *   typedef struct app_identity {
 *       enum { ID_SHARED_SECRET, ID_JWT } kind;
 *       union { slim_identity *shared; slim_jwt_provider *jwt; } p;
 *       union { slim_identity_verifier *shared; slim_jwt_verifier *jwt; } v;
 *       slim_jwks_fetcher *fetcher; (JWT autoresolve only, src/client)
 *   } app_identity;
 *
 *   stamp:  slim_identity_stamp(p.shared, m, now)
 *           slim_jwt_provider_stamp(p.jwt, m, now)     (signing and static)
 *   verify: slim_identity_verifier_check_msg(v.shared, m, need_sig, now)
 *           slim_jwt_verifier_check_msg(v.jwt, m, need_sig, now), or with
 *           autoresolve slim_jwks_check_msg(fetcher, v.jwt, m, need_sig,
 *           now), which fetches (blocking: run it off the loop thread, or
 *           on the loop and accept the stall once per issuer and hour)
 *   id:     slim_identity_id / slim_jwt_provider_id (the token's sub)
 *   app id: slim_identity_app_id / slim_jwt_provider_app_id
 *   MLS:    slim_identity_public_key/private_key, and the same for the
 *           JWT provider (empty for a static token: it cannot sign);
 *           others' credentials: slim_identity_verifier_credential /
 *           slim_jwt_verifier_credential
 *
 * A static token (StaticJwt) is a slim_jwt_provider too, made with
 * slim_jwt_provider_new_static; src/client/jwt_file.h reloads its file.
 */
#ifndef SLIM_SESSION_JWT_H
#define SLIM_SESSION_JWT_H

#include "core/buf.h"
#include "mls/pkey.h"
#include "mls/rng.h"
#include "slim/name.h"
#include "slim/status.h"
#include "wire/wire.h"

#define SLIM_JWT_DURATION_S  3600    /* upstream's default token lifetime */
#define SLIM_JWT_LEEWAY_S    60      /* upstream's (jsonwebtoken's) default leeway */
#define SLIM_JWT_CACHE_MAX   1024    /* default verified-token cache size */
#define SLIM_JWT_MAX_TOKEN   65536   /* longer tokens are refused (E_TOO_LARGE) */
#define SLIM_JWT_MAX_KEYTEXT 1048576 /* longer PEM/JWK/JWKS text is refused */
#define SLIM_JWT_MAX_KEYS    64      /* a JWKS with more keys is refused */
#define SLIM_JWT_MAX_ISSUERS 16      /* autoresolve: issuers whose keys are kept */

/* The algorithms of upstream's PyAlgorithm (0 = none chosen). */
typedef enum slim_jwt_alg {
    SLIM_JWT_HS256 = 1,
    SLIM_JWT_HS384,
    SLIM_JWT_HS512,
    SLIM_JWT_RS256,
    SLIM_JWT_RS384,
    SLIM_JWT_RS512,
    SLIM_JWT_PS256,
    SLIM_JWT_PS384,
    SLIM_JWT_PS512,
    SLIM_JWT_ES256,
    SLIM_JWT_ES384,
    SLIM_JWT_EDDSA,
} slim_jwt_alg;

#define SLIM_JWT_ALG_COUNT 12

/* The JOSE name ("HS256", ..., "EdDSA"); NULL for an unknown value. */
const char *slim_jwt_alg_name(slim_jwt_alg alg);

/* The algorithm of a JOSE name (exact, case-sensitive). E_JWT_BAD_ALG for
 * "none" and any other name. */
slim_status slim_jwt_alg_parse(slim_str name, slim_jwt_alg *out);

/* ---- Keys ----------------------------------------------------------- */

typedef enum slim_jwt_key_format {
    SLIM_JWT_KEY_PEM = 1,
    SLIM_JWT_KEY_JWK = 2,
    SLIM_JWT_KEY_JWKS = 3,
} slim_jwt_key_format;

/* One key or a set of keys (a JWKS), each with an algorithm (or none:
 * chosen by the token among those its type fits), a type and a kid. */
typedef struct slim_jwt_keys slim_jwt_keys;

/* Reads key text (copied; at most SLIM_JWT_MAX_KEYTEXT bytes):
 *
 *   PEM   HS*: the bytes are the secret. Others: for signing a private key
 *         (PKCS#8, or PKCS#1 / SEC1 "RSA/EC PRIVATE KEY"; encrypted keys
 *         refused); for verifying a public key (SPKI or PKCS#1), a
 *         certificate, or a private key (its public half is used). alg
 *         is required.
 *   JWK   one JSON object (kty oct, RSA, EC with crv P-256/P-384, OKP
 *         with crv Ed25519; private members d, and p, q, dp, dq, qi, for
 *         signing). Its "alg", when present, must equal alg when alg is
 *         given; with neither, the token's alg is accepted when it fits
 *         the key's type (for verifying; signing needs an alg).
 *   JWKS  {"keys": [JWK, ...]}: entries that cannot be used (unknown kty,
 *         crv or alg, "use" other than "sig", bad members) are skipped;
 *         alg, when given, is the algorithm of entries without one that
 *         fit it. For signing, the first usable private key is taken.
 *
 * A key whose type does not fit the algorithm is refused
 * (E_JWT_KEY_MISMATCH). E_JWT_BAD_KEY (unreadable, too short, not on the
 * curve, encrypted, public where private is needed), E_JWT_NO_KEY (a
 * JWKS with no usable key), E_TOO_LARGE, E_INVALID_ARG, E_NOMEM. */
slim_status slim_jwt_keys_parse(slim_jwt_alg alg, slim_jwt_key_format format, slim_bytes text,
                                bool for_signing, slim_jwt_keys **out);

/* Frees (private material wiped). NULL is a no-op. */
void slim_jwt_keys_free(slim_jwt_keys *k);

/* Number of keys; the algorithm (0 if none) and kid (empty if none) of
 * key i < count, borrowed for k's life. */
size_t slim_jwt_keys_count(const slim_jwt_keys *k);
slim_jwt_alg slim_jwt_keys_alg(const slim_jwt_keys *k, size_t i);
slim_str slim_jwt_keys_kid(const slim_jwt_keys *k, size_t i);

/* JWS primitives (RFC 7515 §5): appends to sig the signature of `input`
 * (the ASCII "header.payload") made with the first key of k under alg
 * (0 = the key's own); verifies sig over input under key i with alg.
 * E_JWT_BAD_SIGNATURE (wrong or malformed signature), E_JWT_KEY_MISMATCH,
 * E_JWT_BAD_KEY (signing with a public key), E_JWT_BAD_ALG, E_NOMEM,
 * E_MLS_CRYPTO (OpenSSL failed). */
slim_status slim_jwt_jws_sign(const slim_jwt_keys *k, slim_jwt_alg alg, slim_bytes input,
                              slim_buf *sig);
slim_status slim_jwt_jws_verify(const slim_jwt_keys *k, size_t i, slim_jwt_alg alg,
                                slim_bytes input, slim_bytes sig);

/* ---- Reading a token without verifying it -------------------------- */

/* What slim_jwt_peek reads: copies, NUL-terminated, empty when absent. */
typedef struct slim_jwt_peeked {
    slim_buf issuer, subject, kid;
    slim_jwt_alg alg;
    uint64_t expires_at; /* 0 when absent */
} slim_jwt_peeked;

/* Reads a token's header and claims WITHOUT checking its signature (for a
 * static token's id and expiry, and for which issuer to ask for keys).
 * out must be zeroed (or cleaned) first; release with
 * slim_jwt_peeked_cleanup. The shape and JSON errors of
 * slim_jwt_verifier_check_token, E_NOMEM. */
slim_status slim_jwt_peek(slim_str token, slim_jwt_peeked *out);
void slim_jwt_peeked_cleanup(slim_jwt_peeked *p);

/* ---- Provider ------------------------------------------------------- */

typedef struct slim_jwt_provider slim_jwt_provider;

typedef struct slim_jwt_provider_params {
    slim_str issuer;          /* "iss"; empty: none */
    const slim_str *audience; /* "aud", an array of these; none when 0 */
    size_t audience_len;      /* at most 64 */
    slim_str subject;         /* "sub"; also the provider id */
    uint32_t duration_s;      /* exp - iat; 0 = SLIM_JWT_DURATION_S */
    slim_str kid;             /* header kid; empty: the key's, else the subject (as upstream) */
    slim_str extra_claims;    /* a JSON object merged into the claims; empty: none */
    bool no_pubkey;           /* no signing key, no "pubkey" claim (commands go unsigned) */
    const slim_mls_rng *rng;  /* for the signing key; NULL = OpenSSL's. Borrowed. */
    /* The signing key's scheme, that of the app's MLS suite:
     * SLIM_MLS_SIG_ECDSA_P256_SHA256 (suite 2) or SLIM_MLS_SIG_ED25519
     * (suite 1); 0 = P-256. */
    slim_mls_sig_scheme sig_scheme;
    /* The command-signing key's private bytes, of sig_scheme (an app back
     * from saved state signs as before); empty: a fresh key pair. */
    slim_bytes signing_key;
} slim_jwt_provider_params;

/* A provider signing with `key` (takes ownership on success only; the
 * first key of the set, which must be private and have an algorithm).
 * Copies the params. A fresh key pair of sig_scheme signs command headers
 * (unless no_pubkey). E_INVALID_ARG (no key, extra claims not a JSON
 * object or naming iss/sub/aud/exp/nbf/iat/pubkey, a NUL in a string,
 * another scheme),
 * E_JWT_BAD_KEY (a public key), E_JWT_KEY_MISMATCH, E_MLS_RNG,
 * E_MLS_CRYPTO, E_NOMEM. */
slim_status slim_jwt_provider_new(slim_jwt_keys *key, const slim_jwt_provider_params *p,
                                  slim_jwt_provider **out);

/* A provider that hands out a given token (StaticJwt): ASCII white space
 * around it is dropped; it must read as a JWT (slim_jwt_peek), is not
 * verified, and is sent as it is. Its id is its "sub". It has no signing
 * key: command messages go without e2e_header_sig, as upstream's static
 * provider sends them. Errors of slim_jwt_peek, E_JWT_MALFORMED (empty). */
slim_status slim_jwt_provider_new_static(slim_str token, slim_jwt_provider **out);

/* Wipes keys and frees. NULL is a no-op. */
void slim_jwt_provider_free(slim_jwt_provider *p);

/* Replaces the signing key (a reloaded key file; ownership as in _new on
 * success) or the static token (as in _new_static); the next token is
 * new. The id and app id stay those of creation. E_INVALID_ARG for the
 * wrong kind of provider, and the errors of the constructors. */
slim_status slim_jwt_provider_set_key(slim_jwt_provider *p, slim_jwt_keys *key);
slim_status slim_jwt_provider_set_token(slim_jwt_provider *p, slim_str token);

/* The token to send at unix_s. A signing provider keeps its token while
 * less than half its duration has passed since its iat (peers find it in
 * their caches; no signature per message), and signs a new one after, or
 * when the clock went back before the iat. A static provider returns its
 * token. *token is borrowed until the next call on p. E_OVERFLOW (exp
 * beyond 2^63), signing errors, E_NOMEM (the old token is kept). */
slim_status slim_jwt_provider_token(slim_jwt_provider *p, uint64_t unix_s, slim_str *token);

/* The exp of the token last returned (0 before the first, or when a
 * static token has none). */
uint64_t slim_jwt_provider_expiry(const slim_jwt_provider *p);

/* The provider id (the subject; empty without one, and the app keeps the
 * NULL id then) and the app id derived from it (slim_identity_app_id_of).
 * Borrowed for p's life. */
slim_str slim_jwt_provider_id(const slim_jwt_provider *p);
slim_id slim_jwt_provider_app_id(const slim_jwt_provider *p);
bool slim_jwt_provider_has_id(const slim_jwt_provider *p);

/* The key pair whose public half the tokens carry ("pubkey"), encoded as
 * slim_identity_public_key / _private_key say: P-256, the 65-byte
 * uncompressed point and the 32-byte scalar; Ed25519, the 32-byte key and
 * the 32-byte seed (secret). Empty for a static provider (it has no
 * private key, so it cannot be an MLS member) or with no_pubkey. Borrowed
 * for p's life. */
slim_bytes slim_jwt_provider_public_key(const slim_jwt_provider *p);
slim_bytes slim_jwt_provider_private_key(const slim_jwt_provider *p);

/* As slim_identity_stamp: sets m's header identity to the token for
 * unix_s and, when m is a command Publish (types 5-20) and p has a key,
 * e2e_header_sig to the signature of its header AAD (ECDSA, DER; or
 * Ed25519).
 * E_INVALID_ARG, E_WIRE_MISSING_FIELD, and the errors above. */
slim_status slim_jwt_provider_stamp(slim_jwt_provider *p, slim_msg *m, uint64_t unix_s);

typedef struct slim_jwt_provider_stats {
    uint64_t tokens_signed; /* JWS signatures made (new tokens) */
    uint64_t tokens_reused; /* tokens handed out again */
} slim_jwt_provider_stats;

void slim_jwt_provider_stats_get(const slim_jwt_provider *p, slim_jwt_provider_stats *out);

/* ---- Verifier ------------------------------------------------------- */

typedef struct slim_jwt_verifier slim_jwt_verifier;

typedef struct slim_jwt_verifier_params {
    slim_str issuer;                            /* expected "iss"; empty: any */
    const slim_str *audience;                   /* this verifier's audience values; none when 0 */
    size_t audience_len;                        /* at most 64 */
    slim_str subject;                           /* expected "sub"; empty: any */
    bool require_iss, require_aud, require_sub; /* the claim must be present */
    uint32_t leeway_s;                          /* 0 = SLIM_JWT_LEEWAY_S */
    bool no_leeway;                             /* leeway 0 (tests) */
    uint32_t cache_max; /* verified tokens remembered; 0 = SLIM_JWT_CACHE_MAX */
    bool autoresolve;   /* keys per issuer, from slim_jwt_verifier_set_issuer_keys */
} slim_jwt_verifier_params;

/* A verifier with `keys` (takes ownership on success only) or, with
 * autoresolve, none (keys = NULL). Copies the params. E_INVALID_ARG (keys
 * and autoresolve both or neither, a NUL in a string), E_NOMEM. */
slim_status slim_jwt_verifier_new(slim_jwt_keys *keys, const slim_jwt_verifier_params *p,
                                  slim_jwt_verifier **out);

void slim_jwt_verifier_free(slim_jwt_verifier *v);

/* Replaces the keys (a reloaded key file; ownership taken on success).
 * Empties the cache: a cached token is one that verifies under the
 * current keys. E_INVALID_ARG with autoresolve. */
slim_status slim_jwt_verifier_set_keys(slim_jwt_verifier *v, slim_jwt_keys *keys);

/* Autoresolve: the keys of `issuer` (the JWKS fetched from it), used for
 * its tokens until unix_s valid_until; then E_JWT_KEYS_NEEDED asks for
 * them again. Replaces the issuer's previous keys (the oldest issuer is
 * dropped beyond SLIM_JWT_MAX_ISSUERS) and empties the cache. Ownership of
 * keys taken on success. E_INVALID_ARG without autoresolve, E_NOMEM. */
slim_status slim_jwt_verifier_set_issuer_keys(slim_jwt_verifier *v, slim_str issuer,
                                              slim_jwt_keys *keys, uint64_t valid_until);

/* What a verified token says. Strings are borrowed until the next call on
 * the verifier; empty when absent; 0 for absent times. */
typedef struct slim_jwt_claims {
    slim_str issuer, subject;
    uint64_t expires_at, issued_at, not_before;
} slim_jwt_claims;

/* Checks a token at unix_s (see the top of this file for the order).
 * Tokens that pass are remembered (bounded, oldest dropped first, each
 * until it expires): checking one again costs a SHA-256 and a lookup, no
 * signature. claims may be NULL. E_TOO_LARGE, E_JWT_MALFORMED,
 * E_JWT_BAD_BASE64, E_JWT_BAD_JSON, E_JWT_BAD_CLAIM, E_JWT_BAD_ALG,
 * E_JWT_WRONG_ALG, E_JWT_NO_KEY, E_JWT_BAD_SIGNATURE, E_JWT_MISSING_CLAIM,
 * E_JWT_EXPIRED, E_JWT_NOT_YET_VALID, E_JWT_ISSUER, E_JWT_AUDIENCE,
 * E_JWT_SUBJECT; with autoresolve E_JWT_KEYS_NEEDED (then, and after
 * E_JWT_NO_KEY, slim_jwt_verifier_wanted_issuer names the issuer whose
 * JWKS to fetch); E_MLS_CRYPTO, E_NOMEM. */
slim_status slim_jwt_verifier_check_token(slim_jwt_verifier *v, slim_str token, uint64_t unix_s,
                                          slim_jwt_claims *claims);

/* The issuer of the last token refused with E_JWT_KEYS_NEEDED or
 * E_JWT_NO_KEY under autoresolve (empty otherwise); borrowed until the
 * next call on v. Its iss was already compared with the configured one,
 * so a token cannot make us fetch from an issuer we do not accept. */
slim_str slim_jwt_verifier_wanted_issuer(const slim_jwt_verifier *v);

/* Verifies the token, then reads its "pubkey" claim (top level, else
 * under "custom_claims", as upstream): standard padded base64 of a
 * 32-byte Ed25519 key or a 33/65-byte P-256 point. Cached with the token.
 * *pubkey is borrowed until the next call on v. The errors above,
 * E_IDENTITY_NO_PUBKEY, E_IDENTITY_BAD_BASE64, E_IDENTITY_BAD_PUBKEY. */
slim_status slim_jwt_verifier_pubkey(slim_jwt_verifier *v, slim_str token, uint64_t unix_s,
                                     slim_bytes *pubkey);

/* Checks a token as an MLS credential (docs/identity.md, "MLS
 * credentials") and reads its pubkey: as slim_jwt_verifier_pubkey at
 * unix_s when `fresh`; otherwise its times are checked at the token's own
 * time (the later of its iat and nbf, else its exp), so that everything
 * but its expiry is (signature, iss, aud, sub); unix_s still decides
 * whether autoresolved keys are current. A NUL or a byte outside ASCII
 * (a compact JWS is ASCII) is E_JWT_MALFORMED. claims may be NULL; claims
 * and *pubkey are borrowed until the next call on v. The errors of
 * slim_jwt_verifier_pubkey. */
slim_status slim_jwt_verifier_credential(slim_jwt_verifier *v, slim_str token, bool fresh,
                                         uint64_t unix_s, slim_jwt_claims *claims,
                                         slim_bytes *pubkey);

/* As slim_identity_verifier_check_msg: the header's identity token, then,
 * when need_sig and m is a command Publish, its e2e_header_sig
 * (E_IDENTITY_NO_SIGNATURE when absent) against the header AAD under the
 * token's pubkey (slim_identity_verify_signature). */
slim_status slim_jwt_verifier_check_msg(slim_jwt_verifier *v, const slim_msg *m, bool need_sig,
                                        uint64_t unix_s);

typedef struct slim_jwt_verifier_stats {
    uint64_t signatures;  /* JWS signatures verified (tokens not found in the cache) */
    uint64_t cache_hits;  /* checks answered from the cache */
    uint64_t cache_size;  /* tokens cached now */
    uint64_t evictions;   /* cached tokens dropped for room, expiry or new keys */
    uint64_t header_sigs; /* e2e_header_sig verified */
} slim_jwt_verifier_stats;

void slim_jwt_verifier_stats_get(const slim_jwt_verifier *v, slim_jwt_verifier_stats *out);

/* ---- Autoresolve helpers (pure parts of OIDC discovery) ------------- */

/* Appends issuer's URL with its path's trailing '/' dropped and `suffix`
 * ("/.well-known/openid-configuration" or "/.well-known/jwks.json")
 * added. E_JWT_DISCOVERY when the issuer is not an http(s) URL with a
 * host, or has a query, fragment or user info. E_NOMEM. */
slim_status slim_jwt_well_known_url(slim_str issuer, const char *suffix, slim_buf *out);

/* True when a and b are URLs with the same scheme, host and port (the
 * default port of the scheme when absent), compared without case. */
bool slim_jwt_same_origin(slim_str a, slim_str b);

/* Reads an OpenID configuration document fetched from issuer: appends its
 * "jwks_uri" to out. As upstream: E_NOT_FOUND when it is not a JSON
 * object or has no jwks_uri string (use /.well-known/jwks.json then);
 * E_JWT_DISCOVERY when its "issuer" differs from ours (trailing '/'
 * ignored) or the jwks_uri is not of the issuer's origin. E_NOMEM. */
slim_status slim_jwt_discovery_jwks_uri(slim_bytes doc, slim_str issuer, slim_buf *out);

#endif
