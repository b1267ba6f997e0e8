/* Activations with their first and second derivatives, numerically stable
 * over the whole float range. */
#include <math.h>

#include "nn/act.h"

static void softplus(const float *z, float *a, float *d1, float *d2, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = z[i];
        a[i] = fmaxf(v, 0.0f) + log1pf(expf(-fabsf(v)));
        if (d1 || d2) {
            const float s = 1.0f / (1.0f + expf(-v)); /* sigmoid */
            if (d1)
                d1[i] = s;
            if (d2)
                d2[i] = s * (1.0f - s);
        }
    }
}

static void silu(const float *z, float *a, float *d1, float *d2, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = z[i], s = 1.0f / (1.0f + expf(-v));
        a[i] = v / (1.0f + expf(-v));
        if (d1)
            d1[i] = s + v * s * (1.0f - s);
        if (d2)
            d2[i] = s * (1.0f - s) * (2.0f + v * (1.0f - 2.0f * s));
    }
}

static void tanh_(const float *z, float *a, float *d1, float *d2, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float t = tanhf(z[i]);
        a[i] = t;
        if (d1)
            d1[i] = 1.0f - t * t;
        if (d2)
            d2[i] = -2.0f * t * (1.0f - t * t);
    }
}

static void elu(const float *z, float *a, float *d1, float *d2, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = z[i], e = v > 0.0f ? v : expm1f(v);
        a[i] = e;
        if (d1)
            d1[i] = v > 0.0f ? 1.0f : e + 1.0f;
        if (d2)
            d2[i] = v > 0.0f ? 0.0f : e + 1.0f;
    }
}

hosmi_act_fn hosmi_act_kernel(int act)
{
    switch (act) {
    case HOSM_ACT_SILU: return silu;
    case HOSM_ACT_TANH: return tanh_;
    case HOSM_ACT_ELU: return elu;
    default: return softplus;
    }
}
