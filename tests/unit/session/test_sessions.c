/*
 * The session core (src/session) on a simulated network (simnet.h):
 * applications with their own slim_sessions, a tiny router between them,
 * a fake clock, and seeded loss, duplication, reordering and delay.
 */
#include "test.h"
#include "router/forwarder.h"
#include "simnet.h"
#include "core/alloc.h"

#include <stdarg.h>

/* ---- helpers ---- */

static slim_session_config cfg_of(slim_session_type type, slim_sname peer, uint32_t timeout,
                                  uint32_t retries) {
    slim_session_config c;
    memset(&c, 0, sizeof c);
    c.type = type;
    c.peer = peer;
    c.timeout_ms = timeout;
    c.max_retries = retries;
    c.session_id = SLIM_SESSION_ID_ANY;
    return c;
}

static slim_publish pub_default(const char *text) {
    slim_publish p;
    memset(&p, 0, sizeof p);
    p.mode = SLIM_PUBLISH_DEFAULT;
    p.payload = slim_bytes_of(text, strlen(text));
    return p;
}

typedef struct wait_done {
    int app;
    uint64_t op;
} wait_done;

static bool done_seen(simnet *n, void *ud) {
    const wait_done *w = ud;
    const sim_app *a = &n->apps[w->app];
    for (size_t i = 0; i < a->nrecs; i++)
        if (a->recs[i].kind == SLIM_SOUT_DONE && a->recs[i].op == w->op)
            return true;
    return false;
}

static const sim_rec *done_rec(const simnet *n, int app, uint64_t op) {
    const sim_app *a = &n->apps[app];
    for (size_t i = 0; i < a->nrecs; i++)
        if (a->recs[i].kind == SLIM_SOUT_DONE && a->recs[i].op == op)
            return &a->recs[i];
    return NULL;
}

/* Opens a session of app a and runs until its DONE; returns the handle. */
static uint64_t open_wait(simnet *n, int a, const slim_session_config *c, uint64_t op,
                          slim_status want) {
    uint64_t h = 0;
    CHECK_OK(slim_sessions_open(n->apps[a].ss, c, op, n->now, &h));
    wait_done w = {a, op};
    sim_run(n, n->now + 120000, done_seen, &w);
    const sim_rec *r = done_rec(n, a, op);
    CHECK(r != NULL);
    if (r != NULL)
        CHECK_STATUS(r->status, want);
    return h;
}

typedef struct wait_kind {
    int app;
    slim_sout_kind kind;
    uint64_t session;
    size_t count;
} wait_kind;

static bool kind_seen(simnet *n, void *ud) {
    const wait_kind *w = ud;
    return sim_count(n, w->app, w->kind, w->session) >= w->count;
}

static void run_until_kind(simnet *n, int app, slim_sout_kind kind, uint64_t session, size_t count,
                           uint64_t limit) {
    wait_kind w = {app, kind, session, count};
    sim_run(n, n->now + limit, kind_seen, &w);
}

/* The session the application at index `app` learnt with NEW (the k-th). */
static uint64_t new_session(const simnet *n, int app, size_t k) {
    const sim_app *a = &n->apps[app];
    for (size_t i = 0; i < a->nrecs; i++)
        if (a->recs[i].kind == SLIM_SOUT_NEW && k-- == 0)
            return a->recs[i].session;
    return 0;
}

/* Messages of a session at an app, checked to be "<tag><i>" for i = 0.. in
 * order; returns how many. */
static size_t check_in_order(const simnet *n, int app, uint64_t session, const char *tag) {
    const sim_app *a = &n->apps[app];
    size_t k = 0, bad = 0;
    for (size_t i = 0; i < a->nrecs; i++) {
        const sim_rec *r = &a->recs[i];
        if (r->kind != SLIM_SOUT_MESSAGE || r->session != session)
            continue;
        char want[48];
        int len = snprintf(want, sizeof want, "%s%zu", tag, k);
        if ((size_t)len != r->len || memcmp(want, r->payload, r->len) != 0)
            bad++;
        k++;
    }
    CHECK_EQ(bad, 0);
    return k;
}

static slim_status publish_n(simnet *n, int app, uint64_t s, const char *tag, size_t i,
                             uint32_t *mid) {
    char text[48];
    snprintf(text, sizeof text, "%s%zu", tag, i);
    slim_publish p = pub_default(text);
    return slim_sessions_publish(n->apps[app].ss, s, &p, n->now, mid);
}

static void check_clean(simnet *n) {
    for (int i = 0; i < n->napps && getenv("DBG"); i++)
        for (uint64_t h = 1; h < 64; h++) {
            slim_ss_info info;
            if (slim_sessions_info(n->apps[i].ss, h, &info) == SLIM_OK)
                printf("open: app %d handle %llu id %u type %d init %d ready %d\n", i,
                       (unsigned long long)h, info.id, info.type, info.initiator, info.ready);
        }
    for (int i = 0; i < n->napps; i++) {
        slim_sessions_counters c;
        slim_sessions_counters_get(n->apps[i].ss, &c);
        CHECK_EQ(c.sessions_open, 0);
        CHECK_EQ(sim_routes(n, i), 0);
        CHECK_U64(slim_sessions_deadline(n->apps[i].ss), UINT64_MAX);
    }
}

/* Each session of each app: at most one CLOSED, nothing after it. */
static void check_closed_last(const simnet *n) {
    for (int a = 0; a < n->napps; a++) {
        const sim_app *p = &n->apps[a];
        for (size_t i = 0; i < p->nrecs; i++) {
            if (p->recs[i].kind != SLIM_SOUT_CLOSED)
                continue;
            for (size_t j = i + 1; j < p->nrecs; j++)
                if (p->recs[j].session == p->recs[i].session) {
                    TEST_FAIL_AT("app %d: output %d of session %llu after its CLOSED", a,
                                 (int)p->recs[j].kind, (unsigned long long)p->recs[i].session);
                    break;
                }
        }
    }
}

/* Lets the network settle, checks nothing is left open, frees it. */
static void teardown(simnet *n, uint64_t settle_ms) {
    sim_run(n, n->now + settle_ms, NULL, NULL);
    check_clean(n);
    check_closed_last(n);
    sim_free(n);
}

static slim_sname ALICE_SVC, BOB_SVC, NOBODY_SVC;

static void names_init(void) {
    ALICE_SVC = sim_service("org", "ns", "alice");
    BOB_SVC = sim_service("org", "ns", "bob");
    NOBODY_SVC = sim_service("org", "ns", "nobody");
}

/* alice (index 0) and `bobs` instances of org/ns/bob (1..bobs). */
static void setup(simnet *n, uint64_t seed, int bobs, const slim_sessions_config *cfg) {
    names_init();
    sim_init(n, seed);
    CHECK_EQ(sim_app_add(n, "org", "ns", "alice", 0xa11ce, 1, cfg, NULL), 0);
    for (int i = 1; i <= bobs; i++)
        CHECK_EQ(sim_app_add(n, "org", "ns", "bob", 0xb0b, (uint64_t)i, cfg, NULL), i);
}

/* ---- unicast ---- */

TEST(unicast_setup_sticks_to_one_instance) {
    simnet n;
    setup(&n, 7, 3, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 1000, 5);
    uint64_t s = open_wait(&n, 0, &c, 42, SLIM_OK);
    const sim_rec *d = done_rec(&n, 0, 42);
    CHECK(d != NULL && strstr(d->detail, "open with org/ns/bob/") != NULL);
    slim_ss_info info;
    CHECK_OK(slim_sessions_info(n.apps[0].ss, s, &info));
    CHECK(info.ready && info.initiator && info.reliable);
    CHECK_EQ(info.type, SLIM_SESSION_UNICAST);
    int chosen = -1;
    for (int i = 1; i <= 3; i++)
        if (slim_name_equal(&info.peer.name, &n.apps[i].name))
            chosen = i;
    CHECK(chosen > 0);
    if (chosen < 0) {
        sim_free(&n);
        return;
    }
    CHECK_EQ(sim_count(&n, chosen, SLIM_SOUT_NEW, 0), 1);
    uint64_t peer_s = new_session(&n, chosen, 0);
    uint32_t wire_id = info.id;
    CHECK_OK(slim_sessions_info(n.apps[chosen].ss, peer_s, &info));
    CHECK_EQ(info.id, wire_id);
    CHECK(!info.initiator && info.ready && info.reliable);
    CHECK_EQ(info.timeout_ms, 1000);
    CHECK_EQ(info.max_retries, 5);
    /* 1000 messages, published as the window allows. */
    size_t sent = 0;
    while (sent < 1000 || sim_count(&n, chosen, SLIM_SOUT_MESSAGE, 0) < 1000) {
        while (sent < 1000) {
            slim_status st = publish_n(&n, 0, s, "m", sent, NULL);
            if (st == SLIM_E_QUEUE_FULL)
                break;
            CHECK_OK(st);
            sent++;
        }
        if (!sim_step(&n, n.now + 60000))
            break;
    }
    CHECK_EQ(check_in_order(&n, chosen, peer_s, "m"), 1000);
    for (int i = 1; i <= 3; i++)
        if (i != chosen) {
            CHECK_EQ(n.apps[i].nrecs, 0);
        }
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_UNDELIVERED, 0), 0);
    /* Close tells the peer. */
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 43, n.now));
    run_until_kind(&n, 0, SLIM_SOUT_CLOSED, s, 1, 60000);
    run_until_kind(&n, chosen, SLIM_SOUT_CLOSED, peer_s, 1, 60000);
    const sim_rec *cl = sim_find(&n, chosen, SLIM_SOUT_CLOSED, peer_s, 0);
    CHECK(cl != NULL);
    if (cl != NULL) {
        CHECK_STATUS(cl->status, SLIM_OK);
        CHECK(strstr(cl->detail, "closed by org/ns/alice") != NULL);
    }
    d = done_rec(&n, 0, 43);
    CHECK(d != NULL && d->status == SLIM_OK);
    CHECK_STATUS(slim_sessions_info(n.apps[0].ss, s, &info), SLIM_E_CLOSED);
    CHECK_STATUS(publish_n(&n, 0, s, "x", 0, NULL), SLIM_E_CLOSED);
    teardown(&n, 5000);
}

/* Both ways, 10 000 messages each, under 10 % loss, 5 % duplication and
 * delays of 1-40 ms (reordering). */
