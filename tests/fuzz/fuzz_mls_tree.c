/*
 * libFuzzer target: ratchet-tree decoding and validation (src/mls/tree.c,
 * validate.c).
 *
 * The first input byte picks the cipher suite (bit 0: suite 1 or 2) and
 * whether the validation checks lifetimes (bit 1); the rest is an
 * `optional<Node> ratchet_tree<V>`. Invariants, each an abort when
 * broken:
 *   - what decodes re-encodes to exactly the input;
 *   - a clone encodes and hashes like the original, and changing the
 *     clone (removing its first member, adding it back) leaves the
 *     original's encoding and hash alone;
 *   - the cached tree hash equals the hash from scratch;
 *   - validation gives the same status twice and leaves the tree's
 *     encoding and hash unchanged; a tree it accepts is parent-hash
 *     valid;
 *   - every resolution names slots inside the tree; every filtered
 *     direct path climbs, level by level, through ancestors of its leaf
 *     with copath nodes off the path.
 * Leaks and memory errors are the sanitizers' to find.
 */
#include "mls/tree.h"
#include "mls/validate.h"

#include <stdlib.h>
#include <string.h>

static void check(bool ok) {
    if (!ok)
        abort();
}

static slim_status accept_all(void *arg, const slim_mls_credential *c, slim_bytes key) {
    (void)arg;
    (void)c;
    (void)key;
    return SLIM_OK;
}

/* The tree's encoding (appended to a fresh buffer) and root hash. */
static void snapshot(slim_mls_tree *t, slim_buf *enc, uint8_t *hash) {
    enc->len = 0;
    check(slim_mls_tree_encode(t, enc) == SLIM_OK);
    check(slim_mls_tree_hash(t, hash) == SLIM_OK);
}

static bool same(const slim_buf *a, const slim_buf *b) {
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static void walk_paths(const slim_mls_tree *t) {
    uint32_t w = slim_mls_tree_node_count(t);
    slim_mls_index_list res = SLIM_MLS_INDEX_LIST_INIT;
    for (uint32_t x = 0; x < w; x++) {
        check(slim_mls_tree_resolution(t, x, NULL, 0, &res) == SLIM_OK);
        for (size_t i = 0; i < res.len; i++)
            check(res.v[i] < w);
    }
    slim_mls_index_list_cleanup(&res);
    for (uint32_t l = 0; l < slim_mls_tree_leaf_count(t); l++) {
        uint32_t fdp[SLIM_MLS_TREE_MAX_DEPTH], cp[SLIM_MLS_TREE_MAX_DEPTH];
        size_t n = 0;
        check(slim_mls_tree_filtered_direct_path(t, l, fdp, cp, &n) == SLIM_OK);
        for (size_t i = 0; i < n; i++)
            check(fdp[i] < w && slim_mls_tree_is_ancestor(fdp[i], 2 * l) &&
                  !slim_mls_tree_is_ancestor(cp[i], 2 * l) &&
                  (i == 0 || slim_mls_tree_level(fdp[i]) > slim_mls_tree_level(fdp[i - 1])));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const slim_mls_suite *s = slim_mls_suite_get((data[0] & 1) ? 2 : 1);
    slim_bytes in = slim_bytes_of(data + 1, size - 1);
    slim_mls_tree *t = NULL, *c = NULL;
    if (slim_mls_tree_decode(s, in, &t) != SLIM_OK)
        return 0;
    uint8_t h[SLIM_MLS_MAX_HASH], h2[SLIM_MLS_MAX_HASH];
    slim_buf enc = SLIM_BUF_INIT, enc2 = SLIM_BUF_INIT;
    snapshot(t, &enc, h);
    check(enc.len == in.len && memcmp(enc.data, in.ptr, in.len) == 0);

    slim_mls_tree_forget_hashes(t);
    check(slim_mls_tree_hash(t, h2) == SLIM_OK && memcmp(h, h2, s->nh) == 0);
    walk_paths(t);

    slim_mls_validation v;
    memset(&v, 0, sizeof v);
    v.suite = s;
    v.group_id = slim_bytes_of("fuzz", 4);
    v.credential = accept_all;
    v.now = 1000;
    v.check_lifetime = (data[0] & 2) != 0;
    slim_status st = slim_mls_tree_validate(t, &v, slim_bytes_of(h, s->nh));
    check(slim_mls_tree_validate(t, &v, slim_bytes_of(h, s->nh)) == st);
    snapshot(t, &enc2, h2);
    check(same(&enc, &enc2) && memcmp(h, h2, s->nh) == 0);
    if (st == SLIM_OK)
        check(slim_mls_tree_verify_parent_hashes(t, NULL) == SLIM_OK);

    /* A clone that changes; the original stays as it was. */
    if (slim_mls_tree_clone(t, &c) == SLIM_OK) {
        snapshot(c, &enc2, h2);
        check(same(&enc, &enc2) && memcmp(h, h2, s->nh) == 0);
        uint32_t first = 0;
        while (first < slim_mls_tree_leaf_count(c) && slim_mls_tree_leaf(c, first) == NULL)
            first++;
        const slim_mls_leaf_node *ln = slim_mls_tree_leaf(t, first);
        if (ln != NULL && slim_mls_tree_remove(c, first) == SLIM_OK &&
            slim_mls_tree_member_count(c) > 0) {
            check(slim_mls_tree_add(c, ln, NULL) == SLIM_OK);
            walk_paths(c);
            uint8_t hc[SLIM_MLS_MAX_HASH];
            check(slim_mls_tree_hash(c, hc) == SLIM_OK);
        }
        snapshot(t, &enc2, h2);
        check(same(&enc, &enc2) && memcmp(h, h2, s->nh) == 0);
    }
    slim_mls_tree_free(c);
    slim_mls_tree_free(t);
    slim_buf_cleanup(&enc);
    slim_buf_cleanup(&enc2);
    return 0;
}
