/* The second-order queries against each other, against dense linear algebra
 * done in the test, and the Jacobian against finite differences.
 *
 * Models: D = 4, hidden 6, depth 2, softplus, a 2-level ladder (sigma 0.9
 * and 0.5; both levels are queried), s2 = none (Jacobian only), diag,
 * lowrank (r = 2) and full, every parameter drawn uniformly from (-0.8, 0.8)
 * (so that biases and level rows matter, and so that some entries of d and
 * some eigenvalues of s2 fall below the clamp floor -1/sigma^2 while others
 * do not; both are counted and required). 8 points, each coordinate a
 * multiple of 2^-8 so that x +- h is exact in float. A low-rank model at
 * D = 200 (r = 5) exercises the Lanczos path of the top-k query at a size
 * where a Krylov method has work to do (test_s2_topk_spectrum adds hard
 * spectra for the low-rank and full paths).
 *
 * Checks and tolerances (u = 2^-24, the float unit roundoff; every library
 * output is a float rounding of a value computed in float or double):
 *  1. Jacobian vs central differences of hosm_model_score (fourth-order
 *     stencil, h = 2^-6): |J - fd| <= 1e-3 max(1, max|s|, max|J|) per point.
 *     The score is float: each evaluation has an error eps_s <= ~2e-6
 *     max|s| (3 layers of <= 7-term float dot products and activations, each
 *     step ~u), and the stencil amplifies it by (1+8+8+1)/(12 h) = 96, so
 *     ~2e-4 max|s|; truncation h^4 |s^(5)| / 30 ~ 1e-8 |s^(5)| is negligible
 *     for these weights. The bound is 5x the rounding, and a wrong
 *     transposition, scaling by sigma or level is an O(1) error.
 *  2. symmetrize = 1 gives (J + J^T) / 2: |Js - (J_ab + J_ba)/2| <=
 *     4u (|J_ab| + |J_ba|): the library rounds one sum and one product, the
 *     test's J entries are rounded once each, ~1.5u (|J_ab| + |J_ba|) in all.
 *  3. score_jacobian_diag = diag(J): <= 2u |J_aa| (two roundings of one
 *     value; in practice identical).
 *  The dense low-rank s2 (hessian, posterior_cov) forms U U^T with one float
 *  GEMM of U rounded to float: its entries carry up to g sum_j |U_aj U_bj|
 *  of rounding, g = (r + 2) u (two roundings of U, then r float products and
 *  sums; g >= 4u is used for r < 2), which on the diagonal can exceed
 *  u |H_aa| when d cancels U U^T. The other queries compute in double.
 *  4. hessian: exactly symmetric; hessian_diag = diag(hessian): <= 2u |H_aa|
 *     + g sum_j U_aj^2 (lowrank) + 1e-12 ||H||_F (two float roundings of one
 *     value, the GEMM's rounding, and double rounding of a cancelling sum).
 *  5. hessian_factors (lowrank): U U^T + diag(d) in double from the float
 *     factors vs hessian: <= g (sum_j |U_aj U_bj| + |d_a| [a = b]) + u |H_ab|.
 *  6. hvp: s2 v vs H v in double from the float hessian: <= 4u sum_b |H_ab v_b|
 *     + g sum_b sum_j |U_aj U_bj v_b| (lowrank).
 *  7. posterior_cov, clamp = 0: sigma^4 H + sigma^2 I entrywise within
 *     4u (sigma^4 |H_ab| + sigma^2 [a = b]). clamp = 1: for diag and lowrank
 *     sigma^4 (U U^T + diag(max(d, -1/sigma^2))) + sigma^2 I from the
 *     factors (hessian_diag for diag) within g sigma^4 (sum_j |U_aj U_bj| +
 *     |d_a| [a = b]) + 4u sigma^2 [a = b]; for full
 *     sigma^4 Q max(Lambda, -1/sigma^2) Q^T + sigma^2 I from the test's
 *     Jacobi eigendecomposition of the float hessian, in
 *     Frobenius norm within 4u (sigma^4 ||H||_F + sigma^2 sqrt(D)): raising
 *     eigenvalues to a floor is the projection onto {A >= floor I}, which is
 *     1-Lipschitz in the Frobenius norm, so the float rounding of H (<= u/2
 *     ||H||_F) moves the result by no more, and the output rounding adds
 *     u ||C||_F.
 *  8. posterior_var = diag(posterior_cov) for clamp 0 and 1: <= 2u (sigma^4
 *     |H_aa| + sigma^2) + g sigma^4 sum_j U_aj^2 (lowrank) + 2u |C_aa|.
 *  9. posterior_topk (k = 1, 2, D at D = 4 for every structure and clamp;
 *     k = 1, 5, 12 at D = 200), against the dense covariance C of
 *     posterior_cov with the same clamp and its eigenvalues mu (test Jacobi):
 *     values descending; |v_i . v_j - [i = j]| <= 1e-6 (each float entry is
 *     rounded with relative error u, so a dot product of unit vectors moves by
 *     <= 2u = 1.2e-7, 8x below; the library's vectors are orthonormal in
 *     double); ||C v_i - lambda_i v_i|| <= 1e-5 ||C||_F and |lambda_i - mu_i|
 *     <= 1e-5 ||C||_F (Weyl: rounding C to float moves eigenvalues by <= u
 *     ||C||_F; rounding v and lambda adds ~2u ||C||; 1e-5 is ~50x that, while
 *     a wrong eigenpair, order or clamp is O(1)). The test's Jacobi solver is
 *     itself checked (residual and orthogonality of its eigenvectors).
 * 10. Batches longer than the internal chunks equal one-point calls, bit for
 *     bit, on both sides of every chunk boundary.
 * 11. hosm_model_hessian_estimate is, bit for bit, hosm_model_hessian for
 *     "s2", the symmetrised Jacobian for "jacobian" and 0.5 H + 0.5 J_sym
 *     (both halvings exact) for "average", also across its chunks of
 *     points; "s2" and "average" need an s2, and other sources are
 *     HOSM_E_ARG. */