/* App 0 (session s) and app 1 (session bs) each send n messages
 * "<tag><i>" as fast as their windows let them; each must get the
 * other's, once and in order, and nothing is undelivered. */
static void exchange(simnet *n, uint64_t s, uint64_t bs, size_t count, const char *ta,
                     const char *tb) {
    size_t a_sent = 0, b_sent = 0;
    uint64_t start = n->now;
    while (n->now - start < 3600000) {
        while (a_sent < count && publish_n(n, 0, s, ta, a_sent, NULL) == SLIM_OK)
            a_sent++;
        while (bs && b_sent < count && publish_n(n, 1, bs, tb, b_sent, NULL) == SLIM_OK)
            b_sent++;
        if (a_sent == count && b_sent == count && sim_count(n, 1, SLIM_SOUT_MESSAGE, 0) == count &&
            sim_count(n, 0, SLIM_SOUT_MESSAGE, 0) == count)
            break;
        if (!sim_step(n, n->now + 60000))
            break;
    }
    CHECK_EQ(check_in_order(n, 1, bs, ta), count);
    CHECK_EQ(check_in_order(n, 0, s, tb), count);
    CHECK_EQ(sim_count(n, 0, SLIM_SOUT_UNDELIVERED, 0), 0);
    CHECK_EQ(sim_count(n, 1, SLIM_SOUT_UNDELIVERED, 0), 0);
}

TEST(reliable_exactly_once_in_order_under_loss) {
    simnet n;
    setup(&n, 1234, 1, NULL);
    n.loss = 0.10;
    n.dup = 0.05;
    n.delay_min = 1;
    n.delay_max = 40;
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 800, 12);
    uint64_t s = open_wait(&n, 0, &c, 1, SLIM_OK);
    run_until_kind(&n, 1, SLIM_SOUT_NEW, 0, 1, 60000);
    uint64_t bs = new_session(&n, 1, 0);
    CHECK(bs != 0);
    const size_t N = 10000;
    uint64_t start = n.now;
    exchange(&n, s, bs, N, "a", "b");
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_LOST, 0), 0);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_LOST, 0), 0);
    slim_sessions_counters ca, cb;
    slim_sessions_counters_get(n.apps[0].ss, &ca);
    slim_sessions_counters_get(n.apps[1].ss, &cb);
    CHECK(ca.retransmissions > 0 && cb.retransmissions > 0);
    CHECK(ca.drop_duplicate > 0 && cb.drop_duplicate > 0);
    CHECK(ca.rtx_requests > 0 && cb.rtx_replies > 0);
    printf("  lossy: %.1f s simulated, retransmissions %llu/%llu, rtx %llu/%llu, dups %llu/%llu\n",
           (double)(n.now - start) / 1000.0, (unsigned long long)ca.retransmissions,
           (unsigned long long)cb.retransmissions, (unsigned long long)ca.rtx_requests,
           (unsigned long long)cb.rtx_requests, (unsigned long long)ca.drop_duplicate,
           (unsigned long long)cb.drop_duplicate);
    /* The peer closes; publish-then-close drained first. */
    CHECK_OK(publish_n(&n, 1, bs, "b", N, NULL));
    CHECK_OK(slim_sessions_close(n.apps[1].ss, bs, 9, n.now));
    CHECK_STATUS(publish_n(&n, 1, bs, "b", N + 1, NULL), SLIM_E_SESSION_CLOSING);
    CHECK_STATUS(slim_sessions_close(n.apps[1].ss, bs, 10, n.now), SLIM_E_SESSION_CLOSING);
    run_until_kind(&n, 0, SLIM_SOUT_CLOSED, s, 1, 120000);
    run_until_kind(&n, 1, SLIM_SOUT_CLOSED, bs, 1, 120000);
    CHECK_EQ(check_in_order(&n, 0, s, "b"), N + 1);
    const sim_rec *cl = sim_find(&n, 0, SLIM_SOUT_CLOSED, s, 0);
    CHECK(cl != NULL && cl->status == SLIM_OK && strstr(cl->detail, "left session") != NULL);
    teardown(&n, 60000);
}

/* ---- MLS ---- */

/* Counts data messages on the wire whose blob holds the text "secret". */
static size_t plain_seen, sealed_seen;

static bool spot_plaintext(simnet *n, int from, int to, const slim_msg *m) {
    (void)n;
    (void)from;
    (void)to;
    if (slim_wire_kind(m) != SLIM_MSG_PUBLISH || m->publish->session == NULL)
        return false;
    uint32_t t = m->publish->session->session_message_type;
    const Dataplane__Proto__V1__ApplicationPayload *ap =
        m->publish->msg != NULL ? m->publish->msg->app_payload : NULL;
    if ((t != 1 && t != 4) || ap == NULL || ap->blob.len == 0)
        return false;
    sealed_seen++;
    if (memmem(ap->blob.data, ap->blob.len, "secret", 6) != NULL)
        plain_seen++;
    return false;
}

/* Point-to-point with MLS: the two-member group made at the join; data
 * both ways exactly once and in order through loss and reordering,
 * never in clear on the wire. */
TEST(mls_unicast_reliable_under_loss) {
    simnet n;
    setup(&n, 4321, 1, NULL);
    n.loss = 0.10;
    n.delay_max = 40;
    plain_seen = sealed_seen = 0;
    n.filter = spot_plaintext;
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 800, 12);
    c.mls = true;
    uint64_t s = open_wait(&n, 0, &c, 1, SLIM_OK);
    run_until_kind(&n, 1, SLIM_SOUT_NEW, 0, 1, 60000);
    uint64_t bs = new_session(&n, 1, 0);
    CHECK(bs != 0);
    const size_t N = 1500;
    exchange(&n, s, bs, N, "secret-a", "secret-b");
    CHECK(sealed_seen >= 2 * N);
    CHECK_EQ(plain_seen, 0);
    slim_sessions_counters ca, cb;
    slim_sessions_counters_get(n.apps[0].ss, &ca);
    slim_sessions_counters_get(n.apps[1].ss, &cb);
    CHECK_EQ(ca.mls_commits, 1); /* the add */
    CHECK(ca.retransmissions > 0 && cb.retransmissions > 0);
    CHECK_EQ(ca.drop_mls_aad + cb.drop_mls_aad + ca.drop_mls_sender + cb.drop_mls_sender, 0);
    n.filter = NULL;
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 9, n.now));
    run_until_kind(&n, 1, SLIM_SOUT_CLOSED, bs, 1, 120000);
    teardown(&n, 60000);
}

/* A peer whose credential names another app id is refused at the join. */
TEST(mls_unicast_refuses_a_credential_for_another_name) {
    simnet n;
    setup(&n, 99, 1, NULL);
    n.apps[1].cred_id = (slim_id){0xbad, 1};
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 800, 3);
    c.mls = true;
    open_wait(&n, 0, &c, 1, SLIM_E_SESSION_MLS_IDENTITY);
    const sim_rec *d = done_rec(&n, 0, 1);
    CHECK(d != NULL && strstr(d->detail, "MLS") != NULL);
    teardown(&n, 60000);
}

/* Unreliable: fire and forget, arrival order, copies never twice. */
TEST(unreliable_no_duplicates) {
    simnet n;
    setup(&n, 99, 1, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 0, 0);
    uint64_t s = open_wait(&n, 0, &c, 1, SLIM_OK);
    slim_ss_info info;
    CHECK_OK(slim_sessions_info(n.apps[0].ss, s, &info));
    CHECK(!info.reliable);
    n.dup = 0.5;
    for (size_t i = 0; i < 300; i++)
        CHECK_OK(publish_n(&n, 0, s, "u", i, NULL));
    sim_run(&n, n.now + 5000, NULL, NULL);
    CHECK_EQ(check_in_order(&n, 1, new_session(&n, 1, 0), "u"), 300);
    slim_sessions_counters cb;
    slim_sessions_counters_get(n.apps[1].ss, &cb);
    CHECK(cb.drop_duplicate > 50);
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 0, n.now));
    teardown(&n, 30000);
}

/* ---- anycast ---- */

TEST(anycast_spreads_over_instances) {
    simnet n;
    setup(&n, 5, 3, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_ANYCAST, BOB_SVC, 1000, 5);
    uint64_t s = 0;
    CHECK_OK(slim_sessions_open(n.apps[0].ss, &c, 77, n.now, &s));
    sim_pump_all(&n);
    const sim_rec *d = done_rec(&n, 0, 77);
    CHECK(d != NULL && d->status == SLIM_OK && strstr(d->detail, "anycast session") != NULL);
    uint32_t mids[300];
    for (size_t i = 0; i < 300; i++)
        CHECK_OK(publish_n(&n, 0, s, "any", i, &mids[i]));
    CHECK_EQ(mids[0], 1);
    CHECK_EQ(mids[299], 300);
    sim_run(&n, n.now + 10000, NULL, NULL);
    size_t total = 0;
    bool seen[300] = {false};
    for (int i = 1; i <= 3; i++) {
        CHECK_EQ(sim_count(&n, i, SLIM_SOUT_NEW, 0), 1);
        size_t got = sim_count(&n, i, SLIM_SOUT_MESSAGE, 0);
        CHECK(got >= 50); /* spread */
        total += got;
        const sim_app *a = &n.apps[i];
        for (size_t k = 0; k < a->nrecs; k++)
            if (a->recs[k].kind == SLIM_SOUT_MESSAGE) {
                unsigned v = 0;
                CHECK(sscanf((const char *)a->recs[k].payload, "any%u", &v) == 1 && v < 300);
                if (v < 300) {
                    CHECK(!seen[v]);
                    seen[v] = true;
                }
            }
        slim_ss_info info;
        CHECK_OK(slim_sessions_info(a->ss, new_session(&n, i, 0), &info));
        CHECK_EQ(info.type, SLIM_SESSION_ANYCAST);
        CHECK(!info.initiator);
    }
    CHECK_EQ(total, 300);
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_UNDELIVERED, 0), 0);
    /* DESTINATION on ANYCAST, and the publish modes refused by type. */
    slim_publish p = pub_default("to-one");
    p.mode = SLIM_PUBLISH_DESTINATION;
    p.to = sim_sname(&n, 2);
    n.loose_routes = true; /* the application would set a route to that instance */
    CHECK_OK(slim_sessions_publish(n.apps[0].ss, s, &p, n.now, NULL));
    sim_run(&n, n.now + 2000, NULL, NULL);
    n.loose_routes = false;
    const sim_app *b2 = &n.apps[2];
    CHECK(b2->nrecs > 0 && b2->recs[b2->nrecs - 1].len == 6 &&
          memcmp(b2->recs[b2->nrecs - 1].payload, "to-one", 6) == 0);
    /* Closing tells every instance that answered. */
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 78, n.now));
    for (int i = 1; i <= 3; i++)
        run_until_kind(&n, i, SLIM_SOUT_CLOSED, 0, 1, 30000);
    run_until_kind(&n, 0, SLIM_SOUT_CLOSED, s, 1, 30000);
    for (int i = 1; i <= 3; i++) {
        const sim_rec *cl = sim_find(&n, i, SLIM_SOUT_CLOSED, 0, 0);
        CHECK(cl != NULL && cl->status == SLIM_OK);
    }
    d = done_rec(&n, 0, 78);
    CHECK(d != NULL && d->status == SLIM_OK);
    teardown(&n, 5000);
}

