/*
 * test_normal: the standard normal floats of hosmi_rng_normal (lib/core/rng.c,
 * a ziggurat) and the exp and log it computes without libm.
 *
 * 1. hosmi_det_exp and hosmi_det_log against libm (relative error <= 1e-15),
 *    and the ziggurat's tables (lib/core/ziggurat.h) against their definition
 *    recomputed with libm: equal areas, f(x) = exp(-x^2/2), the thresholds.
 * 2. The distribution, from N = 2^27 draws of one seed (the test is
 *    deterministic: a failure is a property of the code, not bad luck). Every
 *    bound is 5 standard deviations of the statistic under an exact N(0, 1)
 *    (or the stated quantile):
 *    - raw moments E x, E x^2, E x^3, E x^4 (0, 1, 0, 3), with their exact
 *      standard deviations sqrt(1/N), sqrt(2/N), sqrt(15/N), sqrt(96/N);
 *    - the fractions with |x| > 1, 2, 3, 3.5, 4, 4.5, 5 against erfc, with
 *      binomial error bars (r = 3.654 is where the ziggurat's tail branch
 *      starts), and the fraction of positive values;
 *    - a chi-square over 0.01-wide bins of [-5, 5] plus the two tails
 *      (neighbouring bins merged until each expects >= 50), against
 *      dof + 5 sqrt(2 dof);
 *    - Kolmogorov-Smirnov over the first 2^20 draws: sqrt(n) D < 1.95
 *      (p = 0.001);
 *    - lag-1 dependence: the means of x_i x_{i+1} (sd 1/sqrt(N)) and of
 *      (x_i^2 - 1)(x_{i+1}^2 - 1) (sd 2/sqrt(N)).
 *    The same checks run on deliberately wrong samples made from the same
 *    draws, and must fail: variance 1.002 (the moments and the chi-square),
 *    a tail beyond r that is r + Exp(r) without the ziggurat's rejection step
 *    (the 4- and 4.5-sigma fractions), consecutive draws mixed to a
 *    correlation of 0.002 (lag 1), and a scale of 1.02 (Kolmogorov-Smirnov).
 * 3. Determinism: the same seed gives the same bits; the stream does not
 *    depend on how it is split into calls (odd n included); n = 0 changes
 *    nothing; nothing is written past n; and a hash of the first 2^20 values
 *    of seed 42 is pinned, so that a platform or compiler that gives other
 *    bits fails.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/ziggurat.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

/* ---- 1. exp, log and the tables ------------------------------------------ */

/* FNV-1a over the bytes of an integer, least significant first (the same
 * hash on any byte order). */
static uint64_t fnv_bits(uint64_t h, uint64_t bits, int bytes)
{
    for (int k = 0; k < bytes; k++) {
        h ^= (bits >> (8 * k)) & 0xff;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t fnv_double(uint64_t h, double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return fnv_bits(h, b, 8);
}

static uint64_t fnv_floats(uint64_t h, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &x[i], sizeof b);
        h = fnv_bits(h, b, 4);
    }
    return h;
}

