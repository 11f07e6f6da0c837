/* test_shards.c — a batch cut into shards (cnn_train_config.shard_size) and
 * shared by processes (cnn_comm).
 *
 * 1. Shards compute the whole batch's step: batch norms take the statistics
 *    of the whole batch (as SyncBatchNorm does), the loss is the batch's
 *    mean. After a step, the weights and running statistics with shards of
 *    3, 5 and 16 agree with one shard of 16 to float rounding (the sums are
 *    added in another order).
 * 2. Processes give the bits of one process: threads stand in for the
 *    processes here, exchanging through memory (a cnn_comm of barriers and
 *    mailboxes), so the protocol runs under the sanitizers too; 2, 3, 4 and
 *    7 "processes" (7: one holds no shard) train two steps with shards of 3,
 *    and every weight equals the single process's, bit for bit; again with
 *    the gradients in buckets of 4 KiB or one per tensor, sent by a thread
 *    during the backward (overlap) on a channel of their own. */
#include "test_util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { N = 16, HW = 28 };

static uint8_t images[N * HW * HW];
static uint16_t labels[N];
static cnn_dataset data = {N, HW, HW, images, labels, 1, NULL, 0, NULL, NULL};

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

static cnn_model *make_model(const char *name) {
    char path[512];
    snprintf(path, sizeof path, CNN_SOURCE_DIR "/models/%s.txt", name);
    char *text = read_text(path);
    cnn_model *m = NULL;
    CHECK(text != NULL);
    if (text) CHECK_OK(cnn_model_create_from_text(&m, text, path, (int64_t[]){1, HW, HW}));
    free(text);
    if (!m) return NULL;
    cnn_rng rng;
    cnn_rng_seed(&rng, 7);
    cnn_model_init_params(m, CNN_INIT_XAVIER, &rng);
    return m;
}

static void config(cnn_train_config *cfg, int shard, int steps) {
    cnn_train_config_default(cfg);
    cfg->epochs = steps, cfg->batch_size = N, cfg->lr = 0.1f, cfg->momentum = 0.9f, cfg->shuffle = 0;
    cfg->shard_size = shard;
}

/* ---- 1. shards compute the whole batch's step ------------------------------ */

static void shards_match_whole(const char *name) {
    cnn_model *whole = make_model(name);
    if (!whole) return;
    cnn_train_config cfg;
    config(&cfg, 0, 1);
    CHECK_OK(cnn_train(whole, &data, NULL, &cfg, NULL, NULL));
    const int sizes[] = {3, 5, 16};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        cnn_model *m = make_model(name);
        if (!m) continue;
        config(&cfg, sizes[k], 1);
        CHECK_OK(cnn_train(m, &data, NULL, &cfg, NULL, NULL));
        char what[96];
        snprintf(what, sizeof what, "%s: weights after a step in shards of %d vs one of %d", name, sizes[k], N);
        CHECK_CLOSE(what, cnn_model_params(m), cnn_model_params(whole), cnn_model_num_params(m), 1e-4, 1e-6);
        int nb = cnn_model_num_buffers(m);
        for (int i = 0; i < nb; i++) {
            cnn_buffer_info b;
            CHECK_OK(cnn_model_buffer_info(m, i, &b));
            if (b.is_counter) continue;
            snprintf(what, sizeof what, "%s: %s after a step in shards of %d", name, b.name, sizes[k]);
            CHECK_CLOSE(what, cnn_model_buffers(m) + b.offset, cnn_model_buffers(whole) + b.offset, b.numel, 1e-5,
                        1e-6);
        }
        cnn_model_free(m);
    }
    cnn_model_free(whole);
}

/* ---- 2. threads as processes --------------------------------------------- */

enum { MAXP = 8 };

typedef struct {
    int size;
    pthread_barrier_t barrier;
    const void *slot[MAXP];
    /* mailbox[from][to]: one message at a time */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    void *mail[MAXP][MAXP];
    size_t mail_bytes[MAXP][MAXP];
} world;

typedef struct proc {
    world *w;
    int rank;
    cnn_comm comm;
    const char *model;
    int shard, overlap;
    size_t bucket_bytes;
    cnn_model *m;
    int rc;
    struct proc *grad; /* the gradients' channel: the same rank in a world of its own */
} proc;

static int fake_allgather(void *ctx, const void *send, size_t bytes, void *recv) {
    proc *p = ctx;
    world *w = p->w;
    w->slot[p->rank] = send;
    pthread_barrier_wait(&w->barrier);
    for (int q = 0; q < w->size; q++) memcpy((char *)recv + (size_t)q * bytes, w->slot[q], bytes);
    pthread_barrier_wait(&w->barrier);
    return CNN_OK;
}

static int fake_bcast(void *ctx, void *buf, size_t bytes, int root) {
    proc *p = ctx;
    world *w = p->w;
    if (p->rank == root) w->slot[root] = buf;
    pthread_barrier_wait(&w->barrier);
    if (p->rank != root) memcpy(buf, w->slot[root], bytes);
    pthread_barrier_wait(&w->barrier);
    return CNN_OK;
}

