/* Sliced and exact score matching (docs/math.md#31-first-order).
 *   - gradients: the parameter gradient of hosm_trainer_gradient() against
 *     central differences of its loss along random directions of the
 *     parameters, for SSM, SSM-VR and exact SM, every activation, one and
 *     three projections, Rademacher and Gaussian directions, clean and noisy
 *     rows, one level and a ladder;
 *   - the projection estimator: SSM-VR with many projections averages to
 *     exact SM's loss (the trace of J), and Rademacher directions have the
 *     lower variance;
 *   - the optimum for Gaussian data N(mu, Sigma): score matching learns
 *     -Sigma^-1 (x - mu), DSM at sigma = 0.5 -(Sigma + sigma^2 I)^-1 (x - mu);
 *     each model is closer to its own target than to the other's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hosm.h"
#include "../test_util.h"

static hosm_config *config(const char *text)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, text));
    return cfg;
}

/* Loss at params p. */
static double loss_at(hosm_model *m, hosm_trainer *t, const float *p, int64_t P, const float *x,
                      const float *z, const int64_t *lv, int64_t n, float *g)
{
    double l;
    MUST(hosm_model_set_params(m, p, P));
    MUST(hosm_trainer_gradient(t, x, z, lv, n, &l, g));
    return l;
}

static void gradient_case(const char *model_text, const char *train_text)
{
    hosm_config *mc = config(model_text), *tc = config(train_text);
    hosm_model *m;
    hosm_trainer *t;
    MUST(hosm_model_new(&m, 3, mc));
    MUST(hosm_trainer_new(&t, m, tc));
    int64_t P, L;
    MUST(hosm_model_num_params(m, &P));
    MUST(hosm_model_num_levels(m, &L));
    enum { N = 5 };
    float x[N * 3], z[N * 3];
    int64_t lv[N];
    trng r = {12345};
    for (int i = 0; i < N * 3; i++) {
        x[i] = (float)trng_normal(&r);
        z[i] = (float)trng_normal(&r);
    }
    for (int i = 0; i < N; i++)
        lv[i] = i % L;
    float *p0 = malloc(sizeof(float) * P), *p = malloc(sizeof(float) * P);
    float *g = malloc(sizeof(float) * P), *tmp = malloc(sizeof(float) * P);
    MUST(hosm_model_get_params(m, p0, P));
    loss_at(m, t, p0, P, x, z, lv, N, g);
    double worst = 0.0;
    for (int dir = 0; dir < 3; dir++) {
        double gu = 0.0, un = 0.0, gg = 0.0;
        float *u = malloc(sizeof(float) * P);
        for (int64_t j = 0; j < P; j++) {
            u[j] = (float)trng_normal(&r);
            gu += (double)g[j] * u[j];
            gg += (double)g[j] * g[j];
            un += (double)u[j] * u[j];
        }
        /* ELU's f'' jumps at 0, so the score-matching losses, which hold f', have
         * kinks in the parameters: a small step avoids crossing one. */
        const double h = (strstr(model_text, "elu") ? 1e-3 : 1e-2) / sqrt(un);
        for (int64_t j = 0; j < P; j++)
            p[j] = p0[j] + (float)(h * u[j]);
        double lp = loss_at(m, t, p, P, x, z, lv, N, tmp);
        for (int64_t j = 0; j < P; j++)
            p[j] = p0[j] - (float)(h * u[j]);
        double lm = loss_at(m, t, p, P, x, z, lv, N, tmp);
        const double fd = (lp - lm) / (2 * h);
        /* Relative to the derivative, or to a tenth of the typical size of a
         * directional derivative, ||g|| ||u|| / sqrt(P): the float loss
         * cannot resolve much smaller ones. */
        worst = fmax(worst, fabs(fd - gu) / fmax(fabs(gu), 0.1 * sqrt(gg * un / (double)P)));
        free(u);
    }
    char what[200];
    snprintf(what, sizeof what, "%s | %s: directional derivative rel. error", model_text,
             train_text);
    check_le(what, worst, 2e-2);
    free(p0);
    free(p);
    free(g);
    free(tmp);
    hosm_trainer_free(t);
    hosm_model_free(m);
    hosm_config_free(mc);
    hosm_config_free(tc);
}

static void gradients(void)
{
    static const char *const acts[] = {"softplus", "silu", "tanh", "elu"};
    static const char *const objs[] = {"objective=ssm projections=1",
                                       "objective=ssm projections=3 projection=gaussian",
                                       "objective=ssm_vr projections=3",
                                       "objective=ssm_vr projections=2 ssm_noise=1",
                                       "objective=exact_sm"};
    for (int a = 0; a < 4; a++)
        for (int o = 0; o < 5; o++) {
            char mt[120];
            snprintf(mt, sizeof mt, "hidden=12 depth=2 act=%s sigma=0.3 seed=%d", acts[a], a);
            gradient_case(mt, objs[o]);
        }
    gradient_case("hidden=10 depth=3 act=silu levels=3 sigma_max=1 sigma_min=0.1",
                  "objective=ssm projections=2");
    gradient_case("hidden=10 depth=1 act=tanh levels=3 sigma_max=1 sigma_min=0.1",
                  "objective=exact_sm ssm_noise=1");
    gradient_case("hidden=10 depth=2 act=softplus s2=diag sigma=0.3",
                  "objective=ssm_vr projections=2 s2_objective=d2sm w1=2");
    for (int o = 0; o < 5; o++)
        gradient_case("hidden=12 depth=2 act=tanh sigma=0.3 parameterization=denoiser", objs[o]);
    gradient_case("hidden=10 depth=2 act=silu levels=3 sigma_max=1 sigma_min=0.1 "
                  "parameterization=denoiser", "objective=ssm_vr projections=2 ssm_noise=1");
}

