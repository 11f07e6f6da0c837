/* test_isa.c — the kernels' instruction sets, chosen at run time.
 *
 * For every set this CPU runs (the others are skipped, saying so): a LeNet
 * and a small VGG-style net (3x3 convolutions with 32 channels, BatchNorm,
 * ReLU, max pooling) give the generic set's logits and gradients to a
 * float tolerance, and the same bits for 1 and 3 threads. A model planned under
 * one set re-plans when run under another; a backward under another set than
 * its forward is refused. Names round-trip; unknown names and sets the CPU
 * does not run are refused with a message. */
#include "test_util.h"

static const char *lenet =
    "net = nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),\n"
    "    nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),\n"
    "    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))\n";
static const char *vgg =
    "net = nn.Sequential(nn.Conv2d(1, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),\n"
    "    nn.Conv2d(32, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),\n"
    "    nn.Conv2d(32, 32, kernel_size=3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 4 * 4, 10))\n";

/* a convolution reading its input in place, in blocks of 8 samples, 8 pixels wide */
static const char *in_place =
    "net = nn.Sequential(nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),\n"
    "    nn.Conv2d(8, 8, kernel_size=3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))\n";

enum { BATCH = 19, HW = 14 };

/* logits (BATCH, 10) and gradients of the model under the set in use */
static void run(cnn_model *m, const float *x, const float *dl, float *logits, float *grads, size_t np) {
    const float *y = NULL;
    cnn_model_zero_grad(m);
    CHECK_OK(cnn_model_forward(m, &y, x, BATCH, 1, NULL));
    CHECK_OK(cnn_model_backward(m, dl));
    if (y) memcpy(logits, y, sizeof(float) * BATCH * 10);
    memcpy(grads, cnn_model_grads(m), sizeof(float) * np);
}

static void check_model(const char *name, const char *text, int64_t hw) {
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, text, name, (int64_t[]){1, hw, hw}));
    if (!m) return;
    cnn_rng rng;
    cnn_rng_seed(&rng, 11);
    CHECK_OK(cnn_model_init_params(m, CNN_INIT_XAVIER, &rng));
    size_t nx = (size_t)BATCH * (size_t)(hw * hw), nl = BATCH * 10, np = cnn_model_num_params(m);
    float *x = malloc(nx * sizeof(float)), *dl = malloc(nl * sizeof(float));
    float *want_y = malloc(nl * sizeof(float)), *want_g = malloc(np * sizeof(float));
    float *y = malloc(nl * sizeof(float)), *g = malloc(np * sizeof(float));
    float *y3 = malloc(nl * sizeof(float)), *g3 = malloc(np * sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = cnn_rng_uniform(&rng);
    for (size_t i = 0; i < nl; i++) dl[i] = cnn_rng_uniform(&rng) - 0.5f;

    cnn_set_threads(1);
    CHECK_OK(cnn_set_isa(CNN_ISA_GENERIC));
    run(m, x, dl, want_y, want_g, np);
    for (int i = CNN_ISA_GENERIC; i <= CNN_ISA_AVX512; i++) {
        cnn_isa isa = (cnn_isa)i;
        if (!cnn_isa_supported(isa)) {
            printf("%s: skipped %s: this CPU does not run it\n", name, cnn_isa_name(isa));
            continue;
        }
        CHECK_OK(cnn_set_isa(isa));
        CHECK_INT_EQ((int)cnn_get_isa(), i);
        cnn_set_threads(1);
        run(m, x, dl, y, g, np); /* re-planned for this set */
        cnn_set_threads(3);
        run(m, x, dl, y3, g3, np);
        char what[96];
        snprintf(what, sizeof what, "%s, %s: logits against generic", name, cnn_isa_name(isa));
        CHECK_CLOSE(what, y, want_y, nl, 1e-4, 1e-5);
        snprintf(what, sizeof what, "%s, %s: gradients against generic", name, cnn_isa_name(isa));
        CHECK_CLOSE(what, g, want_g, np, 1e-3, 1e-5);
        snprintf(what, sizeof what, "%s, %s: logits, 3 threads against 1", name, cnn_isa_name(isa));
        CHECK_CLOSE(what, y3, y, nl, 0, 0);
        snprintf(what, sizeof what, "%s, %s: gradients, 3 threads against 1", name, cnn_isa_name(isa));
        CHECK_CLOSE(what, g3, g, np, 0, 0);
        printf("%s: %s agrees with generic; the same bits for 1 and 3 threads\n", name, cnn_isa_name(isa));
    }
    /* a forward under one set, a backward under another: refused */
    cnn_isa best = cnn_isa_best();
    if (best != CNN_ISA_GENERIC) {
        const float *out = NULL;
        CHECK_OK(cnn_set_isa(best));
        CHECK_OK(cnn_model_forward(m, &out, x, BATCH, 1, NULL));
        CHECK_OK(cnn_set_isa(CNN_ISA_GENERIC));
        CHECK_STATUS(cnn_model_backward(m, dl), CNN_EINVAL);
        CHECK(strstr(cnn_last_error(), "instruction set changed") != NULL);
    }
    cnn_set_threads(0);
    cnn_model_free(m);
    free(x), free(dl), free(want_y), free(want_g), free(y), free(g), free(y3), free(g3);
}

int main(void) {
    /* names */
    for (int i = CNN_ISA_GENERIC; i <= CNN_ISA_AVX512; i++) {
        cnn_isa isa = CNN_ISA_GENERIC;
        CHECK_OK(cnn_isa_from_name(cnn_isa_name((cnn_isa)i), &isa));
        CHECK_INT_EQ((int)isa, i);
    }
    CHECK_STATUS(cnn_isa_from_name("sse4", NULL), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "expected generic, avx2 or avx512") != NULL);
    CHECK_STATUS(cnn_set_isa((cnn_isa)7), CNN_EINVAL);
    CHECK(cnn_isa_supported(CNN_ISA_GENERIC));
    CHECK(cnn_isa_supported(cnn_isa_best()));
    for (int i = CNN_ISA_GENERIC; i <= CNN_ISA_AVX512; i++)
        if (!cnn_isa_supported((cnn_isa)i)) {
            CHECK_STATUS(cnn_set_isa((cnn_isa)i), CNN_EINVAL);
            CHECK(strstr(cnn_last_error(), "does not run") != NULL);
        }
    cnn_isa start = cnn_get_isa(); /* CNN_ISA's choice, or the widest */
    const char *env = getenv("CNN_ISA");
    if (!env) CHECK_INT_EQ((int)start, (int)cnn_isa_best());
    check_model("lenet", lenet, 28);
    check_model("vgg", vgg, HW);
    check_model("in place", in_place, 20);
    return test_report();
}