#include "../test_util.h"

#define NP 8

static const char *const s2_name[] = {"none", "diag", "lowrank", "full"};

typedef struct {
    double jac_fd, jac_sym, jac_diag, h_diag, factors, hvp, cov0, cov1, var, orth, resid, vals;
    int64_t clamped, unclamped; /* entries of d / eigenvalues below and above the floor */
} worst_t;

static worst_t W;

static hosm_model *make_model(int64_t D, int s2, int64_t rank, uint64_t seed)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=6 depth=2 act=softplus levels=2 sigma_max=0.9 "
                                "sigma_min=0.5"));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2, s2));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_RANK, rank));
    hosm_model *m;
    MUST(hosm_model_new(&m, D, cfg));
    hosm_config_free(cfg);
    int64_t P;
    MUST(hosm_model_num_params(m, &P));
    float *p = xmalloc((size_t)P * sizeof *p);
    trng r = {seed};
    for (int64_t i = 0; i < P; i++)
        p[i] = (float)trng_sym(&r, 0.8);
    MUST(hosm_model_set_params(m, p, P));
    free(p);
    return m;
}

/* Points on a 2^-8 grid. */
static void make_points(float *x, int64_t n, int64_t D, uint64_t seed)
{
    trng r = {seed};
    for (int64_t i = 0; i < n * D; i++)
        x[i] = (float)(nearbyint(256.0 * trng_normal(&r)) / 256.0);
}

/* 1-3: the Jacobian of s1. */
static void check_jacobian(const char *tag, const hosm_model *m, int64_t D, int64_t level,
                           const float *x)
{
    const size_t DD = (size_t)D * D;
    float *J = xmalloc(NP * DD * sizeof *J), *Js = xmalloc(NP * DD * sizeof *Js);
    float *Jd = xmalloc((size_t)NP * D * sizeof *Jd), *s = xmalloc((size_t)D * sizeof *s);
    float *xs = xmalloc((size_t)D * sizeof *xs), *s0 = xmalloc((size_t)NP * D * sizeof *s0);
    MUST(hosm_model_score_jacobian(m, level, x, NP, 0, J));
    MUST(hosm_model_score_jacobian(m, level, x, NP, 1, Js));
    MUST(hosm_model_score_jacobian_diag(m, level, x, NP, Jd));
    MUST(hosm_model_score(m, level, x, NP, s0));
    const float h = 0x1.0p-6f;
    const int off[4] = {2, 1, -1, -2};
    const double coef[4] = {-1.0, 8.0, -8.0, 1.0};
    double wfd = 0.0, wsym = 0.0, wdiag = 0.0;
    for (int i = 0; i < NP; i++) {
        const float *Ji = J + i * DD;
        double scale = 1.0;
        for (int64_t a = 0; a < D; a++)
            scale = fmax(scale, fabs(s0[i * D + a]));
        for (size_t k = 0; k < DD; k++)
            scale = fmax(scale, fabs(Ji[k]));
        for (int64_t b = 0; b < D; b++) {
            double fd[64] = {0};
            for (int o = 0; o < 4; o++) {
                memcpy(xs, x + i * D, (size_t)D * sizeof *xs);
                xs[b] += (float)off[o] * h; /* exact: x is on a 2^-8 grid */
                MUST(hosm_model_score(m, level, xs, 1, s));
                for (int64_t a = 0; a < D; a++)
                    fd[a] += coef[o] * s[a];
            }
            for (int64_t a = 0; a < D; a++)
                wfd = fmax(wfd, fabs(fd[a] / (12.0 * h) - Ji[a * D + b]) / scale);
        }
        for (int64_t a = 0; a < D; a++) {
            for (int64_t b = 0; b < D; b++) {
                double e = 0.5 * ((double)Ji[a * D + b] + Ji[b * D + a]);
                double tol = 4.0 * U32 * (fabs(Ji[a * D + b]) + fabs(Ji[b * D + a]));
                wsym = fmax(wsym, fabs(Js[i * DD + a * D + b] - e) / fmax(tol, 1e-300));
            }
            double tol = 2.0 * U32 * fabs(Ji[a * D + a]);
            double e = fabs(Jd[i * D + a] - Ji[a * D + a]);
            wdiag = fmax(wdiag, e == 0.0 ? 0.0 : e / fmax(tol, 1e-300));
        }
    }
    printf("  %-28s jacobian: fd err %.2g (/1e-3), sym %.2g, diag %.2g (of their tolerances)\n",
           tag, wfd, wsym, wdiag);
    W.jac_fd = fmax(W.jac_fd, wfd / 1e-3);
    W.jac_sym = fmax(W.jac_sym, wsym);
    W.jac_diag = fmax(W.jac_diag, wdiag);
    free(J);
    free(Js);
    free(Jd);
    free(s);
    free(xs);
    free(s0);
}

