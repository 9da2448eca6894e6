/* Unit tests for src/mls/protect (PublicMessage and PrivateMessage
 * protection) in suites 1 and 2: round trips for every content and sender
 * type, each refusal with its named status, a failed unprotect leaves the
 * key in the secret tree, the padding policy, reuse and reordering,
 * allocation failures; and the primitives the per-message path relies on
 * (prepared HKDF, RNG pool). */
#include "core/alloc.h"
#include "fuzz/mls_fixture.h"
#include "mls/protect.h"
#include "mls_test_util.h"

/* ---- a test group ----------------------------------------------------- */

#define LEAVES 4
#define BLANK  2 /* leaf 2 is blank */

typedef struct group {
    const slim_mls_suite *s;
    slim_buf gc;
    slim_mls_sig_key *sk[LEAVES + 1], *pk[LEAVES + 1]; /* [LEAVES]: external sender */
    uint8_t pub[LEAVES + 1][65];
    uint8_t enc_secret[32], sds[32], mkey[32];
} group;

/* One member's view: its context and its own secret tree. */
typedef struct member {
    slim_mls_framing_ctx ctx;
    slim_mls_secret_tree *tree;
} member;

static slim_status group_key(void *arg, const slim_mls_framed_content *c,
                             const slim_mls_sig_key **key) {
    group *g = arg;
    if (c->sender.type == SLIM_MLS_SENDER_EXTERNAL) {
        if (c->sender.index != 0)
            return SLIM_E_MLS_NO_SENDER_KEY;
        *key = g->pk[LEAVES];
        return SLIM_OK;
    }
    if (c->sender.index == BLANK)
        return SLIM_E_MLS_SENDER_BLANK;
    *key = g->pk[c->sender.index];
    return SLIM_OK;
}

static void group_init(group *g, uint16_t suite, uint64_t epoch) {
    memset(g, 0, sizeof *g);
    g->s = slim_mls_suite_get(suite);
    uint32_t state = suite * 100u;
    slim_mls_rng rng = {counting_fill, &state};
    for (int i = 0; i <= LEAVES; i++) {
        uint8_t sk[32];
        CHECK_OK(slim_mls_signature_key_generate(g->s, &rng, sk, g->pub[i]));
        CHECK_OK(slim_mls_sig_key_new(g->s->sig, slim_bytes_of(sk, 32), true, &g->sk[i]));
        CHECK_OK(slim_mls_sig_key_new(g->s->sig, slim_bytes_of(g->pub[i], g->s->sig_npk), false,
                                      &g->pk[i]));
    }
    memset(g->enc_secret, 0x11, 32);
    memset(g->sds, 0x22, 32);
    memset(g->mkey, 0x33, 32);
    uint8_t hash[32] = {4};
    slim_mls_group_context gc = {SLIM_MLS_VERSION_MLS10,          suite,
                                 slim_bytes_of("test group", 10), epoch,
                                 slim_bytes_of(hash, 32),         slim_bytes_of(hash, 32),
                                 slim_bytes_of(NULL, 0)};
    CHECK_OK(slim_mls_group_context_encode(&gc, &g->gc));
}

static void group_free(group *g) {
    for (int i = 0; i <= LEAVES; i++) {
        slim_mls_sig_key_free(g->sk[i]);
        slim_mls_sig_key_free(g->pk[i]);
    }
    slim_buf_cleanup(&g->gc);
}

static void member_init(member *m, group *g, uint32_t n_leaves) {
    CHECK_OK(slim_mls_framing_init(&m->ctx, g->s, slim_buf_view(&g->gc)));
    CHECK_OK(slim_mls_secret_tree_new(g->s, slim_bytes_of(g->enc_secret, 32), n_leaves, &m->tree));
    m->ctx.n_leaves = n_leaves;
    m->ctx.secret_tree = m->tree;
    m->ctx.sender_data_secret = slim_bytes_of(g->sds, 32);
    m->ctx.membership_key = slim_bytes_of(g->mkey, 32);
    m->ctx.sender_key = group_key;
    m->ctx.sender_key_arg = g;
}

static void member_free(member *m) {
    slim_mls_secret_tree_free(m->tree);
}

static uint32_t rng_state = 7;
static slim_mls_rng test_rng = {counting_fill, &rng_state};

/* A content from `sender` of `type`: a Remove proposal, an empty-list
 * Commit with no path... (kept parseable), or "hello". */
static slim_mls_framed_content content(const member *m, uint8_t sender_type, uint32_t index,
                                       uint8_t type) {
    slim_mls_framed_content fc;
    memset(&fc, 0, sizeof fc);
    fc.group_id = m->ctx.group_id;
    fc.epoch = m->ctx.epoch;
    fc.sender.type = sender_type;
    fc.sender.index = index;
    fc.authenticated_data = slim_bytes_of("slim header", 11);
    fc.content_type = type;
    if (type == SLIM_MLS_CONTENT_APPLICATION)
        fc.u.application_data = slim_bytes_of("hello", 5);
    else if (type == SLIM_MLS_CONTENT_PROPOSAL) {
        fc.u.proposal.type = SLIM_MLS_PROPOSAL_REMOVE;
        fc.u.proposal.u.remove = 1;
    } else {
        /* A commit of one by-value Add needs no path; use a reference. */
        static const uint8_t por[] = {SLIM_MLS_PROPOSAL_OR_REF_REFERENCE, 2, 0xab, 0xcd};
        fc.u.commit.proposals = (slim_mls_vec){slim_bytes_of(por, 4), 1};
    }
    return fc;
}

/* Signs fc for wire_format with key and protects it into out. */
static slim_status protect(member *m, uint16_t wf, const slim_mls_framed_content *fc,
                           const slim_mls_sig_key *key, slim_buf *out) {
    slim_mls_authenticated_content ac = {wf, *fc, {slim_bytes_of(NULL, 0), slim_bytes_of(NULL, 0)}};
    slim_buf sig = SLIM_BUF_INIT;
    uint8_t tag[32];
    memset(tag, 0xc7, sizeof tag);
    slim_status st = slim_mls_content_sign(&m->ctx, wf, fc, key, &sig);
    ac.auth.signature = slim_buf_view(&sig);
    ac.auth.confirmation_tag = slim_bytes_of(tag, 32);
    if (st == SLIM_OK)
        st = wf == SLIM_MLS_WIRE_PUBLIC_MESSAGE
                 ? slim_mls_public_message_protect(&m->ctx, &ac, out)
                 : slim_mls_private_message_protect(&m->ctx, &ac, &test_rng, out);
    slim_buf_cleanup(&sig);
    return st;
}