/* A session a peer's anycast message opened ends when idle; its own close
 * tells the opener, which goes on. */
TEST(anycast_receiver_idle_and_leave) {
    slim_sessions_config cfg = {.idle_ms = 5000};
    simnet n;
    setup(&n, 11, 2, &cfg);
    slim_session_config c = cfg_of(SLIM_SESSION_ANYCAST, BOB_SVC, 0, 0);
    uint64_t s = 0;
    CHECK_OK(slim_sessions_open(n.apps[0].ss, &c, 0, n.now, &s));
    CHECK_OK(publish_n(&n, 0, s, "x", 0, NULL));
    CHECK_OK(publish_n(&n, 0, s, "x", 1, NULL));
    sim_run(&n, n.now + 1000, NULL, NULL);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_MESSAGE, 0) + sim_count(&n, 2, SLIM_SOUT_MESSAGE, 0), 2);
    /* bob1 leaves, bob2 idles out. */
    uint64_t b1 = new_session(&n, 1, 0), b2 = new_session(&n, 2, 0);
    CHECK(b1 != 0 && b2 != 0);
    CHECK_OK(slim_sessions_close(n.apps[1].ss, b1, 5, n.now));
    run_until_kind(&n, 1, SLIM_SOUT_CLOSED, b1, 1, 20000);
    const sim_rec *d = done_rec(&n, 1, 5);
    CHECK(d != NULL && d->status == SLIM_OK && strstr(d->detail, "closed") != NULL);
    run_until_kind(&n, 2, SLIM_SOUT_CLOSED, b2, 1, 20000);
    const sim_rec *cl = sim_find(&n, 2, SLIM_SOUT_CLOSED, b2, 0);
    CHECK(cl != NULL && cl->status == SLIM_E_SESSION_IDLE &&
          strstr(cl->detail, "nothing received for 5000 ms") != NULL);
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_CLOSED, 0), 0); /* the opener goes on */
    CHECK_OK(publish_n(&n, 0, s, "x", 2, NULL));
    sim_run(&n, n.now + 1000, NULL, NULL);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_NEW, 0) + sim_count(&n, 2, SLIM_SOUT_NEW, 0), 3);
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 0, n.now));
    teardown(&n, 20000);
}

/* An anycast opener that heard from no instance ends at once when closed;
 * an instance that then leaves is still answered (by the ended session's
 * tombstone), so its close does not wait for every retry. Seen in a
 * fuzz_sessions trace. */
TEST(anycast_opener_gone_answers_leave) {
    simnet n;
    setup(&n, 23, 1, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_ANYCAST, BOB_SVC, 0, 0);
    uint64_t s = 0;
    CHECK_OK(slim_sessions_open(n.apps[0].ss, &c, 0, n.now, &s));
    CHECK_OK(publish_n(&n, 0, s, "x", 0, NULL));
    run_until_kind(&n, 1, SLIM_SOUT_MESSAGE, 0, 1, 1000);
    uint64_t b = new_session(&n, 1, 0);
    CHECK(b != 0);
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 0, n.now));
    run_until_kind(&n, 0, SLIM_SOUT_CLOSED, s, 1, 1000);
    uint64_t t0 = n.now;
    CHECK_OK(slim_sessions_close(n.apps[1].ss, b, 7, n.now));
    run_until_kind(&n, 1, SLIM_SOUT_CLOSED, b, 1, 30000);
    const sim_rec *d = done_rec(&n, 1, 7);
    CHECK(d != NULL && d->status == SLIM_OK && strstr(d->detail, "did not answer") == NULL);
    CHECK(d != NULL && d->at - t0 < 100);
    teardown(&n, 5000);
}

static bool drop_welcome(simnet *n, int from, int to, const slim_msg *m) {
    (void)n;
    (void)from;
    (void)to;
    return m->publish->session->session_message_type == 12;
}

/* The timer settings of a JOIN_REQUEST are the peer's to choose, and they
 * set how long the joiner holds the session waiting for the welcome: taken
 * up to 60 s and 32 retries. Found by fuzz_sessions (a joiner left waiting
 * for 19 hours). */
TEST(peer_timer_settings_are_bounded) {
    simnet n;
    setup(&n, 24, 1, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 3600000, 1000);
    uint64_t s = open_wait(&n, 0, &c, 1, SLIM_OK);
    uint64_t b = new_session(&n, 1, 0);
    slim_ss_info info;
    CHECK_OK(slim_sessions_info(n.apps[1].ss, b, &info));
    CHECK_EQ(info.timeout_ms, 60000);
    CHECK_EQ(info.max_retries, 32);
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 0, n.now));
    run_until_kind(&n, 1, SLIM_SOUT_CLOSED, b, 1, 5000);
    /* Never welcomed: bob's side ends after 60 s x (32 + 2). */
    n.filter = drop_welcome;
    uint64_t t0 = n.now;
    CHECK_OK(slim_sessions_open(n.apps[0].ss, &c, 0, n.now, &s));
    sim_run(&n, n.now + 1000, NULL, NULL);
    slim_sessions_counters k;
    slim_sessions_counters_get(n.apps[1].ss, &k);
    CHECK_EQ(k.sessions_open, 1);
    sim_run(&n, t0 + 60000 * 34 + 1000, NULL, NULL);
    slim_sessions_counters_get(n.apps[1].ss, &k);
    CHECK_EQ(k.sessions_open, 0);
    n.filter = NULL;
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 0, n.now));
    teardown(&n, 5000);
}

/* ---- request/reply ---- */

static void request_reply(slim_session_type type) {
    simnet n;
    setup(&n, 21, 2, NULL);
    slim_session_config c = cfg_of(type, BOB_SVC, 1000, 3);
    uint64_t s = type == SLIM_SESSION_UNICAST ? open_wait(&n, 0, &c, 1, SLIM_OK) : 0;
    if (type == SLIM_SESSION_ANYCAST)
        CHECK_OK(slim_sessions_open(n.apps[0].ss, &c, 0, n.now, &s));
    CHECK_OK(publish_n(&n, 0, s, "req", 0, NULL));
    int server = -1;
    for (int t = 0; t < 100 && server < 0; t++) {
        sim_step(&n, n.now + 1000);
        for (int i = 1; i <= 2; i++)
            if (sim_count(&n, i, SLIM_SOUT_MESSAGE, 0) > 0)
                server = i;
    }
    CHECK(server > 0);
    if (server < 0) {
        sim_free(&n);
        return;
    }
    const sim_rec *req = sim_find(&n, server, SLIM_SOUT_MESSAGE, 0, 0);
    CHECK(slim_name_equal(&req->source, &n.apps[0].name));
    CHECK_EQ(req->input_conn, n.apps[0].conn);
    slim_publish p = pub_default("reply0");
    p.mode = SLIM_PUBLISH_TO;
    p.to.name = req->source; /* the context of the request */
    p.conn = req->input_conn;
    CHECK_OK(slim_sessions_publish(n.apps[server].ss, req->session, &p, n.now, NULL));
    run_until_kind(&n, 0, SLIM_SOUT_MESSAGE, s, 1, 5000);
    const sim_rec *rep = sim_find(&n, 0, SLIM_SOUT_MESSAGE, s, 0);
    CHECK(rep != NULL && rep->len == 6 && memcmp(rep->payload, "reply0", 6) == 0);
    if (rep != NULL)
        CHECK(slim_name_equal(&rep->source, &n.apps[server].name));
    /* DEFAULT from the server's side goes back to the opener as well. */
    CHECK_OK(
        slim_sessions_publish(n.apps[server].ss, req->session, &(slim_publish){0}, n.now, NULL));
    run_until_kind(&n, 0, SLIM_SOUT_MESSAGE, s, 2, 5000);
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_MESSAGE, s), 2);
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 0, n.now));
    teardown(&n, 60000);
}

TEST(request_reply_anycast) {
    request_reply(SLIM_SESSION_ANYCAST);
}

TEST(request_reply_unicast) {
    request_reply(SLIM_SESSION_UNICAST);
}

/* ---- a name nobody serves ---- */

TEST(unicast_discovery_fails_after_retries) {
    simnet n;
    setup(&n, 3, 1, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, NOBODY_SVC, 1000, 3);
    uint64_t t0 = n.now;
    uint64_t s = 0;
    CHECK_OK(slim_sessions_open(n.apps[0].ss, &c, 5, t0, &s));
    CHECK_OK(publish_n(&n, 0, s, "early", 0, NULL)); /* waits for the join */
    wait_done w = {0, 5};
    sim_run(&n, t0 + 60000, done_seen, &w);
    const sim_rec *d = done_rec(&n, 0, 5);
    CHECK(d != NULL);
    if (d != NULL) {
        CHECK_STATUS(d->status, SLIM_E_SESSION_DISCOVERY_FAILED);
        CHECK_EQ(d->at - t0, 4000); /* (max_retries + 1) x timeout */
        CHECK(strstr(d->detail, "discovery of org/ns/nobody") != NULL);
        CHECK(strstr(d->detail, "after 3 retries") != NULL);
    }
    sim_pump_all(&n);
    const sim_rec *u = sim_find(&n, 0, SLIM_SOUT_UNDELIVERED, s, 0);
    CHECK(u != NULL && u->message_id == 1 && u->status == SLIM_E_SESSION_CLOSED_UNACKED);
    const sim_rec *cl = sim_find(&n, 0, SLIM_SOUT_CLOSED, s, 0);
    CHECK(cl != NULL && cl->status == SLIM_E_SESSION_DISCOVERY_FAILED);
    teardown(&n, 0);
}

