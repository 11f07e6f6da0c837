/* pooling.c — section "汇聚层" (pooling): the chapter's pool2d on a 3x3 input,
 * then nn.MaxPool2d with its defaults (stride = kernel size), padding and
 * stride, and pooling over two channels, which works on each channel alone.
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

/* Y = MaxPool2d(...)(X), printed. */
static int max_pool_print(const cnn_tensor *X, const cnn_pool2d_desc *pool) {
    cnn_tensor Y = CNN_TENSOR_EMPTY;
    int rc = cnn_pool2d(&Y, X, pool);
    if (rc >= 0) rc = cnn_tensor_print(stdout, &Y);
    cnn_tensor_free(&Y);
    return rc;
}

int main(void) {
    const float x_data[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    cnn_tensor X = CNN_TENSOR_EMPTY, Y = CNN_TENSOR_EMPTY;

    /* pool2d(X, (2, 2)) and pool2d(X, (2, 2), 'avg') */
    TRY(cnn_tensor_from_data(&X, 2, (const int64_t[2]){3, 3}, x_data));
    TRY(cnn_pool2d_simple(&Y, &X, 2, 2, CNN_POOL_MAX));
    TRY(cnn_tensor_print(stdout, &Y));
    cnn_tensor_free(&Y);
    TRY(cnn_pool2d_simple(&Y, &X, 2, 2, CNN_POOL_AVG));
    TRY(cnn_tensor_print(stdout, &Y));
    cnn_tensor_free(&Y);
    cnn_tensor_free(&X);

    /* X = torch.arange(16, dtype=torch.float32).reshape((1, 1, 4, 4)) */
    TRY(cnn_tensor_arange(&X, 16));
    TRY(cnn_tensor_reshape(&X, 4, (const int64_t[4]){1, 1, 4, 4}));
    TRY(cnn_tensor_print(stdout, &X));

    /* nn.MaxPool2d(3): the stride defaults to the window, (3, 3) */
    cnn_pool2d_desc pool = cnn_pool2d_desc_make(CNN_POOL_MAX, 3, 3);
    TRY(max_pool_print(&X, &pool));

    /* nn.MaxPool2d(3, padding=1, stride=2) */
    pool.padding[0] = pool.padding[1] = 1;
    pool.stride[0] = pool.stride[1] = 2;
    TRY(max_pool_print(&X, &pool));

    /* nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1)) */
    pool = cnn_pool2d_desc_make(CNN_POOL_MAX, 2, 3);
    pool.stride[0] = 2;
    pool.stride[1] = 3;
    pool.padding[0] = 0;
    pool.padding[1] = 1;
    TRY(max_pool_print(&X, &pool));

    /* torch.cat((X, X + 1), dim=1).shape and dim=0 */
    cnn_tensor X1 = CNN_TENSOR_EMPTY, C0 = CNN_TENSOR_EMPTY, C1 = CNN_TENSOR_EMPTY;
    TRY(cnn_tensor_add_scalar(&X1, &X, 1.0f));
    const cnn_tensor *const parts[2] = {&X, &X1};
    TRY(cnn_tensor_cat(&C1, parts, 2, 1));
    TRY(print_shape(&C1, "\n"));
    TRY(cnn_tensor_cat(&C0, parts, 2, 0));
    TRY(print_shape(&C0, "\n"));

    /* X = torch.cat((X, X + 1), dim=1); nn.MaxPool2d(3, padding=1, stride=2)(X) */
    pool = cnn_pool2d_desc_make(CNN_POOL_MAX, 3, 3);
    pool.padding[0] = pool.padding[1] = 1;
    pool.stride[0] = pool.stride[1] = 2;
    TRY(cnn_pool2d(&Y, &C1, &pool));
    TRY(print_shape(&Y, "\n"));
    TRY(cnn_tensor_print(stdout, &Y));

    cnn_tensor_free(&X);
    cnn_tensor_free(&X1);
    cnn_tensor_free(&C0);
    cnn_tensor_free(&C1);
    cnn_tensor_free(&Y);
    return 0;
}
