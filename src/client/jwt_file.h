/*
 * The files behind JWT identities (src/session/jwt.h is pure): key files,
 * and files that are watched for changes: a static token (upstream's
 * StaticJwt provider reloads its file when it changes) and key files
 * (upstream reloads signing and verifying key files too).
 *
 * Watching is polling: a watched file is stat()ed at most every check_s
 * seconds (and, for a token, whenever the token has expired), and read
 * again when its device, inode, size or modification time changed, so
 * both rewriting in place and replacing by rename are seen. Reading
 * errors keep what was loaded before. Time comes in as `now_s` (wall
 * clock seconds, the unit of token expiry).
 *
 * Each object is used by one thread at a time. Files are read through the
 * libslim allocator; a key file's bytes are wiped after parsing.
 */
#ifndef SLIM_CLIENT_JWT_FILE_H
#define SLIM_CLIENT_JWT_FILE_H

#include "session/jwt.h"

#define SLIM_JWT_FILE_CHECK_S 5 /* default time between two stat()s of a watched file */

/* Appends the content of the file at path to out. E_IO (cannot open or
 * read), E_TOO_LARGE (more than max bytes), E_NOMEM. */
slim_status slim_jwt_file_read(const char *path, size_t max, slim_buf *out);

/* slim_jwt_keys_parse of the file's content (at most
 * SLIM_JWT_MAX_KEYTEXT bytes). */
slim_status slim_jwt_keys_load(slim_jwt_alg alg, slim_jwt_key_format format, const char *path,
                               bool for_signing, slim_jwt_keys **out);

/* ---- a static token file -------------------------------------------- */

typedef struct slim_jwt_token_file slim_jwt_token_file;

/* Reads the token at path (path copied) into a static provider
 * (slim_jwt_provider_new_static). check_s 0 = SLIM_JWT_FILE_CHECK_S.
 * E_IO, E_TOO_LARGE, the token errors, E_NOMEM. */
slim_status slim_jwt_token_file_new(const char *path, uint32_t check_s, uint64_t now_s,
                                    slim_jwt_token_file **out);

void slim_jwt_token_file_free(slim_jwt_token_file *f);

/* The provider, borrowed for f's life (stamp messages with it). */
slim_jwt_provider *slim_jwt_token_file_provider(const slim_jwt_token_file *f);

/* Reloads the token when the file changed: looked at when check_s seconds
 * passed since the last look, or at every call once the token expired
 * (at most once a second). *reloaded (may be NULL) tells whether the
 * token changed. On E_IO (the file is gone) or a token error the old token
 * stays, and the file is looked at again after check_s. */
slim_status slim_jwt_token_file_poll(slim_jwt_token_file *f, uint64_t now_s, bool *reloaded);

/* ---- a key file ------------------------------------------------------ */

typedef struct slim_jwt_key_file slim_jwt_key_file;

/* Watches a key file; *keys gets its keys as now (the caller owns them,
 * e.g. to give them to slim_jwt_provider_new or slim_jwt_verifier_new).
 * Errors of slim_jwt_keys_load. */
slim_status slim_jwt_key_file_new(slim_jwt_alg alg, slim_jwt_key_format format, const char *path,
                                  bool for_signing, uint32_t check_s, uint64_t now_s,
                                  slim_jwt_key_file **out, slim_jwt_keys **keys);

void slim_jwt_key_file_free(slim_jwt_key_file *f);

/* When the file changed (looked at every check_s seconds), *keys gets the
 * new keys (the caller owns them: slim_jwt_provider_set_key,
 * slim_jwt_verifier_set_keys); else *keys = NULL. Errors of
 * slim_jwt_keys_load (the old keys stay in use). */
slim_status slim_jwt_key_file_poll(slim_jwt_key_file *f, uint64_t now_s, slim_jwt_keys **keys);

#endif
