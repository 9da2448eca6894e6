/* Unit tests for the message handling of src/control/agent.c (the core):
 * a real forwarder, fake links, ControlMessages in and out as bytes. */
#include "test.h"
#include "control/agent.h"
#include "controller/v1/controller.pb-c.h"
#include "session/identity.h"
#include "slim/log.h"
#include "wire/wire.h"

typedef Controller__Proto__V1__ControlMessage pb_msg;
typedef Controller__Proto__V1__Subscription pb_sub;
typedef Controller__Proto__V1__Connection pb_conn;

/* ---- what the core does, recorded ---- */

#define MAX_OUT 16

typedef struct fake_link {
    char endpoint[128];
    slim_link_type type;
    uint64_t conn; /* the forwarder connection of its stream; 0: none */
    bool closed;
} fake_link;

static fake_link links[8];
static int nlinks;
static slim_status dial_result;
static slim_buf replies[MAX_OUT], reports[MAX_OUT];
static int nreplies, nreports;
static slim_agent_core *core; /* the forwarder's app_names go here */

static slim_status t_dial(void *ud, const slim_client_config *cc, void **link) {
    (void)ud;
    if (dial_result != SLIM_OK || nlinks == 8)
        return dial_result != SLIM_OK ? dial_result : SLIM_E_NOMEM;
    fake_link *l = &links[nlinks++];
    memset(l, 0, sizeof *l);
    snprintf(l->endpoint, sizeof l->endpoint, "%s", cc->endpoint);
    l->type = cc->connection_type;
    *link = l;
    return SLIM_OK;
}

static void t_close(void *ud, void *link) {
    (void)ud;
    ((fake_link *)link)->closed = true;
}

static uint64_t t_link_conn(void *ud, void *link) {
    (void)ud;
    return ((fake_link *)link)->conn;
}

static void t_streams(void *ud, void (*fn)(uint64_t, const char *, bool, void *), void *fud) {
    (void)ud;
    fn(1, "127.0.0.1:5001", false, fud);
    fn(2, "127.0.0.1:5002", false, fud);
    for (int i = 0; i < nlinks; i++)
        if (links[i].conn != 0 && !links[i].closed)
            fn(links[i].conn, links[i].endpoint, true, fud);
}

static void keep(slim_buf *arr, int *n, slim_bytes msg) {
    if (*n < MAX_OUT) {
        arr[*n].len = 0;
        (void)slim_buf_append(&arr[*n], msg.ptr, msg.len);
        (*n)++;
    }
}

static void t_broadcast(void *ud, slim_bytes msg) {
    (void)ud;
    keep(reports, &nreports, msg);
}

static void t_reply(void *ud, slim_bytes msg) {
    (void)ud;
    keep(replies, &nreplies, msg);
}

static const slim_agent_ops agent_ops = {.dial = t_dial,
                                         .close = t_close,
                                         .link_conn = t_link_conn,
                                         .streams = t_streams,
                                         .broadcast = t_broadcast};

/* ---- the forwarder ---- */

#define CTL_CONN 9 /* the core's LOCAL connection in the channel tests */

static slim_buf sent[16]; /* the last message the forwarder sent per connection */
static int nsent[16];
static uint64_t now_ms = 1000, unix_s = 1700000000;

static slim_status f_send(void *ud, uint64_t conn, slim_rcbuf *buf) {
    (void)ud;
    if (conn == CTL_CONN && core != NULL)
        slim_agent_core_local_input(core, slim_rcbuf_view(buf));
    if (conn < 16) {
        sent[conn].len = 0;
        (void)slim_buf_append(&sent[conn], buf->data, buf->len);
        nsent[conn]++;
    }
    return SLIM_OK;
}

static void f_close(void *ud, uint64_t conn, slim_status why, const char *detail) {
    (void)ud;
    (void)conn;
    (void)why;
    (void)detail;
}

static uint64_t f_random(void *ud) {
    (void)ud;
    static uint64_t n = 100;
    return n++;
}

static void f_app_names(void *ud, const slim_name *name, const slim_str *text, bool added) {
    (void)ud;
    if (core != NULL)
        slim_agent_core_app_name(core, name, text, added);
}

static const slim_fwd_ops fwd_ops = {
    .send = f_send, .close = f_close, .random64 = f_random, .app_names = f_app_names};

/* ---- fixture ---- */

static slim_kv meta_kv[2] = {{"local_endpoint", "10.0.0.5"}, {"group_name", "blue"}};
static slim_server_config servers[2];
static const slim_agent_info info = {
    .node_id = "slim/0", .group_name = "g", .servers = servers, .n_servers = 2};

static slim_fwd *fwd;

#define SECRET "a shared secret of at least thirty-two bytes"

static const slim_agent_info info_chan = {.node_id = "slim/0",
                                          .servers = servers,
                                          .n_servers = 2,
                                          .token_secret = SECRET,
                                          .request_timeout_ms = 5000};

static slim_status t_inject(void *ud, uint64_t conn, slim_bytes msg) {
    (void)ud;
    return slim_fwd_input(fwd, conn, msg, now_ms);
}

static const slim_agent_ops agent_ops_chan = {.dial = t_dial,
                                              .close = t_close,
                                              .link_conn = t_link_conn,
                                              .streams = t_streams,
                                              .broadcast = t_broadcast,
                                              .inject = t_inject};

static void reset_out(void) {
    for (int i = 0; i < MAX_OUT; i++) {
        slim_buf_cleanup(&replies[i]);
        slim_buf_cleanup(&reports[i]);
    }
    for (int i = 0; i < 16; i++) {
        slim_buf_cleanup(&sent[i]);
        nsent[i] = 0;
    }
    nreplies = nreports = 0;
}

static bool setup_with(const slim_agent_info *in, const slim_agent_ops *ops);

static bool setup(void) {
    return setup_with(&info, &agent_ops);
}

