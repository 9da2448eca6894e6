/* Unit tests for saving and restoring an app's identity
 * (src/client/app_identity: slim_app__identity_export and
 * slim_app__identity_init_restored): the exported bytes field by field;
 * a shared-secret identity restored with the same id, app id and key
 * (its tokens and signatures accepted by an app that knew the old one),
 * for both MLS suites; a JWT identity checked to name the same app; and
 * every saved state that does not fit refused with a named status. */
#include "test.h"
#include "client/app_identity.h"
#include "core/util.h"
#include "mls/crypto.h"

#define T0 1800000000ull

static const char SECRET[] = "a shared secret of at least 32 characters";
static const char HMAC_KEY[] = "an HS256 key of at least thirty-two bytes";

static slim_identity_config shared(const char *id) {
    slim_identity_config c = {.kind = SLIM_IDENTITY_SHARED_SECRET, .id = id, .secret = SECRET};
    return c;
}

static slim_identity_config jwt(const char *subject) {
    slim_identity_config c = {
        .kind = SLIM_IDENTITY_JWT, .algorithm = "HS256", .key = HMAC_KEY, .subject = subject};
    return c;
}

static bool same_id(slim_id a, slim_id b) {
    return a.hi == b.hi && a.lo == b.lo;
}

static bool zeroed(const app_identity *id) {
    static const app_identity zero;
    return memcmp(id, &zero, sizeof zero) == 0;
}

/* A command message (signed when stamped). */
static slim_msg *command(void) {
    slim_name n = {{1, 2, 3}, {4, 5}};
    slim_wire_header_spec h = {.source = {&n, NULL}, .destination = {&n, NULL}};
    slim_wire_session_spec s = {.session_type = 1, .message_type = 5};
    slim_msg *m = NULL;
    CHECK_OK(slim_wire_publish_new(&h, &s, &m));
    return m;
}

static void shared_round_trip(uint16_t suite) {
    slim_identity_config p = shared("agntcy/ns/alice"), v = shared(NULL);
    app_identity a, b;
    CHECK_OK(slim_app__identity_init(&a, &p, &v, suite, T0));
    slim_buf saved = SLIM_BUF_INIT;
    CHECK_OK(slim_app__identity_export(&a, &saved));

    /* version, suite, kind, the id, the key; not the secret */
    slim_str aid = slim_app__identity_id(&a);
    slim_bytes key = slim_identity_private_key(a.shared);
    CHECK_EQ(saved.len, 1 + 2 + 1 + 4 + aid.len + 1 + 32);
    CHECK_EQ(saved.data[0], 1);
    CHECK_EQ((saved.data[1] << 8) | saved.data[2], suite);
    CHECK_EQ(saved.data[3], SLIM_IDENTITY_SHARED_SECRET);
    CHECK_EQ(saved.data[7], aid.len);
    CHECK_MEM(saved.data + 8, aid.ptr, aid.len);
    CHECK_EQ(saved.data[8 + aid.len], 32);
    CHECK_MEM(saved.data + 9 + aid.len, key.ptr, 32);
    for (size_t i = 0; i + 8 <= saved.len; i++)
        CHECK(memcmp(saved.data + i, SECRET, 8) != 0);

    CHECK_OK(slim_app__identity_init_restored(&b, &p, &v, suite, T0 + 100, slim_buf_view(&saved)));
    slim_str bid = slim_app__identity_id(&b);
    CHECK_EQ(bid.len, aid.len);
    CHECK_MEM(bid.ptr, aid.ptr, aid.len);
    CHECK(slim_app__identity_has_id(&b));
    CHECK(same_id(slim_app__identity_app_id(&b), slim_app__identity_app_id(&a)));
    slim_bytes apk = slim_identity_public_key(a.shared), bpk = slim_identity_public_key(b.shared);
    CHECK_EQ(bpk.len, apk.len);
    CHECK_MEM(bpk.ptr, apk.ptr, apk.len);

    /* the restored app is a member the old one accepts, with the same key */
    slim_bytes cred, priv;
    uint16_t got_suite = 0;
    CHECK_OK(slim_app__identity_mls_self(&b, T0 + 100, &cred, &priv, &got_suite));
    CHECK_EQ(got_suite, suite);
    CHECK_EQ(priv.len, 32);
    CHECK_MEM(priv.ptr, key.ptr, 32);
    slim_id member;
    CHECK_OK(slim_app__identity_mls_check(&a, cred, apk, true, T0 + 100, &member));
    CHECK(same_id(member, slim_app__identity_app_id(&a)));
    /* its signed messages verify, both ways */
    slim_msg *m = command();
    CHECK_OK(slim_app__identity_stamp(&b, m, T0 + 100));
    CHECK(slim_wire_header(m)->_e2e_header_sig_case);
    CHECK_OK(slim_app__identity_verify(&a, m, true, T0 + 100));
    CHECK_OK(slim_app__identity_stamp(&a, m, T0 + 100));
    CHECK_OK(slim_app__identity_verify(&b, m, true, T0 + 100));
    slim_wire_free(m);

    /* exporting the restored identity gives the same bytes */
    slim_buf again = SLIM_BUF_INIT;
    CHECK_OK(slim_app__identity_export(&b, &again));
    CHECK_EQ(again.len, saved.len);
    CHECK_MEM(again.data, saved.data, saved.len);
    slim_buf_cleanup_secret(&again);
    slim_app__identity_cleanup(&b);
    slim_app__identity_cleanup(&a);
    slim_buf_cleanup_secret(&saved);
}

