/*
 * test_files.c — binary file documents (RT_DOC_FILE) through the C ABI: two replicas on their
 * own database files, one writing a file and the other receiving its manifest by diff and its
 * chunks by rt_chunk_get / rt_chunk_put; a small edit of a large file costing only a few chunks;
 * concurrent writes kept as conflict copies and resolved; persistence across a reopen, with a
 * chunk shared by two files stored once; chunks refused when their bytes do not have their hash
 * or are too big; hostile updates refused with nothing changed; bad arguments.
 *
 * Updates are read and crafted here from docs/protocol.md ("Files") alone:
 *
 *   state    = 0x31  vector  count version*      snapshot = 0x32  vector  count version*  open:u8
 *   version  = replica:u64le  counter:varint  time:varint  size:varint  count  hash:32 bytes*
 *   vector   = count  (replica:u64le counter:varint)*
 *
 * No test sleeps: rt_core_sync is the barrier after which a core's writes are on disk (the one
 * wait, in the conflict test, polls the wall clock until it has moved on by 2 ms).
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, clock_gettime under -std=c99 */

#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <realtime.h>

#include "harness.h"
#include "tempdir.h"
#include "doc_support.h"

#define HASH RT_CHUNK_HASH_BYTES
#define MAX_CHUNK (64 * 1024)

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------- */

static rt_doc *open_file(rt_core *core, const char *id)
{
    rt_doc *doc = NULL;
    if (core == NULL)
        return NULL;
    CHECK_EQ_INT(rt_doc_open(core, id, RT_DOC_FILE, &doc), RT_OK);
    CHECK(doc != NULL);
    return doc;
}

/* `n` pseudo-random bytes (xorshift64*, seeded), malloc'd. */
static uint8_t *random_bytes(size_t n, uint64_t seed)
{
    uint8_t *out = malloc(n > 0 ? n : 1);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    size_t i;
    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out[i] = (uint8_t)((x * 0x2545F4914F6CDD1Dull) >> 56);
    }
    return out;
}

static int bytes_are(const rt_bytes *b, const uint8_t *data, size_t len)
{
    return b->len == len && (len == 0 || (b->data != NULL && memcmp(b->data, data, len) == 0));
}

/* Whether version `version` of the file reads back as `len` bytes of `data`. */
static int reads_as(rt_doc *doc, size_t version, const uint8_t *data, size_t len)
{
    rt_bytes got = {NULL, 0};
    rt_status rc = rt_doc_file_read(doc, version, &got);
    int same = rc == RT_OK && bytes_are(&got, data, len);
    if (!same)
        fprintf(stderr, "    version %zu: status %d, %zu bytes; want %zu bytes\n", version, rc, got.len, len);
    rt_bytes_free(&got);
    return same;
}

static size_t versions_of(rt_doc *doc)
{
    size_t n = 999;
    CHECK_EQ_INT(rt_doc_file_versions(doc, &n), RT_OK);
    return n;
}

/* Writes `data` and commits; returns the commit's update (checked non-empty). */
static rt_bytes write_commit(rt_doc *doc, const uint8_t *data, size_t len)
{
    rt_bytes u = {NULL, 0};
    CHECK_EQ_INT(rt_doc_file_write(doc, data, len), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(doc, &u), RT_OK);
    CHECK(u.data != NULL && u.len > 0 && u.data[0] == 0x31);
    return u;
}

/* `to` sends its state vector, `from` answers with a diff, `to` applies it. */
static void send_diff(rt_doc *from, rt_doc *to)
{
    rt_bytes sv = {NULL, 0}, diff = {NULL, 0};
    CHECK_EQ_INT(rt_doc_state_vector(to, &sv), RT_OK);
    CHECK_EQ_INT(rt_doc_diff(from, sv.data, sv.len, &diff), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(to, diff.data, diff.len), RT_OK);
    rt_bytes_free(&sv);
    rt_bytes_free(&diff);
}

/* The hashes the document lacks, as rt_doc_file_missing gives them. */
static rt_bytes missing_of(rt_doc *doc)
{
    rt_bytes m = {NULL, 0};
    CHECK_EQ_INT(rt_doc_file_missing(doc, &m), RT_OK);
    CHECK_EQ_INT(m.len % HASH, 0);
    return m;
}

static size_t missing_count(rt_doc *doc)
{
    rt_bytes m = missing_of(doc);
    size_t n = m.len / HASH;
    rt_bytes_free(&m);
    return n;
}

/* Fetches every chunk `doc` (on core `to`) lacks from core `from`: rt_chunk_get there,
 * rt_chunk_put here. Returns how many chunks; adds their bytes to *bytes (may be NULL). */
static size_t fetch_missing(rt_core *from, rt_core *to, rt_doc *doc, size_t *bytes)
{
    rt_bytes m = missing_of(doc);
    size_t i, n = m.len / HASH;
    for (i = 0; i < n; i++) {
        const uint8_t *h = m.data + i * HASH;
        rt_bytes chunk = {NULL, 0};
        CHECK_EQ_INT(rt_chunk_get(to, h, &chunk), RT_ENOTFOUND);
        CHECK(chunk.data == NULL && chunk.len == 0);
        CHECK_EQ_INT(rt_chunk_get(from, h, &chunk), RT_OK);
        CHECK(chunk.len >= 1 && chunk.len <= MAX_CHUNK);
        CHECK_EQ_INT(rt_chunk_put(to, h, chunk.data, chunk.len), RT_OK);
        if (bytes != NULL)
            *bytes += chunk.len;
        rt_bytes_free(&chunk);
    }
    rt_bytes_free(&m);
    return n;
}

/* Milliseconds since 1970, by the wall clock. */
static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---------------------------------------------------------------------------------------------
 * Reading and crafting file states (docs/protocol.md, "Files")
 * ------------------------------------------------------------------------------------------- */

#define MAX_VECTOR 128
#define MAX_VERSIONS 128

typedef struct fversion {
    uint64_t replica, counter, time, size;
    size_t chunks;
    const uint8_t *hashes; /* chunks × HASH bytes, inside the parsed buffer */
} fversion;

typedef struct fstate {
    int format;
    size_t vector_len;
    uint64_t vector_replica[MAX_VECTOR], vector_counter[MAX_VECTOR];
    size_t count;
    fversion v[MAX_VERSIONS];
    int open; /* snapshots only */
} fstate;

static int read_varint(const uint8_t *b, size_t len, size_t *at, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    while (*at < len && shift < 64) {
        uint8_t byte = b[(*at)++];
        v |= (uint64_t)(byte & 0x7F) << shift;
        if ((byte & 0x80) == 0) {
            *out = v;
            return 1;
        }
        shift += 7;
    }
    return 0;
}

static int read_u64le(const uint8_t *b, size_t len, size_t *at, uint64_t *out)
{
    uint64_t v = 0;
    int i;
    if (len - *at < 8 || *at > len)
        return 0;
    for (i = 0; i < 8; i++)
        v |= (uint64_t)b[*at + (size_t)i] << (8 * i);
    *at += 8;
    *out = v;
    return 1;
}

/* Parses a file state (0x31) or snapshot (0x32) as the protocol documents it; 0 when the bytes
 * are not in that form. */
