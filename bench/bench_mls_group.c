/*
 * The group layer's cost: what a moderator's add-one-member
 * Commit with a path costs to create and to process, at 10, 100 and
 * 1000 members, in a fully populated tree (every member has committed
 * once) and in the sparse tree right after the group was built; Welcome
 * processing; and building a group of 100 with one Commit of 99 Adds.
 * Cipher suites 1 and 2.
 *
 *   build       the moderator (leaf 0) creates the group and adds n-1
 *               members in one Commit with a path; the near receiver
 *               (leaf 1) and the far one (leaf n/2: its common ancestor
 *               with the moderator is the root) join from the Welcome.
 *               That is the sparse tree: every parent blank but the
 *               moderator's path.
 *   populate    then every member commits once, in leaf order, as in
 *               bench_mls_tree: each one's UpdatePath is made with
 *               slim_mls_treekem_path_begin (its own signing key) and put
 *               into the moderator's tree; the three states' private keys
 *               follow (path_apply for their own, the path secret of the
 *               common ancestor otherwise, as a joiner sets it), and the
 *               receivers take copies of that tree. The states are
 *               reached through src/mls/group_internal.h only for this:
 *               every timed operation is the public API
 *               (their GroupContext keeps the tree hash of the build, which
 *               changes nothing the operations compute or check).
 *   create      slim_mls_group_commit by the moderator: one Add (a fresh
 *               KeyPackage, validated), a path (forced, as the moderator
 *               sends every membership change), PublicMessage, the Welcome
 *               with the ratchet_tree extension. The state does not
 *               change, so the same state commits again each iteration.
 *   process     slim_mls_group_receive of that Commit by the near and
 *               the far receiver (a PublicMessage leaves their state as
 *               it was, so they read the same Commit each iteration).
 *   welcome     slim_mls_group_join of the new member from that Welcome
 *               (tree in it): decryption, GroupInfo signature, validation
 *               of the whole tree (one signature per member), path
 *               secret, key schedule.
 *   99 adds     slim_mls_group_commit of a fresh group of 1: 99 Adds
 *               (every KeyPackage validated), path, Welcome for 99.
 *
 * Public-key operations per iteration beside each time, and the share of
 * the time they would take alone (from one of each measured first).
 *
 *   bench_mls_group [ITERATIONS]   iterations per run at 1000 members
 *                                  (x3 at 100, x10 at 10); default 10
 */
#include "bench_args.h"

#define RUNS       5
#define BENCH_NAME "bench_mls_group"
#include "bench_mls_ops.h"

#define GF_CHECK_OK(expr) OK(expr)
#include "../tests/unit/mls/mls_group_fixture.h"

#include "mls/tree_math.h"

typedef struct bgroup {
    const slim_mls_suite *s;
    uint32_t n, far;
    uint32_t rng_state;
    slim_mls_rng rng;
    slim_mls_env env;
    gmember *m;        /* the n members, then the joiner */
    slim_mls_group *g; /* moderator, near and far receiver */
    slim_mls_group *near_g, *far_g;
} bgroup;

static const uint8_t GROUP_ID[] = "bench-group-0001";

static slim_mls_commit_spec add_spec(const slim_mls_proposal_spec *adds, size_t n) {
    slim_mls_commit_spec cs;
    memset(&cs, 0, sizeof cs);
    cs.proposals = adds;
    cs.n_proposals = n;
    cs.force_path = true;
    cs.welcome_tree = true;
    return cs;
}

/* n clients; m[n] is the joiner of the timed commits. */
static void make_members(bgroup *b, uint16_t suite, uint32_t n) {
    memset(b, 0, sizeof *b);
    b->s = slim_mls_suite_get(suite);
    b->n = n;
    b->far = n / 2;
    b->rng_state = 77;
    b->rng.fill = gf_fill;
    b->rng.ctx = &b->rng_state;
    b->env = gf_env(&b->rng);
    b->m = calloc(n + 1, sizeof *b->m);
    FAIL_IF(b->m == NULL, "calloc");
    for (uint32_t i = 0; i <= n; i++) {
        char name[32];
        snprintf(name, sizeof name, "member-%u", i);
        gf_member_init(&b->m[i], suite, &b->rng, name);
    }
}

static void free_members(bgroup *b) {
    for (uint32_t i = 0; i <= b->n; i++)
        gf_member_free(&b->m[i]);
    free(b->m);
    slim_mls_group_free(b->g);
    slim_mls_group_free(b->near_g);
    slim_mls_group_free(b->far_g);
}

/* The moderator creates the group and adds everyone in one Commit; the
 * receivers join. */
