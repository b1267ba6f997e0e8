/* Second-order queries: the learned s2 in its structure (diagonal, low-rank
 * plus diagonal, full), Hessian-vector products, the Tweedie posterior
 * covariance, and the Jacobian of s1 (the autodiff baseline). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"
#include "model/model.h"

/* Bounds the per-call workspace: network output floats per chunk. */
#define CHUNK_FLOATS ((int64_t)1 << 22)

int64_t hosmi_s2_outputs(int s2, int64_t dim, int64_t rank)
{
    switch (s2) {
    case HOSM_S2_DIAG: return dim;
    case HOSM_S2_LOWRANK: return hosmi_mul(dim, rank + 1);
    case HOSM_S2_FULL: return hosmi_mul(dim, dim + 1) < 0 ? -1 : dim * (dim + 1) / 2;
    default: return 0;
    }
}

int64_t hosmi_packed_index(int64_t D, int64_t a, int64_t b)
{
    if (a > b) {
        int64_t t = a;
        a = b;
        b = t;
    }
    return a * D - a * (a - 1) / 2 + (b - a);
}

/* One point's s2 from its raw network output o, in double. */
typedef struct {
    int kind;
    int64_t D, r;
    double inv_s, inv_s2; /* 1/sigma, 1/sigma^2 */
    const float *o;
} s2_view;

static double u_at(const s2_view *v, int64_t a, int64_t j)
{
    return v->o[a * v->r + j] * v->inv_s;
}

static double d_at(const s2_view *v, int64_t a)
{
    const int64_t off = v->kind == HOSM_S2_LOWRANK ? v->D * v->r : 0;
    return v->o[off + a] * v->inv_s2;
}

static double s2_entry(const s2_view *v, int64_t a, int64_t b)
{
    if (v->kind == HOSM_S2_FULL)
        return v->o[hosmi_packed_index(v->D, a, b)] * v->inv_s2;
    double s = a == b ? d_at(v, a) : 0.0;
    if (v->kind == HOSM_S2_LOWRANK)
        for (int64_t j = 0; j < v->r; j++)
            s += u_at(v, a, j) * u_at(v, b, j);
    return s;
}

static double s2_diag(const s2_view *v, int64_t a)
{
    if (v->kind == HOSM_S2_FULL)
        return s2_entry(v, a, a);
    double s = d_at(v, a);
    if (v->kind == HOSM_S2_LOWRANK)
        for (int64_t j = 0; j < v->r; j++)
            s += u_at(v, a, j) * u_at(v, a, j);
    return s;
}

/* y = s2 x with the diagonal part raised to at least dmin (pass -INFINITY for
 * none); for "full" dmin is not used (the caller clamps by eigenvalues). */
static void s2_apply(const s2_view *v, double dmin, const double *x, double *y)
{
    const int64_t D = v->D;
    if (v->kind == HOSM_S2_FULL) {
        for (int64_t a = 0; a < D; a++) {
            double s = 0.0;
            for (int64_t b = 0; b < D; b++)
                s += s2_entry(v, a, b) * x[b];
            y[a] = s;
        }
        return;
    }
    for (int64_t a = 0; a < D; a++)
        y[a] = fmax(d_at(v, a), dmin) * x[a];
    if (v->kind == HOSM_S2_LOWRANK)
        for (int64_t j = 0; j < v->r; j++) {
            double c = 0.0;
            for (int64_t a = 0; a < D; a++)
                c += u_at(v, a, j) * x[a];
            for (int64_t a = 0; a < D; a++)
                y[a] += u_at(v, a, j) * c;
        }
}

/* ---- the common query driver ---- */

typedef enum {
    Q_DENSE,
    Q_DIAG,
    Q_FACTORS,
    Q_HVP,
    Q_COV,
    Q_VAR,
    Q_TOPK
} query_kind;

typedef struct {
    query_kind kind;
    int clamp;
    int64_t k;
    const float *v;          /* Q_HVP input */
    float *out, *out2;       /* outputs (Q_FACTORS: u, d; Q_TOPK: vals, vecs) */
    double *work;            /* per-point scratch */
    float *fwork;            /* per-point float scratch: U and U U^T of a dense low-rank s2 */
    const hosmi_blas *blas;
} query_args;

typedef struct {
    const s2_view *v;
    double sigma2, sigma4, dmin;
} cov_op;

