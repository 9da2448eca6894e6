/*
 * The file an app's saved state lives in: the state bytes sealed with
 * AES-256-GCM under a 32-byte key the application holds. The envelope is
 *
 *   offset  size  field
 *        0     8  magic, the ASCII "SLIMSTAT"
 *        8     1  format version, 1
 *        9    12  nonce, random for every write
 *       21     n  ciphertext (n = the length of the state)
 *     21+n    16  GCM tag
 *
 * and the additional authenticated data is the 9 bytes of magic and
 * version, so a file cannot be passed off as another version. A new nonce
 * is drawn on each write; with 96-bit random nonces one key may seal about
 * 2^32 files before the chance of a repeat matters.
 *
 * Writing replaces the file atomically: the sealed bytes go to
 * "<path>.tmp" (created with mode 0600), which is flushed to disk and
 * renamed over path; the directory is then flushed too (best effort).
 * A crash leaves either the old file or the new one, perhaps with a stray
 * ".tmp" beside it that the next write replaces. The state is never
 * written in the clear.
 *
 * Blocking file I/O: call it from a thread that may block. Thread-safe
 * as long as two threads do not write the same path at once.
 */
#ifndef SLIM_CLIENT_STATE_FILE_H
#define SLIM_CLIENT_STATE_FILE_H

#include "core/buf.h"
#include "slim/status.h"

#define SLIM_STATE_FILE_KEY     32 /* AES-256 */
#define SLIM_STATE_FILE_VERSION 1
/* The largest file the reader takes (the state inside is 37 bytes less). */
#define SLIM_STATE_FILE_MAX (64u * 1024 * 1024)

/* Seals plaintext under key and writes it to path as above. E_INVALID_ARG
 * (NULL path or key, a NULL plaintext pointer with a length, a state too
 * large for SLIM_STATE_FILE_MAX), E_IO (cannot create, write, flush or
 * rename: the temporary file is removed and path is untouched),
 * E_MLS_RNG (no random nonce), E_MLS_CRYPTO, E_NOMEM. */
slim_status slim_state_file_write(const char *path, const uint8_t key[SLIM_STATE_FILE_KEY],
                                  slim_bytes plaintext);

/* Reads the file at path and opens it with key into *plaintext, which
 * must be empty on entry (E_INVALID_ARG otherwise) and is filled only on
 * success; the caller wipes it after use (slim_buf_cleanup_secret).
 * E_INVALID_ARG (NULL argument), E_IO (cannot open or read),
 * E_TOO_LARGE (larger than SLIM_STATE_FILE_MAX), E_STATE_FORMAT (wrong
 * magic, unknown version, shorter than the envelope),
 * E_STATE_ALTERED (the tag does not verify: the file was changed, or the
 * key is another one), E_MLS_CRYPTO, E_NOMEM. On failure nothing
 * decrypted is kept: what was opened before the tag check is wiped. */
slim_status slim_state_file_read(const char *path, const uint8_t key[SLIM_STATE_FILE_KEY],
                                 slim_buf *plaintext);

#endif
