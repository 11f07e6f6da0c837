/* test_pool2d.c — MaxPool2d and AvgPool2d forward and backward.
 *
 *   1. PyTorch fixtures (tests/fixtures/pool2d.txt): tensor functions,
 *      reference and fast kernels reproduce out and dx (ceil_mode with the
 *      dropped last window, count_include_pad both ways, divisor_override,
 *      dilation, ties, NaN and -inf inputs).
 *   2. Reference vs fast kernels on random odd shapes; max pooling matches
 *      bit for bit and results do not depend on the thread count.
 *   3. The reference backward against central differences of
 *      L = sum(out * dout) computed in double.
 *   4. Argument errors return the right status with a message.
 */
#include "cnn_internal.h"
#include "fixture.h"
#include "ops/ops.h"
#include "test_util.h"

#include <string.h>

static double atol_for(const cnn_tensor *want) {
    double m = 0;
    for (int64_t i = 0; i < cnn_tensor_numel(want); i++)
        if (isfinite(want->data[i]) && fabs(want->data[i]) > m) m = fabs(want->data[i]);
    return 1e-6 + 2e-6 * m;
}
/* Compares like CHECK_CLOSE, except that equal infinities (max pooling of an
 * all -inf window) count as equal. */
static int close_inf(const char *what, const float *got, const float *want, size_t n, double rtol,
                     double atol, const char *file, int line) {
    float *g = malloc((n ? n : 1) * sizeof(float)), *w = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        int same_inf = isinf(got[i]) && got[i] == want[i];
        g[i] = same_inf ? 0.0f : got[i];
        w[i] = same_inf ? 0.0f : want[i];
    }
    int ok = test_close(what, g, w, n, rtol, atol, file, line);
    free(g);
    free(w);
    return ok;
}
#define CHECK_TENSOR(what, got, want)                                                       \
    do {                                                                                     \
        CHECK(cnn_tensor_numel(got) == cnn_tensor_numel(want));                              \
        if (cnn_tensor_numel(got) == cnn_tensor_numel(want))                                 \
            close_inf(what, (got)->data, (want)->data, (size_t)cnn_tensor_numel(want), 1e-5, \
                      atol_for(want), __FILE__, __LINE__);                                   \
    } while (0)

static cnn_pool2d_desc desc_from_case(const fixture_case *c) {
    const char *kind = fixture_str(c, "kind");
    cnn_pool2d_desc d = cnn_pool2d_desc_make(
        kind && strcmp(kind, "avg") == 0 ? CNN_POOL_AVG : CNN_POOL_MAX,
        (int)fixture_int(c, "kernel_h", 0), (int)fixture_int(c, "kernel_w", 0));
    d.stride[0] = (int)fixture_int(c, "stride_h", d.stride[0]);
    d.stride[1] = (int)fixture_int(c, "stride_w", d.stride[1]);
    d.padding[0] = (int)fixture_int(c, "pad_h", 0);
    d.padding[1] = (int)fixture_int(c, "pad_w", 0);
    d.dilation[0] = (int)fixture_int(c, "dilation_h", 1);
    d.dilation[1] = (int)fixture_int(c, "dilation_w", 1);
    d.ceil_mode = (int)fixture_int(c, "ceil_mode", 0);
    d.count_include_pad = (int)fixture_int(c, "count_include_pad", 1);
    d.divisor_override = (int)fixture_int(c, "divisor_override", 0);
    return d;
}

