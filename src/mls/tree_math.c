/*
 * Tree index arithmetic for full binary trees stored in arrays. In a full
 * tree the subtree below a node of level k covers the 2^(k+1) - 1 indices
 * that share its bits above bit k, which gives every relation below by
 * bit manipulation.
 */
#include "mls/tree_math.h"

uint32_t slim_mls_tree_level(uint32_t node) {
    uint32_t k = 0;
    while (k < 32 && ((node >> k) & 1) == 1)
        k++;
    return k;
}

slim_status slim_mls_tree_check_size(uint32_t n_leaves) {
    if (n_leaves == 0 || n_leaves > SLIM_MLS_TREE_MAX_LEAVES || (n_leaves & (n_leaves - 1)) != 0)
        return SLIM_E_MLS_TREE_SIZE;
    return SLIM_OK;
}

uint32_t slim_mls_tree_width(uint32_t n_leaves) {
    return n_leaves == 0 ? 0 : 2 * (n_leaves - 1) + 1;
}

/* Validates n and that node is inside the tree. */
static slim_status check(uint32_t node, uint32_t n_leaves) {
    slim_status st = slim_mls_tree_check_size(n_leaves);
    if (st != SLIM_OK)
        return st;
    return node < slim_mls_tree_width(n_leaves) ? SLIM_OK : SLIM_E_MLS_TREE_INDEX;
}

/* The root of a full tree of n = 2^k leaves is node 2^k - 1. */
static uint32_t root_of(uint32_t n_leaves) {
    return n_leaves - 1;
}

slim_status slim_mls_tree_root(uint32_t n_leaves, uint32_t *out) {
    slim_status st = slim_mls_tree_check_size(n_leaves);
    if (st == SLIM_OK)
        *out = root_of(n_leaves);
    return st;
}

/* A child of a parent node at level k: node with bit k-1 flipped (left) or
 * bits k-1 and k flipped (right). */
static slim_status child(uint32_t node, uint32_t n_leaves, uint32_t bits, uint32_t *out) {
    slim_status st = check(node, n_leaves);
    if (st != SLIM_OK)
        return st;
    uint32_t k = slim_mls_tree_level(node);
    if (k == 0)
        return SLIM_E_MLS_TREE_NO_CHILD;
    *out = node ^ (bits << (k - 1));
    return SLIM_OK;
}

slim_status slim_mls_tree_left(uint32_t node, uint32_t n_leaves, uint32_t *out) {
    return child(node, n_leaves, 1, out);
}

slim_status slim_mls_tree_right(uint32_t node, uint32_t n_leaves, uint32_t *out) {
    return child(node, n_leaves, 3, out);
}

/* Parent without checks; node must not be the root of its tree. The
 * parent of a level-k node sets bit k and clears bit k+1 when that bit
 * was set (the node was a right child). */
static uint32_t parent_of(uint32_t node) {
    uint32_t k = slim_mls_tree_level(node);
    uint32_t b = (node >> (k + 1)) & 1;
    return (node | (UINT32_C(1) << k)) ^ (b << (k + 1));
}

slim_status slim_mls_tree_parent(uint32_t node, uint32_t n_leaves, uint32_t *out) {
    slim_status st = check(node, n_leaves);
    if (st != SLIM_OK)
        return st;
    if (node == root_of(n_leaves))
        return SLIM_E_MLS_TREE_NO_PARENT;
    *out = parent_of(node);
    return SLIM_OK;
}

slim_status slim_mls_tree_sibling(uint32_t node, uint32_t n_leaves, uint32_t *out) {
    uint32_t p;
    slim_status st = slim_mls_tree_parent(node, n_leaves, &p);
    if (st != SLIM_OK)
        return st;
    uint32_t k = slim_mls_tree_level(p);
    /* The children of p are p -/+ 2^(k-1). */
    uint32_t half = UINT32_C(1) << (k - 1);
    *out = node < p ? p + half : p - half;
    return SLIM_OK;
}

slim_status slim_mls_tree_direct_path(uint32_t node, uint32_t n_leaves, uint32_t *out,
                                      size_t *len) {
    slim_status st = check(node, n_leaves);
    if (st != SLIM_OK)
        return st;
    uint32_t root = root_of(n_leaves);
    size_t n = 0;
    while (node != root) {
        node = parent_of(node);
        out[n++] = node;
    }
    *len = n;
    return SLIM_OK;
}

slim_status slim_mls_tree_copath(uint32_t node, uint32_t n_leaves, uint32_t *out, size_t *len) {
    slim_status st = check(node, n_leaves);
    if (st != SLIM_OK)
        return st;
    uint32_t root = root_of(n_leaves);
    size_t n = 0;
    while (node != root) {
        uint32_t p = parent_of(node);
        uint32_t half = UINT32_C(1) << (slim_mls_tree_level(p) - 1);
        out[n++] = node < p ? p + half : p - half;
        node = p;
    }
    *len = n;
    return SLIM_OK;
}

bool slim_mls_tree_is_ancestor(uint32_t ancestor, uint32_t node) {
    /* The subtree of a level-k node spans the indices that agree with it
     * above bit k. */
    uint32_t k = slim_mls_tree_level(ancestor);
    if (slim_mls_tree_level(node) > k)
        return false;
    uint32_t shift = k + 1;
    if (shift >= 32)
        return true;
    return (ancestor >> shift) == (node >> shift);
}

slim_status slim_mls_tree_common_ancestor(uint32_t x, uint32_t y, uint32_t n_leaves,
                                          uint32_t *out) {
    slim_status st = check(x, n_leaves);
    if (st == SLIM_OK)
        st = check(y, n_leaves);
    if (st != SLIM_OK)
        return st;
    while (!slim_mls_tree_is_ancestor(x, y))
        x = parent_of(x);
    *out = x;
    return SLIM_OK;
}
