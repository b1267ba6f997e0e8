/* Dense symmetric eigensolver in double precision: Householder reduction to
 * tridiagonal form, then implicit QL with Wilkinson shifts on the
 * tridiagonal matrix, with every transform accumulated (Golub and Van Loan,
 * "Matrix Computations", sections 8.3.1 and 8.3.5; Wilkinson and Reinsch's
 * tred2/tql2 organisation). About 9 n^3 flops with vectors. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "linalg/linalg.h"

/* Selection sort of count eigenpairs into descending order of vals; entry t
 * of vector i is vecs[i * vec_step + t * elem_step], len entries a vector. */
void hosmi_sort_pairs(int64_t count, double *vals, double *vecs, int64_t len, int64_t vec_step,
                      int64_t elem_step)
{
    for (int64_t i = 0; i < count; i++) {
        int64_t best = i;
        for (int64_t j = i + 1; j < count; j++)
            if (vals[j] > vals[best])
                best = j;
        if (best == i)
            continue;
        double tv = vals[i];
        vals[i] = vals[best];
        vals[best] = tv;
        for (int64_t t = 0; t < len; t++) {
            double *x = vecs + i * vec_step + t * elem_step;
            double *y = vecs + best * vec_step + t * elem_step;
            double tmp = *x;
            *x = *y;
            *y = tmp;
        }
    }
}

/* The inner loops in 2-wide GNU C vectors (SSE2 on x86-64) where the
 * compiler has them: at -O2 GCC does not vectorise them by itself. Plain
 * loops otherwise. */
#if defined(__GNUC__)
#define EIG_V2 1
typedef double v2d __attribute__((vector_size(16), aligned(8), may_alias));
#define V2(p) (*(v2d *)(p))
#else
#define EIG_V2 0
#endif

static double eig_dot(const double *restrict x, const double *restrict y, int64_t n)
{
    double s = 0.0;
    int64_t i = 0;
#if EIG_V2
    v2d a0 = {0.0, 0.0}, a1 = a0;
    for (; i + 4 <= n; i += 4) {
        a0 += V2(x + i) * V2(y + i);
        a1 += V2(x + i + 2) * V2(y + i + 2);
    }
    a0 += a1;
    s = a0[0] + a0[1];
#endif
    for (; i < n; i++)
        s += x[i] * y[i];
    return s;
}

/* y += a x. */
static void eig_axpy(double *restrict y, double a, const double *restrict x, int64_t n)
{
    int64_t i = 0;
#if EIG_V2
    const v2d av = {a, a};
    for (; i + 4 <= n; i += 4) {
        V2(y + i) += av * V2(x + i);
        V2(y + i + 2) += av * V2(x + i + 2);
    }
#endif
    for (; i < n; i++)
        y[i] += a * x[i];
}

/* y += a x, returning x . z (one pass for a row of a symmetric product). */
static double eig_axpy_dot(double *restrict y, double a, const double *restrict x,
                           const double *restrict z, int64_t n)
{
    double s = 0.0;
    int64_t i = 0;
#if EIG_V2
    const v2d av = {a, a};
    v2d a0 = {0.0, 0.0}, a1 = a0;
    for (; i + 4 <= n; i += 4) {
        const v2d x0 = V2(x + i), x1 = V2(x + i + 2);
        V2(y + i) += av * x0;
        V2(y + i + 2) += av * x1;
        a0 += x0 * V2(z + i);
        a1 += x1 * V2(z + i + 2);
    }
    a0 += a1;
    s = a0[0] + a0[1];
#endif
    for (; i < n; i++) {
        y[i] += a * x[i];
        s += x[i] * z[i];
    }
    return s;
}

/* B -= v w^T + w v^T on the lower triangle of the m x m block B (row stride
 * ld), where p = tau B v (into p) and w = p - (tau / 2) (p . v) v. */
static void sym_rank2_update(int64_t m, double *b, int64_t ld, const double *restrict v,
                             double tau, double *restrict p)
{
    memset(p, 0, (size_t)m * sizeof(double));
    for (int64_t i = 0; i < m; i++) {
        const double *restrict row = b + i * ld;
        const double vi = v[i];
        /* Row i below the diagonal acts on v as row i and, mirrored, as column i. */
        p[i] += eig_axpy_dot(p, vi, row, v, i) + row[i] * vi;
    }
    for (int64_t i = 0; i < m; i++)
        p[i] *= tau;
    const double k = 0.5 * tau * eig_dot(p, v, m);
    eig_axpy(p, -k, v, m);
    for (int64_t i = 0; i < m; i++) {
        double *restrict row = b + i * ld;
        eig_axpy(row, -v[i], p, i + 1);
        eig_axpy(row, -p[i], v, i + 1);
    }
}

