/* test_corr2d.c — the chapter's examples: corr2d, edge detection,
 * multi-input/multi-output channels, 1x1 convolution as a matrix multiply,
 * pool2d, and nn.MaxPool2d on arange(16).
 */
#include "cnn_internal.h"
#include "test_util.h"

#include <string.h>

static void from(cnn_tensor *t, int ndim, const int64_t *shape, const float *data) {
    CHECK_OK(cnn_tensor_from_data(t, ndim, shape, data));
}

/* got has the given shape and values exactly (integer-valued examples). */
static void check_exact(const char *what, const cnn_tensor *got, int ndim, const int64_t *shape,
                        const float *want) {
    CHECK(got->ndim == ndim);
    if (got->ndim != ndim) return;
    size_t n = 1;
    for (int d = 0; d < ndim; d++) {
        CHECK_INT_EQ(got->shape[d], shape[d]);
        if (got->shape[d] != shape[d]) return;
        n *= (size_t)shape[d];
    }
    CHECK_CLOSE(what, got->data, want, n, 0, 0);
}

static const float X9[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};

static void test_corr2d(void) {
    cnn_tensor x = CNN_TENSOR_EMPTY, k = CNN_TENSOR_EMPTY, y = CNN_TENSOR_EMPTY;
    int64_t s33[2] = {3, 3}, s22[2] = {2, 2};
    from(&x, 2, s33, X9);
    from(&k, 2, s22, (const float[]){0, 1, 2, 3});
    CHECK_OK(cnn_corr2d(&y, &x, &k));
    check_exact("corr2d", &y, 2, s22, (const float[]){19, 25, 37, 43});
    cnn_tensor_free(&y);
    cnn_tensor_free(&x);
    cnn_tensor_free(&k);

    /* Edge detection: X = ones(6, 8), X[:, 2:6] = 0, K = [[1, -1]]. */
    float img[48];
    for (int i = 0; i < 48; i++) img[i] = (i % 8 >= 2 && i % 8 < 6) ? 0.0f : 1.0f;
    int64_t s68[2] = {6, 8}, s12[2] = {1, 2}, s67[2] = {6, 7};
    from(&x, 2, s68, img);
    from(&k, 2, s12, (const float[]){1, -1});
    CHECK_OK(cnn_corr2d(&y, &x, &k));
    float edges[42];
    for (int i = 0; i < 42; i++) edges[i] = i % 7 == 1 ? 1.0f : i % 7 == 5 ? -1.0f : 0.0f;
    check_exact("corr2d edges", &y, 2, s67, edges);
    cnn_tensor_free(&y);
    /* corr2d(X.t(), K) finds no vertical edges. */
    cnn_tensor xt = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_transpose(&xt, &x));
    CHECK_OK(cnn_corr2d(&y, &xt, &k));
    float zeros[8 * 5] = {0};
    int64_t s85[2] = {8, 5};
    check_exact("corr2d X.t()", &y, 2, s85, zeros);
    cnn_tensor_free(&y);
    cnn_tensor_free(&xt);

    /* Errors: kernel larger than the input, wrong ndim, NULL. */
    int64_t s77[2] = {7, 1};
    cnn_tensor big = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_zeros(&big, 2, s77));
    CHECK_STATUS(cnn_corr2d(&y, &x, &big), CNN_ESHAPE);
    CHECK(y.ndim == 0);
    CHECK_STATUS(cnn_corr2d(&y, &big, &k), CNN_ESHAPE); /* K is 1x2, X is 7x1 */
    CHECK_STATUS(cnn_corr2d(NULL, &x, &k), CNN_EINVAL);
    CHECK_STATUS(cnn_corr2d(&y, NULL, &k), CNN_EINVAL);
    CHECK_STATUS(cnn_corr2d(&y, &x, NULL), CNN_EINVAL);
    cnn_tensor x3 = x;
    x3.ndim = 3;
    x3.shape[2] = 1;
    CHECK_STATUS(cnn_corr2d(&y, &x3, &k), CNN_ESHAPE);
    cnn_tensor_free(&big);
    cnn_tensor_free(&x);
    cnn_tensor_free(&k);
}

