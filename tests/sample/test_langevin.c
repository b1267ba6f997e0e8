/* Langevin samplers on a Gaussian target with an exactly linear score model.
 *
 * The model: act = elu, depth = 1, hidden = 2D, with
 *   W0 = [I; -I], b0 = c (c > 0 large),  W_out = (lambda sigma / 2) [-I, I], b_out = 0,
 * so that for |x_j| < c both pre-activations c + x_j and c - x_j are positive,
 * ELU is the identity, and
 *   net_j = -(lambda_j sigma / 2) ((c + x_j) - (c - x_j)) = -lambda_j sigma x_j,
 * i.e. s1(x) = net / sigma = -Lambda x: the score of N(0, Lambda^-1). (Two
 * mirrored units per coordinate make b_out = 0 and keep the network odd, so
 * that beyond |x| = c it still pushes outwards with slope lambda / 2 instead
 * of saturating; that makes the predicted divergence below a real one.)
 * The only deviation from -Lambda x is float rounding of c +- x (half an ulp
 * of c: 1.9e-6 for c = 32, 2.4e-4 for c = 4096) and of the output sum; it
 * acts like a zero-mean quantisation of x far below the Monte-Carlo error
 * (checked directly: |s1 + Lambda x| <= 1e-4 for c = 32, see below).
 *
 * Checks (docs/math.md 8, x <- x + (eps/2) s1 + sqrt(eps) xi, per eigen-direction
 * with a = 1 - eps lambda / 2):
 *  1. stationary variance eps / (1 - a^2) of 20000 independent chains after
 *     200 steps from 0 (a^400 < 1e-38: converged), for lambda = (1, 4), eps =
 *     0.4; also mean 0 and no cross-covariance;
 *  2. eps = 1.5 > 4 / lambda_2: the variance after k = 6 steps from 0 follows
 *     the exact law v_k = eps (1 - a^(2k)) / (1 - a^2) (a = -2: it grows as
 *     4^k), chains stay finite;
 *  3. eps = 2.5 (a = -4 inside |x| < c, a = -1.5 outside): 500 steps overflow
 *     and hosm_sampler_run reports HOSM_E_NONFINITE;
 *  4. annealed Langevin on a 2-level ladder (sigma 2, 1): stopped by the
 *     callback after the first level, the variance is the stationary one of
 *     level 0 (s1 = -Lambda x sigma_min / sigma_0, eps_0 = eps sigma_0^2 /
 *     sigma_min^2); after both levels that of the last level; the callback
 *     sees the ladder's sigmas in order; same seed => bit-identical samples,
 *     different seed => different samples; the RNG stream continues across
 *     runs; plain Langevin on a ladder runs at the smallest level only.
 *
 * Tolerance: every moment is compared within 4 Monte-Carlo standard errors.
 * For n iid N(0, v) draws the sample variance s^2 (with the sample mean) has
 * Var(s^2) = 2 v^2 / (n - 1), so SE = v sqrt(2 / (n - 1)) (1% of v for
 * n = 20000); the sample mean has SE sqrt(v / n) and the sample covariance
 * of two independent coordinates SE sqrt(v1 v2 / n). Chains are independent
 * (each draws its own noise), and from x0 = 0 the linear recursion makes the
 * state exactly Gaussian at every step, so these formulas are exact. With
 * fixed seeds the outcome is deterministic; 4 SE would be exceeded by chance
 * with probability 6e-5 per check for a correct sampler. Power: the test
 * also requires the predicted discretised variance to differ from the exact
 * target 1/lambda by more than 8 SE, so a sampler with another step
 * convention (e.g. x + eps s1 + sqrt(2 eps) xi) fails. */
#include "../test_util.h"

#define D 2
#define H (2 * D)
#define NCH 20000

static const double LAMBDA[D] = {1.0, 4.0};

