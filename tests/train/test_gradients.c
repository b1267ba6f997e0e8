/* Gradient check of the trainer: for each objective (DSM, DSM-VR) x
 * activation (softplus, silu, tanh, elu) x noise set-up (one level; a ladder
 * of three levels) x parameterization (score, denoiser),
 * hosm_trainer_gradient() must match central finite
 * differences of the double-precision reference loss (tests/common/ref_mlp.c), and its
 * loss value must match the reference loss. The reference forward pass is
 * also compared with hosm_model_score() and hosm_model_denoise() at every
 * level, with the Jacobian of s1 against differences of the reference, and
 * denoising in place (out == x, which the API allows) must give
 * the same bits as out of place.
 *
 * Tolerances (float32 library against a float64 reference):
 *  - Finite differences are taken in double with h = 1e-4 * max(1, |p|):
 *    truncation error ~ h^2 |L'''| / 6 ~ 1e-9 and rounding ~ 1e-16 |L| / h
 *    ~ 1e-10 for these sizes, so fd is exact to far below the tolerances.
 *  - The library's values are float32: each network output is a short chain
 *    of dot products (at most H + 1 = 6 terms a layer, 3 layers) and
 *    elementwise functions, each with unit roundoff u = 6e-8; a forward error
 *    bound is ~ (3 layers x 7 terms + 3 activations) u ~ 1.5e-6 relative to
 *    the magnitude of the terms. Hence:
 *      score:    |s_lib - s_ref| <= 1e-5 * max(1, ||s_ref||_inf)
 *      loss:     |L_lib - L_ref| <= 1e-5 * S, S = the batch mean of the
 *                absolute values of all terms of the loss (the loss is a sum
 *                of squares and products of such outputs, whose terms may
 *                cancel in DSM-VR)
 *      gradient: |g - fd| <= 1e-3 * max(1, |fd|) per entry (the suggested
 *                bound; the measured worst ratio is printed). The backward
 *                pass adds another ~3 layers of float dot products, so its
 *                relative error is ~ 1e-5 at most, 100x below the bound,
 *                while any wrong factor, sign, level row or missing term is
 *                an O(1) relative error.
 *  Each bound is several times (1e-5 / 1.5e-6 ~ 7x for values, ~100x for
 *  gradients) above the float rounding it covers, and orders of magnitude
 *  below the error of any modelling mistake. */
#include "../test_util.h"
#include "../common/ref_mlp.h"

#define D 3
#define H 5
#define DEPTH 2
#define N 4

static const char *const act_name[] = {"softplus", "silu", "tanh", "elu"};

/* Random parameters with non-zero biases and embeddings so that every part
 * of the layout takes part (the library initialises those to zero). */
static void random_params(trng *r, float *p, int64_t P)
{
    for (int64_t i = 0; i < P; i++)
        p[i] = (float)(0.8 * (2.0 * trng_uniform(r) - 1.0));
}

static void check_forward(const char *tag, hosm_model *m, const ref_model *a, const double *pd,
                          trng *r)
{
    enum { NP = 16 };
    float x[NP * D], s[NP * D], den[NP * D];
    for (int i = 0; i < NP * D; i++)
        x[i] = (float)(1.5 * trng_normal(r));
    double worst_s = 0.0, worst_d = 0.0;
    for (int64_t l = 0; l < a->levels; l++) {
        MUST(hosm_model_score(m, l, x, NP, s));
        MUST(hosm_model_denoise(m, l, x, NP, den));
        const double sig = a->sigmas[l];
        for (int i = 0; i < NP; i++) {
            double xd[D], sr[D];
            for (int j = 0; j < D; j++)
                xd[j] = x[i * D + j];
            ref_s1(a, pd, xd, l, sr);
            double mx = 1.0, mxd = 1.0;
            for (int j = 0; j < D; j++) {
                mx = fmax(mx, fabs(sr[j]));
                mxd = fmax(mxd, fmax(fabs(xd[j]), fabs(sig * sig * sr[j])));
            }
            for (int j = 0; j < D; j++) {
                worst_s = fmax(worst_s, fabs(s[i * D + j] - sr[j]) / mx);
                double dref = xd[j] + sig * sig * sr[j];
                worst_d = fmax(worst_d, fabs(den[i * D + j] - dref) / mxd);
            }
        }
    }
    /* The Jacobian of s1 against central differences of the reference in
     * double (h = 1e-5: truncation ~1e-10, rounding ~1e-11 of |s|). */
    double worst_j = 0.0;
    for (int64_t l = 0; l < a->levels; l++) {
        float J[4 * D * D];
        MUST(hosm_model_score_jacobian(m, l, x, 4, 0, J));
        for (int i = 0; i < 4; i++)
            for (int b = 0; b < D; b++) {
                double xp[D], xm[D], sp[D], sm[D];
                for (int j = 0; j < D; j++)
                    xp[j] = xm[j] = x[i * D + j];
                xp[b] += 1e-5, xm[b] -= 1e-5;
                ref_s1(a, pd, xp, l, sp);
                ref_s1(a, pd, xm, l, sm);
                for (int c = 0; c < D; c++) {
                    const double fd = (sp[c] - sm[c]) / 2e-5;
                    worst_j = fmax(worst_j, fabs(J[(i * D + c) * D + b] - fd) / fmax(1.0, fabs(fd)));
                }
            }
    }
    char what[128];
    snprintf(what, sizeof what, "%s: score vs reference (rel. to max(1,|s|))", tag);
    check_le(what, worst_s, 1e-5);
    snprintf(what, sizeof what, "%s: Jacobian vs differences of the reference", tag);
    check_le(what, worst_j, 1e-4);
    snprintf(what, sizeof what, "%s: denoise vs x + sigma^2 s_ref", tag);
    check_le(what, worst_d, 1e-5);
}

