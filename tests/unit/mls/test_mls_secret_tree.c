/* Unit tests for src/mls/secret_tree: sender and receiver agree, each key
 * is used once, skipped keys are kept within the limits, too-far and
 * reused generations are refused, and allocation failures are clean; a
 * saved tree loads to the same state (what was used stays used) and a
 * malformed one is refused; skip moves a ratchet on, not past its end. */
#include "core/alloc.h"
#include "mls/secret_tree.h"
#include "mls_test_util.h"

static const uint8_t root_secret[32] = {7, 7, 7};

static slim_mls_secret_tree *new_tree(uint32_t n_leaves) {
    slim_mls_secret_tree *t = NULL;
    CHECK_OK(slim_mls_secret_tree_new(slim_mls_suite_get(1), slim_bytes_of(root_secret, 32),
                                      n_leaves, &t));
    return t;
}

TEST(sender_and_receiver_agree) {
    for (uint16_t id = 1; id <= 2; id++) {
        slim_mls_secret_tree *snd = NULL, *rcv = NULL;
        const slim_mls_suite *s = slim_mls_suite_get(id);
        CHECK_OK(slim_mls_secret_tree_new(s, slim_bytes_of(root_secret, 32), 4, &snd));
        CHECK_OK(slim_mls_secret_tree_new(s, slim_bytes_of(root_secret, 32), 4, &rcv));
        CHECK_EQ(slim_mls_secret_tree_leaves(snd), 4);
        for (uint32_t leaf = 0; leaf < 4; leaf++) {
            for (uint32_t gen = 0; gen < 5; gen++) {
                slim_mls_ratchet_key a, b;
                CHECK_OK(slim_mls_secret_tree_next(snd, leaf, SLIM_MLS_RATCHET_APPLICATION, &a));
                CHECK_EQ(a.generation, gen);
                CHECK_EQ(a.key_len, 16);
                CHECK_EQ(a.nonce_len, 12);
                CHECK_OK(
                    slim_mls_secret_tree_take(rcv, leaf, SLIM_MLS_RATCHET_APPLICATION, gen, &b));
                CHECK_MEM(a.key, b.key, 16);
                CHECK_MEM(a.nonce, b.nonce, 12);
                slim_mls_ratchet_key_cleanup(&a);
                slim_mls_ratchet_key_cleanup(&b);
            }
        }
        /* Handshake and application ratchets differ, and so do leaves. */
        slim_mls_ratchet_key h, a, o;
        CHECK_OK(slim_mls_secret_tree_next(snd, 0, SLIM_MLS_RATCHET_HANDSHAKE, &h));
        CHECK_OK(slim_mls_secret_tree_take(rcv, 0, SLIM_MLS_RATCHET_APPLICATION, 5, &a));
        CHECK_OK(slim_mls_secret_tree_take(rcv, 1, SLIM_MLS_RATCHET_APPLICATION, 5, &o));
        CHECK(memcmp(h.key, a.key, 16) != 0);
        CHECK(memcmp(a.key, o.key, 16) != 0);
        slim_mls_secret_tree_free(snd);
        slim_mls_secret_tree_free(rcv);
    }
}

