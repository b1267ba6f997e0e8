/* The trainer: the handle, the gradient of a batch through the objective
 * table, the update (optim.c), minibatch fitting and the EMA copy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "train/trainer.h"

/* RNG streams of one seed: 0 initialises weights (model), NOISE_STREAM +
 * "stream" * STREAM_STRIDE draws training noise, PERM_STREAM + e shuffles
 * epoch e (e < 2^40: apart from every noise stream). */
#define NOISE_STREAM 1
#define STREAM_STRIDE ((uint64_t)1 << 44)
#define PERM_STREAM ((uint64_t)1 << 32)
/* Projections of score matching at step s: stream PROJ_STREAM + s of a seed
 * mixed with "stream", so a gradient is reproducible and changes no state. */
#define PROJ_STREAM ((uint64_t)3 << 62)

int hosmi_check_trainer(const hosm_trainer *t, const char *fn)
{
    return hosmi_check_handle(t, HOSMI_HANDLE_TRAINER, fn, "trainer");
}

static int count_blocks(unsigned blocks)
{
    return (blocks & 1) + (blocks >> 1 & 1) + (blocks >> 2 & 1);
}

/* Position of a block among those in `blocks` (they are stored in order). */
static int block_pos(unsigned blocks, int block)
{
    return count_blocks(blocks & (HOSMI_ROWS(block) - 1));
}

static void free_workspace(hosm_trainer *t)
{
    hosmi_eval_free(&t->eval);
    float **bufs[] = {&t->rows_in, &t->s1, &t->ds1,     &t->s2, &t->ds2, &t->noise,
                      &t->batch_x, &t->w,  &t->s2_work, &t->v,  &t->t1,  &t->dt1};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
    free(t->point_loss);
    free(t->zero);
    free(t->s2_dwork);
    t->s2_dwork = NULL;
    t->point_loss = NULL;
    t->zero = NULL;
    free(t->rows_level);
    free(t->levels);
    t->rows_level = t->levels = NULL;
    t->cap = 0;
}

/* Rows of the s2 network for n points: the blocks up to the last it reads. */
static int64_t rows2_of(const hosm_trainer *t, int64_t n)
{
    int last = -1;
    for (int b = 0; b < HOSMI_BLOCKS; b++)
        if (t->blocks2 & HOSMI_ROWS(b))
            last = block_pos(t->blocks1, b);
    return (last + 1) * n;
}

