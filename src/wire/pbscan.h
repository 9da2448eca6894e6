/*
 * A minimal protobuf field walker. It reads one field at a time (tag, wire
 * type, and the value or a view of it) without building any structure. The
 * wire codec uses it to tell truncated input from malformed input before
 * handing bytes to protobuf-c; the router's fast path uses it to read and
 * patch header fields in place.
 */
#ifndef SLIM_WIRE_PBSCAN_H
#define SLIM_WIRE_PBSCAN_H

#include "core/buf.h"
#include <protobuf-c/protobuf-c.h>

enum {
    SLIM_PB_VARINT = 0,
    SLIM_PB_FIXED64 = 1,
    SLIM_PB_LEN = 2,
    SLIM_PB_FIXED32 = 5,
};

typedef struct slim_pb_field {
    uint32_t number;
    uint8_t wire_type;
    uint64_t value;   /* varint, fixed32 or fixed64 value */
    slim_bytes bytes; /* SLIM_PB_LEN payload (borrowed) */
    size_t start;     /* offset of the tag in the reader's view */
    size_t value_off; /* offset of the value (after the tag and any length) */
} slim_pb_field;

/* Reads a base-128 varint of at most 10 bytes. E_TRUNCATED when the input
 * ends inside it, E_WIRE_MALFORMED when it is longer than 10 bytes or
 * overflows 64 bits. */
slim_status slim_pb_read_varint_slow(slim_reader *r, uint64_t *out);
static inline slim_status slim_pb_read_varint(slim_reader *r, uint64_t *out) {
    /* Most varints on the routing path (tags, small lengths) are one byte. */
    if (r->pos < r->len && r->ptr[r->pos] < 0x80) {
        *out = r->ptr[r->pos++];
        return SLIM_OK;
    }
    return slim_pb_read_varint_slow(r, out);
}

/* Reads the next field. E_TRUNCATED when the input ends inside the field,
 * E_WIRE_MALFORMED for field number 0, a group or an unknown wire type. */
slim_status slim_pb_next_slow(slim_reader *r, slim_pb_field *f);
static inline slim_status slim_pb_next(slim_reader *r, slim_pb_field *f) {
    /* Fast path: a one-byte tag (fields 1-15) with a varint value or a
     * length-delimited value, the shape of nearly every field on the routing
     * path. Anything else, and every error, goes through the slow path,
     * which tells truncation from malformed input. */
    size_t pos = r->pos;
    if (pos + 2 > r->len)
        return slim_pb_next_slow(r, f);
    uint8_t key = r->ptr[pos], wt = key & 7;
    if (key >= 0x80 || key < 8 || (wt != SLIM_PB_VARINT && wt != SLIM_PB_LEN))
        return slim_pb_next_slow(r, f);
    uint64_t v;
    r->pos = pos + 1;
    if (slim_pb_read_varint(r, &v) != SLIM_OK ||
        (wt == SLIM_PB_LEN && (r->pos - pos > 6 || v > r->len - r->pos))) {
        r->pos = pos;
        return slim_pb_next_slow(r, f);
    }
    f->start = pos;
    f->number = key >> 3;
    f->wire_type = wt;
    f->value = v;
    f->value_off = wt == SLIM_PB_LEN ? r->pos : pos + 1;
    if (wt == SLIM_PB_LEN) {
        f->bytes.ptr = r->ptr + r->pos;
        f->bytes.len = (size_t)v;
        r->pos += (size_t)v;
    } else {
        f->bytes.ptr = NULL;
        f->bytes.len = 0;
    }
    return SLIM_OK;
}

/* Walks every field of a message of type d, checking that each known field
 * has the wire type its declared type needs and descending into the fields
 * declared as messages; OK when the whole tree is well formed. Unknown fields
 * are skipped. A singular message field given twice, or two members of one
 * oneof, are refused: protobuf would merge or override them, and runtimes
 * disagree on those cases. This catches what protobuf-c lets through on some paths (field
 * number 0 in a multi-byte tag), tells truncation from garbage, and lets the
 * forwarding path validate a message without decoding it. */
