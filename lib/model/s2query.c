/* Second-order queries: the learned s2 in its structure, Hessian-vector
 * products and the Tweedie posterior covariance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/eval.h"
#include "model/posterior.h"

/* Bounds the per-call workspace: network output floats per chunk. */
#define CHUNK_FLOATS ((int64_t)1 << 22)

typedef enum { Q_DENSE, Q_DIAG, Q_FACTORS, Q_HVP, Q_COV, Q_VAR, Q_TOPK } query_kind;

typedef struct {
    const char *fn;
    query_kind kind;
    int clamp;
    int64_t k, level;
    const hosm_model *m;
    const float *x, *v;  /* points; Q_HVP vectors */
    float *out, *out2;   /* outputs (Q_FACTORS: u, d; Q_TOPK: vals, vecs) */
    float *o;            /* s2 values of a chunk */
    double *work;        /* per-point scratch */
    float *fwork;        /* per-point float scratch of the dense form */
} query_args;

/* One point's answer from its s2 values: 0, -1 without memory, -2 for
 * NaN or Inf in s2 or a covariance out of range. */
static int point_query(const query_args *q, const hosmi_s2_point *v, int64_t i)
{
    const int64_t D = v->D;
    hosmi_posterior post;
    hosmi_posterior_init(&post, v, q->m->sigmas[q->level], q->clamp);
    double *w = q->work;
    switch (q->kind) {
    case Q_DENSE:
    case Q_COV:
        if (q->kind == Q_DENSE && v->kind == HOSM_S2_FULL) {
            hosmi_s2_unpack_full(v, q->out + i * D * D);
            return 0;
        }
        if (q->kind == Q_DENSE)
            hosmi_s2_dense(v, &q->m->blas, -INFINITY, w, q->fwork);
        else if (hosmi_posterior_dense(&post, &q->m->blas, w, w + D * D, q->fwork) != 0)
            return -2;
        for (int64_t t = 0; t < D * D; t++)
            q->out[i * D * D + t] = (float)w[t];
        return 0;
    case Q_DIAG:
        for (int64_t a = 0; a < D; a++)
            q->out[i * D + a] = (float)hosmi_s2_diag(v, a);
        return 0;
    case Q_VAR:
        if (hosmi_posterior_var(&post, &q->m->blas, w, w + D, q->fwork) != 0)
            return -2;
        for (int64_t a = 0; a < D; a++)
            q->out[i * D + a] = (float)w[a];
        return 0;
    case Q_FACTORS:
        memcpy(q->out + i * D * v->r, v->o, (size_t)(D * v->r) * sizeof(float));
        for (int64_t a = 0; a < D; a++)
            q->out2[i * D + a] = (float)hosmi_s2_d(v, a);
        return 0;
    case Q_HVP:
        for (int64_t a = 0; a < D; a++)
            w[a] = q->v[i * D + a];
        hosmi_s2_apply(v, -INFINITY, w, w + D);
        for (int64_t a = 0; a < D; a++)
            q->out[i * D + a] = (float)w[D + a];
        return 0;
    case Q_TOPK: {
        const int64_t k = q->k;
        double *vals = w, *vecs = w + k, *scratch = w + k + k * D;
        const int st = hosmi_posterior_topk(&post, k, vals, vecs, scratch);
        if (st)
            return st;
        for (int64_t c = 0; c < k; c++)
            q->out[i * k + c] = (float)vals[c];
        for (int64_t t = 0; t < k * D; t++)
            q->out2[i * k * D + t] = (float)vecs[t];
        return 0;
    }
    }
    return 0;
}

static int s2_chunk(void *ctx, hosmi_eval_ws *ws, int64_t i0, int64_t rows)
{
    const query_args *q = ctx;
    const hosm_model *m = q->m;
    const int64_t D = m->arch.dim, outputs = hosmi_s2_out(m);
    hosmi_eval_s2(m, &m->blas, q->x + i0 * D, NULL, q->level, rows, ws, q->o);
    for (int64_t i = 0; i < rows; i++) {
        hosmi_s2_point v = {hosmi_s2_kind(m), D, m->rank, q->o + i * outputs};
        const int pq = point_query(q, &v, i0 + i);
        if (pq == -2)
            return hosmi_fail(NULL, HOSM_E_NONFINITE,
                              "%s: the posterior of point %lld is not finite (NaN or Inf in s2, "
                              "or values out of range)",
                              q->fn, (long long)(i0 + i));
        if (pq)
            return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", q->fn);
    }
    return HOSM_OK;
}

/* Per-point scratch doubles a query needs. */
static int64_t work_doubles(const hosm_model *m, const query_args *q)
{
    const int64_t D = m->arch.dim;
    if (q->kind == Q_TOPK)
        return q->k * (D + 1) + D;
    if (q->kind == Q_DENSE || q->kind == Q_COV ||
        (q->kind == Q_VAR && hosmi_s2_kind(m) == HOSM_S2_FULL))
        return hosmi_mul(4 * D + 2, D);
    return 2 * D;
}

/* Floats of output a query writes a point, in out and out2. */
static void output_counts(const hosm_model *m, const query_args *q, int64_t *c1, int64_t *c2)
{
    const int64_t D = m->arch.dim;
    *c2 = 0;
    switch (q->kind) {
    case Q_DENSE:
    case Q_COV: *c1 = hosmi_mul(D, D); break;
    case Q_FACTORS: *c1 = hosmi_mul(D, m->rank); *c2 = D; break;
    case Q_TOPK: *c1 = q->k; *c2 = hosmi_mul(q->k, D); break;
    default: *c1 = D;
    }
}

