/* Unit tests for the pure parts of the transport: the per-call send queue
 * (src/transport/txq.c), upstream's backoff delays and the mapping from the
 * SLIM config model to transport settings (src/transport/config.c). */
#include "test.h"
#include "transport/grpc.h"
#include "transport/txq.h"

#include <stdio.h>

/* Message i: "m<i>:" then i % 50 bytes. */
static size_t msg_of(unsigned i, uint8_t *out) {
    size_t n = (size_t)snprintf((char *)out, 16, "m%u:", i);
    for (unsigned k = 0; k < i % 50; k++)
        out[n++] = (uint8_t)(i + k);
    return n;
}

typedef struct seen {
    unsigned count;
    unsigned first; /* index of the first message handed back */
    unsigned bad;
    unsigned rc_count;
    slim_rcbuf *rc[64];
} seen;

static void on_unsent(void *ud, slim_bytes msg, slim_rcbuf *rc) {
    seen *s = ud;
    unsigned idx;
    if (sscanf((const char *)msg.ptr, "m%u:", &idx) != 1) {
        s->bad++;
        return;
    }
    if (s->count == 0)
        s->first = idx;
    uint8_t want[80];
    size_t n = msg_of(idx, want);
    if (idx != s->first + s->count || msg.len != n || memcmp(msg.ptr, want, n) != 0)
        s->bad++;
    if (rc != NULL && s->rc_count < 64)
        s->rc[s->rc_count++] = rc;
    s->count++;
}

/* Frames what the queue packed back into messages and checks them. */
static unsigned check_framed(const uint8_t *p, size_t n, unsigned first) {
    unsigned i = first;
    size_t off = 0;
    while (off < n) {
        CHECK(off + 5 <= n);
        uint32_t len = (uint32_t)p[off + 1] << 24 | (uint32_t)p[off + 2] << 16 |
                       (uint32_t)p[off + 3] << 8 | p[off + 4];
        CHECK_EQ(p[off], 0);
        uint8_t want[80];
        size_t wn = msg_of(i, want);
        CHECK_EQ(len, wn);
        CHECK(off + 5 + len <= n);
        if (off + 5 + len <= n)
            CHECK_MEM(p + off + 5, want, wn);
        off += 5 + len;
        i++;
    }
    return i - first;
}

/* Messages alternate between copies and shared buffers; the queue is
 * packed at cuts that fall anywhere (inside prefixes too) and released as
 * if each cut were one socket write. Every message comes out framed, in
 * order, and the shared buffers are released. */
TEST(copies_and_shared_buffers_pack_in_order_at_any_cut) {
    test_alloc_install();
    for (size_t cut = 1; cut <= 97; cut += 6) {
        slim_txq q;
        slim_txq_init(&q);
        slim_rcbuf *rcs[40] = {0};
        uint8_t m[80];
        size_t total = 0;
        for (unsigned i = 0; i < 40; i++) {
            size_t n = msg_of(i, m);
            total += 5 + n;
            if (i % 3 == 1) {
                rcs[i] = slim_rcbuf_copy(m, n);
                CHECK_OK(slim_txq_push_rc(&q, rcs[i]));
            } else {
                CHECK_OK(slim_txq_push_copy(&q, slim_bytes_of(m, n)));
            }
        }
        CHECK_U64(slim_txq_pending(&q), total);
        uint8_t *out = malloc(total);
        size_t got = 0;
        while (got < total) {
            size_t n = total - got < cut ? total - got : cut;
            slim_txq_pack(&q, out + got, n);
            got += n;
            slim_txq_written(&q);
        }
        CHECK_U64(slim_txq_pending(&q), 0);
        CHECK(slim_txq_empty(&q));
        CHECK_EQ(check_framed(out, total, 0), 40);
        free(out);
        for (unsigned i = 0; i < 40; i++) {
            if (rcs[i] != NULL) {
                CHECK_EQ(atomic_load(&rcs[i]->refs), 1); /* the queue let go */
                slim_rcbuf_unref(rcs[i]);
            }
        }
        slim_txq_cleanup(&q);
    }
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_uninstall();
}

/* What is handed back is every message whose last byte was not written:
 * exactly the suffix from the message holding the first unwritten byte,
 * whether it was packed (a write that failed) or not. */
