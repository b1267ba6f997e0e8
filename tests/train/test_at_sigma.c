/* hosm_model_at_sigma: a model at any noise level of its ladder's range.
 *
 * Exact part (random weights, D = 3, a ladder of 4 levels, a diagonal s2):
 *  - at each level sigma_l the new model answers as level l: scores, Hessian
 *    diagonals and denoised points agree to 1e-5 relative (the level's
 *    embedding is added to the first-layer bias once instead of after it:
 *    one rounding more in the first pre-activation);
 *  - between levels its parameters are the model's without the embedding,
 *    and the first-layer biases b + (1 - t) E[l] + t E[l + 1] with t the
 *    position of sigma between the levels in log sigma (to 1e-6 absolute);
 *  - with all embeddings equal, sigma s1 and sigma^2 s2 do not depend on
 *    sigma (the output scaling uses the new sigma), to 1e-5 relative;
 *  - sigma outside [sigma_min, sigma_max], NaN, Inf or not positive, and a
 *    one-level model asked at another sigma give HOSM_E_RANGE and *out NULL.
 *
 * Accuracy part (a 2-D mixture of four anisotropic Gaussians, a ladder of 6
 * levels from 1.2 to 0.1, DSM): the pooled relative score error against
 * hosm_mixture_score at the geometric midpoints between levels is at most
 * 1.2 times the larger error of the two levels around it (the error grows
 * smoothly as sigma falls, and an error computed on 4096 points varies by a
 * few per cent; measured 0.91 to 1.04 times), and below the error of either
 * neighbouring level's answer used at the midpoint (the level index a caller
 * would otherwise round to). The interpolated conditioning is never trained
 * at the midpoints. Under valgrind the training is cut to 400 steps and the
 * bounds are reported only. */
#include "../test_util.h"

#define D 3
#define L 4
#define H 6
#define NPTS 8

static void max_rel(const char *what, const float *a, const float *b, int64_t n, double bound)
{
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        worst = e > worst ? e : worst;
    }
    check_le(what, worst, bound);
}

static hosm_model *random_model(const char *text, float *p, int64_t *P)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, text));
    hosm_model *m;
    MUST(hosm_model_new(&m, D, cfg));
    hosm_config_free(cfg);
    MUST(hosm_model_num_params(m, P));
    trng r = {77};
    for (int64_t i = 0; i < *P; i++)
        p[i] = (float)trng_sym(&r, 0.8);
    MUST(hosm_model_set_params(m, p, *P));
    return m;
}

/* Parameters of one network (in, hidden H, depth 2, out) in the flat layout:
 * W0, b0, W1, b1, Wout, bout, then E (levels x H). */
static int64_t net_size(int64_t out)
{
    return H * (D + 1) + H * (H + 1) + out * (H + 1);
}

