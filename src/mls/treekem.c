/*
 * TreeKEM: private state by level, UpdatePath creation in two steps and
 * processing in two steps. Secrets live in fixed-size arrays of the
 * private state or of the path object and are wiped wherever a copy ends
 * its use; each step works on copies and writes its outputs last, so a
 * failure changes nothing the caller holds.
 */
#include "mls/treekem.h"
#include "core/alloc.h"
#include "core/util.h"
#include "mls/tree_math.h"

#include <string.h>

#define DEPTH SLIM_MLS_TREE_MAX_DEPTH

static const char UPDATE_PATH_LABEL[] = "UpdatePathNode";

/* The ancestor of leaf `leaf` at level k (1..31): the node of that level
 * whose subtree holds the leaf, whatever the size of the tree. */
static uint32_t ancestor(uint32_t leaf, uint32_t k) {
    uint64_t x = 2 * (uint64_t)leaf;
    return (uint32_t)(((x >> (k + 1)) << (k + 1)) | ((UINT64_C(1) << k) - 1));
}

static bool same(slim_bytes a, const uint8_t *b, size_t n) {
    return a.len == n && memcmp(a.ptr, b, n) == 0;
}

/* sk, pk = DeriveKeyPair(DeriveSecret(secret, "node")) (§7.4). */
static slim_status node_key_pair(const slim_mls_suite *s, const uint8_t *secret, uint8_t *sk,
                                 uint8_t *pk) {
    uint8_t node_secret[SLIM_MLS_MAX_HASH];
    slim_status st = slim_mls_derive_secret(s, slim_bytes_of(secret, s->nh), "node", node_secret);
    if (st == SLIM_OK)
        st = slim_mls_suite_derive_key_pair(s, slim_bytes_of(node_secret, s->nh), sk, pk);
    slim_memzero(node_secret, sizeof node_secret);
    return st;
}

/* next = DeriveSecret(secret, "path"); next may be secret itself. */
static slim_status next_secret(const slim_mls_suite *s, const uint8_t *secret, uint8_t *next) {
    uint8_t out[SLIM_MLS_MAX_HASH];
    slim_status st = slim_mls_derive_secret(s, slim_bytes_of(secret, s->nh), "path", out);
    if (st == SLIM_OK)
        memcpy(next, out, s->nh);
    slim_memzero(out, sizeof out);
    return st;
}

/* ---- private state ---------------------------------------------------- */

static void drop_level(slim_mls_tree_priv *p, uint32_t k) {
    slim_memzero(p->sk[k], sizeof p->sk[k]);
    memset(p->pk[k], 0, sizeof p->pk[k]);
    p->have &= ~(UINT32_C(1) << k);
}

void slim_mls_tree_priv_cleanup(slim_mls_tree_priv *priv) {
    slim_memzero(priv, sizeof *priv);
}

slim_status slim_mls_tree_priv_init(slim_mls_tree_priv *priv, const slim_mls_tree *tree,
                                    uint32_t leaf, slim_bytes leaf_sk) {
    const slim_mls_suite *s = slim_mls_tree_suite(tree);
    if (leaf >= slim_mls_tree_leaf_count(tree))
        return SLIM_E_MLS_TREE_INDEX;
    const slim_mls_leaf_node *ln = slim_mls_tree_leaf(tree, leaf);
    if (ln == NULL)
        return SLIM_E_MLS_TREE_LEAF_BLANK;
    if (leaf_sk.len != s->kem_nsk)
        return SLIM_E_MLS_BAD_KEY;
    slim_mls_tree_priv p;
    memset(&p, 0, sizeof p);
    p.suite = s;
    p.leaf = leaf;
    memcpy(p.leaf_sk, leaf_sk.ptr, leaf_sk.len);
    slim_status st = slim_mls_hpke_public_key(s->hpke.kem_id, leaf_sk, p.leaf_pk);
    if (st == SLIM_OK && !same(ln->encryption_key, p.leaf_pk, s->kem_npk))
        st = SLIM_E_MLS_PRIVATE_KEY_MISMATCH;
    if (st == SLIM_OK)
        *priv = p;
    slim_mls_tree_priv_cleanup(&p);
    return st;
}

