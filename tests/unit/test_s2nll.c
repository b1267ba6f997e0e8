/* White-box tests of hosmi_s2_nll_term (lib/model/s2layout.c), the Gaussian
 * negative log-likelihood under A = I + sigma^2 s2 that d2sm_res_nll trains,
 * where the gradient checks of tests/train do not reach:
 *  - below the clamp (u = 1 + sigma^2 d < 1e-6, even negative) the loss is
 *    the linear continuation from the clamp, finite, with the clamp's slope,
 *    and just above it the plain formula;
 *  - a low-rank s2 with U = 0 gives the diagonal's loss and gradient
 *    (Woodbury with V = 0), and its U gradient is exactly 0 (U = 0 is a
 *    stationary point);
 *  - a low-rank case against the dense formula, with a rank above 1 and a
 *    diagonal ratio of 1e-4, and its gradient against central differences,
 *    without and with the coordinates' own likelihoods (nll_marginal);
 *  - for a diagonal s2 those are the whole vector's: a weight w multiplies
 *    the loss and its gradient by 1 + w, below the clamp too.
 * Tolerances: the loss is summed in double over float inputs, so it agrees
 * with the double formulas to ~1e-12 relative (bound 1e-9); gradients are
 * returned in float (bound 1e-6 relative); central differences of relative
 * step 1e-4 have a truncation error of ~1e-8 here (bound 1e-3). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../test_util.h"
#include "model/s2layout.h"

#define D 4
#define R 2

static const double sigma = 0.5;

/* The diagonal formula in double: (sum log u + rho^2 / u) / sigma^4 and its
 * d-gradient, with u clamped and continued as documented. */
static double diag_ref(const float *d, const float *rho, double *g)
{
    const double s2 = sigma * sigma, is4 = 1.0 / (s2 * s2);
    double val = 0.0;
    for (int a = 0; a < D; a++) {
        const double u = 1.0 + s2 * d[a], uc = fmax(u, HOSMI_NLL_U_MIN);
        const double t = (double)rho[a] * rho[a], slope = 1.0 / uc - t / (uc * uc);
        val += (log(uc) + t / uc + slope * (u - uc)) * is4;
        g[a] = slope * s2 * is4;
    }
    return val;
}

static double rel(double a, double b)
{
    return fabs(a - b) / fmax(fabs(b), 1e-300);
}

static void clamp_continuation(void)
{
    const float rho[D] = {0.3f, -1.2f, 1e-4f, 0.7f};
    /* u = 1.5, below the clamp at -0.5 and at 5e-7, and just above it */
    const float d[D] = {2.0f, -6.0f, (float)((5e-7 - 1.0) / 0.25), (float)((2e-6 - 1.0) / 0.25)};
    float o[D], grad[D] = {0};
    memcpy(o, d, sizeof o);
    double g[D], worst = 0.0;
    const hosmi_s2_point v = {HOSM_S2_DIAG, D, 0, o};
    const double val = hosmi_s2_nll_term(&v, sigma, rho, 0.0, 1.0, grad, NULL);
    const double ref = diag_ref(d, rho, g);
    CHECK(isfinite(val), "a negative variance ratio gives a finite loss (%g)", val);
    worst = rel(val, ref);
    for (int a = 0; a < D; a++)
        worst = fmax(worst, rel(grad[a], g[a]) * (fabs(g[a]) > 0));
    check_le("diag below the clamp: loss and gradient against the continuation", worst, 1e-6);
    /* the marginal terms of a diagonal s2 repeat the whole vector's */
    float gw[D] = {0};
    const double w = 0.75, vw = hosmi_s2_nll_term(&v, sigma, rho, w, 1.0, gw, NULL);
    worst = rel(vw, (1.0 + w) * ref);
    for (int a = 0; a < D; a++)
        worst = fmax(worst, rel(gw[a], (1.0 + w) * g[a]) * (fabs(g[a]) > 0));
    check_le("diag with nll_marginal = 0.75: 1.75 times the loss and gradient", worst, 1e-6);
}

static void lowrank_with_zero_u(void)
{
    const float rho[D] = {0.3f, -1.2f, 0.05f, 0.7f};
    float o[D * R + D] = {0}, grad[D * R + D] = {0}, gd[D] = {0};
    const float d[D] = {2.0f, -1.0f, 0.5f, -3.5f};
    memcpy(o + D * R, d, sizeof d);
    double dwork[3 * R * R + 3 * R];
    const hosmi_s2_point lr = {HOSM_S2_LOWRANK, D, R, o};
    const hosmi_s2_point dg = {HOSM_S2_DIAG, D, 0, d};
    const double vl = hosmi_s2_nll_term(&lr, sigma, rho, 0.0, 1.0, grad, dwork);
    const double vd = hosmi_s2_nll_term(&dg, sigma, rho, 0.0, 1.0, gd, NULL);
    double worst = rel(vl, vd), gu = 0.0;
    for (int a = 0; a < D; a++)
        worst = fmax(worst, rel(grad[D * R + a], gd[a]));
    for (int k = 0; k < D * R; k++)
        gu = fmax(gu, fabs(grad[k]));
    check_le("lowrank with U = 0 against diag: loss and d-gradient", worst, 1e-9);
    check_le("lowrank with U = 0: |dL/dU| (a stationary point)", gu, 0.0);
}

