/* Decoding the s2 outputs of one point, and the D2SM terms on them
 * (docs/math.md, second-order objectives and s2 structures). */
#include <math.h>
#include <string.h>

#include "model/s2layout.h"

#include "linalg/linalg.h"
#include "nn/vmath.h"

/* clang's AVX-512 implies FMA, and clang contracts a * b + c (see vmath.c). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

int64_t hosmi_s2_outputs(int s2, int64_t dim, int64_t rank)
{
    switch (s2) {
    case HOSM_S2_DIAG: return dim;
    case HOSM_S2_LOWRANK: return hosmi_mul(dim, rank + 1);
    case HOSM_S2_FULL: return hosmi_mul(dim, dim + 1) < 0 ? -1 : dim * (dim + 1) / 2;
    default: return 0;
    }
}

int64_t hosmi_packed_index(int64_t D, int64_t a, int64_t b)
{
    if (a > b) {
        int64_t t = a;
        a = b;
        b = t;
    }
    return a * D - a * (a - 1) / 2 + (b - a);
}

double hosmi_s2_u(const hosmi_s2_point *v, int64_t a, int64_t j)
{
    return v->o[a * v->r + j];
}

double hosmi_s2_d(const hosmi_s2_point *v, int64_t a)
{
    return v->o[(v->kind == HOSM_S2_LOWRANK ? v->D * v->r : 0) + a];
}

static double entry(const hosmi_s2_point *v, int64_t a, int64_t b)
{
    if (v->kind == HOSM_S2_FULL)
        return v->o[hosmi_packed_index(v->D, a, b)];
    double s = a == b ? hosmi_s2_d(v, a) : 0.0;
    if (v->kind == HOSM_S2_LOWRANK)
        for (int64_t j = 0; j < v->r; j++)
            s += hosmi_s2_u(v, a, j) * hosmi_s2_u(v, b, j);
    return s;
}

double hosmi_s2_diag(const hosmi_s2_point *v, int64_t a)
{
    return entry(v, a, a);
}

void hosmi_s2_apply(const hosmi_s2_point *v, double dmin, const double *x, double *y)
{
    const int64_t D = v->D;
    if (v->kind == HOSM_S2_FULL) {
        for (int64_t a = 0; a < D; a++) {
            double s = 0.0;
            for (int64_t b = 0; b < D; b++)
                s += entry(v, a, b) * x[b];
            y[a] = s;
        }
        return;
    }
    for (int64_t a = 0; a < D; a++)
        y[a] = fmax(hosmi_s2_d(v, a), dmin) * x[a];
    if (v->kind == HOSM_S2_LOWRANK)
        for (int64_t j = 0; j < v->r; j++) {
            double c = 0.0;
            for (int64_t a = 0; a < D; a++)
                c += hosmi_s2_u(v, a, j) * x[a];
            for (int64_t a = 0; a < D; a++)
                y[a] += hosmi_s2_u(v, a, j) * c;
        }
}

int64_t hosmi_s2_dense_work(int kind, int64_t D, int64_t r)
{
    return kind == HOSM_S2_LOWRANK ? hosmi_mul(D, D + r) : 1;
}

void hosmi_s2_unpack_full(const hosmi_s2_point *v, float *m)
{
    const int64_t D = v->D;
    for (int64_t a = 0, k = 0; a < D; a++)
        for (int64_t b = a; b < D; b++, k++)
            m[a * D + b] = m[b * D + a] = v->o[k];
}

void hosmi_s2_dense(const hosmi_s2_point *v, const hosmi_blas *blas, double dmin, double *m,
                    float *fwork)
{
    const int64_t D = v->D, r = v->r;
    if (v->kind == HOSM_S2_LOWRANK) {
        /* U U^T as one GEMM (U staged: caller memory never reaches BLIS). */
        float *u = fwork, *uut = fwork + D * r;
        memcpy(u, v->o, (size_t)(D * r) * sizeof(float));
        hosmi_sgemm(blas, 0, 1, D, D, r, 1.0f, u, r, u, r, 0.0f, uut, D);
        for (int64_t t = 0; t < D * D; t++)
            m[t] = uut[t];
        for (int64_t a = 0; a < D; a++)
            m[a * D + a] += fmax(hosmi_s2_d(v, a), dmin);
        return;
    }
    if (v->kind == HOSM_S2_FULL) {
        /* Row a of the packed upper triangle holds (a, a .. D-1). */
        for (int64_t a = 0, k = 0; a < D; a++)
            for (int64_t b = a; b < D; b++, k++)
                m[a * D + b] = m[b * D + a] = v->o[k];
        return;
    }
    for (int64_t a = 0; a < D; a++)
        for (int64_t b = 0; b < D; b++)
            m[a * D + b] = entry(v, a, b);
    if (v->kind == HOSM_S2_DIAG)
        for (int64_t a = 0; a < D; a++)
            m[a * D + a] = fmax(m[a * D + a], dmin);
}

