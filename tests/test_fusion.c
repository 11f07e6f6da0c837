/* test_fusion.c — the model runs Conv2d + activation + pooling as one fused
 * pass (forward) and pooling + activation as one (backward). Its logits and
 * gradients must be the same bits as the layers' kernels called one after
 * another, for the chapter's LeNet, its ReLU / MaxPool2d(2) form and other
 * variants (ReLU / MaxPool / Tanh, ReLU / AvgPool, Sigmoid / MaxPool),
 * with 1, 2 and 3 threads (3 can be more than the processors: a convolution
 * then runs as many threads as it has scratch slots); and an inference
 * forward, which keeps only the pooled outputs, must give the same logits
 * and refuse a backward. */
#include "test_util.h"

#include "ops/ops.h"

/* Layer-by-layer forward and backward of a Conv2d / activation / pooling /
 * Flatten / Linear model with the raw kernels; params as in the model's
 * buffer (each layer's weight, then its bias). grads are accumulated. */
typedef struct {
    const cnn_layer_desc *l;
    int64_t in[4], out[4]; /* (N, C, H, W); Linear: (N, features, 1, 1) */
    size_t pw, pb;         /* offsets of weight and bias in the parameter buffer */
} step;

static size_t numel4(const int64_t s[4]) { return (size_t)(s[0] * s[1] * s[2] * s[3]); }

static int act_of(cnn_layer_kind k, cnn_activation *a) {
    if (k == CNN_LAYER_SIGMOID) return *a = CNN_ACT_SIGMOID, 1;
    if (k == CNN_LAYER_RELU) return *a = CNN_ACT_RELU, 1;
    if (k == CNN_LAYER_TANH) return *a = CNN_ACT_TANH, 1;
    return 0;
}

