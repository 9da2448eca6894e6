/* Unit tests for src/mls/hpke: every mode with every KEM and AEAD, input
 * validation, context roles and limits, injected randomness. The RFC 9180
 * known-answer vectors run in tests/vectors. */
#include "mls/hpke.h"
#include "mls_test_util.h"

static const uint16_t kems[] = {SLIM_MLS_HPKE_KEM_X25519_SHA256, SLIM_MLS_HPKE_KEM_P256_SHA256};
static const uint16_t aeads[] = {SLIM_MLS_HPKE_AEAD_AES128GCM, SLIM_MLS_HPKE_AEAD_CHACHA20,
                                 SLIM_MLS_HPKE_AEAD_EXPORT_ONLY};

typedef struct keys {
    uint8_t sk_r[32], pk_r[65], sk_s[32], pk_s[65];
    slim_bytes skr, pkr, sks, pks;
} keys;

static void make_keys(uint16_t kem, keys *k) {
    size_t nsk = slim_mls_hpke_kem_nsk(kem), npk = slim_mls_hpke_kem_npk(kem);
    CHECK_OK(
        slim_mls_hpke_derive_key_pair(kem, slim_bytes_of("recipient ikm", 13), k->sk_r, k->pk_r));
    CHECK_OK(slim_mls_hpke_derive_key_pair(kem, slim_bytes_of("sender ikm", 10), k->sk_s, k->pk_s));
    k->skr = slim_bytes_of(k->sk_r, nsk);
    k->pkr = slim_bytes_of(k->pk_r, npk);
    k->sks = slim_bytes_of(k->sk_s, nsk);
    k->pks = slim_bytes_of(k->pk_s, npk);
}

TEST(all_modes_round_trip) {
    for (size_t a = 0; a < SLIM_ARRAY_LEN(kems); a++) {
        keys k;
        make_keys(kems[a], &k);
        for (size_t b = 0; b < SLIM_ARRAY_LEN(aeads); b++) {
            slim_mls_hpke_suite suite = {kems[a], SLIM_MLS_HPKE_KDF_HKDF_SHA256, aeads[b]};
            CHECK_OK(slim_mls_hpke_suite_check(suite));
            for (int mode = 0; mode <= 3; mode++) {
                bool psk = mode == 1 || mode == 3, auth = mode >= 2;
                uint32_t state = (uint32_t)(a * 100 + b * 10 + (size_t)mode);
                slim_mls_rng rng = {counting_fill, &state};
                slim_mls_hpke_setup in = {.mode = (slim_mls_hpke_mode)mode,
                                          .info = slim_bytes_of("info", 4),
                                          .rng = &rng};
                if (psk) {
                    in.psk = slim_bytes_of("0123456789abcdef0123456789abcdef", 32);
                    in.psk_id = slim_bytes_of("psk id", 6);
                }
                if (auth)
                    in.sk_s = k.sks;
                uint8_t enc[65];
                slim_mls_hpke_ctx s, r;
                CHECK_OK(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc, &s));
                in.sk_s = slim_bytes_of(NULL, 0);
                if (auth)
                    in.pk_s = k.pks;
                slim_bytes encv = slim_bytes_of(enc, slim_mls_hpke_kem_nenc(kems[a]));
                CHECK_OK(slim_mls_hpke_setup_receiver(suite, encv, k.skr, &in, &r));
                uint8_t e1[32], e2[32];
                CHECK_OK(slim_mls_hpke_export(&s, slim_bytes_of("ctx", 3), e1, 32));
                CHECK_OK(slim_mls_hpke_export(&r, slim_bytes_of("ctx", 3), e2, 32));
                CHECK_MEM(e1, e2, 32);
                slim_buf ct = SLIM_BUF_INIT, pt = SLIM_BUF_INIT;
                if (aeads[b] == SLIM_MLS_HPKE_AEAD_EXPORT_ONLY) {
                    CHECK_STATUS(
                        slim_mls_hpke_seal(&s, slim_bytes_of(NULL, 0), slim_bytes_of("x", 1), &ct),
                        SLIM_E_MLS_HPKE_EXPORT_ONLY);
                } else {
                    for (int i = 0; i < 3; i++) {
                        ct.len = pt.len = 0;
                        CHECK_OK(slim_mls_hpke_seal(&s, slim_bytes_of("aad", 3),
                                                    slim_bytes_of("message", 7), &ct));
                        CHECK_OK(slim_mls_hpke_open(&r, slim_bytes_of("aad", 3), slim_buf_view(&ct),
                                                    &pt));
                        CHECK_EQ(pt.len, 7);
                    }
                    CHECK_U64(s.seq, 3);
                    CHECK_U64(r.seq, 3);
                }
                slim_buf_cleanup(&ct);
                slim_buf_cleanup(&pt);
                slim_mls_hpke_ctx_cleanup(&s);
                slim_mls_hpke_ctx_cleanup(&r);
            }
        }
    }
}

