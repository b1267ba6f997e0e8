/* Whole files: atomic replacement and reads (docs/format.md, docs/reliability.md).
 *
 * Saving to PATH:
 *  1. The final target is found: a symbolic link at PATH is followed (up to
 *     HOSMI_MAX_LINKS links; a relative link is relative to the directory that
 *     holds it), so that the file it names is replaced and the link is kept.
 *     A target that exists and is not a regular file (FIFO, character or block
 *     device, socket, directory) is refused with HOSM_E_IO before anything is
 *     opened or written; a missing target is created.
 *  2. The data go to an unnamed file in the target's directory (Linux
 *     O_TMPFILE), which is written, given mode 0644 and fsync'ed. A process
 *     killed up to here leaves nothing behind: the file has no name.
 *  3. The file is locked (flock), linked in as TARGET.tmp-XXXXXX and renamed
 *     over TARGET; the directory is then fsync'ed. Only a kill between the link
 *     and the rename (two consecutive system calls) leaves a temporary file,
 *     complete and unlocked; every later save to the same target first
 *     removes such files (those whose lock can be taken, i.e. whose writer is
 *     gone), so at most one exists at a time.
 *  Where O_TMPFILE is not supported (some file systems, old kernels) or the
 *  unnamed file cannot be linked (no /proc and no CAP_DAC_READ_SEARCH), a
 *  named temporary file is created (O_EXCL) and locked before anything is
 *  written to it; a writer that finds its name gone or replaced once it holds
 *  the lock (a concurrent save removed it in the instant between creation and
 *  lock) starts over with a new name. A kill before the rename then leaves
 *  TARGET.tmp-XXXXXX, which a later save removes the same way.
 * In every case a reader sees the old file or the new one, never a mixture,
 * and on any failure the old file is left as it was. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/file.h"

#define HOSMI_MAX_LINKS 40
#define TMP_INFIX ".tmp-"
#define TMP_SUFFIX_LEN 6

int hosmi_save(const char *fname, const char *magic, hosmi_encode_fn fn, const void *obj,
               const char *path)
{
    if (!path)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: path is NULL", fname);
    int64_t size = hosmi_encoded_size(magic, fn, obj);
    void *buf = hosmi_alloc(size, 1);
    if (!buf)
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fname);
    hosmi_encode(fname, magic, fn, obj, buf, size, NULL);
    char msg[HOSMI_MSG_CAP];
    int st = hosmi_write_file(path, buf, size, msg);
    free(buf);
    if (st)
        return hosmi_fail(NULL, st, "%s: %s", fname, msg);
    return HOSM_OK;
}

/* strdup through malloc, so that fault injection (--wrap=malloc) sees it. */
static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static const char *kind_name(mode_t m)
{
    return S_ISFIFO(m)  ? "a FIFO"
           : S_ISCHR(m) ? "a character device"
           : S_ISBLK(m) ? "a block device"
           : S_ISSOCK(m) ? "a socket"
           : S_ISDIR(m) ? "a directory"
                        : "not a regular file";
}

/* The file a save to path replaces: symbolic links followed. On success
 * *target is a malloc'ed path whose last component is not a link. */
static int resolve_target(const char *path, char **target, char *msg)
{
    char *cur = dup_str(path);
    if (!cur)
        return hosmi_fail(msg, HOSM_E_NOMEM, "out of memory");
    for (int hops = 0;; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0) {
            if (errno == ENOENT) /* a new file (possibly through a dangling link) */
                break;
            int e = errno;
            int r = hosmi_fail(msg, HOSM_E_IO, "cannot examine '%s': %s", cur, strerror(e));
            free(cur);
            return r;
        }
        if (!S_ISLNK(st.st_mode)) {
            if (S_ISREG(st.st_mode))
                break;
            int r = hosmi_fail(msg, HOSM_E_IO,
                               "'%s' is %s, not a regular file; refusing to replace it", cur,
                               kind_name(st.st_mode));
            free(cur);
            return r;
        }
        if (hops == HOSMI_MAX_LINKS) {
            free(cur);
            return hosmi_fail(msg, HOSM_E_IO, "'%s': too many levels of symbolic links", path);
        }
        char link[4096];
        ssize_t n = readlink(cur, link, sizeof link);
        if (n < 0 || n >= (ssize_t)sizeof link) {
            int e = n < 0 ? errno : ENAMETOOLONG;
            int r = hosmi_fail(msg, HOSM_E_IO, "cannot read the link '%s': %s", cur, strerror(e));
            free(cur);
            return r;
        }
        link[n] = 0;
        char *next;
        const char *slash = strrchr(cur, '/');
        if (link[0] == '/' || !slash) {
            next = dup_str(link);
        } else { /* relative to the directory holding the link */
            size_t dlen = (size_t)(slash - cur) + 1;
            next = malloc(dlen + (size_t)n + 1);
            if (next) {
                memcpy(next, cur, dlen);
                memcpy(next + dlen, link, (size_t)n + 1);
            }
        }
        free(cur);
        if (!next)
            return hosmi_fail(msg, HOSM_E_NOMEM, "out of memory");
        cur = next;
    }
    *target = cur;
    return HOSM_OK;
}

