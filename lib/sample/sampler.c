/* The sampler handle: creation over a source, runs, traces and divergence.
 * The steps are in step.c, Ozaki's matrix functions in ozaki.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "sample/step.h"


#define SAMPLER_STREAM 2
/* Chains per pass: bounds the workspace for any number of chains. */
#define CHUNK 4096
/* Bounds a pass's Hessian outputs and tangents (floats). */
#define CHUNK_FLOATS ((int64_t)1 << 22)

static int is_annealed(int kind)
{
    return kind == HOSM_SAMPLER_ANNEALED || kind == HOSM_SAMPLER_ANNEALED_OZAKI;
}

int hosmi_sampler_uses_hessian(int kind)
{
    return kind == HOSM_SAMPLER_OZAKI || kind == HOSM_SAMPLER_MH_OZAKI ||
           kind == HOSM_SAMPLER_ANNEALED_OZAKI;
}

static int is_adjusted(int kind)
{
    return kind == HOSM_SAMPLER_MALA || kind == HOSM_SAMPLER_MH_OZAKI;
}

/* What the kind needs of its source, checked at creation. */
static int check_source(const hosm_sampler *s, const char *fn)
{
    const hosmi_source *src = &s->src;
    const char *miss = NULL;
    if (hosmi_sampler_uses_hessian(s->kind) && !src->has_hess)
        miss = src->kind == HOSMI_SRC_MODEL ? "a Hessian: the model has no s2 network (set "
                                              "hessian=jacobian or train an s2)"
                                            : "a Hessian callback";
    else if (is_adjusted(s->kind) && !src->has_logp)
        miss = "a log density (a score network gives scores only; use an energy model "
               "(parameterization=energy), the oracle or callbacks)";
    else if (is_annealed(s->kind) && src->kind != HOSMI_SRC_MODEL)
        miss = "a ladder of noise levels (only a model has one)";
    else if ((s->init_noise || s->final_denoise) && !src->sigmas)
        miss = "a noise level for init_noise and final_denoise";
    if (miss)
        return hosmi_fail(NULL, HOSM_E_UNSUPPORTED, "%s: sampler kind %d needs %s", fn, s->kind,
                          miss);
    return HOSM_OK;
}

/* A sampler with its settings from cfg and the source src (not yet checked). */
static int sampler_create(hosm_sampler **out, const char *fn, const hosmi_source *src,
                          const hosm_config *cfg)
{
    *out = NULL;
    if (cfg) {
        int st = hosmi_check_config(cfg, fn);
        if (st)
            return st;
    }
    struct hosm_config defaults;
    if (!cfg) {
        hosmi_config_defaults(&defaults);
        cfg = &defaults;
    }
    hosm_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    s->magic = HOSMI_HANDLE_SAMPLER;
    s->fn = "hosm_sampler_run";
    s->src = *src;
    if (src->kind == HOSMI_SRC_MIXTURE)
        s->src.sigmas = &s->src.mix_sigma;
    s->kind = (int)cfg->ival[HOSM_KEY_SAMPLER];
    s->step_size = cfg->dval[HOSM_KEY_STEP_SIZE];
    s->steps = cfg->ival[HOSM_KEY_SAMPLE_STEPS];
    s->l_max = cfg->dval[HOSM_KEY_L_MAX];
    s->solver = (int)cfg->ival[HOSM_KEY_OZAKI_SOLVER];
    s->lanczos_tol = cfg->dval[HOSM_KEY_LANCZOS_TOL];
    s->init_noise = cfg->ival[HOSM_KEY_INIT_NOISE] != 0;
    s->final_denoise = cfg->ival[HOSM_KEY_FINAL_DENOISE] != 0;
    s->blas.threads = hosmi_blas_threads(cfg->ival[HOSM_KEY_THREADS]);
    s->blas.kernels = (int)cfg->ival[HOSM_KEY_GEMM_KERNELS];
    hosmi_rng_seed(&s->rng, (uint64_t)cfg->ival[HOSM_KEY_SEED], SAMPLER_STREAM);
    if (src->kind == HOSMI_SRC_MODEL) {
        /* Callbacks are called from the calling thread only: no helpers for
         * them, and none are needed. */
        s->blas.pool = hosmi_pool_new(s->blas.threads);
        const hosm_model *m = src->model;
        /* An energy model's s2 is the Jacobian of its s1: taken the same way,
         * a point at a time, whatever the source (their average is itself). */
        const int hessian = (int)cfg->ival[HOSM_KEY_HESSIAN], energy = hosmi_is_energy(m);
        s->src.jacobian = hessian == HOSM_HESSIAN_JACOBIAN || energy;
        s->src.average = hessian == HOSM_HESSIAN_AVERAGE && !energy &&
                         hosmi_s2_kind(m) != HOSM_S2_NONE;
        const int dense = s->src.jacobian || s->src.average;
        s->src.has_hess = s->src.jacobian || hosmi_s2_kind(m) != HOSM_S2_NONE;
        s->src.hess_kind = dense ? HOSM_S2_FULL : hosmi_s2_kind(m);
        s->src.rank = dense ? 0 : m->rank;
        s->src.hess_out = dense ? m->arch.dim * (m->arch.dim + 1) / 2 : hosmi_s2_out(m);
        s->src.has_logp = hosmi_is_energy(m);
    }
    int st = check_source(s, fn);
    if (st) {
        hosm_sampler_free(s);
        return st;
    }
    *out = s;
    return HOSM_OK;
}