slim_status slim_mls_tree_priv_set_node_secret(slim_mls_tree_priv *priv, const slim_mls_tree *tree,
                                               uint32_t node, slim_bytes path_secret) {
    const slim_mls_suite *s = priv->suite;
    uint32_t k = slim_mls_tree_level(node);
    if (k == 0 || k > DEPTH || ancestor(priv->leaf, k) != node ||
        node >= slim_mls_tree_node_count(tree))
        return SLIM_E_MLS_TREE_INDEX;
    slim_bytes pub = slim_mls_tree_encryption_key(tree, node);
    if (pub.ptr == NULL)
        return SLIM_E_STATE;
    if (path_secret.len != s->nh)
        return SLIM_E_INVALID_ARG;
    uint8_t sk[SLIM_MLS_MAX_DH_PRIVATE], pk[SLIM_MLS_MAX_DH_PUBLIC];
    slim_status st = node_key_pair(s, path_secret.ptr, sk, pk);
    if (st == SLIM_OK && !same(pub, pk, s->kem_npk))
        st = SLIM_E_MLS_PRIVATE_KEY_MISMATCH;
    if (st == SLIM_OK) {
        drop_level(priv, k);
        memcpy(priv->sk[k], sk, s->kem_nsk);
        memcpy(priv->pk[k], pk, s->kem_npk);
        priv->have |= UINT32_C(1) << k;
    }
    slim_memzero(sk, sizeof sk);
    return st;
}

slim_status slim_mls_tree_priv_set_path_secret(slim_mls_tree_priv *priv, const slim_mls_tree *tree,
                                               uint32_t node, slim_bytes path_secret) {
    const slim_mls_suite *s = priv->suite;
    if (path_secret.len != s->nh)
        return SLIM_E_INVALID_ARG;
    slim_mls_tree_priv p = *priv;
    uint8_t secret[SLIM_MLS_MAX_HASH];
    memcpy(secret, path_secret.ptr, s->nh);
    uint32_t n_leaves = slim_mls_tree_leaf_count(tree), root;
    slim_status st = slim_mls_tree_root(n_leaves, &root);
    uint32_t k = slim_mls_tree_level(node);
    for (bool first = true; st == SLIM_OK; first = false) {
        uint32_t x = ancestor(p.leaf, k);
        if (first || slim_mls_tree_node(tree, x) != NULL) {
            if (!first)
                st = next_secret(s, secret, secret);
            if (st == SLIM_OK)
                st = slim_mls_tree_priv_set_node_secret(&p, tree, first ? node : x,
                                                        slim_bytes_of(secret, s->nh));
        }
        if (x == root || ++k > DEPTH)
            break;
    }
    if (st == SLIM_OK)
        *priv = p;
    slim_memzero(secret, sizeof secret);
    slim_mls_tree_priv_cleanup(&p);
    return st;
}

/* True when the tree holds public key pk[k] at the member's level-k
 * ancestor. */
static bool level_current(const slim_mls_tree_priv *p, const slim_mls_tree *tree, uint32_t k) {
    uint32_t x = ancestor(p->leaf, k);
    return same(slim_mls_tree_encryption_key(tree, x), p->pk[k], p->suite->kem_npk);
}

void slim_mls_tree_priv_prune(slim_mls_tree_priv *priv, const slim_mls_tree *tree) {
    for (uint32_t k = 1; k <= DEPTH; k++) {
        if ((priv->have >> k) & 1 && !level_current(priv, tree, k))
            drop_level(priv, k);
    }
}

slim_status slim_mls_tree_priv_check(const slim_mls_tree_priv *priv, const slim_mls_tree *tree) {
    const slim_mls_suite *s = priv->suite;
    const slim_mls_leaf_node *ln = slim_mls_tree_leaf(tree, priv->leaf);
    if (ln == NULL)
        return SLIM_E_MLS_TREE_LEAF_BLANK;
    uint8_t pk[SLIM_MLS_MAX_DH_PUBLIC];
    slim_status st =
        slim_mls_hpke_public_key(s->hpke.kem_id, slim_bytes_of(priv->leaf_sk, s->kem_nsk), pk);
    if (st != SLIM_OK)
        return st;
    if (!same(ln->encryption_key, pk, s->kem_npk))
        return SLIM_E_MLS_PRIVATE_KEY_MISMATCH;
    for (uint32_t k = 1; k <= DEPTH; k++) {
        if ((priv->have >> k) & 1 && !level_current(priv, tree, k))
            return SLIM_E_MLS_PRIVATE_KEY_MISMATCH;
    }
    return SLIM_OK;
}

