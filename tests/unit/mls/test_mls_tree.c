/*
 * Unit tests for the ratchet tree (src/mls/tree.c) and for tree and leaf
 * validation (src/mls/validate.c): the shapes Add, Update and Remove
 * give (RFC 9420 §12.1), the resolutions and filtered direct paths of the
 * RFC's own example trees (§4.1.1, §4.1.2), clones that change
 * independently, the hash cache, and one tree per rule of the joiner's
 * validation (§12.4.3.1, §7.3, §7.9.2) that breaks that rule and only it:
 * refused with the rule's status and left unchanged. Expected values come
 * from the RFC's figures and rules, never from running this code.
 */
#include "mls_tree_fixture.h"

#include "mls/extensions.h"

static const uint16_t SUITES[] = {1, 2};

/* ---- helpers ------------------------------------------------------------ */

/* A parent node with key `key` (a fresh pattern of the suite's size),
 * empty parent_hash, and the given unmerged leaves. `list` must outlive
 * the node. */
static slim_mls_node parent_node(const slim_mls_suite *s, uint8_t *key, uint8_t fill,
                                 const uint32_t *unmerged, size_t n, slim_buf *list) {
    memset(key, fill, s->kem_npk);
    if (s->id == 2)
        key[0] = 4;
    list->len = 0;
    for (size_t i = 0; i < n; i++)
        CHECK_OK(slim_buf_append_u32(list, unmerged[i]));
    slim_mls_node node;
    memset(&node, 0, sizeof node);
    node.type = SLIM_MLS_NODE_PARENT;
    node.u.parent.encryption_key = slim_bytes_of(key, s->kem_npk);
    node.u.parent.unmerged_leaves.body = slim_buf_view(list);
    node.u.parent.unmerged_leaves.count = (uint32_t)n;
    return node;
}

static void check_list(const slim_mls_index_list *l, const uint32_t *want, size_t n,
                       const char *what) {
    bool same = l->len == n;
    for (size_t i = 0; same && i < n; i++)
        same = l->v[i] == want[i];
    if (!same) {
        TEST_FAIL_AT("%s: %zu entries, want %zu", what, l->len, n);
        for (size_t i = 0; i < l->len; i++)
            fprintf(stderr, "    got[%zu] = %u\n", i, l->v[i]);
    }
}

/* Validation refuses `t` with `want`, and the tree's encoding and hash
 * are the same afterwards. */
static void expect_refused(slim_mls_tree *t, const slim_mls_validation *v, slim_bytes hash,
                           slim_status want) {
    slim_buf before = SLIM_BUF_INIT, after = SLIM_BUF_INIT;
    uint8_t h1[SLIM_MLS_MAX_HASH], h2[SLIM_MLS_MAX_HASH];
    tg_encode(t, &before);
    CHECK_OK(slim_mls_tree_hash(t, h1));
    CHECK_STATUS(slim_mls_tree_validate(t, v, hash), want);
    tg_encode(t, &after);
    CHECK_OK(slim_mls_tree_hash(t, h2));
    CHECK(before.len == after.len && memcmp(before.data, after.data, before.len) == 0);
    CHECK_MEM(h1, h2, slim_mls_tree_suite(t)->nh);
    slim_buf_cleanup(&before);
    slim_buf_cleanup(&after);
}

/* Replaces leaf `leaf` of t by a LeafNode built from `p` (source, keys
 * and lifetime as given), signed for the group and leaf `signed_for`. */
static void put_leaf_signed_for(tgroup *g, slim_mls_tree *t, uint32_t leaf, uint32_t signed_for,
                                const slim_mls_leaf_params *p, uint8_t source, slim_bytes enc_key) {
    slim_buf b = SLIM_BUF_INIT;
    CHECK_OK(slim_mls_leaf_node_build(g->s, p, source, enc_key, slim_bytes_of(NULL, 0),
                                      slim_bytes_of(g->group_id, sizeof g->group_id), signed_for,
                                      &b));
    slim_mls_node n = {.type = SLIM_MLS_NODE_LEAF};
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(&b));
    slim_mls_leaf_node_decode(&r, &n.u.leaf);
    CHECK_OK(slim_mls_tls_reader_finish(&r));
    CHECK_OK(slim_mls_tree_set_node(t, 2 * leaf, &n));
    slim_buf_cleanup(&b);
}

static void put_leaf(tgroup *g, slim_mls_tree *t, uint32_t leaf, const slim_mls_leaf_params *p,
                     uint8_t source, slim_bytes enc_key) {
    put_leaf_signed_for(g, t, leaf, leaf, p, source, enc_key);
}

static slim_bytes leaf_key(slim_mls_tree *t, uint32_t leaf) {
    return slim_mls_tree_leaf(t, leaf)->encryption_key;
}

/* ---- shapes --------------------------------------------------------------- */

