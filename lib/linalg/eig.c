/* Dense symmetric eigensolvers in double precision. */
#include <math.h>
#include <string.h>

#include "linalg/linalg.h"

/* Selection sort of count eigenpairs into descending order of vals; entry t
 * of vector i is vecs[i * vec_step + t * elem_step], len entries a vector. */
void hosmi_sort_pairs(int64_t count, double *vals, double *vecs, int64_t len, int64_t vec_step,
                       int64_t elem_step)
{
    for (int64_t i = 0; i < count; i++) {
        int64_t best = i;
        for (int64_t j = i + 1; j < count; j++)
            if (vals[j] > vals[best])
                best = j;
        if (best == i)
            continue;
        double tv = vals[i];
        vals[i] = vals[best];
        vals[best] = tv;
        for (int64_t t = 0; t < len; t++) {
            double *x = vecs + i * vec_step + t * elem_step;
            double *y = vecs + best * vec_step + t * elem_step;
            double tmp = *x;
            *x = *y;
            *y = tmp;
        }
    }
}

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
    hosmi_sort_pairs(n, w, v, n, 1, n); /* vector j is column j */
}
