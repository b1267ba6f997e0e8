/* Shared parts of hosm_mpi_train and hosm_mpi_check (see common.h). */
#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char mpi_opts_usage[] =
    "  --config TEXT      libhosm config, e.g. \"hidden=512 depth=2 s2=diag batch=1024 steps=100\"\n"
    "                     (\"batch\" is the global batch of a step, split over the ranks)\n"
    "  --data FILE        raw float32 data set, n x D row-major (needs --dim)\n"
    "  --mixture K        or generate a K-component Gaussian mixture (needs --dim, --n)\n"
    "  --dim D            data dimension\n"
    "  --n N              points to generate (default 10000)\n"
    "  --data-seed S      seed of the generated data (default 1)\n"
    "  --noise MODE       rank (default): rank r draws from stream r;\n"
    "                     blocks: block j of 32 points draws from stream j (independent of the\n"
    "                     number of ranks). Both reseed every step from (seed, step).\n";

static int errf(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* The last libhosm failure as "what: status: message". */
static int hosm_err(char *err, size_t len, const char *what, int st)
{
    return errf(err, len, "%s: %s: %s", what, hosm_strerror(st), hosm_last_errmsg());
}

void mpi_opts_default(mpi_opts *o)
{
    memset(o, 0, sizeof *o);
    o->config = "";
    o->n = 10000;
    o->data_seed = 1;
    o->noise = MPI_NOISE_RANK;
}

static int parse_i64(const char *s, int64_t lo, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo)
        return -1;
    *out = v;
    return 0;
}

int mpi_opts_arg(mpi_opts *o, int argc, char **argv, int *i, char *err, size_t errlen)
{
    static const char *const names[] = {"--config", "--data", "--dim",  "--mixture",
                                        "--n",      "--data-seed", "--noise"};
    const char *a = argv[*i];
    size_t k = 0;
    while (k < sizeof names / sizeof names[0] && strcmp(a, names[k]) != 0)
        k++;
    if (k == sizeof names / sizeof names[0])
        return 0;
    if (*i + 1 >= argc)
        return errf(err, errlen, "%s needs a value", a);
    const char *v = argv[++*i];
    int bad = 0;
    switch (k) {
    case 0: o->config = v; break;
    case 1: o->data_path = v; break;
    case 2: bad = parse_i64(v, 1, &o->dim); break;
    case 3: bad = parse_i64(v, 1, &o->mixture); break;
    case 4: bad = parse_i64(v, 1, &o->n); break;
    case 5: bad = parse_i64(v, 0, &o->data_seed); break;
    default:
        if (!strcmp(v, "rank"))
            o->noise = MPI_NOISE_RANK;
        else if (!strcmp(v, "blocks"))
            o->noise = MPI_NOISE_BLOCKS;
        else
            bad = 1;
    }
    return bad ? errf(err, errlen, "%s: bad value '%s'", a, v) : 1;
}