static slim_status unprotect(member *m, slim_bytes msg, slim_mls_authenticated_content *ac) {
    slim_buf plain = SLIM_BUF_INIT;
    slim_status st = slim_mls_unprotect(&m->ctx, msg, &plain, ac);
    slim_buf_cleanup_secret(&plain);
    return st;
}

/* ---- round trips ------------------------------------------------------- */

TEST(round_trips_for_every_content_and_sender) {
    for (uint16_t id = 1; id <= 2; id++) {
        group g;
        group_init(&g, id, 42);
        member tx, rx;
        member_init(&tx, &g, LEAVES);
        member_init(&rx, &g, LEAVES);
        for (int pub = 0; pub < 2; pub++) {
            uint16_t wf = pub ? SLIM_MLS_WIRE_PUBLIC_MESSAGE : SLIM_MLS_WIRE_PRIVATE_MESSAGE;
            for (uint8_t type = pub ? 2 : 1; type <= 3; type++) {
                slim_mls_framed_content fc = content(&tx, SLIM_MLS_SENDER_MEMBER, 3, type);
                slim_buf out = SLIM_BUF_INIT, plain = SLIM_BUF_INIT;
                CHECK_OK(protect(&tx, wf, &fc, g.sk[3], &out));
                slim_mls_authenticated_content ac;
                slim_status st = slim_mls_unprotect(&rx.ctx, slim_buf_view(&out), &plain, &ac);
                CHECK_OK(st);
                if (st != SLIM_OK) {
                    slim_buf_cleanup(&out);
                    continue;
                }
                CHECK_EQ(ac.wire_format, wf);
                CHECK_EQ(ac.content.content_type, type);
                CHECK_EQ(ac.content.sender.type, SLIM_MLS_SENDER_MEMBER);
                CHECK_EQ(ac.content.sender.index, 3);
                CHECK_U64(ac.content.epoch, 42);
                CHECK_EQ(ac.content.authenticated_data.len, 11);
                CHECK_MEM(ac.content.authenticated_data.ptr, "slim header", 11);
                if (type == SLIM_MLS_CONTENT_APPLICATION)
                    CHECK_MEM(ac.content.u.application_data.ptr, "hello", 5);
                if (type == SLIM_MLS_CONTENT_COMMIT)
                    CHECK_EQ(ac.auth.confirmation_tag.len, 32);
                else
                    CHECK_EQ(ac.auth.confirmation_tag.len, 0);
                slim_buf_cleanup(&out);
                slim_buf_cleanup_secret(&plain);
            }
        }
        /* The convenience call for application data. */
        slim_buf out = SLIM_BUF_INIT;
        slim_mls_authenticated_content ac;
        CHECK_OK(slim_mls_protect_application(&tx.ctx, 1, g.sk[1], slim_bytes_of("ad", 2),
                                              slim_bytes_of("data", 4), &test_rng, &out));
        CHECK_OK(unprotect(&rx, slim_buf_view(&out), &ac));
        slim_buf_cleanup(&out);

        /* An external sender's proposal, verified with the external key. */
        slim_mls_framed_content fc =
            content(&tx, SLIM_MLS_SENDER_EXTERNAL, 0, SLIM_MLS_CONTENT_PROPOSAL);
        CHECK_OK(protect(&tx, SLIM_MLS_WIRE_PUBLIC_MESSAGE, &fc, g.sk[LEAVES], &out));
        CHECK_OK(unprotect(&rx, slim_buf_view(&out), &ac));
        CHECK_EQ(ac.content.sender.type, SLIM_MLS_SENDER_EXTERNAL);
        slim_buf_cleanup(&out);
        /* ... signed with a member key instead: refused. */
        CHECK_OK(protect(&tx, SLIM_MLS_WIRE_PUBLIC_MESSAGE, &fc, g.sk[0], &out));
        CHECK_STATUS(unprotect(&rx, slim_buf_view(&out), &ac), SLIM_E_MLS_BAD_SIGNATURE);
        slim_buf_cleanup(&out);
        /* ... from an unknown external sender. */
        fc.sender.index = 5;
        CHECK_OK(protect(&tx, SLIM_MLS_WIRE_PUBLIC_MESSAGE, &fc, g.sk[LEAVES], &out));
        CHECK_STATUS(unprotect(&rx, slim_buf_view(&out), &ac), SLIM_E_MLS_NO_SENDER_KEY);
        slim_buf_cleanup(&out);

        /* A new member's Add: the key is the one in its KeyPackage. */
        fc = content(&tx, SLIM_MLS_SENDER_NEW_MEMBER_PROPOSAL, 0, SLIM_MLS_CONTENT_PROPOSAL);
        fc.u.proposal.type = SLIM_MLS_PROPOSAL_ADD;
        memset(&fc.u.proposal.u.add, 0, sizeof fc.u.proposal.u.add);
        fc.u.proposal.u.add.version = 1;
        fc.u.proposal.u.add.cipher_suite = id;
        fc.u.proposal.u.add.leaf_node.source = SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE;
        fc.u.proposal.u.add.leaf_node.credential.type = SLIM_MLS_CREDENTIAL_BASIC;
        fc.u.proposal.u.add.leaf_node.signature_key = slim_bytes_of(g.pub[2], g.s->sig_npk);
        CHECK_OK(protect(&tx, SLIM_MLS_WIRE_PUBLIC_MESSAGE, &fc, g.sk[2], &out));
        CHECK_OK(unprotect(&rx, slim_buf_view(&out), &ac));
        CHECK_EQ(ac.content.u.proposal.type, SLIM_MLS_PROPOSAL_ADD);
        slim_buf_cleanup(&out);
        CHECK_OK(protect(&tx, SLIM_MLS_WIRE_PUBLIC_MESSAGE, &fc, g.sk[1], &out));
        CHECK_STATUS(unprotect(&rx, slim_buf_view(&out), &ac), SLIM_E_MLS_BAD_SIGNATURE);
        slim_buf_cleanup(&out);

        member_free(&tx);
        member_free(&rx);
        group_free(&g);
    }
}

