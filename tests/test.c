#include "test.h"
#include "slim/alloc.h"

#include <stdlib.h>

int test_failures;

int test_run(const test_case *cases, size_t n, int argc, char **argv) {
    int failed_cases = 0;
    size_t ran = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1) {
            int wanted = 0;
            for (int a = 1; a < argc; a++)
                wanted |= strcmp(argv[a], cases[i].name) == 0;
            if (!wanted)
                continue;
        }
        int before = test_failures;
        cases[i].fn();
        ran++;
        int bad = test_failures != before;
        failed_cases += bad;
        printf("%s %s\n", bad ? "FAIL" : "ok  ", cases[i].name);
        fflush(stdout);
    }
    printf("%zu cases, %d failed\n", ran, failed_cases);
    if (ran == 0) {
        fprintf(stderr, "no test case matched\n");
        return 1;
    }
    return failed_cases ? 1 : 0;
}

static long fail_countdown;
static long live;
static long attempts;

static void *t_malloc(size_t size, void *ud) {
    (void)ud;
    attempts++;
    if (fail_countdown > 0 && --fail_countdown == 0)
        return NULL;
    void *p = malloc(size);
    if (p != NULL)
        live++;
    return p;
}

static void *t_realloc(void *ptr, size_t size, void *ud) {
    (void)ud;
    attempts++;
    if (fail_countdown > 0 && --fail_countdown == 0)
        return NULL;
    void *p = realloc(ptr, size);
    if (p != NULL && ptr == NULL)
        live++;
    return p;
}

static void t_free(void *ptr, void *ud) {
    (void)ud;
    if (ptr != NULL)
        live--;
    free(ptr);
}

void test_alloc_install(void) {
    static const slim_allocator a = {t_malloc, t_realloc, t_free, NULL};
    fail_countdown = 0;
    live = 0;
    attempts = 0;
    slim_set_allocator(&a);
}

void test_alloc_fail_after(long n) {
    fail_countdown = n;
}

long test_alloc_live(void) {
    return live;
}

long test_alloc_attempts(void) {
    return attempts;
}

void test_alloc_uninstall(void) {
    slim_set_allocator(NULL);
}

void test_alloc_sweep(void (*scenario)(void), long min_allocs, long max_runs) {
    test_alloc_install();
    scenario();
    long total = test_alloc_attempts();
    CHECK_EQ(test_alloc_live(), 0);
    CHECK(total > min_allocs);
    long step = total > max_runs ? total / max_runs : 1;
    printf("  allocation failures: %ld allocations, failing every %ld\n", total, step);
    for (long k = 1; k <= total; k += step) {
        test_alloc_install();
        test_alloc_fail_after(k);
        scenario();
        test_alloc_fail_after(0);
        if (test_alloc_live() != 0) {
            TEST_FAIL_AT("allocation %ld of %ld failing leaks %ld blocks", k, total,
                         test_alloc_live());
            break;
        }
    }
    test_alloc_uninstall();
}
