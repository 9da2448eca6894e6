/*
 * State at rest through a real node: a member of an MLS group saves its
 * state, its process is killed (SIGKILL: it says nothing to anyone), and a
 * new process made from the saved file comes back into the group with the
 * same name, reads what the moderator sends from then on and is read. The
 * file is sealed: none of what it holds is in it in the clear, and an
 * altered file or another key is refused with a named error.
 *
 * The member runs in a child process forked before this process makes any
 * thread, so the kill is a real crash.
 */
#include "test.h"
#include "group_util.h"
#include "node_proc.h"
#include "core/time.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHANNEL "org/ns/saved-chat"

static const uint8_t KEY[32] = {0x5a, 0x11, 0x3c, 0x42, 0x07, 0x99, 0xe1, 0x20, 0x31, 0x44, 0x55,
                                0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01,
                                0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b};

static slim_app *member_app(int port, const char *state_file, const uint8_t *key, slim_status *st) {
    slim_identity_config id = {
        .kind = SLIM_IDENTITY_SHARED_SECRET, .id = "org/ns/keeper", .secret = GROUP_SECRET};
    slim_app_options o = {.state_file = state_file, .state_key = key};
    slim_app *app = NULL;
    *st = slim_app_new("org/ns/keeper", &id, &id, &o, &app);
    if (*st != SLIM_OK)
        return NULL;
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", port);
    slim_client_options co = {.endpoint = ep};
    if ((*st = slim_app_connect(app, &co, 10000, NULL)) != SLIM_OK) {
        slim_app_free(app, 0);
        return NULL;
    }
    return app;
}

/* Reads messages of session s until one whose payload is `want`; false
 * after timeout_ms. */
static bool read_until(slim_app *app, slim_session_id s, const char *want, int timeout_ms) {
    uint64_t end = slim_now_ms() + (uint64_t)timeout_ms;
    while (slim_now_ms() < end) {
        slim_message *m = NULL;
        if (slim_session_get_message(app, s, 500, &m) != SLIM_OK || m == NULL)
            continue;
        bool hit =
            m->payload.len == strlen(want) && memcmp(m->payload.ptr, want, m->payload.len) == 0;
        slim_message_free(m);
        if (hit)
            return true;
    }
    return false;
}

/* The child: joins, reads the first messages, saves, says so, waits to be
 * killed. Exit codes say where it failed. */
static void child(int port, const char *path, int wfd) {
    slim_status st;
    slim_app *app = member_app(port, NULL, NULL, &st);
    if (app == NULL)
        _exit(10);
    if (write(wfd, "C", 1) != 1) /* connected: it can be invited */
        _exit(16);
    slim_session_id s = 0;
    if (slim_app_listen(app, 30000, &s) != SLIM_OK)
        _exit(11);
    if (!read_until(app, s, "before-4", 20000))
        _exit(12);
    char name[256];
    if (slim_app_name_text(app, name, sizeof name) != SLIM_OK)
        _exit(13);
    if (slim_app_save_state(app, path, KEY, 10000) != SLIM_OK)
        _exit(14);
    size_t len = strlen(name) + 1;
    if (write(wfd, name, len) != (ssize_t)len)
        _exit(15);
    for (;;)
        pause();
}

