/* shard.c — see shard.h. */
#define _GNU_SOURCE /* ucontext (train/fiber.h) */
#include "train/shard.h"

#include "nn/loss.h"

#include <string.h>
#include <time.h>

#define FIBER_STACK ((size_t)8 << 20)  /* mapped lazily: only the pages a forward touches */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cnn__shards_effective(int batch, int shard_size) {
    return shard_size <= 0 || shard_size >= batch ? 0 : shard_size;
}

/* First shard of process q when there are ns shards: ceil(q * ns / P). */
static int first_of(int q, int ns, int procs) { return (int)(((int64_t)q * ns + procs - 1) / procs); }

static int comm_fail(int rc, const char *what) {
    return cnn__fail_context(rc < 0 ? rc : CNN_EIO, "exchanging %s with the other processes", what);
}

static int allgather(cnn__shards *s, const void *send, size_t bytes, void *recv, const char *what) {
    const double t0 = now();
    int rc = s->comm->allgather(s->comm->ctx, send, bytes, recv);
    s->comm_seconds += now() - t0;
    return rc < 0 ? comm_fail(rc, what) : CNN_OK;
}

/* ---- the rounds that join the batch norms of all shards ------------------- */

/* The nl local shards wait with n sums each (nl 0: this process is done, or
 * holds no shard). Every waiting v <- the sums over all shards in shard
 * order. Returns 1 when no process waits any more (the closing round), 0
 * after a round of sums, or a negative status. */
static int round_sums(cnn__shards *s, int nl, int64_t n) {
    cnn__shard *sh = s->sh;
    if (!s->comm) {
        double *t = sh[0].v; /* t = v_0; t += v_j, in order */
        for (int j = 1; j < nl; j++)
            for (int64_t i = 0; i < n; i++) t[i] += sh[j].v[i];
        for (int j = 1; j < nl; j++) memcpy(sh[j].v, t, (size_t)n * sizeof *t);
        return 0;
    }
    const int P = s->procs;
    int64_t mine[2] = {nl > 0, n}, *all = (int64_t *)s->gather;
    CNN_TRY(allgather(s, mine, sizeof mine, all, "batch-norm sums (header)"));
    int64_t want = -1;
    for (int q = 0; q < P; q++) {
        if (!all[2 * q]) continue;
        if (want >= 0 && all[2 * q + 1] != want)
            return cnn__fail(CNN_EPEER, "process %d is at a batch norm of %lld sums, process %d of %lld: the "
                                        "processes run different models",
                             q, (long long)all[2 * q + 1], 0, (long long)want);
        want = all[2 * q + 1];
    }
    if (want < 0) return 1;
    if (nl > 0 && want != n)
        return cnn__fail(CNN_EPEER, "this process is at a batch norm of %lld sums, another of %lld", (long long)n,
                         (long long)want);
    if ((size_t)want > s->sync_doubles) return cnn__fail(CNN_EPEER, "a batch norm of %lld sums", (long long)want);
    const size_t per = (size_t)s->local_max * (size_t)want; /* doubles each process sends */
    memset(s->send, 0, per * sizeof(double));
    for (int j = 0; j < nl; j++) memcpy(s->send + (size_t)j * (size_t)want, sh[j].v, (size_t)want * sizeof(double));
    CNN_TRY(allgather(s, s->send, per * sizeof(double), s->gather, "batch-norm sums"));
    if (nl == 0) return 0;
    double *t = sh[0].v;
    int started = 0;
    for (int q = 0; q < P; q++) {
        const int nq = first_of(q + 1, s->ns, P) - first_of(q, s->ns, P);
        for (int j = 0; j < nq; j++) {
            const double *p = s->gather + (size_t)q * per + (size_t)j * (size_t)want;
            if (!started) memcpy(t, p, (size_t)want * sizeof *t), started = 1;
            else
                for (int64_t i = 0; i < want; i++) t[i] += p[i];
        }
    }
    for (int j = 1; j < nl; j++) memcpy(sh[j].v, t, (size_t)want * sizeof *t);
    return 0;
}

/* cnn__shard_sync's fn: with fibers, wait for the driver's round; else this
 * is the only local shard and the round runs here. */
