/* TLS for the gRPC transport, in process: TLS 1.3 with ALPN h2, server
 * name and IP checks, the server_name override, insecure_skip_verify,
 * mutual TLS, PEM text settings; and every refusal with its named status
 * on the side that detects it and a log line saying why. Certificates come
 * from tests/transport_certs.sh. The openssl CLI (s_client) plays a client
 * with versions and ALPN lists our client never offers. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- Server ---- */

static void echo_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)ud;
    slim_grpc_call_send(call, req);
    slim_grpc_call_finish(call, SLIM_OK, NULL, NULL);
}

static void bidi_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    (void)data;
    CHECK_OK(slim_grpc_call_send(call, msg));
}

static void bidi_on_half_close(slim_grpc_call *call, void *data) {
    (void)data;
    slim_grpc_call_finish(call, SLIM_OK, NULL, NULL);
}

static void bidi_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)call;
    (void)req;
    (void)ud;
}

/* Answers "<:authority> <x-node header>". */
static void who_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)req;
    (void)ud;
    slim_str a = slim_grpc_call_authority(call);
    slim_bytes node = {(const uint8_t *)"-", 1};
    slim_grpc_md_get(slim_grpc_call_metadata(call), "x-node", &node);
    char out[300];
    int n = snprintf(out, sizeof out, "%.*s %.*s", (int)a.len, a.ptr, (int)node.len,
                     (const char *)node.ptr);
    slim_grpc_call_send(call, slim_bytes_of(out, (size_t)n));
    slim_grpc_call_finish(call, SLIM_OK, NULL, NULL);
}

static const slim_grpc_method methods[] = {
    {"/t.T/Echo", SLIM_GRPC_UNARY, echo_on_call, {0}, NULL},
    {"/t.T/Who", SLIM_GRPC_UNARY, who_on_call, {0}, NULL},
    {"/t.T/Bidi",
     SLIM_GRPC_BIDI_STREAMING,
     bidi_on_call,
     {NULL, bidi_on_message, bidi_on_half_close, NULL, NULL, NULL},
     NULL},
};

static slim_tls_config tls_cfg(const char *cert, const char *key) {
    slim_tls_config t;
    memset(&t, 0, sizeof t);
    t.version = SLIM_TLS_1_3;
    if (cert != NULL) {
        t.cert_file = (char *)fx_cert(cert);
        t.key_file = (char *)fx_cert(key);
    }
    return t;
}

static slim_grpc_server *srv;
static char addr[128]; /* 127.0.0.1:port */
static char port[8];

static void server_up(const slim_tls_config *t) {
    CHECK_OK(slim_grpc_server_new(&FX.loop, NULL, &srv));
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        CHECK_OK(slim_grpc_server_add_method(srv, &methods[i]));
    CHECK_OK(slim_grpc_server_listen_tls(srv, "127.0.0.1:0", t, NULL, addr, sizeof addr));
    snprintf(port, sizeof port, "%s", strrchr(addr, ':') + 1);
}

static void server_down(void) {
    slim_grpc_server_free(srv);
    srv = NULL;
}

/* ---- Client ---- */

typedef struct unary_out {
    bool done;
    slim_status status;
    char message[256];
    char resp[64];
} unary_out;

static void on_unary(const slim_grpc_result *res, slim_bytes resp, const slim_grpc_md *headers,
                     void *ud) {
    (void)headers;
    unary_out *o = ud;
    o->done = true;
    o->status = res->status;
    snprintf(o->message, sizeof o->message, "%.*s", (int)res->message.len, res->message.ptr);
    snprintf(o->resp, sizeof o->resp, "%.*s", (int)resp.len, (const char *)resp.ptr);
}

