/*
 * The forwarding fast path: read what routing needs from an encoded
 * message and write the egress form, without decoding the message into a
 * tree.
 *
 * slim_wire_peek() validates the whole message structurally (the same
 * checks as slim_wire_decode(): field numbers, wire types, lengths, nested
 * messages) and extracts the routing header of a Publish, Subscribe or
 * Unsubscribe (and a Publish's session header). For the other kinds it
 * only reports the kind. The structural scan has already refused repeated
 * singular message fields and oneof conflicts, so every field read here
 * occurs at most once.
 *
 * slim_wire_egress() writes the message as it leaves a node: ttl set to the
 * given value, the node-local fields recv_from, forward_to and
 * incoming_conn removed, the per-hop header_mac replaced (by the next
 * hop's tag, or by nothing), every other byte copied as received. For
 * input in canonical field order the result equals decoding, changing those
 * fields and re-encoding.
 *
 * slim_wire_mac_fields() writes the header fields the per-hop header MAC
 * covers, in the layout of upstream SLIM's links (docs/protocol.md).
 */
#ifndef SLIM_WIRE_FASTPATH_H
#define SLIM_WIRE_FASTPATH_H

#include "wire/wire.h"

/* Bytes of a header MAC (HMAC-SHA256). */
#define SLIM_WIRE_MAC_SIZE 32

/* A name as it was on the wire (what the header MAC covers besides the
 * hashes and id, which are in the slim_name next to it). */
typedef struct slim_peek_name {
    bool present;     /* the header field is there */
    bool has_encoded; /* ... with its EncodedName (hashes) */
    bool has_id;      /* ... with a NameId */
    bool has_strings; /* ... with a StringName */
    slim_str text[3]; /* its strings, or empty */
} slim_peek_name;

typedef struct slim_peek {
    slim_msg_kind kind;
    /* The rest is set for Publish, Subscribe and Unsubscribe (the session
     * fields for a Publish only). A Subscribe or Unsubscribe may lack its
     * header or names (has_header, has_source, has_destination); whoever
     * handles it refuses it. */
    bool has_header, has_source, has_destination; /* names with hashes */
    slim_name source;
    slim_name destination;
    slim_str dst_text[3]; /* destination's string components, or empty */
    slim_peek_name src_wire, dst_wire;
    slim_bytes identity;
    uint32_t fanout;
    uint32_t ttl;
    bool has_recv_from;
    uint64_t recv_from;
    bool has_forward_to;
    uint64_t forward_to;
    bool has_error; /* the error field is present ... */
    bool error;     /* ... and true */
    bool has_mac;   /* header_mac is present: mac views it in the message */
    slim_bytes mac;
    bool has_session;
    uint32_t session_type;
    uint32_t message_type;
    uint32_t session_id;
    uint32_t message_id;
    /* Layout, for the egress rewrite. */
    size_t pub_start, pub_end; /* the publish (or (un)subscribe) field, tag to end */
    size_t pub_value;          /* offset of its value in the message */
    size_t hdr_start, hdr_end; /* the header field within that value */
    size_t hdr_value;          /* offset of the header value within the publish value */
    /* Within the header value: the fields the egress form rewrites (6-11:
     * ttl, node-local fields, error, header_mac) occupy [cut_start, cut_end)
     * when the header is in field order (canonical). */
    bool hdr_ordered;
    size_t cut_start, cut_end;
} slim_peek;

/* Classifies and validates one encoded Message. Errors as for
 * slim_wire_decode(): E_TOO_LARGE, E_TRUNCATED, E_WIRE_MALFORMED,
 * E_WIRE_UNKNOWN_TYPE; and for a Publish, E_WIRE_MISSING_FIELD when the
 * header or its source or destination name is absent (*what names it).
 * *out is meaningful only when the result is OK. */
slim_status slim_wire_peek(slim_bytes msg, size_t max_size, slim_peek *out, const char **what);

/* Appends the egress form of a peeked message with a header (see above);
 * ttl 0 omits the field, as the proto3 default. When incoming is not NULL
 * the header also gets incoming_conn = *incoming: only for delivery to an
 * application in this process, never onto a gRPC link. When mac is not
 * NULL its SLIM_WIRE_MAC_SIZE bytes become the header_mac. E_NOMEM. */
slim_status slim_wire_egress(slim_bytes msg, const slim_peek *p, uint32_t ttl,
                             const uint64_t *incoming, const uint8_t *mac, slim_buf *out);

/* The same in two steps, for writing straight into a buffer of the right
 * size: the size of the egress form, then the bytes (exactly that many). */
size_t slim_wire_egress_size(slim_bytes msg, const slim_peek *p, uint32_t ttl,
                             const uint64_t *incoming, bool with_mac);
void slim_wire_egress_write(slim_bytes msg, const slim_peek *p, uint32_t ttl,
                            const uint64_t *incoming, const uint8_t *mac, uint8_t *out);

/* Appends to out the header fields the header MAC covers (everything after
 * the link prefix): source, destination, identity, fanout, recv_from,
 * forward_to, error, ttl, from what the peek read (no parsing). As received
 * when ttl is NULL and clear_node_local is false (to verify); as the egress
 * form with the given ttl will carry them when *ttl and clear_node_local
 * are given (to sign). The peek's views must still be valid. E_NOMEM,
 * E_WIRE_MISSING_FIELD when the message has no header. */
slim_status slim_wire_mac_fields(const slim_peek *p, const uint32_t *ttl, bool clear_node_local,
                                 slim_buf *out);

/* ---- A publish written from values (src/wire/direct.c) ---- */

/* A Publish with an application payload, as values. header.ttl 0 means
 * SLIM_WIRE_DEFAULT_TTL; header.recv_from is ignored; header.forward_to is
 * a routing instruction for the router and is not written. */
typedef struct slim_wire_publish_values {
    slim_wire_header_spec header;
    slim_wire_session_spec session;
    const char *payload_type; /* may be NULL: none */
    slim_bytes payload;
} slim_wire_publish_values;

/* The bytes of the Message, and writing them into out (exactly that many):
 * the same bytes protobuf-c writes for the same message, already in egress
 * form (no node-local fields, no header MAC). *p is filled as slim_wire_peek
 * would fill it from those bytes (its views point into out), plus
 * forward_to from the values. */
size_t slim_wire_publish_values_size(const slim_wire_publish_values *v);
void slim_wire_publish_values_write(const slim_wire_publish_values *v, uint8_t *out, slim_peek *p);

#endif