static bool setup_with(const slim_agent_info *in, const slim_agent_ops *ops) {
    memset(servers, 0, sizeof servers);
    servers[0].endpoint = "0.0.0.0:46357";
    servers[0].tls.insecure = true;
    servers[0].metadata = meta_kv;
    servers[0].n_metadata = 2;
    servers[1].endpoint = "0.0.0.0:46443";
    nlinks = 0;
    dial_result = SLIM_OK;
    reset_out();
    slim_fwd_config fc = {.node_id = "slim/0", .version = "0.1.0", .propagate = true};
    fwd = NULL;
    core = NULL;
    if (slim_fwd_new(&fc, &fwd_ops, NULL, &fwd) != SLIM_OK)
        return false;
    if (slim_agent_core_new(in, fwd, ops, NULL, &core) != SLIM_OK) {
        slim_fwd_free(fwd);
        return false;
    }
    return true;
}

static void teardown(void) {
    slim_agent_core *c = core;
    core = NULL;
    slim_agent_core_free(c);
    slim_fwd_free(fwd);
    reset_out();
}

/* An application's (un)subscription on LOCAL connection conn. */
static slim_status app_sub(uint64_t conn, const char *text, bool with_text, bool unsub) {
    slim_name_parts parts;
    slim_name src, dst;
    slim_name_parse("o/n/app", 7, &src, NULL);
    slim_name_parse(text, strlen(text), &dst, &parts);
    slim_wire_header_spec h = {.source = {&src, NULL},
                               .destination = {&dst, with_text ? parts.component : NULL}};
    slim_msg *m = NULL;
    slim_buf b = SLIM_BUF_INIT;
    slim_status st = slim_wire_subscribe_new(&h, 0, unsub, &m);
    if (st == SLIM_OK)
        st = slim_wire_encode(m, SIZE_MAX, &b);
    if (st == SLIM_OK)
        st = slim_fwd_input(fwd, conn, slim_buf_view(&b), 0);
    slim_wire_free(m);
    slim_buf_cleanup(&b);
    return st;
}

static pb_msg *decode(const slim_buf *b) {
    return controller__proto__v1__control_message__unpack(NULL, b->len, b->data);
}

/* Packs m and hands it to the core. */
static slim_status handle(pb_msg *m) {
    size_t n = controller__proto__v1__control_message__get_packed_size(m);
    uint8_t *p = malloc(n ? n : 1);
    controller__proto__v1__control_message__pack(m, p);
    slim_status st =
        slim_agent_core_handle(core, slim_bytes_of(p, n), now_ms, unix_s, t_reply, NULL);
    free(p);
    return st;
}

static pb_sub mk_sub(const char *c0, const char *c1, const char *c2, const char *id,
                     const char *conn) {
    pb_sub s = CONTROLLER__PROTO__V1__SUBSCRIPTION__INIT;
    s.component_0 = (char *)c0;
    s.component_1 = (char *)c1;
    s.component_2 = (char *)c2;
    s.connection_id = (char *)conn;
    if (id != NULL) {
        s._id_case = CONTROLLER__PROTO__V1__SUBSCRIPTION___ID_ID;
        s.id = (char *)id;
    }
    return s;
}

static slim_status command(pb_conn **create, size_t nc, pb_sub **set, size_t ns, pb_sub **del,
                           size_t nd, char **cdel, size_t ncd) {
    Controller__Proto__V1__ConfigurationCommand cmd =
        CONTROLLER__PROTO__V1__CONFIGURATION_COMMAND__INIT;
    cmd.n_connections_to_create = nc;
    cmd.connections_to_create = create;
    cmd.n_subscriptions_to_set = ns;
    cmd.subscriptions_to_set = set;
    cmd.n_subscriptions_to_delete = nd;
    cmd.subscriptions_to_delete = del;
    cmd.n_connections_to_delete = ncd;
    cmd.connections_to_delete = cdel;
    pb_msg m = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    m.message_id = "cmd-1";
    m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND;
    m.config_command = &cmd;
    return handle(&m);
}

/* The config_command_ack of replies[i]; NULL when it is not one. */
static pb_msg *ack_at(int i) {
    pb_msg *m = i < nreplies ? decode(&replies[i]) : NULL;
    if (m != NULL &&
        m->payload_case != CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND_ACK) {
        controller__proto__v1__control_message__free_unpacked(m, NULL);
        return NULL;
    }
    return m;
}

#define STATUS_IS(st, want_id, want_ok)                                                            \
    do {                                                                                           \
        CHECK_STR((st)->id, want_id);                                                              \
        CHECK_EQ((st)->success, want_ok);                                                          \
        if (want_ok)                                                                               \
            CHECK_STR((st)->error_msg, "");                                                        \
        else                                                                                       \
            CHECK((st)->error_msg[0] != '\0');                                                     \
    } while (0)

static bool static_sub(uint64_t conn, const char *text) {
    slim_name n;
    slim_name_parse(text, strlen(text), &n, NULL);
    const uint64_t *r;
    size_t k;
    slim_router_reasons(slim_fwd_router(fwd), conn, &n, &r, &k);
    for (size_t i = 0; i < k; i++)
        if (r[i] == SLIM_FWD_STATIC_REASON)
            return true;
    return false;
}

/* ---- cases ---- */

