/* A model at any noise level of its ladder's range: the level embeddings
 * interpolated linearly in log sigma between the two levels around it, and
 * folded into the first-layer bias of a one-level copy, which then answers
 * every query (and drives every sampler) at that level. */
#include <math.h>
#include <string.h>

#include "model/model.h"

/* net's parameters without its embedding into out, the first-layer bias
 * plus (1 - t) E[l] + t E[l + 1] (t = 0 at level l: b + E[l] exactly). */
static void fold(const hosmi_mlp *net, const float *params, int64_t l, float t, float *out)
{
    const int64_t H = net->hidden;
    memcpy(out, params, (size_t)net->emb_off * sizeof(float));
    const float *e0 = params + net->emb_off + l * H, *e1 = t > 0.0f ? e0 + H : e0;
    float *b = out + hosmi_mlp_b_off(net, 0);
    for (int64_t j = 0; j < H; j++)
        b[j] += (1.0f - t) * e0[j] + t * e1[j];
}

/* The level l at or above sigma and the position t in [0, 1) of sigma
 * between levels l and l + 1 in log sigma. */
static void locate(const hosm_model *m, double sigma, int64_t *l, float *t)
{
    const int64_t L = m->arch.levels;
    int64_t k = 0;
    while (k + 2 < L && m->sigmas[k + 1] >= sigma)
        k++;
    double u = log(m->sigmas[k] / sigma) / log(m->sigmas[k] / m->sigmas[k + 1]);
    if (u >= 1.0) { /* sigma is the last level */
        k++;
        u = 0.0;
    }
    *l = k;
    *t = (float)(u > 0.0 ? u : 0.0);
}

int hosm_model_at_sigma(hosm_model **out, const hosm_model *model, double sigma)
{
    static const char fn[] = "hosm_model_at_sigma";
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: out is NULL", fn);
    *out = NULL;
    HOSMI_NEED_MODEL(fn);
    const int64_t L = model->arch.levels;
    const double hi = model->sigmas[0], lo = model->sigmas[L - 1];
    if (!(sigma >= lo && sigma <= hi))
        return hosmi_fail(NULL, HOSM_E_RANGE,
                          L == 1 ? "%s: sigma = %g, but a one-level model answers at its sigma "
                                   "%.17g only"
                                 : "%s: sigma = %g is outside the model's noise levels [%.17g, "
                                   "%.17g]",
                          fn, sigma, lo, hi);
    hosmi_arch a = model->arch;
    a.levels = 1;
    a.sigma = sigma;
    hosm_model shape, *m;
    char msg[HOSMI_MSG_CAP];
    int st = hosmi_model_shape(&shape, &a, msg);
    if (!st)
        st = hosmi_model_alloc(&m, &shape, msg);
    if (st)
        return hosmi_fail(NULL, st, "%s: %s", fn, msg);
    m->sigmas[0] = sigma;
    hosmi_model_set_settings(m, &model->settings);
    if (L == 1) {
        memcpy(m->params, model->params, (size_t)model->nparams * sizeof(float));
    } else {
        int64_t l;
        float t;
        locate(model, sigma, &l, &t);
        fold(&model->net, model->params, l, t, m->params);
        if (a.s2 != HOSM_S2_NONE)
            fold(&model->net2, hosmi_params2(model), l, t, hosmi_params2(m));
    }
    *out = m;
    return HOSM_OK;
}
