/* hosm_model_posterior_topk on the Lanczos paths (s2 = lowrank and full)
 * when the covariance has a hard spectrum.
 *
 * The top-k query promises the k leading eigenpairs of the posterior
 * covariance. test_s2_queries checks it on random models, whose leading
 * eigenvalues are well separated. Here the spectra are the hard cases for a
 * Krylov method, and realistic ones (a model of data whose per-coordinate
 * posterior variances are similar has many close or equal variances, and
 * every k beyond the dominant directions reaches into them). D = 200,
 * sigma = 0.5, hidden 6; the s2 network's output layer is set so that s2
 * is known:
 *
 *   A "even":     s2 diagonal with d_a = (-0.5 + 0.001 a) / sigma^2: the
 *                 covariance sigma^4 s2 + sigma^2 I is diagonal with 200
 *                 distinct, evenly spaced eigenvalues 0.125 + 0.00025 a
 *                 (k = 1, 5, 20);
 *   B "repeated": diagonal, the three largest variances equal (0.175) above
 *                 an evenly spaced bulk whose top is 0.174: a repeated
 *                 leading eigenvalue, which one Krylov sequence sees only
 *                 once (k = 3, 4);
 *   C "dominant + bulk": the bulk of A plus a part that depends on x: for
 *                 lowrank (r = 5) U from random output weights, a rank-5
 *                 part far above the bulk; for full, random output weights
 *                 on every entry scaled by 0.05 (k = 5, 12);
 *   D "two values": diagonal with the variances 0.175 and 0.1 on 100
 *                 coordinates each: two eigenvalues of multiplicity 100
 *                 (k = 1, 3, 50, 120).
 * For lowrank a diagonal s2 means U = 0 (zero output weights and biases);
 * for full, zero weights and off-diagonal biases. The variances of A, B and D
 * lie above the clamp floor.
 *
 * Expected eigenvalues mu: the test's Jacobi solver on the dense covariance
 * of hosm_model_posterior_cov with the same clamp (for the diagonal spectra
 * the diagonal sorted, after checking that the covariance is diagonal).
 * Checks for every k and both clamps, with the tolerances of
 * test_s2_queries: |lambda_i - mu_i| <= 1e-5 ||C||_F, ||C v_i - lambda_i
 * v_i|| <= 1e-5 ||C||_F and |v_i . v_j - [i = j]| <= 1e-6 (float rounding of
 * C, v and lambda is ~3u ||C||_F = 2e-7 ||C||_F; a skipped or mixed
 * eigenvalue is an error of at least the gap to the next one: 2.5e-4 =
 * 1.1e-4 ||C||_F in A, 1e-3 = 4.7e-4 ||C||_F in B, 0.075 = 0.037 ||C||_F in
 * D, 10x to 3700x the bound). */
#include "../test_util.h"

#define D 200
#define R 5
#define HID 6

typedef enum { EVEN, REPEATED, DOMINANT_BULK, TWO_VALUES } spectrum;
static const char *const spectrum_name[] = {"A even", "B repeated", "C dominant+bulk",
                                            "D two values"};

/* The raw output (before / sigma^2) of diagonal entry a. */
static float diag_bias(spectrum sp, int64_t a)
{
    switch (sp) {
    case REPEATED: return a < 3 ? -0.3f : (float)(-0.5 + 0.001 * (double)(a - 3));
    case TWO_VALUES: return a % 2 ? -0.3f : -0.6f;
    default: return (float)(-0.5 + 0.001 * (double)a);
    }
}