/* ---- D2SM terms ---- */

int64_t hosmi_s2_term_work(int kind, int64_t D, int64_t r)
{
    const int64_t c = r + 1;
    return kind == HOSM_S2_LOWRANK ? 2 * D * c + c * c + c : 1;
}

double hosmi_s2_target_norm2(int kind, int64_t D, double is2, const float *w)
{
    double sum = 0.0, ww = 0.0;
    for (int64_t a = 0; a < D; a++) {
        double t = (double)w[a] * w[a] - is2;
        sum += t * t;
        ww += (double)w[a] * w[a];
    }
    return kind == HOSM_S2_DIAG ? sum : ww * ww - 2.0 * ww * is2 + (double)D * is2 * is2;
}

static double diag_term(int64_t D, double is2, const float *o, const float *s1, const float *w,
                        double alpha, double beta, double scale, float *d_o, float *d_s1)
{
    double val = 0.0;
    for (int64_t a = 0; a < D; a++) {
        double phi = (double)o[a] + (double)s1[a] * s1[a];
        double t = (double)w[a] * w[a] - is2;
        val += alpha * phi * phi + beta * t * phi;
        double g = scale * (2.0 * alpha * phi + beta * t);
        d_o[a] += (float)g;
        if (d_s1)
            d_s1[a] += (float)(2.0 * g * s1[a]);
    }
    return val;
}

/* The full term, row by row of the packed triangle. Right of the diagonal
 * (b > a: o, s1, w and d_o contiguous) the entries go in blocks of LANES
 * with a partial sum per lane, a loop the compiler turns into vector code,
 * and the row's last m % LANES one by one. Compiled once per
 * instruction set, without FMA, as lib/nn/vmath.c. */
#define LANES 8
#define FINLINE static inline __attribute__((always_inline))

/* Entries (a, a + 1 + l) for l < n, lane l % LANES into v and ds; called
 * with n = LANES, a constant, for the vector loop. */
FINLINE void full_entries(int64_t n, double sa, double wa, double alpha, double beta,
                          double scale, const float *restrict o, const float *restrict s1,
                          const float *restrict w, float *restrict d_o, float *restrict d_s1,
                          const int with_s1, double *restrict v, double *restrict ds)
{
    for (int64_t l = 0; l < n; l++) {
        double psi = (double)o[l] + sa * s1[l];
        double t = wa * w[l];
        v[l % LANES] += alpha * psi * psi + beta * t * psi;
        double g = 2.0 * scale * (2.0 * alpha * psi + beta * t); /* twice: (a, b) and (b, a) */
        d_o[l] += (float)g;
        if (with_s1) {
            ds[l % LANES] += g * s1[l];
            d_s1[l] += (float)(g * sa);
        }
    }
}

FINLINE void full_row(int64_t m, double sa, double wa, double alpha, double beta, double scale,
                      const float *o, const float *s1, const float *w, float *d_o, float *d_s1,
                      const int with_s1, double *val, double *ds_a)
{
    double v[LANES] = {0}, ds[LANES] = {0};
    int64_t j = 0;
    for (; j + LANES <= m; j += LANES)
        full_entries(LANES, sa, wa, alpha, beta, scale, o + j, s1 + j, w + j, d_o + j,
                     with_s1 ? d_s1 + j : NULL, with_s1, v, ds);
    full_entries(m - j, sa, wa, alpha, beta, scale, o + j, s1 + j, w + j, d_o + j,
                 with_s1 ? d_s1 + j : NULL, with_s1, v, ds);
    double sv = 0.0, sd = 0.0;
    for (int l = 0; l < LANES; l++) {
        sv += v[l];
        sd += ds[l];
    }
    *val += 2.0 * sv;
    *ds_a += sd;
}