TEST(add_update_remove_give_the_rfc_shapes) {
    tgroup g;
    tg_init(&g, 1, 0);
    slim_mls_tree *t = NULL;
    CHECK_OK(slim_mls_tree_new(g.s, &t));
    uint8_t h[SLIM_MLS_MAX_HASH];
    slim_buf b = SLIM_BUF_INIT;
    CHECK_STATUS(slim_mls_tree_hash(t, h), SLIM_E_STATE);
    CHECK_STATUS(slim_mls_tree_encode(t, &b), SLIM_E_STATE);
    CHECK_EQ(b.len, 0);
    /* Each Add takes the leftmost blank leaf or doubles the tree (§7.7). */
    static const uint32_t sizes[] = {1, 2, 4, 4, 8};
    for (size_t i = 0; i < 5; i++) {
        tg_make_member(&g, i);
        g.n = i + 1;
        uint32_t leaf;
        CHECK_OK(slim_mls_tree_add(t, &g.m[i].kpv.leaf_node, &leaf));
        CHECK_EQ(leaf, i);
        CHECK_EQ(slim_mls_tree_leaf_count(t), sizes[i]);
    }
    CHECK_EQ(slim_mls_tree_member_count(t), 5);
    /* Removing leaf 4 leaves the right half blank: truncated to 4 leaves. */
    CHECK_OK(slim_mls_tree_remove(t, 4));
    CHECK_EQ(slim_mls_tree_leaf_count(t), 4);
    CHECK_EQ(slim_mls_tree_node_count(t), 7);
    CHECK_STATUS(slim_mls_tree_remove(t, 4), SLIM_E_MLS_TREE_INDEX);
    /* Removing leaf 1 blanks it; the next Add takes it (leftmost blank). */
    CHECK_OK(slim_mls_tree_remove(t, 1));
    CHECK_EQ(slim_mls_tree_leaf_count(t), 4);
    CHECK(slim_mls_tree_leaf(t, 1) == NULL);
    CHECK_STATUS(slim_mls_tree_remove(t, 1), SLIM_E_MLS_TREE_LEAF_BLANK);
    CHECK_STATUS(slim_mls_tree_update(t, 1, &g.m[1].kpv.leaf_node), SLIM_E_MLS_TREE_LEAF_BLANK);
    uint32_t leaf;
    CHECK_OK(slim_mls_tree_add(t, &g.m[4].kpv.leaf_node, &leaf));
    CHECK_EQ(leaf, 1);
    /* Removing 3 keeps 4 leaves (leaf 2 is in the right half); removing 2
     * then halves it, and removing 1 halves it again. */
    CHECK_OK(slim_mls_tree_remove(t, 3));
    CHECK_EQ(slim_mls_tree_leaf_count(t), 4);
    CHECK_OK(slim_mls_tree_remove(t, 2));
    CHECK_EQ(slim_mls_tree_leaf_count(t), 2);
    CHECK_OK(slim_mls_tree_remove(t, 1));
    CHECK_EQ(slim_mls_tree_leaf_count(t), 1);
    CHECK_EQ(slim_mls_tree_member_count(t), 1);
    slim_mls_tree_free(t);
    slim_buf_cleanup(&b);
    tg_free(&g);
}

TEST(adds_are_unmerged_below_non_blank_parents_and_updates_blank_the_path) {
    for (size_t si = 0; si < SLIM_ARRAY_LEN(SUITES); si++) {
        tgroup g;
        tg_init(&g, SUITES[si], 3);
        /* Leaf 0 commits in a 3-member tree of 4 leaves: its filtered
         * direct path is node 1 (copath leaf 1) and node 3 (copath node 5,
         * whose resolution holds leaf 2). */
        tg_commit(&g, 0, NULL);
        slim_mls_tree *t = g.m[0].tree;
        CHECK(slim_mls_tree_node(t, 1) != NULL);
        CHECK(slim_mls_tree_node(t, 3) != NULL);
        CHECK(slim_mls_tree_node(t, 5) == NULL);
        /* The next member takes leaf 3: node 5 is blank, node 3 lists it. */
        size_t i = tg_add(&g);
        CHECK_EQ(g.m[i].leaf, 3);
        t = g.m[0].tree;
        CHECK(slim_mls_tree_is_unmerged(t, 3, 3));
        CHECK(!slim_mls_tree_is_unmerged(t, 1, 3));
        CHECK(slim_mls_tree_node(t, 5) == NULL);
        /* The resolution of node 3 is node 3 and its unmerged leaf. */
        slim_mls_index_list res = SLIM_MLS_INDEX_LIST_INIT;
        CHECK_OK(slim_mls_tree_resolution(t, 3, NULL, 0, &res));
        check_list(&res, (const uint32_t[]){3, 6}, 2, "resolution of node 3");
        /* Excluding leaf 3 (added in the same commit) leaves node 3. */
        uint32_t ex = 3;
        CHECK_OK(slim_mls_tree_resolution(t, 3, &ex, 1, &res));
        check_list(&res, (const uint32_t[]){3}, 1, "resolution of node 3 without leaf 3");
        slim_mls_index_list_cleanup(&res);
        /* An Update of leaf 0 blanks its whole direct path. */
        slim_mls_tree *c = NULL;
        CHECK_OK(slim_mls_tree_clone(t, &c));
        CHECK_OK(slim_mls_tree_update(c, 0, &g.m[0].kpv.leaf_node));
        CHECK(slim_mls_tree_node(c, 1) == NULL);
        CHECK(slim_mls_tree_node(c, 3) == NULL);
        slim_mls_tree_free(c);
        tg_free(&g);
    }
}

/* The tree of RFC 9420 Figure 10 (§4.1.1): leaves A B _ D E F _ H, X (node
 * 3) with unmerged leaf B, Y (node 9), every other parent blank. */
TEST(resolutions_of_the_rfc_figure) {
    tgroup g;
    tg_init(&g, 1, 8);
    slim_mls_tree *t = g.m[0].tree;
    CHECK_OK(slim_mls_tree_remove(t, 2));
    CHECK_OK(slim_mls_tree_remove(t, 6));
    uint8_t kx[SLIM_MLS_MAX_DH_PUBLIC], ky[SLIM_MLS_MAX_DH_PUBLIC];
    slim_buf lx = SLIM_BUF_INIT, ly = SLIM_BUF_INIT;
    slim_mls_node x = parent_node(g.s, kx, 0xa1, (const uint32_t[]){1}, 1, &lx);
    slim_mls_node y = parent_node(g.s, ky, 0xa2, NULL, 0, &ly);
    CHECK_OK(slim_mls_tree_set_node(t, 3, &x));
    CHECK_OK(slim_mls_tree_set_node(t, 9, &y));
    slim_mls_index_list res = SLIM_MLS_INDEX_LIST_INIT;
    CHECK_OK(slim_mls_tree_resolution(t, 3, NULL, 0, &res));
    check_list(&res, (const uint32_t[]){3, 2}, 2, "resolution of X");
    CHECK_OK(slim_mls_tree_resolution(t, 4, NULL, 0, &res));
    check_list(&res, NULL, 0, "resolution of leaf 2");
    CHECK_OK(slim_mls_tree_resolution(t, 12, NULL, 0, &res));
    check_list(&res, NULL, 0, "resolution of leaf 6");
    CHECK_OK(slim_mls_tree_resolution(t, 7, NULL, 0, &res));
    check_list(&res, (const uint32_t[]){3, 2, 9, 14}, 4, "resolution of the top node");
    CHECK_STATUS(slim_mls_tree_resolution(t, 15, NULL, 0, &res), SLIM_E_MLS_TREE_INDEX);
    slim_mls_index_list_cleanup(&res);
    slim_buf_cleanup(&lx);
    slim_buf_cleanup(&ly);
    tg_free(&g);
}