TEST(reused_generation_refused) {
    slim_mls_secret_tree *t = new_tree(2);
    slim_mls_ratchet_key k, k2;
    CHECK_OK(slim_mls_secret_tree_take(t, 1, SLIM_MLS_RATCHET_HANDSHAKE, 0, &k));
    CHECK_STATUS(slim_mls_secret_tree_take(t, 1, SLIM_MLS_RATCHET_HANDSHAKE, 0, &k2),
                 SLIM_E_MLS_GENERATION_REUSED);
    /* get keeps the key until erase; get twice gives the same key. */
    CHECK_OK(slim_mls_secret_tree_get(t, 1, SLIM_MLS_RATCHET_HANDSHAKE, 3, &k));
    CHECK_OK(slim_mls_secret_tree_get(t, 1, SLIM_MLS_RATCHET_HANDSHAKE, 3, &k2));
    CHECK_MEM(k.key, k2.key, 16);
    CHECK_OK(slim_mls_secret_tree_erase(t, 1, SLIM_MLS_RATCHET_HANDSHAKE, 3));
    CHECK_STATUS(slim_mls_secret_tree_get(t, 1, SLIM_MLS_RATCHET_HANDSHAKE, 3, &k2),
                 SLIM_E_MLS_GENERATION_REUSED);
    CHECK_STATUS(slim_mls_secret_tree_erase(t, 1, SLIM_MLS_RATCHET_HANDSHAKE, 3),
                 SLIM_E_MLS_GENERATION_REUSED);
    /* The skipped generations 1 and 2 are still there, once each. */
    CHECK_OK(slim_mls_secret_tree_take(t, 1, SLIM_MLS_RATCHET_HANDSHAKE, 2, &k));
    CHECK_OK(slim_mls_secret_tree_take(t, 1, SLIM_MLS_RATCHET_HANDSHAKE, 1, &k));
    CHECK_STATUS(slim_mls_secret_tree_take(t, 1, SLIM_MLS_RATCHET_HANDSHAKE, 1, &k),
                 SLIM_E_MLS_GENERATION_REUSED);
    /* A key handed out by next is never kept. */
    CHECK_OK(slim_mls_secret_tree_next(t, 0, SLIM_MLS_RATCHET_APPLICATION, &k));
    CHECK_EQ(k.generation, 0);
    CHECK_STATUS(slim_mls_secret_tree_get(t, 0, SLIM_MLS_RATCHET_APPLICATION, 0, &k2),
                 SLIM_E_MLS_GENERATION_REUSED);
    slim_mls_ratchet_key_cleanup(&k);
    slim_mls_ratchet_key_cleanup(&k2);
    slim_mls_secret_tree_free(t);
}

TEST(jump_limits) {
    slim_mls_secret_tree *t = new_tree(1);
    slim_mls_ratchet_key k;
    CHECK_STATUS(slim_mls_secret_tree_get(t, 0, SLIM_MLS_RATCHET_APPLICATION, 1025, &k),
                 SLIM_E_MLS_GENERATION_TOO_FAR);
    CHECK_STATUS(slim_mls_secret_tree_get(t, 0, SLIM_MLS_RATCHET_APPLICATION, UINT32_MAX, &k),
                 SLIM_E_MLS_GENERATION_TOO_FAR);
    /* Exactly 1024 ahead is allowed; the ratchet then stands at 1025. */
    CHECK_OK(slim_mls_secret_tree_take(t, 0, SLIM_MLS_RATCHET_APPLICATION, 1024, &k));
    CHECK_STATUS(slim_mls_secret_tree_get(t, 0, SLIM_MLS_RATCHET_APPLICATION, 1025 + 1025, &k),
                 SLIM_E_MLS_GENERATION_TOO_FAR);
    /* With 1024 keys at most, generation 0 was dropped and 1 is kept. */
    CHECK_STATUS(slim_mls_secret_tree_get(t, 0, SLIM_MLS_RATCHET_APPLICATION, 0, &k),
                 SLIM_E_MLS_GENERATION_REUSED);
    CHECK_OK(slim_mls_secret_tree_take(t, 0, SLIM_MLS_RATCHET_APPLICATION, 1, &k));
    CHECK_OK(slim_mls_secret_tree_take(t, 0, SLIM_MLS_RATCHET_APPLICATION, 1023, &k));
    slim_mls_ratchet_key_cleanup(&k);
    slim_mls_secret_tree_free(t);
}

