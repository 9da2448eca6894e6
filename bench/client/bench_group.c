/*
 * Groups through one node, beside nats-server: bench/client/run.py's
 * `group` and `mls` scenarios drive it.
 *
 *   bench_group slim PORT N SIZE MODE [--all] [--rate R] [--window W] [--mls]
 *   bench_group nats PORT N SIZE [--all] [--rate R]
 *   bench_group invite PORT MEMBERS [--procs P] [--mls] [--node-pid PID]
 *
 * Ten members, each its own process, on one server on 127.0.0.1:PORT.
 * Without --all member 0 publishes N messages of SIZE bytes and the nine
 * others receive them (1 -> 9); with --all every member publishes N and
 * receives the other nine's. With --rate R each publisher sends R
 * messages per second (below saturation) and every delivery's one-way
 * latency is measured: each payload starts with its sequence number, its
 * publisher and the CLOCK_MONOTONIC time of its publish call (one host,
 * one clock); the first tenth of each publisher's messages is not
 * counted.
 *
 * slim: every member is an app of the public client API with a
 * shared-secret identity (the same secret), connected to our `slim` node
 * (header MACs on: the node's default). Member 0 is the moderator: it
 * creates a MULTICAST session on a channel (MODE "reliable": timeout_ms
 * 1000, max_retries 5; "unreliable": both 0) and invites the nine others,
 * each of which waits in slim_app_listen; then all start at once. A
 * publisher keeps up to W (default 256) slim_session_publish_async calls
 * in flight (bench_send in bench_app.h); each receiver reads with
 * slim_session_get_message on a thread of its own and counts distinct
 * messages, duplicates and its own messages (which should never come
 * back).
 *
 * nats: every member is a raw connection speaking NATS's text protocol
 * (no client library, as bench/node's load generators), CONNECT with
 * echo off, the receivers subscribed to one subject; a publisher writes
 * 64 KiB batches of PUBs (one PUB per due message with --rate), a
 * receiver parses each MSG and counts it as above.
 *
 * The rate is the distinct deliveries over all receivers divided by the
 * time from the first publish to the last delivery. Prints one line
 * "RESULT key=value ...": deliveries, delivery_rate, lost, duplicates,
 * what the apps dropped (session queue full), the members' CPU per
 * delivery (all their threads), p50/p99 latency with --rate, and for slim
 * how long the invitations took.
 *
 * invite: the time to invite the last of MEMBERS members into a group of
 * MEMBERS - 1 (slim only). The members are apps as above, spread over P
 * processes (default: one each; member i in process i % P, the moderator,
 * member 0, in process 0), each app with its own loop thread (the
 * library's) and a thread of ours that waits in slim_app_listen. The
 * moderator creates the group (reliable, as MODE "reliable") and invites
 * the others one at a time, each from slim_session_invite_async to its
 * SLIM_EVENT_OP_DONE: the invitation, the commit and Welcome with MLS,
 * and every member's acknowledgement (include/slim/session.h). Around the
 * last one the parent reads the CPU time of every member process (all
 * threads: /proc/PID/task/TID/schedstat) and of the node with
 * --node-pid. Prints one line "RESULT mode=invite ...": the last
 * invitation, the one before it, the first, the whole build before the
 * last, the CPU the last took (moderator's process, the others, the
 * node), and how long the moderator's closing delete took.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll */
#endif
#include "../bench_args.h"
#include "../bench_net.h"
#include "bench_app.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MEMBERS    10
#define QUIET_MS   3000  /* a receiver stops after this long without a message */
#define HDR        24    /* payload: sequence (8), publisher (4), unused (4), time (8) */
#define WAIT_S     120   /* the longest a phase may take before the run is abandoned */
#define BATCH      65536 /* nats: bytes of PUBs written at once */
#define RBUF       (1 << 20)
#define SUBJECT    "bench.group"
#define MAX_PROCS  1024 /* invite: members, so processes too */
#define INV_WAIT_S 900  /* invite: the longest the build of the group may take */

typedef struct cfg {
    bool nats;
    int port;
    long n;
    size_t size;
    bool reliable, all, mls;
    double rate;
    long window;
    long tag; /* names this run's apps and channel apart from earlier runs' */
    /* invite */
    bool invite;
    int members, procs;
    long node_pid; /* 0: none */
} cfg;

/* One member's figures, in memory shared with the parent. */
typedef struct result {
    long got, dups, own, other, dropped, queue_full, undelivered, nlat;
    long rx_drops; /* the app's counters: messages it dropped on arrival (docs/client.md) */
    long msg_lost; /* SLIM_EVENT_MESSAGE_LOST: a sender's message given up on */
    long quiet;    /* 1: this receiver stopped short, nothing came for QUIET_MS */
    uint64_t first_pub, last_rx; /* CLOCK_MONOTONIC ns; 0: none */
    double cpu_s;                /* the process's CPU from the start to the end of the data */
    double setup_s, close_s;     /* slim moderator: the invitations, the closing delete */
} result;

typedef struct shared {
    result r[MEMBERS];
    float lat[]; /* MEMBERS * lat_cap one-way latencies, us */
} shared;

