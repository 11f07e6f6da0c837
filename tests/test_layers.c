/* test_layers.c — BatchNorm1d/2d, LeakyReLU, Softmax, Dropout2d,
 * AdaptiveAvg/MaxPool2d and d2l's Residual block inside models, against
 * PyTorch (tools/fixtures/gen_modern.py -> fixtures/modern_layers.txt):
 * outputs, every parameter gradient and the buffers after a training forward,
 * then the same in eval mode. Layers after the first are checked through the
 * gradient of the first layer's weights, which depends on their input
 * gradient. Then central finite differences of the training loss, Dropout2d's
 * channel masks, safetensors round trips of buffers (num_batches_tracked as
 * I64) and the model-building errors. */
#include "fixture.h"
#include "test_util.h"
#include "fixture_model.h"

#include <math.h>

/* The model texts of tools/fixtures/gen_modern.py, case by case. */
static const struct {
    const char *name, *text;
} cases[] = {
    {"bn2d", "nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3))"},
    {"bn2d_options",
     "nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3, eps=1e-3, momentum=None, affine=False), "
     "nn.ReLU(), nn.BatchNorm2d(3, momentum=0.3, track_running_stats=False))"},
    {"bn1d", "nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 6), nn.BatchNorm1d(6), nn.Linear(6, 3))"},
    {"bn1d_3d", "nn.Sequential(nn.Conv2d(1, 3, 2), nn.Flatten(2), nn.BatchNorm1d(3))"},
    {"leaky", "nn.Sequential(nn.Conv2d(2, 3, 3), nn.LeakyReLU(), nn.Conv2d(3, 2, 1), nn.LeakyReLU(0.2))"},
    {"softmax", "nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 5), nn.Softmax(dim=1))"},
    {"softmax_channels", "nn.Sequential(nn.Conv2d(1, 4, 2), nn.Softmax(dim=1))"},
    {"adaptive_avg", "nn.Sequential(nn.Conv2d(1, 2, 2), nn.AdaptiveAvgPool2d((3, 4)))"},
    {"adaptive_avg_up", "nn.Sequential(nn.Conv2d(1, 2, 2), nn.AdaptiveAvgPool2d(5))"},
    {"adaptive_max", "nn.Sequential(nn.Conv2d(1, 2, 2), nn.AdaptiveMaxPool2d((None, 3)))"},
    {"adaptive_max_1", "nn.Sequential(nn.Conv2d(1, 3, 3), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(3, 2))"},
    {"dropout2d_eval", "nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout2d(0.0))"},
    {"residual",
     "nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), Residual(4, 4), Residual(4, 6, use_1x1conv=True, strides=2))"},
    {"residual_first",
     "nn.Sequential(Residual(3, 4, use_1x1conv=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))"},
    {"blocks",
     "nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), "
     "nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), "
     "Residual(8, 8), Residual(8, 12, use_1x1conv=True, strides=2))"},
};

static const char *case_text(const char *name) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!strcmp(cases[i].name, name)) return cases[i].text;
    return NULL;
}

/* Compare gradients ("<mode>:grad:<name>") and buffers ("<mode>:state:<name>").
 * A batch of 8 or more (the "blocks" case: 11 samples through four batch
 * norms) sums more float32 terms that cancel, a Conv2d's bias before a batch
 * norm having a gradient of 0 in exact arithmetic: its gradients are
 * compared to 1e-3 relative, 1e-4 absolute. Its layouts are checked bit for
 * bit against NCHW in test_bn_act. */
