/*
 * A fixed MLS group for fuzz targets, their seed generator and unit tests:
 * four members with signature keys made from constant seeds, constant
 * epoch secrets, and a GroupContext for epoch 1. Everything is derived
 * from constants, so a fuzz input means the same thing on every run.
 *
 * mls_fixture_seal_raw seals any plaintext as a PrivateMessage with the
 * sender's next key and correct sender data, without protect's checks:
 * it makes the messages protect never would (bad padding, bad signature,
 * unparsable content) so that unprotect's later checks can be reached.
 *
 * Test code only (header-only, static functions).
 */
#ifndef SLIM_TESTS_MLS_FIXTURE_H
#define SLIM_TESTS_MLS_FIXTURE_H

#include "mls/protect.h"

#include <string.h>

#define MLS_FIXTURE_LEAVES 4

typedef struct mls_fixture {
    const slim_mls_suite *suite;
    slim_buf gc;
    slim_mls_sig_key *sk[MLS_FIXTURE_LEAVES], *pk[MLS_FIXTURE_LEAVES];
    uint8_t pub[MLS_FIXTURE_LEAVES][65];
    uint8_t enc_secret[32], sds[32], mkey[32];
} mls_fixture;

static inline slim_status mls_fixture_sender_key(void *arg, const slim_mls_framed_content *c,
                                                 const slim_mls_sig_key **key) {
    const mls_fixture *f = arg;
    if (c->sender.type != SLIM_MLS_SENDER_MEMBER || c->sender.index >= MLS_FIXTURE_LEAVES)
        return SLIM_E_MLS_NO_SENDER_KEY;
    *key = f->pk[c->sender.index];
    return SLIM_OK;
}

static inline slim_status mls_fixture_init(mls_fixture *f, uint16_t suite) {
    memset(f, 0, sizeof *f);
    f->suite = slim_mls_suite_get(suite);
    if (f->suite == NULL)
        return SLIM_E_MLS_UNKNOWN_SUITE;
    slim_status st = SLIM_OK;
    for (int i = 0; i < MLS_FIXTURE_LEAVES && st == SLIM_OK; i++) {
        uint8_t sk[32];
        memset(sk, 0x40 + i, sizeof sk); /* a valid Ed25519 seed and P-256 scalar */
        st = slim_mls_signature_public_key(f->suite, slim_bytes_of(sk, 32), f->pub[i]);
        if (st == SLIM_OK)
            st = slim_mls_sig_key_new(f->suite->sig, slim_bytes_of(sk, 32), true, &f->sk[i]);
        if (st == SLIM_OK)
            st = slim_mls_sig_key_new(f->suite->sig, slim_bytes_of(f->pub[i], f->suite->sig_npk),
                                      false, &f->pk[i]);
    }
    memset(f->enc_secret, 0x11, 32);
    memset(f->sds, 0x22, 32);
    memset(f->mkey, 0x33, 32);
    uint8_t hash[32] = {0};
    slim_mls_group_context gc = {SLIM_MLS_VERSION_MLS10,   suite,
                                 slim_bytes_of("fuzz", 4), 1,
                                 slim_bytes_of(hash, 32),  slim_bytes_of(hash, 32),
                                 slim_bytes_of(NULL, 0)};
    if (st == SLIM_OK)
        st = slim_mls_group_context_encode(&gc, &f->gc);
    return st;
}

static inline void mls_fixture_free(mls_fixture *f) {
    for (int i = 0; i < MLS_FIXTURE_LEAVES; i++) {
        slim_mls_sig_key_free(f->sk[i]);
        slim_mls_sig_key_free(f->pk[i]);
    }
    slim_buf_cleanup(&f->gc);
}

/* A member's context with its own fresh secret tree (free with
 * slim_mls_secret_tree_free(ctx->secret_tree)). */
static inline slim_status mls_fixture_member(mls_fixture *f, slim_mls_framing_ctx *ctx) {
    slim_status st = slim_mls_framing_init(ctx, f->suite, slim_buf_view(&f->gc));
    if (st == SLIM_OK)
        st = slim_mls_secret_tree_new(f->suite, slim_bytes_of(f->enc_secret, 32),
                                      MLS_FIXTURE_LEAVES, &ctx->secret_tree);
    ctx->n_leaves = MLS_FIXTURE_LEAVES;
    ctx->sender_data_secret = slim_bytes_of(f->sds, 32);
    ctx->membership_key = slim_bytes_of(f->mkey, 32);
    ctx->sender_key = mls_fixture_sender_key;
    ctx->sender_key_arg = f;
    return st;
}

/* Seals `plaintext` (a PrivateMessageContent, or anything) as an
 * MLSMessage(PrivateMessage) of `type` from `leaf`, with `ad` as
 * authenticated_data and a zero reuse guard, using the sender's next key
 * of ctx's secret tree. */
