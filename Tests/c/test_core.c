/*
 * test_core.c — tests of librealtime's C ABI (include/realtime.h) as a C host sees it.
 *
 * Built by Tests/c/run.sh with ASan/UBSan (and once without, under valgrind). Set
 * RT_TEST_QUICK=1 to shrink the repetition counts (valgrind is ~50x slower).
 *
 * No test synchronises by sleeping: threads report through mutex-guarded flags, and the only
 * clock reads are deadlines that turn a hang into a reported failure.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, pthreads under -std=c99 */

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "realtime.h"

#include "harness.h"
#include "tempdir.h"

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------- */

static int quick_mode(void)
{
    const char *q = getenv("RT_TEST_QUICK");
    return q != NULL && q[0] != '\0' && strcmp(q, "0") != 0;
}

/* Repetition count: full in normal runs, 5 in quick (valgrind) runs. */
static int reps(int full) { return quick_mode() ? 5 : full; }

/* A non-NULL pointer that is not a core, to prove that a failing rt_core_open writes NULL. */
static char sentinel_storage;
#define SENTINEL_CORE ((rt_core *)(void *)&sentinel_storage)

static int errmsg_nonempty(const rt_core *core)
{
    const char *m = rt_core_errmsg(core);
    return m != NULL && m[0] != '\0';
}

static char *path_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s%s", path, suffix);
    return p;
}

static int path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Whole file into a malloc'd buffer (NULL on error; an empty file gives a 1-byte buffer). */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, used = 0, got;
    if (f == NULL)
        return NULL;
    for (;;) {
        if (used == cap) {
            unsigned char *nb = realloc(buf, cap == 0 ? 8192 : cap * 2);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = cap == 0 ? 8192 : cap * 2;
        }
        got = fread(buf + used, 1, cap - used, f);
        used += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = used;
    return buf;
}

static int write_file(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (f == NULL)
        return 0;
    ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    return ok;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory's entry names, sorted and joined with '\n': compared before and after an open
 * to prove that no sidecar file (-wal, -shm, -journal) was left behind. */
static char *dir_listing(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL, *out;
    size_t count = 0, cap = 0, total = 1, i;
    if (d == NULL)
        return NULL;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (count == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 8) * sizeof *names);
            if (nn == NULL)
                break;
            names = nn;
        }
        names[count] = malloc(strlen(e->d_name) + 1);
        if (names[count] == NULL)
            break;
        strcpy(names[count], e->d_name);
        total += strlen(e->d_name) + 1;
        count++;
    }
    closedir(d);
    qsort(names, count, sizeof *names, cmp_names);
    out = malloc(total);
    if (out != NULL) {
        out[0] = '\0';
        for (i = 0; i < count; i++) {
            strcat(out, names[i]);
            strcat(out, "\n");
        }
    }
    for (i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return out;
}

/* Runs SQL on a database file with the system SQLite, independently of the library. */
static int sqlite_exec_file(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *err = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "sqlite (%s): %s\n", sql, err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    sqlite3_close(db);
    return rc == SQLITE_OK;
}

/* Opens `path` expecting failure with one of two codes, then checks that the file's bytes and
 * the directory's contents are exactly as before. */
static void expect_open_fails_untouched(const char *dir, const char *path, rt_status want,
                                        rt_status also_ok)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = SENTINEL_CORE;
    size_t before_len = 0, after_len = 0;
    unsigned char *before = read_file(path, &before_len), *after;
    char *list_before = dir_listing(dir), *list_after;
    rt_status rc;

    CHECK(before != NULL);
    CHECK(list_before != NULL);
    cfg.db_path = path;
    rc = rt_core_open(&cfg, &core);
    if (rc != want && rc != also_ok)
        fprintf(stderr, "   rt_core_open(%s) = %d (%s), wanted %d\n", path, rc, rt_strerror(rc),
                want);
    CHECK(rc == want || rc == also_ok);
    CHECK(errmsg_nonempty(NULL));
    CHECK(core == NULL);
    if (rc == RT_OK)
        rt_core_close(&core);

    after = read_file(path, &after_len);
    CHECK(after != NULL);
    CHECK_EQ_INT(after_len, before_len);
    CHECK(before != NULL && after != NULL && after_len == before_len &&
          memcmp(before, after, before_len) == 0);

    list_after = dir_listing(dir);
    CHECK(list_after != NULL);
    if (list_before != NULL && list_after != NULL && strcmp(list_before, list_after) != 0)
        fprintf(stderr, "   directory before:\n%s   directory after:\n%s", list_before,
                list_after);
    CHECK(list_before != NULL && list_after != NULL && strcmp(list_before, list_after) == 0);

    {
        char *wal = path_suffix(path, "-wal");
        CHECK(wal != NULL && !path_exists(wal));
        free(wal);
    }
    free(before);
    free(after);
    free(list_before);
    free(list_after);
}

