/*
 * SLIM names: `org/namespace/service[/id]`.
 *
 * On the wire and in routing tables a name is numeric: each of the three
 * text components is hashed to 64 bits (XXH64, seed 0, over the UTF-8 bytes
 * followed by one 0xFF byte, as upstream SLIM does) and the id is a 128-bit
 * value. The all-ones id means "any instance of this name". Equality,
 * ordering and hashing use only the numeric parts.
 *
 * The text form of an id is a UUID (8-4-4-4-12 lowercase hex digits); parsing
 * also accepts 1 to 32 hex digits without dashes, read as a number.
 *
 * All functions here are pure and thread-safe.
 */
#ifndef SLIM_NAME_H
#define SLIM_NAME_H

#include "slim/common.h"
#include "slim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest accepted text component, in bytes. */
#define SLIM_NAME_COMPONENT_MAX 1024
/* Length of a formatted id, without the NUL. */
#define SLIM_ID_TEXT_LEN 36

/* A 128-bit instance id; hi holds the upper 64 bits (upstream's id_0). */
typedef struct slim_id {
    uint64_t hi;
    uint64_t lo;
} slim_id;

/* A numeric name: three component hashes and an id. A plain value. */
typedef struct slim_name {
    uint64_t component[3];
    slim_id id;
} slim_name;

/* The text components of a parsed name, borrowed from the parsed text. */
typedef struct slim_name_parts {
    slim_str component[3];
    bool has_id; /* the text had a fourth component */
} slim_name_parts;

static inline slim_id slim_id_any(void) {
    slim_id id = {UINT64_MAX, UINT64_MAX};
    return id;
}

static inline bool slim_id_is_any(slim_id id) {
    return id.hi == UINT64_MAX && id.lo == UINT64_MAX;
}

static inline bool slim_id_equal(slim_id a, slim_id b) {
    return a.hi == b.hi && a.lo == b.lo;
}

/* XXH64(seed 0, s[0..len) || 0xFF). */
SLIM_API uint64_t slim_name_hash_component(const char *s, size_t len);

/* Parses `org/ns/service` or `org/ns/service/id` from text[0..len).
 * On success writes *out (id = any when absent) and, if parts is not NULL,
 * the component views (borrowed from text).
 * Errors: E_NAME_EMPTY_COMPONENT, E_NAME_TOO_FEW_COMPONENTS,
 * E_NAME_TOO_MANY_COMPONENTS, E_NAME_BAD_ID, E_NAME_COMPONENT_TOO_LONG,
 * E_INVALID_ARG (text NULL). */
SLIM_API slim_status slim_name_parse(const char *text, size_t len, slim_name *out,
                                     slim_name_parts *parts);

/* Builds a name from three text components and an id, with the same
 * component checks as slim_name_parse. */
SLIM_API slim_status slim_name_from_strings(const slim_str component[3], slim_id id,
                                            slim_name *out);

/* Parses an id: a UUID (either case) or 1-32 hex digits. E_NAME_BAD_ID. */
SLIM_API slim_status slim_id_parse(const char *text, size_t len, slim_id *out);

/* Writes the UUID text of id and a NUL into out. */
SLIM_API void slim_id_format(slim_id id, char out[SLIM_ID_TEXT_LEN + 1]);

/* Formats the text form `c0/c1/c2` (id any) or `c0/c1/c2/<uuid>` into
 * buf[0..cap) with a NUL; *out_len (may be NULL) receives the length.
 * E_BUFFER_SMALL when it does not fit. */
SLIM_API slim_status slim_name_format(const slim_str component[3], slim_id id, char *buf,
                                      size_t cap, size_t *out_len);

/* Formats the numeric form `<hash0>/<hash1>/<hash2>/<uuid or "any">` with
 * each hash as 16 lowercase hex digits. cap >= 90 always suffices. */
SLIM_API slim_status slim_name_format_hashes(const slim_name *name, char *buf, size_t cap);

SLIM_API bool slim_name_equal(const slim_name *a, const slim_name *b);
/* Total order on the numeric parts: <0, 0, >0. */
SLIM_API int slim_name_compare(const slim_name *a, const slim_name *b);
/* A 64-bit hash of the numeric parts, for hash tables: keyed with a
 * per-process random key (so a peer cannot choose names that collide), hence
 * different in every process; never put it on the wire. */
SLIM_API uint64_t slim_name_hash(const slim_name *name);
/* True when the three component hashes match (ids ignored). */
SLIM_API bool slim_name_same_service(const slim_name *a, const slim_name *b);

#ifdef __cplusplus
}
#endif
#endif
