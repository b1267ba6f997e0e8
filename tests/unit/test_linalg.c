/* White-box tests of lib/linalg: the dense symmetric eigensolver, the
 * tridiagonal eigensolver, Cholesky, Lanczos top-k and Lanczos f(A) v.
 *
 * Tolerances. eps = 2.2e-16. Householder tridiagonalisation and implicit QL
 * are backward stable: the computed V, w satisfy A + E = V diag(w) V^T with
 * ||E|| <= p(n) eps ||A|| and ||V^T V - I|| <= p(n) eps, p(n) a modest
 * polynomial (Golub and Van Loan, Matrix Computations, 4th ed., 8.3.7);
 * in practice p(n) ~ sqrt(n). The bounds below are 10 n eps (1.7e-12 at
 * n = 784), far above the rounding and far below anything a wrong rotation,
 * a lost reflector or a skipped deflation would leave (errors of order 1).
 * Known eigenvalues: Weyl's theorem turns the backward error into
 * |w_i - lambda_i| <= ||E||_2, and building A from its spectrum adds a few
 * n eps ||A|| more: bound 10 n eps max|lambda|. */
#include <float.h>

#include "../test_util.h"
#include "linalg/linalg.h"

#define EPS DBL_EPSILON
#define PI 3.14159265358979323846

typedef enum { RANDOM, REPEATED, CLUSTERED, GRADED } spectrum;
static const char *const spec_name[] = {"random", "repeated", "clustered", "graded"};

/* A <- H A H for H = I - 2 u u^T / (u . u) (A symmetric n x n). */
static void reflect(int64_t n, double *a, const double *u, double *y)
{
    double uu = 0.0;
    for (int64_t i = 0; i < n; i++)
        uu += u[i] * u[i];
    const double beta = 2.0 / uu;
    double uy = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < n; j++)
            s += a[i * n + j] * u[j];
        y[i] = s;
        uy += u[i] * s;
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            a[i * n + j] += -beta * (u[i] * y[j] + y[i] * u[j]) + beta * beta * uy * u[i] * u[j];
}

/* A = Q diag(lambda) Q^T with Q a product of three random reflectors (dense
 * eigenvectors, exactly known eigenvalues), or a random symmetric Gaussian
 * matrix (lambda unknown: returns 0). lambda receives the values sorted
 * descending. */
static int make_matrix(int64_t n, spectrum sp, trng *r, double *a, double *lambda)
{
    if (sp == RANDOM) {
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j <= i; j++)
                a[i * n + j] = a[j * n + i] = trng_normal(r);
        return 0;
    }
    for (int64_t i = 0; i < n; i++) {
        double l;
        if (sp == REPEATED) /* half equal to 1, a quarter to -2, the rest spread */
            l = i < n / 2 ? 1.0 : i < 3 * n / 4 ? -2.0 : trng_uniform(r) * 4.0 - 2.0;
        else if (sp == CLUSTERED) /* three clusters of values 1e-10 apart */
            l = (double)(i % 3 + 1) + 1e-10 * (double)(i / 3);
        else /* graded from 1 to 1e-12, alternating signs */
            l = (i % 2 ? -1.0 : 1.0) * pow(10.0, n > 1 ? -12.0 * (double)i / (double)(n - 1) : 0);
        lambda[i] = l;
    }
    memset(a, 0, (size_t)(n * n) * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        a[i * n + i] = lambda[i];
    double *u = xmalloc((size_t)(2 * n) * sizeof(double));
    for (int h = 0; h < 3 && n > 1; h++) {
        for (int64_t i = 0; i < n; i++)
            u[i] = trng_normal(r);
        reflect(n, a, u, u + n);
    }
    free(u);
    hosmi_sort_pairs(n, lambda, NULL, 0, 0, 0);
    return 1;
}

static double frob(const double *x, int64_t count)
{
    double s = 0.0;
    for (int64_t i = 0; i < count; i++)
        s += x[i] * x[i];
    return sqrt(s);
}

