/* pool.c — nn.MaxPool2d(kernel_size, stride=None, padding=0, dilation=1,
 * return_indices=False, ceil_mode=False) and nn.AvgPool2d(kernel_size,
 * stride=None, padding=0, ceil_mode=False, count_include_pad=True,
 * divisor_override=None).
 *
 * y (N, C, H', W') = max or mean over each window of x (N, C, H, W); the
 * kernels are cnn__pool2d_* (ops/pool2d.c). The step planner may fuse a
 * pooling with the activation before it (nn/plan.c).
 */
#include "nn/describe.h"
#include "nn/layer.h"

/* kernel_size: every other field starts from cnn_pool2d_desc_make. */
static int bind_kernel(cnn__binder *b, const cnn__value *v, cnn_layer_desc *l) {
    int k[2] = {0, 0};
    CNN_TRY(cnn__bind_pair(b, v, "kernel_size", 1, CNN__MAX_SIZE, 1, k));
    l->u.pool = cnn_pool2d_desc_make(l->kind == CNN_LAYER_MAXPOOL2D ? CNN_POOL_MAX : CNN_POOL_AVG, k[0], k[1]);
    return CNN_OK;
}

/* stride=None (or absent, or ()) means the kernel size. */
static int bind_stride(cnn__binder *b, const cnn__value *v, cnn_layer_desc *l) {
    cnn_pool2d_desc *d = &l->u.pool;
    d->stride[0] = d->kernel_size[0], d->stride[1] = d->kernel_size[1];
    if (v && v->type != CNN__V_NONE && !(v->type == CNN__V_TUPLE && v->n == 0))
        return cnn__bind_pair(b, v, "stride", 1, CNN__MAX_SIZE, 1, d->stride);
    return CNN_OK;
}

/* padding <= kernel / 2 (PyTorch's rule). */
static int bind_padding(cnn__binder *b, const cnn__value *v, cnn_layer_desc *l) {
    cnn_pool2d_desc *d = &l->u.pool;
    if (!v) return CNN_OK;
    CNN_TRY(cnn__bind_pair(b, v, "padding", 0, CNN__MAX_SIZE, 1, d->padding));
    for (int i = 0; i < 2; i++)
        if (d->padding[i] > d->kernel_size[i] / 2)
            return cnn__bind_error(b, v, "pad should be at most half of kernel size, expected padding <= %d, found %d",
                                   d->kernel_size[i] / 2, d->padding[i]);
    return CNN_OK;
}

static const cnn__arg maxpool_args[] = {
    {.name = "kernel_size", .type = CNN__ARG_CUSTOM, .flags = CNN__ARG_REQUIRED, .bind = bind_kernel},
    {.name = "stride", .type = CNN__ARG_CUSTOM, .bind = bind_stride},
    {.name = "padding", .type = CNN__ARG_CUSTOM, .bind = bind_padding},
    {.name = "dilation", .type = CNN__ARG_PAIR, .at = CNN__AT(pool.dilation), .dflt = 1, .lo = 1,
     .hi = CNN__MAX_SIZE},
    {.name = "return_indices", .type = CNN__ARG_FALSE},
    {.name = "ceil_mode", .type = CNN__ARG_BOOL, .at = CNN__AT(pool.ceil_mode), .dflt = 0},
};

static const cnn__arg avgpool_args[] = {
    {.name = "kernel_size", .type = CNN__ARG_CUSTOM, .flags = CNN__ARG_REQUIRED, .bind = bind_kernel},
    {.name = "stride", .type = CNN__ARG_CUSTOM, .bind = bind_stride},
    {.name = "padding", .type = CNN__ARG_CUSTOM, .bind = bind_padding},
    {.name = "ceil_mode", .type = CNN__ARG_BOOL, .at = CNN__AT(pool.ceil_mode), .dflt = 0},
    {.name = "count_include_pad", .type = CNN__ARG_BOOL, .at = CNN__AT(pool.count_include_pad), .dflt = 1},
    {.name = "divisor_override", .type = CNN__ARG_INT, .flags = CNN__ARG_NONE_KEEPS,
     .at = CNN__AT(pool.divisor_override), .dflt = 0, .lo = 1, .hi = CNN__MAX_SIZE},
};

static int pool_plan(cnn__layer_rt *rt, const cnn_layer_desc *l) {
    CNN_TRY(cnn__need_4d(rt->ndim));
    CNN_TRY(cnn__pool_geom_make(&rt->st.pool, &l->u.pool, rt->in_shape));
    rt->shape[2] = rt->st.pool.oh, rt->shape[3] = rt->st.pool.ow;
    return CNN_OK;
}

static int pool_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                        const float **y) {
    (void)l;
    cnn__pool_geom g = rt->st.pool;
    g.n = r->batch;
    cnn__pool2d_forward(rt->out, x, &g);
    return CNN_OK;
}

static const float *pool_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l, float *dx,
                                  const float *dy, const float *x, const float *y) {
    (void)l, (void)y;
    cnn__pool_geom g = rt->st.pool;
    g.n = r->batch;
    if (dx) cnn__pool2d_backward(dx, dy, x, &g);
    return dx;
}

static void pool_summary(const cnn_layer_desc *l, cnn__summary_info *s) { s->kernel = l->u.pool.kernel_size; }

static void pool_describe(cnn__text *t, const cnn_layer_desc *l) {
    const cnn_pool2d_desc *d = &l->u.pool;
    cnn__text_put(t, "kernel_size=(%d,%d)", d->kernel_size[0], d->kernel_size[1]);
    cnn__text_pair(t, "stride", d->stride);
    cnn__text_pair(t, "padding", d->padding);
    if (l->kind == CNN_LAYER_MAXPOOL2D) cnn__text_pair(t, "dilation", d->dilation);
    cnn__text_put(t, ",ceil_mode=%s", cnn__py_bool(d->ceil_mode));
    if (l->kind == CNN_LAYER_AVGPOOL2D) {
        cnn__text_put(t, ",count_include_pad=%s", cnn__py_bool(d->count_include_pad));
        if (d->divisor_override) cnn__text_put(t, ",divisor_override=%d", d->divisor_override);
        else cnn__text_put(t, ",divisor_override=None");
    }
}

const cnn__layer_ops cnn__maxpool2d_layer = {
    .args = maxpool_args,
    .n_args = sizeof maxpool_args / sizeof maxpool_args[0],
    .plan = pool_plan,
    .forward = pool_forward,
    .backward = pool_backward,
    .summary = pool_summary,
    .describe = pool_describe,
    .fuse = CNN__FUSE_POOL,
    .kernel = "max pool2d",
};

const cnn__layer_ops cnn__avgpool2d_layer = {
    .args = avgpool_args,
    .n_args = sizeof avgpool_args / sizeof avgpool_args[0],
    .plan = pool_plan,
    .forward = pool_forward,
    .backward = pool_backward,
    .summary = pool_summary,
    .describe = pool_describe,
    .fuse = CNN__FUSE_POOL,
    .kernel = "avg pool2d",
};
