/*
 * The gRPC-over-HTTP/2 rules that need no I/O: the 5-byte message prefix and
 * its reassembly, grpc-timeout values, percent-encoded grpc-message, base64
 * for "-bin" metadata, and the mappings between gRPC status codes, HTTP
 * statuses, HTTP/2 error codes and slim_status.
 *
 * The rules come from grpc/grpc doc/PROTOCOL-HTTP2.md:
 *   Length-Prefixed-Message -> Compressed-Flag Message-Length Message
 *   Compressed-Flag         -> 0 / 1              (1 byte)
 *   Message-Length          -> 4 bytes, big-endian
 *   Timeout                 -> "grpc-timeout" TimeoutValue TimeoutUnit
 *   TimeoutValue            -> positive integer, at most 8 ASCII digits
 *   TimeoutUnit             -> H / M / S / m / u / n
 *   Status-Message          -> "grpc-message" Percent-Encoded
 *
 * Pure code: no I/O, no clocks, no global state besides the allocator.
 */
#ifndef SLIM_TRANSPORT_CODEC_H
#define SLIM_TRANSPORT_CODEC_H

#include "core/buf.h"

#include <stdbool.h>

#define SLIM_GRPC_PREFIX_LEN 5
/* Largest value a grpc-timeout may carry (8 digits). */
#define SLIM_GRPC_TIMEOUT_MAX_VALUE 99999999u

/* gRPC status codes (grpc/grpc doc/statuscodes.md). */
typedef enum slim_grpc_code {
    SLIM_GRPC_OK = 0,
    SLIM_GRPC_CANCELLED = 1,
    SLIM_GRPC_UNKNOWN = 2,
    SLIM_GRPC_INVALID_ARGUMENT = 3,
    SLIM_GRPC_DEADLINE_EXCEEDED = 4,
    SLIM_GRPC_NOT_FOUND = 5,
    SLIM_GRPC_ALREADY_EXISTS = 6,
    SLIM_GRPC_PERMISSION_DENIED = 7,
    SLIM_GRPC_RESOURCE_EXHAUSTED = 8,
    SLIM_GRPC_FAILED_PRECONDITION = 9,
    SLIM_GRPC_ABORTED = 10,
    SLIM_GRPC_OUT_OF_RANGE = 11,
    SLIM_GRPC_UNIMPLEMENTED = 12,
    SLIM_GRPC_INTERNAL = 13,
    SLIM_GRPC_UNAVAILABLE = 14,
    SLIM_GRPC_DATA_LOSS = 15,
    SLIM_GRPC_UNAUTHENTICATED = 16,
} slim_grpc_code;

/* ---- Status mapping ---- */

/* The slim_status for a gRPC code: OK for 0, E_GRPC_<CODE> for 1..16 and
 * E_GRPC_UNKNOWN for any other value. */
slim_status slim_grpc_code_to_status(int code);

/* The gRPC code a status is reported as on the wire. E_GRPC_<CODE> gives
 * <CODE>; the core and transport statuses map to the nearest code (for
 * example E_TIMEOUT -> DEADLINE_EXCEEDED, E_QUEUE_FULL -> RESOURCE_EXHAUSTED,
 * E_TRANSPORT_CONN_LOST -> UNAVAILABLE); anything else is UNKNOWN. */
slim_grpc_code slim_grpc_status_to_code(slim_status st);

/* "DEADLINE_EXCEEDED" etc.; "UNKNOWN" for a value outside 0..16. */
const char *slim_grpc_code_name(int code);

/* The code to synthesize for a response whose :status is not 200
 * (grpc/grpc doc/http-grpc-status-mapping.md). */
slim_grpc_code slim_grpc_code_from_http(int http_status);

/* The code for a stream reset by the peer with an HTTP/2 error code. */
slim_grpc_code slim_grpc_code_from_h2_error(uint32_t h2_error);

/* Parses a grpc-status value (1*DIGIT, no leading zeros needed). Values that
 * are not a decimal number in 0..16 give UNKNOWN, as the rules ask. */
slim_grpc_code slim_grpc_code_parse(slim_str v);

/* ---- Message framing ---- */

/* Writes the 5-byte prefix of an uncompressed message of `len` bytes. */
void slim_grpc_prefix_write(uint8_t out[SLIM_GRPC_PREFIX_LEN], uint32_t len);

/* Reassembles length-prefixed messages from a byte stream cut anywhere.
 * The size limit is checked on the prefix, before any body byte is kept. */
