/*
 * PublicMessage and PrivateMessage protection.
 *
 * The per-message path is kept to the work the RFC requires: the
 * SignContent is built in one buffer (no second copy of the content), the
 * PrivateMessage is written straight into the output buffer with the
 * ciphertext sealed in place, the sender data (fixed size) is sealed on
 * the stack, and signature keys come prepared (slim_mls_sig_key).
 */
#include "mls/protect.h"
#include "core/util.h"

#include <string.h>

#define SIGN_LABEL "FramedContentTBS"

slim_status slim_mls_framing_init(slim_mls_framing_ctx *ctx, const slim_mls_suite *suite,
                                  slim_bytes group_context) {
    slim_mls_group_context gc;
    slim_status st = slim_mls_group_context_decode(group_context, &gc);
    if (st != SLIM_OK)
        return st;
    if (suite == NULL || gc.cipher_suite != suite->id)
        return SLIM_E_MLS_SUITE_MISMATCH;
    memset(ctx, 0, sizeof *ctx);
    ctx->suite = suite;
    ctx->group_context = group_context;
    ctx->group_id = gc.group_id;
    ctx->epoch = gc.epoch;
    return SLIM_OK;
}

size_t slim_mls_padding_for(size_t len, size_t block) {
    if (block == 0)
        block = SLIM_MLS_PADDING_BLOCK;
    return (block - len % block) % block;
}

/* ---- signatures ------------------------------------------------------ */

/* FramedContentTBS as a slim_mls_tbs_fn. */
typedef struct content_tbs {
    const slim_mls_framing_ctx *ctx;
    uint16_t wire_format;
    const slim_mls_framed_content *fc;
} content_tbs;

/* About how many bytes fc's content takes encoded: exact enough for
 * application data, the per-message case, so the buffers on that path
 * are allocated once instead of grown (and copied) step by step. */
static size_t content_size_hint(const slim_mls_framed_content *fc) {
    if (fc->content_type == SLIM_MLS_CONTENT_APPLICATION)
        return fc->u.application_data.len + 4;
    return 512;
}

static slim_status write_content_tbs(slim_mls_tls_writer *w, const void *obj) {
    const content_tbs *t = obj;
    const slim_mls_framed_content *fc = t->fc;
    size_t hint = 64 + fc->group_id.len + fc->authenticated_data.len + content_size_hint(fc) +
                  t->ctx->group_context.len;
    slim_status st = slim_buf_reserve(w->buf, hint);
    if (st != SLIM_OK)
        return slim_mls_tls_writer_fail(w, st);
    return slim_mls_framed_content_tbs_write(w, t->wire_format, fc, t->ctx->group_context);
}

slim_status slim_mls_content_sign(const slim_mls_framing_ctx *ctx, uint16_t wire_format,
                                  const slim_mls_framed_content *fc, const slim_mls_sig_key *sk,
                                  slim_buf *sig) {
    content_tbs t = {ctx, wire_format, fc};
    slim_bytes view;
    return slim_mls_sign_tbs(ctx->suite, sk, SIGN_LABEL, write_content_tbs, &t, sig, &view);
}

/* Verifies with a prepared key, or with raw key bytes when pk is NULL. */
static slim_status verify_either(const slim_mls_framing_ctx *ctx, uint16_t wire_format,
                                 const slim_mls_framed_content *fc, const slim_mls_sig_key *pk,
                                 slim_bytes raw, slim_bytes sig) {
    content_tbs t = {ctx, wire_format, fc};
    if (pk != NULL)
        return slim_mls_verify_tbs_key(ctx->suite, pk, SIGN_LABEL, write_content_tbs, &t, sig);
    return slim_mls_verify_tbs(ctx->suite, raw, SIGN_LABEL, write_content_tbs, &t, sig);
}

slim_status slim_mls_content_verify(const slim_mls_framing_ctx *ctx, uint16_t wire_format,
                                    const slim_mls_framed_content *fc, const slim_mls_sig_key *pk,
                                    slim_bytes sig) {
    return verify_either(ctx, wire_format, fc, pk, slim_bytes_of(NULL, 0), sig);
}

