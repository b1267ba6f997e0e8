/* Gradient check of the joint and frozen second-order trainer.
 *
 * For every s2 objective (d2sm, d2sm_vr, d2sm_res, d2sm_res_vr, and
 * d2sm_res_nll with the log-variance head, with nll_marginal = 0.8 in its
 * dsm_vr cases and 0 in its dsm ones) x structure (diag; lowrank with
 * r = 2; lowrank with r = 7 > D, capped to D = 3: each with the linear and
 * the log-variance head; full) x mode
 * (joint, frozen s1) x first-order objective (dsm, dsm_vr), in five set-ups
 *   A: one noise level (sigma 0.5), w1 = 1, the s2 network shaped like s1
 *      (hidden 5, depth 2), softplus;
 *   B: a 2-level ladder (sigma 1 and 0.4, both levels used in the batch),
 *      w1 = 2.5, an s2 network of hidden 4 and depth 3 (s1: hidden 5,
 *      depth 2), tanh;
 *   C: the edge case D = 1 (every structure is then a 1 x 1 matrix and the
 *      low-rank ranks are capped to 1), one level, w1 = 0.5, silu,
 *   D: a denoiser s1, (net - x) / sigma^2, on a 2-level ladder, w1 = 1.5, elu,
 *   E: D = 19, one level, softplus: the full structure's rows right of the
 *      diagonal (18 down to 0 entries) go through the D2SM term's blocks of
 *      8 and its tails,
 * hosm_trainer_gradient() with caller noise and levels (D = 3, 1 or 19, n = 4) must
 * match the double-precision reference of tests/common/ref_mlp.c: its loss value, and
 * central finite differences of the reference loss for its gradient. The
 * reference forms psi = s2 + s1 s1^T as a dense matrix for every structure
 * (the plain Frobenius form; docs/math.md sections 3.2 and 4), so that the library's Gram
 * products for "lowrank" are checked against the formula they expand. In
 * frozen mode the s1 block of the gradient must be exactly zero, and the s2
 * block must match the finite differences of the loss with s1 held fixed.
 * The forward pass is checked too: hosm_model_score and hosm_model_hessian
 * against the reference s1 and dense s2 (this pins the output scaling).
 *
 * Tolerances (float32 library against a float64 reference):
 *  - Finite differences in double with h = 1e-5 max(1, |p|): the loss is a
 *    smooth function of O(1) parameters with values up to ~1e3, so the
 *    truncation error h^2 |L'''| / 6 is ~1e-8 and the rounding error
 *    1e-16 |L| / h ~ 1e-8; both are ~1e-6 of the smallest gradient scale
 *    G = max |fd| in these cases (G >= 1), far below the bounds below.
 *  - Forward values (s1, s2): a few float dot products of <= 7 terms per
 *    layer and <= 4 layers, relative error ~ 4 x 8 x u ~ 2e-6 (u = 6e-8) of
 *    the magnitudes; bound 1e-5 max(1, max |ref|), 5x above.
 *  - Loss: the library sums squares and products of those outputs in double,
 *    so its error is ~2e-6 of the sum of absolute values of the terms, S
 *    (ref_loss_s2's scale); bound 1e-5 S.
 *  - Gradient: per entry |g - fd| <= 1e-3 |fd| + 1e-4 G. The backward pass
 *    adds up to 4 more layers of float GEMMs, so its rounding is ~1e-5 of the
 *    gradient scale G (the magnitudes of the intermediate adjoints), 10x
 *    below the absolute part; any wrong factor, sign, missing term, wrong
 *    structure index or level row changes an entry by O(|g|), which the
 *    relative part (1e-3) catches for every entry above 1e-4 G. The reported
 *    number is max_k |g_k - fd_k| / (|fd_k| + 0.1 G), bound 1e-3. */
#include "../test_util.h"
#include "../common/ref_mlp.h"

#define MAXD 19
#define N 4

/* The data dimension of the current set-up. */
static int64_t D = 3;

static const char *const s2_name[] = {"none", "diag", "lowrank", "full"};

typedef struct {
    const char *name;
    int64_t dim, levels, hidden, depth, s2_hidden, s2_depth;
    int act;
    double w1;
    int denoiser; /* parameterization=denoiser */
} setup;

static double worst_forward = 0.0, worst_loss = 0.0, worst_grad = 0.0;