static void test_exp_log(void)
{
    double worst_e = 0, worst_l = 0;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int64_t i = 0; i <= 2000000; i++) {
        /* the wedge's range, t = -x^2/2 for x in [0, r], densely; then wide */
        const double t = i <= 1000000 ? -7.0 * (double)i / 1e6 : -708.0 + 1417.0 * (double)(i - 1000000) / 1e6;
        const double e = hosmi_det_exp(t), ref = exp(t);
        h = fnv_double(h, e);
        const double rel = fabs(e - ref) / ref;
        if (rel > worst_e)
            worst_e = rel;
    }
    for (int64_t i = 1; i <= 2000000; i++) {
        /* u in (0, 1] as the tail draws it, then across the exponents */
        const double u = i <= 1000000 ? (double)i / 1e6 : ldexp(1.0 + (double)(i % 997) / 997.0, (int)(i % 2100) - 1070);
        if (u == 1.0)
            continue;
        const double l = hosmi_det_log(u), ref = log(u);
        h = fnv_double(h, l);
        const double rel = fabs(l - ref) / fabs(ref);
        if (rel > worst_l)
            worst_l = rel;
    }
    /* and around 1, where log u -> 0 */
    for (int i = 1; i < 100000; i++) {
        const double u = 1.0 - (double)i * 0x1p-40, v = 1.0 + (double)i * 0x1p-40;
        const double a = fabs(hosmi_det_log(u) - log(u)) / fabs(log(u));
        const double b = fabs(hosmi_det_log(v) - log(v)) / fabs(log(v));
        if (a > worst_l)
            worst_l = a;
        if (b > worst_l)
            worst_l = b;
    }
    printf("det_exp: worst relative error %.3g; det_log: %.3g; hash of their values %016llx\n",
           worst_e, worst_l, (unsigned long long)h);
    /* Pinned: the same bits on every platform (they decide the ziggurat's
     * rare branches, so they are part of the stream). */
    CHECK(h == 0x54b94b2eb44c02f3ULL, "hash %016llx differs from the pinned one", (unsigned long long)h);
    CHECK(worst_e <= 1e-15, "det_exp relative error %g", worst_e);
    CHECK(worst_l <= 1e-15, "det_log relative error %g", worst_l);
    CHECK(hosmi_det_exp(0.0) == 1.0 && hosmi_det_log(1.0) == 0.0, "exp(0), log(1)");
    CHECK(hosmi_det_exp(-800.0) == 0.0 && isinf(hosmi_det_exp(800.0)), "exp out of range");
    CHECK(isinf(hosmi_det_log(0.0)) && hosmi_det_log(0.0) < 0 && isnan(hosmi_det_log(-1.0)),
          "log(0), log(-1)");
    CHECK(fabs(hosmi_det_log(0x1p-1074) - log(0x1p-1074)) < 1e-12, "log of a subnormal");
}

static void test_tables(void)
{
    const int N = HOSMI_ZIG_LAYERS;
    const double r = HOSMI_ZIG_R, two53 = 0x1p53;
    const double v = r * exp(-0.5 * r * r) + sqrt(acos(-1.0) / 2) * erfc(r / sqrt(2.0));
    double worst_area = 0, worst_f = 0, worst_k = 0;
    CHECK(fabs(r * HOSMI_ZIG_INV_R - 1) < 1e-15, "1/r");
    CHECK(hosmi_zig_w[1] * two53 == r, "x[1] = r");
    CHECK(hosmi_zig_k[N - 1] == 0, "the top layer has no fast path");
    for (int i = 0; i < N; i++) {
        const double x = hosmi_zig_w[i] * two53, xu = i + 1 < N ? hosmi_zig_w[i + 1] * two53 : 0;
        CHECK(i == 0 || x < hosmi_zig_w[i - 1] * two53, "x decreasing at %d", i);
        /* layer i: [0, x) x [f(x[i]), f(x[i+1])), the base [0, x[0]) x [0, f(r)) */
        const double area = i == 0 ? x * hosmi_zig_f[1] : x * (hosmi_zig_f[i + 1] - hosmi_zig_f[i]);
        if (fabs(area / v - 1) > worst_area)
            worst_area = fabs(area / v - 1);
        const double fe = fabs(hosmi_zig_f[i] / exp(-0.5 * x * x) - 1);
        if (fe > worst_f)
            worst_f = fe;
        const double ke = fabs((double)hosmi_zig_k[i] - two53 * (xu / x));
        if (ke > worst_k)
            worst_k = ke;
    }
    printf("tables: v = %.17g, worst relative area error %.3g, f %.3g, k %.3g (units of 2^-53)\n",
           v, worst_area, worst_f, worst_k);
    /* the areas telescope from the top f = 1: cancellation costs digits */
    CHECK(worst_area < 1e-11, "equal areas: %g", worst_area);
    CHECK(worst_f < 1e-14, "f: %g", worst_f);
    CHECK(worst_k <= 8.0, "k: %g", worst_k);
    CHECK(hosmi_zig_f[N] == 1.0, "f(0)");
}

/* ---- 2. the distribution ------------------------------------------------- */

#define NB 1000 /* 0.01-wide bins of [-5, 5], plus two tails */
static const double tails[] = {1, 2, 3, 3.5, 4, 4.5, 5};
#define NT (int)(sizeof tails / sizeof tails[0])

