/* Unit tests for src/mls key_schedule, psk and transcript: the schedule's
 * structure (each step as the RFC 9420 §8 diagram says), joiner and
 * external init agreement, exporter, PSK chain, transcript hashes and the
 * confirmation tag. The interop vectors run in tests/vectors. */
#include "core/alloc.h"
#include "mls/group_context.h"
#include "mls/key_schedule.h"
#include "mls/psk.h"
#include "mls/transcript.h"
#include "mls_test_util.h"

static const uint8_t init_secret[32] = {1, 2, 3};
static const uint8_t commit_secret[32] = {4, 5, 6};
static const uint8_t psk_secret[32] = {7, 8, 9};

static void encode_gc(uint16_t suite, uint64_t epoch, slim_buf *out) {
    slim_mls_group_context gc = {.version = SLIM_MLS_VERSION_MLS10,
                                 .cipher_suite = suite,
                                 .group_id = slim_bytes_of("g", 1),
                                 .epoch = epoch};
    CHECK_OK(slim_mls_group_context_encode(&gc, out));
}

TEST(schedule_follows_the_diagram) {
    const slim_mls_suite *s = slim_mls_suite_get(1);
    slim_buf gc = SLIM_BUF_INIT;
    encode_gc(1, 3, &gc);
    slim_mls_epoch_secrets es;
    CHECK_OK(slim_mls_key_schedule_epoch(s, slim_bytes_of(init_secret, 32),
                                         slim_bytes_of(commit_secret, 32),
                                         slim_bytes_of(psk_secret, 32), slim_buf_view(&gc), &es));
    /* Recompute by hand with the labeled functions. */
    uint8_t prk[32], joiner[32], member[32], epoch[32], x[32];
    CHECK_OK(slim_mls_kdf_extract(s, slim_bytes_of(init_secret, 32),
                                  slim_bytes_of(commit_secret, 32), prk));
    CHECK_OK(slim_mls_expand_with_label(s, slim_bytes_of(prk, 32), "joiner", slim_buf_view(&gc),
                                        joiner, 32));
    CHECK_MEM(es.joiner_secret, joiner, 32);
    CHECK_OK(
        slim_mls_kdf_extract(s, slim_bytes_of(joiner, 32), slim_bytes_of(psk_secret, 32), member));
    CHECK_OK(slim_mls_derive_secret(s, slim_bytes_of(member, 32), "welcome", x));
    CHECK_MEM(es.welcome_secret, x, 32);
    CHECK_OK(slim_mls_expand_with_label(s, slim_bytes_of(member, 32), "epoch", slim_buf_view(&gc),
                                        epoch, 32));
    static const struct {
        const char *label;
        size_t off;
    } outs[] = {
        {"sender data", offsetof(slim_mls_epoch_secrets, sender_data_secret)},
        {"encryption", offsetof(slim_mls_epoch_secrets, encryption_secret)},
        {"exporter", offsetof(slim_mls_epoch_secrets, exporter_secret)},
        {"external", offsetof(slim_mls_epoch_secrets, external_secret)},
        {"confirm", offsetof(slim_mls_epoch_secrets, confirmation_key)},
        {"membership", offsetof(slim_mls_epoch_secrets, membership_key)},
        {"resumption", offsetof(slim_mls_epoch_secrets, resumption_psk)},
        {"authentication", offsetof(slim_mls_epoch_secrets, epoch_authenticator)},
        {"init", offsetof(slim_mls_epoch_secrets, init_secret)},
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(outs); i++) {
        CHECK_OK(slim_mls_derive_secret(s, slim_bytes_of(epoch, 32), outs[i].label, x));
        if (memcmp((const uint8_t *)&es + outs[i].off, x, 32) != 0)
            TEST_FAIL_AT("secret \"%s\" differs", outs[i].label);
    }
    /* Empty commit and psk secrets mean all-zero ones. */
    uint8_t zeros[32] = {0};
    slim_mls_epoch_secrets a, b;
    CHECK_OK(slim_mls_key_schedule_epoch(s, slim_bytes_of(init_secret, 32), slim_bytes_of(NULL, 0),
                                         slim_bytes_of(NULL, 0), slim_buf_view(&gc), &a));
    CHECK_OK(slim_mls_key_schedule_epoch(s, slim_bytes_of(init_secret, 32),
                                         slim_bytes_of(zeros, 32), slim_bytes_of(zeros, 32),
                                         slim_buf_view(&gc), &b));
    CHECK_MEM(&a, &b, sizeof a);
    /* The GroupContext matters. */
    slim_buf gc2 = SLIM_BUF_INIT;
    encode_gc(1, 4, &gc2);
    CHECK_OK(slim_mls_key_schedule_epoch(s, slim_bytes_of(init_secret, 32), slim_bytes_of(NULL, 0),
                                         slim_bytes_of(NULL, 0), slim_buf_view(&gc2), &b));
    CHECK(memcmp(a.encryption_secret, b.encryption_secret, 32) != 0);
    /* Wrong sizes. */
    CHECK_STATUS(slim_mls_key_schedule_epoch(s, slim_bytes_of(init_secret, 31),
                                             slim_bytes_of(NULL, 0), slim_bytes_of(NULL, 0),
                                             slim_buf_view(&gc), &b),
                 SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_mls_key_schedule_epoch(s, slim_bytes_of(init_secret, 32),
                                             slim_bytes_of(commit_secret, 16),
                                             slim_bytes_of(NULL, 0), slim_buf_view(&gc), &b),
                 SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_mls_key_schedule_join(s, slim_bytes_of(joiner, 32),
                                            slim_bytes_of(psk_secret, 1), slim_buf_view(&gc), &b),
                 SLIM_E_INVALID_ARG);
    /* Cleanup wipes everything; forget_joiner only the join secrets. */
    slim_mls_epoch_secrets_forget_joiner(&es);
    CHECK_MEM(es.joiner_secret, zeros, 32);
    CHECK_MEM(es.welcome_secret, zeros, 32);
    CHECK(memcmp(es.init_secret, zeros, 32) != 0);
    slim_mls_epoch_secrets_cleanup(&es);
    CHECK_MEM(es.init_secret, zeros, 32);
    CHECK(es.suite == NULL);
    slim_buf_cleanup(&gc);
    slim_buf_cleanup(&gc2);
}

