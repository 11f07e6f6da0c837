/* test_dense.c — activations, nn.Linear, nn.Flatten's shape rule and the losses.
 *
 *   1. PyTorch fixtures (tests/fixtures/dense.txt, from tools/fixtures/gen_dense.py):
 *      forward values and gradients through the public API and the raw kernels.
 *   2. Reference vs fast linear kernels on odd shapes, with accumulation.
 *   3. Finite differences of every gradient.
 *   4. Sigmoid accuracy for large |x| against a double-precision reference.
 *   5. Error paths: bad labels, shapes, dims, NULLs; flatten's dim rules.
 */
#include "fixture.h"
#include "ops/ops.h"
#include "test_util.h"

#define RTOL 1e-5
/* Below FLT_MIN PyTorch flushes sigmoid(x < -88.7) to 0 while we keep the
 * subnormal value; both are within this absolute tolerance. */
#define ATOL_TINY 1e-37

static cnn_rng rng;

static void fill(float *p, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) p[i] = scale * cnn_rng_normal(&rng);
}

static const cnn_tensor *need(const fixture_case *c, const char *key) {
    const cnn_tensor *t = fixture_tensor(c, key);
    if (!t) {
        fprintf(stderr, "fixture case %s has no tensor '%s'\n", c->name, key);
        exit(1);
    }
    return t;
}

static int32_t *labels_of(const cnn_tensor *t) {
    int64_t n = cnn_tensor_numel(t);
    int32_t *y = malloc((size_t)(n > 0 ? n : 1) * sizeof *y);
    for (int64_t i = 0; i < n; i++) y[i] = (int32_t)t->data[i];
    return y;
}

static int shape_eq(const cnn_tensor *a, const cnn_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

/* Compares got with want: same shape and values within rtol / atol. */
static void check_tensor(const char *what, const cnn_tensor *got, const cnn_tensor *want,
                         double rtol, double atol) {
    CHECK(shape_eq(got, want));
    if (shape_eq(got, want))
        CHECK_CLOSE(what, got->data, want->data, (size_t)cnn_tensor_numel(want), rtol, atol);
}

/* ---- 1. fixtures ---------------------------------------------------------- */

static void fixture_act(const fixture_case *c) {
    const char *name = fixture_str(c, "act");
    cnn_activation act = strcmp(name, "sigmoid") == 0 ? CNN_ACT_SIGMOID
                         : strcmp(name, "relu") == 0  ? CNN_ACT_RELU
                                                      : CNN_ACT_TANH;
    const cnn_tensor *x = need(c, "x"), *dy = need(c, "dy"), *y = need(c, "y"), *dx = need(c, "dx");
    double rtol = act == CNN_ACT_SIGMOID ? 1e-6 : RTOL;
    cnn_tensor got = CNN_TENSOR_EMPTY, dgot = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_activation_forward(&got, x, act));
    check_tensor(c->name, &got, y, rtol, ATOL_TINY);
    /* Near saturation f'(x) = 1 - y*y or (1-y)*y cancels, so a 1-ulp difference
     * in y between our expf/tanhf and PyTorch's shows up as ~1e-7 * |dy| in dx. */
    CHECK_OK(cnn_activation_grad(&dgot, dy, x, act));
    check_tensor(c->name, &dgot, dx, RTOL, act == CNN_ACT_RELU ? 0.0 : 5e-7);
    /* From PyTorch's own y the backward formula must agree tightly. */
    size_t n = (size_t)cnn_tensor_numel(x);
    cnn__act_backward(dgot.data, dy->data, x->data, y->data, n, act);
    CHECK_CLOSE(c->name, dgot.data, dx->data, n, RTOL, ATOL_TINY);
    cnn_tensor_free(&got);
    cnn_tensor_free(&dgot);
}