int hosm_sampler_new(hosm_sampler **out, const hosm_model *model, const hosm_config *cfg)
{
    static const char fn[] = "hosm_sampler_new";
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: out is NULL", fn);
    *out = NULL;
    int st = hosmi_check_model(model, fn);
    if (st)
        return st;
    hosmi_source src = {.kind = HOSMI_SRC_MODEL, .dim = model->arch.dim,
                        .levels = model->arch.levels, .sigmas = model->sigmas, .model = model};
    return sampler_create(out, fn, &src, cfg);
}

int hosm_sampler_new_mixture(hosm_sampler **out, const hosm_mixture *mix, double sigma,
                             const hosm_config *cfg)
{
    static const char fn[] = "hosm_sampler_new_mixture";
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: out is NULL", fn);
    *out = NULL;
    int st = hosmi_check_handle(mix, HOSMI_HANDLE_MIXTURE, fn, "mixture");
    if (st)
        return st;
    if (!(sigma >= 0.0) || !(sigma <= 1e6))
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: sigma = %g is outside [0, 1e6]", fn, sigma);
    const int64_t D = mix->dim;
    if (hosmi_mul(D, D + 1) < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: dimension %lld is too large", fn, (long long)D);
    hosmi_source src = {.kind = HOSMI_SRC_MIXTURE, .dim = D, .levels = 1, .has_logp = 1,
                        .has_hess = 1, .hess_kind = HOSM_S2_FULL, .hess_out = D * (D + 1) / 2,
                        .mix = mix, .mix_sigma = sigma};
    return sampler_create(out, fn, &src, cfg);
}

int hosm_sampler_new_fn(hosm_sampler **out, int64_t dim, hosm_logp_fn logp, hosm_score_fn score,
                        hosm_hessian_fn hessian, void *user_data, const hosm_config *cfg)
{
    static const char fn[] = "hosm_sampler_new_fn";
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: out is NULL", fn);
    *out = NULL;
    if (!score)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: the score callback is NULL (it is required)", fn);
    if (dim < 1 || dim > HOSMI_MAX_DIM)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: dimension %lld is outside [1, %lld]", fn,
                          (long long)dim, (long long)HOSMI_MAX_DIM);
    hosmi_source src = {.kind = HOSMI_SRC_FN, .dim = dim, .levels = 1, .has_logp = logp != NULL,
                        .has_hess = hessian != NULL, .hess_kind = HOSM_S2_FULL,
                        .hess_out = dim * (dim + 1) / 2, .logp = logp, .score = score,
                        .hess = hessian, .user_data = user_data};
    return sampler_create(out, fn, &src, cfg);
}

static void sampler_free_workspace(hosm_sampler *s)
{
    hosmi_eval_free(&s->eval);
    float **fb[] = {&s->g,  &s->gy,    &s->y,   &s->xi,    &s->h,
                    &s->hy, &s->dense, &s->tan, &s->fwork, &s->s2rows};
    for (size_t i = 0; i < sizeof fb / sizeof fb[0]; i++) {
        free(*fb[i]);
        *fb[i] = NULL;
    }
    double **db[] = {&s->lp, &s->lpy, &s->lq, &s->work, &s->s2dense};
    for (size_t i = 0; i < sizeof db / sizeof db[0]; i++) {
        free(*db[i]);
        *db[i] = NULL;
    }
    s->cap = 0;
}

void hosm_sampler_free(hosm_sampler *s)
{
    if (!hosmi_is_handle(s, HOSMI_HANDLE_SAMPLER))
        return;
    s->magic = HOSMI_HANDLE_FREED;
    sampler_free_workspace(s);
    hosmi_pool_free(s->blas.pool);
    free(s->frozen);
    free(s);
}

