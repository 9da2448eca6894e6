/*
 * GroupContext (RFC 9420 §8.1) and the Extension list it carries (§13),
 * encoded with the TLS codec. The key schedule feeds the encoded
 * GroupContext into ExpandWithLabel; later layers sign and hash it.
 *
 * Decoding returns views into the input (nothing is allocated); the
 * extension list is kept as the encoded body of `Extension extensions<V>`,
 * checked on decode and walked with slim_mls_extensions_next.
 */
#ifndef SLIM_MLS_GROUP_CONTEXT_H
#define SLIM_MLS_GROUP_CONTEXT_H

#include "core/buf.h"
#include "mls/tls.h"
#include "slim/status.h"

/* ProtocolVersion mls10. */
#define SLIM_MLS_VERSION_MLS10 1

/*
 * struct {
 *     ExtensionType extension_type;
 *     opaque extension_data<V>;
 * } Extension;
 */
typedef struct slim_mls_extension {
    uint16_t type;
    slim_bytes data;
} slim_mls_extension;

/* Writes one Extension. */
slim_status slim_mls_extension_encode(slim_mls_tls_writer *w, const slim_mls_extension *ext);

/* Reads one Extension; ext->data is a view into the reader's input. */
slim_status slim_mls_extension_decode(slim_mls_tls_reader *r, slim_mls_extension *ext);

/* Walks the encoded body of an `Extension extensions<V>` vector: call with
 * a reader over that body; returns SLIM_OK and *more = true with the next
 * extension, *more = false at the end, or a decode error. */
slim_status slim_mls_extensions_next(slim_mls_tls_reader *body, slim_mls_extension *ext,
                                     bool *more);

/*
 * struct {
 *     ProtocolVersion version = mls10;
 *     CipherSuite cipher_suite;
 *     opaque group_id<V>;
 *     uint64 epoch;
 *     opaque tree_hash<V>;
 *     opaque confirmed_transcript_hash<V>;
 *     Extension extensions<V>;
 * } GroupContext;
 *
 * `extensions` is the encoded body of the vector (concatenated Extension
 * encodings, without the length header); empty for none.
 */
typedef struct slim_mls_group_context {
    uint16_t version;
    uint16_t cipher_suite;
    slim_bytes group_id;
    uint64_t epoch;
    slim_bytes tree_hash;
    slim_bytes confirmed_transcript_hash;
    slim_bytes extensions;
} slim_mls_group_context;

/* Appends the encoding of gc to `out`. E_MLS_VARINT_RANGE for a field
 * longer than 2^30-1, E_NOMEM. */
slim_status slim_mls_group_context_encode(const slim_mls_group_context *gc, slim_buf *out);

/* Decodes a whole GroupContext from `in` (views borrow `in`). Codec errors,
 * E_MLS_BAD_VERSION for a version other than mls10, malformed extensions,
 * E_MLS_DUPLICATE_EXTENSION, E_MLS_TRAILING_BYTES. */
slim_status slim_mls_group_context_decode(slim_bytes in, slim_mls_group_context *gc);

/* The same two as steps of a larger structure (e.g. GroupInfo): write to
 * or read from a TLS writer/reader; errors are the reader's/writer's. */
slim_status slim_mls_group_context_write(slim_mls_tls_writer *w, const slim_mls_group_context *gc);
slim_status slim_mls_group_context_read(slim_mls_tls_reader *r, slim_mls_group_context *gc);

#endif
