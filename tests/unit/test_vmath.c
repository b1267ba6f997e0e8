/* The vectorised element-wise kernels of lib/nn/vmath.c against
 * double-precision libm:
 *  - the maximum error of e^x and of every activation's f, f', f'', in units
 *    in the last place (ulp) of the float result, over a dense linear sweep
 *    of [-100, 100] and a sweep of the float bit patterns of every binade
 *    up to 128 (subnormals included), against fixed bounds;
 *  - the special values (+-0, tiny, huge, +-Inf, NaN);
 *  - the reference's derivative formulas against central differences;
 *  - that every instruction-set variant the CPU runs (generic, AVX2,
 *    AVX-512; those the CPU lacks are skipped) gives the same bits, that the
 *    dispatch picks the widest one it has, and, in each variant, that the
 *    bits depend on the element only (not on n, the offset, in place or
 *    not, which outputs are asked for).
 *
 * The ulp of a value v is that of the float grid at |v| (2^(e-23) for
 * 2^e <= |v| < 2^(e+1)), and 2^-149 in the subnormal range. Where f' or f''
 * crosses zero (silu), a relative error means nothing next to the root; those
 * errors are in ulps of the magnitude of the formula's terms (s (1 + |z| (1-s))
 * and s (1-s) (2 + |z| |1-2s|)), the size the float rounding errors scale
 * with. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "nn/vmath.h"

/* Error bounds in ulps, about 20% above the maxima measured by this test
 * (docs/performance.md lists them): for e^x, and per activation for f, f'
 * and f''. And the bound on the relative error of every result in the normal
 * float range (of the terms, for silu's f' and f''). */
#define BOUND_EXP 1.5
static const double bound_ulp[4][3] = {
    {2.0, 3.0, 5.0}, /* softplus */
    {4.0, 5.0, 6.0}, /* silu */
    {3.0, 7.0, 9.0}, /* tanh */
    {1.5, 1.5, 1.5}, /* elu */
};
#define BOUND_REL 1e-6
#define BOUND_SPECIAL 9.0

static const char *const act_names[4] = {"softplus", "silu", "tanh", "elu"};

/* ---- double-precision references ---------------------------------------- */
typedef struct {
    double f, d1, d2;
    double s1, s2; /* the scales of d1 and d2 the error is measured in */
} ref3;

static ref3 reference(int act, double z)
{
    ref3 r;
    double e = exp(-fabs(z)); /* e^-|z| */
    double sp = 1.0 / (1.0 + e), sn = e / (1.0 + e);
    double s = z >= 0 ? sp : sn, sc = z >= 0 ? sn : sp; /* sigmoid(z), 1 - s */
    switch (act) {
    case HOSM_ACT_SILU:
        r.f = z * s;
        r.d1 = s * (1.0 + z * sc);
        r.d2 = s * sc * (2.0 + z * (sc - s));
        r.s1 = s * (1.0 + fabs(z) * sc);
        r.s2 = s * sc * (2.0 + fabs(z) * fabs(sc - s));
        break;
    case HOSM_ACT_TANH: {
        double t = tanh(z), e2 = exp(-2.0 * fabs(z));
        r.f = t;
        r.d1 = 4.0 * e2 / ((1.0 + e2) * (1.0 + e2)); /* 1 - t^2, no cancellation */
        r.d2 = -2.0 * t * r.d1;
        r.s1 = r.d1;
        r.s2 = r.d2;
        break;
    }
    case HOSM_ACT_ELU:
        r.f = z > 0 ? z : expm1(z);
        r.d1 = z > 0 ? 1.0 : exp(z);
        r.d2 = z > 0 ? 0.0 : exp(z);
        r.s1 = r.d1;
        r.s2 = r.d2;
        break;
    default:
        r.f = fmax(z, 0.0) + log1p(e);
        r.d1 = s;
        r.d2 = s * sc;
        r.s1 = r.d1;
        r.s2 = r.d2;
        break;
    }
    return r;
}

