/* White-box tests of lib/train/optim.c: Adam(W) with clipping, learning-rate
 * ranges, frozen parameters and the EMA, against a double-precision
 * reference of the same formulas, at sizes around the block length of the
 * vectorised loops; the all-or-nothing check of a non-finite update; and
 * that every instruction-set variant of the passes (generic, AVX2, AVX-512,
 * those the CPU runs) gives the same bits and fails at the same parameter.
 *
 * Tolerance: the library computes each new value in float with a handful of
 * roundings (relative 2^-24 each), so it differs from the double reference
 * by a few 1e-7 relative to the magnitudes involved; the bound 1e-5 of
 * (|old value| + |change|) is far below what a wrong coefficient, a skipped
 * element or a wrong range (changes of order 1e-3 relative) would leave. */
#include <string.h>

#include "../test_util.h"
#include "nn/vmath.h"
#include "train/optim.h"

typedef struct {
    int64_t P, first;
    float *p, *m, *v, *ema, *g;
} state;

static state make(int64_t P, int64_t first, trng *r)
{
    state s = {P, first, xmalloc((size_t)P * 4), xmalloc((size_t)P * 4), xmalloc((size_t)P * 4),
               xmalloc((size_t)P * 4), xmalloc((size_t)P * 4)};
    for (int64_t i = 0; i < P; i++) {
        s.p[i] = (float)trng_normal(r);
        s.m[i] = (float)(1e-3 * trng_normal(r));
        s.v[i] = (float)(1e-6 * trng_uniform(r));
        s.ema[i] = (float)(0.1 * trng_normal(r));
        s.g[i] = (float)(1e-2 * trng_normal(r));
    }
    return s;
}

static void release(state *s)
{
    free(s->p), free(s->m), free(s->v), free(s->ema), free(s->g);
}

static double rate_of(const hosmi_adam *h, int64_t i)
{
    for (int r = 0; r < HOSMI_LR_RANGES; r++)
        if (i >= h->ranges[r].begin && i < h->ranges[r].end)
            return h->ranges[r].scale;
    return 1.0;
}

/* The schedule written out from its definition in hosm.h: the first w
 * steps at t / w, then 1 or the cosine over the T = horizon - w steps after
 * the warm-up, and 0 past them. */
static double schedule_factor(const hosmi_adam *h, int64_t t)
{
    const int64_t w = h->warmup;
    if (t <= w)
        return (double)t / (double)w;
    if (h->schedule == HOSM_LR_CONSTANT)
        return 1.0;
    const double after = (double)(t - w - 1), T = (double)(h->horizon - w);
    return after < T ? 0.5 * (1.0 + cos(acos(-1.0) * after / T)) : 0.0;
}

static double err(double got, double want, double old)
{
    return fabs(got - want) / (fabs(old) + fabs(want - old) + 1e-30);
}

/* One step of the library against the reference; returns the worst error. */
static double one_step(const hosmi_adam *h, hosmi_adam_state *as, state *s)
{
    const int64_t P = s->P, step = as->step + 1;
    double sq = 0.0;
    for (int64_t i = s->first; i < P; i++)
        sq += (double)s->g[i] * s->g[i];
    const double sc = h->clip > 0 && sqrt(sq) > h->clip ? h->clip / sqrt(sq) : 1.0;
    const double bc1 = 1.0 - pow(h->beta1, (double)step), bc2 = 1.0 - pow(h->beta2, (double)step);
    double *want = xmalloc((size_t)P * 4 * sizeof(double));
    for (int64_t i = 0; i < P; i++) {
        double m = s->m[i], v = s->v[i], p = s->p[i];
        if (i >= s->first) {
            const double f = schedule_factor(h, step);
            const double g = sc * s->g[i], lr = f * h->lr * rate_of(h, i);
            m = h->beta1 * m + (1 - h->beta1) * g;
            v = h->beta2 * v + (1 - h->beta2) * g * g;
            p -= lr / bc1 * m / (sqrt(v / bc2) + h->eps) + f * h->lr * h->weight_decay * p;
        }
        want[4 * i] = m, want[4 * i + 1] = v, want[4 * i + 2] = p;
        want[4 * i + 3] = h->ema * s->ema[i] + (1 - h->ema) * p;
    }
    float *old = xmalloc((size_t)P * 4 * sizeof(float));
    for (int64_t i = 0; i < P; i++)
        old[4 * i] = s->m[i], old[4 * i + 1] = s->v[i], old[4 * i + 2] = s->p[i],
                old[4 * i + 3] = s->ema[i];
    char msg[HOSMI_MSG_CAP];
    as->m = s->m, as->v = s->v, as->ema = s->ema;
    CHECK(hosmi_adam_apply(h, as, s->p, s->g, s->first, P, msg) == HOSM_OK, "apply: %s", msg);
    CHECK(as->step == step, "step count %lld, want %lld", (long long)as->step, (long long)step);
    double worst = 0.0;
    for (int64_t i = 0; i < P; i++) {
        const float got[4] = {s->m[i], s->v[i], s->p[i], s->ema[i]};
        for (int k = 0; k < 4; k++) {
            double e = err(got[k], want[4 * i + k], old[4 * i + k]);
            worst = e > worst ? e : worst;
        }
        if (i < s->first)
            CHECK(s->m[i] == old[4 * i] && s->v[i] == old[4 * i + 1] && s->p[i] == old[4 * i + 2],
                  "frozen parameter %lld changed", (long long)i);
    }
    free(want), free(old);
    return worst;
}

