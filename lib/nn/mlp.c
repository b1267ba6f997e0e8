#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/mlp.h"

int hosmi_mlp_shape(hosmi_mlp *m, int64_t in, int64_t hidden, int64_t depth, int64_t out,
                    int64_t levels, int act)
{
    m->in = in;
    m->hidden = hidden;
    m->out = out;
    m->depth = depth;
    m->levels = levels;
    m->act = act;
    int64_t first = hosmi_mul(hidden, in + 1);
    int64_t mid = hosmi_mul(depth - 1, hosmi_mul(hidden, hidden + 1));
    int64_t last = hosmi_mul(out, hidden + 1);
    int64_t emb = levels > 1 ? hosmi_mul(levels, hidden) : 0;
    if (first < 0 || mid < 0 || last < 0 || emb < 0)
        return -1;
    m->nparams = first + mid + last;
    m->emb_off = levels > 1 ? m->nparams : -1;
    m->nparams += emb;
    return m->nparams > HOSMI_MAX_ELEMS ? -1 : 0;
}

int64_t hosmi_mlp_w_off(const hosmi_mlp *m, int64_t l)
{
    if (l == 0)
        return 0;
    return m->hidden * (m->in + 1) + (l - 1) * m->hidden * (m->hidden + 1);
}

static int64_t fan_in(const hosmi_mlp *m, int64_t l)
{
    return l == 0 ? m->in : m->hidden;
}

static int64_t fan_out(const hosmi_mlp *m, int64_t l)
{
    return l == m->depth ? m->out : m->hidden;
}

int64_t hosmi_mlp_b_off(const hosmi_mlp *m, int64_t l)
{
    return hosmi_mlp_w_off(m, l) + fan_out(m, l) * fan_in(m, l);
}

void hosmi_mlp_head(const hosmi_mlp *m, int64_t *begin, int64_t *end)
{
    *begin = hosmi_mlp_w_off(m, m->depth);
    *end = hosmi_mlp_b_off(m, m->depth) + m->out;
}

void hosmi_mlp_init_params(const hosmi_mlp *m, float *params, hosmi_rng *rng)
{
    memset(params, 0, (size_t)m->nparams * sizeof *params);
    for (int64_t l = 0; l <= m->depth; l++) {
        float *w = params + hosmi_mlp_w_off(m, l);
        double bound = sqrt(3.0 / (double)fan_in(m, l));
        int64_t count = fan_out(m, l) * fan_in(m, l);
        for (int64_t i = 0; i < count; i++)
            w[i] = (float)((2.0 * hosmi_rng_uniform(rng) - 1.0) * bound);
    }
}

/* ---- the plan: regions of one buffer ----
 *   activations A_l (cap x H per layer) | staged input (cap x in) |
 *   f' (cap x H per layer) | f'' (cap x H per layer) | 2 scratch (cap x H) |
 *   tangent blocks (cap k x H each: 2 ping-pong, or one per layer and 3
 *   scratch when kept) | staged input tangents (cap k x in). */
static int64_t tangent_blocks(unsigned mode, int64_t depth)
{
    if (mode & HOSMI_PLAN_TANGENT_GRAD)
        return depth + 3;
    return (mode & HOSMI_PLAN_TANGENT) ? 2 : 0;
}

