/* Unit tests for src/wire: builders, codec round trips, limits, bad input,
 * allocation failure, the field walker and the text printer. */
#include "test.h"
#include "core/util.h"
#include "wire/pbscan.h"
#include "wire/text.h"
#include "wire/wire.h"

static slim_name name_of(const char *text, slim_name_parts *parts) {
    slim_name n;
    if (slim_name_parse(text, strlen(text), &n, parts) != SLIM_OK)
        TEST_FAIL_AT("cannot parse %s", text);
    return n;
}

/* Encodes m, decodes the bytes, and returns the decoded copy. */
static slim_msg *round_trip(const slim_msg *m) {
    slim_buf b = SLIM_BUF_INIT;
    slim_msg *out = NULL;
    slim_status st = slim_wire_encode(m, SLIM_WIRE_DEFAULT_MAX_SIZE, &b);
    if (st == SLIM_OK)
        st = slim_wire_decode(slim_buf_view(&b), SLIM_WIRE_DEFAULT_MAX_SIZE, &out);
    if (st != SLIM_OK)
        TEST_FAIL_AT("round trip failed: %s", slim_status_name(st));
    slim_buf_cleanup(&b);
    return out;
}

TEST(subscribe_round_trip) {
    slim_name_parts sp, dp;
    slim_name src = name_of("agntcy/ns/alice/1", &sp);
    slim_name dst = name_of("agntcy/ns/chat", &dp);
    slim_wire_header_spec h = {
        .source = {&src, sp.component},
        .destination = {&dst, NULL},
        .fanout = 1,
        .has_recv_from = true,
        .recv_from = 0,
    };
    slim_msg *m = NULL;
    CHECK_OK(slim_wire_subscribe_new(&h, 77, false, &m));
    slim_msg *d = round_trip(m);
    CHECK(d != NULL);
    if (d == NULL)
        goto out;
    CHECK_EQ(slim_wire_kind(d), SLIM_MSG_SUBSCRIBE);
    CHECK_OK(slim_wire_validate(d, NULL));
    CHECK_U64(d->subscribe->subscription_id, 77);
    slim_pb_header *dh = slim_wire_header(d);
    CHECK_EQ(dh->ttl, SLIM_WIRE_DEFAULT_TTL);
    CHECK_EQ(dh->fanout, 1);
    /* recv_from = 0 keeps its presence */
    CHECK_EQ(dh->_recv_from_case, DATAPLANE__PROTO__V1__SLIMHEADER___RECV_FROM_RECV_FROM);
    CHECK_EQ(dh->_forward_to_case, DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO__NOT_SET);
    CHECK_EQ(dh->_error_case, DATAPLANE__PROTO__V1__SLIMHEADER___ERROR__NOT_SET);
    slim_name got;
    CHECK_OK(slim_wire_name_get(dh->source, &got));
    CHECK(slim_name_equal(&got, &src));
    CHECK_OK(slim_wire_name_get(dh->destination, &got));
    CHECK(slim_name_equal(&got, &dst));
    slim_str text[3];
    CHECK(slim_wire_name_strings(dh->source, text));
    CHECK_EQ(text[2].len, 5);
    CHECK(memcmp(text[2].ptr, "alice", 5) == 0);
    CHECK(!slim_wire_name_strings(dh->destination, text));
out:
    slim_wire_free(m);
    slim_wire_free(d);
}

