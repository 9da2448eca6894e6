/*
 * gRPC transport benchmark beside a raw-TCP baseline, both on libuv, in
 * separate processes (this program starts its own server as a child).
 *
 *   bench_transport [--runs R] [--n100 N] [--n1k N] [--rtt M] [--no-tls]
 *                   [--no-pin] [--only SCENARIO] [--side raw|grpc|grpc-shared]
 *
 * (--side runs one side only, for profiling; its ratios mean nothing.)
 *
 * Scenarios, each with TLS off and on (certificates made at start with
 * tests/transport_certs.sh and the openssl CLI):
 *   one-way   the client streams N messages of 100 B / 1 KiB on one
 *             connection; the server counts them and answers "done".
 *   echo      the server sends every message back; the client keeps at most
 *             1 MiB of messages in flight.
 *   ping-pong one message in flight, M round trips: p50 / p99 latency.
 *
 * Baseline ("raw"): the same messages with the same 5-byte prefix over a
 * plain libuv TCP socket (slim_io, also used under TLS for the TLS rows),
 * gathered into one write per loop iteration as the transport does; its
 * server parses the prefixes and, for echo, writes the bytes back. gRPC:
 * one bidirectional stream of src/transport (h2c or TLS). For one-way also
 * "gRPC shared": the same with slim_grpc_call_send_rc() of one buffer.
 *
 * Every figure is the median of R runs (default 5) that alternate between
 * raw and gRPC. Each side is pinned to its own CPU when there are two.
 * A hello message is exchanged first, so connection set-up and TLS
 * handshakes are outside the timed part.
 *
 * Child mode (started by the parent): --serve raw|grpc --mode sink|echo
 * --n N --tls DIR|-   prints "listening <addr>".
 *
 * Built with -DBENCH_FIRST_TRANSPORT it also compiles against the first
 * version of the transport (commit ba67669: no TLS, no shared sends), to
 * compare the copy path before and after they came (see docs/benchmarks.md).
 */
#include "bench_args.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "transport/grpc.h"
#include "transport/io.h"
#ifndef BENCH_FIRST_TRANSPORT
#include "transport/tls.h"
#include "transport/txq.h"
#endif

#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SVC_SINK "/bench.B/Sink"
#define SVC_ECHO "/bench.B/Echo"
/* Bytes the raw side gathers for one write: the transport's default
 * write batch, so both make writes of the same size. */
#define RAW_QUEUE   SLIM_GRPC_DEFAULT_WRITE_BATCH
#define ECHO_WINDOW (1024u * 1024u)

static uv_loop_t loop;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)sched_setaffinity(0, sizeof set, &set);
}

static void die(const char *what, slim_status st) {
    fprintf(stderr, "bench_transport: %s: %s\n", what, slim_status_str(st));
    exit(1);
}

/* ---- Raw framing: a parser that counts and keeps only what it must ---- */

typedef struct framer {
    uint8_t hdr[5];
    unsigned hdr_len;
    uint32_t left; /* body bytes still to skip */
} framer;

/* Calls fn for each complete frame (the body is not delivered: the
 * benchmark never looks at it, except the 1-byte hello). */
static void frames(framer *f, const uint8_t *p, size_t n, void (*fn)(void *), void *ud) {
    while (n > 0) {
        if (f->left > 0) {
            size_t k = n < f->left ? n : f->left;
            f->left -= (uint32_t)k;
            p += k;
            n -= k;
            if (f->left == 0)
                fn(ud);
            continue;
        }
        while (f->hdr_len < 5 && n > 0) {
            f->hdr[f->hdr_len++] = *p++;
            n--;
        }
        if (f->hdr_len < 5)
            return;
        f->hdr_len = 0;
        f->left = (uint32_t)f->hdr[1] << 24 | (uint32_t)f->hdr[2] << 16 | (uint32_t)f->hdr[3] << 8 |
                  f->hdr[4];
        if (f->left == 0)
            fn(ud);
    }
}

static void frame_append(slim_buf *b, const uint8_t *body, size_t len) {
    if (slim_buf_reserve(b, 5 + len) != SLIM_OK)
        die("out of memory", SLIM_E_NOMEM);
    uint8_t *o = b->data + b->len;
    o[0] = 0;
    o[1] = (uint8_t)(len >> 24);
    o[2] = (uint8_t)(len >> 16);
    o[3] = (uint8_t)(len >> 8);
    o[4] = (uint8_t)len;
    memcpy(o + 5, body, len);
    b->len += 5 + len;
}

