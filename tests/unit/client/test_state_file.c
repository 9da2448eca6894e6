/* Unit tests for src/client/state_file: a round trip, the file's shape
 * (length, mode 0600, no plaintext, no temporary file left), every
 * single-byte change and every truncation refused with a named status and
 * nothing handed out, another key, I/O errors that leave no temporary
 * file, and allocation failures. The format itself is checked against
 * python3-cryptography by check_state_file.py. */
#include "test.h"
#include "client/state_file.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define OVERHEAD 37 /* magic 8, version 1, nonce 12, tag 16 */

static char dir[64];

static const uint8_t KEY[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const char MARKER[] = "MARKER-7f3a: the saved sessions of agntcy/ns/alice";

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

static slim_bytes marker(void) {
    return slim_bytes_of(MARKER, strlen(MARKER));
}

/* The whole file at path into a fresh buffer (empty when absent). */
static slim_buf slurp(const char *path) {
    slim_buf b = SLIM_BUF_INIT;
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f == NULL)
        return b;
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        CHECK_OK(slim_buf_append(&b, chunk, n));
    fclose(f);
    return b;
}

static void put(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK_EQ(fwrite(p, 1, n, f), n);
    fclose(f);
}

static bool exists(const char *path) {
    return access(path, F_OK) == 0;
}

static bool contains(slim_bytes hay, slim_bytes needle) {
    for (size_t i = 0; i + needle.len <= hay.len; i++)
        if (memcmp(hay.ptr + i, needle.ptr, needle.len) == 0)
            return true;
    return false;
}

