/*
 * TreeKEM cost (RFC 9420 §7.4-§7.6): UpdatePath creation and processing
 * at 10, 100 and 1000 members, and tree hashing of the 1000-member tree,
 * for cipher suites 1 and 2.
 *
 * The tree is fully populated: every member has committed once (each
 * commit's path merged into the one public tree), so every parent node
 * that can hold a key holds one and the tree has no unmerged leaves. The
 * receiver R commits last and so holds the keys of its whole direct path.
 *
 *   create   the committer C (R's neighbour, leaf 0) clones the tree,
 *            runs slim_mls_treekem_path_begin, hashes the tree for the
 *            provisional GroupContext and seals the UpdatePath: what a
 *            Commit with a path costs the committer in TreeKEM.
 *   process  R clones the tree, merges C's UpdatePath (leaf validation
 *            with signature check, parent hashes), hashes the tree and
 *            decrypts its path secret. R is C's sibling, so it derives
 *            every node key of the path: the most work a receiver does.
 *   process, far receiver   the same for a member in the other half of
 *            the tree (its common ancestor with C is the root: one key
 *            to derive). It commits just before R, so it holds the key
 *            of its side's child of the root.
 *   tree hash, from scratch: every node of the 1000-member tree hashed.
 *   tree hash, after a path: the hash of a clone (cache full) right after
 *            path_begin changed one path: only that path is hashed.
 *   tree clone + free: what copy-then-modify costs before any change.
 *
 * Beside each time: the public-key operations per iteration, counted by
 * src/mls/pkey.c on this thread (DH, public-from-private derivations,
 * signatures, verifications), and for hashes the node hashes computed;
 * then the share of the time those operations take alone, from the cost
 * of one of each measured first in the same invocation.
 * Times are thread CPU time (CLOCK_THREAD_CPUTIME_ID) and wall clock;
 * each figure is the median of RUNS runs, the operations alternating.
 *
 *   bench_mls_tree [ITERATIONS]   iterations per run at 1000 members
 *                                 (x3 at 100, x10 at 10); default 20
 */
#include "bench_args.h"
#include "core/time.h"
#include "mls/group_context.h"
#include "mls/member.h"
#include "mls/treekem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS       5
#define BENCH_NAME "bench_mls_tree"
#include "bench_mls_ops.h"

static slim_status accept_all(void *arg, const slim_mls_credential *c, slim_bytes key) {
    (void)arg;
    (void)c;
    (void)key;
    return SLIM_OK;
}

typedef struct member {
    uint8_t sig_sk[SLIM_MLS_MAX_SIG_PRIVATE], sig_pk[SLIM_MLS_MAX_SIG_PUBLIC];
    slim_mls_sig_key *signer;
    char id[24];
    slim_mls_leaf_params params;
} member;

typedef struct group {
    const slim_mls_suite *s;
    uint32_t n;
    member *m;
    slim_mls_tree *tree;
    slim_mls_tree_priv near_priv, far_priv; /* R (leaf 1) and the far receiver */
    uint32_t near, far, committer;
    slim_mls_validation v;
} group;

static const uint8_t GROUP_ID[] = "bench-group-0001";

static void group_context(group *g, slim_mls_tree *t, slim_buf *out) {
    uint8_t th[SLIM_MLS_MAX_HASH];
    OK(slim_mls_tree_hash(t, th));
    slim_mls_group_context gc = {SLIM_MLS_VERSION_MLS10,
                                 g->s->id,
                                 slim_bytes_of(GROUP_ID, sizeof GROUP_ID - 1),
                                 42,
                                 slim_bytes_of(th, g->s->nh),
                                 slim_bytes_of(th, g->s->nh),
                                 slim_bytes_of(NULL, 0)};
    out->len = 0;
    OK(slim_mls_group_context_encode(&gc, out));
}

/* Member i commits: its path is merged into the one public tree. Its
 * private state is kept for the receivers. */
static void populate_commit(group *g, uint32_t i, slim_mls_tree_priv *priv) {
    slim_mls_path *path = NULL;
    OK(slim_mls_treekem_path_begin(g->tree, i, &g->m[i].params,
                                   slim_bytes_of(GROUP_ID, sizeof GROUP_ID - 1),
                                   slim_mls_rng_default(), &path));
    if (priv != NULL)
        slim_mls_path_apply(path, priv);
    slim_mls_path_free(path);
}

