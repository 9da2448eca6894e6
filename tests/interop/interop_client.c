/*
 * Interop test client: our gRPC client against the grpcio server that
 * run_interop.py starts (service "interop.Test", see run_interop.py).
 *
 *   interop_client [--ca F] [--cert F --key F] [--name N]
 *                  [--expect-fail STATUS] <target> [case...]
 *
 * Runs every case of the default list (or the named ones, which may also
 * name the keepalive cases), prints one line per case and exits non-zero
 * when any check failed. https:// targets use TLS with the CA and client
 * certificate given. --expect-fail runs no case: the one connection
 * attempt must fail with that status (E_TLS_CERT_UNTRUSTED, ...). The loop
 * is torn down fully at the end.
 */
#include "test.h"
#include "transport/grpc.h"

#include <stdio.h>
#include <stdlib.h>

#define SVC     "/interop.Test/"
#define MAX_MSG SLIM_GRPC_DEFAULT_MAX_MESSAGE_SIZE

static uv_loop_t loop;
static uv_timer_t watchdog;
static bool timed_out;
static slim_grpc_client *cli;
static const char *target;
static slim_client_config ccfg; /* strings borrowed from argv */

static void on_watchdog(uv_timer_t *t) {
    (void)t;
    timed_out = true;
}

/* Runs the loop until `cond` holds; fails the case after 60 s. */
#define RUN_UNTIL(cond)                                                                            \
    do {                                                                                           \
        uv_timer_start(&watchdog, on_watchdog, 60000, 0);                                          \
        while (!(cond) && !timed_out)                                                              \
            uv_run(&loop, UV_RUN_ONCE);                                                            \
        uv_timer_stop(&watchdog);                                                                  \
        if (timed_out)                                                                             \
            TEST_FAIL_AT("timed out waiting for %s", #cond);                                       \
        timed_out = false;                                                                         \
    } while (0)

/* ---- A call whose events are collected ---- */

typedef struct call_out {
    slim_grpc_call *call;
    bool headers, closed;
    unsigned messages;
    unsigned bad_order;
    bool check_payloads; /* message i must equal payload(i) */
    slim_buf last;
    slim_status status;
    bool local;
    char message[256];
    slim_grpc_md header_md, trailers;
    /* pumping */
    unsigned next, total;
    unsigned writable;
} call_out;

/* Message i of the bidi test: "<i>:" followed by i % 64 patterned bytes. */
static size_t payload(unsigned i, uint8_t *out) {
    size_t n = (size_t)snprintf((char *)out, 16, "%u:", i);
    for (unsigned k = 0; k < i % 64; k++)
        out[n++] = (uint8_t)((i * 7 + k) % 256);
    return n;
}

static void c_on_headers(slim_grpc_call *call, void *data) {
    call_out *o = data;
    o->headers = true;
    CHECK_OK(slim_grpc_md_append(&o->header_md, slim_grpc_call_metadata(call)));
}

static void c_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    (void)call;
    call_out *o = data;
    if (o->check_payloads && o->messages < o->total) {
        uint8_t want[96];
        size_t n = payload(o->messages, want);
        if (msg.len != n || memcmp(msg.ptr, want, n) != 0)
            o->bad_order++;
    }
    o->messages++;
    o->last.len = 0;
    CHECK_OK(slim_buf_append(&o->last, msg.ptr, msg.len));
}

static void pump(call_out *o) {
    uint8_t buf[96];
    while (o->next < o->total) {
        size_t n = payload(o->next, buf);
        slim_status st = slim_grpc_call_send(o->call, slim_bytes_of(buf, n));
        if (st == SLIM_E_QUEUE_FULL)
            return; /* on_writable resumes */
        CHECK_OK(st);
        o->next++;
    }
}

static void c_on_writable(slim_grpc_call *call, void *data) {
    (void)call;
    call_out *o = data;
    o->writable++;
    pump(o);
    if (o->next == o->total)
        CHECK_OK(slim_grpc_call_close_send(o->call));
}

static void c_on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    call_out *o = data;
    o->closed = true;
    o->status = res->status;
    o->local = res->local;
    snprintf(o->message, sizeof o->message, "%.*s", (int)res->message.len, res->message.ptr);
    CHECK_OK(slim_grpc_md_append(&o->trailers, res->trailers));
    o->call = NULL;
}

static const slim_grpc_call_cbs cbs = {c_on_headers,  c_on_message, NULL,
                                       c_on_writable, c_on_close,   NULL};

