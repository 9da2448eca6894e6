/* MLS sessions between apps through real nodes (docs/sessions.md, "MLS"):
 * groups of six in both cipher suites, invites and removals while data
 * flows, what a node and anyone on the path see (no plaintext; after a
 * removal, only epochs the removed member has no keys for), messages
 * changed or replayed on the way (tests/integration/faultproxy.py's
 * tamper and replay modes), invitees whose identity is refused or that
 * have no key, lossy links, and point-to-point sessions.
 *
 * The MLS framing is read here from RFC 9420 (§6: MLSMessage, §6.3
 * PrivateMessage; §2.1.2 the variable-size length), independently of
 * src/mls; the protobuf of the captured messages too. */
#include "test.h"
#include "core/time.h"
#include "group_util.h"
#include "node_proc.h"
#include "session/jwt.h"
#include "slim/session.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OTHER_SECRET "another-shared-secret-of-32-characters-or-more"
#define CHANNEL      "org/ns/mls-chat"
#define MARKER       "SLIM-MLS-PLAINTEXT-MARKER"

/* Session message types (data_plane.proto SessionMessageType). */
enum { T_MSG = 1, T_RTX_REPLY = 4, T_GROUP_UPDATE = 11 };

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* n messages a member, fewer under the sanitizers (seven processes of
 * them on two vCPUs): a half under ASan, a quarter under TSan. */
static int load(int n) {
    if (getenv("SLIM_TEST_TSAN") != NULL)
        return n / 4 > 20 ? n / 4 : 20;
    if (getenv("SLIM_TEST_SANITIZED") != NULL)
        return n / 2 > 20 ? n / 2 : 20;
    return n;
}

/* The MEMBER events of m's session waiting now and in the next wait_ms
 * (other events are dropped), each printed; how many. */
static int member_events(member *m, int wait_ms) {
    int n = 0;
    slim_event ev;
    uint64_t end = slim_now_ms() + (uint64_t)wait_ms;
    do {
        while (slim_app_next_event(m->app, wait_ms > 0 ? 50 : 0, &ev) == SLIM_OK)
            if (ev.kind == SLIM_EVENT_MEMBER && ev.session == m->s) {
                fprintf(stderr, "  %s: member event %d about %s\n", m->name, ev.member, ev.name);
                n++;
            }
    } while (slim_now_ms() < end);
    return n;
}

static const slim_session_options MLS_GROUP = {.type = SLIM_SESSION_MULTICAST,
                                               .peer = CHANNEL,
                                               .timeout_ms = 1000,
                                               .max_retries = 5,
                                               .mls = true};

/* The wire session id of m's session. */
static uint32_t wire_id(member *m) {
    slim_session_info *info = NULL;
    uint32_t id = 0;
    if (slim_session_info_get(m->app, m->s, &info) == SLIM_OK)
        id = info->id;
    slim_session_info_free(info);
    return id;
}

/* ---- everyone to everyone, a fixed count ---- */

/* m[0..n-1] all to all: payloads "from:seq:MARKER-from-seq", each checked
 * in full with its source. */
static bool everyone(member *m, int n, int count, int pace_us) {
    group_traffic t = {.count = count, .pace_us = pace_us, .marker = MARKER};
    return group_everyone(m, n, &t);
}

/* ---- reading what the proxies saw ---- */

typedef struct span {
    const uint8_t *p;
    size_t n;
} span;

/* A protobuf varint. */
static bool pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return false;
        uint8_t c = *(*p)++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (c < 0x80)
            return true;
    }
    return false;
}

/* The last field `field` of message m: its content (length-delimited) in
 * *b, or its value (varint) in *v; either may be NULL. 1 found, 0 not, -1
 * malformed. */
static int pb_get(span m, uint32_t field, span *b, uint64_t *v) {
    const uint8_t *p = m.p, *end = m.p + m.n;
    int found = 0;
    while (p < end) {
        uint64_t key, x;
        if (!pb_varint(&p, end, &key))
            return -1;
        uint32_t f = (uint32_t)(key >> 3), wire = (uint32_t)(key & 7);
        if (wire == 0) {
            if (!pb_varint(&p, end, &x))
                return -1;
            if (f == field && v != NULL) {
                *v = x;
                found = 1;
            }
        } else if (wire == 2) {
            if (!pb_varint(&p, end, &x) || x > (uint64_t)(end - p))
                return -1;
            if (f == field && b != NULL) {
                *b = (span){p, (size_t)x};
                found = 1;
            }
            p += x;
        } else if (wire == 1 || wire == 5) {
            size_t k = wire == 1 ? 8 : 4;
            if ((size_t)(end - p) < k)
                return -1;
            p += k;
        } else {
            return -1;
        }
    }
    return found;
}

/* What a captured Message is, when it is a Publish. */
typedef struct pubinfo {
    uint64_t type, session_id, message_id;
    uint64_t src_service; /* the source's EncodedName component_2 */
    span content;         /* Content */
    span blob;            /* ApplicationPayload.blob (n = 0: none) */
} pubinfo;

static bool pub_of(span raw, pubinfo *pi) {
    memset(pi, 0, sizeof *pi);
    span pub, hdr, src, enc, sess;
    if (pb_get(raw, 3, &pub, NULL) != 1)
        return false;
    if (pb_get(pub, 1, &hdr, NULL) == 1 && pb_get(hdr, 1, &src, NULL) == 1 &&
        pb_get(src, 1, &enc, NULL) == 1)
        (void)pb_get(enc, 3, NULL, &pi->src_service);
    if (pb_get(pub, 2, &sess, NULL) == 1) {
        (void)pb_get(sess, 2, NULL, &pi->type);
        (void)pb_get(sess, 3, NULL, &pi->session_id);
        (void)pb_get(sess, 4, NULL, &pi->message_id);
    }
    span ap;
    if (pb_get(pub, 3, &pi->content, NULL) == 1 && pb_get(pi->content, 1, &ap, NULL) == 1)
        (void)pb_get(ap, 2, &pi->blob, NULL);
    return true;
}

/* RFC 9420 §2.1.2: a vector's length, in 1, 2 or 4 bytes as the top two
 * bits of the first say (0b11 is invalid), in the fewest bytes. */
