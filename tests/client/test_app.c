/* The app object against real nodes: connecting (blocking and through the
 * event descriptor), failures with their cause, subscriptions and routes
 * as the node sees them, servers other apps connect to, bad input, and
 * many threads at once. */
#include "test.h"
#include "node_proc.h"
#include "slim/app.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const slim_identity_config ID = {.kind = SLIM_IDENTITY_SHARED_SECRET,
                                        .id = "alice",
                                        .secret = "a-shared-secret-of-at-least-32-characters"};

static slim_app *app_new(const char *name) {
    slim_app *app = NULL;
    slim_identity_config id = ID;
    id.id = name;
    if (slim_app_new(name, &id, &ID, NULL, &app) != SLIM_OK)
        return NULL;
    return app;
}

static slim_client_options to(const test_node *n, char *buf, size_t cap) {
    snprintf(buf, cap, "http://127.0.0.1:%d", n->port);
    return (slim_client_options){.endpoint = buf};
}

TEST(connect_subscribe_route) {
    test_node n;
    CHECK(test_node_start(&n, ""));
    slim_app *app = app_new("org/ns/alice");
    CHECK(app != NULL);
    char ep[64];
    slim_client_options o = to(&n, ep, sizeof ep);
    slim_conn_id conn = 0;
    CHECK_OK(slim_app_connect(app, &o, 10000, &conn));
    CHECK(conn != 0);
    /* Our name is on the node once connect returns. */
    CHECK(test_node_wait_metric(&n, "slim_connections{kind=\"edge\"} ", 1, 5000));
    CHECK(test_node_metric(&n, "slim_subscriptions ") == 1);
    CHECK_OK(slim_app_subscribe(app, "org/ns/extra", 0, 10000));
    CHECK(test_node_metric(&n, "slim_subscriptions ") == 2);
    CHECK_OK(slim_app_subscribe(app, "org/ns/other/0123", conn, 10000));
    CHECK(test_node_metric(&n, "slim_subscriptions ") == 3);
    CHECK_OK(slim_app_unsubscribe(app, "org/ns/extra", conn, 10000));
    CHECK(test_node_metric(&n, "slim_subscriptions ") == 2);
    /* Routes stay in the app: the node's table does not change. */
    CHECK_OK(slim_app_set_route(app, "org/ns/bob", 0, 10000));
    CHECK_OK(slim_app_remove_route(app, "org/ns/bob", 0, 10000));
    CHECK(test_node_metric(&n, "slim_subscriptions ") == 2);
    /* Bad input: refused at once, nothing sent. */
    CHECK_STATUS(slim_app_subscribe(app, "org/ns", 0, 1000), SLIM_E_NAME_TOO_FEW_COMPONENTS);
    CHECK_STATUS(slim_app_subscribe(app, "org/ns/x", 777, 1000), SLIM_E_NOT_FOUND);
    CHECK_STATUS(slim_app_disconnect(app, 777, 1000), SLIM_E_NOT_FOUND);
    /* Disconnecting withdraws everything from the node. */
    CHECK_OK(slim_app_disconnect(app, conn, 10000));
    CHECK(test_node_wait_metric(&n, "slim_subscriptions ", 0, 5000));
    CHECK(test_node_wait_metric(&n, "slim_connections{kind=\"edge\"} ", 0, 5000));
    CHECK_STATUS(slim_app_subscribe(app, "org/ns/x", 0, 1000), SLIM_E_NOT_FOUND);
    slim_app_free(app, 1000);
    test_node_stop(&n);
}

TEST(connect_async_through_the_descriptor) {
    test_node n;
    CHECK(test_node_start(&n, ""));
    slim_app *app = app_new("org/ns/carol");
    char ep[64];
    slim_client_options o = to(&n, ep, sizeof ep);
    slim_op op = 0;
    CHECK_OK(slim_app_connect_async(app, &o, &op));
    CHECK(op != 0);
    slim_event ev;
    CHECK(test_wait_op(app, op, &ev, 10000));
    CHECK_OK(ev.status);
    CHECK(ev.conn != 0);
    CHECK_OK(slim_app_subscribe_async(app, "org/ns/more", ev.conn, &op));
    CHECK(test_wait_op(app, op, &ev, 10000));
    CHECK_OK(ev.status);
    CHECK(test_node_metric(&n, "slim_subscriptions ") == 2);
    /* Nothing left: the descriptor is not readable, next_event times out. */
    struct pollfd p = {.fd = slim_app_fd(app), .events = POLLIN};
    CHECK_EQ(poll(&p, 1, 0), 0);
    CHECK_STATUS(slim_app_next_event(app, 0, &ev), SLIM_E_TIMEOUT);
    CHECK_STATUS(slim_app_next_event(app, 30, &ev), SLIM_E_TIMEOUT);
    /* Fire and forget: no event. */
    CHECK_OK(slim_app_subscribe_async(app, "org/ns/quiet", 0, NULL));
    CHECK(test_node_wait_metric(&n, "slim_subscriptions ", 3, 5000));
    CHECK_STATUS(slim_app_next_event(app, 100, &ev), SLIM_E_TIMEOUT);
    slim_app_free(app, 1000);
    test_node_stop(&n);
}

