#define _GNU_SOURCE
/* The --wrap shims of fault.h. Single-threaded use only (the tests arm them
 * around one library call at a time). */
#include <errno.h>
#include <stddef.h>
#include <sys/types.h>

#include "fault.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_fsync(int fd);

static int64_t alloc_at, alloc_seen;
static int alloc_failed;
static int64_t write_at, write_seen, fsync_at, fsync_seen;
static int write_err, fsync_err, io_failed;

void fault_alloc_arm(int64_t k)
{
    alloc_at = k;
    alloc_seen = 0;
    alloc_failed = 0;
}

int64_t fault_alloc_count(void)
{
    return alloc_seen;
}

int fault_alloc_failed(void)
{
    return alloc_failed;
}

static int alloc_fails(void)
{
    if (!alloc_at)
        return 0;
    if (++alloc_seen == alloc_at) {
        alloc_failed = 1;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n)
{
    return alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    return alloc_fails() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    return alloc_fails() ? NULL : __real_realloc(p, n);
}

void fault_write_arm(int64_t k, int err)
{
    write_at = k;
    write_seen = 0;
    write_err = err;
    io_failed = 0;
}

void fault_fsync_arm(int64_t k, int err)
{
    fsync_at = k;
    fsync_seen = 0;
    fsync_err = err;
    io_failed = 0;
}

int64_t fault_write_count(void)
{
    return write_seen;
}

int fault_io_failed(void)
{
    return io_failed;
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    if (write_at && ++write_seen == write_at) {
        io_failed = 1;
        errno = write_err;
        return -1;
    }
    return __real_write(fd, buf, n);
}

int __wrap_fsync(int fd)
{
    if (fsync_at && ++fsync_seen == fsync_at) {
        io_failed = 1;
        errno = fsync_err;
        return -1;
    }
    return __real_fsync(fd);
}

/* openat: glibc may name it openat64 (_FILE_OFFSET_BITS=64); both wrapped. */
#include <fcntl.h>
#include <stdarg.h>

int __real_openat(int dirfd, const char *path, int flags, ...);
int __real_openat64(int dirfd, const char *path, int flags, ...);
static int no_tmpfile;

void fault_no_tmpfile(int on)
{
    no_tmpfile = on;
}

static int refuse_tmpfile(int flags)
{
    if (no_tmpfile && (flags & O_TMPFILE) == O_TMPFILE) {
        errno = EOPNOTSUPP;
        return 1;
    }
    return 0;
}

int __wrap_openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
    va_end(ap);
    return refuse_tmpfile(flags) ? -1 : __real_openat(dirfd, path, flags, mode);
}

int __wrap_openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
    va_end(ap);
    return refuse_tmpfile(flags) ? -1 : __real_openat64(dirfd, path, flags, mode);
}