/* ---- refusals ----------------------------------------------------------- */

/* Messages protect would never make (mls_fixture_seal_raw). */
static void seal_raw(member *m, uint32_t leaf, uint8_t type, slim_bytes plaintext, slim_buf *out) {
    CHECK_OK(mls_fixture_seal_raw(&m->ctx, leaf, type, slim_bytes_of("x", 1), plaintext, out));
}

/* Application data "hello" from `leaf` signed with `key`, with padding. */
static void app_plaintext(member *m, uint32_t leaf, const slim_mls_sig_key *key, size_t pad,
                          uint8_t pad_byte, slim_buf *out) {
    CHECK_OK(mls_fixture_app_plaintext(&m->ctx, key, leaf, slim_bytes_of("x", 1),
                                       slim_bytes_of("hello", 5), pad, pad_byte, out));
}

/* Application data from `leaf` signed with `key` and padded, sealed by tx
 * and unprotected by rx: the status. */
static slim_status sealed_app(member *tx, member *rx, uint32_t leaf, const slim_mls_sig_key *key,
                              size_t pad, uint8_t pad_byte) {
    slim_buf pt = SLIM_BUF_INIT, out = SLIM_BUF_INIT;
    slim_mls_authenticated_content ac;
    app_plaintext(tx, leaf, key, pad, pad_byte, &pt);
    seal_raw(tx, leaf, SLIM_MLS_CONTENT_APPLICATION, slim_buf_view(&pt), &out);
    slim_status st = unprotect(rx, slim_buf_view(&out), &ac);
    slim_buf_cleanup(&out);
    slim_buf_cleanup(&pt);
    return st;
}

