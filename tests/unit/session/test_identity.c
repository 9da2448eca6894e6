/* Unit tests for src/session/identity and the wire's header AAD: the app id
 * against upstream's own value, token reuse, the time window, the verified
 * token cache (counted HMACs), every shape of bad input, signatures,
 * stamping and checking messages, random-source and allocation failures.
 * Formats are checked against independent code in
 * tests/interop/test_identity_interop.py. */
#include "test.h"
#include "core/base64.h"
#include "core/util.h"
#include "mls/primitives.h"
#include "mls/pkey.h"
#include "session/identity.h"

#define T0 1800000000ull

static const char SECRET[] = "a shared secret of at least 32 characters";

static slim_str S(const char *s) {
    slim_str v = {s, strlen(s)};
    return v;
}

/* A deterministic random source (splitmix64) that can be told to fail. */
typedef struct trng {
    slim_mls_rng rng;
    uint64_t state;
    bool fail;
} trng;

static slim_status trng_fill(void *ctx, uint8_t *out, size_t n) {
    trng *t = ctx;
    if (t->fail)
        return SLIM_E_MLS_RNG;
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (t->state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        out[i] = (uint8_t)(z ^ (z >> 31));
    }
    return SLIM_OK;
}

static void trng_init(trng *t, uint64_t seed) {
    t->rng.fill = trng_fill;
    t->rng.ctx = t;
    t->state = seed;
    t->fail = false;
}

static slim_identity *new_identity(const char *base, const slim_identity_params *cfg) {
    slim_identity *id = NULL;
    CHECK_OK(slim_identity_new(S(base), S(SECRET), cfg, &id));
    return id;
}

static slim_identity_verifier *new_verifier(const slim_identity_params *cfg) {
    slim_identity_verifier *v = NULL;
    CHECK_OK(slim_identity_verifier_new(S(SECRET), cfg, &v));
    return v;
}

static slim_identity_verifier_stats stats_of(const slim_identity_verifier *v) {
    slim_identity_verifier_stats s;
    slim_identity_verifier_stats_get(v, &s);
    return s;
}

/* A copy of the current token (the provider's view changes on renewal). */
static char *token_at(slim_identity *id, uint64_t now) {
    slim_str t = {0};
    CHECK_OK(slim_identity_token(id, now, &t));
    char *c = malloc(t.len + 1);
    memcpy(c, t.ptr, t.len);
    c[t.len] = '\0';
    CHECK_EQ(strlen(t.ptr), t.len); /* NUL-terminated */
    return c;
}

TEST(app_id_matches_upstream) {
    /* Upstream's SDK, createAppWithSecret("agntcy/ns/alice", ...), sent
     * messages from this provider id with this name id. */
    slim_id id = slim_identity_app_id_of(S("agntcy/ns/alice_uOMDoOkl"));
    CHECK_U64(id.hi, 0x0c996d7df26103d2ull);
    CHECK_U64(id.lo, 0x0e6ad65b979a1583ull);
    /* the reserved top 51 values map to 0..50; the rest stay */
    slim_id r = slim_identity_app_id_reduce((slim_id){UINT64_MAX, UINT64_MAX});
    CHECK_U64(r.hi, 0);
    CHECK_U64(r.lo, 50);
    r = slim_identity_app_id_reduce((slim_id){UINT64_MAX, UINT64_MAX - 50});
    CHECK_U64(r.hi, 0);
    CHECK_U64(r.lo, 0);
    r = slim_identity_app_id_reduce((slim_id){UINT64_MAX, UINT64_MAX - 51});
    CHECK_U64(r.hi, UINT64_MAX);
    CHECK_U64(r.lo, UINT64_MAX - 51);
    r = slim_identity_app_id_reduce((slim_id){UINT64_MAX - 1, UINT64_MAX});
    CHECK_U64(r.hi, UINT64_MAX - 1);
}

TEST(provider_id_keys_and_signature) {
    trng t;
    trng_init(&t, 42);
    slim_identity_params cfg = {.rng = &t.rng};
    slim_identity *id = new_identity("agntcy/ns/alice", &cfg);
    slim_str s = slim_identity_id(id);
    CHECK_EQ(s.len, strlen("agntcy/ns/alice") + 9);
    CHECK(memcmp(s.ptr, "agntcy/ns/alice_", 16) == 0);
    for (size_t i = 16; i < s.len; i++)
        CHECK((s.ptr[i] >= 'a' && s.ptr[i] <= 'z') || (s.ptr[i] >= 'A' && s.ptr[i] <= 'Z') ||
              (s.ptr[i] >= '0' && s.ptr[i] <= '9'));
    slim_id app = slim_identity_app_id(id), want = slim_identity_app_id_of(s);
    CHECK_U64(app.hi, want.hi);
    CHECK_U64(app.lo, want.lo);
    /* the same random source gives the same identity */
    trng t2;
    trng_init(&t2, 42);
    slim_identity_params cfg2 = {.rng = &t2.rng};
    slim_identity *same = new_identity("agntcy/ns/alice", &cfg2);
    CHECK(memcmp(slim_identity_id(same).ptr, s.ptr, s.len) == 0);
    CHECK_MEM(slim_identity_public_key(same).ptr, slim_identity_public_key(id).ptr, 65);
    slim_identity_free(same);

    slim_bytes pk = slim_identity_public_key(id), sk = slim_identity_private_key(id);
    CHECK_EQ(pk.len, 65);
    CHECK_EQ(pk.ptr[0], 0x04);
    CHECK_EQ(sk.len, 32);
    uint8_t derived[65];
    CHECK_OK(slim_mls_sig_public(SLIM_MLS_SIG_ECDSA_P256_SHA256, sk, derived));
    CHECK_MEM(derived, pk.ptr, 65);

    slim_buf sig = SLIM_BUF_INIT;
    slim_bytes msg = slim_bytes_of("header bytes", 12);
    CHECK_OK(slim_identity_sign(id, msg, &sig));
    CHECK_INT(sig.len, <=, SLIM_IDENTITY_MAX_SIGNATURE);
    CHECK_EQ(sig.data[0], 0x30); /* DER SEQUENCE */
    CHECK_OK(slim_identity_verify_signature(pk, msg, slim_buf_view(&sig)));
    /* the same key, compressed: 0x02 or 0x03 by the parity of Y, then X */
    uint8_t comp[33];
    comp[0] = (uint8_t)(0x02 | (pk.ptr[64] & 1));
    memcpy(comp + 1, pk.ptr + 1, 32);
    CHECK_OK(slim_identity_verify_signature(slim_bytes_of(comp, 33), msg, slim_buf_view(&sig)));
    comp[0] ^= 1; /* the other point with this X */
    CHECK_STATUS(slim_identity_verify_signature(slim_bytes_of(comp, 33), msg, slim_buf_view(&sig)),
                 SLIM_E_IDENTITY_BAD_SIGNATURE);
    CHECK_STATUS(
        slim_identity_verify_signature(pk, slim_bytes_of("header byteS", 12), slim_buf_view(&sig)),
        SLIM_E_IDENTITY_BAD_SIGNATURE);
    slim_buf_cleanup(&sig);
    slim_identity_free(id);
}

static slim_msg *publish(int mtype);

/* Suite 1's scheme: a 32-byte key in the pubkey claim, 64-byte
 * signatures on command headers, the 32-byte seed as MLS takes it. */
