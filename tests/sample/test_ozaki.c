/* Ozaki, MALA and MH-Ozaki against exact targets (docs/math.md#8-samplers),
 * driven by the Gaussian-mixture oracle's exact scores, Hessians and log
 * densities; the Lanczos path against the eigensolver; callback sources,
 * divergence counting and traces.
 *
 * Gaussian target N(0, Sigma), Sigma = R diag(1, 1e-3) R^T (condition number
 * 1000). Ozaki is exact for it at every step size: chains started from exact
 * draws keep the covariance Sigma. Unadjusted Langevin has the stationary
 * variance eps / (1 - (1 - eps l / 2)^2) along a direction of precision l
 * and diverges for eps > 4 / l_max. Every Monte-Carlo bound below is 5
 * standard errors of the estimate (a false alarm about once in 10^6). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hosm.h"
#include "../test_util.h"

#define N 2000

static int all_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

static hosm_mixture *gaussian(double theta)
{
    const double c = cos(theta), s = sin(theta), l1 = 1.0, l2 = 1e-3;
    double w[1] = {1}, mu[2] = {0, 0};
    double cov[4] = {c * c * l1 + s * s * l2, c * s * (l1 - l2), c * s * (l1 - l2),
                     s * s * l1 + c * c * l2};
    hosm_mixture *m;
    MUST(hosm_mixture_new(&m, 1, 2, w, mu, cov));
    return m;
}

/* Sample covariance (2 x 2) of n points. */
static void cov2(const float *x, int64_t n, double *out)
{
    double m0 = 0, m1 = 0;
    for (int64_t i = 0; i < n; i++) {
        m0 += x[2 * i];
        m1 += x[2 * i + 1];
    }
    m0 /= n;
    m1 /= n;
    out[0] = out[1] = out[3] = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = x[2 * i] - m0, b = x[2 * i + 1] - m1;
        out[0] += a * a;
        out[1] += a * b;
        out[3] += b * b;
    }
    out[0] /= n - 1;
    out[1] /= n - 1;
    out[3] /= n - 1;
    out[2] = out[1];
}

static hosm_sampler *sampler_on(const hosm_mixture *mix, const char *text)
{
    hosm_config *cfg;
    hosm_sampler *s;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, text));
    MUST(hosm_sampler_new_mixture(&s, mix, 0.0, cfg));
    hosm_config_free(cfg);
    return s;
}

static void ozaki_exact_on_gaussian(void)
{
    const double theta = 0.6, c = cos(theta), s_ = sin(theta);
    hosm_mixture *mix = gaussian(theta);
    const double sig[4] = {c * c + s_ * s_ * 1e-3, c * s_ * (1 - 1e-3), c * s_ * (1 - 1e-3),
                           s_ * s_ + c * c * 1e-3};
    /* From the point mass at 0: Ozaki contracts by exp(-eps l / 2) a step, so
     * 30 / eps steps reach the stationary covariance to e^-15 along the
     * slowest direction (l = 1); a sampler that did not move would fail. */
    static const char *const eps[] = {"0.5", "1", "2"};
    static const int steps[] = {60, 30, 15};
    for (int e = 0; e < 3; e++)
        for (int solver = 1; solver <= 2; solver++) {
            char text[160];
            snprintf(text, sizeof text, "sampler=ozaki sample_steps=%d seed=3 step_size=%s "
                     "ozaki_solver=%d", steps[e], eps[e], solver);
            hosm_sampler *s = sampler_on(mix, text);
            float *x = calloc(2 * N, sizeof(float));
            MUST(hosm_sampler_run(s, x, N, NULL, NULL));
            double cv[4];
            cov2(x, N, cv);
            for (int k = 0; k < 4; k++) {
                const int a = k / 2, b = k % 2;
                const double se = sqrt((sig[a * 3] * sig[b * 3] + sig[k] * sig[k]) / N);
                char what[120];
                snprintf(what, sizeof what, "ozaki %s eps=%s cov[%d][%d] error / 5 SE",
                         solver == 1 ? "eig" : "lanczos", eps[e], a, b);
                check_le(what, fabs(cv[k] - sig[k]) / (5 * se), 1.0);
            }
            free(x);
            hosm_sampler_free(s);
        }
    hosm_mixture_free(mix);
}

/* Langevin is cheap: more chains give the bias check its power. */
#define NL 4000

