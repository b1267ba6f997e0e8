/* Adam(W), clipping and the EMA. The EMA accumulator starts at zero and
 * hosm_trainer_copy_ema divides it by 1 - decay^step, so the copy is the
 * normalised exponentially weighted average of the weights after steps
 * 1..step, free of the initial weights.
 *
 * The arrays go in blocks of UB elements, each one branch-free loop of
 * exactly UB iterations that GCC's -O2 vectoriser takes whole (as in
 * lib/nn/vmath.c; the tail runs on zero-padded copies, where every new value
 * is 0). Two passes: the first only checks that every new moment, weight
 * and EMA value is finite, the second writes all four at once. The passes
 * are compiled for the baseline, AVX2 and AVX-512 (the widest the CPU has is
 * used; no FMA, so the same bits in each); with AVX-512 the update of
 * 936 480 parameters (case 8 of bench/speed) is 1.9 times as fast as with
 * the SSE2 baseline (docs/performance.md). */
#include <math.h>
#include <string.h>

#include "nn/vmath.h"
#include "train/optim.h"

/* clang contracts a * b + c into an FMA where the instruction set has it
 * (its AVX-512 variant below), whatever -std says. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define UB 256

#define OINLINE static inline __attribute__((always_inline))

/* The complements 1 - b1, 1 - b2 and 1 - e are rounded from double: in
 * float, 1 - 0.999f is off by 3e-5 relative. */
typedef struct {
    float b1, b2, step, rbc2, eps, decay, sc, e, ob1, ob2, oe;
} coeffs;

/* One element's update (always inlined, so the loops below stay calls-free;
 * sqrtf becomes one instruction with -fno-math-errno). */
OINLINE void update(const coeffs *c, float g, float m, float v, float p, float ema, float *m1,
                    float *v1, float *p1, float *e1)
{
    g *= c->sc;
    *m1 = c->b1 * m + c->ob1 * g;
    *v1 = c->b2 * v + c->ob2 * g * g;
    *p1 = p - (c->step * *m1 / (sqrtf(*v1) * c->rbc2 + c->eps) + c->decay * p);
    *e1 = c->e * ema + c->oe * *p1;
}

/* Non-zero when a new value of the UB elements at these pointers is not
 * finite (x - x is 0 for finite x, NaN otherwise). */
OINLINE int block_fails(const coeffs *c, const float *restrict g, const float *restrict m,
                        const float *restrict v, const float *restrict p,
                        const float *restrict ema)
{
    int bad = 0;
    for (int i = 0; i < UB; i++) {
        float m1, v1, p1, e1;
        update(c, g[i], m[i], v[i], p[i], ema[i], &m1, &v1, &p1, &e1);
        bad |= !((m1 - m1) + (v1 - v1) + (p1 - p1) + (e1 - e1) == 0.0f);
    }
    return bad;
}

OINLINE void block_apply(const coeffs *c, const float *restrict g, float *restrict m,
                         float *restrict v, float *restrict p, float *restrict ema)
{
    for (int i = 0; i < UB; i++)
        update(c, g[i], m[i], v[i], p[i], ema[i], &m[i], &v[i], &p[i], &ema[i]);
}

OINLINE void block_ema(const coeffs *c, const float *restrict p, float *restrict ema)
{
    for (int i = 0; i < UB; i++)
        ema[i] = c->e * ema[i] + c->oe * p[i];
}

/* The state arrays at offset lo, and zero-padded copies for a short block. */
typedef struct {
    const float *g;
    float *m, *v, *p, *ema;
} span;

typedef struct {
    float g[UB], m[UB], v[UB], p[UB], ema[UB];
} padded;

static span at(span s, int64_t lo)
{
    return (span){s.g + lo, s.m + lo, s.v + lo, s.p + lo, s.ema + lo};
}

static span pad(padded *b, span s, int64_t n)
{
    memset(b, 0, sizeof *b);
    memcpy(b->g, s.g, (size_t)n * sizeof(float));
    memcpy(b->m, s.m, (size_t)n * sizeof(float));
    memcpy(b->v, s.v, (size_t)n * sizeof(float));
    memcpy(b->p, s.p, (size_t)n * sizeof(float));
    memcpy(b->ema, s.ema, (size_t)n * sizeof(float));
    return (span){b->g, b->m, b->v, b->p, b->ema};
}

