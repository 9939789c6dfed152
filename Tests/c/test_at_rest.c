/*
 * test_at_rest.c — payloads sealed at rest through the C ABI: with a key, persistent channel
 * messages reach the file sealed (no plaintext in it) and read back after a reopen; without the
 * key the history is refused and nothing plaintext is stored beside it; rt_store_reseal moves
 * every row to a new key, after which the old one is not needed; a swapped row does not open;
 * end-to-end namespaces take only client-sealed binary data and store it untouched.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw under -std=c99 */

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <realtime.h>

#include "harness.h"
#include "tempdir.h"
#include "channel_support.h"

static const char *SECRET = "AT-REST-SECRET-";

static void fill_key(uint8_t *key, uint8_t value)
{
    memset(key, value, RT_KEY_BYTES);
}

/* A core on `path` with keys 1..n_keys (filled with their id), the last current; not started. */
static rt_core *open_core(const char *path, int n_keys)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    uint8_t key[RT_KEY_BYTES];
    int id;
    cfg.db_path = path;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    for (id = 1; core != NULL && id <= n_keys; id++) {
        fill_key(key, (uint8_t)id);
        CHECK_EQ_INT(rt_key_add(core, (uint32_t)id, key, sizeof key), RT_OK);
        CHECK_EQ_INT(rt_key_use(core, (uint32_t)id), RT_OK);
    }
    return core;
}

/* Whether `needle` occurs in the file at `path` (missing file: no). */
static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    size_t n = strlen(needle), have = 0, i;
    char *buf = NULL;
    int found = 0;
    long size;
    if (f == NULL)
        return 0;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)size);
        if (buf != NULL)
            have = fread(buf, 1, (size_t)size, f);
    }
    fclose(f);
    for (i = 0; buf != NULL && i + n <= have && !found; i++)
        found = memcmp(buf + i, needle, n) == 0;
    free(buf);
    return found;
}

static void publish_secrets(rt_core *core, const char *channel, int count)
{
    rt_publish_opts opts = RT_PUBLISH_OPTS_INIT;
    char text[64];
    uint64_t offset = 0;
    int i;
    for (i = 1; i <= count; i++) {
        snprintf(text, sizeof text, "%s%d", SECRET, i);
        CHECK_EQ_INT(rt_publish(core, channel, (const uint8_t *)text, strlen(text), &opts, &offset), RT_OK);
        CHECK_EQ_INT(offset, i);
    }
}

static int64_t scalar(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int64_t value = -999;
    CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_sealed_history_reseal_and_no_downgrade(void)
{
    char *dir = make_tempdir();
    char path[512], wal[520];
    rt_core *core;
    rt_history_opts ho = RT_HISTORY_OPTS_INIT;
    struct seen hist;
    uint64_t rows = 99;
    if (dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/at-rest.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);

    core = open_core(path, 1);
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    publish_secrets(core, "room", 3);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK(!file_contains(path, SECRET) && !file_contains(wal, SECRET));
    CHECK_EQ_INT(scalar(path, "SELECT count(*) FROM rt_log WHERE key_id = 1"), 3);

    /* Without the key: history is refused, and nothing plaintext is stored beside sealed rows. */
    core = start_core(path);
    seen_init(&hist);
    CHECK_EQ_INT(rt_history(core, "room", &ho, on_message, &hist), RT_ENOTFOUND);
    CHECK(strstr(rt_core_errmsg(core), "not loaded") != NULL);
    CHECK_EQ_INT(hist.count, 0);
    {
        rt_publish_opts opts = RT_PUBLISH_OPTS_INIT;
        CHECK_EQ_INT(rt_publish(core, "other", (const uint8_t *)"plain", 5, &opts, NULL), RT_ESTATE);
        CHECK(strstr(rt_core_errmsg(core), "load the keys") != NULL);
    }
    CHECK_EQ_INT(rt_store_reseal(core, &rows), RT_ESTATE);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK_EQ_INT(scalar(path, "SELECT count(*) FROM rt_log WHERE key_id = 0"), 0);

    /* Rotation: key 2 current, re-seal (before start: the core need not run), then key 2 alone. */
    core = open_core(path, 2);
    CHECK_EQ_INT(rt_store_reseal(core, &rows), RT_OK);
    CHECK_EQ_INT(rows, 3);
    CHECK_EQ_INT(rt_store_reseal(core, &rows), RT_OK);
    CHECK_EQ_INT(rows, 0);
    CHECK_EQ_INT(rt_store_reseal(core, NULL), RT_OK);
    CHECK_EQ_INT(rt_key_remove(core, 2), RT_ESTATE);
    CHECK_EQ_INT(rt_key_remove(core, 1), RT_OK);
    CHECK_EQ_INT(rt_key_remove(core, 1), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_key_remove(NULL, 1), RT_EINVAL);
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    seen_init(&hist);
    CHECK_EQ_INT(rt_history(core, "room", &ho, on_message, &hist), RT_OK);
    CHECK_EQ_INT(seen_count(&hist), 3);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK_EQ_INT(scalar(path, "SELECT count(*) FROM rt_log WHERE key_id = 2"), 3);
    {
        rt_config cfg = RT_CONFIG_INIT;
        uint8_t key2[RT_KEY_BYTES];
        fill_key(key2, 2);
        cfg.db_path = path;
        CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
        CHECK_EQ_INT(rt_key_add(core, 2, key2, sizeof key2), RT_OK);
    }
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    seen_init(&hist);
    CHECK_EQ_INT(rt_history(core, "room", &ho, on_message, &hist), RT_OK);
    CHECK_EQ_INT(seen_count(&hist), 3);
    CHECK(strcmp(hist.data[0], "AT-REST-SECRET-1") == 0 && strcmp(hist.data[2], "AT-REST-SECRET-3") == 0);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);

    /* Two rows swap payloads: neither opens, and neither is deleted. */
    exec_sql(path, "CREATE TEMP TABLE t AS SELECT seq, payload FROM rt_log WHERE seq IN (1, 2);"
                   "UPDATE rt_log SET payload = (SELECT payload FROM t WHERE t.seq = 3 - rt_log.seq)"
                   " WHERE seq IN (1, 2);");
    core = open_core(path, 2);
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    seen_init(&hist);
    CHECK_EQ_INT(rt_history(core, "room", &ho, on_message, &hist), RT_ECORRUPT);
    CHECK_EQ_INT(hist.count, 0);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK_EQ_INT(scalar(path, "SELECT count(*) FROM rt_log"), 3);

    CHECK_EQ_INT(rt_store_reseal(NULL, &rows), RT_EINVAL);
    remove_tempdir(dir);
}

