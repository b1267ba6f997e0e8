/* Score matching without denoising (docs/math.md#31-first-order), on the
 * noisy block's rows (clean x, or x + sigma z with "ssm_noise"):
 *   SSM:      mean over projections v of v^T J v + 1/2 (v^T s1)^2
 *   SSM-VR:   mean over projections v of v^T J v, plus 1/2 ||s1||^2
 *   exact SM: tr J + 1/2 ||s1||^2, from the D unit tangents
 * with J the Jacobian of s1; v^T J v = v . (J v), J v the tangent of s1
 * along v. The loss is linear in the tangents, so their cotangents are v
 * (or the unit vectors) over the number of projections. */
#include "train/objective.h"

static double sliced_point(const hosmi_batch *b, int64_t i, double scale, int vr)
{
    const int64_t D = b->m->arch.dim, k = b->k;
    const float *s1 = b->s1[HOSMI_BLOCK_NOISY] + i * D;
    float *ds1 = b->ds1[HOSMI_BLOCK_NOISY] + i * D;
    double acc = 0.0;
    for (int64_t t = 0; t < k; t++) {
        const float *v = b->v + (i * k + t) * D, *jv = b->t1 + (i * k + t) * D;
        float *djv = b->dt1 + (i * k + t) * D;
        double vjv = 0.0, vs = 0.0;
        for (int64_t j = 0; j < D; j++) {
            vjv += (double)v[j] * jv[j];
            vs += (double)v[j] * s1[j];
            djv[j] += (float)(scale * v[j] / (double)k);
        }
        acc += vjv + (vr ? 0.0 : 0.5 * vs * vs);
        if (!vr)
            for (int64_t j = 0; j < D; j++)
                ds1[j] += (float)(scale * vs * v[j] / (double)k);
    }
    acc /= (double)k;
    if (vr)
        for (int64_t j = 0; j < D; j++) {
            acc += 0.5 * (double)s1[j] * s1[j];
            ds1[j] += (float)(scale * s1[j]);
        }
    return acc;
}

static double ssm_point(const hosmi_batch *b, int64_t i, double scale)
{
    return sliced_point(b, i, scale, 0);
}

static double ssm_vr_point(const hosmi_batch *b, int64_t i, double scale)
{
    return sliced_point(b, i, scale, 1);
}

/* Tangent b of a point is d s1 / d x_b: its entry b is J_bb. */
static double exact_point(const hosmi_batch *b, int64_t i, double scale)
{
    const int64_t D = b->m->arch.dim;
    const float *s1 = b->s1[HOSMI_BLOCK_NOISY] + i * D;
    float *ds1 = b->ds1[HOSMI_BLOCK_NOISY] + i * D;
    double acc = 0.0;
    for (int64_t j = 0; j < D; j++) {
        acc += b->t1[(i * D + j) * D + j] + 0.5 * (double)s1[j] * s1[j];
        b->dt1[(i * D + j) * D + j] += (float)scale;
        ds1[j] += (float)(scale * s1[j]);
    }
    return acc;
}

const hosmi_objective hosmi_obj_ssm = {1, HOSMI_ROWS(HOSMI_BLOCK_NOISY),
                                       HOSMI_TANGENTS_PROJECTIONS, ssm_point, 0};
const hosmi_objective hosmi_obj_ssm_vr = {1, HOSMI_ROWS(HOSMI_BLOCK_NOISY),
                                          HOSMI_TANGENTS_PROJECTIONS, ssm_vr_point, 0};
const hosmi_objective hosmi_obj_exact_sm = {1, HOSMI_ROWS(HOSMI_BLOCK_NOISY), HOSMI_TANGENTS_UNIT,
                                            exact_point, 0};