TEST(registration) {
    if (!setup())
        return;
    CHECK_OK(slim_fwd_conn_open(fwd, 1, SLIM_FWD_LOCAL, NULL));
    CHECK_OK(app_sub(1, "org/ns/alice", true, false));
    CHECK_OK(app_sub(1, "org/ns/bob/2a", true, false));
    CHECK_OK(app_sub(1, "org/ns/hidden", false, false)); /* no text: not registered */
    reset_out();
    slim_buf b = SLIM_BUF_INIT;
    CHECK_OK(slim_agent_core_register(core, &b));
    pb_msg *m = decode(&b);
    CHECK(m != NULL &&
          m->payload_case == CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_REGISTER_NODE_REQUEST);
    if (m != NULL && m->register_node_request != NULL) {
        const Controller__Proto__V1__RegisterNodeRequest *r = m->register_node_request;
        CHECK_EQ(strlen(m->message_id), 36);
        CHECK_STR(r->node_id, "slim/0");
        CHECK_STR(r->group_name, "g");
        CHECK_EQ(r->n_connection_details, 2);
        if (r->n_connection_details == 2) {
            const Controller__Proto__V1__ConnectionDetails *d = r->connection_details[0];
            CHECK_STR(d->endpoint, "0.0.0.0:46357");
            CHECK(!d->mtls_required);
            CHECK_STR(d->local_endpoint, "10.0.0.5");
            CHECK_STR(d->group_name, "blue");
            CHECK_EQ(d->_external_endpoint_case, 0);
            CHECK(r->connection_details[1]->mtls_required);
        }
        CHECK_EQ(r->n_subscriptions, 2);
        for (size_t i = 0; i < r->n_subscriptions; i++) {
            const pb_sub *s = r->subscriptions[i];
            CHECK_STR(s->connection_id, "n/a");
            CHECK_STR(s->component_0, "org");
            if (strcmp(s->component_2, "bob") == 0)
                CHECK_STR(s->id, "00000000-0000-0000-0000-00000000002a");
            else
                CHECK_EQ(s->_id_case, 0);
        }
    }
    controller__proto__v1__control_message__free_unpacked(m, NULL);
    slim_buf_cleanup(&b);
    teardown();
}

TEST(reports_follow_the_applications) {
    if (!setup())
        return;
    CHECK_OK(slim_fwd_conn_open(fwd, 1, SLIM_FWD_LOCAL, NULL));
    CHECK_OK(slim_fwd_conn_open(fwd, 2, SLIM_FWD_LOCAL, NULL));
    CHECK_OK(app_sub(1, "org/ns/alice", true, false));
    CHECK_EQ(nreports, 1);
    pb_msg *m = nreports > 0 ? decode(&reports[0]) : NULL;
    CHECK(m != NULL &&
          m->payload_case == CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND);
    if (m != NULL && m->config_command != NULL) {
        CHECK_EQ(m->config_command->n_subscriptions_to_set, 1);
        CHECK_EQ(m->config_command->n_subscriptions_to_delete, 0);
        if (m->config_command->n_subscriptions_to_set == 1) {
            const pb_sub *s = m->config_command->subscriptions_to_set[0];
            CHECK_STR(s->component_2, "alice");
            CHECK_STR(s->connection_id, "n/a");
            CHECK_EQ(s->_id_case, 0);
        }
    }
    controller__proto__v1__control_message__free_unpacked(m, NULL);
    /* a second holder, and a name without text: nothing */
    CHECK_OK(app_sub(2, "org/ns/alice", true, false));
    CHECK_OK(app_sub(2, "org/ns/notext", false, false));
    CHECK_EQ(nreports, 1);
    CHECK_OK(app_sub(1, "org/ns/alice", true, true));
    CHECK_EQ(nreports, 1);
    /* the last holder leaves */
    slim_fwd_conn_close(fwd, 2);
    CHECK_EQ(nreports, 2);
    m = nreports > 1 ? decode(&reports[1]) : NULL;
    CHECK(m != NULL && m->config_command != NULL &&
          m->config_command->n_subscriptions_to_delete == 1 &&
          m->config_command->n_subscriptions_to_set == 0);
    if (m != NULL && m->config_command != NULL && m->config_command->n_subscriptions_to_delete == 1)
        CHECK_STR(m->config_command->subscriptions_to_delete[0]->component_2, "alice");
    controller__proto__v1__control_message__free_unpacked(m, NULL);
    teardown();
}