static void test_sym_eig(int64_t n, spectrum sp, trng *r)
{
    double *a = xmalloc((size_t)(n * n) * sizeof(double));
    double *b = xmalloc((size_t)(n * n) * sizeof(double));
    double *v = xmalloc((size_t)(n * n) * sizeof(double));
    double *c = xmalloc((size_t)(n * n) * sizeof(double));
    double *w = xmalloc((size_t)n * sizeof(double)), *lambda = xmalloc((size_t)n * sizeof(double));
    const int known = make_matrix(n, sp, r, a, lambda);
    memcpy(b, a, (size_t)(n * n) * sizeof(double));
    CHECK(hosmi_sym_eig(n, b, w, v) == 0, "hosmi_sym_eig failed at n = %lld", (long long)n);
    int sorted = 1;
    for (int64_t i = 1; i < n; i++)
        sorted &= w[i - 1] >= w[i];
    CHECK(sorted, "eigenvalues not descending (n = %lld, %s)", (long long)n, spec_name[sp]);
    const double bound = 10.0 * (double)(n < 8 ? 8 : n) * EPS;
    char what[128];
    /* ||A - V diag(w) V^T||_F / ||A||_F, the product by the library's rebuild. */
    hosmi_sym_rebuild(NULL, n, v, w, c, b);
    for (int64_t i = 0; i < n * n; i++)
        c[i] -= a[i];
    snprintf(what, sizeof what, "eig n=%lld %s: ||A - V W V^T|| / ||A||", (long long)n,
             spec_name[sp]);
    check_le(what, frob(c, n * n) / frob(a, n * n), bound);
    /* ||V^T V - I||_F. */
    hosmi_dgemm(NULL, 1, 0, n, n, n, 1.0, v, n, v, n, 0.0, c, n);
    for (int64_t i = 0; i < n; i++)
        c[i * n + i] -= 1.0;
    snprintf(what, sizeof what, "eig n=%lld %s: ||V^T V - I||", (long long)n, spec_name[sp]);
    check_le(what, frob(c, n * n), bound);
    if (known) {
        double err = 0.0, scale = 0.0;
        for (int64_t i = 0; i < n; i++) {
            err = fmax(err, fabs(w[i] - lambda[i]));
            scale = fmax(scale, fabs(lambda[i]));
        }
        snprintf(what, sizeof what, "eig n=%lld %s: max |w - lambda| / max |lambda|",
                 (long long)n, spec_name[sp]);
        check_le(what, err / scale, bound);
    }
    free(a);
    free(b);
    free(v);
    free(c);
    free(w);
    free(lambda);
}

/* Non-finite input is reported, not looped on. */
static void test_sym_eig_nonfinite(void)
{
    double a[9] = {1, 2, 3, 2, NAN, 4, 3, 4, 5}, w[3], v[9];
    CHECK(hosmi_sym_eig(3, a, w, v) == -1, "NaN input not reported");
    double d[3] = {1, 3, 2}, e[2] = {NAN, 1};
    CHECK(hosmi_tridiag_eig(3, d, e, NULL, 0) == -1, "NaN tridiagonal input not reported");
}

/* The tridiagonal solver on matrices with known eigenpairs:
 * (2, -1) Toeplitz: lambda_k = 2 - 2 cos(k pi / (n + 1)) (k = 1..n), and
 * Wilkinson's W+ (d_i = |i - (n-1)/2|, e = 1), whose largest eigenvalues
 * come in pairs agreeing to ~1e-14 (checked through residual and
 * orthogonality), and a matrix that splits (zero off-diagonal entries). */