static int fake_send(void *ctx, const void *buf, size_t bytes, int to) {
    proc *p = ctx;
    world *w = p->w;
    void *copy = malloc(bytes ? bytes : 1);
    if (!copy) return CNN_ENOMEM;
    memcpy(copy, buf, bytes);
    pthread_mutex_lock(&w->lock);
    while (w->mail[p->rank][to]) pthread_cond_wait(&w->changed, &w->lock);
    w->mail[p->rank][to] = copy, w->mail_bytes[p->rank][to] = bytes;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
    return CNN_OK;
}

static int fake_recv(void *ctx, void *buf, size_t bytes, int from) {
    proc *p = ctx;
    world *w = p->w;
    pthread_mutex_lock(&w->lock);
    while (!w->mail[from][p->rank]) pthread_cond_wait(&w->changed, &w->lock);
    void *msg = w->mail[from][p->rank];
    int ok = w->mail_bytes[from][p->rank] == bytes;
    w->mail[from][p->rank] = NULL;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
    if (ok) memcpy(buf, msg, bytes);
    free(msg);
    return ok ? CNN_OK : CNN_EIO;
}

static void *proc_main(void *arg) {
    proc *p = arg;
    cnn_set_threads(1);
    p->m = make_model(p->model);
    if (!p->m) return NULL;
    cnn_train_config cfg;
    config(&cfg, p->shard, 2);
    cfg.comm = &p->comm;
    cfg.overlap = p->overlap, cfg.bucket_bytes = p->bucket_bytes;
    p->rc = cnn_train(p->m, &data, NULL, &cfg, NULL, NULL);
    if (p->rc < 0) fprintf(stderr, "process %d: %s\n", p->rank, cnn_last_error());
    return NULL;
}

static void world_init(world *w, int procs) {
    memset(w, 0, sizeof *w);
    w->size = procs;
    pthread_barrier_init(&w->barrier, NULL, (unsigned)procs);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->changed, NULL);
}

static void world_free(world *w) {
    pthread_barrier_destroy(&w->barrier);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->changed);
}

static void processes_match_one(const char *name, int procs, int shard, int overlap, size_t bucket_bytes) {
    cnn_model *one = make_model(name);
    if (!one) return;
    cnn_train_config cfg;
    config(&cfg, shard, 2);
    CHECK_OK(cnn_train(one, &data, NULL, &cfg, NULL, NULL));
    world w, wg;
    world_init(&w, procs);
    world_init(&wg, procs);
    proc ps[MAXP], pg[MAXP];
    pthread_t th[MAXP];
    for (int r = 0; r < procs; r++) {
        ps[r] = (proc){&w, r, {r, procs, NULL, fake_allgather, fake_send, fake_recv, fake_bcast, NULL}, name, shard,
                       overlap, bucket_bytes, NULL, 0, &pg[r]};
        pg[r] = ps[r], pg[r].w = &wg;
        ps[r].comm.ctx = &ps[r];
        ps[r].comm.grad_ctx = overlap ? &pg[r] : NULL;
        pthread_create(&th[r], NULL, proc_main, &ps[r]);
    }
    for (int r = 0; r < procs; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < procs; r++) {
        CHECK_OK(ps[r].rc);
        if (!ps[r].m) continue;
        const size_t np = cnn_model_num_params(one);
        size_t diff = 0;
        while (diff < np && memcmp(&cnn_model_params(ps[r].m)[diff], &cnn_model_params(one)[diff], 4) == 0) diff++;
        test__checked++;
        if (diff < np) {
            test__failed++;
            fprintf(stderr, "%s: %d processes, shards of %d: process %d's weight [%zu] is %.9g, one process's %.9g\n",
                    name, procs, shard, r, diff, (double)cnn_model_params(ps[r].m)[diff],
                    (double)cnn_model_params(one)[diff]);
        }
        cnn_model_free(ps[r].m);
    }
    printf("%s: %d processes with shards of %d%s, buckets of %zu bytes: the weights of one process\n", name, procs,
           shard, overlap ? " and overlap" : "", bucket_bytes);
    world_free(&w);
    world_free(&wg);
    cnn_model_free(one);
}

int main(void) {
    uint64_t s = 12345;
    for (size_t i = 0; i < sizeof images; i++) s = s * 6364136223846793005ull + 1442695040888963407ull,
                                                images[i] = (uint8_t)(s >> 56);
    for (int i = 0; i < N; i++) labels[i] = (uint16_t)(i * 7 % 10);
    cnn_set_threads(2);
    shards_match_whole("lenet-bn");
    shards_match_whole("resnet-small");
    shards_match_whole("lenet");
    const int counts[] = {2, 3, 4, 7};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        processes_match_one("lenet-bn", counts[k], 3, 0, 1 << 20);
        processes_match_one("resnet-small", counts[k], 3, 0, 1 << 20);
        processes_match_one("lenet", counts[k], 3, 0, 1 << 20);
    }
    processes_match_one("lenet-bn", 3, 3, 1, 4096);
    processes_match_one("resnet-small", 4, 3, 1, 0);
    processes_match_one("lenet", 2, 3, 1, 0);
    processes_match_one("resnet-small", 7, 3, 1, 4096);
    return test_report();
}