TEST(unsubscribe_and_ack_and_link) {
    slim_name a = name_of("o/n/a", NULL), b = name_of("o/n/b/ff", NULL);
    slim_wire_header_spec h = {.source = {&a, NULL}, .destination = {&b, NULL}, .ttl = 3};
    slim_msg *m = NULL, *d = NULL;
    CHECK_OK(slim_wire_subscribe_new(&h, 0, true, &m));
    d = round_trip(m);
    CHECK(d != NULL && slim_wire_kind(d) == SLIM_MSG_UNSUBSCRIBE);
    if (d != NULL) {
        CHECK_EQ(slim_wire_header(d)->ttl, 3);
        CHECK_U64(d->unsubscribe->subscription_id, 0);
    }
    slim_wire_free(m);
    slim_wire_free(d);

    CHECK_OK(slim_wire_subscription_ack_new(9, false, "no such subscription", &m));
    d = round_trip(m);
    CHECK(d != NULL && slim_wire_kind(d) == SLIM_MSG_SUBSCRIPTION_ACK);
    if (d != NULL) {
        CHECK_U64(d->subscription_ack->subscription_id, 9);
        CHECK(!d->subscription_ack->success);
        CHECK_STR(d->subscription_ack->error, "no such subscription");
        CHECK(slim_wire_header(d) == NULL);
    }
    slim_wire_free(m);
    slim_wire_free(d);

    slim_wire_link_spec ls = {
        .link_id = "6f1b1c2e-0000-4000-8000-000000000001",
        .slim_version = "0.1.0",
        .is_reply = true,
        .connection_type = SLIM_LINK_TYPE_EDGE,
        .node_id = "slim/0",
    };
    CHECK_OK(slim_wire_link_negotiation_new(&ls, &m));
    d = round_trip(m);
    const slim_pb_link_negotiation *ln = d ? slim_wire_link_negotiation(d) : NULL;
    CHECK(ln != NULL);
    if (ln != NULL) {
        CHECK_STR(ln->link_id, ls.link_id);
        CHECK_STR(ln->slim_version, "0.1.0");
        CHECK_STR(ln->node_id, "slim/0");
        CHECK(ln->is_reply);
        CHECK_EQ(ln->connection_type,
                 DATAPLANE__PROTO__V1__LINK_CONNECTION_TYPE__LINK_CONNECTION_TYPE_EDGE);
        CHECK_EQ(slim_wire_link_type(ln), SLIM_LINK_TYPE_EDGE);
        CHECK_OK(slim_wire_validate(d, NULL));
    }
    slim_wire_free(m);
    slim_wire_free(d);
}

TEST(publish_with_app_payload_and_metadata) {
    slim_name a = name_of("o/n/a/1", NULL), b = name_of("o/n/b", NULL);
    slim_wire_header_spec h = {.source = {&a, NULL},
                               .destination = {&b, NULL},
                               .fanout = 256,
                               .identity = "token",
                               .has_error = true,
                               .error = false,
                               .has_forward_to = true,
                               .forward_to = 12};
    slim_wire_session_spec s = {
        .session_type = DATAPLANE__PROTO__V1__SESSION_TYPE__SESSION_TYPE_POINT_TO_POINT,
        .message_type = DATAPLANE__PROTO__V1__SESSION_MESSAGE_TYPE__SESSION_MESSAGE_TYPE_MSG,
        .session_id = 4000000000u,
        .message_id = 5,
    };
    uint8_t blob[256];
    for (int i = 0; i < 256; i++)
        blob[i] = (uint8_t)i;
    slim_msg *m = NULL;
    CHECK_OK(slim_wire_publish_new(&h, &s, &m));
    CHECK_OK(slim_wire_set_app_payload(m, "msg", slim_bytes_of(NULL, 0)));
    CHECK_OK(slim_wire_set_app_payload(m, "bin", slim_bytes_of(blob, sizeof blob))); /* replaces */
    CHECK_OK(slim_wire_metadata_set(m, "PUBLISH_TO", "TRUE"));
    CHECK_OK(slim_wire_metadata_set(m, "k", "1"));
    CHECK_OK(slim_wire_metadata_set(m, "k", "2"));
    CHECK_EQ(m->n_metadata, 2);
    slim_msg *d = round_trip(m);
    CHECK(d != NULL);
    if (d != NULL) {
        const Dataplane__Proto__V1__Publish *p = d->publish;
        CHECK_EQ(p->session->session_id, 4000000000u);
        CHECK_EQ(p->session->message_id, 5);
        CHECK_EQ(p->session->session_message_type, s.message_type);
        CHECK_EQ(p->header->fanout, 256);
        CHECK_STR(p->header->identity, "token");
        CHECK_EQ(p->header->_error_case, DATAPLANE__PROTO__V1__SLIMHEADER___ERROR_ERROR);
        CHECK(!p->header->error);
        CHECK_U64(p->header->forward_to, 12);
        CHECK_EQ(p->msg->content_type_case,
                 DATAPLANE__PROTO__V1__CONTENT__CONTENT_TYPE_APP_PAYLOAD);
        CHECK_STR(p->msg->app_payload->payload_type, "bin");
        CHECK_EQ(p->msg->app_payload->blob.len, 256);
        CHECK_MEM(p->msg->app_payload->blob.data, blob, 256);
        CHECK_STR(slim_wire_metadata_get(d, "PUBLISH_TO"), "TRUE");
        CHECK_STR(slim_wire_metadata_get(d, "k"), "2");
        CHECK(slim_wire_metadata_get(d, "missing") == NULL);
    }
    slim_wire_free(m);
    slim_wire_free(d);
}

