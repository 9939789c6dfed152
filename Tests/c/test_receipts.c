/*
 * Receipts and unread counts through the C ABI (rt_receipt, rt_unread): cursors per user, channel
 * and device that only move forward and never pass the newest offset, unread = messages after the
 * newest one the user read on any device, bad input, persistence across a reopen, epochs, and a
 * host subscription on the same channel that keeps getting exactly its messages.
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

static void on_message_ignored(void *user_data, const rt_message *m)
{
    (void)user_data;
    (void)m;
}

static uint64_t publish_one(rt_core *core, const char *channel)
{
    uint64_t offset = 0;
    CHECK_EQ_INT(rt_publish(core, channel, (const uint8_t *)"x", 1, NULL, &offset), RT_OK);
    return offset;
}

/* rt_unread's count, or a value no test expects (UINT64_MAX) when the call fails. */
static uint64_t unread(rt_core *core, const char *channel, const char *user)
{
    uint64_t count = 12345;
    rt_status rc = rt_unread(core, channel, user, &count);
    CHECK_EQ_INT(rc, RT_OK);
    if (rc != RT_OK) {
        fprintf(stderr, "   rt_unread(%s, %s): %s: %s\n", channel, user, rt_strerror(rc), rt_core_errmsg(core));
        return UINT64_MAX;
    }
    return count;
}

/*
 * The scenario both storage kinds run: 5 messages, receipts from two of ada's devices, the
 * refusals, and a host subscription that sees exactly the messages throughout.
 */