TEST(config_command_items) {
    if (!setup())
        return;
    pb_conn good = CONTROLLER__PROTO__V1__CONNECTION__INIT, dup = good, bad = good, subst = good,
            named = good;
    good.config_data = "{\"endpoint\": \"http://10.0.0.2:46357\", \"connection_type\": \"edge\"}";
    dup.config_data = "{\"endpoint\": \"http://10.0.0.2:46357\"}"; /* same key: left alone */
    bad.connection_id = "bad";
    bad.config_data = "{\"endpoint\": 3, ";
    subst.connection_id = "subst";
    subst.config_data = "{\"endpoint\": \"${env:HOME}\"}";
    named.connection_id = "n2";
    named.config_data = "{\"endpoint\": \"http://10.0.0.3:46357\"}";
    pb_conn *create[] = {&good, &dup, &bad, &subst, &named};
    const char *ep = "http://10.0.0.2:46357";
    pb_sub s_ok = mk_sub("org", "ns", "bob", NULL, ep);
    pb_sub s_dec = mk_sub("org", "ns", "bob", "42", ep);
    pb_sub s_unknown = mk_sub("org", "ns", "x", NULL, "nowhere");
    pb_sub s_empty = mk_sub("org", "", "x", NULL, ep);
    pb_sub s_badid = mk_sub("org", "ns", "x", "0x12", ep);
    pb_sub s_uuid = mk_sub("org", "ns", "carol", "0195C1A4-0000-0000-0000-000000000001", "n2");
    pb_sub *set[] = {&s_ok, &s_dec, &s_unknown, &s_empty, &s_badid, &s_uuid};
    pb_sub d_absent = mk_sub("org", "ns", "absent", NULL, ep);
    pb_sub d_noconn = mk_sub("org", "ns", "absent", NULL, "nowhere");
    pb_sub *del[] = {&d_absent, &d_noconn};
    char *cdel[] = {"never-made"};
    CHECK_OK(command(create, 5, set, 6, del, 2, cdel, 1));
    CHECK_EQ(nreplies, 1);
    pb_msg *m = ack_at(0);
    CHECK(m != NULL);
    if (m != NULL) {
        const Controller__Proto__V1__ConfigurationCommandAck *a = m->config_command_ack;
        CHECK_STR(a->original_message_id, "cmd-1");
        CHECK_EQ(a->n_connections_status, 5);
        CHECK_EQ(a->n_subscriptions_status, 8);
        CHECK_EQ(a->n_deletions_status, 1);
        if (a->n_connections_status == 5 && a->n_subscriptions_status == 8 &&
            a->n_deletions_status == 1) {
            STATUS_IS(a->connections_status[0], ep, true);
            STATUS_IS(a->connections_status[1], ep, true);
            STATUS_IS(a->connections_status[2], "bad", false);
            CHECK(strstr(a->connections_status[2]->error_msg, "malformed config_data") != NULL);
            STATUS_IS(a->connections_status[3], "subst", false);
            CHECK(strstr(a->connections_status[3]->error_msg, "substitution") != NULL);
            STATUS_IS(a->connections_status[4], "n2", true);
            char want[200];
            snprintf(want, sizeof want, "org/ns/bob via %s", ep);
            STATUS_IS(a->subscriptions_status[0], want, true);
            snprintf(want, sizeof want, "org/ns/bob/00000000-0000-0000-0000-00000000002a via %s",
                     ep);
            STATUS_IS(a->subscriptions_status[1], want, true);
            STATUS_IS(a->subscriptions_status[2], "org/ns/x via nowhere", false);
            CHECK_STR(a->subscriptions_status[2]->error_msg, "unknown connection \"nowhere\"");
            CHECK_EQ(a->subscriptions_status[3]->success, false);
            CHECK(strstr(a->subscriptions_status[3]->error_msg, "bad name") != NULL);
            CHECK_EQ(a->subscriptions_status[4]->success, false);
            CHECK(strstr(a->subscriptions_status[4]->error_msg, "bad id") != NULL);
            STATUS_IS(a->subscriptions_status[5],
                      "org/ns/carol/0195c1a4-0000-0000-0000-000000000001 via n2", true);
            snprintf(want, sizeof want, "org/ns/absent via %s", ep);
            STATUS_IS(a->subscriptions_status[6], want, true); /* not there: fine */
            STATUS_IS(a->subscriptions_status[7], "org/ns/absent via nowhere", true);
            STATUS_IS(a->deletions_status[0], "never-made", true);
        }
    }
    controller__proto__v1__control_message__free_unpacked(m, NULL);
    CHECK_EQ(nlinks, 2);
    CHECK_STR(links[0].endpoint, ep);
    CHECK_EQ(links[0].type, SLIM_LINK_TYPE_EDGE);
    CHECK_STR(links[1].endpoint, "http://10.0.0.3:46357");
    CHECK_EQ(slim_agent_core_connections(core), 2);

    /* The link comes up: its static subscriptions are installed. */
    CHECK_OK(slim_fwd_conn_open(fwd, 50, SLIM_FWD_DIALLED, "l50"));
    links[0].conn = 50;
    CHECK(!static_sub(50, "org/ns/bob"));
    slim_agent_core_link_up(core, &links[0], 50);
    CHECK(static_sub(50, "org/ns/bob"));
    CHECK(static_sub(50, "org/ns/bob/2a"));
    /* A subscription set while the link is up is installed at once. */
    reset_out();
    pb_sub s_new = mk_sub("org", "ns", "dave", NULL, ep);
    pb_sub *set2[] = {&s_new};
    CHECK_OK(command(NULL, 0, set2, 1, NULL, 0, NULL, 0));
    CHECK(static_sub(50, "org/ns/dave"));
    /* Its stream ends (the forwarder forgets) and a new one comes up. */
    slim_fwd_conn_close(fwd, 50);
    CHECK_OK(slim_fwd_conn_open(fwd, 50, SLIM_FWD_DIALLED, "l50b"));
    slim_agent_core_link_up(core, &links[0], 50);
    CHECK(static_sub(50, "org/ns/bob") && static_sub(50, "org/ns/dave"));
    /* Deleting a subscription removes it; deleting the connection closes
     * the link and removes the rest. */
    reset_out();
    pb_sub *del2[] = {&s_new};
    CHECK_OK(command(NULL, 0, NULL, 0, del2, 1, NULL, 0));
    CHECK(!static_sub(50, "org/ns/dave"));
    CHECK(static_sub(50, "org/ns/bob"));
    char *cdel2[] = {(char *)ep};
    CHECK_OK(command(NULL, 0, NULL, 0, NULL, 0, cdel2, 1));
    CHECK(links[0].closed);
    CHECK(!links[1].closed);
    CHECK(!static_sub(50, "org/ns/bob"));
    CHECK(!static_sub(50, "org/ns/bob/2a"));
    CHECK_EQ(slim_agent_core_connections(core), 1);
    /* A dial that fails fails its item. */
    reset_out();
    dial_result = SLIM_E_TLS_CONFIG;
    CHECK_OK(command(create, 1, NULL, 0, NULL, 0, NULL, 0));
    m = ack_at(0);
    CHECK(m != NULL && m->config_command_ack->n_connections_status == 1 &&
          !m->config_command_ack->connections_status[0]->success);
    controller__proto__v1__control_message__free_unpacked(m, NULL);
    slim_fwd_conn_close(fwd, 50);
    teardown();
    CHECK(links[1].closed); /* freeing the core closes its links */
}

/* Sends a list request; returns the entries of every chunk through
 * replies[] (checked for the request id and done on the last only). */
