/*
 * s2_memory: memory and time of a training step with a diagonal and a
 * low-rank (r = 50) s2 at D = 784, against an s1-only DSM step.
 *
 *   usage: s2_memory [--steps 20] [--batch 128] [--hidden 256] [--depth 2]
 *                    [--rank 50] [--threads 1] [--data DIR] [--synthetic]
 *
 * Data: Fashion-MNIST's training images (60000 x 784, scaled to [0, 1]) if
 * DIR/train-images-idx3-ubyte(.gz) exists (DIR defaults to
 * /usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist; a .gz
 * file is read through "gzip -dc"); otherwise, or with --synthetic, 10000
 * synthetic 28 x 28 images in [0, 1] (sums of three random plane waves,
 * clipped). The output says which was used. Time and memory do not depend
 * on the pixel values.
 *
 * Each case runs in a fresh child process (fork before anything is loaded),
 * so that peak resident sizes do not mix:
 *   data only         loads the data and stops (the baseline resident size);
 *   s1 only, DSM      s2=none, objective=dsm;
 *   diag, D2SM(-VR)   s2=diag, objective=dsm, s2_objective=d2sm (d2sm_vr);
 *   lowrank, D2SM(-VR) s2=lowrank rank=r, the same objectives.
 * A child creates the model and the trainer, takes 2 warm-up steps and then
 * --steps timed hosm_trainer_step() calls on consecutive batches, and reports
 * the median step time and getrusage(RUSAGE_SELF).ru_maxrss.
 *
 * Printed per case:
 *   peak RSS          ru_maxrss of the child, and minus the data-only child;
 *   computed          the bytes the library allocates for this model and
 *                     trainer, from the sizes (params; Adam state, gradient and
 *                     EMA; the trainer's step workspace, which holds 3 network
 *                     rows per point); see model_bytes() below;
 *   B x D x D         the bytes of ONE B x D x D float tensor, what an
 *                     implementation that materialises the s2 (or the D2SM
 *                     residual) per batch needs at the least;
 *   step time         median (min-max) and the ratio to the s1-only step of
 *                     the same run.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hosm.h>

#define D 784
#define MAXSTEPS 1000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- options --------------------------------------------------------------- */

typedef struct {
    int steps, threads, synthetic;
    int64_t batch, hidden, depth, rank;
    char dir[512];
} options;

/* ---- data ------------------------------------------------------------------ */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Fashion-MNIST training images as n x 784 floats in [0, 1], or NULL. */
static float *load_fashion(const char *dir, int64_t *n, char *what, size_t cap)
{
    char path[600], cmd[700];
    struct stat st;
    FILE *f = NULL;
    int piped = 0;
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    if (stat(path, &st) == 0) {
        f = fopen(path, "rb");
    } else {
        snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
        if (stat(path, &st) == 0) {
            snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
            f = popen(cmd, "r");
            piped = 1;
        }
    }
    if (!f)
        return NULL;
    unsigned char head[16];
    float *x = NULL;
    unsigned char *row = malloc(D);
    if (fread(head, 1, 16, f) == 16 && be32(head) == 0x803 && be32(head + 8) == 28 &&
        be32(head + 12) == 28 && row) {
        int64_t count = be32(head + 4);
        x = malloc(sizeof(float) * (size_t)(count * D));
        for (int64_t i = 0; x && i < count; i++) {
            if (fread(row, 1, D, f) != D) {
                free(x);
                x = NULL;
                break;
            }
            for (int j = 0; j < D; j++)
                x[i * D + j] = row[j] / 255.0f;
        }
        if (x) {
            *n = count;
            snprintf(what, cap, "Fashion-MNIST (%.150s, %lld images)", path, (long long)count);
        }
    }
    free(row);
    if (piped)
        pclose(f);
    else
        fclose(f);
    return x;
}

/* splitmix64 uniform in (0, 1). */
static double unif(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static float *synthetic(int64_t *n, char *what, size_t cap)
{
    const int64_t count = 10000;
    float *x = malloc(sizeof(float) * (size_t)(count * D));
    if (!x)
        return NULL;
    uint64_t s = 42;
    for (int64_t i = 0; i < count; i++) {
        double a[3], fx[3], fy[3], ph[3];
        for (int k = 0; k < 3; k++) {
            a[k] = 0.3 * unif(&s);
            fx[k] = 0.6 * (unif(&s) - 0.5);
            fy[k] = 0.6 * (unif(&s) - 0.5);
            ph[k] = 6.283185307179586 * unif(&s);
        }
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++) {
                double v = 0.5;
                for (int k = 0; k < 3; k++)
                    v += a[k] * cos(fx[k] * r + fy[k] * c + ph[k]);
                x[i * D + r * 28 + c] = (float)(v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v);
            }
    }
    *n = count;
    snprintf(what, cap, "synthetic (10000 images of 3 plane waves; Fashion-MNIST not found)");
    return x;
}

