/* loss.c — nn.CrossEntropyLoss for the training loop (see loss.h), on the
 * cross-entropy kernels of ops/loss.c. */
#include "nn/loss.h"

#include "ops/ops.h"

double cnn__criterion_forward(float *probs, const float *logits, const int32_t *y, int64_t n, int64_t c) {
    return cnn__cross_entropy_forward(probs, logits, y, n, c);
}

void cnn__criterion_backward(float *dlogits, const float *probs, const int32_t *y, int64_t n, int64_t c) {
    cnn__cross_entropy_backward(dlogits, probs, y, n, c, 1.0f / (float)n);
}

void cnn__criterion_backward_shard(float *dlogits, const float *probs, const int32_t *y, int64_t n, int64_t c,
                                   int64_t total) {
    cnn__cross_entropy_backward(dlogits, probs, y, n, c, 1.0f / (float)total);
}