static uint64_t name_state(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    static _Thread_local uint64_t counter;
    uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                 ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)&counter ^ ++counter;
    return s;
}

/* Writes base + ".tmp-" + six random characters into name (cap bytes). */
static void tmp_name(char *name, size_t cap, const char *base, uint64_t *state)
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char suffix[TMP_SUFFIX_LEN + 1];
    for (int i = 0; i < TMP_SUFFIX_LEN; i++) {
        *state = *state * 6364136223846793005u + 1442695040888963407u; /* LCG */
        suffix[i] = chars[(*state >> 33) % (sizeof chars - 1)];
    }
    suffix[TMP_SUFFIX_LEN] = 0;
    snprintf(name, cap, "%s" TMP_INFIX "%s", base, suffix);
}

static int is_tmp_of(const char *name, const char *base, size_t blen)
{
    return strncmp(name, base, blen) == 0 && strncmp(name + blen, TMP_INFIX, 5) == 0 &&
           strlen(name + blen + 5) == TMP_SUFFIX_LEN;
}

/* Removes base.tmp-XXXXXX files in dirfd left by killed saves: those whose
 * lock can be taken (their writer is gone; a writer holds the lock from
 * before the name exists, or, for a named fallback file, re-checks the name
 * once it holds it). Best effort and allocation-free:
 * the directory is read with getdents64 into a stack buffer. */