static void test_against_reference(void)
{
    static const int64_t sizes[] = {1, 7, 255, 256, 257, 1000, 3001};
    trng r = {7};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        for (int variant = 0; variant < 6; variant++) {
            const int64_t P = sizes[k];
            hosmi_adam h = {1e-3, 0.9, 0.999, 1e-8, 0.0, 0.0, 0.99, {{0, 0, 1.0}, {0, 0, 1.0}}, HOSM_LR_CONSTANT, 0, 0};
            int64_t first = 0;
            if (variant >= 1) { /* two ranges not on block boundaries */
                h.ranges[0] = (hosmi_param_range){P / 5, P / 3 + 1, 10.0};
                h.ranges[1] = (hosmi_param_range){P / 2, P - P / 7, 0.25};
            }
            if (variant >= 2) /* clipping that binds, weight decay */
                h.clip = 1e-3, h.weight_decay = 0.1;
            if (variant == 3) /* frozen head of the parameters */
                first = P / 4 + 3 < P ? P / 4 + 3 : 0;
            if (variant == 4) /* a warm-up */
                h.warmup = 3;
            if (variant == 5) /* a warm-up, the cosine and steps past its horizon */
                h.schedule = HOSM_LR_COSINE, h.warmup = 1, h.horizon = 5;
            state s = make(P, first, &r);
            hosmi_adam_state as = {s.m, s.v, s.ema, 0};
            double worst = 0.0;
            for (int step = 0; step < 7; step++) {
                double e = one_step(&h, &as, &s);
                worst = e > worst ? e : worst;
            }
            char what[96];
            snprintf(what, sizeof what, "P = %lld, variant %d: worst relative error",
                     (long long)P, variant);
            check_le(what, worst, 1e-5);
            release(&s);
        }
    }
}

/* An update that overflows at one parameter changes nothing and names it. */
static void test_nonfinite(void)
{
    static const int64_t bad_at[] = {0, 300, 599, 1000};
    trng r = {11};
    for (size_t k = 0; k < sizeof bad_at / sizeof *bad_at; k++) {
        const int64_t P = 1001;
        state s = make(P, 0, &r);
        s.g[bad_at[k]] = 3e38f; /* g^2 overflows the second moment */
        hosmi_adam h = {1e-3, 0.9, 0.999, 1e-8, 0.0, 0.0, 0.99, {{0, 0, 1.0}, {0, 0, 1.0}}, HOSM_LR_CONSTANT, 0, 0};
        h.ranges[0] = (hosmi_param_range){100, 700, 3.0};
        hosmi_adam_state as = {s.m, s.v, s.ema, 5};
        const size_t bytes = (size_t)P * sizeof(float);
        float *copy = xmalloc(4 * bytes);
        memcpy(copy, s.m, bytes), memcpy(copy + P, s.v, bytes);
        memcpy(copy + 2 * P, s.p, bytes), memcpy(copy + 3 * P, s.ema, bytes);
        char msg[HOSMI_MSG_CAP], want[64];
        CHECK(hosmi_adam_apply(&h, &as, s.p, s.g, 0, P, msg) == HOSM_E_NONFINITE,
              "overflow at %lld not reported", (long long)bad_at[k]);
        snprintf(want, sizeof want, "at parameter %lld;", (long long)bad_at[k]);
        CHECK(strstr(msg, want) != NULL, "message '%s' does not say '%s'", msg, want);
        CHECK(!memcmp(copy, s.m, bytes) && !memcmp(copy + P, s.v, bytes) &&
                  !memcmp(copy + 2 * P, s.p, bytes) && !memcmp(copy + 3 * P, s.ema, bytes) &&
                  as.step == 5,
              "a failing update changed the state (overflow at %lld)", (long long)bad_at[k]);
        free(copy);
        release(&s);
    }
}