/* A client for `cc`; checks that one unary echo works over it. */
static void echo_through(const slim_client_config *cc) {
    fx_states st = {0};
    slim_grpc_client *cli;
    CHECK_OK(slim_grpc_client_new_config(&FX.loop, cc, NULL, fx_on_state, &st, &cli));
    unary_out o = {0};
    slim_grpc_call_opts opts = {"/t.T/Echo", NULL, 0};
    CHECK_OK(slim_grpc_client_unary(cli, &opts, slim_bytes_of("over tls", 8), on_unary, &o));
    FX_WAIT(o.done, 10000);
    CHECK_STATUS(o.status, SLIM_OK);
    CHECK_STR(o.resp, "over tls");
    CHECK(fx_find_state(&st, 0, SLIM_GRPC_READY) >= 0);
    slim_grpc_client_free(cli);
}

/* A client for `cc` that must fail: its one attempt ends with `want`
 * (SHUTDOWN, no retries), and a call opened while connecting ends with
 * UNAVAILABLE and the cause. */
static void refused(const slim_client_config *cc, slim_status want, const char *because) {
    fx_states st = {0};
    slim_grpc_client *cli;
    CHECK_OK(slim_grpc_client_new_config(&FX.loop, cc, NULL, fx_on_state, &st, &cli));
    unary_out o = {0};
    slim_grpc_call_opts opts = {"/t.T/Echo", NULL, 0};
    CHECK_OK(slim_grpc_client_unary(cli, &opts, slim_bytes_of("x", 1), on_unary, &o));
    FX_WAIT(o.done && fx_find_state(&st, 0, SLIM_GRPC_SHUTDOWN) >= 0, 10000);
    CHECK_STATUS(o.status, SLIM_E_GRPC_UNAVAILABLE);
    int i = fx_find_state(&st, 0, SLIM_GRPC_SHUTDOWN);
    if (i >= 0)
        CHECK_STATUS(st.why[i], want);
    CHECK(fx_find_state(&st, 0, SLIM_GRPC_READY) < 0);
    if (strstr(slim_grpc_client_why(cli), because) == NULL)
        TEST_FAIL_AT("client cause \"%s\" lacks \"%s\"", slim_grpc_client_why(cli), because);
    if (strstr(o.message, because) == NULL)
        TEST_FAIL_AT("call message \"%s\" lacks \"%s\"", o.message, because);
    slim_grpc_client_free(cli);
}

static void wait_log(const char *needle) {
    FX_WAIT(fx_logs_have(needle), 10000);
}

static char url[160];

static const char *https(const char *host) {
    snprintf(url, sizeof url, "https://%s:%s", host, port);
    return url;
}

/* A client config for https://host:port trusting `ca`. */
static void tls_client(slim_client_config *cc, const char *host, const char *ca) {
    fx_client_config(cc, https(host));
    cc->tls.ca_file = (char *)fx_cert(ca);
}

/* ---- Working setups ---- */

TEST(tls13_alpn_h2_name_and_ip_verified) {
    fx_up();
    fx_logs_capture();
    slim_tls_config t = tls_cfg("server.pem", "server.key");
    server_up(&t);
    slim_client_config cc;
    tls_client(&cc, "localhost", "ca.pem");
    echo_through(&cc); /* DNS SAN */
    wait_log("TLSv1.3");
    tls_client(&cc, "127.0.0.1", "ca.pem");
    echo_through(&cc); /* IP SAN */
    server_down();
    fx_logs_release();
    fx_down();
}

