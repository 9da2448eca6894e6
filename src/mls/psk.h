/*
 * Pre-shared keys in the key schedule (RFC 9420 §8.4): the PreSharedKeyID
 * codec and the psk_secret chain.
 *
 * Decoding returns views into the input. Pure; no allocation beyond the
 * scratch buffers of one call.
 */
#ifndef SLIM_MLS_PSK_H
#define SLIM_MLS_PSK_H

#include "mls/crypto.h"
#include "mls/tls.h"
#include "slim/status.h"

/* enum { reserved(0), external(1), resumption(2), (255) } PSKType; */
#define SLIM_MLS_PSK_EXTERNAL   1
#define SLIM_MLS_PSK_RESUMPTION 2

/* enum { reserved(0), application(1), reinit(2), branch(3), (255) }
 * ResumptionPSKUsage; */
#define SLIM_MLS_PSK_USAGE_APPLICATION 1
#define SLIM_MLS_PSK_USAGE_REINIT      2
#define SLIM_MLS_PSK_USAGE_BRANCH      3

/*
 * struct {
 *   PSKType psktype;
 *   select (PreSharedKeyID.psktype) {
 *     case external:
 *       opaque psk_id<V>;
 *
 *     case resumption:
 *       ResumptionPSKUsage usage;
 *       opaque psk_group_id<V>;
 *       uint64 psk_epoch;
 *   };
 *   opaque psk_nonce<V>;
 * } PreSharedKeyID;
 */
typedef struct slim_mls_psk_id {
    uint8_t psktype;
    slim_bytes psk_id;       /* external */
    uint8_t usage;           /* resumption */
    slim_bytes psk_group_id; /* resumption */
    uint64_t psk_epoch;      /* resumption */
    slim_bytes psk_nonce;
} slim_mls_psk_id;

/* Writes a PreSharedKeyID. E_MLS_BAD_VALUE for a psktype or usage that is
 * not defined. */
slim_status slim_mls_psk_id_encode(slim_mls_tls_writer *w, const slim_mls_psk_id *id);

/* Reads a PreSharedKeyID (views into the reader's input). E_MLS_BAD_VALUE
 * for an undefined psktype or usage. */
slim_status slim_mls_psk_id_decode(slim_mls_tls_reader *r, slim_mls_psk_id *id);

/* One PSK for the chain: its id and its value. */
typedef struct slim_mls_psk {
    slim_mls_psk_id id;
    slim_bytes secret;
} slim_mls_psk;

/*
 * struct {
 *     PreSharedKeyID id;
 *     uint16 index;
 *     uint16 count;
 * } PSKLabel;
 *
 * psk_extracted_[i] = KDF.Extract(0, psk_[i])
 * psk_input_[i] = ExpandWithLabel(psk_extracted_[i], "derived psk", PSKLabel, KDF.Nh)
 * psk_secret_[0] = 0
 * psk_secret_[i] = KDF.Extract(psk_input_[i-1], psk_secret_[i-1])
 *
 * out[0..Nh) = psk_secret_[n]: Nh zero bytes when n == 0.
 * E_MLS_PSK_COUNT for n above 65535.
 */
slim_status slim_mls_psk_secret(const slim_mls_suite *suite, const slim_mls_psk *psks, size_t n,
                                uint8_t *out);

#endif