TEST(injected_rng_reproduces_enc) {
    keys k;
    make_keys(SLIM_MLS_HPKE_KEM_X25519_SHA256, &k);
    slim_mls_hpke_suite suite = {SLIM_MLS_HPKE_KEM_X25519_SHA256, 1, 1};
    uint8_t enc1[32], enc2[32], enc3[32];
    slim_mls_hpke_ctx c1, c2, c3;
    uint32_t st1 = 42, st2 = 42;
    slim_mls_rng r1 = {counting_fill, &st1}, r2 = {counting_fill, &st2};
    slim_mls_hpke_setup in = {.mode = SLIM_MLS_HPKE_MODE_BASE, .rng = &r1};
    CHECK_OK(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc1, &c1));
    in.rng = &r2;
    CHECK_OK(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc2, &c2));
    CHECK_MEM(enc1, enc2, 32);
    /* Given ephemeral IKM: the key is DeriveKeyPair(ikm_e). */
    uint8_t ske[32], pke[32];
    CHECK_OK(slim_mls_hpke_derive_key_pair(suite.kem_id, slim_bytes_of("eph", 3), ske, pke));
    in.ikm_e = slim_bytes_of("eph", 3);
    in.rng = NULL;
    CHECK_OK(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc3, &c3));
    CHECK_MEM(enc3, pke, 32);
    /* No IKM and no generator. */
    in.ikm_e = slim_bytes_of(NULL, 0);
    CHECK_STATUS(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc3, &c3), SLIM_E_INVALID_ARG);
    slim_mls_rng bad = {failing_fill, NULL};
    in.rng = &bad;
    CHECK_STATUS(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc3, &c3), SLIM_E_MLS_RNG);
    slim_mls_hpke_ctx_cleanup(&c1);
    slim_mls_hpke_ctx_cleanup(&c2);
}

