/*
 * The TLS presentation-language codec of MLS (RFC 9420 §2.1): big-endian
 * fixed-width integers, fixed-size arrays, vectors prefixed with the MLS
 * variable-length length header (§2.1.2), and optional<T> (§2.1.1).
 *
 * Decoding is canonical and never allocates: a reader hands out views into
 * the input. It rejects a length header with the 0b11 prefix, a header that
 * is not minimally encoded, a vector that runs past the end of its enclosing
 * data, an optional presence byte other than 0 or 1, and (on finish) any
 * trailing byte, each with its own status.
 *
 * Both the writer and the reader are "sticky": the first failure is kept in
 * the struct, every later call is a no-op that returns that failure, and a
 * reader's out-parameters are zeroed when a read fails. So a struct codec
 * can run a series of calls and check the status once at the end:
 *
 *     slim_mls_tls_writer w;
 *     slim_mls_tls_writer_init(&w, out);
 *     slim_mls_tls_put_u16(&w, version);
 *     slim_mls_tls_put_opaque(&w, group_id);
 *     size_t mark = slim_mls_tls_vec_begin(&w);      // nested vector
 *     ... elements ...
 *     slim_mls_tls_vec_end(&w, mark);
 *     return slim_mls_tls_writer_status(&w);
 *
 *     slim_mls_tls_reader r, v;
 *     slim_mls_tls_reader_init(&r, in);
 *     slim_mls_tls_get_u16(&r, &version);
 *     slim_mls_tls_get_opaque(&r, &group_id);        // a view into `in`
 *     slim_mls_tls_get_vector(&r, &v);               // sub-reader on the body
 *     while (slim_mls_tls_reader_more(&v)) { ... decode one element from v ... }
 *     slim_mls_tls_end_vector(&r, &v);               // v must be used up
 *     return slim_mls_tls_reader_finish(&r);         // no trailing bytes
 *
 * Pure code: no I/O, no global state. Not thread-safe per object.
 */
#ifndef SLIM_MLS_TLS_H
#define SLIM_MLS_TLS_H

#include "core/buf.h"
#include "slim/status.h"

/* Largest length an MLS variable-length header can carry: 2^30 - 1. */
#define SLIM_MLS_VARINT_MAX 0x3fffffffu

/* ---- writer --------------------------------------------------------- */

/* How deeply vector writes may nest (MLS structures need about 6). */
#define SLIM_MLS_TLS_MAX_NESTING 16

typedef struct slim_mls_tls_writer {
    slim_buf *buf;  /* borrowed; bytes are appended to it */
    slim_status st; /* first failure, SLIM_OK while none */
    size_t open;    /* vectors begun and not yet ended */
    size_t marks[SLIM_MLS_TLS_MAX_NESTING];
} slim_mls_tls_writer;

/* Starts writing at the end of `buf` (borrowed for the writer's life). */
void slim_mls_tls_writer_init(slim_mls_tls_writer *w, slim_buf *buf);

/* The first failure so far, or SLIM_E_MLS_WRITER_NESTING when a vector is
 * still open; SLIM_OK when everything written is complete. */
slim_status slim_mls_tls_writer_status(const slim_mls_tls_writer *w);

/* Records `st` as the writer's failure unless one is already recorded (for
 * struct encoders that find a bad value). Returns the writer's status. */
slim_status slim_mls_tls_writer_fail(slim_mls_tls_writer *w, slim_status st);

/* uint8 / uint16 / uint32 / uint64, big-endian. E_NOMEM. */
slim_status slim_mls_tls_put_u8(slim_mls_tls_writer *w, uint8_t v);
slim_status slim_mls_tls_put_u16(slim_mls_tls_writer *w, uint16_t v);
slim_status slim_mls_tls_put_u32(slim_mls_tls_writer *w, uint32_t v);
slim_status slim_mls_tls_put_u64(slim_mls_tls_writer *w, uint64_t v);

/*
 * | Prefix | Length  | Usable Bits | Min   | Max        |
 * | 00     | 1       | 6           | 0     | 63         |
 * | 01     | 2       | 14          | 64    | 16383      |
 * | 10     | 4       | 30          | 16384 | 1073741823 |
 * | 11     | invalid | -           | -     | -          |
 *
 * A variable-length integer in its minimal 1-, 2- or 4-byte form (§2.1.2).
 * E_MLS_VARINT_RANGE above SLIM_MLS_VARINT_MAX, E_NOMEM.
 */