/* ---- the bytes the library needs, from the sizes ---------------------------- */

static int64_t mlp_params(int64_t in, int64_t h, int64_t depth, int64_t out)
{
    return h * (in + 1) + (depth - 1) * h * (h + 1) + out * (h + 1);
}

/* Mirrors hosm_model_new (parameters) and the trainer (gradient, two Adam
 * moments, EMA: 4 more copies; the step workspace of trainer.c reserve():
 * 3 n rows through each network, (2 depth + 2) x rows x hidden floats of
 * MLP workspace plus a rows x D copy of its input per network, rows x D
 * inputs, outputs and output gradients,
 * rows x outputs of s2 outputs and their gradients, the batch and its noise,
 * the low-rank Gram workspace and the level indices). */
static void model_bytes(int s2, int64_t r, const options *o, int64_t *params_b, int64_t *ws_b)
{
    const int64_t n = o->batch, H = o->hidden, L = o->depth, rows = 3 * n, c = r + 1;
    const int64_t out2 = s2 == HOSM_S2_DIAG ? D : s2 == HOSM_S2_LOWRANK ? D * (r + 1) : 0;
    int64_t P = mlp_params(D, H, L, D) + (s2 ? mlp_params(D, H, L, out2) : 0);
    *params_b = 5 * 4 * P;
    int64_t f = ((2 * L + 2) * rows * H + rows * D) * (s2 ? 2 : 1) /* MLP workspaces */
                + 3 * rows * D                       /* rows in, out, dout */
                + (s2 ? 2 * rows * out2 : 0)         /* s2 outputs and gradients */
                + 2 * n * D + 3 * D                  /* noise, batch, point vectors */
                + (s2 == HOSM_S2_LOWRANK ? 2 * D * c + c * c + c : 1);
    *ws_b = 4 * f + 8 * (rows + n);
}

/* ---- one case in a child process ------------------------------------------- */

typedef struct {
    int ok;
    long maxrss_kb;
    double median, lo, hi; /* seconds per step */
    int64_t params_b, ws_b, nparams;
    char data[200];
} report;

typedef struct {
    const char *name, *cfg; /* cfg NULL: data only */
    int s2;
} kase;

