/*
 * The MLS group (RFC 9420 §11-§12): a client's identity, the group state of
 * one epoch, proposals, commits, Welcome and GroupInfo, external joins, the
 * exporter and the epoch authenticator. This is the layer the SLIM group
 * sessions drive: a moderator commits every membership change, members
 * process the commits, new members join from Welcomes.
 *
 * Value semantics. A slim_mls_group is one member's view of one epoch.
 * Creating, joining, committing and processing a commit never change the
 * group they start from: each returns a new state (for the next epoch),
 * which the caller swaps in on success and frees the old one when it no
 * longer needs it. A refused commit, proposal or Welcome returns a named
 * status and leaves the state exactly as usable as before. What does
 * change a state in place is what RFC 9420 requires to change within an
 * epoch, and only on success:
 *   - the epoch's message keys (the secret tree): a PrivateMessage sent or
 *     read uses up its ratchet generation (§9.2, forward secrecy), also
 *     when that PrivateMessage is a commit;
 *   - the proposals received or sent in the epoch, kept so a Commit can
 *     name them by reference (§12.1).
 * The message keys of an epoch are shared between the state of that
 * epoch and the later states that keep them (see "past epochs" below), so
 * one thread at a time may use a group and every state derived from it.
 *
 * Past epochs. A state keeps the message keys of at most
 * opts.max_past_epochs earlier epochs, so late application messages of
 * those epochs can still be read (slim_mls_group_receive finds them by
 * their epoch). The session layer bounds this in time: it calls
 * slim_mls_group_forget_epochs when its timer fires, which erases them.
 * Likewise resumption PSKs of at most opts.max_resumption_psks earlier
 * epochs are kept for PreSharedKey proposals (§8.6). Keys are wiped when
 * the last state holding them lets them go; an old state the caller still
 * holds keeps its own epoch's keys until it is freed.
 *
 * Errors are named statuses of include/slim/status.h (the group's are
 * -450 and below); out-parameters are written on success only. Secrets
 * are wiped when freed. The library never aborts on allocation failure
 * (E_NOMEM). Pure: no I/O, no clocks (the caller passes `now`), randomness
 * only from env->rng.
 */
#ifndef SLIM_MLS_GROUP_H
#define SLIM_MLS_GROUP_H

#include "mls/framing.h"
#include "mls/key_schedule.h"
#include "mls/member.h"
#include "mls/validate.h"

/* ---- the client ------------------------------------------------------- */

/* Who a member is, for all its groups: suite, signature key pair,
 * credential, capabilities, leaf extensions and the Authentication
 * Service. Immutable and reference counted: each group state holds a
 * reference. */
typedef struct slim_mls_client slim_mls_client;

typedef struct slim_mls_client_params {
    uint16_t suite;                          /* cipher suite id (1 or 2) */
    slim_bytes signature_priv;               /* sig_nsk bytes, copied */
    slim_mls_credential credential;          /* copied */
    slim_bytes capabilities;                 /* an encoded Capabilities, copied; empty: the default
                                              * (mls10, the suite, the credential's type) */
    slim_mls_vec leaf_extensions;            /* the leaves' extensions (encoded body), copied */
    slim_mls_lifetime lifetime;              /* of KeyPackages and the creator's leaf */
    slim_mls_credential_fn credential_check; /* the Authentication Service (§5.3.1), required:
                                              * called for every credential received */
    void *credential_arg;                    /* borrowed for the client's life */
} slim_mls_client_params;

/* A new client. E_MLS_UNKNOWN_SUITE, E_MLS_BAD_KEY (a private key the suite
 * cannot use), E_INVALID_ARG (no credential check), codec errors of the
 * capabilities or extensions, E_NOMEM. */
slim_status slim_mls_client_new(const slim_mls_client_params *p, slim_mls_client **out);

/* Drops the caller's reference: groups made with the client keep theirs.
 * NULL is a no-op. */
void slim_mls_client_free(slim_mls_client *c);