TEST(server_name_override_and_skip_verify) {
    fx_up();
    slim_tls_config t = tls_cfg("wrongname.pem", "wrongname.key");
    server_up(&t);
    slim_client_config cc;
    tls_client(&cc, "127.0.0.1", "ca.pem");
    cc.tls.server_name = "other.example";
    echo_through(&cc);
    fx_client_config(&cc, https("localhost"));
    cc.tls.insecure_skip_verify = true; /* neither name nor chain checked */
    echo_through(&cc);
    server_down();
    fx_down();
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    static char bufs[4][8192];
    static int next;
    char *b = bufs[next++ % 4];
    size_t n = fread(b, 1, sizeof bufs[0] - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

TEST(mutual_tls_with_files_and_pem_text) {
    fx_up();
    slim_tls_config t = tls_cfg("server.pem", "server.key");
    t.client_ca_file = (char *)fx_cert("ca.pem");
    server_up(&t);
    slim_client_config cc;
    tls_client(&cc, "localhost", "ca.pem");
    cc.tls.cert_file = (char *)fx_cert("client.pem");
    cc.tls.key_file = (char *)fx_cert("client.key");
    echo_through(&cc);
    /* The same, every certificate given as PEM text, on a second server
     * whose settings are PEM text too. */
    server_down();
    slim_tls_config p;
    memset(&p, 0, sizeof p);
    p.version = SLIM_TLS_1_3;
    p.cert_pem = read_file(fx_cert("server.pem"));
    p.key_pem = read_file(fx_cert("server.key"));
    p.client_ca_pem = read_file(fx_cert("ca.pem"));
    server_up(&p);
    fx_client_config(&cc, https("localhost"));
    cc.tls.ca_pem = read_file(fx_cert("ca.pem"));
    cc.tls.cert_pem = read_file(fx_cert("client.pem"));
    cc.tls.key_pem = read_file(fx_cert("client.key"));
    echo_through(&cc);
    server_down();
    fx_down();
}

/* 2000 messages of 1 KiB each way over one TLS stream: records split
 * across reads and writes, and the held-back first write of each side. */
typedef struct bidi_out {
    unsigned got, bad;
    bool closed;
    slim_status status;
} bidi_out;

static void b_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    (void)call;
    bidi_out *o = data;
    if (msg.len != 1024 || msg.ptr[0] != (uint8_t)o->got || msg.ptr[1023] != (uint8_t)~o->got)
        o->bad++;
    o->got++;
}

static void b_on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    bidi_out *o = data;
    o->closed = true;
    o->status = res->status;
}

TEST(bidi_volume_over_tls) {
    fx_up();
    slim_tls_config t = tls_cfg("server.pem", "server.key");
    server_up(&t);
    slim_client_config cc;
    tls_client(&cc, "localhost", "ca.pem");
    slim_grpc_client *cli;
    CHECK_OK(slim_grpc_client_new_config(&FX.loop, &cc, NULL, NULL, NULL, &cli));
    static const slim_grpc_call_cbs cbs = {NULL, b_on_message, NULL, NULL, b_on_close, NULL};
    bidi_out o = {0};
    slim_grpc_call *call;
    slim_grpc_call_opts opts = {"/t.T/Bidi", NULL, 0};
    CHECK_OK(slim_grpc_client_open(cli, &opts, &cbs, &o, &call));
    uint8_t m[1024];
    for (unsigned i = 0; i < 2000; i++) {
        memset(m, 0x5a, sizeof m);
        m[0] = (uint8_t)i;
        m[1023] = (uint8_t)~i;
        CHECK_OK(slim_grpc_call_send(call, slim_bytes_of(m, sizeof m)));
    }
    CHECK_OK(slim_grpc_call_close_send(call));
    FX_WAIT(o.closed, 20000);
    CHECK_STATUS(o.status, SLIM_OK);
    CHECK_EQ(o.got, 2000);
    CHECK_EQ(o.bad, 0);
    slim_grpc_client_free(cli);
    server_down();
    fx_down();
}

/* ---- Refusals: a named status on each side, and a log line ---- */

