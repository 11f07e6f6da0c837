/* norm.c — nn.BatchNorm2d / nn.BatchNorm1d(num_features, eps=1e-5,
 * momentum=0.1, affine=True, track_running_stats=True).
 *
 * x viewed as (N, C, S) (S = H*W, or L for a 3-D input, or 1):
 *   y = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]
 * with the batch's mean and biased variance in training (the running
 * buffers then move by momentum, or cumulatively for momentum=None, with
 * the unbiased variance), the running ones in eval. Region 0 holds the
 * statistics the last forward used: mean, invstd, unbiased variance (C each).
 * The kernels are in ops/kernels/batchnorm.c. Followed by Sigmoid, ReLU or
 * Tanh, it runs as one step with the activation (nn/plan.c).
 */
#include "nn/describe.h"
#include "nn/layer.h"

#include <math.h>

/* eps > 0. */
static int bind_eps(cnn__binder *b, const cnn__value *v, cnn_layer_desc *l) {
    double x;
    l->u.batchnorm.eps = 1e-5f;
    if (!v) return CNN_OK;
    CNN_TRY(cnn__bind_number(b, v, "eps", &x));
    if (!(x > 0.0)) return cnn__bind_error(b, v, "eps must be > 0, found %g", x);
    l->u.batchnorm.eps = (float)x;
    return CNN_OK;
}

/* momentum: a number, or None for a cumulative moving average. */
static int bind_momentum(cnn__binder *b, const cnn__value *v, cnn_layer_desc *l) {
    double x;
    l->u.batchnorm.momentum = 0.1f;
    if (!v) return CNN_OK;
    if (v->type == CNN__V_NONE) {
        l->u.batchnorm.cumulative = 1, l->u.batchnorm.momentum = 0.0f;
        return CNN_OK;
    }
    CNN_TRY(cnn__bind_number(b, v, "momentum", &x));
    l->u.batchnorm.momentum = (float)x;
    return CNN_OK;
}

static const cnn__arg bn_args[] = {
    {.name = "num_features", .type = CNN__ARG_INT, .flags = CNN__ARG_REQUIRED,
     .at = CNN__AT(batchnorm.num_features), .lo = 1, .hi = CNN__MAX_SIZE},
    {.name = "eps", .type = CNN__ARG_CUSTOM, .bind = bind_eps},
    {.name = "momentum", .type = CNN__ARG_CUSTOM, .bind = bind_momentum},
    {.name = "affine", .type = CNN__ARG_BOOL, .at = CNN__AT(batchnorm.affine), .dflt = 1},
    {.name = "track_running_stats", .type = CNN__ARG_BOOL, .at = CNN__AT(batchnorm.track_running_stats),
     .dflt = 1},
};

void cnn__bn_slots(cnn__layer_rt *rt, const char *const names[5], const cnn__bn_state *bn) {
    cnn__pslot_add(rt, names[0], bn->affine, CNN__INIT_ONES, 1, bn->c, 0, 0, 0);
    cnn__pslot_add(rt, names[1], bn->affine, CNN__INIT_ZEROS, 1, bn->c, 0, 0, 0);
    for (int k = 0; k < 3; k++) {
        CNN_ASSERT(rt->nb < CNN__MAX_BSLOTS);
        cnn__bslot *s = &rt->b[rt->nb++];
        s->name = names[2 + k];
        s->is_counter = k == 2;
        s->numel = bn->track ? (k == 2 ? 1 : (size_t)bn->c) : 0;
        s->init = k == 1 ? 1.0f : 0.0f;
    }
}

static const char *const bn_names[5] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};

static int bn_plan(cnn__layer_rt *rt, const cnn_layer_desc *l) {
    const int two_d = l->kind == CNN_LAYER_BATCHNORM2D, ndim = rt->ndim;
    if (two_d ? ndim != 4 : (ndim != 2 && ndim != 3))
        return cnn__fail(CNN_ESHAPE, "expected %s input, found %d-D", two_d ? "4-D (N, C, H, W)" : "2-D or 3-D", ndim);
    if (rt->in_shape[1] != l->u.batchnorm.num_features)
        return cnn__fail(CNN_ESHAPE, "expected %d channels (num_features), found %lld", l->u.batchnorm.num_features,
                         (long long)rt->in_shape[1]);
    if (!(l->u.batchnorm.eps > 0.0f) || !isfinite(l->u.batchnorm.momentum))
        return cnn__fail(CNN_EINVAL, "eps must be > 0 and momentum finite, found %g and %g",
                         (double)l->u.batchnorm.eps, (double)l->u.batchnorm.momentum);
    cnn__bn_state *bn = &rt->st.bn;
    bn->eps = l->u.batchnorm.eps, bn->momentum = l->u.batchnorm.momentum;
    bn->cumulative = l->u.batchnorm.cumulative, bn->affine = l->u.batchnorm.affine;
    bn->track = l->u.batchnorm.track_running_stats;
    bn->c = rt->in_shape[1], bn->s = rt->in_numel / rt->in_shape[1];
    cnn__bn_slots(rt, bn_names, bn);
    return CNN_OK;
}

