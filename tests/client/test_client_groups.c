/* Group sessions between apps through real nodes: everyone to everyone in
 * per-sender order (one node, through lossy proxies, across two nodes),
 * invites that fail and that run at once, remove, leave, a late joiner,
 * and the moderator's close. */
#include "test.h"
#include "core/time.h"
#include "node_proc.h"
#include "slim/session.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET  "a-shared-secret-of-at-least-32-characters"
#define CHANNEL "org/ns/chat"
#define MAX_M   8

typedef struct member {
    slim_app *app;
    slim_session_id s;
    char name[32];
} member;

static slim_app *app_at(const char *name, int port) {
    return test_app_at(name, name, SECRET, port, NULL);
}

/* Waits for a MEMBER event about `who` ("org/ns/x", any id). */
static bool wait_member(member *m, slim_member_change change, const char *who, int timeout_ms) {
    slim_event ev;
    uint64_t end = slim_now_ms() + (uint64_t)timeout_ms;
    while (slim_now_ms() < end) {
        if (!test_wait_event(m->app, SLIM_EVENT_MEMBER, m->s, &ev, 100))
            continue;
        if (ev.member == (int)change && strncmp(ev.name, who, strlen(who)) == 0 &&
            ev.name[strlen(who)] == '/')
            return true;
    }
    return false;
}

static size_t member_count(member *m) {
    char **names = NULL;
    size_t n = 0;
    if (slim_session_members(m->app, m->s, &names, &n) != SLIM_OK)
        return 0;
    slim_session_members_free(names);
    return n;
}

static const slim_session_options GROUP = {
    .type = SLIM_SESSION_MULTICAST, .peer = CHANNEL, .timeout_ms = 1000, .max_retries = 5};

/* The moderator m[0] creates the group and invites the others, which
 * listen for it. ports[i]: where member i connects. */
static bool group_start(member *m, int n, const int *ports, const slim_session_options *o) {
    for (int i = 0; i < n; i++) {
        if (i == 0)
            snprintf(m[i].name, sizeof m[i].name, "org/ns/mod");
        else
            snprintf(m[i].name, sizeof m[i].name, "org/ns/p%d", i);
        if ((m[i].app = app_at(m[i].name, ports[i])) == NULL)
            return false;
    }
    if (slim_session_create(m[0].app, o, 10000, &m[0].s) != SLIM_OK)
        return false;
    for (int i = 1; i < n; i++) {
        slim_status st = slim_app_set_route(m[0].app, m[i].name, 0, 10000);
        if (st == SLIM_OK)
            st = slim_session_invite(m[0].app, m[0].s, m[i].name, 30000);
        if (st == SLIM_OK)
            st = slim_app_listen(m[i].app, 10000, &m[i].s);
        if (st != SLIM_OK) {
            fprintf(stderr, "  invite %s: %s\n", m[i].name, slim_status_name(st));
            return false;
        }
    }
    return true;
}

/* A node, and a group of n members on it. */
static bool group_on_one_node(test_node *nd, member *m, int n, const slim_session_options *o) {
    if (!test_node_start(nd, ""))
        return false;
    int ports[MAX_M];
    for (int i = 0; i < n; i++)
        ports[i] = nd->port;
    return group_start(m, n, ports, o);
}

static void group_free(member *m, int n) {
    for (int i = n - 1; i >= 0; i--)
        slim_app_free(m[i].app, 3000);
}

/* ---- everyone to everyone ---- */

typedef struct pump_arg {
    member *m;
    int self, n, count;
    int pace_us; /* the writer sleeps this long after each message */
    int sent, got, bad;
    int next[MAX_M]; /* the next sequence number expected from each member */
} pump_arg;

static void *writer(void *p) {
    pump_arg *a = p;
    for (int k = 0; k < a->count; k++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%d:%d", a->self, k);
        slim_status st = test_publish_retrying(a->m->app, a->m->s, test_text(buf), 5);
        if (st != SLIM_OK) {
            fprintf(stderr, "  %s publish %d: %s\n", a->m->name, k, slim_status_name(st));
            return NULL;
        }
        a->sent++;
        if (a->pace_us > 0) {
            struct timespec t = {a->pace_us / 1000000, (a->pace_us % 1000000) * 1000L};
            nanosleep(&t, NULL);
        }
    }
    return NULL;
}

/* Reads (n - 1) * count messages and checks that each sender's come in
 * order, exactly once. */
