/* Unit tests for src/mls primitives, pkey and crypto: known answers from
 * RFC 6234 (SHA-256), RFC 5869 (HKDF), RFC 7748 (X25519) and RFC 8032
 * (Ed25519), round trips and failure cases of the AEADs, ECDSA P-256 and
 * the MLS labeled operations for both cipher suites. */
#include "core/alloc.h"
#include "mls/crypto.h"
#include "mls_test_util.h"

static const uint16_t suite_ids[] = {1, 2};

TEST(suite_table) {
    const slim_mls_suite *s = slim_mls_suite_get(1);
    CHECK(s != NULL);
    CHECK_EQ(s->nh, 32);
    CHECK_EQ(s->nk, 16);
    CHECK_EQ(s->nn, 12);
    CHECK_EQ(s->kem_npk, 32);
    CHECK_EQ(s->sig, SLIM_MLS_SIG_ED25519);
    CHECK_EQ(s->hpke.kem_id, 0x0020);
    s = slim_mls_suite_get(2);
    CHECK(s != NULL);
    CHECK_EQ(s->kem_npk, 65);
    CHECK_EQ(s->sig_npk, 65);
    CHECK_EQ(s->sig, SLIM_MLS_SIG_ECDSA_P256_SHA256);
    CHECK_EQ(s->hpke.kem_id, 0x0010);
    CHECK(slim_mls_suite_get(0) == NULL);
    CHECK(slim_mls_suite_get(3) == NULL);
    const slim_mls_suite *out = NULL;
    CHECK_STATUS(slim_mls_suite_find(7, &out), SLIM_E_MLS_UNKNOWN_SUITE);
    CHECK(out == NULL);
    CHECK_OK(slim_mls_suite_find(2, &out));
    CHECK(out == slim_mls_suite_get(2));
}

TEST(rng_injection) {
    uint8_t a[64] = {0}, b[64] = {0}, zero[64] = {0};
    CHECK_OK(slim_mls_rng_fill(slim_mls_rng_default(), a, sizeof a));
    CHECK_OK(slim_mls_rng_fill(slim_mls_rng_default(), b, sizeof b));
    CHECK(memcmp(a, zero, 64) != 0 && memcmp(a, b, 64) != 0);
    CHECK_OK(slim_mls_rng_fill(slim_mls_rng_default(), a, 0));
    CHECK_STATUS(slim_mls_rng_fill(NULL, a, 1), SLIM_E_INVALID_ARG);
    slim_mls_rng none = {NULL, NULL};
    CHECK_STATUS(slim_mls_rng_fill(&none, a, 1), SLIM_E_INVALID_ARG);
    /* Injected generators are used as given. */
    uint32_t s1 = 5, s2 = 5;
    slim_mls_rng r1 = {counting_fill, &s1}, r2 = {counting_fill, &s2};
    CHECK_OK(slim_mls_rng_fill(&r1, a, 64));
    CHECK_OK(slim_mls_rng_fill(&r2, b, 64));
    CHECK_MEM(a, b, 64);
}