FINLINE double full_term_body(int64_t D, double is2, const float *restrict o,
                              const float *restrict s1, const float *restrict w, double alpha,
                              double beta, double scale, float *restrict d_o,
                              float *restrict d_s1)
{
    double val = 0.0;
    int64_t k = 0;
    for (int64_t a = 0; a < D; a++) {
        const double sa = s1[a], wa = w[a];
        double psi = (double)o[k] + sa * sa;
        double t = wa * wa - is2;
        val += alpha * psi * psi + beta * t * psi;
        double g = scale * (2.0 * alpha * psi + beta * t); /* dL/dpsi_aa */
        d_o[k] += (float)g;
        double ds_a = 2.0 * g * sa; /* dL/ds1 = (G + G^T) s1 = 2 G s1 */
        const int64_t m = D - a - 1, b = a + 1;
        if (d_s1)
            full_row(m, sa, wa, alpha, beta, scale, o + k + 1, s1 + b, w + b, d_o + k + 1,
                     d_s1 + b, 1, &val, &ds_a);
        else
            full_row(m, sa, wa, alpha, beta, scale, o + k + 1, s1 + b, w + b, d_o + k + 1, NULL,
                     0, &val, &ds_a);
        if (d_s1)
            d_s1[a] += (float)ds_a;
        k += D - a; /* row a holds (a, a .. D-1) */
    }
    return val;
}

typedef double (*full_term_fn)(int64_t D, double is2, const float *o, const float *s1,
                               const float *w, double alpha, double beta, double scale,
                               float *d_o, float *d_s1);

#define FULL_TERM(SUFFIX, ATTR)                                                             \
    ATTR static double full_term_##SUFFIX(int64_t D, double is2, const float *o,             \
                                          const float *s1, const float *w, double alpha,     \
                                          double beta, double scale, float *d_o, float *d_s1) \
    {                                                                                      \
        return full_term_body(D, is2, o, s1, w, alpha, beta, scale, d_o, d_s1);            \
    }

FULL_TERM(generic, )
#if HOSMI_HAVE_X86_VARIANTS
FULL_TERM(avx2, HOSMI_TARGET_AVX2)
FULL_TERM(avx512, HOSMI_TARGET_AVX512)
#endif

static double full_term(int64_t D, double is2, const float *o, const float *s1, const float *w,
                        double alpha, double beta, double scale, float *d_o, float *d_s1)
{
    full_term_fn f = full_term_generic;
#if HOSMI_HAVE_X86_VARIANTS
    int isa = hosmi_visa_selected();
    f = isa == HOSMI_VISA_AVX512 ? full_term_avx512 : isa == HOSMI_VISA_AVX2 ? full_term_avx2 : f;
#endif
    return f(D, is2, o, s1, w, alpha, beta, scale, d_o, d_s1);
}

/* psi = V V^T + diag(d) with V = [U, s1] (D x c, c = r + 1):
 *   ||psi||^2  = ||V^T V||^2 + 2 sum_a d_a ||V_a||^2 + sum_a d_a^2
 *   <T, psi>   = ||V^T w||^2 + sum_a d_a w_a^2 - (||V||^2 + sum_a d_a) / sigma^2
 *   dL/dV      = 4 alpha (V V^T V + diag(d) V) + beta (2 w (V^T w)^T - 2 V / sigma^2)
 *   dL/dd_a    = alpha (2 ||V_a||^2 + 2 d_a) + beta (w_a^2 - 1 / sigma^2). */
