/* test_layer_table.c — nn.GELU (approximate='none' and 'tanh'), nn.SiLU,
 * nn.Hardswish and nn.Identity, added through the layer table, against
 * PyTorch (tools/fixtures/gen_new_layers.py -> fixtures/new_layers.txt):
 * the kernels' outputs and input gradients on odd shapes, models with them
 * (outputs and every parameter gradient, in train and eval mode), central
 * finite differences of the kernels, 1 vs 2 threads, the model text,
 * canonical texts and `cnn summary` (fixtures/new_layers_summary.txt).
 * The layer table is whole. Then the step plan: the steps and `cnn summary
 * --plan`; each kind of step (a fused Conv2d -> activation [-> pooling], an
 * activation -> pooling with a one-pass backward) gives the bits of the
 * same layers run one by one (an Identity between them stops the fusion);
 * and a forward whose batch size changes the plan gives what a model
 * planned for that batch from the start gives, bit for bit. */
#include "fixture.h"
#include "test_util.h"
#include "fixture_model.h"
#include "cli_run.h"

#include "nn/describe.h"
#include "nn/layer.h"
#include "ops/ops.h"

/* The model texts of tools/fixtures/gen_new_layers.py, case by case. */
static const struct {
    const char *name, *text;
} cases[] = {
    {"conv_gelu", "nn.Sequential(nn.Conv2d(2, 3, 3), nn.GELU(), nn.Flatten(), nn.Linear(45, 4))"},
    {"conv_gelu_tanh_pool",
     "nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.GELU(approximate='tanh'), nn.MaxPool2d(2), "
     "nn.Flatten(), nn.Linear(36, 3))"},
    {"silu_mlp",
     "nn.Sequential(nn.Flatten(), nn.Linear(12, 7), nn.SiLU(), nn.Linear(7, 5), nn.SiLU(inplace=True), "
     "nn.Linear(5, 2))"},
    {"hardswish_conv",
     "nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.Hardswish(), nn.Conv2d(5, 4, 1), nn.Hardswish(), "
     "nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))"},
    {"identity",
     "nn.Sequential(nn.Identity(), nn.Conv2d(2, 3, 3), nn.Identity(), nn.ReLU(), nn.Identity(), "
     "nn.Flatten(), nn.Linear(27, 4), nn.Identity())"},
    {"bn_silu_gelu",
     "nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.SiLU(), nn.Conv2d(4, 4, 3, padding=1), "
     "nn.GELU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(16, 3), nn.Hardswish())"},
};

static const char summary_model[] =
    "nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.GELU(), nn.AvgPool2d(kernel_size=2, stride=2), "
    "nn.Conv2d(6, 16, kernel_size=5), nn.SiLU(), nn.MaxPool2d(kernel_size=2, stride=2), nn.Flatten(), "
    "nn.Linear(16 * 5 * 5, 120), nn.Hardswish(), nn.Identity(), nn.Linear(120, 84), "
    "nn.GELU(approximate='tanh'), nn.Linear(84, 10))";

/* ---- kernels ----------------------------------------------------------------- */

/* y = f(x) and dx = dy * f'(x) of a kernel case's layer; identity copies. */
static void run_kernel(const char *layer, float *y, float *dx, const float *x, const float *dy, size_t n) {
    if (!strcmp(layer, "gelu") || !strcmp(layer, "gelu_one")) {
        cnn__gelu_forward(y, x, n, 0);
        cnn__gelu_backward(dx, dy, x, n, 0);
    } else if (!strcmp(layer, "gelu_tanh")) {
        cnn__gelu_forward(y, x, n, 1);
        cnn__gelu_backward(dx, dy, x, n, 1);
    } else if (!strcmp(layer, "silu")) {
        cnn__silu_forward(y, x, n);
        cnn__silu_backward(dx, dy, x, n);
    } else if (!strcmp(layer, "hardswish")) {
        cnn__hardswish_forward(y, x, n);
        cnn__hardswish_backward(dx, dy, x, n);
    } else {
        memcpy(y, x, n * sizeof *y);
        memcpy(dx, dy, n * sizeof *dx);
    }
}

