/* Convergence to the closed form: on data from one anisotropic 2-D Gaussian
 * N(mu, Sigma), the optimum of DSM (and of DSM-VR, which has the same
 * expected gradient) at noise level sigma is the perturbed score
 *   s*(x) = -(Sigma + sigma^2 I)^-1 (x - mu)          (docs/math.md 9).
 * Train with DSM, with DSM-VR, and with DSM on a 3-level ladder, and a
 * denoiser (s1 = (net - x) / sigma^2) with DSM and with DSM-VR on the ladder; copy the EMA
 * weights into a fresh model (hosm_trainer_copy_ema), and measure on held-out
 * noisy points x + sigma z the relative error
 *   E = sqrt( sum ||s_model - s*||^2 / sum ||s*||^2 ).
 *
 * Bound: E <= 0.1 at every level. Justification: the target is smooth and
 * nearly linear over the data, so the remaining error is optimisation noise
 * (the DSM gradient has variance ~ 1/sigma^2 per point) averaged by the EMA;
 * a correct trainer lands at a few percent (measured values are printed).
 * Errors of the kind this test is meant to catch are O(1): a wrong noise
 * scale, a sign error, a score not divided by its level's sigma, or a
 * mixed-up level give E >= 0.3 (e.g. using the wrong level of the ladder
 * gives E >= 0.5 for every pair of levels here). A non-trained model gives E > 1.
 * (The per-level loss weight does not move the optimum of a level-conditional
 * model; test_gradients checks it.) The closed form is also checked against the oracle
 * hosm_mixture_score (|diff| <= 1e-5 relative: both are float outputs of
 * double computations, ~1e-7 apart).
 * Under valgrind the training is cut to 300 steps (see common.h): the error
 * bounds are then reported, not checked; the oracle cross-check still is. */
#include "../test_util.h"

#define D 2
#define NTRAIN 16384
#define NTEST 4096

static const double MU[D] = {1.0, -0.5};
/* Sigma = R diag(1.5, 0.1) R^T with a rotation by 30 degrees. */
static double SIG[D * D];

static void make_sigma(void)
{
    const double c = cos(3.14159265358979323846 / 6), s = sin(3.14159265358979323846 / 6), l1 = 1.5, l2 = 0.1;
    SIG[0] = c * c * l1 + s * s * l2;
    SIG[1] = SIG[2] = c * s * (l1 - l2);
    SIG[3] = s * s * l1 + c * c * l2;
}

/* s*(x) = -(Sigma + sigma^2 I)^-1 (x - mu), 2 x 2 inverse in closed form. */
static void exact_score(double sigma, const float *x, double *out)
{
    const double a = SIG[0] + sigma * sigma, b = SIG[1], d = SIG[3] + sigma * sigma;
    const double det = a * d - b * b;
    const double u = x[0] - MU[0], v = x[1] - MU[1];
    out[0] = -(d * u - b * v) / det;
    out[1] = -(-b * u + a * v) / det;
}

/* Relative error of the model's score at a level against s*, on held-out
 * noisy points; also cross-checks s* with the oracle. */
static double score_error(const hosm_model *m, const hosm_mixture *mix, int64_t level,
                          const float *clean, double *oracle_err)
{
    double sigma;
    MUST(hosm_model_sigma(m, level, &sigma));
    float *x = xmalloc(NTEST * D * sizeof *x), *s = xmalloc(NTEST * D * sizeof *s);
    float *so = xmalloc(NTEST * D * sizeof *so);
    trng r = {777u + (uint64_t)level};
    for (int i = 0; i < NTEST * D; i++)
        x[i] = clean[i] + (float)(sigma * trng_normal(&r));
    MUST(hosm_model_score(m, level, x, NTEST, s));
    MUST(hosm_mixture_score(mix, sigma, x, NTEST, so));
    double num = 0.0, den = 0.0, onum = 0.0;
    for (int i = 0; i < NTEST; i++) {
        double e[D];
        exact_score(sigma, x + i * D, e);
        for (int j = 0; j < D; j++) {
            num += (s[i * D + j] - e[j]) * (s[i * D + j] - e[j]);
            onum += (so[i * D + j] - e[j]) * (so[i * D + j] - e[j]);
            den += e[j] * e[j];
        }
    }
    free(x);
    free(s);
    free(so);
    *oracle_err = sqrt(onum / den);
    return sqrt(num / den);
}

