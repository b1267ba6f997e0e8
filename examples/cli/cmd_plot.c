/*
 * hosm plot: SVG pictures of a model on a plane through data space (a
 * density reconstructed from the learned score, the score field, samples,
 * posterior covariance ellipses), and of a training loss curve.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataio.h"

const char *const HELP_PLOT =
    "usage: hosm plot MODEL -o OUT.svg [options]\n"
    "       hosm plot --loss LOG.csv -o OUT.svg\n"
    "\n"
    "Draw the model on the plane of coordinates i and j (the others fixed at 0,\n"
    "or at --at): a heat map, the learned score s1 as arrows, samples as dots,\n"
    "and posterior covariance ellipses. The heat map 'density' is log q_sigma on\n"
    "the plane up to a constant, reconstructed by least-squares integration of\n"
    "the score's in-plane components over the grid (the top 10 nats are shown);\n"
    "'score' is |s1| in the plane on a log scale.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT.svg   the picture to write (required)\n"
    "  --dims i,j             the coordinates to draw (default 0,1)\n"
    "  --at x1,...,xD         the point that fixes the other coordinates (default 0)\n"
    "  --level L              the noise level index (default -1, the smallest)\n"
    "  --field F              heat map: density (default), score or none\n"
    "  --no-arrows            no score arrows\n"
    "  --samples S            draw the points of S (.npy or CSV, n x D) as dots\n"
    "  --cov 'x,y;x,y...'     at these points of the plane: the posterior mean and\n"
    "                         the 1- and 2-sd ellipses of the posterior covariance\n"
    "                         (its 2 x 2 block; needs a model with s2)\n"
    "  --clamp 0|1            clamp the covariance to be PSD (default 1)\n"
    "  --range x0,x1,y0,y1    the view (default: the samples' extent, else\n"
    "                         +-max(4, 3 sigma_max) around --at); made square\n"
    "  --loss LOG.csv         plot the loss curve of 'hosm train --log' instead\n";

enum { GRID = 100, ARROWS = 21, MAX_DOTS = 5000, MAX_COV = 64 };
#define PLOT_SIZE 640.0
#define MARGIN 56.0

/* ---- drawing helpers ---------------------------------------------------- */

/* Text for an SVG document: XML special characters escaped, bytes outside
 * printable ASCII replaced, so that any file name gives well-formed XML. */
static void put_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '&')
            fputs("&amp;", out);
        else if (c == '<')
            fputs("&lt;", out);
        else if (c == '>')
            fputs("&gt;", out);
        else if (c == '"')
            fputs("&quot;", out);
        else if (c < 0x20 || c >= 0x7f)
            fputc('?', out);
        else
            fputc(c, out);
    }
}

/* The colour ramp of demo2d (dark blue, purple, orange, pale yellow). */
static void ramp(double t, int rgb[3])
{
    static const double stops[][3] = {
        {13, 8, 50}, {84, 15, 109}, {163, 44, 104}, {229, 92, 48}, {250, 180, 40}, {252, 253, 191},
    };
    const int n = (int)(sizeof stops / sizeof stops[0]) - 1;
    t = t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t;
    int i = (int)(t * n);
    if (i >= n)
        i = n - 1;
    const double f = t * n - i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (int)lround(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]));
}

/* A tick spacing of 1, 2 or 5 times a power of ten, about span / 6. */
static double tick_step(double span)
{
    const double raw = span / 6.0, p = pow(10.0, floor(log10(raw))), m = raw / p;
    return p * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
}

static void svg_open(FILE *out, double w, double h)
{
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            w, h, w, h);
}

/* Close and check a written file. */
static int finish(FILE *out, const char *path)
{
    const int bad = ferror(out);
    if (fclose(out) != 0 || bad)
        return cli_error("%s: cannot write: %s", path, strerror(errno ? errno : EIO));
    return CLI_OK;
}

/* ---- the density from the score ----------------------------------------- */

/* Least-squares integration of a gradient field on a G x G grid of spacing h
 * (row 0 at the top, y decreasing down the rows): the f minimising
 * sum over grid edges of (f_b - f_a - g_ab)^2, g_ab the trapezoid integral
 * of (gx, gy) along the edge. Its normal equations are the grid Laplacian
 * (Neumann boundary) L f = A^T g, solved by conjugate gradients; f is fixed
 * up to a constant. Returns the relative residual ||A f - g|| / ||g||, the
 * share of the field that is not a gradient. */