TEST(publish_with_command_payload) {
    slim_name_parts cp;
    slim_name a = name_of("o/n/mod/2", NULL), b = name_of("o/n/p", NULL);
    slim_name chan = name_of("o/n/chat", &cp);
    slim_wire_header_spec h = {.source = {&a, NULL}, .destination = {&b, NULL}, .fanout = 1};
    slim_wire_session_spec s = {
        .session_type = DATAPLANE__PROTO__V1__SESSION_TYPE__SESSION_TYPE_MULTICAST,
        .message_type =
            DATAPLANE__PROTO__V1__SESSION_MESSAGE_TYPE__SESSION_MESSAGE_TYPE_JOIN_REQUEST,
        .session_id = 1,
        .message_id = 2,
    };
    slim_msg *m = NULL;
    slim_pb_command *cmd = NULL;
    CHECK_OK(slim_wire_publish_new(&h, &s, &m));
    CHECK_OK(slim_wire_command_new(
        DATAPLANE__PROTO__V1__COMMAND_PAYLOAD__COMMAND_PAYLOAD_TYPE_JOIN_REQUEST, &cmd));
    Dataplane__Proto__V1__JoinRequestPayload *jr = cmd->join_request;
    CHECK(jr != NULL);
    slim_wire_name wn = {&chan, cp.component};
    CHECK_OK(slim_wire_name_new(&wn, &jr->channel));
    jr->_channel_case = DATAPLANE__PROTO__V1__JOIN_REQUEST_PAYLOAD___CHANNEL_CHANNEL;
    CHECK_OK(slim_wire_set_command(m, cmd));
    slim_msg *d = round_trip(m);
    CHECK(d != NULL);
    if (d != NULL) {
        const slim_pb_content *c = d->publish->msg;
        CHECK_EQ(c->content_type_case, DATAPLANE__PROTO__V1__CONTENT__CONTENT_TYPE_COMMAND_PAYLOAD);
        CHECK_EQ(c->command_payload->command_payload_type_case,
                 DATAPLANE__PROTO__V1__COMMAND_PAYLOAD__COMMAND_PAYLOAD_TYPE_JOIN_REQUEST);
        const Dataplane__Proto__V1__JoinRequestPayload *djr = c->command_payload->join_request;
        CHECK_EQ(djr->_channel_case, DATAPLANE__PROTO__V1__JOIN_REQUEST_PAYLOAD___CHANNEL_CHANNEL);
        CHECK_EQ(djr->_control_case, DATAPLANE__PROTO__V1__JOIN_REQUEST_PAYLOAD___CONTROL__NOT_SET);
        slim_name got;
        CHECK_OK(slim_wire_name_get(djr->channel, &got));
        CHECK(slim_name_equal(&got, &chan));
    }
    slim_wire_free(m);
    slim_wire_free(d);
    /* Unknown variants are refused; set_command frees what it is given on error. */
    CHECK_STATUS(slim_wire_command_new(99, &cmd), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_wire_command_new(0, &cmd), SLIM_E_INVALID_ARG);
    slim_msg *ack = NULL;
    CHECK_OK(slim_wire_subscription_ack_new(1, true, NULL, &ack));
    CHECK_OK(slim_wire_command_new(
        DATAPLANE__PROTO__V1__COMMAND_PAYLOAD__COMMAND_PAYLOAD_TYPE_GROUP_ACK, &cmd));
    CHECK_STATUS(slim_wire_set_command(ack, cmd), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_wire_set_app_payload(ack, "x", slim_bytes_of("y", 1)), SLIM_E_INVALID_ARG);
    slim_wire_free(ack);
}

