/* linear.c — nn.Linear(in_features, out_features, bias=True).
 *
 * y (N, ..., out) = x (N, ..., in) @ weight (out, in)^T + bias (out), the
 * leading dimensions taken as rows (ops/linear.c, through BLAS).
 */
#include "nn/describe.h"
#include "nn/layer.h"

static const cnn__arg linear_args[] = {
    {.name = "in_features", .type = CNN__ARG_INT, .flags = CNN__ARG_REQUIRED, .at = CNN__AT(linear.in_features),
     .lo = 1, .hi = CNN__MAX_SIZE},
    {.name = "out_features", .type = CNN__ARG_INT, .flags = CNN__ARG_REQUIRED, .at = CNN__AT(linear.out_features),
     .lo = 1, .hi = CNN__MAX_SIZE},
    {.name = "bias", .type = CNN__ARG_BOOL, .at = CNN__AT(linear.bias), .dflt = 1},
};

static int linear_plan(cnn__layer_rt *rt, const cnn_layer_desc *l) {
    const int ndim = rt->ndim;
    const int64_t in = l->u.linear.in_features, out = l->u.linear.out_features;
    if (ndim < 2 || rt->in_shape[ndim - 1] != in)
        return cnn__fail(CNN_ESHAPE, "expected input features %d, found %lld", l->u.linear.in_features,
                         (long long)(ndim >= 2 ? rt->in_shape[ndim - 1] : 0));
    rt->st.linear.rows = cnn__shape_numel(ndim - 1, rt->in_shape);
    rt->shape[ndim - 1] = out;
    cnn__pslot *w = cnn__pslot_add(rt, "weight", 1, CNN__INIT_FAN_WEIGHT, 2, out, in, 0, 0);
    cnn__pslot *b = cnn__pslot_add(rt, "bias", l->u.linear.bias, CNN__INIT_FAN_BIAS, 1, out, 0, 0, 0);
    w->fan_in = b->fan_in = (double)in;
    w->fan_out = b->fan_out = (double)out;
    return CNN_OK;
}

static int linear_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                          const float **y) {
    cnn__linear_forward(rt->out, x, cnn__param(r, rt, 0), cnn__param(r, rt, 1), rt->st.linear.rows * r->batch,
                        l->u.linear.in_features, l->u.linear.out_features);
    return CNN_OK;
}

static const float *linear_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l, float *dx,
                                    const float *dy, const float *x, const float *y) {
    (void)y;
    cnn__linear_backward(dx, cnn__grad(r, rt, 0), cnn__grad(r, rt, 1), dy, x, cnn__param(r, rt, 0),
                         rt->st.linear.rows * r->batch, l->u.linear.in_features, l->u.linear.out_features);
    return dx;
}

/* torchinfo: (weight + bias elements) x N. */
static void linear_summary(const cnn_layer_desc *l, cnn__summary_info *s) {
    (void)l;
    s->per_example = "";
}

static void linear_describe(cnn__text *t, const cnn_layer_desc *l) {
    cnn__text_put(t, "in_features=%d,out_features=%d,bias=%s", l->u.linear.in_features, l->u.linear.out_features,
                  cnn__py_bool(l->u.linear.bias));
}

const cnn__layer_ops cnn__linear_layer = {
    .args = linear_args,
    .n_args = sizeof linear_args / sizeof linear_args[0],
    .plan = linear_plan,
    .forward = linear_forward,
    .backward = linear_backward,
    .summary = linear_summary,
    .describe = linear_describe,
    .kernel = "linear (BLAS GEMM)",
};