TEST(hash_hmac_hkdf_known_answers) {
    uint8_t out[64], want[64], a[64], b[64];
    CHECK_OK(slim_mls_hash(SLIM_MLS_HASH_SHA256, slim_bytes_of("abc", 3), out));
    CHECK_MEM(out, want,
              unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want,
                    sizeof want));
    slim_bytes parts[3] = {slim_bytes_of("a", 1), slim_bytes_of(NULL, 0), slim_bytes_of("bc", 2)};
    CHECK_OK(slim_mls_hash_parts(SLIM_MLS_HASH_SHA256, parts, 3, a));
    CHECK_MEM(a, out, 32);

    /* RFC 5869 test cases 1 and 3 (the latter with empty salt and info). */
    slim_bytes ikm = HEXV(a, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
    slim_bytes salt = HEXV(b, "000102030405060708090a0b0c");
    CHECK_OK(slim_mls_hkdf_extract(SLIM_MLS_HASH_SHA256, salt, ikm, out));
    CHECK_MEM(out, want,
              unhex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5", want,
                    sizeof want));
    uint8_t info[10], okm[42];
    CHECK_OK(slim_mls_hkdf_expand(SLIM_MLS_HASH_SHA256, slim_bytes_of(out, 32),
                                  HEXV(info, "f0f1f2f3f4f5f6f7f8f9"), okm, 42));
    CHECK_MEM(okm, want,
              unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b"
                    "887185865",
                    want, sizeof want));
    CHECK_OK(slim_mls_hkdf_extract(SLIM_MLS_HASH_SHA256, slim_bytes_of(NULL, 0), ikm, out));
    CHECK_MEM(out, want,
              unhex("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04", want,
                    sizeof want));
    CHECK_OK(slim_mls_hkdf_expand(SLIM_MLS_HASH_SHA256, slim_bytes_of(out, 32),
                                  slim_bytes_of(NULL, 0), okm, 42));
    CHECK_MEM(okm, want,
              unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa"
                    "4b61a96c8",
                    want, sizeof want));
    /* Expand length limits: 1 .. 255 * Nh. */
    uint8_t *big = slim_malloc(255 * 32 + 1);
    CHECK_OK(slim_mls_hkdf_expand(SLIM_MLS_HASH_SHA256, slim_bytes_of(out, 32),
                                  slim_bytes_of(NULL, 0), big, 255 * 32));
    CHECK_STATUS(slim_mls_hkdf_expand(SLIM_MLS_HASH_SHA256, slim_bytes_of(out, 32),
                                      slim_bytes_of(NULL, 0), big, 255 * 32 + 1),
                 SLIM_E_MLS_KDF_LENGTH);
    CHECK_STATUS(slim_mls_hkdf_expand(SLIM_MLS_HASH_SHA256, slim_bytes_of(out, 32),
                                      slim_bytes_of(NULL, 0), big, 0),
                 SLIM_E_MLS_KDF_LENGTH);
    slim_free(big);
    CHECK_STATUS(slim_mls_hash((slim_mls_hash_alg)99, slim_bytes_of("x", 1), out),
                 SLIM_E_INVALID_ARG);
}

TEST(hmac_verify_is_exact) {
    uint8_t mac[32];
    slim_bytes key = slim_bytes_of("key", 3), data = slim_bytes_of("data", 4);
    CHECK_OK(slim_mls_hmac(SLIM_MLS_HASH_SHA256, key, data, mac));
    CHECK_OK(slim_mls_hmac_verify(SLIM_MLS_HASH_SHA256, key, data, slim_bytes_of(mac, 32)));
    mac[31] ^= 1;
    CHECK_STATUS(slim_mls_hmac_verify(SLIM_MLS_HASH_SHA256, key, data, slim_bytes_of(mac, 32)),
                 SLIM_E_MLS_BAD_MAC);
    mac[31] ^= 1;
    CHECK_STATUS(slim_mls_hmac_verify(SLIM_MLS_HASH_SHA256, key, data, slim_bytes_of(mac, 31)),
                 SLIM_E_MLS_BAD_MAC);
    /* An empty key is the same as a zero key (HMAC pads keys with zeros). */
    uint8_t m1[32], m2[32], zero = 0;
    CHECK_OK(slim_mls_hmac(SLIM_MLS_HASH_SHA256, slim_bytes_of(NULL, 0), data, m1));
    CHECK_OK(slim_mls_hmac(SLIM_MLS_HASH_SHA256, slim_bytes_of(&zero, 1), data, m2));
    CHECK_MEM(m1, m2, 32);
}

