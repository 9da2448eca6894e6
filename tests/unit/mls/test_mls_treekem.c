/*
 * Unit tests for TreeKEM (src/mls/treekem.c) and for LeafNode and
 * KeyPackage creation and validation (src/mls/member.c, validate.c).
 *
 * Groups are driven through the fixture: every member keeps its own copy
 * of the tree and its own private state, and each commit is created by
 * one member and processed by all the others, who must reach the same
 * tree and commit secret independently. The refusals of UpdatePath
 * processing use forged paths, each breaking one rule, and check that
 * neither the tree nor the private state changed. KeyPackage checks
 * compare with values recomputed here from the RFC's definitions (the
 * KeyPackageRef with OpenSSL's SHA-256 over RefHashInput built by hand).
 * A private state saved and loaded is the same; a malformed one or one
 * whose keys are not the tree's is refused.
 */
#include "mls_tree_fixture.h"

#include <openssl/evp.h>

static const uint16_t SUITES[] = {1, 2};

/* ---- helpers ------------------------------------------------------------ */

typedef struct forged {
    const slim_mls_suite *s;
    slim_buf enc; /* the UpdatePath, encoded */
    slim_mls_update_path p;
} forged;

static void forged_init(forged *f, const slim_mls_suite *s) {
    memset(f, 0, sizeof *f);
    f->s = s;
}

static void decode_path(forged *f) {
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(&f->enc));
    slim_mls_update_path_decode(&r, &f->p);
    CHECK_OK(slim_mls_tls_reader_finish(&r));
}

/* Re-encodes an UpdatePath from a leaf and node list views. */
static void encode_path(forged *f, const slim_mls_leaf_node *leaf, slim_bytes nodes_body,
                        uint32_t count) {
    slim_mls_update_path p;
    p.leaf_node = *leaf;
    p.nodes.body = nodes_body;
    p.nodes.count = count;
    slim_buf out = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &out);
    CHECK_OK(slim_mls_update_path_encode(&w, &p));
    slim_buf_cleanup(&f->enc);
    f->enc = out;
    decode_path(f);
}

/* Two paths of one sender made from the same tree (a and b, each with
 * the context it was sealed with) and a buffer for forgeries (x). */
typedef struct path_pair {
    forged a, b, x;
    slim_buf ctx_a, ctx_b;
} path_pair;

static void make_path(tgroup *g, size_t c, slim_buf *up, slim_buf *ctx, uint8_t *commit);

static void path_pair_make(path_pair *pp, tgroup *g, size_t sender) {
    memset(pp, 0, sizeof *pp);
    forged_init(&pp->a, g->s);
    forged_init(&pp->b, g->s);
    forged_init(&pp->x, g->s);
    make_path(g, sender, &pp->a.enc, &pp->ctx_a, NULL);
    decode_path(&pp->a);
    make_path(g, sender, &pp->b.enc, &pp->ctx_b, NULL);
    decode_path(&pp->b);
}

static void path_pair_cleanup(path_pair *pp) {
    slim_buf_cleanup(&pp->a.enc);
    slim_buf_cleanup(&pp->b.enc);
    slim_buf_cleanup(&pp->x.enc);
    slim_buf_cleanup(&pp->ctx_a);
    slim_buf_cleanup(&pp->ctx_b);
}

/* A path member c would send (created on a clone of its tree, which is
 * dropped): the UpdatePath and the group context it was sealed with. */
static void make_path(tgroup *g, size_t c, slim_buf *up, slim_buf *ctx, uint8_t *commit) {
    slim_mls_tree *t = NULL;
    slim_mls_path *path = NULL;
    CHECK_OK(slim_mls_tree_clone(g->m[c].tree, &t));
    CHECK_OK(slim_mls_treekem_path_begin(t, g->m[c].leaf, &g->m[c].params,
                                         slim_bytes_of(g->group_id, sizeof g->group_id), &g->rng,
                                         &path));
    tg_context(g, t, ctx);
    up->len = 0;
    CHECK_OK(slim_mls_treekem_path_seal(t, path, slim_buf_view(ctx), NULL, 0, &g->rng, up));
    if (commit != NULL)
        slim_mls_path_commit_secret(path, commit);
    slim_mls_path_free(path);
    slim_mls_tree_free(t);
}

/* Merging `p` from `sender` into a copy of member j's tree fails with
 * `want`, and the copy is unchanged. */
static void expect_merge_refused(tgroup *g, size_t j, uint32_t sender,
                                 const slim_mls_update_path *p, const uint32_t *ex, size_t n_ex,
                                 slim_status want) {
    slim_mls_tree *t = NULL;
    slim_buf before = SLIM_BUF_INIT, after = SLIM_BUF_INIT;
    CHECK_OK(slim_mls_tree_clone(g->m[j].tree, &t));
    tg_encode(t, &before);
    slim_mls_validation v = tg_validation(g);
    CHECK_STATUS(slim_mls_treekem_path_merge(t, &v, sender, p, ex, n_ex), want);
    tg_encode(t, &after);
    CHECK(before.len == after.len && memcmp(before.data, after.data, before.len) == 0);
    slim_mls_tree_free(t);
    slim_buf_cleanup(&before);
    slim_buf_cleanup(&after);
}

/* ---- groups --------------------------------------------------------------- */

TEST(every_member_reaches_the_committers_tree_and_commit_secret) {
    for (size_t si = 0; si < SLIM_ARRAY_LEN(SUITES); si++) {
        for (size_t n = 1; n <= 9; n += 4) {
            tgroup g;
            tg_init(&g, SUITES[si], n);
            for (size_t round = 0; round < 2 * n; round++)
                tg_commit(&g, (round * 7) % n, NULL);
            slim_mls_validation v = tg_validation(&g);
            CHECK_OK(slim_mls_tree_validate(g.m[0].tree, &v, slim_bytes_of(NULL, 0)));
            tg_free(&g);
        }
    }
}