static slim_status send_list(Controller__Proto__V1__ControlMessage__PayloadCase req) {
    reset_out();
    pb_msg m = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    Controller__Proto__V1__SubscriptionListRequest sr =
        CONTROLLER__PROTO__V1__SUBSCRIPTION_LIST_REQUEST__INIT;
    Controller__Proto__V1__ConnectionListRequest cr =
        CONTROLLER__PROTO__V1__CONNECTION_LIST_REQUEST__INIT;
    m.message_id = "list-1";
    m.payload_case = req;
    if (req == CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_REQUEST)
        m.subscription_list_request = &sr;
    else
        m.connection_list_request = &cr;
    return handle(&m);
}

static size_t list(Controller__Proto__V1__ControlMessage__PayloadCase req, int *chunks) {
    CHECK_OK(send_list(req));
    size_t total = 0;
    *chunks = nreplies;
    for (int i = 0; i < nreplies; i++) {
        pb_msg *r = decode(&replies[i]);
        if (r == NULL) {
            TEST_FAIL_AT("reply %d undecodable", i);
            continue;
        }
        if (r->payload_case ==
            CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_RESPONSE) {
            CHECK_STR(r->subscription_list_response->original_message_id, "list-1");
            CHECK_EQ(r->subscription_list_response->done, i == nreplies - 1);
            CHECK(r->subscription_list_response->n_entries <= SLIM_AGENT_LIST_CHUNK);
            total += r->subscription_list_response->n_entries;
        } else if (r->payload_case ==
                   CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONNECTION_LIST_RESPONSE) {
            CHECK_STR(r->connection_list_response->original_message_id, "list-1");
            CHECK_EQ(r->connection_list_response->done, i == nreplies - 1);
            total += r->connection_list_response->n_entries;
        } else {
            TEST_FAIL_AT("reply %d: payload %d", i, (int)r->payload_case);
        }
        controller__proto__v1__control_message__free_unpacked(r, NULL);
    }
    return total;
}

TEST(lists_in_chunks) {
    if (!setup())
        return;
    int chunks = 0;
    /* empty tables: one empty chunk, done */
    CHECK_EQ(
        list(CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_REQUEST, &chunks),
        0);
    CHECK_EQ(chunks, 1);
    CHECK_OK(slim_fwd_conn_open(fwd, 1, SLIM_FWD_LOCAL, NULL));
    CHECK_OK(slim_fwd_conn_open(fwd, 2, SLIM_FWD_LOCAL, NULL));
    for (int i = 0; i < 150; i++) {
        char n[32];
        snprintf(n, sizeof n, "org/ns/s%d", i);
        CHECK_OK(app_sub(1, n, true, false));
    }
    CHECK_OK(app_sub(2, "org/ns/s0", true, false));
    CHECK_OK(app_sub(2, "org/ns/raw", false, false)); /* listed by its hashes */
    /* a controller connection with a stream and a static subscription */
    pb_conn good = CONTROLLER__PROTO__V1__CONNECTION__INIT;
    good.connection_id = "peer-b";
    good.config_data = "{\"endpoint\": \"http://10.0.0.2:46357\"}";
    pb_conn *create[] = {&good};
    pb_sub s = mk_sub("org", "ns", "remote", NULL, "peer-b");
    pb_sub *set[] = {&s};
    CHECK_OK(command(create, 1, set, 1, NULL, 0, NULL, 0));
    CHECK_OK(slim_fwd_conn_open(fwd, 7, SLIM_FWD_DIALLED, "l7"));
    links[0].conn = 7;
    slim_agent_core_link_up(core, &links[0], 7);
    CHECK_EQ(
        list(CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_REQUEST, &chunks),
        152);
    CHECK_EQ(chunks, 2);
    /* the entries themselves */
    bool saw_s0 = false, saw_remote = false, saw_raw = false;
    for (int i = 0; i < nreplies; i++) {
        pb_msg *r = decode(&replies[i]);
        for (size_t k = 0; r != NULL && k < r->subscription_list_response->n_entries; k++) {
            const Controller__Proto__V1__SubscriptionEntry *e =
                r->subscription_list_response->entries[k];
            if (strcmp(e->component_2, "s0") == 0) {
                saw_s0 = true;
                CHECK_EQ(e->n_local_connections, 2);
                CHECK_EQ(e->n_remote_connections, 0);
                if (e->n_local_connections == 2) {
                    const char *p0 = e->local_connections[0]->peer;
                    const char *p1 = e->local_connections[1]->peer;
                    CHECK(
                        (strcmp(p0, "127.0.0.1:5001") == 0 && strcmp(p1, "127.0.0.1:5002") == 0) ||
                        (strcmp(p1, "127.0.0.1:5001") == 0 && strcmp(p0, "127.0.0.1:5002") == 0));
                }
            } else if (strcmp(e->component_2, "remote") == 0) {
                saw_remote = true;
                CHECK_EQ(e->n_remote_connections, 1);
                if (e->n_remote_connections == 1) {
                    CHECK_U64(e->remote_connections[0]->id, 7);
                    CHECK_STR(e->remote_connections[0]->connection_id, "peer-b");
                    CHECK_STR(e->remote_connections[0]->config_data, good.config_data);
                    CHECK_EQ(e->remote_connections[0]->connection_type,
                             CONTROLLER__PROTO__V1__CONNECTION_TYPE__CONNECTION_TYPE_REMOTE);
                }
            } else if (strlen(e->component_0) == 16) {
                saw_raw = true;
            }
        }
        controller__proto__v1__control_message__free_unpacked(r, NULL);
    }
    CHECK(saw_s0 && saw_remote && saw_raw);
    /* connections: the two applications and the link */
    CHECK_EQ(list(CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONNECTION_LIST_REQUEST, &chunks),
             3);
    CHECK_EQ(chunks, 1);
    pb_msg *r = nreplies > 0 ? decode(&replies[0]) : NULL;
    if (r != NULL && r->connection_list_response->n_entries == 3) {
        Controller__Proto__V1__ConnectionEntry **e = r->connection_list_response->entries;
        CHECK_U64(e[0]->id, 1);
        CHECK_EQ(e[0]->connection_type,
                 CONTROLLER__PROTO__V1__CONNECTION_TYPE__CONNECTION_TYPE_LOCAL);
        CHECK_STR(e[0]->config_data, "{}");
        CHECK_U64(e[2]->id, 7);
        CHECK_STR(e[2]->connection_id, "peer-b");
        CHECK_STR(e[2]->peer, "http://10.0.0.2:46357");
    }
    controller__proto__v1__control_message__free_unpacked(r, NULL);
    /* the link loses its stream: still listed, with id 0 */
    slim_fwd_conn_close(fwd, 7);
    links[0].conn = 0;
    CHECK_EQ(list(CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONNECTION_LIST_REQUEST, &chunks),
             3);
    teardown();
}