TEST(unsent_is_the_suffix_from_the_first_message_not_written) {
    test_alloc_install();
    uint8_t m[80];
    size_t sizes[30];
    for (size_t written = 0; written < 400; written += 37) {
        slim_txq q;
        slim_txq_init(&q);
        slim_rcbuf *rcs[30] = {0};
        size_t total = 0;
        for (unsigned i = 0; i < 30; i++) {
            sizes[i] = msg_of(i, m);
            total += 5 + sizes[i];
            if (i % 4 == 3) {
                rcs[i] = slim_rcbuf_copy(m, sizes[i]);
                CHECK_OK(slim_txq_push_rc(&q, rcs[i]));
            } else {
                CHECK_OK(slim_txq_push_copy(&q, slim_bytes_of(m, sizes[i])));
            }
        }
        uint8_t *out = malloc(total);
        slim_txq_pack(&q, out, written);
        slim_txq_written(&q);
        /* A further write that never completes. */
        size_t more = total - written < 50 ? total - written : 50;
        slim_txq_pack(&q, out + written, more);
        unsigned first = 0;
        for (size_t acc = 0; first < 30 && acc + 5 + sizes[first] <= written; first++)
            acc += 5 + sizes[first];
        seen s = {0};
        size_t n = slim_txq_take_unsent(&q, on_unsent, &s);
        CHECK_EQ(n, 30 - first);
        CHECK_EQ(s.count, 30 - first);
        CHECK_EQ(s.bad, 0);
        if (first < 30)
            CHECK_EQ(s.first, first);
        unsigned rc_expected = 0;
        for (unsigned i = first; i < 30; i++)
            rc_expected += rcs[i] != NULL;
        CHECK_EQ(s.rc_count, rc_expected);
        CHECK(slim_txq_empty(&q));
        free(out);
        for (unsigned i = 0; i < 30; i++)
            slim_rcbuf_unref(rcs[i]);
    }
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_uninstall();
}

/* A backlogged copy path (the pack position never reaches the end) keeps
 * its memory bounded: chunks go once written. */
TEST(backlogged_copies_are_compacted) {
    test_alloc_install();
    slim_txq q;
    slim_txq_init(&q);
    uint8_t body[1000];
    memset(body, 'x', sizeof body);
    uint8_t out[4096];
    for (int round = 0; round < 2000; round++) {
        CHECK_OK(slim_txq_push_copy(&q, slim_bytes_of(body, sizeof body)));
        CHECK_OK(slim_txq_push_copy(&q, slim_bytes_of(body, sizeof body)));
        slim_txq_pack(&q, out, 1900); /* less than was added */
        slim_txq_written(&q);
    }
    CHECK_U64(slim_txq_pending(&q), 2000 * (2 * 1005 - 1900));
    /* About 4 MB went through; what is held is what is pending (220 KB)
     * plus a chunk or two, plus the spares. */
    CHECK_INT(slim_txq_memory(&q), <, 220000 + (3 + SLIM_TXQ_MAX_SPARES) * 66 * 1024);
    /* Once everything is written, one spare is left. */
    uint8_t *rest = malloc((size_t)slim_txq_pending(&q));
    slim_txq_pack(&q, rest, (size_t)slim_txq_pending(&q));
    slim_txq_written(&q);
    free(rest);
    CHECK(slim_txq_empty(&q));
    CHECK_INT(slim_txq_memory(&q), <, 3 * 66 * 1024);
    seen s = {0};
    (void)slim_txq_take_unsent(&q, NULL, &s);
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_uninstall();
}

TEST(allocation_failures_leave_the_queue_intact) {
    test_alloc_install();
    uint8_t m[80];
    for (long fail = 1; fail < 20; fail++) {
        slim_txq q;
        slim_txq_init(&q);
        slim_rcbuf *rc = slim_rcbuf_copy("shared", 6);
        unsigned ok = 0;
        test_alloc_fail_after(fail);
        for (unsigned i = 0; i < 12; i++) {
            size_t n = msg_of(i, m);
            slim_status st =
                i % 2 ? slim_txq_push_rc(&q, rc) : slim_txq_push_copy(&q, slim_bytes_of(m, n));
            if (st == SLIM_OK)
                ok++;
            else
                CHECK_STATUS(st, SLIM_E_NOMEM);
        }
        test_alloc_fail_after(0);
        seen s = {0};
        size_t n = slim_txq_take_unsent(&q, NULL, &s);
        CHECK_EQ(n, ok);
        CHECK_EQ(atomic_load(&rc->refs), 1);
        slim_rcbuf_unref(rc);
    }
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_uninstall();
}

/* ---- Backoff ---- */

