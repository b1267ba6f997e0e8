/* Adam(W), clipping and the EMA. The EMA accumulator starts at zero and
 * hosm_trainer_copy_ema divides it by 1 - decay^step, so the copy is the
 * normalised exponentially weighted average of the weights after steps
 * 1..step, free of the initial weights.
 *
 * The arrays go in blocks of UB elements, each one branch-free loop of
 * exactly UB iterations that GCC's -O2 vectoriser takes whole (as in
 * lib/nn/vmath.c; the tail runs on zero-padded copies, where every new value
 * is 0). Two passes: the first only checks that every new moment, weight
 * and EMA value is finite, the second writes all four at once. */
#include <math.h>
#include <string.h>

#include "train/optim.h"

#define UB 256

/* The complements 1 - b1, 1 - b2 and 1 - e are rounded from double: in
 * float, 1 - 0.999f is off by 3e-5 relative. */
typedef struct {
    float b1, b2, step, rbc2, eps, decay, sc, e, ob1, ob2, oe;
} coeffs;

/* One element's update (always inlined, so the loops below stay calls-free;
 * sqrtf becomes one instruction with -fno-math-errno). */
static inline __attribute__((always_inline)) void update(const coeffs *c, float g, float m,
                                                         float v, float p, float ema, float *m1,
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
static int block_fails(const coeffs *c, const float *restrict g, const float *restrict m,
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

static void block_apply(const coeffs *c, const float *restrict g, float *restrict m,
                        float *restrict v, float *restrict p, float *restrict ema)
{
    for (int i = 0; i < UB; i++)
        update(c, g[i], m[i], v[i], p[i], ema[i], &m[i], &v[i], &p[i], &ema[i]);
}

static void block_ema(const coeffs *c, const float *restrict p, float *restrict ema)
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
static int64_t check_span(const coeffs *c, span s, int64_t lo, int64_t hi)
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
static void apply_span(const coeffs *c, span s, int64_t lo, int64_t hi)
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
static void ema_span(const coeffs *c, span s, int64_t lo, int64_t hi)
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

/* check_span (write = 0; returns the first failing index or -1) or
 * apply_span (write = 1) over [first, P), each learning-rate range at its
 * own rate. */
static int64_t over_ranges(const hosmi_adam *h, const coeffs *c, span s, int64_t first,
                           int64_t P, int write)
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
            apply_span(c, s, at_, lo);
        else
            bad = check_span(c, s, at_, lo);
        if (bad < 0 && lo < hi) {
            if (write)
                apply_span(&cr, s, lo, hi);
            else
                bad = check_span(&cr, s, lo, hi);
        }
        at_ = hi;
    }
    return bad;
}

int hosmi_adam_apply(const hosmi_adam *h, hosmi_adam_state *s, float *params, const float *grad,
                     int64_t first, int64_t P, char *msg)
{
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
    const coeffs c = {(float)h->beta1, (float)h->beta2, (float)(h->lr / bc1),
                      (float)(1.0 / sqrt(bc2)), (float)h->eps,
                      (float)(h->lr * h->weight_decay), (float)scale, (float)h->ema,
                      (float)(1.0 - h->beta1), (float)(1.0 - h->beta2), (float)(1.0 - h->ema)};
    const span all = {grad, s->m, s->v, params, s->ema};
    /* A first pass only checks, so that a failing update changes nothing. */
    int64_t bad = over_ranges(h, &c, all, first, P, 0);
    if (bad >= 0)
        return hosmi_fail(msg, HOSM_E_NONFINITE,
                          "step %lld: the update overflows float at parameter %lld; "
                          "weights unchanged (lower the learning rate or set 'clip')",
                          (long long)step, (long long)bad);
    ema_span(&c, all, 0, first);
    over_ranges(h, &c, all, first, P, 1);
    s->step = step;
    return HOSM_OK;
}