TEST(removes_adds_and_unmerged_leaves_keep_the_group_in_step) {
    for (size_t si = 0; si < SLIM_ARRAY_LEN(SUITES); si++) {
        tgroup g;
        tg_init(&g, SUITES[si], 6);
        tg_commit(&g, 0, NULL);
        tg_commit(&g, 5, NULL);
        tg_remove(&g, 2);
        tg_remove(&g, 5); /* leaf 4 is still in the right half: 8 leaves */
        CHECK_EQ(slim_mls_tree_leaf_count(g.m[0].tree), 8);
        tg_remove(&g, 4);
        CHECK_EQ(slim_mls_tree_leaf_count(g.m[0].tree), 4);
        size_t a = tg_add(&g), b = tg_add(&g), c = tg_add(&g);
        CHECK_EQ(g.m[a].leaf, 2);
        CHECK_EQ(g.m[b].leaf, 4);
        CHECK_EQ(g.m[c].leaf, 5);
        /* New members only hold their leaf key: the next commit reaches
         * them through the unmerged leaves of the nodes above them. */
        tg_commit(&g, 1, NULL);
        tg_commit(&g, c, NULL);
        tg_commit(&g, a, NULL);
        slim_mls_validation v = tg_validation(&g);
        for (size_t i = 0; i < g.n; i++) {
            if (g.m[i].in)
                CHECK_OK(slim_mls_tree_validate(g.m[i].tree, &v, slim_bytes_of(NULL, 0)));
        }
        tg_free(&g);
    }
}

/* A commit that adds members: the committer encrypts to the copath
 * resolutions without the new leaves; the new members get the path
 * secret of their common ancestor with the committer (as a Welcome
 * carries it) and can then follow the next commit. */
TEST(new_members_are_excluded_and_join_with_the_common_ancestors_secret) {
    for (size_t si = 0; si < SLIM_ARRAY_LEN(SUITES); si++) {
        tgroup g;
        tg_init(&g, SUITES[si], 5);
        tg_commit(&g, 3, NULL);
        const slim_mls_suite *s = g.s;
        /* Two KeyPackages; member 1 adds them and commits with a path. */
        size_t na = g.n++, nb = g.n++;
        tg_make_member(&g, na);
        tg_make_member(&g, nb);
        uint32_t la, lb, ex[2];
        slim_mls_tree *t = NULL;
        CHECK_OK(slim_mls_tree_clone(g.m[1].tree, &t));
        CHECK_OK(slim_mls_tree_add(t, &g.m[na].kpv.leaf_node, &la));
        CHECK_OK(slim_mls_tree_add(t, &g.m[nb].kpv.leaf_node, &lb));
        CHECK_EQ(la, 5);
        CHECK_EQ(lb, 6);
        ex[0] = la;
        ex[1] = lb;
        slim_mls_path *path = NULL;
        slim_buf ctx = SLIM_BUF_INIT, up = SLIM_BUF_INIT;
        g.epoch++;
        CHECK_OK(slim_mls_treekem_path_begin(
            t, 1, &g.m[1].params, slim_bytes_of(g.group_id, sizeof g.group_id), &g.rng, &path));
        tg_context(&g, t, &ctx);
        CHECK_OK(slim_mls_treekem_path_seal(t, path, slim_buf_view(&ctx), ex, 2, &g.rng, &up));
        forged f;
        forged_init(&f, s);
        f.enc = up;
        up = (slim_buf)SLIM_BUF_INIT;
        decode_path(&f);
        /* At the root, the copath child (node 11, blank) resolves to
         * leaves 4, 5 and 6: only leaf 4 gets a ciphertext. */
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, f.p.nodes.body);
        slim_mls_update_path_node upn;
        for (int i = 0; i < 3; i++)
            CHECK_OK(slim_mls_update_path_node_decode(&r, &upn));
        CHECK_EQ(upn.encrypted_path_secret.count, 1);
        uint8_t commit[SLIM_MLS_MAX_HASH];
        slim_mls_path_commit_secret(path, commit);
        slim_mls_validation v = tg_validation(&g);
        for (size_t j = 0; j < 5; j++) {
            if (j == 1)
                continue;
            tmember *m = &g.m[j];
            CHECK_OK(slim_mls_tree_add(m->tree, &g.m[na].kpv.leaf_node, NULL));
            CHECK_OK(slim_mls_tree_add(m->tree, &g.m[nb].kpv.leaf_node, NULL));
            /* Without the exclusion the ciphertext counts do not match. */
            expect_merge_refused(&g, j, 1, &f.p, NULL, 0, SLIM_E_MLS_PATH_CIPHERTEXT_COUNT);
            CHECK_OK(slim_mls_treekem_path_merge(m->tree, &v, 1, &f.p, ex, 2));
            uint8_t mine[SLIM_MLS_MAX_HASH];
            CHECK_OK(slim_mls_treekem_path_decrypt(m->tree, 1, &f.p, slim_buf_view(&ctx), ex, 2,
                                                   &m->priv, mine, NULL));
            CHECK_MEM(mine, commit, s->nh);
        }
        slim_mls_path_apply(path, &g.m[1].priv);
        slim_mls_tree_free(g.m[1].tree);
        g.m[1].tree = t;
        /* The joiners: leaf key, then the path secret of the common
         * ancestor with leaf 1 (the root, node 7) and the chain above. */
        for (size_t j = na; j <= nb; j++) {
            tmember *m = &g.m[j];
            m->leaf = j == na ? la : lb;
            CHECK_OK(slim_mls_tree_clone(t, &m->tree));
            CHECK_OK(slim_mls_tree_priv_init(&m->priv, m->tree, m->leaf,
                                             slim_bytes_of(m->keys.encryption_priv, s->kem_nsk)));
            uint32_t lca;
            CHECK_OK(slim_mls_tree_common_ancestor(2 * m->leaf, 2, 8, &lca));
            CHECK_EQ(lca, 7);
            uint8_t ps[SLIM_MLS_MAX_HASH];
            CHECK_OK(slim_mls_path_secret(path, lca, ps));
            uint8_t wrong[SLIM_MLS_MAX_HASH];
            memcpy(wrong, ps, s->nh);
            wrong[0] ^= 1;
            slim_mls_tree_priv before = m->priv;
            CHECK_STATUS(slim_mls_tree_priv_set_path_secret(&m->priv, m->tree, lca,
                                                            slim_bytes_of(wrong, s->nh)),
                         SLIM_E_MLS_PRIVATE_KEY_MISMATCH);
            CHECK(memcmp(&before, &m->priv, sizeof before) == 0);
            CHECK_OK(slim_mls_tree_priv_set_path_secret(&m->priv, m->tree, lca,
                                                        slim_bytes_of(ps, s->nh)));
            CHECK_OK(slim_mls_tree_priv_check(&m->priv, m->tree));
            CHECK_EQ(m->priv.have, 1u << 3);
            m->in = true;
            slim_mls_tree_priv_cleanup(&before);
        }
        /* Not on the path: E_NOT_FOUND. */
        uint8_t ps[SLIM_MLS_MAX_HASH];
        CHECK_STATUS(slim_mls_path_secret(path, 9, ps), SLIM_E_NOT_FOUND);
        /* Everyone follows the next commits, the joiners included. */
        tg_commit(&g, 4, NULL);
        tg_commit(&g, nb, NULL);
        slim_mls_path_free(path);
        slim_buf_cleanup(&ctx);
        slim_buf_cleanup(&f.enc);
        tg_free(&g);
    }
}