TEST(undecodable_and_unknown_messages) {
    if (!setup())
        return;
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    CHECK_STATUS(
        slim_agent_core_handle(core, slim_bytes_of(junk, sizeof junk), 0, 0, t_reply, NULL),
        SLIM_E_INVALID_ARG);
    pb_msg m = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    Controller__Proto__V1__RegisterNodeResponse rr =
        CONTROLLER__PROTO__V1__REGISTER_NODE_RESPONSE__INIT;
    m.message_id = "x";
    m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_REGISTER_NODE_RESPONSE;
    m.register_node_response = &rr;
    CHECK_OK(handle(&m));
    Controller__Proto__V1__Ack ack = CONTROLLER__PROTO__V1__ACK__INIT;
    char *why[] = {"nope"};
    ack.n_messages = 1;
    ack.messages = why;
    m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK;
    m.ack = &ack;
    CHECK_OK(handle(&m));
    CHECK_EQ(nreplies, 0);
    teardown();
}

/* ---- channels through the controller ---- */

/* A channel request (create_channel_request) with these moderators. */
static slim_status channel_req(const char *mid, char **mods, size_t n_mods, slim_buf *packed) {
    pb_msg m = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    Controller__Proto__V1__CreateChannelRequest r =
        CONTROLLER__PROTO__V1__CREATE_CHANNEL_REQUEST__INIT;
    m.message_id = (char *)mid;
    m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CREATE_CHANNEL_REQUEST;
    m.create_channel_request = &r;
    r.moderators = mods;
    r.n_moderators = n_mods;
    r.channel_name = "org/ns/chan";
    if (packed != NULL) {
        packed->len = 0;
        (void)slim_buf_reserve(packed, controller__proto__v1__control_message__get_packed_size(&m));
        packed->len = controller__proto__v1__control_message__pack(&m, packed->data);
    }
    return handle(&m);
}

/* The moderator's answer: a CONTROLLER_REPLY from `from` (text, with an
 * optional id) on connection conn, acking mid. */
static slim_status moderator_reply(uint64_t conn, const char *from, const char *mid, bool ok,
                                   const char *why) {
    slim_name src;
    slim_name_parts parts;
    CHECK_OK(slim_name_parse(from, strlen(from), &src, &parts));
    slim_wire_header_spec h = {.source = {&src, parts.component},
                               .destination = {slim_agent_core_controller_name(core), NULL},
                               .fanout = 1};
    slim_wire_session_spec ss = {
        .session_type = DATAPLANE__PROTO__V1__SESSION_TYPE__SESSION_TYPE_MULTICAST,
        .message_type =
            DATAPLANE__PROTO__V1__SESSION_MESSAGE_TYPE__SESSION_MESSAGE_TYPE_CONTROLLER_REPLY,
        .message_id = 1};
    pb_msg cm = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    Controller__Proto__V1__Ack ack = CONTROLLER__PROTO__V1__ACK__INIT;
    char *msgs[] = {(char *)why};
    cm.message_id = "answer";
    cm.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK;
    cm.ack = &ack;
    ack.original_message_id = (char *)mid;
    ack.success = ok;
    ack.messages = msgs;
    ack.n_messages = why != NULL;
    uint8_t blob[512];
    size_t n = controller__proto__v1__control_message__pack(&cm, blob);
    slim_msg *m = NULL;
    slim_buf b = SLIM_BUF_INIT;
    slim_status st = slim_wire_publish_new(&h, &ss, &m);
    if (st == SLIM_OK)
        st = slim_wire_set_app_payload(m, SLIM_AGENT_CONTROLLER_CONTENT_TYPE,
                                       slim_bytes_of(blob, n));
    if (st == SLIM_OK)
        st = slim_wire_encode(m, SIZE_MAX, &b);
    if (st == SLIM_OK)
        st = slim_fwd_input(fwd, conn, slim_buf_view(&b), now_ms);
    slim_wire_free(m);
    slim_buf_cleanup(&b);
    return st;
}

/* The ack of reply i. */
static void check_ack(int i, const char *mid, bool ok, const char *why) {
    CHECK(nreplies > i);
    if (nreplies <= i)
        return;
    pb_msg *m = decode(&replies[i]);
    CHECK(m != NULL && m->payload_case == CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK);
    if (m != NULL && m->ack != NULL) {
        CHECK_STR(m->ack->original_message_id, mid);
        CHECK_EQ(m->ack->success, ok);
        CHECK_EQ(m->ack->n_messages, why != NULL ? 1u : 0u);
        if (why != NULL && m->ack->n_messages == 1)
            CHECK_STR(m->ack->messages[0], why);
    }
    controller__proto__v1__control_message__free_unpacked(m, NULL);
}

