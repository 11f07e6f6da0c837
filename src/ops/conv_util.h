/* conv_util.h — small helpers shared by conv2d.c, pool2d.c and corr2d.c:
 * argument checks for tensors with a message naming the function and the
 * argument, and shape text for those messages. Internal; not installed.
 */
#ifndef CNN_OPS_CONV_UTIL_H
#define CNN_OPS_CONV_UTIL_H

#include "cnn_internal.h"

#include <stdio.h>

/* t must be non-NULL, have ndim in [min_ndim, max_ndim], sizes in
 * [0, CNN_MAX_NUMEL] with a product that fits, and data unless it has no
 * elements. *numel receives the element count (may be NULL). */
static inline int cnn__check_input(const char *fn, const char *arg, const cnn_tensor *t,
                                   int min_ndim, int max_ndim, int64_t *numel) {
    if (!t) return cnn__fail(CNN_EINVAL, "%s: %s is NULL", fn, arg);
    if (t->ndim < min_ndim || t->ndim > max_ndim) {
        if (min_ndim == max_ndim)
            return cnn__fail(CNN_ESHAPE, "%s: %s has %d dimensions; expected %d", fn, arg,
                             t->ndim, min_ndim);
        return cnn__fail(CNN_ESHAPE, "%s: %s has %d dimensions; expected %d to %d", fn, arg,
                         t->ndim, min_ndim, max_ndim);
    }
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        int64_t s = t->shape[d];
        if (s < 0 || s > CNN_MAX_NUMEL)
            return cnn__fail(CNN_ESHAPE, "%s: %s has shape %s; sizes must be in [0, %lld]", fn,
                             arg, cnn__shape_str(t->ndim, t->shape).s, (long long)CNN_MAX_NUMEL);
        if (n != 0 && s > CNN_MAX_NUMEL / n)
            return cnn__fail(CNN_ERANGE, "%s: %s has shape %s: more than %lld elements", fn, arg,
                             cnn__shape_str(t->ndim, t->shape).s, (long long)CNN_MAX_NUMEL);
        n *= s;
    }
    if (n > 0 && !t->data)
        return cnn__fail(CNN_EINVAL, "%s: %s has shape %s but its data is NULL", fn, arg,
                         cnn__shape_str(t->ndim, t->shape).s);
    if (numel) *numel = n;
    return CNN_OK;
}

/* x is (N, C, H, W) or unbatched (C, H, W); in[4] <- the 4-D shape (N = 1 for
 * unbatched input). */
static inline int cnn__input_nchw(const char *fn, const char *arg, const cnn_tensor *x,
                                  int64_t in[4]) {
    CNN_TRY(cnn__check_input(fn, arg, x, 3, 4, NULL));
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

/* True if a and b have the same ndim and sizes. */
static inline int cnn__same_shape(const cnn_tensor *a, int ndim, const int64_t *shape) {
    if (a->ndim != ndim) return 0;
    for (int d = 0; d < ndim; d++)
        if (a->shape[d] != shape[d]) return 0;
    return 1;
}

#endif /* CNN_OPS_CONV_UTIL_H */
