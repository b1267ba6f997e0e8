/* The single door to BLIS. Every GEMM of the library (float or double)
 * passes through here with the handle's own thread count in a local rntm_t
 * and the context of the kernels chosen for this CPU: no BLIS global
 * setting is read or written, so handles with different settings coexist.
 *
 * Kernel choice (docs/performance.md#kernel-choice). BLIS picks its
 * sub-configuration from the CPU model and falls back to "generic" on a
 * CPU it does not know, at a third to a fifth of the rate of the kernels
 * it also carries. When libhosm is linked with a BLIS whose per-CPU
 * context initialisers it can call (HOSM_BLIS_CONTEXTS) and BLIS's pick is
 * "generic", it builds the context itself: the skx kernels where the CPU
 * has AVX-512, with the haswell small-matrix ("sup") kernels for products
 * with fewer than SUP_MN rows or columns (skx has no sup kernels of its
 * own); the haswell kernels where it has AVX2 and FMA. gemm_kernels=blis
 * keeps BLIS's pick. */
#include <blis.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"

#ifdef HOSM_BLIS_CONTEXTS
void bli_cntx_init_haswell(cntx_t *cntx);
void bli_cntx_init_skx(cntx_t *cntx);

/* Below this many rows or columns a product takes the sup kernels; the
 * depth never decides (the sup kernels were slower than skx's own at depth
 * 2 to 8; docs/performance.md#kernel-choice). */
#define SUP_MN 32

static cntx_t chosen_cntx;
static const cntx_t *chosen; /* NULL: BLIS's pick */
static const char *chosen_name;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
    chosen_name = bli_arch_string(bli_arch_query_id());
    if (bli_arch_query_id() != BLIS_ARCH_GENERIC)
        return;
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const int avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl");
    if (avx512) {
        static cntx_t sup;
        bli_cntx_init_skx(&chosen_cntx);
        bli_cntx_init_haswell(&sup);
        memcpy(chosen_cntx.l3_sup_handlers, sup.l3_sup_handlers, sizeof sup.l3_sup_handlers);
        memcpy(chosen_cntx.l3_sup_blkszs, sup.l3_sup_blkszs, sizeof sup.l3_sup_blkszs);
        memcpy(chosen_cntx.l3_sup_kers, sup.l3_sup_kers, sizeof sup.l3_sup_kers);
        memcpy(chosen_cntx.l3_sup_kers_prefs, sup.l3_sup_kers_prefs,
               sizeof sup.l3_sup_kers_prefs);
        for (num_t dt = BLIS_FLOAT; dt <= BLIS_DCOMPLEX; dt++) {
            bli_blksz_set_def(SUP_MN, dt, &chosen_cntx.l3_sup_thresh[BLIS_MT]);
            bli_blksz_set_def(SUP_MN, dt, &chosen_cntx.l3_sup_thresh[BLIS_NT]);
            bli_blksz_set_def(1, dt, &chosen_cntx.l3_sup_thresh[BLIS_KT]);
        }
        chosen = &chosen_cntx;
        chosen_name = "skx+haswell-sup";
    } else if (avx2) {
        bli_cntx_init_haswell(&chosen_cntx);
        chosen = &chosen_cntx;
        chosen_name = "haswell";
    }
}

static cntx_t *context(const hosmi_blas *blas)
{
    if (blas && blas->kernels == HOSM_GEMM_BLIS)
        return NULL;
    pthread_once(&choose_once, choose);
    return (cntx_t *)chosen;
}

const char *hosmi_gemm_kernels(int kernels)
{
    if (kernels == HOSM_GEMM_BLIS)
        return bli_arch_string(bli_arch_query_id());
    pthread_once(&choose_once, choose);
    return chosen_name;
}
#else
static cntx_t *context(const hosmi_blas *blas)
{
    (void)blas;
    return NULL;
}

const char *hosmi_gemm_kernels(int kernels)
{
    (void)kernels;
    return bli_arch_string(bli_arch_query_id());
}
#endif

static void sgemm_threads(const hosmi_blas *blas, int threads, int ta, int tb, int64_t m,
                          int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                          const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(threads, &rntm);
    /* Row-major storage: row stride ld, column stride 1. */
    bli_sgemm_ex(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                 (dim_t)m, (dim_t)n, (dim_t)k, &alpha, (float *)a, (inc_t)lda, 1, (float *)b,
                 (inc_t)ldb, 1, &beta, c, (inc_t)ldc, 1, context(blas), &rntm);
}