size_t slim_mls_tree_priv_encode_bound(const slim_mls_suite *s) {
    return 4 + s->kem_nsk + 4 + DEPTH * (1 + s->kem_nsk);
}

slim_status slim_mls_tree_priv_encode(slim_mls_tls_writer *w, const slim_mls_tree_priv *priv) {
    const slim_mls_suite *s = priv->suite;
    slim_mls_tls_put_u32(w, priv->leaf);
    slim_mls_tls_put_raw(w, slim_bytes_of(priv->leaf_sk, s->kem_nsk));
    size_t mark = slim_mls_tls_vec_begin(w);
    for (uint32_t k = 1; k <= DEPTH; k++) {
        if ((priv->have >> k) & 1) {
            slim_mls_tls_put_u8(w, (uint8_t)k);
            slim_mls_tls_put_raw(w, slim_bytes_of(priv->sk[k], s->kem_nsk));
        }
    }
    slim_mls_tls_vec_end(w, mark);
    return slim_mls_tls_writer_status(w);
}

/* One NodePriv into p: the level after the last one read, its public key
 * derived and found in the tree. */
static slim_status node_priv_decode(slim_mls_tls_reader *r, const slim_mls_tree *tree,
                                    slim_mls_tree_priv *p, uint32_t *last) {
    const slim_mls_suite *s = p->suite;
    uint8_t level;
    slim_bytes sk;
    slim_mls_tls_get_u8(r, &level);
    if (slim_mls_tls_get_raw(r, s->kem_nsk, &sk) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (level <= *last || level > DEPTH)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_VALUE);
    *last = level;
    memcpy(p->sk[level], sk.ptr, s->kem_nsk);
    p->have |= UINT32_C(1) << level;
    slim_status st = slim_mls_hpke_public_key(s->hpke.kem_id, sk, p->pk[level]);
    if (st == SLIM_OK && !level_current(p, tree, level))
        st = SLIM_E_MLS_PRIVATE_KEY_MISMATCH;
    return st == SLIM_OK ? SLIM_OK : slim_mls_tls_reader_fail(r, st);
}

