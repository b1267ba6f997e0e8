/* hosm_mpi_train: data-parallel training of a libhosm model over MPI ranks,
 * on the library's public API only (docs/scaling.md).
 *
 * Every rank holds the whole data set, the same model and the same trainer
 * state. At step s (the trainer's step count) every rank computes the global
 * minibatch (hosm_trainer_batch_indices with the global "batch"), takes its
 * contiguous shard (hosm_shard), draws the levels and noise of its points
 * (common.c: a fresh generator seeded from (seed, s) every step), computes
 * the loss and gradient of its points (hosm_trainer_gradient), and one
 * MPI_Allreduce sums the gradients weighted by point count / batch count,
 * which is the gradient of the mean loss over the global batch. Every rank
 * applies it (hosm_trainer_apply_gradient), so the replicas stay identical;
 * they are compared bit for bit at every checkpoint. Rank 0 prints progress
 * and writes the checkpoints (atomically, by hosm_trainer_save).
 *
 * Any failure calls MPI_Abort after a message naming the rank; a rank that
 * dies makes mpirun stop the others. */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include "common.h"

static int g_rank = 0;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "hosm_mpi_train: rank %d: %s; aborting all ranks\n", g_rank, msg);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 2);
    exit(2); /* not reached */
}

/* This thread's CPU time in seconds. */
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void check_hosm(int st, const char *what)
{
    if (st < 0)
        die("%s: %s: %s", what, hosm_strerror(st), hosm_last_errmsg());
}

static const char usage[] =
    "usage: mpirun -np R hosm_mpi_train [options]\n"
    "%s"
    "  --checkpoint PATH  rank 0 writes the checkpoint here (atomically)\n"
    "  --every K          ... every K steps (default 0 = only at the end)\n"
    "  --resume PATH      every rank loads this checkpoint first (same --config and data)\n"
    "  --model-out PATH   rank 0 writes the EMA weights as a model file at the end\n"
    "  --print-every K    progress line every K steps (default 10, 0 = none)\n"
    "  --target-loss X    report the time at which the mean loss of the last\n"
    "                     --loss-window steps (default 20) first is <= X\n"
    "  --stop-at-target   and stop there\n"
    "  --sync-timing      barrier before the allreduce, so that its time excludes waiting\n"
    "  --fail-rank R --fail-step J --fail-mode exit|abort|kill\n"
    "                     testing: rank R fails at the start of step J\n";

typedef struct run_opts {
    mpi_opts common;
    const char *checkpoint, *resume, *model_out;
    int64_t every, print_every, loss_window, fail_rank, fail_step;
    double target_loss;
    int stop_at_target, sync_timing;
    const char *fail_mode;
} run_opts;

static void parse_args(run_opts *o, int argc, char **argv)
{
    char err[512];
    memset(o, 0, sizeof *o);
    mpi_opts_default(&o->common);
    o->print_every = 10;
    o->loss_window = 20;
    o->fail_rank = o->fail_step = -1;
    o->fail_mode = "exit";
    o->target_loss = NAN;
    for (int i = 1; i < argc; i++) {
        int r = mpi_opts_arg(&o->common, argc, argv, &i, err, sizeof err);
        if (r < 0)
            die("%s", err);
        if (r)
            continue;
        const char *a = argv[i];
        if (!strcmp(a, "--stop-at-target")) {
            o->stop_at_target = 1;
            continue;
        }
        if (!strcmp(a, "--sync-timing")) {
            o->sync_timing = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (g_rank == 0)
                printf(usage, mpi_opts_usage);
            MPI_Finalize();
            exit(0);
        }
        if (i + 1 >= argc)
            die("unknown option or missing value: %s (see --help)", a);
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(a, "--checkpoint"))
            o->checkpoint = v;
        else if (!strcmp(a, "--resume"))
            o->resume = v;
        else if (!strcmp(a, "--model-out"))
            o->model_out = v;
        else if (!strcmp(a, "--fail-mode"))
            o->fail_mode = v;
        else if (!strcmp(a, "--target-loss"))
            o->target_loss = strtod(v, &end);
        else {
            int64_t *dst = !strcmp(a, "--every")         ? &o->every
                           : !strcmp(a, "--print-every") ? &o->print_every
                           : !strcmp(a, "--loss-window") ? &o->loss_window
                           : !strcmp(a, "--fail-rank")   ? &o->fail_rank
                           : !strcmp(a, "--fail-step")   ? &o->fail_step
                                                         : NULL;
            if (!dst)
                die("unknown option: %s (see --help)", a);
            *dst = strtoll(v, &end, 10);
            if (*dst < 0)
                end = NULL, v = NULL;
        }
        if (!v || (end && (*end || end == v)))
            die("%s: bad value '%s'", a, argv[i]);
    }
    if (o->loss_window < 1)
        die("--loss-window must be >= 1");
    if (strcmp(o->fail_mode, "exit") && strcmp(o->fail_mode, "abort") &&
        strcmp(o->fail_mode, "kill"))
        die("--fail-mode must be exit, abort or kill");
}

