/*
 * Base64 (RFC 4648): the standard alphabet (§4, '+' '/') and the URL-safe
 * one (§5, '-' '_'), with or without '=' padding.
 *
 * Decoding is strict, so that one byte string has exactly one accepted
 * text form per set of flags: a character outside the chosen alphabet, a
 * length that leaves one character over (n % 4 == 1), padding where the
 * flags forbid it or padding that is not the canonical one (a padded text
 * is a multiple of 4 long and has exactly as many '=' as the last group
 * needs), and non-zero unused bits in the last character are all refused.
 * That is also what Rust's `base64` crate does with its STANDARD and
 * URL_SAFE_NO_PAD engines, which upstream SLIM's identity tokens use.
 *
 * Pure, no state: thread-safe.
 */
#ifndef SLIM_CORE_BASE64_H
#define SLIM_CORE_BASE64_H

#include "core/buf.h"

/* Flags for the calls below; 0 = standard alphabet, no padding. */
enum {
    SLIM_B64_URL = 1,          /* '-' and '_' instead of '+' and '/' */
    SLIM_B64_PAD = 2,          /* encode: pad with '='; decode: canonical padding required */
    SLIM_B64_PAD_OPTIONAL = 4, /* decode only: canonical padding allowed, not required */
};

/* Length of the encoding of n bytes under flags (only SLIM_B64_PAD
 * matters). n must be below SIZE_MAX / 4 * 3. */
size_t slim_b64_encoded_len(size_t n, int flags);

/* Appends the encoding of `in`. E_OVERFLOW for an input too long to
 * encode, E_NOMEM. */
slim_status slim_b64_encode(slim_bytes in, int flags, slim_buf *out);

/* Decodes `in` into out[0..cap); *out_len gets the decoded length.
 * E_INVALID_ARG when `in` is not valid under flags (see above),
 * E_BUFFER_SMALL when the result does not fit (nothing written in either
 * case). */
slim_status slim_b64_decode_to(slim_str in, int flags, uint8_t *out, size_t cap, size_t *out_len);

/* As slim_b64_decode_to, appending to a buffer. E_INVALID_ARG (nothing
 * appended), E_NOMEM. */
slim_status slim_b64_decode(slim_str in, int flags, slim_buf *out);

#endif