/* Eigenvalues above/below a floor. */
static void count_floor(const double *w, int64_t n, double floor_)
{
    for (int64_t i = 0; i < n; i++) {
        if (w[i] < floor_)
            W.clamped++;
        else
            W.unclamped++;
    }
}

/* Checks the test's own Jacobi on a dense symmetric matrix a (n x n):
 * ||A V - V Lambda||_F and ||V^T V - I||_max relative to ||A||_F. */
static void check_jacobi(const double *a, int n, const double *w, const double *v)
{
    double res = 0.0, orth = 0.0, fa = 0.0;
    for (int i = 0; i < n * n; i++)
        fa += a[i] * a[i];
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < n; i++) {
            double s = -w[j] * v[i * n + j];
            for (int k = 0; k < n; k++)
                s += a[i * n + k] * v[k * n + j];
            res += s * s;
        }
        for (int l = 0; l < n; l++) {
            double s = 0.0;
            for (int k = 0; k < n; k++)
                s += v[k * n + j] * v[k * n + l];
            orth = fmax(orth, fabs(s - (j == l ? 1.0 : 0.0)));
        }
    }
    res = sqrt(res / fmax(fa, 1e-300));
    if (!(res < 1e-12 && orth < 1e-12)) {
        g_failures++;
        printf("FAIL test Jacobi solver: residual %.3g, orthogonality %.3g\n", res, orth);
    }
    g_checks++;
}

/* Eigenvalues (descending) of n dense D x D covariances c into mu (n x D),
 * with the test's Jacobi solver checked on each. */
static void dense_eigs(int64_t D, const float *c, int64_t n, double *mu)
{
    double *a = xmalloc((size_t)(D * D) * sizeof *a), *V = xmalloc((size_t)(D * D) * sizeof *V);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t t = 0; t < D * D; t++)
            a[t] = c[i * D * D + t];
        jacobi_eig((int)D, a, mu + i * D, V);
        check_jacobi(a, (int)D, mu + i * D, V);
    }
    free(a);
    free(V);
}

/* 9: top-k against the dense covariance c (n x D x D floats) and its
 * eigenvalues mu (n x D, descending). */
static void check_topk(const char *tag, const hosm_model *m, int64_t D, int64_t level,
                       const float *x, int64_t n, int64_t k, int clamp, const float *c,
                       const double *mu_all)
{
    float *vals = xmalloc((size_t)(n * k) * sizeof *vals);
    float *vecs = xmalloc((size_t)(n * k * D) * sizeof *vecs);
    MUST(hosm_model_posterior_topk(m, level, x, n, k, clamp, vals, vecs));
    double worth = 0.0, wres = 0.0, wval = 0.0;
    int desc = 1;
    for (int64_t i = 0; i < n; i++) {
        const float *ci = c + i * D * D, *vi = vecs + i * k * D, *li = vals + i * k;
        const double *mu = mu_all + i * D;
        double fc = 0.0;
        for (int64_t t = 0; t < D * D; t++)
            fc += (double)ci[t] * ci[t];
        fc = sqrt(fc);
        for (int64_t p = 0; p < k; p++) {
            if (p > 0 && li[p] > li[p - 1])
                desc = 0;
            wval = fmax(wval, fabs(li[p] - mu[p]) / fc);
            double res = 0.0;
            for (int64_t s = 0; s < D; s++) {
                double y = -(double)li[p] * vi[p * D + s];
                for (int64_t t = 0; t < D; t++)
                    y += (double)ci[s * D + t] * vi[p * D + t];
                res += y * y;
            }
            wres = fmax(wres, sqrt(res) / fc);
            for (int64_t q = 0; q < k; q++) {
                double d = 0.0;
                for (int64_t s = 0; s < D; s++)
                    d += (double)vi[p * D + s] * vi[q * D + s];
                worth = fmax(worth, fabs(d - (p == q ? 1.0 : 0.0)));
            }
        }
    }
    CHECK(desc, "%s: top-%lld values are not descending", tag, (long long)k);
    printf("  %-28s top-%-3lld clamp=%d: |v.v-I| %.2g, ||Cv-lv||/||C|| %.2g, |l-mu|/||C|| %.2g\n",
           tag, (long long)k, clamp, worth, wres, wval);
    W.orth = fmax(W.orth, worth);
    W.resid = fmax(W.resid, wres);
    W.vals = fmax(W.vals, wval);
    free(vals);
    free(vecs);
}

