/* Unit tests for src/router: one test per match rule, table bookkeeping,
 * limits and allocation failure. */
#include "test.h"
#include "router/router.h"

static slim_name nm(const char *text) {
    slim_name n;
    if (slim_name_parse(text, strlen(text), &n, NULL) != SLIM_OK)
        TEST_FAIL_AT("bad name %s", text);
    return n;
}

static slim_router *mk(void) {
    slim_router *r = NULL;
    if (slim_router_new(NULL, &r) != SLIM_OK)
        TEST_FAIL_AT("router_new failed");
    return r;
}

/* Matches and returns the single selected connection, or -1. */
static int64_t one(slim_router *r, const char *dst, uint32_t fanout, int64_t incoming) {
    slim_name d = nm(dst);
    slim_route_query q = {.destination = &d,
                          .fanout = fanout,
                          .incoming = (uint64_t)incoming,
                          .has_incoming = incoming >= 0};
    const uint64_t *c;
    size_t n;
    if (slim_router_match(r, &q, &c, &n) != SLIM_OK)
        return -1;
    if (n != 1)
        TEST_FAIL_AT("expected one connection, got %zu", n);
    return (int64_t)c[0];
}

/* Broadcast match; writes a bitmask of selected connection ids < 64. */
static slim_status all(slim_router *r, const char *dst, int64_t incoming, uint64_t *mask,
                       size_t *count) {
    slim_name d = nm(dst);
    slim_route_query q = {.destination = &d,
                          .fanout = 256,
                          .incoming = (uint64_t)incoming,
                          .has_incoming = incoming >= 0};
    const uint64_t *c;
    size_t n = 0;
    slim_status st = slim_router_match(r, &q, &c, &n);
    *mask = 0;
    *count = st == SLIM_OK ? n : 0;
    for (size_t i = 0; st == SLIM_OK && i < n; i++)
        *mask |= 1ull << c[i];
    return st;
}

TEST(anycast_round_robin_is_even) {
    slim_router *r = mk();
    for (uint64_t c = 1; c <= 3; c++) {
        CHECK_OK(slim_router_conn_add(r, c, SLIM_CONN_EDGE));
        char name[64];
        snprintf(name, sizeof name, "agntcy/ns/svc/%llu", (unsigned long long)c);
        slim_name n = nm(name);
        CHECK_OK(slim_router_subscribe(r, c, &n));
    }
    int counts[4] = {0};
    for (int i = 0; i < 300; i++) {
        int64_t c = one(r, "agntcy/ns/svc", 1, 99);
        CHECK(c >= 1 && c <= 3);
        if (c >= 1 && c <= 3)
            counts[c]++;
    }
    CHECK_EQ(counts[1], 100);
    CHECK_EQ(counts[2], 100);
    CHECK_EQ(counts[3], 100);
    slim_router_free(r);
}

TEST(anycast_prefers_local_and_edge_over_node) {
    slim_router *r = mk();
    slim_name n = nm("o/n/s");
    CHECK_OK(slim_router_conn_add(r, 1, SLIM_CONN_NODE));
    CHECK_OK(slim_router_conn_add(r, 2, SLIM_CONN_EDGE));
    CHECK_OK(slim_router_conn_add(r, 3, SLIM_CONN_LOCAL));
    CHECK_OK(slim_router_conn_add(r, 4, SLIM_CONN_NODE));
    for (uint64_t c = 1; c <= 4; c++)
        CHECK_OK(slim_router_subscribe(r, c, &n));
    /* the near candidates (LOCAL 3 and EDGE 2) take turns; the nodes never */
    int near[5] = {0};
    for (int i = 0; i < 20; i++) {
        int64_t c = one(r, "o/n/s", 1, -1);
        CHECK(c == 2 || c == 3);
        if (c >= 1 && c <= 4)
            near[c]++;
    }
    CHECK_EQ(near[2], 10);
    CHECK_EQ(near[3], 10);
    /* from the edge app: the local one is the only near candidate left */
    for (int i = 0; i < 5; i++)
        CHECK_EQ(one(r, "o/n/s", 1, 2), 3);
    CHECK_OK(slim_router_conn_remove(r, 2, NULL));
    CHECK_OK(slim_router_conn_remove(r, 3, NULL));
    int seen1 = 0, seen4 = 0;
    for (int i = 0; i < 10; i++) {
        int64_t c = one(r, "o/n/s", 1, -1);
        seen1 += c == 1;
        seen4 += c == 4;
    }
    CHECK_EQ(seen1, 5);
    CHECK_EQ(seen4, 5);
    slim_router_free(r);
}

