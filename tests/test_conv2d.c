/* test_conv2d.c — Conv2d forward and backward.
 *
 *   1. PyTorch fixtures (tests/fixtures/conv2d.txt): the tensor functions, the
 *      reference kernels and the fast kernels all reproduce out, dx, dweight
 *      and dbias.
 *   2. Reference vs fast kernels on random odd shapes (with groups, stride,
 *      dilation, padding, several workspace chunks), and the fast kernels give
 *      bit-identical results with 1 and 2 threads.
 *   3. The reference backward against a numerical gradient of
 *      L = sum(out * dout) computed in double with central differences.
 *   4. Every argument error returns the right status with a message.
 */
#include "cnn_internal.h"
#include "fixture.h"
#include "ops/ops.h"
#include "test_util.h"

#include <string.h>

/* |got - want| <= 1e-5 |want| + atol, atol scaled to the largest |want|. */
static double atol_for(const cnn_tensor *want) {
    double m = 0;
    for (int64_t i = 0; i < cnn_tensor_numel(want); i++)
        if (fabs(want->data[i]) > m) m = fabs(want->data[i]);
    return 1e-6 + 2e-6 * m;
}
#define CHECK_TENSOR(what, got, want)                                                        \
    do {                                                                                      \
        CHECK(cnn_tensor_numel(got) == cnn_tensor_numel(want));                               \
        if (cnn_tensor_numel(got) == cnn_tensor_numel(want))                                  \
            CHECK_CLOSE(what, (got)->data, (want)->data, (size_t)cnn_tensor_numel(want), 1e-5, \
                        atol_for(want));                                                      \
    } while (0)

static cnn_conv2d_desc desc_from_case(const fixture_case *c) {
    cnn_conv2d_desc d = cnn_conv2d_desc_make(
        (int)fixture_int(c, "in_channels", 0), (int)fixture_int(c, "out_channels", 0),
        (int)fixture_int(c, "kernel_h", 0), (int)fixture_int(c, "kernel_w", 0));
    d.stride[0] = (int)fixture_int(c, "stride_h", 1);
    d.stride[1] = (int)fixture_int(c, "stride_w", 1);
    d.dilation[0] = (int)fixture_int(c, "dilation_h", 1);
    d.dilation[1] = (int)fixture_int(c, "dilation_w", 1);
    d.groups = (int)fixture_int(c, "groups", 1);
    d.bias = (int)fixture_int(c, "has_bias", 1);
    const char *pad = fixture_str(c, "padding");
    if (pad && strcmp(pad, "same") == 0) {
        d.padding_kind = CNN_PADDING_SAME;
    } else if (pad && strcmp(pad, "valid") == 0) {
        d.padding_kind = CNN_PADDING_VALID;
    } else {
        d.padding[0] = (int)fixture_int(c, "pad_h", 0);
        d.padding[1] = (int)fixture_int(c, "pad_w", 0);
    }
    return d;
}

