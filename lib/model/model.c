/* The model handle: architecture checks, creation, parameters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "model/model.h"
#include "model/s2layout.h"

/* RNG stream of a seed that initialises the s2 network (s1 uses stream 0). */
#define S2_INIT_STREAM 3

/* Noise levels whose powers stay normal floats: sigma^4 (the loss weights
 * of a ladder) and 1/sigma^2 (the scaling of s2). */
#define SIGMA_FLOOR 1e-9
#define SIGMA_CEIL 1e6

static int int_key_ok(int key, int64_t v)
{
    int64_t lo, hi;
    hosm_config_int_bounds(key, &lo, &hi, NULL);
    return v >= lo && v <= hi;
}

static int arch_check(const hosmi_arch *a, char *msg)
{
    if (a->dim < 1 || a->dim > HOSMI_MAX_DIM)
        return hosmi_fail(msg, HOSM_E_ARG, "dimension %lld is outside [1, %lld]", (long long)a->dim,
                          (long long)HOSMI_MAX_DIM);
    static const int int_keys[] = {HOSM_KEY_HIDDEN, HOSM_KEY_DEPTH,    HOSM_KEY_LEVELS,
                                   HOSM_KEY_SEED,   HOSM_KEY_THREADS,  HOSM_KEY_ACT,
                                   HOSM_KEY_S2,     HOSM_KEY_RANK,     HOSM_KEY_S2_HIDDEN,
                                   HOSM_KEY_S2_DEPTH, HOSM_KEY_PARAMETERIZATION, HOSM_KEY_S2_HEAD};
    const int64_t vals[] = {a->hidden, a->depth,   a->levels, a->seed,      a->threads,
                            a->act,    a->s2,      a->rank,   a->s2_hidden, a->s2_depth,
                            a->param,  a->s2_head};
    for (size_t i = 0; i < sizeof int_keys / sizeof int_keys[0]; i++)
        if (!int_key_ok(int_keys[i], vals[i]))
            return hosmi_fail(msg, HOSM_E_RANGE, "key '%s': %lld is out of range",
                              hosm_config_key_name(int_keys[i]), (long long)vals[i]);
    static const int sig_keys[] = {HOSM_KEY_SIGMA, HOSM_KEY_SIGMA_MAX, HOSM_KEY_SIGMA_MIN};
    const double sig[] = {a->sigma, a->sigma_max, a->sigma_min};
    for (int i = 0; i < 3; i++) {
        double hi;
        hosm_config_double_bounds(sig_keys[i], NULL, &hi, NULL);
        if (!(sig[i] > 0.0) || !(sig[i] <= hi))
            return hosmi_fail(msg, HOSM_E_RANGE, "key '%s': %g is outside (0, %g]",
                              hosm_config_key_name(sig_keys[i]), sig[i], hi);
    }
    if (a->param == HOSM_PARAM_ENERGY && a->s2 != HOSM_S2_NONE)
        return hosmi_fail(msg, HOSM_E_UNSUPPORTED,
                          "key 's2': an energy model has no s2 network (its Hessian is the "
                          "exact Hessian of the energy); s2 must be none");
    if (a->s2_head == HOSM_S2_HEAD_LOGVAR && a->s2 == HOSM_S2_FULL)
        return hosmi_fail(msg, HOSM_E_UNSUPPORTED,
                          "key 's2_head': logvar needs s2 = diag or lowrank (a full s2 has no "
                          "diagonal part of its own)");
    const double lo = a->levels > 1 ? a->sigma_min : a->sigma;
    if (lo < SIGMA_FLOOR)
        return hosmi_fail(msg, HOSM_E_RANGE,
                          "key '%s': %g is below %g, where sigma^4 and 1/sigma^2 leave the "
                          "float range", a->levels > 1 ? "sigma_min" : "sigma", lo, SIGMA_FLOOR);
    if (a->levels > 1 && !(a->sigma_max > a->sigma_min))
        return hosmi_fail(msg, HOSM_E_RANGE,
                          "key 'sigma_max': %g must exceed sigma_min %g for a ladder of %lld levels",
                          a->sigma_max, a->sigma_min, (long long)a->levels);
    return HOSM_OK;
}

