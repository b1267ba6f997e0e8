/* The kernel choice of lib/core/gemm.c (docs/performance.md#kernel-choice):
 *   - the chosen kernels ("auto") give the products of BLIS's own pick
 *     ("blis") to float rounding, for the shapes the library uses (small
 *     products on the sup path, large ones on the native kernels, depth 1
 *     to 300), every transpose, leading dimensions above the width,
 *     alpha and beta, one and two threads, float and double;
 *   - where BLIS picks "generic" on a CPU with AVX2 and FMA, "auto" names
 *     another sub-configuration (the choice happens), and "blis" names
 *     BLIS's pick; hosm_gemm_kernels_name validates its arguments.
 *   - the library's own loop around the chosen micro-kernel gives the
 *     bits of BLIS's loop around it: edges of every panel and block, k
 *     across BLIS's depth blocks, every transpose, alpha and beta, beta = 0
 *     over NaN, the padding of C untouched;
 *   - a handle with helper threads (lib/core/pool.c) splits a large product
 *     among them and gets the same bits as one thread, split by rows or by
 *     columns, every transpose, the padding of C untouched.
 * The error is measured against sum_k |a_ik| |b_kj| |alpha| + |beta c_ij|,
 * the magnitude any order of summation rounds against. */
#include <blis.h>

#include "core/internal.h"
#include "../test_util.h"

/* Random operands of op(A) (m x k) op(B) (k x n) with leading dimensions
 * above the widths, and two equal copies of C (m x ldc). */
typedef struct {
    int64_t lda, ldb, ldc;
    float *a, *b, *c0, *c1;
} operands;

static operands make_operands(int ta, int tb, int64_t m, int64_t n, int64_t k, trng *r)
{
    operands o = {(ta ? m : k) + 3, (tb ? k : n) + 1, n + 2, NULL, NULL, NULL, NULL};
    const int64_t ra = ta ? k : m, rb = tb ? n : k;
    o.a = xmalloc(sizeof(float) * (size_t)(ra * o.lda));
    o.b = xmalloc(sizeof(float) * (size_t)(rb * o.ldb));
    o.c0 = xmalloc(sizeof(float) * (size_t)(m * o.ldc));
    o.c1 = xmalloc(sizeof(float) * (size_t)(m * o.ldc));
    for (int64_t i = 0; i < ra * o.lda; i++)
        o.a[i] = (float)trng_normal(r);
    for (int64_t i = 0; i < rb * o.ldb; i++)
        o.b[i] = (float)trng_normal(r);
    for (int64_t i = 0; i < m * o.ldc; i++)
        o.c0[i] = o.c1[i] = (float)trng_normal(r);
    return o;
}

static void free_operands(operands *o)
{
    free(o->a);
    free(o->b);
    free(o->c0);
    free(o->c1);
}

static double worst_s(int ta, int tb, int64_t m, int64_t n, int64_t k, int threads, trng *r)
{
    operands o = make_operands(ta, tb, m, n, k, r);
    const int64_t lda = o.lda, ldb = o.ldb, ldc = o.ldc;
    float *a = o.a, *b = o.b, *c0 = o.c0, *c1 = o.c1;
    const float alpha = 0.75f, beta = -0.5f;
    const hosmi_blas pick = {threads, HOSM_GEMM_BLIS, NULL}, chosen = {threads, HOSM_GEMM_AUTO, NULL};
    float *c_in = xmalloc(sizeof(float) * (size_t)(m * ldc));
    memcpy(c_in, c0, sizeof(float) * (size_t)(m * ldc));
    hosmi_sgemm(&pick, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c0, ldc);
    hosmi_sgemm(&chosen, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c1, ldc);
    double worst = 0.0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < ldc; j++) {
            if (j >= n) { /* padding columns stay as they were */
                if (c0[i * ldc + j] != c_in[i * ldc + j] || c1[i * ldc + j] != c_in[i * ldc + j])
                    worst = INFINITY;
                continue;
            }
            double mag = fabs(beta * c_in[i * ldc + j]);
            for (int64_t q = 0; q < k; q++) {
                const double aiq = ta ? a[q * lda + i] : a[i * lda + q];
                const double bqj = tb ? b[j * ldb + q] : b[q * ldb + j];
                mag += fabs(alpha * aiq * bqj);
            }
            worst = fmax(worst, fabs((double)c0[i * ldc + j] - c1[i * ldc + j]) / (mag * U32));
        }
    free_operands(&o);
    free(c_in);
    return worst;
}