TEST(unicast_discovery_node_error_fails_at_once) {
    simnet n;
    setup(&n, 3, 1, NULL);
    n.node_errors = true;
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, NOBODY_SVC, 1000, 10);
    uint64_t t0 = n.now;
    open_wait(&n, 0, &c, 5, SLIM_E_SESSION_NO_ROUTE);
    const sim_rec *d = done_rec(&n, 0, 5);
    CHECK(d != NULL && d->at - t0 < 100);
    CHECK(d != NULL && strstr(d->detail, "no route") != NULL);
    slim_sessions_counters ca;
    slim_sessions_counters_get(n.apps[0].ss, &ca);
    CHECK_EQ(ca.node_errors, 1);
    teardown(&n, 0);
}

TEST(anycast_undelivered_after_retries) {
    simnet n;
    setup(&n, 3, 1, NULL);
    n.node_errors = true; /* data errors do not cut retries short */
    slim_session_config c = cfg_of(SLIM_SESSION_ANYCAST, NOBODY_SVC, 1000, 3);
    uint64_t s = 0;
    CHECK_OK(slim_sessions_open(n.apps[0].ss, &c, 0, n.now, &s));
    uint64_t t0 = n.now;
    uint32_t mid = 0;
    CHECK_OK(publish_n(&n, 0, s, "lost", 0, &mid));
    run_until_kind(&n, 0, SLIM_SOUT_UNDELIVERED, s, 1, 60000);
    const sim_rec *u = sim_find(&n, 0, SLIM_SOUT_UNDELIVERED, s, 0);
    CHECK(u != NULL);
    if (u != NULL) {
        CHECK_EQ(u->message_id, mid);
        CHECK_STATUS(u->status, SLIM_E_SESSION_UNDELIVERED);
        CHECK_EQ(u->at - t0, 4000);
        char want[64];
        snprintf(want, sizeof want, "message %u of session", mid);
        CHECK(strstr(u->detail, want) != NULL);
        CHECK(strstr(u->detail, "after 3 retries") != NULL);
    }
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 0, n.now));
    teardown(&n, 1000);
}

/* ---- heartbeats ---- */

TEST(heartbeat_loss_ends_both_sides) {
    slim_sessions_config cfg = {.heartbeat_ms = 1000};
    simnet n;
    setup(&n, 8, 1, &cfg);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 0, 0);
    uint64_t s = open_wait(&n, 0, &c, 1, SLIM_OK);
    run_until_kind(&n, 1, SLIM_SOUT_NEW, 0, 1, 5000);
    uint64_t bs = new_session(&n, 1, 0);
    /* Idle but alive: heartbeats keep it. */
    sim_run(&n, n.now + 20000, NULL, NULL);
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_CLOSED, 0), 0);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_CLOSED, 0), 0);
    slim_sessions_counters ca;
    slim_sessions_counters_get(n.apps[0].ss, &ca);
    CHECK(ca.heartbeats >= 15);
    uint64_t cut = n.now;
    n.partition[0][1] = n.partition[1][0] = true;
    run_until_kind(&n, 0, SLIM_SOUT_CLOSED, s, 1, 20000);
    run_until_kind(&n, 1, SLIM_SOUT_CLOSED, bs, 1, 20000);
    const sim_rec *a = sim_find(&n, 0, SLIM_SOUT_CLOSED, s, 0);
    const sim_rec *b = sim_find(&n, 1, SLIM_SOUT_CLOSED, bs, 0);
    CHECK(a != NULL && b != NULL);
    if (a != NULL && b != NULL) {
        CHECK_STATUS(a->status, SLIM_E_SESSION_PEER_GONE);
        CHECK_STATUS(b->status, SLIM_E_SESSION_PEER_GONE);
        CHECK(a->at - cut <= 3000 && b->at - cut <= 3000);
        CHECK(a->at - cut >= 2000 && b->at - cut >= 2000);
        CHECK(strstr(a->detail, "org/ns/bob/") != NULL &&
              strstr(a->detail, "for 3 heartbeat ticks") != NULL);
    }
    teardown(&n, 0);
}

/* ---- closing ---- */

TEST(close_by_joiner_and_during_join) {
    simnet n;
    setup(&n, 12, 1, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 700, 2);
    uint64_t s = open_wait(&n, 0, &c, 1, SLIM_OK);
    run_until_kind(&n, 1, SLIM_SOUT_NEW, 0, 1, 5000);
    uint64_t bs = new_session(&n, 1, 0);
    CHECK_OK(slim_sessions_close(n.apps[1].ss, bs, 2, n.now));
    run_until_kind(&n, 0, SLIM_SOUT_CLOSED, s, 1, 10000);
    run_until_kind(&n, 1, SLIM_SOUT_CLOSED, bs, 1, 10000);
    const sim_rec *cl = sim_find(&n, 0, SLIM_SOUT_CLOSED, s, 0);
    CHECK(cl != NULL && cl->status == SLIM_OK && strstr(cl->detail, "left session") != NULL);
    const sim_rec *d = done_rec(&n, 1, 2);
    CHECK(d != NULL && d->status == SLIM_OK);
    /* A close before the join finishes cancels the open. */
    uint64_t s2 = 0;
    CHECK_OK(slim_sessions_open(n.apps[0].ss, &c, 3, n.now, &s2));
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s2, 4, n.now));
    sim_pump_all(&n);
    d = done_rec(&n, 0, 3);
    CHECK(d != NULL && d->status == SLIM_E_CANCELLED && strstr(d->detail, "cancelled") != NULL);
    d = done_rec(&n, 0, 4);
    CHECK(d != NULL && d->status == SLIM_OK);
    CHECK(sim_find(&n, 0, SLIM_SOUT_CLOSED, s2, 0) != NULL);
    /* The close never answered: DONE still OK, after the retries. */
    uint64_t s3 = open_wait(&n, 0, &c, 5, SLIM_OK);
    n.partition[0][1] = n.partition[1][0] = true;
    uint64_t t0 = n.now;
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s3, 6, n.now));
    wait_done w = {0, 6};
    sim_run(&n, n.now + 30000, done_seen, &w);
    d = done_rec(&n, 0, 6);
    CHECK(d != NULL && d->status == SLIM_OK && d->at - t0 == 2100 &&
          strstr(d->detail, "did not answer the close after 2 retries") != NULL);
    sim_run(&n, n.now + 60000, NULL, NULL); /* bob: heartbeats say alice is gone */
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_CLOSED, 0), 2);
    teardown(&n, 0);
}

/* A late GROUP_CLOSE copy after the peer ended its side is still answered
 * (the tombstone), so the closer does not wait for its retries. */
static int drop_first_ack;
static bool filter_first_group_ack(simnet *n, int from, int to, const slim_msg *m) {
    (void)n;
    (void)to;
    if (from == 1 && slim_wire_kind(m) == SLIM_MSG_PUBLISH &&
        m->publish->session->session_message_type == 15 && drop_first_ack-- > 0)
        return true;
    return false;
}

TEST(close_answer_lost_is_answered_again) {
    simnet n;
    setup(&n, 13, 1, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 1000, 5);
    uint64_t s = open_wait(&n, 0, &c, 1, SLIM_OK);
    run_until_kind(&n, 1, SLIM_SOUT_NEW, 0, 1, 5000);
    drop_first_ack = 1;
    n.filter = filter_first_group_ack;
    uint64_t t0 = n.now;
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 2, n.now));
    wait_done w = {0, 2};
    sim_run(&n, n.now + 30000, done_seen, &w);
    const sim_rec *d = done_rec(&n, 0, 2);
    CHECK(d != NULL && d->status == SLIM_OK && strstr(d->detail, "did not answer") == NULL);
    CHECK(d != NULL && d->at - t0 < 1100);
    teardown(&n, 5000);
}

/* ---- loss reported in order ---- */

static bool drop_msg1(simnet *n, int from, int to, const slim_msg *m) {
    (void)n;
    (void)to;
    if (from != 0 || slim_wire_kind(m) != SLIM_MSG_PUBLISH)
        return false;
    uint32_t t = m->publish->session->session_message_type;
    return (t == 1 || t == 4) && m->publish->session->message_id == 1;
}

TEST(lost_messages_reported_in_place) {
    simnet n;
    setup(&n, 14, 1, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 600, 2);
    uint64_t s = open_wait(&n, 0, &c, 1, SLIM_OK);
    run_until_kind(&n, 1, SLIM_SOUT_NEW, 0, 1, 5000);
    uint64_t bs = new_session(&n, 1, 0);
    n.filter = drop_msg1; /* message 1 and every RTX_REPLY for it */
    CHECK_OK(publish_n(&n, 0, s, "m", 0, NULL));
    CHECK_OK(publish_n(&n, 0, s, "m", 1, NULL));
    run_until_kind(&n, 1, SLIM_SOUT_LOST, bs, 1, 30000);
    run_until_kind(&n, 0, SLIM_SOUT_UNDELIVERED, s, 1, 30000);
    const sim_app *b = &n.apps[1];
    /* LOST(1) then message 2, in that order */
    const sim_rec *l = sim_find(&n, 1, SLIM_SOUT_LOST, bs, 0);
    CHECK(l != NULL && l->message_id == 1 && l->status == SLIM_E_SESSION_LOST);
    size_t li = l ? (size_t)(l - b->recs) : 0;
    const sim_rec *m2 = sim_find(&n, 1, SLIM_SOUT_MESSAGE, bs, 0);
    CHECK(m2 != NULL && m2->message_id == 2 && (size_t)(m2 - b->recs) > li);
    const sim_rec *u = sim_find(&n, 0, SLIM_SOUT_UNDELIVERED, s, 0);
    CHECK(u != NULL && u->message_id == 1 && strstr(u->detail, "after 2 retries") != NULL);
    n.filter = NULL;
    /* The stream goes on. */
    CHECK_OK(publish_n(&n, 0, s, "m", 2, NULL));
    run_until_kind(&n, 1, SLIM_SOUT_MESSAGE, bs, 2, 5000);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_MESSAGE, bs), 2);
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 0, n.now));
    teardown(&n, 20000);
}

/* The sender no longer has it: an error RTX_REPLY, LOST at once. */
static bool drop_alice_to_bob(simnet *n, int from, int to, const slim_msg *m) {
    (void)m;
    return n->filter_ud != NULL && from == 0 && to == 1;
}