/* A raw connection: one write in flight, the next one gathering. */
typedef struct raw_conn {
    slim_io *io;
    slim_buf out[2];
    int acc;
    bool writing;
    framer fr;
    void (*on_frame)(struct raw_conn *);
    void (*on_written)(struct raw_conn *);
    void (*on_data)(struct raw_conn *, slim_bytes); /* echo server: raw bytes */
    void *ud;
} raw_conn;

static void raw_flush(raw_conn *r) {
    if (r->writing || r->out[r->acc].len == 0)
        return;
    int w = r->acc;
    r->acc ^= 1;
    r->writing = true;
    slim_status st = slim_io_write(r->io, slim_buf_view(&r->out[w]));
    if (st != SLIM_OK)
        die("raw write", st);
}

static void raw_frame_cb(void *ud) {
    raw_conn *r = ud;
    r->on_frame(r);
}

static void raw_on_read(slim_io *io, slim_bytes data, void *ud) {
    (void)io;
    raw_conn *r = ud;
    if (r->on_data != NULL)
        r->on_data(r, data);
    frames(&r->fr, data.ptr, data.len, raw_frame_cb, r);
    raw_flush(r);
}

static void raw_on_write_done(slim_io *io, slim_status st, void *ud) {
    (void)io;
    raw_conn *r = ud;
    r->writing = false;
    r->out[r->acc ^ 1].len = 0;
    if (st != SLIM_OK)
        return;
    if (r->on_written != NULL)
        r->on_written(r);
    raw_flush(r);
}

static void raw_on_read_end(slim_io *io, slim_status st, void *ud) {
    (void)st;
    (void)ud;
    slim_io_close(io);
}

static void raw_on_closed(slim_io *io, void *ud) {
    (void)io;
    raw_conn *r = ud;
    slim_buf_cleanup(&r->out[0]);
    slim_buf_cleanup(&r->out[1]);
    free(r);
}

static const slim_io_events raw_events = {raw_on_read, raw_on_write_done, raw_on_read_end,
                                          raw_on_closed};

/* ---- Child: the servers ---- */

static int s_mode_echo;
static unsigned long s_n;
static char s_certs[256];

typedef struct sink_state {
    unsigned long count;
    bool hello;
} sink_state;

static void raw_srv_frame(raw_conn *r) {
    sink_state *s = r->ud;
    if (!s->hello) {
        s->hello = true;
        if (!s_mode_echo)
            frame_append(&r->out[r->acc], (const uint8_t *)"h", 1);
        return;
    }
    if (!s_mode_echo && ++s->count == s_n)
        frame_append(&r->out[r->acc], (const uint8_t *)"done", 4);
}

static void raw_srv_data(raw_conn *r, slim_bytes d) {
    /* Echo: the bytes go back as they came (frames included). */
    if (slim_buf_append(&r->out[r->acc], d.ptr, d.len) != SLIM_OK)
        die("out of memory", SLIM_E_NOMEM);
}

#ifndef BENCH_FIRST_TRANSPORT
static slim_tls_ctx *tls_ctx(bool server) {
    if (s_certs[0] == '\0')
        return NULL;
    char cert[300], key[300], ca[300], err[256];
    snprintf(cert, sizeof cert, "%s/server.pem", s_certs);
    snprintf(key, sizeof key, "%s/server.key", s_certs);
    snprintf(ca, sizeof ca, "%s/ca.pem", s_certs);
    slim_tls_config t;
    memset(&t, 0, sizeof t);
    t.version = SLIM_TLS_1_3;
    if (server) {
        t.cert_file = cert;
        t.key_file = key;
    } else {
        t.ca_file = ca;
    }
    slim_tls_ctx *c;
    slim_status st = slim_tls_ctx_new(&t, server, &c, err, sizeof err);
    if (st != SLIM_OK) {
        fprintf(stderr, "bench_transport: TLS: %s\n", err);
        exit(1);
    }
    return c;
}
#endif

