/*
 * Test helpers: a real `slim` node process (the binary in $SLIM_BIN) on
 * loopback with a generated config, its data-plane and metrics ports, and
 * its counters read from /metrics; a fault-injecting proxy; waiting for an
 * app's events.
 */
#ifndef SLIM_TEST_NODE_PROC_H
#define SLIM_TEST_NODE_PROC_H

#include "slim/session.h"

#include <stdbool.h>
#include <sys/types.h>

typedef struct test_node {
    pid_t pid;
    int port;         /* data plane */
    int metrics_port; /* /metrics */
    int out_fd;       /* its stdout (drained by nothing: it prints little) */
    char dir[64];
} test_node;

/* Starts a node; `dataplane_extra` is YAML appended under `dataplane:`
 * (indented 6 spaces), may be "". False when it did not start. */
bool test_node_start(test_node *n, const char *dataplane_extra);

/* The same on a given data-plane port (0: any), to restart a node where
 * its clients reconnect. */
bool test_node_start_at(test_node *n, int port, const char *dataplane_extra);

/* Stops it (SIGTERM, then waits) and removes its files; _kill with
 * SIGKILL (a crash: nothing is said to its peers). */
void test_node_stop(test_node *n);
void test_node_kill(test_node *n);
void test_node_signal_stop(test_node *n, int sig);

/* The value of the first /metrics series whose line starts with `series`
 * (e.g. "slim_subscriptions " or "slim_connections{kind=\"edge\"}"), -1
 * when it cannot be read. */
double test_node_metric(const test_node *n, const char *series);

/* Polls test_node_metric until it equals want (true) or timeout_ms passes. */
bool test_node_wait_metric(const test_node *n, const char *series, double want, int timeout_ms);

/* A fault-injecting proxy (tests/integration/faultproxy.py, path in
 * $SLIM_FAULTPROXY) in front of a node's data plane: `args` are its extra
 * command-line options ("--seed 7 --drop 0.1 ..."). */
typedef struct test_proxy {
    pid_t pid;
    int port;
    int out_fd;
} test_proxy;

bool test_proxy_start(test_proxy *p, int upstream_port, const char *args);
void test_proxy_stop(test_proxy *p);

/* n lossy proxies px[0..n-1] in front of the node's data plane: each
 * drops 5 %, duplicates 3 % and reorders within 4 (proxy i with seed
 * seed + i); ports[i] gets proxy i's port. False when any did not start
 * (test_proxies_stop stops the others). */
bool test_lossy_proxies_start(test_proxy *px, int n, int upstream_port, int seed, int *ports);
void test_proxies_stop(test_proxy *px, int n);

/* True (after saying so on stderr) when the tests run under a sanitizer
 * (SLIM_TEST_SANITIZED, set by `make asan` and `make tsan`): the runs
 * through the Python proxies are left to the plain build there, where
 * they take a minute, not several. */
bool test_skip_under_sanitizers(const char *what);

/* The resident memory of process pid in KiB (/proc), -1 when unknown. */
long test_rss_kib(pid_t pid);

/* 1 when built with a sanitizer: their allocators keep freed memory in
 * quarantine, so resident memory says little. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

/* ---- apps ---- */

/* A new app (shared-secret identity `id`, `secret`; o may be NULL)
 * connected to the node on 127.0.0.1:port; NULL when either failed. */
slim_app *test_app_at(const char *name, const char *id, const char *secret, int port,
                      const slim_app_options *o);

/* The same with its own provider p and verifier v; NULL when either
 * failed, which is a test failure (test.h) that names the cause. */
slim_app *test_app_with(const char *name, const slim_identity_config *p,
                        const slim_identity_config *v, const slim_app_options *o, int port);

/* slim_session_publish (waiting up to 10 s), tried again every retry_ms
 * while the session's window is full (E_QUEUE_FULL); the last status. */
slim_status test_publish_retrying(slim_app *app, slim_session_id s, slim_bytes b, int retry_ms);

/* The same; *id (may be NULL) gets the message id. */
slim_status test_publish_retrying_id(slim_app *app, slim_session_id s, slim_bytes b, int retry_ms,
                                     uint32_t *id);

/* The bytes of a C string (without its NUL). */
slim_bytes test_text(const char *s);

/* Waits on the app's descriptor for the OP_DONE of op (other events are
 * skipped), up to timeout_ms. */
bool test_wait_op(slim_app *app, slim_op op, slim_event *ev, int timeout_ms);

/* Waits for an event of `kind` for session s (others are skipped). */
bool test_wait_event(slim_app *app, slim_event_kind kind, slim_session_id s, slim_event *ev,
                     int timeout_ms);

#endif
