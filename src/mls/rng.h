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

/*
 * A pool for randomness that is needed often, a few bytes at a time, and
 * is not key material: the 4-byte reuse guard of every PrivateMessage
 * (RFC 9420 §6.3.1). A call to OpenSSL's RAND_bytes costs about 2.5 us
 * whatever its size, more than all the symmetric work of a message; the
 * pool draws SLIM_MLS_RNG_POOL bytes from its source at a time and hands
 * them out in order, each byte once, wiping what it hands out.
 *
 * Not for key generation: the pool holds future output in memory, and a
 * memory compromise would reveal it, where post-compromise security needs
 * the next keys to be unpredictable. Use the source directly for keys.
 *
 * Caller-owned (no global state); one thread at a time. Pass &pool.rng
 * where a `const slim_mls_rng *` is taken; the source is borrowed for the
 * pool's life.
 */
#define SLIM_MLS_RNG_POOL 256

typedef struct slim_mls_rng_pool {
    slim_mls_rng rng; /* fills from the pool */
    const slim_mls_rng *source;
    size_t left; /* unused bytes, at the end of bytes[] */
    uint8_t bytes[SLIM_MLS_RNG_POOL];
} slim_mls_rng_pool;

void slim_mls_rng_pool_init(slim_mls_rng_pool *p, const slim_mls_rng *source);

/* Wipes the unused bytes. The pool can be initialised again. */
void slim_mls_rng_pool_cleanup(slim_mls_rng_pool *p);

#endif