static void aead_round_trip(slim_mls_aead_alg alg) {
    uint8_t key[32] = {1, 2, 3}, nonce[12] = {9};
    slim_bytes k = slim_bytes_of(key, slim_mls_aead_key_size(alg));
    slim_bytes n = slim_bytes_of(nonce, 12);
    slim_bytes aad = slim_bytes_of("aad", 3);
    slim_buf ct = SLIM_BUF_INIT, pt = SLIM_BUF_INIT;
    CHECK_OK(slim_mls_aead_seal(alg, k, n, aad, slim_bytes_of("hello", 5), &ct));
    CHECK_EQ(ct.len, 5 + 16);
    CHECK_OK(slim_mls_aead_open(alg, k, n, aad, slim_buf_view(&ct), &pt));
    CHECK_EQ(pt.len, 5);
    CHECK_MEM(pt.data, "hello", 5);
    /* Any change is detected and nothing is appended. */
    pt.len = 0;
    ct.data[0] ^= 1;
    CHECK_STATUS(slim_mls_aead_open(alg, k, n, aad, slim_buf_view(&ct), &pt), SLIM_E_MLS_AEAD_OPEN);
    ct.data[0] ^= 1;
    CHECK_STATUS(slim_mls_aead_open(alg, k, n, slim_bytes_of("aaX", 3), slim_buf_view(&ct), &pt),
                 SLIM_E_MLS_AEAD_OPEN);
    ct.data[ct.len - 1] ^= 1;
    CHECK_STATUS(slim_mls_aead_open(alg, k, n, aad, slim_buf_view(&ct), &pt), SLIM_E_MLS_AEAD_OPEN);
    CHECK_STATUS(slim_mls_aead_open(alg, k, n, aad, slim_bytes_of(ct.data, 15), &pt),
                 SLIM_E_MLS_AEAD_OPEN);
    CHECK_EQ(pt.len, 0);
    /* Empty plaintext and aad. */
    ct.len = 0;
    CHECK_OK(slim_mls_aead_seal(alg, k, n, slim_bytes_of(NULL, 0), slim_bytes_of(NULL, 0), &ct));
    CHECK_EQ(ct.len, 16);
    CHECK_OK(slim_mls_aead_open(alg, k, n, slim_bytes_of(NULL, 0), slim_buf_view(&ct), &pt));
    CHECK_EQ(pt.len, 0);
    /* Wrong key or nonce size. */
    CHECK_STATUS(slim_mls_aead_seal(alg, slim_bytes_of(key, 5), n, aad, aad, &ct),
                 SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_mls_aead_seal(alg, k, slim_bytes_of(nonce, 8), aad, aad, &ct),
                 SLIM_E_INVALID_ARG);
    slim_buf_cleanup(&ct);
    slim_buf_cleanup(&pt);
}

TEST(aead_round_trips_and_tamper) {
    aead_round_trip(SLIM_MLS_AEAD_AES128GCM);
    aead_round_trip(SLIM_MLS_AEAD_CHACHA20POLY1305);
    CHECK_EQ(slim_mls_aead_key_size(SLIM_MLS_AEAD_AES128GCM), 16);
    CHECK_EQ(slim_mls_aead_key_size(SLIM_MLS_AEAD_CHACHA20POLY1305), 32);
    CHECK_EQ(slim_mls_aead_key_size((slim_mls_aead_alg)0xffff), 0);
}

TEST(x25519_known_answer_and_low_order) {
    uint8_t a[32], b[32], pa[32], pb[32], ss1[32], ss2[32], want[32];
    slim_bytes ska = HEXV(a, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    slim_bytes skb = HEXV(b, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    CHECK_OK(slim_mls_dh_public(SLIM_MLS_DH_X25519, ska, pa));
    CHECK_MEM(pa, want,
              unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", want,
                    sizeof want));
    CHECK_OK(slim_mls_dh_public(SLIM_MLS_DH_X25519, skb, pb));
    CHECK_MEM(pb, want,
              unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", want,
                    sizeof want));
    CHECK_OK(slim_mls_dh(SLIM_MLS_DH_X25519, ska, slim_bytes_of(pb, 32), ss1));
    CHECK_OK(slim_mls_dh(SLIM_MLS_DH_X25519, skb, slim_bytes_of(pa, 32), ss2));
    CHECK_MEM(ss1, want,
              unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want,
                    sizeof want));
    CHECK_MEM(ss2, ss1, 32);
    /* A low-order public key (here: 0) gives the all-zero secret. */
    uint8_t zero[32] = {0};
    CHECK_STATUS(slim_mls_dh(SLIM_MLS_DH_X25519, ska, slim_bytes_of(zero, 32), ss1),
                 SLIM_E_MLS_DH_ZERO);
    CHECK_STATUS(slim_mls_dh(SLIM_MLS_DH_X25519, ska, slim_bytes_of(zero, 31), ss1),
                 SLIM_E_MLS_BAD_KEY);
}