TEST(joiner_gets_the_same_epoch) {
    for (uint16_t id = 1; id <= 2; id++) {
        const slim_mls_suite *s = slim_mls_suite_get(id);
        slim_buf gc = SLIM_BUF_INIT;
        encode_gc(id, 9, &gc);
        slim_mls_epoch_secrets m, j;
        CHECK_OK(slim_mls_key_schedule_epoch(
            s, slim_bytes_of(init_secret, 32), slim_bytes_of(commit_secret, 32),
            slim_bytes_of(psk_secret, 32), slim_buf_view(&gc), &m));
        uint8_t welcome[32], key[16], nonce[12], key2[16], nonce2[12];
        CHECK_OK(slim_mls_welcome_secret(s, slim_bytes_of(m.joiner_secret, 32),
                                         slim_bytes_of(psk_secret, 32), welcome));
        CHECK_MEM(welcome, m.welcome_secret, 32);
        CHECK_OK(slim_mls_welcome_key_nonce(s, slim_bytes_of(welcome, 32), key, nonce));
        CHECK_OK(slim_mls_expand_with_label(s, slim_bytes_of(welcome, 32), "key",
                                            slim_bytes_of(NULL, 0), key2, 16));
        CHECK_OK(slim_mls_expand_with_label(s, slim_bytes_of(welcome, 32), "nonce",
                                            slim_bytes_of(NULL, 0), nonce2, 12));
        CHECK_MEM(key, key2, 16);
        CHECK_MEM(nonce, nonce2, 12);
        CHECK_OK(slim_mls_key_schedule_join(s, slim_bytes_of(m.joiner_secret, 32),
                                            slim_bytes_of(psk_secret, 32), slim_buf_view(&gc), &j));
        CHECK_MEM(&m, &j, sizeof m);
        slim_mls_epoch_secrets_cleanup(&m);
        slim_mls_epoch_secrets_cleanup(&j);
        slim_buf_cleanup(&gc);
    }
}

