/*
 * An app's identity of either kind (see app_identity.h).
 */
#include "client/app_identity.h"
#include "core/log.h"
#include "mls/crypto.h"

#include <string.h>

#define MOD          "app"
#define MAX_AUDIENCE 64 /* as src/session/jwt takes */

static slim_str str_of(const char *s) {
    slim_str v = {s != NULL ? s : "", s != NULL ? strlen(s) : 0};
    return v;
}

static bool set(const char *s) {
    return s != NULL && s[0] != '\0';
}

static slim_status format_of(const char *f, slim_jwt_key_format *out) {
    if (f == NULL || strcmp(f, "pem") == 0)
        *out = SLIM_JWT_KEY_PEM;
    else if (strcmp(f, "jwk") == 0)
        *out = SLIM_JWT_KEY_JWK;
    else if (strcmp(f, "jwks") == 0)
        *out = SLIM_JWT_KEY_JWKS;
    else
        return SLIM_E_INVALID_ARG;
    return SLIM_OK;
}

static slim_status alg_of(const char *a, slim_jwt_alg *out) {
    *out = 0;
    if (a == NULL)
        return SLIM_OK;
    return slim_jwt_alg_parse(str_of(a), out) == SLIM_OK ? SLIM_OK : SLIM_E_INVALID_ARG;
}

slim_status slim_app__identity_check(const slim_identity_config *c, bool provider) {
    if (c == NULL)
        return SLIM_E_INVALID_ARG;
    slim_jwt_key_format f;
    slim_jwt_alg a;
    switch (c->kind) {
    case SLIM_IDENTITY_SHARED_SECRET:
        return set(c->secret) && (!provider || set(c->id)) ? SLIM_OK : SLIM_E_INVALID_ARG;
    case SLIM_IDENTITY_JWT:
        if (format_of(c->key_format, &f) != SLIM_OK || alg_of(c->algorithm, &a) != SLIM_OK ||
            (c->audience_len > 0 && c->audience == NULL) || c->audience_len > MAX_AUDIENCE)
            return SLIM_E_INVALID_ARG;
        for (size_t i = 0; i < c->audience_len; i++)
            if (c->audience[i] == NULL)
                return SLIM_E_INVALID_ARG;
        if (!provider && c->autoresolve)
            return c->key == NULL && c->key_file == NULL ? SLIM_OK : SLIM_E_INVALID_ARG;
        if ((c->key != NULL) == (c->key_file != NULL))
            return SLIM_E_INVALID_ARG; /* one of the two */
        return f == SLIM_JWT_KEY_PEM && a == 0 ? SLIM_E_INVALID_ARG : SLIM_OK;
    case SLIM_IDENTITY_STATIC_JWT:
        return provider && set(c->token_file) ? SLIM_OK : SLIM_E_INVALID_ARG;
    default:
        return SLIM_E_INVALID_ARG;
    }
}

/* The keys of a JWT config: inline, or from its watched file. */
static slim_status jwt_keys(const slim_identity_config *c, bool sign, uint64_t now,
                            slim_jwt_key_file **file, slim_jwt_keys **out) {
    slim_jwt_key_format f;
    slim_jwt_alg a;
    if (format_of(c->key_format, &f) != SLIM_OK || alg_of(c->algorithm, &a) != SLIM_OK)
        return SLIM_E_INVALID_ARG;
    if (c->key_file != NULL)
        return slim_jwt_key_file_new(a, f, c->key_file, sign, 0, now, file, out);
    return slim_jwt_keys_parse(a, f, slim_bytes_of(c->key, strlen(c->key)), sign, out);
}

/* The audience values as views (at most MAX_AUDIENCE: checked before). */
static size_t audience(const slim_identity_config *c, slim_str *out) {
    size_t n = c->audience_len < MAX_AUDIENCE ? c->audience_len : MAX_AUDIENCE;
    for (size_t i = 0; i < n; i++)
        out[i] = str_of(c->audience[i]);
    return n;
}

/* ---- saved identities ------------------------------------------------ */

#define SAVED_VERSION 1

/* An export read back (views into its bytes). */
typedef struct saved_identity {
    uint16_t suite;
    uint8_t kind;
    slim_str id;    /* SHARED_SECRET */
    slim_bytes key; /* SHARED_SECRET */
    bool has_id;    /* JWT, STATIC_JWT */
    slim_id app_id; /* JWT, STATIC_JWT */
} saved_identity;