TEST(unprotect_refusals_are_named) {
    for (uint16_t id = 1; id <= 2; id++) {
        group g;
        group_init(&g, id, 9);
        member tx, rx;
        member_init(&tx, &g, LEAVES);
        member_init(&rx, &g, LEAVES);
        slim_buf out = SLIM_BUF_INIT;
        slim_mls_authenticated_content ac;
        slim_mls_framed_content fc;

        /* Epoch and group of the receiver differ. */
        group g2;
        group_init(&g2, id, 10);
        member other;
        member_init(&other, &g2, LEAVES);
        CHECK_OK(slim_mls_protect_application(&tx.ctx, 0, g.sk[0], slim_bytes_of(NULL, 0),
                                              slim_bytes_of("x", 1), &test_rng, &out));
        CHECK_STATUS(unprotect(&other, slim_buf_view(&out), &ac), SLIM_E_MLS_WRONG_EPOCH);
        other.ctx.group_id = slim_bytes_of("another group", 13);
        CHECK_STATUS(unprotect(&other, slim_buf_view(&out), &ac), SLIM_E_MLS_WRONG_GROUP);
        member_free(&other);
        group_free(&g2);
        slim_buf_cleanup(&out);

        /* Sender data that does not decrypt: another sender_data_secret. */
        CHECK_OK(slim_mls_protect_application(&tx.ctx, 0, g.sk[0], slim_bytes_of(NULL, 0),
                                              slim_bytes_of("x", 1), &test_rng, &out));
        uint8_t wrong[32] = {1};
        rx.ctx.sender_data_secret = slim_bytes_of(wrong, 32);
        CHECK_STATUS(unprotect(&rx, slim_buf_view(&out), &ac), SLIM_E_MLS_SENDER_DATA_DECRYPT);
        rx.ctx.sender_data_secret = slim_bytes_of(g.sds, 32);
        CHECK_OK(unprotect(&rx, slim_buf_view(&out), &ac));
        slim_buf_cleanup(&out);

        /* A sender leaf outside the receiver's tree. */
        member small;
        member_init(&small, &g, 2);
        CHECK_OK(slim_mls_protect_application(&tx.ctx, 3, g.sk[3], slim_bytes_of(NULL, 0),
                                              slim_bytes_of("x", 1), &test_rng, &out));
        CHECK_STATUS(unprotect(&small, slim_buf_view(&out), &ac), SLIM_E_MLS_SENDER_OUTSIDE_TREE);
        slim_buf_cleanup(&out);
        fc = content(&tx, SLIM_MLS_SENDER_MEMBER, 3, SLIM_MLS_CONTENT_PROPOSAL);
        CHECK_OK(protect(&tx, SLIM_MLS_WIRE_PUBLIC_MESSAGE, &fc, g.sk[3], &out));
        CHECK_STATUS(unprotect(&small, slim_buf_view(&out), &ac), SLIM_E_MLS_SENDER_OUTSIDE_TREE);
        slim_buf_cleanup(&out);
        member_free(&small);

        /* A blank sender leaf (the callback says so). */
        CHECK_OK(slim_mls_protect_application(&tx.ctx, BLANK, g.sk[BLANK], slim_bytes_of(NULL, 0),
                                              slim_bytes_of("x", 1), &test_rng, &out));
        CHECK_STATUS(unprotect(&rx, slim_buf_view(&out), &ac), SLIM_E_MLS_SENDER_BLANK);
        slim_buf_cleanup(&out);

        /* A bad signature: private (signed by another member) and public
         * (a flipped signature byte). */
        CHECK_STATUS(sealed_app(&tx, &rx, 1, g.sk[0], 0, 0), SLIM_E_MLS_BAD_SIGNATURE);
        fc = content(&tx, SLIM_MLS_SENDER_MEMBER, 1, SLIM_MLS_CONTENT_PROPOSAL);
        CHECK_OK(protect(&tx, SLIM_MLS_WIRE_PUBLIC_MESSAGE, &fc, g.sk[1], &out));
        slim_mls_message m;
        CHECK_OK(slim_mls_message_decode(slim_buf_view(&out), &m));
        /* The signature is followed by the membership tag (33 bytes). */
        out.data[out.len - 33 - 10] ^= 1;
        slim_status st = unprotect(&rx, slim_buf_view(&out), &ac);
        CHECK(st == SLIM_E_MLS_BAD_MEMBERSHIP_TAG); /* the tag covers the signature */
        /* A bad membership tag, everything else intact. */
        out.data[out.len - 33 - 10] ^= 1;
        out.data[out.len - 1] ^= 1;
        CHECK_STATUS(unprotect(&rx, slim_buf_view(&out), &ac), SLIM_E_MLS_BAD_MEMBERSHIP_TAG);
        out.data[out.len - 1] ^= 1;
        CHECK_OK(unprotect(&rx, slim_buf_view(&out), &ac));
        /* Signature wrong but tag right: a member with the membership key
         * signing for another leaf. */
        slim_buf_cleanup(&out);
        CHECK_OK(protect(&tx, SLIM_MLS_WIRE_PUBLIC_MESSAGE, &fc, g.sk[0], &out));
        CHECK_STATUS(unprotect(&rx, slim_buf_view(&out), &ac), SLIM_E_MLS_BAD_SIGNATURE);
        slim_buf_cleanup(&out);

        /* Non-zero padding; zero padding of any length is fine. */
        CHECK_STATUS(sealed_app(&tx, &rx, 1, g.sk[1], 20, 0x80), SLIM_E_MLS_BAD_PADDING);
        CHECK_OK(sealed_app(&tx, &rx, 1, g.sk[1], 300, 0));
        /* Content that does not parse. */
        seal_raw(&tx, 1, 1, slim_bytes_of("\x45", 1), &out);
        CHECK_STATUS(unprotect(&rx, slim_buf_view(&out), &ac), SLIM_E_MLS_TRUNCATED);
        slim_buf_cleanup(&out);

        /* Content type and sender rules of the wire format. */
        slim_mls_message pm;
        memset(&pm, 0, sizeof pm);
        pm.version = SLIM_MLS_VERSION_MLS10;
        pm.wire_format = SLIM_MLS_WIRE_PUBLIC_MESSAGE;
        pm.u.public_message.content = content(&tx, SLIM_MLS_SENDER_MEMBER, 1, 1);
        pm.u.public_message.auth.signature = slim_bytes_of("sig", 3);
        pm.u.public_message.membership_tag = slim_bytes_of(g.mkey, 32);
        CHECK_OK(slim_mls_message_encode(&pm, &out));
        CHECK_STATUS(unprotect(&rx, slim_buf_view(&out), &ac), SLIM_E_MLS_APPLICATION_IN_PUBLIC);
        slim_buf_cleanup(&out);
        static const struct {
            uint8_t sender, type;
        } not_allowed[] = {
            {SLIM_MLS_SENDER_EXTERNAL, SLIM_MLS_CONTENT_COMMIT},
            {SLIM_MLS_SENDER_NEW_MEMBER_PROPOSAL, SLIM_MLS_CONTENT_COMMIT},
            {SLIM_MLS_SENDER_NEW_MEMBER_PROPOSAL, SLIM_MLS_CONTENT_PROPOSAL}, /* not an Add */
            {SLIM_MLS_SENDER_NEW_MEMBER_COMMIT, SLIM_MLS_CONTENT_PROPOSAL},
        };
        for (size_t i = 0; i < SLIM_ARRAY_LEN(not_allowed); i++) {
            pm.u.public_message.content =
                content(&tx, not_allowed[i].sender, 0, not_allowed[i].type);
            CHECK_OK(slim_mls_message_encode(&pm, &out));
            CHECK_STATUS(unprotect(&rx, slim_buf_view(&out), &ac), SLIM_E_MLS_SENDER_NOT_ALLOWED);
            slim_buf_cleanup(&out);
        }
        /* An external sender's Update proposal is not allowed either. */
        pm.u.public_message.content =
            content(&tx, SLIM_MLS_SENDER_EXTERNAL, 0, SLIM_MLS_CONTENT_PROPOSAL);
        pm.u.public_message.content.u.proposal.type = SLIM_MLS_PROPOSAL_UPDATE;
        pm.u.public_message.content.u.proposal.u.update.source = SLIM_MLS_LEAF_SOURCE_UPDATE;
        pm.u.public_message.content.u.proposal.u.update.credential.type = 1;
        CHECK_OK(slim_mls_message_encode(&pm, &out));
        CHECK_STATUS(unprotect(&rx, slim_buf_view(&out), &ac), SLIM_E_MLS_SENDER_NOT_ALLOWED);
        slim_buf_cleanup(&out);

        /* Other wire formats are not framed messages. */
        slim_mls_message wm;
        memset(&wm, 0, sizeof wm);
        wm.version = SLIM_MLS_VERSION_MLS10;
        wm.wire_format = SLIM_MLS_WIRE_WELCOME;
        wm.u.welcome.cipher_suite = id;
        CHECK_OK(slim_mls_message_encode(&wm, &out));
        CHECK_STATUS(unprotect(&rx, slim_buf_view(&out), &ac), SLIM_E_MLS_NOT_FRAMED);
        slim_buf_cleanup(&out);

        member_free(&tx);
        member_free(&rx);
        group_free(&g);
    }
}

