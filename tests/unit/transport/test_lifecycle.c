/* Connection life in process, with short configured intervals: keepalive
 * pings (and the gRPC ping-policy floor), dead peers found within
 * interval + timeout, graceful shutdown and its drain deadline, idle and
 * age limits, connect and handshake timeouts, reconnection with backoff,
 * the hand-back of unwritten messages, and shared (rcbuf) sends. */
#include "fixture.h"

#include <stdio.h>

/* ---- Server side ---- */

typedef struct srv_state {
    slim_grpc_call *call; /* the last streaming call */
    bool pause;           /* pause streaming calls as they start */
    bool echo;
    int closes;
    slim_status last_status;
    bool last_local;
    char last_message[192];
    size_t last_unsent;
    size_t unsent_seen;
} srv_state;

static srv_state S;

static void echo_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)ud;
    slim_grpc_call_send(call, req);
    slim_grpc_call_finish(call, SLIM_OK, NULL, NULL);
}

static void stream_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)req;
    (void)ud;
    S.call = call;
    if (S.pause)
        slim_grpc_call_pause(call);
}

static void s_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    (void)data;
    if (S.echo)
        (void)slim_grpc_call_send(call, msg);
}

static void s_on_half_close(slim_grpc_call *call, void *data) {
    (void)data;
    slim_grpc_call_finish(call, SLIM_OK, NULL, NULL);
}

static void s_on_unsent(slim_grpc_call *call, slim_bytes msg, slim_rcbuf *rc, void *data) {
    (void)call;
    (void)msg;
    (void)rc;
    (void)data;
    S.unsent_seen++;
}

static void s_on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)data;
    if (S.call == call)
        S.call = NULL;
    S.closes++;
    S.last_status = res->status;
    S.last_local = res->local;
    S.last_unsent = res->unsent;
    snprintf(S.last_message, sizeof S.last_message, "%.*s", (int)res->message.len,
             res->message.ptr);
}

static const slim_grpc_method methods[] = {
    {"/l.T/Echo", SLIM_GRPC_UNARY, echo_on_call, {0}, NULL},
    {"/l.T/Bidi",
     SLIM_GRPC_BIDI_STREAMING,
     stream_on_call,
     {NULL, s_on_message, s_on_half_close, NULL, s_on_close, s_on_unsent},
     NULL},
};

static slim_grpc_server *srv;
static char addr[128];
static char target[160];

static void server_up_at(const slim_grpc_config *cfg, const char *where) {
    memset(&S, 0, sizeof S);
    S.echo = true;
    CHECK_OK(slim_grpc_server_new(&FX.loop, cfg, &srv));
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        CHECK_OK(slim_grpc_server_add_method(srv, &methods[i]));
    CHECK_OK(slim_grpc_server_listen(srv, where, addr, sizeof addr));
    snprintf(target, sizeof target, "http://%s", addr);
}

static void server_up(const slim_grpc_config *cfg) {
    server_up_at(cfg, "127.0.0.1:0");
}

static void server_down(void) {
    slim_grpc_server_free(srv);
    srv = NULL;
}

/* ---- Client side ---- */

typedef struct call_out {
    slim_grpc_call *call;
    unsigned messages;
    bool closed;
    slim_status status;
    bool local;
    char message[224];
    size_t unsent;
    /* hand-back */
    unsigned handed, first_handed, bad_handed, rc_handed;
    slim_rcbuf **rcs; /* expected rcbuf of message i, or NULL */
} call_out;

static void c_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    (void)call;
    (void)msg;
    ((call_out *)data)->messages++;
}

static void c_on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    call_out *o = data;
    o->closed = true;
    o->call = NULL;
    o->status = res->status;
    o->local = res->local;
    o->unsent = res->unsent;
    snprintf(o->message, sizeof o->message, "%.*s", (int)res->message.len, res->message.ptr);
}

/* Messages are "<i>:" + padding; handed-back ones must be consecutive. */
static void c_on_unsent(slim_grpc_call *call, slim_bytes msg, slim_rcbuf *rc, void *data) {
    (void)call;
    call_out *o = data;
    unsigned i = (unsigned)strtoul((const char *)msg.ptr, NULL, 10);
    if (o->handed == 0)
        o->first_handed = i;
    else if (i != o->first_handed + o->handed)
        o->bad_handed++;
    if (o->rcs != NULL) {
        if (rc != o->rcs[i])
            o->bad_handed++;
        o->rc_handed += rc != NULL;
    }
    o->handed++;
}

static const slim_grpc_call_cbs ccbs = {NULL, c_on_message, NULL, NULL, c_on_close, c_on_unsent};

