/* libFuzzer target: the forwarder (router + link negotiation + propagation
 * + duplicate filter) driven by a script of connection events and messages
 * read from the input: opens and closes of up to six connections of every
 * kind, Links, (un)subscriptions, publishes, acks, raw bytes, full queues
 * and time. Besides "no crash, no leak, no UB", it checks what the
 * forwarder hands to send():
 *   - only to connections that are open;
 *   - every message decodes;
 *   - a forwarded publish (not an error reply) never goes back on the
 *     connection it came from, carries ttl >= 1, and carries none of the
 *     node-local fields on a gRPC connection;
 *   - one input gives each connection at most one copy of a publish and at
 *     most one error reply. */
#include "core/buf.h"
#include "router/forwarder.h"
#include "slim/log.h"

#include <stdlib.h>
#include <string.h>

#define NCONN 6

/* The next byte of the script; 0 once it is used up. */
static uint8_t take(slim_reader *s) {
    uint8_t b = 0;
    (void)slim_reader_u8(s, &b);
    return b;
}

typedef struct model {
    bool open[NCONN + 1];
    bool local[NCONN + 1];
    bool full[NCONN + 1];
    uint8_t published[NCONN + 1]; /* during one input: 1 a publish, 2 an error sent */
    uint64_t input_conn;          /* the connection being processed, 0 outside input */
} model;

static model M;

static slim_status f_send(void *ud, uint64_t conn, slim_rcbuf *buf) {
    (void)ud;
    if (conn == 0 || conn > NCONN || !M.open[conn])
        abort(); /* sent to a connection that is not open */
    slim_msg *m = NULL;
    if (slim_wire_decode(slim_rcbuf_view(buf), SIZE_MAX, &m) != SLIM_OK)
        abort(); /* the forwarder wrote something undecodable */
    slim_pb_header *h = slim_wire_header(m);
    if (slim_wire_kind(m) == SLIM_MSG_PUBLISH && h != NULL) {
        uint8_t bit = h->error ? 2 : 1;
        if (M.published[conn] & bit)
            abort(); /* a second copy from one input */
        M.published[conn] |= bit;
    }
    if (slim_wire_kind(m) == SLIM_MSG_PUBLISH && h != NULL && !h->error) {
        if (conn == M.input_conn)
            abort(); /* a publish went back where it came from */
        if (h->ttl == 0)
            abort();
        if (!M.local[conn] && (h->_recv_from_case || h->_forward_to_case || h->_incoming_conn_case))
            abort(); /* node-local fields on a gRPC link */
        if (h->_header_mac_case && (M.local[conn] || h->header_mac.len != 32))
            abort(); /* a received tag passed on, or one on a local delivery */
    }
    slim_wire_free(m);
    return M.full[conn] ? SLIM_E_QUEUE_FULL : SLIM_OK;
}

static void f_close(void *ud, uint64_t conn, slim_status why, const char *detail) {
    (void)ud;
    (void)why;
    (void)detail;
    if (conn == 0 || conn > NCONN || !M.open[conn])
        abort();
    M.open[conn] = false; /* the owner would end the stream */
}

static uint64_t next_random;

static uint64_t f_random(void *ud) {
    (void)ud;
    return ++next_random;
}

static const slim_fwd_ops ops = {f_send, f_close, NULL, NULL, f_random, NULL};

/* One of four names, with the "any" id or one of two specific ids. */
static slim_name pick_name(slim_reader *s) {
    static const char *const texts[] = {"o/n/a", "o/n/b", "o/x/a", "p/n/c"};
    uint8_t b = take(s);
    slim_name n;
    (void)slim_name_parse(texts[b & 3], strlen(texts[b & 3]), &n, NULL);
    uint8_t id = (b >> 2) % 3;
    if (id != 0)
        n.id = (slim_id){0, id};
    return n;
}

static uint64_t pick_conn(slim_reader *s) {
    return take(s) % NCONN + 1;
}

static void input(slim_fwd *f, uint64_t conn, slim_bytes msg, uint64_t now) {
    memset(M.published, 0, sizeof M.published);
    M.input_conn = conn;
    (void)slim_fwd_input(f, conn, msg, now);
    M.input_conn = 0;
}

static void feed(slim_fwd *f, uint64_t conn, slim_msg *m, uint64_t now) {
    slim_buf b = SLIM_BUF_INIT;
    if (m != NULL && slim_wire_encode(m, SIZE_MAX, &b) == SLIM_OK) {
        input(f, conn, slim_buf_view(&b), now);
    }
    slim_buf_cleanup(&b);
    slim_wire_free(m);
}

static slim_wire_header_spec header(slim_reader *s, slim_name *src, slim_name *dst) {
    *src = pick_name(s);
    *dst = pick_name(s);
    uint8_t b = take(s);
    slim_wire_header_spec h = {.source = {src, NULL}, .destination = {dst, NULL}};
    static const uint32_t fanouts[] = {0, 1, 2, 256};
    h.fanout = fanouts[b & 3];
    h.ttl = (b >> 2) % 10; /* 0 becomes the default */
    if (b & 0x40) {
        h.has_forward_to = true;
        h.forward_to = take(s) % (NCONN + 2);
    }
    if (b & 0x80) {
        h.has_error = true;
        h.error = true;
    }
    return h;
}