TEST(lost_by_rtx_error_reply) {
    simnet n;
    setup(&n, 15, 1, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 600, 1);
    uint64_t s = open_wait(&n, 0, &c, 1, SLIM_OK);
    run_until_kind(&n, 1, SLIM_SOUT_NEW, 0, 1, 5000);
    uint64_t bs = new_session(&n, 1, 0);
    n.filter = drop_alice_to_bob;
    n.filter_ud = &n;
    CHECK_OK(publish_n(&n, 0, s, "m", 0, NULL));
    run_until_kind(&n, 0, SLIM_SOUT_UNDELIVERED, s, 1, 5000);
    n.filter_ud = NULL;
    uint64_t t0 = n.now;
    CHECK_OK(publish_n(&n, 0, s, "m", 1, NULL));
    run_until_kind(&n, 1, SLIM_SOUT_MESSAGE, bs, 1, 5000);
    const sim_rec *l = sim_find(&n, 1, SLIM_SOUT_LOST, bs, 0);
    CHECK(l != NULL && l->message_id == 1 && strstr(l->detail, "no longer has it") != NULL);
    CHECK(l != NULL && l->at - t0 < 100);
    slim_sessions_counters ca;
    slim_sessions_counters_get(n.apps[0].ss, &ca);
    CHECK_EQ(ca.rtx_replies, 1);
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 0, n.now));
    teardown(&n, 20000);
}

/* ---- identity ---- */

TEST(identity_failure_drops_and_counts) {
    simnet n;
    setup(&n, 16, 1, NULL);
    /* A discovery without a signature is not answered. */
    n.apps[0].no_sig = true;
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 600, 1);
    open_wait(&n, 0, &c, 1, SLIM_E_SESSION_DISCOVERY_FAILED);
    slim_sessions_counters cb;
    slim_sessions_counters_get(n.apps[1].ss, &cb);
    CHECK_EQ(cb.drop_identity, 2);
    n.apps[0].no_sig = false;
    /* A session up, then alice's tokens go bad: dropped, never delivered. */
    uint64_t s = open_wait(&n, 0, &c, 2, SLIM_OK);
    run_until_kind(&n, 1, SLIM_SOUT_NEW, 0, 1, 5000);
    n.apps[0].bad_token = true;
    CHECK_OK(publish_n(&n, 0, s, "forged", 0, NULL));
    run_until_kind(&n, 0, SLIM_SOUT_UNDELIVERED, s, 1, 10000);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_MESSAGE, 0), 0);
    slim_sessions_counters_get(n.apps[1].ss, &cb);
    CHECK(cb.drop_identity >= 4);
    n.apps[0].bad_token = false;
    CHECK_OK(publish_n(&n, 0, s, "good", 1, NULL));
    run_until_kind(&n, 1, SLIM_SOUT_MESSAGE, 0, 1, 5000);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_MESSAGE, 0), 1);
    /* A JOIN_REQUEST with a bad token creates nothing. */
    n.apps[0].bad_token = true;
    open_wait(&n, 0, &c, 3, SLIM_E_SESSION_DISCOVERY_FAILED);
    n.apps[0].bad_token = false;
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 0, n.now));
    teardown(&n, 20000);
}

/* ---- names ---- */

TEST(names_the_app_answers_for) {
    simnet n;
    setup(&n, 17, 1, NULL);
    slim_sname other = sim_service("org", "ns", "bob-alias");
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, other, 600, 1);
    /* Served by the router but not a name bob answers for: dropped. */
    n.apps[1].extra[n.apps[1].nextra++] = other.name;
    open_wait(&n, 0, &c, 1, SLIM_E_SESSION_DISCOVERY_FAILED);
    slim_sessions_counters cb;
    slim_sessions_counters_get(n.apps[1].ss, &cb);
    CHECK_EQ(cb.drop_unknown, 2);
    CHECK_OK(slim_sessions_add_name(n.apps[1].ss, &other));
    CHECK_OK(slim_sessions_add_name(n.apps[1].ss, &other)); /* twice is fine */
    uint64_t s = open_wait(&n, 0, &c, 2, SLIM_OK);
    slim_ss_info info;
    CHECK_OK(slim_sessions_info(n.apps[0].ss, s, &info));
    CHECK(info.peer.text[2].len == 9 && memcmp(info.peer.text[2].ptr, "bob-alias", 9) == 0);
    CHECK(slim_id_equal(info.peer.name.id, n.apps[1].name.id));
    uint64_t bs = new_session(&n, 1, 0);
    CHECK_OK(slim_sessions_info(n.apps[1].ss, bs, &info));
    CHECK(slim_name_same_service(&info.local.name, &other.name));
    CHECK_OK(slim_sessions_remove_name(n.apps[1].ss, &other));
    CHECK_STATUS(slim_sessions_remove_name(n.apps[1].ss, &other), SLIM_E_NOT_FOUND);
    slim_sname own = sim_sname(&n, 1);
    CHECK_STATUS(slim_sessions_remove_name(n.apps[1].ss, &own), SLIM_E_INVALID_ARG);
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 0, n.now));
    teardown(&n, 20000);
}

/* ---- refusals leave the state usable ---- */

/* A reliable ANYCAST session of app 0 to nobody: `window` messages are
 * taken, then E_QUEUE_FULL; once they are given up (UNDELIVERED) there is
 * room again (one more is taken). Returns the session. */
static uint64_t window_fills_and_empties(simnet *n, size_t window) {
    slim_session_config c = cfg_of(SLIM_SESSION_ANYCAST, NOBODY_SVC, 1000, 1);
    uint64_t s = 0;
    CHECK_OK(slim_sessions_open(n->apps[0].ss, &c, 0, n->now, &s));
    size_t k = 0;
    while (publish_n(n, 0, s, "w", k, NULL) == SLIM_OK)
        k++;
    CHECK_EQ(k, window);
    CHECK_STATUS(publish_n(n, 0, s, "w", k, NULL), SLIM_E_QUEUE_FULL);
    sim_run(n, n->now + 5000, NULL, NULL);
    CHECK_EQ(sim_count(n, 0, SLIM_SOUT_UNDELIVERED, s), window);
    CHECK_OK(publish_n(n, 0, s, "w", k, NULL));
    return s;
}

TEST(refusals_leave_state_usable) {
    slim_sessions_config cfg = {.max_sessions = 2};
    simnet n;
    setup(&n, 18, 1, &cfg);
    slim_sessions *a = n.apps[0].ss;
    uint64_t h = 0;
    /* MLS: not for ANYCAST, nor without the MLS ops */
    slim_session_config c = cfg_of(SLIM_SESSION_ANYCAST, BOB_SVC, 0, 0);
    c.mls = true;
    CHECK_STATUS(slim_sessions_open(a, &c, 1, n.now, &h), SLIM_E_UNSUPPORTED);
    n.no_mls = true;
    int plain = sim_app_add(&n, "org", "ns", "plain", 0x77, 1, &cfg, NULL);
    CHECK(plain > 0);
    c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 0, 0);
    c.mls = true;
    CHECK_STATUS(slim_sessions_open(n.apps[plain].ss, &c, 1, n.now, &h), SLIM_E_UNSUPPORTED);
    c = cfg_of(SLIM_SESSION_MULTICAST, BOB_SVC, 0, 0);
    c.mls = true;
    CHECK_STATUS(slim_sessions_open(n.apps[plain].ss, &c, 1, n.now, &h), SLIM_E_UNSUPPORTED);
    c = cfg_of(SLIM_SESSION_UNICAST, (slim_sname){0}, 0, 0);
    CHECK_STATUS(slim_sessions_open(a, &c, 1, n.now, &h), SLIM_E_INVALID_ARG);
    c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 0, 0);
    c.session_id = SLIM_SESSION_ID_MAX;
    CHECK_STATUS(slim_sessions_open(a, &c, 1, n.now, &h), SLIM_E_SESSION_BAD_ID);
    c.session_id = 7;
    uint64_t s7 = open_wait(&n, 0, &c, 2, SLIM_OK);
    CHECK_STATUS(slim_sessions_open(a, &c, 3, n.now, &h), SLIM_E_EXISTS);
    c = cfg_of(SLIM_SESSION_ANYCAST, (slim_sname){0}, 0, 0);
    uint64_t any = 0;
    CHECK_OK(slim_sessions_open(a, &c, 0, n.now, &any));
    CHECK_STATUS(slim_sessions_open(a, &c, 0, n.now, &h), SLIM_E_SESSION_LIMIT);
    slim_publish p = pub_default("x");
    CHECK_STATUS(slim_sessions_publish(a, any, &p, n.now, NULL), SLIM_E_SESSION_NO_DESTINATION);
    p.mode = SLIM_PUBLISH_DESTINATION;
    p.to = BOB_SVC;
    CHECK_STATUS(slim_sessions_publish(a, s7, &p, n.now, NULL), SLIM_E_SESSION_EXPECTED_ANYCAST);
    p.mode = SLIM_PUBLISH_TO;
    p.to = ALICE_SVC;
    CHECK_STATUS(slim_sessions_publish(a, s7, &p, n.now, NULL), SLIM_E_INVALID_ARG);
    p.mode = (slim_publish_mode)9;
    CHECK_STATUS(slim_sessions_publish(a, s7, &p, n.now, NULL), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_sessions_publish(a, 999, &p, n.now, NULL), SLIM_E_CLOSED);
    CHECK_STATUS(slim_sessions_close(a, 999, 0, n.now), SLIM_E_CLOSED);
    slim_ss_info info;
    CHECK_STATUS(slim_sessions_info(a, 999, &info), SLIM_E_CLOSED);
    uint8_t big[2048];
    memset(big, 'b', sizeof big);
    /* Garbage and stray inputs. */
    CHECK(slim_sessions_input(a, slim_bytes_of("\xff\xff\xff", 3), n.now) != SLIM_OK);
    CHECK(slim_sessions_input(a, slim_bytes_of(big, sizeof big), n.now) != SLIM_OK);
    CHECK_STATUS(slim_sessions_input(a, slim_bytes_of(NULL, 0), n.now), SLIM_E_WIRE_UNKNOWN_TYPE);
    /* Still works. */
    p = pub_default("still");
    CHECK_OK(slim_sessions_publish(a, s7, &p, n.now, NULL));
    run_until_kind(&n, 1, SLIM_SOUT_MESSAGE, 0, 1, 5000);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_MESSAGE, 0), 1);
    /* Route refused: the open fails with the reason, and the next works
     * (while s7 held the route to bob, a second session shared it). */
    CHECK_OK(slim_sessions_close(a, any, 0, n.now));
    CHECK_OK(slim_sessions_close(a, s7, 0, n.now));
    sim_run(&n, n.now + 20000, NULL, NULL);
    CHECK_EQ(sim_routes(&n, 0), 0);
    n.refuse_routes = true;
    c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 0, 0);
    open_wait(&n, 0, &c, 4, SLIM_E_SESSION_ROUTE_REFUSED);
    const sim_rec *d = done_rec(&n, 0, 4);
    CHECK(d != NULL && strstr(d->detail, "refused by the router") != NULL);
    n.refuse_routes = false;
    sim_run(&n, n.now + 20000, NULL, NULL);
    uint64_t s8 = open_wait(&n, 0, &c, 5, SLIM_OK);
    CHECK_OK(slim_sessions_close(a, s8, 0, n.now));
    sim_run(&n, n.now + 20000, NULL, NULL);
    /* The window: 512 unacknowledged messages, then E_QUEUE_FULL. */
    any = window_fills_and_empties(&n, 512);
    CHECK_OK(slim_sessions_close(a, any, 0, n.now));
    sim_run(&n, n.now + 20000, NULL, NULL);
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_UNDELIVERED, any), 513);
    teardown(&n, 0);
}