static void check_levels_and_folding(void)
{
    static float p[4096], q[4096];
    int64_t P, Q;
    hosm_model *m = random_model("hidden=6 depth=2 act=softplus levels=4 sigma_max=1 "
                                 "sigma_min=0.125 s2=diag seed=3", p, &P);
    float x[NPTS * D], a[NPTS * D], b[NPTS * D];
    trng r = {5};
    for (int i = 0; i < NPTS * D; i++)
        x[i] = (float)trng_normal(&r);
    for (int64_t l = 0; l < L; l++) {
        double sigma;
        MUST(hosm_model_sigma(m, l, &sigma));
        hosm_model *at;
        MUST(hosm_model_at_sigma(&at, m, sigma));
        char what[80];
        MUST(hosm_model_score(m, l, x, NPTS, a));
        MUST(hosm_model_score(at, 0, x, NPTS, b));
        snprintf(what, sizeof what, "level %lld: score at sigma_l vs level l", (long long)l);
        max_rel(what, b, a, NPTS * D, 1e-5);
        MUST(hosm_model_hessian_diag(m, l, x, NPTS, a));
        MUST(hosm_model_hessian_diag(at, 0, x, NPTS, b));
        snprintf(what, sizeof what, "level %lld: Hessian diagonal", (long long)l);
        max_rel(what, b, a, NPTS * D, 1e-5);
        MUST(hosm_model_denoise(m, l, x, NPTS, a));
        MUST(hosm_model_denoise(at, 0, x, NPTS, b));
        snprintf(what, sizeof what, "level %lld: denoised points", (long long)l);
        max_rel(what, b, a, NPTS * D, 1e-5);
        hosm_model_free(at);
    }
    /* Between levels 1 and 2: the parameters. */
    double s1, s2;
    MUST(hosm_model_sigma(m, 1, &s1));
    MUST(hosm_model_sigma(m, 2, &s2));
    const double tq[] = {0.5, 0.3, 0.9};
    for (int k = 0; k < 3; k++) {
        const double sigma = exp(log(s1) + tq[k] * (log(s2) - log(s1)));
        hosm_model *at;
        MUST(hosm_model_at_sigma(&at, m, sigma));
        MUST(hosm_model_num_params(at, &Q));
        CHECK(Q == P - 2 * L * H, "at sigma: %lld parameters, expected %lld", (long long)Q,
              (long long)(P - 2 * L * H));
        MUST(hosm_model_get_params(at, q, Q));
        double worst_b = 0.0;
        int64_t other = 0;
        for (int net = 0; net < 2; net++) { /* s1 (out D), then the diagonal s2 (out D) */
            const int64_t n = net_size(D), po = net * (n + L * H), qo = net * n;
            const float *e1 = p + po + n + 1 * H, *e2 = p + po + n + 2 * H;
            for (int64_t i = 0; i < n; i++) {
                const int64_t j = i - H * D; /* index into b0 */
                if (j >= 0 && j < H) {
                    const double want = (double)p[po + i] + (1 - tq[k]) * e1[j] + tq[k] * e2[j];
                    const double e = fabs(q[qo + i] - want);
                    worst_b = e > worst_b ? e : worst_b;
                } else {
                    other += q[qo + i] != p[po + i];
                }
            }
        }
        char what[96];
        snprintf(what, sizeof what, "t = %.1f: first-layer biases vs b + (1-t) E1 + t E2",
                 tq[k]);
        check_le(what, worst_b, 1e-6);
        CHECK(other == 0, "t = %.1f: %lld other parameters changed", tq[k], (long long)other);
        hosm_model_free(at);
    }
    /* Equal embeddings: sigma s1 and sigma^2 s2 are the same at every sigma. */
    for (int net = 0; net < 2; net++) {
        const int64_t n = net_size(D), po = net * (n + L * H);
        for (int64_t l = 1; l < L; l++)
            memcpy(p + po + n + l * H, p + po + n, H * sizeof(float));
    }
    MUST(hosm_model_set_params(m, p, P));
    const double sigma = sqrt(s1 * s2) * 1.1;
    hosm_model *at;
    MUST(hosm_model_at_sigma(&at, m, sigma));
    float c[NPTS * D];
    MUST(hosm_model_score(m, 1, x, NPTS, a));
    MUST(hosm_model_score(at, 0, x, NPTS, b));
    for (int i = 0; i < NPTS * D; i++)
        a[i] *= (float)s1, b[i] *= (float)sigma;
    max_rel("equal embeddings: sigma s1 at sigma vs at sigma_1", b, a, NPTS * D, 1e-5);
    MUST(hosm_model_hessian_diag(m, 1, x, NPTS, a));
    MUST(hosm_model_hessian_diag(at, 0, x, NPTS, c));
    for (int i = 0; i < NPTS * D; i++)
        a[i] *= (float)(s1 * s1), c[i] *= (float)(sigma * sigma);
    max_rel("equal embeddings: sigma^2 s2 at sigma vs at sigma_1", c, a, NPTS * D, 1e-5);
    hosm_model_free(at);

    /* Out of range. */
    const double bad[] = {1.0001, 0.1249, 0.0, -0.5, NAN, INFINITY};
    for (int k = 0; k < 6; k++) {
        hosm_model *o = (hosm_model *)&o;
        int st = hosm_model_at_sigma(&o, m, bad[k]);
        CHECK(st == HOSM_E_RANGE && o == NULL, "sigma = %g: status %d, out %p", bad[k], st,
              (void *)o);
    }
    CHECK(hosm_model_at_sigma(NULL, m, 0.5) == HOSM_E_NULL, "out = NULL accepted");
    hosm_model *o = (hosm_model *)&o;
    CHECK(hosm_model_at_sigma(&o, NULL, 0.5) == HOSM_E_NULL && o == NULL, "model = NULL");
    hosm_model_free(m);
    m = random_model("hidden=6 depth=2 sigma=0.3", p, &P);
    MUST(hosm_model_at_sigma(&o, m, 0.3));
    MUST(hosm_model_score(m, 0, x, NPTS, a));
    MUST(hosm_model_score(o, 0, x, NPTS, b));
    CHECK(!memcmp(a, b, sizeof a), "a one-level model at its sigma differs");
    hosm_model_free(o);
    CHECK(hosm_model_at_sigma(&o, m, 0.31) == HOSM_E_RANGE && o == NULL,
          "a one-level model at another sigma");
    hosm_model_free(m);
}

/* ---- accuracy between levels ------------------------------------------ */

#define DM 2
#define K 4
#define LV 6
#define NTRAIN 32768
#define NTEST 4096