/* The ulp of the float grid at |v|. */
static double ulp_at(double v)
{
    v = fabs(v);
    if (v < FLT_MIN)
        return 0x1p-149;
    int e;
    frexp(v, &e); /* v = m 2^e, m in [0.5, 1) */
    return ldexp(1.0, e - 24);
}

/* |got - ref| in ulps of scale; 0 when both are the same infinity. */
static double ulp_err(float got, double ref, double scale)
{
    if (isinf(got) && (float)ref == got) /* overflowed in float too */
        return 0.0;
    if (isinf(ref) || isinf(got) || isnan(got))
        return INFINITY;
    return fabs((double)got - ref) / ulp_at(scale);
}

/* |got - ref| / scale, over results in the normal range only. */
static double rel_err(float got, double ref, double scale)
{
    if (fabs(scale) < FLT_MIN || fabs(scale) > FLT_MAX)
        return 0.0;
    return fabs((double)got - ref) / fabs(scale);
}

/* ---- the sweeps ------------------------------------------------------------ */
/* The dense linear sweep of [-100, 100] in steps of 1e-4, then both signs
 * of every 1021st float bit pattern from 2^-149 up to 128. */
static float *make_sweep(int64_t *count)
{
    const int64_t nlin = 2000001;
    const uint32_t top = 0x43000000u; /* 128.0f */
    const uint32_t stride = 1021;
    int64_t nbits = 2 * (int64_t)(top / stride + 1);
    float *z = xmalloc((size_t)(nlin + nbits) * sizeof(float));
    int64_t n = 0;
    for (int64_t i = 0; i < nlin; i++)
        z[n++] = (float)(-100.0 + 1e-4 * (double)i);
    for (uint32_t b = 1; b <= top; b += stride) {
        float v;
        memcpy(&v, &b, sizeof v);
        z[n++] = v;
        z[n++] = -v;
    }
    *count = n;
    return z;
}

typedef struct {
    double ulp, rel;
    float at;
} worst;

static void note(worst *w, double ulp, double rel, float z)
{
    if (ulp > w->ulp || isnan(ulp)) {
        w->ulp = ulp;
        w->at = z;
    }
    if (rel > w->rel)
        w->rel = rel;
}

static void report(const char *what, const worst *w, double bound)
{
    char buf[160];
    snprintf(buf, sizeof buf, "%s max error, ulp (at z = %.9g)", what, (double)w->at);
    check_le(buf, w->ulp, bound);
    snprintf(buf, sizeof buf, "%s max relative error", what);
    check_le(buf, w->rel, BOUND_REL);
}

static void check_exp(const float *x, int64_t n, float *y)
{
    hosmi_vexp(x, y, n);
    worst w = {0, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        double r = exp((double)x[i]);
        note(&w, ulp_err(y[i], r, r), rel_err(y[i], r, r), x[i]);
    }
    /* e^x over its whole float range, beyond the activations' sweep. */
    for (int64_t i = 0; i <= 200000; i++) {
        float xi = (float)(-105.0 + 195.0 * (double)i / 200000.0), yi;
        hosmi_vexp(&xi, &yi, 1);
        double r = exp((double)xi);
        note(&w, ulp_err(yi, r, r), rel_err(yi, r, r), xi);
    }
    report("exp", &w, BOUND_EXP);
}

static void check_act(int act, const float *z, int64_t n, float *a, float *d1, float *d2)
{
    hosmi_vact(act, z, a, d1, d2, n);
    worst wf = {0, 0, 0}, w1 = {0, 0, 0}, w2 = {0, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        ref3 r = reference(act, (double)z[i]);
        note(&wf, ulp_err(a[i], r.f, r.f), rel_err(a[i], r.f, r.f), z[i]);
        note(&w1, ulp_err(d1[i], r.d1, r.s1), rel_err(d1[i], r.d1, r.s1), z[i]);
        note(&w2, ulp_err(d2[i], r.d2, r.s2), rel_err(d2[i], r.d2, r.s2), z[i]);
    }
    char what[64];
    snprintf(what, sizeof what, "%s f", act_names[act]);
    report(what, &wf, bound_ulp[act][0]);
    const char *terms = act == HOSM_ACT_SILU ? " (of terms)" : "";
    snprintf(what, sizeof what, "%s f'%s", act_names[act], terms);
    report(what, &w1, bound_ulp[act][1]);
    snprintf(what, sizeof what, "%s f''%s", act_names[act], terms);
    report(what, &w2, bound_ulp[act][2]);
}

