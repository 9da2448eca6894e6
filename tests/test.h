/*
 * A tiny test harness. A test file defines cases with TEST(name) and lists
 * them in TEST_MAIN(case, case, ...). Running the binary runs every case (or
 * only those named on the command line) and prints one line per case; the
 * exit status is non-zero when any check failed. Checks print both values.
 */
#ifndef SLIM_TEST_H
#define SLIM_TEST_H

#include "slim/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int test_failures;

#define TEST(name) static void name(void)

#define TEST_FAIL_AT(...)                                                                          \
    do {                                                                                           \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                          \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        test_failures++;                                                                           \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            TEST_FAIL_AT("check failed: %s", #cond);                                               \
    } while (0)

#define CHECK_INT(a, op, b)                                                                        \
    do {                                                                                           \
        int64_t va_ = (int64_t)(a), vb_ = (int64_t)(b);                                            \
        if (!(va_ op vb_))                                                                         \
            TEST_FAIL_AT("%s %s %s: %" PRId64 " vs %" PRId64, #a, #op, #b, va_, vb_);              \
    } while (0)

#define CHECK_EQ(a, b) CHECK_INT(a, ==, b)

#define CHECK_U64(a, b)                                                                            \
    do {                                                                                           \
        uint64_t va_ = (uint64_t)(a), vb_ = (uint64_t)(b);                                         \
        if (va_ != vb_)                                                                            \
            TEST_FAIL_AT("%s == %s: 0x%016" PRIx64 " vs 0x%016" PRIx64, #a, #b, va_, vb_);         \
    } while (0)

#define CHECK_STATUS(expr, want)                                                                   \
    do {                                                                                           \
        slim_status got_ = (expr);                                                                 \
        slim_status want_ = (want);                                                                \
        if (got_ != want_)                                                                         \
            TEST_FAIL_AT("%s: got %s, want %s", #expr, slim_status_name(got_),                     \
                         slim_status_name(want_));                                                 \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, SLIM_OK)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0)                                   \
            TEST_FAIL_AT("%s == %s: \"%s\" vs \"%s\"", #a, #b, sa_ ? sa_ : "(null)",               \
                         sb_ ? sb_ : "(null)");                                                    \
    } while (0)

#define CHECK_MEM(a, b, n)                                                                         \
    do {                                                                                           \
        size_t n_ = (size_t)(n); /* memcmp of a NULL buffer is undefined, even for 0 bytes */      \
        if (n_ > 0 && memcmp((a), (b), n_) != 0)                                                   \
            TEST_FAIL_AT("%s and %s differ in their first %zu bytes", #a, #b, n_);                 \
    } while (0)

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

int test_run(const test_case *cases, size_t n, int argc, char **argv);

#define TEST_ENTRY(fn)                                                                             \
    { #fn, fn }
#define TEST_MAIN(...)                                                                             \
    int main(int argc, char **argv) {                                                              \
        static const test_case cases_[] = {__VA_ARGS__};                                           \
        return test_run(cases_, sizeof cases_ / sizeof cases_[0], argc, argv);                     \
    }

/* Allocator that fails the n-th allocation from now on (0 = never). Tests
 * use it to drive every out-of-memory path of a function. */
void test_alloc_install(void);
void test_alloc_fail_after(long n);
long test_alloc_live(void);     /* allocations not yet freed */
long test_alloc_attempts(void); /* allocations and reallocations asked for since install */
void test_alloc_uninstall(void);

/* Runs scenario once to count its allocations (more than min_allocs, or the
 * check fails), then again with each of them failing in turn (every
 * step-th, so at most max_runs runs): none may leak. */
void test_alloc_sweep(void (*scenario)(void), long min_allocs, long max_runs);

#endif
