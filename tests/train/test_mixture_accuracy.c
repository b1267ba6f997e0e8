/* Accuracy on a multimodal target: a 2-D mixture of four anisotropic
 * Gaussians with unequal weights, noise level sigma = 0.3. Train s1 by DSM,
 * copy the EMA weights, and compare on held-out noisy points x + sigma z
 * (x drawn from the mixture with another seed) against the oracle:
 *
 *   score:   E_s = sqrt( sum ||s_model - s_exact||^2 / sum ||s_exact||^2 )
 *            with s_exact = hosm_mixture_score;
 *   denoise: E_d = sqrt( sum ||d_model - d_exact||^2 / sum ||d_exact - x||^2 )
 *            with d_exact = hosm_mixture_posterior_mean, i.e. the error of the
 *            Tweedie displacement sigma^2 s1 relative to its size (relative
 *            to ||d_exact|| it would be tiny and say nothing).
 *
 * Bounds: E_s <= 0.1 and E_d <= 0.1 over all test points, and E_s <= 0.2
 * on the test points nearest each mean (so that the 10% component is learned
 * too). Justification: between the modes the exact score turns sharply
 * (responsibilities switch over a width ~ sigma), which a 64-wide, 3-layer
 * MLP trained for 6000 steps resolves only approximately; the measured error
 * is printed and sits about 2x below the bounds (the rarest, narrowest
 * component is the worst). An untrained model gives E_s > 1, and the
 * moment-matched single Gaussian, i.e. a model that has not resolved the
 * modes, gives E_s ~ 0.9 (computed below and required to exceed 3x the
 * bound, so the bound separates "learned the mixture" from "learned its
 * moments").
 * Also, since d = x + sigma^2 s1 in the library, E_d must equal E_s up to float
 * rounding: |E_d - E_s| <= 1e-3 (both are ratios of sums over 4096 points
 * of float values with ~1e-7 relative error; 1e-3 leaves a wide margin yet
 * catches a denoiser with a wrong sigma power, whose E_d differs by O(1)).
 * Under valgrind the training is cut to 512 steps (see common.h): the error
 * bounds are then reported, not checked; the other checks still are. */
#include "../test_util.h"

#define D 2
#define K 4
#define NTRAIN 32768
#define NTEST 4096
#define SIGMA 0.3

static const double W[K] = {0.4, 0.3, 0.2, 0.1};
static const double MU[K * D] = {-2.0, -1.0, 2.0, -1.0, 0.0, 2.0, 0.5, -0.2};
static double COV[K * D * D];

/* The error of the moment-matched single Gaussian's perturbed score. */
static double single_gaussian_error(const float *x, const float *se, const float *clean, int n)
{
    double m[D] = {0, 0}, c[D * D] = {0, 0, 0, 0};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < D; j++)
            m[j] += clean[i * D + j] / n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < D; j++)
            for (int k = 0; k < D; k++)
                c[j * D + k] += (clean[i * D + j] - m[j]) * (clean[i * D + k] - m[k]) / n;
    const double a = c[0] + SIGMA * SIGMA, b = c[1], d = c[3] + SIGMA * SIGMA, det = a * d - b * b;
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        const double u = x[i * D] - m[0], v = x[i * D + 1] - m[1];
        const double s0 = -(d * u - b * v) / det, s1 = -(-b * u + a * v) / det;
        num += (s0 - se[i * D]) * (s0 - se[i * D]) + (s1 - se[i * D + 1]) * (s1 - se[i * D + 1]);
        den += (double)se[i * D] * se[i * D] + (double)se[i * D + 1] * se[i * D + 1];
    }
    return sqrt(num / den);
}

