/*
 * Proposals and Commit (RFC 9420 §12.1, §12.4): the seven proposal types
 * RFC 9420 defines, ReInit, ProposalOrRef and Commit.
 *
 * A Proposal's body has no length of its own, so a proposal of a type this
 * codec does not know cannot be skipped: it is refused with
 * E_MLS_UNKNOWN_PROPOSAL_TYPE (as is the reserved type 0). The bodies can
 * also be coded alone (slim_mls_proposal_body_*), as the interop vectors
 * and the proposal-type-specific code of the group layer need.
 *
 * Strictness beyond the syntax: an Add's KeyPackage must be valid as a
 * KeyPackage encoding (mls/key_package.h), an Update's leaf must have
 * source update (§7.3), and a Commit must carry an UpdatePath when its
 * proposal list is empty or holds a proposal, by value, of a type that
 * requires one (§12.4: update, remove, external_init,
 * group_context_extensions). Proposals by reference are resolved by the
 * group layer, which must repeat the path check with their types
 * (slim_mls_proposal_type_needs_path).
 *
 * Decoded values are views into the input (ownership as in
 * mls/leaf_node.h). Pure and thread-safe.
 */
#ifndef SLIM_MLS_PROPOSAL_H
#define SLIM_MLS_PROPOSAL_H

#include "mls/key_package.h"
#include "mls/nodes.h"
#include "mls/psk.h"

/* ProposalType values (§17.4). */
#define SLIM_MLS_PROPOSAL_ADD                      0x0001
#define SLIM_MLS_PROPOSAL_UPDATE                   0x0002
#define SLIM_MLS_PROPOSAL_REMOVE                   0x0003
#define SLIM_MLS_PROPOSAL_PSK                      0x0004
#define SLIM_MLS_PROPOSAL_REINIT                   0x0005
#define SLIM_MLS_PROPOSAL_EXTERNAL_INIT            0x0006
#define SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS 0x0007

/* True for the proposal types whose presence in a Commit requires an
 * UpdatePath (§12.4, "Path Required" in §17.4). */
bool slim_mls_proposal_type_needs_path(uint16_t type);

/* True for the proposal types an external sender may propose (§17.4,
 * column "External"): add, remove, psk, reinit, group_context_extensions. */
bool slim_mls_proposal_type_external_ok(uint16_t type);

/*
 * struct {
 *     opaque group_id<V>;
 *     ProtocolVersion version;
 *     CipherSuite cipher_suite;
 *     Extension extensions<V>;
 * } ReInit;
 *
 * The version may be any non-reserved value (a ReInit can move a group to
 * a later version); 0 is refused with E_MLS_BAD_VERSION.
 */
typedef struct slim_mls_reinit {
    slim_bytes group_id;
    uint16_t version;
    uint16_t cipher_suite;
    slim_mls_vec extensions;
} slim_mls_reinit;

/*
 * // See the "MLS Proposal Types" IANA registry for values
 * uint16 ProposalType;
 *
 * struct {
 *     ProposalType proposal_type;
 *     select (Proposal.proposal_type) {
 *         case add:                      Add;
 *         case update:                   Update;
 *         case remove:                   Remove;
 *         case psk:                      PreSharedKey;
 *         case reinit:                   ReInit;
 *         case external_init:            ExternalInit;
 *         case group_context_extensions: GroupContextExtensions;
 *     };
 * } Proposal;
 *
 * struct { KeyPackage key_package; } Add;
 * struct { LeafNode leaf_node; } Update;
 * struct { uint32 removed; } Remove;
 * struct { PreSharedKeyID psk; } PreSharedKey;
 * struct { opaque kem_output<V>; } ExternalInit;
 * struct { Extension extensions<V>; } GroupContextExtensions;
 *
 * The member of `u` named after `type` holds the body.
 */
typedef struct slim_mls_proposal {
    uint16_t type;
    union {
        slim_mls_key_package add;
        slim_mls_leaf_node update;
        uint32_t remove;
        slim_mls_psk_id psk;
        slim_mls_reinit reinit;
        slim_bytes external_init;              /* kem_output */
        slim_mls_vec group_context_extensions; /* Extension each */
    } u;
} slim_mls_proposal;

slim_status slim_mls_proposal_encode(slim_mls_tls_writer *w, const slim_mls_proposal *p);
slim_status slim_mls_proposal_decode(slim_mls_tls_reader *r, slim_mls_proposal *p);

/* The body alone (no proposal_type): p->type says which. */
slim_status slim_mls_proposal_body_encode(slim_mls_tls_writer *w, const slim_mls_proposal *p);
slim_status slim_mls_proposal_body_decode(slim_mls_tls_reader *r, uint16_t type,
                                          slim_mls_proposal *p);

/* enum { reserved(0), proposal(1), reference(2), (255) } ProposalOrRefType; */
#define SLIM_MLS_PROPOSAL_OR_REF_PROPOSAL  1
#define SLIM_MLS_PROPOSAL_OR_REF_REFERENCE 2

/*
 * struct {
 *   ProposalOrRefType type;
 *   select (ProposalOrRef.type) {
 *     case proposal:  Proposal proposal;
 *     case reference: ProposalRef reference;
 *   };
 * } ProposalOrRef;
 *
 * opaque HashReference<V>;
 * HashReference ProposalRef;
 */
typedef struct slim_mls_proposal_or_ref {
    uint8_t type;
    slim_mls_proposal proposal; /* type proposal */
    slim_bytes reference;       /* type reference */
} slim_mls_proposal_or_ref;

slim_status slim_mls_proposal_or_ref_encode(slim_mls_tls_writer *w,
                                            const slim_mls_proposal_or_ref *p);
slim_status slim_mls_proposal_or_ref_decode(slim_mls_tls_reader *r, slim_mls_proposal_or_ref *p);

/*
 * struct {
 *     ProposalOrRef proposals<V>;
 *     optional<UpdatePath> path;
 * } Commit;
 */
typedef struct slim_mls_commit {
    slim_mls_vec proposals; /* ProposalOrRef each */
    bool has_path;
    slim_mls_update_path path;
} slim_mls_commit;

slim_status slim_mls_commit_encode(slim_mls_tls_writer *w, const slim_mls_commit *c);

/* Codec errors of the parts, E_MLS_COMMIT_PATH_MISSING. */
slim_status slim_mls_commit_decode(slim_mls_tls_reader *r, slim_mls_commit *c);

/* *required = whether the by-value proposals of c (or an empty list)
 * make an UpdatePath mandatory. */
slim_status slim_mls_commit_path_required(const slim_mls_commit *c, bool *required);

#endif