TEST(broadcast_reaches_every_kind_once) {
    slim_router *r = mk();
    slim_name any = nm("o/n/chan"), id1 = nm("o/n/chan/1"), id2 = nm("o/n/chan/2");
    CHECK_OK(slim_router_conn_add(r, 1, SLIM_CONN_LOCAL));
    CHECK_OK(slim_router_conn_add(r, 2, SLIM_CONN_EDGE));
    CHECK_OK(slim_router_conn_add(r, 3, SLIM_CONN_NODE));
    CHECK_OK(slim_router_subscribe(r, 1, &any));
    CHECK_OK(slim_router_subscribe(r, 2, &id1));
    CHECK_OK(slim_router_subscribe(r, 2, &id2)); /* two ids, one connection */
    CHECK_OK(slim_router_subscribe(r, 3, &any));
    uint64_t mask;
    size_t count;
    CHECK_OK(all(r, "o/n/chan", -1, &mask, &count));
    CHECK_EQ(count, 3);
    CHECK_U64(mask, 0xE);
    /* fanout 0 (the proto default) is broadcast too */
    slim_name d = nm("o/n/chan");
    slim_route_query q = {.destination = &d, .fanout = 0};
    const uint64_t *c;
    size_t n;
    CHECK_OK(slim_router_match(r, &q, &c, &n));
    CHECK_EQ(n, 3);
    slim_router_free(r);
}

TEST(specific_id_matches_only_that_id) {
    slim_router *r = mk();
    slim_name any = nm("o/n/bob"), b7 = nm("o/n/bob/7"), b8 = nm("o/n/bob/8");
    CHECK_OK(slim_router_conn_add(r, 1, SLIM_CONN_EDGE));
    CHECK_OK(slim_router_conn_add(r, 2, SLIM_CONN_EDGE));
    CHECK_OK(slim_router_conn_add(r, 3, SLIM_CONN_NODE));
    CHECK_OK(slim_router_subscribe(r, 1, &b7));
    CHECK_OK(slim_router_subscribe(r, 2, &b8));
    CHECK_OK(slim_router_subscribe(r, 3, &any));
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(one(r, "o/n/bob/7", 1, -1), 1);
        CHECK_EQ(one(r, "o/n/bob/8", 1, -1), 2);
    }
    CHECK_EQ(one(r, "o/n/bob/9", 1, -1), -1); /* no fallback to the any-id route */
    uint64_t mask;
    size_t count;
    CHECK_OK(all(r, "o/n/bob/7", -1, &mask, &count));
    CHECK_U64(mask, 0x2);
    CHECK_OK(all(r, "o/n/bob", -1, &mask, &count)); /* any id: every subscription */
    CHECK_U64(mask, 0xE);
    slim_router_free(r);
}

TEST(never_back_to_incoming) {
    slim_router *r = mk();
    slim_name n = nm("o/n/s");
    CHECK_OK(slim_router_conn_add(r, 1, SLIM_CONN_EDGE));
    CHECK_OK(slim_router_conn_add(r, 2, SLIM_CONN_NODE));
    CHECK_OK(slim_router_subscribe(r, 1, &n));
    CHECK_EQ(one(r, "o/n/s", 1, 1), -1);
    CHECK_OK(slim_router_subscribe(r, 2, &n));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(one(r, "o/n/s", 1, 1), 2);
    uint64_t mask;
    size_t count;
    CHECK_OK(all(r, "o/n/s", 2, &mask, &count));
    CHECK_U64(mask, 0x2);
    CHECK_STATUS(all(r, "o/n/other", -1, &mask, &count), SLIM_E_ROUTER_NO_ROUTE);
    slim_router_free(r);
}

TEST(forward_to_wins) {
    slim_router *r = mk();
    slim_name n = nm("o/n/s"), d = nm("o/n/elsewhere");
    CHECK_OK(slim_router_conn_add(r, 1, SLIM_CONN_EDGE));
    CHECK_OK(slim_router_conn_add(r, 5, SLIM_CONN_NODE));
    CHECK_OK(slim_router_subscribe(r, 1, &n));
    slim_route_query q = {.destination = &d, .fanout = 1, .has_forward_to = true, .forward_to = 5};
    const uint64_t *c;
    size_t cnt;
    CHECK_OK(slim_router_match(r, &q, &c, &cnt));
    CHECK_EQ(cnt, 1);
    CHECK_U64(c[0], 5);
    q.forward_to = 6;
    CHECK_STATUS(slim_router_match(r, &q, &c, &cnt), SLIM_E_ROUTER_UNKNOWN_CONNECTION);
    q.forward_to = 5;
    q.has_incoming = true;
    q.incoming = 5;
    CHECK_STATUS(slim_router_match(r, &q, &c, &cnt), SLIM_E_ROUTER_NO_ROUTE);
    slim_router_free(r);
}

