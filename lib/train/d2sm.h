/* Second-order denoising score matching terms (MATH.md 3.2-3.3). */
#ifndef HOSM_D2SM_H
#define HOSM_D2SM_H

#include "model/model.h"

/* For one point with psi = s2 + s1 s1^T and T = w w^T - I / sigma^2
 * (w = z / sigma): returns alpha ||psi||_F^2 + beta <T, psi> (for "diag" both
 * restricted to the diagonal), and accumulates scale times its gradient with
 * respect to the raw s2 network output o into d_o and with respect to s1
 * into d_s1 (unless NULL). D2SM is (alpha, beta) = (1, -2) plus ||T||^2;
 * D2SM-VR is (1/2, -1) at x + sigma z and x - sigma z and (0, 2) at x.
 * work holds hosmi_s2_work_floats() floats. Never forms D x D for "diag" and
 * "lowrank": the low-rank terms are Gram products of V = [U, s1], O(D r^2). */
double hosmi_s2_term(const hosm_model *m, const hosmi_blas *blas, double sigma, const float *o,
                     const float *s1, const float *w, double alpha, double beta, double scale,
                     float *d_o, float *d_s1, float *work);

/* ||T||_F^2 (restricted to the diagonal for "diag"). */
double hosmi_s2_target_norm2(const hosm_model *m, double sigma, const float *w);

int64_t hosmi_s2_work_floats(const hosm_model *m);

#endif
