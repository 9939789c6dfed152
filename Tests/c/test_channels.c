/*
 * Channels through the C ABI: namespaces, publish (waiting and with a callback), host
 * subscriptions with recovery, history, idempotency, persistence across a reopen, and bad input.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <realtime.h>

#include "harness.h"
#include "channel_support.h"

static uint64_t publish_text(rt_core *core, const char *channel, const char *text)
{
    rt_publish_opts opts = RT_PUBLISH_OPTS_INIT;
    uint64_t offset = 0;
    opts.is_json = 1;
    CHECK_EQ_INT(rt_publish(core, channel, (const uint8_t *)text, strlen(text), &opts, &offset), RT_OK);
    return offset;
}

static void test_publish_subscribe_and_history(void)
{
    rt_core *core = start_core(NULL);
    rt_namespace_config ns = RT_NAMESPACE_CONFIG_INIT;
    rt_subscribe_opts so = RT_SUBSCRIBE_OPTS_INIT;
    rt_history_opts ho = RT_HISTORY_OPTS_INIT;
    rt_sub *sub = NULL;
    struct seen live, hist;
    if (core == NULL)
        return;
    seen_init(&live);
    seen_init(&hist);
    ns.flags = RT_NAMESPACE_IN_MEMORY;
    ns.history_size = 3;
    CHECK_EQ_INT(rt_core_set_namespace(core, "mem", &ns), RT_OK);

    CHECK_EQ_INT(rt_subscribe(core, "mem:a", &so, on_message, &live, &sub), RT_OK);
    CHECK(sub != NULL);
    CHECK_EQ_INT(so.offset, 0);
    CHECK_EQ_INT(so.recovered, -1);
    CHECK_EQ_INT(strlen(so.epoch), 16);
    CHECK_EQ_INT(publish_text(core, "mem:a", "{\"n\":1}"), 1);
    CHECK_EQ_INT(publish_text(core, "mem:a", "[2]"), 2);
    CHECK_EQ_INT(publish_text(core, "mem:a", "\"three\""), 3);
    CHECK_EQ_INT(publish_text(core, "mem:a", "4"), 4);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK_EQ_INT(seen_count(&live), 4);
    CHECK(live.offsets[0] == 1 && live.offsets[3] == 4);
    CHECK(strcmp(live.data[1], "[2]") == 0 && live.json[1] == 1);

    /* History keeps the newest 3. */
    CHECK_EQ_INT(rt_history(core, "mem:a", &ho, on_message, &hist), RT_OK);
    CHECK_EQ_INT(hist.count, 3);
    CHECK(hist.offsets[0] == 2 && hist.offsets[2] == 4);
    CHECK_EQ_INT(ho.top, 4);
    CHECK(strcmp(ho.epoch, so.epoch) == 0);

    CHECK_EQ_INT(rt_unsubscribe(&sub), RT_OK);
    CHECK(sub == NULL);
    CHECK_EQ_INT(rt_unsubscribe(&sub), RT_OK);
    CHECK_EQ_INT(publish_text(core, "mem:a", "5"), 5);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK_EQ_INT(seen_count(&live), 4); /* nothing after unsubscribe */

    /* Recovery from offset 3 replays 4 and 5 before anything live. */
    {
        struct seen again;
        rt_subscribe_opts ro = RT_SUBSCRIBE_OPTS_INIT;
        seen_init(&again);
        ro.since_epoch = so.epoch;
        ro.since_offset = 3;
        CHECK_EQ_INT(rt_subscribe(core, "mem:a", &ro, on_message, &again, &sub), RT_OK);
        CHECK_EQ_INT(ro.recovered, 1);
        CHECK_EQ_INT(ro.offset, 5);
        CHECK_EQ_INT(publish_text(core, "mem:a", "6"), 6);
        CHECK_EQ_INT(rt_core_sync(core), RT_OK);
        CHECK_EQ_INT(seen_count(&again), 3);
        CHECK(again.offsets[0] == 4 && again.offsets[1] == 5 && again.offsets[2] == 6);
        CHECK_EQ_INT(rt_unsubscribe(&sub), RT_OK);
    }
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void on_published(void *user_data, rt_status status, uint64_t offset)
{
    struct seen *s = user_data;
    pthread_mutex_lock(&s->mu);
    if (s->count < 256) {
        s->offsets[s->count] = status == RT_OK ? offset : 0;
        s->count++;
    }
    pthread_mutex_unlock(&s->mu);
}

