/* Shared by hosm_mpi_train (the MPI trainer) and hosm_mpi_check (its
 * single-process reference and checkpoint checks): the data set, the
 * command-line options both take, and the noise of a step.
 *
 * Nothing here uses MPI: the reference replays a data-parallel run in one
 * process with exactly the draws the ranks made (docs/scaling.md). */
#ifndef HOSM_MPI_COMMON_H
#define HOSM_MPI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <hosm.h>

/* How the noise of a step is drawn (docs/scaling.md#noise-streams). */
enum mpi_noise_mode {
    /* Rank r of R draws the levels and noise of all its points from stream r
     * of a generator seeded from (seed, step). Results depend on R. */
    MPI_NOISE_RANK = 0,
    /* Block j of MPI_NOISE_BLOCK points of the global batch is drawn from
     * stream j of a generator seeded from (seed, step), whichever rank holds
     * it. Results do not depend on R (beyond float rounding). */
    MPI_NOISE_BLOCKS = 1
};
#define MPI_NOISE_BLOCK 32

/* The options both programs take. */
typedef struct mpi_opts {
    const char *config;     /* --config TEXT (hosm_config_parse) */
    const char *data_path;  /* --data FILE: raw float32, n x D */
    int64_t dim;            /* --dim D */
    int64_t mixture;        /* --mixture K: generate K components instead */
    int64_t n;              /* --n N: points generated */
    int64_t data_seed;      /* --data-seed S */
    int noise;              /* --noise rank|blocks */
} mpi_opts;

void mpi_opts_default(mpi_opts *o);
/* If argv[*i] is one of the shared options, consume it (and its value) and
 * return 1; 0 if it is not; -1 (with a message in err) on a bad value. */
int mpi_opts_arg(mpi_opts *o, int argc, char **argv, int *i, char *err, size_t errlen);
/* The usage text of the shared options. */
extern const char mpi_opts_usage[];

/* The data set: read from --data or drawn from a Gaussian mixture with
 * hosm_mixture_* (means 2 N(0, I), covariances 0.25 I, equal weights,
 * draws from --data-seed). *data is malloc'ed. 0 or -1 with err. */
int mpi_data_load(const mpi_opts *o, float **data, int64_t *n, int64_t *dim, char *err,
                  size_t errlen);

/* The parsed config, or NULL with err. */
hosm_config *mpi_config(const mpi_opts *o, char *err, size_t errlen);

/* The seed of step `step`'s noise generators: splitmix64(seed ^
 * splitmix64(step)) >> 1 (a valid "seed", 0..2^63-1). */
int64_t mpi_noise_seed(int64_t seed, int64_t step);

/* The noise source: a one-unit model of the run's dimension and noise
 * ladder, on which a fresh trainer with the step's seed and a stream is
 * created for every draw. */
typedef struct mpi_noise {
    hosm_config *cfg;
    hosm_model *model;
    int64_t seed, dim, levels;
    int mode;
    float *block_noise;
    int64_t *block_levels;
} mpi_noise;

int mpi_noise_init(mpi_noise *nz, const hosm_config *run_cfg, int64_t dim, int mode, char *err,
                   size_t errlen);
/* The levels and noise of the points [begin, end) of step `step`'s global
 * batch, held by part `part` of `parts` (used by MPI_NOISE_RANK only). */
int mpi_noise_draw(mpi_noise *nz, int64_t step, int64_t parts, int64_t part, int64_t begin,
                   int64_t end, float *noise, int64_t *levels, char *err, size_t errlen);
void mpi_noise_free(mpi_noise *nz);

/* FNV-1a over the bytes of n floats: replicas must agree bit for bit. */
uint64_t mpi_hash_floats(const float *x, int64_t n);

#endif
