/* Model handle: creation, parameters, queries and model files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "io/file.h"
#include "model/model.h"

#define TAG_ARCH HOSMI_TAG('A', 'R', 'C', 'H')
#define TAG_PRM1 HOSMI_TAG('P', 'R', 'M', '1')
#define TAG_S2NT HOSMI_TAG('S', '2', 'N', 'T')

/* RNG stream of a seed that initialises the s2 network (s1 uses stream 0). */
#define S2_INIT_STREAM 3

/* Rows per chunk in queries: bounds the per-call workspace. */
#define QUERY_CHUNK 1024

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
                                   HOSM_KEY_S2_DEPTH};
    const int64_t vals[] = {a->hidden, a->depth,   a->levels, a->seed,      a->threads,
                            a->act,    a->s2,      a->rank,   a->s2_hidden, a->s2_depth};
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
    if (a->levels > 1 && !(a->sigma_max > a->sigma_min))
        return hosmi_fail(msg, HOSM_E_RANGE,
                          "key 'sigma_max': %g must exceed sigma_min %g for a ladder of %lld levels",
                          a->sigma_max, a->sigma_min, (long long)a->levels);
    return HOSM_OK;
}

static int model_alloc(hosm_model **out, const hosmi_arch *arch, char *msg)
{
    int st = arch_check(arch, msg);
    if (st)
        return st;
    hosm_model *m = calloc(1, sizeof *m);
    if (!m)
        return hosmi_fail(msg, HOSM_E_NOMEM, "out of memory");
    m->arch = *arch;
    if (arch->s2 == HOSM_S2_NONE) {
        /* Keys without effect hold their defaults, so files round-trip them. */
        hosm_config_int_bounds(HOSM_KEY_RANK, NULL, NULL, &m->arch.rank);
        m->arch.s2_hidden = m->arch.s2_depth = 0;
    }
    m->blas.threads = (int)arch->threads;
    m->rank = arch->s2 == HOSM_S2_LOWRANK ? (arch->rank < arch->dim ? arch->rank : arch->dim) : 0;
    int64_t outputs2 = hosmi_s2_outputs(arch->s2, arch->dim, m->rank);
    if (hosmi_mlp_shape(&m->net, arch->dim, arch->hidden, arch->depth, arch->dim, arch->levels,
                        arch->act) != 0 ||
        outputs2 < 0 ||
        hosmi_mlp_shape(&m->net2, arch->dim, arch->s2_hidden ? arch->s2_hidden : arch->hidden,
                        arch->s2_depth ? arch->s2_depth : arch->depth, outputs2, arch->levels,
                        arch->act) != 0 ||
        m->net.nparams > HOSMI_MAX_ELEMS - m->net2.nparams) {
        free(m);
        return hosmi_fail(msg, HOSM_E_ARG, "the network is too large");
    }
    if (arch->s2 == HOSM_S2_NONE)
        memset(&m->net2, 0, sizeof m->net2);
    m->nparams = m->net.nparams + m->net2.nparams;
    m->params = hosmi_alloc(m->nparams, sizeof(float));
    m->sigmas = hosmi_alloc(arch->levels, sizeof(double));
    if (!m->params || !m->sigmas) {
        hosm_model_free(m);
        return hosmi_fail(msg, HOSM_E_NOMEM, "cannot allocate %lld parameters",
                          (long long)m->nparams);
    }
    *out = m;
    return HOSM_OK;
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

int hosm_model_new(hosm_model **out, int64_t dim, const hosm_config *cfg)
{
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_new: out is NULL");
    *out = NULL;
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
    };
    char msg[HOSMI_MSG_CAP];
    int st = hosmi_model_create(out, &a, msg);
    if (st)
        return hosmi_fail(NULL, st, "hosm_model_new: %s", msg);
    return HOSM_OK;
}

void hosm_model_free(hosm_model *model)
{
    if (!model)
        return;
    free(model->params);
    free(model->sigmas);
    free(model);
}

int hosmi_same_arch(const hosm_model *a, const hosm_model *b)
{
    const hosmi_arch *x = &a->arch, *y = &b->arch;
    if (x->dim != y->dim || x->hidden != y->hidden || x->depth != y->depth ||
        x->levels != y->levels || x->act != y->act || x->s2 != y->s2 || a->rank != b->rank ||
        a->net.nparams != b->net.nparams || a->net2.nparams != b->net2.nparams ||
        a->net2.hidden != b->net2.hidden || a->net2.depth != b->net2.depth)
        return 0;
    for (int64_t l = 0; l < x->levels; l++)
        if (a->sigmas[l] != b->sigmas[l])
            return 0;
    return 1;
}

