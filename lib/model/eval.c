/* Evaluation of a model's networks and the 1/sigma output scaling. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/eval.h"

/* The energy network's plan for what a score network's would do: its s1
 * needs the input gradient, s1's tangents its Hessian-vector products, the
 * backward pass of s1 a tangent along ds1 and its reverse, the backward
 * pass of s1's tangents the mixed second-order pass; s2 rows are the
 * Hessian from D unit tangents. */
static int energy_alloc(hosmi_eval_ws *ws, const hosm_model *m, int64_t cap1, unsigned mode1,
                        int64_t k, int64_t cap2)
{
    unsigned mode = HOSMI_PLAN_GRAD;
    if (mode1 & HOSMI_PLAN_TANGENT_GRAD)
        mode = HOSMI_PLAN_MIXED;
    else if (mode1 & HOSMI_PLAN_TANGENT)
        mode = HOSMI_PLAN_HVP;
    else if (mode1 & HOSMI_PLAN_GRAD)
        mode = HOSMI_PLAN_TANGENT_GRAD;
    if (cap2 > 0) {
        mode |= HOSMI_PLAN_HVP;
        k = k > m->arch.dim ? k : m->arch.dim;
        cap1 = cap1 > cap2 ? cap1 : cap2;
    }
    k = k > 1 ? k : 1;
    if (hosmi_mlp_plan_alloc(&ws->p1, &m->net, cap1, mode, k) != 0)
        return -1;
    ws->row = hosmi_alloc(cap1, sizeof(float));
    if (cap2 > 0)
        ws->hess = hosmi_alloc(hosmi_mul(cap2, hosmi_mul(m->arch.dim, m->arch.dim)), sizeof(float));
    return !ws->row || (cap2 > 0 && !ws->hess) ? -1 : 0;
}

int hosmi_eval_alloc(hosmi_eval_ws *ws, const hosm_model *m, int64_t cap1, unsigned mode1,
                     int64_t k, int64_t cap2, unsigned mode2)
{
    memset(ws, 0, sizeof *ws);
    if (hosmi_is_energy(m)) {
        if (energy_alloc(ws, m, cap1, mode1, k, cap2) != 0) {
            hosmi_eval_free(ws);
            return -1;
        }
        return 0;
    }
    const int ratio = cap2 > 0 && m->arch.s2_head == HOSM_S2_HEAD_LOGVAR &&
                      (mode2 & HOSMI_PLAN_GRAD);
    if (ratio)
        ws->ratio = hosmi_alloc(hosmi_mul(cap2, m->arch.dim), sizeof(float));
    if ((cap1 > 0 && hosmi_mlp_plan_alloc(&ws->p1, &m->net, cap1, mode1, k) != 0) ||
        (cap2 > 0 && hosmi_mlp_plan_alloc(&ws->p2, &m->net2, cap2, mode2, 0) != 0) ||
        (ratio && !ws->ratio)) {
        hosmi_eval_free(ws);
        return -1;
    }
    return 0;
}

void hosmi_eval_free(hosmi_eval_ws *ws)
{
    hosmi_mlp_plan_free(&ws->p1);
    hosmi_mlp_plan_free(&ws->p2);
    free(ws->row);
    free(ws->hess);
    free(ws->ratio);
    ws->row = ws->hess = ws->ratio = NULL;
}

static float inv_sigma(const hosm_model *m, const int64_t *levels, int64_t level_all, int64_t i)
{
    return (float)(1.0 / m->sigmas[levels ? levels[i] : level_all]);
}

/* Rows of `cols` values times 1/sigma of the row's level, then the last
 * `cols2` values of each row once more. */
static void scale_rows(const hosm_model *m, const int64_t *levels, int64_t level_all, int64_t n,
                       int64_t cols, int64_t cols2, float *v)
{
    for (int64_t i = 0; i < n; i++) {
        const float inv = inv_sigma(m, levels, level_all, i);
        float *r = v + i * cols;
        for (int64_t j = 0; j < cols; j++)
            r[j] *= inv;
        for (int64_t j = cols - cols2; j < cols; j++)
            r[j] *= inv;
    }
}

/* Entries of an s1 row that carry 1/sigma^2 rather than 1/sigma: all of a
 * denoiser's, s1 = (F - x) / sigma^2. */