TEST(ed25519_identity) {
    trng t;
    trng_init(&t, 5);
    slim_identity_params cfg = {.rng = &t.rng, .sig_scheme = SLIM_MLS_SIG_ED25519};
    slim_identity *id = new_identity("agntcy/ns/alice", &cfg);
    slim_bytes pk = slim_identity_public_key(id), sk = slim_identity_private_key(id);
    CHECK_EQ(pk.len, 32);
    CHECK_EQ(sk.len, 32);
    uint8_t derived[32];
    CHECK_OK(slim_mls_sig_public(SLIM_MLS_SIG_ED25519, sk, derived));
    CHECK_MEM(derived, pk.ptr, 32);
    /* the token carries it, and a verifier reads it back */
    slim_identity_verifier *v = new_verifier(NULL);
    char *tok = token_at(id, T0);
    slim_bytes got;
    CHECK_OK(slim_identity_verifier_pubkey(v, S(tok), T0, &got));
    CHECK_EQ(got.len, 32);
    CHECK_MEM(got.ptr, pk.ptr, 32);
    /* a stamped command: a 64-byte signature that verifies */
    slim_msg *m = publish(5);
    CHECK_OK(slim_identity_stamp(id, m, T0));
    slim_pb_header *h = slim_wire_header(m);
    CHECK(h->_e2e_header_sig_case);
    CHECK_EQ(h->e2e_header_sig.len, 64);
    CHECK_OK(slim_identity_verifier_check_msg(v, m, true, T0));
    m->publish->session->message_id++;
    CHECK_STATUS(slim_identity_verifier_check_msg(v, m, true, T0), SLIM_E_IDENTITY_BAD_SIGNATURE);
    slim_wire_free(m);
    /* 0 is P-256; other schemes are refused */
    slim_identity_params p256 = {.sig_scheme = 0};
    slim_identity *other = new_identity("svc", &p256);
    CHECK_EQ(slim_identity_public_key(other).len, 65);
    slim_identity_free(other);
    slim_identity_params bad = {.sig_scheme = (slim_mls_sig_scheme)0x0503};
    CHECK_STATUS(slim_identity_new(S("svc"), S(SECRET), &bad, &other), SLIM_E_INVALID_ARG);
    free(tok);
    slim_identity_verifier_free(v);
    slim_identity_free(id);
}

TEST(verify_signature_shapes) {
    trng t;
    trng_init(&t, 7);
    uint8_t sk[32], pk[32];
    CHECK_OK(slim_mls_sig_generate(SLIM_MLS_SIG_ED25519, &t.rng, sk, pk));
    slim_buf sig = SLIM_BUF_INIT;
    slim_bytes msg = slim_bytes_of("aad", 3);
    CHECK_OK(slim_mls_sig_sign(SLIM_MLS_SIG_ED25519, slim_bytes_of(sk, 32), msg, &sig));
    CHECK_EQ(sig.len, 64);
    CHECK_OK(slim_identity_verify_signature(slim_bytes_of(pk, 32), msg, slim_buf_view(&sig)));
    CHECK_STATUS(
        slim_identity_verify_signature(slim_bytes_of(pk, 32), msg, slim_bytes_of(sig.data, 63)),
        SLIM_E_IDENTITY_BAD_SIGNATURE);
    CHECK_STATUS(slim_identity_verify_signature(slim_bytes_of(pk, 32), msg, slim_bytes_of(NULL, 0)),
                 SLIM_E_IDENTITY_BAD_SIGNATURE);
    static const size_t bad_lens[] = {0, 1, 31, 34, 64, 66, 97};
    uint8_t junk[97] = {0x04};
    for (size_t i = 0; i < SLIM_ARRAY_LEN(bad_lens); i++)
        CHECK_STATUS(slim_identity_verify_signature(slim_bytes_of(junk, bad_lens[i]), msg,
                                                    slim_buf_view(&sig)),
                     SLIM_E_IDENTITY_BAD_PUBKEY);
    /* 65 bytes that are not on the curve, and OpenSSL's hybrid form */
    memset(junk + 1, 1, 64);
    CHECK_STATUS(slim_identity_verify_signature(slim_bytes_of(junk, 65), msg, slim_buf_view(&sig)),
                 SLIM_E_IDENTITY_BAD_PUBKEY);
    CHECK_STATUS(slim_identity_verify_signature(slim_bytes_of(NULL, 5), msg, slim_buf_view(&sig)),
                 SLIM_E_INVALID_ARG);
    slim_buf_cleanup(&sig);
}

TEST(token_reused_until_half_validity) {
    slim_identity *id = new_identity("svc", NULL);
    char *t0 = token_at(id, T0);
    char *t1 = token_at(id, T0 + 1799);
    CHECK_STR(t1, t0);
    char *t2 = token_at(id, T0 + 1800);
    CHECK(strcmp(t2, t0) != 0);
    CHECK(strstr(t2, ":1800001800:") != NULL);
    char *t3 = token_at(id, T0 + 3000);
    CHECK_STR(t3, t2);
    /* the clock went back before the token's timestamp: a new one */
    char *t4 = token_at(id, T0 + 1799);
    CHECK(strstr(t4, ":1800001799:") != NULL);
    free(t0), free(t1), free(t2), free(t3), free(t4);
    slim_identity_free(id);

    slim_identity_params cfg = {.validity_s = 10};
    id = new_identity("svc", &cfg);
    t0 = token_at(id, T0);
    t1 = token_at(id, T0 + 4);
    t2 = token_at(id, T0 + 5);
    CHECK_STR(t1, t0);
    CHECK(strcmp(t2, t0) != 0);
    free(t0), free(t1), free(t2);
    slim_identity_free(id);
}

TEST(time_window_and_claims) {
    slim_identity *id = new_identity("agntcy/ns/alice", NULL);
    char *t = token_at(id, T0);
    static const struct {
        int64_t at;
        slim_status want;
    } cases[] = {
        {-6, SLIM_E_IDENTITY_NOT_YET_VALID},
        {-5, SLIM_OK},
        {0, SLIM_OK},
        {3600, SLIM_OK},
        {3601, SLIM_E_IDENTITY_EXPIRED},
        {-100000, SLIM_E_IDENTITY_NOT_YET_VALID},
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(cases); i++) {
        slim_identity_verifier *v = new_verifier(NULL); /* a fresh cache each time */
        slim_identity_claims c;
        CHECK_STATUS(slim_identity_verifier_check_token(v, S(t), T0 + (uint64_t)cases[i].at, &c),
                     cases[i].want);
        if (cases[i].want == SLIM_OK) {
            CHECK_EQ(c.subject.len, slim_identity_id(id).len);
            CHECK_MEM(c.subject.ptr, slim_identity_id(id).ptr, c.subject.len);
            CHECK_U64(c.issued_at, T0);
            CHECK_U64(c.expires_at, T0 + 3600);
        }
        slim_identity_verifier_free(v);
    }
    /* a skew and validity of our own */
    slim_identity_params cfg = {.validity_s = 100, .clock_skew_s = 30};
    slim_identity_verifier *v = new_verifier(&cfg);
    CHECK_OK(slim_identity_verifier_check_token(v, S(t), T0 - 30, NULL));
    CHECK_STATUS(slim_identity_verifier_check_token(v, S(t), T0 - 31, NULL),
                 SLIM_E_IDENTITY_NOT_YET_VALID);
    CHECK_OK(slim_identity_verifier_check_token(v, S(t), T0 + 100, NULL));
    CHECK_STATUS(slim_identity_verifier_check_token(v, S(t), T0 + 101, NULL),
                 SLIM_E_IDENTITY_EXPIRED);
    slim_identity_verifier_free(v);
    free(t);
    slim_identity_free(id);
}

