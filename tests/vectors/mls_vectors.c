/*
 * mls_vectors <kind> <file.json>
 *
 * Checks one file of the MLS interop vectors (mlswg/mls-implementations)
 * or the RFC 9180 HPKE vectors against src/mls. Kinds: hpke, tree-math,
 * crypto-basics, secret-tree, key-schedule, psk_secret, transcript-hashes,
 * deserialization, messages, message-protection, tree-validation,
 * tree-operations, treekem, welcome, and passive-client (the mlswg
 * "passive client" scenario format; any file of that format: ours come
 * from tests/vectors/mls_passive_gen.c). Prints one line per entry and a final line
 * "N passed, N failed"; exits 0 when all passed, 1 on any failure or bad
 * input, and 77 (ctest's skip code) when the file does not exist, unless
 * the environment has CI=true, where a missing file is a failure.
 *
 * Entries of a cipher suite we do not support are failures, not skips:
 * the vector files hold only suites 1 and 2 and all must pass.
 */
#include "core/buf.h"
#include "core/util.h"
#include "mls/crypto.h"
#include "mls/framing.h"
#include "mls/group.h"
#include "mls/group_context.h"
#include "mls/hpke.h"
#include "mls/key_schedule.h"
#include "mls/protect.h"
#include "mls/psk.h"
#include "mls/secret_tree.h"
#include "mls/tls.h"
#include "mls/transcript.h"
#include "mls/tree_math.h"
#include "mls/treekem.h"
#include "mls/validate.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SKIP_CODE 77

/* ---- per-entry checking state --------------------------------------- */

typedef struct check {
    bool failed;
    char why[600];
    void **allocs; /* decoded hex values, freed after the entry */
    size_t n_allocs, cap_allocs;
} check;

static void fail(check *c, const char *fmt, ...) {
    if (c->failed)
        return;
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
}

static void check_free(check *c) {
    for (size_t i = 0; i < c->n_allocs; i++)
        free(c->allocs[i]);
    free(c->allocs);
    c->allocs = NULL;
    c->n_allocs = c->cap_allocs = 0;
}

static json_t *field(check *c, json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        fail(c, "field \"%s\" missing", key);
    return v;
}

/* A hex string value as bytes (freed with the entry); empty on error.
 * `key` names it in failures. */
static slim_bytes hexv(check *c, json_t *v, const char *key) {
    if (v == NULL || !json_is_string(v)) {
        if (v != NULL)
            fail(c, "field \"%s\" is not a string", key);
        return slim_bytes_of(NULL, 0);
    }
    const char *s = json_string_value(v);
    size_t len = strlen(s);
    if (c->n_allocs == c->cap_allocs) {
        size_t cap = c->cap_allocs ? 2 * c->cap_allocs : 64;
        void **a = realloc(c->allocs, cap * sizeof *a);
        if (a == NULL) {
            fail(c, "out of memory");
            return slim_bytes_of(NULL, 0);
        }
        c->allocs = a;
        c->cap_allocs = cap;
    }
    uint8_t *p = malloc(len / 2 + 1);
    size_t n = 0;
    if (p == NULL || slim_hex_decode(s, len, p, len / 2 + 1, &n) != SLIM_OK) {
        free(p);
        fail(c, "field \"%s\" is not hex", key);
        return slim_bytes_of(NULL, 0);
    }
    c->allocs[c->n_allocs++] = p;
    return slim_bytes_of(p, n);
}

/* A hex field as bytes (freed with the entry); empty on error. */
static slim_bytes hexf(check *c, json_t *obj, const char *key) {
    return hexv(c, field(c, obj, key), key);
}

static uint64_t numf(check *c, json_t *obj, const char *key) {
    json_t *v = field(c, obj, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        fail(c, "field \"%s\" is not a non-negative integer", key);
        return 0;
    }
    return (uint64_t)json_integer_value(v);
}

static const char *strf(check *c, json_t *obj, const char *key) {
    json_t *v = field(c, obj, key);
    if (v == NULL || !json_is_string(v)) {
        if (v != NULL)
            fail(c, "field \"%s\" is not a string", key);
        return "";
    }
    return json_string_value(v);
}

static bool ok(check *c, const char *what, slim_status st) {
    if (st != SLIM_OK)
        fail(c, "%s: %s (%s)", what, slim_status_name(st), slim_status_str(st));
    return st == SLIM_OK && !c->failed;
}

static void expect(check *c, const char *what, const uint8_t *got, size_t got_len,
                   slim_bytes want) {
    if (c->failed)
        return;
    if (got_len != want.len || (got_len > 0 && memcmp(got, want.ptr, got_len) != 0)) {
        char g[129], w[129];
        slim_hex_encode(got, got_len > 64 ? 64 : got_len, g, sizeof g);
        slim_hex_encode(want.ptr, want.len > 64 ? 64 : want.len, w, sizeof w);
        fail(c, "%s mismatch: got %s (%zu bytes), want %s (%zu bytes)", what, g, got_len, w,
             want.len);
    }
}

static void expect_buf(check *c, const char *what, const slim_buf *got, slim_bytes want) {
    expect(c, what, got->data, got->len, want);
}

static const slim_mls_suite *suitef(check *c, json_t *e) {
    uint64_t id = numf(c, e, "cipher_suite");
    const slim_mls_suite *s = slim_mls_suite_get((uint16_t)id);
    if (s == NULL || id > 0xffff)
        fail(c, "cipher suite %llu not supported", (unsigned long long)id);
    return s;
}

/* A deterministic RNG for the fresh-encryption round trips. */
static slim_status counter_fill(void *ctx, uint8_t *out, size_t n) {
    uint8_t *state = ctx;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(state[0]++ * 131 + 7);
    return SLIM_OK;
}

/* ---- deserialization ------------------------------------------------ */

static void run_deserialization(check *c, json_t *e, char *desc, size_t dlen) {
    slim_bytes hdr = hexf(c, e, "vlbytes_header");
    uint64_t want = numf(c, e, "length");
    snprintf(desc, dlen, "length %llu", (unsigned long long)want);
    if (c->failed)
        return;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, hdr);
    uint64_t got;
    slim_mls_tls_get_varint(&r, &got);
    if (!ok(c, "decode header", slim_mls_tls_reader_finish(&r)))
        return;
    if (got != want) {
        fail(c, "decoded %llu, want %llu", (unsigned long long)got, (unsigned long long)want);
        return;
    }
    slim_buf b = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &b);
    slim_mls_tls_put_varint(&w, want);
    if (ok(c, "encode header", slim_mls_tls_writer_status(&w)))
        expect_buf(c, "encoded header", &b, hdr);
    slim_buf_cleanup(&b);
}

/* ---- tree-math ------------------------------------------------------ */

typedef slim_status (*tree_fn)(uint32_t, uint32_t, uint32_t *);

static void tree_relation(check *c, json_t *e, const char *key, tree_fn fn, uint32_t n_leaves,
                          uint32_t n_nodes) {
    json_t *arr = field(c, e, key);
    if (arr == NULL || !json_is_array(arr) || json_array_size(arr) != n_nodes) {
        fail(c, "\"%s\" is not an array of %u entries", key, n_nodes);
        return;
    }
    for (uint32_t i = 0; i < n_nodes && !c->failed; i++) {
        json_t *want = json_array_get(arr, i);
        uint32_t got = 0;
        slim_status st = fn(i, n_leaves, &got);
        if (json_is_null(want)) {
            if (st == SLIM_OK)
                fail(c, "%s(%u) = %u, want none", key, i, got);
        } else if (st != SLIM_OK) {
            fail(c, "%s(%u): %s, want %lld", key, i, slim_status_name(st),
                 json_integer_value(want));
        } else if ((json_int_t)got != json_integer_value(want)) {
            fail(c, "%s(%u) = %u, want %lld", key, i, got, json_integer_value(want));
        }
    }
}

static void run_tree_math(check *c, json_t *e, char *desc, size_t dlen) {
    uint32_t n_leaves = (uint32_t)numf(c, e, "n_leaves");
    uint32_t n_nodes = (uint32_t)numf(c, e, "n_nodes");
    uint32_t want_root = (uint32_t)numf(c, e, "root");
    snprintf(desc, dlen, "n_leaves %u", n_leaves);
    if (c->failed)
        return;
    if (slim_mls_tree_width(n_leaves) != n_nodes) {
        fail(c, "width %u, want %u", slim_mls_tree_width(n_leaves), n_nodes);
        return;
    }
    uint32_t root;
    if (!ok(c, "root", slim_mls_tree_root(n_leaves, &root)))
        return;
    if (root != want_root)
        fail(c, "root %u, want %u", root, want_root);
    tree_relation(c, e, "left", slim_mls_tree_left, n_leaves, n_nodes);
    tree_relation(c, e, "right", slim_mls_tree_right, n_leaves, n_nodes);
    tree_relation(c, e, "parent", slim_mls_tree_parent, n_leaves, n_nodes);
    tree_relation(c, e, "sibling", slim_mls_tree_sibling, n_leaves, n_nodes);
}

/* ---- hpke ----------------------------------------------------------- */

static void hpke_key_pair(check *c, uint16_t kem, json_t *e, const char *ikm_key,
                          const char *sk_key, const char *pk_key) {
    slim_bytes ikm = hexf(c, e, ikm_key);
    slim_bytes sk_want = hexf(c, e, sk_key);
    slim_bytes pk_want = hexf(c, e, pk_key);
    if (c->failed)
        return;
    uint8_t sk[SLIM_MLS_MAX_DH_PRIVATE], pk[SLIM_MLS_MAX_DH_PUBLIC];
    char what[64];
    snprintf(what, sizeof what, "DeriveKeyPair(%s)", ikm_key);
    if (!ok(c, what, slim_mls_hpke_derive_key_pair(kem, ikm, sk, pk)))
        return;
    expect(c, sk_key, sk, slim_mls_hpke_kem_nsk(kem), sk_want);
    expect(c, pk_key, pk, slim_mls_hpke_kem_npk(kem), pk_want);
}