int hosmi_mlp_plan_alloc(hosmi_mlp_plan *p, const hosmi_mlp *m, int64_t cap, unsigned mode,
                         int64_t k)
{
    memset(p, 0, sizeof *p);
    if (mode & HOSMI_PLAN_MIXED) {
        mode |= HOSMI_PLAN_HVP;
        k = hosmi_mul(k, 3); /* the v, u and uv streams of each tangent */
    }
    if (mode & HOSMI_PLAN_HVP)
        mode |= HOSMI_PLAN_TANGENT_GRAD;
    if (mode & HOSMI_PLAN_TANGENT_GRAD)
        mode |= HOSMI_PLAN_TANGENT | HOSMI_PLAN_GRAD;
    const int64_t H = m->hidden, L = m->depth, layer = hosmi_mul(cap, H);
    const int64_t rows_t = (mode & HOSMI_PLAN_TANGENT) ? hosmi_mul(cap, k) : 0;
    const int64_t n_d1 = (mode & (HOSMI_PLAN_GRAD | HOSMI_PLAN_TANGENT)) ? L : 0;
    const int64_t n_d2 = (mode & HOSMI_PLAN_TANGENT_GRAD) ? L : 0;
    const int64_t n_d3 = (mode & HOSMI_PLAN_MIXED) ? L : 0;
    const int64_t n_g = (mode & HOSMI_PLAN_HVP) ? L : 0;
    const int64_t n_scr = (mode & HOSMI_PLAN_GRAD) ? 2 : 0;
    const int64_t t_block = hosmi_mul(rows_t, H), tin = hosmi_mul(rows_t, m->in);
    const int64_t in = hosmi_mul(cap, m->in);
    if (k < 0 || layer < 0 || t_block < 0 || tin < 0 || in < 0 || rows_t < 0)
        return -1;
    int64_t off = hosmi_mul(L, layer) + in;
    p->off_d1 = off;
    off += n_d1 * layer;
    p->off_d2 = off;
    off += n_d2 * layer;
    p->off_d3 = off;
    off += n_d3 * layer;
    p->off_g = off;
    off += n_g * layer;
    p->off_scr = off;
    off += n_scr * layer;
    p->off_t = off;
    int64_t t_all = hosmi_mul(tangent_blocks(mode, L), t_block);
    if (t_all < 0 || off > HOSMI_MAX_ELEMS - t_all - tin - in)
        return -1;
    off += t_all;
    p->off_tin = off;
    off += tin;
    p->buf = hosmi_alloc(off, sizeof(float));
    if (!p->buf)
        return -1;
    p->mode = mode;
    p->cap = cap;
    p->k = (mode & HOSMI_PLAN_TANGENT) ? k : 0;
    p->hidden = H;
    p->depth = L;
    return 0;
}

void hosmi_mlp_plan_free(hosmi_mlp_plan *p)
{
    free(p->buf);
    memset(p, 0, sizeof *p);
}

static float *plan_a(const hosmi_mlp_plan *p, int64_t l)
{
    return p->buf + l * p->cap * p->hidden;
}

static float *plan_in(const hosmi_mlp_plan *p)
{
    return p->buf + p->depth * p->cap * p->hidden;
}

static float *plan_d1(const hosmi_mlp_plan *p, int64_t l)
{
    return p->buf + p->off_d1 + l * p->cap * p->hidden;
}

static float *plan_d2(const hosmi_mlp_plan *p, int64_t l)
{
    return p->buf + p->off_d2 + l * p->cap * p->hidden;
}

static float *plan_d3(const hosmi_mlp_plan *p, int64_t l)
{
    return p->buf + p->off_d3 + l * p->cap * p->hidden;
}

/* The input gradient's cotangent of layer l's activations. */
static float *plan_g(const hosmi_mlp_plan *p, int64_t l)
{
    return p->buf + p->off_g + l * p->cap * p->hidden;
}

static float *plan_scr(const hosmi_mlp_plan *p, int64_t i)
{
    return p->buf + p->off_scr + i * p->cap * p->hidden;
}

/* Tangent block i (cap k x H). */
static float *plan_t(const hosmi_mlp_plan *p, int64_t i)
{
    return p->buf + p->off_t + i * p->cap * p->k * p->hidden;
}

static float *plan_tin(const hosmi_mlp_plan *p)
{
    return p->buf + p->off_tin;
}

static int64_t row_level(const int64_t *levels, int64_t level_all, int64_t i)
{
    return levels ? levels[i] : level_all;
}

