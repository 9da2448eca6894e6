/* Unit tests for src/mls/secret_tree: sender and receiver agree, each key
 * is used once, skipped keys are kept within the limits, too-far and
 * reused generations are refused, and allocation failures are clean. */
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

TEST_MAIN(TEST_ENTRY(sender_and_receiver_agree), TEST_ENTRY(reused_generation_refused),
          TEST_ENTRY(jump_limits), TEST_ENTRY(kept_keys_are_bounded_oldest_first),
          TEST_ENTRY(out_of_order_matches_in_order), TEST_ENTRY(bad_arguments),
          TEST_ENTRY(sender_data_key_nonce), TEST_ENTRY(allocation_failures_are_clean))