TEST(size_limits) {
    slim_name a = name_of("o/n/a", NULL);
    slim_wire_header_spec h = {.source = {&a, NULL}, .destination = {&a, NULL}};
    slim_wire_session_spec s = {0};
    static uint8_t big[5000];
    slim_msg *m = NULL;
    CHECK_OK(slim_wire_publish_new(&h, &s, &m));
    CHECK_OK(slim_wire_set_app_payload(m, "t", slim_bytes_of(big, sizeof big)));
    slim_buf b = SLIM_BUF_INIT;
    CHECK_OK(slim_buf_append(&b, "xy", 2));
    CHECK_STATUS(slim_wire_encode(m, 4096, &b), SLIM_E_TOO_LARGE);
    CHECK_EQ(b.len, 2); /* nothing appended */
    CHECK_OK(slim_wire_encode(m, 8192, &b));
    slim_bytes enc = {b.data + 2, b.len - 2};
    slim_msg *d = NULL;
    CHECK_STATUS(slim_wire_decode(enc, 4096, &d), SLIM_E_TOO_LARGE);
    CHECK(d == NULL);
    CHECK_OK(slim_wire_decode(enc, enc.len, &d));
    slim_wire_free(d);
    slim_wire_free(m);
    slim_buf_cleanup(&b);
}

