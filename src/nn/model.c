/* model.c — nn.Sequential at run time.
 *
 * A model is a list of layer descriptions, the shapes they produce, one
 * parameter buffer and one gradient buffer with the same layout (tensors in
 * state_dict order: "0.weight", "0.bias", "3.conv1.weight", ...), a buffer of
 * running statistics (BatchNorm's running_mean / running_var, which no
 * optimizer touches) plus int64 counters (num_batches_tracked), and a
 * workspace planned once for a maximum batch size by cnn_model_reserve():
 *
 *   act[i]   output of layer i-1 (act[0] is the caller's input), (batch, ...)
 *   grad_a/b two ping-pong buffers for activation gradients during backward
 *   ws       scratch for the conv kernels (im2col columns)
 *   mask     dropout masks: (batch, numel) for Dropout, (batch, C) for Dropout2d
 *   stats    BatchNorm statistics used by the last forward: mean, invstd,
 *            unbiased variance, C floats each, per BatchNorm
 *   res      Residual: its conv1 output, relu(bn1) output, conv2 output and
 *            conv3 output, (batch, C, H', W') each
 *   rscratch gradients inside a Residual's backward, shared by all of them
 *   cols     Conv2d: the im2col columns of the last training forward, kept
 *            for the weight gradient when they fit in CNN__KEEP_COLS floats
 *
 * Forward and backward allocate nothing. Flatten (and Dropout in eval mode)
 * pass their input through without copying.
 *
 * Every layer describes its tensors as "slots" (name, shape, initialiser);
 * the state_dict table, initialisation and I/O are loops over the slots.
 */
#include "cnn_internal.h"
#include "ops/ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { MAX_PSLOTS = 10, MAX_BSLOTS = 6 };

/* Most floats of im2col columns one Conv2d keeps between forward and backward
 * (32 MiB); a larger layer computes them again in its backward. */
#define CNN__KEEP_COLS ((size_t)1 << 23)

typedef enum { INIT_FAN_WEIGHT, INIT_FAN_BIAS, INIT_ONES, INIT_ZEROS } cnn__init_rule;

/* One parameter tensor of a layer. numel 0 means absent (bias=False, affine=False). */
typedef struct {
    const char *name;             /* suffix after "<layer>.": "weight", "conv1.bias" */
    int ndim;
    int64_t shape[CNN_MAX_DIMS];
    size_t off, numel;            /* in the parameter buffer */
    cnn__init_rule init;
    double fan_in, fan_out;       /* INIT_FAN_*: of the weight this tensor belongs to */
} cnn__pslot;

/* One buffer of a layer: running stats (floats) or a counter (int64). */
typedef struct {
    const char *name;
    int is_counter;
    size_t off, numel;            /* floats in the buffers, or index of the counter */
    float init;                   /* 0 for running_mean, 1 for running_var */
} cnn__bslot;

/* BatchNorm settings (a BatchNorm layer's own, or the defaults in a Residual). */
typedef struct {
    float eps, momentum;
    int cumulative, affine, track;
} cnn__bn_cfg;

typedef struct cnn__layer_rt {
    int ndim;                       /* output ndim, batch dim included */
    int64_t shape[CNN_MAX_DIMS];    /* output shape for batch 1 */
    int64_t numel;                  /* output elements per example */
    cnn__pslot p[MAX_PSLOTS];       /* conv/linear/bn: 0 weight, 1 bias; Residual: see RS_* */
    int np;
    cnn__bslot b[MAX_BSLOTS];       /* bn: 0 running_mean, 1 running_var, 2 counter; Residual: bn1, bn2 */
    int nb;
    cnn__conv_geom conv;            /* CONV2D (and Residual's conv1), for batch 1 */
    cnn__conv_geom conv2, conv3;    /* Residual */
    cnn__pool_geom pool;            /* MAXPOOL2D / AVGPOOL2D, for batch 1 */
    int64_t rows;                   /* LINEAR: rows per example (leading dims) */
    int64_t bn_c, bn_s;             /* BatchNorm: channels, values per channel per example */
    int64_t sm_outer, sm_len, sm_inner; /* SOFTMAX: per-example view (outer, len, inner) */
    int64_t in_h, in_w;             /* ADAPTIVE*: input plane */
    int64_t in_numel;               /* input elements per example */
    cnn__bn_cfg bn;                 /* BATCHNORM*, and both BatchNorms of a Residual */
    float *out;                     /* workspace output (batch, ...) */
    float *mask;                    /* DROPOUT / DROPOUT2D */
    float *stats;                   /* BatchNorm: 3*C per BatchNorm (two in a Residual) */
    float *res[4];                  /* Residual: c1, r1, c2, c3 (batch, C, H', W') */
    float *cols;                    /* CONV2D: kept im2col columns, or NULL */
    int cols_valid;                 /* CONV2D: cols hold the last forward's columns */
    int blk;                        /* CONV2D fused: CNN__BLK_* of the last forward */
    int used_batch_stats;           /* BatchNorm: the last forward normalised with batch stats */
} cnn__layer_rt;

/* Residual's parameter slots, in the registration order of d2l's module. */
enum { RS_C1W, RS_C1B, RS_C2W, RS_C2B, RS_C3W, RS_C3B, RS_BN1W, RS_BN1B, RS_BN2W, RS_BN2B };

struct cnn_model {
    int n_layers;
    cnn_layer_desc *layers;         /* n_layers */
    cnn__layer_rt *rt;              /* n_layers */
    int64_t in_chw[3];
    int64_t in_numel;               /* C*H*W */
    size_t n_params;
    float *params, *grads;          /* n_params each */
    int n_tensors;
    cnn_param_info *tensors;        /* n_tensors */
    size_t n_bufs, n_counters;
    float *bufs;                    /* n_bufs: running statistics */
    int64_t *counters;              /* n_counters: num_batches_tracked */
    int n_binfo;
    cnn_buffer_info *binfo;         /* n_binfo */
    /* workspace, see the top of the file */
    int max_batch;
    float *arena;                   /* one allocation for all of the below */
    const float **act;              /* n_layers + 1 */
    float *grad_a, *grad_b;
    float *ws;
    float *rscratch;                /* Residual backward: 3 outputs + 1 input, (batch, ...) */
    int batch;                      /* batch of the last forward; 0 if none */
    int train;                      /* mode of the last forward */
    int dropped;                    /* the last forward kept no output of some layers */
};

const char *cnn_layer_kind_name(cnn_layer_kind kind) {
    switch (kind) {
#define CNN__LAYER_NAME(name, text) case CNN_LAYER_##name: return text;
        CNN_LAYER_MAP(CNN__LAYER_NAME)
#undef CNN__LAYER_NAME
    case CNN_LAYER_COUNT: break;
    }
    return "?";
}

/* Prefix the current error message with the layer that caused it. */
static int cnn__layer_fail(int rc, const cnn_layer_desc *l, int i) {
    if (l->line > 0)
        return cnn__fail_context(rc, "line %d:%d: layer %d (%s)", l->line, l->column, i,
                                 cnn_layer_kind_name(l->kind));
    return cnn__fail_context(rc, "layer %d (%s)", i, cnn_layer_kind_name(l->kind));
}

/* Saturates at INT64_MAX (sizes are >= 1): a layer built through the API
 * (Linear(out_features=2^31-1) on a 2^20 x 2^20 input) can claim more, and
 * the caller's CNN_MAX_NUMEL check then refuses it. */
static int64_t cnn__numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 1; d < ndim; d++) n = shape[d] > 0 && n > INT64_MAX / shape[d] ? INT64_MAX : n * shape[d];
    return n;
}

/* ---- slots ---------------------------------------------------------------- */