/* Chains a pass for n chains. */
static int64_t pass_cap(const hosm_sampler *s, int64_t n)
{
    int64_t cap = CHUNK;
    if (hosmi_sampler_uses_hessian(s->kind)) {
        int64_t per = s->src.hess_out;
        if (s->src.kind == HOSMI_SRC_MODEL && (s->src.jacobian || s->src.average))
            per = s->src.dim * (s->src.model->net.hidden > s->src.dim ? s->src.model->net.hidden
                                                                      : s->src.dim);
        cap = CHUNK_FLOATS / (per > 0 ? per : 1);
    }
    cap = cap < 1 ? 1 : cap > CHUNK ? CHUNK : cap;
    return n < cap ? n : cap;
}

/* Workspace for passes of cap chains; allocation happens only on growth. */
static int reserve_chains(hosm_sampler *s, int64_t cap)
{
    if (cap <= s->cap)
        return HOSM_OK;
    sampler_free_workspace(s);
    const int64_t D = s->src.dim, H = hosmi_sampler_uses_hessian(s->kind) ? s->src.hess_out : 0;
    const int64_t dense = hosmi_src_dense_floats(&s->src);
    const int average = s->src.average && H > 0;
    /* the dense form of a low-rank H, or of a low-rank s2 to average */
    const int lowrank = s->src.hess_kind == HOSM_S2_LOWRANK ||
                        (average && hosmi_s2_kind(s->src.model) == HOSM_S2_LOWRANK);
    const int64_t rank = average ? s->src.model->rank : s->src.rank;
    int ok = hosmi_src_alloc(s, cap) == 0;
    if (average) {
        s->s2rows = hosmi_alloc(hosmi_mul(cap, hosmi_s2_out(s->src.model)), sizeof(float));
        s->s2dense = hosmi_alloc(hosmi_mul(D, D), sizeof(double));
        ok = ok && s->s2rows && s->s2dense;
    }
    s->g = hosmi_alloc(hosmi_mul(cap, D), sizeof(float));
    s->gy = hosmi_alloc(hosmi_mul(cap, D), sizeof(float));
    s->y = hosmi_alloc(hosmi_mul(cap, D), sizeof(float));
    s->xi = hosmi_alloc(hosmi_mul(cap, D), sizeof(float));
    s->h = hosmi_alloc(hosmi_mul(cap, H), sizeof(float));
    s->hy = hosmi_alloc(hosmi_mul(cap, H), sizeof(float));
    s->dense = hosmi_alloc(dense, sizeof(float));
    s->tan = hosmi_alloc(D, sizeof(float));
    s->fwork = hosmi_alloc(lowrank ? hosmi_s2_dense_work(HOSM_S2_LOWRANK, D, rank) : 1,
                           sizeof(float));
    s->lp = hosmi_alloc(cap, sizeof(double));
    s->lpy = hosmi_alloc(cap, sizeof(double));
    s->lq = hosmi_alloc(cap, sizeof(double));
    s->work = hosmi_alloc(hosmi_ozaki_work(D) + 4 * D, sizeof(double));
    if (!ok || !s->g || !s->gy || !s->y || !s->xi || !s->h || !s->hy || !s->dense || !s->tan ||
        !s->fwork || !s->lp || !s->lpy || !s->lq || !s->work) {
        sampler_free_workspace(s);
        return hosmi_fail(s->errmsg, HOSM_E_NOMEM, "%s: out of memory", s->fn);
    }
    s->cap = cap;
    return HOSM_OK;
}

/* Per-chain frozen flags for n chains, cleared. */
static int reset_run(hosm_sampler *s, int64_t n)
{
    if (n > s->frozen_cap) {
        free(s->frozen);
        s->frozen = hosmi_alloc(n, 1);
        s->frozen_cap = s->frozen ? n : 0;
        if (!s->frozen)
            return hosmi_fail(s->errmsg, HOSM_E_NOMEM, "%s: out of memory", s->fn);
    }
    memset(s->frozen, 0, (size_t)n);
    s->diverged = s->proposals = s->accepted = 0;
    return HOSM_OK;
}

/* The start of a run: N(0, sigma_max^2 I) draws when asked. */
static void initial_states(hosm_sampler *s, float *x, int64_t n)
{
    if (!s->init_noise)
        return;
    const float sd = (float)s->src.sigmas[0];
    hosmi_rng_normal(&s->rng, x, n * s->src.dim);
    for (int64_t i = 0; i < n * s->src.dim; i++)
        x[i] *= sd;
}

/* The Tweedie posterior mean x + sigma^2 s1(x) at the last level. */
static int final_step(hosm_sampler *s, float *x, int64_t n)
{
    if (!s->final_denoise)
        return HOSM_OK;
    const int64_t D = s->src.dim, level = s->src.levels - 1;
    const float s2 = (float)(s->src.sigmas[level] * s->src.sigmas[level]);
    for (int64_t i0 = 0; i0 < n; i0 += s->cap) {
        const int64_t rows = n - i0 < s->cap ? n - i0 : s->cap;
        float *xi = x + i0 * D;
        int st = hosmi_src_score(s, xi, rows, level, s->g);
        if (st)
            return st;
        for (int64_t i = 0; i < rows; i++)
            if (!s->frozen[i0 + i])
                for (int64_t j = 0; j < D; j++)
                    xi[i * D + j] += s2 * s->g[i * D + j];
    }
    return HOSM_OK;
}

