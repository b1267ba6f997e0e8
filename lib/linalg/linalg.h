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

/* The k largest eigenpairs of a symmetric operator by Lanczos with full
 * reorthogonalisation (restarted with a fresh direction on an invariant
 * subspace): vals (k, descending), vecs (k x n, unit rows). Returns 0, or
 * -1 when memory runs out. */
int hosmi_lanczos_topk(int64_t n, int64_t k, hosmi_apply_fn apply, void *ctx, double *vals,
                       double *vecs);

#endif
