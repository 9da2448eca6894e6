/* Unit tests for src/config/endpoint.c: both TLS spellings, keepalive,
 * backoff, and the keys that must stop a config. */
#include "test.h"
#include "config/endpoint.h"

static char warned[8][256];
static int nwarned;

static void on_warn(const char *path, unsigned line, const char *why, void *ud) {
    (void)ud;
    if (nwarned < 8)
        snprintf(warned[nwarned], sizeof warned[0], "%u %s: %s", line, path, why);
    nwarned++;
}

static slim_status server(const char *yaml, slim_server_config *out, slim_cfg_error *err) {
    slim_cfg_doc *d = NULL;
    slim_status st = slim_cfg_load_string(yaml, strlen(yaml), "t.yaml", &d, err);
    if (st != SLIM_OK)
        return st;
    nwarned = 0;
    st = slim_server_config_parse(d, slim_cfg_get(d->root, "s"), "s", out, on_warn, NULL, err);
    slim_cfg_free(d);
    return st;
}

static slim_status client(const char *yaml, slim_client_config *out, slim_cfg_error *err) {
    slim_cfg_doc *d = NULL;
    slim_status st = slim_cfg_load_string(yaml, strlen(yaml), "t.yaml", &d, err);
    if (st != SLIM_OK)
        return st;
    nwarned = 0;
    st = slim_client_config_parse(d, slim_cfg_get(d->root, "c"), "c", out, on_warn, NULL, err);
    slim_cfg_free(d);
    return st;
}

TEST(server_current_tls_spelling) {
    slim_server_config s;
    slim_cfg_error err;
    CHECK_OK(server("s:\n"
                    "  endpoint: 0.0.0.0:46357\n"
                    "  tls:\n"
                    "    source: {type: file, cert: /c.pem, key: /k.pem}\n"
                    "    client_ca: {type: file, path: /ca.pem}\n"
                    "    tls_version: tls1.2\n"
                    "  keepalive: {time: 30s, timeout: 5s}\n"
                    "  max_concurrent_streams: 64\n"
                    "  max_frame_size: 8\n"
                    "  read_buffer_size: 1024\n"
                    "  metadata: {local_endpoint: 10.0.0.5, n: 3, list: [1]}\n",
                    &s, &err));
    CHECK_STR(s.endpoint, "0.0.0.0:46357");
    CHECK(!s.tls.insecure);
    CHECK_STR(s.tls.cert_file, "/c.pem");
    CHECK_STR(s.tls.key_file, "/k.pem");
    CHECK_STR(s.tls.client_ca_file, "/ca.pem");
    CHECK_EQ(s.tls.version, SLIM_TLS_1_2);
    CHECK_EQ(s.keepalive.time_ms, 30000);
    CHECK_EQ(s.keepalive.timeout_ms, 5000);
    CHECK_EQ(s.keepalive.max_connection_age_ms, 7200000); /* default kept */
    CHECK_EQ(s.max_concurrent_streams, 64);
    CHECK_EQ(s.max_message_size, 8u * 1024 * 1024);
    CHECK_EQ(s.n_metadata, 2);
    CHECK_STR(s.metadata[0].key, "local_endpoint");
    CHECK_STR(s.metadata[0].value, "10.0.0.5");
    CHECK_EQ(nwarned, 1);
    CHECK_STR(warned[0], "10 s.read_buffer_size: buffer sizes are managed by the transport");
    slim_server_config_cleanup(&s);
}

TEST(server_flattened_spelling_and_insecure) {
    slim_server_config s;
    slim_cfg_error err;
    CHECK_OK(server("s: {endpoint: '[::1]:0', tls: {cert_file: a, key_file: b, "
                    "client_ca_file: c}}\n",
                    &s, &err));
    CHECK_STR(s.tls.cert_file, "a");
    CHECK_STR(s.tls.client_ca_file, "c");
    CHECK_EQ(s.tls.version, SLIM_TLS_1_3);
    slim_server_config_cleanup(&s);
    CHECK_OK(server("s: {endpoint: 127.0.0.1:0, tls: {insecure: true}}\n", &s, &err));
    CHECK(s.tls.insecure);
    CHECK(s.tls.cert_file == NULL);
    slim_server_config_cleanup(&s);
    /* A client's CA on a server requires nothing: said so. */
    CHECK_OK(server("s: {endpoint: 127.0.0.1:0, tls: {cert_file: a, key_file: b, ca_file: c}}\n",
                    &s, &err));
    CHECK(s.tls.client_ca_file == NULL);
    CHECK_EQ(nwarned, 1);
    CHECK_STR(warned[0], "1 s.tls.ca_file: a client's setting, without effect on a server: "
                         "client_ca requires client certificates");
    slim_server_config_cleanup(&s);
}

