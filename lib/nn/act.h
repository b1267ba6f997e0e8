/* The activation table: each activation evaluated over whole arrays, with
 * its first and second derivatives in the same pass. */
#ifndef HOSM_ACT_H
#define HOSM_ACT_H

#include "core/internal.h"

/* a = f(z) for n elements where a is not NULL; d1 = f'(z) and d2 = f''(z)
 * where not NULL.
 * a may be z (in place); d1 and d2 must not alias z or a. */
typedef void (*hosmi_act_fn)(const float *z, float *a, float *d1, float *d2, int64_t n);

/* The kernel of an enum hosm_act value (callers validate act). */
hosmi_act_fn hosmi_act_kernel(int act);

/* d3 = f'''(z) for n elements (d3 must not alias z). */
void hosmi_act_d3(int act, const float *z, float *d3, int64_t n);

#endif