static void test_tridiag(void)
{
    enum { N = 101 };
    static double d[N], e[N], d0[N], e0[N], x[N * N], x1[N], res[N];
    for (int kind = 0; kind < 3; kind++) {
        for (int64_t i = 0; i < N; i++) {
            d0[i] = kind == 0 ? 2.0 : kind == 1 ? fabs((double)i - (N - 1) / 2.0) : (double)(i % 7);
            e0[i] = kind == 0 ? -1.0 : kind == 1 ? 1.0 : (i % 10 == 9 ? 0.0 : 0.5);
        }
        memcpy(d, d0, sizeof d);
        memcpy(e, e0, sizeof e);
        memset(x, 0, sizeof x);
        for (int64_t i = 0; i < N; i++)
            x[i * N + i] = 1.0;
        CHECK(hosmi_tridiag_eig(N, d, e, x, N) == 0, "tridiagonal kind %d failed", kind);
        /* residual max_k ||T z_k - d_k z_k|| and orthogonality of the rows */
        double rmax = 0.0, omax = 0.0;
        for (int64_t k = 0; k < N; k++) {
            const double *z = x + k * N;
            for (int64_t i = 0; i < N; i++)
                res[i] = d0[i] * z[i] + (i > 0 ? e0[i - 1] * z[i - 1] : 0.0) +
                         (i + 1 < N ? e0[i] * z[i + 1] : 0.0) - d[k] * z[i];
            rmax = fmax(rmax, frob(res, N));
            for (int64_t j = 0; j <= k; j++) {
                double s = 0.0;
                for (int64_t i = 0; i < N; i++)
                    s += z[i] * x[j * N + i];
                omax = fmax(omax, fabs(s - (j == k)));
            }
        }
        const double scale = kind == 1 ? 50.0 : 6.0; /* ||T||_2 bounds */
        const char *name[] = {"toeplitz(2,-1)", "wilkinson W+", "split"};
        char what[128];
        snprintf(what, sizeof what, "tridiag %s n=101: max ||T z - d z|| / ||T||", name[kind]);
        check_le(what, rmax / scale, 10.0 * N * EPS);
        snprintf(what, sizeof what, "tridiag %s n=101: max |z_i . z_j - delta_ij|", name[kind]);
        check_le(what, omax, 10.0 * N * EPS);
        if (kind == 0) {
            double err = 0.0;
            for (int64_t k = 0; k < N; k++) /* descending: k-th is index N - k */
                err = fmax(err, fabs(d[k] - (2.0 - 2.0 * cos((double)(N - k) * PI / (N + 1)))));
            check_le("tridiag toeplitz(2,-1): max |d_k - lambda_k|", err, 10.0 * N * EPS * 4.0);
        }
        /* x = e_1 (len 1) gives the first entry of each eigenvector: the same
         * rotations, so equal to the bit. */
        memcpy(d, d0, sizeof d);
        memcpy(e, e0, sizeof e);
        memset(x1, 0, sizeof x1);
        x1[0] = 1.0;
        CHECK(hosmi_tridiag_eig(N, d, e, x1, 1) == 0, "tridiagonal len 1 failed");
        int same = 1;
        for (int64_t k = 0; k < N; k++)
            same &= x1[k] == x[k * N];
        CHECK(same, "tridiag %s: Z^T e_1 differs from the first entries", name[kind]);
    }
}

/* Cholesky against a known factor: A = [[4, 12, -16], [12, 37, -43],
 * [-16, -43, 98]] = L L^T with L = [[2, 0, 0], [6, 1, 0], [-8, 5, 3]], all
 * exact in binary, so the factor and log det A = 2 log 6 come out to the
 * rounding of a few operations (bound 1e-14); then a random SPD matrix
 * A = M M^T + n I (n = 50, condition number ~ 10) for solve and inverse
 * (errors ~ cond(A) n eps ~ 1e-13; bound 1e-11). */