slim_status slim_mls_tree_priv_decode(slim_mls_tls_reader *r, const slim_mls_tree *tree,
                                      slim_mls_tree_priv *out) {
    const slim_mls_suite *s = slim_mls_tree_suite(tree);
    uint32_t leaf;
    slim_bytes leaf_sk;
    slim_mls_tls_reader v;
    slim_mls_tls_get_u32(r, &leaf);
    slim_mls_tls_get_raw(r, s->kem_nsk, &leaf_sk);
    if (slim_mls_tls_get_vector(r, &v) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    slim_mls_tree_priv p;
    slim_status st = slim_mls_tree_priv_init(&p, tree, leaf, leaf_sk);
    if (st != SLIM_OK)
        return slim_mls_tls_reader_fail(r, st);
    uint32_t last = 0;
    while (slim_mls_tls_reader_more(&v) && node_priv_decode(&v, tree, &p, &last) == SLIM_OK)
        ;
    st = slim_mls_tls_end_vector(r, &v);
    if (st == SLIM_OK)
        *out = p;
    slim_mls_tree_priv_cleanup(&p);
    return st;
}

/* ---- parent hashes along a path ---------------------------------------- */

/*
 * The parent_hash of each node of a filtered direct path whose new public
 * keys are keys[0..n) (§7.9): the top node gets an empty one, node i the
 * parent hash of node i+1 with copath child copath[i+1]; *leaf_ph gets the
 * parent hash of node 0 (empty when n is 0). Lengths in ph_len.
 */
static slim_status path_parent_hashes(slim_mls_tree *tree, const uint32_t *copath,
                                      const slim_bytes *keys, size_t n,
                                      uint8_t ph[][SLIM_MLS_MAX_HASH], size_t *ph_len,
                                      uint8_t *leaf_ph, size_t *leaf_ph_len) {
    const slim_mls_suite *s = slim_mls_tree_suite(tree);
    uint8_t cur[SLIM_MLS_MAX_HASH];
    size_t cur_len = 0;
    for (size_t i = n; i-- > 0;) {
        memcpy(ph[i], cur, cur_len);
        ph_len[i] = cur_len;
        uint8_t th[SLIM_MLS_MAX_HASH];
        slim_status st = slim_mls_tree_node_hash(tree, copath[i], th);
        if (st == SLIM_OK)
            st = slim_mls_parent_hash_of(s, keys[i], slim_bytes_of(ph[i], ph_len[i]),
                                         slim_bytes_of(th, s->nh), cur);
        if (st != SLIM_OK)
            return st;
        cur_len = s->nh;
    }
    memcpy(leaf_ph, cur, cur_len);
    *leaf_ph_len = cur_len;
    return SLIM_OK;
}

/* Puts `leaf` into the leaf's slot and the parent nodes (keys[i],
 * ph[i], no unmerged leaves) into the filtered direct path, blanking the
 * rest of the direct path: all or nothing. */
static slim_status merge_path(slim_mls_tree *tree, uint32_t leaf, const slim_mls_leaf_node *ln,
                              const uint32_t *fdp, const slim_bytes *keys, size_t n,
                              uint8_t ph[][SLIM_MLS_MAX_HASH], const size_t *ph_len) {
    uint32_t dp[DEPTH], slots[DEPTH + 1];
    size_t n_dp;
    slim_status st = slim_mls_tree_direct_path(2 * leaf, slim_mls_tree_leaf_count(tree), dp, &n_dp);
    if (st != SLIM_OK)
        return st;
    slim_mls_node leaf_node = {.type = SLIM_MLS_NODE_LEAF}, parents[DEPTH];
    const slim_mls_node *nodes[DEPTH + 1];
    leaf_node.u.leaf = *ln;
    slots[0] = 2 * leaf;
    nodes[0] = &leaf_node;
    size_t j = 0;
    for (size_t i = 0; i < n_dp; i++) {
        slots[i + 1] = dp[i];
        nodes[i + 1] = NULL;
        if (j < n && fdp[j] == dp[i]) {
            memset(&parents[j], 0, sizeof parents[j]);
            parents[j].type = SLIM_MLS_NODE_PARENT;
            parents[j].u.parent.encryption_key = keys[j];
            parents[j].u.parent.parent_hash = slim_bytes_of(ph[j], ph_len[j]);
            nodes[i + 1] = &parents[j];
            j++;
        }
    }
    return slim_mls_tree_set_nodes(tree, slots, nodes, n_dp + 1);
}

/* ---- creating an UpdatePath ---------------------------------------------- */

struct slim_mls_path {
    const slim_mls_suite *suite;
    uint32_t leaf;
    size_t n;
    uint32_t fdp[DEPTH], copath[DEPTH];
    uint8_t secret[DEPTH][SLIM_MLS_MAX_HASH];
    uint8_t sk[DEPTH][SLIM_MLS_MAX_DH_PRIVATE];
    uint8_t pk[DEPTH][SLIM_MLS_MAX_DH_PUBLIC];
    uint8_t leaf_sk[SLIM_MLS_MAX_DH_PRIVATE];
    uint8_t leaf_pk[SLIM_MLS_MAX_DH_PUBLIC];
    uint8_t commit_secret[SLIM_MLS_MAX_HASH];
    slim_buf leaf_node; /* the signed commit leaf, encoded */
};

void slim_mls_path_free(slim_mls_path *path) {
    if (path == NULL)
        return;
    slim_buf_cleanup(&path->leaf_node);
    slim_memzero(path, sizeof *path);
    slim_free(path);
}

/* The key pairs and secrets of a path from a fresh leaf secret. */
static slim_status derive_path(slim_mls_path *path, const slim_mls_rng *rng) {
    const slim_mls_suite *s = path->suite;
    uint8_t leaf_secret[SLIM_MLS_MAX_HASH];
    slim_status st = slim_mls_rng_fill(rng, leaf_secret, s->nh);
    if (st == SLIM_OK)
        st = node_key_pair(s, leaf_secret, path->leaf_sk, path->leaf_pk);
    const uint8_t *prev = leaf_secret;
    for (size_t i = 0; i < path->n && st == SLIM_OK; i++) {
        st = next_secret(s, prev, path->secret[i]);
        if (st == SLIM_OK)
            st = node_key_pair(s, path->secret[i], path->sk[i], path->pk[i]);
        prev = path->secret[i];
    }
    if (st == SLIM_OK)
        st = next_secret(s, prev, path->commit_secret);
    slim_memzero(leaf_secret, sizeof leaf_secret);
    return st;
}

slim_status slim_mls_treekem_path_begin(slim_mls_tree *tree, uint32_t leaf,
                                        const slim_mls_leaf_params *p, slim_bytes group_id,
                                        const slim_mls_rng *rng, slim_mls_path **out) {
    const slim_mls_suite *s = slim_mls_tree_suite(tree);
    slim_mls_path *path = slim_calloc(1, sizeof *path);
    if (path == NULL)
        return SLIM_E_NOMEM;
    path->suite = s;
    path->leaf = leaf;
    slim_status st =
        slim_mls_tree_filtered_direct_path(tree, leaf, path->fdp, path->copath, &path->n);
    if (st == SLIM_OK)
        st = derive_path(path, rng);
    slim_bytes keys[DEPTH];
    for (size_t i = 0; i < path->n; i++)
        keys[i] = slim_bytes_of(path->pk[i], s->kem_npk);
    uint8_t ph[DEPTH][SLIM_MLS_MAX_HASH], leaf_ph[SLIM_MLS_MAX_HASH];
    size_t ph_len[DEPTH], leaf_ph_len = 0;
    if (st == SLIM_OK)
        st = path_parent_hashes(tree, path->copath, keys, path->n, ph, ph_len, leaf_ph,
                                &leaf_ph_len);
    if (st == SLIM_OK)
        st = slim_mls_leaf_node_build(
            s, p, SLIM_MLS_LEAF_SOURCE_COMMIT, slim_bytes_of(path->leaf_pk, s->kem_npk),
            slim_bytes_of(leaf_ph, leaf_ph_len), group_id, leaf, &path->leaf_node);
    slim_mls_leaf_node ln;
    if (st == SLIM_OK) {
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, slim_buf_view(&path->leaf_node));
        slim_mls_leaf_node_decode(&r, &ln);
        st = slim_mls_tls_reader_finish(&r);
    }
    if (st == SLIM_OK)
        st = merge_path(tree, leaf, &ln, path->fdp, keys, path->n, ph, ph_len);
    if (st != SLIM_OK) {
        slim_mls_path_free(path);
        return st;
    }
    *out = path;
    return SLIM_OK;
}