/* Grows the workspace to hold n points; allocation happens only on growth. */
static int reserve(hosm_trainer *t, int64_t n)
{
    if (n <= t->cap)
        return HOSM_OK;
    free_workspace(t);
    const hosm_model *m = t->model;
    const int64_t D = m->arch.dim, rows = count_blocks(t->blocks1) * n, out2 = m->net2.out;
    const int64_t rows2 = rows2_of(t, n);
    const unsigned mode1 = t->k ? HOSMI_PLAN_TANGENT_GRAD : HOSMI_PLAN_GRAD;
    int ok = hosmi_eval_alloc(&t->eval, m, rows, mode1, t->k, rows2, HOSMI_PLAN_GRAD) == 0;
    const int64_t nkd = hosmi_mul(hosmi_mul(n, t->k), D);
    t->v = hosmi_alloc(t->k ? nkd : 1, sizeof(float));
    t->t1 = hosmi_alloc(t->k ? nkd : 1, sizeof(float));
    t->dt1 = hosmi_alloc(t->k ? nkd : 1, sizeof(float));
    ok = ok && t->v && t->t1 && t->dt1;
    t->rows_in = hosmi_alloc(hosmi_mul(rows, D), sizeof(float));
    t->s1 = hosmi_alloc(hosmi_mul(rows, D), sizeof(float));
    t->ds1 = hosmi_alloc(hosmi_mul(rows, D), sizeof(float));
    t->s2 = hosmi_alloc(hosmi_mul(rows2, out2), sizeof(float));
    t->ds2 = hosmi_alloc(hosmi_mul(rows2, out2), sizeof(float));
    t->noise = hosmi_alloc(hosmi_mul(n, D), sizeof(float));
    t->batch_x = hosmi_alloc(hosmi_mul(n, D), sizeof(float));
    const int64_t threads = hosmi_pool_size(t->blas.pool);
    t->s2_work_len = hosmi_s2_term_work(m->arch.s2, D, m->rank);
    t->w = hosmi_alloc(hosmi_mul(threads, D), sizeof(float));
    t->s2_work = hosmi_alloc(hosmi_mul(threads, t->s2_work_len), sizeof(float));
    t->s2_dwork_len = t->obj2 && t->obj2->likelihood ? hosmi_s2_nll_work(m->arch.s2, m->rank) : 1;
    t->s2_dwork = hosmi_alloc(hosmi_mul(threads, t->s2_dwork_len), sizeof(double));
    t->zero = hosmi_calloc(D, sizeof(float));
    t->point_loss = hosmi_alloc(n, sizeof(double));
    t->rows_level = hosmi_alloc(rows, sizeof(int64_t));
    t->levels = hosmi_alloc(n, sizeof(int64_t));
    if (!ok || !t->rows_in || !t->s1 || !t->ds1 || !t->s2 || !t->ds2 || !t->noise ||
        !t->batch_x || !t->w || !t->s2_work || !t->s2_dwork || !t->zero || !t->point_loss ||
        !t->rows_level ||
        !t->levels) {
        free_workspace(t);
        return hosmi_fail(t->errmsg, HOSM_E_NOMEM, "cannot allocate a workspace for %lld points",
                          (long long)n);
    }
    t->cap = n;
    return HOSM_OK;
}

