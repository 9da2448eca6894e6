/* Unit tests for src/config: loading, substitution, typed reads, error
 * messages with file/line/key, unknown-key reports, limits. */
#include "test.h"
#include "config/cfg.h"

#include <stdlib.h>
#include <unistd.h>

static slim_cfg_doc *load(const char *text, slim_cfg_error *err) {
    slim_cfg_doc *d = NULL;
    slim_status st = slim_cfg_load_string(text, strlen(text), "test.yaml", &d, err);
    return st == SLIM_OK ? d : NULL;
}

TEST(typed_reads) {
    slim_cfg_error err;
    slim_cfg_doc *d = load("runtime:\n"
                           "  n_cores: 4\n"
                           "  drain_timeout: 1m 30s\n"
                           "  flag: true\n"
                           "  name: \"slim/0\"\n",
                           &err);
    CHECK(d != NULL);
    if (d == NULL)
        return;
    slim_cfg_node *rt = slim_cfg_get(d->root, "runtime");
    CHECK_OK(slim_cfg_expect(d, rt, "runtime", SLIM_CFG_MAP, &err));
    uint64_t v = 0;
    CHECK_OK(slim_cfg_uint(d, slim_cfg_get(rt, "n_cores"), "runtime.n_cores", 0, 1024, &v, &err));
    CHECK_EQ(v, 4);
    CHECK_OK(slim_cfg_duration_ms(d, slim_cfg_get(rt, "drain_timeout"), "x", &v, &err));
    CHECK_EQ(v, 90000);
    bool b = false;
    CHECK_OK(slim_cfg_bool(d, slim_cfg_get(rt, "flag"), "x", &b, &err));
    CHECK(b);
    const char *s = NULL;
    CHECK_OK(slim_cfg_string(d, slim_cfg_get(rt, "name"), "x", &s, &err));
    CHECK_STR(s, "slim/0");
    CHECK(slim_cfg_get(rt, "missing") == NULL);
    slim_cfg_free(d);
}

TEST(errors_name_file_line_and_key) {
    slim_cfg_error err;
    slim_cfg_doc *d = load("a:\n  b: 12x\n  c: maybe\n  d: [1, 2]\n  e: 5\n", &err);
    CHECK(d != NULL);
    if (d == NULL)
        return;
    slim_cfg_node *a = slim_cfg_get(d->root, "a");
    uint64_t v;
    bool b;
    CHECK_STATUS(slim_cfg_uint(d, slim_cfg_get(a, "b"), "a.b", 0, 100, &v, &err),
                 SLIM_E_INVALID_ARG);
    CHECK_STR(err.msg, "test.yaml:2: a.b: expected a whole number, found \"12x\"");
    CHECK_STATUS(slim_cfg_bool(d, slim_cfg_get(a, "c"), "a.c", &b, &err), SLIM_E_INVALID_ARG);
    CHECK_STR(err.msg, "test.yaml:3: a.c: expected true or false, found \"maybe\"");
    CHECK_STATUS(slim_cfg_expect(d, slim_cfg_get(a, "d"), "a.d", SLIM_CFG_MAP, &err),
                 SLIM_E_INVALID_ARG);
    CHECK_STR(err.msg, "test.yaml:4: a.d: expected a mapping, found a list");
    CHECK_STATUS(slim_cfg_uint(d, slim_cfg_get(a, "e"), "a.e", 10, 20, &v, &err),
                 SLIM_E_INVALID_ARG);
    CHECK_STR(err.msg, "test.yaml:5: a.e: 5 is outside 10..20");
    slim_cfg_free(d);

    CHECK(load("a: [1, 2\n", &err) == NULL);
    CHECK(strstr(err.msg, "test.yaml:") == err.msg);
    CHECK(strstr(err.msg, "YAML syntax error") != NULL);
    CHECK(load("- 1\n- 2\n", &err) == NULL);
    CHECK_STR(err.msg, "test.yaml:1: the top level must be a mapping of keys");
    CHECK(load("a: 1\na: 2\n", &err) == NULL);
    CHECK_STR(err.msg, "test.yaml:2: a: duplicate key");
}

