/* ParentNode, Node, ratchet_tree, HPKECiphertext and UpdatePath codecs. */
#include "mls/nodes.h"

/* ---- ParentNode ------------------------------------------------------ */

slim_status slim_mls_parent_node_encode(slim_mls_tls_writer *w, const slim_mls_parent_node *p) {
    slim_mls_tls_put_opaque(w, p->encryption_key);
    slim_mls_tls_put_opaque(w, p->parent_hash);
    return slim_mls_tls_put_vec(w, &p->unmerged_leaves);
}

/* Element checker for unmerged_leaves: each entry above the one before. */
static slim_status elem_unmerged(slim_mls_tls_reader *r, void *arg) {
    int64_t *last = arg;
    uint32_t leaf;
    if (slim_mls_tls_get_u32(r, &leaf) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if ((int64_t)leaf <= *last)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_UNMERGED_NOT_SORTED);
    *last = leaf;
    return SLIM_OK;
}

slim_status slim_mls_parent_node_decode(slim_mls_tls_reader *r, slim_mls_parent_node *p) {
    slim_mls_parent_node v;
    int64_t last = -1;
    slim_mls_tls_get_opaque(r, &v.encryption_key);
    slim_mls_tls_get_opaque(r, &v.parent_hash);
    slim_status st = slim_mls_tls_get_vec(r, elem_unmerged, &last, &v.unmerged_leaves);
    if (st == SLIM_OK)
        *p = v;
    return st;
}

/* ---- Node ------------------------------------------------------------ */

slim_status slim_mls_node_encode(slim_mls_tls_writer *w, const slim_mls_node *n) {
    slim_mls_tls_put_u8(w, n->type);
    switch (n->type) {
    case SLIM_MLS_NODE_LEAF:
        return slim_mls_leaf_node_encode(w, &n->u.leaf);
    case SLIM_MLS_NODE_PARENT:
        return slim_mls_parent_node_encode(w, &n->u.parent);
    }
    return slim_mls_tls_writer_fail(w, SLIM_E_MLS_BAD_NODE_TYPE);
}

slim_status slim_mls_node_decode(slim_mls_tls_reader *r, slim_mls_node *n) {
    slim_mls_node v;
    if (slim_mls_tls_get_u8(r, &v.type) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    switch (v.type) {
    case SLIM_MLS_NODE_LEAF:
        slim_mls_leaf_node_decode(r, &v.u.leaf);
        break;
    case SLIM_MLS_NODE_PARENT:
        slim_mls_parent_node_decode(r, &v.u.parent);
        break;
    default:
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_NODE_TYPE);
    }
    slim_status st = slim_mls_tls_reader_status(r);
    if (st == SLIM_OK)
        *n = v;
    return st;
}

/* ---- ratchet_tree ---------------------------------------------------- */

typedef struct tree_walk {
    uint64_t index;    /* node index of the next entry */
    bool last_present; /* whether the entry read last was a node */
} tree_walk;

static slim_status elem_tree_entry(slim_mls_tls_reader *r, void *arg) {
    tree_walk *tw = arg;
    bool present;
    if (slim_mls_tls_get_optional(r, &present) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (present) {
        slim_mls_node n;
        if (slim_mls_node_decode(r, &n) != SLIM_OK)
            return slim_mls_tls_reader_status(r);
        uint8_t want = tw->index % 2 == 0 ? SLIM_MLS_NODE_LEAF : SLIM_MLS_NODE_PARENT;
        if (n.type != want)
            return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_NODE_TYPE);
    }
    tw->index++;
    tw->last_present = present;
    return SLIM_OK;
}

slim_status slim_mls_ratchet_tree_decode(slim_mls_tls_reader *r, slim_mls_vec *nodes) {
    tree_walk tw = {0, false};
    slim_mls_vec v;
    if (slim_mls_tls_get_vec(r, elem_tree_entry, &tw, &v) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (!tw.last_present) /* also refuses an empty vector */
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_TREE_TRAILING_BLANK);
    *nodes = v;
    return SLIM_OK;
}

