/*
 * Allocator hooks. Every allocation libslim makes goes through the functions
 * installed here (the C library's by default), so an embedder can account
 * for memory and tests can make allocations fail on purpose.
 */
#ifndef SLIM_ALLOC_H
#define SLIM_ALLOC_H

#include "slim/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct slim_allocator {
    void *(*malloc_fn)(size_t size, void *ud);
    void *(*realloc_fn)(void *ptr, size_t size, void *ud);
    void (*free_fn)(void *ptr, void *ud);
    void *ud; /* passed to every call */
} slim_allocator;

/* Install an allocator; NULL restores the C library's. Call it before any
 * other libslim function and never while memory from the previous allocator
 * is still live. Not thread-safe. */
SLIM_API void slim_set_allocator(const slim_allocator *a);

#ifdef __cplusplus
}
#endif
#endif
