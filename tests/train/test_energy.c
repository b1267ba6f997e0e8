/* Energy-based models (parameterization=energy): a network with one output
 * E(x, level), s1 = -grad_x E / sigma, log density -E / sigma + const.
 *
 * A double-precision reference of the energy network is written here from
 * the specification (the flat layout of lib/nn/mlp.h, the activations with
 * ELU's alpha = 1), independent of the library and of tests/common/ref_mlp.c.
 * It evaluates the network on hyper-dual numbers a + b e1 + c e2 + d e1 e2
 * (e1^2 = e2^2 = 0), which carry f, f' and f'' of every activation exactly:
 * one pass with input tangents v, w gives E, grad E . v, grad E . w and
 * v^T Hess(E) w, so the gradient and the Hessian come out exact in double.
 *
 *  1. gradients: for DSM, DSM-VR and exact SM (ssm_noise = 0 and 1), every
 *     activation, one level and a ladder of three, depths 1 to 3, the
 *     library's batch loss (hosm_trainer_gradient, with the noise given)
 *     against the reference batch loss, and its float parameter gradient
 *     against central differences of the double reference loss, coordinate
 *     by coordinate and along random directions of the parameters. SSM and
 *     SSM-VR draw their projections inside the trainer: their gradients are
 *     checked against central differences of the library's own loss (every
 *     activation, both projection kinds, 1 and 3 projections).
 *  2. queries at every level of a ladder against the reference: the score,
 *     the log density (its values -E / sigma and differences between
 *     points), the Hessian -Hess(E) / sigma (exactly symmetric as
 *     hosm_model_hessian returns it, and equal to hosm_model_score_jacobian,
 *     hosm_model_hessian_diag and hosm_model_hvp to float rounding), the
 *     posterior covariance sigma^4 H + sigma^2 I; s2 structure "full".
 *  3. (slow) the optimum on Gaussian data N(mu, Sigma), D = 2: SSM, SSM-VR
 *     and exact SM learn -Sigma^-1 (x - mu), DSM at sigma = 0.5
 *     -(Sigma + sigma^2 I)^-1 (x - mu); each model is closer to its own
 *     target than to the other.
 *  4. (slow) a 2-D Gaussian mixture: an energy model trained by DSM-VR at
 *     one noise level; its log density minus the oracle's is nearly
 *     constant on held-out points of the perturbed mixture; MALA on the
 *     model from spread-out initial points reproduces the mode occupancy
 *     of exact samples, with a sane acceptance rate.
 *  5. files: an energy model is format version 4, round-trips bit for bit
 *     (parameters, scores, log densities, bytes); the same file with
 *     version 3 in its header, parameterization 2 (a denoiser, which needs
 *     version 5) or 0 in ARCH, or 3 in a version-5 file, is HOSM_E_CORRUPT;
 *     version 7 is HOSM_E_VERSION; settings beside an
 *     energy model round-trip; score networks still write versions 1 to 3
 *     (and have no log density). hosm_model_at_sigma of an energy ladder at
 *     a ladder level answers as that level.
 * Tolerances are stated where they are checked, with the measured values.
 * About 15 s on a loaded two-core machine, nearly all of it the training of
 * parts 3 and 4 (shortened under valgrind, whose bounds are then only
 * reported). */
#include <stdlib.h>
#include <unistd.h>

#include "../test_util.h"

static const char *const act_name[] = {"softplus", "silu", "tanh", "elu"};

/* check_ge, or only a report under valgrind (training cut short). */
static void check_ge_unless(int skip, const char *what, double measured, double bound)
{
    if (!skip) {
        check_ge(what, measured, bound);
        return;
    }
    printf("skip %-58s measured %.4g  (bound >= %.4g needs the full training; not under "
           "valgrind)\n",
           what, measured, bound);
}

static hosm_config *config(const char *text)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, text));
    return cfg;
}

/* ======================================================================== */
/* The double reference of an energy network                                */
/* ======================================================================== */

typedef struct {
    double a, b, c, d; /* a + b e1 + c e2 + d e1 e2 */
} hd;

/* f, f' and f'' of an activation in double. */
static void act3(int act, double z, double *f, double *f1, double *f2)
{
    switch (act) {
    case HOSM_ACT_SOFTPLUS: {
        const double s = 1.0 / (1.0 + exp(-z));
        *f = z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z));
        *f1 = s;
        *f2 = s * (1.0 - s);
        return;
    }
    case HOSM_ACT_SILU: {
        const double s = 1.0 / (1.0 + exp(-z)), q = s * (1.0 - s);
        *f = z * s;
        *f1 = s + z * q;
        *f2 = q * (2.0 + z * (1.0 - 2.0 * s));
        return;
    }
    case HOSM_ACT_TANH: {
        const double t = tanh(z);
        *f = t;
        *f1 = 1.0 - t * t;
        *f2 = -2.0 * t * (1.0 - t * t);
        return;
    }
    case HOSM_ACT_ELU:
        if (z > 0.0) {
            *f = z, *f1 = 1.0, *f2 = 0.0;
        } else {
            *f = expm1(z), *f1 = exp(z), *f2 = exp(z);
        }
        return;
    default: abort();
    }
}

static hd hd_act(int act, hd z)
{
    double f, f1, f2;
    act3(act, z.a, &f, &f1, &f2);
    return (hd){f, f1 * z.b, f1 * z.c, f1 * z.d + f2 * z.b * z.c};
}

typedef struct {
    int64_t in, hidden, depth, levels;
    int act;
} enet;

/* Flat parameters: per hidden layer W (hidden x in) row-major, then b;
 * the output layer W (1 x hidden), b (1); the level embedding (levels x
 * hidden) when levels > 1. */
static int64_t enet_params(const enet *n)
{
    const int64_t H = n->hidden;
    return H * n->in + H + (n->depth - 1) * (H * H + H) + H + 1 + (n->levels > 1 ? n->levels * H : 0);
}

/* E at x + e1 v + e2 w on hyper-dual numbers (v, w may be NULL: 0). */
static hd enet_eval(const enet *n, const double *p, const double *x, int64_t level,
                    const double *v, const double *w)
{
    enum { HMAX = 64 };
    const int64_t H = n->hidden, D = n->in;
    hd cur[HMAX], nxt[HMAX];
    if (H > HMAX)
        abort();
    const double *emb = n->levels > 1 ? p + enet_params(n) - n->levels * H + level * H : NULL;
    const double *q = p;
    for (int64_t j = 0; j < H; j++) {
        hd s = {q[H * D + j] + (emb ? emb[j] : 0.0), 0.0, 0.0, 0.0};
        for (int64_t i = 0; i < D; i++) {
            const double wt = q[j * D + i];
            s.a += wt * x[i];
            s.b += wt * (v ? v[i] : 0.0);
            s.c += wt * (w ? w[i] : 0.0);
        }
        cur[j] = hd_act(n->act, s);
    }
    q += H * D + H;
    for (int64_t l = 1; l < n->depth; l++) {
        for (int64_t j = 0; j < H; j++) {
            hd s = {q[H * H + j], 0.0, 0.0, 0.0};
            for (int64_t i = 0; i < H; i++) {
                const double wt = q[j * H + i];
                s.a += wt * cur[i].a, s.b += wt * cur[i].b, s.c += wt * cur[i].c,
                    s.d += wt * cur[i].d;
            }
            nxt[j] = hd_act(n->act, s);
        }
        memcpy(cur, nxt, sizeof(hd) * (size_t)H);
        q += H * H + H;
    }
    hd e = {q[H], 0.0, 0.0, 0.0};
    for (int64_t i = 0; i < H; i++)
        e.a += q[i] * cur[i].a, e.b += q[i] * cur[i].b, e.c += q[i] * cur[i].c,
            e.d += q[i] * cur[i].d;
    return e;
}