static int64_t s1_second_power(const hosm_model *m)
{
    return m->arch.param == HOSM_PARAM_DENOISER ? m->arch.dim : 0;
}

/* A denoiser's s1 and tangent rows (already times 1/sigma^2): minus the
 * inputs times 1/sigma^2; rows of k inputs of D each for point i (tin NULL:
 * the D unit vectors). */
static void minus_inputs(const hosm_model *m, const int64_t *levels, int64_t level_all, int64_t n,
                         int64_t k, const float *tin, float *v)
{
    const int64_t D = m->arch.dim;
    for (int64_t i = 0; i < n; i++) {
        const float inv = inv_sigma(m, levels, level_all, i), inv2 = inv * inv;
        float *r = v + i * k * D;
        if (!tin) {
            for (int64_t j = 0; j < D; j++)
                r[j * D + j] -= inv2;
            continue;
        }
        const float *t = tin + i * k * D;
        for (int64_t j = 0; j < k * D; j++)
            r[j] -= inv2 * t[j];
    }
}

/* Entries of an s2 output row that carry 1/sigma^2 rather than 1/sigma. */
static int64_t s2_second_power(const hosm_model *m)
{
    return m->arch.s2 == HOSM_S2_LOWRANK ? m->arch.dim : m->net2.out;
}

/* A log-variance head: the outputs h of the diagonal part d become
 * d = (exp(h) - 1) / sigma^2 in place (expm1 keeps the variance ratio
 * exp(h) exact near 1), with exp(h) into ratio (D a row, unless NULL) for
 * the backward pass; a low-rank U before them is LOGVAR_U_SCALE net / sigma.
 * That factor makes U learn 100 times slower than h: the likelihood is
 * nearly flat in the scale of U U^T's directions (an over-prediction by c
 * costs log c), where Adam's steps of the usual size wander far
 * (docs/math.md#32-second-order-d2sm). */
#define LOGVAR_U_SCALE 1e-2f
static void logvar_head(const hosm_model *m, const int64_t *levels, int64_t level_all, int64_t n,
                        float *ratio, float *v)
{
    const int64_t out = m->net2.out, D = m->arch.dim, d0 = out - D;
    for (int64_t i = 0; i < n; i++) {
        const float inv = inv_sigma(m, levels, level_all, i), inv2 = inv * inv;
        float *row = v + i * out;
        for (int64_t j = 0; j < d0; j++)
            row[j] *= inv * LOGVAR_U_SCALE;
        for (int64_t a = 0; a < D; a++) {
            const float h = row[d0 + a];
            if (ratio)
                ratio[i * D + a] = expf(h);
            row[d0 + a] = expm1f(h) * inv2;
        }
    }
}

/* Rows of cols values times -1/sigma of the row's level. */
static void scale_rows_neg(const hosm_model *m, const int64_t *levels, int64_t level_all,
                           int64_t n, int64_t cols, float *v)
{
    for (int64_t i = 0; i < n; i++) {
        const float inv = -inv_sigma(m, levels, level_all, i);
        for (int64_t j = 0; j < cols; j++)
            v[i * cols + j] *= inv;
    }
}

void hosmi_eval_s1(const hosm_model *m, const hosmi_blas *blas, const float *x,
                   const int64_t *levels, int64_t level_all, int64_t n, hosmi_eval_ws *ws,
                   float *s1)
{
    if (hosmi_is_energy(m)) {
        hosmi_mlp_forward(&m->net, blas, m->params, x, levels, level_all, n, &ws->p1, ws->row);
        hosmi_mlp_input_grad(&m->net, blas, m->params, n, &ws->p1, s1);
        scale_rows_neg(m, levels, level_all, n, m->arch.dim, s1);
        return;
    }
    hosmi_mlp_forward(&m->net, blas, m->params, x, levels, level_all, n, &ws->p1, s1);
    scale_rows(m, levels, level_all, n, m->arch.dim, s1_second_power(m), s1);
    if (m->arch.param == HOSM_PARAM_DENOISER)
        minus_inputs(m, levels, level_all, n, 1, x, s1);
}

void hosmi_eval_log_density(const hosm_model *m, const hosmi_blas *blas, const float *x,
                            const int64_t *levels, int64_t level_all, int64_t n,
                            hosmi_eval_ws *ws, double *out)
{
    hosmi_mlp_forward(&m->net, blas, m->params, x, levels, level_all, n, &ws->p1, ws->row);
    for (int64_t i = 0; i < n; i++)
        out[i] = -(double)ws->row[i] / m->sigmas[levels ? levels[i] : level_all];
}