/* z += b (+ the row's level embedding on layer 0), rows of H. */
static void add_bias(const hosmi_mlp *m, const float *params, int64_t l, const int64_t *levels,
                     int64_t level_all, int64_t n, float *z)
{
    const int64_t H = m->hidden;
    const float *b = params + hosmi_mlp_b_off(m, l);
    for (int64_t i = 0; i < n; i++) {
        float *zi = z + i * H;
        if (l == 0 && m->emb_off >= 0) {
            const float *e = params + m->emb_off + row_level(levels, level_all, i) * H;
            for (int64_t j = 0; j < H; j++)
                zi[j] = zi[j] + b[j] + e[j];
        } else {
            for (int64_t j = 0; j < H; j++)
                zi[j] = zi[j] + b[j];
        }
    }
}

/* A hidden layer's element-wise passes run in tasks of ROWS_A_TASK rows on
 * the handle's threads (blas->pool); every element is computed alike
 * whatever the split (lib/nn/vmath.c), so the thread count does not change
 * the bits. */
#define ROWS_A_TASK 32

static int64_t row_tasks(int64_t n)
{
    return (n + ROWS_A_TASK - 1) / ROWS_A_TASK;
}

/* The rows [lo, lo + count) of task t of n rows. */
static int64_t task_rows(int64_t t, int64_t n, int64_t *lo)
{
    *lo = t * ROWS_A_TASK;
    return n - *lo < ROWS_A_TASK ? n - *lo : ROWS_A_TASK;
}

/* Bias (and level embedding) and activation of layer l, in place on a. */
typedef struct {
    const hosmi_mlp *m;
    const float *params;
    int64_t l, level_all, n;
    const int64_t *levels;
    hosmi_act_fn act;
    float *a, *d1, *d2, *d3;
} act_pass;

static void act_task(void *arg, int64_t t, int w)
{
    (void)w;
    const act_pass *c = arg;
    const int64_t H = c->m->hidden;
    int64_t lo;
    const int64_t rows = task_rows(t, c->n, &lo), off = lo * H;
    float *a = c->a + off;
    add_bias(c->m, c->params, c->l, c->levels ? c->levels + lo : NULL, c->level_all, rows, a);
    if (c->d3)
        hosmi_act_d3(c->m->act, a, c->d3 + off, rows * H);
    c->act(a, a, c->d1 ? c->d1 + off : NULL, c->d2 ? c->d2 + off : NULL, rows * H);
}

/* dz = da * d1, elementwise. */
typedef struct {
    int64_t n, H;
    const float *da, *d1;
    float *dz;
} mul_pass;

static void mul_task(void *arg, int64_t t, int w)
{
    (void)w;
    const mul_pass *c = arg;
    int64_t lo;
    const int64_t count = task_rows(t, c->n, &lo) * c->H, off = lo * c->H;
    for (int64_t i = 0; i < count; i++)
        c->dz[off + i] = c->da[off + i] * c->d1[off + i];
}

void hosmi_mlp_forward(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                       const float *x, const int64_t *levels, int64_t level_all, int64_t n,
                       hosmi_mlp_plan *p, float *out)
{
    const int64_t H = m->hidden;
    const hosmi_act_fn act = hosmi_act_kernel(m->act);
    const int keep1 = (p->mode & (HOSMI_PLAN_GRAD | HOSMI_PLAN_TANGENT)) != 0;
    const int keep2 = (p->mode & HOSMI_PLAN_TANGENT_GRAD) != 0;
    const int keep3 = (p->mode & HOSMI_PLAN_MIXED) != 0;
    float *in = plan_in(p);
    memcpy(in, x, (size_t)(n * m->in) * sizeof(float));
    int64_t ld_in = m->in;
    for (int64_t l = 0; l < m->depth; l++) {
        float *a = plan_a(p, l);
        hosmi_sgemm(blas, 0, 1, n, H, ld_in, 1.0f, in, ld_in, params + hosmi_mlp_w_off(m, l),
                    ld_in, 0.0f, a, H);
        act_pass pass = {m,
                         params,
                         l,
                         level_all,
                         n,
                         levels,
                         act,
                         a,
                         keep1 ? plan_d1(p, l) : NULL,
                         keep2 ? plan_d2(p, l) : NULL,
                         keep3 ? plan_d3(p, l) : NULL};
        hosmi_pool_run(blas ? blas->pool : NULL, row_tasks(n), act_task, &pass);
        in = a;
        ld_in = H;
    }
    const float *w = params + hosmi_mlp_w_off(m, m->depth), *b = params + hosmi_mlp_b_off(m, m->depth);
    hosmi_sgemm(blas, 0, 1, n, m->out, H, 1.0f, in, H, w, H, 0.0f, out, m->out);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < m->out; j++)
            out[i * m->out + j] += b[j];
}

