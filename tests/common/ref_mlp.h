/* The double-precision reference of a score model and of the trainer's
 * losses, for the gradient checks of the first- and second-order objectives
 * (tests/train/test_gradients.c, tests/train/test_s2_gradients.c). Written
 * from the specification (docs/math.md sections 3-4, the flat layout of lib/nn/mlp.h
 * and docs/format.md, the output scaling of docs/second-order.md) and
 * independent of the library's code. Every s2 is formed as a dense D x D
 * matrix and every second-order loss is the plain Frobenius form, so that the
 * library's Gram products for "lowrank" and its diagonal-only arithmetic for
 * "diag" are checked against the formula itself.
 *
 * Flat parameters (the order of hosm_model_get_params): the s1 network, then
 * the s2 network (absent for s2 = none), each
 *   layer 0:           W (hidden x in), b (hidden)
 *   layers 1..depth-1: W (hidden x hidden), b (hidden)
 *   output layer:      W (out x hidden), b (out)
 *   level embedding:   E (levels x hidden), only when levels > 1; row l is
 *                      added to layer 0's pre-activation at level l
 * with every W row-major (output index major). s1 = net1 / sigma, or for a
 * denoiser (net1 - x) / sigma^2. The s2
 * network's raw outputs o give
 *   diag:    s2 = diag(o) / sigma^2
 *   lowrank: U = o[0 .. D r) / sigma (D x r, row-major), d = o[D r .. D r + D) / sigma^2,
 *            s2 = U U^T + diag(d)
 *   full:    o is the upper triangle row by row, s2_ab = s2_ba = o[packed(a, b)] / sigma^2,
 * and with the log-variance head (logvar) d = (exp(o_d) - 1) / sigma^2 for the
 * diagonal part of diag and lowrank, and a low-rank U = 1e-2 o_U / sigma. */
#ifndef REF_MLP_H
#define REF_MLP_H

#include <stdint.h>

typedef struct {
    int64_t in, hidden, depth, out, levels;
    int act; /* enum hosm_act */
} ref_net;

typedef struct {
    int64_t dim, levels, rank; /* rank: the effective rank min(rank, D) of "lowrank" */
    int s2;                    /* enum hosm_s2 */
    int denoiser;              /* 1: s1 = (net1 - x) / sigma^2 (0 after ref_model_init) */
    int logvar;                /* 1: the log-variance s2 head (0 after ref_model_init) */
    const double *sigmas;      /* levels, largest first */
    ref_net net1, net2;        /* net2.out = 0 for s2 = none */
} ref_model;

/* Fills a model description; net2 gets s2_hidden/s2_depth (0 = the s1
 * value). s2 = HOSM_S2_NONE describes a first-order model. */
void ref_model_init(ref_model *m, int64_t dim, int64_t hidden, int64_t depth, int act,
                    int64_t levels, const double *sigmas, int s2, int64_t rank, int64_t s2_hidden,
                    int64_t s2_depth);

/* One activation and its value; enum hosm_act codes. */
double ref_act(int act, double z);

int64_t ref_net_params(const ref_net *n);
/* Parameters of s1, and of the whole model (s1 then s2). */
int64_t ref_params1(const ref_model *m);
int64_t ref_params(const ref_model *m);

/* One network's output for one point. */
void ref_net_forward(const ref_net *n, const double *params, const double *x, int64_t level,
                     double *out);

/* s1 (D) and the dense s2 (D x D) of one point at a level. */
void ref_s1(const ref_model *m, const double *params, const double *x, int64_t level,
            double *s1);
void ref_s2(const ref_model *m, const double *params, const double *x, int64_t level,
            double *s2);

/* The first-order loss of docs/math.md 3.1 on n points, in the trainer's batch
 * form for a model without s2: the mean over the batch of w_i * l_i with
 *   DSM:     l_i = || s1(x_i + sigma_i z_i) + z_i / sigma_i ||^2
 *   DSM-VR:  l_i = DSM l_i - ( 2 s1(x_i)^T z_i / sigma_i + ||z_i||^2 / sigma_i^2 )
 * where sigma_i is the level of point i (levels NULL: level 0) and
 * w_i = 1 for one level, sigma_i^2 for a ladder. If scale is not NULL it
 * receives the same mean of the absolute values of every term summed
 * (the magnitude against which rounding errors are measured). */
double ref_loss_s1(const ref_model *m, const double *params, int vr, const double *x,
                   const double *z, const int64_t *levels, int64_t n, double *scale);

typedef struct {
    int obj1;   /* HOSM_OBJ_DSM or HOSM_OBJ_DSM_VR */
    int obj2;   /* enum hosm_s2_objective (D2SM-RES-NLL: with the log-variance head) */
    int frozen; /* 1: s1 detached (no first-order term; s1 is a constant in psi) */
    double w1;
    /* D2SM-RES: the parameters whose s1 its target uses (s1 is detached
     * there: finite differences of params must not move the target). */
    const double *detached;
    double nll_marginal; /* D2SM-RES-NLL: the weight of the coordinates' own likelihoods */
} ref_objective;

/* The joint batch loss of a model with s2: the mean over points of
 * lambda_i (c1_i L1_i + L2_i), with c1 = w1 / sigma_i^2 (0 when frozen),
 * lambda = 1 for one level and sigma_i^4 on a ladder, psi = s2 + s1 s1^T,
 * T = (z z^T - I) / sigma^2 and
 *   DSM      L1 = || s1(x + sigma z) + z / sigma ||^2
 *   DSM-VR   L1 = DSM - (2 s1(x)^T z / sigma + ||z||^2 / sigma^2)
 *   D2SM     L2 = || psi(x + sigma z) - T ||_F^2
 *   D2SM-VR  L2 = 1/2 [ ||psi_p||^2 + ||psi_m||^2 - 2 <T, psi_p + psi_m - 2 psi_0> ]
 *            (psi_p, psi_m, psi_0 at x + sigma z, x - sigma z, x),
 *   D2SM-RES L2 = || s2(x + sigma z) - T' ||_F^2, T' = r r^T - I / sigma^2 with
 *            r = z / sigma + s1(x + sigma z) at the parameters o->detached,
 *   D2SM-RES-NLL  L2 = (log det A + rho^T A^-1 rho) / sigma^4 with
 *            A = I + sigma^2 s2(x + sigma z) (dense Cholesky) and rho = sigma r,
 *            r as for D2SM-RES (the library's clamp of A's diagonal ratios at
 *            1e-6 is not modelled: the test models stay above it), plus
 *            nll_marginal sum_a (log A_aa + rho_a^2 / A_aa) / sigma^4,
 * every matrix sum restricted to the diagonal for "diag". levels may be NULL
 * (level 0). If scale is not NULL it receives the same mean with every term
 * replaced by its absolute value (entry by entry for the matrix terms,
 * ||psi||^2 - 2 <T, psi> + ||T||^2 for D2SM): the magnitude against which
 * rounding errors of the library's float arithmetic are measured. */
double ref_loss_s2(const ref_model *m, const ref_objective *o, const double *params,
                   const double *x, const double *z, const int64_t *levels, int64_t n,
                   double *scale);

#endif
