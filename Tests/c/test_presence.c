/*
 * Presence through the C ABI: host entries with leases (rt_presence_set, rt_presence_clear),
 * counts and paged listing, typing, the diffs a host subscription gets with on_presence, and bad
 * input refused with nothing changed.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include <realtime.h>

#include "harness.h"

static void on_message_ignored(void *user_data, const rt_message *m)
{
    (void)user_data;
    (void)m;
}

/* The presence diffs a subscription got, concatenated (copied during the callback). */
struct diffs {
    int count;
    char text[4096];
};

static void on_presence(void *user_data, const char *channel, const uint8_t *diff, size_t len)
{
    struct diffs *d = user_data;
    size_t used = strlen(d->text);
    d->count++;
    if (strcmp(channel, "room:c") != 0)
        return;
    if (used + len + 1 < sizeof d->text) {
        memcpy(d->text + used, diff, len);
        d->text[used + len] = '\0';
    }
}

struct listing {
    int count;
    char users[8][32];
    char statuses[8][32];
};

static void on_entry(void *user_data, const rt_presence_entry *e)
{
    struct listing *l = user_data;
    if (l->count < 8) {
        snprintf(l->users[l->count], sizeof l->users[0], "%s/%s", e->user, e->client);
        snprintf(l->statuses[l->count], sizeof l->statuses[0], "%s", e->status);
    }
    l->count++;
}

static rt_core *presence_core(void)
{
    rt_namespace_config ns = RT_NAMESPACE_CONFIG_INIT;
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return NULL;
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    ns.flags = RT_NAMESPACE_IN_MEMORY | RT_NAMESPACE_PRESENCE;
    CHECK_EQ_INT(rt_core_set_namespace(core, "room", &ns), RT_OK);
    ns.flags = RT_NAMESPACE_IN_MEMORY;
    CHECK_EQ_INT(rt_core_set_namespace(core, "plain", &ns), RT_OK);
    return core;
}