static void fixture_linear(const fixture_case *c) {
    const cnn_tensor *x = need(c, "x"), *w = need(c, "weight"), *dy = need(c, "dy");
    const cnn_tensor *b = fixture_tensor(c, "bias");
    const cnn_tensor *y = need(c, "y"), *dx = need(c, "dx"), *dw = need(c, "dweight");
    cnn_tensor got = CNN_TENSOR_EMPTY, gdx = CNN_TENSOR_EMPTY, gdw = CNN_TENSOR_EMPTY,
               gdb = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_linear(&got, x, w, b));
    check_tensor(c->name, &got, y, RTOL, 1e-6);
    CHECK_OK(cnn_linear_grad(&gdx, &gdw, b ? &gdb : NULL, dy, x, w));
    check_tensor(c->name, &gdx, dx, RTOL, 1e-6);
    check_tensor(c->name, &gdw, dw, RTOL, 1e-6);
    if (b) check_tensor(c->name, &gdb, need(c, "dbias"), RTOL, 1e-6);

    /* Raw kernels, reference and fast. */
    int64_t in = w->shape[1], out = w->shape[0], n = cnn_tensor_numel(x) / in;
    for (int fast = 0; fast < 2; fast++) {
        memset(got.data, 0xff, (size_t)(n * out) * sizeof(float)); /* NaN: must be overwritten */
        memset(gdx.data, 0xff, (size_t)(n * in) * sizeof(float));
        memset(gdw.data, 0, (size_t)(out * in) * sizeof(float));
        if (b) memset(gdb.data, 0, (size_t)out * sizeof(float));
        const float *bias = b ? b->data : NULL;
        float *db = b ? gdb.data : NULL;
        if (fast) {
            cnn__linear_forward(got.data, x->data, w->data, bias, n, in, out);
            cnn__linear_backward(gdx.data, gdw.data, db, dy->data, x->data, w->data, n, in, out);
        } else {
            cnn__linear_forward_ref(got.data, x->data, w->data, bias, n, in, out);
            cnn__linear_backward_ref(gdx.data, gdw.data, db, dy->data, x->data, w->data, n, in, out);
        }
        check_tensor(c->name, &got, y, RTOL, 1e-6);
        check_tensor(c->name, &gdx, dx, RTOL, 1e-6);
        check_tensor(c->name, &gdw, dw, RTOL, 1e-6);
        if (b) check_tensor(c->name, &gdb, need(c, "dbias"), RTOL, 1e-6);
    }
    cnn_tensor_free(&got);
    cnn_tensor_free(&gdx);
    cnn_tensor_free(&gdw);
    cnn_tensor_free(&gdb);
}

static void fixture_ce(const fixture_case *c) {
    const cnn_tensor *z = need(c, "logits"), *loss = need(c, "loss"), *dz = need(c, "dlogits");
    int32_t *y = labels_of(need(c, "labels"));
    float got = 0, got2 = 0;
    cnn_tensor dgot = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_cross_entropy(&got, &dgot, z, y));
    CHECK_CLOSE(c->name, &got, loss->data, 1, RTOL, 0);
    check_tensor(c->name, &dgot, dz, RTOL, 1e-7);
    CHECK_OK(cnn_cross_entropy(&got2, NULL, z, y)); /* loss only */
    CHECK_CLOSE(c->name, &got2, loss->data, 1, RTOL, 0);
    cnn_tensor_free(&dgot);
    free(y);
}

static void fixture_mse(const fixture_case *c) {
    const cnn_tensor *a = need(c, "a"), *b = need(c, "b");
    float loss = 0;
    cnn_tensor da = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_mse_loss(&loss, &da, a, b));
    CHECK_CLOSE(c->name, &loss, need(c, "loss")->data, 1, RTOL, 0);
    check_tensor(c->name, &da, need(c, "da"), RTOL, 1e-7);
    cnn_tensor_free(&da);
    CHECK_OK(cnn_sse_loss(&loss, &da, a, b));
    CHECK_CLOSE(c->name, &loss, need(c, "sse")->data, 1, RTOL, 0);
    check_tensor(c->name, &da, need(c, "dsse"), RTOL, 1e-7);
    cnn_tensor_free(&da);
    CHECK_OK(cnn_sse_loss(&loss, NULL, a, b));
    CHECK_CLOSE(c->name, &loss, need(c, "sse")->data, 1, RTOL, 0);
}