TEST(an_external_committer_takes_the_leftmost_blank_leaf) {
    tgroup g;
    tg_init(&g, 2, 3);
    tg_remove(&g, 1);
    size_t e = g.n++;
    tg_make_member(&g, e);
    tmember *x = &g.m[e];
    CHECK_OK(slim_mls_tree_clone(g.m[0].tree, &x->tree));
    uint32_t leaf = 99;
    CHECK_OK(slim_mls_tree_blank_leaf(x->tree, &leaf));
    CHECK_EQ(leaf, 1);
    slim_buf up = SLIM_BUF_INIT, ctx = SLIM_BUF_INIT;
    x->leaf = leaf;
    x->in = true;
    uint8_t commit[SLIM_MLS_MAX_HASH];
    make_path(&g, e, &up, &ctx, commit);
    forged f;
    forged_init(&f, g.s);
    f.enc = up;
    decode_path(&f);
    slim_mls_validation v = tg_validation(&g);
    for (size_t j = 0; j < 3; j++) {
        tmember *m = &g.m[j];
        if (!m->in)
            continue;
        uint32_t l;
        CHECK_OK(slim_mls_tree_blank_leaf(m->tree, &l));
        CHECK_EQ(l, 1);
        CHECK_OK(slim_mls_treekem_path_merge(m->tree, &v, l, &f.p, NULL, 0));
        uint8_t mine[SLIM_MLS_MAX_HASH];
        CHECK_OK(slim_mls_treekem_path_decrypt(m->tree, l, &f.p, slim_buf_view(&ctx), NULL, 0,
                                               &m->priv, mine, NULL));
        CHECK_MEM(mine, commit, g.s->nh);
    }
    /* In a full tree, blank_leaf extends it. */
    slim_mls_tree *t = g.m[0].tree;
    CHECK_EQ(slim_mls_tree_member_count(t), 3);
    CHECK_OK(slim_mls_tree_add(t, &x->kpv.leaf_node, &leaf));
    CHECK_EQ(leaf, 3);
    CHECK_OK(slim_mls_tree_blank_leaf(t, &leaf));
    CHECK_EQ(leaf, 4);
    CHECK_EQ(slim_mls_tree_leaf_count(t), 8);
    slim_buf_cleanup(&f.enc);
    slim_buf_cleanup(&ctx);
    tg_free(&g);
}

/* ---- refusals ------------------------------------------------------------- */

TEST(forged_update_paths_are_refused_and_change_nothing) {
    for (size_t si = 0; si < SLIM_ARRAY_LEN(SUITES); si++) {
        tgroup g;
        tg_init(&g, SUITES[si], 6);
        tg_commit(&g, 0, NULL);
        tg_commit(&g, 4, NULL);
        const slim_mls_suite *s = g.s;
        path_pair pp;
        path_pair_make(&pp, &g, 2);
        forged a = pp.a, b = pp.b, x = pp.x;
        uint32_t n = a.p.nodes.count;
        CHECK_EQ(n, 3);
        /* Control: member 5 accepts path a. */
        slim_mls_tree *t = NULL;
        slim_mls_validation v = tg_validation(&g);
        CHECK_OK(slim_mls_tree_clone(g.m[5].tree, &t));
        CHECK_OK(slim_mls_treekem_path_merge(t, &v, 2, &a.p, NULL, 0));
        slim_mls_tree_free(t);

        /* One node too few. */
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, a.p.nodes.body);
        slim_mls_update_path_node upn;
        CHECK_OK(slim_mls_update_path_node_decode(&r, &upn));
        CHECK_OK(slim_mls_update_path_node_decode(&r, &upn));
        size_t two = a.p.nodes.body.len - slim_mls_tls_reader_remaining(&r);
        encode_path(&x, &a.p.leaf_node, slim_bytes_of(a.p.nodes.body.ptr, two), 2);
        expect_merge_refused(&g, 5, 2, &x.p, NULL, 0, SLIM_E_MLS_PATH_LENGTH);
        /* Wrong sender: the leaf was signed for leaf 2. */
        expect_merge_refused(&g, 5, 3, &a.p, NULL, 0, SLIM_E_MLS_LEAF_BAD_SIGNATURE);
        /* Path a's leaf with path b's nodes: b's keys are not what a's
         * leaf signed in its parent_hash. */
        encode_path(&x, &a.p.leaf_node, b.p.nodes.body, n);
        expect_merge_refused(&g, 5, 2, &x.p, NULL, 0, SLIM_E_MLS_PATH_PARENT_HASH);
        /* A path node whose key is already in the tree (node 7's). */
        slim_buf nodes = SLIM_BUF_INIT;
        slim_mls_tls_writer w;
        slim_mls_tls_writer_init(&w, &nodes);
        slim_mls_tls_reader_init(&r, a.p.nodes.body);
        for (uint32_t i = 0; i < n; i++) {
            CHECK_OK(slim_mls_update_path_node_decode(&r, &upn));
            if (i == 1)
                upn.encryption_key = slim_mls_tree_encryption_key(g.m[5].tree, 7);
            CHECK_OK(slim_mls_update_path_node_encode(&w, &upn));
        }
        encode_path(&x, &a.p.leaf_node, slim_buf_view(&nodes), n);
        expect_merge_refused(&g, 5, 2, &x.p, NULL, 0, SLIM_E_MLS_DUPLICATE_ENCRYPTION_KEY);
        /* The leaf keeps the committer's current encryption key (re-signed
         * over the right parent_hash). */
        slim_buf leaf = SLIM_BUF_INIT;
        slim_mls_leaf_node old = *slim_mls_tree_leaf(g.m[5].tree, 2);
        CHECK_OK(slim_mls_leaf_node_build(s, &g.m[2].params, SLIM_MLS_LEAF_SOURCE_COMMIT,
                                          old.encryption_key, a.p.leaf_node.parent_hash, v.group_id,
                                          2, &leaf));
        slim_mls_leaf_node kept;
        slim_mls_tls_reader_init(&r, slim_buf_view(&leaf));
        CHECK_OK(slim_mls_leaf_node_decode(&r, &kept));
        encode_path(&x, &kept, a.p.nodes.body, n);
        expect_merge_refused(&g, 5, 2, &x.p, NULL, 0, SLIM_E_MLS_ENCRYPTION_KEY_UNCHANGED);
        /* A leaf whose credential the application refuses. */
        slim_mls_leaf_params mp = g.m[2].params;
        mp.credential.body = slim_bytes_of("mallory-2", 9);
        leaf.len = 0;
        CHECK_OK(slim_mls_leaf_node_build(s, &mp, SLIM_MLS_LEAF_SOURCE_COMMIT,
                                          a.p.leaf_node.encryption_key, a.p.leaf_node.parent_hash,
                                          v.group_id, 2, &leaf));
        slim_mls_tls_reader_init(&r, slim_buf_view(&leaf));
        CHECK_OK(slim_mls_leaf_node_decode(&r, &kept));
        encode_path(&x, &kept, a.p.nodes.body, n);
        expect_merge_refused(&g, 5, 2, &x.p, NULL, 0, SLIM_E_MLS_CREDENTIAL_REJECTED);
        slim_buf_cleanup(&leaf);
        slim_buf_cleanup(&nodes);
        pp.x = x;
        path_pair_cleanup(&pp);
        tg_free(&g);
    }
}