TEST(truncated_and_garbage_input) {
    slim_name a = name_of("o/n/a/1", NULL), b = name_of("o/n/b", NULL);
    slim_wire_header_spec h = {.source = {&a, NULL}, .destination = {&b, NULL}, .fanout = 1};
    slim_wire_session_spec s = {.session_id = 7};
    slim_msg *m = NULL, *d = NULL;
    slim_buf enc = SLIM_BUF_INIT;
    CHECK_OK(slim_wire_publish_new(&h, &s, &m));
    CHECK_OK(slim_wire_set_app_payload(m, "msg", slim_bytes_of("hello", 5)));
    CHECK_OK(slim_wire_encode(m, SLIM_WIRE_DEFAULT_MAX_SIZE, &enc));
    /* Every proper prefix cuts the single top-level field: truncated. */
    for (size_t n = 1; n < enc.len; n++) {
        slim_status st = slim_wire_decode(slim_bytes_of(enc.data, n), 1 << 20, &d);
        if (st != SLIM_E_TRUNCATED)
            TEST_FAIL_AT("prefix %zu/%zu: got %s", n, enc.len, slim_status_name(st));
        CHECK(d == NULL);
    }
    CHECK_STATUS(slim_wire_decode(slim_bytes_of(NULL, 0), 100, &d), SLIM_E_WIRE_UNKNOWN_TYPE);
    static const struct {
        const char *hex;
        slim_status want;
    } bad[] = {
        {"ffffffffffffffffffffff", SLIM_E_WIRE_MALFORMED},  /* 11-byte varint */
        {"0b", SLIM_E_WIRE_MALFORMED},                      /* group start */
        {"0f", SLIM_E_WIRE_MALFORMED},                      /* wire type 7 */
        {"00", SLIM_E_WIRE_MALFORMED},                      /* field 0 */
        {"1a028100", SLIM_E_WIRE_MALFORMED},                /* field 0, long tag, nested */
        {"1a05", SLIM_E_TRUNCATED},                         /* length past the end */
        {"1a020a05", SLIM_E_WIRE_MALFORMED},                /* nested length lies */
        {"0801", SLIM_E_WIRE_MALFORMED},                    /* varint where a message is */
        {"3801", SLIM_E_WIRE_UNKNOWN_TYPE},                 /* only an unknown field */
        {"2a00", SLIM_OK},                                  /* empty Link: decodes */
        {"22080a01611203626262", SLIM_E_WIRE_UNKNOWN_TYPE}, /* metadata only */
        {"0affffffffffffffffff01", SLIM_E_WIRE_MALFORMED},  /* 10-byte length */
        {"08ffffffffffffffffff02", SLIM_E_WIRE_MALFORMED},  /* varint over 64 bits */
        {"0a040a000a00", SLIM_E_WIRE_MALFORMED},            /* header given twice */
        {"0a001a00", SLIM_E_WIRE_MALFORMED},                /* subscribe and publish */
        {"3200f8ceffff8700", SLIM_E_WIRE_MALFORMED},
        {"32002280808080808080800022", SLIM_E_WIRE_MALFORMED},
        /* 9-byte length */ /* 6-byte tag */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t raw[64];
        size_t n;
        CHECK_OK(slim_hex_decode(bad[i].hex, strlen(bad[i].hex), raw, sizeof raw, &n));
        d = NULL;
        slim_status st = slim_wire_decode(slim_bytes_of(raw, n), 1 << 20, &d);
        if (st != bad[i].want)
            TEST_FAIL_AT("%s: got %s, want %s", bad[i].hex, slim_status_name(st),
                         slim_status_name(bad[i].want));
        if (st == SLIM_OK) {
            const char *what = NULL;
            CHECK_STATUS(slim_wire_validate(d, &what), SLIM_E_WIRE_MISSING_FIELD);
            CHECK_STR(what, "link.link_negotiation");
        }
        slim_wire_free(d);
    }
    /* Pseudo-random garbage: a status, never a crash (ASan watches). */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 2000; round++) {
        uint8_t raw[48];
        size_t n = (size_t)(round % 48);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            raw[i] = (uint8_t)x;
        }
        d = NULL;
        if (slim_wire_decode(slim_bytes_of(raw, n), 1 << 20, &d) == SLIM_OK)
            (void)slim_wire_validate(d, NULL);
        slim_wire_free(d);
    }
    slim_wire_free(m);
    slim_buf_cleanup(&enc);
}

TEST(validate_reports_missing_fields) {
    uint8_t raw[16];
    size_t n;
    slim_msg *d = NULL;
    const char *what = NULL;
    /* Subscribe{} with no header */
    CHECK_OK(slim_hex_decode("0a00", 4, raw, sizeof raw, &n));
    CHECK_OK(slim_wire_decode(slim_bytes_of(raw, n), 100, &d));
    CHECK_STATUS(slim_wire_validate(d, &what), SLIM_E_WIRE_MISSING_FIELD);
    CHECK_STR(what, "header");
    slim_wire_free(d);
    /* Publish{header{source{}}}: source without an encoded name */
    CHECK_OK(slim_hex_decode("1a040a020a00", 12, raw, sizeof raw, &n));
    CHECK_OK(slim_wire_decode(slim_bytes_of(raw, n), 100, &d));
    CHECK_STATUS(slim_wire_validate(d, &what), SLIM_E_WIRE_MISSING_FIELD);
    CHECK_STR(what, "header.source");
    slim_name got;
    CHECK_STATUS(slim_wire_name_get(d->publish->header->source, &got), SLIM_E_WIRE_MISSING_FIELD);
    slim_wire_free(d);
}