#define NEED_MODEL(fn)                                                              \
    do {                                                                            \
        if (!model)                                                                 \
            return hosmi_fail(NULL, HOSM_E_NULL, fn ": model is NULL");             \
    } while (0)

int hosm_model_dim(const hosm_model *model, int64_t *out)
{
    NEED_MODEL("hosm_model_dim");
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_dim: out is NULL");
    *out = model->arch.dim;
    return HOSM_OK;
}

int hosm_model_num_levels(const hosm_model *model, int64_t *out)
{
    NEED_MODEL("hosm_model_num_levels");
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_num_levels: out is NULL");
    *out = model->arch.levels;
    return HOSM_OK;
}

static int check_level(const hosm_model *model, const char *fn, int64_t level)
{
    if (level < 0 || level >= model->arch.levels)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: level %lld is outside [0, %lld)", fn,
                          (long long)level, (long long)model->arch.levels);
    return HOSM_OK;
}

int hosm_model_sigma(const hosm_model *model, int64_t level, double *out)
{
    NEED_MODEL("hosm_model_sigma");
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_sigma: out is NULL");
    int st = check_level(model, "hosm_model_sigma", level);
    if (st)
        return st;
    *out = model->sigmas[level];
    return HOSM_OK;
}

int hosm_model_num_params(const hosm_model *model, int64_t *out)
{
    NEED_MODEL("hosm_model_num_params");
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_num_params: out is NULL");
    *out = model->nparams;
    return HOSM_OK;
}