TEST(wrong_ca_expired_and_wrong_name) {
    fx_up();
    fx_logs_capture();
    slim_tls_config t = tls_cfg("server.pem", "server.key");
    server_up(&t);
    slim_client_config cc;
    tls_client(&cc, "localhost", "other-ca.pem");
    refused(&cc, SLIM_E_TLS_CERT_UNTRUSTED, "server certificate verify failed");
    CHECK(fx_logs_have("E_TLS_CERT_UNTRUSTED"));
    /* The client's alert tells the server why. */
    wait_log("the peer rejected our certificate (alert: tlsv1 alert unknown ca) "
             "(E_TLS_CERT_REJECTED)");
    server_down();

    t = tls_cfg("expired.pem", "expired.key");
    server_up(&t);
    tls_client(&cc, "localhost", "ca.pem");
    refused(&cc, SLIM_E_TLS_CERT_EXPIRED, "certificate has expired");
    CHECK(fx_logs_have("E_TLS_CERT_EXPIRED"));
    server_down();

    t = tls_cfg("wrongname.pem", "wrongname.key");
    server_up(&t);
    tls_client(&cc, "localhost", "ca.pem");
    refused(&cc, SLIM_E_TLS_CERT_NAME_MISMATCH, "hostname mismatch (expected localhost)");
    tls_client(&cc, "127.0.0.1", "ca.pem");
    refused(&cc, SLIM_E_TLS_CERT_NAME_MISMATCH, "IP address mismatch");
    CHECK(fx_logs_have("E_TLS_CERT_NAME_MISMATCH"));
    server_down();
    fx_logs_release();
    fx_down();
}

TEST(mutual_tls_refusals) {
    fx_up();
    fx_logs_capture();
    slim_tls_config t = tls_cfg("server.pem", "server.key");
    t.client_ca_file = (char *)fx_cert("ca.pem");
    server_up(&t);
    slim_client_config cc;
    tls_client(&cc, "localhost", "ca.pem");
    refused(&cc, SLIM_E_TLS_NO_CLIENT_CERT, "requires a client certificate");
    wait_log("the client sent no certificate and this server requires one (mutual TLS) "
             "(E_TLS_NO_CLIENT_CERT)");
    tls_client(&cc, "localhost", "ca.pem");
    cc.tls.cert_file = (char *)fx_cert("other-client.pem");
    cc.tls.key_file = (char *)fx_cert("other-client.key");
    refused(&cc, SLIM_E_TLS_CERT_REJECTED, "the peer rejected our certificate");
    wait_log("client certificate verify failed: unable to get local issuer certificate "
             "(E_TLS_CERT_UNTRUSTED)");
    /* both ended on a TLS error, and the server counted them */
    slim_grpc_server_stats ss;
    slim_grpc_server_stats_get(srv, &ss);
    while (ss.open > 0 && uv_run(&FX.loop, UV_RUN_ONCE) != 0)
        slim_grpc_server_stats_get(srv, &ss);
    CHECK_U64(ss.tls_failed, 2);
    CHECK_U64(ss.accepted, 2);
    server_down();
    fx_logs_release();
    fx_down();
}

TEST(plaintext_against_tls_and_the_reverse) {
    fx_up();
    fx_logs_capture();
    slim_tls_config t = tls_cfg("server.pem", "server.key");
    server_up(&t);
    char plain[160];
    snprintf(plain, sizeof plain, "http://127.0.0.1:%s", port);
    slim_client_config cc;
    fx_client_config(&cc, plain);
    refused(&cc, SLIM_E_TLS_PEER_REQUIRES_TLS, "TLS required on this port");
    wait_log("plaintext peer on a TLS port: it sent an HTTP/2 preface without TLS");
    CHECK(fx_logs_have("E_TLS_PLAINTEXT_PEER"));
    server_down();

    /* A TLS client against an h2c server. */
    server_up(NULL);
    tls_client(&cc, "127.0.0.1", "ca.pem");
    refused(&cc, SLIM_E_TLS_PLAINTEXT_PEER, "the server answered in plaintext");
    wait_log("a TLS client on a plaintext port");
    server_down();
    fx_logs_release();
    fx_down();
}

