/* Unit tests for the pure parts of src/transport: gRPC framing and
 * reassembly, grpc-timeout, percent-encoding, base64, status mappings,
 * header rules, the metadata list and endpoint parsing. */
#include "test.h"
#include "transport/codec.h"
#include "transport/endpoint.h"
#include "transport/md.h"

static slim_str S(const char *s) {
    return slim_str_of(s, strlen(s));
}

/* ---- status mapping ---- */

TEST(status_codes_map_both_ways) {
    CHECK_STATUS(slim_grpc_code_to_status(0), SLIM_OK);
    CHECK_STATUS(slim_grpc_code_to_status(1), SLIM_E_GRPC_CANCELLED);
    CHECK_STATUS(slim_grpc_code_to_status(4), SLIM_E_GRPC_DEADLINE_EXCEEDED);
    CHECK_STATUS(slim_grpc_code_to_status(8), SLIM_E_GRPC_RESOURCE_EXHAUSTED);
    CHECK_STATUS(slim_grpc_code_to_status(12), SLIM_E_GRPC_UNIMPLEMENTED);
    CHECK_STATUS(slim_grpc_code_to_status(14), SLIM_E_GRPC_UNAVAILABLE);
    CHECK_STATUS(slim_grpc_code_to_status(16), SLIM_E_GRPC_UNAUTHENTICATED);
    CHECK_STATUS(slim_grpc_code_to_status(17), SLIM_E_GRPC_UNKNOWN);
    CHECK_STATUS(slim_grpc_code_to_status(-1), SLIM_E_GRPC_UNKNOWN);
    for (int code = 0; code <= 16; code++) {
        slim_status st = slim_grpc_code_to_status(code);
        CHECK_EQ(slim_grpc_status_to_code(st), code);
        /* Each E_GRPC_ status names its code. */
        if (code > 0)
            CHECK(strstr(slim_status_str(st), slim_grpc_code_name(code)) != NULL);
    }
    CHECK_EQ(slim_grpc_status_to_code(SLIM_E_TIMEOUT), SLIM_GRPC_DEADLINE_EXCEEDED);
    CHECK_EQ(slim_grpc_status_to_code(SLIM_E_QUEUE_FULL), SLIM_GRPC_RESOURCE_EXHAUSTED);
    CHECK_EQ(slim_grpc_status_to_code(SLIM_E_TRANSPORT_MSG_TOO_LARGE),
             SLIM_GRPC_RESOURCE_EXHAUSTED);
    CHECK_EQ(slim_grpc_status_to_code(SLIM_E_INVALID_ARG), SLIM_GRPC_INVALID_ARGUMENT);
    CHECK_EQ(slim_grpc_status_to_code(SLIM_E_NOT_FOUND), SLIM_GRPC_NOT_FOUND);
    CHECK_EQ(slim_grpc_status_to_code(SLIM_E_TRANSPORT_CONN_LOST), SLIM_GRPC_UNAVAILABLE);
    CHECK_EQ(slim_grpc_status_to_code(SLIM_E_CANCELLED), SLIM_GRPC_CANCELLED);
    CHECK_EQ(slim_grpc_status_to_code(SLIM_E_UNSUPPORTED), SLIM_GRPC_UNIMPLEMENTED);
    CHECK_EQ(slim_grpc_status_to_code(SLIM_E_NAME_BAD_ID), SLIM_GRPC_UNKNOWN);
    CHECK_STR(slim_grpc_code_name(4), "DEADLINE_EXCEEDED");
    CHECK_STR(slim_grpc_code_name(99), "UNKNOWN");
}

