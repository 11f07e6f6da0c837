/* flatten.c — nn.Flatten(start_dim=1, end_dim=-1).
 *
 * Dimensions start_dim..end_dim become one (cnn_flatten_shape). The data do
 * not move: the output is the input, the input gradient the output's.
 */
#include "nn/describe.h"
#include "nn/layer.h"

static const cnn__arg flatten_args[] = {
    {.name = "start_dim", .type = CNN__ARG_INT, .at = CNN__AT(flatten.start_dim), .dflt = 1, .lo = -CNN_MAX_DIMS,
     .hi = CNN_MAX_DIMS - 1},
    {.name = "end_dim", .type = CNN__ARG_INT, .at = CNN__AT(flatten.end_dim), .dflt = -1, .lo = -CNN_MAX_DIMS,
     .hi = CNN_MAX_DIMS - 1},
};

static int flatten_plan(cnn__layer_rt *rt, const cnn_layer_desc *l) {
    return cnn_flatten_shape(rt->shape, &rt->ndim, rt->in_ndim, rt->in_shape, l->u.flatten.start_dim,
                             l->u.flatten.end_dim);
}

static int flatten_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                           const float **y) {
    (void)r, (void)rt, (void)l;
    *y = x;
    return CNN_OK;
}

static const float *flatten_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l,
                                     float *dx, const float *dy, const float *x, const float *y) {
    (void)r, (void)rt, (void)l, (void)dx, (void)x, (void)y;
    return dy;
}

static void flatten_describe(cnn__text *t, const cnn_layer_desc *l) {
    cnn__text_put(t, "start_dim=%d,end_dim=%d", l->u.flatten.start_dim, l->u.flatten.end_dim);
}

const cnn__layer_ops cnn__flatten_layer = {
    .args = flatten_args,
    .n_args = sizeof flatten_args / sizeof flatten_args[0],
    .plan = flatten_plan,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .describe = flatten_describe,
    .passes_input = 1,
    .kernel = "none (a view)",
};