int hosmi_model_shape(hosm_model *m, const hosmi_arch *arch, char *msg)
{
    int st = arch_check(arch, msg);
    if (st)
        return st;
    memset(m, 0, sizeof *m);
    m->arch = *arch;
    if (arch->s2 == HOSM_S2_NONE) {
        /* Keys without effect hold their defaults, so files round-trip them. */
        hosm_config_int_bounds(HOSM_KEY_RANK, NULL, NULL, &m->arch.rank);
        m->arch.s2_hidden = m->arch.s2_depth = 0;
        m->arch.s2_head = HOSM_S2_HEAD_LINEAR;
    }
    m->blas.threads = hosmi_blas_threads(arch->threads);
    m->rank = arch->s2 == HOSM_S2_LOWRANK ? (arch->rank < arch->dim ? arch->rank : arch->dim) : 0;
    int64_t outputs2 = hosmi_s2_outputs(arch->s2, arch->dim, m->rank);
    const int energy = arch->param == HOSM_PARAM_ENERGY;
    if (hosmi_mlp_shape(&m->net, arch->dim, arch->hidden, arch->depth, energy ? 1 : arch->dim,
                        arch->levels, arch->act) != 0 ||
        outputs2 < 0 ||
        hosmi_mlp_shape(&m->net2, arch->dim, arch->s2_hidden ? arch->s2_hidden : arch->hidden,
                        arch->s2_depth ? arch->s2_depth : arch->depth, outputs2, arch->levels,
                        arch->act) != 0 ||
        m->net.nparams > HOSMI_MAX_ELEMS - m->net2.nparams)
        return hosmi_fail(msg, HOSM_E_ARG, "the network is too large");
    if (arch->s2 == HOSM_S2_NONE)
        memset(&m->net2, 0, sizeof m->net2);
    m->nparams = m->net.nparams + m->net2.nparams;
    return HOSM_OK;
}

int hosmi_model_alloc(hosm_model **out, const hosm_model *shape, char *msg)
{
    hosm_model *m = malloc(sizeof *m);
    if (!m)
        return hosmi_fail(msg, HOSM_E_NOMEM, "out of memory");
    *m = *shape;
    m->magic = HOSMI_HANDLE_MODEL;
    hosmi_config_defaults(&m->settings);
    m->params = hosmi_alloc(m->nparams, sizeof(float));
    m->sigmas = hosmi_alloc(m->arch.levels, sizeof(double));
    if (!m->params || !m->sigmas) {
        const int64_t count = m->nparams;
        hosm_model_free(m);
        return hosmi_fail(msg, HOSM_E_NOMEM, "cannot allocate %lld parameters", (long long)count);
    }
    *out = m;
    return HOSM_OK;
}

static int model_alloc(hosm_model **out, const hosmi_arch *arch, char *msg)
{
    hosm_model shape;
    int st = hosmi_model_shape(&shape, arch, msg);
    return st ? st : hosmi_model_alloc(out, &shape, msg);
}

int hosmi_model_create(hosm_model **out, const hosmi_arch *arch, char *msg)
{
    hosm_model *m;
    int st = model_alloc(&m, arch, msg);
    if (st)
        return st;
    int64_t L = arch->levels;
    if (L == 1)
        m->sigmas[0] = arch->sigma;
    else
        for (int64_t l = 0; l < L; l++)
            m->sigmas[l] = arch->sigma_max * pow(arch->sigma_min / arch->sigma_max,
                                                 (double)l / (double)(L - 1));
    hosmi_rng rng;
    hosmi_rng_seed(&rng, (uint64_t)arch->seed, 0);
    hosmi_mlp_init_params(&m->net, m->params, &rng);
    if (arch->s2 != HOSM_S2_NONE) {
        hosmi_rng_seed(&rng, (uint64_t)arch->seed, S2_INIT_STREAM);
        hosmi_mlp_init_params(&m->net2, hosmi_params2(m), &rng);
    }
    *out = m;
    return HOSM_OK;
}