static bool mls_len(const uint8_t **p, const uint8_t *end, uint64_t *len) {
    if (*p >= end)
        return false;
    unsigned prefix = **p >> 6;
    size_t n = (size_t)1 << prefix;
    if (prefix == 3 || (size_t)(end - *p) < n)
        return false;
    uint64_t v = **p & 0x3f;
    for (size_t i = 1; i < n; i++)
        v = (v << 8) | (*p)[i];
    if ((n == 2 && v < 64) || (n == 4 && v < 16384))
        return false;
    *p += n;
    *len = v;
    return (uint64_t)(end - *p) >= v;
}

typedef struct mls_msg {
    uint16_t version, wire_format;
    span group_id;
    uint64_t epoch;
    span aad; /* PrivateMessage: authenticated_data */
} mls_msg;

/* An MLSMessage (§6): version, wire_format, then for a PublicMessage
 * (1) or PrivateMessage (2) the group id and epoch they both start with;
 * a PrivateMessage (§6.3.1) is read to its end: content_type,
 * authenticated_data, encrypted_sender_data, ciphertext, nothing after. */
static bool mls_parse(span b, mls_msg *out) {
    memset(out, 0, sizeof *out);
    const uint8_t *p = b.p, *end = b.p + b.n;
    if (b.n < 4)
        return false;
    out->version = (uint16_t)(p[0] << 8 | p[1]);
    out->wire_format = (uint16_t)(p[2] << 8 | p[3]);
    p += 4;
    if (out->wire_format != 1 && out->wire_format != 2)
        return false;
    uint64_t len;
    if (!mls_len(&p, end, &len))
        return false;
    out->group_id = (span){p, (size_t)len};
    p += len;
    if (end - p < 8)
        return false;
    for (int i = 0; i < 8; i++)
        out->epoch = (out->epoch << 8) | *p++;
    if (out->wire_format == 1)
        return true;
    if (p >= end || *p < 1 || *p > 3) /* content_type: application, proposal, commit */
        return false;
    p++;
    if (!mls_len(&p, end, &len))
        return false;
    out->aad = (span){p, (size_t)len};
    p += len;
    for (int k = 0; k < 2; k++) { /* encrypted_sender_data, ciphertext */
        if (!mls_len(&p, end, &len))
            return false;
        p += len;
    }
    return p == end;
}

/* The proxy's dump (faultproxy.py, dump mode): records of direction (0
 * to the node, 1 to the app), stream number and the bytes read. */
typedef struct rec {
    int dir;
    uint32_t stream;
    span raw;
} rec;

typedef struct dump {
    uint8_t *data;
    size_t len;
    rec *recs;
    size_t nrecs;
    bool ok; /* read to its end */
} dump;

static void dump_read(const char *path, dump *d) {
    memset(d, 0, sizeof *d);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return;
    size_t cap = 1 << 16, r;
    d->data = malloc(cap);
    while (d->data != NULL && (r = fread(d->data + d->len, 1, cap - d->len, f)) > 0) {
        d->len += r;
        uint8_t *more = d->len == cap ? realloc(d->data, cap *= 2) : d->data;
        if (more == NULL)
            free(d->data);
        d->data = more;
    }
    fclose(f);
    if (d->data == NULL) {
        d->len = 0;
        return;
    }
    size_t i = 0, rcap = 0;
    while (i + 9 <= d->len) {
        const uint8_t *h = d->data + i;
        uint32_t n = (uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8];
        if (n > d->len - i - 9)
            break;
        if (d->nrecs == rcap) {
            rec *more = realloc(d->recs, (rcap = rcap ? 2 * rcap : 256) * sizeof *d->recs);
            if (more == NULL)
                return; /* not ok */
            d->recs = more;
        }
        uint32_t stream = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
        d->recs[d->nrecs++] = (rec){h[0], stream, {h + 9, n}};
        i += 9 + n;
    }
    d->ok = i == d->len;
}

static void dump_free(dump *d) {
    free(d->data);
    free(d->recs);
    memset(d, 0, sizeof *d);
}

static bool contains(span hay, const char *needle) {
    return memmem(hay.p, hay.n, needle, strlen(needle)) != NULL;
}

/* Reads the proxy's output for up to timeout_ms, until a line that starts
 * with `prefix`; its rest into out. */
static bool proxy_line(test_proxy *p, const char *prefix, char *out, size_t cap, int timeout_ms) {
    char line[4096];
    size_t len = 0;
    uint64_t end = slim_now_ms() + (uint64_t)timeout_ms;
    while (slim_now_ms() < end) {
        struct pollfd pf = {.fd = p->out_fd, .events = POLLIN};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        char c;
        if (read(p->out_fd, &c, 1) != 1)
            return false;
        if (c != '\n') {
            if (len < sizeof line - 1)
                line[len++] = c;
            continue;
        }
        line[len] = 0;
        len = 0;
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            snprintf(out, cap, "%s", line + strlen(prefix));
            return true;
        }
    }
    return false;
}

/* One of the proxy's counters ("to_app", "tampered"), from the line
 * SIGUSR1 makes it print; -1 when unknown. */
static long proxy_counter(test_proxy *p, const char *dir, const char *name) {
    char json[4096], key[64];
    if (kill(p->pid, SIGUSR1) != 0 || !proxy_line(p, "counters ", json, sizeof json, 5000))
        return -1;
    const char *d = strstr(json, dir);
    snprintf(key, sizeof key, "\"%s\": ", name);
    const char *k = d != NULL ? strstr(d, key) : NULL;
    return k != NULL ? atol(k + strlen(key)) : -1;
}

/* ---- 1. six members ---- */

static void six_members(uint16_t suite, int count) {
    test_node nd;
    member m[6];
    CHECK(test_node_start(&nd, ""));
    int ports[6];
    for (int i = 0; i < 6; i++)
        ports[i] = nd.port;
    bool up = group_start(m, 6, ports, &MLS_GROUP, suite);
    CHECK(up);
    if (up) {
        for (int i = 0; i < 6; i++)
            CHECK_EQ(member_count(&m[i]), 6);
        CHECK(everyone(m, 6, count, 0));
    }
    group_free(m, 6);
    test_node_stop(&nd);
}

/* Suite 2 (P-256, the default): 200 messages each. */
TEST(mls_six_members_200_each) {
    six_members(0, load(200));
}

/* Suite 1 (X25519, Ed25519) for every app. */
TEST(mls_six_members_suite1) {
    six_members(1, load(50));
}

/* ---- 2. invites and removals while data flows ---- */

