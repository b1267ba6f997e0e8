/* Variance of the second-order gradient estimators at a small noise level.
 *
 * On a fixed small model (D = 3, hidden 8, depth 2, its seeded initial
 * weights) and a fixed batch of 4 points, the per-batch gradient of the s2
 * parameters is estimated with D2SM and with D2SM-VR over M independent
 * noise draws (hosm_trainer_gradient with the test's own standard normal
 * draws; the same draw feeds both objectives), for each structure (diag,
 * lowrank r = 2, full), at sigma = 0.01 and, for a sharper test of the means,
 * at sigma = 0.3.
 *
 * Why the means agree: with z and -z equally likely, E||psi(x - sigma z)||^2
 * = E||psi(x + sigma z)||^2 and E<T, psi(x - sigma z)> = E<T, psi(x + sigma z)>
 * (T is even in z), and E<T, psi(x)> = 0 (E T = 0), so E[L2vr] = E[L2] - ||T||^2
 * terms that do not depend on the parameters: the two expected gradients are
 * equal (docs/math.md 3.2). The s2 block of the gradient does not involve the
 * first-order loss, so it isolates L2.
 *
 * Checks, per structure and sigma:
 *  - means: the paired differences d = g_d2sm - g_vr (same noise) have mean
 *    zero. For every component, |mean(d)| / se(d) <= 5, se(d) = sd(d) /
 *    sqrt(M). With 130-185 components the largest of that many |N(0,1)|
 *    exceeds 5 with probability ~1e-4 (the seeds are fixed, so the outcome
 *    is deterministic; the bound is chosen so that a correct library passes
 *    by a wide margin for any seed). A biased estimator fails once its bias
 *    exceeds 5 standard errors. The standard errors of both means are
 *    reported.
 *  - variance: the total variance (sum over components) of D2SM divided by
 *    that of D2SM-VR. At sigma = 0.01 the target T = (z z^T - I) / sigma^2
 *    of D2SM has variance ~1/sigma^4 = 1e8 relative to the terms that remain
 *    in D2SM-VR (where T multiplies psi_p + psi_m - 2 psi_0 = O(sigma^2) and
 *    the linear parts of psi_p and psi_m cancel), so the ratio grows like
 *    1/sigma^4; we require >= 1e4 at sigma = 0.01 (four orders of magnitude
 *    below the 1/sigma^4 scaling, which leaves room for the model-dependent
 *    constants), and >= 10 at sigma = 0.3 (1/sigma^4 = 123 there).
 * Under valgrind this test is the slowest of the suite (M noise draws x 2
 * objectives x 6 runs of hosm_trainer_gradient). */
#include "../test_util.h"

#define D 3
#define N 4

static const char *const s2_name[] = {"none", "diag", "lowrank", "full"};

/* Noise draws per structure and sigma. */
#define M_DRAWS 8000

