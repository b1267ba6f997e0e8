/*
 * What the subcommands of the hosm tool share: messages, command lines,
 * configs, models, signals and progress.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataio.h"

/* ---- messages ----------------------------------------------------------- */

int cli_quiet = 0;

/* Print "hosm: " + text as one line: newlines inside become spaces. */
static void one_line(const char *prefix, const char *fmt, va_list ap, const char *suffix)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    fprintf(stderr, "hosm: %s%s%s\n", prefix, msg, suffix);
    fflush(stderr);
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    one_line("", fmt, ap, "");
    va_end(ap);
    return CLI_ERROR;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    char prefix[64], suffix[96];
    snprintf(prefix, sizeof prefix, "%s%s", cmd ? cmd : "", cmd ? ": " : "");
    snprintf(suffix, sizeof suffix, " (see 'hosm %s%s--help')", cmd ? cmd : "", cmd ? " " : "");
    va_list ap;
    va_start(ap, fmt);
    one_line(prefix, fmt, ap, suffix);
    va_end(ap);
    return CLI_USAGE;
}

/* The library's detailed message without the function-name prefix that
 * means nothing on a command line ("hosm_config_parse: key ..."). */
const char *cli_detail(void)
{
    const char *m = hosm_last_errmsg();
    if (strncmp(m, "hosm_", 5) == 0) {
        const char *colon = strstr(m, ": ");
        const char *space = strchr(m, ' ');
        if (colon && (!space || colon < space))
            return colon + 2;
    }
    return m;
}

int cli_hosm_error(int status, const char *what)
{
    const char *d = cli_detail();
    if (*d)
        return cli_error("%s: %s: %s", what, hosm_strerror(status), d);
    return cli_error("%s: %s", what, hosm_strerror(status));
}

void cli_note(const char *fmt, ...)
{
    if (cli_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

/* ---- command lines ------------------------------------------------------ */

/* name=value with name of [a-z0-9_]+: a setting, not a file name. */
static int is_setting(const char *arg)
{
    const char *p = arg;
    while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
        p++;
    return p > arg && *p == '=';
}

int cli_parse(const char *cmd, int argc, char **argv, const cli_option *opts, cli_args *out)
{
    memset(out, 0, sizeof *out);
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') { /* "-" alone is standard input */
            if (!only_pos && is_setting(a)) {
                if (out->npairs == CLI_MAX_ARGS)
                    return cli_usage(cmd, "too many settings");
                out->pairs[out->npairs++] = a;
            } else {
                if (out->npos == CLI_MAX_ARGS)
                    return cli_usage(cmd, "too many arguments");
                out->pos[out->npos++] = a;
            }
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            out->help = 1;
            continue;
        }
        /* --name=value, --name value, -x value, -xvalue */
        const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
        const size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        const cli_option *o = NULL;
        const char *inline_value = eq ? eq + 1 : NULL;
        for (const cli_option *q = opts; q && (q->short_name || q->long_name); q++) {
            if (q->long_name && strlen(q->long_name) == nlen && strncmp(a, q->long_name, nlen) == 0) {
                o = q;
                break;
            }
            if (q->short_name && a[1] != '-' && strncmp(a, q->short_name, 2) == 0) {
                o = q;
                if (a[2])
                    inline_value = a + 2;
                break;
            }
        }
        if (!o)
            return cli_usage(cmd, "unknown option '%s'", a);
        const char *name = o->long_name ? o->long_name : o->short_name;
        if (o->flag) {
            if (inline_value)
                return cli_usage(cmd, "option %s takes no value", name);
            *o->flag = 1;
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= argc)
                return cli_usage(cmd, "option %s needs a value", name);
            inline_value = argv[++i];
        }
        *o->value = inline_value;
    }
    return CLI_OK;
}

int cli_int(const char *cmd, const char *opt, const char *text, int64_t lo, int64_t hi,
            int64_t *out)
{
    char *end;
    errno = 0;
    const long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno == ERANGE)
        return cli_usage(cmd, "%s: '%s' is not an integer", opt, text);
    if (v < lo || v > hi)
        return cli_usage(cmd, "%s: %lld is outside [%lld, %lld]", opt, v, (long long)lo,
                         (long long)hi);
    *out = v;
    return CLI_OK;
}

int cli_double(const char *cmd, const char *opt, const char *text, double *out)
{
    char *end;
    errno = 0;
    const double v = strtod(text, &end);
    if (end == text || *end || !isfinite(v))
        return cli_usage(cmd, "%s: '%s' is not a finite number", opt, text);
    *out = v;
    return CLI_OK;
}