/* For comparison only (no bound): the scalar float formulas of lib/nn/mlp.c
 * today, f and f' (mlp.c has no f''). */
static void mlp_scalar(int act, float z, float *f, float *df)
{
    switch (act) {
    case HOSM_ACT_SILU: {
        *f = z / (1.0f + expf(-z));
        float s = 1.0f / (1.0f + expf(-z));
        *df = s + z * s * (1.0f - s);
        break;
    }
    case HOSM_ACT_TANH:
        *f = tanhf(z);
        *df = 1.0f - *f * *f;
        break;
    case HOSM_ACT_ELU:
        *f = z > 0.0f ? z : expm1f(z);
        *df = z > 0.0f ? 1.0f : *f + 1.0f;
        break;
    default:
        *f = fmaxf(z, 0.0f) + log1pf(expf(-fabsf(z)));
        *df = 1.0f / (1.0f + expf(-z));
        break;
    }
}

static void report_mlp_scalar(const float *z, int64_t n)
{
    printf("for comparison, the scalar float formulas of lib/nn/mlp.c (no bound):\n");
    for (int act = 0; act < 4; act++) {
        worst wf = {0, 0, 0}, w1 = {0, 0, 0};
        for (int64_t i = 0; i < n; i++) {
            float f, df;
            mlp_scalar(act, z[i], &f, &df);
            ref3 r = reference(act, (double)z[i]);
            note(&wf, ulp_err(f, r.f, r.f), rel_err(f, r.f, r.f), z[i]);
            note(&w1, ulp_err(df, r.d1, r.s1), rel_err(df, r.d1, r.s1), z[i]);
        }
        printf("     %-8s f  %.3g ulp (at %.9g, max rel %.3g)   "
               "f' %.3g ulp (at %.9g, max rel %.3g)\n",
               act_names[act], wf.ulp, (double)wf.at, wf.rel, w1.ulp, (double)w1.at, w1.rel);
    }
}

