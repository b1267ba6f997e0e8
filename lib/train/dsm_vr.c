/* DSM-VR: DSM minus the control variate 2 s1(x)^T z / sigma + ||z||^2 / sigma^2
 * at the clean point: the same gradient in expectation, a lower variance
 * at small sigma. */
#include "train/objective.h"

static double dsm_vr_point(const hosmi_batch *b, int64_t i, double scale)
{
    const int64_t D = b->m->arch.dim;
    const double inv = 1.0 / b->m->sigmas[b->level[i]];
    const float *s1 = b->s1[HOSMI_BLOCK_NOISY] + i * D, *z = b->z + i * D;
    const float *s1c = b->s1[HOSMI_BLOCK_CLEAN] + i * D;
    float *ds1 = b->ds1[HOSMI_BLOCK_NOISY] + i * D, *ds1c = b->ds1[HOSMI_BLOCK_CLEAN] + i * D;
    double acc = 0.0;
    for (int64_t j = 0; j < D; j++) {
        double zi = z[j] * inv, r = (double)s1[j] + zi;
        acc += r * r - (2.0 * s1c[j] * zi + zi * zi);
        ds1[j] += (float)(2.0 * scale * r);
        ds1c[j] += (float)(-2.0 * scale * zi);
    }
    return acc;
}

const hosmi_objective hosmi_obj_dsm_vr = {
    1, HOSMI_ROWS(HOSMI_BLOCK_NOISY) | HOSMI_ROWS(HOSMI_BLOCK_CLEAN), HOSMI_TANGENTS_NONE,
    dsm_vr_point, 0};