TEST(kept_keys_are_bounded_oldest_first) {
    slim_mls_secret_tree *t = new_tree(1);
    slim_mls_ratchet_key k;
    /* Skip generations 0..99 by taking 100. */
    CHECK_OK(slim_mls_secret_tree_take(t, 0, SLIM_MLS_RATCHET_HANDSHAKE, 100, &k));
    /* Jump 1000 more: the 100 kept keys plus 1001 new ones (101..1101)
     * exceed 1024, so the 77 oldest (0..76) go. */
    CHECK_OK(slim_mls_secret_tree_take(t, 0, SLIM_MLS_RATCHET_HANDSHAKE, 1101, &k));
    CHECK_STATUS(slim_mls_secret_tree_take(t, 0, SLIM_MLS_RATCHET_HANDSHAKE, 76, &k),
                 SLIM_E_MLS_GENERATION_REUSED);
    CHECK_OK(slim_mls_secret_tree_take(t, 0, SLIM_MLS_RATCHET_HANDSHAKE, 77, &k));
    CHECK_OK(slim_mls_secret_tree_take(t, 0, SLIM_MLS_RATCHET_HANDSHAKE, 99, &k));
    CHECK_OK(slim_mls_secret_tree_take(t, 0, SLIM_MLS_RATCHET_HANDSHAKE, 1100, &k));
    CHECK_STATUS(slim_mls_secret_tree_take(t, 0, SLIM_MLS_RATCHET_HANDSHAKE, 100, &k),
                 SLIM_E_MLS_GENERATION_REUSED);
    /* A long run of in-order messages keeps the store bounded. */
    for (uint32_t g = 1102; g < 1102 + 3000; g++)
        CHECK_OK(slim_mls_secret_tree_take(t, 0, SLIM_MLS_RATCHET_HANDSHAKE, g, &k));
    CHECK_OK(slim_mls_secret_tree_take(t, 0, SLIM_MLS_RATCHET_HANDSHAKE, 101, &k));
    slim_mls_ratchet_key_cleanup(&k);
    slim_mls_secret_tree_free(t);
}

TEST(out_of_order_matches_in_order) {
    slim_mls_secret_tree *a = new_tree(8), *b = new_tree(8);
    slim_mls_ratchet_key ka[20], kb;
    for (uint32_t g = 0; g < 20; g++)
        CHECK_OK(slim_mls_secret_tree_next(a, 5, SLIM_MLS_RATCHET_APPLICATION, &ka[g]));
    static const uint32_t order[] = {19, 3,  0, 18, 7,  1,  2,  4,  5,  6,
                                     8,  17, 9, 10, 11, 12, 16, 13, 14, 15};
    for (size_t i = 0; i < SLIM_ARRAY_LEN(order); i++) {
        CHECK_OK(slim_mls_secret_tree_take(b, 5, SLIM_MLS_RATCHET_APPLICATION, order[i], &kb));
        CHECK_EQ(kb.generation, order[i]);
        CHECK_MEM(kb.key, ka[order[i]].key, 16);
        CHECK_MEM(kb.nonce, ka[order[i]].nonce, 12);
    }
    /* Leaves derived in any order give the same secrets. */
    slim_mls_ratchet_key x, y;
    CHECK_OK(slim_mls_secret_tree_next(a, 0, SLIM_MLS_RATCHET_HANDSHAKE, &x));
    CHECK_OK(slim_mls_secret_tree_next(b, 7, SLIM_MLS_RATCHET_HANDSHAKE, &y));
    CHECK_OK(slim_mls_secret_tree_next(b, 0, SLIM_MLS_RATCHET_HANDSHAKE, &y));
    CHECK_MEM(x.key, y.key, 16);
    slim_mls_secret_tree_free(a);
    slim_mls_secret_tree_free(b);
}

TEST(bad_arguments) {
    slim_mls_secret_tree *t = NULL;
    const slim_mls_suite *s = slim_mls_suite_get(1);
    CHECK_STATUS(slim_mls_secret_tree_new(s, slim_bytes_of(root_secret, 32), 3, &t),
                 SLIM_E_MLS_TREE_SIZE);
    CHECK_STATUS(slim_mls_secret_tree_new(s, slim_bytes_of(root_secret, 31), 4, &t),
                 SLIM_E_INVALID_ARG);
    CHECK(t == NULL);
    t = new_tree(4);
    slim_mls_ratchet_key k;
    CHECK_STATUS(slim_mls_secret_tree_next(t, 4, SLIM_MLS_RATCHET_HANDSHAKE, &k),
                 SLIM_E_MLS_TREE_INDEX);
    CHECK_STATUS(slim_mls_secret_tree_get(t, 0, (slim_mls_ratchet_type)2, 0, &k),
                 SLIM_E_INVALID_ARG);
    slim_mls_secret_tree_free(t);
    slim_mls_secret_tree_free(NULL);
}

