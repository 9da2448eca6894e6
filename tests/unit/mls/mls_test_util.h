/* Helpers shared by the MLS unit tests: hex literals and test RNGs. */
#ifndef SLIM_MLS_TEST_UTIL_H
#define SLIM_MLS_TEST_UTIL_H

#include "core/util.h"
#include "mls/rng.h"
#include "test.h"

/* Decodes hex into out (cap bytes) and returns the length; a bad literal
 * fails the test. */
static inline size_t unhex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = 0;
    if (slim_hex_decode(hex, strlen(hex), out, cap, &n) != SLIM_OK) {
        TEST_FAIL_AT("bad hex literal %s", hex);
        return 0;
    }
    return n;
}

/* A view of a hex literal, decoded into `buf`. */
#define HEXV(buf, hex) slim_bytes_of((buf), unhex((hex), (buf), sizeof(buf)))

/* Deterministic generator: a counter mixed into every byte. */
static inline slim_status counting_fill(void *ctx, uint8_t *out, size_t n) {
    uint32_t *state = ctx;
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1103515245u + 12345u;
        out[i] = (uint8_t)(*state >> 16);
    }
    return SLIM_OK;
}

static inline slim_status failing_fill(void *ctx, uint8_t *out, size_t n) {
    (void)ctx;
    (void)out;
    (void)n;
    return SLIM_E_MLS_RNG;
}

#endif