TEST(input_validation) {
    keys k;
    make_keys(SLIM_MLS_HPKE_KEM_X25519_SHA256, &k);
    slim_mls_hpke_suite suite = {SLIM_MLS_HPKE_KEM_X25519_SHA256, 1, 1};
    uint32_t state = 1;
    slim_mls_rng rng = {counting_fill, &state};
    uint8_t enc[65];
    slim_mls_hpke_ctx c;
    slim_mls_hpke_setup in = {.mode = SLIM_MLS_HPKE_MODE_BASE, .rng = &rng};
    /* PSK inputs: inconsistent, unexpected, missing. */
    in.psk = slim_bytes_of("psk", 3);
    CHECK_STATUS(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc, &c),
                 SLIM_E_MLS_HPKE_PSK_INPUTS);
    in.psk_id = slim_bytes_of("id", 2);
    CHECK_STATUS(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc, &c),
                 SLIM_E_MLS_HPKE_PSK_INPUTS);
    in.mode = SLIM_MLS_HPKE_MODE_PSK;
    CHECK_OK(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc, &c));
    in.psk = in.psk_id = slim_bytes_of(NULL, 0);
    CHECK_STATUS(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc, &c),
                 SLIM_E_MLS_HPKE_PSK_INPUTS);
    /* Auth inputs. */
    in.mode = SLIM_MLS_HPKE_MODE_AUTH;
    CHECK_STATUS(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc, &c),
                 SLIM_E_MLS_HPKE_AUTH_INPUTS);
    in.mode = SLIM_MLS_HPKE_MODE_BASE;
    in.sk_s = k.sks;
    CHECK_STATUS(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc, &c),
                 SLIM_E_MLS_HPKE_AUTH_INPUTS);
    in.sk_s = slim_bytes_of(NULL, 0);
    in.mode = (slim_mls_hpke_mode)4;
    CHECK_STATUS(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc, &c), SLIM_E_INVALID_ARG);
    in.mode = SLIM_MLS_HPKE_MODE_BASE;
    /* Unsupported ids. */
    slim_mls_hpke_suite bad = suite;
    bad.kdf_id = 2;
    CHECK_STATUS(slim_mls_hpke_setup_sender(bad, k.pkr, &in, enc, &c), SLIM_E_MLS_HPKE_UNSUPPORTED);
    bad = suite;
    bad.aead_id = 2;
    CHECK_STATUS(slim_mls_hpke_suite_check(bad), SLIM_E_MLS_HPKE_UNSUPPORTED);
    bad = suite;
    bad.kem_id = 0x0021;
    CHECK_STATUS(slim_mls_hpke_suite_check(bad), SLIM_E_MLS_HPKE_UNSUPPORTED);
    CHECK_EQ(slim_mls_hpke_kem_nenc(0x0021), 0);
    /* Keys of the wrong size or not on the curve. */
    CHECK_STATUS(slim_mls_hpke_setup_sender(suite, slim_bytes_of(k.pk_r, 31), &in, enc, &c),
                 SLIM_E_MLS_BAD_KEY);
    slim_mls_hpke_suite p256 = {SLIM_MLS_HPKE_KEM_P256_SHA256, 1, 1};
    keys kp;
    make_keys(SLIM_MLS_HPKE_KEM_P256_SHA256, &kp);
    kp.pk_r[40] ^= 1;
    CHECK_STATUS(slim_mls_hpke_setup_sender(p256, kp.pkr, &in, enc, &c), SLIM_E_MLS_BAD_KEY);
    CHECK_STATUS(slim_mls_hpke_setup_receiver(p256, kp.pkr, kp.skr, &in, &c), SLIM_E_MLS_BAD_KEY);
    uint8_t zero[32] = {0};
    CHECK_STATUS(slim_mls_hpke_public_key(p256.kem_id, slim_bytes_of(zero, 32), enc),
                 SLIM_E_MLS_BAD_KEY);
    /* X25519: a low-order enc. */
    CHECK_STATUS(slim_mls_hpke_setup_receiver(suite, slim_bytes_of(zero, 32), k.skr, &in, &c),
                 SLIM_E_MLS_DH_ZERO);
}

TEST(context_roles_and_limits) {
    keys k;
    make_keys(SLIM_MLS_HPKE_KEM_X25519_SHA256, &k);
    slim_mls_hpke_suite suite = {SLIM_MLS_HPKE_KEM_X25519_SHA256, 1, 1};
    uint8_t enc[32];
    slim_mls_hpke_ctx s, r;
    slim_mls_hpke_setup in = {.mode = SLIM_MLS_HPKE_MODE_BASE, .ikm_e = slim_bytes_of("e", 1)};
    CHECK_OK(slim_mls_hpke_setup_sender(suite, k.pkr, &in, enc, &s));
    CHECK_OK(slim_mls_hpke_setup_receiver(suite, slim_bytes_of(enc, 32), k.skr, &in, &r));
    slim_buf ct = SLIM_BUF_INIT, pt = SLIM_BUF_INIT;
    CHECK_STATUS(slim_mls_hpke_open(&s, slim_bytes_of(NULL, 0), slim_bytes_of(enc, 32), &pt),
                 SLIM_E_MLS_HPKE_WRONG_ROLE);
    CHECK_STATUS(slim_mls_hpke_seal(&r, slim_bytes_of(NULL, 0), slim_bytes_of("x", 1), &ct),
                 SLIM_E_MLS_HPKE_WRONG_ROLE);
    /* A failed open leaves the sequence number alone. */
    CHECK_OK(slim_mls_hpke_seal(&s, slim_bytes_of(NULL, 0), slim_bytes_of("x", 1), &ct));
    ct.data[0] ^= 1;
    CHECK_STATUS(slim_mls_hpke_open(&r, slim_bytes_of(NULL, 0), slim_buf_view(&ct), &pt),
                 SLIM_E_MLS_AEAD_OPEN);
    CHECK_U64(r.seq, 0);
    ct.data[0] ^= 1;
    CHECK_OK(slim_mls_hpke_open(&r, slim_bytes_of(NULL, 0), slim_buf_view(&ct), &pt));
    CHECK_U64(r.seq, 1);
    /* Out of order: the second ciphertext does not open as the first. */
    ct.len = 0;
    CHECK_OK(slim_mls_hpke_seal(&s, slim_bytes_of(NULL, 0), slim_bytes_of("1", 1), &ct));
    size_t first = ct.len;
    CHECK_OK(slim_mls_hpke_seal(&s, slim_bytes_of(NULL, 0), slim_bytes_of("2", 1), &ct));
    CHECK_STATUS(slim_mls_hpke_open(&r, slim_bytes_of(NULL, 0),
                                    slim_bytes_of(ct.data + first, ct.len - first), &pt),
                 SLIM_E_MLS_AEAD_OPEN);
    /* The last sequence number is refused. */
    s.seq = UINT64_MAX;
    CHECK_STATUS(slim_mls_hpke_seal(&s, slim_bytes_of(NULL, 0), slim_bytes_of("x", 1), &ct),
                 SLIM_E_MLS_HPKE_MESSAGE_LIMIT);
    /* Export lengths. */
    uint8_t out[8];
    CHECK_STATUS(slim_mls_hpke_export(&s, slim_bytes_of(NULL, 0), out, 0), SLIM_E_MLS_KDF_LENGTH);
    slim_mls_hpke_ctx_cleanup(&s);
    CHECK_EQ(s.nk, 0);
    CHECK_STATUS(slim_mls_hpke_export(&s, slim_bytes_of(NULL, 0), out, 8), SLIM_E_STATE);
    slim_mls_hpke_ctx_cleanup(&r);
    slim_buf_cleanup(&ct);
    slim_buf_cleanup(&pt);
}

