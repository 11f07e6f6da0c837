/* activation.c — elementwise layers: nn.Sigmoid(), nn.ReLU(inplace=False),
 * nn.Tanh(), nn.LeakyReLU(negative_slope=0.01, inplace=False),
 * nn.GELU(approximate='none'), nn.SiLU(inplace=False),
 * nn.Hardswish(inplace=False) and nn.Identity().
 *
 * y = f(x) elementwise, any shape; dx = dy * f'(x). The kernels are in
 * ops/activation.c. inplace only saves memory in PyTorch, so it is checked
 * and ignored. Sigmoid, ReLU and Tanh can run inside a fused convolution
 * (CNN__FUSE_ACT, nn/plan.c): their backward then gets x == NULL and works
 * from y. Identity passes its input and gradient on without a copy.
 */
#include "nn/describe.h"
#include "nn/layer.h"

#include <math.h>
#include <string.h>

static size_t elems(const cnn__run *r, const cnn__layer_rt *rt) { return (size_t)rt->numel * (size_t)r->batch; }

/* ---- Sigmoid, ReLU, Tanh (cnn_activation) ---------------------------------- */

static int act_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                       const float **y) {
    cnn__act_forward(rt->out, x, elems(r, rt), cnn__layer_ops_of(l->kind)->act);
    return CNN_OK;
}

static const float *act_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l, float *dx,
                                 const float *dy, const float *x, const float *y) {
    if (dx) cnn__act_backward(dx, dy, x, y, elems(r, rt), cnn__layer_ops_of(l->kind)->act);
    return dx;
}

static const cnn__arg inplace_args[] = {{.name = "inplace", .type = CNN__ARG_IGNORED_BOOL}};

const cnn__layer_ops cnn__sigmoid_layer = {
    .forward = act_forward,
    .backward = act_backward,
    .fuse = CNN__FUSE_ACT,
    .act = CNN_ACT_SIGMOID,
    .kernel = "elementwise",
};

const cnn__layer_ops cnn__relu_layer = {
    .args = inplace_args,
    .n_args = 1,
    .forward = act_forward,
    .backward = act_backward,
    .fuse = CNN__FUSE_ACT,
    .act = CNN_ACT_RELU,
    .kernel = "elementwise",
};

const cnn__layer_ops cnn__tanh_layer = {
    .forward = act_forward,
    .backward = act_backward,
    .fuse = CNN__FUSE_ACT,
    .act = CNN_ACT_TANH,
    .kernel = "elementwise",
};

/* ---- LeakyReLU: y = x > 0 ? x : slope * x ----------------------------------- */

static const cnn__arg leaky_args[] = {
    {.name = "negative_slope", .type = CNN__ARG_NUMBER, .at = CNN__AT(leaky_relu.negative_slope), .dflt = 0.01f},
    {.name = "inplace", .type = CNN__ARG_IGNORED_BOOL},
};

static int leaky_plan(cnn__layer_rt *rt, const cnn_layer_desc *l) {
    (void)rt;
    if (!isfinite(l->u.leaky_relu.negative_slope))
        return cnn__fail(CNN_EINVAL, "negative_slope must be finite, found %g", (double)l->u.leaky_relu.negative_slope);
    return CNN_OK;
}

static int leaky_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                         const float **y) {
    cnn__leaky_relu_forward(rt->out, x, elems(r, rt), l->u.leaky_relu.negative_slope);
    return CNN_OK;
}

static const float *leaky_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l, float *dx,
                                   const float *dy, const float *x, const float *y) {
    (void)y;
    if (dx) cnn__leaky_relu_backward(dx, dy, x, elems(r, rt), l->u.leaky_relu.negative_slope);
    return dx;
}

static void leaky_describe(cnn__text *t, const cnn_layer_desc *l) {
    cnn__text_put(t, "negative_slope=");
    cnn__text_float(t, l->u.leaky_relu.negative_slope);
}

