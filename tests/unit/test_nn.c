/* White-box tests of lib/nn: the activation table and the batched MLP
 * (forward, backward, forward-mode tangents, reverse over forward). Every
 * check compares the library's float result with an independent double
 * reference written here: the activations from their formulas, the network
 * from the parameter layout documented in lib/nn/mlp.h. Derivatives of the
 * reference are central finite differences in double, never the library's
 * own formulas.
 *
 * Tolerances. u = 2^-24 (float unit roundoff).
 *  - Activation values: the kernels use expf, log1pf, expm1f, tanhf, each
 *    within a few ulp, composed with at most two more roundings, so
 *    |f - ref| <= 8 u |ref| + 8e-36. The absolute floor admits results
 *    that underflow: silu(z) = z / (1 + expf(-z)) is -0 once expf(-z)
 *    overflows (z < -88.72), where the true value is down to -2.8e-37 (still
 *    a normal float; a harmless accuracy limit, reported, not a bug: such
 *    values vanish in every sum they enter).
 *  - Activation derivatives: they are built from the sigmoid s or from
 *    t = tanh z, whose absolute rounding (<= u) enters 1 - s or 1 - t^2
 *    unscaled and is multiplied by z in silu', so |d - ref| <= 8 u (1 + |z|);
 *    |z| is capped at 20 in the bound because beyond |z| ~ 17 s and t round to
 *    exactly 0 or 1 and those products vanish (the true terms are below
 *    20 e^-17 u). The references are fourth-order five-point differences of
 *    the double formulas (h = 1e-3 for f', 1e-2 for f''): truncation below
 *    1e-8 and rounding below 1e-8 even at |z| = 1000, under 0.2 of the bound
 *    at |z| = 0. ELU is not twice differentiable at 0; there the stencil
 *    is taken on the analytic piece the kernel uses (expm1 for z <= 0, the
 *    identity for z > 0).
 *  - Network results (outputs, JVPs, gradients) are compared as
 *    max |lib - ref| / max |ref| over the whole array. With in 3, hidden 5,
 *    out 4, n 3 and depth <= 3 each value is a chain of <= 4 dot products of
 *    length <= 5 (times n k rows for gradients) through Lipschitz-1
 *    activations: a few tens of u of the array's scale; measured 3e-7 for
 *    outputs, <= 1.3e-6 for JVPs and gradients. The bounds are 5e-6 for
 *    forward values, 1e-5 for JVPs and gradients, 2e-5 under reverse over
 *    forward (one more product a level); the central differences in double
 *    (h = 1e-5) add < 1e-8.
 *    A wrong weight, layout or missing term changes the result by O(1) of
 *    its scale; a perturbation of 1e-3 in one activation trips all bounds.
 *
 * Deliberate perturbations (to see the checks fail): HOSM_TEST_PERTURB=1
 * adds 1e-4 sin z to the reference activations, =2 adds 1e-3 z to the
 * network reference's hidden activations, =3 scales the reference f' of
 * the analytic JVP by 1 + 1e-3, =4 reads the reference level embedding
 * from the wrong level. Each must make this program fail. */
#include <float.h>
#include <stdarg.h>

#include "../test_util.h"
#include "nn/act.h"
#include "nn/mlp.h"

static int g_perturb;
static const char *const act_name[] = {"softplus", "silu", "tanh", "elu"};
static const hosmi_blas g_blas = {1, HOSM_GEMM_AUTO, NULL};

/* ---- aggregated checks: one counted check per case, one line per group ---- */
typedef struct {
    const char *what;
    double bound, worst;
    int cases, fails;
} group;

static void group_add(group *g, double e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void group_add(group *g, double e, const char *fmt, ...)
{
    g_checks++;
    g->cases++;
    if (!(e <= g->bound)) {
        g_failures++;
        g->fails++;
        if (g->fails <= 5) {
            va_list ap;
            va_start(ap, fmt);
            printf("FAIL %s [", g->what);
            vprintf(fmt, ap);
            printf("]: %.4g > %.4g\n", e, g->bound);
            va_end(ap);
        }
    }
    if (!(e <= g->worst))
        g->worst = e;
}

static void group_report(const group *g)
{
    printf("%-4s %-58s %4d cases, worst %.3g  bound <= %.3g\n", g->fails ? "FAIL" : "ok", g->what,
           g->cases, g->worst, g->bound);
}

/* max |got - ref| / max |ref| */
static double rel_err(const float *got, const double *ref, int64_t n)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        num = d > num || isnan(d) ? d : num;
        den = fmax(den, fabs(ref[i]));
    }
    return num / (den > 0.0 ? den : 1.0);
}

static double rel_err_d(const double *got, const double *ref, int64_t n)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(got[i] - ref[i]);
        num = d > num || isnan(d) ? d : num;
        den = fmax(den, fabs(ref[i]));
    }
    return num / (den > 0.0 ? den : 1.0);
}

/* ==== activations ========================================================= */

/* f in double. piece (ELU only): 0 the function, -1 its z <= 0 formula
 * everywhere, +1 its z > 0 formula everywhere. */