static void add_colsum(float *g, const float *d, int64_t n, int64_t cols)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < cols; j++)
            g[j] += d[i * cols + j];
}

/* The parameter gradient of a hidden layer's bias and level embedding. */
static void bias_grad(const hosmi_mlp *m, int64_t l, const int64_t *levels, int64_t level_all,
                      int64_t n, const float *dz, float *grad)
{
    const int64_t H = m->hidden;
    add_colsum(grad + hosmi_mlp_b_off(m, l), dz, n, H);
    if (l == 0 && m->emb_off >= 0)
        for (int64_t i = 0; i < n; i++) {
            float *ge = grad + m->emb_off + row_level(levels, level_all, i) * H;
            for (int64_t j = 0; j < H; j++)
                ge[j] += dz[i * H + j];
        }
}

void hosmi_mlp_backward(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                        const int64_t *levels, int64_t level_all, int64_t n,
                        hosmi_mlp_plan *p, const float *dout, float *grad, float *dx)
{
    const int64_t H = m->hidden, L = m->depth;
    float *da = plan_scr(p, 0), *dz = plan_scr(p, 1);
    /* Output layer. */
    int64_t wo = hosmi_mlp_w_off(m, L);
    hosmi_sgemm(blas, 1, 0, m->out, H, n, 1.0f, dout, m->out, plan_a(p, L - 1), H, 1.0f,
                grad + wo, H);
    add_colsum(grad + hosmi_mlp_b_off(m, L), dout, n, m->out);
    hosmi_sgemm(blas, 0, 0, n, H, m->out, 1.0f, dout, m->out, params + wo, H, 0.0f, da, H);
    /* Hidden layers, last to first. */
    for (int64_t l = L - 1; l >= 0; l--) {
        mul_pass pass = {n, H, da, plan_d1(p, l), dz};
        hosmi_pool_run(blas ? blas->pool : NULL, row_tasks(n), mul_task, &pass);
        const float *in = l == 0 ? plan_in(p) : plan_a(p, l - 1);
        int64_t k = l == 0 ? m->in : H;
        int64_t w = hosmi_mlp_w_off(m, l);
        hosmi_sgemm(blas, 1, 0, H, k, n, 1.0f, dz, H, in, k, 1.0f, grad + w, k);
        bias_grad(m, l, levels, level_all, n, dz, grad);
        if (l > 0)
            hosmi_sgemm(blas, 0, 0, n, H, H, 1.0f, dz, H, params + w, H, 0.0f, da, H);
        else if (dx)
            hosmi_sgemm(blas, 0, 0, n, m->in, H, 1.0f, dz, H, params + w, m->in, 0.0f, dx, m->in);
    }
}

/* dst row (i k + t) = src row (i k + t) * d1 row i, rows of H. */
static void scale_tangents(float *dst, const float *src, const float *d1, int64_t n, int64_t k,
                           int64_t H)
{
    for (int64_t i = 0; i < n; i++) {
        const float *d = d1 + i * H;
        for (int64_t t = 0; t < k; t++) {
            const float *s = src + (i * k + t) * H;
            float *o = dst + (i * k + t) * H;
            for (int64_t j = 0; j < H; j++)
                o[j] = s[j] * d[j];
        }
    }
}

