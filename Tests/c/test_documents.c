/*
 * test_documents.c — replicated documents (the text CRDT) through the C ABI: two replicas on
 * their own database files edited apart and brought together by state vector and diff; batches
 * of edits with per-edit commits replayed in order, in reverse and twice; persistence across a
 * reopen, across compactions and after a crash; change callbacks; hostile updates and state
 * vectors refused with nothing changed; bad arguments; several handles on one document, from
 * several threads.
 *
 * No test sleeps: rt_core_sync is the barrier after which a document's writes are on disk.
 * The persistence tests also read the database file with SQLite (after the core is closed, or
 * after the process that wrote it died) to prove that they exercised a snapshot and a log tail.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, fork, alarm, pthreads under -std=c99 */

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <realtime.h>

#include "harness.h"
#include "tempdir.h"
#include "doc_support.h"

/* A string literal and its length in bytes, for rt_text_edit initialisers. */
#define S(lit) lit, sizeof(lit) - 1

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------- */

static rt_doc *open_doc(rt_core *core, const char *id)
{
    rt_doc *doc = NULL;
    if (core == NULL)
        return NULL;
    CHECK_EQ_INT(rt_doc_open(core, id, RT_DOC_TEXT, &doc), RT_OK);
    CHECK(doc != NULL);
    return doc;
}

static rt_status ins(rt_doc *doc, uint64_t pos, const char *text, unsigned flags)
{
    return rt_doc_text_insert(doc, pos, text, strlen(text), flags);
}

/* The text as a malloc'd C string (never NULL unless out of memory). */
static char *text_of(rt_doc *doc)
{
    rt_bytes b = {NULL, 0};
    char *s;
    CHECK_EQ_INT(rt_doc_text_get(doc, &b), RT_OK);
    /* Documented: NUL-terminated beyond len. */
    CHECK(b.data != NULL && b.data[b.len] == '\0');
    s = malloc(b.len + 1);
    if (s != NULL) {
        if (b.len > 0)
            memcpy(s, b.data, b.len);
        s[b.len] = '\0';
    }
    rt_bytes_free(&b);
    CHECK(b.data == NULL && b.len == 0);
    return s;
}

static int text_is(rt_doc *doc, const char *want)
{
    char *got = text_of(doc);
    int ok = got != NULL && strcmp(got, want) == 0;
    if (!ok)
        fprintf(stderr, "    text is \"%s\", want \"%s\"\n", got ? got : "(null)", want);
    free(got);
    return ok;
}

static int lengths_are(rt_doc *doc, uint64_t scalars, uint64_t utf16)
{
    uint64_t n = 99, u = 99;
    rt_status rc = rt_doc_text_length(doc, &n, &u);
    if (rc != RT_OK || n != scalars || u != utf16) {
        fprintf(stderr, "    lengths %llu scalars, %llu UTF-16 (status %d); want %llu, %llu\n",
                (unsigned long long)n, (unsigned long long)u, rc, (unsigned long long)scalars,
                (unsigned long long)utf16);
        return 0;
    }
    return 1;
}

/* Commits and checks that there was something to commit. */
static void commit_ok(rt_doc *doc)
{
    rt_bytes u = {NULL, 0};
    CHECK_EQ_INT(rt_doc_commit(doc, &u), RT_OK);
    CHECK(u.data != NULL && u.len > 0);
    rt_bytes_free(&u);
}

/* One round trip: both sides send their state vectors, both answer with a diff. */
static void sync_docs(rt_doc *a, rt_doc *b)
{
    rt_bytes sva = {NULL, 0}, svb = {NULL, 0}, for_a = {NULL, 0}, for_b = {NULL, 0};
    CHECK_EQ_INT(rt_doc_state_vector(a, &sva), RT_OK);
    CHECK_EQ_INT(rt_doc_state_vector(b, &svb), RT_OK);
    CHECK_EQ_INT(rt_doc_diff(b, sva.data, sva.len, &for_a), RT_OK);
    CHECK_EQ_INT(rt_doc_diff(a, svb.data, svb.len, &for_b), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(a, for_a.data, for_a.len), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(b, for_b.data, for_b.len), RT_OK);
    rt_bytes_free(&sva);
    rt_bytes_free(&svb);
    rt_bytes_free(&for_a);
    rt_bytes_free(&for_b);
}