TEST(status_from_http_h2_and_text) {
    CHECK_EQ(slim_grpc_code_from_http(400), SLIM_GRPC_INTERNAL);
    CHECK_EQ(slim_grpc_code_from_http(401), SLIM_GRPC_UNAUTHENTICATED);
    CHECK_EQ(slim_grpc_code_from_http(403), SLIM_GRPC_PERMISSION_DENIED);
    CHECK_EQ(slim_grpc_code_from_http(404), SLIM_GRPC_UNIMPLEMENTED);
    CHECK_EQ(slim_grpc_code_from_http(503), SLIM_GRPC_UNAVAILABLE);
    CHECK_EQ(slim_grpc_code_from_http(500), SLIM_GRPC_UNKNOWN);
    CHECK_EQ(slim_grpc_code_from_h2_error(0x8), SLIM_GRPC_CANCELLED);
    CHECK_EQ(slim_grpc_code_from_h2_error(0x7), SLIM_GRPC_UNAVAILABLE);
    CHECK_EQ(slim_grpc_code_from_h2_error(0xb), SLIM_GRPC_RESOURCE_EXHAUSTED);
    CHECK_EQ(slim_grpc_code_from_h2_error(0x1), SLIM_GRPC_INTERNAL);
    CHECK_EQ(slim_grpc_code_parse(S("0")), 0);
    CHECK_EQ(slim_grpc_code_parse(S("14")), 14);
    CHECK_EQ(slim_grpc_code_parse(S("16")), 16);
    CHECK_EQ(slim_grpc_code_parse(S("17")), SLIM_GRPC_UNKNOWN);
    CHECK_EQ(slim_grpc_code_parse(S("")), SLIM_GRPC_UNKNOWN);
    CHECK_EQ(slim_grpc_code_parse(S("1a")), SLIM_GRPC_UNKNOWN);
    CHECK_EQ(slim_grpc_code_parse(S("100")), SLIM_GRPC_UNKNOWN);
}

/* ---- framing ---- */

static size_t frame(uint8_t *out, uint8_t flags, const void *body, uint32_t len) {
    slim_grpc_prefix_write(out, len);
    out[0] = flags;
    memcpy(out + 5, body, len);
    return 5 + len;
}

TEST(prefix_is_flag_and_big_endian_length) {
    uint8_t p[5];
    slim_grpc_prefix_write(p, 0x01020304);
    const uint8_t want[5] = {0, 1, 2, 3, 4};
    CHECK_MEM(p, want, 5);
}

TEST(deframe_whole_messages_without_copy) {
    uint8_t in[64];
    size_t n = frame(in, 0, "hello", 5);
    n += frame(in + n, 0, "", 0);
    n += frame(in + n, 0, "abc", 3);
    slim_grpc_deframer d;
    slim_grpc_deframer_init(&d, 100);
    size_t pos = 0, used;
    bool have;
    slim_bytes msg;
    CHECK_OK(slim_grpc_deframe(&d, slim_bytes_of(in, n), &used, &have, &msg));
    CHECK(have);
    CHECK_EQ(used, 10);
    CHECK_EQ(msg.len, 5);
    CHECK(msg.ptr == in + 5); /* in place */
    pos += used;
    CHECK_OK(slim_grpc_deframe(&d, slim_bytes_of(in + pos, n - pos), &used, &have, &msg));
    CHECK(have);
    CHECK_EQ(msg.len, 0);
    pos += used;
    CHECK_OK(slim_grpc_deframe(&d, slim_bytes_of(in + pos, n - pos), &used, &have, &msg));
    CHECK(have);
    CHECK_EQ(msg.len, 3);
    CHECK_MEM(msg.ptr, "abc", 3);
    pos += used;
    CHECK_EQ(pos, n);
    CHECK(!slim_grpc_deframer_partial(&d));
    CHECK_EQ(d.body.cap, 0); /* nothing was buffered */
    slim_grpc_deframer_cleanup(&d);
}

/* Feeds `in` cut into pieces of `step` bytes; returns messages seen and
 * checks they are "m0", "m1", ... */
static int deframe_in_steps(const uint8_t *in, size_t n, size_t step) {
    slim_grpc_deframer d;
    slim_grpc_deframer_init(&d, 1000);
    int count = 0;
    for (size_t off = 0; off < n; off += step) {
        size_t len = n - off < step ? n - off : step;
        size_t pos = 0;
        while (pos < len) {
            size_t used;
            bool have;
            slim_bytes msg;
            CHECK_OK(slim_grpc_deframe(&d, slim_bytes_of(in + off + pos, len - pos), &used, &have,
                                       &msg));
            pos += used;
            if (have) {
                char want[32];
                int wl = snprintf(want, sizeof want, "m%d-payload", count);
                CHECK_EQ(msg.len, (size_t)wl);
                CHECK_MEM(msg.ptr, want, (size_t)wl);
                count++;
            }
        }
    }
    CHECK(!slim_grpc_deframer_partial(&d));
    slim_grpc_deframer_cleanup(&d);
    return count;
}

