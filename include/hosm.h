/*
 * libhosm: high-order score matching in C.
 *
 * The whole public API. Everything outside this header (and the generated
 * hosm_version.h it includes) is private and may change at any time.
 *
 * Conventions
 *  - Every function returns an int status: HOSM_OK (0) on success, a negative
 *    HOSM_E_* code on failure, or a positive informational code (HOSM_STOPPED).
 *    hosm_strerror() gives static text for a code. Every failure stores a
 *    detailed message for the calling thread (hosm_last_errmsg()); a failure
 *    of a function that takes a non-const handle also stores it in that
 *    handle (hosm_X_errmsg()). Functions on const handles (queries) store it
 *    per thread only, so that they stay reentrant.
 *  - Data are float (32-bit) arrays, row-major and contiguous: n points of
 *    dimension D take n * D floats. Sizes and counts are int64_t, scalars
 *    double. Outputs go to caller buffers, which must not overlap the inputs
 *    unless a function says otherwise.
 *  - Handles are opaque. hosm_X_new() creates, hosm_X_free() releases and
 *    accepts NULL. A failed hosm_X_new() leaves *out set to NULL.
 *  - The library never prints, exits or aborts.
 *
 * Threads (see docs/threading.md): distinct handles may be used concurrently
 * from different threads. Const queries on a model (score, denoise, save) are
 * reentrant as long as no trainer is changing that model at the same time.
 * There is no hidden global mutable state; BLIS threading is set per handle.
 */
#ifndef HOSM_H
#define HOSM_H

#include <stdint.h>

