/* Internal logging shorthands; see slim/log.h. */
#ifndef SLIM_CORE_LOG_H
#define SLIM_CORE_LOG_H

#include "slim/log.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* True when a message at `level` would be written; lets hot paths skip
 * building arguments. */
int slim_log_enabled(slim_log_level level);

#define SLIM_LOGE(mod, ...) slim_log(SLIM_LOG_ERROR, mod, __VA_ARGS__)
#define SLIM_LOGW(mod, ...) slim_log(SLIM_LOG_WARN, mod, __VA_ARGS__)
#define SLIM_LOGI(mod, ...) slim_log(SLIM_LOG_INFO, mod, __VA_ARGS__)
#define SLIM_LOGD(mod, ...)                                                                        \
    do {                                                                                           \
        if (slim_log_enabled(SLIM_LOG_DEBUG))                                                      \
            slim_log(SLIM_LOG_DEBUG, mod, __VA_ARGS__);                                            \
    } while (0)
#define SLIM_LOGT(mod, ...)                                                                        \
    do {                                                                                           \
        if (slim_log_enabled(SLIM_LOG_TRACE))                                                      \
            slim_log(SLIM_LOG_TRACE, mod, __VA_ARGS__);                                            \
    } while (0)

/* ---- Warnings a peer can trigger ----
 *
 * A peer that misbehaves on purpose (bad handshakes, refused links, many
 * connections) must not be able to flood the log. SLIM_LOGW_LIMITED allows
 * SLIM_LOG_LIMIT_BURST lines per second from one call site; the rest are
 * counted, and the next line that goes out says how many were left out. */

#define SLIM_LOG_LIMIT_BURST 5

typedef struct slim_log_limit {
    _Atomic uint64_t second; /* the second the count applies to */
    _Atomic uint32_t count;
    _Atomic uint32_t suppressed;
} slim_log_limit;

/* 1 when a line may go out now (and *suppressed receives how many were left
 * out since the last one), 0 when it is to be left out. `burst` lines per
 * second. Thread-safe. */
int slim_log_limit_take(slim_log_limit *l, uint32_t burst, uint32_t *suppressed);

/* Turns the limit off (non-zero) for tests that look for one particular line
 * among many. */
void slim_log_set_unlimited(int unlimited);

#define SLIM_LOG_LIMITED(level, burst, mod, ...)                                                   \
    do {                                                                                           \
        static slim_log_limit lim_;                                                                \
        uint32_t sup_ = 0;                                                                         \
        if (slim_log_enabled(level) && slim_log_limit_take(&lim_, burst, &sup_)) {                 \
            if (sup_ > 0)                                                                          \
                slim_log(level, mod, "(%u similar lines left out in the last seconds)", sup_);     \
            slim_log(level, mod, __VA_ARGS__);                                                     \
        }                                                                                          \
    } while (0)
#define SLIM_LOGW_LIMITED(mod, ...)                                                                \
    SLIM_LOG_LIMITED(SLIM_LOG_WARN, SLIM_LOG_LIMIT_BURST, mod, __VA_ARGS__)

/* Text from a peer (a node id, a status message, GOAWAY data), made safe to
 * log: bytes outside printable ASCII, and the backslash, become \xNN;
 * what does not fit in cap (>= 4) ends in "...". Returns out. */
const char *slim_log_escape(const void *s, size_t len, char *out, size_t cap);

#endif