/* Runs one fixture case through the tensor API and both kernel families. */
static void check_case(const fixture_case *c) {
    const cnn_tensor *x = fixture_tensor(c, "x"), *w = fixture_tensor(c, "weight"),
                     *b = fixture_tensor(c, "bias"), *out = fixture_tensor(c, "out"),
                     *dout = fixture_tensor(c, "dout"), *dx = fixture_tensor(c, "dx"),
                     *dw = fixture_tensor(c, "dweight"), *db = fixture_tensor(c, "dbias");
    CHECK(x && w && out && dout && dx && dw);
    if (!(x && w && out && dout && dx && dw)) return;
    cnn_conv2d_desc d = desc_from_case(c);
    char what[200];

    /* Tensor API (allocates its own workspace; handles unbatched input). */
    cnn_tensor y = CNN_TENSOR_EMPTY, gx = CNN_TENSOR_EMPTY, gw = CNN_TENSOR_EMPTY,
               gb = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_conv2d(&y, x, w, b, &d));
    CHECK(y.ndim == out->ndim);
    snprintf(what, sizeof what, "%s: cnn_conv2d out", c->name);
    CHECK_TENSOR(what, &y, out);
    if (y.ndim == 0) return;
    CHECK_OK(cnn_conv2d_grad(&gx, &gw, d.bias ? &gb : NULL, dout, x, w, &d));
    snprintf(what, sizeof what, "%s: cnn_conv2d_grad dx", c->name);
    CHECK_TENSOR(what, &gx, dx);
    snprintf(what, sizeof what, "%s: cnn_conv2d_grad dweight", c->name);
    CHECK_TENSOR(what, &gw, dw);
    if (d.bias) {
        snprintf(what, sizeof what, "%s: cnn_conv2d_grad dbias", c->name);
        CHECK_TENSOR(what, &gb, db);
    }
    if (gx.ndim == 0 || gw.ndim == 0 || (d.bias && gb.ndim == 0)) return;

    /* Raw kernels: reference and fast, gradients accumulated into zeros. */
    int64_t in[4] = {1, 0, 0, 0};
    for (int k = 0; k < x->ndim; k++) in[4 - x->ndim + k] = x->shape[k];
    cnn__conv_geom g;
    CHECK_OK(cnn__conv_geom_make(&g, &d, in));
    size_t nws = cnn__conv2d_workspace(&g);
    float *ws = nws ? malloc(nws * sizeof(float)) : NULL;
    for (int fast = 0; fast < 2; fast++) {
        const char *kind = fast ? "fast" : "ref";
        memset(y.data, 0, sizeof(float) * (size_t)cnn_tensor_numel(&y));
        memset(gx.data, 0x7f, sizeof(float) * (size_t)cnn_tensor_numel(&gx)); /* overwritten */
        memset(gw.data, 0, sizeof(float) * (size_t)cnn_tensor_numel(&gw));
        if (d.bias) memset(gb.data, 0, sizeof(float) * (size_t)cnn_tensor_numel(&gb));
        const float *bias = d.bias ? b->data : NULL;
        float *gbias = d.bias ? gb.data : NULL;
        if (fast) {
            cnn__conv2d_forward(y.data, x->data, w->data, bias, &g, ws);
            cnn__conv2d_backward(gx.data, gw.data, gbias, dout->data, x->data, w->data, &g, ws);
        } else {
            cnn__conv2d_forward_ref(y.data, x->data, w->data, bias, &g);
            cnn__conv2d_backward_ref(gx.data, gw.data, gbias, dout->data, x->data, w->data, &g);
        }
        snprintf(what, sizeof what, "%s: %s forward", c->name, kind);
        CHECK_TENSOR(what, &y, out);
        snprintf(what, sizeof what, "%s: %s dx", c->name, kind);
        CHECK_TENSOR(what, &gx, dx);
        snprintf(what, sizeof what, "%s: %s dweight", c->name, kind);
        CHECK_TENSOR(what, &gw, dw);
        if (d.bias) {
            snprintf(what, sizeof what, "%s: %s dbias", c->name, kind);
            CHECK_TENSOR(what, &gb, db);
        }
    }
    free(ws);
    cnn_tensor_free(&y);
    cnn_tensor_free(&gx);
    cnn_tensor_free(&gw);
    cnn_tensor_free(&gb);
}

static void test_fixtures(void) {
    fixture_case *cs;
    int n = fixture_load(CNN_FIXTURES_DIR "/conv2d.txt", &cs);
    CHECK(n >= 30);
    for (int i = 0; i < n; i++) check_case(&cs[i]);
    if (n > 0) fixture_free(cs, n);
}

/* ---- reference vs fast on random shapes -------------------------------- */

static float *random_buf(cnn_rng *rng, size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = cnn_rng_uniform(rng) * 2.0f - 1.0f;
    return p;
}

