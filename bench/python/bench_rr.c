/*
 * Request/reply between two apps through one node, each side its own
 * process, so that either side can be C (this program) or Python
 * (bench/python/bench_py.py): bench/python/run.py pairs them.
 *
 *   bench_rr responder PORT SIZE NAME
 *   bench_rr requester PORT N SIZE MODE PEER [WARMUP]
 *
 * Both are apps of the public client API only (slim_shared) with a
 * shared-secret identity (bench_app.h's secret, which bench_py.py uses
 * too), connected over plain gRPC to the node on 127.0.0.1:PORT (header
 * MACs on, the node's default).
 *
 * responder: the app NAME ("org/ns/service") prints "READY" once
 * connected, waits for one session (slim_app_listen) and answers every
 * message with slim_session_publish_to and a SIZE-byte reply, until the
 * session ends (the requester deletes it) or nothing comes for 10 s.
 *
 * requester: opens a UNICAST session to PEER (MODE "unreliable": timeout
 * and retries 0; "reliable": 1000 ms, 10 retries, as bench_client) and
 * times the blocking slim_session_publish of a SIZE-byte request plus the
 * blocking slim_session_get_message of its reply, one in flight, for N
 * rounds after WARMUP (default 100) to warm up: the same calls as
 * bench_client rr. Prints
 * one line "RESULT key=value ...": p50/p90/p99 of the round trip, the
 * publish call's own p50, and the CPU per round trip of the calling
 * thread and of the rest of the process (the app's loop thread).
 */
#include "../bench_args.h"
#include "../client/bench_app.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IDLE_MS 10000

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int responder(int port, size_t size, const char *name) {
    slim_app *app = bench_app_on(name, port);
    printf("READY\n");
    fflush(stdout);
    slim_session_id s = 0;
    slim_status st = slim_app_listen(app, BENCH_SETUP_MS, &s);
    if (st != SLIM_OK)
        bench_die("listen", st);
    uint8_t *reply = malloc(size);
    memset(reply, 'y', size);
    slim_message *m = NULL;
    while (slim_session_get_message(app, s, IDLE_MS, &m) == SLIM_OK) {
        st = slim_session_publish_to(app, s, m, (slim_bytes){reply, size}, NULL, BENCH_CLOSE_MS,
                                     NULL);
        slim_message_free(m);
        if (st != SLIM_OK)
            bench_die("reply", st);
    }
    free(reply);
    slim_app_free(app, BENCH_CLOSE_MS);
    return 0;
}

static int requester(int port, long n, long warmup, size_t size, bool reliable, const char *peer) {
    char name[64];
    snprintf(name, sizeof name, "bench/pyrr/ctx-%ld", (long)getpid());
    slim_app *app = bench_app_on(name, port);
    slim_status st = slim_app_set_route(app, peer, 0, BENCH_SETUP_MS);
    if (st != SLIM_OK)
        bench_die("route", st);
    slim_session_options o = {.type = SLIM_SESSION_UNICAST,
                              .peer = peer,
                              .timeout_ms = reliable ? 1000 : 0,
                              .max_retries = reliable ? 10 : 0};
    slim_session_id s = 0;
    if ((st = slim_session_create(app, &o, BENCH_SETUP_MS, &s)) != SLIM_OK)
        bench_die("session", st);
    uint8_t *req = malloc(size);
    memset(req, 'x', size);
    long rounds = n + warmup;
    double *lat = calloc((size_t)rounds, sizeof *lat);
    double *pub = calloc((size_t)rounds, sizeof *pub);
    bench_cpu c0 = bench_cpu_now();
    for (long i = 0; i < rounds; i++) {
        if (i == warmup)
            c0 = bench_cpu_now();
        uint64_t seq = (uint64_t)i;
        memcpy(req, &seq, size < sizeof seq ? size : sizeof seq);
        uint64_t t = bench_now_ns();
        st = slim_session_publish(app, s, (slim_bytes){req, size}, NULL, BENCH_CLOSE_MS, NULL);
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
    bench_cpu_per(c0, n, &caller_us, &loop_us);
    double *l = lat + warmup, *p = pub + warmup;
    qsort(l, (size_t)n, sizeof *l, cmp_double);
    qsort(p, (size_t)n, sizeof *p, cmp_double);
    printf("RESULT system=c mode=rr reliable=%d rounds=%ld warmup=%ld size=%zu p50_us=%.1f "
           "p90_us=%.1f p99_us=%.1f publish_p50_us=%.1f caller_cpu_us=%.2f loop_cpu_us=%.2f\n",
           reliable, n, warmup, size, l[n / 2], l[(long)((double)n * 0.90)],
           l[(long)((double)n * 0.99)], p[n / 2], caller_us, loop_us);
    fflush(stdout);
    (void)slim_session_delete(app, s, BENCH_CLOSE_MS);
    free(pub);
    free(lat);
    free(req);
    slim_app_free(app, BENCH_CLOSE_MS);
    return 0;
}

static const char usage[] =
    "usage: bench_rr responder PORT SIZE NAME\n"
    "       bench_rr requester PORT N SIZE MODE PEER [WARMUP]\n"
    "\n"
    "Request/reply through the slim node on 127.0.0.1:PORT, one request in flight,\n"
    "each side its own process (the other may be bench/python/bench_py.py).\n"
    "  responder  the app NAME answers every request with SIZE bytes (publish_to)\n"
    "  requester  N timed rounds (after WARMUP, default 100) of SIZE-byte requests\n"
    "             to PEER over a UNICAST session; MODE: reliable or unreliable.\n"
    "             Prints one RESULT line.\n";

int main(int argc, char **argv) {
    if (bench_help_asked(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    long port, n, size;
    if (argc == 5 && strcmp(argv[1], "responder") == 0) {
        if (!bench_count(argv[2], "PORT", 1, 65535, &port) ||
            !bench_count(argv[3], "SIZE", 8, 1 << 20, &size))
            return 2;
        return responder((int)port, (size_t)size, argv[4]);
    }
    if ((argc == 7 || argc == 8) && strcmp(argv[1], "requester") == 0) {
        long warmup = 100;
        if (!bench_count(argv[2], "PORT", 1, 65535, &port) ||
            !bench_count(argv[3], "N", 1, 100000000, &n) ||
            !bench_count(argv[4], "SIZE", 8, 1 << 20, &size) ||
            (argc == 8 && !bench_count(argv[7], "WARMUP", 0, 100000000, &warmup)))
            return 2;
        if (strcmp(argv[5], "reliable") != 0 && strcmp(argv[5], "unreliable") != 0) {
            fprintf(stderr, "MODE: reliable or unreliable, not \"%s\"\n", argv[5]);
            return 2;
        }
        return requester((int)port, n, warmup, (size_t)size, strcmp(argv[5], "reliable") == 0,
                         argv[6]);
    }
    fputs(usage, stderr);
    return 2;
}
