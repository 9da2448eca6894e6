/*
 * The ratchet tree (RFC 9420 §4, §7): the public state every member holds.
 *
 * Representation. The array of Appendix C over mls/tree_math: a tree of n
 * leaves (n a power of two) has 2n-1 node slots, leaf L in slot 2L. A slot
 * is blank or holds one node, a leaf (LeafNode) or a parent (ParentNode),
 * kept as its encoding in an immutable, reference-counted block together
 * with the decoded view of it (mls/nodes.h). Changing a node puts a new
 * block in its slot; nothing is ever written into a block that exists.
 *
 * Cloning is therefore cheap and safe: slim_mls_tree_clone copies the slot
 * array and the hash cache and takes a reference on every block, and the
 * clone and the original can then change independently (copy-then-modify:
 * a commit works on a clone of the group's tree and the caller keeps
 * whichever it wants). The counts are atomic, so the two trees may live on
 * different threads.
 *
 * Tree hashes (§7.8) are cached per slot. An operation that changes a
 * node forgets the cached hashes of that node and of its ancestors, so
 * after a path update only the path is hashed again. Because the cache is
 * filled on demand, the hash functions take a non-const tree; they never
 * change its content. One thread at a time per tree.
 *
 * What this layer does: the tree operations of Add, Update and Remove
 * (§12.1.1-§12.1.3: leftmost blank leaf or extension, unmerged leaves,
 * blanking, truncation), resolution and filtered direct paths (§4.1.2),
 * tree hashes, parent hashes and the parent-hash validity of §7.9.2, and
 * the `ratchet_tree` extension codec (§12.4.3.3). What it does not: leaf
 * validation against a group and the rest of the checks made when joining
 * (mls/validate.h), private keys and UpdatePaths (mls/treekem.h).
 *
 * Errors: E_NOMEM (the library never aborts), E_MLS_TREE_INDEX for a leaf
 * or node outside the tree, E_MLS_TREE_LEAF_BLANK where a member is needed,
 * E_MLS_TREE_SIZE for a tree that would pass 2^31 leaves, codec errors of
 * the encodings it reads, E_MLS_CRYPTO when hashing fails. A failed call
 * leaves the tree as it was.
 *
 * Pure: no I/O, no clocks, no global state.
 */
#ifndef SLIM_MLS_TREE_H
#define SLIM_MLS_TREE_H

#include "mls/crypto.h"
#include "mls/nodes.h"
#include "mls/tree_math.h"

typedef struct slim_mls_tree slim_mls_tree;

/* ---- life cycle ------------------------------------------------------ */

/* An empty tree (no leaf) for `suite`; the first slim_mls_tree_add makes
 * it a one-leaf tree. Hashing or encoding an empty tree is E_STATE. */
slim_status slim_mls_tree_new(const slim_mls_suite *suite, slim_mls_tree **out);

/* Frees the tree (and the blocks no other tree references). NULL is a
 * no-op. */
void slim_mls_tree_free(slim_mls_tree *t);

/* *out = a copy of t sharing its node blocks (see above): cost linear in
 * the number of slots, no node is copied or hashed. E_NOMEM. */
slim_status slim_mls_tree_clone(const slim_mls_tree *t, slim_mls_tree **out);

/*
 * optional<Node> ratchet_tree<V>;
 *
 * Reads `in`, the whole vector with its length header (the value of the
 * ratchet_tree extension and of the interop vectors), into a new tree
 * padded with blanks to 2^(d+1)-1 slots. Refuses what the codec refuses
 * (mls/nodes.h: node types, a trailing blank, trailing bytes) and a tree
 * of more than 2^31 leaves (E_MLS_TREE_SIZE). It does not validate the
 * tree: see slim_mls_tree_validate. The tree copies what it keeps; `in`
 * is not referenced afterwards.
 */
slim_status slim_mls_tree_decode(const slim_mls_suite *suite, slim_bytes in, slim_mls_tree **out);

/* Appends the ratchet_tree vector (length header included) with the
 * blanks after the last node left out, as §12.4.3.3 requires. E_STATE for
 * an empty or all-blank tree. */
slim_status slim_mls_tree_encode(const slim_mls_tree *t, slim_buf *out);

/* Writes the ratchet_tree extension: type 0x0002 and the vector above as
 * its extension_data. */
slim_status slim_mls_tree_extension_write(const slim_mls_tree *t, slim_mls_tls_writer *w);

/* ---- reading --------------------------------------------------------- */

const slim_mls_suite *slim_mls_tree_suite(const slim_mls_tree *t);

/* Leaf count (a power of two, 0 for an empty tree) and slot count. */
uint32_t slim_mls_tree_leaf_count(const slim_mls_tree *t);
uint32_t slim_mls_tree_node_count(const slim_mls_tree *t);

/* The node in slot `node`, or NULL when it is blank or outside the tree.
 * The view is valid until that slot changes or the tree is freed (the
 * block outlives the slot while another tree references it). */