/* The pipes between the parent and the members: `up` (members -> parent:
 * one byte when connected, one when done), `go` (parent -> all: one byte
 * each to start), `mod` (parent -> slim's moderator: 'i' to invite once
 * the others listen, 'c' to close once all are done). invite adds `back`
 * (the moderator -> parent: before and after the last invitation, and
 * when the group is closed) and `fin` (parent -> each member: leave). */
typedef struct ctl {
    int up[2], go[2], mod[2], back[2], fin[2];
} ctl;

static pid_t children[MAX_PROCS];
static bool reaped[MAX_PROCS];
static int nchildren;

static bool publishes(const cfg *c, int idx) {
    return c->all || idx == 0;
}

static long expected(const cfg *c, int idx) {
    return c->all ? (MEMBERS - 1) * c->n : (idx == 0 ? 0 : c->n);
}

static long lat_cap(const cfg *c) {
    return c->rate > 0 ? (MEMBERS - 1) * c->n : 0;
}

static void put_token(int fd, char t) {
    if (write(fd, &t, 1) != 1)
        bench_die("pipe write", SLIM_E_IO);
}

static char take_token(int fd) {
    char t = 0;
    if (read(fd, &t, 1) != 1)
        bench_die("pipe read", SLIM_E_IO);
    return t;
}

/* ---- what a receiver counts ---- */

typedef struct tally {
    const cfg *c;
    int self;
    uint8_t *seen; /* [MEMBERS * n]: by publisher and sequence */
    result *r;
    float *lat;
    long want;
} tally;

static void tally_init(tally *t, const cfg *c, int idx, shared *sh) {
    *t = (tally){.c = c,
                 .self = idx,
                 .seen = calloc((size_t)(MEMBERS * c->n), 1),
                 .r = &sh->r[idx],
                 .lat = sh->lat + (size_t)idx * (size_t)lat_cap(c),
                 .want = expected(c, idx)};
}

static void tally_one(tally *t, const uint8_t *p, size_t len, uint64_t now) {
    uint64_t seq = UINT64_MAX, sent = 0;
    uint32_t pub = UINT32_MAX;
    if (len >= HDR) {
        memcpy(&seq, p, 8);
        memcpy(&pub, p + 8, 4);
        memcpy(&sent, p + 16, 8);
    }
    result *r = t->r;
    r->last_rx = now;
    if (pub >= MEMBERS || seq >= (uint64_t)t->c->n) {
        r->other++;
    } else if ((int)pub == t->self) {
        r->own++;
    } else if (t->seen[(size_t)pub * (size_t)t->c->n + seq]) {
        r->dups++;
    } else {
        t->seen[(size_t)pub * (size_t)t->c->n + seq] = 1;
        r->got++;
        if (t->lat != NULL && seq >= (uint64_t)(t->c->n / 10) && r->nlat < lat_cap(t->c))
            t->lat[r->nlat++] = (float)((double)(now - sent) / 1000.0);
    }
}

static void put_header(uint8_t *p, uint64_t seq, uint32_t pub) {
    uint64_t now = bench_now_ns();
    memcpy(p, &seq, 8);
    memcpy(p + 8, &pub, 4);
    memcpy(p + 16, &now, 8);
}

/* ---- slim ---- */

static void member_name(const cfg *c, int idx, char *buf, size_t cap) {
    snprintf(buf, cap, "bench/group/m%d-%ld", idx, c->tag);
}

static void channel_name(const cfg *c, char *buf, size_t cap) {
    snprintf(buf, cap, "bench/group/chan-%ld", c->tag);
}

typedef struct slim_reader {
    slim_app *app;
    slim_session_id s;
    tally t;
} slim_reader;

static void *slim_read(void *arg) {
    slim_reader *rd = arg;
    while (rd->t.r->got < rd->t.want) {
        slim_message *m = NULL;
        slim_status st = slim_session_get_message(rd->app, rd->s, QUIET_MS, &m);
        if (st != SLIM_OK) { /* quiet: the rest was lost */
            rd->t.r->quiet = 1;
            fprintf(stderr, "bench_group: member %d stopped at %ld of %ld: %s\n", rd->t.self,
                    rd->t.r->got, rd->t.want, slim_status_name(st));
            break;
        }
        tally_one(&rd->t, m->payload.ptr, m->payload.len, bench_now_ns());
        slim_message_free(m);
    }
    return NULL;
}

static void fill_group(bench_sender *b, uint64_t seq) {
    put_header(b->payload, seq, (uint32_t)(intptr_t)b->ctx);
}

/* The moderator: the group, with every other member invited. */
static slim_session_id slim_group(const cfg *c, slim_app *app) {
    char chan[64], name[64];
    channel_name(c, chan, sizeof chan);
    slim_session_options o = {.type = SLIM_SESSION_MULTICAST,
                              .peer = chan,
                              .timeout_ms = c->reliable ? 1000 : 0,
                              .max_retries = c->reliable ? 5 : 0,
                              .mls = c->mls};
    slim_session_id s = 0;
    slim_status st = slim_session_create(app, &o, BENCH_SETUP_MS, &s);
    if (st != SLIM_OK)
        bench_die("create the group", st);
    for (int i = 1; i < MEMBERS; i++) {
        member_name(c, i, name, sizeof name);
        if ((st = slim_app_set_route(app, name, 0, BENCH_SETUP_MS)) != SLIM_OK)
            bench_die("route", st);
        if ((st = slim_session_invite(app, s, name, BENCH_SETUP_MS)) != SLIM_OK)
            bench_die("invite", st);
    }
    return s;
}