/* The forwarder warns about refused links and the like; at fuzzing rates
 * that output is most of the time spent. SLIM_LOG still wins. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (getenv("SLIM_LOG") == NULL)
        slim_log_set_level(SLIM_LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    slim_reader s;
    slim_reader_init(&s, slim_bytes_of(data, size));
    memset(&M, 0, sizeof M);
    next_random = 0;
    slim_fwd_config cfg = {
        .node_id = "slim/fuzz",
        .version = "0.1.0",
        .announce = SLIM_LINK_TYPE_REMOTE,
        .max_message_size = 4096,
        .max_subscriptions_per_conn = 8,
        .propagate = true,
        .dedupe = true,
        .seen_max = 8, /* small, so that eviction happens */
        .dedupe_max = 8,
    };
    slim_fwd *f = NULL;
    if (slim_fwd_new(&cfg, &ops, NULL, &f) != SLIM_OK)
        return 0;
    uint64_t now = 0;
    while (slim_reader_remaining(&s) > 0) {
        uint8_t op = take(&s);
        uint64_t conn = pick_conn(&s);
        slim_name src, dst;
        switch (op % 8) {
        case 0: { /* open (with require_header_mac or not) */
            uint8_t b = take(&s);
            slim_fwd_link how = (slim_fwd_link)(b % 3);
            slim_fwd_link_opts o = {.announce = SLIM_LINK_TYPE_REMOTE,
                                    .require_header_mac = (b & 4) != 0};
            if (M.open[conn])
                break;
            M.open[conn] = true; /* a dialled link sends its Link at once */
            M.local[conn] = how == SLIM_FWD_LOCAL;
            if (slim_fwd_conn_open_opts(f, conn, how, "link-fuzz", &o) != SLIM_OK) {
                slim_fwd_conn_close(f, conn);
                M.open[conn] = false;
            }
            break;
        }
        case 1: /* the transport closed it */
            if (M.open[conn]) {
                slim_fwd_conn_close(f, conn);
                M.open[conn] = false;
            }
            break;
        case 2: { /* Link, with a header MAC key or not */
            uint8_t b = take(&s);
            static const uint8_t pk[32] = {9}; /* X25519's base point: a valid key */
            slim_wire_link_spec ls = {
                .public_key = slim_bytes_of(pk, (b & 16) ? sizeof pk : 0),
                .link_id = (b & 1) ? "link-fuzz" : "other",
                .slim_version = "1.0.0",
                .is_reply = (b & 2) != 0,
                .connection_type = (b & 4) ? SLIM_LINK_TYPE_REMOTE : SLIM_LINK_TYPE_EDGE,
                .node_id = (b & 8) ? "slim/fuzz" : "slim/peer",
            };
            slim_msg *m = NULL;
            (void)slim_wire_link_negotiation_new(&ls, &m);
            feed(f, conn, m, now);
            break;
        }
        case 3: { /* Subscribe / Unsubscribe */
            slim_wire_header_spec h = header(&s, &src, &dst);
            uint8_t b = take(&s);
            uint64_t id = (b & 0x7f) < 4 ? (b & 0x7f) : 1000 + take(&s);
            slim_msg *m = NULL;
            (void)slim_wire_subscribe_new(&h, id, (b & 0x80) != 0, &m);
            feed(f, conn, m, now);
            break;
        }
        case 4: { /* Publish */
            slim_wire_header_spec h = header(&s, &src, &dst);
            uint8_t b = take(&s);
            slim_wire_session_spec ss = {
                .session_type = 1, .message_type = 1, .session_id = b & 3, .message_id = b >> 2};
            slim_msg *m = NULL;
            (void)slim_wire_publish_new(&h, &ss, &m);
            size_t len = (size_t)take(&s) * 32; /* some past max_message_size */
            uint8_t *blob = calloc(1, len + 1);
            if (m != NULL && blob != NULL)
                (void)slim_wire_set_app_payload(m, "msg", slim_bytes_of(blob, len));
            free(blob);
            feed(f, conn, m, now);
            break;
        }
        case 5: { /* SubscriptionAck */
            uint8_t b = take(&s);
            slim_msg *m = NULL;
            (void)slim_wire_subscription_ack_new(b & 7, (b & 8) != 0, "no", &m);
            feed(f, conn, m, now);
            break;
        }
        case 6: { /* raw bytes */
            size_t n = take(&s);
            slim_bytes raw;
            if (n > slim_reader_remaining(&s))
                n = slim_reader_remaining(&s);
            (void)slim_reader_bytes(&s, n, &raw);
            input(f, conn, raw, now);
            break;
        }
        default: /* a queue fills or drains; time passes */
            M.full[conn] = !M.full[conn];
            now += take(&s) * 8u;
            break;
        }
    }
    slim_fwd_free(f);
    return 0;
}