static void run_hpke(check *c, json_t *e, char *desc, size_t dlen) {
    uint64_t mode = numf(c, e, "mode");
    slim_mls_hpke_suite suite = {(uint16_t)numf(c, e, "kem_id"), (uint16_t)numf(c, e, "kdf_id"),
                                 (uint16_t)numf(c, e, "aead_id")};
    snprintf(desc, dlen, "mode %llu kem 0x%04x kdf 0x%04x aead 0x%04x", (unsigned long long)mode,
             suite.kem_id, suite.kdf_id, suite.aead_id);
    if (c->failed || !ok(c, "suite", slim_mls_hpke_suite_check(suite)))
        return;
    bool auth = mode == SLIM_MLS_HPKE_MODE_AUTH || mode == SLIM_MLS_HPKE_MODE_AUTH_PSK;
    bool psk = mode == SLIM_MLS_HPKE_MODE_PSK || mode == SLIM_MLS_HPKE_MODE_AUTH_PSK;
    uint16_t kem = suite.kem_id;

    hpke_key_pair(c, kem, e, "ikmE", "skEm", "pkEm");
    hpke_key_pair(c, kem, e, "ikmR", "skRm", "pkRm");
    if (auth)
        hpke_key_pair(c, kem, e, "ikmS", "skSm", "pkSm");
    slim_mls_hpke_setup in = {.mode = (slim_mls_hpke_mode)mode, .info = hexf(c, e, "info")};
    in.ikm_e = hexf(c, e, "ikmE");
    if (psk) {
        in.psk = hexf(c, e, "psk");
        in.psk_id = hexf(c, e, "psk_id");
    }
    slim_bytes sk_s = auth ? hexf(c, e, "skSm") : slim_bytes_of(NULL, 0);
    slim_bytes pk_s = auth ? hexf(c, e, "pkSm") : slim_bytes_of(NULL, 0);
    slim_bytes pk_r = hexf(c, e, "pkRm");
    slim_bytes sk_r = hexf(c, e, "skRm");
    slim_bytes enc_want = hexf(c, e, "enc");
    slim_bytes ss_want = hexf(c, e, "shared_secret");
    slim_bytes key_want = hexf(c, e, "key");
    slim_bytes nonce_want = hexf(c, e, "base_nonce");
    slim_bytes exp_want = hexf(c, e, "exporter_secret");
    if (c->failed)
        return;

    /* KEM alone. */
    uint8_t ss[SLIM_MLS_HPKE_MAX_SECRET], enc[SLIM_MLS_HPKE_MAX_ENC];
    size_t nsecret = slim_mls_hpke_kem_nsecret(kem), nenc = slim_mls_hpke_kem_nenc(kem);
    if (!ok(c, "Encap", slim_mls_hpke_encap(kem, pk_r, sk_s, in.ikm_e, NULL, ss, enc)))
        return;
    expect(c, "enc", enc, nenc, enc_want);
    expect(c, "shared_secret (encap)", ss, nsecret, ss_want);
    if (!ok(c, "Decap", slim_mls_hpke_decap(kem, enc_want, sk_r, pk_s, ss)))
        return;
    expect(c, "shared_secret (decap)", ss, nsecret, ss_want);

    /* Full setups. */
    slim_mls_hpke_ctx s_ctx, r_ctx;
    memset(&s_ctx, 0, sizeof s_ctx);
    memset(&r_ctx, 0, sizeof r_ctx);
    in.sk_s = sk_s;
    if (!ok(c, "setup sender", slim_mls_hpke_setup_sender(suite, pk_r, &in, enc, &s_ctx)))
        return;
    in.sk_s = slim_bytes_of(NULL, 0);
    in.pk_s = pk_s;
    if (!ok(c, "setup receiver", slim_mls_hpke_setup_receiver(suite, enc_want, sk_r, &in, &r_ctx)))
        goto done;
    expect(c, "enc (setup)", enc, nenc, enc_want);
    expect(c, "key", s_ctx.key, s_ctx.nk, key_want);
    expect(c, "base_nonce", s_ctx.base_nonce, s_ctx.nn, nonce_want);
    expect(c, "exporter_secret", s_ctx.exporter_secret, s_ctx.nh, exp_want);
    expect(c, "key (receiver)", r_ctx.key, r_ctx.nk, key_want);
    expect(c, "exporter_secret (receiver)", r_ctx.exporter_secret, r_ctx.nh, exp_want);

    json_t *encs = field(c, e, "encryptions");
    size_t i;
    json_t *x;
    if (encs != NULL) {
        json_array_foreach(encs, i, x) {
            if (c->failed)
                break;
            slim_bytes aad = hexf(c, x, "aad"), pt = hexf(c, x, "pt"), ct = hexf(c, x, "ct");
            if (c->failed)
                break;
            slim_buf out = SLIM_BUF_INIT;
            char what[48];
            snprintf(what, sizeof what, "seal #%zu", i);
            if (ok(c, what, slim_mls_hpke_seal(&s_ctx, aad, pt, &out)))
                expect_buf(c, what, &out, ct);
            out.len = 0;
            snprintf(what, sizeof what, "open #%zu", i);
            if (ok(c, what, slim_mls_hpke_open(&r_ctx, aad, ct, &out)))
                expect_buf(c, what, &out, pt);
            slim_buf_cleanup(&out);
        }
    }
    json_t *exps = field(c, e, "exports");
    if (exps != NULL) {
        json_array_foreach(exps, i, x) {
            if (c->failed)
                break;
            slim_bytes ctx = hexf(c, x, "exporter_context");
            size_t len = (size_t)numf(c, x, "L");
            slim_bytes want = hexf(c, x, "exported_value");
            if (c->failed || len > 1024) {
                fail(c, "bad export entry #%zu", i);
                break;
            }
            uint8_t out[1024];
            char what[48];
            snprintf(what, sizeof what, "export #%zu", i);
            if (ok(c, what, slim_mls_hpke_export(&s_ctx, ctx, out, len)))
                expect(c, what, out, len, want);
            if (ok(c, what, slim_mls_hpke_export(&r_ctx, ctx, out, len)))
                expect(c, what, out, len, want);
        }
    }
done:
    slim_mls_hpke_ctx_cleanup(&s_ctx);
    slim_mls_hpke_ctx_cleanup(&r_ctx);
}

/* ---- crypto-basics -------------------------------------------------- */

static void run_crypto_basics(check *c, json_t *e, char *desc, size_t dlen) {
    const slim_mls_suite *s = suitef(c, e);
    snprintf(desc, dlen, "suite %u", s ? s->id : 0);
    if (c->failed)
        return;
    uint8_t out[1024];
    json_t *x;

    x = field(c, e, "ref_hash");
    if (x != NULL) {
        const char *label = strf(c, x, "label");
        slim_bytes value = hexf(c, x, "value"), want = hexf(c, x, "out");
        if (!c->failed &&
            ok(c, "RefHash", slim_mls_ref_hash(s, slim_bytes_of(label, strlen(label)), value, out)))
            expect(c, "ref_hash", out, s->nh, want);
    }

    x = field(c, e, "expand_with_label");
    if (x != NULL) {
        slim_bytes secret = hexf(c, x, "secret"), context = hexf(c, x, "context");
        const char *label = strf(c, x, "label");
        size_t len = (size_t)numf(c, x, "length");
        slim_bytes want = hexf(c, x, "out");
        if (!c->failed && len <= sizeof out &&
            ok(c, "ExpandWithLabel",
               slim_mls_expand_with_label(s, secret, label, context, out, len)))
            expect(c, "expand_with_label", out, len, want);
    }

    x = field(c, e, "derive_secret");
    if (x != NULL) {
        slim_bytes secret = hexf(c, x, "secret"), want = hexf(c, x, "out");
        const char *label = strf(c, x, "label");
        if (!c->failed && ok(c, "DeriveSecret", slim_mls_derive_secret(s, secret, label, out)))
            expect(c, "derive_secret", out, s->nh, want);
    }

    x = field(c, e, "derive_tree_secret");
    if (x != NULL) {
        slim_bytes secret = hexf(c, x, "secret"), want = hexf(c, x, "out");
        const char *label = strf(c, x, "label");
        uint64_t gen = numf(c, x, "generation");
        size_t len = (size_t)numf(c, x, "length");
        if (!c->failed && gen <= UINT32_MAX && len <= sizeof out &&
            ok(c, "DeriveTreeSecret",
               slim_mls_derive_tree_secret(s, secret, label, (uint32_t)gen, out, len)))
            expect(c, "derive_tree_secret", out, len, want);
    }

    x = field(c, e, "sign_with_label");
    if (x != NULL) {
        slim_bytes priv = hexf(c, x, "priv"), pub = hexf(c, x, "pub");
        slim_bytes content = hexf(c, x, "content"), sig = hexf(c, x, "signature");
        const char *label = strf(c, x, "label");
        uint8_t pk[SLIM_MLS_MAX_SIG_PUBLIC];
        if (!c->failed && ok(c, "signature public key", slim_mls_signature_public_key(s, priv, pk)))
            expect(c, "signature public key", pk, s->sig_npk, pub);
        if (!c->failed)
            ok(c, "VerifyWithLabel (vector)",
               slim_mls_verify_with_label(s, pub, label, content, sig));
        slim_buf fresh = SLIM_BUF_INIT;
        if (!c->failed &&
            ok(c, "SignWithLabel", slim_mls_sign_with_label(s, priv, label, content, &fresh))) {
            ok(c, "VerifyWithLabel (fresh)",
               slim_mls_verify_with_label(s, pub, label, content, slim_buf_view(&fresh)));
            /* Ed25519 is deterministic: the signature must match exactly. */
            if (s->sig == SLIM_MLS_SIG_ED25519)
                expect_buf(c, "signature", &fresh, sig);
        }
        slim_buf_cleanup(&fresh);
        /* A signature over other content must not verify. */
        if (!c->failed && slim_mls_verify_with_label(s, pub, "other label", content, sig) !=
                              SLIM_E_MLS_BAD_SIGNATURE)
            fail(c, "signature verified under another label");
    }

    x = field(c, e, "encrypt_with_label");
    if (x != NULL) {
        slim_bytes priv = hexf(c, x, "priv"), pub = hexf(c, x, "pub");
        slim_bytes context = hexf(c, x, "context"), pt = hexf(c, x, "plaintext");
        slim_bytes kem_output = hexf(c, x, "kem_output"), ct = hexf(c, x, "ciphertext");
        const char *label = strf(c, x, "label");
        slim_buf got = SLIM_BUF_INIT, kem = SLIM_BUF_INIT, ct2 = SLIM_BUF_INIT;
        if (!c->failed &&
            ok(c, "DecryptWithLabel (vector)",
               slim_mls_decrypt_with_label(s, priv, label, context, kem_output, ct, &got)))
            expect_buf(c, "plaintext", &got, pt);
        uint8_t state = 1;
        slim_mls_rng rng = {counter_fill, &state};
        if (!c->failed &&
            ok(c, "EncryptWithLabel",
               slim_mls_encrypt_with_label(s, pub, label, context, pt, &rng, &kem, &ct2))) {
            got.len = 0;
            if (ok(c, "DecryptWithLabel (fresh)",
                   slim_mls_decrypt_with_label(s, priv, label, context, slim_buf_view(&kem),
                                               slim_buf_view(&ct2), &got)))
                expect_buf(c, "plaintext (fresh)", &got, pt);
        }
        slim_buf_cleanup(&got);
        slim_buf_cleanup(&kem);
        slim_buf_cleanup(&ct2);
    }
}

