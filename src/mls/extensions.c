/*
 * Extension lists and known extension bodies. The duplicate check is
 * linear however long the list (a quadratic scan would let a long list
 * burn CPU): short lists compare types directly, long ones use a bit set.
 */
#include "mls/extensions.h"

#include <string.h>

/* Lists of up to SHORT_LIST entries (all real ones) are checked by
 * comparing each type with those before it; from then on a 65536-bit set
 * of the types seen takes over. */
#define SHORT_LIST 16

slim_status slim_mls_extension_list_check(slim_bytes body) {
    uint16_t first[SHORT_LIST];
    uint64_t seen[65536 / 64];
    size_t n = 0;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, body);
    while (slim_mls_tls_reader_more(&r)) {
        slim_mls_extension ext;
        if (slim_mls_extension_decode(&r, &ext) != SLIM_OK)
            break;
        uint16_t t = ext.type;
        if (n < SHORT_LIST) {
            for (size_t i = 0; i < n; i++) {
                if (first[i] == t)
                    return SLIM_E_MLS_DUPLICATE_EXTENSION;
            }
            first[n++] = t;
            if (n == SHORT_LIST) {
                memset(seen, 0, sizeof seen);
                for (size_t i = 0; i < n; i++)
                    seen[first[i] / 64] |= (uint64_t)1 << (first[i] % 64);
            }
            continue;
        }
        uint64_t bit = (uint64_t)1 << (t % 64);
        if (seen[t / 64] & bit)
            return SLIM_E_MLS_DUPLICATE_EXTENSION;
        seen[t / 64] |= bit;
    }
    return slim_mls_tls_reader_status(&r);
}

static slim_status elem_extension(slim_mls_tls_reader *r, void *arg) {
    (void)arg;
    slim_mls_extension ext;
    return slim_mls_extension_decode(r, &ext);
}

slim_status slim_mls_extension_list_decode(slim_mls_tls_reader *r, slim_mls_vec *out) {
    slim_mls_vec v;
    if (slim_mls_tls_get_vec(r, elem_extension, NULL, &v) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    slim_status st = slim_mls_extension_list_check(v.body);
    if (st != SLIM_OK)
        return slim_mls_tls_reader_fail(r, st);
    *out = v;
    return SLIM_OK;
}

slim_status slim_mls_extension_list_encode(slim_mls_tls_writer *w, const slim_mls_vec *list) {
    return slim_mls_tls_put_vec(w, list);
}

slim_status slim_mls_extension_list_find(slim_bytes body, uint16_t type, slim_mls_extension *ext,
                                         bool *found) {
    *found = false;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, body);
    while (slim_mls_tls_reader_more(&r)) {
        slim_mls_extension e;
        if (slim_mls_extension_decode(&r, &e) != SLIM_OK)
            break;
        if (e.type == type) {
            *ext = e;
            *found = true;
            return SLIM_OK;
        }
    }
    return slim_mls_tls_reader_status(&r);
}

slim_status slim_mls_required_capabilities_encode(slim_mls_tls_writer *w,
                                                  const slim_mls_required_capabilities *rc) {
    slim_mls_tls_put_vec(w, &rc->extension_types);
    slim_mls_tls_put_vec(w, &rc->proposal_types);
    return slim_mls_tls_put_vec(w, &rc->credential_types);
}

slim_status slim_mls_required_capabilities_decode(slim_mls_tls_reader *r,
                                                  slim_mls_required_capabilities *rc) {
    slim_mls_required_capabilities v;
    slim_mls_tls_get_vec(r, slim_mls_tls_elem_u16, NULL, &v.extension_types);
    slim_mls_tls_get_vec(r, slim_mls_tls_elem_u16, NULL, &v.proposal_types);
    slim_mls_tls_get_vec(r, slim_mls_tls_elem_u16, NULL, &v.credential_types);
    slim_status st = slim_mls_tls_reader_status(r);
    if (st == SLIM_OK)
        *rc = v;
    return st;
}

slim_status slim_mls_external_pub_encode(slim_mls_tls_writer *w, slim_bytes external_pub) {
    return slim_mls_tls_put_opaque(w, external_pub);
}

slim_status slim_mls_external_pub_decode(slim_mls_tls_reader *r, slim_bytes *external_pub) {
    return slim_mls_tls_get_opaque(r, external_pub);
}