static void run(const char *name, int objective, int64_t levels, int64_t steps, const char *extra,
                const float *data, const float *test, const hosm_mixture *mix)
{
    const double t0 = now_seconds();
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=32 depth=2 act=softplus sigma=0.3 sigma_max=1.0 "
                                "sigma_min=0.25 lr=2e-3 batch=128 ema=0.995 seed=3"));
    MUST(hosm_config_parse(cfg, extra));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_OBJECTIVE, objective));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_LEVELS, levels));
    const int short_run = UNDER_VALGRIND();
    if (short_run)
        steps = 300; /* more than two epochs of 128 batches: same code paths */
    MUST(hosm_config_set_int(cfg, HOSM_KEY_STEPS, steps));
    hosm_model *m, *ema;
    hosm_trainer *t;
    MUST(hosm_model_new(&m, D, cfg));
    MUST(hosm_model_new(&ema, D, cfg));
    MUST(hosm_trainer_new(&t, m, cfg));

    double before = 0.0, oe;
    for (int64_t l = 0; l < levels; l++)
        before = fmax(before, score_error(m, mix, l, test, &oe));
    MUST(hosm_trainer_fit(t, data, NTRAIN, NULL, NULL));
    MUST(hosm_trainer_copy_ema(t, ema));
    for (int64_t l = 0; l < levels; l++) {
        double sigma;
        MUST(hosm_model_sigma(ema, l, &sigma));
        const double raw = score_error(m, mix, l, test, &oe);
        const double e = score_error(ema, mix, l, test, &oe);
        char what[160];
        snprintf(what, sizeof what, "%s level %lld (sigma %.3g): rel. error, EMA weights",
                 name, (long long)l, sigma);
        check_le_unless(short_run, what, e, 0.1);
        printf("     (raw weights %.4f, untrained %.4f)\n", raw, before);
        snprintf(what, sizeof what, "%s level %lld: closed form vs hosm_mixture_score", name,
                 (long long)l);
        check_le(what, oe, 1e-5);
    }
    printf("     %s: %lld steps in %.2f s\n", name, (long long)steps, now_seconds() - t0);
    hosm_trainer_free(t);
    hosm_model_free(m);
    hosm_model_free(ema);
    hosm_config_free(cfg);
}

int main(void)
{
    make_sigma();
    const double w = 1.0;
    hosm_mixture *mix;
    MUST(hosm_mixture_new(&mix, 1, D, &w, MU, SIG));
    float *data = xmalloc(NTRAIN * D * sizeof *data), *test = xmalloc(NTEST * D * sizeof *test);
    MUST(hosm_mixture_sample(mix, 1, NTRAIN, data));
    MUST(hosm_mixture_sample(mix, 2, NTEST, test)); /* held out: another seed */

    run("dsm", HOSM_OBJ_DSM, 1, 2000, "", data, test, mix);
    run("dsm_vr", HOSM_OBJ_DSM_VR, 1, 2000, "", data, test, mix);
    run("dsm ladder", HOSM_OBJ_DSM, 3, 3000, "", data, test, mix);
    run("dsm denoiser", HOSM_OBJ_DSM, 1, 2000, "parameterization=denoiser", data, test, mix);
    run("dsm_vr ladder denoiser", HOSM_OBJ_DSM_VR, 3, 8000, "parameterization=denoiser", data, test,
        mix);

    free(data);
    free(test);
    hosm_mixture_free(mix);
    return finish("test_gaussian");
}
