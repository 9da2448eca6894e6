/* Unit tests for src/node/config.c with upstream's sample configs and the
 * errors a user can make. */
#include "test.h"
#include "node/config.h"

#include <stdlib.h>

static char warned[16][300];
static int nwarned;

static void on_warn(const char *path, unsigned line, const char *why, void *ud) {
    (void)ud;
    if (nwarned < 16)
        snprintf(warned[nwarned], sizeof warned[0], "%u %s: %s", line, path, why);
    nwarned++;
}

static slim_status parse(const char *yaml, slim_node_config *c, slim_cfg_error *err) {
    slim_cfg_doc *d = NULL;
    nwarned = 0;
    slim_status st = slim_cfg_load_string(yaml, strlen(yaml), "node.yaml", &d, err);
    if (st != SLIM_OK)
        return st;
    st = slim_node_config_parse(d, c, on_warn, NULL, err);
    slim_cfg_free(d);
    return st;
}

static bool warned_about(const char *text) {
    for (int i = 0; i < nwarned && i < 16; i++)
        if (strstr(warned[i], text) != NULL)
            return true;
    return false;
}

TEST(standalone_node_sample) {
    slim_node_config c;
    slim_cfg_error err;
    CHECK_OK(parse("services:\n"
                   "  slim/0:\n"
                   "    dataplane:\n"
                   "      servers: [{ endpoint: \"0.0.0.0:46357\", tls: { insecure: true } }]\n"
                   "    controller:\n"
                   "      servers: [{ endpoint: \"0.0.0.0:46358\", tls: { insecure: true } }]\n",
                   &c, &err));
    CHECK_STR(c.service, "slim/0");
    CHECK_STR(c.node_id, "slim/0");
    CHECK_EQ(c.n_servers, 1);
    CHECK_STR(c.servers[0].endpoint, "0.0.0.0:46357");
    CHECK(c.servers[0].tls.insecure);
    CHECK_EQ(c.n_clients, 0);
    CHECK(c.has_controller);
    CHECK_EQ(c.n_controllers, 0);
    CHECK_EQ(c.drain_timeout_ms, 10000);
    CHECK_EQ(c.slow_consumer_timeout_ms, 10000);
    CHECK_EQ(c.max_subscriptions_per_conn, 100000);
    CHECK_EQ(c.n_ctl_servers, 1);
    CHECK_STR(c.ctl_servers[0].endpoint, "0.0.0.0:46358");
    CHECK(c.verifier_secret == NULL);
    CHECK_EQ(nwarned, 1);
    CHECK(warned_about("6 services.slim/0.controller.servers: anyone who reaches this control "
                       "endpoint can change the node's routes"));
    slim_node_config_cleanup(&c);
}

TEST(control_endpoint_with_token_verifier) {
    slim_node_config c;
    slim_cfg_error err;
    CHECK_OK(parse("services:\n"
                   "  slim/0:\n"
                   "    dataplane:\n"
                   "      servers: [{ endpoint: \"127.0.0.1:0\", tls: { insecure: true } }]\n"
                   "    controller:\n"
                   "      servers: [{ endpoint: \"127.0.0.1:0\", tls: { insecure: true } }]\n"
                   "      token_verifier: { shared_secret: \"the-operators-secret\" }\n",
                   &c, &err));
    CHECK_EQ(c.n_ctl_servers, 1);
    CHECK_STR(c.verifier_secret, "the-operators-secret");
    CHECK(c.token_secret == NULL);
    CHECK(!warned_about("controller"));
    slim_node_config_cleanup(&c);
}

TEST(jwt_token_provider) {
    slim_node_config c;
    slim_cfg_error err;
    CHECK_OK(parse("services:\n"
                   "  slim/0:\n"
                   "    dataplane:\n"
                   "      clients: [{endpoint: 'http://a:1'}]\n"
                   "    controller:\n"
                   "      token_provider:\n"
                   "        jwt:\n"
                   "          claims: {issuer: i, subject: s, audience: [a, b]}\n"
                   "          duration: 2h\n"
                   "          key: {encoding: {algorithm: ES256, format: Jwk, str: '{}'}}\n",
                   &c, &err));
    CHECK(c.token_secret == NULL);
    CHECK(c.token_jwt != NULL);
    CHECK_EQ(c.token_jwt->kind, SLIM_IDENTITY_JWT);
    CHECK_STR(c.token_jwt->issuer, "i");
    CHECK_STR(c.token_jwt->subject, "s");
    CHECK_EQ(c.token_jwt->audience_len, 2);
    CHECK_STR(c.token_jwt->audience[1], "b");
    CHECK_EQ(c.token_jwt->duration_s, 7200);
    CHECK_STR(c.token_jwt->algorithm, "ES256");
    CHECK_STR(c.token_jwt->key_format, "jwk");
    CHECK_STR(c.token_jwt->key, "{}");
    CHECK(c.token_jwt->key_file == NULL);
    CHECK(!warned_about("token_provider"));
    slim_node_config_cleanup(&c);
}