const slim_mls_node *slim_mls_tree_node(const slim_mls_tree *t, uint32_t node);

/* The LeafNode of leaf `leaf`, or NULL when blank or outside. */
const slim_mls_leaf_node *slim_mls_tree_leaf(const slim_mls_tree *t, uint32_t leaf);

/* The encoded LeafNode of leaf `leaf` (empty when blank or outside): what
 * a joiner compares with the leaf of its KeyPackage (§12.4.3.1). */
slim_bytes slim_mls_tree_leaf_bytes(const slim_mls_tree *t, uint32_t leaf);

/* The HPKE public key of a node, empty when blank or outside. */
slim_bytes slim_mls_tree_encryption_key(const slim_mls_tree *t, uint32_t node);

/* Which key slim_mls_tree_find_key looks at. */
typedef enum slim_mls_tree_key {
    SLIM_MLS_TREE_ENCRYPTION_KEY, /* of every node, leaves and parents */
    SLIM_MLS_TREE_SIGNATURE_KEY,  /* of every leaf */
} slim_mls_tree_key;

/* The first slot holding, as its key of `kind`, one of keys[0..n) (not
 * counting leaf `skip_leaf`, e.g. the member a new leaf replaces;
 * UINT32_MAX for none), or UINT32_MAX when no slot does. One pass over
 * the tree whatever n: the uniqueness checks of §7.3 and §12.4.2. */
uint32_t slim_mls_tree_find_key(const slim_mls_tree *t, slim_mls_tree_key kind,
                                const slim_bytes *keys, size_t n, uint32_t skip_leaf);

/* Number of non-blank leaves. */
uint32_t slim_mls_tree_member_count(const slim_mls_tree *t);

/* True when the parent slot `node` lists `leaf` in its unmerged_leaves. */
bool slim_mls_tree_is_unmerged(const slim_mls_tree *t, uint32_t node, uint32_t leaf);

/* A growable list of node or leaf indices (resolutions, paths). */
typedef struct slim_mls_index_list {
    uint32_t *v;
    size_t len, cap;
} slim_mls_index_list;

#define SLIM_MLS_INDEX_LIST_INIT                                                                   \
    { NULL, 0, 0 }

void slim_mls_index_list_cleanup(slim_mls_index_list *l);
slim_status slim_mls_index_list_push(slim_mls_index_list *l, uint32_t x);

/*
 * The resolution of slot `node` (§4.1.1): the node itself and its unmerged
 * leaves when it is not blank; nothing for a blank leaf; the resolutions of
 * the children, left first, for a blank parent. (An unmerged leaf outside
 * the tree, which only an invalid tree has, is left out.) Node indices are appended
 * to `out` (cleared first). Leaves in `exclude` (leaf indices, any order,
 * n_exclude of them) are left out: the leaves a Commit adds (§7.6).
 * E_MLS_TREE_INDEX, E_NOMEM.
 */
slim_status slim_mls_tree_resolution(const slim_mls_tree *t, uint32_t node, const uint32_t *exclude,
                                     size_t n_exclude, slim_mls_index_list *out);

/* The filtered direct path of leaf `leaf` (§4.1.2): its direct path
 * without the nodes whose child on the leaf's copath has an empty
 * resolution. fdp[0..*len) in node indices from the leaf up, and
 * copath[i] the child of fdp[i] that is not on the path; both hold
 * SLIM_MLS_TREE_MAX_DEPTH entries. copath may be NULL. The leaves a
 * Commit adds are not excluded here (an UpdatePath has a node for each
 * entry, whose ciphertext list may then be empty). E_MLS_TREE_INDEX. */
slim_status slim_mls_tree_filtered_direct_path(const slim_mls_tree *t, uint32_t leaf, uint32_t *fdp,
                                               uint32_t *copath, size_t *len);

/* ---- hashes ---------------------------------------------------------- */

/*
 * struct {
 *   NodeType node_type;
 *   select (TreeHashInput.node_type) {
 *     case leaf:   LeafNodeHashInput leaf_node;
 *     case parent: ParentNodeHashInput parent_node;
 *   };
 * } TreeHashInput;
 *
 * struct {
 *     uint32 leaf_index;
 *     optional<LeafNode> leaf_node;
 * } LeafNodeHashInput;
 *
 * struct {
 *     optional<ParentNode> parent_node;
 *     opaque left_hash<V>;
 *     opaque right_hash<V>;
 * } ParentNodeHashInput;
 *
 * out[0..Nh) = the tree hash of slot `node` (§7.8), computed from the
 * cache where it can. E_STATE for an empty tree, E_MLS_TREE_INDEX.
 */
slim_status slim_mls_tree_node_hash(slim_mls_tree *t, uint32_t node, uint8_t *out);

/* out[0..Nh) = the tree hash of the root: the GroupContext's tree_hash. */
slim_status slim_mls_tree_hash(slim_mls_tree *t, uint8_t *out);