static void raw_start(slim_io *io, bool server, raw_conn *r) {
#ifndef BENCH_FIRST_TRANSPORT
    slim_tls_ctx *t = tls_ctx(server);
    if (t != NULL) {
        slim_status st = slim_io_tls_new(t, io, "localhost", &io);
        slim_tls_ctx_unref(t);
        if (st != SLIM_OK)
            die("TLS", st);
    }
#else
    (void)server;
#endif
    r->io = io;
    slim_status st = slim_io_start(io, &raw_events, r);
    if (st != SLIM_OK)
        die("start", st);
}

static void raw_on_connection(uv_stream_t *l, int status) {
    if (status < 0)
        return;
    slim_io *io;
    if (slim_io_tcp_new(l->loop, &io) != SLIM_OK || uv_accept(l, slim_io_stream(io)) != 0)
        die("accept", SLIM_E_IO);
    raw_conn *r = calloc(1, sizeof *r);
    sink_state *s = calloc(1, sizeof *s); /* lives as long as the process */
    r->ud = s;
    r->on_frame = raw_srv_frame;
    if (s_mode_echo)
        r->on_data = raw_srv_data;
    raw_start(io, true, r);
}

typedef struct grpc_srv_call {
    unsigned long count;
    bool hello;
} grpc_srv_call;

static void g_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    grpc_srv_call *g = data;
    if (!g->hello) {
        g->hello = true;
        slim_grpc_call_send(call, msg);
        return;
    }
    if (s_mode_echo) {
        slim_status st = slim_grpc_call_send(call, msg);
        if (st != SLIM_OK)
            die("echo", st);
    } else if (++g->count == s_n) {
        slim_grpc_call_send(call, slim_bytes_of("done", 4));
    }
}

static void g_on_half_close(slim_grpc_call *call, void *data) {
    (void)data;
    slim_grpc_call_finish(call, SLIM_OK, NULL, NULL);
}

static void g_on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    (void)res;
    free(data);
}

static void g_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)req;
    (void)ud;
    slim_grpc_call_set_data(call, calloc(1, sizeof(grpc_srv_call)));
}

static int serve(const char *kind) {
    uv_loop_init(&loop);
    char bound[128];
    if (strcmp(kind, "raw") == 0) {
        static uv_tcp_t l;
        uv_tcp_init(&loop, &l);
        struct sockaddr_in sa;
        uv_ip4_addr("127.0.0.1", 0, &sa);
        uv_tcp_bind(&l, (const struct sockaddr *)&sa, 0);
        if (uv_listen((uv_stream_t *)&l, 16, raw_on_connection) != 0)
            die("listen", SLIM_E_IO);
        int len = sizeof sa;
        uv_tcp_getsockname(&l, (struct sockaddr *)&sa, &len);
        snprintf(bound, sizeof bound, "127.0.0.1:%u", ntohs(sa.sin_port));
    } else {
        slim_grpc_server *srv;
        slim_grpc_config cfg = {0};
        slim_status st = slim_grpc_server_new(&loop, &cfg, &srv);
        slim_grpc_method m = {
            s_mode_echo ? SVC_ECHO : SVC_SINK, SLIM_GRPC_BIDI_STREAMING, g_on_call, {0}, NULL};
        m.cbs.on_message = g_on_message;
        m.cbs.on_half_close = g_on_half_close;
        m.cbs.on_close = g_on_close;
        if (st == SLIM_OK)
            st = slim_grpc_server_add_method(srv, &m);
#ifndef BENCH_FIRST_TRANSPORT
        char cert[300], key[300];
        slim_tls_config t;
        memset(&t, 0, sizeof t);
        t.insecure = s_certs[0] == '\0';
        t.version = SLIM_TLS_1_3;
        snprintf(cert, sizeof cert, "%s/server.pem", s_certs);
        snprintf(key, sizeof key, "%s/server.key", s_certs);
        t.cert_file = cert;
        t.key_file = key;
        if (st == SLIM_OK)
            st = slim_grpc_server_listen_tls(srv, "127.0.0.1:0", &t, NULL, bound, sizeof bound);
#else
        if (st == SLIM_OK)
            st = slim_grpc_server_listen(srv, "127.0.0.1:0", bound, sizeof bound);
#endif
        if (st != SLIM_OK)
            die("server", st);
    }
    printf("listening %s\n", bound);
    fflush(stdout);
    uv_run(&loop, UV_RUN_DEFAULT); /* until the parent kills us */
    return 0;
}

