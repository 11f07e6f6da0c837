/* test_bn_act.c — a BatchNorm and the activation after it run as one step
 * (nn/plan.c, CNN__STEP_BN_ACT), with the pooling after them when there is
 * one (CNN__STEP_BN_ACT_POOL): the same bits as the layers in turn.
 *
 * The unfused model is the same text with an nn.Identity() between each
 * batch norm and its activation (no parameters, so the same state). Both
 * models see the same input; logits, gradients and running statistics must
 * be equal bit for bit, in training and in eval, for ReLU (+ MaxPool2d(2)),
 * Tanh, Sigmoid and Sigmoid + AvgPool2d(2, ceil_mode) after BatchNorm2d,
 * at 1 and 3 threads. The plan names the fused steps and
 * leaves BatchNorm1d (planes of one value) alone, and a non-finite
 * batch-norm output (never stored) is still reported at the batch norm.
 *
 * Conv2d -> BatchNorm2d -> activation (-> 2 x 2 pooling) -> Conv2d chains
 * keep their tensors in blocks of 8 samples on the direct kernels (BLOCKS
 * below, a full block and 5 more samples, and two full blocks): the same
 * bits as the layers in turn in NCHW, where the nn.Identity() breaks the
 * chains. */
#include "test_util.h"

#define BODY(sep)                                                                                   \
    "nn.Sequential(nn.Conv2d(2, 8, kernel_size=3, padding=1), nn.BatchNorm2d(8)," sep "nn.ReLU(),\n"  \
    "    nn.MaxPool2d(2), nn.Conv2d(8, 8, kernel_size=3, stride=2, padding=1), nn.BatchNorm2d(8),"     \
    sep "nn.Tanh(),\n"                                                                              \
    "    nn.Conv2d(8, 8, kernel_size=3, padding=1), nn.BatchNorm2d(8)," sep "nn.Sigmoid(),\n"         \
    "    nn.Conv2d(8, 8, kernel_size=3, padding=1), nn.BatchNorm2d(8)," sep "nn.Sigmoid(),\n"         \
    "    nn.AvgPool2d(2, ceil_mode=True),\n"                                                          \
    "    nn.Flatten(), nn.Linear(8 * 2 * 2, 32), nn.BatchNorm1d(32)," sep "nn.Sigmoid(),\n"            \
    "    nn.Linear(32, 10))"

/* 31 x 31 inputs: a stride-2 convolution takes its input in blocks (its
 * phases made from them), and every pooling tiles its plane with 2 x 2
 * windows */
#define BLOCKS(sep)                                                                                   \
    "nn.Sequential(nn.Conv2d(2, 8, kernel_size=3, padding=1), nn.BatchNorm2d(8)," sep "nn.ReLU(),\n"   \
    "    nn.Conv2d(8, 12, kernel_size=3, stride=2, padding=1), nn.BatchNorm2d(12)," sep "nn.ReLU(),\n"  \
    "    nn.MaxPool2d(2), nn.Conv2d(12, 8, kernel_size=3, padding=1), nn.BatchNorm2d(8)," sep "nn.Sigmoid(),\n" \
    "    nn.AvgPool2d(2), nn.Conv2d(8, 8, kernel_size=3, padding=1), nn.BatchNorm2d(8)," sep "nn.Tanh(),\n" \
    "    nn.Flatten(), nn.Linear(8 * 4 * 4, 10))"

enum { BATCH = 13 };

static cnn_model *make(const char *text) {
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, text, "test", (int64_t[]){2, 14, 14}));
    return m;
}

static void same_bits(const char *what, const float *got, const float *want, size_t n) {
    CHECK_CLOSE(what, got, want, n, 0, 0);
}

static size_t stats_floats(const cnn_model *m) {
    size_t nb = 0;
    for (int i = 0; i < cnn_model_num_buffers(m); i++) {
        cnn_buffer_info bi;
        CHECK_OK(cnn_model_buffer_info(m, i, &bi));
        if (!bi.is_counter && bi.offset + bi.numel > nb) nb = bi.offset + bi.numel;
    }
    return nb;
}

/* plain gets fused's parameters, drawn from rng seeded with seed; returns
 * fused's plan for batch (to free). */
static char *same_params(cnn_model *fused, cnn_model *plain, cnn_rng *rng, uint64_t seed, int batch) {
    cnn_rng_seed(rng, seed);
    CHECK_OK(cnn_model_init_params(fused, CNN_INIT_XAVIER, rng));
    memcpy(cnn_model_params(plain), cnn_model_params(fused), cnn_model_num_params(fused) * sizeof(float));
    char *plan = NULL;
    size_t plan_len = 0;
    FILE *f = open_memstream(&plan, &plan_len);
    CHECK_OK(cnn_model_plan_print(f, fused, batch));
    fclose(f);
    return plan;
}

/* fused and plain (the same parameters) give the same logits and gradients
 * bit for bit at 1 and 3 threads, in training, eval with gradients, and
 * inference; x: the inputs, dl: the logits' gradient. */