/* The tree of RFC 9420 Figure 11 (§4.1.2): W (7), Y (11), T (1), X (9)
 * non-blank, U V Z blank; leaves A B _ _ E F G _. The RFC's table gives
 * the filtered direct paths. */
TEST(filtered_direct_paths_of_the_rfc_figure) {
    tgroup g;
    tg_init(&g, 2, 8);
    slim_mls_tree *t = g.m[0].tree;
    for (uint32_t l = 2; l < 4; l++)
        CHECK_OK(slim_mls_tree_remove(t, l));
    CHECK_OK(slim_mls_tree_remove(t, 7));
    uint8_t k[4][SLIM_MLS_MAX_DH_PUBLIC];
    slim_buf l[4] = {SLIM_BUF_INIT, SLIM_BUF_INIT, SLIM_BUF_INIT, SLIM_BUF_INIT};
    const uint32_t slots[4] = {7, 11, 1, 9};
    for (size_t i = 0; i < 4; i++) {
        slim_mls_node n = parent_node(g.s, k[i], (uint8_t)(0xb0 + i), NULL, 0, &l[i]);
        CHECK_OK(slim_mls_tree_set_node(t, slots[i], &n));
    }
    static const struct {
        uint32_t leaf;
        uint32_t fdp[3], copath[3];
        size_t n;
    } want[] = {
        {0, {1, 7}, {2, 11}, 2},         /* A: T, W (copath B, Y) */
        {1, {1, 7}, {0, 11}, 2},         /* B: T, W (copath A, Y) */
        {4, {9, 11, 7}, {10, 13, 3}, 3}, /* E: X, Y, W */
        {5, {9, 11, 7}, {8, 13, 3}, 3},  /* F: X, Y, W */
        {6, {11, 7}, {9, 3}, 2},         /* G: Y, W */
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(want); i++) {
        uint32_t fdp[SLIM_MLS_TREE_MAX_DEPTH], cp[SLIM_MLS_TREE_MAX_DEPTH];
        size_t n = 0;
        CHECK_OK(slim_mls_tree_filtered_direct_path(t, want[i].leaf, fdp, cp, &n));
        CHECK_EQ(n, want[i].n);
        for (size_t j = 0; j < n && j < want[i].n; j++) {
            CHECK_EQ(fdp[j], want[i].fdp[j]);
            CHECK_EQ(cp[j], want[i].copath[j]);
        }
    }
    for (size_t i = 0; i < 4; i++)
        slim_buf_cleanup(&l[i]);
    tg_free(&g);
}

/* ---- clones, codec, hash cache ----------------------------------------- */

TEST(clones_change_independently_and_the_hash_cache_stays_right) {
    for (size_t si = 0; si < SLIM_ARRAY_LEN(SUITES); si++) {
        tgroup g;
        tg_init(&g, SUITES[si], 16);
        for (size_t c = 0; c < 16; c += 3)
            tg_commit(&g, c, NULL);
        slim_mls_tree *t = g.m[0].tree, *c = NULL;
        slim_buf a = SLIM_BUF_INIT, a2 = SLIM_BUF_INIT, cb = SLIM_BUF_INIT;
        uint8_t ht[SLIM_MLS_MAX_HASH], ht2[SLIM_MLS_MAX_HASH], hc[SLIM_MLS_MAX_HASH];
        uint8_t fresh[SLIM_MLS_MAX_HASH];
        CHECK_OK(slim_mls_tree_hash(t, ht));
        tg_encode(t, &a);
        CHECK_OK(slim_mls_tree_clone(t, &c));
        CHECK_OK(slim_mls_tree_remove(c, 5));
        CHECK_OK(slim_mls_tree_update(c, 9, &g.m[9].kpv.leaf_node));
        /* The original is untouched, bytes and hash. */
        tg_encode(t, &a2);
        CHECK(a.len == a2.len && memcmp(a.data, a2.data, a.len) == 0);
        CHECK_OK(slim_mls_tree_hash(t, ht2));
        CHECK_MEM(ht, ht2, g.s->nh);
        /* The clone's cached hash is that of its encoding decoded afresh
         * (nothing cached), and differs from the original's. */
        CHECK_OK(slim_mls_tree_hash(c, hc));
        CHECK(memcmp(hc, ht, g.s->nh) != 0);
        tg_encode(c, &cb);
        slim_mls_tree *d = NULL;
        CHECK_OK(slim_mls_tree_decode(g.s, slim_buf_view(&cb), &d));
        CHECK_OK(slim_mls_tree_hash(d, fresh));
        CHECK_MEM(hc, fresh, g.s->nh);
        /* Freeing the original first leaves the clone whole. */
        slim_mls_tree_free(g.m[0].tree);
        g.m[0].tree = NULL;
        slim_mls_tree_forget_hashes(c);
        CHECK_OK(slim_mls_tree_hash(c, hc));
        CHECK_MEM(hc, fresh, g.s->nh);
        slim_mls_tree_free(c);
        slim_mls_tree_free(d);
        slim_buf_cleanup(&a);
        slim_buf_cleanup(&a2);
        slim_buf_cleanup(&cb);
        tg_free(&g);
    }
}