static void langevin_bias_and_divergence(void)
{
    hosm_mixture *mix = gaussian(0.0); /* axes: precision 1 and 1000 */
    const double eps = 0.001, l = 1000.0;
    const double expect = eps / (1.0 - (1.0 - eps * l / 2) * (1.0 - eps * l / 2));
    hosm_sampler *s = sampler_on(mix, "sampler=langevin sample_steps=200 step_size=0.001 seed=5");
    float *x = malloc(sizeof(float) * 2 * NL);
    MUST(hosm_mixture_sample(mix, 12, NL, x));
    MUST(hosm_sampler_run(s, x, NL, NULL, NULL));
    double cv[4];
    cov2(x, NL, cv);
    check_le("langevin eps=1e-3: variance along precision 1000 vs eps/(1-(1-eps l/2)^2), / 5 SE",
             fabs(cv[3] - expect) / (5 * expect * sqrt(2.0 / NL)), 1.0);
    check_ge("the biased variance is distinguishable from the exact 1e-3 (in SE)",
             fabs(expect - 1e-3) / (expect * sqrt(2.0 / NL)), 10.0);
    hosm_sampler_free(s);
    /* Beyond 4 / l_max every chain diverges; Ozaki at the same step does not. */
    s = sampler_on(mix, "sampler=langevin sample_steps=1000 step_size=0.005 seed=5");
    MUST(hosm_mixture_sample(mix, 13, NL, x));
    int st = hosm_sampler_run(s, x, NL, NULL, NULL);
    int64_t div = -1;
    MUST(hosm_sampler_diverged(s, &div));
    CHECK(st == HOSM_E_NONFINITE && div == NL, "langevin eps=5e-3 > 4/l_max: status %d, %lld of %d "
          "diverged", st, (long long)div, NL);
    CHECK(all_finite(x, 2 * NL), "frozen chains keep finite states");
    hosm_sampler_free(s);
    s = sampler_on(mix, "sampler=ozaki sample_steps=1000 step_size=0.005 seed=5");
    MUST(hosm_mixture_sample(mix, 13, NL, x));
    MUST(hosm_sampler_run(s, x, NL, NULL, NULL));
    MUST(hosm_sampler_diverged(s, &div));
    CHECK(div == 0, "ozaki at eps=5e-3: %lld chains diverged", (long long)div);
    hosm_sampler_free(s);
    free(x);
    hosm_mixture_free(mix);
}

/* MALA and MH-Ozaki leave a two-component mixture invariant: chains started
 * from exact draws keep its mean and second moments. */
static void adjusted_invariance(void)
{
    double w[2] = {0.7, 0.3}, mu[4] = {-1.5, 0.0, 1.5, 0.5};
    double cov[8] = {0.5, 0.2, 0.2, 0.4, 0.3, -0.1, -0.1, 0.6};
    hosm_mixture *mix;
    MUST(hosm_mixture_new(&mix, 2, 2, w, mu, cov));
    double m1[2] = {0, 0}, m2[4] = {0, 0, 0, 0};
    for (int k = 0; k < 2; k++)
        for (int a = 0; a < 2; a++) {
            m1[a] += w[k] * mu[2 * k + a];
            for (int b = 0; b < 2; b++)
                m2[2 * a + b] += w[k] * (cov[4 * k + 2 * a + b] + mu[2 * k + a] * mu[2 * k + b]);
        }
    static const char *const kinds[] = {"mala", "mh_ozaki"};
    for (int kd = 0; kd < 2; kd++) {
        char text[120];
        snprintf(text, sizeof text, "sampler=%s sample_steps=30 step_size=0.3 seed=8", kinds[kd]);
        hosm_sampler *s = sampler_on(mix, text);
        float *x = malloc(sizeof(float) * 2 * N);
        MUST(hosm_mixture_sample(mix, 21, N, x));
        MUST(hosm_sampler_run(s, x, N, NULL, NULL));
        double rate;
        MUST(hosm_sampler_acceptance(s, &rate));
        char what[120];
        snprintf(what, sizeof what, "%s acceptance rate on the mixture", kinds[kd]);
        check_ge(what, rate, 0.3);
        for (int a = 0; a < 2; a++) {
            double e1 = 0, e2 = 0;
            for (int64_t i = 0; i < N; i++) {
                e1 += x[2 * i + a];
                e2 += (double)x[2 * i + a] * x[2 * i + a];
            }
            e1 /= N;
            e2 /= N;
            const double var = m2[3 * a] - m1[a] * m1[a];
            snprintf(what, sizeof what, "%s mean[%d] error / 5 SE", kinds[kd], a);
            check_le(what, fabs(e1 - m1[a]) / (5 * sqrt(var / N)), 1.0);
            /* Var(x^2) <= E x^4; bounded here by 3 (E x^2)^2 + a margin. */
            snprintf(what, sizeof what, "%s second moment[%d] error / 5 SE", kinds[kd], a);
            check_le(what, fabs(e2 - m2[3 * a]) / (5 * sqrt(4.0 * m2[3 * a] * m2[3 * a] / N)),
                     1.0);
        }
        free(x);
        hosm_sampler_free(s);
    }
    hosm_mixture_free(mix);
    /* MH-Ozaki is exact for a Gaussian: every proposal is accepted. */
    mix = gaussian(0.3);
    hosm_sampler *s = sampler_on(mix, "sampler=mh_ozaki sample_steps=10 step_size=1.5 seed=2");
    float *x = malloc(sizeof(float) * 2 * 500);
    MUST(hosm_mixture_sample(mix, 4, 500, x));
    MUST(hosm_sampler_run(s, x, 500, NULL, NULL));
    double rate;
    MUST(hosm_sampler_acceptance(s, &rate));
    check_ge("mh_ozaki acceptance on a Gaussian (exact proposal)", rate, 0.999);
    free(x);
    hosm_sampler_free(s);
    hosm_mixture_free(mix);
}

