/*
 * What a client creates to join or stay in a group: LeafNodes (RFC 9420
 * §7.2) and KeyPackages (§10), signed, with their private keys handed to
 * the caller.
 *
 * The caller describes itself once in a slim_mls_leaf_params: its
 * credential (for a basic credential, the identity bytes the application
 * chooses; the session layer uses the member's SLIM name), its signature
 * key pair, its capabilities and leaf extensions. The same description
 * serves a KeyPackage's leaf, an Update proposal's leaf and the leaf of a
 * Commit's UpdatePath (mls/treekem.h), which differ only in their source
 * and in what the signature binds (§7.2: group_id and leaf index for
 * update and commit leaves).
 *
 * Outputs are encodings appended to a slim_buf (decode them for a view);
 * private keys go to caller-owned structs the caller wipes with the
 * _cleanup functions. Randomness only from the rng argument. Pure and
 * thread-safe.
 */
#ifndef SLIM_MLS_MEMBER_H
#define SLIM_MLS_MEMBER_H

#include "mls/key_package.h"

typedef struct slim_mls_leaf_params {
    slim_mls_credential credential; /* borrowed */
    slim_bytes signature_key;       /* the public key, sig_npk bytes */
    const slim_mls_sig_key *signer; /* the matching private key (borrowed) */
    /* NULL: versions {mls10}, cipher_suites {the suite}, no non-default
     * extensions or proposals, credentials {credential.type}. */
    const slim_mls_capabilities *capabilities;
    slim_mls_vec extensions;    /* the leaf's extensions (encoded body) */
    slim_mls_lifetime lifetime; /* key_package leaves only */
} slim_mls_leaf_params;

/* Appends the default Capabilities encoding described above. */
slim_status slim_mls_capabilities_default(const slim_mls_suite *s, uint16_t credential_type,
                                          slim_buf *out);

/*
 * Appends a signed LeafNode with the given encryption key, source and (for
 * a commit leaf) parent_hash; group_id and leaf_index are what an update
 * or commit leaf's signature binds (ignored for key_package). This is the
 * building block; most callers want slim_mls_leaf_node_create.
 * E_MLS_BAD_LEAF_NODE_SOURCE, E_MLS_BAD_KEY for a signature key that is
 * not the suite's size, signing errors, E_NOMEM.
 */
slim_status slim_mls_leaf_node_build(const slim_mls_suite *s, const slim_mls_leaf_params *p,
                                     uint8_t source, slim_bytes encryption_key,
                                     slim_bytes parent_hash, slim_bytes group_id,
                                     uint32_t leaf_index, slim_buf *out);

/* Appends a new LeafNode of source key_package or update with a fresh
 * HPKE key pair (from rng); encryption_priv[0..kem_nsk) gets its private
 * key. E_INVALID_ARG for source commit (TreeKEM makes those). */
slim_status slim_mls_leaf_node_create(const slim_mls_suite *s, const slim_mls_leaf_params *p,
                                      uint8_t source, slim_bytes group_id, uint32_t leaf_index,
                                      const slim_mls_rng *rng, slim_buf *out,
                                      uint8_t *encryption_priv);

/* The private keys of a KeyPackage: the init key (for the Welcome) and its
 * leaf's encryption key, kem_nsk bytes each. */
typedef struct slim_mls_key_package_keys {
    size_t len;
    uint8_t init_priv[SLIM_MLS_MAX_DH_PRIVATE];
    uint8_t encryption_priv[SLIM_MLS_MAX_DH_PRIVATE];
} slim_mls_key_package_keys;

/* Wipes the keys. */
void slim_mls_key_package_keys_cleanup(slim_mls_key_package_keys *k);

/*
 * Appends a new KeyPackage (version mls10, the suite, a fresh init key and
 * a key_package leaf with a fresh encryption key, `extensions` as its
 * KeyPackage extensions), signed with p->signer; *keys gets both private
 * keys (on success only). Errors as slim_mls_leaf_node_build, E_MLS_RNG.
 */
slim_status slim_mls_key_package_create(const slim_mls_suite *s, const slim_mls_leaf_params *p,
                                        slim_mls_vec extensions, const slim_mls_rng *rng,
                                        slim_buf *out, slim_mls_key_package_keys *keys);

#endif