TEST(a_path_update_rehashes_only_the_path) {
    tgroup g;
    tg_init(&g, 1, 16);
    for (size_t c = 0; c < 16; c++)
        tg_commit(&g, c, NULL);
    slim_mls_tree *t = g.m[3].tree;
    uint8_t h[SLIM_MLS_MAX_HASH];
    CHECK_OK(slim_mls_tree_hash(t, h));
    uint64_t before = slim_mls_tree_hashes_computed(t);
    slim_mls_tree_forget_hashes(t);
    CHECK_OK(slim_mls_tree_hash(t, h));
    /* From scratch: every one of the 31 nodes. */
    CHECK_EQ(slim_mls_tree_hashes_computed(t) - before, 31);
    slim_mls_tree *c = NULL;
    slim_mls_path *path = NULL;
    CHECK_OK(slim_mls_tree_clone(t, &c));
    CHECK_OK(
        slim_mls_treekem_path_begin(c, 3, &g.m[3].params, slim_bytes_of("g", 1), &g.rng, &path));
    before = slim_mls_tree_hashes_computed(c);
    CHECK_OK(slim_mls_tree_hash(c, h));
    /* After the path of leaf 3: the leaf and its 4 ancestors. */
    CHECK_EQ(slim_mls_tree_hashes_computed(c) - before, 5);
    slim_mls_path_free(path);
    slim_mls_tree_free(c);
    tg_free(&g);
}

TEST(codec_round_trips_and_refuses_what_it_must) {
    tgroup g;
    tg_init(&g, 1, 5);
    tg_commit(&g, 1, NULL);
    tg_remove(&g, 3);
    slim_buf b = SLIM_BUF_INIT, b2 = SLIM_BUF_INIT, ext = SLIM_BUF_INIT;
    tg_encode(g.m[0].tree, &b);
    slim_mls_tree *t = NULL;
    CHECK_OK(slim_mls_tree_decode(g.s, slim_buf_view(&b), &t));
    tg_encode(t, &b2);
    CHECK(b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0);
    /* 5 members in 8 leaves: the last entry is leaf 4 (node 8), so the
     * vector holds 9 entries and no trailing blank. */
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(&b));
    slim_mls_vec v;
    CHECK_OK(slim_mls_ratchet_tree_decode(&r, &v));
    CHECK_EQ(v.count, 9);
    /* The extension: type 2, then the vector as its data. */
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &ext);
    CHECK_OK(slim_mls_tree_extension_write(t, &w));
    CHECK_OK(slim_mls_tls_writer_status(&w));
    slim_mls_tls_reader_init(&r, slim_buf_view(&ext));
    slim_mls_extension e;
    CHECK_OK(slim_mls_extension_decode(&r, &e));
    CHECK_EQ(e.type, SLIM_MLS_EXT_RATCHET_TREE);
    CHECK(e.data.len == b.len && memcmp(e.data.ptr, b.data, b.len) == 0);
    /* Refusals: trailing bytes, a truncated vector, a trailing blank. */
    slim_mls_tree *bad = NULL;
    CHECK_OK(slim_buf_append_u8(&b2, 0));
    CHECK_STATUS(slim_mls_tree_decode(g.s, slim_buf_view(&b2), &bad), SLIM_E_MLS_TRAILING_BYTES);
    CHECK_STATUS(slim_mls_tree_decode(g.s, slim_bytes_of(b.data, b.len - 1), &bad),
                 SLIM_E_MLS_VECTOR_PAST_END);
    static const uint8_t blank_last[] = {0x01, 0x00};
    CHECK_STATUS(slim_mls_tree_decode(g.s, slim_bytes_of(blank_last, 2), &bad),
                 SLIM_E_MLS_TREE_TRAILING_BLANK);
    CHECK(bad == NULL);
    slim_mls_tree_free(t);
    slim_buf_cleanup(&b);
    slim_buf_cleanup(&b2);
    slim_buf_cleanup(&ext);
    tg_free(&g);
}

TEST(tree_operations_run_out_of_memory_cleanly) {
    tgroup g;
    tg_init(&g, 1, 6);
    tg_commit(&g, 2, NULL);
    slim_buf enc = SLIM_BUF_INIT, after = SLIM_BUF_INIT;
    tg_encode(g.m[0].tree, &enc);
    tg_make_member(&g, 6);
    g.n = 7;
    test_alloc_install();
    for (long n = 1; n < 400; n++) {
        long live = test_alloc_live();
        slim_mls_tree *t = NULL, *c = NULL;
        test_alloc_fail_after(n);
        slim_status st = slim_mls_tree_decode(g.s, slim_buf_view(&enc), &t);
        if (st == SLIM_OK)
            st = slim_mls_tree_clone(t, &c);
        if (st == SLIM_OK) {
            st = slim_mls_tree_add(c, &g.m[6].kpv.leaf_node, NULL);
            test_alloc_fail_after(0);
            /* A failed add leaves the clone as it was. */
            tg_encode(c, &after);
            if (st != SLIM_OK)
                CHECK(after.len == enc.len && memcmp(after.data, enc.data, enc.len) == 0);
        }
        test_alloc_fail_after(0);
        CHECK(st == SLIM_OK || st == SLIM_E_NOMEM);
        slim_mls_tree_free(c);
        slim_mls_tree_free(t);
        slim_buf_cleanup(&after);
        CHECK_EQ(test_alloc_live(), live);
        if (st == SLIM_OK)
            break;
    }
    test_alloc_uninstall();
    slim_buf_cleanup(&enc);
    slim_buf_cleanup(&after);
    tg_free(&g);
}

/* ---- validation: one broken rule per tree -------------------------------- */

/* Writes the tree as a seed of fuzz_mls_tree (when SLIM_FUZZ_SEED_DIR is
 * set): the first byte picks the suite and turns the lifetime check on. */