typedef struct slim_grpc_deframer {
    size_t max_size; /* largest accepted message body */
    uint8_t hdr[SLIM_GRPC_PREFIX_LEN];
    uint8_t hdr_len;    /* prefix bytes collected so far */
    bool delivered;     /* body holds the message handed out last time */
    uint32_t need;      /* body length of the current message */
    slim_buf body;      /* partial body when a message spans several inputs */
    slim_status failed; /* sticky error */
} slim_grpc_deframer;

void slim_grpc_deframer_init(slim_grpc_deframer *d, size_t max_size);
void slim_grpc_deframer_cleanup(slim_grpc_deframer *d);

/* Consumes bytes of `in` until one whole message is available or `in` is used
 * up. *used receives the number of bytes taken. When a message completed,
 * *msg points at its body and the function returns true in *have; the view
 * borrows either from `in` (when the message lay whole in it: no copy) or
 * from the deframer, and stays valid until the next call or cleanup.
 * Errors (sticky; *used then counts the bytes read up to the offending
 * prefix): E_GRPC_RESOURCE_EXHAUSTED when a prefix announces more than
 * max_size, E_GRPC_UNIMPLEMENTED for a compressed message (flag 1),
 * E_GRPC_INTERNAL for any other flag value, E_NOMEM. */
slim_status slim_grpc_deframe(slim_grpc_deframer *d, slim_bytes in, size_t *used, bool *have,
                              slim_bytes *msg);

/* True while the deframer holds part of a message (a prefix or a body):
 * the stream may not end here. */
static inline bool slim_grpc_deframer_partial(const slim_grpc_deframer *d) {
    return d->hdr_len > 0;
}

/* ---- grpc-timeout ---- */

/* Parses a grpc-timeout value into nanoseconds (saturating at UINT64_MAX).
 * E_INVALID_ARG when it is not 1-8 digits followed by one unit letter. */
slim_status slim_grpc_timeout_parse(slim_str v, uint64_t *ns);

/* Writes the grpc-timeout value for `ns` nanoseconds, NUL-terminated, into
 * out (at least 16 bytes): the finest unit whose value fits in 8 digits,
 * rounded up so the peer never sees a shorter deadline. 0 is written "1n". */
void slim_grpc_timeout_format(uint64_t ns, char out[16]);

/* ---- grpc-message percent-encoding ---- */

/* Appends `in` percent-encoded: bytes outside 0x20..0x7E and '%' become
 * "%XX" (upper-case hex). E_NOMEM. */
slim_status slim_grpc_percent_encode(slim_str in, slim_buf *out);

/* Appends the decoding of `in`. A '%' not followed by two hex digits is kept
 * as it is (the rules forbid failing on a bad encoding). E_NOMEM. */
slim_status slim_grpc_percent_decode(slim_str in, slim_buf *out);

/* ---- base64 (RFC 4648 section 4) for "-bin" metadata ---- */

/* Length of the unpadded encoding of n bytes. */
static inline size_t slim_base64_len(size_t n) {
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Appends the unpadded base64 encoding of `in`. E_NOMEM, E_OVERFLOW. */
slim_status slim_base64_encode(slim_bytes in, slim_buf *out);

/* Appends the decoding of `in`, padded or not. E_INVALID_ARG (nothing
 * appended) for a character outside the alphabet, misplaced padding, a
 * length that is 1 mod 4, or non-zero trailing bits; E_NOMEM. */
slim_status slim_base64_decode(slim_str in, slim_buf *out);

/* ---- Header rules ---- */

/* True for a valid custom metadata name: 1*( 0-9 / a-z / "_" / "-" / "." ). */
bool slim_grpc_header_name_valid(slim_str name);

/* True for names the transport writes itself and users may not set:
 * "grpc-*", "te", "content-type", "user-agent" and pseudo-headers. */
bool slim_grpc_header_name_reserved(slim_str name);

/* True when name ends in "-bin" (binary metadata, base64 on the wire). */
bool slim_grpc_header_is_bin(slim_str name);

/* True for an ASCII metadata value: bytes 0x20..0x7E only. */
bool slim_grpc_header_ascii_valid(slim_bytes value);

/* True for "application/grpc" alone or followed by "+..." or ";...". */
bool slim_grpc_content_type_ok(slim_str v);

static inline slim_str slim_str_of(const char *p, size_t n) {
    slim_str s = {p, n};
    return s;
}

#endif