typedef struct {
    int64_t n, pos, beyond[NT], bins[NB + 2];
    double m1, m2, m3, m4, lag, lag2, prev;
} stats;

static void add(stats *s, const float *x, int64_t n)
{
    /* sums of each chunk in double, added to the totals: no long chains */
    double m1 = 0, m2 = 0, m3 = 0, m4 = 0, lag = 0, lag2 = 0, prev = s->prev;
    for (int64_t i = 0; i < n; i++) {
        const double v = x[i], v2 = v * v;
        m1 += v;
        m2 += v2;
        m3 += v2 * v;
        m4 += v2 * v2;
        if (s->n + i > 0) {
            lag += prev * v;
            lag2 += (prev * prev - 1) * (v2 - 1);
        }
        prev = v;
        s->pos += v > 0;
        const double a = fabs(v);
        for (int k = 0; k < NT && a > tails[k]; k++)
            s->beyond[k]++;
        int b = v < -5 ? 0 : v >= 5 ? NB + 1 : 1 + (int)((v + 5) * 100); /* v + 5 >= 0 */
        if (b > NB) /* (v + 5) * 100 rounds up to 1000 just below 5 */
            b = NB;
        s->bins[b]++;
    }
    s->m1 += m1, s->m2 += m2, s->m3 += m3, s->m4 += m4, s->lag += lag, s->lag2 += lag2;
    s->prev = prev;
    s->n += n;
}

static double upper(double t) /* P(X > t) */
{
    return 0.5 * erfc(t / sqrt(2.0));
}

static double cdf(double t)
{
    return t < 0 ? upper(-t) : 1 - upper(t);
}

enum { C_MOMENTS = 1, C_TAILS = 2, C_CHI2 = 4, C_LAG = 8, C_SIGN = 16 };

/* The checks; returns the set that failed. Prints when verbose. */
static int judge(const stats *s, const char *name, int verbose)
{
    const double N = (double)s->n;
    int failed = 0;
    const double mom[4] = {s->m1 / N, s->m2 / N, s->m3 / N, s->m4 / N};
    const double want[4] = {0, 1, 0, 3}, sd[4] = {sqrt(1 / N), sqrt(2 / N), sqrt(15 / N), sqrt(96 / N)};
    if (verbose)
        printf("%s: N = %.0f\n", name, N);
    for (int k = 0; k < 4; k++) {
        const double z = (mom[k] - want[k]) / sd[k];
        if (verbose)
            printf("  E x^%d = %.7f (want %g, sd %.2g): %+.2f sd\n", k + 1, mom[k], want[k], sd[k], z);
        if (fabs(z) > 5)
            failed |= C_MOMENTS;
    }
    if (verbose) {
        const double var = mom[1] - mom[0] * mom[0];
        const double skew = (mom[2] - 3 * mom[0] * mom[1] + 2 * pow(mom[0], 3)) / pow(var, 1.5);
        const double kurt = (mom[3] - 4 * mom[0] * mom[2] + 6 * mom[0] * mom[0] * mom[1] - 3 * pow(mom[0], 4)) /
                            (var * var);
        printf("  mean %.2e, variance %.7f, skewness %.2e (sd %.1e), excess kurtosis %.2e (sd %.1e)\n",
               mom[0], var, skew, sqrt(6 / N), kurt - 3, sqrt(24 / N));
    }
    for (int k = 0; k < NT; k++) {
        const double p = 2 * upper(tails[k]), e = N * p, sdb = sqrt(N * p * (1 - p));
        const double z = ((double)s->beyond[k] - e) / sdb;
        if (verbose)
            printf("  |x| > %-3g: %10lld, expected %12.1f (p = %.4g, sd %.1f): %+.2f sd\n", tails[k],
                   (long long)s->beyond[k], e, p, sdb, z);
        if (fabs(z) > 5)
            failed |= C_TAILS;
    }
    {
        const double z = ((double)s->pos - N / 2) / sqrt(N / 4);
        if (verbose)
            printf("  x > 0: %lld (%+.2f sd)\n", (long long)s->pos, z);
        if (fabs(z) > 5)
            failed |= C_SIGN;
    }
    {
        /* chi-square: bins merged left to right until each expects >= 50 */
        double chi2 = 0, e = 0, o = 0;
        int dof = -1;
        for (int b = 0; b < NB + 2; b++) {
            const double lo = b == 0 ? -INFINITY : -5 + 0.01 * (b - 1);
            const double hi = b == NB + 1 ? INFINITY : -5 + 0.01 * b;
            const double p = lo >= 0 ? upper(lo) - upper(hi) : hi <= 0 ? upper(-hi) - upper(-lo) : cdf(hi) - cdf(lo);
            e += N * p;
            o += (double)s->bins[b];
            if (e >= 50 && (b == NB + 1 || N * upper(hi) >= 50)) {
                chi2 += (o - e) * (o - e) / e;
                dof++;
                e = o = 0;
            } else if (b == NB + 1) {
                chi2 += (o - e) * (o - e) / e; /* the last group, small */
                dof++;
            }
        }
        const double bound = dof + 5 * sqrt(2.0 * dof);
        if (verbose)
            printf("  chi-square %.1f, %d dof (bound %.1f)\n", chi2, dof, bound);
        if (chi2 > bound)
            failed |= C_CHI2;
    }
    {
        const double a = s->lag / (N - 1), b = s->lag2 / (N - 1);
        const double za = a * sqrt(N - 1), zb = b * sqrt(N - 1) / 2;
        if (verbose)
            printf("  lag 1: mean x_i x_i+1 %.2e (%+.2f sd), (x_i^2-1)(x_i+1^2-1) %.2e (%+.2f sd)\n", a,
                   za, b, zb);
        if (fabs(za) > 5 || fabs(zb) > 5)
            failed |= C_LAG;
    }
    if (verbose)
        printf("  failed checks: %#x\n", failed);
    return failed;
}

