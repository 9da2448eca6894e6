/*
 * Shared-secret identity tokens, app ids and header signatures (see
 * identity.h and docs/identity.md).
 *
 * The token check follows upstream's verifier step by step, so that both
 * accept and refuse the same tokens, and the same first failure is
 * reported: split at the last ':' (the MAC), then the first three ':' of
 * the rest (id, timestamp, nonce; the claims may hold no ':'), the
 * timestamp as Rust parses a u64, the time window, the MAC's length and
 * base64, and last the HMAC. The claims are read only when a public key is
 * asked for, as upstream reads them only to check a signature.
 *
 * The verifier remembers tokens that passed (never ones that failed, so a
 * flood of forgeries cannot fill it): a chained hash table keyed by the
 * token bytes (XXH3 with a random per-verifier seed; equal hashes are
 * confirmed by a constant-time comparison), and a list in insertion order
 * for eviction. A hit repeats only the time check. Entries also keep the
 * decoded public key once it was asked for.
 */
#include "session/identity.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/hmap.h"
#include "core/util.h"
#include "mls/pkey.h"
#include "mls/primitives.h"

#include <inttypes.h>
#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#define NONCE_LEN   12
#define MAC_LEN     32
#define MAC_B64_LEN 43 /* unpadded base64 of 32 bytes */
#define SUFFIX_LEN  SLIM_IDENTITY_SUFFIX_LEN
#define P256_SK     32
#define P256_PK     65
#define ED25519_PK  32

static void resolve(const slim_identity_params *cfg, slim_identity_params *out) {
    slim_identity_params c = {0};
    if (cfg != NULL)
        c = *cfg;
    if (c.validity_s == 0)
        c.validity_s = SLIM_IDENTITY_VALIDITY_S;
    if (c.clock_skew_s == 0)
        c.clock_skew_s = SLIM_IDENTITY_CLOCK_SKEW_S;
    if (c.cache_max == 0)
        c.cache_max = SLIM_IDENTITY_CACHE_MAX;
    if (c.rng == NULL)
        c.rng = slim_mls_rng_default();
    *out = c;
}

static uint8_t *dup_secret(slim_str s) {
    uint8_t *p = slim_malloc(s.len);
    if (p != NULL)
        memcpy(p, s.ptr, s.len);
    return p;
}

static void free_secret(uint8_t *p, size_t n) {
    if (p != NULL) {
        slim_memzero(p, n);
        slim_free(p);
    }
}

bool slim_identity_secret_is_weak(slim_str secret) {
    return secret.len < SLIM_IDENTITY_MIN_SECRET;
}

/* ---- app id --------------------------------------------------------- */

slim_id slim_identity_app_id_reduce(slim_id h) {
    /* Reserved: h >= 2^128 - 51 = (UINT64_MAX, UINT64_MAX - 50). Such an
     * h is below twice the modulus, so h mod (2^128 - 51) = h - (2^128 - 51),
     * a value from 0 to 50. */
    if (h.hi == UINT64_MAX && h.lo >= UINT64_MAX - 50) {
        h.lo -= UINT64_MAX - 50;
        h.hi = 0;
    }
    return h;
}

slim_id slim_identity_app_id_of(slim_str provider_id) {
    XXH128_hash_t x = XXH3_128bits(provider_id.len > 0 ? provider_id.ptr : "", provider_id.len);
    slim_id h = {x.high64, x.low64};
    return slim_identity_app_id_reduce(h);
}

/* ---- the configured id ---------------------------------------------- */