/* A linear model (see the top comment) with the given ladder. */
static hosm_model *linear_model(int64_t levels, double sigma_small, double sigma_big, double c)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "act=elu depth=1"));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_HIDDEN, H));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_LEVELS, levels));
    MUST(hosm_config_set_double(cfg, HOSM_KEY_SIGMA, sigma_small));
    MUST(hosm_config_set_double(cfg, HOSM_KEY_SIGMA_MIN, sigma_small));
    MUST(hosm_config_set_double(cfg, HOSM_KEY_SIGMA_MAX, sigma_big));
    hosm_model *m;
    MUST(hosm_model_new(&m, D, cfg));
    hosm_config_free(cfg);
    int64_t P;
    MUST(hosm_model_num_params(m, &P));
    const int64_t expect = H * D + H + D * H + D + (levels > 1 ? levels * H : 0);
    if (P != expect) {
        printf("FATAL: %lld parameters, the layout gives %lld\n", (long long)P, (long long)expect);
        exit(1);
    }
    float *p = calloc((size_t)P, sizeof *p);
    float *w0 = p, *b0 = p + H * D, *wo = b0 + H;
    for (int j = 0; j < D; j++) {
        w0[j * D + j] = 1.0f;
        w0[(j + D) * D + j] = -1.0f;
        wo[j * H + j] = (float)(-0.5 * LAMBDA[j] * sigma_small);
        wo[j * H + j + D] = (float)(0.5 * LAMBDA[j] * sigma_small);
    }
    for (int j = 0; j < H; j++)
        b0[j] = (float)c;
    MUST(hosm_model_set_params(m, p, P)); /* b_out and the embedding stay 0 */
    free(p);
    return m;
}

static hosm_sampler *make_sampler(const hosm_model *m, int kind, double eps, int64_t steps,
                                  int64_t seed)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_SAMPLER, kind));
    MUST(hosm_config_set_double(cfg, HOSM_KEY_STEP_SIZE, eps));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_SAMPLE_STEPS, steps));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_SEED, seed));
    hosm_sampler *s;
    MUST(hosm_sampler_new(&s, m, cfg));
    hosm_config_free(cfg);
    return s;
}

/* Variance of the chain after k steps from 0 with a = 1 - eps lambda / 2;
 * k < 0 means stationary. */
static double predicted_var(double eps, double lambda, int k)
{
    const double a = 1.0 - 0.5 * eps * lambda, a2 = a * a;
    if (k < 0)
        return eps / (1.0 - a2);
    return eps * (1.0 - pow(a2, k)) / (1.0 - a2);
}

/* Compares the moments of n chains with N(0, diag(v)). */
static void check_moments(const char *tag, const float *x, int n, const double *v)
{
    double mean[D] = {0}, var[D] = {0}, cov = 0.0, maxabs = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < D; j++) {
            mean[j] += x[i * D + j];
            maxabs = fmax(maxabs, fabs(x[i * D + j]));
        }
    for (int j = 0; j < D; j++)
        mean[j] /= n;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < D; j++)
            var[j] += (x[i * D + j] - mean[j]) * (x[i * D + j] - mean[j]);
        cov += (x[i * D] - mean[0]) * (x[i * D + 1] - mean[1]);
    }
    char what[160];
    for (int j = 0; j < D; j++) {
        var[j] /= n - 1;
        const double se = v[j] * sqrt(2.0 / (n - 1));
        snprintf(what, sizeof what, "%s: var[%d] = %.5g vs %.5g, |diff| in SE", tag, j, var[j],
                 v[j]);
        check_le(what, fabs(var[j] - v[j]) / se, 4.0);
        snprintf(what, sizeof what, "%s: mean[%d] = %.3g, |mean| in SE", tag, j, mean[j]);
        check_le(what, fabs(mean[j]) / sqrt(v[j] / n), 4.0);
    }
    cov /= n - 1;
    snprintf(what, sizeof what, "%s: cov = %.3g, |cov| in SE", tag, cov);
    check_le(what, fabs(cov) / sqrt(v[0] * v[1] / n), 4.0);
    printf("     %s: max |x| = %.3g\n", tag, maxabs);
}