/* ---- checks shared by both directions -------------------------------- */

static bool same_bytes(slim_bytes a, slim_bytes b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static slim_status check_epoch(const slim_mls_framing_ctx *ctx, slim_bytes group_id,
                               uint64_t epoch) {
    if (!same_bytes(group_id, ctx->group_id))
        return SLIM_E_MLS_WRONG_GROUP;
    if (epoch != ctx->epoch)
        return SLIM_E_MLS_WRONG_EPOCH;
    return SLIM_OK;
}

/* Which senders may send which content in which wire format (§6, §6.1):
 * application data only in a PrivateMessage, a PrivateMessage only from a
 * member, an external sender only proposals of the types it may send, a
 * new member only an Add proposal or a Commit. */
static slim_status check_sender(uint16_t wire_format, const slim_mls_framed_content *fc) {
    if (wire_format == SLIM_MLS_WIRE_PUBLIC_MESSAGE &&
        fc->content_type == SLIM_MLS_CONTENT_APPLICATION)
        return SLIM_E_MLS_APPLICATION_IN_PUBLIC;
    switch (fc->sender.type) {
    case SLIM_MLS_SENDER_MEMBER:
        return SLIM_OK;
    case SLIM_MLS_SENDER_EXTERNAL:
        if (wire_format == SLIM_MLS_WIRE_PUBLIC_MESSAGE &&
            fc->content_type == SLIM_MLS_CONTENT_PROPOSAL &&
            slim_mls_proposal_type_external_ok(fc->u.proposal.type))
            return SLIM_OK;
        break;
    case SLIM_MLS_SENDER_NEW_MEMBER_PROPOSAL:
        if (wire_format == SLIM_MLS_WIRE_PUBLIC_MESSAGE &&
            fc->content_type == SLIM_MLS_CONTENT_PROPOSAL &&
            fc->u.proposal.type == SLIM_MLS_PROPOSAL_ADD)
            return SLIM_OK;
        break;
    case SLIM_MLS_SENDER_NEW_MEMBER_COMMIT:
        if (wire_format == SLIM_MLS_WIRE_PUBLIC_MESSAGE &&
            fc->content_type == SLIM_MLS_CONTENT_COMMIT)
            return SLIM_OK;
        break;
    }
    return SLIM_E_MLS_SENDER_NOT_ALLOWED;
}

static slim_status check_leaf(const slim_mls_framing_ctx *ctx, const slim_mls_sender *s) {
    if (s->type == SLIM_MLS_SENDER_MEMBER && s->index >= ctx->n_leaves)
        return SLIM_E_MLS_SENDER_OUTSIDE_TREE;
    return SLIM_OK;
}

/* The key that verifies fc's signature: prepared (from the callback) for
 * members and external senders, raw bytes from the message for new
 * members (§6.1). */
static slim_status sender_key(const slim_mls_framing_ctx *ctx, const slim_mls_framed_content *fc,
                              const slim_mls_sig_key **key, slim_bytes *raw) {
    *key = NULL;
    *raw = slim_bytes_of(NULL, 0);
    switch (fc->sender.type) {
    case SLIM_MLS_SENDER_NEW_MEMBER_COMMIT:
        if (!fc->u.commit.has_path)
            return SLIM_E_MLS_NO_SENDER_KEY;
        *raw = fc->u.commit.path.leaf_node.signature_key;
        return SLIM_OK;
    case SLIM_MLS_SENDER_NEW_MEMBER_PROPOSAL:
        *raw = fc->u.proposal.u.add.leaf_node.signature_key;
        return SLIM_OK;
    }
    if (ctx->sender_key == NULL)
        return SLIM_E_MLS_NO_SENDER_KEY;
    slim_status st = ctx->sender_key(ctx->sender_key_arg, fc, key);
    if (st == SLIM_OK && *key == NULL)
        st = SLIM_E_MLS_NO_SENDER_KEY;
    return st;
}

/* ---- PublicMessage --------------------------------------------------- */

/* tag[0..Nh) = MAC(membership_key, AuthenticatedContentTBM). */
static slim_status membership_tag(const slim_mls_framing_ctx *ctx,
                                  const slim_mls_framed_content *fc, const slim_mls_auth_data *auth,
                                  uint8_t *tag) {
    if (ctx->membership_key.len != ctx->suite->nh)
        return SLIM_E_INVALID_ARG;
    slim_buf tbm = SLIM_BUF_INIT;
    slim_status st = slim_mls_authenticated_content_tbm_encode(fc, auth, ctx->group_context, &tbm);
    if (st == SLIM_OK)
        st = slim_mls_suite_mac(ctx->suite, ctx->membership_key, slim_buf_view(&tbm), tag);
    slim_buf_cleanup(&tbm);
    return st;
}

/* The checks a message we send must pass, whatever its wire format. */
static slim_status check_outgoing(const slim_mls_framing_ctx *ctx,
                                  const slim_mls_authenticated_content *ac, uint16_t wire_format) {
    const slim_mls_framed_content *fc = &ac->content;
    if (ac->wire_format != wire_format)
        return SLIM_E_MLS_NOT_FRAMED;
    slim_status st = check_sender(wire_format, fc);
    if (st == SLIM_OK)
        st = check_epoch(ctx, fc->group_id, fc->epoch);
    if (st == SLIM_OK)
        st = check_leaf(ctx, &fc->sender);
    return st;
}

slim_status slim_mls_public_message_protect(const slim_mls_framing_ctx *ctx,
                                            const slim_mls_authenticated_content *ac,
                                            slim_buf *out) {
    const slim_mls_framed_content *fc = &ac->content;
    slim_status st = check_outgoing(ctx, ac, SLIM_MLS_WIRE_PUBLIC_MESSAGE);
    if (st != SLIM_OK)
        return st;
    slim_mls_message m;
    m.version = SLIM_MLS_VERSION_MLS10;
    m.wire_format = SLIM_MLS_WIRE_PUBLIC_MESSAGE;
    m.u.public_message.content = *fc;
    m.u.public_message.auth = ac->auth;
    uint8_t tag[SLIM_MLS_MAX_HASH];
    m.u.public_message.membership_tag = slim_bytes_of(tag, ctx->suite->nh);
    if (fc->sender.type == SLIM_MLS_SENDER_MEMBER)
        st = membership_tag(ctx, fc, &ac->auth, tag);
    size_t start = out->len;
    if (st == SLIM_OK)
        st = slim_mls_message_encode(&m, out);
    if (st != SLIM_OK)
        out->len = start;
    return st;
}

slim_status slim_mls_public_message_unprotect(const slim_mls_framing_ctx *ctx,
                                              const slim_mls_message *msg,
                                              slim_mls_authenticated_content *out) {
    if (msg->wire_format != SLIM_MLS_WIRE_PUBLIC_MESSAGE)
        return SLIM_E_MLS_NOT_FRAMED;
    const slim_mls_public_message *pm = &msg->u.public_message;
    const slim_mls_framed_content *fc = &pm->content;
    slim_status st = check_epoch(ctx, fc->group_id, fc->epoch);
    if (st == SLIM_OK)
        st = check_sender(SLIM_MLS_WIRE_PUBLIC_MESSAGE, fc);
    if (st == SLIM_OK)
        st = check_leaf(ctx, &fc->sender);
    const slim_mls_sig_key *key;
    slim_bytes raw;
    if (st == SLIM_OK)
        st = sender_key(ctx, fc, &key, &raw);
    if (st == SLIM_OK && fc->sender.type == SLIM_MLS_SENDER_MEMBER) {
        uint8_t tag[SLIM_MLS_MAX_HASH];
        st = membership_tag(ctx, fc, &pm->auth, tag);
        if (st == SLIM_OK && (pm->membership_tag.len != ctx->suite->nh ||
                              !slim_ct_equal(tag, pm->membership_tag.ptr, ctx->suite->nh)))
            st = SLIM_E_MLS_BAD_MEMBERSHIP_TAG;
    }
    if (st == SLIM_OK)
        st = verify_either(ctx, SLIM_MLS_WIRE_PUBLIC_MESSAGE, fc, key, raw, pm->auth.signature);
    if (st == SLIM_OK) {
        out->wire_format = SLIM_MLS_WIRE_PUBLIC_MESSAGE;
        out->content = *fc;
        out->auth = pm->auth;
    }
    return st;
}

/* ---- PrivateMessage -------------------------------------------------- */

static slim_mls_ratchet_type ratchet_for(uint8_t content_type) {
    return content_type == SLIM_MLS_CONTENT_APPLICATION ? SLIM_MLS_RATCHET_APPLICATION
                                                        : SLIM_MLS_RATCHET_HANDSHAKE;
}

static slim_status check_private_keys(const slim_mls_framing_ctx *ctx) {
    if (ctx->secret_tree == NULL || ctx->sender_data_secret.len != ctx->suite->nh ||
        slim_mls_secret_tree_leaves(ctx->secret_tree) != ctx->n_leaves)
        return SLIM_E_INVALID_ARG;
    return SLIM_OK;
}

/* Writes an AAD structure (SenderDataAAD or PrivateContentAAD) into b,
 * replacing what it held, and makes room for `extra` more bytes after it,
 * so an AEAD can append its output to b while reading the AAD from it. */
static slim_status build_aad(slim_buf *b, const slim_mls_private_message *pm, bool content,
                             size_t extra) {
    b->len = 0;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, b);
    if (content)
        slim_mls_private_content_aad_write(&w, pm);
    else
        slim_mls_sender_data_aad_write(&w, pm);
    slim_status st = slim_mls_tls_writer_status(&w);
    if (st == SLIM_OK)
        st = slim_buf_reserve(b, extra);
    return st;
}

