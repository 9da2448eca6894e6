/*
 * Base64 with a choice of alphabet and padding, strict on decode (see
 * base64.h). The decoder first works out how many characters carry data
 * from the length and the padding rules, so every refusal happens before
 * a byte is written.
 */
#include "core/base64.h"

static const char std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of c in the chosen alphabet, or -1. */
static int sextet(char c, int flags) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    bool url = (flags & SLIM_B64_URL) != 0;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

size_t slim_b64_encoded_len(size_t n, int flags) {
    if (flags & SLIM_B64_PAD)
        return (n + 2) / 3 * 4;
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

slim_status slim_b64_encode(slim_bytes in, int flags, slim_buf *out) {
    if (in.len >= SIZE_MAX / 4 * 3)
        return SLIM_E_OVERFLOW;
    size_t n = slim_b64_encoded_len(in.len, flags);
    if (n == 0)
        return SLIM_OK;
    slim_status st = slim_buf_reserve(out, n);
    if (st != SLIM_OK)
        return st;
    const char *abc = (flags & SLIM_B64_URL) ? url_alphabet : std_alphabet;
    uint8_t *o = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= in.len; i += 3) {
        uint32_t v = (uint32_t)in.ptr[i] << 16 | (uint32_t)in.ptr[i + 1] << 8 | in.ptr[i + 2];
        *o++ = (uint8_t)abc[v >> 18];
        *o++ = (uint8_t)abc[(v >> 12) & 63];
        *o++ = (uint8_t)abc[(v >> 6) & 63];
        *o++ = (uint8_t)abc[v & 63];
    }
    size_t rest = in.len - i;
    if (rest > 0) {
        uint32_t v = (uint32_t)in.ptr[i] << 16 | (rest == 2 ? (uint32_t)in.ptr[i + 1] << 8 : 0);
        *o++ = (uint8_t)abc[v >> 18];
        *o++ = (uint8_t)abc[(v >> 12) & 63];
        if (rest == 2)
            *o++ = (uint8_t)abc[(v >> 6) & 63];
        if (flags & SLIM_B64_PAD)
            for (size_t k = rest; k < 3; k++)
                *o++ = '=';
    }
    out->len += n;
    return SLIM_OK;
}

/* The number of data characters of `in` (without its padding) under the
 * padding rules of flags, or SIZE_MAX when the length or padding is not
 * acceptable. Characters are checked later. */
static size_t data_len(slim_str in, int flags) {
    size_t len = in.len;
    size_t pads = 0;
    while (pads < len && in.ptr[len - 1 - pads] == '=')
        pads++;
    if (pads > 0) {
        if (!(flags & (SLIM_B64_PAD | SLIM_B64_PAD_OPTIONAL)))
            return SIZE_MAX; /* caught as a bad character anyway; refuse early */
        size_t data = len - pads;
        /* Canonical padding: the whole text is a multiple of 4 and the
         * '=' fill exactly the last group (2 after 2 data characters, 1
         * after 3). */
        if (len % 4 != 0 || pads > 2 || (data % 4) + pads != 4)
            return SIZE_MAX;
        return data;
    }
    if ((flags & SLIM_B64_PAD) && len % 4 != 0)
        return SIZE_MAX; /* padding required and missing */
    if (len % 4 == 1)
        return SIZE_MAX; /* one character holds only 6 bits: no whole byte */
    return len;
}

/* Bytes held by `data` data characters (a multiple of 4, plus 2 or 3). */
static size_t decoded_size(size_t data) {
    return data / 4 * 3 + (data % 4 ? data % 4 - 1 : 0);
}

slim_status slim_b64_decode_to(slim_str in, int flags, uint8_t *out, size_t cap, size_t *out_len) {
    if (in.ptr == NULL && in.len > 0)
        return SLIM_E_INVALID_ARG;
    size_t len = data_len(in, flags);
    if (len == SIZE_MAX)
        return SLIM_E_INVALID_ARG;
    size_t n = decoded_size(len);
    /* Check every character and the unused low bits before writing. */
    uint32_t acc = 0;
    size_t bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = sextet(in.ptr[i], flags);
        if (v < 0)
            return SLIM_E_INVALID_ARG;
        acc = ((acc << 6) | (uint32_t)v) & 0xffffu;
        bits = (bits + 6) % 8;
    }
    if (bits != 0 && (acc & ((1u << bits) - 1)) != 0)
        return SLIM_E_INVALID_ARG; /* non-zero bits that belong to no byte */
    if (n > cap)
        return SLIM_E_BUFFER_SMALL;
    acc = 0;
    bits = 0;
    uint8_t *o = out;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 6) | (uint32_t)sextet(in.ptr[i], flags);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *out_len = n;
    return SLIM_OK;
}

slim_status slim_b64_decode(slim_str in, int flags, slim_buf *out) {
    /* A first pass without room validates the text (and reports its
     * size), so a refused text does not grow the buffer either. */
    size_t n = 0;
    slim_status st = slim_b64_decode_to(in, flags, NULL, 0, &n);
    if (st != SLIM_E_BUFFER_SMALL)
        return st; /* refused, or nothing to decode */
    n = decoded_size(data_len(in, flags));
    if ((st = slim_buf_reserve(out, n)) != SLIM_OK)
        return st;
    st = slim_b64_decode_to(in, flags, out->data + out->len, n, &n);
    if (st == SLIM_OK)
        out->len += n;
    return st;
}