void hosmi_mlp_tangent(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                       int64_t n, int64_t k, const float *tin, hosmi_mlp_plan *p, float *tout)
{
    const int64_t H = m->hidden, T = m->in, rows = n * k, L = m->depth;
    const int keep = (p->mode & HOSMI_PLAN_TANGENT_GRAD) != 0;
    /* Kept: block l holds layer l's pre-activation tangents, block L the
     * activation tangents. Otherwise two blocks alternate, in place. */
    float *zt = plan_t(p, 0);
    p->unit = tin == NULL;
    if (tin) {
        float *staged = plan_tin(p);
        memcpy(staged, tin, (size_t)(rows * T) * sizeof(float));
        hosmi_sgemm(blas, 0, 1, rows, H, T, 1.0f, staged, T, params, T, 0.0f, zt, H);
    } else {
        /* The unit tangent e_b maps to column b of W0. */
        for (int64_t i = 0; i < n; i++)
            for (int64_t b = 0; b < T; b++) {
                float *t = zt + (i * T + b) * H;
                for (int64_t j = 0; j < H; j++)
                    t[j] = params[j * T + b];
            }
    }
    for (int64_t l = 0; l < L; l++) {
        float *at = keep ? plan_t(p, L) : zt;
        scale_tangents(at, zt, plan_d1(p, l), n, k, H);
        if (l + 1 == L) {
            hosmi_sgemm(blas, 0, 1, rows, m->out, H, 1.0f, at, H,
                        params + hosmi_mlp_w_off(m, L), H, 0.0f, tout, m->out);
            break;
        }
        float *next = keep ? plan_t(p, l + 1) : plan_t(p, (l + 1) % 2);
        hosmi_sgemm(blas, 0, 1, rows, H, H, 1.0f, at, H, params + hosmi_mlp_w_off(m, l + 1), H,
                    0.0f, next, H);
        zt = next;
    }
}

/* dz (n x H) = d1 * da + sum_t d2 * zt_t * dat_t, and dzt = d1 * dat per tangent. */
static void tangent_layer_adjoint(const float *d1, const float *d2, const float *zt,
                                  const float *da, const float *dat, int64_t n, int64_t k,
                                  int64_t H, float *dz, float *dzt)
{
    for (int64_t i = 0; i < n; i++) {
        const float *d1i = d1 + i * H, *d2i = d2 + i * H;
        float *dzi = dz + i * H;
        for (int64_t j = 0; j < H; j++)
            dzi[j] = da ? d1i[j] * da[i * H + j] : 0.0f;
        for (int64_t t = 0; t < k; t++) {
            const int64_t r = (i * k + t) * H;
            for (int64_t j = 0; j < H; j++) {
                dzi[j] += d2i[j] * zt[r + j] * dat[r + j];
                dzt[r + j] = d1i[j] * dat[r + j];
            }
        }
    }
}

/* Adds dzt^T e_t for the unit input tangents: column t of W0 gets the sum
 * over points of tangent row (i, t). */
static void unit_tangent_wgrad(const float *dzt, int64_t n, int64_t T, int64_t H, float *gw)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t b = 0; b < T; b++)
            for (int64_t j = 0; j < H; j++)
                gw[j * T + b] += dzt[(i * T + b) * H + j];
}

