/* adaptive_pool.c — nn.AdaptiveAvgPool2d(output_size) and
 * nn.AdaptiveMaxPool2d(output_size, return_indices=False).
 *
 * y (N, C, oh, ow): window i of a plane covers [floor(i*h/oh),
 * ceil((i+1)*h/oh)) (the same along w); mean or max over it
 * (ops/adaptive_pool.c). output_size None keeps that input size.
 */
#include "nn/describe.h"
#include "nn/layer.h"

/* output_size: int, or a 2-tuple of ints and None (None keeps the input size, stored as 0). */
static int bind_output_size(cnn__binder *b, const cnn__value *v, cnn_layer_desc *l) {
    int *out = l->u.adaptive.output_size;
    if (v->type == CNN__V_INT) {
        CNN_TRY(cnn__bind_int(b, v, "output_size", 1, CNN__MAX_SIZE, &out[0]));
        out[1] = out[0];
        return CNN_OK;
    }
    if (v->type == CNN__V_TUPLE && v->n == 2 && (v->et[0] == CNN__V_INT || v->et[0] == CNN__V_NONE) &&
        (v->et[1] == CNN__V_INT || v->et[1] == CNN__V_NONE)) {
        for (int k = 0; k < 2; k++) {
            if (v->et[k] == CNN__V_NONE) continue;
            if (v->ei[k] < 1 || v->ei[k] > CNN__MAX_SIZE)
                return cnn__bind_range_error(b, v, "output_size", 1, CNN__MAX_SIZE, v->ei[k]);
            out[k] = (int)v->ei[k];
        }
        return CNN_OK;
    }
    return cnn__bind_type_error(b, v, "output_size", "int or (int or None, int or None)");
}

static const cnn__arg avg_args[] = {
    {.name = "output_size", .type = CNN__ARG_CUSTOM, .flags = CNN__ARG_REQUIRED, .bind = bind_output_size},
};

static const cnn__arg max_args[] = {
    {.name = "output_size", .type = CNN__ARG_CUSTOM, .flags = CNN__ARG_REQUIRED, .bind = bind_output_size},
    {.name = "return_indices", .type = CNN__ARG_FALSE},
};

static int adaptive_plan(cnn__layer_rt *rt, const cnn_layer_desc *l) {
    CNN_TRY(cnn__need_4d(rt->ndim));
    rt->st.adaptive.h = rt->in_shape[2], rt->st.adaptive.w = rt->in_shape[3];
    for (int k = 0; k < 2; k++) {
        if (l->u.adaptive.output_size[k] < 0)
            return cnn__fail(CNN_EINVAL, "output_size must be >= 0, found %d", l->u.adaptive.output_size[k]);
        if (l->u.adaptive.output_size[k] > 0) rt->shape[2 + k] = l->u.adaptive.output_size[k];
    }
    return CNN_OK;
}

static int adaptive_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                            const float **y) {
    cnn__adaptive_pool_forward(rt->out, x, (int64_t)r->batch * rt->shape[1], rt->st.adaptive.h, rt->st.adaptive.w,
                               rt->shape[2], rt->shape[3], l->kind == CNN_LAYER_ADAPTIVEMAXPOOL2D);
    return CNN_OK;
}

static const float *adaptive_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l,
                                      float *dx, const float *dy, const float *x, const float *y) {
    (void)y;
    if (dx)
        cnn__adaptive_pool_backward(dx, dy, x, (int64_t)r->batch * rt->shape[1], rt->st.adaptive.h,
                                    rt->st.adaptive.w, rt->shape[2], rt->shape[3],
                                    l->kind == CNN_LAYER_ADAPTIVEMAXPOOL2D);
    return dx;
}

static void adaptive_describe(cnn__text *t, const cnn_layer_desc *l) {
    cnn__text_put(t, "output_size=(");
    for (int k = 0; k < 2; k++) {
        int s = l->u.adaptive.output_size[k];
        if (s) cnn__text_put(t, k ? ",%d" : "%d", s);
        else cnn__text_put(t, k ? ",None" : "None");
    }
    cnn__text_put(t, ")");
}

const cnn__layer_ops cnn__adaptive_avgpool2d_layer = {
    .args = avg_args,
    .n_args = sizeof avg_args / sizeof avg_args[0],
    .plan = adaptive_plan,
    .forward = adaptive_forward,
    .backward = adaptive_backward,
    .describe = adaptive_describe,
    .kernel = "adaptive avg pool",
};

const cnn__layer_ops cnn__adaptive_maxpool2d_layer = {
    .args = max_args,
    .n_args = sizeof max_args / sizeof max_args[0],
    .plan = adaptive_plan,
    .forward = adaptive_forward,
    .backward = adaptive_backward,
    .describe = adaptive_describe,
    .kernel = "adaptive max pool",
};
