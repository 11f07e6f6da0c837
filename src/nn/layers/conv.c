/* conv.c — nn.Conv2d(in_channels, out_channels, kernel_size, stride=1,
 * padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros').
 *
 * y (N, C_out, H', W') = conv(x (N, C_in, H, W), weight (C_out, C_in/groups,
 * kH, kW)) + bias (C_out). In training, the im2col columns are kept between
 * forward and backward when they fit (region 0, at most CNN__KEEP_COLS
 * floats); the step planner may run it fused with the activation and
 * pooling after it (nn/plan.c).
 */
#include "nn/describe.h"
#include "nn/layer.h"

#include <string.h>

/* Most floats of im2col columns one Conv2d keeps between forward and backward
 * (32 MiB); a larger layer computes them again in its backward. */
#define CNN__KEEP_COLS ((size_t)1 << 23)

/* padding: int, (int, int), 'same' or 'valid'. */
static int bind_padding(cnn__binder *b, const cnn__value *v, cnn_layer_desc *l) {
    cnn_conv2d_desc *d = &l->u.conv;
    if (!v) return CNN_OK; /* (0, 0), explicit */
    if (v->type == CNN__V_STR) {
        if (!v->s_cut && strcmp(v->s, "same") == 0) {
            d->padding_kind = CNN_PADDING_SAME;
        } else if (!v->s_cut && strcmp(v->s, "valid") == 0) {
            d->padding_kind = CNN_PADDING_VALID;
        } else {
            char found[128];
            cnn__value_describe(found, sizeof found, v);
            return cnn__bind_error(b, v, "invalid padding string, expected 'same' or 'valid', found %s", found);
        }
        d->padding[0] = d->padding[1] = 0;
        return CNN_OK;
    }
    if (v->type == CNN__V_INT || v->type == CNN__V_TUPLE)
        return cnn__bind_pair(b, v, "padding", 0, CNN__MAX_SIZE, 1, d->padding);
    return cnn__bind_type_error(b, v, "padding", "int, (int, int), 'same' or 'valid'");
}

static int bind_groups(cnn__binder *b, const cnn__value *v, cnn_layer_desc *l) {
    cnn_conv2d_desc *d = &l->u.conv;
    int groups = 1;
    if (v) {
        CNN_TRY(cnn__bind_int(b, v, "groups", 1, CNN__MAX_SIZE, &groups));
        if (d->in_channels % groups != 0 || d->out_channels % groups != 0)
            return cnn__bind_error(b, v,
                                   "in_channels and out_channels must be divisible by groups, expected a "
                                   "divisor of %d and %d, found groups=%d",
                                   d->in_channels, d->out_channels, groups);
    }
    d->groups = groups;
    return CNN_OK;
}

/* Only 'zeros' padding is computed. */
static int bind_padding_mode(cnn__binder *b, const cnn__value *v, cnn_layer_desc *l) {
    (void)l;
    if (!v) return CNN_OK;
    if (v->type != CNN__V_STR) return cnn__bind_type_error(b, v, "padding_mode", "a string");
    if (v->s_cut || strcmp(v->s, "zeros") != 0) {
        char found[128];
        cnn__value_describe(found, sizeof found, v);
        int known = !v->s_cut && (strcmp(v->s, "reflect") == 0 || strcmp(v->s, "replicate") == 0 ||
                                  strcmp(v->s, "circular") == 0);
        return cnn__bind_error(b, v, "%s, expected 'zeros', found %s",
                               known ? "unsupported padding_mode" : "invalid padding_mode", found);
    }
    return CNN_OK;
}

static const cnn__arg conv_args[] = {
    {.name = "in_channels", .type = CNN__ARG_INT, .flags = CNN__ARG_REQUIRED, .at = CNN__AT(conv.in_channels),
     .lo = 1, .hi = CNN__MAX_SIZE},
    {.name = "out_channels", .type = CNN__ARG_INT, .flags = CNN__ARG_REQUIRED, .at = CNN__AT(conv.out_channels),
     .lo = 1, .hi = CNN__MAX_SIZE},
    {.name = "kernel_size", .type = CNN__ARG_PAIR, .flags = CNN__ARG_REQUIRED | CNN__ARG_NO_1TUPLE,
     .at = CNN__AT(conv.kernel_size), .lo = 1, .hi = CNN__MAX_SIZE},
    {.name = "stride", .type = CNN__ARG_PAIR, .at = CNN__AT(conv.stride), .dflt = 1, .lo = 1, .hi = CNN__MAX_SIZE},
    {.name = "padding", .type = CNN__ARG_CUSTOM, .bind = bind_padding},
    {.name = "dilation", .type = CNN__ARG_PAIR, .at = CNN__AT(conv.dilation), .dflt = 1, .lo = 1,
     .hi = CNN__MAX_SIZE},
    {.name = "groups", .type = CNN__ARG_CUSTOM, .bind = bind_groups},
    {.name = "bias", .type = CNN__ARG_BOOL, .at = CNN__AT(conv.bias), .dflt = 1},
    {.name = "padding_mode", .type = CNN__ARG_CUSTOM, .bind = bind_padding_mode},
};