static cnn__pslot *cnn__pslot_add(cnn__layer_rt *rt, const char *name, int present, cnn__init_rule init,
                                  int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    cnn__pslot *s = &rt->p[rt->np++];
    CNN_ASSERT(rt->np <= MAX_PSLOTS);
    const int64_t dims[CNN_MAX_DIMS] = {d0, d1, d2, d3};
    memset(s, 0, sizeof *s);
    s->name = name, s->ndim = ndim, s->init = init;
    memcpy(s->shape, dims, sizeof dims);
    if (present) {
        size_t n = 1;
        for (int d = 0; d < ndim; d++) n *= (size_t)dims[d];
        s->numel = n;
    }
    return s;
}

/* Conv2d weight and bias slots with their fans. */
static void cnn__conv_slots(cnn__layer_rt *rt, const char *wname, const char *bname, const cnn_conv2d_desc *d,
                            int present) {
    int64_t cin = d->in_channels / d->groups, k0 = d->kernel_size[0], k1 = d->kernel_size[1];
    double rf = (double)k0 * (double)k1;
    cnn__pslot *w = cnn__pslot_add(rt, wname, present, INIT_FAN_WEIGHT, 4, d->out_channels, cin, k0, k1);
    cnn__pslot *b = cnn__pslot_add(rt, bname, present && d->bias, INIT_FAN_BIAS, 1, d->out_channels, 0, 0, 0);
    w->fan_in = b->fan_in = (double)cin * rf;
    w->fan_out = b->fan_out = (double)d->out_channels * rf;
}

/* BatchNorm weight/bias slots and running-stat buffer slots for c channels. */
static void cnn__bn_slots(cnn__layer_rt *rt, const char *const names[5], int64_t c, const cnn__bn_cfg *cfg) {
    cnn__pslot_add(rt, names[0], cfg->affine, INIT_ONES, 1, c, 0, 0, 0);
    cnn__pslot_add(rt, names[1], cfg->affine, INIT_ZEROS, 1, c, 0, 0, 0);
    for (int k = 0; k < 3; k++) {
        cnn__bslot *s = &rt->b[rt->nb++];
        CNN_ASSERT(rt->nb <= MAX_BSLOTS);
        s->name = names[2 + k];
        s->is_counter = k == 2;
        s->numel = cfg->track ? (k == 2 ? 1 : (size_t)c) : 0;
        s->init = k == 1 ? 1.0f : 0.0f;
    }
}