static void kernel_case(const fixture_case *c) {
    const char *layer = fixture_str(c, "layer");
    const cnn_tensor *x = fixture_tensor(c, "x"), *dy = fixture_tensor(c, "dy"), *y = fixture_tensor(c, "y"),
                     *dx = fixture_tensor(c, "dx");
    CHECK(layer && x && dy && y && dx);
    if (!layer || !x || !dy || !y || !dx) return;
    size_t n = (size_t)cnn_tensor_numel(x);
    float *gy = malloc(n * sizeof *gy), *gdx = malloc(n * sizeof *gdx);
    run_kernel(layer, gy, gdx, x->data, dy->data, n);
    char what[160];
    snprintf(what, sizeof what, "%s: y", c->name);
    CHECK_CLOSE(what, gy, y->data, n, 1e-5, 1e-6);
    snprintf(what, sizeof what, "%s: dx", c->name);
    CHECK_CLOSE(what, gdx, dx->data, n, 1e-5, 1e-6);
    free(gy), free(gdx);
}

/* Central differences in double of the forward kernel against the backward
 * kernel, away from Hardswish's kinks at +-3. */
static void check_kernel_differences(void) {
    static const char *const layers[] = {"gelu", "gelu_tanh", "silu", "hardswish"};
    const float xs[] = {-7.5f, -4.0f, -2.9f, -1.3f, -0.4f, 0.0f, 0.3f, 0.9f, 1.7f, 2.6f, 3.4f, 8.0f};
    const size_t n = sizeof xs / sizeof xs[0];
    for (size_t k = 0; k < sizeof layers / sizeof layers[0]; k++) {
        float ones[12], dx[12], y[12], xp[12], xm[12], yp[12], ym[12], fd[12];
        const float h = 1e-2f;
        for (size_t i = 0; i < n; i++) ones[i] = 1.0f, xp[i] = xs[i] + h, xm[i] = xs[i] - h;
        run_kernel(layers[k], y, dx, xs, ones, n);
        run_kernel(layers[k], yp, fd, xp, ones, n);
        run_kernel(layers[k], ym, fd, xm, ones, n);
        for (size_t i = 0; i < n; i++) fd[i] = (float)(((double)yp[i] - (double)ym[i]) / (2.0 * (double)h));
        char what[64];
        snprintf(what, sizeof what, "%s: finite differences", layers[k]);
        CHECK_CLOSE(what, dx, fd, n, 1e-3, 1e-3);
    }
}

/* Long inputs run in blocks across threads: the same bits with 1 and 2. */
static void check_threads(void) {
    static const char *const layers[] = {"gelu", "gelu_tanh", "silu", "hardswish"};
    const size_t n = 100003;
    float *x = malloc(n * sizeof *x), *dy = malloc(n * sizeof *dy);
    float *y1 = malloc(n * sizeof *y1), *dx1 = malloc(n * sizeof *dx1);
    float *y2 = malloc(n * sizeof *y2), *dx2 = malloc(n * sizeof *dx2);
    cnn_rng rng;
    cnn_rng_seed(&rng, 5);
    for (size_t i = 0; i < n; i++) x[i] = 16.0f * cnn_rng_uniform(&rng) - 8.0f, dy[i] = cnn_rng_normal(&rng);
    for (size_t k = 0; k < sizeof layers / sizeof layers[0]; k++) {
        cnn_set_threads(1);
        run_kernel(layers[k], y1, dx1, x, dy, n);
        cnn_set_threads(2);
        run_kernel(layers[k], y2, dx2, x, dy, n);
        char what[64];
        snprintf(what, sizeof what, "%s: 1 vs 2 threads, y", layers[k]);
        CHECK_CLOSE(what, y2, y1, n, 0, 0);
        snprintf(what, sizeof what, "%s: 1 vs 2 threads, dx", layers[k]);
        CHECK_CLOSE(what, dx2, dx1, n, 0, 0);
    }
    cnn_set_threads(0);
    free(x), free(dy), free(y1), free(dx1), free(y2), free(dx2);
}

/* ---- models -------------------------------------------------------------------- */

static const char *case_text(const char *name) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!strcmp(cases[i].name, name)) return cases[i].text;
    return NULL;
}

