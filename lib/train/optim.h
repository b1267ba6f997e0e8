/* Adam(W) with global-norm clipping and an EMA of the weights: the update
 * half of a training step, separate from the gradient so that a gradient
 * may be reduced elsewhere (e.g. averaged over processes) before it is
 * applied. */
#ifndef HOSM_OPTIM_H
#define HOSM_OPTIM_H

#include "core/internal.h"

/* The step count never passes this (checkpoints holding more are corrupt). */
#define HOSMI_MAX_STEP ((int64_t)1 << 62)

#define HOSMI_LR_RANGES 2

typedef struct {
    double lr, beta1, beta2, eps, weight_decay, clip, ema;
    /* Parameters learning at lr * scale (the output layers with "raw_head");
     * ascending and disjoint, unused ones with end 0. */
    hosmi_param_range ranges[HOSMI_LR_RANGES];
    /* The schedule (enum hosm_lr_schedule), its warm-up steps and, for
     * cosine, the step count at which the rate reaches 0 (> warmup). */
    int schedule;
    int64_t warmup, horizon;
} hosmi_adam;

typedef struct {
    float *m, *v, *ema; /* P each */
    int64_t step;
} hosmi_adam_state;

/* The factor of lr (and of the decoupled weight decay) at step (1-based). */
double hosmi_lr_factor(const hosmi_adam *h, int64_t step);

/* One update with grad: Adam(W) on params[first, P) (the rest is frozen),
 * then the EMA of all P. Checked: when any new moment, weight or EMA value
 * would not be finite, returns HOSM_E_NONFINITE and changes nothing; at the
 * step-count limit HOSM_E_RANGE. msg receives the detail. */
int hosmi_adam_apply(const hosmi_adam *h, hosmi_adam_state *s, float *params, const float *grad,
                     int64_t first, int64_t P, char *msg);

/* The same through instruction-set variant isa (HOSMI_VISA_*, lib/nn/vmath.h;
 * it must be available): hosmi_adam_apply uses hosmi_visa_selected(). Every
 * variant gives the same bits; for tests and benchmarks. */
int hosmi_adam_apply_isa(int isa, const hosmi_adam *h, hosmi_adam_state *s, float *params,
                         const float *grad, int64_t first, int64_t P, char *msg);

#endif
