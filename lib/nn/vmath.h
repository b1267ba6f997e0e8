/* Vectorised element-wise math: e^x and the MLP activations with their first
 * and second derivatives, over contiguous float arrays. Not API.
 *
 * Every activation kernel computes, in one pass over z[0..n-1],
 *   a[i]  = f(z[i])     when a  != NULL,
 *   d1[i] = f'(z[i])    when d1 != NULL,
 *   d2[i] = f''(z[i])   when d2 != NULL,
 * the derivatives taken with respect to the pre-activation z. Any output may
 * be the same array as z (in place); the outputs must not overlap one another,
 * nor overlap z other than exactly. n <= 0 does nothing.
 *
 *   softplus  f = log(1 + e^z),           f' = s = 1/(1 + e^-z), f'' = s (1 - s)
 *   silu      f = z s,                    f' = s + z s (1 - s),
 *                                         f'' = s (1 - s) (2 + z (1 - 2 s))
 *   tanh      f = t = tanh z,             f' = 1 - t^2,  f'' = -2 t (1 - t^2)
 *   elu       f = z > 0 ? z : e^z - 1,    f' = z > 0 ? 1 : e^z,
 *             (alpha = 1)                 f'' = z > 0 ? 0 : e^z
 *
 * Accuracy (measured by tests/unit/test_vmath.c against double-precision libm
 * over z in [-100, 100] and the special values; see docs/performance.md):
 * within a few units in the last place of the float result, subnormal
 * results included. Where a derivative crosses zero (silu's f' and f'') the
 * error is relative to the size of the terms of the formula above, not of
 * the result. Special values: NaN in gives NaN in every output; +-Inf give
 * the limits (softplus(-Inf) = 0, silu(-Inf) = -0, tanh(+-Inf) = +-1, ...);
 * tanh(-0) = -0 and elu(-0) = -0.
 *
 * Determinism: the result of each element depends on that element's input
 * only (not on n, the position, the alignment or earlier calls), and the
 * same on every CPU: the kernels are compiled once per instruction set
 * (plain x86-64 SSE2, and AVX2 when the CPU has it, chosen at run time), all
 * from one source with the same operations in the same order, no fused
 * multiply-add and no reassociation (C11 mode: -ffp-contract=off), so every
 * variant rounds identically. The unit test checks that the variants agree
 * bit for bit. */
#ifndef HOSM_VMATH_H
#define HOSM_VMATH_H

#include <stdint.h>

/* y[i] = e^x[i]; y may be x. Overflows to +Inf above ~88.72, underflows
 * through the subnormals to +0 below ~-103.97. */
void hosmi_vexp(const float *x, float *y, int64_t n);

void hosmi_vact_softplus(const float *z, float *a, float *d1, float *d2, int64_t n);
void hosmi_vact_silu(const float *z, float *a, float *d1, float *d2, int64_t n);
void hosmi_vact_tanh(const float *z, float *a, float *d1, float *d2, int64_t n);
void hosmi_vact_elu(const float *z, float *a, float *d1, float *d2, int64_t n);

/* The kernel of activation act (HOSM_ACT_*; an unknown value is softplus, as
 * in lib/nn/mlp.c). */
void hosmi_vact(int act, const float *z, float *a, float *d1, float *d2, int64_t n);

/* ---- the instruction-set variants, for tests and benchmarks ------------- */
enum {
    HOSMI_VISA_GENERIC = 0, /* the build's baseline (SSE2 on x86-64) */
    HOSMI_VISA_AVX2 = 1,    /* 256-bit AVX2, x86-64 only */
    HOSMI_VISA_COUNT = 2
};

/* Non-zero when variant isa is compiled in and the CPU can run it. */
int hosmi_visa_available(int isa);
/* The variant the functions above use on this CPU. */
int hosmi_visa_selected(void);
const char *hosmi_visa_name(int isa);
/* The same as hosmi_vact / hosmi_vexp through variant isa, which must be
 * available. */
void hosmi_vact_isa(int isa, int act, const float *z, float *a, float *d1, float *d2,
                    int64_t n);
void hosmi_vexp_isa(int isa, const float *x, float *y, int64_t n);

#endif