/* "raw_head": the output layers start where an unscaled head would, the s1
 * head times sigma and the s2 head times sigma^2 (see hosmi_head_ranges). */
static void scale_heads(hosm_model *m)
{
    hosmi_param_range r[2];
    int n = hosmi_head_ranges(m, r);
    for (int k = 0; k < n; k++)
        for (int64_t i = r[k].begin; i < r[k].end; i++)
            m->params[i] *= (float)r[k].scale;
}

int hosmi_head_ranges(const hosm_model *m, hosmi_param_range *out)
{
    const double sigma = m->sigmas[0];
    int64_t b, e;
    hosmi_mlp_head(&m->net, &b, &e);
    /* a denoiser's head is in data units already */
    out[0] = (hosmi_param_range){b, e, m->arch.param == HOSM_PARAM_DENOISER ? 1.0 : sigma};
    /* a log-variance head is unscaled already */
    if (m->arch.s2 == HOSM_S2_NONE || m->arch.s2_head == HOSM_S2_HEAD_LOGVAR)
        return 1;
    hosmi_mlp_head(&m->net2, &b, &e);
    out[1] = (hosmi_param_range){m->net.nparams + b, m->net.nparams + e, sigma * sigma};
    return 2;
}

int hosm_model_new(hosm_model **out, int64_t dim, const hosm_config *cfg)
{
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_new: out is NULL");
    *out = NULL;
    if (cfg) {
        int st = hosmi_check_config(cfg, "hosm_model_new");
        if (st)
            return st;
    }
    struct hosm_config defaults;
    if (!cfg) {
        hosmi_config_defaults(&defaults);
        cfg = &defaults;
    }
    hosmi_arch a = {
        .dim = dim,
        .hidden = cfg->ival[HOSM_KEY_HIDDEN],
        .depth = cfg->ival[HOSM_KEY_DEPTH],
        .levels = cfg->ival[HOSM_KEY_LEVELS],
        .seed = cfg->ival[HOSM_KEY_SEED],
        .threads = cfg->ival[HOSM_KEY_THREADS],
        .act = (int)cfg->ival[HOSM_KEY_ACT],
        .sigma = cfg->dval[HOSM_KEY_SIGMA],
        .sigma_max = cfg->dval[HOSM_KEY_SIGMA_MAX],
        .sigma_min = cfg->dval[HOSM_KEY_SIGMA_MIN],
        .s2 = (int)cfg->ival[HOSM_KEY_S2],
        .rank = cfg->ival[HOSM_KEY_RANK],
        .s2_hidden = cfg->ival[HOSM_KEY_S2_HIDDEN],
        .s2_depth = cfg->ival[HOSM_KEY_S2_DEPTH],
        .param = (int)cfg->ival[HOSM_KEY_PARAMETERIZATION],
        .s2_head = (int)cfg->ival[HOSM_KEY_S2_HEAD],
    };
    char msg[HOSMI_MSG_CAP];
    int st = hosmi_model_create(out, &a, msg);
    if (st)
        return hosmi_fail(NULL, st, "hosm_model_new: %s", msg);
    if (cfg->ival[HOSM_KEY_RAW_HEAD] && a.levels == 1)
        scale_heads(*out);
    hosmi_model_set_settings(*out, cfg);
    return HOSM_OK;
}

void hosm_model_free(hosm_model *model)
{
    if (!hosmi_is_handle(model, HOSMI_HANDLE_MODEL))
        return;
    model->magic = HOSMI_HANDLE_FREED;
    free(model->params);
    free(model->sigmas);
    free(model);
}

