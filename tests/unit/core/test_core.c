/* Unit tests for src/core: status table, allocator hooks, buffers, reader,
 * logging, time, memzero, constant-time compare, hex. */
#include "test.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/hmap.h"
#include "core/khash.h"
#include "core/log.h"
#include "core/rcbuf.h"
#include "core/time.h"
#include "core/util.h"

TEST(status_table_is_consistent) {
    static const slim_status all[] = {
#define ALL(name, code, msg) SLIM_##name,
        SLIM_STATUS_MAP(ALL)
#undef ALL
    };
    size_t n = sizeof all / sizeof all[0];
    CHECK_INT(n, >, 20);
    for (size_t i = 0; i < n; i++) {
        CHECK(strcmp(slim_status_name(all[i]), "E_UNKNOWN") != 0);
        CHECK(strcmp(slim_status_str(all[i]), "unknown status") != 0);
        CHECK_INT(all[i], <=, 0);
        for (size_t j = i + 1; j < n; j++) {
            CHECK_INT(all[i], !=, all[j]);
            CHECK(strcmp(slim_status_name(all[i]), slim_status_name(all[j])) != 0);
        }
    }
    CHECK_STR(slim_status_name(SLIM_OK), "OK");
    CHECK_STR(slim_status_name(SLIM_E_NOMEM), "E_NOMEM");
    CHECK_STR(slim_status_str(SLIM_E_NOMEM), "out of memory");
    CHECK_STR(slim_status_name((slim_status)-12345), "E_UNKNOWN");
    CHECK_STR(slim_status_str((slim_status)-12345), "unknown status");
}

TEST(allocator_hook_fails_on_request) {
    test_alloc_install();
    void *a = slim_malloc(10);
    CHECK(a != NULL);
    CHECK_EQ(test_alloc_live(), 1);
    test_alloc_fail_after(1);
    CHECK(slim_malloc(10) == NULL);
    void *b = slim_calloc(4, 8);
    CHECK(b != NULL);
    CHECK_EQ(((uint8_t *)b)[31], 0);
    CHECK(slim_calloc(SIZE_MAX / 2, 4) == NULL); /* overflow, no allocation */
    char *s = slim_strndup("abcdef", 3);
    CHECK_STR(s, "abc");
    slim_free(a);
    slim_free(b);
    slim_free(s);
    slim_free(NULL);
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_uninstall();
}