TEST(exporter_and_external_init) {
    for (uint16_t id = 1; id <= 2; id++) {
        const slim_mls_suite *s = slim_mls_suite_get(id);
        slim_buf gc = SLIM_BUF_INIT;
        encode_gc(id, 0, &gc);
        slim_mls_epoch_secrets es;
        CHECK_OK(slim_mls_key_schedule_epoch(s, slim_bytes_of(init_secret, 32),
                                             slim_bytes_of(NULL, 0), slim_bytes_of(NULL, 0),
                                             slim_buf_view(&gc), &es));
        /* MLS-Exporter by hand. */
        uint8_t a[48], b[48], d[32], h[32];
        CHECK_OK(slim_mls_exporter(&es, "slim session", slim_bytes_of("ctx", 3), a, 48));
        CHECK_OK(
            slim_mls_derive_secret(s, slim_bytes_of(es.exporter_secret, 32), "slim session", d));
        CHECK_OK(slim_mls_suite_hash(s, slim_bytes_of("ctx", 3), h));
        CHECK_OK(slim_mls_expand_with_label(s, slim_bytes_of(d, 32), "exported",
                                            slim_bytes_of(h, 32), b, 48));
        CHECK_MEM(a, b, 48);
        CHECK_OK(slim_mls_exporter(&es, "slim session", slim_bytes_of("ctX", 3), b, 48));
        CHECK(memcmp(a, b, 48) != 0);
        CHECK_OK(slim_mls_exporter_bytes(s, slim_bytes_of(es.exporter_secret, 32),
                                         slim_bytes_of("slim session", 12), slim_bytes_of("ctx", 3),
                                         b, 48));
        CHECK_MEM(a, b, 48);
        CHECK_STATUS(slim_mls_exporter(&es, "x", slim_bytes_of(NULL, 0), b, 0),
                     SLIM_E_MLS_KDF_LENGTH);

        /* External init: the joiner and a member derive the same secret. */
        uint8_t sk[32], pk[65], i1[32], i2[32];
        CHECK_OK(slim_mls_external_key_pair(&es, sk, pk));
        uint32_t state = 11;
        slim_mls_rng rng = {counting_fill, &state};
        slim_buf kem = SLIM_BUF_INIT;
        CHECK_OK(slim_mls_external_init_join(s, slim_bytes_of(pk, s->kem_npk), &rng, &kem, i1));
        CHECK_EQ(kem.len, s->kem_npk);
        CHECK_OK(slim_mls_external_init_member(s, slim_bytes_of(sk, s->kem_nsk),
                                               slim_buf_view(&kem), i2));
        CHECK_MEM(i1, i2, 32);
        slim_mls_rng bad = {failing_fill, NULL};
        CHECK_STATUS(slim_mls_external_init_join(s, slim_bytes_of(pk, s->kem_npk), &bad, &kem, i1),
                     SLIM_E_MLS_RNG);
        CHECK_EQ(kem.len, s->kem_npk);
        slim_buf_cleanup(&kem);
        slim_mls_epoch_secrets_cleanup(&es);
        slim_buf_cleanup(&gc);
    }
}

TEST(psk_chain) {
    const slim_mls_suite *s = slim_mls_suite_get(1);
    uint8_t out[32], zeros[32] = {0};
    CHECK_OK(slim_mls_psk_secret(s, NULL, 0, out));
    CHECK_MEM(out, zeros, 32);
    slim_mls_psk psks[2] = {
        {.id = {.psktype = SLIM_MLS_PSK_EXTERNAL,
                .psk_id = slim_bytes_of("a", 1),
                .psk_nonce = slim_bytes_of("n1", 2)},
         .secret = slim_bytes_of("secret one", 10)},
        {.id = {.psktype = SLIM_MLS_PSK_RESUMPTION,
                .usage = SLIM_MLS_PSK_USAGE_APPLICATION,
                .psk_group_id = slim_bytes_of("g", 1),
                .psk_epoch = 4,
                .psk_nonce = slim_bytes_of("n2", 2)},
         .secret = slim_bytes_of("secret two", 10)},
    };
    /* By hand: one PSK. */
    uint8_t extracted[32], input[32], want[32];
    slim_buf label = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &label);
    slim_mls_psk_id_encode(&w, &psks[0].id);
    slim_mls_tls_put_u16(&w, 0);
    slim_mls_tls_put_u16(&w, 1);
    CHECK_OK(slim_mls_tls_writer_status(&w));
    CHECK_OK(slim_mls_kdf_extract(s, slim_bytes_of(zeros, 32), psks[0].secret, extracted));
    CHECK_OK(slim_mls_expand_with_label(s, slim_bytes_of(extracted, 32), "derived psk",
                                        slim_buf_view(&label), input, 32));
    CHECK_OK(slim_mls_kdf_extract(s, slim_bytes_of(input, 32), slim_bytes_of(zeros, 32), want));
    CHECK_OK(slim_mls_psk_secret(s, psks, 1, out));
    CHECK_MEM(out, want, 32);
    slim_buf_cleanup(&label);
    /* Order matters. */
    uint8_t ab[32], ba[32];
    slim_mls_psk rev[2] = {psks[1], psks[0]};
    CHECK_OK(slim_mls_psk_secret(s, psks, 2, ab));
    CHECK_OK(slim_mls_psk_secret(s, rev, 2, ba));
    CHECK(memcmp(ab, ba, 32) != 0);
    /* Errors. */
    CHECK_STATUS(slim_mls_psk_secret(s, psks, 0x10000, out), SLIM_E_MLS_PSK_COUNT);
    psks[1].id.psktype = 9;
    CHECK_STATUS(slim_mls_psk_secret(s, psks, 2, out), SLIM_E_MLS_BAD_VALUE);
}