static slim_grpc_call *open_bidi(slim_grpc_client *cli, call_out *o) {
    slim_grpc_call_opts opts = {"/l.T/Bidi", NULL, 0};
    CHECK_OK(slim_grpc_client_open(cli, &opts, &ccbs, o, &o->call));
    return o->call;
}

typedef struct unary_out {
    bool done;
    slim_status status;
} unary_out;

static void on_unary(const slim_grpc_result *res, slim_bytes resp, const slim_grpc_md *headers,
                     void *ud) {
    (void)resp;
    (void)headers;
    unary_out *o = ud;
    o->done = true;
    o->status = res->status;
}

static void unary_ok(slim_grpc_client *cli) {
    unary_out o = {0};
    slim_grpc_call_opts opts = {"/l.T/Echo", NULL, 0};
    CHECK_OK(slim_grpc_client_unary(cli, &opts, slim_bytes_of("hi", 2), on_unary, &o));
    FX_WAIT(o.done, 10000);
    CHECK_STATUS(o.status, SLIM_OK);
}

static slim_grpc_conn_stats cstats(slim_grpc_client *cli) {
    slim_grpc_conn_stats st;
    slim_grpc_client_stats(cli, &st);
    return st;
}

static slim_grpc_client *client_with(const slim_grpc_config *cfg, fx_states *st) {
    slim_client_config cc;
    fx_client_config(&cc, target);
    cc.backoff.max_attempts = UINT64_MAX;
    cc.backoff.interval_ms = 20;
    slim_grpc_client *cli;
    /* The keepalive of cc would replace cfg's: take cfg as it is. */
    slim_grpc_config c = *cfg;
    cc.keepalive.http2_keepalive_ms = c.keepalive_time_ms;
    cc.keepalive.timeout_ms = c.keepalive_timeout_ms;
    cc.keepalive.while_idle = c.keepalive_while_idle;
    CHECK_OK(slim_grpc_client_new_config(&FX.loop, &cc, &c, fx_on_state, st, &cli));
    return cli;
}

/* ---- A fake peer on raw libuv sockets: it speaks the first frames of
 * HTTP/2 and then neither reads nor answers. ---- */

typedef struct fake {
    uv_tcp_t listener;
    uv_tcp_t conn;
    bool listening, accepted, conn_open;
    bool send_settings;
    uv_write_t wreq;
    uv_connect_t creq;
    bool connected;
    char port[8];
} fake;

static const uint8_t empty_settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void fake_on_connection(uv_stream_t *l, int status) {
    fake *f = l->data;
    if (status < 0 || f->accepted)
        return;
    uv_tcp_init(l->loop, &f->conn);
    f->conn.data = f;
    CHECK_EQ(uv_accept(l, (uv_stream_t *)&f->conn), 0);
    f->accepted = f->conn_open = true;
    if (f->send_settings) {
        uv_buf_t b = uv_buf_init((char *)empty_settings, sizeof empty_settings);
        uv_write(&f->wreq, (uv_stream_t *)&f->conn, &b, 1, NULL);
    }
}

static void fake_listen(fake *f, bool send_settings) {
    memset(f, 0, sizeof *f);
    f->send_settings = send_settings;
    uv_tcp_init(&FX.loop, &f->listener);
    f->listening = true;
    f->listener.data = f;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    CHECK_EQ(uv_tcp_bind(&f->listener, (const struct sockaddr *)&sa, 0), 0);
    CHECK_EQ(uv_listen((uv_stream_t *)&f->listener, 8, fake_on_connection), 0);
    int len = sizeof sa;
    uv_tcp_getsockname(&f->listener, (struct sockaddr *)&sa, &len);
    snprintf(f->port, sizeof f->port, "%u", ntohs(sa.sin_port));
    snprintf(target, sizeof target, "http://127.0.0.1:%s", f->port);
}

static void fake_close(fake *f) {
    if (f->listening)
        uv_close((uv_handle_t *)&f->listener, NULL);
    if (f->conn_open)
        uv_close((uv_handle_t *)&f->conn, NULL);
}

static void fake_on_connect(uv_connect_t *req, int status) {
    fake *f = req->data;
    CHECK_EQ(status, 0);
    f->connected = true;
    static uv_buf_t b[2];
    b[0] = uv_buf_init((char *)preface, sizeof preface - 1);
    b[1] = uv_buf_init((char *)empty_settings, sizeof empty_settings);
    uv_write(&f->wreq, (uv_stream_t *)&f->conn, b, 2, NULL);
}

