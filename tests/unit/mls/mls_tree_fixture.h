/*
 * Members and groups for the tree and TreeKEM tests: a member is a
 * signature key pair, a basic credential "member-<i>", a KeyPackage made
 * by slim_mls_key_package_create and (once in a group) its private tree
 * state and its own copy of the tree. tgroup_commit has one member create
 * an UpdatePath and every other member merge and decrypt it on its own
 * copy, checking that all end with the committer's tree and commit
 * secret. Everything is deterministic (a counting RNG).
 */
#ifndef SLIM_MLS_TREE_FIXTURE_H
#define SLIM_MLS_TREE_FIXTURE_H

#include "core/alloc.h"
#include "mls/group_context.h"
#include "mls/member.h"
#include "mls/treekem.h"
#include "mls/validate.h"
#include "mls_test_util.h"

#define TG_MAX 40

typedef struct tmember {
    bool in;       /* holds a leaf of the group */
    uint32_t leaf; /* its leaf index while in */
    uint8_t sig_sk[SLIM_MLS_MAX_SIG_PRIVATE], sig_pk[SLIM_MLS_MAX_SIG_PUBLIC];
    slim_mls_sig_key *signer;
    char id[24];
    slim_mls_leaf_params params;
    slim_mls_key_package_keys keys;
    slim_buf kp; /* encoded KeyPackage */
    slim_mls_key_package kpv;
    slim_mls_tree_priv priv;
    slim_mls_tree *tree; /* this member's copy */
} tmember;

typedef struct tgroup {
    const slim_mls_suite *s;
    uint32_t rng_state;
    slim_mls_rng rng;
    uint8_t group_id[16];
    uint64_t epoch;
    size_t n;
    tmember m[TG_MAX];
} tgroup;

/* Accepts a credential unless its identity starts with "mallory". */
static inline slim_status tg_credential(void *arg, const slim_mls_credential *c, slim_bytes key) {
    (void)arg;
    (void)key;
    if (c->body.len >= 7 && memcmp(c->body.ptr, "mallory", 7) == 0)
        return SLIM_E_MLS_CREDENTIAL_REJECTED;
    return SLIM_OK;
}

static inline slim_mls_validation tg_validation(const tgroup *g) {
    slim_mls_validation v;
    memset(&v, 0, sizeof v);
    v.suite = g->s;
    v.group_id = slim_bytes_of(g->group_id, sizeof g->group_id);
    v.credential = tg_credential;
    v.now = 1000;
    v.check_lifetime = true;
    return v;
}

/* The encoded GroupContext of the group for a tree. */
static inline void tg_context(const tgroup *g, slim_mls_tree *t, slim_buf *out) {
    uint8_t th[SLIM_MLS_MAX_HASH];
    CHECK_OK(slim_mls_tree_hash(t, th));
    slim_mls_group_context gc = {SLIM_MLS_VERSION_MLS10,
                                 g->s->id,
                                 slim_bytes_of(g->group_id, sizeof g->group_id),
                                 g->epoch,
                                 slim_bytes_of(th, g->s->nh),
                                 slim_bytes_of("cth", 3),
                                 slim_bytes_of(NULL, 0)};
    out->len = 0;
    CHECK_OK(slim_mls_group_context_encode(&gc, out));
}

/* Makes member i (not yet in the group): keys, credential, KeyPackage. */
static inline void tg_make_member(tgroup *g, size_t i) {
    tmember *m = &g->m[i];
    memset(m, 0, sizeof *m);
    CHECK_OK(slim_mls_signature_key_generate(g->s, &g->rng, m->sig_sk, m->sig_pk));
    CHECK_OK(
        slim_mls_sig_key_new(g->s->sig, slim_bytes_of(m->sig_sk, g->s->sig_nsk), true, &m->signer));
    snprintf(m->id, sizeof m->id, "member-%zu", i);
    m->params.credential.type = SLIM_MLS_CREDENTIAL_BASIC;
    m->params.credential.body = slim_bytes_of(m->id, strlen(m->id));
    m->params.signature_key = slim_bytes_of(m->sig_pk, g->s->sig_npk);
    m->params.signer = m->signer;
    m->params.lifetime.not_before = 0;
    m->params.lifetime.not_after = 2000;
    slim_mls_vec none = {slim_bytes_of(NULL, 0), 0};
    CHECK_OK(slim_mls_key_package_create(g->s, &m->params, none, &g->rng, &m->kp, &m->keys));
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(&m->kp));
    slim_mls_key_package_decode(&r, &m->kpv);
    CHECK_OK(slim_mls_tls_reader_finish(&r));
}

/* A group of n members made only of Adds (every parent blank): member 0's
 * tree, copied to everyone. */
static inline void tg_init(tgroup *g, uint16_t suite, size_t n) {
    memset(g, 0, sizeof *g);
    g->s = slim_mls_suite_get(suite);
    g->rng_state = 7 + suite;
    g->rng.fill = counting_fill;
    g->rng.ctx = &g->rng_state;
    memcpy(g->group_id, "slim-test-group", 16);
    g->n = n;
    slim_mls_tree *t = NULL;
    CHECK_OK(slim_mls_tree_new(g->s, &t));
    for (size_t i = 0; i < n; i++) {
        tg_make_member(g, i);
        uint32_t leaf = UINT32_MAX;
        CHECK_OK(slim_mls_tree_add(t, &g->m[i].kpv.leaf_node, &leaf));
        CHECK_EQ(leaf, i);
    }
    for (size_t i = 0; i < n; i++) {
        tmember *m = &g->m[i];
        CHECK_OK(slim_mls_tree_clone(t, &m->tree));
        CHECK_OK(slim_mls_tree_priv_init(&m->priv, m->tree, (uint32_t)i,
                                         slim_bytes_of(m->keys.encryption_priv, g->s->kem_nsk)));
        m->in = true;
        m->leaf = (uint32_t)i;
    }
    slim_mls_tree_free(t);
}