/* The backlog bound: inputs and publishes refused while outputs wait. */
TEST(backlog_refuses_input_and_publish) {
    slim_sessions_config cfg = {.max_backlog = 4};
    simnet n;
    setup(&n, 19, 1, &cfg);
    slim_session_config c = cfg_of(SLIM_SESSION_ANYCAST, BOB_SVC, 0, 0);
    uint64_t s = 0;
    slim_sessions *a = n.apps[0].ss;
    CHECK_OK(slim_sessions_open(a, &c, 0, n.now, &s));
    slim_publish p = pub_default("b");
    int ok = 0;
    while (slim_sessions_publish(a, s, &p, n.now, NULL) == SLIM_OK)
        ok++;
    CHECK_EQ(ok, 4);
    CHECK_STATUS(slim_sessions_input(a, slim_bytes_of(NULL, 0), n.now), SLIM_E_QUEUE_FULL);
    slim_sessions_counters ca;
    slim_sessions_counters_get(a, &ca);
    CHECK_EQ(ca.drop_backlog, 1);
    sim_run(&n, n.now + 1000, NULL, NULL);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_MESSAGE, 0), 4);
    CHECK_OK(slim_sessions_publish(a, s, &p, n.now, NULL));
    CHECK_OK(slim_sessions_close(a, s, 0, n.now));
    teardown(&n, 120000);
}

/* The send window is a setting: send_window unacknowledged messages, then
 * E_QUEUE_FULL until they are acknowledged or given up. */
TEST(send_window_is_configurable) {
    slim_sessions_config cfg = {.send_window = 16};
    simnet n;
    setup(&n, 23, 1, &cfg);
    uint64_t s = window_fills_and_empties(&n, 16);
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 0, n.now));
    teardown(&n, 120000);
}

TEST(config_and_args) {
    slim_sessions *ss = NULL;
    slim_sessions_config cfg;
    memset(&cfg, 0, sizeof cfg);
    slim_sessions_ops ops = {0};
    CHECK_STATUS(slim_sessions_new(&cfg, &ops, &ss), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_sessions_new(NULL, &ops, &ss), SLIM_E_INVALID_ARG);
    CHECK(ss == NULL);
    slim_sessions_free(NULL);
    CHECK(!slim_sessions_next(NULL, NULL));
    CHECK_U64(slim_sessions_deadline(NULL), UINT64_MAX);
    /* a local name without its text is refused */
    simnet n;
    sim_init(&n, 1);
    slim_status st = SLIM_OK;
    CHECK_EQ(sim_app_add(&n, "", "ns", "x", 1, 1, NULL, &st), -1);
    CHECK_STATUS(st, SLIM_E_INVALID_ARG);
    sim_free(&n);
}

/* ---- allocation failures ---- */

/* A short scenario touching most paths: open, join, data both ways with
 * loss, a gap, close. */
static void short_scenario(void) {
    slim_sessions_config cfg = {.heartbeat_ms = 2000};
    simnet n;
    names_init();
    sim_init(&n, 31);
    n.loss = 0.15;
    n.delay_max = 20;
    if (sim_app_add(&n, "org", "ns", "alice", 0xa11ce, 1, &cfg, NULL) < 0 ||
        sim_app_add(&n, "org", "ns", "bob", 0xb0b, 1, &cfg, NULL) < 0) {
        sim_free(&n);
        return;
    }
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 600, 4);
    uint64_t s = 0, any = 0;
    bool opened = slim_sessions_open(n.apps[0].ss, &c, 1, n.now, &s) == SLIM_OK;
    slim_session_config ca = cfg_of(SLIM_SESSION_ANYCAST, BOB_SVC, 600, 2);
    bool opened_any = slim_sessions_open(n.apps[0].ss, &ca, 2, n.now, &any) == SLIM_OK;
    for (int i = 0; i < 6; i++) {
        if (opened)
            (void)publish_n(&n, 0, s, "o", (size_t)i, NULL);
        if (opened_any)
            (void)publish_n(&n, 0, any, "a", (size_t)i, NULL);
        sim_run(&n, n.now + 400, NULL, NULL);
        uint64_t bs = new_session(&n, 1, 0);
        if (bs != 0)
            (void)publish_n(&n, 1, bs, "r", (size_t)i, NULL);
    }
    if (opened)
        (void)slim_sessions_close(n.apps[0].ss, s, 3, n.now);
    if (opened_any)
        (void)slim_sessions_close(n.apps[0].ss, any, 4, n.now);
    sim_run(&n, n.now + 30000, NULL, NULL);
    check_closed_last(&n);
    sim_free(&n);
}

TEST(allocation_failures) {
    test_alloc_sweep(short_scenario, 500, 20000);
}

/* ---- the scenario whose SENDs check_session_wire.py decodes ---- */

static bool drop_first_msg3(simnet *n, int from, int to, const slim_msg *m) {
    (void)to;
    int *once = n->filter_ud;
    if (from == 0 && slim_wire_kind(m) == SLIM_MSG_PUBLISH &&
        m->publish->session->session_message_type == 1 && m->publish->session->message_id == 3 &&
        *once) {
        *once = 0;
        return true;
    }
    return false;
}

static bool drop_msg6(simnet *n, int from, int to, const slim_msg *m) {
    (void)n;
    (void)to;
    if (from != 0 || slim_wire_kind(m) != SLIM_MSG_PUBLISH)
        return false;
    uint32_t t = m->publish->session->session_message_type;
    return m->publish->session->message_id == 6 &&
           (t == 1 || (t == 4 && !m->publish->header->_error_case));
}

/* A retransmission must never look like a duplicate to the nodes: the
 * smallest timeout is above their window, and smaller ones are raised. */
TEST(smallest_timeout_exceeds_duplicate_window) {
    CHECK(SLIM_SESSION_MIN_TIMEOUT_MS > SLIM_FWD_DEDUPE_WINDOW_MS);
    simnet n;
    setup(&n, 3, 1, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 100, 5);
    uint64_t s = open_wait(&n, 0, &c, 42, SLIM_OK);
    slim_ss_info info;
    CHECK_OK(slim_sessions_info(n.apps[0].ss, s, &info));
    CHECK_EQ(info.timeout_ms, SLIM_SESSION_MIN_TIMEOUT_MS);
    sim_free(&n);
}

/* A held reliable session takes no new data and acknowledges none, so the
 * sender keeps it and sends it again; released in time, everything comes
 * once and in order, and nothing is reported undelivered. */
TEST(held_session_loses_nothing) {
    simnet n;
    setup(&n, 5, 1, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 1000, 10);
    uint64_t s = open_wait(&n, 0, &c, 42, SLIM_OK);
    uint64_t peer = new_session(&n, 1, 0);
    CHECK_OK(slim_sessions_hold(n.apps[1].ss, peer, true));
    for (size_t i = 0; i < 20; i++)
        CHECK_OK(publish_n(&n, 0, s, "h", i, NULL));
    sim_run(&n, n.now + 3500, NULL, NULL); /* three retransmissions */
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_MESSAGE, peer), 0);
    slim_sessions_counters k;
    slim_sessions_counters_get(n.apps[1].ss, &k);
    CHECK(k.drop_backlog >= 20);
    CHECK_OK(slim_sessions_hold(n.apps[1].ss, peer, false));
    run_until_kind(&n, 1, SLIM_SOUT_MESSAGE, peer, 20, 10000);
    CHECK_EQ(check_in_order(&n, 1, peer, "h"), 20);
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_UNDELIVERED, 0), 0);
    CHECK_STATUS(slim_sessions_hold(n.apps[1].ss, 999999, true), SLIM_E_CLOSED);
    sim_free(&n);
}

/* Message 2's first copy and the sender's own retransmissions of it (the
 * answers to retransmission requests go through). */
static bool drop_msg2_sends(simnet *n, int from, int to, const slim_msg *m) {
    (void)n;
    (void)to;
    return from == 0 && slim_wire_kind(m) == SLIM_MSG_PUBLISH &&
           m->publish->session->message_id == 2 && m->publish->session->session_message_type == 1;
}

/* A receiver that is held does not ask for a missing message (the answer
 * would be dropped): it neither spends its retries on it nor reports it
 * lost; released, it asks and gets it. */
TEST(held_receiver_keeps_asking_after_release) {
    simnet n;
    setup(&n, 5, 1, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 1000, 3);
    uint64_t s = open_wait(&n, 0, &c, 42, SLIM_OK);
    uint64_t peer = new_session(&n, 1, 0);
    n.filter = drop_msg2_sends;
    for (size_t i = 0; i < 3; i++)
        CHECK_OK(publish_n(&n, 0, s, "g", i, NULL));
    run_until_kind(&n, 1, SLIM_SOUT_MESSAGE, peer, 1, 500); /* 1 came, 2 is a gap, 3 waits */
    CHECK_OK(slim_sessions_hold(n.apps[1].ss, peer, true));
    sim_run(&n, n.now + 4500, NULL, NULL); /* longer than the receiver's retries */
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_LOST, peer), 0);
    CHECK_OK(slim_sessions_hold(n.apps[1].ss, peer, false));
    run_until_kind(&n, 1, SLIM_SOUT_MESSAGE, peer, 3, 3000);
    CHECK_EQ(check_in_order(&n, 1, peer, "g"), 3);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_LOST, peer), 0);
    sim_free(&n);
}