static int read_config(hosm_trainer *t, const hosm_config *cfg)
{
    const hosm_model *model = t->model;
    const int has2 = model->arch.s2 != HOSM_S2_NONE;
    const int freeze = has2 && cfg->ival[HOSM_KEY_FREEZE_S1] != 0;
    t->obj1 = freeze ? NULL : hosmi_objective_first((int)cfg->ival[HOSM_KEY_OBJECTIVE]);
    t->obj2 = has2 ? hosmi_objective_second((int)cfg->ival[HOSM_KEY_S2_OBJECTIVE]) : NULL;
    if (t->obj2 && t->obj2->likelihood && model->arch.s2_head != HOSM_S2_HEAD_LOGVAR)
        return hosmi_fail(NULL, HOSM_E_UNSUPPORTED,
                          "hosm_trainer_new: s2_objective=d2sm_res_nll needs a model with "
                          "s2_head=logvar (positive variances)");
    if (t->obj1 && t->obj1->tangents != HOSMI_TANGENTS_NONE) {
        if (t->obj2 && t->obj2->rows != HOSMI_ROWS(HOSMI_BLOCK_NOISY))
            return hosmi_fail(NULL, HOSM_E_UNSUPPORTED,
                              "hosm_trainer_new: the score-matching objectives train jointly "
                              "with s2_objective=d2sm only");
        t->k = t->obj1->tangents == HOSMI_TANGENTS_UNIT ? model->arch.dim
                                                         : cfg->ival[HOSM_KEY_PROJECTIONS];
        t->projection = (int)cfg->ival[HOSM_KEY_PROJECTION];
        t->clean_rows = !t->obj2 && cfg->ival[HOSM_KEY_SSM_NOISE] == 0;
        t->proj_seed = (uint64_t)cfg->ival[HOSM_KEY_SEED] ^
                       (uint64_t)cfg->ival[HOSM_KEY_STREAM] * 0x9e3779b97f4a7c15ULL;
    }
    t->blocks2 = t->obj2 ? t->obj2->rows : 0;
    t->blocks1 = (t->obj1 ? t->obj1->rows : 0) | t->blocks2;
    t->w1 = cfg->dval[HOSM_KEY_W1];
    t->nll_marginal = cfg->dval[HOSM_KEY_NLL_MARGINAL];
    t->adam = (hosmi_adam){.lr = cfg->dval[HOSM_KEY_LR],
                           .beta1 = cfg->dval[HOSM_KEY_BETA1],
                           .beta2 = cfg->dval[HOSM_KEY_BETA2],
                           .eps = cfg->dval[HOSM_KEY_ADAM_EPS],
                           .weight_decay = cfg->dval[HOSM_KEY_WEIGHT_DECAY],
                           .clip = cfg->dval[HOSM_KEY_CLIP],
                           .ema = cfg->dval[HOSM_KEY_EMA],
                           .schedule = (int)cfg->ival[HOSM_KEY_LR_SCHEDULE],
                           .warmup = cfg->ival[HOSM_KEY_WARMUP],
                           .horizon = cfg->ival[HOSM_KEY_STEPS]};
    /* The cosine's horizon is the key 'steps' whoever makes the steps. */
    if (t->adam.schedule == HOSM_LR_COSINE && cfg->ival[HOSM_KEY_EPOCHS] > 0)
        return hosmi_fail(NULL, HOSM_E_RANGE,
                          "hosm_trainer_new: lr_schedule=cosine decays over 'steps'; set "
                          "epochs=0 and give the step count in 'steps'");
    if (t->adam.schedule == HOSM_LR_COSINE && t->adam.horizon <= t->adam.warmup)
        return hosmi_fail(NULL, HOSM_E_RANGE,
                          "hosm_trainer_new: lr_schedule=cosine needs steps > warmup "
                          "(steps %lld, warmup %lld)",
                          (long long)t->adam.horizon, (long long)t->adam.warmup);
    if (cfg->ival[HOSM_KEY_RAW_HEAD] && model->arch.levels == 1)
        hosmi_head_ranges(model, t->adam.ranges);
    t->batch = cfg->ival[HOSM_KEY_BATCH];
    t->steps = cfg->ival[HOSM_KEY_STEPS];
    t->epochs = cfg->ival[HOSM_KEY_EPOCHS];
    t->seed = cfg->ival[HOSM_KEY_SEED];
    t->blas.threads = hosmi_blas_threads(cfg->ival[HOSM_KEY_THREADS]);
    t->blas.kernels = (int)cfg->ival[HOSM_KEY_GEMM_KERNELS];
    t->blas.pool = hosmi_pool_new(t->blas.threads);
    return HOSM_OK;
}

int hosm_trainer_new(hosm_trainer **out, hosm_model *model, const hosm_config *cfg)
{
    static const char fn[] = "hosm_trainer_new";
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
    hosm_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    t->magic = HOSMI_HANDLE_TRAINER;
    t->model = model;
    if ((st = read_config(t, cfg)) != HOSM_OK) {
        free(t);
        return st;
    }
    hosmi_rng_seed(&t->rng, (uint64_t)t->seed,
                   NOISE_STREAM + (uint64_t)cfg->ival[HOSM_KEY_STREAM] * STREAM_STRIDE);
    t->perm_n = -1;
    const int64_t P = model->nparams;
    t->grad = hosmi_alloc(P, sizeof(float));
    t->state.m = hosmi_calloc(P, sizeof(float));
    t->state.v = hosmi_calloc(P, sizeof(float));
    t->state.ema = hosmi_calloc(P, sizeof(float));
    if (!t->grad || !t->state.m || !t->state.v || !t->state.ema) {
        hosm_trainer_free(t);
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: cannot allocate optimiser state", fn);
    }
    if (cfg != &defaults)
        hosmi_model_set_settings(model, cfg);
    *out = t;
    return HOSM_OK;
}

void hosm_trainer_free(hosm_trainer *t)
{
    if (!hosmi_is_handle(t, HOSMI_HANDLE_TRAINER))
        return;
    t->magic = HOSMI_HANDLE_FREED;
    free_workspace(t);
    hosmi_pool_free(t->blas.pool);
    free(t->grad);
    free(t->state.m);
    free(t->state.v);
    free(t->state.ema);
    free(t->perm);
    free(t);
}