TEST(buf_append_and_grow) {
    slim_buf b = SLIM_BUF_INIT;
    CHECK_OK(slim_buf_append_u8(&b, 0x01));
    CHECK_OK(slim_buf_append_u16(&b, 0x0203));
    CHECK_OK(slim_buf_append_u32(&b, 0x04050607));
    CHECK_OK(slim_buf_append_u64(&b, 0x08090a0b0c0d0e0full));
    static const uint8_t want[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    CHECK_EQ(b.len, sizeof want);
    CHECK_MEM(b.data, want, sizeof want);
    for (int i = 0; i < 1000; i++)
        CHECK_OK(slim_buf_append(&b, "xyz", 3));
    CHECK_EQ(b.len, sizeof want + 3000);
    CHECK_INT(b.cap, >=, b.len);
    slim_buf_consume(&b, sizeof want);
    CHECK_EQ(b.len, 3000);
    CHECK_MEM(b.data, "xyzxyz", 6);
    uint8_t *z;
    CHECK_OK(slim_buf_append_zeros(&b, 5, &z));
    CHECK_EQ(z[4], 0);
    CHECK_STATUS(slim_buf_reserve(&b, SIZE_MAX), SLIM_E_OVERFLOW);
    slim_buf_cleanup_secret(&b);
    CHECK(b.data == NULL);
    CHECK_EQ(b.len, 0);
}

TEST(buf_reports_nomem_and_keeps_contents) {
    test_alloc_install();
    slim_buf b = SLIM_BUF_INIT;
    CHECK_OK(slim_buf_append(&b, "abc", 3));
    uint8_t big[100] = {0};
    test_alloc_fail_after(1);
    CHECK_STATUS(slim_buf_append(&b, big, sizeof big), SLIM_E_NOMEM);
    CHECK_EQ(b.len, 3);
    CHECK_MEM(b.data, "abc", 3);
    slim_buf_cleanup(&b);
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_uninstall();
}

TEST(reader_is_bounds_checked) {
    static const uint8_t data[] = {0xAB, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
    slim_reader r;
    slim_reader_init(&r, slim_bytes_of(data, sizeof data));
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    slim_bytes v;
    CHECK_OK(slim_reader_u8(&r, &u8));
    CHECK_EQ(u8, 0xAB);
    CHECK_OK(slim_reader_u16(&r, &u16));
    CHECK_EQ(u16, 0x0102);
    CHECK_STATUS(slim_reader_u64(&r, &u64), SLIM_E_TRUNCATED);
    CHECK_EQ(r.pos, 3); /* a failed read does not move */
    CHECK_OK(slim_reader_u32(&r, &u32));
    CHECK_U64(u32, 0x03040506);
    CHECK_STATUS(slim_reader_finish(&r), SLIM_E_TRAILING);
    CHECK_STATUS(slim_reader_bytes(&r, 2, &v), SLIM_E_TRUNCATED);
    CHECK_OK(slim_reader_bytes(&r, 1, &v));
    CHECK_EQ(v.len, 1);
    CHECK_EQ(v.ptr[0], 0x07);
    CHECK_OK(slim_reader_finish(&r));
    CHECK_STATUS(slim_reader_u8(&r, &u8), SLIM_E_TRUNCATED);

    slim_reader e;
    slim_reader_init(&e, slim_bytes_of(NULL, 0));
    CHECK_OK(slim_reader_bytes(&e, 0, &v));
    CHECK_EQ(v.len, 0);
    CHECK_OK(slim_reader_finish(&e));
}

static char last_line[512];
static slim_log_level last_level;
static int lines;

static void capture(slim_log_level level, const char *line, void *ud) {
    (void)ud;
    last_level = level;
    snprintf(last_line, sizeof last_line, "%s", line);
    lines++;
}

TEST(log_levels_and_sink) {
    slim_log_level l;
    CHECK_EQ(slim_log_level_parse("DEBUG", &l), 0);
    CHECK_EQ(l, SLIM_LOG_DEBUG);
    CHECK_EQ(slim_log_level_parse("warning", &l), 0);
    CHECK_EQ(l, SLIM_LOG_WARN);
    CHECK_EQ(slim_log_level_parse("loud", &l), -1);
    CHECK_EQ(slim_log_level_parse(NULL, &l), -1);

    slim_log_set_sink(capture, NULL);
    slim_log_set_level(SLIM_LOG_INFO);
    lines = 0;
    SLIM_LOGD("test", "hidden %d", 1);
    CHECK_EQ(lines, 0);
    SLIM_LOGI("test", "shown %d", 2);
    CHECK_EQ(lines, 1);
    CHECK_EQ(last_level, SLIM_LOG_INFO);
    CHECK(strstr(last_line, "INFO  test: shown 2") != NULL);
    /* 2026-11-24T08:55:11.123Z prefix */
    CHECK_EQ(last_line[4], '-');
    CHECK_EQ(last_line[10], 'T');
    CHECK_EQ(last_line[23], 'Z');
    char big[4000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    SLIM_LOGW("test", "%s", big); /* truncated, not overflowing */
    CHECK_EQ(lines, 2);
    slim_log_set_sink(NULL, NULL);
    slim_log_set_level(SLIM_LOG_WARN);
}

TEST(monotonic_time_advances) {
    uint64_t a = slim_now_ns();
    uint64_t b = slim_now_ns();
    CHECK_INT(b, >=, a);
    CHECK_INT(a, >, 0);
    CHECK_INT(slim_now_ms(), >=, a / 1000000);
}

TEST(memzero_and_ct_equal) {
    uint8_t secret[16];
    memset(secret, 0x5a, sizeof secret);
    slim_memzero(secret, sizeof secret);
    static const uint8_t zero[16];
    CHECK_MEM(secret, zero, sizeof zero);
    slim_memzero(NULL, 0);
    CHECK_EQ(slim_ct_equal("abcd", "abcd", 4), 1);
    CHECK_EQ(slim_ct_equal("abcd", "abce", 4), 0);
    CHECK_EQ(slim_ct_equal("\x80", "\x00", 1), 0);
    CHECK_EQ(slim_ct_equal("x", "y", 0), 1);
}

TEST(hex_round_trip) {
    static const uint8_t raw[] = {0x00, 0x9f, 0xA0, 0xff};
    char hex[9];
    CHECK_OK(slim_hex_encode(raw, sizeof raw, hex, sizeof hex));
    CHECK_STR(hex, "009fa0ff");
    CHECK_STATUS(slim_hex_encode(raw, sizeof raw, hex, 8), SLIM_E_BUFFER_SMALL);
    uint8_t back[4];
    size_t n;
    CHECK_OK(slim_hex_decode("009FA0ff", 8, back, sizeof back, &n));
    CHECK_EQ(n, 4);
    CHECK_MEM(back, raw, 4);
    CHECK_STATUS(slim_hex_decode("0g", 2, back, sizeof back, &n), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_hex_decode("abc", 3, back, sizeof back, &n), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_hex_decode("0011223344", 10, back, sizeof back, &n), SLIM_E_BUFFER_SMALL);
}

typedef struct item {
    slim_hnode node;
    int key;
} item;

static int item_eq(const slim_hnode *n, const void *key) {
    return SLIM_CONTAINER_OF(n, item, node)->key == *(const int *)key;
}

TEST(hmap_insert_find_remove_iterate) {
    slim_hmap m;
    CHECK_OK(slim_hmap_init(&m, 4));
    static item items[1000];
    for (int i = 0; i < 1000; i++) {
        items[i].key = i;
        /* poor hash on purpose: collisions must still work */
        slim_hmap_insert(&m, &items[i].node, (uint64_t)(i % 37));
    }
    CHECK_EQ(m.count, 1000);
    CHECK_INT(m.mask + 1, >=, 1000); /* grew */
    for (int i = 0; i < 1000; i += 7) {
        slim_hnode *n = slim_hmap_find(&m, (uint64_t)(i % 37), item_eq, &i);
        CHECK(n == &items[i].node);
    }
    int missing = 1000;
    CHECK(slim_hmap_find(&m, 1000 % 37, item_eq, &missing) == NULL);
    /* remove the odd keys while iterating */
    slim_hmap_iter it;
    int seen = 0;
    for (slim_hnode *n = slim_hmap_first(&m, &it); n != NULL; n = slim_hmap_next(&m, &it)) {
        seen++;
        if (SLIM_CONTAINER_OF(n, item, node)->key % 2)
            slim_hmap_remove(&m, n);
    }
    CHECK_EQ(seen, 1000);
    CHECK_EQ(m.count, 500);
    int three = 3, four = 4;
    CHECK(slim_hmap_find(&m, 3, item_eq, &three) == NULL);
    CHECK(slim_hmap_find(&m, 4, item_eq, &four) == &items[4].node);
    slim_hmap_cleanup(&m);
}

TEST(rcbuf_shares_and_frees) {
    test_alloc_install();
    slim_rcbuf *b = slim_rcbuf_copy("hello", 5);
    CHECK(b != NULL);
    CHECK_EQ(test_alloc_live(), 1);
    CHECK(slim_rcbuf_ref(b) == b);
    slim_rcbuf_unref(b);
    CHECK_EQ(test_alloc_live(), 1);
    CHECK_EQ(slim_rcbuf_view(b).len, 5);
    CHECK_MEM(slim_rcbuf_view(b).ptr, "hello", 5);
    slim_rcbuf_unref(b);
    CHECK_EQ(test_alloc_live(), 0);
    slim_rcbuf_unref(NULL);
    test_alloc_fail_after(1);
    CHECK(slim_rcbuf_new(10) == NULL);
    CHECK(slim_rcbuf_new(SIZE_MAX) == NULL);
    test_alloc_uninstall();
}

/* SipHash against values computed elsewhere: SipHash-2-4 from the paper
 * (key 00..0f: the empty message, and 00..0e as in its appendix), and
 * SipHash-1-3 under the all-zero key from CPython 3.11, whose bytes hash is
 * exactly that when PYTHONHASHSEED=0:
 *   PYTHONHASHSEED=0 python3 -c 'print(hash(bytes(range(15))) & (2**64-1))' */
TEST(siphash_matches_published_and_python_values) {
    uint8_t k[16], msg[40], zero[16] = {0};
    for (int i = 0; i < 16; i++)
        k[i] = (uint8_t)i;
    for (int i = 0; i < 40; i++)
        msg[i] = (uint8_t)i;
    CHECK_U64(slim_siphash(k, 2, 4, msg, 0), 0x726fdb47dd0e0e31ull);
    CHECK_U64(slim_siphash(k, 2, 4, msg, 15), 0xa129ca6149be45e5ull);
    CHECK_U64(slim_siphash(zero, 1, 3, "a", 1), 4644417185603328019ull);
    CHECK_U64(slim_siphash(zero, 1, 3, msg, 15), 17514137373579004394ull);
    CHECK_U64(slim_siphash(zero, 1, 3, msg, 8), 16921169381604339434ull);
    CHECK_U64(slim_siphash(zero, 1, 3, msg, 40), 10789553897545236998ull);
}

TEST(khash_is_keyed_and_words_equal_bytes) {
    uint64_t words[5] = {1, 0x8000000000000000ull, 3, 0xffffffffffffffffull, 42};
    uint8_t bytes[40];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 8; j++)
            bytes[i * 8 + j] = (uint8_t)(words[i] >> (8 * j));
    for (size_t n = 0; n <= 5; n++)
        CHECK_U64(slim_khash_words(words, n), slim_khash(bytes, n * 8));
    uint8_t key[16] = {0};
    slim_khash_set_key(key);
    CHECK_U64(slim_khash(bytes, 15), slim_siphash(key, 1, 3, bytes, 15));
    uint64_t a = slim_khash_u64(7);
    key[3] = 1;
    slim_khash_set_key(key);
    CHECK(slim_khash_u64(7) != a);
    CHECK_U64(slim_khash_u64(7), slim_siphash(key, 1, 3, "\x07\0\0\0\0\0\0\0", 8));
}

TEST(log_escape_makes_peer_text_printable) {
    char out[32];
    CHECK_STR(slim_log_escape("node-1", 6, out, sizeof out), "node-1");
    CHECK_STR(slim_log_escape("a\nb\x1b[31m\\", 9, out, sizeof out), "a\\x0ab\\x1b[31m\\x5c");
    CHECK_STR(slim_log_escape("\xc3\xa9", 2, out, sizeof out), "\\xc3\\xa9");
    CHECK_STR(slim_log_escape(NULL, 0, out, sizeof out), "");
    char small[8];
    CHECK_STR(slim_log_escape("abcdefghij", 10, small, sizeof small), "abcd...");
    CHECK_STR(slim_log_escape("\n\n\n", 3, small, sizeof small), "\\x0a...");
}

TEST(log_limit_allows_a_burst_per_second) {
    slim_log_limit l = {0};
    uint32_t sup = 99;
    int allowed = 0;
    for (int i = 0; i < 100; i++)
        allowed += slim_log_limit_take(&l, 5, &sup);
    /* 100 tries within (at most) two seconds: 5 or 10 go out */
    CHECK(allowed == 5 || allowed == 10);
    CHECK_EQ(sup, 0);
    /* the next second: the first line out reports what was left out */
    atomic_store(&l.second, 0);
    CHECK(slim_log_limit_take(&l, 5, &sup));
    CHECK_EQ(sup, 100 - (uint32_t)allowed);
    CHECK(slim_log_limit_take(&l, 5, &sup));
    CHECK_EQ(sup, 0);
}

TEST(random_and_uuid) {
    uint8_t a[32] = {0}, b[32] = {0};
    CHECK_OK(slim_random_bytes(a, sizeof a));
    CHECK_OK(slim_random_bytes(b, sizeof b));
    CHECK(memcmp(a, b, sizeof a) != 0);
    char u[37], v[37];
    CHECK_OK(slim_uuid_v4(u));
    CHECK_OK(slim_uuid_v4(v));
    CHECK_EQ(strlen(u), 36);
    CHECK(strcmp(u, v) != 0);
    CHECK_EQ(u[8], '-');
    CHECK_EQ(u[14], '4');
    CHECK(strchr("89ab", u[19]) != NULL);
}

/* RFC 4648 §10 vectors, the URL-safe alphabet, and the strict decoding
 * rules (those of Rust's base64 crate, which upstream's tokens use). */
TEST(base64_alphabets_padding_and_strictness) {
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *padded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < SLIM_ARRAY_LEN(plain); i++) {
        slim_buf a = SLIM_BUF_INIT, b = SLIM_BUF_INIT, d = SLIM_BUF_INIT;
        slim_bytes in = slim_bytes_of(plain[i], strlen(plain[i]));
        CHECK_OK(slim_b64_encode(in, SLIM_B64_PAD, &a));
        CHECK_OK(slim_b64_encode(in, SLIM_B64_URL, &b));
        CHECK_EQ(a.len, strlen(padded[i]));
        CHECK_EQ(a.len, slim_b64_encoded_len(in.len, SLIM_B64_PAD));
        CHECK_MEM(a.data, padded[i], a.len);
        size_t bare = strcspn(padded[i], "=");
        CHECK_EQ(b.len, bare);
        CHECK_MEM(b.data, padded[i], bare);
        slim_str ps = {padded[i], strlen(padded[i])}, bs = {padded[i], bare};
        CHECK_OK(slim_b64_decode(ps, SLIM_B64_PAD, &d));
        CHECK_OK(slim_b64_decode(ps, SLIM_B64_PAD_OPTIONAL, &d));
        CHECK_OK(slim_b64_decode(bs, SLIM_B64_PAD_OPTIONAL | SLIM_B64_URL, &d));
        CHECK_OK(slim_b64_decode(bs, 0, &d));
        CHECK_EQ(d.len, 4 * in.len);
        for (size_t k = 0; k < 4; k++)
            CHECK_MEM(d.data + k * in.len, in.ptr, in.len);
        slim_buf_cleanup(&a), slim_buf_cleanup(&b), slim_buf_cleanup(&d);
    }
    static const uint8_t high[] = {0xfb, 0xff, 0xbf};
    slim_buf e = SLIM_BUF_INIT;
    CHECK_OK(slim_b64_encode(slim_bytes_of(high, 3), 0, &e));
    CHECK_OK(slim_b64_encode(slim_bytes_of(high, 3), SLIM_B64_URL, &e));
    CHECK_MEM(e.data, "+/+/-_-_", 8);
    slim_buf_cleanup(&e);
    static const struct {
        const char *text;
        int flags;
        slim_status want;
    } cases[] = {
        {"Zg==", 0, SLIM_E_INVALID_ARG},                    /* padding not allowed */
        {"Zg", SLIM_B64_PAD, SLIM_E_INVALID_ARG},           /* padding required */
        {"Zg=", SLIM_B64_PAD_OPTIONAL, SLIM_E_INVALID_ARG}, /* incomplete padding */
        {"Zm8==", SLIM_B64_PAD_OPTIONAL, SLIM_E_INVALID_ARG},
        {"Zm9v====", SLIM_B64_PAD, SLIM_E_INVALID_ARG},
        {"Zm9v=", SLIM_B64_PAD_OPTIONAL, SLIM_E_INVALID_ARG},
        {"====", SLIM_B64_PAD, SLIM_E_INVALID_ARG},
        {"Z===", SLIM_B64_PAD, SLIM_E_INVALID_ARG},
        {"Zm=v", SLIM_B64_PAD, SLIM_E_INVALID_ARG}, /* '=' inside */
        {"Z", 0, SLIM_E_INVALID_ARG},               /* 6 bits: no byte */
        {"Zm9vY", 0, SLIM_E_INVALID_ARG},
        {"Zh", 0, SLIM_E_INVALID_ARG}, /* non-zero unused bits */
        {"Zh==", SLIM_B64_PAD, SLIM_E_INVALID_ARG},
        {"Zm9=", SLIM_B64_PAD, SLIM_E_INVALID_ARG},
        {"-_8", 0, SLIM_E_INVALID_ARG},            /* URL-safe characters */
        {"+/8", SLIM_B64_URL, SLIM_E_INVALID_ARG}, /* standard characters */
        {"Zm9 v", 0, SLIM_E_INVALID_ARG},
        {"Zm9v\n", 0, SLIM_E_INVALID_ARG},
        {"+/8", 0, SLIM_OK},
        {"-_8", SLIM_B64_URL, SLIM_OK},
        {"Zm8=", SLIM_B64_PAD | SLIM_B64_URL, SLIM_OK},
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(cases); i++) {
        slim_buf d = SLIM_BUF_INIT;
        slim_status got =
            slim_b64_decode((slim_str){cases[i].text, strlen(cases[i].text)}, cases[i].flags, &d);
        if (got != cases[i].want)
            TEST_FAIL_AT("\"%s\" flags %d: got %s, want %s", cases[i].text, cases[i].flags,
                         slim_status_name(got), slim_status_name(cases[i].want));
        if (got != SLIM_OK)
            CHECK_EQ(d.len, 0);
        slim_buf_cleanup(&d);
    }
    uint8_t small[2];
    size_t n = 9;
    CHECK_STATUS(slim_b64_decode_to((slim_str){"Zm9v", 4}, 0, small, sizeof small, &n),
                 SLIM_E_BUFFER_SMALL);
    CHECK_EQ(n, 9);
    CHECK_OK(slim_b64_decode_to((slim_str){"Zm8", 3}, 0, small, sizeof small, &n));
    CHECK_EQ(n, 2);
    CHECK_MEM(small, "fo", 2);
}

TEST_MAIN(TEST_ENTRY(siphash_matches_published_and_python_values),
          TEST_ENTRY(khash_is_keyed_and_words_equal_bytes),
          TEST_ENTRY(log_escape_makes_peer_text_printable),
          TEST_ENTRY(log_limit_allows_a_burst_per_second), TEST_ENTRY(random_and_uuid),
          TEST_ENTRY(rcbuf_shares_and_frees), TEST_ENTRY(hmap_insert_find_remove_iterate),
          TEST_ENTRY(status_table_is_consistent), TEST_ENTRY(allocator_hook_fails_on_request),
          TEST_ENTRY(buf_append_and_grow), TEST_ENTRY(buf_reports_nomem_and_keeps_contents),
          TEST_ENTRY(reader_is_bounds_checked), TEST_ENTRY(log_levels_and_sink),
          TEST_ENTRY(monotonic_time_advances), TEST_ENTRY(memzero_and_ct_equal),
          TEST_ENTRY(hex_round_trip), TEST_ENTRY(base64_alphabets_padding_and_strictness))