slim_status slim_mls_tls_put_varint(slim_mls_tls_writer *w, uint64_t v);

/* Bytes with no header: a fixed-size array `opaque x[N]`, or content that
 * is already encoded. E_NOMEM. */
slim_status slim_mls_tls_put_raw(slim_mls_tls_writer *w, slim_bytes v);

/* opaque x<V>: the length header, then the bytes. E_MLS_VARINT_RANGE when
 * longer than 2^30-1, E_NOMEM. */
slim_status slim_mls_tls_put_opaque(slim_mls_tls_writer *w, slim_bytes v);

/*
 * struct {
 *     uint8 present;
 *     select (present) {
 *         case 0: struct{};
 *         case 1: T value;
 *     };
 * } optional<T>;
 *
 * Writes the presence byte; the caller writes T after a 1.
 */
slim_status slim_mls_tls_put_optional(slim_mls_tls_writer *w, bool present);

/* Opens a vector T x<V> whose elements the caller writes next; returns a
 * mark for slim_mls_tls_vec_end. Vectors nest (up to
 * SLIM_MLS_TLS_MAX_NESTING deep, else E_MLS_WRITER_NESTING); end them
 * innermost first. */
size_t slim_mls_tls_vec_begin(slim_mls_tls_writer *w);

/* Closes the vector opened at `mark`: inserts the minimal length header in
 * front of what was written since. E_MLS_VARINT_RANGE when the body is
 * longer than 2^30-1, E_MLS_WRITER_NESTING on a mark that is not the
 * innermost open vector, E_NOMEM. */
slim_status slim_mls_tls_vec_end(slim_mls_tls_writer *w, size_t mark);

/* ---- reader --------------------------------------------------------- */

typedef struct slim_mls_tls_reader {
    slim_reader in; /* bounds-checked cursor over the borrowed input */
    slim_status st; /* first failure, SLIM_OK while none */
} slim_mls_tls_reader;

/* Starts reading `in` (borrowed: every view handed out points into it). */
void slim_mls_tls_reader_init(slim_mls_tls_reader *r, slim_bytes in);

/* Bytes not yet read (0 after a failure). */
size_t slim_mls_tls_reader_remaining(const slim_mls_tls_reader *r);

/* A view of the bytes not yet read (empty after a failure); e.g. the whole
 * body of a vector just opened with slim_mls_tls_get_vector. */
slim_bytes slim_mls_tls_reader_rest(const slim_mls_tls_reader *r);

/* True while no read failed and input remains: the loop condition for the
 * elements of a vector. */
bool slim_mls_tls_reader_more(const slim_mls_tls_reader *r);

/* The first failure so far, SLIM_OK while none. */
slim_status slim_mls_tls_reader_status(const slim_mls_tls_reader *r);

/* Records `st` as the reader's failure unless one is already recorded (for
 * struct decoders that find a forbidden value). Returns the reader's status. */
slim_status slim_mls_tls_reader_fail(slim_mls_tls_reader *r, slim_status st);

/* The reader's status, or E_MLS_TRAILING_BYTES when input remains. */
slim_status slim_mls_tls_reader_finish(const slim_mls_tls_reader *r);

/* Fixed-width integers. E_MLS_TRUNCATED when the input ends first. */
slim_status slim_mls_tls_get_u8(slim_mls_tls_reader *r, uint8_t *out);
slim_status slim_mls_tls_get_u16(slim_mls_tls_reader *r, uint16_t *out);
slim_status slim_mls_tls_get_u32(slim_mls_tls_reader *r, uint32_t *out);
slim_status slim_mls_tls_get_u64(slim_mls_tls_reader *r, uint64_t *out);

/* A variable-length integer (§2.1.2). E_MLS_TRUNCATED, E_MLS_VARINT_PREFIX
 * for the 0b11 prefix, E_MLS_VARINT_NONMINIMAL when a shorter form exists. */
slim_status slim_mls_tls_get_varint(slim_mls_tls_reader *r, uint64_t *out);

/* The next n bytes as a view (a fixed-size array). E_MLS_TRUNCATED. */
slim_status slim_mls_tls_get_raw(slim_mls_tls_reader *r, size_t n, slim_bytes *out);

/* opaque x<V> as a view of its body: varint errors, E_MLS_VECTOR_PAST_END
 * when the length runs past the input. */