static const char *const bn_names[5] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
static const char *const bn1_names[5] = {"bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                                         "bn1.num_batches_tracked"};
static const char *const bn2_names[5] = {"bn2.weight", "bn2.bias", "bn2.running_mean", "bn2.running_var",
                                         "bn2.num_batches_tracked"};

/* ---- planning ------------------------------------------------------------- */

static cnn_conv2d_desc cnn__conv3x3(int cin, int cout, int k, int stride, int pad) {
    cnn_conv2d_desc d = cnn_conv2d_desc_make(cin, cout, k, k);
    d.stride[0] = d.stride[1] = stride;
    d.padding[0] = d.padding[1] = pad;
    return d;
}

static int cnn__plan_residual(cnn__layer_rt *rt, const cnn_layer_desc *l, const int64_t *shape) {
    const int cin = l->u.residual.input_channels, c = l->u.residual.num_channels, s = l->u.residual.strides;
    if (cin < 1 || c < 1 || s < 1)
        return cnn__fail(CNN_EINVAL, "input_channels, num_channels and strides must be >= 1, found %d, %d, %d",
                         cin, c, s);
    cnn_conv2d_desc d1 = cnn__conv3x3(cin, c, 3, s, 1), d2 = cnn__conv3x3(c, c, 3, 1, 1),
                    d3 = cnn__conv3x3(cin, c, 1, s, 0);
    int64_t mid[4];
    int rc = cnn__conv_geom_make(&rt->conv, &d1, shape);
    if (rc < 0) return cnn__fail_context(rc, "conv1");
    mid[0] = shape[0], mid[1] = c, mid[2] = rt->conv.oh, mid[3] = rt->conv.ow;
    rc = cnn__conv_geom_make(&rt->conv2, &d2, mid);
    if (rc < 0) return cnn__fail_context(rc, "conv2");
    if (l->u.residual.use_1x1conv) {
        rc = cnn__conv_geom_make(&rt->conv3, &d3, shape);
        if (rc < 0) return cnn__fail_context(rc, "conv3");
    } else if (cin != c || rt->conv.oh != shape[2] || rt->conv.ow != shape[3]) {
        return cnn__fail(CNN_ESHAPE,
                         "Y += X: the size of Y [1, %d, %lld, %lld] must match X [1, %d, %lld, %lld]; "
                         "use use_1x1conv=True when channels or strides change",
                         c, (long long)rt->conv.oh, (long long)rt->conv.ow, cin, (long long)shape[2],
                         (long long)shape[3]);
    }
    rt->shape[1] = c, rt->shape[2] = rt->conv.oh, rt->shape[3] = rt->conv.ow;
    cnn__conv_slots(rt, "conv1.weight", "conv1.bias", &d1, 1);
    cnn__conv_slots(rt, "conv2.weight", "conv2.bias", &d2, 1);
    cnn__conv_slots(rt, "conv3.weight", "conv3.bias", &d3, l->u.residual.use_1x1conv);
    cnn__bn_cfg cfg = {1e-5f, 0.1f, 0, 1, 1};
    rt->bn = cfg;
    rt->bn_c = c, rt->bn_s = rt->conv.oh * rt->conv.ow;
    cnn__bn_slots(rt, bn1_names, c, &cfg);
    cnn__bn_slots(rt, bn2_names, c, &cfg);
    return CNN_OK;
}

/* Shape of layer l's output from its input shape (batch 1); fills rt. */
static int cnn__layer_plan(cnn__layer_rt *rt, const cnn_layer_desc *l, int ndim, const int64_t *shape) {
    memcpy(rt->shape, shape, sizeof rt->shape);
    rt->ndim = ndim;
    rt->in_numel = cnn__numel(ndim, shape);
    switch (l->kind) {
    case CNN_LAYER_CONV2D:
        if (ndim != 4)
            return cnn__fail(CNN_ESHAPE, "expected a 4-D input (N, C, H, W), found %d-D", ndim);
        CNN_TRY(cnn__conv_geom_make(&rt->conv, &l->u.conv, shape));
        rt->shape[1] = rt->conv.oc, rt->shape[2] = rt->conv.oh, rt->shape[3] = rt->conv.ow;
        cnn__conv_slots(rt, "weight", "bias", &l->u.conv, 1);
        break;
    case CNN_LAYER_MAXPOOL2D:
    case CNN_LAYER_AVGPOOL2D:
        if (ndim != 4)
            return cnn__fail(CNN_ESHAPE, "expected a 4-D input (N, C, H, W), found %d-D", ndim);
        CNN_TRY(cnn__pool_geom_make(&rt->pool, &l->u.pool, shape));
        rt->shape[2] = rt->pool.oh, rt->shape[3] = rt->pool.ow;
        break;
    case CNN_LAYER_FLATTEN:
        CNN_TRY(cnn_flatten_shape(rt->shape, &rt->ndim, ndim, shape, l->u.flatten.start_dim,
                                  l->u.flatten.end_dim));
        break;
    case CNN_LAYER_LINEAR: {
        if (ndim < 2 || shape[ndim - 1] != l->u.linear.in_features)
            return cnn__fail(CNN_ESHAPE, "expected input features %d, found %lld",
                             l->u.linear.in_features, (long long)(ndim >= 2 ? shape[ndim - 1] : 0));
        rt->rows = cnn__numel(ndim - 1, shape);
        rt->shape[ndim - 1] = l->u.linear.out_features;
        int64_t in = l->u.linear.in_features, out = l->u.linear.out_features;
        cnn__pslot *w = cnn__pslot_add(rt, "weight", 1, INIT_FAN_WEIGHT, 2, out, in, 0, 0);
        cnn__pslot *b = cnn__pslot_add(rt, "bias", l->u.linear.bias, INIT_FAN_BIAS, 1, out, 0, 0, 0);
        w->fan_in = b->fan_in = (double)in;
        w->fan_out = b->fan_out = (double)out;
        break;
    }
    case CNN_LAYER_DROPOUT:
    case CNN_LAYER_DROPOUT2D:
        if (!(l->u.dropout.p >= 0.0f && l->u.dropout.p <= 1.0f))
            return cnn__fail(CNN_EINVAL, "dropout probability has to be between 0 and 1, found %g",
                             (double)l->u.dropout.p);
        if (l->kind == CNN_LAYER_DROPOUT2D && ndim != 4)
            return cnn__fail(CNN_ESHAPE, "expected a 4-D input (N, C, H, W), found %d-D", ndim);
        break;
    case CNN_LAYER_BATCHNORM2D:
    case CNN_LAYER_BATCHNORM1D: {
        int two_d = l->kind == CNN_LAYER_BATCHNORM2D;
        if (two_d ? ndim != 4 : (ndim != 2 && ndim != 3))
            return cnn__fail(CNN_ESHAPE, "expected %s input, found %d-D", two_d ? "4-D (N, C, H, W)" : "2-D or 3-D",
                             ndim);
        if (shape[1] != l->u.batchnorm.num_features)
            return cnn__fail(CNN_ESHAPE, "expected %d channels (num_features), found %lld",
                             l->u.batchnorm.num_features, (long long)shape[1]);
        if (!(l->u.batchnorm.eps > 0.0f) || !isfinite(l->u.batchnorm.momentum))
            return cnn__fail(CNN_EINVAL, "eps must be > 0 and momentum finite, found %g and %g",
                             (double)l->u.batchnorm.eps, (double)l->u.batchnorm.momentum);
        cnn__bn_cfg cfg = {l->u.batchnorm.eps, l->u.batchnorm.momentum, l->u.batchnorm.cumulative,
                           l->u.batchnorm.affine, l->u.batchnorm.track_running_stats};
        rt->bn = cfg;
        rt->bn_c = shape[1];
        rt->bn_s = rt->in_numel / shape[1];
        cnn__bn_slots(rt, bn_names, shape[1], &cfg);
        break;
    }
    case CNN_LAYER_SOFTMAX: {
        int d = l->u.softmax.dim;
        if (d == CNN_SOFTMAX_DIM_NONE) d = (ndim == 0 || ndim == 1 || ndim == 3) ? 0 : 1; /* _get_softmax_dim */
        else if (d < 0) d += ndim;
        if (d < 0 || d >= ndim)
            return cnn__fail(CNN_ERANGE, "dim %d out of range for a %d-D input, expected %d..%d",
                             l->u.softmax.dim, ndim, -ndim, ndim - 1);
        if (d == 0)
            return cnn__fail(CNN_EINVAL, "softmax over the batch dimension (dim 0) is not supported, "
                                         "expected dim >= 1");
        rt->sm_outer = 1, rt->sm_inner = 1, rt->sm_len = shape[d];
        for (int k = 1; k < d; k++) rt->sm_outer *= shape[k];
        for (int k = d + 1; k < ndim; k++) rt->sm_inner *= shape[k];
        break;
    }
    case CNN_LAYER_ADAPTIVEAVGPOOL2D:
    case CNN_LAYER_ADAPTIVEMAXPOOL2D:
        if (ndim != 4)
            return cnn__fail(CNN_ESHAPE, "expected a 4-D input (N, C, H, W), found %d-D", ndim);
        rt->in_h = shape[2], rt->in_w = shape[3];
        for (int k = 0; k < 2; k++) {
            if (l->u.adaptive.output_size[k] < 0)
                return cnn__fail(CNN_EINVAL, "output_size must be >= 0, found %d", l->u.adaptive.output_size[k]);
            if (l->u.adaptive.output_size[k] > 0) rt->shape[2 + k] = l->u.adaptive.output_size[k];
        }
        break;
    case CNN_LAYER_RESIDUAL:
        if (ndim != 4)
            return cnn__fail(CNN_ESHAPE, "expected a 4-D input (N, C, H, W), found %d-D", ndim);
        CNN_TRY(cnn__plan_residual(rt, l, shape));
        break;
    case CNN_LAYER_SIGMOID:
    case CNN_LAYER_RELU:
    case CNN_LAYER_TANH:
        break;
    case CNN_LAYER_LEAKYRELU:
        if (!isfinite(l->u.leaky_relu.negative_slope))
            return cnn__fail(CNN_EINVAL, "negative_slope must be finite, found %g",
                             (double)l->u.leaky_relu.negative_slope);
        break;
    default:
        return cnn__fail(CNN_EINVAL, "unknown layer kind %d", (int)l->kind);
    }
    rt->numel = cnn__numel(rt->ndim, rt->shape);
    if (rt->numel <= 0 || rt->numel > CNN_MAX_NUMEL)
        return cnn__fail(CNN_ERANGE, "output has %s%lld elements per example, expected 1..%lld",
                         rt->numel == INT64_MAX ? "more than " : "", (long long)rt->numel, (long long)CNN_MAX_NUMEL);
    return CNN_OK;
}

int cnn_model_create(cnn_model **model, const cnn_layer_desc *layers, int n_layers,
                     const int64_t input_chw[3]) {
    if (!model) return cnn__fail(CNN_EINVAL, "cnn_model_create: model is NULL");
    *model = NULL;
    if (!layers || n_layers <= 0)
        return cnn__fail(CNN_EINVAL, "cnn_model_create: expected at least one layer, found %d", n_layers);
    if (!input_chw) return cnn__fail(CNN_EINVAL, "cnn_model_create: input shape is NULL");
    for (int d = 0; d < 3; d++)
        if (input_chw[d] <= 0 || input_chw[d] > (1 << 20))
            return cnn__fail(CNN_ERANGE, "cnn_model_create: input shape dim %d is %lld, expected 1..%d", d,
                             (long long)input_chw[d], 1 << 20);
    cnn_model *m = cnn_calloc(1, sizeof *m);
    if (!m) return cnn__fail(CNN_ENOMEM, "cnn_model_create: out of memory");
    m->layers = cnn_malloc((size_t)n_layers * sizeof *m->layers);
    m->rt = cnn_calloc((size_t)n_layers, sizeof *m->rt);
    if (!m->layers || !m->rt) {
        cnn_model_free(m);
        return cnn__fail(CNN_ENOMEM, "cnn_model_create: out of memory");
    }
    memcpy(m->layers, layers, (size_t)n_layers * sizeof *layers);
    m->n_layers = n_layers;
    memcpy(m->in_chw, input_chw, sizeof m->in_chw);
    m->in_numel = input_chw[0] * input_chw[1] * input_chw[2];

    int ndim = 4;
    int64_t shape[CNN_MAX_DIMS] = {1, input_chw[0], input_chw[1], input_chw[2]};
    size_t off = 0, boff = 0, coff = 0;
    int n_tensors = 0, n_binfo = 0;
    for (int i = 0; i < n_layers; i++) {
        cnn__layer_rt *rt = &m->rt[i];
        int rc = cnn__layer_plan(rt, &layers[i], ndim, shape);
        size_t sz;
        for (int k = 0; k < rt->np && rc == CNN_OK; k++) {
            rt->p[k].off = off;
            if (cnn__add_overflow(off, rt->p[k].numel, &off) || cnn__mul_overflow(off, sizeof(float), &sz) ||
                off > (size_t)CNN_MAX_PARAMS)
                rc = cnn__fail(CNN_ERANGE, "the model has more than %lld parameters (%zu so far)",
                               (long long)CNN_MAX_PARAMS, off);
            n_tensors += rt->p[k].numel > 0;
        }
        for (int k = 0; k < rt->nb && rc == CNN_OK; k++) {
            size_t *o = rt->b[k].is_counter ? &coff : &boff;
            rt->b[k].off = *o;
            *o += rt->b[k].numel;
            n_binfo += rt->b[k].numel > 0;
        }
        if (rc < 0) {
            cnn_model_free(m);
            return cnn__layer_fail(rc, &layers[i], i);
        }
        ndim = rt->ndim;
        memcpy(shape, rt->shape, sizeof shape);
    }
    m->n_params = off, m->n_bufs = boff, m->n_counters = coff;
    m->params = cnn_calloc(off ? off : 1, sizeof(float));
    m->grads = cnn_calloc(off ? off : 1, sizeof(float));
    m->bufs = cnn_calloc(boff ? boff : 1, sizeof(float));
    m->counters = cnn_calloc(coff ? coff : 1, sizeof(int64_t));
    m->tensors = cnn_calloc((size_t)(n_tensors ? n_tensors : 1), sizeof *m->tensors);
    m->binfo = cnn_calloc((size_t)(n_binfo ? n_binfo : 1), sizeof *m->binfo);
    if (!m->params || !m->grads || !m->bufs || !m->counters || !m->tensors || !m->binfo) {
        cnn_model_free(m);
        return cnn__fail(CNN_ENOMEM, "cnn_model_create: out of memory for %zu parameters", off);
    }
    /* state_dict entries: each layer's parameters, then its buffers (kept in
     * a separate table, as they live in separate memory). */
    for (int i = 0; i < n_layers; i++) {
        const cnn__layer_rt *rt = &m->rt[i];
        for (int k = 0; k < rt->np; k++) {
            const cnn__pslot *s = &rt->p[k];
            if (!s->numel) continue;
            cnn_param_info *t = &m->tensors[m->n_tensors++];
            snprintf(t->name, sizeof t->name, "%d.%s", i, s->name);
            t->layer = i, t->offset = s->off, t->numel = s->numel, t->ndim = s->ndim;
            memcpy(t->shape, s->shape, sizeof t->shape);
        }
        for (int k = 0; k < rt->nb; k++) {
            const cnn__bslot *s = &rt->b[k];
            if (!s->numel) continue;
            cnn_buffer_info *t = &m->binfo[m->n_binfo++];
            snprintf(t->name, sizeof t->name, "%d.%s", i, s->name);
            t->layer = i, t->offset = s->off, t->numel = s->numel, t->is_counter = s->is_counter;
            t->ndim = s->is_counter ? 0 : 1;
            t->shape[0] = s->is_counter ? 0 : (int64_t)s->numel;
        }
    }
    cnn_model_reset_buffers(m);
    *model = m;
    return CNN_OK;
}

int cnn_model_create_from_text(cnn_model **model, const char *text, const char *source,
                               const int64_t input_chw[3]) {
    cnn_layer_desc *layers = NULL;
    int n = 0;
    if (model) *model = NULL;
    CNN_TRY(cnn_model_parse(&layers, &n, text, source));
    int rc = cnn_model_create(model, layers, n, input_chw);
    cnn_free(layers);
    if (rc < 0 && source) return cnn__fail_context(rc, "%s", source);
    return rc;
}

void cnn_model_free(cnn_model *m) {
    if (!m) return;
    cnn_free(m->layers);
    cnn_free(m->rt);
    cnn_free(m->params);
    cnn_free(m->grads);
    cnn_free(m->bufs);
    cnn_free(m->counters);
    cnn_free(m->tensors);
    cnn_free(m->binfo);
    cnn_free(m->arena);
    cnn_free(m->act);
    cnn_free(m);
}

int cnn_model_num_layers(const cnn_model *m) { return m ? m->n_layers : 0; }

const cnn_layer_desc *cnn_model_layer(const cnn_model *m, int i) {
    return m && i >= 0 && i < m->n_layers ? &m->layers[i] : NULL;
}

int cnn_model_layer_shape(const cnn_model *m, int i, int *ndim, int64_t shape[CNN_MAX_DIMS]) {
    if (!m || !ndim || !shape) return cnn__fail(CNN_EINVAL, "cnn_model_layer_shape: NULL argument");
    if (i < 0 || i >= m->n_layers)
        return cnn__fail(CNN_ERANGE, "cnn_model_layer_shape: layer %d, expected 0..%d", i, m->n_layers - 1);
    *ndim = m->rt[i].ndim;
    memcpy(shape, m->rt[i].shape, sizeof m->rt[i].shape);
    return CNN_OK;
}

void cnn_model_input_shape(const cnn_model *m, int64_t chw[3]) { memcpy(chw, m->in_chw, sizeof m->in_chw); }

int64_t cnn_model_num_outputs(const cnn_model *m) { return m->rt[m->n_layers - 1].numel; }

size_t cnn_model_num_params(const cnn_model *m) { return m ? m->n_params : 0; }
float *cnn_model_params(cnn_model *m) { return m ? m->params : NULL; }
float *cnn_model_grads(cnn_model *m) { return m ? m->grads : NULL; }
int cnn_model_num_tensors(const cnn_model *m) { return m ? m->n_tensors : 0; }

int cnn_model_tensor_info(const cnn_model *m, int i, cnn_param_info *info) {
    if (!m || !info) return cnn__fail(CNN_EINVAL, "cnn_model_tensor_info: NULL argument");
    if (i < 0 || i >= m->n_tensors)
        return cnn__fail(CNN_ERANGE, "cnn_model_tensor_info: tensor %d, expected 0..%d", i, m->n_tensors - 1);
    *info = m->tensors[i];
    return CNN_OK;
}

int cnn_model_num_buffers(const cnn_model *m) { return m ? m->n_binfo : 0; }
float *cnn_model_buffers(cnn_model *m) { return m ? m->bufs : NULL; }
int64_t *cnn_model_counters(cnn_model *m) { return m ? m->counters : NULL; }

int cnn_model_buffer_info(const cnn_model *m, int i, cnn_buffer_info *info) {
    if (!m || !info) return cnn__fail(CNN_EINVAL, "cnn_model_buffer_info: NULL argument");
    if (i < 0 || i >= m->n_binfo)
        return cnn__fail(CNN_ERANGE, "cnn_model_buffer_info: buffer %d, expected 0..%d", i, m->n_binfo - 1);
    *info = m->binfo[i];
    return CNN_OK;
}

void cnn_model_reset_buffers(cnn_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_layers; i++) {
        const cnn__layer_rt *rt = &m->rt[i];
        for (int k = 0; k < rt->nb; k++) {
            const cnn__bslot *s = &rt->b[k];
            for (size_t j = 0; j < s->numel; j++) {
                if (s->is_counter) m->counters[s->off + j] = 0;
                else m->bufs[s->off + j] = s->init;
            }
        }
    }
}