static void model_case(const fixture_case *c) {
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
        char key[96], what[256];
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
        cnn_model_zero_grad(m);
        CHECK_OK(cnn_model_forward(m, &y, x->data, batch, k == 0 ? CNN_TRAIN : CNN_EVAL_GRAD, NULL));
        snprintf(what, sizeof what, "%s %s:y", c->name, modes[k]);
        CHECK_CLOSE(what, y, want->data, (size_t)cnn_tensor_numel(want), 1e-4, 1e-5);
        CHECK_OK(cnn_model_backward(m, dy->data));
        for (int i = 0; i < cnn_model_num_tensors(m); i++) {
            cnn_param_info info;
            CHECK_OK(cnn_model_tensor_info(m, i, &info));
            snprintf(key, sizeof key, "%s:grad:%s", modes[k], info.name);
            snprintf(what, sizeof what, "%s %s", c->name, key);
            const cnn_tensor *t = fixture_tensor(c, key);
            CHECK(t != NULL);
            if (t) CHECK_CLOSE(what, cnn_model_grads(m) + info.offset, t->data, info.numel, 1e-4, 1e-5);
        }
    }
done:
    cnn_model_free(m);
}

/* ---- the model text -------------------------------------------------------------- */

static int parse_one(cnn_layer_desc *out, const char *layer) {
    char text[256];
    snprintf(text, sizeof text, "nn.Sequential(%s)", layer);
    cnn_layer_desc *l = NULL;
    int n = 0, rc = cnn_model_parse(&l, &n, text, "t");
    if (rc == CNN_OK) *out = l[0];
    cnn_free(l);
    return rc;
}

static void check_describe(const char *layer, const char *want) {
    cnn_layer_desc l;
    char got[CNN__LAYER_DESCRIBE_MAX];
    CHECK_OK(parse_one(&l, layer));
    CHECK(cnn__layer_describe(got, sizeof got, &l) > 0);
    CHECK_STR_EQ(got, want);
}

static void check_error(const char *layer, int status, const char *message) {
    cnn_layer_desc l;
    CHECK_STATUS(parse_one(&l, layer), status);
    if (!strstr(cnn_last_error(), message)) {
        fprintf(stderr, "  %s: expected a message with \"%s\", got \"%s\"\n", layer, message, cnn_last_error());
        CHECK(0);
    }
}

static void test_text(void) {
    cnn_layer_desc l;
    CHECK_OK(parse_one(&l, "nn.GELU()"));
    CHECK_INT_EQ(l.kind, CNN_LAYER_GELU);
    CHECK_INT_EQ(l.u.gelu.tanh, 0);
    CHECK_OK(parse_one(&l, "torch.nn.GELU(approximate='tanh')"));
    CHECK_INT_EQ(l.u.gelu.tanh, 1);
    CHECK_OK(parse_one(&l, "GELU('none')"));
    CHECK_INT_EQ(l.u.gelu.tanh, 0);
    CHECK_OK(parse_one(&l, "nn.SiLU(inplace=True)"));
    CHECK_INT_EQ(l.kind, CNN_LAYER_SILU);
    CHECK_OK(parse_one(&l, "nn.Hardswish(False)"));
    CHECK_INT_EQ(l.kind, CNN_LAYER_HARDSWISH);
    CHECK_OK(parse_one(&l, "nn.Identity()"));
    CHECK_INT_EQ(l.kind, CNN_LAYER_IDENTITY);
    CHECK_STR_EQ(cnn_layer_kind_name(CNN_LAYER_GELU), "GELU");
    CHECK_STR_EQ(cnn_layer_kind_name(CNN_LAYER_SILU), "SiLU");
    CHECK_STR_EQ(cnn_layer_kind_name(CNN_LAYER_HARDSWISH), "Hardswish");
    CHECK_STR_EQ(cnn_layer_kind_name(CNN_LAYER_IDENTITY), "Identity");

    check_describe("nn.GELU()", "GELU(approximate=none)");
    check_describe("nn.GELU(approximate='tanh')", "GELU(approximate=tanh)");
    check_describe("nn.SiLU(inplace=True)", "SiLU()");
    check_describe("nn.Hardswish()", "Hardswish()");
    check_describe("nn.Identity()", "Identity()");

    check_error("nn.GELU(approximate='exact')", CNN_EINVAL,
                "t:1:35: GELU: invalid approximate string, expected 'none' or 'tanh', found string 'exact'");
    check_error("nn.GELU(approximate=True)", CNN_EINVAL,
                "GELU: argument 'approximate' has the wrong type, expected a string, found bool True");
    check_error("nn.GELU(tanh=1)", CNN_EINVAL,
                "unknown keyword argument, expected one of approximate, found 'tanh' (did you mean 'approximate'?)");
    check_error("nn.SiLU(inplace=1)", CNN_EINVAL,
                "SiLU: argument 'inplace' has the wrong type, expected bool (True or False), found int 1");
    check_error("nn.Hardswish(True, True)", CNN_EINVAL, "too many positional arguments, expected at most 1, found 2");
    check_error("nn.Identity(54)", CNN_EINVAL, "too many positional arguments, expected at most 0, found 1");
    check_error("nn.Gelu()", CNN_EINVAL, "unknown layer, expected one of Conv2d, ");
    check_error("nn.Gelu()", CNN_EINVAL, "Residual, GELU, SiLU, Hardswish, Identity, (and nn.Sequential");
    check_error("nn.Gelu()", CNN_EINVAL, "(did you mean 'GELU'?)");
}

