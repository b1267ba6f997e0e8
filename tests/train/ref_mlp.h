/* A double-precision reference of the score network and of the first-order
 * losses, written from the specification (lib/nn/mlp.h for the parameter
 * layout, MATH.md 3.1 for the losses) and independent of the library's code.
 *
 * Flat parameter layout (the order of hosm_model_get_params):
 *   layer 0:           W (hidden x D), b (hidden)
 *   layers 1..depth-1: W (hidden x hidden), b (hidden)
 *   output layer:      W (D x hidden), b (D)
 *   level embedding:   E (levels x hidden), only when levels > 1; row l is
 *                      added to layer 0's pre-activation at level l.
 * Every W is row-major (output index major). The network computes net(x, l);
 * the score is s1 = net / sigma_l. */
#ifndef REF_MLP_H
#define REF_MLP_H

#include <stdint.h>

typedef struct {
    int64_t dim, hidden, depth, levels;
    int act;               /* enum hosm_act */
    const double *sigmas;  /* levels noise levels, largest first */
} ref_arch;

/* Number of parameters of the layout above. */
int64_t ref_num_params(const ref_arch *a);

/* One activation and its value; enum hosm_act codes. */
double ref_act(int act, double z);

/* s1(x, level) of one point x (D doubles) into out (D doubles). */
void ref_score(const ref_arch *a, const double *params, const double *x, int64_t level,
               double *out);

/* The first-order loss of MATH.md 3.1 on n points, in the trainer's batch
 * form: the mean over the batch of w_i * l_i with
 *   DSM:     l_i = || s1(x_i + sigma_i z_i) + z_i / sigma_i ||^2
 *   DSM-VR:  l_i = DSM l_i - ( 2 s1(x_i)^T z_i / sigma_i + ||z_i||^2 / sigma_i^2 )
 * where sigma_i is the level of point i (levels NULL: level 0) and
 * w_i = 1 for one level, sigma_i^2 for a ladder. If scale is not NULL it
 * receives the same mean of the absolute values of every term summed
 * (the magnitude against which rounding errors are measured). */
double ref_loss(const ref_arch *a, const double *params, int vr, const double *x,
                const double *z, const int64_t *levels, int64_t n, double *scale);

#endif