static void unpad(const padded *b, span s, int64_t n)
{
    memcpy(s.m, b->m, (size_t)n * sizeof(float));
    memcpy(s.v, b->v, (size_t)n * sizeof(float));
    memcpy(s.p, b->p, (size_t)n * sizeof(float));
    memcpy(s.ema, b->ema, (size_t)n * sizeof(float));
}

/* The first index of [lo, hi) whose update is not finite, or -1. */
OINLINE int64_t check_span(const coeffs *c, span s, int64_t lo, int64_t hi)
{
    for (int64_t b = lo; b < hi; b += UB) {
        const int64_t n = hi - b < UB ? hi - b : UB;
        padded buf;
        span x = n == UB ? at(s, b) : pad(&buf, at(s, b), n);
        if (!block_fails(c, x.g, x.m, x.v, x.p, x.ema))
            continue;
        for (int64_t i = 0; i < n; i++) {
            float m1, v1, p1, e1;
            update(c, x.g[i], x.m[i], x.v[i], x.p[i], x.ema[i], &m1, &v1, &p1, &e1);
            if (!(isfinite(m1) && isfinite(v1) && isfinite(p1) && isfinite(e1)))
                return b + i;
        }
    }
    return -1;
}

/* Applies the update of [lo, hi) (moments, weights and EMA). */
OINLINE void apply_span(const coeffs *c, span s, int64_t lo, int64_t hi)
{
    for (int64_t b = lo; b < hi; b += UB) {
        const int64_t n = hi - b < UB ? hi - b : UB;
        if (n == UB) {
            span x = at(s, b);
            block_apply(c, x.g, x.m, x.v, x.p, x.ema);
            continue;
        }
        padded buf;
        span x = pad(&buf, at(s, b), n);
        block_apply(c, x.g, x.m, x.v, x.p, x.ema);
        unpad(&buf, at(s, b), n);
    }
}

/* The EMA alone over [lo, hi) (the frozen parameters). */
OINLINE void ema_span(const coeffs *c, span s, int64_t lo, int64_t hi)
{
    for (int64_t b = lo; b < hi; b += UB) {
        const int64_t n = hi - b < UB ? hi - b : UB;
        if (n == UB) {
            block_ema(c, s.p + b, s.ema + b);
            continue;
        }
        padded buf;
        span x = pad(&buf, at(s, b), n);
        block_ema(c, x.p, x.ema);
        unpad(&buf, at(s, b), n);
    }
}

/* ---- one copy of the passes per instruction set --------------------------
 * As lib/nn/vmath.c: the same source compiled for the baseline, AVX2 and
 * AVX-512, without FMA, so that every variant gives the same bits; the
 * widest the CPU has is used. */
typedef struct {
    int64_t (*check)(const coeffs *c, span s, int64_t lo, int64_t hi);
    void (*apply)(const coeffs *c, span s, int64_t lo, int64_t hi);
    void (*ema)(const coeffs *c, span s, int64_t lo, int64_t hi);
} passes;

#define PASSES(SUFFIX, ATTR)                                                                \
    ATTR static int64_t check_##SUFFIX(const coeffs *c, span s, int64_t lo, int64_t hi)     \
    {                                                                                      \
        return check_span(c, s, lo, hi);                                                   \
    }                                                                                      \
    ATTR static void apply_##SUFFIX(const coeffs *c, span s, int64_t lo, int64_t hi)        \
    {                                                                                      \
        apply_span(c, s, lo, hi);                                                          \
    }                                                                                      \
    ATTR static void ema_##SUFFIX(const coeffs *c, span s, int64_t lo, int64_t hi)          \
    {                                                                                      \
        ema_span(c, s, lo, hi);                                                            \
    }                                                                                      \
    static const passes passes_##SUFFIX = {check_##SUFFIX, apply_##SUFFIX, ema_##SUFFIX};

PASSES(generic, )
#if HOSMI_HAVE_X86_VARIANTS
PASSES(avx2, HOSMI_TARGET_AVX2)
PASSES(avx512, HOSMI_TARGET_AVX512)
#endif