/* Every available variant against the generic one, bit for bit: three steps
 * from the same state, with ranges, clipping, weight decay and a frozen
 * head, at sizes around the block length; then the failing index of an
 * overflow. */
static void test_variants_agree(void)
{
    static const int64_t sizes[] = {1, 15, 17, 255, 256, 257, 1000, 4099};
    int compared = 0;
    for (int isa = 1; isa < HOSMI_VISA_COUNT; isa++) {
        if (!hosmi_visa_available(isa))
            continue;
        compared++;
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            const int64_t P = sizes[k], first = P > 8 ? P / 4 + 3 : 0;
            hosmi_adam h = {1e-3, 0.9, 0.999, 1e-8, 0.1, 0.0, 0.99, {{0, 0, 1.0}, {0, 0, 1.0}}, HOSM_LR_CONSTANT, 0, 0};
            h.ranges[0] = (hosmi_param_range){P / 5, P / 3 + 1, 10.0};
            h.ranges[1] = (hosmi_param_range){P / 2, P - P / 7, 0.25};
            trng r0 = {17}, r1 = {17};
            state a = make(P, first, &r0), b = make(P, first, &r1);
            hosmi_adam_state sa = {a.m, a.v, a.ema, 0}, sb = {b.m, b.v, b.ema, 0};
            char msg[HOSMI_MSG_CAP];
            int ok = 1;
            for (int step = 0; step < 3; step++) {
                h.clip = step == 1 ? 1e-3 : 0.0; /* binding on one step */
                ok &= hosmi_adam_apply_isa(HOSMI_VISA_GENERIC, &h, &sa, a.p, a.g, first, P,
                                           msg) == HOSM_OK;
                ok &= hosmi_adam_apply_isa(isa, &h, &sb, b.p, b.g, first, P, msg) == HOSM_OK;
            }
            const size_t bytes = (size_t)P * sizeof(float);
            CHECK(ok && !memcmp(a.m, b.m, bytes) && !memcmp(a.v, b.v, bytes) &&
                      !memcmp(a.p, b.p, bytes) && !memcmp(a.ema, b.ema, bytes),
                  "P = %lld: variant %s differs from generic", (long long)P,
                  hosmi_visa_name(isa));
            release(&a);
            release(&b);
        }
        trng r = {23};
        state s = make(1001, 0, &r);
        s.g[700] = 3e38f;
        s.g[900] = 3e38f;
        hosmi_adam h = {1e-3, 0.9, 0.999, 1e-8, 0.0, 0.0, 0.99, {{0, 0, 1.0}, {0, 0, 1.0}}, HOSM_LR_CONSTANT, 0, 0};
        hosmi_adam_state as = {s.m, s.v, s.ema, 0};
        char msg[HOSMI_MSG_CAP];
        CHECK(hosmi_adam_apply_isa(isa, &h, &as, s.p, s.g, 0, 1001, msg) == HOSM_E_NONFINITE &&
                  strstr(msg, "at parameter 700;") != NULL,
              "variant %s: the overflow at 700 reported as '%s'", hosmi_visa_name(isa), msg);
        release(&s);
    }
    printf("     variants compared with generic: %d (selected: %s)\n", compared,
           hosmi_visa_name(hosmi_visa_selected()));
}

static void test_step_limit(void)
{
    trng r = {3};
    state s = make(10, 0, &r);
    hosmi_adam h = {1e-3, 0.9, 0.999, 1e-8, 0.0, 0.0, 0.99, {{0, 0, 1.0}, {0, 0, 1.0}}, HOSM_LR_CONSTANT, 0, 0};
    hosmi_adam_state as = {s.m, s.v, s.ema, HOSMI_MAX_STEP};
    char msg[HOSMI_MSG_CAP];
    CHECK(hosmi_adam_apply(&h, &as, s.p, s.g, 0, 10, msg) == HOSM_E_RANGE,
          "the step-count limit is not enforced");
    release(&s);
}

int main(void)
{
    test_against_reference();
    test_nonfinite();
    test_variants_agree();
    test_step_limit();
    return finish("test_optim");
}