/* Each point's rows: noisy x + sigma z, clean x, antithetic x - sigma z,
 * in the blocks the objectives read. */
static void fill_rows(hosm_trainer *t, const float *x, const float *z, const int64_t *lv,
                      int64_t n)
{
    const hosm_model *m = t->model;
    const int64_t D = m->arch.dim, nb = count_blocks(t->blocks1);
    for (int b = 0; b < HOSMI_BLOCKS; b++) {
        if (!(t->blocks1 & HOSMI_ROWS(b)))
            continue;
        float *rows = t->rows_in + block_pos(t->blocks1, b) * n * D;
        const float sign = b == HOSMI_BLOCK_NOISY ? (t->clean_rows ? 0.0f : 1.0f)
                           : b == HOSMI_BLOCK_ANTI ? -1.0f
                                                   : 0.0f;
        for (int64_t i = 0; i < n; i++) {
            const float s = sign * (float)m->sigmas[lv[i]];
            for (int64_t j = 0; j < D; j++)
                rows[i * D + j] = b == HOSMI_BLOCK_CLEAN ? x[i * D + j]
                                                         : x[i * D + j] + s * z[i * D + j];
        }
    }
    for (int64_t b = 0; b < nb; b++)
        memcpy(t->rows_level + b * n, lv, (size_t)n * sizeof(int64_t));
}

/* The objectives' view of the rows of n points. */
static hosmi_batch make_batch(hosm_trainer *t, const float *z, const int64_t *lv, int64_t n)
{
    const hosm_model *m = t->model;
    const int64_t D = m->arch.dim, out2 = m->net2.out;
    hosmi_batch b = {m,     &t->blas,     z,     lv,     {0},  {0},    {0},
                     {0},   t->k,         t->v,  t->t1, t->dt1,
                     t->w,  t->zero,       t->s2_work, t->s2_dwork, t->nll_marginal};
    for (int k = 0; k < HOSMI_BLOCKS; k++) {
        if (!(t->blocks1 & HOSMI_ROWS(k)))
            continue;
        const int64_t pos = block_pos(t->blocks1, k);
        b.s1[k] = t->s1 + pos * n * D;
        b.ds1[k] = t->obj1 ? t->ds1 + pos * n * D : NULL;
        if (t->blocks2 & HOSMI_ROWS(k)) {
            b.s2[k] = t->s2 + pos * n * out2;
            b.ds2[k] = t->ds2 + pos * n * out2;
        }
    }
    return b;
}

/* The tangents of s1 on the noisy block: along k projections a point drawn
 * from the step's projection stream, or the D unit vectors (exact SM). */
static void tangents(hosm_trainer *t, int64_t n)
{
    const hosm_model *m = t->model;
    const int64_t D = m->arch.dim, count = n * t->k * D;
    const int unit = t->obj1->tangents == HOSMI_TANGENTS_UNIT;
    if (!unit) {
        hosmi_rng r;
        hosmi_rng_seed(&r, t->proj_seed, PROJ_STREAM + (uint64_t)t->state.step);
        hosmi_rng_normal(&r, t->v, count);
        if (t->projection == HOSM_PROJ_RADEMACHER)
            for (int64_t j = 0; j < count; j++)
                t->v[j] = t->v[j] < 0.0f ? -1.0f : 1.0f;
    }
    hosmi_eval_s1_tangent(m, &t->blas, t->rows_level, 0, n, t->k, unit ? NULL : t->v, &t->eval,
                          t->t1);
    memset(t->dt1, 0, (size_t)count * sizeof(float));
}

/* The points' losses, in tasks of POINTS_A_TASK points on the trainer's
 * threads: each point writes only its own rows of the cotangents, and its
 * loss into t->point_loss, which the caller sums in order (the same bits
 * for any thread count). */
#define POINTS_A_TASK 16

typedef struct {
    hosm_trainer *t;
    const hosmi_batch *b;
    hosmi_blas serial; /* a task's products (low-rank D2SM) run on its own thread */
    const int64_t *lv;
    int64_t n;
} points_pass;

