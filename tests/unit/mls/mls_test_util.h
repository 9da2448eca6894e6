/* Helpers shared by the MLS unit tests: hex literals and test RNGs. */
#ifndef SLIM_MLS_TEST_UTIL_H
#define SLIM_MLS_TEST_UTIL_H

#include "core/util.h"
#include "mls/rng.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

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

/* When the environment variable SLIM_FUZZ_SEED_DIR is set, writes
 * `prefix` then `bytes` as the file <dir>/<target>/<name>: the unit tests
 * make the MLS fuzz targets' seed corpora this way (see docs/mls.md). A
 * write that fails fails the test. Without the variable, nothing. */
static inline void write_fuzz_seed(const char *target, const char *name, uint8_t prefix,
                                   slim_bytes bytes) {
    const char *dir = getenv("SLIM_FUZZ_SEED_DIR");
    if (dir == NULL || dir[0] == 0)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", dir, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(&prefix, 1, 1, f) != 1 ||
        (bytes.len > 0 && fwrite(bytes.ptr, 1, bytes.len, f) != bytes.len)) {
        TEST_FAIL_AT("cannot write seed %s", path);
    }
    if (f != NULL)
        fclose(f);
}

#endif
