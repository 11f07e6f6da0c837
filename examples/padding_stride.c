/* padding_stride.c — sections "填充和步幅" (padding) and "步幅" (stride): the
 * output shapes of four nn.Conv2d layers on an 8x8 input.
 *
 *   def comp_conv2d(conv2d, X):
 *       X = X.reshape((1, 1) + X.shape)     # B = C = 1
 *       Y = conv2d(X)
 *       return Y.reshape(Y.shape[2:])       # drop B and C
 *
 * Output size per axis: floor((n - k + p_lo + p_hi) / s) + 1.
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

/* Y (h', w') = conv(X (h, w)) through a (1, 1, h, w) batch, with the layer's
 * weight and bias initialised as PyTorch does: U(+-1/sqrt(fan_in)). */
static int comp_conv2d(cnn_tensor *Y, const cnn_conv2d_desc *conv, const cnn_tensor *X,
                       cnn_rng *rng) {
    cnn_tensor X4 = *X, W = CNN_TENSOR_EMPTY, b = CNN_TENSOR_EMPTY;
    const int64_t w_shape[4] = {1, 1, conv->kernel_size[0], conv->kernel_size[1]};
    const int64_t b_shape[1] = {1};
    float bound = 1.0f / sqrtf((float)(conv->kernel_size[0] * conv->kernel_size[1]));
    X4.owner = 0; /* a view of X's data */
    int rc = cnn_tensor_reshape(&X4, 4, (const int64_t[4]){1, 1, X->shape[0], X->shape[1]});
    if (rc >= 0) rc = cnn_tensor_uniform(&W, 4, w_shape, -bound, bound, rng);
    if (rc >= 0) rc = cnn_tensor_uniform(&b, 1, b_shape, -bound, bound, rng);
    if (rc >= 0) rc = cnn_conv2d(Y, &X4, &W, &b, conv);
    if (rc >= 0) {
        const int64_t hw[2] = {Y->shape[2], Y->shape[3]}; /* Y.shape[2:] */
        rc = cnn_tensor_reshape(Y, 2, hw);
        if (rc < 0) cnn_tensor_free(Y);
    }
    cnn_tensor_free(&W);
    cnn_tensor_free(&b);
    return rc;
}

static int print_shape(const cnn_tensor *t, const char *end) {
    char text[64];
    int rc = cnn_shape_format(text, sizeof text, t->ndim, t->shape);
    if (rc >= 0) printf("%s%s", text, end);
    return rc;
}

int main(void) {
    cnn_rng rng;
    cnn_rng_seed(&rng, 0);
    cnn_tensor X = CNN_TENSOR_EMPTY, Y = CNN_TENSOR_EMPTY;
    /* X = torch.rand(size=(8, 8)) */
    TRY(cnn_tensor_uniform(&X, 2, (const int64_t[2]){8, 8}, 0.0f, 1.0f, &rng));

    /* nn.Conv2d(1, 1, kernel_size=3, padding=1): one row or column on each side */
    cnn_conv2d_desc conv = cnn_conv2d_desc_make(1, 1, 3, 3);
    conv.padding[0] = conv.padding[1] = 1;
    TRY(comp_conv2d(&Y, &conv, &X, &rng));
    TRY(print_shape(&Y, "\n"));
    cnn_tensor_free(&Y);

    /* nn.Conv2d(1, 1, kernel_size=(5, 3), padding=(2, 1)); comp_conv2d(conv2d, X).shape, X.shape */
    conv = cnn_conv2d_desc_make(1, 1, 5, 3);
    conv.padding[0] = 2;
    conv.padding[1] = 1;
    TRY(comp_conv2d(&Y, &conv, &X, &rng));
    printf("(");
    TRY(print_shape(&Y, ", "));
    TRY(print_shape(&X, ")\n"));
    cnn_tensor_free(&Y);

    /* nn.Conv2d(1, 1, kernel_size=3, padding=1, stride=2): halves height and width */
    conv = cnn_conv2d_desc_make(1, 1, 3, 3);
    conv.padding[0] = conv.padding[1] = 1;
    conv.stride[0] = conv.stride[1] = 2;
    TRY(comp_conv2d(&Y, &conv, &X, &rng));
    TRY(print_shape(&Y, "\n"));
    cnn_tensor_free(&Y);

    /* nn.Conv2d(1, 1, kernel_size=(3, 5), padding=(0, 1), stride=(3, 4)) */
    conv = cnn_conv2d_desc_make(1, 1, 3, 5);
    conv.padding[0] = 0;
    conv.padding[1] = 1;
    conv.stride[0] = 3;
    conv.stride[1] = 4;
    TRY(comp_conv2d(&Y, &conv, &X, &rng));
    TRY(print_shape(&Y, "\n"));
    cnn_tensor_free(&Y);

    cnn_tensor_free(&X);
    return 0;
}