TEST(unusable_settings_are_refused_at_start) {
    fx_up();
    fx_logs_capture();
    CHECK_OK(slim_grpc_server_new(&FX.loop, NULL, &srv));
    slim_tls_config t = tls_cfg("server.pem", "client.key");
    CHECK_STATUS(slim_grpc_server_listen_tls(srv, "127.0.0.1:0", &t, NULL, NULL, 0),
                 SLIM_E_TLS_CONFIG);
    CHECK(fx_logs_have("the certificate and the key do not match"));
    t = tls_cfg("server.pem", "server.key");
    t.key_file = "/nonexistent/key.pem";
    CHECK_STATUS(slim_grpc_server_listen_tls(srv, "127.0.0.1:0", &t, NULL, NULL, 0),
                 SLIM_E_TLS_CONFIG);
    CHECK(fx_logs_have("cannot load key /nonexistent/key.pem: No such file or directory"));
    t = tls_cfg(NULL, NULL);
    CHECK_STATUS(slim_grpc_server_listen_tls(srv, "127.0.0.1:0", &t, NULL, NULL, 0),
                 SLIM_E_TLS_CONFIG);
    slim_grpc_server_free(srv);
    srv = NULL;
    /* A client with nothing to verify the server with. */
    slim_client_config cc;
    fx_client_config(&cc, "https://localhost:1");
    slim_grpc_client *cli = NULL;
    CHECK_STATUS(slim_grpc_client_new_config(&FX.loop, &cc, NULL, NULL, NULL, &cli),
                 SLIM_E_TLS_CONFIG);
    CHECK(fx_logs_have("nothing to verify the server with"));
    fx_logs_release();
    fx_down();
}

/* ---- SLIM YAML, parsed by the config model, straight into the transport ---- */

static slim_cfg_doc *yaml(const char *text) {
    slim_cfg_doc *d = NULL;
    slim_cfg_error err;
    slim_status st = slim_cfg_load_string(text, strlen(text), "t.yaml", &d, &err);
    if (st != SLIM_OK)
        TEST_FAIL_AT("yaml: %s", err.msg);
    return d;
}

TEST(slim_yaml_configs_go_straight_to_the_transport) {
    fx_up();
    char text[2048];
    snprintf(text, sizeof text,
             "s:\n"
             "  endpoint: \"127.0.0.1:0\"\n"
             "  tls:\n"
             "    source: {type: file, cert: \"%s\", key: \"%s\"}\n"
             "    client_ca: {type: file, path: \"%s\"}\n"
             "  keepalive: {time: 50ms, timeout: 2s}\n"
             "  max_concurrent_streams: 10\n",
             fx_cert("server.pem"), fx_cert("server.key"), fx_cert("ca.pem"));
    slim_cfg_doc *d = yaml(text);
    slim_server_config sc;
    slim_cfg_error err;
    CHECK_OK(slim_server_config_parse(d, slim_cfg_get(d->root, "s"), "s", &sc, NULL, NULL, &err));
    slim_cfg_free(d);
    CHECK_OK(slim_grpc_server_new(&FX.loop, NULL, &srv));
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        CHECK_OK(slim_grpc_server_add_method(srv, &methods[i]));
    CHECK_OK(slim_grpc_server_listen_config(srv, &sc, addr, sizeof addr));
    slim_server_config_cleanup(&sc);
    snprintf(port, sizeof port, "%s", strrchr(addr, ':') + 1);

    snprintf(text, sizeof text,
             "c:\n"
             "  endpoint: \"https://localhost:%s\"\n"
             "  origin: \"https://slim.example:443\"\n"
             "  tls:\n"
             "    ca_source: {type: file, path: \"%s\"}\n"
             "    source: {type: file, cert: \"%s\", key: \"%s\"}\n"
             "    include_system_ca_certs_pool: false\n"
             "  keepalive: {http2_keepalive: 30s, timeout: 5s}\n"
             "  backoff: {type: fixed_interval, interval: 10ms, max_attempts: 0}\n"
             "  headers: {x-node: node-a}\n",
             port, fx_cert("ca.pem"), fx_cert("client.pem"), fx_cert("client.key"));
    d = yaml(text);
    slim_client_config cc;
    CHECK_OK(slim_client_config_parse(d, slim_cfg_get(d->root, "c"), "c", &cc, NULL, NULL, &err));
    slim_cfg_free(d);
    fx_states st = {0};
    slim_grpc_client *cli;
    CHECK_OK(slim_grpc_client_new_config(&FX.loop, &cc, NULL, fx_on_state, &st, &cli));
    slim_client_config_cleanup(&cc); /* read at creation, not kept */
    unary_out o = {0};
    slim_grpc_call_opts opts = {"/t.T/Who", NULL, 0};
    CHECK_OK(slim_grpc_client_unary(cli, &opts, slim_bytes_of("", 0), on_unary, &o));
    FX_WAIT(o.done, 10000);
    CHECK_STATUS(o.status, SLIM_OK);
    CHECK_STR(o.resp, "slim.example:443 node-a"); /* origin and headers applied */
    /* The server pings every 50 ms (its keepalive.time); the connection
     * stays up and calls keep working. */
    fx_run_for(300);
    memset(&o, 0, sizeof o);
    CHECK_OK(slim_grpc_client_unary(cli, &opts, slim_bytes_of("", 0), on_unary, &o));
    FX_WAIT(o.done, 10000);
    CHECK_STATUS(o.status, SLIM_OK);
    CHECK_EQ(st.n, 1); /* READY, nothing else */
    slim_grpc_client_free(cli);
    server_down();
    fx_down();
}