/* Publishes (when this member does) while a thread reads (when it
 * receives). */
static void slim_data(const cfg *c, int idx, slim_app *app, slim_session_id s, shared *sh) {
    result *r = &sh->r[idx];
    slim_reader rd = {.app = app, .s = s};
    tally_init(&rd.t, c, idx, sh);
    pthread_t th;
    bool reads = rd.t.want > 0;
    if (reads && pthread_create(&th, NULL, slim_read, &rd) != 0)
        bench_die("thread", SLIM_E_IO);
    if (publishes(c, idx)) {
        uint8_t *payload = calloc(1, c->size);
        memset(payload + HDR, 'x', c->size - HDR);
        bench_sender b = {.app = app,
                          .s = s,
                          .n = c->n,
                          .window = c->window,
                          .rate = c->rate,
                          .payload = payload,
                          .size = c->size,
                          .fill = fill_group,
                          .ctx = (void *)(intptr_t)idx};
        bench_send(&b);
        r->first_pub = b.first_ns;
        r->queue_full = b.queue_full;
        r->dropped = b.dropped;
        r->undelivered = b.undelivered;
        free(payload);
    }
    if (reads)
        pthread_join(th, NULL);
    free(rd.t.seen);
    /* What this app's session queue dropped, and anything else said. */
    slim_event ev;
    while (slim_app_next_event(app, 0, &ev) == SLIM_OK) {
        if (ev.kind == SLIM_EVENT_DROPPED)
            r->dropped += (long)ev.count;
        if (ev.kind == SLIM_EVENT_UNDELIVERED)
            r->undelivered++;
        if (ev.kind == SLIM_EVENT_MESSAGE_LOST)
            r->msg_lost++;
    }
    slim_app_counters n;
    if (slim_app_counters_get(app, &n) == SLIM_OK)
        r->rx_drops = (long)(n.drop_identity + n.drop_malformed + n.drop_other);
}

static void slim_member(const cfg *c, int idx, const ctl *k, shared *sh) {
    char name[64];
    member_name(c, idx, name, sizeof name);
    slim_app *app = bench_app_on(name, c->port);
    result *r = &sh->r[idx];
    slim_session_id s = 0;
    slim_status st;
    if (idx == 0) {
        take_token(k->mod[0]); /* the others listen */
        uint64_t t = bench_now_ns();
        s = slim_group(c, app);
        r->setup_s = (double)(bench_now_ns() - t) / 1e9;
    } else {
        put_token(k->up[1], 'r');
        if ((st = slim_app_listen(app, BENCH_SETUP_MS * 4, &s)) != SLIM_OK)
            bench_die("listen", st);
    }
    if (idx == 0)
        put_token(k->up[1], 'r');
    take_token(k->go[0]);
    bench_cpu c0 = bench_cpu_now();
    slim_data(c, idx, app, s, sh);
    r->cpu_s = bench_cpu_now().process - c0.process;
    put_token(k->up[1], 'd');
    if (idx == 0) {
        take_token(k->mod[0]); /* all are done */
        uint64_t t = bench_now_ns();
        st = slim_session_delete(app, s, BENCH_CLOSE_MS);
        r->close_s = (double)(bench_now_ns() - t) / 1e9;
        if (st != SLIM_OK)
            fprintf(stderr, "bench_group: closing the group: %s\n", slim_status_name(st));
    } else {
        /* Until the moderator ends the group. */
        for (slim_message *m = NULL;
             slim_session_get_message(app, s, BENCH_CLOSE_MS, &m) == SLIM_OK;)
            slim_message_free(m);
    }
    slim_app_free(app, BENCH_CLOSE_MS);
}

/* ---- nats: the text protocol on raw sockets ---- */

static void write_all(int s, const void *p, size_t n) {
    if (!bench_write_all(s, p, n))
        bench_die("write to nats-server", SLIM_E_IO);
}

/* CONNECT (echo off: a member never gets its own messages back), SUB when
 * it receives, then PING/PONG: the server has taken both. */
static int nats_open(bool sub, int port) {
    int s = bench_tcp_connect(port);
    if (s < 0)
        bench_die("connect to nats-server", SLIM_E_IO);
    char buf[4096];
    if (read(s, buf, sizeof buf) <= 0)
        bench_die("no INFO from nats-server", SLIM_E_IO);
    const char *c = "CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false}\r\n";
    write_all(s, c, strlen(c));
    if (sub)
        write_all(s, "SUB " SUBJECT " 1\r\n", strlen("SUB " SUBJECT " 1\r\n"));
    write_all(s, "PING\r\n", 6);
    size_t have = 0;
    for (;;) {
        ssize_t r = read(s, buf + have, sizeof buf - have - 1);
        if (r <= 0)
            bench_die("no PONG from nats-server", SLIM_E_IO);
        have += (size_t)r;
        buf[have] = '\0';
        if (strstr(buf, "-ERR") != NULL)
            bench_die(buf, SLIM_E_IO);
        if (strstr(buf, "PONG") != NULL)
            return s;
        if (have > sizeof buf / 2)
            have = 0;
    }
}