static void tree_seed(const tgroup *g, slim_mls_tree *t, const char *what) {
    slim_buf b = SLIM_BUF_INIT;
    char name[64];
    tg_encode(t, &b);
    snprintf(name, sizeof name, "suite%u-%s", g->s->id, what);
    write_fuzz_seed("fuzz_mls_tree", name, (uint8_t)((g->s->id == 2) | 2), slim_buf_view(&b));
    slim_buf_cleanup(&b);
}

TEST(valid_trees_pass_validation) {
    for (size_t si = 0; si < SLIM_ARRAY_LEN(SUITES); si++) {
        tgroup g;
        tg_init(&g, SUITES[si], 7);
        slim_mls_validation v = tg_validation(&g);
        uint8_t h[SLIM_MLS_MAX_HASH];
        CHECK_OK(slim_mls_tree_hash(g.m[0].tree, h));
        CHECK_OK(slim_mls_tree_validate(g.m[0].tree, &v, slim_bytes_of(h, g.s->nh)));
        tree_seed(&g, g.m[0].tree, "adds");
        tg_commit(&g, 2, NULL);
        tg_commit(&g, 6, NULL);
        tree_seed(&g, g.m[0].tree, "commits");
        tg_remove(&g, 4);
        tg_add(&g);
        tg_add(&g);
        tg_commit(&g, 0, NULL);
        tg_add(&g);
        CHECK_OK(slim_mls_tree_validate(g.m[0].tree, &v, slim_bytes_of(NULL, 0)));
        CHECK_OK(slim_mls_tree_verify_parent_hashes(g.m[0].tree, NULL));
        tree_seed(&g, g.m[0].tree, "unmerged");
        tg_free(&g);
    }
}

TEST(tree_hash_mismatch_is_refused) {
    tgroup g;
    tg_init(&g, 1, 3);
    slim_mls_validation v = tg_validation(&g);
    uint8_t h[SLIM_MLS_MAX_HASH];
    CHECK_OK(slim_mls_tree_hash(g.m[0].tree, h));
    h[5] ^= 1;
    expect_refused(g.m[0].tree, &v, slim_bytes_of(h, g.s->nh), SLIM_E_MLS_TREE_HASH_MISMATCH);
    expect_refused(g.m[0].tree, &v, slim_bytes_of(h, 3), SLIM_E_MLS_TREE_HASH_MISMATCH);
    tg_free(&g);
}

/* 8 members; 5 leaves, then 4 and 6 commit, then a new member takes leaf
 * 5: node 9 is blank, nodes 11 and 7 list leaf 5 as unmerged, node 13 was
 * set by leaf 6. */
static void unmerged_group(tgroup *g, uint16_t suite) {
    tg_init(g, suite, 8);
    tg_remove(g, 5);
    tg_commit(g, 4, NULL);
    tg_commit(g, 6, NULL);
    size_t i = tg_add(g);
    CHECK_EQ(g->m[i].leaf, 5);
    slim_mls_tree *t = g->m[0].tree;
    CHECK(slim_mls_tree_node(t, 9) == NULL);
    CHECK(slim_mls_tree_is_unmerged(t, 11, 5));
    CHECK(slim_mls_tree_is_unmerged(t, 7, 5));
    slim_mls_validation v = tg_validation(g);
    CHECK_OK(slim_mls_tree_validate(t, &v, slim_bytes_of(NULL, 0)));
}

/* Sets slot x of t to a parent node like the one there, with unmerged
 * leaves `u` and, when `key_fill` is not 0, a fresh key. */
static void retouch_parent(slim_mls_tree *t, uint32_t x, const uint32_t *u, size_t n,
                           uint8_t key_fill, const uint8_t *ph_flip) {
    const slim_mls_suite *s = slim_mls_tree_suite(t);
    slim_mls_node node = *slim_mls_tree_node(t, x);
    slim_buf list = SLIM_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        CHECK_OK(slim_buf_append_u32(&list, u[i]));
    node.u.parent.unmerged_leaves.body = slim_buf_view(&list);
    node.u.parent.unmerged_leaves.count = (uint32_t)n;
    uint8_t key[SLIM_MLS_MAX_DH_PUBLIC], ph[SLIM_MLS_MAX_HASH];
    if (key_fill != 0) {
        memset(key, key_fill, s->kem_npk);
        key[0] = s->id == 2 ? 4 : key[0];
        node.u.parent.encryption_key = slim_bytes_of(key, s->kem_npk);
    }
    if (ph_flip != NULL && node.u.parent.parent_hash.len > 0) {
        memcpy(ph, node.u.parent.parent_hash.ptr, node.u.parent.parent_hash.len);
        ph[0] ^= *ph_flip;
        node.u.parent.parent_hash = slim_bytes_of(ph, node.u.parent.parent_hash.len);
    }
    CHECK_OK(slim_mls_tree_set_node(t, x, &node));
    slim_buf_cleanup(&list);
}