TEST(deframe_reassembles_across_every_cut) {
    uint8_t in[512];
    size_t n = 0;
    for (int i = 0; i < 12; i++) {
        char body[32];
        int bl = snprintf(body, sizeof body, "m%d-payload", i);
        n += frame(in + n, 0, body, (uint32_t)bl);
    }
    for (size_t step = 1; step <= n; step++)
        CHECK_EQ(deframe_in_steps(in, n, step), 12);
}

TEST(deframe_checks_size_on_the_prefix) {
    slim_grpc_deframer d;
    slim_grpc_deframer_init(&d, 4u * 1024 * 1024);
    uint8_t prefix[5];
    slim_grpc_prefix_write(prefix, 5u * 1024 * 1024);
    size_t used;
    bool have;
    slim_bytes msg;
    /* Only the prefix: the error comes before any body byte is kept. */
    CHECK_STATUS(slim_grpc_deframe(&d, slim_bytes_of(prefix, 5), &used, &have, &msg),
                 SLIM_E_GRPC_RESOURCE_EXHAUSTED);
    CHECK_EQ(d.need, 5u * 1024 * 1024);
    CHECK_EQ(d.body.cap, 0);
    CHECK(!have);
    /* Sticky. */
    CHECK_STATUS(slim_grpc_deframe(&d, slim_bytes_of(prefix, 5), &used, &have, &msg),
                 SLIM_E_GRPC_RESOURCE_EXHAUSTED);
    slim_grpc_deframer_cleanup(&d);

    /* Within the limit, memory follows the bytes received, not the prefix. */
    slim_grpc_deframer_init(&d, 4u * 1024 * 1024);
    slim_grpc_prefix_write(prefix, 4u * 1024 * 1024);
    uint8_t some[100] = {0};
    CHECK_OK(slim_grpc_deframe(&d, slim_bytes_of(prefix, 5), &used, &have, &msg));
    CHECK_OK(slim_grpc_deframe(&d, slim_bytes_of(some, sizeof some), &used, &have, &msg));
    CHECK(!have);
    CHECK_INT(d.body.cap, <=, 1024);
    slim_grpc_deframer_cleanup(&d);

    /* Exactly the limit is fine. */
    slim_grpc_deframer_init(&d, 3);
    uint8_t in[8];
    size_t n = frame(in, 0, "abc", 3);
    CHECK_OK(slim_grpc_deframe(&d, slim_bytes_of(in, n), &used, &have, &msg));
    CHECK(have);
    n = frame(in, 0, "abcd", 3);
    in[4] = 4;
    CHECK_STATUS(slim_grpc_deframe(&d, slim_bytes_of(in, 5), &used, &have, &msg),
                 SLIM_E_GRPC_RESOURCE_EXHAUSTED);
    slim_grpc_deframer_cleanup(&d);
}

TEST(deframe_rejects_compressed_and_bad_flags) {
    uint8_t in[16];
    size_t n = frame(in, 1, "zz", 2);
    slim_grpc_deframer d;
    slim_grpc_deframer_init(&d, 100);
    size_t used;
    bool have;
    slim_bytes msg;
    CHECK_STATUS(slim_grpc_deframe(&d, slim_bytes_of(in, n), &used, &have, &msg),
                 SLIM_E_GRPC_UNIMPLEMENTED);
    slim_grpc_deframer_cleanup(&d);
    n = frame(in, 0x80, "zz", 2);
    slim_grpc_deframer_init(&d, 100);
    CHECK_STATUS(slim_grpc_deframe(&d, slim_bytes_of(in, n), &used, &have, &msg),
                 SLIM_E_GRPC_INTERNAL);
    slim_grpc_deframer_cleanup(&d);
}

TEST(deframe_reports_partial_message) {
    uint8_t in[16];
    size_t n = frame(in, 0, "hello", 5);
    slim_grpc_deframer d;
    slim_grpc_deframer_init(&d, 100);
    size_t used;
    bool have;
    slim_bytes msg;
    CHECK_OK(slim_grpc_deframe(&d, slim_bytes_of(in, 3), &used, &have, &msg));
    CHECK(!have);
    CHECK(slim_grpc_deframer_partial(&d));
    CHECK_OK(slim_grpc_deframe(&d, slim_bytes_of(in + 3, 4), &used, &have, &msg));
    CHECK(slim_grpc_deframer_partial(&d));
    CHECK_OK(slim_grpc_deframe(&d, slim_bytes_of(in + 7, n - 7), &used, &have, &msg));
    CHECK(have);
    CHECK_MEM(msg.ptr, "hello", 5);
    CHECK(!slim_grpc_deframer_partial(&d));
    slim_grpc_deframer_cleanup(&d);
}