/* Byte offset of Unicode scalar `n` of UTF-8 `s` (clamped to its end). */
static size_t utf8_offset(const char *s, size_t n)
{
    size_t i = 0;
    while (s[i] != '\0' && n > 0) {
        i++;
        while (((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        n--;
    }
    return i;
}

static size_t utf8_scalars(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static size_t utf16_units(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c & 0xC0) != 0x80)
            n += c >= 0xF0 ? 2 : 1;
    }
    return n;
}

/* malloc'd: the first `at` scalars of base, then mid, then the rest of base, then tail. */
static char *splice(const char *base, size_t at, const char *mid, const char *tail)
{
    size_t cut = utf8_offset(base, at);
    size_t n = strlen(base) + strlen(mid) + strlen(tail) + 1;
    char *s = malloc(n);
    if (s != NULL)
        snprintf(s, n, "%.*s%s%s%s", (int)cut, base, mid, base + cut, tail);
    return s;
}

/* A text kept beside a document: the same edits, done in C. */
#define MODEL_CAP 16384
typedef struct model {
    char text[MODEL_CAP];
} model;

static void model_insert(model *m, size_t pos, const char *s)
{
    size_t at = utf8_offset(m->text, pos), len = strlen(m->text), n = strlen(s);
    if (len + n + 1 > MODEL_CAP)
        return;
    memmove(m->text + at + n, m->text + at, len - at + 1);
    memcpy(m->text + at, s, n);
}

static void model_delete(model *m, size_t pos, size_t count)
{
    size_t from = utf8_offset(m->text, pos);
    size_t to = from + utf8_offset(m->text + from, count);
    memmove(m->text + from, m->text + to, strlen(m->text + to) + 1);
}

/* Updates copied out of callbacks. */
#define MAX_UPDATES 512
typedef struct update_list {
    int count;
    uint8_t *data[MAX_UPDATES];
    size_t len[MAX_UPDATES];
} update_list;

static void update_list_add(update_list *l, const uint8_t *u, size_t len)
{
    if (l->count < MAX_UPDATES) {
        l->data[l->count] = malloc(len > 0 ? len : 1);
        if (l->data[l->count] != NULL && len > 0)
            memcpy(l->data[l->count], u, len);
        l->len[l->count] = len;
    }
    l->count++;
}

static void update_list_free(update_list *l)
{
    int i;
    for (i = 0; i < l->count && i < MAX_UPDATES; i++)
        free(l->data[i]);
    l->count = 0;
}

static void on_update(void *user_data, const uint8_t *update, size_t len)
{
    update_list_add(user_data, update, len);
}

/* Change callbacks, recorded (they may come from any thread). */
typedef struct changes {
    pthread_mutex_t mu;
    int count;
    int locals;
    int bad_id;
    update_list updates;
    int local[MAX_UPDATES];
    /* When set, the callback reads this document's length (the lock must be free) into seen. */
    rt_doc *peek;
    uint64_t seen;
} changes;

static void changes_init(changes *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
}

static void changes_free(changes *c)
{
    update_list_free(&c->updates);
    pthread_mutex_destroy(&c->mu);
}

static int changes_count(changes *c)
{
    int n;
    pthread_mutex_lock(&c->mu);
    n = c->count;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static const char *expected_id = "watched";

static void on_change(void *user_data, const char *id, const uint8_t *update, size_t len, int local)
{
    changes *c = user_data;
    uint64_t n = 0;
    if (c->peek != NULL)
        rt_doc_text_length(c->peek, &n, NULL);
    pthread_mutex_lock(&c->mu);
    if (id == NULL || strcmp(id, expected_id) != 0)
        c->bad_id++;
    if (c->count < MAX_UPDATES)
        c->local[c->count] = local;
    c->locals += local != 0;
    c->seen = n;
    update_list_add(&c->updates, update, len);
    c->count++;
    pthread_mutex_unlock(&c->mu);
}

static int refused(rt_status rc) { return rc == RT_ECORRUPT || rc == RT_EVERSION || rc == RT_EINVAL; }

/* Reads a document's row of the database at `path` (with no core open on it): whether it has a
 * snapshot, its snapshot and last seqs, and the rows of its log. 0 on error. */
static int stored_layout(const char *path, const char *id, int *has_snapshot, long long *snapshot_seq,
                         long long *last_seq, long long *log_rows)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_prepare_v2(db,
                           "SELECT snapshot IS NOT NULL, snapshot_seq, last_seq, "
                           "(SELECT count(*) FROM rt_doc_updates WHERE doc = ?1) FROM rt_docs WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        goto out;
    *has_snapshot = sqlite3_column_int(st, 0);
    *snapshot_seq = sqlite3_column_int64(st, 1);
    *last_seq = sqlite3_column_int64(st, 2);
    *log_rows = sqlite3_column_int64(st, 3);
    ok = 1;
out:
    if (!ok)
        fprintf(stderr, "    reading %s: %s\n", path, db ? sqlite3_errmsg(db) : "no database");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

/* ---------------------------------------------------------------------------------------------
 * 1. Two replicas on their own files
 * ------------------------------------------------------------------------------------------- */

static void test_two_replicas_sync(void)
{
    char *dir = make_tempdir();
    char *pa = dir ? path_join(dir, "a.db") : NULL;
    char *pb = dir ? path_join(dir, "b.db") : NULL;
    rt_core *ca = NULL, *cb = NULL;
    rt_doc *a = NULL, *b = NULL;
    char *ta = NULL, *tb = NULL, *base = NULL, *w[4] = {NULL, NULL, NULL, NULL}, *got = NULL;
    rt_bytes snap = {NULL, 0}, full = {NULL, 0};
    int i, matches = 0;

    CHECK(pa != NULL && pb != NULL);
    if (pa == NULL || pb == NULL)
        goto out;
    ca = open_core(pa);
    cb = open_core(pb);
    a = open_doc(ca, "notes");
    b = open_doc(cb, "notes");
    if (a == NULL || b == NULL)
        goto out;
    CHECK(text_is(a, ""));
    CHECK(lengths_are(a, 0, 0));

    /* Replica A: positions in Unicode scalars over multibyte UTF-8. */
    CHECK_EQ_INT(ins(a, 0, "Hello, wörld", 0), RT_OK);
    CHECK_EQ_INT(ins(a, 12, " — 日本語", 0), RT_OK);
    CHECK_EQ_INT(rt_doc_text_delete(a, 0, 7, 0), RT_OK);
    CHECK_EQ_INT(ins(a, 5, "!", 0), RT_OK);
    CHECK(text_is(a, "wörld! — 日本語"));
    CHECK(lengths_are(a, 12, 12));
    commit_ok(a);

    /* Replica B: UTF-16 positions around emoji (surrogate pairs). */
    CHECK_EQ_INT(ins(b, 0, "a😀b", RT_DOC_UTF16), RT_OK);
    CHECK(lengths_are(b, 3, 4));
    CHECK_EQ_INT(ins(b, 3, "X", RT_DOC_UTF16), RT_OK); /* after the pair */
    CHECK(text_is(b, "a😀Xb"));
    CHECK_EQ_INT(rt_doc_text_delete(b, 2, 1, RT_DOC_UTF16), RT_OK); /* half of the pair: all of it */
    CHECK(text_is(b, "aXb"));
    CHECK_EQ_INT(ins(b, 1, "🎉", RT_DOC_UTF16), RT_OK);
    CHECK_EQ_INT(ins(b, 3, "é", RT_DOC_UTF16), RT_OK);
    CHECK_EQ_INT(ins(b, 2, "<", RT_DOC_UTF16), RT_OK); /* inside the pair: before it */
    CHECK(text_is(b, "a<🎉éXb"));
    CHECK_EQ_INT(ins(b, 3, "s", 0), RT_OK); /* scalar 3: right after the emoji */
    CHECK(text_is(b, "a<🎉séXb"));
    CHECK(lengths_are(b, 7, 8));
    commit_ok(b);

    /* Both ways in one round trip: the same text, the same bytes, each replica's run whole. */
    ta = text_of(a);
    tb = text_of(b);
    sync_docs(a, b);
    base = text_of(a);
    CHECK(base != NULL && text_is(b, base));
    w[0] = splice(ta, 12, tb, "");
    w[1] = splice(tb, 7, ta, "");
    CHECK(base != NULL && w[0] != NULL && w[1] != NULL &&
          (strcmp(base, w[0]) == 0 || strcmp(base, w[1]) == 0));
    CHECK(lengths_are(a, 19, 20));
    CHECK(lengths_are(b, 19, 20));
    CHECK(snapshots_equal(a, b));
    CHECK(state_vectors_equal(a, b));
    for (i = 0; i < 2; i++) {
        free(w[i]);
        w[i] = NULL;
    }
    if (base == NULL)
        goto out;

    /* Concurrent inserts at one place, and concurrent typing (a commit per character) at the
     * end: each replica's insertion stays in one piece. */
    CHECK_EQ_INT(ins(a, 3, "[one]", 0), RT_OK);
    commit_ok(a);
    CHECK_EQ_INT(ins(b, 3, "(two)", 0), RT_OK);
    commit_ok(b);
    for (i = 0; i < 3; i++) {
        char ca_ch[2] = {(char)('1' + i), '\0'}, cb_ch[2] = {(char)('a' + i), '\0'};
        CHECK_EQ_INT(ins(a, 24 + (uint64_t)i, ca_ch, 0), RT_OK);
        commit_ok(a);
        CHECK_EQ_INT(ins(b, 24 + (uint64_t)i, cb_ch, 0), RT_OK);
        commit_ok(b);
    }
    sync_docs(a, b);
    got = text_of(a);
    CHECK(got != NULL && text_is(b, got));
    w[0] = splice(base, 3, "[one](two)", "123abc");
    w[1] = splice(base, 3, "(two)[one]", "abc123");
    w[2] = splice(base, 3, "[one](two)", "abc123");
    w[3] = splice(base, 3, "(two)[one]", "123abc");
    for (i = 0; i < 4; i++)
        matches += got != NULL && w[i] != NULL && strcmp(got, w[i]) == 0;
    CHECK_EQ_INT(matches, 1);
    if (matches != 1)
        fprintf(stderr, "    interleaved? \"%s\"\n", got ? got : "(null)");
    CHECK(snapshots_equal(a, b));
    for (i = 0; i < 4; i++) {
        free(w[i]);
        w[i] = NULL;
    }

    /* A deletes a range while B inserts inside it: the insertion survives. */
    free(base);
    base = got;
    got = NULL;
    CHECK_EQ_INT(rt_doc_text_delete(a, 0, 3, 0), RT_OK);
    commit_ok(a);
    CHECK_EQ_INT(ins(b, 1, "Z", 0), RT_OK);
    commit_ok(b);
    sync_docs(a, b);
    w[0] = splice(base + utf8_offset(base, 3), 0, "Z", "");
    CHECK(w[0] != NULL && text_is(a, w[0]) && text_is(b, w[0]));
    CHECK(snapshots_equal(a, b));
    CHECK(state_vectors_equal(a, b));

    /* Everything again (a diff from nothing seen) changes nothing: updates are idempotent. */
    snap = snapshot_of(b);
    CHECK_EQ_INT(rt_doc_diff(a, NULL, 0, &full), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(b, full.data, full.len), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(b, full.data, full.len), RT_OK);
    CHECK(snapshot_is(b, &snap));
    rt_bytes_free(&full);

    /* Both replicas reload from their own files as they were. */
    CHECK_EQ_INT(rt_doc_close(&a), RT_OK);
    CHECK_EQ_INT(rt_doc_close(&b), RT_OK);
    CHECK(a == NULL && b == NULL);
    CHECK_EQ_INT(rt_core_close(&ca), RT_OK);
    CHECK_EQ_INT(rt_core_close(&cb), RT_OK);
    ca = open_core(pa);
    cb = open_core(pb);
    a = open_doc(ca, "notes");
    b = open_doc(cb, "notes");
    if (a != NULL && b != NULL && w[0] != NULL) {
        CHECK(text_is(a, w[0]));
        CHECK(text_is(b, w[0]));
        CHECK(snapshot_is(a, &snap));
        CHECK(snapshot_is(b, &snap));
    }

out:
    rt_bytes_free(&snap);
    for (i = 0; i < 4; i++)
        free(w[i]);
    free(got);
    free(base);
    free(ta);
    free(tb);
    rt_doc_close(&a);
    rt_doc_close(&b);
    CHECK_EQ_INT(rt_core_close(&ca), RT_OK);
    CHECK_EQ_INT(rt_core_close(&cb), RT_OK);
    free(pa);
    free(pb);
    remove_tempdir(dir);
}

/* ---------------------------------------------------------------------------------------------
 * 2. Batches of edits: an update per committed edit, replayed elsewhere in any order
 * ------------------------------------------------------------------------------------------- */

static void test_batch_updates_replay(void)
{
    static const rt_text_edit edits[] = {
        {0, 0, S("Hello"), 0},
        {5, 0, S(" world"), 1},     /* 1: "Hello world" */
        {0, 1, S("J"), 1},          /* 2: "Jello world" */
        {11, 0, S("ünïcode"), 0},   /*    "Jello worldünïcode" */
        {5, 6, S(" "), 1},          /* 3: "Jello ünïcode" */
        {1000, 0, S("!"), 1},       /* 4: clamped to the end, "Jello ünïcode!" */
        {0, 0, NULL, 0, 1},         /*    commits nothing: no update */
        {6, 1, S("u"), 0},          /*    left open: "Jello unïcode!" */
    };
    static const char *after[] = {"Hello world", "Jello world", "Jello ünïcode", "Jello ünïcode!",
                                  "Jello unïcode!"};
    static const rt_text_edit edits16[] = {
        {0, 0, S("😀"), 1}, /* "😀" */
        {2, 0, S("x"), 1},  /* after the pair: "😀x" */
        {0, 2, S("y"), 1},  /* the pair replaced: "yx" */
        {1, 0, S("🎉"), 0}, /* open: "y🎉x" */
    };
    rt_core *c1 = open_core(NULL), *c2 = open_core(NULL);
    rt_doc *src = open_doc(c1, "batch"), *fwd = open_doc(c2, "batch"), *rev = open_doc(c2, "batch-reversed");
    rt_doc *src16 = open_doc(c1, "batch16"), *dst16 = open_doc(c2, "batch16");
    update_list ups, ups16;
    rt_bytes last = {NULL, 0}, none = {NULL, 0}, snap = {NULL, 0};
    int i;

    memset(&ups, 0, sizeof ups);
    memset(&ups16, 0, sizeof ups16);
    if (src == NULL || fwd == NULL || rev == NULL || src16 == NULL || dst16 == NULL)
        goto out;

    CHECK_EQ_INT(rt_doc_text_edits(src, edits, sizeof edits / sizeof edits[0], 0, on_update, &ups), RT_OK);
    CHECK_EQ_INT(ups.count, 4);
    CHECK(text_is(src, "Jello unïcode!"));
    CHECK(lengths_are(src, 14, 14));
    /* The last edit was left open: rt_doc_commit ends it; then there is nothing to commit. */
    CHECK_EQ_INT(rt_doc_commit(src, &last), RT_OK);
    CHECK(last.len > 0);
    update_list_add(&ups, last.data, last.len);
    rt_bytes_free(&last);
    CHECK_EQ_INT(rt_doc_commit(src, &none), RT_OK);
    CHECK(none.data == NULL && none.len == 0);
    if (ups.count != 5)
        goto out;
    snap = snapshot_of(src);

    /* In order, each update brings the replica to the text after its commit. */
    for (i = 0; i < 5; i++) {
        CHECK_EQ_INT(rt_doc_apply(fwd, ups.data[i], ups.len[i]), RT_OK);
        CHECK(text_is(fwd, after[i]));
    }
    CHECK(snapshot_is(fwd, &snap));
    /* Duplicates change nothing. */
    for (i = 0; i < 5; i++)
        CHECK_EQ_INT(rt_doc_apply(fwd, ups.data[i], ups.len[i]), RT_OK);
    CHECK(snapshot_is(fwd, &snap));

    /* In reverse, everything waits for the first update, then the same text, the same bytes. */
    for (i = 4; i >= 1; i--) {
        CHECK_EQ_INT(rt_doc_apply(rev, ups.data[i], ups.len[i]), RT_OK);
        CHECK(text_is(rev, ""));
    }
    CHECK_EQ_INT(rt_doc_apply(rev, ups.data[0], ups.len[0]), RT_OK);
    CHECK(text_is(rev, "Jello unïcode!"));
    CHECK(snapshot_is(rev, &snap));
    CHECK(state_vectors_equal(rev, src));

    /* Positions in UTF-16 code units for the whole batch. */
    CHECK_EQ_INT(rt_doc_text_edits(src16, edits16, 4, RT_DOC_UTF16, on_update, &ups16), RT_OK);
    CHECK_EQ_INT(ups16.count, 3);
    CHECK(text_is(src16, "y🎉x"));
    CHECK(lengths_are(src16, 3, 4));
    CHECK_EQ_INT(rt_doc_commit(src16, &last), RT_OK);
    update_list_add(&ups16, last.data, last.len);
    rt_bytes_free(&last);
    for (i = ups16.count - 1; i >= 0 && i < MAX_UPDATES; i--)
        CHECK_EQ_INT(rt_doc_apply(dst16, ups16.data[i], ups16.len[i]), RT_OK);
    CHECK(text_is(dst16, "y🎉x"));
    CHECK(snapshots_equal(src16, dst16));
    /* A batch of nothing is fine. */
    CHECK_EQ_INT(rt_doc_text_edits(src16, NULL, 0, 0, on_update, &ups16), RT_OK);
    CHECK_EQ_INT(ups16.count, 4);

out:
    rt_bytes_free(&snap);
    update_list_free(&ups);
    update_list_free(&ups16);
    rt_doc_close(&src);
    rt_doc_close(&fwd);
    rt_doc_close(&rev);
    rt_doc_close(&src16);
    rt_doc_close(&dst16);
    CHECK_EQ_INT(rt_core_close(&c1), RT_OK);
    CHECK_EQ_INT(rt_core_close(&c2), RT_OK);
}

/* A bad edit stops the batch: the commits before it stand (and are reported to on_change like
 * any commit); the bad edit itself changes nothing. */
static void test_batch_stops_at_bad_edit(void)
{
    static const rt_text_edit edits[] = {
        {5, 0, S(" world"), 1},
        {0, 1, S("\xff"), 1}, /* not UTF-8 */
        {0, 0, S("never"), 1},
    };
    rt_core *core = open_core(NULL);
    rt_doc *doc = open_doc(core, "watched");
    update_list ups;
    changes ch;
    rt_bytes rest = {NULL, 0};

    memset(&ups, 0, sizeof ups);
    changes_init(&ch);
    if (doc == NULL)
        goto out;
    CHECK_EQ_INT(rt_doc_on_change(doc, on_change, &ch), RT_OK);
    CHECK_EQ_INT(ins(doc, 0, "hello", 0), RT_OK);
    commit_ok(doc);
    CHECK_EQ_INT(changes_count(&ch), 1);

    CHECK_EQ_INT(rt_doc_text_edits(doc, edits, 3, 0, on_update, &ups), RT_EINVAL);
    CHECK_EQ_INT(ups.count, 1);
    CHECK(text_is(doc, "hello world"));
    /* The committed edit before the bad one is a change like any other. */
    CHECK_EQ_INT(changes_count(&ch), 2);
    /* Nothing of the bad edit was left in the open transaction. */
    CHECK_EQ_INT(rt_doc_commit(doc, &rest), RT_OK);
    CHECK_EQ_INT(rest.len, 0);
    rt_bytes_free(&rest);
    CHECK_EQ_INT(rt_doc_on_change(doc, NULL, NULL), RT_OK);

out:
    update_list_free(&ups);
    changes_free(&ch);
    rt_doc_close(&doc);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

/* ---------------------------------------------------------------------------------------------
 * 3. Persistence
 * ------------------------------------------------------------------------------------------- */

static void test_persistence_reopen(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "p.db") : NULL;
    rt_core *core = NULL;
    rt_doc *doc = NULL;
    rt_bytes snap = {NULL, 0}, sv = {NULL, 0}, sv2 = {NULL, 0};

    CHECK(path != NULL);
    if (path == NULL)
        goto out;
    core = open_core(path);
    doc = open_doc(core, "notes");
    if (doc == NULL)
        goto out;
    CHECK_EQ_INT(ins(doc, 0, "Persisted: ñandú 🐧", 0), RT_OK);
    commit_ok(doc);
    CHECK_EQ_INT(ins(doc, 0, ">> ", 0), RT_OK);
    commit_ok(doc);
    CHECK_EQ_INT(rt_doc_text_delete(doc, 3, 11, 0), RT_OK);
    commit_ok(doc);
    CHECK(text_is(doc, ">> ñandú 🐧"));
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    snap = snapshot_of(doc);
    CHECK_EQ_INT(rt_doc_state_vector(doc, &sv), RT_OK);
    CHECK_EQ_INT(rt_doc_close(&doc), RT_OK);
    CHECK(doc == NULL);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);

    core = open_core(path);
    doc = open_doc(core, "notes");
    if (doc == NULL)
        goto out;
    CHECK(text_is(doc, ">> ñandú 🐧"));
    CHECK(lengths_are(doc, 10, 11));
    /* The same state: a fresh replica id per load has no characters, so it shows nowhere. */
    CHECK(snapshot_is(doc, &snap));
    CHECK_EQ_INT(rt_doc_state_vector(doc, &sv2), RT_OK);
    CHECK(bytes_equal(&sv, &sv2));
    /* A second session's edits land on top. */
    CHECK_EQ_INT(ins(doc, 100, " ok", 0), RT_OK);
    commit_ok(doc);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK_EQ_INT(rt_doc_close(&doc), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    core = open_core(path);
    doc = open_doc(core, "notes");
    if (doc != NULL)
        CHECK(text_is(doc, ">> ñandú 🐧 ok"));

out:
    rt_bytes_free(&snap);
    rt_bytes_free(&sv);
    rt_bytes_free(&sv2);
    rt_doc_close(&doc);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    free(path);
    remove_tempdir(dir);
}

/* Edit number i of a deterministic sequence, on the document (if not NULL) and on the model. */
static rt_status edit_step(int i, rt_doc *doc, model *m)
{
    static const char *pieces[] = {"a", "é", "語", "🐧", "xyz", " "};
    size_t n = utf8_scalars(m->text);
    rt_status rc = RT_OK;
    if (i % 7 == 6 && n > 2) {
        size_t pos = ((size_t)i * 5) % (n - 1);
        if (doc != NULL)
            rc = rt_doc_text_delete(doc, pos, 2, 0);
        model_delete(m, pos, 2);
    } else {
        const char *p = pieces[i % 6];
        size_t pos = ((size_t)i * 3) % (n + 1);
        if (doc != NULL)
            rc = ins(doc, pos, p, 0);
        model_insert(m, pos, p);
    }
    return rc;
}

#define MANY_COMMITS 150

static void test_persistence_many_commits(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "many.db") : NULL;
    rt_core *core = NULL;
    rt_doc *doc = NULL;
    model *m = calloc(1, sizeof *m);
    rt_bytes u = {NULL, 0};
    int i, bad = 0, has_snapshot = 0;
    long long snapshot_seq = -1, last_seq = -1, rows = -1;

    CHECK(path != NULL && m != NULL);
    if (path == NULL || m == NULL)
        goto out;
    core = open_core(path);
    doc = open_doc(core, "log");
    if (doc == NULL)
        goto out;
    /* One commit per loop turn (rt_core_sync between them): one log entry each. */
    for (i = 0; i < MANY_COMMITS; i++) {
        bad += edit_step(i, doc, m) != RT_OK;
        bad += rt_doc_commit(doc, &u) != RT_OK || u.len == 0;
        rt_bytes_free(&u);
        bad += rt_core_sync(core) != RT_OK;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(text_is(doc, m->text));
    CHECK(lengths_are(doc, utf8_scalars(m->text), utf16_units(m->text)));
    CHECK_EQ_INT(rt_doc_close(&doc), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);

    /* 150 entries, compacted on the way and at the last close. */
    CHECK(stored_layout(path, "log", &has_snapshot, &snapshot_seq, &last_seq, &rows));
    CHECK_EQ_INT(has_snapshot, 1);
    CHECK_EQ_INT(last_seq, MANY_COMMITS);
    CHECK_EQ_INT(snapshot_seq, MANY_COMMITS);
    CHECK_EQ_INT(rows, 0);

    core = open_core(path);
    doc = open_doc(core, "log");
    if (doc != NULL) {
        CHECK(text_is(doc, m->text));
        CHECK(lengths_are(doc, utf8_scalars(m->text), utf16_units(m->text)));
    }

out:
    rt_doc_close(&doc);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    free(m);
    free(path);
    remove_tempdir(dir);
}

#define CRASH_COMMITS 70

/* In a child process: CRASH_COMMITS commits, each made durable, then death without any close.
 * Exits 0 on success, else the step that failed. */
static void crash_child(const char *path)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    rt_doc *doc = NULL;
    rt_bytes u = {NULL, 0};
    model *m = calloc(1, sizeof *m);
    int i;

    alarm(300); /* a hang dies instead of blocking the parent forever */
    cfg.db_path = path;
    if (m == NULL || rt_core_open(&cfg, &core) != RT_OK || rt_core_start(core) != RT_OK)
        _exit(2);
    if (rt_doc_open(core, "crash", RT_DOC_TEXT, &doc) != RT_OK)
        _exit(3);
    for (i = 0; i < CRASH_COMMITS; i++) {
        if (edit_step(i, doc, m) != RT_OK)
            _exit(4);
        if (rt_doc_commit(doc, &u) != RT_OK || u.len == 0)
            _exit(5);
        rt_bytes_free(&u);
        if (rt_core_sync(core) != RT_OK)
            _exit(6);
    }
    _exit(0);
}

static void test_persistence_after_crash(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "crash.db") : NULL;
    rt_core *core = NULL;
    rt_doc *doc = NULL;
    model *m = calloc(1, sizeof *m);
    pid_t pid;
    int i, status = -1, has_snapshot = 0;
    long long snapshot_seq = -1, last_seq = -1, rows = -1;

    CHECK(path != NULL && m != NULL);
    if (path == NULL || m == NULL)
        goto out;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    CHECK(pid >= 0);
    if (pid < 0)
        goto out;
    if (pid == 0)
        crash_child(path);
    CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
    for (i = 0; i < CRASH_COMMITS; i++)
        edit_step(i, NULL, m);

    /* A snapshot after entry 64, and the six entries after it in the log. */
    CHECK(stored_layout(path, "crash", &has_snapshot, &snapshot_seq, &last_seq, &rows));
    CHECK_EQ_INT(has_snapshot, 1);
    CHECK_EQ_INT(snapshot_seq, 64);
    CHECK_EQ_INT(last_seq, CRASH_COMMITS);
    CHECK_EQ_INT(rows, CRASH_COMMITS - 64);

    /* Loaded from the snapshot plus the tail. */
    core = open_core(path);
    doc = open_doc(core, "crash");
    if (doc == NULL)
        goto out;
    CHECK(text_is(doc, m->text));
    CHECK(lengths_are(doc, utf8_scalars(m->text), utf16_units(m->text)));
    /* And it goes on from there. */
    CHECK_EQ_INT(edit_step(CRASH_COMMITS, doc, m), RT_OK);
    commit_ok(doc);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK_EQ_INT(rt_doc_close(&doc), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    core = open_core(path);
    doc = open_doc(core, "crash");
    if (doc != NULL)
        CHECK(text_is(doc, m->text));

out:
    rt_doc_close(&doc);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    free(m);
    free(path);
    remove_tempdir(dir);
}

static int sqlite_exec_file(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *err = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "    sqlite (%s): %s\n", sql, err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    sqlite3_close(db);
    return rc == SQLITE_OK;
}

/* Opens document `id` on the database at `path` after `sql` damaged it: must fail with `want`
 * (or `also`), leave *out NULL, and leave the other documents loadable. */
static void expect_stored_refused(const char *path, const char *sql, const char *id, rt_status want,
                                  rt_status also)
{
    rt_core *core = NULL;
    rt_doc *doc = NULL, *fine = NULL;
    rt_status rc;
    CHECK(sqlite_exec_file(path, sql));
    core = open_core(path);
    if (core == NULL)
        return;
    doc = (rt_doc *)(void *)&rc; /* not a document: a failed open must set NULL */
    rc = rt_doc_open(core, id, RT_DOC_TEXT, &doc);
    if (rc != want && rc != also)
        fprintf(stderr, "    after \"%s\": rt_doc_open gave %d (%s)\n", sql, rc, rt_core_errmsg(core));
    CHECK(rc == want || rc == also);
    CHECK(doc == NULL);
    if (rc == RT_OK)
        rt_doc_close(&doc);
    fine = open_doc(core, "fine");
    if (fine != NULL)
        CHECK(text_is(fine, "untouched"));
    rt_doc_close(&fine);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static const char *damaged_ids[] = {"snap", "snapfmt", "gap", "body", "update", "fine"};

/* In a child process: each document but "fine" gets a snapshot (closed once), then two log
 * entries after it, and stays open when the process dies, so the log tail stays. */
static void damaged_child(const char *path)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    rt_doc *doc = NULL;
    int i;

    alarm(120);
    cfg.db_path = path;
    if (rt_core_open(&cfg, &core) != RT_OK || rt_core_start(core) != RT_OK)
        _exit(2);
    /* The sync after each close waits for the final write of the closed document, so the reopen
       loads it from the file: snapshot 1, then updates 2 and 3. */
    for (i = 0; i < 6; i++) {
        if (rt_doc_open(core, damaged_ids[i], RT_DOC_TEXT, &doc) != RT_OK)
            _exit(3);
        if (ins(doc, 0, i == 5 ? "untouched" : "stored", 0) != RT_OK || rt_doc_commit(doc, NULL) != RT_OK ||
            rt_core_sync(core) != RT_OK || rt_doc_close(&doc) != RT_OK || rt_core_sync(core) != RT_OK)
            _exit(4);
        if (i == 5)
            break;
        if (rt_doc_open(core, damaged_ids[i], RT_DOC_TEXT, &doc) != RT_OK)
            _exit(5);
        if (ins(doc, 0, "1", 0) != RT_OK || rt_doc_commit(doc, NULL) != RT_OK || rt_core_sync(core) != RT_OK)
            _exit(6);
        if (ins(doc, 0, "2", 0) != RT_OK || rt_doc_commit(doc, NULL) != RT_OK || rt_core_sync(core) != RT_OK)
            _exit(7);
    }
    _exit(0);
}

/* A stored state that does not load is refused (RT_ECORRUPT), not loaded wrong or in part. */
static void test_damaged_stored_state(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "damaged.db") : NULL;
    int has_snapshot = 0, status = -1;
    long long snapshot_seq = -1, last_seq = -1, rows = -1;
    pid_t pid;

    CHECK(path != NULL);
    if (path == NULL)
        goto out;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    CHECK(pid >= 0);
    if (pid < 0)
        goto out;
    if (pid == 0)
        damaged_child(path);
    CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
    CHECK_EQ_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
    CHECK(stored_layout(path, "gap", &has_snapshot, &snapshot_seq, &last_seq, &rows));
    CHECK(has_snapshot == 1 && snapshot_seq == 1 && last_seq == 3 && rows == 2);

    expect_stored_refused(path, "UPDATE rt_docs SET snapshot = x'02ff' WHERE id = 'snap'", "snap", RT_ECORRUPT,
                          RT_ECORRUPT);
    /* An unknown snapshot format: the header promises RT_ECORRUPT; RT_EVERSION would do too. */
    expect_stored_refused(path, "UPDATE rt_docs SET snapshot = x'7f00' WHERE id = 'snapfmt'", "snapfmt",
                          RT_ECORRUPT, RT_EVERSION);
    expect_stored_refused(path, "DELETE FROM rt_doc_updates WHERE doc = 'gap' AND seq = 2", "gap", RT_ECORRUPT,
                          RT_ECORRUPT);
    /* A log entry that is not a batch of updates, and one holding an update that is not one. */
    expect_stored_refused(path, "UPDATE rt_doc_updates SET body = x'05' WHERE doc = 'body'", "body", RT_ECORRUPT,
                          RT_ECORRUPT);
    expect_stored_refused(path, "UPDATE rt_doc_updates SET body = x'0103010203' WHERE doc = 'update'", "update",
                          RT_ECORRUPT, RT_ECORRUPT);

out:
    free(path);
    remove_tempdir(dir);
}

/* In a child process: a commit while the core is stopped, then more after it is started
 * again, made durable with rt_core_sync; then death without any close. */
static void stopped_child(const char *path)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    rt_doc *doc = NULL;

    alarm(120);
    cfg.db_path = path;
    if (rt_core_open(&cfg, &core) != RT_OK || rt_core_start(core) != RT_OK)
        _exit(2);
    if (rt_doc_open(core, "stopped", RT_DOC_TEXT, &doc) != RT_OK)
        _exit(3);
    if (ins(doc, 0, "one ", 0) != RT_OK || rt_doc_commit(doc, NULL) != RT_OK || rt_core_sync(core) != RT_OK)
        _exit(4);
    if (rt_core_stop(core) != RT_OK)
        _exit(5);
    if (ins(doc, 100, "two ", 0) != RT_OK || rt_doc_commit(doc, NULL) != RT_OK)
        _exit(6);
    if (rt_core_start(core) != RT_OK)
        _exit(7);
    if (ins(doc, 100, "three", 0) != RT_OK || rt_doc_commit(doc, NULL) != RT_OK || rt_core_sync(core) != RT_OK)
        _exit(8);
    _exit(0);
}