static bool setup_chan(void) {
    if (!setup_with(&info_chan, &agent_ops_chan))
        return false;
    CHECK_OK(slim_fwd_conn_open(fwd, CTL_CONN, SLIM_FWD_LOCAL, NULL));
    CHECK_OK(slim_agent_core_attach(core, CTL_CONN));
    CHECK_OK(slim_fwd_conn_open(fwd, 5, SLIM_FWD_LOCAL, NULL)); /* the moderator */
    CHECK_OK(slim_fwd_conn_open(fwd, 6, SLIM_FWD_LOCAL, NULL)); /* another app */
    CHECK_OK(app_sub(5, "org/ns/mod", true, false));
    CHECK_OK(app_sub(6, "org/ns/other", true, false));
    return true;
}

TEST(channel_request_reaches_the_moderator) {
    if (!setup_chan())
        return;
    /* The controller's own name is neither reported nor registered. */
    CHECK_EQ(nreports, 2); /* mod and other */
    slim_buf reg = SLIM_BUF_INIT;
    CHECK_OK(slim_agent_core_register(core, &reg));
    pb_msg *r = decode(&reg);
    CHECK(r != NULL && r->register_node_request != NULL &&
          r->register_node_request->n_subscriptions == 2);
    controller__proto__v1__control_message__free_unpacked(r, NULL);
    slim_buf_cleanup(&reg);
    reset_out();

    char *mods[] = {"org/ns/mod"};
    slim_buf packed = SLIM_BUF_INIT;
    CHECK_OK(channel_req("req-1", mods, 1, &packed));
    CHECK_EQ(nreplies, 0);
    CHECK_EQ(slim_agent_core_pending(core), 1);
    CHECK_EQ(nsent[5], 1);
    slim_msg *m = NULL;
    CHECK_OK(slim_wire_decode(slim_buf_view(&sent[5]), SIZE_MAX, &m));
    uint32_t node_mid = 0;
    if (m != NULL && slim_wire_kind(m) == SLIM_MSG_PUBLISH) {
        const Dataplane__Proto__V1__Publish *p = m->publish;
        slim_name src, dst, want;
        slim_str t[3];
        CHECK_OK(slim_wire_name_get(p->header->source, &src));
        CHECK(slim_name_equal(&src, slim_agent_core_controller_name(core)));
        CHECK(!slim_id_is_any(src.id));
        CHECK(slim_wire_name_strings(p->header->source, t));
        CHECK(t[0].len == 10 && memcmp(t[0].ptr, "controller", 10) == 0);
        CHECK(t[2].len == 10 && memcmp(t[2].ptr, "controller", 10) == 0);
        CHECK_OK(slim_wire_name_get(p->header->destination, &dst));
        slim_name_parse("org/ns/mod", 10, &want, NULL);
        CHECK(slim_name_equal(&dst, &want));
        CHECK(slim_wire_name_strings(p->header->destination, t));
        CHECK(t[2].len == 3 && memcmp(t[2].ptr, "mod", 3) == 0);
        CHECK_EQ(p->header->fanout, 1);
        CHECK_EQ(p->session->session_type,
                 DATAPLANE__PROTO__V1__SESSION_TYPE__SESSION_TYPE_MULTICAST);
        CHECK_EQ(
            p->session->session_message_type,
            DATAPLANE__PROTO__V1__SESSION_MESSAGE_TYPE__SESSION_MESSAGE_TYPE_CONTROLLER_REQUEST);
        CHECK_EQ(p->session->session_id, 0);
        CHECK(p->session->message_id != 0);
        node_mid = p->session->message_id;
        CHECK(p->msg != NULL &&
              p->msg->content_type_case == DATAPLANE__PROTO__V1__CONTENT__CONTENT_TYPE_APP_PAYLOAD);
        if (p->msg != NULL && p->msg->app_payload != NULL) {
            CHECK_STR(p->msg->app_payload->payload_type, SLIM_AGENT_CONTROLLER_CONTENT_TYPE);
            CHECK_EQ(p->msg->app_payload->blob.len, packed.len);
            CHECK(p->msg->app_payload->blob.len == packed.len &&
                  memcmp(p->msg->app_payload->blob.data, packed.data, packed.len) == 0);
        }
        const char *tok = slim_wire_metadata_get(m, "SLIM_IDENTITY");
        CHECK(tok != NULL);
        slim_identity_verifier *v = NULL;
        CHECK_OK(slim_identity_verifier_new((slim_str){SECRET, strlen(SECRET)}, NULL, &v));
        slim_identity_claims cl;
        if (tok != NULL && v != NULL) {
            CHECK_OK(
                slim_identity_verifier_check_token(v, (slim_str){tok, strlen(tok)}, unix_s, &cl));
            CHECK(cl.subject.len > 11 && memcmp(cl.subject.ptr, "controller_", 11) == 0);
        }
        slim_identity_verifier_free(v);
    }
    CHECK(node_mid != 0);
    slim_wire_free(m);
    slim_buf_cleanup(&packed);

    /* The moderator answers (from its full name). */
    CHECK_OK(moderator_reply(5, "org/ns/mod/7", "req-1", true, "channel org/ns/chan created"));
    CHECK_EQ(nreplies, 1);
    check_ack(0, "req-1", true, "channel org/ns/chan created");
    CHECK_EQ(slim_agent_core_pending(core), 0);
    /* Again: no longer outstanding. */
    CHECK_OK(moderator_reply(5, "org/ns/mod/7", "req-1", true, NULL));
    CHECK_EQ(nreplies, 1);
    CHECK_EQ(slim_agent_core_dropped(core), 1);
    teardown();
}