/* A thread-safe record of log callback invocations. */
typedef struct log_counter {
    pthread_mutex_t mu;
    int calls;
    int bad_level; /* calls whose level was outside RT_LOG_ERROR..RT_LOG_DEBUG */
    int null_msg;
    int max_level;
} log_counter;

static void log_counter_init(log_counter *lc)
{
    pthread_mutex_init(&lc->mu, NULL);
    lc->calls = lc->bad_level = lc->null_msg = lc->max_level = 0;
}

static void count_log(void *user_data, int level, const char *msg)
{
    log_counter *lc = user_data;
    pthread_mutex_lock(&lc->mu);
    lc->calls++;
    if (level < RT_LOG_ERROR || level > RT_LOG_DEBUG)
        lc->bad_level++;
    if (msg == NULL)
        lc->null_msg++;
    if (level > lc->max_level)
        lc->max_level = level;
    pthread_mutex_unlock(&lc->mu);
}

/* A flag one thread sets and another polls, guarded by a mutex (C99 has no atomics). */
typedef struct done_flag {
    pthread_mutex_t mu;
    int done;
} done_flag;

static void flag_init(done_flag *f)
{
    pthread_mutex_init(&f->mu, NULL);
    f->done = 0;
}

static void flag_set(done_flag *f)
{
    pthread_mutex_lock(&f->mu);
    f->done = 1;
    pthread_mutex_unlock(&f->mu);
}

static int flag_get(done_flag *f)
{
    int d;
    pthread_mutex_lock(&f->mu);
    d = f->done;
    pthread_mutex_unlock(&f->mu);
    return d;
}

/* ---------------------------------------------------------------------------------------------
 * Version, status names, configuration
 * ------------------------------------------------------------------------------------------- */

static void test_version(void)
{
    const char *s = rt_version_string();
    CHECK_EQ_INT(rt_version_number(), RT_VERSION_NUMBER);
    CHECK(s != NULL);
    CHECK(s != NULL && strcmp(s, RT_VERSION_STRING) == 0);
}

static void test_strerror(void)
{
    static const rt_status codes[] = {RT_OK,     RT_EINVAL,    RT_EVERSION, RT_ESTATE,
                                      RT_ENOMEM, RT_EIO,       RT_ECORRUPT, RT_ESCHEMA,
                                      RT_EBUSY,  RT_ELOOP,     RT_ECLOSED,  RT_ETIMEDOUT,
                                      RT_ENOTFOUND, RT_EPERM,  RT_ETOOBIG,  RT_EAGAIN,
                                      RT_EINTERNAL};
    static const rt_status unknown[] = {1, -16, -98, -100, 12345, INT_MIN, INT_MAX};
    const size_t n = sizeof codes / sizeof codes[0];
    size_t i, j;

    for (i = 0; i < n; i++) {
        const char *a = rt_strerror(codes[i]);
        CHECK(a != NULL && a[0] != '\0');
        CHECK(a != NULL && strcmp(a, "unknown status") != 0);
        for (j = 0; j < i; j++) {
            const char *b = rt_strerror(codes[j]);
            if (a != NULL && b != NULL && strcmp(a, b) == 0)
                fprintf(stderr, "   codes %d and %d share the name \"%s\"\n", codes[i], codes[j],
                        a);
            CHECK(a != NULL && b != NULL && strcmp(a, b) != 0);
        }
    }
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = rt_strerror(unknown[i]);
        CHECK(s != NULL && strcmp(s, "unknown status") == 0);
    }
}

static void test_config_init(void)
{
    rt_config from_macro = RT_CONFIG_INIT;
    rt_config from_fn;

    /* Poison first so a field rt_config_init forgets to set shows up in the comparison. The
     * struct has no padding on ILP32 or LP64, so a byte comparison is meaningful. */
    memset(&from_fn, 0xA5, sizeof from_fn);
    CHECK_EQ_INT(rt_config_init(&from_fn), RT_OK);
    CHECK(memcmp(&from_macro, &from_fn, sizeof from_fn) == 0);
    CHECK_EQ_INT(from_fn.struct_size, sizeof(rt_config));
    CHECK(from_fn.db_path == NULL);
    CHECK_EQ_INT(from_fn.durability, RT_DURABILITY_FULL);
    CHECK_EQ_INT(from_fn.log_level, RT_LOG_WARN);
    CHECK(from_fn.log_fn == NULL);
    CHECK(from_fn.log_user_data == NULL);
    CHECK_EQ_INT(rt_config_init(NULL), RT_EINVAL);
}

/* ---------------------------------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------------------------------- */

