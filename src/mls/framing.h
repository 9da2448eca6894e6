/*
 * Message framing structures (RFC 9420 §6): Sender, FramedContent,
 * FramedContentAuthData, AuthenticatedContent, FramedContentTBS,
 * AuthenticatedContentTBM, PublicMessage, PrivateMessage,
 * PrivateMessageContent, SenderData and the two AAD structures, the
 * ConfirmedTranscriptHashInput (§8.2), and the MLSMessage wrapper that
 * carries every message on the wire.
 *
 * Codecs only: signing, MACs and encryption are in mls/protect.h.
 *
 * Representation and ownership as in mls/leaf_node.h: decoded values are
 * views into the input (for a PrivateMessage's content, into its
 * plaintext), lists are slim_mls_vec, nothing is allocated. The decoder
 * refuses a version other than mls10, a reserved or unknown wire format,
 * content type or sender type, and trailing bytes. Which content and
 * sender types a wire format admits (e.g. no application data in a
 * PublicMessage) is an authentication rule, enforced by unprotect, not
 * here: the codec reads every well-formed message, as the interop vectors
 * require.
 *
 * Pure and thread-safe.
 */
#ifndef SLIM_MLS_FRAMING_H
#define SLIM_MLS_FRAMING_H

#include "mls/group_context.h"
#include "mls/key_package.h"
#include "mls/proposal.h"
#include "mls/welcome.h"

/* WireFormat values (§17.2). */
#define SLIM_MLS_WIRE_PUBLIC_MESSAGE  0x0001
#define SLIM_MLS_WIRE_PRIVATE_MESSAGE 0x0002
#define SLIM_MLS_WIRE_WELCOME         0x0003
#define SLIM_MLS_WIRE_GROUP_INFO      0x0004
#define SLIM_MLS_WIRE_KEY_PACKAGE     0x0005

/* enum { reserved(0), application(1), proposal(2), commit(3), (255) }
 * ContentType; */
#define SLIM_MLS_CONTENT_APPLICATION 1
#define SLIM_MLS_CONTENT_PROPOSAL    2
#define SLIM_MLS_CONTENT_COMMIT      3

/* enum { reserved(0), member(1), external(2), new_member_proposal(3),
 * new_member_commit(4), (255) } SenderType; */
#define SLIM_MLS_SENDER_MEMBER              1
#define SLIM_MLS_SENDER_EXTERNAL            2
#define SLIM_MLS_SENDER_NEW_MEMBER_PROPOSAL 3
#define SLIM_MLS_SENDER_NEW_MEMBER_COMMIT   4

/*
 * struct {
 *     SenderType sender_type;
 *     select (Sender.sender_type) {
 *         case member:
 *             uint32 leaf_index;
 *         case external:
 *             uint32 sender_index;
 *         case new_member_commit:
 *         case new_member_proposal:
 *             struct{};
 *     };
 * } Sender;
 *
 * `index` is leaf_index for a member, sender_index for an external sender,
 * unused otherwise.
 */
typedef struct slim_mls_sender {
    uint8_t type;
    uint32_t index;
} slim_mls_sender;

slim_status slim_mls_sender_encode(slim_mls_tls_writer *w, const slim_mls_sender *s);
slim_status slim_mls_sender_decode(slim_mls_tls_reader *r, slim_mls_sender *s);

/*
 * struct {
 *     opaque group_id<V>;
 *     uint64 epoch;
 *     Sender sender;
 *     opaque authenticated_data<V>;
 *
 *     ContentType content_type;
 *     select (FramedContent.content_type) {
 *         case application:
 *           opaque application_data<V>;
 *         case proposal:
 *           Proposal proposal;
 *         case commit:
 *           Commit commit;
 *     };
 * } FramedContent;
 *
 * `authenticated_data` is the caller's additional data: signed in every
 * message and, in a PrivateMessage, bound into the AEAD as part of
 * PrivateContentAAD but sent in clear. The member of `u` named after
 * content_type holds the content.
 */
typedef struct slim_mls_framed_content {
    slim_bytes group_id;
    uint64_t epoch;
    slim_mls_sender sender;
    slim_bytes authenticated_data;
    uint8_t content_type;
    union {
        slim_bytes application_data;
        slim_mls_proposal proposal;
        slim_mls_commit commit;
    } u;
} slim_mls_framed_content;

slim_status slim_mls_framed_content_encode(slim_mls_tls_writer *w,
                                           const slim_mls_framed_content *fc);
slim_status slim_mls_framed_content_decode(slim_mls_tls_reader *r, slim_mls_framed_content *fc);

/* The content selected by content_type alone (the first part of
 * PrivateMessageContent). */