/* ---- special values --------------------------------------------------------- */
static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void check_specials(void)
{
    const float specials[] = {0.0f,      -0.0f,      0x1p-149f, -0x1p-149f, FLT_MIN, -FLT_MIN,
                              1e-30f,    -1e-30f,    1e-8f,     -1e-8f,     1.0f,    -1.0f,
                              88.72f,    -88.72f,    103.9f,    -103.9f,    200.0f,  -200.0f,
                              1e10f,     -1e10f,     1e30f,     -1e30f,     FLT_MAX, -FLT_MAX,
                              INFINITY,  -INFINITY};
    const int ns = (int)(sizeof specials / sizeof specials[0]);
    float a[32], d1[32], d2[32];
    for (int act = 0; act < 4; act++) {
        hosmi_vact(act, specials, a, d1, d2, ns);
        double wf = 0, w1 = 0, w2 = 0;
        for (int i = 0; i < ns; i++) {
            double z = specials[i];
            ref3 r = reference(act, isinf(z) ? copysign(1e300, z) : z);
            if (isinf(z)) { /* the limits */
                r.f = act == HOSM_ACT_TANH ? copysign(1.0, z)
                      : act == HOSM_ACT_ELU && z < 0 ? -1.0
                      : z > 0 ? z : 0.0;
            }
            wf = fmax(wf, ulp_err(a[i], r.f, r.f));
            w1 = fmax(w1, ulp_err(d1[i], r.d1, r.s1));
            w2 = fmax(w2, ulp_err(d2[i], r.d2, r.s2));
        }
        char what[96];
        snprintf(what, sizeof what, "%s special values: f, f', f'' max error, ulp",
                 act_names[act]);
        check_le(what, fmax(wf, fmax(w1, w2)), BOUND_SPECIAL);
        /* Signs and exact values. */
        CHECK(same_bits(a[0], 0.0f) || act == HOSM_ACT_SOFTPLUS, "%s(0)", act_names[act]);
        if (act == HOSM_ACT_TANH || act == HOSM_ACT_ELU)
            CHECK(same_bits(a[1], -0.0f), "%s(-0) = %g, not -0", act_names[act], (double)a[1]);
        if (act == HOSM_ACT_SILU)
            CHECK(a[1] == 0.0f && same_bits(a[ns - 1], -0.0f) && d1[ns - 1] == 0.0f &&
                      d2[ns - 1] == 0.0f,
                  "silu(-0), silu(-Inf) = %g", (double)a[ns - 1]);
        CHECK(isinf(a[ns - 2]) == (act != HOSM_ACT_TANH), "%s(+Inf) = %g", act_names[act],
              (double)a[ns - 2]);
        CHECK(act != HOSM_ACT_TANH || (a[ns - 2] == 1.0f && a[ns - 1] == -1.0f),
              "tanh(+-Inf)");
        CHECK(act != HOSM_ACT_SOFTPLUS || (a[ns - 1] == 0.0f && d1[ns - 1] == 0.0f &&
                                           d1[ns - 2] == 1.0f && d2[ns - 2] == 0.0f),
              "softplus at +-Inf");
        for (int i = 0; i < ns; i++)
            CHECK(!isnan(a[i]) && !isnan(d1[i]) && !isnan(d2[i]), "%s(%g) gave a NaN",
                  act_names[act], (double)specials[i]);
        /* NaN in, NaN out, in every output, among finite neighbours. */
        float zn[3] = {1.0f, NAN, -1.0f};
        hosmi_vact(act, zn, a, d1, d2, 3);
        CHECK(isnan(a[1]) && isnan(d1[1]) && isnan(d2[1]), "%s(NaN) is not NaN", act_names[act]);
        CHECK(!isnan(a[0]) && !isnan(a[2]) && !isnan(d1[0]) && !isnan(d2[2]),
              "%s: a NaN spread to its neighbours", act_names[act]);
    }
    float x[6] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 89.0f}, y[6];
    hosmi_vexp(x, y, 6);
    CHECK(y[0] == 1.0f && y[1] == 1.0f && isinf(y[2]) && y[3] == 0.0f && isnan(y[4]) &&
              isinf(y[5]),
          "exp special values: %g %g %g %g %g %g", (double)y[0], (double)y[1], (double)y[2],
          (double)y[3], (double)y[4], (double)y[5]);
    float big = 88.72f, yb;
    hosmi_vexp(&big, &yb, 1);
    CHECK(isfinite(yb) && yb > 3.3e38f, "exp(88.72) = %g, not finite near FLT_MAX", (double)yb);
}

