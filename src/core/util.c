#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

void slim_memzero(void *p, size_t n) {
    if (p == NULL || n == 0)
        return;
    /* glibc's explicit_bzero is guaranteed not to be optimised away. */
    explicit_bzero(p, n);
}

int slim_ct_equal(const void *a, const void *b, size_t n) {
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    /* Map 0 -> 1 and 1..255 -> 0 without a data-dependent branch. */
    return (int)(1 & ((uint32_t)(diff - 1) >> 8));
}

int slim_hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

slim_status slim_hex_encode(const uint8_t *p, size_t n, char *out, size_t cap) {
    static const char digits[] = "0123456789abcdef";
    if (n > (SIZE_MAX - 1) / 2 || cap < 2 * n + 1)
        return SLIM_E_BUFFER_SMALL;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
    return SLIM_OK;
}

slim_status slim_hex_decode(const char *hex, size_t len, uint8_t *out, size_t cap,
                            size_t *out_len) {
    if (len % 2 != 0)
        return SLIM_E_INVALID_ARG;
    if (cap < len / 2)
        return SLIM_E_BUFFER_SMALL;
    for (size_t i = 0; i < len; i += 2) {
        int hi = slim_hex_digit(hex[i]);
        int lo = slim_hex_digit(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return SLIM_E_INVALID_ARG;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = len / 2;
    return SLIM_OK;
}

slim_status slim_random_bytes(void *buf, size_t n) {
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return SLIM_E_IO;
        }
        p += r;
        n -= (size_t)r;
    }
    return SLIM_OK;
}

slim_status slim_uuid_v4(char out[37]) {
    uint8_t b[16];
    slim_status st = slim_random_bytes(b, sizeof b);
    if (st != SLIM_OK)
        return st;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return SLIM_OK;
}
