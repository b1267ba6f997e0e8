/* Vectorised element-wise math (see vmath.h).
 *
 * How it vectorises: the arrays are processed in blocks of VB elements. Each
 * block is one loop of exactly VB iterations with no branches and no calls
 * (the helpers below are inlined and every choice is a select), reading a
 * local copy of the inputs and writing through restrict pointers. GCC 12's
 * "very cheap" vectoriser cost model of -O2 accepts such a loop: its trip
 * count is a multiple of every vector length and it needs no alias check, so
 * the vector code replaces the scalar loop whole. The last n % VB elements go
 * through the same block code on zero-padded local buffers, so that every
 * element is computed by the same instructions. Build with -fopt-info-vec to
 * see the loops vectorised.
 *
 * e^x: x = k ln2 + r with |r| <= ln2/2 (Cody-Waite, ln2 in two parts, the
 * first with 15 significant bits so that k ln2_hi is exact), e^r - 1 =
 * r + r^2 P(r) with P of degree 5 (a near-minimax Chebyshev fit; relative
 * error 1.7e-9 with its float coefficients; Estrin's scheme, which halves
 * the chain of dependent operations against Horner's: 9% off softplus's
 * values with AVX-512), and 2^k applied last as two
 * powers of two built from the exponent bits, 2^(k>>1) 2^(k-(k>>1)), so that
 * results down through the subnormals are rounded once. Where a result is a
 * product with e^x (the sigmoid, silu, the derivatives), the product is
 * formed from the unscaled e^r and scaled last, for the same reason.
 *
 * log1p(u) for u = e^-|z| in (0, 1] (softplus): u < 1/2 uses log1p(u)
 * directly, otherwise ln2 + log1p((u - 1)/2) with (u - 1)/2 exact, so the
 * polynomial argument x is in [-1/4, 1/2) and carries no rounding error;
 * log1p(x) = x - x^2/2 + x^3 Q(x) with Q of degree 8 (relative error 8e-9).
 *
 * The branch-free selects, the float-to-int conversion and the integer
 * shifts all have vector forms in SSE2, AVX2 and AVX-512 (where GCC turns
 * some selects into masked operations: the same bits). No FMA is used, so
 * the SSE2, AVX2 and AVX-512 variants give the same bits. VB = 64 is 4
 * vectors of AVX-512; blocks of 32 or 128 measured the same there (within
 * the noise). Not for -ffast-math: the NaN tests and the rounding trick
 * x + 1.5*2^23 - 1.5*2^23 need IEEE semantics. */
#include "nn/vmath.h"

#include <string.h>

#include "hosm.h"

/* clang contracts a * b + c into an FMA by default, whatever -std says, in
 * every variant whose instruction set has FMA (its AVX-512 does). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define VB 64

#define VINLINE static inline __attribute__((always_inline))

#define LOG2E 1.44269502f
#define LN2_HI 0x1.62e4p-1f        /* 15 significant bits */
#define LN2_LO 0x1.7f7d1cf79abcap-20f /* ln2 - LN2_HI */
#define ROUND_MAGIC 0x1.8p23f      /* x + M - M rounds x to an integer */
/* e^x rounds to 0 below -103.98; the lower clamp leaves room for the
 * products of e^x with factors up to e^16 (silu's z e^z is not 0 in float
 * down to z = -108.7). */
#define EXP_MIN (-120.0f)
#define EXP_MAX 89.0f              /* e^89 > FLT_MAX: rounds to Inf */

/* (e^r - 1 - r) / r^2 on [-ln2/2, ln2/2]. */
#define E5 1.98909809e-4f
#define E4 1.39336416e-3f
#define E3 8.33331048e-3f
#define E2 4.16664667e-2f
#define E1 1.66666672e-1f
#define E0 0.5f