TEST(connect_failures_say_why) {
    slim_app *app = app_new("org/ns/dave");
    /* Nobody listens on port 1. */
    slim_client_options o = {.endpoint = "http://127.0.0.1:1"};
    slim_event ev;
    slim_op op;
    CHECK_OK(slim_app_connect_async(app, &o, &op));
    CHECK(test_wait_op(app, op, &ev, 10000));
    CHECK(ev.status != SLIM_OK);
    CHECK(strstr(ev.detail, "cannot connect to http://127.0.0.1:1") != NULL);
    CHECK_STATUS(slim_app_connect_json(app, "{endpoint: ", 1000, NULL), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_app_connect_json(app, "{\"endpoint\": 5}", 1000, NULL), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_app_connect(app, &(slim_client_options){0}, 1000, NULL), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_app_run_server(app, "not json at all: [", 1000), SLIM_E_INVALID_ARG);
    slim_app_free(app, 1000);
    /* Bad identities and names are refused. */
    slim_app *bad = NULL;
    CHECK_STATUS(slim_app_new("org/ns", &ID, &ID, NULL, &bad), SLIM_E_NAME_TOO_FEW_COMPONENTS);
    CHECK_STATUS(slim_app_new("org/ns/x/1", &ID, &ID, NULL, &bad), SLIM_E_INVALID_ARG);
    slim_identity_config none = {.kind = SLIM_IDENTITY_SHARED_SECRET, .id = "x", .secret = ""};
    CHECK_STATUS(slim_app_new("org/ns/x", &none, &ID, NULL, &bad), SLIM_E_INVALID_ARG);
    CHECK(bad == NULL);
}

TEST(an_app_serves_another) {
    slim_app *server = app_new("org/ns/server");
    slim_app *client = app_new("org/ns/client");
    CHECK_STATUS(slim_app_run_server(server,
                                     "{\"endpoint\": \"127.0.0.1:0\", \"tls\": "
                                     "{\"insecure\": true}}",
                                     10000),
                 SLIM_OK);
    /* Port 0 cannot be connected to: ask for a fixed free port instead. */
    CHECK_OK(slim_app_stop_server(server, "127.0.0.1:0", 5000));
    CHECK_STATUS(slim_app_stop_server(server, "127.0.0.1:0", 5000), SLIM_E_NOT_FOUND);
    int port = 0;
    for (int p = 47000; p < 47100 && port == 0; p++) {
        char json[128];
        snprintf(json, sizeof json,
                 "{\"endpoint\": \"127.0.0.1:%d\", \"tls\": {\"insecure\": true}}", p);
        if (slim_app_run_server(server, json, 5000) == SLIM_OK)
            port = p;
    }
    CHECK(port != 0);
    char json[128];
    snprintf(json, sizeof json, "{\"endpoint\": \"127.0.0.1:%d\", \"tls\": {\"insecure\": true}}",
             port);
    CHECK_STATUS(slim_app_run_server(server, json, 5000), SLIM_E_EXISTS);
    char cj[128];
    snprintf(cj, sizeof cj, "{\"endpoint\": \"http://127.0.0.1:%d\"}", port);
    slim_conn_id conn = 0;
    CHECK_OK(slim_app_connect_json(client, cj, 10000, &conn));
    CHECK_OK(slim_app_subscribe(client, "org/ns/client2", conn, 10000));
    slim_app_free(client, 1000);
    slim_app_free(server, 1000);
}

typedef struct worker {
    slim_app *app;
    int index;
    int ok;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    for (int i = 0; i < 20; i++) {
        char name[64];
        snprintf(name, sizeof name, "org/t%d/n%d", w->index, i);
        if (slim_app_subscribe(w->app, name, 0, 10000) == SLIM_OK)
            w->ok++;
    }
    return NULL;
}

TEST(eight_threads_at_once) {
    test_node n;
    CHECK(test_node_start(&n, ""));
    slim_app *app = app_new("org/ns/busy");
    char ep[64];
    slim_client_options o = to(&n, ep, sizeof ep);
    CHECK_OK(slim_app_connect(app, &o, 10000, NULL));
    pthread_t t[8];
    worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){app, i, 0};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(w[i].ok, 20);
    }
    CHECK(test_node_wait_metric(&n, "slim_subscriptions ", 161, 5000));
    slim_app_free(app, 1000);
    test_node_stop(&n);
}

/* The id an _async call returns is its operation's, also when the loop
 * completes the operation (and frees its record) before the call returns:
 * commands that fail at once on the loop (a route over no connection),
 * posted as fast as one thread can. */
TEST(async_ids_name_their_operations) {
    slim_app *app = app_new("org/ns/quick");
    CHECK(app != NULL);
    enum { ROUNDS = 20, PER = 5000 };
    static bool seen[PER];
    int out_of_order = 0, strangers = 0, twice = 0;
    for (int r = 0; r < ROUNDS; r++) {
        slim_op first = 0;
        for (int i = 0; i < PER; i++) {
            slim_op op = 0;
            CHECK_OK(slim_app_set_route_async(app, "org/ns/bob", 0, &op));
            if (i == 0)
                first = op;
            else if (op != first + (slim_op)i)
                out_of_order++;
        }
        /* Every operation completes once, with its own id. */
        memset(seen, 0, sizeof seen);
        slim_event ev;
        for (int got = 0; got < PER;) {
            if (slim_app_next_event(app, 5000, &ev) != SLIM_OK)
                break;
            if (ev.kind != SLIM_EVENT_OP_DONE)
                continue;
            got++;
            CHECK_STATUS(ev.status, SLIM_E_NOT_FOUND);
            if (ev.op < first || ev.op >= first + PER)
                strangers++;
            else if (seen[ev.op - first])
                twice++;
            else
                seen[ev.op - first] = true;
        }
    }
    CHECK_EQ(out_of_order, 0);
    CHECK_EQ(strangers, 0);
    CHECK_EQ(twice, 0);
    slim_app_free(app, 1000);
}

TEST_MAIN(TEST_ENTRY(connect_subscribe_route), TEST_ENTRY(connect_async_through_the_descriptor),
          TEST_ENTRY(connect_failures_say_why), TEST_ENTRY(an_app_serves_another),
          TEST_ENTRY(eight_threads_at_once), TEST_ENTRY(async_ids_name_their_operations))