static void test_publish_with_callback_and_idempotency(void)
{
    rt_core *core = start_core(NULL);
    rt_publish_opts opts = RT_PUBLISH_OPTS_INIT;
    struct seen acks, hist;
    uint64_t offset = 0;
    int i;
    if (core == NULL)
        return;
    seen_init(&acks);
    seen_init(&hist);
    opts.done = on_published;
    opts.done_user_data = &acks;
    for (i = 0; i < 10; i++)
        CHECK_EQ_INT(rt_publish(core, "room", (const uint8_t *)"x", 1, &opts, NULL), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK_EQ_INT(seen_count(&acks), 10);
    CHECK(acks.offsets[0] == 1 && acks.offsets[9] == 10);

    opts.done = NULL;
    opts.idempotency_key = "order-17";
    CHECK_EQ_INT(rt_publish(core, "room", (const uint8_t *)"a", 1, &opts, &offset), RT_OK);
    CHECK_EQ_INT(offset, 11);
    CHECK_EQ_INT(rt_publish(core, "room", (const uint8_t *)"b", 1, &opts, &offset), RT_OK);
    CHECK_EQ_INT(offset, 11); /* the retry stores nothing */
    CHECK_EQ_INT(rt_history(core, "room", NULL, on_message, &hist), RT_OK);
    CHECK_EQ_INT(hist.count, 11);
    CHECK(strcmp(hist.data[10], "a") == 0 && hist.json[10] == 0);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_persistent_channels_survive_reopen(void)
{
    char dir[] = "/tmp/rt-c-channels-XXXXXX";
    char path[256], wal[300], shm[300];
    char epoch[65];
    rt_core *core;
    rt_subscribe_opts so = RT_SUBSCRIBE_OPTS_INIT;
    rt_sub *sub = NULL;
    struct seen replay;
    int i;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/ch.db", dir);
    seen_init(&replay);

    core = start_core(path);
    if (core == NULL)
        return;
    for (i = 1; i <= 5; i++)
        CHECK_EQ_INT(publish_text(core, "room-1", "{}"), (uint64_t)i);
    {
        rt_history_opts ho = RT_HISTORY_OPTS_INIT;
        struct seen h;
        seen_init(&h);
        CHECK_EQ_INT(rt_history(core, "room-1", &ho, on_message, &h), RT_OK);
        CHECK_EQ_INT(h.count, 5);
        memcpy(epoch, ho.epoch, sizeof epoch);
    }
    /* "chat" is not configured: only the default namespace "" is. */
    CHECK_EQ_INT(rt_publish(core, "chat:1", (const uint8_t *)"1", 1, NULL, NULL), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);

    core = start_core(path);
    if (core == NULL)
        return;
    so.since_epoch = epoch;
    so.since_offset = 2;
    CHECK_EQ_INT(rt_subscribe(core, "room-1", &so, on_message, &replay, &sub), RT_OK);
    CHECK_EQ_INT(so.recovered, 1);
    CHECK(strcmp(so.epoch, epoch) == 0); /* the epoch survives the restart */
    CHECK_EQ_INT(publish_text(core, "room-1", "{}"), 6);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK_EQ_INT(seen_count(&replay), 4);
    CHECK(replay.offsets[0] == 3 && replay.offsets[3] == 6);
    CHECK_EQ_INT(rt_unsubscribe(&sub), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    unlink(path);
    unlink(wal);
    unlink(shm);
    rmdir(dir);
}

static void test_bad_input_is_refused(void)
{
    rt_core *core = start_core(NULL);
    rt_publish_opts opts = RT_PUBLISH_OPTS_INIT;
    rt_history_opts ho = RT_HISTORY_OPTS_INIT;
    rt_namespace_config ns = RT_NAMESPACE_CONFIG_INIT;
    rt_sub *sub = NULL;
    struct seen s;
    uint8_t *big;
    if (core == NULL)
        return;
    seen_init(&s);
    CHECK_EQ_INT(rt_publish(NULL, "a", (const uint8_t *)"x", 1, NULL, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_publish(core, NULL, (const uint8_t *)"x", 1, NULL, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_publish(core, "a", NULL, 1, NULL, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_publish(core, "has space", (const uint8_t *)"x", 1, NULL, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_publish(core, "", (const uint8_t *)"x", 1, NULL, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_publish(core, "nope:x", (const uint8_t *)"x", 1, NULL, NULL), RT_ENOTFOUND);
    opts.is_json = 1;
    CHECK_EQ_INT(rt_publish(core, "a", (const uint8_t *)"{\"x\":", 5, &opts, NULL), RT_EINVAL);
    opts.is_json = 0;
    opts.idempotency_key = "";
    CHECK_EQ_INT(rt_publish(core, "a", (const uint8_t *)"x", 1, &opts, NULL), RT_EINVAL);
    opts.idempotency_key = NULL;
    opts.struct_size = 4;
    CHECK_EQ_INT(rt_publish(core, "a", (const uint8_t *)"x", 1, &opts, NULL), RT_EVERSION);
    big = calloc((1u << 20) + 1, 1);
    CHECK(big != NULL);
    if (big != NULL)
        CHECK_EQ_INT(rt_publish(core, "a", big, (1u << 20) + 1, NULL, NULL), RT_ETOOBIG);
    free(big);
    ho.limit = 1001;
    CHECK_EQ_INT(rt_history(core, "a", &ho, on_message, &s), RT_EINVAL);
    CHECK_EQ_INT(rt_history(core, "a", NULL, NULL, &s), RT_EINVAL);
    CHECK_EQ_INT(rt_history(core, "a", NULL, on_message, &s), RT_OK);
    CHECK_EQ_INT(s.count, 0); /* nothing was stored */
    CHECK_EQ_INT(rt_subscribe(core, "a", NULL, NULL, &s, &sub), RT_EINVAL);
    CHECK_EQ_INT(rt_subscribe(core, "a", NULL, on_message, &s, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_subscribe(core, "bad name", NULL, on_message, &s, &sub), RT_EINVAL);
    CHECK(sub == NULL);
    CHECK_EQ_INT(rt_core_set_namespace(core, "Bad!", NULL), RT_EINVAL);
    ns.history_size = 2000000;
    CHECK_EQ_INT(rt_core_set_namespace(core, "ok", &ns), RT_EINVAL);
    ns.history_size = 0;
    ns.flags = 0x80;
    CHECK_EQ_INT(rt_core_set_namespace(core, "ok", &ns), RT_EINVAL);
    ns.flags = 0;
    ns.publish_policy = 7;
    CHECK_EQ_INT(rt_core_set_namespace(core, "ok", &ns), RT_EINVAL);
    CHECK(strstr(rt_core_errmsg(core), "publish_policy") != NULL);
    ns.publish_policy = RT_PUBLISH_SUBSCRIBERS;
    ns.slow_consumer = 9;
    CHECK_EQ_INT(rt_core_set_namespace(core, "ok", &ns), RT_EINVAL);
    CHECK(strstr(rt_core_errmsg(core), "slow_consumer") != NULL);
    ns.slow_consumer = RT_SLOW_CONSUMER_DROP_OLDEST;
    CHECK_EQ_INT(rt_core_set_namespace(core, "ok", &ns), RT_OK);
    CHECK_EQ_INT(rt_namespace_config_init(NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

int main(void)
{
    RUN(test_publish_subscribe_and_history);
    RUN(test_publish_with_callback_and_idempotency);
    RUN(test_persistent_channels_survive_reopen);
    RUN(test_bad_input_is_refused);
    return harness_summary();
}
