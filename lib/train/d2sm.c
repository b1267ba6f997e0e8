/* D2SM: || psi(x + sigma z) - T ||_F^2 with psi = s2 + s1 s1^T and
 * T = (z z^T - I) / sigma^2, expanded as ||psi||^2 - 2 <T, psi> + ||T||^2. */
#include "train/objective.h"

static double d2sm_point(const hosmi_batch *b, int64_t i, double scale)
{
    const hosm_model *m = b->m;
    const int64_t D = m->arch.dim;
    const double sigma = m->sigmas[b->level[i]], inv = 1.0 / sigma;
    for (int64_t j = 0; j < D; j++)
        b->w[j] = (float)(b->z[i * D + j] * inv);
    return hosmi_d2sm_block(b, i, HOSMI_BLOCK_NOISY, 1.0, -2.0, scale) +
           hosmi_s2_target_norm2(m->arch.s2, D, inv * inv, b->w);
}

const hosmi_objective hosmi_obj_d2sm = {2, HOSMI_ROWS(HOSMI_BLOCK_NOISY), HOSMI_TANGENTS_NONE, d2sm_point};
