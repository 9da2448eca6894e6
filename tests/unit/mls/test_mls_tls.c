/* Unit tests for src/mls/tls (the TLS presentation-language codec) and the
 * small struct codecs on it: GroupContext, Extension, PreSharedKeyID. */
#include "core/alloc.h"
#include "mls/group_context.h"
#include "mls/psk.h"
#include "mls/tls.h"
#include "mls_test_util.h"

/* Decodes a whole input as one varint. */
static slim_status decode_varint(const char *hex, uint64_t *v) {
    uint8_t b[16];
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, HEXV(b, hex));
    slim_mls_tls_get_varint(&r, v);
    return slim_mls_tls_reader_finish(&r);
}

TEST(varint_minimal_forms_round_trip) {
    static const struct {
        uint64_t v;
        const char *hex;
    } cases[] = {
        {0, "00"},
        {37, "25"},
        {63, "3f"},
        {64, "4040"},
        {15293, "7bbd"},
        {16383, "7fff"},
        {16384, "80004000"},
        {494878333, "9d7f3e7d"},
        {0x3fffffff, "bfffffff"},
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(cases); i++) {
        uint64_t v = 99;
        CHECK_OK(decode_varint(cases[i].hex, &v));
        CHECK_U64(v, cases[i].v);
        slim_buf b = SLIM_BUF_INIT;
        slim_mls_tls_writer w;
        slim_mls_tls_writer_init(&w, &b);
        CHECK_OK(slim_mls_tls_put_varint(&w, cases[i].v));
        uint8_t want[8];
        size_t n = unhex(cases[i].hex, want, sizeof want);
        CHECK_EQ(b.len, n);
        CHECK_MEM(b.data, want, n);
        CHECK_EQ(slim_mls_tls_varint_size(cases[i].v), n);
        slim_buf_cleanup(&b);
    }
}

TEST(varint_rejects_non_minimal_reserved_and_short) {
    uint64_t v = 5;
    /* Values that fit a shorter form. */
    CHECK_STATUS(decode_varint("4000", &v), SLIM_E_MLS_VARINT_NONMINIMAL);
    CHECK_U64(v, 0); /* out-params are zeroed on failure */
    CHECK_STATUS(decode_varint("4001", &v), SLIM_E_MLS_VARINT_NONMINIMAL);
    CHECK_STATUS(decode_varint("403f", &v), SLIM_E_MLS_VARINT_NONMINIMAL);
    CHECK_STATUS(decode_varint("80000001", &v), SLIM_E_MLS_VARINT_NONMINIMAL);
    CHECK_STATUS(decode_varint("80003fff", &v), SLIM_E_MLS_VARINT_NONMINIMAL);
    /* The 0b11 prefix is reserved. */
    CHECK_STATUS(decode_varint("c0", &v), SLIM_E_MLS_VARINT_PREFIX);
    CHECK_STATUS(decode_varint("ffffffffffffffff", &v), SLIM_E_MLS_VARINT_PREFIX);
    /* Header cut short, or nothing at all. */
    CHECK_STATUS(decode_varint("40", &v), SLIM_E_MLS_TRUNCATED);
    CHECK_STATUS(decode_varint("800000", &v), SLIM_E_MLS_TRUNCATED);
    CHECK_STATUS(decode_varint("", &v), SLIM_E_MLS_TRUNCATED);
    /* Trailing byte after a valid header. */
    CHECK_STATUS(decode_varint("2500", &v), SLIM_E_MLS_TRAILING_BYTES);
    /* Too large to encode. */
    slim_buf b = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &b);
    CHECK_STATUS(slim_mls_tls_put_varint(&w, 0x40000000), SLIM_E_MLS_VARINT_RANGE);
    CHECK_STATUS(slim_mls_tls_put_u8(&w, 1), SLIM_E_MLS_VARINT_RANGE); /* sticky */
    CHECK_EQ(b.len, 0);
    CHECK_EQ(slim_mls_tls_varint_size(0x40000000), 0);
    slim_buf_cleanup(&b);
}