static void build(bgroup *b) {
    OK(slim_mls_group_create(b->m[0].client, slim_bytes_of(GROUP_ID, sizeof GROUP_ID - 1),
                             slim_bytes_of(NULL, 0), NULL, &b->env, &b->g));
    slim_mls_proposal_spec *adds = calloc(b->n, sizeof *adds);
    FAIL_IF(adds == NULL, "calloc");
    for (uint32_t i = 1; i < b->n; i++) {
        adds[i - 1].type = SLIM_MLS_PROPOSAL_ADD;
        adds[i - 1].key_package = slim_buf_view(&b->m[i].kp);
    }
    slim_mls_commit_spec cs = add_spec(adds, b->n - 1);
    slim_mls_commit_output o;
    OK(slim_mls_group_commit(b->g, &cs, &b->env, &o));
    free(adds);
    OK(gf_join(&b->m[1], slim_buf_view(&o.welcome), slim_bytes_of(NULL, 0), &b->env, NULL));
    OK(gf_join(&b->m[b->far], slim_buf_view(&o.welcome), slim_bytes_of(NULL, 0), &b->env, NULL));
    b->near_g = b->m[1].g;
    b->far_g = b->m[b->far].g;
    b->m[1].g = b->m[b->far].g = NULL;
    slim_mls_group_free(b->g);
    b->g = o.group;
    o.group = NULL;
    slim_mls_commit_output_cleanup(&o);
    FAIL_IF(slim_mls_group_own_leaf(b->far_g) != b->far, "far receiver's leaf");
}

/* Member i's path in `t`: state g's private keys follow. */
static void follow(slim_mls_group *g, slim_mls_tree *t, const slim_mls_path *path, uint32_t i) {
    slim_mls_tree_priv *p = &g->priv;
    if (p->leaf == i) {
        slim_mls_path_apply(path, p);
        return;
    }
    slim_mls_tree_priv_prune(p, t);
    uint32_t lca;
    uint8_t ps[SLIM_MLS_MAX_HASH];
    OK(slim_mls_tree_common_ancestor(2 * i, 2 * p->leaf, slim_mls_tree_leaf_count(t), &lca));
    if (slim_mls_path_secret(path, lca, ps) == SLIM_OK)
        OK(slim_mls_tree_priv_set_path_secret(p, t, lca,
                                              slim_bytes_of(ps, slim_mls_tree_suite(t)->nh)));
}

/* Every member commits once, in leaf order (see the top of the file). */
static void populate(bgroup *b) {
    slim_mls_tree *t = b->g->tree;
    slim_mls_group *states[3] = {b->g, b->near_g, b->far_g};
    for (uint32_t i = 0; i < b->n; i++) {
        slim_mls_path *path = NULL;
        OK(slim_mls_treekem_path_begin(t, i, &b->m[i].client->params,
                                       slim_bytes_of(GROUP_ID, sizeof GROUP_ID - 1), &b->rng,
                                       &path));
        for (int k = 0; k < 3; k++)
            follow(states[k], t, path, i);
        slim_mls_path_free(path);
    }
    for (int k = 1; k < 3; k++) {
        slim_mls_tree_free(states[k]->tree);
        OK(slim_mls_tree_clone(t, &states[k]->tree));
    }
    for (int k = 0; k < 3; k++)
        OK(slim_mls_tree_priv_check(&states[k]->priv, states[k]->tree));
}

/* One timed round of each operation; the outputs of the last round
 * checked (receivers and joiner agree with the committer). */