/* An energy model's s2 rows: -Hessian(E) / sigma, packed "full". */
static void energy_s2(const hosm_model *m, const hosmi_blas *blas, const float *x,
                      const int64_t *levels, int64_t level_all, int64_t n, hosmi_eval_ws *ws,
                      float *s2)
{
    const int64_t D = m->arch.dim, P = hosmi_s2_out(m);
    hosmi_mlp_forward(&m->net, blas, m->params, x, levels, level_all, n, &ws->p1, ws->row);
    hosmi_mlp_input_grad(&m->net, blas, m->params, n, &ws->p1, NULL);
    hosmi_mlp_input_hvp(&m->net, blas, m->params, n, D, NULL, &ws->p1, ws->hess);
    for (int64_t i = 0; i < n; i++) {
        const float inv = -inv_sigma(m, levels, level_all, i);
        const float *h = ws->hess + i * D * D;
        float *o = s2 + i * P;
        /* The Hessian is symmetric by construction; its two float
         * evaluations differ by rounding only, averaged here. */
        for (int64_t a = 0, q = 0; a < D; a++)
            for (int64_t b = a; b < D; b++, q++)
                o[q] = 0.5f * inv * (h[a * D + b] + h[b * D + a]);
    }
}

void hosmi_eval_s2(const hosm_model *m, const hosmi_blas *blas, const float *x,
                   const int64_t *levels, int64_t level_all, int64_t n, hosmi_eval_ws *ws,
                   float *s2)
{
    if (hosmi_is_energy(m)) {
        energy_s2(m, blas, x, levels, level_all, n, ws, s2);
        return;
    }
    hosmi_mlp_forward(&m->net2, blas, hosmi_params2(m), x, levels, level_all, n, &ws->p2, s2);
    if (m->arch.s2_head == HOSM_S2_HEAD_LOGVAR) {
        logvar_head(m, levels, level_all, n, ws->ratio, s2);
        return;
    }
    scale_rows(m, levels, level_all, n, m->net2.out, s2_second_power(m), s2);
}

void hosmi_eval_s1_tangent(const hosm_model *m, const hosmi_blas *blas, const int64_t *levels,
                           int64_t level_all, int64_t n, int64_t k, const float *tin,
                           hosmi_eval_ws *ws, float *tout)
{
    const int64_t D = m->arch.dim;
    const int energy = hosmi_is_energy(m);
    if (energy)
        hosmi_mlp_input_hvp(&m->net, blas, m->params, n, k, tin, &ws->p1, tout);
    else
        hosmi_mlp_tangent(&m->net, blas, m->params, n, k, tin, &ws->p1, tout);
    const int denoiser = m->arch.param == HOSM_PARAM_DENOISER;
    for (int64_t i = 0; i < n; i++) {
        float inv = inv_sigma(m, levels, level_all, i);
        inv = energy ? -inv : denoiser ? inv * inv : inv;
        float *t = tout + i * k * D;
        for (int64_t j = 0; j < k * D; j++)
            t[j] *= inv;
    }
    if (denoiser)
        minus_inputs(m, levels, level_all, n, k, tin, tout);
}

/* ds1 . s1 = -(ds1 . grad E) / sigma: the tangent of E along ds1, whose
 * cotangent is -1/sigma, and its reverse. */
static void energy_s1_backward(const hosm_model *m, const hosmi_blas *blas,
                               const int64_t *levels, int64_t level_all, int64_t n,
                               hosmi_eval_ws *ws, const float *ds1, float *grad)
{
    hosmi_mlp_tangent(&m->net, blas, m->params, n, 1, ds1, &ws->p1, ws->row);
    for (int64_t i = 0; i < n; i++)
        ws->row[i] = -inv_sigma(m, levels, level_all, i);
    hosmi_mlp_tangent_backward(&m->net, blas, m->params, levels, level_all, n, 1, &ws->p1, NULL,
                               ws->row, grad);
}