TEST(single_shot_and_derive_key_pair) {
    for (size_t a = 0; a < SLIM_ARRAY_LEN(kems); a++) {
        keys k;
        make_keys(kems[a], &k);
        slim_mls_hpke_suite suite = {kems[a], 1, 1};
        uint32_t state = 5;
        slim_mls_rng rng = {counting_fill, &state};
        slim_buf enc = SLIM_BUF_INIT, ct = SLIM_BUF_INIT, pt = SLIM_BUF_INIT;
        CHECK_OK(slim_mls_hpke_seal_base(suite, k.pkr, slim_bytes_of("i", 1), slim_bytes_of("a", 1),
                                         slim_bytes_of("msg", 3), &rng, &enc, &ct));
        CHECK_EQ(enc.len, slim_mls_hpke_kem_nenc(kems[a]));
        CHECK_OK(slim_mls_hpke_open_base(suite, slim_buf_view(&enc), k.skr, slim_bytes_of("i", 1),
                                         slim_bytes_of("a", 1), slim_buf_view(&ct), &pt));
        CHECK_EQ(pt.len, 3);
        CHECK_STATUS(slim_mls_hpke_open_base(suite, slim_buf_view(&enc), k.skr,
                                             slim_bytes_of("j", 1), slim_bytes_of("a", 1),
                                             slim_buf_view(&ct), &pt),
                     SLIM_E_MLS_AEAD_OPEN);
        /* DeriveKeyPair is deterministic and consistent with public_key. */
        uint8_t sk[32], pk[65], pk2[65];
        CHECK_OK(
            slim_mls_hpke_derive_key_pair(kems[a], slim_bytes_of("recipient ikm", 13), sk, pk));
        CHECK_MEM(sk, k.sk_r, 32);
        CHECK_OK(slim_mls_hpke_public_key(kems[a], slim_bytes_of(sk, 32), pk2));
        CHECK_MEM(pk, pk2, slim_mls_hpke_kem_npk(kems[a]));
        /* An empty IKM is allowed (RFC 9180 only recommends Nsk bytes). */
        CHECK_OK(slim_mls_hpke_derive_key_pair(kems[a], slim_bytes_of(NULL, 0), sk, pk));
        slim_buf_cleanup(&enc);
        slim_buf_cleanup(&ct);
        slim_buf_cleanup(&pt);
    }
}

TEST_MAIN(TEST_ENTRY(all_modes_round_trip), TEST_ENTRY(injected_rng_reproduces_enc),
          TEST_ENTRY(input_validation), TEST_ENTRY(context_roles_and_limits),
          TEST_ENTRY(single_shot_and_derive_key_pair))
