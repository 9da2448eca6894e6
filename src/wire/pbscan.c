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

/* The descriptor of field `number`. Our messages number their fields 1..n
 * without gaps, so the direct index almost always hits; otherwise search. */
static const ProtobufCFieldDescriptor *field_of(const ProtobufCMessageDescriptor *d,
                                                uint32_t number) {
    if (number - 1 < d->n_fields && d->fields[number - 1].id == number)
        return &d->fields[number - 1];
    return protobuf_c_message_descriptor_get_field(d, number);
}

/* The wire type a field of this protobuf-c type is encoded with. */
static int expected_wire_type(const ProtobufCFieldDescriptor *fd) {
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

/* Refuses what protobuf would merge or silently override in ways decoders
 * disagree on: a singular message field given twice (protobuf-c fails on
 * some of those merges where other runtimes accept them), and two different
 * members of one oneof. `seen` has a bit per field index of d. */
static bool duplicate(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *fd,
                      uint64_t *seen) {
    size_t idx = (size_t)(fd - d->fields);
    if (idx >= 64 || fd->label == PROTOBUF_C_LABEL_REPEATED)
        return false;
    uint64_t others = *seen & ~(1ull << idx);
    bool again = (*seen >> idx) & 1;
    *seen |= 1ull << idx;
    if (again)
        return fd->type == PROTOBUF_C_TYPE_MESSAGE;
    if (!(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return false;
    for (; others != 0; others &= others - 1) { /* fields seen so far */
        const ProtobufCFieldDescriptor *o = &d->fields[__builtin_ctzll(others)];
        if ((o->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            o->quantifier_offset == fd->quantifier_offset)
            return true;
    }
    return false;
}

slim_status slim_pb_next_checked(slim_reader *r, const ProtobufCMessageDescriptor *d,
                                 uint64_t *seen, slim_pb_field *f,
                                 const ProtobufCFieldDescriptor **fdp) {
    slim_status st = slim_pb_next(r, f);
    if (st != SLIM_OK)
        return st;
    const ProtobufCFieldDescriptor *fd = d ? field_of(d, f->number) : NULL;
    *fdp = fd;
    if (fd == NULL)
        return SLIM_OK; /* unknown fields are skipped, as protobuf does */
    int want = expected_wire_type(fd);
    bool packed = fd->label == PROTOBUF_C_LABEL_REPEATED && want != SLIM_PB_LEN &&
                  f->wire_type == SLIM_PB_LEN;
    if (f->wire_type != want && !packed)
        return SLIM_E_WIRE_MALFORMED;
    if (duplicate(d, fd, seen))
        return SLIM_E_WIRE_MALFORMED;
    return SLIM_OK;
}

slim_status slim_pb_scan_nested(slim_bytes msg, const ProtobufCMessageDescriptor *d) {
    slim_status st = slim_pb_scan(msg, d);
    return st == SLIM_E_TRUNCATED ? SLIM_E_WIRE_MALFORMED : st; /* a nested length that lies */
}

slim_status slim_pb_scan(slim_bytes msg, const ProtobufCMessageDescriptor *d) {
    slim_reader r;
    slim_reader_init(&r, msg);
    slim_pb_field f;
    const ProtobufCFieldDescriptor *fd;
    uint64_t seen = 0;
    while (slim_reader_remaining(&r) > 0) {
        slim_status st = slim_pb_next_checked(&r, d, &seen, &f, &fd);
        if (st != SLIM_OK)
            return st;
        /* The schema has no recursive types, so the depth is bounded. */
        if (fd != NULL && fd->type == PROTOBUF_C_TYPE_MESSAGE &&
            (st = slim_pb_scan_nested(f.bytes, fd->descriptor)) != SLIM_OK)
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