TEST(builders_survive_allocation_failure) {
    test_alloc_install();
    slim_name_parts sp;
    slim_name a = name_of("agntcy/ns/alice/1", &sp);
    slim_wire_header_spec h = {
        .source = {&a, sp.component}, .destination = {&a, sp.component}, .identity = "id"};
    slim_wire_session_spec s = {0};
    int saw_nomem = 0;
    for (long k = 1; k < 200; k++) {
        test_alloc_fail_after(k);
        slim_msg *m = NULL;
        slim_status st = slim_wire_publish_new(&h, &s, &m);
        if (st == SLIM_OK)
            st = slim_wire_set_app_payload(m, "msg", slim_bytes_of("abc", 3));
        if (st == SLIM_OK)
            st = slim_wire_metadata_set(m, "key", "value");
        slim_buf b = SLIM_BUF_INIT;
        slim_msg *d = NULL;
        if (st == SLIM_OK)
            st = slim_wire_encode(m, 1 << 20, &b);
        if (st == SLIM_OK)
            st = slim_wire_decode(slim_buf_view(&b), 1 << 20, &d);
        if (st != SLIM_OK) {
            saw_nomem++;
            if (st != SLIM_E_NOMEM && st != SLIM_E_WIRE_MALFORMED)
                TEST_FAIL_AT("k=%ld: %s", k, slim_status_name(st));
        }
        slim_wire_free(d);
        slim_wire_free(m);
        slim_buf_cleanup(&b);
        test_alloc_fail_after(0);
        if (test_alloc_live() != 0)
            TEST_FAIL_AT("k=%ld: %ld allocations leaked", k, test_alloc_live());
        if (st == SLIM_OK)
            break;
    }
    CHECK_INT(saw_nomem, >, 10);
    test_alloc_uninstall();
}

TEST(field_walker) {
    uint8_t raw[32];
    size_t n;
    CHECK_OK(slim_hex_decode("08960112036162631d01000000", 26, raw, sizeof raw, &n));
    slim_reader r;
    slim_reader_init(&r, slim_bytes_of(raw, n));
    slim_pb_field f;
    CHECK_OK(slim_pb_next(&r, &f));
    CHECK_EQ(f.number, 1);
    CHECK_EQ(f.wire_type, SLIM_PB_VARINT);
    CHECK_U64(f.value, 150);
    CHECK_OK(slim_pb_next(&r, &f));
    CHECK_EQ(f.number, 2);
    CHECK_EQ(f.bytes.len, 3);
    CHECK_EQ(f.value_off, 5);
    CHECK_OK(slim_pb_next(&r, &f));
    CHECK_EQ(f.number, 3);
    CHECK_EQ(f.wire_type, SLIM_PB_FIXED32);
    CHECK_U64(f.value, 1);
    CHECK_EQ(slim_reader_remaining(&r), 0);
    CHECK_EQ(slim_pb_varint_size(0), 1);
    CHECK_EQ(slim_pb_varint_size(127), 1);
    CHECK_EQ(slim_pb_varint_size(128), 2);
    CHECK_EQ(slim_pb_varint_size(UINT64_MAX), 10);
}

/* A schema made from a descriptor written here by hand, so each rule is
 * checked on a type that has it (the data-plane types have no repeated
 * scalar and no oneof of a message and a string):
 *   message Sub { uint32 v = 1; }
 *   message T { uint32 a = 1; repeated uint32 b = 2;
 *               oneof o { Sub x = 3; string y = 5; } Sub z = 4; } */
static const ProtobufCFieldDescriptor sub_fields[] = {
    {.name = "v", .id = 1, .label = PROTOBUF_C_LABEL_NONE, .type = PROTOBUF_C_TYPE_UINT32},
};
static const ProtobufCMessageDescriptor sub_desc = {.magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                    .name = "Sub",
                                                    .n_fields = 1,
                                                    .fields = sub_fields};