/* A client that sends the preface and SETTINGS, then goes silent. */
static void fake_connect(fake *f, const char *where) {
    memset(f, 0, sizeof *f);
    uv_tcp_init(&FX.loop, &f->conn);
    f->conn_open = true;
    struct sockaddr_in sa;
    char host[160];
    snprintf(host, sizeof host, "%s", where);
    char *colon = strrchr(host, ':');
    *colon = '\0';
    uv_ip4_addr(host, atoi(colon + 1), &sa);
    f->creq.data = f;
    CHECK_EQ(uv_tcp_connect(&f->creq, &f->conn, (const struct sockaddr *)&sa, fake_on_connect), 0);
}

/* ---- Keepalive ---- */

TEST(client_pings_while_a_call_is_open) {
    fx_up();
    slim_grpc_config scfg = {0};
    scfg.keepalive_time_ms = SLIM_GRPC_OFF; /* only the client pings here */
    server_up(&scfg);
    slim_grpc_config ccfg = {0};
    ccfg.keepalive_time_ms = 30;
    ccfg.keepalive_timeout_ms = 2000;
    ccfg.keepalive_min_interval_ms = SLIM_GRPC_OFF; /* our server has no ping policy */
    fx_states st = {0};
    slim_grpc_client *cli = client_with(&ccfg, &st);
    unary_ok(cli);
    fx_run_for(200);
    CHECK_EQ(cstats(cli).pings_sent, 0); /* no call open: no pings */
    call_out o = {0};
    open_bidi(cli, &o);
    fx_run_for(400);
    slim_grpc_conn_stats s = cstats(cli);
    CHECK_INT(s.pings_sent, >=, 5);
    CHECK_INT(s.ping_acks, >=, s.pings_sent - 1);
    CHECK(!o.closed);
    /* Data flowing: no pings needed. */
    uint64_t before = s.pings_sent;
    for (int i = 0; i < 20; i++) {
        CHECK_OK(slim_grpc_call_send(o.call, slim_bytes_of("tick", 4)));
        fx_run_for(10);
    }
    CHECK_INT(cstats(cli).pings_sent - before, <=, 2);
    slim_grpc_call_cancel(o.call);
    FX_WAIT(o.closed, 5000);
    before = cstats(cli).pings_sent;
    fx_run_for(200);
    CHECK_INT(cstats(cli).pings_sent - before, <=, 1); /* the call is gone */
    slim_grpc_client_free(cli);

    /* keep_alive_while_idle: pings without a call. */
    ccfg.keepalive_while_idle = true;
    cli = client_with(&ccfg, &st);
    unary_ok(cli);
    fx_run_for(300);
    CHECK_INT(cstats(cli).pings_sent, >=, 4);
    slim_grpc_client_free(cli);
    server_down();
    fx_down();
}

/* The floor: with a silent call, a client pings once and not again within
 * keepalive_min_interval_ms, unless the server sent data after the ACK. */
TEST(client_respects_the_ping_policy_floor) {
    fx_up();
    slim_grpc_config scfg = {0};
    scfg.keepalive_time_ms = SLIM_GRPC_OFF;
    server_up(&scfg);
    S.echo = false;
    slim_grpc_config ccfg = {0};
    ccfg.keepalive_time_ms = 20; /* the floor stays at its 5 min default */
    fx_states st = {0};
    slim_grpc_client *cli = client_with(&ccfg, &st);
    call_out o = {0};
    open_bidi(cli, &o);
    CHECK_OK(slim_grpc_call_send(o.call, slim_bytes_of("hello", 5)));
    FX_WAIT(S.call != NULL, 5000);
    fx_run_for(400);
    CHECK_EQ(cstats(cli).pings_sent, 1);
    CHECK_EQ(cstats(cli).ping_acks, 1);
    /* The server sends: its ping clock restarts, so one more ping may go. */
    CHECK_OK(slim_grpc_call_send(S.call, slim_bytes_of("data", 4)));
    FX_WAIT(o.messages == 1, 5000);
    FX_WAIT(cstats(cli).pings_sent == 2, 5000);
    fx_run_for(300);
    CHECK_EQ(cstats(cli).pings_sent, 2);
    slim_grpc_client_free(cli);
    server_down();
    fx_down();
}

