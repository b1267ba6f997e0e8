/* Every invalid input of the mixture oracle returns its status and leaves a
 * message naming the function (and the component, for a bad component) in
 * hosm_last_errmsg(). Before each call a different failure is recorded, so a
 * message left over from an earlier call cannot pass for the new one. Queries
 * are const: they leave hosm_mixture_errmsg() of the handle untouched (""),
 * and a failed query leaves its output buffer untouched. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hosm.h"

static int failures;

static void check(int ok, const char *what)
{
    printf("  %s: %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

static const char sentinel_fn[] = "hosm_mixture_dim";

/* Record a known failure, so that the next message must come from the next call. */
static void reset_message(void)
{
    hosm_mixture_dim(NULL, NULL);
}

/* The status must be want, and the thread's message must be new, name fn and
 * contain detail (if not NULL). */
static void expect(int got, int want, const char *fn, const char *detail, const char *what)
{
    const char *msg = hosm_last_errmsg();
    int ok = got == want;
    if (want != HOSM_OK) {
        ok = ok && msg && msg[0] != '\0' && strstr(msg, fn) != NULL;
        if (strcmp(fn, sentinel_fn) != 0)
            ok = ok && strstr(msg, sentinel_fn) == NULL;
        if (detail)
            ok = ok && strstr(msg, detail) != NULL;
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%s -> %d (%s), want %d; message \"%s\"", what, got,
             hosm_strerror(got), want, want != HOSM_OK ? msg : "");
    check(ok, buf);
}

/* Non-zero when every byte of buf still holds the fill pattern 0xab. */
static int untouched(const unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != 0xab)
            return 0;
    return 1;
}

enum { K = 2, D = 2 };
static const double good_w[K] = {1.0, 2.0};
static const double good_mu[K * D] = {0.0, 1.0, -1.0, 0.5};
static const double good_cov[K * D * D] = {1.0, 0.3, 0.3, 2.0, 0.5, -0.1, -0.1, 0.4};

static int try_new(const double *w, const double *mu, const double *cov, int *out_null)
{
    int dummy = 0;
    hosm_mixture *m = (hosm_mixture *)(void *)&dummy; /* must be overwritten */
    reset_message();
    int st = hosm_mixture_new(&m, K, D, w, mu, cov);
    *out_null = m == NULL;
    if (st == HOSM_OK)
        hosm_mixture_free(m);
    return st;
}