/* A handle with helper threads splits a large product's rows (or, when it
 * has fewer rows than columns, its columns) among them, each part a
 * one-thread BLIS product: the same threads then do the products and the
 * element-wise passes between them, none spins between products (BLIS's
 * OpenMP team does), and every entry of C is summed over k as in one
 * product, so the bits are those of one thread. Smaller products run on
 * the calling thread. */
#define SPLIT_MIN_FLOPS (1 << 23)
/* Parts are multiples of this many rows (columns), the last one the rest:
 * none is below BLIS's small-matrix threshold when the whole is not
 * (SUP_MN above), so each part takes the kernels the whole
 * product would. */
#define SPLIT_ALIGN 32

typedef struct {
    const hosmi_blas *blas;
    int ta, tb, by_rows;
    int64_t m, n, k, lda, ldb, ldc, part, parts;
    float alpha, beta;
    const float *a, *b;
    float *c;
} sgemm_pass;

static void sgemm_task(void *arg, int64_t t, int w)
{
    (void)w;
    const sgemm_pass *p = arg;
    const int64_t len = p->by_rows ? p->m : p->n, lo = t * p->part;
    const int64_t cnt = t + 1 == p->parts ? len - lo : p->part;
    if (p->by_rows) /* rows lo.. of op(A) and C */
        sgemm_threads(p->blas, 1, p->ta, p->tb, cnt, p->n, p->k, p->alpha,
                      p->a + (p->ta ? lo : lo * p->lda), p->lda, p->b, p->ldb, p->beta,
                      p->c + lo * p->ldc, p->ldc);
    else /* columns lo.. of op(B) and C */
        sgemm_threads(p->blas, 1, p->ta, p->tb, p->m, cnt, p->k, p->alpha, p->a, p->lda,
                      p->b + (p->tb ? lo * p->ldb : lo), p->ldb, p->beta, p->c + lo, p->ldc);
}

void hosmi_sgemm(const hosmi_blas *blas, int ta, int tb, int64_t m, int64_t n, int64_t k,
                 float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                 float beta, float *c, int64_t ldc)
{
    if (m == 0 || n == 0)
        return;
    const int parts = hosmi_pool_size(blas ? blas->pool : NULL);
    if (parts == 1) {
        sgemm_threads(blas, blas && blas->threads > 0 ? blas->threads : 1, ta, tb, m, n, k,
                      alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    const int by_rows = m >= n;
    const int64_t len = by_rows ? m : n;
    const int64_t part = len / parts / SPLIT_ALIGN * SPLIT_ALIGN;
    if (2.0 * (double)m * (double)n * (double)k < SPLIT_MIN_FLOPS || part == 0) {
        sgemm_threads(blas, 1, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    sgemm_pass p = {blas, ta,  tb,   by_rows, m,     n,    k, lda,
                    ldb,  ldc, part, parts,   alpha, beta, a, b, c};
    hosmi_pool_run(blas->pool, parts, sgemm_task, &p);
}

void hosmi_dgemm(const hosmi_blas *blas, int ta, int tb, int64_t m, int64_t n, int64_t k,
                 double alpha, const double *a, int64_t lda, const double *b, int64_t ldb,
                 double beta, double *c, int64_t ldc)
{
    if (m == 0 || n == 0)
        return;
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(blas && blas->threads > 0 ? blas->threads : 1, &rntm);
    bli_dgemm_ex(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                 (dim_t)m, (dim_t)n, (dim_t)k, &alpha, (double *)a, (inc_t)lda, 1, (double *)b,
                 (inc_t)ldb, 1, &beta, c, (inc_t)ldc, 1, context(blas), &rntm);
}

int hosm_gemm_kernels_name(int kernels, const char **name)
{
    if (!name)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_gemm_kernels_name: name is NULL");
    if (kernels != HOSM_GEMM_AUTO && kernels != HOSM_GEMM_BLIS)
        return hosmi_fail(NULL, HOSM_E_ARG, "hosm_gemm_kernels_name: %d is not a value of "
                          "enum hosm_gemm_kernels", kernels);
    *name = hosmi_gemm_kernels(kernels);
    return HOSM_OK;
}

int hosmi_blas_threads(int64_t requested)
{
    /* BLIS's barriers spin: more threads than processors make every product
     * many times slower (a model file may ask for up to 1024). */
    int64_t cpus = 1;
#ifdef _SC_NPROCESSORS_ONLN
    cpus = (int64_t)sysconf(_SC_NPROCESSORS_ONLN);
#endif
    if (cpus < 1)
        cpus = 1;
    return (int)(requested < 1 ? 1 : requested < cpus ? requested : cpus);
}
