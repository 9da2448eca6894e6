/*
 * libFuzzer target: loading a saved group state (slim_mls_group_load) as
 * one of the four clients of the fixed group of mls_group_fuzz.h.
 *
 * Byte 0: bit 0 picks cipher suite 1 or 2, bits 1-2 the client (A, B, C,
 * R), bits 3-4 the skip (0-3). The rest is the saved state. The seeds
 * (written by test_mls_group_state) are each member's own state.
 * Invariants, each an abort when broken: a refused load returns no state
 * and a named status; a loaded state is at its GroupContext's epoch, its
 * tree hashes to the GroupContext's tree hash, its private keys match the
 * tree, its leaf holds the client's signature key; loaded with skip 0 and
 * saved again it gives the input bytes; it exports, and it protects a
 * message unless its group ended, its ratchet is used up or its padding
 * option is one protect refuses.
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

static void check_loaded(gfuzz *f, const gmember *m, slim_mls_group *g, slim_bytes in,
                         uint32_t skip) {
    const slim_mls_suite *s = f->w.s;
    uint8_t th[SLIM_MLS_MAX_HASH];
    check(slim_mls_group_epoch(g) == g->gc.epoch);
    check(slim_mls_tree_hash(g->tree, th) == SLIM_OK);
    check(gf_same(slim_bytes_of(th, s->nh), g->gc.tree_hash));
    check(slim_mls_tree_priv_check(&g->priv, g->tree) == SLIM_OK);
    const slim_mls_leaf_node *ln = slim_mls_group_member(g, slim_mls_group_own_leaf(g));
    check(ln != NULL && gf_same(ln->signature_key, slim_mls_client_signature_key(m->client)));
    if (skip == 0) {
        slim_buf again = SLIM_BUF_INIT;
        check(slim_mls_group_save(g, &again) == SLIM_OK);
        check(gf_same(in, slim_buf_view(&again)));
        slim_buf_cleanup_secret(&again);
    }
    uint8_t x[16];
    check(slim_mls_group_export(g, "fuzz", slim_bytes_of(NULL, 0), x, sizeof x) == SLIM_OK);
    slim_buf msg = SLIM_BUF_INIT;
    slim_status st =
        slim_mls_group_protect(g, slim_bytes_of(NULL, 0), slim_bytes_of("x", 1), &f->w.env, &msg);
    check(st == SLIM_OK || st == SLIM_E_MLS_GROUP_ENDED || st == SLIM_E_MLS_GENERATION_EXHAUSTED ||
          (st == SLIM_E_INVALID_ARG && g->opts.padding_block > SLIM_MLS_PADDING_BLOCK_MAX));
    slim_buf_cleanup(&msg);
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
    const gmember *m = &f->w.m[(data[0] >> 1) & 3];
    uint32_t skip = (data[0] >> 3) & 3;
    slim_bytes in = slim_bytes_of(data + 1, size - 1);
    slim_mls_group *g = NULL;
    slim_status st = slim_mls_group_load(m->client, in, NULL, skip, &g);
    if (st == SLIM_OK) {
        check(g != NULL);
        check_loaded(f, m, g, in, skip);
    } else {
        check(g == NULL && st != SLIM_E_INTERNAL && strcmp(slim_status_name(st), "E_UNKNOWN") != 0);
    }
    slim_mls_group_free(g);
    return 0;
}