/* Bob's acknowledgement of message 1, once. */
static bool drop_ack1_once(simnet *n, int from, int to, const slim_msg *m) {
    (void)to;
    int *once = n->filter_ud;
    if (from == 1 && *once && slim_wire_kind(m) == SLIM_MSG_PUBLISH &&
        m->publish->session->session_message_type == 2 && m->publish->session->message_id == 1) {
        *once = 0;
        return true;
    }
    return false;
}

/* A lost acknowledgement is made up for as soon as later messages'
 * acknowledgements come (SS_FAST_GAP of them), not at the timer: with a
 * 5 s timeout, message 1 goes again, once, within the first second, and
 * the window is empty. */
TEST(lost_ack_sent_again_before_the_timer) {
    simnet n;
    setup(&n, 5, 1, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 5000, 3);
    uint64_t s = open_wait(&n, 0, &c, 42, SLIM_OK);
    uint64_t peer = new_session(&n, 1, 0);
    int once = 1;
    n.filter = drop_ack1_once;
    n.filter_ud = &once;
    slim_sessions_counters k0, k;
    slim_sessions_counters_get(n.apps[0].ss, &k0);
    for (size_t i = 0; i < 6; i++)
        CHECK_OK(publish_n(&n, 0, s, "f", i, NULL));
    sim_run(&n, n.now + 1000, NULL, NULL);
    CHECK_EQ(once, 0);
    slim_sessions_counters_get(n.apps[0].ss, &k);
    CHECK_EQ(k.retransmissions - k0.retransmissions, 1);
    CHECK_EQ(check_in_order(&n, 1, peer, "f"), 6);
    /* Acknowledged: closing finds nothing to wait for. */
    uint64_t t0 = n.now;
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 2, n.now));
    wait_done w = {0, 2};
    sim_run(&n, n.now + 10000, done_seen, &w);
    const sim_rec *d = done_rec(&n, 0, 2);
    CHECK(d != NULL && d->status == SLIM_OK && d->at - t0 < 1000);
    n.filter = NULL;
    sim_free(&n);
}

/* ---- the retransmission period (docs/sessions.md "Timeouts") ---- */

/* Publishes "<tag><i>" for i = first .. first + count - 1, one every gap
 * ms, the network running in between. */
static void publish_paced(simnet *n, int app, uint64_t s, const char *tag, size_t first,
                          size_t count, uint64_t gap) {
    for (size_t i = first; i < first + count; i++) {
        CHECK_OK(publish_n(n, app, s, tag, i, NULL));
        sim_run(n, n->now + gap, NULL, NULL);
    }
}

static uint64_t retransmissions(const simnet *n, int app) {
    slim_sessions_counters k;
    slim_sessions_counters_get(n->apps[app].ss, &k);
    return k.retransmissions;
}

/* A reliable session opened on a fast path (timeout 600 ms, `retries`),
 * bob's side in *bs. */
static uint64_t rto_open(simnet *n, uint64_t seed, uint32_t retries, uint64_t *bs) {
    setup(n, seed, 1, NULL);
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 600, retries);
    uint64_t s = open_wait(n, 0, &c, 1, SLIM_OK);
    run_until_kind(n, 1, SLIM_SOUT_NEW, 0, 1, 5000);
    *bs = new_session(n, 1, 0);
    return s;
}

/* 1500 ms each way: `count` messages "<tag><i>" from alice, one every
 * 100 ms, until bob has them all and their acknowledgements are back. */
static void slow_stream(simnet *n, uint64_t s, uint64_t bs, const char *tag, size_t count) {
    n->delay_min = n->delay_max = 1500;
    publish_paced(n, 0, s, tag, 0, count, 100);
    run_until_kind(n, 1, SLIM_SOUT_MESSAGE, bs, count, 60000);
    sim_run(n, n->now + 20000, NULL, NULL);
}

/* 1500 ms each way, timeout 600 ms: the round trip (3000 ms) is five
 * timeouts. A fixed period sends every message again 4 times (at 600 ..
 * 2400 ms; its acknowledgement comes at 3000). With the adaptive period
 * only what is sent before the period has grown past the round trip is:
 * the messages of the first 3000 ms (up to 4 times each: no
 * acknowledgement has come yet, so nothing doubles), then while the
 * acknowledgements come the period doubles at most once a period, 1200,
 * 2400, 4800 ms (by about 3000 + 1200 + 2400 = 6600 ms), and the first
 * fresh sample (9600 ms) makes it the round trip plus its deviation. At
 * one message every 100 ms that is about 30 x 4 + 36 x 2 < 200 copies,
 * whatever N is; a fixed period would send 4 x N. */
TEST(slow_path_sends_again_rarely) {
    simnet n;
    uint64_t bs = 0;
    uint64_t s = rto_open(&n, 31, 6, &bs);
    uint64_t r0 = retransmissions(&n, 0);
    const size_t N = 600;
    slow_stream(&n, s, bs, "s", N);
    CHECK_EQ(check_in_order(&n, 1, bs, "s"), N);
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_UNDELIVERED, 0), 0);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_LOST, 0), 0);
    uint64_t rtx = retransmissions(&n, 0) - r0;
    if (getenv("DBG"))
        printf("slow path: %llu retransmissions of %zu\n", (unsigned long long)rtx, N);
    CHECK_INT(rtx, <, 200);
    CHECK_INT(rtx, <, N / 2);
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 2, n.now));
    teardown(&n, 30000);
}

/* A peer that stops answering altogether: no acknowledgement comes, so
 * the period never doubles and UNDELIVERED comes at exactly
 * (max_retries + 1) x timeout after the send, as with a fixed period,
 * even right after a stream of acknowledged messages. */
TEST(silent_peer_undelivered_on_time) {
    simnet n;
    uint64_t bs = 0;
    uint64_t s = rto_open(&n, 32, 3, &bs);
    publish_paced(&n, 0, s, "q", 0, 20, 50);
    sim_run(&n, n.now + 100, NULL, NULL);
    CHECK_EQ(check_in_order(&n, 1, bs, "q"), 20);
    n.partition[0][1] = n.partition[1][0] = true;
    uint64_t t0 = n.now;
    uint32_t mid = 0;
    CHECK_OK(publish_n(&n, 0, s, "q", 20, &mid));
    uint64_t r0 = retransmissions(&n, 0);
    run_until_kind(&n, 0, SLIM_SOUT_UNDELIVERED, s, 1, 60000);
    const sim_rec *u = sim_find(&n, 0, SLIM_SOUT_UNDELIVERED, s, 0);
    CHECK(u != NULL);
    if (u != NULL) {
        CHECK_EQ(u->message_id, mid);
        CHECK_EQ(u->at - t0, 4 * 600);
    }
    CHECK_EQ(retransmissions(&n, 0) - r0, 3);
    sim_free(&n);
}

/* Drops alice's data (MSG and RTX_REPLY, of one id or all) while the
 * gate is closed, and counts her MSGs. */
typedef struct msg_gate {
    bool closed;
    uint32_t only_id; /* 0: every id */
    size_t seen;
} msg_gate;

static bool gate_alice_data(simnet *n, int from, int to, const slim_msg *m) {
    (void)to;
    msg_gate *g = n->filter_ud;
    if (from != 0 || slim_wire_kind(m) != SLIM_MSG_PUBLISH)
        return false;
    uint32_t t = m->publish->session->session_message_type;
    if (t != 1 && t != 4)
        return false;
    if (g->only_id != 0 && m->publish->session->message_id != g->only_id)
        return false;
    g->seen += t == 1;
    return g->closed;
}

/* rto_open, alice's data behind `gate`, alice congested. */
static uint64_t congested_open(simnet *n, uint64_t seed, msg_gate *gate, uint64_t *bs) {
    uint64_t s = rto_open(n, seed, 3, bs);
    n->filter = gate_alice_data;
    n->filter_ud = gate;
    slim_sessions_congested(n->apps[0].ss, true);
    return s;
}

/* While the app's way out is congested, what is due again is not sent
 * and the expiry does not count: a message held congested for many
 * times (max_retries + 1) x timeout is not reported undelivered, and is
 * sent again, delivered and acknowledged once the congestion is over. */
TEST(congested_sender_neither_resends_nor_gives_up) {
    simnet n;
    uint64_t bs = 0;
    msg_gate gate = {true, 0, 0};
    uint64_t s = congested_open(&n, 33, &gate, &bs);
    uint64_t r0 = retransmissions(&n, 0);
    for (size_t i = 0; i < 3; i++)
        CHECK_OK(publish_n(&n, 0, s, "c", i, NULL));
    sim_run(&n, n.now + 10 * 4 * 600, NULL, NULL);
    CHECK_EQ(gate.seen, 3); /* the first sends only */
    CHECK_EQ(retransmissions(&n, 0) - r0, 0);
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_UNDELIVERED, 0), 0);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_MESSAGE, bs), 0);
    slim_sessions_congested(n.apps[0].ss, false);
    gate.closed = false;
    uint64_t t0 = n.now;
    run_until_kind(&n, 1, SLIM_SOUT_MESSAGE, bs, 3, 10000);
    CHECK_EQ(check_in_order(&n, 1, bs, "c"), 3);
    const sim_rec *m = sim_find(&n, 1, SLIM_SOUT_MESSAGE, bs, 0);
    CHECK(m != NULL && m->at - t0 <= 600 + 2);
    CHECK_EQ(retransmissions(&n, 0) - r0, 3);
    /* acknowledged: closing does not wait, and nothing is undelivered */
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 2, n.now));
    wait_done w = {0, 2};
    sim_run(&n, n.now + 5000, done_seen, &w);
    const sim_rec *d = done_rec(&n, 0, 2);
    CHECK(d != NULL && d->status == SLIM_OK && d->at - n.now < 100);
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_UNDELIVERED, 0), 0);
    teardown(&n, 10000);
}

/* A congested receiver asks for a gap once (when it finds it) and not
 * again, and does not give it up; once the congestion is over it asks
 * again and the gap is filled in order. The sender is congested too, so
 * its own timer does not fill the gap. */
