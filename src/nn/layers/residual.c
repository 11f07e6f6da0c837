/* residual.c — d2l's Residual(input_channels, num_channels,
 * use_1x1conv=False, strides=1) (chapter 7.6), with its submodules'
 * state_dict names (conv1, conv2, conv3, bn1, bn2):
 *
 *   Y = relu(bn1(conv1(X)));  Y = bn2(conv2(Y));  Y += conv3(X) or X;  out = relu(Y)
 *
 * conv1: 3x3, padding 1, stride strides; conv2: 3x3, padding 1; conv3: 1x1,
 * stride strides. Regions 0-3 keep conv1's output, relu(bn1), conv2's and
 * conv3's outputs for the backward, region 4 both BatchNorms' statistics;
 * the backward's scratch (bscratch) holds three outputs and one input.
 * When conv1 and conv2 run on the direct kernels' lanes layout (batches of
 * 8 or more), conv1's output, relu(bn1(.)) and their gradients stay in
 * blocks of 8 (ops.h) between conv1 and conv2: no transposes there.
 */
#include "nn/describe.h"
#include "nn/layer.h"

#include <string.h>

/* Parameter slots, in the registration order of d2l's module. */
enum { RS_C1W, RS_C1B, RS_C2W, RS_C2B, RS_C3W, RS_C3B, RS_BN1W, RS_BN1B, RS_BN2W, RS_BN2B };

static const cnn__arg residual_args[] = {
    {.name = "input_channels", .type = CNN__ARG_INT, .flags = CNN__ARG_REQUIRED,
     .at = CNN__AT(residual.input_channels), .lo = 1, .hi = CNN__MAX_SIZE},
    {.name = "num_channels", .type = CNN__ARG_INT, .flags = CNN__ARG_REQUIRED, .at = CNN__AT(residual.num_channels),
     .lo = 1, .hi = CNN__MAX_SIZE},
    {.name = "use_1x1conv", .type = CNN__ARG_BOOL, .at = CNN__AT(residual.use_1x1conv), .dflt = 0},
    {.name = "strides", .type = CNN__ARG_INT, .at = CNN__AT(residual.strides), .dflt = 1, .lo = 1,
     .hi = CNN__MAX_SIZE},
};

static cnn_conv2d_desc conv_kxk(int cin, int cout, int k, int stride, int pad) {
    cnn_conv2d_desc d = cnn_conv2d_desc_make(cin, cout, k, k);
    d.stride[0] = d.stride[1] = stride;
    d.padding[0] = d.padding[1] = pad;
    return d;
}

