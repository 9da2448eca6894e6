/*
 * Internal allocation entry points. Everything in libslim allocates through
 * these so that slim_set_allocator() sees every byte. Allocation failure is
 * reported as NULL and never aborts; callers turn it into SLIM_E_NOMEM.
 */
#ifndef SLIM_CORE_ALLOC_H
#define SLIM_CORE_ALLOC_H

#include "slim/alloc.h"

void *slim_malloc(size_t size);
/* Zeroed allocation of n * size bytes; NULL on overflow or failure. */
void *slim_calloc(size_t n, size_t size);
void *slim_realloc(void *ptr, size_t size);
void slim_free(void *ptr);
/* A NUL-terminated copy of s[0..len); NULL on failure. */
char *slim_strndup(const char *s, size_t len);
/* A copy of the string s (NULL gives NULL); NULL on failure. */
char *slim_strdup(const char *s);

#endif