/* 4-9 for one structure at one level. */
static void check_s2(const char *tag, const hosm_model *m, int64_t D, int64_t level,
                     const float *x)
{
    const size_t DD = (size_t)D * D;
    int s2;
    int64_t r;
    MUST(hosm_model_s2_structure(m, &s2, &r));
    double sigma;
    MUST(hosm_model_sigma(m, level, &sigma));
    const double s2g = sigma * sigma, s4 = s2g * s2g, floor_ = -1.0 / s2g;
    const double g = fmax(4.0, (double)r + 2.0) * U32; /* see the header: U U^T's rounding */
    float *H = xmalloc(NP * DD * sizeof *H), *Hd = xmalloc((size_t)NP * D * sizeof *Hd);
    float *C0 = xmalloc(NP * DD * sizeof *C0), *C1 = xmalloc(NP * DD * sizeof *C1);
    float *V0 = xmalloc((size_t)NP * D * sizeof *V0), *V1 = xmalloc((size_t)NP * D * sizeof *V1);
    float *v = xmalloc((size_t)NP * D * sizeof *v), *hv = xmalloc((size_t)NP * D * sizeof *hv);
    float *U = xmalloc((size_t)NP * D * (r ? r : 1) * sizeof *U);
    float *d = xmalloc((size_t)NP * D * sizeof *d);
    MUST(hosm_model_hessian(m, level, x, NP, H));
    MUST(hosm_model_hessian_diag(m, level, x, NP, Hd));
    MUST(hosm_model_posterior_cov(m, level, x, NP, 0, C0));
    MUST(hosm_model_posterior_cov(m, level, x, NP, 1, C1));
    MUST(hosm_model_posterior_var(m, level, x, NP, 0, V0));
    MUST(hosm_model_posterior_var(m, level, x, NP, 1, V1));
    trng rv = {(uint64_t)(level * 10 + s2)};
    for (int64_t i = 0; i < NP * D; i++)
        v[i] = (float)trng_normal(&rv);
    MUST(hosm_model_hvp(m, level, x, v, NP, hv));
    if (s2 == HOSM_S2_LOWRANK)
        MUST(hosm_model_hessian_factors(m, level, x, NP, U, d));

    double whd = 0.0, wf = 0.0, whv = 0.0, wc0 = 0.0, wc1 = 0.0, wv = 0.0;
    int sym = 1;
    double *a = xmalloc(DD * sizeof *a), *ev = xmalloc((size_t)D * sizeof *ev);
    double *Q = xmalloc(DD * sizeof *Q), *ref = xmalloc(DD * sizeof *ref);
    double *tolm = xmalloc(DD * sizeof *tolm);
    for (int i = 0; i < NP; i++) {
        const float *Hi = H + i * DD;
        double fh = 0.0;
        for (size_t t = 0; t < DD; t++)
            fh += (double)Hi[t] * Hi[t];
        fh = sqrt(fh);
        for (int64_t p = 0; p < D; p++)
            for (int64_t q = 0; q < D; q++)
                if (Hi[p * D + q] != Hi[q * D + p] || C0[i * DD + p * D + q] != C0[i * DD + q * D + p])
                    sym = 0;
        /* sum_j U_aj^2 of a low-rank s2 (0 otherwise), for the GEMM's rounding. */
        double usq[64] = {0};
        for (int64_t p = 0; p < D && s2 == HOSM_S2_LOWRANK; p++)
            for (int64_t j = 0; j < r; j++)
                usq[p] += (double)U[(i * D + p) * r + j] * U[(i * D + p) * r + j];
        /* 4: hessian_diag. */
        for (int64_t p = 0; p < D; p++) {
            double e = fabs(Hd[i * D + p] - Hi[p * D + p]);
            whd = fmax(whd, e / (2.0 * U32 * fabs(Hi[p * D + p]) + g * usq[p] + 1e-12 * fh));
        }
        /* The clamped reference (and for lowrank the factor check). */
        for (int64_t p = 0; p < D; p++)
            for (int64_t q = 0; q < D; q++) {
                ref[p * D + q] = 0.0;
                tolm[p * D + q] = 0.0;
            }
        if (s2 == HOSM_S2_FULL) {
            for (size_t t = 0; t < DD; t++)
                a[t] = Hi[t];
            jacobi_eig((int)D, a, ev, Q);
            check_jacobi(a, (int)D, ev, Q);
            count_floor(ev, D, floor_);
            double num = 0.0;
            for (int64_t p = 0; p < D; p++)
                for (int64_t q = 0; q < D; q++) {
                    double s = 0.0;
                    for (int64_t t = 0; t < D; t++)
                        s += Q[p * D + t] * fmax(ev[t], floor_) * Q[q * D + t];
                    double e = C1[i * DD + p * D + q] - (s4 * s + (p == q ? s2g : 0.0));
                    num += e * e;
                }
            wc1 = fmax(wc1, sqrt(num) / (4.0 * U32 * (s4 * fh + s2g * sqrt((double)D))));
        } else {
            for (int64_t p = 0; p < D; p++) {
                double dp = s2 == HOSM_S2_DIAG ? Hd[i * D + p] : d[i * D + p];
                double dc = fmax(dp, floor_);
                count_floor(&dp, 1, floor_);
                for (int64_t q = 0; q < D; q++) {
                    double s = 0.0, ab = 0.0;
                    for (int64_t j = 0; j < r; j++) {
                        s += (double)U[(i * D + p) * r + j] * U[(i * D + q) * r + j];
                        ab += fabs((double)U[(i * D + p) * r + j] * U[(i * D + q) * r + j]);
                    }
                    if (p == q) {
                        ab += fabs(dp);
                        if (s2 == HOSM_S2_LOWRANK) {
                            /* 5: the factors reproduce the hessian. */
                            double e = fabs(s + dp - Hi[p * D + q]);
                            wf = fmax(wf, e / (g * ab + U32 * fabs(Hi[p * D + q])));
                        }
                        s += dc;
                    } else if (s2 == HOSM_S2_LOWRANK) {
                        double e = fabs(s - Hi[p * D + q]);
                        wf = fmax(wf, e / (g * ab + U32 * fabs(Hi[p * D + q]) + 1e-300));
                    }
                    double c = s4 * s + (p == q ? s2g : 0.0);
                    double tol = g * s4 * ab + 4.0 * U32 * (p == q ? s2g : 0.0);
                    double e = fabs(C1[i * DD + p * D + q] - c);
                    wc1 = fmax(wc1, e == 0.0 ? 0.0 : e / fmax(tol, 1e-300));
                }
            }
        }
        for (int64_t p = 0; p < D; p++) {
            /* 6: hvp. */
            double y = 0.0, ab = 0.0, abu = 0.0;
            for (int64_t q = 0; q < D; q++) {
                y += (double)Hi[p * D + q] * v[i * D + q];
                ab += fabs((double)Hi[p * D + q] * v[i * D + q]);
                for (int64_t j = 0; j < r && s2 == HOSM_S2_LOWRANK; j++)
                    abu += fabs((double)U[(i * D + p) * r + j] * U[(i * D + q) * r + j] *
                                v[i * D + q]);
            }
            whv = fmax(whv, fabs(hv[i * D + p] - y) / (4.0 * U32 * ab + g * abu));
            /* 7: unclamped covariance. */
            for (int64_t q = 0; q < D; q++) {
                double c = s4 * Hi[p * D + q] + (p == q ? s2g : 0.0);
                double tol = 4.0 * U32 * (s4 * fabs(Hi[p * D + q]) + (p == q ? s2g : 0.0));
                double e = fabs(C0[i * DD + p * D + q] - c);
                wc0 = fmax(wc0, e == 0.0 ? 0.0 : e / fmax(tol, 1e-300));
            }
            /* 8: variances = diagonals. */
            double t0 = 2.0 * U32 * (s4 * fabs(Hi[p * D + p]) + s2g) + g * s4 * usq[p];
            double e0 = fabs(V0[i * D + p] - C0[i * DD + p * D + p]);
            double e1 = fabs(V1[i * D + p] - C1[i * DD + p * D + p]);
            wv = fmax(wv, e0 / (t0 + 2.0 * U32 * fabs(C0[i * DD + p * D + p])));
            wv = fmax(wv, e1 / (t0 + 2.0 * U32 * fabs(C1[i * DD + p * D + p])));
        }
    }
    CHECK(sym, "%s: hessian or unclamped posterior_cov not exactly symmetric", tag);
    printf("  %-28s hessian_diag %.2g, factors %.2g, hvp %.2g, cov %.2g, cov clamped %.2g, "
           "var %.2g (of their tolerances)\n",
           tag, whd, wf, whv, wc0, wc1, wv);
    W.h_diag = fmax(W.h_diag, whd);
    W.factors = fmax(W.factors, wf);
    W.hvp = fmax(W.hvp, whv);
    W.cov0 = fmax(W.cov0, wc0);
    W.cov1 = fmax(W.cov1, wc1);
    W.var = fmax(W.var, wv);
    /* 9: top-k for k = 1, 2, D, both clamps. */
    const int64_t ks[3] = {1, 2, D};
    double *mu = xmalloc((size_t)NP * D * sizeof *mu);
    for (int c = 0; c <= 1; c++) {
        dense_eigs(D, c ? C1 : C0, NP, mu);
        for (int j = 0; j < 3; j++)
            check_topk(tag, m, D, level, x, NP, ks[j], c, c ? C1 : C0, mu);
    }
    free(mu);
    free(a);
    free(ev);
    free(Q);
    free(ref);
    free(tolm);
    free(H);
    free(Hd);
    free(C0);
    free(C1);
    free(V0);
    free(V1);
    free(v);
    free(hv);
    free(U);
    free(d);
}

