/* describe.c — the canonical text of a layer (see describe.h).
 *
 * Only the arguments a layer's computation depends on are written: a max
 * pooling has no count_include_pad, a Conv2d with padding='same' no padding
 * numbers. So a model built through the C API with leftover values in unused
 * fields describes the same as its parsed twin.
 */
#include "nn/describe.h"

#include "cnn_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An snprintf that appends: len counts every byte asked for, as snprintf. */
typedef struct {
    char *buf;
    size_t cap, len;
} desc_out;

static void put(desc_out *o, const char *fmt, ...) CNN__PRINTF(2, 3);
static void put(desc_out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *at = o->buf && o->len < o->cap ? o->buf + o->len : NULL;
    int n = vsnprintf(at, at ? o->cap - o->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) o->len += (size_t)n;
}

static const char *py_bool(int v) { return v ? "True" : "False"; }

/* The shortest %g text that reads back as the same float (Python's repr
 * of the value PyTorch would hold as float32 shows more digits, but equal
 * floats give equal texts, which is what matters here). */
static void put_float(desc_out *o, float v) {
    char s[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, (double)v);
        if (strtof(s, NULL) == v) break;
    }
    put(o, "%s", s);
}

static void put_pair(desc_out *o, const char *name, const int v[2]) { put(o, ",%s=(%d,%d)", name, v[0], v[1]); }

int cnn__layer_describe(char *buf, size_t cap, const cnn_layer_desc *l) {
    desc_out o = {buf, cap, 0};
    if (buf && cap) buf[0] = '\0';
    if (!l || (int)l->kind < 0 || (int)l->kind >= (int)CNN_LAYER_COUNT) return CNN_EINVAL;
    put(&o, "%s(", cnn_layer_kind_name(l->kind));
    switch (l->kind) {
    case CNN_LAYER_CONV2D: {
        const cnn_conv2d_desc *d = &l->u.conv;
        put(&o, "%d,%d", d->in_channels, d->out_channels);
        put_pair(&o, "kernel_size", d->kernel_size);
        put_pair(&o, "stride", d->stride);
        if (d->padding_kind == CNN_PADDING_SAME) put(&o, ",padding=same");
        else if (d->padding_kind == CNN_PADDING_VALID) put(&o, ",padding=valid");
        else put_pair(&o, "padding", d->padding);
        put_pair(&o, "dilation", d->dilation);
        put(&o, ",groups=%d,bias=%s", d->groups, py_bool(d->bias));
        break;
    }
    case CNN_LAYER_MAXPOOL2D:
    case CNN_LAYER_AVGPOOL2D: {
        const cnn_pool2d_desc *d = &l->u.pool;
        put(&o, "kernel_size=(%d,%d)", d->kernel_size[0], d->kernel_size[1]);
        put_pair(&o, "stride", d->stride);
        put_pair(&o, "padding", d->padding);
        if (l->kind == CNN_LAYER_MAXPOOL2D) put_pair(&o, "dilation", d->dilation);
        put(&o, ",ceil_mode=%s", py_bool(d->ceil_mode));
        if (l->kind == CNN_LAYER_AVGPOOL2D) {
            put(&o, ",count_include_pad=%s", py_bool(d->count_include_pad));
            if (d->divisor_override) put(&o, ",divisor_override=%d", d->divisor_override);
            else put(&o, ",divisor_override=None");
        }
        break;
    }
    case CNN_LAYER_LINEAR:
        put(&o, "in_features=%d,out_features=%d,bias=%s", l->u.linear.in_features, l->u.linear.out_features,
            py_bool(l->u.linear.bias));
        break;
    case CNN_LAYER_FLATTEN:
        put(&o, "start_dim=%d,end_dim=%d", l->u.flatten.start_dim, l->u.flatten.end_dim);
        break;
    case CNN_LAYER_DROPOUT:
    case CNN_LAYER_DROPOUT2D:
        put(&o, "p=");
        put_float(&o, l->u.dropout.p);
        break;
    case CNN_LAYER_BATCHNORM2D:
    case CNN_LAYER_BATCHNORM1D:
        put(&o, "%d,eps=", l->u.batchnorm.num_features);
        put_float(&o, l->u.batchnorm.eps);
        put(&o, ",momentum=");
        if (l->u.batchnorm.cumulative) put(&o, "None");
        else put_float(&o, l->u.batchnorm.momentum);
        put(&o, ",affine=%s,track_running_stats=%s", py_bool(l->u.batchnorm.affine),
            py_bool(l->u.batchnorm.track_running_stats));
        break;
    case CNN_LAYER_LEAKYRELU:
        put(&o, "negative_slope=");
        put_float(&o, l->u.leaky_relu.negative_slope);
        break;
    case CNN_LAYER_SOFTMAX:
        if (l->u.softmax.dim == CNN_SOFTMAX_DIM_NONE) put(&o, "dim=None");
        else put(&o, "dim=%d", l->u.softmax.dim);
        break;
    case CNN_LAYER_ADAPTIVEAVGPOOL2D:
    case CNN_LAYER_ADAPTIVEMAXPOOL2D:
        put(&o, "output_size=(");
        for (int k = 0; k < 2; k++) {
            int s = l->u.adaptive.output_size[k];
            if (s) put(&o, k ? ",%d" : "%d", s);
            else put(&o, k ? ",None" : "None");
        }
        put(&o, ")");
        break;
    case CNN_LAYER_RESIDUAL:
        put(&o, "input_channels=%d,num_channels=%d,use_1x1conv=%s,strides=%d", l->u.residual.input_channels,
            l->u.residual.num_channels, py_bool(l->u.residual.use_1x1conv), l->u.residual.strides);
        break;
    case CNN_LAYER_SIGMOID:
    case CNN_LAYER_RELU:
    case CNN_LAYER_TANH:
    case CNN_LAYER_COUNT:
        break;
    }
    put(&o, ")");
    return o.len > (size_t)INT32_MAX ? CNN_ERANGE : (int)o.len;
}

int cnn__model_describe(char *buf, size_t cap, const cnn_model *m) {
    if (buf && cap) buf[0] = '\0';
    if (!m) return cnn__fail(CNN_EINVAL, "cnn__model_describe: model is NULL");
    desc_out o = {buf, cap, 0};
    for (int i = 0, n = cnn_model_num_layers(m); i < n; i++) {
        char one[CNN__LAYER_DESCRIBE_MAX];
        int k = cnn__layer_describe(one, sizeof one, cnn_model_layer(m, i));
        if (k < 0) return cnn__fail(CNN_EINVAL, "layer %d: unknown layer kind %d", i, (int)cnn_model_layer(m, i)->kind);
        CNN_ASSERT((size_t)k < sizeof one);
        put(&o, i ? ";%s" : "%s", one);
        if (o.len > (size_t)INT32_MAX) return cnn__fail(CNN_ERANGE, "cnn__model_describe: %d layers are too many", n);
    }
    return (int)o.len;
}