/* A standard normal target in D = 3 through callbacks. */
static int calls_left = 1 << 30;

static int cb_score(const float *x, int64_t n, int64_t dim, float *out, void *ud)
{
    (void)ud;
    if (--calls_left < 0)
        return 7;
    for (int64_t i = 0; i < n * dim; i++)
        out[i] = -x[i];
    return 0;
}

static int cb_logp(const float *x, int64_t n, int64_t dim, double *out, void *ud)
{
    (void)ud;
    for (int64_t i = 0; i < n; i++) {
        double q = 0;
        for (int64_t j = 0; j < dim; j++)
            q += (double)x[i * dim + j] * x[i * dim + j];
        out[i] = -0.5 * q;
    }
    return 0;
}

static int cb_hess(const float *x, int64_t n, int64_t dim, float *out, void *ud)
{
    (void)x;
    (void)ud;
    for (int64_t i = 0; i < n; i++)
        for (int64_t a = 0; a < dim; a++)
            for (int64_t b = 0; b < dim; b++)
                out[(i * dim + a) * dim + b] = a == b ? -1.0f : 0.0f;
    return 0;
}

static void callbacks_and_traces(void)
{
    hosm_config *cfg;
    hosm_sampler *s;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "sampler=mala sample_steps=20 step_size=0.5 seed=1"));
    CHECK(hosm_sampler_new_fn(&s, 3, NULL, cb_score, NULL, NULL, cfg) == HOSM_E_UNSUPPORTED,
          "mala without a log density: HOSM_E_UNSUPPORTED at creation");
    MUST(hosm_config_parse(cfg, "sampler=ozaki"));
    CHECK(hosm_sampler_new_fn(&s, 3, cb_logp, cb_score, NULL, NULL, cfg) == HOSM_E_UNSUPPORTED,
          "ozaki without a Hessian: HOSM_E_UNSUPPORTED at creation");
    MUST(hosm_config_parse(cfg, "sampler=annealed"));
    CHECK(hosm_sampler_new_fn(&s, 3, cb_logp, cb_score, NULL, NULL, cfg) == HOSM_E_UNSUPPORTED,
          "annealed over callbacks (no ladder): HOSM_E_UNSUPPORTED");
    MUST(hosm_config_parse(cfg, "sampler=mh_ozaki sample_steps=20 step_size=1"));
    MUST(hosm_sampler_new_fn(&s, 3, cb_logp, cb_score, cb_hess, NULL, cfg));
    float *x = calloc(3 * 1000, sizeof(float));
    const int64_t every = 5, T = 20 / 5;
    float *trace = malloc(sizeof(float) * T * 1000 * 3);
    MUST(hosm_sampler_run_trace(s, x, 1000, every, trace, NULL, NULL));
    double rate;
    MUST(hosm_sampler_acceptance(s, &rate));
    check_ge("mh_ozaki on callbacks (Gaussian): acceptance", rate, 0.999);
    CHECK(memcmp(trace + (T - 1) * 1000 * 3, x, sizeof(float) * 3000) == 0,
          "the last trace slice is the final state");
    double v = 0;
    for (int i = 0; i < 3000; i++)
        v += (double)x[i] * x[i];
    check_le("callback Gaussian: variance error / 5 SE", fabs(v / 3000 - 1) / (5 * sqrt(2.0 / 3000)),
             1.0);
    calls_left = 3;
    int st = hosm_sampler_run(s, x, 1000, NULL, NULL);
    CHECK(st == HOSM_E_CALLBACK, "a failing callback stops the run with HOSM_E_CALLBACK (got %d)",
          st);
    calls_left = 1 << 30;
    hosm_sampler_free(s);
    free(x);
    free(trace);
    hosm_config_free(cfg);
}