TEST(integers_are_big_endian) {
    slim_buf b = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &b);
    slim_mls_tls_put_u8(&w, 0x01);
    slim_mls_tls_put_u16(&w, 0x0203);
    slim_mls_tls_put_u32(&w, 0x04050607);
    slim_mls_tls_put_u64(&w, 0x08090a0b0c0d0e0full);
    CHECK_OK(slim_mls_tls_writer_status(&w));
    uint8_t want[15];
    unhex("0102030405060708090a0b0c0d0e0f", want, sizeof want);
    CHECK_EQ(b.len, 15);
    CHECK_MEM(b.data, want, 15);

    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(&b));
    uint8_t a;
    uint16_t c;
    uint32_t d;
    uint64_t e;
    slim_mls_tls_get_u8(&r, &a);
    slim_mls_tls_get_u16(&r, &c);
    slim_mls_tls_get_u32(&r, &d);
    slim_mls_tls_get_u64(&r, &e);
    CHECK_OK(slim_mls_tls_reader_finish(&r));
    CHECK_EQ(a, 1);
    CHECK_EQ(c, 0x0203);
    CHECK_U64(d, 0x04050607);
    CHECK_U64(e, 0x08090a0b0c0d0e0full);
    /* Reading past the end fails and sticks. */
    CHECK_STATUS(slim_mls_tls_get_u8(&r, &a), SLIM_E_MLS_TRUNCATED);
    CHECK_EQ(a, 0);
    CHECK_STATUS(slim_mls_tls_reader_finish(&r), SLIM_E_MLS_TRUNCATED);
    slim_buf_cleanup(&b);
}

TEST(opaque_vectors_and_their_errors) {
    uint8_t in[16];
    slim_mls_tls_reader r;
    slim_bytes v;
    /* Two vectors: "abc" and empty. */
    slim_mls_tls_reader_init(&r, HEXV(in, "0361626300"));
    CHECK_OK(slim_mls_tls_get_opaque(&r, &v));
    CHECK_EQ(v.len, 3);
    CHECK_MEM(v.ptr, "abc", 3);
    CHECK_OK(slim_mls_tls_get_opaque(&r, &v));
    CHECK_EQ(v.len, 0);
    CHECK_OK(slim_mls_tls_reader_finish(&r));
    /* Length runs past the end. */
    slim_mls_tls_reader_init(&r, HEXV(in, "04616263"));
    CHECK_STATUS(slim_mls_tls_get_opaque(&r, &v), SLIM_E_MLS_VECTOR_PAST_END);
    CHECK(v.ptr == NULL && v.len == 0);
    /* A 2-byte header claiming more than there is. */
    slim_mls_tls_reader_init(&r, HEXV(in, "7fff00"));
    CHECK_STATUS(slim_mls_tls_get_opaque(&r, &v), SLIM_E_MLS_VECTOR_PAST_END);
    /* Non-minimal header on a vector. */
    slim_mls_tls_reader_init(&r, HEXV(in, "400161"));
    CHECK_STATUS(slim_mls_tls_get_opaque(&r, &v), SLIM_E_MLS_VARINT_NONMINIMAL);
    /* A bound on the length. */
    slim_mls_tls_reader_init(&r, HEXV(in, "03616263"));
    CHECK_STATUS(slim_mls_tls_get_opaque_max(&r, 2, &v), SLIM_E_MLS_VECTOR_TOO_LONG);
    slim_mls_tls_reader_init(&r, HEXV(in, "03616263"));
    CHECK_OK(slim_mls_tls_get_opaque_max(&r, 3, &v));
    /* Trailing bytes after the last field. */
    slim_mls_tls_reader_init(&r, HEXV(in, "016100"));
    CHECK_OK(slim_mls_tls_get_opaque(&r, &v));
    CHECK_STATUS(slim_mls_tls_reader_finish(&r), SLIM_E_MLS_TRAILING_BYTES);
    /* Fixed-size arrays. */
    slim_mls_tls_reader_init(&r, HEXV(in, "010203"));
    CHECK_OK(slim_mls_tls_get_raw(&r, 2, &v));
    CHECK_STATUS(slim_mls_tls_get_raw(&r, 2, &v), SLIM_E_MLS_TRUNCATED);
    /* An empty input. */
    slim_mls_tls_reader_init(&r, slim_bytes_of(NULL, 0));
    CHECK(!slim_mls_tls_reader_more(&r));
    CHECK_OK(slim_mls_tls_reader_finish(&r));
    CHECK_OK(slim_mls_tls_get_raw(&r, 0, &v));
    CHECK_STATUS(slim_mls_tls_get_opaque(&r, &v), SLIM_E_MLS_TRUNCATED);
}