TEST(protect_refusals_are_named) {
    group g;
    group_init(&g, 1, 3);
    member tx;
    member_init(&tx, &g, LEAVES);
    slim_buf out = SLIM_BUF_INIT;
    slim_mls_framed_content fc = content(&tx, SLIM_MLS_SENDER_MEMBER, 1, 1);
    /* Application data as a PublicMessage. */
    CHECK_STATUS(protect(&tx, SLIM_MLS_WIRE_PUBLIC_MESSAGE, &fc, g.sk[1], &out),
                 SLIM_E_MLS_APPLICATION_IN_PUBLIC);
    CHECK_EQ(out.len, 0);
    /* A PrivateMessage from a non-member. */
    fc = content(&tx, SLIM_MLS_SENDER_EXTERNAL, 0, SLIM_MLS_CONTENT_PROPOSAL);
    CHECK_STATUS(protect(&tx, SLIM_MLS_WIRE_PRIVATE_MESSAGE, &fc, g.sk[LEAVES], &out),
                 SLIM_E_MLS_SENDER_NOT_ALLOWED);
    /* Another epoch, another group, a leaf outside the tree. */
    fc = content(&tx, SLIM_MLS_SENDER_MEMBER, 1, 1);
    fc.epoch = 4;
    CHECK_STATUS(protect(&tx, SLIM_MLS_WIRE_PRIVATE_MESSAGE, &fc, g.sk[1], &out),
                 SLIM_E_MLS_WRONG_EPOCH);
    fc.epoch = 3;
    fc.group_id = slim_bytes_of("x", 1);
    CHECK_STATUS(protect(&tx, SLIM_MLS_WIRE_PRIVATE_MESSAGE, &fc, g.sk[1], &out),
                 SLIM_E_MLS_WRONG_GROUP);
    fc = content(&tx, SLIM_MLS_SENDER_MEMBER, LEAVES, 1);
    CHECK_STATUS(protect(&tx, SLIM_MLS_WIRE_PRIVATE_MESSAGE, &fc, g.sk[1], &out),
                 SLIM_E_MLS_SENDER_OUTSIDE_TREE);
    /* Signed for one wire format, protected as the other. */
    fc = content(&tx, SLIM_MLS_SENDER_MEMBER, 1, SLIM_MLS_CONTENT_PROPOSAL);
    slim_mls_authenticated_content ac;
    memset(&ac, 0, sizeof ac);
    ac.wire_format = SLIM_MLS_WIRE_PUBLIC_MESSAGE;
    ac.content = fc;
    CHECK_STATUS(slim_mls_private_message_protect(&tx.ctx, &ac, &test_rng, &out),
                 SLIM_E_MLS_NOT_FRAMED);
    ac.wire_format = SLIM_MLS_WIRE_PRIVATE_MESSAGE;
    CHECK_STATUS(slim_mls_public_message_protect(&tx.ctx, &ac, &out), SLIM_E_MLS_NOT_FRAMED);
    /* Missing keys; a padding block above the maximum. */
    tx.ctx.padding_block = SLIM_MLS_PADDING_BLOCK_MAX + 1;
    CHECK_STATUS(slim_mls_private_message_protect(&tx.ctx, &ac, &test_rng, &out),
                 SLIM_E_INVALID_ARG);
    tx.ctx.padding_block = 0;
    tx.ctx.sender_data_secret = slim_bytes_of(NULL, 0);
    CHECK_STATUS(slim_mls_private_message_protect(&tx.ctx, &ac, &test_rng, &out),
                 SLIM_E_INVALID_ARG);
    ac.wire_format = SLIM_MLS_WIRE_PUBLIC_MESSAGE;
    tx.ctx.membership_key = slim_bytes_of(NULL, 0);
    CHECK_STATUS(slim_mls_public_message_protect(&tx.ctx, &ac, &out), SLIM_E_INVALID_ARG);
    CHECK_EQ(out.len, 0);
    /* The context must be of the suite it is given. */
    slim_mls_framing_ctx c2;
    CHECK_STATUS(slim_mls_framing_init(&c2, slim_mls_suite_get(2), slim_buf_view(&g.gc)),
                 SLIM_E_MLS_SUITE_MISMATCH);
    CHECK_STATUS(slim_mls_framing_init(&c2, g.s, slim_bytes_of("\x00\x01", 2)),
                 SLIM_E_MLS_TRUNCATED);
    member_free(&tx);
    group_free(&g);
}

/* ---- the secret tree's keys -------------------------------------------- */

TEST(failed_unprotect_keeps_the_key_success_uses_it) {
    for (uint16_t id = 1; id <= 2; id++) {
        group g;
        group_init(&g, id, 5);
        member tx, rx;
        member_init(&tx, &g, LEAVES);
        member_init(&rx, &g, LEAVES);
        slim_buf out = SLIM_BUF_INIT, plain = SLIM_BUF_INIT;
        slim_mls_authenticated_content ac;
        CHECK_OK(slim_mls_protect_application(&tx.ctx, 1, g.sk[1], slim_bytes_of("hdr", 3),
                                              slim_bytes_of("payload", 7), &test_rng, &out));
        slim_mls_message m;
        CHECK_OK(slim_mls_message_decode(slim_buf_view(&out), &m));
        size_t ct_at = (size_t)(m.u.private_message.ciphertext.ptr - out.data);
        size_t ad_at = (size_t)(m.u.private_message.authenticated_data.ptr - out.data);
        /* A flipped ciphertext byte, then a flipped authenticated_data
         * byte: the content does not decrypt, and the plaintext buffer
         * is left empty. */
        out.data[ct_at + 40] ^= 1;
        CHECK_STATUS(slim_mls_unprotect(&rx.ctx, slim_buf_view(&out), &plain, &ac),
                     SLIM_E_MLS_CONTENT_DECRYPT);
        CHECK_EQ(plain.len, 0);
        out.data[ct_at + 40] ^= 1;
        out.data[ad_at] ^= 1;
        CHECK_STATUS(slim_mls_unprotect(&rx.ctx, slim_buf_view(&out), &plain, &ac),
                     SLIM_E_MLS_CONTENT_DECRYPT);
        out.data[ad_at] ^= 1;
        /* A forgery with the right sender data but a bad signature. */
        slim_buf pt = SLIM_BUF_INIT, forged = SLIM_BUF_INIT;
        member forger;
        member_init(&forger, &g, LEAVES);
        app_plaintext(&forger, 1, g.sk[0], 0, 0, &pt);
        seal_raw(&forger, 1, 1, slim_buf_view(&pt), &forged);
        CHECK_STATUS(unprotect(&rx, slim_buf_view(&forged), &ac), SLIM_E_MLS_BAD_SIGNATURE);
        member_free(&forger);
        slim_buf_cleanup(&pt);
        slim_buf_cleanup(&forged);
        /* The genuine message still decrypts, once. */
        slim_status st = slim_mls_unprotect(&rx.ctx, slim_buf_view(&out), &plain, &ac);
        CHECK_OK(st);
        if (st == SLIM_OK) {
            CHECK_MEM(ac.content.u.application_data.ptr, "payload", 7);
            CHECK_MEM(ac.content.authenticated_data.ptr, "hdr", 3);
        }
        CHECK_STATUS(slim_mls_unprotect(&rx.ctx, slim_buf_view(&out), &plain, &ac),
                     SLIM_E_MLS_GENERATION_REUSED);
        slim_buf_cleanup(&out);
        slim_buf_cleanup_secret(&plain);
        member_free(&tx);
        member_free(&rx);
        group_free(&g);
    }
}

