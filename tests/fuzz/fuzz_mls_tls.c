/*
 * libFuzzer target: the MLS TLS codec (src/mls/tls) and the struct codecs
 * built on it (GroupContext, Extension, PreSharedKeyID).
 *
 * The first input byte picks what the rest is decoded as:
 *   0  a generic structure: a sequence of tagged items (u8, u16, u32, u64,
 *      varint, opaque<V>, optional<opaque<V>>, nested vector of items),
 *      re-encoded as it is read;
 *   1  a GroupContext;
 *   2  a PreSharedKeyID;
 *   3  an Extension list body.
 * Whatever the input, decoding returns a status. When it succeeds the
 * encoding of what was decoded must equal the input byte for byte (the
 * codec is canonical); any difference aborts.
 */
#include "mls/group_context.h"
#include "mls/psk.h"
#include "mls/tls.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 8

/* Decodes items from r until it is used up, writing each to w. */
static void items(slim_mls_tls_reader *r, slim_mls_tls_writer *w, int depth) {
    while (slim_mls_tls_reader_more(r)) {
        uint8_t tag, u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        bool present;
        slim_bytes v;
        slim_mls_tls_reader sub;
        slim_mls_tls_get_u8(r, &tag);
        slim_mls_tls_put_u8(w, tag);
        switch (tag) {
        case 0:
            slim_mls_tls_get_u8(r, &u8);
            slim_mls_tls_put_u8(w, u8);
            break;
        case 1:
            slim_mls_tls_get_u16(r, &u16);
            slim_mls_tls_put_u16(w, u16);
            break;
        case 2:
            slim_mls_tls_get_u32(r, &u32);
            slim_mls_tls_put_u32(w, u32);
            break;
        case 3:
            slim_mls_tls_get_u64(r, &u64);
            slim_mls_tls_put_u64(w, u64);
            break;
        case 4:
            slim_mls_tls_get_varint(r, &u64);
            if (slim_mls_tls_reader_status(r) == SLIM_OK)
                slim_mls_tls_put_varint(w, u64);
            break;
        case 5:
            slim_mls_tls_get_opaque(r, &v);
            slim_mls_tls_put_opaque(w, v);
            break;
        case 6:
            slim_mls_tls_get_optional(r, &present);
            slim_mls_tls_put_optional(w, present);
            if (present) {
                slim_mls_tls_get_opaque_max(r, 64, &v);
                slim_mls_tls_put_opaque(w, v);
            }
            break;
        case 7: {
            if (depth >= MAX_DEPTH) {
                slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_VALUE);
                break;
            }
            slim_mls_tls_get_vector(r, &sub);
            size_t mark = slim_mls_tls_vec_begin(w);
            items(&sub, w, depth + 1);
            slim_mls_tls_end_vector(r, &sub);
            if (slim_mls_tls_reader_status(r) == SLIM_OK)
                slim_mls_tls_vec_end(w, mark);
            break;
        }
        default:
            slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_VALUE);
        }
    }
}

static void same_or_abort(slim_bytes in, const slim_buf *out) {
    if (out->len != in.len || (in.len > 0 && memcmp(out->data, in.ptr, in.len) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    slim_bytes in = slim_bytes_of(data + 1, size - 1);
    slim_buf out = SLIM_BUF_INIT;
    slim_mls_tls_reader r;
    slim_mls_tls_writer w;
    slim_mls_tls_reader_init(&r, in);
    slim_mls_tls_writer_init(&w, &out);
    switch (data[0] % 4) {
    case 0:
        items(&r, &w, 0);
        if (slim_mls_tls_reader_finish(&r) == SLIM_OK) {
            if (slim_mls_tls_writer_status(&w) != SLIM_OK)
                abort();
            same_or_abort(in, &out);
        }
        break;
    case 1: {
        slim_mls_group_context gc;
        if (slim_mls_group_context_decode(in, &gc) == SLIM_OK) {
            if (slim_mls_group_context_encode(&gc, &out) != SLIM_OK)
                abort();
            same_or_abort(in, &out);
        }
        break;
    }
    case 2: {
        slim_mls_psk_id id;
        slim_mls_psk_id_decode(&r, &id);
        if (slim_mls_tls_reader_finish(&r) == SLIM_OK) {
            if (slim_mls_psk_id_encode(&w, &id) != SLIM_OK)
                abort();
            same_or_abort(in, &out);
        }
        break;
    }
    case 3: {
        slim_mls_extension ext;
        bool more = true;
        while (more && slim_mls_extensions_next(&r, &ext, &more) == SLIM_OK) {
            if (more)
                slim_mls_extension_encode(&w, &ext);
        }
        if (slim_mls_tls_reader_finish(&r) == SLIM_OK) {
            if (slim_mls_tls_writer_status(&w) != SLIM_OK)
                abort();
            same_or_abort(in, &out);
        }
        break;
    }
    }
    slim_buf_cleanup(&out);
    return 0;
}
