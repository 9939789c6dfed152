/*
 * password_bench.c — Argon2id logins per second through the C ABI (rt_password_verify with the
 * core's default interactive limits: 2 passes over 64 MiB), from THREADS host threads at once,
 * under each concurrency cap given. Prints logins per second and the wall time per cap.
 *   password_bench [LOGINS] [THREADS] [CAP...]
 */
#define _POSIX_C_SOURCE 199309L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <realtime.h>

static rt_core *core;
static rt_bytes hash;
static long per_thread;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *logins(void *arg)
{
    long i;
    int ok = 0;
    (void)arg;
    for (i = 0; i < per_thread; i++) {
        if (rt_password_verify(core, (const char *)hash.data, "correct horse", 13, &ok, NULL) != RT_OK || !ok) {
            fprintf(stderr, "verify failed\n");
            exit(1);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? atol(argv[1]) : 40;
    int threads = argc > 2 ? atoi(argv[2]) : 4, a, t;
    rt_config cfg = RT_CONFIG_INIT;
    pthread_t ids[64];

    if (threads < 1 || threads > 64 || rt_core_open(&cfg, &core) != RT_OK)
        return 1;
    per_thread = total / threads;
    if (rt_password_hash(core, "correct horse", 13, &hash) != RT_OK)
        return 1;
    for (a = 3; a < (argc > 3 ? argc : 5); a++) {
        int cap = argc > 3 ? atoi(argv[a]) : a - 2;
        double t0;
        /* The default limits (libsodium's interactive ones) with this cap. */
        if (rt_password_configure(core, 2, 64u << 20, cap) != RT_OK)
            return 1;
        t0 = now_s();
        for (t = 0; t < threads; t++)
            pthread_create(&ids[t], NULL, logins, NULL);
        for (t = 0; t < threads; t++)
            pthread_join(ids[t], NULL);
        printf("argon2id logins (interactive: 2 passes, 64 MiB), %d threads, cap %d: %.1f/s (%ld in %.2f s)\n", threads,
               cap, (double)(per_thread * threads) / (now_s() - t0), per_thread * threads, now_s() - t0);
    }
    rt_bytes_free(&hash);
    rt_core_close(&core);
    return 0;
}
