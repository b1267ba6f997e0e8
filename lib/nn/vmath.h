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
 * Accuracy, measured by tests/unit/test_vmath.c against double-precision
 * libm over 4.2 million z in [-128, 128] (a dense sweep of [-100, 100] and
 * every binade down to the subnormals): e^x within 0.94 ulp of the float
 * result; f within 3.4 ulp, f' within 5.8 ulp and f'' within 7.2 ulp (tanh's
 * f'' the worst; elu's within 0.94 ulp throughout); a relative error of at
 * most 5.4e-7 for every result in the normal float range; subnormal results
 * included. Where a derivative crosses zero (silu's f' and f'') the error is
 * measured in ulps of the size of the formula's terms, not of the result.
 * The per-kernel table is in docs/performance.md. Special values: NaN in
 * gives NaN in every output; +-Inf give the limits (softplus(-Inf) = 0,
 * silu(-Inf) = -0, tanh(+-Inf) = +-1, ...); tanh(-0) = -0 and elu(-0) = -0.
 *
 * Determinism: the result of each element depends on that element's input
 * only (not on n, the position, the alignment, which outputs are asked for,
 * or earlier calls), and not on the CPU: the kernels are compiled once per
 * instruction set (the build's baseline, SSE2 on x86-64, 4 floats a vector;
 * AVX2, 8 floats; AVX-512 F+DQ+BW+VL, 16 floats; the widest the CPU has is
 * chosen at run time), all from one source with the same operations in the
 * same order and no reassociation, so every variant rounds identically. The
 * unit test checks that the variants agree bit for bit, and prints a hash of
 * all the outputs of its sweep to compare builds: GCC 12 at -O0, -O2, -O3
 * and -Os and clang 14 at -O2 give the same bits. One build setting changes
 * them (within the same error bounds): contraction into fused multiply-adds,
 * which happens only when the baseline itself has FMA (-march=native,
 * -mfma) and -ffp-contract is not off (GNU C modes; the project's -std=c11
 * turns it off). The AVX2 and AVX-512 variants never use FMA: GCC enables
 * it with neither, and for clang, whose AVX-512 implies FMA and which
 * contracts whatever the -std, vmath.c turns contraction off
 * (#pragma STDC FP_CONTRACT OFF). */
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
    HOSMI_VISA_AVX512 = 2,  /* 512-bit AVX-512 F+DQ+BW+VL, x86-64 only */
    HOSMI_VISA_COUNT = 3
};

/* The function attributes that compile a function for a variant (x86-64
 * with GCC or clang only; elsewhere there is the generic variant alone).
 * Neither enables FMA in GCC; clang's AVX-512 does imply it, so a file that
 * uses HOSMI_TARGET_AVX512 turns contraction off (#pragma STDC FP_CONTRACT
 * OFF, under __clang__). lib/train/optim.c uses them too, with the same
 * dispatch; lib/core/gemm.c packs products with AVX-512 (no arithmetic)
 * when it runs BLIS's skx kernels, which need the same instructions. */
#if defined(__x86_64__) && defined(__GNUC__)
#define HOSMI_HAVE_X86_VARIANTS 1
#define HOSMI_TARGET_AVX2 __attribute__((target("avx2")))
#if defined(__clang__)
#define HOSMI_TARGET_AVX512                                                                 \
    __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl"), min_vector_width(512)))
#else
#define HOSMI_TARGET_AVX512                                                                 \
    __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,prefer-vector-width=512")))
#endif
#else
#define HOSMI_HAVE_X86_VARIANTS 0
#endif

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