static double integrate(const double *gx, const double *gy, int G, double h, double *f)
{
    const int N = G * G;
    double *b = calloc((size_t)N, sizeof *b), *r = malloc((size_t)N * sizeof *r);
    double *p = malloc((size_t)N * sizeof *p), *q = malloc((size_t)N * sizeof *q);
    double res = NAN;
    if (!b || !r || !p || !q)
        goto out;
    double gg = 0.0;
    for (int row = 0; row < G; row++)
        for (int c = 0; c < G; c++) {
            const int v = row * G + c;
            if (c + 1 < G) {
                const double g = 0.5 * h * (gx[v] + gx[v + 1]);
                b[v + 1] += g;
                b[v] -= g;
                gg += g * g;
            }
            if (row + 1 < G) {
                const double g = -0.5 * h * (gy[v] + gy[v + G]);
                b[v + G] += g;
                b[v] -= g;
                gg += g * g;
            }
        }
    for (int v = 0; v < N; v++) {
        f[v] = 0.0;
        r[v] = p[v] = b[v];
    }
    double rr = 0.0, bb;
    for (int v = 0; v < N; v++)
        rr += r[v] * r[v];
    bb = rr;
    for (int it = 0; it < 20 * G && rr > 1e-20 * bb; it++) {
        double pq = 0.0;
        for (int row = 0; row < G; row++)
            for (int c = 0; c < G; c++) {
                const int v = row * G + c;
                double s = 0.0;
                int deg = 0;
                if (c > 0) { s += p[v - 1]; deg++; }
                if (c + 1 < G) { s += p[v + 1]; deg++; }
                if (row > 0) { s += p[v - G]; deg++; }
                if (row + 1 < G) { s += p[v + G]; deg++; }
                q[v] = deg * p[v] - s;
                pq += p[v] * q[v];
            }
        if (!(pq > 0.0))
            break;
        const double alpha = rr / pq;
        double rr_new = 0.0;
        for (int v = 0; v < N; v++) {
            f[v] += alpha * p[v];
            r[v] -= alpha * q[v];
            rr_new += r[v] * r[v];
        }
        const double beta = rr_new / rr;
        rr = rr_new;
        for (int v = 0; v < N; v++)
            p[v] = r[v] + beta * p[v];
    }
    /* The residual of the fit itself. */
    double ee = 0.0;
    for (int row = 0; row < G; row++)
        for (int c = 0; c < G; c++) {
            const int v = row * G + c;
            if (c + 1 < G) {
                const double e = f[v + 1] - f[v] - 0.5 * h * (gx[v] + gx[v + 1]);
                ee += e * e;
            }
            if (row + 1 < G) {
                const double e = f[v + G] - f[v] + 0.5 * h * (gy[v] + gy[v + G]);
                ee += e * e;
            }
        }
    res = gg > 0.0 ? sqrt(ee / gg) : 0.0;
out:
    free(b);
    free(r);
    free(p);
    free(q);
    return res;
}

/* ---- the model picture -------------------------------------------------- */

typedef struct {
    double x0, y0, side; /* the view: [x0, x0 + side] x [y0, y0 + side] */
} view;

static double px(const view *v, double x) { return MARGIN + (x - v->x0) / v->side * PLOT_SIZE; }
static double py(const view *v, double y)
{
    return MARGIN + (v->y0 + v->side - y) / v->side * PLOT_SIZE;
}

/* Points of the plane: `at` with coordinates i and j replaced. */
static void plane_points(const double *at, int64_t D, int64_t i, int64_t j, const double *xs,
                         const double *ys, int64_t n, float *out)
{
    for (int64_t p = 0; p < n; p++) {
        for (int64_t d = 0; d < D; d++)
            out[p * D + d] = (float)at[d];
        out[p * D + i] = (float)xs[p];
        out[p * D + j] = (float)ys[p];
    }
}

static int plot_loss(const char *log_path, const char *output);