TEST(unmerged_leaf_and_parent_hash_rules_are_enforced) {
    for (size_t si = 0; si < SLIM_ARRAY_LEN(SUITES); si++) {
        tgroup g;
        unmerged_group(&g, SUITES[si]);
        slim_mls_validation v = tg_validation(&g);
        slim_bytes none = slim_bytes_of(NULL, 0);
        slim_mls_tree *t = NULL;
        /* Node 11 forgets leaf 5 while the root still lists it. */
        CHECK_OK(slim_mls_tree_clone(g.m[0].tree, &t));
        retouch_parent(t, 11, NULL, 0, 0, NULL);
        expect_refused(t, &v, none, SLIM_E_MLS_UNMERGED_LEAF_MISSING);
        slim_mls_tree_free(t);
        /* Node 11 lists leaf 0, which is not below it. */
        CHECK_OK(slim_mls_tree_clone(g.m[0].tree, &t));
        retouch_parent(t, 11, (const uint32_t[]){0, 5}, 2, 0, NULL);
        expect_refused(t, &v, none, SLIM_E_MLS_UNMERGED_LEAF_INVALID);
        slim_mls_tree_free(t);
        /* The root lists leaf 9 of an 8-leaf tree. */
        CHECK_OK(slim_mls_tree_clone(g.m[0].tree, &t));
        retouch_parent(t, 7, (const uint32_t[]){5, 9}, 2, 0, NULL);
        expect_refused(t, &v, none, SLIM_E_MLS_UNMERGED_LEAF_INVALID);
        slim_mls_tree_free(t);
        /* Leaf 5 is blank but still listed. */
        CHECK_OK(slim_mls_tree_clone(g.m[0].tree, &t));
        CHECK_OK(slim_mls_tree_set_node(t, 10, NULL));
        expect_refused(t, &v, none, SLIM_E_MLS_UNMERGED_LEAF_INVALID);
        slim_mls_tree_free(t);

        uint32_t bad = 0;
        /* Node 13 gets another key: leaf 6 signed a parent hash over the
         * old one. */
        CHECK_OK(slim_mls_tree_clone(g.m[0].tree, &t));
        retouch_parent(t, 13, NULL, 0, 0x5c, NULL);
        expect_refused(t, &v, none, SLIM_E_MLS_PARENT_HASH_INVALID);
        CHECK_STATUS(slim_mls_tree_verify_parent_hashes(t, &bad), SLIM_E_MLS_PARENT_HASH_INVALID);
        CHECK_EQ(bad, 13);
        slim_mls_tree_free(t);
        /* Node 11's parent_hash is altered: it no longer links to the root. */
        CHECK_OK(slim_mls_tree_clone(g.m[0].tree, &t));
        uint8_t flip = 0x80;
        retouch_parent(t, 11, (const uint32_t[]){5}, 1, 0, &flip);
        expect_refused(t, &v, none, SLIM_E_MLS_PARENT_HASH_INVALID);
        /* The root is checked first and fails first: the parent_hash
         * of node 11 is what linked it to its chain. */
        CHECK_STATUS(slim_mls_tree_verify_parent_hashes(t, &bad), SLIM_E_MLS_PARENT_HASH_INVALID);
        CHECK_EQ(bad, 7);
        slim_mls_tree_free(t);
        /* A parent appears where no UpdatePath put one (node 1). */
        CHECK_OK(slim_mls_tree_clone(g.m[0].tree, &t));
        uint8_t key[SLIM_MLS_MAX_DH_PUBLIC];
        slim_buf list = SLIM_BUF_INIT;
        slim_mls_node p = parent_node(g.s, key, 0x3d, NULL, 0, &list);
        CHECK_OK(slim_mls_tree_set_node(t, 1, &p));
        expect_refused(t, &v, none, SLIM_E_MLS_PARENT_HASH_INVALID);
        slim_buf_cleanup(&list);
        slim_mls_tree_free(t);
        /* Leaf 5 (unmerged at 11 and 7, so in no parent hash) takes the
         * key of parent node 13, validly signed: only uniqueness breaks. */
        CHECK_OK(slim_mls_tree_clone(g.m[0].tree, &t));
        uint8_t k13[SLIM_MLS_MAX_DH_PUBLIC];
        memcpy(k13, slim_mls_tree_encryption_key(t, 13).ptr, g.s->kem_npk);
        put_leaf(&g, t, 5, &g.m[8].params, SLIM_MLS_LEAF_SOURCE_UPDATE,
                 slim_bytes_of(k13, g.s->kem_npk));
        expect_refused(t, &v, none, SLIM_E_MLS_DUPLICATE_ENCRYPTION_KEY);
        slim_mls_tree_free(t);
        /* A parent key of the wrong size. */
        CHECK_OK(slim_mls_tree_clone(g.m[0].tree, &t));
        slim_mls_node p13 = *slim_mls_tree_node(t, 13);
        p13.u.parent.encryption_key.len--;
        CHECK_OK(slim_mls_tree_set_node(t, 13, &p13));
        expect_refused(t, &v, none, SLIM_E_MLS_BAD_KEY);
        slim_mls_tree_free(t);
        tg_free(&g);
    }
}

/* The leaf rules, on a tree of Adds only (every parent blank, so no
 * parent hash depends on the leaf being changed). */