static void points_task(void *arg, int64_t task, int w)
{
    const points_pass *c = arg;
    hosm_trainer *t = c->t;
    const hosm_model *m = t->model;
    hosmi_batch b = *c->b;
    b.blas = &c->serial;
    b.w = t->w + w * m->arch.dim;
    b.work = t->s2_work + w * t->s2_work_len;
    b.dwork = t->s2_dwork + w * t->s2_dwork_len;
    const int64_t lo = task * POINTS_A_TASK;
    const int64_t hi = lo + POINTS_A_TASK < c->n ? lo + POINTS_A_TASK : c->n;
    for (int64_t i = lo; i < hi; i++) {
        const double sigma = m->sigmas[c->lv[i]];
        const double lambda = m->arch.levels == 1 ? 1.0 : t->obj2 ? pow(sigma, 4) : sigma * sigma;
        const double c1 = t->obj2 ? t->w1 / (sigma * sigma) : 1.0;
        const double scale = lambda / (double)c->n; /* d(batch loss) / d(point loss) */
        double point = 0.0;
        if (t->obj1 && c1 != 0.0)
            point += c1 * t->obj1->point(&b, i, scale * c1);
        if (t->obj2)
            point += t->obj2->point(&b, i, scale);
        t->point_loss[i] = lambda * point;
    }
}

/* Loss and gradient (into t->grad) on n points with noise z and levels lv.
 * Per point the loss is lambda * (c1 L1 + L2) with c1 = w1 / sigma^2 when s2
 * is trained (no L1 with s1 frozen) and 1 without s2, and lambda = 1 for one
 * level or sigma^2 (s1 only) / sigma^4 (with s2) on a ladder; the batch loss
 * is the mean over points (docs/math.md, docs/training.md). */
static double loss_grad(hosm_trainer *t, const float *x, const float *z, const int64_t *lv,
                        int64_t n)
{
    const hosm_model *m = t->model;
    const int64_t D = m->arch.dim, rows = count_blocks(t->blocks1) * n;
    const int64_t rows2 = rows2_of(t, n);
    fill_rows(t, x, z, lv, n);
    hosmi_eval_s1(m, &t->blas, t->rows_in, t->rows_level, 0, rows, &t->eval, t->s1);
    memset(t->ds1, 0, (size_t)(rows * D) * sizeof(float));
    if (t->obj2) {
        hosmi_eval_s2(m, &t->blas, t->rows_in, t->rows_level, 0, rows2, &t->eval, t->s2);
        memset(t->ds2, 0, (size_t)(rows2 * m->net2.out) * sizeof(float));
    }
    if (t->k)
        tangents(t, n);
    const hosmi_batch b = make_batch(t, z, lv, n);
    points_pass pass = {t, &b, {1, t->blas.kernels, NULL}, lv, n};
    hosmi_pool_run(t->blas.pool, (n + POINTS_A_TASK - 1) / POINTS_A_TASK, points_task, &pass);
    double loss = 0.0;
    for (int64_t i = 0; i < n; i++)
        loss += t->point_loss[i];
    memset(t->grad, 0, (size_t)m->nparams * sizeof(float));
    if (t->obj1 && t->k)
        hosmi_eval_s1_tangent_backward(m, &t->blas, t->rows_level, 0, n, t->k, &t->eval, t->ds1,
                                       t->dt1, t->grad);
    else if (t->obj1)
        hosmi_eval_s1_backward(m, &t->blas, t->rows_level, 0, rows, &t->eval, t->ds1, t->grad);
    if (t->obj2)
        hosmi_eval_s2_backward(m, &t->blas, t->rows_level, 0, rows2, &t->eval, t->ds2, t->grad);
    return loss / (double)n;
}