TEST(sender_data_key_nonce) {
    const slim_mls_suite *s = slim_mls_suite_get(1);
    uint8_t secret[32] = {1}, ct[40], k1[16], n1[12], k2[16], n2[12];
    memset(ct, 0xab, sizeof ct);
    /* Only the first Nh bytes of the ciphertext count. */
    CHECK_OK(slim_mls_sender_data_key_nonce(s, NULL, slim_bytes_of(secret, 32),
                                            slim_bytes_of(ct, 40), k1, n1));
    CHECK_OK(slim_mls_sender_data_key_nonce(s, NULL, slim_bytes_of(secret, 32),
                                            slim_bytes_of(ct, 32), k2, n2));
    CHECK_MEM(k1, k2, 16);
    CHECK_MEM(n1, n2, 12);
    /* A shorter ciphertext is used whole. */
    CHECK_OK(slim_mls_sender_data_key_nonce(s, NULL, slim_bytes_of(secret, 32),
                                            slim_bytes_of(ct, 5), k2, n2));
    CHECK(memcmp(k1, k2, 16) != 0);
    uint8_t want[16];
    CHECK_OK(slim_mls_expand_with_label(s, slim_bytes_of(secret, 32), "key", slim_bytes_of(ct, 5),
                                        want, 16));
    CHECK_MEM(k2, want, 16);
}

TEST(allocation_failures_are_clean) {
    test_alloc_install();
    const slim_mls_suite *s = slim_mls_suite_get(1);
    bool done = false;
    for (long n = 1; n < 400 && !done; n++) {
        slim_mls_secret_tree *t = NULL;
        test_alloc_fail_after(n);
        slim_status st = slim_mls_secret_tree_new(s, slim_bytes_of(root_secret, 32), 16, &t);
        slim_mls_ratchet_key k;
        if (st == SLIM_OK)
            st = slim_mls_secret_tree_take(t, 9, SLIM_MLS_RATCHET_APPLICATION, 40, &k);
        if (st == SLIM_OK)
            st = slim_mls_secret_tree_take(t, 9, SLIM_MLS_RATCHET_APPLICATION, 3, &k);
        if (st == SLIM_OK)
            st = slim_mls_secret_tree_next(t, 2, SLIM_MLS_RATCHET_HANDSHAKE, &k);
        test_alloc_fail_after(0);
        if (st == SLIM_OK) {
            done = true;
        } else {
            CHECK_STATUS(st, SLIM_E_NOMEM);
            /* The tree stays usable after a failure. */
            if (t != NULL) {
                slim_mls_ratchet_key k2;
                CHECK_OK(slim_mls_secret_tree_next(t, 2, SLIM_MLS_RATCHET_HANDSHAKE, &k2));
            }
        }
        slim_mls_secret_tree_free(t);
        CHECK_EQ(test_alloc_live(), 0);
    }
    CHECK(done);
    test_alloc_uninstall();
}

/* ---- saving and loading, skip ------------------------------------------ */

static void encode(const slim_mls_secret_tree *t, slim_buf *out) {
    slim_buf_cleanup_secret(out);
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    CHECK_OK(slim_mls_secret_tree_encode(&w, t));
    CHECK(out->len <= slim_mls_secret_tree_encode_bound(t));
}

static slim_status decode(const slim_mls_suite *s, slim_bytes in, uint32_t n_leaves,
                          slim_mls_secret_tree **out) {
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, in);
    slim_mls_secret_tree *t = NULL;
    slim_status st = slim_mls_secret_tree_decode(&r, s, n_leaves, &t);
    if (st == SLIM_OK)
        st = slim_mls_tls_reader_finish(&r);
    if (st != SLIM_OK) {
        slim_mls_secret_tree_free(t);
        return st;
    }
    *out = t;
    return SLIM_OK;
}

/* Both trees hand out the same key for (leaf, type, generation), or
 * refuse it with the same status. */
static void check_same_take(slim_mls_secret_tree *a, slim_mls_secret_tree *b, uint32_t leaf,
                            slim_mls_ratchet_type type, uint32_t gen, slim_status want) {
    slim_mls_ratchet_key ka, kb;
    CHECK_STATUS(slim_mls_secret_tree_take(a, leaf, type, gen, &ka), want);
    CHECK_STATUS(slim_mls_secret_tree_take(b, leaf, type, gen, &kb), want);
    if (want == SLIM_OK)
        CHECK_MEM(ka.key, kb.key, ka.key_len);
    slim_mls_ratchet_key_cleanup(&ka);
    slim_mls_ratchet_key_cleanup(&kb);
}