static slim_status parse_saved(slim_bytes b, saved_identity *s) {
    slim_reader r;
    slim_reader_init(&r, b);
    uint8_t version, has_id, key_len;
    uint32_t id_len;
    slim_bytes text;
    memset(s, 0, sizeof *s);
    if (slim_reader_u8(&r, &version) != SLIM_OK || version != SAVED_VERSION ||
        slim_reader_u16(&r, &s->suite) != SLIM_OK || slim_reader_u8(&r, &s->kind) != SLIM_OK)
        return SLIM_E_STATE_FORMAT;
    if (s->kind == SLIM_IDENTITY_SHARED_SECRET) {
        if (slim_reader_u32(&r, &id_len) != SLIM_OK ||
            slim_reader_bytes(&r, id_len, &text) != SLIM_OK ||
            slim_reader_u8(&r, &key_len) != SLIM_OK ||
            slim_reader_bytes(&r, key_len, &s->key) != SLIM_OK)
            return SLIM_E_STATE_FORMAT;
        s->id = (slim_str){(const char *)text.ptr, text.len};
    } else if (s->kind == SLIM_IDENTITY_JWT || s->kind == SLIM_IDENTITY_STATIC_JWT) {
        if (slim_reader_u8(&r, &has_id) != SLIM_OK || has_id > 1 ||
            slim_reader_u64(&r, &s->app_id.hi) != SLIM_OK ||
            slim_reader_u64(&r, &s->app_id.lo) != SLIM_OK ||
            slim_reader_u8(&r, &key_len) != SLIM_OK ||
            slim_reader_bytes(&r, key_len, &s->key) != SLIM_OK)
            return SLIM_E_STATE_FORMAT;
        s->has_id = has_id == 1;
    } else {
        return SLIM_E_STATE_FORMAT;
    }
    return slim_reader_finish(&r) == SLIM_OK ? SLIM_OK : SLIM_E_STATE_FORMAT;
}

/* Whether what was saved can be this app's provider, as far as can be
 * told before building it: the same suite and kind, and for a shared
 * secret an id "<configured id>_<suffix>". */
static slim_status saved_fits(const saved_identity *s, uint16_t suite,
                              const slim_identity_config *c) {
    if (s->suite != suite || s->kind != (uint8_t)c->kind)
        return SLIM_E_STATE_IDENTITY;
    if (c->kind != SLIM_IDENTITY_SHARED_SECRET)
        return SLIM_OK;
    size_t n = strlen(c->id);
    return s->id.len == n + 1 + SLIM_IDENTITY_SUFFIX_LEN && memcmp(s->id.ptr, c->id, n) == 0 &&
                   s->id.ptr[n] == '_'
               ? SLIM_OK
               : SLIM_E_STATE_IDENTITY;
}

/* A JWT provider made from its config names the app as it did before. */
static slim_status same_app(const app_identity *id, const saved_identity *s) {
    slim_id a = slim_app__identity_app_id(id);
    bool has = slim_app__identity_has_id(id);
    return has == s->has_id && (!has || (a.hi == s->app_id.hi && a.lo == s->app_id.lo))
               ? SLIM_OK
               : SLIM_E_STATE_IDENTITY;
}

slim_status slim_app__identity_export(const app_identity *id, slim_buf *out) {
    if (id == NULL || out == NULL || (id->shared == NULL && id->jwt == NULL))
        return SLIM_E_INVALID_ARG;
    slim_str pid = slim_app__identity_id(id);
    slim_bytes key = id->shared != NULL ? slim_identity_private_key(id->shared)
                                        : slim_jwt_provider_private_key(id->jwt);
    if (pid.len > UINT32_MAX || key.len > UINT8_MAX)
        return SLIM_E_TOO_LARGE;
    size_t need = 4 + (id->shared != NULL ? 4 + pid.len : 17) + 1 + key.len;
    slim_status st = slim_buf_reserve(out, need);
    if (st != SLIM_OK)
        return st;
    /* The room is there: the appends below cannot fail. */
    (void)slim_buf_append_u8(out, SAVED_VERSION);
    (void)slim_buf_append_u16(out, id->mls_suite);
    (void)slim_buf_append_u8(out, (uint8_t)id->provider_kind);
    if (id->shared != NULL) {
        (void)slim_buf_append_u32(out, (uint32_t)pid.len);
        (void)slim_buf_append(out, pid.ptr, pid.len);
        (void)slim_buf_append_u8(out, (uint8_t)key.len);
        (void)slim_buf_append(out, key.ptr, key.len);
    } else {
        bool has = slim_app__identity_has_id(id);
        slim_id a = slim_app__identity_app_id(id);
        (void)slim_buf_append_u8(out, has ? 1 : 0);
        (void)slim_buf_append_u64(out, has ? a.hi : 0);
        (void)slim_buf_append_u64(out, has ? a.lo : 0);
        (void)slim_buf_append_u8(out, (uint8_t)key.len); /* a static token has none */
        (void)slim_buf_append(out, key.ptr, key.len);
    }
    return SLIM_OK;
}

