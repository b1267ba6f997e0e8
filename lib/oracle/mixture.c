/* Gaussian-mixture oracle (docs/math.md#9-gaussian-mixture-oracle): exact log-density, score s1, Hessian
 * s2 and Tweedie posterior moments of the sigma-perturbed mixture
 *
 *   q_sigma = sum_k w_k N(mu_k, C_k),  C_k = Sigma_k + sigma^2 I,
 *
 * all in double precision. The handle holds only immutable data (weights,
 * means, covariances and their Cholesky factors); every query factors the
 * C_k of its sigma once into a per-call workspace, so queries on a const
 * handle are reentrant. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"
#include "oracle/mixture.h"

/* Relative tolerance of the symmetry check on the covariances. */
#define SYM_RTOL 1e-9
/* Stream of the sampling RNG (draws depend only on the caller's seed). */
#define SAMPLE_STREAM 0x6d69787475726531ULL

/* Dot product with four partial sums (independent chains keep the FPU busy). */
double hosmi_mix_dot(const double *a, const double *b, int64_t n)
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

/* ---- creation ------------------------------------------------------------ */

void hosm_mixture_free(hosm_mixture *mix)
{
    if (!hosmi_is_handle(mix, HOSMI_HANDLE_MIXTURE))
        return;
    mix->magic = HOSMI_HANDLE_FREED;
    free(mix->logw);
    free(mix->cumw);
    free(mix->mu);
    free(mix->cov);
    free(mix->chol);
    free(mix);
}

/* Validates the arguments of hosm_mixture_new; *wsum_out receives the sum of
 * the weights. */
static int check_inputs(const char *fn, int64_t k, int64_t dim, const double *weights,
                        const double *means, const double *covs, double *wsum_out)
{
    if (!weights || !means || !covs)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: %s is NULL", fn,
                          !weights ? "weights" : !means ? "means" : "covs");
    if (k < 1)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: k = %lld components (need at least 1)", fn,
                          (long long)k);
    if (dim < 1 || dim > HOSMI_MAX_DIM)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: dimension %lld is outside [1, %lld]", fn,
                          (long long)dim, (long long)HOSMI_MAX_DIM);
    const int64_t D = dim, DD = hosmi_mul(D, D);
    if (DD < 0 || hosmi_mul(k, D) < 0 || hosmi_mul(k, DD) < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: %lld components of dimension %lld are too large",
                          fn, (long long)k, (long long)D);

    /* Weights: positive and finite, with a finite sum. */
    double wsum = 0.0;
    for (int64_t c = 0; c < k; c++) {
        if (!(weights[c] > 0.0) || !isfinite(weights[c]))
            return hosmi_fail(NULL, HOSM_E_ARG,
                              "%s: weight of component %lld is %g (must be positive and finite)",
                              fn, (long long)c, weights[c]);
        wsum += weights[c];
    }
    if (!isfinite(wsum))
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: the weights sum to infinity", fn);
    for (int64_t c = 0; c < k; c++)
        for (int64_t i = 0; i < D; i++)
            if (!isfinite(means[c * D + i]))
                return hosmi_fail(NULL, HOSM_E_ARG,
                                  "%s: mean of component %lld has a NaN or Inf (entry %lld)", fn,
                                  (long long)c, (long long)i);
    *wsum_out = wsum;
    /* Covariances: finite and symmetric (definiteness is checked by the
     * Cholesky factorisation below). */
    for (int64_t c = 0; c < k; c++) {
        const double *S = covs + c * DD;
        for (int64_t i = 0; i < DD; i++)
            if (!isfinite(S[i]))
                return hosmi_fail(NULL, HOSM_E_ARG,
                                  "%s: covariance of component %lld has a NaN or Inf (entry "
                                  "(%lld, %lld))",
                                  fn, (long long)c, (long long)(i / D), (long long)(i % D));
        for (int64_t i = 0; i < D; i++)
            for (int64_t j = i + 1; j < D; j++) {
                const double a = S[i * D + j], b = S[j * D + i];
                double scale = sqrt(fabs(S[i * D + i])) * sqrt(fabs(S[j * D + j]));
                scale = fmax(scale, fmax(fabs(a), fabs(b)));
                if (fabs(a - b) > SYM_RTOL * scale)
                    return hosmi_fail(NULL, HOSM_E_ARG,
                                      "%s: covariance of component %lld is not symmetric "
                                      "(entries (%lld, %lld) = %g and (%lld, %lld) = %g)",
                                      fn, (long long)c, (long long)i, (long long)j, a,
                                      (long long)j, (long long)i, b);
            }
    }
    return HOSM_OK;
}

