/* Trainer: DSM and DSM-VR losses with exact gradients, Adam(W), clipping,
 * EMA, minibatch fitting and checkpoints. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "io/file.h"
#include "model/model.h"
#include "train/d2sm.h"

#define TAG_ADAM HOSMI_TAG('A', 'D', 'A', 'M')
#define TAG_EMA1 HOSMI_TAG('E', 'M', 'A', '1')
#define TAG_RNG1 HOSMI_TAG('R', 'N', 'G', '1')

/* RNG streams of one seed: 0 initialises weights (model), 1 draws training
 * noise, PERM_STREAM + e shuffles epoch e. */
#define NOISE_STREAM 1
#define PERM_STREAM ((uint64_t)1 << 32)

struct hosm_trainer {
    hosm_model *model;
    int objective, s2_objective, freeze_s1;
    double w1;
    double lr, beta1, beta2, adam_eps, weight_decay, clip, ema_decay;
    int64_t batch, steps, epochs, seed;
    hosmi_blas blas;
    hosmi_rng rng;
    int64_t step;
    float *grad, *adam_m, *adam_v, *ema; /* nparams each */
    /* Workspace for up to cap points: up to 3 cap network rows (the noisy,
     * clean and antithetic points), for s1 and for s2. */
    int64_t cap;
    hosmi_mlp_ws ws, ws2;
    float *rows_in, *rows_out, *rows_dout, *rows_out2, *rows_dout2, *noise, *batch_x;
    float *point_s1, *point_ds1, *point_w, *s2_work;
    int64_t *rows_level, *levels;
    /* The current epoch's permutation in fit. */
    int64_t *perm, perm_n, perm_epoch;
    char errmsg[HOSMI_MSG_CAP];
};

static void free_workspace(hosm_trainer *t)
{
    hosmi_mlp_ws_free(&t->ws);
    hosmi_mlp_ws_free(&t->ws2);
    float **bufs[] = {&t->rows_in,   &t->rows_out,   &t->rows_dout, &t->rows_out2,
                      &t->rows_dout2, &t->noise,     &t->batch_x,   &t->point_s1,
                      &t->point_ds1, &t->point_w,    &t->s2_work};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
    free(t->rows_level);
    free(t->levels);
    t->rows_level = t->levels = NULL;
    t->cap = 0;
}

/* Which row blocks a step runs (see loss_grad): the noisy points always, the
 * clean points for DSM-VR (unless s1 is frozen) or D2SM-VR, the antithetic
 * points for D2SM-VR. */
typedef struct {
    int has2, vr1, vr2;
    int64_t blocks;
} row_plan;

static row_plan plan_rows(const hosm_trainer *t)
{
    row_plan p;
    p.has2 = t->model->arch.s2 != HOSM_S2_NONE;
    p.vr2 = p.has2 && t->s2_objective == HOSM_OBJ_D2SM_VR;
    p.vr1 = !t->freeze_s1 && t->objective == HOSM_OBJ_DSM_VR;
    p.blocks = 1 + (p.vr1 || p.vr2) + p.vr2;
    return p;
}