TEST(p256_key_checks) {
    uint8_t sk[32], pk[65], pk2[65], ss1[32], ss2[32];
    /* Scalars 0 and >= n are not private keys. */
    memset(sk, 0, sizeof sk);
    CHECK_STATUS(slim_mls_dh_check_private(SLIM_MLS_DH_P256, slim_bytes_of(sk, 32)),
                 SLIM_E_MLS_BAD_KEY);
    memset(sk, 0xff, sizeof sk);
    CHECK_STATUS(slim_mls_dh_public(SLIM_MLS_DH_P256, slim_bytes_of(sk, 32), pk),
                 SLIM_E_MLS_BAD_KEY);
    slim_bytes n = HEXV(sk, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    CHECK_STATUS(slim_mls_dh_check_private(SLIM_MLS_DH_P256, n), SLIM_E_MLS_BAD_KEY);
    sk[31] = 0x50; /* n - 1 */
    CHECK_OK(slim_mls_dh_check_private(SLIM_MLS_DH_P256, slim_bytes_of(sk, 32)));
    /* Scalar 1 gives the generator. */
    memset(sk, 0, sizeof sk);
    sk[31] = 1;
    CHECK_OK(slim_mls_dh_public(SLIM_MLS_DH_P256, slim_bytes_of(sk, 32), pk));
    uint8_t g[65];
    CHECK_MEM(pk, g,
              unhex("046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe"
                    "1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
                    g, sizeof g));
    /* DH agrees both ways. */
    uint8_t sk2[32];
    memset(sk2, 0x11, sizeof sk2);
    CHECK_OK(slim_mls_dh_public(SLIM_MLS_DH_P256, slim_bytes_of(sk2, 32), pk2));
    CHECK_OK(slim_mls_dh(SLIM_MLS_DH_P256, slim_bytes_of(sk, 32), slim_bytes_of(pk2, 65), ss1));
    CHECK_OK(slim_mls_dh(SLIM_MLS_DH_P256, slim_bytes_of(sk2, 32), slim_bytes_of(pk, 65), ss2));
    CHECK_MEM(ss1, ss2, 32);
    CHECK_MEM(ss1, pk2 + 1, 32); /* 1 * P = P: the x-coordinate of pk2 */
    /* A point off the curve, a compressed point, a short one. */
    pk2[64] ^= 1;
    CHECK_STATUS(slim_mls_dh(SLIM_MLS_DH_P256, slim_bytes_of(sk, 32), slim_bytes_of(pk2, 65), ss1),
                 SLIM_E_MLS_BAD_KEY);
    pk2[64] ^= 1;
    pk2[0] = 0x02;
    CHECK_STATUS(slim_mls_dh(SLIM_MLS_DH_P256, slim_bytes_of(sk, 32), slim_bytes_of(pk2, 65), ss1),
                 SLIM_E_MLS_BAD_KEY);
    CHECK_STATUS(slim_mls_dh(SLIM_MLS_DH_P256, slim_bytes_of(sk, 32), slim_bytes_of(pk2, 33), ss1),
                 SLIM_E_MLS_BAD_KEY);
}

TEST(ed25519_known_answer) {
    uint8_t sk[32], pk[32], want[64];
    slim_bytes skv = HEXV(sk, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    CHECK_OK(slim_mls_sig_public(SLIM_MLS_SIG_ED25519, skv, pk));
    CHECK_MEM(pk, want,
              unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", want,
                    sizeof want));
    slim_buf sig = SLIM_BUF_INIT;
    CHECK_OK(slim_mls_sig_sign(SLIM_MLS_SIG_ED25519, skv, slim_bytes_of(NULL, 0), &sig));
    CHECK_EQ(sig.len, 64);
    CHECK_MEM(sig.data, want,
              unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a"
                    "33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
                    want, sizeof want));
    CHECK_OK(slim_mls_sig_verify(SLIM_MLS_SIG_ED25519, slim_bytes_of(pk, 32),
                                 slim_bytes_of(NULL, 0), slim_buf_view(&sig)));
    sig.data[10] ^= 1;
    CHECK_STATUS(slim_mls_sig_verify(SLIM_MLS_SIG_ED25519, slim_bytes_of(pk, 32),
                                     slim_bytes_of(NULL, 0), slim_buf_view(&sig)),
                 SLIM_E_MLS_BAD_SIGNATURE);
    CHECK_STATUS(slim_mls_sig_verify(SLIM_MLS_SIG_ED25519, slim_bytes_of(pk, 32),
                                     slim_bytes_of(NULL, 0), slim_bytes_of(sig.data, 63)),
                 SLIM_E_MLS_BAD_SIGNATURE);
    slim_buf_cleanup(&sig);
}

