/* The model handle, shared with the trainer and the sampler. What a model
 * means lives in lib/model: eval.h evaluates it (the only place 1/sigma is
 * applied), s2layout.h decodes its s2 outputs, posterior.h forms the
 * posterior covariance. */
#ifndef HOSM_MODEL_H
#define HOSM_MODEL_H

#include "core/config.h"
#include "core/internal.h"
#include "io/container.h"
#include "nn/mlp.h"

/* What defines a model's shape: written to and read from files. */
typedef struct {
    int64_t dim, hidden, depth, levels, seed, threads;
    int act;
    double sigma, sigma_max, sigma_min;
    int param;                         /* enum hosm_parameterization */
    int s2;                            /* enum hosm_s2: the s2 network */
    int s2_head;                       /* enum hosm_s2_head */
    int64_t rank, s2_hidden, s2_depth; /* as configured; 0 = the s1 value */
} hosmi_arch;

struct hosm_model {
    uint32_t magic;  /* HOSMI_HANDLE_MODEL */
    hosmi_arch arch;
    hosmi_mlp net;   /* s1 network: dim -> dim, or dim -> 1 for an energy */
    hosmi_mlp net2;  /* s2 network: dim -> hosmi_s2_outputs(); nparams 0 for none */
    int64_t rank;    /* effective rank of a low-rank s2: min(rank, dim) */
    int64_t nparams; /* net.nparams + net2.nparams */
    float *params;   /* s1 parameters, then s2 parameters */
    double *sigmas;  /* arch.levels, largest first */
    hosmi_blas blas;
    /* The settings the model was made with: every key but the architecture
     * keys (which arch holds), written to files as the CNFG section. */
    struct hosm_config settings;
    char errmsg[HOSMI_MSG_CAP];
};

static inline int hosmi_is_energy(const hosm_model *m)
{
    return m->arch.param == HOSM_PARAM_ENERGY;
}

/* What the s2 queries answer: the s2 network's structure and its outputs a
 * row, or for an energy model its exact Hessian, packed "full". */
static inline int hosmi_s2_kind(const hosm_model *m)
{
    return hosmi_is_energy(m) ? HOSM_S2_FULL : m->arch.s2;
}

static inline int64_t hosmi_s2_out(const hosm_model *m)
{
    return hosmi_is_energy(m) ? m->arch.dim * (m->arch.dim + 1) / 2 : m->net2.out;
}

/* The s2 parameters. */
static inline float *hosmi_params2(const hosm_model *m)
{
    return m->params + m->net.nparams;
}

/* Checks an architecture and fills the network shapes of m (no allocation);
 * msg receives the detail. */
int hosmi_model_shape(hosm_model *m, const hosmi_arch *arch, char *msg);
/* The output layers of a one-level model and the factor "raw_head" gives
 * them: the s1 head sigma (a denoiser's 1), the s2 head sigma^2 (out holds
 * 2); returns how many (1 without s2, or with a log-variance s2 head, which
 * is unscaled). With Adam, training these layers at lr times that factor
 * from initial weights times that factor is exactly training networks whose
 * outputs are not divided by sigma and sigma^2. */
int hosmi_head_ranges(const hosm_model *m, hosmi_param_range *out);
/* Checks an architecture (msg receives the detail) and creates a model with
 * freshly initialised weights. */
int hosmi_model_create(hosm_model **out, const hosmi_arch *arch, char *msg);
/* Allocates a model of a checked shape (weights uninitialised). */
int hosmi_model_alloc(hosm_model **out, const hosm_model *shape, char *msg);
/* Copies the keys of src that are not architecture keys into dst. */
void hosmi_model_copy_settings(struct hosm_config *dst, const struct hosm_config *src);
/* Stores those keys of src as m's settings, and applies the ones the model
 * itself uses (gemm_kernels). */
void hosmi_model_set_settings(hosm_model *m, const struct hosm_config *src);
/* Non-zero when key is an architecture key (held by hosmi_arch). */
int hosmi_is_arch_key(int key);
/* Non-zero when two models have the same architecture (and parameter count). */
int hosmi_same_arch(const hosm_model *a, const hosm_model *b);

/* Validates a model handle argument (HOSM_E_NULL, HOSM_E_MISUSE). */
int hosmi_check_model(const hosm_model *model, const char *fn);
/* Returns from the calling function when `model` is not a live model. */
#define HOSMI_NEED_MODEL(fn)                                                        \
    do {                                                                            \
        int need_st_ = hosmi_check_model(model, fn);                                \
        if (need_st_)                                                               \
            return need_st_;                                                        \
    } while (0)
/* Validates a level index of a model. */
int hosmi_check_level(const hosm_model *model, const char *fn, int64_t level);
/* Validates x (n x dim floats): NULL, n < 0 and non-finite values. */
int hosmi_check_points(char *msg, const char *fn, const float *x, int64_t n, int64_t dim);

/* The "ARCH", "PRM1" and "S2NT" sections, shared by model files and checkpoints. */
void hosmi_model_write(hosmi_writer *w, const hosm_model *m);
/* Reads the sections of a model from r (positioned at the first section),
 * creating *out. Sections with other tags are handed to extra (may be NULL),
 * which returns a status. Every declared size is checked against the
 * others and against the data before anything is allocated. */
typedef int (*hosmi_section_fn)(uint32_t tag, hosmi_reader *payload, void *ctx, char *msg);
int hosmi_model_read(hosmi_reader *r, uint32_t sections, hosm_model **out, hosmi_section_fn extra,
                     void *ctx, char *msg);

#endif