static void sync_fn(void *ctx, double *v, int64_t n) {
    cnn__shard *h = ctx;
    cnn__shards *s = h->all;
    h->v = v, h->n = n;
    if (s->fibers) {
        cnn__fiber_yield(&h->fiber);
    } else if (s->rc == CNN_OK) {
        int rc = round_sums(s, 1, n);
        if (rc < 0) s->rc = rc;
    }
}

/* ---- one shard ------------------------------------------------------------- */

static void run_shard(void *arg) {
    cnn__shard *h = arg;
    const cnn__shards *s = h->all;
    const float *logits;
    cnn_model_zero_grad(h->m);
    h->rc = cnn_model_forward(h->m, &logits, h->x, h->count, 1, &h->rng);
    if (h->rc < 0) return;
    h->loss_sum = cnn__criterion_forward(h->probs, logits, h->y, h->count, s->classes) * (double)h->count;
    cnn__criterion_backward_shard(h->dlogits, h->probs, h->y, h->count, s->classes, s->total);
    h->rc = cnn_model_backward(h->m, h->dlogits);
    if (h->rc < 0) return;
    cnn_tensor t = {2, {h->count, s->classes, 0, 0}, (float *)logits, 0};
    h->rc = cnn_count_correct(&h->correct, &t, h->y);
}

/* Run this process's shards; with batch norms, through the rounds. */
static int run_local(cnn__shards *s) {
    cnn__shard *sh = s->sh;
    const int nl = s->nl;
    if (!s->fibers) {
        for (int j = 0; j < nl; j++) {
            run_shard(&sh[j]);
            if (sh[j].rc < 0) return sh[j].rc;
            if (s->rc < 0) return s->rc;
        }
    } else {
        for (int j = 0; j < nl; j++) cnn__fiber_start(&sh[j].fiber, run_shard, &sh[j]);
        for (;;) {
            int waiting = 0;
            for (int j = 0; j < nl; j++)
                if (!sh[j].fiber.done) cnn__fiber_resume(&sh[j].fiber);
            for (int j = 0; j < nl; j++) {
                if (sh[j].fiber.done && sh[j].rc < 0) return sh[j].rc;
                waiting += !sh[j].fiber.done;
            }
            if (!waiting) break;
            if (waiting != nl)
                return cnn__fail(CNN_EINVAL, "%d of %d shards finished the step while the others wait at a batch "
                                             "norm", nl - waiting, nl);
            for (int j = 1; j < nl; j++)
                if (sh[j].n != sh[0].n)
                    return cnn__fail(CNN_EINVAL, "shards at batch norms of %lld and %lld sums", (long long)sh[0].n,
                                     (long long)sh[j].n);
            int rc = round_sums(s, nl, sh[0].n);
            if (rc < 0) return rc;
        }
    }
    /* The closing round: serve the others' rounds until no process waits. */
    if (s->comm && s->batch_sums)
        for (;;) {
            int rc = round_sums(s, 0, 0);
            if (rc < 0) return rc;
            if (rc == 1) break;
        }
    return CNN_OK;
}

/* ---- the gradient: a chain along the processes, then a broadcast ---------- */

/* Bucket b of the gradient: the sum so far from the process before, plus
 * this process's shards in order, to the process after; then the last
 * process's sum to all. ctx: the channel (the thread's own with overlap). */
static int chain_bucket(cnn__shards *s, cnn_model *m, const cnn__bucket *b, void *ctx) {
    const cnn_comm *c = s->comm;
    float *go = cnn_model_grads(m) + b->start;
    const size_t len = b->len;
    if (s->nl > 0) {
        if (s->prev >= 0) {
            CNN_TRY(c->recv(ctx, s->bucket, len * sizeof(float), s->prev));
            for (size_t i = 0; i < len; i++) go[i] = s->bucket[i] + go[i];
        }
        for (int j = 1; j < s->nl; j++) {
            const float *gj = cnn_model_grads(s->sh[j].m) + b->start;
            for (size_t i = 0; i < len; i++) go[i] += gj[i];
        }
        if (s->next >= 0) CNN_TRY(c->send(ctx, go, len * sizeof(float), s->next));
    }
    return c->bcast(ctx, go, len * sizeof(float), s->last);
}