TEST(sign_with_label_both_suites) {
    for (size_t i = 0; i < SLIM_ARRAY_LEN(suite_ids); i++) {
        const slim_mls_suite *s = slim_mls_suite_get(suite_ids[i]);
        uint32_t state = 7;
        slim_mls_rng rng = {counting_fill, &state};
        uint8_t sk[32], pk[65], pk2[65];
        CHECK_OK(slim_mls_signature_key_generate(s, &rng, sk, pk));
        CHECK_OK(slim_mls_signature_public_key(s, slim_bytes_of(sk, s->sig_nsk), pk2));
        CHECK_MEM(pk, pk2, s->sig_npk);
        slim_bytes skv = slim_bytes_of(sk, s->sig_nsk), pkv = slim_bytes_of(pk, s->sig_npk);
        slim_bytes msg = slim_bytes_of("content", 7);
        slim_buf sig = SLIM_BUF_INIT;
        CHECK_OK(slim_mls_sign_with_label(s, skv, "Label", msg, &sig));
        CHECK_INT(sig.len, <=, s->sig_max);
        CHECK_OK(slim_mls_verify_with_label(s, pkv, "Label", msg, slim_buf_view(&sig)));
        CHECK_STATUS(slim_mls_verify_with_label(s, pkv, "Other", msg, slim_buf_view(&sig)),
                     SLIM_E_MLS_BAD_SIGNATURE);
        CHECK_STATUS(slim_mls_verify_with_label(s, pkv, "Label", slim_bytes_of("contenT", 7),
                                                slim_buf_view(&sig)),
                     SLIM_E_MLS_BAD_SIGNATURE);
        /* The signature is over SignContent, not the raw content. */
        CHECK_STATUS(slim_mls_sig_verify(s->sig, pkv, msg, slim_buf_view(&sig)),
                     SLIM_E_MLS_BAD_SIGNATURE);
        /* Garbage where a DER signature should be. */
        CHECK_STATUS(slim_mls_verify_with_label(s, pkv, "Label", msg, slim_bytes_of("\x30\x02", 2)),
                     SLIM_E_MLS_BAD_SIGNATURE);
        CHECK_STATUS(
            slim_mls_verify_with_label(s, slim_bytes_of(pk, 10), "Label", msg, slim_buf_view(&sig)),
            SLIM_E_MLS_BAD_KEY);
        CHECK_STATUS(slim_mls_sign_with_label(s, slim_bytes_of(sk, 31), "Label", msg, &sig),
                     SLIM_E_MLS_BAD_KEY);
        /* A generator that fails yields E_MLS_RNG. */
        slim_mls_rng bad = {failing_fill, NULL};
        CHECK_STATUS(slim_mls_signature_key_generate(s, &bad, sk, pk), SLIM_E_MLS_RNG);
        slim_buf_cleanup(&sig);
    }
}

