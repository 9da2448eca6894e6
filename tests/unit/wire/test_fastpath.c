/* Unit tests for the forwarding fast path (src/wire/fastpath.c): what peek
 * reads equals what a full decode reads, and the egress bytes equal a full
 * decode + change + re-encode. */
#include "test.h"
#include "core/util.h"
#include "wire/fastpath.h"

#include <stdio.h>
#include <stdlib.h>

/* The reference: decode, set ttl, drop node-local fields and the per-hop
 * header MAC, encode. */
static void reference_egress(slim_bytes in, uint32_t ttl, const uint64_t *incoming, slim_buf *out) {
    slim_msg *m = NULL;
    if (slim_wire_decode(in, 1 << 24, &m) != SLIM_OK) {
        TEST_FAIL_AT("reference decode failed");
        return;
    }
    slim_pb_header *h = slim_wire_header(m);
    h->ttl = ttl;
    h->_recv_from_case = DATAPLANE__PROTO__V1__SLIMHEADER___RECV_FROM__NOT_SET;
    h->_forward_to_case = DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO__NOT_SET;
    h->_incoming_conn_case = DATAPLANE__PROTO__V1__SLIMHEADER___INCOMING_CONN__NOT_SET;
    /* Not sent, but still the message's to free. */
    Dataplane__Proto__V1__SLIMHeader__HeaderMacCase mac_case = h->_header_mac_case;
    h->_header_mac_case = DATAPLANE__PROTO__V1__SLIMHEADER___HEADER_MAC__NOT_SET;
    if (incoming != NULL) {
        h->_incoming_conn_case = DATAPLANE__PROTO__V1__SLIMHEADER___INCOMING_CONN_INCOMING_CONN;
        h->incoming_conn = *incoming;
    }
    if (slim_wire_encode(m, 1 << 24, out) != SLIM_OK)
        TEST_FAIL_AT("reference encode failed");
    h->_header_mac_case = mac_case;
    slim_wire_free(m);
}

/* error: 0 absent, 1 false, 2 true. mac: header_mac and e2e_header_sig set
 * (the first must go, the second stay). */