int cli_doubles(const char *cmd, const char *opt, const char *text, int n, double *out,
                int *count)
{
    const int max = n < 0 ? -n : n;
    int k = 0;
    const char *p = text;
    for (;;) {
        char *end;
        errno = 0;
        const double v = strtod(p, &end);
        if (end == p || !isfinite(v) || (*end && *end != ','))
            return cli_usage(cmd, "%s: '%s' is not a comma-separated list of numbers", opt, text);
        if (k == max)
            return cli_usage(cmd, "%s: more than %d numbers in '%s'", opt, max, text);
        out[k++] = v;
        if (!*end)
            break;
        p = end + 1;
    }
    if (n > 0 && k != n)
        return cli_usage(cmd, "%s: %d numbers needed, '%s' has %d", opt, n, text, k);
    if (count)
        *count = k;
    return CLI_OK;
}

int cli_config(const char *cmd, hosm_config *cfg, const char *file, const cli_args *args,
               const int *allowed)
{
    if (file) {
        unsigned char *buf;
        size_t size;
        char err[512];
        if (dataio_read_file(file, &buf, &size, err, sizeof err) != 0)
            return cli_error("%s", err);
        /* Line by line, so that a message can name the line. */
        char *text = realloc(buf, size + 1);
        if (!text) {
            free(buf);
            return cli_error("%s: out of memory", file);
        }
        text[size] = '\0';
        if (strlen(text) != size) {
            free(text);
            return cli_error("%s: not a text file (a NUL byte)", file);
        }
        int lineno = 0;
        for (char *line = text; line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            lineno++;
            char *hash = strchr(line, '#');
            if (hash)
                *hash = '\0';
            const int st = hosm_config_parse(cfg, line);
            if (st < 0) {
                char what[600];
                snprintf(what, sizeof what, "%s:%d", file, lineno);
                free(text);
                return cli_hosm_error(st, what);
            }
            line = nl ? nl + 1 : NULL;
        }
        free(text);
    }
    for (int i = 0; i < args->npairs; i++) {
        const char *pair = args->pairs[i];
        /* One argument may hold several pairs ("hidden=64 depth=2"): check
         * the key of each. */
        for (const char *p = pair; *p;) {
            while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                p++;
            const size_t n = strcspn(p, "= \t\n\r");
            if (!*p)
                break;
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), p);
            int key;
            if (hosm_config_key_from_name(name, &key) != HOSM_OK)
                return cli_usage(cmd, "unknown setting '%s'", name);
            if (allowed) {
                int ok = 0;
                for (const int *k = allowed; *k; k++)
                    ok |= *k == key;
                if (!ok)
                    return cli_usage(cmd, "setting '%s' has no effect here", name);
            }
            p += strcspn(p, " \t\n\r");
        }
        const int st = hosm_config_parse(cfg, pair);
        if (st < 0)
            return cli_usage(cmd, "%s", cli_detail());
    }
    return CLI_OK;
}

int cli_check_output(const char *path)
{
    if (!path)
        return CLI_OK;
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        strcpy(dir, ".");
    else if (slash == path)
        strcpy(dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (access(dir, W_OK | X_OK) != 0)
        return cli_error("%s: cannot write: %s: %s", path, dir, strerror(errno));
    return CLI_OK;
}

/* ---- models ------------------------------------------------------------- */

int cli_load_model(const char *path, hosm_model **out)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cli_error("%s: cannot open: %s", path, strerror(errno));
    unsigned char head[8];
    const size_t got = fread(head, 1, sizeof head, fp);
    fclose(fp);
    if (got == 8 && memcmp(head, "HOSMCKPT", 8) == 0)
        return cli_error("%s: a training checkpoint, not a model file (give the file that "
                         "'hosm train -o' wrote)", path);
    if (got < 8 || memcmp(head, "HOSMMODL", 8) != 0)
        return cli_error("%s: not a libhosm model file", path);
    const int st = hosm_model_load(out, path);
    if (st < 0)
        return cli_hosm_error(st, path);
    return CLI_OK;
}

int cli_level(const char *cmd, const char *text, const hosm_model *model, int64_t *level)
{
    int64_t L;
    hosm_model_num_levels(model, &L);
    if (!text) {
        *level = L - 1;
        return CLI_OK;
    }
    int64_t v = 0;
    if (cli_int(cmd, "--level", text, -L, L - 1, &v) != CLI_OK)
        return CLI_USAGE;
    *level = v < 0 ? L + v : v;
    return CLI_OK;
}

