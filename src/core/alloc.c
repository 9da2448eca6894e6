/*
 * The allocator indirection. The installed allocator is process-wide state,
 * set once before use (slim/alloc.h says so); it is the one piece of mutable
 * global state in the core.
 */
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

static void *libc_malloc(size_t size, void *ud) {
    (void)ud;
    return malloc(size);
}

static void *libc_realloc(void *ptr, size_t size, void *ud) {
    (void)ud;
    return realloc(ptr, size);
}

static void libc_free(void *ptr, void *ud) {
    (void)ud;
    free(ptr);
}

static slim_allocator current = {libc_malloc, libc_realloc, libc_free, NULL};

void slim_set_allocator(const slim_allocator *a) {
    if (a == NULL) {
        current = (slim_allocator){libc_malloc, libc_realloc, libc_free, NULL};
        return;
    }
    current = *a;
}

void *slim_malloc(size_t size) {
    return current.malloc_fn(size ? size : 1, current.ud);
}

void *slim_calloc(size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    size_t total = n * size;
    /* libc's calloc maps large blocks zeroed, touching no page until it is
     * used (an app's event ring: tens of MB it may never fill) */
    if (current.malloc_fn == libc_malloc)
        return calloc(total ? total : 1, 1);
    void *p = slim_malloc(total);
    if (p != NULL && total > 0)
        memset(p, 0, total);
    return p;
}

void *slim_realloc(void *ptr, size_t size) {
    return current.realloc_fn(ptr, size ? size : 1, current.ud);
}

void slim_free(void *ptr) {
    if (ptr != NULL)
        current.free_fn(ptr, current.ud);
}

char *slim_strndup(const char *s, size_t len) {
    char *p = slim_malloc(len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *slim_strdup(const char *s) {
    return s != NULL ? slim_strndup(s, strlen(s)) : NULL;
}
