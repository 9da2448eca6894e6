/*
 * Load generators for the node benchmark (bench/node/run.py drives them).
 *
 *   bench_node slim-pubsub PORT NSUBS NMSGS SIZE   one publisher -> node -> NSUBS subscribers
 *   bench_node slim-rr     PORT N SIZE             request/reply through the node, 1 in flight
 *   bench_node nats-pubsub PORT NSUBS NMSGS SIZE   the same against nats-server (text protocol)
 *   bench_node nats-rr     PORT N SIZE
 *   bench_node relay-rr    N SIZE                  request/reply through a raw-TCP relay
 *
 * Subscribers run in a child process (one libuv loop or poll loop for all
 * of them) and count messages without parsing them, as the NATS harness
 * counts bytes; the publisher runs in the parent. Each mode prints one line
 * "RESULT key=value ..." that run.py collects.
 *
 * SLIM clients speak gRPC through our transport: a Link first (with a
 * header MAC key, unless SLIM_BENCH_MAC=off), then once the node answered,
 * a Subscribe with an id (waiting for its ack) and pre-encoded Publish
 * messages. With a link key each client tags its message once: the tag
 * covers the routing header only, which is the same for every message it
 * sends, so the per-message cost measured is the node's (checking and
 * signing), not the load generator's.
 */
#include "../bench_args.h"
#include "../bench_net.h"
#include "core/time.h"
#include "core/util.h"
#include "router/hdrmac.h"
#include "transport/grpc.h"
#include "wire/fastpath.h"
#include "wire/wire.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define METHOD "/dataplane.proto.v1.DataPlaneService/OpenChannel"

static void die(const char *what) {
    fprintf(stderr, "bench_node: %s\n", what);
    exit(2);
}

/* ---- SLIM messages, encoded once ---- */

static slim_name make_name(const char *text) {
    slim_name n;
    if (slim_name_parse(text, strlen(text), &n, NULL) != SLIM_OK)
        die("bad name");
    return n;
}

static slim_buf encode(slim_msg *m) {
    slim_buf b = SLIM_BUF_INIT;
    if (m == NULL || slim_wire_encode(m, SIZE_MAX, &b) != SLIM_OK)
        die("encode");
    slim_wire_free(m);
    return b;
}

static bool use_mac = true; /* SLIM_BENCH_MAC=off: no key offered */

static slim_buf link_msg(const char *id, const uint8_t *pk) {
    slim_wire_link_spec s = {.link_id = id,
                             .slim_version = "0.1.0",
                             .connection_type = SLIM_LINK_TYPE_EDGE,
                             .node_id = "bench",
                             .public_key = slim_bytes_of(pk, use_mac ? SLIM_HDRMAC_KEY_SIZE : 0)};
    slim_msg *m = NULL;
    slim_wire_link_negotiation_new(&s, &m);
    return encode(m);
}

static slim_buf sub_msg(const char *name, uint64_t id) {
    slim_name src = make_name("bench/load/client"), dst = make_name(name);
    slim_wire_header_spec h = {.source = {&src, NULL}, .destination = {&dst, NULL}, .fanout = 1};
    slim_msg *m = NULL;
    slim_wire_subscribe_new(&h, id, false, &m);
    return encode(m);
}

static slim_buf pub_msg(const char *dst_name, uint32_t fanout, size_t size) {
    slim_name src = make_name("bench/load/pub"), dst = make_name(dst_name);
    slim_wire_header_spec h = {
        .source = {&src, NULL}, .destination = {&dst, NULL}, .fanout = fanout};
    slim_wire_session_spec s = {.session_type = 1, .message_type = 1, .session_id = 1};
    uint8_t *payload = malloc(size ? size : 1);
    memset(payload, 'x', size);
    slim_msg *m = NULL;
    slim_wire_publish_new(&h, &s, &m);
    slim_wire_set_app_payload(m, "msg", slim_bytes_of(payload, size));
    free(payload);
    return encode(m);
}

/* ---- a SLIM client connection on a libuv loop ---- */