/* Pooled relative score error of model level `level` at sigma. */
static double score_error(const hosm_mixture *mix, const hosm_model *m, int64_t level,
                          double sigma, const float *clean, float *x, float *se, float *sm)
{
    trng r = {(uint64_t)(sigma * 1e6) + 9};
    for (int i = 0; i < NTEST * DM; i++)
        x[i] = clean[i] + (float)(sigma * trng_normal(&r));
    MUST(hosm_mixture_score(mix, sigma, x, NTEST, se));
    MUST(hosm_model_score(m, level, x, NTEST, sm));
    double num = 0, den = 0;
    for (int i = 0; i < NTEST * DM; i++) {
        num += (sm[i] - se[i]) * (double)(sm[i] - se[i]);
        den += (double)se[i] * se[i];
    }
    return sqrt(num / den);
}

static void check_accuracy(void)
{
    static const double W[K] = {0.4, 0.3, 0.2, 0.1};
    static const double MU[K * DM] = {-2.0, -1.0, 2.0, -1.0, 0.0, 2.0, 0.5, -0.2};
    double cov[K * DM * DM];
    rot_cov(cov + 0, 0.3, 0.40, 0.05);
    rot_cov(cov + 4, -0.8, 0.30, 0.08);
    rot_cov(cov + 8, 1.2, 0.50, 0.04);
    rot_cov(cov + 12, 0.0, 0.06, 0.06);
    hosm_mixture *mix;
    MUST(hosm_mixture_new(&mix, K, DM, W, MU, cov));
    float *data = xmalloc(NTRAIN * DM * sizeof(float)), *clean = xmalloc(NTEST * DM * sizeof(float));
    float *x = xmalloc(NTEST * DM * sizeof(float)), *se = xmalloc(NTEST * DM * sizeof(float));
    float *sm = xmalloc(NTEST * DM * sizeof(float));
    MUST(hosm_mixture_sample(mix, 10, NTRAIN, data));
    MUST(hosm_mixture_sample(mix, 20, NTEST, clean));
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=64 depth=3 act=silu levels=6 sigma_max=1.2 "
                                "sigma_min=0.1 objective=dsm lr=2e-3 batch=128 steps=6000 "
                                "ema=0.998 seed=5"));
    const int short_run = UNDER_VALGRIND();
    if (short_run)
        MUST(hosm_config_set_int(cfg, HOSM_KEY_STEPS, 400));
    hosm_model *m, *ema;
    hosm_trainer *t;
    MUST(hosm_model_new(&m, DM, cfg));
    MUST(hosm_model_new(&ema, DM, cfg));
    MUST(hosm_trainer_new(&t, m, cfg));
    MUST(hosm_trainer_fit(t, data, NTRAIN, NULL, NULL));
    MUST(hosm_trainer_copy_ema(t, ema));
    double err[LV];
    for (int64_t l = 0; l < LV; l++) {
        double sigma;
        MUST(hosm_model_sigma(ema, l, &sigma));
        err[l] = score_error(mix, ema, l, sigma, clean, x, se, sm);
        printf("     level %lld, sigma %.4f: E_s = %.4f\n", (long long)l, sigma, err[l]);
    }
    for (int64_t l = 0; l + 1 < LV; l++) {
        double a, b;
        MUST(hosm_model_sigma(ema, l, &a));
        MUST(hosm_model_sigma(ema, l + 1, &b));
        const double sigma = sqrt(a * b);
        hosm_model *at;
        MUST(hosm_model_at_sigma(&at, ema, sigma));
        const double e = score_error(mix, at, 0, sigma, clean, x, se, sm);
        hosm_model_free(at);
        /* What a caller would get from the nearest level's index instead. */
        const double near_hi = score_error(mix, ema, l, sigma, clean, x, se, sm);
        const double near_lo = score_error(mix, ema, l + 1, sigma, clean, x, se, sm);
        const double worse = err[l] > err[l + 1] ? err[l] : err[l + 1];
        const double nearest = near_hi < near_lo ? near_hi : near_lo;
        char what[128];
        snprintf(what, sizeof what, "midpoint sigma %.4f: E_s (levels around: %.4f, %.4f)",
                 sigma, err[l], err[l + 1]);
        check_le_unless(short_run, what, e, 1.2 * worse);
        snprintf(what, sizeof what, "  the same vs the better neighbour level's answer (%.4f)",
                 nearest);
        check_le_unless(short_run, what, e, nearest);
    }
    hosm_trainer_free(t);
    hosm_model_free(m);
    hosm_model_free(ema);
    hosm_config_free(cfg);
    hosm_mixture_free(mix);
    free(data), free(clean), free(x), free(se), free(sm);
}

int main(void)
{
    const double t0 = now_seconds();
    check_levels_and_folding();
    check_accuracy();
    printf("     time %.2f s\n", now_seconds() - t0);
    return finish("test_at_sigma");
}
