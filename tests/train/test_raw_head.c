/* "raw_head": the output layers of s1 and s2 start at sigma (sigma^2) times
 * their usual initial weights and learn at lr sigma (lr sigma^2); every other
 * layer is unchanged. Adam's first step moves every parameter by about its
 * learning rate (|m / sqrt(v)| = 1 at step 1), which makes the rates visible.
 * With a ladder the key has no effect, nor on a log-variance s2 head. */
#include <math.h>
#include <stdlib.h>

#include "hosm.h"
#include "../test_util.h"

#define D 3
#define H 8

static const double sigma = 0.1, lr = 1e-3;

static hosm_model *model(const char *text, hosm_config **cfg)
{
    hosm_model *m;
    MUST(hosm_config_new(cfg));
    MUST(hosm_config_parse(*cfg, text));
    MUST(hosm_model_new(&m, D, *cfg));
    return m;
}

static float *params(const hosm_model *m, int64_t *count)
{
    MUST(hosm_model_num_params(m, count));
    float *p = malloc(sizeof(float) * (size_t)*count);
    MUST(hosm_model_get_params(m, p, *count));
    return p;
}

/* The same configuration without (index 0) and with (index 1) raw_head=1:
 * configs, models and their initial parameters. */
typedef struct {
    hosm_config *cfg[2];
    hosm_model *m[2];
    float *p[2];
    int64_t P;
} pair;

static void pair_new(pair *q, const char *base)
{
    char text[2][200];
    for (int k = 0; k < 2; k++)
        snprintf(text[k], sizeof text[k], "%s raw_head=%d", base, k);
    int64_t P1;
    q->m[0] = model(text[0], &q->cfg[0]);
    q->m[1] = model(text[1], &q->cfg[1]);
    q->p[0] = params(q->m[0], &q->P);
    q->p[1] = params(q->m[1], &P1);
    CHECK(P1 == q->P, "raw_head changes no shape: %lld params", (long long)P1);
}

static void pair_free(pair *q)
{
    for (int k = 0; k < 2; k++) {
        free(q->p[k]);
        hosm_model_free(q->m[k]);
        hosm_config_free(q->cfg[k]);
    }
}

/* Per network (depth 2): W0 (H x D), b0, W1 (H x H), b1, then the head
 * W2 (out x H), b2. */
static int64_t head_begin(int64_t out, int64_t *end)
{
    const int64_t begin = H * (D + 1) + H * (H + 1);
    *end = begin + out * (H + 1);
    return begin;
}

/* max |a - b| / scale over [lo, hi), and min of the same. */
static void span(const float *a, const float *b, int64_t lo, int64_t hi, double *mn, double *mx)
{
    *mn = INFINITY;
    *mx = 0;
    for (int64_t i = lo; i < hi; i++) {
        const double d = fabs((double)a[i] - b[i]);
        *mn = d < *mn ? d : *mn;
        *mx = d > *mx ? d : *mx;
    }
}

