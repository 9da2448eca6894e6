/*
 * Keyed hashing for hash-table placement.
 *
 * Several tables are keyed by values a peer chooses (names, subscription
 * ids, message ids). With an unkeyed hash a peer can pick keys that all land
 * in one bucket and turn every lookup into a walk of a long chain. These
 * functions are SipHash-1-3 (Aumasson and Bernstein, "SipHash: a fast
 * short-input PRF", with one compression and three finalization rounds)
 * under a 128-bit key drawn from getrandom once per process, so a peer
 * cannot predict where its keys land.
 *
 * The values are for placement only: they differ between processes and are
 * never sent anywhere. (Name hashes on the wire are XXH64, see name.h.)
 *
 * Keys this process chooses itself (connection ids) need no key: they go
 * through slim_mix64, a cheap bijective mixer.
 *
 * Thread-safe: the key is set once, on first use.
 */
#ifndef SLIM_CORE_KHASH_H
#define SLIM_CORE_KHASH_H

#include <stddef.h>
#include <stdint.h>

/* The keyed hash of len bytes. */
uint64_t slim_khash(const void *data, size_t len);

/* The keyed hash of n 64-bit words; equal to slim_khash() over their
 * little-endian bytes, without the copy. */
uint64_t slim_khash_words(const uint64_t *w, size_t n);

static inline uint64_t slim_khash_u64(uint64_t v) {
    return slim_khash_words(&v, 1);
}

/* Spreads the bits of a key this process chose (a connection id) for table
 * placement; never for keys a peer chooses. */
static inline uint64_t slim_mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Replaces the process key (tests and fuzz targets that need the same
 * placement on every run). Call before any table exists. */
void slim_khash_set_key(const uint8_t key[16]);

/* SipHash with c compression and d finalization rounds under `key`, for
 * checking this implementation against the published vectors. */
uint64_t slim_siphash(const uint8_t key[16], int c, int d, const void *data, size_t len);

#endif