static void reference(cnn_model *m, int batch, const float *x, const float *dlogits,
                      float *logits_out, float *grads) {
    int nl = cnn_model_num_layers(m);
    step st[16];
    float *acts[17];
    int64_t chw[3];
    cnn_model_input_shape(m, chw);
    int64_t cur[4] = {batch, chw[0], chw[1], chw[2]};
    size_t off = 0;
    acts[0] = (float *)x;
    for (int i = 0; i < nl && i < 16; i++) {
        step *s = &st[i];
        s->l = cnn_model_layer(m, i);
        memcpy(s->in, cur, sizeof cur);
        memcpy(s->out, cur, sizeof cur);
        int nd;
        int64_t sh[CNN_MAX_DIMS];
        cnn_model_layer_shape(m, i, &nd, sh);
        s->out[0] = batch;
        for (int d = 1; d < 4; d++) s->out[d] = d < nd ? sh[d] : 1;
        s->pw = off;
        if (s->l->kind == CNN_LAYER_CONV2D) {
            const cnn_conv2d_desc *c = &s->l->u.conv;
            off += (size_t)c->out_channels * (size_t)(c->in_channels / c->groups) *
                   (size_t)c->kernel_size[0] * (size_t)c->kernel_size[1];
            s->pb = off;
            if (c->bias) off += (size_t)c->out_channels;
        } else if (s->l->kind == CNN_LAYER_LINEAR) {
            const cnn_linear_desc *c = &s->l->u.linear;
            off += (size_t)c->out_features * (size_t)c->in_features;
            s->pb = off;
            if (c->bias) off += (size_t)c->out_features;
        }
        memcpy(cur, s->out, sizeof cur);
        acts[i + 1] = calloc(numel4(s->out), sizeof(float));
    }
    CHECK_INT_EQ(off, cnn_model_num_params(m));
    const float *p = cnn_model_params(m);
    size_t ws_n = 1;
    for (int i = 0; i < nl; i++) {
        step *s = &st[i];
        cnn_activation a;
        if (s->l->kind == CNN_LAYER_CONV2D) {
            cnn__conv_geom g;
            CHECK_OK(cnn__conv_geom_make(&g, &s->l->u.conv, s->in));
            size_t need = cnn__conv2d_workspace(&g);
            if (need > ws_n) ws_n = need;
        }
        (void)a;
    }
    float *ws = malloc(ws_n * sizeof(float));
    for (int i = 0; i < nl; i++) {
        step *s = &st[i];
        float *y = acts[i + 1];
        const float *in = acts[i];
        cnn_activation a;
        if (s->l->kind == CNN_LAYER_CONV2D) {
            cnn__conv_geom g;
            cnn__conv_geom_make(&g, &s->l->u.conv, s->in);
            cnn__conv2d_forward(y, in, p + s->pw, s->l->u.conv.bias ? p + s->pb : NULL, &g, ws);
        } else if (act_of(s->l->kind, &a)) {
            cnn__act_forward(y, in, numel4(s->out), a);
        } else if (s->l->kind == CNN_LAYER_MAXPOOL2D || s->l->kind == CNN_LAYER_AVGPOOL2D) {
            cnn__pool_geom g;
            cnn__pool_geom_make(&g, &s->l->u.pool, s->in);
            cnn__pool2d_forward(y, in, &g);
        } else if (s->l->kind == CNN_LAYER_FLATTEN) {
            memcpy(y, in, numel4(s->out) * sizeof(float));
        } else if (s->l->kind == CNN_LAYER_LINEAR) {
            const cnn_linear_desc *c = &s->l->u.linear;
            cnn__linear_forward(y, in, p + s->pw, c->bias ? p + s->pb : NULL, batch,
                                c->in_features, c->out_features);
        }
    }
    memcpy(logits_out, acts[nl], numel4(st[nl - 1].out) * sizeof(float));
    /* backward */
    float *dy = malloc(numel4(st[nl - 1].out) * sizeof(float));
    memcpy(dy, dlogits, numel4(st[nl - 1].out) * sizeof(float));
    for (int i = nl - 1; i >= 0; i--) {
        step *s = &st[i];
        float *dx = i > 0 ? calloc(numel4(s->in), sizeof(float)) : NULL;
        const float *x_in = acts[i], *y = acts[i + 1];
        cnn_activation a;
        if (s->l->kind == CNN_LAYER_CONV2D) {
            cnn__conv_geom g;
            cnn__conv_geom_make(&g, &s->l->u.conv, s->in);
            cnn__conv2d_backward(dx, grads + s->pw, s->l->u.conv.bias ? grads + s->pb : NULL, dy,
                                 x_in, p + s->pw, &g, ws);
        } else if (act_of(s->l->kind, &a)) {
            if (dx) cnn__act_backward(dx, dy, x_in, y, numel4(s->out), a);
        } else if (s->l->kind == CNN_LAYER_MAXPOOL2D || s->l->kind == CNN_LAYER_AVGPOOL2D) {
            cnn__pool_geom g;
            cnn__pool_geom_make(&g, &s->l->u.pool, s->in);
            if (dx) cnn__pool2d_backward(dx, dy, x_in, &g);
        } else if (s->l->kind == CNN_LAYER_FLATTEN) {
            if (dx) memcpy(dx, dy, numel4(s->in) * sizeof(float));
        } else if (s->l->kind == CNN_LAYER_LINEAR) {
            const cnn_linear_desc *c = &s->l->u.linear;
            cnn__linear_backward(dx, grads + s->pw, c->bias ? grads + s->pb : NULL, dy, x_in,
                                 p + s->pw, batch, c->in_features, c->out_features);
        }
        free(dy);
        dy = dx;
        if (!dy) break;
    }
    free(dy);
    for (int i = 1; i <= nl; i++) free(acts[i]);
    free(ws);
}

/* ties: the first Conv2d's weights are zero and its bias 0.25, so that every
 * pooling window after it holds four equal positive values */