/* Decrypting `p` from `sender` as member j, in a tree where p is merged,
 * fails with `want` and the member's state is unchanged. */
static void expect_decrypt_refused(tgroup *g, size_t j, slim_mls_tree *merged, uint32_t sender,
                                   const slim_mls_update_path *p, slim_bytes ctx,
                                   slim_status want) {
    slim_mls_tree_priv before = g->m[j].priv;
    uint8_t commit[SLIM_MLS_MAX_HASH];
    CHECK_STATUS(
        slim_mls_treekem_path_decrypt(merged, sender, p, ctx, NULL, 0, &g->m[j].priv, commit, NULL),
        want);
    CHECK(memcmp(&before, &g->m[j].priv, sizeof before) == 0);
    slim_mls_tree_priv_cleanup(&before);
}

TEST(decryption_refusals_leave_the_private_state_alone) {
    for (size_t si = 0; si < SLIM_ARRAY_LEN(SUITES); si++) {
        tgroup g;
        tg_init(&g, SUITES[si], 4);
        tg_commit(&g, 1, NULL);
        const slim_mls_suite *s = g.s;
        path_pair pp;
        path_pair_make(&pp, &g, 3);
        forged a = pp.a, b = pp.b, x = pp.x;
        slim_buf ctx = pp.ctx_a, ctx2 = pp.ctx_b;
        slim_mls_validation v = tg_validation(&g);
        slim_mls_tree *t = NULL;
        CHECK_OK(slim_mls_tree_clone(g.m[0].tree, &t));
        CHECK_OK(slim_mls_treekem_path_merge(t, &v, 3, &a.p, NULL, 0));
        /* Another context than the one sealed with. */
        expect_decrypt_refused(&g, 0, t, 3, &a.p, slim_buf_view(&ctx2), SLIM_E_MLS_PATH_DECRYPT);
        /* One's own path. */
        expect_decrypt_refused(&g, 3, t, 3, &a.p, slim_buf_view(&ctx), SLIM_E_MLS_PATH_FROM_SELF);
        /* Path a's keys with path b's ciphertexts, decrypted under b's
         * context: b's path secret comes out, and the keys derived from
         * it are not a's. */
        slim_buf nodes = SLIM_BUF_INIT;
        slim_mls_tls_writer w;
        slim_mls_tls_writer_init(&w, &nodes);
        slim_mls_tls_reader ra, rb;
        slim_mls_tls_reader_init(&ra, a.p.nodes.body);
        slim_mls_tls_reader_init(&rb, b.p.nodes.body);
        for (uint32_t i = 0; i < a.p.nodes.count; i++) {
            slim_mls_update_path_node na, nb;
            CHECK_OK(slim_mls_update_path_node_decode(&ra, &na));
            CHECK_OK(slim_mls_update_path_node_decode(&rb, &nb));
            na.encrypted_path_secret = nb.encrypted_path_secret;
            CHECK_OK(slim_mls_update_path_node_encode(&w, &na));
        }
        encode_path(&x, &a.p.leaf_node, slim_buf_view(&nodes), a.p.nodes.count);
        expect_decrypt_refused(&g, 0, t, 3, &x.p, slim_buf_view(&ctx2),
                               SLIM_E_MLS_PATH_KEY_MISMATCH);
        /* A tree where the path was not merged. */
        expect_decrypt_refused(&g, 0, g.m[0].tree, 3, &a.p, slim_buf_view(&ctx), SLIM_E_STATE);
        /* A state that holds no key the path encrypts to: no node keys,
         * and a leaf key the tree no longer has. */
        slim_mls_tree_priv keep = g.m[0].priv;
        slim_mls_tree_priv_cleanup(&g.m[0].priv);
        g.m[0].priv.suite = s;
        memcpy(g.m[0].priv.leaf_sk, keep.leaf_sk, sizeof keep.leaf_sk);
        memcpy(g.m[0].priv.leaf_pk, keep.leaf_pk, sizeof keep.leaf_pk);
        g.m[0].priv.leaf_pk[3] ^= 1;
        expect_decrypt_refused(&g, 0, t, 3, &a.p, slim_buf_view(&ctx), SLIM_E_MLS_PATH_NO_KEY);
        slim_mls_tree_priv_cleanup(&g.m[0].priv);
        g.m[0].priv = keep;
        uint8_t commit[SLIM_MLS_MAX_HASH];
        CHECK_OK(slim_mls_treekem_path_decrypt(t, 3, &a.p, slim_buf_view(&ctx), NULL, 0,
                                               &g.m[0].priv, commit, NULL));
        slim_mls_tree_priv_cleanup(&keep);
        slim_mls_tree_free(t);
        slim_buf_cleanup(&nodes);
        pp.x = x;
        path_pair_cleanup(&pp);
        tg_free(&g);
    }
}

/* ---- private keys ---------------------------------------------------------- */

