/* Unit tests for src/router/forwarder.c, driving it with encoded messages
 * and recording what it sends. */
#include "test.h"
#include "router/forwarder.h"
#include "wire/fastpath.h"

#define MAX_SENT 64

typedef struct sent {
    uint64_t conn;
    slim_rcbuf *buf;
} sent;

static sent sends[MAX_SENT];
static int nsent;
static uint64_t full_conn = UINT64_MAX; /* send() reports a full queue for it */
static uint64_t closed_conn;
static slim_status closed_why;
static int nclosed;
static slim_conn_kind linked_kind;
static int nlinked;
static uint64_t acked_id;
static bool acked_ok;

static slim_status t_send(void *ud, uint64_t conn, slim_rcbuf *buf) {
    (void)ud;
    if (conn == full_conn)
        return SLIM_E_QUEUE_FULL;
    if (nsent < MAX_SENT)
        sends[nsent++] = (sent){conn, slim_rcbuf_ref(buf)};
    return SLIM_OK;
}

static void t_close(void *ud, uint64_t conn, slim_status why, const char *detail) {
    (void)ud;
    (void)detail;
    closed_conn = conn;
    closed_why = why;
    nclosed++;
}

static void t_linked(void *ud, uint64_t conn, slim_conn_kind kind, const char *peer) {
    (void)ud;
    (void)conn;
    (void)peer;
    linked_kind = kind;
    nlinked++;
}

static void t_ack(void *ud, uint64_t conn, uint64_t id, bool ok, const char *err) {
    (void)ud;
    (void)conn;
    (void)err;
    acked_id = id;
    acked_ok = ok;
}

static void reset_sent(void) {
    for (int i = 0; i < nsent; i++)
        slim_rcbuf_unref(sends[i].buf);
    nsent = 0;
    nclosed = 0;
    nlinked = 0;
    full_conn = UINT64_MAX;
}

static uint64_t next_random = 1000;

static uint64_t t_random(void *ud) {
    (void)ud;
    return next_random++;
}

static const slim_fwd_ops ops = {t_send, t_close, t_linked, t_ack, t_random, NULL};

static slim_fwd *mk(size_t max_subs) {
    slim_fwd_config cfg = {
        .node_id = "slim/test",
        .version = "0.1.0",
        .announce = SLIM_LINK_TYPE_REMOTE,
        .max_message_size = 8192,
        .max_subscriptions_per_conn = max_subs,
    };
    slim_fwd *f = NULL;
    if (slim_fwd_new(&cfg, &ops, NULL, &f) != SLIM_OK)
        TEST_FAIL_AT("fwd_new failed");
    reset_sent();
    return f;
}

static slim_name nm(const char *t) {
    slim_name n;
    slim_name_parse(t, strlen(t), &n, NULL);
    return n;
}

static slim_status input(slim_fwd *f, uint64_t conn, slim_msg *m, uint64_t now) {
    slim_buf b = SLIM_BUF_INIT;
    slim_status st = slim_wire_encode(m, SIZE_MAX, &b);
    if (st == SLIM_OK)
        st = slim_fwd_input(f, conn, slim_buf_view(&b), now);
    slim_buf_cleanup(&b);
    slim_wire_free(m);
    return st;
}

static slim_msg *link_msg(const char *id, bool reply, slim_link_type t) {
    slim_wire_link_spec s = {
        .link_id = id, .slim_version = "9.9.9", .is_reply = reply, .connection_type = t};
    slim_msg *m = NULL;
    slim_wire_link_negotiation_new(&s, &m);
    return m;
}

#define EDGE   SLIM_LINK_TYPE_EDGE
#define REMOTE SLIM_LINK_TYPE_REMOTE
#define PEER   SLIM_LINK_TYPE_PEER

/* An accepted connection that negotiated as `type`; drops the reply. */
static void accept_conn(slim_fwd *f, uint64_t conn, slim_link_type type) {
    CHECK_OK(slim_fwd_conn_open(f, conn, SLIM_FWD_ACCEPTED, NULL));
    CHECK_OK(input(f, conn, link_msg("link-1", false, type), 0));
    CHECK(slim_fwd_conn_ready(f, conn));
    reset_sent();
}

static slim_msg *sub_msg(const char *name, uint64_t id, bool unsub, uint32_t ttl) {
    slim_name src = nm("o/n/src"), dst = nm(name);
    slim_wire_header_spec h = {.source = {&src, NULL}, .destination = {&dst, NULL}, .ttl = ttl};
    slim_msg *m = NULL;
    slim_wire_subscribe_new(&h, id, unsub, &m);
    return m;
}

static slim_msg *pub_msg_id(const char *src_t, const char *dst_t, uint32_t fanout, uint32_t ttl,
                            uint32_t message_id) {
    slim_name_parts dp;
    slim_name src = nm(src_t), dst;
    slim_name_parse(dst_t, strlen(dst_t), &dst, &dp);
    slim_wire_header_spec h = {
        .source = {&src, NULL}, .destination = {&dst, dp.component}, .fanout = fanout, .ttl = ttl};
    slim_wire_session_spec s = {
        .session_type = 1, .message_type = 1, .session_id = 5, .message_id = message_id};
    slim_msg *m = NULL;
    slim_wire_publish_new(&h, &s, &m);
    slim_wire_set_app_payload(m, "msg", slim_bytes_of("hi", 2));
    return m;
}

static slim_msg *pub_msg(const char *src_t, const char *dst_t, uint32_t fanout, uint32_t ttl) {
    return pub_msg_id(src_t, dst_t, fanout, ttl, 6);
}

static slim_msg *decode_sent(int i) {
    slim_msg *m = NULL;
    if (i >= nsent || slim_wire_decode(slim_rcbuf_view(sends[i].buf), SIZE_MAX, &m) != SLIM_OK)
        TEST_FAIL_AT("sent message %d missing or undecodable", i);
    return m;
}

/* The connection_type of sent message i, a Link; -1 when it is not one. */
static int sent_link_type(int i) {
    slim_msg *m = decode_sent(i);
    const slim_pb_link_negotiation *ln = m ? slim_wire_link_negotiation(m) : NULL;
    int type = ln != NULL ? (int)slim_wire_link_type(ln) : -1;
    slim_wire_free(m);
    return type;
}