static void run(int s2, double sigma, double ratio_bound)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=8 depth=2 act=softplus seed=21 rank=2"));
    MUST(hosm_config_set_double(cfg, HOSM_KEY_SIGMA, sigma));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2, s2));
    hosm_model *m;
    MUST(hosm_model_new(&m, D, cfg));
    hosm_trainer *t[2];
    for (int o = 0; o < 2; o++) {
        MUST(hosm_config_set_int(cfg, HOSM_KEY_S2_OBJECTIVE, o));
        MUST(hosm_trainer_new(&t[o], m, cfg));
    }
    int64_t P;
    MUST(hosm_model_num_params(m, &P));
    /* The s1 network's size: the s2 block follows it (hidden 8, depth 2). */
    const int64_t H = 8, P1 = H * (D + 1) + H * (H + 1) + D * (H + 1), P2 = P - P1;
    float x[N * D], z[N * D];
    trng r = {0xa11ce000u + (uint64_t)s2};
    for (int i = 0; i < N * D; i++)
        x[i] = (float)trng_normal(&r);
    float *g[2] = {xmalloc((size_t)P * sizeof(float)), xmalloc((size_t)P * sizeof(float))};
    /* Running sums in double: mean and M2 (Welford) of g_d2sm, g_vr, d. */
    double *mean = calloc((size_t)(3 * P2), sizeof(double));
    double *m2 = calloc((size_t)(3 * P2), sizeof(double));
    if (!mean || !m2)
        exit(1);
    const int64_t M = M_DRAWS;
    for (int64_t it = 1; it <= M; it++) {
        for (int i = 0; i < N * D; i++)
            z[i] = (float)trng_normal(&r);
        double loss;
        for (int o = 0; o < 2; o++)
            MUST(hosm_trainer_gradient(t[o], x, z, NULL, N, &loss, g[o]));
        for (int64_t k = 0; k < P2; k++) {
            const double v[3] = {g[0][P1 + k], g[1][P1 + k],
                                 (double)g[0][P1 + k] - g[1][P1 + k]};
            for (int s = 0; s < 3; s++) {
                double *mu = &mean[s * P2 + k], delta = v[s] - *mu;
                *mu += delta / (double)it;
                m2[s * P2 + k] += delta * (v[s] - *mu);
            }
        }
    }
    double tv[3] = {0, 0, 0}, worst_z = 0.0, se_max[2] = {0, 0}, mn[2] = {0, 0}, dn = 0.0;
    int64_t worst_k = 0;
    for (int64_t k = 0; k < P2; k++) {
        double var[3];
        for (int s = 0; s < 3; s++) {
            var[s] = m2[s * P2 + k] / (double)(M - 1);
            tv[s] += var[s];
        }
        for (int s = 0; s < 2; s++) {
            se_max[s] = fmax(se_max[s], sqrt(var[s] / (double)M));
            mn[s] += mean[s * P2 + k] * mean[s * P2 + k];
        }
        dn += mean[2 * P2 + k] * mean[2 * P2 + k];
        double zk = fabs(mean[2 * P2 + k]) / sqrt(var[2] / (double)M);
        if (zk > worst_z) {
            worst_z = zk;
            worst_k = k;
        }
    }
    printf("%s, sigma %g, %lld draws, %lld s2 parameters:\n", s2_name[s2], sigma, (long long)M,
           (long long)P2);
    printf("  ||mean g||: d2sm %.4g, d2sm_vr %.4g, ||difference|| / ||mean g_vr|| %.3g\n",
           sqrt(mn[0]), sqrt(mn[1]), sqrt(dn / mn[1]));
    printf("  largest standard error of a mean component: d2sm %.4g, d2sm_vr %.4g\n", se_max[0],
           se_max[1]);
    printf("  worst component %lld: mean d2sm %.5g, mean d2sm_vr %.5g, paired diff %.4g +- %.4g\n",
           (long long)worst_k, mean[worst_k], mean[P2 + worst_k], mean[2 * P2 + worst_k],
           sqrt(m2[2 * P2 + worst_k] / (double)(M - 1) / (double)M));
    printf("  total variance: d2sm %.4g, d2sm_vr %.4g\n", tv[0], tv[1]);
    char what[160];
    snprintf(what, sizeof what, "%s sigma=%g: max_k |mean(g_d2sm - g_vr)| / se", s2_name[s2],
             sigma);
    check_le(what, worst_z, 5.0);
    snprintf(what, sizeof what, "%s sigma=%g: total variance d2sm / d2sm_vr", s2_name[s2], sigma);
    check_ge(what, tv[0] / tv[1], ratio_bound);
    /* The gradient must not be trivially zero (the checks must be able to fail). */
    CHECK(tv[1] > 0.0 && sqrt(mn[1]) > 0.0, "degenerate gradient");
    free(mean);
    free(m2);
    free(g[0]);
    free(g[1]);
    hosm_trainer_free(t[0]);
    hosm_trainer_free(t[1]);
    hosm_model_free(m);
    hosm_config_free(cfg);
}

int main(void)
{
    const double t0 = now_seconds();
    const int structs[3] = {HOSM_S2_DIAG, HOSM_S2_LOWRANK, HOSM_S2_FULL};
    for (int s = 0; s < 3; s++) {
        run(structs[s], 0.01, 1e4);
        run(structs[s], 0.3, 10.0);
    }
    printf("time %.2f s\n", now_seconds() - t0);
    return finish("test_s2_variance");
}
