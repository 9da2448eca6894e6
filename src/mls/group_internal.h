/*
 * What the files of the group layer (client.c, group.c, group_commit.c,
 * group_join.c) share: the layouts of the client and of a group state,
 * the per-epoch message keys, the proposals kept in an epoch, and the
 * helpers each of them needs. Not an API: tests and benchmarks include it
 * only to reach inside a state (a forged Commit, a tree populated by
 * simulated commits), never to change what the layer decides.
 */
#ifndef SLIM_MLS_GROUP_INTERNAL_H
#define SLIM_MLS_GROUP_INTERNAL_H

#include "mls/group.h"
#include "mls/key_schedule.h"
#include "mls/protect.h"
#include "mls/secret_tree.h"
#include "mls/treekem.h"

#include <stdatomic.h>

#define NH_MAX SLIM_MLS_MAX_HASH

struct slim_mls_client {
    atomic_uint refs;
    const slim_mls_suite *suite;
    slim_mls_sig_key *signer;
    uint8_t sig_pk[SLIM_MLS_MAX_SIG_PUBLIC];
    slim_buf credential, capabilities, extensions; /* owned copies */
    slim_mls_capabilities caps;                    /* view of `capabilities` */
    slim_mls_leaf_params params;                   /* views into the above */
    slim_mls_credential_fn check;
    void *check_arg;
};

/* Takes a reference. */
slim_mls_client *slim_mls_client_ref(slim_mls_client *c);

/*
 * The message keys of one epoch: what protecting and reading its messages
 * needs. Shared (reference counted) by the state of that epoch and the
 * later states that keep it for late messages; its secret tree changes as
 * messages use up their generations. Wiped when the last reference goes.
 */
typedef struct slim_mls_epoch_keys {
    atomic_uint refs;
    const slim_mls_suite *suite;
    uint64_t epoch;
    slim_buf gc;         /* encoded GroupContext of the epoch */
    slim_mls_tree *tree; /* the epoch's tree: the senders' signature keys */
    uint8_t sender_data_secret[NH_MAX];
    uint8_t membership_key[NH_MAX];
    slim_mls_secret_tree *st;
    /* The members' signature keys, each made when a message of that leaf
     * is first checked (an import per message cost more than the AEAD
     * work): NULL until then. One per leaf of tree. */
    slim_mls_sig_key **vkeys;
    uint32_t nvkeys;
} slim_mls_epoch_keys;

void slim_mls__epoch_keys_unref(slim_mls_epoch_keys *k);

/* A resumption PSK kept from an earlier epoch. */
typedef struct slim_mls_kept_psk {
    uint64_t epoch;
    uint8_t psk[NH_MAX];
} slim_mls_kept_psk;

/* A proposal received or sent in the epoch, as its AuthenticatedContent
 * (RefHash input and decoded view). An own Update keeps its leaf's
 * private key until the epoch ends. */
typedef struct slim_mls_pending {
    slim_buf ac;
    slim_mls_authenticated_content view; /* views into ac */
    uint8_t ref[NH_MAX];
    bool own_update;
    uint8_t update_sk[SLIM_MLS_MAX_DH_PRIVATE];
} slim_mls_pending;

struct slim_mls_group {
    slim_mls_client *client;
    const slim_mls_suite *suite;
    slim_mls_group_options opts;
    slim_buf gc_buf;
    slim_mls_group_context gc; /* views into gc_buf */
    slim_mls_tree *tree;
    slim_mls_tree_priv priv;
    /* The epoch's secrets this state still needs: init (next epoch),
     * exporter, external, authentication, resumption. The others are
     * wiped once the epoch keys hold what they need. */
    slim_mls_epoch_secrets secrets;
    uint8_t interim[NH_MAX];          /* interim transcript hash */
    uint8_t confirmation_tag[NH_MAX]; /* of the Commit (or creation) that began the epoch */
    slim_mls_epoch_keys *keys;
    slim_mls_epoch_keys **past; /* newest first */
    uint32_t n_past;
    slim_mls_kept_psk *psks; /* newest first */
    uint32_t n_psks;
    slim_mls_pending **props;
    size_t n_props, cap_props;
    bool ended;          /* a ReInit was committed */
    slim_buf reinit_buf; /* its encoded ReInit */
    slim_mls_reinit reinit;
};

/* The parts a new state is made of. `tree`, `secrets` and `secret_tree`
 * are taken (freed or wiped also on failure). */
typedef struct slim_mls_state_parts {
    slim_mls_client *client;
    const slim_mls_group_options *opts;
    slim_bytes gc; /* encoded GroupContext */
    slim_mls_tree *tree;
    const slim_mls_tree_priv *priv;
    slim_mls_epoch_secrets *secrets;
    slim_bytes confirmation_tag;   /* Nh */
    slim_bytes interim;            /* Nh */
    const slim_mls_group *prev;    /* the state before (past epochs, PSKs), or NULL */
    const slim_mls_reinit *reinit; /* a committed ReInit, or NULL */
    /* The epoch's secret tree as it is now (a loaded state), n leaves as
     * the tree; NULL: a new one from secrets->encryption_secret. */
    slim_mls_secret_tree *secret_tree;
} slim_mls_state_parts;