TEST(out_of_order_delivery_and_ratchet_types) {
    group g;
    group_init(&g, 2, 1);
    member tx, rx;
    member_init(&tx, &g, LEAVES);
    member_init(&rx, &g, LEAVES);
    slim_buf msgs[5];
    for (int i = 0; i < 5; i++) {
        slim_buf_init(&msgs[i]);
        if (i == 2) {
            /* A proposal in the middle: handshake ratchet, generation 0. */
            slim_mls_framed_content fc = content(&tx, SLIM_MLS_SENDER_MEMBER, 0, 2);
            CHECK_OK(protect(&tx, SLIM_MLS_WIRE_PRIVATE_MESSAGE, &fc, g.sk[0], &msgs[i]));
        } else {
            CHECK_OK(slim_mls_protect_application(&tx.ctx, 0, g.sk[0], slim_bytes_of(NULL, 0),
                                                  slim_bytes_of("m", 1), &test_rng, &msgs[i]));
        }
    }
    static const int order[] = {4, 0, 2, 3, 1};
    slim_mls_authenticated_content ac;
    for (int i = 0; i < 5; i++)
        CHECK_OK(unprotect(&rx, slim_buf_view(&msgs[order[i]]), &ac));
    for (int i = 0; i < 5; i++) {
        CHECK_STATUS(unprotect(&rx, slim_buf_view(&msgs[i]), &ac), SLIM_E_MLS_GENERATION_REUSED);
        slim_buf_cleanup(&msgs[i]);
    }
    member_free(&tx);
    member_free(&rx);
    group_free(&g);
}

TEST(padding_policy) {
    group g;
    group_init(&g, 1, 1);
    member tx, rx;
    member_init(&tx, &g, LEAVES);
    member_init(&rx, &g, LEAVES);
    static const size_t blocks[] = {0, 1, 32, 100, 4096};
    for (size_t b = 0; b < SLIM_ARRAY_LEN(blocks); b++) {
        tx.ctx.padding_block = blocks[b];
        size_t block = blocks[b] ? blocks[b] : SLIM_MLS_PADDING_BLOCK;
        for (size_t len = 0; len < 140; len += 23) {
            uint8_t data[140] = {0};
            slim_buf out = SLIM_BUF_INIT;
            slim_mls_authenticated_content ac;
            CHECK_OK(slim_mls_protect_application(&tx.ctx, 0, g.sk[0], slim_bytes_of(NULL, 0),
                                                  slim_bytes_of(data, len), &test_rng, &out));
            slim_mls_message m;
            CHECK_OK(slim_mls_message_decode(slim_buf_view(&out), &m));
            size_t content_len = m.u.private_message.ciphertext.len - g.s->nt;
            size_t unpadded = (len < 64 ? 1 : 2) + len + 2 + 64;
            CHECK_EQ(content_len % block, 0);
            CHECK(content_len >= unpadded && content_len < unpadded + block);
            CHECK_EQ(slim_mls_padding_for(unpadded, blocks[b]), content_len - unpadded);
            CHECK_OK(unprotect(&rx, slim_buf_view(&out), &ac));
            CHECK_EQ(ac.content.u.application_data.len, len);
            slim_buf_cleanup(&out);
        }
    }
    member_free(&tx);
    member_free(&rx);
    group_free(&g);
}

static slim_status failing_rng(void *ctx, uint8_t *out, size_t n) {
    (void)ctx;
    (void)out;
    (void)n;
    return SLIM_E_MLS_RNG;
}

TEST(rng_failure_keeps_the_ratchet) {
    group g;
    group_init(&g, 1, 1);
    member tx, rx;
    member_init(&tx, &g, LEAVES);
    member_init(&rx, &g, LEAVES);
    slim_mls_rng bad = {failing_rng, NULL};
    slim_buf out = SLIM_BUF_INIT;
    CHECK_STATUS(slim_mls_protect_application(&tx.ctx, 0, g.sk[0], slim_bytes_of(NULL, 0),
                                              slim_bytes_of("m", 1), &bad, &out),
                 SLIM_E_MLS_RNG);
    CHECK_EQ(out.len, 0);
    CHECK_OK(slim_mls_protect_application(&tx.ctx, 0, g.sk[0], slim_bytes_of(NULL, 0),
                                          slim_bytes_of("m", 1), &test_rng, &out));
    slim_mls_message m;
    CHECK_OK(slim_mls_message_decode(slim_buf_view(&out), &m));
    /* Generation 0 was not used up by the failed call. */
    slim_mls_ratchet_key rk;
    CHECK_OK(slim_mls_secret_tree_get(rx.tree, 0, SLIM_MLS_RATCHET_APPLICATION, 0, &rk));
    slim_mls_ratchet_key_cleanup(&rk);
    slim_mls_authenticated_content ac;
    CHECK_OK(unprotect(&rx, slim_buf_view(&out), &ac));
    slim_buf_cleanup(&out);
    member_free(&tx);
    member_free(&rx);
    group_free(&g);
}