static void check_case(const fixture_case *c) {
    const cnn_tensor *x = fixture_tensor(c, "x"), *out = fixture_tensor(c, "out"),
                     *dout = fixture_tensor(c, "dout"), *dx = fixture_tensor(c, "dx");
    CHECK(x && out && dout && dx);
    if (!(x && out && dout && dx)) return;
    cnn_pool2d_desc d = desc_from_case(c);
    char what[200];
    cnn_tensor y = CNN_TENSOR_EMPTY, gx = CNN_TENSOR_EMPTY;
    int64_t oshape[4];
    int64_t in[4] = {1, 0, 0, 0};
    for (int k = 0; k < x->ndim; k++) in[4 - x->ndim + k] = x->shape[k];
    CHECK_OK(cnn_pool2d_output_shape(oshape, &d, in));
    CHECK_INT_EQ(oshape[2], out->shape[out->ndim - 2]);
    CHECK_INT_EQ(oshape[3], out->shape[out->ndim - 1]);

    CHECK_OK(cnn_pool2d(&y, x, &d));
    CHECK(y.ndim == out->ndim);
    snprintf(what, sizeof what, "%s: cnn_pool2d out", c->name);
    CHECK_TENSOR(what, &y, out);
    CHECK_OK(cnn_pool2d_grad(&gx, dout, x, &d));
    snprintf(what, sizeof what, "%s: cnn_pool2d_grad dx", c->name);
    CHECK_TENSOR(what, &gx, dx);
    if (y.ndim == 0 || gx.ndim == 0) return;

    cnn__pool_geom g;
    CHECK_OK(cnn__pool_geom_make(&g, &d, in));
    for (int fast = 0; fast < 2; fast++) {
        const char *kind = fast ? "fast" : "ref";
        memset(y.data, 0, sizeof(float) * (size_t)cnn_tensor_numel(&y));
        memset(gx.data, 0x7f, sizeof(float) * (size_t)cnn_tensor_numel(&gx)); /* overwritten */
        if (fast) {
            cnn__pool2d_forward(y.data, x->data, &g);
            cnn__pool2d_backward(gx.data, dout->data, x->data, &g);
        } else {
            cnn__pool2d_forward_ref(y.data, x->data, &g);
            cnn__pool2d_backward_ref(gx.data, dout->data, x->data, &g);
        }
        snprintf(what, sizeof what, "%s: %s forward", c->name, kind);
        CHECK_TENSOR(what, &y, out);
        snprintf(what, sizeof what, "%s: %s dx", c->name, kind);
        CHECK_TENSOR(what, &gx, dx);
    }
    cnn_tensor_free(&y);
    cnn_tensor_free(&gx);
}

static void test_fixtures(void) {
    fixture_case *cs;
    int n = fixture_load(CNN_FIXTURES_DIR "/pool2d.txt", &cs);
    CHECK(n >= 30);
    for (int i = 0; i < n; i++) check_case(&cs[i]);
    if (n > 0) fixture_free(cs, n);
}

/* ---- reference vs fast ------------------------------------------------- */

static float *random_buf(cnn_rng *rng, size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = cnn_rng_uniform(rng) * 2.0f - 1.0f;
    return p;
}

static void ref_vs_fast(const cnn_pool2d_desc *d, const int64_t in[4], cnn_rng *rng) {
    cnn__pool_geom g;
    int rc = cnn__pool_geom_make(&g, d, in);
    CHECK_OK(rc);
    if (rc) return;
    size_t nx = (size_t)(g.n * g.c * g.h * g.w), ny = (size_t)(g.n * g.c * g.oh * g.ow);
    float *x = random_buf(rng, nx), *dy = random_buf(rng, ny);
    /* A few repeated values so that ties occur. */
    for (size_t i = 0; i < nx; i += 3) x[i] = (float)(int)(x[i] * 2.0f);
    float *y[3], *dx[3];
    for (int k = 0; k < 3; k++) {
        y[k] = calloc(ny, sizeof(float));
        dx[k] = calloc(nx, sizeof(float));
    }
    cnn__pool2d_forward_ref(y[0], x, &g);
    cnn__pool2d_backward_ref(dx[0], dy, x, &g);
    for (int k = 1; k < 3; k++) {
        cnn_set_threads(k);
        cnn__pool2d_forward(y[k], x, &g);
        cnn__pool2d_backward(dx[k], dy, x, &g);
    }
    cnn_set_threads(0);
    char what[256];
    snprintf(what, sizeof what,
             "%s ref vs fast [%lld,%lld,%lld,%lld] k=(%d,%d) s=(%d,%d) p=(%d,%d) d=(%d,%d) "
             "ceil=%d cip=%d div=%d",
             g.kind == CNN_POOL_MAX ? "max" : "avg", (long long)in[0], (long long)in[1],
             (long long)in[2], (long long)in[3], g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw,
             d->ceil_mode, g.count_include_pad, g.divisor_override);
    if (g.kind == CNN_POOL_MAX) {
        CHECK(memcmp(y[0], y[1], ny * sizeof(float)) == 0);
        CHECK(memcmp(dx[0], dx[1], nx * sizeof(float)) == 0);
    }
    close_inf(what, y[1], y[0], ny, 1e-5, 1e-6, __FILE__, __LINE__);
    CHECK_CLOSE(what, dx[1], dx[0], nx, 1e-5, 1e-6);
    CHECK(memcmp(y[1], y[2], ny * sizeof(float)) == 0);
    CHECK(memcmp(dx[1], dx[2], nx * sizeof(float)) == 0);
    for (int k = 0; k < 3; k++) {
        free(y[k]);
        free(dx[k]);
    }
    free(x);
    free(dy);
}