TEST(replaced_private_keys_are_gone_from_the_state) {
    tgroup g;
    tg_init(&g, 1, 4);
    tg_commit(&g, 0, NULL);
    /* Member 1 holds nodes 1 and 3 (levels 1 and 2). */
    tmember *m = &g.m[1];
    CHECK_EQ(m->priv.have, (1u << 1) | (1u << 2));
    uint8_t old1[SLIM_MLS_MAX_DH_PRIVATE], old2[SLIM_MLS_MAX_DH_PRIVATE];
    memcpy(old1, m->priv.sk[1], g.s->kem_nsk);
    memcpy(old2, m->priv.sk[2], g.s->kem_nsk);
    /* Leaf 3 commits: the root (level 2) changes for member 1, node 1
     * does not. */
    tg_commit(&g, 3, NULL);
    CHECK_EQ(m->priv.have, (1u << 1) | (1u << 2));
    CHECK_MEM(m->priv.sk[1], old1, g.s->kem_nsk);
    CHECK(memcmp(m->priv.sk[2], old2, g.s->kem_nsk) != 0);
    /* Member 0 updates (its direct path is blanked): member 1's node keys
     * are pruned and wiped. */
    CHECK_OK(slim_mls_tree_update(m->tree, 0, &g.m[0].kpv.leaf_node));
    slim_mls_tree_priv_prune(&m->priv, m->tree);
    CHECK_EQ(m->priv.have, 0);
    static const uint8_t zero[SLIM_MLS_MAX_DH_PRIVATE];
    CHECK_MEM(m->priv.sk[1], zero, sizeof zero);
    CHECK_MEM(m->priv.sk[2], zero, sizeof zero);
    CHECK_OK(slim_mls_tree_priv_check(&m->priv, m->tree));
    /* A leaf key that is not the tree's. */
    slim_mls_tree_priv p;
    CHECK_STATUS(slim_mls_tree_priv_init(&p, m->tree, 2,
                                         slim_bytes_of(g.m[1].keys.encryption_priv, g.s->kem_nsk)),
                 SLIM_E_MLS_PRIVATE_KEY_MISMATCH);
    CHECK_STATUS(slim_mls_tree_priv_init(&p, m->tree, 9, slim_bytes_of(old1, g.s->kem_nsk)),
                 SLIM_E_MLS_TREE_INDEX);
    CHECK_STATUS(slim_mls_tree_priv_init(&p, m->tree, 1, slim_bytes_of(old1, 5)),
                 SLIM_E_MLS_BAD_KEY);
    tg_free(&g);
}

TEST(update_paths_run_out_of_memory_cleanly) {
    tgroup g;
    tg_init(&g, 1, 5);
    tg_commit(&g, 0, NULL);
    slim_buf ctx = SLIM_BUF_INIT, up = SLIM_BUF_INIT, tb = SLIM_BUF_INIT, ta = SLIM_BUF_INIT;
    slim_buf cb = SLIM_BUF_INIT;
    tg_encode(g.m[4].tree, &tb);
    tg_encode(g.m[2].tree, &cb);
    /* The buffers the loop reuses are allocated before counting starts. */
    CHECK_OK(slim_buf_reserve(&ctx, 4096));
    CHECK_OK(slim_buf_reserve(&up, 1 << 16));
    test_alloc_install();
    bool done = false;
    for (long n = 1; n < 2000 && !done; n++) {
        long live = test_alloc_live();
        slim_mls_tree *t = NULL, *rt = NULL;
        slim_mls_path *path = NULL;
        slim_mls_tree_priv before = g.m[4].priv;
        test_alloc_fail_after(n);
        slim_status st = slim_mls_tree_clone(g.m[2].tree, &t);
        if (st == SLIM_OK) {
            st = slim_mls_treekem_path_begin(t, 2, &g.m[2].params, slim_bytes_of("oom", 3), &g.rng,
                                             &path);
            if (st != SLIM_OK) {
                /* All or nothing: the clone is the committer's tree. */
                test_alloc_fail_after(0);
                tg_encode(t, &ta);
                CHECK(ta.len == cb.len && memcmp(ta.data, cb.data, cb.len) == 0);
                slim_buf_cleanup(&ta);
            }
        }
        if (st == SLIM_OK) {
            test_alloc_fail_after(0);
            tg_context(&g, t, &ctx);
            test_alloc_fail_after(n);
            up.len = 0;
            st = slim_mls_treekem_path_seal(t, path, slim_buf_view(&ctx), NULL, 0, &g.rng, &up);
        }
        slim_mls_update_path p;
        if (st == SLIM_OK) {
            slim_mls_tls_reader r;
            slim_mls_tls_reader_init(&r, slim_buf_view(&up));
            slim_mls_update_path_decode(&r, &p);
            st = slim_mls_tls_reader_finish(&r);
        }
        if (st == SLIM_OK)
            st = slim_mls_tree_clone(g.m[4].tree, &rt);
        slim_mls_validation v = tg_validation(&g);
        v.group_id = slim_bytes_of("oom", 3);
        if (st == SLIM_OK) {
            st = slim_mls_treekem_path_merge(rt, &v, 2, &p, NULL, 0);
            if (st != SLIM_OK) {
                test_alloc_fail_after(0);
                tg_encode(rt, &ta);
                CHECK(ta.len == tb.len && memcmp(ta.data, tb.data, tb.len) == 0);
            }
        }
        uint8_t commit[SLIM_MLS_MAX_HASH];
        if (st == SLIM_OK) {
            st = slim_mls_treekem_path_decrypt(rt, 2, &p, slim_buf_view(&ctx), NULL, 0,
                                               &g.m[4].priv, commit, NULL);
            if (st != SLIM_OK)
                CHECK(memcmp(&before, &g.m[4].priv, sizeof before) == 0);
        }
        test_alloc_fail_after(0);
        /* Out of memory surfaces as E_NOMEM, or as E_MLS_CRYPTO where
         * OpenSSL's own allocations are hit (they are not ours). */
        CHECK(st == SLIM_OK || st == SLIM_E_NOMEM);
        done = st == SLIM_OK;
        g.m[4].priv = before;
        slim_mls_tree_priv_cleanup(&before);
        slim_mls_path_free(path);
        slim_mls_tree_free(t);
        slim_mls_tree_free(rt);
        slim_buf_cleanup(&ta);
        CHECK_EQ(test_alloc_live(), live);
    }
    CHECK(done);
    test_alloc_uninstall();
    slim_buf_cleanup(&ctx);
    slim_buf_cleanup(&up);
    slim_buf_cleanup(&tb);
    slim_buf_cleanup(&cb);
    tg_free(&g);
}

/* ---- KeyPackages ------------------------------------------------------------ */

/* RefHash("MLS 1.0 KeyPackage Reference", kp) computed here with
 * OpenSSL's SHA-256 over RefHashInput written byte by byte (RFC 9420
 * §5.2; the lengths are below 16384, so two-byte headers 0x40|hi, lo or a
 * one-byte header below 64). */
