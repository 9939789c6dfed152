#pragma once
#include <stddef.h>
#include <stdint.h>

/* The physical reference for RealtimeCore's rate limiter: the least a GCRA check can cost on
 * this machine. One uint64_t TAT per key in a plain array indexed by the key's number (no
 * hashing, no lock, no table), the coarse monotonic clock read per check as RateLimiter does. Runs `checks` checks over
 * `keys` keys (key i % keys, scrambled), one unit each; returns the nanoseconds taken and sets
 * *allowed to how many passed. */
uint64_t gcra_ref_run(uint64_t *tat, size_t keys, uint64_t checks, uint64_t interval_ns, uint64_t burst,
                      uint64_t *allowed);
