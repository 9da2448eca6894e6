/* Default random source on OpenSSL's RAND_bytes. */
#include "mls/rng.h"

#include <limits.h>
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