/* Every kind has an entry with a forward and a backward; its required
 * arguments come first, no name twice, at most 16 (the parser's room). */
static void test_table(void) {
    for (int k = 0; k < CNN_LAYER_COUNT; k++) {
        const cnn__layer_ops *ops = cnn__layer_ops_of((cnn_layer_kind)k);
        CHECK(ops != NULL);
        if (!ops) continue;
        CHECK(ops->forward != NULL && ops->backward != NULL && ops->kernel != NULL);
        CHECK(ops->n_args >= 0 && ops->n_args <= 16 && (ops->n_args == 0 || ops->args));
        int optional_seen = 0;
        for (int i = 0; i < ops->n_args; i++) {
            const cnn__arg *a = &ops->args[i];
            CHECK(a->name != NULL && (a->type != CNN__ARG_CUSTOM || a->bind != NULL));
            if (a->flags & CNN__ARG_REQUIRED) CHECK(!optional_seen);
            else optional_seen = 1;
            for (int j = 0; j < i; j++) CHECK(strcmp(ops->args[j].name, a->name) != 0);
        }
    }
    CHECK(cnn__layer_ops_of(CNN_LAYER_COUNT) == NULL);
    CHECK_STR_EQ(cnn_layer_kind_name(CNN_LAYER_COUNT), "?");
}

/* ---- summary ------------------------------------------------------------------------ */

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* What fn writes for the model, as a malloc'ed string. */
static char *capture(cnn_model *m, int batch, int plan) {
    FILE *f = tmpfile();
    if (!f) return NULL;
    int rc = plan ? cnn_model_plan_print(f, m, batch) : cnn_model_summary(f, m, batch);
    CHECK_OK(rc);
    long len = ftell(f);
    char *buf = calloc(1, (size_t)(len > 0 ? len : 0) + 1);
    rewind(f);
    if (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len) buf[0] = 0;
    fclose(f);
    return buf;
}

/* The library's summary and `cnn summary FILE` print what PyTorch's text is. */
static void test_summary(void) {
    char *want = read_text(CNN_FIXTURES_DIR "/new_layers_summary.txt");
    CHECK(want != NULL);
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, summary_model, "summary", (int64_t[]){1, 28, 28}));
    if (!want || !m) goto done;
    char *b1 = capture(m, 1, 0), *b4 = capture(m, 4, 0);
    size_t n1 = strlen(b1);
    CHECK(strlen(want) == n1 + strlen(b4));
    CHECK(strncmp(want, b1, n1) == 0);
    if (strncmp(want, b1, n1) != 0) CHECK_STR_EQ(b1, want);
    if (strlen(want) >= n1) CHECK_STR_EQ(b4, want + n1);
    free(b1), free(b4);
    /* the command line */
    FILE *f = fopen(CNN_BINARY_DIR "/new_layers_model.txt", "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "net = %s\n", summary_model);
        fclose(f);
        char *argv[] = {"cnn", "summary", "new_layers_model.txt", NULL};
        cli_result r;
        cli_run(&r, CNN_BINARY_DIR, NULL, argv, 60);
        CHECK_INT_EQ(r.code, 0);
        if (r.code != 0) cli_report("summary", argv, &r);
        want[n1] = 0; /* batch 1 */
        CHECK_STR_EQ(r.out, want);
    }