typedef struct sclient {
    slim_grpc_client *client;
    slim_grpc_call *call;
    int stage;       /* 0 link sent, 1 subscribe sent, 2 ready */
    bool subscriber; /* counts publishes after its ack */
    char link_id[37];
    uint8_t sk[SLIM_HDRMAC_KEY_SIZE];
    slim_buf sub;  /* the Subscribe to send once the link is up (subscribers) */
    slim_buf out;  /* the message it sends, tagged for its link */
    slim_bytes in; /* ... as built, untagged */
    long received;
    uint64_t first_ns, last_ns;
    bool writable_wait;
    struct bench *b;
} sclient;

typedef struct bench {
    uv_loop_t loop;
    sclient *clients;
    int n;
    int ready;
    long target; /* publishes each subscriber expects */
    int done;
    /* publisher */
    slim_buf pub;
    long to_send, sent;
    /* request/reply */
    bool rr;
    slim_buf reply;
    double *lat;
    long rounds, round;
    uint64_t t_sent;
    int ready_fd;
    uv_timer_t idle;
    uint64_t last_activity_ns;
} bench;

static void pump(sclient *c);

/* `in` tagged with key k (or copied when k is NULL). */
static slim_buf tagged(slim_bytes in, const slim_hdrmac_key *k) {
    slim_buf out = SLIM_BUF_INIT, fields = SLIM_BUF_INIT;
    slim_peek p;
    uint8_t tag[SLIM_HDRMAC_TAG_SIZE];
    if (in.len == 0)
        return out;
    if (k == NULL) {
        if (slim_buf_append(&out, in.ptr, in.len) != SLIM_OK)
            die("out of memory");
        return out;
    }
    if (slim_wire_peek(in, SIZE_MAX, &p, NULL) != SLIM_OK ||
        slim_wire_mac_fields(&p, NULL, false, &fields) != SLIM_OK)
        die("tag");
    slim_hdrmac_tag(k, slim_buf_view(&fields), tag);
    if (slim_wire_egress(in, &p, p.ttl, NULL, tag, &out) != SLIM_OK)
        die("tag");
    slim_buf_cleanup(&fields);
    return out;
}

/* The node's Link reply: derive the link key when it sent one, tag what
 * this client will send, and subscribe. */
static void link_up(sclient *c, slim_bytes msg) {
    slim_msg *m = NULL;
    const slim_pb_link_negotiation *ln = NULL;
    if (slim_wire_decode(msg, SIZE_MAX, &m) != SLIM_OK ||
        (ln = slim_wire_link_negotiation(m)) == NULL)
        die("no link reply");
    slim_hdrmac_key key;
    bool has_key =
        use_mac && ln->link_ecdh_public_key.len == SLIM_HDRMAC_KEY_SIZE &&
        slim_hdrmac_derive(
            c->sk, slim_bytes_of(ln->link_ecdh_public_key.data, ln->link_ecdh_public_key.len),
            c->link_id, &key) == SLIM_OK;
    if (use_mac && !has_key)
        die("the node sent no header MAC key");
    slim_wire_free(m);
    c->out = tagged(c->in, has_key ? &key : NULL);
    if (c->subscriber) {
        slim_buf s = tagged(slim_buf_view(&c->sub), has_key ? &key : NULL);
        slim_grpc_call_send(c->call, slim_buf_view(&s));
        slim_buf_cleanup(&s);
    }
}

static void on_msg(slim_grpc_call *call, slim_bytes msg, void *data) {
    sclient *c = data;
    bench *b = c->b;
    if (c->stage == 0) { /* the link reply */
        link_up(c, msg);
        c->stage = c->subscriber ? 1 : 2;
        if (!c->subscriber && ++b->ready == b->n && b->ready_fd >= 0)
            (void)!write(b->ready_fd, "r", 1);
        return;
    }
    if (c->stage == 1) { /* the subscription ack */
        c->stage = 2;
        if (++b->ready == b->n && b->ready_fd >= 0)
            (void)!write(b->ready_fd, "r", 1);
        return;
    }
    uint64_t now = slim_now_ns();
    b->last_activity_ns = now;
    if (b->rr) {
        if (c->subscriber && b->reply.len > 0) { /* responder: answer */
            slim_grpc_call_send(call, slim_buf_view(&c->out));
            return;
        }
        /* requester: one round done */
        b->lat[b->round++] = (double)(now - b->t_sent) / 1000.0;
        if (b->round < b->rounds) {
            b->t_sent = slim_now_ns();
            slim_grpc_call_send(call, slim_buf_view(&c->out));
        } else {
            uv_stop(&b->loop);
        }
        return;
    }
    if (c->received == 0)
        c->first_ns = now;
    c->last_ns = now;
    if (++c->received == b->target && ++b->done == b->n)
        uv_stop(&b->loop);
}

