/*
 * Send queue of one call (see txq.h). Copied messages are walked by their
 * prefixes only when it matters: to find the first message not written
 * (for hand-back); the pack path never looks at them.
 */
#include "transport/txq.h"
#include "core/alloc.h"
#include "transport/codec.h"

#include <string.h>

#define CHUNK_SIZE (64u * 1024u)

void slim_txq_init(slim_txq *q) {
    memset(q, 0, sizeof *q);
}

static slim_txseg *seg_at(const slim_txq *q, size_t i) {
    return &q->segs[(q->head + i) & (q->cap - 1)];
}

static void chunk_release(slim_txq *q, slim_txchunk *c) {
    if (c == q->tail) {
        c->len = 0; /* the tail stays, empty */
        return;
    }
    if (q->nspare < SLIM_TXQ_MAX_SPARES && c->cap == CHUNK_SIZE) {
        c->len = 0;
        c->next = q->spare;
        q->spare = c;
        q->nspare++;
        return;
    }
    slim_free(c);
}

/* The queue emptied: keep one spare, free the others. */
static void trim_spares(slim_txq *q) {
    while (q->nspare > 1) {
        slim_txchunk *c = q->spare;
        q->spare = c->next;
        q->nspare--;
        slim_free(c);
    }
}

static void free_spares(slim_txq *q) {
    while (q->spare != NULL) {
        slim_txchunk *c = q->spare;
        q->spare = c->next;
        slim_free(c);
    }
    q->nspare = 0;
}

void slim_txq_cleanup(slim_txq *q) {
    for (size_t i = 0; i < q->n; i++)
        slim_rcbuf_unref(seg_at(q, i)->rc);
    /* Chunks are referenced by segments (in order) and by tail/spare. */
    slim_txchunk *last = NULL;
    for (size_t i = 0; i < q->n; i++) {
        slim_txchunk *c = seg_at(q, i)->chunk;
        if (c != NULL && c != last && c != q->tail) {
            slim_free(c);
            last = c;
        }
    }
    slim_free(q->tail);
    free_spares(q);
    slim_free(q->segs);
    slim_txq_init(q);
}

size_t slim_txq_memory(const slim_txq *q) {
    size_t m = q->cap * sizeof(slim_txseg);
    const slim_txchunk *last = NULL;
    for (size_t i = 0; i < q->n; i++) {
        const slim_txchunk *c = seg_at(q, i)->chunk;
        if (c != NULL && c != last && c != q->tail) {
            m += sizeof *c + c->cap;
            last = c;
        }
    }
    if (q->tail != NULL)
        m += sizeof *q->tail + q->tail->cap;
    m += q->nspare * (sizeof(slim_txchunk) + CHUNK_SIZE);
    return m;
}

static slim_status seg_reserve(slim_txq *q) {
    if (q->n < q->cap)
        return SLIM_OK;
    size_t cap = q->cap ? q->cap * 2 : 8;
    slim_txseg *s = slim_malloc(cap * sizeof *s);
    if (s == NULL)
        return SLIM_E_NOMEM;
    for (size_t i = 0; i < q->n; i++)
        s[i] = *seg_at(q, i);
    slim_free(q->segs);
    q->segs = s;
    q->cap = cap;
    q->head = 0;
    return SLIM_OK;
}

static void seg_push(slim_txq *q, slim_rcbuf *rc, slim_txchunk *c, size_t off, size_t len) {
    slim_txseg *s = seg_at(q, q->n++);
    s->rc = rc;
    s->chunk = c;
    s->off = off;
    s->len = len;
    if (c != NULL)
        c->segs++;
}

/* A chunk with room for `need` bytes at the tail (a new one if needed). */
static slim_txchunk *tail_for(slim_txq *q, size_t need) {
    slim_txchunk *t = q->tail;
    if (t != NULL && t->cap - t->len >= need)
        return t;
    slim_txchunk *c = NULL;
    if (need <= CHUNK_SIZE && q->spare != NULL) {
        c = q->spare;
        q->spare = c->next;
        q->nspare--;
    } else {
        size_t cap = need > CHUNK_SIZE ? need : CHUNK_SIZE;
        c = slim_malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->cap = cap;
    }
    c->next = NULL;
    c->len = 0;
    c->segs = 0;
    if (t != NULL) {
        /* The old tail leaves: freed now if nothing points into it. */
        q->tail = c;
        if (t->segs == 0)
            chunk_release(q, t);
    }
    q->tail = c;
    return c;
}

