/* model.c — nn.Sequential at run time.
 *
 * A model is a list of layer descriptions, the shapes they produce, one
 * parameter buffer and one gradient buffer with the same layout (tensors in
 * state_dict order: "0.weight", "0.bias", "3.weight", ...), and a workspace
 * planned once for a maximum batch size by cnn_model_reserve():
 *
 *   act[i]   output of layer i-1 (act[0] is the caller's input), (batch, ...)
 *   grad_a/b two ping-pong buffers for activation gradients during backward
 *   ws       scratch for the conv kernels (im2col columns)
 *   mask     dropout masks, one per Dropout layer
 *
 * Forward and backward allocate nothing. Flatten (and Dropout in eval mode)
 * pass their input through without copying.
 */
#include "cnn_internal.h"
#include "ops/ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct cnn__layer_rt {
    int ndim;                       /* output ndim, batch dim included */
    int64_t shape[CNN_MAX_DIMS];    /* output shape for batch 1 */
    int64_t numel;                  /* output elements per example */
    size_t weight_off, weight_numel, bias_off, bias_numel; /* in the parameter buffer */
    cnn__conv_geom conv;            /* CONV2D, for batch 1 */
    cnn__pool_geom pool;            /* MAXPOOL2D / AVGPOOL2D, for batch 1 */
    int64_t rows;                   /* LINEAR: rows per example (leading dims) */
    float *out;                     /* workspace output (batch, ...) */
    float *mask;                    /* DROPOUT: keep mask scaled by 1/(1-p) */
} cnn__layer_rt;

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
    /* workspace, see the top of the file */
    int max_batch;
    float *arena;                   /* one allocation for all of the below */
    const float **act;              /* n_layers + 1 */
    float *grad_a, *grad_b;
    float *ws;
    int batch;                      /* batch of the last forward; 0 if none */
    int train;                      /* mode of the last forward */
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

static int64_t cnn__numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 1; d < ndim; d++) n *= shape[d];
    return n;
}

