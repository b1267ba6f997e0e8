/* D2SM: || psi(x + sigma z) - T ||_F^2 with psi = s2 + s1 s1^T and
 * T = (z z^T - I) / sigma^2, expanded as ||psi||^2 - 2 <T, psi> + ||T||^2. */
#include "train/objective.h"

static double d2sm_point(const hosmi_batch *b, int64_t i, double scale)
{
    const hosm_model *m = b->m;
    const int64_t D = m->arch.dim;
    const double sigma = m->sigmas[b->level[i]], inv = 1.0 / sigma;
    for (int64_t j = 0; j < D; j++)
        b->w[j] = (float)(b->z[i * D + j] * inv);
    return hosmi_d2sm_block(b, i, HOSMI_BLOCK_NOISY, 1.0, -2.0, scale) +
           hosmi_s2_target_norm2(m->arch.s2, D, inv * inv, b->w);
}

const hosmi_objective hosmi_obj_d2sm = {2, HOSMI_ROWS(HOSMI_BLOCK_NOISY), HOSMI_TANGENTS_NONE,
                                        d2sm_point, 0};

/* Weight times ||s2(x + sign sigma z) - T'||^2 at one row (its noise is sign z),
 * with weight times scale times its gradient into ds2. */
static double res_row(const hosmi_batch *b, int64_t i, int block, double sign, double weight,
                      double scale)
{
    const hosm_model *m = b->m;
    const int64_t D = m->arch.dim;
    const double sigma = m->sigmas[b->level[i]], inv = 1.0 / sigma;
    const float *s1 = b->s1[block] + i * D;
    for (int64_t j = 0; j < D; j++)
        b->w[j] = (float)(sign * b->z[i * D + j] * inv + s1[j]);
    const hosmi_s2_point v = {m->arch.s2, D, m->rank, b->s2[block] + i * m->net2.out};
    return weight * (hosmi_s2_d2sm_term(&v, b->blas, inv * inv, b->zero, b->w, 1.0, -2.0,
                                        weight * scale, b->ds2[block] + i * m->net2.out, NULL,
                                        b->work) +
                     hosmi_s2_target_norm2(m->arch.s2, D, inv * inv, b->w));
}

/* Residual D2SM: || s2(x + sigma z) - T' ||_F^2 with
 * T' = (z / sigma + s1) (z / sigma + s1)^T - I / sigma^2 and s1 (at x + sigma z)
 * detached. sigma^2 (z / sigma + s1) = x_hat - x is the residual of the
 * model's own denoiser x_hat = x + sigma z + sigma^2 s1, so sigma^4 s2 +
 * sigma^2 I learns E[(x_hat - x)(x_hat - x)^T | x + sigma z]: the posterior
 * covariance plus the denoiser's own error, which is what a calibrated
 * error bar of x_hat needs (docs/math.md#32-second-order-d2sm). It is D2SM's
 * term with s1 = 0 in psi and w = z / sigma + s1. */
static double d2sm_res_point(const hosmi_batch *b, int64_t i, double scale)
{
    return res_row(b, i, HOSMI_BLOCK_NOISY, 1.0, 1.0, scale);
}

const hosmi_objective hosmi_obj_d2sm_res = {2, HOSMI_ROWS(HOSMI_BLOCK_NOISY), HOSMI_TANGENTS_NONE,
                                            d2sm_res_point, 0};

/* Residual D2SM-VR: the mean of the residual loss at x + sigma z and at
 * x - sigma z (noise -z), each against its own detached s1, plus the
 * control variate 2 <T, s2(x)> at the clean point (T = w w^T - I / sigma^2,
 * w = z / sigma; zero mean given x): the expectation of d2sm_res, with the
 * T part of the pair's targets cancelled to O(1) as in D2SM-VR
 * (docs/math.md#32-second-order-d2sm). */
static double d2sm_res_vr_point(const hosmi_batch *b, int64_t i, double scale)
{
    const hosm_model *m = b->m;
    const int64_t D = m->arch.dim;
    const double inv = 1.0 / m->sigmas[b->level[i]];
    double l = res_row(b, i, HOSMI_BLOCK_NOISY, 1.0, 0.5, scale) +
               res_row(b, i, HOSMI_BLOCK_ANTI, -1.0, 0.5, scale);
    for (int64_t j = 0; j < D; j++)
        b->w[j] = (float)(b->z[i * D + j] * inv);
    const hosmi_s2_point v0 = {m->arch.s2, D, m->rank,
                               b->s2[HOSMI_BLOCK_CLEAN] + i * m->net2.out};
    return l + hosmi_s2_d2sm_term(&v0, b->blas, inv * inv, b->zero, b->w, 0.0, 2.0, scale,
                                  b->ds2[HOSMI_BLOCK_CLEAN] + i * m->net2.out, NULL, b->work);
}

const hosmi_objective hosmi_obj_d2sm_res_vr = {2,
                                               HOSMI_ROWS(HOSMI_BLOCK_NOISY) |
                                                   HOSMI_ROWS(HOSMI_BLOCK_CLEAN) |
                                                   HOSMI_ROWS(HOSMI_BLOCK_ANTI),
                                               HOSMI_TANGENTS_NONE, d2sm_res_vr_point, 0};

/* Residual D2SM as a likelihood (s2_head=logvar, which makes the predicted
 * covariance sigma^2 A, A = I + sigma^2 s2, positive definite): the
 * Gaussian negative log-likelihood of the residual sigma^2 r = x_hat - x of
 * the detached s1's denoiser, rho = sigma r, over sigma^4,
 *     (log det A + rho^T A^-1 rho) / sigma^4.
 * Its minimiser is d2sm_res's, A = E[rho rho^T | x + sigma z] within the
 * structure, but it weighs relative errors of the variances alike where the
 * squared loss weighs absolute ones (docs/math.md#32-second-order-d2sm). */
static double d2sm_res_nll_point(const hosmi_batch *b, int64_t i, double scale)
{
    const hosm_model *m = b->m;
    const int64_t D = m->arch.dim;
    const double sigma = m->sigmas[b->level[i]];
    const float *z = b->z + i * D, *s1 = b->s1[HOSMI_BLOCK_NOISY] + i * D;
    for (int64_t a = 0; a < D; a++)
        b->w[a] = (float)(z[a] + sigma * s1[a]);
    const hosmi_s2_point v = {m->arch.s2, D, m->rank, b->s2[HOSMI_BLOCK_NOISY] + i * m->net2.out};
    return hosmi_s2_nll_term(&v, sigma, b->w, b->nll_marginal, scale,
                             b->ds2[HOSMI_BLOCK_NOISY] + i * m->net2.out, b->dwork);
}

const hosmi_objective hosmi_obj_d2sm_res_nll = {2, HOSMI_ROWS(HOSMI_BLOCK_NOISY),
                                                HOSMI_TANGENTS_NONE, d2sm_res_nll_point, 1};
