/*
 * An intrusive chained hash table. Objects embed a slim_hnode and are linked
 * into the table with a caller-computed 64-bit hash; the table allocates only
 * its bucket array. Lookups take an equality callback and a key, so one table
 * type serves every key shape. Insertion never fails: when growing the bucket
 * array fails, chains just get longer.
 */
#ifndef SLIM_CORE_HMAP_H
#define SLIM_CORE_HMAP_H

#include "slim/status.h"

#include <stddef.h>
#include <stdint.h>

typedef struct slim_hnode {
    struct slim_hnode *next;
    uint64_t hash;
} slim_hnode;

typedef struct slim_hmap {
    slim_hnode **buckets;
    size_t mask; /* bucket count - 1 (a power of two) */
    size_t count;
} slim_hmap;

/* Initialises an empty table with room for about `hint` entries. E_NOMEM. */
slim_status slim_hmap_init(slim_hmap *m, size_t hint);
/* Frees the bucket array; the linked objects are the caller's. */
void slim_hmap_cleanup(slim_hmap *m);

/* Links n under hash. Does not check for an existing equal entry. */
void slim_hmap_insert(slim_hmap *m, slim_hnode *n, uint64_t hash);
/* Unlinks n, which must be in the table. */
void slim_hmap_remove(slim_hmap *m, slim_hnode *n);

typedef int (*slim_hmap_eq)(const slim_hnode *n, const void *key);
/* The first node with this hash for which eq(node, key) is non-zero. */
slim_hnode *slim_hmap_find(const slim_hmap *m, uint64_t hash, slim_hmap_eq eq, const void *key);

/* Iteration: for (n = slim_hmap_first(m, &it); n; n = slim_hmap_next(m, &it)).
 * The current node may be removed during iteration; others may not. */
typedef struct slim_hmap_iter {
    size_t bucket;
    slim_hnode *next;
} slim_hmap_iter;
slim_hnode *slim_hmap_first(const slim_hmap *m, slim_hmap_iter *it);
slim_hnode *slim_hmap_next(const slim_hmap *m, slim_hmap_iter *it);

#define SLIM_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