static void test_cholesky(trng *r)
{
    double a[9] = {4, 12, -16, 12, 37, -43, -16, -43, 98};
    const double l[9] = {2, 0, 0, 6, 1, 0, -8, 5, 3};
    CHECK(hosmi_chol(a, 3) == 0, "known SPD matrix rejected");
    double err = 0.0;
    for (int i = 0; i < 9; i++)
        err = fmax(err, fabs(a[i] - l[i]));
    check_le("chol 3x3: max |L - L_known|", err, 1e-14);
    check_le("chol 3x3: |logdet - 2 log 6|", fabs(hosmi_chol_logdet(a, 3) - 2.0 * log(6.0)), 1e-14);
    double x[3] = {4 * 1 + 12 * 2 - 16 * 3, 12 * 1 + 37 * 2 - 43 * 3, -16 * 1 - 43 * 2 + 98 * 3};
    hosmi_chol_solve(a, 3, x); /* A (1, 2, 3) */
    check_le("chol 3x3: solve error", fabs(x[0] - 1) + fabs(x[1] - 2) + fabs(x[2] - 3), 1e-12);
    /* Rejections: indefinite, singular, NaN. */
    double ind[4] = {1, 2, 2, 1}, sing[4] = {1, 1, 1, 1}, nan_[4] = {1, 0, NAN, 1};
    CHECK(hosmi_chol(ind, 2) == -1, "indefinite matrix accepted");
    CHECK(hosmi_chol(sing, 2) == -1, "singular matrix accepted");
    CHECK(hosmi_chol(nan_, 2) == -1, "NaN matrix accepted");

    enum { N = 50 };
    static double m[N * N], s[N * N], f[N * N], inv[N * N], work[N * N], b[N], xs[N];
    for (int64_t i = 0; i < N * N; i++)
        m[i] = trng_normal(r) / sqrt((double)N);
    hosmi_dgemm(NULL, 0, 1, N, N, N, 1.0, m, N, m, N, 0.0, s, N);
    for (int64_t i = 0; i < N; i++)
        s[i * N + i] += 1.0;
    memcpy(f, s, sizeof s);
    CHECK(hosmi_chol(f, N) == 0, "random SPD matrix rejected");
    for (int64_t i = 0; i < N; i++) {
        xs[i] = trng_normal(r);
    }
    for (int64_t i = 0; i < N; i++) {
        b[i] = 0.0;
        for (int64_t j = 0; j < N; j++)
            b[i] += s[i * N + j] * xs[j];
    }
    hosmi_chol_solve(f, N, b);
    err = 0.0;
    for (int64_t i = 0; i < N; i++)
        err = fmax(err, fabs(b[i] - xs[i]));
    check_le("chol n=50: max |solve(A x) - x|", err, 1e-11);
    hosmi_chol_inverse(f, N, inv, work);
    hosmi_dgemm(NULL, 0, 0, N, N, N, 1.0, s, N, inv, N, 0.0, m, N);
    for (int64_t i = 0; i < N; i++)
        m[i * N + i] -= 1.0;
    check_le("chol n=50: ||A inv(A) - I||_F", frob(m, N * N), 1e-11);
    /* log det against the product of the eigenvalues */
    double w[N];
    memcpy(m, s, sizeof s);
    CHECK(hosmi_sym_eig(N, m, w, work) == 0, "eig failed");
    double ld = 0.0;
    for (int64_t i = 0; i < N; i++)
        ld += log(w[i]);
    check_le("chol n=50: |logdet - sum log eig| / |logdet|",
             fabs(hosmi_chol_logdet(f, N) - ld) / fabs(ld), 1e-12);
}

typedef struct {
    int64_t n;
    const double *a;
} dense_op;

static void dense_apply(const double *x, double *y, void *ctx)
{
    const dense_op *op = ctx;
    for (int64_t i = 0; i < op->n; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < op->n; j++)
            s += op->a[i * op->n + j] * x[j];
        y[i] = s;
    }
}

/* Top-k by Lanczos against the dense solver, n = 200: a random matrix, a
 * top eigenvalue of multiplicity 100 (REPEATED) and three equal leading
 * values above a spread bulk. Lanczos accepts a pair at residual 1e-7 ||A||,
 * which bounds the eigenvalue error by the same; bounds 1e-6 ||A|| (a
 * skipped copy of a repeated value, or a wrong one, errs by >= 0.2 ||A||). */