/* Rank 0 reads or generates the data; everyone receives it. */
static float *load_data(const mpi_opts *o, int64_t *n, int64_t *dim)
{
    char err[512];
    float *data = NULL;
    int64_t shape[2] = {0, 0};
    int ok = 1;
    if (g_rank == 0) {
        ok = mpi_data_load(o, &data, &shape[0], &shape[1], err, sizeof err) == 0;
        if (!ok)
            die("%s", err);
    }
    MPI_Bcast(shape, 2, MPI_INT64_T, 0, MPI_COMM_WORLD);
    *n = shape[0];
    *dim = shape[1];
    if (g_rank != 0 && !(data = malloc((size_t)(*n * *dim) * sizeof(float))))
        die("out of memory for %lld x %lld data", (long long)*n, (long long)*dim);
    const int64_t total = *n * *dim, chunk = (int64_t)1 << 28;
    for (int64_t off = 0; off < total; off += chunk)
        MPI_Bcast(data + off, (int)(total - off < chunk ? total - off : chunk), MPI_FLOAT, 0,
                  MPI_COMM_WORLD);
    return data;
}

/* The replicas must hold bit-identical weights and optimiser state. */
static void check_replicas(const hosm_model *model, float *params, int64_t P, int64_t step)
{
    check_hosm(hosm_model_get_params(model, params, P), "reading the weights");
    uint64_t h = mpi_hash_floats(params, P), lo, hi;
    MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (lo != hi)
        die("the replicas' weights differ at step %lld (hash %016llx, min %016llx, max %016llx)",
            (long long)step, (unsigned long long)h, (unsigned long long)lo,
            (unsigned long long)hi);
}

static void save_checkpoint(const hosm_trainer *t, const char *path, int64_t step)
{
    char what[64];
    snprintf(what, sizeof what, "saving the checkpoint of step %lld", (long long)step);
    check_hosm(hosm_trainer_save(t, path), what);
}