TEST(managed_node_sample) {
    slim_node_config c;
    slim_cfg_error err;
    CHECK_OK(parse("tracing: { log_level: debug }\n"
                   "runtime: { n_cores: 0, drain_timeout: 3s }\n"
                   "services:\n"
                   "  slim/a:\n"
                   "    node_id: edge-1\n"
                   "    group_name: cluster-a\n"
                   "    pubsub:\n"
                   "      servers:\n"
                   "        - endpoint: \"0.0.0.0:46357\"\n"
                   "          tls: { insecure: true }\n"
                   "          metadata: { local_endpoint: \"10.0.0.5\" }\n"
                   "      clients:\n"
                   "        - endpoint: \"http://127.0.0.1:46400\"\n"
                   "      slow_consumer_timeout: 2s\n"
                   "    controller:\n"
                   "      clients:\n"
                   "        - endpoint: \"http://127.0.0.1:50052\"\n"
                   "          tls: { insecure: true }\n"
                   "      token_provider:\n"
                   "        shared_secret: \"group\"\n",
                   &c, &err));
    CHECK(c.has_log_level);
    CHECK_EQ(c.log_level, SLIM_LOG_DEBUG);
    CHECK_EQ(c.drain_timeout_ms, 3000);
    CHECK_STR(c.node_id, "slim/edge-1");
    CHECK_STR(c.group_name, "cluster-a");
    CHECK_EQ(c.n_servers, 1);
    CHECK_EQ(c.n_clients, 1);
    CHECK_STR(c.clients[0].endpoint, "http://127.0.0.1:46400");
    CHECK_EQ(c.slow_consumer_timeout_ms, 2000);
    CHECK(warned_about("runtime.n_cores: accepted; the node runs one event-loop thread"));
    /* the controller clients are kept; without a backoff block they retry
     * every 2 s forever */
    CHECK(c.has_controller);
    CHECK_EQ(c.n_controllers, 1);
    CHECK_STR(c.controllers[0].endpoint, "http://127.0.0.1:50052");
    CHECK(c.controllers[0].tls.insecure);
    CHECK_EQ(c.controllers[0].backoff.type, SLIM_BACKOFF_FIXED_INTERVAL);
    CHECK_EQ(c.controllers[0].backoff.interval_ms, 2000);
    CHECK_U64(c.controllers[0].backoff.max_attempts, UINT64_MAX);
    CHECK(!warned_about("controller"));
    slim_node_config_cleanup(&c);
}

TEST(substitution_and_unknown_keys) {
    slim_node_config c;
    slim_cfg_error err;
    setenv("SLIM_TEST_PORT_EP", "127.0.0.1:0", 1);
    CHECK_OK(parse("colour: blue\n"
                   "services:\n"
                   "  slim/0:\n"
                   "    dataplane:\n"
                   "      servers:\n"
                   "        - endpoint: ${env:SLIM_TEST_PORT_EP}\n"
                   "          tls: {insecure: true, speed: fast}\n",
                   &c, &err));
    CHECK_STR(c.servers[0].endpoint, "127.0.0.1:0");
    CHECK(warned_about("1 colour: unknown key, ignored"));
    CHECK(warned_about("7 services.slim/0.dataplane.servers[0].tls.speed: unknown key, ignored"));
    slim_node_config_cleanup(&c);
}