TEST(subscribe_unsubscribe_bookkeeping) {
    slim_router *r = mk();
    slim_name a = nm("o/n/a"), a1 = nm("o/n/a/1");
    CHECK_STATUS(slim_router_subscribe(r, 1, &a), SLIM_E_ROUTER_UNKNOWN_CONNECTION);
    CHECK_OK(slim_router_conn_add(r, 1, SLIM_CONN_EDGE));
    CHECK_STATUS(slim_router_conn_add(r, 1, SLIM_CONN_NODE), SLIM_E_EXISTS);
    CHECK_OK(slim_router_subscribe(r, 1, &a));
    CHECK_OK(slim_router_subscribe(r, 1, &a)); /* idempotent */
    CHECK_OK(slim_router_subscribe(r, 1, &a1));
    slim_router_stats st;
    slim_router_stats_get(r, &st);
    CHECK_EQ(st.connections, 1);
    CHECK_EQ(st.subscriptions, 2);
    CHECK_EQ(st.names, 2);
    CHECK(slim_router_is_subscribed(r, 1, &a1));
    CHECK_OK(slim_router_unsubscribe(r, 1, &a1));
    CHECK(!slim_router_is_subscribed(r, 1, &a1));
    CHECK_STATUS(slim_router_unsubscribe(r, 1, &a1), SLIM_E_ROUTER_NO_SUCH_SUBSCRIPTION);
    CHECK_STATUS(slim_router_unsubscribe(r, 2, &a), SLIM_E_ROUTER_UNKNOWN_CONNECTION);
    size_t removed = 0;
    CHECK_OK(slim_router_conn_remove(r, 1, &removed));
    CHECK_EQ(removed, 1);
    slim_router_stats_get(r, &st);
    CHECK_EQ(st.subscriptions, 0);
    CHECK_EQ(st.names, 0);
    CHECK_STATUS(slim_router_conn_remove(r, 1, NULL), SLIM_E_ROUTER_UNKNOWN_CONNECTION);
    uint64_t mask;
    size_t count;
    CHECK_STATUS(all(r, "o/n/a", -1, &mask, &count), SLIM_E_ROUTER_NO_ROUTE);
    slim_conn_kind k;
    CHECK_STATUS(slim_router_conn_kind(r, 1, &k), SLIM_E_ROUTER_UNKNOWN_CONNECTION);
    slim_router_free(r);
}

static void count_cb(const slim_name *n, const uint64_t *reasons, size_t nr, void *ud) {
    (void)n;
    (void)reasons;
    (void)nr;
    (*(size_t *)ud)++;
}

TEST(subscription_limit_and_many_names) {
    slim_router_config cfg = {.max_subscriptions_per_conn = 10000};
    slim_router *r = NULL;
    CHECK_OK(slim_router_new(&cfg, &r));
    CHECK_OK(slim_router_conn_add(r, 1, SLIM_CONN_EDGE));
    CHECK_OK(slim_router_conn_add(r, 2, SLIM_CONN_EDGE));
    for (uint64_t i = 0; i < 10000; i++) {
        slim_name n = nm("o/n/many");
        n.id = (slim_id){0, i};
        CHECK_OK(slim_router_subscribe(r, 1, &n));
    }
    slim_name extra = nm("o/n/extra");
    CHECK_STATUS(slim_router_subscribe(r, 1, &extra), SLIM_E_ROUTER_SUBSCRIPTION_LIMIT);
    CHECK_OK(slim_router_subscribe(r, 2, &extra)); /* the cap is per connection */
    CHECK_EQ(slim_router_conn_subscription_count(r, 1), 10000);
    size_t seen = 0;
    slim_router_conn_foreach(r, 1, count_cb, &seen);
    CHECK_EQ(seen, 10000);
    CHECK_EQ(one(r, "o/n/many/1234", 1, -1), 1);
    uint64_t mask;
    size_t count;
    CHECK_OK(all(r, "o/n/many", -1, &mask, &count));
    CHECK_EQ(count, 1); /* one connection, counted once */
    slim_router_free(r);
}

