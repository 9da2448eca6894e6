#include "wire/pbscan.h"

#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the varint fast path reads eight bytes as a little-endian word"
#endif

slim_status slim_pb_read_varint_slow(slim_reader *r, uint64_t *out) {
    size_t pos = r->pos;
    const uint8_t *p = r->ptr + pos;
    if (r->len - pos >= 10) {
        /* At least ten bytes: find the last byte from the continuation bits
         * of the first eight, then gather the 7-bit groups without a loop. */
        uint64_t x;
        memcpy(&x, p, 8); /* little-endian hosts only (x86_64, aarch64) */
        uint64_t stops = ~x & 0x8080808080808080ull;
        size_t len;
        if (stops != 0) {
            len = (size_t)(__builtin_ctzll(stops) >> 3) + 1;
            if (len < 8)
                x &= (1ull << (8 * len)) - 1;
        } else if (p[8] < 0x80) {
            len = 9;
        } else if (p[9] <= 1) {
            len = 10;
        } else {
            return SLIM_E_WIRE_MALFORMED; /* more than 64 bits, or an 11th byte */
        }
        x &= 0x7f7f7f7f7f7f7f7full;
        x = ((x & 0x7f007f007f007f00ull) >> 1) | (x & 0x007f007f007f007full);
        x = ((x & 0x3fff00003fff0000ull) >> 2) | (x & 0x00003fff00003fffull);
        x = ((x & 0x0fffffff00000000ull) >> 4) | (x & 0x000000000fffffffull);
        if (len >= 9)
            x |= (uint64_t)(p[8] & 0x7f) << 56;
        if (len == 10)
            x |= (uint64_t)p[9] << 63;
        r->pos = pos + len;
        *out = x;
        return SLIM_OK;
    }
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (pos >= r->len)
            return SLIM_E_TRUNCATED;
        uint8_t b = r->ptr[pos++];
        if (shift == 63 && (b & 0x7e) != 0)
            return SLIM_E_WIRE_MALFORMED; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            r->pos = pos;
            *out = v;
            return SLIM_OK;
        }
    }
    return SLIM_E_WIRE_MALFORMED;
}

slim_status slim_pb_next_slow(slim_reader *r, slim_pb_field *f) {
    size_t start = r->pos;
    uint64_t key;
    slim_status st = slim_pb_read_varint(r, &key);
    if (st != SLIM_OK)
        goto fail;
    if (r->pos - start > 5) {
        st = SLIM_E_WIRE_MALFORMED; /* a tag is a 32-bit varint: 5 bytes at most */
        goto fail;
    }
    f->start = start;
    f->number = (uint32_t)(key >> 3);
    f->wire_type = (uint8_t)(key & 7);
    f->value = 0;
    f->bytes.ptr = NULL;
    f->bytes.len = 0;
    if (f->number == 0 || key >> 3 > 0x1fffffff) {
        st = SLIM_E_WIRE_MALFORMED;
        goto fail;
    }
    switch (f->wire_type) {
    case SLIM_PB_VARINT:
        f->value_off = r->pos;
        st = slim_pb_read_varint(r, &f->value);
        break;
    case SLIM_PB_FIXED64:
        f->value_off = r->pos;
        if (slim_reader_remaining(r) < 8) {
            st = SLIM_E_TRUNCATED;
            break;
        }
        for (int i = 0; i < 8; i++)
            f->value |= (uint64_t)r->ptr[r->pos + i] << (8 * i);
        r->pos += 8;
        break;
    case SLIM_PB_FIXED32:
        f->value_off = r->pos;
        if (slim_reader_remaining(r) < 4) {
            st = SLIM_E_TRUNCATED;
            break;
        }
        for (int i = 0; i < 4; i++)
            f->value |= (uint64_t)r->ptr[r->pos + i] << (8 * i);
        r->pos += 4;
        break;
    case SLIM_PB_LEN: {
        uint64_t n;
        size_t len_at = r->pos;
        st = slim_pb_read_varint(r, &n);
        if (st != SLIM_OK)
            break;
        if (r->pos - len_at > 5) {
            st = SLIM_E_WIRE_MALFORMED; /* a length is a 32-bit varint: 5 bytes at most */
            break;
        }
        f->value = n;
        f->value_off = r->pos;
        if (n > slim_reader_remaining(r)) {
            st = SLIM_E_TRUNCATED;
            break;
        }
        st = slim_reader_bytes(r, (size_t)n, &f->bytes);
        break;
    }
    default:
        st = SLIM_E_WIRE_MALFORMED; /* groups (3, 4) and 6, 7 */
        break;
    }
    if (st == SLIM_OK)
        return SLIM_OK;
fail:
    r->pos = start;
    return st;
}