int hosm_mixture_new(hosm_mixture **out, int64_t k, int64_t dim, const double *weights,
                     const double *means, const double *covs)
{
    static const char fn[] = "hosm_mixture_new";
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: out is NULL", fn);
    *out = NULL;
    double wsum = 0.0;
    int st = check_inputs(fn, k, dim, weights, means, covs, &wsum);
    if (st)
        return st;
    const int64_t D = dim, DD = D * D, kD = k * D, kDD = k * DD;
    hosm_mixture *m = calloc(1, sizeof *m);
    if (!m)
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    m->magic = HOSMI_HANDLE_MIXTURE;
    m->k = k;
    m->dim = D;
    m->logw = hosmi_alloc(k, sizeof(double));
    m->cumw = hosmi_alloc(k, sizeof(double));
    m->mu = hosmi_alloc(kD, sizeof(double));
    m->cov = hosmi_alloc(kDD, sizeof(double));
    m->chol = hosmi_alloc(kDD, sizeof(double));
    if (!m->logw || !m->cumw || !m->mu || !m->cov || !m->chol) {
        hosm_mixture_free(m);
        return hosmi_fail(NULL, HOSM_E_NOMEM,
                          "%s: out of memory for %lld components of dimension %lld", fn,
                          (long long)k, (long long)D);
    }

    /* Normalise in logs so that a tiny weight next to a huge one stays exact. */
    const double lsum = log(wsum);
    double acc = 0.0;
    for (int64_t c = 0; c < k; c++) {
        m->logw[c] = log(weights[c]) - lsum;
        acc += weights[c] / wsum;
        m->cumw[c] = acc;
    }
    m->cumw[k - 1] = 1.0;
    memcpy(m->mu, means, (size_t)kD * sizeof(double));

    for (int64_t c = 0; c < k; c++) {
        const double *S = covs + c * DD;
        double *T = m->cov + c * DD;
        for (int64_t i = 0; i < D; i++)
            for (int64_t j = 0; j < D; j++)
                T[i * D + j] = 0.5 * (S[i * D + j] + S[j * D + i]);
        double *L = m->chol + c * DD;
        memcpy(L, T, (size_t)DD * sizeof(double));
        if (hosmi_chol(L, D) != 0) {
            hosm_mixture_free(m);
            return hosmi_fail(NULL, HOSM_E_ARG,
                              "%s: covariance of component %lld is not positive definite", fn,
                              (long long)c);
        }
    }
    *out = m;
    return HOSM_OK;
}

const char *hosm_mixture_errmsg(const hosm_mixture *mix)
{
    return hosmi_is_handle(mix, HOSMI_HANDLE_MIXTURE) ? mix->errmsg : "";
}

int hosm_mixture_dim(const hosm_mixture *mix, int64_t *out)
{
    int st = hosmi_check_handle(mix, HOSMI_HANDLE_MIXTURE, "hosm_mixture_dim", "mixture");
    if (st)
        return st;
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_mixture_dim: out is NULL");
    *out = mix->dim;
    return HOSM_OK;
}

/* ---- sampling ------------------------------------------------------------ */

int hosm_mixture_sample(const hosm_mixture *mix, uint64_t seed, int64_t n, float *out)
{
    static const char fn[] = "hosm_mixture_sample";
    int st = hosmi_check_handle(mix, HOSMI_HANDLE_MIXTURE, fn, "mixture");
    if (st)
        return st;
    if (n < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: n = %lld is negative", fn, (long long)n);
    const int64_t D = mix->dim;
    if (hosmi_mul(n, D) < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: n = %lld points is too many", fn, (long long)n);
    if (n == 0)
        return HOSM_OK;
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: out is NULL", fn);
    float *z = hosmi_alloc(D, sizeof(float));
    double *zd = hosmi_alloc(D, sizeof(double));
    if (!z || !zd) {
        free(z);
        free(zd);
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    }
    hosmi_rng rng;
    hosmi_rng_seed(&rng, seed, SAMPLE_STREAM);
    const int64_t DD = D * D;
    for (int64_t p = 0; p < n; p++) {
        /* Component: the first c with u <= cumw[c] (binary search). */
        const double u = hosmi_rng_uniform(&rng);
        int64_t lo = 0, hi = mix->k - 1;
        while (lo < hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (u <= mix->cumw[mid])
                hi = mid;
            else
                lo = mid + 1;
        }
        hosmi_rng_normal(&rng, z, D);
        for (int64_t i = 0; i < D; i++)
            zd[i] = (double)z[i];
        const double *mu = mix->mu + lo * D, *L = mix->chol + lo * DD;
        float *o = out + p * D;
        for (int64_t i = 0; i < D; i++)
            o[i] = (float)(mu[i] + hosmi_mix_dot(L + i * D, zd, i + 1));
    }
    free(z);
    free(zd);
    return HOSM_OK;
}