TEST(prepared_signature_keys) {
    for (size_t i = 0; i < SLIM_ARRAY_LEN(suite_ids); i++) {
        const slim_mls_suite *s = slim_mls_suite_get(suite_ids[i]);
        uint32_t state = 9;
        slim_mls_rng rng = {counting_fill, &state};
        uint8_t sk[32], pk[65];
        CHECK_OK(slim_mls_signature_key_generate(s, &rng, sk, pk));
        slim_mls_sig_key *signer = NULL, *verifier = NULL;
        CHECK_OK(slim_mls_sig_key_new(s->sig, slim_bytes_of(sk, s->sig_nsk), true, &signer));
        CHECK_OK(slim_mls_sig_key_new(s->sig, slim_bytes_of(pk, s->sig_npk), false, &verifier));
        CHECK_EQ(slim_mls_sig_key_scheme(signer), s->sig);
        slim_bytes msg = slim_bytes_of("m", 1);
        slim_buf sig = SLIM_BUF_INIT;
        for (int round = 0; round < 3; round++) {
            sig.len = 0;
            CHECK_OK(slim_mls_sign_with_label_key(s, signer, "L", msg, &sig));
            CHECK_OK(slim_mls_verify_with_label_key(s, verifier, "L", msg, slim_buf_view(&sig)));
            /* Prepared and one-shot calls agree. */
            CHECK_OK(slim_mls_verify_with_label(s, slim_bytes_of(pk, s->sig_npk), "L", msg,
                                                slim_buf_view(&sig)));
        }
        CHECK_STATUS(slim_mls_sig_key_sign(verifier, msg, &sig), SLIM_E_INVALID_ARG);
        CHECK_STATUS(slim_mls_sig_key_verify(signer, msg, slim_buf_view(&sig)), SLIM_E_INVALID_ARG);
        const slim_mls_suite *other = slim_mls_suite_get(suite_ids[1 - i]);
        CHECK_STATUS(slim_mls_sign_with_label_key(other, signer, "L", msg, &sig),
                     SLIM_E_MLS_BAD_KEY);
        slim_mls_sig_key *bad = NULL;
        CHECK_STATUS(slim_mls_sig_key_new(s->sig, slim_bytes_of(pk, 3), false, &bad),
                     SLIM_E_MLS_BAD_KEY);
        CHECK(bad == NULL);
        CHECK_STATUS(
            slim_mls_sig_key_new((slim_mls_sig_scheme)1, slim_bytes_of(pk, 3), false, &bad),
            SLIM_E_INVALID_ARG);
        test_alloc_install();
        test_alloc_fail_after(1);
        CHECK_STATUS(slim_mls_sig_key_new(s->sig, slim_bytes_of(pk, s->sig_npk), false, &bad),
                     SLIM_E_NOMEM);
        test_alloc_fail_after(0);
        CHECK_EQ(test_alloc_live(), 0);
        test_alloc_uninstall();
        slim_mls_sig_key_free(signer);
        slim_mls_sig_key_free(verifier);
        slim_mls_sig_key_free(NULL);
        slim_buf_cleanup(&sig);
    }
}

TEST(encrypt_with_label_both_suites) {
    for (size_t i = 0; i < SLIM_ARRAY_LEN(suite_ids); i++) {
        const slim_mls_suite *s = slim_mls_suite_get(suite_ids[i]);
        uint32_t state = 3;
        slim_mls_rng rng = {counting_fill, &state};
        uint8_t sk[32], pk[65];
        CHECK_OK(slim_mls_suite_generate_key_pair(s, &rng, sk, pk));
        slim_bytes skv = slim_bytes_of(sk, s->kem_nsk), pkv = slim_bytes_of(pk, s->kem_npk);
        slim_bytes ctx = slim_bytes_of("context", 7), pt = slim_bytes_of("secret!", 7);
        slim_buf kem = SLIM_BUF_INIT, ct = SLIM_BUF_INIT, out = SLIM_BUF_INIT;
        CHECK_OK(slim_mls_encrypt_with_label(s, pkv, "Welcome", ctx, pt, &rng, &kem, &ct));
        CHECK_EQ(kem.len, s->kem_npk);
        CHECK_EQ(ct.len, pt.len + s->nt);
        CHECK_OK(slim_mls_decrypt_with_label(s, skv, "Welcome", ctx, slim_buf_view(&kem),
                                             slim_buf_view(&ct), &out));
        CHECK_EQ(out.len, 7);
        CHECK_MEM(out.data, "secret!", 7);
        out.len = 0;
        CHECK_STATUS(slim_mls_decrypt_with_label(s, skv, "Other", ctx, slim_buf_view(&kem),
                                                 slim_buf_view(&ct), &out),
                     SLIM_E_MLS_AEAD_OPEN);
        CHECK_STATUS(slim_mls_decrypt_with_label(s, skv, "Welcome", slim_bytes_of("x", 1),
                                                 slim_buf_view(&kem), slim_buf_view(&ct), &out),
                     SLIM_E_MLS_AEAD_OPEN);
        CHECK_STATUS(slim_mls_decrypt_with_label(s, skv, "Welcome", ctx,
                                                 slim_bytes_of(kem.data, kem.len - 1),
                                                 slim_buf_view(&ct), &out),
                     SLIM_E_MLS_BAD_KEY);
        CHECK_EQ(out.len, 0);
        slim_buf_cleanup(&kem);
        slim_buf_cleanup(&ct);
        slim_buf_cleanup(&out);
    }
}