static void test_open_close_memory(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    const char *m;

    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    CHECK(core != NULL);
    m = rt_core_errmsg(core);
    CHECK(m != NULL && m[0] == '\0'); /* no failure yet on this core */
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK(core == NULL);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK(core == NULL);
    CHECK_EQ_INT(rt_core_close(NULL), RT_OK);
}

static void test_open_close_file(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "core.db") : NULL;
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;

    CHECK(path != NULL);
    if (path == NULL) {
        remove_tempdir(dir);
        return;
    }
    cfg.db_path = path;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    CHECK(core != NULL);
    CHECK(path_exists(path));
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK(core == NULL);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);

    /* Reopening the file it created must work too. */
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    CHECK(core != NULL);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK(core == NULL);

    free(path);
    remove_tempdir(dir);
}

static void test_start_stop_repeated(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    int i, n = reps(100);

    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_stop(core), RT_OK); /* never started: already stopped */
    for (i = 0; i < n; i++) {
        CHECK_EQ_INT(rt_core_start(core), RT_OK);
        CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    }
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    CHECK_EQ_INT(rt_core_start(core), RT_ESTATE);
    CHECK(errmsg_nonempty(core));
    CHECK_EQ_INT(rt_core_sync(core), RT_OK); /* the failed start must not have broken it */
    CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    CHECK_EQ_INT(rt_core_stop(core), RT_OK);

    /* Closing a running core stops it first. */
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK(core == NULL);
}

static void test_open_start_stop_close_loop_file(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "loop.db") : NULL;
    rt_config cfg = RT_CONFIG_INIT;
    int i, n = reps(100);

    CHECK(path != NULL);
    if (path == NULL) {
        remove_tempdir(dir);
        return;
    }
    cfg.db_path = path;
    for (i = 0; i < n; i++) {
        rt_core *core = NULL;
        rt_status rc = rt_core_open(&cfg, &core);
        CHECK_EQ_INT(rc, RT_OK);
        if (rc != RT_OK) {
            fprintf(stderr, "   iteration %d: %s\n", i, rt_core_errmsg(NULL));
            break;
        }
        CHECK_EQ_INT(rt_core_start(core), RT_OK);
        CHECK_EQ_INT(rt_core_sync(core), RT_OK);
        CHECK_EQ_INT(rt_core_stop(core), RT_OK);
        CHECK_EQ_INT(rt_core_close(&core), RT_OK);
        CHECK(core == NULL);
    }
    CHECK(path_exists(path));
    free(path);
    remove_tempdir(dir);
}

/* ---------------------------------------------------------------------------------------------
 * Attaching to a host-owned libuv loop
 * ------------------------------------------------------------------------------------------- */

typedef struct sync_job {
    rt_core *core;
    int calls;
    int ok;
    rt_status last_bad;
    done_flag finished;
    uv_async_t *wake; /* when set, sent once the calls are done */
} sync_job;

static void *sync_job_main(void *arg)
{
    sync_job *job = arg;
    int i;
    for (i = 0; i < job->calls; i++) {
        rt_status rc = rt_core_sync(job->core);
        if (rc == RT_OK)
            job->ok++;
        else
            job->last_bad = rc;
    }
    flag_set(&job->finished);
    if (job->wake != NULL)
        uv_async_send(job->wake);
    return NULL;
}

static void sync_job_init(sync_job *job, rt_core *core, int calls, uv_async_t *wake)
{
    job->core = core;
    job->calls = calls;
    job->ok = 0;
    job->last_bad = RT_OK;
    job->wake = wake;
    flag_init(&job->finished);
}

static void on_watchdog(uv_timer_t *timer)
{
    *(int *)timer->data = 1;
    uv_stop(timer->loop);
}

static void on_host_wake(uv_async_t *async) { (void)async; }

static void print_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    fprintf(stderr, "   still open: %s handle %p (active=%d, ref=%d, closing=%d)\n",
            uv_handle_type_name(uv_handle_get_type(h)), (void *)h, uv_is_active(h),
            uv_has_ref(h), uv_is_closing(h));
}