static void test_topk(trng *r)
{
    enum { N = 200, K = 6 };
    static double a[N * N], b[N * N], v[N * N], w[N], lambda[N], vals[K], vecs[K * N], y[N];
    for (int kind = 0; kind < 3; kind++) {
        if (kind == 2) {
            for (int64_t i = 0; i < N; i++)
                lambda[i] = i < 3 ? 5.0 : 4.0 * trng_uniform(r);
            memset(a, 0, sizeof a);
            for (int64_t i = 0; i < N; i++)
                a[i * N + i] = lambda[i];
            for (int h = 0; h < 3; h++) {
                for (int64_t i = 0; i < N; i++)
                    y[i] = trng_normal(r);
                reflect(N, a, y, b);
            }
        } else {
            make_matrix(N, kind == 0 ? RANDOM : REPEATED, r, a, lambda);
        }
        memcpy(b, a, sizeof a);
        CHECK(hosmi_sym_eig(N, b, w, v) == 0, "eig failed");
        const double norm = fmax(fabs(w[0]), fabs(w[N - 1]));
        dense_op op = {N, a};
        CHECK(hosmi_lanczos_topk(N, K, dense_apply, &op, vals, vecs) == 0, "topk failed");
        double verr = 0.0, res = 0.0, orth = 0.0;
        for (int64_t c = 0; c < K; c++) {
            verr = fmax(verr, fabs(vals[c] - w[c]));
            dense_apply(vecs + c * N, y, &op);
            for (int64_t i = 0; i < N; i++)
                y[i] -= vals[c] * vecs[c * N + i];
            res = fmax(res, frob(y, N));
            for (int64_t d = 0; d <= c; d++) {
                double s = 0.0;
                for (int64_t i = 0; i < N; i++)
                    s += vecs[c * N + i] * vecs[d * N + i];
                orth = fmax(orth, fabs(s - (c == d)));
            }
        }
        const char *name[] = {"random", "multiplicity 100", "three equal"};
        char what[128];
        snprintf(what, sizeof what, "topk n=200 k=6 %s: max |val - dense| / ||A||", name[kind]);
        check_le(what, verr / norm, 1e-6);
        snprintf(what, sizeof what, "topk n=200 k=6 %s: max ||A v - val v|| / ||A||", name[kind]);
        check_le(what, res / norm, 1e-6);
        snprintf(what, sizeof what, "topk n=200 k=6 %s: max |v_i . v_j - delta_ij|", name[kind]);
        check_le(what, orth, 1e-8);
    }
}

/* An operator whose values overflow the tridiagonal solver (entries near
 * 1e160, as a posterior with sigma = 1e43) is a numerical failure, -2, not
 * a memory one. */
static void test_topk_out_of_range(void)
{
    enum { N = 3 };
    double a[N * N] = {1e160, -9e159, 2e159, -9e159, 8e159, -1e159, 2e159, -1e159, 5e158};
    double vals[1], vecs[N];
    dense_op op = {N, a};
    const int st = hosmi_lanczos_topk(N, 1, dense_apply, &op, vals, vecs);
    CHECK(st == -2, "topk of an out-of-range operator: %d, expected -2", st);
}

/* The Ozaki functions (docs/math.md 8): f(l) = expm1(eps l / 2) / l and
 * sqrt(expm1(eps l) / l), through expm1(x) / x with its series near 0. */
static double expm1_over(double x)
{
    return fabs(x) < 1e-5 ? 1.0 + x / 2.0 + x * x / 6.0 : expm1(x) / x;
}
static double f_drift(double l, void *ctx)
{
    const double eps = *(const double *)ctx;
    return 0.5 * eps * expm1_over(0.5 * eps * l);
}
static double f_noise(double l, void *ctx)
{
    const double eps = *(const double *)ctx;
    return sqrt(eps * expm1_over(eps * l));
}

/* f(A) v by Lanczos against V diag(f(w)) V^T v from the dense solver, n =
 * 300. Spectra (condition number 1000 where nonzero): -[1, 1000] and
 * -[0.001, 1] log-spaced, [-20, 0.5] evenly (mixed signs, values near 0),
 * and three distinct values (the Krylov space is invariant at m = 3, where
 * the result must be exact: bound 1e-12). Called with tol = 1e-7: f is
 * entire, the Lanczos error falls superlinearly, and the returned iterate
 * is better than the last difference; the bound is 1e-5 relative. */