static void test_fixtures(void) {
    fixture_case *cs;
    int n = fixture_load(CNN_FIXTURES_DIR "/dense.txt", &cs);
    CHECK(n > 0);
    int counts[4] = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        const char *name = cs[i].name;
        if (strncmp(name, "act_", 4) == 0) fixture_act(&cs[i]), counts[0]++;
        else if (strncmp(name, "linear_", 7) == 0) fixture_linear(&cs[i]), counts[1]++;
        else if (strncmp(name, "ce_", 3) == 0) fixture_ce(&cs[i]), counts[2]++;
        else if (strncmp(name, "mse_", 4) == 0) fixture_mse(&cs[i]), counts[3]++;
        else {
            fprintf(stderr, "unknown fixture case %s\n", name);
            CHECK(0);
        }
    }
    CHECK_INT_EQ(counts[0], 3);
    CHECK(counts[1] >= 8 && counts[2] >= 4 && counts[3] >= 2);
    if (n > 0) fixture_free(cs, n);
}

/* ---- 2. reference vs fast ------------------------------------------------- */

static void test_linear_ref_vs_fast(void) {
    static const int64_t sizes[] = {0, 1, 2, 3, 7, 17, 64, 65, 129};
    const int ns = (int)(sizeof sizes / sizeof sizes[0]);
    for (int a = 0; a < ns; a++)
        for (int bi = 0; bi < ns; bi++)
            for (int ci = 0; ci < ns; ci += 2) {
                int64_t n = sizes[a], in = sizes[bi], out = sizes[(ci + a) % ns];
                size_t nx = (size_t)(n * in) + 1, nw = (size_t)(out * in) + 1, ny = (size_t)(n * out) + 1;
                float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)(out + 1) * 4);
                float *dy = malloc(ny * 4), *y1 = malloc(ny * 4), *y2 = malloc(ny * 4);
                float *dx1 = malloc(nx * 4), *dx2 = malloc(nx * 4), *dw1 = malloc(nw * 4),
                      *dw2 = malloc(nw * 4), *db1 = malloc((size_t)(out + 1) * 4),
                      *db2 = malloc((size_t)(out + 1) * 4);
                fill(x, (int64_t)nx, 1), fill(w, (int64_t)nw, 0.5f), fill(b, out + 1, 1), fill(dy, (int64_t)ny, 1);
                /* Parameter gradients start non-zero: the kernels must accumulate. */
                fill(dw1, (int64_t)nw, 1), fill(db1, out + 1, 1);
                memcpy(dw2, dw1, nw * 4), memcpy(db2, db1, (size_t)(out + 1) * 4);
                for (int withb = 0; withb < 2; withb++) {
                    cnn__linear_forward_ref(y1, x, w, withb ? b : NULL, n, in, out);
                    cnn__linear_forward(y2, x, w, withb ? b : NULL, n, in, out);
                    char what[96];
                    snprintf(what, sizeof what, "linear n=%lld in=%lld out=%lld bias=%d",
                             (long long)n, (long long)in, (long long)out, withb);
                    CHECK_CLOSE(what, y2, y1, (size_t)(n * out), 1e-4, 1e-5);
                }
                cnn__linear_backward_ref(dx1, dw1, db1, dy, x, w, n, in, out);
                cnn__linear_backward(dx2, dw2, db2, dy, x, w, n, in, out);
                char what[96];
                snprintf(what, sizeof what, "linear backward n=%lld in=%lld out=%lld",
                         (long long)n, (long long)in, (long long)out);
                CHECK_CLOSE(what, dx2, dx1, (size_t)(n * in), 1e-4, 1e-5);
                CHECK_CLOSE(what, dw2, dw1, (size_t)(out * in), 1e-4, 1e-5);
                /* The bias gradient uses the same fixed-order sum in both. */
                CHECK(memcmp(db1, db2, (size_t)out * 4) == 0);
                /* dx and db may be skipped. */
                cnn__linear_backward(NULL, dw2, NULL, dy, x, w, n, in, out);
                free(x), free(w), free(b), free(dy), free(y1), free(y2), free(dx1), free(dx2);
                free(dw1), free(dw2), free(db1), free(db2);
            }
}

