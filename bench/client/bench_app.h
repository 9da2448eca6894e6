/*
 * What the app benchmarks share (bench_client.c, bench_group.c): an app
 * with a shared-secret identity connected to the node, clocks, CPU
 * accounting, and a sender that keeps publishes in flight on the public
 * client API only.
 */
#ifndef SLIM_BENCH_APP_H
#define SLIM_BENCH_APP_H

#include <slim/session.h>
#include <slim/slim.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#define BENCH_SECRET   "bench-client-shared-secret-of-32-characters-or-more"
#define BENCH_SETUP_MS 30000 /* connect, route, open, listen */
#define BENCH_CLOSE_MS 10000
#define BENCH_OP_SLOTS 65536
#define BENCH_WINDOW   4096 /* the largest --window */

/* Called by bench_die before it exits (a parent kills its children). */
static void (*bench_on_die)(void);

static inline void bench_die(const char *what, slim_status st) {
    fprintf(stderr, "bench: %s: %s\n", what, slim_status_str(st));
    if (bench_on_die != NULL)
        bench_on_die();
    exit(2);
}

static inline uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void bench_pause_ns(uint64_t ns) {
    struct timespec t = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&t, NULL);
}

/* CPU time used so far by the whole process (all its threads) and by the
 * calling thread, in seconds: the app's loop thread is the difference. */
typedef struct bench_cpu {
    double process, caller;
} bench_cpu;

static inline double bench_seconds(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static inline bench_cpu bench_cpu_now(void) {
    struct rusage ru;
    struct timespec ts;
    getrusage(RUSAGE_SELF, &ru);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (bench_cpu){bench_seconds(ru.ru_utime) + bench_seconds(ru.ru_stime),
                       (double)ts.tv_sec + (double)ts.tv_nsec / 1e9};
}

/* Microseconds of CPU per item since `from`: the caller's thread and the
 * rest of the process (the loop thread). */
static inline void bench_cpu_per(bench_cpu from, long items, double *caller_us, double *loop_us) {
    bench_cpu to = bench_cpu_now();
    double n = items > 0 ? (double)items : 1;
    *caller_us = (to.caller - from.caller) * 1e6 / n;
    *loop_us = ((to.process - from.process) - (to.caller - from.caller)) * 1e6 / n;
}

/* Waits after SLIM_E_QUEUE_FULL: from 20 us, doubling up to 1 ms while the
 * library keeps refusing. */
static inline void bench_backoff_wait(long *us) {
    bench_pause_ns((uint64_t)*us * 1000u);
    *us = *us < 500 ? *us * 2 : 1000;
}

/* An app named `name`, connected to the node on 127.0.0.1:port, holding a
 * shared-secret identity (the same secret for every app), with options o
 * (NULL: the defaults). */
static inline slim_app *bench_app_with(const char *name, int port, const slim_app_options *o) {
    slim_identity_config id = {
        .kind = SLIM_IDENTITY_SHARED_SECRET, .id = name, .secret = BENCH_SECRET};
    slim_app *app = NULL;
    slim_status st = slim_app_new(name, &id, &id, o, &app);
    if (st != SLIM_OK)
        bench_die("app", st);
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", port);
    if ((st = slim_app_connect(app, &(slim_client_options){.endpoint = ep}, BENCH_SETUP_MS,
                               NULL)) != SLIM_OK)
        bench_die("connect", st);
    return app;
}

/* bench_app_with the default options. */
static inline slim_app *bench_app_on(const char *name, int port) {
    return bench_app_with(name, port, NULL);
}

/* A sender of n messages on one session with up to `window` publishes in
 * flight; `fill` writes message `seq` into payload just before it is
 * published. With rate > 0 message seq is published no earlier than
 * seq / rate seconds after the first (a message refused and sent again
 * goes at once). */
typedef struct bench_sender {
    slim_app *app;
    slim_session_id s;
    long n, window;
    double rate; /* messages per second; 0: as fast as the library takes them */
    uint8_t *payload;
    size_t size;
    void (*fill)(struct bench_sender *b, uint64_t seq);
    void *ctx;
    /* what happened */
    uint64_t first_ns; /* the first publish */
    long queue_full;   /* publishes refused with SLIM_E_QUEUE_FULL, sent again */
    long dropped;      /* DROPPED events (the sender's own queues) */
    long undelivered;  /* UNDELIVERED events */
} bench_sender;

/* Publishes b->n messages. One refused (a reliable session's window of
 * unacknowledged messages is full, or the app's connection) goes again
 * later: the sender then has one publish in flight (after a
 * bench_backoff_wait while they are refused), one more for each taken, up
 * to the window, so that a full window is not hammered; the library says
 * nothing when there is room again. */
static inline void bench_send(bench_sender *b) {
    /* Refused sequence numbers, a ring: with those in flight never more
     * than the window. */
    uint64_t *retry = malloc((size_t)b->window * sizeof *retry);
    uint64_t *op_seq = malloc(BENCH_OP_SLOTS * sizeof *op_seq); /* by op id: its message */
    size_t retry_head = 0, n_retry = 0;
    long next = 0, in_flight = 0, done = 0, wait_us = 20, limit = b->window;
    uint64_t t0 = bench_now_ns();
    b->first_ns = t0;
    while (done < b->n) {
        uint64_t due = 0;
        while (in_flight < limit && (n_retry > 0 || next < b->n)) {
            uint64_t seq;
            if (n_retry > 0) {
                seq = retry[retry_head];
                retry_head = (retry_head + 1) % (size_t)b->window;
                n_retry--;
            } else {
                if (b->rate > 0) {
                    due = t0 + (uint64_t)((double)next * 1e9 / b->rate);
                    if (bench_now_ns() < due)
                        break; /* not yet */
                    due = 0;
                }
                seq = (uint64_t)next++;
            }
            b->fill(b, seq);
            slim_op op;
            slim_status st = slim_session_publish_async(
                b->app, b->s, (slim_bytes){b->payload, b->size}, NULL, &op);
            if (st != SLIM_OK)
                bench_die("publish_async", st);
            op_seq[op % BENCH_OP_SLOTS] = seq;
            in_flight++;
        }
        slim_event ev;
        slim_status st = slim_app_next_event(b->app, due ? 0 : BENCH_CLOSE_MS, &ev);
        if (st == SLIM_E_TIMEOUT && due) {
            uint64_t now = bench_now_ns();
            if (now < due)
                bench_pause_ns(due - now);
            continue;
        }
        if (st != SLIM_OK)
            bench_die("next_event", st);
        if (ev.kind == SLIM_EVENT_DROPPED)
            b->dropped += (long)ev.count;
        if (ev.kind == SLIM_EVENT_UNDELIVERED)
            b->undelivered++;
        if (ev.kind != SLIM_EVENT_OP_DONE)
            continue;
        in_flight--;
        if (ev.status == SLIM_E_QUEUE_FULL) {
            b->queue_full++;
            retry[(retry_head + n_retry++) % (size_t)b->window] = op_seq[ev.op % BENCH_OP_SLOTS];
            limit = 1;
            if (in_flight == 0)
                bench_backoff_wait(&wait_us);
        } else if (ev.status != SLIM_OK) {
            bench_die(ev.detail, ev.status);
        } else {
            done++;
            limit = limit < b->window ? limit + 1 : limit;
            wait_us = 20;
        }
    }
    free(op_seq);
    free(retry);
}

#endif