static void test_attach_host_loop(void)
{
    uv_loop_t loop;
    uv_timer_t watchdog;
    uv_async_t host_wake;
    int watchdog_fired = 0, i, closed;
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    sync_job job;
    pthread_t th;

    CHECK_EQ_INT(uv_loop_init(&loop), 0);
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL) {
        uv_loop_close(&loop);
        return;
    }
    CHECK_EQ_INT(rt_core_attach(core, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_core_attach(core, &loop), RT_OK);
    CHECK_EQ_INT(rt_core_attach(core, &loop), RT_ESTATE);
    CHECK_EQ_INT(rt_core_start(core), RT_ESTATE);
    /* This thread is the loop's: a barrier here could never complete. */
    CHECK_EQ_INT(rt_core_sync(core), RT_ESTATE);

    for (i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_NOWAIT);

    /* The core's handles must be unreferenced, so UV_RUN_DEFAULT returns at once. The watchdog
     * is unreferenced too: it can only fire (and stop the loop) if something else keeps the
     * loop alive, which turns a hang into a reported failure. */
    CHECK_EQ_INT(uv_timer_init(&loop, &watchdog), 0);
    watchdog.data = &watchdog_fired;
    CHECK_EQ_INT(uv_timer_start(&watchdog, on_watchdog, 5000, 0), 0);
    uv_unref((uv_handle_t *)&watchdog);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (watchdog_fired)
        uv_walk(&loop, print_handle, NULL);
    CHECK(!watchdog_fired);

    /* Calls from another thread are carried out by the host's uv_run on this thread. libuv
     * only polls while the loop is alive, and the core's handles do not count, so (like any
     * real host with work of its own) the test holds a referenced handle: host_wake, which
     * the worker also uses to wake this thread once it is done. A 60 s watchdog turns a lost
     * wake-up into a failure instead of a hung run. */
    CHECK_EQ_INT(uv_async_init(&loop, &host_wake, on_host_wake), 0);
    watchdog_fired = 0;
    CHECK_EQ_INT(uv_timer_start(&watchdog, on_watchdog, 60000, 0), 0);
    sync_job_init(&job, core, 10, &host_wake);
    CHECK_EQ_INT(pthread_create(&th, NULL, sync_job_main, &job), 0);
    /* UV_RUN_ONCE blocks until an event (the core's, host_wake or the watchdog) instead of
     * spinning, which matters under valgrind, where threads share one CPU. */
    while (!flag_get(&job.finished) && !watchdog_fired)
        uv_run(&loop, UV_RUN_ONCE);
    if (watchdog_fired) {
        /* The worker is still blocked inside the library: nothing can be cleaned up. */
        fprintf(stderr, "FATAL: rt_core_sync from another thread did not return within 60 s "
                        "while the host drove the attached loop\n");
        fflush(stderr);
        _exit(3);
    }
    pthread_join(th, NULL);
    pthread_mutex_destroy(&job.finished.mu);
    CHECK_EQ_INT(job.ok, job.calls);
    CHECK_EQ_INT(job.last_bad, RT_OK);
    uv_timer_stop(&watchdog);
    uv_close((uv_handle_t *)&host_wake, NULL);

    /* Stop on the loop thread, then one more turn of the loop lets the close callbacks run. */
    CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    watchdog_fired = 0;
    CHECK_EQ_INT(uv_timer_start(&watchdog, on_watchdog, 5000, 0), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (watchdog_fired)
        uv_walk(&loop, print_handle, NULL);
    CHECK(!watchdog_fired);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);

    closed = uv_loop_close(&loop);
    if (closed != 0)
        uv_walk(&loop, print_handle, NULL);
    CHECK_EQ_INT(closed, 0);

    CHECK_EQ_INT(rt_core_stop(core), RT_OK); /* already stopped */
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK(core == NULL);
}

/* "The core can be started or attached again afterwards": attach, stop, then run the same core
 * on its own thread. */
static void test_attach_stop_then_start(void)
{
    uv_loop_t loop;
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    int closed;

    CHECK_EQ_INT(uv_loop_init(&loop), 0);
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL) {
        uv_loop_close(&loop);
        return;
    }
    CHECK_EQ_INT(rt_core_attach(core, &loop), RT_OK);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    closed = uv_loop_close(&loop);
    if (closed != 0)
        uv_walk(&loop, print_handle, NULL);
    CHECK_EQ_INT(closed, 0);

    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

/* ---------------------------------------------------------------------------------------------
 * Threads
 * ------------------------------------------------------------------------------------------- */

#define SYNC_THREADS 8
#define CHECK_THREADS 3

typedef struct check_job {
    rt_core *core;
    int calls;
    int ok;        /* RT_OK with report exactly "ok" */
    int freed_ok;  /* rt_bytes_free reset the buffer to {NULL, 0} */
    rt_status last_bad;
} check_job;

static void *check_job_main(void *arg)
{
    check_job *job = arg;
    int i;
    for (i = 0; i < job->calls; i++) {
        rt_bytes report = {NULL, 0};
        rt_status rc = rt_core_check(job->core, &report);
        if (rc == RT_OK && report.len == 2 && report.data != NULL &&
            memcmp(report.data, "ok", 2) == 0)
            job->ok++;
        else
            job->last_bad = rc;
        rt_bytes_free(&report);
        if (report.data == NULL && report.len == 0)
            job->freed_ok++;
    }
    return NULL;
}