static void remove_stale(int dirfd, const char *base)
{
    int lfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lfd < 0)
        return;
    size_t blen = strlen(base);
    char dbuf[4096] __attribute__((aligned(8)));
    ssize_t n;
    while ((n = getdents64(lfd, dbuf, sizeof dbuf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(void *)(dbuf + off);
            off += d->d_reclen;
            if (!is_tmp_of(d->d_name, base, blen))
                continue;
            int fd = openat(dirfd, d->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0)
                continue;
            struct stat a, b;
            if (fstat(fd, &a) == 0 && S_ISREG(a.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
                fstatat(dirfd, d->d_name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
                a.st_ino == b.st_ino)
                unlinkat(dirfd, d->d_name, 0);
            close(fd); /* releases the lock */
        }
    }
    close(lfd);
}

static int write_all(int fd, const void *buf, int64_t size)
{
    const uint8_t *p = buf;
    int64_t done = 0;
    while (done < size) {
        errno = 0;
        ssize_t k = write(fd, p + done, (size_t)(size - done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return errno ? errno : EIO;
        done += k;
    }
    return 0;
}

/* Links the unnamed file fd into dirfd as name. */
static int link_unnamed(int fd, int dirfd, const char *name)
{
    if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
        return 0;
    if (errno == EEXIST)
        return EEXIST;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    return errno ? errno : EIO;
}

/* One save in progress: the target's directory and base name, and the
 * temporary file that will be renamed over it. */
typedef struct {
    int dirfd;
    const char *base;
    uint64_t rs;    /* state of the random temporary names */
    char name[512]; /* the temporary file's name, once it has one */
    int fd;         /* the temporary file, or -1 */
    int named;      /* 1 once name exists in the directory */
} save_state;

/* Splits target (in place) into directory and base name and opens the
 * directory, in which the temporary file is made and renamed; base must
 * leave room in name for the temporary suffix. */
static int open_target_dir(save_state *s, char *target, const char *path, char *msg)
{
    char *slash = strrchr(target, '/');
    const char *dir = ".";
    s->base = target;
    if (slash) {
        *slash = 0;
        dir = slash == target ? "/" : target;
        s->base = slash + 1;
    }
    if (!*s->base || strlen(s->base) + 16 > sizeof s->name)
        return hosmi_fail(msg, HOSM_E_IO, "cannot save to '%s': %s", path,
                          *s->base ? "the file name is too long" : "not a file name");
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        int e = errno;
        return hosmi_fail(msg, HOSM_E_IO, "cannot open the directory of '%s': %s", path,
                          strerror(e));
    }
    return HOSM_OK;
}

/* Writes the data to fd, gives it mode 0644 and fsyncs it: everything the
 * file needs before it may be renamed over the target. An errno, or 0. */
static int write_sync(int fd, const void *buf, int64_t size)
{
    int e = write_all(fd, buf, size);
    if (!e && fchmod(fd, 0644) != 0)
        e = errno;
    if (!e && fsync(fd) != 0)
        e = errno;
    return e;
}

/* Step 2 and the link of step 3 (see the top of the file): the data in an
 * unnamed O_TMPFILE file, locked and linked in as s->name. s->fd stays -1
 * (with 0 returned) when O_TMPFILE is unsupported or its file cannot be
 * linked, so that the caller falls back to a named file. An errno, or 0. */
static int write_unnamed(save_state *s, const void *buf, int64_t size)
{
    int e = 0;
    s->fd = openat(s->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (s->fd >= 0) {
        e = write_sync(s->fd, buf, size);
        if (!e && flock(s->fd, LOCK_EX) != 0)
            e = errno;
        if (!e) {
            int le = EEXIST;
            for (int tries = 0; le == EEXIST && tries < 100; tries++) {
                tmp_name(s->name, sizeof s->name, s->base, &s->rs);
                le = link_unnamed(s->fd, s->dirfd, s->name);
            }
            if (!le) {
                s->named = 1;
            } else { /* cannot be linked: use a named file instead */
                close(s->fd);
                s->fd = -1;
            }
        }
    }
    return e;
}

/* Creates and locks a new named temporary file s->name (O_EXCL), retrying
 * with a new name when another save removed or replaced it before the lock
 * was taken. On failure s->fd is -1 and the errno is returned, else 0. */
static int create_named(save_state *s)
{
    for (int tries = 0; tries < 100; tries++) {
        tmp_name(s->name, sizeof s->name, s->base, &s->rs);
        s->fd = openat(s->dirfd, s->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (s->fd < 0 && errno != EEXIST)
            break;
        if (s->fd < 0)
            continue;
        /* Locked, and still ours under that name: no other save removes it now. */
        struct stat a, b;
        if (flock(s->fd, LOCK_EX) == 0 && fstat(s->fd, &a) == 0 &&
            fstatat(s->dirfd, s->name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino)
            break;
        close(s->fd);
        s->fd = -1;
        errno = EEXIST;
    }
    return s->fd < 0 ? errno : 0;
}

/* The fallback of step 2 where O_TMPFILE cannot be used: the data in a
 * named temporary file. *what names the failed step. An errno, or 0. */
static int write_named(save_state *s, const void *buf, int64_t size, const char **what)
{
    int e = create_named(s);
    if (s->fd < 0) {
        *what = "create a temporary file for";
        return e;
    }
    s->named = 1;
    return write_sync(s->fd, buf, size);
}

int hosmi_write_file(const char *path, const void *buf, int64_t size, char *msg)
{
    char *target = NULL;
    int st = resolve_target(path, &target, msg);
    if (st)
        return st;
    save_state s = {.fd = -1};
    st = open_target_dir(&s, target, path, msg);
    if (st) {
        free(target);
        return st;
    }
    /* Leftovers of killed saves go first, so that at most one (of the last
     * killed save) ever exists, and their space is free for this one. */
    remove_stale(s.dirfd, s.base);
    s.rs = name_state();
    const char *what = "write";
    int e = write_unnamed(&s, buf, size);
    if (s.fd < 0 && !e) /* O_TMPFILE unsupported, or its file could not be linked */
        e = write_named(&s, buf, size, &what);
    if (!e && renameat(s.dirfd, s.name, s.dirfd, s.base) != 0) {
        e = errno;
        what = "rename a temporary file over";
    }
    if (e) {
        if (s.named)
            unlinkat(s.dirfd, s.name, 0);
    } else {
        fsync(s.dirfd); /* the rename itself; best effort (the data are already safe) */
    }
    if (s.fd >= 0)
        close(s.fd);
    close(s.dirfd);
    free(target);
    if (e)
        return hosmi_fail(msg, HOSM_E_IO, "cannot %s '%s': %s", what, path, strerror(e));
    return HOSM_OK;
}

int hosmi_read_file(const char *path, void **buf, int64_t *size, char *msg)
{
    *buf = NULL;
    /* Refuse special files before opening them: opening a FIFO would block
     * and opening a device may have effects. */
    struct stat st;
    if (stat(path, &st) != 0)
        return hosmi_fail(msg, HOSM_E_IO, "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return hosmi_fail(msg, HOSM_E_IO, "'%s' is %s, not a regular file", path,
                          kind_name(st.st_mode));
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return hosmi_fail(msg, HOSM_E_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { /* replaced meanwhile */
        close(fd);
        return hosmi_fail(msg, HOSM_E_IO, "'%s' is not a regular file", path);
    }
    int64_t n = (int64_t)st.st_size;
    uint8_t *p = hosmi_alloc(n, 1);
    if (!p) {
        close(fd);
        return hosmi_fail(msg, HOSM_E_NOMEM, "cannot hold '%s' (%lld bytes) in memory", path,
                          (long long)n);
    }
    int64_t got = 0;
    int e = 0;
    while (got < n) {
        ssize_t k = read(fd, p + got, (size_t)(n - got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            e = errno;
        if (k <= 0)
            break;
        got += k;
    }
    close(fd);
    if (got != n) {
        free(p);
        return hosmi_fail(msg, HOSM_E_IO, "cannot read '%s': %s", path,
                          e ? strerror(e) : "the file became shorter while it was read");
    }
    *buf = p;
    *size = n;
    return HOSM_OK;
}
