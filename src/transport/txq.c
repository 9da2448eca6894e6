/*
 * Send queue of one call (see txq.h). Copied messages are walked by their
 * prefixes only when it matters: to find the first message not written
 * (for compaction and for hand-back); the pack path never looks at them.
 */
#include "transport/txq.h"
#include "core/alloc.h"
#include "transport/codec.h"

#include <string.h>

/* Compact the copy buffer once this many dead bytes sit at its front. */
#define COMPACT_AT (64u * 1024u)
/* Keep an emptied copy buffer up to this size. */
#define KEEP_CAP (1024u * 1024u)

void slim_txq_init(slim_txq *q) {
    memset(q, 0, sizeof *q);
    slim_buf_init(&q->buf);
}

static slim_txseg *seg_at(const slim_txq *q, size_t i) {
    return &q->segs[(q->head + i) & (q->cap - 1)];
}

void slim_txq_cleanup(slim_txq *q) {
    for (size_t i = 0; i < q->n; i++)
        slim_rcbuf_unref(seg_at(q, i)->rc);
    slim_buf_cleanup(&q->buf);
    slim_free(q->segs);
    slim_txq_init(q);
}

static slim_status seg_push(slim_txq *q, slim_rcbuf *rc, uint64_t off, size_t len) {
    if (q->n == q->cap) {
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
    }
    slim_txseg *s = seg_at(q, q->n++);
    s->rc = rc;
    s->off = off;
    s->len = len;
    return SLIM_OK;
}

slim_status slim_txq_push_copy(slim_txq *q, slim_bytes msg) {
    size_t need = SLIM_GRPC_PREFIX_LEN + msg.len;
    if (slim_buf_reserve(&q->buf, need) != SLIM_OK)
        return SLIM_E_NOMEM;
    uint64_t at = q->base + q->buf.len;
    slim_txseg *last = q->n > 0 ? seg_at(q, q->n - 1) : NULL;
    /* Extend the last segment when it holds copies ending right here and
     * the pack position has not moved past it. */
    if (last != NULL && last->rc == NULL && last->off + last->len == at && q->pk < q->n)
        last->len += need;
    else if (seg_push(q, NULL, at, need) != SLIM_OK)
        return SLIM_E_NOMEM;
    uint8_t *p = q->buf.data + q->buf.len;
    slim_grpc_prefix_write(p, (uint32_t)msg.len);
    if (msg.len > 0)
        memcpy(p + SLIM_GRPC_PREFIX_LEN, msg.ptr, msg.len);
    q->buf.len += need;
    q->total += need;
    return SLIM_OK;
}

slim_status slim_txq_push_rc(slim_txq *q, slim_rcbuf *rc) {
    size_t len = SLIM_GRPC_PREFIX_LEN + rc->len;
    if (seg_push(q, rc, 0, len) != SLIM_OK)
        return SLIM_E_NOMEM;
    slim_rcbuf_ref(rc);
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
            /* The segment may start before `base` (compaction drops the
             * written messages at its front); the pack position never does. */
            memcpy(out, q->buf.data + (size_t)(s->off + q->pk_off - q->base), take);
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

/* Length of the framed copied message starting at virtual offset `at`. */
static size_t framed_len_at(const slim_txq *q, uint64_t at) {
    const uint8_t *p = q->buf.data + (at - q->base);
    uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    return SLIM_GRPC_PREFIX_LEN + len;
}

static void seg_pop(slim_txq *q) {
    slim_rcbuf_unref(seg_at(q, 0)->rc);
    q->head = (q->head + 1) & (q->cap - 1);
    q->n--;
    q->head_msg = q->head_done = 0;
}

/* Drops copied bytes nobody needs any more from the front of the buffer. */
static void compact(slim_txq *q) {
    uint64_t live = q->base + q->buf.len;
    for (size_t i = 0; i < q->n; i++) {
        slim_txseg *s = seg_at(q, i);
        if (s->rc == NULL) {
            live = s->off + (i == 0 ? q->head_msg : 0);
            break;
        }
    }
    size_t dead = (size_t)(live - q->base);
    if (dead == q->buf.len) {
        q->base = 0; /* no copied segment is left to point into the buffer */
        q->buf.len = 0;
        if (q->buf.cap > KEEP_CAP)
            slim_buf_cleanup(&q->buf);
        return;
    }
    if (dead >= COMPACT_AT && dead >= q->buf.len / 2) {
        slim_buf_consume(&q->buf, dead);
        q->base += dead;
    }
}

void slim_txq_written(slim_txq *q) {
    while (q->pk > 0) {
        seg_pop(q);
        q->pk--;
    }
    if (q->n > 0 && q->pk_off > 0) {
        slim_txseg *s = seg_at(q, 0);
        q->head_done = q->pk_off;
        if (s->rc == NULL) {
            size_t m;
            while ((m = framed_len_at(q, s->off + q->head_msg)) <= q->head_done - q->head_msg)
                q->head_msg += m;
        }
    }
    compact(q);
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
        size_t at = i == 0 ? q->head_msg : 0;
        while (at < s->len) {
            size_t m = framed_len_at(q, s->off + at);
            count++;
            if (fn != NULL)
                fn(ud,
                   slim_bytes_of(q->buf.data + (size_t)(s->off + at - q->base) +
                                     SLIM_GRPC_PREFIX_LEN,
                                 m - SLIM_GRPC_PREFIX_LEN),
                   NULL);
            at += m;
        }
    }
    slim_txq_cleanup(q);
    return count;
}