TEST(optional_presence_byte) {
    uint8_t in[4];
    slim_mls_tls_reader r;
    bool present = true;
    slim_mls_tls_reader_init(&r, HEXV(in, "0001"));
    CHECK_OK(slim_mls_tls_get_optional(&r, &present));
    CHECK(!present);
    CHECK_OK(slim_mls_tls_get_optional(&r, &present));
    CHECK(present);
    CHECK_OK(slim_mls_tls_reader_finish(&r));
    slim_mls_tls_reader_init(&r, HEXV(in, "02"));
    CHECK_STATUS(slim_mls_tls_get_optional(&r, &present), SLIM_E_MLS_BAD_OPTIONAL);
    CHECK(!present);
    slim_mls_tls_reader_init(&r, slim_bytes_of(NULL, 0));
    CHECK_STATUS(slim_mls_tls_get_optional(&r, &present), SLIM_E_MLS_TRUNCATED);

    slim_buf b = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &b);
    slim_mls_tls_put_optional(&w, false);
    slim_mls_tls_put_optional(&w, true);
    slim_mls_tls_put_u16(&w, 7);
    CHECK_OK(slim_mls_tls_writer_status(&w));
    CHECK_EQ(b.len, 4);
    CHECK_MEM(b.data, "\x00\x01\x00\x07", 4);
    slim_buf_cleanup(&b);
}

TEST(nested_vector_writes) {
    slim_buf b = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &b);
    slim_mls_tls_put_u8(&w, 0xaa);
    size_t outer = slim_mls_tls_vec_begin(&w);
    size_t inner = slim_mls_tls_vec_begin(&w);
    uint8_t big[100];
    memset(big, 0x5a, sizeof big);
    slim_mls_tls_put_raw(&w, slim_bytes_of(big, sizeof big)); /* needs a 2-byte header */
    CHECK_OK(slim_mls_tls_vec_end(&w, inner));
    slim_mls_tls_put_opaque(&w, slim_bytes_of("xy", 2));
    size_t empty = slim_mls_tls_vec_begin(&w);
    CHECK_OK(slim_mls_tls_vec_end(&w, empty));
    CHECK_OK(slim_mls_tls_vec_end(&w, outer));
    CHECK_OK(slim_mls_tls_writer_status(&w));
    /* aa | outer hdr (2+100+3+1 = 106 -> 2 bytes) | 4064 | 100 bytes | 02 7879 | 00 */
    CHECK_EQ(b.len, 1 + 2 + 2 + 100 + 3 + 1);
    CHECK_MEM(b.data, "\xaa\x40\x6a\x40\x64", 5);

    /* Read it back with sub-readers. */
    slim_mls_tls_reader r, o, in, e;
    slim_bytes v;
    uint8_t tag;
    slim_mls_tls_reader_init(&r, slim_buf_view(&b));
    slim_mls_tls_get_u8(&r, &tag);
    slim_mls_tls_get_vector(&r, &o);
    slim_mls_tls_get_vector(&o, &in);
    CHECK_EQ(slim_mls_tls_reader_remaining(&in), 100);
    CHECK_OK(slim_mls_tls_get_raw(&in, 100, &v));
    slim_mls_tls_end_vector(&o, &in);
    slim_mls_tls_get_opaque(&o, &v);
    CHECK_EQ(v.len, 2);
    slim_mls_tls_get_vector(&o, &e);
    CHECK(!slim_mls_tls_reader_more(&e));
    slim_mls_tls_end_vector(&o, &e);
    slim_mls_tls_end_vector(&r, &o);
    CHECK_OK(slim_mls_tls_reader_finish(&r));
    slim_buf_cleanup(&b);
}