static void run_case(int vr, int act, int64_t levels, int denoiser)
{
    char tag[64];
    snprintf(tag, sizeof tag, "%s/%s/L=%lld%s", vr ? "dsm_vr" : "dsm", act_name[act],
             (long long)levels, denoiser ? "/denoiser" : "");
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_HIDDEN, H));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_DEPTH, DEPTH));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_ACT, act));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_LEVELS, levels));
    MUST(hosm_config_set_double(cfg, HOSM_KEY_SIGMA, 0.3));
    MUST(hosm_config_set_double(cfg, HOSM_KEY_SIGMA_MAX, 1.0));
    MUST(hosm_config_set_double(cfg, HOSM_KEY_SIGMA_MIN, 0.1));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_OBJECTIVE, vr ? HOSM_OBJ_DSM_VR : HOSM_OBJ_DSM));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_SEED, 11));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_PARAMETERIZATION,
                             denoiser ? HOSM_PARAM_DENOISER : HOSM_PARAM_SCORE));
    hosm_model *m;
    hosm_trainer *t;
    MUST(hosm_model_new(&m, D, cfg));
    MUST(hosm_trainer_new(&t, m, cfg));

    double sig[3];
    for (int64_t l = 0; l < levels; l++)
        MUST(hosm_model_sigma(m, l, &sig[l]));
    ref_model a;
    ref_model_init(&a, D, H, DEPTH, act, levels, sig, HOSM_S2_NONE, 1, 0, 0);
    a.denoiser = denoiser;
    int64_t P;
    MUST(hosm_model_num_params(m, &P));
    CHECK(P == ref_params(&a), "%s: num_params %lld, layout gives %lld", tag, (long long)P,
          (long long)ref_params(&a));

    trng r = {1000u + (uint64_t)(denoiser * 1000 + vr * 100 + act * 10 + levels)};
    float *p = xmalloc((size_t)P * sizeof *p), *g = xmalloc((size_t)P * sizeof *g);
    float *p_after = xmalloc((size_t)P * sizeof *p_after);
    double *pd = xmalloc((size_t)P * sizeof *pd);
    random_params(&r, p, P);
    MUST(hosm_model_set_params(m, p, P));
    for (int64_t i = 0; i < P; i++)
        pd[i] = p[i];

    check_forward(tag, m, &a, pd, &r);

    float x[N * D], z[N * D];
    double xd[N * D], zd[N * D];
    for (int i = 0; i < N * D; i++) {
        x[i] = (float)trng_normal(&r);
        z[i] = (float)trng_normal(&r);
        xd[i] = x[i];
        zd[i] = z[i];
    }
    const int64_t lv_ladder[N] = {0, 2, 1, 2}, lv_one[N] = {0, 0, 0, 0};
    const int64_t *lv = levels > 1 ? lv_ladder : lv_one;

    double loss;
    MUST(hosm_trainer_gradient(t, x, z, lv, N, &loss, g));
    double scale;
    const double ref = ref_loss_s1(&a, pd, vr, xd, zd, lv, N, &scale);
    char what[128];
    snprintf(what, sizeof what, "%s: |loss - ref| / S (loss %.4g, S %.4g)", tag, ref, scale);
    check_le(what, fabs(loss - ref) / scale, 1e-5);

    double worst = 0.0;
    int64_t worst_k = 0;
    double gnorm = 0.0;
    for (int64_t k = 0; k < P; k++) {
        const double h = 1e-4 * fmax(1.0, fabs(pd[k])), keep = pd[k];
        pd[k] = keep + h;
        const double lp = ref_loss_s1(&a, pd, vr, xd, zd, lv, N, NULL);
        pd[k] = keep - h;
        const double lm = ref_loss_s1(&a, pd, vr, xd, zd, lv, N, NULL);
        pd[k] = keep;
        const double fd = (lp - lm) / (2.0 * h);
        const double e = fabs((double)g[k] - fd) / fmax(1.0, fabs(fd));
        gnorm = fmax(gnorm, fabs(fd));
        if (e > worst) {
            worst = e;
            worst_k = k;
        }
    }
    snprintf(what, sizeof what, "%s: max |g-fd|/max(1,|fd|) (param %lld, max|fd| %.3g)", tag,
             (long long)worst_k, gnorm);
    check_le(what, worst, 1e-3);
    /* The check must be able to fail: the gradient must not be trivially small. */
    CHECK(gnorm > 1e-2, "%s: the reference gradient is degenerate (max |fd| = %g)", tag, gnorm);

    /* No state changes: weights and step count are untouched. */
    MUST(hosm_model_get_params(m, p_after, P));
    CHECK(memcmp(p, p_after, (size_t)P * sizeof *p) == 0, "%s: gradient changed the weights",
          tag);
    int64_t steps;
    MUST(hosm_trainer_step_count(t, &steps));
    CHECK(steps == 0, "%s: gradient changed the step count to %lld", tag, (long long)steps);

    /* levels = NULL means level 0 for every point (bit-identical). */
    float *g0 = xmalloc((size_t)P * sizeof *g0), *gn = xmalloc((size_t)P * sizeof *gn);
    double l0, ln;
    MUST(hosm_trainer_gradient(t, x, z, lv_one, N, &l0, g0));
    MUST(hosm_trainer_gradient(t, x, z, NULL, N, &ln, gn));
    CHECK(l0 == ln && memcmp(g0, gn, (size_t)P * sizeof *g0) == 0,
          "%s: levels = NULL differs from all-zero levels", tag);
    /* And the reference agrees at level 0 for the whole batch. */
    double s0;
    const double r0 = ref_loss_s1(&a, pd, vr, xd, zd, NULL, N, &s0);
    snprintf(what, sizeof what, "%s: levels=NULL |loss - ref| / S", tag);
    check_le(what, fabs(ln - r0) / s0, 1e-5);

    free(g0);
    free(gn);
    free(p);
    free(g);
    free(p_after);
    free(pd);
    hosm_trainer_free(t);
    hosm_model_free(m);
    hosm_config_free(cfg);
}

