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

/* ---- checking a message against its schema ----
 *
 * What the scan checks of each field of a known type: its wire type (a
 * repeated scalar may also come packed, length-delimited), that a singular
 * message field comes at most once and that two members of one oneof do not
 * both come (protobuf would merge or override those, and runtimes disagree
 * on how). Unknown fields are skipped, as protobuf does. The rules of a
 * message type are a table indexed by field number, made once from its
 * protobuf-c descriptor, so checking a field costs a few loads and compares. */

#define SLIM_PB_NO_FIELD 0xff /* slim_pb_rule.wire_type of a number the type lacks */

struct slim_pb_schema;

typedef struct slim_pb_rule {
    const struct slim_pb_schema *sub; /* the nested message's type, or NULL */
    uint64_t bit;                     /* the field's bit in `seen`; 0 for repeated fields */
    uint64_t conflicts;               /* the bits of the other members of its oneof */
    uint8_t wire_type;                /* the one its type needs, or SLIM_PB_NO_FIELD */
    bool packable;                    /* a repeated scalar: SLIM_PB_LEN accepted too */
} slim_pb_rule;

typedef struct slim_pb_schema {
    const ProtobufCMessageDescriptor *d;
    const slim_pb_rule *rules; /* by field number, 0..max */
    uint32_t max;
} slim_pb_schema;

/* The schemas of a message type and of every type reachable from it, in
 * storage the caller provides (a static one, filled once). */
#define SLIM_PB_SCHEMA_TYPES 64
#define SLIM_PB_SCHEMA_RULES 1024
typedef struct slim_pb_schema_set {
    slim_pb_schema types[SLIM_PB_SCHEMA_TYPES];
    slim_pb_rule rules[SLIM_PB_SCHEMA_RULES];
    size_t ntypes, nrules;
} slim_pb_schema_set;

/* Fills set (zeroed by the caller) with root's schema and those of the
 * types under it; *out gets root's. E_INVALID_ARG when a type has a field
 * number over 64 or a field index of 64 or more among its singular fields,
 * or when the set is too small. */
slim_status slim_pb_schema_build(slim_pb_schema_set *set, const ProtobufCMessageDescriptor *root,
                                 const slim_pb_schema **out);

/* The schema of type d within set, NULL when it is not there. */
const slim_pb_schema *slim_pb_schema_find(const slim_pb_schema_set *set,
                                          const ProtobufCMessageDescriptor *d);

/* The data-plane Message's schema (src/wire/wire.c), made on first use;
 * NULL only if the generated code outgrew slim_pb_schema_set. */
const slim_pb_schema *slim_wire_message_schema(void);

/* Walks every field of a message of type s, checking each as above and
 * descending into nested messages; OK when the whole tree is well formed.
 * This also catches what protobuf-c lets through on some paths (field
 * number 0 in a multi-byte tag), tells truncation from garbage, and lets
 * the forwarding path validate a message without decoding it. */
slim_status slim_pb_scan(slim_bytes msg, const slim_pb_schema *s);

/* slim_pb_scan() of a nested message: a truncation inside it means its
 * length lied, which is reported as E_WIRE_MALFORMED. */
slim_status slim_pb_scan_nested(slim_bytes msg, const slim_pb_schema *s);

/* Number of bytes the varint encoding of v takes (1..10). */
size_t slim_pb_varint_size(uint64_t v);

/* ---- one checked step, inline: the forwarding path runs it for every
 * field of every message ---- */

/* One step of slim_pb_scan(): reads the next field of a message of type s
 * and checks it (`seen` starts at 0 for each message), without descending.
 * *rule receives the field's rule, NULL for a field the type does not
 * have. Lets a caller walk the fields it interprets itself and scan the
 * others. */
static inline slim_status slim_pb_next_checked(slim_reader *r, const slim_pb_schema *s,
                                               uint64_t *seen, slim_pb_field *f,
                                               const slim_pb_rule **rule) {
    slim_status st = slim_pb_next(r, f);
    if (st != SLIM_OK)
        return st;
    const slim_pb_rule *ru = f->number <= s->max ? &s->rules[f->number] : NULL;
    if (ru != NULL && ru->wire_type == SLIM_PB_NO_FIELD)
        ru = NULL;
    *rule = ru;
    if (ru == NULL)
        return SLIM_OK;
    if (f->wire_type != ru->wire_type && !(ru->packable && f->wire_type == SLIM_PB_LEN))
        return SLIM_E_WIRE_MALFORMED;
    if ((*seen & ru->conflicts) != 0 || ((*seen & ru->bit) != 0 && ru->sub != NULL))
        return SLIM_E_WIRE_MALFORMED;
    *seen |= ru->bit;
    return SLIM_OK;
}

#endif
