/* hosm_model_posterior_topk on a low-rank s2 (the Lanczos path) when the
 * covariance has a hard spectrum.
 *
 * The top-k query promises the k leading eigenpairs of the posterior
 * covariance. test_s2_queries checks it on a random low-rank model, whose
 * leading eigenvalues come from U U^T and are well separated. Here the
 * spectra are the hard cases for a Krylov method, and realistic ones (a
 * low-rank model of data whose per-coordinate posterior variances are
 * similar has a diagonal d with many close values, and every k > r reaches
 * into them). D = 200, lowrank r = 5, sigma = 0.5; the s2 network's output
 * layer is set so that s2 does not depend on x:
 *
 *   A "even":     U = 0, d_a = (-0.5 + 0.001 a) / sigma^2: the covariance
 *                 sigma^4 s2 + sigma^2 I is diagonal with 200 distinct,
 *                 evenly spaced eigenvalues 0.125 + 0.00025 a (k = 1, 5, 20);
 *   B "repeated": U = 0, the three largest variances equal (0.175) above an
 *                 evenly spaced bulk: a repeated leading eigenvalue, which a
 *                 single Krylov sequence sees only once (k = 3, 4);
 *   C "low rank + bulk": U from random output weights (a rank-5 part with
 *                 eigenvalues far above the rest) plus the bulk of A
 *                 (k = 5, 12: the last 7 of 12 lie in the bulk);
 *   D "two values": U = 0, d takes two values, each on 100 coordinates: the
 *                 covariance has the eigenvalues 0.175 and 0.1 with
 *                 multiplicity 100 each (k = 1, 3, 50, 120).
 * All variances lie above the clamp floor, so clamp = 0 and 1 must agree.
 *
 * Expected eigenvalues mu: the diagonal of hosm_model_posterior_cov (checked
 * diagonal) sorted descending for A, B and D; the test's Jacobi solver on the
 * dense covariance for C. Checks for every k and both clamps, with the
 * tolerances of test_s2_queries: |lambda_i - mu_i| <= 1e-5 ||C||_F,
 * ||C v_i - lambda_i v_i|| <= 1e-5 ||C||_F and |v_i . v_j - [i = j]| <= 1e-6
 * (float rounding of C, v and lambda is ~3u ||C||_F = 2e-7 ||C||_F; a
 * skipped or mixed eigenvalue is an error of at least the gap to the next
 * one: 2.5e-4 = 1.1e-4 ||C||_F in A, 1e-3 = 4.7e-4 ||C||_F in B, 0.075 =
 * 0.037 ||C||_F in D, 10x to 3700x the bound). */
#include "s2_common.h"

#define D 200
#define R 5
#define HID 6

typedef enum { EVEN, REPEATED, LOWRANK_BULK, TWO_VALUES } spectrum;
static const char *const spectrum_name[] = {"A even", "B repeated", "C low rank + bulk",
                                            "D two values"};

static hosm_model *make(spectrum sp)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=6 depth=2 act=softplus sigma=0.5 s2=lowrank rank=5"));
    hosm_model *m;
    MUST(hosm_model_new(&m, D, cfg));
    hosm_config_free(cfg);
    int64_t P;
    MUST(hosm_model_num_params(m, &P));
    float *p = xmalloc((size_t)P * sizeof *p);
    trng r = {31};
    for (int64_t i = 0; i < P; i++)
        p[i] = (float)trng_sym(&r, 0.8);
    /* The s2 network follows s1; its output layer W (out x HID), then b (out). */
    const int64_t P1 = HID * (D + 1) + HID * (HID + 1) + D * (HID + 1);
    const int64_t out = (int64_t)D * (R + 1), w_off = P1 + HID * (D + 1) + HID * (HID + 1);
    const int64_t b_off = w_off + out * HID;
    CHECK(b_off + out == P, "layout: the s2 output bias ends at %lld, P = %lld",
          (long long)(b_off + out), (long long)P);
    for (int64_t j = 0; j < out; j++) {
        const int is_u = j < (int64_t)D * R;
        const int64_t a = j - (int64_t)D * R;
        /* U rows keep their random weights only for C (then U does depend on x). */
        if (!(is_u && sp == LOWRANK_BULK))
            for (int64_t h = 0; h < HID; h++)
                p[w_off + j * HID + h] = 0.0f;
        if (is_u)
            p[b_off + j] = 0.0f;
        else if (sp == REPEATED)
            p[b_off + j] = a < 3 ? -0.3f : (float)(-0.5 + 0.001 * (double)(a - 3));
        else if (sp == TWO_VALUES)
            p[b_off + j] = a % 2 ? -0.3f : -0.6f;
        else
            p[b_off + j] = (float)(-0.5 + 0.001 * (double)a);
    }
    MUST(hosm_model_set_params(m, p, P));
    free(p);
    return m;
}

