/* model.h — the model's insides, shared by model.c (building, workspace,
 * forward and backward over the steps) and plan.c (the steps); internal.
 *
 * A step runs one or more consecutive layers. cnn__plan_steps makes the
 * list for a batch size, forward runs it from the first step to the last,
 * backward from the last to the first:
 *
 *   LAYER     one layer, its table entry's forward and backward
 *   CONV_ACT  Conv2d -> activation (-> pooling) in one pass per sample on
 *             the direct kernels (ops/conv2d_direct.c); the Conv2d's output
 *             is never stored (nor, in inference, the activation's when a
 *             pooling follows); with a pooling the backward is one pass too
 *   ACT_POOL  activation -> pooling: forward layer by layer, backward in
 *             one pass (cnn__pool_act_backward)
 *   BN_ACT    BatchNorm2d -> activation, one pass each way
 *   BN_ACT_POOL  BatchNorm2d -> activation -> pooling: after the statistics
 *             one pass forward (the batch norm's output never stored);
 *             backward as ACT_POOL's, then the batch norm's
 *   CONV_BN_ACT  inference only (CNN_EVAL, running statistics): Conv2d ->
 *             BatchNorm2d -> activation (-> pooling) as CONV_ACT, the batch
 *             norm applied to each output before its activation; nothing
 *             before the last output is kept (no backward)
 *   CONV      a Conv2d alone on the direct kernels with its input (X) or
 *             output (Y) in blocks of 8, the layout of the BN_ACT or
 *             BN_ACT_POOL step next to it (whose tensors then all are)
 *
 * The plan depends on the batch size and on whether outputs are kept for a
 * backward (training, CNN_EVAL_GRAD) or not (CNN_EVAL).
 */
#ifndef CNN_NN_MODEL_H
#define CNN_NN_MODEL_H

#include "nn/layer.h"

typedef enum {
    CNN__STEP_LAYER = 0,
    CNN__STEP_CONV_ACT,
    CNN__STEP_ACT_POOL,
    CNN__STEP_BN_ACT,
    CNN__STEP_BN_ACT_POOL,
    CNN__STEP_CONV_BN_ACT,
    CNN__STEP_CONV
} cnn__step_kind;

typedef struct cnn__step {
    cnn__step_kind kind;
    int first, count;     /* the layers [first, first + count) */
    int blk;              /* CONV_ACT: CNN__BLK_X | _A | _P of a training forward; CONV: _X | _Y;
                             BN_ACT, BN_ACT_POOL: _X, every tensor in blocks of 8 */
    cnn_activation act;   /* CONV_ACT, ACT_POOL, BN_ACT, CONV_BN_ACT: the activation layer's */
} cnn__step;

struct cnn_model {
    int n_layers;
    cnn_layer_desc *layers;         /* n_layers */
    cnn__layer_rt *rt;              /* n_layers */
    int64_t in_chw[3];
    int64_t in_numel;               /* C*H*W */
    size_t n_params;
    float *params, *grads;          /* n_params each */
    int n_tensors;
    cnn_param_info *tensors;        /* n_tensors */
    size_t n_bufs, n_counters;
    float *bufs;                    /* n_bufs: running statistics */
    int64_t *counters;              /* n_counters: num_batches_tracked */
    int n_binfo;
    cnn_buffer_info *binfo;         /* n_binfo */
    /* workspace, planned by cnn_model_reserve for up to max_batch examples */
    int max_batch;
    cnn_isa isa;                    /* the kernels' instruction set it was planned for */
    float *arena;                   /* one allocation: outputs, regions, the buffers below */
    const float **act;              /* n_layers + 1: act[i] is layer i's input, NULL if not kept */
    float *grad_a, *grad_b;         /* ping-pong activation gradients, (batch, largest) */
    float *ws;                      /* kernel scratch */
    float *bscratch;                /* backward scratch of the layers that ask for it */
    /* the steps (n_layers at most), planned for plan_batch examples and
     * whether the outputs are kept for a backward (plan_keep) */
    cnn__step *steps;
    int n_steps, plan_batch, plan_keep;
    int batch;                      /* batch of the last forward; 0 if none */
    int train;                      /* mode of the last forward */
    int dropped;                    /* the last forward (CNN_EVAL) may have kept no output of some layers */
    /* a shard of a batch (src/train/shard.c): batch-norm sums over the whole
     * batch; NULL for a model of its own */
    const cnn__shard_sync *sync;
    /* told, after each step's backward, that the gradients from offset from
     * on are final (data-parallel overlap, src/train/shard.c); may be NULL */
    void (*grad_hook)(void *ctx, size_t from);
    void *grad_hook_ctx;
    int borrowed;                   /* params, layers, tensors and binfo are another model's */
};

/* steps[] (room for m->n_layers) <- the steps for batches of batch
 * examples whose outputs are kept for a backward (keep) or not (inference);
 * returns their number. */
int cnn__plan_steps(const cnn_model *m, int batch, int keep, cnn__step *steps);
/* 1 when no plan stores layer i's output (it then has no buffer) */
int cnn__plan_output_unused(const cnn_model *m, int i);
/* Run step s forward: m->act[] of its layers' outputs. */
int cnn__step_forward(cnn_model *m, const cnn__run *r, const cnn__step *s);
/* Run step s backward from dy, the gradient of its last layer's output;
 * returns the gradient of its first layer's input (NULL for the model's input). */
const float *cnn__step_backward(cnn_model *m, const cnn__run *r, const cnn__step *s, const float *dy);
/* Prefix the current error message with layer i's place ("line 3:5: layer 2 (Conv2d)"). */
int cnn__layer_fail(int rc, const cnn_layer_desc *l, int i);

#endif /* CNN_NN_MODEL_H */