static double ref_f(int act, double z, int piece)
{
    double f;
    switch (act) {
    case HOSM_ACT_SOFTPLUS: f = z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z)); break;
    case HOSM_ACT_SILU: f = z / (1.0 + exp(-z)); break;
    case HOSM_ACT_TANH: f = tanh(z); break;
    default:
        if (piece == 0)
            piece = z > 0.0 ? 1 : -1;
        f = piece > 0 ? z : expm1(z);
        break;
    }
    if (g_perturb == 1)
        f += 1e-4 * sin(z);
    return f;
}

/* f' in double, analytic (the network reference's JVP uses it; checked here
 * against differences of ref_f). */
static double ref_f1(int act, double z)
{
    double d, s = 1.0 / (1.0 + exp(-z));
    switch (act) {
    case HOSM_ACT_SOFTPLUS: d = s; break;
    case HOSM_ACT_SILU: d = s + z * s * (1.0 - s); break;
    case HOSM_ACT_TANH: d = 1.0 - tanh(z) * tanh(z); break;
    default: d = z > 0.0 ? 1.0 : exp(z); break;
    }
    return g_perturb == 3 ? d * (1.0 + 1e-3) : d;
}

/* Five-point differences: order-4 f' (step h) and f'' (step h). */
static double fd1(int act, double z, double h, int piece)
{
    return (-ref_f(act, z + 2 * h, piece) + 8 * ref_f(act, z + h, piece) -
            8 * ref_f(act, z - h, piece) + ref_f(act, z - 2 * h, piece)) /
           (12 * h);
}

static double fd2(int act, double z, double h, int piece)
{
    return (-ref_f(act, z + 2 * h, piece) + 16 * ref_f(act, z + h, piece) -
            30 * ref_f(act, z, piece) + 16 * ref_f(act, z - h, piece) -
            ref_f(act, z - 2 * h, piece)) /
           (12 * h * h);
}

static void test_activations(void)
{
    const double special[] = {0.0,  1e-30, 1e-6, 1e-3, 0.01, 0.1, 0.5,  1.0,  1.5,  2.0,
                              3.0,  5.0,   8.0,  10.0, 15.0, 16.6, 17.0, 20.0, 25.0, 30.0,
                              40.0, 60.0,  88.0, 89.0, 100.0, 1000.0};
    enum { NS = sizeof special / sizeof special[0], NG = 65, NZ = 2 * NS + NG };
    float z[NZ], a[NZ], d1[NZ], d2[NZ], b[NZ], e1[NZ], e2[NZ], w[NZ];
    int nz = 0;
    for (int i = 0; i < NS; i++) {
        z[nz++] = (float)special[i];
        z[nz++] = (float)-special[i];
    }
    for (int i = 0; i < NG; i++) /* -8 .. 8 in steps of 0.25 */
        z[nz++] = -8.0f + 0.25f * (float)i;
    group gf = {"activation values, |f - ref| / (u |ref| + 1e-36)", 8.0, 0, 0, 0};
    group g1 = {"f' vs 5-point differences, |err| / (u (1 + min(|z|, 20)))", 8.0, 0, 0, 0};
    group g2 = {"f'' vs 5-point differences, |err| / (u (1 + min(|z|, 20)))", 8.0, 0, 0, 0};
    group gr = {"reference f' (double, analytic) vs differences", 1e-8, 0, 0, 0};
    for (int act = 0; act < 4; act++) {
        hosmi_act_fn k = hosmi_act_kernel(act);
        k(z, a, d1, d2, nz);
        for (int i = 0; i < nz; i++) {
            const double zi = z[i];
            /* ELU's kink: the stencils stay on the piece the kernel uses. */
            int piece = act == HOSM_ACT_ELU && fabs(zi) < 0.05 ? (zi > 0.0 ? 1 : -1) : 0;
            const double f = ref_f(act, zi, piece), f1 = fd1(act, zi, 1e-3, piece),
                         f2 = fd2(act, zi, 1e-2, piece);
            const double sc = U32 * (1.0 + fmin(fabs(zi), 20.0));
            group_add(&gf, fabs(a[i] - f) / (U32 * fabs(f) + 1e-36), "%s z=%g: f=%.9g ref=%.9g",
                      act_name[act], zi, a[i], f);
            group_add(&g1, fabs(d1[i] - f1) / sc, "%s z=%g: f'=%.9g ref=%.9g", act_name[act], zi,
                      d1[i], f1);
            group_add(&g2, fabs(d2[i] - f2) / sc, "%s z=%g: f''=%.9g ref=%.9g", act_name[act],
                      zi, d2[i], f2);
            group_add(&gr, fabs(ref_f1(act, zi) - f1), "%s z=%g", act_name[act], zi);
        }
        /* The same values without derivatives, with one of them, and in place. */
        int same = 1;
        k(z, b, NULL, NULL, nz);
        for (int i = 0; i < nz; i++)
            same &= b[i] == a[i];
        CHECK(same, "%s: values without derivatives differ", act_name[act]);
        k(z, b, e1, NULL, nz);
        same = 1;
        for (int i = 0; i < nz; i++)
            same &= b[i] == a[i] && e1[i] == d1[i];
        CHECK(same, "%s: values or f' with d2 NULL differ", act_name[act]);
        k(z, b, NULL, e2, nz);
        same = 1;
        for (int i = 0; i < nz; i++)
            same &= b[i] == a[i] && e2[i] == d2[i];
        CHECK(same, "%s: values or f'' with d1 NULL differ", act_name[act]);
        memcpy(w, z, sizeof z);
        k(w, w, e1, e2, nz);
        same = 1;
        for (int i = 0; i < nz; i++)
            same &= w[i] == a[i] && e1[i] == d1[i] && e2[i] == d2[i];
        CHECK(same, "%s: in-place evaluation (a == z) differs", act_name[act]);
        int finite = 1;
        for (int i = 0; i < nz; i++)
            finite &= isfinite(a[i]) && isfinite(d1[i]) && isfinite(d2[i]);
        CHECK(finite, "%s: a non-finite value or derivative over |z| <= 1000", act_name[act]);
    }
    group_report(&gf);
    group_report(&g1);
    group_report(&g2);
    group_report(&gr);
}