static void group_build(group *g, uint16_t suite, uint32_t n) {
    memset(g, 0, sizeof *g);
    g->s = slim_mls_suite_get(suite);
    g->n = n;
    g->m = calloc(n, sizeof *g->m);
    FAIL_IF(g->m == NULL, "calloc");
    OK(slim_mls_tree_new(g->s, &g->tree));
    const slim_mls_rng *rng = slim_mls_rng_default();
    slim_mls_vec none = {slim_bytes_of(NULL, 0), 0};
    for (uint32_t i = 0; i < n; i++) {
        member *m = &g->m[i];
        OK(slim_mls_signature_key_generate(g->s, rng, m->sig_sk, m->sig_pk));
        OK(slim_mls_sig_key_new(g->s->sig, slim_bytes_of(m->sig_sk, g->s->sig_nsk), true,
                                &m->signer));
        snprintf(m->id, sizeof m->id, "member-%u", i);
        m->params.credential.type = SLIM_MLS_CREDENTIAL_BASIC;
        m->params.credential.body = slim_bytes_of(m->id, strlen(m->id));
        m->params.signature_key = slim_bytes_of(m->sig_pk, g->s->sig_npk);
        m->params.signer = m->signer;
        m->params.lifetime.not_after = UINT64_MAX;
        slim_buf kp = SLIM_BUF_INIT;
        slim_mls_key_package_keys keys;
        OK(slim_mls_key_package_create(g->s, &m->params, none, rng, &kp, &keys));
        slim_mls_key_package kpv;
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, slim_buf_view(&kp));
        OK(slim_mls_key_package_decode(&r, &kpv));
        OK(slim_mls_tree_add(g->tree, &kpv.leaf_node, NULL));
        slim_mls_key_package_keys_cleanup(&keys);
        slim_buf_cleanup(&kp);
    }
    g->committer = 0;
    g->near = 1;
    g->far = n - 1;
    for (uint32_t i = 0; i < n; i++) {
        if (i != g->near && i != g->far)
            populate_commit(g, i, NULL);
    }
    populate_commit(g, g->far, &g->far_priv);
    populate_commit(g, g->near, &g->near_priv);
    slim_mls_tree_priv_prune(&g->far_priv, g->tree);
    OK(slim_mls_tree_priv_check(&g->near_priv, g->tree));
    OK(slim_mls_tree_priv_check(&g->far_priv, g->tree));
    g->v.suite = g->s;
    g->v.group_id = slim_bytes_of(GROUP_ID, sizeof GROUP_ID - 1);
    g->v.credential = accept_all;
    /* The populated tree is valid as a joiner would check it. */
    OK(slim_mls_tree_validate(g->tree, &g->v, slim_bytes_of(NULL, 0)));
}

static void group_free(group *g) {
    for (uint32_t i = 0; i < g->n; i++)
        slim_mls_sig_key_free(g->m[i].signer);
    free(g->m);
    slim_mls_tree_free(g->tree);
    slim_mls_tree_priv_cleanup(&g->near_priv);
    slim_mls_tree_priv_cleanup(&g->far_priv);
}

/* Step 1 of the committer's path on a clone of the tree: *t and *path
 * for the caller to free. */
static void begin_path(group *g, slim_mls_tree **t, slim_mls_path **path) {
    *t = NULL;
    *path = NULL;
    OK(slim_mls_tree_clone(g->tree, t));
    OK(slim_mls_treekem_path_begin(*t, g->committer, &g->m[g->committer].params,
                                   slim_bytes_of(GROUP_ID, sizeof GROUP_ID - 1),
                                   slim_mls_rng_default(), path));
}

/* One UpdatePath from the committer: its encoding into `up`, the context
 * into `ctx`, the commit secret into commit. */
static void create_path(group *g, slim_buf *up, slim_buf *ctx, uint8_t *commit) {
    slim_mls_tree *t;
    slim_mls_path *path;
    begin_path(g, &t, &path);
    group_context(g, t, ctx);
    up->len = 0;
    OK(slim_mls_treekem_path_seal(t, path, slim_buf_view(ctx), NULL, 0, slim_mls_rng_default(),
                                  up));
    if (commit != NULL)
        slim_mls_path_commit_secret(path, commit);
    slim_mls_path_free(path);
    slim_mls_tree_free(t);
}

static void process_path(group *g, const slim_mls_update_path *p, const slim_mls_tree_priv *priv,
                         slim_buf *ctx, const uint8_t *want) {
    slim_mls_tree *t = NULL;
    OK(slim_mls_tree_clone(g->tree, &t));
    OK(slim_mls_treekem_path_merge(t, &g->v, g->committer, p, NULL, 0));
    group_context(g, t, ctx);
    slim_mls_tree_priv mine = *priv;
    uint8_t commit[SLIM_MLS_MAX_HASH];
    OK(slim_mls_treekem_path_decrypt(t, g->committer, p, slim_buf_view(ctx), NULL, 0, &mine, commit,
                                     NULL));
    FAIL_IF(memcmp(commit, want, g->s->nh) != 0, "commit secret agreement");
    slim_mls_tree_priv_cleanup(&mine);
    slim_mls_tree_free(t);
}