/* (log1p(x) - x + x^2/2) / x^3 on [-1/4, 1/2]. */
#define L8 4.28719781e-2f
#define L7 (-9.56133977e-2f)
#define L6 1.16806820e-1f
#define L5 (-1.26393110e-1f)
#define L4 1.42683059e-1f
#define L3 (-1.66608170e-1f)
#define L2 2.00001404e-1f
#define L1 (-2.50000566e-1f)
#define L0 3.33333343e-1f

VINLINE float as_float(uint32_t u)
{
    union {
        uint32_t u;
        float f;
    } c = {.u = u};
    return c.f;
}

VINLINE uint32_t as_u32(float f)
{
    union {
        float f;
        uint32_t u;
    } c = {.f = f};
    return c.u;
}

/* c ? a : b, as bit operations: a ternary on floats can become a branch,
 * which jump threading then duplicates with the arithmetic that follows; the
 * copies are floating-point operations that "may trap" (-ftrapping-math, the
 * default), and the loop is then no longer if-converted nor vectorised. */
VINLINE float sel(int c, float a, float b)
{
    uint32_t m = 0u - (uint32_t)(c != 0);
    return as_float((as_u32(a) & m) | (as_u32(b) & ~m));
}

VINLINE int32_t seli(int c, int32_t a, int32_t b)
{
    uint32_t m = 0u - (uint32_t)(c != 0);
    return (int32_t)(((uint32_t)a & m) | ((uint32_t)b & ~m));
}

/* 2^k for k in [-126, 127]. */
VINLINE float pow2i(int32_t k)
{
    return as_float((uint32_t)(k + 127) << 23);
}

/* The reduction of x (finite, clamped to [EXP_MIN, EXP_MAX] here): returns
 * e^r - 1 and sets *k, where e^x = (1 + (e^r - 1)) 2^k, |r| <= ln2/2 (plus
 * rounding), k in [-173, 128]. */
VINLINE float expm1_reduced_clamped(float x, int32_t *k)
{
    float kf = x * LOG2E + ROUND_MAGIC;
    kf = kf - ROUND_MAGIC;
    *k = (int32_t)kf;
    float r = x - kf * LN2_HI; /* exact */
    r = r - kf * LN2_LO;
    /* Estrin's scheme: a dependency chain of 3 multiply-adds, not 5 */
    float r2 = r * r;
    float p01 = E0 + E1 * r, p23 = E2 + E3 * r, p45 = E4 + E5 * r;
    float p = p01 + r2 * (p23 + r2 * p45);
    return r + r2 * p;
}

VINLINE float expm1_reduced(float x, int32_t *k)
{
    x = sel(x < EXP_MIN, EXP_MIN, x);
    x = sel(x > EXP_MAX, EXP_MAX, x);
    return expm1_reduced_clamped(x, k);
}

/* The same for x <= 0 or NaN (the activations' e^-|z|): no upper clamp is
 * needed, and a NaN becomes EXP_MIN, which keeps the conversion to int
 * defined (the callers replace a NaN input's results by the NaN). */
VINLINE float expm1_reduced_nonpos(float x, int32_t *k)
{
    x = sel(!(x >= EXP_MIN), EXP_MIN, x);
    return expm1_reduced_clamped(x, k);
}

/* v 2^k, rounded once, for k in [-252, 254] (an exact step, then one
 * rounding, unless v 2^(k>>1) is itself subnormal, which needs |v| < 2^-39). */
VINLINE float scale2k(float v, int32_t k)
{
    int32_t h = k >> 1;
    return (v * pow2i(h)) * pow2i(k - h);
}

/* e^x - 1 from the reduction, for the k of a non-positive x: 2^k em1 +
 * (2^k - 1), where both terms are exact for k >= -24; below, the result is
 * -1 in float and k is clamped. */
VINLINE float expm1_from(float em1, int32_t k)
{
    float t = pow2i(seli(k < -30, -30, k));
    return t * em1 + (t - 1.0f);
}