/* Results must not depend on the number of threads. */
static void test_thread_independence(void) {
    const int64_t n = 300, out = 333, len = n * out;
    float *x = malloc((size_t)len * 4), *y1 = malloc((size_t)len * 4), *y2 = malloc((size_t)len * 4);
    float *db1 = calloc((size_t)out, 4), *db2 = calloc((size_t)out, 4);
    fill(x, len, 4);
    int saved = cnn_get_threads();
    for (int act = CNN_ACT_SIGMOID; act <= CNN_ACT_TANH; act++) {
        cnn_set_threads(1);
        cnn__act_forward(y1, x, (size_t)len, (cnn_activation)act);
        cnn__act_backward(db1, x, x, y1, (size_t)out, (cnn_activation)act);
        cnn_set_threads(4);
        cnn__act_forward(y2, x, (size_t)len, (cnn_activation)act);
        cnn__act_backward(db2, x, x, y2, (size_t)out, (cnn_activation)act);
        CHECK(memcmp(y1, y2, (size_t)len * 4) == 0);
        CHECK(memcmp(db1, db2, (size_t)out * 4) == 0);
    }
    memset(db1, 0, (size_t)out * 4), memset(db2, 0, (size_t)out * 4);
    cnn_set_threads(1);
    cnn__linear_backward(NULL, NULL, db1, x, NULL, NULL, n, 0, out);
    cnn_set_threads(4);
    cnn__linear_backward(NULL, NULL, db2, x, NULL, NULL, n, 0, out);
    CHECK(memcmp(db1, db2, (size_t)out * 4) == 0);
    cnn_set_threads(saved);
    free(x), free(y1), free(y2), free(db1), free(db2);
}

/* ---- 3. finite differences ------------------------------------------------ */

/* L = sum(g * f(x)); checks dL/dx from cnn_activation_grad against central
 * differences in float with step h. */
static void test_fd_activations(void) {
    const int64_t shape[1] = {40};
    for (int act = CNN_ACT_SIGMOID; act <= CNN_ACT_TANH; act++) {
        cnn_tensor x = CNN_TENSOR_EMPTY, g = CNN_TENSOR_EMPTY, dx = CNN_TENSOR_EMPTY;
        CHECK_OK(cnn_tensor_normal(&x, 1, shape, 0, 2, &rng));
        CHECK_OK(cnn_tensor_normal(&g, 1, shape, 0, 1, &rng));
        for (int i = 0; i < 40; i++) /* keep ReLU's kink out of reach of the step */
            if (fabsf(x.data[i]) < 0.05f) x.data[i] = 0.5f;
        CHECK_OK(cnn_activation_grad(&dx, &g, &x, (cnn_activation)act));
        float fd[40];
        for (int i = 0; i < 40; i++) {
            const float h = 1e-2f;
            float xp = x.data[i] + h, xm = x.data[i] - h, yp, ym;
            cnn__act_forward(&yp, &xp, 1, (cnn_activation)act);
            cnn__act_forward(&ym, &xm, 1, (cnn_activation)act);
            fd[i] = g.data[i] * (float)(((double)yp - ym) / ((double)xp - xm));
        }
        CHECK_CLOSE("activation finite differences", dx.data, fd, 40, 1e-2, 1e-3);
        cnn_tensor_free(&x), cnn_tensor_free(&g), cnn_tensor_free(&dx);
    }
}

/* L = sum(g * linear(x)); exact gradients, checked against differences in double. */
static void test_fd_linear(void) {
    enum { N = 3, IN = 5, OUT = 4 };
    float x[N * IN], w[OUT * IN], b[OUT], g[N * OUT], y[N * OUT];
    float dx[N * IN], dw[OUT * IN] = {0}, db[OUT] = {0};
    fill(x, N * IN, 1), fill(w, OUT * IN, 1), fill(b, OUT, 1), fill(g, N * OUT, 1);
    cnn__linear_backward(dx, dw, db, g, x, w, N, IN, OUT);
    float *params[3] = {x, w, b}, *grads[3] = {dx, dw, db};
    int counts[3] = {N * IN, OUT * IN, OUT};
    for (int p = 0; p < 3; p++) {
        float fd[N * IN > OUT * IN ? N * IN : OUT * IN];
        for (int i = 0; i < counts[p]; i++) {
            double l[2];
            float keep = params[p][i];
            for (int s = 0; s < 2; s++) {
                params[p][i] = keep + (s ? -0.25f : 0.25f);
                cnn__linear_forward_ref(y, x, w, b, N, IN, OUT);
                l[s] = 0;
                for (int k = 0; k < N * OUT; k++) l[s] += (double)g[k] * y[k];
            }
            params[p][i] = keep;
            fd[i] = (float)((l[0] - l[1]) / 0.5);
        }
        CHECK_CLOSE("linear finite differences", grads[p], fd, (size_t)counts[p], 1e-3, 1e-4);
    }
}