const char *cli_enum_name(int key, int64_t value)
{
    /* The names of include/hosm.h's enums (hosm_config_parse reads them). */
    static const char *const act[] = {"softplus", "silu", "tanh", "elu"};
    static const char *const obj[] = {"dsm", "dsm_vr", "ssm", "ssm_vr", "exact_sm"};
    static const char *const s2[] = {"none", "diag", "lowrank", "full"};
    static const char *const s2obj[] = {"d2sm", "d2sm_vr", "d2sm_res", "d2sm_res_vr",
                                        "d2sm_res_nll"};
    static const char *const sampler[] = {"langevin", "annealed", "ozaki",
                                          "mala", "mh_ozaki", "annealed_ozaki"};
    static const char *const param[] = {"score", "energy", "denoiser"};
    static const char *const kernels[] = {"auto", "blis"};
    static const char *const schedule[] = {"constant", "cosine"};
    static const char *const s2_head[] = {"linear", "logvar"};
#define PICK(table) return value >= 0 && value < (int64_t)(sizeof table / sizeof *table) ? table[value] : NULL
    switch (key) {
    case HOSM_KEY_ACT: PICK(act);
    case HOSM_KEY_OBJECTIVE: PICK(obj);
    case HOSM_KEY_S2: PICK(s2);
    case HOSM_KEY_S2_OBJECTIVE: PICK(s2obj);
    case HOSM_KEY_SAMPLER: PICK(sampler);
    case HOSM_KEY_PARAMETERIZATION: PICK(param);
    case HOSM_KEY_GEMM_KERNELS: PICK(kernels);
    case HOSM_KEY_LR_SCHEDULE: PICK(schedule);
    case HOSM_KEY_S2_HEAD: PICK(s2_head);
    default: return NULL;
    }
#undef PICK
}

/* ---- signals ------------------------------------------------------------ */

volatile sig_atomic_t cli_stop_signal = 0;

static void on_signal(int sig)
{
    cli_stop_signal = sig;
}

void cli_catch_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old, sa;
        /* A signal ignored at start-up (a background job of a shell) stays ignored. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND; /* a second signal ends the process */
        sigaction(sigs[i], &sa, NULL);
    }
}

/* ---- progress ----------------------------------------------------------- */

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_start(cli_progress *p, const char *what, const char *label, int64_t first,
                        int64_t total)
{
    memset(p, 0, sizeof *p);
    p->what = what;
    p->label = label;
    p->first = first;
    p->total = total;
    p->last_step = first;
    p->tty = isatty(STDERR_FILENO);
    p->t0 = p->last = cli_now();
}

static void draw(cli_progress *p, int64_t step, double now, int final)
{
    const double mean = p->count ? p->sum / (double)p->count : NAN;
    const double rate = now > p->t0 ? (double)(step - p->first) / (now - p->t0) : 0.0;
    if (p->tty) {
        enum { WIDTH = 30 };
        const int64_t span = p->total - p->first;
        const double frac = span > 0 ? (double)(step - p->first) / (double)span : 1.0;
        char bar[WIDTH + 1];
        const int filled = (int)(frac * WIDTH);
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[WIDTH] = '\0';
        const double eta = rate > 0 ? (double)(p->total - step) / rate : 0.0;
        fprintf(stderr, "\r%s [%s] %3.0f%% %lld/%lld %s %.4g %.0f/s eta %.0fs \x1b[K%s", p->what,
                bar, 100 * frac, (long long)step, (long long)p->total, p->label, mean, rate, eta,
                final ? "\n" : "");
    } else {
        fprintf(stderr, "%s: step %lld/%lld %s %.6g (%.0f steps/s)\n", p->what, (long long)step,
                (long long)p->total, p->label, mean, rate);
    }
    fflush(stderr);
}

void cli_progress_step(cli_progress *p, int64_t step, double value)
{
    p->sum += value;
    p->count++;
    if (cli_quiet)
        return;
    const double now = cli_now();
    /* A bar: at most 10 redraws a second; plain lines: every tenth of the
     * run (and at least every 10 s). */
    const int64_t span = p->total - p->first, every = span >= 10 ? span / 10 : 1;
    const int due = p->tty ? now - p->last >= 0.1
                           : ((step - p->first) % every == 0 || now - p->last >= 10.0);
    if (due && step < p->total) {
        draw(p, step, now, 0);
        p->last = now;
        p->last_step = step;
        p->sum = 0;
        p->count = 0;
    }
    if (step >= p->total) {
        draw(p, step, now, 1);
        p->last_step = step;
        p->sum = 0;
        p->count = 0;
    }
}

void cli_progress_end(cli_progress *p)
{
    /* A bar cut short (a stop) ends its line. */
    if (!cli_quiet && p->tty && p->last_step < p->total)
        fputc('\n', stderr);
}