/* ==== the network reference ================================================ */

#define MAXW 8 /* widths (in, hidden, out) */
#define MAXK 8 /* tangents a row */

typedef struct {
    int64_t in, H, out, depth, levels;
    int act;
} rnet;

static int64_t r_fin(const rnet *r, int64_t l)
{
    return l == 0 ? r->in : r->H;
}

static int64_t r_fout(const rnet *r, int64_t l)
{
    return l == r->depth ? r->out : r->H;
}

/* Offsets of W_l and b_l (l = depth: the output layer), from the documented
 * layout: the layers one after another, each W (fan_out x fan_in, row-major)
 * then b. */
static void r_layer(const rnet *r, int64_t l, int64_t *w, int64_t *b)
{
    int64_t off = 0;
    for (int64_t j = 0; j < l; j++)
        off += r_fout(r, j) * (r_fin(r, j) + 1);
    *w = off;
    *b = off + r_fout(r, l) * r_fin(r, l);
}

static int64_t r_emb_off(const rnet *r)
{
    int64_t w, b;
    r_layer(r, r->depth, &w, &b);
    return r->levels > 1 ? b + r->out : -1;
}

static int64_t r_nparams(const rnet *r)
{
    int64_t w, b;
    r_layer(r, r->depth, &w, &b);
    return b + r->out + (r->levels > 1 ? r->levels * r->H : 0);
}

/* out (n x out) and, when tin is not NULL, the JVPs tout (n k x out) along
 * the k tangents tin (n k x in) of each row, by forward mode with the
 * analytic f'. */
static void r_forward(const rnet *r, const double *th, const double *x, const int64_t *lev,
                      int64_t lev_all, int64_t n, int64_t k, const double *tin, double *out,
                      double *tout)
{
    const int64_t H = r->H, eo = r_emb_off(r);
    for (int64_t i = 0; i < n; i++) {
        double in[MAXW], it[MAXK][MAXW], z[MAXW], zt[MAXK][MAXW];
        for (int64_t c = 0; c < r->in; c++)
            in[c] = x[i * r->in + c];
        for (int64_t t = 0; tin && t < k; t++)
            for (int64_t c = 0; c < r->in; c++)
                it[t][c] = tin[(i * k + t) * r->in + c];
        for (int64_t l = 0; l <= r->depth; l++) {
            int64_t wo, bo, fin = r_fin(r, l), fout = r_fout(r, l);
            r_layer(r, l, &wo, &bo);
            for (int64_t j = 0; j < fout; j++) {
                double s = th[bo + j];
                for (int64_t c = 0; c < fin; c++)
                    s += th[wo + j * fin + c] * in[c];
                if (l == 0 && eo >= 0) {
                    int64_t lv = lev ? lev[i] : lev_all;
                    if (g_perturb == 4)
                        lv = (lv + 1) % r->levels;
                    s += th[eo + lv * H + j];
                }
                z[j] = s;
                for (int64_t t = 0; tin && t < k; t++) {
                    double st = 0.0;
                    for (int64_t c = 0; c < fin; c++)
                        st += th[wo + j * fin + c] * it[t][c];
                    zt[t][j] = st;
                }
            }
            if (l == r->depth) {
                for (int64_t j = 0; j < fout; j++)
                    out[i * r->out + j] = z[j];
                for (int64_t t = 0; tin && t < k; t++)
                    for (int64_t j = 0; j < fout; j++)
                        tout[(i * k + t) * r->out + j] = zt[t][j];
                break;
            }
            for (int64_t j = 0; j < H; j++) {
                in[j] = ref_f(r->act, z[j], 0) + (g_perturb == 2 ? 1e-3 * z[j] : 0.0);
                for (int64_t t = 0; tin && t < k; t++)
                    it[t][j] = ref_f1(r->act, z[j]) * zt[t][j];
            }
        }
    }
}

