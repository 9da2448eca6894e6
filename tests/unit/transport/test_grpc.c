/* In-process tests of the gRPC server and client on one libuv loop: calls of
 * every kind, metadata, statuses, deadlines, limits, backpressure, write
 * coalescing, and tear-down. Every test closes all handles and checks that
 * uv_loop_close() succeeds and that no slim allocation is left. */
#include "test.h"
#include "transport/grpc.h"

#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- Fixture ---- */

typedef struct fixture {
    uv_loop_t loop;
    uv_timer_t watchdog;
    bool timed_out;
    slim_grpc_server *srv;
    slim_grpc_client *cli;
    char addr[128];
    slim_grpc_conn_state state;
    slim_status state_why;
    int state_changes;
    slim_grpc_conn_state states[16]; /* the first changes, in order */
    slim_status whys[16];
} fixture;

static fixture F;

/* What the server handlers saw. */
typedef struct srv_state {
    int calls, closes;
    slim_status last_close;
    bool closed;
    int echoed;
    slim_grpc_call *paused_call;
    bool pause_on_call;
    bool free_server_in_handler;
    int writable;
} srv_state;

static srv_state S;

static void on_watchdog(uv_timer_t *t) {
    (void)t;
    F.timed_out = true;
}

static void on_state(slim_grpc_client *c, slim_grpc_conn_state st, slim_status why, void *ud) {
    (void)c;
    (void)ud;
    F.state = st;
    F.state_why = why;
    if (F.state_changes < 16) {
        F.states[F.state_changes] = st;
        F.whys[F.state_changes] = why;
    }
    F.state_changes++;
}

static void watchdog_arm(void) {
    uv_timer_start(&F.watchdog, on_watchdog, 20000, 0);
}

static void watchdog_disarm(const char *what, int line) {
    uv_timer_stop(&F.watchdog);
    if (F.timed_out) {
        TEST_FAIL_AT("timed out waiting for %s (line %d)", what, line);
        F.timed_out = false;
    }
}

/* Runs the loop until `cond` holds, or fails the test after 20 s. */
#define RUN_UNTIL(cond)                                                                            \
    do {                                                                                           \
        watchdog_arm();                                                                            \
        while (!(cond) && !F.timed_out)                                                            \
            uv_run(&F.loop, UV_RUN_ONCE);                                                          \
        watchdog_disarm(#cond, __LINE__);                                                          \
    } while (0)

static void fixture_loop(void) {
    test_alloc_install();
    memset(&F, 0, sizeof F);
    uv_loop_init(&F.loop);
    uv_timer_init(&F.loop, &F.watchdog);
    uv_unref((uv_handle_t *)&F.watchdog);
}

/* Server on 127.0.0.1:0 with `methods`, client connected to it. */
static void fixture_up(const slim_grpc_config *scfg, const slim_grpc_config *ccfg,
                       const slim_grpc_method *methods, size_t n) {
    fixture_loop();
    memset(&S, 0, sizeof S);
    CHECK_OK(slim_grpc_server_new(&F.loop, scfg, &F.srv));
    for (size_t i = 0; i < n; i++)
        CHECK_OK(slim_grpc_server_add_method(F.srv, &methods[i]));
    CHECK_OK(slim_grpc_server_listen(F.srv, "127.0.0.1:0", F.addr, sizeof F.addr));
    CHECK_OK(slim_grpc_client_new(&F.loop, F.addr, ccfg, on_state, NULL, &F.cli));
}

static void fixture_down(void) {
    slim_grpc_client_free(F.cli);
    slim_grpc_server_free(F.srv);
    F.cli = NULL;
    F.srv = NULL;
    uv_close((uv_handle_t *)&F.watchdog, NULL);
    uv_run(&F.loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&F.loop), 0);
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_uninstall();
}

/* ---- Server handlers ---- */

/* Unary echo: echoes the request; returns "x-echo" request metadata as a
 * response header and every "-bin" entry as a trailer. */
static void echo_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)ud;
    const slim_grpc_md *in = slim_grpc_call_metadata(call);
    slim_grpc_md hdr = SLIM_GRPC_MD_INIT, trl = SLIM_GRPC_MD_INIT;
    slim_bytes v;
    if (slim_grpc_md_get(in, "x-echo", &v))
        CHECK_OK(slim_grpc_md_add(&hdr, "x-echo", v));
    for (size_t i = 0; i < slim_grpc_md_count(in); i++) {
        slim_str n;
        slim_grpc_md_at(in, i, &n, &v);
        if (slim_grpc_header_is_bin(n)) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)n.len, n.ptr);
            CHECK_OK(slim_grpc_md_add(&trl, name, v));
        }
    }
    CHECK_OK(slim_grpc_call_send_headers(call, &hdr));
    CHECK_STATUS(slim_grpc_call_send_headers(call, NULL), SLIM_E_STATE);
    CHECK_OK(slim_grpc_call_send(call, req));
    CHECK_OK(slim_grpc_call_finish(call, SLIM_OK, NULL, &trl));
    CHECK_STATUS(slim_grpc_call_finish(call, SLIM_OK, NULL, NULL), SLIM_E_STATE);
    CHECK_STATUS(slim_grpc_call_send(call, req), SLIM_E_STATE);
    slim_grpc_md_cleanup(&hdr);
    slim_grpc_md_cleanup(&trl);
}

/* Fails with the status named in the request and a message with characters
 * that need percent-encoding, plus a trailer. No messages: trailers-only. */
static void fail_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)ud;
    (void)req;
    slim_grpc_md trl = SLIM_GRPC_MD_INIT;
    CHECK_OK(slim_grpc_md_add_str(&trl, "x-why", "because"));
    CHECK_OK(slim_grpc_call_finish(call, SLIM_E_GRPC_FAILED_PRECONDITION,
                                   "bad 100% \xc3\xbcnicode\nline", &trl));
    slim_grpc_md_cleanup(&trl);
}