/* ---- secret-tree ---------------------------------------------------- */

static void run_secret_tree(check *c, json_t *e, char *desc, size_t dlen) {
    const slim_mls_suite *s = suitef(c, e);
    json_t *leaves = field(c, e, "leaves");
    json_t *sd = field(c, e, "sender_data");
    slim_bytes enc_secret = hexf(c, e, "encryption_secret");
    size_t n = leaves != NULL ? json_array_size(leaves) : 0;
    snprintf(desc, dlen, "suite %u, %zu leaves", s ? s->id : 0, n);
    if (c->failed)
        return;

    uint8_t key[SLIM_MLS_MAX_AEAD_KEY], nonce[SLIM_MLS_MAX_AEAD_NONCE];
    slim_bytes sds = hexf(c, sd, "sender_data_secret"), ct = hexf(c, sd, "ciphertext");
    slim_bytes want_key = hexf(c, sd, "key"), want_nonce = hexf(c, sd, "nonce");
    if (!c->failed &&
        ok(c, "sender data key", slim_mls_sender_data_key_nonce(s, NULL, sds, ct, key, nonce))) {
        expect(c, "sender_data key", key, s->nk, want_key);
        expect(c, "sender_data nonce", nonce, s->nn, want_nonce);
    }
    if (c->failed)
        return;

    slim_mls_secret_tree *t = NULL;
    if (!ok(c, "secret tree", slim_mls_secret_tree_new(s, enc_secret, (uint32_t)n, &t)))
        return;
    static const struct {
        slim_mls_ratchet_type type;
        const char *key, *nonce;
    } kinds[] = {
        {SLIM_MLS_RATCHET_HANDSHAKE, "handshake_key", "handshake_nonce"},
        {SLIM_MLS_RATCHET_APPLICATION, "application_key", "application_nonce"},
    };
    for (size_t leaf = 0; leaf < n && !c->failed; leaf++) {
        json_t *points = json_array_get(leaves, leaf);
        size_t i;
        json_t *p;
        json_array_foreach(points, i, p) {
            uint64_t gen = numf(c, p, "generation");
            for (size_t k = 0; k < 2 && !c->failed; k++) {
                slim_bytes wk = hexf(c, p, kinds[k].key), wn = hexf(c, p, kinds[k].nonce);
                if (c->failed)
                    break;
                slim_mls_ratchet_key rk;
                char what[96];
                snprintf(what, sizeof what, "leaf %zu %s generation %llu", leaf, kinds[k].key,
                         (unsigned long long)gen);
                if (ok(c, what,
                       slim_mls_secret_tree_take(t, (uint32_t)leaf, kinds[k].type, (uint32_t)gen,
                                                 &rk))) {
                    expect(c, what, rk.key, rk.key_len, wk);
                    char nwhat[96];
                    snprintf(nwhat, sizeof nwhat, "leaf %zu %s generation %llu", leaf,
                             kinds[k].nonce, (unsigned long long)gen);
                    expect(c, nwhat, rk.nonce, rk.nonce_len, wn);
                    /* Used once: the same generation must now be refused. */
                    if (slim_mls_secret_tree_take(t, (uint32_t)leaf, kinds[k].type, (uint32_t)gen,
                                                  &rk) != SLIM_E_MLS_GENERATION_REUSED)
                        fail(c, "%s: reused generation not refused", what);
                }
                slim_mls_ratchet_key_cleanup(&rk);
            }
        }
    }
    slim_mls_secret_tree_free(t);
}

/* ---- psk_secret ----------------------------------------------------- */

static void run_psk_secret(check *c, json_t *e, char *desc, size_t dlen) {
    const slim_mls_suite *s = suitef(c, e);
    json_t *arr = field(c, e, "psks");
    slim_bytes want = hexf(c, e, "psk_secret");
    size_t n = arr != NULL ? json_array_size(arr) : 0;
    snprintf(desc, dlen, "suite %u, %zu psks", s ? s->id : 0, n);
    if (c->failed)
        return;
    slim_mls_psk psks[64];
    if (n > SLIM_ARRAY_LEN(psks)) {
        fail(c, "too many psks");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(arr, i);
        memset(&psks[i], 0, sizeof psks[i]);
        psks[i].id.psktype = SLIM_MLS_PSK_EXTERNAL;
        psks[i].id.psk_id = hexf(c, x, "psk_id");
        psks[i].id.psk_nonce = hexf(c, x, "psk_nonce");
        psks[i].secret = hexf(c, x, "psk");
    }
    uint8_t out[SLIM_MLS_MAX_HASH];
    if (!c->failed && ok(c, "psk_secret", slim_mls_psk_secret(s, psks, n, out)))
        expect(c, "psk_secret", out, s->nh, want);
}

/* ---- key-schedule --------------------------------------------------- */

static void run_key_schedule(check *c, json_t *e, char *desc, size_t dlen) {
    const slim_mls_suite *s = suitef(c, e);
    json_t *epochs = field(c, e, "epochs");
    slim_bytes group_id = hexf(c, e, "group_id");
    slim_bytes init = hexf(c, e, "initial_init_secret");
    size_t n = epochs != NULL ? json_array_size(epochs) : 0;
    snprintf(desc, dlen, "suite %u, %zu epochs", s ? s->id : 0, n);
    if (c->failed)
        return;
    uint8_t init_secret[SLIM_MLS_MAX_HASH];
    if (init.len != s->nh) {
        fail(c, "initial_init_secret is not Nh bytes");
        return;
    }
    memcpy(init_secret, init.ptr, s->nh);
    for (size_t i = 0; i < n && !c->failed; i++) {
        json_t *x = json_array_get(epochs, i);
        slim_mls_group_context gc = {
            .version = SLIM_MLS_VERSION_MLS10,
            .cipher_suite = s->id,
            .group_id = group_id,
            .epoch = i,
            .tree_hash = hexf(c, x, "tree_hash"),
            .confirmed_transcript_hash = hexf(c, x, "confirmed_transcript_hash"),
        };
        slim_bytes commit = hexf(c, x, "commit_secret"), psk = hexf(c, x, "psk_secret");
        if (c->failed)
            break;
        char what[64];
        slim_buf gcb = SLIM_BUF_INIT;
        snprintf(what, sizeof what, "epoch %zu group_context", i);
        if (ok(c, what, slim_mls_group_context_encode(&gc, &gcb)))
            expect_buf(c, what, &gcb, hexf(c, x, "group_context"));
        slim_mls_group_context back;
        if (!c->failed &&
            ok(c, "group_context decode",
               slim_mls_group_context_decode(slim_buf_view(&gcb), &back)) &&
            (back.epoch != i || back.cipher_suite != s->id))
            fail(c, "group_context decode gave other values");

        slim_mls_epoch_secrets es;
        memset(&es, 0, sizeof es);
        snprintf(what, sizeof what, "epoch %zu key schedule", i);
        if (!c->failed && ok(c, what,
                             slim_mls_key_schedule_epoch(s, slim_bytes_of(init_secret, s->nh),
                                                         commit, psk, slim_buf_view(&gcb), &es))) {
            static const struct {
                const char *name;
                size_t offset;
            } outs[] = {
                {"joiner_secret", offsetof(slim_mls_epoch_secrets, joiner_secret)},
                {"welcome_secret", offsetof(slim_mls_epoch_secrets, welcome_secret)},
                {"init_secret", offsetof(slim_mls_epoch_secrets, init_secret)},
                {"sender_data_secret", offsetof(slim_mls_epoch_secrets, sender_data_secret)},
                {"encryption_secret", offsetof(slim_mls_epoch_secrets, encryption_secret)},
                {"exporter_secret", offsetof(slim_mls_epoch_secrets, exporter_secret)},
                {"epoch_authenticator", offsetof(slim_mls_epoch_secrets, epoch_authenticator)},
                {"external_secret", offsetof(slim_mls_epoch_secrets, external_secret)},
                {"confirmation_key", offsetof(slim_mls_epoch_secrets, confirmation_key)},
                {"membership_key", offsetof(slim_mls_epoch_secrets, membership_key)},
                {"resumption_psk", offsetof(slim_mls_epoch_secrets, resumption_psk)},
            };
            for (size_t k = 0; k < SLIM_ARRAY_LEN(outs); k++) {
                snprintf(what, sizeof what, "epoch %zu %s", i, outs[k].name);
                expect(c, what, (const uint8_t *)&es + outs[k].offset, s->nh,
                       hexf(c, x, outs[k].name));
            }
            /* A joiner gets the same welcome secret and epoch secrets. */
            uint8_t welcome[SLIM_MLS_MAX_HASH];
            slim_bytes joiner = slim_bytes_of(es.joiner_secret, s->nh);
            if (ok(c, "welcome_secret", slim_mls_welcome_secret(s, joiner, psk, welcome)))
                expect(c, "welcome_secret (join)", welcome, s->nh, hexf(c, x, "welcome_secret"));
            slim_mls_epoch_secrets joined;
            if (!c->failed &&
                ok(c, "join",
                   slim_mls_key_schedule_join(s, joiner, psk, slim_buf_view(&gcb), &joined))) {
                if (memcmp(&joined, &es, sizeof es) != 0)
                    fail(c, "epoch %zu: join schedule differs", i);
                slim_mls_epoch_secrets_cleanup(&joined);
            }

            uint8_t sk[SLIM_MLS_MAX_DH_PRIVATE], pk[SLIM_MLS_MAX_DH_PUBLIC];
            snprintf(what, sizeof what, "epoch %zu external_pub", i);
            if (!c->failed && ok(c, what, slim_mls_external_key_pair(&es, sk, pk)))
                expect(c, what, pk, s->kem_npk, hexf(c, x, "external_pub"));

            json_t *ex = field(c, x, "exporter");
            const char *label = ex ? strf(c, ex, "label") : "";
            slim_bytes ctx = ex ? hexf(c, ex, "context") : slim_bytes_of(NULL, 0);
            size_t len = ex ? (size_t)numf(c, ex, "length") : 0;
            uint8_t out[1024];
            snprintf(what, sizeof what, "epoch %zu exporter", i);
            if (!c->failed && len <= sizeof out &&
                ok(c, what, slim_mls_exporter(&es, label, ctx, out, len)))
                expect(c, what, out, len, hexf(c, ex, "secret"));
            memcpy(init_secret, es.init_secret, s->nh);
        }
        slim_mls_epoch_secrets_cleanup(&es);
        slim_buf_cleanup(&gcb);
    }
}