/* A core stopped and started again (rt_core_stop says it may be) keeps persisting its open
 * documents: after rt_core_sync, every commit so far is on disk. */
static void test_commit_while_stopped(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "stopped.db") : NULL;
    rt_core *core = NULL;
    rt_doc *doc = NULL;
    pid_t pid;
    int status = -1;

    CHECK(path != NULL);
    if (path == NULL)
        goto out;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    CHECK(pid >= 0);
    if (pid < 0)
        goto out;
    if (pid == 0)
        stopped_child(path);
    CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
    CHECK_EQ_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
    core = open_core(path);
    doc = open_doc(core, "stopped");
    if (doc != NULL)
        CHECK(text_is(doc, "one two three"));

out:
    rt_doc_close(&doc);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    free(path);
    remove_tempdir(dir);
}

/* Closing the last handle and opening the document again at once (no rt_core_sync between)
 * must give the same document: the close's pending writes must not be lost or collide. */
static void test_reopen_right_after_close(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "quick.db") : NULL;
    rt_core *core = NULL;
    rt_doc *doc = NULL;

    CHECK(path != NULL);
    if (path == NULL)
        goto out;
    core = open_core(path);
    doc = open_doc(core, "quick");
    if (doc == NULL)
        goto out;
    CHECK_EQ_INT(ins(doc, 0, "kept", 0), RT_OK);
    commit_ok(doc);
    CHECK_EQ_INT(rt_doc_close(&doc), RT_OK);
    doc = open_doc(core, "quick");
    if (doc == NULL)
        goto out;
    CHECK(text_is(doc, "kept"));
    CHECK_EQ_INT(ins(doc, 100, " too", 0), RT_OK);
    commit_ok(doc);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK_EQ_INT(rt_doc_close(&doc), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    core = open_core(path);
    doc = open_doc(core, "quick");
    if (doc != NULL)
        CHECK(text_is(doc, "kept too"));

out:
    rt_doc_close(&doc);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    free(path);
    remove_tempdir(dir);
}