/* Unicode White_Space, which Rust's char::is_whitespace tests. */
static bool is_white(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* Decodes one UTF-8 sequence at s[*i] (strict: no overlong forms, no
 * surrogates, nothing above U+10FFFF); -1 when invalid. */
static int64_t utf8_next(slim_str s, size_t *i) {
    const uint8_t *p = (const uint8_t *)s.ptr + *i;
    size_t left = s.len - *i;
    uint8_t b = p[0];
    size_t n;
    uint32_t c, min;
    if (b < 0x80) {
        *i += 1;
        return b;
    } else if ((b & 0xe0) == 0xc0) {
        n = 2, c = b & 0x1f, min = 0x80;
    } else if ((b & 0xf0) == 0xe0) {
        n = 3, c = b & 0x0f, min = 0x800;
    } else if ((b & 0xf8) == 0xf0) {
        n = 4, c = b & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    if (left < n)
        return -1;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return -1;
        c = (c << 6) | (p[k] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return -1;
    *i += n;
    return c;
}

static bool id_valid(slim_str id) {
    if (id.len == 0 || id.ptr == NULL)
        return false;
    for (size_t i = 0; i < id.len;) {
        int64_t c = utf8_next(id, &i);
        if (c < 0 || c == ':' || c == 0 || is_white((uint32_t)c))
            return false;
    }
    return true;
}

/* SUFFIX_LEN characters drawn uniformly from [A-Za-z0-9] (rejection
 * sampling: bytes >= 248 = 4 * 62 are drawn again). */
static slim_status random_suffix(const slim_mls_rng *rng, char *out) {
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = 0;
    for (int round = 0; round < 16 && n < SUFFIX_LEN; round++) {
        uint8_t b[16];
        slim_status st = slim_mls_rng_fill(rng, b, sizeof b);
        if (st != SLIM_OK)
            return st;
        for (size_t k = 0; k < sizeof b && n < SUFFIX_LEN; k++)
            if (b[k] < 248)
                out[n++] = alnum[b[k] % 62];
    }
    return n == SUFFIX_LEN ? SLIM_OK : SLIM_E_MLS_RNG;
}

/* ---- provider ------------------------------------------------------- */

struct slim_identity {
    char *id; /* "<base>_<suffix>", NUL-terminated */
    size_t id_len;
    slim_id app_id;
    uint8_t *secret;
    size_t secret_len;
    uint32_t validity_s;
    const slim_mls_rng *rng;
    uint8_t sk[P256_SK]; /* P-256 scalar or Ed25519 seed: 32 bytes either way */
    uint8_t pk[P256_PK];
    size_t pk_len; /* 65 (P-256) or 32 (Ed25519) */
    slim_mls_sig_key *signer;
    slim_buf claims; /* unpadded URL-safe base64 of {"pubkey":"<base64>"} */
    slim_buf token;  /* the current token, NUL after len */
    bool has_token;
    uint64_t token_ts;
    slim_buf aad, sig; /* scratch for slim_identity_stamp */
};

/* claims = base64url(JSON {"pubkey": base64(pk)}), written by jansson
 * compactly, as serde_json writes it upstream: {"pubkey":"..."}. */
static slim_status make_claims(const uint8_t *pk, size_t pk_len, slim_buf *claims) {
    slim_buf b64 = SLIM_BUF_INIT, text = SLIM_BUF_INIT;
    slim_status st = slim_b64_encode(slim_bytes_of(pk, pk_len), SLIM_B64_PAD, &b64);
    json_t *o = NULL;
    if (st == SLIM_OK) {
        o = json_object();
        json_t *s = json_stringn((const char *)b64.data, b64.len);
        if (o == NULL || json_object_set_new(o, "pubkey", s) != 0)
            st = SLIM_E_NOMEM;
    }
    if (st == SLIM_OK) {
        size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT);
        uint8_t *dst;
        if (n == 0)
            st = SLIM_E_NOMEM;
        else if ((st = slim_buf_append_zeros(&text, n, &dst)) == SLIM_OK &&
                 json_dumpb(o, (char *)dst, n, JSON_COMPACT) != n)
            st = SLIM_E_INTERNAL;
    }
    if (st == SLIM_OK)
        st = slim_b64_encode(slim_buf_view(&text), SLIM_B64_URL, claims);
    json_decref(o);
    slim_buf_cleanup(&b64);
    slim_buf_cleanup(&text);
    return st;
}

/* What slim_identity_new and slim_identity_restore share: the id
 * "<base_id>_<suffix>" with the given suffix (NULL: a random one) and
 * the key sk (empty: a fresh pair), checked as both document. */
static slim_status make_identity(slim_str base_id, const char *suffix, slim_str secret,
                                 slim_bytes sk, const slim_identity_params *cfg,
                                 slim_identity **out) {
    if (out == NULL || (secret.ptr == NULL && secret.len > 0) || (sk.ptr == NULL && sk.len > 0))
        return SLIM_E_INVALID_ARG;
    if (!id_valid(base_id))
        return SLIM_E_IDENTITY_BAD_ID;
    if (secret.len == 0)
        return SLIM_E_IDENTITY_NO_SECRET;
    if (base_id.len > SIZE_MAX / 2)
        return SLIM_E_TOO_LARGE;
    slim_identity_params c;
    resolve(cfg, &c);
    if (c.sig_scheme == 0)
        c.sig_scheme = SLIM_MLS_SIG_ECDSA_P256_SHA256;
    if (c.sig_scheme != SLIM_MLS_SIG_ECDSA_P256_SHA256 && c.sig_scheme != SLIM_MLS_SIG_ED25519)
        return SLIM_E_INVALID_ARG;
    bool restore = suffix != NULL;
    if (restore && sk.len != slim_mls_sig_private_size(c.sig_scheme))
        return SLIM_E_MLS_BAD_KEY;
    slim_identity *id = slim_calloc(1, sizeof *id);
    if (id == NULL)
        return SLIM_E_NOMEM;
    id->validity_s = c.validity_s;
    id->pk_len = slim_mls_sig_public_size(c.sig_scheme);
    id->rng = c.rng;
    slim_status st = SLIM_E_NOMEM;
    id->id_len = base_id.len + 1 + SUFFIX_LEN;
    id->id = slim_malloc(id->id_len + 1);
    id->secret = dup_secret(secret);
    if (id->id == NULL || id->secret == NULL)
        goto fail;
    id->secret_len = secret.len;
    memcpy(id->id, base_id.ptr, base_id.len);
    id->id[base_id.len] = '_';
    id->id[id->id_len] = '\0';
    if (restore) {
        memcpy(id->id + base_id.len + 1, suffix, SUFFIX_LEN);
        memcpy(id->sk, sk.ptr, P256_SK);
        st = slim_mls_sig_public(c.sig_scheme, sk, id->pk);
    } else if ((st = random_suffix(c.rng, id->id + base_id.len + 1)) == SLIM_OK) {
        st = slim_mls_sig_generate(c.sig_scheme, c.rng, id->sk, id->pk);
    }
    if (st != SLIM_OK)
        goto fail;
    id->app_id = slim_identity_app_id_of(slim_identity_id(id));
    if ((st = slim_mls_sig_key_new(c.sig_scheme, slim_bytes_of(id->sk, P256_SK), true,
                                   &id->signer)) != SLIM_OK ||
        (st = make_claims(id->pk, id->pk_len, &id->claims)) != SLIM_OK)
        goto fail;
    *out = id;
    return SLIM_OK;
fail:
    slim_identity_free(id);
    return st;
}

slim_status slim_identity_new(slim_str base_id, slim_str secret, const slim_identity_params *cfg,
                              slim_identity **out) {
    return make_identity(base_id, NULL, secret, slim_bytes_of(NULL, 0), cfg, out);
}

/* True for the SUFFIX_LEN characters random_suffix draws. */
static bool suffix_valid(const char *s) {
    for (size_t i = 0; i < SUFFIX_LEN; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

slim_status slim_identity_restore(slim_str full_id, slim_str secret, slim_bytes signing_key,
                                  const slim_identity_params *cfg, slim_identity **out) {
    if (out == NULL || (full_id.ptr == NULL && full_id.len > 0))
        return SLIM_E_INVALID_ARG;
    /* "<base>_<suffix>": at least one character of base. */
    if (full_id.len < SUFFIX_LEN + 2 || full_id.ptr[full_id.len - SUFFIX_LEN - 1] != '_' ||
        !suffix_valid(full_id.ptr + full_id.len - SUFFIX_LEN))
        return SLIM_E_IDENTITY_BAD_ID;
    slim_str base = {full_id.ptr, full_id.len - SUFFIX_LEN - 1};
    return make_identity(base, full_id.ptr + base.len + 1, secret, signing_key, cfg, out);
}

void slim_identity_free(slim_identity *id) {
    if (id == NULL)
        return;
    free_secret(id->secret, id->secret_len);
    slim_memzero(id->sk, sizeof id->sk);
    slim_mls_sig_key_free(id->signer);
    slim_free(id->id);
    slim_buf_cleanup(&id->claims);
    slim_buf_cleanup(&id->token);
    slim_buf_cleanup(&id->aad);
    slim_buf_cleanup(&id->sig);
    slim_free(id);
}

slim_str slim_identity_id(const slim_identity *id) {
    slim_str s = {id->id, id->id_len};
    return s;
}

slim_id slim_identity_app_id(const slim_identity *id) {
    return id->app_id;
}

slim_bytes slim_identity_public_key(const slim_identity *id) {
    return slim_bytes_of(id->pk, id->pk_len);
}

slim_bytes slim_identity_private_key(const slim_identity *id) {
    return slim_bytes_of(id->sk, P256_SK);
}

/* Writes a new token for unix_s into out (empty on entry). */
static slim_status make_token(const slim_identity *id, uint64_t unix_s, slim_buf *out) {
    char ts[24];
    int ts_len = snprintf(ts, sizeof ts, "%" PRIu64, unix_s);
    uint8_t nonce[NONCE_LEN], mac[MAC_LEN];
    slim_status st = slim_mls_rng_fill(id->rng, nonce, sizeof nonce);
    if (st != SLIM_OK)
        return st;
    if ((st = slim_buf_reserve(out, id->id_len + 4 + (size_t)ts_len + 16 + id->claims.len +
                                        MAC_B64_LEN + 1)) != SLIM_OK ||
        (st = slim_buf_append(out, id->id, id->id_len)) != SLIM_OK ||
        (st = slim_buf_append_u8(out, ':')) != SLIM_OK ||
        (st = slim_buf_append(out, ts, (size_t)ts_len)) != SLIM_OK ||
        (st = slim_buf_append_u8(out, ':')) != SLIM_OK ||
        (st = slim_b64_encode(slim_bytes_of(nonce, sizeof nonce), SLIM_B64_URL, out)) != SLIM_OK ||
        (st = slim_buf_append_u8(out, ':')) != SLIM_OK ||
        (st = slim_buf_append(out, id->claims.data, id->claims.len)) != SLIM_OK)
        return st;
    /* The MAC covers everything so far: "id:timestamp:nonce:claims". */
    if ((st = slim_mls_hmac(SLIM_MLS_HASH_SHA256, slim_bytes_of(id->secret, id->secret_len),
                            slim_buf_view(out), mac)) != SLIM_OK ||
        (st = slim_buf_append_u8(out, ':')) != SLIM_OK ||
        (st = slim_b64_encode(slim_bytes_of(mac, sizeof mac), SLIM_B64_URL, out)) != SLIM_OK ||
        (st = slim_buf_append_u8(out, '\0')) != SLIM_OK)
        return st;
    out->len--; /* the NUL stays after the text */
    return SLIM_OK;
}

slim_status slim_identity_token(slim_identity *id, uint64_t unix_s, slim_str *token) {
    if (id == NULL || token == NULL)
        return SLIM_E_INVALID_ARG;
    bool fresh = id->has_token && unix_s >= id->token_ts &&
                 unix_s - id->token_ts < (uint64_t)id->validity_s / 2;
    if (!fresh) {
        slim_buf next = SLIM_BUF_INIT;
        slim_status st = make_token(id, unix_s, &next);
        if (st != SLIM_OK) {
            slim_buf_cleanup(&next);
            return st;
        }
        slim_buf_cleanup(&id->token);
        id->token = next;
        id->token_ts = unix_s;
        id->has_token = true;
    }
    token->ptr = (const char *)id->token.data;
    token->len = id->token.len;
    return SLIM_OK;
}

slim_status slim_identity_sign(const slim_identity *id, slim_bytes msg, slim_buf *sig) {
    if (id == NULL || sig == NULL || (msg.ptr == NULL && msg.len > 0))
        return SLIM_E_INVALID_ARG;
    return slim_mls_sig_key_sign(id->signer, msg, sig);
}

static bool is_command_publish(const slim_msg *m) {
    return slim_wire_kind(m) == SLIM_MSG_PUBLISH && m->publish != NULL &&
           m->publish->session != NULL &&
           slim_wire_is_command_type((int)m->publish->session->session_message_type);
}

slim_status slim_identity_stamp(slim_identity *id, slim_msg *m, uint64_t unix_s) {
    if (id == NULL || m == NULL)
        return SLIM_E_INVALID_ARG;
    if (slim_wire_header(m) == NULL)
        return SLIM_E_WIRE_MISSING_FIELD;
    slim_str token;
    slim_status st = slim_identity_token(id, unix_s, &token);
    if (st != SLIM_OK || (st = slim_wire_set_identity(m, token)) != SLIM_OK)
        return st;
    if (!is_command_publish(m))
        return SLIM_OK;
    id->aad.len = 0;
    id->sig.len = 0;
    if ((st = slim_wire_header_aad(m, &id->aad)) != SLIM_OK ||
        (st = slim_identity_sign(id, slim_buf_view(&id->aad), &id->sig)) != SLIM_OK)
        return st;
    return slim_wire_set_header_sig(m, slim_buf_view(&id->sig));
}

/* ---- signatures ----------------------------------------------------- */

/* A 33-byte compressed or 65-byte uncompressed P-256 point, checked to be
 * on the curve, as the 65-byte uncompressed form. Only the SEC1 forms
 * upstream's p256 crate reads (0x02/0x03 with X, 0x04 with X and Y), not
 * OpenSSL's hybrid 0x06/0x07. */
static slim_status p256_uncompressed(slim_bytes in, uint8_t out[P256_PK]) {
    if (!((in.len == 33 && (in.ptr[0] == 0x02 || in.ptr[0] == 0x03)) ||
          (in.len == P256_PK && in.ptr[0] == 0x04)))
        return SLIM_E_IDENTITY_BAD_PUBKEY;
    slim_status st = SLIM_E_MLS_CRYPTO;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *p = g != NULL ? EC_POINT_new(g) : NULL;
    if (p != NULL) {
        if (EC_POINT_oct2point(g, p, in.ptr, in.len, NULL) != 1)
            st = SLIM_E_IDENTITY_BAD_PUBKEY;
        else if (EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, out, P256_PK, NULL) ==
                 P256_PK)
            st = SLIM_OK;
    }
    EC_POINT_free(p);
    EC_GROUP_free(g);
    return st;
}

/* A public key as the verifier keeps it: Ed25519 as is, P-256
 * uncompressed. */
static slim_status normalize_pubkey(slim_bytes in, uint8_t *out, size_t *out_len) {
    if (in.len == ED25519_PK) {
        memcpy(out, in.ptr, ED25519_PK);
        *out_len = ED25519_PK;
        return SLIM_OK;
    }
    slim_status st = p256_uncompressed(in, out);
    if (st == SLIM_OK)
        *out_len = P256_PK;
    return st;
}

static slim_status sig_status(slim_status st) {
    if (st == SLIM_E_MLS_BAD_SIGNATURE)
        return SLIM_E_IDENTITY_BAD_SIGNATURE;
    if (st == SLIM_E_MLS_BAD_KEY)
        return SLIM_E_IDENTITY_BAD_PUBKEY;
    return st;
}

/* pk is 32 bytes (Ed25519) or a 65-byte uncompressed P-256 point. */
static slim_status verify_normalized(slim_bytes pk, slim_bytes msg, slim_bytes sig) {
    slim_mls_sig_scheme s = pk.len == 32 ? SLIM_MLS_SIG_ED25519 : SLIM_MLS_SIG_ECDSA_P256_SHA256;
    return sig_status(slim_mls_sig_verify(s, pk, msg, sig));
}

bool slim_identity_same_key(slim_bytes a, slim_bytes b) {
    uint8_t na[P256_PK], nb[P256_PK];
    size_t la, lb;
    if ((a.ptr == NULL && a.len > 0) || (b.ptr == NULL && b.len > 0) ||
        (a.len != ED25519_PK && a.len != 33 && a.len != P256_PK) ||
        (b.len != ED25519_PK && b.len != 33 && b.len != P256_PK) ||
        normalize_pubkey(a, na, &la) != SLIM_OK || normalize_pubkey(b, nb, &lb) != SLIM_OK)
        return false;
    return la == lb && memcmp(na, nb, la) == 0;
}

slim_status slim_identity_verify_signature(slim_bytes pubkey, slim_bytes msg, slim_bytes sig) {
    if ((pubkey.ptr == NULL && pubkey.len > 0) || (msg.ptr == NULL && msg.len > 0) ||
        (sig.ptr == NULL && sig.len > 0))
        return SLIM_E_INVALID_ARG;
    if (pubkey.len != 32 && pubkey.len != 33 && pubkey.len != P256_PK)
        return SLIM_E_IDENTITY_BAD_PUBKEY;
    uint8_t pk[P256_PK];
    size_t pk_len;
    slim_status st = normalize_pubkey(pubkey, pk, &pk_len);
    if (st != SLIM_OK)
        return st;
    return verify_normalized(slim_bytes_of(pk, pk_len), msg, sig);
}

/* ---- token parsing -------------------------------------------------- */

typedef struct token_parts {
    slim_str signed_part; /* everything before the last ':' (what the MAC covers) */
    slim_str id, nonce, claims, mac;
    uint64_t ts;
} token_parts;

static const char *find_colon(const char *p, size_t n) {
    return n > 0 ? memchr(p, ':', n) : NULL;
}

/* Rust's u64::from_str: an optional '+', then one or more ASCII digits,
 * no overflow. */
static bool parse_u64(slim_str s, uint64_t *out) {
    size_t i = 0;
    if (s.len > 0 && s.ptr[0] == '+')
        i = 1;
    if (i == s.len)
        return false;
    uint64_t v = 0;
    for (; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        unsigned d = (unsigned)(s.ptr[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static slim_status split_token(slim_str t, token_parts *p) {
    const char *last = NULL;
    for (size_t i = t.len; i > 0; i--)
        if (t.ptr[i - 1] == ':') {
            last = t.ptr + i - 1;
            break;
        }
    if (last == NULL)
        return SLIM_E_IDENTITY_MALFORMED;
    p->signed_part = (slim_str){t.ptr, (size_t)(last - t.ptr)};
    p->mac = (slim_str){last + 1, t.len - p->signed_part.len - 1};
    /* The first three ':' of the signed part end id, timestamp, nonce. */
    slim_str f[3];
    const char *at = t.ptr, *end = last;
    for (int k = 0; k < 3; k++) {
        const char *c = find_colon(at, (size_t)(end - at));
        if (c == NULL)
            return SLIM_E_IDENTITY_MALFORMED;
        f[k] = (slim_str){at, (size_t)(c - at)};
        at = c + 1;
    }
    p->id = f[0];
    p->nonce = f[2];
    p->claims = (slim_str){at, (size_t)(end - at)};
    if (find_colon(p->claims.ptr, p->claims.len) != NULL)
        return SLIM_E_IDENTITY_MALFORMED;
    if (!parse_u64(f[1], &p->ts))
        return SLIM_E_IDENTITY_MALFORMED;
    return SLIM_OK;
}

/* Reads the public key from the claims of a token already verified. */
static slim_status claims_pubkey(slim_str claims, uint8_t *pk, size_t *pk_len) {
    slim_buf json = SLIM_BUF_INIT;
    slim_status st = slim_b64_decode(claims, SLIM_B64_URL, &json);
    if (st != SLIM_OK) {
        slim_buf_cleanup(&json); /* it may have grown before the refusal */
        return st == SLIM_E_INVALID_ARG ? SLIM_E_IDENTITY_BAD_BASE64 : st;
    }
    if (json.len == 0) { /* no claims: upstream reads them as {} */
        slim_buf_cleanup(&json);
        return SLIM_E_IDENTITY_NO_PUBKEY;
    }
    /* As serde_json: any top-level value and NUL escapes allowed; every
     * integer is read as floating point, so none is too large. */
    json_error_t err;
    json_t *root = json_loadb((const char *)json.data, json.len,
                              JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
    slim_buf_cleanup(&json);
    if (root == NULL)
        return json_error_code(&err) == json_error_out_of_memory ? SLIM_E_NOMEM
                                                                 : SLIM_E_IDENTITY_BAD_CLAIMS;
    const json_t *v = json_is_object(root) ? json_object_get(root, "pubkey") : NULL;
    if (v == NULL || !json_is_string(v)) {
        json_decref(root);
        return SLIM_E_IDENTITY_NO_PUBKEY;
    }
    slim_str text = {json_string_value(v), json_string_length(v)};
    uint8_t raw[P256_PK];
    size_t raw_len;
    st = slim_b64_decode_to(text, SLIM_B64_PAD, raw, sizeof raw, &raw_len);
    json_decref(root);
    if (st == SLIM_E_BUFFER_SMALL)
        return SLIM_E_IDENTITY_BAD_PUBKEY; /* longer than any key we know */
    if (st != SLIM_OK)
        return SLIM_E_IDENTITY_BAD_BASE64;
    if (raw_len != 32 && raw_len != 33 && raw_len != P256_PK)
        return SLIM_E_IDENTITY_BAD_PUBKEY;
    return normalize_pubkey(slim_bytes_of(raw, raw_len), pk, pk_len);
}

/* ---- verifier ------------------------------------------------------- */

typedef struct centry {
    slim_hnode node;
    struct centry *older, *newer; /* insertion order */
    uint64_t ts;
    size_t id_len;
    bool has_claims;       /* claims_st and pk are set */
    slim_status claims_st; /* what reading the pubkey gave */
    uint8_t pk[P256_PK];
    size_t pk_len;
    size_t len;
    char token[]; /* len bytes */
} centry;

struct slim_identity_verifier {
    uint8_t *secret;
    size_t secret_len;
    uint32_t validity_s, skew_s, cache_max;
    uint64_t seed;
    slim_hmap map;
    centry *oldest, *newest;
    slim_identity_verifier_stats stats;
    uint8_t pk[P256_PK]; /* the last pubkey handed out */
    size_t pk_len;
    slim_buf aad;
};

slim_status slim_identity_verifier_new(slim_str secret, const slim_identity_params *cfg,
                                       slim_identity_verifier **out) {
    if (out == NULL || (secret.ptr == NULL && secret.len > 0))
        return SLIM_E_INVALID_ARG;
    if (secret.len == 0)
        return SLIM_E_IDENTITY_NO_SECRET;
    slim_identity_params c;
    resolve(cfg, &c);
    slim_identity_verifier *v = slim_calloc(1, sizeof *v);
    if (v == NULL)
        return SLIM_E_NOMEM;
    v->validity_s = c.validity_s;
    v->skew_s = c.clock_skew_s;
    v->cache_max = c.cache_max;
    slim_status st = SLIM_E_NOMEM;
    v->secret = dup_secret(secret);
    if (v->secret == NULL)
        goto fail;
    v->secret_len = secret.len;
    uint8_t seed[8];
    if ((st = slim_mls_rng_fill(c.rng, seed, sizeof seed)) != SLIM_OK)
        goto fail;
    memcpy(&v->seed, seed, sizeof seed);
    if ((st = slim_hmap_init(&v->map, c.cache_max < 64 ? c.cache_max : 64)) != SLIM_OK)
        goto fail;
    *out = v;
    return SLIM_OK;
fail:
    slim_identity_verifier_free(v);
    return st;
}

static void unlink_entry(slim_identity_verifier *v, centry *e) {
    slim_hmap_remove(&v->map, &e->node);
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        v->oldest = e->newer;
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        v->newest = e->older;
    slim_free(e);
}

static void evict(slim_identity_verifier *v, centry *e) {
    unlink_entry(v, e);
    v->stats.evictions++;
    v->stats.cache_size--;
}

void slim_identity_verifier_free(slim_identity_verifier *v) {
    if (v == NULL)
        return;
    while (v->oldest != NULL)
        unlink_entry(v, v->oldest);
    slim_hmap_cleanup(&v->map);
    free_secret(v->secret, v->secret_len);
    slim_buf_cleanup(&v->aad);
    slim_free(v);
}

void slim_identity_verifier_stats_get(const slim_identity_verifier *v,
                                      slim_identity_verifier_stats *out) {
    *out = v->stats;
}

static slim_status check_time(const slim_identity_verifier *v, uint64_t ts, uint64_t now) {
    if (ts > now)
        return ts - now > v->skew_s ? SLIM_E_IDENTITY_NOT_YET_VALID : SLIM_OK;
    return now - ts > v->validity_s ? SLIM_E_IDENTITY_EXPIRED : SLIM_OK;
}

static uint64_t token_hash(const slim_identity_verifier *v, slim_str t) {
    return XXH3_64bits_withSeed(t.len > 0 ? t.ptr : "", t.len, v->seed);
}

static int entry_eq(const slim_hnode *n, const void *key) {
    const centry *e = SLIM_CONTAINER_OF(n, centry, node);
    const slim_str *t = key;
    return e->len == t->len && slim_ct_equal(e->token, t->ptr, t->len);
}

/* Remembers a token that verified; a failure to allocate only means it
 * will be verified in full next time. */
static centry *remember(slim_identity_verifier *v, slim_str t, const token_parts *p, uint64_t hash,
                        uint64_t now) {
    if (t.len > SLIM_IDENTITY_CACHE_TOKEN_MAX)
        return NULL;
    /* Drop expired tokens from the old end, then make room. */
    while (v->oldest != NULL && check_time(v, v->oldest->ts, now) == SLIM_E_IDENTITY_EXPIRED)
        evict(v, v->oldest);
    while (v->oldest != NULL && v->stats.cache_size >= v->cache_max)
        evict(v, v->oldest);
    centry *e = slim_malloc(sizeof *e + t.len);
    if (e == NULL)
        return NULL;
    memset(e, 0, sizeof *e);
    memcpy(e->token, t.ptr, t.len);
    e->len = t.len;
    e->ts = p->ts;
    e->id_len = p->id.len;
    e->older = v->newest;
    if (v->newest != NULL)
        v->newest->newer = e;
    else
        v->oldest = e;
    v->newest = e;
    slim_hmap_insert(&v->map, &e->node, hash);
    v->stats.cache_size++;
    return e;
}

static void fill_claims(const slim_identity_verifier *v, slim_str t, size_t id_len, uint64_t ts,
                        slim_identity_claims *c) {
    if (c == NULL)
        return;
    c->subject = (slim_str){t.ptr, id_len};
    c->issued_at = ts;
    c->expires_at = ts > UINT64_MAX - v->validity_s ? UINT64_MAX : ts + v->validity_s;
}

/* The token check; *entry gets the token's cache entry, or NULL when it is
 * not cached (too long, or no memory for it). */
static slim_status verify_token(slim_identity_verifier *v, slim_str t, uint64_t now,
                                slim_identity_claims *claims, centry **entry) {
    *entry = NULL;
    if (v == NULL || (t.ptr == NULL && t.len > 0))
        return SLIM_E_INVALID_ARG;
    uint64_t hash = token_hash(v, t);
    slim_hnode *n = slim_hmap_find(&v->map, hash, entry_eq, &t);
    if (n != NULL) {
        centry *e = SLIM_CONTAINER_OF(n, centry, node);
        slim_status st = check_time(v, e->ts, now);
        if (st != SLIM_OK) {
            evict(v, e);
            return st;
        }
        v->stats.cache_hits++;
        fill_claims(v, t, e->id_len, e->ts, claims);
        *entry = e;
        return SLIM_OK;
    }
    token_parts p;
    slim_status st = split_token(t, &p);
    if (st != SLIM_OK || (st = check_time(v, p.ts, now)) != SLIM_OK)
        return st;
    if (p.mac.len != MAC_B64_LEN)
        return SLIM_E_IDENTITY_MALFORMED;
    uint8_t mac[MAC_LEN];
    size_t mac_len;
    if (slim_b64_decode_to(p.mac, SLIM_B64_URL, mac, sizeof mac, &mac_len) != SLIM_OK)
        return SLIM_E_IDENTITY_BAD_BASE64;
    v->stats.hmacs++;
    st = slim_mls_hmac_verify(SLIM_MLS_HASH_SHA256, slim_bytes_of(v->secret, v->secret_len),
                              slim_bytes_of(p.signed_part.ptr, p.signed_part.len),
                              slim_bytes_of(mac, mac_len));
    if (st != SLIM_OK)
        return st == SLIM_E_MLS_BAD_MAC ? SLIM_E_IDENTITY_BAD_MAC : st;
    fill_claims(v, t, p.id.len, p.ts, claims);
    *entry = remember(v, t, &p, hash, now);
    return SLIM_OK;
}

slim_status slim_identity_verifier_check_token(slim_identity_verifier *v, slim_str token,
                                               uint64_t unix_s, slim_identity_claims *claims) {
    centry *e;
    return verify_token(v, token, unix_s, claims, &e);
}

/* The public key of a verified token (e: its cache entry or NULL), into
 * v->pk. */
static slim_status read_pubkey(slim_identity_verifier *v, slim_str token, centry *e) {
    if (e != NULL && e->has_claims) {
        memcpy(v->pk, e->pk, e->pk_len);
        v->pk_len = e->pk_len;
        return e->claims_st;
    }
    token_parts p;
    slim_status st = split_token(token, &p);
    if (st != SLIM_OK)
        return st; /* cannot happen: the token verified */
    v->stats.claims_parsed++;
    v->pk_len = 0;
    st = claims_pubkey(p.claims, v->pk, &v->pk_len);
    if (e != NULL && st != SLIM_E_NOMEM) { /* a lack of memory may pass */
        e->has_claims = true;
        e->claims_st = st;
        memcpy(e->pk, v->pk, v->pk_len);
        e->pk_len = v->pk_len;
    }
    return st;
}

slim_status slim_identity_verifier_pubkey(slim_identity_verifier *v, slim_str token,
                                          uint64_t unix_s, slim_bytes *pubkey) {
    if (pubkey == NULL)
        return SLIM_E_INVALID_ARG;
    centry *e;
    slim_status st = verify_token(v, token, unix_s, NULL, &e);
    if (st == SLIM_OK && (st = read_pubkey(v, token, e)) == SLIM_OK)
        *pubkey = slim_bytes_of(v->pk, v->pk_len);
    return st;
}

/* Valid UTF-8 (strict) without NUL. */
static bool text_ok(slim_str s) {
    for (size_t i = 0; i < s.len;) {
        int64_t c = utf8_next(s, &i);
        if (c <= 0)
            return false;
    }
    return true;
}

slim_status slim_identity_verifier_credential(slim_identity_verifier *v, slim_str token, bool fresh,
                                              uint64_t unix_s, slim_identity_claims *claims,
                                              slim_bytes *pubkey) {
    if (v == NULL || pubkey == NULL || (token.ptr == NULL && token.len > 0))
        return SLIM_E_INVALID_ARG;
    if (!text_ok(token))
        return SLIM_E_IDENTITY_MALFORMED;
    uint64_t at = unix_s;
    if (!fresh) { /* at the token's own time: everything but its age */
        token_parts p;
        slim_status st = split_token(token, &p);
        if (st != SLIM_OK)
            return st;
        at = p.ts;
    }
    centry *e;
    slim_status st = verify_token(v, token, at, claims, &e);
    if (st == SLIM_OK && (st = read_pubkey(v, token, e)) == SLIM_OK)
        *pubkey = slim_bytes_of(v->pk, v->pk_len);
    return st;
}

slim_status slim_identity_verifier_check_msg(slim_identity_verifier *v, const slim_msg *m,
                                             bool need_sig, uint64_t unix_s) {
    if (v == NULL || m == NULL)
        return SLIM_E_INVALID_ARG;
    const slim_pb_header *h = slim_wire_header(m);
    if (h == NULL)
        return SLIM_E_WIRE_MISSING_FIELD;
    slim_str token = {h->identity != NULL ? h->identity : "",
                      h->identity != NULL ? strlen(h->identity) : 0};
    centry *e;
    slim_status st = verify_token(v, token, unix_s, NULL, &e);
    if (st != SLIM_OK || !need_sig || slim_wire_kind(m) != SLIM_MSG_PUBLISH)
        return st;
    if (m->publish->session == NULL)
        return SLIM_E_WIRE_MISSING_FIELD;
    if (!is_command_publish(m))
        return SLIM_OK;
    if (!h->_e2e_header_sig_case)
        return SLIM_E_IDENTITY_NO_SIGNATURE;
    if ((st = read_pubkey(v, token, e)) != SLIM_OK)
        return st;
    v->aad.len = 0;
    if ((st = slim_wire_header_aad(m, &v->aad)) != SLIM_OK)
        return st;
    v->stats.signatures++;
    return verify_normalized(slim_bytes_of(v->pk, v->pk_len), slim_buf_view(&v->aad),
                             slim_bytes_of(h->e2e_header_sig.data, h->e2e_header_sig.len));
}
