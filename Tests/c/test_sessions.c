/*
 * test_sessions.c — sessions through the C ABI: start gives an access and a refresh token
 * carrying the session id; refresh rotates; reusing a rotated refresh token revokes the whole
 * family (RT_EPERM, "reuse"); two threads refreshing with one token: exactly one wins; revoking
 * a session, a device, a user refuses their tokens; the JSON lists; sessions survive a restart;
 * bad arguments and the token_auth listen option.
 */
#define _XOPEN_SOURCE 700

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <realtime.h>

#include "harness.h"
#include "doc_support.h"
#include "tempdir.h"

static const uint8_t seed[RT_TOKEN_SEED_BYTES] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6,
                                                 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22};

static rt_core *keyed_core(const char *path)
{
    rt_core *core = open_core(path);
    if (core != NULL)
        CHECK_EQ_INT(rt_token_key_add(core, "k1", seed, sizeof seed), RT_OK);
    return core;
}

static rt_status verify_access(rt_core *core, const rt_bytes *token)
{
    return rt_token_verify(core, (const char *)token->data, token->len, RT_TOKEN_ACCESS, NULL);
}

static rt_status refresh(rt_core *core, const rt_bytes *token, rt_bytes *access, rt_bytes *fresh)
{
    return rt_session_refresh(core, (const char *)token->data, token->len, access, fresh);
}

static void test_rotation_and_reuse(void)
{
    rt_core *core = keyed_core(NULL);
    rt_bytes a1 = {NULL, 0}, r1 = {NULL, 0}, a2 = {NULL, 0}, r2 = {NULL, 0}, a3 = {NULL, 0}, r3 = {NULL, 0};
    rt_bytes claims = {NULL, 0};
    char sid[RT_SESSION_ID_BYTES];
    char expected[64];

    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_session_start(core, "ada", "phone", "chat", 0, 0, &a1, &r1, sid), RT_OK);
    CHECK(strlen(sid) == 32);
    CHECK_EQ_INT(rt_token_verify(core, (const char *)a1.data, a1.len, RT_TOKEN_ACCESS, &claims), RT_OK);
    snprintf(expected, sizeof expected, "\"sid\":\"%s\"", sid);
    CHECK(claims.data != NULL && strstr((const char *)claims.data, expected) != NULL);
    rt_bytes_free(&claims);
    CHECK_EQ_INT(rt_token_verify(core, (const char *)r1.data, r1.len, RT_TOKEN_REFRESH, NULL), RT_OK);
    /* An access token does not refresh. */
    CHECK_EQ_INT(refresh(core, &a1, &a2, &r2), RT_EPERM);
    CHECK(a2.data == NULL && r2.data == NULL);
    CHECK_EQ_INT(refresh(core, &r1, &a2, &r2), RT_OK);
    CHECK_EQ_INT(verify_access(core, &a2), RT_OK);
    CHECK_EQ_INT(refresh(core, &r2, &a3, &r3), RT_OK);
    /* r1 again: reuse revokes the family. */
    {
        rt_bytes x = {NULL, 0}, y = {NULL, 0};
        CHECK_EQ_INT(refresh(core, &r1, &x, &y), RT_EPERM);
        CHECK(strstr(rt_core_errmsg(core), "reuse") != NULL);
        CHECK(x.data == NULL && y.data == NULL);
        CHECK_EQ_INT(refresh(core, &r3, &x, &y), RT_EPERM);
    }
    CHECK_EQ_INT(verify_access(core, &a1), RT_EPERM);
    CHECK_EQ_INT(verify_access(core, &a3), RT_EPERM);
    rt_bytes_free(&a1);
    rt_bytes_free(&r1);
    rt_bytes_free(&a2);
    rt_bytes_free(&r2);
    rt_bytes_free(&a3);
    rt_bytes_free(&r3);
    rt_core_close(&core);
}

struct race {
    rt_core *core;
    const rt_bytes *token;
    pthread_barrier_t *start;
    rt_status result;
};

static void *racer(void *arg)
{
    struct race *r = arg;
    rt_bytes a = {NULL, 0}, f = {NULL, 0};
    pthread_barrier_wait(r->start);
    r->result = refresh(r->core, r->token, &a, &f);
    rt_bytes_free(&a);
    rt_bytes_free(&f);
    return NULL;
}