TEST(exponential_backoff_is_tokio_retry) {
    slim_backoff_config b = {SLIM_BACKOFF_EXPONENTIAL, 100, 1, 1000, false, 0, UINT64_MAX};
    /* upstream's default exponential: 100 ms, then 100^2 ms capped at 1 s */
    CHECK_U64(slim_grpc_backoff_delay(&b, 0, 0.5), 100);
    CHECK_U64(slim_grpc_backoff_delay(&b, 1, 0.5), 1000);
    CHECK_U64(slim_grpc_backoff_delay(&b, 50, 0.5), 1000);
    /* factor * base^(n+1) */
    b = (slim_backoff_config){SLIM_BACKOFF_EXPONENTIAL, 2, 10, 5000, false, 0, UINT64_MAX};
    CHECK_U64(slim_grpc_backoff_delay(&b, 0, 0), 20);
    CHECK_U64(slim_grpc_backoff_delay(&b, 1, 0), 40);
    CHECK_U64(slim_grpc_backoff_delay(&b, 2, 0), 80);
    CHECK_U64(slim_grpc_backoff_delay(&b, 8, 0), 5000);
    CHECK_U64(slim_grpc_backoff_delay(&b, 1000000000ull, 0), 5000); /* no overflow, no loop */
    /* jitter multiplies by the random fraction, after the cap */
    b.jitter = true;
    CHECK_U64(slim_grpc_backoff_delay(&b, 1, 0.5), 20);
    CHECK_U64(slim_grpc_backoff_delay(&b, 8, 0.25), 1250);
    CHECK_U64(slim_grpc_backoff_delay(&b, 8, 0.0), 0);
    /* base 1 and 0 */
    b = (slim_backoff_config){SLIM_BACKOFF_EXPONENTIAL, 1, 7, 5000, false, 0, UINT64_MAX};
    CHECK_U64(slim_grpc_backoff_delay(&b, 99, 0), 7);
    b.base_ms = 0;
    CHECK_U64(slim_grpc_backoff_delay(&b, 3, 0), 0);
    /* max_attempts retries, then none */
    b = (slim_backoff_config){SLIM_BACKOFF_EXPONENTIAL, 2, 1, 100, false, 0, 3};
    CHECK(slim_grpc_backoff_delay(&b, 2, 0) != SLIM_GRPC_OFF);
    CHECK_U64(slim_grpc_backoff_delay(&b, 3, 0), SLIM_GRPC_OFF);
}

TEST(fixed_interval_backoff) {
    slim_backoff_config b = {SLIM_BACKOFF_FIXED_INTERVAL, 0, 0, 0, false, 250, 2};
    CHECK_U64(slim_grpc_backoff_delay(&b, 0, 0.9), 250);
    CHECK_U64(slim_grpc_backoff_delay(&b, 1, 0.9), 250);
    CHECK_U64(slim_grpc_backoff_delay(&b, 2, 0.9), SLIM_GRPC_OFF);
    b.max_attempts = 0;
    CHECK_U64(slim_grpc_backoff_delay(&b, 0, 0.9), SLIM_GRPC_OFF);
}

/* ---- SLIM config -> transport settings ---- */

TEST(server_and_client_config_mapping) {
    slim_grpc_config d;
    slim_grpc_config_resolve_role(NULL, true, &d);
    CHECK_U64(d.keepalive_time_ms, 120000);
    CHECK_U64(d.keepalive_timeout_ms, 20000);
    CHECK_U64(d.max_connection_idle_ms, 3600000);
    CHECK_U64(d.max_connection_age_ms, 7200000);
    CHECK_U64(d.max_connection_age_grace_ms, 300000);
    slim_grpc_config_resolve_role(NULL, false, &d);
    CHECK_U64(d.keepalive_time_ms, 60000);
    CHECK_U64(d.keepalive_timeout_ms, 10000);
    CHECK_U64(d.keepalive_min_interval_ms, 300000);
    CHECK(!d.keepalive_while_idle);

    slim_server_config sc;
    slim_server_config_defaults(&sc);
    sc.max_message_size = 8u << 20;
    sc.max_concurrent_streams = 7;
    sc.keepalive.time_ms = 1500;
    sc.keepalive.max_connection_idle_ms = 0; /* off */
    slim_grpc_config base = {0};
    base.write_batch = 4096;
    slim_grpc_config out;
    slim_grpc_config_from_server(&sc, &base, &out);
    CHECK_U64(out.max_message_size, 8u << 20);
    CHECK_EQ(out.max_concurrent_streams, 7);
    CHECK_U64(out.write_batch, 4096);
    CHECK_U64(out.keepalive_time_ms, 1500);
    CHECK_U64(out.keepalive_timeout_ms, 20000);
    CHECK_U64(out.max_connection_idle_ms, SLIM_GRPC_OFF);
    CHECK_U64(out.max_connection_age_ms, 7200000);

    slim_client_config cc;
    slim_client_config_defaults(&cc);
    cc.keepalive.http2_keepalive_ms = 0; /* off */
    cc.keepalive.timeout_ms = 3000;
    cc.keepalive.while_idle = true;
    slim_grpc_config_from_client(&cc, NULL, &out);
    CHECK_U64(out.keepalive_time_ms, SLIM_GRPC_OFF);
    CHECK_U64(out.keepalive_timeout_ms, 3000);
    CHECK(out.keepalive_while_idle);
    CHECK_U64(out.max_message_size, SLIM_GRPC_DEFAULT_MAX_MESSAGE_SIZE);
}

TEST_MAIN(TEST_ENTRY(copies_and_shared_buffers_pack_in_order_at_any_cut),
          TEST_ENTRY(unsent_is_the_suffix_from_the_first_message_not_written),
          TEST_ENTRY(backlogged_copies_are_compacted),
          TEST_ENTRY(allocation_failures_leave_the_queue_intact),
          TEST_ENTRY(exponential_backoff_is_tokio_retry), TEST_ENTRY(fixed_interval_backoff),
          TEST_ENTRY(server_and_client_config_mapping))