/* Appends a new KeyPackage as an MLSMessage (what an inviter needs) to
 * `out`; *keys gets its private keys (wipe with
 * slim_mls_key_package_keys_cleanup once joined). rng NULL: OpenSSL's. */
slim_status slim_mls_client_key_package(const slim_mls_client *c, const slim_mls_rng *rng,
                                        slim_buf *out, slim_mls_key_package_keys *keys);

/* The client's suite and signature public key (valid for its life). */
const slim_mls_suite *slim_mls_client_suite(const slim_mls_client *c);
slim_bytes slim_mls_client_signature_key(const slim_mls_client *c);

/* ---- per-call inputs and per-group options ---------------------------- */

/* An external PSK the application holds (§8.4). Both views borrowed for
 * the call. */
typedef struct slim_mls_external_psk {
    slim_bytes id;
    slim_bytes secret;
} slim_mls_external_psk;

/* What an operation needs from the application, borrowed for the call. */
typedef struct slim_mls_env {
    const slim_mls_rng *rng; /* NULL: OpenSSL's RAND_bytes */
    uint64_t now;            /* seconds since the Unix epoch, for lifetimes */
    const slim_mls_external_psk *psks;
    size_t n_psks;
} slim_mls_env;

/* Options of a group, given when it is created or joined and inherited by
 * every state that follows. */
typedef struct slim_mls_group_options {
    size_t padding_block;          /* PrivateMessage padding (0: SLIM_MLS_PADDING_BLOCK) */
    uint32_t max_past_epochs;      /* message keys of up to this many earlier epochs */
    uint32_t max_resumption_psks;  /* resumption PSKs of up to this many earlier epochs */
    bool check_received_lifetimes; /* also refuse received KeyPackage leaves outside their
                                    * lifetime (RECOMMENDED, §7.3; always for what we send) */
    uint64_t max_lifetime;         /* longest KeyPackage lifetime accepted; 0: no limit */
} slim_mls_group_options;

/* ---- the group state -------------------------------------------------- */

typedef struct slim_mls_group slim_mls_group;

/*
 * Creates a one-member group (§11) at epoch 0 with the client as leaf 0
 * (a fresh key_package leaf), `group_id` and the GroupContext extensions
 * `extensions` (an encoded extension list body, empty for none; the
 * client's leaf must support them). opts NULL: all zero.
 * E_MLS_DUPLICATE_EXTENSION, E_MLS_UNSUPPORTED_GROUP_EXTENSION,
 * E_MLS_MISSING_REQUIRED_CAPABILITY, E_INVALID_ARG for an empty group_id.
 */
slim_status slim_mls_group_create(slim_mls_client *c, slim_bytes group_id, slim_bytes extensions,
                                  const slim_mls_group_options *opts, const slim_mls_env *env,
                                  slim_mls_group **out);

/* Frees the state, wiping its secrets (shared epoch keys when no other
 * state holds them). NULL is a no-op. */
void slim_mls_group_free(slim_mls_group *g);

/* Reading the state. Views are valid while the state is. */
const slim_mls_suite *slim_mls_group_suite(const slim_mls_group *g);
slim_bytes slim_mls_group_id(const slim_mls_group *g);
uint64_t slim_mls_group_epoch(const slim_mls_group *g);
uint32_t slim_mls_group_own_leaf(const slim_mls_group *g);
slim_bytes slim_mls_group_context_bytes(const slim_mls_group *g); /* encoded GroupContext */
slim_bytes slim_mls_group_extensions(const slim_mls_group *g);    /* GroupContext extensions */
const slim_mls_tree *slim_mls_group_tree(const slim_mls_group *g);
/* Members: non-blank leaves; the LeafNode of `leaf` or NULL. */
uint32_t slim_mls_group_member_count(const slim_mls_group *g);
const slim_mls_leaf_node *slim_mls_group_member(const slim_mls_group *g, uint32_t leaf);
/* Appends the ratchet_tree (for joiners given the tree out of band). */
slim_status slim_mls_group_ratchet_tree(const slim_mls_group *g, slim_buf *out);