static void receipts_and_unread(rt_core *core, const char *channel)
{
    rt_sub *sub = NULL;
    rt_subscribe_opts so = RT_SUBSCRIBE_OPTS_INIT;
    struct seen s;
    int i;
    seen_init(&s);
    CHECK_EQ_INT(rt_subscribe(core, channel, &so, on_message, &s, &sub), RT_OK);
    CHECK_EQ_INT(so.offset, 0);
    CHECK_EQ_INT(unread(core, channel, "ada"), 0); /* nothing published yet */
    for (i = 1; i <= 5; i++)
        CHECK_EQ_INT(publish_one(core, channel), (uint64_t)i);

    /* No receipts: everything is unread. */
    CHECK_EQ_INT(unread(core, channel, "ada"), 5);
    CHECK_EQ_INT(unread(core, channel, "bob"), 5);

    CHECK_EQ_INT(rt_receipt(core, channel, "ada", "phone", 3, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(unread(core, channel, "ada"), 2);
    CHECK_EQ_INT(unread(core, channel, "bob"), 5); /* per user */

    /* A second device reading further: the newest read on any device counts. */
    CHECK_EQ_INT(rt_receipt(core, channel, "ada", "tablet", 4, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(unread(core, channel, "ada"), 1);

    /* Lower offsets move nothing (not an error: the cursor just stays). */
    CHECK_EQ_INT(rt_receipt(core, channel, "ada", "tablet", 2, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(unread(core, channel, "ada"), 1);
    CHECK_EQ_INT(rt_receipt(core, channel, "ada", "phone", 1, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(unread(core, channel, "ada"), 1);

    /* Delivered is not read. */
    CHECK_EQ_INT(rt_receipt(core, channel, "ada", "phone", 5, RT_RECEIPT_DELIVERED), RT_OK);
    CHECK_EQ_INT(rt_receipt(core, channel, "bob", "laptop", 5, RT_RECEIPT_DELIVERED), RT_OK);
    CHECK_EQ_INT(unread(core, channel, "ada"), 1);
    CHECK_EQ_INT(unread(core, channel, "bob"), 5);

    /* Past the newest offset, or a kind that does not exist: refused, and nothing moved. */
    CHECK_EQ_INT(rt_receipt(core, channel, "ada", "phone", 6, RT_RECEIPT_READ), RT_EINVAL);
    CHECK_EQ_INT(rt_receipt(core, channel, "ada", "phone", 6, RT_RECEIPT_DELIVERED), RT_EINVAL);
    CHECK_EQ_INT(rt_receipt(core, channel, "ada", "phone", UINT64_MAX, RT_RECEIPT_READ), RT_EINVAL);
    CHECK_EQ_INT(rt_receipt(core, channel, "ada", "phone", 5, 2), RT_EINVAL);
    CHECK_EQ_INT(rt_receipt(core, channel, "ada", "phone", 5, -1), RT_EINVAL);
    CHECK(strstr(rt_core_errmsg(core), "kind") != NULL);
    CHECK_EQ_INT(unread(core, channel, "ada"), 1);

    /* A new message: counted as unread; the host subscription got exactly the 6 messages, in
     * order, and none of the receipts. */
    CHECK_EQ_INT(publish_one(core, channel), 6);
    CHECK_EQ_INT(unread(core, channel, "ada"), 2);
    CHECK_EQ_INT(unread(core, channel, "bob"), 6);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK_EQ_INT(seen_count(&s), 6);
    for (i = 0; i < 6 && i < seen_count(&s); i++)
        CHECK_EQ_INT(s.offsets[i], (uint64_t)(i + 1));
    CHECK_EQ_INT(rt_unsubscribe(&sub), RT_OK);
}

static void test_receipts_in_memory(void)
{
    rt_core *core = start_core(NULL);
    if (core == NULL)
        return;
    receipts_and_unread(core, "room-1");
    /* Another channel is another set of cursors. */
    CHECK_EQ_INT(publish_one(core, "room-2"), 1);
    CHECK_EQ_INT(unread(core, "room-2", "ada"), 1);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

/* What a host subscription's on_receipt saw: up to 8 events, copied out of the callback. */
struct receipts_seen {
    int count;
    char channel[8][32];
    char user[8][32];
    char device[8][32];
    uint64_t offset[8];
    int kind[8];
};

static void on_receipt(void *user_data, const rt_receipt_event *r)
{
    struct receipts_seen *seen = user_data;
    int i = seen->count++;
    if (i >= 8)
        return;
    snprintf(seen->channel[i], sizeof seen->channel[i], "%s", r->channel);
    snprintf(seen->user[i], sizeof seen->user[i], "%s", r->user);
    snprintf(seen->device[i], sizeof seen->device[i], "%s", r->device);
    seen->offset[i] = r->offset;
    seen->kind[i] = r->kind;
}

/* A host subscription with on_receipt gets every receipt that moves a cursor, none that does not,
 * and none after rt_unsubscribe. rt_receipt runs the broadcast on the loop before it returns, so
 * the events are there when it does. */
static void test_a_host_subscription_gets_receipt_events(void)
{
    rt_core *core = start_core(NULL);
    rt_sub *sub = NULL;
    rt_subscribe_opts so = RT_SUBSCRIBE_OPTS_INIT;
    struct receipts_seen seen;
    if (core == NULL)
        return;
    memset(&seen, 0, sizeof seen);
    so.on_receipt = on_receipt;
    so.receipt_user_data = &seen;
    CHECK_EQ_INT(rt_subscribe(core, "room-r", &so, on_message_ignored, NULL, &sub), RT_OK);
    publish_one(core, "room-r");
    publish_one(core, "room-r");
    CHECK_EQ_INT(rt_receipt(core, "room-r", "ada", "phone", 1, RT_RECEIPT_DELIVERED), RT_OK);
    CHECK_EQ_INT(rt_receipt(core, "room-r", "ada", "phone", 1, RT_RECEIPT_DELIVERED), RT_OK); /* no move */
    CHECK_EQ_INT(rt_receipt(core, "room-r", "bob", "laptop", 2, RT_RECEIPT_READ), RT_OK);
    /* Past the newest offset: refused, no event. */
    CHECK_EQ_INT(rt_receipt(core, "room-r", "bob", "laptop", 9, RT_RECEIPT_READ), RT_EINVAL);
    CHECK_EQ_INT(seen.count, 2);
    if (seen.count == 2) {
        CHECK(strcmp(seen.channel[0], "room-r") == 0);
        CHECK(strcmp(seen.user[0], "ada") == 0 && strcmp(seen.device[0], "phone") == 0);
        CHECK_EQ_INT(seen.offset[0], 1);
        CHECK_EQ_INT(seen.kind[0], RT_RECEIPT_DELIVERED);
        CHECK(strcmp(seen.user[1], "bob") == 0 && strcmp(seen.device[1], "laptop") == 0);
        CHECK_EQ_INT(seen.offset[1], 2);
        CHECK_EQ_INT(seen.kind[1], RT_RECEIPT_READ);
    }
    CHECK_EQ_INT(rt_unsubscribe(&sub), RT_OK);
    CHECK_EQ_INT(rt_receipt(core, "room-r", "ada", "phone", 2, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(seen.count, 2);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_receipts_survive_reopen(void)
{
    char dir[] = "/tmp/rt-c-receipts-XXXXXX";
    char path[256], wal[300], shm[300];
    rt_core *core;
    rt_sub *sub = NULL;
    struct seen s;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/receipts.db", dir);
    seen_init(&s);

    core = start_core(path);
    if (core == NULL)
        return;
    receipts_and_unread(core, "chat-1");
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);

    core = start_core(path);
    if (core == NULL)
        return;
    CHECK_EQ_INT(unread(core, "chat-1", "ada"), 2); /* tablet's read 4 of 6 was kept */
    CHECK_EQ_INT(unread(core, "chat-1", "bob"), 6); /* bob's delivered 5 is still not read */
    /* Lower offsets still move nothing; the phone catching up with the tablet changes nothing;
     * the phone reading everything does. */
    CHECK_EQ_INT(rt_receipt(core, "chat-1", "ada", "tablet", 3, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(rt_receipt(core, "chat-1", "ada", "phone", 2, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(unread(core, "chat-1", "ada"), 2);
    CHECK_EQ_INT(rt_receipt(core, "chat-1", "ada", "phone", 4, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(unread(core, "chat-1", "ada"), 2);
    CHECK_EQ_INT(rt_receipt(core, "chat-1", "ada", "phone", 6, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(unread(core, "chat-1", "ada"), 0);
    CHECK_EQ_INT(rt_receipt(core, "chat-1", "ada", "phone", 7, RT_RECEIPT_READ), RT_EINVAL);
    /* The host subscription on the reopened channel keeps working beside the receipts. */
    CHECK_EQ_INT(rt_subscribe(core, "chat-1", NULL, on_message, &s, &sub), RT_OK);
    CHECK_EQ_INT(publish_one(core, "chat-1"), 7);
    CHECK_EQ_INT(rt_receipt(core, "chat-1", "bob", "laptop", 7, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(unread(core, "chat-1", "bob"), 0);
    CHECK_EQ_INT(unread(core, "chat-1", "ada"), 1);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK_EQ_INT(seen_count(&s), 1);
    CHECK_EQ_INT(s.offsets[0], 7);
    CHECK_EQ_INT(rt_unsubscribe(&sub), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);

    /* Once more: the last receipts (made after the reopen) were stored too. */
    core = start_core(path);
    if (core == NULL)
        return;
    CHECK_EQ_INT(unread(core, "chat-1", "ada"), 1);
    CHECK_EQ_INT(unread(core, "chat-1", "bob"), 0);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);

    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    unlink(path);
    unlink(wal);
    unlink(shm);
    rmdir(dir);
}

/* docs/protocol.md: cursors belong to the channel's epoch; after an epoch change (an in-memory
 * channel created again) they count as nothing read. */
static void test_cursors_of_another_epoch_count_as_nothing_read(void)
{
    char dir[] = "/tmp/rt-c-receipts-epoch-XXXXXX";
    char path[256], wal[300], shm[300];
    rt_namespace_config ns = RT_NAMESPACE_CONFIG_INIT;
    rt_core *core;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/receipts.db", dir);
    ns.flags = RT_NAMESPACE_IN_MEMORY;

    core = start_core(path);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_set_namespace(core, "mem", &ns), RT_OK);
    CHECK_EQ_INT(publish_one(core, "mem:a"), 1);
    CHECK_EQ_INT(publish_one(core, "mem:a"), 2);
    CHECK_EQ_INT(publish_one(core, "mem:a"), 3);
    CHECK_EQ_INT(rt_receipt(core, "mem:a", "ada", "phone", 3, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(unread(core, "mem:a", "ada"), 0);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);

    core = start_core(path);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_set_namespace(core, "mem", &ns), RT_OK);
    CHECK_EQ_INT(publish_one(core, "mem:a"), 1); /* a new epoch, offsets from 1 again */
    CHECK_EQ_INT(publish_one(core, "mem:a"), 2);
    CHECK_EQ_INT(unread(core, "mem:a", "ada"), 2); /* the old epoch's read 3 counts for nothing */
    /* The old cursor does not hold the new one back either. */
    CHECK_EQ_INT(rt_receipt(core, "mem:a", "ada", "phone", 1, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(unread(core, "mem:a", "ada"), 1);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);

    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    unlink(path);
    unlink(wal);
    unlink(shm);
    rmdir(dir);
}

/*
 * The same rule within one process: an in-memory channel dropped for being idle (the router holds
 * at most 100,000 channels and drops idle in-memory ones beyond) is created again with a new epoch
 * (docs/protocol.md, "Channels"), so the cursors of the old one count as nothing read. To make the
 * target the one channel dropped, every other channel at the limit has a host subscription.
 */
#define ROUTER_MAX_CHANNELS 100000

static void test_an_evicted_in_memory_channel_counts_as_nothing_read(void)
{
    rt_core *core = start_core(NULL);
    rt_namespace_config ns = RT_NAMESPACE_CONFIG_INIT;
    rt_history_opts before = RT_HISTORY_OPTS_INIT, after = RT_HISTORY_OPTS_INIT;
    const int fillers = ROUTER_MAX_CHANNELS - 1;
    rt_sub **subs;
    char name[64];
    int i, subscribed = 0;
    if (core == NULL)
        return;
    subs = calloc((size_t)fillers, sizeof *subs);
    CHECK(subs != NULL);
    if (subs == NULL) {
        rt_core_close(&core);
        return;
    }
    ns.flags = RT_NAMESPACE_IN_MEMORY;
    CHECK_EQ_INT(rt_core_set_namespace(core, "mem", &ns), RT_OK);
    for (i = 1; i <= 3; i++)
        CHECK_EQ_INT(publish_one(core, "mem:target"), (uint64_t)i);
    CHECK_EQ_INT(rt_receipt(core, "mem:target", "ada", "phone", 3, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(unread(core, "mem:target", "ada"), 0);
    CHECK_EQ_INT(rt_history(core, "mem:target", &before, on_message_ignored, NULL), RT_OK);

    for (i = 0; i < fillers; i++) {
        rt_status rc;
        snprintf(name, sizeof name, "mem:filler-%d", i);
        rc = rt_subscribe(core, name, NULL, on_message_ignored, NULL, &subs[i]);
        if (rc != RT_OK) {
            fprintf(stderr, "   rt_subscribe(%s): %s: %s\n", name, rt_strerror(rc), rt_core_errmsg(core));
            CHECK_EQ_INT(rc, RT_OK);
            break;
        }
        subscribed++;
    }
    /* One more channel: the router is full, and the target is the only idle channel. */
    CHECK_EQ_INT(publish_one(core, "mem:one-more"), 1);
    CHECK_EQ_INT(rt_history(core, "mem:target", &after, on_message_ignored, NULL), RT_OK);
    /* Precondition: the target was dropped and created again (a new epoch, nothing in it). */
    CHECK(strcmp(before.epoch, after.epoch) != 0);
    CHECK_EQ_INT(after.top, 0);
    if (strcmp(before.epoch, after.epoch) != 0) {
        CHECK_EQ_INT(unread(core, "mem:target", "ada"), 0);
        CHECK_EQ_INT(publish_one(core, "mem:target"), 1);
        CHECK_EQ_INT(publish_one(core, "mem:target"), 2);
        /* The old epoch's read 3 counts for nothing: both new messages are unread. */
        CHECK_EQ_INT(unread(core, "mem:target", "ada"), 2);
        /* ...and does not hold the new epoch's cursor back. */
        CHECK_EQ_INT(rt_receipt(core, "mem:target", "ada", "phone", 1, RT_RECEIPT_READ), RT_OK);
        CHECK_EQ_INT(unread(core, "mem:target", "ada"), 1);
        CHECK_EQ_INT(rt_receipt(core, "mem:target", "ada", "phone", 3, RT_RECEIPT_READ), RT_EINVAL);
    }
    for (i = 0; i < subscribed; i++)
        CHECK_EQ_INT(rt_unsubscribe(&subs[i]), RT_OK);
    free(subs);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_bad_arguments_are_refused(void)
{
    rt_core *core = start_core(NULL);
    char long_name[130], max_name[129];
    uint64_t count;
    if (core == NULL)
        return;
    memset(long_name, 'u', 129);
    long_name[129] = 0;
    memset(max_name, 'm', 128);
    max_name[128] = 0;
    CHECK_EQ_INT(publish_one(core, "room"), 1);
    CHECK_EQ_INT(publish_one(core, "room"), 2);

    /* user and device: 1 to 128 bytes, not NULL. */
    CHECK_EQ_INT(rt_receipt(core, "room", NULL, "phone", 1, RT_RECEIPT_READ), RT_EINVAL);
    CHECK_EQ_INT(rt_receipt(core, "room", "", "phone", 1, RT_RECEIPT_READ), RT_EINVAL);
    CHECK_EQ_INT(rt_receipt(core, "room", long_name, "phone", 1, RT_RECEIPT_READ), RT_EINVAL);
    CHECK_EQ_INT(rt_receipt(core, "room", "ada", NULL, 1, RT_RECEIPT_READ), RT_EINVAL);
    CHECK_EQ_INT(rt_receipt(core, "room", "ada", "", 1, RT_RECEIPT_READ), RT_EINVAL);
    CHECK_EQ_INT(rt_receipt(core, "room", "ada", long_name, 1, RT_RECEIPT_READ), RT_EINVAL);
    CHECK_EQ_INT(unread(core, "room", "ada"), 2); /* none of them counted */
    /* 128 bytes is allowed. */
    CHECK_EQ_INT(rt_receipt(core, "room", max_name, max_name, 1, RT_RECEIPT_READ), RT_OK);
    CHECK_EQ_INT(unread(core, "room", max_name), 1);

    /* core, channel, count. */
    CHECK_EQ_INT(rt_receipt(NULL, "room", "ada", "phone", 1, RT_RECEIPT_READ), RT_EINVAL);
    CHECK_EQ_INT(rt_receipt(core, NULL, "ada", "phone", 1, RT_RECEIPT_READ), RT_EINVAL);
    CHECK_EQ_INT(rt_receipt(core, "", "ada", "phone", 1, RT_RECEIPT_READ), RT_EINVAL);
    CHECK_EQ_INT(rt_receipt(core, "bad name", "ada", "phone", 1, RT_RECEIPT_READ), RT_EINVAL);
    CHECK_EQ_INT(rt_unread(NULL, "room", "ada", &count), RT_EINVAL);
    CHECK_EQ_INT(rt_unread(core, NULL, "ada", &count), RT_EINVAL);
    CHECK_EQ_INT(rt_unread(core, "bad name", "ada", &count), RT_EINVAL);
    CHECK_EQ_INT(rt_unread(core, "room", NULL, &count), RT_EINVAL);
    CHECK_EQ_INT(rt_unread(core, "room", "", &count), RT_EINVAL);
    CHECK_EQ_INT(rt_unread(core, "room", long_name, &count), RT_EINVAL);
    CHECK_EQ_INT(rt_unread(core, "room", "ada", NULL), RT_EINVAL);

    /* A namespace the core has not configured. */
    CHECK_EQ_INT(rt_receipt(core, "nope:x", "ada", "phone", 0, RT_RECEIPT_READ), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_receipt(core, "nope:x", "ada", "phone", 1, RT_RECEIPT_DELIVERED), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_unread(core, "nope:x", "ada", &count), RT_ENOTFOUND);
    CHECK_EQ_INT(unread(core, "room", "ada"), 2);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_a_core_that_is_not_running_refuses(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    uint64_t count = 77;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_receipt(core, "room", "ada", "phone", 0, RT_RECEIPT_READ), RT_ESTATE);
    CHECK_EQ_INT(rt_unread(core, "room", "ada", &count), RT_ESTATE);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

int main(void)
{
    RUN(test_receipts_in_memory);
    RUN(test_receipts_survive_reopen);
    RUN(test_a_host_subscription_gets_receipt_events);
    RUN(test_cursors_of_another_epoch_count_as_nothing_read);
    RUN(test_an_evicted_in_memory_channel_counts_as_nothing_read);
    RUN(test_bad_arguments_are_refused);
    RUN(test_a_core_that_is_not_running_refuses);
    return harness_summary();
}