slim_status slim_mls__state_new(const slim_mls_state_parts *p, slim_mls_group **out);

/* The default RNG when env or env->rng is NULL. */
const slim_mls_rng *slim_mls__env_rng(const slim_mls_env *env);

/* A validation context for leaves of group `g` (its id) under the
 * GroupContext extensions `extensions`; `sending`: lifetimes checked
 * always, else as the options say. */
slim_mls_validation slim_mls__validation(const slim_mls_client *c, const slim_mls_group_options *o,
                                         slim_bytes group_id, slim_bytes extensions,
                                         const slim_mls_env *env, bool sending);

/* A framing context over epoch keys (sender keys from its tree and the
 * GroupContext's external_senders). The sender-key state lives in *sk,
 * which must outlive the context's use; release it with
 * slim_mls__sender_keys_cleanup. */
typedef struct slim_mls_sender_keys {
    const slim_mls_epoch_keys *k;
    slim_mls_sig_key *key; /* the last external sender's key handed out (members' are
                            * the epoch's, k->vkeys) */
} slim_mls_sender_keys;

slim_status slim_mls__framing(const slim_mls_epoch_keys *k, size_t padding_block,
                              slim_mls_sender_keys *sk, slim_mls_framing_ctx *ctx);
void slim_mls__sender_keys_cleanup(slim_mls_sender_keys *sk);

/* Reads a KeyPackage given as an MLSMessage(KeyPackage) or bare. */
slim_status slim_mls__key_package_view(slim_bytes in, slim_mls_key_package *kp);

/* A proposal built from a spec, with the storage its views use. */
typedef struct slim_mls_built_proposal {
    slim_mls_proposal p;
    slim_buf store;
    uint8_t nonce[NH_MAX];
    bool own_update;
    uint8_t update_sk[SLIM_MLS_MAX_DH_PRIVATE];
} slim_mls_built_proposal;

/* g may be NULL outside a group (update and resumption PSKs need one). */
slim_status slim_mls__proposal_build(const slim_mls_suite *s, const slim_mls_group *g,
                                     const slim_mls_proposal_spec *spec, const slim_mls_env *env,
                                     slim_mls_built_proposal *out);
void slim_mls__built_proposal_cleanup(slim_mls_built_proposal *b);

/* Resolves a PSK (§8.4): external ones from env, resumption ones of g's
 * group (current or kept epochs) or of `prior`'s. E_MLS_PSK_NOT_FOUND. */
slim_status slim_mls__psk_lookup(const slim_mls_group *g, const slim_mls_group *prior,
                                 const slim_mls_env *env, const slim_mls_psk_id *id,
                                 slim_bytes *secret);

/* The PSK rules of a single proposal (§12.1.4): nonce size, usage. */
slim_status slim_mls__psk_id_check(const slim_mls_suite *s, const slim_mls_psk_id *id);

/* Checks one proposal on its own against g (§12.1); `sending`: one this
 * member makes (lifetimes always checked). */
slim_status slim_mls__proposal_check(const slim_mls_group *g, const slim_mls_proposal *p,
                                     const slim_mls_sender *sender, const slim_mls_env *env,
                                     bool sending);

/* Processes a commit already unprotected (group_commit.c). */
slim_status slim_mls__commit_process(const slim_mls_group *g,
                                     const slim_mls_authenticated_content *ac,
                                     const slim_mls_env *env, slim_mls_received *out);

/* The encoded GroupInfo (the struct, not an MLSMessage) of state g,
 * signed by g's member. */
slim_status slim_mls__group_info_write(const slim_mls_group *g, bool with_tree,
                                       bool with_external_pub, slim_buf *out);

/* A decoded GroupInfo checked as a joiner checks it (§12.4.3.1): the
 * tree (from the extension or `tree_in`) decoded and validated, the
 * signature verified with the signer's leaf. *tree_out (caller frees) is
 * the validated tree. */
slim_status slim_mls__group_info_verify(const slim_mls_client *c, const slim_mls_group_options *o,
                                        const slim_mls_group_info *gi, slim_bytes tree_in,
                                        const slim_mls_env *env, slim_mls_tree **tree_out);

/* Builds an MLSMessage's content: signs `fc` for `wire_format` with the
 * client's key under g's epoch and returns the signature in `sig`. */
slim_status slim_mls__content_sign(const slim_mls_group *g, uint16_t wire_format,
                                   const slim_mls_framed_content *fc, slim_buf *sig);

/* Protects a signed AuthenticatedContent with g's epoch keys (Public- or
 * PrivateMessage), appending the MLSMessage to `out`. */
slim_status slim_mls__content_protect(const slim_mls_group *g,
                                      const slim_mls_authenticated_content *ac,
                                      const slim_mls_env *env, slim_buf *out);

/* RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent): encodes
 * ac into `enc` (replacing its contents) and writes the ref (Nh). */
slim_status slim_mls__proposal_ref(const slim_mls_suite *s,
                                   const slim_mls_authenticated_content *ac, slim_buf *enc,
                                   uint8_t *ref);

#endif