static inline void tg_free(tgroup *g) {
    for (size_t i = 0; i < g->n; i++) {
        tmember *m = &g->m[i];
        slim_mls_tree_free(m->tree);
        slim_mls_sig_key_free(m->signer);
        slim_buf_cleanup(&m->kp);
        slim_mls_key_package_keys_cleanup(&m->keys);
        slim_mls_tree_priv_cleanup(&m->priv);
    }
}

/* Encodes a tree (for comparisons). */
static inline void tg_encode(slim_mls_tree *t, slim_buf *out) {
    out->len = 0;
    CHECK_OK(slim_mls_tree_encode(t, out));
}

/* The first member in the group. */
static inline tmember *tg_any(tgroup *g) {
    for (size_t i = 0; i < g->n; i++) {
        if (g->m[i].in)
            return &g->m[i];
    }
    return NULL;
}

/* A new member joins by an Add (no path): every copy of the tree gets its
 * leaf; it starts from a copy with only its leaf key. Returns its index. */
static inline size_t tg_add(tgroup *g) {
    size_t i = g->n++;
    tg_make_member(g, i);
    tmember *nm = &g->m[i];
    uint32_t leaf = UINT32_MAX;
    for (size_t j = 0; j < i; j++) {
        if (g->m[j].in)
            CHECK_OK(slim_mls_tree_add(g->m[j].tree, &nm->kpv.leaf_node, &leaf));
    }
    CHECK_OK(slim_mls_tree_clone(tg_any(g)->tree, &nm->tree));
    CHECK_OK(slim_mls_tree_priv_init(&nm->priv, nm->tree, leaf,
                                     slim_bytes_of(nm->keys.encryption_priv, g->s->kem_nsk)));
    nm->in = true;
    nm->leaf = leaf;
    return i;
}

/* Member i is removed (no path): every other copy drops its leaf, and
 * the private states drop the keys of blanked nodes. */
static inline void tg_remove(tgroup *g, size_t i) {
    g->m[i].in = false;
    for (size_t j = 0; j < g->n; j++) {
        tmember *m = &g->m[j];
        if (!m->in)
            continue;
        CHECK_OK(slim_mls_tree_remove(m->tree, g->m[i].leaf));
        slim_mls_tree_priv_prune(&m->priv, m->tree);
        CHECK_OK(slim_mls_tree_priv_check(&m->priv, m->tree));
    }
}

/* Member c commits with a path (no proposals): creates the UpdatePath on
 * a clone of its tree, every other member merges and decrypts it on a
 * clone of its own; all must reach the same tree and commit secret.
 * *up_out (may be NULL) gets the UpdatePath. */
static inline void tg_commit(tgroup *g, size_t c, slim_buf *up_out) {
    tmember *cm = &g->m[c];
    slim_mls_tree *t = NULL;
    slim_mls_path *path = NULL;
    slim_buf ctx = SLIM_BUF_INIT, up = SLIM_BUF_INIT, want = SLIM_BUF_INIT, got = SLIM_BUF_INIT;
    g->epoch++;
    CHECK_OK(slim_mls_tree_clone(cm->tree, &t));
    CHECK_OK(slim_mls_treekem_path_begin(
        t, cm->leaf, &cm->params, slim_bytes_of(g->group_id, sizeof g->group_id), &g->rng, &path));
    if (path == NULL) {
        slim_mls_tree_free(t);
        return;
    }
    tg_context(g, t, &ctx);
    CHECK_OK(slim_mls_treekem_path_seal(t, path, slim_buf_view(&ctx), NULL, 0, &g->rng, &up));
    uint8_t commit[SLIM_MLS_MAX_HASH];
    slim_mls_path_commit_secret(path, commit);
    tg_encode(t, &want);
    slim_mls_update_path p;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(&up));
    slim_mls_update_path_decode(&r, &p);
    CHECK_OK(slim_mls_tls_reader_finish(&r));
    slim_mls_validation v = tg_validation(g);
    for (size_t j = 0; j < g->n; j++) {
        tmember *m = &g->m[j];
        if (j == c || !m->in)
            continue;
        slim_mls_tree *mt = NULL;
        CHECK_OK(slim_mls_tree_clone(m->tree, &mt));
        CHECK_OK(slim_mls_treekem_path_merge(mt, &v, cm->leaf, &p, NULL, 0));
        tg_encode(mt, &got);
        CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
        uint8_t mine[SLIM_MLS_MAX_HASH];
        CHECK_OK(slim_mls_treekem_path_decrypt(mt, cm->leaf, &p, slim_buf_view(&ctx), NULL, 0,
                                               &m->priv, mine, NULL));
        CHECK_MEM(mine, commit, g->s->nh);
        CHECK_OK(slim_mls_tree_priv_check(&m->priv, mt));
        slim_mls_tree_free(m->tree);
        m->tree = mt;
    }
    slim_mls_path_apply(path, &cm->priv);
    CHECK_OK(slim_mls_tree_priv_check(&cm->priv, t));
    slim_mls_tree_free(cm->tree);
    cm->tree = t;
    if (up_out != NULL) {
        up_out->len = 0;
        CHECK_OK(slim_buf_append(up_out, up.data, up.len));
    }
    slim_mls_path_free(path);
    slim_buf_cleanup(&ctx);
    slim_buf_cleanup(&up);
    slim_buf_cleanup(&want);
    slim_buf_cleanup(&got);
}

#endif
