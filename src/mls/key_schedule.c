/* The MLS epoch key schedule, exporter and external init (RFC 9420 §8). */
#include "mls/key_schedule.h"
#include "core/util.h"

#include <string.h>

void slim_mls_epoch_secrets_cleanup(slim_mls_epoch_secrets *es) {
    slim_memzero(es, sizeof *es);
}

void slim_mls_epoch_secrets_forget_joiner(slim_mls_epoch_secrets *es) {
    slim_memzero(es->joiner_secret, sizeof es->joiner_secret);
    slim_memzero(es->welcome_secret, sizeof es->welcome_secret);
}

/* An Nh-byte input, or Nh zeros for an empty one. */
static slim_status nh_or_zero(const slim_mls_suite *s, slim_bytes in, const uint8_t *zeros,
                              slim_bytes *out) {
    if (in.len == 0) {
        *out = slim_bytes_of(zeros, s->nh);
        return SLIM_OK;
    }
    if (in.len != s->nh)
        return SLIM_E_INVALID_ARG;
    *out = in;
    return SLIM_OK;
}

/* member = KDF.Extract(joiner_secret, psk_secret): the value from which
 * the welcome and epoch secrets are derived. */
static slim_status member_secret(const slim_mls_suite *s, slim_bytes joiner, slim_bytes psk,
                                 uint8_t *out) {
    static const uint8_t zeros[SLIM_MLS_MAX_HASH] = {0};
    slim_bytes p;
    if (joiner.len != s->nh)
        return SLIM_E_INVALID_ARG;
    slim_status st = nh_or_zero(s, psk, zeros, &p);
    if (st == SLIM_OK)
        st = slim_mls_kdf_extract(s, joiner, p, out);
    return st;
}

slim_status slim_mls_welcome_secret(const slim_mls_suite *suite, slim_bytes joiner_secret,
                                    slim_bytes psk_secret, uint8_t *out) {
    uint8_t member[SLIM_MLS_MAX_HASH];
    slim_status st = member_secret(suite, joiner_secret, psk_secret, member);
    if (st == SLIM_OK)
        st = slim_mls_derive_secret(suite, slim_bytes_of(member, suite->nh), "welcome", out);
    slim_memzero(member, sizeof member);
    return st;
}

slim_status slim_mls_key_schedule_join(const slim_mls_suite *suite, slim_bytes joiner_secret,
                                       slim_bytes psk_secret, slim_bytes group_context,
                                       slim_mls_epoch_secrets *out) {
    static const struct {
        const char *label;
        size_t offset;
    } derived[] = {
        {"sender data", offsetof(slim_mls_epoch_secrets, sender_data_secret)},
        {"encryption", offsetof(slim_mls_epoch_secrets, encryption_secret)},
        {"exporter", offsetof(slim_mls_epoch_secrets, exporter_secret)},
        {"external", offsetof(slim_mls_epoch_secrets, external_secret)},
        {"confirm", offsetof(slim_mls_epoch_secrets, confirmation_key)},
        {"membership", offsetof(slim_mls_epoch_secrets, membership_key)},
        {"resumption", offsetof(slim_mls_epoch_secrets, resumption_psk)},
        {"authentication", offsetof(slim_mls_epoch_secrets, epoch_authenticator)},
        {"init", offsetof(slim_mls_epoch_secrets, init_secret)},
    };
    const slim_mls_suite *s = suite;
    slim_mls_epoch_secrets es;
    memset(&es, 0, sizeof es);
    es.suite = s;
    uint8_t member[SLIM_MLS_MAX_HASH];
    uint8_t epoch[SLIM_MLS_MAX_HASH];
    slim_status st = member_secret(s, joiner_secret, psk_secret, member);
    slim_bytes m = slim_bytes_of(member, s->nh);
    if (st == SLIM_OK) {
        memcpy(es.joiner_secret, joiner_secret.ptr, s->nh);
        st = slim_mls_derive_secret(s, m, "welcome", es.welcome_secret);
    }
    if (st == SLIM_OK)
        st = slim_mls_expand_with_label(s, m, "epoch", group_context, epoch, s->nh);
    for (size_t i = 0; i < SLIM_ARRAY_LEN(derived) && st == SLIM_OK; i++)
        st = slim_mls_derive_secret(s, slim_bytes_of(epoch, s->nh), derived[i].label,
                                    (uint8_t *)&es + derived[i].offset);
    slim_memzero(member, sizeof member);
    slim_memzero(epoch, sizeof epoch);
    if (st == SLIM_OK)
        *out = es;
    slim_mls_epoch_secrets_cleanup(&es);
    return st;
}