/* ---- the reference's derivatives against central differences ----------- */
static void check_reference_derivatives(void)
{
    double worst1 = 0, worst2 = 0;
    for (int act = 0; act < 4; act++) {
        for (int i = 0; i <= 4000; i++) {
            double z = -20.0 + 40.0 * i / 4000.0 + 1e-3; /* off the elu kink at 0 */
            double h = 1e-4 * fmax(1.0, fabs(z));
            ref3 r = reference(act, z), rp = reference(act, z + h), rm = reference(act, z - h);
            double fd1 = (rp.f - rm.f) / (2 * h), fd2 = (rp.d1 - rm.d1) / (2 * h);
            /* Truncation error h^2 f'''/6, about 1e-8 of the scale, and the
             * rounding noise of the difference, 4 eps |f| / h, allowed on top: it dominates
             * where the derivative is tiny (the flat tails). */
            double n1 = 4 * DBL_EPSILON * (1 + fabs(r.f)) / h;
            double n2 = 4 * DBL_EPSILON * (1 + fabs(r.d1)) / h;
            double e1 = fmax(0.0, fabs(fd1 - r.d1) - n1) / (fabs(r.s1) + 1e-300);
            double e2 = fmax(0.0, fabs(fd2 - r.d2) - n2) / (fabs(r.s2) + 1e-300);
            if (getenv("VMATH_DEBUG") && (e1 > 1e-6 || e2 > 1e-6)) /* the worst points */
                printf("  fd %s z=%g e1=%g e2=%g d1=%g fd1=%g d2=%g fd2=%g\n", act_names[act],
                       z, e1, e2, r.d1, fd1, r.d2, fd2);
            worst1 = fmax(worst1, e1);
            worst2 = fmax(worst2, e2);
        }
    }
    check_le("reference f' vs central difference of f, relative", worst1, 1e-6);
    check_le("reference f'' vs central difference of f', relative", worst2, 1e-6);
}

/* ---- the error meter can fail ----------------------------------------------- */
static void check_meter(void)
{
    double r = exp(-1.0);
    float exact = (float)r, off = nextafterf(nextafterf(exact, 1.0f), 1.0f);
    check_ge("meter: a result 2 floats off reads as ulp", ulp_err(off, r, r), 1.5);
    check_le("meter: the rounded reference reads as ulp", ulp_err(exact, r, r), 0.5);
    check_ge("meter: a wrong infinity reads as ulp", ulp_err(INFINITY, r, r), 1e30);
}

/* ---- determinism ------------------------------------------------------------ */
static void check_variants_agree(const float *z, int64_t n)
{
    float *a0 = xmalloc((size_t)n * 3 * sizeof(float));
    float *a1 = xmalloc((size_t)n * 3 * sizeof(float));
    int avail = 0;
    for (int isa = 0; isa < HOSMI_VISA_COUNT; isa++) {
        int ok = hosmi_visa_available(isa);
        printf("     variant %-8s %s%s\n", hosmi_visa_name(isa), ok ? "available" : "not available",
               isa == hosmi_visa_selected() ? " (selected)" : "");
        avail += ok;
    }
    for (int isa = 1; isa < HOSMI_VISA_COUNT; isa++) {
        if (!hosmi_visa_available(isa))
            continue;
        for (int act = 0; act < 4; act++) {
            hosmi_vact_isa(HOSMI_VISA_GENERIC, act, z, a0, a0 + n, a0 + 2 * n, n);
            hosmi_vact_isa(isa, act, z, a1, a1 + n, a1 + 2 * n, n);
            CHECK(memcmp(a0, a1, (size_t)n * 3 * sizeof(float)) == 0,
                  "%s: variant %s differs from generic", act_names[act], hosmi_visa_name(isa));
        }
        hosmi_vexp_isa(HOSMI_VISA_GENERIC, z, a0, n);
        hosmi_vexp_isa(isa, z, a1, n);
        CHECK(memcmp(a0, a1, (size_t)n * sizeof(float)) == 0, "exp: variant %s differs",
              hosmi_visa_name(isa));
    }
    int best = HOSMI_VISA_GENERIC;
    for (int isa = 0; isa < HOSMI_VISA_COUNT; isa++)
        if (hosmi_visa_available(isa))
            best = isa;
    CHECK(hosmi_visa_selected() == best, "the dispatch picks %s, not the widest available, %s",
          hosmi_visa_name(hosmi_visa_selected()), hosmi_visa_name(best));
    printf("     %d variant(s) compared bit for bit\n", avail);
    free(a0);
    free(a1);
}

