/* channels.c — section "多输入多输出通道" (multiple input and output channels)
 * and the 1x1 convolution:
 *
 *   corr2d_multi_in(X, K)      = sum over c of corr2d(X[c], K[c])
 *   corr2d_multi_in_out(X, K)  = torch.stack([corr2d_multi_in(X, k) for k in K], 0)
 *   corr2d_multi_in_out_1x1    = the same for 1x1 kernels as one matmul (C_o, C) @ (C, H*W)
 */
#include <cnn.h>

#include <stdio.h>

#define TRY(expr)                                                              \
    do {                                                                       \
        if ((expr) < 0) {                                                      \
            fprintf(stderr, "%s failed: %s\n", #expr, cnn_last_error());       \
            return 1;                                                          \
        }                                                                      \
    } while (0)

static int print_shape(const cnn_tensor *t, const char *end) {
    char text[64];
    int rc = cnn_shape_format(text, sizeof text, t->ndim, t->shape);
    if (rc >= 0) printf("%s%s", text, end);
    return rc;
}

int main(void) {
    const float x_data[18] = {0, 1, 2, 3, 4, 5, 6, 7, 8, /**/ 1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float k_data[8] = {0, 1, 2, 3, /**/ 1, 2, 3, 4};
    cnn_tensor X = CNN_TENSOR_EMPTY, K = CNN_TENSOR_EMPTY, Y = CNN_TENSOR_EMPTY;
    cnn_tensor K1 = CNN_TENSOR_EMPTY, K2 = CNN_TENSOR_EMPTY, K3 = CNN_TENSOR_EMPTY;

    /* Two input channels: X (2, 3, 3), K (2, 2, 2). */
    TRY(cnn_tensor_from_data(&X, 3, (const int64_t[3]){2, 3, 3}, x_data));
    TRY(cnn_tensor_from_data(&K, 3, (const int64_t[3]){2, 2, 2}, k_data));
    TRY(cnn_corr2d_multi_in(&Y, &X, &K));
    TRY(cnn_tensor_print(stdout, &Y));
    cnn_tensor_free(&Y);

    /* print(X.shape, K.shape) */
    TRY(print_shape(&X, " "));
    TRY(print_shape(&K, "\n"));

    /* K = torch.stack((K, K + 1, K + 2), 0): three output channels */
    TRY(cnn_tensor_add_scalar(&K1, &K, 1.0f));
    TRY(cnn_tensor_add_scalar(&K2, &K, 2.0f));
    const cnn_tensor *const parts[3] = {&K, &K1, &K2};
    TRY(cnn_tensor_stack(&K3, parts, 3, 0));
    TRY(print_shape(&K3, "\n"));
    TRY(cnn_corr2d_multi_in_out(&Y, &X, &K3));
    TRY(cnn_tensor_print(stdout, &Y));
    cnn_tensor_free(&Y);

    /* 1x1 convolution: X = torch.normal(0, 1, (3, 3, 3)), K = torch.normal(0, 1, (2, 3, 1, 1)) */
    cnn_rng rng;
    cnn_rng_seed(&rng, 0);
    cnn_tensor X2 = CNN_TENSOR_EMPTY, K4 = CNN_TENSOR_EMPTY, Y1 = CNN_TENSOR_EMPTY,
               Y2 = CNN_TENSOR_EMPTY, D = CNN_TENSOR_EMPTY;
    TRY(cnn_tensor_normal(&X2, 3, (const int64_t[3]){3, 3, 3}, 0.0f, 1.0f, &rng));
    TRY(cnn_tensor_normal(&K4, 4, (const int64_t[4]){2, 3, 1, 1}, 0.0f, 1.0f, &rng));
    TRY(cnn_corr2d_multi_in_out_1x1(&Y1, &X2, &K4));
    TRY(cnn_corr2d_multi_in_out(&Y2, &X2, &K4));
    /* Y1 - Y2 */
    TRY(cnn_tensor_add(&D, &Y1, &Y2, -1.0f));
    TRY(cnn_tensor_print(stdout, &D));

    cnn_tensor_free(&X);
    cnn_tensor_free(&K);
    cnn_tensor_free(&K1);
    cnn_tensor_free(&K2);
    cnn_tensor_free(&K3);
    cnn_tensor_free(&X2);
    cnn_tensor_free(&K4);
    cnn_tensor_free(&Y1);
    cnn_tensor_free(&Y2);
    cnn_tensor_free(&D);
    return 0;
}