static void creation_errors(void)
{
    static const char fn[] = "hosm_mixture_new";
    printf("hosm_mixture_new:\n");
    int isnull;
    int st;

    reset_message();
    expect(hosm_mixture_new(NULL, K, D, good_w, good_mu, good_cov), HOSM_E_NULL, fn, NULL,
           "out = NULL");
    st = try_new(NULL, good_mu, good_cov, &isnull);
    expect(st, HOSM_E_NULL, fn, "weights", "weights = NULL");
    check(isnull, "a failed hosm_mixture_new sets *out to NULL");
    st = try_new(good_w, NULL, good_cov, &isnull);
    expect(st, HOSM_E_NULL, fn, "means", "means = NULL");
    st = try_new(good_w, good_mu, NULL, &isnull);
    expect(st, HOSM_E_NULL, fn, "covs", "covs = NULL");

    const int64_t bad_k[] = {0, -3};
    for (int i = 0; i < 2; i++) {
        hosm_mixture *m = NULL;
        char what[64];
        snprintf(what, sizeof what, "k = %lld", (long long)bad_k[i]);
        reset_message();
        expect(hosm_mixture_new(&m, bad_k[i], D, good_w, good_mu, good_cov), HOSM_E_ARG, fn,
               NULL, what);
    }
    const int64_t bad_dim[] = {0, -1, ((int64_t)1 << 20) + 1, INT64_MAX};
    for (int i = 0; i < 4; i++) {
        hosm_mixture *m = NULL;
        char what[64];
        snprintf(what, sizeof what, "dim = %lld", (long long)bad_dim[i]);
        reset_message();
        expect(hosm_mixture_new(&m, K, bad_dim[i], good_w, good_mu, good_cov), HOSM_E_ARG, fn,
               NULL, what);
    }

    /* Weights: component 1 is bad (component 0 once). */
    const double bad_w1[] = {0.0, -1.0, NAN, INFINITY};
    const char *bad_w1_name[] = {"weight 0", "weight -1", "weight NaN", "weight Inf"};
    for (int i = 0; i < 4; i++) {
        double w[K] = {1.0, bad_w1[i]};
        char what[64];
        snprintf(what, sizeof what, "component 1 with %s", bad_w1_name[i]);
        st = try_new(w, good_mu, good_cov, &isnull);
        expect(st, HOSM_E_ARG, fn, "component 1", what);
    }
    {
        double w[K] = {-2.0, 1.0};
        st = try_new(w, good_mu, good_cov, &isnull);
        expect(st, HOSM_E_ARG, fn, "component 0", "component 0 with weight -2");
        double big[K] = {DBL_MAX, DBL_MAX};
        st = try_new(big, good_mu, good_cov, &isnull);
        expect(st, HOSM_E_ARG, fn, NULL, "weights summing to infinity");
    }
    /* Means. */
    const double bad_mu[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        double mu[K * D];
        memcpy(mu, good_mu, sizeof mu);
        mu[3] = bad_mu[i];
        char what[64];
        snprintf(what, sizeof what, "mean of component 1 with %g", bad_mu[i]);
        st = try_new(good_w, mu, good_cov, &isnull);
        expect(st, HOSM_E_ARG, fn, "component 1", what);
    }
    /* Covariances of component 1 (entries 4..7). */
    struct {
        double c[4];
        const char *what, *detail;
    } covs[] = {
        {{0.5, 0.2, 0.2 + 1e-6, 0.4}, "non-symmetric (rel. 5e-6)", "symmetric"},
        {{0.5, 0.2, -0.2, 0.4}, "antisymmetric off-diagonal", "symmetric"},
        {{1.0, 2.0, 2.0, 1.0}, "indefinite", "positive definite"},
        {{1.0, 1.0, 1.0, 1.0}, "singular", "positive definite"},
        {{0.0, 0.0, 0.0, 0.0}, "zero", "positive definite"},
        {{-1.0, 0.0, 0.0, 1.0}, "negative diagonal", "positive definite"},
        {{NAN, 0.0, 0.0, 1.0}, "NaN entry", "NaN"},
        {{1.0, INFINITY, INFINITY, 1.0}, "Inf entries", "NaN or Inf"},
    };
    for (size_t i = 0; i < sizeof covs / sizeof covs[0]; i++) {
        double cov[K * D * D];
        memcpy(cov, good_cov, sizeof cov);
        memcpy(cov + 4, covs[i].c, sizeof covs[i].c);
        char what[96];
        snprintf(what, sizeof what, "covariance of component 1 %s", covs[i].what);
        st = try_new(good_w, good_mu, cov, &isnull);
        expect(st, HOSM_E_ARG, fn, "component 1", what);
        char detail[96];
        snprintf(detail, sizeof detail, "  (message names the problem: \"%s\")", covs[i].detail);
        check(strstr(hosm_last_errmsg(), covs[i].detail) != NULL, detail);
    }
    {
        /* Asymmetry far below the tolerance (1e-9 relative) is accepted. */
        double cov[K * D * D];
        memcpy(cov, good_cov, sizeof cov);
        cov[6] = cov[5] * (1.0 + 1e-12);
        st = try_new(good_w, good_mu, cov, &isnull);
        expect(st, HOSM_OK, fn, NULL, "asymmetry of 1e-12 relative is accepted");
    }
    st = try_new(good_w, good_mu, good_cov, &isnull);
    expect(st, HOSM_OK, fn, NULL, "valid input");
}

/* Uniform wrappers of the five queries. */
typedef int (*query_fn)(const hosm_mixture *, double, const float *, int64_t, void *);
static int q_logd(const hosm_mixture *m, double s, const float *x, int64_t n, void *o)
{
    return hosm_mixture_log_density(m, s, x, n, o);
}
static int q_score(const hosm_mixture *m, double s, const float *x, int64_t n, void *o)
{
    return hosm_mixture_score(m, s, x, n, o);
}
static int q_hess(const hosm_mixture *m, double s, const float *x, int64_t n, void *o)
{
    return hosm_mixture_hessian(m, s, x, n, o);
}
static int q_pmean(const hosm_mixture *m, double s, const float *x, int64_t n, void *o)
{
    return hosm_mixture_posterior_mean(m, s, x, n, o);
}
static int q_pcov(const hosm_mixture *m, double s, const float *x, int64_t n, void *o)
{
    return hosm_mixture_posterior_cov(m, s, x, n, o);
}