/* Writes one UpdatePathNode: the key and the path secret encrypted to
 * each node of `res`. */
static slim_status seal_node(const slim_mls_tree *tree, const slim_mls_path *path, size_t i,
                             const slim_mls_index_list *res, slim_bytes ctx,
                             const slim_mls_rng *rng, slim_mls_tls_writer *w) {
    const slim_mls_suite *s = path->suite;
    slim_mls_tls_put_opaque(w, slim_bytes_of(path->pk[i], s->kem_npk));
    size_t mark = slim_mls_tls_vec_begin(w);
    slim_buf kem = SLIM_BUF_INIT, ct = SLIM_BUF_INIT;
    slim_status st = SLIM_OK;
    for (size_t j = 0; j < res->len && st == SLIM_OK; j++) {
        kem.len = ct.len = 0;
        st = slim_mls_encrypt_with_label(s, slim_mls_tree_encryption_key(tree, res->v[j]),
                                         UPDATE_PATH_LABEL, ctx,
                                         slim_bytes_of(path->secret[i], s->nh), rng, &kem, &ct);
        if (st == SLIM_OK) {
            slim_mls_tls_put_opaque(w, slim_buf_view(&kem));
            slim_mls_tls_put_opaque(w, slim_buf_view(&ct));
        }
    }
    slim_buf_cleanup(&kem);
    slim_buf_cleanup(&ct);
    if (st != SLIM_OK)
        return slim_mls_tls_writer_fail(w, st);
    return slim_mls_tls_vec_end(w, mark);
}

slim_status slim_mls_treekem_path_seal(const slim_mls_tree *tree, const slim_mls_path *path,
                                       slim_bytes group_context, const uint32_t *exclude,
                                       size_t n_exclude, const slim_mls_rng *rng, slim_buf *out) {
    size_t before = out->len;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    slim_status st = slim_mls_tls_put_raw(&w, slim_buf_view(&path->leaf_node));
    size_t mark = slim_mls_tls_vec_begin(&w);
    slim_mls_index_list res = SLIM_MLS_INDEX_LIST_INIT;
    for (size_t i = 0; i < path->n && st == SLIM_OK; i++) {
        st = slim_mls_tree_resolution(tree, path->copath[i], exclude, n_exclude, &res);
        if (st == SLIM_OK)
            st = seal_node(tree, path, i, &res, group_context, rng, &w);
    }
    slim_mls_index_list_cleanup(&res);
    if (st == SLIM_OK)
        st = slim_mls_tls_vec_end(&w, mark);
    if (st != SLIM_OK)
        out->len = before;
    return st;
}

