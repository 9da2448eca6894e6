/* Unit tests for src/name. Hash vectors: ../shared/spec/session-layer.md
 * section 1.2 (upstream SLIM's XXH64 with the 0xFF terminator). */
#include "test.h"
#include "slim/name.h"

TEST(component_hash_vectors) {
    static const struct {
        const char *s;
        uint64_t h;
    } v[] = {
        {"agntcy", 0x169ca82eb17d6bc2ull},    {"ns", 0xeef9769a4c6990d1ull},
        {"moderator", 0xfc9bbc406957794bull}, {"client-1", 0x58ec40d7c837e0b9ull},
        {"client-2", 0xb521a3788f1267a8ull},  {"chat", 0x4abb367236cabc2aull},
        {"alice", 0x7b90bc8fa5b6b182ull},     {"bob", 0x49ae1b437ae573c4ull},
        {"org", 0x873e580376ea963bull},       {"default", 0x219303c7c93f9668ull},
        {"", 0x95634172a60b7544ull},
    };
    CHECK_EQ(sizeof v / sizeof v[0], 11);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        CHECK_U64(slim_name_hash_component(v[i].s, strlen(v[i].s)), v[i].h);
}

TEST(parse_three_components) {
    slim_name n;
    slim_name_parts p;
    CHECK_OK(slim_name_parse("agntcy/ns/moderator", 19, &n, &p));
    CHECK_U64(n.component[0], 0x169ca82eb17d6bc2ull);
    CHECK_U64(n.component[1], 0xeef9769a4c6990d1ull);
    CHECK_U64(n.component[2], 0xfc9bbc406957794bull);
    CHECK(slim_id_is_any(n.id));
    CHECK(!p.has_id);
    CHECK_EQ(p.component[2].len, 9);
    CHECK(memcmp(p.component[2].ptr, "moderator", 9) == 0);
}

TEST(parse_with_uuid_and_hex_ids) {
    slim_name n;
    slim_name_parts p;
    const char *t = "agntcy/ns/alice/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    CHECK_OK(slim_name_parse(t, strlen(t), &n, &p));
    CHECK(p.has_id);
    CHECK_U64(n.id.hi, 0x0f1e2d3c4b5a6978ull);
    CHECK_U64(n.id.lo, 0x8796a5b4c3d2e1f0ull);
    CHECK_OK(slim_name_parse("a/b/c/2a", 8, &n, NULL));
    CHECK_U64(n.id.hi, 0);
    CHECK_U64(n.id.lo, 0x2a);
    const char *h32 = "a/b/c/0123456789ABCDEF0011223344556677";
    CHECK_OK(slim_name_parse(h32, strlen(h32), &n, NULL));
    CHECK_U64(n.id.hi, 0x0123456789abcdefull);
    CHECK_U64(n.id.lo, 0x0011223344556677ull);
    CHECK_OK(slim_name_parse("a/b/c/0", 7, &n, NULL));
    CHECK(!slim_id_is_any(n.id));
    const char *any = "a/b/c/ffffffff-ffff-ffff-ffff-ffffffffffff";
    CHECK_OK(slim_name_parse(any, strlen(any), &n, NULL));
    CHECK(slim_id_is_any(n.id));
}

TEST(parse_errors_are_named) {
    slim_name n = {{1, 2, 3}, {4, 5}};
    const slim_name before = n;
    static const struct {
        const char *text;
        slim_status want;
    } bad[] = {
        {"", SLIM_E_NAME_EMPTY_COMPONENT},
        {"a", SLIM_E_NAME_TOO_FEW_COMPONENTS},
        {"a/b", SLIM_E_NAME_TOO_FEW_COMPONENTS},
        {"a//c", SLIM_E_NAME_EMPTY_COMPONENT},
        {"/b/c", SLIM_E_NAME_EMPTY_COMPONENT},
        {"a/b/", SLIM_E_NAME_EMPTY_COMPONENT},
        {"a/b/c/", SLIM_E_NAME_EMPTY_COMPONENT},
        {"a/b/c/d/e", SLIM_E_NAME_TOO_MANY_COMPONENTS},
        {"a/b/c/1/", SLIM_E_NAME_TOO_MANY_COMPONENTS},
        {"a/b/c/xyz", SLIM_E_NAME_BAD_ID},
        {"a/b/c/123456789012345678901234567890123", SLIM_E_NAME_BAD_ID},
        {"a/b/c/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1fg", SLIM_E_NAME_BAD_ID},
        {"a/b/c/0f1e2d3c-4b5a-6978-8796a-5b4c3d2e1f0", SLIM_E_NAME_BAD_ID},
        {"a/b/c/-0f1e2d3c4b5a69788796a5b4c3d2e1f0---", SLIM_E_NAME_BAD_ID},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        slim_status st = slim_name_parse(bad[i].text, strlen(bad[i].text), &n, NULL);
        if (st != bad[i].want)
            TEST_FAIL_AT("\"%s\": got %s, want %s", bad[i].text, slim_status_name(st),
                         slim_status_name(bad[i].want));
        CHECK(slim_name_equal(&n, &before)); /* output untouched on error */
    }
    CHECK_STATUS(slim_name_parse(NULL, 0, &n, NULL), SLIM_E_INVALID_ARG);
}