/* Posterior covariance operator sigma^4 s2 + sigma^2 I (clamped through d). */
static void cov_apply(const double *x, double *y, void *ctx)
{
    const cov_op *c = ctx;
    s2_apply(c->v, c->dmin, x, y);
    for (int64_t a = 0; a < c->v->D; a++)
        y[a] = c->sigma4 * y[a] + c->sigma2 * x[a];
}

/* Dense s2 (or, with cov, the posterior covariance) of one point into m, with
 * the clamp applied by eigenvalues for "full" and through d otherwise.
 * scratch holds 3 D^2 + D doubles. 0, or -2 when the clamp's eigensolver
 * meets NaN or Inf. */
static int dense_point(const s2_view *v, const query_args *q, double sigma, int cov, int clamp,
                        double *m, double *scratch)
{
    const int64_t D = v->D, r = v->r;
    const double floor_ = -v->inv_s2;
    if (v->kind == HOSM_S2_LOWRANK) {
        /* U U^T as one GEMM, then the diagonal (clamped through d). */
        float *u = q->fwork, *uut = q->fwork + D * r;
        for (int64_t t = 0; t < D * r; t++)
            u[t] = (float)(v->o[t] * v->inv_s);
        hosmi_sgemm(q->blas, 0, 1, D, D, r, 1.0f, u, r, u, r, 0.0f, uut, D);
        for (int64_t t = 0; t < D * D; t++)
            m[t] = uut[t];
        for (int64_t a = 0; a < D; a++)
            m[a * D + a] += clamp ? fmax(d_at(v, a), floor_) : d_at(v, a);
    } else {
        for (int64_t a = 0; a < D; a++)
            for (int64_t b = 0; b < D; b++) {
                double s = s2_entry(v, a, b);
                if (clamp && a == b && v->kind == HOSM_S2_DIAG)
                    s = fmax(s, floor_);
                m[a * D + b] = s;
            }
    }
    if (clamp && v->kind == HOSM_S2_FULL) {
        double *a = scratch, *vecs = scratch + D * D, *w = scratch + 2 * D * D;
        memcpy(a, m, (size_t)(D * D) * sizeof(double));
        if (hosmi_sym_eig(D, a, w, vecs) != 0)
            return -2; /* NaN or Inf in s2 */
        for (int64_t i = 0; i < D; i++)
            w[i] = fmax(w[i], floor_);
        hosmi_sym_rebuild(q->blas, D, vecs, w, m, a); /* m = Q diag(w) Q^T */
    }
    if (cov) {
        double s4 = sigma * sigma * sigma * sigma, s2 = sigma * sigma;
        for (int64_t i = 0; i < D * D; i++)
            m[i] *= s4;
        for (int64_t a = 0; a < D; a++)
            m[a * D + a] += s2;
    }
    return 0;
}

static int point_query(const s2_view *v, double sigma, int64_t i, const query_args *q)
{
    const int64_t D = v->D;
    const double floor_ = q->clamp ? -v->inv_s2 : -INFINITY;
    const double s2 = sigma * sigma, s4 = s2 * s2;
    double *w = q->work;
    switch (q->kind) {
    case Q_DENSE:
    case Q_COV:
        if (dense_point(v, q, sigma, q->kind == Q_COV, q->clamp, w, w + D * D) != 0)
            return -2;
        for (int64_t t = 0; t < D * D; t++)
            q->out[i * D * D + t] = (float)w[t];
        return 0;
    case Q_DIAG:
        for (int64_t a = 0; a < D; a++)
            q->out[i * D + a] = (float)s2_diag(v, a);
        return 0;
    case Q_VAR:
        if (v->kind == HOSM_S2_FULL && q->clamp) {
            if (dense_point(v, q, sigma, 1, 1, w, w + D * D) != 0)
                return -2;
            for (int64_t a = 0; a < D; a++)
                q->out[i * D + a] = (float)w[a * D + a];
        } else {
            for (int64_t a = 0; a < D; a++) {
                double dd = s2_diag(v, a);
                if (v->kind != HOSM_S2_FULL)
                    dd += fmax(d_at(v, a), floor_) - d_at(v, a);
                q->out[i * D + a] = (float)(s4 * dd + s2);
            }
        }
        return 0;
    case Q_FACTORS:
        for (int64_t a = 0; a < D; a++) {
            for (int64_t j = 0; j < v->r; j++)
                q->out[(i * D + a) * v->r + j] = (float)u_at(v, a, j);
            q->out2[i * D + a] = (float)d_at(v, a);
        }
        return 0;
    case Q_HVP:
        for (int64_t a = 0; a < D; a++)
            w[a] = q->v[i * D + a];
        s2_apply(v, -INFINITY, w, w + D);
        for (int64_t a = 0; a < D; a++)
            q->out[i * D + a] = (float)w[D + a];
        return 0;
    case Q_TOPK: {
        const int64_t k = q->k;
        float *vals = q->out + i * k, *vecs = q->out2 + i * k * D;
        if (v->kind == HOSM_S2_DIAG) {
            /* Coordinate axes: the k largest variances. */
            for (int64_t a = 0; a < D; a++)
                w[a] = s4 * fmax(d_at(v, a), floor_) + s2;
            memset(vecs, 0, (size_t)(k * D) * sizeof(float));
            for (int64_t c = 0; c < k; c++) {
                int64_t best = -1;
                for (int64_t a = 0; a < D; a++)
                    if (w[a] != -INFINITY && (best < 0 || w[a] > w[best]))
                        best = a;
                vals[c] = (float)w[best];
                vecs[c * D + best] = 1.0f;
                w[best] = -INFINITY;
            }
        } else {
            /* Lanczos on products with the covariance: never D x D beyond the
             * network's own packed output. Clamping a full s2 maps each
             * covariance eigenvalue to max(value, 0) and keeps the vectors;
             * a low-rank s2 is clamped through d inside the product. */
            cov_op op = {v, s2, s4, floor_};
            double *ev = w, *vv = w + k;
            if (hosmi_lanczos_topk(D, k, cov_apply, &op, ev, vv) != 0)
                return -1;
            for (int64_t c = 0; c < k; c++) {
                vals[c] = (float)(v->kind == HOSM_S2_FULL && q->clamp ? fmax(ev[c], 0.0) : ev[c]);
                for (int64_t t = 0; t < D; t++)
                    vecs[c * D + t] = (float)vv[c * D + t];
            }
        }
        return 0;
    }
    }
    return 0;
}

