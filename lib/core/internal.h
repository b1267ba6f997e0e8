/* Private helpers shared by every part of the library. Not API. */
#ifndef HOSM_INTERNAL_H
#define HOSM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define HOSM_NO_DEPRECATION_WARNINGS
#include "hosm.h"

#define HOSMI_MSG_CAP 256
#define HOSMI_MAX_DIM ((int64_t)1 << 20)
/* Guards products of sizes: no buffer of more elements than this is made. */
#define HOSMI_MAX_ELEMS ((int64_t)1 << 40)

/* Handle kinds: the first member of every handle is its magic number, so a
 * handle of the wrong kind (through an untyped FFI) or a freed one is caught
 * where it can be instead of crashing the process. */
#define HOSMI_HANDLE_CONFIG 0x68634647u  /* "GFch" */
#define HOSMI_HANDLE_MODEL 0x686d444cu   /* "LDmh" */
#define HOSMI_HANDLE_TRAINER 0x68745252u /* "RRth" */
#define HOSMI_HANDLE_SAMPLER 0x68735350u /* "PSsh" */
#define HOSMI_HANDLE_MIXTURE 0x686d5858u /* "XXmh" */
#define HOSMI_HANDLE_FREED 0xdeadf7eeu   /* written into a handle as it is freed */

/* Checks a handle argument: HOSM_E_NULL for NULL, HOSM_E_MISUSE for a freed
 * handle or one of another kind; what names the expected kind. */
int hosmi_check_handle(const void *handle, uint32_t magic, const char *fn, const char *what);
/* Non-zero when handle is a live handle of the kind (for the void free functions). */
int hosmi_is_handle(const void *handle, uint32_t magic);

/* Record a failure: formats the message into the calling thread's buffer and,
 * when handle_msg is not NULL, into the handle's buffer; returns status. */
int hosmi_fail(char *handle_msg, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* n * m with an overflow and size-cap check; -1 when too large. */
int64_t hosmi_mul(int64_t n, int64_t m);
/* malloc/calloc of count elements of size bytes; NULL on overflow or failure. */
void *hosmi_alloc(int64_t count, size_t size);
void *hosmi_calloc(int64_t count, size_t size);

/* Non-zero when every one of n floats is finite. */
int hosmi_all_finite(const float *x, int64_t n);

/* ---- random numbers: xoshiro256** seeded by splitmix64 ------------------ */
typedef struct {
    uint64_t s[4];
} hosmi_rng;

void hosmi_rng_seed(hosmi_rng *rng, uint64_t seed, uint64_t stream);
uint64_t hosmi_rng_next(hosmi_rng *rng);
/* Uniform in (0, 1]. */
double hosmi_rng_uniform(hosmi_rng *rng);
/* Uniform integer in [0, n). */
uint64_t hosmi_rng_below(hosmi_rng *rng, uint64_t n);
/* n standard normal draws: a ziggurat, one 64-bit draw per normal except in
 * 1.5% of the cases; the stream does not depend on how it is split into
 * calls (lib/core/rng.c). */
void hosmi_rng_normal(hosmi_rng *rng, float *out, int64_t n);
/* e^t and log(u) from IEEE basic operations only, the same bits on every
 * platform (no libm): relative error below 1e-15 for t in (-708, 709] (0
 * below: no subnormal results) and for u > 0. For the ziggurat's rare
 * branches; not fast. */
double hosmi_det_exp(double t);
double hosmi_det_log(double u);

/* Parameters [begin, end) of a model and a factor that applies to them. */
typedef struct {
    int64_t begin, end;
    double scale;
} hosmi_param_range;

/* ---- helper threads for a handle's element-wise passes (core/pool.c) ---- */
typedef struct hosmi_pool hosmi_pool;
/* Task t of a pass, run by thread w: 0 is the caller, helpers are 1 .. size - 1,
 * and one thread runs one task at a time (w indexes per-thread scratch). */
typedef void (*hosmi_task)(void *ctx, int64_t t, int w);
/* threads - 1 helper threads beside the caller; NULL (the caller alone) for
 * threads <= 1 or when none could be started. */
hosmi_pool *hosmi_pool_new(int threads);
void hosmi_pool_free(hosmi_pool *p);
/* Threads of a pass counting the caller: 1 for NULL. */
int hosmi_pool_size(const hosmi_pool *p);
/* Runs tasks 0 .. tasks - 1 and returns when all are done; with p = NULL
 * in order on the calling thread. Tasks must not depend on their order. */
void hosmi_pool_run(hosmi_pool *p, int64_t tasks, hosmi_task fn, void *ctx);

/* ---- BLIS: every GEMM goes through this wrapper ------------------------- */
/* A value of hosmi_blas.kernels beyond enum hosm_gemm_kernels, for tests:
 * the kernels of HOSM_GEMM_AUTO, always through BLIS's own loop around
 * them (never the library's, lib/core/gemm.c). */
#define HOSMI_GEMM_AUTO_BLIS_LOOP 2

typedef struct {
    int threads;
    int kernels;      /* enum hosm_gemm_kernels, or HOSMI_GEMM_AUTO_BLIS_LOOP */
    hosmi_pool *pool; /* the handle's helpers for element-wise passes, or NULL */
} hosmi_blas;

/* The name of the BLIS sub-configuration whose kernels the products use
 * under gemm_kernels = kernels (lib/core/gemm.c). */
const char *hosmi_gemm_kernels(int kernels);

/* The BLIS thread count of a handle asked for `requested`: at most the
 * number of online processors. */
int hosmi_blas_threads(int64_t requested);

/* C (m x n, row-major, ldc) = alpha * op(A) op(B) + beta * C, where op(A) is
 * m x k and op(B) is k x n; ta/tb select the transpose of the stored
 * row-major A (lda) and B (ldb). Sizes must be validated by the caller. */
void hosmi_sgemm(const hosmi_blas *blas, int ta, int tb, int64_t m, int64_t n, int64_t k,
                 float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                 float beta, float *c, int64_t ldc);
/* The same in double precision. */
void hosmi_dgemm(const hosmi_blas *blas, int ta, int tb, int64_t m, int64_t n, int64_t k,
                 double alpha, const double *a, int64_t lda, const double *b, int64_t ldb,
                 double beta, double *c, int64_t ldc);

/* ---- CRC-32 (IEEE 802.3, as zlib's crc32) -------------------------------- */
uint32_t hosmi_crc32(uint32_t crc, const void *data, size_t n);

#endif
