/*
 * LeafNode, KeyPackage and ratchet-tree validation. The per-leaf checks
 * are shared by the three entry points; the checks against the rest of
 * the group differ: one leaf is compared with every node (linear), a
 * whole tree sorts its keys and collects its credential types once
 * (O(n log n)). Sets of 16-bit code points are bit sets, so a leaf with
 * long capability and extension lists costs time linear in its size.
 */
#include "mls/validate.h"
#include "core/alloc.h"
#include "mls/extensions.h"
#include "mls/group_context.h"
#include "mls/tree_math.h"

#include <stdlib.h>
#include <string.h>

/* ---- small sets of uint16 code points --------------------------------- */

typedef struct u16set {
    uint64_t w[65536 / 64];
} u16set;

static bool set_has(const u16set *s, uint16_t v) {
    return (s->w[v / 64] >> (v % 64)) & 1;
}

static void set_put(u16set *s, uint16_t v, bool on) {
    uint64_t bit = (uint64_t)1 << (v % 64);
    s->w[v / 64] = on ? s->w[v / 64] | bit : s->w[v / 64] & ~bit;
}

/* Adds (on) or removes every value of a checked uint16 list. */
static void set_list(u16set *s, const slim_mls_vec *list, bool on) {
    for (uint32_t i = 0; i < list->count; i++)
        set_put(s, slim_mls_vec_u16(list, i), on);
}

/* Extension types 1-5 and proposal types 1-7 are "default" (§7.2): every
 * client supports them and none lists them. */
static bool default_extension(uint16_t t) {
    return t >= SLIM_MLS_EXT_APPLICATION_ID && t <= SLIM_MLS_EXT_EXTERNAL_SENDERS;
}

static bool default_proposal(uint16_t t) {
    return t >= 1 && t <= 7;
}

/* E_MLS_UNSUPPORTED_EXTENSION unless each non-default extension type of
 * the list `exts` (an encoded extension list body) is in `have`. */
static slim_status extensions_listed(slim_bytes exts, const u16set *have) {
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, exts);
    while (slim_mls_tls_reader_more(&r)) {
        slim_mls_extension e;
        if (slim_mls_extension_decode(&r, &e) != SLIM_OK)
            break;
        if (!default_extension(e.type) && !set_has(have, e.type))
            return SLIM_E_MLS_UNSUPPORTED_EXTENSION;
    }
    return slim_mls_tls_reader_status(&r);
}

/* ---- the checks of one leaf ------------------------------------------ */

/* The group's required_capabilities, *found = false when it has none. */
static slim_status required_caps(const slim_mls_validation *v, slim_mls_required_capabilities *rc,
                                 bool *found) {
    slim_mls_extension ext;
    slim_status st = slim_mls_extension_list_find(v->group_extensions,
                                                  SLIM_MLS_EXT_REQUIRED_CAPABILITIES, &ext, found);
    if (st != SLIM_OK || !*found)
        return st;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, ext.data);
    slim_mls_required_capabilities_decode(&r, rc);
    return slim_mls_tls_reader_finish(&r);
}

static slim_status check_required(const slim_mls_required_capabilities *rc,
                                  const slim_mls_capabilities *c) {
    for (uint32_t i = 0; i < rc->extension_types.count; i++) {
        uint16_t t = slim_mls_vec_u16(&rc->extension_types, i);
        if (!default_extension(t) && !slim_mls_vec_has_u16(&c->extensions, t))
            return SLIM_E_MLS_MISSING_REQUIRED_CAPABILITY;
    }
    for (uint32_t i = 0; i < rc->proposal_types.count; i++) {
        uint16_t t = slim_mls_vec_u16(&rc->proposal_types, i);
        if (!default_proposal(t) && !slim_mls_vec_has_u16(&c->proposals, t))
            return SLIM_E_MLS_MISSING_REQUIRED_CAPABILITY;
    }
    for (uint32_t i = 0; i < rc->credential_types.count; i++) {
        if (!slim_mls_vec_has_u16(&c->credentials, slim_mls_vec_u16(&rc->credential_types, i)))
            return SLIM_E_MLS_MISSING_REQUIRED_CAPABILITY;
    }
    return SLIM_OK;
}

