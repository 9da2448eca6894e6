/*
 * Logging. libslim writes one line per event to stderr:
 *   2026-11-24T08:55:11.123Z WARN  node: connection 3 closed: peer reset
 * The level comes from the SLIM_LOG environment variable (error, warn,
 * info, debug, trace; default warn) unless slim_log_set_level() is called.
 */
#ifndef SLIM_LOG_H
#define SLIM_LOG_H

#include "slim/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum slim_log_level {
    SLIM_LOG_ERROR = 0,
    SLIM_LOG_WARN = 1,
    SLIM_LOG_INFO = 2,
    SLIM_LOG_DEBUG = 3,
    SLIM_LOG_TRACE = 4,
} slim_log_level;

/* Sets the level; messages above it are discarded. Any thread. */
SLIM_API void slim_log_set_level(slim_log_level level);
SLIM_API slim_log_level slim_log_get_level(void);

/* Parses "error", "warn", "info", "debug" or "trace" (any case).
 * Returns 0 and sets *out, or -1 for an unknown word. */
SLIM_API int slim_log_level_parse(const char *text, slim_log_level *out);

/* Redirects finished lines (without the trailing newline) to fn; NULL
 * restores stderr. fn may be called from any libslim thread. */
typedef void (*slim_log_sink)(slim_log_level level, const char *line, void *ud);
SLIM_API void slim_log_set_sink(slim_log_sink fn, void *ud);

/* Logs one line if level is enabled. `module` is a short tag ("node"). */
SLIM_API void slim_log(slim_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