static int parse_state(const uint8_t *b, size_t len, fstate *s)
{
    size_t at = 1, i;
    uint64_t n;
    memset(s, 0, sizeof *s);
    if (b == NULL || len < 1 || (b[0] != 0x31 && b[0] != 0x32))
        return 0;
    s->format = b[0];
    if (!read_varint(b, len, &at, &n) || n > MAX_VECTOR)
        return 0;
    s->vector_len = (size_t)n;
    for (i = 0; i < s->vector_len; i++)
        if (!read_u64le(b, len, &at, &s->vector_replica[i]) || !read_varint(b, len, &at, &s->vector_counter[i]))
            return 0;
    if (!read_varint(b, len, &at, &n) || n > MAX_VERSIONS)
        return 0;
    s->count = (size_t)n;
    for (i = 0; i < s->count; i++) {
        fversion *v = &s->v[i];
        uint64_t chunks;
        if (!read_u64le(b, len, &at, &v->replica) || !read_varint(b, len, &at, &v->counter) ||
            !read_varint(b, len, &at, &v->time) || !read_varint(b, len, &at, &v->size) ||
            !read_varint(b, len, &at, &chunks) || chunks > (len - at) / HASH)
            return 0;
        v->chunks = (size_t)chunks;
        v->hashes = b + at;
        at += v->chunks * HASH;
    }
    if (s->format == 0x32) {
        if (at >= len || b[at] > 1)
            return 0;
        s->open = b[at++];
    }
    return at == len;
}

/* Index of the version with the greatest (time, replica, counter): the documented current one. */
static size_t newest_version(const fstate *s)
{
    size_t i, best = 0;
    for (i = 1; i < s->count; i++) {
        const fversion *a = &s->v[i], *b = &s->v[best];
        if (a->time > b->time || (a->time == b->time && (a->replica > b->replica ||
                                                         (a->replica == b->replica && a->counter > b->counter))))
            best = i;
    }
    return best;
}

/* A growing byte buffer for crafted updates. */
typedef struct buf {
    uint8_t data[1 << 16];
    size_t len;
} buf;

static void put_u8(buf *b, uint8_t v)
{
    if (b->len < sizeof b->data)
        b->data[b->len++] = v;
}

static void put_varint(buf *b, uint64_t v)
{
    while (v >= 0x80) {
        put_u8(b, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    put_u8(b, (uint8_t)v);
}

static void put_u64le(buf *b, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        put_u8(b, (uint8_t)(v >> (8 * i)));
}

static void put_raw(buf *b, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        put_u8(b, p[i]);
}

/* One version, as the protocol writes it. */
static void put_version(buf *b, uint64_t replica, uint64_t counter, uint64_t time, uint64_t size, size_t chunks,
                        const uint8_t *hashes)
{
    put_u64le(b, replica);
    put_varint(b, counter);
    put_varint(b, time);
    put_varint(b, size);
    put_varint(b, chunks);
    put_raw(b, hashes, chunks * HASH);
}

/* A one-entry vector {replica: counter}. */
static void put_vector1(buf *b, uint64_t replica, uint64_t counter)
{
    put_varint(b, 1);
    put_u64le(b, replica);
    put_varint(b, counter);
}

/* A state of one version (`v`'s chunks, with the given dot, time and size) under the one-entry
 * vector {vreplica: vcounter}, written into `b` from its start. */
static void one_version(buf *b, uint64_t vreplica, uint64_t vcounter, uint64_t replica, uint64_t counter,
                        uint64_t time, uint64_t size, const fversion *v)
{
    b->len = 0;
    put_u8(b, 0x31);
    put_vector1(b, vreplica, vcounter);
    put_varint(b, 1);
    put_version(b, replica, counter, time, size, v->chunks, v->hashes);
}

static int refused(rt_status rc)
{
    return rc == RT_ECORRUPT || rc == RT_EVERSION || rc == RT_ETOOBIG || rc == RT_EINVAL;
}

/* The replica id of the only entry of `doc`'s state vector (0 if it has not exactly one). */
static uint64_t own_replica(rt_doc *doc)
{
    rt_bytes sv = {NULL, 0};
    uint64_t id = 0;
    size_t at = 1;
    CHECK_EQ_INT(rt_doc_state_vector(doc, &sv), RT_OK);
    if (sv.len >= 10 && sv.data[0] == 1)
        read_u64le(sv.data, sv.len, &at, &id);
    rt_bytes_free(&sv);
    return id;
}

/* Counts the rows of rt_chunks in the database at `path` (no core open on it) and sums their
 * sizes; 0 on error. Also checks every hash is HASH bytes. */
static int stored_chunks(const char *path, long long *rows, long long *bytes, long long *bad_hashes)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*), coalesce(sum(length(data)), 0), "
                           "(SELECT count(*) FROM rt_chunks WHERE length(hash) <> 32) FROM rt_chunks",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_step(st) != SQLITE_ROW)
        goto out;
    *rows = sqlite3_column_int64(st, 0);
    *bytes = sqlite3_column_int64(st, 1);
    *bad_hashes = sqlite3_column_int64(st, 2);
    ok = 1;
out:
    if (!ok)
        fprintf(stderr, "    reading %s: %s\n", path, db ? sqlite3_errmsg(db) : "no database");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

