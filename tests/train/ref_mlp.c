#include "ref_mlp.h"

#include <math.h>
#include <stdlib.h>

#include "hosm.h"

int64_t ref_num_params(const ref_arch *a)
{
    const int64_t D = a->dim, H = a->hidden;
    int64_t n = H * D + H;                  /* layer 0 */
    n += (a->depth - 1) * (H * H + H);      /* layers 1..depth-1 */
    n += D * H + D;                         /* output */
    if (a->levels > 1)
        n += a->levels * H;                 /* embedding */
    return n;
}

double ref_act(int act, double z)
{
    switch (act) {
    case HOSM_ACT_SOFTPLUS: return z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z));
    case HOSM_ACT_SILU: return z / (1.0 + exp(-z));
    case HOSM_ACT_TANH: return tanh(z);
    case HOSM_ACT_ELU: return z > 0.0 ? z : exp(z) - 1.0;
    default: abort();
    }
}

void ref_score(const ref_arch *a, const double *params, const double *x, int64_t level,
               double *out)
{
    const int64_t D = a->dim, H = a->hidden;
    double *cur = malloc((size_t)H * sizeof *cur), *nxt = malloc((size_t)H * sizeof *nxt);
    if (!cur || !nxt)
        abort();
    const double *p = params;
    const double *emb = NULL;
    if (a->levels > 1)
        emb = params + (ref_num_params(a) - a->levels * H) + level * H;
    /* Layer 0. */
    const double *W = p, *b = p + H * D;
    for (int64_t j = 0; j < H; j++) {
        double s = b[j] + (emb ? emb[j] : 0.0);
        for (int64_t i = 0; i < D; i++)
            s += W[j * D + i] * x[i];
        cur[j] = ref_act(a->act, s);
    }
    p += H * D + H;
    /* Hidden layers 1..depth-1. */
    for (int64_t l = 1; l < a->depth; l++) {
        W = p;
        b = p + H * H;
        for (int64_t j = 0; j < H; j++) {
            double s = b[j];
            for (int64_t i = 0; i < H; i++)
                s += W[j * H + i] * cur[i];
            nxt[j] = ref_act(a->act, s);
        }
        double *t = cur;
        cur = nxt;
        nxt = t;
        p += H * H + H;
    }
    /* Output layer, divided by the level's sigma. */
    W = p;
    b = p + D * H;
    for (int64_t j = 0; j < D; j++) {
        double s = b[j];
        for (int64_t i = 0; i < H; i++)
            s += W[j * H + i] * cur[i];
        out[j] = s / a->sigmas[level];
    }
    free(cur);
    free(nxt);
}

double ref_loss(const ref_arch *a, const double *params, int vr, const double *x,
                const double *z, const int64_t *levels, int64_t n, double *scale)
{
    const int64_t D = a->dim;
    double *xt = malloc((size_t)D * sizeof *xt), *s = malloc((size_t)D * sizeof *s),
           *s0 = malloc((size_t)D * sizeof *s0);
    if (!xt || !s || !s0)
        abort();
    double total = 0.0, mag = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t l = levels ? levels[i] : 0;
        const double sigma = a->sigmas[l];
        const double w = a->levels > 1 ? sigma * sigma : 1.0;
        const double *xi = x + i * D, *zi = z + i * D;
        for (int64_t j = 0; j < D; j++)
            xt[j] = xi[j] + sigma * zi[j];
        ref_score(a, params, xt, l, s);
        if (vr)
            ref_score(a, params, xi, l, s0);
        double li = 0.0, mi = 0.0;
        for (int64_t j = 0; j < D; j++) {
            const double r = s[j] + zi[j] / sigma;
            li += r * r;
            mi += r * r;
            if (vr) {
                const double c1 = 2.0 * s0[j] * zi[j] / sigma, c2 = zi[j] * zi[j] / (sigma * sigma);
                li -= c1 + c2;
                mi += fabs(c1) + c2;
            }
        }
        total += w * li;
        mag += w * mi;
    }
    free(xt);
    free(s);
    free(s0);
    if (scale)
        *scale = mag / (double)n;
    return total / (double)n;
}