static int check_s2_query(const hosm_model *model, const char *fn, int64_t level, const float *x,
                          int64_t n, const query_args *q)
{
    int st = hosmi_check_query(model, fn, level, x, n);
    if (st)
        return st;
    const int64_t D = model->arch.dim;
    if (hosmi_s2_kind(model) == HOSM_S2_NONE)
        return hosmi_fail(NULL, HOSM_E_UNSUPPORTED, "%s: the model has no s2 network (s2=none)",
                          fn);
    if (q->kind == Q_FACTORS && hosmi_s2_kind(model) != HOSM_S2_LOWRANK)
        return hosmi_fail(NULL, HOSM_E_UNSUPPORTED, "%s: factors exist only for s2=lowrank", fn);
    if (q->kind == Q_TOPK && (q->k < 1 || q->k > D))
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: k = %lld is outside [1, %lld]", fn,
                          (long long)q->k, (long long)D);
    if (q->clamp != 0 && q->clamp != 1)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: clamp must be 0 or 1", fn);
    if (n > 0 && (!q->out || (q->kind == Q_FACTORS || q->kind == Q_TOPK ? !q->out2 : 0)))
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: an output buffer is NULL", fn);
    if (q->kind == Q_HVP && (st = hosmi_check_points(NULL, fn, q->v, n, D)) != HOSM_OK)
        return st;
    const int64_t dense = q->kind == Q_DENSE || q->kind == Q_COV ? hosmi_mul(D, D) : D;
    if (dense < 0 || hosmi_mul(n, dense) < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: the output is too large", fn);
    return HOSM_OK;
}

static int s2_query(const hosm_model *model, const char *fn, int64_t level, const float *x,
                    int64_t n, query_args *q)
{
    int st = check_s2_query(model, fn, level, x, n, q);
    if (st || n == 0)
        return st;
    const int64_t D = model->arch.dim, outputs = hosmi_s2_out(model);
    /* An energy model's rows hold D Hessian tangents of the hidden width. */
    const int64_t row = hosmi_is_energy(model)
                            ? D * (model->net.hidden > D ? model->net.hidden : D) *
                                  (model->net.depth + 3)
                            : outputs;
    int64_t cap = CHUNK_FLOATS / row;
    cap = cap < 1 ? 1 : cap > n ? n : cap > 1024 ? 1024 : cap;
    q->fn = fn;
    q->m = model;
    q->x = x;
    q->level = level;
    q->o = hosmi_alloc(hosmi_mul(cap, outputs), sizeof(float));
    q->work = hosmi_alloc(work_doubles(model, q), sizeof(double));
    const int dense = q->kind == Q_DENSE || q->kind == Q_COV ||
                      (q->kind == Q_VAR && hosmi_s2_kind(model) == HOSM_S2_FULL);
    q->fwork = hosmi_alloc(dense ? hosmi_s2_dense_work(hosmi_s2_kind(model), D, model->rank) : 1,
                           sizeof(float));
    if (!q->o || !q->work || !q->fwork)
        st = hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    else
        st = hosmi_eval_chunks(model, fn, n, cap, 0, 0, 0, cap, s2_chunk, q);
    free(q->o);
    free(q->work);
    free(q->fwork);
    int64_t c1, c2;
    output_counts(model, q, &c1, &c2);
    if (!st)
        st = hosmi_check_output(fn, q->out, n * c1);
    if (!st && c2)
        st = hosmi_check_output(fn, q->out2, n * c2);
    return st;
}

int hosmi_s2_dense_query(const hosm_model *model, const char *fn, int64_t level, const float *x,
                         int64_t n, float *out)
{
    query_args q = {.kind = Q_DENSE, .out = out};
    return s2_query(model, fn, level, x, n, &q);
}

int hosm_model_hessian(const hosm_model *model, int64_t level, const float *x, int64_t n,
                       float *out)
{
    return hosmi_s2_dense_query(model, "hosm_model_hessian", level, x, n, out);
}

int hosm_model_hessian_diag(const hosm_model *model, int64_t level, const float *x, int64_t n,
                            float *out)
{
    query_args q = {.kind = Q_DIAG, .out = out};
    return s2_query(model, "hosm_model_hessian_diag", level, x, n, &q);
}

int hosm_model_hessian_factors(const hosm_model *model, int64_t level, const float *x, int64_t n,
                               float *u, float *d)
{
    query_args q = {.kind = Q_FACTORS, .out = u, .out2 = d};
    return s2_query(model, "hosm_model_hessian_factors", level, x, n, &q);
}

int hosm_model_hvp(const hosm_model *model, int64_t level, const float *x, const float *v,
                   int64_t n, float *out)
{
    query_args q = {.kind = Q_HVP, .v = v, .out = out};
    return s2_query(model, "hosm_model_hvp", level, x, n, &q);
}

int hosm_model_posterior_cov(const hosm_model *model, int64_t level, const float *x, int64_t n,
                             int clamp, float *out)
{
    query_args q = {.kind = Q_COV, .clamp = clamp, .out = out};
    return s2_query(model, "hosm_model_posterior_cov", level, x, n, &q);
}

int hosm_model_posterior_var(const hosm_model *model, int64_t level, const float *x, int64_t n,
                             int clamp, float *out)
{
    query_args q = {.kind = Q_VAR, .clamp = clamp, .out = out};
    return s2_query(model, "hosm_model_posterior_var", level, x, n, &q);
}

int hosm_model_posterior_topk(const hosm_model *model, int64_t level, const float *x, int64_t n,
                              int64_t k, int clamp, float *vals, float *vecs)
{
    query_args q = {.kind = Q_TOPK, .clamp = clamp, .k = k, .out = vals, .out2 = vecs};
    return s2_query(model, "hosm_model_posterior_topk", level, x, n, &q);
}