static void open_call(call_out *o, const char *method, const slim_grpc_md *md,
                      uint64_t timeout_ms) {
    memset(o, 0, sizeof *o);
    slim_grpc_call_opts opts = {method, md, timeout_ms};
    CHECK_OK(slim_grpc_client_open(cli, &opts, &cbs, o, &o->call));
}

static void send_str(call_out *o, const char *s) {
    CHECK_OK(slim_grpc_call_send(o->call, slim_bytes_of(s, strlen(s))));
}

static void out_cleanup(call_out *o) {
    slim_buf_cleanup(&o->last);
    slim_grpc_md_cleanup(&o->header_md);
    slim_grpc_md_cleanup(&o->trailers);
}

static bool last_is(const call_out *o, const char *s) {
    return o->last.len == strlen(s) && memcmp(o->last.data, s, o->last.len) == 0;
}

/* A one-message call: sends `req`, half-closes, waits for the end. */
static void one_shot(call_out *o, const char *method, const slim_grpc_md *md, slim_bytes req,
                     uint64_t timeout_ms) {
    open_call(o, method, md, timeout_ms);
    CHECK_OK(slim_grpc_call_send(o->call, req));
    CHECK_OK(slim_grpc_call_close_send(o->call));
    RUN_UNTIL(o->closed);
}

/* ---- Cases ---- */

TEST(unary_with_metadata) {
    slim_grpc_md md = SLIM_GRPC_MD_INIT;
    static const uint8_t raw[] = {0x00, 0x01, 0xff, ',', 0x80};
    CHECK_OK(slim_grpc_md_add_str(&md, "x-text", "hello world"));
    CHECK_OK(slim_grpc_md_add(&md, "x-data-bin", slim_bytes_of(raw, sizeof raw)));
    call_out o;
    one_shot(&o, SVC "Unary", &md, slim_bytes_of("ping", 4), 0);
    slim_grpc_md_cleanup(&md);
    CHECK_STATUS(o.status, SLIM_OK);
    CHECK(o.headers);
    CHECK_EQ(o.messages, 1);
    CHECK(last_is(&o, "ping"));
    slim_bytes v;
    CHECK(slim_grpc_md_get(&o.header_md, "x-text", &v) && v.len == 11 &&
          memcmp(v.ptr, "hello world", 11) == 0);
    CHECK(slim_grpc_md_get(&o.header_md, "x-data-bin", &v) && v.len == sizeof raw &&
          memcmp(v.ptr, raw, sizeof raw) == 0);
    CHECK(slim_grpc_md_get(&o.trailers, "x-data-bin", &v) && v.len == sizeof raw &&
          memcmp(v.ptr, raw, sizeof raw) == 0);
    out_cleanup(&o);
}

static bool unary_done;
static slim_status unary_status;
static slim_buf unary_resp;

static void on_unary(const slim_grpc_result *res, slim_bytes resp, const slim_grpc_md *headers,
                     void *ud) {
    (void)headers;
    (void)ud;
    unary_done = true;
    unary_status = res->status;
    unary_resp.len = 0;
    CHECK_OK(slim_buf_append(&unary_resp, resp.ptr, resp.len));
}

/* The unary helper; returns the status, the response in unary_resp. */
static slim_status unary(const char *method, const char *req, uint64_t timeout_ms) {
    unary_done = false;
    slim_grpc_call_opts opts = {method, NULL, timeout_ms};
    CHECK_OK(slim_grpc_client_unary(cli, &opts, slim_bytes_of(req, strlen(req)), on_unary, NULL));
    RUN_UNTIL(unary_done);
    return unary_status;
}

static bool unary_resp_is(const char *s) {
    return unary_resp.len == strlen(s) && memcmp(unary_resp.data, s, unary_resp.len) == 0;
}

TEST(unary_helper_and_concurrency) {
    CHECK_OK(unary(SVC "Unary", "abc", 0));
    CHECK(unary_resp_is("abc"));
    /* 50 calls in flight at once on the one connection. */
    static call_out many[50];
    for (int i = 0; i < 50; i++) {
        open_call(&many[i], SVC "Unary", NULL, 0);
        send_str(&many[i], "m");
        CHECK_OK(slim_grpc_call_close_send(many[i].call));
    }
    for (int i = 0; i < 50; i++) {
        RUN_UNTIL(many[i].closed);
        CHECK_STATUS(many[i].status, SLIM_OK);
        CHECK(last_is(&many[i], "m"));
        out_cleanup(&many[i]);
    }
}

TEST(server_streaming) {
    call_out o;
    one_shot(&o, SVC "ServerStream", NULL, slim_bytes_of("1000", 4), 0);
    CHECK_STATUS(o.status, SLIM_OK);
    CHECK_EQ(o.messages, 1000);
    CHECK(last_is(&o, "item-999"));
    out_cleanup(&o);
}

