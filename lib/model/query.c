/* First-order queries (score, Tweedie denoising) and the Jacobian of s1,
 * the autodiff baseline (docs/math.md), by forward-mode tangents. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/eval.h"

/* Rows per chunk in s1 queries: bounds the per-call workspace. */
#define QUERY_CHUNK 1024
/* Bounds the tangent workspace of a Jacobian chunk (floats). */
#define TANGENT_FLOATS ((int64_t)1 << 22)

typedef struct {
    const hosm_model *m;
    int64_t level;
    const float *x;
    float *out, *tmp;
    int denoise, symmetrize, diag_only;
} s1_args;

static int s1_chunk(void *ctx, hosmi_eval_ws *ws, int64_t i0, int64_t rows)
{
    const s1_args *q = ctx;
    const hosm_model *m = q->m;
    const int64_t D = m->arch.dim;
    const float *xi = q->x + i0 * D;
    float *o = q->out + i0 * D;
    hosmi_eval_s1(m, &m->blas, xi, NULL, q->level, rows, ws, q->tmp);
    const float s2 = (float)(m->sigmas[q->level] * m->sigmas[q->level]);
    for (int64_t j = 0; j < rows * D; j++)
        o[j] = q->denoise ? xi[j] + s2 * q->tmp[j] : q->tmp[j];
    return 0;
}