/* The update half of a step: with s1 frozen only the s2 parameters move. */
static int apply_update(hosm_trainer *t, const char *fn, const float *grad)
{
    const int64_t first = t->obj1 ? 0 : t->model->net.nparams;
    char msg[HOSMI_MSG_CAP];
    int st = hosmi_adam_apply(&t->adam, &t->state, t->model->params, grad, first,
                              t->model->nparams, msg);
    return st ? hosmi_fail(t->errmsg, st, "%s: %s", fn, msg) : st;
}

/* The levels and noise of n points, in the order a step draws them. */
static void draw_noise(hosm_trainer *t, int64_t n, float *noise, int64_t *levels)
{
    const hosm_model *m = t->model;
    for (int64_t i = 0; i < n; i++)
        levels[i] =
            m->arch.levels > 1 ? (int64_t)hosmi_rng_below(&t->rng, (uint64_t)m->arch.levels) : 0;
    hosmi_rng_normal(&t->rng, noise, n * m->arch.dim);
}

/* One step on n validated points (n <= t->cap). */
static int step_points(hosm_trainer *t, const float *x, int64_t n, double *loss)
{
    const hosmi_rng rng = t->rng; /* a failed step leaves every state as it was */
    draw_noise(t, n, t->noise, t->levels);
    double l = loss_grad(t, x, t->noise, t->levels, n);
    /* A non-finite gradient is caught by the update's checking pass. */
    int st = !isfinite(l)
                 ? hosmi_fail(t->errmsg, HOSM_E_NONFINITE,
                              "hosm_trainer_step: step %lld: the loss is not finite; nothing "
                              "changed (lower the learning rate or set 'clip')",
                              (long long)t->state.step)
                 : apply_update(t, "hosm_trainer_step", t->grad);
    if (st)
        t->rng = rng;
    else if (loss)
        *loss = l;
    return st;
}

static int check_batch(hosm_trainer *t, const char *fn, const float *x, int64_t n)
{
    int st = hosmi_check_points(t->errmsg, fn, x, n, t->model->arch.dim);
    if (st)
        return st;
    if (n == 0)
        return hosmi_fail(t->errmsg, HOSM_E_ARG, "%s: n = 0 points", fn);
    return reserve(t, n);
}

int hosm_trainer_step(hosm_trainer *t, const float *x, int64_t n, double *loss)
{
    int st = hosmi_check_trainer(t, "hosm_trainer_step");
    if (!st)
        st = check_batch(t, "hosm_trainer_step", x, n);
    return st ? st : step_points(t, x, n, loss);
}

int hosm_trainer_gradient(hosm_trainer *t, const float *x, const float *noise,
                          const int64_t *levels, int64_t n, double *loss, float *grad)
{
    static const char fn[] = "hosm_trainer_gradient";
    int st = hosmi_check_trainer(t, fn);
    if (st)
        return st;
    if (!grad)
        return hosmi_fail(t->errmsg, HOSM_E_NULL, "%s: grad is NULL", fn);
    if ((st = check_batch(t, fn, x, n)) != HOSM_OK)
        return st;
    st = hosmi_check_points(t->errmsg, "hosm_trainer_gradient (noise)", noise, n,
                            t->model->arch.dim);
    if (st)
        return st;
    for (int64_t i = 0; i < n; i++) {
        int64_t l = levels ? levels[i] : 0;
        if (l < 0 || l >= t->model->arch.levels)
            return hosmi_fail(t->errmsg, HOSM_E_ARG,
                              "%s: levels[%lld] = %lld is outside [0, %lld)", fn, (long long)i,
                              (long long)l, (long long)t->model->arch.levels);
        t->levels[i] = l;
    }
    double l = loss_grad(t, x, noise, t->levels, n);
    if (!isfinite(l) || !hosmi_all_finite(t->grad, t->model->nparams))
        return hosmi_fail(t->errmsg, HOSM_E_NONFINITE,
                          "%s: the loss or its gradient is not finite", fn);
    memcpy(grad, t->grad, (size_t)t->model->nparams * sizeof(float));
    if (loss)
        *loss = l;
    return HOSM_OK;
}