TEST(dead_server_is_detected_within_interval_plus_timeout) {
    fx_up();
    fx_logs_capture();
    fake f;
    fake_listen(&f, true); /* sends SETTINGS, then never reads or answers */
    slim_grpc_config ccfg = {0};
    ccfg.keepalive_time_ms = 100;
    ccfg.keepalive_timeout_ms = 100;
    fx_states st = {0};
    slim_grpc_client *cli = client_with(&ccfg, &st);
    call_out o = {0};
    open_bidi(cli, &o);
    FX_WAIT(fx_find_state(&st, 0, SLIM_GRPC_READY) >= 0, 5000);
    FX_WAIT(o.closed && fx_find_state(&st, 0, SLIM_GRPC_TRANSIENT_FAILURE) >= 0, 5000);
    int r = fx_find_state(&st, 0, SLIM_GRPC_READY);
    int tf = fx_find_state(&st, r, SLIM_GRPC_TRANSIENT_FAILURE);
    CHECK(r >= 0 && tf > r);
    if (r >= 0 && tf > r) {
        CHECK_STATUS(st.why[tf], SLIM_E_TRANSPORT_KEEPALIVE);
        uint64_t took = st.at[tf] - st.at[r];
        CHECK_INT(took, >=, 190);       /* not before interval + timeout */
        CHECK_INT(took, <=, 200 + 250); /* and soon after, with room for a slow CI */
    }
    CHECK_STATUS(o.status, SLIM_E_GRPC_UNAVAILABLE);
    CHECK(strstr(o.message, "keepalive ping not acknowledged within 100 ms") != NULL);
    CHECK(fx_logs_have("keepalive ping not acknowledged"));
    slim_grpc_client_free(cli);
    fake_close(&f);
    fx_logs_release();
    fx_down();
}

TEST(dead_client_is_detected_by_the_server) {
    fx_up();
    fx_logs_capture();
    slim_grpc_config scfg = {0};
    scfg.keepalive_time_ms = 100;
    scfg.keepalive_timeout_ms = 100;
    server_up(&scfg);
    fake f;
    fake_connect(&f, addr);
    FX_WAIT(slim_grpc_server_connections(srv) == 1, 5000);
    uint64_t t0 = uv_now(&FX.loop);
    FX_WAIT(slim_grpc_server_connections(srv) == 0, 5000);
    uint64_t took = uv_now(&FX.loop) - t0;
    CHECK_INT(took, >=, 190);
    CHECK_INT(took, <=, 200 + 250);
    CHECK(fx_logs_have("keepalive ping not acknowledged within 100 ms"));
    fake_close(&f);
    server_down();
    fx_logs_release();
    fx_down();
}

/* ---- Timeouts while connecting ---- */

TEST(connect_and_handshake_timeouts) {
    fx_up();
    fake f;
    fake_listen(&f, false); /* accepts and says nothing */
    slim_client_config cc;
    fx_client_config(&cc, target);
    cc.connect_timeout_ms = 100;
    fx_states st = {0};
    slim_grpc_client *cli;
    CHECK_OK(slim_grpc_client_new_config(&FX.loop, &cc, NULL, fx_on_state, &st, &cli));
    FX_WAIT(fx_find_state(&st, 0, SLIM_GRPC_SHUTDOWN) >= 0, 5000);
    CHECK_STATUS(st.why[0], SLIM_E_TRANSPORT_TIMEOUT);
    CHECK(strstr(slim_grpc_client_why(cli), "connect timeout (100 ms)") != NULL);
    slim_grpc_client_free(cli);
    fake_close(&f);

    fake f2; /* f's handles are still closing */
    fake_listen(&f2, false);
    fx_client_config(&cc, target);
    slim_grpc_config base = {0};
    base.handshake_timeout_ms = 100;
    fx_states st2 = {0};
    CHECK_OK(slim_grpc_client_new_config(&FX.loop, &cc, &base, fx_on_state, &st2, &cli));
    FX_WAIT(fx_find_state(&st2, 0, SLIM_GRPC_SHUTDOWN) >= 0, 5000);
    CHECK_STATUS(st2.why[0], SLIM_E_TRANSPORT_TIMEOUT);
    CHECK(strstr(slim_grpc_client_why(cli), "no HTTP/2 SETTINGS from the peer within 100 ms") !=
          NULL);
    slim_grpc_client_free(cli);
    fake_close(&f2);
    fx_down();
}

/* ---- Graceful shutdown ---- */

static bool shutdown_done;
static uint64_t shutdown_done_at;

static void on_shutdown(slim_grpc_server *s, void *ud) {
    (void)s;
    (void)ud;
    shutdown_done = true;
    shutdown_done_at = uv_now(&FX.loop);
}