/* ---- Parent: the clients ---- */

typedef enum { SC_ONE_WAY, SC_ECHO, SC_PING } scenario;

typedef struct client_run {
    scenario sc;
    size_t size;
    unsigned long n;
    bool shared; /* gRPC: send_rc */
    /* progress */
    bool hello, done;
    unsigned long sent, received;
    double t0, t1;
    double *rtt; /* SC_PING */
    double sent_at;
    uint8_t *msg;
#ifndef BENCH_FIRST_TRANSPORT
    slim_rcbuf *rc;
#endif
    /* gRPC */
    slim_grpc_client *cli;
    slim_grpc_call *call;
    /* raw */
    raw_conn *raw;
} client_run;

static bool can_send(const client_run *c) {
    if (!c->hello || c->sent >= c->n)
        return false;
    if (c->sc == SC_PING)
        return c->sent == c->received;
    if (c->sc == SC_ECHO)
        return (c->sent - c->received) * (c->size + 5) < ECHO_WINDOW;
    return true;
}

static void finish(client_run *c) {
    c->t1 = now_s();
    c->done = true;
}

/* gRPC client */

static void g_pump(client_run *c) {
    while (can_send(c)) {
        slim_status st;
#ifndef BENCH_FIRST_TRANSPORT
        if (c->shared)
            st = slim_grpc_call_send_rc(c->call, c->rc);
        else
#endif
            st = slim_grpc_call_send(c->call, slim_bytes_of(c->msg, c->size));
        if (st == SLIM_E_QUEUE_FULL)
            return; /* on_writable */
        if (st != SLIM_OK)
            die("send", st);
        if (c->sc == SC_PING)
            c->sent_at = now_s();
        c->sent++;
    }
}

static void gc_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    (void)call;
    (void)msg;
    client_run *c = data;
    if (!c->hello) {
        c->hello = true;
        c->t0 = now_s();
        g_pump(c);
        return;
    }
    if (c->sc == SC_ONE_WAY) {
        finish(c);
        return;
    }
    if (c->sc == SC_PING)
        c->rtt[c->received] = now_s() - c->sent_at;
    if (++c->received == c->n)
        finish(c);
    else
        g_pump(c);
}

static void gc_on_writable(slim_grpc_call *call, void *data) {
    (void)call;
    g_pump(data);
}

static void gc_on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    client_run *c = data;
    if (!c->done)
        fprintf(stderr, "bench_transport: call ended early: %.*s\n", (int)res->message.len,
                res->message.ptr);
    c->call = NULL;
}

static void run_grpc(client_run *c, const char *addr, bool tls) {
    char target[200];
    snprintf(target, sizeof target, "%s://%s", tls ? "https" : "http", addr);
    slim_status st;
#ifndef BENCH_FIRST_TRANSPORT
    slim_client_config cc;
    slim_client_config_defaults(&cc);
    cc.endpoint = target;
    cc.tls.insecure = !tls;
    cc.tls.include_system_ca = false;
    char ca[300];
    snprintf(ca, sizeof ca, "%s/ca.pem", s_certs);
    cc.tls.ca_file = ca;
    cc.tls.server_name = "localhost";
    cc.backoff.max_attempts = 0;
    st = slim_grpc_client_new_config(&loop, &cc, NULL, NULL, NULL, &c->cli);
#else
    (void)tls;
    st = slim_grpc_client_new(&loop, target, NULL, NULL, NULL, &c->cli);
#endif
    if (st != SLIM_OK)
        die("client", st);
    slim_grpc_call_opts o = {c->sc == SC_ONE_WAY ? SVC_SINK : SVC_ECHO, NULL, 0};
    slim_grpc_call_cbs cbs;
    memset(&cbs, 0, sizeof cbs);
    cbs.on_message = gc_on_message;
    cbs.on_writable = gc_on_writable;
    cbs.on_close = gc_on_close;
    st = slim_grpc_client_open(c->cli, &o, &cbs, c, &c->call);
    if (st != SLIM_OK)
        die("open", st);
    slim_grpc_call_send(c->call, slim_bytes_of("h", 1));
    while (!c->done)
        uv_run(&loop, UV_RUN_ONCE);
    slim_grpc_client_free(c->cli);
    uv_run(&loop, UV_RUN_DEFAULT);
}

/* raw client */