TEST(accepted_link_negotiation) {
    slim_fwd *f = mk(0);
    CHECK_OK(slim_fwd_conn_open(f, 1, SLIM_FWD_ACCEPTED, NULL));
    CHECK(!slim_fwd_conn_ready(f, 1));
    CHECK_OK(input(f, 1, link_msg("abc-123", false, EDGE), 0));
    CHECK(slim_fwd_conn_ready(f, 1));
    CHECK_EQ(nlinked, 1);
    CHECK_EQ(linked_kind, SLIM_CONN_EDGE);
    CHECK_EQ(nsent, 1);
    slim_msg *r = decode_sent(0);
    const slim_pb_link_negotiation *ln = r ? slim_wire_link_negotiation(r) : NULL;
    CHECK(ln != NULL);
    if (ln != NULL) {
        CHECK(ln->is_reply);
        CHECK_STR(ln->link_id, "abc-123");
        CHECK_STR(ln->slim_version, "0.1.0");
        CHECK_STR(ln->node_id, "slim/test");
        CHECK_EQ(slim_wire_link_type(ln), EDGE); /* echoed */
    }
    slim_wire_free(r);
    slim_conn_kind k;
    CHECK_OK(slim_router_conn_kind(slim_fwd_router(f), 1, &k));
    CHECK_EQ(k, SLIM_CONN_EDGE);
    reset_sent();

    /* a node link */
    CHECK_OK(slim_fwd_conn_open(f, 2, SLIM_FWD_ACCEPTED, NULL));
    CHECK_OK(input(f, 2, link_msg("x", false, REMOTE), 0));
    CHECK_EQ(linked_kind, SLIM_CONN_NODE);
    CHECK_EQ(sent_link_type(0), REMOTE);
    reset_sent();

    /* a peer node (upstream's mesh links): routed as a node, PEER echoed,
     * as upstream's nodes expect before they exchange subscriptions */
    CHECK_OK(slim_fwd_conn_open(f, 6, SLIM_FWD_ACCEPTED, NULL));
    CHECK_OK(input(f, 6, link_msg("y", false, PEER), 0));
    CHECK_EQ(linked_kind, SLIM_CONN_NODE);
    CHECK_EQ(sent_link_type(0), PEER);
    reset_sent();

    /* a first message that is not a Link closes the stream */
    CHECK_OK(slim_fwd_conn_open(f, 3, SLIM_FWD_ACCEPTED, NULL));
    CHECK_STATUS(input(f, 3, sub_msg("o/n/x", 0, false, 8), 0), SLIM_E_ROUTER_LINK_REFUSED);
    CHECK_EQ(nclosed, 1);
    CHECK_EQ(closed_conn, 3);
    CHECK_EQ(closed_why, SLIM_E_INVALID_ARG);
    CHECK(!slim_fwd_conn_ready(f, 3));
    CHECK_STATUS(input(f, 3, sub_msg("o/n/x", 0, false, 8), 0), SLIM_E_ROUTER_UNKNOWN_CONNECTION);
    /* a reply where a request is due, and garbage */
    CHECK_OK(slim_fwd_conn_open(f, 4, SLIM_FWD_ACCEPTED, NULL));
    CHECK_STATUS(input(f, 4, link_msg("x", true, EDGE), 0), SLIM_E_ROUTER_LINK_REFUSED);
    CHECK_OK(slim_fwd_conn_open(f, 5, SLIM_FWD_ACCEPTED, NULL));
    CHECK_STATUS(slim_fwd_input(f, 5, slim_bytes_of("\xff\xff", 2), 0), SLIM_E_ROUTER_LINK_REFUSED);
    slim_fwd_counters c;
    slim_fwd_counters_get(f, &c);
    CHECK_EQ(c.links_refused, 3);
    reset_sent();
    slim_fwd_free(f);
}

TEST(dialled_link_negotiation) {
    slim_fwd *f = mk(0);
    CHECK_OK(slim_fwd_conn_open(f, 7, SLIM_FWD_DIALLED, "my-link"));
    CHECK_EQ(nsent, 1);
    slim_msg *r = decode_sent(0);
    const slim_pb_link_negotiation *ln = r ? slim_wire_link_negotiation(r) : NULL;
    CHECK(ln != NULL && !ln->is_reply && strcmp(ln->link_id, "my-link") == 0 &&
          slim_wire_link_type(ln) == REMOTE);
    slim_wire_free(r);
    CHECK_STATUS(input(f, 7, link_msg("other", true, REMOTE), 0), SLIM_E_ROUTER_LINK_REFUSED);
    CHECK_EQ(nclosed, 1);
    reset_sent();
    CHECK_OK(slim_fwd_conn_open(f, 8, SLIM_FWD_DIALLED, "my-link"));
    CHECK_OK(input(f, 8, link_msg("my-link", true, REMOTE), 0));
    CHECK(slim_fwd_conn_ready(f, 8));
    CHECK_EQ(linked_kind, SLIM_CONN_NODE);
    reset_sent();
    /* a link configured as a peer announces PEER */
    CHECK_OK(slim_fwd_conn_open_opts(f, 9, SLIM_FWD_DIALLED, "peer-link",
                                     &(slim_fwd_link_opts){.announce = PEER}));
    CHECK_EQ(sent_link_type(0), PEER);
    CHECK_OK(input(f, 9, link_msg("peer-link", true, PEER), 0));
    CHECK(slim_fwd_conn_ready(f, 9));
    CHECK_EQ(linked_kind, SLIM_CONN_NODE);
    reset_sent();
    slim_fwd_free(f);
}

TEST(subscription_acks) {
    slim_fwd *f = mk(2);
    accept_conn(f, 1, EDGE);
    CHECK_OK(input(f, 1, sub_msg("o/n/a", 11, false, 8), 0));
    CHECK_OK(input(f, 1, sub_msg("o/n/a", 12, false, 8), 0)); /* again: fine */
    CHECK_OK(input(f, 1, sub_msg("o/n/b", 0, false, 8), 0));  /* no ack wanted */
    CHECK_STATUS(input(f, 1, sub_msg("o/n/c", 13, false, 8), 0), SLIM_E_ROUTER_SUBSCRIPTION_LIMIT);
    CHECK_STATUS(input(f, 1, sub_msg("o/n/z", 14, true, 8), 0), SLIM_E_ROUTER_NO_SUCH_SUBSCRIPTION);
    CHECK_OK(input(f, 1, sub_msg("o/n/a", 15, true, 8), 0));
    CHECK_EQ(nsent, 5);
    static const struct {
        uint64_t id;
        bool ok;
        const char *err;
    } want[] = {{11, true, ""},
                {12, true, ""},
                {13, false, "subscription limit reached"},
                {14, false, "no such subscription"},
                {15, true, ""}};
    for (int i = 0; i < 5 && i < nsent; i++) {
        slim_msg *m = decode_sent(i);
        CHECK(m != NULL && slim_wire_kind(m) == SLIM_MSG_SUBSCRIPTION_ACK);
        if (m == NULL || slim_wire_kind(m) != SLIM_MSG_SUBSCRIPTION_ACK)
            continue;
        CHECK_EQ(sends[i].conn, 1);
        CHECK_U64(m->subscription_ack->subscription_id, want[i].id);
        CHECK_EQ(m->subscription_ack->success, want[i].ok);
        CHECK_STR(m->subscription_ack->error, want[i].err);
        slim_wire_free(m);
    }
    slim_name a = nm("o/n/a"), b = nm("o/n/b");
    CHECK(!slim_router_is_subscribed(slim_fwd_router(f), 1, &a));
    CHECK(slim_router_is_subscribed(slim_fwd_router(f), 1, &b));
    reset_sent();
    slim_fwd_free(f);
}