TEST(shutdown_flushes_queued_messages_then_ends_calls_with_unavailable) {
    fx_up();
    server_up(NULL);
    slim_client_config cc;
    fx_client_config(&cc, target);
    fx_states st = {0};
    slim_grpc_client *cli;
    CHECK_OK(slim_grpc_client_new_config(&FX.loop, &cc, NULL, fx_on_state, &st, &cli));
    call_out o = {0};
    open_bidi(cli, &o);
    CHECK_OK(slim_grpc_call_send(o.call, slim_bytes_of("go", 2)));
    FX_WAIT(S.call != NULL && o.messages == 1, 5000);
    uint8_t m[1024];
    memset(m, 'q', sizeof m);
    for (int i = 0; i < 200; i++)
        CHECK_OK(slim_grpc_call_send(S.call, slim_bytes_of(m, sizeof m)));
    shutdown_done = false;
    slim_grpc_server_shutdown(srv, 5000, on_shutdown, NULL);
    /* A call opened now races the GOAWAY and is refused, never started. */
    call_out late = {0};
    open_bidi(cli, &late);
    FX_WAIT(o.closed && late.closed && shutdown_done, 10000);
    CHECK_EQ(o.messages, 201); /* everything queued before the shutdown */
    CHECK_STATUS(o.status, SLIM_E_GRPC_UNAVAILABLE);
    CHECK(!o.local); /* grpc-status 14 from the server */
    CHECK_STR(o.message, "server shutting down");
    CHECK_STATUS(late.status, SLIM_E_GRPC_UNAVAILABLE);
    CHECK(strstr(late.message, "the server sent GOAWAY") != NULL);
    CHECK_STATUS(S.last_status, SLIM_E_GRPC_UNAVAILABLE);
    CHECK_STR(S.last_message, "server shutting down");
    CHECK_EQ(S.last_unsent, 0);
    /* The client saw the GOAWAY, and the listener is gone. */
    int idle = fx_find_state(&st, 0, SLIM_GRPC_IDLE);
    CHECK(idle >= 0);
    if (idle >= 0)
        CHECK_STATUS(st.why[idle], SLIM_E_TRANSPORT_GOAWAY);
    FX_WAIT(fx_find_state(&st, 0, SLIM_GRPC_SHUTDOWN) >= 0, 5000);
    CHECK_EQ(slim_grpc_server_connections(srv), 0);
    char bound[64];
    CHECK_STATUS(slim_grpc_server_listen(srv, "127.0.0.1:0", bound, sizeof bound), SLIM_E_STATE);
    slim_grpc_client_free(cli);
    server_down();
    fx_down();
}

TEST(drain_deadline_resets_what_is_left) {
    fx_up();
    fx_logs_capture();
    server_up(NULL);
    slim_client_config cc;
    fx_client_config(&cc, target);
    slim_grpc_config ccfg = {0};
    ccfg.stream_window = 65535;
    slim_grpc_client *cli;
    CHECK_OK(slim_grpc_client_new_config(&FX.loop, &cc, &ccfg, NULL, NULL, &cli));
    call_out o = {0};
    open_bidi(cli, &o);
    slim_grpc_call_pause(o.call); /* the server's data cannot all go out */
    CHECK_OK(slim_grpc_call_send(o.call, slim_bytes_of("go", 2)));
    FX_WAIT(S.call != NULL, 5000);
    uint8_t m[10000];
    memset(m, 'z', sizeof m);
    for (int i = 0; i < 100; i++)
        CHECK_OK(slim_grpc_call_send(S.call, slim_bytes_of(m, sizeof m)));
    fx_run_for(50);
    shutdown_done = false;
    uint64_t t0 = uv_now(&FX.loop);
    slim_grpc_server_shutdown(srv, 200, on_shutdown, NULL);
    FX_WAIT(shutdown_done, 5000);
    CHECK_INT(shutdown_done_at - t0, >=, 195);
    CHECK_INT(shutdown_done_at - t0, <=, 200 + 250);
    CHECK_STATUS(S.last_status, SLIM_E_GRPC_UNAVAILABLE);
    CHECK(S.last_local);
    CHECK(strstr(S.last_message, "server shutting down: drain timeout, 1 call(s) reset") != NULL);
    CHECK_INT(S.last_unsent, >, 80); /* at most the 64 KiB window went out */
    CHECK_EQ(S.unsent_seen, S.last_unsent);
    CHECK(fx_logs_have("drain timeout, resetting call /l.T/Bidi"));
    FX_WAIT(o.closed, 5000); /* the connection was closed under it */
    CHECK_STATUS(o.status, SLIM_E_GRPC_UNAVAILABLE);
    slim_grpc_client_free(cli);
    server_down();
    fx_logs_release();
    fx_down();
}