/* A nats member's state: what it still has to write, what it has read. */
typedef struct nats_conn {
    const cfg *c;
    int idx, fd;
    char *out;
    size_t out_len, out_off;
    char *in;
    size_t in_len;
    long next;   /* the next message to publish */
    bool pinged; /* all published, PING queued */
    bool ponged; /* ... and answered: the server has every message */
    tally t;
} nats_conn;

/* Moves what is still to be written to the front of the buffer. */
static void nats_compact(nats_conn *nc) {
    memmove(nc->out, nc->out + nc->out_off, nc->out_len - nc->out_off);
    nc->out_len -= nc->out_off;
    nc->out_off = 0;
}

static void nats_queue(nats_conn *nc, const void *p, size_t len) {
    nats_compact(nc);
    if (nc->out_len + len > BATCH + 64)
        bench_die("nats: the output buffer is full", SLIM_E_IO);
    memcpy(nc->out + nc->out_len, p, len);
    nc->out_len += len;
}

/* Queues the messages due (all that fit a batch without --rate), then
 * the PING after the last. */
static void nats_publish(nats_conn *nc, uint64_t t0) {
    const cfg *c = nc->c;
    char hdr[64];
    int hl = snprintf(hdr, sizeof hdr, "PUB " SUBJECT " %zu\r\n", c->size);
    size_t frame = (size_t)hl + c->size + 2;
    nats_compact(nc);
    while (nc->next < c->n && nc->out_len + frame <= BATCH) {
        if (c->rate > 0 && bench_now_ns() < t0 + (uint64_t)((double)nc->next * 1e9 / c->rate))
            break;
        char *p = nc->out + nc->out_len;
        memcpy(p, hdr, (size_t)hl);
        memset(p + hl + HDR, 'x', c->size - HDR);
        put_header((uint8_t *)p + hl, (uint64_t)nc->next, (uint32_t)nc->idx);
        memcpy(p + hl + c->size, "\r\n", 2);
        nc->out_len += frame;
        nc->next++;
    }
    if (nc->next == c->n && !nc->pinged) {
        nats_queue(nc, "PING\r\n", 6);
        nc->pinged = true;
    }
}

/* Takes the complete protocol messages read so far. */
static void nats_parse(nats_conn *nc) {
    size_t off = 0;
    uint64_t now = bench_now_ns();
    while (off < nc->in_len) {
        char *p = nc->in + off;
        size_t avail = nc->in_len - off;
        char *eol = memchr(p, '\n', avail < 256 ? avail : 256);
        if (eol == NULL)
            break;
        size_t line = (size_t)(eol - p) + 1;
        if (avail >= 4 && memcmp(p, "MSG ", 4) == 0) {
            char *sp = eol - 1; /* the last field: the payload's size */
            while (sp > p && sp[-1] != ' ')
                sp--;
            size_t size = strtoul(sp, NULL, 10);
            if (avail < line + size + 2)
                break;
            tally_one(&nc->t, (uint8_t *)p + line, size, now);
            off += line + size + 2;
            continue;
        }
        if (avail >= 4 && memcmp(p, "PING", 4) == 0)
            nats_queue(nc, "PONG\r\n", 6);
        else if (avail >= 4 && memcmp(p, "PONG", 4) == 0)
            nc->ponged = true;
        else if (avail >= 4 && memcmp(p, "-ERR", 4) == 0)
            bench_die("nats-server said -ERR", SLIM_E_IO);
        off += line;
    }
    memmove(nc->in, nc->in + off, nc->in_len - off);
    nc->in_len -= off;
}

static void nats_data(nats_conn *nc) {
    const cfg *c = nc->c;
    bool pub = publishes(c, nc->idx);
    uint64_t t0 = bench_now_ns(), last_progress = t0;
    if (pub)
        nc->t.r->first_pub = t0;
    fcntl(nc->fd, F_SETFL, fcntl(nc->fd, F_GETFL) | O_NONBLOCK);
    while (!((!pub || nc->ponged) && nc->t.r->got >= nc->t.want)) {
        if (pub)
            nats_publish(nc, t0);
        uint64_t wait = 100000000u; /* ns */
        if (pub && c->rate > 0 && nc->next < c->n) {
            uint64_t due = t0 + (uint64_t)((double)nc->next * 1e9 / c->rate), now = bench_now_ns();
            wait = due > now ? due - now : 0;
        }
        struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
        struct pollfd pf = {.fd = nc->fd,
                            .events = POLLIN | (nc->out_off < nc->out_len ? POLLOUT : 0)};
        if (ppoll(&pf, 1, &ts, NULL) < 0)
            bench_die("poll", SLIM_E_IO);
        uint64_t now = bench_now_ns();
        if (pf.revents & POLLOUT) {
            ssize_t w = write(nc->fd, nc->out + nc->out_off, nc->out_len - nc->out_off);
            if (w < 0 && errno != EAGAIN)
                bench_die("write to nats-server", SLIM_E_IO);
            if (w > 0)
                nc->out_off += (size_t)w, last_progress = now;
        }
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(nc->fd, nc->in + nc->in_len, RBUF - nc->in_len);
            if (r == 0 || (r < 0 && errno != EAGAIN))
                bench_die("nats-server closed the connection", SLIM_E_IO);
            if (r > 0) {
                nc->in_len += (size_t)r;
                nats_parse(nc);
                last_progress = now;
            }
        }
        if (now - last_progress > (uint64_t)QUIET_MS * 1000000u) {
            nc->t.r->quiet = 1; /* the rest was lost */
            break;
        }
    }
}