/* ---- transcript-hashes ---------------------------------------------- */

static void run_transcript_hashes(check *c, json_t *e, char *desc, size_t dlen) {
    const slim_mls_suite *s = suitef(c, e);
    snprintf(desc, dlen, "suite %u", s ? s->id : 0);
    slim_bytes key = hexf(c, e, "confirmation_key");
    slim_bytes acb = hexf(c, e, "authenticated_content");
    slim_bytes interim_before = hexf(c, e, "interim_transcript_hash_before");
    slim_bytes want_confirmed = hexf(c, e, "confirmed_transcript_hash_after");
    slim_bytes want_interim = hexf(c, e, "interim_transcript_hash_after");
    if (c->failed)
        return;
    /* Decode the AuthenticatedContent; it must re-encode to its bytes. */
    slim_mls_authenticated_content ac;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, acb);
    slim_mls_authenticated_content_decode(&r, &ac);
    if (!ok(c, "decode AuthenticatedContent", slim_mls_tls_reader_finish(&r)))
        return;
    slim_buf back = SLIM_BUF_INIT, input = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &back);
    slim_mls_authenticated_content_encode(&w, &ac);
    if (ok(c, "encode AuthenticatedContent", slim_mls_tls_writer_status(&w)))
        expect_buf(c, "AuthenticatedContent round trip", &back, acb);
    slim_bytes tag = ac.auth.confirmation_tag;
    uint8_t confirmed[SLIM_MLS_MAX_HASH], interim[SLIM_MLS_MAX_HASH], mac[SLIM_MLS_MAX_HASH];
    if (!c->failed &&
        ok(c, "ConfirmedTranscriptHashInput",
           slim_mls_confirmed_transcript_input_encode(&ac, &input)) &&
        ok(c, "confirmed hash",
           slim_mls_transcript_confirmed(s, interim_before, slim_buf_view(&input), confirmed)))
        expect(c, "confirmed_transcript_hash_after", confirmed, s->nh, want_confirmed);
    if (!c->failed &&
        ok(c, "confirmation tag", slim_mls_confirmation_tag(s, key, want_confirmed, mac)))
        expect(c, "confirmation_tag", mac, s->nh, tag);
    if (!c->failed)
        ok(c, "confirmation tag verify",
           slim_mls_confirmation_tag_verify(s, key, want_confirmed, tag));
    if (!c->failed &&
        ok(c, "interim hash", slim_mls_transcript_interim(s, want_confirmed, tag, interim)))
        expect(c, "interim_transcript_hash_after", interim, s->nh, want_interim);
    slim_buf_cleanup(&back);
    slim_buf_cleanup(&input);
}

/* ---- messages ------------------------------------------------------- */

/* How one field of messages.json is read and written again. */
typedef enum msg_kind {
    K_MLS_MESSAGE,
    K_RATCHET_TREE,
    K_GROUP_SECRETS,
    K_PROPOSAL_BODY,
    K_COMMIT,
} msg_kind;

static const struct {
    const char *field;
    msg_kind kind;
    uint16_t arg;         /* wire format, or proposal type */
    uint8_t content_type; /* for public messages: the content type it carries */
} msg_fields[] = {
    {"mls_welcome", K_MLS_MESSAGE, SLIM_MLS_WIRE_WELCOME, 0},
    {"mls_group_info", K_MLS_MESSAGE, SLIM_MLS_WIRE_GROUP_INFO, 0},
    {"mls_key_package", K_MLS_MESSAGE, SLIM_MLS_WIRE_KEY_PACKAGE, 0},
    {"ratchet_tree", K_RATCHET_TREE, 0, 0},
    {"group_secrets", K_GROUP_SECRETS, 0, 0},
    {"add_proposal", K_PROPOSAL_BODY, SLIM_MLS_PROPOSAL_ADD, 0},
    {"update_proposal", K_PROPOSAL_BODY, SLIM_MLS_PROPOSAL_UPDATE, 0},
    {"remove_proposal", K_PROPOSAL_BODY, SLIM_MLS_PROPOSAL_REMOVE, 0},
    {"pre_shared_key_proposal", K_PROPOSAL_BODY, SLIM_MLS_PROPOSAL_PSK, 0},
    {"re_init_proposal", K_PROPOSAL_BODY, SLIM_MLS_PROPOSAL_REINIT, 0},
    {"external_init_proposal", K_PROPOSAL_BODY, SLIM_MLS_PROPOSAL_EXTERNAL_INIT, 0},
    {"group_context_extensions_proposal", K_PROPOSAL_BODY,
     SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS, 0},
    {"commit", K_COMMIT, 0, 0},
    {"public_message_application", K_MLS_MESSAGE, SLIM_MLS_WIRE_PUBLIC_MESSAGE,
     SLIM_MLS_CONTENT_APPLICATION},
    {"public_message_proposal", K_MLS_MESSAGE, SLIM_MLS_WIRE_PUBLIC_MESSAGE,
     SLIM_MLS_CONTENT_PROPOSAL},
    {"public_message_commit", K_MLS_MESSAGE, SLIM_MLS_WIRE_PUBLIC_MESSAGE, SLIM_MLS_CONTENT_COMMIT},
    {"private_message", K_MLS_MESSAGE, SLIM_MLS_WIRE_PRIVATE_MESSAGE, 0},
};

/* The cipher suite a message names, where it names one (for the line). */
static uint16_t message_suite(const slim_mls_message *m) {
    switch (m->wire_format) {
    case SLIM_MLS_WIRE_WELCOME:
        return m->u.welcome.cipher_suite;
    case SLIM_MLS_WIRE_GROUP_INFO:
        return m->u.group_info.group_context.cipher_suite;
    case SLIM_MLS_WIRE_KEY_PACKAGE:
        return m->u.key_package.cipher_suite;
    }
    return 0;
}

/* Decodes `in` as the field says and writes it again into `out`. */
static slim_status message_round_trip(size_t f, slim_bytes in, slim_buf *out, uint16_t *suite,
                                      char *why, size_t wlen) {
    slim_mls_tls_reader r;
    slim_mls_tls_writer w;
    slim_mls_tls_reader_init(&r, in);
    slim_mls_tls_writer_init(&w, out);
    switch (msg_fields[f].kind) {
    case K_MLS_MESSAGE: {
        slim_mls_message m;
        slim_status st = slim_mls_message_decode(in, &m);
        if (st != SLIM_OK)
            return st;
        if (m.wire_format != msg_fields[f].arg) {
            snprintf(why, wlen, "wire format %u", m.wire_format);
            return SLIM_E_MLS_BAD_VALUE;
        }
        if (msg_fields[f].content_type != 0 &&
            m.u.public_message.content.content_type != msg_fields[f].content_type) {
            snprintf(why, wlen, "content type %u", m.u.public_message.content.content_type);
            return SLIM_E_MLS_BAD_VALUE;
        }
        *suite = message_suite(&m);
        return slim_mls_message_encode(&m, out);
    }
    case K_RATCHET_TREE: {
        slim_mls_vec nodes;
        slim_mls_ratchet_tree_decode(&r, &nodes);
        slim_status st = slim_mls_tls_reader_finish(&r);
        if (st != SLIM_OK)
            return st;
        /* Write it again node by node, not just as the body it came in. */
        slim_mls_tls_reader it;
        slim_mls_tls_reader_init(&it, nodes.body);
        size_t mark = slim_mls_tls_vec_begin(&w);
        bool more = true, present;
        uint32_t n = 0;
        while (more) {
            slim_mls_node node;
            st = slim_mls_ratchet_tree_next(&it, &present, &node, &more);
            if (st != SLIM_OK)
                return st;
            if (more) {
                slim_mls_ratchet_tree_put(&w, present ? &node : NULL);
                n++;
            }
        }
        slim_mls_tls_vec_end(&w, mark);
        if (n != nodes.count) {
            snprintf(why, wlen, "walked %u nodes of %u", n, nodes.count);
            return SLIM_E_MLS_BAD_VALUE;
        }
        return slim_mls_tls_writer_status(&w);
    }
    case K_GROUP_SECRETS: {
        slim_mls_group_secrets gs;
        slim_mls_group_secrets_decode(&r, &gs);
        slim_status st = slim_mls_tls_reader_finish(&r);
        if (st != SLIM_OK)
            return st;
        slim_mls_group_secrets_encode(&w, &gs);
        return slim_mls_tls_writer_status(&w);
    }
    case K_PROPOSAL_BODY: {
        slim_mls_proposal p;
        slim_mls_proposal_body_decode(&r, msg_fields[f].arg, &p);
        slim_status st = slim_mls_tls_reader_finish(&r);
        if (st != SLIM_OK)
            return st;
        slim_mls_proposal_body_encode(&w, &p);
        return slim_mls_tls_writer_status(&w);
    }
    case K_COMMIT: {
        slim_mls_commit cm;
        slim_mls_commit_decode(&r, &cm);
        slim_status st = slim_mls_tls_reader_finish(&r);
        if (st != SLIM_OK)
            return st;
        slim_mls_commit_encode(&w, &cm);
        return slim_mls_tls_writer_status(&w);
    }
    }
    return SLIM_E_INTERNAL;
}

