/*
 * MLS per-message cost: protect + unprotect of a 1 KiB application
 * message as a PrivateMessage (sign, encrypt content and sender data,
 * ratchet; then decrypt both, verify, ratchet), beside the floor: one
 * sign + one verify of the suite's signature scheme over 1 KiB with
 * prepared keys, measured in the same run. Floor and message runs
 * alternate, 5 of each; the medians and their ratio are printed for
 * cipher suites 1 (Ed25519) and 2 (ECDSA P-256).
 *
 * Each run measures CPU time of the benchmark thread
 * (CLOCK_THREAD_CPUTIME_ID: other load on a shared machine does not count
 * as ours) and wall-clock time; the CPU-time ratio is the headline figure.
 * A third measurement draws every reuse guard from RAND_bytes instead of
 * the pool, to show what the pool saves.
 *
 * The sender draws its reuse guards from a slim_mls_rng_pool over the
 * default source, as protect.h recommends; the secret trees bring their
 * prepared primitives.
 *
 *   bench_mls [iterations per run]
 *
 * `bench_mls floor SIZE [ITERATIONS] [--suite N]` instead times the
 * primitives a group's message needs, on SIZE bytes, for
 * bench/client/run.py's `mls` scenario: one sign with the prepared key,
 * one verify with a prepared key, and one verify whose key is imported
 * from its bytes first (as a receiver's group does for every message, its
 * sender's leaf key); 5 alternating runs, the medians in one RESULT line
 * (thread CPU time, us).
 */
#include "bench_args.h"
#include "bench_stats.h"
#include "core/time.h"
#include "mls/protect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS 5

/* The member at leaf 0 of a 2-member group sends to the member at leaf 1;
 * each has its own secret tree, as two processes would. */
typedef struct side {
    slim_mls_framing_ctx ctx;
    slim_mls_secret_tree *tree;
} side;

static const slim_mls_sig_key *the_key;

static slim_status sender_key(void *arg, const slim_mls_framed_content *c,
                              const slim_mls_sig_key **key) {
    (void)arg;
    (void)c;
    *key = the_key;
    return SLIM_OK;
}

static int setup_side(side *sd, const slim_mls_suite *s, slim_bytes gc, const uint8_t *secret) {
    if (slim_mls_framing_init(&sd->ctx, s, gc) != SLIM_OK ||
        slim_mls_secret_tree_new(s, slim_bytes_of(secret, s->nh), 2, &sd->tree) != SLIM_OK)
        return -1;
    sd->ctx.n_leaves = 2;
    sd->ctx.secret_tree = sd->tree;
    sd->ctx.sender_data_secret = slim_bytes_of(secret + 32, s->nh);
    sd->ctx.sender_key = sender_key;
    return 0;
}