done:
    free(want);
    cnn_model_free(m);
}

/* ---- the step plan ---------------------------------------------------------------------- */

static const char lenet_modern[] =
    "nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2),\n"
    "    nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2), nn.Flatten(),\n"
    "    nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))";

/* Does the direct path take the first Conv2d (28 x 28, 5 x 5, padding 2) at this batch? */
static int direct_at(const cnn_model *m, int batch) {
    cnn__conv_geom g;
    if (cnn__conv_geom_make(&g, &cnn_model_layer(m, 0)->u.conv, (int64_t[]){batch, 1, 28, 28}) < 0) return 0;
    return cnn__conv2d_direct_ok(&g);
}

static void test_plan_print(void) {
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, lenet_modern, "lenet-modern", (int64_t[]){1, 28, 28}));
    if (!m) return;
    char *p = capture(m, 256, 1);
    CHECK(strstr(p, "Plan for batch 256: ") != NULL);
    if (direct_at(m, 256)) {
        /* with AVX2 + FMA: two fused steps in blocks of 8 between them, then one step per layer */
        CHECK(strstr(p, "Plan for batch 256: 8 steps for 12 layers") != NULL);
        CHECK(strstr(p, "   1  0-2 Conv2d > ReLU > MaxPool2d ") != NULL);
        CHECK(strstr(p, "conv2d direct + relu + pool") != NULL);
        CHECK(strstr(p, "blocks of 8: a p") != NULL);
        CHECK(strstr(p, "   2  3-5 Conv2d > ReLU > MaxPool2d ") != NULL);
        CHECK(strstr(p, "blocks of 8: x a") != NULL);
        CHECK(strstr(p, "   3  6 Flatten ") != NULL);
    } else {
        CHECK(strstr(p, "Plan for batch 256: 10 steps for 12 layers") != NULL);
        CHECK(strstr(p, "   2  1-2 ReLU > MaxPool2d ") != NULL);
    }
    free(p);
    CHECK_STATUS(cnn_model_plan_print(stdout, m, 0), CNN_EINVAL);
    CHECK_STATUS(cnn_model_plan_print(NULL, m, 1), CNN_EINVAL);
    /* the command line: --plan plans for --batch-size, 256 by default */
    static const struct {
        const char *args, *want;
    } runs[] = {{"summary lenet-modern --plan", "Plan for batch 256: "},
                {"summary lenet-modern --plan --batch-size 5", "Plan for batch 5: "}};
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        char buf[128], *argv[16];
        snprintf(buf, sizeof buf, "%s", runs[k].args);
        cli_split(argv, 16, buf);
        cli_result r;
        cli_run(&r, CNN_BINARY_DIR, NULL, argv, 60);
        CHECK(r.code == 0 && strstr(r.out, runs[k].want) != NULL);
        if (r.code != 0 || !strstr(r.out, runs[k].want)) cli_report(runs[k].want, argv, &r);
    }
    cnn_model_free(m);
}

/* Logits and gradients of one training step at batch b on model m. */
static void step_at(cnn_model *m, int b, const float *x, const float *dl, float *logits, float *grads) {
    const float *y = NULL;
    cnn_model_zero_grad(m);
    CHECK_OK(cnn_model_forward(m, &y, x, b, 1, NULL));
    CHECK_OK(cnn_model_backward(m, dl));
    if (y) memcpy(logits, y, (size_t)b * 10 * sizeof(float));
    memcpy(grads, cnn_model_grads(m), cnn_model_num_params(m) * sizeof(float));
}

/* A model reserved for 16 examples plans again for each batch size: 16
 * (blocks of 8), 5 (no blocks), 16, 3, 9 (a last block of 1) give the bits
 * of a model created and reserved for that batch alone. */
