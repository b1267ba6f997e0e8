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

int hosmi_mlp_ws_alloc(hosmi_mlp_ws *ws, const hosmi_mlp *m, int64_t cap)
{
    int64_t count = hosmi_mul(hosmi_mul(2 * m->depth + 2, cap), m->hidden);
    count = count < 0 ? -1 : count + hosmi_mul(cap, m->in);
    ws->buf = count < 0 ? NULL : hosmi_alloc(count, sizeof(float));
    ws->cap = ws->buf ? cap : 0;
    return ws->buf ? 0 : -1;
}

void hosmi_mlp_ws_free(hosmi_mlp_ws *ws)
{
    free(ws->buf);
    ws->buf = NULL;
    ws->cap = 0;
}

static float *ws_z(const hosmi_mlp *m, hosmi_mlp_ws *ws, int64_t l)
{
    return ws->buf + 2 * l * ws->cap * m->hidden;
}

static float *ws_a(const hosmi_mlp *m, hosmi_mlp_ws *ws, int64_t l)
{
    return ws->buf + (2 * l + 1) * ws->cap * m->hidden;
}

static float *ws_scratch(const hosmi_mlp *m, hosmi_mlp_ws *ws, int64_t i)
{
    return ws->buf + (2 * m->depth + i) * ws->cap * m->hidden;
}

static float *ws_input(const hosmi_mlp *m, hosmi_mlp_ws *ws)
{
    return ws_scratch(m, ws, 2);
}

/* Numerically stable activations and their first derivatives. */
static float act_f(int act, float z)
{
    switch (act) {
    case HOSM_ACT_SILU: return z / (1.0f + expf(-z));
    case HOSM_ACT_TANH: return tanhf(z);
    case HOSM_ACT_ELU: return z > 0.0f ? z : expm1f(z);
    default: return fmaxf(z, 0.0f) + log1pf(expf(-fabsf(z)));
    }
}

static float act_df(int act, float z, float a)
{
    switch (act) {
    case HOSM_ACT_SILU: {
        float s = 1.0f / (1.0f + expf(-z));
        return s + z * s * (1.0f - s);
    }
    case HOSM_ACT_TANH: return 1.0f - a * a;
    case HOSM_ACT_ELU: return z > 0.0f ? 1.0f : a + 1.0f;
    default: return 1.0f / (1.0f + expf(-z));
    }
}

static int64_t row_level(const int64_t *levels, int64_t level_all, int64_t i)
{
    return levels ? levels[i] : level_all;
}