/* One configuration: shapes, data in float (the library's) and the same
 * values in double (the reference's). */
typedef struct {
    rnet r;
    hosmi_mlp m;
    int64_t n, k, np;
    int unit;             /* unit tangents: tinf NULL, tin the identity rows */
    const int64_t *lev;   /* per-row levels or NULL */
    int64_t lev_all;
    float *thf, *xf, *tinf, *doutf, *dtoutf;
    double *th, *x, *tin, *dout, *dtout; /* dout NULL: no loss on outputs */
    double *out, *tout;                  /* reference scratch */
} ncase;

/* L = sum dout . out + sum dtout . tout of the reference. */
static double r_loss(ncase *c)
{
    const int dt = c->dtout != NULL;
    r_forward(&c->r, c->th, c->x, c->lev, c->lev_all, c->n, c->k, dt ? c->tin : NULL, c->out,
              c->tout);
    double L = 0.0;
    for (int64_t i = 0; c->dout && i < c->n * c->r.out; i++)
        L += c->dout[i] * c->out[i];
    for (int64_t i = 0; dt && i < c->n * c->k * c->r.out; i++)
        L += c->dtout[i] * c->tout[i];
    return L;
}

/* Central differences of r_loss over the m entries of v (c->th or c->x). */
static void fd_grad(ncase *c, double *v, int64_t m, double *g)
{
    const double h = 1e-5;
    for (int64_t j = 0; j < m; j++) {
        const double v0 = v[j];
        v[j] = v0 + h;
        double lp = r_loss(c);
        v[j] = v0 - h;
        double lm = r_loss(c);
        v[j] = v0;
        g[j] = (lp - lm) / (2 * h);
    }
}

static void fill(trng *rng, float *f, double *d, int64_t n, double scale)
{
    for (int64_t i = 0; i < n; i++) {
        f[i] = (float)(scale * trng_normal(rng));
        if (d)
            d[i] = f[i];
    }
}

static const int64_t g_levels_rows[] = {0, 3, 2, 1, 3, 0, 2, 1};

/* Sets up c for the shape; lv_mode 0: one level, 1: levels 4 with per-row
 * levels, 2: levels 4, levels NULL and level_all 2. k = 0 with unit: k = in. */
static void case_init(ncase *c, trng *rng, int act, int64_t depth, int lv_mode, int64_t k,
                      int unit, int with_dout)
{
    memset(c, 0, sizeof *c);
    c->r = (rnet){3, 5, 4, depth, lv_mode ? 4 : 1, act};
    if (hosmi_mlp_shape(&c->m, 3, 5, depth, 4, c->r.levels, act) != 0) {
        printf("FATAL: hosmi_mlp_shape failed\n");
        exit(1);
    }
    c->n = 3;
    c->unit = unit;
    c->k = unit ? c->r.in : k;
    c->lev = lv_mode == 1 ? g_levels_rows : NULL;
    c->lev_all = lv_mode == 2 ? 2 : 0;
    c->np = r_nparams(&c->r);
    const int64_t np = c->np, n = c->n, kk = c->k ? c->k : 1, in = c->r.in, out = c->r.out;
    c->thf = xmalloc((size_t)np * sizeof(float));
    c->th = xmalloc((size_t)np * sizeof(double));
    /* Weights of LeCun scale times 1.5, biases and embeddings ~ 0.5: the
     * pre-activations spread over the curved part of every activation. */
    for (int64_t l = 0; l <= depth; l++) {
        int64_t wo, bo;
        r_layer(&c->r, l, &wo, &bo);
        fill(rng, c->thf + wo, c->th + wo, bo - wo, 1.5 / sqrt((double)r_fin(&c->r, l)));
        fill(rng, c->thf + bo, c->th + bo, r_fout(&c->r, l), 0.5);
    }
    if (c->r.levels > 1)
        fill(rng, c->thf + r_emb_off(&c->r), c->th + r_emb_off(&c->r), c->r.levels * c->r.H, 0.5);
    c->xf = xmalloc((size_t)(n * in) * sizeof(float));
    c->x = xmalloc((size_t)(n * in) * sizeof(double));
    fill(rng, c->xf, c->x, n * in, 1.0);
    c->tin = xmalloc((size_t)(n * kk * in) * sizeof(double));
    if (unit) {
        for (int64_t i = 0; i < n; i++)
            for (int64_t t = 0; t < in; t++)
                for (int64_t b = 0; b < in; b++)
                    c->tin[(i * in + t) * in + b] = t == b;
    } else {
        c->tinf = xmalloc((size_t)(n * kk * in) * sizeof(float));
        fill(rng, c->tinf, c->tin, n * kk * in, 1.0);
    }
    c->doutf = xmalloc((size_t)(n * out) * sizeof(float));
    c->dout = xmalloc((size_t)(n * out) * sizeof(double));
    fill(rng, c->doutf, c->dout, n * out, 1.0);
    if (!with_dout) {
        free(c->dout);
        c->dout = NULL;
    }
    c->dtoutf = xmalloc((size_t)(n * kk * out) * sizeof(float));
    c->dtout = xmalloc((size_t)(n * kk * out) * sizeof(double));
    fill(rng, c->dtoutf, c->dtout, n * kk * out, 1.0);
    c->out = xmalloc((size_t)(n * out) * sizeof(double));
    c->tout = xmalloc((size_t)(n * kk * out) * sizeof(double));
}