static void first_step(void)
{
    pair q;
    pair_new(&q, "hidden=8 depth=2 sigma=0.1 lr=1e-3 s2=full s2_objective=d2sm_vr seed=4");
    const int64_t P = q.P;
    const float *p0 = q.p[0], *p1 = q.p[1];
    int64_t end1, end2;
    const int64_t n1 = H * (D + 1) + H * (H + 1) + D * (H + 1); /* s1 parameters */
    const int64_t h1 = head_begin(D, &end1), h2 = n1 + head_begin(D * (D + 1) / 2, &end2);
    end2 += n1;
    CHECK(end1 == n1 && end2 == P, "layout: %lld params, s1 %lld", (long long)P, (long long)n1);
    double worst = 0;
    for (int64_t i = 0; i < P; i++) {
        const double f = i >= h2 ? sigma * sigma : i >= h1 && i < end1 ? sigma : 1.0;
        worst = fmax(worst, fabs(p1[i] - f * p0[i]) / (f * fabs(p0[i]) + 1e-30));
    }
    check_le("initial weights: raw_head = the usual ones, heads times sigma, sigma^2 "
             "(relative, float rounding)", worst, 1e-6);
    hosm_trainer *t;
    MUST(hosm_trainer_new(&t, q.m[1], q.cfg[1]));
    float x[4 * D] = {0.1f, -0.3f, 0.5f, 1.0f, 0.2f, -0.7f, -0.4f, 0.9f, 0.3f, 0.0f, 0.6f, -1.1f};
    MUST(hosm_trainer_step(t, x, 4, NULL));
    int64_t P1;
    float *after = params(q.m[1], &P1);
    double mn, mx;
    span(p1, after, 0, h1, &mn, &mx);
    check_le("hidden layers of s1 move by lr (max / lr - 1)", fabs(mx / lr - 1), 1e-3);
    span(p1, after, h1, end1, &mn, &mx);
    check_le("s1 head moves by lr sigma (max / (lr sigma) - 1)", fabs(mx / (lr * sigma) - 1),
             1e-3);
    span(p1, after, h2, end2, &mn, &mx);
    check_le("s2 head moves by lr sigma^2 (max / (lr sigma^2) - 1)",
             fabs(mx / (lr * sigma * sigma) - 1), 1e-3);
    free(after);
    hosm_trainer_free(t);
    pair_free(&q);
}

static void ladder_unchanged(void)
{
    pair q;
    pair_new(&q, "hidden=8 depth=2 levels=3 lr=1e-3 seed=4");
    int same = 1;
    for (int64_t i = 0; i < q.P; i++)
        same &= q.p[0][i] == q.p[1][i];
    CHECK(same, "a ladder's initial weights do not depend on raw_head");
    pair_free(&q);
}

/* The log-variance head (s2_head=logvar) against the linear one, same seed:
 * the same initial weights (its factors are in the evaluation); raw_head
 * leaves that s2 head alone (its outputs carry no sigma) while it still
 * scales the s1 head. */
static void logvar_head(void)
{
    static const char *base = "hidden=8 depth=2 sigma=0.1 s2=lowrank rank=2 seed=4 raw_head=0";
    char text[200];
    hosm_config *c[3];
    hosm_model *m[3];
    float *p[3];
    int64_t P[3];
    for (int k = 0; k < 3; k++) {
        snprintf(text, sizeof text, "%s%s", base,
                 k == 0 ? "" : k == 1 ? " s2_head=logvar" : " s2_head=logvar raw_head=1");
        m[k] = model(text, &c[k]);
        p[k] = params(m[k], &P[k]);
    }
    CHECK(P[1] == P[0] && P[2] == P[0], "s2_head changes no shape");
    const int64_t n1 = H * (D + 1) + H * (H + 1) + D * (H + 1), r = 2;
    int64_t end, s1_end;
    head_begin(D * (r + 1), &end);
    const int64_t h1 = head_begin(D, &s1_end);
    CHECK(n1 + end == P[0], "layout: %lld params, the s2 head ends at %lld", (long long)P[0],
          (long long)(n1 + end));
    double worst = 0, worst_raw = 0;
    for (int64_t i = 0; i < P[0]; i++) {
        worst = fmax(worst, fabs(p[1][i] - p[0][i]));
        const double g = i >= h1 && i < s1_end ? sigma : 1.0;
        worst_raw = fmax(worst_raw, fabs(p[2][i] - g * p[1][i]) / (g * fabs(p[1][i]) + 1e-30));
    }
    check_le("logvar: the linear head's initial weights (max |difference|)", worst, 0.0);
    check_le("logvar with raw_head: only the s1 head times sigma (relative)", worst_raw, 1e-6);
    for (int k = 0; k < 3; k++) {
        free(p[k]);
        hosm_model_free(m[k]);
        hosm_config_free(c[k]);
    }
}

int main(void)
{
    first_step();
    ladder_unchanged();
    logvar_head();
    return finish("test_raw_head");
}
