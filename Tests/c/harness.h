/*
 * harness.h — a tiny C99 test harness for the C ABI tests (no external framework).
 *
 *   static void test_foo(void) { CHECK(x == 1); CHECK_EQ_INT(rc, RT_OK); }
 *   int main(void) { RUN(test_foo); return harness_summary(); }
 *
 * A failed check prints file:line and the expression, marks the current test failed and
 * continues, so one run reports every broken expectation. harness_summary() prints exactly
 * "N passed, N failed" (N = test functions) on its own line and returns the exit status.
 *
 * Checks may be made from helper threads while a test runs (the counters are mutex-guarded);
 * RUN itself must be called from the main thread.
 *
 * Include once per test program: the state lives in static variables of that program.
 */
#ifndef RT_TEST_HARNESS_H
#define RT_TEST_HARNESS_H

#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t harness_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *harness_current = "(none)";
static int harness_current_failures;
static int harness_passed;
static int harness_failed;

static inline void harness_fail(const char *file, int line, const char *fmt_expr, long long a,
                                long long b, int with_values)
{
    pthread_mutex_lock(&harness_lock);
    harness_current_failures++;
    if (with_values)
        fprintf(stderr, "%s:%d: FAIL in %s: %s (%lld vs %lld)\n", file, line, harness_current,
                fmt_expr, a, b);
    else
        fprintf(stderr, "%s:%d: FAIL in %s: %s\n", file, line, harness_current, fmt_expr);
    fflush(stderr);
    pthread_mutex_unlock(&harness_lock);
}

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond))                                                                        \
            harness_fail(__FILE__, __LINE__, "CHECK(" #cond ")", 0, 0, 0);                  \
    } while (0)

/* Both sides are evaluated exactly once and compared as long long, so mixing int, rt_status,
 * uint32_t and size_t is fine for the small values the tests compare. */
#define CHECK_EQ_INT(a, b)                                                                  \
    do {                                                                                    \
        long long harness_a_ = (long long)(a), harness_b_ = (long long)(b);                 \
        if (harness_a_ != harness_b_)                                                       \
            harness_fail(__FILE__, __LINE__, "CHECK_EQ_INT(" #a ", " #b ")", harness_a_,    \
                         harness_b_, 1);                                                    \
    } while (0)

static inline void harness_run(const char *name, void (*fn)(void))
{
    int failures;
    pthread_mutex_lock(&harness_lock);
    harness_current = name;
    harness_current_failures = 0;
    pthread_mutex_unlock(&harness_lock);

    fprintf(stderr, "-- %s\n", name);
    fflush(stderr);
    fn();

    pthread_mutex_lock(&harness_lock);
    failures = harness_current_failures;
    if (failures == 0)
        harness_passed++;
    else
        harness_failed++;
    harness_current = "(none)";
    pthread_mutex_unlock(&harness_lock);
    printf("%s %s\n", failures == 0 ? "PASS" : "FAIL", name);
    fflush(stdout);
}

#define RUN(fn) harness_run(#fn, fn)

/* Prints the summary line and returns the process exit status (non-zero if any test failed). */
static inline int harness_summary(void)
{
    printf("%d passed, %d failed\n", harness_passed, harness_failed);
    fflush(stdout);
    return harness_failed == 0 ? 0 : 1;
}

#endif /* RT_TEST_HARNESS_H */
