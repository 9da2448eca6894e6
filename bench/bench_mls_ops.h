/*
 * What the MLS benchmark programs (bench_mls_tree, bench_mls_group) share:
 * a measured operation (thread CPU time and wall clock per iteration,
 * medians of RUNS runs, public-key operations per iteration counted by
 * src/mls/pkey.c), the cost of one public-key operation of each kind
 * measured in the same invocation (so each row can say what share of
 * its time those operations take), and the row printer.
 *
 * The includer defines RUNS and BENCH_NAME (for failure messages).
 */
#ifndef SLIM_BENCH_MLS_OPS_H
#define SLIM_BENCH_MLS_OPS_H

#include "bench_stats.h"
#include "core/time.h"
#include "mls/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL_IF(cond, what)                                                                        \
    do {                                                                                           \
        if (cond) {                                                                                \
            fprintf(stderr, "%s: %s failed (%s:%d)\n", BENCH_NAME, what, __FILE__, __LINE__);      \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define OK(expr) FAIL_IF((expr) != SLIM_OK, #expr)

/* A measured operation: CPU and wall time, public-key operations and node
 * hashes per iteration, per run. */
typedef struct measure {
    const char *name;
    double cpu[RUNS], wall[RUNS];
    slim_mls_pkey_counts ops; /* per iteration, last run */
    double hashes;
} measure;

/* CPU time of one DH, derivation, signature and verification of the
 * suite, measured in the same invocation: what the counted operations
 * would cost alone. */
typedef struct floor_costs {
    double dh, derive, sign, verify;
} floor_costs;

static floor_costs floor_of;

static void print_row(uint32_t n, const measure *m) {
    double cpu[RUNS], wall[RUNS];
    memcpy(cpu, m->cpu, sizeof cpu);
    memcpy(wall, m->wall, sizeof wall);
    double c = bench_median(cpu, RUNS), w = bench_median(wall, RUNS);
    const slim_mls_pkey_counts *o = &m->ops;
    double est = (double)o->dh * floor_of.dh + (double)o->derive_pub * floor_of.derive +
                 (double)o->sign * floor_of.sign + (double)o->verify * floor_of.verify;
    printf("  %5u  %-26s %8.1f us %8.1f us  %3llu = %2llu dh %2llu der %llu sig %llu ver  %3.0f%%",
           n, m->name, c / 1e3, w / 1e3, (unsigned long long)slim_mls_pkey_counts_total(o),
           (unsigned long long)o->dh, (unsigned long long)o->derive_pub,
           (unsigned long long)o->sign, (unsigned long long)o->verify, 100 * est / c);
    if (m->hashes > 0)
        printf("  %.0f node hashes", m->hashes);
    printf("\n");
}

/* Medians of RUNS runs of `iters` calls of each primitive, as TreeKEM
 * calls them (DH and signature verification with keys given as bytes,
 * signing with a prepared key). */
static void measure_floor(const slim_mls_suite *s, long iters) {
    const slim_mls_rng *rng = slim_mls_rng_default();
    slim_mls_dh_group grp =
        s->hpke.kem_id == SLIM_MLS_HPKE_KEM_X25519_SHA256 ? SLIM_MLS_DH_X25519 : SLIM_MLS_DH_P256;
    uint8_t sk[SLIM_MLS_MAX_DH_PRIVATE], pk[SLIM_MLS_MAX_DH_PUBLIC], out[SLIM_MLS_MAX_DH_SECRET];
    uint8_t ssk[SLIM_MLS_MAX_SIG_PRIVATE], spk[SLIM_MLS_MAX_SIG_PUBLIC];
    OK(slim_mls_suite_generate_key_pair(s, rng, sk, pk));
    OK(slim_mls_signature_key_generate(s, rng, ssk, spk));
    slim_mls_sig_key *signer = NULL;
    OK(slim_mls_sig_key_new(s->sig, slim_bytes_of(ssk, s->sig_nsk), true, &signer));
    uint8_t msg[300];
    memset(msg, 0x5a, sizeof msg);
    slim_buf sig = SLIM_BUF_INIT;
    OK(slim_mls_sig_key_sign(signer, slim_bytes_of(msg, sizeof msg), &sig));
    double t[4][RUNS];
    for (int run = 0; run < RUNS; run++) {
        for (int what = 0; what < 4; what++) {
            uint64_t c0 = bench_cpu_ns();
            for (long i = 0; i < iters; i++) {
                slim_buf sig2 = SLIM_BUF_INIT;
                switch (what) {
                case 0:
                    OK(slim_mls_dh(grp, slim_bytes_of(sk, s->kem_nsk),
                                   slim_bytes_of(pk, s->kem_npk), out));
                    break;
                case 1:
                    OK(slim_mls_dh_public(grp, slim_bytes_of(sk, s->kem_nsk), pk));
                    break;
                case 2:
                    OK(slim_mls_sig_key_sign(signer, slim_bytes_of(msg, sizeof msg), &sig2));
                    break;
                default:
                    OK(slim_mls_sig_verify(s->sig, slim_bytes_of(spk, s->sig_npk),
                                           slim_bytes_of(msg, sizeof msg), slim_buf_view(&sig)));
                }
                slim_buf_cleanup(&sig2);
            }
            t[what][run] = (double)(bench_cpu_ns() - c0) / (double)iters;
        }
    }
    floor_of.dh = bench_median(t[0], RUNS);
    floor_of.derive = bench_median(t[1], RUNS);
    floor_of.sign = bench_median(t[2], RUNS);
    floor_of.verify = bench_median(t[3], RUNS);
    printf("  one public-key operation (CPU): dh %.1f us, derive %.1f us, sign %.1f us, verify "
           "%.1f us\n",
           floor_of.dh / 1e3, floor_of.derive / 1e3, floor_of.sign / 1e3, floor_of.verify / 1e3);
    slim_buf_cleanup(&sig);
    slim_mls_sig_key_free(signer);
}

typedef struct clock_mark {
    uint64_t cpu, wall;
    slim_mls_pkey_counts ops;
} clock_mark;

static void mark(clock_mark *c) {
    c->cpu = bench_cpu_ns();
    c->wall = slim_now_ns();
    slim_mls_pkey_counts_get(&c->ops);
}

/* Adds what ran since `start` (iters iterations) to run `run` of m. */
static void record(measure *m, int run, const clock_mark *start, long iters) {
    clock_mark end;
    mark(&end);
    m->cpu[run] = (double)(end.cpu - start->cpu) / (double)iters;
    m->wall[run] = (double)(end.wall - start->wall) / (double)iters;
    m->ops.dh = (end.ops.dh - start->ops.dh) / (uint64_t)iters;
    m->ops.derive_pub = (end.ops.derive_pub - start->ops.derive_pub) / (uint64_t)iters;
    m->ops.sign = (end.ops.sign - start->ops.sign) / (uint64_t)iters;
    m->ops.verify = (end.ops.verify - start->ops.verify) / (uint64_t)iters;
}

#endif
