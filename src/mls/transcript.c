/* Transcript hashes and confirmation tags (RFC 9420 §8.2). */
#include "mls/transcript.h"
#include "mls/tls.h"

#include <string.h>

slim_status slim_mls_transcript_confirmed(const slim_mls_suite *suite, slim_bytes interim_before,
                                          slim_bytes confirmed_input, uint8_t *out) {
    slim_bytes parts[2] = {interim_before, confirmed_input};
    return slim_mls_hash_parts(suite->hash, parts, 2, out);
}

slim_status slim_mls_transcript_interim(const slim_mls_suite *suite, slim_bytes confirmed,
                                        slim_bytes confirmation_tag, uint8_t *out) {
    uint8_t hdr[4];
    size_t n;
    slim_status st = slim_mls_tls_varint_encode(confirmation_tag.len, hdr, &n);
    if (st != SLIM_OK)
        return st;
    slim_bytes parts[3] = {confirmed, slim_bytes_of(hdr, n), confirmation_tag};
    return slim_mls_hash_parts(suite->hash, parts, 3, out);
}

slim_status slim_mls_confirmation_tag(const slim_mls_suite *suite, slim_bytes confirmation_key,
                                      slim_bytes confirmed_transcript_hash, uint8_t *tag) {
    return slim_mls_suite_mac(suite, confirmation_key, confirmed_transcript_hash, tag);
}

slim_status slim_mls_confirmation_tag_verify(const slim_mls_suite *suite,
                                             slim_bytes confirmation_key,
                                             slim_bytes confirmed_transcript_hash, slim_bytes tag) {
    return slim_mls_suite_mac_verify(suite, confirmation_key, confirmed_transcript_hash, tag);
}