static void test_fd_losses(void) {
    const int64_t shape[2] = {4, 6};
    cnn_tensor z = CNN_TENSOR_EMPTY, t = CNN_TENSOR_EMPTY, dz = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_normal(&z, 2, shape, 0, 2, &rng));
    CHECK_OK(cnn_tensor_normal(&t, 2, shape, 0, 1, &rng));
    const int32_t y[4] = {5, 0, 2, 2};
    float fd[24], l0;
    for (int kind = 0; kind < 3; kind++) {
        int (*sq)(float *, cnn_tensor *, const cnn_tensor *, const cnn_tensor *) =
            kind == 1 ? cnn_mse_loss : cnn_sse_loss;
        if (kind == 0) CHECK_OK(cnn_cross_entropy(&l0, &dz, &z, y));
        else CHECK_OK(sq(&l0, &dz, &z, &t));
        for (int i = 0; i < 24; i++) {
            float keep = z.data[i], lp, lm;
            const float h = 1e-2f;
            z.data[i] = keep + h;
            if (kind == 0) CHECK_OK(cnn_cross_entropy(&lp, NULL, &z, y));
            else CHECK_OK(sq(&lp, NULL, &z, &t));
            z.data[i] = keep - h;
            if (kind == 0) CHECK_OK(cnn_cross_entropy(&lm, NULL, &z, y));
            else CHECK_OK(sq(&lm, NULL, &z, &t));
            z.data[i] = keep;
            fd[i] = (float)(((double)lp - lm) / (2.0 * h));
        }
        CHECK_CLOSE(kind == 0 ? "cross-entropy finite differences"
                    : kind == 1 ? "mse finite differences" : "sse finite differences",
                    dz.data, fd, 24, 1e-2, 2e-3);
        cnn_tensor_free(&dz);
    }
    cnn_tensor_free(&z), cnn_tensor_free(&t);
}

/* ---- 4. sigmoid accuracy -------------------------------------------------- */

