/* shape.c — the one output-size rule shared by every convolution and pooling.
 *
 *   out = floor((in + pad_lo + pad_hi - dilation*(k-1) - 1 [+ stride-1 if ceil]) / stride) + 1
 *
 * In ceil mode PyTorch drops a last window that would start inside the right
 * padding: if (out-1)*stride >= in + pad_lo then out -= 1. The window "does
 * not fit" when the result is below 1 (in floor mode: the padded input is
 * smaller than the dilated kernel). This file only computes sizes; padding
 * limits that depend on the layer (pooling's pad <= k/2) are checked by the
 * callers.
 */
#include "cnn_internal.h"

/* floor(a / b) for b > 0 (C division truncates toward zero). */
static int64_t div_floor(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && (a < 0)) q--;
    return q;
}

int cnn_out_size(int64_t *out, int64_t in, int kernel, int stride, int pad_lo, int pad_hi,
                 int dilation, int ceil_mode) {
    if (!out) return cnn__fail(CNN_EINVAL, "cnn_out_size: out is NULL");
    *out = 0;
    if (in < 1)
        return cnn__fail(CNN_ESHAPE, "cnn_out_size: input size is %lld; expected >= 1",
                         (long long)in);
    if (in > CNN_MAX_NUMEL)
        return cnn__fail(CNN_ERANGE, "cnn_out_size: input size %lld is larger than %lld",
                         (long long)in, (long long)CNN_MAX_NUMEL);
    if (kernel < 1)
        return cnn__fail(CNN_EINVAL, "cnn_out_size: kernel size is %d; expected >= 1", kernel);
    if (stride < 1)
        return cnn__fail(CNN_EINVAL, "cnn_out_size: stride is %d; expected >= 1", stride);
    if (dilation < 1)
        return cnn__fail(CNN_EINVAL, "cnn_out_size: dilation is %d; expected >= 1", dilation);
    if (pad_lo < 0 || pad_hi < 0)
        return cnn__fail(CNN_EINVAL, "cnn_out_size: padding is (%d, %d); expected >= 0", pad_lo,
                         pad_hi);
    /* All terms fit easily in int64: in <= 2^32, the ints are < 2^31. */
    int64_t padded = in + pad_lo + pad_hi;
    int64_t span = (int64_t)dilation * (kernel - 1) + 1; /* effective kernel size */
    int64_t num = padded - span + (ceil_mode ? stride - 1 : 0);
    int64_t n = div_floor(num, stride) + 1;
    if (ceil_mode && n >= 1 && (n - 1) * stride >= in + pad_lo) n--;
    if (n < 1)
        return cnn__fail(CNN_ESHAPE,
                         "cnn_out_size: kernel does not fit: padded input size %lld "
                         "(input %lld + padding %d + %d) < effective kernel size %lld "
                         "(kernel %d, dilation %d)",
                         (long long)padded, (long long)in, pad_lo, pad_hi, (long long)span,
                         kernel, dilation);
    *out = n;
    return CNN_OK;
}
