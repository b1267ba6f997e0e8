/* The Tweedie posterior covariance of one point, sigma^4 s2 + sigma^2 I,
 * and its clamp rule (docs/math.md, posterior covariance), defined once.
 * With clamp the covariance is made positive semidefinite by raising the
 * eigenvalues of s2 below -1/sigma^2 to -1/sigma^2: exactly for full (by a
 * symmetric eigendecomposition) and diag, and through the diagonal part
 * d >= -1/sigma^2 for lowrank (U U^T is PSD already: sufficient, not
 * necessary, and never D x D). */
#ifndef HOSM_POSTERIOR_H
#define HOSM_POSTERIOR_H

#include "model/s2layout.h"

typedef struct {
    hosmi_s2_point s2;
    double sigma2, sigma4; /* sigma^2, sigma^4 */
    double dmin;           /* the floor of d (-INFINITY without clamp) */
    int clamp;
} hosmi_posterior;

void hosmi_posterior_init(hosmi_posterior *p, const hosmi_s2_point *s2, double sigma, int clamp);
/* y = Cov x (for diag and lowrank with d clamped; full unclamped, whose
 * clamp acts on eigenvalues: see hosmi_posterior_topk). ctx is the posterior. */
void hosmi_posterior_apply(const double *x, double *y, void *ctx);
/* The dense covariance (D x D doubles). scratch holds 3 D^2 + D doubles,
 * fwork hosmi_s2_dense_work() floats. 0, or -2 when s2 holds NaN or Inf
 * (the clamp's eigensolver cannot run). */
int hosmi_posterior_dense(const hosmi_posterior *p, const hosmi_blas *blas, double *m,
                          double *scratch, float *fwork);
/* The variances (the diagonal) into var (D doubles); a clamped full s2
 * needs the dense form: scratch and fwork as for hosmi_posterior_dense,
 * else unused (may be NULL). 0, or -2 as hosmi_posterior_dense. */
int hosmi_posterior_var(const hosmi_posterior *p, const hosmi_blas *blas, double *var,
                        double *scratch, float *fwork);
/* The k leading eigenpairs, largest first: vals (k), vecs (k x D rows).
 * diag: the coordinate axes; lowrank and full: Lanczos on products with the
 * covariance (a clamped full s2 maps each covariance eigenvalue to
 * max(value, 0), keeping the vectors). work holds D doubles for diag.
 * 0, -1 without memory, or -2 when the covariance is out of range (as
 * hosmi_lanczos_topk). */
int hosmi_posterior_topk(const hosmi_posterior *p, int64_t k, double *vals, double *vecs,
                         double *work);

#endif
