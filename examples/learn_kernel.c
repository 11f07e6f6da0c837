/* learn_kernel.c — section "学习卷积核" (learning a kernel): recover K = [1, -1]
 * from the edge-detection pair (X, Y) by gradient descent.
 *
 *   conv2d = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
 *   X = X.reshape((1, 1, 6, 8)); Y = Y.reshape((1, 1, 6, 7)); lr = 3e-2
 *   for i in range(10):
 *       Y_hat = conv2d(X); l = (Y_hat - Y) ** 2
 *       conv2d.zero_grad(); l.sum().backward()
 *       conv2d.weight.data[:] -= lr * conv2d.weight.grad
 *   conv2d.weight.data.reshape((1, 2))
 *
 * The weight starts as PyTorch initialises it (kaiming_uniform with a=sqrt(5),
 * i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 1*1*2), drawn from a
 * seeded cnn_rng, so the losses differ from the chapter's in the digits but
 * fall the same way and the kernel ends up close to [1, -1].
 */
#include <cnn.h>

#include <math.h>
#include <stdio.h>

#define TRY(expr)                                                              \
    do {                                                                       \
        if ((expr) < 0) {                                                      \
            fprintf(stderr, "%s failed: %s\n", #expr, cnn_last_error());       \
            return 1;                                                          \
        }                                                                      \
    } while (0)

int main(void) {
    const int64_t x_shape[4] = {1, 1, 6, 8}, k_shape[2] = {1, 2}, w_shape[4] = {1, 1, 1, 2};
    const float k_data[2] = {1.0f, -1.0f};
    const float lr = 3e-2f;
    cnn_tensor X = CNN_TENSOR_EMPTY, K = CNN_TENSOR_EMPTY, Y = CNN_TENSOR_EMPTY;
    cnn_tensor W = CNN_TENSOR_EMPTY;

    /* The edge-detection pair: X (6, 8) with a black band, Y = corr2d(X, K). */
    TRY(cnn_tensor_ones(&X, 2, (const int64_t[2]){6, 8}));
    for (int64_t i = 0; i < 6; i++)
        for (int64_t j = 2; j < 6; j++) TRY(cnn_tensor_set(&X, (const int64_t[2]){i, j}, 0.0f));
    TRY(cnn_tensor_from_data(&K, 2, k_shape, k_data));
    TRY(cnn_corr2d(&Y, &X, &K));

    /* B = C = 1: X (1, 1, 6, 8), Y (1, 1, 6, 7). print(X, Y) */
    TRY(cnn_tensor_reshape(&X, 4, x_shape));
    TRY(cnn_tensor_reshape(&Y, 4, (const int64_t[4]){1, 1, 6, 7}));
    static char x_text[4096], y_text[4096];
    TRY(cnn_tensor_format(x_text, sizeof x_text, &X));
    TRY(cnn_tensor_format(y_text, sizeof y_text, &Y));
    printf("%s %s\n", x_text, y_text);

    /* conv2d = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False) */
    cnn_conv2d_desc conv = cnn_conv2d_desc_make(1, 1, 1, 2);
    conv.bias = 0;
    cnn_rng rng;
    cnn_rng_seed(&rng, 0);
    float bound = 1.0f / sqrtf(1 * 1 * 2); /* 1/sqrt(fan_in) */
    TRY(cnn_tensor_uniform(&W, 4, w_shape, -bound, bound, &rng));

    for (int i = 0; i < 10; i++) {
        cnn_tensor Y_hat = CNN_TENSOR_EMPTY, dY_hat = CNN_TENSOR_EMPTY, dW = CNN_TENSOR_EMPTY;
        float l;
        TRY(cnn_conv2d(&Y_hat, &X, &W, NULL, &conv));
        /* l = (Y_hat - Y) ** 2; l.sum() and d l.sum() / d Y_hat = 2 (Y_hat - Y) */
        TRY(cnn_sse_loss(&l, &dY_hat, &Y_hat, &Y));
        /* l.sum().backward(): the gradient of the weight */
        TRY(cnn_conv2d_grad(NULL, &dW, NULL, &dY_hat, &X, &W, &conv));
        /* conv2d.weight.data[:] -= lr * conv2d.weight.grad */
        TRY(cnn_tensor_add(&W, &W, &dW, -lr));
        if ((i + 1) % 2 == 0) printf("epoch %d， loss %.3f\n", i + 1, (double)l);
        cnn_tensor_free(&Y_hat);
        cnn_tensor_free(&dY_hat);
        cnn_tensor_free(&dW);
    }

    /* conv2d.weight.data.reshape((1, 2)) */
    TRY(cnn_tensor_reshape(&W, 2, k_shape));
    TRY(cnn_tensor_print(stdout, &W));

    cnn_tensor_free(&X);
    cnn_tensor_free(&K);
    cnn_tensor_free(&Y);
    cnn_tensor_free(&W);
    return 0;
}