TEST(channel_reply_from_another_name_is_ignored) {
    if (!setup_chan())
        return;
    reset_out();
    CHECK_OK(app_sub(5, "org/ns/mod/2a", true, false));
    char *mods[] = {"org/ns/mod/42"}; /* a decimal id: 0x2a */
    CHECK_OK(channel_req("req-2", mods, 1, NULL));
    CHECK_EQ(nsent[5], 1);
    CHECK_OK(moderator_reply(6, "org/ns/other/42", "req-2", true, NULL));
    CHECK_OK(moderator_reply(5, "org/ns/mod/43", "req-2", true, NULL));
    CHECK_OK(moderator_reply(5, "org/ns/mod/2a", "unknown", true, NULL));
    CHECK_EQ(nreplies, 0);
    CHECK_EQ(slim_agent_core_dropped(core), 3);
    CHECK_EQ(slim_agent_core_pending(core), 1);
    /* The timeout. */
    CHECK_EQ(slim_agent_core_expire(core, now_ms + 4999), now_ms + 5000);
    CHECK_EQ(nreplies, 0);
    CHECK_EQ(slim_agent_core_expire(core, now_ms + 5000), 0);
    check_ack(0, "req-2", false, "the moderator org/ns/mod/42 did not answer within 5 s");
    CHECK_EQ(slim_agent_core_pending(core), 0);
    /* 42 decimal is 0x2a: that instance's answer counts. */
    CHECK_OK(channel_req("req-3", mods, 1, NULL));
    CHECK_OK(moderator_reply(5, "org/ns/mod/2a", "req-3", false, "no channel org/ns/chan"));
    check_ack(1, "req-3", false, "no channel org/ns/chan");
    teardown();
}

TEST(channel_requests_refused_at_once) {
    if (!setup_chan())
        return;
    reset_out();
    char *nobody[] = {"org/ns/nobody"};
    CHECK_OK(channel_req("r1", nobody, 1, NULL));
    check_ack(0, "r1", false, "no route to org/ns/nobody");
    CHECK_OK(channel_req("r2", NULL, 0, NULL));
    check_ack(1, "r2", false, "no moderator given");
    char *bad[] = {"org/ns"};
    CHECK_OK(channel_req("r3", bad, 1, NULL));
    CHECK(nreplies == 3);
    char *badid[] = {"org/ns/mod/xyz"};
    CHECK_OK(channel_req("r4", badid, 1, NULL));
    CHECK(nreplies == 4);
    CHECK_EQ(slim_agent_core_pending(core), 0);
    CHECK_EQ(nsent[5], 0);
    teardown();

    /* No token_provider. */
    if (!setup_with(&info, &agent_ops_chan))
        return;
    CHECK_OK(slim_fwd_conn_open(fwd, CTL_CONN, SLIM_FWD_LOCAL, NULL));
    CHECK_OK(slim_agent_core_attach(core, CTL_CONN));
    char *mods[] = {"org/ns/mod"};
    CHECK_OK(channel_req("r5", mods, 1, NULL));
    check_ack(0, "r5", false,
              "the node has no controller.token_provider to sign controller requests with");
    teardown();
}

/* Every allocation of the handling failing in turn leaks nothing. */
static void oom_scenario(void) {
    if (!setup())
        return;
    (void)slim_fwd_conn_open(fwd, 1, SLIM_FWD_LOCAL, NULL);
    (void)app_sub(1, "org/ns/alice", true, false);
    slim_buf b = SLIM_BUF_INIT;
    (void)slim_agent_core_register(core, &b);
    slim_buf_cleanup(&b);
    pb_conn good = CONTROLLER__PROTO__V1__CONNECTION__INIT;
    good.connection_id = "peer-b";
    good.config_data = "{\"endpoint\": \"http://10.0.0.2:46357\"}";
    pb_conn *create[] = {&good};
    pb_sub s = mk_sub("org", "ns", "remote", "7", "peer-b");
    pb_sub *set[] = {&s};
    (void)command(create, 1, set, 1, NULL, 0, NULL, 0);
    if (nlinks > 0) {
        (void)slim_fwd_conn_open(fwd, 7, SLIM_FWD_DIALLED, "l7");
        links[0].conn = 7;
        slim_agent_core_link_up(core, &links[0], 7);
    }
    (void)send_list(CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_REQUEST);
    (void)send_list(CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONNECTION_LIST_REQUEST);
    pb_sub *del[] = {&s};
    char *cdel[] = {"peer-b"};
    (void)command(NULL, 0, NULL, 0, del, 1, cdel, 1);
    (void)app_sub(1, "org/ns/alice", true, true);
    teardown();
}

/* The same for channel requests: handed on, answered, timed out. */
static void oom_channels(void) {
    if (!setup_with(&info_chan, &agent_ops_chan))
        return;
    (void)slim_fwd_conn_open(fwd, CTL_CONN, SLIM_FWD_LOCAL, NULL);
    (void)slim_agent_core_attach(core, CTL_CONN);
    (void)slim_fwd_conn_open(fwd, 5, SLIM_FWD_LOCAL, NULL);
    (void)app_sub(5, "org/ns/mod", true, false);
    char *mods[] = {"org/ns/mod"};
    (void)channel_req("a", mods, 1, NULL);
    (void)moderator_reply(5, "org/ns/mod/7", "a", true, "done");
    (void)channel_req("b", mods, 1, NULL);
    (void)slim_agent_core_expire(core, now_ms + 60000);
    (void)channel_req("c", mods, 1, NULL); /* outstanding at the end */
    teardown();
}

TEST(allocation_failures_do_not_leak) {
    slim_log_level saved = slim_log_get_level();
    slim_log_set_level(SLIM_LOG_ERROR); /* every failed item logs a warning */
    test_alloc_sweep(oom_scenario, 20, 400);
    test_alloc_sweep(oom_channels, 20, 400);
    slim_log_set_level(saved);
}

TEST_MAIN(TEST_ENTRY(registration), TEST_ENTRY(reports_follow_the_applications),
          TEST_ENTRY(config_command_items), TEST_ENTRY(lists_in_chunks),
          TEST_ENTRY(undecodable_and_unknown_messages),
          TEST_ENTRY(channel_request_reaches_the_moderator),
          TEST_ENTRY(channel_reply_from_another_name_is_ignored),
          TEST_ENTRY(channel_requests_refused_at_once), TEST_ENTRY(allocation_failures_do_not_leak))
