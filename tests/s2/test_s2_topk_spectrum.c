/* hosm_model_posterior_topk on a low-rank s2 (the Lanczos path) when the
 * covariance has a dense spectrum.
 *
 * The top-k query promises the k leading eigenpairs of the posterior
 * covariance. test_s2_queries checks it on a random low-rank model, whose
 * leading eigenvalues come from U U^T and are well separated. Here the
 * spectrum is made dense and evenly spaced, the hard case for a Krylov
 * method and a realistic one (a low-rank model of data whose per-coordinate
 * posterior variances are similar has a diagonal d with many close values,
 * and every k > r reaches into them):
 *
 *   D = 200, lowrank r = 5, sigma = 0.5; the s2 network's output layer has
 *   zero weights, zero biases for U (so U = 0) and biases -0.5 + 0.001 a for
 *   d_a, so that s2 = diag(d) with d_a = (-0.5 + 0.001 a) / sigma^2 for every
 *   x, and the covariance sigma^4 s2 + sigma^2 I is diagonal with the 200
 *   distinct, evenly spaced eigenvalues 0.125 + 0.00025 a (gaps 2.5e-4, all
 *   above the clamp floor, so clamp = 0 and 1 agree).
 *
 * Expected values: the diagonal of hosm_model_posterior_cov (checked to be
 * diagonal), sorted descending. Checks for k = 1, 5, 20 and both clamps, with
 * the tolerances of test_s2_queries: |lambda_i - mu_i| <= 1e-5 ||C||_F and
 * ||C v_i - lambda_i v_i|| <= 1e-5 ||C||_F (float rounding of C, v and
 * lambda is ~3u ||C||_F = 2e-7 ||C||_F; the eigenvalue gaps are 2.5e-4 =
 * 1.1e-4 ||C||_F, so skipping or mixing an eigenvalue is 10x the bound). */
#include "s2_common.h"

#define D 200
#define R 5
#define HID 6

int main(void)
{
    const double t0 = now_seconds();
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=6 depth=2 act=softplus sigma=0.5 s2=lowrank rank=5"));
    hosm_model *m;
    MUST(hosm_model_new(&m, D, cfg));
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
        for (int64_t h = 0; h < HID; h++)
            p[w_off + j * HID + h] = 0.0f;
        p[b_off + j] = j < (int64_t)D * R ? 0.0f : (float)(-0.5 + 0.001 * (double)(j - D * R));
    }
    MUST(hosm_model_set_params(m, p, P));

    float x[D];
    for (int i = 0; i < D; i++)
        x[i] = (float)trng_normal(&r);
    float *c = xmalloc((size_t)D * D * sizeof *c);
    MUST(hosm_model_posterior_cov(m, 0, x, 1, 0, c));
    double mu[D], fc = 0.0, off = 0.0;
    for (int a = 0; a < D; a++) {
        mu[a] = c[a * D + a];
        for (int b = 0; b < D; b++) {
            fc += (double)c[a * D + b] * c[a * D + b];
            if (a != b)
                off = fmax(off, fabs(c[a * D + b]));
        }
    }
    fc = sqrt(fc);
    CHECK(off == 0.0, "the covariance should be diagonal (largest off-diagonal %g)", off);
    /* Sort descending. */
    for (int i = 1; i < D; i++) {
        double t = mu[i];
        int j = i;
        while (j > 0 && mu[j - 1] < t) {
            mu[j] = mu[j - 1];
            j--;
        }
        mu[j] = t;
    }
    printf("eigenvalues %.6g .. %.6g, gap %.3g (%.3g ||C||_F)\n", mu[0], mu[D - 1], mu[0] - mu[1],
           (mu[0] - mu[1]) / fc);

    const int64_t ks[3] = {1, 5, 20};
    for (int clamp = 0; clamp <= 1; clamp++)
        for (int j = 0; j < 3; j++) {
            const int64_t k = ks[j];
            float *vals = xmalloc((size_t)k * sizeof *vals);
            float *vecs = xmalloc((size_t)(k * D) * sizeof *vecs);
            MUST(hosm_model_posterior_topk(m, 0, x, 1, k, clamp, vals, vecs));
            double wval = 0.0, wres = 0.0;
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
            }
            char what[160];
            snprintf(what, sizeof what,
                     "k=%2lld clamp=%d: max |lambda_i - mu_i| / ||C||_F (worst i=%lld: %.6g vs %.6g)",
                     (long long)k, clamp, (long long)at, vals[at], mu[at]);
            check_le(what, wval, 1e-5);
            snprintf(what, sizeof what, "k=%2lld clamp=%d: max ||C v - lambda v|| / ||C||_F",
                     (long long)k, clamp);
            check_le(what, wres, 1e-5);
            free(vals);
            free(vecs);
        }
    free(p);
    free(c);
    hosm_model_free(m);
    hosm_config_free(cfg);
    printf("time %.2f s\n", now_seconds() - t0);
    return finish("test_s2_topk_spectrum");
}