static void independent_ref(slim_bytes kp, uint8_t out[32]) {
    static const char label[] = "MLS 1.0 KeyPackage Reference";
    uint8_t hdr[2];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    CHECK(c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1);
    hdr[0] = (uint8_t)(sizeof label - 1);
    EVP_DigestUpdate(c, hdr, 1);
    EVP_DigestUpdate(c, label, sizeof label - 1);
    CHECK(kp.len >= 64 && kp.len < 16384);
    hdr[0] = (uint8_t)(0x40 | (kp.len >> 8));
    hdr[1] = (uint8_t)kp.len;
    EVP_DigestUpdate(c, hdr, 2);
    EVP_DigestUpdate(c, kp.ptr, kp.len);
    unsigned int n = 0;
    CHECK(EVP_DigestFinal_ex(c, out, &n) == 1 && n == 32);
    EVP_MD_CTX_free(c);
}

TEST(key_packages_carry_their_keys_and_validate) {
    for (size_t si = 0; si < SLIM_ARRAY_LEN(SUITES); si++) {
        tgroup g;
        tg_init(&g, SUITES[si], 3);
        const slim_mls_suite *s = g.s;
        tmember *k = &g.m[g.n];
        tg_make_member(&g, g.n);
        g.n++;
        /* The private keys returned are those of the published keys. */
        uint8_t pk[SLIM_MLS_MAX_DH_PUBLIC];
        CHECK_OK(slim_mls_hpke_public_key(s->hpke.kem_id,
                                          slim_bytes_of(k->keys.init_priv, s->kem_nsk), pk));
        CHECK(k->kpv.init_key.len == s->kem_npk &&
              memcmp(pk, k->kpv.init_key.ptr, s->kem_npk) == 0);
        CHECK_OK(slim_mls_hpke_public_key(s->hpke.kem_id,
                                          slim_bytes_of(k->keys.encryption_priv, s->kem_nsk), pk));
        CHECK_MEM(pk, k->kpv.leaf_node.encryption_key.ptr, s->kem_npk);
        CHECK_EQ(k->kpv.version, SLIM_MLS_VERSION_MLS10);
        CHECK_EQ(k->kpv.cipher_suite, s->id);
        CHECK_EQ(k->kpv.leaf_node.source, SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE);
        /* KeyPackageRef against the hash computed here. */
        uint8_t ref[SLIM_MLS_MAX_HASH], want[32];
        CHECK_OK(slim_mls_key_package_ref(s, &k->kpv, ref));
        independent_ref(slim_buf_view(&k->kp), want);
        CHECK_MEM(ref, want, 32);
        /* Valid for the group, alone and against the tree. */
        slim_mls_validation v = tg_validation(&g);
        CHECK_OK(slim_mls_key_package_validate(&v, NULL, &k->kpv));
        CHECK_OK(slim_mls_key_package_validate(&v, g.m[0].tree, &k->kpv));
        /* A member's KeyPackage against the tree holding it: its keys. */
        CHECK_STATUS(slim_mls_key_package_validate(&v, g.m[0].tree, &g.m[1].kpv),
                     SLIM_E_MLS_DUPLICATE_ENCRYPTION_KEY);

        /* Refusals, one rule each. */
        slim_mls_validation w = v;
        w.suite = slim_mls_suite_get(s->id == 1 ? 2 : 1);
        CHECK_STATUS(slim_mls_key_package_validate(&w, NULL, &k->kpv), SLIM_E_MLS_SUITE_MISMATCH);
        slim_mls_key_package bad = k->kpv;
        bad.version = 2;
        CHECK_STATUS(slim_mls_key_package_validate(&v, NULL, &bad), SLIM_E_MLS_BAD_VERSION);
        w = v;
        w.now = 2001; /* after not_after */
        CHECK_STATUS(slim_mls_key_package_validate(&w, NULL, &k->kpv), SLIM_E_MLS_LIFETIME_INVALID);
        w.check_lifetime = false;
        CHECK_OK(slim_mls_key_package_validate(&w, NULL, &k->kpv));
        w.max_lifetime = 100;
        CHECK_STATUS(slim_mls_key_package_validate(&w, NULL, &k->kpv),
                     SLIM_E_MLS_LIFETIME_TOO_LONG);
        /* A signature over other content. */
        bad = k->kpv;
        uint8_t sig[SLIM_MLS_MAX_SIGNATURE];
        memcpy(sig, bad.signature.ptr, bad.signature.len);
        sig[bad.signature.len / 2] ^= 0x10;
        bad.signature = slim_bytes_of(sig, bad.signature.len);
        CHECK_STATUS(slim_mls_key_package_validate(&v, NULL, &bad), SLIM_E_MLS_BAD_SIGNATURE);
        /* init_key equal to the leaf's encryption key, validly signed. */
        bad = k->kpv;
        bad.init_key = bad.leaf_node.encryption_key;
        slim_buf sb = SLIM_BUF_INIT;
        CHECK_OK(slim_mls_key_package_sign(s, &bad, k->signer, &sb));
        CHECK_STATUS(slim_mls_key_package_validate(&v, NULL, &bad), SLIM_E_MLS_INIT_KEY_REUSED);
        /* A KeyPackage extension its leaf's capabilities do not list is
         * accepted (§13: unknown KeyPackage extensions are ignored; only
         * the leaf's own must be listed, checked in test_mls_tree). */
        slim_buf eb = SLIM_BUF_INIT;
        slim_mls_tls_writer wr;
        slim_mls_tls_writer_init(&wr, &eb);
        slim_mls_extension e = {0x7a7a, slim_bytes_of("x", 1)};
        CHECK_OK(slim_mls_extension_encode(&wr, &e));
        bad = k->kpv;
        bad.extensions.body = slim_buf_view(&eb);
        bad.extensions.count = 1;
        sb.len = 0;
        CHECK_OK(slim_mls_key_package_sign(s, &bad, k->signer, &sb));
        CHECK_OK(slim_mls_key_package_validate(&v, NULL, &bad));
        /* A leaf that is not a key_package leaf. */
        bad = k->kpv;
        bad.leaf_node.source = SLIM_MLS_LEAF_SOURCE_UPDATE;
        CHECK_STATUS(slim_mls_key_package_validate(&v, NULL, &bad),
                     SLIM_E_MLS_WRONG_LEAF_NODE_SOURCE);
        /* A KeyPackage made with a refused credential. */
        slim_mls_leaf_params mp = k->params;
        mp.credential.body = slim_bytes_of("mallory", 7);
        slim_buf mkp = SLIM_BUF_INIT;
        slim_mls_key_package_keys mk;
        slim_mls_vec none = {slim_bytes_of(NULL, 0), 0};
        CHECK_OK(slim_mls_key_package_create(s, &mp, none, &g.rng, &mkp, &mk));
        slim_mls_key_package mkv;
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, slim_buf_view(&mkp));
        CHECK_OK(slim_mls_key_package_decode(&r, &mkv));
        CHECK_STATUS(slim_mls_key_package_validate(&v, NULL, &mkv), SLIM_E_MLS_CREDENTIAL_REJECTED);
        /* The signature key of a member already in the group. */
        mp = g.m[1].params;
        mkp.len = 0;
        slim_mls_key_package_keys_cleanup(&mk);
        CHECK_OK(slim_mls_key_package_create(s, &mp, none, &g.rng, &mkp, &mk));
        slim_mls_tls_reader_init(&r, slim_buf_view(&mkp));
        CHECK_OK(slim_mls_key_package_decode(&r, &mkv));
        CHECK_OK(slim_mls_key_package_validate(&v, NULL, &mkv));
        CHECK_STATUS(slim_mls_key_package_validate(&v, g.m[0].tree, &mkv),
                     SLIM_E_MLS_DUPLICATE_SIGNATURE_KEY);
        /* A failing RNG: nothing is written. */
        slim_mls_rng broken = {failing_fill, NULL};
        size_t len = mkp.len;
        CHECK_STATUS(slim_mls_key_package_create(s, &mp, none, &broken, &mkp, &mk), SLIM_E_MLS_RNG);
        CHECK_EQ(mkp.len, len);
        slim_mls_key_package_keys_cleanup(&mk);
        slim_buf_cleanup(&mkp);
        slim_buf_cleanup(&sb);
        slim_buf_cleanup(&eb);
        tg_free(&g);
    }
}