TEST(labeled_kdf_functions) {
    const slim_mls_suite *s = slim_mls_suite_get(1);
    uint8_t secret[32] = {1}, a[64], b[64];
    slim_bytes sv = slim_bytes_of(secret, 32);
    /* DeriveSecret = ExpandWithLabel with empty context and Nh. */
    CHECK_OK(slim_mls_derive_secret(s, sv, "init", a));
    CHECK_OK(slim_mls_expand_with_label(s, sv, "init", slim_bytes_of(NULL, 0), b, 32));
    CHECK_MEM(a, b, 32);
    CHECK_OK(slim_mls_expand_with_label_bytes(s, sv, slim_bytes_of("init", 4),
                                              slim_bytes_of(NULL, 0), b, 32));
    CHECK_MEM(a, b, 32);
    /* DeriveTreeSecret's context is the big-endian generation. */
    CHECK_OK(slim_mls_derive_tree_secret(s, sv, "key", 0x01020304, a, 16));
    CHECK_OK(slim_mls_expand_with_label(s, sv, "key", slim_bytes_of("\x01\x02\x03\x04", 4), b, 16));
    CHECK_MEM(a, b, 16);
    /* The length is part of the KDFLabel: a shorter output is not a prefix. */
    CHECK_OK(slim_mls_expand_with_label(s, sv, "key", slim_bytes_of(NULL, 0), a, 32));
    CHECK_OK(slim_mls_expand_with_label(s, sv, "key", slim_bytes_of(NULL, 0), b, 16));
    CHECK(memcmp(a, b, 16) != 0);
    CHECK_STATUS(slim_mls_expand_with_label(s, sv, "key", slim_bytes_of(NULL, 0), a, 0),
                 SLIM_E_MLS_KDF_LENGTH);
    CHECK_STATUS(slim_mls_expand_with_label(s, sv, "key", slim_bytes_of(NULL, 0), a, 0x10000),
                 SLIM_E_MLS_KDF_LENGTH);
    /* RefHash = Hash(label<V> || value<V>), label as given. */
    CHECK_OK(slim_mls_ref_hash(s, slim_bytes_of("L", 1), slim_bytes_of("vv", 2), a));
    CHECK_OK(slim_mls_hash(SLIM_MLS_HASH_SHA256, slim_bytes_of("\x01L\x02vv", 5), b));
    CHECK_MEM(a, b, 32);
    /* Out of memory inside a labeled function is reported, not fatal. */
    test_alloc_install();
    test_alloc_fail_after(1);
    CHECK_STATUS(slim_mls_derive_secret(s, sv, "init", a), SLIM_E_NOMEM);
    test_alloc_fail_after(0);
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_uninstall();
}

TEST_MAIN(TEST_ENTRY(suite_table), TEST_ENTRY(rng_injection),
          TEST_ENTRY(hash_hmac_hkdf_known_answers), TEST_ENTRY(hmac_verify_is_exact),
          TEST_ENTRY(aead_round_trips_and_tamper), TEST_ENTRY(x25519_known_answer_and_low_order),
          TEST_ENTRY(p256_key_checks), TEST_ENTRY(ed25519_known_answer),
          TEST_ENTRY(sign_with_label_both_suites), TEST_ENTRY(prepared_signature_keys),
          TEST_ENTRY(encrypt_with_label_both_suites), TEST_ENTRY(labeled_kdf_functions))