/* E, grad E (D) and Hess E (D x D, may be NULL) at one point: one
 * hyper-dual pass per pair a <= b of unit tangents. (The tangents are
 * written afresh for every pass: setting an entry to 1 and back to 0
 * around the call is miscompiled by GCC 12.2 at -O1 and above, which drops
 * the reset.) */
static double enet_point(const enet *n, const double *p, const double *x, int64_t level,
                         double *g, double *hess)
{
    enum { DMAX = 8 };
    const int64_t D = n->in;
    if (D > DMAX)
        abort();
    double e = 0.0;
    for (int64_t a = 0; a < D; a++)
        for (int64_t b = a; b < (hess ? D : a + 1); b++) {
            double ea[DMAX], eb[DMAX];
            for (int64_t j = 0; j < D; j++) {
                ea[j] = j == a ? 1.0 : 0.0;
                eb[j] = j == b ? 1.0 : 0.0;
            }
            const hd r = enet_eval(n, p, x, level, ea, eb);
            e = r.a;
            g[a] = r.b;
            if (hess)
                hess[a * D + b] = hess[b * D + a] = r.d;
        }
    return e;
}

/* The reference model: the network and its noise levels. */
typedef struct {
    enet net;
    double sigmas[3];
} emodel;

enum { OBJ_DSM, OBJ_DSM_VR, OBJ_EXACT0, OBJ_EXACT1 };
static const char *const obj_name[] = {"dsm", "dsm_vr", "exact_sm ssm_noise=0",
                                       "exact_sm ssm_noise=1"};
static const char *const obj_text[] = {"objective=dsm", "objective=dsm_vr",
                                       "objective=exact_sm ssm_noise=0",
                                       "objective=exact_sm ssm_noise=1"};

/* The trainer's batch loss of a first-order objective on an energy model,
 * from the definitions (include/hosm.h, docs/math.md 3.1): the mean over
 * points of lambda_i l_i, lambda = 1 for one level and sigma_i^2 on a
 * ladder, with s1 = -grad E / sigma, J = -Hess E / sigma and
 *   DSM        l = || s1(x + sigma z) + z / sigma ||^2
 *   DSM-VR     l = DSM - (2 s1(x)^T z / sigma + ||z||^2 / sigma^2)
 *   exact SM   l = tr J(y) + 1/2 ||s1(y)||^2, y = x (ssm_noise = 0) or x + sigma z.
 * *scale (may be NULL) receives the same mean with every term replaced by
 * a bound on its magnitude (sum_j (|s1_j| + |z_j| / sigma)^2 for DSM's
 * square): the size against which float rounding is measured. */
static double ref_loss(const emodel *m, const double *p, int obj, const double *x,
                       const double *z, const int64_t *lv, int64_t n, double *scale)
{
    enum { DMAX = 8 };
    const int64_t D = m->net.in;
    double total = 0.0, mag = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t l = lv ? lv[i] : 0;
        const double sg = m->sigmas[l], lambda = m->net.levels > 1 ? sg * sg : 1.0;
        const double *xi = x + i * D, *zi = z + i * D;
        double y[DMAX], g[DMAX], h[DMAX * DMAX], g0[DMAX];
        const int noisy = obj != OBJ_EXACT0;
        for (int64_t j = 0; j < D; j++)
            y[j] = xi[j] + (noisy ? sg * zi[j] : 0.0);
        double li = 0.0, mi = 0.0;
        if (obj == OBJ_DSM || obj == OBJ_DSM_VR) {
            enet_point(&m->net, p, y, l, g, NULL);
            if (obj == OBJ_DSM_VR)
                enet_point(&m->net, p, xi, l, g0, NULL);
            for (int64_t j = 0; j < D; j++) {
                const double s = -g[j] / sg, zs = zi[j] / sg, r = s + zs;
                li += r * r;
                mi += (fabs(s) + fabs(zs)) * (fabs(s) + fabs(zs));
                if (obj == OBJ_DSM_VR) {
                    const double c = 2.0 * (-g0[j] / sg) * zs;
                    li -= c + zs * zs;
                    mi += fabs(c) + zs * zs;
                }
            }
        } else {
            enet_point(&m->net, p, y, l, g, h);
            for (int64_t j = 0; j < D; j++) {
                const double s = -g[j] / sg, jj = -h[j * D + j] / sg;
                li += jj + 0.5 * s * s;
                mi += fabs(jj) + 0.5 * s * s;
            }
        }
        total += lambda * li;
        mag += lambda * mi;
    }
    if (scale)
        *scale = mag / (double)n;
    return total / (double)n;
}

/* Random parameters with nonzero biases and embeddings (the library
 * initialises those to zero), so that every part of the layout matters. */
static void random_params(trng *r, float *p, int64_t P)
{
    for (int64_t i = 0; i < P; i++)
        p[i] = (float)trng_sym(r, 0.8);
}

/* An energy model of the test configuration "hidden=H depth=K act=A" with
 * one level (sigma 0.3) or a ladder of 3 (1 .. 0.1). */
static hosm_model *energy_model(int64_t dim, int act, int64_t hidden, int64_t depth,
                                int64_t levels, const char *extra)
{
    char text[256];
    snprintf(text, sizeof text,
             "parameterization=energy hidden=%lld depth=%lld act=%s levels=%lld sigma=0.3 "
             "sigma_max=1 sigma_min=0.1 seed=5 %s",
             (long long)hidden, (long long)depth, act_name[act], (long long)levels,
             extra ? extra : "");
    hosm_config *c = config(text);
    hosm_model *m;
    MUST(hosm_model_new(&m, dim, c));
    hosm_config_free(c);
    return m;
}

/* ======================================================================== */
/* 1. gradients                                                             */
/* ======================================================================== */

#define GD 3 /* dimension of the gradient and query checks */
#define GH 5 /* width */
#define GN 4 /* points a batch */

/* Worst values over all cases, reported at the end against their bounds. */
static struct {
    double loss, coord, dir;
    char loss_at[96], coord_at[96], dir_at[96];
    int cases;
    double min_gnorm;
} gw = {0, 0, 0, "", "", "", 0, 1e300};

static void worst_of(double v, double *w, char *at, const char *tag)
{
    if (v > *w || isnan(v)) {
        *w = v;
        snprintf(at, 96, "%s", tag);
    }
}