static void bench_state(bgroup *b, const char *label, long iters, bool welcome) {
    slim_mls_proposal_spec add;
    memset(&add, 0, sizeof add);
    add.type = SLIM_MLS_PROPOSAL_ADD;
    add.key_package = slim_buf_view(&b->m[b->n].kp);
    slim_mls_commit_spec cs = add_spec(&add, 1);
    char names[4][40];
    snprintf(names[0], sizeof names[0], "create, %s", label);
    snprintf(names[1], sizeof names[1], "process, %s", label);
    snprintf(names[2], sizeof names[2], "process far, %s", label);
    snprintf(names[3], sizeof names[3], "welcome, %s", label);
    measure ms[4] = {
        {.name = names[0]}, {.name = names[1]}, {.name = names[2]}, {.name = names[3]}};
    slim_mls_commit_output o;
    OK(slim_mls_group_commit(b->g, &cs, &b->env, &o));
    slim_mls_join_params jp;
    memset(&jp, 0, sizeof jp);
    jp.client = b->m[b->n].client;
    jp.key_package = slim_buf_view(&b->m[b->n].kp);
    jp.keys = &b->m[b->n].keys;
    long wit = b->n >= 1000 ? (iters + 2) / 3 : iters;
    for (int run = 0; run < RUNS; run++) {
        clock_mark c;
        mark(&c);
        for (long i = 0; i < iters; i++) {
            slim_mls_commit_output o2;
            OK(slim_mls_group_commit(b->g, &cs, &b->env, &o2));
            slim_mls_commit_output_cleanup(&o2);
        }
        record(&ms[0], run, &c, iters);
        slim_mls_group *rx[2] = {b->near_g, b->far_g};
        for (int k = 0; k < 2; k++) {
            mark(&c);
            for (long i = 0; i < iters; i++) {
                slim_mls_received r;
                OK(slim_mls_group_receive(rx[k], slim_buf_view(&o.commit), &b->env, &r));
                FAIL_IF(!gf_same(slim_mls_group_epoch_authenticator(r.group),
                                 slim_mls_group_epoch_authenticator(o.group)),
                        "receiver agreement");
                slim_mls_received_cleanup(&r);
            }
            record(&ms[1 + k], run, &c, iters);
        }
        if (!welcome)
            continue;
        mark(&c);
        for (long i = 0; i < wit; i++) {
            slim_mls_group *j = NULL;
            OK(slim_mls_group_join(&jp, slim_buf_view(&o.welcome), &b->env, &j));
            FAIL_IF(!gf_same(slim_mls_group_epoch_authenticator(j),
                             slim_mls_group_epoch_authenticator(o.group)),
                    "joiner agreement");
            slim_mls_group_free(j);
        }
        record(&ms[3], run, &c, wit);
    }
    for (int i = 0; i < (welcome ? 4 : 3); i++)
        print_row(b->n, &ms[i]);
    slim_mls_commit_output_cleanup(&o);
}

/* A group of 100 from one Commit of 99 Adds (a new group each time). */
static void bench_build(uint16_t suite, long iters) {
    bgroup b;
    make_members(&b, suite, 100);
    slim_mls_proposal_spec adds[99];
    memset(adds, 0, sizeof adds);
    for (uint32_t i = 1; i < 100; i++) {
        adds[i - 1].type = SLIM_MLS_PROPOSAL_ADD;
        adds[i - 1].key_package = slim_buf_view(&b.m[i].kp);
    }
    slim_mls_commit_spec cs = add_spec(adds, 99);
    measure m = {.name = "one commit of 99 adds"};
    slim_mls_group *g = NULL;
    OK(slim_mls_group_create(b.m[0].client, slim_bytes_of(GROUP_ID, sizeof GROUP_ID - 1),
                             slim_bytes_of(NULL, 0), NULL, &b.env, &g));
    for (int run = 0; run < RUNS; run++) {
        clock_mark c;
        mark(&c);
        for (long i = 0; i < iters; i++) {
            slim_mls_commit_output o;
            OK(slim_mls_group_commit(g, &cs, &b.env, &o));
            slim_mls_commit_output_cleanup(&o);
        }
        record(&m, run, &c, iters);
    }
    print_row(100, &m);
    slim_mls_group_free(g);
    free_members(&b);
}

int main(int argc, char **argv) {
    long iters;
    int rc = bench_iterations(argc, argv,
                              "usage: bench_mls_group [ITERATIONS]   (default 10)\n\n"
                              "A moderator's add-one-member Commit with a path, created and\n"
                              "processed (near and far receiver), and the new member's Welcome,\n"
                              "at 10, 100 and 1000 members, in the sparse tree right after the\n"
                              "group was built and in a fully populated tree; and one Commit of\n"
                              "99 Adds. Cipher suites 1 and 2. ITERATIONS per run at 1000 members\n"
                              "(x3 at 100, x10 at 10; Welcomes at 1000: a third); medians of 5\n"
                              "runs, with the public-key operations of each iteration.\n",
                              10, &iters);
    if (rc >= 0)
        return rc;
    static const uint32_t sizes[] = {10, 100, 1000};
    printf("MLS group operations; medians of %d runs\n", RUNS);
    for (uint16_t id = 1; id <= 2; id++) {
        const slim_mls_suite *s = slim_mls_suite_get(id);
        printf("suite %u %s\n", id, s->name);
        measure_floor(s, 50);
        printf("  %5s  %-26s %11s %11s  %-27s %s\n", "n", "operation", "CPU time", "wall clock",
               "public-key ops / iteration", "their share");
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            bgroup b;
            make_members(&b, id, sizes[k]);
            build(&b);
            long it = iters * (sizes[k] == 10 ? 10 : sizes[k] == 100 ? 3 : 1);
            bench_state(&b, "sparse", it, true);
            populate(&b);
            bench_state(&b, "populated", it, true);
            free_members(&b);
        }
        bench_build(id, iters);
    }
    return 0;
}