typedef struct flow {
    member *m;
    int n;                      /* members in m */
    atomic_int sent[GROUP_MAX]; /* published by each so far */
    atomic_bool stop;           /* writers stop once they have sent min_count */
    atomic_bool totals;         /* the writers are done: sent[] are the totals */
    int min_count;
    int pace_ms;
} flow;

typedef struct flow_rd {
    flow *f;
    int self;
    bool from[GROUP_MAX]; /* who it hears from */
    bool until_closed;    /* reads until the session ends (a removed member) */
    int next[GROUP_MAX], start[GROUP_MAX];
    int got, bad;
    slim_status end; /* how reading ended */
} flow_rd;

typedef struct flow_wr {
    flow *f;
    int self, count; /* count 0: until stopped */
} flow_wr;

static void *flow_writer(void *p) {
    flow_wr *w = p;
    member *me = &w->f->m[w->self];
    for (int k = 0;; k++) {
        if (w->count > 0 ? k >= w->count : k >= w->f->min_count && atomic_load(&w->f->stop))
            break;
        char buf[128];
        group_payload(buf, sizeof buf, MARKER, w->self, k);
        slim_status st = test_publish_retrying(me->app, me->s, test_text(buf), 5);
        if (st != SLIM_OK) {
            fprintf(stderr, "  %s publish %d: %s\n", me->name, k, slim_status_name(st));
            break;
        }
        atomic_fetch_add(&w->f->sent[w->self], 1);
        sleep_ms(w->f->pace_ms);
    }
    return NULL;
}

/* Done: every sender it hears from has had all its messages read. */
static bool flow_done(flow_rd *r) {
    if (!atomic_load(&r->f->totals))
        return false;
    for (int j = 0; j < r->f->n; j++)
        if (r->from[j] && r->next[j] < atomic_load(&r->f->sent[j]))
            return false;
    return true;
}

/* Reads: each sender's messages in order with no gap, from the first one
 * it gets (start[]), exactly once. */
static void *flow_reader(void *p) {
    flow_rd *r = p;
    member *me = &r->f->m[r->self];
    for (int j = 0; j < GROUP_MAX; j++)
        r->start[j] = -1;
    uint64_t deadline = slim_now_ms() + 120000;
    while (r->until_closed || !flow_done(r)) {
        if (slim_now_ms() > deadline) {
            r->end = SLIM_E_TIMEOUT;
            fprintf(stderr, "  %s: still reading after 120 s\n", me->name);
            return NULL;
        }
        slim_message *msg = NULL;
        slim_status st = slim_session_get_message(me->app, me->s, 200, &msg);
        if (st == SLIM_E_TIMEOUT)
            continue;
        if (st != SLIM_OK) {
            r->end = st;
            return NULL;
        }
        int from = -1, seq = -1;
        bool known =
            group_payload_check(r->f->m, r->f->n, MARKER, msg, &from, &seq) && r->from[from];
        if (known && r->start[from] < 0)
            r->start[from] = r->next[from] = seq;
        if (!known || seq != r->next[from]) {
            if (r->bad++ < 5)
                fprintf(stderr, "  %s got %d:%d from %s, expected %d\n", me->name, from, seq,
                        msg->source_text, known ? r->next[from] : -1);
        } else {
            r->next[from]++;
        }
        r->got++;
        slim_message_free(msg);
    }
    r->end = SLIM_OK;
    return NULL;
}

static bool wait_sent(flow *f, const int *who, int nwho, const int *at_least, int timeout_ms) {
    uint64_t end = slim_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        bool ok = true;
        for (int i = 0; i < nwho; i++)
            ok &= atomic_load(&f->sent[who[i]]) >= at_least[i];
        if (ok)
            return true;
        if (slim_now_ms() > end)
            return false;
        sleep_ms(10);
    }
}

/* The moderator, p1 and p2 publish all along; p3 listens; p4 is invited
 * and p3 removed while they do, then p4 publishes too. Those who stay
 * get everything; p4 everything sent from its invite on, in order; p3 an
 * unbroken start of each sender's stream, at least what was sent before
 * the invite, then E_SESSION_REMOVED. */