TEST(vector_body_must_be_used_up) {
    uint8_t in[8];
    slim_mls_tls_reader r, sub;
    uint8_t x;
    /* A vector of uint8 with 3 bytes; the caller reads only 2. */
    slim_mls_tls_reader_init(&r, HEXV(in, "03010203"));
    CHECK_OK(slim_mls_tls_get_vector(&r, &sub));
    slim_mls_tls_get_u8(&sub, &x);
    slim_mls_tls_get_u8(&sub, &x);
    CHECK_STATUS(slim_mls_tls_end_vector(&r, &sub), SLIM_E_MLS_TRAILING_BYTES);
    /* An element truncated inside the vector: a uint16 in a 3-byte body. */
    slim_mls_tls_reader_init(&r, HEXV(in, "03000100"));
    slim_mls_tls_get_vector(&r, &sub);
    uint16_t y;
    while (slim_mls_tls_reader_more(&sub))
        slim_mls_tls_get_u16(&sub, &y);
    CHECK_STATUS(slim_mls_tls_end_vector(&r, &sub), SLIM_E_MLS_TRUNCATED);
    CHECK_STATUS(slim_mls_tls_reader_finish(&r), SLIM_E_MLS_TRUNCATED);
    /* A failed get_vector hands out a failed sub-reader. */
    slim_mls_tls_reader_init(&r, HEXV(in, "05"));
    CHECK_STATUS(slim_mls_tls_get_vector(&r, &sub), SLIM_E_MLS_VECTOR_PAST_END);
    CHECK_STATUS(slim_mls_tls_reader_status(&sub), SLIM_E_MLS_VECTOR_PAST_END);
    CHECK(!slim_mls_tls_reader_more(&sub));
}

TEST(writer_nesting_errors) {
    slim_buf b = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &b);
    size_t m = slim_mls_tls_vec_begin(&w);
    (void)m;
    CHECK_STATUS(slim_mls_tls_writer_status(&w), SLIM_E_MLS_WRITER_NESTING); /* still open */
    slim_mls_tls_put_u8(&w, 1);
    CHECK_STATUS(slim_mls_tls_vec_end(&w, m + 1), SLIM_E_MLS_WRITER_NESTING);
    slim_buf_cleanup(&b);

    slim_mls_tls_writer_init(&w, &b);
    CHECK_STATUS(slim_mls_tls_vec_end(&w, 0), SLIM_E_MLS_WRITER_NESTING); /* none open */
    slim_buf_cleanup(&b);

    slim_mls_tls_writer_init(&w, &b);
    size_t marks[SLIM_MLS_TLS_MAX_NESTING + 1];
    for (size_t i = 0; i <= SLIM_MLS_TLS_MAX_NESTING; i++)
        marks[i] = slim_mls_tls_vec_begin(&w);
    (void)marks;
    CHECK_STATUS(slim_mls_tls_writer_status(&w), SLIM_E_MLS_WRITER_NESTING);
    slim_buf_cleanup(&b);

    /* A struct encoder can record its own failure. */
    slim_mls_tls_writer_init(&w, &b);
    CHECK_STATUS(slim_mls_tls_writer_fail(&w, SLIM_E_MLS_BAD_VALUE), SLIM_E_MLS_BAD_VALUE);
    CHECK_STATUS(slim_mls_tls_writer_fail(&w, SLIM_E_NOMEM), SLIM_E_MLS_BAD_VALUE);
    slim_buf_cleanup(&b);
}