/* Shape of layer l's output from its input shape (batch 1); fills rt. */
static int cnn__layer_plan(cnn__layer_rt *rt, const cnn_layer_desc *l, int ndim,
                           const int64_t *shape) {
    memcpy(rt->shape, shape, sizeof rt->shape);
    rt->ndim = ndim;
    switch (l->kind) {
    case CNN_LAYER_CONV2D:
        if (ndim != 4)
            return cnn__fail(CNN_ESHAPE, "expected a 4-D input (N, C, H, W), found %d-D", ndim);
        CNN_TRY(cnn__conv_geom_make(&rt->conv, &l->u.conv, shape));
        rt->shape[1] = rt->conv.oc, rt->shape[2] = rt->conv.oh, rt->shape[3] = rt->conv.ow;
        rt->weight_numel = (size_t)l->u.conv.out_channels * (size_t)(l->u.conv.in_channels / l->u.conv.groups) *
                           (size_t)l->u.conv.kernel_size[0] * (size_t)l->u.conv.kernel_size[1];
        rt->bias_numel = l->u.conv.bias ? (size_t)l->u.conv.out_channels : 0;
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
    case CNN_LAYER_LINEAR:
        if (ndim < 2 || shape[ndim - 1] != l->u.linear.in_features)
            return cnn__fail(CNN_ESHAPE, "expected input features %d, found %lld",
                             l->u.linear.in_features, (long long)(ndim >= 2 ? shape[ndim - 1] : 0));
        rt->rows = cnn__numel(ndim - 1, shape);
        rt->shape[ndim - 1] = l->u.linear.out_features;
        rt->weight_numel = (size_t)l->u.linear.out_features * (size_t)l->u.linear.in_features;
        rt->bias_numel = l->u.linear.bias ? (size_t)l->u.linear.out_features : 0;
        break;
    case CNN_LAYER_DROPOUT:
        if (!(l->u.dropout.p >= 0.0f && l->u.dropout.p <= 1.0f))
            return cnn__fail(CNN_EINVAL, "dropout probability has to be between 0 and 1, found %g",
                             (double)l->u.dropout.p);
        break;
    case CNN_LAYER_SIGMOID:
    case CNN_LAYER_RELU:
    case CNN_LAYER_TANH:
        break;
    default:
        return cnn__fail(CNN_EINVAL, "unknown layer kind %d", (int)l->kind);
    }
    rt->numel = cnn__numel(rt->ndim, rt->shape);
    if (rt->numel <= 0 || rt->numel > CNN_MAX_NUMEL)
        return cnn__fail(CNN_ERANGE, "output has %lld elements per example, expected 1..%lld",
                         (long long)rt->numel, (long long)CNN_MAX_NUMEL);
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
    size_t off = 0;
    int n_tensors = 0;
    for (int i = 0; i < n_layers; i++) {
        cnn__layer_rt *rt = &m->rt[i];
        int rc = cnn__layer_plan(rt, &layers[i], ndim, shape);
        if (rc < 0) {
            cnn_model_free(m);
            return cnn__layer_fail(rc, &layers[i], i);
        }
        rt->weight_off = off, off += rt->weight_numel;
        rt->bias_off = off, off += rt->bias_numel;
        n_tensors += (rt->weight_numel > 0) + (rt->bias_numel > 0);
        ndim = rt->ndim;
        memcpy(shape, rt->shape, sizeof shape);
    }
    m->n_params = off;
    m->params = cnn_calloc(off, sizeof(float));
    m->grads = cnn_calloc(off, sizeof(float));
    m->tensors = cnn_calloc((size_t)(n_tensors ? n_tensors : 1), sizeof *m->tensors);
    if (!m->params || !m->grads || !m->tensors) {
        cnn_model_free(m);
        return cnn__fail(CNN_ENOMEM, "cnn_model_create: out of memory for %zu parameters", off);
    }
    /* state_dict entries: weight then bias of each layer, in layer order. */
    for (int i = 0; i < n_layers; i++) {
        const cnn__layer_rt *rt = &m->rt[i];
        const cnn_layer_desc *l = &layers[i];
        if (rt->weight_numel) {
            cnn_param_info *t = &m->tensors[m->n_tensors++];
            snprintf(t->name, sizeof t->name, "%d.weight", i);
            t->layer = i, t->offset = rt->weight_off, t->numel = rt->weight_numel;
            if (l->kind == CNN_LAYER_CONV2D) {
                t->ndim = 4;
                t->shape[0] = l->u.conv.out_channels;
                t->shape[1] = l->u.conv.in_channels / l->u.conv.groups;
                t->shape[2] = l->u.conv.kernel_size[0];
                t->shape[3] = l->u.conv.kernel_size[1];
            } else {
                t->ndim = 2;
                t->shape[0] = l->u.linear.out_features;
                t->shape[1] = l->u.linear.in_features;
            }
        }
        if (rt->bias_numel) {
            cnn_param_info *t = &m->tensors[m->n_tensors++];
            snprintf(t->name, sizeof t->name, "%d.bias", i);
            t->layer = i, t->offset = rt->bias_off, t->numel = rt->bias_numel;
            t->ndim = 1;
            t->shape[0] = (int64_t)rt->bias_numel;
        }
    }
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
    cnn_free(m->tensors);
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

/* fan_in and fan_out as torch.nn.init._calculate_fan_in_and_fan_out. */
static void cnn__fans(const cnn_layer_desc *l, double *fan_in, double *fan_out) {
    if (l->kind == CNN_LAYER_CONV2D) {
        double rf = (double)l->u.conv.kernel_size[0] * l->u.conv.kernel_size[1];
        *fan_in = (double)(l->u.conv.in_channels / l->u.conv.groups) * rf;
        *fan_out = (double)l->u.conv.out_channels * rf;
    } else {
        *fan_in = l->u.linear.in_features;
        *fan_out = l->u.linear.out_features;
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
        if (!rt->weight_numel) continue;
        double fan_in, fan_out;
        cnn__fans(&m->layers[i], &fan_in, &fan_out);
        /* default: kaiming_uniform_(a=sqrt(5)) has bound gain*sqrt(3/fan_in) = 1/sqrt(fan_in);
         * xavier_uniform_: bound sqrt(6/(fan_in+fan_out)). Bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
        double wb = kind == CNN_INIT_XAVIER ? sqrt(6.0 / (fan_in + fan_out)) : 1.0 / sqrt(fan_in);
        cnn__fill_uniform(m->params + rt->weight_off, rt->weight_numel, wb, rng);
        cnn__fill_uniform(m->params + rt->bias_off, rt->bias_numel, 1.0 / sqrt(fan_in), rng);
    }
    return CNN_OK;
}

void cnn_model_zero_grad(cnn_model *m) {
    if (m) memset(m->grads, 0, m->n_params * sizeof(float));
}

/* Does layer i write its own output buffer (as opposed to passing its input on)? */
static int cnn__layer_has_output(const cnn_layer_desc *l) { return l->kind != CNN_LAYER_FLATTEN; }

int cnn_model_reserve(cnn_model *m, int max_batch) {
    if (!m) return cnn__fail(CNN_EINVAL, "cnn_model_reserve: model is NULL");
    if (max_batch <= 0 || max_batch > (1 << 24))
        return cnn__fail(CNN_ERANGE, "cnn_model_reserve: batch size %d, expected 1..%d", max_batch, 1 << 24);
    if (max_batch <= m->max_batch) return CNN_OK;
    /* Count floats: every layer output, two gradient buffers of the largest
     * activation (input included), conv scratch, dropout masks. */
    size_t total = 0, largest = (size_t)m->in_numel, ws = 0, b = (size_t)max_batch, sz;
    for (int i = 0; i < m->n_layers; i++) {
        const cnn__layer_rt *rt = &m->rt[i];
        if (cnn__mul_overflow((size_t)rt->numel, b, &sz)) goto too_big;
        if (cnn__layer_has_output(&m->layers[i]) && cnn__add_overflow(total, sz, &total)) goto too_big;
        if (m->layers[i].kind == CNN_LAYER_DROPOUT && cnn__add_overflow(total, sz, &total)) goto too_big;
        if ((size_t)rt->numel > largest) largest = (size_t)rt->numel;
        if (m->layers[i].kind == CNN_LAYER_CONV2D) {
            cnn__conv_geom g = rt->conv;
            g.n = max_batch;
            size_t need = cnn__conv2d_workspace(&g);
            if (need > ws) ws = need;
        }
    }
    if (cnn__mul_overflow(largest, b, &sz) || cnn__mul_overflow(sz, 2, &sz) ||
        cnn__add_overflow(total, sz, &total) || cnn__add_overflow(total, ws, &total) ||
        cnn__mul_overflow(total, sizeof(float), &sz))
        goto too_big;
    float *arena = cnn_malloc(sz);
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
        rt->out = rt->mask = NULL;
        if (cnn__layer_has_output(&m->layers[i])) rt->out = p, p += (size_t)rt->numel * b;
        if (m->layers[i].kind == CNN_LAYER_DROPOUT) rt->mask = p, p += (size_t)rt->numel * b;
    }
    m->grad_a = p, p += largest * b;
    m->grad_b = p, p += largest * b;
    m->ws = p;
    return CNN_OK;
too_big:
    return cnn__fail(CNN_ERANGE, "cnn_model_reserve: workspace for batch %d overflows", max_batch);
}

/* Dropout in training: mask = keep / (1 - p) with keep ~ Bernoulli(1 - p); y = x * mask. */
static void cnn__dropout_forward(float *y, float *mask, const float *x, size_t n, float p, cnn_rng *rng) {
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t k = 0; k < n; k++) {
        mask[k] = cnn_rng_uniform(rng) >= p ? scale : 0.0f;
        y[k] = x[k] * mask[k];
    }
}

int cnn_model_forward(cnn_model *m, const float **logits, const float *x, int batch, int train,
                      cnn_rng *rng) {
    if (!m || !logits || !x) return cnn__fail(CNN_EINVAL, "cnn_model_forward: NULL argument");
    if (batch <= 0) return cnn__fail(CNN_ERANGE, "cnn_model_forward: batch size %d, expected >= 1", batch);
    if (batch > m->max_batch) CNN_TRY(cnn_model_reserve(m, batch));
    m->act[0] = x;
    for (int i = 0; i < m->n_layers; i++) {
        const cnn_layer_desc *l = &m->layers[i];
        cnn__layer_rt *rt = &m->rt[i];
        const float *in = m->act[i];
        float *out = rt->out;
        size_t n = (size_t)rt->numel * (size_t)batch;
        switch (l->kind) {
        case CNN_LAYER_CONV2D: {
            cnn__conv_geom g = rt->conv;
            g.n = batch;
            cnn__conv2d_forward(out, in, m->params + rt->weight_off,
                                rt->bias_numel ? m->params + rt->bias_off : NULL, &g, m->ws);
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
        case CNN_LAYER_FLATTEN: out = (float *)in; break;
        case CNN_LAYER_LINEAR:
            cnn__linear_forward(out, in, m->params + rt->weight_off,
                                rt->bias_numel ? m->params + rt->bias_off : NULL,
                                rt->rows * batch, l->u.linear.in_features, l->u.linear.out_features);
            break;
        case CNN_LAYER_DROPOUT:
            if (train && l->u.dropout.p > 0.0f) {
                if (!rng) return cnn__fail(CNN_EINVAL, "cnn_model_forward: Dropout in training needs an rng");
                cnn__dropout_forward(out, rt->mask, in, n, l->u.dropout.p, rng);
            } else {
                out = (float *)in;
            }
            break;
        default: CNN_ASSERT(0);
        }
        m->act[i + 1] = out;
    }
    m->batch = batch;
    m->train = train;
    *logits = m->act[m->n_layers];
    return CNN_OK;
}

int cnn_model_backward(cnn_model *m, const float *dlogits) {
    if (!m || !dlogits) return cnn__fail(CNN_EINVAL, "cnn_model_backward: NULL argument");
    if (m->batch <= 0) return cnn__fail(CNN_EINVAL, "cnn_model_backward: no forward pass to differentiate");
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
            cnn__conv2d_backward(dx, m->grads + rt->weight_off,
                                 rt->bias_numel ? m->grads + rt->bias_off : NULL, dy, x,
                                 m->params + rt->weight_off, &g, m->ws);
            break;
        }
        case CNN_LAYER_MAXPOOL2D:
        case CNN_LAYER_AVGPOOL2D: {
            if (!dx) break;
            cnn__pool_geom g = rt->pool;
            g.n = batch;
            cnn__pool2d_backward(dx, dy, x, &g);
            break;
        }
        case CNN_LAYER_SIGMOID: if (dx) cnn__act_backward(dx, dy, x, y, n, CNN_ACT_SIGMOID); break;
        case CNN_LAYER_RELU: if (dx) cnn__act_backward(dx, dy, x, y, n, CNN_ACT_RELU); break;
        case CNN_LAYER_TANH: if (dx) cnn__act_backward(dx, dy, x, y, n, CNN_ACT_TANH); break;
        case CNN_LAYER_FLATTEN: dx = (float *)dy; break;
        case CNN_LAYER_LINEAR:
            cnn__linear_backward(dx, m->grads + rt->weight_off,
                                 rt->bias_numel ? m->grads + rt->bias_off : NULL, dy, x,
                                 m->params + rt->weight_off, rt->rows * batch,
                                 l->u.linear.in_features, l->u.linear.out_features);
            break;
        case CNN_LAYER_DROPOUT:
            if (m->train && l->u.dropout.p > 0.0f) {
                if (dx)
                    for (size_t k = 0; k < n; k++) dx[k] = dy[k] * rt->mask[k];
            } else {
                dx = (float *)dy;
            }
            break;
        default: CNN_ASSERT(0);
        }
        dy = dx;
        if (!dy) break;
    }
    return CNN_OK;
}