TEST(second_check_is_a_lookup) {
    slim_identity *id = new_identity("svc", NULL);
    slim_identity_verifier *v = new_verifier(NULL);
    char *t = token_at(id, T0);
    CHECK_OK(slim_identity_verifier_check_token(v, S(t), T0, NULL));
    CHECK_U64(stats_of(v).hmacs, 1);
    CHECK_U64(stats_of(v).cache_size, 1);
    for (int i = 1; i <= 10; i++) {
        slim_identity_claims c;
        CHECK_OK(slim_identity_verifier_check_token(v, S(t), T0 + (uint64_t)i * 100, &c));
        CHECK_U64(c.issued_at, T0);
        CHECK_EQ(c.subject.len, slim_identity_id(id).len);
    }
    CHECK_U64(stats_of(v).hmacs, 1); /* no MAC computed again */
    CHECK_U64(stats_of(v).cache_hits, 10);
    /* the same text at another address is found too */
    char copy[512];
    strcpy(copy, t);
    CHECK_OK(slim_identity_verifier_check_token(v, S(copy), T0, NULL));
    CHECK_U64(stats_of(v).hmacs, 1);
    /* a cached token past its validity is refused and forgotten */
    CHECK_STATUS(slim_identity_verifier_check_token(v, S(t), T0 + 3601, NULL),
                 SLIM_E_IDENTITY_EXPIRED);
    CHECK_U64(stats_of(v).cache_size, 0);
    CHECK_U64(stats_of(v).evictions, 1);
    CHECK_STATUS(slim_identity_verifier_check_token(v, S(t), T0 + 3601, NULL),
                 SLIM_E_IDENTITY_EXPIRED);
    CHECK_U64(stats_of(v).hmacs, 1); /* refused on its time, before any MAC */
    /* checked again in its window: a full verification */
    CHECK_OK(slim_identity_verifier_check_token(v, S(t), T0, NULL));
    CHECK_U64(stats_of(v).hmacs, 2);
    /* a cached token seen through a clock far behind is not yet valid */
    CHECK_STATUS(slim_identity_verifier_check_token(v, S(t), T0 - 6, NULL),
                 SLIM_E_IDENTITY_NOT_YET_VALID);
    /* one byte changed: not the cached token, and its MAC fails */
    copy[strlen(copy) - 2] = copy[strlen(copy) - 2] == 'A' ? 'B' : 'A';
    CHECK_STATUS(slim_identity_verifier_check_token(v, S(copy), T0, NULL), SLIM_E_IDENTITY_BAD_MAC);
    /* failures are never cached */
    CHECK_STATUS(slim_identity_verifier_check_token(v, S(copy), T0, NULL), SLIM_E_IDENTITY_BAD_MAC);
    CHECK_U64(stats_of(v).cache_size, 0);
    free(t);
    slim_identity_verifier_free(v);
    slim_identity_free(id);
}

TEST(cache_is_bounded) {
    slim_identity_params cfg = {.cache_max = 4};
    slim_identity_verifier *v = new_verifier(&cfg);
    slim_identity *id = new_identity("svc", NULL);
    char *tokens[10];
    for (int i = 0; i < 10; i++) {
        tokens[i] = token_at(id, T0 + (uint64_t)i * 1800); /* a new token each time */
        CHECK_OK(
            slim_identity_verifier_check_token(v, S(tokens[i]), T0 + (uint64_t)i * 1800, NULL));
        CHECK_INT(stats_of(v).cache_size, <=, 4);
    }
    /* expired tokens go first: each insertion drops those 3 renewals old */
    CHECK_U64(stats_of(v).cache_size, 3); /* 7, 8 and 9 */
    CHECK_U64(stats_of(v).evictions, 7);
    CHECK_U64(stats_of(v).hmacs, 10);
    CHECK_OK(slim_identity_verifier_check_token(v, S(tokens[9]), T0 + 9 * 1800, NULL));
    CHECK_U64(stats_of(v).hmacs, 10);
    CHECK_OK(slim_identity_verifier_check_token(v, S(tokens[7]), T0 + 9 * 1800, NULL));
    CHECK_U64(stats_of(v).hmacs, 10);
    CHECK_STATUS(slim_identity_verifier_check_token(v, S(tokens[6]), T0 + 9 * 1800, NULL),
                 SLIM_E_IDENTITY_EXPIRED);

    /* at one time: the oldest is evicted for room */
    slim_identity_verifier_free(v);
    v = new_verifier(&cfg);
    slim_identity *ids[6];
    char *same_time[6];
    for (int i = 0; i < 6; i++) {
        ids[i] = new_identity("svc", NULL);
        same_time[i] = token_at(ids[i], T0);
        CHECK_OK(slim_identity_verifier_check_token(v, S(same_time[i]), T0, NULL));
    }
    CHECK_U64(stats_of(v).cache_size, 4);
    CHECK_U64(stats_of(v).evictions, 2);
    CHECK_OK(slim_identity_verifier_check_token(v, S(same_time[5]), T0, NULL));
    CHECK_U64(stats_of(v).hmacs, 6); /* still cached */
    CHECK_OK(slim_identity_verifier_check_token(v, S(same_time[0]), T0, NULL));
    CHECK_U64(stats_of(v).hmacs, 7); /* was evicted */
    for (int i = 0; i < 6; i++) {
        free(same_time[i]);
        slim_identity_free(ids[i]);
    }
    for (int i = 0; i < 10; i++)
        free(tokens[i]);
    slim_identity_verifier_free(v);
    slim_identity_free(id);
}

TEST(long_tokens_are_not_cached) {
    char base[3000];
    memset(base, 'x', sizeof base - 1);
    base[sizeof base - 1] = '\0';
    slim_identity *id = new_identity(base, NULL);
    slim_identity_verifier *v = new_verifier(NULL);
    char *t = token_at(id, T0);
    CHECK_INT(strlen(t), >, SLIM_IDENTITY_CACHE_TOKEN_MAX);
    slim_bytes pk;
    for (int i = 0; i < 3; i++) {
        CHECK_OK(slim_identity_verifier_check_token(v, S(t), T0, NULL));
        CHECK_OK(slim_identity_verifier_pubkey(v, S(t), T0, &pk));
        CHECK_MEM(pk.ptr, slim_identity_public_key(id).ptr, 65);
    }
    CHECK_U64(stats_of(v).hmacs, 6);
    CHECK_U64(stats_of(v).cache_size, 0);
    CHECK_U64(stats_of(v).claims_parsed, 3);
    free(t);
    slim_identity_verifier_free(v);
    slim_identity_free(id);
}

