/* Small helpers of the tests in tests/reliability. */
#ifndef HOSM_REL_UTIL_H
#define HOSM_REL_UTIL_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hosm.h"

static int failures;
#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                    \
            printf(__VA_ARGS__);                                           \
            printf(" [%s]\n", hosm_last_errmsg());                         \
            failures++;                                                    \
        }                                                                  \
    } while (0)
#define MUST(call)                                                         \
    do {                                                                   \
        int st_ = (call);                                                  \
        if (st_ != HOSM_OK) {                                              \
            printf("FATAL %s:%d: %s = %d: %s\n", __FILE__, __LINE__, #call, \
                   st_, hosm_last_errmsg());                               \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

/* The whole content of a file (NULL if it cannot be read); *n its size. */
static inline uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    uint8_t *p = malloc(cap);
    size_t k;
    while (p && (k = fread(p + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap) {
            uint8_t *q = realloc(p, cap *= 2);
            if (!q) {
                free(p);
                p = NULL;
            }
            p = q;
        }
    }
    fclose(f);
    *n = len;
    return p;
}

/* The number of entries of dir whose name contains ".tmp-". */
static inline int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    return n;
}

static inline void make_temp_dir(char *buf, size_t cap, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, cap, "%s/hosm-%s-XXXXXX", t && *t ? t : "/tmp", tag);
    if (!mkdtemp(buf)) {
        printf("FATAL mkdtemp %s: %s\n", buf, strerror(errno));
        exit(1);
    }
}

static inline void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

#endif