TEST(mls_invite_and_remove_during_traffic) {
    test_node nd;
    CHECK(test_node_start(&nd, ""));
    member m[5];
    memset(m, 0, sizeof m);
    int ports[5] = {nd.port, nd.port, nd.port, nd.port, nd.port};
    bool up = group_start(m, 4, ports, &MLS_GROUP, 0);
    CHECK(up);
    member_name(&m[4], 4);
    m[4].app = up ? group_app(m[4].name, nd.port, 0) : NULL;
    if (!up || m[4].app == NULL) {
        group_free(m, m[4].app != NULL ? 5 : 4);
        test_node_stop(&nd);
        return;
    }
    flow f = {.m = m, .n = 5, .min_count = load(300), .pace_ms = 1};
    const int senders[3] = {0, 1, 2};
    flow_rd rd[5];
    flow_wr wr[4];
    pthread_t rt[5], wt[4];
    for (int i = 0; i < 5; i++) {
        rd[i] = (flow_rd){.f = &f, .self = i};
        for (int j = 0; j < 3; j++)
            rd[i].from[senders[j]] = senders[j] != i;
        rd[i].from[4] = i != 4; /* p4 publishes once in (p3 may hear it before it goes) */
    }
    rd[3].until_closed = true;
    for (int i = 0; i < 4; i++)
        pthread_create(&rt[i], NULL, flow_reader, &rd[i]);
    for (int j = 0; j < 3; j++) {
        wr[j] = (flow_wr){.f = &f, .self = senders[j]};
        pthread_create(&wt[j], NULL, flow_writer, &wr[j]);
    }
    int before_invite[3], at_invite[3], at_remove[3];
    int thirty[3] = {30, 30, 30};
    CHECK(wait_sent(&f, senders, 3, thirty, 30000));
    for (int j = 0; j < 3; j++)
        before_invite[j] = atomic_load(&f.sent[senders[j]]);
    /* p4 in */
    bool p4_in = group_invite(m, 4);
    for (int j = 0; j < 3; j++)
        at_invite[j] = atomic_load(&f.sent[senders[j]]);
    int p4_count = load(50);
    if (p4_in) {
        pthread_create(&rt[4], NULL, flow_reader, &rd[4]);
        wr[3] = (flow_wr){.f = &f, .self = 4, .count = p4_count};
        pthread_create(&wt[3], NULL, flow_writer, &wr[3]);
    }
    /* p3 out */
    for (int j = 0; j < 3; j++)
        at_remove[j] = atomic_load(&f.sent[senders[j]]);
    CHECK_OK(slim_session_remove(m[0].app, m[0].s, m[3].name, 30000));
    slim_event ev;
    CHECK(test_wait_event(m[3].app, SLIM_EVENT_SESSION_CLOSED, m[3].s, &ev, 10000));
    CHECK_STATUS(ev.status, SLIM_E_SESSION_REMOVED);
    /* Traffic goes on a while after both. */
    int more[3];
    for (int j = 0; j < 3; j++)
        more[j] = atomic_load(&f.sent[senders[j]]) + 100;
    CHECK(wait_sent(&f, senders, 3, more, 30000));
    atomic_store(&f.stop, true);
    for (int j = 0; j < 3; j++)
        pthread_join(wt[j], NULL);
    if (p4_in)
        pthread_join(wt[3], NULL);
    atomic_store(&f.totals, true);
    for (int i = 0; i < 4; i++)
        pthread_join(rt[i], NULL);
    if (p4_in)
        pthread_join(rt[4], NULL);
    fprintf(stderr, "  sent: mod %d, p1 %d, p2 %d, p4 %d; invite at %d/%d/%d, remove at %d/%d/%d\n",
            atomic_load(&f.sent[0]), atomic_load(&f.sent[1]), atomic_load(&f.sent[2]),
            atomic_load(&f.sent[4]), at_invite[0], at_invite[1], at_invite[2], at_remove[0],
            at_remove[1], at_remove[2]);
    CHECK_EQ(atomic_load(&f.sent[4]), p4_in ? p4_count : 0);
    /* Those who stay: everything, from the first message on. */
    for (int i = 0; i < 3; i++) {
        CHECK_STATUS(rd[i].end, SLIM_OK);
        CHECK_EQ(rd[i].bad, 0);
        for (int j = 0; j < 5; j++) {
            if (!rd[i].from[j])
                continue;
            if (rd[i].start[j] != 0 || rd[i].next[j] != atomic_load(&f.sent[j]))
                TEST_FAIL_AT("%s from %s: got %d..%d, sent 0..%d", m[i].name, m[j].name,
                             rd[i].start[j], rd[i].next[j] - 1, atomic_load(&f.sent[j]) - 1);
        }
        CHECK(member_nothing_lost(&m[i]));
        CHECK_EQ(member_count(&m[i]), 4);
    }
    /* p4: from (at the latest) what was sent once the invite was done. */
    if (p4_in) {
        CHECK_STATUS(rd[4].end, SLIM_OK);
        CHECK_EQ(rd[4].bad, 0);
        for (int j = 0; j < 3; j++) {
            int s = senders[j];
            if (rd[4].start[s] < 0 || rd[4].start[s] > at_invite[j] ||
                rd[4].next[s] != atomic_load(&f.sent[s]))
                TEST_FAIL_AT("p4 from %s: got %d..%d, sent %d..%d after its invite", m[s].name,
                             rd[4].start[s], rd[4].next[s] - 1, at_invite[j],
                             atomic_load(&f.sent[s]) - 1);
        }
        CHECK(member_nothing_lost(&m[4]));
        CHECK_EQ(member_count(&m[4]), 4);
    }
    /* p3: an unbroken start of each stream, all that came before the
     * invite, then the end. */
    CHECK_STATUS(rd[3].end, SLIM_E_CLOSED);
    CHECK_EQ(rd[3].bad, 0);
    CHECK(rd[3].start[4] <= 0); /* p4's from its first, if any */
    for (int j = 0; j < 3; j++) {
        int s = senders[j];
        if (rd[3].start[s] != 0 || rd[3].next[s] < before_invite[j])
            TEST_FAIL_AT("p3 from %s: got %d..%d, sent 0..%d before the invite", m[s].name,
                         rd[3].start[s], rd[3].next[s] - 1, before_invite[j] - 1);
    }
    /* Nothing more anywhere. */
    for (int i = 0; i < 5; i++) {
        slim_message *msg = NULL;
        if (i != 3 && (i != 4 || p4_in) &&
            slim_session_get_message(m[i].app, m[i].s, i == 0 ? 1000 : 50, &msg) == SLIM_OK) {
            TEST_FAIL_AT("%s: a message more than expected: '%.*s'", m[i].name,
                         (int)msg->payload.len, (const char *)msg->payload.ptr);
            slim_message_free(msg);
        }
    }
    group_free(m, 5);
    test_node_stop(&nd);
}

/* ---- 3. what the path sees ---- */

/* The moderator on the node; p1 (stream 0) and p2 (stream 1) behind a
 * proxy that records everything both ways: what they send and what the
 * node forwards to them. Messages carry MARKER; it must appear nowhere
 * in the records (while the members read it), and each MSG's blob must be
 * a PrivateMessage. p2 is removed in epoch E (its commit's); what is sent
 * after that must be under epochs after E, which p2 has no keys for. A
 * plain session through the same proxy shows that the marker would be
 * found. */