static inline slim_status mls_fixture_seal_raw(const slim_mls_framing_ctx *ctx, uint32_t leaf,
                                               uint8_t type, slim_bytes ad, slim_bytes plaintext,
                                               slim_buf *out) {
    const slim_mls_suite *s = ctx->suite;
    slim_mls_ratchet_key rk;
    slim_status st = slim_mls_secret_tree_next(ctx->secret_tree, leaf,
                                               type == SLIM_MLS_CONTENT_APPLICATION
                                                   ? SLIM_MLS_RATCHET_APPLICATION
                                                   : SLIM_MLS_RATCHET_HANDSHAKE,
                                               &rk);
    if (st != SLIM_OK)
        return st;
    slim_mls_private_message pm = {
        ctx->group_id, ctx->epoch, type, ad, slim_bytes_of(NULL, 0), slim_bytes_of(NULL, 0)};
    slim_buf aad = SLIM_BUF_INIT, ct = SLIM_BUF_INIT, esd = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &aad);
    slim_mls_private_content_aad_write(&w, &pm);
    st = slim_mls_tls_writer_status(&w);
    if (st == SLIM_OK)
        st = slim_mls_suite_seal(s, slim_bytes_of(rk.key, rk.key_len),
                                 slim_bytes_of(rk.nonce, rk.nonce_len), slim_buf_view(&aad),
                                 plaintext, &ct);
    slim_mls_sender_data sd = {leaf, rk.generation, {0, 0, 0, 0}};
    uint8_t sdb[SLIM_MLS_SENDER_DATA_SIZE], key[SLIM_MLS_MAX_AEAD_KEY],
        nonce[SLIM_MLS_MAX_AEAD_NONCE];
    slim_mls_sender_data_encode(&sd, sdb);
    if (st == SLIM_OK)
        st = slim_mls_sender_data_key_nonce(s, NULL, ctx->sender_data_secret, slim_buf_view(&ct),
                                            key, nonce);
    aad.len = 0;
    slim_mls_tls_writer_init(&w, &aad);
    slim_mls_sender_data_aad_write(&w, &pm);
    if (st == SLIM_OK)
        st = slim_mls_tls_writer_status(&w);
    if (st == SLIM_OK)
        st = slim_mls_suite_seal(s, slim_bytes_of(key, s->nk), slim_bytes_of(nonce, s->nn),
                                 slim_buf_view(&aad), slim_bytes_of(sdb, sizeof sdb), &esd);
    if (st == SLIM_OK) {
        slim_mls_message msg;
        memset(&msg, 0, sizeof msg);
        msg.version = SLIM_MLS_VERSION_MLS10;
        msg.wire_format = SLIM_MLS_WIRE_PRIVATE_MESSAGE;
        pm.encrypted_sender_data = slim_buf_view(&esd);
        pm.ciphertext = slim_buf_view(&ct);
        msg.u.private_message = pm;
        st = slim_mls_message_encode(&msg, out);
    }
    slim_mls_ratchet_key_cleanup(&rk);
    slim_buf_cleanup(&aad);
    slim_buf_cleanup(&ct);
    slim_buf_cleanup(&esd);
    return st;
}

/* The PrivateMessageContent of application data `data` from member
 * `leaf`, signed with `key` (the member's, or another to forge), followed
 * by `pad` bytes of padding, the middle one `pad_byte`, the others 0. */
static inline slim_status mls_fixture_app_plaintext(const slim_mls_framing_ctx *ctx,
                                                    const slim_mls_sig_key *key, uint32_t leaf,
                                                    slim_bytes ad, slim_bytes data, size_t pad,
                                                    uint8_t pad_byte, slim_buf *out) {
    slim_mls_framed_content fc;
    memset(&fc, 0, sizeof fc);
    fc.group_id = ctx->group_id;
    fc.epoch = ctx->epoch;
    fc.sender.type = SLIM_MLS_SENDER_MEMBER;
    fc.sender.index = leaf;
    fc.authenticated_data = ad;
    fc.content_type = SLIM_MLS_CONTENT_APPLICATION;
    fc.u.application_data = data;
    slim_buf sig = SLIM_BUF_INIT;
    slim_status st = slim_mls_content_sign(ctx, SLIM_MLS_WIRE_PRIVATE_MESSAGE, &fc, key, &sig);
    slim_mls_auth_data auth = {slim_buf_view(&sig), slim_bytes_of(NULL, 0)};
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    if (st == SLIM_OK)
        st = slim_mls_private_content_encode(&w, &fc, &auth, 0);
    for (size_t i = 0; i < pad && st == SLIM_OK; i++)
        st = slim_buf_append_u8(out, i == pad / 2 ? pad_byte : 0);
    slim_buf_cleanup(&sig);
    return st;
}

#endif
