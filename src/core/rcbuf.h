/*
 * Reference-counted immutable byte buffers, for data shared by several
 * owners: one forwarded message queued on many connections, or a message
 * handed from the loop thread to an application thread. The count is atomic,
 * so references may be dropped on any thread; the bytes must not change once
 * a second reference exists.
 */
#ifndef SLIM_CORE_RCBUF_H
#define SLIM_CORE_RCBUF_H

#include "slim/common.h"

#include <stdatomic.h>

typedef struct slim_rcbuf {
    atomic_uint refs;
    size_t len;
    uint8_t data[];
} slim_rcbuf;

/* A buffer of len bytes (uninitialised) holding one reference; NULL on
 * allocation failure. */
slim_rcbuf *slim_rcbuf_new(size_t len);
/* A new buffer holding a copy of p[0..len). */
slim_rcbuf *slim_rcbuf_copy(const void *p, size_t len);

static inline slim_rcbuf *slim_rcbuf_ref(slim_rcbuf *b) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

/* Drops one reference; frees the buffer with the last one. NULL is a no-op. */
void slim_rcbuf_unref(slim_rcbuf *b);

static inline slim_bytes slim_rcbuf_view(const slim_rcbuf *b) {
    slim_bytes v = {b->data, b->len};
    return v;
}

#endif