/* The epoch authenticator (§8.7), Nh bytes. */
slim_bytes slim_mls_group_epoch_authenticator(const slim_mls_group *g);

/* MLS-Exporter(label, context, len) of this epoch (§8.5): out[0..len).
 * E_MLS_KDF_LENGTH for len 0 or above 255*Nh. */
slim_status slim_mls_group_export(const slim_mls_group *g, const char *label, slim_bytes context,
                                  uint8_t *out, size_t len);

/* The resumption_psk of `epoch` of this group (§8.6): the current epoch's
 * or a kept one. E_MLS_PSK_NOT_FOUND. out gets Nh bytes. */
slim_status slim_mls_group_resumption_psk(const slim_mls_group *g, uint64_t epoch, uint8_t *out);

/* Erases what this state keeps of epochs <= `epoch` (message keys and
 * resumption PSKs); the current epoch's are never erased here. */
void slim_mls_group_forget_epochs(slim_mls_group *g, uint64_t epoch);

/* Number of earlier epochs whose message keys this state keeps. */
uint32_t slim_mls_group_past_epochs(const slim_mls_group *g);

/* True once a Commit with a ReInit made this group end (§11.2): it can
 * still read late messages and export, but it sends nothing. *out gets
 * the new group's parameters (views valid while g is). E_STATE when the
 * group did not end. */
bool slim_mls_group_ended(const slim_mls_group *g);
slim_status slim_mls_group_reinit_params(const slim_mls_group *g, slim_mls_reinit *out);

/* ---- proposals -------------------------------------------------------- */

/* A proposal to make (§12.1). Field use by type:
 *   add                       key_package: an MLSMessage(KeyPackage) or a KeyPackage
 *   update                    nothing: a fresh leaf key is made (kept until committed)
 *   remove                    removed: a leaf index
 *   psk                       psk_type external: psk_id (in env->psks);
 *                             resumption: psk_epoch, an epoch of this group
 *                             (usage application); a fresh psk_nonce is drawn
 *   reinit                    reinit: group_id, version, cipher_suite, extensions
 *   group_context_extensions  extensions: the new list's encoded body
 * ExternalInit is made only by slim_mls_group_join_external. */
typedef struct slim_mls_proposal_spec {
    uint16_t type;
    slim_bytes key_package;
    uint32_t removed;
    uint8_t psk_type;
    slim_bytes psk_id;
    uint64_t psk_epoch;
    slim_mls_reinit reinit;
    slim_bytes extensions;
} slim_mls_proposal_spec;

/*
 * Sends a proposal as this member: appends the MLSMessage (wire_format
 * SLIM_MLS_WIRE_PUBLIC_MESSAGE or _PRIVATE_MESSAGE) to `out` and keeps
 * the proposal in g, so a Commit of this epoch can name it by reference;
 * ref_out (may be NULL, Nh bytes) gets its ProposalRef. The proposal is
 * checked as a receiver would check it. A PrivateMessage uses up a
 * generation of this member's handshake ratchet. E_MLS_GROUP_ENDED, the
 * statuses of proposal validation (see slim_mls_group_commit).
 */
slim_status slim_mls_group_propose(slim_mls_group *g, const slim_mls_proposal_spec *p,
                                   uint16_t wire_format, slim_bytes authenticated_data,
                                   const slim_mls_env *env, slim_buf *out, uint8_t *ref_out);

/* Makes a proposal from outside the group (§12.1.8): sender type
 * SLIM_MLS_SENDER_EXTERNAL with index `sender_index` into the group's
 * external_senders (any type an external sender may propose), or
 * SLIM_MLS_SENDER_NEW_MEMBER_PROPOSAL (an Add of the signer's own
 * KeyPackage). Appends the MLSMessage(PublicMessage) to `out`. It needs
 * only the group's id, epoch and suite, not its state. */
slim_status slim_mls_propose_external(const slim_mls_suite *suite, const slim_mls_sig_key *signer,
                                      uint8_t sender_type, uint32_t sender_index,
                                      slim_bytes group_id, uint64_t epoch,
                                      const slim_mls_proposal_spec *p, const slim_mls_env *env,
                                      slim_buf *out);