static void query_errors(const hosm_mixture *mix)
{
    const struct {
        query_fn f;
        const char *name;
    } qs[] = {{q_logd, "hosm_mixture_log_density"},
              {q_score, "hosm_mixture_score"},
              {q_hess, "hosm_mixture_hessian"},
              {q_pmean, "hosm_mixture_posterior_mean"},
              {q_pcov, "hosm_mixture_posterior_cov"}};
    const float x[2 * D] = {0.5f, -0.25f, 1.0f, 2.0f};
    for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++) {
        const char *fn = qs[q].name;
        /* Large enough for every query's output of 2 points; no declared type. */
        const size_t cap = 2 * D * D * sizeof(double);
        unsigned char *out = malloc(cap);
        if (!out) {
            printf("out of memory\n");
            exit(1);
        }
        printf("%s:\n", fn);
        reset_message();
        expect(qs[q].f(NULL, 0.5, x, 2, out), HOSM_E_NULL, fn, NULL, "mix = NULL");
        reset_message();
        expect(qs[q].f(mix, 0.5, NULL, 2, out), HOSM_E_NULL, fn, NULL, "x = NULL");
        reset_message();
        expect(qs[q].f(mix, 0.5, x, 2, NULL), HOSM_E_NULL, fn, NULL, "out = NULL");
        reset_message();
        expect(qs[q].f(mix, 0.5, x, -1, out), HOSM_E_ARG, fn, NULL, "n = -1");
        reset_message();
        expect(qs[q].f(mix, 0.5, x, INT64_MAX, out), HOSM_E_ARG, fn, NULL,
               "n = INT64_MAX (size overflow)");
        const double bad_sigma[] = {-0.1, -INFINITY, INFINITY, NAN, 1e200};
        for (int i = 0; i < 5; i++) {
            char what[64];
            snprintf(what, sizeof what, "sigma = %g", bad_sigma[i]);
            reset_message();
            expect(qs[q].f(mix, bad_sigma[i], x, 2, out), HOSM_E_ARG, fn, "sigma", what);
        }
        const float bad_x[] = {NAN, INFINITY, -INFINITY};
        for (int i = 0; i < 3; i++) {
            float y[2 * D];
            memcpy(y, x, sizeof y);
            y[3] = bad_x[i];
            memset(out, 0xab, cap);
            char what[64];
            snprintf(what, sizeof what, "x[1][1] = %g", (double)bad_x[i]);
            reset_message();
            expect(qs[q].f(mix, 0.5, y, 2, out), HOSM_E_NONFINITE, fn, "point 1", what);
            check(untouched(out, cap), "  the output is left untouched");
        }
        memset(out, 0xab, cap);
        expect(qs[q].f(mix, 0.5, x, 0, out), HOSM_OK, fn, NULL, "n = 0");
        check(untouched(out, cap), "  n = 0 writes nothing");
        expect(qs[q].f(mix, 0.5, NULL, 0, NULL), HOSM_OK, fn, NULL, "n = 0 with NULL buffers");
        expect(qs[q].f(mix, 0.0, x, 2, out), HOSM_OK, fn, NULL, "sigma = 0, valid points");
        check(strcmp(hosm_mixture_errmsg(mix), "") == 0,
              "  hosm_mixture_errmsg stays \"\" (queries are const)");
        free(out);
    }
}

static void other_errors(const hosm_mixture *mix)
{
    printf("hosm_mixture_sample:\n");
    static const char fs[] = "hosm_mixture_sample";
    float out[3 * D];
    reset_message();
    expect(hosm_mixture_sample(NULL, 1, 3, out), HOSM_E_NULL, fs, NULL, "mix = NULL");
    reset_message();
    expect(hosm_mixture_sample(mix, 1, 3, NULL), HOSM_E_NULL, fs, NULL, "out = NULL");
    reset_message();
    expect(hosm_mixture_sample(mix, 1, -1, out), HOSM_E_ARG, fs, NULL, "n = -1");
    reset_message();
    expect(hosm_mixture_sample(mix, 1, INT64_MAX, out), HOSM_E_ARG, fs, NULL,
           "n = INT64_MAX (size overflow)");
    expect(hosm_mixture_sample(mix, 1, 0, NULL), HOSM_OK, fs, NULL, "n = 0 with out = NULL");
    expect(hosm_mixture_sample(mix, 1, 3, out), HOSM_OK, fs, NULL, "n = 3");

    printf("hosm_mixture_dim, hosm_mixture_errmsg, hosm_mixture_free:\n");
    int64_t dim = -1;
    hosm_mixture_new(NULL, 1, 1, NULL, NULL, NULL);
    expect(hosm_mixture_dim(NULL, &dim), HOSM_E_NULL, "hosm_mixture_dim", "mix", "mix = NULL");
    hosm_mixture_new(NULL, 1, 1, NULL, NULL, NULL);
    expect(hosm_mixture_dim(mix, NULL), HOSM_E_NULL, "hosm_mixture_dim", "out", "out = NULL");
    expect(hosm_mixture_dim(mix, &dim), HOSM_OK, "hosm_mixture_dim", NULL, "valid");
    check(dim == D, "hosm_mixture_dim gives the dimension");
    const char *e = hosm_mixture_errmsg(NULL);
    check(e != NULL && e[0] == '\0', "hosm_mixture_errmsg(NULL) is \"\"");
    hosm_mixture_free(NULL); /* must simply return */
}

int main(void)
{
    creation_errors();
    hosm_mixture *mix = NULL;
    if (hosm_mixture_new(&mix, K, D, good_w, good_mu, good_cov) != HOSM_OK) {
        printf("hosm_mixture_new failed: %s\n", hosm_last_errmsg());
        return 1;
    }
    query_errors(mix);
    other_errors(mix);
    hosm_mixture_free(mix);
    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