static void test_sigmoid_accuracy(void) {
    /* Outputs stay above FLT_MIN for x > -87, so the relative error is meaningful. */
    enum { M = 3481 };
    static float x[M], y[M], want[M];
    for (int i = 0; i < M; i++) {
        x[i] = -87.0f + 0.05f * (float)i; /* -87 .. 87 */
        want[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
    }
    cnn__act_forward(y, x, M, CNN_ACT_SIGMOID);
    CHECK_CLOSE("sigmoid vs double", y, want, M, 1e-6, 0);
    /* Extremes: exact limits, nothing overflows to NaN. */
    const float ext[6] = {-INFINITY, -1e30f, -1e4f, 1e4f, 1e30f, INFINITY};
    float ey[6], edx[6], ones[6] = {1, 1, 1, 1, 1, 1};
    cnn__act_forward(ey, ext, 6, CNN_ACT_SIGMOID);
    for (int i = 0; i < 6; i++) CHECK(ey[i] == (i < 3 ? 0.0f : 1.0f));
    cnn__act_backward(edx, ones, ext, NULL, 6, CNN_ACT_SIGMOID);
    for (int i = 0; i < 6; i++) CHECK(edx[i] == 0.0f);
    cnn__act_forward(ey, ext, 6, CNN_ACT_TANH);
    for (int i = 0; i < 6; i++) CHECK(ey[i] == (i < 3 ? -1.0f : 1.0f));
    /* ReLU: the gradient at 0 is 0; at a positive input it passes dy through. */
    const float rx[3] = {-0.0f, 0.0f, 1e-30f};
    float rdx[3];
    cnn__act_backward(rdx, ones, rx, NULL, 3, CNN_ACT_RELU);
    CHECK(rdx[0] == 0.0f && rdx[1] == 0.0f && rdx[2] == 1.0f);
}

/* ---- 5. errors and small rules -------------------------------------------- */

static void test_cross_entropy_errors(void) {
    const int64_t shape[2] = {3, 4};
    cnn_tensor z = CNN_TENSOR_EMPTY, dz = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_zeros(&z, 2, shape));
    float loss;
    const int32_t bad_hi[3] = {0, 3, 4}, bad_lo[3] = {-1, 0, 0}, good[3] = {0, 1, 3};
    CHECK_STATUS(cnn_cross_entropy(&loss, &dz, &z, bad_hi), CNN_ERANGE);
    CHECK(strstr(cnn_last_error(), "labels[2]") && strstr(cnn_last_error(), "4"));
    CHECK(dz.ndim == 0 && dz.data == NULL);
    CHECK_STATUS(cnn_cross_entropy(&loss, NULL, &z, bad_lo), CNN_ERANGE);
    CHECK(strstr(cnn_last_error(), "labels[0]") && strstr(cnn_last_error(), "-1"));
    CHECK_STATUS(cnn_cross_entropy(&loss, NULL, &z, NULL), CNN_EINVAL);
    CHECK_STATUS(cnn_cross_entropy(NULL, NULL, &z, good), CNN_EINVAL);
    CHECK_STATUS(cnn_cross_entropy(&loss, NULL, NULL, good), CNN_EINVAL);
    int64_t count;
    CHECK_STATUS(cnn_count_correct(&count, &z, bad_hi), CNN_ERANGE);
    /* Uniform logits: loss = log(C), gradient (1/C - onehot)/N. */
    CHECK_OK(cnn_cross_entropy(&loss, &dz, &z, good));
    CHECK(fabsf(loss - logf(4.0f)) < 1e-6f);
    CHECK(fabsf(dz.data[0] - (0.25f - 1.0f) / 3.0f) < 1e-7f && fabsf(dz.data[1] - 0.25f / 3.0f) < 1e-7f);
    cnn_tensor_free(&dz);
    /* 4-D logits are refused. */
    const int64_t s4[4] = {1, 3, 1, 4};
    cnn_tensor z4 = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_zeros(&z4, 4, s4));
    CHECK_STATUS(cnn_cross_entropy(&loss, NULL, &z4, good), CNN_ESHAPE);
    cnn_tensor_free(&z4);
    /* One example as 1-D logits (C), as PyTorch allows. */
    const int64_t s1[1] = {4};
    cnn_tensor z1 = CNN_TENSOR_EMPTY;
    const float v[4] = {1, 2, 3, 4};
    CHECK_OK(cnn_tensor_from_data(&z1, 1, s1, v));
    CHECK_OK(cnn_cross_entropy(&loss, &dz, &z1, good + 2));
    CHECK(fabsf(loss - 0.44018970f) < 1e-6f);
    CHECK(dz.ndim == 1 && dz.shape[0] == 4);
    cnn_tensor_free(&dz), cnn_tensor_free(&z1);
    /* Empty batch: NaN, as torch's mean over nothing. */
    const int64_t s0[2] = {0, 4};
    cnn_tensor e = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_zeros(&e, 2, s0));
    CHECK_OK(cnn_cross_entropy(&loss, &dz, &e, NULL));
    CHECK(isnan(loss) && dz.ndim == 2 && dz.shape[0] == 0);
    cnn_tensor_free(&dz), cnn_tensor_free(&e), cnn_tensor_free(&z);
}

static void test_count_correct(void) {
    /* Ties: the first maximum wins; a NaN counts as the maximum (torch.argmax). */
    const float v[12] = {1, 3, 3, 0, /**/ 2, 2, 2, 2, /**/ 0, NAN, 5, 1};
    const int64_t shape[2] = {3, 4};
    cnn_tensor z = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_from_data(&z, 2, shape, v));
    int64_t c = -1;
    const int32_t y1[3] = {1, 0, 1}, y2[3] = {2, 3, 2};
    CHECK_OK(cnn_count_correct(&c, &z, y1));
    CHECK_INT_EQ(c, 3);
    CHECK_OK(cnn_count_correct(&c, &z, y2));
    CHECK_INT_EQ(c, 0);
    CHECK_STATUS(cnn_count_correct(NULL, &z, y1), CNN_EINVAL);
    cnn_tensor_free(&z);
}