static void check_forward(const char *tag, hosm_model *m, const ref_model *rm, const double *pd,
                          trng *r)
{
    enum { NP = 6 };
    float x[NP * MAXD], s[NP * MAXD], h[NP * MAXD * MAXD];
    for (int i = 0; i < NP * D; i++)
        x[i] = (float)(1.2 * trng_normal(r));
    double worst = 0.0;
    for (int64_t l = 0; l < rm->levels; l++) {
        MUST(hosm_model_score(m, l, x, NP, s));
        MUST(hosm_model_hessian(m, l, x, NP, h));
        for (int i = 0; i < NP; i++) {
            double xd[MAXD], s1[MAXD], s2[MAXD * MAXD];
            for (int j = 0; j < D; j++)
                xd[j] = x[i * D + j];
            ref_s1(rm, pd, xd, l, s1);
            ref_s2(rm, pd, xd, l, s2);
            double m1 = 1.0, m2 = 1.0;
            for (int j = 0; j < D; j++)
                m1 = fmax(m1, fabs(s1[j]));
            for (int j = 0; j < D * D; j++)
                m2 = fmax(m2, fabs(s2[j]));
            for (int j = 0; j < D; j++)
                worst = fmax(worst, fabs(s[i * D + j] - s1[j]) / m1);
            for (int j = 0; j < D * D; j++)
                worst = fmax(worst, fabs(h[i * D * D + j] - s2[j]) / m2);
        }
    }
    worst_forward = fmax(worst_forward, worst);
    if (!(worst <= 1e-5))
        printf("FAIL %s: forward (score, hessian) vs reference %.3g > 1e-5\n", tag, worst);
    g_checks++;
    if (!(worst <= 1e-5))
        g_failures++;
}

