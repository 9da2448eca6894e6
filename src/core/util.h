/*
 * Small helpers every module needs: wiping secrets, constant-time
 * comparison, and hex conversion (logs, tests, vector runners).
 */
#ifndef SLIM_CORE_UTIL_H
#define SLIM_CORE_UTIL_H

#include "slim/common.h"
#include "slim/status.h"

#define SLIM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Overwrites n bytes with zeros in a way the compiler may not elide. */
void slim_memzero(void *p, size_t n);

/* 1 when a[0..n) == b[0..n), 0 otherwise, in time that depends only on n. */
int slim_ct_equal(const void *a, const void *b, size_t n);

/* Writes 2*n lowercase hex digits and a NUL into out (cap >= 2*n+1).
 * SLIM_E_BUFFER_SMALL when it does not fit. */
slim_status slim_hex_encode(const uint8_t *p, size_t n, char *out, size_t cap);

/* Decodes hex text of length len (even, either case) into out (cap bytes);
 * *out_len receives len/2. SLIM_E_INVALID_ARG on a bad digit or odd length,
 * SLIM_E_BUFFER_SMALL when it does not fit. */
slim_status slim_hex_decode(const char *hex, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* The value of one hex digit, or -1. */
int slim_hex_digit(char c);

/* Fills buf with n bytes from the kernel's CSPRNG (getrandom). E_IO. */
slim_status slim_random_bytes(void *buf, size_t n);

/* Writes a random (version 4) UUID in text form and a NUL. E_IO. */
slim_status slim_uuid_v4(char out[37]);

#endif