static void test_threads(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "threads.db") : NULL;
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    sync_job syncs[SYNC_THREADS];
    check_job checks[CHECK_THREADS];
    pthread_t sync_th[SYNC_THREADS], check_th[CHECK_THREADS];
    int started_sync = 0, started_check = 0, i;

    CHECK(path != NULL);
    cfg.db_path = path;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        goto out;
    CHECK_EQ_INT(rt_core_start(core), RT_OK);

    /* Syncs and integrity checks all at once, from threads the library has never seen. */
    for (i = 0; i < SYNC_THREADS; i++)
        sync_job_init(&syncs[i], core, quick_mode() ? 20 : 200, NULL);
    for (i = 0; i < CHECK_THREADS; i++) {
        checks[i].core = core;
        checks[i].calls = quick_mode() ? 2 : 10;
        checks[i].ok = checks[i].freed_ok = 0;
        checks[i].last_bad = RT_OK;
    }
    for (i = 0; i < SYNC_THREADS; i++) {
        if (pthread_create(&sync_th[i], NULL, sync_job_main, &syncs[i]) != 0)
            break;
        started_sync++;
    }
    for (i = 0; i < CHECK_THREADS; i++) {
        if (pthread_create(&check_th[i], NULL, check_job_main, &checks[i]) != 0)
            break;
        started_check++;
    }
    CHECK_EQ_INT(started_sync, SYNC_THREADS);
    CHECK_EQ_INT(started_check, CHECK_THREADS);
    for (i = 0; i < started_sync; i++) {
        pthread_join(sync_th[i], NULL);
        CHECK_EQ_INT(syncs[i].ok, syncs[i].calls);
        CHECK_EQ_INT(syncs[i].last_bad, RT_OK);
    }
    for (i = 0; i < started_check; i++) {
        pthread_join(check_th[i], NULL);
        CHECK_EQ_INT(checks[i].ok, checks[i].calls);
        CHECK_EQ_INT(checks[i].freed_ok, checks[i].calls);
        CHECK_EQ_INT(checks[i].last_bad, RT_OK);
    }
    for (i = 0; i < SYNC_THREADS; i++)
        pthread_mutex_destroy(&syncs[i].finished.mu);

    CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
out:
    free(path);
    remove_tempdir(dir);
}

typedef struct stop_job {
    rt_core *core;
    rt_status rc;
} stop_job;

static void *stop_job_main(void *arg)
{
    stop_job *job = arg;
    job->rc = rt_core_stop(job->core);
    return NULL;
}

static void test_stop_from_other_thread(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    stop_job job;
    pthread_t th;

    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    job.core = core;
    job.rc = RT_EINTERNAL;
    CHECK_EQ_INT(pthread_create(&th, NULL, stop_job_main, &job), 0);
    pthread_join(th, NULL);
    CHECK_EQ_INT(job.rc, RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_ESTATE); /* it really stopped */
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_sync_not_started(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;

    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_sync(core), RT_ESTATE);
    CHECK(errmsg_nonempty(core));
    /* And after a start/stop cycle, too. */
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_ESTATE);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

/* ---------------------------------------------------------------------------------------------
 * Invalid input
 * ------------------------------------------------------------------------------------------- */

