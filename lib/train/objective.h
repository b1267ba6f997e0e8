/* The objective table: each training objective in its own file, behind one
 * interface. The trainer fills each point's rows (noisy x + sigma z, clean
 * x, antithetic x - sigma z), evaluates the model on the row blocks the
 * objectives read, and asks each objective for every point's loss and its
 * gradient with respect to the model's outputs (docs/math.md, objectives).
 * A new objective is one new file and one entry in objective.c. */
#ifndef HOSM_OBJECTIVE_H
#define HOSM_OBJECTIVE_H

#include "model/s2layout.h"
#include "model/model.h"

/* Row blocks, in their order in the trainer's row buffers. */
enum { HOSMI_BLOCK_NOISY = 0, HOSMI_BLOCK_CLEAN = 1, HOSMI_BLOCK_ANTI = 2, HOSMI_BLOCKS = 3 };
#define HOSMI_ROWS(block) (1u << (block))

/* One batch as the objectives see it. Arrays indexed by block are NULL for
 * blocks not run; ds1 is NULL with s1 detached (frozen). */
typedef struct {
    const hosm_model *m;
    const hosmi_blas *blas;
    const float *z;       /* n x D standard normal noise */
    const int64_t *level; /* n levels */
    const float *s1[HOSMI_BLOCKS], *s2[HOSMI_BLOCKS]; /* n x D, n x net2.out */
    float *ds1[HOSMI_BLOCKS], *ds2[HOSMI_BLOCKS];     /* their cotangents */
    int64_t k;            /* tangents a point (score-matching objectives) */
    const float *v;       /* n k x D tangent directions, NULL for unit tangents */
    const float *t1;      /* n k x D tangents of s1 on the noisy block */
    float *dt1;           /* their cotangents */
    float *w;             /* D floats of scratch */
    const float *zero;    /* D zeros */
    float *work;          /* hosmi_s2_term_work() floats of scratch */
    double *dwork;        /* hosmi_s2_nll_work() doubles of scratch (d2sm_res_nll) */
    double nll_marginal;  /* d2sm_res_nll: the weight of the coordinates' own likelihoods */
} hosmi_batch;

/* Tangents an objective needs of s1 on the noisy block. */
enum { HOSMI_TANGENTS_NONE, HOSMI_TANGENTS_PROJECTIONS, HOSMI_TANGENTS_UNIT };

typedef struct {
    int order;      /* 1: a first-order loss L1 on s1; 2: a loss L2 on psi = s2 + s1 s1^T */
    unsigned rows;  /* HOSMI_ROWS() of the blocks it reads */
    int tangents;   /* HOSMI_TANGENTS_* */
    /* The loss of point i; adds scale times its gradient into the cotangents. */
    double (*point)(const hosmi_batch *b, int64_t i, double scale);
    int likelihood; /* 1: needs s2_head=logvar and hosmi_s2_nll_work() doubles of dwork */
} hosmi_objective;

/* The objective of an enum hosm_objective or enum hosm_s2_objective value. */
const hosmi_objective *hosmi_objective_first(int objective);
const hosmi_objective *hosmi_objective_second(int s2_objective);

extern const hosmi_objective hosmi_obj_dsm, hosmi_obj_dsm_vr, hosmi_obj_d2sm, hosmi_obj_d2sm_vr,
    hosmi_obj_d2sm_res, hosmi_obj_d2sm_res_vr, hosmi_obj_d2sm_res_nll, hosmi_obj_ssm,
    hosmi_obj_ssm_vr, hosmi_obj_exact_sm;

/* Shared by the second-order objectives: w = z_i / sigma into b->w, and
 * the D2SM terms (alpha, beta) of point i on one block. */
double hosmi_d2sm_block(const hosmi_batch *b, int64_t i, int block, double alpha, double beta,
                        double scale);

#endif