/* Grows the workspace to hold n points; allocation happens only on growth. */
static int reserve(hosm_trainer *t, int64_t n)
{
    if (n <= t->cap)
        return HOSM_OK;
    free_workspace(t);
    const hosm_model *m = t->model;
    const row_plan plan = plan_rows(t);
    const int64_t D = m->arch.dim, rows = plan.blocks * n, has2 = plan.has2;
    const int64_t rows2 = has2 ? (plan.vr2 ? rows : n) : 0, out2 = m->net2.out;
    int ok = hosmi_mlp_ws_alloc(&t->ws, &m->net, rows) == 0 &&
             (!has2 || hosmi_mlp_ws_alloc(&t->ws2, &m->net2, rows2) == 0);
    t->rows_in = hosmi_alloc(hosmi_mul(rows, D), sizeof(float));
    t->rows_out = hosmi_alloc(hosmi_mul(rows, D), sizeof(float));
    t->rows_dout = hosmi_alloc(hosmi_mul(rows, D), sizeof(float));
    t->rows_out2 = hosmi_alloc(hosmi_mul(rows2, out2), sizeof(float));
    t->rows_dout2 = hosmi_alloc(hosmi_mul(rows2, out2), sizeof(float));
    t->noise = hosmi_alloc(hosmi_mul(n, D), sizeof(float));
    t->batch_x = hosmi_alloc(hosmi_mul(n, D), sizeof(float));
    t->point_s1 = hosmi_alloc(D, sizeof(float));
    t->point_ds1 = hosmi_alloc(D, sizeof(float));
    t->point_w = hosmi_alloc(D, sizeof(float));
    t->s2_work = hosmi_alloc(has2 ? hosmi_s2_work_floats(m) : 1, sizeof(float));
    t->rows_level = hosmi_alloc(rows, sizeof(int64_t));
    t->levels = hosmi_alloc(n, sizeof(int64_t));
    if (!ok || !t->rows_in || !t->rows_out || !t->rows_dout || !t->rows_out2 ||
        !t->rows_dout2 || !t->noise || !t->batch_x || !t->point_s1 || !t->point_ds1 ||
        !t->point_w || !t->s2_work || !t->rows_level || !t->levels) {
        free_workspace(t);
        return hosmi_fail(t->errmsg, HOSM_E_NOMEM, "cannot allocate a workspace for %lld points",
                          (long long)n);
    }
    t->cap = n;
    return HOSM_OK;
}

int hosm_trainer_new(hosm_trainer **out, hosm_model *model, const hosm_config *cfg)
{
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_new: out is NULL");
    *out = NULL;
    if (!model)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_new: model is NULL");
    struct hosm_config defaults;
    if (!cfg) {
        hosmi_config_defaults(&defaults);
        cfg = &defaults;
    }
    hosm_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return hosmi_fail(NULL, HOSM_E_NOMEM, "hosm_trainer_new: out of memory");
    t->model = model;
    t->objective = (int)cfg->ival[HOSM_KEY_OBJECTIVE];
    t->s2_objective = (int)cfg->ival[HOSM_KEY_S2_OBJECTIVE];
    t->freeze_s1 = model->arch.s2 != HOSM_S2_NONE && cfg->ival[HOSM_KEY_FREEZE_S1] != 0;
    t->w1 = cfg->dval[HOSM_KEY_W1];
    t->lr = cfg->dval[HOSM_KEY_LR];
    t->beta1 = cfg->dval[HOSM_KEY_BETA1];
    t->beta2 = cfg->dval[HOSM_KEY_BETA2];
    t->adam_eps = cfg->dval[HOSM_KEY_ADAM_EPS];
    t->weight_decay = cfg->dval[HOSM_KEY_WEIGHT_DECAY];
    t->clip = cfg->dval[HOSM_KEY_CLIP];
    t->ema_decay = cfg->dval[HOSM_KEY_EMA];
    t->batch = cfg->ival[HOSM_KEY_BATCH];
    t->steps = cfg->ival[HOSM_KEY_STEPS];
    t->epochs = cfg->ival[HOSM_KEY_EPOCHS];
    t->seed = cfg->ival[HOSM_KEY_SEED];
    t->blas.threads = (int)cfg->ival[HOSM_KEY_THREADS];
    hosmi_rng_seed(&t->rng, (uint64_t)t->seed, NOISE_STREAM);
    t->perm_n = -1;
    const int64_t P = model->nparams;
    t->grad = hosmi_alloc(P, sizeof(float));
    t->adam_m = hosmi_calloc(P, sizeof(float));
    t->adam_v = hosmi_calloc(P, sizeof(float));
    t->ema = hosmi_calloc(P, sizeof(float));
    if (!t->grad || !t->adam_m || !t->adam_v || !t->ema) {
        hosm_trainer_free(t);
        return hosmi_fail(NULL, HOSM_E_NOMEM, "hosm_trainer_new: cannot allocate optimiser state");
    }
    *out = t;
    return HOSM_OK;
}