slim_status slim_mls_tls_get_opaque(slim_mls_tls_reader *r, slim_bytes *out);

/* Like get_opaque, and E_MLS_VECTOR_TOO_LONG when the body is longer than
 * max (for fields with a known size, e.g. a hash or a key). */
slim_status slim_mls_tls_get_opaque_max(slim_mls_tls_reader *r, size_t max, slim_bytes *out);

/* T x<V>: sets *sub to a reader over the vector body, so the caller decodes
 * the elements from it, then calls slim_mls_tls_end_vector. Errors as
 * get_opaque; on failure *sub is an empty, failed reader. */
slim_status slim_mls_tls_get_vector(slim_mls_tls_reader *r, slim_mls_tls_reader *sub);

/* Ends a vector read with get_vector: a failure in `sub` becomes the
 * failure of `r`, and a body not used up gives E_MLS_TRAILING_BYTES.
 * Returns r's status. */
slim_status slim_mls_tls_end_vector(slim_mls_tls_reader *r, const slim_mls_tls_reader *sub);

/* The presence byte of optional<T>. E_MLS_TRUNCATED, E_MLS_BAD_OPTIONAL for
 * a value other than 0 or 1. */
slim_status slim_mls_tls_get_optional(slim_mls_tls_reader *r, bool *present);

/* ---- encoded vectors ------------------------------------------------ */

/*
 * A vector `T x<V>` kept in its encoded form: `body` is what follows the
 * length header (the elements' encodings, back to back) and `count` the
 * number of elements. This is how the struct codecs of src/mls represent
 * lists, so decoding never allocates.
 *
 * Decoders fill both fields after checking every element; `body` is then a
 * view into the decoder's input (borrowed: valid while that input is).
 * Encoders write `body` as opaque<V> and ignore `count`, so a list to be
 * sent is built by encoding its elements into a slim_buf and pointing
 * `body` at it. Walk the elements with a reader on `body`:
 *
 *     slim_mls_tls_reader it;
 *     slim_mls_tls_reader_init(&it, v.body);
 *     while (slim_mls_tls_reader_more(&it)) { X x; slim_mls_x_decode(&it, &x); ... }
 *
 * which cannot fail on a body a decoder accepted.
 */
typedef struct slim_mls_vec {
    slim_bytes body;
    uint32_t count;
} slim_mls_vec;

/* Reads one element from r and checks it; returns r's status. */
typedef slim_status (*slim_mls_tls_elem_fn)(slim_mls_tls_reader *r, void *arg);

/* Reads a vector `T x<V>` whose elements `elem` checks one by one; *out
 * gets the body and the count. Errors of the header, of an element,
 * E_MLS_BAD_VALUE for an element that consumes no byte. */
slim_status slim_mls_tls_get_vec(slim_mls_tls_reader *r, slim_mls_tls_elem_fn elem, void *arg,
                                 slim_mls_vec *out);

/* Writes v->body as opaque<V>. */
slim_status slim_mls_tls_put_vec(slim_mls_tls_writer *w, const slim_mls_vec *v);

/* Element checkers for `uint16 x<V>` and `uint32 x<V>` (arg unused). */
slim_status slim_mls_tls_elem_u16(slim_mls_tls_reader *r, void *arg);
slim_status slim_mls_tls_elem_u32(slim_mls_tls_reader *r, void *arg);
/* Element checker for `opaque x<V>` elements inside a vector. */
slim_status slim_mls_tls_elem_opaque(slim_mls_tls_reader *r, void *arg);

/* Element i of a checked `uint16 x<V>` / `uint32 x<V>` (i < count). */
uint16_t slim_mls_vec_u16(const slim_mls_vec *v, uint32_t i);
uint32_t slim_mls_vec_u32(const slim_mls_vec *v, uint32_t i);

/* True when the checked `uint16 x<V>` holds `value`. */
bool slim_mls_vec_has_u16(const slim_mls_vec *v, uint16_t value);

/* ---- whole values ---------------------------------------------------- */

/* Encodes a length header alone into out[0..4); *n receives 1, 2 or 4.
 * E_MLS_VARINT_RANGE. */
slim_status slim_mls_tls_varint_encode(uint64_t v, uint8_t out[4], size_t *n);

/* Number of bytes of the minimal header for v (1, 2 or 4), 0 when v does
 * not fit. */
size_t slim_mls_tls_varint_size(uint64_t v);

#endif
