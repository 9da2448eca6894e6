/*
 * TreeKEM (RFC 9420 §7.4-§7.6): a member's private keys, creating an
 * UpdatePath and processing one, and the commit secret.
 *
 * Private state. A slim_mls_tree_priv is what one member knows of the
 * tree's private keys: its leaf's and those of the nodes on its direct
 * path it holds. Node keys are kept by level: the ancestor of a leaf at
 * level k is the same node however the tree grows or shrinks, so the
 * state stays meaningful across Add and Remove. Each key is stored with
 * its public key, and is only ever used while the tree holds that public
 * key at that node. It is a plain value: copying the struct clones it
 * (a commit works on a copy and the caller keeps the one it wants);
 * slim_mls_tree_priv_cleanup wipes it. Every key that is replaced or
 * dropped is wiped on the spot (§7.5: "MUST delete outdated key
 * material").
 *
 * Creating an UpdatePath takes two steps because the path secrets are
 * encrypted under the provisional GroupContext, whose tree_hash is that
 * of the tree with the new path in it:
 *
 *   slim_mls_treekem_path_begin    blanks the committer's direct path,
 *                                  derives the new keys and parent hashes,
 *                                  signs the new leaf and puts them all
 *                                  into the tree;
 *   (the caller hashes the tree and encodes the provisional GroupContext)
 *   slim_mls_treekem_path_seal     encrypts each path secret to the copath
 *                                  resolution, without the leaves the same
 *                                  Commit adds, and writes the UpdatePath.
 *
 * Processing mirrors it: slim_mls_treekem_path_merge checks the path
 * (leaf validation, lengths, fresh keys, the leaf's parent_hash) and puts
 * its public keys into the tree; slim_mls_treekem_path_decrypt then finds
 * and decrypts this member's path secret, checks every derived public key
 * against the path, and updates the private state and the commit secret.
 *
 * Path secrets chain from a random leaf secret: leaf key pair from
 * DeriveSecret(leaf_secret, "node"), path_secret[0] = DeriveSecret(
 * leaf_secret, "path") and so on (§7.4), so a committer alone in its tree
 * still gets a fresh commit secret.
 *
 * Errors beyond those named: E_NOMEM, E_MLS_CRYPTO, E_MLS_RNG; a failed
 * call changes neither the tree nor the private state. Pure; one thread
 * per tree and per state.
 */
#ifndef SLIM_MLS_TREEKEM_H
#define SLIM_MLS_TREEKEM_H

#include "mls/member.h"
#include "mls/tree.h"
#include "mls/validate.h"

/* ---- private state ---------------------------------------------------- */

typedef struct slim_mls_tree_priv {
    const slim_mls_suite *suite;
    uint32_t leaf;
    uint32_t have; /* bit k: the key of the ancestor at level k is held */
    uint8_t leaf_sk[SLIM_MLS_MAX_DH_PRIVATE];
    uint8_t leaf_pk[SLIM_MLS_MAX_DH_PUBLIC];
    uint8_t sk[SLIM_MLS_TREE_MAX_DEPTH + 1][SLIM_MLS_MAX_DH_PRIVATE];
    uint8_t pk[SLIM_MLS_TREE_MAX_DEPTH + 1][SLIM_MLS_MAX_DH_PUBLIC];
} slim_mls_tree_priv;

/* Starts the state of member `leaf` from its leaf's private key, which
 * must match the tree's leaf (E_MLS_PRIVATE_KEY_MISMATCH; E_MLS_BAD_KEY
 * for a key of the wrong size, E_MLS_TREE_INDEX, E_MLS_TREE_LEAF_BLANK).
 * *priv is written on success only. */
slim_status slim_mls_tree_priv_init(slim_mls_tree_priv *priv, const slim_mls_tree *tree,
                                    uint32_t leaf, slim_bytes leaf_sk);

/* Wipes the state. */
void slim_mls_tree_priv_cleanup(slim_mls_tree_priv *priv);

/* Sets the private key of one node on the member's direct path from a
 * path secret (node_secret = DeriveSecret(path_secret, "node"), then
 * DeriveKeyPair). The derived public key must be the tree's
 * (E_MLS_PRIVATE_KEY_MISMATCH; E_MLS_TREE_INDEX for a node not on the
 * direct path, E_STATE for a blank one). */