/* hosm_model_denoise allows out == x: in place gives the same bits as out of
 * place, also across the library's internal chunks of rows (n = 2500). */
static void check_denoise_in_place(void)
{
    enum { NP = 2500 };
    hosm_config *cfg;
    hosm_model *m;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=5 depth=2 act=tanh levels=3 sigma_max=1 sigma_min=0.1"));
    MUST(hosm_model_new(&m, D, cfg));
    float *x = xmalloc(NP * D * sizeof *x), *y = xmalloc(NP * D * sizeof *y);
    trng r = {4};
    for (int i = 0; i < NP * D; i++)
        x[i] = (float)trng_normal(&r);
    MUST(hosm_model_denoise(m, 1, x, NP, y));
    MUST(hosm_model_denoise(m, 1, x, NP, x));
    CHECK(memcmp(x, y, NP * D * sizeof *x) == 0, "denoise in place differs from out of place");
    free(x);
    free(y);
    hosm_model_free(m);
    hosm_config_free(cfg);
}

int main(void)
{
    const double t0 = now_seconds();
    check_denoise_in_place();
    for (int vr = 0; vr <= 1; vr++)
        for (int act = 0; act < 4; act++)
            for (int64_t levels = 1; levels <= 3; levels += 2)
                for (int denoiser = 0; denoiser <= 1; denoiser++)
                    run_case(vr, act, levels, denoiser);
    printf("time %.2f s\n", now_seconds() - t0);
    return finish("test_gradients");
}