static void check_position_independent(int isa, const float *z, int64_t n)
{
    /* 1000 elements of the sweep, at odd offsets and lengths, in place and
     * with outputs left out: the same bits as one full call. */
    const int64_t m = 1000;
    const float *src = z + n / 3;
    float full[3][1000], part[3][1000], buf[1001];
    for (int act = 0; act < 4; act++) {
        hosmi_vact_isa(isa, act, src, full[0], full[1], full[2], m);
        int bad = 0;
        const int64_t lens[] = {1, 3, 63, 64, 65, 127, 200};
        for (int64_t start = 0, li = 0; start < m; li++) {
            int64_t len = lens[li % 7] < m - start ? lens[li % 7] : m - start;
            hosmi_vact_isa(isa, act, src + start, part[0] + start, part[1] + start,
                           part[2] + start, len);
            start += len;
        }
        bad |= memcmp(full, part, sizeof full) != 0;
        /* Misaligned, in place, one output at a time. */
        for (int o = 0; o < 3; o++) {
            memcpy(buf + 1, src, (size_t)m * sizeof(float));
            hosmi_vact_isa(isa, act, buf + 1, o == 0 ? buf + 1 : NULL, o == 1 ? buf + 1 : NULL,
                           o == 2 ? buf + 1 : NULL, m);
            bad |= memcmp(buf + 1, full[o], (size_t)m * sizeof(float)) != 0;
        }
        /* f' and f'' without f; f and f' without f''. */
        memset(part, 0, sizeof part);
        hosmi_vact_isa(isa, act, src, NULL, part[1], part[2], m);
        bad |= memcmp(part[1], full[1], sizeof part[1]) != 0;
        bad |= memcmp(part[2], full[2], sizeof part[2]) != 0;
        memset(part, 0, sizeof part);
        hosmi_vact_isa(isa, act, src, part[0], part[1], NULL, m);
        bad |= memcmp(part[0], full[0], sizeof part[0]) != 0;
        bad |= memcmp(part[1], full[1], sizeof part[1]) != 0;
        CHECK(!bad, "%s (%s): results depend on n, offset, in place or the outputs asked for",
              act_names[act], hosmi_visa_name(isa));
    }
}

/* FNV-1a over the bits of every kernel's outputs on the sweep: printed, so
 * that builds (compilers, optimisation levels, CPUs) can be compared. */
static uint64_t outputs_hash(const float *z, int64_t n, float *a, float *d1, float *d2)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int act = 0; act < 5; act++) {
        if (act < 4)
            hosmi_vact(act, z, a, d1, d2, n);
        else
            hosmi_vexp(z, a, n);
        for (int o = 0; o < (act < 4 ? 3 : 1); o++) {
            const unsigned char *b = (const unsigned char *)(o == 0 ? a : o == 1 ? d1 : d2);
            for (size_t i = 0; i < (size_t)n * sizeof(float); i++)
                h = (h ^ b[i]) * 0x100000001b3ULL;
        }
    }
    return h;
}

int main(void)
{
    int64_t n;
    float *z = make_sweep(&n);
    float *a = xmalloc((size_t)n * sizeof(float)), *d1 = xmalloc((size_t)n * sizeof(float)),
          *d2 = xmalloc((size_t)n * sizeof(float));
    printf("sweep: %lld points; kernels run as variant %s\n", (long long)n,
           hosmi_visa_name(hosmi_visa_selected()));

    check_meter();
    check_reference_derivatives();
    check_exp(z, n, a);
    for (int act = 0; act < 4; act++)
        check_act(act, z, n, a, d1, d2);
    check_specials();
    check_variants_agree(z, n);
    for (int isa = 0; isa < HOSMI_VISA_COUNT; isa++)
        if (hosmi_visa_available(isa))
            check_position_independent(isa, z, n);
    report_mlp_scalar(z, n);
    printf("     hash of all outputs on the sweep: %016llx\n",
           (unsigned long long)outputs_hash(z, n, a, d1, d2));

    free(z);
    free(a);
    free(d1);
    free(d2);
    return finish("test_vmath");
}
