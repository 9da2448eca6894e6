/*
 * Shared definitions for the public SLIM headers: the export macro and the
 * byte-view value type that crosses every API boundary.
 */
#ifndef SLIM_COMMON_H
#define SLIM_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SLIM_BUILDING) && defined(__GNUC__)
#define SLIM_API __attribute__((visibility("default")))
#else
#define SLIM_API
#endif

/* A borrowed run of bytes. It never owns its memory; the comment of the
 * function that hands one out says how long it stays valid. */
typedef struct slim_bytes {
    const uint8_t *ptr;
    size_t len;
} slim_bytes;

/* A borrowed run of text, not necessarily NUL-terminated. */
typedef struct slim_str {
    const char *ptr;
    size_t len;
} slim_str;

#ifdef __cplusplus
}
#endif
#endif