/* log1p(u) for u in [0, 1]. */
VINLINE float log1p_unit(float u)
{
    int big = u >= 0.5f;
    float x = sel(big, (u - 1.0f) * 0.5f, u); /* exact */
    float e = sel(big, 1.0f, 0.0f);
    /* Estrin's scheme: a chain of 4 multiply-adds, not 8 */
    float x2 = x * x, x4 = x2 * x2;
    float q01 = L0 + L1 * x, q23 = L2 + L3 * x, q45 = L4 + L5 * x, q67 = L6 + L7 * x;
    float q03 = q01 + x2 * q23, q47 = q45 + x2 * q67;
    float q = q03 + x4 * (q47 + x4 * L8);
    float l = x + (x * x) * (x * q - 0.5f);
    return e * LN2_HI + (l + e * LN2_LO);
}

VINLINE float copysign_bits(float mag, float sgn)
{
    return as_float((as_u32(mag) & 0x7fffffffu) | (as_u32(sgn) & 0x80000000u));
}

/* What a block writes: f, f' (W_D) and with it f'' (W_D2). */
enum { W_F = 1, W_D = 2, W_D2 = 4 };

/* ---- the blocks: VB elements, want a compile-time constant ---------------- */
/* z is a local copy; a, d1, d2 point to VB writable floats each (the caller
 * redirects the unwanted ones to scratch, or never passes them to a block
 * that does not write them). */

VINLINE void exp_blk(const float *restrict x, float *restrict y)
{
    for (int j = 0; j < VB; j++) {
        float xi = x[j];
        int nan = xi != xi;
        float xs = sel(nan, 0.0f, xi);
        int32_t k;
        float em1 = expm1_reduced(xs, &k);
        float e = scale2k(1.0f + em1, k);
        y[j] = sel(nan, xi, e);
    }
}

VINLINE void softplus_blk(const float *restrict z, float *restrict a, float *restrict d1,
                          float *restrict d2, const int want)
{
    for (int j = 0; j < VB; j++) {
        float zi = z[j];
        int nan = zi != zi;
        int pos = zi >= 0.0f;
        float az = sel(pos, zi, -zi);
        int32_t k;
        float em1 = expm1_reduced_nonpos(-az, &k);
        float p = 1.0f + em1;
        float u = scale2k(p, k); /* e^-|z| */
        if (want & W_F) {
            float f = sel(zi > 0.0f, zi, 0.0f) + log1p_unit(u);
            a[j] = sel(nan, zi, f);
        }
        if (want & W_D) {
            float q = 1.0f / (1.0f + u); /* sigmoid(|z|) */
            float pq = p * q;
            float sn = scale2k(pq, k);        /* sigmoid(-|z|) = u q */
            float s = sel(pos, q, sn);
            d1[j] = sel(nan, zi, s);
            if (want & W_D2) {
                float ss = scale2k(pq * q, k); /* s (1 - s) = u q^2 */
                d2[j] = sel(nan, zi, ss);
            }
        }
    }
}

VINLINE void silu_blk(const float *restrict z, float *restrict a, float *restrict d1,
                      float *restrict d2, const int want)
{
    for (int j = 0; j < VB; j++) {
        float zi = z[j];
        int nan = zi != zi;
        int pos = zi >= 0.0f;
        float az = sel(pos, zi, -zi);
        int32_t k;
        float em1 = expm1_reduced_nonpos(-az, &k);
        float p = 1.0f + em1;
        float u = scale2k(p, k); /* e^-|z| */
        float q = 1.0f / (1.0f + u);
        float pq = p * q;
        /* s = m 2^ks: q for z >= 0, u q for z < 0, the scaling left last. */
        float m = sel(pos, q, pq);
        int32_t ks = seli(pos, 0, k);
        /* Beyond +-200 the limits hold in float (s = 0 or 1 exactly); the
         * clamps keep Inf * 0 out of the products. */
        float zl = sel(zi < -200.0f, -200.0f, zi);
        if (want & W_F) {
            float f = scale2k(zl * m, ks);
            a[j] = sel(nan, zi, f);
        }
        if (want & W_D) {
            float zc = sel(zl > 200.0f, 200.0f, zl);
            float s = scale2k(m, ks);
            float sc = sel(pos, scale2k(pq, k), q); /* 1 - s */
            float g1 = scale2k(m * (1.0f + zc * sc), ks);
            d1[j] = sel(nan, zi, g1);
            if (want & W_D2) {
                /* s (1 - s) = u q^2 for either sign. */
                float g2 = scale2k((pq * q) * (2.0f + zc * (sc - s)), k);
                d2[j] = sel(nan, zi, g2);
            }
        }
    }
}

