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
 * keeps BLIS's pick.
 *
 * With the skx kernels, a one-thread product that is not on the sup path
 * runs through the library's own blocked loop around BLIS's micro-kernel
 * (own_sgemm below): BLIS 0.9 has no packing kernel for skx's 32-row
 * panels and packs them one column at a time through its scal2v, strided
 * when a panel's rows are not contiguous (every forward product). The loop
 * packs with AVX-512, 16 x 16 transposes where needed, and blocks as BLIS
 * does (MC, KC with its maximum, NC from the context), so the products
 * have BLIS's bits (tests/unit/test_gemm). */
#include <blis.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "nn/vmath.h"

#if HOSMI_HAVE_X86_VARIANTS
#include <immintrin.h>
#endif

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
static int own_loop; /* the chosen kernels run in own_sgemm */
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
        own_loop = HOSMI_HAVE_X86_VARIANTS &&
                   bli_cntx_l3_nat_ukr_prefers_cols_dt(BLIS_FLOAT, BLIS_GEMM_UKR, &chosen_cntx);
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

#if HOSMI_HAVE_X86_VARIANTS
/* The packed blocks, one pair a thread, kept for its later products and
 * freed when it exits (the __thread copy keeps them visible to leak
 * checkers until then). */
typedef struct {
    float *a, *b;
    size_t na, nb; /* floats */
} pack_bufs;

static __thread pack_bufs *thread_bufs;
static pthread_key_t bufs_key;
static int bufs_key_made;
static pthread_once_t bufs_once = PTHREAD_ONCE_INIT;

static void bufs_free(void *p)
{
    pack_bufs *w = p;
    free(w->a);
    free(w->b);
    free(w);
    thread_bufs = NULL;
}

static void bufs_key_make(void)
{
    bufs_key_made = pthread_key_create(&bufs_key, bufs_free) == 0;
}

/* When the library is unloaded (dlclose, or at exit), no thread may exit
 * into bufs_free afterwards: the key goes, the threads still running keep
 * their buffers, and later products (from other destructors) go through
 * BLIS's loop. */
__attribute__((destructor)) static void bufs_unload(void)
{
    if (!bufs_key_made)
        return;
    bufs_key_made = 0;
    pthread_key_delete(bufs_key);
    if (thread_bufs)
        bufs_free(thread_bufs);
}

static int grow(float **p, size_t *have, size_t need)
{
    if (*have >= need)
        return 0;
    void *q = NULL;
    if (posix_memalign(&q, 64, need * sizeof(float)) != 0)
        return -1;
    free(*p);
    *p = q;
    *have = need;
    return 0;
}

/* This thread's buffers of at least na and nb floats, or NULL. */
static pack_bufs *bufs(size_t na, size_t nb)
{
    pthread_once(&bufs_once, bufs_key_make);
    if (!bufs_key_made)
        return NULL;
    pack_bufs *w = thread_bufs;
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w || pthread_setspecific(bufs_key, w) != 0) {
            free(w);
            return NULL;
        }
        thread_bufs = w;
    }
    return grow(&w->a, &w->na, na) || grow(&w->b, &w->nb, nb) ? NULL : w;
}

/* Transposes the 16 x 16 block in r (row q in r[q]) in place. */
HOSMI_TARGET_AVX512 static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

static __mmask16 first_lanes(int64_t n)
{
    return (__mmask16)(n <= 0 ? 0 : n >= 16 ? 0xffff : (1u << n) - 1);
}

/* Packs M (rows x kc, M(i, p) = src[i rs + p cs], rs or cs 1) into
 * micro-panels of w rows: panel t holds M(t w + i, p) at p w + i, the rows
 * past the end zero. */
HOSMI_TARGET_AVX512 static void pack(int64_t w, int64_t rows, int64_t kc, const float *src,
                                     int64_t rs, int64_t cs, float *dst)
{
    for (int64_t i0 = 0; i0 < rows; i0 += w, dst += w * kc) {
        const float *s = src + i0 * rs;
        const int64_t have = rows - i0 < w ? rows - i0 : w; /* rows of this panel */
        for (int64_t ib = 0; ib < w; ib += 16) {
            const __mmask16 store = first_lanes(w - ib), load = first_lanes(have - ib);
            if (rs == 1) { /* a panel's column is contiguous: copy */
                for (int64_t p = 0; p < kc; p++)
                    _mm512_mask_storeu_ps(dst + p * w + ib, store,
                                          _mm512_maskz_loadu_ps(load, s + p * cs + ib));
                continue;
            }
            /* rows are contiguous: transpose 16 x 16 blocks */
            int64_t p = 0;
            for (; p + 16 <= kc; p += 16) {
                __m512 r[16];
                for (int q = 0; q < 16; q++)
                    r[q] = ib + q < have ? _mm512_loadu_ps(s + (ib + q) * rs + p)
                                         : _mm512_setzero_ps();
                transpose16(r);
                for (int q = 0; q < 16; q++)
                    _mm512_mask_storeu_ps(dst + (p + q) * w + ib, store, r[q]);
            }
            for (; p < kc; p++)
                for (int64_t i = ib; i < ib + 16 && i < w; i++)
                    dst[p * w + i] = i < have ? s[i * rs + p] : 0.0f;
        }
    }
}