static void check_model_ties(const char *name, const char *text, int batch, int ties) {
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, text, name, (int64_t[]){1, 28, 28}));
    if (!m) return;
    cnn_rng rng;
    cnn_rng_seed(&rng, 7);
    CHECK_OK(cnn_model_init_params(m, CNN_INIT_XAVIER, &rng));
    if (ties) {
        const cnn_conv2d_desc *c0 = &cnn_model_layer(m, 0)->u.conv;
        size_t nw = (size_t)(c0->out_channels * c0->in_channels * c0->kernel_size[0] * c0->kernel_size[1]);
        for (size_t k = 0; k < nw; k++) cnn_model_params(m)[k] = 0.0f;
        for (int k = 0; k < c0->out_channels; k++) cnn_model_params(m)[nw + (size_t)k] = 0.25f;
    }
    int64_t c = cnn_model_num_outputs(m);
    size_t nx = (size_t)batch * 784, nl = (size_t)batch * (size_t)c, np = cnn_model_num_params(m);
    float *x = malloc(nx * sizeof(float)), *dl = malloc(nl * sizeof(float));
    float *want_logits = malloc(nl * sizeof(float)), *want_grads = calloc(np, sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = cnn_rng_uniform(&rng);
    for (size_t i = 0; i < nl; i++) dl[i] = cnn_rng_uniform(&rng) - 0.5f;
    cnn_set_threads(1);
    reference(m, batch, x, dl, want_logits, want_grads);
    /* the model fuses its first Conv2d with what follows it on the direct path */
    cnn__conv_geom g1;
    CHECK_OK(cnn__conv_geom_make(&g1, &cnn_model_layer(m, 0)->u.conv, (int64_t[]){batch, 1, 28, 28}));
    int fused = cnn__conv2d_direct_ok(&g1);
    for (int threads = 1; threads <= 3; threads++) {
        cnn_set_threads(threads);
        const float *logits = NULL;
        cnn_model_zero_grad(m);
        CHECK_OK(cnn_model_forward(m, &logits, x, batch, 1, &rng));
        CHECK_OK(cnn_model_backward(m, dl));
        char what[128];
        snprintf(what, sizeof what, "%s, %d threads: logits", name, threads);
        if (logits) CHECK_CLOSE(what, logits, want_logits, nl, 0, 0);
        snprintf(what, sizeof what, "%s, %d threads: gradients", name, threads);
        CHECK_CLOSE(what, cnn_model_grads(m), want_grads, np, 0, 0);
        /* inference keeps only what it needs: same logits, and no backward */
        CHECK_OK(cnn_model_forward(m, &logits, x, batch, 0, NULL));
        snprintf(what, sizeof what, "%s, %d threads: inference logits", name, threads);
        if (logits) CHECK_CLOSE(what, logits, want_logits, nl, 0, 0);
        (void)fused; /* fused or not (generic), a CNN_EVAL forward allows no backward */
        {
            CHECK_STATUS(cnn_model_backward(m, dl), CNN_EINVAL);
            CHECK(strstr(cnn_last_error(), "CNN_EVAL_GRAD") != NULL);
        }
        int layer = 0;
        CHECK_OK(cnn_model_first_nonfinite_layer(m, &layer));
        CHECK_INT_EQ(layer, -1);
    }
    /* A NaN weight in the first Conv2d: its output was not kept, yet the
     * divergence report names it (layer 0), not the activation after it. */
    cnn_model_params(m)[0] = NAN;
    const float *logits = NULL;
    CHECK_OK(cnn_model_forward(m, &logits, x, batch, 1, &rng));
    int layer = -1;
    CHECK_OK(cnn_model_first_nonfinite_layer(m, &layer));
    CHECK_INT_EQ(layer, 0);
    cnn_set_threads(0);
    free(x), free(dl), free(want_logits), free(want_grads);
    cnn_model_free(m);
}

static void check_model(const char *name, const char *text, int batch) {
    check_model_ties(name, text, batch, 0);
}

