/* Dense linear algebra in double precision: Cholesky, the symmetric
 * eigensolver, Lanczos bases and what is built on them. Matrices are
 * row-major and n x n unless said otherwise. Not API. */
#ifndef HOSM_LINALG_H
#define HOSM_LINALG_H

#include "core/internal.h"

/* ---- Cholesky (chol.c) ---------------------------------------------------- */

/* In-place lower Cholesky factor L (A = L L^T) of the symmetric a (only the
 * lower triangle is read; the strict upper triangle is zeroed). Returns 0,
 * or -1 when a is not numerically positive definite: a pivot that is not
 * positive and finite, or below n * eps times its diagonal entry. */
int hosmi_chol(double *a, int64_t n);
/* x <- A^-1 x from the factor l of A (forward, then backward substitution). */
void hosmi_chol_solve(const double *l, int64_t n, double *x);
/* inv = (L L^T)^-1, exactly symmetric; work holds n * n doubles (it receives
 * L^-T). inv must not alias l or work. */
void hosmi_chol_inverse(const double *l, int64_t n, double *inv, double *work);
/* log det(L L^T) = 2 sum_i log l_ii. */
double hosmi_chol_logdet(const double *l, int64_t n);

/* ---- symmetric eigensolvers (eig.c) ------------------------------------- */

/* Sorts count eigenpairs into descending order of vals; entry t of vector i
 * is vecs[i * vec_step + t * elem_step], len entries a vector. */
void hosmi_sort_pairs(int64_t count, double *vals, double *vecs, int64_t len, int64_t vec_step,
                      int64_t elem_step);

/* Eigen-decomposition of the symmetric n x n matrix a (lower triangle read;
 * a is destroyed) by Householder tridiagonalisation and implicit QL with
 * Wilkinson shifts: eigenvalues into w in descending order, unit
 * eigenvectors into the columns of v (v[i * n + j] is entry i of vector j).
 * Allocates nothing. Returns 0, or -1 when a holds NaN or Inf or the
 * iteration does not converge (w and v are then NaN). */
int hosmi_sym_eig(int64_t n, double *a, double *w, double *v);

/* Eigen-decomposition of the symmetric tridiagonal n x n matrix T with
 * diagonal d (n) and off-diagonal e (n - 1; destroyed) by implicit QL with
 * Wilkinson shifts, T = Z diag(d) Z^T: eigenvalues into d in descending
 * order. x (n x len, row-major; NULL when len is 0) is replaced by Z^T x,
 * with the rows in the order of d: x = I gives the unit eigenvectors as
 * rows; x = e_1 (len 1) gives the first entry of each. Allocates nothing.
 * Returns 0, or -1 when the iteration does not converge (NaN input). */
int hosmi_tridiag_eig(int64_t n, double *d, double *e, double *x, int64_t len);

/* out = V diag(f) V^T for v as hosmi_sym_eig returns it (vectors as
 * columns), as one GEMM on V with scaled columns; out is made exactly
 * symmetric. work holds n * n doubles; out aliases neither v nor work. */
void hosmi_sym_rebuild(const hosmi_blas *blas, int64_t n, const double *v, const double *f,
                       double *out, double *work);

/* ---- Lanczos (lanczos.c) ------------------------------------------------- */

/* y = A x for a symmetric operator of dimension n. */
typedef void (*hosmi_apply_fn)(const double *x, double *y, void *ctx);

/* An orthonormal basis q_0 .. q_{m-1} (the rows of q, each n entries) of the
 * Krylov space of A from a start vector, kept orthogonal to ndefl deflation
 * rows (the space is then that of P A P, P the projector onto their
 * complement), with the tridiagonal T_m = Q^T A Q: diagonal alpha (m) and
 * off-diagonal beta (beta[j] couples q_j and q_{j+1}; beta[m-1] is the norm
 * of the last residual). Every new vector is reorthogonalised against all
 * earlier ones and the deflation rows (classical Gram-Schmidt, twice). */