static void r_pump(client_run *c) {
    raw_conn *r = c->raw;
    while (can_send(c) && r->out[r->acc].len < RAW_QUEUE) {
        frame_append(&r->out[r->acc], c->msg, c->size);
        if (c->sc == SC_PING)
            c->sent_at = now_s();
        c->sent++;
    }
}

static void rc_frame(raw_conn *r) {
    client_run *c = r->ud;
    if (!c->hello) {
        c->hello = true;
        c->t0 = now_s();
        r_pump(c);
        return;
    }
    if (c->sc == SC_ONE_WAY) {
        finish(c);
        slim_io_close(r->io);
        return;
    }
    if (c->sc == SC_PING)
        c->rtt[c->received] = now_s() - c->sent_at;
    if (++c->received == c->n) {
        finish(c);
        slim_io_close(r->io);
    } else {
        r_pump(c);
    }
}

static void rc_written(raw_conn *r) {
    r_pump(r->ud);
}

static void on_raw_connect(uv_connect_t *req, int status) {
    client_run *c = req->data;
    if (status < 0)
        die("connect", SLIM_E_TRANSPORT_CONNECT);
    raw_start(c->raw->io, false, c->raw);
    frame_append(&c->raw->out[c->raw->acc], (const uint8_t *)"h", 1);
    raw_flush(c->raw);
}

static void run_raw(client_run *c, const char *addr) {
    raw_conn *r = calloc(1, sizeof *r);
    r->ud = c;
    r->on_frame = rc_frame;
    r->on_written = rc_written;
    c->raw = r;
    slim_io *io;
    if (slim_io_tcp_new(&loop, &io) != SLIM_OK)
        die("socket", SLIM_E_NOMEM);
    r->io = io;
    struct sockaddr_in sa;
    char host[128];
    snprintf(host, sizeof host, "%s", addr);
    char *colon = strrchr(host, ':');
    *colon = '\0';
    uv_ip4_addr(host, atoi(colon + 1), &sa);
    uv_connect_t req;
    req.data = c;
    uv_tcp_connect(&req, (uv_tcp_t *)slim_io_stream(io), (const struct sockaddr *)&sa,
                   on_raw_connect);
    while (!c->done)
        uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_DEFAULT);
}

/* ---- Orchestration ---- */

static const char *self;
static bool do_pin = true;

typedef struct child {
    pid_t pid;
    char addr[128];
} child;

