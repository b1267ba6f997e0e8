/* D2SM-VR: the antithetic pair x +- sigma z and the control variate at the
 * clean x, with the same z:
 *   1/2 (||psi_p||^2 + ||psi_m||^2) - <T, psi_p + psi_m - 2 psi_0>,
 * D2SM's expectation (up to a factor and a constant) with a variance that
 * stays bounded as sigma -> 0. */
#include "train/objective.h"

static double d2sm_vr_point(const hosmi_batch *b, int64_t i, double scale)
{
    const int64_t D = b->m->arch.dim;
    const double inv = 1.0 / b->m->sigmas[b->level[i]];
    for (int64_t j = 0; j < D; j++)
        b->w[j] = (float)(b->z[i * D + j] * inv);
    return hosmi_d2sm_block(b, i, HOSMI_BLOCK_NOISY, 0.5, -1.0, scale) +
           hosmi_d2sm_block(b, i, HOSMI_BLOCK_CLEAN, 0.0, 2.0, scale) +
           hosmi_d2sm_block(b, i, HOSMI_BLOCK_ANTI, 0.5, -1.0, scale);
}

const hosmi_objective hosmi_obj_d2sm_vr = {
    2, HOSMI_ROWS(HOSMI_BLOCK_NOISY) | HOSMI_ROWS(HOSMI_BLOCK_CLEAN) | HOSMI_ROWS(HOSMI_BLOCK_ANTI),
    HOSMI_TANGENTS_NONE, d2sm_vr_point, 0};