TEST(publish_one_to_one_decrements_ttl) {
    slim_fwd *f = mk(0);
    accept_conn(f, 1, EDGE);
    accept_conn(f, 2, EDGE);
    CHECK_OK(input(f, 2, sub_msg("o/n/bob", 0, false, 8), 0));
    slim_msg *m = pub_msg("o/n/alice/1", "o/n/bob", 1, 8);
    slim_buf in = SLIM_BUF_INIT, want = SLIM_BUF_INIT;
    CHECK_OK(slim_wire_encode(m, SIZE_MAX, &in));
    slim_wire_header(m)->ttl = 7;
    CHECK_OK(slim_wire_encode(m, SIZE_MAX, &want));
    slim_wire_free(m);
    CHECK_OK(slim_fwd_input(f, 1, slim_buf_view(&in), 0));
    CHECK_EQ(nsent, 1);
    if (nsent == 1) {
        CHECK_EQ(sends[0].conn, 2);
        CHECK_EQ(sends[0].buf->len, want.len);
        CHECK_MEM(sends[0].buf->data, want.data, want.len);
    }
    slim_fwd_counters c;
    slim_fwd_counters_get(f, &c);
    CHECK_EQ(c.publish_in, 1);
    CHECK_EQ(c.publish_matched, 1);
    slim_buf_cleanup(&in);
    slim_buf_cleanup(&want);
    reset_sent();
    slim_fwd_free(f);
}

TEST(ttl_exhaustion_drops) {
    slim_fwd *f = mk(0);
    accept_conn(f, 1, EDGE);
    accept_conn(f, 2, EDGE);
    CHECK_OK(input(f, 2, sub_msg("o/n/bob", 0, false, 8), 0));
    CHECK_STATUS(input(f, 1, pub_msg("o/n/a", "o/n/bob", 1, 1), 0), SLIM_E_ROUTER_TTL_EXPIRED);
    /* ttl 0 on the wire: the builder's default is 8, so clear it by hand */
    slim_msg *m = pub_msg("o/n/a", "o/n/bob", 1, 8);
    slim_wire_header(m)->ttl = 0;
    CHECK_STATUS(input(f, 1, m, 0), SLIM_E_ROUTER_TTL_EXPIRED);
    m = sub_msg("o/n/c", 5, false, 8);
    slim_wire_header(m)->ttl = 1;
    CHECK_STATUS(input(f, 1, m, 0), SLIM_E_ROUTER_TTL_EXPIRED);
    CHECK_EQ(nsent, 0);
    slim_fwd_counters c;
    slim_fwd_counters_get(f, &c);
    CHECK_EQ(c.drop_ttl, 3);
    reset_sent();
    slim_fwd_free(f);
}

TEST(unmatched_publish_gets_rate_limited_error) {
    slim_fwd *f = mk(0);
    accept_conn(f, 1, EDGE);
    accept_conn(f, 2, REMOTE);
    CHECK_STATUS(input(f, 1, pub_msg("o/n/alice/1", "o/n/nobody", 1, 8), 1000),
                 SLIM_E_ROUTER_NO_ROUTE);
    CHECK_EQ(nsent, 1);
    slim_msg *e = decode_sent(0);
    if (e != NULL) {
        CHECK_EQ(sends[0].conn, 1);
        slim_pb_header *h = slim_wire_header(e);
        slim_name s, d, want_s = nm("o/n/nobody"), want_d = nm("o/n/alice/1");
        CHECK_OK(slim_wire_name_get(h->source, &s));
        CHECK_OK(slim_wire_name_get(h->destination, &d));
        CHECK(slim_name_equal(&s, &want_s));
        CHECK(slim_name_equal(&d, &want_d));
        CHECK(h->_error_case && h->error);
        CHECK_EQ(h->fanout, 1);
        CHECK_EQ(h->ttl, 8);
        CHECK_EQ(e->publish->session->session_id, 5);
        CHECK_EQ(e->publish->session->message_id, 6);
        CHECK_STR(e->publish->msg->app_payload->payload_type, "slim.error");
        const ProtobufCBinaryData *b = &e->publish->msg->app_payload->blob;
        CHECK(b->len == strlen("no route to o/n/nobody") &&
              memcmp(b->data, "no route to o/n/nobody", b->len) == 0);
        slim_wire_free(e);
    }
    reset_sent();
    /* within the second: counted, not sent; a different name is separate */
    CHECK_STATUS(input(f, 1, pub_msg("o/n/alice/1", "o/n/nobody", 1, 8), 1500),
                 SLIM_E_ROUTER_NO_ROUTE);
    CHECK_EQ(nsent, 0);
    CHECK_STATUS(input(f, 1, pub_msg("o/n/alice/1", "o/n/other", 1, 8), 1500),
                 SLIM_E_ROUTER_NO_ROUTE);
    CHECK_EQ(nsent, 1);
    CHECK_STATUS(input(f, 1, pub_msg("o/n/alice/1", "o/n/nobody", 1, 8), 2001),
                 SLIM_E_ROUTER_NO_ROUTE);
    CHECK_EQ(nsent, 2);
    /* from a node link: no error reply */
    CHECK_STATUS(input(f, 2, pub_msg("o/n/alice/1", "o/n/nobody", 1, 8), 5000),
                 SLIM_E_ROUTER_NO_ROUTE);
    CHECK_EQ(nsent, 2);
    slim_fwd_counters c;
    slim_fwd_counters_get(f, &c);
    CHECK_EQ(c.errors_sent, 3);
    CHECK_EQ(c.errors_suppressed, 1);
    CHECK_EQ(c.drop_no_route, 5);
    reset_sent();
    slim_fwd_free(f);
}

