/*
 * The secret tree and its per-sender hash ratchets (RFC 9420 §9), and the
 * sender-data key derivation (§6.3.2).
 *
 * The tree starts from the epoch's encryption_secret at the root. A leaf's
 * secret is derived on first use by walking down from the lowest ancestor
 * that still holds a secret ("tree", "left"/"right"); each parent secret is
 * deleted once both children are derived, and the leaf secret once its
 * handshake and application ratchets are started (§9.2).
 *
 * Each ratchet yields key/nonce pairs by generation. Deletion and limits:
 *   - a key is deleted once used: slim_mls_secret_tree_next() hands out
 *     the sender's next key without keeping it; a receiver gets a key with
 *     slim_mls_secret_tree_get() and deletes it with _erase() after the
 *     message decrypted (or uses _take() for both at once);
 *   - keys of skipped generations (out-of-order delivery) are kept, at most
 *     SLIM_MLS_RATCHET_MAX_KEPT per sender and ratchet type; beyond that
 *     the oldest are deleted;
 *   - a request more than SLIM_MLS_RATCHET_MAX_JUMP generations ahead of
 *     the ratchet is refused with E_MLS_GENERATION_TOO_FAR;
 *   - a generation whose key was used or deleted is refused with
 *     E_MLS_GENERATION_REUSED.
 * Every deleted secret is wiped first; slim_mls_secret_tree_free wipes all.
 *
 * The tree is an opaque handle owned by its creator. Not thread-safe.
 */
#ifndef SLIM_MLS_SECRET_TREE_H
#define SLIM_MLS_SECRET_TREE_H

#include "mls/crypto.h"
#include "slim/status.h"

#define SLIM_MLS_RATCHET_MAX_KEPT 1024
#define SLIM_MLS_RATCHET_MAX_JUMP 1024

typedef enum slim_mls_ratchet_type {
    SLIM_MLS_RATCHET_HANDSHAKE = 0,
    SLIM_MLS_RATCHET_APPLICATION = 1,
} slim_mls_ratchet_type;

/* One key/nonce pair of a ratchet. Wipe with slim_mls_ratchet_key_cleanup. */
typedef struct slim_mls_ratchet_key {
    uint32_t generation;
    size_t key_len;   /* AEAD.Nk */
    size_t nonce_len; /* AEAD.Nn */
    uint8_t key[SLIM_MLS_MAX_AEAD_KEY];
    uint8_t nonce[SLIM_MLS_MAX_AEAD_NONCE];
} slim_mls_ratchet_key;

void slim_mls_ratchet_key_cleanup(slim_mls_ratchet_key *k);

typedef struct slim_mls_secret_tree slim_mls_secret_tree;

/* A secret tree of n_leaves leaves (a power of two) rooted at
 * encryption_secret (Nh bytes, copied). E_MLS_TREE_SIZE, E_INVALID_ARG for
 * a secret of the wrong size, E_NOMEM. */
slim_status slim_mls_secret_tree_new(const slim_mls_suite *suite, slim_bytes encryption_secret,
                                     uint32_t n_leaves, slim_mls_secret_tree **out);

/* Wipes and frees the tree. NULL is a no-op. */
void slim_mls_secret_tree_free(slim_mls_secret_tree *t);

uint32_t slim_mls_secret_tree_leaves(const slim_mls_secret_tree *t);

/* The prepared primitives the tree derives its keys with (mls/primitives.h,
 * owned by the tree): the framing layer uses them for the rest of the
 * epoch's per-message work (sender data, AEAD). */
const slim_mls_prepared *slim_mls_secret_tree_prepared(const slim_mls_secret_tree *t);

/* Sending: the key/nonce of the ratchet's next generation; the ratchet
 * moves past it and keeps nothing. E_MLS_TREE_INDEX for a leaf outside the
 * tree, E_MLS_GENERATION_EXHAUSTED after generation 2^32-1, E_NOMEM. */
slim_status slim_mls_secret_tree_next(slim_mls_secret_tree *t, uint32_t leaf,
                                      slim_mls_ratchet_type type, slim_mls_ratchet_key *out);

/* Receiving: the key/nonce of `generation`. Generations the ratchet steps
 * over are kept for later; the requested key stays kept until _erase, so a
 * failed decryption does not lose it. E_MLS_GENERATION_REUSED when the key
 * was used or deleted, E_MLS_GENERATION_TOO_FAR, E_MLS_TREE_INDEX,
 * E_NOMEM. */