static int cmpf(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* sqrt(n) times the Kolmogorov-Smirnov distance of x[0..n) (sorted here) to N(0, 1). */
static double ks(float *x, int64_t n)
{
    qsort(x, (size_t)n, sizeof(float), cmpf);
    double d = 0;
    for (int64_t i = 0; i < n; i++) {
        const double F = cdf(x[i]);
        const double a = F - (double)i / (double)n, b = (double)(i + 1) / (double)n - F;
        if (a > d)
            d = a;
        if (b > d)
            d = b;
    }
    return sqrt((double)n) * d;
}

static void test_distribution(void)
{
    const int64_t N = (int64_t)1 << 27, chunk = 1 << 20;
    float *x = malloc((size_t)chunk * sizeof(float)), *y = malloc((size_t)chunk * sizeof(float));
    stats *st = calloc(4, sizeof(stats)); /* the draws; variance 1.002; bent tail; lag mixed */
    if (!x || !y || !st)
        abort();
    hosmi_rng rng;
    hosmi_rng_seed(&rng, 20240611, 3);
    const double r = HOSMI_ZIG_R, qr = upper(r), scale = sqrt(1.002);
    const double eps = 0.002, norm = 1 / sqrt(1 + eps * eps);
    double ks_ok = 0, ks_wide = 0, last = 0;
    for (int64_t done = 0; done < N; done += chunk) {
        hosmi_rng_normal(&rng, x, chunk);
        for (int64_t i = 0; i < chunk; i++)
            CHECK(isfinite(x[i]) && fabsf(x[i]) < 10, "draw %lld = %g", (long long)(done + i), x[i]);
        add(&st[0], x, chunk);
        for (int64_t i = 0; i < chunk; i++)
            y[i] = (float)(scale * x[i]);
        add(&st[1], y, chunk);
        for (int64_t i = 0; i < chunk; i++) {
            /* beyond r, the quantile map from the normal tail to r + Exp(r) */
            const double a = fabs(x[i]);
            y[i] = a > r ? (float)copysign(r - log(upper(a) / qr) / r, x[i]) : x[i];
        }
        add(&st[2], y, chunk);
        for (int64_t i = 0; i < chunk; i++) {
            y[i] = (float)((x[i] + eps * last) * norm);
            last = x[i];
        }
        add(&st[3], y, chunk);
        if (done == 0) {
            for (int64_t i = 0; i < chunk; i++)
                y[i] = 1.02f * x[i];
            ks_ok = ks(x, chunk);
            ks_wide = ks(y, chunk);
        }
    }
    CHECK(judge(&st[0], "hosmi_rng_normal", 1) == 0, "the draws fail a check");
    const int f1 = judge(&st[1], "deliberately wrong: variance 1.002", 1);
    const int f2 = judge(&st[2], "deliberately wrong: tail r + Exp(r)", 1);
    const int f3 = judge(&st[3], "deliberately wrong: lag-1 correlation 0.002", 1);
    CHECK((f1 & C_MOMENTS) && (f1 & C_CHI2), "variance 1.002 not detected (%#x)", f1);
    CHECK(f2 & C_TAILS, "a tail without rejection not detected (%#x)", f2);
    CHECK(f3 & C_LAG, "lag-1 correlation 0.002 not detected (%#x)", f3);
    printf("Kolmogorov-Smirnov, first 2^20 draws: sqrt(n) D = %.3f (bound 1.95); scaled by 1.02: %.3f\n",
           ks_ok, ks_wide);
    CHECK(ks_ok < 1.95, "Kolmogorov-Smirnov %g", ks_ok);
    CHECK(ks_wide >= 1.95, "a scale of 1.02 not detected by Kolmogorov-Smirnov (%g)", ks_wide);
    free(x);
    free(y);
    free(st);
}

/* ---- 3. determinism -------------------------------------------------------- */

static void test_determinism(void)
{
    const int64_t n = 1 << 20;
    float *a = malloc((size_t)(n + 8) * sizeof(float)), *b = malloc((size_t)(n + 8) * sizeof(float));
    if (!a || !b)
        abort();
    hosmi_rng r1, r2;
    hosmi_rng_seed(&r1, 42, 0);
    hosmi_rng_normal(&r1, a, n);
    const uint64_t h = fnv_floats(0xcbf29ce484222325ULL, a, n);
    printf("seed 42: first values %.9g %.9g %.9g %.9g; hash of 2^20 values %016llx\n", a[0], a[1],
           a[2], a[3], (unsigned long long)h);
    /* Pinned: any platform, compiler or option that gives other bits fails. */
    CHECK(h == 0xba5c7d75b83fbf32ULL, "hash %016llx differs from the pinned one", (unsigned long long)h);

    /* the same seed, in pieces of odd and even sizes: the same bits, and the
     * generator's state after it is the same */
    hosmi_rng_seed(&r2, 42, 0);
    for (int k = 0; k < 8; k++)
        b[n + k] = 123.0f;
    int64_t done = 0, piece = 1;
    while (done < n) {
        const int64_t m = piece < n - done ? piece : n - done;
        hosmi_rng_normal(&r2, b + done, m);
        done += m;
        piece = piece * 3 + 1; /* 1, 4, 13, 40, ...: odd and even */
        hosmi_rng_normal(&r2, b + done, 0);
    }
    CHECK(memcmp(a, b, (size_t)n * sizeof(float)) == 0, "split calls differ from one call");
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0, "the state after split calls differs");
    for (int k = 0; k < 8; k++)
        CHECK(b[n + k] == 123.0f, "written past n");
    /* odd n at the start: n = 1, 3, 7 give the prefixes */
    for (int64_t m = 1; m <= 7; m += 2) {
        hosmi_rng_seed(&r2, 42, 0);
        b[m] = 77.0f;
        hosmi_rng_normal(&r2, b, m);
        CHECK(memcmp(a, b, (size_t)m * sizeof(float)) == 0 && b[m] == 77.0f, "n = %lld", (long long)m);
    }
    /* another seed and another stream differ */
    hosmi_rng_seed(&r2, 43, 0);
    hosmi_rng_normal(&r2, b, 64);
    CHECK(memcmp(a, b, 64 * sizeof(float)) != 0, "seed 43 = seed 42");
    hosmi_rng_seed(&r2, 42, 1);
    hosmi_rng_normal(&r2, b, 64);
    CHECK(memcmp(a, b, 64 * sizeof(float)) != 0, "stream 1 = stream 0");
    free(a);
    free(b);
}

int main(void)
{
    test_exp_log();
    test_tables();
    test_determinism();
    test_distribution();
    if (failures) {
        printf("%d failure(s)\n", failures);
        return 1;
    }
    printf("all normal tests passed\n");
    return 0;
}