TEST(allocation_failure_leaves_tables_consistent) {
    test_alloc_install();
    for (long k = 1; k < 40; k++) {
        test_alloc_fail_after(k);
        slim_router *r = NULL;
        slim_status st = slim_router_new(NULL, &r);
        if (st == SLIM_OK)
            st = slim_router_conn_add(r, 1, SLIM_CONN_EDGE);
        slim_name a = nm("o/n/a/1"), b = nm("o/n/b");
        if (st == SLIM_OK)
            st = slim_router_subscribe(r, 1, &a);
        if (st == SLIM_OK)
            st = slim_router_subscribe(r, 1, &b);
        if (st != SLIM_OK && st != SLIM_E_NOMEM)
            TEST_FAIL_AT("k=%ld: %s", k, slim_status_name(st));
        test_alloc_fail_after(0);
        if (r != NULL) {
            /* whatever was installed routes, and nothing else does */
            size_t routable = 0;
            slim_conn_kind kind;
            bool have_conn = slim_router_conn_kind(r, 1, &kind) == SLIM_OK;
            const char *names[] = {"o/n/a/1", "o/n/b"};
            const slim_name *subs[] = {&a, &b};
            for (int i = 0; i < 2; i++) {
                int64_t c = one(r, names[i], 1, -1);
                bool installed = have_conn && slim_router_is_subscribed(r, 1, subs[i]);
                CHECK_EQ(c, installed ? 1 : -1);
                routable += c == 1;
            }
            CHECK_EQ(one(r, "o/n/a/2", 1, -1), -1); /* another id of a: never */
            slim_router_stats s;
            slim_router_stats_get(r, &s);
            CHECK_EQ(s.subscriptions, routable);
            CHECK_EQ(slim_router_conn_subscription_count(r, 1), routable);
        }
        slim_router_free(r);
        if (test_alloc_live() != 0)
            TEST_FAIL_AT("k=%ld: %ld allocations leaked", k, test_alloc_live());
    }
    test_alloc_uninstall();
}

TEST(reasons_keep_a_subscription_alive) {
    slim_router *r = mk();
    slim_name x = nm("o/n/x");
    CHECK_OK(slim_router_conn_add(r, 1, SLIM_CONN_NODE));
    CHECK_OK(slim_router_conn_add(r, 2, SLIM_CONN_NODE));
    CHECK_STATUS(slim_router_subscribe_reason(r, 1, &x, 0), SLIM_E_INVALID_ARG);
    CHECK_OK(slim_router_subscribe_reason(r, 1, &x, 11));
    CHECK_OK(slim_router_subscribe_reason(r, 1, &x, 22));
    CHECK_OK(slim_router_subscribe_reason(r, 1, &x, 22)); /* no duplicate reasons */
    CHECK_OK(slim_router_subscribe_reason(r, 2, &x, 11));
    const uint64_t *rs;
    size_t n;
    slim_router_reasons(r, 1, &x, &rs, &n);
    CHECK_EQ(n, 2);
    CHECK(slim_router_reason_held(r, &x, 11, 1)); /* conn 2 holds it */
    CHECK(!slim_router_reason_held(r, &x, 22, 1));
    bool removed = true;
    CHECK_OK(slim_router_unsubscribe_reason(r, 1, &x, 11, &removed));
    CHECK(!removed);
    CHECK(slim_router_is_subscribed(r, 1, &x));
    CHECK_STATUS(slim_router_unsubscribe_reason(r, 1, &x, 11, &removed),
                 SLIM_E_ROUTER_NO_SUCH_SUBSCRIPTION);
    CHECK_OK(slim_router_unsubscribe_reason(r, 1, &x, 22, &removed));
    CHECK(removed);
    CHECK(!slim_router_is_subscribed(r, 1, &x));
    size_t seen = 0;
    slim_router_conn_remove_each(r, 2, count_cb, &seen, NULL);
    CHECK_EQ(seen, 1);
    slim_router_free(r);
}

TEST_MAIN(TEST_ENTRY(reasons_keep_a_subscription_alive), TEST_ENTRY(anycast_round_robin_is_even),
          TEST_ENTRY(anycast_prefers_local_and_edge_over_node),
          TEST_ENTRY(broadcast_reaches_every_kind_once),
          TEST_ENTRY(specific_id_matches_only_that_id), TEST_ENTRY(never_back_to_incoming),
          TEST_ENTRY(forward_to_wins), TEST_ENTRY(subscribe_unsubscribe_bookkeeping),
          TEST_ENTRY(subscription_limit_and_many_names),
          TEST_ENTRY(allocation_failure_leaves_tables_consistent))
