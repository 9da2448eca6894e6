/*
 * Apps through one node, on the public client API only (<slim/...>):
 * bench/client/run.py drives it beside nats-server and a raw-TCP relay.
 *
 *   bench_client oneway PORT N SIZE MODE   a sender app -> node -> a receiver app
 *   bench_client rr     PORT N SIZE MODE   request/reply, one request in flight
 *
 * MODE is "reliable" (every message acknowledged and retransmitted:
 * timeout_ms 1000, max_retries 10) or "unreliable" (both 0). Both apps
 * hold shared-secret identities (the same secret; the verifier checks each
 * peer's token on every message) and reach the node over plain gRPC; the
 * node (and each app's own router) tags and checks every message's
 * header MAC, the default.
 *
 * oneway: the receiver (a child process) listens for one UNICAST session
 * and reads messages with slim_session_get_message; each payload starts
 * with its sequence number, so it counts distinct messages, duplicates
 * and what never came (quiet for 3 s). Its rate is distinct messages
 * from the first delivery to the last. The sender (the parent) opens the
 * session to it and publishes N messages of SIZE bytes as fast as the
 * library takes them: with --window W (default 256) up to W
 * slim_session_publish_async calls in flight, their results read from
 * slim_app_next_event; one refused with SLIM_E_QUEUE_FULL (a reliable
 * session's window of 512 unacknowledged messages is full, or the app's
 * connection to the node: the library says nothing when there is room
 * again) is sent again later, see send_async. With --window 1 the
 * blocking slim_session_publish, retried while it says QUEUE_FULL. Both
 * sides report the CPU their threads used per message (the caller's
 * thread, and the rest of the process: the app's loop thread).
 *
 * rr: the responder (the child) answers each request with publish_to and
 * a SIZE-byte reply; the requester times publish (blocking) + the
 * blocking get_message of the reply, for N rounds after 100 to warm up,
 * and reports the publish call's own p50 and its CPU per round trip
 * (caller thread and loop thread).
 *
 * Each prints one line "RESULT key=value ..." for run.py. The library's
 * log goes to stderr (SLIM_LOG).
 */
#include "../bench_args.h"
#include "bench_app.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RX_NAME  "bench/client/rx"
#define TX_NAME  "bench/client/tx"
#define QUIET_MS 3000 /* the receiver stops after this long without a message */
#define WARMUP   100  /* request/reply rounds not timed */

typedef struct cfg {
    int port;
    long n;
    size_t size;
    bool reliable;
    long window;
} cfg;

/* The sender's side: a UNICAST session to the receiver. */
static slim_session_id open_session(slim_app *app, const cfg *c) {
    slim_status st = slim_app_set_route(app, RX_NAME, 0, BENCH_SETUP_MS);
    if (st != SLIM_OK)
        bench_die("route", st);
    slim_session_options o = {.type = SLIM_SESSION_UNICAST,
                              .peer = RX_NAME,
                              .timeout_ms = c->reliable ? 1000 : 0,
                              .max_retries = c->reliable ? 10 : 0};
    slim_session_id s = 0;
    if ((st = slim_session_create(app, &o, BENCH_SETUP_MS, &s)) != SLIM_OK)
        bench_die("session", st);
    return s;
}

static slim_session_id listen_one(slim_app *app) {
    slim_session_id s = 0;
    slim_status st = slim_app_listen(app, BENCH_SETUP_MS, &s);
    if (st != SLIM_OK)
        bench_die("listen", st);
    return s;
}

static void put_seq(uint8_t *p, size_t size, uint64_t seq) {
    memcpy(p, &seq, size < sizeof seq ? size : sizeof seq);
}

static uint64_t get_seq(slim_bytes b) {
    uint64_t seq = UINT64_MAX;
    if (b.len >= sizeof seq)
        memcpy(&seq, b.ptr, sizeof seq);
    return seq;
}

/* ---- one way ---- */

/* The child: counts what arrives, writes "distinct dups other dropped
 * seconds caller_us loop_us" to result_fd. */
