#include "wire/pbscan.h"

slim_status slim_pb_read_varint(slim_reader *r, uint64_t *out) {
    uint64_t v = 0;
    size_t pos = r->pos;
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

slim_status slim_pb_next(slim_reader *r, slim_pb_field *f) {
    size_t start = r->pos;
    uint64_t key;
    slim_status st = slim_pb_read_varint(r, &key);
    if (st != SLIM_OK)
        goto fail;
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
        st = slim_pb_read_varint(r, &n);
        if (st != SLIM_OK)
            break;
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

slim_status slim_pb_scan(slim_bytes msg, const ProtobufCMessageDescriptor *d) {
    slim_reader r;
    slim_reader_init(&r, msg);
    slim_pb_field f;
    while (slim_reader_remaining(&r) > 0) {
        slim_status st = slim_pb_next(&r, &f);
        if (st != SLIM_OK)
            return st;
        if (d == NULL || f.wire_type != SLIM_PB_LEN)
            continue;
        const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(d, f.number);
        if (fd == NULL || fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        /* The schema has no recursive types, so the depth is bounded. */
        st = slim_pb_scan(f.bytes, fd->descriptor);
        if (st == SLIM_E_TRUNCATED)
            st = SLIM_E_WIRE_MALFORMED; /* a nested length that lies */
        if (st != SLIM_OK)
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