static void on_writable(slim_grpc_call *call, void *data) {
    (void)call;
    sclient *c = data;
    c->writable_wait = false;
    pump(c);
}

static void on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    sclient *c = data;
    c->call = NULL;
    if (res->status != SLIM_OK && res->status != SLIM_E_GRPC_CANCELLED)
        fprintf(stderr, "bench_node: stream closed: %s %.*s\n", slim_status_str(res->status),
                (int)res->message.len, res->message.ptr);
}

static const slim_grpc_call_cbs cbs = {NULL, on_msg, NULL, on_writable, on_close, NULL};

/* Opens a client that will send `sends` (tagged for its link once it is
 * up) and, with sub_name, subscribe to it first. */
static void sclient_open(bench *b, sclient *c, int port, const char *sub_name, uint64_t sub_id,
                         const slim_buf *sends) {
    char target[64];
    snprintf(target, sizeof target, "http://127.0.0.1:%d", port);
    c->b = b;
    c->in = sends != NULL ? slim_buf_view(sends) : slim_bytes_of(NULL, 0);
    slim_grpc_config gc = {.send_queue_limit = 8u << 20};
    if (slim_grpc_client_new(&b->loop, target, &gc, NULL, NULL, &c->client) != SLIM_OK)
        die("client");
    slim_grpc_call_opts o = {.method = METHOD};
    if (slim_grpc_client_open(c->client, &o, &cbs, c, &c->call) != SLIM_OK)
        die("open");
    uint8_t pk[SLIM_HDRMAC_KEY_SIZE];
    slim_uuid_v4(c->link_id);
    if (slim_hdrmac_keypair(c->sk, pk) != SLIM_OK)
        die("key pair");
    slim_buf l = link_msg(c->link_id, pk);
    slim_grpc_call_send(c->call, slim_buf_view(&l));
    slim_buf_cleanup(&l);
    if (sub_name != NULL) {
        c->subscriber = true;
        c->sub = sub_msg(sub_name, sub_id);
    }
}

/* Publisher: keeps the queue full until everything is queued. */
static void pump(sclient *c) {
    bench *b = c->b;
    while (b->sent < b->to_send && !c->writable_wait) {
        slim_status st = slim_grpc_call_send(c->call, slim_buf_view(&c->out));
        if (st == SLIM_E_QUEUE_FULL) {
            c->writable_wait = true;
            return;
        }
        if (st != SLIM_OK)
            die("publish send");
        b->sent++;
    }
}

static void idle_check(uv_timer_t *t) {
    bench *b = t->data;
    if (b->last_activity_ns != 0 && slim_now_ns() - b->last_activity_ns > 3000000000ull)
        uv_stop(&b->loop); /* nothing for 3 s: messages were dropped */
}

static void close_all(bench *b) {
    for (int i = 0; i < b->n; i++) {
        if (b->clients[i].call != NULL)
            slim_grpc_call_cancel(b->clients[i].call);
        slim_grpc_client_free(b->clients[i].client);
        slim_buf_cleanup(&b->clients[i].sub);
        slim_buf_cleanup(&b->clients[i].out);
    }
    if (!uv_is_closing((uv_handle_t *)&b->idle))
        uv_close((uv_handle_t *)&b->idle, NULL);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    uv_loop_close(&b->loop);
}

static void wait_ready(bench *b) {
    while (b->ready < b->n)
        if (uv_run(&b->loop, UV_RUN_ONCE) == 0)
            die("loop ended before the clients were ready");
}