static void compare(cnn_model *fused, cnn_model *plain, const float *x, const float *dl, int batch, const char *name) {
    const size_t nl = (size_t)batch * (size_t)cnn_model_num_outputs(fused), np = cnn_model_num_params(fused);
    float *want = malloc(nl * sizeof(float)), *want_g = malloc(np * sizeof(float));
    static const int modes[3] = {CNN_TRAIN, CNN_EVAL_GRAD, CNN_EVAL};
    for (int threads = 1; threads <= 3; threads += 2) {
        cnn_set_threads(threads);
        for (int k = 0; k < 3; k++) {
            const int mode = modes[k], grad = mode != CNN_EVAL;
            const float *ya = NULL, *yb = NULL;
            cnn_model_zero_grad(plain), cnn_model_zero_grad(fused);
            CHECK_OK(cnn_model_forward(plain, &yb, x, batch, mode, NULL));
            if (yb) memcpy(want, yb, nl * sizeof(float));
            if (grad) {
                CHECK_OK(cnn_model_backward(plain, dl));
                memcpy(want_g, cnn_model_grads(plain), np * sizeof(float));
            }
            CHECK_OK(cnn_model_forward(fused, &ya, x, batch, mode, NULL));
            char what[96];
            snprintf(what, sizeof what, "%s, batch %d, %d threads, mode %d: logits", name, batch, threads, mode);
            if (ya) same_bits(what, ya, want, nl);
            if (grad) {
                CHECK_OK(cnn_model_backward(fused, dl));
                snprintf(what, sizeof what, "%s, batch %d, %d threads, mode %d: gradients", name, batch, threads, mode);
                same_bits(what, cnn_model_grads(fused), want_g, np);
            }
        }
    }
    free(want), free(want_g);
}

/* BLOCKS with and without the chains, at batch `batch`: logits, gradients
 * (training, and eval mode with every output kept) and running statistics. */
static void check_blocks(int batch) {
    cnn_model *fused = NULL, *plain = NULL;
    const int64_t in[3] = {2, 31, 31};
    CHECK_OK(cnn_model_create_from_text(&fused, BLOCKS(" "), "test", in));
    CHECK_OK(cnn_model_create_from_text(&plain, BLOCKS(" nn.Identity(), "), "test", in));
    if (!fused || !plain) return;
    cnn_rng rng;
    char *plan = same_params(fused, plain, &rng, 11, batch);
    const size_t nx = (size_t)batch * 2 * 31 * 31, nl = (size_t)batch * 10;
    /* the direct kernels (not the generic set's) keep the chains in blocks */
    if (cnn_get_isa() != CNN_ISA_GENERIC) {
        static const char *const want[] = {"conv2d direct                    blocks of 8: y ",
                                           "conv2d direct                    blocks of 8: x y",
                                           "conv2d direct                    blocks of 8: x ",
                                           "batch norm + relu, one pass      blocks of 8",
                                           "batch norm + relu + pool         blocks of 8",
                                           "batch norm + sigmoid + pool      blocks of 8",
                                           "batch norm + tanh, one pass      NCHW"};
        for (int k = 0; k < (int)(sizeof want / sizeof *want); k++) {
            CHECK(plan && strstr(plan, want[k]));
            if (plan && !strstr(plan, want[k])) fprintf(stderr, "expected \"%s\" in the plan:\n%s", want[k], plan);
        }
    }
    free(plan);

    float *x = malloc(nx * sizeof(float)), *dl = malloc(nl * sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;
    for (size_t i = 0; i < nl; i++) dl[i] = cnn_rng_uniform(&rng) - 0.5f;
    compare(fused, plain, x, dl, batch, "blocks");
    const size_t nb = stats_floats(fused);
    CHECK(nb == 2 * (8 + 12 + 8 + 8));
    same_bits("blocks: running statistics", cnn_model_buffers(fused), cnn_model_buffers(plain), nb);
    cnn_set_threads(0);
    cnn_model_free(fused), cnn_model_free(plain);
    free(x), free(dl);
}

int main(void) {
    cnn_model *fused = make(BODY(" ")), *plain = make(BODY(" nn.Identity(), "));
    if (!fused || !plain) return test_report();
    CHECK_INT_EQ((int)cnn_model_num_params(fused), (int)cnn_model_num_params(plain));
    cnn_rng rng;
    char *plan = same_params(fused, plain, &rng, 5, BATCH);
    /* the plan fuses the three pairs */
    CHECK(plan && strstr(plan, "batch norm + relu + pool") && strstr(plan, "batch norm + tanh, one pass") &&
          strstr(plan, "batch norm + sigmoid, one pass") && strstr(plan, "batch norm + sigmoid + pool") &&
          strstr(plan, "BatchNorm1d   "));
    if (plan && !strstr(plan, "batch norm + relu")) fprintf(stderr, "plan:\n%s", plan);
    free(plan);

    size_t nx = (size_t)BATCH * 2 * 14 * 14, nl = (size_t)BATCH * 10;
    float *x = malloc(nx * sizeof(float)), *dl = malloc(nl * sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;
    for (size_t i = 0; i < nl; i++) dl[i] = cnn_rng_uniform(&rng) - 0.5f;
    compare(fused, plain, x, dl, BATCH, "chains");
    /* running statistics: 4 training forwards each */
    const size_t nb = stats_floats(fused);
    CHECK(nb == 2 * (8 + 8 + 8 + 8 + 32));
    same_bits("running statistics", cnn_model_buffers(fused), cnn_model_buffers(plain), nb);

    /* an infinite batch-norm weight: the first non-finite output is the
     * batch norm's (layer 1), though the fused step kept only ReLU's */
    cnn_model_params(fused)[8 * 2 * 9 + 8] = INFINITY; /* BatchNorm2d(8).weight[0] */
    const float *y = NULL;
    CHECK_OK(cnn_model_forward(fused, &y, x, BATCH, 1, NULL));
    int layer = -1;
    CHECK_OK(cnn_model_first_nonfinite_layer(fused, &layer));
    CHECK_INT_EQ(layer, 1);
    cnn_set_threads(0);
    cnn_model_free(fused), cnn_model_free(plain);
    free(x), free(dl);
    check_blocks(13);
    check_blocks(16);
    return test_report();
}