TEST(pubkey_is_read_once) {
    slim_identity *id = new_identity("svc", NULL);
    slim_identity_verifier *v = new_verifier(NULL);
    char *t = token_at(id, T0);
    slim_bytes pk;
    for (int i = 0; i < 3; i++) {
        CHECK_OK(slim_identity_verifier_pubkey(v, S(t), T0 + (uint64_t)i, &pk));
        CHECK_EQ(pk.len, 65);
        CHECK_MEM(pk.ptr, slim_identity_public_key(id).ptr, 65);
    }
    CHECK_U64(stats_of(v).claims_parsed, 1);
    CHECK_U64(stats_of(v).hmacs, 1);
    CHECK_STATUS(slim_identity_verifier_pubkey(v, S(t), T0 + 3601, &pk), SLIM_E_IDENTITY_EXPIRED);
    CHECK_STATUS(slim_identity_verifier_pubkey(v, S(t), T0, NULL), SLIM_E_INVALID_ARG);
    free(t);
    slim_identity_verifier_free(v);
    slim_identity_free(id);
}

TEST(bad_tokens_get_named_statuses) {
    slim_identity_verifier *v = new_verifier(NULL);
    slim_identity *id = new_identity("svc", NULL);
    char *good = token_at(id, T0);
    char *mac = strrchr(good, ':') + 1;
    char buf[1024];
    static const struct {
        const char *token;
        slim_status want;
    } cases[] = {
        {"", SLIM_E_IDENTITY_MALFORMED},
        {"no colon at all", SLIM_E_IDENTITY_MALFORMED},
        {"a:b", SLIM_E_IDENTITY_MALFORMED},
        {"a:b:c", SLIM_E_IDENTITY_MALFORMED},
        {"a:b:c:d", SLIM_E_IDENTITY_MALFORMED},
        {"a:1800000000:c:d:e:f", SLIM_E_IDENTITY_MALFORMED}, /* ':' in the claims */
        {"a::c:d:e", SLIM_E_IDENTITY_MALFORMED},             /* empty timestamp */
        {"a:+:c:d:e", SLIM_E_IDENTITY_MALFORMED},
        {"a:-1:c:d:e", SLIM_E_IDENTITY_MALFORMED},
        {"a:1e9:c:d:e", SLIM_E_IDENTITY_MALFORMED},
        {"a:18446744073709551616:c:d:e", SLIM_E_IDENTITY_MALFORMED},
        {"a:18446744073709551615:c:d:e", SLIM_E_IDENTITY_NOT_YET_VALID},
        {"a:0:c:d:e", SLIM_E_IDENTITY_EXPIRED},
        {"a:1800000000:c:d:e", SLIM_E_IDENTITY_MALFORMED}, /* MAC of the wrong length */
        {"a:+1800000000:c:d:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", SLIM_E_IDENTITY_BAD_MAC},
        {"a:1800000000:c:d:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
         SLIM_E_IDENTITY_BAD_BASE64},
        {"a:1800000000:c:d:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
         SLIM_E_IDENTITY_BAD_BASE64},
        {"a:1800000000:c:d:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
         SLIM_E_IDENTITY_BAD_BASE64},
        {"::::", SLIM_E_IDENTITY_MALFORMED},
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(cases); i++) {
        slim_status got = slim_identity_verifier_check_token(v, S(cases[i].token), T0, NULL);
        if (got != cases[i].want)
            TEST_FAIL_AT("\"%s\": got %s, want %s", cases[i].token, slim_status_name(got),
                         slim_status_name(cases[i].want));
    }
    /* each field of a good token changed: the MAC no longer matches */
    for (size_t i = 0; good[i] != '\0' && good + i < mac - 1; i++) {
        if (good[i] == ':')
            continue;
        strcpy(buf, good);
        buf[i] = buf[i] == '1' ? '2' : '1';
        slim_status got = slim_identity_verifier_check_token(v, S(buf), T0, NULL);
        if (got != SLIM_E_IDENTITY_BAD_MAC && got != SLIM_E_IDENTITY_EXPIRED &&
            got != SLIM_E_IDENTITY_NOT_YET_VALID)
            TEST_FAIL_AT("byte %zu changed: %s", i, slim_status_name(got));
    }
    /* a NUL inside: the bytes count, not the C string */
    slim_str with_nul = {good, strlen(good) + 1};
    CHECK_STATUS(slim_identity_verifier_check_token(v, with_nul, T0, NULL),
                 SLIM_E_IDENTITY_MALFORMED);
    CHECK_STATUS(slim_identity_verifier_check_token(v, (slim_str){NULL, 3}, T0, NULL),
                 SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_identity_verifier_check_token(NULL, S(good), T0, NULL), SLIM_E_INVALID_ARG);
    /* a verifier with another secret */
    slim_identity_verifier *other = NULL;
    CHECK_OK(slim_identity_verifier_new(S("another secret"), NULL, &other));
    CHECK_STATUS(slim_identity_verifier_check_token(other, S(good), T0, NULL),
                 SLIM_E_IDENTITY_BAD_MAC);
    CHECK_OK(slim_identity_verifier_check_token(v, S(good), T0, NULL));
    slim_identity_verifier_free(other);
    free(good);
    slim_identity_free(id);
    slim_identity_verifier_free(v);
}

TEST(bad_ids_and_secrets) {
    static const char *bad[] = {"",
                                "a:b",
                                "a b",
                                "a\tb",
                                "a\nb",
                                ("a\xc2\xa0" /* no-break space */ "b"),
                                "\xe3\x80\x80",
                                "\xff",
                                "a\xc0\x80",
                                "\xed\xa0\x80",
                                "\xe2\x80\xa8"};
    slim_identity *id = NULL;
    for (size_t i = 0; i < SLIM_ARRAY_LEN(bad); i++)
        CHECK_STATUS(slim_identity_new(S(bad[i]), S(SECRET), NULL, &id), SLIM_E_IDENTITY_BAD_ID);
    CHECK_STATUS(slim_identity_new((slim_str){"a\0b", 3}, S(SECRET), NULL, &id),
                 SLIM_E_IDENTITY_BAD_ID);
    CHECK_STATUS(slim_identity_new(S("svc"), S(""), NULL, &id), SLIM_E_IDENTITY_NO_SECRET);
    CHECK_STATUS(slim_identity_new(S("svc"), S(SECRET), NULL, NULL), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_identity_verifier_new(S(""), NULL, NULL), SLIM_E_INVALID_ARG);
    slim_identity_verifier *v = NULL;
    CHECK_STATUS(slim_identity_verifier_new(S(""), NULL, &v), SLIM_E_IDENTITY_NO_SECRET);
    CHECK(slim_identity_secret_is_weak(S("secret")));
    CHECK(slim_identity_secret_is_weak(S("0123456789012345678901234567890")));
    CHECK(!slim_identity_secret_is_weak(S("01234567890123456789012345678901")));
    /* good ids: any non-space UTF-8, short secrets work */
    static const char *good[] = {"x", "agntcy/ns/alice", "caf\xc3\xa9", "\xf0\x9f\x98\x80"};
    for (size_t i = 0; i < SLIM_ARRAY_LEN(good); i++) {
        id = NULL;
        CHECK_OK(slim_identity_new(S(good[i]), S("secret"), NULL, &id));
        slim_identity_free(id);
    }
    slim_identity_free(NULL);
    slim_identity_verifier_free(NULL);
}

