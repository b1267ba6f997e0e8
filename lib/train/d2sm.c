#include <math.h>
#include <string.h>

#include "train/d2sm.h"

int64_t hosmi_s2_work_floats(const hosm_model *m)
{
    const int64_t D = m->arch.dim, c = m->rank + 1;
    return m->arch.s2 == HOSM_S2_LOWRANK ? 2 * D * c + c * c + c : 1;
}

double hosmi_s2_target_norm2(const hosm_model *m, double sigma, const float *w)
{
    const int64_t D = m->arch.dim;
    const double is2 = 1.0 / (sigma * sigma);
    double sum = 0.0, ww = 0.0;
    for (int64_t a = 0; a < D; a++) {
        double t = (double)w[a] * w[a] - is2;
        sum += t * t;
        ww += (double)w[a] * w[a];
    }
    return m->arch.s2 == HOSM_S2_DIAG ? sum : ww * ww - 2.0 * ww * is2 + (double)D * is2 * is2;
}

static double diag_term(int64_t D, double is2, const float *o, const float *s1, const float *w,
                        double alpha, double beta, double scale, float *d_o, float *d_s1)
{
    double val = 0.0;
    for (int64_t a = 0; a < D; a++) {
        double phi = o[a] * is2 + (double)s1[a] * s1[a];
        double t = (double)w[a] * w[a] - is2;
        val += alpha * phi * phi + beta * t * phi;
        double g = scale * (2.0 * alpha * phi + beta * t);
        d_o[a] += (float)(g * is2);
        if (d_s1)
            d_s1[a] += (float)(2.0 * g * s1[a]);
    }
    return val;
}

static double full_term(int64_t D, double is2, const float *o, const float *s1, const float *w,
                        double alpha, double beta, double scale, float *d_o, float *d_s1)
{
    double val = 0.0;
    int64_t k = 0;
    for (int64_t a = 0; a < D; a++) {
        for (int64_t b = a; b < D; b++, k++) {
            double psi = o[k] * is2 + (double)s1[a] * s1[b];
            double t = (double)w[a] * w[b] - (a == b ? is2 : 0.0);
            double mult = a == b ? 1.0 : 2.0; /* off-diagonal entries appear twice */
            val += mult * (alpha * psi * psi + beta * t * psi);
            double g = scale * (2.0 * alpha * psi + beta * t); /* dL/dpsi_ab */
            d_o[k] += (float)(mult * g * is2);
            if (d_s1) {
                /* dL/ds1 = (G + G^T) s1 = 2 G s1 */
                d_s1[a] += (float)(2.0 * g * s1[b]);
                if (a != b)
                    d_s1[b] += (float)(2.0 * g * s1[a]);
            }
        }
    }
    return val;
}

/* psi = V V^T + diag(d) with V = [U, s1] (D x c, c = r + 1):
 *   ||psi||^2  = ||V^T V||^2 + 2 sum_a d_a ||V_a||^2 + sum_a d_a^2
 *   <T, psi>   = ||V^T w||^2 + sum_a d_a w_a^2 - (||V||^2 + sum_a d_a) / sigma^2
 *   dL/dV      = 4 alpha (V V^T V + diag(d) V) + beta (2 w (V^T w)^T - 2 V / sigma^2)
 *   dL/dd_a    = alpha (2 ||V_a||^2 + 2 d_a) + beta (w_a^2 - 1 / sigma^2). */
static double lowrank_term(const hosm_model *m, const hosmi_blas *blas, double sigma,
                           const float *o, const float *s1, const float *w, double alpha,
                           double beta, double scale, float *d_o, float *d_s1, float *work)
{
    const int64_t D = m->arch.dim, r = m->rank, c = r + 1;
    const double is = 1.0 / sigma, is2 = is * is;
    float *V = work, *dV = V + D * c, *G = dV + D * c, *p = G + c * c;
    const float *d = o + D * r;
    for (int64_t a = 0; a < D; a++) {
        for (int64_t j = 0; j < r; j++)
            V[a * c + j] = (float)(o[a * r + j] * is);
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
        double da = d[a] * is2, rn = 0.0;
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
        d_o[D * r + a] += (float)(g * is2);
    }
    double pp = 0.0;
    for (int64_t j = 0; j < c; j++)
        pp += (double)p[j] * p[j];
    double val = alpha * (gg + 2.0 * dv + dd) + beta * (pp + dw - (vv + ds) * is2);
    /* dV = 4 alpha V G, then the diagonal and target terms row by row. */
    hosmi_sgemm(blas, 0, 0, D, c, c, (float)(4.0 * alpha), V, c, G, c, 0.0f, dV, c);
    for (int64_t a = 0; a < D; a++) {
        double da = d[a] * is2;
        for (int64_t j = 0; j < c; j++) {
            double vaj = V[a * c + j];
            double g = scale * (dV[a * c + j] + 4.0 * alpha * da * vaj +
                                beta * (2.0 * w[a] * p[j] - 2.0 * vaj * is2));
            if (j < r)
                d_o[a * r + j] += (float)(g * is); /* U = o / sigma */
            else if (d_s1)
                d_s1[a] += (float)g;
        }
    }
    return val;
}

double hosmi_s2_term(const hosm_model *m, const hosmi_blas *blas, double sigma, const float *o,
                     const float *s1, const float *w, double alpha, double beta, double scale,
                     float *d_o, float *d_s1, float *work)
{
    const int64_t D = m->arch.dim;
    const double is2 = 1.0 / (sigma * sigma);
    switch (m->arch.s2) {
    case HOSM_S2_DIAG: return diag_term(D, is2, o, s1, w, alpha, beta, scale, d_o, d_s1);
    case HOSM_S2_FULL: return full_term(D, is2, o, s1, w, alpha, beta, scale, d_o, d_s1);
    default:
        return lowrank_term(m, blas, sigma, o, s1, w, alpha, beta, scale, d_o, d_s1, work);
    }
}