static void *reader(void *p) {
    pump_arg *a = p;
    int want = (a->n - 1) * a->count;
    while (a->got < want) {
        slim_message *msg = NULL;
        slim_status st = slim_session_get_message(a->m->app, a->m->s, 60000, &msg);
        if (st != SLIM_OK) {
            fprintf(stderr, "  %s read: %s after %d of %d\n", a->m->name, slim_status_name(st),
                    a->got, want);
            return NULL;
        }
        int from = -1, seq = -1;
        char buf[32];
        snprintf(buf, sizeof buf, "%.*s", (int)msg->payload.len, (const char *)msg->payload.ptr);
        if (sscanf(buf, "%d:%d", &from, &seq) != 2 || from < 0 || from >= a->n || from == a->self ||
            seq != a->next[from]) {
            if (a->bad++ < 5)
                fprintf(stderr, "  %s got '%s' from %s\n", a->m->name, buf, msg->source_text);
        } else {
            a->next[from]++;
        }
        a->got++;
        slim_message_free(msg);
    }
    return NULL;
}

/* Every member publishes `count` messages at once; every member must get
 * all of the others', in each sender's order, exactly once. */
static bool everyone_to_everyone_paced(member *m, int n, int count, int pace_us) {
    pump_arg args[MAX_M];
    pthread_t w[MAX_M], r[MAX_M];
    for (int i = 0; i < n; i++) {
        args[i] = (pump_arg){.m = &m[i], .self = i, .n = n, .count = count, .pace_us = pace_us};
        pthread_create(&r[i], NULL, reader, &args[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_create(&w[i], NULL, writer, &args[i]);
    bool ok = true;
    for (int i = 0; i < n; i++) {
        pthread_join(w[i], NULL);
        pthread_join(r[i], NULL);
    }
    for (int i = 0; i < n; i++) {
        if (args[i].sent != count || args[i].got != (n - 1) * count || args[i].bad != 0) {
            fprintf(stderr, "  %s: sent %d, got %d of %d, %d out of order\n", m[i].name,
                    args[i].sent, args[i].got, (n - 1) * count, args[i].bad);
            ok = false;
        }
        for (int j = 0; j < n; j++)
            if (j != i && args[i].next[j] != count)
                ok = false;
    }
    /* Nothing reported lost or undelivered on the way (if anything was,
     * every member's counters are shown). */
    bool reported = false;
    for (int i = 0; i < n; i++) {
        slim_app_counters c;
        slim_app_counters_get(m[i].app, &c);
        reported |= c.lost != 0 || c.undelivered != 0;
    }
    for (int i = 0; i < n && reported; i++) {
        slim_app_counters c;
        slim_app_counters_get(m[i].app, &c);
        fprintf(stderr,
                "  %s: %llu lost, %llu undelivered (%llu retransmissions, %llu dropped for "
                "identity, %llu malformed, %llu other, %llu unrouted, %llu for a full queue; "
                "%llu reconnects)\n",
                m[i].name, (unsigned long long)c.lost, (unsigned long long)c.undelivered,
                (unsigned long long)c.retransmissions, (unsigned long long)c.drop_identity,
                (unsigned long long)c.drop_malformed, (unsigned long long)c.drop_other,
                (unsigned long long)c.drop_unrouted, (unsigned long long)c.drop_queue_full,
                (unsigned long long)c.reconnects);
        if (c.lost != 0 || c.undelivered != 0) {
            slim_event ev;
            for (int k = 0; k < 3 && slim_app_next_event(m[i].app, 0, &ev) == SLIM_OK;) {
                if (ev.kind != SLIM_EVENT_UNDELIVERED && ev.kind != SLIM_EVENT_MESSAGE_LOST)
                    continue;
                fprintf(stderr, "    %s\n", ev.detail);
                k++;
            }
            ok = false;
        }
    }
    /* Exactly once: nothing more arrives. */
    for (int i = 0; i < n && ok; i++) {
        slim_message *msg = NULL;
        if (slim_session_get_message(m[i].app, m[i].s, i == 0 ? 1500 : 50, &msg) == SLIM_OK) {
            fprintf(stderr, "  %s: a message more than expected\n", m[i].name);
            slim_message_free(msg);
            ok = false;
        }
    }
    return ok;
}

/* Messages each of six members publishes at once: 1000, or 300 under
 * ThreadSanitizer (SLIM_TEST_TSAN). There 6 000 messages and their
 * acknowledgements overload seven TSan processes on two vCPUs until apps
 * close their links to the node as slow consumers (one run in three with
 * three such runs at once); the case is there for the races, which 1 800
 * messages exercise as well (docs/sessions.md, "Known problem").
 * SLIM_TEST_FULL_LOAD=1 runs 1000 under TSan too. */
static int six_member_load(void) {
    if (getenv("SLIM_TEST_TSAN") != NULL && getenv("SLIM_TEST_FULL_LOAD") == NULL) {
        fprintf(stderr, "  300 messages a member under ThreadSanitizer\n");
        return 300;
    }
    return 1000;
}

static bool everyone_to_everyone(member *m, int n, int count) {
    return everyone_to_everyone_paced(m, n, count, 0);
}

TEST(six_members_everyone_to_everyone) {
    test_node nd;
    member m[6];
    CHECK(group_on_one_node(&nd, m, 6, &GROUP));
    for (int i = 0; i < 6; i++)
        CHECK_EQ(member_count(&m[i]), 6);
    CHECK(everyone_to_everyone(m, 6, six_member_load()));
    group_free(m, 6);
    test_node_stop(&nd);
}

/* Each member behind its own proxy that drops, duplicates and reorders. */
TEST(six_members_through_lossy_proxies) {
    if (test_skip_under_sanitizers("six_members_through_lossy_proxies"))
        return;
    test_node nd;
    CHECK(test_node_start(&nd, ""));
    test_proxy px[6];
    member m[6];
    int ports[6];
    slim_session_options o = GROUP;
    o.max_retries = 15; /* the proxy is slow on a loaded machine: see test_client_sessions */
    for (int i = 0; i < 6; i++) {
        char args[96];
        snprintf(args, sizeof args, "--seed %d --drop 0.05 --dup 0.03 --reorder-window 4", 21 + i);
        CHECK(test_proxy_start(&px[i], nd.port, args));
        ports[i] = px[i].port;
    }
    CHECK(group_start(m, 6, ports, &o));
    /* Paced at 50 messages a second per member: each proxy (Python) then
     * carries about 1000 messages a second, what it can. Unpaced, its
     * queues grow past the node's patience (a connection whose send queue
     * stays full for 10 s is closed as a slow consumer). */
    CHECK(everyone_to_everyone_paced(m, 6, 1000, 20000));
    group_free(m, 6);
    for (int i = 0; i < 6; i++)
        test_proxy_stop(&px[i]);
    test_node_stop(&nd);
}

/* A member's link to the node is cut (the proxy ends its stream): the
 * member reconnects, and the group goes on with nothing lost either way. */
TEST(a_member_whose_link_is_cut_goes_on) {
    test_node nd;
    CHECK(test_node_start(&nd, ""));
    test_proxy px;
    CHECK(test_proxy_start(&px, nd.port, "--drop 0 --dup 0"));
    member m[3];
    int ports[3] = {nd.port, px.port, nd.port};
    CHECK(group_start(m, 3, ports, &GROUP));
    CHECK(everyone_to_everyone(m, 3, 200));
    CHECK(kill(px.pid, SIGUSR2) == 0);
    slim_app_counters c = {0};
    for (int i = 0; i < 200 && c.reconnects == 0; i++) {
        usleep(50000);
        CHECK_OK(slim_app_counters_get(m[1].app, &c));
    }
    CHECK_EQ(c.reconnects, 1);
    CHECK(everyone_to_everyone(m, 3, 200));
    group_free(m, 3);
    test_proxy_stop(&px);
    test_node_stop(&nd);
}

/* Two nodes, the second a client of the first; members on both. */
TEST(six_members_across_two_nodes) {
    test_node a, b;
    CHECK(test_node_start(&a, ""));
    char extra[160];
    snprintf(extra, sizeof extra,
             "      clients:\n"
             "        - endpoint: \"http://127.0.0.1:%d\"\n",
             a.port);
    CHECK(test_node_start(&b, extra));
    CHECK(test_node_wait_metric(&a, "slim_connections{kind=\"node\"} ", 1, 10000));
    member m[6];
    int ports[6] = {a.port, b.port, a.port, b.port, a.port, b.port};
    CHECK(group_start(m, 6, ports, &GROUP));
    CHECK(everyone_to_everyone(m, 6, six_member_load()));
    group_free(m, 6);
    test_node_stop(&b);
    test_node_stop(&a);
}

/* ---- invites ---- */

/* Nobody answers: the invite fails after (max_retries + 1) timeouts (or
 * at once when the node says it has no route), and the next one works. */
TEST(an_invite_nobody_answers_fails_on_time) {
    test_node nd;
    CHECK(test_node_start(&nd, ""));
    member m[2];
    int ports[2] = {nd.port, nd.port};
    slim_session_options o = GROUP;
    o.timeout_ms = 600;
    o.max_retries = 2;
    CHECK(group_start(m, 1, ports, &o));
    CHECK_OK(slim_app_set_route(m[0].app, "org/ns/nobody", 0, 5000));
    slim_op op;
    slim_event ev;
    uint64_t t0 = slim_now_ms();
    CHECK_OK(slim_session_invite_async(m[0].app, m[0].s, "org/ns/nobody", &op));
    CHECK(test_wait_op(m[0].app, op, &ev, 20000));
    uint64_t took = slim_now_ms() - t0;
    fprintf(stderr, "  the invite ended with %s after %llu ms: %s\n", slim_status_name(ev.status),
            (unsigned long long)took, ev.detail);
    CHECK(ev.status == SLIM_E_SESSION_DISCOVERY_FAILED || ev.status == SLIM_E_SESSION_NO_ROUTE);
    if (ev.status == SLIM_E_SESSION_DISCOVERY_FAILED)
        CHECK(took >= 3 * 600 - 100 && took < 3 * 600 + 5000);
    CHECK(ev.detail[0] != 0);
    /* A later invite is not blocked by it. */
    snprintf(m[1].name, sizeof m[1].name, "org/ns/p1");
    CHECK((m[1].app = app_at(m[1].name, nd.port)) != NULL);
    CHECK_OK(slim_app_set_route(m[0].app, m[1].name, 0, 5000));
    CHECK_OK(slim_session_invite(m[0].app, m[0].s, m[1].name, 20000));
    CHECK_OK(slim_app_listen(m[1].app, 5000, &m[1].s));
    CHECK_EQ(member_count(&m[0]), 2);
    CHECK_OK(slim_session_publish(m[1].app, m[1].s, test_text("hello"), NULL, 5000, NULL));
    slim_message *msg = NULL;
    CHECK_OK(slim_session_get_message(m[0].app, m[0].s, 5000, &msg));
    CHECK(msg->payload.len == 5 && memcmp(msg->payload.ptr, "hello", 5) == 0);
    slim_message_free(msg);
    /* Invites on a session that is not a group, or by a member. */
    CHECK_STATUS(slim_session_invite(m[1].app, m[1].s, "org/ns/x", 5000),
                 SLIM_E_SESSION_NOT_MODERATOR);
    CHECK_STATUS(slim_session_invite(m[0].app, m[0].s, m[1].name, 5000),
                 SLIM_E_SESSION_ALREADY_MEMBER);
    group_free(m, 2);
    test_node_stop(&nd);
}

/* Two invites called at once both succeed, in the order they were made. */
TEST(two_invites_at_once) {
    test_node nd;
    member m[3];
    CHECK(group_on_one_node(&nd, m, 1, &GROUP));
    for (int i = 1; i < 3; i++) {
        snprintf(m[i].name, sizeof m[i].name, "org/ns/p%d", i);
        CHECK((m[i].app = app_at(m[i].name, nd.port)) != NULL);
        CHECK_OK(slim_app_set_route(m[0].app, m[i].name, 0, 5000));
    }
    slim_op op[2];
    CHECK_OK(slim_session_invite_async(m[0].app, m[0].s, m[1].name, &op[0]));
    CHECK_OK(slim_session_invite_async(m[0].app, m[0].s, m[2].name, &op[1]));
    int done = 0;
    uint64_t end = slim_now_ms() + 30000;
    while (done < 2 && slim_now_ms() < end) {
        slim_event ev;
        if (slim_app_next_event(m[0].app, 100, &ev) != SLIM_OK || ev.kind != SLIM_EVENT_OP_DONE)
            continue;
        CHECK_EQ(ev.op, op[done]); /* in call order */
        CHECK_OK(ev.status);
        done++;
    }
    CHECK_EQ(done, 2);
    for (int i = 1; i < 3; i++) {
        CHECK_OK(slim_app_listen(m[i].app, 5000, &m[i].s));
        CHECK_EQ(member_count(&m[i]), 3);
    }
    CHECK(everyone_to_everyone(m, 3, 100));
    group_free(m, 3);
    test_node_stop(&nd);
}

/* ---- membership changes ---- */

TEST(remove_a_member) {
    test_node nd;
    member m[3];
    CHECK(group_on_one_node(&nd, m, 3, &GROUP));
    CHECK_OK(slim_session_remove(m[0].app, m[0].s, "org/ns/p2", 20000));
    slim_event ev;
    CHECK(test_wait_event(m[2].app, SLIM_EVENT_SESSION_CLOSED, m[2].s, &ev, 10000));
    CHECK_STATUS(ev.status, SLIM_E_SESSION_REMOVED);
    CHECK(wait_member(&m[1], SLIM_MEMBER_LEFT, "org/ns/p2", 10000));
    CHECK_EQ(member_count(&m[0]), 2);
    CHECK_EQ(member_count(&m[1]), 2);
    CHECK_STATUS(slim_session_remove(m[0].app, m[0].s, "org/ns/p2", 10000),
                 SLIM_E_SESSION_NOT_MEMBER);
    /* The two left still talk, and the removed one hears nothing more. */
    CHECK(everyone_to_everyone(m, 2, 100));
    slim_message *msg = NULL;
    CHECK_STATUS(slim_session_get_message(m[2].app, m[2].s, 200, &msg), SLIM_E_CLOSED);
    group_free(m, 3);
    test_node_stop(&nd);
}

TEST(a_participant_leaves) {
    test_node nd;
    member m[3];
    CHECK(group_on_one_node(&nd, m, 3, &GROUP));
    CHECK_OK(slim_session_delete(m[1].app, m[1].s, 10000));
    CHECK(wait_member(&m[0], SLIM_MEMBER_LEFT, "org/ns/p1", 10000));
    CHECK(wait_member(&m[2], SLIM_MEMBER_LEFT, "org/ns/p1", 10000));
    CHECK_EQ(member_count(&m[0]), 2);
    /* The group goes on without it: moderator and p2. */
    member rest[2] = {m[0], m[2]};
    CHECK(everyone_to_everyone(rest, 2, 100));
    group_free(m, 3);
    test_node_stop(&nd);
}

/* A member invited after the group started talking receives every message
 * sent from its join on, and only those. */
TEST(a_late_joiner_gets_everything_from_its_join_on) {
    test_node nd;
    member m[3];
    CHECK(group_on_one_node(&nd, m, 2, &GROUP));
    CHECK(everyone_to_everyone(m, 2, 200));
    snprintf(m[2].name, sizeof m[2].name, "org/ns/p2");
    CHECK((m[2].app = app_at(m[2].name, nd.port)) != NULL);
    CHECK_OK(slim_app_set_route(m[0].app, m[2].name, 0, 5000));
    CHECK_OK(slim_session_invite(m[0].app, m[0].s, m[2].name, 20000));
    CHECK_OK(slim_app_listen(m[2].app, 5000, &m[2].s));
    CHECK(wait_member(&m[1], SLIM_MEMBER_JOINED, "org/ns/p2", 10000));
    /* From here all three talk. The writers number their messages from 0
     * again: had the newcomer been given any of the first 200 (or missed
     * any sent after its join), its reader would see a number out of
     * sequence, or a message more than expected. */
    CHECK(everyone_to_everyone(m, 3, 300));
    group_free(m, 3);
    test_node_stop(&nd);
}

TEST(the_moderator_closes_the_group) {
    test_node nd;
    member m[3];
    CHECK(group_on_one_node(&nd, m, 3, &GROUP));
    CHECK_OK(slim_session_publish(m[0].app, m[0].s, test_text("bye"), NULL, 5000, NULL));
    CHECK_OK(slim_session_delete(m[0].app, m[0].s, 15000));
    for (int i = 1; i < 3; i++) {
        slim_event ev;
        CHECK(test_wait_event(m[i].app, SLIM_EVENT_SESSION_CLOSED, m[i].s, &ev, 10000));
        CHECK_STATUS(ev.status, SLIM_E_SESSION_MODERATOR_CLOSED);
        /* What came before the close is still there to read, then the end. */
        slim_message *msg = NULL;
        CHECK_OK(slim_session_get_message(m[i].app, m[i].s, 1000, &msg));
        CHECK(msg->payload.len == 3 && memcmp(msg->payload.ptr, "bye", 3) == 0);
        slim_message_free(msg);
        CHECK_STATUS(slim_session_get_message(m[i].app, m[i].s, 200, &msg), SLIM_E_CLOSED);
    }
    group_free(m, 3);
    test_node_stop(&nd);
}

TEST_MAIN(TEST_ENTRY(six_members_everyone_to_everyone),
          TEST_ENTRY(an_invite_nobody_answers_fails_on_time), TEST_ENTRY(two_invites_at_once),
          TEST_ENTRY(remove_a_member), TEST_ENTRY(a_participant_leaves),
          TEST_ENTRY(a_late_joiner_gets_everything_from_its_join_on),
          TEST_ENTRY(the_moderator_closes_the_group), TEST_ENTRY(six_members_across_two_nodes),
          TEST_ENTRY(six_members_through_lossy_proxies),
          TEST_ENTRY(a_member_whose_link_is_cut_goes_on))