static child spawn(const char *kind, scenario sc, unsigned long n, bool tls) {
    int fds[2];
    if (pipe(fds) != 0)
        exit(1);
    child ch = {0};
    ch.pid = fork();
    if (ch.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the parent */
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        char nbuf[32];
        snprintf(nbuf, sizeof nbuf, "%lu", n);
        execl(self, self, "--serve", kind, "--mode", sc == SC_ONE_WAY ? "sink" : "echo", "--n",
              nbuf, "--tls", tls ? s_certs : "-", "--pin", do_pin ? "1" : "-", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[200];
    if (fgets(line, sizeof line, f) == NULL || strncmp(line, "listening ", 10) != 0) {
        fprintf(stderr, "bench_transport: the %s server did not start\n", kind);
        exit(1);
    }
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    snprintf(ch.addr, sizeof ch.addr, "%.120s", line + 10);
    return ch;
}

static void reap(child ch) {
    kill(ch.pid, SIGKILL);
    waitpid(ch.pid, NULL, 0);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return v[n / 2];
}

typedef struct result {
    double rate;     /* msg/s */
    double p50, p99; /* us, SC_PING */
    double user_ns;  /* the client's user CPU per message */
} result;

static double user_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
}

/* One run of one side ("raw", "grpc", "grpc-shared"). */
static result one_run(const char *side, scenario sc, size_t size, unsigned long n, bool tls) {
    bool raw = strcmp(side, "raw") == 0;
    child ch = spawn(raw ? "raw" : "grpc", sc, n, tls);
    client_run c;
    memset(&c, 0, sizeof c);
    c.sc = sc;
    c.size = size;
    c.n = n;
    c.shared = strcmp(side, "grpc-shared") == 0;
    c.msg = malloc(size);
    memset(c.msg, 0xab, size);
#ifndef BENCH_FIRST_TRANSPORT
    if (c.shared) {
        c.rc = slim_rcbuf_new(size);
        memset(c.rc->data, 0xab, size);
    }
#endif
    if (sc == SC_PING)
        c.rtt = malloc(n * sizeof(double));
    double u0 = user_s();
    if (raw)
        run_raw(&c, ch.addr);
    else
        run_grpc(&c, ch.addr, tls);
    double u1 = user_s();
    reap(ch);
    result r = {0};
    r.rate = (double)n / (c.t1 - c.t0);
    r.user_ns = (u1 - u0) * 1e9 / (double)n;
    if (sc == SC_PING) {
        qsort(c.rtt, n, sizeof(double), cmp_double);
        r.p50 = c.rtt[n / 2] * 1e6;
        r.p99 = c.rtt[(size_t)((double)n * 0.99)] * 1e6;
        free(c.rtt);
    }
#ifndef BENCH_FIRST_TRANSPORT
    slim_rcbuf_unref(c.rc);
#endif
    free(c.msg);
    return r;
}

static int runs = 5;

#ifndef BENCH_FIRST_TRANSPORT
/* ---- The send queue alone: today's against the first version's ----
 *
 * The first version kept a call's queue as one contiguous buffer of framed copies,
 * memmoved down once 64 KiB had been sent and that was half of it. Here it
 * is reimplemented as it was, beside slim_txq (chunks, segments, hand-back
 * positions), with the same pattern: queue up to 4 MiB, pack 256 KiB per
 * "write", release it, queue again. ns per message, median of R runs. */

typedef struct p1q {
    slim_buf b;
    size_t off;
} p1q;

static void p1_push(p1q *q, const uint8_t *m, size_t n) {
    if (slim_buf_reserve(&q->b, 5 + n) != SLIM_OK)
        die("out of memory", SLIM_E_NOMEM);
    uint8_t *o = q->b.data + q->b.len;
    o[0] = 0;
    o[1] = (uint8_t)(n >> 24);
    o[2] = (uint8_t)(n >> 16);
    o[3] = (uint8_t)(n >> 8);
    o[4] = (uint8_t)n;
    memcpy(o + 5, m, n);
    q->b.len += 5 + n;
}

static void p1_pack(p1q *q, uint8_t *out, size_t n) {
    memcpy(out, q->b.data + q->off, n);
    q->off += n;
    if (q->off == q->b.len) {
        q->b.len = q->off = 0;
    } else if (q->off >= 64 * 1024 && q->off >= q->b.len / 2) {
        slim_buf_consume(&q->b, q->off);
        q->off = 0;
    }
}

static double queue_run(bool part2, size_t size, unsigned long n, bool shared) {
    uint8_t *msg = malloc(size);
    memset(msg, 0xab, size);
    uint8_t *wbuf = malloc(SLIM_GRPC_DEFAULT_WRITE_BATCH);
    slim_rcbuf *rc = slim_rcbuf_copy(msg, size);
    slim_txq q2;
    slim_txq_init(&q2);
    p1q q1;
    memset(&q1, 0, sizeof q1);
    size_t framed = 5 + size;
    unsigned long sent = 0;
    double t0 = now_s();
    while (sent < n) {
        while (sent < n) { /* fill to the 4 MiB queue limit */
            size_t pending = part2 ? (size_t)slim_txq_pending(&q2) : q1.b.len - q1.off;
            if (pending >= SLIM_GRPC_DEFAULT_SEND_QUEUE_LIMIT)
                break;
            if (!part2)
                p1_push(&q1, msg, size);
            else if (shared)
                (void)slim_txq_push_rc(&q2, rc);
            else
                (void)slim_txq_push_copy(&q2, slim_bytes_of(msg, size));
            sent++;
        }
        /* "write" until half of it is gone, as on_writable would ask */
        for (;;) {
            size_t pending = part2 ? (size_t)slim_txq_pending(&q2) : q1.b.len - q1.off;
            if (pending < SLIM_GRPC_DEFAULT_SEND_QUEUE_LIMIT / 2 && sent < n)
                break;
            if (pending == 0)
                break;
            size_t k =
                pending < SLIM_GRPC_DEFAULT_WRITE_BATCH ? pending : SLIM_GRPC_DEFAULT_WRITE_BATCH;
            if (part2) {
                slim_txq_pack(&q2, wbuf, k);
                slim_txq_written(&q2);
            } else {
                p1_pack(&q1, wbuf, k);
            }
        }
    }
    double t = now_s() - t0;
    (void)framed;
    slim_txq_cleanup(&q2);
    slim_buf_cleanup(&q1.b);
    slim_rcbuf_unref(rc);
    free(wbuf);
    free(msg);
    return t * 1e9 / (double)n;
}

static void queue_bench(void) {
    printf("send queue alone (push to 4 MiB, pack 256 KiB writes), ns per message, median of %d:\n",
           runs);
    size_t sizes[2] = {100, 1024};
    for (int k = 0; k < 2; k++) {
        double a[16], b[16], c[16];
        unsigned long n = sizes[k] == 100 ? 20000000ul : 4000000ul;
        for (int r = 0; r < runs; r++) {
            a[r] = queue_run(false, sizes[k], n, false);
            b[r] = queue_run(true, sizes[k], n, false);
            c[r] = queue_run(true, sizes[k], n, true);
        }
        printf("  %4zu B: first version %.1f ns   copies %.1f ns   shared %.1f ns\n", sizes[k],
               median(a, runs), median(b, runs), median(c, runs));
    }
}
#endif
static const char *only_side; /* --side: run just that one (for profiling) */

/* R alternating runs of each side; prints the medians and the ratios. */
static void scenario_row(const char *name, scenario sc, size_t size, unsigned long n, bool tls,
                         bool with_shared) {
    const char *sides[3] = {"raw", "grpc", "grpc-shared"};
    int nsides = with_shared ? 3 : 2;
    double rate[3][16], p50[3][16], p99[3][16], user[3][16];
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < nsides; k++) {
            int s = (r % 2 == 0) ? k : nsides - 1 - k; /* alternate the order */
            if (only_side != NULL && strcmp(only_side, sides[s]) != 0) {
                rate[s][r] = p50[s][r] = p99[s][r] = user[s][r] = 1;
                continue;
            }
            result res = one_run(sides[s], sc, size, n, tls);
            rate[s][r] = res.rate;
            user[s][r] = res.user_ns;
            p50[s][r] = res.p50;
            p99[s][r] = res.p99;
        }
    }
    char label[64];
    snprintf(label, sizeof label, "%s %zu B%s", name, size, tls ? " TLS" : "");
    if (sc == SC_PING) {
        double rp50 = median(p50[0], runs), rp99 = median(p99[0], runs);
        double gp50 = median(p50[1], runs), gp99 = median(p99[1], runs);
        printf("%-24s raw %7.1f / %7.1f us   gRPC %7.1f / %7.1f us   p50 x%.2f\n", label, rp50,
               rp99, gp50, gp99, gp50 / rp50);
    } else {
        double rr = median(rate[0], runs), gr = median(rate[1], runs);
        printf("%-24s raw %6.3f M msg/s   gRPC %6.3f M msg/s   ratio %.2f", label, rr / 1e6,
               gr / 1e6, gr / rr);
        if (with_shared) {
            double sr = median(rate[2], runs);
            printf("   gRPC shared %6.3f M (%.2f)", sr / 1e6, sr / rr);
        }
        printf("\n%-24s client user CPU per message: raw %.0f ns, gRPC %.0f ns", "",
               median(user[0], runs), median(user[1], runs));
        if (with_shared)
            printf(", gRPC shared %.0f ns", median(user[2], runs));
        printf("\n");
    }
    fflush(stdout);
}