static double lowrank_term(const hosmi_s2_point *v, const hosmi_blas *blas, double is2,
                           const float *s1, const float *w, double alpha, double beta,
                           double scale, float *d_o, float *d_s1, float *work)
{
    const int64_t D = v->D, r = v->r, c = r + 1;
    const float *o = v->o, *d = o + D * r;
    float *V = work, *dV = V + D * c, *G = dV + D * c, *p = G + c * c;
    for (int64_t a = 0; a < D; a++) {
        memcpy(V + a * c, o + a * r, (size_t)r * sizeof(float));
        V[a * c + r] = s1[a];
    }
    hosmi_sgemm(blas, 1, 0, c, c, D, 1.0f, V, c, V, c, 0.0f, G, c);
    double gg = 0.0;
    for (int64_t j = 0; j < c * c; j++)
        gg += (double)G[j] * G[j];
    for (int64_t j = 0; j < c; j++)
        p[j] = 0.0f;
    double dv = 0.0, dd = 0.0, dw = 0.0, vv = 0.0, ds = 0.0;
    for (int64_t a = 0; a < D; a++) {
        double da = d[a], rn = 0.0;
        for (int64_t j = 0; j < c; j++) {
            rn += (double)V[a * c + j] * V[a * c + j];
            p[j] += V[a * c + j] * w[a];
        }
        dv += da * rn;
        dd += da * da;
        dw += da * (double)w[a] * w[a];
        vv += rn;
        ds += da;
        double g = scale * (alpha * (2.0 * rn + 2.0 * da) + beta * ((double)w[a] * w[a] - is2));
        d_o[D * r + a] += (float)g;
    }
    double pp = 0.0;
    for (int64_t j = 0; j < c; j++)
        pp += (double)p[j] * p[j];
    double val = alpha * (gg + 2.0 * dv + dd) + beta * (pp + dw - (vv + ds) * is2);
    /* dV = 4 alpha V G, then the diagonal and target terms row by row. */
    hosmi_sgemm(blas, 0, 0, D, c, c, (float)(4.0 * alpha), V, c, G, c, 0.0f, dV, c);
    for (int64_t a = 0; a < D; a++) {
        double da = d[a];
        for (int64_t j = 0; j < c; j++) {
            double vaj = V[a * c + j];
            double g = scale * (dV[a * c + j] + 4.0 * alpha * da * vaj +
                                beta * (2.0 * w[a] * p[j] - 2.0 * vaj * is2));
            if (j < r)
                d_o[a * r + j] += (float)g;
            else if (d_s1)
                d_s1[a] += (float)g;
        }
    }
    return val;
}

double hosmi_s2_d2sm_term(const hosmi_s2_point *v, const hosmi_blas *blas, double is2,
                          const float *s1, const float *w, double alpha, double beta,
                          double scale, float *d_o, float *d_s1, float *work)
{
    switch (v->kind) {
    case HOSM_S2_DIAG: return diag_term(v->D, is2, v->o, s1, w, alpha, beta, scale, d_o, d_s1);
    case HOSM_S2_FULL: return full_term(v->D, is2, v->o, s1, w, alpha, beta, scale, d_o, d_s1);
    default: return lowrank_term(v, blas, is2, s1, w, alpha, beta, scale, d_o, d_s1, work);
    }
}

int64_t hosmi_s2_nll_work(int kind, int64_t r)
{
    return kind == HOSM_S2_LOWRANK ? 3 * r * r + 3 * r : 1;
}

/* With A = diag(u) + V V^T (V = sigma U, empty for diag), W = diag(u)^-1 V
 * and K = I + V^T W (r x r, positive definite: its eigenvalues are >= 1),
 * Woodbury and the determinant lemma give, in O(D r^2):
 *   log det A    = sum_a log u_a + log det K
 *   alpha        = A^-1 rho = rho / u - W K^-1 q,   q = W^T rho
 *   rho^T alpha  = sum_a rho_a^2 / u_a - q^T K^-1 q
 * and with G = A^-1 - alpha alpha^T, the gradient of the loss in A:
 *   dL/du_a = G_aa = 1 / u_a - W_a K^-1 W_a^T - alpha_a^2
 *   dL/dV   = 2 G V,  row a: 2 (W_a K^-1 - alpha_a (V^T alpha)^T).
 * The marginal terms, w sum_a (log m_a + rho_a^2 / m_a) with m_a = A_aa =
 * u_a + |V_a|^2, add g_a = w (1 / m_a - rho_a^2 / m_a^2) to dL/du_a and
 * 2 g_a V_a to row a of dL/dV:
 * the whole vector's likelihood alone lets a low-rank V V^T spread variance
 * over coordinates whose errors a shared direction does not fit. */