static void bn_reserve(const cnn__layer_rt *rt, const cnn_layer_desc *l, int max_batch, cnn__need *need) {
    (void)l, (void)max_batch;
    need->n = 1;
    need->fixed[0] = 3 * (size_t)rt->st.bn.c;
}

int cnn__bn_forward(float *y, const float *x, float *stats, const float *gamma, const float *beta, float *rm,
                    float *rv, int64_t *count, cnn__bn_state *bn, int64_t n, int train,
                    const cnn__shard_sync *sync) {
    return cnn__bn_act_forward(y, x, stats, gamma, beta, rm, rv, count, bn, n, train, NULL, sync, 0);
}

/* mean, invstd <- the running statistics (inference) */
static void running_stats(float *mean, float *invstd, const float *rm, const float *rv, const cnn__bn_state *bn) {
    for (int64_t k = 0; k < bn->c; k++) {
        mean[k] = rm[k];
        invstd[k] = (float)(1.0 / sqrt((double)rv[k] + (double)bn->eps));
    }
}

int cnn__batchnorm_eval_fusable(const cnn__layer_rt *rt) { return rt->st.bn.track; }

void cnn__bn_eval_coef(cnn__bn_eval *e, float *stats, const float *gamma, const float *beta, const float *rm,
                       const float *rv, cnn__bn_state *bn) {
    CNN_ASSERT(bn->track);
    bn->used_batch_stats = 0;
    running_stats(stats, stats + bn->c, rm, rv, bn);
    e->mean = stats, e->invstd = stats + bn->c, e->gamma = gamma, e->beta = beta;
}

void cnn__batchnorm_eval_coef(const cnn__run *r, cnn__layer_rt *rt, cnn__bn_eval *e) {
    CNN_ASSERT(!r->train);
    cnn__bn_eval_coef(e, rt->region[0], cnn__param(r, rt, 0), cnn__param(r, rt, 1), cnn__buffer(r, rt, 0),
                      cnn__buffer(r, rt, 1), &rt->st.bn);
}

/* The statistics, then y = act(bn(x)) (act may be NULL), and with pg the
 * pooling of y into pool, in one pass. */
static int bn_forward_pass(float *y, const float *x, float *stats, const float *gamma, const float *beta, float *rm,
                           float *rv, int64_t *count, cnn__bn_state *bn, int64_t n, int train,
                           const cnn_activation *act, float *pool, const cnn__pool_geom *pg,
                           const cnn__shard_sync *sync, int blk) {
    const int64_t c = bn->c, s = bn->s;
    float *mean = stats, *invstd = stats + c, *varu = stats + 2 * c;
    const int batch_stats = train || !bn->track;
    bn->used_batch_stats = batch_stats;
    if (batch_stats) {
        const int64_t total = sync ? sync->total : n; /* the whole batch's examples */
        if (total * s <= 1)
            return cnn__fail(CNN_ESHAPE, "expected more than 1 value per channel when training, got input size "
                                         "[%lld, %lld%s]", (long long)total, (long long)c, s > 1 ? ", ..." : "");
        cnn__batchnorm_stats(mean, invstd, varu, x, n, c, s, bn->eps, sync, blk);
        if (train && bn->track) {
            (*count)++;
            /* exponential_average_factor: momentum, or 1/num_batches_tracked for momentum=None */
            const float f = bn->cumulative ? (float)(1.0 / (double)*count) : bn->momentum;
            for (int64_t k = 0; k < c; k++) {
                rm[k] = f * mean[k] + (1.0f - f) * rm[k];
                rv[k] = f * varu[k] + (1.0f - f) * rv[k];
            }
        }
    } else {
        running_stats(mean, invstd, rm, rv, bn);
    }
    if (pg) cnn__batchnorm_apply_act_pool(y, pool, x, mean, invstd, gamma, beta, n, c, s, *act, pg, blk);
    else if (act) cnn__batchnorm_apply_act(y, x, mean, invstd, gamma, beta, n, c, s, *act, blk);
    else cnn__batchnorm_apply(y, x, mean, invstd, gamma, beta, n, c, s, blk);
    return CNN_OK;
}