static void gradient_case(int obj, int act, int64_t levels, int64_t depth)
{
    char tag[96];
    snprintf(tag, sizeof tag, "%s/%s/L=%lld/depth=%lld", obj_name[obj], act_name[act],
             (long long)levels, (long long)depth);
    hosm_model *m = energy_model(GD, act, GH, depth, levels, NULL);
    hosm_config *tc = config(obj_text[obj]);
    hosm_trainer *t;
    MUST(hosm_trainer_new(&t, m, tc));
    hosm_config_free(tc);
    emodel a = {{GD, GH, depth, levels, act}, {0}};
    for (int64_t l = 0; l < levels; l++)
        MUST(hosm_model_sigma(m, l, &a.sigmas[l]));
    int64_t P;
    MUST(hosm_model_num_params(m, &P));
    CHECK(P == enet_params(&a.net), "%s: %lld parameters, the layout gives %lld", tag,
          (long long)P, (long long)enet_params(&a.net));
    if (P != enet_params(&a.net))
        exit(1);

    trng r = {7000u + (uint64_t)(obj * 1000 + act * 100 + levels * 10 + depth)};
    float *p = xmalloc((size_t)P * sizeof *p), *g = xmalloc((size_t)P * sizeof *g);
    double *pd = xmalloc((size_t)P * sizeof *pd), *fd = xmalloc((size_t)P * sizeof *fd);
    double *u = xmalloc((size_t)P * sizeof *u);
    random_params(&r, p, P);
    MUST(hosm_model_set_params(m, p, P));
    for (int64_t k = 0; k < P; k++)
        pd[k] = p[k];
    float x[GN * GD], z[GN * GD];
    double xd[GN * GD], zd[GN * GD];
    for (int i = 0; i < GN * GD; i++) {
        xd[i] = x[i] = (float)trng_normal(&r);
        zd[i] = z[i] = (float)trng_normal(&r);
    }
    const int64_t lv3[GN] = {0, 2, 1, 2}, lv1[GN] = {0, 0, 0, 0};
    const int64_t *lv = levels > 1 ? lv3 : lv1;

    double loss, scale;
    MUST(hosm_trainer_gradient(t, x, z, lv, GN, &loss, g));
    const double ref = ref_loss(&a, pd, obj, xd, zd, lv, GN, &scale);
    worst_of(fabs(loss - ref) / scale, &gw.loss, gw.loss_at, tag);

    /* Central differences of the double loss, h = 1e-5 max(1, |p|): the
     * truncation error h^2 |L'''| / 6 and the rounding 1e-16 |L| / h are
     * both below 1e-9 relative here, far under the float errors measured. */
    double fdmax = 0.0, fdn = 0.0;
    for (int64_t k = 0; k < P; k++) {
        const double h = 1e-5 * fmax(1.0, fabs(pd[k])), keep = pd[k];
        pd[k] = keep + h;
        const double lp = ref_loss(&a, pd, obj, xd, zd, lv, GN, NULL);
        pd[k] = keep - h;
        const double lm = ref_loss(&a, pd, obj, xd, zd, lv, GN, NULL);
        pd[k] = keep;
        fd[k] = (lp - lm) / (2.0 * h);
        fdmax = fmax(fdmax, fabs(fd[k]));
        fdn += fd[k] * fd[k];
    }
    fdn = sqrt(fdn);
    /* Coordinate by coordinate, relative to max(|fd_k|, 1e-2 max_k |fd_k|):
     * float rounding in one entry of the gradient is relative to the size
     * of the terms summed into it, which the largest entry bounds. */
    double wc = 0.0;
    for (int64_t k = 0; k < P; k++)
        wc = fmax(wc, fabs((double)g[k] - fd[k]) / fmax(fabs(fd[k]), 1e-2 * fdmax));
    worst_of(wc, &gw.coord, gw.coord_at, tag);
    /* Along random directions u: (L(p + h u) - L(p - h u)) / 2h against g . u,
     * relative to max(|fd|, ||grad|| ||u|| / sqrt(P)), the typical size of
     * a directional derivative. */
    double wd = 0.0;
    for (int dir = 0; dir < 3; dir++) {
        double un = 0.0, gu = 0.0;
        for (int64_t k = 0; k < P; k++) {
            u[k] = trng_normal(&r);
            un += u[k] * u[k];
        }
        un = sqrt(un);
        for (int64_t k = 0; k < P; k++) {
            u[k] /= un;
            gu += (double)g[k] * u[k];
        }
        const double h = 1e-5;
        for (int64_t k = 0; k < P; k++)
            pd[k] = p[k] + h * u[k];
        const double lp = ref_loss(&a, pd, obj, xd, zd, lv, GN, NULL);
        for (int64_t k = 0; k < P; k++)
            pd[k] = p[k] - h * u[k];
        const double lm = ref_loss(&a, pd, obj, xd, zd, lv, GN, NULL);
        for (int64_t k = 0; k < P; k++)
            pd[k] = p[k];
        const double fdu = (lp - lm) / (2.0 * h);
        wd = fmax(wd, fabs(gu - fdu) / fmax(fabs(fdu), fdn / sqrt((double)P)));
    }
    worst_of(wd, &gw.dir, gw.dir_at, tag);
    gw.min_gnorm = fmin(gw.min_gnorm, fdmax);
    gw.cases++;
    printf("     %-34s loss %-10.4g |dL-ref|/S %.1e  coord %.1e  dir %.1e\n", tag, ref,
           fabs(loss - ref) / scale, wc, wd);
    free(p);
    free(g);
    free(pd);
    free(fd);
    free(u);
    hosm_trainer_free(t);
    hosm_model_free(m);
}

/* SSM and SSM-VR: the library's loss along a random direction of the
 * parameters by central differences, against its gradient (the projections
 * of hosm_trainer_gradient depend on the seed and the step count only, so
 * every call sees the same ones). */
static double lib_loss_at(hosm_model *m, hosm_trainer *t, const float *p, int64_t P,
                          const float *x, const float *z, const int64_t *lv, int64_t n, float *g)
{
    double l;
    MUST(hosm_model_set_params(m, p, P));
    MUST(hosm_trainer_gradient(t, x, z, lv, n, &l, g));
    return l;
}

static double sliced_worst = 0.0;
static char sliced_at[100];

static void sliced_case(int act, const char *train, int64_t levels)
{
    hosm_model *m = energy_model(GD, act, 8, 2, levels, NULL);
    hosm_config *tc = config(train);
    hosm_trainer *t;
    MUST(hosm_trainer_new(&t, m, tc));
    hosm_config_free(tc);
    int64_t P;
    MUST(hosm_model_num_params(m, &P));
    enum { N = 5 };
    float x[N * GD], z[N * GD];
    int64_t lv[N];
    for (int i = 0; i < N; i++)
        lv[i] = i % levels;
    trng r = {4242u + (uint64_t)act};
    for (int i = 0; i < N * GD; i++) {
        x[i] = (float)trng_normal(&r);
        z[i] = (float)trng_normal(&r);
    }
    float *p0 = xmalloc((size_t)P * sizeof *p0), *p = xmalloc((size_t)P * sizeof *p);
    float *g = xmalloc((size_t)P * sizeof *g), *tmp = xmalloc((size_t)P * sizeof *tmp);
    float *u = xmalloc((size_t)P * sizeof *u);
    random_params(&r, p0, P);
    lib_loss_at(m, t, p0, P, x, z, lv, N, g);
    double worst = 0.0, gg = 0.0;
    for (int64_t j = 0; j < P; j++)
        gg += (double)g[j] * g[j];
    for (int dir = 0; dir < 3; dir++) {
        double gu = 0.0, un = 0.0;
        for (int64_t j = 0; j < P; j++) {
            u[j] = (float)trng_normal(&r);
            gu += (double)g[j] * u[j];
            un += (double)u[j] * u[j];
        }
        /* The loss holds f'' of the activations, and ELU's f'' jumps at 0:
         * a smaller step there keeps the pre-activations from crossing it. */
        const double h = (act == HOSM_ACT_ELU ? 1e-3 : 1e-2) / sqrt(un);
        for (int64_t j = 0; j < P; j++)
            p[j] = p0[j] + (float)(h * u[j]);
        const double lp = lib_loss_at(m, t, p, P, x, z, lv, N, tmp);
        for (int64_t j = 0; j < P; j++)
            p[j] = p0[j] - (float)(h * u[j]);
        const double lm = lib_loss_at(m, t, p, P, x, z, lv, N, tmp);
        const double fdu = (lp - lm) / (2.0 * h);
        worst = fmax(worst, fabs(fdu - gu) / fmax(fabs(gu), 0.1 * sqrt(gg * un / (double)P)));
    }
    char tag[128];
    snprintf(tag, sizeof tag, "%s/%s/L=%lld", train, act_name[act], (long long)levels);
    printf("     %-58s dir %.1e\n", tag, worst);
    if (worst > sliced_worst || isnan(worst)) {
        sliced_worst = worst;
        snprintf(sliced_at, sizeof sliced_at, "%.99s", tag);
    }
    free(p0);
    free(p);
    free(g);
    free(tmp);
    free(u);
    hosm_trainer_free(t);
    hosm_model_free(m);
}