TEST(deframe_survives_allocation_failure) {
    uint8_t in[300];
    uint8_t body[200];
    memset(body, 'x', sizeof body);
    size_t n = frame(in, 0, body, sizeof body);
    test_alloc_install();
    for (long fail = 1; fail < 4; fail++) {
        slim_grpc_deframer d;
        slim_grpc_deframer_init(&d, 1000);
        test_alloc_fail_after(fail);
        size_t used;
        bool have;
        slim_bytes msg;
        slim_status st = slim_grpc_deframe(&d, slim_bytes_of(in, 50), &used, &have, &msg);
        if (st == SLIM_OK)
            st = slim_grpc_deframe(&d, slim_bytes_of(in + 50, n - 50), &used, &have, &msg);
        CHECK(st == SLIM_OK || st == SLIM_E_NOMEM);
        slim_grpc_deframer_cleanup(&d);
        test_alloc_fail_after(0);
    }
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_uninstall();
}

/* ---- grpc-timeout ---- */

TEST(timeout_parse) {
    uint64_t ns = 0;
    CHECK_OK(slim_grpc_timeout_parse(S("1S"), &ns));
    CHECK_U64(ns, 1000000000ull);
    CHECK_OK(slim_grpc_timeout_parse(S("100m"), &ns));
    CHECK_U64(ns, 100000000ull);
    CHECK_OK(slim_grpc_timeout_parse(S("7u"), &ns));
    CHECK_U64(ns, 7000ull);
    CHECK_OK(slim_grpc_timeout_parse(S("99999999n"), &ns));
    CHECK_U64(ns, 99999999ull);
    CHECK_OK(slim_grpc_timeout_parse(S("2M"), &ns));
    CHECK_U64(ns, 120000000000ull);
    CHECK_OK(slim_grpc_timeout_parse(S("99999999H"), &ns));
    CHECK_U64(ns, UINT64_MAX); /* saturates */
    CHECK_OK(slim_grpc_timeout_parse(S("0m"), &ns));
    CHECK_U64(ns, 0);
    const char *bad[] = {"", "m", "S1", "123456789m", "10x", "1.5S", "-1S", " 1S", "1 S"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_STATUS(slim_grpc_timeout_parse(S(bad[i]), &ns), SLIM_E_INVALID_ARG);
}

TEST(timeout_format_rounds_up_and_fits_eight_digits) {
    char out[16];
    slim_grpc_timeout_format(0, out);
    CHECK_STR(out, "1n");
    slim_grpc_timeout_format(1500, out);
    CHECK_STR(out, "1500n");
    slim_grpc_timeout_format(123456789, out);
    CHECK_STR(out, "123457u");
    slim_grpc_timeout_format(100000000, out);
    CHECK_STR(out, "100000u");
    slim_grpc_timeout_format(3600000000000ull, out);
    CHECK_STR(out, "3600000m");
    slim_grpc_timeout_format(UINT64_MAX, out);
    CHECK_STR(out, "5124096H");
    uint64_t samples[] = {1, 999, 1000001, 50000000, 99999999999ull, 7777777777777ull};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        uint64_t back;
        slim_grpc_timeout_format(samples[i], out);
        CHECK_OK(slim_grpc_timeout_parse(S(out), &back));
        CHECK_INT(back, >=, samples[i]);
        CHECK_INT(strlen(out), <=, 9);
    }
}

/* ---- percent-encoding ---- */

static void check_percent(const char *plain, const char *enc) {
    slim_buf b = SLIM_BUF_INIT;
    CHECK_OK(slim_grpc_percent_encode(S(plain), &b));
    CHECK_EQ(b.len, strlen(enc));
    if (b.len > 0)
        CHECK_MEM(b.data, enc, b.len);
    b.len = 0;
    CHECK_OK(slim_grpc_percent_decode(S(enc), &b));
    CHECK_EQ(b.len, strlen(plain));
    if (b.len > 0)
        CHECK_MEM(b.data, plain, b.len);
    slim_buf_cleanup(&b);
}