/* Server streaming: request is "<count>"; sends "item-<i>" count times. */
static void stream_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)ud;
    if (S.free_server_in_handler) {
        slim_grpc_server_free(F.srv);
        F.srv = NULL;
        CHECK_STATUS(slim_grpc_call_send(call, req), SLIM_E_CLOSED);
        return;
    }
    char text[16] = {0};
    memcpy(text, req.ptr, req.len < 15 ? req.len : 15);
    int n = atoi(text);
    for (int i = 0; i < n; i++) {
        char item[32];
        int len = snprintf(item, sizeof item, "item-%d", i);
        CHECK_OK(slim_grpc_call_send(call, slim_bytes_of(item, (size_t)len)));
    }
    CHECK_OK(slim_grpc_call_finish(call, SLIM_OK, NULL, NULL));
}

/* Bidi echo. On half-close it sends "done:<count>" and finishes OK. */

static void bidi_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)req;
    (void)ud;
    S.calls++;
    slim_grpc_call_set_data(call, &S);
    if (S.pause_on_call) {
        slim_grpc_call_pause(call);
        S.paused_call = call;
    }
}

static void bidi_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    srv_state *s = data;
    s->echoed++;
    slim_status st = slim_grpc_call_send(call, msg);
    if (st != SLIM_OK)
        TEST_FAIL_AT("echo send: %s", slim_status_name(st));
}

static void bidi_on_half_close(slim_grpc_call *call, void *data) {
    srv_state *s = data;
    char done[32];
    int n = snprintf(done, sizeof done, "done:%d", s->echoed);
    CHECK_OK(slim_grpc_call_send(call, slim_bytes_of(done, (size_t)n)));
    CHECK_OK(slim_grpc_call_finish(call, SLIM_OK, NULL, NULL));
}

static void srv_on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    (void)data;
    S.closes++;
    S.last_close = res->status;
    S.closed = true;
    if (S.paused_call == call)
        S.paused_call = NULL;
}

/* Never answers; the deadline or the client ends it. */
static void hang_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)call;
    (void)req;
    (void)ud;
    S.calls++;
}

static const slim_grpc_method methods[] = {
    {"/test.T/Echo", SLIM_GRPC_UNARY, echo_on_call, {0}, NULL},
    {"/test.T/Fail", SLIM_GRPC_UNARY, fail_on_call, {0}, NULL},
    {"/test.T/Stream", SLIM_GRPC_SERVER_STREAMING, stream_on_call, {0}, NULL},
    {"/test.T/Bidi",
     SLIM_GRPC_BIDI_STREAMING,
     bidi_on_call,
     {NULL, bidi_on_message, bidi_on_half_close, NULL, srv_on_close, NULL},
     NULL},
    {"/test.T/Hang",
     SLIM_GRPC_BIDI_STREAMING,
     hang_on_call,
     {NULL, NULL, NULL, NULL, srv_on_close, NULL},
     NULL},
};
#define N_METHODS (sizeof methods / sizeof methods[0])

/* ---- Client side helpers ---- */

typedef struct unary_out {
    bool done;
    slim_status status;
    int code;
    char message[256];
    slim_buf response;
    slim_grpc_md headers;
} unary_out;

static void on_unary(const slim_grpc_result *res, slim_bytes resp, const slim_grpc_md *headers,
                     void *ud) {
    unary_out *o = ud;
    o->done = true;
    o->status = res->status;
    o->code = res->code;
    snprintf(o->message, sizeof o->message, "%.*s", (int)res->message.len, res->message.ptr);
    CHECK_OK(slim_buf_append(&o->response, resp.ptr, resp.len));
    CHECK_OK(slim_grpc_md_append(&o->headers, headers));
}

static void unary_out_cleanup(unary_out *o) {
    slim_buf_cleanup(&o->response);
    slim_grpc_md_cleanup(&o->headers);
}

/* Collects the events of a streaming call. */
typedef struct stream_out {
    bool headers, closed;
    int messages;
    slim_buf last;
    slim_status status;
    char message[256];
    slim_grpc_md trailers;
    int writable;
    bool check_order; /* messages are "<i>" in order */
    bool local;
} stream_out;

static void cli_on_headers(slim_grpc_call *call, void *data) {
    (void)call;
    ((stream_out *)data)->headers = true;
}

static void cli_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    (void)call;
    stream_out *o = data;
    if (o->check_order && !(msg.len >= 5 && memcmp(msg.ptr, "done:", 5) == 0)) {
        char want[32];
        int n = snprintf(want, sizeof want, "%d", o->messages);
        if (msg.len != (size_t)n || memcmp(msg.ptr, want, (size_t)n) != 0)
            TEST_FAIL_AT("message %d out of order: %.*s", o->messages, (int)msg.len, msg.ptr);
    }
    o->messages++;
    o->last.len = 0;
    CHECK_OK(slim_buf_append(&o->last, msg.ptr, msg.len));
}

static void cli_on_writable(slim_grpc_call *call, void *data) {
    (void)call;
    ((stream_out *)data)->writable++;
}

static void cli_on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    stream_out *o = data;
    o->closed = true;
    o->status = res->status;
    o->local = res->local;
    snprintf(o->message, sizeof o->message, "%.*s", (int)res->message.len, res->message.ptr);
    if (res->trailers != NULL)
        CHECK_OK(slim_grpc_md_append(&o->trailers, res->trailers));
}

static const slim_grpc_call_cbs cli_cbs = {cli_on_headers,  cli_on_message, NULL,
                                           cli_on_writable, cli_on_close,   NULL};

static void stream_out_cleanup(stream_out *o) {
    slim_buf_cleanup(&o->last);
    slim_grpc_md_cleanup(&o->trailers);
}

static slim_grpc_call_opts opts(const char *method) {
    slim_grpc_call_opts o = {method, NULL, 0};
    return o;
}

static bool last_is(const stream_out *o, const char *text) {
    return o->last.len == strlen(text) && memcmp(o->last.data, text, o->last.len) == 0;
}

/* Opens a call to `method` on client `c` with the stream_out callbacks. */
static slim_grpc_call *open_on(slim_grpc_client *c, const char *method, stream_out *so) {
    slim_grpc_call_opts o = opts(method);
    slim_grpc_call *call = NULL;
    CHECK_OK(slim_grpc_client_open(c, &o, &cli_cbs, so, &call));
    return call;
}