void slim_mls_path_commit_secret(const slim_mls_path *path, uint8_t *out) {
    memcpy(out, path->commit_secret, path->suite->nh);
}

slim_status slim_mls_path_secret(const slim_mls_path *path, uint32_t node, uint8_t *out) {
    for (size_t i = 0; i < path->n; i++) {
        if (path->fdp[i] == node) {
            memcpy(out, path->secret[i], path->suite->nh);
            return SLIM_OK;
        }
    }
    return SLIM_E_NOT_FOUND;
}

slim_bytes slim_mls_path_leaf(const slim_mls_path *path) {
    return slim_buf_view(&path->leaf_node);
}

void slim_mls_path_apply(const slim_mls_path *path, slim_mls_tree_priv *priv) {
    const slim_mls_suite *s = path->suite;
    slim_mls_tree_priv_cleanup(priv);
    priv->suite = s;
    priv->leaf = path->leaf;
    memcpy(priv->leaf_sk, path->leaf_sk, s->kem_nsk);
    memcpy(priv->leaf_pk, path->leaf_pk, s->kem_npk);
    for (size_t i = 0; i < path->n; i++) {
        uint32_t k = slim_mls_tree_level(path->fdp[i]);
        memcpy(priv->sk[k], path->sk[i], s->kem_nsk);
        memcpy(priv->pk[k], path->pk[i], s->kem_npk);
        priv->have |= UINT32_C(1) << k;
    }
}

/* ---- processing an UpdatePath ---------------------------------------- */

/* Decodes the n UpdatePathNodes of `path` into upn[0..n) (they were
 * checked when the path was decoded). */
static slim_status path_nodes(const slim_mls_update_path *path, slim_mls_update_path_node *upn,
                              size_t n) {
    if (path->nodes.count != n)
        return SLIM_E_MLS_PATH_LENGTH;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, path->nodes.body);
    for (size_t i = 0; i < n; i++)
        slim_mls_update_path_node_decode(&r, &upn[i]);
    return slim_mls_tls_reader_finish(&r);
}

/* The checks of slim_mls_treekem_path_merge on the path's nodes; keys
 * gets the leaf's key, then the nodes'. */
static slim_status check_path_nodes(const slim_mls_tree *tree, const slim_mls_update_path *path,
                                    const slim_mls_update_path_node *upn, const uint32_t *copath,
                                    size_t n, const uint32_t *exclude, size_t n_exclude,
                                    slim_bytes *keys) {
    const slim_mls_suite *s = slim_mls_tree_suite(tree);
    slim_mls_index_list res = SLIM_MLS_INDEX_LIST_INIT;
    slim_status st = SLIM_OK;
    keys[0] = path->leaf_node.encryption_key;
    for (size_t i = 0; i < n && st == SLIM_OK; i++) {
        keys[i + 1] = upn[i].encryption_key;
        if (upn[i].encryption_key.len != s->kem_npk)
            st = SLIM_E_MLS_BAD_KEY;
        for (size_t j = 0; j <= i && st == SLIM_OK; j++) {
            if (same(keys[j], keys[i + 1].ptr, keys[i + 1].len))
                st = SLIM_E_MLS_DUPLICATE_ENCRYPTION_KEY;
        }
        if (st == SLIM_OK)
            st = slim_mls_tree_resolution(tree, copath[i], exclude, n_exclude, &res);
        if (st == SLIM_OK && res.len != upn[i].encrypted_path_secret.count)
            st = SLIM_E_MLS_PATH_CIPHERTEXT_COUNT;
    }
    slim_mls_index_list_cleanup(&res);
    /* One pass over the tree for all the path's keys (the leaf's was
     * checked by leaf validation). */
    if (st == SLIM_OK && n > 0 &&
        slim_mls_tree_find_key(tree, SLIM_MLS_TREE_ENCRYPTION_KEY, keys + 1, n, UINT32_MAX) !=
            UINT32_MAX)
        st = SLIM_E_MLS_DUPLICATE_ENCRYPTION_KEY;
    return st;
}

