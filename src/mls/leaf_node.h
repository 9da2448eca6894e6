/*
 * Credentials (RFC 9420 §5.3) and leaf nodes (§7.2): Credential,
 * Certificate, Capabilities, Lifetime, LeafNode and LeafNodeTBS, and the
 * ExternalSender list of the external_senders extension (§12.1.8.1),
 * which is made of a signature key and a Credential.
 *
 * Representation and ownership. Decoded values are plain structs of views
 * into the decoder's input, lists are slim_mls_vec (mls/tls.h): nothing is
 * allocated and nothing needs freeing, but a decoded value is valid only
 * while the input bytes are alive and unchanged. A component that keeps a
 * LeafNode (e.g. the ratchet tree) keeps the bytes it was decoded
 * from next to it. The same structs are the input of the encoders, so a
 * LeafNode read from a KeyPackage can be written into a tree or a Commit
 * without conversion.
 *
 * Decoding is strict: reserved enum values, a non-canonical encoding,
 * duplicate extension types and trailing bytes are refused with named
 * statuses. Checks that need the group (capabilities against the group's
 * requirements, lifetimes against the clock, key uniqueness) belong to
 * leaf-node validation in the tree layer, not to the codec.
 *
 * Pure and thread-safe.
 */
#ifndef SLIM_MLS_LEAF_NODE_H
#define SLIM_MLS_LEAF_NODE_H

#include "mls/crypto.h"
#include "mls/tls.h"
#include "slim/status.h"

/* CredentialType values (§17.5). */
#define SLIM_MLS_CREDENTIAL_BASIC 0x0001
#define SLIM_MLS_CREDENTIAL_X509  0x0002

/*
 * // See the "MLS Credential Types" IANA registry for values
 * uint16 CredentialType;
 *
 * struct {
 *     opaque cert_data<V>;
 * } Certificate;
 *
 * struct {
 *     CredentialType credential_type;
 *     select (Credential.credential_type) {
 *         case basic:
 *             opaque identity<V>;
 *
 *         case x509:
 *             Certificate certificates<V>;
 *     };
 * } Credential;
 *
 * Both defined bodies are one variable-length vector, so `body` is what
 * that vector holds: the identity for basic; for x509 the concatenated
 * Certificate encodings (each checked to be a well-formed opaque<V>; walk
 * them with slim_mls_certificate_next). RFC 9420 gives no layout for other
 * credential types; like other implementations we carry them as one
 * opaque<V> body, passed through unchanged. Type 0 (reserved) is refused.
 */
typedef struct slim_mls_credential {
    uint16_t type;
    slim_bytes body;
} slim_mls_credential;

slim_status slim_mls_credential_encode(slim_mls_tls_writer *w, const slim_mls_credential *c);

/* E_MLS_BAD_CREDENTIAL_TYPE for type 0, codec errors (also inside an x509
 * certificate list). */
slim_status slim_mls_credential_decode(slim_mls_tls_reader *r, slim_mls_credential *c);

/* Walks the certificates of an x509 credential: call with a reader over
 * `body`; *more = false at the end. cert views the body. */
slim_status slim_mls_certificate_next(slim_mls_tls_reader *certs, slim_bytes *cert, bool *more);

/*
 * struct {
 *     ProtocolVersion versions<V>;
 *     CipherSuite cipher_suites<V>;
 *     ExtensionType extensions<V>;
 *     ProposalType proposals<V>;
 *     CredentialType credentials<V>;
 * } Capabilities;
 *
 * Every list is of uint16; unknown and GREASE values are kept (§13.4).
 */
typedef struct slim_mls_capabilities {
    slim_mls_vec versions;
    slim_mls_vec cipher_suites;
    slim_mls_vec extensions;
    slim_mls_vec proposals;
    slim_mls_vec credentials;
} slim_mls_capabilities;

slim_status slim_mls_capabilities_encode(slim_mls_tls_writer *w, const slim_mls_capabilities *c);
slim_status slim_mls_capabilities_decode(slim_mls_tls_reader *r, slim_mls_capabilities *c);

/*
 * struct {
 *     uint64 not_before;
 *     uint64 not_after;
 * } Lifetime;
 */
typedef struct slim_mls_lifetime {
    uint64_t not_before;
    uint64_t not_after;
} slim_mls_lifetime;

/* enum { reserved(0), key_package(1), update(2), commit(3), (255) }
 * LeafNodeSource; */
#define SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE 1
#define SLIM_MLS_LEAF_SOURCE_UPDATE      2
#define SLIM_MLS_LEAF_SOURCE_COMMIT      3