void hosm_trainer_free(hosm_trainer *t)
{
    if (!t)
        return;
    free_workspace(t);
    free(t->grad);
    free(t->adam_m);
    free(t->adam_v);
    free(t->ema);
    free(t->perm);
    free(t);
}

/* Loss and gradient (into t->grad) on n points with noise z and levels lv.
 * Network rows, in blocks of n: the noisy points x + sigma z; the clean
 * points x (for DSM-VR and D2SM-VR); the antithetic points x - sigma z (for
 * D2SM-VR). s1 runs on every row, s2 on the rows where psi is needed.
 * Per point the loss is lambda * (c1 L1 + L2) with c1 = w1 / sigma^2 when s2
 * is trained (0 with s1 frozen) and 1 without s2, and lambda = 1 for one
 * level or sigma^2 (s1 only) / sigma^4 (with s2) on a ladder; the batch loss
 * is the mean over points (MATH.md 3.1-3.2, docs/training.md). */
static double loss_grad(hosm_trainer *t, const float *x, const float *z, const int64_t *lv,
                        int64_t n)
{
    const hosm_model *m = t->model;
    const int64_t D = m->arch.dim, out2 = m->net2.out;
    const row_plan plan = plan_rows(t);
    const int has2 = plan.has2, vr1 = plan.vr1, vr2 = plan.vr2, l1 = !t->freeze_s1;
    const int64_t clean = (vr1 || vr2) ? 1 : 0, anti = vr2 ? 2 : 0;
    const int64_t rows = plan.blocks * n, rows2 = vr2 ? rows : n;
    for (int64_t i = 0; i < n; i++) {
        const float s = (float)m->sigmas[lv[i]];
        for (int64_t j = 0; j < D; j++) {
            t->rows_in[i * D + j] = x[i * D + j] + s * z[i * D + j];
            if (anti)
                t->rows_in[(anti * n + i) * D + j] = x[i * D + j] - s * z[i * D + j];
        }
        if (clean)
            memcpy(t->rows_in + (clean * n + i) * D, x + i * D, (size_t)D * sizeof(float));
        for (int64_t b = 0; b < rows / n; b++)
            t->rows_level[b * n + i] = lv[i];
    }
    hosmi_mlp_forward(&m->net, &t->blas, m->params, t->rows_in, t->rows_level, 0, rows, &t->ws,
                      t->rows_out);
    memset(t->rows_dout, 0, (size_t)(rows * D) * sizeof(float));
    if (has2) {
        hosmi_mlp_forward(&m->net2, &t->blas, hosmi_params2(m), t->rows_in, t->rows_level, 0,
                          rows2, &t->ws2, t->rows_out2);
        memset(t->rows_dout2, 0, (size_t)(rows2 * out2) * sizeof(float));
    }
    double loss = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double sigma = m->sigmas[lv[i]], inv = 1.0 / sigma;
        const double lambda = m->arch.levels == 1 ? 1.0 : has2 ? pow(sigma, 4) : sigma * sigma;
        const double c1 = !l1 ? 0.0 : has2 ? t->w1 * inv * inv : 1.0;
        const double scale = lambda / (double)n; /* d(batch loss) / d(point loss) */
        /* First order: DSM (and the DSM-VR control variate at the clean row). */
        double acc = 0.0;
        if (c1 != 0.0) {
            const double g = 2.0 * scale * c1 * inv; /* through s1 = net / sigma */
            for (int64_t j = 0; j < D; j++) {
                const int64_t k = i * D + j;
                double r = ((double)t->rows_out[k] + z[k]) * inv; /* s1 + z / sigma */
                acc += r * r;
                t->rows_dout[k] += (float)(g * r);
                if (vr1) {
                    const int64_t c = (clean * n + i) * D + j;
                    double s1 = t->rows_out[c] * inv, zi = z[k] * inv;
                    acc -= 2.0 * s1 * zi + zi * zi;
                    t->rows_dout[c] += (float)(-g * zi);
                }
            }
        }
        double point = c1 * acc;
        /* Second order: psi = s2 + s1 s1^T against T = w w^T - I / sigma^2. */
        if (has2) {
            float *w = t->point_w;
            for (int64_t j = 0; j < D; j++)
                w[j] = (float)(z[i * D + j] * inv);
            static const double vr_alpha[3] = {0.5, 0.0, 0.5}, vr_beta[3] = {-1.0, 2.0, -1.0};
            for (int64_t b = 0; b < (vr2 ? 3 : 1); b++) {
                const int64_t row = b * n + i;
                for (int64_t j = 0; j < D; j++) {
                    t->point_s1[j] = (float)(t->rows_out[row * D + j] * inv);
                    t->point_ds1[j] = 0.0f;
                }
                const double alpha = vr2 ? vr_alpha[b] : 1.0, beta = vr2 ? vr_beta[b] : -2.0;
                point += hosmi_s2_term(m, &t->blas, sigma, t->rows_out2 + row * out2,
                                       t->point_s1, w, alpha, beta, scale,
                                       t->rows_dout2 + row * out2,
                                       t->freeze_s1 ? NULL : t->point_ds1, t->s2_work);
                if (!t->freeze_s1)
                    for (int64_t j = 0; j < D; j++)
                        t->rows_dout[row * D + j] += (float)(t->point_ds1[j] * inv);
            }
            if (!vr2)
                point += hosmi_s2_target_norm2(m, sigma, w);
        }
        loss += lambda * point;
    }
    memset(t->grad, 0, (size_t)m->nparams * sizeof(float));
    if (!t->freeze_s1)
        hosmi_mlp_backward(&m->net, &t->blas, m->params, t->rows_level, 0, rows,
                           &t->ws, t->rows_dout, t->grad, NULL);
    if (has2)
        hosmi_mlp_backward(&m->net2, &t->blas, hosmi_params2(m), t->rows_level, 0,
                           rows2, &t->ws2, t->rows_dout2, t->grad + m->net.nparams, NULL);
    return loss / (double)n;
}

