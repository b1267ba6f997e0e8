/* DSM: || s1(x + sigma z) + z / sigma ||^2. */
#include "train/objective.h"

static double dsm_point(const hosmi_batch *b, int64_t i, double scale)
{
    const int64_t D = b->m->arch.dim;
    const double inv = 1.0 / b->m->sigmas[b->level[i]];
    const float *s1 = b->s1[HOSMI_BLOCK_NOISY] + i * D, *z = b->z + i * D;
    float *ds1 = b->ds1[HOSMI_BLOCK_NOISY] + i * D;
    double acc = 0.0;
    for (int64_t j = 0; j < D; j++) {
        double r = (double)s1[j] + z[j] * inv;
        acc += r * r;
        ds1[j] += (float)(2.0 * scale * r);
    }
    return acc;
}

const hosmi_objective hosmi_obj_dsm = {1, HOSMI_ROWS(HOSMI_BLOCK_NOISY), HOSMI_TANGENTS_NONE,
                                       dsm_point, 0};