/* ---- Idle and age limits ---- */

TEST(idle_connection_gets_goaway_and_the_client_reconnects) {
    fx_up();
    slim_grpc_config scfg = {0};
    scfg.max_connection_idle_ms = 100;
    server_up(&scfg);
    slim_grpc_config ccfg = {0};
    fx_states st = {0};
    slim_grpc_client *cli = client_with(&ccfg, &st);
    unary_ok(cli);
    FX_WAIT(fx_find_state(&st, 0, SLIM_GRPC_IDLE) >= 0, 5000);
    int idle = fx_find_state(&st, 0, SLIM_GRPC_IDLE);
    if (idle >= 0)
        CHECK_STATUS(st.why[idle], SLIM_E_TRANSPORT_GOAWAY);
    FX_WAIT(fx_find_state(&st, idle + 1, SLIM_GRPC_READY) >= 0, 5000);
    unary_ok(cli); /* on the new connection */
    slim_grpc_client_free(cli);
    server_down();
    fx_down();
}

TEST(max_age_sends_goaway_keeps_calls_for_the_grace_then_resets) {
    fx_up();
    slim_grpc_config scfg = {0};
    scfg.max_connection_age_ms = 150;
    scfg.max_connection_age_grace_ms = 300;
    scfg.max_connection_idle_ms = SLIM_GRPC_OFF;
    server_up(&scfg);
    slim_grpc_config ccfg = {0};
    fx_states st = {0};
    slim_grpc_client *cli = client_with(&ccfg, &st);
    call_out o = {0};
    open_bidi(cli, &o);
    CHECK_OK(slim_grpc_call_send(o.call, slim_bytes_of("1", 1)));
    FX_WAIT(o.messages == 1, 5000);
    FX_WAIT(fx_find_state(&st, 0, SLIM_GRPC_IDLE) >= 0, 5000);
    int idle = fx_find_state(&st, 0, SLIM_GRPC_IDLE);
    uint64_t goaway_at = idle >= 0 ? st.at[idle] : 0;
    /* During the grace the call still works, on the old connection. */
    CHECK_OK(slim_grpc_call_send(o.call, slim_bytes_of("2", 1)));
    FX_WAIT(o.messages == 2, 5000);
    CHECK(!o.closed);
    FX_WAIT(o.closed, 5000);
    CHECK_STATUS(o.status, SLIM_E_GRPC_UNAVAILABLE);
    uint64_t grace = uv_now(&FX.loop) - goaway_at;
    CHECK_INT(grace, >=, 280);
    CHECK_INT(grace, <=, 300 + 250);
    CHECK(strstr(S.last_message, "max connection age reached") != NULL);
    /* New calls went to a new connection meanwhile. */
    CHECK(fx_find_state(&st, idle, SLIM_GRPC_READY) > idle);
    slim_grpc_client_free(cli);
    server_down();
    fx_down();
}

/* ---- Reconnection ---- */

TEST(exponential_backoff_between_attempts_then_shutdown) {
    fx_up();
    fake f;
    fake_listen(&f, false);
    fake_close(&f); /* a port nobody listens on any more */
    fx_run_for(1);
    slim_client_config cc;
    fx_client_config(&cc, target);
    cc.backoff = (slim_backoff_config){SLIM_BACKOFF_EXPONENTIAL, 2, 25, 400, false, 0, 3};
    fx_states st = {0};
    slim_grpc_client *cli;
    CHECK_OK(slim_grpc_client_new_config(&FX.loop, &cc, NULL, fx_on_state, &st, &cli));
    FX_WAIT(fx_find_state(&st, 0, SLIM_GRPC_SHUTDOWN) >= 0, 5000);
    /* TF, (CONNECTING, TF) twice, CONNECTING, SHUTDOWN: 1 + 3 attempts. */
    CHECK_EQ(st.n, 3 * 2 + 1); /* the last failure goes straight to SHUTDOWN */
    const uint64_t delays[3] = {50, 100, 200};
    for (int k = 0; k < 3 && st.n == 7; k++) {
        int tf = k * 2, next = k * 2 + 1;
        CHECK_EQ(st.st[tf], SLIM_GRPC_TRANSIENT_FAILURE);
        CHECK_STATUS(st.why[tf], SLIM_E_TRANSPORT_CONNECT);
        CHECK_EQ(st.st[next], SLIM_GRPC_CONNECTING);
        CHECK_INT(st.at[next] - st.at[tf], >=, delays[k] - 1);
        CHECK_INT(st.at[next] - st.at[tf], <=, delays[k] + 150);
    }
    if (st.n == 7)
        CHECK_STATUS(st.why[6], SLIM_E_TRANSPORT_CONNECT);
    slim_grpc_call_opts opts = {"/l.T/Echo", NULL, 0};
    call_out o = {0};
    CHECK_STATUS(slim_grpc_client_open(cli, &opts, &ccbs, &o, &o.call), SLIM_E_CLOSED);
    slim_grpc_client_free(cli);
    fx_down();
}