static void case_free(ncase *c)
{
    free(c->thf);
    free(c->th);
    free(c->xf);
    free(c->x);
    free(c->tin);
    free(c->tinf);
    free(c->doutf);
    free(c->dout);
    free(c->dtoutf);
    free(c->dtout);
    free(c->out);
    free(c->tout);
}

static void plan(hosmi_mlp_plan *p, const ncase *c, int64_t cap, unsigned mode, int64_t k)
{
    if (hosmi_mlp_plan_alloc(p, &c->m, cap, mode, k) != 0) {
        printf("FATAL: hosmi_mlp_plan_alloc failed\n");
        exit(1);
    }
}

static const char *const lv_name[] = {"levels 1", "levels 4 per row", "levels 4 all at 2"};

/* ---- shape and layout ---- */
static void test_layout(void)
{
    int ok = 1;
    for (int64_t depth = 1; depth <= 3; depth++)
        for (int64_t levels = 1; levels <= 4; levels += 3) {
            rnet r = {3, 5, 4, depth, levels, 0};
            hosmi_mlp m;
            CHECK(hosmi_mlp_shape(&m, 3, 5, depth, 4, levels, 0) == 0, "shape fails");
            ok &= m.nparams == r_nparams(&r) && m.emb_off == r_emb_off(&r);
            for (int64_t l = 0; l <= depth; l++) {
                int64_t w, b;
                r_layer(&r, l, &w, &b);
                ok &= hosmi_mlp_w_off(&m, l) == w && hosmi_mlp_b_off(&m, l) == b;
            }
        }
    CHECK(ok, "nparams, emb_off, w_off or b_off differ from the layout of mlp.h");
    hosmi_mlp m;
    CHECK(hosmi_mlp_shape(&m, 3, (int64_t)1 << 21, 2, 4, 1, 0) == -1,
          "hidden 2^21, depth 2 (2^42 parameters) is accepted");
    CHECK(hosmi_mlp_shape(&m, INT64_MAX / 2, 4, 1, 4, 1, 0) == -1, "an overflowing in is accepted");
    CHECK(hosmi_mlp_shape(&m, 3, 5, 1, 4, INT64_MAX / 4, 0) == -1,
          "an overflowing level count is accepted");
}

/* ---- forward ---- */
static void test_forward(trng *rng)
{
    group g = {"forward vs double reference, max|err| / max|ref|", 5e-6, 0, 0, 0};
    int bits_modes = 1, bits_cap = 1, bits_lev = 1;
    for (int act = 0; act < 4; act++)
        for (int64_t depth = 1; depth <= 3; depth++)
            for (int lv = 0; lv < 3; lv++) {
                ncase c;
                case_init(&c, rng, act, depth, lv, 0, 0, 1);
                float out[4][32];
                const unsigned modes[4] = {0, HOSMI_PLAN_GRAD, HOSMI_PLAN_TANGENT,
                                           HOSMI_PLAN_TANGENT_GRAD};
                for (int mo = 0; mo < 4; mo++) {
                    hosmi_mlp_plan p;
                    plan(&p, &c, c.n, modes[mo], modes[mo] & 6 ? 3 : 0);
                    hosmi_mlp_forward(&c.m, &g_blas, c.thf, c.xf, c.lev, c.lev_all, c.n, &p,
                                      out[mo]);
                    hosmi_mlp_plan_free(&p);
                }
                r_forward(&c.r, c.th, c.x, c.lev, c.lev_all, c.n, 0, NULL, c.out, NULL);
                group_add(&g, rel_err(out[0], c.out, c.n * 4), "%s depth %lld %s",
                          act_name[act], (long long)depth, lv_name[lv]);
                /* Every plan mode computes the same values; the cap only sizes. */
                for (int mo = 1; mo < 4; mo++)
                    bits_modes &= memcmp(out[mo], out[0], (size_t)(c.n * 4) * sizeof(float)) == 0;
                hosmi_mlp_plan p;
                plan(&p, &c, 7, HOSMI_PLAN_GRAD, 0);
                float o2[32];
                hosmi_mlp_forward(&c.m, &g_blas, c.thf, c.xf, c.lev, c.lev_all, c.n, &p, o2);
                bits_cap &= memcmp(o2, out[0], (size_t)(c.n * 4) * sizeof(float)) == 0;
                if (lv == 2) { /* per-row levels all equal to level_all: the same */
                    const int64_t same[3] = {2, 2, 2};
                    hosmi_mlp_forward(&c.m, &g_blas, c.thf, c.xf, same, 0, c.n, &p, o2);
                    bits_lev &= memcmp(o2, out[0], (size_t)(c.n * 4) * sizeof(float)) == 0;
                }
                hosmi_mlp_plan_free(&p);
                case_free(&c);
            }
    group_report(&g);
    CHECK(bits_modes, "a forward pass with plan mode 0 / TANGENT / TANGENT_GRAD is not "
                      "bit-identical to one with HOSMI_PLAN_GRAD");
    CHECK(bits_cap, "a forward pass of 3 rows with a plan of cap 7 differs from cap 3");
    CHECK(bits_lev, "per-row levels {2,2,2} differ from levels NULL with level_all 2");
}