static int slim_pubsub(int port, int nsubs, long nmsgs, size_t size) {
    int ready[2], result[2];
    if (pipe(ready) || pipe(result))
        die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        bench b = {.n = nsubs, .target = nmsgs, .ready_fd = ready[1]};
        uv_loop_init(&b.loop);
        b.clients = calloc((size_t)nsubs, sizeof *b.clients);
        for (int i = 0; i < nsubs; i++)
            sclient_open(&b, &b.clients[i], port, "bench/load/topic", (uint64_t)i + 1, NULL);
        uv_timer_init(&b.loop, &b.idle);
        b.idle.data = &b;
        uv_timer_start(&b.idle, idle_check, 500, 500);
        uv_run(&b.loop, UV_RUN_DEFAULT);
        uint64_t first = UINT64_MAX, last = 0;
        long total = 0;
        for (int i = 0; i < nsubs; i++) {
            total += b.clients[i].received;
            if (b.clients[i].received > 0 && b.clients[i].first_ns < first)
                first = b.clients[i].first_ns;
            if (b.clients[i].last_ns > last)
                last = b.clients[i].last_ns;
        }
        double secs = last > first ? (double)(last - first) / 1e9 : 1e-9;
        char line[256];
        int n = snprintf(line, sizeof line, "%ld %.6f\n", total, secs);
        (void)!write(result[1], line, (size_t)n);
        close_all(&b);
        free(b.clients);
        _exit(0);
    }
    char c;
    if (read(ready[0], &c, 1) != 1)
        die("subscribers did not get ready");
    bench b = {.n = 1, .to_send = nmsgs, .ready_fd = -1};
    uv_loop_init(&b.loop);
    b.clients = calloc(1, sizeof *b.clients);
    b.pub = pub_msg("bench/load/topic", nsubs > 1 ? 256 : 1, size);
    sclient_open(&b, &b.clients[0], port, NULL, 0, &b.pub);
    uv_timer_init(&b.loop, &b.idle);
    wait_ready(&b);
    uint64_t t0 = slim_now_ns();
    pump(&b.clients[0]);
    while (b.sent < b.to_send || slim_grpc_call_send_queued(b.clients[0].call) > 0)
        uv_run(&b.loop, UV_RUN_ONCE);
    double pub_secs = (double)(slim_now_ns() - t0) / 1e9;
    char line[256] = {0};
    if (read(result[0], line, sizeof line - 1) <= 0)
        die("no result from the subscribers");
    waitpid(pid, NULL, 0);
    long got = 0;
    double secs = 0;
    sscanf(line, "%ld %lf", &got, &secs);
    printf("RESULT system=slim mode=pubsub subs=%d msgs=%ld size=%zu pub_rate=%.0f "
           "deliveries=%ld delivery_rate=%.0f lost=%ld\n",
           nsubs, nmsgs, size, (double)nmsgs / pub_secs, got, (double)got / secs,
           (long)nsubs * nmsgs - got);
    slim_buf_cleanup(&b.pub);
    close_all(&b);
    free(b.clients);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void print_latency(const char *system, double *lat, long n, size_t size) {
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    printf("RESULT system=%s mode=rr rounds=%ld size=%zu p50_us=%.1f p99_us=%.1f\n", system, n,
           size, lat[n / 2], lat[(long)((double)n * 0.99)]);
}

static int slim_rr(int port, long n, size_t size) {
    int ready[2];
    if (pipe(ready))
        die("pipe");
    pid_t pid = fork();
    if (pid == 0) { /* responder */
        bench b = {.n = 1, .rr = true, .ready_fd = ready[1]};
        uv_loop_init(&b.loop);
        b.clients = calloc(1, sizeof *b.clients);
        b.reply = pub_msg("bench/rr/client", 1, size);
        sclient_open(&b, &b.clients[0], port, "bench/rr/server", 1, &b.reply);
        uv_timer_init(&b.loop, &b.idle);
        b.idle.data = &b;
        uv_timer_start(&b.idle, idle_check, 500, 500);
        uv_run(&b.loop, UV_RUN_DEFAULT);
        slim_buf_cleanup(&b.reply);
        close_all(&b);
        free(b.clients);
        _exit(0);
    }
    char c;
    if (read(ready[0], &c, 1) != 1)
        die("responder did not get ready");
    bench b = {.n = 1, .rr = true, .ready_fd = -1, .rounds = n + 100};
    uv_loop_init(&b.loop);
    b.clients = calloc(1, sizeof *b.clients);
    b.lat = calloc((size_t)b.rounds, sizeof *b.lat);
    b.pub = pub_msg("bench/rr/server", 1, size);
    sclient_open(&b, &b.clients[0], port, "bench/rr/client", 1, &b.pub);
    uv_timer_init(&b.loop, &b.idle);
    wait_ready(&b);
    b.t_sent = slim_now_ns();
    slim_grpc_call_send(b.clients[0].call, slim_buf_view(&b.clients[0].out));
    uv_run(&b.loop, UV_RUN_DEFAULT);
    print_latency("slim", b.lat + 100, n, size); /* the first 100 warm up */
    free(b.lat);
    slim_buf_cleanup(&b.pub);
    close_all(&b);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(b.clients);
    return 0;
}