static double max_abs(const float *x, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

typedef struct {
    int64_t calls, stop_at, bad_step;
    double values[8];
    int64_t value_counts[8];
    int nvalues;
} cb_log;

static int record(int64_t step, double value, void *user)
{
    cb_log *log = user;
    log->calls++;
    if (step != log->calls && !log->bad_step)
        log->bad_step = step;
    if (log->nvalues == 0 || log->values[log->nvalues - 1] != value) {
        if (log->nvalues < 8) {
            log->values[log->nvalues] = value;
            log->value_counts[log->nvalues++] = 1;
        }
    } else {
        log->value_counts[log->nvalues - 1]++;
    }
    return log->stop_at > 0 && step >= log->stop_at;
}

int main(void)
{
    const double t0 = now_seconds();
    float *x = xmalloc(NCH * D * sizeof *x), *y = xmalloc(NCH * D * sizeof *y);
    float *s = xmalloc(NCH * D * sizeof *s);

    /* The model's score is -Lambda x (rounding: <= 1e-4, see the top). */
    hosm_model *m = linear_model(1, 1.0, 1.0, 32.0);
    {
        trng r = {99};
        for (int i = 0; i < 1000 * D; i++)
            x[i] = (float)(3.0 * trng_normal(&r));
        MUST(hosm_model_score(m, 0, x, 1000, s));
        double worst = 0.0;
        for (int i = 0; i < 1000; i++)
            for (int j = 0; j < D; j++)
                worst = fmax(worst, fabs(s[i * D + j] + LAMBDA[j] * x[i * D + j]));
        check_le("linear model: max |s1(x) + Lambda x| (c = 32)", worst, 1e-4);
    }

    /* 1. Stationary variance. */
    {
        const double eps = 0.4;
        double v[D];
        for (int j = 0; j < D; j++) {
            v[j] = predicted_var(eps, LAMBDA[j], -1);
            const double power = fabs(v[j] - 1.0 / LAMBDA[j]) / (v[j] * sqrt(2.0 / (NCH - 1)));
            CHECK(power > 8.0, "test power: prediction %.4g is only %.2f SE from 1/lambda", v[j],
                  power);
        }
        hosm_sampler *smp = make_sampler(m, HOSM_SAMPLER_LANGEVIN, eps, 200, 1);
        memset(x, 0, NCH * D * sizeof *x);
        MUST(hosm_sampler_run(smp, x, NCH, NULL, NULL));
        check_moments("langevin eps=0.4, stationary", x, NCH, v);
        check_le("langevin eps=0.4: max |x| below c = 32 (linear regime)", max_abs(x, NCH * D),
                 32.0);
        hosm_sampler_free(smp);
    }

    /* 2. eps > 4 / lambda_2: exact growth of the variance. */
    {
        hosm_model *big = linear_model(1, 1.0, 1.0, 4096.0);
        const double eps = 1.5;
        const int k = 6;
        double v[D];
        for (int j = 0; j < D; j++)
            v[j] = predicted_var(eps, LAMBDA[j], k);
        hosm_sampler *smp = make_sampler(big, HOSM_SAMPLER_LANGEVIN, eps, k, 2);
        memset(x, 0, NCH * D * sizeof *x);
        MUST(hosm_sampler_run(smp, x, NCH, NULL, NULL));
        check_moments("langevin eps=1.5, 6 steps (diverging)", x, NCH, v);
        check_le("langevin eps=1.5: max |x| below c = 4096 (linear regime)",
                 max_abs(x, NCH * D), 4096.0);
        hosm_sampler_free(smp);
        hosm_model_free(big);
    }

    /* 3. Divergence to overflow is reported. */
    {
        hosm_sampler *smp = make_sampler(m, HOSM_SAMPLER_LANGEVIN, 2.5, 500, 3);
        memset(x, 0, 1000 * D * sizeof *x);
        int st = hosm_sampler_run(smp, x, 1000, NULL, NULL);
        printf("     eps=2.5, 500 steps: status %d (%s): %s\n", st, hosm_strerror(st),
               hosm_last_errmsg());
        CHECK(st == HOSM_E_NONFINITE, "diverging run returned %d, expected HOSM_E_NONFINITE", st);
        CHECK(hosm_sampler_errmsg(smp)[0] != '\0', "no message in the sampler handle");
        hosm_sampler_free(smp);
    }

    /* 4. Annealed Langevin on a ladder (sigma_0 = 2, sigma_1 = 1). */
    {
        hosm_model *lad = linear_model(2, 1.0, 2.0, 32.0);
        const double eps = 0.2, ratio = 2.0; /* sigma_0 / sigma_min */
        const int64_t T = 100;
        double v0[D], v1[D];
        for (int j = 0; j < D; j++) {
            v0[j] = predicted_var(eps * ratio * ratio, LAMBDA[j] / ratio, -1);
            v1[j] = predicted_var(eps, LAMBDA[j], -1);
        }
        /* Stopped after the first level. */
        hosm_sampler *smp = make_sampler(lad, HOSM_SAMPLER_ANNEALED, eps, T, 4);
        cb_log log = {.stop_at = T};
        memset(x, 0, NCH * D * sizeof *x);
        int st = hosm_sampler_run(smp, x, NCH, record, &log);
        CHECK(st == HOSM_STOPPED, "stopped run returned %d, expected HOSM_STOPPED", st);
        CHECK(log.calls == T, "callback called %lld times before stopping, expected %lld",
              (long long)log.calls, (long long)T);
        check_moments("annealed, after level 0 (stationary at level 0)", x, NCH, v0);
        hosm_sampler_free(smp);

        /* The full run: both levels. */
        smp = make_sampler(lad, HOSM_SAMPLER_ANNEALED, eps, T, 4);
        cb_log full = {0};
        memset(x, 0, NCH * D * sizeof *x);
        MUST(hosm_sampler_run(smp, x, NCH, record, &full));
        check_moments("annealed, after level 1 (stationary at level 1)", x, NCH, v1);
        CHECK(full.calls == 2 * T && !full.bad_step,
              "annealed: %lld callback calls (expected %lld), first wrong step %lld",
              (long long)full.calls, (long long)(2 * T), (long long)full.bad_step);
        CHECK(full.nvalues == 2 && full.values[0] == 2.0 && full.values[1] == 1.0 &&
                  full.value_counts[0] == T && full.value_counts[1] == T,
              "annealed: callback values are not sigma = 2 x %lld then 1 x %lld (got %d runs: "
              "%g x %lld, %g x %lld)",
              (long long)T, (long long)T, full.nvalues, full.values[0],
              (long long)full.value_counts[0], full.values[1], (long long)full.value_counts[1]);

        /* Same seed: bit-identical; different seed: different; the stream
         * continues across runs of one sampler. */
        const int n = 2000;
        trng r = {5};
        float *init = xmalloc(n * D * sizeof *init);
        for (int i = 0; i < n * D; i++)
            init[i] = (float)trng_normal(&r);
        hosm_sampler *a = make_sampler(lad, HOSM_SAMPLER_ANNEALED, eps, 20, 77);
        hosm_sampler *b = make_sampler(lad, HOSM_SAMPLER_ANNEALED, eps, 20, 77);
        hosm_sampler *c = make_sampler(lad, HOSM_SAMPLER_ANNEALED, eps, 20, 78);
        memcpy(x, init, n * D * sizeof *x);
        memcpy(y, init, n * D * sizeof *y);
        memcpy(s, init, n * D * sizeof *s);
        MUST(hosm_sampler_run(a, x, n, NULL, NULL));
        MUST(hosm_sampler_run(b, y, n, NULL, NULL));
        MUST(hosm_sampler_run(c, s, n, NULL, NULL));
        CHECK(memcmp(x, y, n * D * sizeof *x) == 0, "annealed: same seed, different samples");
        int same = 0;
        for (int i = 0; i < n * D; i++)
            same += x[i] == s[i];
        CHECK(same == 0, "annealed: seeds 77 and 78 agree on %d of %d coordinates", same, n * D);
        memcpy(y, init, n * D * sizeof *y);
        MUST(hosm_sampler_run(a, y, n, NULL, NULL)); /* second run of sampler a */
        same = 0;
        for (int i = 0; i < n * D; i++)
            same += x[i] == y[i];
        CHECK(same == 0, "annealed: a second run repeated %d of %d coordinates (stream reset?)",
              same, n * D);
        hosm_sampler_free(a);
        hosm_sampler_free(b);
        hosm_sampler_free(c);
        free(init);
        hosm_sampler_free(smp);

        /* Plain Langevin on a ladder: sample_steps steps at the smallest level. */
        smp = make_sampler(lad, HOSM_SAMPLER_LANGEVIN, eps, T, 6);
        cb_log plain = {0};
        memset(x, 0, NCH * D * sizeof *x);
        MUST(hosm_sampler_run(smp, x, NCH, record, &plain));
        CHECK(plain.calls == T && plain.nvalues == 1 && plain.values[0] == 1.0,
              "langevin on a ladder: %lld calls at %d sigma value(s) (first %g), expected %lld "
              "at sigma_min = 1",
              (long long)plain.calls, plain.nvalues, plain.values[0], (long long)T);
        check_moments("langevin on a ladder (smallest level)", x, NCH, v1);
        hosm_sampler_free(smp);
        hosm_model_free(lad);
    }

    hosm_model_free(m);
    free(x);
    free(y);
    free(s);
    printf("time %.2f s\n", now_seconds() - t0);
    return finish("test_langevin");
}