/* ---- backward ---- */
static void test_backward(trng *rng)
{
    group gp = {"backward: parameter gradient vs differences", 1e-5, 0, 0, 0};
    group gx = {"backward: input gradient vs differences", 1e-5, 0, 0, 0};
    int cache = 1;
    double acc = 0.0;
    for (int act = 0; act < 4; act++)
        for (int64_t depth = 1; depth <= 3; depth++)
            for (int lv = 0; lv < 3; lv++) {
                ncase c;
                case_init(&c, rng, act, depth, lv, 3, 0, 1);
                const int64_t np = c.np;
                double *gref = xmalloc((size_t)np * sizeof(double)), xref[16];
                float *grad = xmalloc((size_t)np * sizeof(float)),
                      *g0 = xmalloc((size_t)np * sizeof(float)),
                      *g2 = xmalloc((size_t)np * sizeof(float)), out[32], dx[16], dx2[16];
                double *gd = xmalloc((size_t)np * sizeof(double));
                fill(rng, g0, NULL, np, 0.3);
                double *dtout = c.dtout;
                c.dtout = NULL; /* L = sum dout . out */
                fd_grad(&c, c.th, np, gref);
                fd_grad(&c, c.x, c.n * 3, xref);
                c.dtout = dtout;
                hosmi_mlp_plan p;
                plan(&p, &c, c.n, HOSMI_PLAN_GRAD, 0);
                hosmi_mlp_forward(&c.m, &g_blas, c.thf, c.xf, c.lev, c.lev_all, c.n, &p, out);
                memcpy(grad, g0, (size_t)np * sizeof(float));
                hosmi_mlp_backward(&c.m, &g_blas, c.thf, c.lev, c.lev_all, c.n, &p, c.doutf, grad,
                                   dx);
                /* It accumulates: compare grad - g0. */
                for (int64_t j = 0; j < np; j++)
                    gd[j] = (double)grad[j] - g0[j];
                double num = 0, den = 0;
                for (int64_t j = 0; j < np; j++) {
                    num = fmax(num, fabs(gd[j] - gref[j]));
                    den = fmax(den, fabs(gref[j]));
                }
                group_add(&gp, num / den, "%s depth %lld %s", act_name[act], (long long)depth,
                          lv_name[lv]);
                group_add(&gx, rel_err(dx, xref, c.n * 3), "%s depth %lld %s", act_name[act],
                          (long long)depth, lv_name[lv]);
                /* A second backward from zero, dx NULL: the same increment. */
                memset(g2, 0, (size_t)np * sizeof(float));
                hosmi_mlp_backward(&c.m, &g_blas, c.thf, c.lev, c.lev_all, c.n, &p, c.doutf, g2,
                                   NULL);
                double na = 0, da = 0;
                for (int64_t j = 0; j < np; j++) {
                    na = fmax(na, fabs((double)grad[j] - g0[j] - g2[j]));
                    da = fmax(da, fabs(g0[j]) + fabs(g2[j]));
                }
                acc = fmax(acc, na / da);
                hosmi_mlp_plan_free(&p);
                /* Tangents leave the forward cache intact: forward, backward
                 * (reference gradient) against forward, tangents, reverse over
                 * forward, then backward; in both tangent plan modes. */
                const unsigned tmodes[2] = {HOSMI_PLAN_GRAD | HOSMI_PLAN_TANGENT,
                                            HOSMI_PLAN_TANGENT_GRAD};
                for (int mo = 0; mo < 2; mo++) {
                    const unsigned mode = tmodes[mo];
                    float tout[64], dxa[16];
                    plan(&p, &c, c.n, mode, 3);
                    hosmi_mlp_forward(&c.m, &g_blas, c.thf, c.xf, c.lev, c.lev_all, c.n, &p, out);
                    memset(grad, 0, (size_t)np * sizeof(float));
                    hosmi_mlp_backward(&c.m, &g_blas, c.thf, c.lev, c.lev_all, c.n, &p, c.doutf,
                                       grad, dxa);
                    hosmi_mlp_tangent(&c.m, &g_blas, c.thf, c.n, 3, NULL, &p, tout);
                    hosmi_mlp_tangent(&c.m, &g_blas, c.thf, c.n, 3, c.tinf, &p, tout);
                    if (mode == HOSMI_PLAN_TANGENT_GRAD) {
                        memset(g2, 0, (size_t)np * sizeof(float));
                        hosmi_mlp_tangent_backward(&c.m, &g_blas, c.thf, c.lev, c.lev_all, c.n, 3,
                                                   &p, c.doutf, c.dtoutf, g2);
                    }
                    memset(g2, 0, (size_t)np * sizeof(float));
                    hosmi_mlp_backward(&c.m, &g_blas, c.thf, c.lev, c.lev_all, c.n, &p, c.doutf,
                                       g2, dx2);
                    cache &= memcmp(grad, g2, (size_t)np * sizeof(float)) == 0 &&
                             memcmp(dxa, dx2, sizeof(float) * 9) == 0;
                    hosmi_mlp_plan_free(&p);
                }
                free(gref);
                free(grad);
                free(g0);
                free(g2);
                free(gd);
                case_free(&c);
            }
    group_report(&gp);
    group_report(&gx);
    /* Starting from g0 ~ 0.3 instead of 0 changes only the rounding of the
     * sums: a few u of max |g0| + |g2|; overwriting would leave O(1). */
    check_le("backward accumulates: max|(g0 + dg) - g0 - dg| / max(|g0| + |dg|)", acc, 1e-5);
    CHECK(cache, "a backward pass after tangent passes differs from one right after forward");
}