static void cnn__fill_uniform(float *p, size_t n, double bound, cnn_rng *rng) {
    for (size_t k = 0; k < n; k++) p[k] = (float)((2.0 * cnn_rng_uniform(rng) - 1.0) * bound);
}

int cnn_model_init_params(cnn_model *m, cnn_init_kind kind, cnn_rng *rng) {
    if (!m || !rng) return cnn__fail(CNN_EINVAL, "cnn_model_init_params: NULL argument");
    if (kind != CNN_INIT_DEFAULT && kind != CNN_INIT_XAVIER)
        return cnn__fail(CNN_EINVAL, "cnn_model_init_params: unknown init kind %d", (int)kind);
    for (int i = 0; i < m->n_layers; i++) {
        const cnn__layer_rt *rt = &m->rt[i];
        for (int k = 0; k < rt->np; k++) {
            const cnn__pslot *s = &rt->p[k];
            float *p = m->params + s->off;
            /* default: kaiming_uniform_(a=sqrt(5)) has bound gain*sqrt(3/fan_in) = 1/sqrt(fan_in);
             * xavier_uniform_: bound sqrt(6/(fan_in+fan_out)). Bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
             * BatchNorm: weight 1, bias 0 (reset_parameters). */
            switch (s->init) {
            case INIT_FAN_WEIGHT:
                cnn__fill_uniform(p, s->numel,
                                  kind == CNN_INIT_XAVIER ? sqrt(6.0 / (s->fan_in + s->fan_out)) : 1.0 / sqrt(s->fan_in),
                                  rng);
                break;
            case INIT_FAN_BIAS: cnn__fill_uniform(p, s->numel, 1.0 / sqrt(s->fan_in), rng); break;
            case INIT_ONES: for (size_t j = 0; j < s->numel; j++) p[j] = 1.0f; break;
            case INIT_ZEROS: memset(p, 0, s->numel * sizeof *p); break;
            }
        }
    }
    cnn_model_reset_buffers(m);
    return CNN_OK;
}