static void bench_size(group *g, long iters) {
    slim_buf up = SLIM_BUF_INIT, ctx = SLIM_BUF_INIT, ctx2 = SLIM_BUF_INIT;
    uint8_t commit[SLIM_MLS_MAX_HASH];
    create_path(g, &up, &ctx, commit);
    slim_mls_update_path p;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(&up));
    OK(slim_mls_update_path_decode(&r, &p));
    measure ms[3] = {{.name = "UpdatePath create"},
                     {.name = "UpdatePath process"},
                     {.name = "process, far receiver"}};
    for (int run = 0; run < RUNS; run++) {
        clock_mark c;
        slim_buf up2 = SLIM_BUF_INIT;
        mark(&c);
        for (long i = 0; i < iters; i++)
            create_path(g, &up2, &ctx2, NULL);
        record(&ms[0], run, &c, iters);
        slim_buf_cleanup(&up2);
        mark(&c);
        for (long i = 0; i < iters; i++)
            process_path(g, &p, &g->near_priv, &ctx2, commit);
        record(&ms[1], run, &c, iters);
        mark(&c);
        for (long i = 0; i < iters; i++)
            process_path(g, &p, &g->far_priv, &ctx2, commit);
        record(&ms[2], run, &c, iters);
    }
    for (int i = 0; i < 3; i++)
        print_row(g->n, &ms[i]);
    slim_buf_cleanup(&up);
    slim_buf_cleanup(&ctx);
    slim_buf_cleanup(&ctx2);
}

/* Tree hash of the whole tree from scratch, and of a clone after one
 * path_begin (only the hash is timed). */
static void bench_hash(group *g, long iters) {
    measure ms[3] = {{.name = "tree hash, from scratch"},
                     {.name = "tree hash, after a path"},
                     {.name = "tree clone + free"}};
    uint8_t h[SLIM_MLS_MAX_HASH];
    OK(slim_mls_tree_hash(g->tree, h));
    for (int run = 0; run < RUNS; run++) {
        clock_mark c;
        uint64_t before = slim_mls_tree_hashes_computed(g->tree);
        mark(&c);
        for (long i = 0; i < iters; i++) {
            slim_mls_tree_forget_hashes(g->tree);
            OK(slim_mls_tree_hash(g->tree, h));
        }
        record(&ms[0], run, &c, iters);
        ms[0].hashes = (double)(slim_mls_tree_hashes_computed(g->tree) - before) / (double)iters;
        double cpu = 0, wall = 0, hashes = 0;
        slim_mls_pkey_counts ops = {0, 0, 0, 0};
        for (long i = 0; i < iters; i++) {
            slim_mls_tree *t;
            slim_mls_path *path;
            begin_path(g, &t, &path);
            before = slim_mls_tree_hashes_computed(t);
            mark(&c);
            OK(slim_mls_tree_hash(t, h));
            record(&ms[1], run, &c, 1);
            cpu += ms[1].cpu[run];
            wall += ms[1].wall[run];
            ops = ms[1].ops;
            hashes += (double)(slim_mls_tree_hashes_computed(t) - before);
            slim_mls_path_free(path);
            slim_mls_tree_free(t);
        }
        ms[1].cpu[run] = cpu / (double)iters;
        ms[1].wall[run] = wall / (double)iters;
        ms[1].ops = ops;
        ms[1].hashes = hashes / (double)iters;
        mark(&c);
        for (long i = 0; i < iters; i++) {
            slim_mls_tree *t = NULL;
            OK(slim_mls_tree_clone(g->tree, &t));
            slim_mls_tree_free(t);
        }
        record(&ms[2], run, &c, iters);
    }
    for (int i = 0; i < 3; i++)
        print_row(g->n, &ms[i]);
}

int main(int argc, char **argv) {
    long iters;
    int rc = bench_iterations(argc, argv,
                              "usage: bench_mls_tree [ITERATIONS]   (default 20)\n\n"
                              "TreeKEM UpdatePath creation and processing in fully populated\n"
                              "trees of 10, 100 and 1000 members, and tree hashing of the\n"
                              "1000-member tree, for cipher suites 1 and 2. ITERATIONS per run\n"
                              "at 1000 members (x3 at 100, x10 at 10); medians of 5 runs, with\n"
                              "the public-key operations of each iteration.\n",
                              20, &iters);
    if (rc >= 0)
        return rc;
    static const uint32_t sizes[] = {10, 100, 1000};
    printf("TreeKEM, fully populated trees; medians of %d runs\n", RUNS);
    for (uint16_t id = 1; id <= 2; id++) {
        const slim_mls_suite *s = slim_mls_suite_get(id);
        printf("suite %u %s\n", id, s->name);
        measure_floor(s, 50);
        printf("  %5s  %-26s %11s %11s  %-27s %s\n", "n", "operation", "CPU time", "wall clock",
               "public-key ops / iteration", "their share");
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            group g;
            group_build(&g, id, sizes[k]);
            long it = iters * (sizes[k] == 10 ? 10 : sizes[k] == 100 ? 3 : 1);
            bench_size(&g, it);
            if (sizes[k] == 1000)
                bench_hash(&g, iters);
            group_free(&g);
        }
    }
    return 0;
}