static const passes *passes_of(int isa)
{
#if HOSMI_HAVE_X86_VARIANTS
    if (isa == HOSMI_VISA_AVX512)
        return &passes_avx512;
    if (isa == HOSMI_VISA_AVX2)
        return &passes_avx2;
#endif
    (void)isa;
    return &passes_generic;
}

/* check_span (write = 0; returns the first failing index or -1) or
 * apply_span (write = 1) over [first, P), each learning-rate range at its
 * own rate. */
static int64_t over_ranges(const passes *x, const hosmi_adam *h, const coeffs *c, span s,
                           int64_t first, int64_t P, int write)
{
    int64_t at_ = first, bad = -1;
    for (int r = 0; r <= HOSMI_LR_RANGES && bad < 0; r++) {
        coeffs cr = *c;
        int64_t lo = P, hi = P;
        if (r < HOSMI_LR_RANGES) {
            const hosmi_param_range *g = &h->ranges[r];
            lo = g->begin > at_ ? g->begin : at_;
            hi = g->end < P ? g->end : P;
            cr.step = (float)(c->step * g->scale);
            if (hi <= lo)
                continue;
        }
        /* [at_, lo) at the base rate, [lo, hi) at the range's */
        if (write)
            x->apply(c, s, at_, lo);
        else
            bad = x->check(c, s, at_, lo);
        if (bad < 0 && lo < hi) {
            if (write)
                x->apply(&cr, s, lo, hi);
            else
                bad = x->check(&cr, s, lo, hi);
        }
        at_ = hi;
    }
    return bad;
}

double hosmi_lr_factor(const hosmi_adam *h, int64_t step)
{
    if (step <= h->warmup)
        return (double)step / (double)h->warmup;
    if (h->schedule != HOSM_LR_COSINE)
        return 1.0;
    const int64_t s = step - 1 - h->warmup, T = h->horizon - h->warmup;
    return s >= T ? 0.0 : 0.5 * (1.0 + cos(3.14159265358979323846 * (double)s / (double)T));
}

int hosmi_adam_apply(const hosmi_adam *h, hosmi_adam_state *s, float *params, const float *grad,
                     int64_t first, int64_t P, char *msg)
{
    return hosmi_adam_apply_isa(hosmi_visa_selected(), h, s, params, grad, first, P, msg);
}

int hosmi_adam_apply_isa(int isa, const hosmi_adam *h, hosmi_adam_state *s, float *params,
                         const float *grad, int64_t first, int64_t P, char *msg)
{
    const passes *x = passes_of(isa);
    if (s->step >= HOSMI_MAX_STEP)
        return hosmi_fail(msg, HOSM_E_RANGE, "the step count has reached its limit %lld",
                          (long long)HOSMI_MAX_STEP);
    double scale = 1.0;
    if (h->clip > 0.0) {
        double sq = 0.0;
        for (int64_t i = first; i < P; i++)
            sq += (double)grad[i] * grad[i];
        double norm = sqrt(sq);
        if (norm > h->clip)
            scale = h->clip / norm;
    }
    const int64_t step = s->step + 1;
    const double bc1 = 1.0 - pow(h->beta1, (double)step);
    const double bc2 = 1.0 - pow(h->beta2, (double)step);
    const double lr = h->lr * hosmi_lr_factor(h, step);
    const coeffs c = {(float)h->beta1, (float)h->beta2, (float)(lr / bc1),
                      (float)(1.0 / sqrt(bc2)), (float)h->eps, (float)(lr * h->weight_decay),
                      (float)scale, (float)h->ema,
                      (float)(1.0 - h->beta1), (float)(1.0 - h->beta2), (float)(1.0 - h->ema)};
    const span all = {grad, s->m, s->v, params, s->ema};
    /* A first pass only checks, so that a failing update changes nothing. */
    int64_t bad = over_ranges(x, h, &c, all, first, P, 0);
    if (bad >= 0)
        return hosmi_fail(msg, HOSM_E_NONFINITE,
                          "step %lld: the update overflows float at parameter %lld; "
                          "weights unchanged (lower the learning rate or set 'clip')",
                          (long long)step, (long long)bad);
    x->ema(&c, all, 0, first);
    over_ranges(x, h, &c, all, first, P, 1);
    s->step = step;
    return HOSM_OK;
}