hosm_config *mpi_config(const mpi_opts *o, char *err, size_t errlen)
{
    hosm_config *cfg = NULL;
    int st = hosm_config_new(&cfg);
    if (!st)
        st = hosm_config_parse(cfg, o->config);
    if (st) {
        hosm_err(err, errlen, "--config", st);
        hosm_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static int read_raw(const char *path, int64_t dim, float **data, int64_t *n, char *err,
                    size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errf(err, errlen, "%s: %s", path, strerror(errno));
    long bytes = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        bytes = ftell(f);
    rewind(f);
    const int64_t row = dim * (int64_t)sizeof(float);
    if (bytes <= 0 || bytes % row) {
        fclose(f);
        return errf(err, errlen, "%s: %ld bytes is not a positive multiple of D * 4 = %lld", path,
                    bytes, (long long)row);
    }
    *n = bytes / row;
    *data = malloc((size_t)bytes);
    if (!*data || fread(*data, 1, (size_t)bytes, f) != (size_t)bytes) {
        fclose(f);
        free(*data);
        *data = NULL;
        return errf(err, errlen, "%s: cannot read %ld bytes", path, bytes);
    }
    fclose(f);
    return 0;
}

/* K components, means 2 N(0, I) (drawn from a one-component mixture),
 * covariances 0.25 I, equal weights; n draws from data_seed. */
static int generate(const mpi_opts *o, float **data, char *err, size_t errlen)
{
    const int64_t K = o->mixture, D = o->dim;
    double *w = malloc((size_t)K * sizeof *w), *mu = calloc((size_t)(K * D), sizeof *mu);
    double *cov = calloc((size_t)(K * D * D), sizeof *cov);
    float *fmu = malloc((size_t)(K * D) * sizeof *fmu);
    *data = malloc((size_t)(o->n * D) * sizeof **data);
    hosm_mixture *mix = NULL;
    int st = HOSM_E_NOMEM, rc = -1;
    if (!w || !mu || !cov || !fmu || !*data) {
        errf(err, errlen, "generating the data: out of memory");
        goto out;
    }
    double one = 1;
    for (int64_t a = 0; a < D; a++)
        cov[a * D + a] = 4; /* the means' distribution: N(0, 4 I) */
    st = hosm_mixture_new(&mix, 1, D, &one, mu, cov);
    if (!st)
        st = hosm_mixture_sample(mix, (uint64_t)o->data_seed ^ 0x6d65616e73ULL, K, fmu);
    hosm_mixture_free(mix);
    mix = NULL;
    if (st) {
        hosm_err(err, errlen, "generating the means", st);
        goto out;
    }
    for (int64_t k = 0; k < K; k++) {
        w[k] = 1;
        for (int64_t a = 0; a < D; a++) {
            mu[k * D + a] = fmu[k * D + a];
            cov[(k * D + a) * D + a] = 0.25;
        }
    }
    st = hosm_mixture_new(&mix, K, D, w, mu, cov);
    if (!st)
        st = hosm_mixture_sample(mix, (uint64_t)o->data_seed, o->n, *data);
    if (st)
        hosm_err(err, errlen, "generating the data", st);
    else
        rc = 0;
out:
    hosm_mixture_free(mix);
    free(w);
    free(mu);
    free(cov);
    free(fmu);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

int mpi_data_load(const mpi_opts *o, float **data, int64_t *n, int64_t *dim, char *err,
                  size_t errlen)
{
    *data = NULL;
    if (o->dim < 1)
        return errf(err, errlen, "--dim is required");
    if (!o->data_path == !o->mixture)
        return errf(err, errlen, "give exactly one of --data FILE and --mixture K");
    *dim = o->dim;
    if (o->data_path)
        return read_raw(o->data_path, o->dim, data, n, err, errlen);
    *n = o->n;
    return generate(o, data, err, errlen);
}

static uint64_t splitmix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int64_t mpi_noise_seed(int64_t seed, int64_t step)
{
    return (int64_t)(splitmix64((uint64_t)seed ^ splitmix64((uint64_t)step)) >> 1);
}

/* Copies the key `key` (int or double) from src to dst. */
static int copy_key(hosm_config *dst, const hosm_config *src, int key)
{
    int type, st = hosm_config_key_type(key, &type);
    if (st)
        return st;
    if (type == HOSM_TYPE_INT) {
        int64_t v;
        st = hosm_config_get_int(src, key, &v);
        return st ? st : hosm_config_set_int(dst, key, v);
    }
    double v;
    st = hosm_config_get_double(src, key, &v);
    return st ? st : hosm_config_set_double(dst, key, v);
}

int mpi_noise_init(mpi_noise *nz, const hosm_config *run_cfg, int64_t dim, int mode, char *err,
                   size_t errlen)
{
    memset(nz, 0, sizeof *nz);
    nz->dim = dim;
    nz->mode = mode;
    static const int keys[] = {HOSM_KEY_LEVELS, HOSM_KEY_SIGMA, HOSM_KEY_SIGMA_MAX,
                               HOSM_KEY_SIGMA_MIN};
    int st = hosm_config_new(&nz->cfg);
    for (size_t k = 0; !st && k < sizeof keys / sizeof keys[0]; k++)
        st = copy_key(nz->cfg, run_cfg, keys[k]);
    if (!st)
        st = hosm_config_get_int(run_cfg, HOSM_KEY_SEED, &nz->seed);
    if (!st)
        st = hosm_config_get_int(run_cfg, HOSM_KEY_LEVELS, &nz->levels);
    /* The draws depend only on D and the ladder: the network can be tiny. */
    if (!st)
        st = hosm_config_parse(nz->cfg, "hidden=1 depth=1 s2=none");
    if (!st)
        st = hosm_model_new(&nz->model, dim, nz->cfg);
    if (st)
        return hosm_err(err, errlen, "the noise source", st);
    nz->block_noise = malloc((size_t)(MPI_NOISE_BLOCK * dim) * sizeof(float));
    nz->block_levels = malloc(MPI_NOISE_BLOCK * sizeof(int64_t));
    if (!nz->block_noise || !nz->block_levels)
        return errf(err, errlen, "the noise source: out of memory");
    return 0;
}

/* n points of stream `stream` of step `step`'s generator. */
static int draw(mpi_noise *nz, int64_t step, int64_t stream, int64_t n, float *noise,
                int64_t *levels, char *err, size_t errlen)
{
    hosm_trainer *t = NULL;
    int st = hosm_config_set_int(nz->cfg, HOSM_KEY_SEED, mpi_noise_seed(nz->seed, step));
    if (!st)
        st = hosm_config_set_int(nz->cfg, HOSM_KEY_STREAM, stream);
    if (!st)
        st = hosm_trainer_new(&t, nz->model, nz->cfg);
    if (!st)
        st = hosm_trainer_draw_noise(t, n, noise, levels);
    hosm_trainer_free(t);
    return st ? hosm_err(err, errlen, "drawing the noise", st) : 0;
}

int mpi_noise_draw(mpi_noise *nz, int64_t step, int64_t parts, int64_t part, int64_t begin,
                   int64_t end, float *noise, int64_t *levels, char *err, size_t errlen)
{
    (void)parts;
    if (end <= begin)
        return 0;
    if (nz->mode == MPI_NOISE_RANK)
        return draw(nz, step, part, end - begin, noise, levels, err, errlen);
    const int64_t D = nz->dim;
    for (int64_t j = begin / MPI_NOISE_BLOCK; j * MPI_NOISE_BLOCK < end; j++) {
        const int64_t b0 = j * MPI_NOISE_BLOCK;
        if (draw(nz, step, j, MPI_NOISE_BLOCK, nz->block_noise, nz->block_levels, err, errlen))
            return -1;
        const int64_t lo = b0 > begin ? b0 : begin;
        const int64_t hi = b0 + MPI_NOISE_BLOCK < end ? b0 + MPI_NOISE_BLOCK : end;
        memcpy(noise + (lo - begin) * D, nz->block_noise + (lo - b0) * D,
               (size_t)((hi - lo) * D) * sizeof(float));
        memcpy(levels + (lo - begin), nz->block_levels + (lo - b0),
               (size_t)(hi - lo) * sizeof(int64_t));
    }
    return 0;
}

void mpi_noise_free(mpi_noise *nz)
{
    hosm_model_free(nz->model);
    hosm_config_free(nz->cfg);
    free(nz->block_noise);
    free(nz->block_levels);
    memset(nz, 0, sizeof *nz);
}

uint64_t mpi_hash_floats(const float *x, int64_t n)
{
    const unsigned char *p = (const unsigned char *)x;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int64_t i = 0; i < n * (int64_t)sizeof(float); i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}
