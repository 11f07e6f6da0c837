/* softmax.c — nn.Softmax(dim=None).
 *
 * x viewed as (N * outer, len, inner) around dim: y = exp(x) / sum over
 * len of exp(x); dx = y * (dy - sum_len(dy * y)) (ops/softmax.c).
 * dim=None takes PyTorch's implicit choice (_get_softmax_dim).
 */
#include "nn/describe.h"
#include "nn/layer.h"

static const cnn__arg softmax_args[] = {
    {.name = "dim", .type = CNN__ARG_INT, .flags = CNN__ARG_NONE_KEEPS, .at = CNN__AT(softmax.dim),
     .dflt = CNN_SOFTMAX_DIM_NONE, .lo = -CNN_MAX_DIMS, .hi = CNN_MAX_DIMS - 1},
};

static int softmax_plan(cnn__layer_rt *rt, const cnn_layer_desc *l) {
    const int ndim = rt->ndim;
    const int64_t *shape = rt->in_shape;
    int d = l->u.softmax.dim;
    if (d == CNN_SOFTMAX_DIM_NONE) d = (ndim == 0 || ndim == 1 || ndim == 3) ? 0 : 1; /* _get_softmax_dim */
    else if (d < 0) d += ndim;
    if (d < 0 || d >= ndim)
        return cnn__fail(CNN_ERANGE, "dim %d out of range for a %d-D input, expected %d..%d", l->u.softmax.dim, ndim,
                         -ndim, ndim - 1);
    if (d == 0)
        return cnn__fail(CNN_EINVAL, "softmax over the batch dimension (dim 0) is not supported, expected dim >= 1");
    rt->st.softmax.outer = 1, rt->st.softmax.inner = 1, rt->st.softmax.len = shape[d];
    for (int k = 1; k < d; k++) rt->st.softmax.outer *= shape[k];
    for (int k = d + 1; k < ndim; k++) rt->st.softmax.inner *= shape[k];
    return CNN_OK;
}

static int softmax_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                           const float **y) {
    (void)l;
    cnn__softmax_forward(rt->out, x, rt->st.softmax.outer * r->batch, rt->st.softmax.len, rt->st.softmax.inner);
    return CNN_OK;
}

static const float *softmax_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l,
                                     float *dx, const float *dy, const float *x, const float *y) {
    (void)l, (void)x;
    if (dx)
        cnn__softmax_backward(dx, dy, y, rt->st.softmax.outer * r->batch, rt->st.softmax.len, rt->st.softmax.inner);
    return dx;
}

static void softmax_describe(cnn__text *t, const cnn_layer_desc *l) {
    if (l->u.softmax.dim == CNN_SOFTMAX_DIM_NONE) cnn__text_put(t, "dim=None");
    else cnn__text_put(t, "dim=%d", l->u.softmax.dim);
}

const cnn__layer_ops cnn__softmax_layer = {
    .args = softmax_args,
    .n_args = 1,
    .plan = softmax_plan,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .describe = softmax_describe,
    .kernel = "softmax",
};
