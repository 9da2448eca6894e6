/*
 * Array-based tree arithmetic (RFC 9420 §4.1, §7.1 and Appendix C).
 *
 * A tree of n leaves is stored as an array of 2n-1 nodes: leaf L is node
 * 2L, parents sit at odd indices, and a node's level is the number of
 * trailing one bits of its index. MLS trees are always full, so n must be a
 * power of two (1 .. 2^31); anything else is E_MLS_TREE_SIZE.
 *
 * Functions that can fail take the leaf count and return a status:
 * E_MLS_TREE_SIZE for a bad n, E_MLS_TREE_INDEX for a node outside the
 * tree, E_MLS_TREE_NO_CHILD for the children of a leaf and
 * E_MLS_TREE_NO_PARENT for the parent or sibling of the root. Pure integer
 * code: no allocation, no state.
 */
#ifndef SLIM_MLS_TREE_MATH_H
#define SLIM_MLS_TREE_MATH_H

#include "slim/status.h"

/* Largest leaf count: node indices then use 32 bits. */
#define SLIM_MLS_TREE_MAX_LEAVES (UINT32_C(1) << 31)
/* Longest direct path or copath (a tree of 2^31 leaves). */
#define SLIM_MLS_TREE_MAX_DEPTH 31

/* Node index of leaf L: 2L. */
static inline uint32_t slim_mls_tree_leaf_node(uint32_t leaf) {
    return 2 * leaf;
}

/* True for leaf nodes (even indices). */
static inline bool slim_mls_tree_is_leaf(uint32_t node) {
    return (node & 1) == 0;
}

/* The level of a node: 0 for leaves, k for a node with k trailing ones. */
uint32_t slim_mls_tree_level(uint32_t node);

/* SLIM_OK when n is a valid leaf count (a power of two, 1 .. 2^31). */
slim_status slim_mls_tree_check_size(uint32_t n_leaves);

/* Number of nodes, 2n - 1 (0 for n = 0). */
uint32_t slim_mls_tree_width(uint32_t n_leaves);

/* The root's node index. */
slim_status slim_mls_tree_root(uint32_t n_leaves, uint32_t *out);

/* Children of a parent node. */
slim_status slim_mls_tree_left(uint32_t node, uint32_t n_leaves, uint32_t *out);
slim_status slim_mls_tree_right(uint32_t node, uint32_t n_leaves, uint32_t *out);

/* The parent, and the other child of the parent. */
slim_status slim_mls_tree_parent(uint32_t node, uint32_t n_leaves, uint32_t *out);
slim_status slim_mls_tree_sibling(uint32_t node, uint32_t n_leaves, uint32_t *out);

/* The direct path of a node (its ancestors, parent first, root last) into
 * out[0..*len); out holds SLIM_MLS_TREE_MAX_DEPTH entries. Empty for the
 * root. */
slim_status slim_mls_tree_direct_path(uint32_t node, uint32_t n_leaves, uint32_t *out, size_t *len);

/* The copath: the sibling of the node and of each ancestor below the root,
 * in the same order as the direct path. */
slim_status slim_mls_tree_copath(uint32_t node, uint32_t n_leaves, uint32_t *out, size_t *len);

/* The lowest node that is an ancestor of (or equal to) both x and y. */
slim_status slim_mls_tree_common_ancestor(uint32_t x, uint32_t y, uint32_t n_leaves, uint32_t *out);

/* True when `ancestor` is `node` or on its direct path. */
bool slim_mls_tree_is_ancestor(uint32_t ancestor, uint32_t node);

#endif
