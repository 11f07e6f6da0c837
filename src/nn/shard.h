/* shard.h — a batch cut into shards, as the training loop sees the model
 * (src/train/shard.c): a clone per shard that shares the parameters, and the
 * batch-norm sums that join the shards. Internal. */
#ifndef CNN_NN_SHARD_H
#define CNN_NN_SHARD_H

#include "cnn_internal.h"
#include "ops/ops.h"

/* *out <- a model on m's parameters (shared, never copied) with its own
 * gradients, workspace, plan and a copy of m's running statistics; free it
 * with cnn_model_free before m. */
int cnn__model_clone(cnn_model **out, const cnn_model *m);
/* m's batch norms take their sums over the whole batch through sync (NULL: m's own batch). */
void cnn__model_set_sync(cnn_model *m, const cnn__shard_sync *sync);
/* hook(ctx, from) after each step of m's backward: m's gradients from
 * parameter offset from on are final (0 at the end); NULL: none. */
void cnn__model_set_grad_hook(cnn_model *m, void (*hook)(void *ctx, size_t from), void *ctx);
/* 1 if a forward in training needs sums over the whole batch (a batch norm). */
int cnn__model_has_batch_sums(const cnn_model *m);
/* The doubles a cnn__shard_sync's buf needs for m (4c + 1, c the widest batch norm). */
size_t cnn__model_sync_doubles(const cnn_model *m);

#endif /* CNN_NN_SHARD_H */