void hosmi_mlp_tangent_backward(const hosmi_mlp *m, const hosmi_blas *blas,
                                const float *params, const int64_t *levels, int64_t level_all,
                                int64_t n, int64_t k, hosmi_mlp_plan *p, const float *dout,
                                const float *dtout, float *grad)
{
    const int64_t H = m->hidden, L = m->depth, rows = n * k, T = m->in;
    float *da = plan_scr(p, 0), *dz = plan_scr(p, 1);
    float *at = plan_t(p, L), *dat = plan_t(p, L + 1), *dzt = plan_t(p, L + 2);
    /* Output layer: primal and tangent rows both feed W_L. */
    const int64_t wo = hosmi_mlp_w_off(m, L);
    scale_tangents(at, plan_t(p, L - 1), plan_d1(p, L - 1), n, k, H);
    if (dout) {
        hosmi_sgemm(blas, 1, 0, m->out, H, n, 1.0f, dout, m->out, plan_a(p, L - 1), H, 1.0f,
                    grad + wo, H);
        add_colsum(grad + hosmi_mlp_b_off(m, L), dout, n, m->out);
        hosmi_sgemm(blas, 0, 0, n, H, m->out, 1.0f, dout, m->out, params + wo, H, 0.0f, da, H);
    }
    hosmi_sgemm(blas, 1, 0, m->out, H, rows, 1.0f, dtout, m->out, at, H, 1.0f, grad + wo, H);
    hosmi_sgemm(blas, 0, 0, rows, H, m->out, 1.0f, dtout, m->out, params + wo, H, 0.0f, dat, H);
    for (int64_t l = L - 1; l >= 0; l--) {
        tangent_layer_adjoint(plan_d1(p, l), plan_d2(p, l), plan_t(p, l),
                              (dout || l < L - 1) ? da : NULL, dat, n, k, H, dz, dzt);
        const int64_t w = hosmi_mlp_w_off(m, l), fin = l == 0 ? T : H;
        const float *in = l == 0 ? plan_in(p) : plan_a(p, l - 1);
        hosmi_sgemm(blas, 1, 0, H, fin, n, 1.0f, dz, H, in, fin, 1.0f, grad + w, fin);
        bias_grad(m, l, levels, level_all, n, dz, grad);
        if (l == 0 && p->unit)
            unit_tangent_wgrad(dzt, n, T, H, grad + w);
        else if (l == 0)
            hosmi_sgemm(blas, 1, 0, H, T, rows, 1.0f, dzt, H, plan_tin(p), T, 1.0f, grad + w, T);
        if (l > 0) {
            scale_tangents(at, plan_t(p, l - 1), plan_d1(p, l - 1), n, k, H);
            hosmi_sgemm(blas, 1, 0, H, H, rows, 1.0f, dzt, H, at, H, 1.0f, grad + w, H);
            hosmi_sgemm(blas, 0, 0, n, H, H, 1.0f, dz, H, params + w, H, 0.0f, da, H);
            hosmi_sgemm(blas, 0, 0, rows, H, H, 1.0f, dzt, H, params + w, H, 0.0f, dat, H);
        }
    }
}

/* ---- networks with one output (energies) ----
 * Notation of one hidden layer l: pre-activation a_l, activation h_l =
 * f(a_l); g_l is the cotangent of h_l in the input-gradient pass (g_{L-1}
 * is the output weight row w) and d_l = g_l f'(a_l) that of a_l. */

void hosmi_mlp_input_grad(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                          int64_t n, hosmi_mlp_plan *p, float *dx)
{
    const int64_t H = m->hidden, L = m->depth;
    const int keep = (p->mode & HOSMI_PLAN_HVP) != 0;
    const float *w = params + hosmi_mlp_w_off(m, L);
    float *d = plan_scr(p, 1);
    float *g = keep ? plan_g(p, L - 1) : plan_scr(p, 0);
    for (int64_t i = 0; i < n; i++)
        memcpy(g + i * H, w, (size_t)H * sizeof(float));
    for (int64_t l = L - 1; l >= 0; l--) {
        const float *d1 = plan_d1(p, l);
        for (int64_t i = 0; i < n * H; i++)
            d[i] = g[i] * d1[i];
        const float *wl = params + hosmi_mlp_w_off(m, l);
        if (l == 0) {
            if (dx)
                hosmi_sgemm(blas, 0, 0, n, m->in, H, 1.0f, d, H, wl, m->in, 0.0f, dx, m->in);
            break;
        }
        g = keep ? plan_g(p, l - 1) : plan_scr(p, 0);
        hosmi_sgemm(blas, 0, 0, n, H, H, 1.0f, d, H, wl, H, 0.0f, g, H);
    }
}

