/* test_shapes.c — cnn_out_size and the conv/pool output shapes of the
 * chapter (padding and stride section, pooling section), 'same'/'valid'
 * padding, ceil_mode's dropped window, and the size errors.
 */
#include "cnn_internal.h"
#include "test_util.h"

#include <string.h>

/* Output (H, W) of Conv2d(1, 1, (kh, kw), padding=(ph, pw), stride=(sh, sw)) on 8x8. */
static void conv_hw(int64_t hw[2], int kh, int kw, int ph, int pw, int sh, int sw) {
    cnn_conv2d_desc d = cnn_conv2d_desc_make(1, 1, kh, kw);
    d.padding[0] = ph;
    d.padding[1] = pw;
    d.stride[0] = sh;
    d.stride[1] = sw;
    int64_t in[4] = {1, 1, 8, 8}, out[4] = {0, 0, 0, 0};
    CHECK_OK(cnn_conv2d_output_shape(out, &d, in));
    CHECK_INT_EQ(out[0], 1);
    CHECK_INT_EQ(out[1], 1);
    hw[0] = out[2];
    hw[1] = out[3];
}

static void test_chapter_conv(void) {
    int64_t hw[2];
    conv_hw(hw, 3, 3, 1, 1, 1, 1); /* Conv2d(1, 1, kernel_size=3, padding=1) */
    CHECK_INT_EQ(hw[0], 8);
    CHECK_INT_EQ(hw[1], 8);
    conv_hw(hw, 5, 3, 2, 1, 1, 1); /* kernel_size=(5, 3), padding=(2, 1) */
    CHECK_INT_EQ(hw[0], 8);
    CHECK_INT_EQ(hw[1], 8);
    conv_hw(hw, 3, 3, 1, 1, 2, 2); /* kernel_size=3, padding=1, stride=2 */
    CHECK_INT_EQ(hw[0], 4);
    CHECK_INT_EQ(hw[1], 4);
    conv_hw(hw, 3, 5, 0, 1, 3, 4); /* kernel_size=(3, 5), padding=(0, 1), stride=(3, 4) */
    CHECK_INT_EQ(hw[0], 2);
    CHECK_INT_EQ(hw[1], 2);

    /* The same through the tensor function, as comp_conv2d does. */
    cnn_conv2d_desc d = cnn_conv2d_desc_make(1, 1, 3, 3);
    d.padding[0] = d.padding[1] = 1;
    int64_t xs[4] = {1, 1, 8, 8}, wsz[4] = {1, 1, 3, 3}, bs[1] = {1};
    cnn_tensor x = CNN_TENSOR_EMPTY, w = CNN_TENSOR_EMPTY, b = CNN_TENSOR_EMPTY,
               y = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_ones(&x, 4, xs));
    CHECK_OK(cnn_tensor_ones(&w, 4, wsz));
    CHECK_OK(cnn_tensor_zeros(&b, 1, bs));
    CHECK_OK(cnn_conv2d(&y, &x, &w, &b, &d));
    CHECK(y.ndim == 4 && y.shape[2] == 8 && y.shape[3] == 8);
    if (y.ndim == 4) {
        CHECK(y.data[0] == 4.0f);  /* corner: 2x2 of the window inside */
        CHECK(y.data[9] == 9.0f);  /* interior */
    }
    cnn_tensor_free(&y);
    /* Unbatched (C, H, W) input gives a (C_out, H', W') output. */
    cnn_tensor_free(&x);
    CHECK_OK(cnn_tensor_ones(&x, 3, xs + 1));
    CHECK_OK(cnn_conv2d(&y, &x, &w, &b, &d));
    CHECK(y.ndim == 3 && y.shape[0] == 1 && y.shape[1] == 8 && y.shape[2] == 8);
    cnn_tensor_free(&y);
    cnn_tensor_free(&x);
    cnn_tensor_free(&w);
    cnn_tensor_free(&b);
}