TEST(bidi_ten_thousand_each_way_with_half_close) {
    call_out o;
    open_call(&o, SVC "Bidi", NULL, 0);
    o.total = 10000;
    o.check_payloads = true;
    pump(&o);
    if (o.next == o.total)
        CHECK_OK(slim_grpc_call_close_send(o.call));
    RUN_UNTIL(o.closed);
    CHECK_STATUS(o.status, SLIM_OK);
    CHECK_EQ(o.next, 10000);
    CHECK_EQ(o.messages, 10001);
    CHECK_EQ(o.bad_order, 0);
    CHECK(last_is(&o, "done:10000"));
    out_cleanup(&o);
}

TEST(unknown_method) {
    CHECK_STATUS(unary(SVC "Nope", "x", 0), SLIM_E_GRPC_UNIMPLEMENTED);
    CHECK_STATUS(unary("/no.Such/Method", "x", 0), SLIM_E_GRPC_UNIMPLEMENTED);
}

TEST(expired_deadline) {
    call_out o;
    one_shot(&o, SVC "Hang", NULL, slim_bytes_of("x", 1), 1000);
    CHECK_STATUS(o.status, SLIM_E_GRPC_DEADLINE_EXCEEDED);
    out_cleanup(&o);
    /* The grpcio handler saw our grpc-timeout (time_remaining <= 1 s). */
    CHECK_OK(unary(SVC "LastHang", "", 0));
    if (!unary_resp_is("deadline-seen"))
        TEST_FAIL_AT("server saw %.*s", (int)unary_resp.len, (const char *)unary_resp.data);
}

TEST(error_status_and_trailers) {
    call_out o;
    one_shot(&o, SVC "Fail", NULL, slim_bytes_of("", 0), 0);
    CHECK_STATUS(o.status, SLIM_E_GRPC_FAILED_PRECONDITION);
    CHECK(!o.local);
    CHECK_STR(o.message, "bad 100% \xc3\xbcnic\xc3\xb6"
                         "de\nline");
    slim_bytes v;
    CHECK(slim_grpc_md_get(&o.trailers, "x-why-bin", &v) && v.len == 5 &&
          memcmp(v.ptr, "\xde\xad\x00\xbe\xef", 5) == 0);
    out_cleanup(&o);
}

TEST(oversized_send_is_refused_and_stream_continues) {
    call_out o;
    open_call(&o, SVC "Bidi", NULL, 0);
    uint8_t *big = calloc(1, MAX_MSG + 1);
    CHECK_STATUS(slim_grpc_call_send(o.call, slim_bytes_of(big, MAX_MSG + 1)),
                 SLIM_E_TRANSPORT_MSG_TOO_LARGE);
    free(big);
    CHECK_EQ(slim_grpc_call_send_queued(o.call), 0);
    send_str(&o, "still here");
    CHECK_OK(slim_grpc_call_close_send(o.call));
    RUN_UNTIL(o.closed);
    CHECK_STATUS(o.status, SLIM_OK);
    CHECK_EQ(o.messages, 2);
    CHECK(last_is(&o, "done:1"));
    out_cleanup(&o);
}

TEST(oversized_receive_ends_that_call_only) {
    call_out keep, big;
    open_call(&keep, SVC "Bidi", NULL, 0);
    send_str(&keep, "one");
    RUN_UNTIL(keep.messages == 1);
    one_shot(&big, SVC "Big", NULL, slim_bytes_of("", 0), 0);
    CHECK_STATUS(big.status, SLIM_E_GRPC_RESOURCE_EXHAUSTED);
    CHECK(big.local);
    CHECK_EQ(big.messages, 0);
    CHECK(strstr(big.message, "larger than max") != NULL);
    out_cleanup(&big);
    /* The other stream and the connection carry on. */
    send_str(&keep, "two");
    RUN_UNTIL(keep.messages == 2);
    CHECK(last_is(&keep, "two"));
    CHECK_OK(slim_grpc_call_close_send(keep.call));
    RUN_UNTIL(keep.closed);
    CHECK_STATUS(keep.status, SLIM_OK);
    CHECK(last_is(&keep, "done:2"));
    out_cleanup(&keep);
    CHECK_OK(unary(SVC "Unary", "after", 0));
    CHECK(unary_resp_is("after"));
}

