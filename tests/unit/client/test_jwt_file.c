/* Unit tests for src/client/jwt_file: reading files, a static token file
 * reloaded when it changes (rewritten in place, replaced by rename) or
 * when its token expired, the check interval, errors that keep the old
 * token, and key files reloaded for a provider and a verifier. */
#include "test.h"
#include "client/jwt_file.h"
#include "core/util.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1800000000ull

static char dir[64];

static slim_str S(const char *s) {
    slim_str v = {s, strlen(s)};
    return v;
}

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

/* Writes text to dir/name, with its modification time set to `mtime`
 * seconds (so that a change is seen whatever the clock's resolution). */
static void write_file(const char *name, const char *text, long mtime) {
    char p[128];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fputs(text, f);
    fclose(f);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    CHECK_EQ(utimensat(AT_FDCWD, p, ts, 0), 0);
}

/* A token for sub, exp, signed with an HMAC key. */
static char *token(const char *sub, uint64_t exp) {
    slim_jwt_keys *k = NULL;
    CHECK_OK(slim_jwt_keys_parse(SLIM_JWT_HS256, SLIM_JWT_KEY_PEM, slim_bytes_of("secret", 6), true,
                                 &k));
    slim_jwt_provider_params pp = {
        .subject = S(sub), .duration_s = (uint32_t)(exp - T0), .no_pubkey = true};
    slim_jwt_provider *p = NULL;
    CHECK_OK(slim_jwt_provider_new(k, &pp, &p));
    slim_str t;
    CHECK_OK(slim_jwt_provider_token(p, T0, &t));
    char *c = strndup(t.ptr, t.len);
    slim_jwt_provider_free(p);
    return c;
}

static bool token_is(slim_jwt_token_file *f, const char *want) {
    slim_str t;
    if (slim_jwt_provider_token(slim_jwt_token_file_provider(f), T0, &t) != SLIM_OK)
        return false;
    return t.len == strlen(want) && memcmp(t.ptr, want, t.len) == 0;
}

TEST(read_files) {
    slim_buf b = SLIM_BUF_INIT;
    char p[128];
    write_file("small", "12345", 1000);
    path_of(p, sizeof p, "small");
    CHECK_OK(slim_jwt_file_read(p, 5, &b));
    CHECK_EQ(b.len, 5);
    CHECK_STATUS(slim_jwt_file_read(p, 4, &b), SLIM_E_TOO_LARGE);
    CHECK_EQ(b.len, 5); /* nothing appended */
    path_of(p, sizeof p, "missing");
    CHECK_STATUS(slim_jwt_file_read(p, 100, &b), SLIM_E_IO);
    CHECK_STATUS(slim_jwt_file_read(dir, 100, &b), SLIM_E_IO); /* a directory */
    slim_buf_cleanup(&b);
}

TEST(token_file_reloads) {
    char *a = token("svc-a", T0 + 3600), *b = token("svc-b", T0 + 3600);
    char *c = token("svc-c", T0 + 3600), *short_lived = token("svc-d", T0 + 100);
    char text[4096], p[128];
    snprintf(text, sizeof text, "%s\n", a);
    write_file("token", text, 1000);
    path_of(p, sizeof p, "token");
    slim_jwt_token_file *f = NULL;
    CHECK_OK(slim_jwt_token_file_new(p, 5, T0, &f));
    CHECK(token_is(f, a));
    slim_str id = slim_jwt_provider_id(slim_jwt_token_file_provider(f));
    CHECK(id.len == 5 && memcmp(id.ptr, "svc-a", 5) == 0);
    /* rewritten in place: seen at the next check, not before */
    write_file("token", b, 1001);
    bool reloaded = true;
    CHECK_OK(slim_jwt_token_file_poll(f, T0 + 4, &reloaded));
    CHECK(!reloaded);
    CHECK(token_is(f, a));
    CHECK_OK(slim_jwt_token_file_poll(f, T0 + 5, &reloaded));
    CHECK(reloaded);
    CHECK(token_is(f, b));
    CHECK_OK(slim_jwt_token_file_poll(f, T0 + 10, &reloaded));
    CHECK(!reloaded); /* unchanged */
    /* replaced by rename */
    write_file("token.new", c, 1001);
    char q[128];
    path_of(q, sizeof q, "token.new");
    CHECK_EQ(rename(q, p), 0);
    CHECK_OK(slim_jwt_token_file_poll(f, T0 + 15, &reloaded));
    CHECK(reloaded);
    CHECK(token_is(f, c));
    /* not a token, then gone: the old token stays */
    write_file("token", "not a token", 1002);
    CHECK_STATUS(slim_jwt_token_file_poll(f, T0 + 20, &reloaded), SLIM_E_JWT_MALFORMED);
    CHECK(!reloaded);
    CHECK(token_is(f, c));
    CHECK_OK(slim_jwt_token_file_poll(f, T0 + 21, &reloaded)); /* not looked at yet */
    CHECK_EQ(unlink(p), 0);
    CHECK_STATUS(slim_jwt_token_file_poll(f, T0 + 25, &reloaded), SLIM_E_IO);
    CHECK(token_is(f, c));
    slim_jwt_token_file_free(f);

    /* an expired token makes every poll look (once a second) */
    write_file("token", short_lived, 2000);
    CHECK_OK(slim_jwt_token_file_new(p, 1000, T0, &f));
    write_file("token", a, 2001);
    CHECK_OK(slim_jwt_token_file_poll(f, T0 + 99, &reloaded));
    CHECK(!reloaded);
    CHECK_OK(slim_jwt_token_file_poll(f, T0 + 100, &reloaded));
    CHECK(reloaded);
    CHECK(token_is(f, a));
    slim_jwt_token_file_free(f);

    CHECK_STATUS(slim_jwt_token_file_new(q, 5, T0, &f), SLIM_E_IO);
    write_file("empty", "\n", 1000);
    path_of(q, sizeof q, "empty");
    CHECK_STATUS(slim_jwt_token_file_new(q, 5, T0, &f), SLIM_E_JWT_MALFORMED);
    unlink(q);
    unlink(p);
    free(a);
    free(b);
    free(c);
    free(short_lived);
}