static void test_funm(trng *r)
{
    enum { N = 300 };
    static double a[N * N], b[N * N], v[N * N], w[N], lambda[N], x[N], ref[N], out[N], t[N];
    for (int sp = 0; sp < 4; sp++) {
        for (int64_t i = 0; i < N; i++) {
            const double u = (double)i / (N - 1);
            lambda[i] = sp == 0 ? -pow(10.0, 3.0 * u)
                        : sp == 1 ? -pow(10.0, -3.0 * u)
                        : sp == 2 ? -20.0 + 20.5 * u
                                  : (double)(i % 3) - 2.0;
        }
        memset(a, 0, sizeof a);
        for (int64_t i = 0; i < N; i++)
            a[i * N + i] = lambda[i];
        for (int h = 0; h < 3; h++) {
            for (int64_t i = 0; i < N; i++)
                x[i] = trng_normal(r);
            reflect(N, a, x, t);
        }
        memcpy(b, a, sizeof a);
        CHECK(hosmi_sym_eig(N, b, w, v) == 0, "eig failed");
        for (int64_t i = 0; i < N; i++)
            x[i] = trng_normal(r);
        dense_op op = {N, a};
        for (int e = 0; e < 2; e++)
            for (int fi = 0; fi < 2; fi++) {
                double eps = e ? 1.0 : 0.01;
                double (*f)(double, void *) = fi ? f_noise : f_drift;
                /* ref = V diag(f(w)) V^T x */
                for (int64_t j = 0; j < N; j++) {
                    double s = 0.0;
                    for (int64_t i = 0; i < N; i++)
                        s += v[i * N + j] * x[i];
                    t[j] = s * f(w[j], &eps);
                }
                for (int64_t i = 0; i < N; i++) {
                    double s = 0.0;
                    for (int64_t j = 0; j < N; j++)
                        s += v[i * N + j] * t[j];
                    ref[i] = s;
                }
                int64_t iters = -1;
                int st = hosmi_lanczos_funm(N, dense_apply, &op, f, &eps, x, out, 1e-7, 0, &iters);
                CHECK(st == 0, "funm returned %d", st);
                for (int64_t i = 0; i < N; i++)
                    t[i] = out[i] - ref[i];
                const char *sname[] = {"-[1,1000]", "-[1e-3,1]", "[-20,0.5]", "3 values"};
                char what[128];
                snprintf(what, sizeof what, "funm n=300 %s eps=%g %s (m = %lld): rel. error",
                         sname[sp], eps, fi ? "sqrt(expm1(eps l)/l)" : "expm1(eps l/2)/l",
                         (long long)iters);
                check_le(what, frob(t, N) / frob(ref, N), sp == 3 ? 1e-12 : 1e-5);
                if (sp == 3)
                    CHECK(iters == 3, "invariant space not detected at m = 3 (m = %lld)",
                          (long long)iters);
            }
    }
    /* v = 0 gives 0; max_iter reached gives 1 with the best iterate so far. */
    double eps = 1.0;
    dense_op op = {N, a};
    memset(x, 0, sizeof x);
    CHECK(hosmi_lanczos_funm(N, dense_apply, &op, f_drift, &eps, x, out, 1e-7, 0, NULL) == 0 &&
              frob(out, N) == 0.0,
          "f(A) 0 is not 0");
}

int main(void)
{
    trng r = {20240611};
    const int64_t sizes[] = {1, 2, 8, 64, 256, 784};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int sp = RANDOM; sp <= GRADED; sp++)
            test_sym_eig(sizes[i], (spectrum)sp, &r);
    test_sym_eig_nonfinite();
    test_tridiag();
    test_cholesky(&r);
    test_topk(&r);
    test_topk_out_of_range();
    test_funm(&r);
    return finish("test_linalg");
}