slim_status slim_mls_treekem_path_merge(slim_mls_tree *tree, const slim_mls_validation *v,
                                        uint32_t sender, const slim_mls_update_path *path,
                                        const uint32_t *exclude, size_t n_exclude) {
    if (v->suite != slim_mls_tree_suite(tree))
        return SLIM_E_INVALID_ARG;
    if (sender >= slim_mls_tree_leaf_count(tree))
        return SLIM_E_MLS_TREE_INDEX;
    uint32_t replaces = slim_mls_tree_leaf(tree, sender) != NULL ? sender : SLIM_MLS_NO_LEAF;
    slim_status st = slim_mls_leaf_node_validate(v, tree, &path->leaf_node,
                                                 SLIM_MLS_LEAF_SOURCE_COMMIT, sender, replaces);
    uint32_t fdp[DEPTH], copath[DEPTH];
    size_t n = 0;
    if (st == SLIM_OK)
        st = slim_mls_tree_filtered_direct_path(tree, sender, fdp, copath, &n);
    slim_mls_update_path_node upn[DEPTH];
    if (st == SLIM_OK)
        st = path_nodes(path, upn, n);
    slim_bytes keys[DEPTH + 1]; /* the leaf's, then the nodes' */
    if (st == SLIM_OK)
        st = check_path_nodes(tree, path, upn, copath, n, exclude, n_exclude, keys);
    uint8_t ph[DEPTH][SLIM_MLS_MAX_HASH], leaf_ph[SLIM_MLS_MAX_HASH];
    size_t ph_len[DEPTH], leaf_ph_len = 0;
    if (st == SLIM_OK)
        st = path_parent_hashes(tree, copath, keys + 1, n, ph, ph_len, leaf_ph, &leaf_ph_len);
    if (st == SLIM_OK && !same(path->leaf_node.parent_hash, leaf_ph, leaf_ph_len))
        st = SLIM_E_MLS_PATH_PARENT_HASH;
    if (st == SLIM_OK)
        st = merge_path(tree, sender, &path->leaf_node, fdp, keys + 1, n, ph, ph_len);
    return st;
}

/* The private key this member holds for resolution node x, or NULL. */
static const uint8_t *key_for(const slim_mls_tree_priv *p, const slim_mls_tree *tree, uint32_t x) {
    const slim_mls_suite *s = p->suite;
    if (x == 2 * p->leaf)
        return same(slim_mls_tree_encryption_key(tree, x), p->leaf_pk, s->kem_npk) ? p->leaf_sk
                                                                                   : NULL;
    uint32_t k = slim_mls_tree_level(x);
    if (k == 0 || k > DEPTH || ancestor(p->leaf, k) != x || !((p->have >> k) & 1))
        return NULL;
    return level_current(p, tree, k) ? p->sk[k] : NULL;
}

/* The j-th HPKECiphertext of an UpdatePathNode. */
static slim_status ciphertext_at(const slim_mls_update_path_node *n, size_t j,
                                 slim_mls_hpke_ciphertext *c) {
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, n->encrypted_path_secret.body);
    for (size_t i = 0; i <= j; i++)
        slim_mls_hpke_ciphertext_decode(&r, c);
    return slim_mls_tls_reader_status(&r);
}