/* Forgets every cached hash, so the next hash starts from scratch (for
 * benchmarks and tests; never needed for correctness). */
void slim_mls_tree_forget_hashes(slim_mls_tree *t);

/* Number of node hashes computed (not taken from the cache) since the tree
 * was made; a clone starts from its original's count. */
uint64_t slim_mls_tree_hashes_computed(const slim_mls_tree *t);

/*
 * struct {
 *     HPKEPublicKey encryption_key;
 *     opaque parent_hash<V>;
 *     opaque original_sibling_tree_hash<V>;
 * } ParentHashInput;
 *
 * out[0..Nh) = the parent hash of parent slot `parent` with copath child
 * `sibling` (§7.9): the hash of ParentHashInput with the parent's key and
 * parent_hash and the tree hash of `sibling` computed as if the parent's
 * unmerged leaves were blank and listed nowhere. E_STATE when `parent` is
 * blank, E_MLS_TREE_INDEX when `sibling` is not its child.
 */
slim_status slim_mls_tree_parent_hash(slim_mls_tree *t, uint32_t parent, uint32_t sibling,
                                      uint8_t *out);

/* The same from the parts: Hash(ParentHashInput{encryption_key,
 * parent_hash, sibling_hash}). */
slim_status slim_mls_parent_hash_of(const slim_mls_suite *s, slim_bytes encryption_key,
                                    slim_bytes parent_hash, slim_bytes sibling_hash, uint8_t *out);

/*
 * Checks that every non-blank parent node is parent-hash valid (§7.9.2,
 * "top down"): exactly one node D in the resolution of one of its
 * children C carries in its parent_hash the parent hash of P with the
 * other child as sibling, and the rest of that resolution is exactly the
 * parent's unmerged leaves below C. Leaves count as D only with source
 * commit (other leaves carry no parent_hash). E_MLS_PARENT_HASH_INVALID,
 * with *bad (may be NULL) set to the first failing slot.
 */
slim_status slim_mls_tree_verify_parent_hashes(slim_mls_tree *t, uint32_t *bad);

/* ---- changes (§12.1: Add, Update, Remove) ---------------------------- */

/* Adds a member (§12.1.1): the leftmost blank leaf, or a new one after
 * extending the tree to the right; its index is added to the
 * unmerged_leaves of every non-blank parent above it. The leaf is copied
 * (encoded into the tree's own block). *leaf_out (may be NULL) gets its
 * index. E_MLS_TREE_SIZE when the tree is full at 2^31 leaves. */
slim_status slim_mls_tree_add(slim_mls_tree *t, const slim_mls_leaf_node *ln, uint32_t *leaf_out);

/* *leaf = the leftmost blank leaf, after extending the tree to the right
 * when it has none (where an external committer sits, §12.4.2).
 * E_MLS_TREE_SIZE, E_NOMEM. */
slim_status slim_mls_tree_blank_leaf(slim_mls_tree *t, uint32_t *leaf);

/* Replaces the LeafNode of member `leaf` and blanks its direct path (an
 * Update, §12.1.2). E_MLS_TREE_INDEX, E_MLS_TREE_LEAF_BLANK. */
slim_status slim_mls_tree_update(slim_mls_tree *t, uint32_t leaf, const slim_mls_leaf_node *ln);

/* Blanks member `leaf` and its direct path, then truncates the tree while
 * the right half of its leaves is blank (a Remove, §12.1.3).
 * E_MLS_TREE_INDEX, E_MLS_TREE_LEAF_BLANK. */
slim_status slim_mls_tree_remove(slim_mls_tree *t, uint32_t leaf);

/* Blanks every node on the direct path of `leaf` (from its parent to the
 * root). E_MLS_TREE_INDEX. */
slim_status slim_mls_tree_blank_path(slim_mls_tree *t, uint32_t leaf);

/* Puts a copy of `n` (NULL: blank) into slot `node` as it is, with no
 * other change: the building block of TreeKEM's path merge, and what
 * tests use to build trees that break a rule. The node's type must suit
 * the slot (E_MLS_BAD_NODE_TYPE). E_MLS_TREE_INDEX. */
slim_status slim_mls_tree_set_node(slim_mls_tree *t, uint32_t node, const slim_mls_node *n);

/* Sets several slots at once, all or nothing: either every slot takes its
 * node or (on E_NOMEM or a bad type) none does. nodes[i] NULL blanks
 * slots[i]. */
slim_status slim_mls_tree_set_nodes(slim_mls_tree *t, const uint32_t *slots,
                                    const slim_mls_node *const *nodes, size_t n);

/* Finds the leaf whose encoded LeafNode equals `leaf_node` (a joiner
 * finding itself, §12.4.3.1): *found tells whether one does. */
void slim_mls_tree_find_leaf(const slim_mls_tree *t, slim_bytes leaf_node, uint32_t *leaf,
                             bool *found);

#endif