static int bit_equal(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* Compares ref and fast on one geometry; also fast with 1 vs 2 threads. */
/* atol_sum: tolerance of the weight and bias gradients, sums over the whole
 * batch that the reference accumulates in float. */
static void ref_vs_fast(const cnn_conv2d_desc *d, const int64_t in[4], cnn_rng *rng,
                        double atol_sum) {
    cnn__conv_geom g;
    int rc = cnn__conv_geom_make(&g, d, in);
    CHECK_OK(rc);
    if (rc) return;
    size_t nx = (size_t)(g.n * g.c * g.h * g.w), ny = (size_t)(g.n * g.oc * g.oh * g.ow);
    size_t nw = (size_t)(g.oc * (g.c / g.groups) * g.kh * g.kw), nb = (size_t)g.oc;
    float *x = random_buf(rng, nx), *w = random_buf(rng, nw), *b = random_buf(rng, nb),
          *dy = random_buf(rng, ny);
    float *y[3], *dx[3], *dw[3], *db[3];
    for (int k = 0; k < 3; k++) {
        y[k] = calloc(ny, sizeof(float));
        dx[k] = calloc(nx, sizeof(float));
        dw[k] = calloc(nw, sizeof(float));
        db[k] = calloc(nb, sizeof(float));
    }
    size_t nws = cnn__conv2d_workspace(&g);
    float *ws = nws ? malloc(nws * sizeof(float)) : NULL;
    const float *bias = d->bias ? b : NULL;
    cnn__conv2d_forward_ref(y[0], x, w, bias, &g);
    cnn__conv2d_backward_ref(dx[0], dw[0], d->bias ? db[0] : NULL, dy, x, w, &g);
    for (int k = 1; k < 3; k++) {
        cnn_set_threads(k);
        cnn__conv2d_forward(y[k], x, w, bias, &g, ws);
        cnn__conv2d_backward(dx[k], dw[k], d->bias ? db[k] : NULL, dy, x, w, &g, ws);
    }
    cnn_set_threads(0);
    char what[256];
    snprintf(what, sizeof what,
             "ref vs fast [%lld,%lld,%lld,%lld] oc=%lld k=(%d,%d) s=(%d,%d) d=(%d,%d) p=(%d,%d) "
             "g=%d",
             (long long)in[0], (long long)in[1], (long long)in[2], (long long)in[3],
             (long long)g.oc, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pad_top, g.pad_left, g.groups);
    /* Sums of up to a few hundred products of values in [-1, 1]. */
    CHECK_CLOSE(what, y[1], y[0], ny, 1e-5, 1e-5);
    CHECK_CLOSE(what, dx[1], dx[0], nx, 1e-5, 1e-5);
    CHECK_CLOSE(what, dw[1], dw[0], nw, 1e-5, atol_sum);
    CHECK_CLOSE(what, db[1], db[0], nb, 1e-5, atol_sum);
    CHECK(bit_equal(y[1], y[2], ny));
    CHECK(bit_equal(dx[1], dx[2], nx));
    CHECK(bit_equal(dw[1], dw[2], nw));
    CHECK(bit_equal(db[1], db[2], nb));
    for (int k = 0; k < 3; k++) {
        free(y[k]);
        free(dx[k]);
        free(dw[k]);
        free(db[k]);
    }
    free(x);
    free(w);
    free(b);
    free(dy);
    free(ws);
}

static void test_ref_vs_fast(void) {
    cnn_rng rng;
    cnn_rng_seed(&rng, 42);
    int tried = 0;
    for (int t = 0; t < 60; t++) {
        int groups = 1 + (int)cnn_rng_below(&rng, 3);
        int cin = groups * (1 + (int)cnn_rng_below(&rng, 3));
        int cout = groups * (1 + (int)cnn_rng_below(&rng, 3));
        int kh = 1 + (int)cnn_rng_below(&rng, 4), kw = 1 + (int)cnn_rng_below(&rng, 4);
        cnn_conv2d_desc d = cnn_conv2d_desc_make(cin, cout, kh, kw);
        d.groups = groups;
        d.bias = (int)cnn_rng_below(&rng, 2);
        d.dilation[0] = 1 + (int)cnn_rng_below(&rng, 2);
        d.dilation[1] = 1 + (int)cnn_rng_below(&rng, 3);
        int kind = (int)cnn_rng_below(&rng, 4);
        if (kind == 0) {
            d.padding_kind = CNN_PADDING_SAME;
        } else {
            d.stride[0] = 1 + (int)cnn_rng_below(&rng, 3);
            d.stride[1] = 1 + (int)cnn_rng_below(&rng, 3);
            d.padding[0] = (int)cnn_rng_below(&rng, 3);
            d.padding[1] = (int)cnn_rng_below(&rng, 3);
        }
        if (t % 10 == 0) { /* the pointwise path */
            d = cnn_conv2d_desc_make(cin, cout, 1, 1);
            d.groups = groups;
        }
        int64_t in[4] = {1 + (int64_t)cnn_rng_below(&rng, 4), cin,
                         1 + (int64_t)cnn_rng_below(&rng, 11), 1 + (int64_t)cnn_rng_below(&rng, 13)};
        int64_t out[4];
        if (cnn_conv2d_output_shape(out, &d, in) != CNN_OK) continue; /* kernel does not fit */
        ref_vs_fast(&d, in, &rng, 1e-4);
        tried++;
    }
    CHECK(tried >= 30);

    /* Large enough that the fast kernels process the batch in several chunks. */
    cnn_conv2d_desc d = cnn_conv2d_desc_make(2, 3, 3, 3);
    d.padding[0] = d.padding[1] = 1;
    int64_t in[4] = {65, 2, 64, 64};
    cnn__conv_geom g;
    CHECK_OK(cnn__conv_geom_make(&g, &d, in));
    CHECK(cnn__conv2d_workspace(&g) < (size_t)(in[0] * 2 * 9 * 64 * 64));
    ref_vs_fast(&d, in, &rng, 1e-2); /* dweight sums 65*64*64 products in float */

    /* Stride-1 shapes of the direct kernels: LeNet's two convolutions, and
     * channel counts that leave partial 6-row tiles (7, 13) and many rows.
     * The lanes layout (8 samples a vector; n >= 8 and kw - 1 > OW/4): LeNet's
     * conv2 with a last block of 3 samples, odd widths, padding, partial
     * tiles of input and output channels, exactly one block. */
    static const int direct[][8] = {
        /* n, c, h, w, oc, k, pad, dilation */
        {5, 1, 28, 28, 6, 5, 2, 1},  {5, 6, 14, 14, 16, 5, 0, 1}, {3, 7, 9, 11, 13, 3, 1, 1},
        {2, 13, 6, 5, 7, 3, 2, 2},   {2, 3, 8, 8, 40, 3, 1, 1},   {33, 2, 5, 5, 3, 2, 1, 1},
        {19, 6, 14, 14, 16, 5, 0, 1}, {11, 7, 9, 7, 13, 5, 1, 1}, {9, 3, 6, 5, 5, 3, 2, 1},
        {8, 2, 4, 4, 2, 3, 0, 1},     {40, 1, 7, 7, 6, 5, 2, 1},
        /* one sample large enough that 2 threads cut its output channels
         * into parts: kern_cols (OC % 8 == 0) and kern_rows */
        {1, 32, 28, 28, 32, 3, 1, 1}, {1, 24, 20, 20, 30, 3, 1, 1},
    };
    for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++) {
        const int *t = direct[i];
        cnn_conv2d_desc c = cnn_conv2d_desc_make(t[1], t[4], t[5], t[5]);
        c.padding[0] = c.padding[1] = t[6];
        c.dilation[0] = c.dilation[1] = t[7];
        int64_t cin[4] = {t[0], t[1], t[2], t[3]};
        ref_vs_fast(&c, cin, &rng, 1e-3);
    }

    /* Stride 2 in the lanes layout (input split into 2 x 2 phases): every
     * kernel size 1 to 5, paddings 0 to 2, odd and even sizes (windows that
     * leave the last row or column unread), a last block of fewer than 8
     * samples, channels that leave partial tiles. 1 x 1 ones stay with
     * im2col + GEMM (measured faster). */
    static const int strided[][7] = {
        /* n, c, h, w, oc, k, pad */
        {8, 16, 28, 28, 32, 3, 1}, {19, 3, 9, 11, 13, 3, 1}, {11, 7, 14, 14, 16, 1, 0},
        {9, 5, 10, 7, 6, 2, 0},    {12, 2, 13, 12, 7, 5, 2}, {8, 13, 8, 8, 20, 4, 1},
        {17, 4, 7, 9, 5, 3, 0},    {10, 6, 6, 6, 12, 1, 1},  {16, 32, 14, 14, 64, 3, 1},
    };
    for (size_t i = 0; i < sizeof strided / sizeof strided[0]; i++) {
        const int *t = strided[i];
        cnn_conv2d_desc c = cnn_conv2d_desc_make(t[1], t[4], t[5], t[5]);
        c.padding[0] = c.padding[1] = t[6];
        c.stride[0] = c.stride[1] = 2;
        int64_t cin[4] = {t[0], t[1], t[2], t[3]};
        CHECK_OK(cnn__conv_geom_make(&g, &c, cin));
        int want = cnn_get_isa() != CNN_ISA_GENERIC && t[5] > 1;
        if (cnn__conv2d_direct_ok(&g) != want) {
            fprintf(stderr, "stride-2 shape %zu: direct kernels %d, expected %d\n", i, cnn__conv2d_direct_ok(&g), want);
            CHECK(0);
        }
        ref_vs_fast(&c, cin, &rng, 1e-3);
    }

    /* The pointwise path needs no workspace. */
    cnn_conv2d_desc p = cnn_conv2d_desc_make(4, 2, 1, 1);
    int64_t pin[4] = {3, 4, 5, 5};
    CHECK_OK(cnn__conv_geom_make(&g, &p, pin));
    CHECK_INT_EQ(cnn__conv2d_workspace(&g), 0);
}