static void run_case(const setup *su, int s2, int64_t rank, int head, int obj2, int frozen,
                     int obj1)
{
    char tag[160];
    char rk[16];
    const double marginal = obj2 == HOSM_OBJ_D2SM_RES_NLL && obj1 ? 0.8 : 0.0;
    snprintf(rk, sizeof rk, "(r=%lld%s)", (long long)rank, rank > D ? ">D" : "");
    snprintf(tag, sizeof tag, "%s %s%s%s %s%s %s %s", su->name, s2_name[s2],
             s2 == HOSM_S2_LOWRANK ? rk : "", head == HOSM_S2_HEAD_LOGVAR ? "(logvar)" : "",
             obj2 == HOSM_OBJ_D2SM_VR       ? "d2sm_vr"
             : obj2 == HOSM_OBJ_D2SM_RES    ? "d2sm_res"
             : obj2 == HOSM_OBJ_D2SM_RES_VR ? "d2sm_res_vr"
             : obj2 == HOSM_OBJ_D2SM_RES_NLL ? "d2sm_res_nll"
                                            : "d2sm",
             marginal != 0.0 ? "(nll_marginal=0.8)" : "", frozen ? "frozen" : "joint",
             obj1 ? "dsm_vr" : "dsm");
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_HIDDEN, su->hidden));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_DEPTH, su->depth));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_ACT, su->act));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_LEVELS, su->levels));
    MUST(hosm_config_set_double(cfg, HOSM_KEY_SIGMA, 0.5));
    MUST(hosm_config_set_double(cfg, HOSM_KEY_SIGMA_MAX, 1.0));
    MUST(hosm_config_set_double(cfg, HOSM_KEY_SIGMA_MIN, 0.4));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2, s2));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_RANK, rank));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2_HIDDEN, su->s2_hidden));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2_DEPTH, su->s2_depth));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2_OBJECTIVE, obj2));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2_HEAD, head));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_OBJECTIVE, obj1));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_FREEZE_S1, frozen));
    MUST(hosm_config_set_double(cfg, HOSM_KEY_W1, su->w1));
    MUST(hosm_config_set_double(cfg, HOSM_KEY_NLL_MARGINAL, marginal));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_SEED, 3));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_PARAMETERIZATION,
                             su->denoiser ? HOSM_PARAM_DENOISER : HOSM_PARAM_SCORE));
    hosm_model *m;
    hosm_trainer *t;
    MUST(hosm_model_new(&m, D, cfg));
    MUST(hosm_trainer_new(&t, m, cfg));

    double sig[2];
    for (int64_t l = 0; l < su->levels; l++)
        MUST(hosm_model_sigma(m, l, &sig[l]));
    ref_model rm;
    ref_model_init(&rm, D, su->hidden, su->depth, su->act, su->levels, sig, s2, rank,
                    su->s2_hidden, su->s2_depth);
    rm.denoiser = su->denoiser;
    rm.logvar = head == HOSM_S2_HEAD_LOGVAR;
    int64_t P, r_eff;
    int st2;
    MUST(hosm_model_num_params(m, &P));
    MUST(hosm_model_s2_structure(m, &st2, &r_eff));
    CHECK(P == ref_params(&rm), "%s: num_params %lld, the layout gives %lld", tag,
          (long long)P, (long long)ref_params(&rm));
    CHECK(st2 == s2 && r_eff == rm.rank, "%s: structure %d rank %lld, expected %d %lld", tag,
          st2, (long long)r_eff, s2, (long long)rm.rank);
    if (P != ref_params(&rm))
        exit(1);
    const int64_t P1 = ref_params1(&rm);

    trng r = {0x5eed0000u + (uint64_t)(s2 * 1000 + rank * 100 + obj2 * 10 + frozen * 4 + obj1) +
              (uint64_t)su->levels * 100000u + (uint64_t)head * 1000000u};
    float *p = xmalloc((size_t)P * sizeof *p), *g = xmalloc((size_t)P * sizeof *g);
    double *pd = xmalloc((size_t)P * sizeof *pd);
    /* Non-zero biases and embeddings, so that every block of the layout
     * takes part (the library initialises those to zero). */
    for (int64_t i = 0; i < P; i++) {
        p[i] = (float)trng_sym(&r, 0.8);
        pd[i] = p[i];
    }
    MUST(hosm_model_set_params(m, p, P));
    check_forward(tag, m, &rm, pd, &r);

    float x[N * MAXD], z[N * MAXD];
    double xd[N * MAXD], zd[N * MAXD];
    for (int i = 0; i < N * D; i++) {
        x[i] = (float)trng_normal(&r);
        z[i] = (float)trng_normal(&r);
        xd[i] = x[i];
        zd[i] = z[i];
    }
    const int64_t lv_ladder[N] = {1, 0, 1, 0};
    const int64_t *lv = su->levels > 1 ? lv_ladder : NULL;
    double *base = xmalloc((size_t)P * sizeof *base); /* D2SM-RES's detached s1 */
    memcpy(base, pd, (size_t)P * sizeof *base);
    ref_objective ob = {obj1, obj2, frozen, su->w1, base, marginal};

    double loss;
    MUST(hosm_trainer_gradient(t, x, z, lv, N, &loss, g));
    double S;
    const double ref = ref_loss_s2(&rm, &ob, pd, xd, zd, lv, N, &S);
    const double eloss = fabs(loss - ref) / S;
    worst_loss = fmax(worst_loss, eloss);
    if (!(eloss <= 1e-5))
        printf("FAIL %s: |loss - ref| / S = %.3g > 1e-5 (loss %.6g, ref %.6g, S %.4g)\n", tag,
               eloss, loss, ref, S);
    g_checks++;
    if (!(eloss <= 1e-5))
        g_failures++;

    /* Frozen: the s1 block is exactly zero. */
    if (frozen) {
        int64_t nz = 0;
        for (int64_t k = 0; k < P1; k++)
            nz += g[k] != 0.0f;
        CHECK(nz == 0, "%s: %lld s1 gradient entries are non-zero with s1 frozen", tag,
              (long long)nz);
    }

    /* Finite differences over every parameter that trains. */
    const int64_t k0 = frozen ? P1 : 0;
    double *fd = xmalloc((size_t)P * sizeof *fd);
    double G = 0.0;
    for (int64_t k = k0; k < P; k++) {
        const double h = 1e-5 * fmax(1.0, fabs(pd[k])), keep = pd[k];
        pd[k] = keep + h;
        const double lp = ref_loss_s2(&rm, &ob, pd, xd, zd, lv, N, NULL);
        pd[k] = keep - h;
        const double lm = ref_loss_s2(&rm, &ob, pd, xd, zd, lv, N, NULL);
        pd[k] = keep;
        fd[k] = (lp - lm) / (2.0 * h);
        G = fmax(G, fabs(fd[k]));
    }
    double worst = 0.0;
    int64_t worst_k = -1;
    double s1_norm = 0.0, s2_norm = 0.0;
    for (int64_t k = k0; k < P; k++) {
        const double e = fabs((double)g[k] - fd[k]) / (fabs(fd[k]) + 0.1 * G);
        if (e > worst) {
            worst = e;
            worst_k = k;
        }
        if (k < P1)
            s1_norm = fmax(s1_norm, fabs(fd[k]));
        else
            s2_norm = fmax(s2_norm, fabs(fd[k]));
    }
    worst_grad = fmax(worst_grad, worst);
    g_checks++;
    if (!(worst <= 1e-3)) {
        g_failures++;
        printf("FAIL %s: gradient error %.3g > 1e-3 at param %lld (%s block): g %.8g fd %.8g, "
               "G %.4g\n",
               tag, worst, (long long)worst_k, worst_k < P1 ? "s1" : "s2", g[worst_k],
               fd[worst_k], G);
    }
    printf("  %-48s loss %11.5g  |dL-ref|/S %.2g  grad err %.2g  max|fd| s1 %.3g s2 %.3g\n",
           tag, loss, eloss, worst, s1_norm, s2_norm);
    /* The comparison must be able to fail: both blocks carry a real gradient
     * (the s1 block only when it trains). */
    CHECK(s2_norm > 1e-1, "%s: degenerate s2 gradient (max |fd| %g)", tag, s2_norm);
    CHECK(frozen || s1_norm > 1e-1, "%s: degenerate s1 gradient (max |fd| %g)", tag, s1_norm);

    /* No state changes. */
    float *p_after = xmalloc((size_t)P * sizeof *p_after);
    MUST(hosm_model_get_params(m, p_after, P));
    CHECK(memcmp(p, p_after, (size_t)P * sizeof *p) == 0, "%s: gradient changed the weights",
          tag);
    int64_t steps;
    MUST(hosm_trainer_step_count(t, &steps));
    CHECK(steps == 0, "%s: gradient changed the step count", tag);

    free(p_after);
    free(fd);
    free(p);
    free(g);
    free(pd);
    free(base);
    hosm_trainer_free(t);
    hosm_model_free(m);
    hosm_config_free(cfg);
}