/* Lowrank at D = 200: the Lanczos path of top-k against the dense
 * covariance, and hvp / factors against dense products. */
static void check_large(void)
{
    const int64_t D = 200, n = 2;
    hosm_model *m = make_model(D, HOSM_S2_LOWRANK, 5, 4242);
    float *x = xmalloc((size_t)(n * D) * sizeof *x);
    make_points(x, n, D, 99);
    float *c = xmalloc((size_t)(n * D * D) * sizeof *c);
    double *mu = xmalloc((size_t)(n * D) * sizeof *mu);
    const int64_t ks[3] = {1, 5, 12};
    for (int clamp = 0; clamp <= 1; clamp++) {
        MUST(hosm_model_posterior_cov(m, 1, x, n, clamp, c));
        dense_eigs(D, c, n, mu);
        for (int j = 0; j < 3; j++)
            check_topk("lowrank D=200 (Lanczos)", m, D, 1, x, n, ks[j], clamp, c, mu);
    }
    free(mu);
    free(x);
    free(c);
    hosm_model_free(m);
}

/* Batches longer than the queries' internal chunks (1024 rows for the s2
 * network here; 104 points for the Jacobian at D = 200, hidden 6) give the
 * same values as one-point calls, bit for bit (each row's arithmetic does
 * not depend on the other rows), at the points on both sides of the chunk
 * boundaries. */