/* Opens a call to `method`, sends one message and waits until the server
 * handler has seen the call. */
static slim_grpc_call *open_started(const char *method, stream_out *so) {
    slim_grpc_call_opts o = opts(method);
    slim_grpc_call *call = NULL;
    CHECK_OK(slim_grpc_client_open(F.cli, &o, &cli_cbs, so, &call));
    CHECK_OK(slim_grpc_call_send(call, slim_bytes_of("x", 1)));
    RUN_UNTIL(S.calls > 0);
    return call;
}

/* Opens a call on client `c`, sends `request`, half-closes, and runs the
 * loop until the call ends. */
static void one_shot(slim_grpc_client *c, const char *method, const char *request, stream_out *so) {
    slim_grpc_call_opts o = opts(method);
    slim_grpc_call *call;
    CHECK_OK(slim_grpc_client_open(c, &o, &cli_cbs, so, &call));
    CHECK_OK(slim_grpc_call_send(call, slim_bytes_of(request, strlen(request))));
    CHECK_OK(slim_grpc_call_close_send(call));
    RUN_UNTIL(so->closed);
}

/* ---- Tests ---- */

TEST(unary_echo_with_metadata) {
    fixture_up(NULL, NULL, methods, N_METHODS);
    slim_grpc_md md = SLIM_GRPC_MD_INIT;
    const uint8_t raw[] = {0x00, 0xff, 0x10, ',', 0x7f};
    CHECK_OK(slim_grpc_md_add_str(&md, "x-echo", "hello world"));
    CHECK_OK(slim_grpc_md_add(&md, "x-data-bin", slim_bytes_of(raw, sizeof raw)));
    slim_grpc_call_opts o = {"/test.T/Echo", &md, 0};
    unary_out out = {0};
    CHECK_OK(slim_grpc_client_unary(F.cli, &o, slim_bytes_of("ping", 4), on_unary, &out));
    slim_grpc_md_cleanup(&md);
    RUN_UNTIL(out.done);
    CHECK_STATUS(out.status, SLIM_OK);
    CHECK_EQ(out.response.len, 4);
    CHECK_MEM(out.response.data, "ping", 4);
    slim_bytes v;
    CHECK(slim_grpc_md_get(&out.headers, "x-echo", &v));
    CHECK_EQ(v.len, 11);
    CHECK_MEM(v.ptr, "hello world", 11);
    CHECK_EQ(F.state, SLIM_GRPC_READY);
    unary_out_cleanup(&out);
    /* Sockets exist now: a write to a vanished peer must not kill us. */
    struct sigaction sa;
    CHECK_EQ(sigaction(SIGPIPE, NULL, &sa), 0);
    CHECK(sa.sa_handler == SIG_IGN);

    /* Trailers come back through a streaming call's on_close. */
    md = (slim_grpc_md)SLIM_GRPC_MD_INIT;
    CHECK_OK(slim_grpc_md_add(&md, "x-data-bin", slim_bytes_of(raw, sizeof raw)));
    o.metadata = &md;
    stream_out so = {0};
    slim_grpc_call *call;
    CHECK_OK(slim_grpc_client_open(F.cli, &o, &cli_cbs, &so, &call));
    slim_grpc_md_cleanup(&md);
    CHECK_OK(slim_grpc_call_send(call, slim_bytes_of("", 0)));
    CHECK_OK(slim_grpc_call_close_send(call));
    CHECK_STATUS(slim_grpc_call_close_send(call), SLIM_E_STATE);
    RUN_UNTIL(so.closed);
    CHECK_STATUS(so.status, SLIM_OK);
    CHECK(so.headers);
    CHECK_EQ(so.messages, 1);
    CHECK_EQ(so.last.len, 0);
    CHECK(slim_grpc_md_get(&so.trailers, "x-data-bin", &v));
    CHECK_EQ(v.len, sizeof raw);
    CHECK_MEM(v.ptr, raw, sizeof raw);
    stream_out_cleanup(&so);
    fixture_down();
}

TEST(error_status_trailers_only_percent_encoded) {
    fixture_up(NULL, NULL, methods, N_METHODS);
    stream_out so = {0};
    one_shot(F.cli, "/test.T/Fail", "x", &so);
    CHECK_STATUS(so.status, SLIM_E_GRPC_FAILED_PRECONDITION);
    CHECK(!so.local);
    CHECK_STR(so.message, "bad 100% \xc3\xbcnicode\nline");
    CHECK(!so.headers); /* trailers-only: no on_headers */
    slim_bytes v;
    CHECK(slim_grpc_md_get(&so.trailers, "x-why", &v));
    CHECK_EQ(v.len, 7);
    stream_out_cleanup(&so);
    fixture_down();
}

TEST(unknown_method_is_unimplemented) {
    fixture_up(NULL, NULL, methods, N_METHODS);
    unary_out out = {0};
    slim_grpc_call_opts o = opts("/test.T/Nope");
    CHECK_OK(slim_grpc_client_unary(F.cli, &o, slim_bytes_of("x", 1), on_unary, &out));
    RUN_UNTIL(out.done);
    CHECK_STATUS(out.status, SLIM_E_GRPC_UNIMPLEMENTED);
    CHECK(strstr(out.message, "/test.T/Nope") != NULL);
    unary_out_cleanup(&out);
    /* The connection still serves. */
    out = (unary_out){0};
    o = opts("/test.T/Echo");
    CHECK_OK(slim_grpc_client_unary(F.cli, &o, slim_bytes_of("y", 1), on_unary, &out));
    RUN_UNTIL(out.done);
    CHECK_STATUS(out.status, SLIM_OK);
    unary_out_cleanup(&out);
    fixture_down();
}

