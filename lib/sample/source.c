/* Score sources of the samplers: a model, the Gaussian-mixture oracle at
 * one noise level, or the caller's callbacks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sample/sampler.h"

int64_t hosmi_src_dense_floats(const hosmi_source *src)
{
    const int dense = src->kind != HOSMI_SRC_MODEL || src->jacobian || src->average;
    return src->has_hess && dense ? src->dim * src->dim : 0;
}

int hosmi_src_alloc(hosm_sampler *s, int64_t cap)
{
    const hosmi_source *src = &s->src;
    if (src->kind != HOSMI_SRC_MODEL)
        return 0;
    const hosm_model *m = src->model;
    const int s2 = src->has_hess && !src->jacobian;
    const int64_t k = src->has_hess && (src->jacobian || src->average) ? m->arch.dim : 0;
    return hosmi_eval_alloc(&s->eval, m, cap, k ? HOSMI_PLAN_TANGENT : 0, k, s2 ? cap : 0, 0);
}

static int callback_failed(hosm_sampler *s, const char *what, int rc)
{
    return hosmi_fail(s->errmsg, HOSM_E_CALLBACK, "%s: the %s callback returned %d", s->fn,
                      what, rc);
}

/* The oracle's message, prefixed with the sampler function. It is copied
 * first: hosmi_fail writes the buffer hosm_last_errmsg() returns. */
static int mixture_failed(hosm_sampler *s, int st)
{
    char detail[HOSMI_MSG_CAP];
    snprintf(detail, sizeof detail, "%s", hosm_last_errmsg());
    return hosmi_fail(s->errmsg, st, "%s: %s", s->fn, detail);
}

int hosmi_src_score(hosm_sampler *s, const float *x, int64_t n, int64_t level, float *out)
{
    const hosmi_source *src = &s->src;
    switch (src->kind) {
    case HOSMI_SRC_MODEL:
        hosmi_eval_s1(src->model, &s->blas, x, NULL, level, n, &s->eval, out);
        return HOSM_OK;
    case HOSMI_SRC_MIXTURE: {
        int st = hosm_mixture_score(src->mix, src->mix_sigma, x, n, out);
        return st ? mixture_failed(s, st) : st;
    }
    default: {
        int rc = src->score(x, n, src->dim, out, src->user_data);
        return rc ? callback_failed(s, "score", rc) : HOSM_OK;
    }
    }
}

int hosmi_src_logp(hosm_sampler *s, const float *x, int64_t n, int64_t level, double *out)
{
    const hosmi_source *src = &s->src;
    if (src->kind == HOSMI_SRC_MODEL) {
        hosmi_eval_log_density(src->model, &s->blas, x, NULL, level, n, &s->eval, out);
        return HOSM_OK;
    }
    if (src->kind == HOSMI_SRC_MIXTURE) {
        int st = hosm_mixture_log_density(src->mix, src->mix_sigma, x, n, out);
        return st ? mixture_failed(s, st) : st;
    }
    int rc = src->logp(x, n, src->dim, out, src->user_data);
    return rc ? callback_failed(s, "log density", rc) : HOSM_OK;
}

/* Dense D x D matrices (n of them) into the full layout, symmetrised. */
static void pack(const float *dense, int64_t n, int64_t D, float *out)
{
    const int64_t P = D * (D + 1) / 2;
    for (int64_t i = 0; i < n; i++) {
        const float *a = dense + i * D * D;
        float *o = out + i * P;
        for (int64_t r = 0, k = 0; r < D; r++)
            for (int64_t c = r; c < D; c++, k++)
                o[k] = 0.5f * (a[r * D + c] + a[c * D + r]);
    }
}

/* Adds the learned s2 of row i of s->s2rows to the packed H of the point
 * and halves: (s2 + sym. Jacobian) / 2. */
static void average_in(hosm_sampler *s, int64_t i, float *h)
{
    const hosm_model *m = s->src.model;
    const int64_t D = s->src.dim;
    const hosmi_s2_point v = {hosmi_s2_kind(m), D, m->rank, s->s2rows + i * hosmi_s2_out(m)};
    hosmi_s2_dense(&v, &s->blas, -INFINITY, s->s2dense, s->fwork);
    for (int64_t r = 0, k = 0; r < D; r++)
        for (int64_t c = r; c < D; c++, k++)
            h[k] = hosmi_average_estimate((float)s->s2dense[r * D + c], h[k]);
}

/* One point at a time: dense holds one D x D matrix. */
int hosmi_src_hess(hosm_sampler *s, const float *x, int64_t n, int64_t level, float *out)
{
    const hosmi_source *src = &s->src;
    const int64_t D = src->dim;
    if (src->kind == HOSMI_SRC_MODEL && !src->jacobian && !src->average) {
        hosmi_eval_s2(src->model, &s->blas, x, NULL, level, n, &s->eval, out);
        return HOSM_OK;
    }
    if (src->average)
        hosmi_eval_s2(src->model, &s->blas, x, NULL, level, n, &s->eval, s->s2rows);
    for (int64_t i = 0; i < n; i++) {
        const float *xi = x + i * D;
        int st = HOSM_OK;
        if (src->kind == HOSMI_SRC_MODEL) {
            /* s1 at the point, then its D unit tangents: rows b = d s1 / d x_b. */
            hosmi_eval_s1(src->model, &s->blas, xi, NULL, level, 1, &s->eval, s->tan);
            hosmi_eval_s1_tangent(src->model, &s->blas, NULL, level, 1, D, NULL, &s->eval,
                                  s->dense);
        } else if (src->kind == HOSMI_SRC_MIXTURE) {
            st = hosm_mixture_hessian(src->mix, src->mix_sigma, xi, 1, s->dense);
            if (st)
                st = mixture_failed(s, st);
        } else {
            int rc = src->hess(xi, 1, D, s->dense, src->user_data);
            if (rc)
                st = callback_failed(s, "Hessian", rc);
        }
        if (st)
            return st;
        pack(s->dense, 1, D, out + i * src->hess_out);
        if (src->average)
            average_in(s, i, out + i * src->hess_out);
    }
    return HOSM_OK;
}