static void check_batched(void)
{
    const int64_t n = 1500, D = 4;
    const int64_t probe[5] = {0, 1, 1023, 1024, 1499};
    float *x = xmalloc((size_t)(n * D) * sizeof *x), *v = xmalloc((size_t)(n * D) * sizeof *v);
    float *out = xmalloc((size_t)(n * D * D) * sizeof *out);
    float *out2 = xmalloc((size_t)(n * D * D) * sizeof *out2);
    float one[64], one2[64];
    make_points(x, n, D, 3);
    make_points(v, n, D, 4);
    int64_t mism = 0, compared = 0;
    const int structs[3] = {HOSM_S2_DIAG, HOSM_S2_LOWRANK, HOSM_S2_FULL};
    for (int s = 0; s < 3; s++) {
        hosm_model *m = make_model(D, structs[s], 2, 500u + (uint64_t)s);
        for (int q = 0; q < 6; q++) {
            int64_t per = q == 0 || q == 3 ? D * D : D, per2 = 0;
            switch (q) {
            case 0: MUST(hosm_model_hessian(m, 1, x, n, out)); break;
            case 1: MUST(hosm_model_hessian_diag(m, 1, x, n, out)); break;
            case 2: MUST(hosm_model_hvp(m, 1, x, v, n, out)); break;
            case 3: MUST(hosm_model_posterior_cov(m, 1, x, n, 1, out)); break;
            case 4: MUST(hosm_model_posterior_var(m, 1, x, n, 1, out)); break;
            default:
                per = 2;
                per2 = 2 * D;
                MUST(hosm_model_posterior_topk(m, 1, x, n, 2, 1, out, out2));
            }
            for (int j = 0; j < 5; j++) {
                const int64_t i = probe[j];
                switch (q) {
                case 0: MUST(hosm_model_hessian(m, 1, x + i * D, 1, one)); break;
                case 1: MUST(hosm_model_hessian_diag(m, 1, x + i * D, 1, one)); break;
                case 2: MUST(hosm_model_hvp(m, 1, x + i * D, v + i * D, 1, one)); break;
                case 3: MUST(hosm_model_posterior_cov(m, 1, x + i * D, 1, 1, one)); break;
                case 4: MUST(hosm_model_posterior_var(m, 1, x + i * D, 1, 1, one)); break;
                default: MUST(hosm_model_posterior_topk(m, 1, x + i * D, 1, 2, 1, one, one2));
                }
                mism += memcmp(one, out + i * per, (size_t)per * sizeof(float)) != 0;
                if (per2)
                    mism += memcmp(one2, out2 + i * per2, (size_t)per2 * sizeof(float)) != 0;
                compared++;
            }
        }
        hosm_model_free(m);
    }
    /* The Jacobian at D = 200 in chunks of 104 points. */
    {
        const int64_t DL = 200, nl = 300;
        const int64_t jp[5] = {0, 103, 104, 208, 299};
        hosm_model *m = make_model(DL, HOSM_S2_NONE, 1, 77);
        float *xl = xmalloc((size_t)(nl * DL) * sizeof *xl);
        float *jl = xmalloc((size_t)(nl * DL * DL) * sizeof *jl);
        float *j1 = xmalloc((size_t)(DL * DL) * sizeof *j1);
        make_points(xl, nl, DL, 8);
        MUST(hosm_model_score_jacobian(m, 0, xl, nl, 0, jl));
        for (int j = 0; j < 5; j++) {
            MUST(hosm_model_score_jacobian(m, 0, xl + jp[j] * DL, 1, 0, j1));
            mism += memcmp(j1, jl + jp[j] * DL * DL, (size_t)(DL * DL) * sizeof(float)) != 0;
            compared++;
        }
        free(xl);
        free(jl);
        free(j1);
        hosm_model_free(m);
    }
    printf("  batched vs one-point calls across chunk boundaries: %lld of %lld differ\n",
           (long long)mism, (long long)compared);
    CHECK(mism == 0, "%lld batched results differ from one-point calls", (long long)mism);
    free(x);
    free(v);
    free(out);
    free(out2);
}