slim_status slim_mls_ratchet_tree_encode(slim_mls_tls_writer *w, const slim_mls_vec *nodes) {
    return slim_mls_tls_put_vec(w, nodes);
}

slim_status slim_mls_ratchet_tree_put(slim_mls_tls_writer *w, const slim_mls_node *n) {
    slim_status st = slim_mls_tls_put_optional(w, n != NULL);
    if (n != NULL)
        st = slim_mls_node_encode(w, n);
    return st;
}

slim_status slim_mls_ratchet_tree_next(slim_mls_tls_reader *it, bool *present, slim_mls_node *n,
                                       bool *more) {
    *more = false;
    *present = false;
    if (!slim_mls_tls_reader_more(it))
        return slim_mls_tls_reader_status(it);
    bool p;
    if (slim_mls_tls_get_optional(it, &p) != SLIM_OK)
        return slim_mls_tls_reader_status(it);
    if (p && slim_mls_node_decode(it, n) != SLIM_OK)
        return slim_mls_tls_reader_status(it);
    *present = p;
    *more = true;
    return SLIM_OK;
}

/* ---- HPKECiphertext, UpdatePathNode, UpdatePath ---------------------- */

slim_status slim_mls_hpke_ciphertext_encode(slim_mls_tls_writer *w,
                                            const slim_mls_hpke_ciphertext *c) {
    slim_mls_tls_put_opaque(w, c->kem_output);
    return slim_mls_tls_put_opaque(w, c->ciphertext);
}

slim_status slim_mls_hpke_ciphertext_decode(slim_mls_tls_reader *r, slim_mls_hpke_ciphertext *c) {
    slim_mls_hpke_ciphertext v;
    slim_mls_tls_get_opaque(r, &v.kem_output);
    slim_status st = slim_mls_tls_get_opaque(r, &v.ciphertext);
    if (st == SLIM_OK)
        *c = v;
    return st;
}

static slim_status elem_hpke_ciphertext(slim_mls_tls_reader *r, void *arg) {
    (void)arg;
    slim_mls_hpke_ciphertext c;
    return slim_mls_hpke_ciphertext_decode(r, &c);
}

slim_status slim_mls_update_path_node_encode(slim_mls_tls_writer *w,
                                             const slim_mls_update_path_node *n) {
    slim_mls_tls_put_opaque(w, n->encryption_key);
    return slim_mls_tls_put_vec(w, &n->encrypted_path_secret);
}

slim_status slim_mls_update_path_node_decode(slim_mls_tls_reader *r, slim_mls_update_path_node *n) {
    slim_mls_update_path_node v;
    slim_mls_tls_get_opaque(r, &v.encryption_key);
    slim_status st = slim_mls_tls_get_vec(r, elem_hpke_ciphertext, NULL, &v.encrypted_path_secret);
    if (st == SLIM_OK)
        *n = v;
    return st;
}

static slim_status elem_update_path_node(slim_mls_tls_reader *r, void *arg) {
    (void)arg;
    slim_mls_update_path_node n;
    return slim_mls_update_path_node_decode(r, &n);
}

slim_status slim_mls_update_path_encode(slim_mls_tls_writer *w, const slim_mls_update_path *p) {
    slim_mls_leaf_node_encode(w, &p->leaf_node);
    return slim_mls_tls_put_vec(w, &p->nodes);
}

slim_status slim_mls_update_path_decode(slim_mls_tls_reader *r, slim_mls_update_path *p) {
    slim_mls_update_path v;
    if (slim_mls_leaf_node_decode(r, &v.leaf_node) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (v.leaf_node.source != SLIM_MLS_LEAF_SOURCE_COMMIT)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_WRONG_LEAF_NODE_SOURCE);
    slim_status st = slim_mls_tls_get_vec(r, elem_update_path_node, NULL, &v.nodes);
    if (st == SLIM_OK)
        *p = v;
    return st;
}