static report run_case(const kase *k, const options *o)
{
    report rep = {0};
    int64_t n = 0;
    float *x = o->synthetic ? NULL : load_fashion(o->dir, &n, rep.data, sizeof rep.data);
    if (!x) {
        x = synthetic(&n, rep.data, sizeof rep.data);
        if (x && o->synthetic)
            snprintf(rep.data, sizeof rep.data,
                     "synthetic (10000 images of 3 plane waves; --synthetic)");
    }
    if (!x)
        return rep;
    if (k->cfg) {
        char text[512];
        snprintf(text, sizeof text,
                 "%s hidden=%lld depth=%lld act=softplus sigma=0.1 rank=%lld lr=1e-4 "
                 "batch=%lld seed=1 threads=%d",
                 k->cfg, (long long)o->hidden, (long long)o->depth, (long long)o->rank,
                 (long long)o->batch, o->threads);
        hosm_config *cfg = NULL;
        hosm_model *m = NULL;
        hosm_trainer *t = NULL;
        int st = hosm_config_new(&cfg);
        if (!st)
            st = hosm_config_parse(cfg, text);
        if (!st)
            st = hosm_model_new(&m, D, cfg);
        if (!st)
            st = hosm_trainer_new(&t, m, cfg);
        double times[MAXSTEPS];
        for (int s = 0; !st && s < o->steps + 2; s++) {
            const int64_t start = ((int64_t)s * o->batch) % (n - o->batch + 1);
            double t0 = now();
            st = hosm_trainer_step(t, x + start * D, o->batch, NULL);
            if (s >= 2)
                times[s - 2] = now() - t0;
        }
        if (st) {
            fprintf(stderr, "%s: %s (%s)\n", k->name, hosm_strerror(st), hosm_last_errmsg());
            return rep;
        }
        hosm_model_num_params(m, &rep.nparams);
        qsort(times, (size_t)o->steps, sizeof *times, cmp_double);
        rep.lo = times[0];
        rep.hi = times[o->steps - 1];
        rep.median = o->steps % 2 ? times[o->steps / 2]
                                  : 0.5 * (times[o->steps / 2 - 1] + times[o->steps / 2]);
        model_bytes(k->s2, o->rank < D ? o->rank : D, o, &rep.params_b, &rep.ws_b);
        hosm_trainer_free(t);
        hosm_model_free(m);
        hosm_config_free(cfg);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    rep.maxrss_kb = ru.ru_maxrss;
    rep.ok = 1;
    free(x);
    return rep;
}

static report in_child(const kase *k, const options *o)
{
    report rep = {0};
    int fd[2];
    fflush(stdout);
    if (pipe(fd) != 0)
        return rep;
    pid_t pid = fork();
    if (pid < 0)
        return rep;
    if (pid == 0) {
        close(fd[0]);
        report r = run_case(k, o);
        ssize_t w = write(fd[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fd[1]);
    size_t got = 0;
    while (got < sizeof rep) {
        ssize_t g = read(fd[0], (char *)&rep + got, sizeof rep - got);
        if (g <= 0) {
            if (g < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)g;
    }
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    if (got != sizeof rep || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        rep.ok = 0;
    return rep;
}

static double mib(double bytes)
{
    return bytes / (1024.0 * 1024.0);
}

int main(int argc, char **argv)
{
    options o = {.steps = 20, .threads = 1, .batch = 128, .hidden = 256, .depth = 2, .rank = 50,
                 .dir = "/usr/share/datasets/fashion-mnist"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--synthetic")) {
            o.synthetic = 1;
            continue;
        }
        if (!v)
            goto usage;
        i++;
        if (!strcmp(a, "--steps"))
            o.steps = atoi(v);
        else if (!strcmp(a, "--batch"))
            o.batch = atoll(v);
        else if (!strcmp(a, "--hidden"))
            o.hidden = atoll(v);
        else if (!strcmp(a, "--depth"))
            o.depth = atoll(v);
        else if (!strcmp(a, "--rank"))
            o.rank = atoll(v);
        else if (!strcmp(a, "--threads"))
            o.threads = atoi(v);
        else if (!strcmp(a, "--data"))
            snprintf(o.dir, sizeof o.dir, "%s", v);
        else
            goto usage;
    }
    if (o.steps < 1 || o.steps > MAXSTEPS || o.batch < 1 || o.batch > 10000 || o.hidden < 1 ||
        o.depth < 1 || o.rank < 1 || o.threads < 1)
        goto usage;

    const kase cases[] = {
        {"data only", NULL, HOSM_S2_NONE},
        {"s1 only, DSM", "s2=none objective=dsm", HOSM_S2_NONE},
        {"diag, D2SM", "s2=diag objective=dsm s2_objective=d2sm", HOSM_S2_DIAG},
        {"diag, D2SM-VR", "s2=diag objective=dsm s2_objective=d2sm_vr", HOSM_S2_DIAG},
        {"lowrank, D2SM", "s2=lowrank objective=dsm s2_objective=d2sm", HOSM_S2_LOWRANK},
        {"lowrank, D2SM-VR", "s2=lowrank objective=dsm s2_objective=d2sm_vr", HOSM_S2_LOWRANK},
    };
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    report rep[sizeof cases / sizeof cases[0]];
    for (int c = 0; c < ncases; c++) {
        rep[c] = in_child(&cases[c], &o);
        if (!rep[c].ok) {
            fprintf(stderr, "case '%s' failed\n", cases[c].name);
            return 1;
        }
    }
    const double bdd = 4.0 * (double)o.batch * D * D;
    printf("libhosm %s s2_memory: D=%d batch=%lld hidden=%lld depth=%lld act=softplus rank=%lld "
           "threads=%d, %d timed steps after 2 warm-up steps, one process per case\n",
           hosm_version_string(), D, (long long)o.batch, (long long)o.hidden,
           (long long)o.depth, (long long)o.rank, o.threads, o.steps);
    printf("data: %s\n", rep[0].data);
    printf("one B x D x D float tensor (B=%lld): %.1f MiB\n\n", (long long)o.batch, mib(bdd));
    printf("| case | params | peak RSS MiB | RSS - data-only MiB | computed: params+optimiser "
           "MiB | computed: step workspace MiB | workspace / (B x D x D) | step ms (median) | "
           "min–max | x s1-only step |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    const double base = rep[1].median;
    for (int c = 0; c < ncases; c++) {
        const report *r = &rep[c];
        if (!cases[c].cfg) {
            printf("| %s | - | %.1f | 0 | - | - | - | - | - | - |\n", cases[c].name,
                   r->maxrss_kb / 1024.0);
            continue;
        }
        printf("| %s | %lld | %.1f | %.1f | %.1f | %.1f | %.3f | %.1f | %.1f–%.1f | %.2f |\n",
               cases[c].name, (long long)r->nparams, r->maxrss_kb / 1024.0,
               (r->maxrss_kb - rep[0].maxrss_kb) / 1024.0, mib((double)r->params_b),
               mib((double)r->ws_b), (double)r->ws_b / bdd, r->median * 1e3, r->lo * 1e3,
               r->hi * 1e3, r->median / base);
    }
    return 0;
usage:
    fprintf(stderr, "usage: s2_memory [--steps 20] [--batch 128] [--hidden 256] [--depth 2] "
                    "[--rank 50] [--threads 1] [--data DIR] [--synthetic]\n");
    return 2;
}