static slim_status check_auth(slim_grpc_call *call, void *ud, const char **message) {
    int *count = ud;
    (*count)++;
    slim_bytes v;
    slim_str m = slim_grpc_call_method(call);
    CHECK(m.len > 0 && m.ptr[0] == '/');
    if (slim_grpc_md_get(slim_grpc_call_metadata(call), "authorization", &v) && v.len == 6 &&
        memcmp(v.ptr, "secret", 6) == 0)
        return SLIM_OK;
    *message = "missing or wrong token";
    return SLIM_E_GRPC_UNAUTHENTICATED;
}

TEST(header_check_refuses_calls) {
    fixture_up(NULL, NULL, methods, N_METHODS);
    int checks = 0;
    slim_grpc_server_set_header_check(F.srv, check_auth, &checks);
    unary_out out = {0};
    slim_grpc_call_opts o = opts("/test.T/Echo");
    CHECK_OK(slim_grpc_client_unary(F.cli, &o, slim_bytes_of("x", 1), on_unary, &out));
    RUN_UNTIL(out.done);
    CHECK_STATUS(out.status, SLIM_E_GRPC_UNAUTHENTICATED);
    CHECK_STR(out.message, "missing or wrong token");
    unary_out_cleanup(&out);
    slim_grpc_md md = SLIM_GRPC_MD_INIT;
    CHECK_OK(slim_grpc_md_add_str(&md, "authorization", "secret"));
    o.metadata = &md;
    out = (unary_out){0};
    CHECK_OK(slim_grpc_client_unary(F.cli, &o, slim_bytes_of("x", 1), on_unary, &out));
    slim_grpc_md_cleanup(&md);
    RUN_UNTIL(out.done);
    CHECK_STATUS(out.status, SLIM_OK);
    CHECK_EQ(checks, 2);
    unary_out_cleanup(&out);
    fixture_down();
}

TEST(server_streaming) {
    fixture_up(NULL, NULL, methods, N_METHODS);
    stream_out so = {0};
    one_shot(F.cli, "/test.T/Stream", "1000", &so);
    CHECK_STATUS(so.status, SLIM_OK);
    CHECK_EQ(so.messages, 1000);
    CHECK(last_is(&so, "item-999"));
    stream_out_cleanup(&so);

    /* A single-request method given two requests is refused, INTERNAL. */
    so = (stream_out){0};
    slim_grpc_call *call = open_on(F.cli, "/test.T/Stream", &so);
    CHECK_OK(slim_grpc_call_send(call, slim_bytes_of("1", 1)));
    CHECK_OK(slim_grpc_call_send(call, slim_bytes_of("1", 1)));
    CHECK_OK(slim_grpc_call_close_send(call));
    RUN_UNTIL(so.closed);
    CHECK_STATUS(so.status, SLIM_E_GRPC_INTERNAL);
    CHECK_EQ(so.messages, 0);
    stream_out_cleanup(&so);
    fixture_down();
}

/* Sends "<i>" for i in [*next, total) until the queue is full. */
static void pump(slim_grpc_call *call, int *next, int total) {
    while (*next < total) {
        char text[32];
        int n = snprintf(text, sizeof text, "%d", *next);
        slim_status st = slim_grpc_call_send(call, slim_bytes_of(text, (size_t)n));
        if (st == SLIM_E_QUEUE_FULL)
            return;
        CHECK_OK(st);
        (*next)++;
    }
}

TEST(bidi_ten_thousand_each_way_and_half_close) {
    fixture_up(NULL, NULL, methods, N_METHODS);
    stream_out so = {0};
    so.check_order = true;
    slim_grpc_call *call = open_on(F.cli, "/test.T/Bidi", &so);
    int next = 0;
    pump(call, &next, 10000);
    CHECK_EQ(next, 10000);
    CHECK_OK(slim_grpc_call_close_send(call));
    CHECK_STATUS(slim_grpc_call_send(call, slim_bytes_of("x", 1)), SLIM_E_STATE);
    RUN_UNTIL(so.closed);
    CHECK_STATUS(so.status, SLIM_OK);
    /* 10 000 echoes in order (checked by cli_on_message), then "done:". */
    CHECK_EQ(so.messages, 10001);
    CHECK(last_is(&so, "done:10000"));
    CHECK_EQ(S.echoed, 10000);
    /* Coalescing: far fewer socket writes than messages, each direction. */
    slim_grpc_conn_stats cs;
    slim_grpc_client_stats(F.cli, &cs);
    CHECK_EQ(cs.msgs_sent, 10000);
    CHECK_EQ(cs.msgs_received, 10001);
    CHECK_INT(cs.socket_writes, <, 50);
    RUN_UNTIL(S.closed);
    CHECK_STATUS(S.last_close, SLIM_OK);
    stream_out_cleanup(&so);
    fixture_down();
}

TEST(writes_are_coalesced_per_loop_iteration) {
    fixture_up(NULL, NULL, methods, N_METHODS);
    stream_out so = {0};
    slim_grpc_call *call = open_on(F.cli, "/test.T/Bidi", &so);
    /* Let the connection settle (SETTINGS exchanged, call open). */
    CHECK_OK(slim_grpc_call_send(call, slim_bytes_of("0", 1)));
    RUN_UNTIL(so.messages >= 1);
    slim_grpc_conn_stats before, after;
    slim_grpc_client_stats(F.cli, &before);
    /* 500 sends in one go: one loop iteration, so one socket write. */
    for (int i = 0; i < 500; i++)
        CHECK_OK(slim_grpc_call_send(call, slim_bytes_of("0123456789", 10)));
    uv_run(&F.loop, UV_RUN_NOWAIT);
    slim_grpc_client_stats(F.cli, &after);
    CHECK_EQ(after.socket_writes - before.socket_writes, 1);
    CHECK_EQ(after.msgs_sent - before.msgs_sent, 500);
    CHECK_OK(slim_grpc_call_close_send(call));
    RUN_UNTIL(so.closed);
    CHECK_EQ(so.messages, 502);
    stream_out_cleanup(&so);
    fixture_down();
}

/* The server pauses the call before reading anything: its stream window
 * (64 KiB) fills and is not reopened, the client's queue (limit 256 KiB)
 * fills and send returns QUEUE_FULL; on_writable fires only after resume. */
typedef struct probe {
    int left;
    bool done;
} probe;

