/* conv_util.h — small helpers shared by conv2d.c and pool2d.c: the 4-D view
 * of a batched or unbatched input and an output allocated like it. The
 * argument checks themselves are core's (core/core.h). Internal; not
 * installed.
 */
#ifndef CNN_OPS_CONV_UTIL_H
#define CNN_OPS_CONV_UTIL_H

#include "core/core.h"

/* x is (N, C, H, W) or unbatched (C, H, W); in[4] <- the 4-D shape (N = 1 for
 * unbatched input). */
static inline int cnn__input_nchw(const char *fn, const char *arg, const cnn_tensor *x,
                                  int64_t in[4]) {
    CNN_TRY(cnn__tensor_check_ndim(fn, arg, x, 3, 4, NULL));
    if (x->ndim == 4) {
        for (int d = 0; d < 4; d++) in[d] = x->shape[d];
    } else {
        in[0] = 1;
        for (int d = 0; d < 3; d++) in[d + 1] = x->shape[d];
    }
    return CNN_OK;
}

/* Allocate a zeroed (N, C, H, W) tensor, or (C, H, W) when unbatched (ndim 3). */
static inline int cnn__alloc_like_input(cnn_tensor *t, int ndim, const int64_t s[4]) {
    return ndim == 4 ? cnn_tensor_zeros(t, 4, s) : cnn_tensor_zeros(t, 3, s + 1);
}

#endif /* CNN_OPS_CONV_UTIL_H */
