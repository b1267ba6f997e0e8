/* Evaluation of a model's networks and the 1/sigma output scaling. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/eval.h"

int hosmi_eval_alloc(hosmi_eval_ws *ws, const hosm_model *m, int64_t cap1, unsigned mode1,
                     int64_t k, int64_t cap2, unsigned mode2)
{
    memset(ws, 0, sizeof *ws);
    if ((cap1 > 0 && hosmi_mlp_plan_alloc(&ws->p1, &m->net, cap1, mode1, k) != 0) ||
        (cap2 > 0 && hosmi_mlp_plan_alloc(&ws->p2, &m->net2, cap2, mode2, 0) != 0)) {
        hosmi_eval_free(ws);
        return -1;
    }
    return 0;
}

void hosmi_eval_free(hosmi_eval_ws *ws)
{
    hosmi_mlp_plan_free(&ws->p1);
    hosmi_mlp_plan_free(&ws->p2);
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

/* Entries of an s2 output row that carry 1/sigma^2 rather than 1/sigma. */
static int64_t s2_second_power(const hosm_model *m)
{
    return m->arch.s2 == HOSM_S2_LOWRANK ? m->arch.dim : m->net2.out;
}

void hosmi_eval_s1(const hosm_model *m, const hosmi_blas *blas, const float *x,
                   const int64_t *levels, int64_t level_all, int64_t n, hosmi_eval_ws *ws,
                   float *s1)
{
    hosmi_mlp_forward(&m->net, blas, m->params, x, levels, level_all, n, &ws->p1, s1);
    scale_rows(m, levels, level_all, n, m->arch.dim, 0, s1);
}

void hosmi_eval_s2(const hosm_model *m, const hosmi_blas *blas, const float *x,
                   const int64_t *levels, int64_t level_all, int64_t n, hosmi_eval_ws *ws,
                   float *s2)
{
    hosmi_mlp_forward(&m->net2, blas, hosmi_params2(m), x, levels, level_all, n, &ws->p2, s2);
    scale_rows(m, levels, level_all, n, m->net2.out, s2_second_power(m), s2);
}

void hosmi_eval_s1_tangent(const hosm_model *m, const hosmi_blas *blas, const int64_t *levels,
                           int64_t level_all, int64_t n, int64_t k, const float *tin,
                           hosmi_eval_ws *ws, float *tout)
{
    const int64_t D = m->arch.dim;
    hosmi_mlp_tangent(&m->net, blas, m->params, n, k, tin, &ws->p1, tout);
    for (int64_t i = 0; i < n; i++) {
        const float inv = inv_sigma(m, levels, level_all, i);
        float *t = tout + i * k * D;
        for (int64_t j = 0; j < k * D; j++)
            t[j] *= inv;
    }
}

void hosmi_eval_s1_backward(const hosm_model *m, const hosmi_blas *blas, const int64_t *levels,
                            int64_t level_all, int64_t n, hosmi_eval_ws *ws, float *ds1,
                            float *grad)
{
    scale_rows(m, levels, level_all, n, m->arch.dim, 0, ds1);
    hosmi_mlp_backward(&m->net, blas, m->params, levels, level_all, n, &ws->p1, ds1, grad, NULL);
}

void hosmi_eval_s2_backward(const hosm_model *m, const hosmi_blas *blas, const int64_t *levels,
                            int64_t level_all, int64_t n, hosmi_eval_ws *ws, float *ds2,
                            float *grad)
{
    scale_rows(m, levels, level_all, n, m->net2.out, s2_second_power(m), ds2);
    hosmi_mlp_backward(&m->net2, blas, hosmi_params2(m), levels, level_all, n, &ws->p2, ds2,
                       grad + m->net.nparams, NULL);
}

void hosmi_eval_s1_tangent_backward(const hosm_model *m, const hosmi_blas *blas,
                                    const int64_t *levels, int64_t level_all, int64_t n,
                                    int64_t k, hosmi_eval_ws *ws, float *ds1, float *dt,
                                    float *grad)
{
    const int64_t D = m->arch.dim;
    if (ds1)
        scale_rows(m, levels, level_all, n, D, 0, ds1);
    for (int64_t i = 0; i < n; i++) {
        const float inv = inv_sigma(m, levels, level_all, i);
        float *t = dt + i * k * D;
        for (int64_t j = 0; j < k * D; j++)
            t[j] *= inv;
    }
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