/* ---------------------------------------------------------------------------------------------
 * 4. Change callbacks
 * ------------------------------------------------------------------------------------------- */

static void test_on_change(void)
{
    static const rt_text_edit edits[] = {
        {0, 0, S("<"), 1},
        {1000, 0, S(">"), 1},
    };
    rt_core *c1 = open_core(NULL), *c2 = open_core(NULL);
    rt_doc *doc = open_doc(c1, "watched"), *other = open_doc(c2, "watched"), *second = NULL;
    changes ch, ch2;
    update_list batch;
    rt_bytes u1 = {NULL, 0}, u2 = {NULL, 0}, u3 = {NULL, 0}, empty = {NULL, 0};
    static const uint8_t garbage[] = {0x01, 0x07, 0x00};
    char *text;

    changes_init(&ch);
    changes_init(&ch2);
    memset(&batch, 0, sizeof batch);
    if (doc == NULL || other == NULL)
        goto out;
    ch.peek = doc;
    CHECK_EQ_INT(rt_doc_on_change(doc, on_change, &ch), RT_OK);

    /* Edits are not changes until committed; a commit is, with local = 1 and its bytes. The
     * callback runs outside the document's lock: it reads the document (ch.peek). */
    CHECK_EQ_INT(ins(doc, 0, "local edit", 0), RT_OK);
    CHECK_EQ_INT(changes_count(&ch), 0);
    CHECK_EQ_INT(rt_doc_commit(doc, &u1), RT_OK);
    CHECK_EQ_INT(changes_count(&ch), 1);
    CHECK_EQ_INT(ch.local[0], 1);
    CHECK(ch.updates.len[0] == u1.len && memcmp(ch.updates.data[0], u1.data, u1.len) == 0);
    CHECK_EQ_INT(ch.seen, 10);
    /* Nothing to commit: no change. */
    CHECK_EQ_INT(rt_doc_commit(doc, &empty), RT_OK);
    CHECK_EQ_INT(empty.len, 0);
    CHECK_EQ_INT(changes_count(&ch), 1);

    /* An update from elsewhere: local = 0, the same bytes. */
    CHECK_EQ_INT(ins(other, 0, "remote ", 0), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(other, &u2), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(doc, u2.data, u2.len), RT_OK);
    CHECK_EQ_INT(changes_count(&ch), 2);
    CHECK_EQ_INT(ch.local[1], 0);
    CHECK(ch.updates.len[1] == u2.len && memcmp(ch.updates.data[1], u2.data, u2.len) == 0);
    CHECK_EQ_INT(ch.seen, 17);

    /* A refused update is no change. */
    CHECK(refused(rt_doc_apply(doc, garbage, sizeof garbage)));
    CHECK_EQ_INT(changes_count(&ch), 2);

    /* A batch: one local change per committed edit, the bytes its update callback got. */
    CHECK_EQ_INT(rt_doc_text_edits(doc, edits, 2, 0, on_update, &batch), RT_OK);
    CHECK_EQ_INT(batch.count, 2);
    CHECK_EQ_INT(changes_count(&ch), 4);
    if (batch.count == 2 && changes_count(&ch) == 4) {
        CHECK(ch.local[2] == 1 && ch.local[3] == 1);
        CHECK(ch.updates.len[2] == batch.len[0] && memcmp(ch.updates.data[2], batch.data[0], batch.len[0]) == 0);
        CHECK(ch.updates.len[3] == batch.len[1] && memcmp(ch.updates.data[3], batch.data[1], batch.len[1]) == 0);
    }
    text = text_of(doc);
    CHECK(text != NULL && (strcmp(text, "<remote local edit>") == 0 || strcmp(text, "<local editremote >") == 0));
    free(text);

    /* A second handle on the document hears of the changes made through the first. */
    second = open_doc(c1, "watched");
    if (second == NULL)
        goto out;
    CHECK_EQ_INT(rt_doc_on_change(second, on_change, &ch2), RT_OK);
    CHECK_EQ_INT(ins(doc, 0, "+", 0), RT_OK);
    commit_ok(doc);
    CHECK_EQ_INT(changes_count(&ch), 5);
    CHECK_EQ_INT(changes_count(&ch2), 1);
    CHECK_EQ_INT(ch2.locals, 1);

    /* NULL stops the callbacks of that handle only. */
    CHECK_EQ_INT(rt_doc_on_change(doc, NULL, NULL), RT_OK);
    CHECK_EQ_INT(ins(doc, 0, "+", 0), RT_OK);
    commit_ok(doc);
    CHECK_EQ_INT(ins(other, 0, "more ", 0), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(other, &u3), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(doc, u3.data, u3.len), RT_OK);
    CHECK_EQ_INT(changes_count(&ch), 5);
    CHECK_EQ_INT(changes_count(&ch2), 3);
    CHECK_EQ_INT(ch2.locals, 2);
    /* Setting it again replaces it; NULL twice is fine. */
    CHECK_EQ_INT(rt_doc_on_change(second, on_change, &ch), RT_OK);
    CHECK_EQ_INT(ins(second, 0, "#", 0), RT_OK);
    commit_ok(second);
    CHECK_EQ_INT(changes_count(&ch), 6);
    CHECK_EQ_INT(changes_count(&ch2), 3);
    CHECK_EQ_INT(rt_doc_on_change(second, NULL, NULL), RT_OK);
    CHECK_EQ_INT(rt_doc_on_change(second, NULL, NULL), RT_OK);
    CHECK_EQ_INT(ch.bad_id + ch2.bad_id, 0);

out:
    rt_bytes_free(&u1);
    rt_bytes_free(&u2);
    rt_bytes_free(&u3);
    update_list_free(&batch);
    rt_doc_close(&second);
    rt_doc_close(&doc);
    rt_doc_close(&other);
    changes_free(&ch);
    changes_free(&ch2);
    CHECK_EQ_INT(rt_core_close(&c1), RT_OK);
    CHECK_EQ_INT(rt_core_close(&c2), RT_OK);
}

