#define _GNU_SOURCE
#include "gcra_ref.h"

#include <time.h>

/* The clock RateLimiter reads by default: the kernel's coarse monotonic clock. */
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t gcra_ref_run(uint64_t *tat, size_t keys, uint64_t checks, uint64_t interval_ns, uint64_t burst,
                      uint64_t *allowed)
{
    const uint64_t tolerance = interval_ns * burst;
    uint64_t passed = 0;
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < checks; i++) {
        /* The same key order as the Swift run: i * a large odd number, mod keys. */
        size_t key = (size_t)((i * 0x9E3779B97F4A7C15ull) % keys);
        uint64_t now = now_ns();
        uint64_t t = tat[key] > now ? tat[key] : now;
        uint64_t next = t + interval_ns;
        if (next - now <= tolerance) {
            tat[key] = next;
            passed++;
        }
    }
    *allowed = passed;
    return now_ns() - start;
}