static void test_multi_channels(void) {
    cnn_tensor x = CNN_TENSOR_EMPTY, k = CNN_TENSOR_EMPTY, k3 = CNN_TENSOR_EMPTY,
               y = CNN_TENSOR_EMPTY, y2 = CNN_TENSOR_EMPTY;
    int64_t xs[3] = {2, 3, 3}, ks[3] = {2, 2, 2}, s22[2] = {2, 2};
    from(&x, 3, xs, (const float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    from(&k, 3, ks, (const float[]){0, 1, 2, 3, 1, 2, 3, 4});
    CHECK_OK(cnn_corr2d_multi_in(&y, &x, &k));
    check_exact("corr2d_multi_in", &y, 2, s22, (const float[]){56, 72, 104, 120});
    cnn_tensor_free(&y);

    /* K = torch.stack((K, K + 1, K + 2), 0): shape (3, 2, 2, 2). */
    float kk[24];
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < 8; i++) kk[o * 8 + i] = k.data[i] + (float)o;
    int64_t k3s[4] = {3, 2, 2, 2}, ys[3] = {3, 2, 2};
    from(&k3, 4, k3s, kk);
    CHECK_OK(cnn_corr2d_multi_in_out(&y, &x, &k3));
    check_exact("corr2d_multi_in_out", &y, 3, ys,
                (const float[]){56, 72, 104, 120, 76, 100, 148, 172, 96, 128, 192, 224});
    /* The same as nn.Conv2d(2, 3, 2, bias=False) with that weight. */
    cnn_conv2d_desc d = cnn_conv2d_desc_make(2, 3, 2, 2);
    d.bias = 0;
    CHECK_OK(cnn_conv2d(&y2, &x, &k3, NULL, &d));
    check_exact("conv2d as corr2d_multi_in_out", &y2, 3, ys, y.data);
    cnn_tensor_free(&y2);
    cnn_tensor_free(&y);

    /* Errors: channel mismatch. */
    int64_t ks3[3] = {3, 2, 2};
    cnn_tensor kb = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_zeros(&kb, 3, ks3));
    CHECK_STATUS(cnn_corr2d_multi_in(&y, &x, &kb), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "channels") != NULL);
    cnn_tensor_free(&kb);
    int64_t kbs[4] = {3, 3, 2, 2};
    CHECK_OK(cnn_tensor_zeros(&kb, 4, kbs));
    CHECK_STATUS(cnn_corr2d_multi_in_out(&y, &x, &kb), CNN_ESHAPE);
    CHECK_STATUS(cnn_corr2d_multi_in_out(&y, &x, &k), CNN_ESHAPE); /* 3-D K */
    CHECK_STATUS(cnn_corr2d_multi_in(&y, NULL, &k), CNN_EINVAL);
    cnn_tensor_free(&kb);
    cnn_tensor_free(&x);
    cnn_tensor_free(&k);
    cnn_tensor_free(&k3);
}

static void test_1x1(void) {
    cnn_rng rng;
    cnn_rng_seed(&rng, 0);
    cnn_tensor x = CNN_TENSOR_EMPTY, k = CNN_TENSOR_EMPTY, y1 = CNN_TENSOR_EMPTY,
               y2 = CNN_TENSOR_EMPTY;
    int64_t xs[3] = {3, 3, 3}, ks[4] = {2, 3, 1, 1};
    CHECK_OK(cnn_tensor_normal(&x, 3, xs, 0, 1, &rng));
    CHECK_OK(cnn_tensor_normal(&k, 4, ks, 0, 1, &rng));
    CHECK_OK(cnn_corr2d_multi_in_out_1x1(&y1, &x, &k));
    CHECK_OK(cnn_corr2d_multi_in_out(&y2, &x, &k));
    CHECK(y1.ndim == 3 && y1.shape[0] == 2 && y1.shape[1] == 3 && y1.shape[2] == 3);
    if (y1.ndim == 3 && y2.ndim == 3) CHECK_CLOSE("1x1 as matmul", y1.data, y2.data, 18, 0, 1e-6);
    cnn_tensor_free(&y1);
    /* K may also be given as (C_o, C). */
    int64_t k2s[2] = {2, 3};
    CHECK_OK(cnn_tensor_reshape(&k, 2, k2s));
    CHECK_OK(cnn_corr2d_multi_in_out_1x1(&y1, &x, &k));
    if (y1.ndim == 3 && y2.ndim == 3) CHECK_CLOSE("1x1 (C_o, C)", y1.data, y2.data, 18, 0, 1e-6);
    cnn_tensor_free(&y1);
    cnn_tensor_free(&y2);
    cnn_tensor_free(&k);
    int64_t kbad[4] = {2, 3, 2, 1};
    CHECK_OK(cnn_tensor_zeros(&k, 4, kbad));
    CHECK_STATUS(cnn_corr2d_multi_in_out_1x1(&y1, &x, &k), CNN_ESHAPE);
    cnn_tensor_free(&k);
    cnn_tensor_free(&x);
}

