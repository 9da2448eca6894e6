/*
 * RFC 9180 HPKE. The labeled KDF calls prefix "HPKE-v1" and a suite id:
 * "KEM" || kem_id inside the DHKEM, "HPKE" || kem_id || kdf_id || aead_id
 * in the key schedule and the exporter (RFC 9180 §4, §5.1).
 */
#include "mls/hpke.h"
#include "core/util.h"

#include <string.h>

typedef struct kem_info {
    uint16_t id;
    slim_mls_dh_group group;
    size_t nsecret, nenc, npk, nsk;
} kem_info;

static const kem_info kems[] = {
    {SLIM_MLS_HPKE_KEM_P256_SHA256, SLIM_MLS_DH_P256, 32, 65, 65, 32},
    {SLIM_MLS_HPKE_KEM_X25519_SHA256, SLIM_MLS_DH_X25519, 32, 32, 32, 32},
};

/* Both KEMs use HKDF-SHA256 internally, as does the one supported KDF. */
#define KDF_HASH SLIM_MLS_HASH_SHA256

static const kem_info *kem_of(uint16_t id) {
    for (size_t i = 0; i < SLIM_ARRAY_LEN(kems); i++) {
        if (kems[i].id == id)
            return &kems[i];
    }
    return NULL;
}

size_t slim_mls_hpke_kem_nsecret(uint16_t kem_id) {
    const kem_info *k = kem_of(kem_id);
    return k ? k->nsecret : 0;
}

size_t slim_mls_hpke_kem_nenc(uint16_t kem_id) {
    const kem_info *k = kem_of(kem_id);
    return k ? k->nenc : 0;
}

size_t slim_mls_hpke_kem_npk(uint16_t kem_id) {
    const kem_info *k = kem_of(kem_id);
    return k ? k->npk : 0;
}

size_t slim_mls_hpke_kem_nsk(uint16_t kem_id) {
    const kem_info *k = kem_of(kem_id);
    return k ? k->nsk : 0;
}

slim_status slim_mls_hpke_suite_check(slim_mls_hpke_suite suite) {
    if (kem_of(suite.kem_id) == NULL || suite.kdf_id != SLIM_MLS_HPKE_KDF_HKDF_SHA256)
        return SLIM_E_MLS_HPKE_UNSUPPORTED;
    switch (suite.aead_id) {
    case SLIM_MLS_HPKE_AEAD_AES128GCM:
    case SLIM_MLS_HPKE_AEAD_CHACHA20:
    case SLIM_MLS_HPKE_AEAD_EXPORT_ONLY:
        return SLIM_OK;
    }
    return SLIM_E_MLS_HPKE_UNSUPPORTED;
}

/* ---- labeled KDF ---------------------------------------------------- */

/* suite_id as bytes: "KEM" || kem_id, or "HPKE" || kem || kdf || aead. */
typedef struct suite_id {
    uint8_t b[10];
    size_t n;
} suite_id;

static suite_id kem_suite_id(uint16_t kem_id) {
    suite_id s = {{'K', 'E', 'M', (uint8_t)(kem_id >> 8), (uint8_t)kem_id}, 5};
    return s;
}

static suite_id hpke_suite_id(slim_mls_hpke_suite x) {
    suite_id s = {{'H', 'P', 'K', 'E', (uint8_t)(x.kem_id >> 8), (uint8_t)x.kem_id,
                   (uint8_t)(x.kdf_id >> 8), (uint8_t)x.kdf_id, (uint8_t)(x.aead_id >> 8),
                   (uint8_t)x.aead_id},
                  10};
    return s;
}

static slim_status append_label(slim_buf *b, const suite_id *sid, const char *label) {
    slim_status st = slim_buf_append(b, "HPKE-v1", 7);
    if (st == SLIM_OK)
        st = slim_buf_append(b, sid->b, sid->n);
    if (st == SLIM_OK)
        st = slim_buf_append(b, label, strlen(label));
    return st;
}

/* LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id
 * || label || ikm); out[0..Nh). */