/* Per-point scratch doubles a query needs. */
static int64_t work_doubles(const hosm_model *m, const query_args *q)
{
    const int64_t D = m->arch.dim;
    if (q->kind == Q_TOPK && m->arch.s2 != HOSM_S2_DIAG)
        return q->k * (D + 1);
    if (q->kind == Q_DENSE || q->kind == Q_COV ||
        (q->kind == Q_VAR && m->arch.s2 == HOSM_S2_FULL))
        return hosmi_mul(4 * D + 1, D);
    return 2 * D;
}

static int s2_query(const hosm_model *model, const char *fn, int64_t level, const float *x,
                    int64_t n, query_args *q)
{
    if (!model)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: model is NULL", fn);
    if (level < 0 || level >= model->arch.levels)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: level %lld is outside [0, %lld)", fn,
                          (long long)level, (long long)model->arch.levels);
    const int64_t D = model->arch.dim;
    int st = hosmi_check_points(NULL, fn, x, n, D);
    if (st)
        return st;
    if (model->arch.s2 == HOSM_S2_NONE)
        return hosmi_fail(NULL, HOSM_E_UNSUPPORTED, "%s: the model has no s2 network (s2=none)",
                          fn);
    if (q->kind == Q_FACTORS && model->arch.s2 != HOSM_S2_LOWRANK)
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
    const int64_t outputs = model->net2.out;
    const int64_t dense = q->kind == Q_DENSE || q->kind == Q_COV ? hosmi_mul(D, D) : D;
    if (dense < 0 || hosmi_mul(n, dense) < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: the output is too large", fn);
    if (n == 0)
        return HOSM_OK;
    int64_t cap = CHUNK_FLOATS / outputs;
    cap = cap < 1 ? 1 : cap > n ? n : cap > 1024 ? 1024 : cap;
    hosmi_mlp_ws ws = {0};
    float *o = hosmi_alloc(hosmi_mul(cap, outputs), sizeof(float));
    q->work = hosmi_alloc(work_doubles(model, q), sizeof(double));
    q->blas = &model->blas;
    const int dense_lowrank = (q->kind == Q_DENSE || q->kind == Q_COV) &&
                              model->arch.s2 == HOSM_S2_LOWRANK;
    q->fwork = hosmi_alloc(dense_lowrank ? hosmi_mul(D, D + model->rank) : 1, sizeof(float));
    if (!o || !q->work || !q->fwork || hosmi_mlp_ws_alloc(&ws, &model->net2, cap) != 0) {
        st = hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    const double sigma = model->sigmas[level];
    for (int64_t i0 = 0; i0 < n && !st; i0 += cap) {
        int64_t rows = n - i0 < cap ? n - i0 : cap;
        hosmi_mlp_forward(&model->net2, &model->blas, hosmi_params2(model), x + i0 * D, NULL,
                          level, rows, &ws, o);
        for (int64_t i = 0; i < rows; i++) {
            s2_view v = {model->arch.s2, D, model->rank, 1.0 / sigma, 1.0 / (sigma * sigma),
                         o + i * outputs};
            const int pq = point_query(&v, sigma, i0 + i, q);
            if (pq != 0) {
                st = pq == -2 ? hosmi_fail(NULL, HOSM_E_NONFINITE,
                                           "%s: s2 of point %lld has a NaN or Inf", fn,
                                           (long long)(i0 + i))
                              : hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
                break;
            }
        }
    }
done:
    hosmi_mlp_ws_free(&ws);
    free(o);
    free(q->work);
    free(q->fwork);
    return st;
}

int hosm_model_hessian(const hosm_model *model, int64_t level, const float *x, int64_t n,
                       float *out)
{
    query_args q = {.kind = Q_DENSE, .out = out};
    return s2_query(model, "hosm_model_hessian", level, x, n, &q);
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

/* ---- the Jacobian of s1 ---- */

static int jacobian_query(const hosm_model *model, const char *fn, int64_t level, const float *x,
                          int64_t n, int symmetrize, int diag_only, float *out)
{
    if (!model)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: model is NULL", fn);
    if (level < 0 || level >= model->arch.levels)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: level %lld is outside [0, %lld)", fn,
                          (long long)level, (long long)model->arch.levels);
    const int64_t D = model->arch.dim, H = model->net.hidden;
    int st = hosmi_check_points(NULL, fn, x, n, D);
    if (st)
        return st;
    if (symmetrize != 0 && symmetrize != 1)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: symmetrize must be 0 or 1", fn);
    if (n > 0 && !out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: out is NULL", fn);
    if (hosmi_mul(hosmi_mul(n, D), D) < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: the output is too large", fn);
    if (n == 0)
        return HOSM_OK;
    /* Points per chunk: D tangent rows each, bounded tangent workspace. */
    int64_t per_point = D * (H > D ? H : D);
    int64_t cap = CHUNK_FLOATS / per_point;
    cap = cap < 1 ? 1 : cap > n ? n : cap;
    hosmi_mlp_ws ws = {0};
    float *tan = hosmi_alloc(hosmi_mul(2 * cap * D, H), sizeof(float));
    float *jt = hosmi_alloc(hosmi_mul(cap * D, D), sizeof(float));
    float *tmp = hosmi_alloc(hosmi_mul(cap, D), sizeof(float));
    if (!tan || !jt || !tmp || hosmi_mlp_ws_alloc(&ws, &model->net, cap) != 0) {
        st = hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    } else {
        const float inv = (float)(1.0 / model->sigmas[level]);
        for (int64_t i0 = 0; i0 < n; i0 += cap) {
            int64_t rows = n - i0 < cap ? n - i0 : cap;
            hosmi_mlp_forward(&model->net, &model->blas, model->params, x + i0 * D, NULL, level,
                              rows, &ws, tmp);
            hosmi_mlp_jacobian(&model->net, &model->blas, model->params, rows, &ws, tan, jt);
            for (int64_t i = 0; i < rows; i++) {
                const float *t = jt + i * D * D; /* t[b * D + a] = d s1_a / d x_b (unscaled) */
                if (diag_only) {
                    for (int64_t a = 0; a < D; a++)
                        out[(i0 + i) * D + a] = t[a * D + a] * inv;
                    continue;
                }
                float *o = out + (i0 + i) * D * D;
                for (int64_t a = 0; a < D; a++)
                    for (int64_t b = 0; b < D; b++)
                        o[a * D + b] = symmetrize ? 0.5f * (t[b * D + a] + t[a * D + b]) * inv
                                                  : t[b * D + a] * inv;
            }
        }
    }
    hosmi_mlp_ws_free(&ws);
    free(tan);
    free(jt);
    free(tmp);
    return st;
}

int hosm_model_score_jacobian(const hosm_model *model, int64_t level, const float *x, int64_t n,
                              int symmetrize, float *out)
{
    return jacobian_query(model, "hosm_model_score_jacobian", level, x, n, symmetrize, 0, out);
}

int hosm_model_score_jacobian_diag(const hosm_model *model, int64_t level, const float *x,
                                   int64_t n, float *out)
{
    return jacobian_query(model, "hosm_model_score_jacobian_diag", level, x, n, 0, 1, out);
}