/* A Publish from alice to bob of the given session message type. */
static slim_msg *publish(int mtype) {
    slim_name src = {{1, 2, 3}, {0, 5}}, dst = {{1, 2, 4}, {UINT64_MAX, UINT64_MAX}};
    slim_str text[3] = {S("agntcy"), S("ns"), S("alice")};
    slim_wire_header_spec h = {.source = {&src, text}, .destination = {&dst, NULL}, .fanout = 1};
    slim_wire_session_spec s = {
        .session_type = 1, .message_type = mtype, .session_id = 9, .message_id = 300};
    slim_msg *m = NULL;
    CHECK_OK(slim_wire_publish_new(&h, &s, &m));
    if (slim_wire_is_command_type(mtype)) {
        slim_pb_command *cmd = NULL;
        CHECK_OK(slim_wire_command_new(
            DATAPLANE__PROTO__V1__COMMAND_PAYLOAD__COMMAND_PAYLOAD_TYPE_DISCOVERY_REQUEST, &cmd));
        CHECK_OK(slim_wire_set_command(m, cmd));
    } else {
        CHECK_OK(slim_wire_set_app_payload(m, "msg", slim_bytes_of("hi", 2)));
    }
    return m;
}

TEST(header_aad_known_bytes) {
    slim_name src = {{1, 2, 3}, {0, 5}}, dst = {{0, 0, 0}, {0, 0}};
    slim_wire_header_spec h = {.source = {&src, NULL}, .destination = {&dst, NULL}};
    slim_wire_session_spec s = {
        .session_type = 1, .message_type = 5, .session_id = 7, .message_id = 300};
    slim_msg *m = NULL;
    CHECK_OK(slim_wire_publish_new(&h, &s, &m));
    CHECK_OK(slim_wire_set_identity(m, S("t")));
    /* Written out by hand from the schema (tag = number << 3 | wire type):
     * version 1; source Name{name EncodedName{1, 2, 3, NameId{id_1 5}}};
     * destination Name{name EncodedName{NameId{}}}; identity "t";
     * session_type 1; session_message_type 5; session_id 7; message_id 300. */
    static const uint8_t want[] = {
        0x08, 0x01, /* version */
        0x12, 0x0c, 0x0a, 0x0a, 0x08, 0x01, 0x10, 0x02, 0x18, 0x03,
        0x22, 0x02, 0x10, 0x05, 0x1a, 0x04, 0x0a, 0x02, 0x22, 0x00, /* destination */
        0x22, 0x01, 't',                                            /* identity */
        0x28, 0x01, 0x30, 0x05, 0x38, 0x07, 0x40, 0xac, 0x02,
    };
    slim_buf aad = SLIM_BUF_INIT;
    CHECK_OK(slim_wire_header_aad(m, &aad));
    CHECK_EQ(aad.len, sizeof want);
    CHECK_MEM(aad.data, want, sizeof want);
    /* unknown enum values read as 0 (left out); a payload_type counts */
    m->publish->session->session_type = 9;
    m->publish->session->session_message_type = 21;
    CHECK_OK(slim_wire_set_app_payload(m, "ab", slim_bytes_of(NULL, 0)));
    aad.len = 0;
    CHECK_OK(slim_wire_header_aad(m, &aad));
    static const uint8_t want2[] = {0x38, 0x07, 0x40, 0xac, 0x02, 0x4a, 0x02, 'a', 'b'};
    CHECK_EQ(aad.len, sizeof want); /* 4 bytes of enums out, 4 of payload_type in */
    CHECK_MEM(aad.data + aad.len - sizeof want2, want2, sizeof want2);
    CHECK_MEM(aad.data, want, 25); /* up to the identity, as before */
    /* appends to what the buffer holds */
    size_t before = aad.len;
    CHECK_OK(slim_wire_header_aad(m, &aad));
    CHECK_EQ(aad.len, 2 * before);
    /* missing pieces */
    slim_pb_session *keep = m->publish->session;
    m->publish->session = NULL;
    CHECK_STATUS(slim_wire_header_aad(m, &aad), SLIM_E_WIRE_MISSING_FIELD);
    m->publish->session = keep;
    CHECK_STATUS(slim_wire_header_aad(NULL, &aad), SLIM_E_INVALID_ARG);
    slim_buf_cleanup(&aad);
    slim_wire_free(m);
}

TEST(stamp_and_check_messages) {
    slim_identity *id = new_identity("agntcy/ns/alice", NULL);
    slim_identity_verifier *v = new_verifier(NULL);
    slim_msg *m = publish(5);
    CHECK_OK(slim_identity_stamp(id, m, T0));
    slim_pb_header *h = slim_wire_header(m);
    CHECK(h->_e2e_header_sig_case);
    CHECK_OK(slim_identity_verifier_check_msg(v, m, true, T0));
    CHECK_U64(stats_of(v).signatures, 1);
    /* through the wire and back */
    slim_buf b = SLIM_BUF_INIT;
    CHECK_OK(slim_wire_encode(m, SIZE_MAX, &b));
    slim_msg *d = NULL;
    CHECK_OK(slim_wire_decode(slim_buf_view(&b), SIZE_MAX, &d));
    CHECK_OK(slim_identity_verifier_check_msg(v, d, true, T0 + 60));
    CHECK_U64(stats_of(v).hmacs, 1);
    CHECK_U64(stats_of(v).claims_parsed, 1);
    /* a header field the AAD covers changed */
    d->publish->session->message_id++;
    CHECK_STATUS(slim_identity_verifier_check_msg(v, d, true, T0), SLIM_E_IDENTITY_BAD_SIGNATURE);
    CHECK_OK(slim_identity_verifier_check_msg(v, d, false, T0)); /* token only */
    d->publish->session->message_id--;
    d->publish->header->fanout = 256; /* not covered */
    CHECK_OK(slim_identity_verifier_check_msg(v, d, true, T0));
    /* re-stamping after a change signs the new header */
    d->publish->session->message_id = 77;
    CHECK_OK(slim_identity_stamp(id, d, T0 + 1));
    CHECK_OK(slim_identity_verifier_check_msg(v, d, true, T0 + 1));
    /* no signature */
    CHECK_OK(slim_wire_set_header_sig(d, slim_bytes_of(NULL, 0)));
    CHECK(!d->publish->header->_e2e_header_sig_case);
    CHECK_STATUS(slim_identity_verifier_check_msg(v, d, true, T0), SLIM_E_IDENTITY_NO_SIGNATURE);
    CHECK_OK(slim_identity_verifier_check_msg(v, d, false, T0));
    CHECK_OK(slim_wire_set_header_sig(d, slim_bytes_of("", 0)));
    CHECK(d->publish->header->_e2e_header_sig_case);
    CHECK_STATUS(slim_identity_verifier_check_msg(v, d, true, T0), SLIM_E_IDENTITY_BAD_SIGNATURE);
    /* no identity at all */
    CHECK_OK(slim_wire_set_identity(d, S("")));
    CHECK_STATUS(slim_identity_verifier_check_msg(v, d, false, T0), SLIM_E_IDENTITY_MALFORMED);
    /* another identity's token with this one's signature */
    slim_identity *eve = new_identity("agntcy/ns/eve", NULL);
    CHECK_OK(slim_identity_stamp(id, m, T0));
    slim_str et;
    CHECK_OK(slim_identity_token(eve, T0, &et));
    CHECK_OK(slim_wire_set_identity(m, et));
    CHECK_STATUS(slim_identity_verifier_check_msg(v, m, true, T0), SLIM_E_IDENTITY_BAD_SIGNATURE);
    slim_identity_free(eve);
    slim_wire_free(d);
    slim_wire_free(m);
    slim_buf_cleanup(&b);

    /* data messages: a token, no signature */
    m = publish(1);
    CHECK_OK(slim_identity_stamp(id, m, T0));
    CHECK(!slim_wire_header(m)->_e2e_header_sig_case);
    CHECK(slim_wire_header(m)->identity[0] != '\0');
    CHECK_OK(slim_identity_verifier_check_msg(v, m, true, T0));
    slim_wire_free(m);
    /* a Subscribe: a token only */
    slim_name n = {{1, 2, 3}, {0, 0}};
    slim_wire_header_spec hs = {.source = {&n, NULL}, .destination = {&n, NULL}};
    CHECK_OK(slim_wire_subscribe_new(&hs, 1, false, &m));
    CHECK_OK(slim_identity_stamp(id, m, T0));
    CHECK_OK(slim_identity_verifier_check_msg(v, m, true, T0));
    slim_wire_free(m);
    /* no header */
    CHECK_OK(slim_wire_subscription_ack_new(1, true, NULL, &m));
    CHECK_STATUS(slim_identity_stamp(id, m, T0), SLIM_E_WIRE_MISSING_FIELD);
    CHECK_STATUS(slim_identity_verifier_check_msg(v, m, true, T0), SLIM_E_WIRE_MISSING_FIELD);
    CHECK_STATUS(slim_wire_set_identity(m, S("x")), SLIM_E_WIRE_MISSING_FIELD);
    CHECK_STATUS(slim_wire_set_header_sig(m, slim_bytes_of("x", 1)), SLIM_E_WIRE_MISSING_FIELD);
    slim_wire_free(m);
    CHECK_STATUS(slim_identity_stamp(id, NULL, T0), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_identity_verifier_check_msg(v, NULL, true, T0), SLIM_E_INVALID_ARG);
    /* a command without a session header: refused when a signature is due */
    m = publish(5);
    CHECK_OK(slim_identity_stamp(id, m, T0));
    slim_pb_session *keep = m->publish->session;
    m->publish->session = NULL;
    CHECK_STATUS(slim_identity_verifier_check_msg(v, m, true, T0), SLIM_E_WIRE_MISSING_FIELD);
    CHECK_OK(slim_identity_verifier_check_msg(v, m, false, T0));
    m->publish->session = keep;
    slim_wire_free(m);
    slim_identity_verifier_free(v);
    slim_identity_free(id);
}