/* Adam(W) update with gradient clipping, then the EMA. The EMA accumulator
 * starts at zero and hosm_trainer_copy_ema divides it by 1 - decay^step, so
 * the copy is the normalised exponentially weighted average of the weights
 * after steps 1..step, free of the initial weights. */
static void adam_update(hosm_trainer *t)
{
    /* With s1 frozen only the s2 parameters move. */
    const int64_t first = t->freeze_s1 ? t->model->net.nparams : 0, P = t->model->nparams;
    float *p = t->model->params;
    double scale = 1.0;
    if (t->clip > 0.0) {
        double sq = 0.0;
        for (int64_t i = first; i < P; i++)
            sq += (double)t->grad[i] * t->grad[i];
        double norm = sqrt(sq);
        if (norm > t->clip)
            scale = t->clip / norm;
    }
    t->step++;
    const double bc1 = 1.0 - pow(t->beta1, (double)t->step);
    const double bc2 = 1.0 - pow(t->beta2, (double)t->step);
    const float b1 = (float)t->beta1, b2 = (float)t->beta2;
    const float step = (float)(t->lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2));
    const float eps = (float)t->adam_eps, decay = (float)(t->lr * t->weight_decay);
    const float sc = (float)scale, e = (float)t->ema_decay;
    for (int64_t i = first; i < P; i++) {
        float g = t->grad[i] * sc;
        t->adam_m[i] = b1 * t->adam_m[i] + (1.0f - b1) * g;
        t->adam_v[i] = b2 * t->adam_v[i] + (1.0f - b2) * g * g;
        p[i] -= step * t->adam_m[i] / (sqrtf(t->adam_v[i]) * rbc2 + eps) + decay * p[i];
    }
    for (int64_t i = 0; i < P; i++)
        t->ema[i] = e * t->ema[i] + (1.0f - e) * p[i];
}