TEST(broadcast_shares_one_buffer_and_counts_full_queues) {
    slim_fwd *f = mk(0);
    accept_conn(f, 1, EDGE);
    for (uint64_t c = 10; c < 15; c++) {
        accept_conn(f, c, EDGE);
        CHECK_OK(input(f, c, sub_msg("o/n/chan", 0, false, 8), 0));
    }
    full_conn = 12;
    CHECK_OK(input(f, 1, pub_msg("o/n/a", "o/n/chan", 256, 8), 0));
    CHECK_EQ(nsent, 4);
    for (int i = 1; i < nsent; i++)
        CHECK(sends[i].buf == sends[0].buf);
    uint64_t mask = 0;
    for (int i = 0; i < nsent; i++)
        mask |= 1ull << sends[i].conn;
    CHECK_U64(mask, (1ull << 10) | (1ull << 11) | (1ull << 13) | (1ull << 14));
    slim_fwd_counters c;
    slim_fwd_counters_get(f, &c);
    CHECK_EQ(c.drop_queue_full, 1);
    reset_sent();
    slim_fwd_free(f);
}

TEST(bad_messages_are_dropped_and_counted) {
    slim_fwd *f = mk(0);
    accept_conn(f, 1, EDGE);
    CHECK_STATUS(slim_fwd_input(f, 1, slim_bytes_of("\x0b", 1), 0), SLIM_E_WIRE_MALFORMED);
    CHECK_STATUS(slim_fwd_input(f, 1, slim_bytes_of("\x3a\x00", 2), 0), SLIM_E_WIRE_UNKNOWN_TYPE);
    static uint8_t big[9000];
    CHECK_STATUS(slim_fwd_input(f, 1, slim_bytes_of(big, sizeof big), 0), SLIM_E_TOO_LARGE);
    /* a subscribe without a header: ack with the reason */
    CHECK_STATUS(slim_fwd_input(f, 1, slim_bytes_of("\x0a\x02\x10\x09", 4), 0),
                 SLIM_E_WIRE_MISSING_FIELD);
    CHECK_EQ(nsent, 1);
    slim_msg *a = decode_sent(0);
    if (a != NULL) {
        CHECK_U64(a->subscription_ack->subscription_id, 9);
        CHECK(!a->subscription_ack->success);
        CHECK_STR(a->subscription_ack->error, "required field missing from message");
        slim_wire_free(a);
    }
    /* names over the length limit */
    char longname[1100 + 10];
    memset(longname, 'x', 1025);
    memcpy(longname + 1025, "/n/s", 5);
    slim_name ln;
    slim_str comp[3] = {{longname, 1025}, {"n", 1}, {"s", 1}};
    slim_name_from_strings((slim_str[3]){{"x", 1}, {"n", 1}, {"s", 1}}, slim_id_any(), &ln);
    slim_name src = nm("o/n/src");
    slim_wire_header_spec h = {.source = {&src, NULL}, .destination = {&ln, comp}};
    slim_msg *m = NULL;
    CHECK_OK(slim_wire_subscribe_new(&h, 21, false, &m));
    CHECK_STATUS(input(f, 1, m, 0), SLIM_E_NAME_COMPONENT_TOO_LONG);
    slim_fwd_counters c;
    slim_fwd_counters_get(f, &c);
    CHECK_EQ(c.drop_malformed, 4);
    CHECK_EQ(c.drop_too_large, 1);
    CHECK(slim_fwd_conn_ready(f, 1)); /* the link stays up */
    reset_sent();
    slim_fwd_free(f);
}

/* The in-process path: an application in this process hands a publish as
 * values. It is written once: the gRPC links without tags all get that
 * very buffer (no copy), whose bytes are the message protobuf-c would
 * encode; a local subscriber gets its own copy with incoming_conn. */
TEST(in_process_publish_without_encode_peek_or_copy) {
    slim_fwd *f = mk(0);
    CHECK_OK(slim_fwd_conn_open(f, 0, SLIM_FWD_LOCAL, NULL));
    CHECK_OK(slim_fwd_conn_open(f, 5, SLIM_FWD_LOCAL, NULL));
    accept_conn(f, 1, EDGE);
    accept_conn(f, 2, REMOTE);
    CHECK_OK(input(f, 1, sub_msg("o/n/chan", 0, false, 8), 0));
    CHECK_OK(input(f, 2, sub_msg("o/n/chan", 0, false, 8), 0));
    CHECK_OK(input(f, 5, sub_msg("o/n/chan", 0, false, 8), 0));
    reset_sent();
    slim_name src = nm("o/n/app/3"), dst;
    slim_name_parts dp;
    slim_name_parse("o/n/chan", 8, &dst, &dp);
    slim_wire_publish_values v = {
        .header = {.source = {&src, NULL}, .destination = {&dst, dp.component}, .fanout = 256},
        .session = {.session_type = 2, .message_type = 1, .session_id = 9, .message_id = 4},
        .payload_type = "msg",
        .payload = slim_bytes_of("hello", 5),
    };
    CHECK_OK(slim_fwd_publish_local(f, 0, &v, 0));
    CHECK_EQ(nsent, 3);
    slim_rcbuf *remote = NULL;
    for (int i = 0; i < nsent; i++) {
        slim_msg *d = decode_sent(i);
        const slim_pb_header *h = d ? slim_wire_header(d) : NULL;
        CHECK(h != NULL);
        if (h != NULL && sends[i].conn == 5) {
            CHECK(h->_incoming_conn_case);
            CHECK_U64(h->incoming_conn, 0);
        } else if (h != NULL) {
            CHECK(!h->_incoming_conn_case);
            if (remote == NULL)
                remote = sends[i].buf;
            CHECK(sends[i].buf == remote); /* the same buffer for both links */
        }
        slim_wire_free(d);
    }
    /* the shared bytes are what protobuf-c writes for the same message */
    slim_msg *m = NULL;
    slim_buf ref = SLIM_BUF_INIT;
    CHECK_OK(slim_wire_publish_new(&v.header, &v.session, &m));
    CHECK_OK(slim_wire_set_app_payload(m, "msg", v.payload));
    CHECK_OK(slim_wire_encode(m, SIZE_MAX, &ref));
    CHECK(remote != NULL && remote->len == ref.len && memcmp(remote->data, ref.data, ref.len) == 0);
    slim_buf_cleanup(&ref);
    slim_wire_free(m);
    reset_sent();
    /* forward_to from the process itself is honoured: only connection 2 */
    v.header.has_forward_to = true;
    v.header.forward_to = 2;
    CHECK_OK(slim_fwd_publish_local(f, 0, &v, 0));
    CHECK_EQ(nsent, 1);
    CHECK_EQ(sends[0].conn, 2);
    reset_sent();
    /* only for applications in this process */
    CHECK_STATUS(slim_fwd_publish_local(f, 1, &v, 0), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_fwd_publish_local(f, 77, &v, 0), SLIM_E_ROUTER_UNKNOWN_CONNECTION);
    slim_fwd_counters c;
    slim_fwd_counters_get(f, &c);
    CHECK_EQ(c.publish_local, 2);
    slim_fwd_free(f);
}