/* ---- commits ---------------------------------------------------------- */

typedef struct slim_mls_commit_spec {
    const slim_mls_proposal_spec *proposals; /* by value, in this order */
    size_t n_proposals;
    bool include_pending; /* also every proposal kept in g, by reference, in the order
                           * received, leaving out those that would make the list invalid
                           * (§12.4: own Updates, a second Update/Remove of one leaf with
                           * Removes preferred, repeated PSKs, a second
                           * GroupContextExtensions, a ReInit beside others) */
    bool force_path;      /* an UpdatePath even when no proposal requires one */
    uint16_t wire_format; /* of the Commit: public (0 too) or private message */
    slim_bytes authenticated_data;
    bool welcome_tree;            /* the ratchet_tree extension in the Welcome's GroupInfo */
    bool group_info;              /* also a GroupInfo of the new epoch, signed, with: */
    bool group_info_tree;         /*   the ratchet_tree extension */
    bool group_info_external_pub; /* the external_pub extension (external joins) */
} slim_mls_commit_spec;

typedef struct slim_mls_commit_output {
    slim_buf commit;       /* MLSMessage of the Commit */
    slim_buf welcome;      /* MLSMessage(Welcome); empty when the Commit adds nobody */
    slim_buf group_info;   /* MLSMessage(GroupInfo) when spec->group_info */
    slim_mls_group *group; /* the state of the new epoch */
} slim_mls_commit_output;

/* Frees and wipes the output (its group included). */
void slim_mls_commit_output_cleanup(slim_mls_commit_output *o);

/*
 * Commits (§12.4.1): builds the proposal list (by value, then the pending
 * ones by reference), checks it as every receiver will (§12.2), applies
 * it to a copy of the tree and GroupContext (§12.3), adds an UpdatePath
 * when a proposal requires one (or force_path), signs the Commit, runs the
 * key schedule with the PSKs, computes the confirmation tag, protects the
 * Commit with this epoch's keys, and writes the Welcome for the members
 * it adds (GroupInfo signed by this member, group secrets HPKE-encrypted
 * to each new member's init key, PSK ids included). *out is written on
 * success only; g is unchanged (but a PrivateMessage Commit uses up a
 * handshake ratchet generation).
 *
 * Refusals (the first that applies): E_MLS_GROUP_ENDED;
 * proposal list (§12.2): E_MLS_UPDATE_FROM_COMMITTER,
 * E_MLS_REMOVES_COMMITTER, E_MLS_DUPLICATE_LEAF_CHANGE,
 * E_MLS_DUPLICATE_PSK, E_MLS_DUPLICATE_GCE, E_MLS_REINIT_NOT_ALONE,
 * E_MLS_EXTERNAL_INIT_MISPLACED; single proposals (§12.1):
 * E_MLS_REMOVE_BLANK, E_MLS_PSK_BAD_NONCE, E_MLS_PSK_BAD_USAGE,
 * E_MLS_PSK_NOT_FOUND, E_MLS_BAD_VERSION (a ReInit to an earlier version), KeyPackage and leaf
 * validation (mls/validate.h: signatures, capabilities, lifetimes,
 * duplicate keys, i.e. the same client twice or a member added again),
 * E_MLS_UNSUPPORTED_GROUP_EXTENSION, E_MLS_MISSING_REQUIRED_CAPABILITY
 * for a GroupContextExtensions some member cannot support.
 */
slim_status slim_mls_group_commit(const slim_mls_group *g, const slim_mls_commit_spec *spec,
                                  const slim_mls_env *env, slim_mls_commit_output *out);

/* Appends a signed MLSMessage(GroupInfo) of this epoch (§12.4.3), with the
 * ratchet_tree and external_pub extensions as asked. */
slim_status slim_mls_group_group_info(const slim_mls_group *g, bool with_tree,
                                      bool with_external_pub, slim_buf *out);

/* ---- receiving ---------------------------------------------------------- */