int cnn__bn_act_forward(float *y, const float *x, float *stats, const float *gamma, const float *beta, float *rm,
                        float *rv, int64_t *count, cnn__bn_state *bn, int64_t n, int train,
                        const cnn_activation *act, const cnn__shard_sync *sync, int blk) {
    return bn_forward_pass(y, x, stats, gamma, beta, rm, rv, count, bn, n, train, act, NULL, NULL, sync, blk);
}

static int bn_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                      const float **y) {
    (void)l;
    CNN_ASSERT(rt->out); /* a batch norm without a buffer always runs fused (cnn__plan_output_unused) */
    return cnn__bn_forward(rt->out, x, rt->region[0], cnn__param(r, rt, 0), cnn__param(r, rt, 1),
                           cnn__buffer(r, rt, 0), cnn__buffer(r, rt, 1), cnn__counter(r, rt, 2), &rt->st.bn, r->batch,
                           r->train, r->sync);
}

void cnn__batchnorm_layer_backward(const cnn__run *r, const cnn__layer_rt *rt, float *dx, const float *dy,
                                   const float *x, int blk) {
    const cnn__bn_state *bn = &rt->st.bn;
    const float *stats = rt->region[0];
    cnn__batchnorm_backward(dx, cnn__grad(r, rt, 0), cnn__grad(r, rt, 1), dy, x, stats, stats + bn->c,
                            cnn__param(r, rt, 0), r->batch, bn->c, bn->s, bn->used_batch_stats, r->sync, blk);
}

static const float *bn_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l, float *dx,
                                const float *dy, const float *x, const float *y) {
    (void)l, (void)y;
    cnn__batchnorm_layer_backward(r, rt, dx, dy, x, 0);
    return dx;
}

int cnn__batchnorm_act_pool_forward(const cnn__run *r, cnn__layer_rt *rt, const float *x, float *y, cnn_activation act,
                                    float *pool, const cnn__pool_geom *pg, int blk) {
    return bn_forward_pass(y, x, rt->region[0], cnn__param(r, rt, 0), cnn__param(r, rt, 1), cnn__buffer(r, rt, 0),
                           cnn__buffer(r, rt, 1), cnn__counter(r, rt, 2), &rt->st.bn, r->batch, r->train, &act, pool,
                           pg, r->sync, blk);
}

int cnn__batchnorm_act_forward(const cnn__run *r, cnn__layer_rt *rt, const float *x, float *y, cnn_activation act,
                               int blk) {
    return cnn__bn_act_forward(y, x, rt->region[0], cnn__param(r, rt, 0), cnn__param(r, rt, 1), cnn__buffer(r, rt, 0),
                               cnn__buffer(r, rt, 1), cnn__counter(r, rt, 2), &rt->st.bn, r->batch, r->train, &act,
                               r->sync, blk);
}

void cnn__batchnorm_act_backward(const cnn__run *r, const cnn__layer_rt *rt, float *dx, const float *dy,
                                 const float *x, const float *y, cnn_activation act, int blk) {
    const cnn__bn_state *bn = &rt->st.bn;
    const float *stats = rt->region[0];
    cnn__batchnorm_backward_act(dx, cnn__grad(r, rt, 0), cnn__grad(r, rt, 1), dy, y, act, x, stats, stats + bn->c,
                                cnn__param(r, rt, 0), r->batch, bn->c, bn->s, bn->used_batch_stats, r->sync, blk);
}

/* torchinfo: (weight + bias elements) x N. */
static void bn_summary(const cnn_layer_desc *l, cnn__summary_info *s) {
    (void)l;
    s->per_example = "";
}

static void bn_describe(cnn__text *t, const cnn_layer_desc *l) {
    cnn__text_put(t, "%d,eps=", l->u.batchnorm.num_features);
    cnn__text_float(t, l->u.batchnorm.eps);
    cnn__text_put(t, ",momentum=");
    if (l->u.batchnorm.cumulative) cnn__text_put(t, "None");
    else cnn__text_float(t, l->u.batchnorm.momentum);
    cnn__text_put(t, ",affine=%s,track_running_stats=%s", cnn__py_bool(l->u.batchnorm.affine),
                  cnn__py_bool(l->u.batchnorm.track_running_stats));
}

/* BatchNorm2d and BatchNorm1d: one entry (bn_plan checks the rank each kind takes). */
const cnn__layer_ops cnn__batchnorm_layer = {
    .args = bn_args,
    .n_args = sizeof bn_args / sizeof bn_args[0],
    .plan = bn_plan,
    .reserve = bn_reserve,
    .forward = bn_forward,
    .backward = bn_backward,
    .summary = bn_summary,
    .describe = bn_describe,
    .kernel = "batch norm",
    .fuse = CNN__FUSE_BN,
};
