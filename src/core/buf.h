/*
 * The one buffer type of libslim, and a bounds-checked reader over a view.
 *
 * slim_buf owns a growable array of bytes; slim_bytes (slim/common.h) is a
 * borrowed view. A length never travels apart from its pointer. Integers are
 * read and written big-endian (network order), which is what the MLS TLS
 * codec and the gRPC framing need.
 */
#ifndef SLIM_CORE_BUF_H
#define SLIM_CORE_BUF_H

#include "slim/common.h"
#include "slim/status.h"

typedef struct slim_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} slim_buf;

#define SLIM_BUF_INIT                                                                              \
    { NULL, 0, 0 }

static inline void slim_buf_init(slim_buf *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Frees the storage; the buffer is empty and reusable afterwards. */
void slim_buf_cleanup(slim_buf *b);
/* Like cleanup, but wipes the bytes first (for secrets). */
void slim_buf_cleanup_secret(slim_buf *b);
/* Makes room for at least `extra` more bytes. E_NOMEM, E_OVERFLOW. */
slim_status slim_buf_reserve(slim_buf *b, size_t extra);
slim_status slim_buf_append(slim_buf *b, const void *p, size_t n);
slim_status slim_buf_append_u8(slim_buf *b, uint8_t v);
slim_status slim_buf_append_u16(slim_buf *b, uint16_t v);
slim_status slim_buf_append_u32(slim_buf *b, uint32_t v);
slim_status slim_buf_append_u64(slim_buf *b, uint64_t v);
/* Appends n zero bytes and, if out is not NULL, points it at them. */
slim_status slim_buf_append_zeros(slim_buf *b, size_t n, uint8_t **out);
/* Drops the first n bytes (n <= len), moving the rest to the front. */
void slim_buf_consume(slim_buf *b, size_t n);

static inline slim_bytes slim_buf_view(const slim_buf *b) {
    slim_bytes v = {b->data, b->len};
    return v;
}

static inline slim_bytes slim_bytes_of(const void *p, size_t n) {
    slim_bytes v = {(const uint8_t *)p, n};
    return v;
}

/* A bounds-checked cursor over a view. Every read either succeeds fully or
 * returns SLIM_E_TRUNCATED and leaves the cursor where it was. */
typedef struct slim_reader {
    const uint8_t *ptr;
    size_t len;
    size_t pos;
} slim_reader;

static inline void slim_reader_init(slim_reader *r, slim_bytes v) {
    r->ptr = v.ptr;
    r->len = v.len;
    r->pos = 0;
}

static inline size_t slim_reader_remaining(const slim_reader *r) {
    return r->len - r->pos;
}

slim_status slim_reader_u8(slim_reader *r, uint8_t *out);
slim_status slim_reader_u16(slim_reader *r, uint16_t *out);
slim_status slim_reader_u32(slim_reader *r, uint32_t *out);
slim_status slim_reader_u64(slim_reader *r, uint64_t *out);
/* Points *out at the next n bytes (borrowed from the reader's view). */
slim_status slim_reader_bytes(slim_reader *r, size_t n, slim_bytes *out);
/* SLIM_E_TRAILING when bytes remain, SLIM_OK when the view is used up. */
slim_status slim_reader_finish(const slim_reader *r);

#endif
