/*
 * Private temporary directories for the C tests' database files. Needs _XOPEN_SOURCE 700 (for
 * mkdtemp and nftw) defined before any system header, as every test program does.
 */
#ifndef RT_TEST_TEMPDIR_H
#define RT_TEST_TEMPDIR_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A fresh private directory under $TMPDIR (default /tmp); free with remove_tempdir. */
static inline char *make_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    size_t n;
    char *dir;
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    n = strlen(base) + sizeof("/rt-ctest-XXXXXX");
    dir = malloc(n);
    if (dir == NULL)
        return NULL;
    snprintf(dir, n, "%s/rt-ctest-XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "mkdtemp(%s): %s\n", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    return dir;
}

static inline int tempdir_remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes the directory and everything in it, then frees `dir`. NULL is a no-op. */
static inline void remove_tempdir(char *dir)
{
    if (dir == NULL)
        return;
    /* FTW_DEPTH: children before their directory; FTW_PHYS: never follow symlinks out. */
    nftw(dir, tempdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* "dir/name", malloc'd (NULL when out of memory). */
static inline char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

#endif
