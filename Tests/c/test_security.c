/*
 * test_security.c — master keys and sealed payloads through the C ABI: rt_seal/rt_open round
 * trips; every flipped byte, another context or associated data, an unknown or rotated key
 * refused with nothing returned; key files (format, permissions) and the environment; sealed
 * boxes; bad arguments; nonces never repeat, within a process or across a fork.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, setenv under -std=c99 */

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <realtime.h>

#include "harness.h"
#include "tempdir.h"
#include "doc_support.h"

static rt_bytes seal(rt_core *core, const char *context, const char *ad, const char *msg)
{
    rt_bytes out = {NULL, 0};
    CHECK_EQ_INT(rt_seal(core, context, (const uint8_t *)ad, strlen(ad), (const uint8_t *)msg, strlen(msg), &out),
                 RT_OK);
    return out;
}

static rt_status open_sealed(rt_core *core, const char *context, const char *ad, const rt_bytes *sealed,
                             rt_bytes *out)
{
    return rt_open(core, context, (const uint8_t *)ad, strlen(ad), sealed->data, sealed->len, out);
}

static void test_seal_round_trip_and_refusals(void)
{
    rt_core *core = open_core(NULL);
    uint8_t key[RT_KEY_BYTES];
    rt_bytes sealed = {NULL, 0}, out = {NULL, 0}, again = {NULL, 0};
    size_t i;

    memset(key, 0x42, sizeof key);
    /* No key yet: nothing seals. */
    CHECK_EQ_INT(rt_seal(core, "ctx", NULL, 0, (const uint8_t *)"x", 1, &out), RT_ESTATE);
    CHECK_EQ_INT(rt_key_add(core, 1, key, sizeof key), RT_OK);
    sealed = seal(core, "ctx", "row 1", "hello");
    CHECK_EQ_INT(sealed.len, 5 + RT_SEAL_OVERHEAD);
    CHECK_EQ_INT(open_sealed(core, "ctx", "row 1", &sealed, &out), RT_OK);
    CHECK(out.len == 5 && memcmp(out.data, "hello", 5) == 0);
    rt_bytes_free(&out);
    again = seal(core, "ctx", "row 1", "hello");
    CHECK(again.len == sealed.len && memcmp(again.data, sealed.data, sealed.len) != 0); /* fresh nonce */
    rt_bytes_free(&again);

    /* Every flipped byte is refused, and nothing comes back. */
    for (i = 0; i < sealed.len; i++) {
        rt_status rc;
        sealed.data[i] ^= 0x10;
        rc = open_sealed(core, "ctx", "row 1", &sealed, &out);
        CHECK(rc == RT_ECORRUPT || rc == RT_ENOTFOUND || rc == RT_EVERSION);
        CHECK(out.data == NULL && out.len == 0);
        sealed.data[i] ^= 0x10;
    }
    /* Another context or associated data: another place. */
    CHECK_EQ_INT(open_sealed(core, "ctx2", "row 1", &sealed, &out), RT_ECORRUPT);
    CHECK_EQ_INT(open_sealed(core, "ctx", "row 2", &sealed, &out), RT_ECORRUPT);
    CHECK(rt_core_errmsg(core)[0] != '\0');

    /* Rotation: key 2 seals from now on, key 1's payloads still open. */
    memset(key, 0x43, sizeof key);
    CHECK_EQ_INT(rt_key_add(core, 2, key, sizeof key), RT_OK);
    CHECK_EQ_INT(rt_key_use(core, 2), RT_OK);
    again = seal(core, "ctx", "", "new");
    CHECK(again.len > 5 && again.data[1] == 2);
    CHECK_EQ_INT(open_sealed(core, "ctx", "row 1", &sealed, &out), RT_OK);
    rt_bytes_free(&out);
    CHECK_EQ_INT(rt_key_use(core, 9), RT_ENOTFOUND);
    /* The same id with other bytes; id 0; a short key. */
    CHECK_EQ_INT(rt_key_add(core, 2, (const uint8_t *)"0123456789abcdef0123456789abcdef", 32), RT_EINVAL);
    CHECK_EQ_INT(rt_key_add(core, 0, key, sizeof key), RT_EINVAL);
    CHECK_EQ_INT(rt_key_add(core, 3, key, 31), RT_EINVAL);
    rt_bytes_free(&again);
    rt_bytes_free(&sealed);

    /* A payload sealed by another core's key 1 names a key this core holds, but not those bytes. */
    {
        rt_core *other = open_core(NULL);
        rt_bytes foreign;
        memset(key, 0x99, sizeof key);
        CHECK_EQ_INT(rt_key_add(other, 1, key, sizeof key), RT_OK);
        foreign = seal(other, "ctx", "", "theirs");
        CHECK_EQ_INT(open_sealed(core, "ctx", "", &foreign, &out), RT_ECORRUPT);
        memset(key, 0x98, sizeof key);
        CHECK_EQ_INT(rt_key_add(other, 5, key, sizeof key), RT_OK);
        CHECK_EQ_INT(rt_key_use(other, 5), RT_OK);
        rt_bytes_free(&foreign);
        foreign = seal(other, "ctx", "", "theirs");
        CHECK_EQ_INT(open_sealed(core, "ctx", "", &foreign, &out), RT_ENOTFOUND);
        rt_bytes_free(&foreign);
        rt_core_close(&other);
    }

    /* Into the caller's buffer: the same format, and a buffer too small writes nothing. */
    {
        uint8_t box[64], plain[16];
        size_t n = 99;
        memset(box, 0xEE, sizeof box);
        CHECK_EQ_INT(rt_seal_into(core, "ctx", NULL, 0, (const uint8_t *)"abc", 3, box, 3 + RT_SEAL_OVERHEAD - 1, &n),
                     RT_ETOOBIG);
        CHECK(n == 0 && box[0] == 0xEE);
        CHECK_EQ_INT(rt_seal_into(core, "ctx", NULL, 0, (const uint8_t *)"abc", 3, box, sizeof box, &n), RT_OK);
        CHECK_EQ_INT(n, 3 + RT_SEAL_OVERHEAD);
        CHECK_EQ_INT(rt_open(core, "ctx", NULL, 0, box, n, &out), RT_OK);
        CHECK(out.len == 3 && memcmp(out.data, "abc", 3) == 0);
        rt_bytes_free(&out);
        CHECK_EQ_INT(rt_open_into(core, "ctx", NULL, 0, box, n, plain, 2, NULL), RT_ETOOBIG);
        CHECK_EQ_INT(rt_open_into(core, "ctx", NULL, 0, box, n, plain, sizeof plain, &n), RT_OK);
        CHECK(n == 3 && memcmp(plain, "abc", 3) == 0);
        box[20] ^= 1;
        memset(plain, 0x55, sizeof plain);
        CHECK_EQ_INT(rt_open_into(core, "ctx", NULL, 0, box, 3 + RT_SEAL_OVERHEAD, plain, sizeof plain, &n), RT_ECORRUPT);
        CHECK(n == 0 && plain[0] == 0 && plain[1] == 0 && plain[2] == 0); /* no unverified plaintext left */
        CHECK_EQ_INT(rt_seal_into(core, "ctx", NULL, 0, (const uint8_t *)"abc", 3, NULL, 64, &n), RT_EINVAL);
    }

    /* Bad arguments. */
    CHECK_EQ_INT(rt_seal(NULL, "ctx", NULL, 0, (const uint8_t *)"x", 1, &out), RT_EINVAL);
    CHECK_EQ_INT(rt_seal(core, NULL, NULL, 0, (const uint8_t *)"x", 1, &out), RT_EINVAL);
    CHECK_EQ_INT(rt_seal(core, "ctx", NULL, 3, (const uint8_t *)"x", 1, &out), RT_EINVAL);
    CHECK_EQ_INT(rt_seal(core, "ctx", NULL, 0, NULL, 1, &out), RT_EINVAL);
    CHECK_EQ_INT(rt_seal(core, "ctx", NULL, 0, (const uint8_t *)"x", 1, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_open(core, "ctx", NULL, 0, (const uint8_t *)"short", 5, &out), RT_ECORRUPT);
    CHECK_EQ_INT(rt_key_add(core, 4, NULL, 32), RT_EINVAL);
    rt_core_close(&core);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    CHECK(chmod(path, mode) == 0);
}

static void test_key_files_and_environment(void)
{
    char *dir = make_tempdir();
    char path[512];
    rt_core *core = open_core(NULL);
    rt_bytes sealed = {NULL, 0};
    const char *keys = "# rotated keys\n"
                       "1:0000000000000000000000000000000000000000000000000000000000000001\n"
                       "3:0000000000000000000000000000000000000000000000000000000000000003\n";

    if (dir == NULL || core == NULL)
        goto out;
    snprintf(path, sizeof path, "%s/keys", dir);
    write_file(path, keys, 0644);
    CHECK_EQ_INT(rt_key_load_file(core, path), RT_EPERM);
    CHECK_EQ_INT(rt_seal(core, "c", NULL, 0, (const uint8_t *)"x", 1, &sealed), RT_ESTATE); /* nothing added */
    CHECK(chmod(path, 0600) == 0);
    CHECK_EQ_INT(rt_key_load_file(core, path), RT_OK);
    sealed = seal(core, "c", "", "x");
    CHECK(sealed.len > 5 && sealed.data[1] == 3); /* the highest id is current */
    rt_bytes_free(&sealed);
    write_file(path, "1:abc\n", 0600);
    CHECK_EQ_INT(rt_key_load_file(core, path), RT_EINVAL);
    snprintf(path, sizeof path, "%s/missing", dir);
    CHECK_EQ_INT(rt_key_load_file(core, path), RT_EIO);

    CHECK(setenv("RT_TEST_MASTER_KEY", "5:0505050505050505050505050505050505050505050505050505050505050505", 1) == 0);
    CHECK_EQ_INT(rt_key_load_env(core, "RT_TEST_MASTER_KEY"), RT_OK);
    sealed = seal(core, "c", "", "x");
    CHECK(sealed.len > 5 && sealed.data[1] == 5);
    rt_bytes_free(&sealed);
    CHECK_EQ_INT(rt_key_load_env(core, "RT_TEST_NO_SUCH_VARIABLE"), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_key_load_env(core, NULL), RT_EINVAL);
out:
    rt_core_close(&core);
    if (dir != NULL)
        remove_tempdir(dir);
}

static void test_sealed_boxes(void)
{
    uint8_t pk[RT_KEY_BYTES], sk[RT_KEY_BYTES], pk2[RT_KEY_BYTES], sk2[RT_KEY_BYTES];
    rt_bytes sealed = {NULL, 0}, out = {NULL, 0};

    CHECK_EQ_INT(rt_box_keypair(pk, sk), RT_OK);
    CHECK_EQ_INT(rt_box_keypair(pk2, sk2), RT_OK);
    CHECK_EQ_INT(rt_box_seal(pk, (const uint8_t *)"secret", 6, &sealed), RT_OK);
    CHECK_EQ_INT(sealed.len, 6 + RT_BOX_OVERHEAD);
    CHECK_EQ_INT(rt_box_open(pk, sk, sealed.data, sealed.len, &out), RT_OK);
    CHECK(out.len == 6 && memcmp(out.data, "secret", 6) == 0);
    rt_bytes_free(&out);
    CHECK_EQ_INT(rt_box_open(pk2, sk2, sealed.data, sealed.len, &out), RT_ECORRUPT);
    CHECK(out.data == NULL);
    sealed.data[10] ^= 1;
    CHECK_EQ_INT(rt_box_open(pk, sk, sealed.data, sealed.len, &out), RT_ECORRUPT);
    CHECK_EQ_INT(rt_box_open(pk, sk, sealed.data, 10, &out), RT_ECORRUPT);
    CHECK_EQ_INT(rt_box_keypair(NULL, sk), RT_EINVAL);
    CHECK_EQ_INT(rt_box_seal(NULL, (const uint8_t *)"x", 1, &out), RT_EINVAL);
    CHECK_EQ_INT(rt_box_open(pk, NULL, sealed.data, sealed.len, &out), RT_EINVAL);
    rt_bytes_free(&sealed);
}

static void test_passwords(void)
{
    rt_core *core = open_core(NULL);
    rt_bytes hash = {NULL, 0}, cheap = {NULL, 0};
    int matches = 9, rehash = 9;

    if (core == NULL)
        return;
    /* The cheapest limits Argon2id takes, so the test is quick. */
    CHECK_EQ_INT(rt_password_configure(core, 1, 8192, 2), RT_OK);
    CHECK_EQ_INT(rt_password_hash(core, "hunter2", 7, &hash), RT_OK);
    CHECK(hash.data != NULL && strncmp((const char *)hash.data, "$argon2id$", 10) == 0);
    CHECK(hash.data != NULL && hash.data[hash.len] == '\0' && strlen((const char *)hash.data) == hash.len);
    CHECK_EQ_INT(rt_password_verify(core, (const char *)hash.data, "hunter2", 7, &matches, &rehash), RT_OK);
    CHECK(matches == 1 && rehash == 0);
    CHECK_EQ_INT(rt_password_verify(core, (const char *)hash.data, "hunter3", 7, &matches, &rehash), RT_OK);
    CHECK(matches == 0 && rehash == 0);
    CHECK_EQ_INT(rt_password_verify(core, "not a hash", "hunter2", 7, &matches, NULL), RT_OK);
    CHECK_EQ_INT(matches, 0);
    /* Stronger limits: the old hash still verifies, and asks to be replaced. */
    CHECK_EQ_INT(rt_password_configure(core, 2, 16384, 1), RT_OK);
    CHECK_EQ_INT(rt_password_verify(core, (const char *)hash.data, "hunter2", 7, &matches, &rehash), RT_OK);
    CHECK(matches == 1 && rehash == 1);
    CHECK_EQ_INT(rt_password_hash(core, "hunter2", 7, &cheap), RT_OK);
    CHECK_EQ_INT(rt_password_verify(core, (const char *)cheap.data, "hunter2", 7, &matches, &rehash), RT_OK);
    CHECK(matches == 1 && rehash == 0);
    /* Bad arguments (a failed call empties *out, so free the hash first). */
    rt_bytes_free(&hash);
    CHECK_EQ_INT(rt_password_configure(core, 0, 8192, 1), RT_EINVAL);
    CHECK_EQ_INT(rt_password_configure(core, 1, 8192, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_password_hash(core, NULL, 3, &hash), RT_EINVAL);
    CHECK(hash.data == NULL);
    CHECK_EQ_INT(rt_password_verify(core, NULL, "x", 1, &matches, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_password_verify(core, "x", "x", 1, NULL, NULL), RT_EINVAL);
    {
        static char huge[4097];
        memset(huge, 'a', sizeof huge);
        CHECK_EQ_INT(rt_password_hash(core, huge, sizeof huge, &hash), RT_ETOOBIG);
    }
    rt_bytes_free(&hash);
    rt_bytes_free(&cheap);
    rt_core_close(&core);
}

static int compare_nonces(const void *a, const void *b) { return memcmp(a, b, 24); }

/*
 * Nonces come from a per-thread buffer of the OS's random bytes. Past several refills none
 * repeats; and a forked child, which inherits the buffer, must not hand out the parent's next
 * nonces (two processes sealing under one key with one nonce would leak both plaintexts).
 */
static void test_nonces_never_repeat(void)
{
    enum { COUNT = 1000 };
    static uint8_t nonces[COUNT][24];
    rt_core *core = open_core(NULL);
    uint8_t key[RT_KEY_BYTES], sealed[8 + RT_SEAL_OVERHEAD], child_nonce[24];
    int fds[2], status = 0, i, repeats = 0;
    size_t n = 0;
    pid_t pid;

    if (core == NULL)
        return;
    memset(key, 7, sizeof key);
    CHECK_EQ_INT(rt_key_add(core, 1, key, sizeof key), RT_OK);
    for (i = 0; i < COUNT; i++) {
        CHECK_EQ_INT(rt_seal_into(core, "n", NULL, 0, (const uint8_t *)"payload!", 8, sealed, sizeof sealed, &n),
                     RT_OK);
        memcpy(nonces[i], sealed + 5, 24);
    }
    qsort(nonces, COUNT, 24, compare_nonces);
    for (i = 1; i < COUNT; i++)
        repeats += memcmp(nonces[i - 1], nonces[i], 24) == 0;
    CHECK_EQ_INT(repeats, 0);

    CHECK_EQ_INT(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        ssize_t w = -1;
        close(fds[0]);
        if (rt_seal_into(core, "n", NULL, 0, (const uint8_t *)"payload!", 8, sealed, sizeof sealed, &n) == RT_OK)
            w = write(fds[1], sealed + 5, 24);
        _exit(w == 24 ? 0 : 1);
    }
    close(fds[1]);
    CHECK_EQ_INT(rt_seal_into(core, "n", NULL, 0, (const uint8_t *)"payload!", 8, sealed, sizeof sealed, &n), RT_OK);
    CHECK_EQ_INT(read(fds[0], child_nonce, 24), 24);
    close(fds[0]);
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(memcmp(child_nonce, sealed + 5, 24) != 0);
    rt_core_close(&core);
}

/* What the async password callbacks saw, guarded by its mutex. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int calls, ok, closed, matches, rehash;
    char hash[256];
} password_outcome;

static void on_hashed(void *user_data, rt_status status, const char *hash)
{
    password_outcome *o = user_data;
    pthread_mutex_lock(&o->lock);
    o->calls++;
    if (status == RT_OK && hash != NULL && strlen(hash) < sizeof o->hash) {
        o->ok++;
        strcpy(o->hash, hash);
    }
    if (status == RT_ECLOSED)
        o->closed++;
    pthread_cond_broadcast(&o->changed);
    pthread_mutex_unlock(&o->lock);
}

static void on_verified(void *user_data, rt_status status, int matches, int needs_rehash)
{
    password_outcome *o = user_data;
    pthread_mutex_lock(&o->lock);
    o->calls++;
    if (status == RT_OK) {
        o->ok++;
        o->matches += matches;
        o->rehash += needs_rehash;
    }
    if (status == RT_ECLOSED)
        o->closed++;
    pthread_cond_broadcast(&o->changed);
    pthread_mutex_unlock(&o->lock);
}

/* Waits (at most a minute, a guard against a hang, not a timing assumption) for `calls`. */
static int wait_calls(password_outcome *o, int calls)
{
    struct timespec deadline;
    int reached;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    pthread_mutex_lock(&o->lock);
    while (o->calls < calls && pthread_cond_timedwait(&o->changed, &o->lock, &deadline) == 0)
        ;
    reached = o->calls >= calls;
    pthread_mutex_unlock(&o->lock);
    return reached;
}

/*
 * Hashing and checking on the core's password threads: the callback gets the hash, a check of
 * the right and a wrong password, exactly one call per job even when the core closes with jobs
 * waiting, and refusals before anything is queued.
 */
static void test_password_async(void)
{
    enum { JOBS = 12 };
    static password_outcome hashed = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, ""};
    static password_outcome checked = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, ""};
    static password_outcome flood = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, ""};
    static char huge[4097];
    rt_core *core = open_core(NULL);
    int i, accepted = 0;

    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_password_configure(core, 1, 8192, 2), RT_OK);
    CHECK_EQ_INT(rt_password_hash_async(core, "hunter2", 7, on_hashed, &hashed), RT_OK);
    CHECK(wait_calls(&hashed, 1));
    CHECK_EQ_INT(hashed.ok, 1);
    CHECK(strncmp(hashed.hash, "$argon2id$", 10) == 0);

    CHECK_EQ_INT(rt_password_verify_async(core, hashed.hash, "hunter2", 7, on_verified, &checked), RT_OK);
    CHECK_EQ_INT(rt_password_verify_async(core, hashed.hash, "hunter3", 7, on_verified, &checked), RT_OK);
    CHECK(wait_calls(&checked, 2));
    CHECK_EQ_INT(checked.ok, 2);
    CHECK_EQ_INT(checked.matches, 1);
    CHECK_EQ_INT(checked.rehash, 0);

    memset(huge, 'a', sizeof huge);
    CHECK_EQ_INT(rt_password_hash_async(core, huge, sizeof huge, on_hashed, &hashed), RT_ETOOBIG);
    CHECK_EQ_INT(rt_password_hash_async(core, "x", 1, NULL, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_password_verify_async(core, NULL, "x", 1, on_verified, &checked), RT_EINVAL);

    /* Close with jobs waiting: each still gets exactly one call, a result or RT_ECLOSED. */
    for (i = 0; i < JOBS; i++)
        accepted += rt_password_hash_async(core, "pw", 2, on_hashed, &flood) == RT_OK;
    CHECK_EQ_INT(accepted, JOBS);
    rt_core_close(&core);
    CHECK_EQ_INT(flood.calls, JOBS);
    CHECK_EQ_INT(flood.ok + flood.closed, JOBS);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(test_seal_round_trip_and_refusals);
    RUN(test_key_files_and_environment);
    RUN(test_sealed_boxes);
    RUN(test_passwords);
    RUN(test_nonces_never_repeat);
    RUN(test_password_async);
    return harness_summary();
}