/* ---- tangents ---- */
static void test_tangent(trng *rng)
{
    group gt = {"tangent: JVPs vs differences along each tangent", 1e-5, 0, 0, 0};
    group gr = {"reference JVP (analytic, double) vs differences", 1e-7, 0, 0, 0};
    int unit_eq = 1, modes_eq = 1, repeat_eq = 1, kcap = 1;
    const double h = 1e-5;
    for (int act = 0; act < 4; act++)
        for (int64_t depth = 1; depth <= 3; depth++)
            for (int lv = 0; lv < 3; lv++)
                for (int tk = 0; tk < 3; tk++) { /* k = 1, k = 3, unit (k = in) */
                    ncase c;
                    const int unit = tk == 2;
                    case_init(&c, rng, act, depth, lv, tk == 0 ? 1 : 3, unit, 1);
                    const int64_t n = c.n, k = c.k, rows = n * k;
                    float out[32], tout[2][64];
                    double fd[64], op[32], om[32], xp[16];
                    /* Differences of the reference forward along each tangent. */
                    for (int64_t i = 0; i < n; i++)
                        for (int64_t t = 0; t < k; t++) {
                            for (int sgn = -1; sgn <= 1; sgn += 2) {
                                memcpy(xp, c.x, sizeof(double) * (size_t)(n * 3));
                                for (int64_t b = 0; b < 3; b++)
                                    xp[i * 3 + b] += sgn * h * c.tin[(i * k + t) * 3 + b];
                                r_forward(&c.r, c.th, xp, c.lev, c.lev_all, n, 0, NULL,
                                          sgn < 0 ? om : op, NULL);
                            }
                            for (int64_t o = 0; o < 4; o++)
                                fd[(i * k + t) * 4 + o] = (op[i * 4 + o] - om[i * 4 + o]) / (2 * h);
                        }
                    r_forward(&c.r, c.th, c.x, c.lev, c.lev_all, n, k, c.tin, c.out, c.tout);
                    group_add(&gr, rel_err_d(c.tout, fd, rows * 4), "%s depth %lld", act_name[act],
                              (long long)depth);
                    const unsigned modes[2] = {HOSMI_PLAN_TANGENT, HOSMI_PLAN_TANGENT_GRAD};
                    for (int mo = 0; mo < 2; mo++) {
                        hosmi_mlp_plan p;
                        plan(&p, &c, n, modes[mo], 3); /* k = 1 runs below the plan's k */
                        hosmi_mlp_forward(&c.m, &g_blas, c.thf, c.xf, c.lev, c.lev_all, n, &p, out);
                        hosmi_mlp_tangent(&c.m, &g_blas, c.thf, n, k, c.tinf, &p, tout[mo]);
                        if (mo == 0) {
                            group_add(&gt, rel_err(tout[0], fd, rows * 4),
                                      "%s depth %lld %s k %lld%s", act_name[act], (long long)depth,
                                      lv_name[lv], (long long)k, unit ? " (unit)" : "");
                        } else {
                            modes_eq &= memcmp(tout[0], tout[1], sizeof(float) * (size_t)rows * 4) == 0;
                        }
                        float again[64];
                        hosmi_mlp_tangent(&c.m, &g_blas, c.thf, n, k, c.tinf, &p, again);
                        repeat_eq &= memcmp(again, tout[mo], sizeof(float) * (size_t)rows * 4) == 0;
                        if (unit) {
                            /* Explicit identity rows: the first layer's GEMM then
                             * copies W0's columns exactly, so equal to the bit. */
                            float eye[27], te[64];
                            for (int64_t j = 0; j < rows * 3; j++)
                                eye[j] = (float)c.tin[j];
                            hosmi_mlp_tangent(&c.m, &g_blas, c.thf, n, k, eye, &p, te);
                            for (int64_t j = 0; j < rows * 4; j++)
                                unit_eq &= te[j] == tout[mo][j];
                        }
                        hosmi_mlp_plan_free(&p);
                    }
                    if (tk == 0) { /* k below a bigger plan's k and cap */
                        hosmi_mlp_plan p;
                        float t2[64];
                        plan(&p, &c, 5, HOSMI_PLAN_TANGENT_GRAD, 4);
                        hosmi_mlp_forward(&c.m, &g_blas, c.thf, c.xf, c.lev, c.lev_all, n, &p, out);
                        hosmi_mlp_tangent(&c.m, &g_blas, c.thf, n, k, c.tinf, &p, t2);
                        kcap &= memcmp(t2, tout[0], sizeof(float) * (size_t)rows * 4) == 0;
                        hosmi_mlp_plan_free(&p);
                    }
                    case_free(&c);
                }
    group_report(&gr);
    group_report(&gt);
    CHECK(modes_eq, "tangents with plan TANGENT and TANGENT_GRAD differ");
    CHECK(repeat_eq, "a second tangent pass on the same forward differs");
    CHECK(unit_eq, "unit tangents (tin NULL) differ from explicit identity rows");
    CHECK(kcap, "tangents with a plan of larger cap and k differ");
}