TEST(leaf_rules_are_enforced_in_trees) {
    for (size_t si = 0; si < SLIM_ARRAY_LEN(SUITES); si++) {
        tgroup g;
        tg_init(&g, SUITES[si], 4);
        slim_mls_validation v = tg_validation(&g);
        slim_bytes none = slim_bytes_of(NULL, 0);
        slim_mls_tree *base = g.m[0].tree, *t = NULL;
        tmember *m2 = &g.m[2];
        slim_bytes k2 = leaf_key(base, 2);
        uint8_t k2copy[SLIM_MLS_MAX_DH_PUBLIC];
        memcpy(k2copy, k2.ptr, k2.len);
        k2 = slim_bytes_of(k2copy, k2.len);
        slim_mls_leaf_params p;

        /* Control: rebuilt as it was (update source, signed for leaf 2). */
        CHECK_OK(slim_mls_tree_clone(base, &t));
        put_leaf(&g, t, 2, &m2->params, SLIM_MLS_LEAF_SOURCE_UPDATE, k2);
        CHECK_OK(slim_mls_tree_validate(t, &v, none));
        /* Signed for leaf 3, sitting at leaf 2. */
        put_leaf_signed_for(&g, t, 2, 3, &m2->params, SLIM_MLS_LEAF_SOURCE_UPDATE, k2);
        expect_refused(t, &v, none, SLIM_E_MLS_LEAF_BAD_SIGNATURE);
        slim_mls_tree_free(t);
        /* Another group's update leaf. */
        CHECK_OK(slim_mls_tree_clone(base, &t));
        put_leaf(&g, t, 2, &m2->params, SLIM_MLS_LEAF_SOURCE_UPDATE, k2);
        slim_mls_validation other = v;
        other.group_id = slim_bytes_of("another-group", 13);
        expect_refused(t, &other, none, SLIM_E_MLS_LEAF_BAD_SIGNATURE);
        /* A field changed after signing. */
        slim_mls_node n2 = *slim_mls_tree_node(t, 4);
        n2.u.leaf.credential.body = slim_bytes_of("member-9", 8);
        CHECK_OK(slim_mls_tree_set_node(t, 4, &n2));
        expect_refused(t, &v, none, SLIM_E_MLS_LEAF_BAD_SIGNATURE);
        slim_mls_tree_free(t);

        /* The application refuses the credential. */
        p = m2->params;
        p.credential.body = slim_bytes_of("mallory", 7);
        CHECK_OK(slim_mls_tree_clone(base, &t));
        put_leaf(&g, t, 2, &p, SLIM_MLS_LEAF_SOURCE_UPDATE, k2);
        expect_refused(t, &v, none, SLIM_E_MLS_CREDENTIAL_REJECTED);
        slim_mls_tree_free(t);

        /* Encryption key of leaf 1 reused at leaf 2. */
        CHECK_OK(slim_mls_tree_clone(base, &t));
        put_leaf(&g, t, 2, &m2->params, SLIM_MLS_LEAF_SOURCE_UPDATE, leaf_key(base, 1));
        expect_refused(t, &v, none, SLIM_E_MLS_DUPLICATE_ENCRYPTION_KEY);
        slim_mls_tree_free(t);
        /* Signature key of member 1 at leaf 2 (validly signed). */
        p = m2->params;
        p.signature_key = g.m[1].params.signature_key;
        p.signer = g.m[1].params.signer;
        CHECK_OK(slim_mls_tree_clone(base, &t));
        put_leaf(&g, t, 2, &p, SLIM_MLS_LEAF_SOURCE_UPDATE, k2);
        expect_refused(t, &v, none, SLIM_E_MLS_DUPLICATE_SIGNATURE_KEY);
        slim_mls_tree_free(t);
        /* A key of the wrong size. */
        CHECK_OK(slim_mls_tree_clone(base, &t));
        put_leaf(&g, t, 2, &m2->params, SLIM_MLS_LEAF_SOURCE_UPDATE,
                 slim_bytes_of(k2.ptr, k2.len - 1));
        expect_refused(t, &v, none, SLIM_E_MLS_BAD_KEY);
        slim_mls_tree_free(t);
        tg_free(&g);
    }
}

/* Capabilities encoded from lists (for the capability rules). */
typedef struct caps_buf {
    slim_buf b;
    slim_mls_capabilities c;
} caps_buf;

static void make_caps(caps_buf *cb, const uint16_t *suites, size_t ns, const uint16_t *exts,
                      size_t ne, const uint16_t *creds, size_t nc) {
    const uint16_t version = SLIM_MLS_VERSION_MLS10;
    const uint16_t *lists[5] = {&version, suites, exts, NULL, creds};
    size_t lens[5] = {1, ns, ne, 0, nc};
    slim_mls_tls_writer w;
    cb->b.len = 0;
    slim_mls_tls_writer_init(&w, &cb->b);
    for (size_t i = 0; i < 5; i++) {
        size_t mark = slim_mls_tls_vec_begin(&w);
        for (size_t j = 0; j < lens[i]; j++)
            slim_mls_tls_put_u16(&w, lists[i][j]);
        slim_mls_tls_vec_end(&w, mark);
    }
    CHECK_OK(slim_mls_tls_writer_status(&w));
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(&cb->b));
    slim_mls_capabilities_decode(&r, &cb->c);
    CHECK_OK(slim_mls_tls_reader_finish(&r));
}