static const ProtobufCFieldDescriptor t_fields[] = {
    {.name = "a", .id = 1, .label = PROTOBUF_C_LABEL_NONE, .type = PROTOBUF_C_TYPE_UINT32},
    {.name = "b", .id = 2, .label = PROTOBUF_C_LABEL_REPEATED, .type = PROTOBUF_C_TYPE_UINT32},
    {.name = "x",
     .id = 3,
     .label = PROTOBUF_C_LABEL_NONE,
     .type = PROTOBUF_C_TYPE_MESSAGE,
     .quantifier_offset = 8,
     .descriptor = &sub_desc,
     .flags = PROTOBUF_C_FIELD_FLAG_ONEOF},
    {.name = "z",
     .id = 4,
     .label = PROTOBUF_C_LABEL_NONE,
     .type = PROTOBUF_C_TYPE_MESSAGE,
     .descriptor = &sub_desc},
    {.name = "y",
     .id = 5,
     .label = PROTOBUF_C_LABEL_NONE,
     .type = PROTOBUF_C_TYPE_STRING,
     .quantifier_offset = 8,
     .flags = PROTOBUF_C_FIELD_FLAG_ONEOF},
};
static const ProtobufCMessageDescriptor t_desc = {
    .magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, .name = "T", .n_fields = 5, .fields = t_fields};

TEST(schema_rules) {
    static slim_pb_schema_set set;
    memset(&set, 0, sizeof set);
    const slim_pb_schema *t = NULL;
    CHECK_OK(slim_pb_schema_build(&set, &t_desc, &t));
    CHECK_EQ(set.ntypes, 2);
    CHECK(slim_pb_schema_find(&set, &sub_desc) == t->rules[3].sub);
    CHECK(t->rules[4].sub == t->rules[3].sub);
    static const struct {
        const char *hex;
        slim_status want;
    } cases[] = {
        {"", SLIM_OK},
        {"08010802", SLIM_OK},                 /* a scalar twice: the last wins */
        {"0a00", SLIM_E_WIRE_MALFORMED},       /* a scalar sent length-delimited */
        {"10031004", SLIM_OK},                 /* repeated, one by one */
        {"12020304", SLIM_OK},                 /* repeated, packed */
        {"1500000000", SLIM_E_WIRE_MALFORMED}, /* repeated, fixed32 */
        {"1a050801", SLIM_E_TRUNCATED},        /* x's length runs past the end */
        {"1a001a00", SLIM_E_WIRE_MALFORMED},   /* a singular message twice */
        {"22002200", SLIM_E_WIRE_MALFORMED},   /* z twice */
        {"1a002a00", SLIM_E_WIRE_MALFORMED},   /* two members of the oneof */
        {"2a001a00", SLIM_E_WIRE_MALFORMED},   /* ... in either order */
        {"2a002a0161", SLIM_OK},               /* one scalar member twice */
        {"1a0208012200", SLIM_OK},             /* x and z, both valid */
        {"1a020a00", SLIM_E_WIRE_MALFORMED},   /* inside x: v length-delimited */
        {"1a020a05", SLIM_E_WIRE_MALFORMED},   /* inside x: a length that lies */
        {"3a00480150", SLIM_E_TRUNCATED},      /* unknown 7 and 9, then a cut tag */
        {"3a004801", SLIM_OK},                 /* unknown fields 7 and 9: skipped */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t raw[32];
        size_t n;
        CHECK_OK(slim_hex_decode(cases[i].hex, strlen(cases[i].hex), raw, sizeof raw, &n));
        slim_status st = slim_pb_scan(slim_bytes_of(raw, n), t);
        if (st != cases[i].want)
            TEST_FAIL_AT("%s: got %s, want %s", cases[i].hex, slim_status_name(st),
                         slim_status_name(cases[i].want));
    }
    /* A type with a field number over 64 is refused, not half built. */
    static const ProtobufCFieldDescriptor big_fields[] = {
        {.name = "w", .id = 65, .label = PROTOBUF_C_LABEL_NONE, .type = PROTOBUF_C_TYPE_UINT32},
    };
    static const ProtobufCMessageDescriptor big_desc = {.magic =
                                                            PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                        .name = "Big",
                                                        .n_fields = 1,
                                                        .fields = big_fields};
    memset(&set, 0, sizeof set);
    CHECK_STATUS(slim_pb_schema_build(&set, &big_desc, &t), SLIM_E_INVALID_ARG);
    /* The data-plane schema is made, and covers every type under Message. */
    CHECK(slim_wire_message_schema() != NULL);
}