static int bench_suite(uint16_t id, long iters) {
    const slim_mls_suite *s = slim_mls_suite_get(id);
    uint8_t group_id[16], zeros[32] = {0}, secrets[64], sk[32], pk[65];
    memset(group_id, 0x42, sizeof group_id);
    for (size_t i = 0; i < sizeof secrets; i++)
        secrets[i] = (uint8_t)(i * 7 + 1);
    slim_mls_group_context gc = {
        .version = SLIM_MLS_VERSION_MLS10,
        .cipher_suite = id,
        .group_id = slim_bytes_of(group_id, sizeof group_id),
        .epoch = 7,
        .tree_hash = slim_bytes_of(zeros, 32),
        .confirmed_transcript_hash = slim_bytes_of(zeros, 32),
    };
    slim_buf gcb = SLIM_BUF_INIT;
    slim_mls_sig_key *sign = NULL, *verify = NULL;
    if (slim_mls_group_context_encode(&gc, &gcb) != SLIM_OK ||
        slim_mls_signature_key_generate(s, slim_mls_rng_default(), sk, pk) != SLIM_OK ||
        slim_mls_sig_key_new(s->sig, slim_bytes_of(sk, s->sig_nsk), true, &sign) != SLIM_OK ||
        slim_mls_sig_key_new(s->sig, slim_bytes_of(pk, s->sig_npk), false, &verify) != SLIM_OK)
        return -1;
    the_key = verify;
    side tx, rx;
    if (setup_side(&tx, s, slim_buf_view(&gcb), secrets) != 0 ||
        setup_side(&rx, s, slim_buf_view(&gcb), secrets) != 0)
        return -1;

    static uint8_t payload[1024];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)i;
    slim_bytes data = slim_bytes_of(payload, sizeof payload);
    slim_buf msg = SLIM_BUF_INIT, plain = SLIM_BUF_INIT, sig = SLIM_BUF_INIT;
    slim_mls_rng_pool pool;
    slim_mls_rng_pool_init(&pool, slim_mls_rng_default());
    /* [what][run]: 0 floor, 1 message (pooled reuse guards), 2 message
     * (RAND_bytes for every reuse guard); CPU and wall time. */
    double cpu[3][RUNS], wall[3][RUNS];
    size_t msg_len = 0;
    for (int run = 0; run < RUNS; run++) {
        for (int what = 0; what < 3; what++) {
            const slim_mls_rng *rng = what == 1 ? &pool.rng : slim_mls_rng_default();
            uint64_t c0 = bench_cpu_ns(), w0 = slim_now_ns();
            for (long i = 0; i < iters; i++) {
                if (what == 0) {
                    sig.len = 0;
                    if (slim_mls_sig_key_sign(sign, data, &sig) != SLIM_OK ||
                        slim_mls_sig_key_verify(verify, data, slim_buf_view(&sig)) != SLIM_OK)
                        return -1;
                    continue;
                }
                slim_mls_authenticated_content ac;
                msg.len = 0;
                if (slim_mls_protect_application(&tx.ctx, 0, sign, slim_bytes_of(NULL, 0), data,
                                                 rng, &msg) != SLIM_OK ||
                    slim_mls_unprotect(&rx.ctx, slim_buf_view(&msg), &plain, &ac) != SLIM_OK ||
                    ac.content.u.application_data.len != sizeof payload)
                    return -1;
            }
            cpu[what][run] = (double)(bench_cpu_ns() - c0) / (double)iters;
            wall[what][run] = (double)(slim_now_ns() - w0) / (double)iters;
        }
        msg_len = msg.len;
    }
    double fc = bench_median(cpu[0], RUNS), mc = bench_median(cpu[1], RUNS),
           rc = bench_median(cpu[2], RUNS);
    double fw = bench_median(wall[0], RUNS), mw = bench_median(wall[1], RUNS),
           rw = bench_median(wall[2], RUNS);
    printf("suite %u %s (%zu bytes on the wire)\n", id, s->name, msg_len);
    printf("                                        CPU time             wall clock\n");
    printf("  floor: sign+verify 1 KiB         %7.1f us %7.0f/s   %7.1f us %7.0f/s\n", fc / 1e3,
           1e9 / fc, fw / 1e3, 1e9 / fw);
    printf("  PrivateMessage protect+unprotect %7.1f us %7.0f/s   %7.1f us %7.0f/s\n", mc / 1e3,
           1e9 / mc, mw / 1e3, 1e9 / mw);
    printf("  ratio to the floor               %7.2fx              %7.2fx  (goal <= 1.20x)\n",
           mc / fc, mw / fw);
    printf("  same, RAND_bytes per reuse guard %7.2fx              %7.2fx\n", rc / fc, rw / fw);
    slim_mls_rng_pool_cleanup(&pool);
    slim_buf_cleanup(&msg);
    slim_buf_cleanup_secret(&plain);
    slim_buf_cleanup(&sig);
    slim_buf_cleanup(&gcb);
    slim_mls_secret_tree_free(tx.tree);
    slim_mls_secret_tree_free(rx.tree);
    slim_mls_sig_key_free(sign);
    slim_mls_sig_key_free(verify);
    return 0;
}

