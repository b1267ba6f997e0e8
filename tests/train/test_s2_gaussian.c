/* Convergence of the learned s2 on a single anisotropic Gaussian.
 *
 * Data: N(mu, Sigma) in D = 3 with eigenvalues 1, 0.4, 0.15; for "full" and
 * "lowrank" Sigma is rotated (all off-diagonal entries non-zero), for "diag"
 * it is diagonal (so that the exact s2 is diagonal too). At noise level
 * sigma = 0.5 the perturbed density is N(mu, Sigma + sigma^2 I) and its exact
 * s2 is the constant -(Sigma + sigma^2 I)^-1 (docs/math.md 9), eigenvalues -0.8,
 * -1.54, -2.5.
 *
 * s1 and s2 train jointly (freeze_s1 = 0; w1 = 10, the paper's weight, since
 * the learned s2 inherits the error of s1 through psi = s2 + s1 s1^T; DSM-VR
 * for s1 and D2SM for s2, the plain objective; test_s2_mixture trains with
 * D2SM-VR) for 3000 Adam steps of 256 points drawn from 4096 samples (s1 and
 * s2: hidden 16, depth 2, softplus); the EMA weights are evaluated with
 * hosm_model_hessian at 512 held-out noisy points x + sigma z, x ~ N(mu, Sigma):
 *   relative Frobenius error sqrt(sum_i ||H_i - H*||_F^2 / sum_i ||H*||_F^2)
 * ("diag": the dense hessian of a diagonal s2 is its diagonal, compared with
 * the diagonal truth; the off-diagonal entries are checked to be exactly 0).
 *
 * Bound: 0.12. The learned s2 is a network fit to a noisy regression target
 * (psi = E[T | x] with Var T ~ 1/sigma^4 = 16) through an imperfect s1, so
 * its error after a few thousand steps is a few percent: 0.035 to 0.08 over
 * structures and seeds (the measured values are printed); the bound leaves
 * 1.5x for trajectories that differ in float rounding on other BLIS kernels.
 * A model that does not learn s2 (the initial weights, checked first: error
 * >= 0.5), a frozen random s1 (error ~3), a wrong output scaling (a factor
 * sigma^2 = 0.25), a wrong sign, or the wrong target (psi instead of s2, an
 * extra s1 s1^T of relative size ~0.5 here) are far above it. */
#include "../test_util.h"

#define D 3
#define NTRAIN 4096
#define NTEST 512
#define SIGMA 0.5

static const char *const s2_name[] = {"none", "diag", "lowrank", "full"};

/* Exact s2 (constant) into h, and the Cholesky factor of Sigma into chol. */
static void truth(const double *cov, double *h)
{
    double c[D * D], inv[D * D];
    for (int i = 0; i < D * D; i++)
        c[i] = cov[i];
    for (int i = 0; i < D; i++)
        c[i * D + i] += SIGMA * SIGMA;
    /* Inverse through the eigendecomposition. */
    double w[D], v[D * D];
    jacobi_eig(D, c, w, v);
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double s = 0.0;
            for (int k = 0; k < D; k++)
                s += v[a * D + k] * v[b * D + k] / w[k];
            inv[a * D + b] = s;
        }
    for (int i = 0; i < D * D; i++)
        h[i] = -inv[i];
}

static double hessian_error(const hosm_model *m, const float *pts, const double *h, double *offdiag)
{
    float *out = xmalloc((size_t)NTEST * D * D * sizeof *out);
    MUST(hosm_model_hessian(m, 0, pts, NTEST, out));
    double num = 0.0, den = 0.0, off = 0.0;
    for (int i = 0; i < NTEST; i++)
        for (int k = 0; k < D * D; k++) {
            double e = out[i * D * D + k] - h[k];
            num += e * e;
            den += h[k] * h[k];
            if (k / D != k % D)
                off = fmax(off, fabs(out[i * D * D + k]));
        }
    free(out);
    if (offdiag)
        *offdiag = off;
    return sqrt(num / den);
}

