/* Langevin and annealed Langevin (docs/math.md#8-samplers): x <- x + (eps/2) s1(x) + sqrt(eps) xi. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "model/eval.h"

#define SAMPLER_STREAM 2
/* Chains per network pass: bounds the workspace for any number of chains. */
#define CHUNK 4096

struct hosm_sampler {
    uint32_t magic; /* HOSMI_HANDLE_SAMPLER */
    const hosm_model *model;
    int kind;
    double step_size;
    int64_t steps;
    hosmi_blas blas;
    hosmi_rng rng;
    int64_t cap;
    hosmi_eval_ws eval;
    float *score, *noise;
    char errmsg[HOSMI_MSG_CAP];
};

int hosm_sampler_new(hosm_sampler **out, const hosm_model *model, const hosm_config *cfg)
{
    static const char fn[] = "hosm_sampler_new";
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: out is NULL", fn);
    *out = NULL;
    int st = hosmi_check_model(model, fn);
    if (!st && cfg)
        st = hosmi_check_handle(cfg, HOSMI_HANDLE_CONFIG, fn, "config");
    if (st)
        return st;
    struct hosm_config defaults;
    if (!cfg) {
        hosmi_config_defaults(&defaults);
        cfg = &defaults;
    }
    hosm_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return hosmi_fail(NULL, HOSM_E_NOMEM, "hosm_sampler_new: out of memory");
    s->magic = HOSMI_HANDLE_SAMPLER;
    s->model = model;
    s->kind = (int)cfg->ival[HOSM_KEY_SAMPLER];
    s->step_size = cfg->dval[HOSM_KEY_STEP_SIZE];
    s->steps = cfg->ival[HOSM_KEY_SAMPLE_STEPS];
    s->blas.threads = (int)cfg->ival[HOSM_KEY_THREADS];
    hosmi_rng_seed(&s->rng, (uint64_t)cfg->ival[HOSM_KEY_SEED], SAMPLER_STREAM);
    *out = s;
    return HOSM_OK;
}

static void sampler_free_workspace(hosm_sampler *s)
{
    hosmi_eval_free(&s->eval);
    free(s->score);
    free(s->noise);
    s->score = s->noise = NULL;
    s->cap = 0;
}

void hosm_sampler_free(hosm_sampler *s)
{
    if (!hosmi_is_handle(s, HOSMI_HANDLE_SAMPLER))
        return;
    s->magic = HOSMI_HANDLE_FREED;
    sampler_free_workspace(s);
    free(s);
}

static int sampler_reserve(hosm_sampler *s, int64_t rows)
{
    if (rows <= s->cap)
        return HOSM_OK;
    sampler_free_workspace(s);
    const int64_t D = s->model->arch.dim;
    int ok = hosmi_eval_alloc(&s->eval, s->model, rows, 0, 0, 0, 0) == 0;
    s->score = hosmi_alloc(hosmi_mul(rows, D), sizeof(float));
    s->noise = hosmi_alloc(hosmi_mul(rows, D), sizeof(float));
    if (!ok || !s->score || !s->noise) {
        sampler_free_workspace(s);
        return hosmi_fail(s->errmsg, HOSM_E_NOMEM, "hosm_sampler_run: out of memory");
    }
    s->cap = rows;
    return HOSM_OK;
}

/* One Langevin step of every chain at a level, chunk by chunk. */
static void langevin_step(hosm_sampler *s, float *x, int64_t n, int64_t level, double eps)
{
    const hosm_model *m = s->model;
    const int64_t D = m->arch.dim;
    const float drift = (float)(0.5 * eps);
    const float diffusion = (float)sqrt(eps);
    for (int64_t i0 = 0; i0 < n; i0 += s->cap) {
        int64_t rows = n - i0 < s->cap ? n - i0 : s->cap;
        float *xi = x + i0 * D;
        hosmi_eval_s1(m, &s->blas, xi, NULL, level, rows, &s->eval, s->score);
        hosmi_rng_normal(&s->rng, s->noise, rows * D);
        for (int64_t j = 0; j < rows * D; j++)
            xi[j] += drift * s->score[j] + diffusion * s->noise[j];
    }
}

int hosm_sampler_run(hosm_sampler *s, float *x, int64_t n, hosm_progress_fn cb, void *user_data)
{
    int st = hosmi_check_handle(s, HOSMI_HANDLE_SAMPLER, "hosm_sampler_run", "sampler");
    if (st)
        return st;
    const hosm_model *m = s->model;
    const int64_t D = m->arch.dim, L = m->arch.levels;
    st = hosmi_check_points(s->errmsg, "hosm_sampler_run", x, n, D);
    if (st || n == 0)
        return st;
    if ((st = sampler_reserve(s, n < CHUNK ? n : CHUNK)) != HOSM_OK)
        return st;
    const int annealed = s->kind == HOSM_SAMPLER_ANNEALED;
    const double smin = m->sigmas[L - 1];
    int64_t done = 0;
    for (int64_t level = annealed ? 0 : L - 1; level < L; level++) {
        const double sigma = m->sigmas[level];
        const double eps = annealed ? s->step_size * (sigma * sigma) / (smin * smin) : s->step_size;
        for (int64_t k = 0; k < s->steps; k++) {
            langevin_step(s, x, n, level, eps);
            done++;
            if (cb && cb(done, sigma, user_data) != 0)
                return HOSM_STOPPED;
        }
    }
    if (!hosmi_all_finite(x, n * D))
        return hosmi_fail(s->errmsg, HOSM_E_NONFINITE,
                          "hosm_sampler_run: chains diverged to NaN or Inf (step size too large?)");
    return HOSM_OK;
}

const char *hosm_sampler_errmsg(const hosm_sampler *s)
{
    return hosmi_is_handle(s, HOSMI_HANDLE_SAMPLER) ? s->errmsg : "";
}