/* ---- reverse over forward ---- */
static void test_tangent_backward(trng *rng)
{
    group g = {"tangent_backward: parameter gradient vs differences", 2e-5, 0, 0, 0};
    group gz = {"tangent_backward with dtout = 0 vs backward", 5e-6, 0, 0, 0};
    for (int act = 0; act < 4; act++)
        for (int64_t depth = 1; depth <= 3; depth++)
            for (int lv = 0; lv < 3; lv++)
                for (int tk = 0; tk < 3; tk++)
                    for (int wd = 0; wd < 2; wd++) {
                        ncase c;
                        const int unit = tk == 2;
                        case_init(&c, rng, act, depth, lv, tk == 0 ? 1 : 3, unit, wd);
                        const int64_t np = c.np, n = c.n, k = c.k;
                        double *gref = xmalloc((size_t)np * sizeof(double)),
                               *gd = xmalloc((size_t)np * sizeof(double));
                        float *grad = xmalloc((size_t)np * sizeof(float)),
                              *g0 = xmalloc((size_t)np * sizeof(float)), out[32], tout[64];
                        fill(rng, g0, NULL, np, 0.3);
                        fd_grad(&c, c.th, np, gref);
                        hosmi_mlp_plan p;
                        plan(&p, &c, n, HOSMI_PLAN_TANGENT_GRAD, k);
                        hosmi_mlp_forward(&c.m, &g_blas, c.thf, c.xf, c.lev, c.lev_all, n, &p, out);
                        hosmi_mlp_tangent(&c.m, &g_blas, c.thf, n, k, c.tinf, &p, tout);
                        memcpy(grad, g0, (size_t)np * sizeof(float));
                        hosmi_mlp_tangent_backward(&c.m, &g_blas, c.thf, c.lev, c.lev_all, n, k, &p,
                                                   wd ? c.doutf : NULL, c.dtoutf, grad);
                        for (int64_t j = 0; j < np; j++)
                            gd[j] = (double)grad[j] - g0[j];
                        group_add(&g, rel_err_d(gd, gref, np), "%s depth %lld %s k %lld%s%s",
                                  act_name[act], (long long)depth, lv_name[lv], (long long)k,
                                  unit ? " (unit)" : "", wd ? " dout" : " dout NULL");
                        if (wd && tk == 1) {
                            /* dtout = 0: exactly the backward pass's gradient. */
                            float zero[64] = {0}, *gb = xmalloc((size_t)np * sizeof(float));
                            double *gt = xmalloc((size_t)np * sizeof(double));
                            memset(grad, 0, (size_t)np * sizeof(float));
                            memset(gb, 0, (size_t)np * sizeof(float));
                            hosmi_mlp_tangent_backward(&c.m, &g_blas, c.thf, c.lev, c.lev_all, n, k,
                                                       &p, c.doutf, zero, grad);
                            hosmi_mlp_backward(&c.m, &g_blas, c.thf, c.lev, c.lev_all, n, &p,
                                               c.doutf, gb, NULL);
                            for (int64_t j = 0; j < np; j++)
                                gt[j] = gb[j];
                            group_add(&gz, rel_err(grad, gt, np), "%s depth %lld %s",
                                      act_name[act], (long long)depth, lv_name[lv]);
                            free(gb);
                            free(gt);
                        }
                        hosmi_mlp_plan_free(&p);
                        free(gref);
                        free(gd);
                        free(grad);
                        free(g0);
                        case_free(&c);
                    }
    group_report(&g);
    group_report(&gz);
}

int main(void)
{
    const char *pe = getenv("HOSM_TEST_PERTURB");
    g_perturb = pe ? atoi(pe) : 0;
    if (g_perturb)
        printf("HOSM_TEST_PERTURB=%d: the references are deliberately wrong\n", g_perturb);
    trng rng = {20250214};
    double t0 = now_seconds();
    test_activations();
    test_layout();
    test_forward(&rng);
    test_backward(&rng);
    test_tangent(&rng);
    test_tangent_backward(&rng);
    printf("time %.3f s\n", now_seconds() - t0);
    return finish("test_nn");
}