/* ---- building ---------------------------------------------------------- */

/* The provider of config c: new, or (saved not NULL) the saved one. */
static slim_status init_provider(app_identity *id, const slim_identity_config *c, uint64_t now,
                                 const saved_identity *saved) {
    id->provider_kind = c->kind;
    slim_mls_sig_scheme scheme = slim_mls_suite_get(id->mls_suite)->sig;
    if (c->kind == SLIM_IDENTITY_SHARED_SECRET) {
        slim_identity_params ip = {.sig_scheme = scheme, .validity_s = c->duration_s};
        if (saved != NULL)
            return slim_identity_restore(saved->id, str_of(c->secret), saved->key, &ip,
                                         &id->shared);
        return slim_identity_new(str_of(c->id), str_of(c->secret), &ip, &id->shared);
    }
    if (c->kind == SLIM_IDENTITY_STATIC_JWT) {
        slim_status st = slim_jwt_token_file_new(c->token_file, 0, now, &id->token_file);
        if (st == SLIM_OK)
            id->jwt = slim_jwt_token_file_provider(id->token_file);
        return st;
    }
    slim_jwt_keys *k = NULL;
    slim_status st = jwt_keys(c, true, now, &id->signing_file, &k);
    if (st != SLIM_OK)
        return st;
    slim_str aud[MAX_AUDIENCE];
    slim_jwt_provider_params p = {.issuer = str_of(c->issuer),
                                  .subject = str_of(c->subject),
                                  .audience = aud,
                                  .audience_len = audience(c, aud),
                                  .duration_s = c->duration_s,
                                  .sig_scheme = scheme,
                                  .signing_key =
                                      saved != NULL ? saved->key : slim_bytes_of(NULL, 0)};
    if ((st = slim_jwt_provider_new(k, &p, &id->jwt)) != SLIM_OK)
        slim_jwt_keys_free(k);
    return st;
}

static slim_status init_verifier(app_identity *id, const slim_identity_config *c, uint64_t now) {
    id->verifier_kind = c->kind;
    if (c->kind == SLIM_IDENTITY_SHARED_SECRET) {
        slim_identity_params vp = {.validity_s = c->duration_s};
        return slim_identity_verifier_new(str_of(c->secret), &vp, &id->shared_verifier);
    }
    slim_jwt_keys *k = NULL;
    slim_status st = SLIM_OK;
    if (c->autoresolve) {
        slim_jwks_fetch_params fp = {.ca_file = c->ca_file};
        st = slim_jwks_fetcher_new(&fp, &id->fetcher);
    } else {
        st = jwt_keys(c, false, now, &id->verifying_file, &k);
    }
    if (st != SLIM_OK)
        return st;
    slim_str aud[MAX_AUDIENCE];
    slim_jwt_verifier_params p = {.issuer = str_of(c->issuer),
                                  .subject = str_of(c->subject),
                                  .audience = aud,
                                  .audience_len = audience(c, aud),
                                  .require_iss = c->require_iss,
                                  .require_aud = c->require_aud,
                                  .require_sub = c->require_sub,
                                  .autoresolve = c->autoresolve};
    if ((st = slim_jwt_verifier_new(k, &p, &id->jwt_verifier)) != SLIM_OK)
        slim_jwt_keys_free(k);
    return st;
}