TEST(saved_tree_loads_as_it_was) {
    for (uint16_t id = 1; id <= 2; id++) {
        const slim_mls_suite *s = slim_mls_suite_get(id);
        slim_mls_secret_tree *t = NULL, *u = NULL;
        CHECK_OK(slim_mls_secret_tree_new(s, slim_bytes_of(root_secret, s->nh), 8, &t));
        /* Leaf 2 sent twice, leaf 6 read generation 5 (0..4 kept), leaf 0
         * sent one handshake message; the others not derived yet. */
        slim_mls_ratchet_key k;
        CHECK_OK(slim_mls_secret_tree_next(t, 2, SLIM_MLS_RATCHET_APPLICATION, &k));
        CHECK_OK(slim_mls_secret_tree_next(t, 2, SLIM_MLS_RATCHET_APPLICATION, &k));
        CHECK_OK(slim_mls_secret_tree_take(t, 6, SLIM_MLS_RATCHET_APPLICATION, 5, &k));
        CHECK_OK(slim_mls_secret_tree_next(t, 0, SLIM_MLS_RATCHET_HANDSHAKE, &k));
        slim_buf a = SLIM_BUF_INIT, b = SLIM_BUF_INIT;
        encode(t, &a);
        CHECK_OK(decode(s, slim_buf_view(&a), 8, &u));
        if (u == NULL)
            break;
        encode(u, &b);
        CHECK(a.len == b.len);
        CHECK_MEM(a.data, b.data, a.len);
        /* The same behaviour from here on. */
        check_same_take(t, u, 6, SLIM_MLS_RATCHET_APPLICATION, 5, SLIM_E_MLS_GENERATION_REUSED);
        check_same_take(t, u, 6, SLIM_MLS_RATCHET_APPLICATION, 3, SLIM_OK);
        check_same_take(t, u, 6, SLIM_MLS_RATCHET_APPLICATION, 9, SLIM_OK);
        check_same_take(t, u, 2, SLIM_MLS_RATCHET_APPLICATION, 1, SLIM_E_MLS_GENERATION_REUSED);
        check_same_take(t, u, 2, SLIM_MLS_RATCHET_APPLICATION, 2, SLIM_OK);
        check_same_take(t, u, 0, SLIM_MLS_RATCHET_HANDSHAKE, 0, SLIM_E_MLS_GENERATION_REUSED);
        check_same_take(t, u, 7, SLIM_MLS_RATCHET_HANDSHAKE, 0, SLIM_OK);
        check_same_take(t, u, 3, SLIM_MLS_RATCHET_APPLICATION, 4, SLIM_OK);
        /* Refused: every truncation, another leaf count, a trailing byte. */
        slim_mls_secret_tree *v = NULL;
        test_alloc_install();
        for (size_t n = 0; n < a.len; n++) {
            if (decode(s, slim_bytes_of(a.data, n), 8, &v) == SLIM_OK)
                TEST_FAIL_AT("the first %zu of %zu bytes decoded", n, a.len);
        }
        CHECK_EQ(test_alloc_live(), 0);
        test_alloc_uninstall();
        CHECK_STATUS(decode(s, slim_buf_view(&a), 4, &v), SLIM_E_MLS_BAD_VALUE);
        CHECK_STATUS(decode(s, slim_buf_view(&a), 16, &v), SLIM_E_MLS_BAD_VALUE);
        CHECK_STATUS(decode(s, slim_buf_view(&a), 3, &v), SLIM_E_MLS_TREE_SIZE);
        CHECK_OK(slim_buf_append_u8(&a, 0));
        CHECK_STATUS(decode(s, slim_buf_view(&a), 8, &v), SLIM_E_MLS_TRAILING_BYTES);
        CHECK(v == NULL);
        slim_mls_secret_tree_free(t);
        slim_mls_secret_tree_free(u);
        slim_buf_cleanup_secret(&a);
        slim_buf_cleanup_secret(&b);
    }
}

/* A one-leaf SecretTreeState of suite 1 whose two ratchets are at
 * `next`, keeping the generations kept[0..n_kept), with node secrets at
 * nodes[0..n_nodes). */
