/*
 * SLIM messages over the protobuf-c code generated from
 * proto/data-plane/v1/data_plane.proto.
 *
 * Every message handled here is a heap tree allocated through the libslim
 * allocator, whether it came from slim_wire_decode() or from a builder, so a
 * single slim_wire_free() releases either kind. Builders copy everything
 * they are given; the caller keeps ownership of its arguments.
 *
 * Pure code: no I/O, no global state besides the allocator.
 */
#ifndef SLIM_WIRE_H
#define SLIM_WIRE_H

#include "core/buf.h"
#include "slim/name.h"
#include "wire/link_type.h"
#include "data-plane/v1/data_plane.pb-c.h"

/* Short names for the generated types. */
typedef Dataplane__Proto__V1__Message slim_msg;
typedef Dataplane__Proto__V1__SLIMHeader slim_pb_header;
typedef Dataplane__Proto__V1__SessionHeader slim_pb_session;
typedef Dataplane__Proto__V1__Name slim_pb_name;
typedef Dataplane__Proto__V1__Content slim_pb_content;
typedef Dataplane__Proto__V1__CommandPayload slim_pb_command;
typedef Dataplane__Proto__V1__LinkNegotiationPayload slim_pb_link_negotiation;

typedef enum slim_msg_kind {
    SLIM_MSG_NONE = DATAPLANE__PROTO__V1__MESSAGE__MESSAGE_TYPE__NOT_SET,
    SLIM_MSG_SUBSCRIBE = DATAPLANE__PROTO__V1__MESSAGE__MESSAGE_TYPE_SUBSCRIBE,
    SLIM_MSG_UNSUBSCRIBE = DATAPLANE__PROTO__V1__MESSAGE__MESSAGE_TYPE_UNSUBSCRIBE,
    SLIM_MSG_PUBLISH = DATAPLANE__PROTO__V1__MESSAGE__MESSAGE_TYPE_PUBLISH,
    SLIM_MSG_LINK = DATAPLANE__PROTO__V1__MESSAGE__MESSAGE_TYPE_LINK,
    SLIM_MSG_SUBSCRIPTION_ACK = DATAPLANE__PROTO__V1__MESSAGE__MESSAGE_TYPE_SUBSCRIPTION_ACK,
} slim_msg_kind;

/* Upstream's default hop budget for messages we originate. */
#define SLIM_WIRE_DEFAULT_TTL 8
/* Default largest encoded Message accepted or produced (gRPC's default). */
#define SLIM_WIRE_DEFAULT_MAX_SIZE (4u * 1024u * 1024u)

/* The protobuf-c allocator that routes to the libslim allocator. */
extern ProtobufCAllocator slim_wire_allocator;

/* Decodes one Message from `in`, which must be exactly one encoded message.
 * Errors: E_TOO_LARGE (in.len > max_size), E_TRUNCATED (the input ends inside
 * a field), E_WIRE_MALFORMED (not a valid protobuf encoding of Message),
 * E_WIRE_UNKNOWN_TYPE (no message_type this schema knows), E_NOMEM.
 * On success *out owns the message; free it with slim_wire_free(). */
slim_status slim_wire_decode(slim_bytes in, size_t max_size, slim_msg **out);

/* Appends the encoding of m to out. E_TOO_LARGE when it would exceed
 * max_size (nothing is appended), E_NOMEM. */
slim_status slim_wire_encode(const slim_msg *m, size_t max_size, slim_buf *out);

/* Frees a message from slim_wire_decode() or a builder. NULL is a no-op. */
void slim_wire_free(slim_msg *m);

static inline slim_msg_kind slim_wire_kind(const slim_msg *m) {
    return (slim_msg_kind)m->message_type_case;
}

/* Checks what routing needs: Subscribe, Unsubscribe and Publish carry a
 * header with source and destination names that have an encoded form; a
 * Link carries a negotiation payload. E_WIRE_MISSING_FIELD names nothing
 * more specific; use the returned `what` (may be NULL) for the log line. */
slim_status slim_wire_validate(const slim_msg *m, const char **what);

/* The routing header of a Subscribe, Unsubscribe or Publish; NULL otherwise
 * or when absent. Borrowed from m. */
slim_pb_header *slim_wire_header(const slim_msg *m);

/* ---- Names ---- */

/* Reads the numeric name. A missing name_id means "any". E_WIRE_MISSING_FIELD
 * when n or its encoded form is absent. */
slim_status slim_wire_name_get(const slim_pb_name *n, slim_name *out);

/* Reads the text components when the name carries them (all three
 * non-empty); false otherwise. The views borrow from n. */
bool slim_wire_name_strings(const slim_pb_name *n, slim_str out[3]);

/* ---- Builders ---- */

/* A name to put on the wire: the numeric form, and optionally the text
 * components it was made from (NULL: no StringName is sent). */
typedef struct slim_wire_name {
    const slim_name *name;
    const slim_str *text; /* three components, or NULL */
} slim_wire_name;

typedef struct slim_wire_header_spec {
    slim_wire_name source;
    slim_wire_name destination;
    uint32_t fanout;
    uint32_t ttl; /* 0 means SLIM_WIRE_DEFAULT_TTL */
    const char *identity;
    bool has_recv_from;
    uint64_t recv_from;
    bool has_forward_to;
    uint64_t forward_to;
    bool has_error;
    bool error;
} slim_wire_header_spec;

