/*
 * The wire structures of the ratchet tree (RFC 9420 §7.1, §7.6, §7.8,
 * §12.4.3.3): ParentNode, Node, the `optional<Node> ratchet_tree<V>`
 * vector, and the UpdatePath of a Commit with its UpdatePathNode and
 * HPKECiphertext.
 *
 * Same rules as mls/leaf_node.h: decoded values are views into the input,
 * lists are slim_mls_vec, nothing is allocated. The tree itself (blank
 * nodes, hashes, private keys, TreeKEM) is a later layer; it walks a
 * decoded ratchet_tree with slim_mls_ratchet_tree_next and keeps the
 * decoded slim_mls_node values (views) next to the bytes they point into.
 *
 * Pure and thread-safe.
 */
#ifndef SLIM_MLS_NODES_H
#define SLIM_MLS_NODES_H

#include "mls/leaf_node.h"
#include "mls/tls.h"
#include "slim/status.h"

/*
 * struct {
 *     HPKEPublicKey encryption_key;
 *     opaque parent_hash<V>;
 *     uint32 unmerged_leaves<V>;
 * } ParentNode;
 *
 * The decoder refuses unmerged_leaves that are not strictly increasing
 * (§7.1: "MUST be sorted in increasing order"; a leaf is listed once).
 */
typedef struct slim_mls_parent_node {
    slim_bytes encryption_key;
    slim_bytes parent_hash;
    slim_mls_vec unmerged_leaves; /* uint32 each (slim_mls_vec_u32) */
} slim_mls_parent_node;

slim_status slim_mls_parent_node_encode(slim_mls_tls_writer *w, const slim_mls_parent_node *p);

/* E_MLS_UNMERGED_NOT_SORTED, codec errors. */
slim_status slim_mls_parent_node_decode(slim_mls_tls_reader *r, slim_mls_parent_node *p);

/* enum { reserved(0), leaf(1), parent(2), (255) } NodeType; */
#define SLIM_MLS_NODE_LEAF   1
#define SLIM_MLS_NODE_PARENT 2

/*
 * struct {
 *     NodeType node_type;
 *     select (Node.node_type) {
 *         case leaf:   LeafNode leaf_node;
 *         case parent: ParentNode parent_node;
 *     };
 * } Node;
 */
typedef struct slim_mls_node {
    uint8_t type;
    union {
        slim_mls_leaf_node leaf;
        slim_mls_parent_node parent;
    } u;
} slim_mls_node;

/* E_MLS_BAD_NODE_TYPE for a type other than leaf or parent. */
slim_status slim_mls_node_encode(slim_mls_tls_writer *w, const slim_mls_node *n);
slim_status slim_mls_node_decode(slim_mls_tls_reader *r, slim_mls_node *n);

/*
 * optional<Node> ratchet_tree<V>;
 *
 * Entry i is node i of the array representation (leaves at even indices):
 * absent for a blank node. The decoder checks that every present node has
 * the type of its position (E_MLS_BAD_NODE_TYPE), that the last entry is
 * not blank (E_MLS_TREE_TRAILING_BLANK, §12.4.3.3) and that there is at
 * least one entry. `count` is the number of entries; the tree they
 * describe is padded with blanks to the next 2^(d+1)-1 nodes.
 */
slim_status slim_mls_ratchet_tree_decode(slim_mls_tls_reader *r, slim_mls_vec *nodes);

/* Writes the vector from its encoded body. */
slim_status slim_mls_ratchet_tree_encode(slim_mls_tls_writer *w, const slim_mls_vec *nodes);

/* Writes one entry of the vector: an absent optional for NULL. */
slim_status slim_mls_ratchet_tree_put(slim_mls_tls_writer *w, const slim_mls_node *n);

/* Walks a decoded ratchet tree: call with a reader over `nodes.body`;
 * *more = false at the end; otherwise *present tells blank from not and
 * *n holds the node. */
slim_status slim_mls_ratchet_tree_next(slim_mls_tls_reader *it, bool *present, slim_mls_node *n,
                                       bool *more);

/*
 * struct {
 *     opaque kem_output<V>;
 *     opaque ciphertext<V>;
 * } HPKECiphertext;
 */
typedef struct slim_mls_hpke_ciphertext {
    slim_bytes kem_output;
    slim_bytes ciphertext;
} slim_mls_hpke_ciphertext;

slim_status slim_mls_hpke_ciphertext_encode(slim_mls_tls_writer *w,
                                            const slim_mls_hpke_ciphertext *c);
slim_status slim_mls_hpke_ciphertext_decode(slim_mls_tls_reader *r, slim_mls_hpke_ciphertext *c);

/*
 * struct {
 *     HPKEPublicKey encryption_key;
 *     HPKECiphertext encrypted_path_secret<V>;
 * } UpdatePathNode;
 */
typedef struct slim_mls_update_path_node {
    slim_bytes encryption_key;
    slim_mls_vec encrypted_path_secret; /* HPKECiphertext each */
} slim_mls_update_path_node;

slim_status slim_mls_update_path_node_encode(slim_mls_tls_writer *w,
                                             const slim_mls_update_path_node *n);
slim_status slim_mls_update_path_node_decode(slim_mls_tls_reader *r, slim_mls_update_path_node *n);

/*
 * struct {
 *     LeafNode leaf_node;
 *     UpdatePathNode nodes<V>;
 * } UpdatePath;
 *
 * The leaf of an UpdatePath must have source commit (§7.3); the decoder
 * refuses others with E_MLS_WRONG_LEAF_NODE_SOURCE.
 */
typedef struct slim_mls_update_path {
    slim_mls_leaf_node leaf_node;
    slim_mls_vec nodes; /* UpdatePathNode each */
} slim_mls_update_path;

slim_status slim_mls_update_path_encode(slim_mls_tls_writer *w, const slim_mls_update_path *p);
slim_status slim_mls_update_path_decode(slim_mls_tls_reader *r, slim_mls_update_path *p);

#endif