TEST(local_delivery_and_recv_from) {
    slim_fwd *f = mk(0);
    CHECK_OK(slim_fwd_conn_open(f, 0, SLIM_FWD_LOCAL, NULL));
    accept_conn(f, 1, REMOTE);
    accept_conn(f, 2, EDGE);
    CHECK_OK(input(f, 0, sub_msg("o/n/me", 0, false, 8), 0));
    CHECK_OK(input(f, 1, pub_msg("o/n/x", "o/n/me", 1, 8), 0));
    CHECK_EQ(nsent, 1);
    slim_msg *d = decode_sent(0);
    if (d != NULL) {
        CHECK_EQ(sends[0].conn, 0);
        CHECK(slim_wire_header(d)->_incoming_conn_case);
        CHECK_U64(slim_wire_header(d)->incoming_conn, 1);
        slim_wire_free(d);
    }
    reset_sent();
    /* recv_from from a gRPC peer is ignored (installed on the sender) */
    slim_msg *m = sub_msg("o/n/r1", 0, false, 8);
    slim_wire_header(m)->_recv_from_case = DATAPLANE__PROTO__V1__SLIMHEADER___RECV_FROM_RECV_FROM;
    slim_wire_header(m)->recv_from = 1;
    CHECK_OK(input(f, 2, m, 0));
    slim_name r1 = nm("o/n/r1");
    CHECK(slim_router_is_subscribed(slim_fwd_router(f), 2, &r1));
    CHECK(!slim_router_is_subscribed(slim_fwd_router(f), 1, &r1));
    /* ... and honoured from the local application */
    m = sub_msg("o/n/r2", 0, false, 8);
    slim_wire_header(m)->_recv_from_case = DATAPLANE__PROTO__V1__SLIMHEADER___RECV_FROM_RECV_FROM;
    slim_wire_header(m)->recv_from = 1;
    CHECK_OK(input(f, 0, m, 0));
    slim_name r2 = nm("o/n/r2");
    CHECK(slim_router_is_subscribed(slim_fwd_router(f), 1, &r2));
    /* forward_to passes the subscription on, without node-local fields */
    m = sub_msg("o/n/r3", 0, false, 8);
    slim_wire_header(m)->_forward_to_case =
        DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO_FORWARD_TO;
    slim_wire_header(m)->forward_to = 1;
    CHECK_OK(input(f, 0, m, 0));
    CHECK_EQ(nsent, 1);
    d = decode_sent(0);
    if (d != NULL) {
        CHECK_EQ(sends[0].conn, 1);
        CHECK_EQ(slim_wire_kind(d), SLIM_MSG_SUBSCRIBE);
        CHECK(!slim_wire_header(d)->_forward_to_case);
        slim_wire_free(d);
    }
    /* a SubscriptionAck from a peer reaches the owner */
    slim_msg *ack = NULL;
    CHECK_OK(slim_wire_subscription_ack_new(77, true, NULL, &ack));
    CHECK_OK(input(f, 1, ack, 0));
    CHECK_U64(acked_id, 77);
    CHECK(acked_ok);
    reset_sent();
    slim_fwd_free(f);
}

TEST(allocation_failures_do_not_leak) {
    test_alloc_install();
    for (long k = 1; k < 200; k++) {
        test_alloc_fail_after(k);
        slim_fwd_config cfg = {.node_id = "n", .version = "v"};
        slim_fwd *f = NULL;
        if (slim_fwd_new(&cfg, &ops, NULL, &f) == SLIM_OK) {
            (void)slim_fwd_conn_open(f, 1, SLIM_FWD_LOCAL, NULL);
            (void)slim_fwd_conn_open(f, 2, SLIM_FWD_ACCEPTED, NULL);
            (void)input(f, 2, link_msg("l", false, EDGE), 0);
            (void)input(f, 1, sub_msg("o/n/a", 3, false, 8), 0);
            (void)input(f, 2, pub_msg("o/n/x", "o/n/a", 1, 8), 0);
            (void)input(f, 2, pub_msg("o/n/x", "o/n/none", 1, 8), 0);
            reset_sent();
            slim_fwd_free(f);
        }
        test_alloc_fail_after(0);
        if (test_alloc_live() != 0)
            TEST_FAIL_AT("k=%ld: %ld allocations leaked", k, test_alloc_live());
    }
    test_alloc_uninstall();
}

static slim_fwd *mk_node(void) {
    slim_fwd_config cfg = {
        .node_id = "slim/n",
        .version = "0.1.0",
        .announce = REMOTE,
        .propagate = true,
        .dedupe = true,
    };
    slim_fwd *f = NULL;
    if (slim_fwd_new(&cfg, &ops, NULL, &f) != SLIM_OK)
        TEST_FAIL_AT("fwd_new failed");
    reset_sent();
    return f;
}

/* The (un)subscriptions in sends[], as "conn:S|U:id:ttl" strings. */
static int find_sub_sent(uint64_t conn, bool unsub, uint64_t *id, uint32_t *ttl) {
    for (int i = 0; i < nsent; i++) {
        if (sends[i].conn != conn)
            continue;
        slim_msg *m = NULL;
        if (slim_wire_decode(slim_rcbuf_view(sends[i].buf), SIZE_MAX, &m) != SLIM_OK)
            continue;
        slim_msg_kind k = slim_wire_kind(m);
        bool match = unsub ? k == SLIM_MSG_UNSUBSCRIBE : k == SLIM_MSG_SUBSCRIBE;
        if (match) {
            *id = unsub ? m->unsubscribe->subscription_id : m->subscribe->subscription_id;
            *ttl = slim_wire_header(m)->ttl;
        }
        slim_wire_free(m);
        if (match)
            return i;
    }
    return -1;
}

