/* The single door to BLIS. Every GEMM of the library (float or double)
 * passes through here with the handle's own thread count in a local rntm_t:
 * no BLIS global setting is read or written, so handles with different
 * thread counts coexist. */
#include <blis.h>
#include <unistd.h>

#include "core/internal.h"

void hosmi_sgemm(const hosmi_blas *blas, int ta, int tb, int64_t m, int64_t n, int64_t k,
                 float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                 float beta, float *c, int64_t ldc)
{
    if (m == 0 || n == 0)
        return;
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(blas && blas->threads > 0 ? blas->threads : 1, &rntm);
    /* Row-major storage: row stride ld, column stride 1. */
    bli_sgemm_ex(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                 (dim_t)m, (dim_t)n, (dim_t)k, &alpha, (float *)a, (inc_t)lda, 1, (float *)b,
                 (inc_t)ldb, 1, &beta, c, (inc_t)ldc, 1, NULL, &rntm);
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
                 (inc_t)ldb, 1, &beta, c, (inc_t)ldc, 1, NULL, &rntm);
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