static void run_messages(check *c, json_t *e, char *desc, size_t dlen) {
    uint16_t suite = 0;
    for (size_t f = 0; f < SLIM_ARRAY_LEN(msg_fields) && !c->failed; f++) {
        slim_bytes in = hexf(c, e, msg_fields[f].field);
        if (c->failed)
            break;
        slim_buf out = SLIM_BUF_INIT;
        char why[64] = "";
        uint16_t s = 0;
        slim_status st = message_round_trip(f, in, &out, &s, why, sizeof why);
        if (st != SLIM_OK)
            fail(c, "%s: %s (%s) %s", msg_fields[f].field, slim_status_name(st),
                 slim_status_str(st), why);
        else
            expect_buf(c, msg_fields[f].field, &out, in);
        if (s != 0 && suite == 0)
            suite = s;
        slim_buf_cleanup(&out);
    }
    snprintf(desc, dlen, "suite %u, %zu structures", suite, SLIM_ARRAY_LEN(msg_fields));
}

/* ---- message-protection --------------------------------------------- */

/* The signature key of every member of the 2-leaf test group. */
static slim_status vector_sender_key(void *arg, const slim_mls_framed_content *content,
                                     const slim_mls_sig_key **key) {
    if (content->sender.type != SLIM_MLS_SENDER_MEMBER)
        return SLIM_E_MLS_NO_SENDER_KEY;
    *key = arg;
    return SLIM_OK;
}

/* Compares an unprotected content with the raw value of the vector. */
static void expect_content(check *c, const char *what, const slim_mls_framed_content *fc,
                           uint8_t want_type, slim_bytes want) {
    if (c->failed)
        return;
    if (fc->content_type != want_type) {
        fail(c, "%s: content type %u, want %u", what, fc->content_type, want_type);
        return;
    }
    if (fc->sender.type != SLIM_MLS_SENDER_MEMBER || fc->sender.index != 1) {
        fail(c, "%s: sender %u/%u, want member 1", what, fc->sender.type, fc->sender.index);
        return;
    }
    slim_buf b = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &b);
    if (want_type == SLIM_MLS_CONTENT_APPLICATION)
        slim_mls_tls_put_raw(&w, fc->u.application_data);
    else
        slim_mls_content_body_encode(&w, fc);
    if (ok(c, what, slim_mls_tls_writer_status(&w)))
        expect_buf(c, what, &b, want);
    slim_buf_cleanup(&b);
}

/* Fills fc with the raw vector value as content of `type` from leaf 1. */
static slim_status content_from_raw(const slim_mls_framing_ctx *ctx, uint8_t type, slim_bytes raw,
                                    slim_mls_framed_content *fc) {
    memset(fc, 0, sizeof *fc);
    fc->group_id = ctx->group_id;
    fc->epoch = ctx->epoch;
    fc->sender.type = SLIM_MLS_SENDER_MEMBER;
    fc->sender.index = 1;
    fc->authenticated_data = slim_bytes_of("vector", 6);
    if (type == SLIM_MLS_CONTENT_APPLICATION) {
        fc->content_type = type;
        fc->u.application_data = raw;
        return SLIM_OK;
    }
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, raw);
    slim_mls_content_body_decode(&r, type, fc);
    return slim_mls_tls_reader_finish(&r);
}

static void run_message_protection(check *c, json_t *e, char *desc, size_t dlen) {
    const slim_mls_suite *s = suitef(c, e);
    snprintf(desc, dlen, "suite %u", s ? s->id : 0);
    slim_mls_group_context gc = {
        .version = SLIM_MLS_VERSION_MLS10,
        .cipher_suite = s ? s->id : 0,
        .group_id = hexf(c, e, "group_id"),
        .epoch = numf(c, e, "epoch"),
        .tree_hash = hexf(c, e, "tree_hash"),
        .confirmed_transcript_hash = hexf(c, e, "confirmed_transcript_hash"),
    };
    slim_bytes sig_priv = hexf(c, e, "signature_priv"), sig_pub = hexf(c, e, "signature_pub");
    slim_bytes enc_secret = hexf(c, e, "encryption_secret");
    slim_bytes sds = hexf(c, e, "sender_data_secret");
    slim_bytes mkey = hexf(c, e, "membership_key");
    if (c->failed)
        return;
    static const struct {
        const char *raw, *pub, *priv;
        uint8_t type;
    } cases[] = {
        {"proposal", "proposal_pub", "proposal_priv", SLIM_MLS_CONTENT_PROPOSAL},
        {"commit", "commit_pub", "commit_priv", SLIM_MLS_CONTENT_COMMIT},
        {"application", NULL, "application_priv", SLIM_MLS_CONTENT_APPLICATION},
    };

    slim_buf gcb = SLIM_BUF_INIT, plain = SLIM_BUF_INIT;
    slim_mls_sig_key *pk = NULL, *sk = NULL;
    slim_mls_secret_tree *rcv = NULL, *snd = NULL, *rcv2 = NULL;
    slim_mls_framing_ctx ctx;
    if (!ok(c, "GroupContext", slim_mls_group_context_encode(&gc, &gcb)) ||
        !ok(c, "framing context", slim_mls_framing_init(&ctx, s, slim_buf_view(&gcb))) ||
        !ok(c, "signature public key", slim_mls_sig_key_new(s->sig, sig_pub, false, &pk)) ||
        !ok(c, "signature private key", slim_mls_sig_key_new(s->sig, sig_priv, true, &sk)) ||
        !ok(c, "secret tree", slim_mls_secret_tree_new(s, enc_secret, 2, &rcv)) ||
        !ok(c, "secret tree", slim_mls_secret_tree_new(s, enc_secret, 2, &snd)) ||
        !ok(c, "secret tree", slim_mls_secret_tree_new(s, enc_secret, 2, &rcv2)))
        goto done;
    ctx.n_leaves = 2;
    ctx.membership_key = mkey;
    ctx.sender_data_secret = sds;
    ctx.sender_key = vector_sender_key;
    ctx.sender_key_arg = pk;
    uint8_t state = 3;
    slim_mls_rng rng = {counter_fill, &state};

    for (size_t i = 0; i < SLIM_ARRAY_LEN(cases) && !c->failed; i++) {
        slim_bytes raw = hexf(c, e, cases[i].raw);
        slim_mls_authenticated_content ac;
        char what[80];
        /* The vector's messages. */
        if (cases[i].pub != NULL) {
            slim_bytes msg = hexf(c, e, cases[i].pub);
            snprintf(what, sizeof what, "unprotect %s", cases[i].pub);
            if (!c->failed && ok(c, what, slim_mls_unprotect(&ctx, msg, &plain, &ac)))
                expect_content(c, what, &ac.content, cases[i].type, raw);
        }
        /* Each vector message was made from a fresh secret tree. */
        slim_bytes msg = hexf(c, e, cases[i].priv);
        slim_mls_secret_tree_free(rcv);
        rcv = NULL;
        if (!ok(c, "secret tree", slim_mls_secret_tree_new(s, enc_secret, 2, &rcv)))
            break;
        ctx.secret_tree = rcv;
        snprintf(what, sizeof what, "unprotect %s", cases[i].priv);
        if (!c->failed && ok(c, what, slim_mls_unprotect(&ctx, msg, &plain, &ac)))
            expect_content(c, what, &ac.content, cases[i].type, raw);
        /* The same message again: its key is gone. */
        snprintf(what, sizeof what, "%s a second time", cases[i].priv);
        if (!c->failed &&
            slim_mls_unprotect(&ctx, msg, &plain, &ac) != SLIM_E_MLS_GENERATION_REUSED)
            fail(c, "%s: not refused as a reused generation", what);

        /* Protect the raw value again, both ways, and unprotect it. */
        for (int pub = 0; pub < 2 && !c->failed; pub++) {
            uint16_t wf = pub ? SLIM_MLS_WIRE_PUBLIC_MESSAGE : SLIM_MLS_WIRE_PRIVATE_MESSAGE;
            slim_mls_authenticated_content mine;
            memset(&mine, 0, sizeof mine);
            mine.wire_format = wf;
            slim_buf sig = SLIM_BUF_INIT, out = SLIM_BUF_INIT;
            uint8_t tag[SLIM_MLS_MAX_HASH];
            memset(tag, 0x5a, sizeof tag);
            snprintf(what, sizeof what, "protect %s as %s", cases[i].raw,
                     pub ? "PublicMessage" : "PrivateMessage");
            if (ok(c, what, content_from_raw(&ctx, cases[i].type, raw, &mine.content)) &&
                ok(c, what, slim_mls_content_sign(&ctx, wf, &mine.content, sk, &sig))) {
                mine.auth.signature = slim_buf_view(&sig);
                mine.auth.confirmation_tag = slim_bytes_of(tag, s->nh);
                ctx.secret_tree = snd;
                slim_status st = pub ? slim_mls_public_message_protect(&ctx, &mine, &out)
                                     : slim_mls_private_message_protect(&ctx, &mine, &rng, &out);
                if (pub && cases[i].type == SLIM_MLS_CONTENT_APPLICATION) {
                    /* Application data may not go out as a PublicMessage. */
                    if (st != SLIM_E_MLS_APPLICATION_IN_PUBLIC)
                        fail(c, "%s: %s, want E_MLS_APPLICATION_IN_PUBLIC", what,
                             slim_status_name(st));
                } else if (ok(c, what, st)) {
                    ctx.secret_tree = rcv2;
                    snprintf(what, sizeof what, "unprotect own %s %s", cases[i].raw,
                             pub ? "PublicMessage" : "PrivateMessage");
                    if (ok(c, what, slim_mls_unprotect(&ctx, slim_buf_view(&out), &plain, &ac)))
                        expect_content(c, what, &ac.content, cases[i].type, raw);
                }
            }
            slim_buf_cleanup(&sig);
            slim_buf_cleanup(&out);
        }
    }
done:
    slim_mls_secret_tree_free(rcv);
    slim_mls_secret_tree_free(snd);
    slim_mls_secret_tree_free(rcv2);
    slim_mls_sig_key_free(pk);
    slim_mls_sig_key_free(sk);
    slim_buf_cleanup_secret(&plain);
    slim_buf_cleanup(&gcb);
}