static int s1_query(const hosm_model *model, const char *fn, int64_t level, const float *x,
                    int64_t n, float *out, int denoise)
{
    int st = hosmi_check_query(model, fn, level, x, n);
    if (st)
        return st;
    if (n > 0 && !out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: out is NULL", fn);
    if (n == 0)
        return HOSM_OK;
    const int64_t cap = n < QUERY_CHUNK ? n : QUERY_CHUNK;
    s1_args q = {model, level, x, out, hosmi_alloc(hosmi_mul(cap, model->arch.dim), sizeof(float)),
                 denoise, 0, 0};
    if (!q.tmp)
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    st = hosmi_eval_chunks(model, fn, n, cap, cap, 0, 0, 0, s1_chunk, &q);
    free(q.tmp);
    return st ? st : hosmi_check_output(fn, out, n * model->arch.dim);
}

int hosm_model_score(const hosm_model *model, int64_t level, const float *x, int64_t n,
                     float *out)
{
    return s1_query(model, "hosm_model_score", level, x, n, out, 0);
}

int hosm_model_denoise(const hosm_model *model, int64_t level, const float *x, int64_t n,
                       float *out)
{
    return s1_query(model, "hosm_model_denoise", level, x, n, out, 1);
}

/* ---- the log density of an energy model ---- */

typedef struct {
    const hosm_model *m;
    int64_t level;
    const float *x;
    double *out;
} logp_args;

static int logp_chunk(void *ctx, hosmi_eval_ws *ws, int64_t i0, int64_t rows)
{
    const logp_args *q = ctx;
    hosmi_eval_log_density(q->m, &q->m->blas, q->x + i0 * q->m->arch.dim, NULL, q->level, rows,
                           ws, q->out + i0);
    return 0;
}

int hosm_model_log_density_unnormalized(const hosm_model *model, int64_t level, const float *x,
                                        int64_t n, double *out)
{
    static const char fn[] = "hosm_model_log_density_unnormalized";
    int st = hosmi_check_query(model, fn, level, x, n);
    if (st)
        return st;
    if (!hosmi_is_energy(model))
        return hosmi_fail(NULL, HOSM_E_UNSUPPORTED,
                          "%s: a score network has no log density (parameterization=score)", fn);
    if (n > 0 && !out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: out is NULL", fn);
    if (n == 0)
        return HOSM_OK;
    const int64_t cap = n < QUERY_CHUNK ? n : QUERY_CHUNK;
    logp_args q = {model, level, x, out};
    st = hosmi_eval_chunks(model, fn, n, cap, cap, 0, 0, 0, logp_chunk, &q);
    for (int64_t i = 0; i < n && !st; i++)
        if (!isfinite(out[i]))
            st = hosmi_fail(NULL, HOSM_E_NONFINITE,
                            "%s: the result overflows (NaN or Inf); the model's weights or "
                            "noise level give values out of range", fn);
    return st;
}

/* ---- the Jacobian of s1 ---- */

typedef struct {
    s1_args a;
    float *jt; /* rows x D x D tangents: jt[(i D + b) D + a] = d s1_a / d x_b */
} jac_args;

static int jacobian_chunk(void *ctx, hosmi_eval_ws *ws, int64_t i0, int64_t rows)
{
    const jac_args *q = ctx;
    const hosm_model *m = q->a.m;
    const int64_t D = m->arch.dim;
    hosmi_eval_s1(m, &m->blas, q->a.x + i0 * D, NULL, q->a.level, rows, ws, q->a.tmp);
    hosmi_eval_s1_tangent(m, &m->blas, NULL, q->a.level, rows, D, NULL, ws, q->jt);
    for (int64_t i = 0; i < rows; i++) {
        const float *t = q->jt + i * D * D;
        if (q->a.diag_only) {
            for (int64_t a = 0; a < D; a++)
                q->a.out[(i0 + i) * D + a] = t[a * D + a];
            continue;
        }
        float *o = q->a.out + (i0 + i) * D * D;
        for (int64_t a = 0; a < D; a++)
            for (int64_t b = 0; b < D; b++)
                o[a * D + b] = q->a.symmetrize ? 0.5f * (t[b * D + a] + t[a * D + b])
                                               : t[b * D + a];
    }
    return 0;
}

static int jacobian_query(const hosm_model *model, const char *fn, int64_t level, const float *x,
                          int64_t n, int symmetrize, int diag_only, float *out)
{
    int st = hosmi_check_query(model, fn, level, x, n);
    if (st)
        return st;
    const int64_t D = model->arch.dim, H = model->net.hidden;
    if (symmetrize != 0 && symmetrize != 1)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: symmetrize must be 0 or 1", fn);
    if (n > 0 && !out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: out is NULL", fn);
    if (hosmi_mul(hosmi_mul(n, D), D) < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: the output is too large", fn);
    if (n == 0)
        return HOSM_OK;
    /* Points per chunk: D tangent rows each, bounded tangent workspace. */
    int64_t cap = TANGENT_FLOATS / (D * (H > D ? H : D));
    cap = cap < 1 ? 1 : cap > n ? n : cap;
    jac_args q = {{model, level, x, out, hosmi_alloc(hosmi_mul(cap, D), sizeof(float)), 0,
                   symmetrize, diag_only},
                  hosmi_alloc(hosmi_mul(cap * D, D), sizeof(float))};
    if (!q.a.tmp || !q.jt)
        st = hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    else
        st = hosmi_eval_chunks(model, fn, n, cap, cap, HOSMI_PLAN_TANGENT, D, 0, jacobian_chunk,
                               &q);
    free(q.a.tmp);
    free(q.jt);
    return st ? st : hosmi_check_output(fn, out, diag_only ? n * D : n * D * D);
}

int hosm_model_score_jacobian(const hosm_model *model, int64_t level, const float *x, int64_t n,
                              int symmetrize, float *out)
{
    return jacobian_query(model, "hosm_model_score_jacobian", level, x, n, symmetrize, 0, out);
}

/* "average": the learned s2 into out first (a model without s2 fails before
 * any tangent), then the symmetrised Jacobian a chunk of points at a time
 * into a scratch block, averaged in. */
static int average_query(const hosm_model *model, const char *fn, int64_t level, const float *x,
                         int64_t n, float *out)
{
    int st = hosmi_s2_dense_query(model, fn, level, x, n, out);
    if (st || n == 0)
        return st;
    const int64_t DD = model->arch.dim * model->arch.dim;
    int64_t cap = TANGENT_FLOATS / DD;
    cap = cap < 1 ? 1 : cap > n ? n : cap;
    float *jac = hosmi_alloc(hosmi_mul(cap, DD), sizeof(float));
    if (!jac)
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    for (int64_t i0 = 0; i0 < n && !st; i0 += cap) {
        const int64_t rows = n - i0 < cap ? n - i0 : cap;
        st = jacobian_query(model, fn, level, x + i0 * model->arch.dim, rows, 1, 0, jac);
        float *o = out + i0 * DD;
        for (int64_t t = 0; !st && t < rows * DD; t++)
            o[t] = hosmi_average_estimate(o[t], jac[t]);
    }
    free(jac);
    return st;
}

int hosm_model_hessian_estimate(const hosm_model *model, int64_t level, const float *x, int64_t n,
                                int source, float *out)
{
    static const char fn[] = "hosm_model_hessian_estimate";
    int st = hosmi_check_query(model, fn, level, x, n);
    if (st)
        return st;
    switch (source) {
    case HOSM_HESSIAN_S2: return hosmi_s2_dense_query(model, fn, level, x, n, out);
    case HOSM_HESSIAN_JACOBIAN: return jacobian_query(model, fn, level, x, n, 1, 0, out);
    case HOSM_HESSIAN_AVERAGE: return average_query(model, fn, level, x, n, out);
    default:
        return hosmi_fail(NULL, HOSM_E_ARG,
                          "%s: source %d is not an enum hosm_hessian_source (0 s2, 1 jacobian, "
                          "2 average)",
                          fn, source);
    }
}

int hosm_model_score_jacobian_diag(const hosm_model *model, int64_t level, const float *x,
                                   int64_t n, float *out)
{
    return jacobian_query(model, "hosm_model_score_jacobian_diag", level, x, n, 0, 1, out);
}