/* MLS credentials: the token checked with or without its age, its key
 * compared with the leaf's, for both schemes. */
TEST(credentials) {
    static const slim_mls_sig_scheme schemes[] = {SLIM_MLS_SIG_ECDSA_P256_SHA256,
                                                  SLIM_MLS_SIG_ED25519};
    for (size_t i = 0; i < SLIM_ARRAY_LEN(schemes); i++) {
        slim_identity_params cfg = {.validity_s = 10, .sig_scheme = schemes[i]};
        slim_identity *id = new_identity("agntcy/ns/alice", &cfg);
        slim_identity *eve = new_identity("agntcy/ns/eve", &cfg);
        slim_identity_verifier *v = new_verifier(&cfg);
        slim_bytes key = slim_identity_public_key(id);
        char *tok = token_at(id, T0);
        slim_identity_claims c;
        slim_bytes pk;
        /* fresh, inside the validity */
        CHECK_OK(slim_identity_verifier_credential(v, S(tok), true, T0 + 10, &c, &pk));
        CHECK(slim_identity_same_key(pk, key));
        CHECK(!slim_identity_same_key(pk, slim_identity_public_key(eve)));
        CHECK_EQ(c.subject.len, slim_identity_id(id).len);
        CHECK_MEM(c.subject.ptr, slim_identity_id(id).ptr, c.subject.len);
        /* expired: refused when fresh, genuine otherwise */
        CHECK_STATUS(slim_identity_verifier_credential(v, S(tok), true, T0 + 11, &c, &pk),
                     SLIM_E_IDENTITY_EXPIRED);
        CHECK_OK(slim_identity_verifier_credential(v, S(tok), false, T0 + 100000, &c, &pk));
        CHECK(slim_identity_same_key(pk, key));
        CHECK_U64(c.issued_at, T0);
        /* tampered: refused either way */
        char *bad = strdup(tok);
        char *claims = strchr(strchr(strchr(bad, ':') + 1, ':') + 1, ':') + 1;
        claims[0] = claims[0] == 'e' ? 'f' : 'e';
        CHECK_STATUS(slim_identity_verifier_credential(v, S(bad), false, T0, &c, &pk),
                     SLIM_E_IDENTITY_BAD_MAC);
        CHECK_STATUS(slim_identity_verifier_credential(v, S(bad), true, T0, &c, &pk),
                     SLIM_E_IDENTITY_BAD_MAC);
        free(bad);
        /* another secret's token */
        slim_identity *stranger = NULL;
        CHECK_OK(slim_identity_new(S("x"), S("another secret"), &cfg, &stranger));
        char *st = token_at(stranger, T0);
        CHECK_STATUS(slim_identity_verifier_credential(v, S(st), false, T0, &c, &pk),
                     SLIM_E_IDENTITY_BAD_MAC);
        free(st);
        slim_identity_free(stranger);
        /* bytes a token cannot hold */
        slim_str with_nul = {tok, strlen(tok) + 1};
        CHECK_STATUS(slim_identity_verifier_credential(v, with_nul, false, T0, &c, &pk),
                     SLIM_E_IDENTITY_MALFORMED);
        char not_utf8[] = "a\xff:1800000000:n:c:m";
        CHECK_STATUS(slim_identity_verifier_credential(v, S(not_utf8), false, T0, &c, &pk),
                     SLIM_E_IDENTITY_MALFORMED);
        CHECK_STATUS(slim_identity_verifier_credential(v, S("a:b:c"), false, T0, &c, &pk),
                     SLIM_E_IDENTITY_MALFORMED);
        free(tok);
        slim_identity_verifier_free(v);
        slim_identity_free(eve);
        slim_identity_free(id);
    }
    /* a P-256 key equals its compressed form; junk equals nothing */
    slim_identity *id = new_identity("svc", NULL);
    slim_bytes pk = slim_identity_public_key(id);
    uint8_t comp[33];
    comp[0] = (uint8_t)(0x02 | (pk.ptr[64] & 1));
    memcpy(comp + 1, pk.ptr + 1, 32);
    CHECK(slim_identity_same_key(pk, slim_bytes_of(comp, 33)));
    CHECK(slim_identity_same_key(slim_bytes_of(comp, 33), pk));
    comp[0] ^= 1;
    CHECK(!slim_identity_same_key(pk, slim_bytes_of(comp, 33)));
    CHECK(!slim_identity_same_key(pk, slim_bytes_of(pk.ptr, 32)));
    CHECK(!slim_identity_same_key(slim_bytes_of(NULL, 0), slim_bytes_of(NULL, 0)));
    slim_identity_free(id);
}

/* An identity made again from its saved id and private key (a restart):
 * the same id, app id and public key; its tokens verify with a verifier
 * of the same secret, its stamps with the old identity's peers; bad ids
 * and keys are refused. Both signature schemes. */
