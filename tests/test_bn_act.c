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
 * batch-norm output (never stored) is still reported at the batch norm. */
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

enum { BATCH = 13 };

static cnn_model *make(const char *text) {
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, text, "test", (int64_t[]){2, 14, 14}));
    return m;
}

static void same_bits(const char *what, const float *got, const float *want, size_t n) {
    CHECK_CLOSE(what, got, want, n, 0, 0);
}

int main(void) {
    cnn_model *fused = make(BODY(" ")), *plain = make(BODY(" nn.Identity(), "));
    if (!fused || !plain) return test_report();
    CHECK_INT_EQ((int)cnn_model_num_params(fused), (int)cnn_model_num_params(plain));
    cnn_rng rng;
    cnn_rng_seed(&rng, 5);
    CHECK_OK(cnn_model_init_params(fused, CNN_INIT_XAVIER, &rng));
    size_t np = cnn_model_num_params(fused);
    memcpy(cnn_model_params(plain), cnn_model_params(fused), np * sizeof(float));

    /* the plan fuses the three pairs */
    char *plan = NULL;
    size_t plan_len = 0;
    FILE *f = open_memstream(&plan, &plan_len);
    CHECK_OK(cnn_model_plan_print(f, fused, BATCH));
    fclose(f);
    CHECK(plan && strstr(plan, "batch norm + relu + pool") && strstr(plan, "batch norm + tanh, one pass") &&
          strstr(plan, "batch norm + sigmoid, one pass") && strstr(plan, "batch norm + sigmoid + pool") &&
          strstr(plan, "BatchNorm1d   "));
    if (plan && !strstr(plan, "batch norm + relu")) fprintf(stderr, "plan:\n%s", plan);
    free(plan);

    size_t nx = (size_t)BATCH * 2 * 14 * 14, nl = (size_t)BATCH * 10;
    float *x = malloc(nx * sizeof(float)), *dl = malloc(nl * sizeof(float));
    float *want = malloc(nl * sizeof(float)), *want_g = malloc(np * sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;
    for (size_t i = 0; i < nl; i++) dl[i] = cnn_rng_uniform(&rng) - 0.5f;
    for (int threads = 1; threads <= 3; threads += 2) {
        cnn_set_threads(threads);
        for (int train = 1; train >= 0; train--) {
            const float *ya = NULL, *yb = NULL;
            cnn_model_zero_grad(plain), cnn_model_zero_grad(fused);
            CHECK_OK(cnn_model_forward(plain, &yb, x, BATCH, train, NULL));
            if (yb) memcpy(want, yb, nl * sizeof(float));
            if (train) {
                CHECK_OK(cnn_model_backward(plain, dl));
                memcpy(want_g, cnn_model_grads(plain), np * sizeof(float));
            }
            CHECK_OK(cnn_model_forward(fused, &ya, x, BATCH, train, NULL));
            char what[64];
            snprintf(what, sizeof what, "%d threads, train=%d: logits", threads, train);
            if (ya) same_bits(what, ya, want, nl);
            if (train) {
                CHECK_OK(cnn_model_backward(fused, dl));
                snprintf(what, sizeof what, "%d threads: gradients", threads);
                same_bits(what, cnn_model_grads(fused), want_g, np);
            }
        }
    }
    /* running statistics: 4 training forwards each */
    size_t nb = 0;
    for (int i = 0; i < cnn_model_num_buffers(fused); i++) {
        cnn_buffer_info bi;
        CHECK_OK(cnn_model_buffer_info(fused, i, &bi));
        if (!bi.is_counter && bi.offset + bi.numel > nb) nb = bi.offset + bi.numel;
    }
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
    free(x), free(dl), free(want), free(want_g);
    return test_report();
}