/* Model sources: the Lanczos path matches the eigensolver for low-rank and
 * full s2; a model without s2 needs hessian=jacobian (not s2 or average). */
static void model_paths(void)
{
    static const char *const s2[] = {"lowrank", "full", "diag"};
    for (int k = 0; k < 3; k++) {
        char text[200];
        snprintf(text, sizeof text, "hidden=16 depth=2 sigma=0.3 s2=%s seed=4 rank=3", s2[k]);
        enum { MD = 24, MN = 16 };
        hosm_config *cfg;
        hosm_model *m;
        MUST(hosm_config_new(&cfg));
        MUST(hosm_config_parse(cfg, text));
        MUST(hosm_model_new(&m, MD, cfg));
        float x0[MD * MN], xa[MD * MN], xb[MD * MN];
        for (int i = 0; i < MD * MN; i++)
            x0[i] = (float)sin(0.37 * i);
        for (int solver = 1; solver <= 2; solver++) {
            hosm_sampler *s;
            MUST(hosm_config_parse(cfg, "sampler=ozaki sample_steps=3 step_size=0.05 seed=9 l_max=10 "
                                        "lanczos_tol=1e-9"));
            MUST(hosm_config_set_int(cfg, HOSM_KEY_OZAKI_SOLVER, solver));
            MUST(hosm_sampler_new(&s, m, cfg));
            float *x = solver == 1 ? xa : xb;
            memcpy(x, x0, sizeof x0);
            MUST(hosm_sampler_run(s, x, MN, NULL, NULL));
            hosm_sampler_free(s);
        }
        double num = 0, den = 0;
        for (int i = 0; i < MD * MN; i++) {
            num += (double)(xa[i] - xb[i]) * (xa[i] - xb[i]);
            den += (double)(xa[i] - x0[i]) * (xa[i] - x0[i]);
        }
        snprintf(text, sizeof text, "ozaki s2=%s: lanczos vs eig, rel. difference of the moves",
                 s2[k]);
        check_le(text, sqrt(num / den), 1e-4);
        hosm_model_free(m);
        hosm_config_free(cfg);
    }
    hosm_config *cfg;
    hosm_model *m;
    hosm_sampler *s;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=8 sampler=ozaki"));
    MUST(hosm_model_new(&m, 3, cfg));
    CHECK(hosm_sampler_new(&s, m, cfg) == HOSM_E_UNSUPPORTED,
          "ozaki on a model without s2: HOSM_E_UNSUPPORTED");
    MUST(hosm_config_parse(cfg, "hessian=average"));
    CHECK(hosm_sampler_new(&s, m, cfg) == HOSM_E_UNSUPPORTED,
          "ozaki with hessian=average on a model without s2: HOSM_E_UNSUPPORTED");
    MUST(hosm_config_parse(cfg, "hessian=jacobian step_size=0.01 sample_steps=5"));
    MUST(hosm_sampler_new(&s, m, cfg));
    float x[3 * 10] = {0};
    MUST(hosm_sampler_run(s, x, 10, NULL, NULL));
    CHECK(all_finite(x, 30), "ozaki with the Jacobian of s1 runs");
    hosm_sampler_free(s);
    hosm_model_free(m);
    hosm_config_free(cfg);
}

static int model_score(const float *x, int64_t n, int64_t dim, float *out, void *model)
{
    (void)dim;
    return hosm_model_score(model, 0, x, n, out);
}

static int model_average(const float *x, int64_t n, int64_t dim, float *out, void *model)
{
    (void)dim;
    return hosm_model_hessian_estimate(model, 0, x, n, HOSM_HESSIAN_AVERAGE, out);
}