static void check_grads_and_state(cnn_model *m, const fixture_case *c, const char *mode) {
    const int wide = fixture_int(c, "batch", 0) >= 8;
    char key[96], what[256];
    for (int i = 0; i < cnn_model_num_tensors(m); i++) {
        cnn_param_info info;
        CHECK_OK(cnn_model_tensor_info(m, i, &info));
        snprintf(key, sizeof key, "%s:grad:%s", mode, info.name);
        snprintf(what, sizeof what, "%s %s", c->name, key);
        const cnn_tensor *t = fixture_tensor(c, key);
        CHECK(t != NULL);
        if (t) CHECK_CLOSE(what, cnn_model_grads(m) + info.offset, t->data, info.numel, wide ? 1e-3 : 1e-4,
                           wide ? 1e-4 : 1e-5);
    }
    for (int i = 0; i < cnn_model_num_buffers(m); i++) {
        cnn_buffer_info info;
        CHECK_OK(cnn_model_buffer_info(m, i, &info));
        snprintf(key, sizeof key, "%s:state:%s", mode, info.name);
        snprintf(what, sizeof what, "%s %s", c->name, key);
        if (info.is_counter) {
            long long want = fixture_int(c, key, -1), got = (long long)cnn_model_counters(m)[info.offset];
            if (got != want) fprintf(stderr, "%s: expected %lld, got %lld\n", what, want, got);
            CHECK(got == want);
            continue;
        }
        const cnn_tensor *t = fixture_tensor(c, key);
        CHECK(t != NULL);
        if (t) CHECK_CLOSE(what, cnn_model_buffers(m) + info.offset, t->data, info.numel, 1e-5, 1e-6);
    }
}

/* loss = sum(y * dy) of a forward in the given mode. */
static double loss_of(cnn_model *m, const float *x, const float *dy, int batch, int train) {
    const float *y;
    cnn_rng rng;
    cnn_rng_seed(&rng, 1);
    if (cnn_model_forward(m, &y, x, batch, train, &rng) != CNN_OK) return NAN;
    double s = 0.0;
    size_t n = (size_t)batch * (size_t)cnn_model_num_outputs(m);
    for (size_t k = 0; k < n; k++) s += (double)y[k] * dy[k];
    return s;
}

/* Central differences for a few entries of every parameter tensor. Models
 * with ReLU or max pooling have kinks that a difference step can cross, so
 * there up to a fifth of the samples may disagree; elsewhere none may. */
static void check_finite_differences(cnn_model *m, const fixture_case *c, const char *mode) {
    const cnn_tensor *x = fixture_tensor(c, "train:x"), *dy = fixture_tensor(c, "train:dy");
    int batch = (int)fixture_int(c, "batch", 0), train = !strcmp(mode, "train") ? CNN_TRAIN : CNN_EVAL_GRAD;
    const int kinks = strstr(c->name, "residual") || strstr(c->name, "max") || strstr(c->name, "options");
    const float *y;
    cnn_model_zero_grad(m);
    CHECK_OK(cnn_model_forward(m, &y, x->data, batch, train, NULL));
    CHECK_OK(cnn_model_backward(m, dy->data));
    float *p = cnn_model_params(m);
    const float *g = cnn_model_grads(m);
    int samples = 0, bad = 0;
    char report[2048] = "";
    for (int i = 0; i < cnn_model_num_tensors(m); i++) {
        cnn_param_info info;
        CHECK_OK(cnn_model_tensor_info(m, i, &info));
        for (size_t k = 0; k < info.numel; k += 1 + info.numel / 4) {
            size_t j = info.offset + k;
            float save = p[j];
            const float h = 2e-3f;
            p[j] = save + h;
            double lp = loss_of(m, x->data, dy->data, batch, train);
            p[j] = save - h;
            double lm = loss_of(m, x->data, dy->data, batch, train);
            p[j] = save;
            double fd = (lp - lm) / (2.0 * h);
            samples++;
            if (!(fabs(fd - g[j]) <= 2e-2 + 3e-2 * fabs(fd))) {
                size_t len = strlen(report);
                snprintf(report + len, sizeof report - len, "  %s[%zu]: fd %.6g vs grad %.6g\n", info.name, k, fd,
                         (double)g[j]);
                bad++;
            }
        }
    }
    if (kinks ? bad * 5 > samples : bad > 0) {
        fprintf(stderr, "%s %s: finite differences disagree at %d of %d entries:\n%s", c->name, mode, bad, samples,
                report);
        CHECK(0);
    }
}