static int run(hosm_sampler *s, const char *fn, float *x, int64_t n, int64_t every, float *trace,
               hosm_progress_fn cb, void *user_data)
{
    const int64_t D = s->src.dim, L = s->src.levels;
    int st = hosmi_check_points(s->errmsg, fn, x, n, D);
    if (st)
        return st;
    s->fn = fn;
    s->diverged = s->proposals = s->accepted = 0;
    if (n == 0)
        return HOSM_OK;
    if ((st = reserve_chains(s, pass_cap(s, n))) != HOSM_OK || (st = reset_run(s, n)) != HOSM_OK)
        return st;
    initial_states(s, x, n);
    const int annealed = is_annealed(s->kind);
    const double smin = s->src.sigmas ? s->src.sigmas[L - 1] : 1.0;
    int64_t done = 0;
    for (int64_t level = annealed ? 0 : L - 1; level < L; level++) {
        const double sigma = s->src.sigmas ? s->src.sigmas[level] : 0.0;
        const double eps = annealed ? s->step_size * (sigma * sigma) / (smin * smin) : s->step_size;
        for (int64_t k = 0; k < s->steps; k++) {
            if ((st = hosmi_sampler_step(s, x, n, level, eps)) != HOSM_OK)
                return st;
            done++;
            if (trace && done % every == 0)
                memcpy(trace + (done / every - 1) * n * D, x, (size_t)(n * D) * sizeof(float));
            if (cb && cb(done, sigma, user_data) != 0)
                return HOSM_STOPPED;
        }
    }
    if ((st = final_step(s, x, n)) != HOSM_OK)
        return st;
    if (s->diverged == n)
        return hosmi_fail(s->errmsg, HOSM_E_NONFINITE,
                          "%s: every chain diverged to NaN or Inf (step size too large?)", fn);
    return HOSM_OK;
}

int hosm_sampler_run(hosm_sampler *s, float *x, int64_t n, hosm_progress_fn cb, void *user_data)
{
    int st = hosmi_check_handle(s, HOSMI_HANDLE_SAMPLER, "hosm_sampler_run", "sampler");
    return st ? st : run(s, "hosm_sampler_run", x, n, 1, NULL, cb, user_data);
}

int hosm_sampler_run_trace(hosm_sampler *s, float *x, int64_t n, int64_t every, float *trace,
                           hosm_progress_fn cb, void *user_data)
{
    static const char fn[] = "hosm_sampler_run_trace";
    int st = hosmi_check_handle(s, HOSMI_HANDLE_SAMPLER, fn, "sampler");
    if (st)
        return st;
    if (every < 1)
        return hosmi_fail(s->errmsg, HOSM_E_ARG, "%s: every = %lld (need >= 1)", fn,
                          (long long)every);
    if (n > 0 && !trace)
        return hosmi_fail(s->errmsg, HOSM_E_NULL, "%s: trace is NULL", fn);
    const int64_t total = hosmi_mul(s->steps, is_annealed(s->kind) ? s->src.levels : 1);
    if (total < 0 || hosmi_mul(hosmi_mul(total / every, n), s->src.dim) < 0)
        return hosmi_fail(s->errmsg, HOSM_E_ARG, "%s: the trace is too large", fn);
    return run(s, fn, x, n, every, trace, cb, user_data);
}

int hosm_sampler_diverged(const hosm_sampler *s, int64_t *count)
{
    int st = hosmi_check_handle(s, HOSMI_HANDLE_SAMPLER, "hosm_sampler_diverged", "sampler");
    if (st)
        return st;
    if (!count)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_sampler_diverged: count is NULL");
    *count = s->diverged;
    return HOSM_OK;
}

int hosm_sampler_acceptance(const hosm_sampler *s, double *rate)
{
    int st = hosmi_check_handle(s, HOSMI_HANDLE_SAMPLER, "hosm_sampler_acceptance", "sampler");
    if (st)
        return st;
    if (!rate)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_sampler_acceptance: rate is NULL");
    *rate = s->proposals ? (double)s->accepted / (double)s->proposals : 1.0;
    return HOSM_OK;
}

const char *hosm_sampler_errmsg(const hosm_sampler *s)
{
    return hosmi_is_handle(s, HOSMI_HANDLE_SAMPLER) ? s->errmsg : "";
}
