/*
 * SipHash, written from the description in Aumasson and Bernstein's paper:
 * the state is four 64-bit words initialised from the key and the constants
 * "somepseudorandomlygeneratedbytes"; each 8-byte little-endian message word
 * m is absorbed as v3 ^= m, c SipRounds, v0 ^= m; the last word carries the
 * remaining bytes and the length (mod 256) in its top byte; then v2 ^= 0xff
 * and d SipRounds, and the result is v0 ^ v1 ^ v2 ^ v3.
 */
#include "core/khash.h"
#include "core/util.h"

#include <pthread.h>
#include <string.h>

typedef struct sip {
    uint64_t v0, v1, v2, v3;
} sip;

static inline uint64_t rotl(uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
}

static inline void round1(sip *s) {
    s->v0 += s->v1;
    s->v1 = rotl(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl(s->v2, 32);
}

static inline uint64_t load_le(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void start(sip *s, uint64_t k0, uint64_t k1) {
    s->v0 = k0 ^ 0x736f6d6570736575ull;
    s->v1 = k1 ^ 0x646f72616e646f6dull;
    s->v2 = k0 ^ 0x6c7967656e657261ull;
    s->v3 = k1 ^ 0x7465646279746573ull;
}

static inline void absorb(sip *s, uint64_t m, int c) {
    s->v3 ^= m;
    for (int i = 0; i < c; i++)
        round1(s);
    s->v0 ^= m;
}

static inline uint64_t finish(sip *s, int d) {
    s->v2 ^= 0xff;
    for (int i = 0; i < d; i++)
        round1(s);
    return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

static uint64_t sip_bytes(uint64_t k0, uint64_t k1, int c, int d, const uint8_t *p, size_t len) {
    sip s;
    start(&s, k0, k1);
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8)
        absorb(&s, load_le(p + i, 8), c);
    absorb(&s, load_le(p + whole, len - whole) | (uint64_t)(len & 0xff) << 56, c);
    return finish(&s, d);
}

uint64_t slim_siphash(const uint8_t key[16], int c, int d, const void *data, size_t len) {
    return sip_bytes(load_le(key, 8), load_le(key + 8, 8), c, d, data, len);
}

/* ---- the process key ---- */

static uint64_t key0, key1;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void key_init(void) {
    uint8_t k[16];
    if (slim_random_bytes(k, sizeof k) != SLIM_OK) {
        /* getrandom does not fail on a running Linux; an address and the
         * clock at least differ between runs. */
        uint64_t a = (uint64_t)(uintptr_t)&key0 * 0x9e3779b97f4a7c15ull;
        memcpy(k, &a, 8);
        memcpy(k + 8, &a, 8);
    }
    key0 = load_le(k, 8);
    key1 = load_le(k + 8, 8);
    slim_memzero(k, sizeof k);
}

void slim_khash_set_key(const uint8_t key[16]) {
    pthread_once(&key_once, key_init);
    key0 = load_le(key, 8);
    key1 = load_le(key + 8, 8);
}

uint64_t slim_khash(const void *data, size_t len) {
    pthread_once(&key_once, key_init);
    return sip_bytes(key0, key1, 1, 3, data, len);
}

uint64_t slim_khash_words(const uint64_t *w, size_t n) {
    pthread_once(&key_once, key_init);
    sip s;
    start(&s, key0, key1);
    for (size_t i = 0; i < n; i++)
        absorb(&s, w[i], 1);
    absorb(&s, (uint64_t)((n * 8) & 0xff) << 56, 1);
    return finish(&s, 3);
}
