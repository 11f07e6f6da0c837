/* dropout.c — nn.Dropout(p=0.5, inplace=False) and nn.Dropout2d(p=0.5,
 * inplace=False).
 *
 * Training: y = x * mask, mask = keep / (1 - p) with keep ~ Bernoulli(1 - p)
 * drawn from the forward's rng, per value (Dropout) or per (example,
 * channel) plane (Dropout2d); backward dx = dy * mask. Region 0 holds the
 * mask. Eval (or p = 0): y = x and dx = dy, without copies.
 */
#include "nn/describe.h"
#include "nn/layer.h"

/* p: a number in [0, 1]. */
static int bind_p(cnn__binder *b, const cnn__value *v, cnn_layer_desc *l) {
    l->u.dropout.p = 0.5f;
    if (!v) return CNN_OK;
    double prob;
    if (v->type == CNN__V_INT) prob = (double)v->i;
    else if (v->type == CNN__V_FLOAT) prob = v->f;
    else return cnn__bind_type_error(b, v, "p", "float");
    if (!(prob >= 0.0 && prob <= 1.0)) {
        char found[128];
        cnn__value_describe(found, sizeof found, v);
        return cnn__bind_error(b, v, "dropout probability is out of range, expected a number in [0, 1], found %s",
                               found);
    }
    l->u.dropout.p = (float)prob;
    return CNN_OK;
}

static const cnn__arg dropout_args[] = {
    {.name = "p", .type = CNN__ARG_CUSTOM, .bind = bind_p},
    {.name = "inplace", .type = CNN__ARG_IGNORED_BOOL},
};

static int dropout_plan(cnn__layer_rt *rt, const cnn_layer_desc *l) {
    if (!(l->u.dropout.p >= 0.0f && l->u.dropout.p <= 1.0f))
        return cnn__fail(CNN_EINVAL, "dropout probability has to be between 0 and 1, found %g", (double)l->u.dropout.p);
    if (l->kind == CNN_LAYER_DROPOUT2D) CNN_TRY(cnn__need_4d(rt->ndim));
    return CNN_OK;
}

/* Region 0, the mask: (batch, numel) for Dropout, (batch, C) for Dropout2d. */
static void dropout_reserve(const cnn__layer_rt *rt, const cnn_layer_desc *l, int max_batch, cnn__need *need) {
    (void)max_batch;
    need->n = 1;
    need->per_example[0] = l->kind == CNN_LAYER_DROPOUT ? (size_t)rt->numel : (size_t)rt->shape[1];
}

/* y = x * mask over planes of s values, one mask value per plane (s = 1 for Dropout). */
static void dropout_apply(float *y, float *mask, const float *x, size_t planes, size_t s, float p, cnn_rng *rng) {
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t k = 0; k < planes; k++) {
        mask[k] = cnn_rng_uniform(rng) >= p ? scale : 0.0f;
        for (size_t j = 0; j < s; j++) y[k * s + j] = x[k * s + j] * mask[k];
    }
}

static int dropout_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                           const float **y) {
    if (!r->train || !(l->u.dropout.p > 0.0f)) {
        *y = x;
        return CNN_OK;
    }
    if (!r->rng) return cnn__fail(CNN_EINVAL, "cnn_model_forward: Dropout in training needs an rng");
    size_t n = (size_t)rt->numel * (size_t)r->batch;
    size_t planes = l->kind == CNN_LAYER_DROPOUT ? n : (size_t)r->batch * (size_t)rt->shape[1];
    dropout_apply(rt->out, rt->region[0], x, planes, n / planes, l->u.dropout.p, r->rng);
    return CNN_OK;
}

static const float *dropout_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l,
                                     float *dx, const float *dy, const float *x, const float *y) {
    (void)x, (void)y;
    if (!r->train || !(l->u.dropout.p > 0.0f)) return dy;
    if (!dx) return NULL;
    size_t n = (size_t)rt->numel * (size_t)r->batch;
    size_t planes = l->kind == CNN_LAYER_DROPOUT ? n : (size_t)r->batch * (size_t)rt->shape[1], s = n / planes;
    const float *mask = rt->region[0];
    for (size_t k = 0; k < planes; k++)
        for (size_t j = 0; j < s; j++) dx[k * s + j] = dy[k * s + j] * mask[k];
    return dx;
}

static void dropout_describe(cnn__text *t, const cnn_layer_desc *l) {
    cnn__text_put(t, "p=");
    cnn__text_float(t, l->u.dropout.p);
}

const cnn__layer_ops cnn__dropout_layer = {
    .args = dropout_args,
    .n_args = sizeof dropout_args / sizeof dropout_args[0],
    .plan = dropout_plan,
    .reserve = dropout_reserve,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .describe = dropout_describe,
    .kernel = "dropout mask",
};

const cnn__layer_ops cnn__dropout2d_layer = {
    .args = dropout_args,
    .n_args = sizeof dropout_args / sizeof dropout_args[0],
    .plan = dropout_plan,
    .reserve = dropout_reserve,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .describe = dropout_describe,
    .kernel = "dropout mask per channel",
};