static void test_pool2d_simple(void) {
    cnn_tensor x = CNN_TENSOR_EMPTY, y = CNN_TENSOR_EMPTY;
    int64_t s33[2] = {3, 3}, s22[2] = {2, 2};
    from(&x, 2, s33, X9);
    CHECK_OK(cnn_pool2d_simple(&y, &x, 2, 2, CNN_POOL_MAX));
    check_exact("pool2d max", &y, 2, s22, (const float[]){4, 5, 7, 8});
    cnn_tensor_free(&y);
    CHECK_OK(cnn_pool2d_simple(&y, &x, 2, 2, CNN_POOL_AVG));
    check_exact("pool2d avg", &y, 2, s22, (const float[]){2, 3, 5, 6});
    cnn_tensor_free(&y);
    CHECK_STATUS(cnn_pool2d_simple(&y, &x, 4, 2, CNN_POOL_MAX), CNN_ESHAPE);
    CHECK_STATUS(cnn_pool2d_simple(&y, &x, 0, 2, CNN_POOL_MAX), CNN_ESHAPE);
    CHECK_STATUS(cnn_pool2d_simple(&y, &x, 2, 2, (cnn_pool_kind)9), CNN_EINVAL);
    CHECK_STATUS(cnn_pool2d_simple(&y, NULL, 2, 2, CNN_POOL_MAX), CNN_EINVAL);
    cnn_tensor_free(&x);
}

/* X = torch.arange(16, dtype=torch.float32).reshape((1, 1, 4, 4)) */
static void test_maxpool_chapter(void) {
    float v[32];
    for (int i = 0; i < 32; i++) v[i] = i < 16 ? (float)i : (float)(i - 16) + 1.0f;
    int64_t xs[4] = {1, 1, 4, 4}, s11[4] = {1, 1, 1, 1}, s22[4] = {1, 1, 2, 2};
    cnn_tensor x = CNN_TENSOR_EMPTY, y = CNN_TENSOR_EMPTY;
    from(&x, 4, xs, v);
    cnn_pool2d_desc p = cnn_pool2d_desc_make(CNN_POOL_MAX, 3, 3); /* nn.MaxPool2d(3) */
    CHECK_OK(cnn_pool2d(&y, &x, &p));
    check_exact("MaxPool2d(3)", &y, 4, s11, (const float[]){10});
    cnn_tensor_free(&y);
    p.padding[0] = p.padding[1] = 1; /* nn.MaxPool2d(3, padding=1, stride=2) */
    p.stride[0] = p.stride[1] = 2;
    CHECK_OK(cnn_pool2d(&y, &x, &p));
    check_exact("MaxPool2d(3, padding=1, stride=2)", &y, 4, s22, (const float[]){5, 7, 13, 15});
    cnn_tensor_free(&y);
    /* nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1)) */
    cnn_pool2d_desc q = cnn_pool2d_desc_make(CNN_POOL_MAX, 2, 3);
    q.padding[1] = 1;
    CHECK_OK(cnn_pool2d(&y, &x, &q));
    check_exact("MaxPool2d((2, 3), ...)", &y, 4, s22, (const float[]){5, 7, 13, 15});
    cnn_tensor_free(&y);
    cnn_tensor_free(&x);
    /* X = torch.cat((X, X + 1), 1): two channels pooled separately. */
    int64_t x2s[4] = {1, 2, 4, 4}, y2s[4] = {1, 2, 2, 2};
    from(&x, 4, x2s, v);
    CHECK_OK(cnn_pool2d(&y, &x, &p));
    check_exact("MaxPool2d on 2 channels", &y, 4, y2s,
                (const float[]){5, 7, 13, 15, 6, 8, 14, 16});
    cnn_tensor_free(&y);
    cnn_tensor_free(&x);
}

int main(void) {
    test_corr2d();
    test_multi_channels();
    test_1x1();
    test_pool2d_simple();
    test_maxpool_chapter();
    return test_report();
}