static void gradients(void)
{
    for (int obj = 0; obj < 4; obj++)
        for (int act = 0; act < 4; act++)
            for (int64_t levels = 1; levels <= 3; levels += 2)
                for (int64_t depth = 1; depth <= 3; depth++)
                    gradient_case(obj, act, levels, depth);
    char what[160];
    /* The library computes in float (u = 6e-8): E, its input gradient and
     * its Hessian are chains of a few short dot products (5 to 6 terms a
     * layer, up to 4 layers, the backward and tangent passes doubling
     * that), so their relative error is ~1e-6 of the terms' size. Measured
     * worst over the 96 cases: loss 3.1e-7 (bound 1e-5), gradient entries
     * 3.1e-5 (bound 1e-3), directional derivatives 1.5e-6 (bound 1e-4):
     * 30x to 70x of margin, while a wrong factor, sign, level row or
     * missing term is an O(1) error (a 1% change of one activation's f''
     * already fails all three). */
    snprintf(what, sizeof what, "loss: max |L - L_ref| / S over %d cases (%s)", gw.cases,
             gw.loss_at);
    check_le(what, gw.loss, 1e-5);
    snprintf(what, sizeof what, "gradient: max |g_k - fd_k| / max(|fd_k|, 1e-2 max|fd|) (%s)",
             gw.coord_at);
    check_le(what, gw.coord, 1e-3);
    snprintf(what, sizeof what, "gradient: max |g.u - fd_u| / max(|fd_u|, |fd|/sqrt(P)) (%s)",
             gw.dir_at);
    check_le(what, gw.dir, 1e-4);
    /* The comparison means something only if the gradients are not tiny. */
    check_ge("gradient: smallest max_k |fd_k| of a case", gw.min_gnorm, 1e-2);

    static const char *const sliced[] = {
        "objective=ssm projections=1 projection=rademacher",
        "objective=ssm projections=3 projection=rademacher",
        "objective=ssm projections=1 projection=gaussian",
        "objective=ssm projections=3 projection=gaussian",
        "objective=ssm_vr projections=1 projection=rademacher",
        "objective=ssm_vr projections=3 projection=rademacher",
        "objective=ssm_vr projections=1 projection=gaussian",
        "objective=ssm_vr projections=3 projection=gaussian"};
    for (int act = 0; act < 4; act++)
        for (int k = 0; k < 8; k++)
            sliced_case(act, sliced[k], 1);
    sliced_case(HOSM_ACT_SILU, "objective=ssm projections=2 ssm_noise=1", 3);
    sliced_case(HOSM_ACT_TANH, "objective=ssm_vr projections=3 projection=gaussian ssm_noise=1",
                3);
    /* The float loss differenced with a step of 1e-2 (1e-3 for ELU) in
     * parameter space: its own rounding (~1e-7 of terms of size ~10, over
     * 2h) and the curvature error leave a few 1e-3 at most (measured: 1.4e-3
     * at worst, with ELU; 6e-4 at worst for the smooth activations); the
     * bound of tests/train/test_ssm.c. */
    snprintf(what, sizeof what, "SSM, SSM-VR: directional derivative rel. error (%.99s)", sliced_at);
    check_le(what, sliced_worst, 2e-2);
}

/* ======================================================================== */
/* 2. queries against the reference                                         */
/* ======================================================================== */

/* max |a - b| over n values, divided by scale. */
static double max_abs_diff(const float *a, const double *b, int64_t n, double scale)
{
    double w = 0.0;
    for (int64_t i = 0; i < n; i++)
        w = fmax(w, fabs((double)a[i] - b[i]));
    return w / scale;
}

static double max_abs(const double *a, int64_t n)
{
    double w = 0.0;
    for (int64_t i = 0; i < n; i++)
        w = fmax(w, fabs(a[i]));
    return w;
}

static struct {
    double score, logp, dlogp, hess, jac, diag, hvp, cov, var;
    int asym;
} qw;