static slim_status labeled_extract(const suite_id *sid, slim_bytes salt, const char *label,
                                   slim_bytes ikm, uint8_t *out) {
    slim_buf b = SLIM_BUF_INIT;
    slim_status st = append_label(&b, sid, label);
    if (st == SLIM_OK)
        st = slim_buf_append(&b, ikm.ptr, ikm.len);
    if (st == SLIM_OK)
        st = slim_mls_hkdf_extract(KDF_HASH, salt, slim_buf_view(&b), out);
    slim_buf_cleanup_secret(&b);
    return st;
}

/* LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) ||
 * "HPKE-v1" || suite_id || label || info, L). */
static slim_status labeled_expand(const suite_id *sid, slim_bytes prk, const char *label,
                                  slim_bytes info, uint8_t *out, size_t len) {
    if (len > 0xffff)
        return SLIM_E_MLS_KDF_LENGTH;
    slim_buf b = SLIM_BUF_INIT;
    slim_status st = slim_buf_append_u16(&b, (uint16_t)len);
    if (st == SLIM_OK)
        st = append_label(&b, sid, label);
    if (st == SLIM_OK)
        st = slim_buf_append(&b, info.ptr, info.len);
    if (st == SLIM_OK)
        st = slim_mls_hkdf_expand(KDF_HASH, prk, slim_buf_view(&b), out, len);
    slim_buf_cleanup_secret(&b);
    return st;
}

/* ---- DHKEM ---------------------------------------------------------- */

slim_status slim_mls_hpke_derive_key_pair(uint16_t kem_id, slim_bytes ikm, uint8_t *sk,
                                          uint8_t *pk) {
    const kem_info *k = kem_of(kem_id);
    if (k == NULL)
        return SLIM_E_MLS_HPKE_UNSUPPORTED;
    suite_id sid = kem_suite_id(kem_id);
    uint8_t prk[SLIM_MLS_MAX_HASH];
    slim_bytes prk_v = slim_bytes_of(prk, slim_mls_hash_size(KDF_HASH));
    slim_bytes none = slim_bytes_of(NULL, 0);
    slim_status st = labeled_extract(&sid, none, "dkp_prk", ikm, prk);
    if (st != SLIM_OK)
        goto done;
    if (k->group == SLIM_MLS_DH_X25519) {
        st = labeled_expand(&sid, prk_v, "sk", none, sk, k->nsk);
    } else {
        /* Rejection sampling over counters 0..255 (RFC 9180 §7.1.3); the
         * P-256 bitmask is 0xff, so candidates are used whole. */
        st = SLIM_E_MLS_HPKE_DERIVE_KEY_PAIR;
        for (unsigned counter = 0; counter <= 255; counter++) {
            uint8_t c = (uint8_t)counter;
            slim_status e =
                labeled_expand(&sid, prk_v, "candidate", slim_bytes_of(&c, 1), sk, k->nsk);
            if (e == SLIM_OK)
                e = slim_mls_dh_check_private(k->group, slim_bytes_of(sk, k->nsk));
            if (e != SLIM_E_MLS_BAD_KEY) {
                st = e;
                break;
            }
        }
    }
    if (st == SLIM_OK)
        st = slim_mls_dh_public(k->group, slim_bytes_of(sk, k->nsk), pk);
done:
    if (st != SLIM_OK)
        slim_memzero(sk, k->nsk);
    slim_memzero(prk, sizeof prk);
    return st;
}

slim_status slim_mls_hpke_generate_key_pair(uint16_t kem_id, const slim_mls_rng *rng, uint8_t *sk,
                                            uint8_t *pk) {
    const kem_info *k = kem_of(kem_id);
    if (k == NULL)
        return SLIM_E_MLS_HPKE_UNSUPPORTED;
    uint8_t ikm[SLIM_MLS_MAX_DH_PRIVATE];
    slim_status st = slim_mls_rng_fill(rng, ikm, k->nsk);
    if (st == SLIM_OK)
        st = slim_mls_hpke_derive_key_pair(kem_id, slim_bytes_of(ikm, k->nsk), sk, pk);
    slim_memzero(ikm, sizeof ikm);
    return st;
}

