/*
 * Clients and groups for the group-layer tests, the fuzz targets and the
 * passive-client generator: a client is a fresh signature key pair with a
 * basic credential "client-<i>" (identities starting with "mallory" are
 * refused by the credential check); a gmember is a client with its
 * current group state (NULL while not in the group). Everything is
 * deterministic given the RNG (a counting generator).
 */
#ifndef SLIM_MLS_GROUP_FIXTURE_H
#define SLIM_MLS_GROUP_FIXTURE_H

#include "core/util.h"
#include "mls/group_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GF_CHECK_OK
#define GF_CHECK_OK(expr) CHECK_OK(expr)
#endif

/* Deterministic generator: a counter mixed into every byte. */
static inline slim_status gf_fill(void *ctx, uint8_t *out, size_t n) {
    uint32_t *state = ctx;
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1103515245u + 12345u;
        out[i] = (uint8_t)(*state >> 16);
    }
    return SLIM_OK;
}

/* The clock the fixtures use (KeyPackage lifetimes cover it). */
#define GF_NOW 1000000

static inline slim_status gf_credential(void *arg, const slim_mls_credential *c, slim_bytes key) {
    (void)arg;
    (void)key;
    if (c->body.len >= 7 && memcmp(c->body.ptr, "mallory", 7) == 0)
        return SLIM_E_MLS_CREDENTIAL_REJECTED;
    return SLIM_OK;
}

typedef struct gmember {
    slim_mls_client *client;
    uint8_t sig_sk[SLIM_MLS_MAX_SIG_PRIVATE]; /* kept for the passive-client files */
    char id[32];
    slim_buf kp; /* its last KeyPackage (MLSMessage) */
    slim_mls_key_package_keys keys;
    slim_mls_group *g; /* current state, NULL when not in */
} gmember;

/* A new client `name` (its KeyPackage made too) with optional
 * capabilities and leaf extensions. */
static inline void gf_member_init_with(gmember *m, uint16_t suite, const slim_mls_rng *rng,
                                       const char *name, slim_bytes capabilities,
                                       slim_mls_vec leaf_extensions) {
    memset(m, 0, sizeof *m);
    const slim_mls_suite *s = slim_mls_suite_get(suite);
    uint8_t *sk = m->sig_sk, pk[SLIM_MLS_MAX_SIG_PUBLIC];
    GF_CHECK_OK(slim_mls_signature_key_generate(s, rng, sk, pk));
    snprintf(m->id, sizeof m->id, "%s", name);
    slim_mls_client_params p;
    memset(&p, 0, sizeof p);
    p.suite = suite;
    p.signature_priv = slim_bytes_of(sk, s->sig_nsk);
    p.credential.type = SLIM_MLS_CREDENTIAL_BASIC;
    p.credential.body = slim_bytes_of(m->id, strlen(m->id));
    p.capabilities = capabilities;
    p.leaf_extensions = leaf_extensions;
    p.lifetime.not_before = 0;
    p.lifetime.not_after = 2 * GF_NOW;
    p.credential_check = gf_credential;
    GF_CHECK_OK(slim_mls_client_new(&p, &m->client));
    if (m->client != NULL)
        GF_CHECK_OK(slim_mls_client_key_package(m->client, rng, &m->kp, &m->keys));
}

static inline void gf_member_init(gmember *m, uint16_t suite, const slim_mls_rng *rng,
                                  const char *name) {
    slim_mls_vec none = {slim_bytes_of(NULL, 0), 0};
    gf_member_init_with(m, suite, rng, name, slim_bytes_of(NULL, 0), none);
}

/* A fresh KeyPackage for m (after it was used). */
static inline void gf_new_key_package(gmember *m, const slim_mls_rng *rng) {
    m->kp.len = 0;
    slim_mls_key_package_keys_cleanup(&m->keys);
    GF_CHECK_OK(slim_mls_client_key_package(m->client, rng, &m->kp, &m->keys));
}

static inline void gf_member_free(gmember *m) {
    slim_mls_group_free(m->g);
    slim_mls_client_free(m->client);
    slim_buf_cleanup(&m->kp);
    slim_mls_key_package_keys_cleanup(&m->keys);
    slim_memzero(m, sizeof *m);
}

/* Replaces m's state by `ng` (taken). */
static inline void gf_swap(gmember *m, slim_mls_group *ng) {
    slim_mls_group_free(m->g);
    m->g = ng;
}

static inline slim_mls_env gf_env(const slim_mls_rng *rng) {
    slim_mls_env e;
    memset(&e, 0, sizeof e);
    e.rng = rng;
    e.now = GF_NOW;
    return e;
}