TEST(mls_node_observer_sees_no_plaintext) {
    char dir[] = "/tmp/slim-mls-dump-XXXXXX", path[64], args[128];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/dump", dir);
    snprintf(args, sizeof args, "--drop 0 --dup 0 --dump %s", path);
    test_node nd;
    test_proxy px;
    CHECK(test_node_start(&nd, ""));
    CHECK(test_proxy_start(&px, nd.port, args));
    member m[3];
    int ports[3] = {nd.port, px.port, px.port};
    bool up = group_start(m, 3, ports, &MLS_GROUP, 0);
    CHECK(up);
    int k = load(40);
    uint32_t first_b[3] = {0};
    uint32_t sid = 0;
    slim_name names[3];
    if (up) {
        sid = wire_id(&m[0]);
        for (int i = 0; i < 3; i++)
            slim_app_name(m[i].app, &names[i]);
        CHECK(everyone(m, 3, k, 0));
        CHECK_OK(slim_session_remove(m[0].app, m[0].s, m[2].name, 20000));
        slim_event ev;
        CHECK(test_wait_event(m[2].app, SLIM_EVENT_SESSION_CLOSED, m[2].s, &ev, 10000));
        CHECK_STATUS(ev.status, SLIM_E_SESSION_REMOVED);
        CHECK(wait_member(&m[1], SLIM_MEMBER_LEFT, m[2].name, 10000));
        const int rest[2] = {0, 1};
        group_traffic t = {.count = k, .marker = MARKER, .first_id = first_b};
        CHECK(group_pump(m, 3, rest, 2, &t));
    }
    sleep_ms(300); /* the last acknowledgements through the proxy */
    dump d;
    dump_read(path, &d);
    CHECK(d.ok);
    CHECK(d.nrecs > 0);
    /* No plaintext anywhere. */
    CHECK(!contains((span){d.data, d.len}, MARKER));
    /* Every MSG / RTX_REPLY of the group: a PrivateMessage of this
     * group, bound to a header (its authenticated data not empty). The
     * commit of p2's removal: its epoch E. */
    int msgs = 0, bad = 0, after = 0, removes = 0;
    uint64_t epoch_removed = UINT64_MAX, max_before = 0;
    span gid = {NULL, 0};
    for (size_t i = 0; i < d.nrecs; i++) {
        pubinfo pi;
        if (!pub_of(d.recs[i].raw, &pi) || pi.session_id != sid)
            continue;
        if (pi.type == T_GROUP_UPDATE) {
            span cp, gu, mp, mc;
            uint64_t op = 0; /* ADD: absent */
            mls_msg c;
            if (pb_get(pi.content, 2, &cp, NULL) == 1 && pb_get(cp, 7, &gu, NULL) == 1 &&
                pb_get(gu, 1, NULL, &op) >= 0 && op == 1 && pb_get(gu, 4, &mp, NULL) == 1 &&
                pb_get(mp, 2, &mc, NULL) == 1 && mls_parse(mc, &c) && c.wire_format == 1) {
                if (removes++ > 0 && c.epoch != epoch_removed)
                    TEST_FAIL_AT("two removal commits: epochs %llu and %llu",
                                 (unsigned long long)epoch_removed, (unsigned long long)c.epoch);
                epoch_removed = c.epoch;
            }
        }
    }
    CHECK(removes > 0); /* p1 got the commit (copies: the same one) */
    for (size_t i = 0; i < d.nrecs; i++) {
        pubinfo pi;
        if (!pub_of(d.recs[i].raw, &pi) || pi.session_id != sid ||
            (pi.type != T_MSG && pi.type != T_RTX_REPLY))
            continue;
        msgs++;
        mls_msg pm;
        if (!mls_parse(pi.blob, &pm) || pm.version != 1 || pm.wire_format != 2 || pm.aad.n == 0 ||
            pm.group_id.n < 4 || memcmp(pm.group_id.p, "slim", 4) != 0) {
            if (bad++ < 3)
                TEST_FAIL_AT("message %llu: a blob of %zu bytes that is no PrivateMessage "
                             "(version %u, wire format %u)",
                             (unsigned long long)pi.message_id, pi.blob.n, pm.version,
                             pm.wire_format);
            continue;
        }
        if (gid.p == NULL)
            gid = pm.group_id;
        if (pm.group_id.n != gid.n || memcmp(pm.group_id.p, gid.p, gid.n) != 0)
            TEST_FAIL_AT("message %llu: another group id", (unsigned long long)pi.message_id);
        /* sent after the removal: by the moderator or p1, numbered from
         * their first message of the second round */
        int from = -1;
        for (int j = 0; j < 2; j++)
            if (pi.src_service == names[j].component[2])
                from = j;
        bool later = from >= 0 && first_b[from] != 0 && pi.message_id >= first_b[from];
        if (later) {
            after++;
            if (epoch_removed == UINT64_MAX || pm.epoch <= epoch_removed)
                TEST_FAIL_AT("message %llu of %s, sent after the removal, under epoch %llu: p2 "
                             "was removed in epoch %llu",
                             (unsigned long long)pi.message_id, m[from].name,
                             (unsigned long long)pm.epoch, (unsigned long long)epoch_removed);
        } else if (pm.epoch > max_before) {
            max_before = pm.epoch;
        }
    }
    fprintf(stderr,
            "  %zu records; %d data messages of the group (%d sent after the removal); p2 removed "
            "in epoch %llu; epochs before it up to %llu\n",
            d.nrecs, msgs, after, (unsigned long long)epoch_removed,
            (unsigned long long)max_before);
    CHECK_EQ(bad, 0);
    /* p1's k and the moderator's k to p1, at least, after the removal. */
    CHECK(after >= 2 * k);
    CHECK(msgs >= 8 * k); /* first round: p1's and p2's k up, 2k down to each; then 2k */
    CHECK(max_before <= epoch_removed);
    dump_free(&d);
    /* The same proxy sees the marker of a session without MLS. */
    if (up) {
        slim_session_options o = {.type = SLIM_SESSION_UNICAST,
                                  .peer = "org/ns/mod",
                                  .timeout_ms = 1000,
                                  .max_retries = 5};
        slim_session_id s = 0, t = 0;
        CHECK_OK(slim_app_set_route(m[1].app, "org/ns/mod", 0, 5000));
        CHECK_OK(slim_session_create(m[1].app, &o, 15000, &s));
        CHECK_OK(slim_session_publish(m[1].app, s, test_text("plain " MARKER), NULL, 5000, NULL));
        CHECK_OK(slim_app_listen(m[0].app, 5000, &t));
        slim_message *msg = NULL;
        CHECK_OK(slim_session_get_message(m[0].app, t, 5000, &msg));
        slim_message_free(msg);
        dump_read(path, &d);
        CHECK(contains((span){d.data, d.len}, "plain " MARKER));
        dump_free(&d);
    }
    group_free(m, 3);
    test_proxy_stop(&px);
    test_node_stop(&nd);
    unlink(path);
    rmdir(dir);
}

/* ---- 4. changed and replayed on the way ---- */

/* p1 behind a proxy that flips a bit of the ciphertext of every tenth
 * MSG's first copy, p2 behind one that changes its message id (a header
 * field the per-hop MAC does not cover, the MLS authenticated data does).
 * Neither is taken; the genuine retransmission is, once: all four get
 * everything in order. */