slim_status slim_mls_content_body_encode(slim_mls_tls_writer *w, const slim_mls_framed_content *fc);
slim_status slim_mls_content_body_decode(slim_mls_tls_reader *r, uint8_t content_type,
                                         slim_mls_framed_content *fc);

/*
 * opaque MAC<V>;
 *
 * struct {
 *     // SignWithLabel(., "FramedContentTBS", FramedContentTBS)
 *     opaque signature<V>;
 *     select (FramedContent.content_type) {
 *         case commit:
 *             // MAC(confirmation_key,
 *             //     GroupContext.confirmed_transcript_hash)
 *             MAC confirmation_tag;
 *         case application:
 *         case proposal:
 *             struct{};
 *     };
 * } FramedContentAuthData;
 */
typedef struct slim_mls_auth_data {
    slim_bytes signature;
    slim_bytes confirmation_tag; /* commit only */
} slim_mls_auth_data;

slim_status slim_mls_auth_data_encode(slim_mls_tls_writer *w, uint8_t content_type,
                                      const slim_mls_auth_data *a);
slim_status slim_mls_auth_data_decode(slim_mls_tls_reader *r, uint8_t content_type,
                                      slim_mls_auth_data *a);

/*
 * struct {
 *     WireFormat wire_format;
 *     FramedContent content;
 *     FramedContentAuthData auth;
 * } AuthenticatedContent;
 *
 * wire_format is public_message or private_message (else
 * E_MLS_NOT_FRAMED).
 */
typedef struct slim_mls_authenticated_content {
    uint16_t wire_format;
    slim_mls_framed_content content;
    slim_mls_auth_data auth;
} slim_mls_authenticated_content;

slim_status slim_mls_authenticated_content_encode(slim_mls_tls_writer *w,
                                                  const slim_mls_authenticated_content *ac);
slim_status slim_mls_authenticated_content_decode(slim_mls_tls_reader *r,
                                                  slim_mls_authenticated_content *ac);

/*
 * struct {
 *     WireFormat wire_format;
 *     FramedContent content; // with content_type == commit
 *     opaque signature<V>;
 * } ConfirmedTranscriptHashInput;
 *
 * Appends the ConfirmedTranscriptHashInput of a commit to `out`
 * (E_MLS_BAD_CONTENT_TYPE for other content).
 */
slim_status slim_mls_confirmed_transcript_input_encode(const slim_mls_authenticated_content *ac,
                                                       slim_buf *out);

/* True for the sender types whose FramedContentTBS carries the
 * GroupContext (member, new_member_commit). */
bool slim_mls_sender_has_context(uint8_t sender_type);

/*
 * struct {
 *     ProtocolVersion version = mls10;
 *     WireFormat wire_format;
 *     FramedContent content;
 *     select (FramedContentTBS.content.sender.sender_type) {
 *         case member:
 *         case new_member_commit:
 *             GroupContext context;
 *         case external:
 *         case new_member_proposal:
 *             struct{};
 *     };
 * } FramedContentTBS;
 *
 * Writes FramedContentTBS; group_context is the encoded GroupContext of
 * the epoch (used only for the sender types that include it).
 */
slim_status slim_mls_framed_content_tbs_write(slim_mls_tls_writer *w, uint16_t wire_format,
                                              const slim_mls_framed_content *fc,
                                              slim_bytes group_context);

/*
 * struct {
 *   FramedContentTBS content_tbs;
 *   FramedContentAuthData auth;
 * } AuthenticatedContentTBM;
 *
 * Appends AuthenticatedContentTBM (wire format public_message) to `out`.
 */
slim_status slim_mls_authenticated_content_tbm_encode(const slim_mls_framed_content *fc,
                                                      const slim_mls_auth_data *auth,
                                                      slim_bytes group_context, slim_buf *out);

/*
 * struct {
 *     FramedContent content;
 *     FramedContentAuthData auth;
 *     select (PublicMessage.content.sender.sender_type) {
 *         case member:
 *             MAC membership_tag;
 *         case external:
 *         case new_member_commit:
 *         case new_member_proposal:
 *             struct{};
 *     };
 * } PublicMessage;
 */
typedef struct slim_mls_public_message {
    slim_mls_framed_content content;
    slim_mls_auth_data auth;
    slim_bytes membership_tag; /* member senders only */
} slim_mls_public_message;

slim_status slim_mls_public_message_encode(slim_mls_tls_writer *w,
                                           const slim_mls_public_message *pm);
slim_status slim_mls_public_message_decode(slim_mls_tls_reader *r, slim_mls_public_message *pm);

