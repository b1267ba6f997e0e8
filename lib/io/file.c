/* Whole files: atomic writes (temporary file, fsync, rename) and reads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/file.h"

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

int hosmi_write_file(const char *path, const void *buf, int64_t size, char *msg)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return hosmi_fail(msg, HOSM_E_NOMEM, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp-XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return hosmi_fail(msg, HOSM_E_IO, "cannot create a temporary file beside '%s': %s", path,
                          strerror(e));
    }
    const uint8_t *p = buf;
    int64_t done = 0;
    while (done < size) {
        ssize_t k = write(fd, p + done, (size_t)(size - done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        done += k;
    }
    int e = done == size ? 0 : (errno ? errno : EIO);
    if (!e && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    /* mkstemp creates 0600; give the file the usual permissions. */
    if (!e && chmod(tmp, 0644) != 0)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        free(tmp);
        return hosmi_fail(msg, HOSM_E_IO, "cannot write '%s': %s", path, strerror(e));
    }
    free(tmp);
    return HOSM_OK;
}

int hosmi_read_file(const char *path, void **buf, int64_t *size, char *msg)
{
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return hosmi_fail(msg, HOSM_E_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return hosmi_fail(msg, HOSM_E_IO, "'%s' is not a regular file", path);
    }
    int64_t n = (int64_t)st.st_size;
    uint8_t *p = hosmi_alloc(n, 1);
    if (!p) {
        fclose(f);
        return hosmi_fail(msg, HOSM_E_NOMEM, "cannot hold '%s' (%lld bytes) in memory", path,
                          (long long)n);
    }
    size_t got = fread(p, 1, (size_t)n, f);
    fclose(f);
    if ((int64_t)got != n) {
        free(p);
        return hosmi_fail(msg, HOSM_E_IO, "cannot read '%s'", path);
    }
    *buf = p;
    *size = n;
    return HOSM_OK;
}