const cnn__layer_ops cnn__leaky_relu_layer = {
    .args = leaky_args,
    .n_args = sizeof leaky_args / sizeof leaky_args[0],
    .plan = leaky_plan,
    .forward = leaky_forward,
    .backward = leaky_backward,
    .describe = leaky_describe,
    .kernel = "elementwise",
};

/* ---- GELU: y = x * Phi(x), or its tanh approximation ------------------------- */

/* approximate: 'none' (the exact erf form) or 'tanh'. */
static int bind_approximate(cnn__binder *b, const cnn__value *v, cnn_layer_desc *l) {
    l->u.gelu.tanh = 0;
    if (!v) return CNN_OK;
    if (v->type != CNN__V_STR) return cnn__bind_type_error(b, v, "approximate", "a string");
    if (!v->s_cut && (strcmp(v->s, "none") == 0 || strcmp(v->s, "tanh") == 0)) {
        l->u.gelu.tanh = v->s[0] == 't';
        return CNN_OK;
    }
    char found[128];
    cnn__value_describe(found, sizeof found, v);
    return cnn__bind_error(b, v, "invalid approximate string, expected 'none' or 'tanh', found %s", found);
}

static const cnn__arg gelu_args[] = {{.name = "approximate", .type = CNN__ARG_CUSTOM, .bind = bind_approximate}};

static int gelu_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                        const float **y) {
    cnn__gelu_forward(rt->out, x, elems(r, rt), l->u.gelu.tanh);
    return CNN_OK;
}

static const float *gelu_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l, float *dx,
                                  const float *dy, const float *x, const float *y) {
    (void)y;
    if (dx) cnn__gelu_backward(dx, dy, x, elems(r, rt), l->u.gelu.tanh);
    return dx;
}

static void gelu_describe(cnn__text *t, const cnn_layer_desc *l) {
    cnn__text_put(t, "approximate=%s", l->u.gelu.tanh ? "tanh" : "none");
}

const cnn__layer_ops cnn__gelu_layer = {
    .args = gelu_args,
    .n_args = 1,
    .forward = gelu_forward,
    .backward = gelu_backward,
    .describe = gelu_describe,
    .kernel = "elementwise",
};

/* ---- SiLU: y = x * sigmoid(x) ------------------------------------------------- */

static int silu_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                        const float **y) {
    (void)l;
    cnn__silu_forward(rt->out, x, elems(r, rt));
    return CNN_OK;
}

static const float *silu_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l, float *dx,
                                  const float *dy, const float *x, const float *y) {
    (void)l, (void)y;
    if (dx) cnn__silu_backward(dx, dy, x, elems(r, rt));
    return dx;
}

const cnn__layer_ops cnn__silu_layer = {
    .args = inplace_args,
    .n_args = 1,
    .forward = silu_forward,
    .backward = silu_backward,
    .kernel = "elementwise",
};

/* ---- Hardswish: y = x * min(max(x + 3, 0), 6) / 6 ------------------------------ */

static int hardswish_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                             const float **y) {
    (void)l;
    cnn__hardswish_forward(rt->out, x, elems(r, rt));
    return CNN_OK;
}

static const float *hardswish_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l,
                                       float *dx, const float *dy, const float *x, const float *y) {
    (void)l, (void)y;
    if (dx) cnn__hardswish_backward(dx, dy, x, elems(r, rt));
    return dx;
}

const cnn__layer_ops cnn__hardswish_layer = {
    .args = inplace_args,
    .n_args = 1,
    .forward = hardswish_forward,
    .backward = hardswish_backward,
    .kernel = "elementwise",
};

/* ---- Identity: y = x, dx = dy (no copies) ---------------------------------------- */

static int identity_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                            const float **y) {
    (void)r, (void)rt, (void)l;
    *y = x;
    return CNN_OK;
}

static const float *identity_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l,
                                      float *dx, const float *dy, const float *x, const float *y) {
    (void)r, (void)rt, (void)l, (void)dx, (void)x, (void)y;
    return dy;
}

const cnn__layer_ops cnn__identity_layer = {
    .forward = identity_forward,
    .backward = identity_backward,
    .passes_input = 1,
    .kernel = "none (passes its input on)",
};
