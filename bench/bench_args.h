/*
 * Command-line helpers shared by the benchmark programs: `--help` and
 * counts that are checked instead of read with atol().
 */
#ifndef SLIM_BENCH_ARGS_H
#define SLIM_BENCH_ARGS_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* True when an argument is -h or --help. */
static inline bool bench_help_asked(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/* A decimal count in [min, max]; false (with a message naming `what`) for
 * anything else. */
static inline bool bench_count(const char *s, const char *what, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "%s: expected a number from %ld to %ld, got \"%s\"\n", what, min, max, s);
        return false;
    }
    *out = v;
    return true;
}

/* For programs whose only argument is an optional ITERATIONS count: -1
 * with *iters set (to `def` when absent) to go on, or the exit code after
 * printing `usage` (0 for --help, 2 for bad arguments). */
static inline int bench_iterations(int argc, char **argv, const char *usage, long def,
                                   long *iters) {
    if (bench_help_asked(argc, argv) || argc > 2) {
        fputs(usage, argc > 2 ? stderr : stdout);
        return argc > 2 ? 2 : 0;
    }
    *iters = def;
    if (argc > 1 && !bench_count(argv[1], "ITERATIONS", 1, 1000000000, iters))
        return 2;
    return -1;
}

#endif