slim_status slim_mls_hpke_public_key(uint16_t kem_id, slim_bytes sk, uint8_t *pk) {
    const kem_info *k = kem_of(kem_id);
    if (k == NULL)
        return SLIM_E_MLS_HPKE_UNSUPPORTED;
    if (sk.len != k->nsk)
        return SLIM_E_MLS_BAD_KEY;
    return slim_mls_dh_public(k->group, sk, pk);
}

/* shared_secret = ExtractAndExpand(dh, kem_context). */
static slim_status extract_and_expand(const kem_info *k, slim_bytes dh, slim_bytes kem_context,
                                      uint8_t *shared_secret) {
    suite_id sid = kem_suite_id(k->id);
    uint8_t prk[SLIM_MLS_MAX_HASH];
    slim_status st = labeled_extract(&sid, slim_bytes_of(NULL, 0), "eae_prk", dh, prk);
    if (st == SLIM_OK)
        st = labeled_expand(&sid, slim_bytes_of(prk, slim_mls_hash_size(KDF_HASH)), "shared_secret",
                            kem_context, shared_secret, k->nsecret);
    slim_memzero(prk, sizeof prk);
    return st;
}

/* The DH part shared by Encap and Decap: dh = DH(sk_a, pk_a) [||
 * DH(sk_b, pk_b)], kem_context = enc || pkRm [|| pkSm], then
 * ExtractAndExpand. The second pair is used when sk_b is non-empty. */
static slim_status kem_core(const kem_info *k, slim_bytes sk_a, slim_bytes pk_a, slim_bytes sk_b,
                            slim_bytes pk_b, slim_bytes enc, slim_bytes pk_rm, slim_bytes pk_sm,
                            uint8_t *shared_secret) {
    uint8_t dh[2 * SLIM_MLS_MAX_DH_SECRET];
    size_t ndh = slim_mls_dh_secret_size(k->group);
    size_t n = ndh;
    slim_buf ctx = SLIM_BUF_INIT;
    slim_status st = slim_mls_dh(k->group, sk_a, pk_a, dh);
    if (st == SLIM_OK && sk_b.len > 0) {
        st = slim_mls_dh(k->group, sk_b, pk_b, dh + ndh);
        n += ndh;
    }
    if (st == SLIM_OK)
        st = slim_buf_append(&ctx, enc.ptr, enc.len);
    if (st == SLIM_OK)
        st = slim_buf_append(&ctx, pk_rm.ptr, pk_rm.len);
    if (st == SLIM_OK)
        st = slim_buf_append(&ctx, pk_sm.ptr, pk_sm.len);
    if (st == SLIM_OK)
        st = extract_and_expand(k, slim_bytes_of(dh, n), slim_buf_view(&ctx), shared_secret);
    slim_buf_cleanup(&ctx);
    slim_memzero(dh, sizeof dh);
    return st;
}

slim_status slim_mls_hpke_encap(uint16_t kem_id, slim_bytes pk_r, slim_bytes sk_s, slim_bytes ikm_e,
                                const slim_mls_rng *rng, uint8_t *shared_secret, uint8_t *enc) {
    const kem_info *k = kem_of(kem_id);
    if (k == NULL)
        return SLIM_E_MLS_HPKE_UNSUPPORTED;
    if (pk_r.len != k->npk || (sk_s.len > 0 && sk_s.len != k->nsk))
        return SLIM_E_MLS_BAD_KEY;
    uint8_t sk_e[SLIM_MLS_MAX_DH_PRIVATE];
    uint8_t pk_s[SLIM_MLS_MAX_DH_PUBLIC];
    slim_status st = ikm_e.len > 0 ? slim_mls_hpke_derive_key_pair(kem_id, ikm_e, sk_e, enc)
                                   : slim_mls_hpke_generate_key_pair(kem_id, rng, sk_e, enc);
    slim_bytes pk_sm = slim_bytes_of(NULL, 0);
    if (st == SLIM_OK && sk_s.len > 0) {
        st = slim_mls_dh_public(k->group, sk_s, pk_s);
        pk_sm = slim_bytes_of(pk_s, k->npk);
    }
    if (st == SLIM_OK)
        st = kem_core(k, slim_bytes_of(sk_e, k->nsk), pk_r, sk_s, pk_r, slim_bytes_of(enc, k->nenc),
                      pk_r, pk_sm, shared_secret);
    slim_memzero(sk_e, sizeof sk_e);
    return st;
}