int hosmi_same_arch(const hosm_model *a, const hosm_model *b)
{
    const hosmi_arch *x = &a->arch, *y = &b->arch;
    if (x->dim != y->dim || x->hidden != y->hidden || x->depth != y->depth ||
        x->levels != y->levels || x->act != y->act || x->s2 != y->s2 ||
        x->param != y->param || x->s2_head != y->s2_head || a->rank != b->rank ||
        a->net.nparams != b->net.nparams || a->net2.nparams != b->net2.nparams ||
        a->net2.hidden != b->net2.hidden || a->net2.depth != b->net2.depth)
        return 0;
    for (int64_t l = 0; l < x->levels; l++)
        if (a->sigmas[l] != b->sigmas[l])
            return 0;
    return 1;
}

int hosmi_check_model(const hosm_model *model, const char *fn)
{
    return hosmi_check_handle(model, HOSMI_HANDLE_MODEL, fn, "model");
}


int hosm_model_dim(const hosm_model *model, int64_t *out)
{
    HOSMI_NEED_MODEL("hosm_model_dim");
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_dim: out is NULL");
    *out = model->arch.dim;
    return HOSM_OK;
}

int hosm_model_num_levels(const hosm_model *model, int64_t *out)
{
    HOSMI_NEED_MODEL("hosm_model_num_levels");
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_num_levels: out is NULL");
    *out = model->arch.levels;
    return HOSM_OK;
}

int hosmi_check_level(const hosm_model *model, const char *fn, int64_t level)
{
    if (level < 0 || level >= model->arch.levels)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: level %lld is outside [0, %lld)", fn,
                          (long long)level, (long long)model->arch.levels);
    return HOSM_OK;
}

int hosm_model_sigma(const hosm_model *model, int64_t level, double *out)
{
    HOSMI_NEED_MODEL("hosm_model_sigma");
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_sigma: out is NULL");
    int st = hosmi_check_level(model, "hosm_model_sigma", level);
    if (st)
        return st;
    *out = model->sigmas[level];
    return HOSM_OK;
}

int hosm_model_num_params(const hosm_model *model, int64_t *out)
{
    HOSMI_NEED_MODEL("hosm_model_num_params");
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_num_params: out is NULL");
    *out = model->nparams;
    return HOSM_OK;
}

int hosm_model_get_params(const hosm_model *model, float *out, int64_t count)
{
    HOSMI_NEED_MODEL("hosm_model_get_params");
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_get_params: out is NULL");
    if (count != model->nparams)
        return hosmi_fail(NULL, HOSM_E_MISMATCH,
                          "hosm_model_get_params: count %lld, but the model has %lld parameters",
                          (long long)count, (long long)model->nparams);
    memcpy(out, model->params, (size_t)count * sizeof *out);
    return HOSM_OK;
}

int hosm_model_set_params(hosm_model *model, const float *params, int64_t count)
{
    HOSMI_NEED_MODEL("hosm_model_set_params");
    if (!params)
        return hosmi_fail(model->errmsg, HOSM_E_NULL, "hosm_model_set_params: params is NULL");
    if (count != model->nparams)
        return hosmi_fail(model->errmsg, HOSM_E_MISMATCH,
                          "hosm_model_set_params: count %lld, but the model has %lld parameters",
                          (long long)count, (long long)model->nparams);
    if (!hosmi_all_finite(params, count))
        return hosmi_fail(model->errmsg, HOSM_E_NONFINITE,
                          "hosm_model_set_params: NaN or Inf among the parameters");
    memcpy(model->params, params, (size_t)count * sizeof *params);
    return HOSM_OK;
}

int hosmi_is_arch_key(int key)
{
    switch (key) {
    case HOSM_KEY_HIDDEN: case HOSM_KEY_DEPTH: case HOSM_KEY_ACT: case HOSM_KEY_LEVELS:
    case HOSM_KEY_SEED: case HOSM_KEY_THREADS: case HOSM_KEY_SIGMA: case HOSM_KEY_SIGMA_MAX:
    case HOSM_KEY_SIGMA_MIN: case HOSM_KEY_S2: case HOSM_KEY_RANK: case HOSM_KEY_S2_HIDDEN:
    case HOSM_KEY_S2_DEPTH: case HOSM_KEY_PARAMETERIZATION: case HOSM_KEY_S2_HEAD:
        return 1;
    default:
        return 0;
    }
}