TEST(restore) {
    static const slim_mls_sig_scheme schemes[] = {SLIM_MLS_SIG_ECDSA_P256_SHA256,
                                                  SLIM_MLS_SIG_ED25519};
    for (size_t i = 0; i < SLIM_ARRAY_LEN(schemes); i++) {
        slim_identity_params cfg = {.sig_scheme = schemes[i]};
        slim_identity *id = new_identity("agntcy/ns/alice", &cfg);
        slim_str full = slim_identity_id(id);
        slim_bytes sk = slim_identity_private_key(id), pk = slim_identity_public_key(id);
        slim_identity *r = NULL;
        CHECK_OK(slim_identity_restore(full, S(SECRET), sk, &cfg, &r));
        if (r == NULL) {
            slim_identity_free(id);
            continue;
        }
        CHECK_EQ(slim_identity_id(r).len, full.len);
        CHECK_MEM(slim_identity_id(r).ptr, full.ptr, full.len);
        CHECK_EQ(slim_identity_id(r).ptr[full.len], '\0');
        CHECK_U64(slim_identity_app_id(r).hi, slim_identity_app_id(id).hi);
        CHECK_U64(slim_identity_app_id(r).lo, slim_identity_app_id(id).lo);
        CHECK_EQ(slim_identity_public_key(r).len, pk.len);
        CHECK_MEM(slim_identity_public_key(r).ptr, pk.ptr, pk.len);
        CHECK_MEM(slim_identity_private_key(r).ptr, sk.ptr, 32);

        /* its token verifies and carries the same key and subject */
        slim_identity_verifier *v = new_verifier(NULL);
        char *tok = token_at(r, T0);
        slim_identity_claims c;
        slim_bytes got;
        CHECK_OK(slim_identity_verifier_credential(v, S(tok), true, T0, &c, &got));
        CHECK(slim_identity_same_key(got, pk));
        CHECK_EQ(c.subject.len, full.len);
        CHECK_MEM(c.subject.ptr, full.ptr, full.len);
        free(tok);
        /* a stamped command verifies; so does the original's */
        slim_msg *m = publish(5);
        CHECK_OK(slim_identity_stamp(r, m, T0));
        CHECK(slim_wire_header(m)->_e2e_header_sig_case);
        CHECK_OK(slim_identity_verifier_check_msg(v, m, true, T0));
        CHECK_OK(slim_identity_stamp(id, m, T0 + 1));
        CHECK_OK(slim_identity_verifier_check_msg(v, m, true, T0 + 1));
        slim_wire_free(m);
        /* a signature by one verifies under the other's key */
        slim_buf sig = SLIM_BUF_INIT;
        slim_bytes msg = slim_bytes_of("header bytes", 12);
        CHECK_OK(slim_identity_sign(r, msg, &sig));
        CHECK_OK(slim_identity_verify_signature(pk, msg, slim_buf_view(&sig)));
        slim_buf_cleanup(&sig);
        /* another secret: the same identity, whose tokens this verifier refuses */
        slim_identity *o = NULL;
        CHECK_OK(slim_identity_restore(full, S("another secret"), sk, &cfg, &o));
        tok = token_at(o, T0);
        CHECK_STATUS(slim_identity_verifier_check_token(v, S(tok), T0, NULL),
                     SLIM_E_IDENTITY_BAD_MAC);
        free(tok);
        slim_identity_free(o);
        slim_identity_verifier_free(v);
        slim_identity_free(r);

        /* refusals */
        r = NULL;
        CHECK_STATUS(slim_identity_restore(full, S(SECRET), slim_bytes_of(sk.ptr, 31), &cfg, &r),
                     SLIM_E_MLS_BAD_KEY);
        CHECK_STATUS(slim_identity_restore(full, S(SECRET), slim_bytes_of(NULL, 0), &cfg, &r),
                     SLIM_E_MLS_BAD_KEY);
        uint8_t long_key[33] = {0};
        memcpy(long_key, sk.ptr, 32);
        CHECK_STATUS(slim_identity_restore(full, S(SECRET), slim_bytes_of(long_key, 33), &cfg, &r),
                     SLIM_E_MLS_BAD_KEY);
        CHECK_STATUS(slim_identity_restore(full, S(""), sk, &cfg, &r), SLIM_E_IDENTITY_NO_SECRET);
        static const char *const bad_ids[] = {"",
                                              "_ABCDEFGH",
                                              "svcABCDEFGH",
                                              "svc_ABCDEFG",
                                              "svc_ABCDEFG-",
                                              "svc ABCDEFGH_ABCDEFGH",
                                              "svc:x_ABCDEFGH",
                                              "svc_ABCDEFGHI"};
        for (size_t k = 0; k < SLIM_ARRAY_LEN(bad_ids); k++)
            if (slim_identity_restore(S(bad_ids[k]), S(SECRET), sk, &cfg, &r) !=
                SLIM_E_IDENTITY_BAD_ID)
                TEST_FAIL_AT("id \"%s\" was not refused", bad_ids[k]);
        CHECK_STATUS(slim_identity_restore(full, S(SECRET), sk, &cfg, NULL), SLIM_E_INVALID_ARG);
        slim_identity_params other = {.sig_scheme = (slim_mls_sig_scheme)0x0503};
        CHECK_STATUS(slim_identity_restore(full, S(SECRET), sk, &other, &r), SLIM_E_INVALID_ARG);
        CHECK(r == NULL);
        /* any other base id with a valid suffix is another identity */
        CHECK_OK(slim_identity_restore(S("a_b_ABCDEFGH"), S(SECRET), sk, &cfg, &r));
        CHECK_U64(slim_identity_app_id(r).hi, slim_identity_app_id_of(S("a_b_ABCDEFGH")).hi);
        slim_identity_free(r);
        slim_identity_free(id);
    }
    /* P-256 scalars out of range: 0 and the group order n */
    static const uint8_t order[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
                                      0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    uint8_t zero[32] = {0};
    slim_identity *r = NULL;
    CHECK_STATUS(
        slim_identity_restore(S("svc_ABCDEFGH"), S(SECRET), slim_bytes_of(zero, 32), NULL, &r),
        SLIM_E_MLS_BAD_KEY);
    CHECK_STATUS(
        slim_identity_restore(S("svc_ABCDEFGH"), S(SECRET), slim_bytes_of(order, 32), NULL, &r),
        SLIM_E_MLS_BAD_KEY);
    /* any 32 bytes are an Ed25519 seed */
    slim_identity_params ed = {.sig_scheme = SLIM_MLS_SIG_ED25519};
    CHECK_OK(slim_identity_restore(S("svc_ABCDEFGH"), S(SECRET), slim_bytes_of(zero, 32), &ed, &r));
    slim_identity_free(r);
}

TEST(random_source_failure) {
    trng t;
    trng_init(&t, 1);
    t.fail = true;
    slim_identity_params cfg = {.rng = &t.rng};
    slim_identity *id = NULL;
    CHECK_STATUS(slim_identity_new(S("svc"), S(SECRET), &cfg, &id), SLIM_E_MLS_RNG);
    slim_identity_verifier *v = NULL;
    CHECK_STATUS(slim_identity_verifier_new(S(SECRET), &cfg, &v), SLIM_E_MLS_RNG);
    t.fail = false;
    id = new_identity("svc", &cfg);
    char *t0 = token_at(id, T0);
    t.fail = true;
    slim_str s;
    CHECK_STATUS(slim_identity_token(id, T0 + 1800, &s), SLIM_E_MLS_RNG);
    CHECK_OK(slim_identity_token(id, T0 + 1, &s)); /* the old token is still there */
    CHECK_STR(s.ptr, t0);
    free(t0);
    slim_identity_free(id);
}

TEST(allocation_failure) {
    slim_identity *proto_id = new_identity("agntcy/ns/alice", NULL);
    char *token = token_at(proto_id, T0);
    test_alloc_install();
    int nomem = 0;
    for (long k = 1; k < 400; k++) {
        test_alloc_fail_after(k);
        slim_identity *id = NULL;
        slim_identity_verifier *v = NULL;
        slim_msg *m = NULL;
        slim_str t;
        slim_bytes pk;
        slim_status st = slim_identity_new(S("agntcy/ns/alice"), S(SECRET), NULL, &id);
        if (st == SLIM_OK)
            st = slim_identity_verifier_new(S(SECRET), NULL, &v);
        if (st == SLIM_OK)
            st = slim_identity_token(id, T0, &t);
        if (st == SLIM_OK)
            st = slim_identity_token(id, T0 + 1800, &t);
        if (st == SLIM_OK) {
            /* failing to cache a token costs a later HMAC, never the check */
            st = slim_identity_verifier_check_token(v, S(token), T0, NULL);
            if (st == SLIM_OK)
                st = slim_identity_verifier_pubkey(v, S(token), T0, &pk);
        }
        if (st == SLIM_OK) {
            slim_name n = {{1, 2, 3}, {4, 5}};
            slim_wire_header_spec h = {.source = {&n, NULL}, .destination = {&n, NULL}};
            slim_wire_session_spec s = {.session_type = 1, .message_type = 5};
            st = slim_wire_publish_new(&h, &s, &m);
        }
        if (st == SLIM_OK)
            st = slim_identity_stamp(id, m, T0);
        if (st == SLIM_OK)
            st = slim_identity_verifier_check_msg(v, m, true, T0);
        if (st == SLIM_OK)
            st = slim_identity_stamp(id, m, T0 + 3600); /* a new token and signature */
        nomem += st == SLIM_E_NOMEM;
        if (st != SLIM_OK && st != SLIM_E_NOMEM)
            TEST_FAIL_AT("k=%ld: %s", k, slim_status_name(st));
        slim_wire_free(m);
        slim_identity_verifier_free(v);
        slim_identity_free(id);
        test_alloc_fail_after(0);
        if (test_alloc_live() != 0)
            TEST_FAIL_AT("k=%ld: %ld allocations leaked", k, test_alloc_live());
        if (st == SLIM_OK)
            break;
    }
    CHECK_INT(nomem, >, 10);
    test_alloc_uninstall();
    free(token);
    slim_identity_free(proto_id);
}

/* "svc_x:T0:nonce:<claims>:<mac>" with the right MAC, claims given as
 * JSON text (encoded here) or, when raw, as the field itself. */
static char *token_with_claims(const char *claims, bool raw) {
    slim_buf t = SLIM_BUF_INIT;
    CHECK_OK(slim_buf_append(&t, "svc_x:1800000000:BwcHBwcHBwcHBwcH:", 34));
    if (raw)
        CHECK_OK(slim_buf_append(&t, claims, strlen(claims)));
    else
        CHECK_OK(slim_b64_encode(slim_bytes_of(claims, strlen(claims)), SLIM_B64_URL, &t));
    uint8_t mac[32];
    CHECK_OK(slim_mls_hmac(SLIM_MLS_HASH_SHA256, slim_bytes_of(SECRET, strlen(SECRET)),
                           slim_buf_view(&t), mac));
    CHECK_OK(slim_buf_append_u8(&t, ':'));
    CHECK_OK(slim_b64_encode(slim_bytes_of(mac, 32), SLIM_B64_URL, &t));
    char *s = malloc(t.len + 1);
    memcpy(s, t.data, t.len);
    s[t.len] = '\0';
    slim_buf_cleanup(&t);
    return s;
}

TEST(pubkey_errors_are_named_and_leak_nothing) {
    static const struct {
        const char *claims;
        bool raw;
        slim_status want;
    } cases[] = {
        {"", true, SLIM_E_IDENTITY_NO_PUBKEY},
        {"e30=", true, SLIM_E_IDENTITY_BAD_BASE64}, /* padded */
        {"e30+", true, SLIM_E_IDENTITY_BAD_BASE64}, /* standard alphabet */
        {"e30", true, SLIM_E_IDENTITY_NO_PUBKEY},   /* {} */
        {"{", false, SLIM_E_IDENTITY_BAD_CLAIMS},
        {"{\"pubkey\":\"AA==\"} x", false, SLIM_E_IDENTITY_BAD_CLAIMS},
        {"[\"pubkey\"]", false, SLIM_E_IDENTITY_NO_PUBKEY},
        {"{\"pubkey\":null}", false, SLIM_E_IDENTITY_NO_PUBKEY},
        {"{\"custom_claims\":{\"pubkey\":\"AA==\"}}", false, SLIM_E_IDENTITY_NO_PUBKEY},
        {"{\"pubkey\":\"AA\"}", false, SLIM_E_IDENTITY_BAD_BASE64},
        {"{\"pubkey\":\"AA==\"}", false, SLIM_E_IDENTITY_BAD_PUBKEY},
        {"{\"pubkey\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}", false, SLIM_OK},
    };
    test_alloc_install();
    slim_identity_verifier *v = new_verifier(NULL);
    for (size_t i = 0; i < SLIM_ARRAY_LEN(cases); i++) {
        char *t = token_with_claims(cases[i].claims, cases[i].raw);
        slim_bytes pk;
        for (int k = 0; k < 2; k++) { /* the second answer comes from the cache */
            slim_status got = slim_identity_verifier_pubkey(v, S(t), T0, &pk);
            if (got != cases[i].want)
                TEST_FAIL_AT("claims \"%s\": got %s, want %s", cases[i].claims,
                             slim_status_name(got), slim_status_name(cases[i].want));
        }
        if (cases[i].want == SLIM_OK)
            CHECK_EQ(pk.len, 32); /* 32 zero bytes: an Ed25519 key's length */
        free(t);
    }
    CHECK_U64(stats_of(v).claims_parsed, SLIM_ARRAY_LEN(cases));
    slim_identity_verifier_free(v);
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_uninstall();
}

TEST_MAIN(TEST_ENTRY(app_id_matches_upstream), TEST_ENTRY(provider_id_keys_and_signature),
          TEST_ENTRY(ed25519_identity), TEST_ENTRY(verify_signature_shapes),
          TEST_ENTRY(token_reused_until_half_validity), TEST_ENTRY(time_window_and_claims),
          TEST_ENTRY(second_check_is_a_lookup), TEST_ENTRY(cache_is_bounded),
          TEST_ENTRY(long_tokens_are_not_cached), TEST_ENTRY(pubkey_is_read_once),
          TEST_ENTRY(bad_tokens_get_named_statuses), TEST_ENTRY(bad_ids_and_secrets),
          TEST_ENTRY(header_aad_known_bytes), TEST_ENTRY(stamp_and_check_messages),
          TEST_ENTRY(credentials), TEST_ENTRY(restore), TEST_ENTRY(random_source_failure),
          TEST_ENTRY(allocation_failure), TEST_ENTRY(pubkey_errors_are_named_and_leak_nothing))
