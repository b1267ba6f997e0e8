/* Helpers of the s2-suite tests beyond tests/test_util.h: a dense symmetric
 * eigensolver (cyclic Jacobi, in double), CRC-32 and little-endian access for
 * file surgery, and a relative Frobenius error. Header-only. */
#ifndef S2_COMMON_H
#define S2_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hosm.h"

/* Unit roundoff of float32. */
#define U32 (0x1.0p-24)

#include "../test_util.h"

/* Uniform in (-a, a). */
static inline double trng_sym(trng *r, double a)
{
    return a * (2.0 * trng_uniform(r) - 1.0);
}

/* ---- dense symmetric eigenproblems -------------------------------------- */

/* Eigen-decomposition of the symmetric n x n matrix a (row-major, not
 * modified) by cyclic Jacobi rotations in double: eigenvalues into w in
 * descending order and, if v is not NULL, unit eigenvectors into the columns
 * of v (v[i * n + j] = entry i of vector j). Sweeps run until the
 * off-diagonal mass is below 1e-28 of the total (eigenvalues then exact to
 * ~1e-14 relative to ||a||). */
static inline void jacobi_eig(int n, const double *a_in, double *w, double *v)
{
    double *a = xmalloc((size_t)n * n * sizeof *a);
    double *q = xmalloc((size_t)n * n * sizeof *q);
    memcpy(a, a_in, (size_t)n * n * sizeof *a);
    for (int i = 0; i < n * n; i++)
        q[i] = 0.0;
    for (int i = 0; i < n; i++)
        q[i * n + i] = 1.0;
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0.0, tot = 0.0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                tot += a[i * n + j] * a[i * n + j];
                if (i != j)
                    off += a[i * n + j] * a[i * n + j];
            }
        if (off <= 1e-28 * tot)
            break;
        for (int p = 0; p < n - 1; p++)
            for (int r = p + 1; r < n; r++) {
                double apr = a[p * n + r];
                if (apr == 0.0)
                    continue;
                double app = a[p * n + p], arr = a[r * n + r];
                double theta = 0.5 * (arr - app) / apr;
                double t = (theta >= 0.0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(1.0 + theta * theta));
                double c = 1.0 / sqrt(1.0 + t * t), s = t * c;
                /* A <- J^T A J with J the rotation in the (p, r) plane. */
                for (int k = 0; k < n; k++) {
                    double akp = a[k * n + p], akr = a[k * n + r];
                    a[k * n + p] = c * akp - s * akr;
                    a[k * n + r] = s * akp + c * akr;
                }
                for (int k = 0; k < n; k++) {
                    double apk = a[p * n + k], ark = a[r * n + k];
                    a[p * n + k] = c * apk - s * ark;
                    a[r * n + k] = s * apk + c * ark;
                }
                for (int k = 0; k < n; k++) {
                    double qkp = q[k * n + p], qkr = q[k * n + r];
                    q[k * n + p] = c * qkp - s * qkr;
                    q[k * n + r] = s * qkp + c * qkr;
                }
            }
    }
    /* Sort descending (index order by value). */
    int *idx = xmalloc((size_t)n * sizeof *idx);
    for (int i = 0; i < n; i++)
        idx[i] = i;
    for (int i = 1; i < n; i++) {
        int t = idx[i], j = i;
        while (j > 0 && a[idx[j - 1] * n + idx[j - 1]] < a[t * n + t]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = t;
    }
    for (int i = 0; i < n; i++)
        w[i] = a[idx[i] * n + idx[i]];
    if (v)
        for (int k = 0; k < n; k++)
            for (int j = 0; j < n; j++)
                v[k * n + j] = q[k * n + idx[j]];
    free(idx);
    free(a);
    free(q);
}

/* Smallest eigenvalue of a symmetric float matrix (n x n). */
static inline double min_eig_f(int n, const float *m)
{
    double *a = xmalloc((size_t)n * n * sizeof *a), *w = xmalloc((size_t)n * sizeof *w);
    for (int i = 0; i < n * n; i++)
        a[i] = m[i];
    jacobi_eig(n, a, w, NULL);
    double r = w[n - 1];
    free(a);
    free(w);
    return r;
}

/* ---- CRC-32 (IEEE 802.3, reflected 0xEDB88320: zlib's crc32) ------------- */
static inline uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* Little-endian field access in a file buffer. */
static inline uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Rewrites the trailing CRC-32 of a whole file held in buf. */
static inline void fix_crc(uint8_t *buf, int64_t size)
{
    put_le(buf + size - 4, crc32_ieee(buf, (size_t)(size - 4)), 4);
}

/* Relative Frobenius distance ||a - b|| / ||b|| of n floats. */
static inline double rel_frob_f(const float *a, const float *b, int64_t n)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return sqrt(num / den);
}

#endif
