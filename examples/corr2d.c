/* corr2d.c — section "互相关操作" (cross-correlation) of the chapter:
 *
 *   X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
 *   K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
 *   corr2d(X, K)
 *
 * Y[i,j] = sum_{a,b} X[i+a, j+b] K[a,b], so a 3x3 input and a 2x2 kernel give 2x2.
 */
#include <cnn.h>

#include <stdio.h>

/* Stop with the library's message when a call fails. */
#define TRY(expr)                                                              \
    do {                                                                       \
        if ((expr) < 0) {                                                      \
            fprintf(stderr, "%s failed: %s\n", #expr, cnn_last_error());       \
            return 1;                                                          \
        }                                                                      \
    } while (0)

int main(void) {
    const float x_data[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    const float k_data[4] = {0, 1, 2, 3};
    const int64_t x_shape[2] = {3, 3}, k_shape[2] = {2, 2};
    cnn_tensor X = CNN_TENSOR_EMPTY, K = CNN_TENSOR_EMPTY, Y = CNN_TENSOR_EMPTY;

    TRY(cnn_tensor_from_data(&X, 2, x_shape, x_data));
    TRY(cnn_tensor_from_data(&K, 2, k_shape, k_data));
    TRY(cnn_corr2d(&Y, &X, &K));
    TRY(cnn_tensor_print(stdout, &Y));

    cnn_tensor_free(&X);
    cnn_tensor_free(&K);
    cnn_tensor_free(&Y);
    return 0;
}