TEST(subscriptions_propagate_between_nodes) {
    slim_fwd *f = mk_node();
    accept_conn(f, 1, EDGE);
    accept_conn(f, 2, REMOTE);
    accept_conn(f, 3, REMOTE);
    uint64_t id = 0;
    uint32_t ttl = 0;
    /* an application's subscription goes to every node link, fresh id, ttl 8 */
    next_random = 5000;
    CHECK_OK(input(f, 1, sub_msg("o/n/x", 0, false, 8), 0));
    CHECK(find_sub_sent(2, false, &id, &ttl) >= 0);
    CHECK_U64(id, 5000);
    CHECK_EQ(ttl, 8);
    CHECK(find_sub_sent(3, false, &id, &ttl) >= 0);
    CHECK_U64(id, 5000);
    CHECK_EQ(nsent, 2);
    reset_sent();
    /* its own subscription coming back round a loop is not installed */
    slim_name x = nm("o/n/x");
    CHECK_OK(input(f, 2, sub_msg("o/n/x", 5000, false, 6), 0));
    CHECK(!slim_router_is_subscribed(slim_fwd_router(f), 2, &x));
    reset_sent();
    /* a node's subscription: installed, relayed to the other node links only */
    CHECK_OK(input(f, 2, sub_msg("o/n/y", 77, false, 6), 0));
    slim_name y = nm("o/n/y");
    CHECK(slim_router_is_subscribed(slim_fwd_router(f), 2, &y));
    CHECK(find_sub_sent(3, false, &id, &ttl) >= 0);
    CHECK_U64(id, 77);
    CHECK_EQ(ttl, 5); /* decremented on the way in */
    CHECK(find_sub_sent(1, false, &id, &ttl) < 0);
    CHECK(find_sub_sent(2, false, &id, &ttl) < 0);
    reset_sent();
    /* the same id from another link: installed, acknowledged, not relayed */
    CHECK_OK(input(f, 3, sub_msg("o/n/y", 77, false, 6), 0));
    CHECK(slim_router_is_subscribed(slim_fwd_router(f), 3, &y));
    CHECK_EQ(nsent, 1); /* just the ack */
    slim_fwd_counters c;
    slim_fwd_counters_get(f, &c);
    CHECK_EQ(c.subs_seen, 1);
    reset_sent();
    /* the withdrawal follows the same path */
    CHECK_OK(input(f, 2, sub_msg("o/n/y", 77, true, 6), 0));
    CHECK(!slim_router_is_subscribed(slim_fwd_router(f), 2, &y));
    CHECK(find_sub_sent(3, true, &id, &ttl) >= 0);
    CHECK_U64(id, 77);
    reset_sent();
    CHECK_OK(input(f, 3, sub_msg("o/n/y", 77, true, 6), 0));
    CHECK(!slim_router_is_subscribed(slim_fwd_router(f), 3, &y));
    CHECK_EQ(nsent, 1); /* ack only */
    reset_sent();
    /* a node link that comes up gets what this node holds */
    CHECK_OK(slim_fwd_conn_open(f, 4, SLIM_FWD_ACCEPTED, NULL));
    CHECK_OK(input(f, 4, link_msg("l4", false, REMOTE), 0));
    CHECK(find_sub_sent(4, false, &id, &ttl) >= 0);
    CHECK_U64(id, 5000);
    slim_fwd_counters_get(f, &c);
    CHECK_EQ(c.subs_replayed, 1);
    reset_sent();
    /* the application leaves: its subscription is withdrawn everywhere */
    slim_fwd_conn_close(f, 1);
    CHECK(find_sub_sent(2, true, &id, &ttl) >= 0);
    CHECK_U64(id, 5000);
    CHECK(find_sub_sent(3, true, &id, &ttl) >= 0);
    CHECK(find_sub_sent(4, true, &id, &ttl) >= 0);
    reset_sent();
    slim_fwd_free(f);
}

TEST(two_applications_one_name) {
    slim_fwd *f = mk_node();
    accept_conn(f, 1, EDGE);
    accept_conn(f, 2, EDGE);
    accept_conn(f, 9, REMOTE);
    CHECK_OK(input(f, 1, sub_msg("o/n/x", 41, false, 8), 0));
    CHECK_OK(input(f, 2, sub_msg("o/n/x", 42, false, 8), 0));
    reset_sent();
    uint64_t id;
    uint32_t ttl;
    /* withdrawing what was never there: a named error, nothing sent */
    CHECK_STATUS(input(f, 1, sub_msg("o/n/none", 0, true, 8), 0),
                 SLIM_E_ROUTER_NO_SUCH_SUBSCRIPTION);
    CHECK_EQ(nsent, 0);
    /* the first leaves: only its id is withdrawn */
    CHECK_OK(input(f, 1, sub_msg("o/n/x", 0, true, 8), 0));
    CHECK(find_sub_sent(9, true, &id, &ttl) >= 0);
    CHECK_U64(id, 41);
    reset_sent();
    /* the far side, by reasons: withdrawing 41 keeps 42 */
    slim_fwd *g = mk_node();
    accept_conn(g, 5, REMOTE);
    CHECK_OK(input(g, 5, sub_msg("o/n/x", 41, false, 7), 0));
    CHECK_OK(input(g, 5, sub_msg("o/n/x", 42, false, 7), 0));
    CHECK_OK(input(g, 5, sub_msg("o/n/x", 41, true, 7), 0));
    slim_name x = nm("o/n/x");
    CHECK(slim_router_is_subscribed(slim_fwd_router(g), 5, &x));
    CHECK_OK(input(g, 5, sub_msg("o/n/x", 42, true, 7), 0));
    CHECK(!slim_router_is_subscribed(slim_fwd_router(g), 5, &x));
    reset_sent();
    slim_fwd_free(g);
    slim_fwd_free(f);
}

