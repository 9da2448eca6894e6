/* Default random source on OpenSSL's RAND_bytes, and the small-draw pool. */
#include "mls/rng.h"
#include "core/util.h"

#include <limits.h>
#include <string.h>
#include <openssl/rand.h>

static slim_status openssl_fill(void *ctx, uint8_t *out, size_t n) {
    (void)ctx;
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(out, chunk) != 1)
            return SLIM_E_MLS_RNG;
        out += chunk;
        n -= (size_t)chunk;
    }
    return SLIM_OK;
}

static const slim_mls_rng openssl_rng = {openssl_fill, NULL};

const slim_mls_rng *slim_mls_rng_default(void) {
    return &openssl_rng;
}

slim_status slim_mls_rng_fill(const slim_mls_rng *rng, uint8_t *out, size_t n) {
    if (rng == NULL || rng->fill == NULL)
        return SLIM_E_INVALID_ARG;
    if (n == 0)
        return SLIM_OK;
    return rng->fill(rng->ctx, out, n);
}

/* Requests of this size or more bypass the pool. */
#define POOL_DIRECT (SLIM_MLS_RNG_POOL / 4)

static slim_status pool_fill(void *ctx, uint8_t *out, size_t n) {
    slim_mls_rng_pool *p = ctx;
    if (n >= POOL_DIRECT)
        return slim_mls_rng_fill(p->source, out, n);
    if (p->left < n) {
        slim_status st = slim_mls_rng_fill(p->source, p->bytes, sizeof p->bytes);
        if (st != SLIM_OK) {
            slim_memzero(p->bytes, sizeof p->bytes);
            p->left = 0;
            return st;
        }
        p->left = sizeof p->bytes;
    }
    uint8_t *from = p->bytes + sizeof p->bytes - p->left;
    memcpy(out, from, n);
    slim_memzero(from, n);
    p->left -= n;
    return SLIM_OK;
}

void slim_mls_rng_pool_init(slim_mls_rng_pool *p, const slim_mls_rng *source) {
    memset(p, 0, sizeof *p);
    p->rng.fill = pool_fill;
    p->rng.ctx = p;
    p->source = source;
}

void slim_mls_rng_pool_cleanup(slim_mls_rng_pool *p) {
    slim_memzero(p->bytes, sizeof p->bytes);
    p->left = 0;
}