/* Seals the SenderData of the ciphertext at ct into esd (ESD bytes). */
static slim_status seal_sender_data(const slim_mls_framing_ctx *ctx,
                                    const slim_mls_private_message *pm, slim_bytes ct,
                                    const slim_mls_sender_data *sd, slim_buf *scratch,
                                    uint8_t *esd) {
    const slim_mls_suite *s = ctx->suite;
    uint8_t key[SLIM_MLS_MAX_AEAD_KEY], nonce[SLIM_MLS_MAX_AEAD_NONCE];
    uint8_t plain[SLIM_MLS_SENDER_DATA_SIZE];
    slim_mls_sender_data_encode(sd, plain);
    const slim_mls_prepared *p = slim_mls_secret_tree_prepared(ctx->secret_tree);
    slim_status st = slim_mls_sender_data_key_nonce(s, p, ctx->sender_data_secret, ct, key, nonce);
    if (st == SLIM_OK)
        st = build_aad(scratch, pm, false, sizeof plain + s->nt);
    size_t aad_len = scratch->len;
    if (st == SLIM_OK)
        st = slim_mls_suite_seal_prepared(
            s, p, slim_bytes_of(key, s->nk), slim_bytes_of(nonce, s->nn),
            slim_bytes_of(scratch->data, aad_len), slim_bytes_of(plain, sizeof plain), scratch);
    if (st == SLIM_OK)
        memcpy(esd, scratch->data + aad_len, SLIM_MLS_SENDER_DATA_SIZE + s->nt);
    slim_memzero(key, sizeof key);
    slim_memzero(nonce, sizeof nonce);
    slim_memzero(plain, sizeof plain);
    return st;
}

