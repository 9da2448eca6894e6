/* Chained hash table; doubles the bucket array at load factor 1. */
#include "core/hmap.h"
#include "core/alloc.h"

slim_status slim_hmap_init(slim_hmap *m, size_t hint) {
    size_t n = 16;
    while (n < hint && n < ((size_t)1 << 40))
        n *= 2;
    m->buckets = slim_calloc(n, sizeof *m->buckets);
    if (m->buckets == NULL)
        return SLIM_E_NOMEM;
    m->mask = n - 1;
    m->count = 0;
    return SLIM_OK;
}

void slim_hmap_cleanup(slim_hmap *m) {
    slim_free(m->buckets);
    m->buckets = NULL;
    m->mask = 0;
    m->count = 0;
}

static void grow(slim_hmap *m) {
    size_t n = (m->mask + 1) * 2;
    slim_hnode **b = slim_calloc(n, sizeof *b);
    if (b == NULL)
        return; /* keep the old array; chains get longer */
    for (size_t i = 0; i <= m->mask; i++) {
        slim_hnode *e = m->buckets[i];
        while (e != NULL) {
            slim_hnode *next = e->next;
            size_t j = (size_t)e->hash & (n - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    slim_free(m->buckets);
    m->buckets = b;
    m->mask = n - 1;
}

void slim_hmap_insert(slim_hmap *m, slim_hnode *n, uint64_t hash) {
    if (m->count > m->mask)
        grow(m);
    size_t i = (size_t)hash & m->mask;
    n->hash = hash;
    n->next = m->buckets[i];
    m->buckets[i] = n;
    m->count++;
}

void slim_hmap_remove(slim_hmap *m, slim_hnode *n) {
    slim_hnode **p = &m->buckets[(size_t)n->hash & m->mask];
    while (*p != NULL) {
        if (*p == n) {
            *p = n->next;
            m->count--;
            return;
        }
        p = &(*p)->next;
    }
}

slim_hnode *slim_hmap_find(const slim_hmap *m, uint64_t hash, slim_hmap_eq eq, const void *key) {
    for (slim_hnode *e = m->buckets[(size_t)hash & m->mask]; e != NULL; e = e->next)
        if (e->hash == hash && eq(e, key))
            return e;
    return NULL;
}

static slim_hnode *advance(const slim_hmap *m, slim_hmap_iter *it) {
    while (it->bucket <= m->mask) {
        slim_hnode *e = m->buckets[it->bucket++];
        if (e != NULL) {
            it->next = e->next;
            return e;
        }
    }
    return NULL;
}

slim_hnode *slim_hmap_first(const slim_hmap *m, slim_hmap_iter *it) {
    it->bucket = 0;
    it->next = NULL;
    return m->buckets == NULL ? NULL : advance(m, it);
}

slim_hnode *slim_hmap_next(const slim_hmap *m, slim_hmap_iter *it) {
    if (it->next != NULL) {
        slim_hnode *e = it->next;
        it->next = e->next;
        return e;
    }
    return advance(m, it);
}