/* 11: the named estimates against the queries they are made of. */
static int64_t estimate_mismatches(const hosm_model *m, int64_t D, int64_t level, const float *x,
                                   int64_t n)
{
    const size_t DD = (size_t)(D * D), bytes = (size_t)n * DD * sizeof(float);
    float *h = xmalloc(bytes), *js = xmalloc(bytes), *e = xmalloc(bytes);
    MUST(hosm_model_hessian(m, level, x, n, h));
    MUST(hosm_model_score_jacobian(m, level, x, n, 1, js));
    int64_t bad = 0;
    MUST(hosm_model_hessian_estimate(m, level, x, n, HOSM_HESSIAN_S2, e));
    bad += memcmp(e, h, bytes) != 0;
    MUST(hosm_model_hessian_estimate(m, level, x, n, HOSM_HESSIAN_JACOBIAN, e));
    bad += memcmp(e, js, bytes) != 0;
    MUST(hosm_model_hessian_estimate(m, level, x, n, HOSM_HESSIAN_AVERAGE, e));
    for (size_t k = 0; k < (size_t)n * DD; k++) {
        const float want = 0.5f * h[k] + 0.5f * js[k];
        bad += memcmp(&e[k], &want, sizeof want) != 0;
    }
    free(h);
    free(js);
    free(e);
    return bad;
}