slim_status slim_mls_private_message_protect(const slim_mls_framing_ctx *ctx,
                                             const slim_mls_authenticated_content *ac,
                                             const slim_mls_rng *rng, slim_buf *out) {
    const slim_mls_suite *s = ctx->suite;
    const slim_mls_framed_content *fc = &ac->content;
    if (ctx->padding_block > SLIM_MLS_PADDING_BLOCK_MAX)
        return SLIM_E_INVALID_ARG;
    slim_status st = check_outgoing(ctx, ac, SLIM_MLS_WIRE_PRIVATE_MESSAGE);
    if (st == SLIM_OK)
        st = check_private_keys(ctx);
    if (st != SLIM_OK)
        return st;

    slim_mls_private_message pm = {
        .group_id = fc->group_id,
        .epoch = fc->epoch,
        .content_type = fc->content_type,
        .authenticated_data = fc->authenticated_data,
    };
    slim_mls_sender_data sd = {.leaf_index = fc->sender.index};
    slim_buf pt = SLIM_BUF_INIT, scratch = SLIM_BUF_INIT;
    slim_mls_ratchet_key rk;
    memset(&rk, 0, sizeof rk);
    size_t start = out->len;

    /* PrivateMessageContent with its padding, in a buffer allocated once
     * (growing it would leave copies of the plaintext in freed memory). */
    size_t block = ctx->padding_block ? ctx->padding_block : SLIM_MLS_PADDING_BLOCK;
    st = slim_buf_reserve(&pt, content_size_hint(fc) + ac->auth.signature.len +
                                   ac->auth.confirmation_tag.len + 8 + block);
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &pt);
    if (st == SLIM_OK) {
        slim_mls_private_content_encode(&w, fc, &ac->auth, 0);
        st = slim_mls_tls_writer_status(&w);
    }
    if (st == SLIM_OK)
        st = slim_buf_append_zeros(&pt, slim_mls_padding_for(pt.len, ctx->padding_block), NULL);
    if (st == SLIM_OK)
        st = build_aad(&scratch, &pm, true, 0);
    if (st == SLIM_OK)
        st = slim_mls_rng_fill(rng, sd.reuse_guard, sizeof sd.reuse_guard);
    /* The key is taken last, so a failure above leaves the ratchet alone. */
    if (st == SLIM_OK)
        st = slim_mls_secret_tree_next(ctx->secret_tree, fc->sender.index,
                                       ratchet_for(fc->content_type), &rk);
    if (st != SLIM_OK)
        goto done;
    sd.generation = rk.generation;
    for (size_t i = 0; i < sizeof sd.reuse_guard; i++)
        rk.nonce[i] ^= sd.reuse_guard[i];

    /* The message up to the ciphertext, with room for the sender data. */
    size_t esd_len = SLIM_MLS_SENDER_DATA_SIZE + s->nt;
    size_t ct_len = pt.len + s->nt;
    st = slim_buf_reserve(out, 32 + pm.group_id.len + pm.authenticated_data.len + esd_len + ct_len);
    if (st != SLIM_OK)
        goto done;
    slim_mls_tls_writer_init(&w, out);
    slim_mls_tls_put_u16(&w, SLIM_MLS_VERSION_MLS10);
    slim_mls_tls_put_u16(&w, SLIM_MLS_WIRE_PRIVATE_MESSAGE);
    slim_mls_private_content_aad_write(&w, &pm);
    slim_mls_tls_put_varint(&w, esd_len);
    size_t esd_at = out->len;
    st = slim_mls_tls_writer_status(&w);
    if (st == SLIM_OK)
        st = slim_buf_append_zeros(out, esd_len, NULL);
    if (st == SLIM_OK)
        st = slim_mls_tls_put_varint(&w, ct_len);
    size_t ct_at = out->len;
    if (st == SLIM_OK)
        st = slim_mls_suite_seal_prepared(s, slim_mls_secret_tree_prepared(ctx->secret_tree),
                                          slim_bytes_of(rk.key, rk.key_len),
                                          slim_bytes_of(rk.nonce, rk.nonce_len),
                                          slim_buf_view(&scratch), slim_buf_view(&pt), out);
    if (st == SLIM_OK)
        st = seal_sender_data(ctx, &pm, slim_bytes_of(out->data + ct_at, ct_len), &sd, &scratch,
                              out->data + esd_at);