static void nats_member(const cfg *c, int idx, const ctl *k, shared *sh) {
    nats_conn nc = {.c = c, .idx = idx, .out = malloc(BATCH + 64), .in = malloc(RBUF)};
    tally_init(&nc.t, c, idx, sh);
    nc.fd = nats_open(nc.t.want > 0, c->port);
    put_token(k->up[1], 'r');
    take_token(k->go[0]);
    bench_cpu c0 = bench_cpu_now();
    nats_data(&nc);
    sh->r[idx].cpu_s = bench_cpu_now().process - c0.process;
    put_token(k->up[1], 'd');
    close(nc.fd);
    free(nc.t.seen);
    free(nc.in);
    free(nc.out);
}

/* ---- the parent ---- */

static void kill_children(void) {
    for (int i = 0; i < nchildren; i++)
        if (children[i] > 0 && !reaped[i])
            kill(children[i], SIGKILL);
    for (int i = 0; i < nchildren; i++)
        if (children[i] > 0 && !reaped[i])
            waitpid(children[i], NULL, 0);
}

/* Reaps members that have exited; one that failed ends the run. */
static void check_children(void) {
    for (int i = 0; i < nchildren; i++) {
        int status = 0;
        if (children[i] <= 0 || reaped[i] || waitpid(children[i], &status, WNOHANG) <= 0)
            continue;
        reaped[i] = true;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench_group: member %d failed\n", i);
            bench_die("a member failed", SLIM_E_IO);
        }
    }
}

/* Waits for every process still running (each says when it failed);
 * from then on a bench_die has none to kill. */
static void reap_children(void) {
    for (int i = 0; i < nchildren; i++) {
        int status = 0;
        if (reaped[i])
            continue;
        waitpid(children[i], &status, 0);
        reaped[i] = true;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fprintf(stderr, "bench_group: process %d exited with %d\n", i, status);
    }
    bench_on_die = NULL;
}

/* Waits up to `wait_s` seconds for `count` bytes from the members. */
static void await_tokens(int fd, int count, int wait_s) {
    uint64_t until = bench_now_ns() + (uint64_t)wait_s * 1000000000u;
    while (count > 0) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = poll(&pf, 1, 200);
        if (r > 0) {
            take_token(fd);
            count--;
            continue;
        }
        check_children();
        if (bench_now_ns() > until)
            bench_die("the members took too long", SLIM_E_TIMEOUT);
    }
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static void report(const cfg *c, shared *sh) {
    result t = {0};
    uint64_t first = UINT64_MAX, last = 0;
    double cpu = 0;
    long want = 0, nlat = 0;
    for (int i = 0; i < MEMBERS; i++) {
        const result *r = &sh->r[i];
        t.got += r->got, t.dups += r->dups, t.own += r->own, t.other += r->other;
        t.dropped += r->dropped, t.queue_full += r->queue_full, t.undelivered += r->undelivered;
        t.rx_drops += r->rx_drops, t.msg_lost += r->msg_lost, t.quiet += r->quiet;
        want += expected(c, i);
        cpu += r->cpu_s;
        if (publishes(c, i) && r->first_pub > 0 && r->first_pub < first)
            first = r->first_pub;
        if (r->last_rx > last)
            last = r->last_rx;
        nlat += r->nlat;
    }
    double secs = last > first ? (double)(last - first) / 1e9 : 1e-9;
    double p50 = 0, p99 = 0;
    if (nlat > 0) {
        float *all = malloc((size_t)nlat * sizeof *all);
        long k = 0;
        for (int i = 0; i < MEMBERS; i++) {
            memcpy(all + k, sh->lat + (size_t)i * (size_t)lat_cap(c),
                   (size_t)sh->r[i].nlat * sizeof *all);
            k += sh->r[i].nlat;
        }
        qsort(all, (size_t)nlat, sizeof *all, cmp_float);
        p50 = all[nlat / 2];
        p99 = all[(long)((double)nlat * 0.99)];
        free(all);
    }
    printf("RESULT system=%s members=%d publishers=%d reliable=%d mls=%d msgs=%ld size=%zu "
           "rate=%.0f "
           "deliveries=%ld delivery_rate=%.0f lost=%ld dups=%ld own=%ld other=%ld dropped=%ld "
           "queue_full=%ld undelivered=%ld msg_lost=%ld rx_drops=%ld quiet=%ld cpu_us=%.2f "
           "latencies=%ld p50_us=%.1f p99_us=%.1f "
           "setup_s=%.3f close_s=%.3f\n",
           c->nats ? "nats" : "slim", MEMBERS, c->all ? MEMBERS : 1, c->reliable, c->mls, c->n,
           c->size, c->rate, t.got, (double)t.got / secs, want - t.got, t.dups, t.own, t.other,
           t.dropped, t.queue_full, t.undelivered, t.msg_lost, t.rx_drops, t.quiet,
           cpu * 1e6 / (double)(t.got > 0 ? t.got : 1), nlat, p50, p99, sh->r[0].setup_s,
           sh->r[0].close_s);
    fflush(stdout);
}