static void test_concurrent_refresh_has_one_winner(void)
{
    rt_core *core = keyed_core(NULL);
    int round;

    if (core == NULL)
        return;
    for (round = 0; round < 10; round++) {
        rt_bytes access = {NULL, 0}, token = {NULL, 0};
        pthread_barrier_t start;
        pthread_t threads[2];
        struct race races[2];
        int i, wins = 0;

        CHECK_EQ_INT(rt_session_start(core, "racer", "d", NULL, 0, 0, &access, &token, NULL), RT_OK);
        pthread_barrier_init(&start, NULL, 2);
        for (i = 0; i < 2; i++) {
            races[i].core = core;
            races[i].token = &token;
            races[i].start = &start;
            races[i].result = 1;
            pthread_create(&threads[i], NULL, racer, &races[i]);
        }
        for (i = 0; i < 2; i++)
            pthread_join(threads[i], NULL);
        pthread_barrier_destroy(&start);
        for (i = 0; i < 2; i++) {
            if (races[i].result == RT_OK)
                wins++;
            else
                CHECK_EQ_INT(races[i].result, RT_EPERM);
        }
        CHECK_EQ_INT(wins, 1);
        /* The loser reused a spent token: the family is revoked. */
        CHECK_EQ_INT(verify_access(core, &access), RT_EPERM);
        rt_bytes_free(&access);
        rt_bytes_free(&token);
    }
    rt_core_close(&core);
}

static void test_revocation_and_lists(void)
{
    rt_core *core = keyed_core(NULL);
    rt_bytes a[4], r[4], json = {NULL, 0}, plain = {NULL, 0};
    char sid[4][RT_SESSION_ID_BYTES];
    size_t count = 99;
    int i;

    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_session_start(core, "ada", "phone", NULL, 0, 0, &a[0], &r[0], sid[0]), RT_OK);
    CHECK_EQ_INT(rt_session_start(core, "ada", "laptop", NULL, 0, 0, &a[1], &r[1], sid[1]), RT_OK);
    CHECK_EQ_INT(rt_session_start(core, "ada", "laptop", NULL, 0, 0, &a[2], &r[2], sid[2]), RT_OK);
    CHECK_EQ_INT(rt_session_start(core, "bob", "phone", NULL, 0, 0, &a[3], &r[3], sid[3]), RT_OK);
    CHECK_EQ_INT(rt_token_issue(core, "ada", "phone", NULL, RT_TOKEN_ACCESS, 0, &plain), RT_OK);

    CHECK_EQ_INT(rt_session_list(core, "ada", &json), RT_OK);
    CHECK(json.data != NULL && json.data[0] == '[' && strstr((const char *)json.data, sid[0]) != NULL);
    CHECK(json.data != NULL && strstr((const char *)json.data, sid[3]) == NULL);
    CHECK(json.data != NULL && strstr((const char *)json.data, "\"revoked\":null") != NULL);
    rt_bytes_free(&json);

    CHECK_EQ_INT(rt_session_revoke(core, sid[0]), RT_OK);
    CHECK_EQ_INT(verify_access(core, &a[0]), RT_EPERM);
    CHECK(strstr(rt_core_errmsg(core), "revoked") != NULL);
    CHECK_EQ_INT(rt_session_revoke(core, sid[0]), RT_OK); /* again: nothing */
    CHECK_EQ_INT(verify_access(core, &a[1]), RT_OK);
    CHECK_EQ_INT(rt_session_revoke_device(core, "ada", "laptop", &count), RT_OK);
    CHECK_EQ_INT((long long)count, 2);
    CHECK_EQ_INT(verify_access(core, &a[1]), RT_EPERM);
    CHECK_EQ_INT(verify_access(core, &a[2]), RT_EPERM);
    CHECK_EQ_INT(verify_access(core, &a[3]), RT_OK);
    CHECK_EQ_INT(rt_session_revoke_user(core, "bob", &count), RT_OK);
    CHECK_EQ_INT((long long)count, 1);
    CHECK_EQ_INT(rt_session_revoke_user(core, "bob", NULL), RT_OK);
    CHECK_EQ_INT(verify_access(core, &a[3]), RT_EPERM);
    /* A token of no session is not affected. */
    CHECK_EQ_INT(verify_access(core, &plain), RT_OK);

    CHECK_EQ_INT(rt_session_list(core, "ada", &json), RT_OK);
    CHECK(json.data != NULL && strstr((const char *)json.data, "\"revoked\":null") == NULL);
    CHECK(json.data != NULL && strstr((const char *)json.data, "\"reason\":\"logged out\"") != NULL);
    rt_bytes_free(&json);
    CHECK_EQ_INT(rt_device_list(core, "ada", &json), RT_OK);
    CHECK(json.data != NULL && strstr((const char *)json.data, "\"device\":\"phone\"") != NULL);
    CHECK(json.data != NULL && strstr((const char *)json.data, "\"device\":\"laptop\"") != NULL);
    rt_bytes_free(&json);
    CHECK_EQ_INT(rt_device_rename(core, "ada", "phone", "Ada's phone"), RT_OK);
    CHECK_EQ_INT(rt_device_list(core, "ada", &json), RT_OK);
    CHECK(json.data != NULL && strstr((const char *)json.data, "\"name\":\"Ada's phone\"") != NULL);
    rt_bytes_free(&json);
    CHECK_EQ_INT(rt_device_rename(core, "ada", "phone", NULL), RT_OK);
    CHECK_EQ_INT(rt_device_list(core, "ada", &json), RT_OK);
    CHECK(json.data != NULL && strstr((const char *)json.data, "Ada's phone") == NULL);
    rt_bytes_free(&json);
    CHECK_EQ_INT(rt_device_rename(core, "ada", "toaster", "x"), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_device_list(core, "nobody", &json), RT_OK);
    CHECK(json.data != NULL && strcmp((const char *)json.data, "[]") == 0);
    rt_bytes_free(&json);

    for (i = 0; i < 4; i++) {
        rt_bytes_free(&a[i]);
        rt_bytes_free(&r[i]);
    }
    rt_bytes_free(&plain);
    rt_core_close(&core);
}

