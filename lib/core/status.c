/* Status texts and the per-thread / per-handle failure messages. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "core/internal.h"

static _Thread_local char thread_msg[HOSMI_MSG_CAP];

const char *hosm_strerror(int status)
{
    switch (status) {
    case HOSM_OK: return "success";
    case HOSM_STOPPED: return "stopped by the progress callback";
    case HOSM_E_NULL: return "a required pointer argument is NULL";
    case HOSM_E_ARG: return "invalid argument";
    case HOSM_E_KEY: return "unknown configuration key";
    case HOSM_E_RANGE: return "configuration value out of range";
    case HOSM_E_TYPE: return "configuration key used with the wrong type";
    case HOSM_E_NOMEM: return "out of memory";
    case HOSM_E_NONFINITE: return "NaN or Inf in input data or loss";
    case HOSM_E_IO: return "input/output error";
    case HOSM_E_FORMAT: return "not a libhosm file of the expected kind";
    case HOSM_E_VERSION: return "unsupported libhosm file format version";
    case HOSM_E_CORRUPT: return "corrupt data (checksum or contents)";
    case HOSM_E_TRUNCATED: return "data ends too early";
    case HOSM_E_MISMATCH: return "sizes or architectures do not match";
    case HOSM_E_BUFFER: return "caller buffer too small";
    case HOSM_E_PARSE: return "configuration text could not be parsed";
    case HOSM_E_UNSUPPORTED: return "the model's structure cannot answer this query";
    case HOSM_E_MISUSE: return "a handle of the wrong kind, or one already freed";
    case HOSM_E_CALLBACK: return "a caller's callback returned a failure";
    default: return "unknown status code";
    }
}

const char *hosm_last_errmsg(void)
{
    return thread_msg;
}

int hosmi_fail(char *handle_msg, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(thread_msg, sizeof thread_msg, fmt, ap);
    va_end(ap);
    if (handle_msg)
        memcpy(handle_msg, thread_msg, HOSMI_MSG_CAP);
    return status;
}

int64_t hosmi_mul(int64_t n, int64_t m)
{
    if (n < 0 || m < 0)
        return -1;
    if (n != 0 && m > HOSMI_MAX_ELEMS / n)
        return -1;
    return n * m;
}

/* Debian's BLIS 0.9 packing reads a few elements past the end of small
 * operands; every buffer gets this much slack (and caller inputs are staged
 * into such buffers before a GEMM) so that no read leaves an allocation. */
#define SLACK_BYTES 256

void *hosmi_alloc(int64_t count, size_t size)
{
    if (count < 0 || count > HOSMI_MAX_ELEMS || (uint64_t)count > (SIZE_MAX - SLACK_BYTES) / size)
        return NULL;
    return malloc((size_t)count * size + SLACK_BYTES);
}

void *hosmi_calloc(int64_t count, size_t size)
{
    if (count < 0 || count > HOSMI_MAX_ELEMS || (uint64_t)count > (SIZE_MAX - SLACK_BYTES) / size)
        return NULL;
    return calloc(1, (size_t)count * size + SLACK_BYTES);
}

/* Blocks of 256 (a loop GCC vectorises: x - x is 0 for finite x, NaN
 * otherwise), the tail one by one. */
int hosmi_all_finite(const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 256 <= n; i += 256) {
        int bad = 0;
        for (int j = 0; j < 256; j++)
            bad |= !(x[i + j] - x[i + j] == 0.0f);
        if (bad)
            return 0;
    }
    for (; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

int hosmi_is_handle(const void *handle, uint32_t magic)
{
    uint32_t m;
    if (!handle)
        return 0;
    memcpy(&m, handle, sizeof m);
    return m == magic;
}

int hosmi_check_handle(const void *handle, uint32_t magic, const char *fn, const char *what)
{
    if (!handle)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: %s is NULL", fn, what);
    uint32_t m;
    memcpy(&m, handle, sizeof m);
    if (m == magic)
        return HOSM_OK;
    if (m == HOSMI_HANDLE_FREED)
        return hosmi_fail(NULL, HOSM_E_MISUSE, "%s: the %s was already freed", fn, what);
    return hosmi_fail(NULL, HOSM_E_MISUSE, "%s: the handle given as %s is not a %s", fn, what,
                      what);
}