void hosmi_eval_s1_backward(const hosm_model *m, const hosmi_blas *blas, const int64_t *levels,
                            int64_t level_all, int64_t n, hosmi_eval_ws *ws, float *ds1,
                            float *grad)
{
    if (hosmi_is_energy(m)) {
        energy_s1_backward(m, blas, levels, level_all, n, ws, ds1, grad);
        return;
    }
    scale_rows(m, levels, level_all, n, m->arch.dim, s1_second_power(m), ds1);
    hosmi_mlp_backward(&m->net, blas, m->params, levels, level_all, n, &ws->p1, ds1, grad, NULL);
}

void hosmi_eval_s2_backward(const hosm_model *m, const hosmi_blas *blas, const int64_t *levels,
                            int64_t level_all, int64_t n, hosmi_eval_ws *ws, float *ds2,
                            float *grad)
{
    if (m->arch.s2_head == HOSM_S2_HEAD_LOGVAR) {
        /* d d_a / d h_a = exp(h_a) / sigma^2; U = LOGVAR_U_SCALE net / sigma */
        const int64_t out = m->net2.out, D = m->arch.dim, d0 = out - D;
        for (int64_t i = 0; i < n; i++) {
            const float inv = inv_sigma(m, levels, level_all, i), inv2 = inv * inv;
            float *row = ds2 + i * out;
            for (int64_t j = 0; j < d0; j++)
                row[j] *= inv * LOGVAR_U_SCALE;
            for (int64_t a = 0; a < D; a++)
                row[d0 + a] *= ws->ratio[i * D + a] * inv2;
        }
    } else {
        scale_rows(m, levels, level_all, n, m->net2.out, s2_second_power(m), ds2);
    }
    hosmi_mlp_backward(&m->net2, blas, hosmi_params2(m), levels, level_all, n, &ws->p2, ds2,
                       grad + m->net.nparams, NULL);
}

void hosmi_eval_s1_tangent_backward(const hosm_model *m, const hosmi_blas *blas,
                                    const int64_t *levels, int64_t level_all, int64_t n,
                                    int64_t k, hosmi_eval_ws *ws, float *ds1, float *dt,
                                    float *grad)
{
    const int64_t D = m->arch.dim;
    if (hosmi_is_energy(m)) {
        /* dt . (J v) = -(dt^T Hessian(E) v) / sigma, then ds1's part. */
        for (int64_t i = 0; i < n; i++) {
            const float inv = -inv_sigma(m, levels, level_all, i);
            for (int64_t j = 0; j < k * D; j++)
                dt[i * k * D + j] *= inv;
        }
        hosmi_mlp_mixed_backward(&m->net, blas, m->params, levels, level_all, n, k, dt, &ws->p1,
                                 grad);
        if (ds1)
            energy_s1_backward(m, blas, levels, level_all, n, ws, ds1, grad);
        return;
    }
    if (ds1)
        scale_rows(m, levels, level_all, n, D, s1_second_power(m), ds1);
    scale_rows(m, levels, level_all, n, k * D, s1_second_power(m) ? k * D : 0, dt);
    hosmi_mlp_tangent_backward(&m->net, blas, m->params, levels, level_all, n, k, &ws->p1, ds1, dt,
                               grad);
}

int hosmi_eval_chunks(const hosm_model *m, const char *fn, int64_t n, int64_t cap, int64_t cap1,
                      unsigned mode1, int64_t k, int64_t cap2, hosmi_chunk_fn chunk, void *ctx)
{
    hosmi_eval_ws ws;
    if (hosmi_eval_alloc(&ws, m, cap1, mode1, k, cap2, 0) != 0)
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    int st = HOSM_OK;
    for (int64_t i0 = 0; i0 < n && !st; i0 += cap)
        st = chunk(ctx, &ws, i0, n - i0 < cap ? n - i0 : cap);
    hosmi_eval_free(&ws);
    return st;
}

int hosmi_check_query(const hosm_model *m, const char *fn, int64_t level, const float *x,
                      int64_t n)
{
    int st = hosmi_check_model(m, fn);
    if (!st)
        st = hosmi_check_level(m, fn, level);
    if (!st)
        st = hosmi_check_points(NULL, fn, x, n, m->arch.dim);
    return st;
}

int hosmi_check_output(const char *fn, const float *out, int64_t count)
{
    if (!hosmi_all_finite(out, count))
        return hosmi_fail(NULL, HOSM_E_NONFINITE,
                          "%s: the result overflows float (NaN or Inf); the model's weights or "
                          "noise level give values out of range", fn);
    return HOSM_OK;
}