/* hessian=average: Ozaki on a model moves its chains as Ozaki on callbacks
 * giving the model's score and hosm_model_hessian_estimate's average (the
 * same noise: the same seed), for each s2 structure; hessian=jacobian moves
 * them elsewhere, so the comparison sees which H was used. */
static void model_average_source(void)
{
    static const char *const s2[] = {"lowrank", "full", "diag"};
    for (int k = 0; k < 3; k++) {
        enum { MD = 6, MN = 8 };
        char text[200];
        snprintf(text, sizeof text, "hidden=16 depth=2 sigma=0.3 s2=%s seed=5 rank=2 "
                 "sampler=ozaki sample_steps=3 step_size=0.3 seed=9", s2[k]);
        hosm_config *cfg;
        hosm_model *m;
        MUST(hosm_config_new(&cfg));
        MUST(hosm_config_parse(cfg, text));
        MUST(hosm_model_new(&m, MD, cfg));
        float x0[MD * MN], xm[MD * MN], xf[MD * MN], xj[MD * MN];
        for (int i = 0; i < MD * MN; i++)
            x0[i] = (float)sin(0.61 * i);
        hosm_sampler *s;
        float *outs[2] = {xm, xj};
        const char *sources[2] = {"hessian=average", "hessian=jacobian"};
        for (int j = 0; j < 2; j++) {
            MUST(hosm_config_parse(cfg, sources[j]));
            MUST(hosm_sampler_new(&s, m, cfg));
            memcpy(outs[j], x0, sizeof x0);
            MUST(hosm_sampler_run(s, outs[j], MN, NULL, NULL));
            hosm_sampler_free(s);
        }
        MUST(hosm_sampler_new_fn(&s, MD, NULL, model_score, model_average, m, cfg));
        memcpy(xf, x0, sizeof x0);
        MUST(hosm_sampler_run(s, xf, MN, NULL, NULL));
        hosm_sampler_free(s);
        double num = 0, numj = 0, den = 0;
        for (int i = 0; i < MD * MN; i++) {
            num += (double)(xm[i] - xf[i]) * (xm[i] - xf[i]);
            numj += (double)(xj[i] - xf[i]) * (xj[i] - xf[i]);
            den += (double)(xf[i] - x0[i]) * (xf[i] - x0[i]);
        }
        snprintf(text, sizeof text, "ozaki s2=%s hessian=average: model vs callbacks, rel. "
                 "difference of the moves", s2[k]);
        check_le(text, sqrt(num / den), 1e-4);
        snprintf(text, sizeof text, "ozaki s2=%s: hessian=jacobian moves differently",
                 s2[k]);
        check_ge(text, sqrt(numj / den), 1e-3);
        hosm_model_free(m);
        hosm_config_free(cfg);
    }
}

/* Midway between two narrow modes the Hessian has an eigenvalue near 9e4, and
 * Ozaki's proposal at a step of 5 overflows: the adjusted sampler must reject
 * it (chains stay put, the run succeeds) rather than evaluate the oracle at a
 * non-finite point. */
static void adjusted_rejects_nonfinite(void)
{
    double w[2] = {0.5, 0.5}, mu[4] = {-3.0, 0.0, 3.0, 0.0};
    double cov[8] = {0.01, 0, 0, 0.01, 0.01, 0, 0, 0.01};
    hosm_mixture *mix;
    MUST(hosm_mixture_new(&mix, 2, 2, w, mu, cov));
    hosm_sampler *s = sampler_on(mix, "sampler=mh_ozaki sample_steps=3 step_size=5 seed=3");
    float x[2 * 16] = {0};
    int st = hosm_sampler_run(s, x, 16, NULL, NULL);
    CHECK(st == HOSM_OK, "mh_ozaki with overflowing proposals: status %d (%s)", st,
          hosm_last_errmsg());
    double rate = -1;
    MUST(hosm_sampler_acceptance(s, &rate));
    check_le("mh_ozaki acceptance when every proposal overflows", rate, 0.0);
    CHECK(all_finite(x, 2 * 16) && x[0] == 0.0f, "rejected chains keep their states");
    hosm_sampler_free(s);
    hosm_mixture_free(mix);
}

int main(void)
{
    ozaki_exact_on_gaussian();
    langevin_bias_and_divergence();
    adjusted_invariance();
    adjusted_rejects_nonfinite();
    callbacks_and_traces();
    model_paths();
    model_average_source();
    return finish("test_ozaki");
}