static void test_linear_errors(void) {
    const int64_t sx[2] = {2, 3}, sw[2] = {4, 3}, sw_bad[2] = {4, 5}, sb_bad[1] = {3},
                  sd_bad[2] = {2, 5}, sw3[3] = {4, 3, 1};
    cnn_tensor x = CNN_TENSOR_EMPTY, w = CNN_TENSOR_EMPTY, wb = CNN_TENSOR_EMPTY,
               bb = CNN_TENSOR_EMPTY, db = CNN_TENSOR_EMPTY, w3 = CNN_TENSOR_EMPTY,
               y = CNN_TENSOR_EMPTY, g = CNN_TENSOR_EMPTY, empty = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_ones(&x, 2, sx));
    CHECK_OK(cnn_tensor_ones(&w, 2, sw));
    CHECK_OK(cnn_tensor_ones(&wb, 2, sw_bad));
    CHECK_OK(cnn_tensor_ones(&bb, 1, sb_bad));
    CHECK_OK(cnn_tensor_ones(&db, 2, sd_bad));
    CHECK_OK(cnn_tensor_ones(&w3, 3, sw3));
    CHECK_STATUS(cnn_linear(&y, &x, &wb, NULL), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "in_features") != NULL);
    CHECK(y.ndim == 0);
    CHECK_STATUS(cnn_linear(&y, &x, &w, &bb), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "bias") != NULL);
    CHECK_STATUS(cnn_linear(&y, &x, &w3, NULL), CNN_ESHAPE);
    CHECK_STATUS(cnn_linear(&y, &empty, &w, NULL), CNN_EINVAL);
    CHECK_STATUS(cnn_linear(&y, NULL, &w, NULL), CNN_EINVAL);
    CHECK_STATUS(cnn_linear(NULL, &x, &w, NULL), CNN_EINVAL);
    /* An empty bias means none; x @ ones(4, 3)^T = 3 everywhere. */
    CHECK_OK(cnn_linear(&y, &x, &w, &empty));
    CHECK(y.ndim == 2 && y.shape[0] == 2 && y.shape[1] == 4 && y.data[7] == 3.0f);
    CHECK_STATUS(cnn_linear_grad(&g, NULL, NULL, &db, &x, &w), CNN_ESHAPE);
    CHECK(g.ndim == 0);
    CHECK_OK(cnn_linear_grad(NULL, &g, NULL, &y, &x, &w));
    CHECK(g.ndim == 2 && g.shape[0] == 4 && g.shape[1] == 3 && g.data[0] == 6.0f);
    cnn_tensor_free(&g);
    /* A (1-D) single example gives a 1-D output. */
    const int64_t s1[1] = {3};
    cnn_tensor x1 = CNN_TENSOR_EMPTY, y1 = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_ones(&x1, 1, s1));
    CHECK_OK(cnn_linear(&y1, &x1, &w, NULL));
    CHECK(y1.ndim == 1 && y1.shape[0] == 4 && y1.data[3] == 3.0f);
    cnn_tensor_free(&x1), cnn_tensor_free(&y1);
    cnn_tensor_free(&x), cnn_tensor_free(&w), cnn_tensor_free(&wb), cnn_tensor_free(&bb);
    cnn_tensor_free(&db), cnn_tensor_free(&w3), cnn_tensor_free(&y);
}

static void test_activation_and_mse_errors(void) {
    const int64_t s[2] = {2, 3}, s2[2] = {3, 2};
    cnn_tensor a = CNN_TENSOR_EMPTY, b = CNN_TENSOR_EMPTY, out = CNN_TENSOR_EMPTY,
               empty = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_ones(&a, 2, s));
    CHECK_OK(cnn_tensor_ones(&b, 2, s2));
    CHECK_STATUS(cnn_activation_forward(&out, &a, (cnn_activation)7), CNN_EINVAL);
    CHECK_STATUS(cnn_activation_forward(&out, &empty, CNN_ACT_RELU), CNN_EINVAL);
    CHECK_STATUS(cnn_activation_forward(NULL, &a, CNN_ACT_RELU), CNN_EINVAL);
    CHECK_STATUS(cnn_activation_grad(&out, &b, &a, CNN_ACT_RELU), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "dout") != NULL);
    float loss;
    CHECK_STATUS(cnn_mse_loss(&loss, &out, &a, &b), CNN_ESHAPE);
    CHECK(out.ndim == 0);
    CHECK_STATUS(cnn_sse_loss(NULL, NULL, &a, &a), CNN_EINVAL);
    CHECK_OK(cnn_mse_loss(&loss, NULL, &a, &a));
    CHECK(loss == 0.0f);
    /* A tensor whose data is NULL is refused, not dereferenced. */
    cnn_tensor broken = a;
    broken.data = NULL;
    CHECK_STATUS(cnn_activation_forward(&out, &broken, CNN_ACT_TANH), CNN_EINVAL);
    cnn_tensor_free(&a), cnn_tensor_free(&b);
}

