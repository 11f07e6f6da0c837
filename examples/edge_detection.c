/* edge_detection.c — section "图像中目标的边缘检测" (edge detection):
 *
 *   X = torch.ones((6, 8)); X[:, 2:6] = 0      a white image with a black band
 *   K = torch.tensor([[1.0, -1.0]])            horizontal difference
 *   Y = corr2d(X, K)                           1 at white->black, -1 at black->white
 *   corr2d(X.t(), K)                           all zeros: K sees vertical edges only
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

int main(void) {
    const int64_t x_shape[2] = {6, 8}, k_shape[2] = {1, 2};
    const float k_data[2] = {1.0f, -1.0f};
    cnn_tensor X = CNN_TENSOR_EMPTY, K = CNN_TENSOR_EMPTY, Y = CNN_TENSOR_EMPTY;
    cnn_tensor Xt = CNN_TENSOR_EMPTY, Yt = CNN_TENSOR_EMPTY;

    /* X = torch.ones((6, 8)); X[:, 2:6] = 0 */
    TRY(cnn_tensor_ones(&X, 2, x_shape));
    for (int64_t i = 0; i < 6; i++)
        for (int64_t j = 2; j < 6; j++) TRY(cnn_tensor_set(&X, (const int64_t[2]){i, j}, 0.0f));
    TRY(cnn_tensor_print(stdout, &X));

    TRY(cnn_tensor_from_data(&K, 2, k_shape, k_data));
    TRY(cnn_corr2d(&Y, &X, &K));
    TRY(cnn_tensor_print(stdout, &Y));

    /* corr2d(X.t(), K) */
    TRY(cnn_tensor_transpose(&Xt, &X));
    TRY(cnn_corr2d(&Yt, &Xt, &K));
    TRY(cnn_tensor_print(stdout, &Yt));

    cnn_tensor_free(&X);
    cnn_tensor_free(&K);
    cnn_tensor_free(&Y);
    cnn_tensor_free(&Xt);
    cnn_tensor_free(&Yt);
    return 0;
}