TEST(duplicate_filter_on_node_links) {
    slim_fwd *f = mk_node();
    accept_conn(f, 1, REMOTE);
    accept_conn(f, 2, EDGE);
    CHECK_OK(input(f, 2, sub_msg("o/n/b", 0, false, 8), 0));
    CHECK_OK(input(f, 2, sub_msg("o/n/c", 0, false, 8), 0));
    reset_sent();
    /* a broadcast seen twice within the window */
    CHECK_OK(input(f, 1, pub_msg("o/n/a", "o/n/b", 256, 8), 100));
    CHECK_STATUS(input(f, 1, pub_msg("o/n/a", "o/n/b", 256, 8), 200), SLIM_E_ROUTER_DUPLICATE);
    CHECK_EQ(nsent, 1);
    CHECK_OK(input(f, 1, pub_msg("o/n/a", "o/n/b", 256, 8), 900)); /* after the window */
    CHECK_EQ(nsent, 2);
    /* the same ids to another destination (a group sender's per-member
     * copies) are distinct messages */
    CHECK_OK(input(f, 1, pub_msg("o/n/a", "o/n/c", 256, 8), 901));
    CHECK_EQ(nsent, 3);
    /* a single-destination publish cannot come round a loop: not checked */
    CHECK_OK(input(f, 1, pub_msg("o/n/a", "o/n/b", 1, 8), 1000));
    CHECK_OK(input(f, 1, pub_msg("o/n/a", "o/n/b", 1, 8), 1001));
    CHECK_EQ(nsent, 5);
    /* nor is message id 0, which clients that do not number send */
    CHECK_OK(input(f, 1, pub_msg_id("o/n/a", "o/n/b", 256, 8, 0), 1002));
    CHECK_OK(input(f, 1, pub_msg_id("o/n/a", "o/n/b", 256, 8, 0), 1003));
    CHECK_EQ(nsent, 7);
    /* applications are not filtered: their retransmissions go through */
    accept_conn(f, 3, EDGE);
    CHECK_OK(input(f, 3, pub_msg("o/n/a", "o/n/b", 256, 8), 1100));
    CHECK_OK(input(f, 3, pub_msg("o/n/a", "o/n/b", 256, 8), 1101));
    CHECK_EQ(nsent, 2); /* accept_conn cleared the record */
    slim_fwd_counters c;
    slim_fwd_counters_get(f, &c);
    CHECK_EQ(c.drop_duplicate, 1);
    reset_sent();
    slim_fwd_free(f);
}

/* forward_to picks an output connection without any subscription: only an
 * application in the same process may use it. From gRPC peers (EDGE and
 * NODE) it is ignored and counted, on publishes and subscriptions. */
TEST(forward_to_only_from_local) {
    slim_fwd *f = mk_node();
    accept_conn(f, 1, EDGE);
    accept_conn(f, 2, EDGE);
    accept_conn(f, 3, REMOTE);
    CHECK_OK(slim_fwd_conn_open(f, 4, SLIM_FWD_LOCAL, NULL));
    reset_sent();
    for (uint64_t to = 0; to <= 8; to++) {
        slim_msg *m = pub_msg("o/n/a", "o/n/nobody", 1, 8);
        slim_wire_header(m)->_forward_to_case =
            DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO_FORWARD_TO;
        slim_wire_header(m)->forward_to = to;
        CHECK_STATUS(input(f, to % 2 ? 1 : 3, m, 0), SLIM_E_ROUTER_NO_ROUTE);
    }
    for (int i = 0; i < nsent; i++) /* only error replies to the EDGE sender */
        CHECK_EQ(sends[i].conn, 1);
    reset_sent();
    slim_msg *s = sub_msg("o/n/x", 0, false, 8);
    slim_wire_header(s)->_forward_to_case =
        DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO_FORWARD_TO;
    slim_wire_header(s)->forward_to = 2;
    CHECK_OK(input(f, 1, s, 0));
    for (int i = 0; i < nsent; i++)
        CHECK(sends[i].conn != 2);
    reset_sent();
    /* from the process itself it is honoured */
    slim_msg *m = pub_msg("o/n/a", "o/n/nobody", 1, 8);
    slim_wire_header(m)->_forward_to_case =
        DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO_FORWARD_TO;
    slim_wire_header(m)->forward_to = 2;
    CHECK_OK(input(f, 4, m, 0));
    CHECK_EQ(nsent, 1);
    if (nsent == 1)
        CHECK_EQ(sends[0].conn, 2);
    slim_fwd_counters c;
    slim_fwd_counters_get(f, &c);
    CHECK_EQ(c.forward_to_ignored, 10);
    reset_sent();
    slim_fwd_free(f);
}

/* ---- static subscriptions ---- */

TEST(static_subscriptions_stay_on_this_node) {
    slim_fwd *f = mk_node();
    accept_conn(f, 1, EDGE);
    accept_conn(f, 2, REMOTE);
    CHECK_OK(slim_fwd_conn_open(f, 5, SLIM_FWD_DIALLED, "l5"));
    CHECK_OK(input(f, 5, link_msg("l5", true, REMOTE), 0));
    reset_sent();
    slim_name s = nm("o/n/s");
    uint64_t id;
    uint32_t ttl;
    /* installed and routed, but told to no node */
    CHECK_OK(slim_fwd_static_subscribe(f, 5, &s));
    CHECK_OK(slim_fwd_static_subscribe(f, 5, &s)); /* again: no change */
    CHECK_EQ(nsent, 0);
    CHECK(slim_router_is_subscribed(slim_fwd_router(f), 5, &s));
    CHECK_OK(input(f, 1, pub_msg("o/n/a", "o/n/s", 1, 8), 0));
    CHECK_EQ(nsent, 1);
    CHECK_U64(sends[0].conn, 5);
    reset_sent();
    /* nor replayed to a node link that comes up */
    accept_conn(f, 6, REMOTE);
    CHECK_OK(slim_fwd_conn_open(f, 7, SLIM_FWD_ACCEPTED, NULL));
    CHECK_OK(input(f, 7, link_msg("l7", false, REMOTE), 0));
    CHECK(find_sub_sent(7, false, &id, &ttl) < 0);
    reset_sent();
    /* the peer's own subscription to the same name is a second reason */
    CHECK_OK(input(f, 5, sub_msg("o/n/s", 77, false, 6), 0));
    CHECK(find_sub_sent(2, false, &id, &ttl) >= 0);
    CHECK_U64(id, 77);
    reset_sent();
    CHECK_OK(slim_fwd_static_unsubscribe(f, 5, &s));
    CHECK(slim_router_is_subscribed(slim_fwd_router(f), 5, &s));
    CHECK_EQ(nsent, 0);
    CHECK_OK(slim_fwd_static_subscribe(f, 5, &s));
    CHECK_OK(input(f, 5, sub_msg("o/n/s", 77, true, 6), 0));
    CHECK(slim_router_is_subscribed(slim_fwd_router(f), 5, &s)); /* the static one stays */
    reset_sent();
    CHECK_OK(slim_fwd_static_unsubscribe(f, 5, &s));
    CHECK(!slim_router_is_subscribed(slim_fwd_router(f), 5, &s));
    CHECK_STATUS(slim_fwd_static_unsubscribe(f, 5, &s), SLIM_E_ROUTER_NO_SUCH_SUBSCRIPTION);
    CHECK_STATUS(slim_fwd_static_subscribe(f, 99, &s), SLIM_E_ROUTER_UNKNOWN_CONNECTION);
    CHECK_STATUS(slim_fwd_static_unsubscribe(f, 99, &s), SLIM_E_ROUTER_UNKNOWN_CONNECTION);
    CHECK_EQ(nsent, 0);
    /* the connection ends: the static subscription goes, withdrawn nowhere */
    CHECK_OK(slim_fwd_static_subscribe(f, 5, &s));
    slim_fwd_conn_close(f, 5);
    CHECK_EQ(nsent, 0);
    CHECK(!slim_router_is_subscribed(slim_fwd_router(f), 5, &s));
    /* the reserved reason is refused from other nodes */
    slim_name z = nm("o/n/z");
    CHECK_STATUS(input(f, 2, sub_msg("o/n/z", SLIM_FWD_STATIC_REASON, false, 6), 0),
                 SLIM_E_INVALID_ARG);
    CHECK(!slim_router_is_subscribed(slim_fwd_router(f), 2, &z));
    reset_sent();
    slim_fwd_free(f);
}