typedef struct slim_mls_received {
    uint8_t content_type; /* SLIM_MLS_CONTENT_* */
    uint64_t epoch;       /* of the message */
    slim_mls_sender sender;
    slim_buf data; /* application data (wiped by cleanup) */
    slim_buf authenticated_data;
    uint16_t proposal_type;                  /* proposal: its type */
    uint8_t proposal_ref[SLIM_MLS_MAX_HASH]; /* proposal: its ProposalRef (Nh bytes) */
    slim_mls_group *group; /* commit: the new epoch's state (the caller's); NULL when removed */
    bool removed;          /* commit: it removed this member */
    bool reinit;           /* commit: it holds a ReInit; the new state has ended and
                            * slim_mls_group_reinit_params on it names the new group */
} slim_mls_received;

/* Frees and wipes (the new group included, unless the caller took it and
 * set the field to NULL). */
void slim_mls_received_cleanup(slim_mls_received *r);

/*
 * Reads one MLSMessage (Public- or PrivateMessage) for this group:
 *   application data   of this epoch or a kept earlier one: *out holds it;
 *   proposal           of this epoch: checked (§12.1) and kept in g for
 *                      Commits that name it by reference;
 *   commit             of this epoch, from a member or an external joiner
 *                      (§12.4.2, §12.4.3.2): checked and applied to a
 *                      copy; out->group is the new state (g unchanged).
 * Refusals: those of message protection (mls/protect.h; E_MLS_WRONG_EPOCH
 * also for an epoch whose keys are no longer kept, or a handshake message
 * of an earlier epoch), E_MLS_GROUP_ENDED (handshake after a ReInit),
 * E_MLS_COMMIT_FROM_SELF, E_MLS_PROPOSAL_NOT_FOUND, the proposal list and
 * proposal statuses of slim_mls_group_commit, E_MLS_EXTERNAL_COMMIT_INVALID,
 * E_MLS_RESYNC_IDENTITY, E_MLS_COMMIT_PATH_MISSING, UpdatePath statuses
 * (mls/treekem.h), E_MLS_CONFIRMATION_TAG. *out is written on success only.
 */
slim_status slim_mls_group_receive(slim_mls_group *g, slim_bytes message, const slim_mls_env *env,
                                   slim_mls_received *out);

/* Appends application data as a PrivateMessage of this epoch.
 * E_MLS_GROUP_ENDED. */
slim_status slim_mls_group_protect(slim_mls_group *g, slim_bytes authenticated_data,
                                   slim_bytes data, const slim_mls_env *env, slim_buf *out);

/* ---- joining -------------------------------------------------------------- */

typedef struct slim_mls_join_params {
    slim_mls_client *client;
    slim_bytes key_package;                /* MLSMessage(KeyPackage) or KeyPackage */
    const slim_mls_key_package_keys *keys; /* its private keys */
    slim_bytes ratchet_tree;               /* when the GroupInfo carries none */
    /* The group a reinit or branch Welcome resumes (§11.2, §11.3); also
     * asked for resumption PSKs of the group it names. May be NULL. */
    const slim_mls_group *prior;
    const slim_mls_group_options *opts; /* NULL: all zero */
} slim_mls_join_params;

/*
 * Joins from a Welcome (§12.4.3.1): finds the secrets for the KeyPackage
 * and decrypts them with its init key, gets the PSKs it names, decrypts
 * and verifies the GroupInfo (signed by its `signer` leaf), takes the tree
 * from the ratchet_tree extension or p->ratchet_tree, validates the tree,
 * finds this client's leaf, sets the path secret, runs the key schedule
 * and checks the confirmation tag. Refusals: E_MLS_NOT_FRAMED (not a
 * Welcome), E_MLS_SUITE_MISMATCH, E_MLS_PRIVATE_KEY_MISMATCH (keys or
 * client not those of the KeyPackage), E_MLS_WELCOME_NOT_FOR_US,
 * E_MLS_WELCOME_DECRYPT, E_MLS_PSK_NOT_FOUND, E_MLS_PSK_BAD_USAGE,
 * E_MLS_GROUP_INFO_DECRYPT, E_MLS_NO_RATCHET_TREE, E_MLS_GROUP_INFO_SIGNER,
 * E_MLS_BAD_SIGNATURE, tree validation (mls/validate.h),
 * E_MLS_NOT_IN_TREE, E_MLS_PRIVATE_KEY_MISMATCH (path secret),
 * E_MLS_CONFIRMATION_TAG, E_MLS_REINIT_MISMATCH, codec errors.
 */
