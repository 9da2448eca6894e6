/*
 * The forwarding fast path: read what routing needs from an encoded Publish
 * and write the egress form, without decoding the message into a tree.
 *
 * slim_wire_peek() validates the whole message structurally (the same
 * checks as slim_wire_decode(): field numbers, wire types, lengths, nested
 * messages) and extracts the routing fields of a Publish. For the other
 * message kinds it only reports the kind; they are rare and are decoded in
 * full by the caller. The structural scan has already refused repeated
 * singular message fields and oneof conflicts, so every field read here
 * occurs at most once.
 *
 * slim_wire_publish_egress() writes the message as it leaves a node: ttl set
 * to the given value, the node-local fields recv_from, forward_to and
 * incoming_conn removed, and the per-hop header_mac removed (it belongs to
 * the link the message came in on), every other byte copied as received.
 * For input in canonical field order the result equals decoding, changing
 * those fields and re-encoding.
 */
#ifndef SLIM_WIRE_FASTPATH_H
#define SLIM_WIRE_FASTPATH_H

#include "wire/wire.h"

typedef struct slim_peek {
    slim_msg_kind kind;
    /* The rest is set for SLIM_MSG_PUBLISH only. */
    slim_name source;
    slim_name destination;
    slim_str dst_text[3]; /* destination's string components, or empty */
    uint32_t fanout;
    uint32_t ttl;
    bool has_forward_to;
    uint64_t forward_to;
    bool has_error; /* the error field is present ... */
    bool error;     /* ... and true */
    bool has_session;
    uint32_t session_type;
    uint32_t message_type;
    uint32_t session_id;
    uint32_t message_id;
    /* Layout, for the egress rewrite. */
    size_t pub_start, pub_end; /* the publish field (tag to end) in the message */
    size_t pub_value;          /* offset of the publish value in the message */
    size_t hdr_start, hdr_end; /* the header field within the publish value */
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
 * header or its source or destination name is absent (*what names it). */
slim_status slim_wire_peek(slim_bytes msg, size_t max_size, slim_peek *out, const char **what);

/* Appends the egress form of a peeked Publish to out (see above); ttl 0
 * omits the field, as the proto3 default. When incoming is not NULL the
 * header also gets incoming_conn = *incoming: only for delivery to an
 * application in this process, never onto a gRPC link. E_NOMEM. */
slim_status slim_wire_publish_egress(slim_bytes msg, const slim_peek *p, uint32_t ttl,
                                     const uint64_t *incoming, slim_buf *out);

/* The same in two steps, for writing straight into a buffer of the right
 * size: the size of the egress form, then the bytes (exactly that many). */
size_t slim_wire_publish_egress_size(slim_bytes msg, const slim_peek *p, uint32_t ttl,
                                     const uint64_t *incoming);
void slim_wire_publish_egress_write(slim_bytes msg, const slim_peek *p, uint32_t ttl,
                                    const uint64_t *incoming, uint8_t *out);

#endif