TEST(server_errors) {
    slim_server_config s;
    slim_cfg_error err;
    CHECK_STATUS(server("s: {endpoint: 1.2.3.4:5}\n", &s, &err), SLIM_E_INVALID_ARG);
    CHECK_STR(err.msg, "t.yaml:1: s.tls: missing server cert and key (or set insecure: true for "
                       "plaintext)");
    CHECK_STATUS(server("s:\n  tls: {insecure: true}\n", &s, &err), SLIM_E_INVALID_ARG);
    CHECK_STR(err.msg, "t.yaml:1: s: endpoint is required");
    CHECK_STATUS(server("s:\n  endpoint: x:1\n  tls: {insecure: true}\n"
                        "  auth:\n    basic: {username: u, password: p}\n",
                        &s, &err),
                 SLIM_E_INVALID_ARG);
    CHECK(strstr(err.msg, "t.yaml:4: s.auth: authentication \"basic\" is not supported") ==
          err.msg);
    CHECK_STATUS(server("s: {endpoint: x:1, tls: {insecure: true}, auth: {type: jwt}}\n", &s, &err),
                 SLIM_E_INVALID_ARG);
    CHECK(strstr(err.msg, "authentication \"jwt\"") != NULL);
    CHECK_OK(server("s: {endpoint: x:1, tls: {insecure: true}, auth: {type: none}}\n", &s, &err));
    slim_server_config_cleanup(&s);
    CHECK_OK(server("s: {endpoint: x:1, tls: {insecure: true}, auth: none}\n", &s, &err));
    slim_server_config_cleanup(&s);
    CHECK_STATUS(server("s: {endpoint: x:1, tls: {source: {type: spire}}}\n", &s, &err),
                 SLIM_E_INVALID_ARG);
    CHECK(strstr(err.msg, "s.tls.source: certificate source \"spire\" is not supported") != NULL);
    CHECK_STATUS(server("s: {endpoint: x:1, tls: {cert_file: a}}\n", &s, &err), SLIM_E_INVALID_ARG);
    CHECK(strstr(err.msg, "a certificate needs its key") != NULL);
    CHECK_STATUS(server("s: {endpoint: x:1, tls: {insecure: true, tls_version: ssl3}}\n", &s, &err),
                 SLIM_E_INVALID_ARG);
    CHECK(strstr(err.msg, "s.tls.tls_version: expected \"tls1.2\" or \"tls1.3\"") != NULL);
    CHECK_STATUS(
        server("s: {endpoint: x:1, tls: {insecure: true}, keepalive: {time: soon}}\n", &s, &err),
        SLIM_E_INVALID_ARG);
    CHECK(strstr(err.msg, "s.keepalive.time: expected a duration") != NULL);
    CHECK_STATUS(server("s: {endpoint: x:1, tls: {insecure: true}, http2_only: false}\n", &s, &err),
                 SLIM_E_INVALID_ARG);
    CHECK_STATUS(
        server("s: {endpoint: x:1, tls: {insecure: true}, require_header_mac: maybe}\n", &s, &err),
        SLIM_E_INVALID_ARG);
    CHECK_OK(server("s: {endpoint: x:1, tls: {insecure: true}}\n", &s, &err));
    CHECK(s.require_header_mac); /* upstream's default */
    slim_server_config_cleanup(&s);
    CHECK_OK(server("s: {endpoint: x:1, tls: {insecure: true}, require_header_mac: false, "
                    "negotiation_timeout_secs: 2}\n",
                    &s, &err));
    CHECK(!s.require_header_mac);
    CHECK_EQ(s.negotiation_timeout_ms, 2000);
    slim_server_config_cleanup(&s);
}