TEST(update_leaves_are_validated_against_the_leaf_they_replace) {
    tgroup g;
    tg_init(&g, 2, 3);
    const slim_mls_suite *s = g.s;
    slim_mls_validation v = tg_validation(&g);
    slim_buf b = SLIM_BUF_INIT;
    uint8_t sk[SLIM_MLS_MAX_DH_PRIVATE];
    CHECK_OK(slim_mls_leaf_node_create(s, &g.m[1].params, SLIM_MLS_LEAF_SOURCE_UPDATE, v.group_id,
                                       1, &g.rng, &b, sk));
    slim_mls_leaf_node ln;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(&b));
    CHECK_OK(slim_mls_leaf_node_decode(&r, &ln));
    uint8_t pk[SLIM_MLS_MAX_DH_PUBLIC];
    CHECK_OK(slim_mls_hpke_public_key(s->hpke.kem_id, slim_bytes_of(sk, s->kem_nsk), pk));
    CHECK_MEM(pk, ln.encryption_key.ptr, s->kem_npk);
    slim_mls_tree *t = g.m[0].tree;
    CHECK_OK(slim_mls_leaf_node_validate(&v, t, &ln, SLIM_MLS_LEAF_SOURCE_UPDATE, 1, 1));
    /* The same leaf as a commit leaf, for another index, or as an Add. */
    CHECK_STATUS(slim_mls_leaf_node_validate(&v, t, &ln, SLIM_MLS_LEAF_SOURCE_COMMIT, 1, 1),
                 SLIM_E_MLS_WRONG_LEAF_NODE_SOURCE);
    CHECK_STATUS(slim_mls_leaf_node_validate(&v, t, &ln, SLIM_MLS_LEAF_SOURCE_UPDATE, 2, 2),
                 SLIM_E_MLS_LEAF_BAD_SIGNATURE);
    CHECK_STATUS(
        slim_mls_leaf_node_validate(&v, t, &ln, SLIM_MLS_LEAF_SOURCE_UPDATE, 1, SLIM_MLS_NO_LEAF),
        SLIM_E_MLS_DUPLICATE_SIGNATURE_KEY);
    /* An Update that keeps the old encryption key. */
    b.len = 0;
    CHECK_OK(slim_mls_leaf_node_build(s, &g.m[1].params, SLIM_MLS_LEAF_SOURCE_UPDATE,
                                      slim_mls_tree_leaf(t, 1)->encryption_key,
                                      slim_bytes_of(NULL, 0), v.group_id, 1, &b));
    slim_mls_tls_reader_init(&r, slim_buf_view(&b));
    CHECK_OK(slim_mls_leaf_node_decode(&r, &ln));
    CHECK_STATUS(slim_mls_leaf_node_validate(&v, t, &ln, SLIM_MLS_LEAF_SOURCE_UPDATE, 1, 1),
                 SLIM_E_MLS_ENCRYPTION_KEY_UNCHANGED);
    CHECK_STATUS(slim_mls_leaf_node_create(s, &g.m[1].params, SLIM_MLS_LEAF_SOURCE_COMMIT,
                                           v.group_id, 1, &g.rng, &b, sk),
                 SLIM_E_INVALID_ARG);
    slim_mls_validation nocheck = v;
    nocheck.credential = NULL;
    CHECK_STATUS(slim_mls_leaf_node_validate(&nocheck, t, &ln, 0, 1, 1), SLIM_E_INVALID_ARG);
    slim_memzero(sk, sizeof sk);
    slim_buf_cleanup(&b);
    tg_free(&g);
}

/* A TreePrivState encoded from its parts. */
static void priv_bytes(slim_buf *out, uint32_t leaf, slim_bytes leaf_sk, const uint8_t *levels,
                       const uint8_t (*sks)[SLIM_MLS_MAX_DH_PRIVATE], size_t n, size_t nsk) {
    out->len = 0;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    slim_mls_tls_put_u32(&w, leaf);
    slim_mls_tls_put_raw(&w, leaf_sk);
    size_t mark = slim_mls_tls_vec_begin(&w);
    for (size_t i = 0; i < n; i++) {
        slim_mls_tls_put_u8(&w, levels[i]);
        slim_mls_tls_put_raw(&w, slim_bytes_of(sks[i], nsk));
    }
    slim_mls_tls_vec_end(&w, mark);
    CHECK_OK(slim_mls_tls_writer_status(&w));
}