static void check_case(uint32_t ttl_in, bool recv_from, bool forward_to, bool incoming, int error,
                       bool strings, bool metadata, bool mac, size_t payload) {
    slim_name_parts sp, dp;
    slim_name src, dst;
    slim_name_parse("agntcy/ns/alice/5", 17, &src, &sp);
    slim_name_parse("agntcy/ns/chat", 14, &dst, &dp);
    slim_wire_header_spec h = {.source = {&src, strings ? sp.component : NULL},
                               .destination = {&dst, strings ? dp.component : NULL},
                               .fanout = 256,
                               .ttl = ttl_in,
                               .identity = "tok",
                               .has_recv_from = recv_from,
                               .recv_from = 3,
                               .has_forward_to = forward_to,
                               .forward_to = 300,
                               .has_error = error != 0,
                               .error = error == 2};
    slim_wire_session_spec s = {
        .session_type = 2, .message_type = 4, .session_id = 77, .message_id = 900};
    static uint8_t blob[70000];
    slim_msg *m = NULL;
    slim_buf enc = SLIM_BUF_INIT, fast = SLIM_BUF_INIT, ref = SLIM_BUF_INIT;
    CHECK_OK(slim_wire_publish_new(&h, &s, &m));
    CHECK_OK(slim_wire_set_app_payload(m, "msg", slim_bytes_of(blob, payload)));
    if (incoming) {
        slim_wire_header(m)->_incoming_conn_case =
            DATAPLANE__PROTO__V1__SLIMHEADER___INCOMING_CONN_INCOMING_CONN;
        slim_wire_header(m)->incoming_conn = 9;
    }
    if (metadata)
        CHECK_OK(slim_wire_metadata_set(m, "k", "v"));
    static uint8_t tag[32] = {1, 2, 3}, sig[64] = {4, 5, 6};
    if (mac) {
        slim_pb_header *hh = slim_wire_header(m);
        hh->_header_mac_case = DATAPLANE__PROTO__V1__SLIMHEADER___HEADER_MAC_HEADER_MAC;
        hh->header_mac = (ProtobufCBinaryData){sizeof tag, tag};
        hh->_e2e_header_sig_case = DATAPLANE__PROTO__V1__SLIMHEADER___E2E_HEADER_SIG_E2E_HEADER_SIG;
        hh->e2e_header_sig = (ProtobufCBinaryData){sizeof sig, sig};
    }
    CHECK_OK(slim_wire_encode(m, 1 << 24, &enc));
    if (mac) { /* the static buffers are not the message's to free */
        slim_pb_header *hh = slim_wire_header(m);
        hh->_header_mac_case = DATAPLANE__PROTO__V1__SLIMHEADER___HEADER_MAC__NOT_SET;
        hh->_e2e_header_sig_case = DATAPLANE__PROTO__V1__SLIMHEADER___E2E_HEADER_SIG__NOT_SET;
        hh->header_mac.data = hh->e2e_header_sig.data = NULL;
    }

    slim_peek p;
    CHECK_OK(slim_wire_peek(slim_buf_view(&enc), 1 << 24, &p, NULL));
    CHECK_EQ(p.kind, SLIM_MSG_PUBLISH);
    CHECK(slim_name_equal(&p.source, &src));
    CHECK(slim_name_equal(&p.destination, &dst));
    CHECK_EQ(p.fanout, 256);
    CHECK_EQ(p.ttl, ttl_in ? ttl_in : SLIM_WIRE_DEFAULT_TTL);
    CHECK_EQ(p.has_forward_to, forward_to);
    if (forward_to)
        CHECK_U64(p.forward_to, 300);
    CHECK_EQ(p.has_error, error != 0);
    CHECK_EQ(p.error, error == 2);
    CHECK(p.has_session);
    CHECK_EQ(p.session_type, 2);
    CHECK_EQ(p.message_type, 4);
    CHECK_EQ(p.session_id, 77);
    CHECK_EQ(p.message_id, 900);
    CHECK_EQ(p.dst_text[2].len, strings ? 4 : 0);

    uint32_t out_ttls[] = {0, 1, p.ttl - 1, 127, 128, 300};
    for (size_t i = 0; i < sizeof out_ttls / sizeof out_ttls[0]; i++) {
        fast.len = ref.len = 0;
        uint64_t in_conn = 1000 + i;
        const uint64_t *stamp = i % 2 ? &in_conn : NULL;
        CHECK_OK(slim_wire_egress(slim_buf_view(&enc), &p, out_ttls[i], stamp, NULL, &fast));
        reference_egress(slim_buf_view(&enc), out_ttls[i], stamp, &ref);
        if (fast.len != ref.len || memcmp(fast.data, ref.data, fast.len) != 0)
            TEST_FAIL_AT("egress differs from decode+encode: ttl %u->%u rf=%d ft=%d ic=%d "
                         "err=%d str=%d md=%d mac=%d payload=%zu (%zu vs %zu bytes)",
                         ttl_in, out_ttls[i], recv_from, forward_to, incoming, error, strings,
                         metadata, mac, payload, fast.len, ref.len);
    }
    slim_wire_free(m);
    slim_buf_cleanup(&enc);
    slim_buf_cleanup(&fast);
    slim_buf_cleanup(&ref);
}

TEST(egress_equals_full_reencode) {
    static const uint32_t ttls[] = {0, 1, 8, 127, 128, 129, 1000};
    static const size_t sizes[] = {0, 100, 1024, 65536};
    for (size_t t = 0; t < sizeof ttls / sizeof ttls[0]; t++)
        for (int bits = 0; bits < 96; bits++)
            check_case(ttls[t], bits & 1, bits & 2, bits & 4, (bits >> 3) % 3, bits & 16, bits & 32,
                       bits & 64, sizes[(size_t)bits % 4]);
}

static slim_status peek_hex(const char *hex, slim_peek *p, const char **what) {
    uint8_t raw[256];
    size_t n;
    if (slim_hex_decode(hex, strlen(hex), raw, sizeof raw, &n) != SLIM_OK)
        return SLIM_E_INTERNAL;
    return slim_wire_peek(slim_bytes_of(raw, n), 1 << 20, p, what);
}