static void inject_failure(const run_opts *o, int64_t step)
{
    fprintf(stderr, "hosm_mpi_train: rank %d: injected failure (%s) at step %lld\n", g_rank,
            o->fail_mode, (long long)step);
    fflush(stderr);
    if (!strcmp(o->fail_mode, "abort"))
        die("injected failure at step %lld", (long long)step);
    if (!strcmp(o->fail_mode, "kill"))
        raise(SIGKILL);
    exit(3); /* dies without MPI_Finalize */
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int R;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &R);
    run_opts o;
    parse_args(&o, argc, argv);

    char err[512];
    hosm_config *cfg = mpi_config(&o.common, err, sizeof err);
    if (!cfg)
        die("%s", err);
    int64_t n, D, B, steps, epochs, P, step;
    float *data = load_data(&o.common, &n, &D);
    check_hosm(hosm_config_get_int(cfg, HOSM_KEY_BATCH, &B), "batch");
    check_hosm(hosm_config_get_int(cfg, HOSM_KEY_STEPS, &steps), "steps");
    check_hosm(hosm_config_get_int(cfg, HOSM_KEY_EPOCHS, &epochs), "epochs");
    if (B > n)
        B = n;
    const int64_t target = epochs > 0 ? epochs * ((n + B - 1) / B) : steps;

    /* The same seed gives every rank the same initial weights. */
    hosm_model *model = NULL, *ema = NULL;
    hosm_trainer *trainer = NULL;
    check_hosm(hosm_model_new(&model, D, cfg), "creating the model");
    check_hosm(hosm_trainer_new(&trainer, model, cfg), "creating the trainer");
    if (o.resume) {
        char what[1024];
        snprintf(what, sizeof what, "loading the checkpoint %s", o.resume);
        check_hosm(hosm_trainer_load(trainer, o.resume), what);
    }
    check_hosm(hosm_trainer_step_count(trainer, &step), "step count");
    check_hosm(hosm_model_num_params(model, &P), "parameter count");
    mpi_noise nz;
    if (mpi_noise_init(&nz, cfg, D, o.common.noise, err, sizeof err))
        die("%s", err);
    if (o.common.noise == MPI_NOISE_RANK && R > 524288)
        die("%d ranks: the noise streams allow at most 524288", R);

    /* The gradient and, in its last float, the loss: one allreduce a step. */
    float *buf = malloc((size_t)(P + 1) * sizeof(float));
    float *params = malloc((size_t)P * sizeof(float));
    int64_t *idx = malloc((size_t)B * sizeof(int64_t));
    int64_t *levels = malloc((size_t)B * sizeof(int64_t));
    float *x = malloc((size_t)(B * D) * sizeof(float));
    float *noise = malloc((size_t)(B * D) * sizeof(float));
    double *window = calloc((size_t)o.loss_window, sizeof(double));
    if (!buf || !params || !idx || !levels || !x || !noise || !window)
        die("out of memory (%lld parameters, batch %lld)", (long long)P, (long long)B);

    if (g_rank == 0)
        printf("hosm_mpi_train: %d ranks, n = %lld, D = %lld, %lld parameters, global batch "
               "%lld, noise %s, steps %lld -> %lld\n",
               R, (long long)n, (long long)D, (long long)P, (long long)B,
               o.common.noise == MPI_NOISE_RANK ? "rank" : "blocks", (long long)step,
               (long long)target);
    const int64_t first = step;
    /* Per step, summed: wall time of the local work (minibatch, noise,
     * gradient, update; of which noise and update also alone), of waiting
     * for the other ranks (with --sync-timing), of the allreduce; and this
     * thread's CPU time of the local work and of the allreduce, which a
     * loaded machine does not inflate. */
    double t_compute = 0, t_noise = 0, t_apply = 0, t_wait = 0, t_comm = 0;
    double c_compute = 0, c_noise = 0, c_apply = 0, c_comm = 0, t_hit = -1, loss_sum = 0;
    int64_t hit_step = -1, seen = 0;
    clock_t cpu0 = clock();
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    while (step < target) {
        if (g_rank == o.fail_rank && step == o.fail_step)
            inject_failure(&o, step);
        const double ta = MPI_Wtime(), ca = thread_cpu();
        int64_t count, lo, hi;
        check_hosm(hosm_trainer_batch_indices(trainer, n, step, idx, &count), "batch indices");
        check_hosm(hosm_shard(count, R, g_rank, &lo, &hi), "shard");
        const int64_t m = hi - lo;
        for (int64_t i = 0; i < m; i++)
            memcpy(x + i * D, data + idx[lo + i] * D, (size_t)D * sizeof(float));
        const double tn = MPI_Wtime(), cn = thread_cpu();
        if (mpi_noise_draw(&nz, step, R, g_rank, lo, hi, noise, levels, err, sizeof err))
            die("step %lld: %s", (long long)step, err);
        t_noise += MPI_Wtime() - tn;
        c_noise += thread_cpu() - cn;
        double loss = 0;
        if (m > 0) {
            char what[64];
            snprintf(what, sizeof what, "the gradient of step %lld", (long long)step);
            check_hosm(hosm_trainer_gradient(trainer, x, noise, levels, m, &loss, buf), what);
            const float wgt = (float)m / (float)count;
            for (int64_t j = 0; j < P; j++)
                buf[j] *= wgt;
        } else {
            memset(buf, 0, (size_t)P * sizeof(float));
        }
        buf[P] = (float)(loss * (double)m / (double)count);
        const double tb = MPI_Wtime(), cb = thread_cpu();
        if (o.sync_timing)
            MPI_Barrier(MPI_COMM_WORLD);
        const double tc = MPI_Wtime(), cc = thread_cpu();
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)(P + 1), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        const double td = MPI_Wtime(), cd = thread_cpu();
        {
            char what[64];
            snprintf(what, sizeof what, "applying the gradient of step %lld", (long long)step);
            check_hosm(hosm_trainer_apply_gradient(trainer, buf, P), what);
        }
        step++;
        const double te = MPI_Wtime(), ce = thread_cpu();
        t_compute += (tb - ta) + (te - td);
        t_apply += te - td;
        t_wait += tc - tb;
        t_comm += td - tc;
        c_compute += (cb - ca) + (ce - cd);
        c_apply += ce - cd;
        c_comm += cd - cc;

        const double gloss = buf[P];
        loss_sum += gloss - window[seen % o.loss_window];
        window[seen++ % o.loss_window] = gloss;
        const int64_t w = seen < o.loss_window ? seen : o.loss_window;
        if (hit_step < 0 && seen >= o.loss_window && loss_sum / (double)w <= o.target_loss) {
            hit_step = step;
            t_hit = MPI_Wtime() - t0;
        }
        const int last = step == target || (hit_step == step && o.stop_at_target);
        if (g_rank == 0 && o.print_every && (step % o.print_every == 0 || last)) {
            const double el = MPI_Wtime() - t0, k = (double)(step - first);
            printf("step %lld  loss %.6g  mean(last %lld) %.6g  %.3f steps/s  compute %.1f ms "
                   "(CPU %.1f)  wait %.1f ms  allreduce %.1f ms (CPU %.1f)\n",
                   (long long)step, gloss, (long long)w, loss_sum / (double)w, k / el,
                   1e3 * t_compute / k, 1e3 * c_compute / k, 1e3 * t_wait / k, 1e3 * t_comm / k,
                   1e3 * c_comm / k);
            fflush(stdout);
        }
        if (o.checkpoint && ((o.every && step % o.every == 0) || last)) {
            check_replicas(model, params, P, step);
            if (g_rank == 0)
                save_checkpoint(trainer, o.checkpoint, step);
        }
        if (last)
            break;
    }
    const double elapsed = MPI_Wtime() - t0;
    const double cpu = (double)(clock() - cpu0) / CLOCKS_PER_SEC;
    double cpu_all = 0;
    MPI_Reduce(&cpu, &cpu_all, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    if (o.model_out) {
        check_hosm(hosm_model_new(&ema, D, cfg), "creating the EMA model");
        check_hosm(hosm_trainer_copy_ema(trainer, ema), "copying the EMA");
        if (g_rank == 0)
            check_hosm(hosm_model_save(ema, o.model_out), "saving the model");
    }
    if (g_rank == 0) {
        const double k = (double)(step - first);
        const double per = k > 0 ? 1e3 / k : 0.0;
        printf("done: %d ranks, %lld steps in %.3f s: %.4f steps/s; per step on rank 0: compute "
               "%.2f ms (CPU %.2f; noise %.2f ms, CPU %.2f; update %.2f ms, CPU %.2f), wait %.2f "
               "ms, allreduce %.2f ms (CPU %.2f; %lld floats); CPU time of all ranks %.2f s\n",
               R, (long long)(step - first), elapsed, k > 0 ? k / elapsed : 0.0, per * t_compute,
               per * c_compute, per * t_noise, per * c_noise, per * t_apply, per * c_apply,
               per * t_wait, per * t_comm, per * c_comm, (long long)(P + 1), cpu_all);
        if (!isnan(o.target_loss)) {
            if (hit_step >= 0)
                printf("target: mean loss over %lld steps <= %g at step %lld after %.3f s\n",
                       (long long)o.loss_window, o.target_loss, (long long)hit_step, t_hit);
            else
                printf("target: mean loss <= %g not reached\n", o.target_loss);
        }
        fflush(stdout);
    }
    mpi_noise_free(&nz);
    hosm_trainer_free(trainer);
    hosm_model_free(model);
    hosm_model_free(ema);
    hosm_config_free(cfg);
    free(data);
    free(buf);
    free(params);
    free(idx);
    free(levels);
    free(x);
    free(noise);
    free(window);
    MPI_Finalize();
    return 0;
}