/* ---- names held by applications ---- */

typedef struct name_event {
    slim_name name;
    bool added, has_text;
    char text[64];
} name_event;

static name_event events[16];
static int nevents;

static void t_app_names(void *ud, const slim_name *name, const slim_str *text, bool added) {
    (void)ud;
    if (nevents >= 16)
        return;
    name_event *e = &events[nevents++];
    e->name = *name;
    e->added = added;
    e->has_text = text != NULL;
    e->text[0] = '\0';
    if (text != NULL)
        snprintf(e->text, sizeof e->text, "%.*s/%.*s/%.*s", (int)text[0].len, text[0].ptr,
                 (int)text[1].len, text[1].ptr, (int)text[2].len, text[2].ptr);
}

static const slim_fwd_ops names_ops = {t_send, t_close, t_linked, t_ack, t_random, t_app_names};

static slim_msg *sub_msg_text(const char *name, bool unsub) {
    slim_name_parts dp;
    slim_name src = nm("o/n/src"), dst;
    slim_name_parse(name, strlen(name), &dst, &dp);
    slim_wire_header_spec h = {
        .source = {&src, NULL}, .destination = {&dst, dp.component}, .ttl = 8};
    slim_msg *m = NULL;
    slim_wire_subscribe_new(&h, 0, unsub, &m);
    return m;
}

static void count_name(const slim_name *name, const slim_str *text, void *ud) {
    (void)name;
    (void)text;
    (*(int *)ud)++;
}

static void app_names_case(bool propagate) {
    slim_fwd_config cfg = {.node_id = "slim/n", .version = "0.1.0", .propagate = propagate};
    slim_fwd *f = NULL;
    CHECK_OK(slim_fwd_new(&cfg, &names_ops, NULL, &f));
    if (f == NULL)
        return;
    nevents = 0;
    CHECK_OK(slim_fwd_conn_open(f, 1, SLIM_FWD_LOCAL, NULL));
    accept_conn(f, 2, EDGE);
    accept_conn(f, 3, REMOTE);
    slim_name x = nm("o/n/x"), x7 = nm("o/n/x/7");
    /* the first application: added, with its text */
    CHECK_OK(input(f, 1, sub_msg_text("o/n/x", false), 0));
    CHECK_EQ(nevents, 1);
    CHECK(events[0].added && events[0].has_text && slim_name_equal(&events[0].name, &x));
    CHECK_STR(events[0].text, "o/n/x");
    /* a second application, the same one again, a node: nothing */
    CHECK_OK(input(f, 2, sub_msg_text("o/n/x", false), 0));
    CHECK_OK(input(f, 1, sub_msg_text("o/n/x", false), 0));
    CHECK_OK(input(f, 3, sub_msg("o/n/y", 55, false, 6), 0));
    CHECK_OK(slim_fwd_static_subscribe(f, 3, &x7));
    CHECK_EQ(nevents, 1);
    /* a name with an id, without text */
    CHECK_OK(input(f, 2, sub_msg("o/n/x/7", 0, false, 8), 0));
    CHECK_EQ(nevents, 2);
    CHECK(events[1].added && !events[1].has_text && slim_name_equal(&events[1].name, &x7));
    int n = 0;
    slim_fwd_app_names_foreach(f, count_name, &n);
    CHECK_EQ(n, 2);
    /* the first leaves the name: still held by the second */
    CHECK_OK(input(f, 1, sub_msg_text("o/n/x", true), 0));
    CHECK_EQ(nevents, 2);
    /* the second disconnects: both its names go */
    slim_fwd_conn_close(f, 2);
    CHECK_EQ(nevents, 4);
    bool gone_x = false, gone_x7 = false;
    for (int i = 2; i < nevents && i < 16; i++) {
        CHECK(!events[i].added);
        gone_x = gone_x || (slim_name_equal(&events[i].name, &x) && events[i].has_text &&
                            strcmp(events[i].text, "o/n/x") == 0);
        gone_x7 = gone_x7 || slim_name_equal(&events[i].name, &x7);
    }
    CHECK(gone_x && gone_x7);
    n = 0;
    slim_fwd_app_names_foreach(f, count_name, &n);
    CHECK_EQ(n, 0);
    /* an unsubscribe that withdraws the last holder */
    CHECK_OK(input(f, 1, sub_msg_text("o/n/w", false), 0));
    CHECK_OK(input(f, 1, sub_msg_text("o/n/w", true), 0));
    CHECK_EQ(nevents, 6);
    CHECK(events[4].added && !events[5].added);
    reset_sent();
    slim_fwd_free(f);
}

TEST(application_names_are_reported) {
    app_names_case(true);
    app_names_case(false);
}

TEST_MAIN(TEST_ENTRY(static_subscriptions_stay_on_this_node),
          TEST_ENTRY(application_names_are_reported),
          TEST_ENTRY(subscriptions_propagate_between_nodes), TEST_ENTRY(two_applications_one_name),
          TEST_ENTRY(duplicate_filter_on_node_links), TEST_ENTRY(forward_to_only_from_local),
          TEST_ENTRY(accepted_link_negotiation), TEST_ENTRY(dialled_link_negotiation),
          TEST_ENTRY(subscription_acks), TEST_ENTRY(publish_one_to_one_decrements_ttl),
          TEST_ENTRY(ttl_exhaustion_drops), TEST_ENTRY(unmatched_publish_gets_rate_limited_error),
          TEST_ENTRY(broadcast_shares_one_buffer_and_counts_full_queues),
          TEST_ENTRY(bad_messages_are_dropped_and_counted),
          TEST_ENTRY(local_delivery_and_recv_from),
          TEST_ENTRY(in_process_publish_without_encode_peek_or_copy),
          TEST_ENTRY(allocation_failures_do_not_leak))