/* ---- The TLS pipe alone, under an upper layer that writes from on_read ----
 *
 * An echo over two TLS pipes whose users write from inside on_read (the
 * HTTP/2 layer never does; a raw user may): a write there must not disturb
 * the read in progress (OpenSSL's retry state lives in the BIO both
 * directions share). 4 MiB go round in 8 KiB pieces, the first 64 one at a
 * time. */

#include "transport/tls.h"

typedef struct pipe_end {
    slim_io *io;
    slim_buf pending; /* waiting for the write in flight */
    slim_buf inflight;
    bool writing, closed, failed;
    size_t got;
    uint8_t next; /* expected byte value (client) */
    size_t bad;
    bool echo;
} pipe_end;

static void pe_write(pipe_end *p) {
    if (p->writing || p->pending.len == 0)
        return;
    slim_buf t = p->inflight;
    p->inflight = p->pending;
    p->pending = t;
    p->pending.len = 0;
    p->writing = true;
    CHECK_OK(slim_io_write(p->io, slim_buf_view(&p->inflight)));
}

static void pe_on_read(slim_io *io, slim_bytes d, void *ud) {
    (void)io;
    pipe_end *p = ud;
    if (p->echo) {
        CHECK_OK(slim_buf_append(&p->pending, d.ptr, d.len));
        pe_write(p); /* from inside on_read */
        return;
    }
    for (size_t i = 0; i < d.len; i++)
        if (d.ptr[i] != p->next++)
            p->bad++;
    p->got += d.len;
}

static void pe_on_write_done(slim_io *io, slim_status st, void *ud) {
    (void)io;
    pipe_end *p = ud;
    p->writing = false;
    if (st != SLIM_OK)
        p->failed = true;
    else
        pe_write(p);
}

static void pe_on_read_end(slim_io *io, slim_status st, void *ud) {
    pipe_end *p = ud;
    if (st != SLIM_E_TRANSPORT_CONN_LOST)
        p->failed = true;
    slim_io_close(io);
}

static void pe_on_closed(slim_io *io, void *ud) {
    (void)io;
    pipe_end *p = ud;
    p->closed = true;
    slim_buf_cleanup(&p->pending);
    slim_buf_cleanup(&p->inflight);
}

static const slim_io_events pe_events = {pe_on_read, pe_on_write_done, pe_on_read_end,
                                         pe_on_closed};

static pipe_end srv_end, cli_end;
static slim_tls_ctx *srv_ctx;