slim_status slim_mls_key_schedule_epoch(const slim_mls_suite *suite, slim_bytes init_secret,
                                        slim_bytes commit_secret, slim_bytes psk_secret,
                                        slim_bytes group_context, slim_mls_epoch_secrets *out) {
    static const uint8_t zeros[SLIM_MLS_MAX_HASH] = {0};
    const slim_mls_suite *s = suite;
    if (init_secret.len != s->nh)
        return SLIM_E_INVALID_ARG;
    slim_bytes commit;
    slim_status st = nh_or_zero(s, commit_secret, zeros, &commit);
    if (st != SLIM_OK)
        return st;
    uint8_t prk[SLIM_MLS_MAX_HASH];
    uint8_t joiner[SLIM_MLS_MAX_HASH];
    st = slim_mls_kdf_extract(s, init_secret, commit, prk);
    if (st == SLIM_OK)
        st = slim_mls_expand_with_label(s, slim_bytes_of(prk, s->nh), "joiner", group_context,
                                        joiner, s->nh);
    if (st == SLIM_OK)
        st = slim_mls_key_schedule_join(s, slim_bytes_of(joiner, s->nh), psk_secret, group_context,
                                        out);
    slim_memzero(prk, sizeof prk);
    slim_memzero(joiner, sizeof joiner);
    return st;
}

slim_status slim_mls_welcome_key_nonce(const slim_mls_suite *suite, slim_bytes welcome_secret,
                                       uint8_t *key, uint8_t *nonce) {
    slim_bytes none = slim_bytes_of(NULL, 0);
    slim_status st = slim_mls_expand_with_label(suite, welcome_secret, "key", none, key, suite->nk);
    if (st == SLIM_OK)
        st = slim_mls_expand_with_label(suite, welcome_secret, "nonce", none, nonce, suite->nn);
    if (st != SLIM_OK)
        slim_memzero(key, suite->nk);
    return st;
}

slim_status slim_mls_exporter_bytes(const slim_mls_suite *suite, slim_bytes exporter_secret,
                                    slim_bytes label, slim_bytes context, uint8_t *out,
                                    size_t len) {
    uint8_t derived[SLIM_MLS_MAX_HASH];
    uint8_t ctx_hash[SLIM_MLS_MAX_HASH];
    slim_status st = slim_mls_expand_with_label_bytes(suite, exporter_secret, label,
                                                      slim_bytes_of(NULL, 0), derived, suite->nh);
    if (st == SLIM_OK)
        st = slim_mls_suite_hash(suite, context, ctx_hash);
    if (st == SLIM_OK)
        st = slim_mls_expand_with_label(suite, slim_bytes_of(derived, suite->nh), "exported",
                                        slim_bytes_of(ctx_hash, suite->nh), out, len);
    slim_memzero(derived, sizeof derived);
    return st;
}

slim_status slim_mls_exporter(const slim_mls_epoch_secrets *es, const char *label,
                              slim_bytes context, uint8_t *out, size_t len) {
    return slim_mls_exporter_bytes(es->suite, slim_bytes_of(es->exporter_secret, es->suite->nh),
                                   slim_bytes_of(label, strlen(label)), context, out, len);
}

slim_status slim_mls_external_key_pair(const slim_mls_epoch_secrets *es, uint8_t *sk, uint8_t *pk) {
    return slim_mls_suite_derive_key_pair(
        es->suite, slim_bytes_of(es->external_secret, es->suite->nh), sk, pk);
}

static const char external_init_label[] = "MLS 1.0 external init secret";

slim_status slim_mls_external_init_join(const slim_mls_suite *suite, slim_bytes external_pub,
                                        const slim_mls_rng *rng, slim_buf *kem_output,
                                        uint8_t *init_secret) {
    slim_mls_hpke_setup in = {.mode = SLIM_MLS_HPKE_MODE_BASE, .rng = rng};
    slim_mls_hpke_ctx ctx;
    uint8_t enc[SLIM_MLS_HPKE_MAX_ENC];
    slim_status st = slim_mls_hpke_setup_sender(suite->hpke, external_pub, &in, enc, &ctx);
    if (st != SLIM_OK)
        return st;
    st = slim_mls_hpke_export(&ctx,
                              slim_bytes_of(external_init_label, sizeof external_init_label - 1),
                              init_secret, suite->nh);
    if (st == SLIM_OK)
        st = slim_buf_append(kem_output, enc, suite->kem_npk);
    if (st != SLIM_OK)
        slim_memzero(init_secret, suite->nh);
    slim_mls_hpke_ctx_cleanup(&ctx);
    return st;
}

slim_status slim_mls_external_init_member(const slim_mls_suite *suite, slim_bytes external_priv,
                                          slim_bytes kem_output, uint8_t *init_secret) {
    slim_mls_hpke_setup in = {.mode = SLIM_MLS_HPKE_MODE_BASE};
    slim_mls_hpke_ctx ctx;
    slim_status st =
        slim_mls_hpke_setup_receiver(suite->hpke, kem_output, external_priv, &in, &ctx);
    if (st != SLIM_OK)
        return st;
    st = slim_mls_hpke_export(&ctx,
                              slim_bytes_of(external_init_label, sizeof external_init_label - 1),
                              init_secret, suite->nh);
    slim_mls_hpke_ctx_cleanup(&ctx);
    return st;
}