static double worst_d(int64_t m, int64_t n, int64_t k, trng *r)
{
    double *a = xmalloc(sizeof(double) * (size_t)(m * k)), *b = xmalloc(sizeof(double) * (size_t)(k * n));
    double *c0 = xmalloc(sizeof(double) * (size_t)(m * n)), *c1 = xmalloc(sizeof(double) * (size_t)(m * n));
    for (int64_t i = 0; i < m * k; i++)
        a[i] = trng_normal(r);
    for (int64_t i = 0; i < k * n; i++)
        b[i] = trng_normal(r);
    const hosmi_blas pick = {1, HOSM_GEMM_BLIS, NULL}, chosen = {1, HOSM_GEMM_AUTO, NULL};
    hosmi_dgemm(&pick, 0, 1, m, n, k, 1.0, a, k, b, k, 0.0, c0, n);
    hosmi_dgemm(&chosen, 0, 1, m, n, k, 1.0, a, k, b, k, 0.0, c1, n);
    double worst = 0.0;
    for (int64_t i = 0; i < m * n; i++)
        worst = fmax(worst, fabs(c0[i] - c1[i]) / (sqrt((double)k) * 1e-15 + 1e-300));
    free(a);
    free(b);
    free(c0);
    free(c1);
    return worst;
}

/* Entries of C (padding included) where the library's loop differs from
 * BLIS's loop around the same kernels; with beta = 0, C starts as NaN. */
static int64_t loop_differs(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                            float beta, trng *r)
{
    operands o = make_operands(ta, tb, m, n, k, r);
    if (beta == 0.0f)
        for (int64_t i = 0; i < m * o.ldc; i++)
            o.c0[i] = o.c1[i] = NAN;
    const hosmi_blas own = {1, HOSM_GEMM_AUTO, NULL}, blis = {1, HOSMI_GEMM_AUTO_BLIS_LOOP, NULL};
    hosmi_sgemm(&blis, ta, tb, m, n, k, alpha, o.a, o.lda, o.b, o.ldb, beta, o.c0, o.ldc);
    hosmi_sgemm(&own, ta, tb, m, n, k, alpha, o.a, o.lda, o.b, o.ldb, beta, o.c1, o.ldc);
    int64_t differ = 0;
    for (int64_t i = 0; i < m * o.ldc; i++)
        differ += memcmp(&o.c0[i], &o.c1[i], sizeof(float)) != 0;
    for (int64_t i = 0; i < m && beta == 0.0f; i++)
        for (int64_t j = 0; j < n; j++)
            differ += !isfinite(o.c1[i * o.ldc + j]);
    free_operands(&o);
    return differ;
}

/* Entries of C (padding included) where a product split among `threads`
 * helper threads differs from one thread's. */
static int64_t split_differs(int ta, int tb, int64_t m, int64_t n, int64_t k, int threads,
                             trng *r)
{
    operands o = make_operands(ta, tb, m, n, k, r);
    const int64_t lda = o.lda, ldb = o.ldb, ldc = o.ldc;
    float *a = o.a, *b = o.b, *c0 = o.c0, *c1 = o.c1;
    hosmi_pool *pool = hosmi_pool_new(threads);
    const hosmi_blas one = {1, HOSM_GEMM_AUTO, NULL}, split = {threads, HOSM_GEMM_AUTO, pool};
    hosmi_sgemm(&one, ta, tb, m, n, k, 0.75f, a, lda, b, ldb, -0.5f, c0, ldc);
    hosmi_sgemm(&split, ta, tb, m, n, k, 0.75f, a, lda, b, ldb, -0.5f, c1, ldc);
    int64_t differ = pool ? 0 : -1; /* -1: no helper thread could start */
    for (int64_t i = 0; i < m * ldc && pool; i++)
        differ += memcmp(&c0[i], &c1[i], sizeof(float)) != 0;
    hosmi_pool_free(pool);
    free_operands(&o);
    return differ;
}

