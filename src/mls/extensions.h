/*
 * Extension lists and the bodies of the extensions RFC 9420 defines
 * (§13.4, §17.3): application_id (§5.3.3), ratchet_tree (§12.4.3.3, its
 * codec is in mls/nodes.h), required_capabilities (§11.1), external_pub
 * (§12.4.3.2) and external_senders (§12.1.8.1).
 *
 * One Extension is coded by mls/group_context.h. Here a whole
 * `Extension extensions<V>` list is read into a slim_mls_vec (see
 * mls/tls.h) after checking that no type appears twice (§13.4: "Any field
 * containing a list of extensions MUST NOT have more than one extension of
 * any given type"). Extensions of unknown types are kept as they are:
 * their data is opaque to the codec.
 *
 * Decoding never allocates; decoded values are views into the input.
 * Pure and thread-safe.
 */
#ifndef SLIM_MLS_EXTENSIONS_H
#define SLIM_MLS_EXTENSIONS_H

#include "mls/group_context.h"
#include "mls/tls.h"
#include "slim/status.h"

/* ExtensionType values (§17.3). */
#define SLIM_MLS_EXT_APPLICATION_ID        0x0001
#define SLIM_MLS_EXT_RATCHET_TREE          0x0002
#define SLIM_MLS_EXT_REQUIRED_CAPABILITIES 0x0003
#define SLIM_MLS_EXT_EXTERNAL_PUB          0x0004
#define SLIM_MLS_EXT_EXTERNAL_SENDERS      0x0005

/* Reads `Extension extensions<V>`: every Extension well formed and each
 * type at most once (E_MLS_DUPLICATE_EXTENSION). *out views the input. */
slim_status slim_mls_extension_list_decode(slim_mls_tls_reader *r, slim_mls_vec *out);

/* Writes `Extension extensions<V>` from its encoded body. */
slim_status slim_mls_extension_list_encode(slim_mls_tls_writer *w, const slim_mls_vec *list);

/* Checks the body of an extension list (no length header): SLIM_OK, a
 * codec error, or E_MLS_DUPLICATE_EXTENSION. Runs in time linear in the
 * body's length. */
slim_status slim_mls_extension_list_check(slim_bytes body);

/* Finds the extension of `type` in a checked list body: *found tells
 * whether there is one; ext->data views the body. */
slim_status slim_mls_extension_list_find(slim_bytes body, uint16_t type, slim_mls_extension *ext,
                                         bool *found);

/*
 * struct {
 *     ExtensionType extension_types<V>;
 *     ProposalType proposal_types<V>;
 *     CredentialType credential_types<V>;
 * } RequiredCapabilities;
 */
typedef struct slim_mls_required_capabilities {
    slim_mls_vec extension_types;  /* uint16 each */
    slim_mls_vec proposal_types;   /* uint16 each */
    slim_mls_vec credential_types; /* uint16 each */
} slim_mls_required_capabilities;

slim_status slim_mls_required_capabilities_encode(slim_mls_tls_writer *w,
                                                  const slim_mls_required_capabilities *rc);
slim_status slim_mls_required_capabilities_decode(slim_mls_tls_reader *r,
                                                  slim_mls_required_capabilities *rc);

/*
 * struct {
 *     HPKEPublicKey external_pub;
 * } ExternalPub;
 *
 * opaque application_id<V>;
 *
 * Both are a single opaque<V>: these read and write it.
 */
slim_status slim_mls_external_pub_encode(slim_mls_tls_writer *w, slim_bytes external_pub);
slim_status slim_mls_external_pub_decode(slim_mls_tls_reader *r, slim_bytes *external_pub);

/*
 * struct {
 *   SignaturePublicKey signature_key;
 *   Credential credential;
 * } ExternalSender;
 *
 * ExternalSender external_senders<V>;
 *
 * The list codec is in mls/leaf_node.h (it needs the Credential codec).
 */

#endif