static void run_case(const fixture_case *c) {
    const char *text = case_text(c->name);
    CHECK(text != NULL);
    if (!text) return;
    int64_t chw[3] = {fixture_int(c, "c", 0), fixture_int(c, "h", 0), fixture_int(c, "w", 0)};
    int batch = (int)fixture_int(c, "batch", 0);
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, text, c->name, chw));
    if (!m) return;
    if (fixture_load_state(m, c, "init:") < 0) goto done;
    static const char *const modes[2] = {"train", "eval"};
    for (int k = 0; k < 2; k++) {
        char key[64], what[256];
        snprintf(key, sizeof key, "%s:x", modes[k]);
        const cnn_tensor *x = fixture_tensor(c, key);
        snprintf(key, sizeof key, "%s:dy", modes[k]);
        const cnn_tensor *dy = fixture_tensor(c, key);
        snprintf(key, sizeof key, "%s:y", modes[k]);
        const cnn_tensor *want = fixture_tensor(c, key);
        CHECK(x && dy && want);
        if (!x || !dy || !want) goto done;
        CHECK(cnn_tensor_numel(want) == batch * cnn_model_num_outputs(m));
        const float *y;
        cnn_rng rng;
        cnn_rng_seed(&rng, 0);
        cnn_model_zero_grad(m);
        CHECK_OK(cnn_model_forward(m, &y, x->data, batch, k == 0 ? CNN_TRAIN : CNN_EVAL_GRAD, &rng));
        snprintf(what, sizeof what, "%s %s:y", c->name, modes[k]);
        CHECK_CLOSE(what, y, want->data, (size_t)cnn_tensor_numel(want), 1e-4, 1e-5);
        CHECK_OK(cnn_model_backward(m, dy->data));
        check_grads_and_state(m, c, modes[k]);
    }
    /* a difference step crosses too many ReLU and pooling kinks of a batch of 11 */
    if (batch < 8) {
        check_finite_differences(m, c, "train");
        check_finite_differences(m, c, "eval");
    }
done:
    cnn_model_free(m);
}

/* Dropout2d keeps or zeroes whole channels, scaled by 1/(1-p); backward uses the same mask. */
static void test_dropout2d(void) {
    cnn_model *m = NULL;
    const int batch = 64, c = 8;
    CHECK_OK(cnn_model_create_from_text(&m, "nn.Sequential(nn.Conv2d(1, 8, 1, bias=False), nn.Dropout2d(0.25))",
                                        "dropout2d", (int64_t[]){1, 3, 3}));
    if (!m) return;
    float *x = malloc(sizeof(float) * batch * 9), *dy = malloc(sizeof(float) * batch * c * 9);
    for (int k = 0; k < batch * 9; k++) x[k] = 1.0f;
    for (int k = 0; k < batch * c * 9; k++) dy[k] = 1.0f;
    for (int k = 0; k < c; k++) cnn_model_params(m)[k] = 1.0f;
    const float *y;
    cnn_rng rng;
    cnn_rng_seed(&rng, 7);
    CHECK_OK(cnn_model_forward(m, &y, x, batch, 1, &rng));
    int dropped = 0, bad = 0;
    double sum[8] = {0};
    for (int p = 0; p < batch * c; p++) {
        float v = y[p * 9];
        for (int k = 0; k < 9; k++) bad += y[p * 9 + k] != v;
        bad += !(v == 0.0f || fabsf(v - 1.0f / 0.75f) < 1e-6f);
        dropped += v == 0.0f;
        sum[p % c] += 9.0 * v;
    }
    CHECK(bad == 0);
    CHECK(dropped > batch * c / 8 && dropped < batch * c * 3 / 8); /* expected 1/4 of 512 */
    cnn_model_zero_grad(m);
    CHECK_OK(cnn_model_backward(m, dy));
    float want[8];
    for (int k = 0; k < 8; k++) want[k] = (float)sum[k];
    CHECK_CLOSE("dropout2d dweight = sum of y per channel", cnn_model_grads(m), want, 8, 1e-5, 1e-4);
    /* eval: identity */
    CHECK_OK(cnn_model_forward(m, &y, x, batch, 0, NULL));
    for (int k = 0; k < batch * c * 9; k++) bad += y[k] != 1.0f;
    CHECK(bad == 0);
    free(x), free(dy);
    cnn_model_free(m);
}