int cmd_plot(int argc, char **argv)
{
    const char *cmd = "plot";
    const char *output = NULL, *dims_text = NULL, *at_text = NULL, *level_text = NULL;
    const char *field = "density", *samples_path = NULL, *cov_text = NULL, *clamp_text = NULL;
    const char *range_text = NULL, *loss = NULL;
    int no_arrows = 0;
    const cli_option opts[] = {
        {"-o", "--output", &output, NULL},   {NULL, "--dims", &dims_text, NULL},
        {NULL, "--at", &at_text, NULL},      {NULL, "--level", &level_text, NULL},
        {NULL, "--field", &field, NULL},     {NULL, "--no-arrows", NULL, &no_arrows},
        {NULL, "--samples", &samples_path, NULL}, {NULL, "--cov", &cov_text, NULL},
        {NULL, "--clamp", &clamp_text, NULL}, {NULL, "--range", &range_text, NULL},
        {NULL, "--loss", &loss, NULL},       {NULL, NULL, NULL, NULL},
    };
    cli_args args;
    if (cli_parse(cmd, argc, argv, opts, &args) != CLI_OK)
        return CLI_USAGE;
    if (args.help) {
        fputs(HELP_PLOT, stdout);
        return CLI_OK;
    }
    if (args.npairs)
        return cli_usage(cmd, "takes no settings ('%s')", args.pairs[0]);
    if (!output)
        return cli_usage(cmd, "no output file given (-o OUT.svg)");
    if (cli_check_output(output))
        return CLI_ERROR;
    if (loss) {
        if (args.npos)
            return cli_usage(cmd, "--loss takes no model file");
        if (dims_text || at_text || level_text || samples_path || cov_text || range_text)
            return cli_usage(cmd, "--loss takes only -o");
        return plot_loss(loss, output);
    }
    if (args.npos != 1)
        return cli_usage(cmd, args.npos ? "one model file expected, %d arguments given"
                                        : "no model file given (or --loss LOG.csv)", args.npos);
    const int heat = strcmp(field, "density") == 0 ? 1 : strcmp(field, "score") == 0 ? 2
                   : strcmp(field, "none") == 0    ? 0 : -1;
    if (heat < 0)
        return cli_usage(cmd, "--field: '%s' is not density, score or none", field);
    int64_t clamp = 1;
    if (clamp_text && cli_int(cmd, "--clamp", clamp_text, 0, 1, &clamp) != CLI_OK)
        return CLI_USAGE;
    double dims_d[2] = {0, 1}, range[4];
    if (dims_text && cli_doubles(cmd, "--dims", dims_text, 2, dims_d, NULL) != CLI_OK)
        return CLI_USAGE;
    if (range_text && cli_doubles(cmd, "--range", range_text, 4, range, NULL) != CLI_OK)
        return CLI_USAGE;
    if (range_text && !(range[1] > range[0] && range[3] > range[2]))
        return cli_usage(cmd, "--range: need x0 < x1 and y0 < y1");
    double cov_pts[2 * MAX_COV];
    int ncov = 0;
    if (cov_text) {
        const char *p = cov_text;
        while (*p) {
            const char *semi = strchr(p, ';');
            const size_t len = semi ? (size_t)(semi - p) : strlen(p);
            char one[128];
            if (len >= sizeof one)
                return cli_usage(cmd, "--cov: '%s' is not a list of x,y points", cov_text);
            memcpy(one, p, len);
            one[len] = '\0';
            if (ncov == MAX_COV)
                return cli_usage(cmd, "--cov: at most %d points", MAX_COV);
            if (len && cli_doubles(cmd, "--cov", one, 2, cov_pts + 2 * ncov++, NULL) != CLI_OK)
                return CLI_USAGE;
            p += len + (semi ? 1 : 0);
        }
        if (!ncov)
            return cli_usage(cmd, "--cov: no points in '%s'", cov_text);
    }

    int rc = CLI_ERROR, st;
    char err[1024];
    hosm_model *model = NULL;
    dataio_matrix samples = {NULL, 0, 0};
    double *at = NULL, *xs = NULL, *ys = NULL, *gx = NULL, *gy = NULL, *f = NULL;
    float *pts = NULL, *s1 = NULL, *cov = NULL, *means = NULL;
    FILE *out = NULL;
    const int G = GRID, A = ARROWS;

    if (cli_load_model(args.pos[0], &model) != CLI_OK)
        goto done;
    int64_t D, level, L, di, dj;
    double sigma, sigma_max;
    hosm_model_dim(model, &D);
    hosm_model_num_levels(model, &L);
    hosm_model_sigma(model, 0, &sigma_max);
    if (D < 2) {
        cli_error("%s: dimension 1; plot draws a plane of a model of dimension 2 or more",
                  args.pos[0]);
        goto done;
    }
    if (dims_d[0] != floor(dims_d[0]) || dims_d[1] != floor(dims_d[1]) || dims_d[0] < 0 ||
        dims_d[1] < 0 || dims_d[0] >= (double)D || dims_d[1] >= (double)D ||
        dims_d[0] == dims_d[1]) {
        rc = cli_usage(cmd, "--dims: two different coordinates in 0..%lld expected",
                       (long long)D - 1);
        goto done;
    }
    di = (int64_t)dims_d[0];
    dj = (int64_t)dims_d[1];
    if ((rc = cli_level(cmd, level_text, model, &level)) != CLI_OK)
        goto done;
    rc = CLI_ERROR;
    hosm_model_sigma(model, level, &sigma);
    int s2;
    hosm_model_s2_structure(model, &s2, NULL);
    if (ncov && s2 == HOSM_S2_NONE) {
        cli_error("%s: the model has no s2 network (s2=none): --cov needs one", args.pos[0]);
        goto done;
    }
    if (ncov && D > 4096) {
        cli_error("--cov: dimension %lld is too large for dense posterior covariances (at most "
                  "4096)", (long long)D);
        goto done;
    }
    at = calloc((size_t)D, sizeof *at);
    if (!at) {
        cli_error("out of memory");
        goto done;
    }
    if (at_text) {
        int count;
        double *tmp = malloc((size_t)D * sizeof *tmp);
        if (!tmp || cli_doubles(cmd, "--at", at_text, (int)D, tmp, &count) != CLI_OK) {
            free(tmp);
            rc = tmp ? CLI_USAGE : cli_error("out of memory");
            goto done;
        }
        memcpy(at, tmp, (size_t)D * sizeof *at);
        free(tmp);
    }
    if (samples_path) {
        if (dataio_load(samples_path, &samples, err, sizeof err) != 0) {
            cli_error("%s", err);
            goto done;
        }
        if (samples.cols != D) {
            cli_error("%s: %lld columns, the model has dimension %lld", samples_path,
                      (long long)samples.cols, (long long)D);
            goto done;
        }
    }

    /* The view: square, from --range, the samples, or the noise scale. */
    view v;
    if (range_text) {
        v.side = fmax(range[1] - range[0], range[3] - range[2]);
        v.x0 = 0.5 * (range[0] + range[1]) - 0.5 * v.side;
        v.y0 = 0.5 * (range[2] + range[3]) - 0.5 * v.side;
    } else if (samples.rows) {
        double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
        for (int64_t p = 0; p < samples.rows; p++)
            for (int k = 0; k < 2; k++) {
                const double c = samples.data[p * D + (k ? dj : di)];
                lo[k] = fmin(lo[k], c);
                hi[k] = fmax(hi[k], c);
            }
        v.side = 1.1 * fmax(fmax(hi[0] - lo[0], hi[1] - lo[1]), 1e-3);
        v.x0 = 0.5 * (lo[0] + hi[0]) - 0.5 * v.side;
        v.y0 = 0.5 * (lo[1] + hi[1]) - 0.5 * v.side;
    } else {
        const double r = fmax(4.0, 3.0 * sigma_max);
        v.side = 2 * r;
        v.x0 = at[di] - r;
        v.y0 = at[dj] - r;
    }

    /* The scores on the heat-map grid and at the arrows. */
    const int64_t npts = (int64_t)G * G + (int64_t)A * A;
    xs = malloc((size_t)npts * sizeof *xs);
    ys = malloc((size_t)npts * sizeof *ys);
    pts = malloc((size_t)(npts * D) * sizeof *pts);
    s1 = malloc((size_t)(npts * D) * sizeof *s1);
    gx = malloc((size_t)G * G * sizeof *gx);
    gy = malloc((size_t)G * G * sizeof *gy);
    f = malloc((size_t)G * G * sizeof *f);
    if (!xs || !ys || !pts || !s1 || !gx || !gy || !f) {
        cli_error("out of memory");
        goto done;
    }
    const double h = v.side / G;
    for (int r = 0; r < G; r++) /* cell centres, top row first */
        for (int c = 0; c < G; c++) {
            xs[r * G + c] = v.x0 + (c + 0.5) * h;
            ys[r * G + c] = v.y0 + v.side - (r + 0.5) * h;
        }
    for (int r = 0; r < A; r++)
        for (int c = 0; c < A; c++) {
            xs[G * G + r * A + c] = v.x0 + (c + 0.5) * v.side / A;
            ys[G * G + r * A + c] = v.y0 + v.side - (r + 0.5) * v.side / A;
        }
    plane_points(at, D, di, dj, xs, ys, npts, pts);
    if ((st = hosm_model_score(model, level, pts, npts, s1)) < 0) {
        cli_hosm_error(st, "score");
        goto done;
    }
    for (int k = 0; k < G * G; k++) {
        gx[k] = s1[k * D + di];
        gy[k] = s1[k * D + dj];
    }
    double residual = 0.0, lo = 0.0, hi = 1.0;
    if (heat == 1) {
        residual = integrate(gx, gy, G, h, f);
        hi = -INFINITY;
        for (int k = 0; k < G * G; k++)
            hi = fmax(hi, f[k]);
        lo = hi - 10.0;
    } else if (heat == 2) {
        lo = INFINITY;
        hi = -INFINITY;
        for (int k = 0; k < G * G; k++) {
            f[k] = log10(fmax(hypot(gx[k], gy[k]), 1e-30));
            lo = fmin(lo, f[k]);
            hi = fmax(hi, f[k]);
        }
        lo = fmax(lo, hi - 4.0); /* four decades */
        if (!(hi > lo))
            hi = lo + 1.0;
    }

    /* Posterior means and covariances at the --cov points. */
    if (ncov) {
        double cx[MAX_COV], cy[MAX_COV];
        for (int k = 0; k < ncov; k++) {
            cx[k] = cov_pts[2 * k];
            cy[k] = cov_pts[2 * k + 1];
        }
        cov = malloc((size_t)(ncov * D * D) * sizeof *cov);
        means = malloc((size_t)(ncov * D) * sizeof *means);
        if (!cov || !means) {
            cli_error("out of memory");
            goto done;
        }
        plane_points(at, D, di, dj, cx, cy, ncov, pts);
        if ((st = hosm_model_denoise(model, level, pts, ncov, means)) < 0 ||
            (st = hosm_model_posterior_cov(model, level, pts, ncov, (int)clamp, cov)) < 0) {
            cli_hosm_error(st, "posterior");
            goto done;
        }
    }

    out = fopen(output, "w");
    if (!out) {
        cli_error("%s: cannot write: %s", output, strerror(errno));
        goto done;
    }
    const double W = PLOT_SIZE + 2 * MARGIN, H = PLOT_SIZE + 2 * MARGIN + 110;
    svg_open(out, W, H);
    fprintf(out, "<text x=\"%.0f\" y=\"30\" font-size=\"16\">", MARGIN);
    put_text(out, args.pos[0]);
    fprintf(out, ": coordinates %lld and %lld at sigma = %.4g (level %lld of %lld)</text>\n",
            (long long)di, (long long)dj, sigma, (long long)level, (long long)L);
    fprintf(out, "<clipPath id=\"view\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                 "height=\"%.1f\"/></clipPath>\n<g clip-path=\"url(#view)\">\n",
            MARGIN, MARGIN, PLOT_SIZE, PLOT_SIZE);

    /* Heat map, equal neighbours merged into runs. */
    if (heat) {
        const double cell = PLOT_SIZE / G;
        fprintf(out, "<g id=\"heatmap\" shape-rendering=\"crispEdges\">\n");
        for (int r = 0; r < G; r++) {
            int c = 0;
            while (c < G) {
                const int shade = (int)lround(63.0 * fmax(0.0, (f[r * G + c] - lo) / (hi - lo)));
                int run = 1;
                while (c + run < G &&
                       (int)lround(63.0 * fmax(0.0, (f[r * G + c + run] - lo) / (hi - lo))) == shade)
                    run++;
                int rgb[3];
                ramp(shade / 63.0, rgb);
                fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                             "fill=\"#%02x%02x%02x\"/>\n",
                        MARGIN + c * cell, MARGIN + r * cell, run * cell + 0.3, cell + 0.3,
                        rgb[0], rgb[1], rgb[2]);
                c += run;
            }
        }
        fprintf(out, "</g>\n");
    }

    /* Arrows: the direction of s1 in the plane; length 0.9 of the spacing
     * times tanh(|s1| / median |s1|). */
    if (!no_arrows) {
        double norms[ARROWS * ARROWS], sorted[ARROWS * ARROWS];
        const float *sa = s1 + (int64_t)G * G * D;
        for (int k = 0; k < A * A; k++)
            sorted[k] = norms[k] = hypot(sa[k * D + di], sa[k * D + dj]);
        for (int k = 1; k < A * A; k++)
            for (int m = k; m > 0 && sorted[m - 1] > sorted[m]; m--) {
                const double t = sorted[m];
                sorted[m] = sorted[m - 1];
                sorted[m - 1] = t;
            }
        const double median = sorted[A * A / 2] > 0 ? sorted[A * A / 2] : 1.0;
        const double spacing = PLOT_SIZE / A;
        fprintf(out, "<g id=\"arrows\" fill=\"none\" stroke-linecap=\"round\">\n");
        for (int k = 0; k < A * A; k++) {
            if (!(norms[k] > 0.0))
                continue;
            const double len = 0.9 * spacing * tanh(norms[k] / median);
            const double ux = sa[k * D + di] / norms[k], uy = -sa[k * D + dj] / norms[k];
            const double x0 = px(&v, xs[G * G + k]) - 0.5 * len * ux;
            const double y0 = py(&v, ys[G * G + k]) - 0.5 * len * uy;
            const double x1 = x0 + len * ux, y1 = y0 + len * uy, hd = 0.3 * len;
            char d[200];
            snprintf(d, sizeof d, "M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1fL%.1f %.1f", x0, y0,
                     x1, y1, x1 - hd * (ux - 0.5 * uy), y1 - hd * (uy + 0.5 * ux), x1, y1,
                     x1 - hd * (ux + 0.5 * uy), y1 - hd * (uy - 0.5 * ux));
            fprintf(out, "<path class=\"arrow\" d=\"%s\" stroke=\"black\" stroke-opacity=\"0.45\" "
                         "stroke-width=\"3\"/><path d=\"%s\" stroke=\"#9fe8ff\" "
                         "stroke-width=\"1.3\"/>\n", d, d);
        }
        fprintf(out, "</g>\n");
    }

    /* Samples. */
    int64_t drawn = 0;
    if (samples.rows) {
        fprintf(out, "<g id=\"samples\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"black\" "
                     "stroke-width=\"0.4\">\n");
        for (int64_t p = 0; p < samples.rows && drawn < MAX_DOTS; p++) {
            const double x = samples.data[p * D + di], y = samples.data[p * D + dj];
            if (x >= v.x0 && x <= v.x0 + v.side && y >= v.y0 && y <= v.y0 + v.side) {
                fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.8\"/>\n", px(&v, x), py(&v, y));
                drawn++;
            }
        }
        fprintf(out, "</g>\n");
    }

    /* Posterior ellipses: centred on the posterior mean, 1 and 2 sd of the
     * 2 x 2 block; a line from the noisy point to its mean. */
    if (ncov) {
        fprintf(out, "<g id=\"posterior\" fill=\"none\">\n");
        for (int k = 0; k < ncov; k++) {
            const float *C = cov + (int64_t)k * D * D;
            const double a = C[di * D + di], b = 0.5 * (C[di * D + dj] + C[dj * D + di]);
            const double c = C[dj * D + dj];
            const double mid = 0.5 * (a + c), rad = hypot(0.5 * (a - c), b);
            const double l1 = fmax(mid + rad, 0.0), l2 = fmax(mid - rad, 0.0);
            const double theta = 0.5 * atan2(2 * b, a - c) * 180.0 / 3.14159265358979323846;
            const double mx = px(&v, means[k * D + di]), my = py(&v, means[k * D + dj]);
            const double nx = px(&v, cov_pts[2 * k]), ny = py(&v, cov_pts[2 * k + 1]);
            const double scale = PLOT_SIZE / v.side;
            fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#40ff80\" "
                         "stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\n"
                         "<rect x=\"%.1f\" y=\"%.1f\" width=\"6\" height=\"6\" fill=\"#40ff80\" "
                         "stroke=\"black\"/>\n",
                    nx, ny, mx, my, nx - 3, ny - 3);
            for (int sd = 1; sd <= 2; sd++)
                fprintf(out, "<ellipse class=\"cov\" cx=\"%.2f\" cy=\"%.2f\" rx=\"%.2f\" "
                             "ry=\"%.2f\" transform=\"rotate(%.2f %.2f %.2f)\" stroke=\"#40ff80\" "
                             "stroke-width=\"%s\"/>\n",
                        mx, my, sd * sqrt(l1) * scale, sd * sqrt(l2) * scale, -theta, mx, my,
                        sd == 1 ? "2" : "1");
            fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#40ff80\" "
                         "stroke=\"black\"/>\n", mx, my);
        }
        fprintf(out, "</g>\n");
    }
    fprintf(out, "</g>\n");

    /* Frame, ticks, caption. */
    fprintf(out, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                 "stroke=\"black\"/>\n<g font-size=\"11\" text-anchor=\"middle\">\n",
            MARGIN, MARGIN, PLOT_SIZE, PLOT_SIZE);
    const double step = tick_step(v.side);
    for (double t = ceil(v.x0 / step) * step; t <= v.x0 + v.side + 1e-9 * step; t += step)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%.4g</text>\n", px(&v, t),
                MARGIN + PLOT_SIZE + 15, fabs(t) < 1e-9 * step ? 0.0 : t);
    for (double t = ceil(v.y0 / step) * step; t <= v.y0 + v.side + 1e-9 * step; t += step)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n",
                MARGIN - 5, py(&v, t) + 4, fabs(t) < 1e-9 * step ? 0.0 : t);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">x%lld</text>\n", MARGIN + PLOT_SIZE / 2,
            MARGIN + PLOT_SIZE + 32, (long long)di);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" transform=\"rotate(-90 %.1f %.1f)\">x%lld</text>\n",
            MARGIN - 38, MARGIN + PLOT_SIZE / 2, MARGIN - 38, MARGIN + PLOT_SIZE / 2,
            (long long)dj);
    fprintf(out, "</g>\n<g font-size=\"12\">\n");
    /* The caption: what each layer shows, one sentence a line. */
    double ycap = MARGIN + PLOT_SIZE + 52;