int hosm_trainer_apply_gradient(hosm_trainer *t, const float *grad, int64_t count)
{
    static const char fn[] = "hosm_trainer_apply_gradient";
    int st = hosmi_check_trainer(t, fn);
    if (st)
        return st;
    if (!grad)
        return hosmi_fail(t->errmsg, HOSM_E_NULL, "%s: grad is NULL", fn);
    if (count != t->model->nparams)
        return hosmi_fail(t->errmsg, HOSM_E_MISMATCH,
                          "%s: count %lld, but the model has %lld parameters", fn,
                          (long long)count, (long long)t->model->nparams);
    if (!hosmi_all_finite(grad, count))
        return hosmi_fail(t->errmsg, HOSM_E_NONFINITE, "%s: NaN or Inf in the gradient", fn);
    return apply_update(t, fn, grad);
}

/* The permutation of epoch e depends only on the seed, e and n. */
static int epoch_perm(hosm_trainer *t, const char *fn, int64_t n, int64_t e)
{
    if (t->perm_n == n && t->perm_epoch == e)
        return HOSM_OK;
    if (t->perm_n != n) {
        free(t->perm);
        t->perm = hosmi_alloc(n, sizeof(int64_t));
        t->perm_n = -1;
        if (!t->perm)
            return hosmi_fail(t->errmsg, HOSM_E_NOMEM, "%s: out of memory", fn);
    }
    hosmi_rng r;
    hosmi_rng_seed(&r, (uint64_t)t->seed, PERM_STREAM + (uint64_t)e);
    for (int64_t i = 0; i < n; i++)
        t->perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)hosmi_rng_below(&r, (uint64_t)i + 1);
        int64_t tmp = t->perm[i];
        t->perm[i] = t->perm[j];
        t->perm[j] = tmp;
    }
    t->perm_n = n;
    t->perm_epoch = e;
    return HOSM_OK;
}

int hosm_trainer_fit(hosm_trainer *t, const float *data, int64_t n, hosm_progress_fn cb,
                     void *user_data)
{
    static const char fn[] = "hosm_trainer_fit";
    int st = hosmi_check_trainer(t, fn);
    if (st)
        return st;
    const int64_t B = n < t->batch ? n : t->batch;
    if ((st = hosmi_check_points(t->errmsg, fn, data, n, t->model->arch.dim)) != HOSM_OK)
        return st;
    if (n == 0)
        return hosmi_fail(t->errmsg, HOSM_E_ARG, "%s: the data set is empty", fn);
    if ((st = reserve(t, B)) != HOSM_OK)
        return st;
    const int64_t D = t->model->arch.dim, per_epoch = (n + B - 1) / B;
    const int64_t target = t->epochs > 0 ? hosmi_mul(t->epochs, per_epoch) : t->steps;
    if (target < 0)
        return hosmi_fail(t->errmsg, HOSM_E_ARG, "%s: too many epochs", fn);
    while (t->state.step < target) {
        const int64_t e = t->state.step / per_epoch, k = t->state.step % per_epoch;
        if ((st = epoch_perm(t, fn, n, e)) != HOSM_OK)
            return st;
        const int64_t rows = n - k * B < B ? n - k * B : B;
        for (int64_t i = 0; i < rows; i++)
            memcpy(t->batch_x + i * D, data + t->perm[k * B + i] * D, (size_t)D * sizeof(float));
        double loss;
        if ((st = step_points(t, t->batch_x, rows, &loss)) != HOSM_OK)
            return st;
        if (cb && cb(t->state.step, loss, user_data) != 0)
            return HOSM_STOPPED;
    }
    return HOSM_OK;
}