/* Buffers survive a save/load; counters are written as I64 scalars. */
static void test_save_load(void) {
    const char *text = "nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), Residual(4, 4), nn.Flatten(), "
                       "nn.Linear(64, 3), nn.BatchNorm1d(3))";
    cnn_model *a = NULL, *b = NULL;
    CHECK_OK(cnn_model_create_from_text(&a, text, "save", (int64_t[]){1, 6, 6}));
    CHECK_OK(cnn_model_create_from_text(&b, text, "save", (int64_t[]){1, 6, 6}));
    if (!a || !b) goto done;
    CHECK_INT_EQ(cnn_model_num_buffers(a), 12);
    cnn_buffer_info bi;
    CHECK_OK(cnn_model_buffer_info(a, 5, &bi));
    CHECK_STR_EQ(bi.name, "2.bn1.num_batches_tracked");
    CHECK_INT_EQ(bi.is_counter, 1);
    CHECK_INT_EQ(bi.ndim, 0);
    cnn_param_info pi;
    CHECK_OK(cnn_model_tensor_info(a, 4, &pi));
    CHECK_STR_EQ(pi.name, "2.conv1.weight");
    CHECK_OK(cnn_model_tensor_info(a, 8, &pi));
    CHECK_STR_EQ(pi.name, "2.bn1.weight");
    cnn_rng rng;
    cnn_rng_seed(&rng, 3);
    CHECK_OK(cnn_model_init_params(a, CNN_INIT_DEFAULT, &rng));
    float x[4 * 36];
    for (int k = 0; k < 4 * 36; k++) x[k] = cnn_rng_normal(&rng);
    const float *y;
    for (int s = 0; s < 3; s++) CHECK_OK(cnn_model_forward(a, &y, x, 4, 1, &rng));
    const char *path = CNN_BINARY_DIR "/modern_bn.safetensors";
    CHECK_OK(cnn_model_save(a, path));
    CHECK_OK(cnn_model_load(b, path));
    CHECK_CLOSE("params", cnn_model_params(b), cnn_model_params(a), cnn_model_num_params(a), 0, 0);
    CHECK_CLOSE("buffers", cnn_model_buffers(b), cnn_model_buffers(a), 4 + 4 + 8 + 8 + 3 + 3, 0, 0);
    for (int k = 0; k < 4; k++) CHECK(cnn_model_counters(b)[k] == 3);
    /* The file says I64 for the counters. */
    FILE *f = fopen(path, "rb");
    char head[4096] = {0};
    CHECK(f != NULL);
    if (f) {
        size_t n = fread(head, 1, sizeof head - 1, f);
        fclose(f);
        head[n] = 0;
        CHECK(strstr(head + 8, "\"1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[]") != NULL);
    }
    /* Eval forwards agree. */
    float ya[12];
    CHECK_OK(cnn_model_forward(a, &y, x, 4, 0, NULL));
    memcpy(ya, y, sizeof ya);
    CHECK_OK(cnn_model_forward(b, &y, x, 4, 0, NULL));
    CHECK_CLOSE("eval after load", y, ya, 12, 0, 0);
done:
    cnn_model_free(a);
    cnn_model_free(b);
}

