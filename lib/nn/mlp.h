/* A batched MLP: samples as rows, every layer one GEMM, elementwise work fused
 * into a single pass. Parameters live in one flat float vector:
 *   layer 0:          W (hidden x in), b (hidden)
 *   layers 1..depth-1: W (hidden x hidden), b (hidden)
 *   output layer:     W (out x hidden), b (out)
 *   level embedding:  E (levels x hidden), only when levels > 1, added to
 *                     layer 0's pre-activation of each row at its level. */
#ifndef HOSM_MLP_H
#define HOSM_MLP_H

#include "core/internal.h"

typedef struct {
    int64_t in, hidden, out, depth, levels;
    int act;
    int64_t nparams;
    int64_t emb_off; /* offset of E, or -1 */
} hosmi_mlp;

/* Workspace for up to cap rows: per hidden layer the pre-activations Z and
 * activations A, two n x hidden scratch blocks for the backward pass, and a
 * copy of the input rows (caller memory never reaches BLIS). */
typedef struct {
    float *buf;
    int64_t cap;
} hosmi_mlp_ws;

/* Fills the shape; returns 0, or -1 if the parameter count overflows. */
int hosmi_mlp_shape(hosmi_mlp *m, int64_t in, int64_t hidden, int64_t depth, int64_t out,
                    int64_t levels, int act);
/* Offsets of layer l's W and b in the flat vector (l = depth is the output layer). */
int64_t hosmi_mlp_w_off(const hosmi_mlp *m, int64_t l);
int64_t hosmi_mlp_b_off(const hosmi_mlp *m, int64_t l);

/* LeCun-uniform weights (variance 1/fan_in), zero biases and embeddings. */
void hosmi_mlp_init_params(const hosmi_mlp *m, float *params, hosmi_rng *rng);

int hosmi_mlp_ws_alloc(hosmi_mlp_ws *ws, const hosmi_mlp *m, int64_t cap);
void hosmi_mlp_ws_free(hosmi_mlp_ws *ws);

/* out (n x out) = net(x); x is n x in. levels gives each row's level, or is
 * NULL and every row uses level_all. n <= ws->cap. */
void hosmi_mlp_forward(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                       const float *x, const int64_t *levels, int64_t level_all, int64_t n,
                       hosmi_mlp_ws *ws, float *out);

/* After hosmi_mlp_forward on the same rows: accumulates the parameter gradient
 * of sum_i dout_i . out_i into grad, and writes the input gradient into dx
 * (n x in) unless dx is NULL. */
void hosmi_mlp_backward(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                        const int64_t *levels, int64_t level_all, int64_t n, hosmi_mlp_ws *ws,
                        const float *dout, float *grad, float *dx);

/* After hosmi_mlp_forward on n rows (whose pre-activations it overwrites,
 * so no backward pass may follow): the Jacobian of the output with respect
 * to the input by forward mode, the `in` unit tangents of each row batched
 * as GEMM rows: jt (n x in x out) receives, for row i and input b, the
 * derivative of the output by x_b (the transposed Jacobian of each row).
 * tan is scratch of 2 * n * in * hidden floats. */
void hosmi_mlp_jacobian(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                        int64_t n, hosmi_mlp_ws *ws, float *tan, float *jt);

#endif
