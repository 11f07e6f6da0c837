/* core.h — declarations shared by the tensor sources in src/core. */
#ifndef CNN_CORE_H
#define CNN_CORE_H

#include "cnn_internal.h"

/* Checks a tensor's structure: t non-NULL, ndim 0..4 (0 = empty), sizes >= 0,
 * at most CNN_MAX_NUMEL elements, data non-NULL when there are elements.
 * fn and arg name the caller and the argument in the message. */
int cnn__tensor_check(const char *fn, const char *arg, const cnn_tensor *t);

#endif /* CNN_CORE_H */