static void run(spectrum sp, const int64_t *ks, int nk)
{
    hosm_model *m = make(sp);
    trng r = {77};
    float x[D];
    for (int i = 0; i < D; i++)
        x[i] = (float)trng_normal(&r);
    float *c = xmalloc((size_t)D * D * sizeof *c);
    double *mu = xmalloc((size_t)D * sizeof *mu), *a = xmalloc((size_t)D * D * sizeof *a);
    MUST(hosm_model_posterior_cov(m, 0, x, 1, 0, c));
    double fc = 0.0, off = 0.0;
    for (int p = 0; p < D; p++)
        for (int q = 0; q < D; q++) {
            fc += (double)c[p * D + q] * c[p * D + q];
            if (p != q)
                off = fmax(off, fabs(c[p * D + q]));
            a[p * D + q] = c[p * D + q];
        }
    fc = sqrt(fc);
    if (sp == LOWRANK_BULK) {
        jacobi_eig(D, a, mu, NULL);
    } else {
        CHECK(off == 0.0, "%s: the covariance should be diagonal (off-diagonal %g)",
              spectrum_name[sp], off);
        for (int p = 0; p < D; p++)
            mu[p] = c[p * D + p];
        for (int i = 1; i < D; i++) {
            double t = mu[i];
            int j = i;
            while (j > 0 && mu[j - 1] < t) {
                mu[j] = mu[j - 1];
                j--;
            }
            mu[j] = t;
        }
    }
    printf("%s: eigenvalues %.6g, %.6g, %.6g, ... %.6g; ||C||_F %.4g\n", spectrum_name[sp], mu[0],
           mu[1], mu[2], mu[D - 1], fc);
    for (int clamp = 0; clamp <= 1; clamp++)
        for (int j = 0; j < nk; j++) {
            const int64_t k = ks[j];
            float *vals = xmalloc((size_t)k * sizeof *vals);
            float *vecs = xmalloc((size_t)(k * D) * sizeof *vecs);
            MUST(hosm_model_posterior_topk(m, 0, x, 1, k, clamp, vals, vecs));
            double wval = 0.0, wres = 0.0, worth = 0.0;
            int64_t at = 0;
            for (int64_t i = 0; i < k; i++) {
                double e = fabs(vals[i] - mu[i]) / fc;
                if (e > wval) {
                    wval = e;
                    at = i;
                }
                double res = 0.0;
                for (int s = 0; s < D; s++) {
                    double y = -(double)vals[i] * vecs[i * D + s];
                    for (int t = 0; t < D; t++)
                        y += (double)c[s * D + t] * vecs[i * D + t];
                    res += y * y;
                }
                wres = fmax(wres, sqrt(res) / fc);
                for (int64_t q = 0; q < k; q++) {
                    double d = 0.0;
                    for (int s = 0; s < D; s++)
                        d += (double)vecs[i * D + s] * vecs[q * D + s];
                    worth = fmax(worth, fabs(d - (i == q ? 1.0 : 0.0)));
                }
            }
            char what[200];
            snprintf(what, sizeof what, "%s k=%2lld clamp=%d: max |l_i - mu_i|/||C|| (i=%lld: %.6g vs %.6g)",
                     spectrum_name[sp], (long long)k, clamp, (long long)at, vals[at], mu[at]);
            check_le(what, wval, 1e-5);
            snprintf(what, sizeof what, "%s k=%2lld clamp=%d: max ||C v - l v|| / ||C||_F",
                     spectrum_name[sp], (long long)k, clamp);
            check_le(what, wres, 1e-5);
            snprintf(what, sizeof what, "%s k=%2lld clamp=%d: max |v_i . v_j - delta_ij|",
                     spectrum_name[sp], (long long)k, clamp);
            check_le(what, worth, 1e-6);
            free(vals);
            free(vecs);
        }
    free(c);
    free(mu);
    free(a);
    hosm_model_free(m);
}

int main(void)
{
    const double t0 = now_seconds();
    const int64_t ka[3] = {1, 5, 20}, kb[2] = {3, 4}, kc[2] = {5, 12}, kd[4] = {1, 3, 50, 120};
    run(EVEN, ka, 3);
    run(REPEATED, kb, 2);
    run(LOWRANK_BULK, kc, 2);
    run(TWO_VALUES, kd, 4);
    printf("time %.2f s\n", now_seconds() - t0);
    return finish("test_s2_topk_spectrum");
}