slim_status slim_mls_hpke_decap(uint16_t kem_id, slim_bytes enc, slim_bytes sk_r, slim_bytes pk_s,
                                uint8_t *shared_secret) {
    const kem_info *k = kem_of(kem_id);
    if (k == NULL)
        return SLIM_E_MLS_HPKE_UNSUPPORTED;
    if (enc.len != k->nenc || sk_r.len != k->nsk || (pk_s.len > 0 && pk_s.len != k->npk))
        return SLIM_E_MLS_BAD_KEY;
    uint8_t pk_r[SLIM_MLS_MAX_DH_PUBLIC];
    slim_status st = slim_mls_dh_public(k->group, sk_r, pk_r);
    if (st == SLIM_OK)
        st = kem_core(k, sk_r, enc, pk_s.len > 0 ? sk_r : slim_bytes_of(NULL, 0), pk_s, enc,
                      slim_bytes_of(pk_r, k->npk), pk_s, shared_secret);
    return st;
}

/* ---- key schedule and context --------------------------------------- */

void slim_mls_hpke_ctx_cleanup(slim_mls_hpke_ctx *ctx) {
    slim_memzero(ctx, sizeof *ctx);
}

/* VerifyPSKInputs (RFC 9180 §5.1). */
static slim_status verify_psk_inputs(slim_mls_hpke_mode mode, slim_bytes psk, slim_bytes psk_id) {
    bool got_psk = psk.len > 0, got_id = psk_id.len > 0;
    if (got_psk != got_id)
        return SLIM_E_MLS_HPKE_PSK_INPUTS;
    bool wants = mode == SLIM_MLS_HPKE_MODE_PSK || mode == SLIM_MLS_HPKE_MODE_AUTH_PSK;
    return got_psk == wants ? SLIM_OK : SLIM_E_MLS_HPKE_PSK_INPUTS;
}

static bool mode_is_auth(slim_mls_hpke_mode mode) {
    return mode == SLIM_MLS_HPKE_MODE_AUTH || mode == SLIM_MLS_HPKE_MODE_AUTH_PSK;
}

static bool mode_is_valid(slim_mls_hpke_mode mode) {
    return mode == SLIM_MLS_HPKE_MODE_BASE || mode == SLIM_MLS_HPKE_MODE_PSK ||
           mode == SLIM_MLS_HPKE_MODE_AUTH || mode == SLIM_MLS_HPKE_MODE_AUTH_PSK;
}

slim_status slim_mls_hpke_key_schedule(slim_mls_hpke_suite suite, bool sender,
                                       slim_mls_hpke_mode mode, slim_bytes shared_secret,
                                       slim_bytes info, slim_bytes psk, slim_bytes psk_id,
                                       slim_mls_hpke_ctx *ctx) {
    slim_status st = slim_mls_hpke_suite_check(suite);
    if (st != SLIM_OK)
        return st;
    if (!mode_is_valid(mode))
        return SLIM_E_INVALID_ARG;
    st = verify_psk_inputs(mode, psk, psk_id);
    if (st != SLIM_OK)
        return st;
    memset(ctx, 0, sizeof *ctx);
    ctx->suite = suite;
    ctx->sender = sender;
    ctx->nh = slim_mls_hash_size(KDF_HASH);
    if (suite.aead_id != SLIM_MLS_HPKE_AEAD_EXPORT_ONLY) {
        ctx->nk = slim_mls_aead_key_size((slim_mls_aead_alg)suite.aead_id);
        ctx->nn = slim_mls_aead_nonce_size((slim_mls_aead_alg)suite.aead_id);
    }
    suite_id sid = hpke_suite_id(suite);
    slim_bytes none = slim_bytes_of(NULL, 0);
    /* key_schedule_context = mode || psk_id_hash || info_hash */
    uint8_t ksc[1 + 2 * SLIM_MLS_MAX_HASH];
    uint8_t secret[SLIM_MLS_MAX_HASH];
    slim_bytes ksc_v = slim_bytes_of(ksc, 1 + 2 * ctx->nh);
    slim_bytes secret_v = slim_bytes_of(secret, ctx->nh);
    ksc[0] = (uint8_t)mode;
    st = labeled_extract(&sid, none, "psk_id_hash", psk_id, ksc + 1);
    if (st == SLIM_OK)
        st = labeled_extract(&sid, none, "info_hash", info, ksc + 1 + ctx->nh);
    if (st == SLIM_OK)
        st = labeled_extract(&sid, shared_secret, "secret", psk, secret);
    if (st == SLIM_OK && ctx->nk > 0)
        st = labeled_expand(&sid, secret_v, "key", ksc_v, ctx->key, ctx->nk);
    if (st == SLIM_OK && ctx->nn > 0)
        st = labeled_expand(&sid, secret_v, "base_nonce", ksc_v, ctx->base_nonce, ctx->nn);
    if (st == SLIM_OK)
        st = labeled_expand(&sid, secret_v, "exp", ksc_v, ctx->exporter_secret, ctx->nh);
    slim_memzero(secret, sizeof secret);
    if (st != SLIM_OK)
        slim_mls_hpke_ctx_cleanup(ctx);
    return st;
}