/* ---- Keepalive against grpcio's ping policy ----
 *
 * grpcio servers (gRPC core) allow a client one PING per 5 minutes while
 * they send no data, and send GOAWAY ENHANCE_YOUR_CALM "too_many_pings"
 * after the third that comes sooner. These cases use a 100 ms keepalive on
 * a silent stream: the first shows the client stays connected (it pings
 * once, then waits for the 5 minute floor), the second is the control: the
 * same client without the floor is thrown out. */

typedef struct ka_states {
    bool idle, failed;
    slim_status why;
} ka_states;

static void ka_on_state(slim_grpc_client *c, slim_grpc_conn_state st, slim_status why, void *ud) {
    (void)c;
    ka_states *k = ud;
    if (st == SLIM_GRPC_IDLE)
        k->idle = true;
    if (st == SLIM_GRPC_TRANSIENT_FAILURE || st == SLIM_GRPC_SHUTDOWN)
        k->failed = true;
    if (st != SLIM_GRPC_READY && st != SLIM_GRPC_CONNECTING)
        k->why = why;
}

static uv_timer_t pause_timer;
static bool paused_done;

static void on_pause_timer(uv_timer_t *t) {
    (void)t;
    paused_done = true;
}

/* Runs the loop for `ms`. */
static void run_for(uint64_t ms) {
    paused_done = false;
    uv_timer_start(&pause_timer, on_pause_timer, ms, 0);
    RUN_UNTIL(paused_done);
}

static slim_grpc_client *keepalive_client(uint64_t floor_ms, ka_states *k) {
    slim_grpc_config base = {0};
    base.keepalive_min_interval_ms = floor_ms; /* 0: the default 5 min */
    slim_client_config cc = ccfg;
    cc.keepalive.http2_keepalive_ms = 100;
    cc.keepalive.timeout_ms = 5000;
    slim_grpc_client *c;
    CHECK_OK(slim_grpc_client_new_config(&loop, &cc, &base, ka_on_state, k, &c));
    return c;
}

static void ka_open(slim_grpc_client *c, call_out *o) {
    memset(o, 0, sizeof *o);
    slim_grpc_call_opts opts = {SVC "Bidi", NULL, 0};
    CHECK_OK(slim_grpc_client_open(c, &opts, &cbs, o, &o->call));
}

TEST(keepalive_respects_grpc_ping_policy) {
    ka_states k = {0};
    slim_grpc_client *c = keepalive_client(0, &k);
    call_out o;
    ka_open(c, &o);
    send_str(&o, "a");
    RUN_UNTIL(o.messages == 1 || o.closed);
    run_for(1500); /* silent: a client pinging every 100 ms gets GOAWAY in ~0.4 s */
    slim_grpc_conn_stats st;
    slim_grpc_client_stats(c, &st);
    CHECK_EQ(st.pings_sent, 1); /* one, then the 5 minute floor */
    CHECK_EQ(st.ping_acks, 1);
    CHECK_EQ(st.goaways_received, 0);
    CHECK(!k.idle && !k.failed);
    CHECK(!o.closed);
    if (!o.closed) {
        send_str(&o, "b");
        RUN_UNTIL(o.messages == 2 || o.closed);
        CHECK_OK(slim_grpc_call_close_send(o.call));
        RUN_UNTIL(o.closed);
    }
    CHECK_STATUS(o.status, SLIM_OK);
    CHECK(last_is(&o, "done:2"));
    out_cleanup(&o);
    slim_grpc_client_free(c);
}

TEST(keepalive_without_the_floor_gets_too_many_pings) {
    ka_states k = {0};
    slim_grpc_client *c = keepalive_client(SLIM_GRPC_OFF, &k);
    call_out o;
    ka_open(c, &o);
    send_str(&o, "a");
    RUN_UNTIL(o.messages == 1 || o.closed);
    RUN_UNTIL(k.idle || k.failed || o.closed);
    RUN_UNTIL(o.closed);
    CHECK_STATUS(o.status, SLIM_E_GRPC_UNAVAILABLE);
    CHECK(strstr(slim_grpc_client_why(c), "ENHANCE_YOUR_CALM") != NULL);
    CHECK(strstr(slim_grpc_client_why(c), "too_many_pings") != NULL);
    fprintf(stderr, "interop_client: as expected: %s; the call: %s\n", slim_grpc_client_why(c),
            o.message);
    out_cleanup(&o);
    slim_grpc_client_free(c);
}

static const test_case keepalive_cases[] = {
    TEST_ENTRY(keepalive_respects_grpc_ping_policy),
    TEST_ENTRY(keepalive_without_the_floor_gets_too_many_pings),
};