/* ---- NATS text protocol, raw sockets ---- */

static int tcp_connect(int port) {
    int s = bench_tcp_connect(port);
    if (s < 0)
        die("connect");
    return s;
}

static void write_all(int s, const void *p, size_t n) {
    if (!bench_write_all(s, p, n))
        die("write");
}

static void read_all(int s, void *p, size_t n) {
    if (!bench_read_all(s, p, n))
        die("read");
}

/* CONNECT, then PING/PONG to know the server has processed what we sent. */
static int nats_connect(int port) {
    int s = tcp_connect(port);
    char info[4096];
    if (read(s, info, sizeof info) <= 0)
        die("no INFO from nats-server");
    const char *c = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
    write_all(s, c, strlen(c));
    return s;
}

static void nats_sync(int s) {
    write_all(s, "PING\r\n", 6);
    char buf[4096];
    size_t have = 0;
    for (;;) {
        ssize_t r = read(s, buf + have, sizeof buf - have - 1);
        if (r <= 0)
            die("nats sync");
        have += (size_t)r;
        buf[have] = '\0';
        if (strstr(buf, "PONG") != NULL)
            return;
        if (have > sizeof buf / 2)
            have = 0;
    }
}

static int nats_pubsub(int port, int nsubs, long nmsgs, size_t size) {
    int ready[2], result[2];
    if (pipe(ready) || pipe(result))
        die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        int *s = calloc((size_t)nsubs, sizeof *s);
        struct pollfd *pf = calloc((size_t)nsubs, sizeof *pf);
        long *got = calloc((size_t)nsubs, sizeof *got);
        for (int i = 0; i < nsubs; i++) {
            s[i] = nats_connect(port);
            write_all(s[i], "SUB bench 1\r\n", 13);
            nats_sync(s[i]);
            pf[i] = (struct pollfd){.fd = s[i], .events = POLLIN};
        }
        (void)!write(ready[1], "r", 1);
        char hdr[64];
        long per = (long)snprintf(hdr, sizeof hdr, "MSG bench 1 %zu\r\n", size) + (long)size + 2;
        long need = per * nmsgs, total = 0, done = 0;
        uint64_t first = 0, last = 0;
        char *buf = malloc(1 << 20);
        while (done < nsubs) {
            int r = poll(pf, (nfds_t)nsubs, 3000);
            if (r <= 0)
                break; /* quiet for 3 s */
            for (int i = 0; i < nsubs; i++) {
                if (!(pf[i].revents & POLLIN))
                    continue;
                ssize_t n = read(s[i], buf, 1 << 20);
                if (n <= 0) {
                    pf[i].fd = -1;
                    done++;
                    continue;
                }
                uint64_t now = slim_now_ns();
                if (first == 0)
                    first = now;
                last = now;
                got[i] += n;
                total += n;
                if (got[i] >= need) {
                    pf[i].fd = -1;
                    done++;
                }
            }
        }
        double secs = last > first ? (double)(last - first) / 1e9 : 1e-9;
        char line[128];
        int n = snprintf(line, sizeof line, "%ld %.6f\n", total / per, secs);
        (void)!write(result[1], line, (size_t)n);
        _exit(0);
    }
    char c;
    if (read(ready[0], &c, 1) != 1)
        die("nats subscribers did not get ready");
    int s = nats_connect(port);
    char one[64];
    int hl = snprintf(one, sizeof one, "PUB bench %zu\r\n", size);
    size_t ol = (size_t)hl + size + 2;
    size_t per = 65536 / ol ? 65536 / ol : 1;
    char *batch = malloc(per * ol);
    for (size_t i = 0; i < per; i++) {
        memcpy(batch + i * ol, one, (size_t)hl);
        memset(batch + i * ol + hl, 'x', size);
        memcpy(batch + i * ol + hl + size, "\r\n", 2);
    }
    uint64_t t0 = slim_now_ns();
    for (long sent = 0; sent < nmsgs;) {
        long k = nmsgs - sent < (long)per ? nmsgs - sent : (long)per;
        write_all(s, batch, (size_t)k * ol);
        sent += k;
    }
    nats_sync(s);
    double pub_secs = (double)(slim_now_ns() - t0) / 1e9;
    char line[128] = {0};
    if (read(result[0], line, sizeof line - 1) <= 0)
        die("no result from the nats subscribers");
    waitpid(pid, NULL, 0);
    long got = 0;
    double secs = 0;
    sscanf(line, "%ld %lf", &got, &secs);
    printf("RESULT system=nats mode=pubsub subs=%d msgs=%ld size=%zu pub_rate=%.0f "
           "deliveries=%ld delivery_rate=%.0f lost=%ld\n",
           nsubs, nmsgs, size, (double)nmsgs / pub_secs, got, (double)got / secs,
           (long)nsubs * nmsgs - got);
    free(batch);
    close(s);
    return 0;
}