TEST(writer_reports_allocation_failure) {
    test_alloc_install();
    for (long n = 1; n < 10; n++) {
        slim_buf b = SLIM_BUF_INIT;
        slim_mls_tls_writer w;
        slim_mls_tls_writer_init(&w, &b);
        test_alloc_fail_after(n);
        uint8_t big[300] = {0};
        size_t m = slim_mls_tls_vec_begin(&w);
        slim_mls_tls_put_raw(&w, slim_bytes_of(big, 60));
        slim_mls_tls_put_raw(&w, slim_bytes_of(big, sizeof big));
        slim_mls_tls_vec_end(&w, m);
        slim_status st = slim_mls_tls_writer_status(&w);
        test_alloc_fail_after(0);
        CHECK(st == SLIM_OK || st == SLIM_E_NOMEM);
        slim_buf_cleanup(&b);
        CHECK_EQ(test_alloc_live(), 0);
    }
    test_alloc_uninstall();
}

static slim_mls_group_context sample_gc(uint8_t *ext_buf, size_t *ext_len) {
    /* Two extensions: type 1 "ab", type 0xff00 empty. */
    slim_buf e = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &e);
    slim_mls_extension a = {1, slim_bytes_of("ab", 2)}, b = {0xff00, slim_bytes_of(NULL, 0)};
    slim_mls_extension_encode(&w, &a);
    slim_mls_extension_encode(&w, &b);
    CHECK_OK(slim_mls_tls_writer_status(&w));
    memcpy(ext_buf, e.data, e.len);
    *ext_len = e.len;
    slim_buf_cleanup(&e);
    slim_mls_group_context gc = {
        .version = SLIM_MLS_VERSION_MLS10,
        .cipher_suite = 2,
        .group_id = slim_bytes_of("group", 5),
        .epoch = 0x0102030405060708ull,
        .tree_hash = slim_bytes_of("th", 2),
        .confirmed_transcript_hash = slim_bytes_of("cth", 3),
        .extensions = slim_bytes_of(ext_buf, *ext_len),
    };
    return gc;
}

TEST(group_context_round_trip) {
    uint8_t ext[32];
    size_t ext_len;
    slim_mls_group_context gc = sample_gc(ext, &ext_len);
    slim_buf b = SLIM_BUF_INIT;
    CHECK_OK(slim_mls_group_context_encode(&gc, &b));
    uint8_t want[64];
    size_t n = unhex("00010002"
                     "0567726f7570"
                     "0102030405060708"
                     "027468"
                     "03637468"
                     "08"
                     "0001026162"
                     "ff0000",
                     want, sizeof want);
    CHECK_EQ(b.len, n);
    CHECK_MEM(b.data, want, n);

    slim_mls_group_context back;
    CHECK_OK(slim_mls_group_context_decode(slim_buf_view(&b), &back));
    CHECK_EQ(back.cipher_suite, 2);
    CHECK_U64(back.epoch, gc.epoch);
    CHECK_EQ(back.group_id.len, 5);
    CHECK_EQ(back.extensions.len, ext_len);
    slim_mls_tls_reader er;
    slim_mls_tls_reader_init(&er, back.extensions);
    slim_mls_extension x;
    bool more;
    CHECK_OK(slim_mls_extensions_next(&er, &x, &more));
    CHECK(more);
    CHECK_EQ(x.type, 1);
    CHECK_OK(slim_mls_extensions_next(&er, &x, &more));
    CHECK(more);
    CHECK_EQ(x.type, 0xff00);
    CHECK_OK(slim_mls_extensions_next(&er, &x, &more));
    CHECK(!more);

    /* Trailing byte, wrong version, truncated extension list. */
    CHECK_OK(slim_buf_append_u8(&b, 0));
    CHECK_STATUS(slim_mls_group_context_decode(slim_buf_view(&b), &back),
                 SLIM_E_MLS_TRAILING_BYTES);
    b.len--;
    b.data[1] = 2;
    CHECK_STATUS(slim_mls_group_context_decode(slim_buf_view(&b), &back), SLIM_E_MLS_BAD_VERSION);
    b.data[1] = 1;
    CHECK_STATUS(slim_mls_group_context_decode(slim_bytes_of(b.data, b.len - 1), &back),
                 SLIM_E_MLS_VECTOR_PAST_END);
    /* An extension list whose last element is cut inside the vector. */
    b.data[n - 9] = 0x07;
    CHECK_STATUS(slim_mls_group_context_decode(slim_buf_view(&b), &back), SLIM_E_MLS_TRUNCATED);
    slim_buf_cleanup(&b);
}