TEST(reconnects_when_the_server_comes_back) {
    fx_up();
    server_up(NULL);
    char where[128];
    snprintf(where, sizeof where, "%s", addr);
    slim_grpc_config ccfg = {0};
    fx_states st = {0};
    slim_grpc_client *cli = client_with(&ccfg, &st); /* every 20 ms, forever */
    unary_ok(cli);
    server_down();
    FX_WAIT(fx_find_state(&st, 0, SLIM_GRPC_TRANSIENT_FAILURE) >= 0, 5000);
    fx_run_for(100); /* a few failed attempts */
    int failures = 0;
    for (int i = 0; i < st.n; i++)
        failures += st.st[i] == SLIM_GRPC_TRANSIENT_FAILURE;
    CHECK_INT(failures, >=, 2);
    server_up_at(NULL, where); /* the same port again */
    int r = fx_find_state(&st, 0, SLIM_GRPC_READY);
    FX_WAIT(fx_find_state(&st, r + 1, SLIM_GRPC_READY) > r, 5000);
    unary_ok(cli);
    slim_grpc_client_free(cli);
    server_down();
    fx_down();
}

/* ---- Unwritten messages come back ---- */

TEST(unwritten_messages_are_handed_back_when_the_connection_drops) {
    fx_up();
    slim_grpc_config scfg = {0};
    scfg.stream_window = 65535;
    server_up(&scfg);
    S.pause = true; /* the server never reads: its window fills */
    slim_grpc_config ccfg = {0};
    fx_states st = {0};
    slim_grpc_client *cli = client_with(&ccfg, &st);
    enum { N = 400 };
    static slim_rcbuf *rcs[N];
    call_out o = {0};
    o.rcs = rcs;
    open_bidi(cli, &o);
    uint8_t m[1000];
    for (unsigned i = 0; i < N; i++) {
        memset(m, 'p', sizeof m);
        int n = snprintf((char *)m, 16, "%u:", i);
        m[n] = 'p';
        if (i % 2) {
            rcs[i] = slim_rcbuf_copy(m, sizeof m);
            CHECK_OK(slim_grpc_call_send_rc(o.call, rcs[i]));
        } else {
            rcs[i] = NULL;
            CHECK_OK(slim_grpc_call_send(o.call, slim_bytes_of(m, sizeof m)));
        }
    }
    FX_WAIT(S.call != NULL, 5000);
    fx_run_for(100); /* the window's worth goes out, the rest waits */
    size_t queued = slim_grpc_call_send_queued(o.call);
    CHECK_INT(queued, >, 300 * 1005);
    server_down(); /* the connection drops */
    FX_WAIT(o.closed, 5000);
    CHECK_STATUS(o.status, SLIM_E_GRPC_UNAVAILABLE);
    CHECK_EQ(o.bad_handed, 0);
    CHECK_EQ(o.unsent, o.handed);
    CHECK_EQ(o.first_handed + o.handed, N); /* a suffix, up to the last */
    CHECK_INT(o.handed, >=, queued / 1005);
    CHECK_INT(o.first_handed, >, 0); /* the window's worth was written */
    unsigned rc_want = 0;
    for (unsigned i = o.first_handed; i < N; i++)
        rc_want += rcs[i] != NULL;
    CHECK_EQ(o.rc_handed, rc_want);
    for (unsigned i = 0; i < N; i++) {
        if (rcs[i] != NULL) {
            CHECK_EQ(atomic_load(&rcs[i]->refs), 1); /* the transport let go */
            slim_rcbuf_unref(rcs[i]);
        }
    }
    slim_grpc_client_free(cli);
    fx_down();
}

/* ---- Shared sends ---- */

typedef struct counting {
    unsigned got, same;
    const slim_rcbuf *want;
    bool writable;
} counting;

static void k_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    (void)call;
    counting *k = data;
    k->got++;
    if (msg.len == k->want->len && memcmp(msg.ptr, k->want->data, msg.len) == 0)
        k->same++;
}

static void k_on_writable(slim_grpc_call *call, void *data) {
    (void)call;
    ((counting *)data)->writable = true;
}