static void test_end_to_end_namespace(void)
{
    char *dir = make_tempdir();
    char path[512];
    rt_core *core;
    rt_namespace_config ns = RT_NAMESPACE_CONFIG_INIT;
    rt_publish_opts opts = RT_PUBLISH_OPTS_INIT;
    rt_history_opts ho = RT_HISTORY_OPTS_INIT;
    struct seen hist;
    uint8_t sealed[64];
    uint64_t offset = 0, rows = 9;
    if (dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/e2e.db", dir);
    core = open_core(path, 1);
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    ns.flags = RT_NAMESPACE_END_TO_END;
    CHECK_EQ_INT(rt_core_set_namespace(core, "e2e", &ns), RT_OK);
    ns.flags = 16u;
    CHECK_EQ_INT(rt_core_set_namespace(core, "bad", &ns), RT_EINVAL);

    opts.is_json = 1;
    CHECK_EQ_INT(rt_publish(core, "e2e:room", (const uint8_t *)"{\"a\":1}", 7, &opts, &offset), RT_EINVAL);
    CHECK(strstr(rt_core_errmsg(core), "end-to-end") != NULL);
    opts.is_json = 0;
    memset(sealed, 0xAB, sizeof sealed);
    sealed[0] = 1;
    CHECK_EQ_INT(rt_publish(core, "e2e:room", sealed, 40, &opts, &offset), RT_EINVAL);
    sealed[0] = 7;
    CHECK_EQ_INT(rt_publish(core, "e2e:room", sealed, sizeof sealed, &opts, &offset), RT_EINVAL);
    sealed[0] = 1;
    CHECK_EQ_INT(rt_publish(core, "e2e:room", sealed, sizeof sealed, &opts, &offset), RT_OK);
    CHECK_EQ_INT(offset, 1);
    CHECK_EQ_INT(rt_store_reseal(core, &rows), RT_OK);
    CHECK_EQ_INT(rows, 0);
    seen_init(&hist);
    CHECK_EQ_INT(rt_history(core, "e2e:room", &ho, on_message, &hist), RT_OK);
    CHECK_EQ_INT(hist.count, 1);
    CHECK(memcmp(hist.data[0], sealed, 31) == 0);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK_EQ_INT(scalar(path, "SELECT key_id FROM rt_log"), -1);
    remove_tempdir(dir);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(test_sealed_history_reseal_and_no_downgrade);
    RUN(test_end_to_end_namespace);
    return harness_summary();
}