static void test_null_pointers(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = SENTINEL_CORE;
    rt_bytes bytes = {NULL, 0};
    uv_loop_t loop;
    const char *m;

    CHECK_EQ_INT(rt_core_open(NULL, &core), RT_EINVAL);
    CHECK(core == NULL);
    CHECK(errmsg_nonempty(NULL));
    CHECK_EQ_INT(rt_core_open(&cfg, NULL), RT_EINVAL);
    CHECK(errmsg_nonempty(NULL));
    CHECK_EQ_INT(rt_core_start(NULL), RT_EINVAL);
    CHECK_EQ_INT(uv_loop_init(&loop), 0);
    CHECK_EQ_INT(rt_core_attach(NULL, &loop), RT_EINVAL);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    CHECK_EQ_INT(rt_core_stop(NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_core_sync(NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_core_check(NULL, &bytes), RT_EINVAL);
    CHECK(bytes.data == NULL && bytes.len == 0);
    CHECK_EQ_INT(rt_core_check(NULL, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_config_init(NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_core_close(NULL), RT_OK);
    m = rt_core_errmsg(NULL);
    CHECK(m != NULL);
    rt_bytes_free(NULL);
    rt_bytes_free(&bytes);
    CHECK(bytes.data == NULL && bytes.len == 0);
}

/* The message is thread-local and dies with its thread, so inspect it here, not in main. */
static void *errmsg_fresh_thread(void *arg)
{
    int *state = arg;
    const char *m = rt_core_errmsg(NULL);
    *state = m == NULL ? -1 : m[0] == '\0' ? 0 : 1;
    return NULL;
}

/* rt_core_errmsg(NULL) is per thread: another thread's failure is not visible. */
static void test_errmsg_per_thread(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    int seen = -2; /* -1: NULL, 0: "", 1: a message */
    pthread_t th;

    cfg.durability = 7;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_EINVAL);
    CHECK(errmsg_nonempty(NULL));
    CHECK_EQ_INT(pthread_create(&th, NULL, errmsg_fresh_thread, &seen), 0);
    pthread_join(th, NULL);
    CHECK_EQ_INT(seen, 0);
    CHECK(errmsg_nonempty(NULL)); /* and ours is still there */
}

static void test_struct_size(void)
{
    const size_t bad[] = {0, sizeof(rt_config) - 1, 1};
    const size_t big = sizeof(rt_config) + 16;
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core;
    unsigned char *buf;
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.struct_size = bad[i];
        core = SENTINEL_CORE;
        CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_EVERSION);
        CHECK(errmsg_nonempty(NULL));
        CHECK(core == NULL);
        if (core != NULL && core != SENTINEL_CORE)
            rt_core_close(&core);
    }

    /* A newer host's config: larger, with fields this library does not know. Zero is their
     * default, so zeros are accepted and anything else is refused. */
    buf = calloc(1, big);
    CHECK(buf != NULL);
    if (buf == NULL)
        return;
    cfg.struct_size = big;
    memcpy(buf, &cfg, sizeof cfg);

    core = NULL;
    CHECK_EQ_INT(rt_core_open((const rt_config *)(void *)buf, &core), RT_OK);
    CHECK(core != NULL);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);

    buf[sizeof(rt_config)] = 1;
    core = SENTINEL_CORE;
    CHECK_EQ_INT(rt_core_open((const rt_config *)(void *)buf, &core), RT_EVERSION);
    CHECK(errmsg_nonempty(NULL));
    CHECK(core == NULL);

    buf[sizeof(rt_config)] = 0;
    buf[big - 1] = 0x80;
    core = SENTINEL_CORE;
    CHECK_EQ_INT(rt_core_open((const rt_config *)(void *)buf, &core), RT_EVERSION);
    CHECK(errmsg_nonempty(NULL));
    CHECK(core == NULL);
    free(buf);

    /* A garbage struct_size far beyond any struct, in front of zeroed memory: refused without the
     * library reading past the caller's allocation (AddressSanitizer would report it). */
    buf = calloc(1, 1 << 16);
    CHECK(buf != NULL);
    if (buf == NULL)
        return;
    cfg.struct_size = (size_t)1 << 40;
    memcpy(buf, &cfg, sizeof cfg);
    core = SENTINEL_CORE;
    CHECK_EQ_INT(rt_core_open((const rt_config *)(void *)buf, &core), RT_EVERSION);
    CHECK(core == NULL);
    free(buf);
}

static void test_bad_values(void)
{
    static const int bad_durability[] = {7, 3, -1};
    static const int bad_log_level[] = {-1, 5};
    rt_config cfg;
    rt_core *core;
    size_t i;

    for (i = 0; i < sizeof bad_durability / sizeof bad_durability[0]; i++) {
        rt_config_init(&cfg);
        cfg.durability = bad_durability[i];
        core = SENTINEL_CORE;
        CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_EINVAL);
        CHECK(errmsg_nonempty(NULL));
        CHECK(core == NULL);
    }
    for (i = 0; i < sizeof bad_log_level / sizeof bad_log_level[0]; i++) {
        rt_config_init(&cfg);
        cfg.log_level = bad_log_level[i];
        core = SENTINEL_CORE;
        CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_EINVAL);
        CHECK(errmsg_nonempty(NULL));
        CHECK(core == NULL);
    }
    /* Every documented value is accepted. */
    for (i = RT_DURABILITY_FULL; i <= RT_DURABILITY_OFF; i++) {
        rt_config_init(&cfg);
        cfg.durability = (int)i;
        core = NULL;
        CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
        rt_core_close(&core);
    }
    for (i = RT_LOG_OFF; i <= RT_LOG_DEBUG; i++) {
        rt_config_init(&cfg);
        cfg.log_level = (int)i;
        core = NULL;
        CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
        rt_core_close(&core);
    }
}

static void test_unwritable_path(void)
{
    char *dir = make_tempdir();
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = SENTINEL_CORE;

    cfg.db_path = "/nonexistent-dir-xyz/a.db";
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_EIO);
    CHECK(errmsg_nonempty(NULL));
    CHECK(core == NULL);
    CHECK(!path_exists("/nonexistent-dir-xyz")); /* "its directory must exist": not created */

    CHECK(dir != NULL);
    if (dir != NULL) {
        cfg.db_path = dir; /* a directory, not a file */
        core = SENTINEL_CORE;
        CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_EIO);
        CHECK(errmsg_nonempty(NULL));
        CHECK(core == NULL);
    }
    remove_tempdir(dir);
}

