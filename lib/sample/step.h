/* One step of every chain (step.c). */
#ifndef HOSM_STEP_H
#define HOSM_STEP_H

#include "sample/sampler.h"

/* One step of the sampler's kind for the n chains x at a level with step
 * size eps; chains that leave the floats are frozen and counted. A status. */
int hosmi_sampler_step(hosm_sampler *s, float *x, int64_t n, int64_t level, double eps);
/* Non-zero for the kinds that use a Hessian. */
int hosmi_sampler_uses_hessian(int kind);

#endif