done:
    if (st != SLIM_OK)
        out->len = start;
    slim_mls_ratchet_key_cleanup(&rk);
    slim_buf_cleanup_secret(&pt);
    slim_buf_cleanup(&scratch);
    return st;
}

slim_status slim_mls_protect_application(const slim_mls_framing_ctx *ctx, uint32_t leaf_index,
                                         const slim_mls_sig_key *sk, slim_bytes authenticated_data,
                                         slim_bytes data, const slim_mls_rng *rng, slim_buf *out) {
    slim_mls_authenticated_content ac;
    memset(&ac, 0, sizeof ac);
    ac.wire_format = SLIM_MLS_WIRE_PRIVATE_MESSAGE;
    ac.content.group_id = ctx->group_id;
    ac.content.epoch = ctx->epoch;
    ac.content.sender.type = SLIM_MLS_SENDER_MEMBER;
    ac.content.sender.index = leaf_index;
    ac.content.authenticated_data = authenticated_data;
    ac.content.content_type = SLIM_MLS_CONTENT_APPLICATION;
    ac.content.u.application_data = data;
    slim_buf sig = SLIM_BUF_INIT;
    slim_status st = slim_mls_content_sign(ctx, ac.wire_format, &ac.content, sk, &sig);
    ac.auth.signature = slim_buf_view(&sig);
    if (st == SLIM_OK)
        st = slim_mls_private_message_protect(ctx, &ac, rng, out);
    slim_buf_cleanup(&sig);
    return st;
}