static void receiver(const cfg *c, int ready_fd, int result_fd) {
    slim_app *app = bench_app_on(RX_NAME, c->port);
    (void)!write(ready_fd, "r", 1);
    slim_session_id s = listen_one(app);
    bench_cpu c0 = bench_cpu_now();
    uint8_t *seen = calloc((size_t)c->n, 1);
    long got = 0, dups = 0, other = 0;
    uint64_t first = 0, last = 0;
    while (got < c->n) {
        slim_message *m = NULL;
        slim_status st = slim_session_get_message(app, s, QUIET_MS, &m);
        if (st != SLIM_OK)
            break; /* quiet: the rest was lost */
        last = bench_now_ns();
        if (first == 0)
            first = last;
        uint64_t seq = get_seq(m->payload);
        if (seq >= (uint64_t)c->n)
            other++;
        else if (seen[seq])
            dups++;
        else
            seen[seq] = 1, got++;
        slim_message_free(m);
    }
    /* Messages the receiving app dropped itself (its session queue full). */
    long dropped = 0;
    slim_event ev;
    while (slim_app_next_event(app, 0, &ev) == SLIM_OK)
        if (ev.kind == SLIM_EVENT_DROPPED)
            dropped += (long)ev.count;
    double caller_us, loop_us;
    bench_cpu_per(c0, got, &caller_us, &loop_us);
    char line[160];
    int len =
        snprintf(line, sizeof line, "%ld %ld %ld %ld %.6f %.2f %.2f\n", got, dups, other, dropped,
                 last > first ? (double)(last - first) / 1e9 : 1e-9, caller_us, loop_us);
    (void)!write(result_fd, line, (size_t)len);
    /* Until the sender closes the session (its close waits for the
     * acknowledgements of what is still in flight). */
    for (slim_message *m = NULL; slim_session_get_message(app, s, BENCH_CLOSE_MS, &m) == SLIM_OK;)
        slim_message_free(m);
    free(seen);
    slim_app_free(app, BENCH_CLOSE_MS);
}

typedef struct sender_stats {
    long queue_full; /* publishes refused with SLIM_E_QUEUE_FULL, sent again */
    long dropped;    /* DROPPED events (the sender's own queues) */
    long undelivered;
} sender_stats;

/* Blocking publishes, each retried while the library says QUEUE_FULL. */
static void send_blocking(slim_app *app, slim_session_id s, const cfg *c, uint8_t *payload,
                          sender_stats *ss) {
    for (long i = 0; i < c->n; i++) {
        put_seq(payload, c->size, (uint64_t)i);
        slim_status st;
        long wait_us = 20;
        while ((st = slim_session_publish(app, s, (slim_bytes){payload, c->size}, NULL,
                                          BENCH_CLOSE_MS, NULL)) == SLIM_E_QUEUE_FULL) {
            ss->queue_full++;
            bench_backoff_wait(&wait_us);
        }
        if (st != SLIM_OK)
            bench_die("publish", st);
    }
}

static void fill_seq(bench_sender *b, uint64_t seq) {
    put_seq(b->payload, b->size, seq);
}

/* Up to c->window publishes in flight (bench_send). */
static void send_async(slim_app *app, slim_session_id s, const cfg *c, uint8_t *payload,
                       sender_stats *ss) {
    bench_sender b = {.app = app,
                      .s = s,
                      .n = c->n,
                      .window = c->window,
                      .payload = payload,
                      .size = c->size,
                      .fill = fill_seq};
    bench_send(&b);
    *ss = (sender_stats){b.queue_full, b.dropped, b.undelivered};
}