static void test_ref_vs_fast(void) {
    cnn_rng rng;
    cnn_rng_seed(&rng, 3);
    int tried = 0;
    for (int t = 0; t < 120; t++) {
        cnn_pool_kind kind = (t & 1) ? CNN_POOL_AVG : CNN_POOL_MAX;
        int kh = 1 + (int)cnn_rng_below(&rng, 4), kw = 1 + (int)cnn_rng_below(&rng, 4);
        cnn_pool2d_desc d = cnn_pool2d_desc_make(kind, kh, kw);
        d.stride[0] = 1 + (int)cnn_rng_below(&rng, 3);
        d.stride[1] = 1 + (int)cnn_rng_below(&rng, 3);
        d.padding[0] = (int)cnn_rng_below(&rng, (uint64_t)(kh / 2 + 1));
        d.padding[1] = (int)cnn_rng_below(&rng, (uint64_t)(kw / 2 + 1));
        d.ceil_mode = (int)cnn_rng_below(&rng, 2);
        if (kind == CNN_POOL_MAX) {
            d.dilation[0] = 1 + (int)cnn_rng_below(&rng, 2);
            d.dilation[1] = 1 + (int)cnn_rng_below(&rng, 3);
        } else {
            d.count_include_pad = (int)cnn_rng_below(&rng, 2);
            if (cnn_rng_below(&rng, 4) == 0) d.divisor_override = 1 + (int)cnn_rng_below(&rng, 7);
        }
        int64_t in[4] = {1 + (int64_t)cnn_rng_below(&rng, 3), 1 + (int64_t)cnn_rng_below(&rng, 3),
                         1 + (int64_t)cnn_rng_below(&rng, 11), 1 + (int64_t)cnn_rng_below(&rng, 13)};
        int64_t out[4];
        if (cnn_pool2d_output_shape(out, &d, in) != CNN_OK) continue;
        ref_vs_fast(&d, in, &rng);
        tried++;
    }
    CHECK(tried >= 60);
    /* Many planes, so that the OpenMP loop splits them. */
    cnn_pool2d_desc d = cnn_pool2d_desc_make(CNN_POOL_MAX, 3, 3);
    d.stride[0] = d.stride[1] = 2;
    d.padding[0] = d.padding[1] = 1;
    int64_t in[4] = {17, 5, 28, 28};
    ref_vs_fast(&d, in, &rng);
    d.kind = CNN_POOL_AVG;
    d.ceil_mode = 1;
    ref_vs_fast(&d, in, &rng);
    /* LeNet's AvgPool2d(2, 2) fast path: planes of even and of odd size */
    cnn_pool2d_desc a = cnn_pool2d_desc_make(CNN_POOL_AVG, 2, 2);
    int64_t even[4] = {5, 6, 28, 28}, odd[4] = {3, 2, 9, 7};
    ref_vs_fast(&a, even, &rng);
    ref_vs_fast(&a, odd, &rng);
    /* MaxPool2d(2) fast path: 8 windows at a time and the rest one by one
     * (widths 28 and 34: 14 and 17 windows), odd planes (a last row and
     * column in no window), ties */
    cnn_pool2d_desc mx = cnn_pool2d_desc_make(CNN_POOL_MAX, 2, 2);
    int64_t wide[4] = {3, 4, 12, 34}, small[4] = {2, 3, 5, 3};
    ref_vs_fast(&mx, even, &rng);
    ref_vs_fast(&mx, odd, &rng);
    ref_vs_fast(&mx, wide, &rng);
    ref_vs_fast(&mx, small, &rng);
}