TEST(durations) {
    static const struct {
        const char *text;
        uint64_t ms;
    } ok[] = {{"10s", 10000},   {"250ms", 250},          {"1h30m", 5400000}, {"2m 5s", 125000},
              {"1d", 86400000}, {"1500us", 2},           {"1ns", 1},         {"0s", 0},
              {"0y", 0},        {"1w 2days", 777600000}, {"3 min", 180000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 12345;
        CHECK_OK(slim_cfg_parse_duration_ms(ok[i].text, &v));
        CHECK_EQ(v, ok[i].ms);
    }
    static const char *const bad[] = {"",     "10",  "s",    "10 s x",
                                      "10sx", "-1s", "1.5s", "99999999999999999999s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v;
        if (slim_cfg_parse_duration_ms(bad[i], &v) == SLIM_OK)
            TEST_FAIL_AT("\"%s\" accepted", bad[i]);
    }
}

TEST(substitution) {
    slim_cfg_error err;
    setenv("SLIM_TEST_ENDPOINT", "127.0.0.1:9999", 1);
    char path[] = "/tmp/slim-cfg-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("secret-from-file", f);
    fclose(f);
    char text[256];
    snprintf(text, sizeof text,
             "a: ${env:SLIM_TEST_ENDPOINT}\nb: ${file:%s}\nc: x${env:SLIM_TEST_ENDPOINT}\n", path);
    slim_cfg_doc *d = load(text, &err);
    CHECK(d != NULL);
    if (d != NULL) {
        const char *s;
        CHECK_OK(slim_cfg_string(d, slim_cfg_get(d->root, "a"), "a", &s, &err));
        CHECK_STR(s, "127.0.0.1:9999");
        CHECK_OK(slim_cfg_string(d, slim_cfg_get(d->root, "b"), "b", &s, &err));
        CHECK_STR(s, "secret-from-file");
        CHECK_OK(slim_cfg_string(d, slim_cfg_get(d->root, "c"), "c", &s, &err));
        CHECK_STR(s, "x${env:SLIM_TEST_ENDPOINT}"); /* no partial interpolation */
        slim_cfg_free(d);
    }
    unlink(path);
    unsetenv("SLIM_TEST_NOT_SET");
    CHECK(load("\n\nx: ${env:SLIM_TEST_NOT_SET}\n", &err) == NULL);
    CHECK_STR(err.msg, "test.yaml:3: ${env:SLIM_TEST_NOT_SET}: environment variable "
                       "SLIM_TEST_NOT_SET is not set");
    CHECK(load("x: ${file:/nonexistent/slim}\n", &err) == NULL);
    CHECK(strstr(err.msg, "test.yaml:1: ${file:/nonexistent/slim}: ") == err.msg);
}

static char unknown[8][128];
static unsigned unknown_line[8];
static int nunknown;

static void on_unknown(const char *path, unsigned line, void *ud) {
    (void)ud;
    if (nunknown < 8) {
        snprintf(unknown[nunknown], sizeof unknown[0], "%s", path);
        unknown_line[nunknown] = line;
    }
    nunknown++;
}

TEST(unknown_keys_reported) {
    slim_cfg_error err;
    slim_cfg_doc *d = load("services:\n"
                           "  slim/0:\n"
                           "    dataplane:\n"
                           "      servers:\n"
                           "        - endpoint: 1\n"
                           "          tsl: {insecure: true}\n"
                           "    colour: blue\n"
                           "free: {anything: [1, 2]}\n"
                           "untouched: 3\n",
                           &err);
    CHECK(d != NULL);
    if (d == NULL)
        return;
    slim_cfg_node *svc = slim_cfg_get(slim_cfg_get(d->root, "services"), "slim/0");
    slim_cfg_node *servers = slim_cfg_get(slim_cfg_get(svc, "dataplane"), "servers");
    CHECK_EQ(servers->kind, SLIM_CFG_SEQ);
    servers->used = true;
    (void)slim_cfg_get(servers->items[0], "endpoint");
    slim_cfg_mark_used(slim_cfg_get(d->root, "free"));
    nunknown = 0;
    slim_cfg_unknown_keys(d->root, "", on_unknown, NULL);
    CHECK_EQ(nunknown, 3);
    CHECK_STR(unknown[0], "services.slim/0.dataplane.servers[0].tsl");
    CHECK_EQ(unknown_line[0], 6);
    CHECK_STR(unknown[1], "services.slim/0.colour");
    CHECK_EQ(unknown_line[1], 7);
    CHECK_STR(unknown[2], "untouched");
    slim_cfg_free(d);
}

TEST(alias_bomb_and_nulls) {
    slim_cfg_error err;
    /* Each level doubles: 2^20 nodes after expansion. */
    char text[4096];
    size_t off = (size_t)snprintf(text, sizeof text, "a0: &a0 [x, x]\n");
    for (int i = 1; i <= 20; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, "a%d: &a%d [*a%d, *a%d]\n", i, i,
                                i - 1, i - 1);
    CHECK(load(text, &err) == NULL);
    CHECK(strstr(err.msg, "more than 100000 nodes") != NULL);

    slim_cfg_doc *d = load("a:\nb: ~\nc: null\nd: \"null\"\n", &err);
    CHECK(d != NULL);
    if (d != NULL) {
        CHECK_EQ(slim_cfg_get(d->root, "a")->kind, SLIM_CFG_NULL);
        CHECK_EQ(slim_cfg_get(d->root, "b")->kind, SLIM_CFG_NULL);
        CHECK_EQ(slim_cfg_get(d->root, "c")->kind, SLIM_CFG_NULL);
        CHECK_EQ(slim_cfg_get(d->root, "d")->kind, SLIM_CFG_SCALAR);
        CHECK_OK(slim_cfg_expect(d, slim_cfg_get(d->root, "a"), "a", SLIM_CFG_MAP, &err));
        slim_cfg_free(d);
    }
    d = load("", &err);
    CHECK(d != NULL && d->root->kind == SLIM_CFG_MAP && d->root->n == 0);
    slim_cfg_free(d);
    slim_cfg_doc *f = NULL;
    CHECK_STATUS(slim_cfg_load_file("/nonexistent/slim.yaml", &f, &err), SLIM_E_IO);
    CHECK(strstr(err.msg, "/nonexistent/slim.yaml: cannot read: ") == err.msg);
}

TEST_MAIN(TEST_ENTRY(typed_reads), TEST_ENTRY(errors_name_file_line_and_key), TEST_ENTRY(durations),
          TEST_ENTRY(substitution), TEST_ENTRY(unknown_keys_reported),
          TEST_ENTRY(alias_bomb_and_nulls))