#ifndef BENCH_FIRST_TRANSPORT
static void remove_certs(void) {
    if (s_certs[0] != '\0') {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_certs);
        (void)system(cmd);
    }
}
#endif

int main(int argc, char **argv) {
    self = "/proc/self/exe";
    static char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el > 0) {
        exe[el] = '\0';
        self = exe;
    }
    signal(SIGPIPE, SIG_IGN);
    if (argc > 2 && strcmp(argv[1], "--serve") == 0) {
        const char *kind = argv[2];
        for (int i = 3; i + 1 < argc; i += 2) {
            if (strcmp(argv[i], "--mode") == 0)
                s_mode_echo = strcmp(argv[i + 1], "echo") == 0;
            else if (strcmp(argv[i], "--n") == 0)
                s_n = strtoul(argv[i + 1], NULL, 10);
            else if (strcmp(argv[i], "--tls") == 0 && strcmp(argv[i + 1], "-") != 0)
                snprintf(s_certs, sizeof s_certs, "%s", argv[i + 1]);
            else if (strcmp(argv[i], "--pin") == 0 && strcmp(argv[i + 1], "1") == 0)
                pin(1);
        }
        return serve(kind);
    }
    static const char usage[] =
        "usage: bench_transport [--runs R] [--n100 N] [--n1k N] [--rtt M] "
        "[--no-tls] [--no-pin] [--only one-way|echo|ping-pong] "
        "[--side raw|grpc|grpc-shared] [--queue]\n\n"
        "gRPC streams of src/transport against raw TCP with the same framing:\n"
        "one-way, echo and ping-pong, 100 B and 1 KiB, TLS off and on; alternating\n"
        "runs, medians. --queue measures the send queue alone.\n";
    if (bench_help_asked(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    long n100 = 2000000, n1k = 1000000, nrtt = 20000, nruns = runs;
    bool tls_too = true;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        bool ok = true;
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            ok = bench_count(argv[++i], "--runs", 1, 16, &nruns);
        else if (strcmp(argv[i], "--n100") == 0 && i + 1 < argc)
            ok = bench_count(argv[++i], "--n100", 1, 1000000000, &n100);
        else if (strcmp(argv[i], "--n1k") == 0 && i + 1 < argc)
            ok = bench_count(argv[++i], "--n1k", 1, 1000000000, &n1k);
        else if (strcmp(argv[i], "--rtt") == 0 && i + 1 < argc)
            ok = bench_count(argv[++i], "--rtt", 1, 1000000000, &nrtt);
        else if (strcmp(argv[i], "--no-tls") == 0)
            tls_too = false;
        else if (strcmp(argv[i], "--no-pin") == 0)
            do_pin = false;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--side") == 0 && i + 1 < argc)
            only_side = argv[++i];
#ifndef BENCH_FIRST_TRANSPORT
        else if (strcmp(argv[i], "--queue") == 0) {
            queue_bench();
            return 0;
        }
#endif
        else
            ok = false;
        if (!ok) {
            fputs(usage, stderr);
            return 2;
        }
    }
    runs = (int)nruns;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 2)
        do_pin = false;
    if (do_pin)
        pin(0);
    uv_loop_init(&loop);