/* Householder reduction of the symmetric a (lower triangle read) to the
 * tridiagonal T = Q^T A Q, Q = H_0 ... H_{n-3}, H_k = I - tau_k v_k v_k^T.
 * Diagonal of T into d; its off-diagonal e_k into a[(k+1) n + k]; v_k (unit
 * first entry, n - k - 1 entries) into row k right of the diagonal, tau_k
 * onto the diagonal a[k n + k]. n >= 2. */
static void tridiagonalise(int64_t n, double *a, double *d)
{
    for (int64_t k = 0; k + 2 < n; k++) {
        const int64_t m = n - k - 1;
        double *v = a + k * n + k + 1;
        for (int64_t i = 0; i < m; i++)
            v[i] = a[(k + 1 + i) * n + k];
        d[k] = a[k * n + k];
        const double alpha = v[0], s = eig_dot(v + 1, v + 1, m - 1);
        double tau = 0.0, beta = alpha;
        if (s > 0.0) {
            const double norm = sqrt(alpha * alpha + s);
            beta = alpha > 0.0 ? -norm : norm;
            tau = (beta - alpha) / beta;
            const double scale = 1.0 / (alpha - beta);
            for (int64_t i = 1; i < m; i++)
                v[i] *= scale;
        }
        v[0] = 1.0;
        a[k * n + k] = tau;
        a[(k + 1) * n + k] = beta;
        if (tau != 0.0) /* d[k + 1 ..] is free: scratch for the product */
            sym_rank2_update(m, a + (k + 1) * n + k + 1, n, v, tau, d + k + 1);
    }
    d[n - 2] = a[(n - 2) * n + n - 2];
    d[n - 1] = a[(n - 1) * n + n - 1];
}

/* Rows of Q^T into qt (n x n) from the reflectors that tridiagonalise()
 * left in a: Q^T = (...((I H_{n-3}) H_{n-4}) ...) H_0, each H_k applied to
 * the rows from the right. */