static void test_entries_counts_listing_and_diffs(void)
{
    rt_core *core = presence_core();
    rt_subscribe_opts so = RT_SUBSCRIBE_OPTS_INIT;
    rt_sub *sub = NULL;
    struct diffs d;
    struct listing l;
    uint64_t users = 9, entries = 9;
    int more = 7;
    const char *meta = "{\"device\":\"web\"}";
    if (core == NULL)
        return;
    memset(&d, 0, sizeof d);
    so.on_presence = on_presence;
    so.presence_user_data = &d;
    CHECK_EQ_INT(rt_subscribe(core, "room:c", &so, on_message_ignored, NULL, &sub), RT_OK);
    CHECK_EQ_INT(rt_presence_set(core, "room:c", "ada", "phone", NULL, NULL, 0, 60000), RT_OK);
    CHECK_EQ_INT(rt_presence_set(core, "room:c", "ada", "laptop", "away", (const uint8_t *)meta, strlen(meta), 60000),
                 RT_OK);
    CHECK_EQ_INT(rt_presence_set(core, "room:c", "bob", "phone", "busy", NULL, 0, 60000), RT_OK);
    CHECK_EQ_INT(rt_presence_count(core, "room:c", &users, &entries), RT_OK);
    CHECK_EQ_INT(users, 2);
    CHECK_EQ_INT(entries, 3);

    memset(&l, 0, sizeof l);
    CHECK_EQ_INT(rt_presence_list(core, "room:c", NULL, NULL, 2, on_entry, &l, &more), RT_OK);
    CHECK_EQ_INT(l.count, 2);
    CHECK_EQ_INT(more, 1);
    CHECK(strcmp(l.users[0], "ada/laptop") == 0 && strcmp(l.statuses[0], "away") == 0);
    CHECK(strcmp(l.users[1], "ada/phone") == 0 && strcmp(l.statuses[1], "online") == 0);
    memset(&l, 0, sizeof l);
    CHECK_EQ_INT(rt_presence_list(core, "room:c", "ada", "phone", 2, on_entry, &l, &more), RT_OK);
    CHECK_EQ_INT(l.count, 1);
    CHECK_EQ_INT(more, 0);
    CHECK(strcmp(l.users[0], "bob/phone") == 0);

    CHECK_EQ_INT(rt_presence_clear(core, "room:c", "bob", "phone"), RT_OK);
    CHECK_EQ_INT(rt_presence_clear(core, "room:c", "bob", "phone"), RT_OK); /* none: still fine */
    CHECK_EQ_INT(rt_typing(core, "room:c", "ada"), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    /* Each call ran in its own loop turn: a diff each for the three joins and the leave. */
    CHECK_EQ_INT(d.count, 4);
    CHECK(strstr(d.text, "\"user\":\"bob\",\"client\":\"phone\",\"status\":\"busy\"") != NULL);
    CHECK(strstr(d.text, "\"meta\":{\"device\":\"web\"}") != NULL);
    CHECK(strstr(d.text, "\"leave\":[{\"user\":\"bob\",\"client\":\"phone\"}]") != NULL);
    CHECK_EQ_INT(rt_presence_count(core, "room:c", &users, &entries), RT_OK);
    CHECK_EQ_INT(users, 1);
    CHECK_EQ_INT(entries, 2);
    CHECK_EQ_INT(rt_unsubscribe(&sub), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_bad_input_is_refused(void)
{
    rt_core *core = presence_core();
    char big[1100];
    uint64_t users = 9, entries = 9;
    int more = 0;
    if (core == NULL)
        return;
    memset(big, ' ', sizeof big);
    big[0] = '{';
    big[sizeof big - 1] = '}';
    CHECK_EQ_INT(rt_presence_set(core, "room:d", "u", "c", NULL, (const uint8_t *)big, sizeof big, 1000), RT_ETOOBIG);
    CHECK_EQ_INT(rt_presence_set(core, "room:d", "u", "c", NULL, (const uint8_t *)"[1]", 3, 1000), RT_EINVAL);
    CHECK_EQ_INT(rt_presence_set(core, "room:d", "u", "c", NULL, (const uint8_t *)"{", 1, 1000), RT_EINVAL);
    CHECK_EQ_INT(rt_presence_set(core, "room:d", "u", "c", NULL, NULL, 5, 1000), RT_EINVAL);
    CHECK_EQ_INT(rt_presence_set(core, "room:d", "", "c", NULL, NULL, 0, 1000), RT_EINVAL);
    CHECK_EQ_INT(rt_presence_set(core, "room:d", "u", NULL, NULL, NULL, 0, 1000), RT_EINVAL);
    CHECK_EQ_INT(rt_presence_set(core, "room:d", "u", "c", "", NULL, 0, 1000), RT_EINVAL);
    CHECK_EQ_INT(rt_presence_set(core, "room:d", "u", "c", NULL, NULL, 0, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_presence_set(core, "plain:d", "u", "c", NULL, NULL, 0, 1000), RT_EINVAL);
    CHECK_EQ_INT(rt_presence_set(core, "nowhere:d", "u", "c", NULL, NULL, 0, 1000), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_presence_list(core, "room:d", NULL, NULL, 0, on_entry, NULL, &more), RT_EINVAL);
    CHECK_EQ_INT(rt_presence_list(core, "room:d", "u", NULL, 10, on_entry, NULL, &more), RT_EINVAL);
    CHECK_EQ_INT(rt_presence_list(core, "room:d", NULL, NULL, 10, NULL, NULL, &more), RT_EINVAL);
    CHECK_EQ_INT(rt_typing(core, "plain:d", "u"), RT_EINVAL);
    CHECK_EQ_INT(rt_presence_count(core, "room:d", &users, &entries), RT_OK);
    CHECK_EQ_INT(users, 0);
    CHECK_EQ_INT(entries, 0);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

/* Nobody has connected: never seen. The WebSocket path is in the Swift suites (LastSeenTests). */
static void test_last_seen_of_a_user_never_seen(void)
{
    rt_core *core = presence_core();
    int online = 7;
    uint64_t time_ms = 7;
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_last_seen(core, "ada", &online, &time_ms), RT_OK);
    CHECK_EQ_INT(online, 0);
    CHECK_EQ_INT(time_ms, 0);
    CHECK_EQ_INT(rt_last_seen(core, "", &online, &time_ms), RT_EINVAL);
    CHECK_EQ_INT(rt_last_seen(core, NULL, &online, &time_ms), RT_EINVAL);
    CHECK_EQ_INT(rt_last_seen(core, "ada", NULL, &time_ms), RT_EINVAL);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

int main(void)
{
    RUN(test_entries_counts_listing_and_diffs);
    RUN(test_bad_input_is_refused);
    RUN(test_last_seen_of_a_user_never_seen);
    return harness_summary();
}