static slim_status priv_decode(const slim_mls_tree *tree, slim_bytes in, slim_mls_tree_priv *out) {
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, in);
    slim_mls_tree_priv p;
    slim_status st = slim_mls_tree_priv_decode(&r, tree, &p);
    if (st == SLIM_OK)
        st = slim_mls_tls_reader_finish(&r);
    if (st == SLIM_OK)
        *out = p;
    slim_mls_tree_priv_cleanup(&p);
    return st;
}

TEST(private_states_are_saved_and_loaded) {
    for (size_t si = 0; si < SLIM_ARRAY_LEN(SUITES); si++) {
        tgroup g;
        tg_init(&g, SUITES[si], 4);
        tg_commit(&g, 0, NULL);
        const slim_mls_suite *s = g.s;
        tmember *m = &g.m[1]; /* holds levels 1 and 2 */
        slim_buf a = SLIM_BUF_INIT, b = SLIM_BUF_INIT;
        slim_mls_tls_writer w;
        slim_mls_tls_writer_init(&w, &a);
        CHECK_OK(slim_mls_tree_priv_encode(&w, &m->priv));
        CHECK(a.len <= slim_mls_tree_priv_encode_bound(s));
        slim_mls_tree_priv p;
        memset(&p, 0, sizeof p);
        CHECK_OK(priv_decode(m->tree, slim_buf_view(&a), &p));
        CHECK_EQ(p.leaf, m->priv.leaf);
        CHECK_EQ(p.have, m->priv.have);
        CHECK_MEM(p.leaf_pk, m->priv.leaf_pk, s->kem_npk);
        CHECK_MEM(p.pk[2], m->priv.pk[2], s->kem_npk);
        CHECK_OK(slim_mls_tree_priv_check(&p, m->tree));
        slim_mls_tls_writer_init(&w, &b);
        CHECK_OK(slim_mls_tree_priv_encode(&w, &p));
        CHECK(a.len == b.len);
        CHECK_MEM(a.data, b.data, a.len);
        /* Every truncation refused. */
        for (size_t n = 0; n < a.len; n++) {
            if (priv_decode(m->tree, slim_bytes_of(a.data, n), &p) == SLIM_OK)
                TEST_FAIL_AT("the first %zu of %zu bytes decoded", n, a.len);
        }
        /* Levels out of range or order, a key that is not the tree's, a
         * level the member holds no key of, another leaf. */
        slim_bytes leaf_sk = slim_bytes_of(m->priv.leaf_sk, s->kem_nsk);
        uint8_t sks[2][SLIM_MLS_MAX_DH_PRIVATE];
        memcpy(sks[0], m->priv.sk[1], s->kem_nsk);
        memcpy(sks[1], m->priv.sk[2], s->kem_nsk);
        static const uint8_t good[2] = {1, 2}, zero[1] = {0}, high[1] = {32}, order[2] = {2, 1},
                             twice[2] = {1, 1}, third[1] = {3};
        priv_bytes(&b, m->priv.leaf, leaf_sk, good, sks, 2, s->kem_nsk);
        CHECK(b.len == a.len && memcmp(a.data, b.data, a.len) == 0);
        priv_bytes(&b, m->priv.leaf, leaf_sk, zero, sks, 1, s->kem_nsk);
        CHECK_STATUS(priv_decode(m->tree, slim_buf_view(&b), &p), SLIM_E_MLS_BAD_VALUE);
        priv_bytes(&b, m->priv.leaf, leaf_sk, high, sks, 1, s->kem_nsk);
        CHECK_STATUS(priv_decode(m->tree, slim_buf_view(&b), &p), SLIM_E_MLS_BAD_VALUE);
        priv_bytes(&b, m->priv.leaf, leaf_sk, twice, sks, 2, s->kem_nsk);
        CHECK_STATUS(priv_decode(m->tree, slim_buf_view(&b), &p), SLIM_E_MLS_BAD_VALUE);
        uint8_t rev[2][SLIM_MLS_MAX_DH_PRIVATE]; /* each key at its level, out of order */
        memcpy(rev[0], sks[1], s->kem_nsk);
        memcpy(rev[1], sks[0], s->kem_nsk);
        priv_bytes(&b, m->priv.leaf, leaf_sk, order, rev, 2, s->kem_nsk);
        CHECK_STATUS(priv_decode(m->tree, slim_buf_view(&b), &p), SLIM_E_MLS_BAD_VALUE);
        slim_memzero(rev, sizeof rev);
        priv_bytes(&b, m->priv.leaf, leaf_sk, third, sks, 1, s->kem_nsk);
        CHECK_STATUS(priv_decode(m->tree, slim_buf_view(&b), &p), SLIM_E_MLS_PRIVATE_KEY_MISMATCH);
        sks[1][5] ^= 1;
        priv_bytes(&b, m->priv.leaf, leaf_sk, good, sks, 2, s->kem_nsk);
        CHECK_STATUS(priv_decode(m->tree, slim_buf_view(&b), &p), SLIM_E_MLS_PRIVATE_KEY_MISMATCH);
        priv_bytes(&b, m->priv.leaf + 1, leaf_sk, good, sks, 0, s->kem_nsk);
        CHECK_STATUS(priv_decode(m->tree, slim_buf_view(&b), &p), SLIM_E_MLS_PRIVATE_KEY_MISMATCH);
        priv_bytes(&b, 9, leaf_sk, good, sks, 0, s->kem_nsk);
        CHECK_STATUS(priv_decode(m->tree, slim_buf_view(&b), &p), SLIM_E_MLS_TREE_INDEX);
        slim_mls_tree_priv_cleanup(&p);
        slim_memzero(sks, sizeof sks);
        slim_buf_cleanup_secret(&a);
        slim_buf_cleanup_secret(&b);
        tg_free(&g);
    }
}

TEST_MAIN(TEST_ENTRY(every_member_reaches_the_committers_tree_and_commit_secret),
          TEST_ENTRY(removes_adds_and_unmerged_leaves_keep_the_group_in_step),
          TEST_ENTRY(new_members_are_excluded_and_join_with_the_common_ancestors_secret),
          TEST_ENTRY(an_external_committer_takes_the_leftmost_blank_leaf),
          TEST_ENTRY(forged_update_paths_are_refused_and_change_nothing),
          TEST_ENTRY(decryption_refusals_leave_the_private_state_alone),
          TEST_ENTRY(replaced_private_keys_are_gone_from_the_state),
          TEST_ENTRY(update_paths_run_out_of_memory_cleanly),
          TEST_ENTRY(key_packages_carry_their_keys_and_validate),
          TEST_ENTRY(update_leaves_are_validated_against_the_leaf_they_replace),
          TEST_ENTRY(private_states_are_saved_and_loaded))