static void craft(slim_buf *out, uint64_t next, const uint32_t *kept, size_t n_kept,
                  const uint32_t *nodes, size_t n_nodes) {
    uint8_t zero[32] = {0};
    out->len = 0;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    size_t mark = slim_mls_tls_vec_begin(&w);
    for (size_t i = 0; i < n_nodes; i++) {
        slim_mls_tls_put_u32(&w, nodes[i]);
        slim_mls_tls_put_raw(&w, slim_bytes_of(zero, 32));
    }
    slim_mls_tls_vec_end(&w, mark);
    mark = slim_mls_tls_vec_begin(&w);
    slim_mls_tls_put_u32(&w, 0);
    for (int r = 0; r < 2; r++) {
        slim_mls_tls_put_u64(&w, next);
        slim_mls_tls_put_raw(&w, slim_bytes_of(zero, 32));
        size_t m2 = slim_mls_tls_vec_begin(&w);
        for (size_t i = 0; i < n_kept; i++) {
            slim_mls_tls_put_u32(&w, kept[i]);
            slim_mls_tls_put_raw(&w, slim_bytes_of(zero, 16 + 12));
        }
        slim_mls_tls_vec_end(&w, m2);
    }
    slim_mls_tls_vec_end(&w, mark);
    CHECK_OK(slim_mls_tls_writer_status(&w));
}

TEST(malformed_saved_trees_are_refused) {
    const slim_mls_suite *s = slim_mls_suite_get(1);
    slim_buf b = SLIM_BUF_INIT;
    slim_mls_secret_tree *t = NULL;
    uint32_t kept[3] = {1, 2, 3}, bad_order[2] = {2, 1}, node0[1] = {0};
    craft(&b, 4, kept, 3, NULL, 0);
    CHECK_OK(decode(s, slim_buf_view(&b), 1, &t));
    slim_mls_secret_tree_free(t);
    t = NULL;
    craft(&b, 3, kept, 3, NULL, 0); /* a kept generation not below the ratchet */
    CHECK_STATUS(decode(s, slim_buf_view(&b), 1, &t), SLIM_E_MLS_BAD_VALUE);
    craft(&b, 4, bad_order, 2, NULL, 0);
    CHECK_STATUS(decode(s, slim_buf_view(&b), 1, &t), SLIM_E_MLS_BAD_VALUE);
    craft(&b, (UINT64_C(1) << 32) + 1, NULL, 0, NULL, 0); /* past the last generation */
    CHECK_STATUS(decode(s, slim_buf_view(&b), 1, &t), SLIM_E_MLS_BAD_VALUE);
    craft(&b, 4, NULL, 0, node0, 1); /* the leaf both derived and under a secret */
    CHECK_STATUS(decode(s, slim_buf_view(&b), 1, &t), SLIM_E_MLS_BAD_VALUE);
    /* Too many kept keys. */
    uint32_t *many = calloc(SLIM_MLS_RATCHET_MAX_KEPT + 1, sizeof *many);
    for (uint32_t i = 0; many != NULL && i <= SLIM_MLS_RATCHET_MAX_KEPT; i++)
        many[i] = i;
    craft(&b, SLIM_MLS_RATCHET_MAX_KEPT + 1, many, SLIM_MLS_RATCHET_MAX_KEPT, NULL, 0);
    CHECK_OK(decode(s, slim_buf_view(&b), 1, &t));
    slim_mls_secret_tree_free(t);
    t = NULL;
    craft(&b, SLIM_MLS_RATCHET_MAX_KEPT + 1, many, SLIM_MLS_RATCHET_MAX_KEPT + 1, NULL, 0);
    CHECK_STATUS(decode(s, slim_buf_view(&b), 1, &t), SLIM_E_MLS_BAD_VALUE);
    free(many);
    /* Two node secrets out of order, one outside the tree, none at all. */
    slim_mls_tls_writer w;
    b.len = 0;
    slim_mls_tls_writer_init(&w, &b);
    uint8_t zero[32] = {0};
    size_t mark = slim_mls_tls_vec_begin(&w);
    slim_mls_tls_put_u32(&w, 2);
    slim_mls_tls_put_raw(&w, slim_bytes_of(zero, 32));
    slim_mls_tls_put_u32(&w, 0);
    slim_mls_tls_put_raw(&w, slim_bytes_of(zero, 32));
    slim_mls_tls_vec_end(&w, mark);
    slim_mls_tls_put_u8(&w, 0);
    CHECK_STATUS(decode(s, slim_buf_view(&b), 2, &t), SLIM_E_MLS_BAD_VALUE);
    CHECK_STATUS(decode(s, slim_buf_view(&b), 1, &t), SLIM_E_MLS_BAD_VALUE);
    const uint8_t empty[2] = {0, 0};
    CHECK_STATUS(decode(s, slim_bytes_of(empty, 2), 2, &t), SLIM_E_MLS_BAD_VALUE);
    CHECK(t == NULL);
    slim_buf_cleanup(&b);
}