VINLINE void tanh_blk(const float *restrict z, float *restrict a, float *restrict d1,
                      float *restrict d2, const int want)
{
    for (int j = 0; j < VB; j++) {
        float zi = z[j];
        int nan = zi != zi;
        float az = sel(zi >= 0.0f, zi, -zi);
        az = sel(az > 60.0f, 60.0f, az);
        int32_t k;
        float em1 = expm1_reduced_nonpos(-2.0f * az, &k);
        float m = expm1_from(em1, k); /* e^-2|z| - 1, in (-1, 0] */
        float t = -m / (2.0f + m);     /* tanh |z| */
        float ts = copysign_bits(t, zi);
        if (want & W_F)
            a[j] = sel(nan, zi, ts);
        if (want & W_D) {
            /* 1 - t^2 = 4 e^-2|z| / (2 + m)^2, without cancellation. */
            float w = 1.0f / (2.0f + m);
            float g1 = scale2k((4.0f * (1.0f + em1)) * w * w, k);
            d1[j] = sel(nan, zi, g1);
            if (want & W_D2)
                d2[j] = sel(nan, zi, -2.0f * ts * g1);
        }
    }
}

VINLINE void elu_blk(const float *restrict z, float *restrict a, float *restrict d1,
                     float *restrict d2, const int want)
{
    for (int j = 0; j < VB; j++) {
        float zi = z[j];
        int nan = zi != zi;
        float zn = sel(zi < 0.0f, zi, 0.0f);
        int32_t k;
        float em1 = expm1_reduced_nonpos(zn, &k);
        if (want & W_F) {
            float f = sel(zi >= 0.0f, zi, expm1_from(em1, k)); /* elu(-0) = -0 */
            a[j] = sel(nan, zi, f);
        }
        if (want & W_D) {
            float e = scale2k(1.0f + em1, k);
            float g1 = sel(zi > 0.0f, 1.0f, e);
            d1[j] = sel(nan, zi, g1);
            if (want & W_D2)
                d2[j] = sel(nan, zi, sel(zi > 0.0f, 0.0f, e));
        }
    }
}

/* ---- drivers ------------------------------------------------------------ */

/* Runs BLK over n elements with want WANT: full blocks write straight to the
 * outputs (an unwanted derivative goes to scratch), the tail through local
 * buffers. */
#define RUN_ACT(BLK, WANT, z, a, d1, d2, n)                                                 \
    do {                                                                                   \
        float zb_[VB], ab_[VB], d1b_[VB], d2b_[VB];                                        \
        int64_t i_ = 0;                                                                    \
        for (; i_ + VB <= (n); i_ += VB) {                                                 \
            memcpy(zb_, (z) + i_, sizeof zb_);                                             \
            BLK(zb_, ((WANT) & W_F) ? (a) + i_ : ab_, (d1) ? (d1) + i_ : d1b_,              \
                (d2) ? (d2) + i_ : d2b_, (WANT));                                          \
        }                                                                                  \
        int64_t r_ = (n) - i_;                                                             \
        if (r_ > 0) {                                                                      \
            memset(zb_, 0, sizeof zb_);                                                    \
            memcpy(zb_, (z) + i_, (size_t)r_ * sizeof(float));                             \
            BLK(zb_, ab_, d1b_, d2b_, (WANT));                                             \
            if ((WANT) & W_F)                                                              \
                memcpy((a) + i_, ab_, (size_t)r_ * sizeof(float));                         \
            if (d1)                                                                        \
                memcpy((d1) + i_, d1b_, (size_t)r_ * sizeof(float));                       \
            if (d2)                                                                        \
                memcpy((d2) + i_, d2b_, (size_t)r_ * sizeof(float));                       \
        }                                                                                  \
    } while (0)