slim_status slim_pb_scan(slim_bytes msg, const ProtobufCMessageDescriptor *d);

/* slim_pb_scan() of a nested message: a truncation inside it means its
 * length lied, which is reported as E_WIRE_MALFORMED. */
slim_status slim_pb_scan_nested(slim_bytes msg, const ProtobufCMessageDescriptor *d);

/* Number of bytes the varint encoding of v takes (1..10). */
size_t slim_pb_varint_size(uint64_t v);

/* ---- one checked step, inline: the forwarding path runs it for every
 * field of every message ---- */

/* The descriptor of field `number`. Our messages number their fields 1..n
 * without gaps, so the direct index almost always hits; otherwise search. */
static inline const ProtobufCFieldDescriptor *slim_pb_field_of(const ProtobufCMessageDescriptor *d,
                                                               uint32_t number) {
    if (number - 1 < d->n_fields && d->fields[number - 1].id == number)
        return &d->fields[number - 1];
    return protobuf_c_message_descriptor_get_field(d, number);
}

/* The wire type a field of this protobuf-c type is encoded with. */
static inline int slim_pb_expected_wire_type(const ProtobufCFieldDescriptor *fd) {
    switch (fd->type) {
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return SLIM_PB_FIXED64;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return SLIM_PB_FIXED32;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return SLIM_PB_LEN;
    default:
        return SLIM_PB_VARINT;
    }
}

/* True when another member of fd's oneof is among the fields `others` (a
 * bit per field index of d). */
bool slim_pb_oneof_taken(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *fd,
                         uint64_t others);

/* Refuses what protobuf would merge or silently override in ways decoders
 * disagree on: a singular message field given twice (protobuf-c fails on
 * some of those merges where other runtimes accept them), and two different
 * members of one oneof. `seen` has a bit per field index of d. */
static inline bool slim_pb_duplicate(const ProtobufCMessageDescriptor *d,
                                     const ProtobufCFieldDescriptor *fd, uint64_t *seen) {
    size_t idx = (size_t)(fd - d->fields);
    if (idx >= 64 || fd->label == PROTOBUF_C_LABEL_REPEATED)
        return false;
    uint64_t others = *seen & ~(1ull << idx);
    bool again = (*seen >> idx) & 1;
    *seen |= 1ull << idx;
    if (again)
        return fd->type == PROTOBUF_C_TYPE_MESSAGE;
    return (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && slim_pb_oneof_taken(d, fd, others);
}

/* One step of slim_pb_scan(): reads the next field of a message of type d
 * and checks its wire type and repetition (`seen` starts at 0 for each
 * message), without descending. *fd receives the field's descriptor, NULL
 * for a field the schema does not know. Lets a caller walk the fields it
 * interprets itself and scan the others. */
static inline slim_status slim_pb_next_checked(slim_reader *r, const ProtobufCMessageDescriptor *d,
                                               uint64_t *seen, slim_pb_field *f,
                                               const ProtobufCFieldDescriptor **fdp) {
    slim_status st = slim_pb_next(r, f);
    if (st != SLIM_OK)
        return st;
    const ProtobufCFieldDescriptor *fd = d ? slim_pb_field_of(d, f->number) : NULL;
    *fdp = fd;
    if (fd == NULL)
        return SLIM_OK; /* unknown fields are skipped, as protobuf does */
    int want = slim_pb_expected_wire_type(fd);
    bool packed = fd->label == PROTOBUF_C_LABEL_REPEATED && want != SLIM_PB_LEN &&
                  f->wire_type == SLIM_PB_LEN;
    if (f->wire_type != want && !packed)
        return SLIM_E_WIRE_MALFORMED;
    if (slim_pb_duplicate(d, fd, seen))
        return SLIM_E_WIRE_MALFORMED;
    return SLIM_OK;
}

#endif