/* m joins from `welcome` (its own KeyPackage), with the tree given when
 * `tree` is not empty. */
static inline slim_status gf_join(gmember *m, slim_bytes welcome, slim_bytes tree,
                                  const slim_mls_env *env, const slim_mls_group_options *opts) {
    slim_mls_join_params jp;
    memset(&jp, 0, sizeof jp);
    jp.client = m->client;
    jp.key_package = slim_buf_view(&m->kp);
    jp.keys = &m->keys;
    jp.ratchet_tree = tree;
    jp.opts = opts;
    slim_mls_group *ng = NULL;
    slim_status st = slim_mls_group_join(&jp, welcome, env, &ng);
    if (st == SLIM_OK)
        gf_swap(m, ng);
    return st;
}

/* A proposal spec of `type`, every other field zero. */
static inline slim_mls_proposal_spec gf_typed(uint16_t type) {
    slim_mls_proposal_spec p;
    memset(&p, 0, sizeof p);
    p.type = type;
    return p;
}

/* True when two byte views are equal. */
static inline bool gf_same(slim_bytes a, slim_bytes b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* ---- a world of clients around one group ------------------------------ */

#define GW_MAX 160

/*
 * Every client made for one group, each with its own state when in it.
 * Messages are delivered to every member that must see them, each member
 * processing them on its own state; a member that fails to process one
 * makes the call fail (the status is returned, the states stay as they
 * were for the members not yet reached). on_message (may be NULL) sees
 * every proposal and commit delivered, for recording.
 */
typedef struct gworld {
    uint16_t suite;
    const slim_mls_suite *s;
    uint32_t rng_state;
    slim_mls_rng rng;
    slim_mls_env env;
    slim_mls_group_options opts;
    uint8_t group_id[16];
    gmember m[GW_MAX];
    size_t n;
    bool welcome_tree; /* Welcomes carry the tree (else joiners are given it) */
} gworld;

static inline void gw_init(gworld *w, uint16_t suite, uint32_t seed) {
    memset(w, 0, sizeof *w);
    w->suite = suite;
    w->s = slim_mls_suite_get(suite);
    w->rng_state = seed;
    w->rng.fill = gf_fill;
    w->rng.ctx = &w->rng_state;
    w->env = gf_env(&w->rng);
    memcpy(w->group_id, "slim-group-test", 16);
    w->welcome_tree = true;
}

static inline void gw_free(gworld *w) {
    for (size_t i = 0; i < w->n; i++)
        gf_member_free(&w->m[i]);
    w->n = 0;
}

/* A new client "<prefix>-<index>"; returns its index. */
static inline size_t gw_client(gworld *w, const char *prefix) {
    size_t i = w->n++;
    char name[32];
    snprintf(name, sizeof name, "%s-%zu", prefix, i);
    gf_member_init(&w->m[i], w->suite, &w->rng, name);
    return i;
}

static inline bool gw_in(const gworld *w, size_t i) {
    return i < w->n && w->m[i].g != NULL;
}

/* Client i creates the group. */
static inline slim_status gw_create(gworld *w, size_t i, slim_bytes extensions) {
    return slim_mls_group_create(w->m[i].client, slim_bytes_of(w->group_id, sizeof w->group_id),
                                 extensions, &w->opts, &w->env, &w->m[i].g);
}

/* Every member but `except` reads msg (a proposal or application data). */
static inline slim_status gw_deliver(gworld *w, size_t except, slim_bytes msg) {
    for (size_t j = 0; j < w->n; j++) {
        if (j == except || !gw_in(w, j))
            continue;
        slim_mls_received r;
        slim_status st = slim_mls_group_receive(w->m[j].g, msg, &w->env, &r);
        if (st != SLIM_OK)
            return st;
        slim_mls_received_cleanup(&r);
    }
    return SLIM_OK;
}

/* Member i proposes; every other member receives it. msg (may be NULL)
 * gets the message. */
static inline slim_status gw_propose(gworld *w, size_t i, const slim_mls_proposal_spec *p,
                                     uint16_t wire_format, slim_buf *msg) {
    slim_buf b = SLIM_BUF_INIT;
    slim_status st = slim_mls_group_propose(w->m[i].g, p, wire_format, slim_bytes_of(NULL, 0),
                                            &w->env, &b, NULL);
    if (st == SLIM_OK)
        st = gw_deliver(w, i, slim_buf_view(&b));
    if (st == SLIM_OK && msg != NULL)
        st = slim_buf_append(msg, b.data, b.len);
    slim_buf_cleanup(&b);
    return st;
}

/* Every member but `committer` processes the commit and takes the new
 * state (a removed member leaves); then the clients of joiners[0..n)
 * (not yet in) join from the Welcome when it is for them. */
static inline slim_status gw_apply(gworld *w, size_t committer, slim_bytes commit,
                                   slim_bytes welcome, const slim_mls_group *committer_state) {
    for (size_t j = 0; j < w->n; j++) {
        if (j == committer || !gw_in(w, j))
            continue;
        slim_mls_received r;
        slim_status st = slim_mls_group_receive(w->m[j].g, commit, &w->env, &r);
        if (st != SLIM_OK)
            return st;
        gf_swap(&w->m[j], r.group);
        r.group = NULL;
        slim_mls_received_cleanup(&r);
    }
    if (welcome.len == 0)
        return SLIM_OK;
    slim_buf tree = SLIM_BUF_INIT;
    slim_status st = SLIM_OK;
    if (!w->welcome_tree)
        st = slim_mls_group_ratchet_tree(committer_state, &tree);
    for (size_t j = 0; st == SLIM_OK && j < w->n; j++) {
        if (gw_in(w, j))
            continue;
        st = gf_join(&w->m[j], welcome, slim_buf_view(&tree), &w->env, &w->opts);
        if (st == SLIM_E_MLS_WELCOME_NOT_FOR_US)
            st = SLIM_OK;
    }
    slim_buf_cleanup(&tree);
    return st;
}

/* Member i commits `spec`; everyone else processes it, new members join.
 * commit / welcome (may be NULL) get the messages. */
static inline slim_status gw_commit(gworld *w, size_t i, const slim_mls_commit_spec *spec,
                                    slim_buf *commit, slim_buf *welcome) {
    slim_mls_commit_spec cs = *spec;
    cs.welcome_tree = w->welcome_tree;
    slim_mls_commit_output out;
    slim_status st = slim_mls_group_commit(w->m[i].g, &cs, &w->env, &out);
    if (st != SLIM_OK)
        return st;
    st = gw_apply(w, i, slim_buf_view(&out.commit), slim_buf_view(&out.welcome), out.group);
    if (st == SLIM_OK) {
        gf_swap(&w->m[i], out.group);
        out.group = NULL;
        if (commit != NULL)
            st = slim_buf_append(commit, out.commit.data, out.commit.len);
        if (st == SLIM_OK && welcome != NULL)
            st = slim_buf_append(welcome, out.welcome.data, out.welcome.len);
    }
    slim_mls_commit_output_cleanup(&out);
    return st;
}

/* A commit of Adds by value for clients[0..n) (their KeyPackages). */
static inline slim_status gw_add(gworld *w, size_t committer, const size_t *clients, size_t n,
                                 bool force_path, slim_buf *commit, slim_buf *welcome) {
    slim_mls_proposal_spec *adds = calloc(n + 1, sizeof *adds);
    if (adds == NULL)
        return SLIM_E_NOMEM;
    for (size_t k = 0; k < n; k++) {
        adds[k].type = SLIM_MLS_PROPOSAL_ADD;
        adds[k].key_package = slim_buf_view(&w->m[clients[k]].kp);
    }
    slim_mls_commit_spec cs;
    memset(&cs, 0, sizeof cs);
    cs.proposals = adds;
    cs.n_proposals = n;
    cs.force_path = force_path;
    slim_status st = gw_commit(w, committer, &cs, commit, welcome);
    free(adds);
    return st;
}

/* True when every member has the same epoch authenticator and exporter
 * output, and the epoch `epoch`. */
static inline bool gw_agree(const gworld *w, uint64_t epoch) {
    const slim_mls_group *first = NULL;
    uint8_t a[32], b[32];
    for (size_t j = 0; j < w->n; j++) {
        if (!gw_in(w, j))
            continue;
        const slim_mls_group *g = w->m[j].g;
        if (slim_mls_group_epoch(g) != epoch)
            return false;
        if (first == NULL) {
            first = g;
            if (slim_mls_group_export(g, "slim test", slim_bytes_of("ctx", 3), a, sizeof a) !=
                SLIM_OK)
                return false;
            continue;
        }
        if (!gf_same(slim_mls_group_epoch_authenticator(g),
                     slim_mls_group_epoch_authenticator(first)) ||
            slim_mls_group_export(g, "slim test", slim_bytes_of("ctx", 3), b, sizeof b) !=
                SLIM_OK ||
            memcmp(a, b, sizeof a) != 0)
            return false;
    }
    return first != NULL;
}

#endif
