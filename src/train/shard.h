/* shard.h — one training step over a batch cut into shards, shared by one
 * process or many (data-parallel over cnn_comm); internal to the library.
 *
 * A batch of B examples is cut into ceil(B / size) shards of size examples
 * (the last may be smaller). Shard g belongs to process floor(g * P / S) of
 * P, so each process holds a run of consecutive shards and process 0 holds
 * shard 0. Each shard runs forward and backward on a model of its own that
 * shares the parameters; batch norms meet at a round that adds every
 * shard's sums in shard order; the gradient is
 *   ((g_0 + g_1) + g_2) + ... + g_{S-1}
 * element by element, built up along the processes in rank order (each adds
 * its shards to what the one before sent) and broadcast by the last. Every
 * float is therefore the same for any P and any thread count.
 */
#ifndef CNN_TRAIN_SHARD_H
#define CNN_TRAIN_SHARD_H

#include "cnn_internal.h"
#include "nn/shard.h"
#include "train/fiber.h"

#include <pthread.h>

typedef struct cnn__shard {
    struct cnn__shards *all;
    cnn_model *m;              /* shard 0: the model itself; others: clones */
    cnn__shard_sync sync;
    double *sync_buf;
    cnn_rng rng;               /* Dropout's, seeded by (seed, step, shard) */
    float *probs, *dlogits;    /* (size, classes) */
    cnn__fiber fiber;
    /* this step */
    const float *x;
    const int32_t *y;
    int count;
    double *v;                 /* waiting at a round: its n sums */
    int64_t n;
    double loss_sum;
    int64_t correct;
    int rc;
    size_t done_from;          /* its gradients from this offset on are final */
} cnn__shard;

typedef struct cnn__bucket {
    size_t start, len;         /* floats of the gradient */
} cnn__bucket;

typedef struct cnn__shards {
    const cnn_comm *comm;      /* NULL: one process */
    int rank, procs;
    int size;                  /* examples per shard */
    int local_max;             /* shards a process holds at most */
    int batch_sums;            /* the model has batch norms: rounds */
    int fibers;                /* more than one local shard meets at the rounds */
    int64_t classes, in_numel;
    uint64_t seed;
    int64_t total;             /* this step's batch */
    int ns, first, nl;         /* this step: shards, this process's first and count */
    cnn__shard *sh;            /* local_max */
    size_t sync_doubles;
    double *send, *gather;     /* a round's exchange: local_max * sync_doubles, procs times that */
    float *bucket;             /* the part of the gradient in flight */
    cnn__bucket *buckets;      /* in the order they go: the last layers' first */
    int n_buckets;
    int prev, next, last;      /* this step's chain: the processes before and after, the last */
    int rc;                    /* the first failure of a round */
    double comm_seconds, grad_seconds;
    /* overlap: a thread sends each bucket once every local shard's backward made it */
    int overlap;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t ready;              /* the gradients from here on are final on every local shard */
    int go, done, quit, chain_rc;
} cnn__shards;

/* Plan shards of cfg->shard_size (0: the whole batch) for batches of up to
 * batch examples of m on comm (NULL: this process alone), with cfg's seed,
 * buckets and overlap. */
int cnn__shards_init(cnn__shards *s, cnn_model *m, int batch, const cnn_train_config *cfg, const cnn_comm *comm);
void cnn__shards_free(cnn__shards *s);
/* The shard size in effect: 0 when a batch is one shard. */
int cnn__shards_effective(int batch, int shard_size);
/* One step: m's gradients <- those of the mean loss over the batch x (count,
 * ...), y; *loss_sum and *correct over the whole batch. */
int cnn__shards_step(cnn__shards *s, cnn_model *m, const float *x, const int32_t *y, int count, int64_t step,
                     double *loss_sum, int64_t *correct);
/* The largest of every process's v: what all of them agree on (a stop). */
int cnn__shards_agree(cnn__shards *s, int *v);

#endif /* CNN_TRAIN_SHARD_H */