static void query_case(int act)
{
    enum { NP = 12, L = 3, DD = GD * GD };
    hosm_model *m = energy_model(GD, act, GH, 2, L, NULL);
    emodel a = {{GD, GH, 2, L, act}, {0}};
    for (int64_t l = 0; l < L; l++)
        MUST(hosm_model_sigma(m, l, &a.sigmas[l]));
    int s2;
    int64_t rank, P;
    MUST(hosm_model_s2_structure(m, &s2, &rank));
    CHECK(s2 == HOSM_S2_FULL && rank == 0, "%s: s2 structure %d, rank %lld (expected full, 0)",
          act_name[act], s2, (long long)rank);
    MUST(hosm_model_num_params(m, &P));
    trng r = {880u + (uint64_t)act};
    float *p = xmalloc((size_t)P * sizeof *p);
    double *pd = xmalloc((size_t)P * sizeof *pd);
    random_params(&r, p, P);
    MUST(hosm_model_set_params(m, p, P));
    for (int64_t k = 0; k < P; k++)
        pd[k] = p[k];
    float x[NP * GD], v[NP * GD], s[NP * GD], hs[NP * DD], jc[NP * DD], dg[NP * GD];
    float hv[NP * GD], cov[NP * DD], var[NP * GD];
    double ld[NP];
    for (int i = 0; i < NP * GD; i++) {
        x[i] = (float)(1.5 * trng_normal(&r));
        v[i] = (float)trng_normal(&r);
    }
    for (int64_t l = 0; l < L; l++) {
        const double sg = a.sigmas[l];
        double sr[NP * GD], er[NP], hr[NP * DD], hvr[NP * GD], covr[NP * DD];
        for (int i = 0; i < NP; i++) {
            double xd[GD], g[GD], h[DD];
            for (int j = 0; j < GD; j++)
                xd[j] = x[i * GD + j];
            er[i] = -enet_point(&a.net, pd, xd, l, g, h) / sg;
            for (int j = 0; j < GD; j++)
                sr[i * GD + j] = -g[j] / sg;
            for (int j = 0; j < DD; j++)
                hr[i * DD + j] = -h[j] / sg;
        }
        MUST(hosm_model_score(m, l, x, NP, s));
        MUST(hosm_model_log_density_unnormalized(m, l, x, NP, ld));
        MUST(hosm_model_hessian(m, l, x, NP, hs));
        MUST(hosm_model_score_jacobian(m, l, x, NP, 0, jc));
        MUST(hosm_model_hessian_diag(m, l, x, NP, dg));
        MUST(hosm_model_hvp(m, l, x, v, NP, hv));
        MUST(hosm_model_posterior_cov(m, l, x, NP, 0, cov));
        MUST(hosm_model_posterior_var(m, l, x, NP, 0, var));
        /* Everything relative to the largest reference value of its kind at
         * this level (float rounding is relative to the terms' size). */
        qw.score = fmax(qw.score, max_abs_diff(s, sr, NP * GD, max_abs(sr, NP * GD)));
        const double escale = fmax(1.0 / sg, max_abs(er, NP));
        double wl = 0.0, wd = 0.0;
        for (int i = 0; i < NP; i++) {
            wl = fmax(wl, fabs(ld[i] - er[i]));
            wd = fmax(wd, fabs((ld[i] - ld[0]) - (er[i] - er[0])));
        }
        qw.logp = fmax(qw.logp, wl / escale);
        qw.dlogp = fmax(qw.dlogp, wd / escale);
        const double hscale = max_abs(hr, NP * DD);
        qw.hess = fmax(qw.hess, max_abs_diff(hs, hr, NP * DD, hscale));
        double hsd[NP * DD], dgd[NP * GD];
        for (int i = 0; i < NP * DD; i++)
            hsd[i] = hs[i];
        qw.jac = fmax(qw.jac, max_abs_diff(jc, hsd, NP * DD, hscale));
        for (int i = 0; i < NP; i++)
            for (int j = 0; j < GD; j++) {
                dgd[i * GD + j] = hs[i * DD + j * GD + j];
                double acc = 0.0;
                for (int k = 0; k < GD; k++)
                    acc += hr[i * DD + j * GD + k] * v[i * GD + k];
                hvr[i * GD + j] = acc;
                for (int k = 0; k < GD; k++)
                    covr[i * DD + j * GD + k] =
                        pow(sg, 4) * hs[i * DD + j * GD + k] + (j == k ? sg * sg : 0.0);
                /* Exactly symmetric: the same bits on both sides. */
                for (int k = 0; k < GD; k++)
                    qw.asym += memcmp(&hs[i * DD + j * GD + k], &hs[i * DD + k * GD + j],
                                      sizeof(float)) != 0;
            }
        qw.diag = fmax(qw.diag, max_abs_diff(dg, dgd, NP * GD, hscale));
        qw.hvp = fmax(qw.hvp, max_abs_diff(hv, hvr, NP * GD, max_abs(hvr, NP * GD)));
        const double cscale = max_abs(covr, NP * DD);
        qw.cov = fmax(qw.cov, max_abs_diff(cov, covr, NP * DD, cscale));
        double vard[NP * GD];
        for (int i = 0; i < NP; i++)
            for (int j = 0; j < GD; j++)
                vard[i * GD + j] = cov[i * DD + j * GD + j];
        qw.var = fmax(qw.var, max_abs_diff(var, vard, NP * GD, cscale));
    }
    free(p);
    free(pd);
    hosm_model_free(m);
}

static void queries(void)
{
    for (int act = 0; act < 4; act++)
        query_case(act);
    /* Float against double, relative to the largest value of each kind at
     * a level: a forward pass, its input gradient and its tangents in float
     * are good to ~1e-6 of the terms' size. Measured: 8.5e-7 at worst
     * (the HVP), 2e-7 to 4e-7 for the others, the diagonal and the
     * variances exact; the bounds are 10x or more above. */
    check_le("queries: score vs -grad E_ref / sigma, every level and activation", qw.score,
             1e-5);
    check_le("queries: log density vs -E_ref / sigma (rel. to max(|E|, 1) / sigma)", qw.logp,
             1e-5);
    check_le("queries: log density differences between points vs the reference", qw.dlogp,
             1e-5);
    check_le("queries: hessian vs -Hess E_ref / sigma", qw.hess, 1e-5);
    check_le("queries: hessian entries whose bits differ from their transposes'", qw.asym, 0);
    check_le("queries: score_jacobian (unsymmetrised) vs hessian", qw.jac, 1e-5);
    check_le("queries: hessian_diag vs the Hessian's diagonal", qw.diag, 1e-6);
    check_le("queries: hvp vs Hess_ref v", qw.hvp, 1e-5);
    check_le("queries: posterior_cov vs sigma^4 H + sigma^2 I", qw.cov, 1e-6);
    check_le("queries: posterior_var vs posterior_cov's diagonal", qw.var, 1e-6);
}

/* ======================================================================== */
/* 3. the optimum on Gaussian data                                          */
/* ======================================================================== */

static void gaussian_optimum(void)
{
    gauss2_problem g;
    gauss2_problem_init(&g);
    static const char *const objs[] = {"objective=ssm projections=1",
                                       "objective=ssm_vr projections=1",
                                       "objective=exact_sm ssm_noise=0", "objective=dsm"};
    for (int o = 0; o < 4; o++) {
        const int dsm = o == 3;
        hosm_config *mc =
            config("parameterization=energy hidden=32 depth=2 act=silu sigma=0.5 seed=3");
        char text[200];
        snprintf(text, sizeof text, "%s steps=%d batch=256 lr=2e-3 seed=4 ema=0.99", objs[o],
                 UNDER_VALGRIND() ? 100 : 2000);
        hosm_config *tc = config(text);
        hosm_model *m;
        hosm_trainer *t;
        MUST(hosm_model_new(&m, 2, mc));
        MUST(hosm_trainer_new(&t, m, tc));
        MUST(hosm_trainer_fit(t, g.data, g.n, NULL, NULL));
        MUST(hosm_trainer_copy_ema(t, m));
        const double own = gauss2_score_error(m, dsm ? g.noisy : g.clean, g.mu, g.test, g.nt);
        const double other = gauss2_score_error(m, dsm ? g.clean : g.noisy, g.mu, g.test, g.nt);
        /* Measured with seeds 3/4 and 7/8 at 2000 steps: the score-matching
         * objectives 0.048 to 0.056 from -Sigma^-1 (x - mu) and 0.70 to 0.72
         * from DSM's target; DSM 0.028 to 0.038 from its own and 0.43 from
         * the other. The bounds leave about 2x on the own error and 3x on
         * the ratio; the two targets differ by 0.43 to 0.7 relative, so a
         * model of the wrong target fails both. */
        char what[160];
        snprintf(what, sizeof what, "gaussian: %s: error vs %s", objs[o],
                 dsm ? "-(Sigma + sigma^2 I)^-1 (x - mu)" : "-Sigma^-1 (x - mu)");
        check_le_unless(UNDER_VALGRIND(), what, own, 0.1);
        snprintf(what, sizeof what, "gaussian: %s: own-target error / other-target error",
                 objs[o]);
        check_le_unless(UNDER_VALGRIND(), what, own / other, 0.25);
        hosm_trainer_free(t);
        hosm_model_free(m);
        hosm_config_free(mc);
        hosm_config_free(tc);
    }
    gauss2_problem_free(&g);
}

/* ======================================================================== */
/* 4. a Gaussian mixture: log density and MALA                              */
/* ======================================================================== */

/* Mode occupancy: the fraction of n points each of 3 components is the
 * most responsible for (hosm_mixture_assign). */
static void occupancy(const hosm_mixture *mix, const float *x, int64_t n, double occ[3])
{
    int64_t *k = xmalloc(sizeof(int64_t) * (size_t)n);
    MUST(hosm_mixture_assign(mix, x, n, k));
    occ[0] = occ[1] = occ[2] = 0.0;
    for (int64_t i = 0; i < n; i++)
        occ[k[i]] += 1.0 / (double)n;
    free(k);
}