/* ---- ratchet trees: tree-validation, tree-operations, treekem -------- */

/* Accepts every credential: the vectors carry basic credentials of
 * arbitrary identities. */
static slim_status accept_credential(void *arg, const slim_mls_credential *cred,
                                     slim_bytes signature_key) {
    (void)arg;
    (void)cred;
    (void)signature_key;
    return SLIM_OK;
}

/* A decoded tree, or NULL after a failure. */
static slim_mls_tree *tree_of(check *c, const slim_mls_suite *s, slim_bytes enc, const char *what) {
    slim_mls_tree *t = NULL;
    char w[96];
    snprintf(w, sizeof w, "decode %s", what);
    if (!ok(c, w, slim_mls_tree_decode(s, enc, &t)))
        return NULL;
    return t;
}

/* Compares the tree's encoding with `want` and its root hash with
 * `want_hash` (skipped when empty). */
static void expect_tree(check *c, slim_mls_tree *t, const char *what, slim_bytes want,
                        slim_bytes want_hash) {
    slim_buf b = SLIM_BUF_INIT;
    char w[96];
    snprintf(w, sizeof w, "encode %s", what);
    if (want.ptr != NULL && ok(c, w, slim_mls_tree_encode(t, &b)))
        expect_buf(c, w, &b, want);
    uint8_t h[SLIM_MLS_MAX_HASH];
    snprintf(w, sizeof w, "tree hash %s", what);
    if (want_hash.ptr != NULL && ok(c, w, slim_mls_tree_hash(t, h)))
        expect(c, w, h, slim_mls_tree_suite(t)->nh, want_hash);
    slim_buf_cleanup(&b);
}

static slim_mls_validation permissive(const slim_mls_suite *s, slim_bytes group_id) {
    slim_mls_validation v;
    memset(&v, 0, sizeof v);
    v.suite = s;
    v.group_id = group_id;
    v.credential = accept_credential;
    return v;
}

static void run_tree_validation(check *c, json_t *e, char *desc, size_t dlen) {
    const slim_mls_suite *s = suitef(c, e);
    slim_bytes enc = hexf(c, e, "tree"), gid = hexf(c, e, "group_id");
    json_t *res = field(c, e, "resolutions"), *hashes = field(c, e, "tree_hashes");
    if (c->failed)
        return;
    slim_mls_tree *t = tree_of(c, s, enc, "tree");
    if (t == NULL)
        return;
    uint32_t w = slim_mls_tree_node_count(t);
    snprintf(desc, dlen, "suite %u, %u leaves, %u members", s->id, slim_mls_tree_leaf_count(t),
             slim_mls_tree_member_count(t));
    if (json_array_size(res) != w || json_array_size(hashes) != w)
        fail(c, "resolutions/tree_hashes have %zu/%zu entries, the tree %u nodes",
             json_array_size(res), json_array_size(hashes), w);
    slim_mls_index_list got = SLIM_MLS_INDEX_LIST_INIT;
    for (uint32_t x = 0; x < w && !c->failed; x++) {
        json_t *want = json_array_get(res, x);
        if (!ok(c, "resolution", slim_mls_tree_resolution(t, x, NULL, 0, &got)))
            break;
        bool same = json_array_size(want) == got.len;
        for (size_t i = 0; same && i < got.len; i++)
            same = json_integer_value(json_array_get(want, i)) == (json_int_t)got.v[i];
        if (!same)
            fail(c, "resolution of node %u differs (%zu entries, want %zu)", x, got.len,
                 json_array_size(want));
        uint8_t h[SLIM_MLS_MAX_HASH];
        char what[64];
        snprintf(what, sizeof what, "tree hash of node %u", x);
        slim_bytes hw = hexv(c, json_array_get(hashes, x), "tree_hashes[]");
        if (ok(c, what, slim_mls_tree_node_hash(t, x, h)))
            expect(c, what, h, s->nh, hw);
    }
    slim_mls_index_list_cleanup(&got);
    uint32_t bad = 0;
    slim_status st = slim_mls_tree_verify_parent_hashes(t, &bad);
    if (st != SLIM_OK && !c->failed)
        fail(c, "parent hashes: %s at node %u", slim_status_name(st), bad);
    for (uint32_t l = 0; l < slim_mls_tree_leaf_count(t) && !c->failed; l++) {
        const slim_mls_leaf_node *ln = slim_mls_tree_leaf(t, l);
        char what[64];
        snprintf(what, sizeof what, "signature of leaf %u", l);
        if (ln != NULL)
            ok(c, what, slim_mls_leaf_node_verify(s, ln, gid, l));
    }
    /* The whole of the joiner's validation accepts the tree, and the
     * tree re-encodes to the bytes it came from. */
    slim_mls_validation v = permissive(s, gid);
    uint8_t root[SLIM_MLS_MAX_HASH];
    if (!c->failed && ok(c, "root hash", slim_mls_tree_hash(t, root)))
        ok(c, "tree validation", slim_mls_tree_validate(t, &v, slim_bytes_of(root, s->nh)));
    if (!c->failed)
        expect_tree(c, t, "tree", enc, slim_bytes_of(NULL, 0));
    slim_mls_tree_free(t);
}

static void run_tree_operations(check *c, json_t *e, char *desc, size_t dlen) {
    const slim_mls_suite *s = suitef(c, e);
    slim_bytes before = hexf(c, e, "tree_before"), after = hexf(c, e, "tree_after");
    slim_bytes hb = hexf(c, e, "tree_hash_before"), ha = hexf(c, e, "tree_hash_after");
    slim_bytes prop = hexf(c, e, "proposal");
    uint32_t sender = (uint32_t)numf(c, e, "proposal_sender");
    if (c->failed)
        return;
    slim_mls_proposal p;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, prop);
    slim_mls_proposal_decode(&r, &p);
    if (!ok(c, "decode proposal", slim_mls_tls_reader_finish(&r)))
        return;
    snprintf(desc, dlen, "suite %u, proposal type %u from %u", s->id, p.type, sender);
    slim_mls_tree *t = tree_of(c, s, before, "tree_before");
    if (t == NULL)
        return;
    expect_tree(c, t, "before", before, hb);
    switch (c->failed ? 0 : p.type) {
    case 0:
        break;
    case SLIM_MLS_PROPOSAL_ADD:
        ok(c, "add", slim_mls_tree_add(t, &p.u.add.leaf_node, NULL));
        break;
    case SLIM_MLS_PROPOSAL_UPDATE:
        ok(c, "update", slim_mls_tree_update(t, sender, &p.u.update));
        break;
    case SLIM_MLS_PROPOSAL_REMOVE:
        ok(c, "remove", slim_mls_tree_remove(t, p.u.remove));
        break;
    default:
        fail(c, "proposal type %u is not a tree operation", p.type);
    }
    if (!c->failed)
        expect_tree(c, t, "after", after, ha);
    slim_mls_tree_free(t);
}

/* The treekem vector's GroupContext with the given tree hash. */
static slim_status treekem_context(const slim_mls_suite *s, json_t *e, check *c, slim_mls_tree *t,
                                   slim_buf *out) {
    slim_mls_group_context gc;
    memset(&gc, 0, sizeof gc);
    uint8_t th[SLIM_MLS_MAX_HASH];
    gc.version = SLIM_MLS_VERSION_MLS10;
    gc.cipher_suite = s->id;
    gc.group_id = hexf(c, e, "group_id");
    gc.epoch = numf(c, e, "epoch");
    gc.confirmed_transcript_hash = hexf(c, e, "confirmed_transcript_hash");
    slim_status st = slim_mls_tree_hash(t, th);
    gc.tree_hash = slim_bytes_of(th, s->nh);
    out->len = 0;
    return st == SLIM_OK ? slim_mls_group_context_encode(&gc, out) : st;
}

typedef struct treekem_member {
    bool present;
    slim_mls_tree_priv priv;
    slim_bytes sig_priv;
} treekem_member;

/* The private states of leaves_private, checked against the tree. */
static treekem_member *treekem_members(check *c, json_t *e, slim_mls_tree *t) {
    uint32_t n = slim_mls_tree_leaf_count(t);
    treekem_member *m = calloc(n, sizeof *m);
    json_t *lp = field(c, e, "leaves_private");
    size_t i;
    json_t *x;
    if (m == NULL || lp == NULL)
        return m;
    json_array_foreach(lp, i, x) {
        uint32_t leaf = (uint32_t)numf(c, x, "index");
        slim_bytes enc = hexf(c, x, "encryption_priv");
        slim_bytes sig = hexf(c, x, "signature_priv");
        json_t *ps = field(c, x, "path_secrets");
        if (c->failed || leaf >= n ||
            !ok(c, "private state", slim_mls_tree_priv_init(&m[leaf].priv, t, leaf, enc))) {
            fail(c, "leaves_private[%zu] unusable", i);
            break;
        }
        m[leaf].present = true;
        m[leaf].sig_priv = sig;
        size_t j;
        json_t *y;
        json_array_foreach(ps, j, y) {
            uint32_t node = (uint32_t)numf(c, y, "node");
            slim_bytes secret = hexf(c, y, "path_secret");
            char what[64];
            snprintf(what, sizeof what, "leaf %u path secret of node %u", leaf, node);
            if (c->failed ||
                !ok(c, what, slim_mls_tree_priv_set_node_secret(&m[leaf].priv, t, node, secret)))
                break;
        }
        char what[64];
        snprintf(what, sizeof what, "leaf %u private state", leaf);
        if (!c->failed)
            ok(c, what, slim_mls_tree_priv_check(&m[leaf].priv, t));
    }
    return m;
}