slim_status slim_mls_tree_priv_set_node_secret(slim_mls_tree_priv *priv, const slim_mls_tree *tree,
                                               uint32_t node, slim_bytes path_secret);

/* A joiner's path secret (§12.4.3.1): sets `node` from path_secret, then
 * each non-blank ancestor above it from the next path secret of the
 * chain, each checked against the tree as above. All or nothing. */
slim_status slim_mls_tree_priv_set_path_secret(slim_mls_tree_priv *priv, const slim_mls_tree *tree,
                                               uint32_t node, slim_bytes path_secret);

/* Wipes the node keys whose node the tree no longer holds with the same
 * public key (after proposals blanked or replaced nodes). */
void slim_mls_tree_priv_prune(slim_mls_tree_priv *priv, const slim_mls_tree *tree);

/* Checks that every key held matches the tree: the leaf's public key is
 * recomputed from its private key, each node key's stored public key is
 * the tree's. E_MLS_PRIVATE_KEY_MISMATCH, E_MLS_TREE_LEAF_BLANK. */
slim_status slim_mls_tree_priv_check(const slim_mls_tree_priv *priv, const slim_mls_tree *tree);

/*
 * Saving and loading a private state (ours, not in RFC 9420):
 *
 *   struct { uint8 level; opaque priv[KEM.Nsk]; } NodePriv;
 *
 *   struct {
 *       uint32 leaf;
 *       opaque leaf_priv[KEM.Nsk];
 *       NodePriv nodes<V>;         levels 1..31, increasing
 *   } TreePrivState;
 *
 * The public keys are not in it: decoding derives them from the private
 * keys and checks each against `tree` (the leaf's encryption key, the
 * node of that level above the leaf), as slim_mls_tree_priv_check does.
 * The bytes are secret.
 */

/* Bytes slim_mls_tree_priv_encode appends at most. */
size_t slim_mls_tree_priv_encode_bound(const slim_mls_suite *s);

/* Appends the TreePrivState of priv. E_NOMEM. */
slim_status slim_mls_tree_priv_encode(slim_mls_tls_writer *w, const slim_mls_tree_priv *priv);

/* Reads a TreePrivState for `tree`. Codec errors, E_MLS_BAD_VALUE for a
 * level outside 1..31 or out of order, the errors of
 * slim_mls_tree_priv_init for the leaf, E_MLS_BAD_KEY or E_MLS_CRYPTO for
 * a private key the suite cannot use, E_MLS_PRIVATE_KEY_MISMATCH. *out is
 * written on success only. */
slim_status slim_mls_tree_priv_decode(slim_mls_tls_reader *r, const slim_mls_tree *tree,
                                      slim_mls_tree_priv *out);

/* ---- creating an UpdatePath -------------------------------------------- */

/* The secrets of an UpdatePath being created: path secrets, node and leaf
 * key pairs, the commit secret and the signed leaf. Wiped when freed. */
typedef struct slim_mls_path slim_mls_path;

/*
 * Step 1 for the member at `leaf` (a member, or a blank leaf for an
 * external commit: see slim_mls_tree_blank_leaf): blanks the direct path,
 * derives the new keys for the filtered direct path from a fresh leaf
 * secret, computes the parent hashes, signs a commit leaf made from `p`
 * (group_id and leaf as its signature context) and puts the leaf and the
 * parent nodes into `tree`. *out (free with slim_mls_path_free) holds the
 * secrets for step 2. E_MLS_TREE_INDEX, leaf building errors.
 */
slim_status slim_mls_treekem_path_begin(slim_mls_tree *tree, uint32_t leaf,
                                        const slim_mls_leaf_params *p, slim_bytes group_id,
                                        const slim_mls_rng *rng, slim_mls_path **out);