static int oneway(const cfg *c) {
    int ready[2], result[2];
    if (pipe(ready) || pipe(result))
        bench_die("pipe", SLIM_E_IO);
    pid_t pid = fork(); /* before any app: an app starts a thread */
    if (pid == 0) {
        receiver(c, ready[1], result[1]);
        _exit(0);
    }
    char r;
    if (read(ready[0], &r, 1) != 1)
        bench_die("the receiver did not start", SLIM_E_IO);
    slim_app *app = bench_app_on(TX_NAME, c->port);
    slim_session_id s = open_session(app, c);
    uint8_t *payload = calloc(1, c->size);
    memset(payload, 'x', c->size);
    sender_stats ss = {0};
    bench_cpu c0 = bench_cpu_now();
    uint64_t t0 = bench_now_ns();
    if (c->window == 1)
        send_blocking(app, s, c, payload, &ss);
    else
        send_async(app, s, c, payload, &ss);
    double pub_secs = (double)(bench_now_ns() - t0) / 1e9;
    char line[160] = {0};
    if (read(result[0], line, sizeof line - 1) <= 0)
        bench_die("no result from the receiver", SLIM_E_IO);
    long got = 0, dups = 0, other = 0, rx_dropped = 0;
    double secs = 1, tx_caller, tx_loop, rx_caller = 0, rx_loop = 0;
    bench_cpu_per(c0, c->n, &tx_caller, &tx_loop);
    sscanf(line, "%ld %ld %ld %ld %lf %lf %lf", &got, &dups, &other, &rx_dropped, &secs, &rx_caller,
           &rx_loop);
    /* For a reliable session the close waits for every acknowledgement. */
    uint64_t tc = bench_now_ns();
    slim_status st = slim_session_delete(app, s, BENCH_CLOSE_MS);
    double close_secs = (double)(bench_now_ns() - tc) / 1e9;
    printf("RESULT system=apps mode=oneway reliable=%d msgs=%ld size=%zu window=%ld "
           "pub_rate=%.0f deliveries=%ld delivery_rate=%.0f lost=%ld dups=%ld other=%ld "
           "queue_full=%ld dropped=%ld rx_dropped=%ld undelivered=%ld close_s=%.3f close=%s "
           "tx_caller_us=%.2f tx_loop_us=%.2f rx_caller_us=%.2f rx_loop_us=%.2f\n",
           c->reliable, c->n, c->size, c->window, (double)c->n / pub_secs, got, (double)got / secs,
           c->n - got, dups, other, ss.queue_full, ss.dropped, rx_dropped, ss.undelivered,
           close_secs, slim_status_name(st), tx_caller, tx_loop, rx_caller, rx_loop);
    fflush(stdout);
    free(payload);
    slim_app_free(app, BENCH_CLOSE_MS);
    waitpid(pid, NULL, 0);
    return 0;
}

/* ---- request/reply ---- */