static void test_replan(void) {
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, lenet_modern, "lenet-modern", (int64_t[]){1, 28, 28}));
    if (!m) return;
    cnn_rng rng;
    cnn_rng_seed(&rng, 11);
    CHECK_OK(cnn_model_init_params(m, CNN_INIT_XAVIER, &rng));
    CHECK_OK(cnn_model_reserve(m, 16));
    const size_t np = cnn_model_num_params(m);
    float *x = malloc(16 * 784 * sizeof *x), *dl = malloc(160 * sizeof *dl);
    float *y1 = malloc(160 * sizeof *y1), *y2 = malloc(160 * sizeof *y2);
    float *g1 = malloc(np * sizeof *g1), *g2 = malloc(np * sizeof *g2);
    for (int k = 0; k < 16 * 784; k++) x[k] = cnn_rng_uniform(&rng);
    for (int k = 0; k < 160; k++) dl[k] = cnn_rng_uniform(&rng) - 0.5f;
    const int batches[] = {16, 5, 16, 3, 9};
    for (size_t k = 0; k < sizeof batches / sizeof batches[0]; k++) {
        const int b = batches[k];
        cnn_model *fresh = NULL;
        CHECK_OK(cnn_model_create_from_text(&fresh, lenet_modern, "fresh", (int64_t[]){1, 28, 28}));
        if (!fresh) break;
        memcpy(cnn_model_params(fresh), cnn_model_params(m), np * sizeof(float));
        CHECK_OK(cnn_model_reserve(fresh, b));
        step_at(m, b, x, dl, y1, g1);
        step_at(fresh, b, x, dl, y2, g2);
        char what[64];
        snprintf(what, sizeof what, "batch %d after others: logits", b);
        CHECK_CLOSE(what, y1, y2, (size_t)b * 10, 0, 0);
        snprintf(what, sizeof what, "batch %d after others: gradients", b);
        CHECK_CLOSE(what, g1, g2, np, 0, 0);
        int layer = 0;
        CHECK_OK(cnn_model_first_nonfinite_layer(m, &layer));
        CHECK_INT_EQ(layer, -1);
        cnn_model_free(fresh);
    }
    free(x), free(dl), free(y1), free(y2), free(g1), free(g2);
    cnn_model_free(m);
}

/* Logits and gradients of a training step of text's model (batch b,
 * 1 x 12 x 12 inputs, weights from seed 3 in state_dict order, which an
 * Identity does not change); *nonfinite: the first non-finite layer after
 * a forward with a NaN first weight. */
static void run_text(const char *text, int b, float *logits, float *grads, size_t np, int *nonfinite) {
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, text, "steps", (int64_t[]){1, 12, 12}));
    if (!m) return;
    CHECK_INT_EQ(cnn_model_num_params(m), np);
    cnn_rng rng;
    cnn_rng_seed(&rng, 3);
    for (size_t k = 0; k < np; k++) cnn_model_params(m)[k] = cnn_rng_uniform(&rng) - 0.5f;
    float x[9 * 144], dl[9 * 4];
    for (int k = 0; k < b * 144; k++) x[k] = cnn_rng_normal(&rng);
    for (int k = 0; k < b * 4; k++) dl[k] = cnn_rng_normal(&rng);
    const float *y = NULL;
    cnn_model_zero_grad(m);
    CHECK_OK(cnn_model_forward(m, &y, x, b, 1, NULL));
    CHECK_OK(cnn_model_backward(m, dl));
    if (y) memcpy(logits, y, (size_t)b * 4 * sizeof(float));
    memcpy(grads, cnn_model_grads(m), np * sizeof(float));
    cnn_model_params(m)[0] = NAN;
    CHECK_OK(cnn_model_forward(m, &y, x, b, 1, NULL));
    CHECK_OK(cnn_model_first_nonfinite_layer(m, nonfinite));
    cnn_model_free(m);
}

/* The same layers as one fused step, as an activation -> pooling step, and
 * one by one (an Identity splits them; the layer numbers shift by one). */
