/*
 * Header MACs: HMAC-SHA256 (RFC 2104) with both hash states prepared once
 * per link, and the link key from X25519 and HKDF-SHA256. Every primitive
 * is OpenSSL's (X25519 and HKDF through src/mls, SHA-256 here).
 *
 * OpenSSL 3.0 deprecates the SHA256_* functions in favour of EVP, but EVP
 * cannot copy a digest state without an allocation, and a tag per message
 * per link is the hot path; they remain part of OpenSSL 3.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "router/hdrmac.h"
#include "core/util.h"
#include "mls/pkey.h"
#include "mls/primitives.h"

#include <openssl/crypto.h>
#include <string.h>

#define BLOCK 64

static const char DOMAIN[] = "SLIM-DP-HDR-v1"; /* and its NUL: 15 bytes */
static const char HKDF_INFO[] = "SLIM-DP-inter-node-hmac-v1";

slim_status slim_hdrmac_keypair(uint8_t sk[SLIM_HDRMAC_KEY_SIZE],
                                uint8_t pk[SLIM_HDRMAC_KEY_SIZE]) {
    slim_status st = slim_random_bytes(sk, SLIM_HDRMAC_KEY_SIZE);
    if (st == SLIM_OK)
        st = slim_mls_dh_public(SLIM_MLS_DH_X25519, slim_bytes_of(sk, SLIM_HDRMAC_KEY_SIZE), pk);
    if (st != SLIM_OK)
        slim_memzero(sk, SLIM_HDRMAC_KEY_SIZE);
    return st;
}

slim_status slim_hdrmac_key_init(const uint8_t secret[SLIM_HDRMAC_KEY_SIZE], const char *link_id,
                                 slim_hdrmac_key *out) {
    size_t id_len = link_id != NULL ? strlen(link_id) : 0;
    if (id_len == 0 || id_len > SLIM_HDRMAC_LINK_ID_MAX)
        return SLIM_E_INVALID_ARG;
    uint8_t pad[BLOCK];
    memset(pad, 0x36, sizeof pad);
    for (int i = 0; i < SLIM_HDRMAC_KEY_SIZE; i++)
        pad[i] ^= secret[i];
    uint8_t len[4] = {(uint8_t)id_len, (uint8_t)(id_len >> 8), (uint8_t)(id_len >> 16),
                      (uint8_t)(id_len >> 24)};
    slim_hdrmac_key k;
    SHA256_Init(&k.inner);
    SHA256_Update(&k.inner, pad, BLOCK);
    SHA256_Update(&k.inner, DOMAIN, sizeof DOMAIN);
    SHA256_Update(&k.inner, len, sizeof len);
    SHA256_Update(&k.inner, link_id, id_len);
    for (int i = 0; i < BLOCK; i++)
        pad[i] ^= 0x36 ^ 0x5c;
    SHA256_Init(&k.outer);
    SHA256_Update(&k.outer, pad, BLOCK);
    slim_memzero(pad, sizeof pad);
    *out = k;
    slim_memzero(&k, sizeof k);
    return SLIM_OK;
}

slim_status slim_hdrmac_derive(const uint8_t sk[SLIM_HDRMAC_KEY_SIZE], slim_bytes peer_pk,
                               const char *link_id, slim_hdrmac_key *out) {
    if (peer_pk.len != SLIM_HDRMAC_KEY_SIZE)
        return SLIM_E_MLS_BAD_KEY;
    size_t id_len = link_id != NULL ? strlen(link_id) : 0;
    if (id_len == 0 || id_len > SLIM_HDRMAC_LINK_ID_MAX)
        return SLIM_E_INVALID_ARG;
    uint8_t shared[SLIM_HDRMAC_KEY_SIZE], prk[SLIM_HDRMAC_KEY_SIZE], secret[SLIM_HDRMAC_KEY_SIZE];
    slim_status st =
        slim_mls_dh(SLIM_MLS_DH_X25519, slim_bytes_of(sk, SLIM_HDRMAC_KEY_SIZE), peer_pk, shared);
    if (st == SLIM_OK)
        st = slim_mls_hkdf_extract(SLIM_MLS_HASH_SHA256, slim_bytes_of(link_id, id_len),
                                   slim_bytes_of(shared, sizeof shared), prk);
    if (st == SLIM_OK)
        st = slim_mls_hkdf_expand(SLIM_MLS_HASH_SHA256, slim_bytes_of(prk, sizeof prk),
                                  slim_bytes_of(HKDF_INFO, sizeof HKDF_INFO - 1), secret,
                                  sizeof secret);
    if (st == SLIM_OK)
        st = slim_hdrmac_key_init(secret, link_id, out);
    slim_memzero(shared, sizeof shared);
    slim_memzero(prk, sizeof prk);
    slim_memzero(secret, sizeof secret);
    return st;
}

void slim_hdrmac_tag(const slim_hdrmac_key *k, slim_bytes fields,
                     uint8_t tag[SLIM_HDRMAC_TAG_SIZE]) {
    SHA256_CTX c = k->inner;
    uint8_t inner[SHA256_DIGEST_LENGTH];
    SHA256_Update(&c, fields.ptr, fields.len);
    SHA256_Final(inner, &c);
    c = k->outer;
    SHA256_Update(&c, inner, sizeof inner);
    SHA256_Final(tag, &c);
    slim_memzero(&c, sizeof c);
}

bool slim_hdrmac_check(const slim_hdrmac_key *k, slim_bytes fields, slim_bytes tag) {
    if (tag.len != SLIM_HDRMAC_TAG_SIZE)
        return false;
    uint8_t want[SLIM_HDRMAC_TAG_SIZE];
    slim_hdrmac_tag(k, fields, want);
    return CRYPTO_memcmp(want, tag.ptr, sizeof want) == 0;
}

void slim_hdrmac_key_clear(slim_hdrmac_key *k) {
    slim_memzero(k, sizeof *k);
}