void hosmi_model_copy_settings(struct hosm_config *dst, const struct hosm_config *src)
{
    for (int k = 1; k < HOSMI_NUM_KEYS; k++)
        if (!hosmi_is_arch_key(k)) {
            dst->ival[k] = src->ival[k];
            dst->dval[k] = src->dval[k];
        }
}

void hosmi_model_set_settings(hosm_model *m, const struct hosm_config *src)
{
    hosmi_model_copy_settings(&m->settings, src);
    m->blas.kernels = (int)src->ival[HOSM_KEY_GEMM_KERNELS];
}

int hosm_model_set_config(hosm_model *model, const hosm_config *cfg)
{
    HOSMI_NEED_MODEL("hosm_model_set_config");
    int st = hosmi_check_config(cfg, "hosm_model_set_config");
    if (st)
        return st;
    hosmi_model_set_settings(model, cfg);
    return HOSM_OK;
}

int hosm_model_get_config(const hosm_model *model, hosm_config *cfg)
{
    HOSMI_NEED_MODEL("hosm_model_get_config");
    int st = hosmi_check_config(cfg, "hosm_model_get_config");
    if (st)
        return st;
    hosmi_model_copy_settings(cfg, &model->settings);
    const hosmi_arch *a = &model->arch;
    cfg->ival[HOSM_KEY_HIDDEN] = a->hidden;
    cfg->ival[HOSM_KEY_DEPTH] = a->depth;
    cfg->ival[HOSM_KEY_ACT] = a->act;
    cfg->ival[HOSM_KEY_LEVELS] = a->levels;
    cfg->ival[HOSM_KEY_SEED] = a->seed;
    cfg->ival[HOSM_KEY_THREADS] = a->threads;
    cfg->dval[HOSM_KEY_SIGMA] = a->sigma;
    cfg->dval[HOSM_KEY_SIGMA_MAX] = a->sigma_max;
    cfg->dval[HOSM_KEY_SIGMA_MIN] = a->sigma_min;
    cfg->ival[HOSM_KEY_S2] = a->s2;
    cfg->ival[HOSM_KEY_RANK] = a->rank;
    cfg->ival[HOSM_KEY_S2_HIDDEN] = a->s2_hidden;
    cfg->ival[HOSM_KEY_S2_DEPTH] = a->s2_depth;
    cfg->ival[HOSM_KEY_PARAMETERIZATION] = a->param;
    cfg->ival[HOSM_KEY_S2_HEAD] = a->s2_head;
    return HOSM_OK;
}

int hosm_model_s2_structure(const hosm_model *model, int *structure, int64_t *rank)
{
    HOSMI_NEED_MODEL("hosm_model_s2_structure");
    if (structure)
        *structure = hosmi_s2_kind(model);
    if (rank)
        *rank = model->rank;
    return HOSM_OK;
}

int hosmi_check_points(char *msg, const char *fn, const float *x, int64_t n, int64_t dim)
{
    if (n < 0)
        return hosmi_fail(msg, HOSM_E_ARG, "%s: n = %lld is negative", fn, (long long)n);
    if (hosmi_mul(n, dim) < 0)
        return hosmi_fail(msg, HOSM_E_ARG, "%s: n = %lld points is too many", fn, (long long)n);
    if (n > 0 && !x)
        return hosmi_fail(msg, HOSM_E_NULL, "%s: the points are NULL", fn);
    if (n > 0 && !hosmi_all_finite(x, n * dim))
        return hosmi_fail(msg, HOSM_E_NONFINITE, "%s: NaN or Inf in the points", fn);
    return HOSM_OK;
}