/* Total variation between two occupancy vectors. */
static double tv3(const double *p, const double *q)
{
    return 0.5 * (fabs(p[0] - q[0]) + fabs(p[1] - q[1]) + fabs(p[2] - q[2]));
}

/* MALA over n chains from x0; the final states' occupancy and the
 * acceptance rate. */
static void mala_run(hosm_sampler *s, const hosm_mixture *mix, const float *x0, int64_t n,
                     double occ[3], double *acc)
{
    float *x = xmalloc(sizeof(float) * 2 * (size_t)n);
    memcpy(x, x0, sizeof(float) * 2 * (size_t)n);
    MUST(hosm_sampler_run(s, x, n, NULL, NULL));
    MUST(hosm_sampler_acceptance(s, acc));
    int64_t div;
    MUST(hosm_sampler_diverged(s, &div));
    CHECK(div == 0, "mala: %lld chains diverged", (long long)div);
    occupancy(mix, x, n, occ);
    free(x);
}

/* std(a - b) / std(b) over n values; the two deviations into *sd_diff
 * and *sd_b (either may be NULL). */
static double sd_ratio(const double *a, const double *b, int64_t n, double *sd_diff,
                       double *sd_b)
{
    double md = 0.0, mb = 0.0, vd = 0.0, vb = 0.0;
    for (int64_t i = 0; i < n; i++) {
        md += (a[i] - b[i]) / (double)n;
        mb += b[i] / (double)n;
    }
    for (int64_t i = 0; i < n; i++) {
        vd += (a[i] - b[i] - md) * (a[i] - b[i] - md);
        vb += (b[i] - mb) * (b[i] - mb);
    }
    if (sd_diff)
        *sd_diff = sqrt(vd / (double)n);
    if (sd_b)
        *sd_b = sqrt(vb / (double)n);
    return sqrt(vd / vb);
}

/* The error of the learned energy's mode masses (and of MALA's mixing in
 * 400 steps) that the MALA check allows beyond sampling noise, in total
 * variation. With 8000 chains the model's TV measured 0.022 to 0.035, of
 * which sampling noise is typically 0.009: the bound (noise bound + 0.03,
 * 0.066) leaves about 1.9x. */
#define ALLOW_MODEL 0.03

static void mixture(void)
{
    const int vg = UNDER_VALGRIND();
    const double sigma = 0.3, w[3] = {0.5, 0.3, 0.2};
    const double mu[6] = {-1.5, -1.2, 1.5, -1.2, 0.0, 1.5};
    double cov[12];
    rot_cov(cov, 0.5, 0.35, 0.12);
    rot_cov(cov + 4, -0.7, 0.3, 0.15);
    rot_cov(cov + 8, 0.0, 0.25, 0.25);
    hosm_mixture *mix;
    MUST(hosm_mixture_new(&mix, 3, 2, w, mu, cov));
    const int64_t n = 20000, nt = 20000;
    float *data = xmalloc(sizeof(float) * 2 * n), *test = xmalloc(sizeof(float) * 2 * nt);
    MUST(hosm_mixture_sample(mix, 101, n, data));
    /* Held-out points of the perturbed mixture q_sigma. */
    MUST(hosm_mixture_sample(mix, 201, nt, test));
    trng r = {301};
    for (int64_t i = 0; i < 2 * nt; i++)
        test[i] += (float)(sigma * trng_normal(&r));

    char text[300];
    snprintf(text, sizeof text,
             "parameterization=energy hidden=32 depth=2 act=silu sigma=%g seed=1 "
             "objective=dsm_vr steps=%d batch=256 lr=2e-3 ema=0.99",
             sigma, vg ? 100 : 2000);
    hosm_config *c = config(text);
    hosm_model *m;
    hosm_trainer *t;
    MUST(hosm_model_new(&m, 2, c));
    MUST(hosm_trainer_new(&t, m, c));
    double *lm = xmalloc(sizeof(double) * nt), *lo = xmalloc(sizeof(double) * nt);
    MUST(hosm_mixture_log_density(mix, sigma, test, nt, lo));
    MUST(hosm_model_log_density_unnormalized(m, 0, test, nt, lm));
    const double untrained = sd_ratio(lm, lo, nt, NULL, NULL);
    MUST(hosm_trainer_fit(t, data, n, NULL, NULL));
    MUST(hosm_trainer_copy_ema(t, m));
    hosm_trainer_free(t);
    hosm_config_free(c);

    /* log p_model - log q_sigma over the held-out points: a constant (the
     * normaliser) plus the model's error. Its standard deviation against
     * that of log q_sigma itself (about 1.0 here). Measured over six seeds
     * of data, weights and noise (1 to 6): 0.056 to 0.095 (with hidden=64
     * on seeds 1 to 3: 0.061 to 0.096, so it is the DSM estimate rather
     * than the width); the bound 0.15 leaves 1.5x. The untrained model
     * (its initial weights) gives 2.5. */
    double sd_model, sd_oracle;
    MUST(hosm_model_log_density_unnormalized(m, 0, test, nt, lm));
    const double ratio = sd_ratio(lm, lo, nt, &sd_model, &sd_oracle);
    printf("     mixture: std(log p_model - log q_sigma) %.4f, std(log q_sigma) %.4f\n",
           sd_model, sd_oracle);
    check_ge_unless(vg, "mixture: the same ratio before training (the test can fail)",
                    untrained, 0.5);
    check_le_unless(vg, "mixture: std(log p_model - log q) / std(log q), held-out points",
                    ratio, 0.15);

    /* MALA at sigma from points uniform in [-3.6, 3.6]^2, whose occupancy
     * is far from the mixture's (TV ~0.23), against the occupancy of the
     * held-out exact draws of q_sigma. Both occupancies are sample
     * fractions, so even exact sampling leaves a TV of about
     * 0.5 sum_k sd_k, sd_k = sqrt(p_k (1 - p_k) (1/nc + 1/nt)) (0.009
     * here): the noise bound is 0.5 sum_k 4 sd_k (0.036), which exact
     * sampling exceeds with a probability below 2e-4. The same sampler on
     * the oracle shows that these settings mix: it must stay within the
     * noise bound. The model's TV adds the error of the learned energy's
     * mode masses (ALLOW_MODEL). Measured over sampler seeds 9 to 13: the
     * oracle 0.004 to 0.019 (400 steps leave the largest mode 0.3 to 1.8
     * points short), the model 0.022 to 0.035; acceptance 0.92 on both. */
    const int64_t nc = vg ? 50 : 8000;
    float *x0 = xmalloc(sizeof(float) * 2 * (size_t)nc);
    trng r2 = {77};
    for (int64_t i = 0; i < 2 * nc; i++)
        x0[i] = (float)trng_sym(&r2, 3.6);
    double occ_exact[3], occ0[3], occ_model[3], occ_oracle[3], acc_model, acc_oracle;
    occupancy(mix, test, nt, occ_exact);
    occupancy(mix, x0, nc, occ0);
    snprintf(text, sizeof text, "sampler=mala sample_steps=%d step_size=0.2 seed=9",
             vg ? 20 : 400);
    hosm_config *sc = config(text);
    hosm_sampler *s;
    MUST(hosm_sampler_new(&s, m, sc));
    mala_run(s, mix, x0, nc, occ_model, &acc_model);
    hosm_sampler_free(s);
    MUST(hosm_sampler_new_mixture(&s, mix, sigma, sc));
    mala_run(s, mix, x0, nc, occ_oracle, &acc_oracle);
    hosm_sampler_free(s);
    hosm_config_free(sc);
    printf("     occupancy: exact %.3f %.3f %.3f, initial %.3f %.3f %.3f, MALA on the model "
           "%.3f %.3f %.3f, on the oracle %.3f %.3f %.3f\n",
           occ_exact[0], occ_exact[1], occ_exact[2], occ0[0], occ0[1], occ0[2], occ_model[0],
           occ_model[1], occ_model[2], occ_oracle[0], occ_oracle[1], occ_oracle[2]);
    check_ge_unless(vg, "mixture: TV(initial occupancy, exact) (the test can fail)",
                    tv3(occ0, occ_exact), 0.15);
    double noise = 0.0;
    for (int k = 0; k < 3; k++)
        noise += 0.5 * 4.0 * sqrt(occ_exact[k] * (1.0 - occ_exact[k]) * (1.0 / nc + 1.0 / nt));
    check_le_unless(vg, "mixture: TV(MALA on the oracle, exact) (the settings mix; noise bound)",
                    tv3(occ_oracle, occ_exact), noise);
    check_le_unless(vg, "mixture: TV(MALA on the energy model, exact) (noise bound + model)",
                    tv3(occ_model, occ_exact), noise + ALLOW_MODEL);
    check_ge_unless(vg, "mixture: MALA acceptance on the energy model (not too low)", acc_model,
                    0.6);
    check_le_unless(vg, "mixture: MALA acceptance on the energy model (not all)", acc_model,
                    0.99);
    check_le_unless(vg, "mixture: |acceptance on the model - on the oracle|",
                    fabs(acc_model - acc_oracle), 0.05);
    free(x0);
    free(lm);
    free(lo);
    free(data);
    free(test);
    hosm_model_free(m);
    hosm_mixture_free(mix);
}