TEST(mls_tampered_ciphertext_and_header_are_refused) {
    test_node nd;
    test_proxy blob, mid;
    CHECK(test_node_start(&nd, ""));
    CHECK(test_proxy_start(&blob, nd.port, "--drop 0 --dup 0 --tamper blob --tamper-every 10"));
    CHECK(
        test_proxy_start(&mid, nd.port, "--drop 0 --dup 0 --tamper message-id --tamper-every 10"));
    member m[4];
    int ports[4] = {nd.port, blob.port, mid.port, nd.port};
    bool up = group_start(m, 4, ports, &MLS_GROUP, 0);
    CHECK(up);
    if (up)
        CHECK(everyone(m, 4, load(100), 0));
    long tb = proxy_counter(&blob, "\"to_app\"", "tampered");
    long tm = proxy_counter(&mid, "\"to_app\"", "tampered");
    fprintf(stderr, "  copies changed: %ld ciphertexts (to p1), %ld message ids (to p2)\n", tb, tm);
    /* every tenth of the three others' messages, each once */
    CHECK_EQ(tb, 3 * (load(100) / 10));
    CHECK_EQ(tm, 3 * (load(100) / 10));
    group_free(m, 4);
    test_proxy_stop(&mid);
    test_proxy_stop(&blob);
    test_node_stop(&nd);
}

/* Command messages taken again later, as they were (their signatures and
 * per-hop MACs still good), by a member behind a proxy in replay mode.
 *
 * Guarded by their own handlers: p1's proxy keeps the JOIN_REQUEST that
 * brought p1 in and the GROUP_UPDATE that added p2. Once p2 is removed,
 * both are sent to p1 again: p1 must not open a second session, nor put
 * p2 back in its roster (nor apply the commit: the group goes on).
 *
 * Guarded by the replay cache: a HEARTBEAT. The moderator is behind a
 * proxy that then holds its traffic until p1 has declared it down; the
 * moderator's first heartbeat, kept by p1's proxy, is sent to p1 again:
 * p1 must not take the moderator for up. Released, the moderator is up
 * again (the event the replay would have made). */
static void replays_own_guards(void);
static void replays_cache(void);

TEST(mls_replayed_commands_are_not_taken_twice) {
    replays_own_guards();
    replays_cache();
}

static void replays_own_guards(void) {
    test_node nd;
    test_proxy pa;
    CHECK(test_node_start(&nd, ""));
    CHECK(test_proxy_start(&pa, nd.port, "--drop 0 --dup 0 --replay 7,11"));
    member m[3];
    int ports[3] = {nd.port, pa.port, nd.port};
    bool up = group_start(m, 3, ports, &MLS_GROUP, 0);
    CHECK(up);
    if (up) {
        CHECK(everyone(m, 3, 20, 0));
        CHECK_OK(slim_session_remove(m[0].app, m[0].s, m[2].name, 20000));
        CHECK(wait_member(&m[1], SLIM_MEMBER_LEFT, m[2].name, 10000));
        CHECK_EQ(member_count(&m[1]), 2);
        (void)member_events(&m[1], 0); /* what came so far */
        char out[64] = "";
        CHECK(kill(pa.pid, SIGWINCH) == 0);
        CHECK(proxy_line(&pa, "replayed ", out, sizeof out, 5000));
        CHECK_EQ(atoi(out), 2);
        CHECK_EQ(member_events(&m[1], 1500), 0);
        CHECK_EQ(member_count(&m[1]), 2);
        CHECK_EQ(member_count(&m[0]), 2);
        slim_session_id extra = 0;
        CHECK_STATUS(slim_app_listen(m[1].app, 0, &extra), SLIM_E_TIMEOUT);
        CHECK(everyone(m, 2, 20, 0));
    }
    group_free(m, 3);
    test_proxy_stop(&pa);
    test_node_stop(&nd);
}

#define HB_MS 300

static void replays_cache(void) {
    test_node nd;
    test_proxy pm, pp;
    CHECK(test_node_start(&nd, ""));
    CHECK(test_proxy_start(&pm, nd.port, "--drop 0 --dup 0"));
    CHECK(test_proxy_start(&pp, nd.port, "--drop 0 --dup 0 --replay 17"));
    slim_app_options ao = {.heartbeat_ms = HB_MS, .heartbeat_misses = 3};
    member m[2];
    memset(m, 0, sizeof m);
    member_name(&m[0], 0);
    member_name(&m[1], 1);
    m[0].app = test_app_at(m[0].name, m[0].name, GROUP_SECRET, pm.port, &ao);
    m[1].app = test_app_at(m[1].name, m[1].name, GROUP_SECRET, pp.port, &ao);
    CHECK(m[0].app != NULL && m[1].app != NULL);
    if (m[0].app != NULL && m[1].app != NULL &&
        slim_session_create(m[0].app, &MLS_GROUP, 10000, &m[0].s) == SLIM_OK &&
        group_invite(m, 1)) {
        sleep_ms(3 * HB_MS);              /* quiet: heartbeats go, p1's proxy keeps the first */
        CHECK(kill(pm.pid, SIGHUP) == 0); /* the moderator held */
        CHECK(wait_member(&m[1], SLIM_MEMBER_DOWN, m[0].name, 20 * HB_MS));
        char out[64] = "";
        CHECK(kill(pp.pid, SIGWINCH) == 0);
        CHECK(proxy_line(&pp, "replayed ", out, sizeof out, 5000));
        CHECK_EQ(atoi(out), 1);
        /* the old heartbeat is no sign of life */
        CHECK(!wait_member(&m[1], SLIM_MEMBER_UP, m[0].name, 4 * HB_MS));
        CHECK(kill(pm.pid, SIGHUP) == 0); /* released */
        CHECK(wait_member(&m[1], SLIM_MEMBER_UP, m[0].name, 20 * HB_MS));
        CHECK(everyone(m, 2, 20, 0));
    } else {
        TEST_FAIL_AT("the group did not start");
    }
    group_free(m, 2);
    test_proxy_stop(&pp);
    test_proxy_stop(&pm);
    test_node_stop(&nd);
}

/* ---- 5. who cannot join or open ---- */

/* An invitee whose tokens the moderator's verifier refuses (another
 * secret; it accepts the moderator's): the invite fails, by its base name
 * (discovery) and by its full name, and it never gets a session; the
 * group goes on with a member that is accepted. */
