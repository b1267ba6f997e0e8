/* The s2 output layout, in one place. A point's s2 is held as the s2
 * network's outputs after eval.h's scaling:
 *   diag:    d (D): s2 = diag(d)
 *   lowrank: U (D x r, row-major) then d (D): s2 = U U^T + diag(d)
 *   full:    the upper triangle row by row, D (D + 1) / 2 values.
 * Decoding, products, the dense form, and the D2SM terms with their
 * adjoints (the gradient of the loss with respect to these values). */
#ifndef HOSM_S2LAYOUT_H
#define HOSM_S2LAYOUT_H

#include "core/internal.h"

typedef struct {
    int kind; /* enum hosm_s2 */
    int64_t D, r;
    const float *o;
} hosmi_s2_point;

/* Network outputs of an s2 structure (0 for none; -1 on overflow). */
int64_t hosmi_s2_outputs(int s2, int64_t dim, int64_t rank);
/* Position of entry (a, b) of a symmetric D x D matrix in the full layout. */
int64_t hosmi_packed_index(int64_t D, int64_t a, int64_t b);

/* U[a][j] of a low-rank s2, and the diagonal part d_a (diag and lowrank). */
double hosmi_s2_u(const hosmi_s2_point *v, int64_t a, int64_t j);
double hosmi_s2_d(const hosmi_s2_point *v, int64_t a);
/* The diagonal entry s2[a][a]. */
double hosmi_s2_diag(const hosmi_s2_point *v, int64_t a);
/* y = s2 x, with the diagonal part d raised to at least dmin for diag and
 * lowrank (-INFINITY for none); dmin does not apply to full. */
void hosmi_s2_apply(const hosmi_s2_point *v, double dmin, const double *x, double *y);
/* A "full" s2 as D x D floats, straight from its packed outputs. */
void hosmi_s2_unpack_full(const hosmi_s2_point *v, float *m);
/* The dense s2 (D x D doubles) with d raised to at least dmin as above.
 * fwork holds hosmi_s2_dense_work() floats (U U^T of a low-rank s2 is one
 * GEMM). */
void hosmi_s2_dense(const hosmi_s2_point *v, const hosmi_blas *blas, double dmin, double *m,
                    float *fwork);
int64_t hosmi_s2_dense_work(int kind, int64_t D, int64_t r);

/* The D2SM terms of one point, with psi = s2 + s1 s1^T and
 * T = w w^T - I / sigma^2 (w = z / sigma, is2 = 1 / sigma^2): returns
 * alpha ||psi||_F^2 + beta <T, psi> (both restricted to the diagonal for
 * diag) and adds scale times its gradient with respect to the s2 values into
 * d_o and with respect to s1 into d_s1 (unless NULL). Never forms D x D for
 * diag and lowrank: the low-rank terms are Gram products of V = [U, s1],
 * O(D r^2). work holds hosmi_s2_term_work() floats. */
double hosmi_s2_d2sm_term(const hosmi_s2_point *v, const hosmi_blas *blas, double is2,
                          const float *s1, const float *w, double alpha, double beta,
                          double scale, float *d_o, float *d_s1, float *work);
int64_t hosmi_s2_term_work(int kind, int64_t D, int64_t r);
/* Variance ratios u below this are raised to it in hosmi_s2_nll_term: the
 * resolution of u = 1 + sigma^2 d with d in float, which is also what the
 * queries' variances sigma^2 u resolve. */
#define HOSMI_NLL_U_MIN 1e-6

/* The Gaussian negative log-likelihood of rho (D) under the covariance
 * A = I + sigma^2 s2 of a diag or lowrank s2 (the posterior covariance
 * sigma^4 s2 + sigma^2 I over sigma^2), plus marginal times the sum of
 * each coordinate's own, over sigma^4:
 *     (log det A + rho^T A^-1 rho
 *      + marginal sum_a (log A_aa + rho_a^2 / A_aa)) / sigma^4,
 * adding scale times its gradient with respect to the s2 values into d_o.
 * Diagonal ratios u = 1 + sigma^2 d below HOSMI_NLL_U_MIN are raised to it
 * and the loss is continued linearly in u from there. O(D r^2) with
 * Woodbury's identity, never D x D; dwork holds hosmi_s2_nll_work()
 * doubles. Returns NaN if A is not positive definite (u > 0 makes it so). */
double hosmi_s2_nll_term(const hosmi_s2_point *v, double sigma, const float *rho,
                         double marginal, double scale, float *d_o, double *dwork);
int64_t hosmi_s2_nll_work(int kind, int64_t r);
/* ||T||_F^2 (restricted to the diagonal for diag). */
double hosmi_s2_target_norm2(int kind, int64_t D, double is2, const float *w);

#endif
