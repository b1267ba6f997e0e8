/* The model handle, shared with the trainer and the sampler. */
#ifndef HOSM_MODEL_H
#define HOSM_MODEL_H

#include "core/internal.h"
#include "io/container.h"
#include "nn/mlp.h"

/* What defines a model's shape: written to and read from files. */
typedef struct {
    int64_t dim, hidden, depth, levels, seed, threads;
    int act;
    double sigma, sigma_max, sigma_min;
    int s2;                          /* enum hosm_s2 */
    int64_t rank, s2_hidden, s2_depth; /* as configured; 0 = the s1 value */
} hosmi_arch;

struct hosm_model {
    hosmi_arch arch;
    hosmi_mlp net;   /* s1 network: dim -> dim */
    hosmi_mlp net2;  /* s2 network: dim -> hosmi_s2_outputs(); nparams 0 for none */
    int64_t rank;    /* effective rank of a low-rank s2: min(rank, dim) */
    int64_t nparams; /* net.nparams + net2.nparams */
    float *params;   /* s1 parameters, then s2 parameters */
    double *sigmas;  /* arch.levels, largest first */
    hosmi_blas blas;
    char errmsg[HOSMI_MSG_CAP];
};

/* The s2 parameters. */
static inline float *hosmi_params2(const hosm_model *m)
{
    return m->params + m->net.nparams;
}

/* Checks an architecture (msg receives the detail) and creates a model with
 * freshly initialised weights. */
int hosmi_model_create(hosm_model **out, const hosmi_arch *arch, char *msg);
/* Non-zero when two models have the same architecture (and parameter count). */
int hosmi_same_arch(const hosm_model *a, const hosm_model *b);

/* The "ARCH" and "PRM1" sections, shared by model files and checkpoints. */
void hosmi_model_write(hosmi_writer *w, const hosm_model *m);
/* Reads the sections of a model from r (positioned at the first section),
 * creating *out. Sections with other tags are handed to extra (may be NULL),
 * which returns a status. */
typedef int (*hosmi_section_fn)(uint32_t tag, hosmi_reader *payload, void *ctx, char *msg);
int hosmi_model_read(hosmi_reader *r, uint32_t sections, hosm_model **out, hosmi_section_fn extra,
                     void *ctx, char *msg);

/* Network outputs of an s2 structure (0 for none; -1 on overflow), and the
 * position of entry (a, b) of a symmetric D x D matrix packed as its upper
 * triangle row by row (the "full" layout). */
int64_t hosmi_s2_outputs(int s2, int64_t dim, int64_t rank);
int64_t hosmi_packed_index(int64_t D, int64_t a, int64_t b);

/* Validates x (n x dim floats): NULL, n < 0 and non-finite values. */
int hosmi_check_points(char *msg, const char *fn, const float *x, int64_t n, int64_t dim);

#endif
