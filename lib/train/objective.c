/* The table of objectives. */
#include "train/objective.h"

const hosmi_objective *hosmi_objective_first(int objective)
{
    switch (objective) {
    case HOSM_OBJ_DSM_VR: return &hosmi_obj_dsm_vr;
    case HOSM_OBJ_SSM: return &hosmi_obj_ssm;
    case HOSM_OBJ_SSM_VR: return &hosmi_obj_ssm_vr;
    case HOSM_OBJ_EXACT_SM: return &hosmi_obj_exact_sm;
    default: return &hosmi_obj_dsm;
    }
}

const hosmi_objective *hosmi_objective_second(int s2_objective)
{
    switch (s2_objective) {
    case HOSM_OBJ_D2SM_VR: return &hosmi_obj_d2sm_vr;
    case HOSM_OBJ_D2SM_RES: return &hosmi_obj_d2sm_res;
    case HOSM_OBJ_D2SM_RES_VR: return &hosmi_obj_d2sm_res_vr;
    case HOSM_OBJ_D2SM_RES_NLL: return &hosmi_obj_d2sm_res_nll;
    default: return &hosmi_obj_d2sm;
    }
}

double hosmi_d2sm_block(const hosmi_batch *b, int64_t i, int block, double alpha, double beta,
                        double scale)
{
    const hosm_model *m = b->m;
    const int64_t D = m->arch.dim;
    const double sigma = m->sigmas[b->level[i]];
    const hosmi_s2_point v = {m->arch.s2, D, m->rank, b->s2[block] + i * m->net2.out};
    return hosmi_s2_d2sm_term(&v, b->blas, 1.0 / (sigma * sigma), b->s1[block] + i * D, b->w,
                              alpha, beta, scale, b->ds2[block] + i * m->net2.out,
                              b->ds1[block] ? b->ds1[block] + i * D : NULL, b->work);
}
