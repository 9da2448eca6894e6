/* Shared fixture of the in-process transport tests (see fixture.h). */
#include "fixture.h"
#include "core/log.h"

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

fx FX;

static void on_watchdog(uv_timer_t *t) {
    (void)t;
    FX.timed_out = true;
}

void fx_up(void) {
    test_alloc_install();
    memset(&FX, 0, sizeof FX);
    uv_loop_init(&FX.loop);
    uv_timer_init(&FX.loop, &FX.watchdog);
    uv_unref((uv_handle_t *)&FX.watchdog);
}

void fx_down(void) {
    uv_close((uv_handle_t *)&FX.watchdog, NULL);
    uv_run(&FX.loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&FX.loop), 0);
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_uninstall();
}

/* The watchdog keeps the loop alive while armed, so that a wait with
 * nothing else to run still ends. */
void fx_arm_(uint64_t ms) {
    FX.timed_out = false;
    uv_update_time(&FX.loop);
    uv_timer_start(&FX.watchdog, on_watchdog, ms, 0);
    uv_ref((uv_handle_t *)&FX.watchdog);
}

void fx_disarm_(const char *what, int line) {
    uv_timer_stop(&FX.watchdog);
    uv_unref((uv_handle_t *)&FX.watchdog);
    if (FX.timed_out) {
        TEST_FAIL_AT("timed out waiting for %s (line %d)", what, line);
        FX.timed_out = false;
    }
}

void fx_run_for(uint64_t ms) {
    fx_arm_(ms);
    while (!FX.timed_out)
        uv_run(&FX.loop, UV_RUN_ONCE);
    uv_timer_stop(&FX.watchdog);
    uv_unref((uv_handle_t *)&FX.watchdog);
    FX.timed_out = false;
}

void fx_on_state(slim_grpc_client *c, slim_grpc_conn_state st, slim_status why, void *ud) {
    (void)c;
    fx_states *s = ud;
    if (s->n < 64) {
        s->st[s->n] = st;
        s->why[s->n] = why;
        s->at[s->n] = uv_now(&FX.loop);
        s->n++;
    }
}

int fx_find_state(const fx_states *s, int from, slim_grpc_conn_state st) {
    for (int i = from < 0 ? 0 : from; i < s->n; i++)
        if (s->st[i] == st)
            return i;
    return -1;
}

/* ---- Logs ---- */

#define MAX_LINES 4096 /* the most recent lines are kept */
static char *lines[MAX_LINES];
static int nlines, first_line;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static slim_log_level saved_level;

static void sink(slim_log_level level, const char *line, void *ud) {
    (void)ud;
    if (level <= SLIM_LOG_WARN)
        fprintf(stderr, "%s\n", line);
    pthread_mutex_lock(&log_mu);
    if (nlines == MAX_LINES) {
        free(lines[first_line]);
        lines[first_line] = strdup(line);
        first_line = (first_line + 1) % MAX_LINES;
    } else {
        lines[nlines++] = strdup(line);
    }
    pthread_mutex_unlock(&log_mu);
}

void fx_logs_capture(void) {
    saved_level = slim_log_get_level();
    slim_log_set_level(SLIM_LOG_DEBUG);
    slim_log_set_unlimited(1); /* every line, to find the one a test looks for */
    slim_log_set_sink(sink, NULL);
}

bool fx_logs_have(const char *needle) {
    bool found = false;
    pthread_mutex_lock(&log_mu);
    for (int i = 0; i < nlines && !found; i++)
        found = strstr(lines[i], needle) != NULL;
    pthread_mutex_unlock(&log_mu);
    return found;
}

void fx_logs_clear(void) {
    pthread_mutex_lock(&log_mu);
    for (int i = 0; i < nlines; i++)
        free(lines[i]);
    nlines = first_line = 0;
    pthread_mutex_unlock(&log_mu);
}

void fx_logs_release(void) {
    slim_log_set_sink(NULL, NULL);
    slim_log_set_unlimited(0);
    slim_log_set_level(saved_level);
    fx_logs_clear();
}

/* ---- Certificates ---- */

static char cert_dir[256];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_certs(void) {
    if (cert_dir[0] != '\0')
        nftw(cert_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

const char *fx_cert(const char *name) {
    static char paths[8][320];
    static int next;
    if (cert_dir[0] == '\0') {
        snprintf(cert_dir, sizeof cert_dir, "/tmp/slim-certs-XXXXXX");
        if (mkdtemp(cert_dir) == NULL) {
            TEST_FAIL_AT("mkdtemp failed");
            return "";
        }
        atexit(remove_certs);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "sh '%s' '%s'", SLIM_TEST_CERTS_SCRIPT, cert_dir);
        if (system(cmd) != 0)
            TEST_FAIL_AT("%s failed", cmd);
    }
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", cert_dir, name);
    return p;
}

void fx_client_config(slim_client_config *cc, const char *endpoint) {
    slim_client_config_defaults(cc);
    cc->endpoint = (char *)endpoint;
    cc->tls.insecure = strncmp(endpoint, "https://", 8) != 0;
    cc->tls.include_system_ca = false;
    cc->backoff.type = SLIM_BACKOFF_FIXED_INTERVAL;
    cc->backoff.interval_ms = 10;
    cc->backoff.max_attempts = 0;
}