#define LINE() (fprintf(out, "%s<text x=\"%.0f\" y=\"%.0f\">", ycap > MARGIN + PLOT_SIZE + 52 ? "</text>\n" : "", MARGIN, ycap), ycap += 16)
    if (heat == 1) {
        LINE();
        fputs("Heat map: log q_sigma on this plane up to a constant (the top 10 nats), by", out);
        LINE();
        fprintf(out, "least-squares integration of the learned score (%.1f%% of the field is not "
                     "a gradient).", 100 * residual);
    } else if (heat == 2) {
        LINE();
        fprintf(out, "Heat map: |s1| in the plane, log scale (%.3g to %.3g).", pow(10, lo),
                pow(10, hi));
    }
    if (!no_arrows) {
        LINE();
        fputs("Arrows: the direction of the learned score s1 (length grows with |s1|).", out);
    }
    if (samples.rows) {
        LINE();
        fprintf(out, "Dots: %lld of the %lld points of ", (long long)drawn,
                (long long)samples.rows);
        put_text(out, samples_path);
        fputs(".", out);
    }
    if (ncov) {
        LINE();
        fputs("Squares: noisy points; dashed to their posterior mean (dot), with ellipses of", out);
        LINE();
        fputs("1 and 2 standard deviations of the posterior covariance in this plane.", out);
    }