void cnn_model_zero_grad(cnn_model *m) {
    if (m) memset(m->grads, 0, m->n_params * sizeof(float));
}

/* ---- workspace ------------------------------------------------------------ */

/* Does layer i write its own output buffer (as opposed to passing its input on)? */
static int cnn__layer_has_output(const cnn_layer_desc *l) { return l->kind != CNN_LAYER_FLATTEN; }

static int cnn__is_bn(const cnn_layer_desc *l) {
    return l->kind == CNN_LAYER_BATCHNORM2D || l->kind == CNN_LAYER_BATCHNORM1D;
}

/* Floats layer i needs besides its output: per example and fixed. */
static void cnn__layer_extra(const cnn_layer_desc *l, const cnn__layer_rt *rt, size_t *per_example, size_t *fixed) {
    *per_example = 0, *fixed = 0;
    if (l->kind == CNN_LAYER_DROPOUT) *per_example = (size_t)rt->numel;
    if (l->kind == CNN_LAYER_DROPOUT2D) *per_example = (size_t)rt->shape[1];
    if (cnn__is_bn(l)) *fixed = 3 * (size_t)rt->bn_c;
    if (l->kind == CNN_LAYER_RESIDUAL) *per_example = 4 * (size_t)rt->numel, *fixed = 6 * (size_t)rt->bn_c;
}

/* Floats of im2col columns a Conv2d keeps for batches of up to max_batch (0: none). */
static size_t cnn__keep_cols(const cnn__layer_rt *rt, int max_batch) {
    cnn__conv_geom g = rt->conv;
    g.n = max_batch;
    size_t n = cnn__conv2d_cols_size(&g);
    return n <= CNN__KEEP_COLS ? n : 0;
}

int cnn_model_reserve(cnn_model *m, int max_batch) {
    if (!m) return cnn__fail(CNN_EINVAL, "cnn_model_reserve: model is NULL");
    if (max_batch <= 0 || max_batch > (1 << 24))
        return cnn__fail(CNN_ERANGE, "cnn_model_reserve: batch size %d, expected 1..%d", max_batch, 1 << 24);
    if (max_batch <= m->max_batch) return CNN_OK;
    cnn__blas_single_threaded();
    /* Count floats: every layer output and its extras, two gradient buffers
     * of the largest activation (input included), conv scratch, Residual
     * backward scratch. */
    size_t total = 0, largest = (size_t)m->in_numel, ws = 0, rs = 0, b = (size_t)max_batch, sz;
    for (int i = 0; i < m->n_layers; i++) {
        const cnn__layer_rt *rt = &m->rt[i];
        const cnn_layer_desc *l = &m->layers[i];
        size_t per, fixed;
        cnn__layer_extra(l, rt, &per, &fixed);
        if (cnn__layer_has_output(l)) per += (size_t)rt->numel;
        if (cnn__mul_overflow(per, b, &sz) || cnn__add_overflow(total, sz, &total) ||
            cnn__add_overflow(total, fixed, &total))
            goto too_big;
        if ((size_t)rt->numel > largest) largest = (size_t)rt->numel;
        if (l->kind == CNN_LAYER_CONV2D && cnn__keep_cols(rt, max_batch) &&
            cnn__add_overflow(total, cnn__keep_cols(rt, max_batch), &total))
            goto too_big;
        const cnn__conv_geom *geoms[3] = {NULL, NULL, NULL};
        if (l->kind == CNN_LAYER_CONV2D) geoms[0] = &rt->conv;
        if (l->kind == CNN_LAYER_RESIDUAL) {
            geoms[0] = &rt->conv, geoms[1] = &rt->conv2;
            if (l->u.residual.use_1x1conv) geoms[2] = &rt->conv3;
            size_t need = 3 * (size_t)rt->numel + (size_t)rt->in_numel;
            if (need > rs) rs = need;
        }
        for (int k = 0; k < 3; k++) {
            if (!geoms[k]) continue;
            cnn__conv_geom g = *geoms[k];
            g.n = max_batch;
            size_t need = cnn__conv2d_workspace(&g);
            if (need > ws) ws = need;
        }
    }
    if (cnn__mul_overflow(largest, b, &sz) || cnn__mul_overflow(sz, 2, &sz) ||
        cnn__add_overflow(total, sz, &total) || cnn__add_overflow(total, ws, &total) ||
        cnn__mul_overflow(rs, b, &sz) || cnn__add_overflow(total, sz, &total) ||
        cnn__mul_overflow(total, sizeof(float), &sz))
        goto too_big;
    float *arena = cnn_malloc(sz ? sz : 1);
    const float **act = cnn_calloc((size_t)m->n_layers + 1, sizeof *act);
    if (!arena || !act) {
        cnn_free(arena);
        cnn_free(act);
        return cnn__fail(CNN_ENOMEM, "cnn_model_reserve: out of memory for a workspace of %zu bytes (batch %d)",
                         sz, max_batch);
    }
    cnn_free(m->arena);
    cnn_free(m->act);
    m->arena = arena, m->act = act, m->max_batch = max_batch, m->batch = 0;
    float *p = arena;
    for (int i = 0; i < m->n_layers; i++) {
        cnn__layer_rt *rt = &m->rt[i];
        const cnn_layer_desc *l = &m->layers[i];
        size_t per, fixed;
        cnn__layer_extra(l, rt, &per, &fixed);
        rt->out = rt->mask = rt->stats = NULL;
        memset(rt->res, 0, sizeof rt->res);
        rt->cols = NULL, rt->cols_valid = 0;
        if (cnn__layer_has_output(l)) rt->out = p, p += (size_t)rt->numel * b;
        if (l->kind == CNN_LAYER_CONV2D && cnn__keep_cols(rt, max_batch))
            rt->cols = p, p += cnn__keep_cols(rt, max_batch);
        if (l->kind == CNN_LAYER_DROPOUT || l->kind == CNN_LAYER_DROPOUT2D) rt->mask = p, p += per * b;
        if (l->kind == CNN_LAYER_RESIDUAL)
            for (int k = 0; k < 4; k++) rt->res[k] = p, p += (size_t)rt->numel * b;
        if (fixed) rt->stats = p, p += fixed;
    }
    m->grad_a = p, p += largest * b;
    m->grad_b = p, p += largest * b;
    m->rscratch = p, p += rs * b;
    m->ws = p;
    /* The layers' outputs and the kernels' workspace are touched now, so that
     * no forward pays for their pages (first use faults them in); the
     * gradient buffers, which some models never use in full, are not. */
    memset(arena, 0, (size_t)((char *)m->grad_a - (char *)arena));
    memset(m->ws, 0, sz - (size_t)((char *)m->ws - (char *)arena));
    return CNN_OK;
too_big:
    return cnn__fail(CNN_ERANGE, "cnn_model_reserve: workspace for batch %d overflows", max_batch);
}

/* ---- forward -------------------------------------------------------------- */

static float *cnn__pp(cnn_model *m, const cnn__layer_rt *rt, int k) {
    return rt->p[k].numel ? m->params + rt->p[k].off : NULL;
}
static float *cnn__gp(cnn_model *m, const cnn__layer_rt *rt, int k) {
    return rt->p[k].numel ? m->grads + rt->p[k].off : NULL;
}

/* Dropout in training: mask = keep / (1 - p) with keep ~ Bernoulli(1 - p); y = x * mask. */
static void cnn__dropout_forward(float *y, float *mask, const float *x, size_t n, float p, cnn_rng *rng) {
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t k = 0; k < n; k++) {
        mask[k] = cnn_rng_uniform(rng) >= p ? scale : 0.0f;
        y[k] = x[k] * mask[k];
    }
}