/* Inference (CNN_EVAL) runs Conv2d -> BatchNorm2d -> activation (-> pooling)
 * as one step (and a residual block's conv1 -> bn1 -> ReLU), the batch norm applied with the running statistics before
 * the activation: the same logits, bit for bit, as eval mode with every
 * output kept (CNN_EVAL_GRAD, layer after layer), with 1, 2 and 3 threads;
 * and no backward after it. */
static void check_conv_bn_eval(const char *name, const char *text, int batch) {
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, text, name, (int64_t[]){1, 28, 28}));
    if (!m) return;
    cnn_rng rng;
    cnn_rng_seed(&rng, 11);
    CHECK_OK(cnn_model_init_params(m, CNN_INIT_XAVIER, &rng));
    /* running statistics and affine parameters away from 0 and 1 */
    float *p = cnn_model_params(m), *b = cnn_model_buffers(m);
    for (size_t i = 0; i < cnn_model_num_params(m); i++) p[i] += 0.2f * (cnn_rng_uniform(&rng) - 0.5f);
    for (int k = 0; k < cnn_model_num_buffers(m); k++) {
        cnn_buffer_info info;
        CHECK_OK(cnn_model_buffer_info(m, k, &info));
        int var = strstr(info.name, "running_var") != NULL;
        for (size_t i = 0; !info.is_counter && i < info.numel; i++)
            b[info.offset + i] = var ? 0.5f + cnn_rng_uniform(&rng) : cnn_rng_uniform(&rng) - 0.5f;
    }
    size_t nx = (size_t)batch * 784, nl = (size_t)batch * (size_t)cnn_model_num_outputs(m);
    float *x = malloc(nx * sizeof(float)), *want = malloc(nl * sizeof(float)), *dl = calloc(nl, sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = cnn_rng_uniform(&rng);
    const float *logits = NULL;
    cnn_set_threads(1);
    CHECK_OK(cnn_model_forward(m, &logits, x, batch, CNN_EVAL_GRAD, NULL));
    if (logits) memcpy(want, logits, nl * sizeof(float));
    CHECK_OK(cnn_model_backward(m, dl)); /* eval mode with every output kept: a backward works */
    for (int threads = 1; threads <= 3; threads++) {
        cnn_set_threads(threads);
        CHECK_OK(cnn_model_forward(m, &logits, x, batch, CNN_EVAL, NULL));
        char what[128];
        snprintf(what, sizeof what, "%s, batch %d, %d threads: inference logits", name, batch, threads);
        if (logits) CHECK_CLOSE(what, logits, want, nl, 0, 0);
        CHECK_STATUS(cnn_model_backward(m, dl), CNN_EINVAL); /* only what inference needs kept */
        int layer = 0;
        CHECK_OK(cnn_model_first_nonfinite_layer(m, &layer));
        CHECK_INT_EQ(layer, -1);
    }
    /* a training forward after it plans again and keeps everything (batch
     * statistics need more than one value per channel) */
    if (batch > 1) {
        CHECK_OK(cnn_model_forward(m, &logits, x, batch, CNN_TRAIN, &rng));
        CHECK_OK(cnn_model_backward(m, dl));
    }
    cnn_set_threads(0);
    free(x), free(want), free(dl);
    cnn_model_free(m);
}