void hosmi_mlp_input_hvp(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                         int64_t n, int64_t k, const float *tin, hosmi_mlp_plan *p, float *tout)
{
    const int64_t H = m->hidden, L = m->depth, rows = n * k;
    /* The tangents of the pre-activations, kept in blocks 0 .. L-1; the
     * tangent of the output itself (block L + 2) is not needed. */
    hosmi_mlp_tangent(m, blas, params, n, k, tin, p, plan_t(p, L + 2));
    /* The tangent of the reverse pass: dd_l = dg_l f'(a_l) + g_l f''(a_l) da_l,
     * dg_{l-1} = dd_l W_l, with dg_{L-1} = 0 (w is constant). */
    float *dd = plan_t(p, L), *dg = plan_t(p, L + 1);
    for (int64_t l = L - 1; l >= 0; l--) {
        const float *d1 = plan_d1(p, l), *d2 = plan_d2(p, l), *g = plan_g(p, l);
        const float *at = plan_t(p, l);
        for (int64_t r = 0; r < rows; r++) {
            const int64_t i = r / k;
            const float *d1i = d1 + i * H, *d2i = d2 + i * H, *gi = g + i * H;
            const float *atr = at + r * H, *dgr = dg + r * H;
            float *ddr = dd + r * H;
            for (int64_t j = 0; j < H; j++)
                ddr[j] = gi[j] * d2i[j] * atr[j] + (l < L - 1 ? dgr[j] * d1i[j] : 0.0f);
        }
        const float *wl = params + hosmi_mlp_w_off(m, l);
        if (l == 0)
            hosmi_sgemm(blas, 0, 0, rows, m->in, H, 1.0f, dd, H, wl, m->in, 0.0f, tout, m->in);
        else
            hosmi_sgemm(blas, 0, 0, rows, H, H, 1.0f, dd, H, wl, H, 0.0f, dg, H);
    }
}

/* The activation tangents of the three streams of layer l from their
 * pre-activations s (3 R rows: v, u, uv):
 *   h_v = f' a_v,  h_u = f' a_u,  h_uv = f'' a_u a_v + f' a_uv. */
static void mixed_activations(const hosmi_mlp_plan *p, int64_t l, int64_t n, int64_t k,
                              const float *s, float *h)
{
    const int64_t H = p->hidden, R = n * k;
    const float *d1 = plan_d1(p, l), *d2 = plan_d2(p, l);
    for (int64_t r = 0; r < R; r++) {
        const int64_t i = r / k;
        const float *d1i = d1 + i * H, *d2i = d2 + i * H;
        const float *av = s + r * H, *au = s + (R + r) * H, *auv = s + (2 * R + r) * H;
        float *hv = h + r * H, *hu = h + (R + r) * H, *huv = h + (2 * R + r) * H;
        for (int64_t j = 0; j < H; j++) {
            hv[j] = d1i[j] * av[j];
            hu[j] = d1i[j] * au[j];
            huv[j] = d2i[j] * au[j] * av[j] + d1i[j] * auv[j];
        }
    }
}

/* The reverse of one layer: from the cotangents G (3 R rows) of the
 * stream activations and Gp (n rows, NULL when zero) of the primal ones,
 * those of the pre-activations: dA (3 R rows) and da (n rows). */
static void mixed_layer_adjoint(const hosmi_mlp_plan *p, int64_t l, int64_t n, int64_t k,
                                const float *s, const float *G, const float *Gp, float *dA,
                                float *da)
{
    const int64_t H = p->hidden, R = n * k;
    const float *d1 = plan_d1(p, l), *d2 = plan_d2(p, l), *d3 = plan_d3(p, l);
    for (int64_t i = 0; i < n; i++) {
        const float *d1i = d1 + i * H, *d2i = d2 + i * H, *d3i = d3 + i * H;
        float *dai = da + i * H;
        for (int64_t j = 0; j < H; j++)
            dai[j] = Gp ? Gp[i * H + j] * d1i[j] : 0.0f;
        for (int64_t t = 0; t < k; t++) {
            const int64_t r = i * k + t, v = r * H, u = (R + r) * H, uv = (2 * R + r) * H;
            for (int64_t j = 0; j < H; j++) {
                dA[uv + j] = G[uv + j] * d1i[j];
                dA[u + j] = G[u + j] * d1i[j] + G[uv + j] * d2i[j] * s[v + j];
                dA[v + j] = G[v + j] * d1i[j] + G[uv + j] * d2i[j] * s[u + j];
                dai[j] += d2i[j] * (G[u + j] * s[u + j] + G[v + j] * s[v + j] + G[uv + j] * s[uv + j]) +
                          G[uv + j] * d3i[j] * s[u + j] * s[v + j];
            }
        }
    }
}