TEST(mls_invitee_with_a_refused_identity_cannot_join) {
    test_node nd;
    CHECK(test_node_start(&nd, ""));
    member m[2];
    memset(m, 0, sizeof m);
    int ports[2] = {nd.port, nd.port};
    slim_session_options o = MLS_GROUP;
    o.timeout_ms = 600;
    o.max_retries = 2;
    bool up = group_start(m, 1, ports, &o, 0);
    CHECK(up);
    slim_identity_config p = {
        .kind = SLIM_IDENTITY_SHARED_SECRET, .id = "org/ns/intruder", .secret = OTHER_SECRET};
    slim_identity_config v = {
        .kind = SLIM_IDENTITY_SHARED_SECRET, .id = "org/ns/intruder", .secret = GROUP_SECRET};
    slim_app *intruder = test_app_with("org/ns/intruder", &p, &v, NULL, nd.port);
    if (up && intruder != NULL) {
        char full[256];
        CHECK_OK(slim_app_name_text(intruder, full, sizeof full));
        CHECK_OK(slim_app_set_route(m[0].app, "org/ns/intruder", 0, 5000));
        CHECK_OK(slim_app_set_route(m[0].app, full, 0, 5000)); /* (a full name needs its own) */
        const char *names[2] = {"org/ns/intruder", full};
        for (int i = 0; i < 2; i++) {
            slim_op op;
            slim_event ev;
            CHECK_OK(slim_session_invite_async(m[0].app, m[0].s, names[i], &op));
            CHECK(test_wait_op(m[0].app, op, &ev, 20000));
            fprintf(stderr, "  invite of %s: %s: %s\n", names[i], slim_status_name(ev.status),
                    ev.detail);
            CHECK(ev.status != SLIM_OK);
            CHECK(ev.detail[0] != 0);
        }
        slim_session_id s = 0;
        CHECK_STATUS(slim_app_listen(intruder, 500, &s), SLIM_E_TIMEOUT);
        CHECK_EQ(member_count(&m[0]), 1);
        /* an accepted one joins after them */
        member_name(&m[1], 1);
        m[1].app = group_app(m[1].name, nd.port, 0);
        if (m[1].app != NULL && group_invite(m, 1)) {
            CHECK_EQ(member_count(&m[0]), 2);
            CHECK(everyone(m, 2, 20, 0));
        }
    }
    slim_app_free(intruder, 1000);
    group_free(m, m[1].app != NULL ? 2 : 1);
    test_node_stop(&nd);
}

/* An app whose identity is a static token (no private key) cannot open
 * an MLS session, group or point-to-point (E_UNSUPPORTED). Nor can it be
 * the peer of one, while a session without MLS between the same two apps
 * works (their tokens are accepted both ways): MLS sessions check the
 * signatures of commands, and its discovery reply has none, so that fails
 * before any KeyPackage is asked for. An invite into an MLS group fails
 * the same way (as into any group: groups always check them). */
TEST(mls_static_token_app_cannot_take_part) {
    char dir[] = "/tmp/slim-mls-token-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/static.token", dir);
    const char *key = "a-jwt-hmac-key-for-the-mls-tests";
    slim_jwt_keys *k = NULL;
    CHECK_OK(slim_jwt_keys_parse(SLIM_JWT_HS256, SLIM_JWT_KEY_PEM, test_text(key), true, &k));
    slim_jwt_provider_params tp = {.subject = {"agntcy/ns/static", 16}, .no_pubkey = true};
    slim_jwt_provider *tok = NULL;
    CHECK_OK(slim_jwt_provider_new(k, &tp, &tok));
    slim_str t = {"", 0};
    CHECK_OK(slim_jwt_provider_token(tok, (uint64_t)time(NULL), &t));
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fprintf(f, "%.*s", (int)t.len, t.ptr);
        fclose(f);
    }
    slim_jwt_provider_free(tok);
    test_node nd;
    CHECK(test_node_start(&nd, ""));
    slim_identity_config jv = {.kind = SLIM_IDENTITY_JWT, .algorithm = "HS256", .key = key};
    slim_identity_config jp = jv;
    jp.subject = "agntcy/ns/jmod";
    slim_identity_config sp = {.kind = SLIM_IDENTITY_STATIC_JWT, .token_file = path};
    slim_app *mod = test_app_with("org/ns/jmod", &jp, &jv, NULL, nd.port);
    slim_app *st = test_app_with("org/ns/static", &sp, &jv, NULL, nd.port);
    if (mod != NULL && st != NULL) {
        slim_session_id s = 0, g = 0;
        slim_session_options grp = MLS_GROUP;
        CHECK_STATUS(slim_session_create(st, &grp, 5000, &s), SLIM_E_UNSUPPORTED);
        slim_session_options p2p = {.type = SLIM_SESSION_UNICAST,
                                    .peer = "org/ns/jmod",
                                    .timeout_ms = 600,
                                    .max_retries = 2,
                                    .mls = true};
        CHECK_OK(slim_app_set_route(st, "org/ns/jmod", 0, 5000));
        CHECK_STATUS(slim_session_create(st, &p2p, 5000, &s), SLIM_E_UNSUPPORTED);
        /* without MLS, the moderator's app opens one with it */
        slim_session_options plain = {.type = SLIM_SESSION_UNICAST,
                                      .peer = "org/ns/static",
                                      .timeout_ms = 600,
                                      .max_retries = 2};
        CHECK_OK(slim_app_set_route(mod, "org/ns/static", 0, 5000));
        CHECK_OK(slim_session_create(mod, &plain, 15000, &s));
        CHECK_OK(slim_session_publish(mod, s, test_text("hello"), NULL, 5000, NULL));
        slim_session_id t2 = 0;
        CHECK_OK(slim_app_listen(st, 5000, &t2));
        slim_message *msg = NULL;
        CHECK_OK(slim_session_get_message(st, t2, 5000, &msg));
        CHECK(msg != NULL && msg->payload.len == 5 && memcmp(msg->payload.ptr, "hello", 5) == 0);
        slim_message_free(msg);
        /* with MLS, the same fails, and it gets no session */
        slim_session_options mp = plain;
        mp.mls = true;
        slim_op op;
        slim_event ev;
        CHECK_OK(slim_session_create_async(mod, &mp, &op));
        CHECK(test_wait_op(mod, op, &ev, 20000));
        fprintf(stderr, "  an MLS session with the static-token app: %s: %s\n",
                slim_status_name(ev.status), ev.detail);
        CHECK(ev.status != SLIM_OK);
        CHECK_STATUS(slim_app_listen(st, 500, &t2), SLIM_E_TIMEOUT);
        /* an MLS group: the invite fails, no session for it */
        slim_session_options mg = MLS_GROUP;
        mg.timeout_ms = 600;
        mg.max_retries = 2;
        CHECK_OK(slim_session_create(mod, &mg, 5000, &g));
        CHECK_OK(slim_session_invite_async(mod, g, "org/ns/static", &op));
        CHECK(test_wait_op(mod, op, &ev, 20000));
        fprintf(stderr, "  invite of the static-token app: %s: %s\n", slim_status_name(ev.status),
                ev.detail);
        CHECK(ev.status != SLIM_OK);
        CHECK_STATUS(slim_app_listen(st, 500, &t2), SLIM_E_TIMEOUT);
        char **names = NULL;
        size_t n = 0;
        CHECK_OK(slim_session_members(mod, g, &names, &n));
        CHECK_EQ(n, 1);
        slim_session_members_free(names);
    }
    slim_app_free(st, 1000);
    slim_app_free(mod, 1000);
    test_node_stop(&nd);
    unlink(path);
    rmdir(dir);
}