/* ---- numerical gradient check ------------------------------------------ */

/* L = sum(out * dout) in double, from its own loop (not the library's). */
static double loss_double(const double *x, const double *w, const double *b, const double *dy,
                          const cnn__conv_geom *g) {
    int64_t cg = g->c / g->groups, ocg = g->oc / g->groups;
    double loss = 0;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t o = 0; o < g->oc; o++)
            for (int64_t i = 0; i < g->oh; i++)
                for (int64_t j = 0; j < g->ow; j++) {
                    double s = b ? b[o] : 0;
                    for (int64_t c = 0; c < cg; c++)
                        for (int a = 0; a < g->kh; a++)
                            for (int e = 0; e < g->kw; e++) {
                                int64_t ih = i * g->sh - g->pad_top + a * g->dh;
                                int64_t iw = j * g->sw - g->pad_left + e * g->dw;
                                if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
                                s += x[((n * g->c + (o / ocg) * cg + c) * g->h + ih) * g->w + iw] *
                                     w[((o * cg + c) * g->kh + a) * g->kw + e];
                            }
                    loss += s * dy[((n * g->oc + o) * g->oh + i) * g->ow + j];
                }
    return loss;
}

/* d L / d p[i] by central differences, for every i. */
static void numeric_grad(double *grad, double *p, size_t n, const double *x, const double *w,
                         const double *b, const double *dy, const cnn__conv_geom *g) {
    const double eps = 1e-3;
    for (size_t i = 0; i < n; i++) {
        double keep = p[i];
        p[i] = keep + eps;
        double hi = loss_double(x, w, b, dy, g);
        p[i] = keep - eps;
        double lo = loss_double(x, w, b, dy, g);
        p[i] = keep;
        grad[i] = (hi - lo) / (2 * eps);
    }
}