TEST(psk_id_round_trip_and_errors) {
    slim_mls_psk_id ext = {.psktype = SLIM_MLS_PSK_EXTERNAL,
                           .psk_id = slim_bytes_of("id", 2),
                           .psk_nonce = slim_bytes_of("nonce", 5)};
    slim_mls_psk_id res = {.psktype = SLIM_MLS_PSK_RESUMPTION,
                           .usage = SLIM_MLS_PSK_USAGE_BRANCH,
                           .psk_group_id = slim_bytes_of("g", 1),
                           .psk_epoch = 9,
                           .psk_nonce = slim_bytes_of("n", 1)};
    slim_buf b = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &b);
    slim_mls_psk_id_encode(&w, &ext);
    slim_mls_psk_id_encode(&w, &res);
    CHECK_OK(slim_mls_tls_writer_status(&w));
    uint8_t want[64];
    size_t n = unhex("01026964056e6f6e6365"
                     "02030167000000000000000901"
                     "6e",
                     want, sizeof want);
    CHECK_EQ(b.len, n);
    CHECK_MEM(b.data, want, n);

    slim_mls_tls_reader r;
    slim_mls_psk_id a, c;
    slim_mls_tls_reader_init(&r, slim_buf_view(&b));
    slim_mls_psk_id_decode(&r, &a);
    slim_mls_psk_id_decode(&r, &c);
    CHECK_OK(slim_mls_tls_reader_finish(&r));
    CHECK_EQ(a.psktype, SLIM_MLS_PSK_EXTERNAL);
    CHECK_EQ(a.psk_id.len, 2);
    CHECK_EQ(c.usage, SLIM_MLS_PSK_USAGE_BRANCH);
    CHECK_U64(c.psk_epoch, 9);

    /* Unknown type and usage. */
    b.data[0] = 3;
    slim_mls_tls_reader_init(&r, slim_buf_view(&b));
    CHECK_STATUS(slim_mls_psk_id_decode(&r, &a), SLIM_E_MLS_BAD_VALUE);
    b.data[0] = 1;
    b.data[11] = 4;
    slim_mls_tls_reader_init(&r, slim_bytes_of(b.data + 10, b.len - 10));
    CHECK_STATUS(slim_mls_psk_id_decode(&r, &a), SLIM_E_MLS_BAD_VALUE);
    slim_buf_cleanup(&b);

    slim_mls_tls_writer_init(&w, &b);
    res.usage = 0;
    CHECK_STATUS(slim_mls_psk_id_encode(&w, &res), SLIM_E_MLS_BAD_VALUE);
    slim_buf_cleanup(&b);
}

TEST_MAIN(TEST_ENTRY(varint_minimal_forms_round_trip),
          TEST_ENTRY(varint_rejects_non_minimal_reserved_and_short),
          TEST_ENTRY(integers_are_big_endian), TEST_ENTRY(opaque_vectors_and_their_errors),
          TEST_ENTRY(optional_presence_byte), TEST_ENTRY(nested_vector_writes),
          TEST_ENTRY(vector_body_must_be_used_up), TEST_ENTRY(writer_nesting_errors),
          TEST_ENTRY(writer_reports_allocation_failure), TEST_ENTRY(group_context_round_trip),
          TEST_ENTRY(psk_id_round_trip_and_errors))
