/* slim_buf growth policy: doubling, starting at 64 bytes. */
#include "core/buf.h"
#include "core/alloc.h"
#include "core/util.h"

#include <string.h>

void slim_buf_cleanup(slim_buf *b) {
    slim_free(b->data);
    slim_buf_init(b);
}

void slim_buf_cleanup_secret(slim_buf *b) {
    if (b->data != NULL)
        slim_memzero(b->data, b->cap);
    slim_buf_cleanup(b);
}

slim_status slim_buf_reserve(slim_buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->len)
        return SLIM_E_OVERFLOW;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return SLIM_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = slim_realloc(b->data, cap);
    if (p == NULL)
        return SLIM_E_NOMEM;
    b->data = p;
    b->cap = cap;
    return SLIM_OK;
}

slim_status slim_buf_append(slim_buf *b, const void *p, size_t n) {
    slim_status st = slim_buf_reserve(b, n);
    if (st != SLIM_OK)
        return st;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return SLIM_OK;
}

slim_status slim_buf_append_zeros(slim_buf *b, size_t n, uint8_t **out) {
    slim_status st = slim_buf_reserve(b, n);
    if (st != SLIM_OK)
        return st;
    if (n > 0)
        memset(b->data + b->len, 0, n);
    if (out != NULL)
        *out = b->data + b->len;
    b->len += n;
    return SLIM_OK;
}

static slim_status append_be(slim_buf *b, uint64_t v, size_t n) {
    uint8_t tmp[8];
    for (size_t i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return slim_buf_append(b, tmp, n);
}

slim_status slim_buf_append_u8(slim_buf *b, uint8_t v) {
    return slim_buf_append(b, &v, 1);
}

slim_status slim_buf_append_u16(slim_buf *b, uint16_t v) {
    return append_be(b, v, 2);
}

slim_status slim_buf_append_u32(slim_buf *b, uint32_t v) {
    return append_be(b, v, 4);
}

slim_status slim_buf_append_u64(slim_buf *b, uint64_t v) {
    return append_be(b, v, 8);
}

void slim_buf_consume(slim_buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static slim_status read_be(slim_reader *r, size_t n, uint64_t *out) {
    if (slim_reader_remaining(r) < n)
        return SLIM_E_TRUNCATED;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | r->ptr[r->pos + i];
    r->pos += n;
    *out = v;
    return SLIM_OK;
}

slim_status slim_reader_u8(slim_reader *r, uint8_t *out) {
    uint64_t v;
    slim_status st = read_be(r, 1, &v);
    if (st == SLIM_OK)
        *out = (uint8_t)v;
    return st;
}

slim_status slim_reader_u16(slim_reader *r, uint16_t *out) {
    uint64_t v;
    slim_status st = read_be(r, 2, &v);
    if (st == SLIM_OK)
        *out = (uint16_t)v;
    return st;
}

slim_status slim_reader_u32(slim_reader *r, uint32_t *out) {
    uint64_t v;
    slim_status st = read_be(r, 4, &v);
    if (st == SLIM_OK)
        *out = (uint32_t)v;
    return st;
}

slim_status slim_reader_u64(slim_reader *r, uint64_t *out) {
    return read_be(r, 8, out);
}

slim_status slim_reader_bytes(slim_reader *r, size_t n, slim_bytes *out) {
    if (slim_reader_remaining(r) < n)
        return SLIM_E_TRUNCATED;
    out->ptr = r->ptr == NULL ? NULL : r->ptr + r->pos;
    out->len = n;
    r->pos += n;
    return SLIM_OK;
}

slim_status slim_reader_finish(const slim_reader *r) {
    return slim_reader_remaining(r) == 0 ? SLIM_OK : SLIM_E_TRAILING;
}