/*
 * struct {
 *     opaque group_id<V>;
 *     uint64 epoch;
 *     ContentType content_type;
 *     opaque authenticated_data<V>;
 *     opaque encrypted_sender_data<V>;
 *     opaque ciphertext<V>;
 * } PrivateMessage;
 */
typedef struct slim_mls_private_message {
    slim_bytes group_id;
    uint64_t epoch;
    uint8_t content_type;
    slim_bytes authenticated_data;
    slim_bytes encrypted_sender_data;
    slim_bytes ciphertext;
} slim_mls_private_message;

slim_status slim_mls_private_message_encode(slim_mls_tls_writer *w,
                                            const slim_mls_private_message *pm);
slim_status slim_mls_private_message_decode(slim_mls_tls_reader *r, slim_mls_private_message *pm);

/*
 * struct {
 *     opaque group_id<V>;
 *     uint64 epoch;
 *     ContentType content_type;
 *     opaque authenticated_data<V>;
 * } PrivateContentAAD;
 *
 * struct {
 *     opaque group_id<V>;
 *     uint64 epoch;
 *     ContentType content_type;
 * } SenderDataAAD;
 *
 * Both are written from the PrivateMessage fields they repeat.
 */
slim_status slim_mls_private_content_aad_write(slim_mls_tls_writer *w,
                                               const slim_mls_private_message *pm);
slim_status slim_mls_sender_data_aad_write(slim_mls_tls_writer *w,
                                           const slim_mls_private_message *pm);

/*
 * struct {
 *     select (PrivateMessage.content_type) {
 *         case application:
 *           opaque application_data<V>;
 *         case proposal:
 *           Proposal proposal;
 *         case commit:
 *           Commit commit;
 *     };
 *
 *     FramedContentAuthData auth;
 *     opaque padding[length_of_padding];
 * } PrivateMessageContent;
 *
 * Encoding writes the content and auth of `fc`/`auth` and `padding` zero
 * bytes. Decoding reads the content selected by content_type into `fc`
 * (its other fields are left as they are) and the auth, then requires the
 * rest to be zeros (E_MLS_BAD_PADDING, §6.3.1).
 */
slim_status slim_mls_private_content_encode(slim_mls_tls_writer *w,
                                            const slim_mls_framed_content *fc,
                                            const slim_mls_auth_data *auth, size_t padding);
slim_status slim_mls_private_content_decode(slim_bytes plaintext, uint8_t content_type,
                                            slim_mls_framed_content *fc, slim_mls_auth_data *auth);

/*
 * struct {
 *     uint32 leaf_index;
 *     uint32 generation;
 *     opaque reuse_guard[4];
 * } SenderData;
 */
#define SLIM_MLS_SENDER_DATA_SIZE 12
typedef struct slim_mls_sender_data {
    uint32_t leaf_index;
    uint32_t generation;
    uint8_t reuse_guard[4];
} slim_mls_sender_data;

/* out[0..12) = the encoding. */
void slim_mls_sender_data_encode(const slim_mls_sender_data *sd, uint8_t *out);

/* E_MLS_BAD_SENDER_DATA unless `in` is exactly 12 bytes. */
slim_status slim_mls_sender_data_decode(slim_bytes in, slim_mls_sender_data *sd);

/*
 * struct {
 *     ProtocolVersion version = mls10;
 *     WireFormat wire_format;
 *     select (MLSMessage.wire_format) {
 *         case mls_public_message:
 *             PublicMessage public_message;
 *         case mls_private_message:
 *             PrivateMessage private_message;
 *         case mls_welcome:
 *             Welcome welcome;
 *         case mls_group_info:
 *             GroupInfo group_info;
 *         case mls_key_package:
 *             KeyPackage key_package;
 *     };
 * } MLSMessage;
 */
typedef struct slim_mls_message {
    uint16_t version;
    uint16_t wire_format;
    union {
        slim_mls_public_message public_message;
        slim_mls_private_message private_message;
        slim_mls_welcome welcome;
        slim_mls_group_info group_info;
        slim_mls_key_package key_package;
    } u;
} slim_mls_message;

/* Appends the MLSMessage to `out`. E_MLS_BAD_VERSION,
 * E_MLS_UNKNOWN_WIRE_FORMAT, errors of the body. */
slim_status slim_mls_message_encode(const slim_mls_message *m, slim_buf *out);

/* Decodes a whole MLSMessage (views borrow `in`). E_MLS_BAD_VERSION,
 * E_MLS_UNKNOWN_WIRE_FORMAT, errors of the body, E_MLS_TRAILING_BYTES. */
slim_status slim_mls_message_decode(slim_bytes in, slim_mls_message *m);

#endif
