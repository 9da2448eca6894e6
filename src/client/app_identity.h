/*
 * An app's identity, of either kind (include/slim/app.h,
 * slim_identity_config): the provider that stamps outgoing messages and
 * the verifier that checks incoming ones, as a tagged union over the
 * shared-secret objects (src/session/identity.h) and the JWT ones
 * (src/session/jwt.h, with the files and JWKS fetching of
 * src/client/jwt_file.h and jwks_fetch.h).
 *
 * Watched files (a static token, key files) are looked at from stamp and
 * check, at most every few seconds. With autoresolve, a check that needs
 * the issuer's keys fetches them there, on the calling thread (the app's
 * loop): once per issuer and hour, at most about 2 x 5 s; messages wait
 * meanwhile. Used by the loop thread only, after init.
 */
#ifndef SLIM_CLIENT_APP_IDENTITY_H
#define SLIM_CLIENT_APP_IDENTITY_H

#include "client/jwks_fetch.h"
#include "client/jwt_file.h"
#include "session/identity.h"
#include "session/jwt.h"
#include "slim/app.h"

typedef struct app_identity {
    slim_identity_kind provider_kind, verifier_kind;
    /* provider */
    slim_identity *shared;
    slim_jwt_provider *jwt;          /* JWT: owned; STATIC_JWT: the token file's */
    slim_jwt_token_file *token_file; /* STATIC_JWT */
    slim_jwt_key_file *signing_file; /* JWT with key_file */
    /* verifier */
    slim_identity_verifier *shared_verifier;
    slim_jwt_verifier *jwt_verifier;
    slim_jwt_key_file *verifying_file; /* JWT with key_file */
    slim_jwks_fetcher *fetcher;        /* JWT with autoresolve */
    uint16_t mls_suite;                /* 1 or 2: the provider's key is of its scheme */
} app_identity;

/* Checks the configs without building anything: E_INVALID_ARG when a
 * required field is missing or a name is unknown. */
slim_status slim_app__identity_check(const slim_identity_config *c, bool provider);

/* Builds both halves at unix_s (files are read now), the provider's
 * signing key of the signature scheme of MLS suite mls_suite (1: Ed25519,
 * 2: P-256; 0 = 2). E_INVALID_ARG (another suite), the errors of the
 * constructors and loaders; nothing to clean up on error. */
slim_status slim_app__identity_init(app_identity *id, const slim_identity_config *provider,
                                    const slim_identity_config *verifier, uint16_t mls_suite,
                                    uint64_t unix_s);

/* As slim_app__identity_init, but the provider is the one an app saved
 * before a restart (slim_app__identity_export), given again its config:
 * for a shared secret, the same id and private key (slim_identity_restore
 * with the config's secret); for a JWT provider, built from the config as
 * init builds it and then checked to yield the saved app id. The
 * verifier is built from its config. E_STATE_FORMAT (saved is not an
 * export of this version: malformed, truncated, trailing bytes),
 * E_STATE_IDENTITY (saved for another MLS suite, another provider kind,
 * a shared-secret id of another configured id, or a JWT provider whose
 * subject gives another app id), the errors of slim_app__identity_init
 * and slim_identity_restore; nothing to clean up on error. */
slim_status slim_app__identity_init_restored(app_identity *id, const slim_identity_config *provider,
                                             const slim_identity_config *verifier,
                                             uint16_t mls_suite, uint64_t unix_s, slim_bytes saved);

/* Appends what slim_app__identity_init_restored needs to make this
 * provider again (big-endian integers):
 *
 *   u8   version, 1
 *   u16  the MLS suite
 *   u8   the provider kind (slim_identity_kind)
 *   SHARED_SECRET:    u32 length, the id (slim_identity_id, "<id>_<suffix>");
 *                     u8 length, the private key (slim_identity_private_key:
 *                     the P-256 scalar or the Ed25519 seed, 32 bytes)
 *   JWT, STATIC_JWT:  u8 1 when the provider has an id (a subject) else 0;
 *                     u64, u64 the app id (hi, lo; 0 without an id);
 *                     u8 length, the command and MLS signing key (the
 *                     provider's own pair, not the JWT key; 0 for a
 *                     static token, which has none)
 *
 * Neither the shared secret nor JWT keys or tokens are saved: they come
 * from the config on restore. The bytes hold a private key: wipe them
 * (slim_buf_cleanup_secret). Room is made first, so out is not
 * reallocated once the key is in it. E_INVALID_ARG, E_NOMEM (out
 * unchanged). */
slim_status slim_app__identity_export(const app_identity *id, slim_buf *out);

void slim_app__identity_cleanup(app_identity *id);

/* A provider alone (no verifier: do not verify with it), of the P-256
 * scheme: for a node that signs what it sends (its controller's
 * token_provider). The errors of slim_app__identity_init. */
slim_status slim_app__provider_init(app_identity *id, const slim_identity_config *provider,
                                    uint64_t unix_s);

/* The provider's token at unix_s (slim_identity_token /
 * slim_jwt_provider_token, watched files looked at first); borrowed until
 * the next call on id. Their errors. */
slim_status slim_app__identity_token(app_identity *id, uint64_t unix_s, slim_str *token);

/* The provider id (the shared-secret id, or the JWT subject), whether it
 * has one, and the app id derived from it. Borrowed for id's life. */
slim_str slim_app__identity_id(const app_identity *id);
bool slim_app__identity_has_id(const app_identity *id);
slim_id slim_app__identity_app_id(const app_identity *id);

/* slim_identity_stamp / slim_jwt_provider_stamp. */
slim_status slim_app__identity_stamp(app_identity *id, slim_msg *m, uint64_t unix_s);

/* slim_identity_verifier_check_msg / slim_jwt_verifier_check_msg /
 * slim_jwks_check_msg. */
slim_status slim_app__identity_verify(app_identity *id, const slim_msg *m, bool need_sig,
                                      uint64_t unix_s);

/* This app as an MLS member at unix_s (the sessions' mls_self op):
 * *credential the token stamp would send now (the Basic credential),
 * *sig_priv the provider's private key (sig_nsk of the suite: the P-256
 * scalar or the Ed25519 seed), *suite the app's MLS suite. The token is
 * borrowed until the next call on id, the key for id's life.
 * E_UNSUPPORTED for a provider without a private key (a static token),
 * the token errors. */
slim_status slim_app__identity_mls_self(app_identity *id, uint64_t unix_s, slim_bytes *credential,
                                        slim_bytes *sig_priv, uint16_t *suite);

/* Checks another member's credential at unix_s (the sessions' mls_check
 * op): the token (credential as text) verified by the app's verifier
 * (slim_identity_verifier_credential / slim_jwt_verifier_credential, or
 * slim_jwks_credential: expired tokens pass unless fresh), its pubkey the
 * same key as signature_key (else E_IDENTITY_KEY_MISMATCH). *app_id gets
 * the app id its subject gives, as the provider side derives its own
 * (slim_identity_app_id_of; a JWT without "sub": the any id, as the name
 * of such an app has). The verifiers' errors. */
slim_status slim_app__identity_mls_check(app_identity *id, slim_bytes credential,
                                         slim_bytes signature_key, bool fresh, uint64_t unix_s,
                                         slim_id *app_id);

#endif