#undef LINE
    if (ycap > MARGIN + PLOT_SIZE + 52)
        fputs("</text>\n", out);
    fputs("</g>\n</svg>\n", out);
    rc = finish(out, output);
    out = NULL;
done:
    if (out)
        fclose(out);
    hosm_model_free(model);
    dataio_free(&samples);
    free(at);
    free(xs);
    free(ys);
    free(gx);
    free(gy);
    free(f);
    free(pts);
    free(s1);
    free(cov);
    free(means);
    return rc;
}

/* ---- the loss curve ----------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int plot_loss(const char *log_path, const char *output)
{
    char err[1024];
    dataio_matrix log = {NULL, 0, 0};
    if (dataio_load(log_path, &log, err, sizeof err) != 0)
        return cli_error("%s", err);
    if (log.cols < 2) {
        dataio_free(&log);
        return cli_error("%s: a loss log has two columns, step and loss", log_path);
    }
    const int64_t n = log.rows, C = log.cols;
    double *smooth = malloc((size_t)n * sizeof *smooth), *sorted = malloc((size_t)n * sizeof *sorted);
    if (!smooth || !sorted) {
        free(smooth);
        free(sorted);
        dataio_free(&log);
        return cli_error("out of memory");
    }
    /* A centred moving average over about n / 50 steps. */
    const int64_t w = n / 100;
    double acc = 0.0;
    int64_t lo_i = 0, hi_i = -1;
    for (int64_t i = 0; i < n; i++) {
        while (hi_i < i + w && hi_i + 1 < n)
            acc += log.data[++hi_i * C + 1];
        while (lo_i < i - w)
            acc -= log.data[lo_i++ * C + 1];
        smooth[i] = acc / (double)(hi_i - lo_i + 1);
        sorted[i] = log.data[i * C + 1];
    }
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
    double ylo = sorted[(size_t)(0.01 * (double)(n - 1))];
    double yhi = sorted[(size_t)(0.99 * (double)(n - 1))];
    for (int64_t i = 0; i < n; i++) {
        ylo = fmin(ylo, smooth[i]);
        yhi = fmax(yhi, smooth[i]);
    }
    if (!(yhi > ylo)) {
        ylo -= 0.5 * fmax(fabs(ylo), 1.0);
        yhi = ylo + fmax(fabs(ylo), 1.0);
    }
    const double pad = 0.05 * (yhi - ylo);
    ylo -= pad;
    yhi += pad;
    double xlo = log.data[0], xhi = log.data[0];
    for (int64_t i = 0; i < n; i++) {
        xlo = fmin(xlo, log.data[i * C]);
        xhi = fmax(xhi, log.data[i * C]);
    }
    if (!(xhi > xlo))
        xhi = xlo + 1;

    const double PW = 640, PH = 360, M = 64, W = PW + 2 * M, H = PH + 2 * M + 20;