/* ---------------------------------------------------------------------------------------------
 * Files the library must refuse without touching them
 * ------------------------------------------------------------------------------------------- */

static void test_corrupt_file(void)
{
    static const char header[16] = "SQLite format 3"; /* + the implicit NUL: 16 bytes */
    char *dir = make_tempdir();
    char *garbage = dir ? path_join(dir, "garbage.db") : NULL;
    char *headed = dir ? path_join(dir, "headed.db") : NULL;
    unsigned char buf[4096];
    size_t i;

    CHECK(garbage != NULL && headed != NULL);
    if (garbage == NULL || headed == NULL)
        goto out;

    for (i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)("not a database! "[i % 16] ^ (i / 16));
    CHECK(write_file(garbage, buf, sizeof buf));
    expect_open_fails_untouched(dir, garbage, RT_ECORRUPT, RT_ECORRUPT);

    /* A real header in front of garbage (the page size field, among others, is nonsense). */
    memcpy(buf, header, sizeof header);
    CHECK(write_file(headed, buf, sizeof buf));
    expect_open_fails_untouched(dir, headed, RT_ECORRUPT, RT_EIO);
out:
    free(garbage);
    free(headed);
    remove_tempdir(dir);
}

static void test_newer_schema(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "newer.db") : NULL;
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;

    CHECK(path != NULL);
    if (path == NULL)
        goto out;
    cfg.db_path = path;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK(sqlite_exec_file(path, "PRAGMA user_version = 999999;"));
    expect_open_fails_untouched(dir, path, RT_ESCHEMA, RT_ESCHEMA);
out:
    free(path);
    remove_tempdir(dir);
}

static void test_foreign_schema(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "foreign.db") : NULL;
    char *wal_path = dir ? path_join(dir, "foreign-wal.db") : NULL;

    CHECK(path != NULL && wal_path != NULL);
    if (path == NULL || wal_path == NULL)
        goto out;
    CHECK(sqlite_exec_file(path, "CREATE TABLE foo (x INTEGER); INSERT INTO foo VALUES (42);"));
    expect_open_fails_untouched(dir, path, RT_ESCHEMA, RT_ESCHEMA);

    /* The same in WAL mode, as many applications use: refusing it must not leave -wal/-shm
     * files beside another application's database either. */
    CHECK(sqlite_exec_file(wal_path, "PRAGMA journal_mode = WAL; CREATE TABLE foo (x INTEGER);"));
    expect_open_fails_untouched(dir, wal_path, RT_ESCHEMA, RT_ESCHEMA);
out:
    free(path);
    free(wal_path);
    remove_tempdir(dir);
}

/* A database file is held by one core at a time; a second open is refused with RT_EBUSY. */
static void test_busy(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "busy.db") : NULL;
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *first = NULL, *second = SENTINEL_CORE;

    CHECK(path != NULL);
    if (path == NULL)
        goto out;
    cfg.db_path = path;
    CHECK_EQ_INT(rt_core_open(&cfg, &first), RT_OK);
    CHECK_EQ_INT(rt_core_open(&cfg, &second), RT_EBUSY);
    CHECK(errmsg_nonempty(NULL));
    CHECK(second == NULL);
    if (second != NULL && second != SENTINEL_CORE)
        rt_core_close(&second);
    /* The refused open must not have disturbed the first core. */
    CHECK_EQ_INT(rt_core_start(first), RT_OK);
    CHECK_EQ_INT(rt_core_sync(first), RT_OK);
    CHECK_EQ_INT(rt_core_close(&first), RT_OK);
    /* Released at close. */
    second = NULL;
    CHECK_EQ_INT(rt_core_open(&cfg, &second), RT_OK);
    CHECK_EQ_INT(rt_core_close(&second), RT_OK);
out:
    free(path);
    remove_tempdir(dir);
}

/* ---------------------------------------------------------------------------------------------
 * Logging, integrity check
 * ------------------------------------------------------------------------------------------- */