/* Whether the `n` hashes at `h` are pairwise distinct. */
static int all_distinct(const uint8_t *h, size_t n)
{
    size_t i, j;
    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (memcmp(h + i * HASH, h + j * HASH, HASH) == 0)
                return 0;
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * 1. Two replicas: the manifest by diff, the chunks by rt_chunk_get / rt_chunk_put
 * ------------------------------------------------------------------------------------------- */

static void test_two_replicas_transfer_chunks(void)
{
    const size_t n = 300 * 1024;
    char *dir = make_tempdir();
    char *pa = dir ? path_join(dir, "a.db") : NULL, *pb = dir ? path_join(dir, "b.db") : NULL;
    rt_core *ca = NULL, *cb = NULL;
    rt_doc *a = NULL, *b = NULL;
    uint8_t *data = random_bytes(n, 1);
    rt_bytes u = {NULL, 0}, whole = {NULL, 0}, sv = {NULL, 0}, diff = {NULL, 0}, m = {NULL, 0}, snap = {NULL, 0};
    rt_bytes got = {NULL, 0};
    fstate st;
    size_t fetched, fetched_bytes = 0, i, sum = 0;
    uint64_t replica = 0;
    static const uint8_t empty_state[] = {0x31, 0x00, 0x00};

    CHECK(pa != NULL && pb != NULL && data != NULL);
    if (pa == NULL || pb == NULL || data == NULL)
        goto out;
    ca = open_core(pa);
    cb = open_core(pb);
    a = open_file(ca, "files:report.bin");
    b = open_file(cb, "files:report.bin");
    if (a == NULL || b == NULL)
        goto out;

    /* Never written: no versions, nothing to read, nothing missing. */
    CHECK_EQ_INT(versions_of(a), 0);
    CHECK_EQ_INT(rt_doc_file_read(a, 0, &got), RT_ENOTFOUND);
    CHECK(got.data == NULL && got.len == 0);
    m = missing_of(a);
    /* Documented: {NULL, 0} when nothing is missing. */
    CHECK(m.data == NULL && m.len == 0);
    rt_bytes_free(&m);

    /* A writes: readable at once, before the commit; the commit's update is the whole state. */
    CHECK_EQ_INT(rt_doc_file_write(a, data, n), RT_OK);
    CHECK_EQ_INT(versions_of(a), 1);
    CHECK(reads_as(a, 0, data, n));
    CHECK_EQ_INT(rt_doc_commit(a, &u), RT_OK);
    CHECK(u.len > 0 && u.data[0] == 0x31);
    CHECK_EQ_INT(rt_doc_diff(a, NULL, 0, &whole), RT_OK);
    CHECK(bytes_equal(&u, &whole));
    CHECK(parse_state(u.data, u.len, &st));
    CHECK_EQ_INT(st.vector_len, 1);
    CHECK_EQ_INT(st.vector_counter[0], 1);
    CHECK_EQ_INT(st.count, 1);
    if (st.count == 1 && st.vector_len == 1) {
        replica = st.v[0].replica;
        CHECK(st.v[0].replica == st.vector_replica[0]);
        CHECK_EQ_INT(st.v[0].counter, 1);
        CHECK_EQ_INT(st.v[0].size, n);
        /* 2 to 64 KiB per chunk (the last may be shorter): many chunks for 300 KB. */
        CHECK(st.v[0].chunks >= n / MAX_CHUNK + 1 && st.v[0].chunks <= n / 2048 + 1);
        CHECK(st.v[0].chunks >= 10);
        /* A hybrid logical clock: wall ms << 16, within a minute of now. */
        CHECK((st.v[0].time >> 16) + 60000 > wall_ms() && (st.v[0].time >> 16) < wall_ms() + 60000);
        CHECK(all_distinct(st.v[0].hashes, st.v[0].chunks));
    }
    /* The state vector: one replica, counter 1. */
    CHECK_EQ_INT(rt_doc_state_vector(a, &sv), RT_OK);
    CHECK_EQ_INT(sv.len, 10);
    CHECK_EQ_INT(own_replica(a), replica);
    if (sv.len == 10)
        CHECK_EQ_INT(sv.data[9], 1);
    /* Nothing more to commit; a replica with this vector lacks nothing: the empty state. */
    CHECK_EQ_INT(rt_doc_commit(a, &got), RT_OK);
    CHECK(got.data == NULL && got.len == 0);
    CHECK_EQ_INT(rt_doc_diff(a, sv.data, sv.len, &diff), RT_OK);
    CHECK(bytes_are(&diff, empty_state, sizeof empty_state));
    rt_bytes_free(&diff);
    rt_bytes_free(&sv);

    /* B applies A's diff: the version is there, its bytes are not. */
    send_diff(a, b);
    CHECK_EQ_INT(versions_of(b), 1);
    CHECK(state_vectors_equal(a, b));
    CHECK(snapshots_equal(a, b));
    CHECK_EQ_INT(rt_doc_file_read(b, 0, &got), RT_ENOTFOUND);
    CHECK(got.data == NULL && got.len == 0);
    m = missing_of(b);
    /* Exactly the version's hashes, in order (random data: no chunk twice). */
    if (st.count == 1)
        CHECK(bytes_are(&m, st.v[0].hashes, st.v[0].chunks * HASH));
    rt_bytes_free(&m);
    m = missing_of(a);
    CHECK_EQ_INT(m.len, 0);
    rt_bytes_free(&m);

    /* Fetch them one by one. */
    fetched = fetch_missing(ca, cb, b, &fetched_bytes);
    CHECK_EQ_INT(fetched, st.count == 1 ? st.v[0].chunks : 0);
    CHECK_EQ_INT(fetched_bytes, n);
    CHECK_EQ_INT(missing_count(b), 0);
    CHECK(reads_as(b, 0, data, n));
    /* Each chunk, from B now, in manifest order, is the file's next piece. */
    for (i = 0; st.count == 1 && i < st.v[0].chunks; i++) {
        rt_bytes chunk = {NULL, 0};
        CHECK_EQ_INT(rt_chunk_get(cb, st.v[0].hashes + i * HASH, &chunk), RT_OK);
        CHECK(sum + chunk.len <= n && memcmp(chunk.data, data + sum, chunk.len) == 0);
        sum += chunk.len;
        rt_bytes_free(&chunk);
    }
    CHECK_EQ_INT(sum, n);

    /* The same update again, and the empty state: nothing changes. */
    snap = snapshot_of(b);
    CHECK_EQ_INT(rt_doc_apply(b, u.data, u.len), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(b, empty_state, sizeof empty_state), RT_OK);
    CHECK(snapshot_is(b, &snap));
    rt_bytes_free(&snap);

    /* B's stored chunks survive a restart of B. */
    CHECK_EQ_INT(rt_doc_close(&b), RT_OK);
    CHECK_EQ_INT(rt_core_sync(cb), RT_OK);
    CHECK_EQ_INT(rt_core_close(&cb), RT_OK);
    cb = open_core(pb);
    b = open_file(cb, "files:report.bin");
    if (b != NULL) {
        CHECK_EQ_INT(versions_of(b), 1);
        CHECK_EQ_INT(missing_count(b), 0);
        CHECK(reads_as(b, 0, data, n));
    }

out:
    rt_bytes_free(&u);
    rt_bytes_free(&whole);
    rt_doc_close(&a);
    rt_doc_close(&b);
    CHECK_EQ_INT(rt_core_close(&ca), RT_OK);
    CHECK_EQ_INT(rt_core_close(&cb), RT_OK);
    free(data);
    free(pa);
    free(pb);
    remove_tempdir(dir);
}

/* ---------------------------------------------------------------------------------------------
 * 2. A small edit of a large file changes only the chunks it touches
 * ------------------------------------------------------------------------------------------- */

static void test_small_edit_few_chunks(void)
{
    const size_t n = 1024 * 1024;
    rt_core *ca = open_core(NULL), *cb = open_core(NULL);
    rt_doc *a = open_file(ca, "big"), *b = open_file(cb, "big");
    uint8_t *data = random_bytes(n + 200, 2), *edited = NULL;
    rt_bytes u = {NULL, 0};
    size_t total, changed, len = n;

    if (a == NULL || b == NULL || data == NULL)
        goto out;
    u = write_commit(a, data, n);
    rt_bytes_free(&u);
    send_diff(a, b);
    total = fetch_missing(ca, cb, b, NULL);
    CHECK(total >= 40); /* about 1 MiB / 8 KiB */
    CHECK(reads_as(b, 0, data, n));
    fprintf(stderr, "    1 MiB: %zu chunks\n", total);

    /* Overwrite 16 bytes in the middle. */
    edited = malloc(n + 200);
    if (edited == NULL)
        goto out;
    memcpy(edited, data, n);
    memset(edited + n / 2, 0xAB, 16);
    u = write_commit(a, edited, len);
    rt_bytes_free(&u);
    send_diff(a, b);
    CHECK_EQ_INT(versions_of(b), 1);
    changed = missing_count(b);
    fprintf(stderr, "    16 bytes overwritten: %zu new chunks\n", changed);
    CHECK(changed >= 1 && changed <= 3);
    CHECK_EQ_INT(fetch_missing(ca, cb, b, NULL), changed);
    CHECK(reads_as(b, 0, edited, len));

    /* Insert 100 bytes at a third: everything after shifts, the cut points follow the content. */
    memmove(edited + n / 3 + 100, edited + n / 3, len - n / 3);
    memcpy(edited + n / 3, data + n, 100);
    len += 100;
    u = write_commit(a, edited, len);
    rt_bytes_free(&u);
    send_diff(a, b);
    changed = missing_count(b);
    fprintf(stderr, "    100 bytes inserted: %zu new chunks\n", changed);
    CHECK(changed >= 1 && changed <= 4);
    CHECK_EQ_INT(fetch_missing(ca, cb, b, NULL), changed);
    CHECK(reads_as(b, 0, edited, len));

    /* Append 10 bytes: only the last chunk (or two) change. */
    memcpy(edited + len, data + n + 100, 10);
    len += 10;
    u = write_commit(a, edited, len);
    rt_bytes_free(&u);
    send_diff(a, b);
    changed = missing_count(b);
    CHECK(changed >= 1 && changed <= 2);
    CHECK_EQ_INT(fetch_missing(ca, cb, b, NULL), changed);
    CHECK(reads_as(b, 0, edited, len));
    CHECK(snapshots_equal(a, b));

    /* Back to the original: every chunk is still here, nothing to fetch. */
    u = write_commit(a, data, n);
    rt_bytes_free(&u);
    send_diff(a, b);
    CHECK_EQ_INT(missing_count(b), 0);
    CHECK(reads_as(b, 0, data, n));

out:
    free(data);
    free(edited);
    rt_doc_close(&a);
    rt_doc_close(&b);
    CHECK_EQ_INT(rt_core_close(&ca), RT_OK);
    CHECK_EQ_INT(rt_core_close(&cb), RT_OK);
}

/* ---------------------------------------------------------------------------------------------
 * 3. Concurrent writes: conflict copies, then a resolution
 * ------------------------------------------------------------------------------------------- */

static void test_concurrent_writes_and_resolve(void)
{
    const size_t nb = 50 * 1024, nx = 40 * 1024, ny = 60 * 1024;
    rt_core *ca = open_core(NULL), *cb = open_core(NULL), *cc = open_core(NULL);
    rt_doc *a = open_file(ca, "shared"), *b = open_file(cb, "shared"), *c = open_file(cc, "shared");
    uint8_t *base = random_bytes(nb, 3), *x = random_bytes(nx, 4), *y = random_bytes(ny, 5);
    rt_bytes ubase = {NULL, 0}, ux = {NULL, 0}, uy = {NULL, 0}, ur = {NULL, 0}, snap = {NULL, 0};
    fstate st;
    uint64_t t0;

    if (a == NULL || b == NULL || c == NULL || base == NULL || x == NULL || y == NULL)
        goto out;
    ubase = write_commit(a, base, nb);
    send_diff(a, b);
    fetch_missing(ca, cb, b, NULL);
    CHECK(reads_as(b, 0, base, nb));

    /* Offline on both sides: A writes x, then (2 ms later by the wall clock) B writes y. */
    ux = write_commit(a, x, nx);
    t0 = wall_ms();
    while (wall_ms() < t0 + 2) {
    }
    uy = write_commit(b, y, ny);
    CHECK_EQ_INT(versions_of(a), 1);
    CHECK_EQ_INT(versions_of(b), 1);

    /* Both ways: each keeps both versions, the later write (y) is the file. */
    send_diff(a, b);
    send_diff(b, a);
    CHECK_EQ_INT(versions_of(a), 2);
    CHECK_EQ_INT(versions_of(b), 2);
    CHECK(fetch_missing(cb, ca, a, NULL) > 0);
    CHECK(fetch_missing(ca, cb, b, NULL) > 0);
    CHECK(snapshots_equal(a, b));
    CHECK(state_vectors_equal(a, b));
    CHECK(reads_as(a, 0, y, ny));
    CHECK(reads_as(b, 0, y, ny));
    CHECK(reads_as(a, 1, x, nx));
    CHECK(reads_as(b, 1, x, nx));
    CHECK_EQ_INT(rt_doc_file_read(a, 2, &snap), RT_ENOTFOUND);
    /* The snapshot agrees: two versions, the newest by (time, replica, counter) is y. */
    snap = snapshot_of(a);
    CHECK(parse_state(snap.data, snap.len, &st));
    CHECK_EQ_INT(st.format, 0x32);
    CHECK_EQ_INT(st.open, 0);
    CHECK_EQ_INT(st.count, 2);
    CHECK_EQ_INT(st.vector_len, 2);
    if (st.count == 2) {
        CHECK_EQ_INT(st.v[newest_version(&st)].size, ny);
        CHECK(st.v[0].replica < st.v[1].replica); /* ascending by (replica, counter) */
    }

    /* A third replica gets the updates themselves, in another order and twice: the same state. */
    CHECK_EQ_INT(rt_doc_apply(c, uy.data, uy.len), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(c, ux.data, ux.len), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(c, ubase.data, ubase.len), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(c, uy.data, uy.len), RT_OK);
    CHECK(snapshot_is(c, &snap));
    rt_bytes_free(&snap);

    /* A resolves by keeping x (version 1): one version on both sides after a sync. */
    CHECK_EQ_INT(rt_doc_file_resolve(a, 1), RT_OK);
    CHECK_EQ_INT(versions_of(a), 1);
    CHECK(reads_as(a, 0, x, nx));
    CHECK_EQ_INT(rt_doc_commit(a, &ur), RT_OK);
    CHECK(ur.len > 0);
    send_diff(a, b);
    CHECK_EQ_INT(versions_of(b), 1);
    CHECK_EQ_INT(missing_count(b), 0); /* x's chunks were already there */
    CHECK(reads_as(b, 0, x, nx));
    CHECK(snapshots_equal(a, b));
    CHECK(state_vectors_equal(a, b));
    /* And on the third replica, by the update alone. */
    CHECK_EQ_INT(rt_doc_apply(c, ur.data, ur.len), RT_OK);
    CHECK_EQ_INT(versions_of(c), 1);
    CHECK(snapshots_equal(a, c));
    /* No version 1 any more. */
    CHECK_EQ_INT(rt_doc_file_resolve(b, 1), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_doc_file_read(b, 1, &snap), RT_ENOTFOUND);
    CHECK(snapshots_equal(a, b));

out:
    rt_bytes_free(&ubase);
    rt_bytes_free(&ux);
    rt_bytes_free(&uy);
    rt_bytes_free(&ur);
    rt_bytes_free(&snap);
    free(base);
    free(x);
    free(y);
    rt_doc_close(&a);
    rt_doc_close(&b);
    rt_doc_close(&c);
    CHECK_EQ_INT(rt_core_close(&ca), RT_OK);
    CHECK_EQ_INT(rt_core_close(&cb), RT_OK);
    CHECK_EQ_INT(rt_core_close(&cc), RT_OK);
}

/* ---------------------------------------------------------------------------------------------
 * 4. Persistence; a chunk held by two files is stored once
 * ------------------------------------------------------------------------------------------- */

static void test_persistence_and_shared_chunks(void)
{
    const size_t n = 200 * 1024, nd = 20 * 1024;
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "files.db") : NULL;
    rt_core *core = NULL;
    rt_doc *f1 = NULL, *f2 = NULL, *f3 = NULL, *f4 = NULL;
    uint8_t *data = random_bytes(n, 6), *other = random_bytes(nd, 7);
    rt_bytes u = {NULL, 0}, snap = {NULL, 0};
    fstate st;
    size_t chunks = 0, other_chunks = 0, count3;
    long long rows = -1, bytes = -1, bad = -1;

    CHECK(path != NULL && data != NULL && other != NULL);
    if (path == NULL || data == NULL || other == NULL)
        goto out;
    core = open_core(path);
    f1 = open_file(core, "files:one");
    f2 = open_file(core, "files:two");
    f3 = open_file(core, "files:three");
    if (f1 == NULL || f2 == NULL || f3 == NULL)
        goto out;
    u = write_commit(f1, data, n);
    if (parse_state(u.data, u.len, &st) && st.count == 1)
        chunks = st.v[0].chunks;
    CHECK(chunks >= 10);
    rt_bytes_free(&u);
    u = write_commit(f2, data, n); /* the same content in another file */
    rt_bytes_free(&u);
    /* A write left uncommitted: its chunks are stored at once anyway. */
    CHECK_EQ_INT(rt_doc_file_write(f3, other, nd), RT_OK);
    snap = snapshot_of(f3);
    if (parse_state(snap.data, snap.len, &st) && st.count == 1) {
        other_chunks = st.v[0].chunks;
        CHECK_EQ_INT(st.open, 1);
    }
    CHECK(other_chunks >= 1);
    rt_bytes_free(&snap);
    CHECK_EQ_INT(rt_doc_close(&f1), RT_OK);
    CHECK_EQ_INT(rt_doc_close(&f2), RT_OK);
    CHECK_EQ_INT(rt_doc_close(&f3), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);

    /* One row per distinct chunk: the two files share theirs. */
    CHECK(stored_chunks(path, &rows, &bytes, &bad));
    CHECK_EQ_INT(rows, (long long)(chunks + other_chunks));
    CHECK_EQ_INT(bytes, (long long)(n + nd));
    CHECK_EQ_INT(bad, 0);

    /* Reopened: both files read back; the uncommitted write was kept. */
    core = open_core(path);
    f1 = open_file(core, "files:one");
    f2 = open_file(core, "files:two");
    f3 = open_file(core, "files:three");
    f4 = open_file(core, "files:four");
    if (f1 == NULL || f2 == NULL || f3 == NULL || f4 == NULL)
        goto out;
    CHECK_EQ_INT(versions_of(f1), 1);
    CHECK(reads_as(f1, 0, data, n));
    CHECK(reads_as(f2, 0, data, n));
    CHECK_EQ_INT(missing_count(f1), 0);
    /* Whether a write left uncommitted at the last close is kept is not specified
     * (docs/c-api.md, "Transactions"); if it is, it reads back whole. */
    count3 = versions_of(f3);
    fprintf(stderr, "    the uncommitted write %s kept\n", count3 == 1 ? "was" : "was not");
    CHECK(count3 <= 1);
    if (count3 == 1)
        CHECK(reads_as(f3, 0, other, nd));
    CHECK_EQ_INT(rt_doc_commit(f3, NULL), RT_OK);
    /* The same content once more, after the restart: still no chunk stored twice. */
    u = write_commit(f4, data, n);
    rt_bytes_free(&u);
    CHECK_EQ_INT(rt_doc_close(&f4), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    rt_doc_close(&f1);
    rt_doc_close(&f2);
    rt_doc_close(&f3);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK(stored_chunks(path, &rows, &bytes, &bad));
    CHECK_EQ_INT(rows, (long long)(chunks + other_chunks));
    CHECK_EQ_INT(bytes, (long long)(n + nd));

    /* And a third time, the files are all there. */
    core = open_core(path);
    f4 = open_file(core, "files:four");
    if (f4 != NULL)
        CHECK(reads_as(f4, 0, data, n));

out:
    rt_bytes_free(&u);
    rt_bytes_free(&snap);
    rt_doc_close(&f1);
    rt_doc_close(&f2);
    rt_doc_close(&f3);
    rt_doc_close(&f4);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    free(data);
    free(other);
    free(path);
    remove_tempdir(dir);
}

/* ---------------------------------------------------------------------------------------------
 * 5. rt_chunk_put checks what it stores
 * ------------------------------------------------------------------------------------------- */

static void test_chunk_put_checks(void)
{
    rt_core *ca = open_core(NULL), *cb = open_core(NULL);
    rt_doc *a = open_file(ca, "small"), *b = open_file(cb, "small");
    const size_t n = 1000;
    uint8_t *data = random_bytes(n, 8), *big = random_bytes(MAX_CHUNK + 1, 9);
    uint8_t *wrong = NULL;
    uint8_t unknown[HASH];
    rt_bytes u = {NULL, 0}, m = {NULL, 0}, got = {NULL, 0};
    uint8_t h[HASH];

    if (a == NULL || b == NULL || data == NULL || big == NULL)
        goto out;
    u = write_commit(a, data, n);
    rt_bytes_free(&u);
    send_diff(a, b);
    m = missing_of(b);
    CHECK_EQ_INT(m.len, HASH); /* 1000 bytes: one chunk */
    if (m.len != HASH)
        goto out;
    memcpy(h, m.data, HASH);
    rt_bytes_free(&m);

    /* Bytes that do not have the hash: refused, nothing stored. */
    wrong = malloc(n + 1);
    if (wrong == NULL)
        goto out;
    memcpy(wrong, data, n);
    wrong[n / 2] ^= 1;
    CHECK_EQ_INT(rt_chunk_put(cb, h, wrong, n), RT_ECORRUPT);
    CHECK(rt_core_errmsg(cb)[0] != '\0');
    CHECK_EQ_INT(rt_chunk_get(cb, h, &got), RT_ENOTFOUND);
    CHECK(got.data == NULL && got.len == 0);
    memcpy(wrong, data, n);
    wrong[n] = 0;
    CHECK_EQ_INT(rt_chunk_put(cb, h, wrong, n + 1), RT_ECORRUPT); /* one byte too many */
    CHECK_EQ_INT(rt_chunk_put(cb, h, data, n - 1), RT_ECORRUPT);  /* one too few */
    CHECK_EQ_INT(rt_chunk_put(cb, h, data, 0), RT_EINVAL);        /* none: a chunk is 1 to 64 KiB */
    CHECK_EQ_INT(rt_chunk_get(cb, h, &got), RT_ENOTFOUND);
    {
        /* Not even under the hash of no bytes (BLAKE2b-256 of ""). */
        static const uint8_t empty_hash[HASH] = {
            0x0e, 0x57, 0x51, 0xc0, 0x26, 0xe5, 0x43, 0xb2, 0xe8, 0xab, 0x2e, 0xb0, 0x60, 0x99, 0xda, 0xa1,
            0xd1, 0xe5, 0xdf, 0x47, 0x77, 0x8f, 0x77, 0x87, 0xfa, 0xab, 0x45, 0xcd, 0xf1, 0x2f, 0xe3, 0xa8};
        CHECK_EQ_INT(rt_chunk_put(cb, empty_hash, NULL, 0), RT_EINVAL);
        CHECK_EQ_INT(rt_chunk_get(cb, empty_hash, &got), RT_ENOTFOUND);
    }
    /* Over 64 KiB: too big, whatever the hash. */
    CHECK_EQ_INT(rt_chunk_put(cb, h, big, MAX_CHUNK + 1), RT_ETOOBIG);
    CHECK_EQ_INT(rt_chunk_get(cb, h, &got), RT_ENOTFOUND);
    CHECK_EQ_INT(missing_count(b), 1);
    CHECK_EQ_INT(rt_doc_file_read(b, 0, &got), RT_ENOTFOUND);

    /* The right bytes: stored, served, and storing them again is fine. */
    CHECK_EQ_INT(rt_chunk_put(cb, h, data, n), RT_OK);
    CHECK_EQ_INT(rt_chunk_put(cb, h, data, n), RT_OK);
    CHECK_EQ_INT(rt_chunk_get(cb, h, &got), RT_OK);
    CHECK(bytes_are(&got, data, n));
    rt_bytes_free(&got);
    CHECK_EQ_INT(missing_count(b), 0);
    CHECK(reads_as(b, 0, data, n));

    /* A hash nobody has. */
    memset(unknown, 0x5A, sizeof unknown);
    CHECK_EQ_INT(rt_chunk_get(ca, unknown, &got), RT_ENOTFOUND);
    CHECK(got.data == NULL && got.len == 0);

out:
    rt_bytes_free(&u);
    rt_bytes_free(&m);
    rt_bytes_free(&got);
    free(data);
    free(big);
    free(wrong);
    rt_doc_close(&a);
    rt_doc_close(&b);
    CHECK_EQ_INT(rt_core_close(&ca), RT_OK);
    CHECK_EQ_INT(rt_core_close(&cb), RT_OK);
}

/* ---------------------------------------------------------------------------------------------
 * 6. Hostile updates
 * ------------------------------------------------------------------------------------------- */

/* Applies `b` to `doc` and expects a refusal with the snapshot unchanged; returns the status. */
static rt_status expect_refused(rt_doc *doc, const buf *b, const char *what)
{
    rt_bytes before = snapshot_of(doc);
    rt_status rc = rt_doc_apply(doc, b->data, b->len);
    if (!refused(rc))
        fprintf(stderr, "    %s: accepted (status %d)\n", what, rc);
    CHECK(refused(rc));
    CHECK(snapshot_is(doc, &before));
    rt_bytes_free(&before);
    return rc;
}

static void test_hostile_updates(void)
{
    const size_t n = 100 * 1024;
    rt_core *core = open_core(NULL);
    rt_doc *src = open_file(core, "src"), *dst = open_file(core, "dst"), *own = open_file(core, "own");
    rt_doc *control = open_file(core, "control"), *text = NULL, *tasks = NULL;
    uint8_t *data = random_bytes(n, 10);
    rt_bytes u = {NULL, 0}, uo = {NULL, 0}, before = {NULL, 0}, tu = {NULL, 0}, ku = {NULL, 0}, snap = {NULL, 0};
    static buf b;       /* 64 KiB: not on the stack */
    static fstate st, ost;
    const fversion *v;
    uint64_t lo = 0x1111111111111111ull, hi = 0x7777777777777777ull, now, me;
    uint32_t seed = 4242;
    size_t k, i;
    int accepted = 0;
    rt_status rc;

    if (src == NULL || dst == NULL || own == NULL || control == NULL || data == NULL)
        goto out;
    u = write_commit(src, data, n);
    if (!parse_state(u.data, u.len, &st) || st.count != 1) {
        CHECK(0);
        goto out;
    }
    v = &st.v[0];
    before = snapshot_of(dst);

    /* Every truncation, and one trailing byte: refused, nothing changed. */
    for (k = 1; k < u.len; k++) {
        rc = rt_doc_apply(dst, u.data, k);
        if (!refused(rc)) {
            fprintf(stderr, "    prefix of %zu bytes accepted (status %d)\n", k, rc);
            accepted++;
        }
    }
    CHECK_EQ_INT(accepted, 0);
    CHECK_EQ_INT(rt_doc_apply(dst, u.data, 0), RT_EINVAL);
    b.len = 0;
    put_raw(&b, u.data, u.len);
    put_u8(&b, 0);
    CHECK_EQ_INT(expect_refused(dst, &b, "trailing byte"), RT_ECORRUPT);
    CHECK(snapshot_is(dst, &before));

    /* Other kinds' bytes and unknown formats: RT_EVERSION. A snapshot is not an update. */
    CHECK_EQ_INT(rt_doc_open(core, "a text", RT_DOC_TEXT, &text), RT_OK);
    CHECK_EQ_INT(rt_doc_open(core, "a list", RT_DOC_TASKS, &tasks), RT_OK);
    if (text == NULL || tasks == NULL)
        goto out;
    CHECK_EQ_INT(rt_doc_text_insert(text, 0, "not a file", 10, 0), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(text, &tu), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(dst, tu.data, tu.len), RT_EVERSION);
    CHECK_EQ_INT(rt_doc_task_set(tasks, "t1", RT_TASK_TITLE, (const uint8_t *)"x", 1), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(tasks, &ku), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(dst, ku.data, ku.len), RT_EVERSION);
    /* ...and the other way round: a file's update is no text's and no task list's. */
    CHECK_EQ_INT(rt_doc_apply(text, u.data, u.len), RT_EVERSION);
    CHECK_EQ_INT(rt_doc_apply(tasks, u.data, u.len), RT_EVERSION);
    b.len = 0;
    put_raw(&b, u.data, u.len);
    b.data[0] = 0x00;
    CHECK_EQ_INT(expect_refused(dst, &b, "format 0x00"), RT_EVERSION);
    b.data[0] = 0x7F;
    CHECK_EQ_INT(expect_refused(dst, &b, "format 0x7f"), RT_EVERSION);
    b.data[0] = 0xFF;
    CHECK_EQ_INT(expect_refused(dst, &b, "format 0xff"), RT_EVERSION);
    snap = snapshot_of(src);
    b.len = 0;
    put_raw(&b, snap.data, snap.len);
    CHECK_EQ_INT(expect_refused(dst, &b, "a snapshot as an update"), RT_ECORRUPT);
    rt_bytes_free(&snap);

    /* Crafted states. First a valid one (checks the crafting): versions of two replicas. */
    b.len = 0;
    put_u8(&b, 0x31);
    put_varint(&b, 2);
    put_u64le(&b, lo);
    put_varint(&b, 1);
    put_u64le(&b, hi);
    put_varint(&b, 3);
    put_varint(&b, 2);
    put_version(&b, lo, 1, v->time, v->size, v->chunks, v->hashes);
    put_version(&b, hi, 3, v->time + 1, v->size, v->chunks, v->hashes);
    CHECK_EQ_INT(rt_doc_apply(control, b.data, b.len), RT_OK);
    CHECK_EQ_INT(versions_of(control), 2);
    CHECK(reads_as(control, 0, data, n)); /* src's chunks are in this core */

    /* The same two versions out of order, and one version twice. */
    b.len = 0;
    put_u8(&b, 0x31);
    put_varint(&b, 2);
    put_u64le(&b, lo);
    put_varint(&b, 1);
    put_u64le(&b, hi);
    put_varint(&b, 3);
    put_varint(&b, 2);
    put_version(&b, hi, 3, v->time + 1, v->size, v->chunks, v->hashes);
    put_version(&b, lo, 1, v->time, v->size, v->chunks, v->hashes);
    CHECK_EQ_INT(expect_refused(dst, &b, "versions out of order"), RT_ECORRUPT);
    b.len = 0;
    put_u8(&b, 0x31);
    put_vector1(&b, lo, 1);
    put_varint(&b, 2);
    put_version(&b, lo, 1, v->time, v->size, v->chunks, v->hashes);
    put_version(&b, lo, 1, v->time, v->size, v->chunks, v->hashes);
    CHECK_EQ_INT(expect_refused(dst, &b, "a version twice"), RT_ECORRUPT);
    /* The vector out of order, or with a zero counter. */
    b.len = 0;
    put_u8(&b, 0x31);
    put_varint(&b, 2);
    put_u64le(&b, hi);
    put_varint(&b, 3);
    put_u64le(&b, lo);
    put_varint(&b, 1);
    put_varint(&b, 0);
    CHECK_EQ_INT(expect_refused(dst, &b, "vector out of order"), RT_ECORRUPT);
    b.len = 0;
    put_u8(&b, 0x31);
    put_vector1(&b, lo, 0);
    put_varint(&b, 0);
    CHECK_EQ_INT(expect_refused(dst, &b, "vector counter 0"), RT_ECORRUPT);
    /* A version its vector has not seen; a version with counter 0. */
    one_version(&b, lo, 1, lo, 2, v->time, v->size, v);
    CHECK_EQ_INT(expect_refused(dst, &b, "a version not in the vector"), RT_ECORRUPT);
    one_version(&b, hi, 1, lo, 1, v->time, v->size, v);
    CHECK_EQ_INT(expect_refused(dst, &b, "a version of a replica not in the vector"), RT_ECORRUPT);
    one_version(&b, lo, 1, lo, 0, v->time, v->size, v);
    CHECK_EQ_INT(expect_refused(dst, &b, "a version with counter 0"), RT_ECORRUPT);
    /* Sizes the chunks cannot hold: fewer bytes than chunks, more than 64 KiB per chunk. */
    one_version(&b, lo, 1, lo, 1, v->time, v->chunks - 1, v);
    CHECK_EQ_INT(expect_refused(dst, &b, "size below the chunk count"), RT_ECORRUPT);
    one_version(&b, lo, 1, lo, 1, v->time, (uint64_t)v->chunks * MAX_CHUNK + 1, v);
    CHECK_EQ_INT(expect_refused(dst, &b, "size over 64 KiB per chunk"), RT_ECORRUPT);
    b.len = 0;
    put_u8(&b, 0x31);
    put_vector1(&b, lo, 1);
    put_varint(&b, 1);
    put_version(&b, lo, 1, v->time, 5, 0, v->hashes);
    CHECK_EQ_INT(expect_refused(dst, &b, "bytes without chunks"), RT_ECORRUPT);
    /* A chunk count past the bytes there are. */
    one_version(&b, lo, 1, lo, 1, v->time, v->size, v);
    b.len -= HASH / 2;
    CHECK_EQ_INT(expect_refused(dst, &b, "a hash cut short"), RT_ECORRUPT);
    /* A timestamp two days ahead (a day is allowed). */
    now = wall_ms();
    one_version(&b, lo, 1, lo, 1, (now + 2 * 86400000ull) << 16, v->size, v);
    CHECK_EQ_INT(expect_refused(dst, &b, "a timestamp two days ahead"), RT_ECORRUPT);
    one_version(&b, lo, 9, lo, 9, (now + 3600000ull) << 16, v->size, v);
    CHECK_EQ_INT(rt_doc_apply(control, b.data, b.len), RT_OK); /* an hour ahead is fine */
    /* 65 versions at once (64 live versions at most). */
    b.len = 0;
    put_u8(&b, 0x31);
    put_varint(&b, 65);
    for (i = 1; i <= 65; i++) {
        put_u64le(&b, 0x100 + i);
        put_varint(&b, 1);
    }
    put_varint(&b, 65);
    for (i = 1; i <= 65; i++)
        put_version(&b, 0x100 + i, 1, v->time, 1, 1, v->hashes);
    rc = expect_refused(dst, &b, "65 versions");
    CHECK(rc == RT_ECORRUPT || rc == RT_ETOOBIG);
    /* 64 pass; one more concurrent version is refused after the merge. */
    b.len = 0;
    put_u8(&b, 0x31);
    put_varint(&b, 64);
    for (i = 1; i <= 64; i++) {
        put_u64le(&b, 0x100 + i);
        put_varint(&b, 1);
    }
    put_varint(&b, 64);
    for (i = 1; i <= 64; i++)
        put_version(&b, 0x100 + i, 1, v->time, 1, 1, v->hashes);
    CHECK_EQ_INT(rt_doc_apply(own, b.data, b.len), RT_OK);
    CHECK_EQ_INT(versions_of(own), 64);
    b.len = 0;
    put_u8(&b, 0x31);
    put_vector1(&b, 0x100 + 65, 1);
    put_varint(&b, 1);
    put_version(&b, 0x100 + 65, 1, v->time, 1, 1, v->hashes);
    rc = expect_refused(own, &b, "a 65th concurrent version");
    CHECK(rc == RT_ECORRUPT || rc == RT_ETOOBIG);
    CHECK_EQ_INT(versions_of(own), 64);

    /* Claiming the receiving replica's own future writes. */
    uo = write_commit(own, data, 10); /* supersedes the 64 */
    CHECK_EQ_INT(versions_of(own), 1);
    /* own's id: the replica of the version it just wrote. */
    me = 0;
    if (parse_state(uo.data, uo.len, &ost) && ost.count == 1)
        me = ost.v[0].replica;
    CHECK(me != 0);
    one_version(&b, me, 2, me, 2, v->time, v->size, v);
    CHECK_EQ_INT(expect_refused(own, &b, "own write 2 (made 1)"), RT_ECORRUPT);
    b.len = 0;
    put_u8(&b, 0x31);
    put_vector1(&b, me, 5);
    put_varint(&b, 0);
    CHECK_EQ_INT(expect_refused(own, &b, "own counter 5 without versions"), RT_ECORRUPT);
    CHECK(reads_as(own, 0, data, 10));

    /* Random bytes, half of them behind the right format byte. */
    for (i = 0; i < 2000; i++) {
        size_t len, j;
        seed = seed * 1103515245u + 12345u;
        len = 1 + (seed >> 16) % 96;
        b.len = 0;
        for (j = 0; j < len; j++) {
            seed = seed * 1103515245u + 12345u;
            put_u8(&b, (uint8_t)(seed >> 16));
        }
        if (i % 2 == 0)
            b.data[0] = 0x31;
        rc = rt_doc_apply(dst, b.data, b.len);
        accepted += !refused(rc);
    }
    CHECK_EQ_INT(accepted, 0);
    CHECK(snapshot_is(dst, &before));
    CHECK_EQ_INT(versions_of(dst), 0);

    /* Still healthy: the real update applies, and dst is src. */
    CHECK_EQ_INT(rt_doc_apply(dst, u.data, u.len), RT_OK);
    CHECK(snapshots_equal(dst, src));
    CHECK(reads_as(dst, 0, data, n));

out:
    rt_bytes_free(&u);
    rt_bytes_free(&uo);
    rt_bytes_free(&before);
    rt_bytes_free(&tu);
    rt_bytes_free(&ku);
    rt_bytes_free(&snap);
    free(data);
    rt_doc_close(&src);
    rt_doc_close(&dst);
    rt_doc_close(&own);
    rt_doc_close(&control);
    rt_doc_close(&text);
    rt_doc_close(&tasks);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

/* ---------------------------------------------------------------------------------------------
 * 7. Bad arguments
 * ------------------------------------------------------------------------------------------- */

static void test_bad_arguments(void)
{
    rt_core *core = open_core(NULL);
    rt_doc *doc = open_file(core, "args"), *text = NULL, *t = NULL;
    static const uint8_t some[4] = {1, 2, 3, 4};
    uint8_t *fresh = NULL;
    uint8_t h[HASH];
    rt_bytes out = {NULL, 0}, m = {NULL, 0};
    size_t count = 7;

    if (doc == NULL)
        goto out;
    memset(h, 0x11, sizeof h);

    /* A file never written. */
    CHECK_EQ_INT(rt_doc_file_read(doc, 0, &out), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_doc_file_resolve(doc, 0), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_doc_file_versions(doc, &count), RT_OK);
    CHECK_EQ_INT(count, 0);

    /* NULL handles and out-parameters. */
    CHECK_EQ_INT(rt_doc_file_write(NULL, some, sizeof some), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_file_read(NULL, 0, &out), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_file_read(doc, 0, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_file_versions(NULL, &count), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_file_versions(doc, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_file_resolve(NULL, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_file_missing(NULL, &out), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_file_missing(doc, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_chunk_get(NULL, h, &out), RT_EINVAL);
    CHECK_EQ_INT(rt_chunk_get(core, NULL, &out), RT_EINVAL);
    CHECK_EQ_INT(rt_chunk_get(core, h, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_chunk_put(NULL, h, some, sizeof some), RT_EINVAL);
    CHECK_EQ_INT(rt_chunk_put(core, NULL, some, sizeof some), RT_EINVAL);
    /* NULL data with a length. */
    CHECK_EQ_INT(rt_doc_file_write(doc, NULL, 5), RT_EINVAL);
    CHECK(rt_core_errmsg(core)[0] != '\0');
    CHECK_EQ_INT(rt_chunk_put(core, h, NULL, 5), RT_EINVAL);
    CHECK(out.data == NULL && out.len == 0);
    CHECK_EQ_INT(versions_of(doc), 0);
    /* A size no buffer has. */
    CHECK(refused(rt_doc_file_write(doc, some, SIZE_MAX)));
    CHECK(refused(rt_chunk_put(core, h, some, SIZE_MAX)));
    CHECK_EQ_INT(versions_of(doc), 0);

    /* An empty file: one version of no bytes, no chunks. */
    CHECK_EQ_INT(rt_doc_file_write(doc, NULL, 0), RT_OK);
    CHECK_EQ_INT(versions_of(doc), 1);
    out.len = 99;
    CHECK_EQ_INT(rt_doc_file_read(doc, 0, &out), RT_OK);
    CHECK_EQ_INT(out.len, 0);
    rt_bytes_free(&out);
    m = missing_of(doc);
    CHECK_EQ_INT(m.len, 0);
    rt_bytes_free(&m);
    CHECK_EQ_INT(rt_doc_commit(doc, &out), RT_OK);
    CHECK(out.len > 0 && out.data[0] == 0x31);
    rt_bytes_free(&out);
    CHECK_EQ_INT(rt_doc_file_write(doc, some, 0), RT_OK); /* data with 0 bytes: also empty */
    CHECK(reads_as(doc, 0, some, 0));
    CHECK_EQ_INT(rt_doc_commit(doc, NULL), RT_OK);

    /* Versions that do not exist. */
    CHECK_EQ_INT(rt_doc_file_write(doc, some, sizeof some), RT_OK);
    CHECK(reads_as(doc, 0, some, sizeof some));
    CHECK_EQ_INT(rt_doc_file_read(doc, 1, &out), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_doc_file_read(doc, SIZE_MAX, &out), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_doc_file_resolve(doc, 1), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_doc_file_resolve(doc, SIZE_MAX), RT_ENOTFOUND);
    CHECK(out.data == NULL && out.len == 0);
    /* Keeping the only version is a write of it (nothing more to store). */
    CHECK_EQ_INT(rt_doc_file_resolve(doc, 0), RT_OK);
    CHECK_EQ_INT(versions_of(doc), 1);
    CHECK(reads_as(doc, 0, some, sizeof some));
    CHECK_EQ_INT(rt_doc_commit(doc, NULL), RT_OK);

    /* File calls on a text document; text calls on a file; a file id opened as another kind. */
    CHECK_EQ_INT(rt_doc_open(core, "words", RT_DOC_TEXT, &text), RT_OK);
    if (text == NULL)
        goto out;
    CHECK_EQ_INT(rt_doc_file_write(text, some, sizeof some), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_file_write(text, NULL, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_file_read(text, 0, &out), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_file_versions(text, &count), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_file_resolve(text, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_file_missing(text, &out), RT_EINVAL);
    CHECK(out.data == NULL && out.len == 0);
    CHECK_EQ_INT(rt_doc_text_insert(doc, 0, "x", 1, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_task_set(doc, "t", RT_TASK_TITLE, some, 1), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_text_get(doc, &out), RT_EINVAL);
    CHECK(reads_as(doc, 0, some, sizeof some));
    CHECK_EQ_INT(rt_doc_open(core, "words", RT_DOC_FILE, &t), RT_EINVAL);
    CHECK(t == NULL);
    CHECK_EQ_INT(rt_doc_open(core, "args", RT_DOC_TEXT, &t), RT_EINVAL);
    CHECK(t == NULL);
    CHECK_EQ_INT(rt_doc_open(core, "kind four", 4, &t), RT_EINVAL);
    CHECK(t == NULL);
    /* A state vector that does not decode. */
    CHECK_EQ_INT(rt_doc_diff(doc, some, sizeof some, &out), RT_ECORRUPT);
    CHECK(out.data == NULL && out.len == 0);
    CHECK_EQ_INT(rt_doc_apply(doc, NULL, 4), RT_EINVAL);

    /* A stopped core stores and serves no chunks: a write of new content is refused with
     * nothing changed. */
    fresh = random_bytes(5000, 11);
    CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    if (fresh != NULL)
        CHECK_EQ_INT(rt_doc_file_write(doc, fresh, 5000), RT_ESTATE);
    CHECK_EQ_INT(versions_of(doc), 1);
    CHECK(reads_as(doc, 0, some, sizeof some));
    CHECK_EQ_INT(rt_chunk_put(core, h, some, sizeof some), RT_ESTATE);
    CHECK_EQ_INT(rt_chunk_get(core, h, &out), RT_ESTATE);
    CHECK(out.data == NULL && out.len == 0);
    free(fresh);

out:
    rt_bytes_free(&out);
    rt_doc_close(&doc);
    rt_doc_close(&text);
    rt_doc_close(&t);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

/* ---------------------------------------------------------------------------------------------
 * 8. Collection deletes the chunks no version references, and only those
 * ------------------------------------------------------------------------------------------- */

static void test_collect_unreferenced_chunks(void)
{
    const size_t n = 40 * 1024;
    rt_core *core = open_core(NULL);
    rt_doc *doc = open_file(core, "collected");
    uint8_t *first = random_bytes(n, 21), *second = random_bytes(n, 22);
    rt_bytes u = {NULL, 0};
    uint64_t removed = 99;

    if (doc == NULL || first == NULL || second == NULL)
        goto out;
    u = write_commit(doc, first, n);
    rt_bytes_free(&u);
    u = write_commit(doc, second, n);
    rt_bytes_free(&u);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    /* Recent chunks are spared; with no age limit the first version's chunks go. */
    CHECK_EQ_INT(rt_chunk_collect(core, 3600000, &removed), RT_OK);
    CHECK_EQ_INT(removed, 0);
    CHECK_EQ_INT(rt_chunk_collect(core, 0, &removed), RT_OK);
    CHECK(removed >= 1);
    CHECK(reads_as(doc, 0, second, n));
    CHECK_EQ_INT(rt_chunk_collect(core, 0, NULL), RT_OK);
    CHECK_EQ_INT(rt_chunk_collect(core, 0, &removed), RT_OK);
    CHECK_EQ_INT(removed, 0);
    CHECK_EQ_INT(rt_chunk_collect(NULL, 0, &removed), RT_EINVAL);
out:
    free(first);
    free(second);
    rt_doc_close(&doc);
    rt_core_close(&core);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(test_two_replicas_transfer_chunks);
    RUN(test_small_edit_few_chunks);
    RUN(test_concurrent_writes_and_resolve);
    RUN(test_persistence_and_shared_chunks);
    RUN(test_chunk_put_checks);
    RUN(test_hostile_updates);
    RUN(test_bad_arguments);
    RUN(test_collect_unreferenced_chunks);
    return harness_summary();
}