/* The wire type a field of this protobuf-c type is encoded with. */
static uint8_t expected_wire_type(const ProtobufCFieldDescriptor *fd) {
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

const slim_pb_schema *slim_pb_schema_find(const slim_pb_schema_set *set,
                                          const ProtobufCMessageDescriptor *d) {
    for (size_t i = 0; i < set->ntypes; i++)
        if (set->types[i].d == d)
            return &set->types[i];
    return NULL;
}

/* Adds d's schema (and, depth first, those of its message fields). A type
 * is entered before its fields are, so a recursive schema terminates. */
static slim_status schema_add(slim_pb_schema_set *set, const ProtobufCMessageDescriptor *d,
                              const slim_pb_schema **out) {
    if ((*out = slim_pb_schema_find(set, d)) != NULL)
        return SLIM_OK;
    uint32_t max = 0;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].id > max)
            max = d->fields[i].id;
    if (max > 64 || set->ntypes == SLIM_PB_SCHEMA_TYPES ||
        SLIM_PB_SCHEMA_RULES - set->nrules < (size_t)max + 1)
        return SLIM_E_INVALID_ARG;
    slim_pb_schema *s = &set->types[set->ntypes++];
    slim_pb_rule *rules = &set->rules[set->nrules];
    set->nrules += max + 1;
    *s = (slim_pb_schema){.d = d, .rules = rules, .max = max};
    for (uint32_t n = 0; n <= max; n++)
        rules[n] = (slim_pb_rule){.wire_type = SLIM_PB_NO_FIELD};
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        bool repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
        if (!repeated && i >= 64)
            return SLIM_E_INVALID_ARG;
        slim_pb_rule *ru = &rules[fd->id];
        ru->wire_type = expected_wire_type(fd);
        ru->packable = repeated && ru->wire_type != SLIM_PB_LEN;
        ru->bit = repeated ? 0 : 1ull << i;
        for (unsigned j = 0; j < d->n_fields; j++) {
            const ProtobufCFieldDescriptor *o = &d->fields[j];
            if (j != i && (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                (o->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                o->quantifier_offset == fd->quantifier_offset)
                ru->conflicts |= 1ull << j;
        }
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        slim_status st = schema_add(set, fd->descriptor, &rules[fd->id].sub);
        if (st != SLIM_OK)
            return st;
    }
    *out = s;
    return SLIM_OK;
}

slim_status slim_pb_schema_build(slim_pb_schema_set *set, const ProtobufCMessageDescriptor *root,
                                 const slim_pb_schema **out) {
    return schema_add(set, root, out);
}

slim_status slim_pb_scan_nested(slim_bytes msg, const slim_pb_schema *s) {
    slim_status st = slim_pb_scan(msg, s);
    return st == SLIM_E_TRUNCATED ? SLIM_E_WIRE_MALFORMED : st; /* a nested length that lies */
}

slim_status slim_pb_scan(slim_bytes msg, const slim_pb_schema *s) {
    slim_reader r;
    slim_reader_init(&r, msg);
    slim_pb_field f;
    const slim_pb_rule *ru;
    uint64_t seen = 0;
    while (slim_reader_remaining(&r) > 0) {
        slim_status st = slim_pb_next_checked(&r, s, &seen, &f, &ru);
        if (st != SLIM_OK)
            return st;
        if (ru != NULL && ru->sub != NULL &&
            (st = slim_pb_scan_nested(f.bytes, ru->sub)) != SLIM_OK)
            return st;
    }
    return SLIM_OK;
}

size_t slim_pb_varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}