slim_status slim_mls_group_join(const slim_mls_join_params *p, slim_bytes welcome,
                                const slim_mls_env *env, slim_mls_group **out);

/* What a Welcome tells its joiner before the tree is looked at. */
typedef struct slim_mls_welcome_info {
    slim_mls_group_info group_info; /* decrypted; views into gi_buf */
    slim_mls_epoch_secrets secrets; /* of the epoch joined (joiner/welcome secrets wiped) */
    bool has_path_secret;
    uint8_t path_secret[SLIM_MLS_MAX_HASH];
    uint8_t resumption_usage;      /* 0, or the usage of its one reinit/branch PSK */
    slim_mls_psk_id resumption_id; /* that PSK's id (views into gs_buf) */
    slim_buf gi_buf, gs_buf;
} slim_mls_welcome_info;

/* Wipes and frees the info. */
void slim_mls_welcome_info_cleanup(slim_mls_welcome_info *w);

/*
 * The steps of joining that need no tree (the first half of
 * slim_mls_group_join): the secrets for `key_package` decrypted with
 * `init_priv`, the PSKs (env, and resumption PSKs of `prior`), the
 * GroupInfo decrypted, the key schedule run from the joiner secret and
 * the confirmation tag checked. The GroupInfo's signature is NOT checked
 * (that needs the signer's key from the tree). Refusals as
 * slim_mls_group_join's up to E_MLS_GROUP_INFO_DECRYPT, and
 * E_MLS_CONFIRMATION_TAG.
 */
slim_status slim_mls_welcome_open(const slim_mls_suite *s, slim_bytes welcome,
                                  slim_bytes key_package, slim_bytes init_priv,
                                  const slim_mls_group *prior, const slim_mls_env *env,
                                  slim_mls_welcome_info *out);

typedef struct slim_mls_external_join_params {
    slim_mls_client *client;
    slim_bytes group_info;   /* MLSMessage(GroupInfo) with external_pub */
    slim_bytes ratchet_tree; /* when the GroupInfo carries none */
    bool resync;             /* also remove `removed`, an old appearance of this client */
    uint32_t removed;
    const slim_bytes *psk_ids; /* external PSKs to inject (in env->psks) */
    size_t n_psk_ids;
    slim_bytes authenticated_data;
    const slim_mls_group_options *opts;
} slim_mls_external_join_params;

/*
 * Joins by an external Commit (§12.4.3.2): verifies the GroupInfo and the
 * tree as a Welcome joiner does, runs external init with its external_pub,
 * and commits ExternalInit (plus Remove and PSKs) with a path from the
 * leftmost blank leaf. Appends the Commit (a PublicMessage) to `commit`;
 * *out is the new member's state. E_MLS_MISSING_EXTERNAL_PUB, the GroupInfo
 * and tree refusals of slim_mls_group_join, those of a commit.
 */
slim_status slim_mls_group_join_external(const slim_mls_external_join_params *p,
                                         const slim_mls_env *env, slim_buf *commit,
                                         slim_mls_group **out);

/*
 * After a ReInit (g ended), creates the new group (§11.2): the client as
 * its first member, the ReInit's group_id, suite (the client's must be
 * it) and extensions, then one Commit at epoch 0 adding every KeyPackage
 * of key_packages[0..n) with a resumption PSK (usage reinit) of g's epoch,
 * so the Welcome carries it. out->group is the new group at epoch 1 and
 * out->welcome the Welcome for the others (out->commit is for no one: the
 * creator is the only member of epoch 0). E_STATE when g did not end,
 * E_MLS_SUITE_MISMATCH, commit refusals.
 */