slim_status slim_mls_secret_tree_get(slim_mls_secret_tree *t, uint32_t leaf,
                                     slim_mls_ratchet_type type, uint32_t generation,
                                     slim_mls_ratchet_key *out);

/* Deletes the kept key of `generation` (after a successful decryption).
 * E_MLS_GENERATION_REUSED when there is none. */
slim_status slim_mls_secret_tree_erase(slim_mls_secret_tree *t, uint32_t leaf,
                                       slim_mls_ratchet_type type, uint32_t generation);

/* _get then _erase: the key is handed out and deleted from the tree. */
slim_status slim_mls_secret_tree_take(slim_mls_secret_tree *t, uint32_t leaf,
                                      slim_mls_ratchet_type type, uint32_t generation,
                                      slim_mls_ratchet_key *out);

/* Moves the ratchet `n` generations on without keeping their keys (a
 * sender that must never reuse a generation it may have used before: a
 * group state loaded from a save). One KDF step per generation. Keys kept
 * below the ratchet stay. E_MLS_GENERATION_EXHAUSTED when that would pass
 * generation 2^32-1 (nothing changes then), E_MLS_TREE_INDEX, E_NOMEM. */
slim_status slim_mls_secret_tree_skip(slim_mls_secret_tree *t, uint32_t leaf,
                                      slim_mls_ratchet_type type, uint32_t n);

/*
 * Saving and loading the tree's current state (ours, not in RFC 9420):
 * what is deleted stays deleted, what is kept (node secrets not yet
 * split, each derived leaf's two ratchets with the keys they keep for
 * skipped generations) comes back as it was.
 *
 *   struct {
 *       uint32 generation;
 *       opaque key[AEAD.Nk];
 *       opaque nonce[AEAD.Nn];
 *   } KeptKey;
 *
 *   struct {
 *       uint64 next_generation;    at most 2^32 (used up)
 *       opaque secret[KDF.Nh];
 *       KeptKey kept<V>;           generations increasing, below
 *                                  next_generation, at most
 *                                  SLIM_MLS_RATCHET_MAX_KEPT
 *   } RatchetState;
 *
 *   struct { uint32 node; opaque secret[KDF.Nh]; } NodeSecret;
 *   struct { uint32 leaf; RatchetState handshake, application; } LeafRatchets;
 *
 *   struct {
 *       NodeSecret nodes<V>;       node indices increasing
 *       LeafRatchets leaves<V>;    leaf indices increasing
 *   } SecretTreeState;
 *
 * The bytes are secret. The leaf count is not in them: the caller knows
 * it from the ratchet tree.
 */

/* Appends the SecretTreeState of t. E_NOMEM. */
slim_status slim_mls_secret_tree_encode(slim_mls_tls_writer *w, const slim_mls_secret_tree *t);

/* How many bytes slim_mls_secret_tree_encode appends at most, so the
 * caller can reserve them first and no copy of the secrets is left behind
 * in memory a growing buffer freed. */
size_t slim_mls_secret_tree_encode_bound(const slim_mls_secret_tree *t);

/* Reads a SecretTreeState into a new tree of n_leaves leaves. Codec
 * errors; E_MLS_BAD_VALUE for indices outside the tree or out of order,
 * generations out of order or not below the ratchet, more kept keys than
 * allowed, or a leaf whose secrets would come from none or more than one
 * place (its ratchets, or one node secret on its path); E_MLS_TREE_SIZE,
 * E_NOMEM. Nothing is allocated on failure. */
slim_status slim_mls_secret_tree_decode(slim_mls_tls_reader *r, const slim_mls_suite *suite,
                                        uint32_t n_leaves, slim_mls_secret_tree **out);

/*
 * ciphertext_sample = ciphertext[0..KDF.Nh-1] (all of it when shorter)
 * sender_data_key = ExpandWithLabel(sender_data_secret, "key", sample, AEAD.Nk)
 * sender_data_nonce = ExpandWithLabel(sender_data_secret, "nonce", sample, AEAD.Nn)
 *
 * Writes key[0..Nk) and nonce[0..Nn). p: prepared primitives of the suite
 * (e.g. slim_mls_secret_tree_prepared), or NULL.
 */
slim_status slim_mls_sender_data_key_nonce(const slim_mls_suite *suite, const slim_mls_prepared *p,
                                           slim_bytes sender_data_secret, slim_bytes ciphertext,
                                           uint8_t *key, uint8_t *nonce);

#endif