/* One step on n validated points (n <= t->cap). */
static int step_points(hosm_trainer *t, const float *x, int64_t n, double *loss)
{
    const hosm_model *m = t->model;
    for (int64_t i = 0; i < n; i++)
        t->levels[i] = m->arch.levels > 1 ? (int64_t)hosmi_rng_below(&t->rng, (uint64_t)m->arch.levels) : 0;
    hosmi_rng_normal(&t->rng, t->noise, n * m->arch.dim);
    double l = loss_grad(t, x, t->noise, t->levels, n);
    if (!isfinite(l) || !hosmi_all_finite(t->grad, m->nparams))
        return hosmi_fail(t->errmsg, HOSM_E_NONFINITE,
                          "step %lld: the loss or its gradient is not finite; weights unchanged "
                          "(lower the learning rate or set 'clip')",
                          (long long)t->step);
    adam_update(t);
    if (loss)
        *loss = l;
    return HOSM_OK;
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
    if (!t)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_step: trainer is NULL");
    int st = check_batch(t, "hosm_trainer_step", x, n);
    return st ? st : step_points(t, x, n, loss);
}

int hosm_trainer_gradient(hosm_trainer *t, const float *x, const float *noise,
                          const int64_t *levels, int64_t n, double *loss, float *grad)
{
    if (!t)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_gradient: trainer is NULL");
    if (!grad)
        return hosmi_fail(t->errmsg, HOSM_E_NULL, "hosm_trainer_gradient: grad is NULL");
    int st = check_batch(t, "hosm_trainer_gradient", x, n);
    if (st)
        return st;
    st = hosmi_check_points(t->errmsg, "hosm_trainer_gradient (noise)", noise, n,
                            t->model->arch.dim);
    if (st)
        return st;
    for (int64_t i = 0; i < n; i++) {
        int64_t l = levels ? levels[i] : 0;
        if (l < 0 || l >= t->model->arch.levels)
            return hosmi_fail(t->errmsg, HOSM_E_ARG, "hosm_trainer_gradient: levels[%lld] = %lld "
                              "is outside [0, %lld)", (long long)i, (long long)l,
                              (long long)t->model->arch.levels);
        t->levels[i] = l;
    }
    double l = loss_grad(t, x, noise, t->levels, n);
    memcpy(grad, t->grad, (size_t)t->model->nparams * sizeof(float));
    if (loss)
        *loss = l;
    return HOSM_OK;
}

