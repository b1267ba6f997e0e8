#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/linalg.h"

void hosmi_sym_eig(int64_t n, double *a, double *w, double *v)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            v[i * n + j] = i == j ? 1.0 : 0.0;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0, diag = 0.0;
        for (int64_t p = 0; p < n; p++) {
            diag += a[p * n + p] * a[p * n + p];
            for (int64_t q = p + 1; q < n; q++)
                off += a[p * n + q] * a[p * n + q];
        }
        if (off <= 1e-30 * diag || off == 0.0)
            break;
        for (int64_t p = 0; p < n - 1; p++) {
            for (int64_t q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (apq == 0.0)
                    continue;
                /* The rotation that zeroes a[p][q] (smaller angle root). */
                double theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int64_t k = 0; k < n; k++) {
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (int64_t k = 0; k < n; k++) {
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for (int64_t k = 0; k < n; k++) {
                    double vkp = v[k * n + p], vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    for (int64_t i = 0; i < n; i++)
        w[i] = a[i * n + i];
    /* Selection sort into descending order, permuting the vectors alike. */
    for (int64_t i = 0; i < n; i++) {
        int64_t best = i;
        for (int64_t j = i + 1; j < n; j++)
            if (w[j] > w[best])
                best = j;
        if (best == i)
            continue;
        double tw = w[i];
        w[i] = w[best];
        w[best] = tw;
        for (int64_t k = 0; k < n; k++) {
            double tv = v[k * n + i];
            v[k * n + i] = v[k * n + best];
            v[k * n + best] = tv;
        }
    }
}

static double dot(const double *x, const double *y, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

/* Removes from x its components along the j rows of q, twice for stability. */
static void orthogonalise(double *x, const double *q, int64_t j, int64_t n)
{
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < j; i++) {
            double c = dot(x, q + i * n, n);
            for (int64_t t = 0; t < n; t++)
                x[t] -= c * q[i * n + t];
        }
}

/* A fresh unit vector orthogonal to the j rows of q, or 0 if none is found. */
static int fresh_direction(double *x, const double *q, int64_t j, int64_t n, hosmi_rng *rng)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        for (int64_t t = 0; t < n; t++)
            x[t] = hosmi_rng_uniform(rng) - 0.5;
        orthogonalise(x, q, j, n);
        double norm = sqrt(dot(x, x, n));
        if (norm > 1e-8) {
            for (int64_t t = 0; t < n; t++)
                x[t] /= norm;
            return 1;
        }
    }
    return 0;
}

/* Ritz pairs of the m x m tridiagonal matrix (diagonal a, off-diagonal b):
 * values into theta (descending), vectors into the columns of y (m x m),
 * using a m x m scratch. */
static void ritz(int64_t m, const double *a, const double *b, double *scratch, double *theta,
                 double *y)
{
    memset(scratch, 0, (size_t)(m * m) * sizeof(double));
    for (int64_t i = 0; i < m; i++) {
        scratch[i * m + i] = a[i];
        if (i + 1 < m)
            scratch[i * m + i + 1] = scratch[(i + 1) * m + i] = b[i];
    }
    hosmi_sym_eig(m, scratch, theta, y);
}

/* Grows *p to hold count doubles (contents kept); 0 or -1. */
static int grow(double **p, int64_t count)
{
    int64_t bytes = hosmi_mul(count, sizeof(double));
    void *np = bytes < 0 ? NULL : realloc(*p, (size_t)bytes + 256);
    if (!np)
        return -1;
    *p = np;
    return 0;
}

int hosmi_lanczos_topk(int64_t n, int64_t k, hosmi_apply_fn apply, void *ctx, double *vals,
                       double *vecs)
{
    /* The basis grows until the k leading Ritz pairs have converged: their
     * residual |beta_m y_m| is below 1e-7 of the largest Ritz value, checked
     * at geometrically growing sizes m. Memory is O(m n + m^2); at m = n the
     * Krylov space is the whole space and the pairs are exact. */
    const double tol = 1e-7;
    int64_t check = k + 20 < n ? k + 20 : n, cap = check;
    double *q = NULL, *y = NULL, *scratch = NULL;
    double *a = hosmi_alloc(n, sizeof(double)), *b = hosmi_calloc(n, sizeof(double));
    double *w = hosmi_alloc(n, sizeof(double)), *theta = hosmi_alloc(n, sizeof(double));
    int ok = a && b && w && theta && grow(&q, (cap + 1) * n) == 0;
    int64_t used = 0;
    if (ok) {
        hosmi_rng rng;
        hosmi_rng_seed(&rng, 0x6c616e637a6f73ULL, 0); /* fixed: queries are deterministic */
        ok = fresh_direction(q, q, 0, n, &rng);
        for (int64_t j = 0; ok && j < n; j++) {
            apply(q + j * n, w, ctx);
            a[j] = dot(w, q + j * n, n);
            orthogonalise(w, q, j + 1, n);
            used = j + 1;
            double beta = sqrt(dot(w, w, n));
            int invariant = !(beta > 1e-10 * (fabs(a[j]) + 1e-300));
            if (used == check || used == n) {
                if (grow(&y, used * used) || grow(&scratch, used * used)) {
                    ok = 0;
                    break;
                }
                ritz(used, a, b, scratch, theta, y);
                double worst = 0.0; /* after an invariant subspace the residuals are 0 */
                for (int64_t c = 0; c < k && c < used && !invariant; c++)
                    worst = fmax(worst, fabs(beta * y[(used - 1) * used + c]));
                if (used >= k && worst <= tol * fmax(fabs(theta[0]), 1e-300))
                    break;
                check = check + check / 2 < n ? check + check / 2 : n;
            }
            if (used == n)
                break;
            if (used == cap) {
                cap = check;
                if (grow(&q, (cap + 1) * n)) {
                    ok = 0;
                    break;
                }
            }
            if (!invariant) {
                for (int64_t t = 0; t < n; t++)
                    q[(j + 1) * n + t] = w[t] / beta;
                b[j] = beta;
            } else if (!fresh_direction(q + (j + 1) * n, q, j + 1, n, &rng)) {
                break; /* the whole space is spanned */
            }
        }
        if (ok && (grow(&y, used * used) || grow(&scratch, used * used)))
            ok = 0;
        if (ok)
            ritz(used, a, b, scratch, theta, y);
        for (int64_t c = 0; ok && c < k; c++) {
            double *out = vecs + c * n;
            memset(out, 0, (size_t)n * sizeof(double));
            if (c >= used) { /* only if the operator's space is smaller than k */
                vals[c] = 0.0;
                continue;
            }
            vals[c] = theta[c];
            for (int64_t j = 0; j < used; j++)
                for (int64_t t = 0; t < n; t++)
                    out[t] += y[j * used + c] * q[j * n + t];
            double norm = sqrt(dot(out, out, n));
            for (int64_t t = 0; t < n; t++)
                out[t] /= norm;
        }
    }
    free(q);
    free(y);
    free(scratch);
    free(a);
    free(b);
    free(w);
    free(theta);
    return ok ? 0 : -1;
}