static char *ec_pem(EVP_PKEY *k, bool priv) {
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

TEST(key_files_reload) {
    EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char *s1 = ec_pem(k1, true), *s2 = ec_pem(k2, true), *v1 = ec_pem(k1, false),
         *v2 = ec_pem(k2, false);
    char sp[128], vp[128];
    write_file("signing.pem", s1, 1000);
    write_file("verifying.pem", v1, 1000);
    path_of(sp, sizeof sp, "signing.pem");
    path_of(vp, sizeof vp, "verifying.pem");
    slim_jwt_key_file *sf = NULL, *vf = NULL;
    slim_jwt_keys *sk = NULL, *vk = NULL, *nk = NULL;
    CHECK_OK(slim_jwt_key_file_new(SLIM_JWT_ES256, SLIM_JWT_KEY_PEM, sp, true, 5, T0, &sf, &sk));
    CHECK_OK(slim_jwt_key_file_new(SLIM_JWT_ES256, SLIM_JWT_KEY_PEM, vp, false, 5, T0, &vf, &vk));
    slim_jwt_provider *p = NULL;
    slim_jwt_verifier *v = NULL;
    CHECK_OK(slim_jwt_provider_new(sk, NULL, &p));
    CHECK_OK(slim_jwt_verifier_new(vk, NULL, &v));
    slim_str t;
    CHECK_OK(slim_jwt_provider_token(p, T0, &t));
    CHECK_OK(slim_jwt_verifier_check_token(v, t, T0, NULL));
    /* both files change: nothing before the interval, new keys after */
    write_file("signing.pem", s2, 1001);
    write_file("verifying.pem", v2, 1001);
    CHECK_OK(slim_jwt_key_file_poll(sf, T0 + 1, &nk));
    CHECK(nk == NULL);
    CHECK_OK(slim_jwt_key_file_poll(sf, T0 + 5, &nk));
    CHECK(nk != NULL);
    CHECK_OK(slim_jwt_provider_set_key(p, nk));
    CHECK_OK(slim_jwt_provider_token(p, T0 + 5, &t));
    CHECK_STATUS(slim_jwt_verifier_check_token(v, t, T0 + 5, NULL), SLIM_E_JWT_BAD_SIGNATURE);
    CHECK_OK(slim_jwt_key_file_poll(vf, T0 + 5, &nk));
    CHECK(nk != NULL);
    CHECK_OK(slim_jwt_verifier_set_keys(v, nk));
    CHECK_OK(slim_jwt_verifier_check_token(v, t, T0 + 5, NULL));
    CHECK_OK(slim_jwt_key_file_poll(vf, T0 + 10, &nk));
    CHECK(nk == NULL); /* unchanged */
    /* a broken key: an error, the old keys stay */
    write_file("verifying.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
               1002);
    CHECK_STATUS(slim_jwt_key_file_poll(vf, T0 + 15, &nk), SLIM_E_JWT_BAD_KEY);
    CHECK(nk == NULL);
    CHECK_OK(slim_jwt_verifier_check_token(v, t, T0 + 15, NULL));
    /* slim_jwt_keys_load */
    CHECK_OK(slim_jwt_keys_load(SLIM_JWT_ES256, SLIM_JWT_KEY_PEM, sp, true, &nk));
    slim_jwt_keys_free(nk);
    CHECK_STATUS(
        slim_jwt_keys_load(SLIM_JWT_ES256, SLIM_JWT_KEY_PEM, "/nonexistent/k.pem", true, &nk),
        SLIM_E_IO);
    slim_jwt_provider_free(p);
    slim_jwt_verifier_free(v);
    slim_jwt_key_file_free(sf);
    slim_jwt_key_file_free(vf);
    unlink(sp);
    unlink(vp);
    free(s1);
    free(s2);
    free(v1);
    free(v2);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

TEST(setup) {
    snprintf(dir, sizeof dir, "/tmp/slim-jwt-file-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

TEST(teardown) {
    char p[128];
    path_of(p, sizeof p, "small");
    unlink(p);
    CHECK_EQ(rmdir(dir), 0);
}

TEST_MAIN(TEST_ENTRY(setup), TEST_ENTRY(read_files), TEST_ENTRY(token_file_reloads),
          TEST_ENTRY(key_files_reload), TEST_ENTRY(teardown))
