/*
 * The logger formats a whole line into a stack buffer and writes it with one
 * call, so lines from different threads never interleave. The level is an
 * atomic read on every call; the environment is consulted once.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LEVEL_UNSET (-1)

static _Atomic int current_level = LEVEL_UNSET;
static _Atomic(slim_log_sink) sink_fn;
static void *_Atomic sink_ud;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};
static const char *const level_tags[] = {"ERROR", "WARN ", "INFO ", "DEBUG", "TRACE"};

int slim_log_level_parse(const char *text, slim_log_level *out) {
    if (text == NULL)
        return -1;
    for (int i = 0; i <= SLIM_LOG_TRACE; i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *out = (slim_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(text, "warning") == 0) {
        *out = SLIM_LOG_WARN;
        return 0;
    }
    return -1;
}

slim_log_level slim_log_get_level(void) {
    int lvl = atomic_load_explicit(&current_level, memory_order_relaxed);
    if (lvl == LEVEL_UNSET) {
        slim_log_level parsed = SLIM_LOG_WARN;
        (void)slim_log_level_parse(getenv("SLIM_LOG"), &parsed);
        int expected = LEVEL_UNSET;
        atomic_compare_exchange_strong(&current_level, &expected, (int)parsed);
        lvl = atomic_load(&current_level);
    }
    return (slim_log_level)lvl;
}

void slim_log_set_level(slim_log_level level) {
    atomic_store(&current_level, (int)level);
}

void slim_log_set_sink(slim_log_sink fn, void *ud) {
    atomic_store(&sink_ud, ud);
    atomic_store(&sink_fn, fn);
}

int slim_log_enabled(slim_log_level level) {
    return (int)level <= (int)slim_log_get_level();
}

void slim_log(slim_log_level level, const char *module, const char *fmt, ...) {
    if (!slim_log_enabled(level))
        return;
    if ((int)level < 0 || level > SLIM_LOG_TRACE)
        level = SLIM_LOG_ERROR;

    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_tags[level], module ? module : "-");
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2; /* truncated: keep room for the newline */

    slim_log_sink fn = atomic_load(&sink_fn);
    if (fn != NULL) {
        line[len] = '\0';
        fn(level, line, atomic_load(&sink_ud));
        return;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

static _Atomic int unlimited;

void slim_log_set_unlimited(int on) {
    atomic_store(&unlimited, on);
}

int slim_log_limit_take(slim_log_limit *l, uint32_t burst, uint32_t *suppressed) {
    if (atomic_load_explicit(&unlimited, memory_order_relaxed)) {
        *suppressed = 0;
        return 1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec;
    uint64_t second = atomic_load(&l->second);
    if (second != now && atomic_compare_exchange_strong(&l->second, &second, now))
        atomic_store(&l->count, 0);
    if (atomic_fetch_add(&l->count, 1) >= burst) {
        atomic_fetch_add(&l->suppressed, 1);
        return 0;
    }
    *suppressed = atomic_exchange(&l->suppressed, 0);
    return 1;
}

const char *slim_log_escape(const void *s, size_t len, char *out, size_t cap) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = s;
    size_t o = 0;
    if (cap < 4) {
        if (cap > 0)
            out[0] = '\0';
        return out;
    }
    for (size_t i = 0; i < len; i++) {
        bool plain = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\';
        size_t need = plain ? 1 : 4;
        if (o + need > cap - 4) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (plain) {
            out[o++] = (char)p[i];
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[p[i] >> 4];
            out[o++] = hex[p[i] & 15];
        }
    }
    out[o] = '\0';
    return out;
}
