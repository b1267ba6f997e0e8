/* The activation table over the vectorised kernels of vmath.c (their error
 * bounds against libm: docs/performance.md). */
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