/* d2sm_res_nll needs positive variances, the log-variance head's: the
 * linear head is refused. */
static void check_nll_rejected(const setup *su, int s2, int64_t rank)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_LEVELS, su->levels));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2, s2));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_RANK, rank));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2_OBJECTIVE, HOSM_OBJ_D2SM_RES_NLL));
    hosm_model *m;
    hosm_trainer *t = NULL;
    MUST(hosm_model_new(&m, D, cfg));
    const int st = hosm_trainer_new(&t, m, cfg);
    CHECK(st == HOSM_E_UNSUPPORTED && t == NULL,
          "%s %s: d2sm_res_nll with the linear head gave status %d, expected "
          "HOSM_E_UNSUPPORTED", su->name, s2_name[s2], st);
    hosm_trainer_free(t);
    hosm_model_free(m);
    hosm_config_free(cfg);
}

int main(void)
{
    const double t0 = now_seconds();
    const setup setups[5] = {
        {"A:L=1,w1=1", 3, 1, 5, 2, 0, 0, HOSM_ACT_SOFTPLUS, 1.0, 0},
        {"B:L=2,w1=2.5,s2net=4x3", 3, 2, 5, 2, 4, 3, HOSM_ACT_TANH, 2.5, 0},
        {"C:D=1,L=1,w1=0.5,silu", 1, 1, 5, 2, 0, 0, HOSM_ACT_SILU, 0.5, 0},
        {"D:L=2,w1=1.5,denoiser", 3, 2, 5, 2, 0, 0, HOSM_ACT_ELU, 1.5, 1},
        {"E:D=19", 19, 1, 5, 2, 0, 0, HOSM_ACT_SOFTPLUS, 1.0, 0},
    };
    const int structs[4] = {HOSM_S2_DIAG, HOSM_S2_LOWRANK, HOSM_S2_LOWRANK, HOSM_S2_FULL};
    const int64_t ranks[4] = {1, 2, 7, 1};
    int cases = 0;
    for (int s = 0; s < 5; s++)
        for (int k = 0; k < 4; k++)
            for (int head = 0; head <= (structs[k] != HOSM_S2_FULL); head++)
                for (int obj2 = 0; obj2 <= 4; obj2++)
                    for (int frozen = 0; frozen <= 1; frozen++)
                        for (int obj1 = 0; obj1 <= 1; obj1++) {
                            D = setups[s].dim;
                            if (obj2 == HOSM_OBJ_D2SM_RES_NLL && head != HOSM_S2_HEAD_LOGVAR) {
                                check_nll_rejected(&setups[s], structs[k], ranks[k]);
                                continue;
                            }
                            run_case(&setups[s], structs[k], ranks[k], head, obj2, frozen,
                                     obj1);
                            cases++;
                        }
    printf("%d cases\n", cases);
    check_le("forward: max |lib - ref| / max(1, |ref|) (score, hessian)", worst_forward, 1e-5);
    check_le("loss: max |lib - ref| / S", worst_loss, 1e-5);
    check_le("gradient: max |g - fd| / (|fd| + 0.1 G)", worst_grad, 1e-3);
    printf("time %.2f s\n", now_seconds() - t0);
    return finish("test_s2_gradients");
}