static hosm_model *make(int s2, spectrum sp)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=6 depth=2 act=softplus sigma=0.5 rank=5"));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2, s2));
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
    const int64_t out = s2 == HOSM_S2_LOWRANK ? (int64_t)D * (R + 1) : (int64_t)D * (D + 1) / 2;
    const int64_t P1 = HID * (D + 1) + HID * (HID + 1) + D * (HID + 1);
    const int64_t w_off = P1 + HID * (D + 1) + HID * (HID + 1), b_off = w_off + out * HID;
    CHECK(b_off + out == P, "layout: the s2 output bias ends at %lld, P = %lld",
          (long long)(b_off + out), (long long)P);
    for (int64_t j = 0; j < out; j++)
        for (int64_t h = 0; h < HID; h++) {
            float *w = &p[w_off + j * HID + h];
            if (sp != DOMINANT_BULK)
                *w = 0.0f;
            else if (s2 == HOSM_S2_LOWRANK)
                *w = j < (int64_t)D * R ? *w : 0.0f; /* U varies, d does not */
            else
                *w *= 0.05f;
        }
    if (s2 == HOSM_S2_LOWRANK) {
        for (int64_t j = 0; j < out; j++)
            p[b_off + j] = j < (int64_t)D * R ? 0.0f : diag_bias(sp, j - (int64_t)D * R);
    } else {
        for (int64_t a = 0, k = 0; a < D; a++)
            for (int64_t b = a; b < D; b++, k++)
                p[b_off + k] = a == b ? diag_bias(sp, a) : 0.0f;
    }
    MUST(hosm_model_set_params(m, p, P));
    free(p);
    return m;
}

static void run(int s2, spectrum sp, const int64_t *ks, int nk)
{
    hosm_model *m = make(s2, sp);
    const char *sname = s2 == HOSM_S2_LOWRANK ? "lowrank" : "full";
    trng r = {77};
    float x[D];
    for (int i = 0; i < D; i++)
        x[i] = (float)trng_normal(&r);
    float *c = xmalloc((size_t)D * D * sizeof *c);
    double *mu = xmalloc((size_t)D * sizeof *mu), *a = xmalloc((size_t)D * D * sizeof *a);
    for (int clamp = 0; clamp <= 1; clamp++) {
        MUST(hosm_model_posterior_cov(m, 0, x, 1, clamp, c));
        double fc = 0.0, off = 0.0;
        for (int p = 0; p < D; p++)
            for (int q = 0; q < D; q++) {
                fc += (double)c[p * D + q] * c[p * D + q];
                if (p != q)
                    off = fmax(off, fabs(c[p * D + q]));
                a[p * D + q] = c[p * D + q];
            }
        fc = sqrt(fc);
        if (sp == DOMINANT_BULK) {
            jacobi_eig(D, a, mu, NULL);
        } else {
            CHECK(off == 0.0, "%s %s: the covariance should be diagonal (off-diagonal %g)", sname,
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
        if (clamp == 0)
            printf("%s %s: eigenvalues %.6g, %.6g, %.6g, ... %.6g; ||C||_F %.4g\n", sname,
                   spectrum_name[sp], mu[0], mu[1], mu[2], mu[D - 1], fc);
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
            snprintf(what, sizeof what, "%s %s k=%lld clamp=%d: |l-mu|/||C|| (i=%lld: %.6g vs %.6g)",
                     sname, spectrum_name[sp], (long long)k, clamp, (long long)at, vals[at],
                     mu[at]);
            check_le(what, wval, 1e-5);
            snprintf(what, sizeof what, "%s %s k=%lld clamp=%d: ||C v - l v|| / ||C||_F", sname,
                     spectrum_name[sp], (long long)k, clamp);
            check_le(what, wres, 1e-5);
            snprintf(what, sizeof what, "%s %s k=%lld clamp=%d: |v_i . v_j - delta_ij|", sname,
                     spectrum_name[sp], (long long)k, clamp);
            check_le(what, worth, 1e-6);
            free(vals);
            free(vecs);
        }
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
    const int structs[2] = {HOSM_S2_LOWRANK, HOSM_S2_FULL};
    for (int s = 0; s < 2; s++) {
        run(structs[s], EVEN, ka, 3);
        run(structs[s], REPEATED, kb, 2);
        run(structs[s], DOMINANT_BULK, kc, 2);
        run(structs[s], TWO_VALUES, kd, 4);
    }
    printf("time %.2f s\n", now_seconds() - t0);
    return finish("test_s2_topk_spectrum");
}