TEST(peek_other_kinds_and_errors) {
    slim_peek p;
    const char *what = NULL;
    CHECK_OK(peek_hex("0a00", &p, &what)); /* Subscribe{} */
    CHECK_EQ(p.kind, SLIM_MSG_SUBSCRIBE);
    CHECK_OK(peek_hex("3200", &p, &what)); /* SubscriptionAck{} */
    CHECK_EQ(p.kind, SLIM_MSG_SUBSCRIPTION_ACK);
    CHECK_STATUS(peek_hex("", &p, &what), SLIM_E_WIRE_UNKNOWN_TYPE);
    CHECK_STATUS(peek_hex("1a00", &p, &what), SLIM_E_WIRE_MISSING_FIELD);
    CHECK_STR(what, "header");
    CHECK_STATUS(peek_hex("1a020a00", &p, &what), SLIM_E_WIRE_MISSING_FIELD);
    CHECK_STR(what, "header.source");
    /* header{source{name{}}} without destination */
    CHECK_STATUS(peek_hex("1a060a040a020a00", &p, &what), SLIM_E_WIRE_MISSING_FIELD);
    CHECK_STR(what, "header.destination");
    /* two oneof members, two headers: refused */
    CHECK_STATUS(peek_hex("0a001a00", &p, &what), SLIM_E_WIRE_MALFORMED);
    CHECK_STATUS(peek_hex("1a040a000a00", &p, &what), SLIM_E_WIRE_MALFORMED);
    /* ttl sent as a length-delimited field: wrong wire type */
    CHECK_STATUS(peek_hex("1a040a023200", &p, &what), SLIM_E_WIRE_MALFORMED);
    CHECK_STATUS(peek_hex("1a05", &p, &what), SLIM_E_TRUNCATED);
    /* a length prefix over 5 bytes (9 bytes for 0): protobuf-c refuses it,
     * so must the scan (fuzz_message found the disagreement) */
    CHECK_STATUS(peek_hex("0a00228080808080808080002200", &p, &what), SLIM_E_WIRE_MALFORMED);
    CHECK_OK(peek_hex("0a0022808080800022808000", &p, &what)); /* 5 and 3 bytes: fine */
    uint8_t raw[8] = {0x1a, 0};
    CHECK_STATUS(slim_wire_peek(slim_bytes_of(raw, 2), 1, &p, &what), SLIM_E_TOO_LARGE);
}

TEST(peek_reads_names_with_absent_id_as_any) {
    /* Made with Python protobuf:
     * publish{header{source{name{component_0: 1}}
     *                destination{name{component_0: 2, name_id{}}}}} */
    slim_peek p;
    CHECK_OK(peek_hex("1a100a0e0a040a02080112060a0408022200", &p, NULL));
    CHECK_U64(p.source.component[0], 1);
    CHECK(slim_id_is_any(p.source.id)); /* no name_id: any */
    CHECK_U64(p.destination.component[0], 2);
    CHECK_U64(p.destination.id.hi, 0); /* an empty name_id is id 0 */
    CHECK_U64(p.destination.id.lo, 0);
    CHECK_EQ(p.ttl, 0);
    CHECK(!p.has_session);
    /* the same with ttl 5 and component_0 7 */
    CHECK_OK(peek_hex("1a120a100a040a02080712060a04080222003005", &p, NULL));
    CHECK_EQ(p.ttl, 5);
    CHECK_U64(p.source.component[0], 7);
    slim_msg *m = NULL;
    uint8_t raw[32];
    size_t n;
    CHECK_OK(slim_hex_decode("1a120a100a040a02080712060a04080222003005", 40, raw, sizeof raw, &n));
    CHECK_OK(slim_wire_decode(slim_bytes_of(raw, n), 100, &m));
    slim_name d;
    CHECK_OK(slim_wire_name_get(slim_wire_header(m)->destination, &d));
    CHECK(slim_name_equal(&d, &p.destination));
    slim_wire_free(m);
    /* The first with name_id sent as a varint: refused, as protobuf-c does. */
    CHECK_STATUS(peek_hex("1a100a0e0a040a02080112060a0408022001", &p, NULL), SLIM_E_WIRE_MALFORMED);
    CHECK_OK(slim_hex_decode("1a100a0e0a040a02080112060a0408022001", 36, raw, sizeof raw, &n));
    m = NULL;
    CHECK_STATUS(slim_wire_decode(slim_bytes_of(raw, n), 100, &m), SLIM_E_WIRE_MALFORMED);
}