static const test_case cases[] = {
    TEST_ENTRY(unary_with_metadata),
    TEST_ENTRY(unary_helper_and_concurrency),
    TEST_ENTRY(server_streaming),
    TEST_ENTRY(bidi_ten_thousand_each_way_with_half_close),
    TEST_ENTRY(unknown_method),
    TEST_ENTRY(expired_deadline),
    TEST_ENTRY(error_status_and_trailers),
    TEST_ENTRY(oversized_send_is_refused_and_stream_continues),
    TEST_ENTRY(oversized_receive_ends_that_call_only),
};

static void on_state(slim_grpc_client *c, slim_grpc_conn_state st, slim_status why, void *ud) {
    (void)ud;
    if (st == SLIM_GRPC_TRANSIENT_FAILURE || st == SLIM_GRPC_SHUTDOWN)
        fprintf(stderr, "interop_client: %s: %s (%s)\n", slim_grpc_conn_state_name(st),
                slim_grpc_client_why(c), slim_status_name(why));
}

static bool failed_done;
static slim_status failed_why;

static void on_state_expect_fail(slim_grpc_client *c, slim_grpc_conn_state st, slim_status why,
                                 void *ud) {
    (void)ud;
    if (st == SLIM_GRPC_READY)
        fprintf(stderr, "interop_client: READY, but a failure was expected\n");
    if (st == SLIM_GRPC_SHUTDOWN || st == SLIM_GRPC_READY) {
        failed_done = true;
        failed_why = st == SLIM_GRPC_READY ? SLIM_OK : why;
        fprintf(stderr, "interop_client: %s: %s (%s)\n", slim_grpc_conn_state_name(st),
                slim_grpc_client_why(c), slim_status_name(why));
    }
}

static int usage(void) {
    fprintf(stderr, "usage: interop_client [--ca F] [--cert F --key F] [--name N] "
                    "[--expect-fail STATUS] <target> [case...]\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *expect_fail = NULL;
    slim_client_config_defaults(&ccfg);
    ccfg.tls.include_system_ca = false;
    ccfg.backoff.max_attempts = 0; /* one connection: a failure is final */
    int a = 1;
    for (; a + 1 < argc && strncmp(argv[a], "--", 2) == 0; a += 2) {
        if (strcmp(argv[a], "--ca") == 0)
            ccfg.tls.ca_file = argv[a + 1];
        else if (strcmp(argv[a], "--cert") == 0)
            ccfg.tls.cert_file = argv[a + 1];
        else if (strcmp(argv[a], "--key") == 0)
            ccfg.tls.key_file = argv[a + 1];
        else if (strcmp(argv[a], "--name") == 0)
            ccfg.tls.server_name = argv[a + 1];
        else if (strcmp(argv[a], "--expect-fail") == 0)
            expect_fail = argv[a + 1];
        else
            return usage();
    }
    if (a >= argc)
        return usage();
    target = argv[a];
    ccfg.endpoint = (char *)target;
    ccfg.tls.insecure = strncmp(target, "https://", 8) != 0;
    uv_loop_init(&loop);
    uv_timer_init(&loop, &watchdog);
    uv_unref((uv_handle_t *)&watchdog);
    uv_timer_init(&loop, &pause_timer);
    uv_unref((uv_handle_t *)&pause_timer);
    int rc;
    if (expect_fail != NULL) {
        if (slim_grpc_client_new_config(&loop, &ccfg, NULL, on_state_expect_fail, NULL, &cli) !=
            SLIM_OK)
            return 2;
        RUN_UNTIL(failed_done);
        rc = strcmp(slim_status_name(failed_why), expect_fail) == 0 ? 0 : 1;
        printf("%s expected %s, got %s\n", rc == 0 ? "ok  " : "FAIL", expect_fail,
               slim_status_name(failed_why));
    } else {
        if (slim_grpc_client_new_config(&loop, &ccfg, NULL, on_state, NULL, &cli) != SLIM_OK)
            return 2;
        /* test_run filters by the names after the target; the keepalive
         * cases run only when named. */
        bool ka = argc > a + 1 && strncmp(argv[a + 1], "keepalive", 9) == 0;
        rc = ka ? test_run(keepalive_cases, sizeof keepalive_cases / sizeof keepalive_cases[0],
                           argc - a, argv + a)
                : test_run(cases, sizeof cases / sizeof cases[0], argc - a, argv + a);
    }
    slim_grpc_client_free(cli);
    uv_close((uv_handle_t *)&pause_timer, NULL);
    slim_buf_cleanup(&unary_resp);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "interop_client: handles left open\n");
        return 1;
    }
    return rc;
}