typedef struct {
    int64_t n, m;      /* dimension; vectors built */
    int64_t limit;     /* the most there can be: n - ndefl */
    int64_t cap;       /* rows allocated in q (plus one) */
    double *q, *alpha, *beta, *w;
    const double *defl; /* ndefl rows (n entries, orthonormal), not owned */
    int64_t ndefl;
    double norm0;      /* norm of the start vector's part orthogonal to defl */
    double scale;      /* largest |alpha_j|, beta_j seen: a lower bound of ||P A P|| */
    int invariant;     /* 1 once A Q_m = Q_m T_m: beta[m-1] <= 1e-10 scale, or m = limit */
} hosmi_krylov;

/* Starts a basis from start (n; its part orthogonal to the deflation rows,
 * normalised, becomes q_0). Returns 0; 1 when nothing of start is left (the
 * part has norm <= 1e-8 ||start|| or limit = 0: the basis is empty and
 * invariant, norm0 is 0); -1 without memory. Free with hosmi_krylov_free
 * after 0 or 1. */
int hosmi_krylov_init(hosmi_krylov *kr, int64_t n, const double *defl, int64_t ndefl,
                      const double *start);
/* Extends the basis to min(m, limit) vectors, or fewer when it becomes
 * invariant (then kr->invariant is 1). One product with A a vector. 0, or
 * -1 without memory. */
int hosmi_krylov_extend(hosmi_krylov *kr, hosmi_apply_fn apply, void *ctx, int64_t m);
/* out (n) = Q_m^T y = sum_j y_j q_j, y with kr->m entries. */
void hosmi_krylov_combine(const hosmi_krylov *kr, const double *y, double *out);
/* Frees the basis (NULL-safe fields; the struct itself is the caller's). */
void hosmi_krylov_free(hosmi_krylov *kr);

/* The k largest eigenpairs of a symmetric operator by Lanczos with full
 * reorthogonalisation and deflation (each run from a fresh random start in
 * the complement of the pairs found; its top Ritz pair is accepted once the
 * residual |beta_m y_m| <= 1e-7 max(|lambda_1|, |theta|), or exactly on an
 * invariant space): vals (k, descending), vecs (k x n, unit rows). Returns
 * 0, -1 when memory runs out, or -2 when the tridiagonal eigenproblem does
 * not converge (the operator's values are not finite or out of range). */
int hosmi_lanczos_topk(int64_t n, int64_t k, hosmi_apply_fn apply, void *ctx, double *vals,
                       double *vecs);

/* out ~ f(A) v = ||v|| Q_m f(T_m) e_1 for a symmetric operator A and a scalar
 * function f (called as f(lambda, fctx) on the Ritz values). The Krylov
 * dimension m grows by one up to 16 and by m/8 after that; with x_m the
 * approximation at dimension m and x_p the one before, it stops when
 * ||x_m - x_p|| <= tol ||x_m|| (computed exactly in the coefficients, as Q is
 * orthonormal) at two dimensions in a row while f takes more than one value
 * on the Ritz values (a function flat over all of them, such as a clamp
 * above them, stalls the iterates without converging), or when the Krylov
 * space is invariant (then x_m = f(A) v up to rounding). For f analytic on the spectrum the error falls
 * superlinearly, so the difference bounds the error of x_p and the returned
 * x_m is better still. m never exceeds max_iter (n when max_iter < 1 or
 * > n). *iters (if not NULL) receives m. Returns 0 on convergence (and for
 * v = 0: out = 0), 1 when max_iter is reached first (out holds x_m), -1
 * without memory or with a non-finite f or T (out is then not set). out must
 * not alias v. */
int hosmi_lanczos_funm(int64_t n, hosmi_apply_fn apply, void *ctx, double (*f)(double, void *),
                       void *fctx, const double *v, double *out, double tol, int64_t max_iter,
                       int64_t *iters);

#endif