/* Opens encrypted_sender_data (§6.3.2). */
static slim_status open_sender_data(const slim_mls_framing_ctx *ctx,
                                    const slim_mls_private_message *pm, slim_buf *scratch,
                                    slim_mls_sender_data *sd) {
    const slim_mls_suite *s = ctx->suite;
    uint8_t key[SLIM_MLS_MAX_AEAD_KEY], nonce[SLIM_MLS_MAX_AEAD_NONCE];
    const slim_mls_prepared *p = slim_mls_secret_tree_prepared(ctx->secret_tree);
    slim_status st =
        slim_mls_sender_data_key_nonce(s, p, ctx->sender_data_secret, pm->ciphertext, key, nonce);
    if (st == SLIM_OK)
        st = build_aad(scratch, pm, false, pm->encrypted_sender_data.len);
    size_t aad_len = scratch->len;
    if (st == SLIM_OK) {
        st = slim_mls_suite_open_prepared(
            s, p, slim_bytes_of(key, s->nk), slim_bytes_of(nonce, s->nn),
            slim_bytes_of(scratch->data, aad_len), pm->encrypted_sender_data, scratch);
        if (st == SLIM_E_MLS_AEAD_OPEN)
            st = SLIM_E_MLS_SENDER_DATA_DECRYPT;
    }
    if (st == SLIM_OK)
        st = slim_mls_sender_data_decode(
            slim_bytes_of(scratch->data + aad_len, scratch->len - aad_len), sd);
    slim_memzero(key, sizeof key);
    slim_memzero(nonce, sizeof nonce);
    return st;
}

