/* loss.h — the training criterion as the training loop sees it:
 * nn.CrossEntropyLoss (mean reduction) on a model's logits. The loop reaches
 * the kernels of ops/ only through nn/ (floors: train -> nn -> ops). */
#ifndef CNN_NN_LOSS_H
#define CNN_NN_LOSS_H

#include "cnn_internal.h"

/* loss = mean_n(logsumexp(z_n) - z_n[y_n]) over logits z (n, c), in double;
 * probs (n, c) <- softmax(z), kept for the backward. Labels in [0, c). */
double cnn__criterion_forward(float *probs, const float *logits, const int32_t *y, int64_t n, int64_t c);
/* dlogits (n, c) = (probs - onehot(y)) / n: the gradient of the mean loss. */
void cnn__criterion_backward(float *dlogits, const float *probs, const int32_t *y, int64_t n, int64_t c);
/* The same for a shard of n examples of a batch of total: (probs - onehot(y)) / total. */
void cnn__criterion_backward_shard(float *dlogits, const float *probs, const int32_t *y, int64_t n, int64_t c,
                                   int64_t total);

#endif /* CNN_NN_LOSS_H */