/*
 * Step 2: appends the UpdatePath to `out`: the new leaf and, for each node
 * of the filtered direct path, its public key and its path secret
 * encrypted with EncryptWithLabel(., "UpdatePathNode", group_context, .)
 * to every node of the copath child's resolution except the leaves in
 * `exclude` (the leaves the Commit adds). `tree` is the tree step 1
 * changed, `group_context` the encoded provisional GroupContext.
 */
slim_status slim_mls_treekem_path_seal(const slim_mls_tree *tree, const slim_mls_path *path,
                                       slim_bytes group_context, const uint32_t *exclude,
                                       size_t n_exclude, const slim_mls_rng *rng, slim_buf *out);

/* out[0..Nh) = the commit secret (§8): DeriveSecret of the last path
 * secret with "path". */
void slim_mls_path_commit_secret(const slim_mls_path *path, uint8_t *out);

/* out[0..Nh) = the path secret of node `node` of the filtered direct path
 * (for a new member's GroupSecrets: the node is the lowest common ancestor
 * of the committer and the new member). E_NOT_FOUND when the node is not
 * on the filtered direct path. */
slim_status slim_mls_path_secret(const slim_mls_path *path, uint32_t node, uint8_t *out);

/* The signed leaf of the path (valid while the path is). */
slim_bytes slim_mls_path_leaf(const slim_mls_path *path);

/* The committer's new private state: its new leaf key and the keys of its
 * filtered direct path; the keys of the rest of the direct path are
 * wiped. `priv` is (re)initialised for the path's leaf. */
void slim_mls_path_apply(const slim_mls_path *path, slim_mls_tree_priv *priv);

/* Wipes and frees. NULL is a no-op. */
void slim_mls_path_free(slim_mls_path *path);

/* ---- processing an UpdatePath ------------------------------------------ */

/*
 * Step 1 for a receiver: checks `path` from member `sender` (or from an
 * external committer at the blank leaf `sender`) against `tree` (the tree
 * after the Commit's proposals) and merges it:
 *   - the leaf, as a commit leaf replacing the sender's (validate.h: its
 *     signature with v->group_id and `sender`, capabilities, credential,
 *     a new and unique encryption key, a unique signature key);
 *   - one UpdatePathNode per node of the filtered direct path
 *     (E_MLS_PATH_LENGTH), each key of the suite's size (E_MLS_BAD_KEY)
 *     and in no node of the tree nor twice in the path
 *     (E_MLS_DUPLICATE_ENCRYPTION_KEY), one ciphertext per node of the
 *     copath resolution without the leaves in `exclude`
 *     (E_MLS_PATH_CIPHERTEXT_COUNT);
 *   - the leaf's parent_hash is the parent hash the path gives
 *     (E_MLS_PATH_PARENT_HASH).
 * Then blanks the sender's direct path and puts the leaf and the path's
 * nodes (with their parent hashes, no unmerged leaves) into the tree.
 */
slim_status slim_mls_treekem_path_merge(slim_mls_tree *tree, const slim_mls_validation *v,
                                        uint32_t sender, const slim_mls_update_path *path,
                                        const uint32_t *exclude, size_t n_exclude);

/*
 * Step 2 for the member whose state is `priv`: in the merged tree, finds
 * the lowest node of the sender's filtered direct path above this member,
 * the first node of that node's copath resolution (without `exclude`)
 * whose private key it holds (E_MLS_PATH_NO_KEY), decrypts the path secret
 * with the provisional `group_context` (E_MLS_PATH_DECRYPT), derives the
 * path secrets and key pairs up to the top of the path, each public key
 * equal to the path's (E_MLS_PATH_KEY_MISMATCH), and the commit secret
 * into commit_secret[0..Nh). On success *priv holds the new keys (those of
 * the sender's path it held before are wiped). E_MLS_PATH_FROM_SELF when
 * priv is the sender's. *path_secret_out (may be NULL) gets the decrypted
 * path secret (for the interop vectors).
 */
slim_status slim_mls_treekem_path_decrypt(const slim_mls_tree *tree, uint32_t sender,
                                          const slim_mls_update_path *path,
                                          slim_bytes group_context, const uint32_t *exclude,
                                          size_t n_exclude, slim_mls_tree_priv *priv,
                                          uint8_t *commit_secret, uint8_t *path_secret_out);

#endif