/* MaxPool2d(2)'s fast path with NaN (two of them in a window: the last
 * wins), -inf and equal values in every position of the window: the same
 * bits as the reference, forward and backward. */
static void test_max2x2_special(void) {
    cnn_pool2d_desc d = cnn_pool2d_desc_make(CNN_POOL_MAX, 2, 2);
    int64_t in[4] = {1, 2, 4, 32};
    cnn__pool_geom g;
    CHECK_OK(cnn__pool_geom_make(&g, &d, in));
    size_t nx = (size_t)(2 * 4 * 32), ny = nx / 4;
    float x[256], dy[64], y[2][64], dx[2][256];
    const float nan1 = nanf("1"), nan2 = nanf("2"), vals[6] = {1.0f, -INFINITY, 0.5f, 1.0f, -0.0f, 0.0f};
    for (size_t i = 0; i < nx; i++) x[i] = vals[(i * 7 + i / 32) % 6];
    for (size_t i = 0; i < ny; i++) dy[i] = (float)i - 20.0f;
    dy[3] = -0.0f;
    /* NaN at each of the four positions of some windows; two in one */
    x[2] = nan1, x[32 + 5] = nan1, x[64 + 8] = nan2, x[96 + 11] = nan1, x[128 + 20] = nan1, x[160 + 20] = nan2;
    for (int j = 0; j < 4; j++) x[192 + 2 * j] = x[192 + 2 * j + 1] = x[224 + 2 * j] = x[224 + 2 * j + 1] = -INFINITY;
    cnn__pool2d_forward_ref(y[0], x, &g);
    cnn__pool2d_backward_ref(dx[0], dy, x, &g);
    cnn__pool2d_forward(y[1], x, &g);
    cnn__pool2d_backward(dx[1], dy, x, &g);
    for (size_t i = 0; i < ny; i++) {
        uint32_t a, b;
        memcpy(&a, &y[0][i], 4), memcpy(&b, &y[1][i], 4);
        if (a != b) {
            fprintf(stderr, "max2x2 forward [%zu]: expected %g (0x%08x), got %g (0x%08x)\n", i, (double)y[0][i], a,
                    (double)y[1][i], b);
            CHECK(0);
        }
    }
    for (size_t i = 0; i < nx; i++) {
        uint32_t a, b;
        memcpy(&a, &dx[0][i], 4), memcpy(&b, &dx[1][i], 4);
        if (a != b) {
            fprintf(stderr, "max2x2 backward [%zu]: expected %g (0x%08x), got %g (0x%08x)\n", i, (double)dx[0][i],
                    a, (double)dx[1][i], b);
            CHECK(0);
        }
    }
}

/* ---- numerical gradient ------------------------------------------------ */

/* L = sum(out * dout) in double from the definition (own loop). */
static double loss_double(const double *x, const double *dy, const cnn__pool_geom *g) {
    double loss = 0;
    for (int64_t p = 0; p < g->n * g->c; p++)
        for (int64_t i = 0; i < g->oh; i++)
            for (int64_t j = 0; j < g->ow; j++) {
                double m = -INFINITY, sum = 0;
                int64_t inside = 0;
                for (int a = 0; a < g->kh; a++)
                    for (int e = 0; e < g->kw; e++) {
                        int64_t ih = i * g->sh - g->ph + a * g->dh, iw = j * g->sw - g->pw + e * g->dw;
                        if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
                        double v = x[(p * g->h + ih) * g->w + iw];
                        if (v > m) m = v;
                        sum += v;
                        inside++;
                    }
                double v;
                if (g->kind == CNN_POOL_MAX) {
                    v = m;
                } else {
                    /* The divisor, from PyTorch's rule written out differently. */
                    int64_t h0 = i * g->sh - g->ph, w0 = j * g->sw - g->pw;
                    int64_t rows = 0, cols = 0;
                    for (int64_t r = h0; r < h0 + g->kh; r++) rows += r < g->h + g->ph;
                    for (int64_t s = w0; s < w0 + g->kw; s++) cols += s < g->w + g->pw;
                    int64_t div = g->divisor_override ? g->divisor_override
                                  : g->count_include_pad ? rows * cols : inside;
                    v = sum / (double)div;
                }
                loss += v * dy[(p * g->oh + i) * g->ow + j];
            }
    return loss;
}

