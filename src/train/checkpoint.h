/* checkpoint.h — training checkpoints (see docs/CHECKPOINTS.md) and the
 * divergence report of the training loop; internal to the library.
 *
 * cnn_train keeps one cnn__ckpt describing its state: the pointers are fixed
 * for the run, the position (epoch, next batch, step, running sums) is set at
 * each save. A checkpoint holds everything the loop needs to continue
 * bit-exactly: parameters and BatchNorm buffers, optimizer buffers and step
 * count, the RNG's four words, the epoch's data order and running sums, and
 * the settings a resumed run must share.
 */
#ifndef CNN_TRAIN_CHECKPOINT_H
#define CNN_TRAIN_CHECKPOINT_H

#include "cnn.h"

#define CNN__CKPT_FORMAT "cnn-checkpoint"
/* 2: the metadata field "model" lists the layers (1 had only their tensors,
 * so a same-shaped model with other layers resumed; 1 is refused by name). */
#define CNN__CKPT_VERSION 2

typedef struct cnn__ckpt {
    /* fixed for the run */
    cnn_model *m;
    const cnn_train_config *cfg;
    const cnn_dataset *train;
    cnn_optim *opt;
    cnn_rng *rng;
    uint32_t *order;          /* train->n: the current epoch's data order */
    int batch_size;           /* effective batch size: min(cfg->batch_size, n) */
    int64_t num_batches;      /* per epoch */
    int64_t schedule_steps;   /* one-cycle's total_steps (0 for other schedules) */
    uint32_t data_crc;        /* crc32 of the training images and labels, once computed */
    int data_crc_done;
    /* position: the next step is batch `batch` (0-based) of epoch `epoch`;
     * batch 0 means the epoch's order is not drawn yet */
    int epoch;
    int64_t batch, step;
    double loss_sum;          /* sum of loss * count over the epoch's batches so far */
    int64_t correct, seen;
} cnn__ckpt;

/* crc32s of what every process of a data-parallel run must share: the
 * model's layers and input shape, the settings, the training data, the
 * parameters and buffers. */
void cnn__ckpt_fingerprint(cnn__ckpt *c, uint32_t fp[4]);
/* crc32 of a dataset's images and labels (the checkpoint's data_crc32). */
uint32_t cnn__dataset_crc(const cnn_dataset *ds);

/* Write the state at the given position to c->cfg->checkpoint, atomically. */
int cnn__ckpt_save_at(cnn__ckpt *c, int epoch, int64_t batch, int64_t step, double loss_sum, int64_t correct,
                      int64_t seen);
/* Read path, check its checksum and that it belongs to this run (model,
 * optimizer, settings, data set), then restore the model's parameters and
 * buffers, the optimizer, the RNG, the data order and c's position. Nothing
 * is changed unless every check passes. */
int cnn__ckpt_load(cnn__ckpt *c, const char *path);

/* The CNN_EDIVERGED failure for a non-finite loss at (epoch, step): names
 * the first layer whose output in the last forward is not finite and the
 * first parameter tensor that is not. epoch and step are 1-based. */
int cnn__diverged(cnn_model *m, double loss, int epoch, int64_t step, int64_t batch, int64_t num_batches);

#endif /* CNN_TRAIN_CHECKPOINT_H */