static int run(const cfg *c) {
    size_t bytes = sizeof(shared) + (size_t)MEMBERS * (size_t)lat_cap(c) * sizeof(float);
    shared *sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ctl k;
    if (sh == MAP_FAILED || pipe(k.up) || pipe(k.go) || pipe(k.mod))
        bench_die("shared memory or pipes", SLIM_E_IO);
    fflush(stdout);
    nchildren = MEMBERS;
    for (int i = 0; i < MEMBERS; i++) {
        pid_t pid = fork(); /* before any app: an app starts a thread */
        if (pid < 0)
            bench_die("fork", SLIM_E_IO);
        if (pid == 0) {
            bench_on_die = NULL;
            if (c->nats)
                nats_member(c, i, &k, sh);
            else
                slim_member(c, i, &k, sh);
            _exit(0);
        }
        children[i] = pid;
    }
    bench_on_die = kill_children;
    await_tokens(k.up[0], c->nats ? MEMBERS : MEMBERS - 1, WAIT_S); /* connected */
    if (!c->nats) {
        put_token(k.mod[1], 'i');
        await_tokens(k.up[0], 1, WAIT_S); /* the group is made */
    }
    for (int i = 0; i < MEMBERS; i++)
        put_token(k.go[1], 'g');
    await_tokens(k.up[0], MEMBERS, WAIT_S); /* done */
    if (!c->nats)
        put_token(k.mod[1], 'c');
    reap_children();
    report(c, sh);
    for (int i = 0; i < 2; i++)
        close(k.up[i]), close(k.go[i]), close(k.mod[i]);
    munmap(sh, bytes);
    return 0;
}

/* ---- invite: the last member into a group of MEMBERS - 1 ---- */

/* What the moderator measured, in memory shared with the parent. */
typedef struct inv_shared {
    double close_s;
    double invite_ms[MAX_PROCS]; /* [i]: member i's invitation */
} inv_shared;

static void inv_name(const cfg *c, int idx, char *buf, size_t cap) {
    snprintf(buf, cap, "bench/invite/m%d-%ld", idx, c->tag);
}

/* The invite's apps keep 1024 events instead of 65 536: an app's event
 * ring is allocated and zeroed whole when it is made (824 bytes an
 * event, 54 MB at the default), which is 5.4 GB to write for 100 apps
 * before the first invitation; these apps get a few hundred events at
 * most (a member: one per member that joins after it). */
static slim_app *inv_app(const cfg *c, int idx) {
    char name[64];
    inv_name(c, idx, name, sizeof name);
    slim_app_options o = {.event_queue = 1024};
    return bench_app_with(name, c->port, &o);
}

/* Invites `name` and waits for the operation's SLIM_EVENT_OP_DONE; its
 * wall time in ms. */
static double inv_one(slim_app *app, slim_session_id s, const char *name) {
    slim_op op;
    uint64_t t = bench_now_ns();
    slim_status st = slim_session_invite_async(app, s, name, &op);
    if (st != SLIM_OK)
        bench_die("invite", st);
    for (;;) {
        slim_event ev;
        if ((st = slim_app_next_event(app, INV_WAIT_S * 1000, &ev)) != SLIM_OK)
            bench_die("waiting for an invitation", st);
        if (ev.kind != SLIM_EVENT_OP_DONE || ev.op != op)
            continue; /* a member joined, ... */
        if (ev.status != SLIM_OK)
            bench_die(ev.detail, ev.status);
        return (double)(bench_now_ns() - t) / 1e6;
    }
}

/* Member 0: the group, every other member invited one at a time, the
 * parent told before and after the last; then the group closed. */
static void inv_moderator(const cfg *c, const ctl *k, inv_shared *sh) {
    char name[64], chan[64];
    slim_app *app = inv_app(c, 0);
    take_token(k->mod[0]); /* the others listen */
    snprintf(chan, sizeof chan, "bench/invite/chan-%ld", c->tag);
    slim_session_options o = {.type = SLIM_SESSION_MULTICAST,
                              .peer = chan,
                              .timeout_ms = 1000,
                              .max_retries = 5,
                              .mls = c->mls};
    slim_session_id s = 0;
    slim_status st = slim_session_create(app, &o, BENCH_SETUP_MS, &s);
    if (st != SLIM_OK)
        bench_die("create the group", st);
    for (int i = 1; i < c->members; i++) {
        inv_name(c, i, name, sizeof name);
        if ((st = slim_app_set_route(app, name, 0, BENCH_SETUP_MS)) != SLIM_OK)
            bench_die("route", st);
        bool last = i == c->members - 1;
        if (last) {
            put_token(k->back[1], 'b');
            take_token(k->mod[0]);
        }
        sh->invite_ms[i] = inv_one(app, s, name);
        if (last) {
            put_token(k->back[1], 'e');
            take_token(k->mod[0]);
        }
    }
    uint64_t t = bench_now_ns();
    st = slim_session_delete(app, s, BENCH_CLOSE_MS);
    sh->close_s = (double)(bench_now_ns() - t) / 1e9;
    if (st != SLIM_OK)
        fprintf(stderr, "bench_group: closing the group: %s\n", slim_status_name(st));
    put_token(k->back[1], 'd');
    slim_app_free(app, BENCH_CLOSE_MS);
}

