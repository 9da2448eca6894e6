/* Group sessions between apps through real nodes: everyone to everyone in
 * per-sender order (one node, through lossy proxies, across two nodes),
 * invites that fail and that run at once, remove, leave, a late joiner,
 * and the moderator's close. */
#include "test.h"
#include "core/time.h"
#include "group_util.h"
#include "node_proc.h"
#include "slim/session.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHANNEL "org/ns/chat"

static const slim_session_options GROUP = {
    .type = SLIM_SESSION_MULTICAST, .peer = CHANNEL, .timeout_ms = 1000, .max_retries = 5};

/* A node, and a group of n members on it. */
static bool group_on_one_node(test_node *nd, member *m, int n, const slim_session_options *o) {
    if (!test_node_start(nd, ""))
        return false;
    int ports[GROUP_MAX];
    for (int i = 0; i < n; i++)
        ports[i] = nd->port;
    return group_start(m, n, ports, o, 0);
}

/* ---- everyone to everyone ---- */

/* Every member publishes `count` messages at once ("from:seq"), a pause
 * of pace_us after each; every member must get all of the others', in
 * each sender's order, exactly once. */
static bool everyone_to_everyone_paced(member *m, int n, int count, int pace_us) {
    group_traffic t = {.count = count, .pace_us = pace_us};
    return group_everyone(m, n, &t);
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
    lossy_group g;
    CHECK(lossy_group_start(&g, 6, 21, &GROUP, 0));
    /* Paced at 50 messages a second per member: each proxy (Python) then
     * carries about 1000 messages a second, what it can. Unpaced, its
     * queues grow past the node's patience (a connection whose send queue
     * stays full for 10 s is closed as a slow consumer). */
    CHECK(everyone_to_everyone_paced(g.m, 6, 1000, 20000));
    lossy_group_stop(&g);
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
    CHECK(group_start(m, 3, ports, &GROUP, 0));
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
    CHECK(group_start(m, 6, ports, &GROUP, 0));
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
    CHECK(group_start(m, 1, ports, &o, 0));
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
    CHECK((m[1].app = group_app(m[1].name, nd.port, 0)) != NULL);
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
        CHECK((m[i].app = group_app(m[i].name, nd.port, 0)) != NULL);
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
    CHECK((m[2].app = group_app(m[2].name, nd.port, 0)) != NULL);
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