static void on_probe(const slim_grpc_result *res, slim_bytes resp, const slim_grpc_md *headers,
                     void *ud);

static void send_probe(probe *p) {
    slim_grpc_call_opts o = opts("/test.T/Echo");
    CHECK_OK(slim_grpc_client_unary(F.cli, &o, slim_bytes_of("p", 1), on_probe, p));
}

static void on_probe(const slim_grpc_result *res, slim_bytes resp, const slim_grpc_md *headers,
                     void *ud) {
    (void)resp;
    (void)headers;
    probe *p = ud;
    CHECK_STATUS(res->status, SLIM_OK);
    if (--p->left > 0)
        send_probe(p);
    else
        p->done = true;
}

TEST(backpressure_queue_full_window_and_writable) {
    slim_grpc_config scfg = {0}, ccfg = {0};
    scfg.stream_window = 64 * 1024;
    ccfg.send_queue_limit = 256 * 1024;
    fixture_up(&scfg, &ccfg, methods, N_METHODS);
    S.pause_on_call = true;
    stream_out so = {0};
    so.check_order = false;
    slim_grpc_call *call = open_on(F.cli, "/test.T/Bidi", &so);
    char big[1000];
    memset(big, 'b', sizeof big);
    int sent = 0;
    slim_status st;
    while ((st = slim_grpc_call_send(call, slim_bytes_of(big, sizeof big))) == SLIM_OK)
        sent++;
    CHECK_STATUS(st, SLIM_E_QUEUE_FULL);
    CHECK_EQ(sent, (256 * 1024 + 1004) / 1005); /* stops once >= N bytes are queued */
    CHECK_INT(slim_grpc_call_send_queued(call), >=, 256 * 1024);

    /* Three probe round trips on other streams of the same connection: had
     * the server reopened the window on receipt, more would have flowed. */
    probe p = {3, false};
    send_probe(&p);
    RUN_UNTIL(p.done);
    CHECK(S.paused_call != NULL);
    size_t backlog = slim_grpc_call_recv_backlog(S.paused_call);
    CHECK_INT(backlog, <=, 64 * 1024);
    CHECK_INT(backlog, >=, 60 * 1024); /* the window was used */
    CHECK_INT(slim_grpc_call_send_queued(call), >=, 256 * 1024 - 64 * 1024);
    CHECK_EQ(so.writable, 0);
    CHECK_EQ(S.echoed, 0);

    /* Resume: everything flows, the client hears it can write again. */
    slim_grpc_call_resume(S.paused_call);
    RUN_UNTIL(so.writable > 0);
    CHECK_EQ(so.writable, 1);
    CHECK_INT(slim_grpc_call_send_queued(call), <, 128 * 1024);
    CHECK_OK(slim_grpc_call_close_send(call));
    RUN_UNTIL(so.closed);
    CHECK_STATUS(so.status, SLIM_OK);
    CHECK_EQ(S.echoed, sent);
    CHECK_EQ(so.messages, sent + 1);
    stream_out_cleanup(&so);
    fixture_down();
}

TEST(message_size_limits_each_side) {
    slim_grpc_config scfg = {0}, ccfg = {0};
    scfg.max_message_size = 1024;
    ccfg.max_message_size = 4096;
    fixture_up(&scfg, &ccfg, methods, N_METHODS);
    char big[5000];
    memset(big, 'x', sizeof big);

    /* A second stream that must survive the first one's failure. */
    stream_out keep = {0};
    slim_grpc_call_opts o = opts("/test.T/Bidi");
    slim_grpc_call *kcall, *call;
    CHECK_OK(slim_grpc_client_open(F.cli, &o, &cli_cbs, &keep, &kcall));
    CHECK_OK(slim_grpc_call_send(kcall, slim_bytes_of("a", 1)));

    /* Send side: over the client's own limit, refused, nothing written, the
     * call goes on. */
    stream_out so = {0};
    CHECK_OK(slim_grpc_client_open(F.cli, &o, &cli_cbs, &so, &call));
    CHECK_STATUS(slim_grpc_call_send(call, slim_bytes_of(big, 4097)),
                 SLIM_E_TRANSPORT_MSG_TOO_LARGE);
    CHECK_EQ(slim_grpc_call_send_queued(call), 0);
    CHECK_OK(slim_grpc_call_send(call, slim_bytes_of("ok", 2)));
    RUN_UNTIL(so.messages >= 1);
    CHECK(last_is(&so, "ok"));

    /* Receive side: within the client's limit, over the server's. */
    CHECK_OK(slim_grpc_call_send(call, slim_bytes_of(big, 2000)));
    RUN_UNTIL(so.closed);
    CHECK_STATUS(so.status, SLIM_E_GRPC_RESOURCE_EXHAUSTED);
    CHECK(strstr(so.message, "2000") != NULL);
    RUN_UNTIL(S.closed);
    CHECK_STATUS(S.last_close, SLIM_E_GRPC_RESOURCE_EXHAUSTED);

    /* The other stream carries on. */
    CHECK_OK(slim_grpc_call_send(kcall, slim_bytes_of("b", 1)));
    RUN_UNTIL(keep.messages >= 2);
    CHECK(last_is(&keep, "b"));
    CHECK(!keep.closed);
    CHECK_OK(slim_grpc_call_close_send(kcall));
    RUN_UNTIL(keep.closed);
    CHECK_STATUS(keep.status, SLIM_OK);

    /* A client receiving more than its limit ends that call only. */
    stream_out big_in = {0};
    o = opts("/test.T/Stream");
    slim_grpc_config c2 = {0};
    c2.max_message_size = 4;
    slim_grpc_client *small;
    CHECK_OK(slim_grpc_client_new(&F.loop, F.addr, &c2, NULL, NULL, &small));
    one_shot(small, "/test.T/Stream", "3", &big_in);
    CHECK_STATUS(big_in.status, SLIM_E_GRPC_RESOURCE_EXHAUSTED);
    CHECK(big_in.local);
    CHECK_EQ(big_in.messages, 0);
    unary_out out = {0};
    o = opts("/test.T/Echo");
    CHECK_OK(slim_grpc_client_unary(small, &o, slim_bytes_of("ok", 2), on_unary, &out));
    RUN_UNTIL(out.done);
    CHECK_STATUS(out.status, SLIM_OK);
    unary_out_cleanup(&out);
    slim_grpc_client_free(small);
    stream_out_cleanup(&big_in);
    stream_out_cleanup(&so);
    stream_out_cleanup(&keep);
    fixture_down();
}