static const char *const bn1_names[5] = {"bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                                         "bn1.num_batches_tracked"};
static const char *const bn2_names[5] = {"bn2.weight", "bn2.bias", "bn2.running_mean", "bn2.running_var",
                                         "bn2.num_batches_tracked"};

static int residual_plan(cnn__layer_rt *rt, const cnn_layer_desc *l) {
    CNN_TRY(cnn__need_4d(rt->ndim));
    const int64_t *shape = rt->in_shape;
    const int cin = l->u.residual.input_channels, c = l->u.residual.num_channels, s = l->u.residual.strides;
    if (cin < 1 || c < 1 || s < 1)
        return cnn__fail(CNN_EINVAL, "input_channels, num_channels and strides must be >= 1, found %d, %d, %d", cin,
                         c, s);
    cnn_conv2d_desc d1 = conv_kxk(cin, c, 3, s, 1), d2 = conv_kxk(c, c, 3, 1, 1), d3 = conv_kxk(cin, c, 1, s, 0);
    cnn__conv_geom *g1 = &rt->st.residual.g1;
    int64_t mid[4];
    int rc = cnn__conv_geom_make(g1, &d1, shape);
    if (rc < 0) return cnn__fail_context(rc, "conv1");
    mid[0] = shape[0], mid[1] = c, mid[2] = g1->oh, mid[3] = g1->ow;
    rc = cnn__conv_geom_make(&rt->st.residual.g2, &d2, mid);
    if (rc < 0) return cnn__fail_context(rc, "conv2");
    if (l->u.residual.use_1x1conv) {
        rc = cnn__conv_geom_make(&rt->st.residual.g3, &d3, shape);
        if (rc < 0) return cnn__fail_context(rc, "conv3");
    } else if (cin != c || g1->oh != shape[2] || g1->ow != shape[3]) {
        return cnn__fail(CNN_ESHAPE,
                         "Y += X: the size of Y [1, %d, %lld, %lld] must match X [1, %d, %lld, %lld]; "
                         "use use_1x1conv=True when channels or strides change",
                         c, (long long)g1->oh, (long long)g1->ow, cin, (long long)shape[2], (long long)shape[3]);
    }
    rt->shape[1] = c, rt->shape[2] = g1->oh, rt->shape[3] = g1->ow;
    cnn__conv_slots(rt, "conv1.weight", "conv1.bias", &d1, 1);
    cnn__conv_slots(rt, "conv2.weight", "conv2.bias", &d2, 1);
    cnn__conv_slots(rt, "conv3.weight", "conv3.bias", &d3, l->u.residual.use_1x1conv);
    cnn__bn_state *bn = &rt->st.residual.bn;
    memset(bn, 0, sizeof *bn);
    bn->eps = 1e-5f, bn->momentum = 0.1f, bn->affine = 1, bn->track = 1;
    bn->c = c, bn->s = g1->oh * g1->ow;
    cnn__bn_slots(rt, bn1_names, bn);
    cnn__bn_slots(rt, bn2_names, bn);
    return CNN_OK;
}

static void residual_reserve(const cnn__layer_rt *rt, const cnn_layer_desc *l, int max_batch, cnn__need *need) {
    need->n = 5;
    for (int k = 0; k < 4; k++) need->per_example[k] = (size_t)rt->numel; /* c1, r1, c2, c3 */
    need->fixed[4] = 6 * (size_t)rt->st.residual.bn.c;                   /* stats of bn1, bn2 */
    need->bscratch = 3 * (size_t)rt->numel + (size_t)rt->in_numel;
    const cnn__conv_geom *geoms[3] = {&rt->st.residual.g1, &rt->st.residual.g2,
                                      l->u.residual.use_1x1conv ? &rt->st.residual.g3 : NULL};
    for (int k = 0; k < 3; k++) {
        if (!geoms[k]) continue;
        cnn__conv_geom g = *geoms[k];
        g.n = max_batch;
        size_t ws = cnn__conv2d_workspace(&g);
        if (ws > need->ws) need->ws = ws;
    }
}

/* 1 when conv1 -> bn1 -> relu -> conv2 keep their tensors in blocks of 8 */
static int inner_blocks(const cnn__conv_geom *g1, const cnn__conv_geom *g2) {
    return (cnn__conv2d_direct_blocks(g1) & (CNN__BLK_Y | CNN__BLK_DY)) == (CNN__BLK_Y | CNN__BLK_DY) &&
           (cnn__conv2d_direct_blocks(g2) & (CNN__BLK_X | CNN__BLK_DX)) == (CNN__BLK_X | CNN__BLK_DX);
}

static int residual_forward(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x,
                            const float **y) {
    const size_t n = (size_t)rt->numel * (size_t)r->batch;
    float *c1 = rt->region[0], *r1 = rt->region[1], *c2 = rt->region[2], *c3 = rt->region[3];
    float *stats = rt->region[4], *out = rt->out;
    cnn__bn_state *bn = &rt->st.residual.bn;
    cnn__conv_geom g1 = rt->st.residual.g1, g2 = rt->st.residual.g2, g3 = rt->st.residual.g3;
    g1.n = g2.n = g3.n = r->batch;
    const cnn_activation relu = CNN_ACT_RELU;
    /* inference on the direct kernels: r1 = relu(bn1(conv1(x))) and out =
     * bn2(conv2(r1)), each in one pass, the same bits; c1, c2 not kept */
    const int fuse1 = !r->train && !r->keep && cnn__conv2d_direct_ok(&g1);
    const int fuse2 = !r->train && !r->keep && cnn__conv2d_direct_ok(&g2);
    const int blk = !fuse1 && !fuse2 && inner_blocks(&g1, &g2); /* c1, r1 in blocks of 8 */
    if (fuse1) {
        cnn__bn_eval e;
        cnn__bn_eval_coef(&e, stats, cnn__param(r, rt, RS_BN1W), cnn__param(r, rt, RS_BN1B), cnn__buffer(r, rt, 0),
                          cnn__buffer(r, rt, 1), bn);
        cnn__conv2d_direct_forward_fused(NULL, r1, relu, NULL, NULL, x, cnn__param(r, rt, RS_C1W),
                                         cnn__param(r, rt, RS_C1B), &e, &g1, 0, r->ws);
    } else {
        if (blk)
            cnn__conv2d_direct_forward(c1, x, cnn__param(r, rt, RS_C1W), cnn__param(r, rt, RS_C1B), &g1, CNN__BLK_Y,
                                       r->ws);
        else
            cnn__conv2d_forward(c1, x, cnn__param(r, rt, RS_C1W), cnn__param(r, rt, RS_C1B), &g1, r->ws);
        /* r1 = relu(bn1(c1)) in one pass */
        CNN_TRY(cnn__bn_act_forward(r1, c1, stats, cnn__param(r, rt, RS_BN1W), cnn__param(r, rt, RS_BN1B),
                                    cnn__buffer(r, rt, 0), cnn__buffer(r, rt, 1), cnn__counter(r, rt, 2), bn,
                                    r->batch, r->train, &relu, r->sync, blk));
    }
    if (fuse2) {
        cnn__bn_eval e;
        cnn__bn_eval_coef(&e, stats + 3 * bn->c, cnn__param(r, rt, RS_BN2W), cnn__param(r, rt, RS_BN2B),
                          cnn__buffer(r, rt, 3), cnn__buffer(r, rt, 4), bn);
        cnn__conv2d_direct_forward_fused(out, NULL, relu, NULL, NULL, r1, cnn__param(r, rt, RS_C2W),
                                         cnn__param(r, rt, RS_C2B), &e, &g2, 0, r->ws);
    } else {
        if (blk)
            cnn__conv2d_direct_forward(c2, r1, cnn__param(r, rt, RS_C2W), cnn__param(r, rt, RS_C2B), &g2, CNN__BLK_X,
                                       r->ws);
        else
            cnn__conv2d_forward(c2, r1, cnn__param(r, rt, RS_C2W), cnn__param(r, rt, RS_C2B), &g2, r->ws);
        CNN_TRY(cnn__bn_forward(out, c2, stats + 3 * bn->c, cnn__param(r, rt, RS_BN2W), cnn__param(r, rt, RS_BN2B),
                                cnn__buffer(r, rt, 3), cnn__buffer(r, rt, 4), cnn__counter(r, rt, 5), bn,
                                r->batch, r->train, r->sync));
    }
    if (l->u.residual.use_1x1conv) {
        cnn__conv2d_forward(c3, x, cnn__param(r, rt, RS_C3W), cnn__param(r, rt, RS_C3B), &g3, r->ws);
        cnn__add_relu(out, c3, n);
    } else {
        cnn__add_relu(out, x, n); /* out = relu(out + x) in one pass */
    }
    return CNN_OK;
}

/* dx (may be NULL) from dy; accumulates the block's parameter gradients. */
static const float *residual_backward(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l,
                                      float *dx, const float *dy, const float *x, const float *out) {
    const cnn__bn_state *bn = &rt->st.residual.bn;
    const int64_t c = bn->c, s = bn->s;
    const size_t n = (size_t)rt->numel * (size_t)r->batch;
    const float *c1 = rt->region[0], *r1 = rt->region[1], *c2 = rt->region[2], *stats = rt->region[4];
    float *g1 = r->bscratch, *g2 = g1 + n, *g3 = g2 + n, *g4 = g3 + n; /* g4: (batch, input) */
    cnn__conv_geom cg1 = rt->st.residual.g1, cg2 = rt->st.residual.g2, cg3 = rt->st.residual.g3;
    cg1.n = cg2.n = cg3.n = r->batch;
    const int bs = bn->used_batch_stats, blk = inner_blocks(&cg1, &cg2); /* as the forward kept them */
    cnn__act_backward(g1, dy, NULL, out, n, CNN_ACT_RELU); /* through the final relu */
    cnn__batchnorm_backward(g2, cnn__grad(r, rt, RS_BN2W), cnn__grad(r, rt, RS_BN2B), g1, c2, stats + 3 * c,
                            stats + 4 * c, cnn__param(r, rt, RS_BN2W), r->batch, c, s, bs, r->sync, 0);
    if (blk)
        cnn__conv2d_direct_backward(g3, cnn__grad(r, rt, RS_C2W), cnn__grad(r, rt, RS_C2B), g2, r1,
                                    cnn__param(r, rt, RS_C2W), &cg2, CNN__BLK_X | CNN__BLK_DX, r->ws);
    else
        cnn__conv2d_backward(g3, cnn__grad(r, rt, RS_C2W), cnn__grad(r, rt, RS_C2B), g2, r1, cnn__param(r, rt, RS_C2W),
                             &cg2, r->ws);
    /* through relu(bn1(.)): relu's gradient made as bn1's backward reads it */
    cnn__batchnorm_backward_act(g2, cnn__grad(r, rt, RS_BN1W), cnn__grad(r, rt, RS_BN1B), g3, r1, CNN_ACT_RELU, c1,
                                stats, stats + c, cnn__param(r, rt, RS_BN1W), r->batch, c, s, bs, r->sync, blk);
    if (blk)
        cnn__conv2d_direct_backward(dx, cnn__grad(r, rt, RS_C1W), cnn__grad(r, rt, RS_C1B), g2, x,
                                    cnn__param(r, rt, RS_C1W), &cg1, CNN__BLK_DY, r->ws);
    else
        cnn__conv2d_backward(dx, cnn__grad(r, rt, RS_C1W), cnn__grad(r, rt, RS_C1B), g2, x, cnn__param(r, rt, RS_C1W),
                             &cg1, r->ws);
    const size_t nin = (size_t)rt->in_numel * (size_t)r->batch;
    if (l->u.residual.use_1x1conv) {
        cnn__conv2d_backward(dx ? g4 : NULL, cnn__grad(r, rt, RS_C3W), cnn__grad(r, rt, RS_C3B), g1, x,
                             cnn__param(r, rt, RS_C3W), &cg3, r->ws);
        if (dx)
            cnn__add_into(dx, g4, nin);
    } else if (dx) {
        cnn__add_into(dx, g1, nin);
    }
    return dx;
}

/* torchinfo: the convolutions' parameters x N x H' x W', the batch norms'
 * x N; torchsummary shows the submodules in the order their hooks fire. */
static void residual_summary(const cnn_layer_desc *l, cnn__summary_info *s) {
    static const int k3[2] = {3, 3};
    s->kernel = k3;
    s->per_pixel = "conv", s->per_example = "bn";
    s->sub[0].type = "Conv2d", s->sub[0].prefix = "conv1.";
    s->sub[1].type = "BatchNorm2d", s->sub[1].prefix = "bn1.";
    s->sub[2].type = "Conv2d", s->sub[2].prefix = "conv2.";
    s->sub[3].type = "BatchNorm2d", s->sub[3].prefix = "bn2.";
    s->sub[4].type = "Conv2d", s->sub[4].prefix = "conv3.";
    s->n_sub = l->u.residual.use_1x1conv ? 5 : 4;
}

static void residual_describe(cnn__text *t, const cnn_layer_desc *l) {
    cnn__text_put(t, "input_channels=%d,num_channels=%d,use_1x1conv=%s,strides=%d", l->u.residual.input_channels,
                  l->u.residual.num_channels, cnn__py_bool(l->u.residual.use_1x1conv), l->u.residual.strides);
}

const cnn__layer_ops cnn__residual_layer = {
    .args = residual_args,
    .n_args = sizeof residual_args / sizeof residual_args[0],
    .plan = residual_plan,
    .reserve = residual_reserve,
    .forward = residual_forward,
    .backward = residual_backward,
    .summary = residual_summary,
    .describe = residual_describe,
    .kernel = "3 conv2d + 2 batch norms",
};
