/* The activation table over the vectorised kernels of vmath.c (their error
 * bounds against libm: docs/performance.md). */
#include <math.h>

#include "nn/act.h"
#include "nn/vmath.h"

hosmi_act_fn hosmi_act_kernel(int act)
{
    switch (act) {
    case HOSM_ACT_SILU: return hosmi_vact_silu;
    case HOSM_ACT_TANH: return hosmi_vact_tanh;
    case HOSM_ACT_ELU: return hosmi_vact_elu;
    default: return hosmi_vact_softplus;
    }
}

/* f''' from the pre-activation, in double then rounded: only the
 * energy models' sliced score matching needs it, so plain libm suffices. */
void hosmi_act_d3(int act, const float *z, float *d3, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const double x = z[i];
        double r;
        if (act == HOSM_ACT_TANH) {
            const double t = tanh(x), c = 1.0 - t * t;
            r = c * (6.0 * t * t - 2.0);
        } else if (act == HOSM_ACT_ELU) {
            r = x > 0.0 ? 0.0 : exp(x);
        } else {
            const double s = 1.0 / (1.0 + exp(-x)), q = s * (1.0 - s), c = 1.0 - 2.0 * s;
            r = act == HOSM_ACT_SILU ? q * (c * (3.0 + x * c) - 2.0 * x * q) : q * c;
        }
        d3[i] = (float)r;
    }
}
