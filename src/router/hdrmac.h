/*
 * Per-hop header MACs on data-plane links, as upstream SLIM's nodes and
 * apps compute them (docs/protocol.md, "Header MAC").
 *
 * Link negotiation carries a fresh X25519 public key each way; both ends
 * derive the link key
 *     key = HKDF-SHA256(salt = link_id, IKM = X25519(sk, peer_pk),
 *                       info = "SLIM-DP-inter-node-hmac-v1", L = 32)
 * and every message with a routing header carries, per hop,
 *     header_mac = HMAC-SHA256(key, "SLIM-DP-HDR-v1\0" || u32le len(link_id)
 *                              || link_id || fields)
 * where `fields` is what slim_wire_mac_fields() writes.
 *
 * The prefix up to and including the link id is the same for every message
 * of a link, so a key holds the SHA-256 states of HMAC's inner hash after
 * that prefix and of its outer hash after the padded key: a tag costs the
 * fields and two finalisations, with no allocation.
 *
 * Pure; a key is a plain value, read-only once made (threads may share it).
 */
#ifndef SLIM_ROUTER_HDRMAC_H
#define SLIM_ROUTER_HDRMAC_H

#include "core/buf.h"
#include "slim/status.h"

#include <openssl/sha.h>
#include <stdbool.h>

#define SLIM_HDRMAC_KEY_SIZE    32 /* X25519 keys and the link key */
#define SLIM_HDRMAC_TAG_SIZE    32
#define SLIM_HDRMAC_LINK_ID_MAX 128

/* OpenSSL's SHA-256 state, copied by value per tag: the EVP interface can
 * only copy a digest state by allocating. */
typedef struct slim_hdrmac_key {
    SHA256_CTX inner; /* after (key ^ ipad) || domain || len(link_id) || link_id */
    SHA256_CTX outer; /* after (key ^ opad) */
} slim_hdrmac_key;

/* A fresh ephemeral X25519 key pair from the system RNG. E_IO, E_MLS_CRYPTO. */
slim_status slim_hdrmac_keypair(uint8_t sk[SLIM_HDRMAC_KEY_SIZE], uint8_t pk[SLIM_HDRMAC_KEY_SIZE]);

/* The link key from our private key and the peer's public key (32 bytes,
 * else E_MLS_BAD_KEY; an all-zero shared secret is E_MLS_DH_ZERO), for the
 * link `link_id` (1 to SLIM_HDRMAC_LINK_ID_MAX bytes, else E_INVALID_ARG). */
slim_status slim_hdrmac_derive(const uint8_t sk[SLIM_HDRMAC_KEY_SIZE], slim_bytes peer_pk,
                               const char *link_id, slim_hdrmac_key *out);

/* A key from the 32-byte link secret itself (tests; the result of the
 * HKDF above). E_INVALID_ARG for a bad link_id. */
slim_status slim_hdrmac_key_init(const uint8_t secret[SLIM_HDRMAC_KEY_SIZE], const char *link_id,
                                 slim_hdrmac_key *out);

/* tag = the header MAC of `fields` under k. */
void slim_hdrmac_tag(const slim_hdrmac_key *k, slim_bytes fields,
                     uint8_t tag[SLIM_HDRMAC_TAG_SIZE]);

/* True when `tag` is the header MAC of `fields` (compared in constant time;
 * a tag of another length is false). */
bool slim_hdrmac_check(const slim_hdrmac_key *k, slim_bytes fields, slim_bytes tag);

/* Wipes a key. */
void slim_hdrmac_key_clear(slim_hdrmac_key *k);

#endif
