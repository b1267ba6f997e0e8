/* The sampler handle and its score sources, shared by the sampler's files. */
#ifndef HOSM_SAMPLER_H
#define HOSM_SAMPLER_H

#include "model/eval.h"
#include "model/s2layout.h"
#include "oracle/mixture.h"

/* Where scores, Hessians and log densities come from. */
enum { HOSMI_SRC_MODEL, HOSMI_SRC_MIXTURE, HOSMI_SRC_FN };

typedef struct {
    int kind;              /* HOSMI_SRC_* */
    int64_t dim, levels;   /* levels: 1 for the oracle and callbacks */
    const double *sigmas;  /* the noise levels, largest first; NULL for callbacks */
    int has_logp, has_hess;
    int hess_kind;         /* layout of H (s2layout.h): HOSM_S2_DIAG, _LOWRANK or _FULL */
    int64_t rank, hess_out; /* rank of a low-rank H; floats of H a point */
    const hosm_model *model;
    int jacobian;          /* H of a model: the symmetrised Jacobian of s1 */
    int average;           /* H of a model: (s2 + the symmetrised Jacobian) / 2;
                              set for model sources only */
    const hosm_mixture *mix;
    double mix_sigma;
    hosm_logp_fn logp;
    hosm_score_fn score;
    hosm_hessian_fn hess;
    void *user_data;
} hosmi_source;

struct hosm_sampler {
    uint32_t magic; /* HOSMI_HANDLE_SAMPLER */
    hosmi_source src;
    int kind, solver, init_noise, final_denoise;
    double step_size, l_max, lanczos_tol;
    int64_t steps;
    hosmi_blas blas;
    hosmi_rng rng;
    /* Workspace for up to cap chains a pass (allocated once per size). */
    int64_t cap;
    hosmi_eval_ws eval;
    float *g, *gy, *y, *xi, *h, *hy, *dense, *tan, *fwork;
    float *s2rows;    /* "average": the s2 outputs of a pass */
    double *s2dense;  /* "average": one point's s2, D x D */
    double *lp, *lpy, *lq, *work;
    /* The last run: the public function running it, for messages. */
    const char *fn;
    unsigned char *frozen;
    int64_t frozen_cap, diverged, proposals, accepted;
    char errmsg[HOSMI_MSG_CAP];
};

/* Scores (n x D), log densities (n) and Hessians (n x hess_out, in the
 * layout hess_kind) of n <= cap points at a level; a status. */
int hosmi_src_score(hosm_sampler *s, const float *x, int64_t n, int64_t level, float *out);
int hosmi_src_logp(hosm_sampler *s, const float *x, int64_t n, int64_t level, double *out);
int hosmi_src_hess(hosm_sampler *s, const float *x, int64_t n, int64_t level, float *out);
/* The workspace of the source for cap points: 0 or -1 without memory. */
int hosmi_src_alloc(hosm_sampler *s, int64_t cap);
/* Floats of the source's per-point scratch of a dense H (0 if none). */
int64_t hosmi_src_dense_floats(const hosmi_source *src);

/* One Ozaki or MH-Ozaki update of one point with score g and Hessian h:
 * drift = M g and noise = Sigma^(1/2) xi (D doubles each), and, when logq
 * is not NULL, log N(x + drift + noise; x + drift, Sigma) up to the constant
 * (for MH). work holds hosmi_ozaki_work() doubles. 0, -1 without memory,
 * -2 for NaN or Inf in H. */
int hosmi_ozaki_point(const hosm_sampler *s, const hosmi_s2_point *h, double eps, const float *g,
                      const float *xi, double *drift, double *noise, double *logq,
                      double *work);
/* log N(y; mean, Sigma(h)) up to the constant, r = y - mean (D doubles). */
int hosmi_ozaki_logq(const hosm_sampler *s, const hosmi_s2_point *h, double eps,
                     const double *r, double *logq, double *work);
int64_t hosmi_ozaki_work(int64_t D);

#endif
