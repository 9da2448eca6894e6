/* Apps with JWT identities talking through a real node: sessions between
 * apps whose tokens one key signs (inline PEM, and a JWKS file), an app
 * whose tokens another key signed is not answered, a static token file
 * (reloaded) for an app that accepts sessions, the app id from the
 * token's subject, and configurations refused by slim_app_new. Also an
 * app's MLS identity (the sessions' mls_self and mls_check ops) for both
 * kinds of identity and both suites, without a node. */
#include "test.h"
#include "client/app_identity.h"
#include "core/base64.h"
#include "core/time.h"
#include "mls/pkey.h"
#include "node_proc.h"
#include "session/identity.h"
#include "session/jwt.h"
#include "slim/session.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static char *pem_of(EVP_PKEY *k, bool priv) {
    BIO *b = BIO_new(BIO_s_mem());
    if (priv)
        PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    else
        PEM_write_bio_PUBKEY(b, k);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = strndup(p, (size_t)n);
    BIO_free(b);
    return s;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

/* test_app_with; org/ns/cli is also given its routes to srv and mute. */
static slim_app *app_on(const char *name, const slim_identity_config *p,
                        const slim_identity_config *v, int port) {
    slim_app *app = test_app_with(name, p, v, NULL, port);
    if (app != NULL && strcmp(name, "org/ns/cli") == 0 &&
        (slim_app_set_route(app, "org/ns/srv", 0, 5000) != SLIM_OK ||
         slim_app_set_route(app, "org/ns/mute", 0, 5000) != SLIM_OK)) {
        slim_app_free(app, 0);
        TEST_FAIL_AT("%s did not get its routes", name);
        return NULL;
    }
    return app;
}

static const slim_session_options RELIABLE = {
    .type = SLIM_SESSION_UNICAST, .peer = "org/ns/srv", .timeout_ms = 500, .max_retries = 3};

/* cli opens a session to srv, says hi, srv answers. */
static void hello(slim_app *cli, slim_app *srv) {
    slim_session_id s = 0, ss = 0;
    CHECK_OK(slim_session_create(cli, &RELIABLE, 15000, &s));
    CHECK_OK(slim_session_publish(cli, s, test_text("hi"), NULL, 5000, NULL));
    CHECK_OK(slim_app_listen(srv, 5000, &ss));
    slim_message *m = NULL;
    CHECK_OK(slim_session_get_message(srv, ss, 5000, &m));
    CHECK(m != NULL && m->payload.len == 2 && memcmp(m->payload.ptr, "hi", 2) == 0);
    if (m != NULL)
        CHECK_OK(slim_session_publish_to(srv, ss, m, test_text("pong"), NULL, 5000, NULL));
    slim_message_free(m);
    slim_message *r = NULL;
    CHECK_OK(slim_session_get_message(cli, s, 5000, &r));
    CHECK(r != NULL && r->payload.len == 4 && memcmp(r->payload.ptr, "pong", 4) == 0);
    slim_message_free(r);
    CHECK_OK(slim_session_delete(cli, s, 5000));
}

static void check_app_id(slim_app *app, const char *subject) {
    slim_name n;
    slim_app_name(app, &n);
    slim_id want = slim_identity_app_id_of((slim_str){subject, strlen(subject)});
    CHECK_U64(n.id.hi, want.hi);
    CHECK_U64(n.id.lo, want.lo);
}