static void pe_on_connection(uv_stream_t *l, int status) {
    CHECK_EQ(status, 0);
    slim_io *io;
    CHECK_OK(slim_io_tcp_new(l->loop, &io));
    CHECK_EQ(uv_accept(l, slim_io_stream(io)), 0);
    CHECK_OK(slim_io_tls_new(srv_ctx, io, NULL, &srv_end.io));
    srv_end.echo = true;
    CHECK_OK(slim_io_start(srv_end.io, &pe_events, &srv_end));
}

static bool pe_connected;

static void pe_on_connect(uv_connect_t *req, int status) {
    (void)req;
    CHECK_EQ(status, 0);
    pe_connected = true;
}

TEST(tls_pipe_with_writes_from_on_read) {
    fx_up();
    memset(&srv_end, 0, sizeof srv_end);
    memset(&cli_end, 0, sizeof cli_end);
    char err[256];
    slim_tls_config st = tls_cfg("server.pem", "server.key");
    CHECK_OK(slim_tls_ctx_new(&st, true, &srv_ctx, err, sizeof err));
    slim_tls_config ct = tls_cfg(NULL, NULL);
    ct.ca_file = (char *)fx_cert("ca.pem");
    slim_tls_ctx *cli_ctx;
    CHECK_OK(slim_tls_ctx_new(&ct, false, &cli_ctx, err, sizeof err));
    uv_tcp_t l;
    uv_tcp_init(&FX.loop, &l);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    CHECK_EQ(uv_tcp_bind(&l, (const struct sockaddr *)&sa, 0), 0);
    CHECK_EQ(uv_listen((uv_stream_t *)&l, 4, pe_on_connection), 0);
    int len = sizeof sa;
    uv_tcp_getsockname(&l, (struct sockaddr *)&sa, &len);
    slim_io *plain;
    CHECK_OK(slim_io_tcp_new(&FX.loop, &plain));
    uv_connect_t creq;
    pe_connected = false;
    CHECK_EQ(uv_tcp_connect(&creq, (uv_tcp_t *)slim_io_stream(plain), (const struct sockaddr *)&sa,
                            pe_on_connect),
             0);
    FX_WAIT(pe_connected, 5000);
    CHECK_OK(slim_io_tls_new(cli_ctx, plain, "localhost", &cli_end.io));
    CHECK_OK(slim_io_start(cli_end.io, &pe_events, &cli_end));
    const size_t total = 4u << 20;
    uint8_t chunk[8192];
    uint8_t v = 0;
    /* One piece at a time first: the echo's write then always starts from
     * inside on_read, right after OpenSSL ran out of input. */
    for (int i = 0; i < 64; i++) {
        for (size_t k = 0; k < sizeof chunk; k++)
            chunk[k] = v++;
        CHECK_OK(slim_buf_append(&cli_end.pending, chunk, sizeof chunk));
        pe_write(&cli_end);
        FX_WAIT(cli_end.got == (size_t)(i + 1) * sizeof chunk || cli_end.failed || srv_end.failed,
                5000);
    }
    for (size_t sent = 64 * sizeof chunk; sent < total; sent += sizeof chunk) {
        for (size_t i = 0; i < sizeof chunk; i++)
            chunk[i] = v++;
        CHECK_OK(slim_buf_append(&cli_end.pending, chunk, sizeof chunk));
        pe_write(&cli_end);
        if (cli_end.pending.len > (1u << 20))
            FX_WAIT(cli_end.pending.len < (1u << 20) || cli_end.failed, 10000);
    }
    FX_WAIT(cli_end.got == total || cli_end.failed || srv_end.failed, 20000);
    CHECK_U64(cli_end.got, total);
    CHECK_EQ(cli_end.bad, 0);
    CHECK(!cli_end.failed && !srv_end.failed);
    slim_io_close(cli_end.io);
    FX_WAIT(cli_end.closed && srv_end.closed, 5000);
    uv_close((uv_handle_t *)&l, NULL);
    slim_tls_ctx_unref(srv_ctx);
    slim_tls_ctx_unref(cli_ctx);
    fx_down();
}

