/*
 * channel_support.h — what the channel tests share: a started core, and a message callback that
 * records what a host subscription or history read saw (offsets, the first bytes of the data, the
 * JSON flag), safe to call from the loop thread while the test thread reads it.
 *
 * Include after harness.h, once per test program.
 */
#ifndef RT_TEST_CHANNEL_SUPPORT_H
#define RT_TEST_CHANNEL_SUPPORT_H

#include <pthread.h>
#include <string.h>

#include <realtime.h>

#define SEEN_MAX 256

/* What a message callback saw. `count` goes on counting past SEEN_MAX; only the first SEEN_MAX
 * messages are kept. */
struct seen {
    pthread_mutex_t mu;
    uint64_t offsets[SEEN_MAX];
    char data[SEEN_MAX][32];
    int json[SEEN_MAX];
    int count;
};

static void seen_init(struct seen *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
}

static void on_message(void *user_data, const rt_message *m)
{
    struct seen *s = user_data;
    pthread_mutex_lock(&s->mu);
    if (s->count < SEEN_MAX) {
        size_t n = m->len < 31 ? m->len : 31;
        s->offsets[s->count] = m->offset;
        if (n > 0)
            memcpy(s->data[s->count], m->data, n);
        s->data[s->count][n] = 0;
        s->json[s->count] = m->is_json;
    }
    s->count++;
    pthread_mutex_unlock(&s->mu);
}

static int seen_count(struct seen *s)
{
    int n;
    pthread_mutex_lock(&s->mu);
    n = s->count;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* A core on `path` (NULL: in memory), started on its own loop thread. */
static rt_core *start_core(const char *path)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    cfg.db_path = path;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core != NULL)
        CHECK_EQ_INT(rt_core_start(core), RT_OK);
    return core;
}

#endif
