/* libFuzzer target: the send queue of a call (src/transport/txq.c) driven
 * by input-chosen operations — copy and shared pushes of input-chosen
 * sizes, packs cut anywhere, completed and failed writes — against a model.
 * What is packed must be the framed messages in order, byte for byte, and
 * what is handed back must be exactly the messages whose last byte was not
 * in a completed write, in order, with their shared buffers. */
#include "transport/txq.h"

#include <stdlib.h>
#include <string.h>

#define MAX_MSGS 256

typedef struct model {
    size_t len[MAX_MSGS];
    slim_rcbuf *rc[MAX_MSGS];
    size_t n;
    uint64_t written; /* framed bytes in completed writes */
    size_t next;      /* hand-back check: next message expected */
    uint8_t fill[MAX_MSGS];
} model;

static uint8_t body_byte(const model *m, size_t i, size_t k) {
    return (uint8_t)(m->fill[i] + k);
}

/* The next framed byte, from a cursor that walks the messages in order. */
typedef struct cursor {
    size_t i, off;
} cursor;

static uint8_t next_framed_byte(const model *m, cursor *c) {
    while (c->i < m->n && c->off == 5 + m->len[c->i]) {
        c->i++;
        c->off = 0;
    }
    if (c->i >= m->n)
        abort();
    size_t at = c->off++;
    if (at == 0)
        return 0;
    if (at < 5)
        return (uint8_t)(m->len[c->i] >> (8 * (4 - at)));
    return body_byte(m, c->i, at - 5);
}

static void on_unsent(void *ud, slim_bytes msg, slim_rcbuf *rc) {
    model *m = ud;
    size_t i = m->next++;
    if (i >= m->n || msg.len != m->len[i] || rc != m->rc[i])
        abort();
    for (size_t k = 0; k < msg.len; k++)
        if (msg.ptr[k] != body_byte(m, i, k))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint8_t buf[140000], out[70000];
    model m;
    memset(&m, 0, sizeof m);
    slim_txq q;
    slim_txq_init(&q);
    uint64_t packed = 0, in_write = 0;
    cursor cur = {0, 0};
    for (size_t i = 0; i + 2 < size; i += 3) {
        uint8_t op = data[i] % 5;
        size_t arg = (size_t)data[i + 1] << 8 | data[i + 2];
        if ((op == 0 || op == 1) && m.n < MAX_MSGS) {
            /* Mostly small messages; now and then a copy too big for a chunk. */
            size_t len = op == 0 && (arg & 0x3f) == 1 ? arg * 2 : arg % 300;
            uint8_t fill = (uint8_t)(m.n * 37);
            m.fill[m.n] = fill;
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)(fill + k);
            slim_status st;
            if (op == 1) {
                slim_rcbuf *rc = slim_rcbuf_copy(buf, len);
                if (rc == NULL)
                    abort();
                st = slim_txq_push_rc(&q, rc);
                m.rc[m.n] = rc;
            } else {
                st = slim_txq_push_copy(&q, slim_bytes_of(buf, len));
            }
            if (st != SLIM_OK)
                abort();
            m.len[m.n++] = len;
        } else if (op == 2) { /* pack up to arg bytes */
            size_t k = arg < slim_txq_pending(&q) ? arg : (size_t)slim_txq_pending(&q);
            k = k < sizeof out ? k : sizeof out;
            slim_txq_pack(&q, out, k);
            for (size_t j = 0; j < k; j++)
                if (out[j] != next_framed_byte(&m, &cur))
                    abort();
            packed += k;
            in_write = packed;
        } else if (op == 3) { /* the write completed */
            slim_txq_written(&q);
            m.written = in_write;
        } else if (op == 4 && (arg & 7) == 0) {
            break; /* the connection drops: hand back */
        }
    }
    /* Everything from the message holding the first unwritten byte. */
    uint64_t acc = 0;
    size_t first = 0;
    while (first < m.n && acc + 5 + m.len[first] <= m.written)
        acc += 5 + m.len[first++];
    m.next = first;
    size_t n = slim_txq_take_unsent(&q, on_unsent, &m);
    if (n != m.n - first || m.next != m.n || !slim_txq_empty(&q))
        abort();
    for (size_t i = 0; i < m.n; i++) {
        if (m.rc[i] != NULL && atomic_load(&m.rc[i]->refs) != 1)
            abort();
        slim_rcbuf_unref(m.rc[i]);
    }
    return 0;
}