static void form_qt(int64_t n, const double *a, double *qt)
{
    memset(qt, 0, (size_t)(n * n) * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        qt[i * n + i] = 1.0;
    for (int64_t k = n - 3; k >= 0; k--) {
        const int64_t m = n - k - 1;
        const double tau = a[k * n + k], *restrict v = a + k * n + k + 1;
        if (tau == 0.0)
            continue;
        for (int64_t i = k + 1; i < n; i++) {
            double *restrict r = qt + i * n + k + 1;
            eig_axpy(r, -tau * eig_dot(r, v, m), v, m);
        }
    }
}

/* Rows x and y (len entries) <- (c x - s y, s x + c y). */
static void rotate_rows(double *restrict x, double *restrict y, double c, double s, int64_t len)
{
    int64_t t = 0;
#if EIG_V2
    const v2d cv = {c, c}, sv = {s, s};
    for (; t + 2 <= len; t += 2) {
        const v2d xv = V2(x + t), yv = V2(y + t);
        V2(y + t) = sv * xv + cv * yv;
        V2(x + t) = cv * xv - sv * yv;
    }
#endif
    for (; t < len; t++) {
        const double f = y[t];
        y[t] = s * x[t] + c * f;
        x[t] = c * x[t] - s * f;
    }
}

/* Where a sweep's rotations go: straight onto the rows of x, or (with a
 * buffer) into a log of (i, c, s) triples that is applied to x later, a
 * block of columns at a time, so that a block stays in cache for many
 * sweeps instead of x streaming through memory once a sweep. */
typedef struct {
    double *x, *log;
    int64_t len, cap, count; /* cap and count in rotations */
} rot_sink;

/* Columns a flushed block spans: 32 doubles of each row, so that a block of
 * 784 rows (200 KB) stays in a 512 KB L2 cache. */
#define ROT_BLOCK 32

static void rot_flush(rot_sink *k)
{
    for (int64_t t0 = 0; t0 < k->len; t0 += ROT_BLOCK) {
        const int64_t w = k->len - t0 < ROT_BLOCK ? k->len - t0 : ROT_BLOCK;
        double *x = k->x + t0;
        for (int64_t r = 0; r < k->count; r++) {
            const double *g = k->log + 3 * r;
            const int64_t i = (int64_t)g[0];
            rotate_rows(x + i * k->len, x + (i + 1) * k->len, g[1], g[2], w);
        }
    }
    k->count = 0;
}

static void rot_put(rot_sink *k, int64_t i, double c, double s)
{
    if (!k->x)
        return;
    if (!k->log) {
        rotate_rows(k->x + i * k->len, k->x + (i + 1) * k->len, c, s, k->len);
        return;
    }
    double *g = k->log + 3 * k->count++;
    g[0] = (double)i;
    g[1] = c;
    g[2] = s;
}

/* One implicit QL sweep with a Wilkinson shift on the unreduced block l..m
 * of the tridiagonal (d, e), its rotations passed to the sink. */
static void ql_sweep(int64_t l, int64_t m, double *d, double *e, rot_sink *sink)
{
    /* The shift: the eigenvalue of the leading 2 x 2 block nearer d[l]. */
    double g = (d[l + 1] - d[l]) / (2.0 * e[l]);
    double r = hypot(g, 1.0);
    g = d[m] - d[l] + e[l] / (g + copysign(r, g));
    double s = 1.0, c = 1.0, p = 0.0;
    for (int64_t i = m - 1; i >= l; i--) {
        /* The rotation in plane (i, i + 1) that chases the bulge up. */
        const double f = s * e[i], b = c * e[i];
        r = hypot(f, g);
        if (i + 1 < m)
            e[i + 1] = r;
        if (r == 0.0) { /* underflow: the block splits at i + 1 */
            d[i + 1] -= p; /* e[i + 1] = 0 or, for i + 1 = m, reset by the caller */
            return;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2.0 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        rot_put(sink, i, c, s);
    }
    d[l] -= p;
    e[l] = g;
}

/* hosmi_tridiag_eig with an optional rotation log (cap rotations, at least
 * n of them, or none). */
static int ql_solve(int64_t n, double *d, double *e, rot_sink *sink)
{
    /* Generous: Wilkinson's shift converges cubically, about 2 sweeps a value. */
    int64_t budget = 30 * n + 30;
    for (int64_t l = 0; l < n; l++) {
        for (;;) {
            int64_t m = l;
            while (m + 1 < n && !(fabs(e[m]) <= DBL_EPSILON * (fabs(d[m]) + fabs(d[m + 1]))))
                m++;
            if (m == l)
                break;
            if (budget-- == 0)
                return -1; /* only with NaN or Inf in the input */
            if (sink->log && sink->count + n > sink->cap)
                rot_flush(sink);
            ql_sweep(l, m, d, e, sink);
            if (m + 1 < n)
                e[m] = 0.0;
        }
    }
    if (sink->log)
        rot_flush(sink);
    hosmi_sort_pairs(n, d, sink->x, sink->x ? sink->len : 0, sink->len, 1);
    return 0;
}

int hosmi_tridiag_eig(int64_t n, double *d, double *e, double *x, int64_t len)
{
    rot_sink sink = {x, NULL, len, 0, 0};
    return ql_solve(n, d, e, &sink); /* eigenvector i is row i of x */
}

int hosmi_sym_eig(int64_t n, double *a, double *w, double *v)
{
    if (n <= 0)
        return 0;
    int finite = 1;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j <= i; j++)
            finite &= isfinite(a[i * n + j]) != 0;
    if (n == 1) {
        w[0] = a[0];
        v[0] = 1.0;
    } else if (finite) {
        tridiagonalise(n, a, w);
        /* The off-diagonal, contiguous, into the dead lower part of row n - 1
         * (e_k moves from row k + 1 < n - 1, or stays for k = n - 2). */
        double *e = a + (n - 1) * n;
        for (int64_t k = 0; k < n - 1; k++)
            e[k] = a[(k + 1) * n + k];
        form_qt(n, a, v);
        /* The reflectors are spent: rows 0 .. n-2 of a log the rotations. */
        rot_sink sink = {v, a, n, (n - 1) * n / 3, 0};
        if (sink.cap < n)
            sink.log = NULL;
        finite = ql_solve(n, w, e, &sink) == 0;
        /* Row j of v is eigenvector j: transpose to columns. */
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = i + 1; j < n; j++) {
                double t = v[i * n + j];
                v[i * n + j] = v[j * n + i];
                v[j * n + i] = t;
            }
    }
    if (finite)
        return 0;
    for (int64_t i = 0; i < n; i++)
        w[i] = NAN;
    for (int64_t i = 0; i < n * n; i++)
        v[i] = NAN;
    return -1;
}

void hosmi_sym_rebuild(const hosmi_blas *blas, int64_t n, const double *v, const double *f,
                       double *out, double *work)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            work[i * n + j] = v[i * n + j] * f[j];
    hosmi_dgemm(blas, 0, 1, n, n, n, 1.0, work, n, v, n, 0.0, out, n);
    for (int64_t i = 0; i < n; i++) /* exactly symmetric */
        for (int64_t j = i + 1; j < n; j++) {
            const double s = 0.5 * (out[i * n + j] + out[j * n + i]);
            out[i * n + j] = s;
            out[j * n + i] = s;
        }
}