/* The overlap thread: at each step, every bucket as soon as it is final. */
static void *chain_thread(void *arg) {
    cnn__shards *s = arg;
    cnn_model *m = s->sh[0].m;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->go && !s->quit) pthread_cond_wait(&s->cond, &s->lock);
        if (s->quit) break;
        s->go = 0;
        pthread_mutex_unlock(&s->lock);
        int rc = CNN_OK;
        for (int k = 0; k < s->n_buckets; k++) {
            pthread_mutex_lock(&s->lock);
            while (s->ready > s->buckets[k].start) pthread_cond_wait(&s->cond, &s->lock);
            pthread_mutex_unlock(&s->lock);
            if (rc == CNN_OK) rc = chain_bucket(s, m, &s->buckets[k], s->comm->grad_ctx);
        }
        pthread_mutex_lock(&s->lock);
        s->chain_rc = rc, s->done = 1;
        pthread_cond_broadcast(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* cnn_model's grad_hook with overlap: shard h's gradients from `from` on are final. */
static void grad_hook(void *ctx, size_t from) {
    cnn__shard *h = ctx;
    cnn__shards *s = h->all;
    pthread_mutex_lock(&s->lock);
    h->done_from = from;
    size_t ready = 0;
    for (int j = 0; j < s->nl; j++)
        if (s->sh[j].done_from > ready) ready = s->sh[j].done_from;
    if (ready < s->ready) s->ready = ready, pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* This step's chain: the processes with shards, in rank order. */
static void chain_roles(cnn__shards *s) {
    const int P = s->procs, r = s->rank;
    s->prev = s->next = -1, s->last = 0;
    for (int q = 0; q < P; q++) {
        if (first_of(q + 1, s->ns, P) == first_of(q, s->ns, P)) continue;
        if (q < r) s->prev = q;
        if (q > r && s->next < 0) s->next = q;
        s->last = q;
    }
}

/* Before the shards run: wake the overlap thread for this step. */
static void chain_start(cnn__shards *s, cnn_model *m) {
    if (!s->comm) return;
    chain_roles(s);
    if (!s->overlap) return;
    const size_t np = cnn_model_num_params(m);
    pthread_mutex_lock(&s->lock);
    for (int j = 0; j < s->nl; j++) s->sh[j].done_from = np;
    s->ready = s->nl > 0 ? np : 0;
    s->done = 0, s->go = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* After the shards ran: m's gradients <- the whole batch's. */
static int chain_finish(cnn__shards *s, cnn_model *m) {
    float *g = cnn_model_grads(m); /* shard 0's: sh[0].m == m */
    const size_t np = cnn_model_num_params(m);
    if (!s->comm) {
        for (int j = 1; j < s->nl; j++) {
            const float *gj = cnn_model_grads(s->sh[j].m);
            for (size_t i = 0; i < np; i++) g[i] += gj[i];
        }
        return CNN_OK;
    }
    const double t0 = now();
    int rc = CNN_OK;
    if (s->overlap) { /* what is left of the thread's work: the exposed time */
        pthread_mutex_lock(&s->lock);
        s->ready = 0;
        pthread_cond_broadcast(&s->cond);
        while (!s->done) pthread_cond_wait(&s->cond, &s->lock);
        rc = s->chain_rc;
        pthread_mutex_unlock(&s->lock);
    } else {
        for (int k = 0; k < s->n_buckets && rc == CNN_OK; k++) rc = chain_bucket(s, m, &s->buckets[k], s->comm->ctx);
    }
    const double dt = now() - t0;
    s->comm_seconds += dt, s->grad_seconds += dt;
    return rc < 0 ? comm_fail(rc, "gradients") : CNN_OK;
}

/* The buckets, last layers first: bytes each (0: one per tensor). */
static int plan_buckets(cnn__shards *s, const cnn_model *m, size_t bytes) {
    const size_t np = cnn_model_num_params(m), per = bytes / sizeof(float);
    size_t *cut = cnn_malloc(((size_t)cnn_model_num_tensors(m) + 2 + (per ? np / per + 1 : 0)) * sizeof *cut);
    if (!cut) return cnn__fail(CNN_ENOMEM, "out of memory for the gradient's buckets");
    int n = 0; /* cuts from the end down: np > cut[1] > ... > 0 */
    cut[n++] = np;
    if (per) {
        for (size_t e = np; e > per; e -= per) cut[n++] = e - per;
    } else {
        for (int t = cnn_model_num_tensors(m) - 1; t >= 0; t--) {
            cnn_param_info info;
            cnn_model_tensor_info(m, t, &info);
            if (info.offset > 0 && info.offset < cut[n - 1]) cut[n++] = info.offset;
        }
    }
    cut[n++] = 0;
    s->buckets = cnn_malloc((size_t)n * sizeof *s->buckets);
    size_t longest = 1;
    for (int k = 0; s->buckets && k + 1 < n; k++) {
        s->buckets[k] = (cnn__bucket){cut[k + 1], cut[k] - cut[k + 1]};
        if (cut[k] - cut[k + 1] > longest) longest = cut[k] - cut[k + 1];
    }
    s->n_buckets = np ? n - 1 : 0;
    cnn_free(cut);
    s->bucket = cnn_malloc(longest * sizeof(float));
    return s->buckets && s->bucket ? CNN_OK : cnn__fail(CNN_ENOMEM, "out of memory for the gradient's buckets");
}

/* Loss and correct count of the batch: the shards' added in shard order. */
static int reduce_stats(cnn__shards *s, double *loss_sum, int64_t *correct) {
    const cnn__shard *sh = s->sh;
    const int P = s->comm ? s->procs : 1, per = 2 * s->local_max;
    double *mine = s->send, *all = s->gather;
    memset(mine, 0, (size_t)per * sizeof *mine);
    for (int j = 0; j < s->nl; j++) mine[2 * j] = sh[j].loss_sum, mine[2 * j + 1] = (double)sh[j].correct;
    if (s->comm) CNN_TRY(allgather(s, mine, (size_t)per * sizeof *mine, all, "losses"));
    else all = mine;
    double loss = 0.0;
    int64_t c = 0;
    for (int q = 0, k = 0; q < P; q++) {
        const int nq = first_of(q + 1, s->ns, P) - first_of(q, s->ns, P);
        for (int j = 0; j < nq; j++, k++) {
            const double *p = all + (size_t)q * (size_t)per + 2 * (size_t)j;
            loss = k ? loss + p[0] : p[0];
            c += (int64_t)p[1];
        }
    }
    *loss_sum = loss, *correct = c;
    return CNN_OK;
}

int cnn__shards_agree(cnn__shards *s, int *v) {
    if (!s->comm) return CNN_OK;
    int64_t mine = *v, *all = (int64_t *)s->gather;
    CNN_TRY(allgather(s, &mine, sizeof mine, all, "the stop flag"));
    for (int q = 0; q < s->procs; q++)
        if (all[q] > *v) *v = (int)all[q];
    return CNN_OK;
}

/* ---- set-up ------------------------------------------------------------------ */

int cnn__shards_init(cnn__shards *s, cnn_model *m, int batch, const cnn_train_config *cfg, const cnn_comm *comm) {
    memset(s, 0, sizeof *s);
    const int shard_size = cfg->shard_size;
    const uint64_t seed = cfg->seed;
    s->comm = comm && comm->size > 1 ? comm : NULL;
    s->rank = s->comm ? comm->rank : 0, s->procs = s->comm ? comm->size : 1;
    s->size = cnn__shards_effective(batch, shard_size);
    if (!s->size) s->size = batch;
    const int n_max = (batch + s->size - 1) / s->size;
    s->local_max = (n_max + s->procs - 1) / s->procs;
    s->batch_sums = cnn__model_has_batch_sums(m);
    s->fibers = s->batch_sums && s->local_max > 1;
    s->classes = cnn_model_num_outputs(m);
    int64_t chw[3];
    cnn_model_input_shape(m, chw);
    s->in_numel = chw[0] * chw[1] * chw[2];
    s->seed = seed;
    s->sync_doubles = cnn__model_sync_doubles(m);
    const size_t per = (size_t)s->local_max * (s->sync_doubles > 2 ? s->sync_doubles : 2);
    s->sh = cnn_calloc((size_t)s->local_max, sizeof *s->sh);
    s->send = cnn_malloc(per * sizeof(double));
    s->gather = cnn_malloc(((size_t)s->procs * per + 2 * (size_t)s->procs) * sizeof(double));
    int rc = s->sh && s->send && s->gather ? CNN_OK : cnn__fail(CNN_ENOMEM, "out of memory for %d shards", s->local_max);
    if (rc == CNN_OK && s->comm) rc = plan_buckets(s, m, cfg->bucket_bytes);
    for (int j = 0; j < s->local_max && rc == CNN_OK; j++) {
        cnn__shard *h = &s->sh[j];
        h->all = s;
        if (j == 0) h->m = m;
        else rc = cnn__model_clone(&h->m, m);
        if (rc == CNN_OK) rc = cnn_model_reserve(h->m, s->size);
        if (rc < 0) break;
        h->sync_buf = cnn_malloc(s->sync_doubles * sizeof(double));
        h->probs = cnn_malloc((size_t)s->size * (size_t)s->classes * sizeof(float));
        h->dlogits = cnn_malloc((size_t)s->size * (size_t)s->classes * sizeof(float));
        if (!h->sync_buf || !h->probs || !h->dlogits) rc = cnn__fail(CNN_ENOMEM, "out of memory for a shard");
        if (rc == CNN_OK && s->fibers) rc = cnn__fiber_init(&h->fiber, FIBER_STACK);
        h->sync = (cnn__shard_sync){sync_fn, h, h->sync_buf, 0};
    }
    if (rc == CNN_OK && s->comm && cfg->overlap && comm->grad_ctx) {
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        s->overlap = pthread_create(&s->thread, NULL, chain_thread, s) == 0;
        for (int j = 0; j < s->local_max && s->overlap; j++) cnn__model_set_grad_hook(s->sh[j].m, grad_hook, &s->sh[j]);
        if (!s->overlap) pthread_mutex_destroy(&s->lock), pthread_cond_destroy(&s->cond);
    }
    if (rc < 0) cnn__shards_free(s);
    return rc;
}

void cnn__shards_free(cnn__shards *s) {
    if (s->overlap) {
        pthread_mutex_lock(&s->lock);
        s->quit = 1;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
        pthread_mutex_destroy(&s->lock), pthread_cond_destroy(&s->cond);
        for (int j = 0; j < s->local_max; j++) cnn__model_set_grad_hook(s->sh[j].m, NULL, NULL);
    }
    for (int j = 0; s->sh && j < s->local_max; j++) {
        cnn__shard *h = &s->sh[j];
        if (j > 0) cnn_model_free(h->m);
        else if (h->m) cnn__model_set_sync(h->m, NULL);
        cnn_free(h->sync_buf), cnn_free(h->probs), cnn_free(h->dlogits);
        cnn__fiber_free(&h->fiber);
    }
    cnn_free(s->sh), cnn_free(s->send), cnn_free(s->gather), cnn_free(s->bucket), cnn_free(s->buckets);
    memset(s, 0, sizeof *s);
}

/* ---- a step ---------------------------------------------------------------- */

/* splitmix64 of the words: the seed of shard g's Dropout at a step */
static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int cnn__shards_step(cnn__shards *s, cnn_model *m, const float *x, const int32_t *y, int count, int64_t step,
                     double *loss_sum, int64_t *correct) {
    s->total = count;
    s->ns = (count + s->size - 1) / s->size;
    s->first = first_of(s->rank, s->ns, s->procs);
    s->nl = first_of(s->rank + 1, s->ns, s->procs) - s->first;
    s->rc = CNN_OK;
    for (int j = 0; j < s->nl; j++) {
        cnn__shard *h = &s->sh[j];
        const int64_t g = s->first + j, start = g * s->size;
        h->x = x + start * s->in_numel, h->y = y + start;
        h->count = (int)(count - start < s->size ? count - start : s->size);
        h->sync.total = count;
        h->loss_sum = 0.0, h->correct = 0, h->rc = CNN_OK;
        cnn_rng_seed(&h->rng, mix(mix(mix(s->seed) ^ (uint64_t)step) ^ (uint64_t)g));
        cnn__model_set_sync(h->m, s->batch_sums ? &h->sync : NULL);
    }
    if (s->nl == 0) cnn_model_zero_grad(m);
    chain_start(s, m);
    int rc = run_local(s);
    if (s->nl > 0) cnn__model_set_sync(s->sh[0].m, NULL);
    /* with overlap, the thread is finished with this step before anything returns */
    const int rc2 = chain_finish(s, m);
    if (rc == CNN_OK) rc = rc2;
    if (rc == CNN_OK) rc = reduce_stats(s, loss_sum, correct);
    return rc;
}