int hosm_trainer_draw_noise(hosm_trainer *t, int64_t n, float *noise, int64_t *levels)
{
    static const char fn[] = "hosm_trainer_draw_noise";
    int st = hosmi_check_trainer(t, fn);
    if (st)
        return st;
    const hosm_model *m = t->model;
    if (n < 0 || hosmi_mul(n, m->arch.dim) < 0)
        return hosmi_fail(t->errmsg, HOSM_E_ARG, "%s: n = %lld is out of range", fn, (long long)n);
    if (n > 0 && (!noise || (!levels && m->arch.levels > 1)))
        return hosmi_fail(t->errmsg, HOSM_E_NULL, "%s: noise or levels is NULL", fn);
    int64_t *lv = levels ? levels : hosmi_alloc(n, sizeof(int64_t));
    if (!lv)
        return hosmi_fail(t->errmsg, HOSM_E_NOMEM, "%s: out of memory", fn);
    draw_noise(t, n, noise, lv);
    if (lv != levels)
        free(lv);
    return HOSM_OK;
}

int hosm_trainer_batch_indices(hosm_trainer *t, int64_t n, int64_t step, int64_t *indices,
                               int64_t *count)
{
    static const char fn[] = "hosm_trainer_batch_indices";
    int st = hosmi_check_trainer(t, fn);
    if (st)
        return st;
    if (!indices || !count)
        return hosmi_fail(t->errmsg, HOSM_E_NULL, "%s: indices or count is NULL", fn);
    if (n < 1 || n > HOSMI_MAX_ELEMS || step < 0)
        return hosmi_fail(t->errmsg, HOSM_E_ARG, "%s: n = %lld and step = %lld (need 1 <= n <= "
                          "2^40, step >= 0)", fn, (long long)n, (long long)step);
    const int64_t B = n < t->batch ? n : t->batch, per_epoch = (n + B - 1) / B;
    const int64_t k = step % per_epoch, rows = n - k * B < B ? n - k * B : B;
    if ((st = epoch_perm(t, fn, n, step / per_epoch)) != HOSM_OK)
        return st;
    memcpy(indices, t->perm + k * B, (size_t)rows * sizeof(int64_t));
    *count = rows;
    return HOSM_OK;
}

int hosm_shard(int64_t count, int64_t parts, int64_t part, int64_t *begin, int64_t *end)
{
    if (!begin || !end)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_shard: begin or end is NULL");
    if (count < 0 || parts < 1 || part < 0 || part >= parts)
        return hosmi_fail(NULL, HOSM_E_ARG,
                          "hosm_shard: count = %lld, parts = %lld, part = %lld (need count >= 0, "
                          "0 <= part < parts)", (long long)count, (long long)parts,
                          (long long)part);
    const int64_t q = count / parts, r = count % parts;
    *begin = part * q + (part < r ? part : r);
    *end = *begin + q + (part < r);
    return HOSM_OK;
}

int hosm_trainer_step_count(const hosm_trainer *t, int64_t *out)
{
    int st = hosmi_check_trainer(t, "hosm_trainer_step_count");
    if (st)
        return st;
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_step_count: out is NULL");
    *out = t->state.step;
    return HOSM_OK;
}

int hosm_trainer_copy_ema(const hosm_trainer *t, hosm_model *dst)
{
    static const char fn[] = "hosm_trainer_copy_ema";
    int st = hosmi_check_trainer(t, fn);
    if (!st)
        st = hosmi_check_handle(dst, HOSMI_HANDLE_MODEL, fn, "dst model");
    if (st)
        return st;
    if (!hosmi_same_arch(t->model, dst))
        return hosmi_fail(dst->errmsg, HOSM_E_MISMATCH, "%s: dst has another architecture", fn);
    const int64_t P = dst->nparams;
    if (t->state.step == 0) { /* no average yet: the current weights */
        memcpy(dst->params, t->model->params, (size_t)P * sizeof(float));
        return HOSM_OK;
    }
    const double norm = 1.0 - pow(t->adam.ema, (double)t->state.step);
    const float inv = (float)(norm > 0.0 ? 1.0 / norm : 1.0);
    for (int64_t i = 0; i < P; i++)
        dst->params[i] = t->state.ema[i] * inv;
    return HOSM_OK;
}

const char *hosm_trainer_errmsg(const hosm_trainer *t)
{
    return hosmi_is_handle(t, HOSMI_HANDLE_TRAINER) ? t->errmsg : "";
}