TEST(skip_moves_a_ratchet_on_but_not_past_its_end) {
    const slim_mls_suite *s = slim_mls_suite_get(1);
    slim_mls_secret_tree *snd = new_tree(4), *rcv = new_tree(4);
    slim_mls_ratchet_key a, b;
    CHECK_OK(slim_mls_secret_tree_skip(snd, 1, SLIM_MLS_RATCHET_APPLICATION, 10));
    CHECK_OK(slim_mls_secret_tree_next(snd, 1, SLIM_MLS_RATCHET_APPLICATION, &a));
    CHECK_EQ(a.generation, 10);
    CHECK_OK(slim_mls_secret_tree_take(rcv, 1, SLIM_MLS_RATCHET_APPLICATION, 10, &b));
    CHECK_MEM(a.key, b.key, a.key_len);
    /* The other ratchet did not move. */
    CHECK_OK(slim_mls_secret_tree_next(snd, 1, SLIM_MLS_RATCHET_HANDSHAKE, &a));
    CHECK_EQ(a.generation, 0);
    CHECK_OK(slim_mls_secret_tree_skip(snd, 1, SLIM_MLS_RATCHET_HANDSHAKE, 0));
    slim_mls_secret_tree_free(snd);
    slim_mls_secret_tree_free(rcv);
    /* Near the end: two generations left. */
    slim_buf buf = SLIM_BUF_INIT;
    slim_mls_secret_tree *t = NULL;
    craft(&buf, UINT32_MAX - 1, NULL, 0, NULL, 0);
    CHECK_OK(decode(s, slim_buf_view(&buf), 1, &t));
    if (t != NULL) {
        CHECK_STATUS(slim_mls_secret_tree_skip(t, 0, SLIM_MLS_RATCHET_APPLICATION, 3),
                     SLIM_E_MLS_GENERATION_EXHAUSTED);
        CHECK_OK(slim_mls_secret_tree_next(t, 0, SLIM_MLS_RATCHET_APPLICATION, &a));
        CHECK_U64(a.generation, UINT32_MAX - 1);
        CHECK_OK(slim_mls_secret_tree_skip(t, 0, SLIM_MLS_RATCHET_APPLICATION, 1));
        CHECK_STATUS(slim_mls_secret_tree_next(t, 0, SLIM_MLS_RATCHET_APPLICATION, &a),
                     SLIM_E_MLS_GENERATION_EXHAUSTED);
        CHECK_STATUS(slim_mls_secret_tree_skip(t, 0, SLIM_MLS_RATCHET_APPLICATION, 1),
                     SLIM_E_MLS_GENERATION_EXHAUSTED);
        CHECK_STATUS(slim_mls_secret_tree_skip(t, 2, SLIM_MLS_RATCHET_APPLICATION, 1),
                     SLIM_E_MLS_TREE_INDEX);
    }
    slim_mls_ratchet_key_cleanup(&a);
    slim_mls_ratchet_key_cleanup(&b);
    slim_mls_secret_tree_free(t);
    slim_buf_cleanup(&buf);
}

TEST_MAIN(TEST_ENTRY(sender_and_receiver_agree), TEST_ENTRY(reused_generation_refused),
          TEST_ENTRY(jump_limits), TEST_ENTRY(kept_keys_are_bounded_oldest_first),
          TEST_ENTRY(out_of_order_matches_in_order), TEST_ENTRY(bad_arguments),
          TEST_ENTRY(sender_data_key_nonce), TEST_ENTRY(allocation_failures_are_clean),
          TEST_ENTRY(saved_tree_loads_as_it_was), TEST_ENTRY(malformed_saved_trees_are_refused),
          TEST_ENTRY(skip_moves_a_ratchet_on_but_not_past_its_end))