TEST(shared_secret_round_trip) {
    shared_round_trip(SLIM_MLS_SUITE_P256_AES128GCM_SHA256_P256);
    shared_round_trip(1); /* Ed25519 */
}

/* Restores *id from saved with the given configs, expecting want; on
 * error the identity is left zeroed. */
static void expect_restore(const slim_identity_config *p, const slim_identity_config *v,
                           uint16_t suite, slim_bytes saved, slim_status want, const char *what) {
    app_identity b;
    slim_status st = slim_app__identity_init_restored(&b, p, v, suite, T0, saved);
    if (st != want)
        TEST_FAIL_AT("%s: %s, want %s", what, slim_status_name(st), slim_status_name(want));
    if (st == SLIM_OK)
        slim_app__identity_cleanup(&b);
    else if (!zeroed(&b))
        TEST_FAIL_AT("%s: identity not left empty", what);
}

/* Makes *a with suite 2 and appends its export to *saved. */
static void init_and_export(app_identity *a, const slim_identity_config *p,
                            const slim_identity_config *v, slim_buf *saved) {
    CHECK_OK(slim_app__identity_init(a, p, v, 2, T0));
    CHECK_OK(slim_app__identity_export(a, saved));
}

TEST(shared_secret_refusals) {
    slim_identity_config p = shared("agntcy/ns/alice"), v = shared(NULL);
    app_identity a;
    slim_buf saved = SLIM_BUF_INIT;
    init_and_export(&a, &p, &v, &saved);
    slim_bytes s = slim_buf_view(&saved);
    expect_restore(&p, &v, 2, s, SLIM_OK, "as saved");
    expect_restore(&p, &v, 0, s, SLIM_OK, "suite 0 is 2");

    /* another suite, another id, another kind */
    expect_restore(&p, &v, 1, s, SLIM_E_STATE_IDENTITY, "suite 1");
    slim_identity_config bob = shared("agntcy/ns/bob"), prefix = shared("agntcy/ns/ali");
    expect_restore(&bob, &v, 2, s, SLIM_E_STATE_IDENTITY, "another id");
    expect_restore(&prefix, &v, 2, s, SLIM_E_STATE_IDENTITY, "a prefix of the id");
    /* "svc" is not "svc_a", whose saved id "svc_a_<suffix>" starts "svc_" */
    slim_identity_config svc_a = shared("svc_a"), svc = shared("svc");
    app_identity u;
    slim_buf us = SLIM_BUF_INIT;
    init_and_export(&u, &svc_a, &v, &us);
    expect_restore(&svc, &v, 2, slim_buf_view(&us), SLIM_E_STATE_IDENTITY, "svc for svc_a");
    expect_restore(&svc_a, &v, 2, slim_buf_view(&us), SLIM_OK, "svc_a");
    slim_app__identity_cleanup(&u);
    slim_buf_cleanup_secret(&us);
    slim_identity_config j = jwt("agntcy/ns/alice");
    expect_restore(&j, &v, 2, s, SLIM_E_STATE_IDENTITY, "a JWT provider");
    /* a bad config is refused as init refuses it */
    slim_identity_config none = shared(NULL);
    expect_restore(&none, &v, 2, s, SLIM_E_INVALID_ARG, "no id configured");

    /* malformed: every truncation, a byte more, another version */
    uint8_t *b = malloc(saved.len + 1);
    for (size_t n = 0; n < saved.len; n++) {
        char what[48];
        snprintf(what, sizeof what, "truncated to %zu", n);
        expect_restore(&p, &v, 2, slim_bytes_of(saved.data, n), SLIM_E_STATE_FORMAT, what);
    }
    memcpy(b, saved.data, saved.len);
    b[saved.len] = 0;
    expect_restore(&p, &v, 2, slim_bytes_of(b, saved.len + 1), SLIM_E_STATE_FORMAT, "trailing");
    b[0] = 2;
    expect_restore(&p, &v, 2, slim_bytes_of(b, saved.len), SLIM_E_STATE_FORMAT, "version 2");
    b[0] = 1;
    b[3] = 9;
    expect_restore(&p, &v, 2, slim_bytes_of(b, saved.len), SLIM_E_STATE_FORMAT, "kind 9");
    b[3] = SLIM_IDENTITY_SHARED_SECRET;
    /* a key of 31 bytes, and a P-256 scalar of zero */
    size_t klen_at = saved.len - 33;
    b[klen_at] = 31;
    expect_restore(&p, &v, 2, slim_bytes_of(b, saved.len - 1), SLIM_E_MLS_BAD_KEY, "short key");
    b[klen_at] = 32;
    memset(b + klen_at + 1, 0, 32);
    expect_restore(&p, &v, 2, slim_bytes_of(b, saved.len), SLIM_E_MLS_BAD_KEY, "zero scalar");
    /* a suffix that slim_identity_new could not have drawn */
    memcpy(b, saved.data, saved.len);
    b[saved.len - 34] = '-';
    expect_restore(&p, &v, 2, slim_bytes_of(b, saved.len), SLIM_E_IDENTITY_BAD_ID, "bad suffix");
    expect_restore(&p, &v, 2, slim_bytes_of(NULL, 1), SLIM_E_INVALID_ARG, "NULL bytes");
    free(b);

    CHECK_STATUS(slim_app__identity_export(&a, NULL), SLIM_E_INVALID_ARG);
    slim_app__identity_cleanup(&a);
    CHECK_STATUS(slim_app__identity_export(&a, &saved), SLIM_E_INVALID_ARG); /* cleaned up */
    slim_buf_cleanup_secret(&saved);
}