/* slim_app__identity_init (saved NULL) and _init_restored. */
static slim_status init_both(app_identity *id, const slim_identity_config *provider,
                             const slim_identity_config *verifier, uint16_t mls_suite,
                             uint64_t unix_s, const slim_bytes *saved) {
    memset(id, 0, sizeof *id);
    slim_status st;
    if (saved != NULL && saved->ptr == NULL && saved->len > 0)
        return SLIM_E_INVALID_ARG;
    if ((st = slim_app__identity_check(provider, true)) != SLIM_OK ||
        (st = slim_app__identity_check(verifier, false)) != SLIM_OK)
        return st;
    id->mls_suite = mls_suite != 0 ? mls_suite : SLIM_MLS_SUITE_P256_AES128GCM_SHA256_P256;
    if (slim_mls_suite_get(id->mls_suite) == NULL)
        return SLIM_E_INVALID_ARG;
    saved_identity s;
    if (saved == NULL || ((st = parse_saved(*saved, &s)) == SLIM_OK &&
                          (st = saved_fits(&s, id->mls_suite, provider)) == SLIM_OK))
        st = init_provider(id, provider, unix_s, saved != NULL ? &s : NULL);
    if (st == SLIM_OK && saved != NULL && provider->kind != SLIM_IDENTITY_SHARED_SECRET)
        st = same_app(id, &s);
    if (st == SLIM_OK)
        st = init_verifier(id, verifier, unix_s);
    if (st != SLIM_OK)
        slim_app__identity_cleanup(id);
    return st;
}

slim_status slim_app__identity_init(app_identity *id, const slim_identity_config *provider,
                                    const slim_identity_config *verifier, uint16_t mls_suite,
                                    uint64_t unix_s) {
    return init_both(id, provider, verifier, mls_suite, unix_s, NULL);
}

slim_status slim_app__identity_init_restored(app_identity *id, const slim_identity_config *provider,
                                             const slim_identity_config *verifier,
                                             uint16_t mls_suite, uint64_t unix_s,
                                             slim_bytes saved) {
    return init_both(id, provider, verifier, mls_suite, unix_s, &saved);
}

void slim_app__identity_cleanup(app_identity *id) {
    slim_identity_free(id->shared);
    if (id->token_file != NULL)
        slim_jwt_token_file_free(id->token_file); /* and its provider */
    else
        slim_jwt_provider_free(id->jwt);
    slim_jwt_key_file_free(id->signing_file);
    slim_identity_verifier_free(id->shared_verifier);
    slim_jwt_verifier_free(id->jwt_verifier);
    slim_jwt_key_file_free(id->verifying_file);
    slim_jwks_fetcher_free(id->fetcher);
    memset(id, 0, sizeof *id);
}

slim_str slim_app__identity_id(const app_identity *id) {
    return id->shared != NULL ? slim_identity_id(id->shared) : slim_jwt_provider_id(id->jwt);
}

bool slim_app__identity_has_id(const app_identity *id) {
    return id->shared != NULL || slim_jwt_provider_has_id(id->jwt);
}

slim_id slim_app__identity_app_id(const app_identity *id) {
    return id->shared != NULL ? slim_identity_app_id(id->shared)
                              : slim_jwt_provider_app_id(id->jwt);
}

/* A JWT provider's watched files, looked at before its token is used. */
static void poll_provider(app_identity *id, uint64_t unix_s) {
    if (id->token_file != NULL)
        (void)slim_jwt_token_file_poll(id->token_file, unix_s, NULL); /* errors are logged */
    if (id->signing_file != NULL) {
        slim_jwt_keys *k = NULL;
        if (slim_jwt_key_file_poll(id->signing_file, unix_s, &k) == SLIM_OK && k != NULL &&
            slim_jwt_provider_set_key(id->jwt, k) != SLIM_OK) {
            SLIM_LOGW(MOD, "the reloaded signing key does not fit: the old one stays");
            slim_jwt_keys_free(k);
        }
    }
}

slim_status slim_app__provider_init(app_identity *id, const slim_identity_config *provider,
                                    uint64_t unix_s) {
    memset(id, 0, sizeof *id);
    slim_status st = slim_app__identity_check(provider, true);
    if (st != SLIM_OK)
        return st;
    id->mls_suite = SLIM_MLS_SUITE_P256_AES128GCM_SHA256_P256;
    if ((st = init_provider(id, provider, unix_s, NULL)) != SLIM_OK)
        slim_app__identity_cleanup(id);
    return st;
}