TEST(client_settings) {
    slim_client_config c;
    slim_cfg_error err;
    CHECK_OK(client("c:\n"
                    "  endpoint: https://node.example:46357\n"
                    "  server_name: other.example\n"
                    "  tls:\n"
                    "    ca_source: {type: pem, data: \"-----BEGIN\"}\n"
                    "    source: {type: file, cert: cc, key: ck}\n"
                    "    insecure_skip_verify: true\n"
                    "  backoff: {type: exponential, base: 200, factor: 2, max_delay: 5s, "
                    "jitter: true}\n"
                    "  keepalive: {http2_keepalive: 15s, keep_alive_while_idle: true}\n"
                    "  connect_timeout: 3s\n"
                    "  headers: {x-a: b}\n"
                    "  compression: Gzip\n"
                    "  rate_limit: 20/60\n",
                    &c, &err));
    CHECK_STR(c.endpoint, "https://node.example:46357");
    CHECK_STR(c.tls.server_name, "other.example");
    CHECK_STR(c.tls.ca_pem, "-----BEGIN");
    CHECK_STR(c.tls.cert_file, "cc");
    CHECK(c.tls.insecure_skip_verify);
    CHECK_EQ(c.backoff.type, SLIM_BACKOFF_EXPONENTIAL);
    CHECK_EQ(c.backoff.base_ms, 200);
    CHECK_EQ(c.backoff.factor, 2);
    CHECK_EQ(c.backoff.max_delay_ms, 5000);
    CHECK(c.backoff.jitter);
    CHECK_EQ(c.keepalive.http2_keepalive_ms, 15000);
    CHECK_EQ(c.keepalive.timeout_ms, 10000);
    CHECK(c.keepalive.while_idle);
    CHECK_EQ(c.connect_timeout_ms, 3000);
    CHECK_EQ(c.n_headers, 1);
    CHECK_STR(c.headers[0].value, "b");
    CHECK_EQ(nwarned, 2);

    CHECK(!c.tls.insecure);
    slim_client_config_cleanup(&c);
    CHECK_STATUS(client("c: {endpoint: 'https://a:1', tls: {insecure: true}}\n", &c, &err),
                 SLIM_E_INVALID_ARG);
    CHECK(strstr(err.msg, "an https:// endpoint with tls.insecure: true") != NULL);
    CHECK_STATUS(client("c: {endpoint: 'http://a:1', tls: {ca_file: x}}\n", &c, &err),
                 SLIM_E_INVALID_ARG);
    CHECK(strstr(err.msg, "TLS settings on a plaintext endpoint") != NULL);

    CHECK_OK(client("c: {endpoint: 'http://127.0.0.1:1', backoff: {type: fixed_interval, "
                    "interval: 250ms, max_attempts: 3}}\n",
                    &c, &err));
    CHECK(c.tls.insecure); /* http:// is plaintext */
    CHECK_EQ(c.backoff.type, SLIM_BACKOFF_FIXED_INTERVAL);
    CHECK_EQ(c.backoff.interval_ms, 250);
    CHECK_EQ(c.backoff.max_attempts, 3);
    CHECK_U64(c.backoff.max_delay_ms, 1000);
    slim_client_config_cleanup(&c);
}

/* Backoff defaults as upstream's code has them at cece03f79: no block means
 * fixed_interval 2 s forever; a type given alone takes that type's defaults. */
TEST(client_backoff_defaults) {
    slim_client_config c;
    slim_cfg_error err;
    CHECK_OK(client("c: {endpoint: 'http://127.0.0.1:1'}\n", &c, &err));
    CHECK_EQ(c.backoff.type, SLIM_BACKOFF_FIXED_INTERVAL);
    CHECK_EQ(c.backoff.interval_ms, 2000);
    CHECK_U64(c.backoff.max_attempts, UINT64_MAX);
    slim_client_config_cleanup(&c);
    CHECK_OK(
        client("c: {endpoint: 'http://127.0.0.1:1', backoff: {type: exponential}}\n", &c, &err));
    CHECK_EQ(c.backoff.type, SLIM_BACKOFF_EXPONENTIAL);
    CHECK_EQ(c.backoff.base_ms, 100);
    CHECK_EQ(c.backoff.factor, 1);
    CHECK_EQ(c.backoff.max_delay_ms, 1000);
    CHECK(!c.backoff.jitter);
    CHECK_U64(c.backoff.max_attempts, UINT64_MAX);
    slim_client_config_cleanup(&c);
    CHECK_OK(client("c: {endpoint: 'http://127.0.0.1:1', backoff: {type: fixed_interval, "
                    "max_attempts: 0}}\n",
                    &c, &err));
    CHECK_EQ(c.backoff.type, SLIM_BACKOFF_FIXED_INTERVAL);
    CHECK_EQ(c.backoff.interval_ms, 1000);
    CHECK_EQ(c.backoff.max_attempts, 0);
    slim_client_config_cleanup(&c);
}