TEST(jwt_round_trip) {
    slim_identity_config p = jwt("agntcy/ns/carol"), v = jwt(NULL);
    app_identity a;
    slim_buf saved = SLIM_BUF_INIT;
    init_and_export(&a, &p, &v, &saved);
    /* version, suite, kind, has id, the app id, the signing key (the
     * provider's own P-256 pair: not the JWT key, not the token) */
    CHECK_EQ(saved.len, 1 + 2 + 1 + 1 + 16 + 1 + 32);
    CHECK_EQ(saved.data[21], 32);
    CHECK_EQ(saved.data[3], SLIM_IDENTITY_JWT);
    CHECK_EQ(saved.data[4], 1);
    slim_id want = slim_app__identity_app_id(&a);
    slim_reader r;
    slim_reader_init(&r, slim_bytes_of(saved.data + 5, 16));
    slim_id got;
    CHECK_OK(slim_reader_u64(&r, &got.hi));
    CHECK_OK(slim_reader_u64(&r, &got.lo));
    CHECK(same_id(got, want));
    slim_bytes s = slim_buf_view(&saved);

    app_identity b;
    CHECK_OK(slim_app__identity_init_restored(&b, &p, &v, 2, T0, s));
    CHECK(same_id(slim_app__identity_app_id(&b), want));
    /* it signs (commands, MLS) with the key it had */
    slim_bytes ka = slim_jwt_provider_private_key(a.jwt), kb = slim_jwt_provider_private_key(b.jwt);
    CHECK(ka.len == 32 && kb.len == 32 && memcmp(ka.ptr, kb.ptr, 32) == 0);
    slim_msg *m = command();
    CHECK_OK(slim_app__identity_stamp(&b, m, T0));
    CHECK_OK(slim_app__identity_verify(&a, m, true, T0));
    slim_wire_free(m);
    slim_app__identity_cleanup(&b);

    slim_identity_config dave = jwt("agntcy/ns/dave"), nosub = jwt(NULL), sh = shared("x");
    expect_restore(&dave, &v, 2, s, SLIM_E_STATE_IDENTITY, "another subject");
    expect_restore(&nosub, &v, 2, s, SLIM_E_STATE_IDENTITY, "no subject");
    expect_restore(&sh, &v, 2, s, SLIM_E_STATE_IDENTITY, "a shared secret");
    expect_restore(&p, &v, 1, s, SLIM_E_STATE_IDENTITY, "suite 1");
    for (size_t n = 0; n < saved.len; n++)
        expect_restore(&p, &v, 2, slim_bytes_of(saved.data, n), SLIM_E_STATE_FORMAT, "truncated");
    slim_app__identity_cleanup(&a);
    slim_buf_cleanup(&saved);

    /* without a subject: saved as such, and restored only so */
    init_and_export(&a, &nosub, &v, &saved);
    CHECK_EQ(saved.data[4], 0);
    s = slim_buf_view(&saved);
    expect_restore(&nosub, &v, 2, s, SLIM_OK, "no subject");
    expect_restore(&p, &v, 2, s, SLIM_E_STATE_IDENTITY, "a subject now");
    slim_app__identity_cleanup(&a);
    slim_buf_cleanup(&saved);
}

static void export_and_restore(void) {
    slim_identity_config p = shared("agntcy/ns/alice"), v = shared(NULL);
    app_identity a, b;
    slim_buf saved = SLIM_BUF_INIT;
    slim_status st = slim_app__identity_init(&a, &p, &v, 2, T0);
    if (st != SLIM_OK) {
        CHECK_STATUS(st, SLIM_E_NOMEM);
        return;
    }
    st = slim_app__identity_export(&a, &saved);
    if (st == SLIM_OK)
        st = slim_app__identity_init_restored(&b, &p, &v, 2, T0, slim_buf_view(&saved));
    if (st == SLIM_OK)
        slim_app__identity_cleanup(&b);
    else
        CHECK_STATUS(st, SLIM_E_NOMEM);
    slim_app__identity_cleanup(&a);
    slim_buf_cleanup_secret(&saved);
}

TEST(allocation_failure) {
    test_alloc_sweep(export_and_restore, 5, 200);
}

TEST_MAIN(TEST_ENTRY(shared_secret_round_trip), TEST_ENTRY(shared_secret_refusals),
          TEST_ENTRY(jwt_round_trip), TEST_ENTRY(allocation_failure))