typedef struct slim_wire_session_spec {
    Dataplane__Proto__V1__SessionType session_type;
    Dataplane__Proto__V1__SessionMessageType message_type;
    uint32_t session_id;
    uint32_t message_id;
} slim_wire_session_spec;

/* A Subscribe (or, with unsubscribe set, an Unsubscribe). */
slim_status slim_wire_subscribe_new(const slim_wire_header_spec *h, uint64_t subscription_id,
                                    bool unsubscribe, slim_msg **out);

/* A Publish with the given header and session header and no content yet;
 * add one with slim_wire_set_app_payload() or slim_wire_set_command(). */
slim_status slim_wire_publish_new(const slim_wire_header_spec *h, const slim_wire_session_spec *s,
                                  slim_msg **out);

/* Sets the content of a Publish to an ApplicationPayload (copies both).
 * E_INVALID_ARG when m is not a Publish. Replaces existing content. */
slim_status slim_wire_set_app_payload(slim_msg *m, const char *payload_type, slim_bytes blob);

/* Allocates an empty CommandPayload whose variant is the field `variant`
 * (DATAPLANE__PROTO__V1__COMMAND_PAYLOAD__COMMAND_PAYLOAD_TYPE_*), with the
 * inner payload allocated and initialised; the caller fills it in.
 * E_INVALID_ARG for an unknown variant. */
slim_status
slim_wire_command_new(Dataplane__Proto__V1__CommandPayload__CommandPayloadTypeCase variant,
                      slim_pb_command **out);

/* Sets the content of a Publish to cmd, taking ownership of cmd (also on
 * error, when it is freed). */
slim_status slim_wire_set_command(slim_msg *m, slim_pb_command *cmd);

/* Allocates a Name message for a wire name (used inside command payloads). */
slim_status slim_wire_name_new(const slim_wire_name *n, slim_pb_name **out);

slim_status slim_wire_subscription_ack_new(uint64_t subscription_id, bool success,
                                           const char *error, slim_msg **out);

typedef struct slim_wire_link_spec {
    const char *link_id;
    const char *slim_version;
    bool is_reply;
    slim_link_type connection_type;
    const char *node_id;
    slim_bytes public_key; /* link_ecdh_public_key; left out when empty */
} slim_wire_link_spec;

slim_status slim_wire_link_negotiation_new(const slim_wire_link_spec *spec, slim_msg **out);

/* The negotiation payload of a Link message, or NULL. Borrowed from m. */
const slim_pb_link_negotiation *slim_wire_link_negotiation(const slim_msg *m);

/* The connection type a negotiation payload announces (an unknown value
 * reads as REMOTE, as upstream reads it). */
slim_link_type slim_wire_link_type(const slim_pb_link_negotiation *ln);

/* Clears the fields of a header that belong to one hop: recv_from,
 * forward_to, incoming_conn, header_mac (before passing a decoded message
 * on). */
void slim_wire_header_clear_hop(slim_pb_header *h);

/* ---- End-to-end header integrity (session layer) ---- */

/* True for the session message types whose content is a CommandPayload:
 * 5 (DISCOVERY_REQUEST) to 20 (REJOIN_REPLY). These are the messages a
 * sender signs (e2e_header_sig) and that MLS never encrypts. */
static inline bool slim_wire_is_command_type(int session_message_type) {
    return session_message_type >= 5 && session_message_type <= 20;
}

/* Appends the header AAD of a Publish: the protobuf encoding of
 *
 *   HeaderIntegrityAad{ version = 1, source, destination, identity,
 *                       session_type, session_message_type, session_id,
 *                       message_id, payload_type }
 *
 * taken from m as upstream SLIM builds it (crates/session mls_state.rs
 * build_aad): the two names as they stand in the header (both forms,
 * name_id included), the header's identity, the session header's fields,
 * and the payload_type of an ApplicationPayload ("" for a command or no
 * content). Standard protobuf rules, so the bytes equal any other
 * encoder's: fields in number order, default values left out, and, as
 * upstream's decoder does, unknown fields of the names dropped and enum
 * values the schema does not know read as 0. This is what e2e_header_sig
 * signs and what MLS binds into its AEAD.
 * E_INVALID_ARG when m is not a Publish; E_WIRE_MISSING_FIELD without a
 * header, source, destination or session header; E_NOMEM (nothing
 * appended on error). */
slim_status slim_wire_header_aad(const slim_msg *m, slim_buf *out);

/* Sets the identity token of m's header to a copy of token (empty: no
 * identity). E_INVALID_ARG (m NULL), E_WIRE_MISSING_FIELD (no header),
 * E_NOMEM (m unchanged). */
slim_status slim_wire_set_identity(slim_msg *m, slim_str token);

/* Sets e2e_header_sig of m's header to a copy of sig, or removes the
 * field when sig.ptr is NULL (an empty non-NULL sig is sent as a present,
 * empty field). Errors as slim_wire_set_identity. */
slim_status slim_wire_set_header_sig(slim_msg *m, slim_bytes sig);

/* ---- Metadata ---- */

/* Sets key to value (copies both), replacing an existing entry. */
slim_status slim_wire_metadata_set(slim_msg *m, const char *key, const char *value);
/* The value for key, or NULL. Borrowed from m. */
const char *slim_wire_metadata_get(const slim_msg *m, const char *key);

#endif