/* f'' only when asked for: the training passes without tangents need f
 * and f' alone. */
#define DISPATCH_WANT(BLK, z, a, d1, d2, n)                                                 \
    do {                                                                                   \
        if ((a) && (d2))                                                                   \
            RUN_ACT(BLK, W_F | W_D | W_D2, z, a, d1, d2, n);                               \
        else if ((a) && (d1))                                                              \
            RUN_ACT(BLK, W_F | W_D, z, a, d1, d2, n);                                      \
        else if (a)                                                                        \
            RUN_ACT(BLK, W_F, z, a, d1, d2, n);                                            \
        else if (d2)                                                                       \
            RUN_ACT(BLK, W_D | W_D2, z, a, d1, d2, n);                                     \
        else if (d1)                                                                       \
            RUN_ACT(BLK, W_D, z, a, d1, d2, n);                                            \
    } while (0)

VINLINE void act_run(int act, const float *z, float *a, float *d1, float *d2, int64_t n)
{
    switch (act) {
    case HOSM_ACT_SILU: DISPATCH_WANT(silu_blk, z, a, d1, d2, n); break;
    case HOSM_ACT_TANH: DISPATCH_WANT(tanh_blk, z, a, d1, d2, n); break;
    case HOSM_ACT_ELU: DISPATCH_WANT(elu_blk, z, a, d1, d2, n); break;
    default: DISPATCH_WANT(softplus_blk, z, a, d1, d2, n); break;
    }
}

VINLINE void exp_run(const float *x, float *y, int64_t n)
{
    float xb[VB], yb[VB];
    int64_t i = 0;
    for (; i + VB <= n; i += VB) {
        memcpy(xb, x + i, sizeof xb);
        exp_blk(xb, y + i);
    }
    int64_t r = n - i;
    if (r > 0) {
        memset(xb, 0, sizeof xb);
        memcpy(xb, x + i, (size_t)r * sizeof(float));
        exp_blk(xb, yb);
        memcpy(y + i, yb, (size_t)r * sizeof(float));
    }
}

/* ---- one copy per instruction set --------------------------------------- */

static void act_generic(int act, const float *z, float *a, float *d1, float *d2, int64_t n)
{
    act_run(act, z, a, d1, d2, n);
}

static void exp_generic(const float *x, float *y, int64_t n)
{
    exp_run(x, y, n);
}

#if HOSMI_HAVE_X86_VARIANTS
#define HAVE_AVX2_VARIANT 1
#define HAVE_AVX512_VARIANT 1
/* Only AVX2: no FMA, whose contractions would change the rounding. */
HOSMI_TARGET_AVX2 static void act_avx2(int act, const float *z, float *a, float *d1, float *d2,
                                       int64_t n)
{
    act_run(act, z, a, d1, d2, n);
}

HOSMI_TARGET_AVX2 static void exp_avx2(const float *x, float *y, int64_t n)
{
    exp_run(x, y, n);
}

/* AVX-512 (F, DQ, BW, VL: the x86-64-v4 set) in 512-bit vectors of 16
 * floats. GCC does not enable FMA with it (the build's -std=c11 keeps
 * contraction off anyway); clang's AVX-512 does imply FMA, and clang
 * contracts by default, which the pragma at the top of this file stops. */