TEST(sessions_between_jwt_apps) {
    test_node n;
    CHECK(test_node_start(&n, ""));
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char *priv = pem_of(key, true), *pub = pem_of(key, false), *other_priv = pem_of(other, true);
    const char *aud[] = {"slim-apps"};
    slim_identity_config verifier = {.kind = SLIM_IDENTITY_JWT,
                                     .algorithm = "ES256",
                                     .key = pub,
                                     .issuer = "https://issuer.test",
                                     .audience = aud,
                                     .audience_len = 1,
                                     .require_iss = true,
                                     .require_aud = true};
    slim_identity_config pc = {.kind = SLIM_IDENTITY_JWT,
                               .algorithm = "ES256",
                               .key = priv,
                               .issuer = "https://issuer.test",
                               .audience = aud,
                               .audience_len = 1,
                               .subject = "agntcy/ns/cli",
                               .duration_s = 600};
    slim_identity_config ps = pc;
    ps.subject = "agntcy/ns/srv";
    slim_app *cli = app_on("org/ns/cli", &pc, &verifier, n.port);
    slim_app *srv = app_on("org/ns/srv", &ps, &verifier, n.port);
    CHECK(cli != NULL && srv != NULL);
    if (cli != NULL && srv != NULL) {
        check_app_id(cli, "agntcy/ns/cli");
        check_app_id(srv, "agntcy/ns/srv");
        hello(cli, srv);
    }
    /* An app whose tokens another key signs: its discovery request fails
     * the check, nobody answers. */
    slim_identity_config pm = pc, pi = pc;
    pm.subject = "agntcy/ns/mute";
    pi.key = other_priv;
    pi.subject = "agntcy/ns/intruder";
    slim_app *mute = app_on("org/ns/mute", &pm, &verifier, n.port);
    slim_app *intruder = app_on("org/ns/cli", &pi, &verifier, n.port);
    if (intruder != NULL) {
        slim_session_id s = 0;
        slim_session_options o = RELIABLE;
        o.peer = "org/ns/mute";
        CHECK(slim_session_create(intruder, &o, 15000, &s) != SLIM_OK);
    }
    slim_app_free(intruder, 1000);
    slim_app_free(mute, 1000);

    /* The verifier's keys as a JWKS file; a static token file for srv. */
    char jwks_path[128], token_path[128];
    snprintf(jwks_path, sizeof jwks_path, "%s/keys.jwks", dir);
    snprintf(token_path, sizeof token_path, "%s/srv.token", dir);
    BIGNUM *x = NULL, *y = NULL;
    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    uint8_t xb[32], yb[32];
    BN_bn2binpad(x, xb, 32);
    BN_bn2binpad(y, yb, 32);
    BN_free(x);
    BN_free(y);
    slim_buf xs = SLIM_BUF_INIT, ys = SLIM_BUF_INIT;
    CHECK_OK(slim_b64_encode(slim_bytes_of(xb, 32), SLIM_B64_URL, &xs));
    CHECK_OK(slim_b64_encode(slim_bytes_of(yb, 32), SLIM_B64_URL, &ys));
    char jwks[1024];
    snprintf(
        jwks, sizeof jwks,
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"agntcy/ns/cli\",\"x\":\"%.*s\","
        "\"y\":\"%.*s\"}]}",
        (int)xs.len, (const char *)xs.data, (int)ys.len, (const char *)ys.data);
    slim_buf_cleanup(&xs);
    slim_buf_cleanup(&ys);
    write_file(jwks_path, jwks);
    /* The static token: signed here with the same key, for agntcy/ns/svc */
    slim_jwt_keys *k = NULL;
    CHECK_OK(slim_jwt_keys_parse(SLIM_JWT_ES256, SLIM_JWT_KEY_PEM, test_text(priv), true, &k));
    slim_str a0 = {"slim-apps", 9};
    slim_jwt_provider_params tp = {.issuer = {"https://issuer.test", 19},
                                   .subject = {"agntcy/ns/svc", 13},
                                   .audience = &a0,
                                   .audience_len = 1,
                                   .duration_s = 3600,
                                   .no_pubkey = true};
    slim_jwt_provider *tok = NULL;
    CHECK_OK(slim_jwt_provider_new(k, &tp, &tok));
    slim_str t = {"", 0};
    CHECK_OK(slim_jwt_provider_token(tok, (uint64_t)time(NULL), &t));
    char *token = strndup(t.ptr, t.len);
    slim_jwt_provider_free(tok);
    write_file(token_path, token);
    slim_identity_config vf = {.kind = SLIM_IDENTITY_JWT,
                               .key_format = "jwks",
                               .key_file = jwks_path,
                               .issuer = "https://issuer.test",
                               .audience = aud,
                               .audience_len = 1};
    slim_identity_config st_srv = {.kind = SLIM_IDENTITY_STATIC_JWT, .token_file = token_path};
    slim_app *srv2 = app_on("org/ns/srv", &st_srv, &vf, n.port);
    if (srv2 != NULL)
        check_app_id(srv2, "agntcy/ns/svc");
    /* srv and srv2 both answer for org/ns/srv: drop srv so that cli
     * reaches the static-token app */
    slim_app_free(srv, 1000);
    srv = NULL;
    if (cli != NULL && srv2 != NULL)
        hello(cli, srv2);
    slim_app_free(srv2, 1000);
    slim_app_free(cli, 1000);
    free(token);
    free(priv);
    free(pub);
    free(other_priv);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    unlink(jwks_path);
    unlink(token_path);
    test_node_stop(&n);
}

