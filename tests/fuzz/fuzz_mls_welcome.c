/*
 * libFuzzer target: joining a group from a Welcome (slim_mls_group_join)
 * as the client R of the fixed group of mls_group_fuzz.h.
 *
 * Byte 0: bit 0 picks cipher suite 1 or 2; bits 1-2 the mode:
 *   0  the rest is a Welcome (MLSMessage) for R, with or without the tree;
 *   1  the same, with the fixture's tree given beside it;
 *   2  the rest is a GroupInfo: sealed with R's welcome key and sent with
 *      R's genuine group secrets, so the fuzzer works on what comes after
 *      decryption (signature, tree, key schedule, confirmation tag);
 *   3  the rest is a GroupSecrets: encrypted to R's init key for the
 *      genuine GroupInfo (joiner secret, path secret, PSKs).
 * Invariants, each an abort when broken: a state that joins is at its
 * GroupContext's epoch, its tree hashes to the GroupContext's tree hash,
 * R's private keys match the tree (its leaf is its KeyPackage's); a
 * refused join returns no state.
 */
#include "core/util.h"

#include <stdlib.h>

#define GF_CHECK_OK(expr)                                                                          \
    do {                                                                                           \
        if ((expr) != SLIM_OK)                                                                     \
            abort();                                                                               \
    } while (0)

#include "mls_group_fuzz.h"

static void check(bool ok) {
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static gfuzz fixtures[2];
    static bool ready;
    if (!ready) {
        gfuzz_init(&fixtures[0], 1);
        gfuzz_init(&fixtures[1], 2);
        ready = true;
    }
    if (size < 1)
        return 0;
    gfuzz *f = &fixtures[data[0] & 1];
    int mode = (data[0] >> 1) & 3;
    slim_bytes in = slim_bytes_of(data + 1, size - 1), welcome = in;
    slim_bytes tree = mode == 1 ? slim_buf_view(&f->tree) : slim_bytes_of(NULL, 0);
    slim_buf built = SLIM_BUF_INIT;
    if (mode == 2)
        check(gfuzz_wrap(f, in, slim_buf_view(&f->group_secrets), &built) == SLIM_OK);
    if (mode == 3)
        check(gfuzz_wrap(f, slim_buf_view(&f->group_info), in, &built) == SLIM_OK);
    if (mode >= 2)
        welcome = slim_buf_view(&built);
    slim_mls_group *g = NULL;
    slim_status st = gfuzz_join_r(f, welcome, tree, &g);
    if (st == SLIM_OK) {
        check(g != NULL && slim_mls_group_epoch(g) == g->gc.epoch);
        uint8_t th[SLIM_MLS_MAX_HASH];
        check(slim_mls_tree_hash(g->tree, th) == SLIM_OK);
        check(gf_same(slim_bytes_of(th, f->w.s->nh), g->gc.tree_hash));
        check(slim_mls_tree_priv_check(&g->priv, g->tree) == SLIM_OK);
        slim_mls_key_package kp;
        check(slim_mls__key_package_view(slim_buf_view(&f->w.m[FZ_R].kp), &kp) == SLIM_OK);
        const slim_mls_leaf_node *ln = slim_mls_group_member(g, slim_mls_group_own_leaf(g));
        check(ln != NULL && gf_same(ln->encryption_key, kp.leaf_node.encryption_key));
    } else {
        check(g == NULL);
    }
    slim_mls_group_free(g);
    slim_buf_cleanup(&built);
    return 0;
}