static void test_out_size(void) {
    int64_t o = -1;
    CHECK_OK(cnn_out_size(&o, 8, 3, 1, 1, 1, 1, 0));
    CHECK_INT_EQ(o, 8);
    CHECK_OK(cnn_out_size(&o, 28, 5, 1, 0, 0, 1, 0)); /* LeNet conv2 input 14 -> 10 below */
    CHECK_INT_EQ(o, 24);
    CHECK_OK(cnn_out_size(&o, 14, 5, 1, 0, 0, 1, 0));
    CHECK_INT_EQ(o, 10);
    CHECK_OK(cnn_out_size(&o, 9, 3, 1, 0, 0, 2, 0)); /* dilation 2: effective kernel 5 */
    CHECK_INT_EQ(o, 5);
    CHECK_OK(cnn_out_size(&o, 5, 2, 1, 1, 2, 1, 0)); /* asymmetric padding ('same', k=4) */
    CHECK_INT_EQ(o, 7);
    CHECK_OK(cnn_out_size(&o, 7, 2, 2, 0, 0, 1, 0)); /* floor */
    CHECK_INT_EQ(o, 3);
    CHECK_OK(cnn_out_size(&o, 7, 2, 2, 0, 0, 1, 1)); /* ceil: a partial last window */
    CHECK_INT_EQ(o, 4);
    /* ceil_mode: the last window would start in the right padding, so it is dropped. */
    CHECK_OK(cnn_out_size(&o, 5, 2, 2, 1, 1, 1, 1));
    CHECK_INT_EQ(o, 3);
    CHECK_OK(cnn_out_size(&o, 6, 3, 2, 1, 1, 1, 1));
    CHECK_INT_EQ(o, 4);
    /* ceil_mode lets a window overhang a too-small input (PyTorch gives 1). */
    CHECK_STATUS(cnn_out_size(&o, 2, 3, 2, 0, 0, 1, 0), CNN_ESHAPE);
    CHECK_OK(cnn_out_size(&o, 2, 3, 2, 0, 0, 1, 1));
    CHECK_INT_EQ(o, 1);

    /* Errors. */
    CHECK_STATUS(cnn_out_size(&o, 4, 5, 1, 0, 0, 1, 0), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "kernel") != NULL);
    CHECK_INT_EQ(o, 0);
    CHECK_STATUS(cnn_out_size(&o, 4, 3, 1, 0, 0, 2, 0), CNN_ESHAPE); /* effective 5 > 4 */
    CHECK_OK(cnn_out_size(&o, 4, 5, 1, 1, 0, 1, 0)); /* padding makes it fit */
    CHECK_INT_EQ(o, 1);
    CHECK_STATUS(cnn_out_size(&o, 8, 3, 0, 0, 0, 1, 0), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "stride") != NULL);
    CHECK_STATUS(cnn_out_size(&o, 8, 3, -2, 0, 0, 1, 0), CNN_EINVAL);
    CHECK_STATUS(cnn_out_size(&o, 8, 3, 1, 0, 0, 0, 0), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "dilation") != NULL);
    CHECK_STATUS(cnn_out_size(&o, 8, 0, 1, 0, 0, 1, 0), CNN_EINVAL);
    CHECK_STATUS(cnn_out_size(&o, 8, 3, 1, -1, 0, 1, 0), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "padding") != NULL);
    CHECK_STATUS(cnn_out_size(&o, 0, 1, 1, 0, 0, 1, 0), CNN_ESHAPE);
    CHECK_STATUS(cnn_out_size(&o, -3, 1, 1, 0, 0, 1, 0), CNN_ESHAPE);
    CHECK_STATUS(cnn_out_size(NULL, 8, 3, 1, 0, 0, 1, 0), CNN_EINVAL);
    /* Huge sizes do not overflow. */
    CHECK_OK(cnn_out_size(&o, CNN_MAX_NUMEL, 0x7fffffff, 1, 0x7fffffff, 0x7fffffff, 1, 1));
    CHECK_STATUS(cnn_out_size(&o, CNN_MAX_NUMEL + 1, 3, 1, 0, 0, 1, 0), CNN_ERANGE);
}

static void test_padding_modes(void) {
    int pad[4];
    cnn_conv2d_desc d = cnn_conv2d_desc_make(2, 2, 4, 3);
    d.padding_kind = CNN_PADDING_SAME;
    CHECK_OK(cnn_conv2d_resolve_padding(pad, &d));
    /* total = k - 1: 3 -> top 1, bottom 2; 2 -> left 1, right 1 */
    CHECK_INT_EQ(pad[0], 1);
    CHECK_INT_EQ(pad[1], 2);
    CHECK_INT_EQ(pad[2], 1);
    CHECK_INT_EQ(pad[3], 1);
    d.kernel_size[1] = 4;
    d.dilation[1] = 3; /* total 9: left 4, right 5 */
    CHECK_OK(cnn_conv2d_resolve_padding(pad, &d));
    CHECK_INT_EQ(pad[2], 4);
    CHECK_INT_EQ(pad[3], 5);
    int64_t in[4] = {2, 2, 6, 11}, out[4];
    CHECK_OK(cnn_conv2d_output_shape(out, &d, in));
    CHECK_INT_EQ(out[2], 6);
    CHECK_INT_EQ(out[3], 11);
    d.padding_kind = CNN_PADDING_VALID;
    d.padding[0] = 5; /* ignored with 'valid' */
    CHECK_OK(cnn_conv2d_resolve_padding(pad, &d));
    CHECK(pad[0] == 0 && pad[1] == 0 && pad[2] == 0 && pad[3] == 0);
    CHECK_OK(cnn_conv2d_output_shape(out, &d, in));
    CHECK_INT_EQ(out[2], 3);
    CHECK_INT_EQ(out[3], 2);
    d.padding_kind = CNN_PADDING_EXPLICIT;
    d.padding[0] = 2;
    d.padding[1] = 1;
    CHECK_OK(cnn_conv2d_resolve_padding(pad, &d));
    CHECK(pad[0] == 2 && pad[1] == 2 && pad[2] == 1 && pad[3] == 1);
    CHECK_STATUS(cnn_conv2d_resolve_padding(NULL, &d), CNN_EINVAL);
    CHECK_STATUS(cnn_conv2d_resolve_padding(pad, NULL), CNN_EINVAL);
    d.padding_kind = CNN_PADDING_SAME;
    d.stride[0] = 2;
    CHECK_STATUS(cnn_conv2d_resolve_padding(pad, &d), CNN_EINVAL);
}