TEST(percent_encoding_round_trips) {
    check_percent("", "");
    check_percent("hello world", "hello world");
    check_percent("100%", "100%25");
    check_percent("\xc3\xbc"
                  "ber",
                  "%C3%BCber");
    check_percent("a\nb\x7f", "a%0Ab%7F");
}

TEST(percent_decoding_keeps_bad_escapes) {
    const char *cases[][2] = {
        {"%zz", "%zz"}, {"%4", "%4"}, {"%", "%"}, {"ok%c3%bc", "ok\xc3\xbc"}, {"%%41", "%A"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        slim_buf b = SLIM_BUF_INIT;
        CHECK_OK(slim_grpc_percent_decode(S(cases[i][0]), &b));
        CHECK_EQ(b.len, strlen(cases[i][1]));
        CHECK_MEM(b.data, cases[i][1], b.len);
        slim_buf_cleanup(&b);
    }
}

/* ---- base64 ---- */

TEST(base64_rfc4648_vectors) {
    const char *v[][2] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        slim_buf b = SLIM_BUF_INIT;
        CHECK_OK(slim_base64_encode(slim_bytes_of(v[i][0], strlen(v[i][0])), &b));
        CHECK_EQ(b.len, strlen(v[i][1]));
        CHECK_EQ(b.len, slim_base64_len(strlen(v[i][0])));
        if (b.len > 0)
            CHECK_MEM(b.data, v[i][1], b.len);
        b.len = 0;
        CHECK_OK(slim_base64_decode(S(v[i][1]), &b));
        CHECK_EQ(b.len, strlen(v[i][0]));
        if (b.len > 0)
            CHECK_MEM(b.data, v[i][0], b.len);
        slim_buf_cleanup(&b);
    }
    /* Padded input decodes too. */
    slim_buf b = SLIM_BUF_INIT;
    CHECK_OK(slim_base64_decode(S("Zg=="), &b));
    CHECK_EQ(b.len, 1);
    CHECK_OK(slim_base64_decode(S("Zm8="), &b));
    CHECK_EQ(b.len, 3);
    CHECK_MEM(b.data, "ffo", 3);
    slim_buf_cleanup(&b);
}

TEST(base64_rejects_bad_input) {
    const char *bad[] = {"Z", "Zh", "Zg=", "Z===", "Zm9v!", "Zm 9v", "=Zg", "Zg==Zg=="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        slim_buf b = SLIM_BUF_INIT;
        CHECK_STATUS(slim_base64_decode(S(bad[i]), &b), SLIM_E_INVALID_ARG);
        CHECK_EQ(b.len, 0);
        slim_buf_cleanup(&b);
    }
}

TEST(base64_round_trips_all_bytes) {
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    for (size_t n = 0; n <= sizeof all; n += 37) {
        slim_buf e = SLIM_BUF_INIT, d = SLIM_BUF_INIT;
        CHECK_OK(slim_base64_encode(slim_bytes_of(all, n), &e));
        CHECK_OK(slim_base64_decode(slim_str_of((const char *)e.data, e.len), &d));
        CHECK_EQ(d.len, n);
        if (n > 0)
            CHECK_MEM(d.data, all, n);
        slim_buf_cleanup(&e);
        slim_buf_cleanup(&d);
    }
}

/* ---- header rules and metadata ---- */

TEST(header_rules) {
    CHECK(slim_grpc_header_name_valid(S("x-user_id.v2")));
    CHECK(!slim_grpc_header_name_valid(S("X-Upper")));
    CHECK(!slim_grpc_header_name_valid(S("")));
    CHECK(!slim_grpc_header_name_valid(S("a b")));
    CHECK(slim_grpc_header_name_reserved(S("grpc-timeout")));
    CHECK(slim_grpc_header_name_reserved(S("te")));
    CHECK(slim_grpc_header_name_reserved(S(":path")));
    CHECK(slim_grpc_header_name_reserved(S("content-type")));
    CHECK(!slim_grpc_header_name_reserved(S("authorization")));
    CHECK(slim_grpc_header_is_bin(S("trace-bin")));
    CHECK(!slim_grpc_header_is_bin(S("bin")));
    CHECK(slim_grpc_header_ascii_valid(slim_bytes_of("a ~", 3)));
    CHECK(!slim_grpc_header_ascii_valid(slim_bytes_of("a\n", 2)));
    CHECK(slim_grpc_content_type_ok(S("application/grpc")));
    CHECK(slim_grpc_content_type_ok(S("application/grpc+proto")));
    CHECK(slim_grpc_content_type_ok(S("application/grpc;charset=utf-8")));
    CHECK(!slim_grpc_content_type_ok(S("application/grpcx")));
    CHECK(!slim_grpc_content_type_ok(S("application/json")));
}