TEST(allocation_failures_are_clean) {
    group g;
    group_init(&g, 2, 1);
    member tx, rx;
    test_alloc_install();
    member_init(&tx, &g, LEAVES);
    member_init(&rx, &g, LEAVES);
    /* Protect: fails cleanly until it succeeds. */
    slim_buf out = SLIM_BUF_INIT;
    bool done = false;
    for (long n = 1; n < 100 && !done; n++) {
        test_alloc_fail_after(n);
        slim_status st = slim_mls_protect_application(&tx.ctx, 0, g.sk[0], slim_bytes_of("a", 1),
                                                      slim_bytes_of("m", 1), &test_rng, &out);
        test_alloc_fail_after(0);
        CHECK(st == SLIM_OK || st == SLIM_E_NOMEM);
        if (st != SLIM_OK)
            CHECK_EQ(out.len, 0);
        done = st == SLIM_OK;
    }
    CHECK(done);
    /* Unprotect: every failure leaves the key, so the next try works. */
    done = false;
    for (long n = 1; n < 100 && !done; n++) {
        slim_buf plain = SLIM_BUF_INIT;
        slim_mls_authenticated_content ac;
        test_alloc_fail_after(n);
        slim_status st = slim_mls_unprotect(&rx.ctx, slim_buf_view(&out), &plain, &ac);
        test_alloc_fail_after(0);
        CHECK(st == SLIM_OK || st == SLIM_E_NOMEM);
        done = st == SLIM_OK;
        slim_buf_cleanup_secret(&plain);
    }
    CHECK(done);
    slim_buf_cleanup(&out);
    member_free(&tx);
    member_free(&rx);
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_uninstall();
    group_free(&g);
}

/* ---- primitives of the per-message path --------------------------------- */