/* Dropout2d in training: one mask value per (example, channel), planes of s values. */
static void cnn__dropout2d_forward(float *y, float *mask, const float *x, size_t planes, size_t s, float p,
                                   cnn_rng *rng) {
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t k = 0; k < planes; k++) {
        mask[k] = cnn_rng_uniform(rng) >= p ? scale : 0.0f;
        for (size_t j = 0; j < s; j++) y[k * s + j] = x[k * s + j] * mask[k];
    }
}

/* One BatchNorm over x (batch, c, s) -> y. stats: mean, invstd, unbiased var
 * (c each). rm, rv, count: running buffers (NULL without track_running_stats).
 * Batch statistics in training or without running buffers; running ones in eval. */
static int cnn__bn_forward(float *y, const float *x, float *stats, const float *gamma, const float *beta,
                           float *rm, float *rv, int64_t *count, const cnn__bn_cfg *cfg, int64_t n, int64_t c,
                           int64_t s, int train, int *used_batch) {
    float *mean = stats, *invstd = stats + c, *varu = stats + 2 * c;
    const int batch_stats = train || !cfg->track;
    *used_batch = batch_stats;
    if (batch_stats) {
        if (n * s <= 1)
            return cnn__fail(CNN_ESHAPE, "expected more than 1 value per channel when training, got input size "
                                         "[%lld, %lld%s]", (long long)n, (long long)c, s > 1 ? ", ..." : "");
        cnn__batchnorm_stats(mean, invstd, varu, x, n, c, s, cfg->eps);
        if (train && cfg->track) {
            (*count)++;
            /* exponential_average_factor: momentum, or 1/num_batches_tracked for momentum=None */
            const float f = cfg->cumulative ? (float)(1.0 / (double)*count) : cfg->momentum;
            for (int64_t k = 0; k < c; k++) {
                rm[k] = f * mean[k] + (1.0f - f) * rm[k];
                rv[k] = f * varu[k] + (1.0f - f) * rv[k];
            }
        }
    } else {
        for (int64_t k = 0; k < c; k++) {
            mean[k] = rm[k];
            invstd[k] = (float)(1.0 / sqrt((double)rv[k] + (double)cfg->eps));
        }
    }
    cnn__batchnorm_apply(y, x, mean, invstd, gamma, beta, n, c, s);
    return CNN_OK;
}

static float *cnn__bufp(cnn_model *m, const cnn__layer_rt *rt, int k) {
    return rt->b[k].numel ? m->bufs + rt->b[k].off : NULL;
}
static int64_t *cnn__ctrp(cnn_model *m, const cnn__layer_rt *rt, int k) {
    return rt->b[k].numel ? m->counters + rt->b[k].off : NULL;
}

static void cnn__relu_inplace(float *y, size_t n) {
    for (size_t k = 0; k < n; k++) y[k] = y[k] > 0.0f ? y[k] : 0.0f;
}

/* Y = relu(bn1(conv1(X))); Y = bn2(conv2(Y)); Y += conv3(X) or X; out = relu(Y). */
static int cnn__residual_forward(cnn_model *m, cnn__layer_rt *rt, const cnn_layer_desc *l, float *out,
                                 const float *x, int batch, int train) {
    const int64_t c = rt->bn_c, s = rt->bn_s;
    const size_t n = (size_t)rt->numel * (size_t)batch;
    float *c1 = rt->res[0], *r1 = rt->res[1], *c2 = rt->res[2], *c3 = rt->res[3];
    cnn__conv_geom g1 = rt->conv, g2 = rt->conv2, g3 = rt->conv3;
    g1.n = g2.n = g3.n = batch;
    int used;
    cnn__conv2d_forward(c1, x, cnn__pp(m, rt, RS_C1W), cnn__pp(m, rt, RS_C1B), &g1, m->ws);
    CNN_TRY(cnn__bn_forward(r1, c1, rt->stats, cnn__pp(m, rt, RS_BN1W), cnn__pp(m, rt, RS_BN1B), cnn__bufp(m, rt, 0),
                            cnn__bufp(m, rt, 1), cnn__ctrp(m, rt, 2), &rt->bn, batch, c, s, train, &used));
    cnn__relu_inplace(r1, n);
    cnn__conv2d_forward(c2, r1, cnn__pp(m, rt, RS_C2W), cnn__pp(m, rt, RS_C2B), &g2, m->ws);
    CNN_TRY(cnn__bn_forward(out, c2, rt->stats + 3 * c, cnn__pp(m, rt, RS_BN2W), cnn__pp(m, rt, RS_BN2B),
                            cnn__bufp(m, rt, 3), cnn__bufp(m, rt, 4), cnn__ctrp(m, rt, 5), &rt->bn, batch, c, s,
                            train, &used));
    rt->used_batch_stats = used;
    if (l->u.residual.use_1x1conv) {
        cnn__conv2d_forward(c3, x, cnn__pp(m, rt, RS_C3W), cnn__pp(m, rt, RS_C3B), &g3, m->ws);
        for (size_t k = 0; k < n; k++) out[k] += c3[k];
    } else {
        for (size_t k = 0; k < n; k++) out[k] += x[k];
    }
    cnn__relu_inplace(out, n);
    return CNN_OK;
}

/* Sigmoid, ReLU and Tanh layers: *act <- their cnn_activation, returns 1. */
static int cnn__layer_act(cnn_layer_kind kind, cnn_activation *act) {
    switch (kind) {
    case CNN_LAYER_SIGMOID: *act = CNN_ACT_SIGMOID; return 1;
    case CNN_LAYER_RELU: *act = CNN_ACT_RELU; return 1;
    case CNN_LAYER_TANH: *act = CNN_ACT_TANH; return 1;
    default: return 0;
    }
}

/* Layers i, i+1, i+2 are a Conv2d, an activation and a pooling that the
 * direct path fuses with its tensors in blocks of 8 (cnn__conv2d_direct_blocks_ok). */
static int cnn__fused_blocks(const cnn_model *m, int i, int batch) {
    cnn_activation act;
    if (i + 2 >= m->n_layers || m->layers[i].kind != CNN_LAYER_CONV2D ||
        !cnn__layer_act(m->layers[i + 1].kind, &act) ||
        (m->layers[i + 2].kind != CNN_LAYER_AVGPOOL2D && m->layers[i + 2].kind != CNN_LAYER_MAXPOOL2D))
        return 0;
    cnn__conv_geom g = m->rt[i].conv;
    cnn__pool_geom pg = m->rt[i + 2].pool;
    g.n = pg.n = batch;
    return cnn__conv2d_direct_blocks_ok(&g, act, &pg);
}

