/*
 * The random source of the MLS module. Nothing in src/mls draws randomness
 * on its own: every function that needs fresh bytes takes a
 * `const slim_mls_rng *`, so tests can inject a deterministic source and an
 * embedder its own generator. slim_mls_rng_default() fills from OpenSSL's
 * RAND_bytes (the process CSPRNG).
 *
 * One exception is documented where it applies: ECDSA signing draws its
 * per-signature nonce inside OpenSSL (OpenSSL 3.0 offers no way to pass
 * one in, and deterministic ECDSA arrived only in 3.2).
 */
#ifndef SLIM_MLS_RNG_H
#define SLIM_MLS_RNG_H

#include "slim/status.h"

typedef struct slim_mls_rng {
    /* Fills out[0..n) with random bytes. Returns SLIM_OK, or a failure
     * (E_MLS_RNG for a generator that cannot deliver). */
    slim_status (*fill)(void *ctx, uint8_t *out, size_t n);
    void *ctx; /* passed to fill */
} slim_mls_rng;

/* The default source (OpenSSL RAND_bytes). Static, const, thread-safe. */
const slim_mls_rng *slim_mls_rng_default(void);

/* Calls rng->fill; E_INVALID_ARG for a NULL rng or fill. */
slim_status slim_mls_rng_fill(const slim_mls_rng *rng, uint8_t *out, size_t n);

#endif
