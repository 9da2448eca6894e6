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
        size_t at = r->pos;
        st = slim_pb_read_varint(r, &n);
        if (st != SLIM_OK)
            break;
        f->value = n;
        f->value_off = r->pos;
        if (n > slim_reader_remaining(r)) {
            st = SLIM_E_TRUNCATED;
            break;
        }
        if (r->pos - at > 5) {
            st = SLIM_E_WIRE_MALFORMED; /* protobuf-c takes 5 bytes at most here too */
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
    bool again = (*seen >> idx) & 1;
    *seen |= 1ull << idx;
    if (again)
        return fd->type == PROTOBUF_C_TYPE_MESSAGE;
    if (!(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return false;
    for (unsigned i = 0; i < d->n_fields && i < 64; i++)
        if (i != idx && ((*seen >> i) & 1) && (d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            d->fields[i].quantifier_offset == fd->quantifier_offset)
            return true;
    return false;
}

slim_status slim_pb_scan(slim_bytes msg, const ProtobufCMessageDescriptor *d) {
    slim_reader r;
    slim_reader_init(&r, msg);
    slim_pb_field f;
    uint64_t seen = 0;
    while (slim_reader_remaining(&r) > 0) {
        slim_status st = slim_pb_next(&r, &f);
        if (st != SLIM_OK)
            return st;
        const ProtobufCFieldDescriptor *fd =
            d ? protobuf_c_message_descriptor_get_field(d, f.number) : NULL;
        if (fd == NULL)
            continue; /* unknown fields are skipped, as protobuf does */
        int want = expected_wire_type(fd);
        bool packed = fd->label == PROTOBUF_C_LABEL_REPEATED && want != SLIM_PB_LEN &&
                      f.wire_type == SLIM_PB_LEN;
        if (f.wire_type != want && !packed)
            return SLIM_E_WIRE_MALFORMED;
        if (duplicate(d, fd, &seen))
            return SLIM_E_WIRE_MALFORMED;
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
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