/* The file at path (up to 1 MiB) in a static buffer; *n its length. */
static char *slurp(const char *path, size_t *n) {
    static char buf[1 << 20];
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    *n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

static bool file_has(const char *path, const char *needle) {
    size_t n = 0, k = strlen(needle);
    const char *buf = slurp(path, &n);
    for (size_t i = 0; buf != NULL && i + k <= n; i++)
        if (memcmp(buf + i, needle, k) == 0)
            return true;
    return false;
}

static bool copy_flipped(const char *from, const char *to, long at) {
    size_t n = 0;
    char *buf = slurp(from, &n);
    if (buf == NULL)
        return false;
    if (at >= 0 && (size_t)at < n)
        buf[at] ^= 0x20;
    FILE *g = fopen(to, "wb");
    if (g == NULL)
        return false;
    bool ok = fwrite(buf, 1, n, g) == n;
    return fclose(g) == 0 && ok;
}

TEST(member_restarts_from_saved_state) {
    test_node nd;
    CHECK(test_node_start(&nd, ""));
    char path[] = "/tmp/slim-state-XXXXXX";
    int tfd = mkstemp(path);
    CHECK(tfd >= 0);
    close(tfd);
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child(nd.port, path, p[1]);
    }
    close(p[1]);
    CHECK(pid > 0);
    char c = 0;
    CHECK(read(p[0], &c, 1) == 1 && c == 'C');
    /* the moderator and another member */
    slim_app *mod = group_app("org/ns/mod", nd.port, 0);
    slim_app *p1 = group_app("org/ns/p1", nd.port, 0);
    CHECK(mod != NULL && p1 != NULL);
    slim_session_options o = {.type = SLIM_SESSION_MULTICAST,
                              .peer = CHANNEL,
                              .timeout_ms = 1000,
                              .max_retries = 5,
                              .mls = true};
    slim_session_id g = 0, g1 = 0;
    CHECK_OK(slim_session_create(mod, &o, 10000, &g));
    CHECK_OK(slim_app_set_route(mod, "org/ns/p1", 0, 10000));
    CHECK_OK(slim_session_invite(mod, g, "org/ns/p1", 30000));
    CHECK_OK(slim_app_listen(p1, 10000, &g1));
    CHECK_OK(slim_app_set_route(mod, "org/ns/keeper", 0, 10000));
    CHECK_OK(slim_session_invite(mod, g, "org/ns/keeper", 30000));
    char text[32];
    for (int k = 0; k < 5; k++) {
        snprintf(text, sizeof text, "before-%d", k);
        CHECK_OK(slim_session_publish(mod, g, test_text(text), NULL, 5000, NULL));
    }
    /* saved: then killed, without a word */
    char name[256] = "";
    ssize_t got = read(p[0], name, sizeof name - 1);
    CHECK(got > 0);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status)); /* not an early exit: it got to save */
    /* sealed: mode 0600, nothing of it in the clear */
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK(!file_has(path, "org"));
    CHECK(!file_has(path, "keeper"));
    CHECK(!file_has(path, "saved-chat"));
    /* altered, or another key: refused, by name */
    char bad[sizeof path + 8];
    snprintf(bad, sizeof bad, "%s.bad", path);
    CHECK(copy_flipped(path, bad, 40));
    slim_status st;
    slim_app *x = member_app(nd.port, bad, KEY, &st);
    CHECK(x == NULL);
    CHECK_STATUS(st, SLIM_E_STATE_ALTERED);
    uint8_t other[32];
    memcpy(other, KEY, sizeof other);
    other[0] ^= 1;
    x = member_app(nd.port, path, other, &st);
    CHECK(x == NULL);
    CHECK_STATUS(st, SLIM_E_STATE_ALTERED);
    unlink(bad);
    /* the group goes on meanwhile */
    CHECK_OK(slim_session_publish(mod, g, test_text("while-away"), NULL, 5000, NULL));
    /* back from the file: the same name, in the group again */
    slim_app *back = member_app(nd.port, path, KEY, &st);
    CHECK_STATUS(st, SLIM_OK);
    if (back != NULL) {
        char now[256];
        CHECK_OK(slim_app_name_text(back, now, sizeof now));
        CHECK_STR(now, name);
        slim_session_id s = 0;
        CHECK_OK(slim_app_listen(back, 15000, &s));
        for (int k = 0; k < 3; k++) {
            snprintf(text, sizeof text, "after-%d", k);
            CHECK_OK(slim_session_publish(mod, g, test_text(text), NULL, 5000, NULL));
        }
        CHECK(read_until(back, s, "after-2", 20000));
        /* and it is read */
        CHECK_OK(slim_session_publish(back, s, test_text("keeper-is-back"), NULL, 5000, NULL));
        CHECK(read_until(mod, g, "keeper-is-back", 20000));
        CHECK(read_until(p1, g1, "keeper-is-back", 20000));
        slim_app_free(back, 3000);
    }
    slim_app_free(p1, 3000);
    slim_app_free(mod, 3000);
    close(p[0]);
    unlink(path);
    test_node_stop(&nd);
}

TEST_MAIN(TEST_ENTRY(member_restarts_from_saved_state))