TEST(egress_of_a_header_out_of_field_order) {
    /* publish{header{ttl: 5, source{name{component_0: 1}},
     *                destination{name{component_0: 2}}}}, ttl first */
    uint8_t raw[64];
    size_t n;
    CHECK_OK(slim_hex_decode("1a100a0e30050a040a02080112040a020802", 36, raw, sizeof raw, &n));
    slim_peek p;
    CHECK_OK(slim_wire_peek(slim_bytes_of(raw, n), 1 << 20, &p, NULL));
    CHECK(!p.hdr_ordered);
    CHECK_EQ(p.ttl, 5);
    slim_buf fast = SLIM_BUF_INIT, ref = SLIM_BUF_INIT;
    uint64_t in_conn = 3;
    CHECK_OK(slim_wire_egress(slim_bytes_of(raw, n), &p, 4, &in_conn, NULL, &fast));
    reference_egress(slim_bytes_of(raw, n), 4, &in_conn, &ref);
    CHECK_EQ(fast.len, ref.len);
    if (fast.len == ref.len)
        CHECK_MEM(fast.data, ref.data, ref.len);
    slim_buf_cleanup(&fast);
    slim_buf_cleanup(&ref);
}

static bool same_str(slim_str a, slim_str b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool same_wire_name(const slim_peek_name *a, const slim_peek_name *b) {
    bool same = a->present == b->present && a->has_encoded == b->has_encoded &&
                a->has_id == b->has_id && a->has_strings == b->has_strings;
    for (int i = 0; i < 3; i++)
        same = same && same_str(a->text[i], b->text[i]);
    return same;
}

/* One message written from values: the bytes equal protobuf-c's encoding
 * of the same message, the peek it fills equals what slim_wire_peek reads
 * from those bytes, and so do the header MAC's fields. */
static void check_values(const slim_wire_publish_values *v, const char *what) {
    size_t n = slim_wire_publish_values_size(v);
    uint8_t *direct = malloc(n);
    slim_peek p, q;
    slim_wire_publish_values_write(v, direct, &p);
    slim_wire_header_spec ref_h = v->header;
    ref_h.has_forward_to = ref_h.has_recv_from = false; /* never written */
    slim_msg *m = NULL;
    slim_buf ref = SLIM_BUF_INIT, fa = SLIM_BUF_INIT, fb = SLIM_BUF_INIT;
    CHECK_OK(slim_wire_publish_new(&ref_h, &v->session, &m));
    CHECK_OK(slim_wire_set_app_payload(m, v->payload_type ? v->payload_type : "", v->payload));
    CHECK_OK(slim_wire_encode(m, SIZE_MAX, &ref));
    if (ref.len != n || memcmp(ref.data, direct, n) != 0)
        TEST_FAIL_AT("%s: direct bytes differ from protobuf-c's (%zu vs %zu)", what, n, ref.len);
    CHECK_OK(slim_wire_peek(slim_bytes_of(direct, n), SIZE_MAX, &q, NULL));
    bool same =
        p.kind == q.kind && p.has_header == q.has_header && slim_name_equal(&p.source, &q.source) &&
        slim_name_equal(&p.destination, &q.destination) && p.fanout == q.fanout && p.ttl == q.ttl &&
        p.has_error == q.has_error && p.error == q.error && p.has_session == q.has_session &&
        p.session_type == q.session_type && p.message_type == q.message_type &&
        p.session_id == q.session_id && p.message_id == q.message_id &&
        p.pub_start == q.pub_start && p.pub_value == q.pub_value && p.pub_end == q.pub_end &&
        p.hdr_start == q.hdr_start && p.hdr_value == q.hdr_value && p.hdr_end == q.hdr_end &&
        p.hdr_ordered == q.hdr_ordered && p.cut_start == q.cut_start && p.cut_end == q.cut_end &&
        same_wire_name(&p.src_wire, &q.src_wire) && same_wire_name(&p.dst_wire, &q.dst_wire) &&
        p.identity.len == q.identity.len && !p.has_recv_from && !q.has_recv_from &&
        !q.has_forward_to && p.has_forward_to == v->header.has_forward_to;
    for (int i = 0; i < 3; i++)
        same = same && same_str(p.dst_text[i], q.dst_text[i]);
    if (!same)
        TEST_FAIL_AT("%s: the peek filled from values differs from the peek of the bytes", what);
    CHECK_OK(slim_wire_mac_fields(&p, NULL, true, &fa));
    CHECK_OK(slim_wire_mac_fields(&q, NULL, true, &fb));
    if (fa.len != fb.len || memcmp(fa.data, fb.data, fa.len) != 0)
        TEST_FAIL_AT("%s: header MAC fields differ", what);
    /* and the egress writer takes the filled peek as it takes a real one */
    slim_buf ea = SLIM_BUF_INIT, eb = SLIM_BUF_INIT;
    uint64_t in = 7;
    CHECK_OK(slim_wire_egress(slim_bytes_of(direct, n), &p, 3, &in, NULL, &ea));
    CHECK_OK(slim_wire_egress(slim_bytes_of(direct, n), &q, 3, &in, NULL, &eb));
    if (ea.len != eb.len || memcmp(ea.data, eb.data, ea.len) != 0)
        TEST_FAIL_AT("%s: egress from the filled peek differs", what);
    slim_buf_cleanup(&ea);
    slim_buf_cleanup(&eb);
    slim_buf_cleanup(&fa);
    slim_buf_cleanup(&fb);
    slim_buf_cleanup(&ref);
    slim_wire_free(m);
    free(direct);
}

TEST(publish_written_from_values) {
    slim_name_parts sp, dp;
    slim_name src, dst, zero = {{0, 0, 0}, {0, 0}}, half = {{1, 0, 3}, {0, 5}};
    slim_name_parse("agntcy/ns/alice/5", 17, &src, &sp);
    slim_name_parse("agntcy/ns/chat", 14, &dst, &dp);
    static uint8_t blob[300];
    memset(blob, 'b', sizeof blob);
    const slim_name *names[] = {&dst, &zero, &half};
    int cases = 0;
    for (int bits = 0; bits < 256; bits++) {
        const slim_name *d = names[bits % 3];
        slim_wire_publish_values v = {
            .header = {.source = {&src, (bits & 4) ? sp.component : NULL},
                       .destination = {d, (bits & 8) && d == &dst ? dp.component : NULL},
                       .fanout = (bits & 16)   ? 256
                                 : (bits & 32) ? 1
                                               : 0,
                       .ttl = (bits & 64) ? 5 : 0,
                       .identity = (bits & 128) ? "token.abc" : NULL,
                       .has_error = (bits & 3) == 1,
                       .error = bits & 32,
                       .has_forward_to = bits & 2,
                       .forward_to = 9},
            .session = {.session_type = bits % 3,
                        .message_type = (bits >> 2) % 4,
                        .session_id = (bits & 1) ? 0 : 77,
                        .message_id = (bits & 8) ? 0 : 1u << 30},
            .payload_type = (bits & 2) ? "msg" : NULL,
            .payload = slim_bytes_of(blob, (size_t)(bits * 7) % sizeof blob),
        };
        char what[32];
        snprintf(what, sizeof what, "case %d", bits);
        check_values(&v, what);
        cases++;
    }
    CHECK_EQ(cases, 256);
}

TEST_MAIN(TEST_ENTRY(publish_written_from_values),
          TEST_ENTRY(egress_of_a_header_out_of_field_order),
          TEST_ENTRY(egress_equals_full_reencode), TEST_ENTRY(peek_other_kinds_and_errors),
          TEST_ENTRY(peek_reads_names_with_absent_id_as_any))