/* ======================================================================== */
/* 5. files and hosm_model_at_sigma                                         */
/* ======================================================================== */

static char g_dir[256];

static uint8_t *save_mem(const hosm_model *m, int64_t *size)
{
    MUST(hosm_model_save_size(m, size));
    uint8_t *buf = xmalloc((size_t)*size);
    int64_t written;
    MUST(hosm_model_save_mem(m, buf, *size, &written));
    CHECK(written == *size, "save_mem wrote %lld of %lld bytes", (long long)written,
          (long long)*size);
    return buf;
}

/* Offset of the payload of the section with the given tag, or -1. */
static int64_t find_section(const uint8_t *buf, int64_t size, const char *tag)
{
    int64_t pos = 24;
    const uint32_t count = (uint32_t)get_le(buf + 12, 4);
    for (uint32_t s = 0; s < count && pos + 16 <= size; s++) {
        const uint64_t n = get_le(buf + pos + 8, 8);
        if (memcmp(buf + pos, tag, 4) == 0)
            return pos + 16;
        pos += 16 + (int64_t)n;
    }
    return -1;
}

static void expect_load(const uint8_t *buf, int64_t size, int want, const char *what)
{
    hosm_model *m = (hosm_model *)&m; /* not NULL: the loader must reset it */
    const int st = hosm_model_load_mem(&m, buf, size);
    const char *msg = hosm_last_errmsg();
    CHECK(st == want && (st == HOSM_OK || (m == NULL && msg[0])),
          "%s: status %d (%s), expected %d; out %s; message '%s'", what, st, hosm_strerror(st),
          want, m ? "not NULL" : "NULL", msg);
    if (st == want)
        printf("ok   %-58s -> %s: %s\n", what, hosm_strerror(st), st ? msg : "");
    if (st == HOSM_OK)
        hosm_model_free(m);
}

/* Bit-identical parameters, config, scores, log densities and Hessians at
 * every level of a few points. */
static int same_energy_model(const hosm_model *a, const hosm_model *b, const char *tag)
{
    enum { NP = 6 };
    int ok = 1;
    int64_t pa, pb, L;
    MUST(hosm_model_num_params(a, &pa));
    MUST(hosm_model_num_params(b, &pb));
    MUST(hosm_model_num_levels(a, &L));
    if (pa != pb) {
        printf("FAIL %s: %lld vs %lld parameters\n", tag, (long long)pa, (long long)pb);
        return 0;
    }
    float *x = xmalloc((size_t)pa * sizeof(float)), *y = xmalloc((size_t)pa * sizeof(float));
    MUST(hosm_model_get_params(a, x, pa));
    MUST(hosm_model_get_params(b, y, pb));
    ok &= memcmp(x, y, (size_t)pa * sizeof(float)) == 0;
    free(x);
    free(y);
    char ta[4096], tb[4096];
    hosm_config *ca, *cb;
    MUST(hosm_config_new(&ca));
    MUST(hosm_config_new(&cb));
    MUST(hosm_model_get_config(a, ca));
    MUST(hosm_model_get_config(b, cb));
    MUST(hosm_config_to_text(ca, ta, sizeof ta, NULL));
    MUST(hosm_config_to_text(cb, tb, sizeof tb, NULL));
    ok &= strcmp(ta, tb) == 0 && strstr(tb, "parameterization=energy") != NULL;
    hosm_config_free(ca);
    hosm_config_free(cb);
    float pts[NP * GD], sa[NP * GD], sb[NP * GD], ha[NP * GD * GD], hb[NP * GD * GD];
    double la[NP], lb[NP];
    trng r = {404};
    for (int i = 0; i < NP * GD; i++)
        pts[i] = (float)trng_normal(&r);
    for (int64_t l = 0; l < L; l++) {
        MUST(hosm_model_score(a, l, pts, NP, sa));
        MUST(hosm_model_score(b, l, pts, NP, sb));
        MUST(hosm_model_log_density_unnormalized(a, l, pts, NP, la));
        MUST(hosm_model_log_density_unnormalized(b, l, pts, NP, lb));
        MUST(hosm_model_hessian(a, l, pts, NP, ha));
        MUST(hosm_model_hessian(b, l, pts, NP, hb));
        ok &= memcmp(sa, sb, sizeof sa) == 0 && memcmp(la, lb, sizeof la) == 0 &&
              memcmp(ha, hb, sizeof ha) == 0;
    }
    if (!ok)
        printf("FAIL %s: the models differ\n", tag);
    return ok;
}