TEST(component_length_limit) {
    static char text[1100 + 8];
    memset(text, 'x', 1024);
    memcpy(text + 1024, "/b/c", 5);
    slim_name n;
    CHECK_OK(slim_name_parse(text, strlen(text), &n, NULL));
    memset(text, 'x', 1025);
    memcpy(text + 1025, "/b/c", 5);
    CHECK_STATUS(slim_name_parse(text, strlen(text), &n, NULL), SLIM_E_NAME_COMPONENT_TOO_LONG);
    memcpy(text, "a/b/", 4);
    memset(text + 4, 'y', 1025);
    text[1029] = '\0';
    CHECK_STATUS(slim_name_parse(text, strlen(text), &n, NULL), SLIM_E_NAME_COMPONENT_TOO_LONG);
}

TEST(format_of_parse_is_identity) {
    static const char *const canon[] = {
        "agntcy/ns/moderator",
        "agntcy/namespace/group_channel",
        "org/default/x/00000000-0000-0000-0000-000000000000",
        "agntcy/ns/alice/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "a.b/c d/é/ffffffff-ffff-ffff-ffff-fffffffffffe",
    };
    for (size_t i = 0; i < sizeof canon / sizeof canon[0]; i++) {
        slim_name n;
        slim_name_parts p;
        CHECK_OK(slim_name_parse(canon[i], strlen(canon[i]), &n, &p));
        char out[256];
        size_t len = 0;
        CHECK_OK(slim_name_format(p.component, n.id, out, sizeof out, &len));
        CHECK_STR(out, canon[i]);
        CHECK_EQ(len, strlen(canon[i]));
    }
    slim_name n;
    slim_name_parts p;
    CHECK_OK(slim_name_parse("a/b/c/2A", 8, &n, &p));
    char out[64];
    CHECK_OK(slim_name_format(p.component, n.id, out, sizeof out, NULL));
    CHECK_STR(out, "a/b/c/00000000-0000-0000-0000-00000000002a");
    CHECK_STATUS(slim_name_format(p.component, n.id, out, 10, NULL), SLIM_E_BUFFER_SMALL);
}

TEST(format_hashes) {
    slim_name n;
    CHECK_OK(slim_name_parse("agntcy/ns/chat", 14, &n, NULL));
    char out[128];
    CHECK_OK(slim_name_format_hashes(&n, out, sizeof out));
    CHECK_STR(out, "169ca82eb17d6bc2/eef9769a4c6990d1/4abb367236cabc2a/any");
    CHECK_STATUS(slim_name_format_hashes(&n, out, 20), SLIM_E_BUFFER_SMALL);
}

TEST(compare_and_hash_use_numbers) {
    slim_name a, b, c;
    slim_str comp[3] = {{"agntcy", 6}, {"ns", 2}, {"bob", 3}};
    CHECK_OK(slim_name_from_strings(comp, (slim_id){0, 7}, &a));
    CHECK_OK(slim_name_parse("agntcy/ns/bob/7", 15, &b, NULL));
    CHECK(slim_name_equal(&a, &b));
    CHECK_EQ(slim_name_compare(&a, &b), 0);
    CHECK_U64(slim_name_hash(&a), slim_name_hash(&b));
    CHECK_OK(slim_name_parse("agntcy/ns/bob/8", 15, &c, NULL));
    CHECK(!slim_name_equal(&a, &c));
    CHECK(slim_name_same_service(&a, &c));
    CHECK_EQ(slim_name_compare(&a, &c), -1);
    CHECK_EQ(slim_name_compare(&c, &a), 1);
    CHECK(slim_name_hash(&a) != slim_name_hash(&c));
    slim_str empty[3] = {{"a", 1}, {"", 0}, {"c", 1}};
    CHECK_STATUS(slim_name_from_strings(empty, slim_id_any(), &c), SLIM_E_NAME_EMPTY_COMPONENT);
}

TEST(id_text) {
    char t[SLIM_ID_TEXT_LEN + 1];
    slim_id_format((slim_id){0x0123456789abcdefull, 0xfedcba9876543210ull}, t);
    CHECK_STR(t, "01234567-89ab-cdef-fedc-ba9876543210");
    slim_id id;
    CHECK_OK(slim_id_parse(t, strlen(t), &id));
    CHECK_U64(id.hi, 0x0123456789abcdefull);
    CHECK_U64(id.lo, 0xfedcba9876543210ull);
    CHECK_STATUS(slim_id_parse("", 0, &id), SLIM_E_NAME_BAD_ID);
    slim_id_format((slim_id){1, 0xa00000000000000bull}, t); /* leading zeros */
    CHECK_STR(t, "00000000-0000-0001-a000-00000000000b");
}

TEST_MAIN(TEST_ENTRY(component_hash_vectors), TEST_ENTRY(parse_three_components),
          TEST_ENTRY(parse_with_uuid_and_hex_ids), TEST_ENTRY(parse_errors_are_named),
          TEST_ENTRY(component_length_limit), TEST_ENTRY(format_of_parse_is_identity),
          TEST_ENTRY(format_hashes), TEST_ENTRY(compare_and_hash_use_numbers), TEST_ENTRY(id_text))