HOSMI_TARGET_AVX512 static void act_avx512(int act, const float *z, float *a, float *d1,
                                           float *d2, int64_t n)
{
    act_run(act, z, a, d1, d2, n);
}

HOSMI_TARGET_AVX512 static void exp_avx512(const float *x, float *y, int64_t n)
{
    exp_run(x, y, n);
}
#else
#define HAVE_AVX2_VARIANT 0
#define HAVE_AVX512_VARIANT 0
#endif

int hosmi_visa_available(int isa)
{
    switch (isa) {
    case HOSMI_VISA_GENERIC: return 1;
#if HAVE_AVX2_VARIANT
    case HOSMI_VISA_AVX2: __builtin_cpu_init(); return __builtin_cpu_supports("avx2") != 0;
#endif
#if HAVE_AVX512_VARIANT
    /* libgcc's and compiler-rt's checks include the OS's support of the
     * 512-bit register state (XCR0). */
    case HOSMI_VISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#endif
    default: return 0;
    }
}

int hosmi_visa_selected(void)
{
    if (hosmi_visa_available(HOSMI_VISA_AVX512))
        return HOSMI_VISA_AVX512;
    return hosmi_visa_available(HOSMI_VISA_AVX2) ? HOSMI_VISA_AVX2 : HOSMI_VISA_GENERIC;
}

const char *hosmi_visa_name(int isa)
{
    switch (isa) {
    case HOSMI_VISA_GENERIC: return "generic";
    case HOSMI_VISA_AVX2: return "avx2";
    case HOSMI_VISA_AVX512: return "avx512";
    default: return "?";
    }
}

void hosmi_vact_isa(int isa, int act, const float *z, float *a, float *d1, float *d2, int64_t n)
{
    if (n <= 0)
        return;
#if HAVE_AVX2_VARIANT
    if (isa == HOSMI_VISA_AVX2) {
        act_avx2(act, z, a, d1, d2, n);
        return;
    }
#endif
#if HAVE_AVX512_VARIANT
    if (isa == HOSMI_VISA_AVX512) {
        act_avx512(act, z, a, d1, d2, n);
        return;
    }
#endif
    (void)isa;
    act_generic(act, z, a, d1, d2, n);
}

void hosmi_vexp_isa(int isa, const float *x, float *y, int64_t n)
{
    if (n <= 0)
        return;
#if HAVE_AVX2_VARIANT
    if (isa == HOSMI_VISA_AVX2) {
        exp_avx2(x, y, n);
        return;
    }
#endif
#if HAVE_AVX512_VARIANT
    if (isa == HOSMI_VISA_AVX512) {
        exp_avx512(x, y, n);
        return;
    }
#endif
    (void)isa;
    exp_generic(x, y, n);
}

void hosmi_vact(int act, const float *z, float *a, float *d1, float *d2, int64_t n)
{
    hosmi_vact_isa(hosmi_visa_selected(), act, z, a, d1, d2, n);
}

void hosmi_vexp(const float *x, float *y, int64_t n)
{
    hosmi_vexp_isa(hosmi_visa_selected(), x, y, n);
}

void hosmi_vact_softplus(const float *z, float *a, float *d1, float *d2, int64_t n)
{
    hosmi_vact(HOSM_ACT_SOFTPLUS, z, a, d1, d2, n);
}

void hosmi_vact_silu(const float *z, float *a, float *d1, float *d2, int64_t n)
{
    hosmi_vact(HOSM_ACT_SILU, z, a, d1, d2, n);
}

void hosmi_vact_tanh(const float *z, float *a, float *d1, float *d2, int64_t n)
{
    hosmi_vact(HOSM_ACT_TANH, z, a, d1, d2, n);
}

void hosmi_vact_elu(const float *z, float *a, float *d1, float *d2, int64_t n)
{
    hosmi_vact(HOSM_ACT_ELU, z, a, d1, d2, n);
}