void hosmi_mlp_forward(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                       const float *x, const int64_t *levels, int64_t level_all, int64_t n,
                       hosmi_mlp_ws *ws, float *out)
{
    const int64_t H = m->hidden;
    float *in = ws_input(m, ws);
    memcpy(in, x, (size_t)(n * m->in) * sizeof(float));
    int64_t ld_in = m->in;
    for (int64_t l = 0; l < m->depth; l++) {
        float *z = ws_z(m, ws, l), *a = ws_a(m, ws, l);
        const float *w = params + hosmi_mlp_w_off(m, l), *b = params + hosmi_mlp_b_off(m, l);
        hosmi_sgemm(blas, 0, 1, n, H, ld_in, 1.0f, in, ld_in, w, ld_in, 0.0f, z, H);
        for (int64_t i = 0; i < n; i++) {
            float *zi = z + i * H, *ai = a + i * H;
            const float *e =
                (l == 0 && m->emb_off >= 0) ? params + m->emb_off + row_level(levels, level_all, i) * H
                                            : NULL;
            for (int64_t j = 0; j < H; j++) {
                float v = zi[j] + b[j] + (e ? e[j] : 0.0f);
                zi[j] = v;
                ai[j] = act_f(m->act, v);
            }
        }
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

void hosmi_mlp_backward(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                        const int64_t *levels, int64_t level_all, int64_t n, hosmi_mlp_ws *ws,
                        const float *dout, float *grad, float *dx)
{
    const int64_t H = m->hidden, L = m->depth;
    float *da = ws_scratch(m, ws, 0), *dz = ws_scratch(m, ws, 1);
    /* Output layer. */
    int64_t wo = hosmi_mlp_w_off(m, L);
    hosmi_sgemm(blas, 1, 0, m->out, H, n, 1.0f, dout, m->out, ws_a(m, ws, L - 1), H, 1.0f,
                grad + wo, H);
    add_colsum(grad + hosmi_mlp_b_off(m, L), dout, n, m->out);
    hosmi_sgemm(blas, 0, 0, n, H, m->out, 1.0f, dout, m->out, params + wo, H, 0.0f, da, H);
    /* Hidden layers, last to first. */
    for (int64_t l = L - 1; l >= 0; l--) {
        const float *z = ws_z(m, ws, l), *a = ws_a(m, ws, l);
        for (int64_t i = 0; i < n * H; i++)
            dz[i] = da[i] * act_df(m->act, z[i], a[i]);
        const float *in = l == 0 ? ws_input(m, ws) : ws_a(m, ws, l - 1);
        int64_t k = l == 0 ? m->in : H;
        int64_t w = hosmi_mlp_w_off(m, l);
        hosmi_sgemm(blas, 1, 0, H, k, n, 1.0f, dz, H, in, k, 1.0f, grad + w, k);
        add_colsum(grad + hosmi_mlp_b_off(m, l), dz, n, H);
        if (l == 0 && m->emb_off >= 0) {
            for (int64_t i = 0; i < n; i++) {
                float *ge = grad + m->emb_off + row_level(levels, level_all, i) * H;
                for (int64_t j = 0; j < H; j++)
                    ge[j] += dz[i * H + j];
            }
        }
        if (l > 0)
            hosmi_sgemm(blas, 0, 0, n, H, H, 1.0f, dz, H, params + w, H, 0.0f, da, H);
        else if (dx)
            hosmi_sgemm(blas, 0, 0, n, m->in, H, 1.0f, dz, H, params + w, m->in, 0.0f, dx, m->in);
    }
}

void hosmi_mlp_jacobian(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                        int64_t n, hosmi_mlp_ws *ws, float *tan, float *jt)
{
    const int64_t H = m->hidden, T = m->in, rows = n * T;
    float *cur = tan, *next = tan + rows * H;
    /* The activations' derivatives depend on the point only: computed once,
     * in place of the pre-activations (no backward pass follows). */
    for (int64_t l = 0; l < m->depth; l++) {
        float *z = ws_z(m, ws, l);
        const float *a = ws_a(m, ws, l);
        for (int64_t j = 0; j < n * H; j++)
            z[j] = act_df(m->act, z[j], a[j]);
    }
    /* Layer 0: the tangent e_b of x maps to column b of W0. */
    const float *w0 = params;
    for (int64_t i = 0; i < n; i++) {
        const float *d = ws_z(m, ws, 0) + i * H;
        for (int64_t b = 0; b < T; b++) {
            float *t = cur + (i * T + b) * H;
            for (int64_t j = 0; j < H; j++)
                t[j] = w0[j * T + b] * d[j];
        }
    }
    for (int64_t l = 1; l < m->depth; l++) {
        hosmi_sgemm(blas, 0, 1, rows, H, H, 1.0f, cur, H, params + hosmi_mlp_w_off(m, l), H, 0.0f,
                    next, H);
        for (int64_t i = 0; i < n; i++) {
            const float *d = ws_z(m, ws, l) + i * H;
            for (int64_t b = 0; b < T; b++) {
                float *t = next + (i * T + b) * H;
                for (int64_t j = 0; j < H; j++)
                    t[j] *= d[j];
            }
        }
        float *swap = cur;
        cur = next;
        next = swap;
    }
    hosmi_sgemm(blas, 0, 1, rows, m->out, H, 1.0f, cur, H, params + hosmi_mlp_w_off(m, m->depth),
                H, 0.0f, jt, m->out);
}