static void gradcheck(const cnn_pool2d_desc *d, const int64_t in[4], cnn_rng *rng) {
    cnn__pool_geom g;
    CHECK_OK(cnn__pool_geom_make(&g, d, in));
    size_t nx = (size_t)(g.n * g.c * g.h * g.w), ny = (size_t)(g.n * g.c * g.oh * g.ow);
    float *x = malloc(nx * sizeof(float)), *dy = random_buf(rng, ny), *dx = malloc(nx * sizeof(float));
    /* Distinct values at least 1e-2 apart, so no eps step changes an argmax. */
    for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 7919) % nx) * 0.01f - 0.3f;
    cnn__pool2d_backward_ref(dx, dy, x, &g);
    double *xd = malloc(nx * sizeof(double)), *dyd = malloc(ny * sizeof(double));
    float *num = malloc(nx * sizeof(float));
    for (size_t i = 0; i < nx; i++) xd[i] = x[i];
    for (size_t i = 0; i < ny; i++) dyd[i] = dy[i];
    const double eps = 1e-3;
    for (size_t i = 0; i < nx; i++) {
        double keep = xd[i];
        xd[i] = keep + eps;
        double hi = loss_double(xd, dyd, &g);
        xd[i] = keep - eps;
        double lo = loss_double(xd, dyd, &g);
        xd[i] = keep;
        num[i] = (float)((hi - lo) / (2 * eps));
    }
    CHECK_CLOSE(g.kind == CNN_POOL_MAX ? "max gradcheck dx" : "avg gradcheck dx", dx, num, nx,
                1e-4, 1e-5);
    free(x);
    free(dy);
    free(dx);
    free(xd);
    free(dyd);
    free(num);
}

static void test_gradcheck(void) {
    cnn_rng rng;
    cnn_rng_seed(&rng, 11);
    cnn_pool2d_desc d = cnn_pool2d_desc_make(CNN_POOL_MAX, 3, 2);
    d.stride[0] = 2;
    d.stride[1] = 1;
    d.padding[0] = 1;
    d.dilation[1] = 2;
    d.ceil_mode = 1;
    int64_t in[4] = {2, 2, 7, 6};
    gradcheck(&d, in, &rng);
    d = cnn_pool2d_desc_make(CNN_POOL_AVG, 3, 3);
    d.stride[0] = d.stride[1] = 2;
    d.padding[0] = d.padding[1] = 1;
    d.ceil_mode = 1;
    gradcheck(&d, in, &rng);
    d.count_include_pad = 0;
    gradcheck(&d, in, &rng);
    d.divisor_override = 4;
    gradcheck(&d, in, &rng);
}

/* ---- errors ------------------------------------------------------------ */