/* Checks mode, suite and auth inputs common to both setups. */
static slim_status setup_check(slim_mls_hpke_suite suite, const slim_mls_hpke_setup *in,
                               slim_bytes auth_key) {
    slim_status st = slim_mls_hpke_suite_check(suite);
    if (st != SLIM_OK)
        return st;
    if (!mode_is_valid(in->mode))
        return SLIM_E_INVALID_ARG;
    if (mode_is_auth(in->mode) != (auth_key.len > 0))
        return SLIM_E_MLS_HPKE_AUTH_INPUTS;
    return verify_psk_inputs(in->mode, in->psk, in->psk_id);
}

slim_status slim_mls_hpke_setup_sender(slim_mls_hpke_suite suite, slim_bytes pk_r,
                                       const slim_mls_hpke_setup *in, uint8_t *enc,
                                       slim_mls_hpke_ctx *ctx) {
    slim_status st = setup_check(suite, in, in->sk_s);
    if (st != SLIM_OK)
        return st;
    uint8_t ss[SLIM_MLS_HPKE_MAX_SECRET];
    size_t nss = slim_mls_hpke_kem_nsecret(suite.kem_id);
    st = slim_mls_hpke_encap(suite.kem_id, pk_r, in->sk_s, in->ikm_e, in->rng, ss, enc);
    if (st == SLIM_OK)
        st = slim_mls_hpke_key_schedule(suite, true, in->mode, slim_bytes_of(ss, nss), in->info,
                                        in->psk, in->psk_id, ctx);
    slim_memzero(ss, sizeof ss);
    return st;
}

slim_status slim_mls_hpke_setup_receiver(slim_mls_hpke_suite suite, slim_bytes enc, slim_bytes sk_r,
                                         const slim_mls_hpke_setup *in, slim_mls_hpke_ctx *ctx) {
    slim_status st = setup_check(suite, in, in->pk_s);
    if (st != SLIM_OK)
        return st;
    uint8_t ss[SLIM_MLS_HPKE_MAX_SECRET];
    size_t nss = slim_mls_hpke_kem_nsecret(suite.kem_id);
    st = slim_mls_hpke_decap(suite.kem_id, enc, sk_r, in->pk_s, ss);
    if (st == SLIM_OK)
        st = slim_mls_hpke_key_schedule(suite, false, in->mode, slim_bytes_of(ss, nss), in->info,
                                        in->psk, in->psk_id, ctx);
    slim_memzero(ss, sizeof ss);
    return st;
}

