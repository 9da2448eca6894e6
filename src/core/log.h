/* Internal logging shorthands; see slim/log.h. */
#ifndef SLIM_CORE_LOG_H
#define SLIM_CORE_LOG_H

#include "slim/log.h"

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

#endif
