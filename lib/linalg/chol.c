/* Cholesky factorisation of symmetric positive definite matrices, and what
 * the factor gives: solves, the inverse and the log-determinant. Row-major
 * double, lower factor L with A = L L^T. */
#include <float.h>
#include <math.h>

#include "linalg/linalg.h"

/* Dot product with four partial sums (independent chains keep the FPU busy).
 * The mixture oracle's results depend on this exact summation order. */
static double chol_dot(const double *a, const double *b, int64_t n)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

int hosmi_chol(double *a, int64_t n)
{
    const double tiny = (double)n * DBL_EPSILON;
    for (int64_t j = 0; j < n; j++) {
        double *aj = a + j * n;
        const double d = aj[j] - chol_dot(aj, aj, j);
        if (!(d > tiny * aj[j]) || !isfinite(d))
            return -1;
        const double ljj = sqrt(d);
        aj[j] = ljj;
        for (int64_t i = j + 1; i < n; i++) {
            double *ai = a + i * n;
            ai[j] = (ai[j] - chol_dot(ai, aj, j)) / ljj;
        }
        for (int64_t m = j + 1; m < n; m++)
            aj[m] = 0.0;
    }
    return 0;
}

void hosmi_chol_solve(const double *l, int64_t n, double *x)
{
    /* L y = b (forward), then L^T x = y (backward, by columns of L). */
    for (int64_t i = 0; i < n; i++)
        x[i] = (x[i] - chol_dot(l + i * n, x, i)) / l[i * n + i];
    for (int64_t i = n - 1; i >= 0; i--) {
        x[i] /= l[i * n + i];
        for (int64_t m = 0; m < i; m++)
            x[m] -= l[i * n + m] * x[i];
    }
}

void hosmi_chol_inverse(const double *l, int64_t n, double *inv, double *work)
{
    double *u = work;
    for (int64_t j = 0; j < n; j++) {
        double *uj = u + j * n;
        for (int64_t i = 0; i < j; i++)
            uj[i] = 0.0;
        uj[j] = 1.0 / l[j * n + j];
        for (int64_t i = j + 1; i < n; i++)
            uj[i] = -chol_dot(l + i * n + j, uj + j, i - j) / l[i * n + i];
    }
    /* inv_ij = sum_{m >= max(i, j)} U_im U_jm: upper triangle, then mirrored. */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i; j < n; j++) {
            const double s = chol_dot(u + i * n + j, u + j * n + j, n - j);
            inv[i * n + j] = s;
            inv[j * n + i] = s;
        }
}

double hosmi_chol_logdet(const double *l, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += log(l[i * n + i]);
    return 2.0 * s;
}
