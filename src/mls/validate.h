/*
 * Validation against a group: LeafNodes (RFC 9420 §7.3), KeyPackages
 * (§10.1) and whole ratchet trees as a joiner checks them (§12.4.3.1,
 * with the parent-hash rule of §7.9.2).
 *
 * What the group and the application decide is passed in a
 * slim_mls_validation: the suite and group_id, the GroupContext
 * extensions (for required_capabilities), the application's credential
 * check (the Authentication Service of §5.3.1: the session layer binds the
 * credential to the member's SLIM identity there), the clock and the
 * longest lifetime the application accepts.
 *
 * The checks of one LeafNode, in the order they run (the first failure
 * is returned):
 *
 *   source           the one its place needs         E_MLS_WRONG_LEAF_NODE_SOURCE
 *   key sizes        the suite's KEM and signature   E_MLS_BAD_KEY
 *   capabilities     list mls10 and the suite        E_MLS_UNSUPPORTED_VERSION_OR_SUITE
 *                    cover required_capabilities     E_MLS_MISSING_REQUIRED_CAPABILITY
 *                    list each non-default extension E_MLS_UNSUPPORTED_GROUP_EXTENSION
 *                    of the GroupContext (§13.4)
 *                    list each non-default extension E_MLS_UNSUPPORTED_EXTENSION
 *                    of the leaf
 *                    list the leaf's credential type E_MLS_CREDENTIAL_UNSUPPORTED
 *   lifetime         (key_package leaves) no longer  E_MLS_LIFETIME_TOO_LONG
 *                    than max_lifetime; covers `now`  E_MLS_LIFETIME_INVALID
 *                    when check_lifetime is set
 *   signature        LeafNodeTBS, with group_id and  E_MLS_LEAF_BAD_SIGNATURE
 *                    leaf index for update/commit
 *   credential       the application's check         its status (it should
 *                                                    return E_MLS_CREDENTIAL_REJECTED
 *                                                    or a status of its own)
 *   against the group:
 *   credential types each member supports this       E_MLS_CREDENTIAL_UNSUPPORTED
 *                    leaf's type and the leaf all
 *                    types in use
 *   replaced leaf    (update, commit) a new          E_MLS_ENCRYPTION_KEY_UNCHANGED
 *                    encryption key
 *   uniqueness       encryption key in no node,      E_MLS_DUPLICATE_ENCRYPTION_KEY
 *                    signature key at no other member E_MLS_DUPLICATE_SIGNATURE_KEY
 *
 * Default extension and proposal types (§7.2: 1-5 and 1-7) count as
 * supported without being listed. Nothing here changes its inputs. Pure
 * and thread-safe (the tree functions fill the tree's hash cache: one
 * thread per tree).
 */
#ifndef SLIM_MLS_VALIDATE_H
#define SLIM_MLS_VALIDATE_H

#include "mls/key_package.h"
#include "mls/tree.h"

/* The application's check of a credential (§5.3.1): SLIM_OK to accept,
 * an error status to refuse. `signature_key` is the key the credential
 * must vouch for. Called on the validating thread, during the call. */
typedef slim_status (*slim_mls_credential_fn)(void *arg, const slim_mls_credential *credential,
                                              slim_bytes signature_key);

typedef struct slim_mls_validation {
    const slim_mls_suite *suite;
    slim_bytes group_id;
    slim_bytes group_extensions;       /* body of GroupContext.extensions */
    slim_mls_credential_fn credential; /* required */
    void *credential_arg;
    uint64_t now;          /* seconds since the Unix epoch */
    bool check_lifetime;   /* compare key_package lifetimes with now */
    uint64_t max_lifetime; /* longest not_after - not_before; 0: no limit */
} slim_mls_validation;

/* No leaf: for slim_mls_leaf_node_validate's `replaces`. */
#define SLIM_MLS_NO_LEAF UINT32_MAX

/*
 * Validates `ln` for leaf `leaf_index` of a group whose tree (before the
 * change, may be NULL outside a group) is `tree`. `source` is the source
 * its place requires (0: any); `replaces` is the leaf it replaces (the
 * sender of an Update or Commit) or SLIM_MLS_NO_LEAF. Errors in the table
 * above; E_INVALID_ARG without a credential check.
 */
slim_status slim_mls_leaf_node_validate(const slim_mls_validation *v, const slim_mls_tree *tree,
                                        const slim_mls_leaf_node *ln, uint8_t source,
                                        uint32_t leaf_index, uint32_t replaces);

/* Whether a member's leaf supports the group's GroupContext extensions:
 * required_capabilities covered (E_MLS_MISSING_REQUIRED_CAPABILITY) and
 * every non-default extension listed (E_MLS_UNSUPPORTED_GROUP_EXTENSION).
 * No signature is checked: for the leaves already in the tree when a
 * GroupContextExtensions proposal changes the extensions (§12.1.7). */
slim_status slim_mls_leaf_node_supports_group(const slim_mls_validation *v,
                                              const slim_mls_leaf_node *ln);

/*
 * Validates a KeyPackage for the group (§10.1): version mls10
 * (E_MLS_BAD_VERSION) and the group's suite (E_MLS_SUITE_MISMATCH), the
 * init key's size (E_MLS_BAD_KEY), its leaf as a key_package leaf joining
 * `tree` (may be NULL), the signature
 * (E_MLS_BAD_SIGNATURE) and an init key other than the leaf's encryption
 * key (E_MLS_INIT_KEY_REUSED).
 */
slim_status slim_mls_key_package_validate(const slim_mls_validation *v, const slim_mls_tree *tree,
                                          const slim_mls_key_package *kp);

/*
 * Validates a whole tree as a joiner must (§12.4.3.1), in this order:
 * E_STATE for an empty tree; the root hash equals `tree_hash` when that
 * is not empty (E_MLS_TREE_HASH_MISMATCH); parent keys of the suite's size
 * (E_MLS_BAD_KEY); each unmerged leaf is a member below the parent listing
 * it (E_MLS_UNMERGED_LEAF_INVALID) and listed by every non-blank node in
 * between (E_MLS_UNMERGED_LEAF_MISSING); every non-blank parent is
 * parent-hash valid (E_MLS_PARENT_HASH_INVALID); every leaf passes the
 * checks above (any source, its own index); credential types supported by
 * all; no encryption key in two nodes, no signature key at two members.
 * Cost: one signature verification and one credential check per member,
 * otherwise O(n log n). The tree's content is unchanged (its hash cache is
 * filled).
 */
slim_status slim_mls_tree_validate(slim_mls_tree *tree, const slim_mls_validation *v,
                                   slim_bytes tree_hash);

#endif