static void test_errors(void) {
    cnn_model *m = NULL;
    const int64_t chw[3] = {1, 8, 8};
    CHECK_STATUS(cnn_model_create_from_text(&m, "nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(5))", "e", chw),
                 CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "num_features") != NULL);
    CHECK_STATUS(cnn_model_create_from_text(&m, "nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm1d(4))", "e", chw),
                 CNN_ESHAPE);
    CHECK_STATUS(cnn_model_create_from_text(&m, "nn.Sequential(Residual(1, 4))", "e", chw), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "use_1x1conv") != NULL);
    CHECK_STATUS(cnn_model_create_from_text(&m, "nn.Sequential(Residual(1, 1, strides=2))", "e", chw), CNN_ESHAPE);
    CHECK_STATUS(cnn_model_create_from_text(&m, "nn.Sequential(nn.Softmax(dim=0))", "e", chw), CNN_EINVAL);
    CHECK_STATUS(cnn_model_create_from_text(&m, "nn.Sequential(nn.Softmax(dim=4))", "e", chw), CNN_EINVAL);
    CHECK_STATUS(cnn_model_create_from_text(&m, "nn.Sequential(nn.AdaptiveAvgPool2d(0))", "e", chw), CNN_EINVAL);
    CHECK_STATUS(cnn_model_create_from_text(&m, "nn.Sequential(nn.BatchNorm2d(1, eps=0))", "e", chw), CNN_EINVAL);
    CHECK_STATUS(cnn_model_create_from_text(&m, "nn.Sequential(nn.Flatten(), nn.Dropout2d())", "e", chw), CNN_ESHAPE);
    /* Training with one value per channel fails like PyTorch, without crashing. */
    CHECK_OK(cnn_model_create_from_text(&m, "nn.Sequential(nn.Flatten(), nn.Linear(64, 3), nn.BatchNorm1d(3))", "e",
                                        chw));
    if (m) {
        float x[64] = {0};
        const float *y;
        CHECK_STATUS(cnn_model_forward(m, &y, x, 1, 1, NULL), CNN_ESHAPE);
        CHECK(strstr(cnn_last_error(), "more than 1 value per channel") != NULL);
        CHECK_STATUS(cnn_model_backward(m, x), CNN_EINVAL);
        CHECK_OK(cnn_model_forward(m, &y, x, 1, 0, NULL));
        cnn_model_free(m);
    }
}

/* torchsummary's block of the summary for shipped models with BatchNorm and
 * Residual blocks (fixtures/modern_summary_*.txt, written by gen_modern.py). */
static void test_summary(const char *name) {
    char path[512], *text = NULL, want[8192], got[8192];
    snprintf(path, sizeof path, "%s/models/%s.txt", CNN_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return;
    text = calloc(1, 1 << 16);
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    fclose(f);
    text[n] = 0;
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, text, path, (int64_t[]){1, 28, 28}));
    free(text);
    if (!m) return;
    snprintf(path, sizeof path, "%s/modern_summary_%s.txt", CNN_FIXTURES_DIR, name);
    f = fopen(path, "rb");
    CHECK(f != NULL);
    size_t nw = f ? fread(want, 1, sizeof want - 1, f) : 0;
    if (f) fclose(f);
    want[nw] = 0;
    FILE *t = tmpfile();
    CHECK(t != NULL);
    if (t) {
        CHECK_OK(cnn_model_summary(t, m, 1));
        rewind(t);
        size_t ng = fread(got, 1, sizeof got - 1, t);
        fclose(t);
        got[ng] = 0;
        if (ng > nw) got[nw] = 0; /* block 1 only */
        CHECK_STR_EQ(got, want);
    }
    cnn_model_free(m);
}

int main(void) {
    fixture_case *cs;
    int n = fixture_load(CNN_FIXTURES_DIR "/modern_layers.txt", &cs);
    CHECK(n == (int)(sizeof cases / sizeof cases[0]));
    for (int i = 0; i < n; i++) run_case(&cs[i]);
    if (n > 0) fixture_free(cs, n);
    test_dropout2d();
    test_save_load();
    test_errors();
    test_summary("resnet-small");
    test_summary("lenet-bn");
    return test_report();
}