static void gradcheck(const cnn_conv2d_desc *d, const int64_t in[4], cnn_rng *rng) {
    cnn__conv_geom g;
    CHECK_OK(cnn__conv_geom_make(&g, d, in));
    size_t nx = (size_t)(g.n * g.c * g.h * g.w), ny = (size_t)(g.n * g.oc * g.oh * g.ow);
    size_t nw = (size_t)(g.oc * (g.c / g.groups) * g.kh * g.kw), nb = (size_t)g.oc;
    float *x = random_buf(rng, nx), *w = random_buf(rng, nw), *b = random_buf(rng, nb),
          *dy = random_buf(rng, ny);
    float *dx = calloc(nx, sizeof(float)), *dw = calloc(nw, sizeof(float)),
          *db = calloc(nb, sizeof(float));
    cnn__conv2d_backward_ref(dx, dw, db, dy, x, w, &g);
    double *xd = malloc(nx * sizeof(double)), *wd = malloc(nw * sizeof(double)),
           *bd = malloc(nb * sizeof(double)), *dyd = malloc(ny * sizeof(double));
    for (size_t i = 0; i < nx; i++) xd[i] = x[i];
    for (size_t i = 0; i < nw; i++) wd[i] = w[i];
    for (size_t i = 0; i < nb; i++) bd[i] = b[i];
    for (size_t i = 0; i < ny; i++) dyd[i] = dy[i];
    double *num = malloc((nx + nw + nb) * sizeof(double));
    float *numf = malloc((nx + nw + nb) * sizeof(float));
    numeric_grad(num, xd, nx, xd, wd, bd, dyd, &g);
    numeric_grad(num + nx, wd, nw, xd, wd, bd, dyd, &g);
    numeric_grad(num + nx + nw, bd, nb, xd, wd, bd, dyd, &g);
    for (size_t i = 0; i < nx + nw + nb; i++) numf[i] = (float)num[i];
    CHECK_CLOSE("gradcheck dx", dx, numf, nx, 1e-4, 1e-5);
    CHECK_CLOSE("gradcheck dweight", dw, numf + nx, nw, 1e-4, 1e-5);
    CHECK_CLOSE("gradcheck dbias", db, numf + nx + nw, nb, 1e-4, 1e-5);
    free(x);
    free(w);
    free(b);
    free(dy);
    free(dx);
    free(dw);
    free(db);
    free(xd);
    free(wd);
    free(bd);
    free(dyd);
    free(num);
    free(numf);
}