TEST(client_errors) {
    slim_client_config c;
    slim_cfg_error err;
    CHECK_STATUS(client("c: {endpoint: 'localhost:46357'}\n", &c, &err), SLIM_E_INVALID_ARG);
    CHECK_STR(err.msg, "t.yaml:1: c: endpoint \"localhost:46357\" needs a scheme: http://, "
                       "https:// or unix://");
    CHECK_STATUS(client("c: {endpoint: 'http://a:1', proxy: {url: 'http://p'}}\n", &c, &err),
                 SLIM_E_INVALID_ARG);
    CHECK(strstr(err.msg, "proxy: connecting through a proxy is not supported") != NULL);
    CHECK_STATUS(client("c: {endpoint: 'http://a:1', auth: {static_jwt: {file: t}}}\n", &c, &err),
                 SLIM_E_INVALID_ARG);
    CHECK_STATUS(client("c: {endpoint: 'http://a:1', backoff: {type: linear}}\n", &c, &err),
                 SLIM_E_INVALID_ARG);
    CHECK(strstr(err.msg, "c.backoff.type: expected exponential or fixed_interval") != NULL);
    CHECK_STATUS(client("c: {endpoint: 'http://a:1', tls: {ca_source: {type: file}}}\n", &c, &err),
                 SLIM_E_INVALID_ARG);
    CHECK(strstr(err.msg, "c.tls.ca_source: needs a path") != NULL);
    CHECK_STATUS(client("c: {endpoint: 'http://a:1', require_header_mac: 7}\n", &c, &err),
                 SLIM_E_INVALID_ARG);
    CHECK_OK(client("c: {endpoint: 'http://a:1'}\n", &c, &err));
    CHECK(c.require_header_mac);
    slim_client_config_cleanup(&c);
    CHECK_OK(client("c: {endpoint: 'http://a:1', require_header_mac: false}\n", &c, &err));
    CHECK(!c.require_header_mac);
    slim_client_config_cleanup(&c);
    CHECK_STATUS(client("c: {endpoint: 'http://a:1', connection_type: sideways}\n", &c, &err),
                 SLIM_E_INVALID_ARG);
    CHECK_STATUS(client("c: {endpoint: 'http://a:1', link_id: "
                        "'0123456789012345678901234567890123456789012345678901234567890123x'}\n",
                        &c, &err),
                 SLIM_E_INVALID_ARG);
    CHECK(strstr(err.msg, "link_id: 1 to 64 characters") != NULL);
    CHECK_OK(client("c: {endpoint: 'http://a:1', connection_type: peer}\n", &c, &err));
    CHECK_EQ(c.connection_type, SLIM_LINK_TYPE_PEER);
    slim_client_config_cleanup(&c);
    CHECK_STATUS(client("c: [1]\n", &c, &err), SLIM_E_INVALID_ARG);
    CHECK(strstr(err.msg, "c: expected a mapping, found a list") != NULL);
}

TEST(allocation_failure) {
    test_alloc_install();
    const char *yaml = "c: {endpoint: 'https://a:1', origin: o, headers: {a: b, c: d}, "
                       "tls: {ca_file: x, cert_file: y, key_file: z}}\n";
    for (long k = 1; k < 300; k++) {
        slim_cfg_error err;
        slim_client_config c;
        test_alloc_fail_after(k);
        slim_status st = client(yaml, &c, &err);
        test_alloc_fail_after(0);
        if (st == SLIM_OK)
            slim_client_config_cleanup(&c);
        if (test_alloc_live() != 0)
            TEST_FAIL_AT("k=%ld: %ld allocations leaked", k, test_alloc_live());
        if (st == SLIM_OK)
            break;
    }
    test_alloc_uninstall();
}

TEST_MAIN(TEST_ENTRY(server_current_tls_spelling),
          TEST_ENTRY(server_flattened_spelling_and_insecure), TEST_ENTRY(server_errors),
          TEST_ENTRY(client_settings), TEST_ENTRY(client_backoff_defaults),
          TEST_ENTRY(client_errors), TEST_ENTRY(allocation_failure))
