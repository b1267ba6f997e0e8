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
    if (mode & HOSMI_PLAN_TANGENT_GRAD)
        mode |= HOSMI_PLAN_TANGENT | HOSMI_PLAN_GRAD;
    const int64_t H = m->hidden, L = m->depth, layer = hosmi_mul(cap, H);
    const int64_t rows_t = (mode & HOSMI_PLAN_TANGENT) ? hosmi_mul(cap, k) : 0;
    const int64_t n_d1 = (mode & (HOSMI_PLAN_GRAD | HOSMI_PLAN_TANGENT)) ? L : 0;
    const int64_t n_d2 = (mode & HOSMI_PLAN_TANGENT_GRAD) ? L : 0;
    const int64_t n_scr = (mode & HOSMI_PLAN_GRAD) ? 2 : 0;
    const int64_t t_block = hosmi_mul(rows_t, H), tin = hosmi_mul(rows_t, m->in);
    const int64_t in = hosmi_mul(cap, m->in);
    if (layer < 0 || t_block < 0 || tin < 0 || in < 0 || rows_t < 0)
        return -1;
    int64_t off = hosmi_mul(L, layer) + in;
    p->off_d1 = off;
    off += n_d1 * layer;
    p->off_d2 = off;
    off += n_d2 * layer;
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

void hosmi_mlp_forward(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                       const float *x, const int64_t *levels, int64_t level_all, int64_t n,
                       hosmi_mlp_plan *p, float *out)
{
    const int64_t H = m->hidden;
    const hosmi_act_fn act = hosmi_act_kernel(m->act);
    const int keep1 = (p->mode & (HOSMI_PLAN_GRAD | HOSMI_PLAN_TANGENT)) != 0;
    const int keep2 = (p->mode & HOSMI_PLAN_TANGENT_GRAD) != 0;
    float *in = plan_in(p);
    memcpy(in, x, (size_t)(n * m->in) * sizeof(float));
    int64_t ld_in = m->in;
    for (int64_t l = 0; l < m->depth; l++) {
        float *a = plan_a(p, l);
        hosmi_sgemm(blas, 0, 1, n, H, ld_in, 1.0f, in, ld_in, params + hosmi_mlp_w_off(m, l),
                    ld_in, 0.0f, a, H);
        add_bias(m, params, l, levels, level_all, n, a);
        act(a, a, keep1 ? plan_d1(p, l) : NULL, keep2 ? plan_d2(p, l) : NULL, n * H);
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
        const float *d1 = plan_d1(p, l);
        for (int64_t i = 0; i < n * H; i++)
            dz[i] = da[i] * d1[i];
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