/* ---- Versions and ALPN, with openssl s_client as the peer ---- */

typedef struct proc {
    uv_process_t p;
    bool exited;
    int64_t status;
} proc;

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
    (void)sig;
    proc *pr = p->data;
    pr->exited = true;
    pr->status = status;
    uv_close((uv_handle_t *)p, NULL);
}

/* Runs s_client with `extra` options against the server; returns its exit
 * status and what it printed in `out`. */
static int64_t s_client(const char *extra1, const char *extra2, char *out, size_t cap) {
    char outfile[64];
    snprintf(outfile, sizeof outfile, "/tmp/slim-sclient-%d.txt", (int)getpid());
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "exec openssl s_client -connect 127.0.0.1:%s -servername localhost -CAfile '%s' "
             "-verify_return_error %s %s </dev/null >'%s' 2>&1",
             port, fx_cert("ca.pem"), extra1, extra2, outfile);
    char *args[] = {"/bin/sh", "-c", cmd, NULL};
    proc pr = {0};
    pr.p.data = &pr;
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.file = "/bin/sh";
    o.args = args;
    o.exit_cb = on_exit_cb;
    CHECK_EQ(uv_spawn(&FX.loop, &pr.p, &o), 0);
    FX_WAIT(pr.exited, 20000);
    FILE *f = fopen(outfile, "r");
    size_t n = f != NULL ? fread(out, 1, cap - 1, f) : 0;
    out[n] = '\0';
    if (f != NULL)
        fclose(f);
    remove(outfile);
    return pr.status;
}

TEST(versions_and_alpn) {
    fx_up();
    fx_logs_capture();
    static char out[32768];
    slim_tls_config t = tls_cfg("server.pem", "server.key");
    server_up(&t); /* TLS 1.3 only */
    CHECK_EQ(s_client("-alpn h2", "", out, sizeof out), 0);
    CHECK(strstr(out, "TLSv1.3") != NULL);
    CHECK(strstr(out, "ALPN protocol: h2") != NULL);
    CHECK(s_client("-alpn h2", "-tls1_2", out, sizeof out) != 0);
    wait_log("(E_TLS_VERSION)");
    CHECK(s_client("-alpn http/1.1", "", out, sizeof out) != 0 ||
          strstr(out, "ALPN protocol: h2") == NULL);
    wait_log("no common application protocol: gRPC needs ALPN h2 (E_TLS_ALPN)");
    fx_logs_clear();
    (void)s_client("", "", out, sizeof out); /* no ALPN at all */
    wait_log("the peer did not negotiate ALPN h2 (it offered no ALPN) (E_TLS_ALPN)");
    server_down();
    t.version = SLIM_TLS_1_2; /* 1.2 allowed by configuration */
    server_up(&t);
    CHECK_EQ(s_client("-alpn h2", "-tls1_2", out, sizeof out), 0);
    CHECK(strstr(out, "Protocol  : TLSv1.2") != NULL);
    server_down();
    fx_logs_release();
    fx_down();
}

TEST_MAIN(TEST_ENTRY(tls13_alpn_h2_name_and_ip_verified),
          TEST_ENTRY(server_name_override_and_skip_verify),
          TEST_ENTRY(mutual_tls_with_files_and_pem_text), TEST_ENTRY(bidi_volume_over_tls),
          TEST_ENTRY(wrong_ca_expired_and_wrong_name), TEST_ENTRY(mutual_tls_refusals),
          TEST_ENTRY(plaintext_against_tls_and_the_reverse),
          TEST_ENTRY(unusable_settings_are_refused_at_start),
          TEST_ENTRY(slim_yaml_configs_go_straight_to_the_transport),
          TEST_ENTRY(tls_pipe_with_writes_from_on_read), TEST_ENTRY(versions_and_alpn))