typedef struct inv_arg {
    const cfg *c;
    const ctl *k;
    int idx;
} inv_arg;

/* A member other than the moderator: connects, says so, listens for the
 * invitation, then stays (its app's loop thread takes the commits) until
 * the parent says leave. */
static void *inv_member(void *arg) {
    const inv_arg *a = arg;
    slim_app *app = inv_app(a->c, a->idx);
    put_token(a->k->up[1], 'r');
    slim_session_id s = 0;
    slim_status st = slim_app_listen(app, INV_WAIT_S * 1000, &s);
    if (st != SLIM_OK)
        bench_die("listen", st);
    take_token(a->k->fin[0]);
    slim_app_free(app, BENCH_CLOSE_MS);
    return NULL;
}

/* Process p: its members, each on a thread, the moderator on this one. */
static void inv_proc(const cfg *c, int p, const ctl *k, inv_shared *sh) {
    int n = 0;
    for (int i = 1; i < c->members; i++)
        n += i % c->procs == p;
    pthread_t *th = calloc((size_t)(n ? n : 1), sizeof *th);
    inv_arg *args = calloc((size_t)(n ? n : 1), sizeof *args);
    if (th == NULL || args == NULL)
        bench_die("memory", SLIM_E_NOMEM);
    n = 0;
    for (int i = 1; i < c->members; i++) {
        if (i % c->procs != p)
            continue;
        args[n] = (inv_arg){.c = c, .k = k, .idx = i};
        if (pthread_create(&th[n], NULL, inv_member, &args[n]) != 0)
            bench_die("thread", SLIM_E_IO);
        n++;
    }
    if (p == 0)
        inv_moderator(c, k, sh);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    free(args);
    free(th);
}

/* CPU time so far of every thread of process pid, ns (0 when it is
 * gone). */
static uint64_t proc_cpu_ns(long pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/task", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    uint64_t sum = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char f[320];
        snprintf(f, sizeof f, "/proc/%ld/task/%s/schedstat", pid, e->d_name);
        FILE *fp = fopen(f, "r");
        unsigned long long ns = 0;
        if (fp != NULL && fscanf(fp, "%llu", &ns) == 1)
            sum += ns;
        if (fp != NULL)
            fclose(fp);
    }
    closedir(d);
    return sum;
}

/* CPU so far: [0] the moderator's process, [1] the others, [2] the node. */
static void inv_cpu(const cfg *c, uint64_t out[3]) {
    out[0] = proc_cpu_ns(children[0]);
    out[1] = 0;
    for (int i = 1; i < nchildren; i++)
        out[1] += proc_cpu_ns(children[i]);
    out[2] = c->node_pid > 0 ? proc_cpu_ns(c->node_pid) : 0;
}

static int run_invite(const cfg *c) {
    size_t bytes = sizeof(inv_shared);
    inv_shared *sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ctl k;
    if (sh == MAP_FAILED || pipe(k.up) || pipe(k.go) || pipe(k.mod) || pipe(k.back) || pipe(k.fin))
        bench_die("shared memory or pipes", SLIM_E_IO);
    fflush(stdout);
    nchildren = c->procs;
    for (int p = 0; p < c->procs; p++) {
        pid_t pid = fork(); /* before any app: an app starts a thread */
        if (pid < 0)
            bench_die("fork", SLIM_E_IO);
        if (pid == 0) {
            bench_on_die = NULL;
            inv_proc(c, p, &k, sh);
            _exit(0);
        }
        children[p] = pid;
    }
    bench_on_die = kill_children;
    await_tokens(k.up[0], c->members - 1, WAIT_S); /* connected */
    put_token(k.mod[1], 'i');
    uint64_t t0 = bench_now_ns(), cpu0[3], cpu1[3];
    await_tokens(k.back[0], 1, INV_WAIT_S); /* before the last invitation */
    double build_s = (double)(bench_now_ns() - t0) / 1e9;
    inv_cpu(c, cpu0);
    put_token(k.mod[1], 'g');
    await_tokens(k.back[0], 1, INV_WAIT_S); /* after it */
    inv_cpu(c, cpu1);
    put_token(k.mod[1], 'g');
    await_tokens(k.back[0], 1, WAIT_S); /* the group is closed */
    for (int i = 1; i < c->members; i++)
        put_token(k.fin[1], 'f');
    reap_children();
    int m = c->members;
    printf("RESULT system=slim mode=invite members=%d procs=%d mls=%d invite_ms=%.2f "
           "prev_ms=%.2f first_ms=%.2f build_s=%.3f cpu_mod_ms=%.2f cpu_members_ms=%.2f "
           "cpu_node_ms=%.2f close_s=%.3f\n",
           m, c->procs, c->mls, sh->invite_ms[m - 1], m > 2 ? sh->invite_ms[m - 2] : 0.0,
           sh->invite_ms[1], build_s, (double)(cpu1[0] - cpu0[0]) / 1e6,
           (double)(cpu1[1] - cpu0[1]) / 1e6, (double)(cpu1[2] - cpu0[2]) / 1e6, sh->close_s);
    fflush(stdout);
    for (int i = 0; i < 2; i++)
        close(k.up[i]), close(k.go[i]), close(k.mod[i]), close(k.back[i]), close(k.fin[i]);
    munmap(sh, bytes);
    return 0;
}