#ifndef BENCH_FIRST_TRANSPORT
    if (tls_too) {
        snprintf(s_certs, sizeof s_certs, "/tmp/slim-bench-certs-XXXXXX");
        if (mkdtemp(s_certs) == NULL)
            return 1;
        atexit(remove_certs);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "sh '%s' '%s'", SLIM_CERTS_SCRIPT, s_certs);
        if (system(cmd) != 0)
            return 1;
    }
#else
    tls_too = false;
#endif
    printf("bench_transport: median of %d alternating runs; %ld x 100 B, %ld x 1 KiB, %ld round "
           "trips; %s\n",
           runs, n100, n1k, nrtt, do_pin ? "client on CPU 0, server on CPU 1" : "not pinned");
    for (int t = 0; t < (tls_too ? 2 : 1); t++) {
        bool tls = t == 1;
        char certs_saved[256];
        snprintf(certs_saved, sizeof certs_saved, "%s", s_certs);
        if (!tls)
            s_certs[0] = '\0';
        if (only == NULL || strcmp(only, "one-way") == 0) {
            scenario_row("one-way", SC_ONE_WAY, 100, (unsigned long)n100, tls, !tls);
            scenario_row("one-way", SC_ONE_WAY, 1024, (unsigned long)n1k, tls, !tls);
        }
        if (only == NULL || strcmp(only, "echo") == 0) {
            scenario_row("echo", SC_ECHO, 100, (unsigned long)n100 / 2, tls, false);
            scenario_row("echo", SC_ECHO, 1024, (unsigned long)n1k / 2, tls, false);
        }
        if (only == NULL || strcmp(only, "ping-pong") == 0) {
            scenario_row("ping-pong", SC_PING, 100, (unsigned long)nrtt, tls, false);
            scenario_row("ping-pong", SC_PING, 1024, (unsigned long)nrtt, tls, false);
        }
        snprintf(s_certs, sizeof s_certs, "%s", certs_saved);
    }
    uv_loop_close(&loop);
    return 0;
}