int main(void) {
    check_model("lenet",
                "nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),\n"
                "    nn.AvgPool2d(kernel_size=2, stride=2),\n"
                "    nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),\n"
                "    nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),\n"
                "    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(),\n"
                "    nn.Linear(84, 10))",
                37);
    check_model("relu-max-tanh",
                "nn.Sequential(nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.ReLU(),\n"
                "    nn.MaxPool2d(kernel_size=3, stride=2, padding=1),\n"
                "    nn.Conv2d(8, 5, kernel_size=3, dilation=2), nn.Tanh(),\n"
                "    nn.AvgPool2d(kernel_size=3, stride=2, ceil_mode=True), nn.Flatten(),\n"
                "    nn.Linear(125, 10))",
                9);
    /* ReLU and 2 x 2 average pooling on the lanes layout (the second Conv2d;
     * a last block of 4 samples) */
    check_model("relu-avg-lanes",
                "nn.Sequential(nn.Conv2d(1, 4, kernel_size=5, padding=2), nn.ReLU(),\n"
                "    nn.AvgPool2d(kernel_size=2, stride=2),\n"
                "    nn.Conv2d(4, 6, kernel_size=5), nn.ReLU(),\n"
                "    nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),\n"
                "    nn.Linear(150, 10))",
                12);
    /* ReLU and MaxPool2d(2) on the lanes layout, in blocks of 8 between the
     * two (the chapter's LeNet in its modern form): windows of equal values
     * (ReLU's zeros) route to their first pixel; a last block of 5 samples */
    check_model("lenet-modern",
                "nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(),\n"
                "    nn.MaxPool2d(kernel_size=2, stride=2),\n"
                "    nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(),\n"
                "    nn.MaxPool2d(kernel_size=2, stride=2), nn.Flatten(),\n"
                "    nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),\n"
                "    nn.Linear(84, 10))",
                37);
    /* the same with every first pooling window a tie: its first pixel takes the gradient */
    check_model_ties("lenet-modern, ties",
                     "nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(),\n"
                     "    nn.MaxPool2d(kernel_size=2, stride=2),\n"
                     "    nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(),\n"
                     "    nn.MaxPool2d(kernel_size=2, stride=2), nn.Flatten(),\n"
                     "    nn.Linear(16 * 5 * 5, 120), nn.Linear(120, 10))",
                     16, 1);
    /* Sigmoid and MaxPool2d(2) on the lanes layout; a last block of 4 */
    check_model("sigmoid-max-lanes",
                "nn.Sequential(nn.Conv2d(1, 4, kernel_size=5, padding=2), nn.Sigmoid(),\n"
                "    nn.MaxPool2d(kernel_size=2, stride=2),\n"
                "    nn.Conv2d(4, 6, kernel_size=5), nn.Sigmoid(),\n"
                "    nn.MaxPool2d(kernel_size=2), nn.Flatten(),\n"
                "    nn.Linear(150, 10))",
                12);
    static const char *const vgg =
        "nn.Sequential(nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),\n"
        "    nn.Conv2d(8, 12, kernel_size=3, padding=1), nn.BatchNorm2d(12, affine=False), nn.ReLU(),\n"
        "    nn.MaxPool2d(kernel_size=2, stride=2),\n"
        "    nn.Conv2d(12, 16, kernel_size=3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),\n"
        "    nn.Conv2d(16, 8, kernel_size=3), nn.BatchNorm2d(8, track_running_stats=False), nn.ReLU(),\n"
        "    nn.Flatten(), nn.Linear(8 * 5 * 5, 10))";
    static const char *const lenet_bn =
        "nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.BatchNorm2d(6), nn.Sigmoid(),\n"
        "    nn.AvgPool2d(kernel_size=2, stride=2),\n"
        "    nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Tanh(),\n"
        "    nn.MaxPool2d(kernel_size=2, stride=2), nn.Flatten(),\n"
        "    nn.Linear(16 * 5 * 5, 120), nn.BatchNorm1d(120), nn.Sigmoid(), nn.Linear(120, 10))";
    /* residual blocks: relu(bn1(conv1(x))) in one pass (stride 1 and 2) */
    static const char *const resnet =
        "nn.Sequential(nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),\n"
        "    Residual(8, 8), Residual(8, 16, use_1x1conv=True, strides=2),\n"
        "    nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(16, 10))";
    /* the lanes layout with a last block of 5, the grid layout, one sample */
    for (int k = 0; k < 3; k++) {
        static const int batches[3] = {37, 5, 1};
        check_conv_bn_eval("vgg-like", vgg, batches[k]);
        check_conv_bn_eval("lenet-bn-like", lenet_bn, batches[k]);
        check_conv_bn_eval("resnet-like", resnet, batches[k]);
    }
    return test_report();
}