static void test_errors(void) {
    int64_t s4[4] = {1, 2, 5, 5}, out[4];
    cnn_pool2d_desc d = cnn_pool2d_desc_make(CNN_POOL_MAX, 3, 3), e;
    CHECK_INT_EQ(d.stride[0], 3); /* stride defaults to the kernel size */
    CHECK_INT_EQ(d.count_include_pad, 1);
    CHECK_OK(cnn_pool2d_output_shape(out, &d, s4));
    CHECK_INT_EQ(out[2], 1);

    /* pad > kernel/2 (PyTorch checks the kernel size, not the dilated one). */
    e = d;
    e.padding[1] = 2;
    CHECK_STATUS(cnn_pool2d_output_shape(out, &e, s4), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "half of kernel size") != NULL);
    e = cnn_pool2d_desc_make(CNN_POOL_MAX, 3, 3);
    e.dilation[0] = 2;
    e.padding[0] = 2;
    CHECK_STATUS(cnn_pool2d_output_shape(out, &e, s4), CNN_EINVAL);
    e = cnn_pool2d_desc_make(CNN_POOL_AVG, 2, 2);
    e.padding[0] = 1; /* 1 <= 2/2 */
    CHECK_OK(cnn_pool2d_output_shape(out, &e, s4));
    e.padding[0] = 2;
    CHECK_STATUS(cnn_pool2d_output_shape(out, &e, s4), CNN_EINVAL);
    /* Stride, kernel, dilation, negative padding. */
    e = d;
    e.stride[0] = 0;
    CHECK_STATUS(cnn_pool2d_output_shape(out, &e, s4), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "stride") != NULL);
    e = d;
    e.kernel_size[1] = 0;
    CHECK_STATUS(cnn_pool2d_output_shape(out, &e, s4), CNN_EINVAL);
    e = d;
    e.dilation[1] = 0;
    CHECK_STATUS(cnn_pool2d_output_shape(out, &e, s4), CNN_EINVAL);
    e = d;
    e.padding[0] = -1;
    CHECK_STATUS(cnn_pool2d_output_shape(out, &e, s4), CNN_EINVAL);
    /* Options of the other kind. */
    e = cnn_pool2d_desc_make(CNN_POOL_AVG, 2, 2);
    e.dilation[0] = 2;
    CHECK_STATUS(cnn_pool2d_output_shape(out, &e, s4), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "dilation") != NULL);
    e = d;
    e.divisor_override = 2;
    CHECK_STATUS(cnn_pool2d_output_shape(out, &e, s4), CNN_EINVAL);
    e = d;
    e.kind = (cnn_pool_kind)5;
    CHECK_STATUS(cnn_pool2d_output_shape(out, &e, s4), CNN_EINVAL);
    /* Kernel larger than the padded input; ceil_mode lets a partial window in. */
    e = cnn_pool2d_desc_make(CNN_POOL_MAX, 6, 2);
    CHECK_STATUS(cnn_pool2d_output_shape(out, &e, s4), CNN_ESHAPE);
    int64_t s2[4] = {1, 1, 2, 2};
    e = cnn_pool2d_desc_make(CNN_POOL_MAX, 3, 3);
    e.stride[0] = e.stride[1] = 2;
    CHECK_STATUS(cnn_pool2d_output_shape(out, &e, s2), CNN_ESHAPE);
    e.ceil_mode = 1;
    CHECK_OK(cnn_pool2d_output_shape(out, &e, s2));
    CHECK_INT_EQ(out[2], 1);
    CHECK_STATUS(cnn_pool2d_output_shape(NULL, &d, s4), CNN_EINVAL);
    CHECK_STATUS(cnn_pool2d_output_shape(out, NULL, s4), CNN_EINVAL);
    CHECK_STATUS(cnn_pool2d_output_shape(out, &d, NULL), CNN_EINVAL);

    /* Tensor functions. */
    cnn_tensor x = CNN_TENSOR_EMPTY, y = CNN_TENSOR_EMPTY, dx = CNN_TENSOR_EMPTY,
               dy = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_ones(&x, 4, s4));
    CHECK_STATUS(cnn_pool2d(NULL, &x, &d), CNN_EINVAL);
    CHECK_STATUS(cnn_pool2d(&y, NULL, &d), CNN_EINVAL);
    CHECK_STATUS(cnn_pool2d(&y, &x, NULL), CNN_EINVAL);
    CHECK(y.ndim == 0);
    e = d;
    e.padding[0] = 2;
    CHECK_STATUS(cnn_pool2d(&y, &x, &e), CNN_EINVAL);
    cnn_tensor x2 = x;
    x2.ndim = 2;
    CHECK_STATUS(cnn_pool2d(&y, &x2, &d), CNN_ESHAPE);
    CHECK_OK(cnn_pool2d(&y, &x, &d));
    int64_t bad[4] = {1, 2, 1, 2};
    CHECK_OK(cnn_tensor_ones(&dy, 4, bad));
    CHECK_STATUS(cnn_pool2d_grad(&dx, &dy, &x, &d), CNN_ESHAPE);
    CHECK(dx.ndim == 0);
    CHECK_STATUS(cnn_pool2d_grad(&dx, NULL, &x, &d), CNN_EINVAL);
    CHECK_STATUS(cnn_pool2d_grad(NULL, &y, &x, &d), CNN_EINVAL);
    CHECK_OK(cnn_pool2d_grad(&dx, &y, &x, &d));
    CHECK(dx.ndim == 4 && dx.shape[3] == 5);
    cnn_tensor_free(&x);
    cnn_tensor_free(&y);
    cnn_tensor_free(&dx);
    cnn_tensor_free(&dy);
}

int main(void) {
    test_fixtures();
    test_ref_vs_fast();
    test_max2x2_special();
    test_gradcheck();
    test_errors();
    return test_report();
}