static void run(int s2)
{
    const double t0 = now_seconds();
    /* Sigma = R diag(1, 0.4, 0.15) R^T, R a fixed rotation (identity for diag). */
    const double ev[D] = {1.0, 0.4, 0.15}, mu[D] = {0.5, -0.3, 0.2};
    double rot[D * D] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    if (s2 != HOSM_S2_DIAG) {
        /* Rotation by 0.6 rad about z, then by 0.5 rad about x. */
        const double a = 0.6, b = 0.5;
        const double rz[D * D] = {cos(a), -sin(a), 0, sin(a), cos(a), 0, 0, 0, 1};
        const double rx[D * D] = {1, 0, 0, 0, cos(b), -sin(b), 0, sin(b), cos(b)};
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++) {
                double s = 0.0;
                for (int k = 0; k < D; k++)
                    s += rx[i * D + k] * rz[k * D + j];
                rot[i * D + j] = s;
            }
    }
    double cov[D * D];
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double s = 0.0;
            for (int k = 0; k < D; k++)
                s += rot[i * D + k] * ev[k] * rot[j * D + k];
            cov[i * D + j] = s;
        }
    double h[D * D];
    truth(cov, h);
    const double w1 = 1.0;
    hosm_mixture *g;
    MUST(hosm_mixture_new(&g, 1, D, &w1, mu, cov));
    float *data = xmalloc((size_t)NTRAIN * D * sizeof *data);
    float *test = xmalloc((size_t)NTEST * D * sizeof *test);
    MUST(hosm_mixture_sample(g, 101, NTRAIN, data));
    MUST(hosm_mixture_sample(g, 202, NTEST, test));
    trng r = {77};
    for (int i = 0; i < NTEST * D; i++)
        test[i] = (float)(test[i] + SIGMA * trng_normal(&r));
    /* The oracle agrees with the closed form (a check of the test itself). */
    {
        float ho[D * D];
        MUST(hosm_mixture_hessian(g, SIGMA, test, 1, ho));
        double e = 0.0;
        for (int k = 0; k < D * D; k++)
            e = fmax(e, fabs(ho[k] - h[k]));
        CHECK(e < 1e-5, "%s: oracle hessian differs from -(Sigma + sigma^2 I)^-1 by %g",
              s2_name[s2], e);
    }

    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=16 depth=2 act=softplus sigma=0.5 seed=9 rank=2 "
                                "objective=dsm_vr s2_objective=d2sm w1=10 freeze_s1=0 "
                                "lr=2e-3 batch=256 steps=3000 ema=0.998"));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2, s2));
    hosm_model *m;
    hosm_trainer *t;
    MUST(hosm_model_new(&m, D, cfg));
    MUST(hosm_trainer_new(&t, m, cfg));
    char what[160];
    const double e0 = hessian_error(m, test, h, NULL);
    snprintf(what, sizeof what, "%s: initial relative Frobenius error (must be large)",
             s2_name[s2]);
    check_ge(what, e0, 0.5);
    MUST(hosm_trainer_fit(t, data, NTRAIN, NULL, NULL));
    MUST(hosm_trainer_copy_ema(t, m));
    double off;
    const double e = hessian_error(m, test, h, &off);
    snprintf(what, sizeof what, "%s: relative Frobenius error of s2 vs -(Sigma+sigma^2 I)^-1",
             s2_name[s2]);
    check_le(what, e, 0.12);
    if (s2 == HOSM_S2_DIAG)
        CHECK(off == 0.0, "diag: an off-diagonal entry of the dense hessian is %g", off);
    printf("     (%s: %.2f s)\n", s2_name[s2], now_seconds() - t0);
    hosm_trainer_free(t);
    hosm_model_free(m);
    hosm_config_free(cfg);
    hosm_mixture_free(g);
    free(data);
    free(test);
}

int main(void)
{
    const double t0 = now_seconds();
    run(HOSM_S2_FULL);
    run(HOSM_S2_DIAG);
    run(HOSM_S2_LOWRANK);
    printf("time %.2f s\n", now_seconds() - t0);
    return finish("test_s2_gaussian");
}