int main(void)
{
    const double t0 = now_seconds();
    rot_cov(COV + 0, 0.3, 0.40, 0.05);
    rot_cov(COV + 4, -0.8, 0.30, 0.08);
    rot_cov(COV + 8, 1.2, 0.50, 0.04);
    rot_cov(COV + 12, 0.0, 0.06, 0.06);
    hosm_mixture *mix;
    MUST(hosm_mixture_new(&mix, K, D, W, MU, COV));

    float *data = xmalloc(NTRAIN * D * sizeof *data), *clean = xmalloc(NTEST * D * sizeof *clean);
    float *x = xmalloc(NTEST * D * sizeof *x), *se = xmalloc(NTEST * D * sizeof *se);
    float *sm = xmalloc(NTEST * D * sizeof *sm), *de = xmalloc(NTEST * D * sizeof *de);
    float *dm = xmalloc(NTEST * D * sizeof *dm);
    MUST(hosm_mixture_sample(mix, 10, NTRAIN, data));
    MUST(hosm_mixture_sample(mix, 20, NTEST, clean));
    trng r = {4242};
    for (int i = 0; i < NTEST * D; i++)
        x[i] = clean[i] + (float)(SIGMA * trng_normal(&r));

    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=64 depth=3 act=silu sigma=0.3 objective=dsm lr=2e-3 "
                                "batch=128 steps=6000 ema=0.998 seed=5"));
    hosm_model *m, *ema;
    hosm_trainer *t;
    MUST(hosm_model_new(&m, D, cfg));
    MUST(hosm_model_new(&ema, D, cfg));
    const int short_run = UNDER_VALGRIND();
    if (short_run) /* two epochs of 256 batches: the same code paths */
        MUST(hosm_config_set_int(cfg, HOSM_KEY_STEPS, 512));
    MUST(hosm_trainer_new(&t, m, cfg));

    MUST(hosm_mixture_score(mix, SIGMA, x, NTEST, se));
    MUST(hosm_mixture_posterior_mean(mix, SIGMA, x, NTEST, de));
    MUST(hosm_model_score(m, 0, x, NTEST, sm));
    double num = 0, den = 0;
    for (int i = 0; i < NTEST * D; i++) {
        num += (sm[i] - se[i]) * (double)(sm[i] - se[i]);
        den += (double)se[i] * se[i];
    }
    const double untrained = sqrt(num / den);

    MUST(hosm_trainer_fit(t, data, NTRAIN, NULL, NULL));
    MUST(hosm_trainer_copy_ema(t, ema));
    MUST(hosm_model_score(ema, 0, x, NTEST, sm));
    MUST(hosm_model_denoise(ema, 0, x, NTEST, dm));

    double sn = 0, sd = 0, dn = 0, dd = 0;
    for (int i = 0; i < NTEST * D; i++) {
        sn += (sm[i] - se[i]) * (double)(sm[i] - se[i]);
        sd += (double)se[i] * se[i];
        dn += (dm[i] - de[i]) * (double)(dm[i] - de[i]);
        dd += (de[i] - x[i]) * (double)(de[i] - x[i]);
    }
    const double es = sqrt(sn / sd), ed = sqrt(dn / dd);
    const double single = single_gaussian_error(x, se, clean, NTEST);
    printf("     untrained model E_s = %.4f; moment-matched single Gaussian E_s = %.4f\n",
           untrained, single);
    printf("     RMS |d_model - d_exact| = %.4g (RMS |d_exact - x| = %.4g)\n",
           sqrt(dn / NTEST), sqrt(dd / NTEST));
    check_le_unless(short_run, "score: E_s vs hosm_mixture_score (EMA weights)", es, 0.1);
    check_le_unless(short_run, "denoise: E_d vs hosm_mixture_posterior_mean", ed, 0.1);
    check_le("|E_d - E_s| (denoise = x + sigma^2 s1)", fabs(ed - es), 1e-3);
    CHECK(single > 3 * 0.1,
          "the bound does not separate the mixture from a single Gaussian (%.3f)", single);

    /* Per-component view: the error on the points nearest each mean. */
    for (int k = 0; k < K; k++) {
        double kn = 0, kd = 0;
        int cnt = 0;
        for (int i = 0; i < NTEST; i++) {
            int best = 0;
            double bd = INFINITY;
            for (int c = 0; c < K; c++) {
                double dx = clean[i * D] - MU[c * D], dy = clean[i * D + 1] - MU[c * D + 1];
                if (dx * dx + dy * dy < bd) {
                    bd = dx * dx + dy * dy;
                    best = c;
                }
            }
            if (best != k)
                continue;
            cnt++;
            for (int j = 0; j < D; j++) {
                kn += (sm[i * D + j] - se[i * D + j]) * (double)(sm[i * D + j] - se[i * D + j]);
                kd += (double)se[i * D + j] * se[i * D + j];
            }
        }
        char what[96];
        snprintf(what, sizeof what, "score: E_s near component %d (weight %.1f, %d points)", k,
                 W[k], cnt);
        check_le_unless(short_run, what, sqrt(kn / kd), 0.2);
    }
    printf("     time %.2f s\n", now_seconds() - t0);

    hosm_trainer_free(t);
    hosm_model_free(m);
    hosm_model_free(ema);
    hosm_config_free(cfg);
    hosm_mixture_free(mix);
    free(data);
    free(clean);
    free(x);
    free(se);
    free(sm);
    free(de);
    free(dm);
    return finish("test_mixture_accuracy");
}