TEST(metadata_add_get_and_validation) {
    slim_grpc_md md = SLIM_GRPC_MD_INIT;
    CHECK_OK(slim_grpc_md_add_str(&md, "authorization", "Bearer abc"));
    const uint8_t raw[] = {0, 1, 0xff, ','};
    CHECK_OK(slim_grpc_md_add(&md, "trace-bin", slim_bytes_of(raw, sizeof raw)));
    CHECK_STATUS(slim_grpc_md_add_str(&md, "Upper", "x"), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_grpc_md_add_str(&md, "grpc-status", "0"), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_grpc_md_add_str(&md, "x-text", "line\nbreak"), SLIM_E_INVALID_ARG);
    CHECK_EQ(slim_grpc_md_count(&md), 2);
    slim_bytes v;
    CHECK(slim_grpc_md_get(&md, "trace-bin", &v));
    CHECK_EQ(v.len, sizeof raw);
    CHECK_MEM(v.ptr, raw, sizeof raw);
    CHECK(!slim_grpc_md_get(&md, "missing", &v));
    /* Many entries: views stay right after the storage grows. */
    for (int i = 0; i < 200; i++) {
        char name[16], value[16];
        snprintf(name, sizeof name, "k%d", i);
        snprintf(value, sizeof value, "v%d", i);
        CHECK_OK(slim_grpc_md_add_str(&md, name, value));
    }
    CHECK(slim_grpc_md_get(&md, "k150", &v));
    CHECK_EQ(v.len, 4);
    CHECK_MEM(v.ptr, "v150", 4);
    slim_grpc_md copy = SLIM_GRPC_MD_INIT;
    CHECK_OK(slim_grpc_md_append(&copy, &md));
    CHECK_EQ(slim_grpc_md_count(&copy), 202);
    slim_str n;
    slim_grpc_md_at(&copy, 0, &n, &v);
    CHECK_EQ(n.len, 13);
    CHECK_MEM(n.ptr, "authorization", 13);
    slim_grpc_md_cleanup(&copy);
    slim_grpc_md_cleanup(&md);
}

TEST(metadata_from_the_wire) {
    slim_grpc_md md = SLIM_GRPC_MD_INIT;
    CHECK_OK(slim_grpc_md_add_wire(&md, S("x-plain"), S("a,b")));
    CHECK_OK(slim_grpc_md_add_wire(&md, S("x-bin"), S("AAE, AgM=")));
    CHECK_EQ(slim_grpc_md_count(&md), 3);
    slim_str n;
    slim_bytes v;
    slim_grpc_md_at(&md, 0, &n, &v);
    CHECK_EQ(v.len, 3); /* ASCII values are not split */
    slim_grpc_md_at(&md, 1, &n, &v);
    CHECK_EQ(v.len, 2);
    CHECK_MEM(v.ptr, "\x00\x01", 2);
    slim_grpc_md_at(&md, 2, &n, &v);
    CHECK_EQ(v.len, 2);
    CHECK_MEM(v.ptr, "\x02\x03", 2);
    CHECK_STATUS(slim_grpc_md_add_wire(&md, S("y-bin"), S("AAE,!!")), SLIM_E_INVALID_ARG);
    CHECK_EQ(slim_grpc_md_count(&md), 3); /* nothing added */
    slim_grpc_md_cleanup(&md);
}

TEST(metadata_survives_allocation_failure) {
    test_alloc_install();
    for (long fail = 1; fail < 8; fail++) {
        slim_grpc_md md = SLIM_GRPC_MD_INIT;
        test_alloc_fail_after(fail);
        slim_status st = slim_grpc_md_add_str(&md, "a", "b");
        if (st == SLIM_OK)
            st = slim_grpc_md_add_wire(&md, S("c-bin"), S("AAE,AgM"));
        CHECK(st == SLIM_OK || st == SLIM_E_NOMEM);
        test_alloc_fail_after(0);
        slim_grpc_md_cleanup(&md);
    }
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_uninstall();
}

/* ---- endpoints ---- */