TEST(one_shared_buffer_on_many_calls_with_the_same_limits) {
    fx_up();
    server_up(NULL);
    slim_grpc_config ccfg = {0};
    ccfg.send_queue_limit = 8000;
    ccfg.max_message_size = 4000;
    fx_states st = {0};
    slim_grpc_client *cli = client_with(&ccfg, &st);
    slim_rcbuf *rc = slim_rcbuf_new(1000);
    memset(rc->data, 'b', rc->len);
    static const slim_grpc_call_cbs kcbs = {NULL, k_on_message, NULL, k_on_writable, NULL, NULL};
    counting k[3];
    slim_grpc_call *calls[3];
    slim_grpc_call_opts opts = {"/l.T/Bidi", NULL, 0};
    for (int i = 0; i < 3; i++) {
        memset(&k[i], 0, sizeof k[i]);
        k[i].want = rc;
        CHECK_OK(slim_grpc_client_open(cli, &opts, &kcbs, &k[i], &calls[i]));
        for (int j = 0; j < 5; j++)
            CHECK_OK(slim_grpc_call_send_rc(calls[i], rc));
    }
    CHECK_EQ(atomic_load(&rc->refs), 1 + 15); /* queued by reference */
    FX_WAIT(k[0].got == 5 && k[1].got == 5 && k[2].got == 5, 5000);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(k[i].same, 5);
    FX_WAIT(atomic_load(&rc->refs) == 1, 5000); /* written: released */
    /* Limits as for copies: too large, and a full queue (nothing taken). */
    slim_rcbuf *big = slim_rcbuf_new(4001);
    CHECK_STATUS(slim_grpc_call_send_rc(calls[0], big), SLIM_E_TRANSPORT_MSG_TOO_LARGE);
    CHECK_EQ(atomic_load(&big->refs), 1);
    slim_rcbuf_unref(big);
    S.pause = true;
    slim_grpc_call *paused;
    counting kp = {0};
    kp.want = rc;
    CHECK_OK(slim_grpc_client_open(cli, &opts, &kcbs, &kp, &paused));
    /* Sent in one go: 8 messages fill the 8000-byte queue. */
    int accepted = 0;
    slim_status last = SLIM_OK;
    while ((last = slim_grpc_call_send_rc(paused, rc)) == SLIM_OK)
        accepted++;
    CHECK_STATUS(last, SLIM_E_QUEUE_FULL);
    CHECK_EQ(accepted, 8); /* 8 x 1005 >= 8000 */
    CHECK_STATUS(slim_grpc_call_send(paused, slim_bytes_of(rc->data, rc->len)), SLIM_E_QUEUE_FULL);
    CHECK_EQ(atomic_load(&rc->refs), 1 + 8);
    /* Forced sends go past the limit up to twice it: 8 x 1005 more. */
    int forced = 0;
    while ((last = slim_grpc_call_send_rc_forced(paused, rc)) == SLIM_OK)
        forced++;
    CHECK_STATUS(last, SLIM_E_QUEUE_FULL);
    CHECK_EQ(forced, 8); /* 16 x 1005 >= 16000 */
    CHECK_EQ(slim_grpc_call_send_queued(paused), 16 * 1005);
    CHECK_EQ(atomic_load(&rc->refs), 1 + 16);
    FX_WAIT(kp.writable, 5000); /* the window takes them */
    slim_grpc_client_free(cli); /* calls end at once: references dropped */
    CHECK_EQ(atomic_load(&rc->refs), 1);
    slim_rcbuf_unref(rc);
    server_down();
    fx_down();
}

TEST_MAIN(TEST_ENTRY(client_pings_while_a_call_is_open),
          TEST_ENTRY(client_respects_the_ping_policy_floor),
          TEST_ENTRY(dead_server_is_detected_within_interval_plus_timeout),
          TEST_ENTRY(dead_client_is_detected_by_the_server),
          TEST_ENTRY(connect_and_handshake_timeouts),
          TEST_ENTRY(shutdown_flushes_queued_messages_then_ends_calls_with_unavailable),
          TEST_ENTRY(drain_deadline_resets_what_is_left),
          TEST_ENTRY(idle_connection_gets_goaway_and_the_client_reconnects),
          TEST_ENTRY(max_age_sends_goaway_keeps_calls_for_the_grace_then_resets),
          TEST_ENTRY(exponential_backoff_between_attempts_then_shutdown),
          TEST_ENTRY(reconnects_when_the_server_comes_back),
          TEST_ENTRY(unwritten_messages_are_handed_back_when_the_connection_drops),
          TEST_ENTRY(one_shared_buffer_on_many_calls_with_the_same_limits))