slim_status slim_app__identity_token(app_identity *id, uint64_t unix_s, slim_str *token) {
    if (id->shared != NULL)
        return slim_identity_token(id->shared, unix_s, token);
    poll_provider(id, unix_s);
    return slim_jwt_provider_token(id->jwt, unix_s, token);
}

slim_status slim_app__identity_stamp(app_identity *id, slim_msg *m, uint64_t unix_s) {
    if (id->shared != NULL)
        return slim_identity_stamp(id->shared, m, unix_s);
    poll_provider(id, unix_s);
    return slim_jwt_provider_stamp(id->jwt, m, unix_s);
}

/* A JWT verifier's watched key file, looked at before a check. */
static void poll_verifier(app_identity *id, uint64_t unix_s) {
    if (id->verifying_file == NULL)
        return;
    slim_jwt_keys *k = NULL;
    if (slim_jwt_key_file_poll(id->verifying_file, unix_s, &k) == SLIM_OK && k != NULL &&
        slim_jwt_verifier_set_keys(id->jwt_verifier, k) != SLIM_OK)
        slim_jwt_keys_free(k);
}

slim_status slim_app__identity_verify(app_identity *id, const slim_msg *m, bool need_sig,
                                      uint64_t unix_s) {
    if (id->shared_verifier != NULL)
        return slim_identity_verifier_check_msg(id->shared_verifier, m, need_sig, unix_s);
    poll_verifier(id, unix_s);
    if (id->fetcher != NULL)
        return slim_jwks_check_msg(id->fetcher, id->jwt_verifier, m, need_sig, unix_s);
    return slim_jwt_verifier_check_msg(id->jwt_verifier, m, need_sig, unix_s);
}

slim_status slim_app__identity_mls_self(app_identity *id, uint64_t unix_s, slim_bytes *credential,
                                        slim_bytes *sig_priv, uint16_t *suite) {
    if (credential == NULL || sig_priv == NULL || suite == NULL)
        return SLIM_E_INVALID_ARG;
    slim_str token;
    slim_bytes key;
    slim_status st;
    if (id->shared != NULL) {
        key = slim_identity_private_key(id->shared);
        st = slim_identity_token(id->shared, unix_s, &token);
    } else {
        poll_provider(id, unix_s);
        key = slim_jwt_provider_private_key(id->jwt);
        if (key.len == 0)
            return SLIM_E_UNSUPPORTED; /* a static token: no private key to sign with */
        st = slim_jwt_provider_token(id->jwt, unix_s, &token);
    }
    if (st != SLIM_OK)
        return st;
    *credential = slim_bytes_of(token.ptr, token.len);
    *sig_priv = key;
    *suite = id->mls_suite;
    return SLIM_OK;
}

slim_status slim_app__identity_mls_check(app_identity *id, slim_bytes credential,
                                         slim_bytes signature_key, bool fresh, uint64_t unix_s,
                                         slim_id *app_id) {
    if (app_id == NULL || (credential.ptr == NULL && credential.len > 0))
        return SLIM_E_INVALID_ARG;
    slim_str token = {(const char *)credential.ptr, credential.len};
    slim_bytes pk;
    slim_str subject;
    slim_status st;
    if (id->shared_verifier != NULL) {
        slim_identity_claims c = {0};
        st = slim_identity_verifier_credential(id->shared_verifier, token, fresh, unix_s, &c, &pk);
        subject = c.subject;
    } else {
        poll_verifier(id, unix_s);
        slim_jwt_claims c = {0};
        if (id->fetcher != NULL)
            st = slim_jwks_credential(id->fetcher, id->jwt_verifier, token, fresh, unix_s, &c, &pk);
        else
            st = slim_jwt_verifier_credential(id->jwt_verifier, token, fresh, unix_s, &c, &pk);
        subject = c.subject;
    }
    if (st != SLIM_OK)
        return st;
    if (!slim_identity_same_key(pk, signature_key))
        return SLIM_E_IDENTITY_KEY_MISMATCH;
    /* As the provider side names itself: a JWT without "sub" keeps the
     * any id (slim_app__identity_has_id). */
    *app_id = id->shared_verifier != NULL || subject.len > 0 ? slim_identity_app_id_of(subject)
                                                             : slim_id_any();
    return SLIM_OK;
}