TEST(prepared_hkdf_matches_openssl_hkdf) {
    const slim_mls_suite *s = slim_mls_suite_get(1);
    slim_mls_prepared *p = NULL;
    CHECK_OK(slim_mls_suite_prepare(s, &p));
    /* RFC 5869 A.1: PRK and OKM of 42 bytes. */
    uint8_t prk[32], info[10], okm[42], want[42];
    HEXV(prk, "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    HEXV(info, "f0f1f2f3f4f5f6f7f8f9");
    HEXV(want,
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    slim_bytes part = slim_bytes_of(info, 10);
    CHECK_OK(slim_mls_prepared_hkdf_expand(p, slim_bytes_of(prk, 32), &part, 1, okm, 42));
    CHECK_MEM(okm, want, 42);
    /* Every length up to 3 blocks, info in two pieces, against OpenSSL. */
    uint8_t a[100], b[100];
    for (size_t len = 1; len <= 96; len++) {
        slim_bytes parts[2] = {slim_bytes_of(info, 4), slim_bytes_of(info + 4, 6)};
        CHECK_OK(slim_mls_prepared_hkdf_expand(p, slim_bytes_of(prk, 32), parts, 2, a, len));
        CHECK_OK(slim_mls_hkdf_expand(SLIM_MLS_HASH_SHA256, slim_bytes_of(prk, 32), part, b, len));
        CHECK_MEM(a, b, len);
    }
    CHECK_STATUS(slim_mls_prepared_hkdf_expand(p, slim_bytes_of(prk, 32), &part, 1, a, 0),
                 SLIM_E_MLS_KDF_LENGTH);
    /* Several labels at once equal one at a time, prepared or not. */
    static const char *const labels[3] = {"key", "nonce", "secret"};
    uint8_t k1[16], n1[12], s1[32], k2[16], n2[12], s2[32];
    uint8_t *const o1[3] = {k1, n1, s1}, *const o2[3] = {k2, n2, s2};
    const size_t lens[3] = {16, 12, 32};
    slim_bytes ctx = slim_bytes_of("\x00\x00\x00\x07", 4);
    CHECK_OK(
        slim_mls_expand_labels_prepared(s, p, slim_bytes_of(prk, 32), ctx, 3, labels, o1, lens));
    CHECK_OK(
        slim_mls_expand_labels_prepared(s, NULL, slim_bytes_of(prk, 32), ctx, 3, labels, o2, lens));
    CHECK_MEM(k1, k2, 16);
    CHECK_MEM(n1, n2, 12);
    CHECK_MEM(s1, s2, 32);
    CHECK_OK(slim_mls_expand_with_label(s, slim_bytes_of(prk, 32), "nonce", ctx, n2, 12));
    CHECK_MEM(n1, n2, 12);
    CHECK_STATUS(
        slim_mls_expand_labels_prepared(s, p, slim_bytes_of(prk, 32), ctx, 5, labels, o1, lens),
        SLIM_E_INVALID_ARG);
    /* The prepared AEAD interoperates with the plain one. */
    slim_buf ct = SLIM_BUF_INIT, pt = SLIM_BUF_INIT;
    CHECK_OK(slim_mls_suite_seal_prepared(s, p, slim_bytes_of(k1, 16), slim_bytes_of(n1, 12),
                                          slim_bytes_of("aad", 3), slim_bytes_of("text", 4), &ct));
    CHECK_OK(slim_mls_suite_open(s, slim_bytes_of(k1, 16), slim_bytes_of(n1, 12),
                                 slim_bytes_of("aad", 3), slim_buf_view(&ct), &pt));
    CHECK_MEM(pt.data, "text", 4);
    ct.data[0] ^= 1;
    CHECK_STATUS(slim_mls_suite_open_prepared(s, p, slim_bytes_of(k1, 16), slim_bytes_of(n1, 12),
                                              slim_bytes_of("aad", 3), slim_buf_view(&ct), &pt),
                 SLIM_E_MLS_AEAD_OPEN);
    slim_buf_cleanup(&ct);
    slim_buf_cleanup(&pt);
    slim_mls_prepared_free(p);
    slim_mls_prepared_free(NULL);
    CHECK_STATUS(slim_mls_prepared_new((slim_mls_hash_alg)9, SLIM_MLS_AEAD_AES128GCM, &p),
                 SLIM_E_INVALID_ARG);
}

TEST(rng_pool_hands_out_each_byte_once) {
    uint32_t state = 1;
    slim_mls_rng src = {counting_fill, &state};
    slim_mls_rng_pool pool;
    slim_mls_rng_pool_init(&pool, &src);
    /* The pool gives the source's stream in order, across refills. */
    uint8_t got[1000], want[1000];
    size_t n = 0;
    while (n + 7 <= sizeof got) {
        CHECK_OK(slim_mls_rng_fill(&pool.rng, got + n, 7));
        n += 7;
    }
    uint32_t state2 = 1;
    slim_mls_rng src2 = {counting_fill, &state2};
    /* Refills draw whole pools; bytes left over at a refill are dropped. */
    size_t i = 0;
    while (i < n) {
        uint8_t block[SLIM_MLS_RNG_POOL];
        CHECK_OK(slim_mls_rng_fill(&src2, block, sizeof block));
        size_t use = SLIM_MLS_RNG_POOL / 7 * 7;
        memcpy(want + i, block, use < n - i ? use : n - i);
        i += use;
    }
    CHECK_MEM(got, want, n);
    /* Used bytes are wiped from the pool. */
    size_t used = SLIM_MLS_RNG_POOL - pool.left;
    for (size_t j = 0; j < used; j++)
        CHECK_EQ(pool.bytes[j], 0);
    /* Large requests go to the source; failures come through. */
    CHECK_OK(slim_mls_rng_fill(&pool.rng, got, 200));
    slim_mls_rng_pool_cleanup(&pool);
    slim_mls_rng bad = {failing_fill, NULL};
    slim_mls_rng_pool_init(&pool, &bad);
    CHECK_STATUS(slim_mls_rng_fill(&pool.rng, got, 4), SLIM_E_MLS_RNG);
    CHECK_STATUS(slim_mls_rng_fill(&pool.rng, got, 100), SLIM_E_MLS_RNG);
    slim_mls_rng_pool_cleanup(&pool);
}

/* The fixed group of the fuzz targets: its messages unprotect, and they
 * are the seeds of fuzz_mls_unprotect. */
TEST(fixture_messages_unprotect) {
    for (uint16_t id = 1; id <= 2; id++) {
        mls_fixture f;
        CHECK_OK(mls_fixture_init(&f, id));
        slim_mls_framing_ctx tx, rx;
        CHECK_OK(mls_fixture_member(&f, &tx));
        char name[64];
        uint8_t suite_bit = (uint8_t)(id - 1);
        /* Mode 0: whole messages, each checked by a fresh receiver. */
        for (int i = 0; i < 4; i++) {
            slim_buf out = SLIM_BUF_INIT;
            const char *what;
            if (i == 0) {
                what = "application";
                CHECK_OK(slim_mls_protect_application(&tx, 1, f.sk[1], slim_bytes_of("ad", 2),
                                                      slim_bytes_of("fuzz me", 7), &test_rng,
                                                      &out));
            } else {
                uint16_t wf = i == 1 ? SLIM_MLS_WIRE_PRIVATE_MESSAGE : SLIM_MLS_WIRE_PUBLIC_MESSAGE;
                uint8_t type = i == 3 ? SLIM_MLS_CONTENT_COMMIT : SLIM_MLS_CONTENT_PROPOSAL;
                what = i == 1 ? "private-proposal" : i == 2 ? "public-proposal" : "public-commit";
                member m = {tx, tx.secret_tree};
                slim_mls_framed_content fc = content(&m, SLIM_MLS_SENDER_MEMBER, 2, type);
                CHECK_OK(protect(&m, wf, &fc, f.sk[2], &out));
            }
            CHECK_OK(mls_fixture_member(&f, &rx));
            slim_mls_authenticated_content ac;
            slim_buf plain = SLIM_BUF_INIT;
            CHECK_OK(slim_mls_unprotect(&rx, slim_buf_view(&out), &plain, &ac));
            snprintf(name, sizeof name, "suite%u-%s", id, what);
            write_fuzz_seed("fuzz_mls_unprotect", name, suite_bit, slim_buf_view(&out));
            slim_mls_secret_tree_free(rx.secret_tree);
            slim_buf_cleanup_secret(&plain);
            slim_buf_cleanup(&out);
        }
        /* Mode 1: [leaf][content type][ad length][ad][plaintext]. */
        for (size_t pad = 0; pad <= 40; pad += 40) {
            slim_buf seed = SLIM_BUF_INIT, msg = SLIM_BUF_INIT;
            CHECK_OK(slim_buf_append(&seed,
                                     "\x03\x00\x02"
                                     "ad",
                                     5));
            CHECK_OK(mls_fixture_app_plaintext(&tx, f.sk[3], 3, slim_bytes_of("ad", 2),
                                               slim_bytes_of("sealed", 6), pad, 0, &seed));
            CHECK_OK(mls_fixture_seal_raw(&tx, 3, SLIM_MLS_CONTENT_APPLICATION,
                                          slim_bytes_of("ad", 2),
                                          slim_bytes_of(seed.data + 5, seed.len - 5), &msg));
            CHECK_OK(mls_fixture_member(&f, &rx));
            slim_mls_authenticated_content ac;
            slim_buf plain = SLIM_BUF_INIT;
            CHECK_OK(slim_mls_unprotect(&rx, slim_buf_view(&msg), &plain, &ac));
            snprintf(name, sizeof name, "suite%u-sealed-pad%zu", id, pad);
            write_fuzz_seed("fuzz_mls_unprotect", name, (uint8_t)(suite_bit | 2),
                            slim_buf_view(&seed));
            slim_mls_secret_tree_free(rx.secret_tree);
            slim_buf_cleanup_secret(&plain);
            slim_buf_cleanup(&seed);
            slim_buf_cleanup(&msg);
        }
        slim_mls_secret_tree_free(tx.secret_tree);
        mls_fixture_free(&f);
    }
}

TEST_MAIN(TEST_ENTRY(round_trips_for_every_content_and_sender),
          TEST_ENTRY(unprotect_refusals_are_named), TEST_ENTRY(protect_refusals_are_named),
          TEST_ENTRY(failed_unprotect_keeps_the_key_success_uses_it),
          TEST_ENTRY(out_of_order_delivery_and_ratchet_types), TEST_ENTRY(padding_policy),
          TEST_ENTRY(rng_failure_keeps_the_ratchet), TEST_ENTRY(allocation_failures_are_clean),
          TEST_ENTRY(prepared_hkdf_matches_openssl_hkdf),
          TEST_ENTRY(rng_pool_hands_out_each_byte_once), TEST_ENTRY(fixture_messages_unprotect))