int main(void)
{
    trng r = {2027};
    /* m, n, k: the MLP's shapes (batch x width x input, their transposes in
     * the backward pass), skinny ones for the sup kernels, odd sizes. */
    static const int64_t shapes[][3] = {{128, 256, 2},  {128, 2, 256},  {256, 2, 128},
                                        {128, 256, 256}, {256, 256, 128}, {3, 5, 7},
                                        {1, 1, 1},       {1024, 528, 64}, {37, 300, 1},
                                        {31, 33, 300},   {500, 64, 17},   {2, 1000, 40}};
    double worst = 0.0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (int threads = 1; threads <= 2; threads++)
                worst = fmax(worst, worst_s(t & 1, t >> 1, shapes[s][0], shapes[s][1],
                                            shapes[s][2], threads, &r));
    /* Both sum k rounded products in different orders: the worst case is 2 k
     * roundings of the magnitude (600 at depth 300), random rounding grows
     * like sqrt(k) (measured 4 here); a wrong kernel, block size or layout
     * errs by O(1), 1e7 roundings. */
    check_le("float products, chosen vs BLIS's kernels, error / (magnitude u)", worst, 64.0);
    check_le("double products, chosen vs BLIS's kernels, error / (sqrt(k) 1e-15)",
             fmax(worst_d(128, 256, 256, &r), worst_d(5, 3, 700, &r)), 64.0);

    /* The library's loop (skx: MR 32, NR 12, MC 480, KC 384 up to 480, NC
     * 3072): partial panels, more than one MC block (n = 1000), k of one
     * block up to its maximum and of two and three (385 stays one, 481
     * and 1000 do not), more than one NC block (m = 3100). */
    static const int64_t loops[][3] = {{128, 256, 256}, {33, 45, 7},     {100, 77, 1000},
                                       {64, 1000, 385}, {200, 96, 480},  {45, 33, 481},
                                       {3100, 40, 8},   {128, 2080, 64}, {32, 32, 1}};
    static const float scalars[][2] = {{1.0f, 0.0f}, {0.75f, -0.5f}, {1.0f, 1.0f}};
    int64_t loop_differ = 0;
    for (size_t s = 0; s < sizeof loops / sizeof loops[0]; s++)
        for (int t = 0; t < 4; t++)
            for (size_t ab = 0; ab < 3; ab++) {
                const int64_t d = loop_differs(t & 1, t >> 1, loops[s][0], loops[s][1],
                                               loops[s][2], scalars[ab][0], scalars[ab][1], &r);
                CHECK(d == 0, "own loop, %lld x %lld x %lld, ta %d tb %d, alpha %g beta %g: "
                      "%lld entries differ", (long long)loops[s][0], (long long)loops[s][1],
                      (long long)loops[s][2], t & 1, t >> 1, scalars[ab][0], scalars[ab][1],
                      (long long)d);
                loop_differ += d;
            }
    printf("     own loop: %lld entries differ from BLIS's loop\n", (long long)loop_differ);

    /* Split products: by rows (m >= n) and by columns, parts of unequal
     * length, 2 and 3 threads, the small-matrix kernels (n = 16), parts
     * of 32 and 38 rows; all above the size that is split. */
    static const int64_t big[][3] = {{1024, 256, 256}, {256, 1024, 64}, {300, 257, 129},
                                     {97, 1000, 200}, {1024, 528, 64}, {4096, 16, 256},
                                     {70, 70, 1000}};
    int64_t differ = 0;
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++)
        for (int t = 0; t < 4; t++)
            for (int threads = 2; threads <= 3; threads++) {
                const int64_t d = split_differs(t & 1, t >> 1, big[s][0], big[s][1], big[s][2],
                                                threads, &r);
                CHECK(d == 0, "%lld x %lld x %lld, ta %d tb %d, %d threads: %lld entries differ",
                      (long long)big[s][0], (long long)big[s][1], (long long)big[s][2], t & 1,
                      t >> 1, threads, (long long)d);
                differ += d > 0 ? d : 0;
            }
    printf("     split products: %lld entries differ from one thread's\n", (long long)differ);

    const char *chosen = NULL, *pick = NULL;
    CHECK(hosm_gemm_kernels_name(HOSM_GEMM_AUTO, &chosen) == HOSM_OK && chosen && *chosen,
          "a name for auto");
    CHECK(hosm_gemm_kernels_name(HOSM_GEMM_BLIS, &pick) == HOSM_OK && pick &&
              strcmp(pick, bli_arch_string(bli_arch_query_id())) == 0,
          "blis names BLIS's pick");
    printf("     kernels: BLIS's pick %s, chosen %s\n", pick, chosen);
#ifdef HOSM_BLIS_CONTEXTS
    __builtin_cpu_init();
    if (bli_arch_query_id() == BLIS_ARCH_GENERIC && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        CHECK(strcmp(chosen, "generic") != 0, "auto chooses kernels where BLIS picks generic");
    else
        CHECK(strcmp(chosen, pick) == 0, "auto keeps a pick that is not generic");
#endif
    CHECK(hosm_gemm_kernels_name(2, &chosen) == HOSM_E_ARG, "kernels = 2");
    CHECK(hosm_gemm_kernels_name(-1, &chosen) == HOSM_E_ARG, "kernels = -1");
    CHECK(hosm_gemm_kernels_name(HOSM_GEMM_AUTO, NULL) == HOSM_E_NULL, "name = NULL");
    return finish("test_gemm");
}