static void test_gradcheck(void) {
    cnn_rng rng;
    cnn_rng_seed(&rng, 7);
    cnn_conv2d_desc d = cnn_conv2d_desc_make(2, 3, 3, 2);
    d.padding[0] = 1;
    d.stride[1] = 2;
    int64_t in[4] = {2, 2, 5, 6};
    gradcheck(&d, in, &rng);

    d = cnn_conv2d_desc_make(4, 2, 2, 3);
    d.groups = 2;
    d.dilation[0] = 2;
    d.padding_kind = CNN_PADDING_SAME;
    int64_t in2[4] = {1, 4, 6, 5};
    gradcheck(&d, in2, &rng);

    d = cnn_conv2d_desc_make(3, 3, 3, 3);
    d.groups = 3;
    d.stride[0] = d.stride[1] = 2;
    d.padding[0] = d.padding[1] = 1;
    int64_t in3[4] = {2, 3, 7, 4};
    gradcheck(&d, in3, &rng);
}

/* ---- errors ------------------------------------------------------------ */

static void test_errors(void) {
    int64_t s4[4] = {1, 2, 5, 5}, ws[4] = {3, 2, 3, 3}, out[4];
    cnn_tensor x = CNN_TENSOR_EMPTY, w = CNN_TENSOR_EMPTY, b = CNN_TENSOR_EMPTY,
               y = CNN_TENSOR_EMPTY, gx = CNN_TENSOR_EMPTY, gw = CNN_TENSOR_EMPTY,
               gb = CNN_TENSOR_EMPTY;
    int64_t bs[1] = {3};
    CHECK_OK(cnn_tensor_ones(&x, 4, s4));
    CHECK_OK(cnn_tensor_ones(&w, 4, ws));
    CHECK_OK(cnn_tensor_ones(&b, 1, bs));
    cnn_conv2d_desc d = cnn_conv2d_desc_make(2, 3, 3, 3), e;

    /* Kernel larger than the padded input. */
    e = cnn_conv2d_desc_make(2, 3, 7, 3);
    CHECK_STATUS(cnn_conv2d_output_shape(out, &e, s4), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "kernel") != NULL);
    e.padding[0] = 1; /* 5 + 2 = 7 fits */
    CHECK_OK(cnn_conv2d_output_shape(out, &e, s4));
    CHECK_INT_EQ(out[2], 1);
    e = cnn_conv2d_desc_make(2, 3, 3, 3);
    e.dilation[1] = 3; /* effective kernel 7 > 5 */
    CHECK_STATUS(cnn_conv2d_output_shape(out, &e, s4), CNN_ESHAPE);
    /* Stride, dilation, kernel, padding values. */
    e = d;
    e.stride[0] = 0;
    CHECK_STATUS(cnn_conv2d_output_shape(out, &e, s4), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "stride") != NULL);
    e = d;
    e.stride[1] = -1;
    CHECK_STATUS(cnn_conv2d_output_shape(out, &e, s4), CNN_EINVAL);
    e = d;
    e.dilation[0] = 0;
    CHECK_STATUS(cnn_conv2d_output_shape(out, &e, s4), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "dilation") != NULL);
    e = d;
    e.kernel_size[1] = 0;
    CHECK_STATUS(cnn_conv2d_output_shape(out, &e, s4), CNN_EINVAL);
    e = d;
    e.padding[0] = -1;
    CHECK_STATUS(cnn_conv2d_output_shape(out, &e, s4), CNN_EINVAL);
    e = d;
    e.padding_kind = (cnn_padding_kind)7;
    CHECK_STATUS(cnn_conv2d_output_shape(out, &e, s4), CNN_EINVAL);
    /* Groups. */
    e = cnn_conv2d_desc_make(2, 3, 3, 3);
    e.groups = 2;
    CHECK_STATUS(cnn_conv2d_output_shape(out, &e, s4), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "out_channels must be divisible by groups") != NULL);
    e = cnn_conv2d_desc_make(2, 4, 3, 3);
    e.groups = 4;
    CHECK_STATUS(cnn_conv2d_output_shape(out, &e, s4), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "in_channels must be divisible by groups") != NULL);
    e.groups = 0;
    CHECK_STATUS(cnn_conv2d_output_shape(out, &e, s4), CNN_EINVAL);
    /* 'same' with stride 2. */
    e = d;
    e.padding_kind = CNN_PADDING_SAME;
    e.stride[1] = 2;
    CHECK_STATUS(cnn_conv2d_output_shape(out, &e, s4), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "strided") != NULL);
    int pad[4];
    CHECK_STATUS(cnn_conv2d_resolve_padding(pad, &e), CNN_EINVAL);
    /* Channel mismatch between the input and in_channels. */
    int64_t s3c[4] = {1, 3, 5, 5};
    CHECK_STATUS(cnn_conv2d_output_shape(out, &d, s3c), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "channels") != NULL);

    /* Tensor functions. */
    CHECK_OK(cnn_conv2d(&y, &x, &w, &b, &d));
    cnn_tensor_free(&y);
    CHECK_STATUS(cnn_conv2d(NULL, &x, &w, &b, &d), CNN_EINVAL);
    CHECK_STATUS(cnn_conv2d(&y, NULL, &w, &b, &d), CNN_EINVAL);
    CHECK(y.ndim == 0 && y.data == NULL);
    CHECK_STATUS(cnn_conv2d(&y, &x, NULL, &b, &d), CNN_EINVAL);
    CHECK_STATUS(cnn_conv2d(&y, &x, &w, NULL, &d), CNN_EINVAL);
    CHECK_STATUS(cnn_conv2d(&y, &x, &w, &b, NULL), CNN_EINVAL);
    /* Channel mismatch between x and weight. */
    cnn_tensor x3 = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_ones(&x3, 4, s3c));
    CHECK_STATUS(cnn_conv2d(&y, &x3, &w, &b, &d), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "3 channels") != NULL);
    cnn_tensor_free(&x3);
    /* Weight that disagrees with the descriptor. */
    e = cnn_conv2d_desc_make(2, 3, 3, 2);
    CHECK_STATUS(cnn_conv2d(&y, &x, &w, &b, &e), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "weight") != NULL);
    /* Bias of the wrong size, bias missing, bias given without d.bias. */
    cnn_tensor b2 = CNN_TENSOR_EMPTY;
    int64_t b2s[1] = {2};
    CHECK_OK(cnn_tensor_zeros(&b2, 1, b2s));
    CHECK_STATUS(cnn_conv2d(&y, &x, &w, &b2, &d), CNN_ESHAPE);
    cnn_tensor_free(&b2);
    e = d;
    e.bias = 0;
    CHECK_STATUS(cnn_conv2d(&y, &x, &w, &b, &e), CNN_EINVAL);
    CHECK_OK(cnn_conv2d(&y, &x, &w, NULL, &e));
    cnn_tensor_free(&y);
    cnn_tensor empty = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_conv2d(&y, &x, &w, &empty, &e));
    cnn_tensor_free(&y);
    /* 2-D input, data NULL. */
    cnn_tensor x2 = x;
    x2.ndim = 2;
    CHECK_STATUS(cnn_conv2d(&y, &x2, &w, &b, &d), CNN_ESHAPE);
    x2 = x;
    x2.data = NULL;
    CHECK_STATUS(cnn_conv2d(&y, &x2, &w, &b, &d), CNN_EINVAL);
    /* Gradients: dout of the wrong shape, NULL dout, dbias without a bias. */
    int64_t ys[4] = {1, 3, 3, 3}, bad[4] = {1, 3, 3, 2};
    cnn_tensor dy = CNN_TENSOR_EMPTY, dyb = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_ones(&dy, 4, ys));
    CHECK_OK(cnn_tensor_ones(&dyb, 4, bad));
    CHECK_STATUS(cnn_conv2d_grad(&gx, &gw, &gb, &dyb, &x, &w, &d), CNN_ESHAPE);
    CHECK(gx.ndim == 0 && gw.ndim == 0 && gb.ndim == 0);
    CHECK_STATUS(cnn_conv2d_grad(&gx, &gw, &gb, NULL, &x, &w, &d), CNN_EINVAL);
    CHECK_STATUS(cnn_conv2d_grad(&gx, &gw, &gb, &dy, &x, &w, &e), CNN_EINVAL);
    /* Only some gradients requested. */
    CHECK_OK(cnn_conv2d_grad(NULL, &gw, NULL, &dy, &x, &w, &d));
    CHECK(gw.ndim == 4);
    cnn_tensor_free(&gw);
    CHECK_OK(cnn_conv2d_grad(&gx, NULL, NULL, &dy, &x, &w, &d));
    CHECK(gx.ndim == 4 && gx.shape[2] == 5);
    cnn_tensor_free(&gx);
    /* An empty batch gives an empty output. */
    int64_t s0[4] = {0, 2, 5, 5};
    cnn_tensor x0 = {4, {0, 2, 5, 5}, NULL, 0};
    CHECK_OK(cnn_conv2d_output_shape(out, &d, s0));
    CHECK_OK(cnn_conv2d(&y, &x0, &w, &b, &d));
    CHECK(y.ndim == 4 && y.shape[0] == 0 && y.shape[1] == 3);
    cnn_tensor_free(&y);
    cnn_tensor_free(&dy);
    cnn_tensor_free(&dyb);
    cnn_tensor_free(&x);
    cnn_tensor_free(&w);
    cnn_tensor_free(&b);
}

int main(void) {
    test_fixtures();
    test_ref_vs_fast();
    test_gradcheck();
    test_errors();
    return test_report();
}