static int nats_rr(int port, long n, size_t size) {
    char hdr[64];
    size_t inlen = (size_t)snprintf(hdr, sizeof hdr, "MSG x 1 %zu\r\n", size) + size + 2;
    char *in = malloc(inlen);
    char *req = malloc(size + 64), *rep = malloc(size + 64);
    int rl = snprintf(req, 64, "PUB a %zu\r\n", size);
    memset(req + rl, 'y', size);
    memcpy(req + rl + size, "\r\n", 2);
    size_t reql = (size_t)rl + size + 2;
    memcpy(rep, req, reql);
    rep[4] = 'b';
    int ready[2];
    if (pipe(ready))
        die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        int s = nats_connect(port);
        write_all(s, "SUB a 1\r\n", 9);
        nats_sync(s);
        (void)!write(ready[1], "r", 1);
        for (;;) {
            read_all(s, in, inlen);
            write_all(s, rep, reql);
        }
    }
    char c;
    if (read(ready[0], &c, 1) != 1)
        die("nats responder did not get ready");
    int s = nats_connect(port);
    write_all(s, "SUB b 1\r\n", 9);
    nats_sync(s);
    long rounds = n + 100;
    double *lat = calloc((size_t)rounds, sizeof *lat);
    for (long i = 0; i < rounds; i++) {
        uint64_t t = slim_now_ns();
        write_all(s, req, reql);
        read_all(s, in, inlen);
        lat[i] = (double)(slim_now_ns() - t) / 1000.0;
    }
    print_latency("nats", lat + 100, n, size);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(lat);
    return 0;
}

/* ---- raw-TCP relay: the floor for request/reply through one hop ---- */