/* A client that waits for the response headers before sending anything
 * (tonic, upstream SLIM's Rust client, does this on OpenChannel) gets them
 * as soon as the server accepts the call, from a handler that sends
 * nothing. Without that, each side would wait for the other. */
TEST(streaming_call_gets_headers_before_any_message) {
    fixture_up(NULL, NULL, methods, N_METHODS);
    stream_out so = {0};
    slim_grpc_call *call = open_on(F.cli, "/test.T/Hang", &so);
    RUN_UNTIL(so.headers);
    CHECK(so.headers);
    CHECK_EQ(S.calls, 1);
    CHECK_EQ(so.messages, 0);
    CHECK(!so.closed);
    slim_grpc_conn_stats cs;
    slim_grpc_client_stats(F.cli, &cs);
    CHECK_EQ(cs.msgs_sent, 0);
    slim_grpc_call_cancel(call);
    RUN_UNTIL(so.closed && S.closed);
    stream_out_cleanup(&so);
    fixture_down();
}

TEST(client_deadline_expires) {
    fixture_up(NULL, NULL, methods, N_METHODS);
    stream_out so = {0};
    slim_grpc_call_opts o = {"/test.T/Hang", NULL, 50};
    slim_grpc_call *call;
    CHECK_OK(slim_grpc_client_open(F.cli, &o, &cli_cbs, &so, &call));
    RUN_UNTIL(so.closed);
    CHECK_STATUS(so.status, SLIM_E_GRPC_DEADLINE_EXCEEDED);
    CHECK(so.local);
    RUN_UNTIL(S.closed);
    /* The server tracked the same deadline (grpc-timeout); whichever side
     * fired first decides what it saw. */
    CHECK(S.last_close == SLIM_E_GRPC_DEADLINE_EXCEEDED || S.last_close == SLIM_E_GRPC_CANCELLED);
    stream_out_cleanup(&so);
    fixture_down();
}

TEST(cancel_from_client) {
    fixture_up(NULL, NULL, methods, N_METHODS);
    stream_out so = {0};
    slim_grpc_call *call = open_started("/test.T/Hang", &so);
    slim_grpc_call_cancel(call);
    RUN_UNTIL(so.closed);
    CHECK_STATUS(so.status, SLIM_E_GRPC_CANCELLED);
    CHECK(so.local);
    RUN_UNTIL(S.closed);
    CHECK_STATUS(S.last_close, SLIM_E_GRPC_CANCELLED);
    stream_out_cleanup(&so);
    fixture_down();
}

TEST(server_free_ends_client_calls) {
    fixture_up(NULL, NULL, methods, N_METHODS);
    stream_out so = {0};
    slim_grpc_call *call = open_started("/test.T/Hang", &so);
    CHECK_EQ(slim_grpc_server_connections(F.srv), 1);
    slim_grpc_server_free(F.srv);
    F.srv = NULL;
    CHECK(S.closed); /* the server side ended at once */
    CHECK_STATUS(S.last_close, SLIM_E_GRPC_UNAVAILABLE);
    RUN_UNTIL(so.closed);
    CHECK_STATUS(so.status, SLIM_E_GRPC_UNAVAILABLE);
    /* READY, then the loss; the connection lived less than a second, so
     * the client waits for the backoff (2 s) before trying again. */
    RUN_UNTIL(F.state_changes >= 2);
    CHECK_EQ(F.states[0], SLIM_GRPC_READY);
    CHECK_EQ(F.states[1], SLIM_GRPC_TRANSIENT_FAILURE);
    CHECK_STATUS(F.whys[1], SLIM_E_TRANSPORT_CONN_LOST);
    /* Waiting for the next attempt: calls fail at once. */
    slim_grpc_call_opts o = opts("/test.T/Hang");
    CHECK_STATUS(slim_grpc_client_open(F.cli, &o, &cli_cbs, &so, &call), SLIM_E_GRPC_UNAVAILABLE);
    stream_out_cleanup(&so);
    fixture_down();
}

TEST(client_free_cancels_calls) {
    fixture_up(NULL, NULL, methods, N_METHODS);
    stream_out so = {0};
    (void)open_on(F.cli, "/test.T/Hang", &so);
    slim_grpc_client_free(F.cli); /* before it even connected */
    F.cli = NULL;
    CHECK(so.closed);
    CHECK_STATUS(so.status, SLIM_E_GRPC_CANCELLED);
    stream_out_cleanup(&so);
    fixture_down();
}