/* `floor SIZE [ITERATIONS] [--suite N]`: sign, verify, import + verify. */
static int bench_floor(int argc, char **argv) {
    long size, iters = 2000, suite = 2;
    int fixed = 0;
    if (argc < 3 || !bench_count(argv[2], "SIZE", 1, 1 << 20, &size))
        return 2;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--suite") == 0 && i + 1 < argc) {
            if (!bench_count(argv[++i], "--suite", 1, 2, &suite))
                return 2;
        } else if (fixed++ == 0) {
            if (!bench_count(argv[i], "ITERATIONS", 1, 1000000000, &iters))
                return 2;
        } else {
            fprintf(stderr, "bench_mls floor: unexpected \"%s\"\n", argv[i]);
            return 2;
        }
    }
    const slim_mls_suite *s = slim_mls_suite_get((uint16_t)suite);
    uint8_t sk[SLIM_MLS_MAX_SIG_PRIVATE], pk[SLIM_MLS_MAX_SIG_PUBLIC];
    slim_mls_sig_key *sign = NULL, *verify = NULL;
    if (slim_mls_signature_key_generate(s, slim_mls_rng_default(), sk, pk) != SLIM_OK ||
        slim_mls_sig_key_new(s->sig, slim_bytes_of(sk, s->sig_nsk), true, &sign) != SLIM_OK ||
        slim_mls_sig_key_new(s->sig, slim_bytes_of(pk, s->sig_npk), false, &verify) != SLIM_OK)
        return 1;
    uint8_t *msg = malloc((size_t)size);
    if (msg == NULL)
        return 1;
    for (long i = 0; i < size; i++)
        msg[i] = (uint8_t)(i * 13 + 5);
    slim_bytes data = slim_bytes_of(msg, (size_t)size);
    slim_buf sig = SLIM_BUF_INIT, one = SLIM_BUF_INIT;
    if (slim_mls_sig_key_sign(sign, data, &sig) != SLIM_OK)
        return 1;
    double t[3][RUNS]; /* sign, verify, import + verify; ns per call */
    for (int run = 0; run < RUNS; run++) {
        for (int what = 0; what < 3; what++) {
            uint64_t c0 = bench_cpu_ns();
            for (long i = 0; i < iters; i++) {
                slim_status st;
                if (what == 0) {
                    one.len = 0;
                    st = slim_mls_sig_key_sign(sign, data, &one);
                } else if (what == 1) {
                    st = slim_mls_sig_key_verify(verify, data, slim_buf_view(&sig));
                } else {
                    st = slim_mls_sig_verify(s->sig, slim_bytes_of(pk, s->sig_npk), data,
                                             slim_buf_view(&sig));
                }
                if (st != SLIM_OK) {
                    fprintf(stderr, "bench_mls floor: %s\n", slim_status_name(st));
                    return 1;
                }
            }
            t[what][run] = (double)(bench_cpu_ns() - c0) / (double)iters;
        }
    }
    printf("RESULT suite=%ld size=%ld iters=%ld sign_us=%.2f verify_us=%.2f "
           "import_verify_us=%.2f\n",
           suite, size, iters, bench_median(t[0], RUNS) / 1e3, bench_median(t[1], RUNS) / 1e3,
           bench_median(t[2], RUNS) / 1e3);
    slim_buf_cleanup(&sig);
    slim_buf_cleanup(&one);
    slim_mls_sig_key_free(sign);
    slim_mls_sig_key_free(verify);
    free(msg);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "floor") == 0 && !bench_help_asked(argc, argv))
        return bench_floor(argc, argv);
    long iters;
    int rc = bench_iterations(argc, argv,
                              "usage: bench_mls [ITERATIONS]   (default 2000)\n"
                              "       bench_mls floor SIZE [ITERATIONS] [--suite N]\n\n"
                              "PrivateMessage protect + unprotect of a 1 KiB application\n"
                              "message for cipher suites 1 and 2, beside one sign + verify of\n"
                              "the suite's signature scheme (the floor); alternating runs,\n"
                              "medians. `floor`: one sign, one verify and one verify with\n"
                              "the key imported from bytes, on SIZE bytes, with suite N\n"
                              "(default 2); one RESULT line, us of thread CPU.\n",
                              2000, &iters);
    if (rc >= 0)
        return rc;
    printf("MLS 1 KiB application message; %ld iterations x %d alternating runs, medians\n", iters,
           RUNS);
    for (uint16_t id = 1; id <= 2; id++) {
        if (bench_suite(id, iters) != 0) {
            fprintf(stderr, "suite %u: setup or a protect/unprotect failed\n", id);
            return 1;
        }
    }
    return 0;
}