int cnn_model_forward(cnn_model *m, const float **logits, const float *x, int batch, int train,
                      cnn_rng *rng) {
    if (!m || !logits || !x) return cnn__fail(CNN_EINVAL, "cnn_model_forward: NULL argument");
    if (batch <= 0) return cnn__fail(CNN_ERANGE, "cnn_model_forward: batch size %d, expected >= 1", batch);
    if (batch > m->max_batch) CNN_TRY(cnn_model_reserve(m, batch));
    m->batch = 0; /* no valid forward until this one completes */
    m->dropped = 0;
    m->act[0] = x;
    int in_blk = 0; /* the input of layer i is in blocks of 8 */
    for (int i = 0; i < m->n_layers; i++) {
        const cnn_layer_desc *l = &m->layers[i];
        cnn__layer_rt *rt = &m->rt[i];
        const float *in = m->act[i];
        float *out = rt->out;
        size_t n = (size_t)rt->numel * (size_t)batch;
        int rc = CNN_OK;
        switch (l->kind) {
        case CNN_LAYER_CONV2D: {
            cnn__conv_geom g = rt->conv;
            g.n = batch;
            rt->cols_valid = train && rt->cols;
            /* Conv2d followed by an activation (and pooling): the direct
             * kernels apply them while a sample is in cache, filling each
             * layer's output as if they ran one after another. */
            cnn_activation act;
            if (i + 1 < m->n_layers && cnn__layer_act(m->layers[i + 1].kind, &act) &&
                cnn__conv2d_direct_ok(&g)) {
                int pool = i + 2 < m->n_layers && (m->layers[i + 2].kind == CNN_LAYER_MAXPOOL2D ||
                                                   m->layers[i + 2].kind == CNN_LAYER_AVGPOOL2D);
                float *aout = m->rt[i + 1].out, *pout = pool ? m->rt[i + 2].out : NULL;
                /* No backward needs the convolution's output (the
                 * activation's gradient is computed from its own output), so
                 * it stays in the kernel's scratch; inference needs only the
                 * pooled output, so the activation's stays there too. */
                int keep = train || !pool;
                /* Between this forward and its backward, and into a next
                 * such layer, tensors stay in blocks of 8 (the kernel's
                 * layout) where both sides take them so. */
                rt->blk = 0;
                if (cnn__fused_blocks(m, i, batch))
                    rt->blk = (in_blk ? CNN__BLK_X : 0) | (keep ? CNN__BLK_A : 0) |
                              (cnn__fused_blocks(m, i + 3, batch) ? CNN__BLK_P : 0);
                in_blk = (rt->blk & CNN__BLK_P) != 0;
                cnn__pool_geom pg = pool ? m->rt[i + 2].pool : (cnn__pool_geom){0};
                pg.n = batch;
                cnn__conv2d_direct_forward_fused(NULL, keep ? aout : NULL, act, pout, pool ? &pg : NULL, in,
                                                 cnn__pp(m, rt, 0), cnn__pp(m, rt, 1), &g, rt->blk, m->ws);
                m->act[i + 1] = NULL;
                if (pool) m->act[i + 2] = keep ? aout : NULL;
                m->dropped |= !keep;
                i += pool ? 2 : 1;
                out = pool ? pout : aout;
            } else if (rt->cols_valid)
                cnn__conv2d_forward_keep(out, in, cnn__pp(m, rt, 0), cnn__pp(m, rt, 1), &g, rt->cols);
            else
                cnn__conv2d_forward(out, in, cnn__pp(m, rt, 0), cnn__pp(m, rt, 1), &g, m->ws);
            break;
        }
        case CNN_LAYER_MAXPOOL2D:
        case CNN_LAYER_AVGPOOL2D: {
            cnn__pool_geom g = rt->pool;
            g.n = batch;
            cnn__pool2d_forward(out, in, &g);
            break;
        }
        case CNN_LAYER_SIGMOID: cnn__act_forward(out, in, n, CNN_ACT_SIGMOID); break;
        case CNN_LAYER_RELU: cnn__act_forward(out, in, n, CNN_ACT_RELU); break;
        case CNN_LAYER_TANH: cnn__act_forward(out, in, n, CNN_ACT_TANH); break;
        case CNN_LAYER_LEAKYRELU: cnn__leaky_relu_forward(out, in, n, l->u.leaky_relu.negative_slope); break;
        case CNN_LAYER_SOFTMAX:
            cnn__softmax_forward(out, in, rt->sm_outer * batch, rt->sm_len, rt->sm_inner);
            break;
        case CNN_LAYER_FLATTEN: out = (float *)in; break;
        case CNN_LAYER_LINEAR:
            cnn__linear_forward(out, in, cnn__pp(m, rt, 0), cnn__pp(m, rt, 1), rt->rows * batch,
                                l->u.linear.in_features, l->u.linear.out_features);
            break;
        case CNN_LAYER_DROPOUT:
        case CNN_LAYER_DROPOUT2D:
            if (train && l->u.dropout.p > 0.0f) {
                if (!rng) return cnn__fail(CNN_EINVAL, "cnn_model_forward: Dropout in training needs an rng");
                if (l->kind == CNN_LAYER_DROPOUT) {
                    cnn__dropout_forward(out, rt->mask, in, n, l->u.dropout.p, rng);
                } else {
                    size_t planes = (size_t)batch * (size_t)rt->shape[1];
                    cnn__dropout2d_forward(out, rt->mask, in, planes, n / planes, l->u.dropout.p, rng);
                }
            } else {
                out = (float *)in;
            }
            break;
        case CNN_LAYER_BATCHNORM2D:
        case CNN_LAYER_BATCHNORM1D:
            rc = cnn__bn_forward(out, in, rt->stats, cnn__pp(m, rt, 0), cnn__pp(m, rt, 1), cnn__bufp(m, rt, 0),
                                 cnn__bufp(m, rt, 1), cnn__ctrp(m, rt, 2), &rt->bn, batch, rt->bn_c, rt->bn_s,
                                 train, &rt->used_batch_stats);
            break;
        case CNN_LAYER_ADAPTIVEAVGPOOL2D:
        case CNN_LAYER_ADAPTIVEMAXPOOL2D:
            cnn__adaptive_pool_forward(out, in, (int64_t)batch * rt->shape[1], rt->in_h, rt->in_w, rt->shape[2],
                                       rt->shape[3], l->kind == CNN_LAYER_ADAPTIVEMAXPOOL2D);
            break;
        case CNN_LAYER_RESIDUAL: rc = cnn__residual_forward(m, rt, l, out, in, batch, train); break;
        default: CNN_ASSERT(0);
        }
        if (rc < 0) return cnn__layer_fail(rc, l, i);
        m->act[i + 1] = out;
    }
    m->batch = batch;
    m->train = train;
    *logits = m->act[m->n_layers];
    return CNN_OK;
}

/* ---- backward ------------------------------------------------------------- */

/* dx (may be NULL) of the Residual block from dy; accumulates its parameter gradients. */
static void cnn__residual_backward(cnn_model *m, const cnn__layer_rt *rt, const cnn_layer_desc *l, float *dx,
                                   const float *dy, const float *x, const float *out, int batch) {
    const int64_t c = rt->bn_c, s = rt->bn_s;
    const size_t n = (size_t)rt->numel * (size_t)batch;
    const float *c1 = rt->res[0], *r1 = rt->res[1], *c2 = rt->res[2];
    float *g1 = m->rscratch, *g2 = g1 + n, *g3 = g2 + n, *g4 = g3 + n; /* g4: (batch, input) */
    cnn__conv_geom cg1 = rt->conv, cg2 = rt->conv2, cg3 = rt->conv3;
    cg1.n = cg2.n = cg3.n = batch;
    const int bs = rt->used_batch_stats;
    for (size_t k = 0; k < n; k++) g1[k] = out[k] > 0.0f ? dy[k] : 0.0f; /* through the final relu */
    cnn__batchnorm_backward(g2, cnn__gp(m, rt, RS_BN2W), cnn__gp(m, rt, RS_BN2B), g1, c2, rt->stats + 3 * c,
                            rt->stats + 4 * c, cnn__pp(m, rt, RS_BN2W), batch, c, s, bs);
    cnn__conv2d_backward(g3, cnn__gp(m, rt, RS_C2W), cnn__gp(m, rt, RS_C2B), g2, r1, cnn__pp(m, rt, RS_C2W), &cg2,
                         m->ws);
    for (size_t k = 0; k < n; k++) g3[k] = r1[k] > 0.0f ? g3[k] : 0.0f;
    cnn__batchnorm_backward(g2, cnn__gp(m, rt, RS_BN1W), cnn__gp(m, rt, RS_BN1B), g3, c1, rt->stats,
                            rt->stats + c, cnn__pp(m, rt, RS_BN1W), batch, c, s, bs);
    cnn__conv2d_backward(dx, cnn__gp(m, rt, RS_C1W), cnn__gp(m, rt, RS_C1B), g2, x, cnn__pp(m, rt, RS_C1W), &cg1,
                         m->ws);
    const size_t nin = (size_t)rt->in_numel * (size_t)batch;
    if (l->u.residual.use_1x1conv) {
        cnn__conv2d_backward(dx ? g4 : NULL, cnn__gp(m, rt, RS_C3W), cnn__gp(m, rt, RS_C3B), g1, x,
                             cnn__pp(m, rt, RS_C3W), &cg3, m->ws);
        if (dx)
            for (size_t k = 0; k < nin; k++) dx[k] += g4[k];
    } else if (dx) {
        for (size_t k = 0; k < nin; k++) dx[k] += g1[k];
    }
}

