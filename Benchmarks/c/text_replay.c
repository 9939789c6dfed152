/*
 * Replays an editing trace through the C ABI (rt_doc_text_edits), each edit its own transaction
 * committed to an update, in batches of edits per call: the C-host figure beside rt-bench's
 * Swift one. The trace comes pre-converted by `rt-bench --text-dump FILE`:
 *   u32 count, then per edit: u32 pos, u32 delete_len, u32 insert_len, insert_len bytes (UTF-8);
 * all little-endian. Prints the best and median of `rounds` replays, and checks the final text
 * against the file named by the third argument (the trace's endContent).
 *
 *   text_replay TRACE.bin ROUNDS END.txt [BATCH]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <realtime.h>

struct trace {
    size_t count;
    rt_text_edit *edits;
    char *text;
};

static uint32_t u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(size > 0 ? (size_t)size : 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(data);
        return NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return data;
}

static int load(const char *path, struct trace *t)
{
    size_t len = 0;
    unsigned char *data = slurp(path, &len);
    if (!data || len < 4)
        return -1;
    t->count = u32(data);
    t->edits = calloc(t->count, sizeof *t->edits);
    t->text = (char *)data;
    size_t at = 4;
    for (size_t i = 0; i < t->count; i++) {
        if (at + 12 > len)
            return -1;
        rt_text_edit *e = &t->edits[i];
        e->pos = u32(data + at);
        e->delete_len = u32(data + at + 4);
        e->insert_len = u32(data + at + 8);
        at += 12;
        if (at + e->insert_len > len)
            return -1;
        e->insert = (const char *)data + at;
        at += e->insert_len;
        e->commit = 1;
    }
    return 0;
}

static size_t update_bytes;
static size_t updates;

static void on_update(void *user_data, const uint8_t *update, size_t len)
{
    (void)user_data;
    (void)update;
    update_bytes += len;
    updates++;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s TRACE.bin ROUNDS END.txt [BATCH]\n", argv[0]);
        return 2;
    }
    struct trace t;
    if (load(argv[1], &t) != 0) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    int rounds = atoi(argv[2]);
    size_t end_len = 0;
    unsigned char *end = slurp(argv[3], &end_len);
    size_t batch = argc > 4 ? (size_t)atol(argv[4]) : 4096;
    if (rounds < 1 || !end || batch < 1)
        return 2;

    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    if (rt_core_open(&cfg, &core) != RT_OK || rt_core_start(core) != RT_OK) {
        fprintf(stderr, "core: %s\n", rt_core_errmsg(core));
        return 1;
    }
    double *ms = calloc((size_t)rounds, sizeof *ms);
    int ok = 1;
    for (int r = 0; r < rounds; r++) {
        char id[32];
        snprintf(id, sizeof id, "replay-%d", r);
        rt_doc *doc = NULL;
        if (rt_doc_open(core, id, RT_DOC_TEXT, &doc) != RT_OK) {
            fprintf(stderr, "open: %s\n", rt_core_errmsg(core));
            return 1;
        }
        updates = update_bytes = 0;
        double start = now_ms();
        for (size_t i = 0; i < t.count; i += batch) {
            size_t n = t.count - i < batch ? t.count - i : batch;
            if (rt_doc_text_edits(doc, t.edits + i, n, 0, on_update, NULL) != RT_OK) {
                fprintf(stderr, "edits: %s\n", rt_core_errmsg(core));
                return 1;
            }
        }
        ms[r] = now_ms() - start;
        rt_bytes text = {NULL, 0};
        if (rt_doc_text_get(doc, &text) != RT_OK || text.len != end_len || memcmp(text.data, end, end_len) != 0)
            ok = 0;
        rt_bytes_free(&text);
        rt_doc_close(&doc);
    }
    qsort(ms, (size_t)rounds, sizeof *ms, compare);
    printf("text (C ABI, rt_doc_text_edits in batches of %zu): %zu edits, %zu updates (%zu bytes): replay best %.1f ms, "
           "median %.1f ms of %d; final text %s\n",
           batch, t.count, updates, update_bytes, ms[0], ms[rounds / 2], rounds, ok ? "matches" : "DIFFERS");
    rt_core_close(&core);
    free(ms);
    free(t.edits);
    free(t.text);
    free(end);
    return ok ? 0 : 1;
}