double hosmi_s2_nll_term(const hosmi_s2_point *v, double sigma, const float *rho,
                         double marginal, double scale, float *d_o, double *dwork)
{
    const int64_t D = v->D, r = v->kind == HOSM_S2_LOWRANK ? v->r : 0;
    const float *U = v->o, *d = v->o + D * r; /* U (D x r, none for diag), then d */
    float *dU = d_o, *dd = d_o + D * r;
    const double s2 = sigma * sigma, is4 = 1.0 / (s2 * s2);
    double *K = dwork, *Ki = K + r * r, *tmp = Ki + r * r, *c = tmp + r * r, *beta = c + r,
           *y = beta + r;
#define UC(a) fmax(1.0 + s2 * d[a], HOSMI_NLL_U_MIN)
    double val = 0.0;
    if (r > 0) {
        /* K = I + V^T W and q = W^T rho (into c), lower triangle */
        memset(K, 0, (size_t)(r * r) * sizeof *K);
        memset(c, 0, (size_t)r * sizeof *c);
        for (int64_t a = 0; a < D; a++) {
            const double iu = s2 / UC(a); /* V_aj V_ak / u_a = s2 U_aj U_ak / u_a */
            const float *Ua = U + a * r;
            for (int64_t j = 0; j < r; j++) {
                const double wj = iu * Ua[j];
                for (int64_t k = 0; k <= j; k++)
                    K[j * r + k] += wj * Ua[k];
                c[j] += wj * rho[a] / sigma; /* W_aj = sigma U_aj / u_a */
            }
        }
        for (int64_t j = 0; j < r; j++)
            K[j * r + j] += 1.0;
        if (hosmi_chol(K, r) != 0)
            return NAN;
        val += hosmi_chol_logdet(K, r);
        hosmi_chol_inverse(K, r, Ki, tmp);
        /* c = K^-1 q; the quadratic form's -q^T c */
        for (int64_t j = 0; j < r; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < r; k++)
                s += Ki[j * r + k] * c[k];
            tmp[j] = s;
        }
        for (int64_t j = 0; j < r; j++) {
            val -= c[j] * tmp[j];
            c[j] = tmp[j];
        }
        /* beta = V^T alpha, alpha_a = rho_a / u_a - W_a c */
        memset(beta, 0, (size_t)r * sizeof *beta);
        for (int64_t a = 0; a < D; a++) {
            const double iu = 1.0 / UC(a);
            const float *Ua = U + a * r;
            double wc = 0.0;
            for (int64_t j = 0; j < r; j++)
                wc += Ua[j] * c[j];
            const double alpha = rho[a] * iu - sigma * iu * wc;
            for (int64_t j = 0; j < r; j++)
                beta[j] += sigma * Ua[j] * alpha;
        }
    }
    for (int64_t a = 0; a < D; a++) {
        const double u = 1.0 + s2 * d[a], uc = UC(a), iu = 1.0 / uc, t = (double)rho[a] * rho[a];
        double alpha = rho[a] * iu, aii = iu; /* alpha_a and (A^-1)_aa */
        double vv = 0.0;                      /* |V_a|^2 */
        if (r > 0) {
            const float *Ua = U + a * r;
            double wc = 0.0, wkw = 0.0;
            for (int64_t j = 0; j < r; j++) {
                double s = 0.0; /* y = K^-1 W_a^T */
                for (int64_t k = 0; k < r; k++)
                    s += Ki[j * r + k] * Ua[k];
                y[j] = s * sigma * iu;
                wc += Ua[j] * c[j];
                wkw += sigma * iu * Ua[j] * y[j];
            }
            alpha -= sigma * iu * wc;
            aii -= wkw;
            for (int64_t j = 0; j < r; j++)
                vv += s2 * (double)Ua[j] * Ua[j];
        }
        double g = aii - alpha * alpha, gm = 0.0; /* dL/du_a at uc, and the marginal's */
        if (marginal != 0.0) {
            const double mm = uc + vv;
            gm = marginal * (1.0 / mm - t / (mm * mm));
            val += marginal * (log(mm) + t / mm);
            g += gm;
        }
        if (r > 0) {
            /* dL/dU = sigma dL/dV */
            const float *Ua = U + a * r;
            for (int64_t j = 0; j < r; j++)
                dU[a * r + j] += (float)(scale * is4 * sigma * 2.0 *
                                         (y[j] - alpha * beta[j] + gm * sigma * Ua[j]));
        }
        /* log u + rho^2 / u (the rest of rho^T alpha is in val already),
         * continued linearly below the clamp */
        val += log(uc) + t * iu + g * (u - uc);
        dd[a] += (float)(scale * is4 * s2 * g);
    }
#undef UC
    return val * is4;
}