static void check_estimates(const float *x)
{
    const int64_t D = 4;
    const int structs[3] = {HOSM_S2_DIAG, HOSM_S2_LOWRANK, HOSM_S2_FULL};
    int64_t bad = 0;
    for (int s = 0; s < 3; s++) {
        hosm_model *m = make_model(D, structs[s], 2, 300u + (uint64_t)s);
        for (int64_t level = 0; level < 2; level++)
            bad += estimate_mismatches(m, D, level, x, NP);
        hosm_model_free(m);
    }
    /* 1030 points at D = 64 span two of the average's chunks (1024 points). */
    const int64_t DL = 64, nl = 1030;
    float *xl = xmalloc((size_t)(nl * DL) * sizeof *xl);
    make_points(xl, nl, DL, 11);
    hosm_model *m = make_model(DL, HOSM_S2_FULL, 1, 310);
    bad += estimate_mismatches(m, DL, 1, xl, nl);
    hosm_model_free(m);
    free(xl);
    printf("  hessian_estimate vs hessian, symmetrised jacobian, their average: %lld "
           "mismatches\n", (long long)bad);
    CHECK(bad == 0, "hosm_model_hessian_estimate differs from its parts in %lld places",
          (long long)bad);
    /* An energy model's s2 is its Jacobian: the three estimates agree to
     * rounding (its s2 and its Jacobian take different float paths). */
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=8 depth=2 parameterization=energy sigma=0.3 seed=7"));
    MUST(hosm_model_new(&m, D, cfg));
    hosm_config_free(cfg);
    float es[NP * 16], ej[NP * 16], ea[NP * 16];
    MUST(hosm_model_hessian_estimate(m, 0, x, NP, HOSM_HESSIAN_S2, es));
    MUST(hosm_model_hessian_estimate(m, 0, x, NP, HOSM_HESSIAN_JACOBIAN, ej));
    MUST(hosm_model_hessian_estimate(m, 0, x, NP, HOSM_HESSIAN_AVERAGE, ea));
    double worst = 0.0, scale = 0.0;
    for (int k = 0; k < NP * 16; k++) {
        scale = fmax(scale, fabs(es[k]));
        worst = fmax(worst, fmax(fabs(es[k] - ej[k]), fabs(es[k] - ea[k])));
    }
    hosm_model_free(m);
    /* float rounding of O(10) operations on entries of size scale */
    check_le("11. energy model: s2, jacobian and average estimates, max diff / (1e-5 max|s2|)",
             worst / (1e-5 * scale), 1.0);
    m = make_model(D, HOSM_S2_NONE, 1, 320);
    float out[NP * 16];
    CHECK(hosm_model_hessian_estimate(m, 0, x, NP, HOSM_HESSIAN_S2, out) == HOSM_E_UNSUPPORTED &&
              hosm_model_hessian_estimate(m, 0, x, NP, HOSM_HESSIAN_AVERAGE, out) ==
                  HOSM_E_UNSUPPORTED,
          "hessian_estimate s2 and average without an s2: HOSM_E_UNSUPPORTED");
    CHECK(hosm_model_hessian_estimate(m, 0, x, NP, HOSM_HESSIAN_JACOBIAN, out) == HOSM_OK,
          "hessian_estimate jacobian without an s2 works");
    CHECK(hosm_model_hessian_estimate(m, 0, x, NP, 3, out) == HOSM_E_ARG &&
              hosm_model_hessian_estimate(m, 0, x, NP, -1, out) == HOSM_E_ARG,
          "hessian_estimate with source 3 or -1: HOSM_E_ARG");
    hosm_model_free(m);
}

int main(void)
{
    const double t0 = now_seconds();
    const int64_t D = 4;
    float x[NP * D];
    make_points(x, NP, D, 7);
    const int structs[4] = {HOSM_S2_NONE, HOSM_S2_DIAG, HOSM_S2_LOWRANK, HOSM_S2_FULL};
    for (int s = 0; s < 4; s++) {
        hosm_model *m = make_model(D, structs[s], 2, 100u + (uint64_t)s);
        for (int64_t level = 0; level < 2; level++) {
            char tag[64];
            snprintf(tag, sizeof tag, "%s level %lld", s2_name[structs[s]], (long long)level);
            check_jacobian(tag, m, D, level, x);
            if (structs[s] != HOSM_S2_NONE)
                check_s2(tag, m, D, level, x);
        }
        hosm_model_free(m);
    }
    check_large();
    check_batched();
    check_estimates(x);
    printf("clamp floor: %lld eigenvalues / entries of d below, %lld above\n",
           (long long)W.clamped, (long long)W.unclamped);
    CHECK(W.clamped > 0 && W.unclamped > 0, "the clamp must be exercised both ways");
    check_le("1. jacobian vs 4th-order fd, / (1e-3 max(1,|s|,|J|))", W.jac_fd, 1.0);
    check_le("2. symmetrize vs (J+J^T)/2, / 4u(|Jab|+|Jba|)", W.jac_sym, 1.0);
    check_le("3. jacobian_diag vs diag J, / 2u|Jaa|", W.jac_diag, 1.0);
    check_le("4. hessian_diag vs diag hessian, / tolerance", W.h_diag, 1.0);
    check_le("5. factors U U^T + diag d vs hessian, / tolerance", W.factors, 1.0);
    check_le("6. hvp vs dense H v, / tolerance", W.hvp, 1.0);
    check_le("7. posterior_cov (clamp 0) vs sigma^4 H + sigma^2 I, / tol", W.cov0, 1.0);
    check_le("7. posterior_cov (clamp 1) vs clamped reference, / tol", W.cov1, 1.0);
    check_le("8. posterior_var vs diag posterior_cov (both clamps), / tol", W.var, 1.0);
    check_le("9. top-k: max |v_i.v_j - delta_ij|", W.orth, 1e-6);
    check_le("9. top-k: max ||C v - lambda v|| / ||C||_F", W.resid, 1e-5);
    check_le("9. top-k: max |lambda_i - mu_i| / ||C||_F", W.vals, 1e-5);
    printf("time %.2f s\n", now_seconds() - t0);
    return finish("test_s2_queries");
}
