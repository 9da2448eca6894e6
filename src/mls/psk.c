/* PreSharedKeyID codec and the psk_secret chain of RFC 9420 §8.4. */
#include "mls/psk.h"
#include "core/util.h"

#include <string.h>

static bool usage_ok(uint8_t usage) {
    return usage >= SLIM_MLS_PSK_USAGE_APPLICATION && usage <= SLIM_MLS_PSK_USAGE_BRANCH;
}

slim_status slim_mls_psk_id_encode(slim_mls_tls_writer *w, const slim_mls_psk_id *id) {
    switch (id->psktype) {
    case SLIM_MLS_PSK_EXTERNAL:
        slim_mls_tls_put_u8(w, id->psktype);
        slim_mls_tls_put_opaque(w, id->psk_id);
        break;
    case SLIM_MLS_PSK_RESUMPTION:
        if (!usage_ok(id->usage))
            return slim_mls_tls_writer_fail(w, SLIM_E_MLS_BAD_VALUE);
        slim_mls_tls_put_u8(w, id->psktype);
        slim_mls_tls_put_u8(w, id->usage);
        slim_mls_tls_put_opaque(w, id->psk_group_id);
        slim_mls_tls_put_u64(w, id->psk_epoch);
        break;
    default:
        return slim_mls_tls_writer_fail(w, SLIM_E_MLS_BAD_VALUE);
    }
    return slim_mls_tls_put_opaque(w, id->psk_nonce);
}

slim_status slim_mls_psk_id_decode(slim_mls_tls_reader *r, slim_mls_psk_id *id) {
    memset(id, 0, sizeof *id);
    slim_mls_tls_get_u8(r, &id->psktype);
    if (slim_mls_tls_reader_status(r) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    switch (id->psktype) {
    case SLIM_MLS_PSK_EXTERNAL:
        slim_mls_tls_get_opaque(r, &id->psk_id);
        break;
    case SLIM_MLS_PSK_RESUMPTION:
        slim_mls_tls_get_u8(r, &id->usage);
        if (slim_mls_tls_reader_status(r) == SLIM_OK && !usage_ok(id->usage))
            return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_VALUE);
        slim_mls_tls_get_opaque(r, &id->psk_group_id);
        slim_mls_tls_get_u64(r, &id->psk_epoch);
        break;
    default:
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_VALUE);
    }
    return slim_mls_tls_get_opaque(r, &id->psk_nonce);
}

/* psk_input = ExpandWithLabel(Extract(0, psk), "derived psk", PSKLabel, Nh). */
static slim_status psk_input(const slim_mls_suite *s, const slim_mls_psk *psk, uint16_t index,
                             uint16_t count, uint8_t *out) {
    uint8_t zeros[SLIM_MLS_MAX_HASH] = {0};
    uint8_t extracted[SLIM_MLS_MAX_HASH];
    slim_buf label = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &label);
    slim_mls_psk_id_encode(&w, &psk->id);
    slim_mls_tls_put_u16(&w, index);
    slim_mls_tls_put_u16(&w, count);
    slim_status st = slim_mls_tls_writer_status(&w);
    if (st == SLIM_OK)
        st = slim_mls_kdf_extract(s, slim_bytes_of(zeros, s->nh), psk->secret, extracted);
    if (st == SLIM_OK)
        st = slim_mls_expand_with_label(s, slim_bytes_of(extracted, s->nh), "derived psk",
                                        slim_buf_view(&label), out, s->nh);
    slim_memzero(extracted, sizeof extracted);
    slim_buf_cleanup(&label);
    return st;
}

slim_status slim_mls_psk_secret(const slim_mls_suite *suite, const slim_mls_psk *psks, size_t n,
                                uint8_t *out) {
    if (n > 0xffff)
        return SLIM_E_MLS_PSK_COUNT;
    uint8_t secret[SLIM_MLS_MAX_HASH] = {0};
    uint8_t input[SLIM_MLS_MAX_HASH];
    uint8_t next[SLIM_MLS_MAX_HASH];
    slim_status st = SLIM_OK;
    for (size_t i = 0; i < n && st == SLIM_OK; i++) {
        st = psk_input(suite, &psks[i], (uint16_t)i, (uint16_t)n, input);
        if (st == SLIM_OK)
            st = slim_mls_kdf_extract(suite, slim_bytes_of(input, suite->nh),
                                      slim_bytes_of(secret, suite->nh), next);
        if (st == SLIM_OK)
            memcpy(secret, next, suite->nh);
    }
    slim_memzero(next, sizeof next);
    if (st == SLIM_OK)
        memcpy(out, secret, suite->nh);
    slim_memzero(secret, sizeof secret);
    slim_memzero(input, sizeof input);
    return st;
}