/* nonce = base_nonce XOR I2OSP(seq, Nn). */
static void compute_nonce(const slim_mls_hpke_ctx *ctx, uint8_t *nonce) {
    memcpy(nonce, ctx->base_nonce, ctx->nn);
    for (size_t i = 0; i < 8 && i < ctx->nn; i++)
        nonce[ctx->nn - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

static slim_status aead_step(slim_mls_hpke_ctx *ctx, bool seal, slim_bytes aad, slim_bytes in,
                             slim_buf *out) {
    if (ctx->sender != seal)
        return SLIM_E_MLS_HPKE_WRONG_ROLE;
    if (ctx->suite.aead_id == SLIM_MLS_HPKE_AEAD_EXPORT_ONLY || ctx->nk == 0)
        return SLIM_E_MLS_HPKE_EXPORT_ONLY;
    /* The next increment would overflow the 64-bit counter; with a 12-byte
     * nonce RFC 9180's own limit lies beyond it. */
    if (ctx->seq == UINT64_MAX)
        return SLIM_E_MLS_HPKE_MESSAGE_LIMIT;
    uint8_t nonce[SLIM_MLS_MAX_AEAD_NONCE];
    compute_nonce(ctx, nonce);
    slim_mls_aead_alg alg = (slim_mls_aead_alg)ctx->suite.aead_id;
    slim_bytes key = slim_bytes_of(ctx->key, ctx->nk);
    slim_bytes nv = slim_bytes_of(nonce, ctx->nn);
    slim_status st = seal ? slim_mls_aead_seal(alg, key, nv, aad, in, out)
                          : slim_mls_aead_open(alg, key, nv, aad, in, out);
    if (st == SLIM_OK)
        ctx->seq++;
    return st;
}

slim_status slim_mls_hpke_seal(slim_mls_hpke_ctx *ctx, slim_bytes aad, slim_bytes pt,
                               slim_buf *ct) {
    return aead_step(ctx, true, aad, pt, ct);
}

slim_status slim_mls_hpke_open(slim_mls_hpke_ctx *ctx, slim_bytes aad, slim_bytes ct,
                               slim_buf *pt) {
    return aead_step(ctx, false, aad, ct, pt);
}

slim_status slim_mls_hpke_export(const slim_mls_hpke_ctx *ctx, slim_bytes exporter_context,
                                 uint8_t *out, size_t len) {
    if (ctx->nh == 0)
        return SLIM_E_STATE;
    suite_id sid = hpke_suite_id(ctx->suite);
    return labeled_expand(&sid, slim_bytes_of(ctx->exporter_secret, ctx->nh), "sec",
                          exporter_context, out, len);
}

slim_status slim_mls_hpke_seal_base(slim_mls_hpke_suite suite, slim_bytes pk_r, slim_bytes info,
                                    slim_bytes aad, slim_bytes pt, const slim_mls_rng *rng,
                                    slim_buf *enc, slim_buf *ct) {
    slim_mls_hpke_setup in = {.mode = SLIM_MLS_HPKE_MODE_BASE, .info = info, .rng = rng};
    slim_mls_hpke_ctx ctx;
    uint8_t e[SLIM_MLS_HPKE_MAX_ENC];
    size_t ct_len = ct->len;
    slim_status st = slim_mls_hpke_setup_sender(suite, pk_r, &in, e, &ctx);
    if (st != SLIM_OK)
        return st;
    st = slim_mls_hpke_seal(&ctx, aad, pt, ct);
    if (st == SLIM_OK) {
        st = slim_buf_append(enc, e, slim_mls_hpke_kem_nenc(suite.kem_id));
        if (st != SLIM_OK)
            ct->len = ct_len;
    }
    slim_mls_hpke_ctx_cleanup(&ctx);
    return st;
}

slim_status slim_mls_hpke_open_base(slim_mls_hpke_suite suite, slim_bytes enc, slim_bytes sk_r,
                                    slim_bytes info, slim_bytes aad, slim_bytes ct, slim_buf *pt) {
    slim_mls_hpke_setup in = {.mode = SLIM_MLS_HPKE_MODE_BASE, .info = info};
    slim_mls_hpke_ctx ctx;
    slim_status st = slim_mls_hpke_setup_receiver(suite, enc, sk_r, &in, &ctx);
    if (st != SLIM_OK)
        return st;
    st = slim_mls_hpke_open(&ctx, aad, ct, pt);
    slim_mls_hpke_ctx_cleanup(&ctx);
    return st;
}