static int relay_rr(long n, size_t size) {
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4) ||
        getsockname(ls, (struct sockaddr *)&a, &al))
        die("relay listen");
    int port = ntohs(a.sin_port);
    size_t frame = 5 + size;
    pid_t relay = fork();
    if (relay == 0) { /* the relay: forwards whole frames between two peers */
        int p[2];
        for (int i = 0; i < 2; i++) {
            p[i] = accept(ls, NULL, NULL);
            int one = 1;
            setsockopt(p[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        struct pollfd pf[2] = {{.fd = p[0], .events = POLLIN}, {.fd = p[1], .events = POLLIN}};
        char *buf = malloc(frame);
        for (;;) {
            if (poll(pf, 2, -1) <= 0)
                _exit(0);
            for (int i = 0; i < 2; i++) {
                if (pf[i].revents & (POLLHUP | POLLERR))
                    _exit(0);
                if (pf[i].revents & POLLIN) {
                    read_all(p[i], buf, frame);
                    write_all(p[1 - i], buf, frame);
                }
            }
        }
    }
    pid_t echo = fork();
    if (echo == 0) {
        int s = tcp_connect(port);
        char *buf = malloc(frame);
        for (;;) {
            read_all(s, buf, frame);
            write_all(s, buf, frame);
        }
    }
    int s = tcp_connect(port);
    char *buf = calloc(1, frame);
    buf[4] = (char)(size & 0xff);
    long rounds = n + 100;
    double *lat = calloc((size_t)rounds, sizeof *lat);
    for (long i = 0; i < rounds; i++) {
        uint64_t t = slim_now_ns();
        write_all(s, buf, frame);
        read_all(s, buf, frame);
        lat[i] = (double)(slim_now_ns() - t) / 1000.0;
    }
    print_latency("relay", lat + 100, n, size);
    kill(echo, SIGTERM);
    kill(relay, SIGTERM);
    waitpid(echo, NULL, 0);
    waitpid(relay, NULL, 0);
    free(lat);
    return 0;
}

static const char usage[] =
    "usage: bench_node slim-pubsub PORT NSUBS NMSGS SIZE   publisher -> node -> NSUBS subscribers\n"
    "       bench_node nats-pubsub PORT NSUBS NMSGS SIZE   the same through nats-server\n"
    "       bench_node slim-rr     PORT N SIZE             request/reply through the node\n"
    "       bench_node nats-rr     PORT N SIZE             the same through nats-server\n"
    "       bench_node relay-rr    N SIZE                  the same through a raw-TCP relay\n"
    "\n"
    "Load generators for bench/node/run.py; each prints one RESULT line.\n"
    "SLIM clients offer a header MAC key and tag what they send; SLIM_BENCH_MAC=off:\n"
    "no key (for a node with require_header_mac: false).\n";

typedef struct arg {
    const char *name;
    long max;
} arg;

/* Checks the numeric arguments of a mode (argv[2..]) into out[]. */
static bool numbers(int argc, char **argv, const arg *args, long *out) {
    for (int i = 2; i < argc; i++)
        if (!bench_count(argv[i], args[i - 2].name, 1, args[i - 2].max, &out[i - 2]))
            return false;
    return true;
}

int main(int argc, char **argv) {
    static const arg pubsub[] = {
        {"PORT", 65535}, {"NSUBS", 100000}, {"NMSGS", 1000000000}, {"SIZE", 4 << 20}};
    static const arg rr[] = {{"PORT", 65535}, {"N", 1000000000}, {"SIZE", 4 << 20}};
    static const arg relay[] = {{"N", 1000000000}, {"SIZE", 4 << 20}};
    if (bench_help_asked(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    const char *mac = getenv("SLIM_BENCH_MAC");
    use_mac = mac == NULL || strcmp(mac, "off") != 0;
    const char *m = argc > 1 ? argv[1] : "";
    long v[4];
    bool is_pubsub = strcmp(m, "slim-pubsub") == 0 || strcmp(m, "nats-pubsub") == 0;
    bool is_rr = strcmp(m, "slim-rr") == 0 || strcmp(m, "nats-rr") == 0;
    bool is_relay = strcmp(m, "relay-rr") == 0;
    int want = is_pubsub ? 6 : is_rr ? 5 : is_relay ? 4 : -1;
    if (argc != want) {
        fputs(usage, stderr);
        return 2;
    }
    if (!numbers(argc, argv, is_pubsub ? pubsub : is_rr ? rr : relay, v))
        return 2;
    if (strcmp(m, "slim-pubsub") == 0)
        return slim_pubsub((int)v[0], (int)v[1], v[2], (size_t)v[3]);
    if (strcmp(m, "nats-pubsub") == 0)
        return nats_pubsub((int)v[0], (int)v[1], v[2], (size_t)v[3]);
    if (strcmp(m, "slim-rr") == 0)
        return slim_rr((int)v[0], v[1], (size_t)v[2]);
    if (strcmp(m, "nats-rr") == 0)
        return nats_rr((int)v[0], v[1], (size_t)v[2]);
    return relay_rr(v[0], (size_t)v[1]);
}