int cnn_model_backward(cnn_model *m, const float *dlogits) {
    if (!m || !dlogits) return cnn__fail(CNN_EINVAL, "cnn_model_backward: NULL argument");
    if (m->batch <= 0) return cnn__fail(CNN_EINVAL, "cnn_model_backward: no forward pass to differentiate");
    if (m->dropped)
        return cnn__fail(CNN_EINVAL, "cnn_model_backward: the last forward (train=0) kept only the outputs "
                                     "inference needs; run the forward with train=1 first");
    const int batch = m->batch;
    const float *dy = dlogits;
    for (int i = m->n_layers - 1; i >= 0; i--) {
        const cnn_layer_desc *l = &m->layers[i];
        const cnn__layer_rt *rt = &m->rt[i];
        const float *x = m->act[i], *y = m->act[i + 1];
        /* dx goes to whichever ping-pong buffer does not hold dy; the first
         * layer needs no input gradient. */
        float *dx = i == 0 ? NULL : (dy == m->grad_a ? m->grad_b : m->grad_a);
        size_t n = (size_t)rt->numel * (size_t)batch;
        switch (l->kind) {
        case CNN_LAYER_CONV2D: {
            cnn__conv_geom g = rt->conv;
            g.n = batch;
            if (rt->cols_valid)
                cnn__conv2d_backward_kept(dx, cnn__gp(m, rt, 0), cnn__gp(m, rt, 1), dy, x, cnn__pp(m, rt, 0), &g,
                                          m->ws, rt->cols);
            else
                cnn__conv2d_backward(dx, cnn__gp(m, rt, 0), cnn__gp(m, rt, 1), dy, x, cnn__pp(m, rt, 0), &g, m->ws);
            break;
        }
        case CNN_LAYER_MAXPOOL2D:
        case CNN_LAYER_AVGPOOL2D: {
            if (!dx) break;
            cnn__pool_geom g = rt->pool;
            g.n = batch;
            /* after an activation that needs its input gradient: both layers'
             * backward in one pass over each sample (x is the activation's output) */
            cnn_activation act;
            if (i >= 2 && cnn__layer_act(m->layers[i - 1].kind, &act)) {
                /* and the Conv2d before them, when the forward fused all three:
                 * one pass over each sample for the three layers' backward */
                const cnn__layer_rt *crt = &m->rt[i - 2];
                cnn__conv_geom cg = crt->conv;
                cg.n = batch;
                if (m->layers[i - 2].kind == CNN_LAYER_CONV2D && !m->act[i - 1] &&
                    cnn__conv2d_direct_ok(&cg)) {
                    float *cdx = i == 2 ? NULL : dx;
                    /* dx in blocks of 8 where x was: the layer before reads it as its dp */
                    int blk = crt->blk | (crt->blk & CNN__BLK_X ? CNN__BLK_DX : 0);
                    cnn__conv2d_direct_backward_fused(cdx, cnn__gp(m, crt, 0), cnn__gp(m, crt, 1), dy, x, act,
                                                      &g, m->act[i - 2], cnn__pp(m, crt, 0), &cg, blk, m->ws);
                    dx = cdx;
                    i -= 2;
                    break;
                }
                cnn__pool_act_backward(dx, dy, x, &g, act);
                i--;
                break;
            }
            cnn__pool2d_backward(dx, dy, x, &g);
            break;
        }
        case CNN_LAYER_SIGMOID: if (dx) cnn__act_backward(dx, dy, x, y, n, CNN_ACT_SIGMOID); break;
        case CNN_LAYER_RELU: if (dx) cnn__act_backward(dx, dy, x, y, n, CNN_ACT_RELU); break;
        case CNN_LAYER_TANH: if (dx) cnn__act_backward(dx, dy, x, y, n, CNN_ACT_TANH); break;
        case CNN_LAYER_LEAKYRELU:
            if (dx) cnn__leaky_relu_backward(dx, dy, x, n, l->u.leaky_relu.negative_slope);
            break;
        case CNN_LAYER_SOFTMAX:
            if (dx) cnn__softmax_backward(dx, dy, y, rt->sm_outer * batch, rt->sm_len, rt->sm_inner);
            break;
        case CNN_LAYER_FLATTEN: dx = (float *)dy; break;
        case CNN_LAYER_LINEAR:
            cnn__linear_backward(dx, cnn__gp(m, rt, 0), cnn__gp(m, rt, 1), dy, x, cnn__pp(m, rt, 0),
                                 rt->rows * batch, l->u.linear.in_features, l->u.linear.out_features);
            break;
        case CNN_LAYER_DROPOUT:
        case CNN_LAYER_DROPOUT2D:
            if (m->train && l->u.dropout.p > 0.0f) {
                if (dx && l->kind == CNN_LAYER_DROPOUT) {
                    for (size_t k = 0; k < n; k++) dx[k] = dy[k] * rt->mask[k];
                } else if (dx) {
                    size_t planes = (size_t)batch * (size_t)rt->shape[1], s = n / planes;
                    for (size_t k = 0; k < planes; k++)
                        for (size_t j = 0; j < s; j++) dx[k * s + j] = dy[k * s + j] * rt->mask[k];
                }
            } else {
                dx = (float *)dy;
            }
            break;
        case CNN_LAYER_BATCHNORM2D:
        case CNN_LAYER_BATCHNORM1D:
            cnn__batchnorm_backward(dx, cnn__gp(m, rt, 0), cnn__gp(m, rt, 1), dy, x, rt->stats, rt->stats + rt->bn_c,
                                    cnn__pp(m, rt, 0), batch, rt->bn_c, rt->bn_s, rt->used_batch_stats);
            break;
        case CNN_LAYER_ADAPTIVEAVGPOOL2D:
        case CNN_LAYER_ADAPTIVEMAXPOOL2D:
            if (dx)
                cnn__adaptive_pool_backward(dx, dy, x, (int64_t)batch * rt->shape[1], rt->in_h, rt->in_w,
                                            rt->shape[2], rt->shape[3], l->kind == CNN_LAYER_ADAPTIVEMAXPOOL2D);
            break;
        case CNN_LAYER_RESIDUAL: cnn__residual_backward(m, rt, l, dx, dy, x, y, batch); break;
        default: CNN_ASSERT(0);
        }
        dy = dx;
        if (!dy) break;
    }
    return CNN_OK;
}

/* ---- divergence ------------------------------------------------------------ */

int cnn_model_first_nonfinite_layer(const cnn_model *m, int *layer) {
    if (!m || !layer) return cnn__fail(CNN_EINVAL, "cnn_model_first_nonfinite_layer: NULL argument");
    *layer = -1;
    if (m->batch <= 0) return cnn__fail(CNN_EINVAL, "cnn_model_first_nonfinite_layer: no forward to inspect");
    for (int i = 0; i < m->n_layers; i++) {
        const float *y = m->act[i + 1]; /* (batch, numel); NULL if not kept */
        size_t n = y ? (size_t)m->rt[i].numel * (size_t)m->batch : 0;
        for (size_t k = 0; k < n; k++)
            if (!isfinite(y[k])) {
                /* Sigmoid, ReLU and Tanh map finite inputs to finite outputs:
                 * after a Conv2d whose output was not kept, the Conv2d's
                 * output was already non-finite. */
                cnn_activation act;
                *layer = i > 0 && !m->act[i] && cnn__layer_act(m->layers[i].kind, &act) ? i - 1 : i;
                return CNN_OK;
            }
    }
    return CNN_OK;
}