/* Processes `path` from `sender` with every member's private state:
 * each gets want_secrets[j] (when given) and the commit secret
 * `want_commit`. `tree` is the tree before the path. */
static void treekem_process(check *c, const slim_mls_suite *s, json_t *e, slim_mls_tree *tree,
                            const treekem_member *m, uint32_t sender, slim_bytes path_bytes,
                            json_t *want_secrets, slim_bytes want_commit, slim_bytes want_hash,
                            const char *label) {
    slim_mls_update_path path;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, path_bytes);
    slim_mls_update_path_decode(&r, &path);
    char what[96];
    snprintf(what, sizeof what, "%s: decode", label);
    if (!ok(c, what, slim_mls_tls_reader_finish(&r)))
        return;
    slim_mls_tree *t = NULL;
    if (!ok(c, "clone", slim_mls_tree_clone(tree, &t)))
        return;
    slim_mls_validation v = permissive(s, hexf(c, e, "group_id"));
    snprintf(what, sizeof what, "%s: merge", label);
    slim_buf ctx = SLIM_BUF_INIT;
    if (ok(c, what, slim_mls_treekem_path_merge(t, &v, sender, &path, NULL, 0)) &&
        ok(c, "group context", treekem_context(s, e, c, t, &ctx)))
        expect_tree(c, t, label, slim_bytes_of(NULL, 0), want_hash);
    for (uint32_t j = 0; j < slim_mls_tree_leaf_count(t) && !c->failed; j++) {
        if (j == sender || slim_mls_tree_leaf(t, j) == NULL)
            continue;
        if (!m[j].present) {
            fail(c, "%s: no private state for member %u", label, j);
            break;
        }
        slim_mls_tree_priv p = m[j].priv;
        uint8_t commit[SLIM_MLS_MAX_HASH], secret[SLIM_MLS_MAX_HASH];
        snprintf(what, sizeof what, "%s: member %u decrypts", label, j);
        if (ok(c, what,
               slim_mls_treekem_path_decrypt(t, sender, &path, slim_buf_view(&ctx), NULL, 0, &p,
                                             commit, secret))) {
            snprintf(what, sizeof what, "%s: commit secret of member %u", label, j);
            expect(c, what, commit, s->nh, want_commit);
            json_t *ws = want_secrets != NULL ? json_array_get(want_secrets, j) : NULL;
            if (ws != NULL) {
                slim_bytes w = hexv(c, ws, "path_secrets[]");
                snprintf(what, sizeof what, "%s: path secret of member %u", label, j);
                expect(c, what, secret, s->nh, w);
            }
            snprintf(what, sizeof what, "%s: member %u state after", label, j);
            if (!c->failed)
                ok(c, what, slim_mls_tree_priv_check(&p, t));
        }
        slim_mls_tree_priv_cleanup(&p);
    }
    slim_buf_cleanup(&ctx);
    slim_mls_tree_free(t);
}

/* Creates a new UpdatePath from `sender` with its leaf's parameters and
 * checks that every other member reaches its commit secret. */
static void treekem_create(check *c, const slim_mls_suite *s, json_t *e, slim_mls_tree *tree,
                           const treekem_member *m, uint32_t sender) {
    const slim_mls_leaf_node *old = slim_mls_tree_leaf(tree, sender);
    if (old == NULL || !m[sender].present) {
        fail(c, "no leaf or private state for sender %u", sender);
        return;
    }
    slim_mls_sig_key *signer = NULL;
    if (!ok(c, "signature key", slim_mls_sig_key_new(s->sig, m[sender].sig_priv, true, &signer)))
        return;
    slim_mls_leaf_params p = {.credential = old->credential,
                              .signature_key = old->signature_key,
                              .signer = signer,
                              .capabilities = &old->capabilities,
                              .extensions = old->extensions};
    slim_mls_tree *t = NULL;
    slim_mls_path *path = NULL;
    slim_buf ctx = SLIM_BUF_INIT, up = SLIM_BUF_INIT;
    uint8_t counter = 1;
    slim_mls_rng rng = {counter_fill, &counter};
    if (ok(c, "clone", slim_mls_tree_clone(tree, &t)) &&
        ok(c, "path begin",
           slim_mls_treekem_path_begin(t, sender, &p, hexf(c, e, "group_id"), &rng, &path)) &&
        ok(c, "group context", treekem_context(s, e, c, t, &ctx)) &&
        ok(c, "path seal",
           slim_mls_treekem_path_seal(t, path, slim_buf_view(&ctx), NULL, 0, &rng, &up))) {
        uint8_t commit[SLIM_MLS_MAX_HASH], th[SLIM_MLS_MAX_HASH];
        slim_mls_path_commit_secret(path, commit);
        if (ok(c, "new tree hash", slim_mls_tree_hash(t, th)))
            treekem_process(c, s, e, tree, m, sender, slim_buf_view(&up), NULL,
                            slim_bytes_of(commit, s->nh), slim_bytes_of(th, s->nh), "new path");
    }
    slim_mls_path_free(path);
    slim_mls_tree_free(t);
    slim_buf_cleanup(&ctx);
    slim_buf_cleanup(&up);
    slim_mls_sig_key_free(signer);
}

static void run_treekem(check *c, json_t *e, char *desc, size_t dlen) {
    const slim_mls_suite *s = suitef(c, e);
    slim_bytes enc = hexf(c, e, "ratchet_tree");
    json_t *ups = field(c, e, "update_paths");
    if (c->failed)
        return;
    slim_mls_tree *t = tree_of(c, s, enc, "ratchet_tree");
    if (t == NULL)
        return;
    snprintf(desc, dlen, "suite %u, %u leaves, %u members, %zu paths", s->id,
             slim_mls_tree_leaf_count(t), slim_mls_tree_member_count(t), json_array_size(ups));
    ok(c, "parent hashes", slim_mls_tree_verify_parent_hashes(t, NULL));
    treekem_member *m = treekem_members(c, e, t);
    size_t i;
    json_t *u;
    json_array_foreach(ups, i, u) {
        if (c->failed || m == NULL)
            break;
        uint32_t sender = (uint32_t)numf(c, u, "sender");
        slim_bytes path = hexf(c, u, "update_path"), commit = hexf(c, u, "commit_secret");
        slim_bytes th = hexf(c, u, "tree_hash_after");
        char label[48];
        snprintf(label, sizeof label, "update_paths[%zu] from %u", i, sender);
        if (!c->failed)
            treekem_process(c, s, e, t, m, sender, path, field(c, u, "path_secrets"), commit, th,
                            label);
        if (!c->failed)
            treekem_create(c, s, e, t, m, sender);
    }
    for (uint32_t l = 0; m != NULL && l < slim_mls_tree_leaf_count(t); l++)
        slim_mls_tree_priv_cleanup(&m[l].priv);
    free(m);
    slim_mls_tree_free(t);
}

/* ---- welcome -------------------------------------------------------- */

/* The steps of welcome.json (§12.4.3.1): the secrets found by the
 * KeyPackageRef and decrypted with init_priv, the GroupInfo decrypted
 * with the welcome key, the key schedule from the joiner secret and the
 * confirmation tag (slim_mls_welcome_open), then the GroupInfo signature
 * with signer_pub (the file has no tree to take the key from). */
static void run_welcome(check *c, json_t *e, char *desc, size_t dlen) {
    const slim_mls_suite *s = suitef(c, e);
    slim_bytes init_priv = hexf(c, e, "init_priv"), kp = hexf(c, e, "key_package");
    slim_bytes signer = hexf(c, e, "signer_pub"), welcome = hexf(c, e, "welcome");
    if (c->failed)
        return;
    snprintf(desc, dlen, "suite %u", s->id);
    slim_mls_message m;
    if (!ok(c, "decode key_package", slim_mls_message_decode(kp, &m)))
        return;
    if (m.wire_format != SLIM_MLS_WIRE_KEY_PACKAGE) {
        fail(c, "key_package is not an MLSMessage(KeyPackage)");
        return;
    }
    slim_mls_welcome_info w;
    if (!ok(c, "open the Welcome",
            slim_mls_welcome_open(s, welcome, kp, init_priv, NULL, NULL, &w)))
        return;
    ok(c, "GroupInfo signature", slim_mls_group_info_verify(s, &w.group_info, signer));
    slim_mls_welcome_info_cleanup(&w);
}

/* ---- passive-client ------------------------------------------------- */

/* pub(priv) of the suite's KEM equals `want`. */
static void expect_kem_pub(check *c, const slim_mls_suite *s, const char *what, slim_bytes priv,
                           slim_bytes want) {
    uint8_t pk[SLIM_MLS_MAX_DH_PUBLIC];
    if (priv.len != s->kem_nsk) {
        fail(c, "%s has %zu bytes, not %zu", what, priv.len, s->kem_nsk);
        return;
    }
    if (ok(c, what, slim_mls_hpke_public_key(s->hpke.kem_id, priv, pk)))
        expect(c, what, pk, s->kem_npk, want);
}