#include "hosm_version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Markers of the API's status, placed after a declaration.
 * HOSM_EXPERIMENTAL: API in incubation. It is exported and tested, but its
 *   name, arguments or meaning may still change in a minor release (as
 *   sqlite's experimental interfaces); a program that needs a stable ABI
 *   avoids it. It expands to nothing.
 * HOSM_DEPRECATED: API kept for compatibility that new code should not use;
 *   GCC and clang warn on use unless HOSM_NO_DEPRECATION_WARNINGS is
 *   defined. */
#define HOSM_EXPERIMENTAL
#if defined(__GNUC__) && !defined(HOSM_NO_DEPRECATION_WARNINGS)
#define HOSM_DEPRECATED __attribute__((deprecated))
#else
#define HOSM_DEPRECATED
#endif

#if defined(_WIN32)
#define HOSM_API
#elif defined(__GNUC__)
#define HOSM_API __attribute__((visibility("default")))
#else
#define HOSM_API
#endif

/* ------------------------------------------------------------------------ */
/** @name Status codes (stable; values are never reused) */
/** @{ */
enum hosm_status {
    HOSM_OK = 0,              /**< success */
    HOSM_STOPPED = 1,         /**< a progress callback asked to stop (not an error) */
    HOSM_E_NULL = -1,         /**< a required pointer argument was NULL */
    HOSM_E_ARG = -2,          /**< an argument is invalid (size, count, index, ...) */
    HOSM_E_KEY = -3,          /**< unknown configuration key or key name */
    HOSM_E_RANGE = -4,        /**< a configuration value is out of its range */
    HOSM_E_TYPE = -5,         /**< a key was set or read with the wrong type */
    HOSM_E_NOMEM = -6,        /**< memory allocation failed */
    HOSM_E_NONFINITE = -7,    /**< NaN or Inf in input data, or a non-finite loss */
    HOSM_E_IO = -8,           /**< a file could not be opened, written or renamed */
    HOSM_E_FORMAT = -9,       /**< not a libhosm file of the expected kind */
    HOSM_E_VERSION = -10,     /**< a libhosm file of an unsupported format version */
    HOSM_E_CORRUPT = -11,     /**< checksum mismatch or inconsistent contents */
    HOSM_E_TRUNCATED = -12,   /**< the file or buffer ends too early */
    HOSM_E_MISMATCH = -13,    /**< sizes or architectures of two objects disagree */
    HOSM_E_BUFFER = -14,      /**< a caller buffer is too small */
    HOSM_E_PARSE = -15,       /**< configuration text could not be parsed */
    HOSM_E_UNSUPPORTED = -16, /**< the model's structure cannot answer this query */
    HOSM_E_MISUSE = -17,      /**< a handle of the wrong kind, or one already freed */
    HOSM_E_CALLBACK = -18     /**< a caller's callback returned a failure */
};
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Versions and errors */
/** @{ */

/** The library's version as "MAJOR.MINOR.PATCH" (static storage). */
HOSM_API const char *hosm_version_string(void);

/** The library's version as MAJOR * 10000 + MINOR * 100 + PATCH. */
HOSM_API int hosm_version_number(void);

/** Static text describing a status code; never NULL (unknown codes get a
 *  generic text). */
HOSM_API const char *hosm_strerror(int status);

/** The detailed message of the calling thread's last failure in any libhosm
 *  function, or "" if there was none. Valid until the thread's next libhosm
 *  call. */
HOSM_API const char *hosm_last_errmsg(void);

/** The name of the BLIS sub-configuration whose kernels matrix products use
 *  under "gemm_kernels" = kernels (enum hosm_gemm_kernels), for example
 *  "zen3", "haswell" or "skx+haswell-sup"; *name is a static string. */
HOSM_API int hosm_gemm_kernels_name(int kernels, const char **name) HOSM_EXPERIMENTAL;
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Configuration
 * A config object holds typed, keyed settings. Each handle reads the keys it
 * needs when it is created (model: architecture and noise levels; trainer:
 * objective and optimiser; sampler: sampler settings); the config may be freed
 * or changed afterwards. Every key has a name (for the text form), a type, a
 * range and a default. Key values are stable and never reused. */
/** @{ */
typedef struct hosm_config hosm_config;

enum hosm_key {
    /* model */
    HOSM_KEY_HIDDEN = 1,        /**< int "hidden": MLP width, 1..65536, default 128 */
    HOSM_KEY_DEPTH = 2,         /**< int "depth": hidden layers, 1..64, default 2 */
    HOSM_KEY_ACT = 3,           /**< int "act": enum hosm_act, default silu */
    HOSM_KEY_SIGMA = 4,         /**< double "sigma": the noise level when levels = 1, default 0.1 */
    HOSM_KEY_SIGMA_MAX = 5,     /**< double "sigma_max": largest ladder level, default 1 */
    HOSM_KEY_SIGMA_MIN = 6,     /**< double "sigma_min": smallest ladder level, default 0.01 */
    HOSM_KEY_LEVELS = 7,        /**< int "levels": noise levels L, 1..10000, default 1 */
    HOSM_KEY_SEED = 8,          /**< int "seed": RNG seed, 0..2^63-1, default 0 */
    HOSM_KEY_THREADS = 9,       /**< int "threads": threads of this handle (BLIS and its helpers for element-wise passes), 1..1024, default 1 */
    /* trainer */
    HOSM_KEY_OBJECTIVE = 10,    /**< int "objective": enum hosm_objective, default dsm */
    HOSM_KEY_LR = 11,           /**< double "lr": Adam learning rate, (0, 10], default 1e-3 */
    HOSM_KEY_BETA1 = 12,        /**< double "beta1": [0, 1), default 0.9 */
    HOSM_KEY_BETA2 = 13,        /**< double "beta2": [0, 1), default 0.999 */
    HOSM_KEY_ADAM_EPS = 14,     /**< double "adam_eps": (0, 1], default 1e-8 */
    HOSM_KEY_WEIGHT_DECAY = 15, /**< double "weight_decay": decoupled (AdamW), [0, 1], default 0 */
    HOSM_KEY_CLIP = 16,         /**< double "clip": max global gradient norm, 0 = off, default 0 */
    HOSM_KEY_EMA = 17,          /**< double "ema": EMA decay of the weights, [0, 1), default 0.999 */
    HOSM_KEY_BATCH = 18,        /**< int "batch": fit minibatch size, 1..2^24, default 128 */
    HOSM_KEY_STEPS = 19,        /**< int "steps": fit's total step target, 0..2^40, default 1000 */
    HOSM_KEY_EPOCHS = 20,       /**< int "epochs": if > 0, fit's target is epochs * ceil(n / batch) steps instead, default 0 */
    /* sampler */
    HOSM_KEY_SAMPLER = 21,      /**< int "sampler": enum hosm_sampler_kind, default langevin */
    HOSM_KEY_STEP_SIZE = 22,    /**< double "step_size": Langevin eps (at the smallest level), (0, 1e6], default 1e-3 */
    HOSM_KEY_SAMPLE_STEPS = 23, /**< int "sample_steps": steps (per level when annealed), 1..2^40, default 100 */
    /* second-order scores */
    HOSM_KEY_S2 = 24,           /**< int "s2": enum hosm_s2 structure of the s2 network, default none */
    HOSM_KEY_RANK = 25,         /**< int "rank": rank r of a low-rank s2, 1..4096, default 50, capped at D */
    HOSM_KEY_S2_HIDDEN = 26,    /**< int "s2_hidden": s2 MLP width, 0..65536, 0 (default) = "hidden" */
    HOSM_KEY_S2_DEPTH = 27,     /**< int "s2_depth": s2 hidden layers, 0..64, 0 (default) = "depth" */
    HOSM_KEY_S2_OBJECTIVE = 28, /**< int "s2_objective": enum hosm_s2_objective, default d2sm_vr */
    HOSM_KEY_W1 = 29,           /**< double "w1": weight of the first-order loss in joint training, [0, 1e6], default 1 */
    HOSM_KEY_FREEZE_S1 = 30,    /**< int "freeze_s1": 1 = train s2 only with s1 detached, 0..1, default 0 */
    HOSM_KEY_STREAM = 31,       /**< int "stream": the trainer's noise stream of its seed, 0..524287, default 0; distinct streams (one per process of a data-parallel run) draw independent noise, while batch order depends on the seed only (experimental) */
    /* samplers (experimental) */
    HOSM_KEY_HESSIAN = 32,      /**< int "hessian": enum hosm_hessian_source, where a model sampler's H comes from, default s2 */
    HOSM_KEY_L_MAX = 33,        /**< double "l_max": Ozaki's eigenvalue clamp l <= l_max, [0, 1e30], default 1e30 (off) */
    HOSM_KEY_OZAKI_SOLVER = 34, /**< int "ozaki_solver": enum hosm_ozaki_solver, default auto */
    HOSM_KEY_LANCZOS_TOL = 35,  /**< double "lanczos_tol": relative tolerance of Ozaki's Lanczos matrix functions, [1e-12, 0.1], default 1e-6 */
    HOSM_KEY_INIT_NOISE = 36,   /**< int "init_noise": 1 = replace the initial states by N(0, sigma_max^2 I) draws, 0..1, default 0 */
    HOSM_KEY_FINAL_DENOISE = 37, /**< int "final_denoise": 1 = end with a Tweedie step x + sigma^2 s1(x) at the last level, 0..1, default 0 */
    /* sliced score matching (experimental) */
    HOSM_KEY_PROJECTIONS = 38,  /**< int "projections": random directions a point of "ssm" and "ssm_vr", 1..64, default 1 */
    HOSM_KEY_PROJECTION = 39,   /**< int "projection": enum hosm_projection, default rademacher */
    HOSM_KEY_SSM_NOISE = 40,    /**< int "ssm_noise": 1 = the score-matching objectives act on x + sigma z (learning DSM's target), 0 = on clean x, 0..1, default 0; always 1 in joint training with s2 */
    /* training dynamics */
    HOSM_KEY_RAW_HEAD = 41,     /**< int "raw_head": 1 = the output layers train as if s1 and s2 were not divided by sigma and sigma^2 (initial weights times sigma and sigma^2 in hosm_model_new, Adam learning rate times sigma and sigma^2 in the trainer), one-level models only, 0..1, default 1 */
    HOSM_KEY_PARAMETERIZATION = 42, /**< int "parameterization": enum hosm_parameterization, what the s1 network is, default score */
    HOSM_KEY_GEMM_KERNELS = 43,     /**< int "gemm_kernels": enum hosm_gemm_kernels, whose BLIS kernels the handle's products use, default auto (experimental) */
    HOSM_KEY_LR_SCHEDULE = 44,  /**< int "lr_schedule": enum hosm_lr_schedule, the learning rate over the steps after the warm-up, default constant */
    HOSM_KEY_WARMUP = 45,       /**< int "warmup": the first w steps learn at lr * t / w (t = 1..w), 0..2^40, default 0 */
    HOSM_KEY_S2_HEAD = 46,      /**< int "s2_head": enum hosm_s2_head, what the s2 network outputs for the diagonal part d of a diag or lowrank s2, default linear (experimental) */
    HOSM_KEY_NLL_MARGINAL = 47  /**< double "nll_marginal": the weight of the coordinates' own Gaussian likelihoods that s2_objective=d2sm_res_nll adds to the whole vector's, so that a low-rank s2's variances match each coordinate's error, [0, 1e6], default 0 (experimental) */
};

/** Activations (values of HOSM_KEY_ACT; text names in quotes). */
enum hosm_act {
    HOSM_ACT_SOFTPLUS = 0, /**< "softplus" */
    HOSM_ACT_SILU = 1,     /**< "silu" */
    HOSM_ACT_TANH = 2,     /**< "tanh" */
    HOSM_ACT_ELU = 3       /**< "elu" */
};

/** First-order objectives (values of HOSM_KEY_OBJECTIVE), docs/math.md#31-first-order. */
enum hosm_objective {
    HOSM_OBJ_DSM = 0,   /**< "dsm": denoising score matching */
    HOSM_OBJ_DSM_VR = 1,  /**< "dsm_vr": DSM with the control variate at the clean point */
    HOSM_OBJ_SSM = 2,     /**< "ssm": sliced score matching (experimental) */
    HOSM_OBJ_SSM_VR = 3,  /**< "ssm_vr": sliced score matching, variance reduced (experimental) */
    HOSM_OBJ_EXACT_SM = 4 /**< "exact_sm": Hyvarinen score matching, trace of the Jacobian by D tangents (experimental) */
};

/** What the first network of a model is (values of
 *  HOSM_KEY_PARAMETERIZATION), docs/math.md#10-energy-based-models. */
enum hosm_parameterization {
    HOSM_PARAM_SCORE = 0, /**< "score": a network with D outputs, s1 = net(x) / sigma */
    HOSM_PARAM_ENERGY = 1,  /**< "energy": a network with one output E(x), s1 = -grad_x E / sigma, log density -E / sigma + const (experimental) */
    HOSM_PARAM_DENOISER = 2 /**< "denoiser": a network with D outputs F(x), the posterior mean E[x0 | x] in data units, s1 = (F(x) - x) / sigma^2 (experimental) */
};

/** Whose BLIS kernels a handle's matrix products use (values of
 *  HOSM_KEY_GEMM_KERNELS; docs/performance.md#kernel-choice). */
enum hosm_gemm_kernels {
    HOSM_GEMM_AUTO = 0, /**< "auto": BLIS's pick, unless BLIS does not know the CPU ("generic") and the library can use the kernels BLIS carries for its instruction set */
    HOSM_GEMM_BLIS = 1  /**< "blis": BLIS's own pick */
};

/** Learning-rate schedules (values of HOSM_KEY_LR_SCHEDULE), docs/training.md#optimiser. */
enum hosm_lr_schedule {
    HOSM_LR_CONSTANT = 0, /**< "constant": lr after the warm-up */
    HOSM_LR_COSINE = 1    /**< "cosine": lr (1 + cos(pi s / T)) / 2 at the s-th step after the warm-up (s = 0, 1, ...), T = steps - warmup ("steps" is the horizon), 0 from s = T on */
};

/** Directions of sliced score matching (values of HOSM_KEY_PROJECTION). */
enum hosm_projection {
    HOSM_PROJ_RADEMACHER = 0, /**< "rademacher": entries +-1 */
    HOSM_PROJ_GAUSSIAN = 1    /**< "gaussian": standard normal entries */
};

/** Structures of the learned s2 (values of HOSM_KEY_S2), docs/math.md#4-structures-of-s2. */
enum hosm_s2 {
    HOSM_S2_NONE = 0,    /**< "none": first-order model only */
    HOSM_S2_DIAG = 1,    /**< "diag": s2 = diag(d), O(D) a point */
    HOSM_S2_LOWRANK = 2, /**< "lowrank": s2 = U U^T + diag(d), U D x r, O(D r^2) a point */
    HOSM_S2_FULL = 3     /**< "full": symmetric D x D from D(D+1)/2 outputs, O(D^2) a point */
};

/** Second-order objectives (values of HOSM_KEY_S2_OBJECTIVE), docs/math.md#32-second-order-d2sm. */
enum hosm_s2_objective {
    HOSM_OBJ_D2SM = 0,    /**< "d2sm" */
    HOSM_OBJ_D2SM_VR = 1, /**< "d2sm_vr": antithetic pair plus control variate at the clean point */
    HOSM_OBJ_D2SM_RES = 2, /**< "d2sm_res": s2 against the squared residual of the detached s1's denoiser (experimental) */
    HOSM_OBJ_D2SM_RES_VR = 3, /**< "d2sm_res_vr": d2sm_res over the antithetic pair plus a control variate at the clean point (experimental) */
    HOSM_OBJ_D2SM_RES_NLL = 4 /**< "d2sm_res_nll": the Gaussian negative log-likelihood of the detached s1's residual under the predicted posterior covariance, s2_head=logvar only (experimental) */
};

/** What the s2 network outputs (values of HOSM_KEY_S2_HEAD), docs/math.md#32-second-order-d2sm. */
enum hosm_s2_head {
    HOSM_S2_HEAD_LINEAR = 0, /**< "linear": d = net / sigma^2 (and a low-rank U = net / sigma) */
    HOSM_S2_HEAD_LOGVAR = 1  /**< "logvar": the diagonal part d = (exp(net) - 1) / sigma^2, so that the posterior covariance sigma^4 s2 + sigma^2 I is positive definite (and a low-rank U = net / (100 sigma)); s2=diag and lowrank (experimental) */
};

/** Samplers (values of HOSM_KEY_SAMPLER). */
enum hosm_sampler_kind {
    HOSM_SAMPLER_LANGEVIN = 0,      /**< "langevin": unadjusted Langevin at the smallest level */
    HOSM_SAMPLER_ANNEALED = 1,      /**< "annealed": annealed Langevin over the whole ladder */
    HOSM_SAMPLER_OZAKI = 2,         /**< "ozaki": Ozaki discretisation with H (experimental) */
    HOSM_SAMPLER_MALA = 3,          /**< "mala": Metropolis-adjusted Langevin (experimental) */
    HOSM_SAMPLER_MH_OZAKI = 4,      /**< "mh_ozaki": Metropolis-adjusted Ozaki (experimental) */
    HOSM_SAMPLER_ANNEALED_OZAKI = 5 /**< "annealed_ozaki": Ozaki over the whole ladder (experimental) */
};

/** The Hessian estimates of a model by name: where a model sampler takes the
 *  Hessian H of Ozaki from (values of HOSM_KEY_HESSIAN), and what
 *  hosm_model_hessian_estimate() computes. */
enum hosm_hessian_source {
    HOSM_HESSIAN_S2 = 0,       /**< "s2": the learned s2 */
    HOSM_HESSIAN_JACOBIAN = 1, /**< "jacobian": the symmetrised Jacobian of s1 */
    HOSM_HESSIAN_AVERAGE = 2   /**< "average": (s2 + the symmetrised Jacobian of s1) / 2, for a model with s2 (experimental) */
};

/** How Ozaki applies its matrix functions to a dense or low-rank H (values
 *  of HOSM_KEY_OZAKI_SOLVER); a diagonal H is always exact per coordinate. */
enum hosm_ozaki_solver {
    HOSM_OZAKI_AUTO = 0,   /**< "auto": eigensolver for a dense H, Lanczos for a low-rank one */
    HOSM_OZAKI_EIG = 1,    /**< "eig": the symmetric eigensolver (a low-rank H densified) */
    HOSM_OZAKI_LANCZOS = 2 /**< "lanczos": Lanczos matrix functions to "lanczos_tol" */
};

/** Key types returned by hosm_config_key_type(). */
enum hosm_type {
    HOSM_TYPE_INT = 1,
    HOSM_TYPE_DOUBLE = 2
};

/** Create a config holding every key's default. */
HOSM_API int hosm_config_new(hosm_config **out);
/** Release a config (NULL is allowed). */
HOSM_API void hosm_config_free(hosm_config *cfg);

/** Set an int key. HOSM_E_KEY for an unknown key, HOSM_E_TYPE for a double
 *  key, HOSM_E_RANGE (the message names the key) outside the key's range. */
HOSM_API int hosm_config_set_int(hosm_config *cfg, int key, int64_t value);
/** Set a double key; NaN and Inf are HOSM_E_RANGE. */
HOSM_API int hosm_config_set_double(hosm_config *cfg, int key, double value);
/** Read an int key. */
HOSM_API int hosm_config_get_int(const hosm_config *cfg, int key, int64_t *out);
/** Read a double key. */
HOSM_API int hosm_config_get_double(const hosm_config *cfg, int key, double *out);

/** Parse whitespace-separated "name=value" pairs, e.g.
 *  "hidden=256 depth=2 act=softplus sigma=0.1". Enum keys take their text
 *  names or their integer values. On failure nothing is changed and the
 *  message names the offending key: HOSM_E_KEY, HOSM_E_RANGE or HOSM_E_PARSE. */
HOSM_API int hosm_config_parse(hosm_config *cfg, const char *text);

/** The key with the given text name (HOSM_E_KEY if none). */
HOSM_API int hosm_config_key_from_name(const char *name, int *key);
/** The text name of a key, or NULL for an unknown key (static storage). */
HOSM_API const char *hosm_config_key_name(int key);
/** The type of a key: HOSM_TYPE_INT or HOSM_TYPE_DOUBLE. */
HOSM_API int hosm_config_key_type(int key, int *type);
/** Range [lo, hi] and default of an int key (any pointer may be NULL). */
HOSM_API int hosm_config_int_bounds(int key, int64_t *lo, int64_t *hi, int64_t *def);
/** Range [lo, hi] and default of a double key (any pointer may be NULL). For
 *  keys with an open bound ("(0, 10]") lo is the bound itself and the bound is
 *  excluded; see the key's documentation. */
HOSM_API int hosm_config_double_bounds(int key, double *lo, double *hi, double *def);

/** The text form of cfg for hosm_config_parse(): the keys whose values
 *  differ from their defaults as space-separated "name=value" pairs (enum
 *  keys by name, doubles in "C" notation with 17 significant digits, so a
 *  parse gives the same values back). *len (may be NULL) receives its length
 *  without the terminating NUL; buf must hold len + 1 bytes (HOSM_E_BUFFER
 *  otherwise; call with cap 0 to learn the length). */
HOSM_API int hosm_config_to_text(const hosm_config *cfg, char *buf, int64_t cap,
                                 int64_t *len) HOSM_EXPERIMENTAL;

/** Detailed message of this config's last failure, or "". */
HOSM_API const char *hosm_config_errmsg(const hosm_config *cfg);
/** @} */

/* ------------------------------------------------------------------------ */
/** Progress callback for training and sampling. Return 0 to continue, any
 *  other value to stop (the call then returns HOSM_STOPPED). For the trainer,
 *  step is the trainer's step count after the step and value the step's loss;
 *  for the sampler, step counts the steps of this run (from 1) and value is
 *  the noise level in use. */
typedef int (*hosm_progress_fn)(int64_t step, double value, void *user_data);

/* ------------------------------------------------------------------------ */
/** @name Score models
 * A model is an MLP s1(x, level) = net(x, level) / sigma_level: width
 * "hidden", "depth" hidden layers, activation "act". With one level the noise
 * level is "sigma"; with L > 1 levels the ladder is geometric from sigma_max
 * (level 0) down to sigma_min (level L-1) and each level adds its own learned
 * bias to the first hidden layer. Weights are initialised from "seed".
 * With "s2" other than none the model also has an s2 network (its own
 * "s2_hidden" and "s2_depth", the same level conditioning) whose outputs,
 * scaled so that s2 carries 1/sigma^2 (U of a low-rank s2 by 1/sigma, its
 * diagonal and a full s2 by 1/sigma^2), form the structured Hessian
 * (docs/second-order.md).
 * With "parameterization" energy the network has one output E(x, level) and
 * the model is an energy-based model: s1 = -grad_x E / sigma, its log
 * density is -E / sigma up to a constant, and its Hessian is the exact
 * -grad_x^2 E / sigma (symmetric). It has no s2 network ("s2" must be none);
 * the second-order queries and samplers answer that exact Hessian as a
 * "full" s2, at the cost of D forward-mode tangents of the input gradient a
 * point (experimental).
 * The flat parameter vector holds the s1 network's parameters, then s2's. */
/** @{ */
typedef struct hosm_model hosm_model;

/** Create a model for data of dimension dim (1..2^20) from cfg (NULL: defaults). */
HOSM_API int hosm_model_new(hosm_model **out, int64_t dim, const hosm_config *cfg);
/** Release a model (NULL is allowed). */
HOSM_API void hosm_model_free(hosm_model *model);

/** The data dimension D. */
HOSM_API int hosm_model_dim(const hosm_model *model, int64_t *out);
/** The number of noise levels L. */
HOSM_API int hosm_model_num_levels(const hosm_model *model, int64_t *out);
/** The noise level of a level index (0 = largest). */
HOSM_API int hosm_model_sigma(const hosm_model *model, int64_t level, double *out);
/** The number of trainable parameters. */
HOSM_API int hosm_model_num_params(const hosm_model *model, int64_t *out);
/** Copy all parameters into out (count floats, which must equal
 *  hosm_model_num_params(); else HOSM_E_MISMATCH). Layout: docs/format.md. */
HOSM_API int hosm_model_get_params(const hosm_model *model, float *out, int64_t count);
/** Replace all parameters (HOSM_E_NONFINITE if any is NaN or Inf). */
HOSM_API int hosm_model_set_params(hosm_model *model, const float *params, int64_t count);
/** Write the model's whole config into cfg: its architecture keys (hidden,
 *  depth, act, sigma, sigma_max, sigma_min, levels, seed, threads, s2, rank,
 *  s2_hidden, s2_depth; for a model without s2 the last three hold their
 *  defaults) and its settings, every other key. The settings are those of
 *  the config the model was created with, replaced by those of the config of
 *  each trainer created on it and by hosm_model_set_config(); model files
 *  store them (so a model file needs no config beside it). */
HOSM_API int hosm_model_get_config(const hosm_model *model, hosm_config *cfg);
/** Store cfg's keys other than the architecture keys as the model's settings
 *  (the architecture keys of cfg are ignored: they cannot change). */
HOSM_API int hosm_model_set_config(hosm_model *model, const hosm_config *cfg);
/** A new one-level model that answers at noise level sigma, anywhere in the
 *  range of model's levels [sigma_{L-1}, sigma_0] (HOSM_E_RANGE outside it;
 *  a one-level model only at its own sigma). Its level conditioning is
 *  model's level embeddings interpolated linearly in log sigma between the
 *  two levels around sigma, folded into the first-layer bias; at a level of
 *  the ladder it is that level. Every query and sampler then works at sigma
 *  (level 0). Settings are copied; free it with hosm_model_free. */
HOSM_API int hosm_model_at_sigma(hosm_model **out, const hosm_model *model, double sigma);

/** The score s1 at noise level index `level` of n points x (n x D) into out (n x D). */
HOSM_API int hosm_model_score(const hosm_model *model, int64_t level, const float *x,
                              int64_t n, float *out);
/** The log density of an energy model up to a constant, -E(x) / sigma, of
 *  n points into out (n doubles); the constant depends on the level.
 *  HOSM_E_UNSUPPORTED for a score network, which has no log density. */
HOSM_API int hosm_model_log_density_unnormalized(const hosm_model *model, int64_t level,
                                                 const float *x, int64_t n, double *out);
/** The Tweedie posterior mean E[x_clean | x] = x + sigma^2 s1(x) (denoising)
 *  of n points into out (n x D). out may equal x. */
HOSM_API int hosm_model_denoise(const hosm_model *model, int64_t level, const float *x,
                                int64_t n, float *out);

/** The structure of the learned s2 (enum hosm_s2) and its effective rank
 *  (min(rank, D) for "lowrank", else 0); either pointer may be NULL. An
 *  energy model reports "full": its exact Hessian. */
HOSM_API int hosm_model_s2_structure(const hosm_model *model, int *structure, int64_t *rank);
/** @} */

/** @name Second-order queries
 * The learned s2 (Hessian of log q_sigma) scaled by 1/sigma^2, as learned by
 * D2SM. Queries the structure cannot answer (any s2 query on a model with
 * s2 = none; the factors of a non-low-rank s2) return HOSM_E_UNSUPPORTED.
 * "clamp" (0 or 1) makes the posterior covariance positive semidefinite by
 * raising the eigenvalues of s2 below -1/sigma^2 to -1/sigma^2: exactly for
 * "full" (symmetric eigendecomposition) and "diag", and through the diagonal
 * d_i >= -1/sigma^2 for "lowrank" (U U^T is already PSD; this is sufficient,
 * not necessary, and never forms D x D). The Jacobian of s1, the autodiff
 * baseline, works on every model. */
/** @{ */

/** The learned s2 as dense matrices: out is n x D x D. */
HOSM_API int hosm_model_hessian(const hosm_model *model, int64_t level, const float *x, int64_t n,
                                float *out);
/** The diagonal of the learned s2: out is n x D. O(D r) for "lowrank". */
HOSM_API int hosm_model_hessian_diag(const hosm_model *model, int64_t level, const float *x,
                                     int64_t n, float *out);
/** The factors of a "lowrank" s2 = U U^T + diag(d): u is n x D x r (row-major,
 *  U[i][a][j]) with r from hosm_model_s2_structure(), d is n x D. */
HOSM_API int hosm_model_hessian_factors(const hosm_model *model, int64_t level, const float *x,
                                        int64_t n, float *u, float *d);
/** Hessian-vector products s2(x_i) v_i: v and out are n x D; no dense matrix
 *  is formed for "diag" and "lowrank". */
HOSM_API int hosm_model_hvp(const hosm_model *model, int64_t level, const float *x, const float *v,
                            int64_t n, float *out);
/** The exact Jacobian of s1 (the autodiff baseline, docs/math.md#6-the-autodiff-baseline), by D
 *  forward-mode tangents a point batched as GEMM rows: out is n x D x D with
 *  out[i][a][b] = d s1_a / d x_b at x_i, or its symmetric part
 *  (J + J^T) / 2 if symmetrize is 1. */
HOSM_API int hosm_model_score_jacobian(const hosm_model *model, int64_t level, const float *x,
                                       int64_t n, int symmetrize, float *out);
/** The diagonal of the Jacobian of s1: out is n x D. */
HOSM_API int hosm_model_score_jacobian_diag(const hosm_model *model, int64_t level,
                                            const float *x, int64_t n, float *out);
/** The Hessian estimate named by source (enum hosm_hessian_source) as dense
 *  symmetric matrices: out is n x D x D. "s2" is hosm_model_hessian(),
 *  "jacobian" hosm_model_score_jacobian() with symmetrize = 1, "average" the
 *  mean of the two (docs/second-order.md#which-estimate-to-use). An energy
 *  model's s2 is the Jacobian of its s1, so all three agree there (up to
 *  rounding). */
HOSM_API int hosm_model_hessian_estimate(const hosm_model *model, int64_t level, const float *x,
                                         int64_t n, int source, float *out) HOSM_EXPERIMENTAL;
/** The Tweedie posterior covariance sigma^4 s2 + sigma^2 I, dense: out is n x D x D. */
HOSM_API int hosm_model_posterior_cov(const hosm_model *model, int64_t level, const float *x,
                                      int64_t n, int clamp, float *out);
/** The posterior variances (the covariance's diagonal): out is n x D. */
HOSM_API int hosm_model_posterior_var(const hosm_model *model, int64_t level, const float *x,
                                      int64_t n, int clamp, float *out);
/** The k (1..D) leading eigenpairs of the posterior covariance, largest
 *  first: vals is n x k, vecs is n x k x D (unit vectors). "lowrank" and
 *  "full" use Lanczos with deflation (one converged pair per run, so
 *  repeated eigenvalues are found) on products with the covariance (O(D r)
 *  and O(D^2) a product), never a dense eigensolver or a D x D copy. */
HOSM_API int hosm_model_posterior_topk(const hosm_model *model, int64_t level, const float *x,
                                       int64_t n, int64_t k, int clamp, float *vals, float *vecs);
/** @} */

/** @name Model files */
/** @{ */

/** Save to a file atomically (temporary file, fsync, rename). */
HOSM_API int hosm_model_save(const hosm_model *model, const char *path);
/** Load a model saved by hosm_model_save(). */
HOSM_API int hosm_model_load(hosm_model **out, const char *path);
/** The exact number of bytes hosm_model_save_mem() writes. */
HOSM_API int hosm_model_save_size(const hosm_model *model, int64_t *bytes);
/** Serialise into buf (capacity cap bytes; HOSM_E_BUFFER if too small);
 *  *written (may be NULL) receives the size. */
HOSM_API int hosm_model_save_mem(const hosm_model *model, void *buf, int64_t cap,
                                 int64_t *written);
/** Load a model from size bytes of memory. */
HOSM_API int hosm_model_load_mem(hosm_model **out, const void *buf, int64_t size);

/** Detailed message of this model's last failure, or "". */
HOSM_API const char *hosm_model_errmsg(const hosm_model *model);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Trainers
 * A trainer updates a model's weights with Adam on the chosen objective. The
 * model must outlive the trainer and must not be queried from another thread
 * during a step. The loss is the first-order objective ("objective") for a
 * model without s2, and w1 * L1 / sigma^2 + L2 with the second-order
 * objective L2 ("s2_objective") otherwise, L2 alone with "freeze_s1" (s1 is
 * then detached and not updated). With L > 1 levels each point of a batch
 * gets a uniformly drawn level and its loss is weighted by sigma_l^2
 * (without s2) or sigma_l^4 (with s2) (docs/training.md). */
/** @{ */
typedef struct hosm_trainer hosm_trainer;

/** Create a trainer for model from cfg (NULL: defaults); the RNG is seeded
 *  from cfg's "seed". A cfg (not NULL) also gives the model its settings:
 *  its keys other than the architecture keys (hosm_model_get_config). */
HOSM_API int hosm_trainer_new(hosm_trainer **out, hosm_model *model, const hosm_config *cfg);
/** Release a trainer (NULL is allowed); the model is not freed. */
HOSM_API void hosm_trainer_free(hosm_trainer *trainer);

/** One Adam step on a caller batch x (n x D): draws noise (and levels), and
 *  returns the batch loss in *loss (may be NULL). On a non-finite loss the
 *  weights are left unchanged and HOSM_E_NONFINITE is returned. */
HOSM_API int hosm_trainer_step(hosm_trainer *trainer, const float *x, int64_t n, double *loss);

/** Train on a data set (n x D) until the trainer's step count reaches the
 *  target ("steps", or "epochs" full passes) with shuffled minibatches of
 *  "batch" points. Batch k of the run depends only on the seed and the step
 *  count, so a trainer restored from a checkpoint continues exactly when it
 *  was created with the same "seed" and "batch" and is given the same data
 *  (the checkpoint holds state, not hyper-parameters). cb (may
 *  be NULL) is called after every step; returns HOSM_STOPPED if it asked to
 *  stop. */
HOSM_API int hosm_trainer_fit(hosm_trainer *trainer, const float *data, int64_t n,
                              hosm_progress_fn cb, void *user_data);

/** Loss and parameter gradient at the current weights, without changing any
 *  state, for caller-supplied noise z (n x D, standard normal draws) and
 *  levels (n indices, or NULL for level 0). grad receives
 *  hosm_model_num_params() floats in the layout of hosm_model_get_params(). */
HOSM_API int hosm_trainer_gradient(hosm_trainer *trainer, const float *x, const float *noise,
                                   const int64_t *levels, int64_t n, double *loss, float *grad);

/** Apply a caller-supplied gradient (count = hosm_model_num_params()
 *  floats, in the layout of hosm_trainer_gradient()) exactly as a step
 *  would: clipping, Adam(W), the EMA and the step count. With "freeze_s1"
 *  the s1 part is ignored. For data-parallel training: each process
 *  computes hosm_trainer_gradient() on its own points, the gradients are
 *  averaged, and every process applies the average. HOSM_E_NONFINITE for
 *  NaN or Inf in grad, or when the update would make any state non-finite
 *  (nothing is changed then). */
HOSM_API int hosm_trainer_apply_gradient(hosm_trainer *trainer, const float *grad,
                                         int64_t count);

/** Draw the noise (n x D standard normal values) and the levels (n indices,
 *  uniform over the ladder; may be NULL for a one-level model) of n points
 *  from the trainer's noise stream exactly as a step draws them (levels
 *  first), advancing it. With hosm_trainer_gradient() and
 *  hosm_trainer_apply_gradient() this is a step taken in parts. */
HOSM_API int hosm_trainer_draw_noise(hosm_trainer *trainer, int64_t n, float *noise,
                                     int64_t *levels) HOSM_EXPERIMENTAL;

/** The data-set indices of the minibatch that hosm_trainer_fit() uses at
 *  step `step` (0-based) for a data set of n points: *count (min("batch",
 *  n), or fewer at the end of an epoch) indices into indices, which must
 *  hold min("batch", n). They depend only on the seed, "batch", n and step,
 *  so every process of a data-parallel run computes the same ones. */
HOSM_API int hosm_trainer_batch_indices(hosm_trainer *trainer, int64_t n, int64_t step,
                                        int64_t *indices, int64_t *count) HOSM_EXPERIMENTAL;

/** Part `part` (0..parts-1) of `count` items split into `parts` contiguous,
 *  balanced ranges: [*begin, *end). The first count % parts parts get one
 *  item more. */
HOSM_API int hosm_shard(int64_t count, int64_t parts, int64_t part, int64_t *begin,
                        int64_t *end) HOSM_EXPERIMENTAL;

/** The number of Adam steps taken (restored by a checkpoint). */
HOSM_API int hosm_trainer_step_count(const hosm_trainer *trainer, int64_t *out);
/** Copy the EMA of the weights into dst, a model of the same architecture
 *  (it may be the trained model itself): the exponentially weighted average
 *  with decay "ema" of the weights after each step, normalised by
 *  1 - ema^steps so that the initial weights carry no weight (the current
 *  weights before any step). */
HOSM_API int hosm_trainer_copy_ema(const hosm_trainer *trainer, hosm_model *dst);

/** Save a checkpoint (weights, Adam moments, step count, RNG state, EMA)
 *  atomically. Hyper-parameters are not stored: they come from the config
 *  the restoring trainer was created with. */
HOSM_API int hosm_trainer_save(const hosm_trainer *trainer, const char *path);
/** Restore a checkpoint into a trainer whose model has the same architecture
 *  (HOSM_E_MISMATCH otherwise); the model's weights are replaced. */
HOSM_API int hosm_trainer_load(hosm_trainer *trainer, const char *path);
/** The exact size of a checkpoint in bytes. */
HOSM_API int hosm_trainer_save_size(const hosm_trainer *trainer, int64_t *bytes);
/** Write a checkpoint into caller memory (see hosm_model_save_mem()). */
HOSM_API int hosm_trainer_save_mem(const hosm_trainer *trainer, void *buf, int64_t cap,
                                   int64_t *written);
/** Restore a checkpoint from caller memory. */
HOSM_API int hosm_trainer_load_mem(hosm_trainer *trainer, const void *buf, int64_t size);

/** Detailed message of this trainer's last failure, or "". */
HOSM_API const char *hosm_trainer_errmsg(const hosm_trainer *trainer);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Samplers (docs/math.md#8-samplers; convention x <- x + (eps/2) s1 + sqrt(eps) xi)
 * "langevin" runs sample_steps steps with eps = step_size at the smallest
 * level; "annealed" runs sample_steps steps at every level l, largest first,
 * with eps_l = step_size * sigma_l^2 / sigma_min^2. "ozaki" replaces the
 * Langevin step by x <- x + M g + Sigma^(1/2) xi with M = (exp(eps H / 2) - I)
 * H^-1 and Sigma = (exp(eps H) - I) H^-1 (eigenvalues of H clamped to
 * "l_max"); "annealed_ozaki" runs it over the ladder like "annealed".
 * "mala" and "mh_ozaki" add a Metropolis-Hastings correction to the
 * Langevin and Ozaki proposals and need a source with a log density.
 * Samplers run on a model, on a Gaussian-mixture oracle at one noise level,
 * or on the caller's callbacks; a kind that needs what its source lacks (a
 * log density, a Hessian, a ladder) fails at creation with
 * HOSM_E_UNSUPPORTED. Chains that reach NaN or Inf keep their last finite
 * state, stop moving and are counted (hosm_sampler_diverged()); a run fails
 * with HOSM_E_NONFINITE only when every chain diverged. docs/sampling.md
 * explains how to choose the step size, the ladder and the steps. */
/** @{ */
typedef struct hosm_sampler hosm_sampler;
typedef struct hosm_mixture hosm_mixture;

/** Caller-supplied sources of a sampler (hosm_sampler_new_fn()): each is
 *  called with n points x (n x dim) and fills n results: log densities (up to
 *  a constant; n doubles), scores (n x dim floats) or Hessians of the log
 *  density (n x dim x dim floats, symmetrised by the library). A nonzero
 *  return stops the run with HOSM_E_CALLBACK. */
typedef int (*hosm_logp_fn)(const float *x, int64_t n, int64_t dim, double *out,
                            void *user_data);
typedef int (*hosm_score_fn)(const float *x, int64_t n, int64_t dim, float *out,
                             void *user_data);
typedef int (*hosm_hessian_fn)(const float *x, int64_t n, int64_t dim, float *out,
                               void *user_data);

/** Create a sampler over model (which must outlive it) from cfg (NULL:
 *  defaults); its RNG is seeded from cfg's "seed". Ozaki takes H from the
 *  learned s2, the symmetrised Jacobian of s1 or their average ("hessian";
 *  an energy model's s2 is its exact Hessian). Only an energy model has a
 *  log density: on a score network "mala" and "mh_ozaki" are
 *  HOSM_E_UNSUPPORTED. */
HOSM_API int hosm_sampler_new(hosm_sampler **out, const hosm_model *model,
                              const hosm_config *cfg);
/** Create a sampler over the Gaussian-mixture oracle perturbed at noise
 *  level sigma (>= 0; exact scores, Hessians and log density); mix must
 *  outlive the sampler. The annealed kinds are HOSM_E_UNSUPPORTED (one
 *  level); "init_noise" draws from N(0, sigma^2 I) and "final_denoise" is the
 *  exact posterior mean at sigma. */
HOSM_API int hosm_sampler_new_mixture(hosm_sampler **out, const hosm_mixture *mix, double sigma,
                                      const hosm_config *cfg) HOSM_EXPERIMENTAL;
/** Create a sampler over caller callbacks in dimension dim (1..2^20):
 *  score is required, logp and hessian optional (NULL). The annealed kinds,
 *  "init_noise" and "final_denoise" are HOSM_E_UNSUPPORTED (no noise
 *  levels). */
HOSM_API int hosm_sampler_new_fn(hosm_sampler **out, int64_t dim, hosm_logp_fn logp,
                                 hosm_score_fn score, hosm_hessian_fn hessian, void *user_data,
                                 const hosm_config *cfg) HOSM_EXPERIMENTAL;
/** Release a sampler (NULL is allowed). */
HOSM_API void hosm_sampler_free(hosm_sampler *sampler);
/** Run n chains in place: x (n x D) holds the initial states and receives the
 *  final ones. The RNG stream continues across runs. cb (may be NULL) is
 *  called after every step; HOSM_STOPPED if it asked to stop (x then holds
 *  the current states). */
HOSM_API int hosm_sampler_run(hosm_sampler *sampler, float *x, int64_t n,
                              hosm_progress_fn cb, void *user_data);
/** Run like hosm_sampler_run() and store every `every`-th state of all
 *  chains in trace, laid out (T, n, D) with T = S / every for S steps in all
 *  (S = sample_steps, times the levels when annealed): trace[(t n + i) D + d]
 *  is coordinate d of chain i after step (t + 1) every. */
HOSM_API int hosm_sampler_run_trace(hosm_sampler *sampler, float *x, int64_t n, int64_t every,
                                    float *trace, hosm_progress_fn cb,
                                    void *user_data) HOSM_EXPERIMENTAL;
/** The number of chains of the last run that diverged (reached NaN or Inf
 *  and were frozen at their last finite state). */
HOSM_API int hosm_sampler_diverged(const hosm_sampler *sampler, int64_t *count) HOSM_EXPERIMENTAL;
/** The fraction of accepted proposals in the last run of "mala" or
 *  "mh_ozaki" (1 for the unadjusted kinds). */
HOSM_API int hosm_sampler_acceptance(const hosm_sampler *sampler,
                                     double *rate) HOSM_EXPERIMENTAL;
/** Detailed message of this sampler's last failure, or "". */
HOSM_API const char *hosm_sampler_errmsg(const hosm_sampler *sampler);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Diagnostics (docs/math.md#11-mixing-and-sample-quality-measures)
 * Mixing and sample-quality measures of sampler output, computed in double
 * precision from float data (docs/sampling.md#diagnostics). A trace of n
 * chains of t draws of dimension D is stored time-major, t x n x D:
 * coordinate d of draw s of chain c is trace[(s * n + c) * D + d]. They keep
 * no state and are reentrant. NaN or Inf in any input is HOSM_E_NONFINITE.
 * See also hosm_mixture_assign() for mode occupancy. */
/** @{ */

/** Effective sample size of each coordinate over all n chains into ess (D
 *  doubles): the multi-chain estimator with Geyer's initial monotone
 *  sequence of docs/math.md#111-effective-sample-size, without rank
 *  normalisation: autocovariances gamma_c,l of each chain (divisor t, by
 *  FFT), rho_0 = 1, rho_l = 1 - (W - mean_c gamma_c,l) / var+, pair sums
 *  P_k = rho_2k + rho_2k+1 kept up to the first negative one (lags < t) and
 *  made non-increasing, tau = -1 + 2 sum_k P_k floored at
 *  1 / max(1, log10(n t)), ESS = n t / tau. Needs t >= 4, n >= 1. A
 *  coordinate in which every chain is constant (W = 0) gets NaN. */
HOSM_API int hosm_diag_ess(const float *trace, int64_t t, int64_t n, int64_t dim,
                           double *ess) HOSM_EXPERIMENTAL;

/** Split R-hat of each coordinate into rhat (D doubles): each chain is split
 *  into halves of floor(t / 2) draws (an odd middle draw dropped) and
 *  R-hat = sqrt(var+ / W) over the 2n halves (no rank normalisation). Needs
 *  t >= 4, n >= 1. Values above about 1.01 signal chains that have not
 *  mixed (docs/math.md#112-split-r-hat). A coordinate in which every half is
 *  constant gets +Inf if the halves differ, NaN if they are all equal. */
HOSM_API int hosm_diag_rhat(const float *trace, int64_t t, int64_t n, int64_t dim,
                            double *rhat) HOSM_EXPERIMENTAL;

/** Kernel Stein discrepancy of n points x (n x D) from the target whose
 *  score (grad log p) at those points is score (n x D), with the IMQ kernel
 *  k(x, y) = (1 + ||x - y||^2)^(-1/2): *ksd = sqrt(V), where V =
 *  (1/n^2) sum_i,j u_p(x_i, x_j) >= 0 is the V-statistic (biased upwards by
 *  about mean_i u_p(x_i, x_i) / n = (mean ||s||^2 + D) / n on exact samples;
 *  docs/math.md#113-kernel-stein-discrepancy). O(n^2 D) time in blocked
 *  GEMMs, O(n D) memory. n >= 1. */
HOSM_API int hosm_diag_ksd(const float *x, const float *score, int64_t n, int64_t dim,
                           double *ksd) HOSM_EXPERIMENTAL;

/** Energy distance between the samples x (n x D) and y (m x D):
 *  2 mean ||x_i - y_j|| - mean_{i != j} ||x_i - x_j|| - mean_{i != j} ||y_i - y_j||
 *  (within-set means over distinct pairs), unbiased, so it can be slightly
 *  negative for samples of one distribution (docs/math.md#114-energy-distance).
 *  O((n + m)^2 D). n, m >= 2. */
HOSM_API int hosm_diag_energy_distance(const float *x, int64_t n, const float *y, int64_t m,
                                       int64_t dim, double *out) HOSM_EXPERIMENTAL;
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Gaussian-mixture oracle (docs/math.md#9-gaussian-mixture-oracle)
 * p = sum_k w_k N(mu_k, Sigma_k), with exact scores of its sigma-perturbed
 * density at any sigma >= 0. Computed in double precision; points are float
 * like all data. All queries are const and reentrant. */
/** @{ */

/** Create from k components in dimension dim: weights (k, positive; they are
 *  normalised), means (k x D) and covariances (k x D x D, symmetric positive
 *  definite; HOSM_E_ARG names the first one that is not). */
HOSM_API int hosm_mixture_new(hosm_mixture **out, int64_t k, int64_t dim, const double *weights,
                              const double *means, const double *covs);
/** Release a mixture (NULL is allowed). */
HOSM_API void hosm_mixture_free(hosm_mixture *mix);
/** The dimension D. */
HOSM_API int hosm_mixture_dim(const hosm_mixture *mix, int64_t *out);
/** Draw n exact samples of the clean mixture (sigma = 0) into out (n x D);
 *  the draws depend only on seed. */
HOSM_API int hosm_mixture_sample(const hosm_mixture *mix, uint64_t seed, int64_t n, float *out);
/** log q_sigma of n points into out (n doubles). */
HOSM_API int hosm_mixture_log_density(const hosm_mixture *mix, double sigma, const float *x,
                                      int64_t n, double *out);
/** The exact s1 = grad log q_sigma of n points into out (n x D). */
HOSM_API int hosm_mixture_score(const hosm_mixture *mix, double sigma, const float *x, int64_t n,
                                float *out);
/** The exact s2 = Hessian of log q_sigma of n points into out (n x D x D). */
HOSM_API int hosm_mixture_hessian(const hosm_mixture *mix, double sigma, const float *x,
                                  int64_t n, float *out);
/** The posterior mean E[x_clean | x] = x + sigma^2 s1 into out (n x D). */
HOSM_API int hosm_mixture_posterior_mean(const hosm_mixture *mix, double sigma, const float *x,
                                         int64_t n, float *out);
/** The posterior covariance sigma^4 s2 + sigma^2 I into out (n x D x D). */
HOSM_API int hosm_mixture_posterior_cov(const hosm_mixture *mix, double sigma, const float *x,
                                        int64_t n, float *out);
/** The most responsible component of each of n points of the clean mixture
 *  (sigma = 0), argmax_k of w_k N(x; mu_k, Sigma_k), into component (n
 *  indices 0..k-1; ties go to the lowest index), for mode occupancy
 *  (docs/math.md#115-mode-occupancy). */
HOSM_API int hosm_mixture_assign(const hosm_mixture *mix, const float *x, int64_t n,
                                 int64_t *component) HOSM_EXPERIMENTAL;
/** Deprecated: always "". Every mixture function takes a const handle and
 *  stores its message for the calling thread only; use hosm_last_errmsg(). */
HOSM_API const char *hosm_mixture_errmsg(const hosm_mixture *mix) HOSM_DEPRECATED;
/** @} */

#ifdef __cplusplus
}
#endif

#endif /* HOSM_H */
