#include "core/rcbuf.h"
#include "core/alloc.h"

#include <string.h>

slim_rcbuf *slim_rcbuf_new(size_t len) {
    if (len > SIZE_MAX - sizeof(slim_rcbuf))
        return NULL;
    slim_rcbuf *b = slim_malloc(sizeof *b + len);
    if (b == NULL)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    return b;
}

slim_rcbuf *slim_rcbuf_copy(const void *p, size_t len) {
    slim_rcbuf *b = slim_rcbuf_new(len);
    if (b != NULL && len > 0)
        memcpy(b->data, p, len);
    return b;
}

void slim_rcbuf_unref(slim_rcbuf *b) {
    if (b != NULL && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        slim_free(b);
}