/* A client made from the joiner's KeyPackage leaf and signature key. */
static slim_mls_client *passive_client(check *c, const slim_mls_suite *s,
                                       const slim_mls_key_package *kp, slim_bytes sig_priv) {
    slim_buf caps = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &caps);
    slim_mls_capabilities_encode(&w, &kp->leaf_node.capabilities);
    slim_mls_client_params p;
    memset(&p, 0, sizeof p);
    p.suite = s->id;
    p.signature_priv = sig_priv;
    p.credential = kp->leaf_node.credential;
    p.capabilities = slim_buf_view(&caps);
    p.leaf_extensions = kp->leaf_node.extensions;
    p.lifetime = kp->leaf_node.lifetime;
    p.credential_check = accept_credential;
    slim_mls_client *cl = NULL;
    if (ok(c, "encode capabilities", slim_mls_tls_writer_status(&w)))
        ok(c, "client from signature_priv", slim_mls_client_new(&p, &cl));
    slim_buf_cleanup(&caps);
    return cl;
}

/* The external_psks of an entry as a table (freed by the caller). */
static slim_mls_external_psk *passive_psks(check *c, json_t *e, size_t *n) {
    json_t *arr = field(c, e, "external_psks");
    *n = 0;
    if (arr == NULL)
        return NULL;
    if (!json_is_array(arr)) {
        fail(c, "external_psks is not an array");
        return NULL;
    }
    slim_mls_external_psk *t = calloc(json_array_size(arr) + 1, sizeof *t);
    if (t == NULL) {
        fail(c, "out of memory");
        return NULL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        t[i].id = hexf(c, v, "psk_id");
        t[i].secret = hexf(c, v, "psk");
    }
    *n = json_array_size(arr);
    return t;
}

/* Applies one epoch: its proposals received, then its commit; *g is
 * replaced by the new state. */
static void passive_epoch(check *c, json_t *ep, size_t k, slim_mls_group **g,
                          const slim_mls_env *env) {
    char what[96];
    json_t *props = field(c, ep, "proposals");
    slim_bytes commit = hexf(c, ep, "commit"), want = hexf(c, ep, "epoch_authenticator");
    if (c->failed)
        return;
    if (!json_is_array(props)) {
        fail(c, "epochs[%zu].proposals is not an array", k);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(props, i, v) {
        slim_bytes msg = hexv(c, v, "proposals[]");
        slim_mls_received r;
        snprintf(what, sizeof what, "epochs[%zu].proposals[%zu]", k, i);
        if (c->failed || !ok(c, what, slim_mls_group_receive(*g, msg, env, &r)))
            return;
        if (r.content_type != SLIM_MLS_CONTENT_PROPOSAL)
            fail(c, "%s is not a proposal", what);
        slim_mls_received_cleanup(&r);
    }
    slim_mls_received r;
    snprintf(what, sizeof what, "epochs[%zu].commit", k);
    if (!ok(c, what, slim_mls_group_receive(*g, commit, env, &r)))
        return;
    if (r.group == NULL) {
        fail(c, "%s: no new state (%s)", what, r.removed ? "removed" : "not a commit");
    } else {
        slim_mls_group_free(*g);
        *g = r.group;
        r.group = NULL;
        snprintf(what, sizeof what, "epochs[%zu].epoch_authenticator", k);
        slim_bytes ea = slim_mls_group_epoch_authenticator(*g);
        expect(c, what, ea.ptr, ea.len, want);
    }
    slim_mls_received_cleanup(&r);
}

/*
 * The mlswg passive-client scenario: the private keys match the
 * KeyPackage, the client joins from the Welcome (tree from the Welcome or
 * `ratchet_tree`, PSKs from external_psks), its epoch authenticator is
 * the initial one, and after each epoch's commit (with the proposals it
 * references received first) the epoch authenticator is the epoch's.
 * Lifetimes of received leaves are not checked (RECOMMENDED only, and the
 * files are replayed long after they were made).
 */
static void run_passive_client(check *c, json_t *e, char *desc, size_t dlen) {
    const slim_mls_suite *s = suitef(c, e);
    slim_bytes kpm = hexf(c, e, "key_package"), sig_priv = hexf(c, e, "signature_priv");
    slim_bytes enc_priv = hexf(c, e, "encryption_priv"), init_priv = hexf(c, e, "init_priv");
    slim_bytes welcome = hexf(c, e, "welcome");
    slim_bytes initial = hexf(c, e, "initial_epoch_authenticator");
    json_t *tree = field(c, e, "ratchet_tree"), *epochs = field(c, e, "epochs");
    if (c->failed)
        return;
    if (!json_is_array(epochs)) {
        fail(c, "epochs is not an array");
        return;
    }
    slim_bytes tree_bytes =
        json_is_null(tree) ? slim_bytes_of(NULL, 0) : hexv(c, tree, "ratchet_tree");
    snprintf(desc, dlen, "suite %u, tree %s, %zu epochs", s->id,
             json_is_null(tree) ? "in the Welcome" : "given", json_array_size(epochs));
    size_t n_psks = 0;
    slim_mls_external_psk *psks = passive_psks(c, e, &n_psks);
    slim_mls_message m;
    if (c->failed || !ok(c, "decode key_package", slim_mls_message_decode(kpm, &m))) {
        free(psks);
        return;
    }
    if (m.wire_format != SLIM_MLS_WIRE_KEY_PACKAGE)
        fail(c, "key_package is not an MLSMessage(KeyPackage)");
    const slim_mls_key_package *kp = &m.u.key_package;
    uint8_t pk[SLIM_MLS_MAX_SIG_PUBLIC];
    if (!c->failed && sig_priv.len != s->sig_nsk)
        fail(c, "signature_priv has %zu bytes, not %zu", sig_priv.len, s->sig_nsk);
    if (!c->failed && ok(c, "signature_priv", slim_mls_signature_public_key(s, sig_priv, pk)))
        expect(c, "signature key of signature_priv", pk, s->sig_npk, kp->leaf_node.signature_key);
    expect_kem_pub(c, s, "encryption key of encryption_priv", enc_priv,
                   kp->leaf_node.encryption_key);
    expect_kem_pub(c, s, "init key of init_priv", init_priv, kp->init_key);
    slim_mls_client *cl = c->failed ? NULL : passive_client(c, s, kp, sig_priv);
    slim_mls_key_package_keys keys;
    memset(&keys, 0, sizeof keys);
    keys.len = s->kem_nsk;
    if (!c->failed) {
        memcpy(keys.init_priv, init_priv.ptr, s->kem_nsk);
        memcpy(keys.encryption_priv, enc_priv.ptr, s->kem_nsk);
    }
    slim_mls_group_options opts;
    memset(&opts, 0, sizeof opts);
    opts.max_resumption_psks = UINT32_MAX; /* resumption PSKs may name any earlier epoch */
    slim_mls_env env;
    memset(&env, 0, sizeof env);
    env.now = (uint64_t)time(NULL);
    env.psks = psks;
    env.n_psks = n_psks;
    slim_mls_join_params jp;
    memset(&jp, 0, sizeof jp);
    jp.client = cl;
    jp.key_package = kpm;
    jp.keys = &keys;
    jp.ratchet_tree = tree_bytes;
    jp.opts = &opts;
    slim_mls_group *g = NULL;
    if (!c->failed && ok(c, "join from the Welcome", slim_mls_group_join(&jp, welcome, &env, &g))) {
        slim_bytes ea = slim_mls_group_epoch_authenticator(g);
        expect(c, "initial_epoch_authenticator", ea.ptr, ea.len, initial);
    }
    size_t k;
    json_t *ep;
    json_array_foreach(epochs, k, ep) {
        if (c->failed)
            break;
        passive_epoch(c, ep, k, &g, &env);
    }
    slim_mls_group_free(g);
    slim_mls_client_free(cl);
    slim_mls_key_package_keys_cleanup(&keys);
    free(psks);
}

/* ---- main ----------------------------------------------------------- */

typedef void (*run_fn)(check *, json_t *, char *, size_t);

static const struct {
    const char *kind;
    run_fn fn;
} kinds[] = {
    {"hpke", run_hpke},
    {"tree-math", run_tree_math},
    {"crypto-basics", run_crypto_basics},
    {"secret-tree", run_secret_tree},
    {"key-schedule", run_key_schedule},
    {"psk_secret", run_psk_secret},
    {"transcript-hashes", run_transcript_hashes},
    {"deserialization", run_deserialization},
    {"messages", run_messages},
    {"message-protection", run_message_protection},
    {"tree-validation", run_tree_validation},
    {"tree-operations", run_tree_operations},
    {"treekem", run_treekem},
    {"welcome", run_welcome},
    {"passive-client", run_passive_client},
};

static int usage(void) {
    fprintf(stderr, "usage: mls_vectors <kind> <file.json>\nkinds:");
    for (size_t i = 0; i < SLIM_ARRAY_LEN(kinds); i++)
        fprintf(stderr, " %s", kinds[i].kind);
    fprintf(stderr, "\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc != 3)
        return usage();
    run_fn fn = NULL;
    for (size_t i = 0; i < SLIM_ARRAY_LEN(kinds); i++) {
        if (strcmp(argv[1], kinds[i].kind) == 0)
            fn = kinds[i].fn;
    }
    if (fn == NULL)
        return usage();
    const char *path = argv[2];
    struct stat sb;
    if (stat(path, &sb) != 0) {
        const char *ci = getenv("CI");
        if (ci != NULL && strcmp(ci, "true") == 0) {
            printf("FAIL: vector file %s not found, and CI=true requires the vectors\n", path);
            return 1;
        }
        printf("SKIP: vector file %s not found (set SLIM_TESTVECTORS_DIR to the folder holding "
               "mls/ and hpke/)\n",
               path);
        return SKIP_CODE;
    }
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL || !json_is_array(root)) {
        printf("FAIL: %s: %s\n", path, root == NULL ? jerr.text : "top level is not an array");
        json_decref(root);
        return 1;
    }
    size_t passed = 0, failed = 0;
    size_t i;
    json_t *entry;
    json_array_foreach(root, i, entry) {
        check c;
        memset(&c, 0, sizeof c);
        char desc[160] = "";
        fn(&c, entry, desc, sizeof desc);
        if (c.failed) {
            failed++;
            printf("FAIL %s[%zu] %s: %s\n", argv[1], i, desc, c.why);
        } else {
            passed++;
            printf("ok   %s[%zu] %s\n", argv[1], i, desc);
        }
        check_free(&c);
    }
    json_decref(root);
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
