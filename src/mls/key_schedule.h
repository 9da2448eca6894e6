/*
 * The MLS key schedule (RFC 9420 §8): from the previous init_secret, the
 * commit_secret, the psk_secret and the new GroupContext to the joiner,
 * welcome and epoch secrets and everything derived from the epoch secret;
 * the exporter (§8.5), the external key pair (§8.3), external init (§8.3)
 * and the Welcome key/nonce (§12.4.3.1).
 *
 *                     init_secret_[n-1]
 *                           |
 *     commit_secret --> KDF.Extract
 *                           |
 *           ExpandWithLabel(., "joiner", GroupContext_[n], KDF.Nh)
 *                           |
 *                      joiner_secret
 *                           |
 * psk_secret (or 0) --> KDF.Extract
 *                           |
 *                           +--> DeriveSecret(., "welcome") = welcome_secret
 *                           |
 *           ExpandWithLabel(., "epoch", GroupContext_[n], KDF.Nh)
 *                           |
 *                      epoch_secret
 *                           |
 *                           +--> DeriveSecret(., <label>) = <secret>
 *                           |
 *                     DeriveSecret(., "init") = init_secret_[n]
 *
 * slim_mls_epoch_secrets is a plain value with fixed-size arrays; the
 * caller owns it and wipes it with slim_mls_epoch_secrets_cleanup. The
 * epoch_secret itself is deleted inside the derivation (§9.2). Pure.
 */
#ifndef SLIM_MLS_KEY_SCHEDULE_H
#define SLIM_MLS_KEY_SCHEDULE_H

#include "mls/crypto.h"
#include "slim/status.h"

typedef struct slim_mls_epoch_secrets {
    const slim_mls_suite *suite;
    /* Kept so a committer can build Welcome messages; wipe it (with
     * slim_mls_epoch_secrets_forget_joiner) once they are sent. */
    uint8_t joiner_secret[SLIM_MLS_MAX_HASH];
    uint8_t welcome_secret[SLIM_MLS_MAX_HASH];
    /* The secrets derived from the epoch secret, by label. */
    uint8_t sender_data_secret[SLIM_MLS_MAX_HASH];  /* "sender data" */
    uint8_t encryption_secret[SLIM_MLS_MAX_HASH];   /* "encryption" */
    uint8_t exporter_secret[SLIM_MLS_MAX_HASH];     /* "exporter" */
    uint8_t external_secret[SLIM_MLS_MAX_HASH];     /* "external" */
    uint8_t confirmation_key[SLIM_MLS_MAX_HASH];    /* "confirm" */
    uint8_t membership_key[SLIM_MLS_MAX_HASH];      /* "membership" */
    uint8_t resumption_psk[SLIM_MLS_MAX_HASH];      /* "resumption" */
    uint8_t epoch_authenticator[SLIM_MLS_MAX_HASH]; /* "authentication" */
    uint8_t init_secret[SLIM_MLS_MAX_HASH];         /* "init", for the next epoch */
} slim_mls_epoch_secrets;

/* Wipes every secret. Safe on a zeroed or cleaned-up value. */
void slim_mls_epoch_secrets_cleanup(slim_mls_epoch_secrets *es);

/* Wipes joiner_secret and welcome_secret only. */
void slim_mls_epoch_secrets_forget_joiner(slim_mls_epoch_secrets *es);

/* Runs the whole schedule for a new epoch. init_secret is the previous
 * epoch's (Nh bytes; for the first epoch a random value); commit_secret and
 * psk_secret are Nh bytes, or empty for the all-zero value;
 * group_context is the encoded GroupContext of the new epoch.
 * E_INVALID_ARG for an input of the wrong size. */
slim_status slim_mls_key_schedule_epoch(const slim_mls_suite *suite, slim_bytes init_secret,
                                        slim_bytes commit_secret, slim_bytes psk_secret,
                                        slim_bytes group_context, slim_mls_epoch_secrets *out);

/* The schedule from joiner_secret on, for a member joining by Welcome.
 * Same rules for psk_secret and group_context. */
slim_status slim_mls_key_schedule_join(const slim_mls_suite *suite, slim_bytes joiner_secret,
                                       slim_bytes psk_secret, slim_bytes group_context,
                                       slim_mls_epoch_secrets *out);

/* welcome_secret[0..Nh) from joiner_secret and psk_secret (empty = zeros),
 * so a joiner can decrypt the GroupInfo before it knows the GroupContext. */
slim_status slim_mls_welcome_secret(const slim_mls_suite *suite, slim_bytes joiner_secret,
                                    slim_bytes psk_secret, uint8_t *out);

/* welcome_nonce = ExpandWithLabel(welcome_secret, "nonce", "", AEAD.Nn)
 * welcome_key = ExpandWithLabel(welcome_secret, "key", "", AEAD.Nk)
 * Writes key[0..Nk) and nonce[0..Nn). */
slim_status slim_mls_welcome_key_nonce(const slim_mls_suite *suite, slim_bytes welcome_secret,
                                       uint8_t *key, uint8_t *nonce);

/* MLS-Exporter(label, context, len) = ExpandWithLabel(DeriveSecret(
 * exporter_secret, label), "exported", Hash(context), len): out[0..len).
 * This is the API for later layers (e.g. SLIM session keys).
 * E_MLS_KDF_LENGTH for len 0 or above 255*Nh. */
slim_status slim_mls_exporter(const slim_mls_epoch_secrets *es, const char *label,
                              slim_bytes context, uint8_t *out, size_t len);

/* Same with a label of arbitrary bytes (not NUL-terminated). */
slim_status slim_mls_exporter_bytes(const slim_mls_suite *suite, slim_bytes exporter_secret,
                                    slim_bytes label, slim_bytes context, uint8_t *out, size_t len);

/* external_priv, external_pub = KEM.DeriveKeyPair(external_secret):
 * sk[0..kem_nsk), pk[0..kem_npk). */
slim_status slim_mls_external_key_pair(const slim_mls_epoch_secrets *es, uint8_t *sk, uint8_t *pk);

/* External init (§8.3), joiner side:
 *   kem_output, context = SetupBaseS(external_pub, "")
 *   init_secret = context.export("MLS 1.0 external init secret", KDF.Nh)
 * Appends kem_output to `kem_output` and writes init_secret[0..Nh). */
slim_status slim_mls_external_init_join(const slim_mls_suite *suite, slim_bytes external_pub,
                                        const slim_mls_rng *rng, slim_buf *kem_output,
                                        uint8_t *init_secret);

/* External init, member side: SetupBaseR(kem_output, external_priv, "")
 * and the same export. */
slim_status slim_mls_external_init_member(const slim_mls_suite *suite, slim_bytes external_priv,
                                          slim_bytes kem_output, uint8_t *init_secret);

#endif