typedef void (*sgemm_ukr)(dim_t m, dim_t n, dim_t k, float *alpha, float *a, float *b,
                          float *beta, float *c, inc_t rs_c, inc_t cs_c, auxinfo_t *data,
                          cntx_t *cntx);

/* C = alpha op(A) op(B) + beta C on one thread with the chosen micro-kernel,
 * which computes column-stored tiles: so, as BLIS does for a row-major C,
 * in the transposed frame C^T (n x m, column-stored) = Ah (n x k) Bh
 * (k x m) with Ah = op(B)^T and Bh = op(A)^T. Returns -1, having done
 * nothing, when the buffers cannot be had. */
static int own_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc)
{
    cntx_t *cx = (cntx_t *)chosen;
    const int64_t mr = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MR, cx);
    const int64_t nr = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_NR, cx);
    const int64_t mc = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MC, cx);
    const int64_t kc = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_KC, cx);
    const int64_t kc_max = bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_KC, cx);
    const int64_t nc = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_NC, cx);
    /* BLIS stores kernels as void *: copied, not cast, for ISO C */
    void *kernel = bli_cntx_get_l3_nat_ukr_dt(BLIS_FLOAT, BLIS_GEMM_UKR, cx);
    sgemm_ukr ukr;
    memcpy(&ukr, &kernel, sizeof ukr);
    const int64_t kmax = k < kc_max ? k : kc_max, ncols = m < nc ? m : nc, nrows = n < mc ? n : mc;
    pack_bufs *w = bufs((size_t)(((nrows + mr - 1) / mr) * mr * kmax),
                        (size_t)(((ncols + nr - 1) / nr) * nr * kmax));
    if (!w)
        return -1;
    auxinfo_t aux;
    memset(&aux, 0, sizeof aux);
    for (int64_t jc = 0; jc < m; jc += nc) {
        const int64_t ncur = m - jc < nc ? m - jc : nc;
        /* BLIS's partition of k: kc, or all that is left when that is at
         * most kc_max. */
        for (int64_t pc = 0, kcur; pc < k; pc += kcur) {
            kcur = k - pc <= kc_max ? k - pc : kc;
            if (ta) /* Bh(p, j) = A[p lda + j] */
                pack(nr, ncur, kcur, a + pc * lda + jc, 1, lda, w->b);
            else /* Bh(p, j) = A[j lda + p] */
                pack(nr, ncur, kcur, a + jc * lda + pc, lda, 1, w->b);
            float beta_now = pc == 0 ? beta : 1.0f;
            for (int64_t ic = 0; ic < n; ic += mc) {
                const int64_t mcur = n - ic < mc ? n - ic : mc;
                if (tb) /* Ah(i, p) = B[i ldb + p] */
                    pack(mr, mcur, kcur, b + ic * ldb + pc, ldb, 1, w->a);
                else /* Ah(i, p) = B[p ldb + i] */
                    pack(mr, mcur, kcur, b + pc * ldb + ic, 1, ldb, w->a);
                for (int64_t jr = 0; jr < ncur; jr += nr)
                    for (int64_t ir = 0; ir < mcur; ir += mr)
                        ukr(mcur - ir < mr ? mcur - ir : mr, ncur - jr < nr ? ncur - jr : nr,
                            kcur, &alpha, w->a + ir * kcur, w->b + jr * kcur, &beta_now,
                            c + (jc + jr) * ldc + ic + ir, 1, ldc, &aux, cx);
            }
        }
    }
    return 0;
}

/* Non-zero when own_sgemm takes this one-thread product: the chosen skx
 * kernels, not BLIS's sup path (fewer than SUP_MN rows or columns), k > 0
 * (BLIS scales C alone). */
static int takes_own(const hosmi_blas *blas, int64_t m, int64_t n, int64_t k)
{
    if ((blas && blas->kernels != HOSM_GEMM_AUTO) || m < SUP_MN || n < SUP_MN || k < 1)
        return 0;
    pthread_once(&choose_once, choose);
    return own_loop;
}
#define HAVE_OWN_SGEMM 1
#endif

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
#ifdef HAVE_OWN_SGEMM
    if (threads == 1 && takes_own(blas, m, n, k) &&
        own_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0)
        return;
#endif
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