/* (log det A + rho^T A^-1 rho + w sum_a (log A_aa + rho_a^2 / A_aa)) / sigma^4
 * for A = diag(u) + sigma^2 U U^T, by Gaussian elimination in double. */
static double dense_ref(const float *o, const float *rho, double w)
{
    const double s2 = sigma * sigma;
    double A[D][D + 1];
    for (int a = 0; a < D; a++) {
        for (int b = 0; b < D; b++) {
            double s = a == b ? 1.0 + s2 * o[D * R + a] : 0.0;
            for (int j = 0; j < R; j++)
                s += s2 * (double)o[a * R + j] * o[b * R + j];
            A[a][b] = s;
        }
        A[a][D] = rho[a];
    }
    double marg = 0.0;
    for (int a = 0; a < D; a++)
        marg += log(A[a][a]) + (double)rho[a] * rho[a] / A[a][a];
    double logdet = 0.0;
    for (int c = 0; c < D; c++) { /* A is positive definite: no pivoting */
        logdet += log(A[c][c]);
        for (int a = c + 1; a < D; a++) {
            const double f = A[a][c] / A[c][c];
            for (int b = c; b <= D; b++)
                A[a][b] -= f * A[c][b];
        }
    }
    double x[D], quad = 0.0;
    for (int a = D - 1; a >= 0; a--) {
        double s = A[a][D];
        for (int b = a + 1; b < D; b++)
            s -= A[a][b] * x[b];
        x[a] = s / A[a][a];
    }
    for (int a = 0; a < D; a++)
        quad += rho[a] * x[a];
    return (logdet + quad + w * marg) / (s2 * s2);
}

/* A low-rank s2 whose third diagonal ratio is u3, with the coordinates'
 * likelihoods weighted by w; with its gradient when u3 is far enough from
 * 0 for central differences of step 1e-4. */
static void lowrank_dense(double u3, double w, int gradient)
{
    const float rho[D] = {0.3f, -1.2f, 0.05f, 0.7f};
    float o[D * R + D] = {0.4f, -1.1f, 0.9f, 0.2f, -0.3f, 0.8f, 1.5f, -0.6f, /* U */
                          2.0f, -1.0f, (float)((u3 - 1.0) / 0.25), -3.5f};
    float grad[D * R + D] = {0};
    double dwork[3 * R * R + 3 * R];
    const hosmi_s2_point lr = {HOSM_S2_LOWRANK, D, R, o};
    const double val = hosmi_s2_nll_term(&lr, sigma, rho, w, 1.0, grad, dwork);
    char what[128];
    snprintf(what, sizeof what,
             "lowrank (r = 2, a ratio of %g, nll_marginal = %g) against the dense formula", u3, w);
    check_le(what, rel(val, dense_ref(o, rho, w)), 1e-9);
    if (!gradient)
        return;
    /* its gradient against central differences of the dense formula */
    double worst = 0.0;
    for (int k = 0; k < D * R + D; k++) {
        const float keep = o[k];
        const double h = 1e-4 * fmax(1.0, fabs(keep));
        o[k] = (float)(keep + h);
        const double hp = (double)o[k] - keep, lp = dense_ref(o, rho, w);
        o[k] = (float)(keep - h);
        const double hm = keep - (double)o[k], lm = dense_ref(o, rho, w);
        o[k] = keep;
        const double fd = (lp - lm) / (hp + hm);
        worst = fmax(worst, fabs(grad[k] - fd) / (fabs(fd) + 1.0));
    }
    snprintf(what, sizeof what,
             "lowrank gradient (nll_marginal = %g) against central differences (relative, |fd| + 1)",
             w);
    check_le(what, worst, 1e-3);
}

int main(void)
{
    clamp_continuation();
    lowrank_with_zero_u();
    lowrank_dense(1e-4, 0.0, 0);
    lowrank_dense(1e-4, 2.0, 0);
    lowrank_dense(0.05, 0.0, 1);
    lowrank_dense(0.05, 0.6, 1);
    return finish("test_s2nll");
}
