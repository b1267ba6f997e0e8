/* Adam(W), clipping and the EMA. The EMA accumulator starts at zero and
 * hosm_trainer_copy_ema divides it by 1 - decay^step, so the copy is the
 * normalised exponentially weighted average of the weights after steps
 * 1..step, free of the initial weights. */
#include <math.h>

#include "train/optim.h"

typedef struct {
    float b1, b2, step, rbc2, eps, decay, sc, e;
} coeffs;

/* The new state of element i; non-zero when all of it is finite. */
static int update(const coeffs *c, float g, float m, float v, float p, float ema, float *m1,
                  float *v1, float *p1)
{
    g *= c->sc;
    *m1 = c->b1 * m + (1.0f - c->b1) * g;
    *v1 = c->b2 * v + (1.0f - c->b2) * g * g;
    *p1 = p - (c->step * *m1 / (sqrtf(*v1) * c->rbc2 + c->eps) + c->decay * p);
    return isfinite(*m1) && isfinite(*v1) && isfinite(*p1) &&
           isfinite(c->e * ema + (1.0f - c->e) * *p1);
}

/* Checks (write = 0: returns the first failing index, or -1) or applies
 * (write = 1) the update of [lo, hi) with coefficients c. */
static int64_t update_span(const coeffs *c, hosmi_adam_state *s, float *params,
                           const float *grad, int64_t lo, int64_t hi, int write)
{
    float m1, v1, p1;
    for (int64_t i = lo; i < hi; i++) {
        if (!write) {
            if (!update(c, grad[i], s->m[i], s->v[i], params[i], s->ema[i], &m1, &v1, &p1))
                return i;
            continue;
        }
        update(c, grad[i], s->m[i], s->v[i], params[i], s->ema[i], &s->m[i], &s->v[i], &p1);
        params[i] = p1;
    }
    return -1;
}

/* update_span over [first, P), each learning-rate range at its own rate. */
static int64_t update_all(const hosmi_adam *h, const coeffs *c, hosmi_adam_state *s,
                          float *params, const float *grad, int64_t first, int64_t P, int write)
{
    int64_t at = first, bad = -1;
    for (int r = 0; r < HOSMI_LR_RANGES && bad < 0; r++) {
        const hosmi_param_range *g = &h->ranges[r];
        const int64_t lo = g->begin > at ? g->begin : at, hi = g->end < P ? g->end : P;
        if (hi <= lo)
            continue;
        coeffs cr = *c;
        cr.step = (float)(c->step * g->scale);
        bad = update_span(c, s, params, grad, at, lo, write);
        if (bad < 0)
            bad = update_span(&cr, s, params, grad, lo, hi, write);
        at = hi;
    }
    return bad >= 0 ? bad : update_span(c, s, params, grad, at, P, write);
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
                      (float)(h->lr * h->weight_decay), (float)scale, (float)h->ema};
    /* A first pass only checks, so that a failing update changes nothing. */
    int64_t bad = update_all(h, &c, s, params, grad, first, P, 0);
    if (bad >= 0)
        return hosmi_fail(msg, HOSM_E_NONFINITE,
                          "step %lld: the update overflows float at parameter %lld; "
                          "weights unchanged (lower the learning rate or set 'clip')",
                          (long long)step, (long long)bad);
    update_all(h, &c, s, params, grad, first, P, 1);
    for (int64_t i = 0; i < P; i++)
        s->ema[i] = c.e * s->ema[i] + (1.0f - c.e) * params[i];
    s->step = step;
    return HOSM_OK;
}