static void check_flatten(int ndim, const int64_t *shape, int start, int end, int want_ndim,
                          const int64_t *want) {
    int64_t got[CNN_MAX_DIMS] = {-1, -1, -1, -1};
    int got_ndim = -1;
    CHECK_OK(cnn_flatten_shape(got, &got_ndim, ndim, shape, start, end));
    CHECK_INT_EQ(got_ndim, want_ndim);
    for (int d = 0; d < want_ndim && got_ndim == want_ndim; d++) CHECK_INT_EQ(got[d], want[d]);
}

static void test_flatten(void) {
    const int64_t s4[4] = {2, 16, 5, 5}, s2[2] = {7, 3}, s1[1] = {9}, sz[4] = {2, 0, 3, 4};
    check_flatten(4, s4, 1, -1, 2, (const int64_t[]){2, 400}); /* nn.Flatten() */
    check_flatten(4, s4, 0, -1, 1, (const int64_t[]){800});
    check_flatten(4, s4, -3, -2, 3, (const int64_t[]){2, 80, 5});
    check_flatten(4, s4, 2, 2, 4, s4);                          /* start == end: unchanged */
    check_flatten(4, s4, -4, 0, 4, s4);
    check_flatten(2, s2, 1, -1, 2, s2);
    check_flatten(1, s1, 0, -1, 1, s1);
    check_flatten(1, s1, -1, 0, 1, s1);
    check_flatten(4, sz, 1, -1, 2, (const int64_t[]){2, 0});
    int64_t out[4];
    int n;
    CHECK_STATUS(cnn_flatten_shape(out, &n, 1, s1, 1, -1), CNN_ERANGE); /* nn.Flatten() on 1-D */
    CHECK(strstr(cnn_last_error(), "start_dim 1") && strstr(cnn_last_error(), "[-1, 0]"));
    CHECK_STATUS(cnn_flatten_shape(out, &n, 4, s4, 0, 4), CNN_ERANGE);
    CHECK_STATUS(cnn_flatten_shape(out, &n, 4, s4, -5, -1), CNN_ERANGE);
    CHECK_STATUS(cnn_flatten_shape(out, &n, 4, s4, 2, 1), CNN_EINVAL);
    CHECK_STATUS(cnn_flatten_shape(out, &n, 4, s4, -1, -2), CNN_EINVAL);
    CHECK_STATUS(cnn_flatten_shape(out, &n, 0, s4, 0, 0), CNN_EINVAL);
    CHECK_STATUS(cnn_flatten_shape(out, &n, 5, s4, 0, 0), CNN_EINVAL);
    CHECK_STATUS(cnn_flatten_shape(NULL, &n, 4, s4, 1, -1), CNN_EINVAL);
    CHECK_STATUS(cnn_flatten_shape(out, &n, 4, NULL, 1, -1), CNN_EINVAL);
    const int64_t neg[2] = {2, -3};
    CHECK_STATUS(cnn_flatten_shape(out, &n, 2, neg, 0, -1), CNN_EINVAL);
}

int main(void) {
    cnn_rng_seed(&rng, 42);
    test_fixtures();
    test_linear_ref_vs_fast();
    test_thread_independence();
    test_fd_activations();
    test_fd_linear();
    test_fd_losses();
    test_sigmoid_accuracy();
    test_cross_entropy_errors();
    test_count_correct();
    test_linear_errors();
    test_activation_and_mse_errors();
    test_flatten();
    return test_report();
}
