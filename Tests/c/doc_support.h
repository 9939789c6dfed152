/*
 * Helpers the document tests share: a started core, and comparisons of documents' snapshots and
 * state vectors. Include after harness.h.
 */
#ifndef RT_TEST_DOC_SUPPORT_H
#define RT_TEST_DOC_SUPPORT_H

#include <string.h>

#include <realtime.h>

/* A started core on `path` (NULL: in memory). */
static inline rt_core *open_core(const char *path)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    cfg.db_path = path;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return NULL;
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    return core;
}

static inline int bytes_equal(const rt_bytes *a, const rt_bytes *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static inline rt_bytes snapshot_of(rt_doc *doc)
{
    rt_bytes b = {NULL, 0};
    CHECK_EQ_INT(rt_doc_snapshot(doc, &b), RT_OK);
    return b;
}

static inline int snapshot_is(rt_doc *doc, const rt_bytes *want)
{
    rt_bytes now = snapshot_of(doc);
    int same = bytes_equal(&now, want);
    rt_bytes_free(&now);
    return same;
}

static inline int snapshots_equal(rt_doc *a, rt_doc *b)
{
    rt_bytes sa = snapshot_of(a), sb = snapshot_of(b);
    int same = bytes_equal(&sa, &sb);
    rt_bytes_free(&sa);
    rt_bytes_free(&sb);
    return same;
}

static inline int state_vectors_equal(rt_doc *a, rt_doc *b)
{
    rt_bytes va = {NULL, 0}, vb = {NULL, 0};
    int same;
    CHECK_EQ_INT(rt_doc_state_vector(a, &va), RT_OK);
    CHECK_EQ_INT(rt_doc_state_vector(b, &vb), RT_OK);
    same = bytes_equal(&va, &vb);
    rt_bytes_free(&va);
    rt_bytes_free(&vb);
    return same;
}

#endif
