/*
 * The send queue of one gRPC call: framed messages waiting to be packed
 * into HTTP/2 DATA frames, in order, and kept until the socket write that
 * carried them completes, so that what was never written can be handed back.
 *
 * Two kinds of messages share one queue, as a ring of segments:
 *   - copied messages (slim_grpc_call_send): prefix + bytes appended to a
 *     chunk; consecutive copies extend the same segment, so the copy path
 *     costs one memcpy and no per-message bookkeeping;
 *   - shared messages (slim_grpc_call_send_rc): one segment holding a
 *     reference to a slim_rcbuf; its 5-byte prefix is produced while
 *     packing.
 *
 * Three positions, in bytes of framed messages ever queued:
 *   written <= packed <= total
 * "packed" bytes went into the connection's write buffer; "written" ones
 * were in a socket write that completed and are released. The unit of
 * hand-back is the message: one whose last byte is not written comes back
 * whole, even if part of it went out.
 *
 * Pure (no I/O, no loop); not thread-safe. Released memory: a segment as a
 * whole once written (dropping its reference), a chunk of copies once all
 * its segments are written (kept as a spare while the queue is busy); what
 * is held is at most the bytes not written plus the spares, and one chunk
 * once the queue is empty.
 */
#ifndef SLIM_TRANSPORT_TXQ_H
#define SLIM_TRANSPORT_TXQ_H

#include "core/buf.h"
#include "core/rcbuf.h"

/* Copied messages live in chunks of 64 KiB (a larger message gets a chunk
 * of its own), used in order and put on a spare list once no segment
 * points into them: no compaction, no large reallocation, and a busy queue
 * reuses warm memory instead of faulting new pages in. Spares are capped
 * (SLIM_TXQ_MAX_SPARES) and all but one are freed when the queue empties. */
#define SLIM_TXQ_MAX_SPARES 32
typedef struct slim_txchunk {
    struct slim_txchunk *next;
    size_t cap, len;
    size_t segs; /* segments pointing into this chunk */
    uint8_t data[];
} slim_txchunk;

typedef struct slim_txseg {
    slim_rcbuf *rc;      /* a shared message, or NULL: copied bytes ... */
    slim_txchunk *chunk; /* ... at data[off] of this chunk */
    size_t off;
    size_t len; /* framed bytes (prefix included) */
} slim_txseg;

typedef struct slim_txq {
    slim_txchunk *tail;  /* the chunk copies are appended to */
    slim_txchunk *spare; /* empty chunks kept for reuse (a list) */
    size_t nspare;
    slim_txseg *segs; /* ring; capacity a power of two */
    size_t cap, head, n;
    size_t pk, pk_off; /* pack position: segment (from head) and offset in it */
    size_t head_msg;   /* head segment: start of the first message not written */
    size_t head_done;  /* head segment: bytes written */
    uint64_t total, packed;
} slim_txq;

void slim_txq_init(slim_txq *q);
/* Drops every reference and frees the memory; the queue is empty after. */
void slim_txq_cleanup(slim_txq *q);

/* Framed bytes queued and not yet packed. */
static inline uint64_t slim_txq_pending(const slim_txq *q) {
    return q->total - q->packed;
}

/* True when nothing is held: every message was written (or handed back). */
static inline bool slim_txq_empty(const slim_txq *q) {
    return q->n == 0;
}

/* Appends a message: a copy with its prefix (E_NOMEM), or a reference to
 * `rc` (taken only on success; E_NOMEM). Lengths must fit 32 bits. */
slim_status slim_txq_push_copy(slim_txq *q, slim_bytes msg);
slim_status slim_txq_push_rc(slim_txq *q, slim_rcbuf *rc);

/* Copies the next `n` framed bytes (n <= pending) to `out`. */
void slim_txq_pack(slim_txq *q, uint8_t *out, size_t n);

/* The bytes packed so far were written: releases them. */
void slim_txq_written(slim_txq *q);

/* Bytes of memory the queue holds (chunks and segment ring). */
size_t slim_txq_memory(const slim_txq *q);

/* Hands every message that is not entirely written to `fn` (may be NULL),
 * oldest first, with its body (borrowed for the call) and its rcbuf (NULL
 * for a copy), then empties the queue. Returns how many there were. */
typedef void (*slim_txq_unsent_fn)(void *ud, slim_bytes msg, slim_rcbuf *rc);
size_t slim_txq_take_unsent(slim_txq *q, slim_txq_unsent_fn fn, void *ud);

#endif