TEST(endpoint_forms) {
    slim_endpoint ep;
    CHECK_OK(slim_endpoint_parse("127.0.0.1:46357", &ep));
    CHECK_EQ(ep.kind, SLIM_ENDPOINT_TCP);
    CHECK_STR(ep.host, "127.0.0.1");
    CHECK_EQ(ep.port, 46357);
    CHECK(!ep.tls);
    CHECK_OK(slim_endpoint_parse("http://localhost:0/", &ep));
    CHECK_STR(ep.host, "localhost");
    CHECK_EQ(ep.port, 0);
    CHECK_OK(slim_endpoint_parse("[::1]:8080", &ep));
    CHECK_STR(ep.host, "::1");
    CHECK_EQ(ep.port, 8080);
    CHECK_OK(slim_endpoint_parse("https://example.org:443", &ep));
    CHECK(ep.tls);
    CHECK_OK(slim_endpoint_parse("unix:///tmp/slim.sock", &ep));
    CHECK_EQ(ep.kind, SLIM_ENDPOINT_UNIX);
    CHECK_STR(ep.path, "/tmp/slim.sock");
    CHECK_OK(slim_endpoint_parse("unix:rel.sock", &ep));
    CHECK_STR(ep.path, "rel.sock");
    char out[300];
    CHECK_OK(slim_endpoint_parse("[::1]:8080", &ep));
    CHECK_OK(slim_endpoint_format(&ep, out, sizeof out));
    CHECK_STR(out, "[::1]:8080");
    CHECK_OK(slim_endpoint_parse("unix:///tmp/x", &ep));
    CHECK_OK(slim_endpoint_format(&ep, out, sizeof out));
    CHECK_STR(out, "unix:///tmp/x");
    CHECK_STATUS(slim_endpoint_format(&ep, out, 5), SLIM_E_BUFFER_SMALL);
}

TEST(endpoint_rejects_bad_text) {
    const char *bad[] = {"",           "localhost", ":80",    "host:",           "host:65536",
                         "host:8x",    "::1:80",    "[::1]",  "[::1]80",         "[127.0.0.1]:80",
                         "unix://rel", "unix:",     "a/b:80", "http://h:1/path", "host:123456"};
    slim_endpoint ep;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        slim_status st = slim_endpoint_parse(bad[i], &ep);
        if (st != SLIM_E_TRANSPORT_BAD_ENDPOINT)
            TEST_FAIL_AT("\"%s\" parsed (%s)", bad[i], slim_status_name(st));
    }
    char longpath[200];
    memset(longpath, 'a', sizeof longpath);
    memcpy(longpath, "unix:/", 6);
    longpath[sizeof longpath - 1] = '\0';
    CHECK_STATUS(slim_endpoint_parse(longpath, &ep), SLIM_E_TRANSPORT_BAD_ENDPOINT);
    CHECK_STATUS(slim_endpoint_parse(NULL, &ep), SLIM_E_TRANSPORT_BAD_ENDPOINT);
}

TEST_MAIN(TEST_ENTRY(status_codes_map_both_ways), TEST_ENTRY(status_from_http_h2_and_text),
          TEST_ENTRY(prefix_is_flag_and_big_endian_length),
          TEST_ENTRY(deframe_whole_messages_without_copy),
          TEST_ENTRY(deframe_reassembles_across_every_cut),
          TEST_ENTRY(deframe_checks_size_on_the_prefix),
          TEST_ENTRY(deframe_rejects_compressed_and_bad_flags),
          TEST_ENTRY(deframe_reports_partial_message),
          TEST_ENTRY(deframe_survives_allocation_failure), TEST_ENTRY(timeout_parse),
          TEST_ENTRY(timeout_format_rounds_up_and_fits_eight_digits),
          TEST_ENTRY(percent_encoding_round_trips), TEST_ENTRY(percent_decoding_keeps_bad_escapes),
          TEST_ENTRY(base64_rfc4648_vectors), TEST_ENTRY(base64_rejects_bad_input),
          TEST_ENTRY(base64_round_trips_all_bytes), TEST_ENTRY(header_rules),
          TEST_ENTRY(metadata_add_get_and_validation), TEST_ENTRY(metadata_from_the_wire),
          TEST_ENTRY(metadata_survives_allocation_failure), TEST_ENTRY(endpoint_forms),
          TEST_ENTRY(endpoint_rejects_bad_text))