slim_status slim_txq_push_copy(slim_txq *q, slim_bytes msg) {
    size_t need = SLIM_GRPC_PREFIX_LEN + msg.len;
    slim_txchunk *c = q->tail;
    if (c == NULL || c->cap - c->len < need) {
        if (seg_reserve(q) != SLIM_OK || (c = tail_for(q, need)) == NULL)
            return SLIM_E_NOMEM;
    }
    slim_txseg *last = q->n > 0 ? seg_at(q, q->n - 1) : NULL;
    /* Extend the last segment when it holds copies ending right here and
     * the pack position has not moved past it: the common case costs no
     * bookkeeping. */
    if (last != NULL && last->chunk == c && last->off + last->len == c->len && q->pk < q->n) {
        last->len += need;
    } else {
        if (seg_reserve(q) != SLIM_OK)
            return SLIM_E_NOMEM;
        seg_push(q, NULL, c, c->len, need);
    }
    uint8_t *p = c->data + c->len;
    slim_grpc_prefix_write(p, (uint32_t)msg.len);
    if (msg.len > 0)
        memcpy(p + SLIM_GRPC_PREFIX_LEN, msg.ptr, msg.len);
    c->len += need;
    q->total += need;
    return SLIM_OK;
}

slim_status slim_txq_push_rc(slim_txq *q, slim_rcbuf *rc) {
    if (seg_reserve(q) != SLIM_OK)
        return SLIM_E_NOMEM;
    size_t len = SLIM_GRPC_PREFIX_LEN + rc->len;
    seg_push(q, slim_rcbuf_ref(rc), NULL, 0, len);
    q->total += len;
    return SLIM_OK;
}

void slim_txq_pack(slim_txq *q, uint8_t *out, size_t n) {
    q->packed += n;
    while (n > 0) {
        slim_txseg *s = seg_at(q, q->pk);
        size_t take = s->len - q->pk_off;
        take = take < n ? take : n;
        if (s->rc == NULL) {
            memcpy(out, s->chunk->data + s->off + q->pk_off, take);
        } else {
            size_t done = 0;
            if (q->pk_off < SLIM_GRPC_PREFIX_LEN) {
                uint8_t prefix[SLIM_GRPC_PREFIX_LEN];
                slim_grpc_prefix_write(prefix, (uint32_t)s->rc->len);
                done = SLIM_GRPC_PREFIX_LEN - q->pk_off;
                done = done < take ? done : take;
                memcpy(out, prefix + q->pk_off, done);
            }
            if (take > done)
                memcpy(out + done, s->rc->data + (q->pk_off + done - SLIM_GRPC_PREFIX_LEN),
                       take - done);
        }
        out += take;
        n -= take;
        q->pk_off += take;
        if (q->pk_off == s->len) {
            q->pk++;
            q->pk_off = 0;
        }
    }
}

/* Length of the framed copied message at offset `at` of segment `s`. */
static size_t framed_len_at(const slim_txseg *s, size_t at) {
    const uint8_t *p = s->chunk->data + s->off + at;
    uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    return SLIM_GRPC_PREFIX_LEN + len;
}

static void seg_pop(slim_txq *q) {
    slim_txseg *s = seg_at(q, 0);
    slim_rcbuf_unref(s->rc);
    if (s->chunk != NULL && --s->chunk->segs == 0)
        chunk_release(q, s->chunk);
    q->head = (q->head + 1) & (q->cap - 1);
    q->n--;
    q->head_msg = q->head_done = 0;
}

void slim_txq_written(slim_txq *q) {
    while (q->pk > 0) {
        seg_pop(q);
        q->pk--;
    }
    if (q->n == 0)
        trim_spares(q);
    if (q->n > 0 && q->pk_off > 0) {
        slim_txseg *s = seg_at(q, 0);
        q->head_done = q->pk_off;
        if (s->rc == NULL) {
            size_t m;
            while ((m = framed_len_at(s, q->head_msg)) <= q->head_done - q->head_msg)
                q->head_msg += m;
        }
    }
}

size_t slim_txq_take_unsent(slim_txq *q, slim_txq_unsent_fn fn, void *ud) {
    size_t count = 0;
    for (size_t i = 0; i < q->n; i++) {
        slim_txseg *s = seg_at(q, i);
        if (s->rc != NULL) {
            count++;
            if (fn != NULL)
                fn(ud, slim_rcbuf_view(s->rc), s->rc);
            continue;
        }
        for (size_t at = i == 0 ? q->head_msg : 0; at < s->len;) {
            size_t m = framed_len_at(s, at);
            count++;
            if (fn != NULL)
                fn(ud,
                   slim_bytes_of(s->chunk->data + s->off + at + SLIM_GRPC_PREFIX_LEN,
                                 m - SLIM_GRPC_PREFIX_LEN),
                   NULL);
            at += m;
        }
    }
    slim_txq_cleanup(q);
    return count;
}