TEST(transcript_and_confirmation_tag) {
    const slim_mls_suite *s = slim_mls_suite_get(2);
    uint8_t interim0[32] = {0xaa}, key[32] = {0x55};
    const char input[] = "wire_format|FramedContent|signature";
    slim_bytes in = slim_bytes_of(input, sizeof input - 1);
    uint8_t confirmed[32], tag[32], interim[32], want[32];
    CHECK_OK(slim_mls_transcript_confirmed(s, slim_bytes_of(interim0, 32), in, confirmed));
    slim_buf cat = SLIM_BUF_INIT;
    CHECK_OK(slim_buf_append(&cat, interim0, 32));
    CHECK_OK(slim_buf_append(&cat, input, in.len));
    CHECK_OK(slim_mls_suite_hash(s, slim_buf_view(&cat), want));
    CHECK_MEM(confirmed, want, 32);
    /* The first commit of a group has an empty interim hash. */
    CHECK_OK(slim_mls_transcript_confirmed(s, slim_bytes_of(NULL, 0), in, confirmed));
    CHECK_OK(slim_mls_suite_hash(s, in, want));
    CHECK_MEM(confirmed, want, 32);

    CHECK_OK(
        slim_mls_confirmation_tag(s, slim_bytes_of(key, 32), slim_bytes_of(confirmed, 32), tag));
    CHECK_OK(slim_mls_confirmation_tag_verify(
        s, slim_bytes_of(key, 32), slim_bytes_of(confirmed, 32), slim_bytes_of(tag, 32)));
    tag[0] ^= 1;
    CHECK_STATUS(slim_mls_confirmation_tag_verify(s, slim_bytes_of(key, 32),
                                                  slim_bytes_of(confirmed, 32),
                                                  slim_bytes_of(tag, 32)),
                 SLIM_E_MLS_BAD_MAC);
    tag[0] ^= 1;
    /* interim = Hash(confirmed || tag<V>). */
    CHECK_OK(slim_mls_transcript_interim(s, slim_bytes_of(confirmed, 32), slim_bytes_of(tag, 32),
                                         interim));
    cat.len = 0;
    CHECK_OK(slim_buf_append(&cat, confirmed, 32));
    CHECK_OK(slim_buf_append_u8(&cat, 32));
    CHECK_OK(slim_buf_append(&cat, tag, 32));
    CHECK_OK(slim_mls_suite_hash(s, slim_buf_view(&cat), want));
    CHECK_MEM(interim, want, 32);

    slim_buf_cleanup(&cat);
}

TEST(allocation_failures_are_reported) {
    const slim_mls_suite *s = slim_mls_suite_get(1);
    slim_buf gc = SLIM_BUF_INIT;
    encode_gc(1, 0, &gc);
    test_alloc_install();
    bool done = false;
    for (long n = 1; n < 200 && !done; n++) {
        slim_mls_epoch_secrets es;
        uint8_t out[32];
        test_alloc_fail_after(n);
        slim_status st =
            slim_mls_key_schedule_epoch(s, slim_bytes_of(init_secret, 32), slim_bytes_of(NULL, 0),
                                        slim_bytes_of(NULL, 0), slim_buf_view(&gc), &es);
        if (st == SLIM_OK)
            st = slim_mls_exporter(&es, "label", slim_bytes_of(NULL, 0), out, 32);
        test_alloc_fail_after(0);
        if (st == SLIM_OK)
            done = true;
        else
            CHECK_STATUS(st, SLIM_E_NOMEM);
        CHECK_EQ(test_alloc_live(), 0);
    }
    CHECK(done);
    test_alloc_uninstall();
    slim_buf_cleanup(&gc);
}

TEST_MAIN(TEST_ENTRY(schedule_follows_the_diagram), TEST_ENTRY(joiner_gets_the_same_epoch),
          TEST_ENTRY(exporter_and_external_init), TEST_ENTRY(psk_chain),
          TEST_ENTRY(transcript_and_confirmation_tag), TEST_ENTRY(allocation_failures_are_reported))