slim_status slim_mls_group_reinit(const slim_mls_group *g, slim_mls_client *c,
                                  const slim_bytes *key_packages, size_t n,
                                  const slim_mls_group_options *opts, const slim_mls_env *env,
                                  slim_mls_commit_output *out);

/* ---- saving and loading ------------------------------------------------ */

/*
 * Appends a self-contained encoding of g's current epoch to `out`, so a
 * member can write it to disk and go on in the group after a restart
 * (slim_mls_group_load). It holds the group options, the GroupContext, the
 * ratchet tree, the committed ReInit of an ended group, the interim
 * transcript hash and the confirmation tag (the confirmed transcript hash
 * is in the GroupContext), this member's leaf index and the private keys it
 * holds (its leaf's and those of the nodes above it), the epoch's secrets
 * a state keeps (init, exporter, external, epoch authenticator,
 * resumption PSK, sender data, membership key) and the secret tree as it
 * is now: a generation used (sent or read) before the save stays used,
 * one skipped and kept stays readable.
 *
 * NOT in it: the message keys of earlier epochs, the resumption PSKs of
 * earlier epochs, and the proposals kept in the epoch (a Commit that names
 * them by reference is refused by the loaded state with
 * E_MLS_PROPOSAL_NOT_FOUND; an own Update's private key is lost). The
 * epoch's joiner, welcome and confirmation secrets are not in a state
 * after its creation, so not in the save either.
 *
 * The bytes are secret: the caller encrypts them before they leave
 * memory, and wipes `out` (slim_buf_cleanup_secret). The secret part is
 * written into room reserved beforehand, so no copy of it is left in
 * memory freed while `out` grows. Format: docs/mls.md, "Saving a group
 * state". A state saved, then used further (messages sent or read), then
 * loaded, reuses what it used after the save: see `skip` below. On
 * failure (E_NOMEM) out is as it was. g is not changed.
 */
slim_status slim_mls_group_save(const slim_mls_group *g, slim_buf *out);

/*
 * Rebuilds the state slim_mls_group_save wrote, for client c (a reference
 * is taken). The state behaves as the saved one did: same epoch, epoch
 * authenticator, exporter and GroupContext; it reads the epoch's messages
 * whose generation was not used before the save, processes the next
 * Commit, protects, proposes and commits.
 *
 * opts: the options of the loaded state; NULL: those saved. skip: this
 * member's own sending ratchets (handshake and application) are moved
 * `skip` generations past the saved ones, so that a state saved before
 * later sends never encrypts twice with one key and nonce; 0 for none.
 * It costs one KDF step per generation skipped (about 0.1 s for the
 * limit, SLIM_MLS_LOAD_MAX_SKIP; E_INVALID_ARG above it: save more often
 * than that many messages); the receivers accept a jump of at most
 * SLIM_MLS_RATCHET_MAX_JUMP beyond what they last read.
 *
 * Refusals: E_MLS_BAD_VALUE (an unknown format version, or a value the
 * format does not allow), E_MLS_SUITE_MISMATCH (saved for another cipher
 * suite than c's), E_MLS_BAD_KEY (c's signature key is not the one of the
 * saved member's leaf), E_MLS_PRIVATE_KEY_MISMATCH (a private key that
 * does not match the tree), E_MLS_TREE_HASH_MISMATCH (the tree is not the
 * GroupContext's), E_MLS_GENERATION_EXHAUSTED (skip passes generation
 * 2^32-1), codec errors of the format, the GroupContext and the tree
 * (E_MLS_TRUNCATED, E_MLS_TRAILING_BYTES, ...), E_NOMEM. On failure
 * nothing is allocated and *out is not written. `saved` is borrowed for
 * the call.
 */
#define SLIM_MLS_LOAD_MAX_SKIP (UINT32_C(1) << 16)

slim_status slim_mls_group_load(slim_mls_client *c, slim_bytes saved,
                                const slim_mls_group_options *opts, uint32_t skip,
                                slim_mls_group **out);

#endif
