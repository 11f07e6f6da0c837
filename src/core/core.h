/* core.h — declarations shared by the tensor sources in src/core, and the
 * checks every function that takes a cnn_tensor makes of its arguments (the
 * kernels of src/ops use them too). */
#ifndef CNN_CORE_H
#define CNN_CORE_H

#include "cnn_internal.h"

/* Checks a tensor argument: t non-NULL (CNN_EINVAL); ndim in [min_ndim,
 * max_ndim]; every size in [0, CNN_MAX_NUMEL] (CNN_EINVAL below, CNN_ERANGE
 * above) and at most CNN_MAX_NUMEL elements (CNN_ERANGE); data non-NULL when
 * there are elements (CNN_EINVAL). Another ndim is CNN_ESHAPE ("x has 2
 * dimensions; expected 3 to 4"), except that when any tensor will do (0 to
 * CNN_MAX_DIMS) an ndim outside that is a malformed tensor, CNN_EINVAL.
 * *numel (may be NULL) <- the element count. fn and arg name the function
 * and the argument in messages. */
int cnn__tensor_check_ndim(const char *fn, const char *arg, const cnn_tensor *t, int min_ndim,
                           int max_ndim, int64_t *numel);

/* Any tensor, the empty one (ndim 0) included. */
static inline int cnn__tensor_check(const char *fn, const char *arg, const cnn_tensor *t) {
    return cnn__tensor_check_ndim(fn, arg, t, 0, CNN_MAX_DIMS, NULL);
}

/* Any tensor but the empty one: ndim 0 is CNN_EINVAL, not a shape error. */
static inline int cnn__tensor_check_nonempty(const char *fn, const char *arg, const cnn_tensor *t) {
    CNN_TRY(cnn__tensor_check(fn, arg, t));
    if (t->ndim == 0) return cnn__fail(CNN_EINVAL, "%s: %s is an empty tensor (ndim 0)", fn, arg);
    return CNN_OK;
}

/* 1 if t has ndim dimensions of the sizes shape[0..ndim). */
static inline int cnn__shape_is(const cnn_tensor *t, int ndim, const int64_t *shape) {
    if (t->ndim != ndim) return 0;
    for (int d = 0; d < ndim; d++)
        if (t->shape[d] != shape[d]) return 0;
    return 1;
}

/* b has the shape of a, or CNN_ESHAPE with a message naming both arguments. */
int cnn__tensor_check_same(const char *fn, const char *arg_b, const cnn_tensor *b, const char *arg_a,
                           const cnn_tensor *a);

#endif /* CNN_CORE_H */