slim_status slim_mls_private_message_unprotect(const slim_mls_framing_ctx *ctx,
                                               const slim_mls_message *msg, slim_buf *plaintext,
                                               slim_mls_authenticated_content *out) {
    if (msg->wire_format != SLIM_MLS_WIRE_PRIVATE_MESSAGE)
        return SLIM_E_MLS_NOT_FRAMED;
    const slim_mls_private_message *pm = &msg->u.private_message;
    const slim_mls_suite *s = ctx->suite;
    slim_status st = check_private_keys(ctx);
    if (st == SLIM_OK)
        st = check_epoch(ctx, pm->group_id, pm->epoch);
    if (st != SLIM_OK)
        return st;

    slim_buf scratch = SLIM_BUF_INIT;
    slim_mls_sender_data sd;
    slim_mls_ratchet_key rk;
    memset(&rk, 0, sizeof rk);
    slim_mls_authenticated_content ac;
    memset(&ac, 0, sizeof ac);
    ac.wire_format = SLIM_MLS_WIRE_PRIVATE_MESSAGE;
    slim_mls_framed_content *fc = &ac.content;
    const slim_mls_sig_key *key = NULL;
    slim_bytes raw;
    slim_memzero(plaintext->data, plaintext->len);
    plaintext->len = 0;

    st = open_sender_data(ctx, pm, &scratch, &sd);
    if (st != SLIM_OK)
        goto done;
    fc->group_id = pm->group_id;
    fc->epoch = pm->epoch;
    fc->sender.type = SLIM_MLS_SENDER_MEMBER;
    fc->sender.index = sd.leaf_index;
    fc->authenticated_data = pm->authenticated_data;
    fc->content_type = pm->content_type;
    st = check_leaf(ctx, &fc->sender);
    if (st == SLIM_OK)
        st = sender_key(ctx, fc, &key, &raw);
    if (st == SLIM_OK)
        st = slim_mls_secret_tree_get(ctx->secret_tree, sd.leaf_index,
                                      ratchet_for(pm->content_type), sd.generation, &rk);
    if (st != SLIM_OK)
        goto done;
    for (size_t i = 0; i < sizeof sd.reuse_guard; i++)
        rk.nonce[i] ^= sd.reuse_guard[i];
    st = build_aad(&scratch, pm, true, 0);
    if (st == SLIM_OK) {
        st = slim_mls_suite_open_prepared(s, slim_mls_secret_tree_prepared(ctx->secret_tree),
                                          slim_bytes_of(rk.key, rk.key_len),
                                          slim_bytes_of(rk.nonce, rk.nonce_len),
                                          slim_buf_view(&scratch), pm->ciphertext, plaintext);
        if (st == SLIM_E_MLS_AEAD_OPEN)
            st = SLIM_E_MLS_CONTENT_DECRYPT;
    }
    if (st == SLIM_OK)
        st = slim_mls_private_content_decode(slim_buf_view(plaintext), pm->content_type, fc,
                                             &ac.auth);
    if (st == SLIM_OK)
        st = verify_either(ctx, SLIM_MLS_WIRE_PRIVATE_MESSAGE, fc, key, raw, ac.auth.signature);
    /* Only a message that passed every check uses up its key (or the
     * caller does, when it asked to keep it). */
    if (st == SLIM_OK && ctx->keep_key && ctx->generation != NULL)
        *ctx->generation = sd.generation;
    else if (st == SLIM_OK)
        st = slim_mls_secret_tree_erase(ctx->secret_tree, sd.leaf_index,
                                        ratchet_for(pm->content_type), sd.generation);
done:
    slim_mls_ratchet_key_cleanup(&rk);
    slim_buf_cleanup_secret(&scratch);
    if (st != SLIM_OK) {
        slim_memzero(plaintext->data, plaintext->len);
        plaintext->len = 0;
        return st;
    }
    *out = ac;
    return SLIM_OK;
}

slim_status slim_mls_unprotect(const slim_mls_framing_ctx *ctx, slim_bytes in, slim_buf *plaintext,
                               slim_mls_authenticated_content *out) {
    slim_mls_message msg;
    slim_status st = slim_mls_message_decode(in, &msg);
    if (st != SLIM_OK)
        return st;
    switch (msg.wire_format) {
    case SLIM_MLS_WIRE_PUBLIC_MESSAGE:
        return slim_mls_public_message_unprotect(ctx, &msg, out);
    case SLIM_MLS_WIRE_PRIVATE_MESSAGE:
        return slim_mls_private_message_unprotect(ctx, &msg, plaintext, out);
    }
    return SLIM_E_MLS_NOT_FRAMED;
}