/* Loss of the current weights with the projections of a trainer seed. */
static double loss_with_seed(hosm_model *m, const char *text, int seed, const float *x, int64_t n)
{
    char full[200];
    snprintf(full, sizeof full, "%s seed=%d", text, seed);
    hosm_config *c = config(full);
    hosm_trainer *t;
    MUST(hosm_trainer_new(&t, m, c));
    int64_t P;
    MUST(hosm_model_num_params(m, &P));
    float *g = malloc(sizeof(float) * P), *z = calloc((size_t)n * 4, sizeof(float));
    double l;
    MUST(hosm_trainer_gradient(t, x, z, NULL, n, &l, g));
    free(g);
    free(z);
    hosm_trainer_free(t);
    hosm_config_free(c);
    return l;
}

static void projection_estimator(void)
{
    hosm_config *mc = config("hidden=16 depth=2 act=silu sigma=0.5 seed=5");
    hosm_model *m;
    MUST(hosm_model_new(&m, 4, mc));
    float x[8 * 4];
    trng r = {777};
    for (int i = 0; i < 32; i++)
        x[i] = (float)trng_normal(&r);
    const double exact = loss_with_seed(m, "objective=exact_sm", 0, x, 8);
    double mean[2] = {0, 0}, var[2] = {0, 0};
    const int S = 400;
    static const char *const kinds[] = {"objective=ssm_vr projection=rademacher",
                                        "objective=ssm_vr projection=gaussian"};
    for (int k = 0; k < 2; k++) {
        for (int s = 1; s <= S; s++) {
            double l = loss_with_seed(m, kinds[k], s, x, 8);
            mean[k] += l;
            var[k] += l * l;
        }
        mean[k] /= S;
        var[k] = var[k] / S - mean[k] * mean[k];
        char what[160];
        snprintf(what, sizeof what, "%s: |mean - exact SM| / (5 SE) over %d draws", kinds[k], S);
        check_le(what, fabs(mean[k] - exact) / (5 * sqrt(var[k] / S)), 1.0);
    }
    check_le("Rademacher variance / Gaussian variance of the SSM-VR loss", var[0] / var[1], 0.9);
    hosm_model_free(m);
    hosm_config_free(mc);
}

static void gaussian_optimum(void)
{
    gauss2_problem g;
    gauss2_problem_init(&g);
    static const char *const objs[] = {"objective=ssm_vr projections=1", "objective=dsm_vr"};
    double err[2][2];
    for (int o = 0; o < 2; o++) {
        hosm_config *mc = config("hidden=32 depth=2 act=silu sigma=0.5 seed=3");
        char text[200];
        snprintf(text, sizeof text, "%s steps=%d batch=256 lr=2e-3 seed=4 ema=0.99", objs[o],
                 UNDER_VALGRIND() ? 200 : 3000);
        hosm_config *tc = config(text);
        hosm_model *m;
        hosm_trainer *t;
        MUST(hosm_model_new(&m, 2, mc));
        MUST(hosm_trainer_new(&t, m, tc));
        MUST(hosm_trainer_fit(t, g.data, g.n, NULL, NULL));
        MUST(hosm_trainer_copy_ema(t, m));
        err[o][0] = gauss2_score_error(m, g.clean, g.mu, g.test, g.nt);
        err[o][1] = gauss2_score_error(m, g.noisy, g.mu, g.test, g.nt);
        printf("     %-32s error vs -Sigma^-1 (x-mu) %.4f, vs -(Sigma+sigma^2 I)^-1 (x-mu) %.4f\n",
               objs[o], err[o][0], err[o][1]);
        hosm_trainer_free(t);
        hosm_model_free(m);
        hosm_config_free(mc);
        hosm_config_free(tc);
    }
    check_le_unless(UNDER_VALGRIND(), "SSM-VR: error against its own target -Sigma^-1 (x - mu)",
                    err[0][0], 0.1);
    check_le_unless(UNDER_VALGRIND(), "SSM-VR: own-target error / DSM-target error",
                    err[0][0] / err[0][1], 0.5);
    check_le_unless(UNDER_VALGRIND(), "DSM-VR: error against its own target", err[1][1], 0.1);
    check_le_unless(UNDER_VALGRIND(), "DSM-VR: own-target error / SSM-target error",
                    err[1][1] / err[1][0], 0.5);
    gauss2_problem_free(&g);
}

int main(void)
{
    gradients();
    projection_estimator();
    gaussian_optimum();
    return finish("test_ssm");
}
