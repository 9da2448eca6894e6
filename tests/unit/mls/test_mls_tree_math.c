/* Unit tests for src/mls/tree_math: the eight-leaf tree of RFC 9420
 * Appendix C, errors, and the path functions checked against a brute-force
 * walk over every tree up to 128 leaves. */
#include "mls/tree_math.h"
#include "mls_test_util.h"

TEST(eight_leaf_tree) {
    /*                 7
     *         3               11
     *     1       5       9       13
     *   0   2   4   6   8  10  12  14      */
    uint32_t v;
    CHECK_OK(slim_mls_tree_root(8, &v));
    CHECK_EQ(v, 7);
    CHECK_EQ(slim_mls_tree_width(8), 15);
    CHECK_EQ(slim_mls_tree_level(0), 0);
    CHECK_EQ(slim_mls_tree_level(7), 3);
    CHECK_EQ(slim_mls_tree_level(11), 2);
    CHECK_OK(slim_mls_tree_left(7, 8, &v));
    CHECK_EQ(v, 3);
    CHECK_OK(slim_mls_tree_right(7, 8, &v));
    CHECK_EQ(v, 11);
    CHECK_OK(slim_mls_tree_right(9, 8, &v));
    CHECK_EQ(v, 10);
    CHECK_OK(slim_mls_tree_parent(10, 8, &v));
    CHECK_EQ(v, 9);
    CHECK_OK(slim_mls_tree_parent(11, 8, &v));
    CHECK_EQ(v, 7);
    CHECK_OK(slim_mls_tree_sibling(5, 8, &v));
    CHECK_EQ(v, 1);
    CHECK_OK(slim_mls_tree_sibling(3, 8, &v));
    CHECK_EQ(v, 11);
    uint32_t path[SLIM_MLS_TREE_MAX_DEPTH];
    size_t n;
    CHECK_OK(slim_mls_tree_direct_path(4, 8, path, &n));
    CHECK_EQ(n, 3);
    CHECK(path[0] == 5 && path[1] == 3 && path[2] == 7);
    CHECK_OK(slim_mls_tree_copath(4, 8, path, &n));
    CHECK_EQ(n, 3);
    CHECK(path[0] == 6 && path[1] == 1 && path[2] == 11);
    CHECK_OK(slim_mls_tree_direct_path(7, 8, path, &n));
    CHECK_EQ(n, 0);
    CHECK_OK(slim_mls_tree_common_ancestor(2, 12, 8, &v));
    CHECK_EQ(v, 7);
    CHECK_OK(slim_mls_tree_common_ancestor(8, 10, 8, &v));
    CHECK_EQ(v, 9);
    CHECK_OK(slim_mls_tree_common_ancestor(4, 3, 8, &v));
    CHECK_EQ(v, 3);
    CHECK_OK(slim_mls_tree_common_ancestor(6, 6, 8, &v));
    CHECK_EQ(v, 6);
    CHECK_EQ(slim_mls_tree_leaf_node(3), 6);
    CHECK(slim_mls_tree_is_leaf(6) && !slim_mls_tree_is_leaf(5));
}

TEST(errors) {
    uint32_t v = 12345, path[SLIM_MLS_TREE_MAX_DEPTH];
    size_t n;
    CHECK_STATUS(slim_mls_tree_root(0, &v), SLIM_E_MLS_TREE_SIZE);
    CHECK_STATUS(slim_mls_tree_root(3, &v), SLIM_E_MLS_TREE_SIZE);
    CHECK_STATUS(slim_mls_tree_root(UINT32_MAX, &v), SLIM_E_MLS_TREE_SIZE);
    CHECK_EQ(v, 12345);
    CHECK_STATUS(slim_mls_tree_left(4, 8, &v), SLIM_E_MLS_TREE_NO_CHILD);
    CHECK_STATUS(slim_mls_tree_right(0, 1, &v), SLIM_E_MLS_TREE_NO_CHILD);
    CHECK_STATUS(slim_mls_tree_parent(7, 8, &v), SLIM_E_MLS_TREE_NO_PARENT);
    CHECK_STATUS(slim_mls_tree_sibling(0, 1, &v), SLIM_E_MLS_TREE_NO_PARENT);
    CHECK_STATUS(slim_mls_tree_parent(15, 8, &v), SLIM_E_MLS_TREE_INDEX);
    CHECK_STATUS(slim_mls_tree_left(15, 8, &v), SLIM_E_MLS_TREE_INDEX);
    CHECK_STATUS(slim_mls_tree_direct_path(15, 8, path, &n), SLIM_E_MLS_TREE_INDEX);
    CHECK_STATUS(slim_mls_tree_common_ancestor(0, 16, 8, &v), SLIM_E_MLS_TREE_INDEX);
    CHECK_STATUS(slim_mls_tree_copath(0, 6, path, &n), SLIM_E_MLS_TREE_SIZE);
    CHECK_EQ(v, 12345);
}