TEST(capability_credential_and_lifetime_rules_are_enforced) {
    for (size_t si = 0; si < SLIM_ARRAY_LEN(SUITES); si++) {
        tgroup g;
        tg_init(&g, SUITES[si], 4);
        const slim_mls_suite *s = g.s;
        uint16_t other_suite = s->id == 1 ? 2 : 1;
        slim_mls_validation v = tg_validation(&g);
        slim_bytes none = slim_bytes_of(NULL, 0);
        slim_mls_tree *base = g.m[0].tree, *t = NULL;
        tmember *m2 = &g.m[2];
        uint8_t k2[SLIM_MLS_MAX_DH_PUBLIC];
        memcpy(k2, leaf_key(base, 2).ptr, s->kem_npk);
        slim_bytes key2 = slim_bytes_of(k2, s->kem_npk);
        caps_buf cb;
        memset(&cb, 0, sizeof cb);
        slim_mls_leaf_params p = m2->params;
        p.capabilities = &cb.c;
        const uint16_t basic = SLIM_MLS_CREDENTIAL_BASIC, x509 = SLIM_MLS_CREDENTIAL_X509;
        const uint16_t both[2] = {basic, x509};

        /* The group's suite missing from the leaf's capabilities. */
        make_caps(&cb, &other_suite, 1, NULL, 0, &basic, 1);
        CHECK_OK(slim_mls_tree_clone(base, &t));
        put_leaf(&g, t, 2, &p, SLIM_MLS_LEAF_SOURCE_UPDATE, key2);
        expect_refused(t, &v, none, SLIM_E_MLS_UNSUPPORTED_VERSION_OR_SUITE);
        slim_mls_tree_free(t);

        /* An extension the leaf carries but does not list; listed, fine. */
        uint8_t ext_buf[16];
        slim_buf eb = SLIM_BUF_INIT;
        slim_mls_tls_writer w;
        slim_mls_tls_writer_init(&w, &eb);
        slim_mls_extension e = {0xff00, slim_bytes_of(ext_buf, 0)};
        CHECK_OK(slim_mls_extension_encode(&w, &e));
        p.extensions.body = slim_buf_view(&eb);
        p.extensions.count = 1;
        make_caps(&cb, &s->id, 1, NULL, 0, &basic, 1);
        CHECK_OK(slim_mls_tree_clone(base, &t));
        put_leaf(&g, t, 2, &p, SLIM_MLS_LEAF_SOURCE_UPDATE, key2);
        expect_refused(t, &v, none, SLIM_E_MLS_UNSUPPORTED_EXTENSION);
        const uint16_t ff00 = 0xff00;
        make_caps(&cb, &s->id, 1, &ff00, 1, &basic, 1);
        put_leaf(&g, t, 2, &p, SLIM_MLS_LEAF_SOURCE_UPDATE, key2);
        CHECK_OK(slim_mls_tree_validate(t, &v, none));
        slim_mls_tree_free(t);
        p.extensions.body = slim_bytes_of(NULL, 0);
        p.extensions.count = 0;

        /* The leaf's own credential type not in its capabilities. */
        make_caps(&cb, &s->id, 1, NULL, 0, &x509, 1);
        CHECK_OK(slim_mls_tree_clone(base, &t));
        put_leaf(&g, t, 2, &p, SLIM_MLS_LEAF_SOURCE_UPDATE, key2);
        expect_refused(t, &v, none, SLIM_E_MLS_CREDENTIAL_UNSUPPORTED);
        slim_mls_tree_free(t);
        /* An x509 member the basic-only members cannot verify. */
        slim_buf certs = SLIM_BUF_INIT;
        slim_mls_tls_writer_init(&w, &certs);
        CHECK_OK(slim_mls_tls_put_opaque(&w, slim_bytes_of("not-a-real-cert", 15)));
        p.credential.type = SLIM_MLS_CREDENTIAL_X509;
        p.credential.body = slim_buf_view(&certs);
        make_caps(&cb, &s->id, 1, NULL, 0, both, 2);
        CHECK_OK(slim_mls_tree_clone(base, &t));
        put_leaf(&g, t, 2, &p, SLIM_MLS_LEAF_SOURCE_UPDATE, key2);
        expect_refused(t, &v, none, SLIM_E_MLS_CREDENTIAL_UNSUPPORTED);
        slim_mls_tree_free(t);
        p.credential = m2->params.credential;

        /* required_capabilities the members lack: a non-default extension,
         * a credential type, a non-default proposal; then only default
         * types and the credential type in use, which every member has. */
        slim_buf gext = SLIM_BUF_INIT, rcb = SLIM_BUF_INIT;
        const uint16_t required[4][3] = {
            {0x0a0a, 0x0002, basic}, /* extension, proposal, credential */
            {0x0001, 0x0002, x509},
            {0x0001, 0x0b0b, basic},
            {0x0005, 0x0007, basic},
        };
        for (int round = 0; round < 4; round++) {
            rcb.len = gext.len = 0;
            slim_mls_tls_writer_init(&w, &rcb);
            for (int list = 0; list < 3; list++) {
                size_t mark = slim_mls_tls_vec_begin(&w);
                slim_mls_tls_put_u16(&w, required[round][list]);
                slim_mls_tls_vec_end(&w, mark);
            }
            CHECK_OK(slim_mls_tls_writer_status(&w));
            slim_mls_tls_writer_init(&w, &gext);
            slim_mls_extension rc = {SLIM_MLS_EXT_REQUIRED_CAPABILITIES, slim_buf_view(&rcb)};
            CHECK_OK(slim_mls_extension_encode(&w, &rc));
            slim_mls_validation vr = v;
            vr.group_extensions = slim_buf_view(&gext);
            if (round < 3)
                expect_refused(base, &vr, none, SLIM_E_MLS_MISSING_REQUIRED_CAPABILITY);
            else
                CHECK_OK(slim_mls_tree_validate(base, &vr, none));
        }

        /* Lifetimes of key_package leaves: not yet valid at `now`, then
         * longer than the application allows. */
        p = m2->params;
        p.lifetime.not_before = 1500;
        CHECK_OK(slim_mls_tree_clone(base, &t));
        put_leaf(&g, t, 2, &p, SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE, key2);
        expect_refused(t, &v, none, SLIM_E_MLS_LIFETIME_INVALID);
        slim_mls_validation lax = v;
        lax.check_lifetime = false; /* receiving: the check is only recommended */
        CHECK_OK(slim_mls_tree_validate(t, &lax, none));
        slim_mls_tree_free(t);
        slim_mls_validation strict = v;
        strict.max_lifetime = 1999;
        expect_refused(base, &strict, none, SLIM_E_MLS_LIFETIME_TOO_LONG);
        strict.max_lifetime = 2000;
        CHECK_OK(slim_mls_tree_validate(base, &strict, none));

        slim_buf_cleanup(&cb.b);
        slim_buf_cleanup(&eb);
        slim_buf_cleanup(&certs);
        slim_buf_cleanup(&gext);
        slim_buf_cleanup(&rcb);
        tg_free(&g);
    }
}

TEST_MAIN(TEST_ENTRY(add_update_remove_give_the_rfc_shapes),
          TEST_ENTRY(adds_are_unmerged_below_non_blank_parents_and_updates_blank_the_path),
          TEST_ENTRY(resolutions_of_the_rfc_figure),
          TEST_ENTRY(filtered_direct_paths_of_the_rfc_figure),
          TEST_ENTRY(clones_change_independently_and_the_hash_cache_stays_right),
          TEST_ENTRY(a_path_update_rehashes_only_the_path),
          TEST_ENTRY(codec_round_trips_and_refuses_what_it_must),
          TEST_ENTRY(tree_operations_run_out_of_memory_cleanly),
          TEST_ENTRY(valid_trees_pass_validation), TEST_ENTRY(tree_hash_mismatch_is_refused),
          TEST_ENTRY(unmerged_leaf_and_parent_hash_rules_are_enforced),
          TEST_ENTRY(leaf_rules_are_enforced_in_trees),
          TEST_ENTRY(capability_credential_and_lifetime_rules_are_enforced))
