/* The Gaussian-mixture oracle's handle, shared by its files. */
#ifndef HOSM_MIXTURE_H
#define HOSM_MIXTURE_H

#include "core/internal.h"

struct hosm_mixture {
    uint32_t magic;   /* HOSMI_HANDLE_MIXTURE */
    int64_t k;        /* number of components */
    int64_t dim;      /* dimension D */
    double *logw;     /* k: log of the normalised weights */
    double *cumw;     /* k: cumulative normalised weights, last = 1 */
    double *mu;       /* k x D means */
    double *cov;      /* k x D x D covariances (symmetrised) */
    double *chol;     /* k x D x D lower Cholesky factors of cov (upper part 0) */
    char errmsg[HOSMI_MSG_CAP];
};

/* Dot product with four partial sums (independent chains keep the FPU busy). */
double hosmi_mix_dot(const double *a, const double *b, int64_t n);

#endif