/* `invite PORT MEMBERS [--procs P] [--mls] [--node-pid PID]` */
static int main_invite(int argc, char **argv) {
    cfg c = {.invite = true, .tag = (long)getpid()};
    long port, members, v;
    if (argc < 4 || !bench_count(argv[2], "PORT", 1, 65535, &port) ||
        !bench_count(argv[3], "MEMBERS", 2, MAX_PROCS, &members))
        return 2;
    c.port = (int)port;
    c.members = (int)members;
    c.procs = c.members;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--mls") == 0) {
            c.mls = true;
        } else if (strcmp(argv[i], "--procs") == 0 && i + 1 < argc) {
            if (!bench_count(argv[++i], "--procs", 1, members, &v))
                return 2;
            c.procs = (int)v;
        } else if (strcmp(argv[i], "--node-pid") == 0 && i + 1 < argc) {
            if (!bench_count(argv[++i], "--node-pid", 1, 1L << 30, &c.node_pid))
                return 2;
        } else {
            fprintf(stderr, "bench_group invite: unexpected \"%s\"\n", argv[i]);
            return 2;
        }
    }
    return run_invite(&c);
}

static const char usage[] =
    "usage: bench_group slim PORT N SIZE MODE [--all] [--rate R] [--window W] [--mls]\n"
    "       bench_group nats PORT N SIZE [--all] [--rate R]\n"
    "       bench_group invite PORT MEMBERS [--procs P] [--mls] [--node-pid PID]\n"
    "\n"
    "Ten members (processes) through one server on 127.0.0.1:PORT: our slim node\n"
    "(apps with shared-secret identities in a MULTICAST session, the first\n"
    "member its moderator; header MACs as the node requires) or nats-server\n"
    "(the text protocol on raw sockets, one subject).\n"
    "  N         messages each publisher sends\n"
    "  SIZE      bytes per message (at least 24)\n"
    "  MODE      slim: reliable (timeout 1000 ms, 5 retries) or unreliable\n"
    "  --all     every member publishes (default: member 0 only, to the 9 others)\n"
    "  --rate R  each publisher sends R messages/s and latencies are measured\n"
    "  --window W  slim: publishes in flight per publisher (default 256)\n"
    "  --mls     slim: the group is an MLS group (end-to-end encrypted)\n"
    "invite: the time to invite the last of MEMBERS members (apps spread over\n"
    "P processes, default one each) into a group of MEMBERS - 1, and the CPU it\n"
    "took (the member processes; the node's with --node-pid).\n"
    "Prints one RESULT line.\n";

int main(int argc, char **argv) {
    if (bench_help_asked(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "invite") == 0)
        return main_invite(argc, argv);
    cfg c = {.window = 256, .tag = (long)getpid()};
    int fixed = argc > 1 && strcmp(argv[1], "slim") == 0 ? 6 : 5;
    if (argc < fixed || (strcmp(argv[1], "slim") != 0 && strcmp(argv[1], "nats") != 0)) {
        fputs(usage, stderr);
        return 2;
    }
    c.nats = strcmp(argv[1], "nats") == 0;
    long port, size;
    if (!bench_count(argv[2], "PORT", 1, 65535, &port) ||
        !bench_count(argv[3], "N", 1, 10000000, &c.n) ||
        !bench_count(argv[4], "SIZE", HDR, BATCH / 2, &size))
        return 2;
    c.port = (int)port;
    c.size = (size_t)size;
    if (!c.nats) {
        if (strcmp(argv[5], "reliable") != 0 && strcmp(argv[5], "unreliable") != 0) {
            fprintf(stderr, "MODE: reliable or unreliable, not \"%s\"\n", argv[5]);
            return 2;
        }
        c.reliable = strcmp(argv[5], "reliable") == 0;
    }
    for (int i = fixed; i < argc; i++) {
        long v;
        if (strcmp(argv[i], "--all") == 0) {
            c.all = true;
        } else if (strcmp(argv[i], "--mls") == 0 && !c.nats) {
            c.mls = true;
        } else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) {
            if (!bench_count(argv[++i], "--rate", 1, 10000000, &v))
                return 2;
            c.rate = (double)v;
        } else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc && !c.nats) {
            if (!bench_count(argv[++i], "--window", 1, BENCH_WINDOW, &c.window))
                return 2;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    return run(&c);
}