TEST(connect_refused) {
    fixture_loop();
    /* A port nobody listens on: bind one, note it, close it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(0x7f000001);
    CHECK_EQ(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    char target[64];
    snprintf(target, sizeof target, "http://localhost:%u", (unsigned)ntohs(sa.sin_port));
    CHECK_OK(slim_grpc_client_new(&F.loop, target, NULL, on_state, NULL, &F.cli));
    stream_out so = {0};
    (void)open_on(F.cli, "/test.T/Echo", &so);
    RUN_UNTIL(so.closed);
    CHECK_STATUS(so.status, SLIM_E_GRPC_UNAVAILABLE);
    RUN_UNTIL(F.state == SLIM_GRPC_TRANSIENT_FAILURE);
    CHECK_STATUS(F.state_why, SLIM_E_TRANSPORT_CONNECT);
    CHECK(strstr(slim_grpc_client_why(F.cli), "cannot connect") != NULL);
    stream_out_cleanup(&so);
    fixture_down();
}

static void unary_round_trip(const char *target) {
    slim_grpc_client *c;
    CHECK_OK(slim_grpc_client_new(&F.loop, target, NULL, NULL, NULL, &c));
    unary_out out = {0};
    slim_grpc_call_opts o = opts("/test.T/Echo");
    CHECK_OK(slim_grpc_client_unary(c, &o, slim_bytes_of("hi", 2), on_unary, &out));
    RUN_UNTIL(out.done);
    CHECK_STATUS(out.status, SLIM_OK);
    CHECK_EQ(out.response.len, 2);
    unary_out_cleanup(&out);
    slim_grpc_client_free(c);
}

TEST(listen_ipv6_port_zero_and_names) {
    fixture_loop();
    CHECK_OK(slim_grpc_server_new(&F.loop, NULL, &F.srv));
    CHECK_OK(slim_grpc_server_add_method(F.srv, &methods[0]));
    CHECK_STATUS(slim_grpc_server_add_method(F.srv, &methods[0]), SLIM_E_EXISTS);
    char bound[128];
    CHECK_OK(slim_grpc_server_listen(F.srv, "[::1]:0", bound, sizeof bound));
    CHECK(strncmp(bound, "[::1]:", 6) == 0);
    CHECK(strcmp(bound, "[::1]:0") != 0);
    unary_round_trip(bound);
    CHECK_OK(slim_grpc_server_listen(F.srv, "localhost:0", bound, sizeof bound));
    char target[160];
    snprintf(target, sizeof target, "http://localhost:%s", strrchr(bound, ':') + 1);
    unary_round_trip(target); /* resolved with uv_getaddrinfo */
    /* The same port twice is refused with a named status. */
    CHECK_STATUS(slim_grpc_server_listen(F.srv, bound, NULL, 0), SLIM_E_TRANSPORT_LISTEN);
    CHECK_STATUS(slim_grpc_server_listen(F.srv, "nohost", NULL, 0), SLIM_E_TRANSPORT_BAD_ENDPOINT);
    CHECK_STATUS(slim_grpc_server_listen(F.srv, "https://127.0.0.1:0", NULL, 0),
                 SLIM_E_TLS_CONFIG); /* https:// needs TLS settings */
    fixture_down();
}

TEST(listen_unix_removes_stale_socket) {
    fixture_loop();
    char path[64], ep[100];
    snprintf(path, sizeof path, "/tmp/slim-test-%d.sock", (int)getpid());
    snprintf(ep, sizeof ep, "unix://%s", path);
    unlink(path);
    /* A stale socket file: bound, never listened on, left behind. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    CHECK_EQ(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    struct stat sb;
    CHECK_EQ(stat(path, &sb), 0);

    CHECK_OK(slim_grpc_server_new(&F.loop, NULL, &F.srv));
    CHECK_OK(slim_grpc_server_add_method(F.srv, &methods[0]));
    char bound[128];
    CHECK_OK(slim_grpc_server_listen(F.srv, ep, bound, sizeof bound));
    CHECK_STR(bound, ep);
    unary_round_trip(ep);

    /* A live socket is not taken over. */
    slim_grpc_server *other;
    CHECK_OK(slim_grpc_server_new(&F.loop, NULL, &other));
    CHECK_STATUS(slim_grpc_server_listen(other, ep, NULL, 0), SLIM_E_TRANSPORT_LISTEN);
    /* Nor is a file that is not a socket. */
    char plain[80];
    snprintf(plain, sizeof plain, "/tmp/slim-test-%d.txt", (int)getpid());
    FILE *f = fopen(plain, "w");
    fputs("keep me", f);
    fclose(f);
    snprintf(ep, sizeof ep, "unix://%s", plain);
    CHECK_STATUS(slim_grpc_server_listen(other, ep, NULL, 0), SLIM_E_TRANSPORT_LISTEN);
    CHECK_EQ(stat(plain, &sb), 0);
    unlink(plain);
    slim_grpc_server_free(other);
    fixture_down();
    CHECK(stat(path, &sb) != 0); /* removed at free */
}

TEST(max_concurrent_streams_refuses_extra_streams) {
    slim_grpc_config scfg = {0};
    scfg.max_concurrent_streams = 2;
    fixture_up(&scfg, NULL, methods, N_METHODS);
    /* Opened before the server's SETTINGS arrive, so the client sends all
     * three; the server refuses the one over its limit. */
    stream_out so[3] = {{0}};
    slim_grpc_call *calls[3];
    for (int i = 0; i < 3; i++)
        calls[i] = open_on(F.cli, "/test.T/Hang", &so[i]);
    RUN_UNTIL(so[2].closed);
    CHECK_STATUS(so[2].status, SLIM_E_GRPC_UNAVAILABLE); /* REFUSED_STREAM */
    CHECK(!so[0].closed && !so[1].closed);
    RUN_UNTIL(S.calls == 2);
    for (int i = 0; i < 2; i++) {
        slim_grpc_call_cancel(calls[i]);
        RUN_UNTIL(so[i].closed);
    }
    for (int i = 0; i < 3; i++)
        stream_out_cleanup(&so[i]);
    fixture_down();
}

/* A listener keeps at most max_connections open: one more is closed as
 * soon as it is accepted (and counted); when one closes, a new one fits. */