/*
 * struct {
 *     HPKEPublicKey encryption_key;
 *     SignaturePublicKey signature_key;
 *     Credential credential;
 *     Capabilities capabilities;
 *
 *     LeafNodeSource leaf_node_source;
 *     select (LeafNode.leaf_node_source) {
 *         case key_package:
 *             Lifetime lifetime;
 *
 *         case update:
 *             struct{};
 *
 *         case commit:
 *             opaque parent_hash<V>;
 *     };
 *
 *     Extension extensions<V>;
 *     // SignWithLabel(., "LeafNodeTBS", LeafNodeTBS)
 *     opaque signature<V>;
 * } LeafNode;
 *
 * `lifetime` is meaningful for key_package leaves, `parent_hash` for
 * commit leaves. Keys are opaque here: their size is checked against the
 * cipher suite where the suite is known (signature verification, HPKE).
 */
typedef struct slim_mls_leaf_node {
    slim_bytes encryption_key;
    slim_bytes signature_key;
    slim_mls_credential credential;
    slim_mls_capabilities capabilities;
    uint8_t source;
    slim_mls_lifetime lifetime;
    slim_bytes parent_hash;
    slim_mls_vec extensions;
    slim_bytes signature;
} slim_mls_leaf_node;

/* E_MLS_BAD_LEAF_NODE_SOURCE for a source other than 1..3. */
slim_status slim_mls_leaf_node_encode(slim_mls_tls_writer *w, const slim_mls_leaf_node *ln);

/* E_MLS_BAD_LEAF_NODE_SOURCE, E_MLS_BAD_CREDENTIAL_TYPE,
 * E_MLS_DUPLICATE_EXTENSION, codec errors. */
slim_status slim_mls_leaf_node_decode(slim_mls_tls_reader *r, slim_mls_leaf_node *ln);

/*
 * struct {
 *     HPKEPublicKey encryption_key;
 *     SignaturePublicKey signature_key;
 *     Credential credential;
 *     Capabilities capabilities;
 *
 *     LeafNodeSource leaf_node_source;
 *     select (LeafNodeTBS.leaf_node_source) {
 *         case key_package:
 *             Lifetime lifetime;
 *
 *         case update:
 *             struct{};
 *
 *         case commit:
 *             opaque parent_hash<V>;
 *     };
 *
 *     Extension extensions<V>;
 *
 *     select (LeafNodeTBS.leaf_node_source) {
 *         case key_package:
 *             struct{};
 *
 *         case update:
 *             opaque group_id<V>;
 *             uint32 leaf_index;
 *
 *         case commit:
 *             opaque group_id<V>;
 *             uint32 leaf_index;
 *     };
 * } LeafNodeTBS;
 *
 * Appends LeafNodeTBS to `out`; group_id and leaf_index are ignored for a
 * key_package leaf.
 */
slim_status slim_mls_leaf_node_tbs_encode(const slim_mls_leaf_node *ln, slim_bytes group_id,
                                          uint32_t leaf_index, slim_buf *out);

/* Sets ln->signature: SignWithLabel(sk, "LeafNodeTBS", LeafNodeTBS), the
 * signature appended to `sig` (which must not move while ln is used: the
 * view points into it). */
slim_status slim_mls_leaf_node_sign(const slim_mls_suite *suite, slim_mls_leaf_node *ln,
                                    slim_bytes group_id, uint32_t leaf_index,
                                    const slim_mls_sig_key *sk, slim_buf *sig);

/* VerifyWithLabel(ln->signature_key, "LeafNodeTBS", LeafNodeTBS,
 * ln->signature): SLIM_OK or E_MLS_BAD_SIGNATURE / E_MLS_BAD_KEY. */
slim_status slim_mls_leaf_node_verify(const slim_mls_suite *suite, const slim_mls_leaf_node *ln,
                                      slim_bytes group_id, uint32_t leaf_index);

/*
 * struct {
 *   SignaturePublicKey signature_key;
 *   Credential credential;
 * } ExternalSender;
 *
 * ExternalSender external_senders<V>;
 */
typedef struct slim_mls_external_sender {
    slim_bytes signature_key;
    slim_mls_credential credential;
} slim_mls_external_sender;

slim_status slim_mls_external_sender_encode(slim_mls_tls_writer *w,
                                            const slim_mls_external_sender *es);
slim_status slim_mls_external_sender_decode(slim_mls_tls_reader *r, slim_mls_external_sender *es);

/* The whole `ExternalSender external_senders<V>` (an extension's data). */
slim_status slim_mls_external_senders_decode(slim_mls_tls_reader *r, slim_mls_vec *out);

#endif