static void test_sessions_survive_a_restart(void)
{
    char *dir = make_tempdir();
    char path[512];
    rt_core *core;
    rt_bytes a1 = {NULL, 0}, r1 = {NULL, 0}, a2 = {NULL, 0}, r2 = {NULL, 0}, x = {NULL, 0}, y = {NULL, 0};

    if (dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/s.db", dir);
    core = keyed_core(path);
    if (core != NULL) {
        CHECK_EQ_INT(rt_session_start(core, "ada", "phone", NULL, 0, 0, &a1, &r1, NULL), RT_OK);
        CHECK_EQ_INT(refresh(core, &r1, &a2, &r2), RT_OK);
        rt_core_close(&core);
    }
    core = keyed_core(path);
    if (core != NULL) {
        CHECK_EQ_INT(verify_access(core, &a2), RT_OK);
        CHECK_EQ_INT(refresh(core, &r1, &x, &y), RT_EPERM);
        CHECK(strstr(rt_core_errmsg(core), "reuse") != NULL);
        CHECK_EQ_INT(verify_access(core, &a2), RT_EPERM);
        rt_core_close(&core);
    }
    core = keyed_core(path);
    if (core != NULL) {
        CHECK_EQ_INT(refresh(core, &r2, &x, &y), RT_EPERM);
        rt_core_close(&core);
    }
    rt_bytes_free(&a1);
    rt_bytes_free(&r1);
    rt_bytes_free(&a2);
    rt_bytes_free(&r2);
    remove_tempdir(dir);
}

static void test_bad_arguments(void)
{
    rt_core *core = keyed_core(NULL);
    rt_bytes a = {NULL, 0}, r = {NULL, 0}, json = {NULL, 0};
    char long_name[300];
    rt_listen_config lc = RT_LISTEN_CONFIG_INIT;

    if (core == NULL)
        return;
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK_EQ_INT(rt_session_start(NULL, "a", "d", NULL, 0, 0, &a, &r, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_session_start(core, NULL, "d", NULL, 0, 0, &a, &r, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_session_start(core, "a", NULL, NULL, 0, 0, &a, &r, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_session_start(core, "a", "", NULL, 0, 0, &a, &r, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_session_start(core, long_name, "d", NULL, 0, 0, &a, &r, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_session_start(core, "a", long_name, NULL, 0, 0, &a, &r, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_session_start(core, "a", "d", NULL, -1, 0, &a, &r, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_session_start(core, "a", "d", NULL, 0, 0, NULL, &r, NULL), RT_EINVAL);
    CHECK(a.data == NULL && r.data == NULL);
    CHECK_EQ_INT(rt_session_refresh(core, NULL, 5, &a, &r), RT_EINVAL);
    CHECK_EQ_INT(rt_session_refresh(core, "v4.public.x", 11, &a, &r), RT_ECORRUPT);
    CHECK_EQ_INT(rt_session_revoke(core, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_session_revoke(core, long_name), RT_EINVAL);
    CHECK_EQ_INT(rt_session_revoke(core, "0123456789abcdef0123456789abcdef"), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_session_revoke_device(core, "a", NULL, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_session_revoke_user(core, long_name, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_session_list(core, NULL, &json), RT_EINVAL);
    CHECK_EQ_INT(rt_session_list(core, "a", NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_device_list(core, long_name, &json), RT_EINVAL);
    CHECK_EQ_INT(rt_device_rename(core, "a", "d", long_name), RT_EINVAL);
    CHECK_EQ_INT(rt_device_rename(core, "a", NULL, "n"), RT_EINVAL);
    CHECK(json.data == NULL);
    /* token_auth takes only the three values. */
    lc.token_auth = 7;
    CHECK_EQ_INT(rt_core_listen(core, "127.0.0.1", 0, &lc, NULL), RT_EINVAL);
    CHECK(strstr(rt_core_errmsg(core), "token_auth") != NULL);
    lc.token_auth = RT_TOKEN_AUTH_REQUIRED;
    CHECK_EQ_INT(rt_core_listen(core, "127.0.0.1", 0, &lc, NULL), RT_OK);
    rt_core_close(&core);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(test_rotation_and_reuse);
    RUN(test_concurrent_refresh_has_one_winner);
    RUN(test_revocation_and_lists);
    RUN(test_sessions_survive_a_restart);
    RUN(test_bad_arguments);
    return harness_summary();
}