static void responder(const cfg *c, int ready_fd) {
    slim_app *app = bench_app_on(RX_NAME, c->port);
    (void)!write(ready_fd, "r", 1);
    slim_session_id s = listen_one(app);
    uint8_t *reply = calloc(1, c->size);
    memset(reply, 'y', c->size);
    slim_message *m = NULL;
    while (slim_session_get_message(app, s, BENCH_CLOSE_MS, &m) == SLIM_OK) {
        slim_status st = slim_session_publish_to(app, s, m, (slim_bytes){reply, c->size}, NULL,
                                                 BENCH_CLOSE_MS, NULL);
        slim_message_free(m);
        if (st != SLIM_OK)
            bench_die("reply", st);
    }
    free(reply);
    slim_app_free(app, BENCH_CLOSE_MS);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int rr(const cfg *c) {
    int ready[2];
    if (pipe(ready))
        bench_die("pipe", SLIM_E_IO);
    pid_t pid = fork();
    if (pid == 0) {
        responder(c, ready[1]);
        _exit(0);
    }
    char r;
    if (read(ready[0], &r, 1) != 1)
        bench_die("the responder did not start", SLIM_E_IO);
    slim_app *app = bench_app_on(TX_NAME, c->port);
    slim_session_id s = open_session(app, c);
    uint8_t *req = calloc(1, c->size);
    memset(req, 'x', c->size);
    long rounds = c->n + WARMUP;
    double *lat = calloc((size_t)rounds, sizeof *lat);
    double *pub = calloc((size_t)rounds, sizeof *pub); /* of which in publish */
    bench_cpu c0 = bench_cpu_now();
    for (long i = 0; i < rounds; i++) {
        if (i == WARMUP)
            c0 = bench_cpu_now();
        put_seq(req, c->size, (uint64_t)i);
        uint64_t t = bench_now_ns();
        slim_status st =
            slim_session_publish(app, s, (slim_bytes){req, c->size}, NULL, BENCH_CLOSE_MS, NULL);
        if (st != SLIM_OK)
            bench_die("request", st);
        pub[i] = (double)(bench_now_ns() - t) / 1000.0;
        slim_message *m = NULL;
        if ((st = slim_session_get_message(app, s, BENCH_CLOSE_MS, &m)) != SLIM_OK)
            bench_die("reply", st);
        lat[i] = (double)(bench_now_ns() - t) / 1000.0;
        slim_message_free(m);
    }
    double caller_us, loop_us;
    bench_cpu_per(c0, c->n, &caller_us, &loop_us);
    double *l = lat + WARMUP, *p = pub + WARMUP;
    qsort(l, (size_t)c->n, sizeof *l, cmp_double);
    qsort(p, (size_t)c->n, sizeof *p, cmp_double);
    printf("RESULT system=apps mode=rr reliable=%d rounds=%ld size=%zu p50_us=%.1f "
           "p99_us=%.1f publish_p50_us=%.1f caller_cpu_us=%.2f loop_cpu_us=%.2f\n",
           c->reliable, c->n, c->size, l[c->n / 2], l[(long)((double)c->n * 0.99)], p[c->n / 2],
           caller_us, loop_us);
    fflush(stdout);
    (void)slim_session_delete(app, s, BENCH_CLOSE_MS);
    free(pub);
    free(lat);
    free(req);
    slim_app_free(app, BENCH_CLOSE_MS);
    waitpid(pid, NULL, 0);
    return 0;
}

static const char usage[] =
    "usage: bench_client oneway PORT N SIZE MODE [--window W]\n"
    "       bench_client rr     PORT N SIZE MODE\n"
    "\n"
    "Two apps through the slim node listening on 127.0.0.1:PORT, shared-secret\n"
    "identities, header MACs on. MODE: reliable or unreliable.\n"
    "  oneway  a sender publishes N messages of SIZE bytes in a UNICAST session,\n"
    "          W publishes in flight (default 256; 1: the blocking publish)\n"
    "  rr      request/reply, one in flight, N rounds after 100 of warm-up\n"
    "Prints one RESULT line.\n";

int main(int argc, char **argv) {
    if (bench_help_asked(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    bool is_oneway = argc > 1 && strcmp(argv[1], "oneway") == 0;
    bool is_rr = argc > 1 && strcmp(argv[1], "rr") == 0;
    if (!(is_oneway && (argc == 6 || argc == 8)) && !(is_rr && argc == 6)) {
        fputs(usage, stderr);
        return 2;
    }
    cfg c = {.window = 256};
    long port, size;
    if (!bench_count(argv[2], "PORT", 1, 65535, &port) ||
        !bench_count(argv[3], "N", 1, 100000000, &c.n) ||
        !bench_count(argv[4], "SIZE", 8, 1 << 20, &size))
        return 2;
    c.port = (int)port;
    c.size = (size_t)size;
    if (strcmp(argv[5], "reliable") != 0 && strcmp(argv[5], "unreliable") != 0) {
        fprintf(stderr, "MODE: reliable or unreliable, not \"%s\"\n", argv[5]);
        return 2;
    }
    c.reliable = strcmp(argv[5], "reliable") == 0;
    if (argc == 8 && (strcmp(argv[6], "--window") != 0 ||
                      !bench_count(argv[7], "--window", 1, BENCH_WINDOW, &c.window))) {
        fputs(usage, stderr);
        return 2;
    }
    return is_oneway ? oneway(&c) : rr(&c);
}