TEST(errors_name_line_and_key) {
    slim_node_config c;
    slim_cfg_error err;
    static const struct {
        const char *yaml;
        const char *msg;
    } bad[] = {
        {"tracing: {log_level: loud}\nservices: {}\n",
         "node.yaml:1: tracing.log_level: expected error, warn, info, debug or trace, found "
         "\"loud\""},
        {"runtime: {drain_timeout: soon}\n",
         "node.yaml:1: runtime.drain_timeout: expected a duration such as \"10s\", \"250ms\" or "
         "\"1h30m\", found \"soon\""},
        {"x: 1\n", "node.yaml:1: services: at least one service (slim/<name>) is required"},
        {"services:\n  slim/0: {}\n  slim/1: {}\n",
         "node.yaml:3: services: one service per node process; found 2"},
        {"services:\n  slim/Zero: {}\n",
         "node.yaml:2: services: \"slim/Zero\" is not <kind>/<name> (name: lowercase letters, "
         "digits, -)"},
        {"services:\n  other/0: {}\n",
         "node.yaml:2: services.other/0: unknown service kind; expected slim/<name>"},
        {"services:\n  slim/0:\n    dataplane: {}\n",
         "node.yaml:3: services.slim/0.dataplane: no dataplane server or clients configured"},
        {"services:\n  slim/0:\n    dataplane:\n      servers:\n        - endpoint: a:1\n",
         "node.yaml:5: services.slim/0.dataplane.servers[0].tls: missing server cert and key (or "
         "set insecure: true for plaintext)"},
        {"services:\n  slim/0:\n    dataplane:\n      clients: [{endpoint: 'http://a:1'}]\n"
         "    controller:\n      token_provider: {magic: 1}\n",
         "node.yaml:6: services.slim/0.controller.token_provider: expected one of shared_secret, "
         "static_jwt, jwt or none"},
        {"services:\n  slim/0:\n    dataplane:\n      clients: [{endpoint: 'http://a:1'}]\n"
         "    controller:\n      clients: [{tls: {insecure: true}}]\n",
         "node.yaml:6: services.slim/0.controller.clients[0]: endpoint is required"},
        {"services:\n  slim/0:\n    dataplane:\n      clients: [{endpoint: 'http://a:1'}]\n"
         "    controller:\n      token_provider: {static_jwt: {duration: 5}}\n",
         "node.yaml:6: services.slim/0.controller.token_provider.static_jwt: file is required"},
        {"services:\n  slim/0:\n    dataplane:\n      clients: [{endpoint: 'http://a:1'}]\n"
         "    controller:\n      token_provider: {jwt: {claims: {subject: s}}}\n",
         "node.yaml:6: services.slim/0.controller.token_provider.jwt.key: a signing key is "
         "required: key: {encoding: {algorithm, format, file}}"},
        {"services:\n  slim/0:\n    dataplane:\n      clients: [{endpoint: 'http://a:1'}]\n"
         "    controller:\n      token_provider: {jwt: {key: {encoding: {algorithm: XX, "
         "file: k}}}}\n",
         "node.yaml:6: services.slim/0.controller.token_provider.jwt.key.encoding.algorithm: "
         "unknown algorithm \"XX\" (HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, "
         "PS512, ES256, ES384, EdDSA)"},
        {"services:\n  slim/0:\n    dataplane:\n      clients: [{endpoint: 'http://a:1'}]\n"
         "    controller:\n      token_provider: {jwt: {key: {encoding: {algorithm: HS256, "
         "format: der, file: k}}}}\n",
         "node.yaml:6: services.slim/0.controller.token_provider.jwt.key.encoding.format: "
         "expected pem, jwk or jwks"},
        {"services:\n  slim/0:\n    dataplane:\n      clients: [{endpoint: 'http://a:1'}]\n"
         "    controller:\n      token_verifier: {jwt: {}}\n",
         "node.yaml:6: services.slim/0.controller.token_verifier.jwt: a JWT token_verifier is not "
         "supported (use shared_secret)"},
        {"services:\n  slim/0:\n    dataplane:\n      clients: [{endpoint: 'http://a:1'}]\n"
         "    controller:\n      token_verifier: {shared_secret: ''}\n",
         "node.yaml:6: services.slim/0.controller.token_verifier.shared_secret: the shared secret "
         "is empty"},
        {"metrics: {}\n", "node.yaml:1: metrics: needs an endpoint, such as \"127.0.0.1:9464\""},
        {"metrics: {endpoint: 'unix:///tmp/m'}\n",
         "node.yaml:1: metrics.endpoint: \"unix:///tmp/m\": expected host:port (port 0: any free "
         "port)"},
        {"metrics: [1]\n", "node.yaml:1: metrics: expected a mapping, found a list"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        slim_status st = parse(bad[i].yaml, &c, &err);
        if (st != SLIM_E_INVALID_ARG)
            TEST_FAIL_AT("case %zu: got %s", i, slim_status_name(st));
        else if (strcmp(err.msg, bad[i].msg) != 0)
            TEST_FAIL_AT("case %zu:\n    got  %s\n    want %s", i, err.msg, bad[i].msg);
    }
    slim_node_config f;
    CHECK_STATUS(slim_node_config_load("/nonexistent/node.yaml", &f, NULL, NULL, &err), SLIM_E_IO);
}

TEST(metrics_endpoint) {
    slim_node_config c;
    slim_cfg_error err;
    CHECK_OK(parse("metrics: {endpoint: '127.0.0.1:0'}\nservices:\n  slim/0:\n    dataplane:\n"
                   "      clients: [{endpoint: 'http://a:1'}]\n",
                   &c, &err));
    CHECK_STR(c.metrics_endpoint, "127.0.0.1:0");
    slim_node_config_cleanup(&c);
    CHECK_OK(parse("services:\n  slim/0:\n    dataplane:\n      clients: [{endpoint: "
                   "'http://a:1'}]\n",
                   &c, &err));
    CHECK(c.metrics_endpoint == NULL); /* off unless asked for */
    slim_node_config_cleanup(&c);
}

TEST_MAIN(TEST_ENTRY(metrics_endpoint), TEST_ENTRY(standalone_node_sample),
          TEST_ENTRY(control_endpoint_with_token_verifier), TEST_ENTRY(jwt_token_provider),
          TEST_ENTRY(managed_node_sample), TEST_ENTRY(substitution_and_unknown_keys),
          TEST_ENTRY(errors_name_line_and_key))