/* ---------------------------------------------------------------------------------------------
 * 5. Hostile input
 * ------------------------------------------------------------------------------------------- */

/* Applies every strict prefix of `u` to `doc`: each must be refused with the document as before. */
static void apply_prefixes(rt_doc *doc, const rt_bytes *u)
{
    rt_bytes before = snapshot_of(doc);
    size_t n;
    int accepted = 0, changed = 0;
    for (n = 0; n < u->len; n++) {
        rt_status rc = rt_doc_apply(doc, u->data, n);
        if (!refused(rc)) {
            if (accepted++ == 0)
                fprintf(stderr, "    prefix of %zu of %zu bytes: status %d\n", n, u->len, rc);
        }
        changed += !snapshot_is(doc, &before);
    }
    CHECK_EQ_INT(accepted, 0);
    CHECK_EQ_INT(changed, 0);
    rt_bytes_free(&before);
}

static void test_hostile_updates(void)
{
    rt_core *core = open_core(NULL);
    rt_doc *src = open_doc(core, "src"), *dst = open_doc(core, "dst"), *fresh = open_doc(core, "fresh");
    rt_doc *own = open_doc(core, "own"), *control = open_doc(core, "control");
    rt_bytes u0 = {NULL, 0}, u1 = {NULL, 0}, before = {NULL, 0}, sv = {NULL, 0}, snap = {NULL, 0};
    uint8_t *buf = NULL;
    uint8_t crafted[22];
    uint32_t seed = 12345;
    int i, accepted = 0;

    if (src == NULL || dst == NULL || fresh == NULL || own == NULL || control == NULL)
        goto out;
    CHECK_EQ_INT(ins(src, 0, "Hostile? ñ 🐧 input", 0), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(src, &u0), RT_OK);
    CHECK_EQ_INT(rt_doc_apply(dst, u0.data, u0.len), RT_OK);
    CHECK_EQ_INT(rt_doc_text_delete(src, 0, 9, 0), RT_OK);
    CHECK_EQ_INT(ins(src, 0, "Friendly ", 0), RT_OK);
    CHECK_EQ_INT(ins(src, 100, "…", 0), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(src, &u1), RT_OK);
    if (u0.len == 0 || u1.len == 0)
        goto out;

    /* Every truncation of an update is refused, and changes nothing. */
    apply_prefixes(fresh, &u0);
    apply_prefixes(dst, &u1);
    CHECK(text_is(fresh, ""));
    CHECK(text_is(dst, "Hostile? ñ 🐧 input"));

    /* An unknown format byte: RT_EVERSION. A snapshot is not an update either. */
    before = snapshot_of(dst);
    buf = malloc(u1.len > 64 ? u1.len : 64);
    if (buf == NULL)
        goto out;
    memcpy(buf, u1.data, u1.len);
    buf[0] ^= 0xFF;
    CHECK_EQ_INT(rt_doc_apply(dst, buf, u1.len), RT_EVERSION);
    buf[0] = 0x7F;
    CHECK_EQ_INT(rt_doc_apply(dst, buf, u1.len), RT_EVERSION);
    CHECK(refused(rt_doc_apply(dst, before.data, before.len)));
    CHECK(snapshot_is(dst, &before));

    /* Random bytes, half of them behind the right format byte. */
    for (i = 0; i < 2000; i++) {
        size_t len = 1, k;
        rt_status rc;
        seed = seed * 1103515245u + 12345u;
        len = 1 + (seed >> 16) % 64;
        for (k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[k] = (uint8_t)(seed >> 16);
        }
        if (i % 2 == 0)
            buf[0] = 0x01;
        rc = rt_doc_apply(dst, buf, len);
        accepted += !refused(rc);
    }
    CHECK_EQ_INT(accepted, 0);
    CHECK(snapshot_is(dst, &before));
    CHECK(text_is(dst, "Hostile? ñ 🐧 input"));
    /* Still healthy: the real update applies. */
    CHECK_EQ_INT(rt_doc_apply(dst, u1.data, u1.len), RT_OK);
    CHECK(snapshots_equal(dst, src));

    /* An update claiming characters of the receiving replica that it never typed. The state
     * vector of a one-replica document is: count 1, the replica id (8 bytes), its counter. */
    CHECK_EQ_INT(ins(own, 0, "abc", 0), RT_OK);
    CHECK_EQ_INT(rt_doc_state_vector(own, &sv), RT_OK);
    CHECK_EQ_INT(sv.len, 10);
    if (sv.len == 10 && sv.data[0] == 1 && sv.data[9] == 3) {
        size_t k = 0;
        crafted[k++] = 0x01; /* format */
        crafted[k++] = 0x01; /* one replica */
        memcpy(crafted + k, sv.data + 1, 8);
        k += 8;
        crafted[k++] = 0x01; /* one run */
        crafted[k++] = 0x00; /* replica 0 */
        crafted[k++] = 0x03; /* clock 3: the next character "own" would type */
        crafted[k++] = 0x01; /* length 1 */
        crafted[k++] = 0x04; /* left origin: the character before it */
        crafted[k++] = 0x01; /* one byte of content */
        crafted[k++] = 'z';
        crafted[k++] = 0x00; /* no deletions */
        snap = snapshot_of(own);
        CHECK_EQ_INT(rt_doc_apply(own, crafted, k), RT_ECORRUPT);
        CHECK(snapshot_is(own, &snap));
        CHECK(text_is(own, "abc"));
        /* The same bytes are a fine update for another replica (it waits for clocks 0 to 2). */
        CHECK_EQ_INT(rt_doc_apply(control, crafted, k), RT_OK);
        CHECK(text_is(control, ""));
    }

out:
    free(buf);
    rt_bytes_free(&u0);
    rt_bytes_free(&u1);
    rt_bytes_free(&before);
    rt_bytes_free(&sv);
    rt_bytes_free(&snap);
    rt_doc_close(&src);
    rt_doc_close(&dst);
    rt_doc_close(&fresh);
    rt_doc_close(&own);
    rt_doc_close(&control);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_bad_state_vectors(void)
{
    static const uint8_t cut[] = {0x02};
    static const uint8_t cut_id[] = {0x01, 1, 2, 3};
    static const uint8_t trailing[] = {0x00, 0x00};
    static const uint8_t zero_counter[] = {0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x00};
    static const uint8_t out_of_order[] = {0x02, 9, 0, 0, 0, 0, 0, 0, 0, 0x01, 1, 0, 0, 0, 0, 0, 0, 0, 0x01};
    static const uint8_t overlong[] = {0x80, 0x00};
    static const uint8_t unknown_replica[] = {0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x05};
    rt_core *core = open_core(NULL);
    rt_doc *doc = open_doc(core, "sv");
    rt_bytes out = {NULL, 0}, all = {NULL, 0}, snap = {NULL, 0};

    if (doc == NULL)
        goto out;
    CHECK_EQ_INT(ins(doc, 0, "state", 0), RT_OK);
    commit_ok(doc);
    snap = snapshot_of(doc);
    CHECK_EQ_INT(rt_doc_diff(doc, cut, sizeof cut, &out), RT_ECORRUPT);
    CHECK(out.data == NULL && out.len == 0);
    CHECK_EQ_INT(rt_doc_diff(doc, cut_id, sizeof cut_id, &out), RT_ECORRUPT);
    CHECK_EQ_INT(rt_doc_diff(doc, trailing, sizeof trailing, &out), RT_ECORRUPT);
    CHECK_EQ_INT(rt_doc_diff(doc, zero_counter, sizeof zero_counter, &out), RT_ECORRUPT);
    CHECK_EQ_INT(rt_doc_diff(doc, out_of_order, sizeof out_of_order, &out), RT_ECORRUPT);
    CHECK_EQ_INT(rt_doc_diff(doc, overlong, sizeof overlong, &out), RT_ECORRUPT);
    CHECK(out.data == NULL && out.len == 0);
    CHECK_EQ_INT(rt_doc_diff(doc, NULL, 3, &out), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_diff(doc, cut, sizeof cut, NULL), RT_EINVAL);
    CHECK(rt_core_errmsg(core)[0] != '\0');
    /* Well-formed vectors, even of replicas never seen, are fine; NULL means nothing seen. */
    CHECK_EQ_INT(rt_doc_diff(doc, unknown_replica, sizeof unknown_replica, &out), RT_OK);
    CHECK_EQ_INT(rt_doc_diff(doc, NULL, 0, &all), RT_OK);
    CHECK(bytes_equal(&out, &all));
    CHECK(snapshot_is(doc, &snap));

out:
    rt_bytes_free(&out);
    rt_bytes_free(&all);
    rt_bytes_free(&snap);
    rt_doc_close(&doc);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_bad_arguments(void)
{
    static const rt_text_edit null_insert[] = {{0, 0, NULL, 2, 1}};
    static const rt_text_edit huge_insert[] = {{0, 0, "abc", SIZE_MAX, 0}};
    static const uint8_t some[] = {0x01, 0x00, 0x00, 0x00};
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *idle = NULL, *core = NULL;
    rt_doc *doc = NULL, *d = NULL;
    rt_bytes b = {NULL, 0};
    uint64_t n = 7, u = 7;
    char long_id[258];
    rt_status rc;

    /* A core that is not running has no documents. */
    CHECK_EQ_INT(rt_core_open(&cfg, &idle), RT_OK);
    if (idle != NULL) {
        d = (rt_doc *)(void *)&cfg;
        CHECK_EQ_INT(rt_doc_open(idle, "x", RT_DOC_TEXT, &d), RT_ESTATE);
        CHECK(d == NULL);
        CHECK_EQ_INT(rt_core_close(&idle), RT_OK);
    }

    core = open_core(NULL);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_doc_open(core, "", RT_DOC_TEXT, &d), RT_EINVAL);
    CHECK(d == NULL);
    CHECK(rt_core_errmsg(core)[0] != '\0');
    CHECK_EQ_INT(rt_doc_open(core, NULL, RT_DOC_TEXT, &d), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_open(core, "\xff\xfe", RT_DOC_TEXT, &d), RT_EINVAL);
    memset(long_id, 'i', sizeof long_id - 1);
    long_id[257] = '\0';
    CHECK_EQ_INT(rt_doc_open(core, long_id, RT_DOC_TEXT, &d), RT_EINVAL);
    long_id[256] = '\0';
    CHECK_EQ_INT(rt_doc_open(core, long_id, RT_DOC_TEXT, &d), RT_OK);
    CHECK_EQ_INT(rt_doc_close(&d), RT_OK);
    CHECK_EQ_INT(rt_doc_open(core, "k", 99, &d), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_open(core, "k", 0, &d), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_open(core, "k", -1, &d), RT_EINVAL);
    CHECK(d == NULL);
    CHECK_EQ_INT(rt_doc_open(NULL, "k", RT_DOC_TEXT, &d), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_open(core, "k", RT_DOC_TEXT, NULL), RT_EINVAL);

    /* Closing is idempotent and NULL-safe. */
    CHECK_EQ_INT(rt_doc_open(core, "k", RT_DOC_TEXT, &d), RT_OK);
    CHECK_EQ_INT(rt_doc_close(&d), RT_OK);
    CHECK(d == NULL);
    CHECK_EQ_INT(rt_doc_close(&d), RT_OK);
    CHECK_EQ_INT(rt_doc_close(NULL), RT_OK);

    /* Every call on a NULL handle is RT_EINVAL. */
    CHECK_EQ_INT(rt_doc_text_insert(NULL, 0, "a", 1, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_text_delete(NULL, 0, 1, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_text_edits(NULL, null_insert, 1, 0, NULL, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_text_get(NULL, &b), RT_EINVAL);
    CHECK(b.data == NULL && b.len == 0);
    CHECK_EQ_INT(rt_doc_text_length(NULL, &n, &u), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_commit(NULL, &b), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_state_vector(NULL, &b), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_diff(NULL, NULL, 0, &b), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_apply(NULL, some, sizeof some), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_snapshot(NULL, &b), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_on_change(NULL, on_change, NULL), RT_EINVAL);
    CHECK(b.data == NULL && b.len == 0);
    CHECK(rt_core_errmsg(NULL)[0] != '\0');

    doc = open_doc(core, "args");
    if (doc == NULL)
        goto out;
    CHECK_EQ_INT(ins(doc, 0, "ok", 0), RT_OK);
    /* Text that is NULL or not UTF-8 is refused and changes nothing. */
    CHECK_EQ_INT(rt_doc_text_insert(doc, 0, NULL, 3, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_text_insert(doc, 0, NULL, 0, 0), RT_OK); /* nothing */
    CHECK_EQ_INT(ins(doc, 0, "\xc3\x28", 0), RT_EINVAL);         /* cut sequence */
    CHECK_EQ_INT(ins(doc, 0, "\xed\xa0\x80", 0), RT_EINVAL);     /* a surrogate */
    CHECK_EQ_INT(ins(doc, 0, "\xc0\xaf", 0), RT_EINVAL);         /* overlong */
    CHECK_EQ_INT(ins(doc, 1, "ab\xff", RT_DOC_UTF16), RT_EINVAL);
    CHECK(rt_core_errmsg(core)[0] != '\0');
    CHECK(text_is(doc, "ok"));
    /* A size that cannot be a buffer's. */
    rc = rt_doc_text_insert(doc, 0, "abc", SIZE_MAX, 0);
    CHECK(rc == RT_EINVAL || rc == RT_ETOOBIG);
    rc = rt_doc_text_edits(doc, huge_insert, 1, 0, NULL, NULL);
    CHECK(rc == RT_EINVAL || rc == RT_ETOOBIG);
    CHECK(text_is(doc, "ok"));
    CHECK_EQ_INT(rt_doc_text_edits(doc, null_insert, 1, 0, NULL, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_text_edits(doc, NULL, 2, 0, NULL, NULL), RT_EINVAL);
    CHECK(text_is(doc, "ok"));
    /* Out-parameters that are required. */
    CHECK_EQ_INT(rt_doc_text_get(doc, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_state_vector(doc, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_snapshot(doc, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_apply(doc, NULL, 4), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_apply(doc, some, 0), RT_EINVAL);
    /* ...and the optional ones. */
    CHECK_EQ_INT(rt_doc_text_length(doc, NULL, NULL), RT_OK);
    CHECK_EQ_INT(rt_doc_text_length(doc, &n, NULL), RT_OK);
    CHECK_EQ_INT(n, 2);
    rc = rt_doc_commit(doc, NULL); /* committed, the update not copied */
    CHECK_EQ_INT(rc, RT_OK);
    CHECK_EQ_INT(rt_doc_commit(doc, &b), RT_OK);
    CHECK(b.data == NULL && b.len == 0);
    /* Positions are clamped. */
    CHECK_EQ_INT(ins(doc, UINT64_MAX, "!", 0), RT_OK);
    CHECK_EQ_INT(ins(doc, UINT64_MAX, "?", RT_DOC_UTF16), RT_OK);
    CHECK_EQ_INT(rt_doc_text_delete(doc, UINT64_MAX, 5, 0), RT_OK);
    CHECK_EQ_INT(rt_doc_text_delete(doc, 1, 0, 0), RT_OK);
    CHECK(text_is(doc, "ok!?"));
    CHECK_EQ_INT(rt_doc_text_delete(doc, 1, 1000, RT_DOC_UTF16), RT_OK);
    CHECK(text_is(doc, "o"));
    CHECK_EQ_INT(rt_doc_text_delete(doc, 0, UINT64_MAX, 0), RT_OK);
    CHECK(text_is(doc, ""));
    commit_ok(doc);

out:
    rt_doc_close(&doc);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

/* Runs `body` on a fresh document of a core of its own in a child process, so that a trap in
 * the library fails this test instead of ending the whole program. Returns body's result (0:
 * all as expected), or -signal when the child died of a signal. Call with no core open here. */
static int in_child(int (*body)(rt_doc *doc))
{
    pid_t pid;
    int status = 0;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0)
        return -1000;
    if (pid == 0) {
        rt_config cfg = RT_CONFIG_INIT;
        rt_core *core = NULL;
        rt_doc *doc = NULL;
        alarm(120);
        if (rt_core_open(&cfg, &core) != RT_OK || rt_core_start(core) != RT_OK ||
            rt_doc_open(core, "child", RT_DOC_TEXT, &doc) != RT_OK)
            _exit(100);
        _exit(body(doc));
    }
    if (waitpid(pid, &status, 0) != pid)
        return -1001;
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "    the child died of signal %d\n", WTERMSIG(status));
        return -WTERMSIG(status);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1002;
}

static int huge_utf16_delete(rt_doc *doc)
{
    if (ins(doc, 0, "hello", 0) != RT_OK)
        return 1;
    if (rt_doc_text_delete(doc, 1, UINT64_MAX, RT_DOC_UTF16) != RT_OK) /* clamped: all but "h" */
        return 2;
    return text_is(doc, "h") ? 0 : 3;
}

static int huge_utf16_position(rt_doc *doc)
{
    if (ins(doc, 0, "hello", 0) != RT_OK)
        return 1;
    if (rt_doc_text_delete(doc, UINT64_MAX, 5, RT_DOC_UTF16) != RT_OK) /* past the end: nothing */
        return 2;
    return text_is(doc, "hello") ? 0 : 3;
}

static int huge_utf16_batch_delete(rt_doc *doc)
{
    static const rt_text_edit edits[] = {{0, 0, S("hello"), 1}, {1, UINT64_MAX, S("!"), 1}};
    if (rt_doc_text_edits(doc, edits, 2, RT_DOC_UTF16, NULL, NULL) != RT_OK)
        return 2;
    return text_is(doc, "h!") ? 0 : 3;
}

/* Lengths and positions far past the text are clamped, in UTF-16 units too (no overflow). */
static void test_huge_positions_clamped(void)
{
    CHECK_EQ_INT(in_child(huge_utf16_delete), 0);
    CHECK_EQ_INT(in_child(huge_utf16_position), 0);
    CHECK_EQ_INT(in_child(huge_utf16_batch_delete), 0);
}

/* ---------------------------------------------------------------------------------------------
 * 6. One document, several handles
 * ------------------------------------------------------------------------------------------- */

static void test_same_id_twice(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "same.db") : NULL;
    rt_core *core = NULL;
    rt_doc *h1 = NULL, *h2 = NULL, *h3 = NULL, *t = NULL;
    rt_bytes u = {NULL, 0};

    CHECK(path != NULL);
    if (path == NULL)
        goto out;
    core = open_core(path);
    h1 = open_doc(core, "shared");
    h2 = open_doc(core, "shared");
    if (h1 == NULL || h2 == NULL)
        goto out;
    CHECK(h1 != h2);
    /* One replica behind both handles: one text, one open transaction. */
    CHECK_EQ_INT(ins(h1, 0, "via one", 0), RT_OK);
    CHECK(text_is(h2, "via one"));
    CHECK_EQ_INT(rt_doc_commit(h2, &u), RT_OK);
    CHECK(u.len > 0);
    rt_bytes_free(&u);
    CHECK_EQ_INT(rt_doc_commit(h1, &u), RT_OK);
    CHECK(u.data == NULL && u.len == 0);
    CHECK_EQ_INT(ins(h2, 3, "!", 0), RT_OK);
    commit_ok(h2);
    CHECK(text_is(h1, "via! one"));
    CHECK(snapshots_equal(h1, h2));
    /* Another kind under the same id is refused. */
    t = (rt_doc *)(void *)&u; /* not a document: a failed open must set NULL */
    CHECK_EQ_INT(rt_doc_open(core, "shared", RT_DOC_TASKS, &t), RT_EINVAL);
    CHECK(t == NULL);
    /* Closing one handle leaves the other working; a third sees the same. */
    CHECK_EQ_INT(rt_doc_close(&h1), RT_OK);
    CHECK(text_is(h2, "via! one"));
    CHECK_EQ_INT(ins(h2, 100, ".", 0), RT_OK);
    commit_ok(h2);
    h3 = open_doc(core, "shared");
    if (h3 != NULL)
        CHECK(text_is(h3, "via! one."));
    CHECK_EQ_INT(rt_doc_close(&h2), RT_OK);
    CHECK_EQ_INT(rt_doc_close(&h3), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    /* Stored as text, it stays text when nobody holds it. */
    t = NULL;
    CHECK(rt_doc_open(core, "shared", RT_DOC_TASKS, &t) != RT_OK);
    CHECK(t == NULL);
    rt_doc_close(&t);
    h1 = open_doc(core, "shared");
    if (h1 != NULL)
        CHECK(text_is(h1, "via! one."));

out:
    rt_doc_close(&h1);
    rt_doc_close(&h2);
    rt_doc_close(&h3);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    free(path);
    remove_tempdir(dir);
}

/* Two threads type into one document through their own handles, committing after every
 * character; their updates, applied elsewhere per thread (not in the order they were made),
 * give the same document. */
#define THREAD_EDITS 200

typedef struct typist {
    rt_doc *doc;
    char ch;
    int failures;
    update_list ups;
} typist;

static void *typist_main(void *arg)
{
    typist *t = arg;
    int i;
    for (i = 0; i < THREAD_EDITS; i++) {
        rt_bytes u = {NULL, 0};
        char s[2] = {t->ch, '\0'};
        t->failures += ins(t->doc, UINT64_MAX, s, 0) != RT_OK;
        t->failures += rt_doc_commit(t->doc, &u) != RT_OK;
        /* Empty when the other thread's commit took this character along. */
        if (u.len > 0)
            update_list_add(&t->ups, u.data, u.len);
        rt_bytes_free(&u);
    }
    return NULL;
}

static void test_threads_share_a_document(void)
{
    rt_core *c1 = open_core(NULL), *c2 = open_core(NULL);
    rt_doc *h1 = open_doc(c1, "watched"), *h2 = open_doc(c1, "watched"), *copy = open_doc(c2, "copy");
    typist t1, t2;
    pthread_t th1, th2;
    changes ch;
    char *text = NULL;
    int i, as = 0, bs = 0;

    memset(&t1, 0, sizeof t1);
    memset(&t2, 0, sizeof t2);
    changes_init(&ch);
    if (h1 == NULL || h2 == NULL || copy == NULL)
        goto out;
    CHECK_EQ_INT(rt_doc_on_change(h1, on_change, &ch), RT_OK);
    t1.doc = h1;
    t1.ch = 'a';
    t2.doc = h2;
    t2.ch = 'b';
    CHECK_EQ_INT(pthread_create(&th1, NULL, typist_main, &t1), 0);
    CHECK_EQ_INT(pthread_create(&th2, NULL, typist_main, &t2), 0);
    pthread_join(th1, NULL);
    pthread_join(th2, NULL);
    CHECK_EQ_INT(t1.failures + t2.failures, 0);
    CHECK(lengths_are(h1, 2 * THREAD_EDITS, 2 * THREAD_EDITS));
    text = text_of(h2);
    for (i = 0; text != NULL && text[i] != '\0'; i++) {
        as += text[i] == 'a';
        bs += text[i] == 'b';
    }
    CHECK_EQ_INT(as, THREAD_EDITS);
    CHECK_EQ_INT(bs, THREAD_EDITS);
    /* Every non-empty commit was one local change. */
    CHECK_EQ_INT(changes_count(&ch), t1.ups.count + t2.ups.count);
    CHECK_EQ_INT(ch.locals, t1.ups.count + t2.ups.count);
    CHECK_EQ_INT(rt_doc_on_change(h1, NULL, NULL), RT_OK);

    for (i = 0; i < t2.ups.count && i < MAX_UPDATES; i++)
        CHECK_EQ_INT(rt_doc_apply(copy, t2.ups.data[i], t2.ups.len[i]), RT_OK);
    for (i = 0; i < t1.ups.count && i < MAX_UPDATES; i++)
        CHECK_EQ_INT(rt_doc_apply(copy, t1.ups.data[i], t1.ups.len[i]), RT_OK);
    if (text != NULL)
        CHECK(text_is(copy, text));
    CHECK(snapshots_equal(copy, h1));

out:
    free(text);
    update_list_free(&t1.ups);
    update_list_free(&t2.ups);
    changes_free(&ch);
    rt_doc_close(&h1);
    rt_doc_close(&h2);
    rt_doc_close(&copy);
    CHECK_EQ_INT(rt_core_close(&c1), RT_OK);
    CHECK_EQ_INT(rt_core_close(&c2), RT_OK);
}

/* ---------------------------------------------------------------------------------------------
 * Task lists
 * ------------------------------------------------------------------------------------------- */

static rt_doc *open_tasks(rt_core *core, const char *id)
{
    rt_doc *doc = NULL;
    if (core == NULL)
        return NULL;
    CHECK_EQ_INT(rt_doc_open(core, id, RT_DOC_TASKS, &doc), RT_OK);
    CHECK(doc != NULL);
    return doc;
}

static rt_status set_field(rt_doc *doc, const char *task, int field, const char *value)
{
    return rt_doc_task_set(doc, task, field, (const uint8_t *)value, strlen(value));
}

/* The task's JSON as a malloc'd C string (NULL if the call fails). */
static char *task_json(rt_doc *doc, const char *task)
{
    rt_bytes b = {NULL, 0};
    char *s = NULL;
    if (rt_doc_task_get(doc, task, &b) == RT_OK) {
        s = malloc(b.len + 1);
        if (s != NULL) {
            memcpy(s, b.data, b.len);
            s[b.len] = '\0';
        }
    }
    rt_bytes_free(&b);
    return s;
}

/* Two replicas edit one task offline: a status conflict stays visible until set again, a tag
   removed on one side and added on the other stays (add wins), edits of different fields both
   land; the lists converge to byte-identical snapshots and reload from the file. */
static void test_task_lists_merge_and_persist(void)
{
    char *dir = make_tempdir();
    char *pa = dir ? path_join(dir, "a.db") : NULL, *pb = dir ? path_join(dir, "b.db") : NULL;
    rt_core *ca = open_core(pa), *cb = open_core(pb);
    rt_doc *a = open_tasks(ca, "board"), *b = open_tasks(cb, "board");
    rt_bytes sa = {NULL, 0}, sb = {NULL, 0}, ids = {NULL, 0};
    char *json;

    CHECK_EQ_INT(set_field(a, "t1", RT_TASK_TITLE, "Write the docs"), RT_OK);
    CHECK_EQ_INT(set_field(a, "t1", RT_TASK_STATUS, "todo"), RT_OK);
    CHECK_EQ_INT(rt_doc_task_add(a, "t1", RT_TASK_TAGS, "docs"), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(a, NULL), RT_OK);
    sync_docs(a, b);
    /* Offline on both sides. */
    CHECK_EQ_INT(set_field(a, "t1", RT_TASK_STATUS, "doing"), RT_OK);
    CHECK_EQ_INT(rt_doc_task_remove(a, "t1", RT_TASK_TAGS, "docs"), RT_OK);
    CHECK_EQ_INT(set_field(a, "t1", RT_TASK_PRIORITY, "2"), RT_OK);
    CHECK_EQ_INT(set_field(b, "t1", RT_TASK_STATUS, "review"), RT_OK);
    CHECK_EQ_INT(rt_doc_task_add(b, "t1", RT_TASK_TAGS, "docs"), RT_OK);
    CHECK_EQ_INT(rt_doc_task_add(b, "t1", RT_TASK_ASSIGNEES, "bob"), RT_OK);
    CHECK_EQ_INT(set_field(b, "t2", RT_TASK_TITLE, "Ship"), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(a, NULL), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(b, NULL), RT_OK);
    sync_docs(a, b);
    CHECK_EQ_INT(rt_doc_snapshot(a, &sa), RT_OK);
    CHECK_EQ_INT(rt_doc_snapshot(b, &sb), RT_OK);
    CHECK(sa.len > 0 && sa.len == sb.len && memcmp(sa.data, sb.data, sa.len) == 0);
    json = task_json(a, "t1");
    CHECK(json != NULL);
    if (json != NULL) {
        CHECK(strstr(json, "\"title\":\"Write the docs\"") != NULL);
        /* Both concurrent statuses, in either order. */
        CHECK(strstr(json, "\"doing\"") != NULL && strstr(json, "\"review\"") != NULL);
        CHECK(strstr(json, "\"tags\":[\"docs\"]") != NULL);
        CHECK(strstr(json, "\"assignees\":[\"bob\"]") != NULL);
        CHECK(strstr(json, "\"priority\":[2]") != NULL);
    }
    free(json);
    CHECK_EQ_INT(rt_doc_task_ids(b, &ids), RT_OK);
    CHECK(ids.len == strlen("[\"t1\",\"t2\"]") && memcmp(ids.data, "[\"t1\",\"t2\"]", ids.len) == 0);
    rt_bytes_free(&ids);
    /* Setting the status again resolves the conflict everywhere. */
    CHECK_EQ_INT(set_field(b, "t1", RT_TASK_STATUS, "done"), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(b, NULL), RT_OK);
    sync_docs(a, b);
    json = task_json(a, "t1");
    CHECK(json != NULL && strstr(json, "\"status\":[\"done\"]") != NULL);
    free(json);
    /* Bad input changes nothing. */
    CHECK_EQ_INT(set_field(a, "t1", RT_TASK_PRIORITY, "high"), RT_EINVAL);
    CHECK_EQ_INT(set_field(a, "t1", 99, "x"), RT_EINVAL);
    CHECK_EQ_INT(set_field(a, "t1", RT_TASK_DELETED, "yes"), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_task_add(a, "t1", 7, "x"), RT_EINVAL);
    CHECK_EQ_INT(set_field(a, "", RT_TASK_TITLE, "x"), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_task_get(a, "missing", &ids), RT_ENOTFOUND);
    CHECK_EQ_INT(ins(a, 0, "text", 0), RT_EINVAL);
    /* A reload from the file has the same tasks. */
    rt_bytes_free(&sa);
    CHECK_EQ_INT(rt_doc_snapshot(a, &sa), RT_OK);
    rt_doc_close(&a);
    rt_core_close(&ca);
    ca = open_core(pa);
    a = open_tasks(ca, "board");
    rt_bytes_free(&sb);
    CHECK_EQ_INT(rt_doc_snapshot(a, &sb), RT_OK);
    CHECK(sa.len == sb.len && sa.len > 0 && memcmp(sa.data, sb.data, sa.len) == 0);
    rt_bytes_free(&sa);
    rt_bytes_free(&sb);
    rt_doc_close(&a);
    rt_doc_close(&b);
    rt_core_close(&ca);
    rt_core_close(&cb);
    free(pa);
    free(pb);
    remove_tempdir(dir);
}

static rt_status text_ins(rt_doc *doc, const char *task, int field, uint64_t pos, const char *text, unsigned flags)
{
    return rt_doc_task_text_insert(doc, task, field, pos, text, strlen(text), flags);
}

/* Two replicas edit one task's description offline, character by character: both edits are in
   the merged text, on both sides, and after a reload; RT_DOC_UTF16 counts UTF-16 units; a
   commit sends the edits, not the whole text; bad arguments change nothing. */
static void test_task_text_fields(void)
{
    char *dir = make_tempdir();
    char *pa = dir ? path_join(dir, "a.db") : NULL;
    rt_core *ca = open_core(pa), *cb = open_core(NULL);
    rt_doc *a = open_tasks(ca, "board"), *b = open_tasks(cb, "board");
    rt_bytes sa = {NULL, 0}, sb = {NULL, 0}, update = {NULL, 0};
    char *json;

    CHECK_EQ_INT(set_field(a, "t1", RT_TASK_DESCRIPTION, "Buy milk"), RT_OK);
    CHECK_EQ_INT(text_ins(a, "t1", RT_TASK_TITLE, 0, "Shopping", 0), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(a, NULL), RT_OK);
    sync_docs(a, b);
    /* Offline: a appends, b replaces the first word; one keystroke each. */
    CHECK_EQ_INT(text_ins(a, "t1", RT_TASK_DESCRIPTION, 99, " and bread", 0), RT_OK);
    CHECK_EQ_INT(rt_doc_task_text_delete(b, "t1", RT_TASK_DESCRIPTION, 0, 3, 0), RT_OK);
    CHECK_EQ_INT(text_ins(b, "t1", RT_TASK_DESCRIPTION, 0, "Get", 0), RT_OK);
    /* UTF-16 positions: the emoji is two units; inserting after it is at unit 2. */
    CHECK_EQ_INT(text_ins(b, "t1", RT_TASK_TITLE, 0, "\xF0\x9F\x9B\x92", 0), RT_OK);
    CHECK_EQ_INT(text_ins(b, "t1", RT_TASK_TITLE, 2, " ", RT_DOC_UTF16), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(a, NULL), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(b, &update), RT_OK);
    CHECK(update.len > 0 && update.len < 200);
    rt_bytes_free(&update);
    sync_docs(a, b);
    CHECK_EQ_INT(rt_doc_snapshot(a, &sa), RT_OK);
    CHECK_EQ_INT(rt_doc_snapshot(b, &sb), RT_OK);
    CHECK(sa.len > 0 && sa.len == sb.len && memcmp(sa.data, sb.data, sa.len) == 0);
    json = task_json(b, "t1");
    CHECK(json != NULL);
    if (json != NULL) {
        CHECK(strstr(json, "\"title\":\"\xF0\x9F\x9B\x92 Shopping\"") != NULL);
        CHECK(strstr(json, "\"description\":\"Get milk and bread\"") != NULL);
    }
    free(json);
    /* A surrogate pair cut in two is deleted whole. */
    CHECK_EQ_INT(rt_doc_task_text_delete(a, "t1", RT_TASK_TITLE, 1, 1, RT_DOC_UTF16), RT_OK);
    json = task_json(a, "t1");
    CHECK(json != NULL && strstr(json, "\"title\":\" Shopping\"") != NULL);
    free(json);
    /* Bad arguments. */
    CHECK_EQ_INT(text_ins(a, "t1", RT_TASK_STATUS, 0, "x", 0), RT_EINVAL);
    CHECK_EQ_INT(text_ins(a, "", RT_TASK_TITLE, 0, "x", 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_task_text_insert(a, "t1", RT_TASK_TITLE, 0, "\xFF", 1, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_task_text_insert(a, "t1", RT_TASK_TITLE, 0, NULL, 3, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_task_text_insert(NULL, "t1", RT_TASK_TITLE, 0, "x", 1, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_task_text_delete(a, "t1", 99, 0, 1, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_task_text_delete(a, NULL, RT_TASK_TITLE, 0, 1, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_task_text_delete(NULL, "t1", RT_TASK_TITLE, 0, 1, 0), RT_EINVAL);
    CHECK_EQ_INT(rt_doc_task_text_delete(a, "missing", RT_TASK_TITLE, 0, 1, 0), RT_OK);
    CHECK_EQ_INT(rt_doc_task_get(a, "missing", &update), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_doc_task_text_delete(a, "t1", RT_TASK_TITLE, UINT64_MAX, UINT64_MAX, 0), RT_OK);
    CHECK_EQ_INT(text_ins(a, "t1", RT_TASK_TITLE, UINT64_MAX, "!", RT_DOC_UTF16), RT_OK);
    CHECK_EQ_INT(rt_doc_commit(a, NULL), RT_OK);
    {
        rt_doc *c = NULL;
        CHECK_EQ_INT(rt_doc_open(ca, "notes", RT_DOC_TEXT, &c), RT_OK);
        CHECK_EQ_INT(text_ins(c, "t1", RT_TASK_TITLE, 0, "x", 0), RT_EINVAL);
        rt_doc_close(&c);
    }
    /* A reload from the file has the same text. */
    rt_bytes_free(&sa);
    CHECK_EQ_INT(rt_doc_snapshot(a, &sa), RT_OK);
    rt_doc_close(&a);
    rt_core_close(&ca);
    ca = open_core(pa);
    a = open_tasks(ca, "board");
    json = task_json(a, "t1");
    CHECK(json != NULL && strstr(json, "\"title\":\" Shopping!\"") != NULL);
    free(json);
    rt_bytes_free(&sb);
    CHECK_EQ_INT(rt_doc_snapshot(a, &sb), RT_OK);
    CHECK(sa.len == sb.len && sa.len > 0 && memcmp(sa.data, sb.data, sa.len) == 0);
    rt_bytes_free(&sa);
    rt_bytes_free(&sb);
    rt_doc_close(&a);
    rt_doc_close(&b);
    rt_core_close(&ca);
    rt_core_close(&cb);
    free(pa);
    remove_tempdir(dir);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* First, while no core is open in this process: these fork. */
    RUN(test_persistence_after_crash);
    RUN(test_huge_positions_clamped);
    RUN(test_commit_while_stopped);
    RUN(test_damaged_stored_state);
    RUN(test_two_replicas_sync);
    RUN(test_batch_updates_replay);
    RUN(test_batch_stops_at_bad_edit);
    RUN(test_persistence_reopen);
    RUN(test_persistence_many_commits);
    RUN(test_reopen_right_after_close);
    RUN(test_on_change);
    RUN(test_hostile_updates);
    RUN(test_bad_state_vectors);
    RUN(test_bad_arguments);
    RUN(test_same_id_twice);
    RUN(test_threads_share_a_document);
    RUN(test_task_lists_merge_and_persist);
    RUN(test_task_text_fields);
    return harness_summary();
}