/* padding='same' needs stride 1 (PyTorch's rule). */
static int conv_finish(cnn__binder *b, cnn_layer_desc *l, const cnn__value *const *given) {
    const cnn_conv2d_desc *d = &l->u.conv;
    if (d->padding_kind == CNN_PADDING_SAME && (d->stride[0] != 1 || d->stride[1] != 1))
        return cnn__bind_error(b, given[4],
                               "padding='same' is not supported for strided convolutions, expected "
                               "stride=1, found stride=(%d, %d)",
                               d->stride[0], d->stride[1]);
    return CNN_OK;
}

void cnn__conv_slots(cnn__layer_rt *rt, const char *wname, const char *bname, const cnn_conv2d_desc *d,
                     int present) {
    int64_t cin = d->in_channels / d->groups, k0 = d->kernel_size[0], k1 = d->kernel_size[1];
    double rf = (double)k0 * (double)k1;
    cnn__pslot *w = cnn__pslot_add(rt, wname, present, CNN__INIT_FAN_WEIGHT, 4, d->out_channels, cin, k0, k1);
    cnn__pslot *bs = cnn__pslot_add(rt, bname, present && d->bias, CNN__INIT_FAN_BIAS, 1, d->out_channels, 0, 0, 0);
    w->fan_in = bs->fan_in = (double)cin * rf;
    w->fan_out = bs->fan_out = (double)d->out_channels * rf;
}

static int conv_plan(cnn__layer_rt *rt, const cnn_layer_desc *l) {
    CNN_TRY(cnn__need_4d(rt->ndim));
    cnn__conv_geom *g = &rt->st.conv.g;
    CNN_TRY(cnn__conv_geom_make(g, &l->u.conv, rt->in_shape));
    rt->shape[1] = g->oc, rt->shape[2] = g->oh, rt->shape[3] = g->ow;
    cnn__conv_slots(rt, "weight", "bias", &l->u.conv, 1);
    return CNN_OK;
}

/* Floats of im2col columns kept for batches of up to max_batch (0: none). */
static size_t keep_cols(const cnn__layer_rt *rt, int max_batch) {
    cnn__conv_geom g = rt->st.conv.g;
    g.n = max_batch;
    size_t n = cnn__conv2d_cols_size(&g);
    return n <= CNN__KEEP_COLS ? n : 0;
}

static void conv_reserve(const cnn__layer_rt *rt, const cnn_layer_desc *l, int max_batch, cnn__need *need) {
    (void)l;
    cnn__conv_geom g = rt->st.conv.g;
    g.n = max_batch;
    need->n = 1;
    need->fixed[0] = keep_cols(rt, max_batch); /* region 0: the columns */
    need->ws = cnn__conv2d_workspace(&g);
}

static int conv_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                        const float **y) {
    (void)l;
    cnn__conv_geom g = rt->st.conv.g;
    g.n = r->batch;
    float *cols = rt->region[0], *out = rt->out;
    rt->st.conv.cols_valid = r->train && cols;
    if (rt->st.conv.cols_valid)
        cnn__conv2d_forward_keep(out, x, cnn__param(r, rt, 0), cnn__param(r, rt, 1), &g, cols);
    else
        cnn__conv2d_forward(out, x, cnn__param(r, rt, 0), cnn__param(r, rt, 1), &g, r->ws);
    *y = out;
    return CNN_OK;
}

static const float *conv_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l,
                                  float *dx, const float *dy, const float *x, const float *y) {
    (void)l, (void)y;
    cnn__conv_geom g = rt->st.conv.g;
    g.n = r->batch;
    if (rt->st.conv.cols_valid)
        cnn__conv2d_backward_kept(dx, cnn__grad(r, rt, 0), cnn__grad(r, rt, 1), dy, x, cnn__param(r, rt, 0), &g,
                                  r->ws, rt->region[0]);
    else
        cnn__conv2d_backward(dx, cnn__grad(r, rt, 0), cnn__grad(r, rt, 1), dy, x, cnn__param(r, rt, 0), &g, r->ws);
    return dx;
}

/* torchinfo: (weight + bias elements) x N x H' x W'. */
static void conv_summary(const cnn_layer_desc *l, cnn__summary_info *s) {
    s->kernel = l->u.conv.kernel_size;
    s->per_pixel = "";
}

static void conv_describe(cnn__text *t, const cnn_layer_desc *l) {
    const cnn_conv2d_desc *d = &l->u.conv;
    cnn__text_put(t, "%d,%d", d->in_channels, d->out_channels);
    cnn__text_pair(t, "kernel_size", d->kernel_size);
    cnn__text_pair(t, "stride", d->stride);
    if (d->padding_kind == CNN_PADDING_SAME) cnn__text_put(t, ",padding=same");
    else if (d->padding_kind == CNN_PADDING_VALID) cnn__text_put(t, ",padding=valid");
    else cnn__text_pair(t, "padding", d->padding);
    cnn__text_pair(t, "dilation", d->dilation);
    cnn__text_put(t, ",groups=%d,bias=%s", d->groups, cnn__py_bool(d->bias));
}

const cnn__layer_ops cnn__conv2d_layer = {
    .args = conv_args,
    .n_args = sizeof conv_args / sizeof conv_args[0],
    .finish = conv_finish,
    .plan = conv_plan,
    .reserve = conv_reserve,
    .forward = conv_forward,
    .backward = conv_backward,
    .summary = conv_summary,
    .describe = conv_describe,
    .kernel = "conv2d", /* cnn summary --plan names the path it takes */
    .fuse = CNN__FUSE_CONV,
};
