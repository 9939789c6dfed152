/*
 * seal_bench.c — sealing a 1 KiB payload through the core's C ABI (rt_seal / rt_open: key
 * lookup, subkey cache, associated data, a malloc'd result; and rt_seal_into / rt_open_into,
 * into the caller's buffer like the raw calls) against raw libsodium
 * XChaCha20-Poly1305 (random nonce, caller's buffer) in the same process, interleaved in rounds
 * so both see the same machine. Prints operations per second, best round of each, and the ratio.
 * The core takes its nonces from a per-thread buffer of getrandom bytes (docs/security.md); a
 * third raw loop does the same, so the core's own bookkeeping shows apart from the nonce source.
 *   seal_bench [ROUNDS] [OPS_PER_ROUND]
 */
#define _POSIX_C_SOURCE 199309L

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <realtime.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    long ops = argc > 2 ? atol(argv[2]) : 100000;
    enum { SIZE = 1024 };
    uint8_t msg[SIZE], key[32], nonce[24], out[SIZE + 16], plain[SIZE];
    unsigned long long written;
    double best_core_seal = 1e9, best_raw_seal = 1e9, best_core_open = 1e9, best_raw_open = 1e9;
    double best_into_seal = 1e9, best_into_open = 1e9, best_buffered_seal = 1e9;
    static uint8_t pool[4096];
    size_t pool_used = sizeof pool;
    uint8_t boxed[SIZE + RT_SEAL_OVERHEAD];
    size_t n;
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    rt_bytes sealed = {NULL, 0}, opened = {NULL, 0};
    const char *ad = "chat:room-1/42";
    int r;
    long i;

    if (sodium_init() < 0 || rt_core_open(&cfg, &core) != RT_OK)
        return 1;
    randombytes_buf(msg, sizeof msg);
    randombytes_buf(key, sizeof key);
    if (rt_key_add(core, 1, key, sizeof key) != RT_OK)
        return 1;
    for (r = 0; r < rounds; r++) {
        double t0 = now_s(), t;
        for (i = 0; i < ops; i++) {
            if (rt_seal(core, "bench", (const uint8_t *)ad, strlen(ad), msg, SIZE, &sealed) != RT_OK)
                return 1;
            if (i + 1 < ops)
                rt_bytes_free(&sealed);
        }
        t = now_s() - t0;
        if (t < best_core_seal)
            best_core_seal = t;
        t0 = now_s();
        for (i = 0; i < ops; i++) {
            if (rt_open(core, "bench", (const uint8_t *)ad, strlen(ad), sealed.data, sealed.len, &opened) != RT_OK)
                return 1;
            rt_bytes_free(&opened);
        }
        t = now_s() - t0;
        if (t < best_core_open)
            best_core_open = t;
        rt_bytes_free(&sealed);
        t0 = now_s();
        for (i = 0; i < ops; i++) {
            if (rt_seal_into(core, "bench", (const uint8_t *)ad, strlen(ad), msg, SIZE, boxed, sizeof boxed, &n) !=
                RT_OK)
                return 1;
        }
        t = now_s() - t0;
        if (t < best_into_seal)
            best_into_seal = t;
        t0 = now_s();
        for (i = 0; i < ops; i++) {
            if (rt_open_into(core, "bench", (const uint8_t *)ad, strlen(ad), boxed, n, plain, sizeof plain, NULL) !=
                RT_OK)
                return 1;
        }
        t = now_s() - t0;
        if (t < best_into_open)
            best_into_open = t;
        t0 = now_s();
        for (i = 0; i < ops; i++) {
            randombytes_buf(nonce, sizeof nonce);
            crypto_aead_xchacha20poly1305_ietf_encrypt(out, &written, msg, SIZE, (const uint8_t *)ad, strlen(ad),
                                                       NULL, nonce, key);
        }
        t = now_s() - t0;
        if (t < best_raw_seal)
            best_raw_seal = t;
        t0 = now_s();
        for (i = 0; i < ops; i++) {
            if (sizeof pool - pool_used < sizeof nonce) {
                randombytes_buf(pool, sizeof pool);
                pool_used = 0;
            }
            memcpy(nonce, pool + pool_used, sizeof nonce);
            pool_used += sizeof nonce;
            crypto_aead_xchacha20poly1305_ietf_encrypt(out, &written, msg, SIZE, (const uint8_t *)ad, strlen(ad),
                                                       NULL, nonce, key);
        }
        t = now_s() - t0;
        if (t < best_buffered_seal)
            best_buffered_seal = t;
        t0 = now_s();
        for (i = 0; i < ops; i++) {
            if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &written, NULL, out, sizeof out,
                                                           (const uint8_t *)ad, strlen(ad), nonce, key) != 0)
                return 1;
        }
        t = now_s() - t0;
        if (t < best_raw_open)
            best_raw_open = t;
    }
    printf("seal 1 KiB: raw libsodium %.0f/s; rt_seal %.0f/s (%.0f%%); rt_seal_into %.0f/s (%.0f%%)\n",
           ops / best_raw_seal, ops / best_core_seal, 100 * best_raw_seal / best_core_seal, ops / best_into_seal,
           100 * best_raw_seal / best_into_seal);
    printf("seal 1 KiB, raw with nonces from a 4 KiB buffer as the core takes them: %.0f/s; rt_seal %.0f%%, "
           "rt_seal_into %.0f%% of it\n",
           ops / best_buffered_seal, 100 * best_buffered_seal / best_core_seal, 100 * best_buffered_seal / best_into_seal);
    printf("open 1 KiB: raw libsodium %.0f/s; rt_open %.0f/s (%.0f%%); rt_open_into %.0f/s (%.0f%%); "
           "best of %d rounds of %ld\n",
           ops / best_raw_open, ops / best_core_open, 100 * best_raw_open / best_core_open, ops / best_into_open,
           100 * best_raw_open / best_into_open, rounds, ops);
    rt_core_close(&core);
    return 0;
}