static void files(void)
{
    hosm_model *m = energy_model(GD, HOSM_ACT_SILU, GH, 2, 3, NULL);
    int64_t P;
    MUST(hosm_model_num_params(m, &P));
    {
        float *p = xmalloc((size_t)P * sizeof *p);
        trng r = {31};
        random_params(&r, p, P);
        MUST(hosm_model_set_params(m, p, P));
        free(p);
    }
    int64_t size, fsize;
    uint8_t *buf = save_mem(m, &size);
    char path[512];
    snprintf(path, sizeof path, "%s/energy.hosm", g_dir);
    MUST(hosm_model_save(m, path));
    uint8_t *fbuf = read_all(path, &fsize);
    CHECK(fsize == size && memcmp(fbuf, buf, (size_t)size) == 0,
          "files: the file differs from the memory image");
    CHECK(get_le(buf + 8, 4) == 4, "files: energy model: format version %u, expected 4",
          (unsigned)get_le(buf + 8, 4));
    const int64_t arch = find_section(buf, size, "ARCH");
    CHECK(arch > 0 && get_le(buf + arch + 28, 4) == HOSM_PARAM_ENERGY,
          "files: ARCH's parameterization field is not 1");
    hosm_model *a, *b;
    MUST(hosm_model_load(&a, path));
    MUST(hosm_model_load_mem(&b, buf, size));
    CHECK(same_energy_model(m, a, "files: via a path"), "files: round trip through a path");
    CHECK(same_energy_model(m, b, "files: via memory"), "files: round trip through memory");
    int64_t size2;
    uint8_t *buf2 = save_mem(b, &size2);
    CHECK(size2 == size && memcmp(buf, buf2, (size_t)size) == 0,
          "files: re-saving a loaded energy model changes the bytes");
    printf("ok   files: energy model, %lld bytes, version 4: round trips and re-save exact\n",
           (long long)size);
    free(buf2);
    free(fbuf);
    remove(path);
    hosm_model_free(a);
    hosm_model_free(b);

    /* The loader's answer to a damaged energy file (CRC-32 recomputed). */
    uint8_t *bad = xmalloc((size_t)size);
    memcpy(bad, buf, (size_t)size);
    fix_crc(bad, size);
    CHECK(memcmp(bad, buf, (size_t)size) == 0, "files: the test's CRC-32 differs");
    memcpy(bad, buf, (size_t)size);
    put_le(bad + 8, 3, 4);
    fix_crc(bad, size);
    expect_load(bad, size, HOSM_E_CORRUPT, "energy model in a version-3 file, CRC fixed");
    memcpy(bad, buf, (size_t)size);
    put_le(bad + arch + 28, 2, 4);
    fix_crc(bad, size);
    expect_load(bad, size, HOSM_E_CORRUPT,
                "ARCH parameterization 2 (denoiser) in a version-4 file, CRC fixed");
    memcpy(bad, buf, (size_t)size);
    put_le(bad + arch + 28, 3, 4);
    put_le(bad + 8, 5, 4);
    fix_crc(bad, size);
    expect_load(bad, size, HOSM_E_CORRUPT, "ARCH parameterization 3, CRC fixed");
    memcpy(bad, buf, (size_t)size);
    put_le(bad + arch + 28, 0, 4);
    fix_crc(bad, size);
    expect_load(bad, size, HOSM_E_CORRUPT, "ARCH parameterization 0 (score), CRC fixed");
    memcpy(bad, buf, (size_t)size);
    put_le(bad + 8, 7, 4);
    fix_crc(bad, size);
    expect_load(bad, size, HOSM_E_VERSION, "version 7, CRC fixed");
    free(bad);
    free(buf);

    /* Settings beside an energy model: still version 4, kept exactly. */
    hosm_model *ms = energy_model(GD, HOSM_ACT_TANH, GH, 1, 1, "objective=ssm_vr lr=0.003");
    buf = save_mem(ms, &size);
    CHECK(get_le(buf + 8, 4) == 4, "files: energy model with settings: version %u",
          (unsigned)get_le(buf + 8, 4));
    MUST(hosm_model_load_mem(&a, buf, size));
    CHECK(same_energy_model(ms, a, "files: energy model with settings"),
          "files: energy model with settings does not round-trip");
    hosm_model_free(a);
    hosm_model_free(ms);
    free(buf);

    /* Score networks keep versions 1 to 3 and a zero parameterization
     * (the file base's settings: none to store). */
    static const char *const score[] = {"hidden=5 " FILE_BASE, "hidden=5 s2=diag " FILE_BASE,
                                        "hidden=5 lr=0.003"};
    for (int k = 0; k < 3; k++) {
        hosm_config *c = config(score[k]);
        hosm_model *sm;
        MUST(hosm_model_new(&sm, GD, c));
        hosm_config_free(c);
        buf = save_mem(sm, &size);
        const int64_t ar = find_section(buf, size, "ARCH");
        CHECK(get_le(buf + 8, 4) == (uint64_t)(k + 1) && ar > 0 && get_le(buf + ar + 28, 4) == 0,
              "files: score network '%s': version %u, parameterization %u (expected %d, 0)",
              score[k], (unsigned)get_le(buf + 8, 4), (unsigned)get_le(buf + ar + 28, 4), k + 1);
        double ld;
        const float x0[GD] = {0};
        CHECK(hosm_model_log_density_unnormalized(sm, 0, x0, 1, &ld) == HOSM_E_UNSUPPORTED,
              "files: a score network answers the log density");
        free(buf);
        hosm_model_free(sm);
    }
    printf("ok   files: score networks saved as versions 1, 2, 3 with parameterization 0\n");

    /* hosm_model_at_sigma at a level of the ladder answers as that level: an
     * energy model again (log density, a "full" s2), to float rounding (the
     * embedding is added to the first-layer bias once instead of after it:
     * one rounding more; bound 1e-5 relative as in tests/train/test_at_sigma.c). */
    enum { NP = 8 };
    float x[NP * GD], s0[NP * GD], s1[NP * GD], h0[NP * GD * GD], h1[NP * GD * GD];
    double l0[NP], l1[NP];
    trng r = {55};
    for (int i = 0; i < NP * GD; i++)
        x[i] = (float)trng_normal(&r);
    double ws = 0.0, wl = 0.0, wh = 0.0;
    for (int64_t l = 0; l < 3; l++) {
        double sg;
        MUST(hosm_model_sigma(m, l, &sg));
        hosm_model *o;
        MUST(hosm_model_at_sigma(&o, m, sg));
        int s2;
        MUST(hosm_model_s2_structure(o, &s2, NULL));
        CHECK(s2 == HOSM_S2_FULL, "at_sigma: structure %d", s2);
        MUST(hosm_model_score(m, l, x, NP, s0));
        MUST(hosm_model_score(o, 0, x, NP, s1));
        MUST(hosm_model_log_density_unnormalized(m, l, x, NP, l0));
        MUST(hosm_model_log_density_unnormalized(o, 0, x, NP, l1));
        MUST(hosm_model_hessian(m, l, x, NP, h0));
        MUST(hosm_model_hessian(o, 0, x, NP, h1));
        for (int i = 0; i < NP * GD; i++)
            ws = fmax(ws, fabs((double)s0[i] - s1[i]) / (1.0 + fabs((double)s0[i])));
        for (int i = 0; i < NP; i++)
            wl = fmax(wl, fabs(l0[i] - l1[i]) / (1.0 + fabs(l0[i])));
        for (int i = 0; i < NP * GD * GD; i++)
            wh = fmax(wh, fabs((double)h0[i] - h1[i]) / (1.0 + fabs((double)h0[i])));
        hosm_model_free(o);
    }
    check_le("at_sigma: energy ladder at its levels: scores (rel.)", ws, 1e-5);
    check_le("at_sigma: energy ladder at its levels: log densities (rel.)", wl, 1e-5);
    check_le("at_sigma: energy ladder at its levels: Hessians (rel.)", wh, 1e-5);
    hosm_model_free(m);
}

int main(void)
{
    const double t0 = now_seconds();
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/hosm-test-energy-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        printf("FATAL: mkdtemp failed\n");
        return 1;
    }
    gradients();
    queries();
    files();
    rmdir(g_dir);
    printf("gradients, queries, files: %.2f s\n", now_seconds() - t0);
    double t1 = now_seconds();
    gaussian_optimum();
    printf("gaussian optimum: %.2f s\n", now_seconds() - t1);
    t1 = now_seconds();
    mixture();
    printf("mixture: %.2f s\n", now_seconds() - t1);
    printf("time %.2f s\n", now_seconds() - t0);
    return finish("test_energy");
}