static void test_defaults(void) {
    cnn_conv2d_desc d = cnn_conv2d_desc_make(1, 6, 5, 5);
    CHECK(d.in_channels == 1 && d.out_channels == 6);
    CHECK(d.stride[0] == 1 && d.stride[1] == 1 && d.padding[0] == 0 && d.padding[1] == 0);
    CHECK(d.dilation[0] == 1 && d.dilation[1] == 1 && d.groups == 1 && d.bias == 1);
    CHECK(d.padding_kind == CNN_PADDING_EXPLICIT);
    cnn_pool2d_desc p = cnn_pool2d_desc_make(CNN_POOL_AVG, 2, 3);
    CHECK(p.stride[0] == 2 && p.stride[1] == 3 && p.padding[0] == 0 && p.padding[1] == 0);
    CHECK(p.dilation[0] == 1 && p.dilation[1] == 1 && p.ceil_mode == 0);
    CHECK(p.count_include_pad == 1 && p.divisor_override == 0);
}

/* LeNet's shapes (the chapter's table): 1x28x28 -> 6x28x28 -> 6x14x14 -> 16x10x10 -> 16x5x5. */
static void test_lenet(void) {
    int64_t s[4] = {1, 1, 28, 28}, o[4];
    cnn_conv2d_desc c1 = cnn_conv2d_desc_make(1, 6, 5, 5);
    c1.padding[0] = c1.padding[1] = 2;
    CHECK_OK(cnn_conv2d_output_shape(o, &c1, s));
    CHECK(o[1] == 6 && o[2] == 28 && o[3] == 28);
    cnn_pool2d_desc p = cnn_pool2d_desc_make(CNN_POOL_AVG, 2, 2);
    CHECK_OK(cnn_pool2d_output_shape(s, &p, o));
    CHECK(s[1] == 6 && s[2] == 14 && s[3] == 14);
    cnn_conv2d_desc c2 = cnn_conv2d_desc_make(6, 16, 5, 5);
    CHECK_OK(cnn_conv2d_output_shape(o, &c2, s));
    CHECK(o[1] == 16 && o[2] == 10 && o[3] == 10);
    CHECK_OK(cnn_pool2d_output_shape(s, &p, o));
    CHECK(s[0] == 1 && s[1] == 16 && s[2] == 5 && s[3] == 5);
}

static void test_pool_shapes(void) {
    int64_t in[4] = {1, 1, 4, 4}, o[4];
    cnn_pool2d_desc p = cnn_pool2d_desc_make(CNN_POOL_MAX, 3, 3); /* MaxPool2d(3) */
    CHECK_OK(cnn_pool2d_output_shape(o, &p, in));
    CHECK(o[2] == 1 && o[3] == 1);
    p.padding[0] = p.padding[1] = 1;
    p.stride[0] = p.stride[1] = 2;
    CHECK_OK(cnn_pool2d_output_shape(o, &p, in));
    CHECK(o[2] == 2 && o[3] == 2);
    p = cnn_pool2d_desc_make(CNN_POOL_MAX, 2, 3);
    p.padding[1] = 1;
    CHECK_OK(cnn_pool2d_output_shape(o, &p, in));
    CHECK(o[2] == 2 && o[3] == 2);
    /* ceil_mode with the dropped window: 5, k2, s2, p1 -> 3 (not 4). */
    int64_t in5[4] = {2, 3, 5, 5};
    p = cnn_pool2d_desc_make(CNN_POOL_AVG, 2, 2);
    p.padding[0] = p.padding[1] = 1;
    p.ceil_mode = 1;
    CHECK_OK(cnn_pool2d_output_shape(o, &p, in5));
    CHECK(o[0] == 2 && o[1] == 3 && o[2] == 3 && o[3] == 3);
}

int main(void) {
    test_chapter_conv();
    test_out_size();
    test_padding_modes();
    test_defaults();
    test_lenet();
    test_pool_shapes();
    return test_report();
}