#define LX(x) (M + ((x) - xlo) / (xhi - xlo) * PW)
#define LY(y) (M + (yhi - (y)) / (yhi - ylo) * PH)
    FILE *out = fopen(output, "w");
    if (!out) {
        free(smooth);
        free(sorted);
        dataio_free(&log);
        return cli_error("%s: cannot write: %s", output, strerror(errno));
    }
    svg_open(out, W, H);
    fprintf(out, "<text x=\"%.0f\" y=\"32\" font-size=\"16\">Training loss: ", M);
    put_text(out, log_path);
    fprintf(out, " (%lld steps)</text>\n", (long long)n);
    fprintf(out, "<clipPath id=\"plot\"><rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" "
                 "height=\"%.0f\"/></clipPath>\n", M, M, PW, PH);
    /* Grid and ticks. */
    fprintf(out, "<g font-size=\"11\" stroke-width=\"0.5\">\n");
    const double xs = tick_step(xhi - xlo), ys = tick_step(yhi - ylo);
    for (double t = ceil(xlo / xs) * xs; t <= xhi + 1e-9 * xs; t += xs)
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#ddd\"/>"
                     "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.6g</text>\n",
                LX(t), M, LX(t), M + PH, LX(t), M + PH + 15, t);
    for (double t = ceil(ylo / ys) * ys; t <= yhi + 1e-9 * ys; t += ys)
        fprintf(out, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                     "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n",
                M, LY(t), M + PW, LY(t), M - 5, LY(t) + 4, fabs(t) < 1e-9 * ys ? 0.0 : t);
    fprintf(out, "</g>\n<g clip-path=\"url(#plot)\" fill=\"none\">\n");
    /* The raw losses (at most about 4000 vertices) and their moving average. */
    const int64_t stride = n > 4000 ? n / 4000 + 1 : 1;
    for (int pass = 0; pass < 2; pass++) {
        fprintf(out, "<polyline class=\"%s\" stroke=\"%s\" stroke-width=\"%s\" points=\"",
                pass ? "mean" : "raw", pass ? "#1f3d99" : "#b0b8c8", pass ? "2" : "0.8");
        for (int64_t i = 0; i < n; i += stride)
            fprintf(out, "%s%.1f,%.1f", i ? " " : "", LX(log.data[i * C]),
                    LY(pass ? smooth[i] : log.data[i * C + 1]));
        fprintf(out, "\"/>\n");
    }
    fprintf(out, "</g>\n<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" "
                 "fill=\"none\" stroke=\"black\"/>\n", M, M, PW, PH);
    fprintf(out, "<g font-size=\"12\"><text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">step"
                 "</text>\n<text x=\"%.0f\" y=\"%.0f\">Grey: the loss of each step; blue: its "
                 "moving average over %lld steps.</text></g>\n</svg>\n",
            M + PW / 2, M + PH + 34, M, M + PH + 58, (long long)(2 * w + 1));
#undef LX
#undef LY
    free(smooth);
    free(sorted);
    dataio_free(&log);
    return finish(out, output);
}