TEST(text_format) {
    slim_msg *m = NULL;
    CHECK_OK(slim_wire_subscription_ack_new(5, false, "bad \"name\"\n\x01", &m));
    CHECK_OK(slim_wire_metadata_set(m, "z", "1"));
    CHECK_OK(slim_wire_metadata_set(m, "a", "2"));
    slim_buf t = SLIM_BUF_INIT;
    CHECK_OK(slim_pb_to_text(&m->base, &t));
    CHECK_OK(slim_buf_append_u8(&t, 0));
    CHECK_STR((const char *)t.data, "metadata {\n"
                                    "  key: \"a\"\n"
                                    "  value: \"2\"\n"
                                    "}\n"
                                    "metadata {\n"
                                    "  key: \"z\"\n"
                                    "  value: \"1\"\n"
                                    "}\n"
                                    "subscription_ack {\n"
                                    "  subscription_id: 5\n"
                                    "  error: \"bad \\\"name\\\"\\n\\001\"\n"
                                    "}\n");
    slim_buf_cleanup(&t);
    slim_wire_free(m);
}

/* Encodes v as a varint into out (returns its length). */
static size_t put_varint(uint8_t *out, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

TEST(varints_of_every_length) {
    uint64_t x = 0x243f6a8885a308d3ull;
    for (int i = 0; i < 4000; i++) {
        uint64_t v;
        if (i < 64)
            v = 1ull << i;
        else if (i < 128)
            v = (1ull << (i - 64)) - 1;
        else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v = x >> (x % 64);
        }
        for (size_t pad = 0; pad < 12; pad += 11) { /* short input and roomy input */
            uint8_t buf[32];
            memset(buf, 0xee, sizeof buf);
            size_t n = put_varint(buf, v);
            slim_reader r;
            slim_reader_init(&r, slim_bytes_of(buf, n + pad));
            uint64_t got = 0;
            slim_status st = slim_pb_read_varint(&r, &got);
            if (st != SLIM_OK || got != v || r.pos != n)
                TEST_FAIL_AT("v=%llu pad=%zu: %s got %llu pos %zu", (unsigned long long)v, pad,
                             slim_status_name(st), (unsigned long long)got, r.pos);
        }
    }
    /* padded zero (ten bytes), an 11-byte varint, and 2 in the tenth byte */
    static const uint8_t zero10[16] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    static const uint8_t long11[16] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                       0x80, 0x80, 0x80, 0x80, 0x00};
    static const uint8_t big[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    for (size_t room = 10; room <= 16; room += 6) {
        slim_reader r;
        uint64_t v = 1;
        slim_reader_init(&r, slim_bytes_of(zero10, room));
        CHECK_OK(slim_pb_read_varint(&r, &v));
        CHECK_U64(v, 0);
        CHECK_EQ(r.pos, 10);
        slim_reader_init(&r, slim_bytes_of(long11, room < 11 ? 11 : room));
        CHECK_STATUS(slim_pb_read_varint(&r, &v), SLIM_E_WIRE_MALFORMED);
        slim_reader_init(&r, slim_bytes_of(big, room));
        CHECK_STATUS(slim_pb_read_varint(&r, &v), SLIM_E_WIRE_MALFORMED);
    }
}

TEST_MAIN(TEST_ENTRY(varints_of_every_length), TEST_ENTRY(subscribe_round_trip),
          TEST_ENTRY(unsubscribe_and_ack_and_link),
          TEST_ENTRY(publish_with_app_payload_and_metadata),
          TEST_ENTRY(publish_with_command_payload), TEST_ENTRY(size_limits),
          TEST_ENTRY(truncated_and_garbage_input), TEST_ENTRY(validate_reports_missing_fields),
          TEST_ENTRY(builders_survive_allocation_failure), TEST_ENTRY(field_walker),
          TEST_ENTRY(schema_rules), TEST_ENTRY(text_format))