/* E_MLS_UNSUPPORTED_GROUP_EXTENSION unless every non-default extension of
 * the GroupContext is listed in c (§13.4: GroupContext extensions are
 * mandatory for every member). */
static slim_status check_group_extensions(const slim_mls_validation *v,
                                          const slim_mls_capabilities *c) {
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, v->group_extensions);
    while (slim_mls_tls_reader_more(&r)) {
        slim_mls_extension e;
        if (slim_mls_extension_decode(&r, &e) != SLIM_OK)
            break;
        if (!default_extension(e.type) && !slim_mls_vec_has_u16(&c->extensions, e.type))
            return SLIM_E_MLS_UNSUPPORTED_GROUP_EXTENSION;
    }
    return slim_mls_tls_reader_status(&r);
}

static slim_status check_lifetime(const slim_mls_validation *v, const slim_mls_lifetime *lt) {
    if (v->max_lifetime != 0 &&
        (lt->not_after < lt->not_before || lt->not_after - lt->not_before > v->max_lifetime))
        return SLIM_E_MLS_LIFETIME_TOO_LONG;
    if (v->check_lifetime && (v->now < lt->not_before || v->now > lt->not_after))
        return SLIM_E_MLS_LIFETIME_INVALID;
    return SLIM_OK;
}

/* What a leaf must satisfy on its own: everything in the table of
 * validate.h up to the credential check. `scratch` is an empty set, left
 * empty. */
static slim_status check_leaf(const slim_mls_validation *v,
                              const slim_mls_required_capabilities *rc,
                              const slim_mls_leaf_node *ln, uint8_t source, uint32_t leaf_index,
                              u16set *scratch) {
    const slim_mls_suite *s = v->suite;
    const slim_mls_capabilities *c = &ln->capabilities;
    if (source != 0 && ln->source != source)
        return SLIM_E_MLS_WRONG_LEAF_NODE_SOURCE;
    if (ln->encryption_key.len != s->kem_npk || ln->signature_key.len != s->sig_npk)
        return SLIM_E_MLS_BAD_KEY;
    if (!slim_mls_vec_has_u16(&c->versions, SLIM_MLS_VERSION_MLS10) ||
        !slim_mls_vec_has_u16(&c->cipher_suites, s->id))
        return SLIM_E_MLS_UNSUPPORTED_VERSION_OR_SUITE;
    slim_status st = rc != NULL ? check_required(rc, c) : SLIM_OK;
    if (st == SLIM_OK)
        st = check_group_extensions(v, c);
    if (st == SLIM_OK) {
        set_list(scratch, &c->extensions, true);
        st = extensions_listed(ln->extensions.body, scratch);
        set_list(scratch, &c->extensions, false);
    }
    if (st == SLIM_OK && !slim_mls_vec_has_u16(&c->credentials, ln->credential.type))
        st = SLIM_E_MLS_CREDENTIAL_UNSUPPORTED;
    if (st == SLIM_OK && ln->source == SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE)
        st = check_lifetime(v, &ln->lifetime);
    if (st != SLIM_OK)
        return st;
    st = slim_mls_leaf_node_verify(s, ln, v->group_id, leaf_index);
    if (st == SLIM_E_MLS_BAD_SIGNATURE)
        return SLIM_E_MLS_LEAF_BAD_SIGNATURE;
    if (st != SLIM_OK)
        return st;
    return v->credential(v->credential_arg, &ln->credential, ln->signature_key);
}