int hosm_model_get_params(const hosm_model *model, float *out, int64_t count)
{
    NEED_MODEL("hosm_model_get_params");
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
    NEED_MODEL("hosm_model_set_params");
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

int hosm_model_get_config(const hosm_model *model, hosm_config *cfg)
{
    NEED_MODEL("hosm_model_get_config");
    if (!cfg)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_get_config: cfg is NULL");
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
    return HOSM_OK;
}

int hosm_model_s2_structure(const hosm_model *model, int *structure, int64_t *rank)
{
    NEED_MODEL("hosm_model_s2_structure");
    if (structure)
        *structure = model->arch.s2;
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

/* s1 (or the posterior mean when denoise is set) of n points, in chunks. */
static int query(const hosm_model *model, const char *fn, int64_t level, const float *x,
                 int64_t n, float *out, int denoise)
{
    NEED_MODEL("hosm_model query");
    int st = check_level(model, fn, level);
    if (st)
        return st;
    const int64_t D = model->arch.dim;
    st = hosmi_check_points(NULL, fn, x, n, D);
    if (st)
        return st;
    if (n > 0 && !out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: out is NULL", fn);
    if (n == 0)
        return HOSM_OK;
    int64_t cap = n < QUERY_CHUNK ? n : QUERY_CHUNK;
    hosmi_mlp_ws ws;
    float *tmp = hosmi_alloc(cap * D, sizeof(float));
    if (!tmp || hosmi_mlp_ws_alloc(&ws, &model->net, cap) != 0) {
        free(tmp);
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    }
    const double sigma = model->sigmas[level];
    const float inv = (float)(1.0 / sigma), s2 = (float)(sigma * sigma);
    for (int64_t i0 = 0; i0 < n; i0 += cap) {
        int64_t rows = n - i0 < cap ? n - i0 : cap;
        const float *xi = x + i0 * D;
        hosmi_mlp_forward(&model->net, &model->blas, model->params, xi, NULL, level, rows, &ws,
                          tmp);
        float *o = out + i0 * D;
        for (int64_t j = 0; j < rows * D; j++) {
            float s = tmp[j] * inv;
            o[j] = denoise ? xi[j] + s2 * s : s;
        }
    }
    hosmi_mlp_ws_free(&ws);
    free(tmp);
    return HOSM_OK;
}

int hosm_model_score(const hosm_model *model, int64_t level, const float *x, int64_t n,
                     float *out)
{
    return query(model, "hosm_model_score", level, x, n, out, 0);
}

int hosm_model_denoise(const hosm_model *model, int64_t level, const float *x, int64_t n,
                       float *out)
{
    return query(model, "hosm_model_denoise", level, x, n, out, 1);
}

/* ---- files ---- */

void hosmi_model_write(hosmi_writer *w, const hosm_model *m)
{
    const hosmi_arch *a = &m->arch;
    hosmi_w_section(w, TAG_ARCH);
    hosmi_w_u64(w, (uint64_t)a->dim);
    hosmi_w_u64(w, (uint64_t)a->hidden);
    hosmi_w_u64(w, (uint64_t)a->depth);
    hosmi_w_u32(w, (uint32_t)a->act);
    hosmi_w_u32(w, 0);
    hosmi_w_u64(w, (uint64_t)a->levels);
    hosmi_w_f64(w, a->sigma);
    hosmi_w_f64(w, a->sigma_max);
    hosmi_w_f64(w, a->sigma_min);
    hosmi_w_u64(w, (uint64_t)a->seed);
    hosmi_w_u64(w, (uint64_t)a->threads);
    hosmi_w_u64(w, (uint64_t)m->net.nparams);
    for (int64_t l = 0; l < a->levels; l++)
        hosmi_w_f64(w, m->sigmas[l]);
    hosmi_w_section_end(w);
    hosmi_w_section(w, TAG_PRM1);
    hosmi_w_f32s(w, m->params, m->net.nparams);
    hosmi_w_section_end(w);
    if (a->s2 == HOSM_S2_NONE)
        return;
    /* Files with an s2 network need a version 2 reader; others stay version 1. */
    w->version = 2;
    hosmi_w_section(w, TAG_S2NT);
    hosmi_w_u32(w, (uint32_t)a->s2);
    hosmi_w_u32(w, 0);
    hosmi_w_u64(w, (uint64_t)a->rank);
    hosmi_w_u64(w, (uint64_t)a->s2_hidden);
    hosmi_w_u64(w, (uint64_t)a->s2_depth);
    hosmi_w_u64(w, (uint64_t)m->net2.nparams);
    hosmi_w_f32s(w, hosmi_params2(m), m->net2.nparams);
    hosmi_w_section_end(w);
}

/* Reads the ARCH payload into a and the ladder into sigmas (allocated). */
static int read_arch(hosmi_reader *r, hosmi_arch *a, uint64_t *nparams, double **sigmas,
                     char *msg)
{
    a->dim = (int64_t)hosmi_r_u64(r);
    a->hidden = (int64_t)hosmi_r_u64(r);
    a->depth = (int64_t)hosmi_r_u64(r);
    a->act = (int)hosmi_r_u32(r);
    uint32_t reserved = hosmi_r_u32(r);
    a->levels = (int64_t)hosmi_r_u64(r);
    a->sigma = hosmi_r_f64(r);
    a->sigma_max = hosmi_r_f64(r);
    a->sigma_min = hosmi_r_f64(r);
    a->seed = (int64_t)hosmi_r_u64(r);
    a->threads = (int64_t)hosmi_r_u64(r);
    *nparams = hosmi_r_u64(r);
    a->s2 = HOSM_S2_NONE; /* until an S2NT section says otherwise */
    a->rank = 1;
    a->s2_hidden = a->s2_depth = 0;
    int64_t L = a->levels;
    if (r->bad || reserved != 0 || L < 1 || L > (r->size - r->pos) / 8)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "malformed architecture section");
    *sigmas = hosmi_alloc(L, sizeof(double));
    if (!*sigmas)
        return hosmi_fail(msg, HOSM_E_NOMEM, "out of memory");
    for (int64_t l = 0; l < L; l++) {
        double s = (*sigmas)[l] = hosmi_r_f64(r);
        if (!(s > 0.0) || !isfinite(s) || (l > 0 && !(s < (*sigmas)[l - 1])))
            r->bad = 1;
    }
    if (r->bad || r->pos != r->size)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "malformed noise levels");
    return HOSM_OK;
}

static int read_s2_header(hosmi_reader *r, hosmi_arch *a, uint64_t *nparams2, char *msg)
{
    a->s2 = (int)hosmi_r_u32(r);
    uint32_t reserved = hosmi_r_u32(r);
    a->rank = (int64_t)hosmi_r_u64(r);
    a->s2_hidden = (int64_t)hosmi_r_u64(r);
    a->s2_depth = (int64_t)hosmi_r_u64(r);
    *nparams2 = hosmi_r_u64(r);
    if (r->bad || reserved != 0 || a->s2 == HOSM_S2_NONE)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "malformed s2 section");
    return HOSM_OK;
}

