/*
 * c-host — the smallest useful C host of librealtime.
 *
 *   ./c-host [database-file]        (default ./c-host.db)
 *
 * Opens a core on a database file, runs its loop on a library-owned thread, waits for it to
 * settle (rt_core_sync), checks the file's integrity, then shuts down cleanly. Every failure is
 * printed as "<call>: <status name> (<code>): <detail>".
 */
#include <stdio.h>
#include <stdlib.h>

#include <realtime.h>

/* Log messages can arrive on several library threads at once; one fprintf per message keeps
 * lines whole (stdio locks the stream per call). */
static void log_to_stderr(void *user_data, int level, const char *msg)
{
    static const char *const names[] = {"off", "error", "warn", "info", "debug"};
    const char *prefix = user_data;
    const char *name = level >= RT_LOG_ERROR && level <= RT_LOG_DEBUG ? names[level] : "?";
    fprintf(stderr, "%s [%s] %s\n", prefix, name, msg);
}

/* rt_strerror names the code; rt_core_errmsg has the detail of this thread's last failure on
 * `core` (NULL for rt_core_open, which has no core yet). Read it right away: the next rt_*
 * call on this thread may replace it. */
static int report(const char *call, rt_status status, const rt_core *core)
{
    fprintf(stderr, "c-host: %s: %s (%d): %s\n", call, rt_strerror(status), status,
            rt_core_errmsg(core));
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "./c-host.db";
    rt_config config = RT_CONFIG_INIT; /* sets struct_size: keeps old binaries working */
    rt_core *core = NULL;
    rt_bytes integrity = {NULL, 0};
    rt_status status;
    int failed = 0;

    /* The header and the loaded library must agree on the major version (the SONAME already
     * guarantees it; this catches a mismatched -I path at build time). */
    if (rt_version_number() / 1000000 != RT_VERSION_MAJOR) {
        fprintf(stderr, "c-host: built for realtime %s, loaded %s\n", RT_VERSION_STRING,
                rt_version_string());
        return 1;
    }
    printf("librealtime %s\n", rt_version_string());

    config.db_path = path; /* copied by rt_core_open */
    config.log_level = RT_LOG_INFO;
    config.log_fn = log_to_stderr;
    config.log_user_data = "realtime";

    status = rt_core_open(&config, &core);
    if (status != RT_OK)
        return report("rt_core_open", status, NULL);

    /* A thread of the library's own runs the loop; a host with a libuv loop of its own would
     * call rt_core_attach on that loop's thread instead. */
    status = rt_core_start(core);
    if (status != RT_OK) {
        failed = report("rt_core_start", status, core);
        goto close;
    }

    /* Barrier: everything posted so far has run and is committed to disk. */
    status = rt_core_sync(core);
    if (status != RT_OK)
        failed = report("rt_core_sync", status, core);

    /* The report is UTF-8 text, not NUL-terminated: print it with its length. */
    status = rt_core_check(core, &integrity);
    if (status == RT_OK || status == RT_ECORRUPT)
        printf("integrity check of %s: %.*s\n", path, (int)integrity.len,
               integrity.data != NULL ? (const char *)integrity.data : "");
    if (status != RT_OK)
        failed = report("rt_core_check", status, core);
    rt_bytes_free(&integrity); /* the library allocated it, so the library frees it */

    /* Waits for queued writes to commit, then joins the loop thread. rt_core_close would do it
     * too, but stopping explicitly lets us report a failure separately. */
    status = rt_core_stop(core);
    if (status != RT_OK)
        failed = report("rt_core_stop", status, core);

close:
    status = rt_core_close(&core); /* sets core to NULL */
    if (status != RT_OK)
        failed = report("rt_core_close", status, NULL);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
