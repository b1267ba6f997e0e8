/* The trainer handle, shared by the trainer's files. */
#ifndef HOSM_TRAINER_H
#define HOSM_TRAINER_H

#include "model/eval.h"
#include "train/objective.h"
#include "train/optim.h"

struct hosm_trainer {
    uint32_t magic; /* HOSMI_HANDLE_TRAINER */
    hosm_model *model;
    const hosmi_objective *obj1, *obj2; /* obj1 NULL with s1 frozen, obj2 NULL without s2 */
    double w1;
    double nll_marginal; /* d2sm_res_nll: the weight of the coordinates' own likelihoods */
    hosmi_adam adam;
    hosmi_adam_state state;
    int64_t batch, steps, epochs, seed;
    hosmi_blas blas;
    hosmi_rng rng;
    float *grad; /* nparams */
    /* Workspace for up to cap points: their rows in the blocks the
     * objectives read (rows1 for s1, a prefix of rows2 of them for s2). */
    unsigned blocks1, blocks2;
    int clean_rows;           /* the noisy block holds clean x (score matching) */
    int64_t k;                /* tangents a point of a score-matching L1, else 0 */
    int projection;           /* enum hosm_projection */
    uint64_t proj_seed;
    int64_t cap;
    hosmi_eval_ws eval;
    float *rows_in, *s1, *ds1, *s2, *ds2, *noise, *batch_x;
    float *w, *s2_work;       /* per thread of blas.pool: D and s2_work_len floats */
    float *zero;              /* D zeros, shared */
    int64_t s2_work_len;
    double *s2_dwork;         /* per thread: s2_dwork_len doubles (d2sm_res_nll) */
    int64_t s2_dwork_len;
    double *point_loss;       /* n */
    float *v, *t1, *dt1;      /* n k x D directions, tangents of s1, their cotangents */
    int64_t *rows_level, *levels;
    /* The current epoch's permutation in fit. */
    int64_t *perm, perm_n, perm_epoch;
    char errmsg[HOSMI_MSG_CAP];
};

/* Validates a trainer handle argument. */
int hosmi_check_trainer(const hosm_trainer *t, const char *fn);

#endif