TEST(largest_tree) {
    uint32_t n = SLIM_MLS_TREE_MAX_LEAVES, v, path[SLIM_MLS_TREE_MAX_DEPTH];
    size_t len;
    CHECK_OK(slim_mls_tree_root(n, &v));
    CHECK_U64(v, 0x7fffffffu);
    CHECK_U64(slim_mls_tree_width(n), 0xffffffffu);
    uint32_t last = 0xfffffffeu; /* the last leaf */
    CHECK_OK(slim_mls_tree_direct_path(last, n, path, &len));
    CHECK_EQ(len, 31);
    CHECK_U64(path[30], 0x7fffffffu);
    CHECK_OK(slim_mls_tree_common_ancestor(0, last, n, &v));
    CHECK_U64(v, 0x7fffffffu);
    CHECK_OK(slim_mls_tree_right(0x7fffffffu, n, &v));
    CHECK_U64(v, 0xbfffffffu);
}

/* Brute force: parent[] from left/right over the whole tree. */
TEST(paths_match_brute_force) {
    for (uint32_t n = 1; n <= 128; n *= 2) {
        uint32_t w = slim_mls_tree_width(n), root;
        CHECK_OK(slim_mls_tree_root(n, &root));
        uint32_t parent[255];
        for (uint32_t i = 0; i < w; i++)
            parent[i] = UINT32_MAX;
        for (uint32_t i = 0; i < w; i++) {
            uint32_t l, r;
            if (slim_mls_tree_left(i, n, &l) == SLIM_OK) {
                CHECK_OK(slim_mls_tree_right(i, n, &r));
                parent[l] = i;
                parent[r] = i;
            }
        }
        for (uint32_t x = 0; x < w; x++) {
            uint32_t p;
            if (x == root) {
                CHECK_EQ(parent[x], UINT32_MAX);
                continue;
            }
            CHECK_OK(slim_mls_tree_parent(x, n, &p));
            CHECK_EQ(p, parent[x]);
            uint32_t dp[SLIM_MLS_TREE_MAX_DEPTH], cp[SLIM_MLS_TREE_MAX_DEPTH];
            size_t ndp, ncp;
            CHECK_OK(slim_mls_tree_direct_path(x, n, dp, &ndp));
            CHECK_OK(slim_mls_tree_copath(x, n, cp, &ncp));
            CHECK_EQ(ndp, ncp);
            uint32_t at = x;
            for (size_t i = 0; i < ndp; i++) {
                uint32_t sib;
                CHECK_OK(slim_mls_tree_sibling(at, n, &sib));
                CHECK_EQ(cp[i], sib);
                at = parent[at];
                CHECK_EQ(dp[i], at);
            }
            CHECK_EQ(at, root);
            for (uint32_t y = 0; y < w; y++) {
                /* The lowest common node of the two paths (with themselves). */
                uint32_t want = root;
                for (uint32_t a = x; a != UINT32_MAX && want == root; a = parent[a]) {
                    for (uint32_t b = y; b != UINT32_MAX; b = parent[b]) {
                        if (a == b) {
                            want = a;
                            break;
                        }
                    }
                }
                uint32_t got;
                CHECK_OK(slim_mls_tree_common_ancestor(x, y, n, &got));
                if (got != want)
                    TEST_FAIL_AT("common_ancestor(%u, %u, %u) = %u, want %u", x, y, n, got, want);
                CHECK_EQ(slim_mls_tree_is_ancestor(got, x), 1);
                CHECK_EQ(slim_mls_tree_is_ancestor(got, y), 1);
            }
        }
    }
}

TEST_MAIN(TEST_ENTRY(eight_leaf_tree), TEST_ENTRY(errors), TEST_ENTRY(largest_tree),
          TEST_ENTRY(paths_match_brute_force))