TEST(refused_configurations) {
    slim_app *app = NULL;
    slim_identity_config shared = {.kind = SLIM_IDENTITY_SHARED_SECRET,
                                   .id = "x",
                                   .secret = "a-secret-of-32-characters-or-more"};
    struct {
        slim_identity_config p, v;
        slim_status want;
    } cases[] = {
        /* no key, two keys, no algorithm for a PEM, an unknown one */
        {{.kind = SLIM_IDENTITY_JWT, .algorithm = "ES256"}, shared, SLIM_E_INVALID_ARG},
        {{.kind = SLIM_IDENTITY_JWT, .algorithm = "HS256", .key = "k", .key_file = "/k"},
         shared,
         SLIM_E_INVALID_ARG},
        {{.kind = SLIM_IDENTITY_JWT, .key = "k"}, shared, SLIM_E_INVALID_ARG},
        {{.kind = SLIM_IDENTITY_JWT, .algorithm = "none", .key = "k"}, shared, SLIM_E_INVALID_ARG},
        {{.kind = SLIM_IDENTITY_JWT, .algorithm = "HS256", .key = "k", .key_format = "der"},
         shared,
         SLIM_E_INVALID_ARG},
        /* a static token is a provider only; a verifier with a key and autoresolve */
        {shared, {.kind = SLIM_IDENTITY_STATIC_JWT, .token_file = "/t"}, SLIM_E_INVALID_ARG},
        {shared,
         {.kind = SLIM_IDENTITY_JWT, .algorithm = "HS256", .key = "k", .autoresolve = true},
         SLIM_E_INVALID_ARG},
        /* errors of the keys and files themselves */
        {{.kind = SLIM_IDENTITY_JWT, .algorithm = "ES256", .key = "not a key"},
         shared,
         SLIM_E_JWT_BAD_KEY},
        {{.kind = SLIM_IDENTITY_JWT, .algorithm = "ES256", .key_file = "/nonexistent/key.pem"},
         shared,
         SLIM_E_IO},
        {{.kind = SLIM_IDENTITY_STATIC_JWT, .token_file = "/nonexistent/token"}, shared, SLIM_E_IO},
        /* an HMAC key works both ways */
        {{.kind = SLIM_IDENTITY_JWT, .algorithm = "HS256", .key = "k", .subject = "s"},
         {.kind = SLIM_IDENTITY_JWT, .algorithm = "HS256", .key = "k"},
         SLIM_OK},
        {shared, {.kind = SLIM_IDENTITY_JWT, .autoresolve = true}, SLIM_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        slim_status got = slim_app_new("org/ns/a", &cases[i].p, &cases[i].v, NULL, &app);
        if (got != cases[i].want)
            TEST_FAIL_AT("case %zu: got %s, want %s", i, slim_status_name(got),
                         slim_status_name(cases[i].want));
        if (got == SLIM_OK)
            slim_app_free(app, 1000);
    }
}

#define T0 1800000000ull

/* The public key of an MLS private key of `suite` (sig_nsk bytes). */
static slim_bytes public_of(uint16_t suite, slim_bytes sk, uint8_t *buf) {
    slim_mls_sig_scheme s = suite == 1 ? SLIM_MLS_SIG_ED25519 : SLIM_MLS_SIG_ECDSA_P256_SHA256;
    CHECK_OK(slim_mls_sig_public(s, sk, buf));
    return slim_bytes_of(buf, slim_mls_sig_public_size(s));
}

/* alice's credential as her mls_self gives it at T0, checked by bob's
 * mls_check (bob verifies with `verifier`): valid with her key, at any
 * later time when not fresh, never with another key (eve's, an identity
 * of the same config) or changed. `expired` is a time past her token's
 * validity. */
static void check_credentials(const slim_identity_config *alice_cfg,
                              const slim_identity_config *verifier, uint16_t suite,
                              uint64_t expired, slim_status expired_st) {
    app_identity alice, bob, eve;
    CHECK_OK(slim_app__identity_init(&alice, alice_cfg, verifier, suite, T0));
    CHECK_OK(slim_app__identity_init(&bob, alice_cfg, verifier, suite, T0));
    CHECK_OK(slim_app__identity_init(&eve, alice_cfg, verifier, suite, T0));
    slim_bytes cred, sk, eve_cred, eve_sk;
    uint16_t got_suite = 0;
    CHECK_OK(slim_app__identity_mls_self(&alice, T0, &cred, &sk, &got_suite));
    CHECK_EQ(got_suite, suite != 0 ? suite : 2);
    CHECK_EQ(sk.len, 32);
    uint8_t pkb[65], eve_pkb[65];
    slim_bytes pk = public_of(got_suite, sk, pkb);
    /* the view lives until alice's next call */
    char *c = strndup((const char *)cred.ptr, cred.len);
    cred = slim_bytes_of(c, cred.len);
    CHECK_OK(slim_app__identity_mls_self(&eve, T0, &eve_cred, &eve_sk, &got_suite));
    slim_bytes eve_pk = public_of(got_suite, eve_sk, eve_pkb);

    slim_id id = {0, 0};
    CHECK_OK(slim_app__identity_mls_check(&bob, cred, pk, true, T0 + 1, &id));
    slim_id want =
        slim_app__identity_has_id(&alice) ? slim_app__identity_app_id(&alice) : slim_id_any();
    CHECK_U64(id.hi, want.hi);
    CHECK_U64(id.lo, want.lo);
    CHECK_STATUS(slim_app__identity_mls_check(&bob, cred, eve_pk, true, T0 + 1, &id),
                 SLIM_E_IDENTITY_KEY_MISMATCH);
    CHECK_STATUS(slim_app__identity_mls_check(&bob, cred, pk, true, expired, &id), expired_st);
    CHECK_OK(slim_app__identity_mls_check(&bob, cred, pk, false, expired, &id));
    CHECK_STATUS(slim_app__identity_mls_check(&bob, cred, eve_pk, false, expired, &id),
                 SLIM_E_IDENTITY_KEY_MISMATCH);
    /* one character of the token changed */
    c[cred.len / 2] = c[cred.len / 2] == 'A' ? 'B' : 'A';
    CHECK(slim_app__identity_mls_check(&bob, cred, pk, false, T0 + 1, &id) != SLIM_OK);
    /* a NUL inside */
    c[cred.len / 2] = '\0';
    CHECK(slim_app__identity_mls_check(&bob, cred, pk, false, T0 + 1, &id) != SLIM_OK);
    free(c);
    slim_app__identity_cleanup(&eve);
    slim_app__identity_cleanup(&bob);
    slim_app__identity_cleanup(&alice);
}

TEST(mls_identity) {
    slim_identity_config shared = {.kind = SLIM_IDENTITY_SHARED_SECRET,
                                   .id = "agntcy/ns/alice",
                                   .secret = "a-secret-of-32-characters-or-more"};
    for (uint16_t suite = 0; suite <= 2; suite++)
        check_credentials(&shared, &shared, suite, T0 + 3601, SLIM_E_IDENTITY_EXPIRED);
    slim_identity_config jwt = {.kind = SLIM_IDENTITY_JWT,
                                .algorithm = "HS256",
                                .key = "a-jwt-hmac-key",
                                .subject = "agntcy/ns/alice",
                                .duration_s = 10};
    slim_identity_config jv = {
        .kind = SLIM_IDENTITY_JWT, .algorithm = "HS256", .key = "a-jwt-hmac-key"};
    for (uint16_t suite = 1; suite <= 2; suite++)
        check_credentials(&jwt, &jv, suite, T0 + 100, SLIM_E_JWT_EXPIRED);
    jwt.subject = NULL; /* no sub: the any id, as the app's name has */
    check_credentials(&jwt, &jv, 1, T0 + 100, SLIM_E_JWT_EXPIRED);
    jwt.subject = "agntcy/ns/alice";
    /* the key is of the suite's scheme, and a suite we lack is refused */
    app_identity a;
    slim_bytes cred, sk;
    uint16_t got = 0;
    CHECK_STATUS(slim_app__identity_init(&a, &shared, &shared, 3, T0), SLIM_E_INVALID_ARG);
    CHECK_OK(slim_app__identity_init(&a, &shared, &shared, 1, T0));
    CHECK_EQ(slim_identity_public_key(a.shared).len, 32);
    slim_app__identity_cleanup(&a);
    CHECK_OK(slim_app__identity_init(&a, &jwt, &jv, 2, T0));
    CHECK_EQ(slim_jwt_provider_public_key(a.jwt).len, 65);
    slim_app__identity_cleanup(&a);
    /* a static token has no private key: no MLS */
    char path[128];
    snprintf(path, sizeof path, "%s/mls.token", dir);
    slim_jwt_keys *k = NULL;
    CHECK_OK(slim_jwt_keys_parse(SLIM_JWT_HS256, SLIM_JWT_KEY_PEM, test_text("a-jwt-hmac-key"),
                                 true, &k));
    slim_jwt_provider_params tp = {.subject = {"agntcy/ns/svc", 13}, .no_pubkey = true};
    slim_jwt_provider *tok = NULL;
    CHECK_OK(slim_jwt_provider_new(k, &tp, &tok));
    slim_str t = {"", 0};
    CHECK_OK(slim_jwt_provider_token(tok, T0, &t));
    char *text = strndup(t.ptr, t.len);
    slim_jwt_provider_free(tok);
    write_file(path, text);
    slim_identity_config st = {.kind = SLIM_IDENTITY_STATIC_JWT, .token_file = path};
    CHECK_OK(slim_app__identity_init(&a, &st, &jv, 0, T0));
    CHECK_STATUS(slim_app__identity_mls_self(&a, T0, &cred, &sk, &got), SLIM_E_UNSUPPORTED);
    slim_app__identity_cleanup(&a);
    /* through the app: a group with MLS is made (its first commit signed
     * with the identity's key), except by a static token */
    slim_session_options g = {.type = SLIM_SESSION_MULTICAST, .peer = "org/ns/g", .mls = true};
    slim_session_id s = 0;
    slim_app *app = NULL;
    for (uint16_t suite = 1; suite <= 2; suite++) {
        slim_app_options o = {.mls_suite = suite};
        CHECK_OK(slim_app_new("org/ns/a", &shared, &shared, &o, &app));
        CHECK_OK(slim_session_create(app, &g, 5000, &s));
        CHECK_OK(slim_session_delete(app, s, 5000));
        slim_app_free(app, 1000);
    }
    CHECK_OK(slim_app_new("org/ns/a", &st, &jv, NULL, &app));
    CHECK_STATUS(slim_session_create(app, &g, 5000, &s), SLIM_E_UNSUPPORTED);
    slim_app_free(app, 1000);
    free(text);
    unlink(path);
    /* slim_app_new takes suites 0, 1 and 2 only */
    slim_app_options o = {.mls_suite = 3};
    CHECK_STATUS(slim_app_new("org/ns/a", &shared, &shared, &o, &app), SLIM_E_INVALID_ARG);
    o.mls_suite = 1;
    CHECK_OK(slim_app_new("org/ns/a", &shared, &shared, &o, &app));
    slim_app_free(app, 1000);
}

/* Reads messages of session s until each of the n texts of `want` came
 * (in any order: they are from different senders); false if one did not
 * within 10 s of the one before. */
static bool got_texts(slim_app *app, slim_session_id s, const char *const *want, int n) {
    bool seen[4] = {false};
    for (int left = n, i = 0; left > 0 && i < 20; i++) {
        slim_message *m = NULL;
        if (slim_session_get_message(app, s, 10000, &m) != SLIM_OK)
            return false;
        for (int k = 0; k < n; k++)
            if (!seen[k] && m->payload.len == strlen(want[k]) &&
                memcmp(m->payload.ptr, want[k], m->payload.len) == 0) {
                seen[k] = true;
                left--;
            }
        slim_message_free(m);
        if (left == 0)
            return true;
    }
    return false;
}

/* An MLS group whose members' tokens live 2 s (shared-secret tokens: the
 * JWT verifier's 60 s leeway would hide the expiry): once every token in
 * the tree has expired, the moderator still invites (the newcomer's token
 * is fresh; leaves already in the tree are not checked for expiry) and
 * removes (its commit carries its own leaf, with its old token), and the
 * members still read each other. */
TEST(mls_group_outlives_short_tokens) {
    test_node n;
    CHECK(test_node_start(&n, ""));
    const char *names[] = {"org/ns/mod", "org/ns/p1", "org/ns/p2", "org/ns/p3"};
    const char *ids[] = {"agntcy/ns/mod", "agntcy/ns/p1", "agntcy/ns/p2", "agntcy/ns/p3"};
    slim_app *app[4] = {NULL};
    for (int i = 0; i < 4; i++) {
        slim_identity_config p = {.kind = SLIM_IDENTITY_SHARED_SECRET,
                                  .id = ids[i],
                                  .secret = "a-secret-of-32-characters-or-more",
                                  .duration_s = 2};
        app[i] = app_on(names[i], &p, &p, n.port);
    }
    slim_session_id g = 0, s[4] = {0};
    if (app[0] != NULL && app[1] != NULL && app[2] != NULL && app[3] != NULL) {
        for (int i = 1; i < 4; i++)
            CHECK_OK(slim_app_set_route(app[0], names[i], 0, 5000));
        slim_session_options o = {.type = SLIM_SESSION_MULTICAST,
                                  .peer = "org/ns/chat",
                                  .timeout_ms = 1000,
                                  .max_retries = 5,
                                  .mls = true};
        CHECK_OK(slim_session_create(app[0], &o, 5000, &g));
        for (int i = 1; i <= 2; i++) {
            CHECK_OK(slim_session_invite(app[0], g, names[i], 15000));
            CHECK_OK(slim_app_listen(app[i], 5000, &s[i]));
        }
        usleep(3500 * 1000); /* every token in the tree has expired */
        CHECK_OK(slim_session_invite(app[0], g, names[3], 15000));
        CHECK_OK(slim_app_listen(app[3], 5000, &s[3]));
        CHECK_OK(slim_session_remove(app[0], g, names[2], 15000));
        CHECK_OK(slim_session_publish(app[0], g, test_text("from mod"), NULL, 5000, NULL));
        CHECK_OK(slim_session_publish(app[1], s[1], test_text("from p1"), NULL, 5000, NULL));
        const char *both[] = {"from mod", "from p1"}, *mod[] = {"from mod"};
        CHECK(got_texts(app[3], s[3], both, 2));
        CHECK(got_texts(app[1], s[1], mod, 1));
        CHECK_OK(slim_session_delete(app[0], g, 5000));
    }
    for (int i = 0; i < 4; i++)
        slim_app_free(app[i], 1000);
    test_node_stop(&n);
}

TEST(setup) {
    snprintf(dir, sizeof dir, "/tmp/slim-jwt-apps-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

TEST(teardown) {
    CHECK_EQ(rmdir(dir), 0);
}

TEST_MAIN(TEST_ENTRY(setup), TEST_ENTRY(sessions_between_jwt_apps),
          TEST_ENTRY(refused_configurations), TEST_ENTRY(mls_identity),
          TEST_ENTRY(mls_group_outlives_short_tokens), TEST_ENTRY(teardown))
