/* A batched MLP: samples as rows, every layer one GEMM. Parameters live in
 * one flat float vector:
 *   layer 0:           W (hidden x in), b (hidden)
 *   layers 1..depth-1: W (hidden x hidden), b (hidden)
 *   output layer:      W (out x hidden), b (out)
 *   level embedding:   E (levels x hidden), only when levels > 1, added to
 *                      layer 0's pre-activation of each row at its level.
 * Passes: forward; backward (parameter and input gradients); forward-mode
 * tangents (k tangents a row, batched as GEMM rows); and a backward pass
 * through forward and tangents together (reverse over forward), which the
 * parameter gradient of a loss on tangents (sliced score matching) needs.
 * A network with one output (an energy) also has: its input gradient; the
 * tangents of that gradient (Hessian-vector products, forward over
 * reverse); and the parameter gradient of u^T Hessian v (a second-order
 * forward pass and its reverse, which needs each activation's f'''). */
#ifndef HOSM_MLP_H
#define HOSM_MLP_H

#include "core/internal.h"
#include "nn/act.h"

typedef struct {
    int64_t in, hidden, out, depth, levels;
    int act;
    int64_t nparams;
    int64_t emb_off; /* offset of E, or -1 */
} hosmi_mlp;

/* What a plan keeps, so that later passes can run on the same rows. */
enum {
    HOSMI_PLAN_GRAD = 1,        /* f' of every layer: backward */
    HOSMI_PLAN_TANGENT = 2,     /* tangent passes of up to k tangents a row */
    HOSMI_PLAN_TANGENT_GRAD = 4, /* tangents and f'' kept: backward through tangents */
    HOSMI_PLAN_HVP = 8,          /* input gradient cotangents kept: hosmi_mlp_input_hvp */
    HOSMI_PLAN_MIXED = 16        /* f''' and 3 k tangents a row: hosmi_mlp_mixed_backward */
};

/* The workspace of one network for up to cap rows (and k tangents a row):
 * staged inputs, per-layer activations and what the mode keeps, scratch.
 * Caller memory never reaches BLIS: inputs are staged here first. */
typedef struct {
    unsigned mode;
    int64_t cap, k, hidden, depth;
    int unit; /* the last tangent pass used the unit tangents */
    float *buf;
    int64_t off_d1, off_d2, off_d3, off_g, off_scr, off_t, off_tin; /* region offsets in buf */
} hosmi_mlp_plan;

/* Fills the shape; returns 0, or -1 if the parameter count overflows. */
int hosmi_mlp_shape(hosmi_mlp *m, int64_t in, int64_t hidden, int64_t depth, int64_t out,
                    int64_t levels, int act);
/* Offsets of layer l's W and b in the flat vector (l = depth is the output layer). */
int64_t hosmi_mlp_w_off(const hosmi_mlp *m, int64_t l);
int64_t hosmi_mlp_b_off(const hosmi_mlp *m, int64_t l);

/* The output layer's parameters (weights, then biases): [*begin, *end). */
void hosmi_mlp_head(const hosmi_mlp *m, int64_t *begin, int64_t *end);
/* LeCun-uniform weights (variance 1/fan_in), zero biases and embeddings. */
void hosmi_mlp_init_params(const hosmi_mlp *m, float *params, hosmi_rng *rng);

/* A plan of the given mode (HOSMI_PLAN_* bits; k = 0 without tangents);
 * 0, or -1 without memory (the plan is then empty). Freeing an empty or
 * zeroed plan is allowed. */
int hosmi_mlp_plan_alloc(hosmi_mlp_plan *p, const hosmi_mlp *m, int64_t cap, unsigned mode,
                         int64_t k);
void hosmi_mlp_plan_free(hosmi_mlp_plan *p);

/* out (n x out) = net(x); x is n x in. levels gives each row's level, or is
 * NULL and every row uses level_all. n <= p->cap. */
void hosmi_mlp_forward(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                       const float *x, const int64_t *levels, int64_t level_all, int64_t n,
                       hosmi_mlp_plan *p, float *out);

/* After a forward pass (plan with HOSMI_PLAN_GRAD) on the same rows:
 * accumulates the parameter gradient of sum_i dout_i . out_i into grad, and
 * writes the input gradient into dx (n x in) unless dx is NULL. */
void hosmi_mlp_backward(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                        const int64_t *levels, int64_t level_all, int64_t n,
                        hosmi_mlp_plan *p, const float *dout, float *grad, float *dx);

/* After a forward pass (plan with HOSMI_PLAN_TANGENT or _TANGENT_GRAD):
 * pushes k tangents a row through the network. tin (n k x in, row i k + t
 * is tangent t of row i) holds the input tangents, or is NULL for the
 * k = in unit tangents e_t. tout (n k x out) receives the output tangents
 * (Jacobian-vector products; for unit tangents row i in + b is the
 * derivative of the output by x_b). k <= p->k. The forward cache is kept. */
void hosmi_mlp_tangent(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                       int64_t n, int64_t k, const float *tin, hosmi_mlp_plan *p, float *tout);

/* After hosmi_mlp_tangent (plan with HOSMI_PLAN_TANGENT_GRAD) on the same
 * rows: accumulates into grad the parameter gradient of
 * sum_i dout_i . out_i + sum_{i,t} dtout_{i k + t} . tout_{i k + t};
 * dout may be NULL (no loss on the outputs). */
void hosmi_mlp_tangent_backward(const hosmi_mlp *m, const hosmi_blas *blas,
                                const float *params, const int64_t *levels, int64_t level_all,
                                int64_t n, int64_t k, hosmi_mlp_plan *p, const float *dout,
                                const float *dtout, float *grad);

/* ---- networks with one output (energies) ---- */

/* After a forward pass (plan with HOSMI_PLAN_GRAD) on the same rows: dx
 * (n x in; may be NULL) = the gradient of the output by the input. With HOSMI_PLAN_HVP
 * the cotangents of the hidden layers are kept for hosmi_mlp_input_hvp. */
void hosmi_mlp_input_grad(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                          int64_t n, hosmi_mlp_plan *p, float *dx);

/* After hosmi_mlp_input_grad (plan with HOSMI_PLAN_HVP) on the same rows:
 * tout (n k x in) row i k + t = the Hessian of the output by the input at
 * row i times tangent t, for tin (n k x in) or, with tin NULL, the k = in
 * unit tangents (row i in + b is then the Hessian's row b). k <= p->k. */
void hosmi_mlp_input_hvp(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                         int64_t n, int64_t k, const float *tin, hosmi_mlp_plan *p, float *tout);

/* After hosmi_mlp_input_hvp on the same rows (plan with HOSMI_PLAN_MIXED
 * as well): accumulates into grad the parameter gradient of
 * sum_{i,t} u_{i k + t}^T Hessian_i v_{i k + t}, where v are that pass's
 * tangents and u (n k x in) is given. */
void hosmi_mlp_mixed_backward(const hosmi_mlp *m, const hosmi_blas *blas, const float *params,
                              const int64_t *levels, int64_t level_all, int64_t n, int64_t k,
                              const float *u, hosmi_mlp_plan *p, float *grad);

#endif
