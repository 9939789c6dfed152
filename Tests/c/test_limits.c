/*
 * Rate limits through the C ABI (rt_limit_set, rt_limit_check): a burst passes and the next unit
 * is refused with the time to wait, policies and keys are independent (keys are bytes, NULs
 * included), a policy turned off passes everything, and every bad argument is an error that
 * leaves *allowed at 0. The limits work whatever the core's state. No test waits on the clock:
 * the policies refill far slower than a test runs.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <realtime.h>

#include "harness.h"

static rt_core *open_core(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    return core;
}

static rt_status set_policy(rt_core *core, const char *name, uint64_t count, uint64_t period_ms, uint64_t burst)
{
    rt_limit_policy p = RT_LIMIT_POLICY_INIT;
    p.count = count;
    p.period_ms = period_ms;
    p.burst = burst;
    return rt_limit_set(core, name, &p);
}

/* 1 if `cost` passes for `key`, 0 if refused, -1 on an error. */
static int check(rt_core *core, const char *policy, const char *key, size_t len, uint64_t cost, uint64_t *retry)
{
    int allowed = 7;
    rt_status rc = rt_limit_check(core, policy, key, len, cost, &allowed, retry);
    if (rc != RT_OK) {
        CHECK_EQ_INT(allowed, 0);
        return -1;
    }
    return allowed;
}

static void test_a_burst_passes_then_the_refusal_says_when_to_retry(void)
{
    rt_core *core = open_core();
    uint64_t retry = 0;
    int i;
    if (core == NULL)
        return;
    /* 6 a minute (one per 10 s), 3 at once. Not started: limits do not need the loop. */
    CHECK_EQ_INT(set_policy(core, "login", 6, 60000, 3), RT_OK);
    for (i = 0; i < 3; i++)
        CHECK_EQ_INT(check(core, "login", "ada@example.com", 15, 1, &retry), 1);
    CHECK_EQ_INT(check(core, "login", "ada@example.com", 15, 1, &retry), 0);
    CHECK(retry > 9000 && retry <= 10000);
    /* Another key, another policy: untouched. */
    CHECK_EQ_INT(check(core, "login", "bob@example.com", 15, 3, &retry), 1);
    CHECK_EQ_INT(check(core, "request", "ada@example.com", 15, 1, NULL), 1);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_keys_are_bytes(void)
{
    rt_core *core = open_core();
    if (core == NULL)
        return;
    CHECK_EQ_INT(set_policy(core, "once", 1, 60000, 1), RT_OK);
    CHECK_EQ_INT(check(core, "once", "a\0b", 3, 1, NULL), 1);
    CHECK_EQ_INT(check(core, "once", "a\0c", 3, 1, NULL), 1); /* not cut at the NUL */
    CHECK_EQ_INT(check(core, "once", "a\0b", 3, 1, NULL), 0);
    CHECK_EQ_INT(check(core, "once", "a", 1, 1, NULL), 1);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_a_policy_turned_off_passes_everything(void)
{
    rt_core *core = open_core();
    int i;
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_limit_set(core, "publish", NULL), RT_OK);
    for (i = 0; i < 1000; i++)
        CHECK_EQ_INT(check(core, "publish", "k", 1, 1000000, NULL), 1);
    /* ...and back on. */
    CHECK_EQ_INT(set_policy(core, "publish", 1, 60000, 1), RT_OK);
    CHECK_EQ_INT(check(core, "publish", "k", 1, 1, NULL), 1);
    CHECK_EQ_INT(check(core, "publish", "k", 1, 1, NULL), 0);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_the_limits_work_while_the_core_runs(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    CHECK_EQ_INT(set_policy(core, "rpc", 1, 60000, 2), RT_OK);
    CHECK_EQ_INT(check(core, "rpc", "c1", 2, 2, NULL), 1);
    CHECK_EQ_INT(check(core, "rpc", "c1", 2, 1, NULL), 0);
    CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    CHECK_EQ_INT(check(core, "rpc", "c1", 2, 1, NULL), 0); /* stopped: the state is still there */
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_bad_arguments_are_refused(void)
{
    rt_core *core = open_core();
    rt_limit_policy p = RT_LIMIT_POLICY_INIT;
    char big[1025];
    int allowed = 7;
    if (core == NULL)
        return;
    memset(big, 'k', sizeof big);
    CHECK_EQ_INT(check(core, "nope", "k", 1, 1, NULL), -1);
    CHECK_EQ_INT(rt_limit_check(core, "nope", "k", 1, 1, &allowed, NULL), RT_ENOTFOUND);
    CHECK(strstr(rt_core_errmsg(core), "nope") != NULL);
    CHECK_EQ_INT(rt_limit_check(core, "a-name-that-is-far-longer-than-32-bytes", "k", 1, 1, &allowed, NULL),
                 RT_ENOTFOUND);
    CHECK_EQ_INT(rt_limit_check(core, "login", "k", 1, 0, &allowed, NULL), RT_EINVAL);   /* cost 0 */
    CHECK_EQ_INT(rt_limit_check(core, "login", "k", 1, 6, &allowed, NULL), RT_EINVAL);   /* over the burst of 5 */
    CHECK_EQ_INT(rt_limit_check(core, "login", "k", 0, 1, &allowed, NULL), RT_EINVAL);   /* empty key */
    CHECK_EQ_INT(rt_limit_check(core, "login", NULL, 1, 1, &allowed, NULL), RT_EINVAL);  /* NULL key */
    CHECK_EQ_INT(rt_limit_check(core, "login", big, sizeof big, 1, &allowed, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_limit_check(core, "login", big, 1024, 1, &allowed, NULL), RT_OK);   /* the largest key */
    CHECK_EQ_INT(allowed, 1);
    CHECK_EQ_INT(rt_limit_check(core, NULL, "k", 1, 1, &allowed, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_limit_check(core, "login", "k", 1, 1, NULL, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_limit_check(NULL, "login", "k", 1, 1, &allowed, NULL), RT_EINVAL);
    CHECK_EQ_INT(set_policy(core, "p", 0, 1000, 1), RT_EINVAL);
    CHECK_EQ_INT(set_policy(core, "p", 1, 0, 1), RT_EINVAL);
    CHECK_EQ_INT(set_policy(core, "p", 1, 1000, 0), RT_EINVAL);
    CHECK_EQ_INT(set_policy(core, "p", 1, 1000, 1000001), RT_EINVAL);
    CHECK_EQ_INT(set_policy(core, "p", 2000000, 1, 1), RT_EINVAL);
    CHECK_EQ_INT(set_policy(core, "Bad Name", 1, 1000, 1), RT_EINVAL);
    CHECK_EQ_INT(set_policy(core, "", 1, 1000, 1), RT_EINVAL);
    CHECK_EQ_INT(rt_limit_set(core, NULL, NULL), RT_EINVAL);
    p.struct_size = 8;
    p.count = p.period_ms = p.burst = 1;
    CHECK_EQ_INT(rt_limit_set(core, "p", &p), RT_EVERSION);
    /* Nothing refused was added. */
    CHECK_EQ_INT(rt_limit_check(core, "p", "k", 1, 1, &allowed, NULL), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

int main(void)
{
    RUN(test_a_burst_passes_then_the_refusal_says_when_to_retry);
    RUN(test_keys_are_bytes);
    RUN(test_a_policy_turned_off_passes_everything);
    RUN(test_the_limits_work_while_the_core_runs);
    RUN(test_bad_arguments_are_refused);
    return harness_summary();
}