/* Finds the path node above the member (i) and decrypts its secret. */
static slim_status find_and_decrypt(const slim_mls_tree *tree, const slim_mls_tree_priv *p,
                                    const uint32_t *fdp, const uint32_t *copath, size_t n,
                                    const slim_mls_update_path_node *upn, slim_bytes ctx,
                                    const uint32_t *exclude, size_t n_exclude, size_t *i_out,
                                    slim_buf *secret) {
    const slim_mls_suite *s = p->suite;
    size_t i = 0;
    while (i < n && !slim_mls_tree_is_ancestor(fdp[i], 2 * p->leaf))
        i++;
    if (i == n)
        return SLIM_E_MLS_PATH_NO_KEY;
    if (!same(slim_mls_tree_encryption_key(tree, fdp[i]), upn[i].encryption_key.ptr,
              upn[i].encryption_key.len))
        return SLIM_E_STATE; /* the path was not merged into this tree */
    slim_mls_index_list res = SLIM_MLS_INDEX_LIST_INIT;
    slim_status st = slim_mls_tree_resolution(tree, copath[i], exclude, n_exclude, &res);
    size_t j = 0;
    const uint8_t *sk = NULL;
    for (; st == SLIM_OK && j < res.len && sk == NULL; j++)
        sk = key_for(p, tree, res.v[j]);
    if (st == SLIM_OK && sk == NULL)
        st = SLIM_E_MLS_PATH_NO_KEY;
    if (st == SLIM_OK && res.len != upn[i].encrypted_path_secret.count)
        st = SLIM_E_MLS_PATH_CIPHERTEXT_COUNT;
    slim_mls_index_list_cleanup(&res);
    slim_mls_hpke_ciphertext c;
    if (st == SLIM_OK)
        st = ciphertext_at(&upn[i], j - 1, &c);
    if (st == SLIM_OK)
        st = slim_mls_decrypt_with_label(s, slim_bytes_of(sk, s->kem_nsk), UPDATE_PATH_LABEL, ctx,
                                         c.kem_output, c.ciphertext, secret);
    if (st == SLIM_E_MLS_AEAD_OPEN || st == SLIM_E_MLS_BAD_KEY || st == SLIM_E_MLS_DH_ZERO ||
        (st == SLIM_OK && secret->len != s->nh))
        st = SLIM_E_MLS_PATH_DECRYPT;
    *i_out = i;
    return st;
}

slim_status slim_mls_treekem_path_decrypt(const slim_mls_tree *tree, uint32_t sender,
                                          const slim_mls_update_path *path,
                                          slim_bytes group_context, const uint32_t *exclude,
                                          size_t n_exclude, slim_mls_tree_priv *priv,
                                          uint8_t *commit_secret, uint8_t *path_secret_out) {
    const slim_mls_suite *s = priv->suite;
    if (s != slim_mls_tree_suite(tree))
        return SLIM_E_INVALID_ARG;
    if (priv->leaf == sender)
        return SLIM_E_MLS_PATH_FROM_SELF;
    if (slim_mls_tree_leaf(tree, priv->leaf) == NULL)
        return SLIM_E_MLS_TREE_LEAF_BLANK;
    uint32_t fdp[DEPTH], copath[DEPTH];
    size_t n = 0, i = 0;
    slim_status st = slim_mls_tree_filtered_direct_path(tree, sender, fdp, copath, &n);
    slim_mls_update_path_node upn[DEPTH];
    if (st == SLIM_OK)
        st = path_nodes(path, upn, n);
    slim_buf secret = SLIM_BUF_INIT;
    if (st == SLIM_OK)
        st = find_and_decrypt(tree, priv, fdp, copath, n, upn, group_context, exclude, n_exclude,
                              &i, &secret);
    slim_mls_tree_priv p = *priv;
    uint8_t ps[SLIM_MLS_MAX_HASH], sk[SLIM_MLS_MAX_DH_PRIVATE], pk[SLIM_MLS_MAX_DH_PUBLIC];
    if (st == SLIM_OK) {
        memcpy(ps, secret.data, s->nh);
        /* The sender's path replaced every node from the common ancestor up. */
        for (uint32_t k = slim_mls_tree_level(fdp[i]); k <= DEPTH; k++)
            drop_level(&p, k);
    }
    for (size_t m = i; st == SLIM_OK && m < n; m++) {
        if (m > i)
            st = next_secret(s, ps, ps);
        if (st == SLIM_OK)
            st = node_key_pair(s, ps, sk, pk);
        if (st == SLIM_OK && !same(upn[m].encryption_key, pk, s->kem_npk))
            st = SLIM_E_MLS_PATH_KEY_MISMATCH;
        if (st == SLIM_OK) {
            uint32_t k = slim_mls_tree_level(fdp[m]);
            memcpy(p.sk[k], sk, s->kem_nsk);
            memcpy(p.pk[k], pk, s->kem_npk);
            p.have |= UINT32_C(1) << k;
        }
    }
    if (st == SLIM_OK)
        st = next_secret(s, ps, commit_secret);
    if (st == SLIM_OK) {
        slim_mls_tree_priv_prune(&p, tree);
        *priv = p;
        if (path_secret_out != NULL)
            memcpy(path_secret_out, secret.data, s->nh);
    }
    slim_mls_tree_priv_cleanup(&p);
    slim_buf_cleanup_secret(&secret);
    slim_memzero(ps, sizeof ps);
    slim_memzero(sk, sizeof sk);
    return st;
}
