/*
 * gRPC metadata: an ordered list of (name, value) pairs, used both for what
 * a call receives (request headers, response headers, trailers) and for
 * what a user asks to send.
 *
 * Values of "-bin" names hold raw bytes here; the transport base64-encodes
 * them on the way out and decodes them on the way in (a received "-bin"
 * header carrying several comma-separated values becomes several entries).
 * Other values are printable ASCII.
 *
 * All names and values live in one buffer owned by the list, so adding an
 * entry costs no allocation once the buffers have grown. Views returned by
 * the accessors borrow from the list and stay valid until it is changed or
 * cleaned up. Pure code.
 */
#ifndef SLIM_TRANSPORT_MD_H
#define SLIM_TRANSPORT_MD_H

#include "core/buf.h"

#include <stdbool.h>

typedef struct slim_grpc_md {
    slim_buf text;    /* names and values back to back */
    slim_buf entries; /* array of offsets into text (see md.c) */
    size_t count;
} slim_grpc_md;

#define SLIM_GRPC_MD_INIT                                                                          \
    { SLIM_BUF_INIT, SLIM_BUF_INIT, 0 }

void slim_grpc_md_init(slim_grpc_md *md);
/* Frees the storage; the list is empty and reusable afterwards. */
void slim_grpc_md_cleanup(slim_grpc_md *md);
/* Empties the list and keeps its storage. */
void slim_grpc_md_clear(slim_grpc_md *md);

/* Adds an entry to send. `name` must be a valid gRPC header name
 * (0-9 a-z _ - .) that the transport does not reserve (grpc-*, te,
 * content-type, user-agent); a non "-bin" value must be printable ASCII.
 * The bytes are copied. E_INVALID_ARG (nothing added), E_NOMEM. */
slim_status slim_grpc_md_add(slim_grpc_md *md, const char *name, slim_bytes value);

/* slim_grpc_md_add() with a NUL-terminated value. */
slim_status slim_grpc_md_add_str(slim_grpc_md *md, const char *name, const char *value);

/* Adds an entry without checking the name or value (the transport uses it
 * for what it received). E_NOMEM. */
slim_status slim_grpc_md_add_raw(slim_grpc_md *md, slim_str name, slim_bytes value);

/* Adds a header as received on the wire: a "-bin" value is split on ','
 * and each part base64-decoded into its own entry. E_INVALID_ARG when a part
 * is not base64 (nothing added), E_NOMEM. */
slim_status slim_grpc_md_add_wire(slim_grpc_md *md, slim_str name, slim_str value);

/* Appends every entry of src to dst. E_NOMEM (dst may hold part of src). */
slim_status slim_grpc_md_append(slim_grpc_md *dst, const slim_grpc_md *src);

static inline size_t slim_grpc_md_count(const slim_grpc_md *md) {
    return md == NULL ? 0 : md->count;
}

/* The i-th entry (i < count), in the order added. */
void slim_grpc_md_at(const slim_grpc_md *md, size_t i, slim_str *name, slim_bytes *value);

/* The value of the first entry called `name`; false when there is none. */
bool slim_grpc_md_get(const slim_grpc_md *md, const char *name, slim_bytes *value);

#endif
