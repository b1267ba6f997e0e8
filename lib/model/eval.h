/* Model evaluation: s1 and s2 of a block of rows at given noise levels, into
 * a caller-provided workspace. The only code that applies the output
 * scaling: s1 = net / sigma; s2 outputs carry 1/sigma^2 (a low-rank U
 * carries 1/sigma, its diagonal d 1/sigma^2, a full s2 1/sigma^2; with a
 * log-variance head d = (exp(net) - 1) / sigma^2). A
 * denoiser's s1 is (net - x) / sigma^2, its tangents (J_net v - v) / sigma^2.
 * For an energy model (net = E) s1 = -grad_x E / sigma and its s2 is the exact
 * -Hessian of E / sigma, packed "full"; callers ask for the same plan modes
 * and passes as for a score network, which this layer maps onto the
 * energy's input-gradient passes. */
#ifndef HOSM_EVAL_H
#define HOSM_EVAL_H

#include "model/model.h"

/* Plans of the two networks; a plan with cap 0 is absent. */
typedef struct {
    hosmi_mlp_plan p1, p2;
    float *row;  /* energy models: one float a row */
    float *hess; /* energy models with s2 rows: a D x D matrix a row */
    float *ratio; /* a log-variance s2 head with a backward plan: exp(h) of d, D a row */
} hosmi_eval_ws;

/* A workspace for up to cap1 s1 rows (plan mode1, k tangents a row) and
 * cap2 s2 rows (mode2); 0 or -1 without memory (then nothing is held). */
int hosmi_eval_alloc(hosmi_eval_ws *ws, const hosm_model *m, int64_t cap1, unsigned mode1,
                     int64_t k, int64_t cap2, unsigned mode2);
void hosmi_eval_free(hosmi_eval_ws *ws);

/* s1 (n x D) of n rows x; levels gives each row's level or is NULL, and
 * every row is at level_all. */
void hosmi_eval_s1(const hosm_model *m, const hosmi_blas *blas, const float *x,
                   const int64_t *levels, int64_t level_all, int64_t n, hosmi_eval_ws *ws,
                   float *s1);
/* The s2 outputs (n x hosmi_s2_out(m), the structure's values; s2layout.h). */
void hosmi_eval_s2(const hosm_model *m, const hosmi_blas *blas, const float *x,
                   const int64_t *levels, int64_t level_all, int64_t n, hosmi_eval_ws *ws,
                   float *s2);
/* After hosmi_eval_s1 on the same rows: tangents of s1 (n k x D) for k
 * input tangents a row (tin, or NULL for the k = D unit tangents: row
 * i D + b is then d s1 / d x_b). */
void hosmi_eval_s1_tangent(const hosm_model *m, const hosmi_blas *blas, const int64_t *levels,
                           int64_t level_all, int64_t n, int64_t k, const float *tin,
                           hosmi_eval_ws *ws, float *tout);

/* The log density up to a constant of an energy model, -E / sigma (n doubles). */
void hosmi_eval_log_density(const hosm_model *m, const hosmi_blas *blas, const float *x,
                            const int64_t *levels, int64_t level_all, int64_t n,
                            hosmi_eval_ws *ws, double *out);

/* Backward passes after the forward pass on the same rows: ds1 (n x D) and
 * ds2 (n x net2.out) are the cotangents of s1 and of the s2 outputs (the
 * callee may overwrite them: a score network's are scaled in place to the
 * network's); their parameter gradients are added into grad (the whole parameter vector: s1's part, then s2's). */
void hosmi_eval_s1_backward(const hosm_model *m, const hosmi_blas *blas, const int64_t *levels,
                            int64_t level_all, int64_t n, hosmi_eval_ws *ws, float *ds1,
                            float *grad);
void hosmi_eval_s2_backward(const hosm_model *m, const hosmi_blas *blas, const int64_t *levels,
                            int64_t level_all, int64_t n, hosmi_eval_ws *ws, float *ds2,
                            float *grad);

/* After hosmi_eval_s1_tangent on the same rows (plan mode
 * HOSMI_PLAN_TANGENT_GRAD): ds1 (n x D, may be NULL) and dt (n k x D) are the
 * cotangents of s1 and of its tangents (the callee may overwrite both); the
 * parameter gradient is added into grad (reverse over forward, or for an
 * energy the mixed second-order pass). */
void hosmi_eval_s1_tangent_backward(const hosm_model *m, const hosmi_blas *blas,
                                    const int64_t *levels, int64_t level_all, int64_t n,
                                    int64_t k, hosmi_eval_ws *ws, float *ds1, float *dt,
                                    float *grad);

/* A query over n points in chunks of up to cap rows at one level: chunk is
 * called with each chunk's first point and rows; returns its status. */
typedef int (*hosmi_chunk_fn)(void *ctx, hosmi_eval_ws *ws, int64_t i0, int64_t rows);
int hosmi_eval_chunks(const hosm_model *m, const char *fn, int64_t n, int64_t cap, int64_t cap1,
                      unsigned mode1, int64_t k, int64_t cap2, hosmi_chunk_fn chunk, void *ctx);

/* The common checks of a query: model handle, level, points. */
int hosmi_check_query(const hosm_model *m, const char *fn, int64_t level, const float *x,
                      int64_t n);
/* hosm_model_hessian with fn's name in its errors (for
 * hosm_model_hessian_estimate). */
int hosmi_s2_dense_query(const hosm_model *m, const char *fn, int64_t level, const float *x,
                         int64_t n, float *out);
/* HOSM_HESSIAN_AVERAGE of one entry: the query and the sampler both use
 * it, so that they agree bit for bit. */
static inline float hosmi_average_estimate(float s2, float jac)
{
    return 0.5f * s2 + 0.5f * jac;
}
/* HOSM_E_NONFINITE (naming fn) when an output is NaN or Inf: no query
 * returns a non-finite result with HOSM_OK. */
int hosmi_check_output(const char *fn, const float *out, int64_t count);

#endif