/* ---- 6. lossy links ---- */

/* Every member behind its own proxy that drops, duplicates and reorders
 * Publishes both ways: invites, commits, welcomes and data all go
 * through it. */
TEST(mls_through_lossy_proxies) {
    if (test_skip_under_sanitizers("mls_through_lossy_proxies"))
        return;
    lossy_group g;
    bool up = lossy_group_start(&g, 4, 41, &MLS_GROUP, 0);
    CHECK(up);
    if (up) {
        for (int i = 0; i < 4; i++)
            CHECK_EQ(member_count(&g.m[i]), 4);
        /* paced, as the proxies (Python) carry what they can */
        CHECK(everyone(g.m, 4, 150, 20000));
    }
    long dropped = 0;
    for (int i = 0; i < 4; i++) {
        long a = proxy_counter(&g.px[i], "\"to_node\"", "dropped");
        long b = proxy_counter(&g.px[i], "\"to_app\"", "dropped");
        dropped += a + b;
    }
    fprintf(stderr, "  the proxies dropped %ld Publishes\n", dropped);
    CHECK(dropped > 0);
    lossy_group_stop(&g);
}

/* ---- 7. point to point ---- */

/* A UNICAST session with MLS: both publish at once, each gets the
 * other's in order, exactly once, with the right plaintext. */
TEST(mls_point_to_point) {
    test_node nd;
    CHECK(test_node_start(&nd, ""));
    member m[2] = {{0}};
    snprintf(m[0].name, sizeof m[0].name, "org/ns/cli");
    snprintf(m[1].name, sizeof m[1].name, "org/ns/srv");
    m[0].app = group_app(m[0].name, nd.port, 0);
    m[1].app = group_app(m[1].name, nd.port, 0);
    if (m[0].app != NULL && m[1].app != NULL) {
        slim_session_options o = {.type = SLIM_SESSION_UNICAST,
                                  .peer = "org/ns/srv",
                                  .timeout_ms = 1000,
                                  .max_retries = 5,
                                  .mls = true};
        CHECK_OK(slim_app_set_route(m[0].app, "org/ns/srv", 0, 5000));
        CHECK_OK(slim_session_create(m[0].app, &o, 15000, &m[0].s));
        CHECK_OK(slim_app_listen(m[1].app, 5000, &m[1].s));
        CHECK(everyone(m, 2, load(200), 0));
        /* and the peer's replies to what it got */
        CHECK_OK(slim_session_publish(m[0].app, m[0].s, test_text("ping"), NULL, 5000, NULL));
        slim_message *msg = NULL;
        CHECK_OK(slim_session_get_message(m[1].app, m[1].s, 5000, &msg));
        if (msg != NULL) {
            CHECK_OK(slim_session_publish_to(m[1].app, m[1].s, msg, test_text("pong"), NULL, 5000,
                                             NULL));
            slim_message_free(msg);
            msg = NULL;
        }
        CHECK_OK(slim_session_get_message(m[0].app, m[0].s, 5000, &msg));
        CHECK(msg != NULL && msg->payload.len == 4 && memcmp(msg->payload.ptr, "pong", 4) == 0);
        slim_message_free(msg);
    }
    group_free(m, 2);
    test_node_stop(&nd);
}

/* ---- 8. key rotation ---- */

static uint64_t commits_of(member *m) {
    slim_app_counters c;
    return slim_app_counters_get(m->app, &c) == SLIM_OK ? c.mls_commits : 0;
}

/* The moderator commits a key update every second while everyone sends:
 * nothing lost, in order, and every member applies them; a member's
 * request and the moderator's call each make one more. */
TEST(mls_key_rotation_during_traffic) {
    test_node nd;
    member m[4];
    CHECK(test_node_start(&nd, ""));
    int ports[4] = {nd.port, nd.port, nd.port, nd.port};
    slim_session_options o = MLS_GROUP;
    o.mls_rotation_set = true;
    o.mls_rotation_s = 1;
    bool up = group_start(m, 4, ports, &o, 0);
    CHECK(up);
    if (up) {
        uint64_t c0[4];
        for (int i = 0; i < 4; i++)
            c0[i] = commits_of(&m[i]);
        group_traffic t = {.count = load(300), .pace_us = 10000, .marker = MARKER};
        CHECK(group_everyone(m, 4, &t)); /* at least 3 s */
        sleep_ms(200);
        uint64_t c1[4];
        for (int i = 0; i < 4; i++) {
            c1[i] = commits_of(&m[i]);
            CHECK_INT(c1[i], >=, c0[i] + 2);
        }
        CHECK_OK(slim_session_rotate_keys(m[2].app, m[2].s, 10000));
        CHECK_OK(slim_session_rotate_keys(m[0].app, m[0].s, 10000));
        sleep_ms(300);
        for (int i = 0; i < 4; i++)
            CHECK_INT(commits_of(&m[i]), >=, c1[i] + 2);
        t.count = load(20);
        t.pace_us = 0;
        t.marker = "after-rotation";
        CHECK(group_everyone(m, 4, &t));
    }
    group_free(m, 4);
    test_node_stop(&nd);
}

TEST_MAIN(TEST_ENTRY(mls_six_members_200_each), TEST_ENTRY(mls_six_members_suite1),
          TEST_ENTRY(mls_invite_and_remove_during_traffic),
          TEST_ENTRY(mls_node_observer_sees_no_plaintext),
          TEST_ENTRY(mls_tampered_ciphertext_and_header_are_refused),
          TEST_ENTRY(mls_replayed_commands_are_not_taken_twice),
          TEST_ENTRY(mls_invitee_with_a_refused_identity_cannot_join),
          TEST_ENTRY(mls_static_token_app_cannot_take_part), TEST_ENTRY(mls_through_lossy_proxies),
          TEST_ENTRY(mls_point_to_point), TEST_ENTRY(mls_key_rotation_during_traffic))
