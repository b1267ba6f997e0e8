/* A double-precision reference of a model with a second-order network and of
 * the joint first- and second-order training loss, written from the
 * specification (MATH.md 3.1-3.3, the flat layout of lib/nn/mlp.h and
 * docs/format.md, the output scaling of docs/second-order.md) and independent
 * of the library's code. Every s2 is formed as a dense D x D matrix and every
 * second-order loss is the plain Frobenius form, so that the library's Gram
 * products for "lowrank" and its diagonal-only arithmetic for "diag" are
 * checked against the formula itself.
 *
 * Flat parameters: the s1 network, then the s2 network, each
 *   layer 0:           W (hidden x in), b (hidden)
 *   layers 1..depth-1: W (hidden x hidden), b (hidden)
 *   output layer:      W (out x hidden), b (out)
 *   level embedding:   E (levels x hidden), only when levels > 1
 * with every W row-major (output index major). s1 = net1 / sigma. The s2
 * network's raw outputs o give
 *   diag:    s2 = diag(o) / sigma^2
 *   lowrank: U = o[0 .. D r) / sigma (D x r, row-major), d = o[D r .. D r + D) / sigma^2,
 *            s2 = U U^T + diag(d)
 *   full:    o is the upper triangle row by row, s2_ab = s2_ba = o[packed(a, b)] / sigma^2. */
#ifndef S2_REF_H
#define S2_REF_H

#include <stdint.h>

typedef struct {
    int64_t in, hidden, depth, out, levels;
    int act; /* enum hosm_act */
} sref_net;

typedef struct {
    int64_t dim, levels, rank; /* rank: the effective rank min(rank, D) of "lowrank" */
    int s2;                    /* enum hosm_s2 */
    const double *sigmas;      /* levels, largest first */
    sref_net net1, net2;
} sref_model;

/* Fills a model description; net2 gets s2_hidden/s2_depth (0 = the s1 value). */
void sref_model_init(sref_model *m, int64_t dim, int64_t hidden, int64_t depth, int act,
                     int64_t levels, const double *sigmas, int s2, int64_t rank, int64_t s2_hidden,
                     int64_t s2_depth);

int64_t sref_net_params(const sref_net *n);
/* Parameters of s1, and of the whole model (s1 then s2). */
int64_t sref_params1(const sref_model *m);
int64_t sref_params(const sref_model *m);

/* One network's output for one point. */
void sref_net_forward(const sref_net *n, const double *params, const double *x, int64_t level,
                      double *out);

/* s1 (D) and the dense s2 (D x D) of one point at a level. */
void sref_s1(const sref_model *m, const double *params, const double *x, int64_t level,
             double *s1);
void sref_s2(const sref_model *m, const double *params, const double *x, int64_t level,
             double *s2);

typedef struct {
    int obj1;   /* HOSM_OBJ_DSM or HOSM_OBJ_DSM_VR */
    int obj2;   /* HOSM_OBJ_D2SM or HOSM_OBJ_D2SM_VR */
    int frozen; /* 1: s1 detached (no first-order term; s1 is a constant in psi) */
    double w1;
} sref_objective;

/* The batch loss: the mean over points of lambda_i (c1_i L1_i + L2_i), with
 * c1 = w1 / sigma_i^2 (0 when frozen), lambda = 1 for one level and sigma_i^4
 * on a ladder, psi = s2 + s1 s1^T, T = (z z^T - I) / sigma^2 and
 *   DSM      L1 = || s1(x + sigma z) + z / sigma ||^2
 *   DSM-VR   L1 = DSM - (2 s1(x)^T z / sigma + ||z||^2 / sigma^2)
 *   D2SM     L2 = || psi(x + sigma z) - T ||_F^2
 *   D2SM-VR  L2 = 1/2 [ ||psi_p||^2 + ||psi_m||^2 - 2 <T, psi_p + psi_m - 2 psi_0> ]
 *            (psi_p, psi_m, psi_0 at x + sigma z, x - sigma z, x),
 * every matrix sum restricted to the diagonal for "diag". levels may be NULL
 * (level 0). If scale is not NULL it receives the same mean with every term
 * replaced by its absolute value (entry by entry for the matrix terms,
 * ||psi||^2 - 2 <T, psi> + ||T||^2 for D2SM): the magnitude against which
 * rounding errors of the library's float arithmetic are measured. */
double sref_loss(const sref_model *m, const sref_objective *o, const double *params,
                 const double *x, const double *z, const int64_t *levels, int64_t n,
                 double *scale);

#endif