static void run_logged_lifecycle(const char *path, int level, log_counter *lc)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;

    cfg.db_path = path;
    cfg.log_level = level;
    cfg.log_fn = count_log;
    cfg.log_user_data = lc;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_log_callback(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "log.db") : NULL;
    log_counter lc;

    CHECK(path != NULL);
    if (path == NULL)
        goto out;

    log_counter_init(&lc);
    run_logged_lifecycle(path, RT_LOG_DEBUG, &lc);
    CHECK(lc.calls >= 1);
    CHECK_EQ_INT(lc.bad_level, 0);
    CHECK_EQ_INT(lc.null_msg, 0);
    pthread_mutex_destroy(&lc.mu);

    /* Filtering: nothing above the configured level. */
    log_counter_init(&lc);
    run_logged_lifecycle(path, RT_LOG_WARN, &lc);
    CHECK(lc.max_level <= RT_LOG_WARN);
    CHECK_EQ_INT(lc.bad_level, 0);
    pthread_mutex_destroy(&lc.mu);

    log_counter_init(&lc);
    run_logged_lifecycle(path, RT_LOG_OFF, &lc);
    CHECK_EQ_INT(lc.calls, 0);
    pthread_mutex_destroy(&lc.mu);
out:
    free(path);
    remove_tempdir(dir);
}

static void test_check_report(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "check.db") : NULL;
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    rt_bytes report = {NULL, 0};

    CHECK(path != NULL);
    if (path == NULL)
        goto out;
    cfg.db_path = path;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        goto out;

    CHECK_EQ_INT(rt_core_check(core, &report), RT_OK);
    CHECK_EQ_INT(report.len, 2);
    CHECK(report.data != NULL && report.len == 2 && memcmp(report.data, "ok", 2) == 0);
    rt_bytes_free(&report);
    CHECK(report.data == NULL);
    CHECK_EQ_INT(report.len, 0);
    rt_bytes_free(&report); /* second free of the same rt_bytes is a no-op */
    CHECK(report.data == NULL && report.len == 0);

    CHECK_EQ_INT(rt_core_check(core, NULL), RT_OK); /* the report is optional */

    /* Also while the loop runs. */
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    CHECK_EQ_INT(rt_core_check(core, &report), RT_OK);
    CHECK(report.data != NULL && report.len == 2 && memcmp(report.data, "ok", 2) == 0);
    rt_bytes_free(&report);
    CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
out:
    free(path);
    remove_tempdir(dir);
}

/* A database of this library whose last page is overwritten: either rt_core_open notices
 * (RT_ECORRUPT) or rt_core_check must, with a report other than "ok". */
static void test_check_detects_corruption(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "damaged.db") : NULL;
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    rt_bytes report = {NULL, 0};
    unsigned char *bytes = NULL;
    size_t len = 0, page = 4096, i;
    rt_status rc;

    CHECK(path != NULL);
    if (path == NULL)
        goto out;
    cfg.db_path = path;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);

    bytes = read_file(path, &len);
    CHECK(bytes != NULL && len >= 2 * page);
    if (bytes == NULL || len < 2 * page)
        goto out;
    /* Page 1 (the schema) stays intact so the file still looks like ours; the last page, a
     * table or index b-tree page, becomes garbage. */
    page = (size_t)bytes[16] << 8 | bytes[17];
    if (page == 1)
        page = 65536;
    CHECK(page >= 512 && len % page == 0 && len / page >= 2);
    for (i = len - page; i < len; i++)
        bytes[i] = (unsigned char)(0x5A ^ i);
    CHECK(write_file(path, bytes, len));

    rc = rt_core_open(&cfg, &core);
    CHECK(rc == RT_OK || rc == RT_ECORRUPT);
    if (rc == RT_OK) {
        rc = rt_core_check(core, &report);
        CHECK_EQ_INT(rc, RT_ECORRUPT);
        CHECK(report.data != NULL && report.len > 0);
        CHECK(!(report.len == 2 && report.data != NULL && memcmp(report.data, "ok", 2) == 0));
        rt_bytes_free(&report);
        CHECK(report.data == NULL && report.len == 0);
        CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    }
out:
    free(bytes);
    free(path);
    remove_tempdir(dir);
}

int main(void)
{
    /* Summary lines and failure details interleave sensibly when both go to one pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    RUN(test_version);
    RUN(test_strerror);
    RUN(test_config_init);
    RUN(test_open_close_memory);
    RUN(test_open_close_file);
    RUN(test_start_stop_repeated);
    RUN(test_open_start_stop_close_loop_file);
    RUN(test_attach_host_loop);
    RUN(test_attach_stop_then_start);
    RUN(test_threads);
    RUN(test_stop_from_other_thread);
    RUN(test_sync_not_started);
    RUN(test_null_pointers);
    RUN(test_errmsg_per_thread);
    RUN(test_struct_size);
    RUN(test_bad_values);
    RUN(test_unwritable_path);
    RUN(test_corrupt_file);
    RUN(test_newer_schema);
    RUN(test_foreign_schema);
    RUN(test_busy);
    RUN(test_log_callback);
    RUN(test_check_report);
    RUN(test_check_detects_corruption);
    return harness_summary();
}