/* The permutation of epoch e depends only on the seed, e and n. */
static int epoch_perm(hosm_trainer *t, int64_t n, int64_t e)
{
    if (t->perm_n == n && t->perm_epoch == e)
        return HOSM_OK;
    if (t->perm_n != n) {
        free(t->perm);
        t->perm = hosmi_alloc(n, sizeof(int64_t));
        t->perm_n = -1;
        if (!t->perm)
            return hosmi_fail(t->errmsg, HOSM_E_NOMEM, "hosm_trainer_fit: out of memory");
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
    if (!t)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_fit: trainer is NULL");
    const int64_t B = n < t->batch ? n : t->batch;
    int st = hosmi_check_points(t->errmsg, "hosm_trainer_fit", data, n, t->model->arch.dim);
    if (st)
        return st;
    if (n == 0)
        return hosmi_fail(t->errmsg, HOSM_E_ARG, "hosm_trainer_fit: the data set is empty");
    if ((st = reserve(t, B)) != HOSM_OK)
        return st;
    const int64_t D = t->model->arch.dim, per_epoch = (n + B - 1) / B;
    const int64_t target = t->epochs > 0 ? hosmi_mul(t->epochs, per_epoch) : t->steps;
    if (target < 0)
        return hosmi_fail(t->errmsg, HOSM_E_ARG, "hosm_trainer_fit: too many epochs");
    while (t->step < target) {
        const int64_t e = t->step / per_epoch, k = t->step % per_epoch;
        if ((st = epoch_perm(t, n, e)) != HOSM_OK)
            return st;
        const int64_t rows = n - k * B < B ? n - k * B : B;
        for (int64_t i = 0; i < rows; i++)
            memcpy(t->batch_x + i * D, data + t->perm[k * B + i] * D, (size_t)D * sizeof(float));
        double loss;
        if ((st = step_points(t, t->batch_x, rows, &loss)) != HOSM_OK)
            return st;
        if (cb && cb(t->step, loss, user_data) != 0)
            return HOSM_STOPPED;
    }
    return HOSM_OK;
}

int hosm_trainer_step_count(const hosm_trainer *t, int64_t *out)
{
    if (!t || !out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_step_count: trainer or out is NULL");
    *out = t->step;
    return HOSM_OK;
}

int hosm_trainer_copy_ema(const hosm_trainer *t, hosm_model *dst)
{
    if (!t || !dst)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_copy_ema: trainer or dst is NULL");
    if (!hosmi_same_arch(t->model, dst))
        return hosmi_fail(dst->errmsg, HOSM_E_MISMATCH,
                          "hosm_trainer_copy_ema: dst has another architecture");
    const int64_t P = dst->nparams;
    if (t->step == 0) { /* no average yet: the current weights */
        memcpy(dst->params, t->model->params, (size_t)P * sizeof(float));
        return HOSM_OK;
    }
    const double norm = 1.0 - pow(t->ema_decay, (double)t->step);
    const float inv = (float)(norm > 0.0 ? 1.0 / norm : 1.0);
    for (int64_t i = 0; i < P; i++)
        dst->params[i] = t->ema[i] * inv;
    return HOSM_OK;
}

/* ---- checkpoints ---- */

static void write_checkpoint(hosmi_writer *w, const void *obj)
{
    const hosm_trainer *t = obj;
    const int64_t P = t->model->nparams;
    hosmi_model_write(w, t->model);
    hosmi_w_section(w, TAG_ADAM);
    hosmi_w_u64(w, (uint64_t)t->step);
    hosmi_w_f32s(w, t->adam_m, P);
    hosmi_w_f32s(w, t->adam_v, P);
    hosmi_w_section_end(w);
    hosmi_w_section(w, TAG_EMA1);
    hosmi_w_f32s(w, t->ema, P);
    hosmi_w_section_end(w);
    hosmi_w_section(w, TAG_RNG1);
    for (int i = 0; i < 4; i++)
        hosmi_w_u64(w, t->rng.s[i]);
    hosmi_w_section_end(w);
}

int hosm_trainer_save_size(const hosm_trainer *t, int64_t *bytes)
{
    if (!t || !bytes)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_save_size: trainer or bytes is NULL");
    *bytes = hosmi_encoded_size(HOSMI_MAGIC_CHECKPOINT, write_checkpoint, t);
    return HOSM_OK;
}

int hosm_trainer_save_mem(const hosm_trainer *t, void *buf, int64_t cap, int64_t *written)
{
    if (!t)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_save_mem: trainer is NULL");
    return hosmi_encode("hosm_trainer_save_mem", HOSMI_MAGIC_CHECKPOINT, write_checkpoint, t, buf,
                        cap, written);
}

int hosm_trainer_save(const hosm_trainer *t, const char *path)
{
    if (!t)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_save: trainer is NULL");
    return hosmi_save("hosm_trainer_save", HOSMI_MAGIC_CHECKPOINT, write_checkpoint, t, path);
}

/* Where the trainer sections of a checkpoint are read to, before commit. */
typedef struct {
    int64_t nparams, step;
    float *m, *v, *ema;
    uint64_t rng[4];
    int seen; /* bit per section */
} ckpt_state;

static int read_trainer_section(uint32_t tag, hosmi_reader *p, void *ctx, char *msg)
{
    ckpt_state *c = ctx;
    const int64_t P = c->nparams;
    int bit = tag == TAG_ADAM ? 1 : tag == TAG_EMA1 ? 2 : tag == TAG_RNG1 ? 4 : 0;
    if (!bit || (c->seen & bit))
        return hosmi_fail(msg, HOSM_E_CORRUPT, "unexpected section (tag 0x%08x)", tag);
    c->seen |= bit;
    int64_t expect = tag == TAG_ADAM ? 8 + 8 * P : tag == TAG_EMA1 ? 4 * P : 32;
    if (p->size != expect)
        return hosmi_fail(msg, HOSM_E_MISMATCH,
                          "the checkpoint's optimiser state does not fit this model");
    if (tag == TAG_ADAM) {
        c->step = (int64_t)hosmi_r_u64(p);
        hosmi_r_f32s(p, c->m, P);
        hosmi_r_f32s(p, c->v, P);
    } else if (tag == TAG_EMA1) {
        hosmi_r_f32s(p, c->ema, P);
    } else {
        for (int i = 0; i < 4; i++)
            c->rng[i] = hosmi_r_u64(p);
    }
    if (p->bad || c->step < 0)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "malformed trainer section");
    if (tag == TAG_RNG1 && !(c->rng[0] | c->rng[1] | c->rng[2] | c->rng[3]))
        return hosmi_fail(msg, HOSM_E_CORRUPT, "an all-zero RNG state");
    return HOSM_OK;
}

int hosm_trainer_load_mem(hosm_trainer *t, const void *buf, int64_t size)
{
    if (!t)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_load_mem: trainer is NULL");
    if (!buf)
        return hosmi_fail(t->errmsg, HOSM_E_NULL, "hosm_trainer_load_mem: buf is NULL");
    if (size < 0)
        return hosmi_fail(t->errmsg, HOSM_E_ARG, "hosm_trainer_load_mem: size is negative");
    const int64_t P = t->model->nparams;
    ckpt_state c = {.nparams = P};
    c.m = hosmi_alloc(P, sizeof(float));
    c.v = hosmi_alloc(P, sizeof(float));
    c.ema = hosmi_alloc(P, sizeof(float));
    char msg[HOSMI_MSG_CAP];
    hosm_model *saved = NULL;
    hosmi_reader r;
    uint32_t sections;
    int st = (!c.m || !c.v || !c.ema) ? hosmi_fail(msg, HOSM_E_NOMEM, "out of memory")
                                      : hosmi_r_open(&r, buf, size, HOSMI_MAGIC_CHECKPOINT,
                                                     &sections, msg);
    if (!st)
        st = hosmi_model_read(&r, sections, &saved, read_trainer_section, &c, msg);
    if (!st && c.seen != 7)
        st = hosmi_fail(msg, HOSM_E_CORRUPT, "a trainer section is missing");
    if (!st && !hosmi_same_arch(saved, t->model))
        st = hosmi_fail(msg, HOSM_E_MISMATCH, "the checkpoint is of another architecture");
    if (!st && (!hosmi_all_finite(c.m, P) || !hosmi_all_finite(c.v, P) ||
                !hosmi_all_finite(c.ema, P)))
        st = hosmi_fail(msg, HOSM_E_CORRUPT, "non-finite optimiser state");
    for (int64_t i = 0; !st && i < P; i++)
        if (c.v[i] < 0.0f)
            st = hosmi_fail(msg, HOSM_E_CORRUPT, "negative second moment in the optimiser state");
    if (!st) {
        memcpy(t->model->params, saved->params, (size_t)P * sizeof(float));
        memcpy(t->adam_m, c.m, (size_t)P * sizeof(float));
        memcpy(t->adam_v, c.v, (size_t)P * sizeof(float));
        memcpy(t->ema, c.ema, (size_t)P * sizeof(float));
        memcpy(t->rng.s, c.rng, sizeof c.rng);
        t->step = c.step;
    }
    hosm_model_free(saved);
    free(c.m);
    free(c.v);
    free(c.ema);
    if (st)
        return hosmi_fail(t->errmsg, st, "hosm_trainer_load: %s", msg);
    return HOSM_OK;
}

int hosm_trainer_load(hosm_trainer *t, const char *path)
{
    if (!t)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_load: trainer is NULL");
    if (!path)
        return hosmi_fail(t->errmsg, HOSM_E_NULL, "hosm_trainer_load: path is NULL");
    void *buf;
    int64_t size;
    char msg[HOSMI_MSG_CAP];
    int st = hosmi_read_file(path, &buf, &size, msg);
    if (st)
        return hosmi_fail(t->errmsg, st, "hosm_trainer_load: %s", msg);
    st = hosm_trainer_load_mem(t, buf, size);
    free(buf);
    return st;
}

const char *hosm_trainer_errmsg(const hosm_trainer *t)
{
    return t ? t->errmsg : "";
}
