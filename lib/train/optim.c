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
    float m1, v1, p1;
    /* A first pass only checks, so that a failing update changes nothing. */
    for (int64_t i = first; i < P; i++)
        if (!update(&c, grad[i], s->m[i], s->v[i], params[i], s->ema[i], &m1, &v1, &p1))
            return hosmi_fail(msg, HOSM_E_NONFINITE,
                              "step %lld: the update overflows float at parameter %lld; "
                              "weights unchanged (lower the learning rate or set 'clip')",
                              (long long)step, (long long)i);
    for (int64_t i = first; i < P; i++) {
        update(&c, grad[i], s->m[i], s->v[i], params[i], s->ema[i], &s->m[i], &s->v[i], &p1);
        params[i] = p1;
    }
    for (int64_t i = 0; i < P; i++)
        s->ema[i] = c.e * s->ema[i] + (1.0f - c.e) * params[i];
    s->step = step;
    return HOSM_OK;
}
