/*
 * token_bench.c — verifying PASETO v4.public access tokens through the core's C ABI
 * (rt_token_verify: strict base64url decoding, footer and key lookup, PAE, Ed25519, claims JSON
 * and time checks; with and without the claims copied out) against raw libsodium
 * crypto_sign_verify_detached over the same pre-authentication encoding, in the same process,
 * interleaved in rounds. Also times a session's access token (its sid looked up in the session
 * table) and rt_token_issue. Prints operations per second, best round of
 * each, and the ratio.
 *   token_bench [ROUNDS] [OPS_PER_ROUND]
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

static void le64(uint8_t *out, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    long ops = argc > 2 ? atol(argv[2]) : 20000;
    uint8_t seed[32], pk[32], payload[4096], footer[256], pae[8192];
    size_t payload_len = 0, footer_len = 0, pae_len = 0, message_len;
    double best_core = 1e9, best_claims = 1e9, best_raw = 1e9, best_issue = 1e9, best_session = 1e9;
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    rt_bytes token = {NULL, 0}, claims = {NULL, 0}, fresh = {NULL, 0};
    /* A session's access token carries a sid, which verification also looks up. */
    rt_bytes session_access = {NULL, 0}, session_refresh = {NULL, 0};
    const char *dot;
    int r;
    long i;

    if (sodium_init() < 0 || rt_core_open(&cfg, &core) != RT_OK)
        return 1;
    randombytes_buf(seed, sizeof seed);
    if (rt_token_key_add(core, "bench-key", seed, sizeof seed) != RT_OK || rt_token_public_key(core, NULL, pk) != RT_OK)
        return 1;
    if (rt_token_issue(core, "user-12345", "device-abcdef", "chat:read chat:write presence", RT_TOKEN_ACCESS, 0,
                       &token) != RT_OK)
        return 1;
    if (rt_session_start(core, "user-12345", "device-abcdef", "chat:read chat:write presence", 0, 0, &session_access,
                         &session_refresh, NULL) != RT_OK)
        return 1;
    /* The same token taken apart by hand for the raw side: PAE(h, m, f, ""). */
    dot = strchr((const char *)token.data + 10, '.');
    if (dot == NULL ||
        sodium_base642bin(payload, sizeof payload, (const char *)token.data + 10,
                          (size_t)(dot - (const char *)token.data) - 10, NULL, &payload_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        sodium_base642bin(footer, sizeof footer, dot + 1, strlen(dot + 1), NULL, &footer_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return 1;
    message_len = payload_len - 64;
    le64(pae, 4);
    pae_len = 8;
    le64(pae + pae_len, 10);
    memcpy(pae + pae_len + 8, "v4.public.", 10);
    pae_len += 18;
    le64(pae + pae_len, message_len);
    memcpy(pae + pae_len + 8, payload, message_len);
    pae_len += 8 + message_len;
    le64(pae + pae_len, footer_len);
    memcpy(pae + pae_len + 8, footer, footer_len);
    pae_len += 8 + footer_len;
    le64(pae + pae_len, 0);
    pae_len += 8;
    if (crypto_sign_verify_detached(payload + message_len, pae, pae_len, pk) != 0)
        return 1;
    printf("token: %zu bytes (claims %zu)\n", token.len, message_len);

    for (r = 0; r < rounds; r++) {
        double t0 = now_s(), t;
        for (i = 0; i < ops; i++)
            if (rt_token_verify(core, (const char *)token.data, token.len, RT_TOKEN_ACCESS, NULL) != RT_OK)
                return 1;
        t = now_s() - t0;
        if (t < best_core)
            best_core = t;
        t0 = now_s();
        for (i = 0; i < ops; i++) {
            if (rt_token_verify(core, (const char *)token.data, token.len, RT_TOKEN_ACCESS, &claims) != RT_OK)
                return 1;
            rt_bytes_free(&claims);
        }
        t = now_s() - t0;
        if (t < best_claims)
            best_claims = t;
        t0 = now_s();
        for (i = 0; i < ops; i++)
            if (crypto_sign_verify_detached(payload + message_len, pae, pae_len, pk) != 0)
                return 1;
        t = now_s() - t0;
        if (t < best_raw)
            best_raw = t;
        t0 = now_s();
        for (i = 0; i < ops; i++)
            if (rt_token_verify(core, (const char *)session_access.data, session_access.len, RT_TOKEN_ACCESS, NULL) !=
                RT_OK)
                return 1;
        t = now_s() - t0;
        if (t < best_session)
            best_session = t;
        t0 = now_s();
        for (i = 0; i < ops / 4; i++) {
            if (rt_token_issue(core, "user-12345", "device-abcdef", "chat:read chat:write presence", RT_TOKEN_ACCESS,
                               0, &fresh) != RT_OK)
                return 1;
            rt_bytes_free(&fresh);
        }
        t = (now_s() - t0) * 4;
        if (t < best_issue)
            best_issue = t;
    }
    printf("verify  rt_token_verify:           %10.0f/s  (%3.0f%% of raw)\n", ops / best_core,
           100.0 * best_raw / best_core);
    printf("verify  rt_token_verify + claims:  %10.0f/s  (%3.0f%% of raw)\n", ops / best_claims,
           100.0 * best_raw / best_claims);
    printf("verify  a session's token (sid):   %10.0f/s  (%3.0f%% of raw)\n", ops / best_session,
           100.0 * best_raw / best_session);
    printf("verify  raw crypto_sign_verify:    %10.0f/s\n", ops / best_raw);
    printf("issue   rt_token_issue:            %10.0f/s\n", ops / best_issue);
    rt_bytes_free(&token);
    rt_bytes_free(&session_access);
    rt_bytes_free(&session_refresh);
    rt_core_close(&core);
    return 0;
}