void hosmi_mlp_mixed_backward(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                              const int64_t *levels, int64_t level_all, int64_t n, int64_t k,
                              const float *u, hosmi_mlp_plan *p, float *grad)
{
    const int64_t H = m->hidden, L = m->depth, T = m->in, R = n * k;
    /* The staged input streams [v; u] (v from hosmi_mlp_input_hvp). */
    float *vin = plan_tin(p), *uin = vin + R * T;
    if (p->unit) {
        memset(vin, 0, (size_t)(R * T) * sizeof(float));
        for (int64_t i = 0; i < n; i++)
            for (int64_t b = 0; b < T; b++)
                vin[(i * T + b) * T + b] = 1.0f;
    }
    memcpy(uin, u, (size_t)(R * T) * sizeof(float));
    /* Second-order forward: block l (3 R rows) holds layer l's a_v, a_u, a_uv. */
    float *h = plan_t(p, L), *G = plan_t(p, L + 1), *dA = plan_t(p, L + 2);
    float *da = plan_scr(p, 0), *Gp = plan_scr(p, 1);
    hosmi_sgemm(blas, 0, 1, 2 * R, H, T, 1.0f, vin, T, params, T, 0.0f, plan_t(p, 0), H);
    memset(plan_t(p, 0) + 2 * R * H, 0, (size_t)(R * H) * sizeof(float));
    for (int64_t l = 0; l + 1 < L; l++) {
        mixed_activations(p, l, n, k, plan_t(p, l), h);
        hosmi_sgemm(blas, 0, 1, 3 * R, H, H, 1.0f, h, H, params + hosmi_mlp_w_off(m, l + 1), H,
                    0.0f, plan_t(p, l + 1), H);
    }
    /* The loss is sum w . h_uv of the last layer: its cotangents are w on
     * the uv stream and zero elsewhere. */
    mixed_activations(p, L - 1, n, k, plan_t(p, L - 1), h);
    const int64_t wo = hosmi_mlp_w_off(m, L);
    add_colsum(grad + wo, h + 2 * R * H, R, H);
    memset(G, 0, (size_t)(2 * R * H) * sizeof(float));
    for (int64_t r = 0; r < R; r++)
        memcpy(G + (2 * R + r) * H, params + wo, (size_t)H * sizeof(float));
    for (int64_t l = L - 1; l >= 0; l--) {
        mixed_layer_adjoint(p, l, n, k, plan_t(p, l), G, l < L - 1 ? Gp : NULL, dA, da);
        const int64_t w = hosmi_mlp_w_off(m, l), fin = l == 0 ? T : H;
        const float *in = l == 0 ? plan_in(p) : plan_a(p, l - 1);
        hosmi_sgemm(blas, 1, 0, H, fin, n, 1.0f, da, H, in, fin, 1.0f, grad + w, fin);
        bias_grad(m, l, levels, level_all, n, da, grad);
        if (l == 0) {
            /* The input streams are v, u and 0. */
            hosmi_sgemm(blas, 1, 0, H, T, 2 * R, 1.0f, dA, H, vin, T, 1.0f, grad + w, T);
            break;
        }
        mixed_activations(p, l - 1, n, k, plan_t(p, l - 1), h);
        hosmi_sgemm(blas, 1, 0, H, H, 3 * R, 1.0f, dA, H, h, H, 1.0f, grad + w, H);
        hosmi_sgemm(blas, 0, 0, n, H, H, 1.0f, da, H, params + w, H, 0.0f, Gp, H);
        hosmi_sgemm(blas, 0, 0, 3 * R, H, H, 1.0f, dA, H, params + w, H, 0.0f, G, H);
    }
}