TEST(max_connections_per_listener) {
    slim_grpc_config scfg = {0};
    scfg.max_connections = 2;
    fixture_up(&scfg, NULL, methods, N_METHODS);
    slim_grpc_client *cli[3] = {F.cli, NULL, NULL};
    stream_out so[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        if (i > 0)
            CHECK_OK(slim_grpc_client_new(&F.loop, F.addr, NULL, NULL, NULL, &cli[i]));
        open_on(cli[i], "/test.T/Hang", &so[i]);
        if (i < 2)
            RUN_UNTIL(S.calls == i + 1);
    }
    RUN_UNTIL(so[2].closed);
    CHECK_STATUS(so[2].status, SLIM_E_GRPC_UNAVAILABLE);
    CHECK_EQ(S.calls, 2);
    CHECK_EQ(slim_grpc_server_connections(F.srv), 2);
    {
        slim_grpc_server_stats ss;
        slim_grpc_server_stats_get(F.srv, &ss);
        CHECK_U64(ss.refused, 1);
        CHECK_U64(ss.accepted, 2 + (S.calls == 3));
    }
    slim_grpc_client_free(cli[2]); /* (it would retry, and be refused, every 2 s) */
    /* one leaves: the next fits */
    slim_grpc_client_free(cli[1]);
    RUN_UNTIL(so[1].closed && slim_grpc_server_connections(F.srv) == 1);
    slim_grpc_client *next = NULL;
    CHECK_OK(slim_grpc_client_new(&F.loop, F.addr, NULL, NULL, NULL, &next));
    stream_out again = {0};
    open_on(next, "/test.T/Hang", &again);
    RUN_UNTIL(S.calls == 3 || again.closed);
    CHECK_EQ(S.calls, 3);
    {
        slim_grpc_server_stats ss;
        slim_grpc_server_stats_get(F.srv, &ss);
        CHECK_U64(ss.refused, 1);
        CHECK_U64(ss.accepted, 2 + (S.calls == 3));
    }
    slim_grpc_client_free(next);
    RUN_UNTIL(again.closed);
    for (int i = 0; i < 3; i++)
        stream_out_cleanup(&so[i]);
    stream_out_cleanup(&again);
    fixture_down();
}

TEST(max_header_list_size_is_enforced) {
    slim_grpc_config scfg = {0};
    scfg.max_header_list_size = 1024;
    fixture_up(&scfg, NULL, methods, N_METHODS);
    char big[2000];
    memset(big, 'h', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    slim_grpc_md md = SLIM_GRPC_MD_INIT;
    CHECK_OK(slim_grpc_md_add_str(&md, "x-big", big));
    slim_grpc_call_opts o = {"/test.T/Echo", &md, 0};
    unary_out out = {0};
    CHECK_OK(slim_grpc_client_unary(F.cli, &o, slim_bytes_of("x", 1), on_unary, &out));
    slim_grpc_md_cleanup(&md);
    RUN_UNTIL(out.done);
    CHECK_STATUS(out.status, SLIM_E_GRPC_RESOURCE_EXHAUSTED);
    CHECK(strstr(out.message, "1024") != NULL);
    unary_out_cleanup(&out);
    out = (unary_out){0};
    o.metadata = NULL;
    CHECK_OK(slim_grpc_client_unary(F.cli, &o, slim_bytes_of("x", 1), on_unary, &out));
    RUN_UNTIL(out.done);
    CHECK_STATUS(out.status, SLIM_OK);
    unary_out_cleanup(&out);
    fixture_down();
}

/* Freeing the client or the server from inside a callback of one of their
 * calls: the other calls still get on_close, nothing is touched after. */
static int reentrant_closes;

static void free_client_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    cli_on_message(call, msg, data);
    slim_grpc_client_free(F.cli);
    F.cli = NULL;
}

static void count_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    cli_on_close(call, res, data);
    reentrant_closes++;
}

TEST(free_from_inside_callbacks) {
    fixture_up(NULL, NULL, methods, N_METHODS);
    reentrant_closes = 0;
    static const slim_grpc_call_cbs freeing = {
        NULL, free_client_on_message, NULL, NULL, count_close, NULL};
    static const slim_grpc_call_cbs counting = {NULL, cli_on_message, NULL,
                                                NULL, count_close,    NULL};
    stream_out a = {0}, b = {0};
    slim_grpc_call_opts o = opts("/test.T/Bidi");
    slim_grpc_call *ca, *cb;
    CHECK_OK(slim_grpc_client_open(F.cli, &o, &counting, &b, &cb));
    CHECK_OK(slim_grpc_client_open(F.cli, &o, &freeing, &a, &ca));
    /* Both echoes may arrive in one read: the free stops the rest. */
    CHECK_OK(slim_grpc_call_send(cb, slim_bytes_of("b", 1)));
    CHECK_OK(slim_grpc_call_send(ca, slim_bytes_of("a", 1)));
    RUN_UNTIL(reentrant_closes == 2);
    CHECK(a.closed && b.closed);
    CHECK_STATUS(a.status, SLIM_E_GRPC_CANCELLED);
    CHECK_STATUS(b.status, SLIM_E_GRPC_CANCELLED);
    CHECK_EQ(a.messages, 1);
    stream_out_cleanup(&a);
    stream_out_cleanup(&b);

    /* Now the server, from its handler. */
    CHECK_OK(slim_grpc_client_new(&F.loop, F.addr, NULL, NULL, NULL, &F.cli));
    S.free_server_in_handler = true;
    stream_out c = {0};
    one_shot(F.cli, "/test.T/Stream", "5", &c);
    CHECK_STATUS(c.status, SLIM_E_GRPC_UNAVAILABLE);
    CHECK(F.srv == NULL);
    stream_out_cleanup(&c);
    fixture_down();
}

TEST_MAIN(TEST_ENTRY(unary_echo_with_metadata),
          TEST_ENTRY(error_status_trailers_only_percent_encoded),
          TEST_ENTRY(unknown_method_is_unimplemented), TEST_ENTRY(header_check_refuses_calls),
          TEST_ENTRY(server_streaming), TEST_ENTRY(bidi_ten_thousand_each_way_and_half_close),
          TEST_ENTRY(writes_are_coalesced_per_loop_iteration),
          TEST_ENTRY(backpressure_queue_full_window_and_writable),
          TEST_ENTRY(message_size_limits_each_side),
          TEST_ENTRY(streaming_call_gets_headers_before_any_message),
          TEST_ENTRY(client_deadline_expires), TEST_ENTRY(cancel_from_client),
          TEST_ENTRY(server_free_ends_client_calls), TEST_ENTRY(client_free_cancels_calls),
          TEST_ENTRY(connect_refused), TEST_ENTRY(listen_ipv6_port_zero_and_names),
          TEST_ENTRY(listen_unix_removes_stale_socket),
          TEST_ENTRY(max_concurrent_streams_refuses_extra_streams),
          TEST_ENTRY(max_connections_per_listener), TEST_ENTRY(max_header_list_size_is_enforced),
          TEST_ENTRY(free_from_inside_callbacks))