int hosmi_model_read(hosmi_reader *r, uint32_t sections, hosm_model **out, hosmi_section_fn extra,
                     void *ctx, char *msg)
{
    /* Sections are located first and decoded once the architecture is whole. */
    hosmi_reader arch_p = {0}, prm1_p = {0}, s2_p = {0};
    int have = 0; /* bits: 1 ARCH, 2 PRM1, 4 S2NT */
    for (uint32_t s = 0; s < sections; s++) {
        uint32_t tag;
        hosmi_reader p;
        int bad = hosmi_r_section(r, &tag, &p);
        if (bad)
            return hosmi_fail(msg, HOSM_E_CORRUPT, "section %u %s", s,
                              bad == -2 ? "has a nonzero reserved field" : "overruns the data");
        int bit = tag == TAG_ARCH ? 1 : tag == TAG_PRM1 ? 2 : tag == TAG_S2NT ? 4 : 0;
        if (bit == 4 && r->version < 2)
            return hosmi_fail(msg, HOSM_E_CORRUPT, "an s2 section in a version %u file",
                              r->version);
        if (bit && !(have & bit)) {
            have |= bit;
            *(bit == 1 ? &arch_p : bit == 2 ? &prm1_p : &s2_p) = p;
            continue;
        }
        int st = extra && !bit ? extra(tag, &p, ctx, msg)
                               : hosmi_fail(msg, HOSM_E_CORRUPT,
                                            "unexpected section %u (tag 0x%08x)", s, tag);
        if (st)
            return st;
    }
    if ((have & 3) != 3 || r->pos != r->size)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "missing or trailing sections");
    hosmi_arch a;
    uint64_t n1, n2 = 0;
    double *sigmas = NULL;
    int st = read_arch(&arch_p, &a, &n1, &sigmas, msg);
    if (!st && (have & 4))
        st = read_s2_header(&s2_p, &a, &n2, msg);
    char detail[HOSMI_MSG_CAP];
    hosm_model *m = NULL;
    if (!st && (st = model_alloc(&m, &a, detail)) != HOSM_OK)
        st = hosmi_fail(msg, st == HOSM_E_NOMEM ? st : HOSM_E_CORRUPT, "invalid architecture: %s",
                        detail);
    if (!st && (n1 != (uint64_t)m->net.nparams || n2 != (uint64_t)m->net2.nparams))
        st = hosmi_fail(msg, HOSM_E_CORRUPT, "parameter count does not match the architecture");
    if (!st) {
        memcpy(m->sigmas, sigmas, (size_t)a.levels * sizeof(double));
        hosmi_r_f32s(&prm1_p, m->params, m->net.nparams);
        if (have & 4)
            hosmi_r_f32s(&s2_p, hosmi_params2(m), m->net2.nparams);
        if (prm1_p.bad || prm1_p.pos != prm1_p.size || ((have & 4) && s2_p.pos != s2_p.size) ||
            s2_p.bad || !hosmi_all_finite(m->params, m->nparams))
            st = hosmi_fail(msg, HOSM_E_CORRUPT, "malformed parameter section");
    }
    free(sigmas);
    if (st) {
        hosm_model_free(m);
        return st;
    }
    *out = m;
    return HOSM_OK;
}

static void encode_model(hosmi_writer *w, const void *model)
{
    hosmi_model_write(w, model);
}

int hosm_model_save_size(const hosm_model *model, int64_t *bytes)
{
    NEED_MODEL("hosm_model_save_size");
    if (!bytes)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_save_size: bytes is NULL");
    *bytes = hosmi_encoded_size(HOSMI_MAGIC_MODEL, encode_model, model);
    return HOSM_OK;
}

int hosm_model_save_mem(const hosm_model *model, void *buf, int64_t cap, int64_t *written)
{
    NEED_MODEL("hosm_model_save_mem");
    return hosmi_encode("hosm_model_save_mem", HOSMI_MAGIC_MODEL, encode_model, model, buf, cap,
                        written);
}

int hosm_model_save(const hosm_model *model, const char *path)
{
    NEED_MODEL("hosm_model_save");
    return hosmi_save("hosm_model_save", HOSMI_MAGIC_MODEL, encode_model, model, path);
}

int hosm_model_load_mem(hosm_model **out, const void *buf, int64_t size)
{
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_load_mem: out is NULL");
    *out = NULL;
    if (!buf)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_load_mem: buf is NULL");
    if (size < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "hosm_model_load_mem: size %lld is negative",
                          (long long)size);
    char msg[HOSMI_MSG_CAP];
    hosmi_reader r;
    uint32_t sections;
    int st = hosmi_r_open(&r, buf, size, HOSMI_MAGIC_MODEL, &sections, msg);
    if (!st)
        st = hosmi_model_read(&r, sections, out, NULL, NULL, msg);
    if (st)
        return hosmi_fail(NULL, st, "hosm_model_load: %s", msg);
    return HOSM_OK;
}

int hosm_model_load(hosm_model **out, const char *path)
{
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_load: out is NULL");
    *out = NULL;
    if (!path)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_load: path is NULL");
    void *buf;
    int64_t size;
    char msg[HOSMI_MSG_CAP];
    int st = hosmi_read_file(path, &buf, &size, msg);
    if (st)
        return hosmi_fail(NULL, st, "hosm_model_load: %s", msg);
    st = hosm_model_load_mem(out, buf, size);
    free(buf);
    return st;
}

const char *hosm_model_errmsg(const hosm_model *model)
{
    return model ? model->errmsg : "";
}