TEST(congested_receiver_does_not_ask_again) {
    simnet n;
    uint64_t bs = 0;
    msg_gate gate = {true, 1, 0};
    uint64_t s = congested_open(&n, 34, &gate, &bs);
    slim_sessions_congested(n.apps[1].ss, true);
    slim_sessions_counters k0;
    slim_sessions_counters_get(n.apps[1].ss, &k0);
    CHECK_OK(publish_n(&n, 0, s, "g", 0, NULL)); /* id 1: dropped */
    CHECK_OK(publish_n(&n, 0, s, "g", 1, NULL)); /* id 2: the gap is found */
    sim_run(&n, n.now + 10 * 4 * 600, NULL, NULL);
    slim_sessions_counters k1;
    slim_sessions_counters_get(n.apps[1].ss, &k1);
    CHECK_EQ(k1.rtx_requests - k0.rtx_requests, 1);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_LOST, 0), 0);
    CHECK_EQ(sim_count(&n, 1, SLIM_SOUT_MESSAGE, bs), 0);
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_UNDELIVERED, 0), 0);
    gate.closed = false;
    uint64_t t0 = n.now;
    slim_sessions_congested(n.apps[1].ss, false);
    run_until_kind(&n, 1, SLIM_SOUT_MESSAGE, bs, 2, 10000);
    CHECK_EQ(check_in_order(&n, 1, bs, "g"), 2);
    const sim_rec *m = sim_find(&n, 1, SLIM_SOUT_MESSAGE, bs, 0);
    CHECK(m != NULL && m->at - t0 <= 600 + 2);
    slim_sessions_counters_get(n.apps[1].ss, &k1);
    CHECK_EQ(k1.rtx_requests - k0.rtx_requests, 2);
    CHECK_EQ(retransmissions(&n, 0), 0);
    slim_sessions_congested(n.apps[0].ss, false);
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 2, n.now));
    teardown(&n, 10000);
    /* (the RTX_REPLY was acknowledged: alice had nothing to give up) */
}

static bool drop_last_once(simnet *n, int from, int to, const slim_msg *m) {
    (void)to;
    uint32_t *id = n->filter_ud;
    if (from != 0 || slim_wire_kind(m) != SLIM_MSG_PUBLISH ||
        m->publish->session->session_message_type != 1 || m->publish->session->message_id != *id)
        return false;
    *id = 0;
    return true;
}

/* After a slow period, fresh samples on a fast path bring the period
 * back down: a lost last message (no later one for the receiver to find
 * the gap with) is sent again after about the timeout, not after the
 * inflated period of the slow time. */
TEST(period_comes_back_down_after_slow_time) {
    simnet n;
    uint64_t bs = 0;
    uint64_t s = rto_open(&n, 35, 6, &bs);
    slow_stream(&n, s, bs, "d", 150); /* the period grows past 3000 ms */
    n.delay_min = n.delay_max = 1;
    publish_paced(&n, 0, s, "d", 150, 100, 20);
    sim_run(&n, n.now + 1000, NULL, NULL);
    CHECK_EQ(check_in_order(&n, 1, bs, "d"), 250);
    uint32_t last = 251;
    n.filter = drop_last_once;
    n.filter_ud = &last;
    uint64_t t0 = n.now;
    CHECK_OK(publish_n(&n, 0, s, "d", 250, NULL));
    run_until_kind(&n, 1, SLIM_SOUT_MESSAGE, bs, 251, 60000);
    CHECK_EQ(last, 0);
    CHECK_EQ(check_in_order(&n, 1, bs, "d"), 251);
    const sim_rec *r = sim_find(&n, 1, SLIM_SOUT_MESSAGE, bs, n.apps[1].nrecs - 1);
    CHECK(r != NULL);
    if (r != NULL) {
        if (getenv("DBG"))
            printf("repaired after %llu ms\n", (unsigned long long)(r->at - t0));
        CHECK_INT(r->at - t0, <=, 600 + 2);
    }
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_UNDELIVERED, 0), 0);
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 2, n.now));
    teardown(&n, 10000);
}

TEST(wire_scenario) {
    slim_sessions_config cfg = {.heartbeat_ms = 1000};
    simnet n;
    setup(&n, 41, 2, &cfg);
    /* unicast, reliable, with metadata; a gap to make RTX; heartbeats */
    slim_ss_kv meta[1] = {{{"k", 1}, {"v", 1}}};
    slim_session_config c = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 1000, 3);
    c.metadata = meta;
    c.metadata_len = 1;
    uint64_t s = open_wait(&n, 0, &c, 1, SLIM_OK);
    run_until_kind(&n, 1, SLIM_SOUT_NEW, 0, 1, 5000);
    int once = 1;
    n.filter = drop_first_msg3;
    n.filter_ud = &once;
    for (size_t i = 0; i < 5; i++)
        CHECK_OK(publish_n(&n, 0, s, "w", i, NULL));
    sim_run(&n, n.now + 4000, NULL, NULL); /* heartbeats too */
    n.filter = NULL;
    int peer = sim_count(&n, 1, SLIM_SOUT_NEW, 0) ? 1 : 2;
    uint64_t bs = new_session(&n, peer, 0);
    CHECK_EQ(check_in_order(&n, peer, bs, "w"), 5);
    /* a reply with TO */
    const sim_rec *req = sim_find(&n, peer, SLIM_SOUT_MESSAGE, bs, 0);
    slim_publish p = pub_default("re");
    p.mode = SLIM_PUBLISH_TO;
    p.to.name = req->source;
    p.conn = req->input_conn;
    CHECK_OK(slim_sessions_publish(n.apps[peer].ss, bs, &p, n.now, NULL));
    sim_run(&n, n.now + 500, NULL, NULL);
    /* an error RTX_REPLY and a LOST: message 6 never gets through, alice
     * gives it up, then bob, who found the gap later, asks for it */
    n.filter = drop_msg6;
    CHECK_OK(publish_n(&n, 0, s, "w", 5, NULL));
    sim_run(&n, n.now + 2500, NULL, NULL);
    CHECK_OK(publish_n(&n, 0, s, "w", 6, NULL));
    run_until_kind(&n, peer, SLIM_SOUT_LOST, bs, 1, 10000);
    n.filter = NULL;
    CHECK(sim_find(&n, peer, SLIM_SOUT_LOST, bs, 0) != NULL);
    CHECK_EQ(sim_count(&n, 0, SLIM_SOUT_UNDELIVERED, s), 1);
    /* unreliable unicast closed by the joiner (LEAVE_REQUEST) */
    slim_session_config cu = cfg_of(SLIM_SESSION_UNICAST, BOB_SVC, 0, 0);
    uint64_t su = open_wait(&n, 0, &cu, 2, SLIM_OK);
    CHECK_OK(publish_n(&n, 0, su, "u", 0, NULL));
    sim_run(&n, n.now + 500, NULL, NULL);
    for (int i = 1; i <= 2; i++) {
        uint64_t x = 0;
        for (size_t k = 0; (x = new_session(&n, i, k)) != 0; k++)
            if (i != peer || x != bs)
                (void)slim_sessions_close(n.apps[i].ss, x, 0, n.now);
    }
    sim_run(&n, n.now + 3000, NULL, NULL);
    /* anycast both ways, closed by the opener (GROUP_CLOSE per instance) */
    slim_session_config cany = cfg_of(SLIM_SESSION_ANYCAST, BOB_SVC, 1000, 2);
    uint64_t sa = 0;
    CHECK_OK(slim_sessions_open(n.apps[0].ss, &cany, 0, n.now, &sa));
    for (size_t i = 0; i < 4; i++)
        CHECK_OK(publish_n(&n, 0, sa, "a", i, NULL));
    sim_run(&n, n.now + 500, NULL, NULL);
    CHECK_OK(slim_sessions_close(n.apps[0].ss, sa, 0, n.now));
    /* the reliable unicast closed by its initiator (GROUP_CLOSE) */
    CHECK_OK(slim_sessions_close(n.apps[0].ss, s, 0, n.now));
    sim_run(&n, n.now + 10000, NULL, NULL);
    /* discovery of nobody with node errors */
    n.node_errors = true;
    slim_session_config cn = cfg_of(SLIM_SESSION_UNICAST, NOBODY_SVC, 0, 0);
    open_wait(&n, 0, &cn, 3, SLIM_E_SESSION_NO_ROUTE);
    teardown(&n, 10000);
}

TEST_MAIN(TEST_ENTRY(mls_unicast_reliable_under_loss),
          TEST_ENTRY(mls_unicast_refuses_a_credential_for_another_name),
          TEST_ENTRY(unicast_setup_sticks_to_one_instance),
          TEST_ENTRY(reliable_exactly_once_in_order_under_loss),
          TEST_ENTRY(unreliable_no_duplicates), TEST_ENTRY(anycast_spreads_over_instances),
          TEST_ENTRY(anycast_receiver_idle_and_leave),
          TEST_ENTRY(anycast_opener_gone_answers_leave),
          TEST_ENTRY(peer_timer_settings_are_bounded), TEST_ENTRY(request_reply_anycast),
          TEST_ENTRY(request_reply_unicast), TEST_ENTRY(unicast_discovery_fails_after_retries),
          TEST_ENTRY(unicast_discovery_node_error_fails_at_once),
          TEST_ENTRY(anycast_undelivered_after_retries), TEST_ENTRY(heartbeat_loss_ends_both_sides),
          TEST_ENTRY(close_by_joiner_and_during_join),
          TEST_ENTRY(close_answer_lost_is_answered_again),
          TEST_ENTRY(lost_messages_reported_in_place), TEST_ENTRY(lost_by_rtx_error_reply),
          TEST_ENTRY(identity_failure_drops_and_counts), TEST_ENTRY(names_the_app_answers_for),
          TEST_ENTRY(refusals_leave_state_usable), TEST_ENTRY(backlog_refuses_input_and_publish),
          TEST_ENTRY(send_window_is_configurable), TEST_ENTRY(config_and_args),
          TEST_ENTRY(allocation_failures), TEST_ENTRY(smallest_timeout_exceeds_duplicate_window),
          TEST_ENTRY(held_session_loses_nothing),
          TEST_ENTRY(held_receiver_keeps_asking_after_release),
          TEST_ENTRY(lost_ack_sent_again_before_the_timer),
          TEST_ENTRY(slow_path_sends_again_rarely), TEST_ENTRY(silent_peer_undelivered_on_time),
          TEST_ENTRY(congested_sender_neither_resends_nor_gives_up),
          TEST_ENTRY(congested_receiver_does_not_ask_again),
          TEST_ENTRY(period_comes_back_down_after_slow_time), TEST_ENTRY(wire_scenario))