static void test_step_kinds(void) {
    static const struct {
        const char *fused, *act_pool, *apart;
        size_t np;
    } models[] = {
        {"nn.Sequential(nn.Conv2d(1, 5, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(180, 4))",
         "nn.Sequential(nn.Conv2d(1, 5, 3, padding=1), nn.Identity(), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), "
         "nn.Linear(180, 4))",
         "nn.Sequential(nn.Conv2d(1, 5, 3, padding=1), nn.ReLU(), nn.Identity(), nn.MaxPool2d(2), nn.Flatten(), "
         "nn.Linear(180, 4))",
         50 + 724},
        {"nn.Sequential(nn.Conv2d(1, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(300, 4))", NULL,
         "nn.Sequential(nn.Conv2d(1, 3, 3), nn.Identity(), nn.Tanh(), nn.Flatten(), nn.Linear(300, 4))", 30 + 1204},
        {"nn.Sequential(nn.Conv2d(1, 4, 5), nn.Sigmoid(), nn.AvgPool2d(3, stride=2, ceil_mode=True), nn.Flatten(), "
         "nn.Linear(64, 4))",
         "nn.Sequential(nn.Conv2d(1, 4, 5), nn.Identity(), nn.Sigmoid(), nn.AvgPool2d(3, stride=2, ceil_mode=True), "
         "nn.Flatten(), nn.Linear(64, 4))",
         "nn.Sequential(nn.Conv2d(1, 4, 5), nn.Sigmoid(), nn.Identity(), nn.AvgPool2d(3, stride=2, ceil_mode=True), "
         "nn.Flatten(), nn.Linear(64, 4))",
         104 + 260},
    };
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++)
        for (int b = 3; b <= 9; b += 6) { /* without and with the lanes layout (one block and a tail) */
            const size_t np = models[k].np;
            float y0[36], y1[36], *g0 = malloc(np * sizeof *g0), *g1 = malloc(np * sizeof *g1);
            int bad0 = -2, bad1 = -2;
            char what[96];
            run_text(models[k].fused, b, y0, g0, np, &bad0);
            CHECK_INT_EQ(bad0, 0); /* the Conv2d, whose output the fused step does not keep */
            const char *others[2] = {models[k].act_pool, models[k].apart};
            for (int o = 0; o < 2; o++) {
                if (!others[o]) continue;
                run_text(others[o], b, y1, g1, np, &bad1);
                CHECK_INT_EQ(bad1, 0);
                snprintf(what, sizeof what, "model %zu, batch %d, %s: logits", k, b, o ? "apart" : "act+pool");
                CHECK_CLOSE(what, y1, y0, (size_t)b * 4, 0, 0);
                snprintf(what, sizeof what, "model %zu, batch %d, %s: gradients", k, b, o ? "apart" : "act+pool");
                CHECK_CLOSE(what, g1, g0, np, 0, 0);
            }
            free(g0), free(g1);
        }
    /* the plans: fused where the direct kernels take the Conv2d */
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, models[0].act_pool, "plan", (int64_t[]){1, 12, 12}));
    char *p = m ? capture(m, 9, 1) : NULL;
    if (p) CHECK(strstr(p, "   3  2-3 ReLU > MaxPool2d ") != NULL);
    free(p);
    cnn_model_free(m);
    CHECK_OK(cnn_model_create_from_text(&m, models[1].fused, "plan", (int64_t[]){1, 12, 12}));
    p = m ? capture(m, 9, 1) : NULL;
    if (p && m) {
        cnn__conv_geom g;
        CHECK_OK(cnn__conv_geom_make(&g, &cnn_model_layer(m, 0)->u.conv, (int64_t[]){9, 1, 12, 12}));
        if (cnn__conv2d_direct_ok(&g)) CHECK(strstr(p, "   1  0-1 Conv2d > Tanh ") != NULL);
        else CHECK(strstr(p, "   1  0 Conv2d ") != NULL);
    }
    free(p);
    cnn_model_free(m);
}

int main(void) {
    fixture_case *cs;
    int n = fixture_load(CNN_FIXTURES_DIR "/new_layers.txt", &cs);
    int kernels = 0, models = 0;
    for (int i = 0; i < n; i++) {
        if (!strncmp(cs[i].name, "kernel_", 7)) {
            kernel_case(&cs[i]);
            kernels++;
        } else {
            model_case(&cs[i]);
            models++;
        }
    }
    CHECK_INT_EQ(kernels, 6);
    CHECK_INT_EQ(models, (int)(sizeof cases / sizeof cases[0]));
    if (n > 0) fixture_free(cs, n);
    check_kernel_differences();
    check_threads();
    test_text();
    test_table();
    test_summary();
    test_plan_print();
    test_step_kinds();
    test_replan();
    return test_report();
}
