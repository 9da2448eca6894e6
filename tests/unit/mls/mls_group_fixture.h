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
#include <string.h>

#ifndef GF_CHECK_OK
#define GF_CHECK_OK(expr) CHECK_OK(expr)
#endif

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
    uint8_t sk[SLIM_MLS_MAX_SIG_PRIVATE], pk[SLIM_MLS_MAX_SIG_PUBLIC];
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
    slim_memzero(sk, sizeof sk);
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
    memset(m, 0, sizeof *m);
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

/* True when two byte views are equal. */
static inline bool gf_same(slim_bytes a, slim_bytes b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

#endif