TEST(setup) {
    snprintf(dir, sizeof dir, "/tmp/slim_state_XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

TEST(round_trip) {
    char p[128], tmp[160];
    path_of(p, sizeof p, "app.state");
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    CHECK_OK(slim_state_file_write(p, KEY, marker()));
    CHECK(!exists(tmp));
    slim_buf got = SLIM_BUF_INIT;
    CHECK_OK(slim_state_file_read(p, KEY, &got));
    CHECK_EQ(got.len, strlen(MARKER));
    CHECK_MEM(got.data, MARKER, strlen(MARKER));
    slim_buf_cleanup_secret(&got);

    /* the file: head, then sealed bytes only */
    slim_buf file = slurp(p);
    CHECK_EQ(file.len, OVERHEAD + strlen(MARKER));
    CHECK_MEM(file.data, "SLIMSTAT\x01", 9);
    CHECK(!contains(slim_buf_view(&file), marker()));
    CHECK(!contains(slim_buf_view(&file), slim_bytes_of(KEY, sizeof KEY)));
    struct stat sb;
    CHECK_EQ(stat(p, &sb), 0);
    CHECK_EQ(sb.st_mode & 07777, 0600);

    /* writing again replaces it, with a new nonce */
    CHECK_OK(slim_state_file_write(p, KEY, marker()));
    slim_buf again = slurp(p);
    CHECK_EQ(again.len, file.len);
    CHECK(memcmp(again.data + 9, file.data + 9, 12) != 0);
    slim_buf_cleanup(&again);
    slim_buf_cleanup(&file);

    /* empty and large states */
    CHECK_OK(slim_state_file_write(p, KEY, slim_bytes_of(NULL, 0)));
    CHECK_OK(slim_state_file_read(p, KEY, &got));
    CHECK_EQ(got.len, 0);
    slim_buf_cleanup_secret(&got);
    size_t big = 3u << 20;
    uint8_t *b = malloc(big);
    for (size_t i = 0; i < big; i++)
        b[i] = (uint8_t)(i * 7 + (i >> 11));
    CHECK_OK(slim_state_file_write(p, KEY, slim_bytes_of(b, big)));
    CHECK_OK(slim_state_file_read(p, KEY, &got));
    CHECK_EQ(got.len, big);
    CHECK_MEM(got.data, b, big);
    slim_buf_cleanup_secret(&got);
    free(b);
    CHECK(!exists(tmp));
    unlink(p);
}

/* A stale temporary file (a crash between write and rename) with a wider
 * mode is replaced, and the new file is still 0600. */
TEST(stale_temporary_file) {
    char p[128], tmp[160];
    path_of(p, sizeof p, "stale.state");
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    put(tmp, (const uint8_t *)"junk", 4);
    CHECK_EQ(chmod(tmp, 0644), 0);
    CHECK_OK(slim_state_file_write(p, KEY, marker()));
    CHECK(!exists(tmp));
    struct stat sb;
    CHECK_EQ(stat(p, &sb), 0);
    CHECK_EQ(sb.st_mode & 07777, 0600);
    slim_buf got = SLIM_BUF_INIT;
    CHECK_OK(slim_state_file_read(p, KEY, &got));
    CHECK_EQ(got.len, strlen(MARKER));
    slim_buf_cleanup_secret(&got);
    /* a symlink at the temporary name is not followed */
    char target[128];
    path_of(target, sizeof target, "elsewhere");
    CHECK_EQ(symlink(target, tmp), 0);
    CHECK_STATUS(slim_state_file_write(p, KEY, marker()), SLIM_E_IO);
    CHECK(!exists(target));
    unlink(tmp);
    unlink(p);
}

/* Every byte of a small file changed (two ways), every truncation, and
 * a byte added: each refused, nothing handed out. */
TEST(every_change_is_refused) {
    char p[128], bad[128];
    path_of(p, sizeof p, "small.state");
    path_of(bad, sizeof bad, "bad.state");
    slim_bytes pt = slim_bytes_of("tiny state", 10);
    CHECK_OK(slim_state_file_write(p, KEY, pt));
    slim_buf file = slurp(p);
    CHECK_EQ(file.len, OVERHEAD + pt.len);
    uint8_t *copy = malloc(file.len + 1);
    slim_buf got = SLIM_BUF_INIT;
    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    for (size_t pos = 0; pos < file.len; pos++) {
        for (size_t f = 0; f < sizeof flips; f++) {
            memcpy(copy, file.data, file.len);
            copy[pos] ^= flips[f];
            put(bad, copy, file.len);
            slim_status want = pos < 9 ? SLIM_E_STATE_FORMAT : SLIM_E_STATE_ALTERED;
            slim_status st = slim_state_file_read(bad, KEY, &got);
            if (st != want || got.len != 0)
                TEST_FAIL_AT("byte %zu ^ 0x%02x: %s (want %s), %zu bytes out", pos, flips[f],
                             slim_status_name(st), slim_status_name(want), got.len);
        }
    }
    for (size_t n = 0; n < file.len; n++) {
        put(bad, file.data, n);
        slim_status want = n < OVERHEAD ? SLIM_E_STATE_FORMAT : SLIM_E_STATE_ALTERED;
        slim_status st = slim_state_file_read(bad, KEY, &got);
        if (st != want || got.len != 0)
            TEST_FAIL_AT("truncated to %zu: %s (want %s)", n, slim_status_name(st),
                         slim_status_name(want));
    }
    memcpy(copy, file.data, file.len);
    copy[file.len] = 0;
    put(bad, copy, file.len + 1);
    CHECK_STATUS(slim_state_file_read(bad, KEY, &got), SLIM_E_STATE_ALTERED);
    CHECK_EQ(got.len, 0);
    /* another key */
    uint8_t other[32];
    memcpy(other, KEY, sizeof other);
    other[31] ^= 1;
    CHECK_STATUS(slim_state_file_read(p, other, &got), SLIM_E_STATE_ALTERED);
    CHECK_EQ(got.len, 0);
    /* the untouched file still opens */
    CHECK_OK(slim_state_file_read(p, KEY, &got));
    CHECK_EQ(got.len, pt.len);
    slim_buf_cleanup_secret(&got);
    slim_buf_cleanup(&file);
    free(copy);
    unlink(bad);
    unlink(p);
}

TEST(errors) {
    char p[128], tmp[160];
    slim_buf got = SLIM_BUF_INIT;
    path_of(p, sizeof p, "missing.state");
    CHECK_STATUS(slim_state_file_read(p, KEY, &got), SLIM_E_IO);
    CHECK_STATUS(slim_state_file_read(dir, KEY, &got), SLIM_E_IO); /* a directory */
    CHECK_STATUS(slim_state_file_read(NULL, KEY, &got), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_state_file_read(p, NULL, &got), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_state_file_read(p, KEY, NULL), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_state_file_write(NULL, KEY, marker()), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_state_file_write(p, NULL, marker()), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_state_file_write(p, KEY, slim_bytes_of(NULL, 3)), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_state_file_write(p, KEY, slim_bytes_of(MARKER, SLIM_STATE_FILE_MAX)),
                 SLIM_E_TOO_LARGE);
    CHECK(!exists(p));
    /* an output buffer that is not empty */
    path_of(p, sizeof p, "ok.state");
    CHECK_OK(slim_state_file_write(p, KEY, marker()));
    CHECK_OK(slim_buf_append_u8(&got, 7));
    CHECK_STATUS(slim_state_file_read(p, KEY, &got), SLIM_E_INVALID_ARG);
    CHECK_EQ(got.len, 1);
    slim_buf_cleanup(&got);
    unlink(p);

    /* a directory that does not exist: nothing created */
    path_of(p, sizeof p, "no/such/dir.state");
    CHECK_STATUS(slim_state_file_write(p, KEY, marker()), SLIM_E_IO);
    /* the rename fails (path is a non-empty directory): the temporary
     * file is removed and the directory kept */
    path_of(p, sizeof p, "a_dir");
    CHECK_EQ(mkdir(p, 0700), 0);
    char inside[160];
    snprintf(inside, sizeof inside, "%s/x", p);
    put(inside, (const uint8_t *)"x", 1);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    CHECK_STATUS(slim_state_file_write(p, KEY, marker()), SLIM_E_IO);
    CHECK(!exists(tmp));
    struct stat sb;
    CHECK_EQ(stat(p, &sb), 0);
    CHECK(S_ISDIR(sb.st_mode));
    unlink(inside);
    rmdir(p);

    /* larger than the cap: refused before anything is decrypted */
    path_of(p, sizeof p, "huge.state");
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(ftruncate(fd, (off_t)SLIM_STATE_FILE_MAX + 1), 0);
    close(fd);
    CHECK_STATUS(slim_state_file_read(p, KEY, &got), SLIM_E_TOO_LARGE);
    CHECK_EQ(got.len, 0);
    unlink(p);
}

static void write_and_read(void) {
    char p[128];
    path_of(p, sizeof p, "alloc.state");
    slim_status st = slim_state_file_write(p, KEY, marker());
    if (st != SLIM_OK && st != SLIM_E_NOMEM)
        TEST_FAIL_AT("write: %s", slim_status_name(st));
    if (st != SLIM_OK)
        return;
    slim_buf got = SLIM_BUF_INIT;
    st = slim_state_file_read(p, KEY, &got);
    if (st != SLIM_OK && st != SLIM_E_NOMEM)
        TEST_FAIL_AT("read: %s", slim_status_name(st));
    CHECK(st != SLIM_OK || got.len == strlen(MARKER));
    if (st != SLIM_OK)
        CHECK_EQ(got.len, 0);
    slim_buf_cleanup_secret(&got);
}

TEST(allocation_failure) {
    test_alloc_sweep(write_and_read, 3, 100);
    char p[128], tmp[160];
    path_of(p, sizeof p, "alloc.state");
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    CHECK(!exists(tmp));
    unlink(p);
}

TEST(teardown) {
    CHECK_EQ(rmdir(dir), 0);
}

TEST_MAIN(TEST_ENTRY(setup), TEST_ENTRY(round_trip), TEST_ENTRY(stale_temporary_file),
          TEST_ENTRY(every_change_is_refused), TEST_ENTRY(errors), TEST_ENTRY(allocation_failure),
          TEST_ENTRY(teardown))