static bool same(slim_bytes a, slim_bytes b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* One leaf against the members of `tree` (other than `replaces`). */
static slim_status check_against_group(const slim_mls_tree *tree, const slim_mls_leaf_node *ln,
                                       uint32_t replaces) {
    const slim_mls_leaf_node *old =
        replaces == SLIM_MLS_NO_LEAF ? NULL : slim_mls_tree_leaf(tree, replaces);
    if (old != NULL && same(old->encryption_key, ln->encryption_key))
        return SLIM_E_MLS_ENCRYPTION_KEY_UNCHANGED;
    uint32_t n_leaves = slim_mls_tree_leaf_count(tree);
    for (uint32_t l = 0; l < n_leaves; l++) {
        const slim_mls_leaf_node *m = slim_mls_tree_leaf(tree, l);
        if (m == NULL || l == replaces)
            continue;
        if (!slim_mls_vec_has_u16(&m->capabilities.credentials, ln->credential.type) ||
            !slim_mls_vec_has_u16(&ln->capabilities.credentials, m->credential.type))
            return SLIM_E_MLS_CREDENTIAL_UNSUPPORTED;
    }
    if (slim_mls_tree_find_key(tree, SLIM_MLS_TREE_ENCRYPTION_KEY, &ln->encryption_key, 1,
                               UINT32_MAX) != UINT32_MAX)
        return SLIM_E_MLS_DUPLICATE_ENCRYPTION_KEY;
    if (slim_mls_tree_find_key(tree, SLIM_MLS_TREE_SIGNATURE_KEY, &ln->signature_key, 1,
                               replaces) != UINT32_MAX)
        return SLIM_E_MLS_DUPLICATE_SIGNATURE_KEY;
    return SLIM_OK;
}

/* Allocates an empty u16set. */
static slim_status scratch_new(u16set **out) {
    *out = slim_calloc(1, sizeof **out);
    return *out != NULL ? SLIM_OK : SLIM_E_NOMEM;
}

/* The per-leaf checks with the group's required capabilities. */
static slim_status leaf_alone(const slim_mls_validation *v, const slim_mls_leaf_node *ln,
                              uint8_t source, uint32_t leaf_index, u16set *scratch) {
    if (v->suite == NULL || v->credential == NULL)
        return SLIM_E_INVALID_ARG;
    slim_mls_required_capabilities rc;
    bool have_rc = false;
    slim_status st = required_caps(v, &rc, &have_rc);
    if (st == SLIM_OK)
        st = check_leaf(v, have_rc ? &rc : NULL, ln, source, leaf_index, scratch);
    return st;
}

slim_status slim_mls_leaf_node_validate(const slim_mls_validation *v, const slim_mls_tree *tree,
                                        const slim_mls_leaf_node *ln, uint8_t source,
                                        uint32_t leaf_index, uint32_t replaces) {
    u16set *scratch;
    slim_status st = scratch_new(&scratch);
    if (st == SLIM_OK)
        st = leaf_alone(v, ln, source, leaf_index, scratch);
    if (st == SLIM_OK && tree != NULL)
        st = check_against_group(tree, ln, replaces);
    slim_free(scratch);
    return st;
}

slim_status slim_mls_leaf_node_supports_group(const slim_mls_validation *v,
                                              const slim_mls_leaf_node *ln) {
    slim_mls_required_capabilities rc;
    bool have_rc = false;
    slim_status st = required_caps(v, &rc, &have_rc);
    if (st == SLIM_OK && have_rc)
        st = check_required(&rc, &ln->capabilities);
    if (st == SLIM_OK)
        st = check_group_extensions(v, &ln->capabilities);
    return st;
}

slim_status slim_mls_key_package_validate(const slim_mls_validation *v, const slim_mls_tree *tree,
                                          const slim_mls_key_package *kp) {
    if (v->suite == NULL)
        return SLIM_E_INVALID_ARG;
    if (kp->version != SLIM_MLS_VERSION_MLS10)
        return SLIM_E_MLS_BAD_VERSION;
    if (kp->cipher_suite != v->suite->id)
        return SLIM_E_MLS_SUITE_MISMATCH;
    if (kp->init_key.len != v->suite->kem_npk)
        return SLIM_E_MLS_BAD_KEY;
    u16set *scratch;
    slim_status st = scratch_new(&scratch);
    /* A KeyPackage's leaf carries no group context in its signature. */
    /* The KeyPackage's own extensions are for whoever adds it, and unknown
     * ones are ignored (§13): only its leaf's must be in its capabilities. */
    if (st == SLIM_OK)
        st = leaf_alone(v, &kp->leaf_node, SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE, 0, scratch);
    slim_free(scratch);
    if (st == SLIM_OK)
        st = slim_mls_key_package_verify(v->suite, kp);
    if (st == SLIM_OK && same(kp->init_key, kp->leaf_node.encryption_key))
        st = SLIM_E_MLS_INIT_KEY_REUSED;
    if (st == SLIM_OK && tree != NULL)
        st = check_against_group(tree, &kp->leaf_node, SLIM_MLS_NO_LEAF);
    return st;
}

/* ---- whole trees ------------------------------------------------------ */

/* Every unmerged leaf of every parent: a member below it, listed by every
 * non-blank node on the way up. */
static slim_status check_unmerged(const slim_mls_tree *t) {
    uint32_t n = slim_mls_tree_leaf_count(t);
    for (uint32_t p = 1; p < slim_mls_tree_node_count(t); p += 2) {
        const slim_mls_node *pn = slim_mls_tree_node(t, p);
        if (pn == NULL)
            continue;
        const slim_mls_vec *u = &pn->u.parent.unmerged_leaves;
        for (uint32_t i = 0; i < u->count; i++) {
            uint32_t leaf = slim_mls_vec_u32(u, i);
            if (leaf >= n || !slim_mls_tree_is_ancestor(p, 2 * leaf) ||
                slim_mls_tree_leaf(t, leaf) == NULL)
                return SLIM_E_MLS_UNMERGED_LEAF_INVALID;
            uint32_t x = 2 * leaf;
            slim_mls_tree_parent(x, n, &x);
            for (; x != p; slim_mls_tree_parent(x, n, &x)) {
                if (slim_mls_tree_node(t, x) != NULL && !slim_mls_tree_is_unmerged(t, x, leaf))
                    return SLIM_E_MLS_UNMERGED_LEAF_MISSING;
            }
        }
    }
    return SLIM_OK;
}

static int cmp_bytes(const void *a, const void *b) {
    const slim_bytes *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->len == 0 ? 0 : memcmp(x->ptr, y->ptr, x->len);
}

/* E_MLS_DUPLICATE_ENCRYPTION_KEY / _SIGNATURE_KEY when two nodes share an
 * encryption key or two leaves a signature key. */
static slim_status check_unique(const slim_mls_tree *t) {
    uint32_t w = slim_mls_tree_node_count(t);
    slim_bytes *keys = slim_malloc((size_t)w * sizeof *keys);
    if (keys == NULL)
        return SLIM_E_NOMEM;
    slim_status st = SLIM_OK;
    for (int pass = 0; pass < 2 && st == SLIM_OK; pass++) {
        size_t n = 0;
        for (uint32_t x = 0; x < w; x++) {
            const slim_mls_node *node = slim_mls_tree_node(t, x);
            if (node == NULL || (pass == 1 && node->type != SLIM_MLS_NODE_LEAF))
                continue;
            keys[n++] = pass == 0 ? slim_mls_tree_encryption_key(t, x) : node->u.leaf.signature_key;
        }
        qsort(keys, n, sizeof *keys, cmp_bytes);
        for (size_t i = 1; i < n && st == SLIM_OK; i++) {
            if (cmp_bytes(&keys[i - 1], &keys[i]) == 0)
                st = pass == 0 ? SLIM_E_MLS_DUPLICATE_ENCRYPTION_KEY
                               : SLIM_E_MLS_DUPLICATE_SIGNATURE_KEY;
        }
    }
    slim_free(keys);
    return st;
}

/* Every member supports every credential type in use (§7.3). */
static slim_status check_credential_types(const slim_mls_tree *t, u16set *in_use, u16set *seen) {
    uint32_t kinds = 0;
    for (uint32_t l = 0; l < slim_mls_tree_leaf_count(t); l++) {
        const slim_mls_leaf_node *m = slim_mls_tree_leaf(t, l);
        if (m != NULL && !set_has(in_use, m->credential.type)) {
            set_put(in_use, m->credential.type, true);
            kinds++;
        }
    }
    for (uint32_t l = 0; l < slim_mls_tree_leaf_count(t); l++) {
        const slim_mls_leaf_node *m = slim_mls_tree_leaf(t, l);
        if (m == NULL)
            continue;
        const slim_mls_vec *c = &m->capabilities.credentials;
        uint32_t hits = 0;
        for (uint32_t i = 0; i < c->count; i++) {
            uint16_t type = slim_mls_vec_u16(c, i);
            if (set_has(in_use, type) && !set_has(seen, type)) {
                set_put(seen, type, true);
                hits++;
            }
        }
        set_list(seen, c, false);
        if (hits != kinds)
            return SLIM_E_MLS_CREDENTIAL_UNSUPPORTED;
    }
    return SLIM_OK;
}

static slim_status check_parent_keys(const slim_mls_tree *t, size_t npk) {
    for (uint32_t p = 1; p < slim_mls_tree_node_count(t); p += 2) {
        const slim_mls_node *n = slim_mls_tree_node(t, p);
        if (n != NULL && n->u.parent.encryption_key.len != npk)
            return SLIM_E_MLS_BAD_KEY;
    }
    return SLIM_OK;
}

static slim_status check_leaves(const slim_mls_tree *t, const slim_mls_validation *v,
                                u16set *scratch) {
    slim_status st = SLIM_OK;
    for (uint32_t l = 0; l < slim_mls_tree_leaf_count(t) && st == SLIM_OK; l++) {
        const slim_mls_leaf_node *m = slim_mls_tree_leaf(t, l);
        if (m != NULL)
            st = leaf_alone(v, m, 0, l, scratch);
    }
    return st;
}

slim_status slim_mls_tree_validate(slim_mls_tree *tree, const slim_mls_validation *v,
                                   slim_bytes tree_hash) {
    if (v->suite == NULL || v->credential == NULL || v->suite != slim_mls_tree_suite(tree))
        return SLIM_E_INVALID_ARG;
    if (slim_mls_tree_leaf_count(tree) == 0)
        return SLIM_E_STATE;
    slim_status st = SLIM_OK;
    if (tree_hash.len > 0) {
        uint8_t h[SLIM_MLS_MAX_HASH];
        st = slim_mls_tree_hash(tree, h);
        if (st == SLIM_OK &&
            (tree_hash.len != v->suite->nh || memcmp(h, tree_hash.ptr, v->suite->nh) != 0))
            st = SLIM_E_MLS_TREE_HASH_MISMATCH;
    }
    if (st == SLIM_OK)
        st = check_parent_keys(tree, v->suite->kem_npk);
    if (st == SLIM_OK)
        st = check_unmerged(tree);
    if (st == SLIM_OK)
        st = slim_mls_tree_verify_parent_hashes(tree, NULL);
    u16set *a = NULL, *b = NULL;
    if (st == SLIM_OK)
        st = scratch_new(&a);
    if (st == SLIM_OK)
        st = scratch_new(&b);
    if (st == SLIM_OK)
        st = check_leaves(tree, v, a);
    if (st == SLIM_OK)
        st = check_credential_types(tree, a, b);
    slim_free(a);
    slim_free(b);
    if (st == SLIM_OK)
        st = check_unique(tree);
    return st;
}
