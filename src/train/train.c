/* train.c — d2l's train_ch6 and evaluate_accuracy: minibatch SGD (or Adam,
 * AdamW) with cross-entropy over a dataset, running loss/accuracy, test
 * accuracy per epoch; optional learning-rate schedule, gradient clipping and
 * random flips / crops of the training images.
 *
 * Every buffer is allocated before the first step; the loop itself allocates
 * nothing. The seeded generator drives the shuffle (a fresh permutation per
 * epoch, as DataLoader(shuffle=True)) and Dropout, so a seed fixes the run.
 */
#include "cnn_internal.h"
#include "nn/loss.h"
#include "train/checkpoint.h"
#include "train/shard.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void cnn_train_config_default(cnn_train_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->epochs = 10;
    cfg->batch_size = 256;
    cfg->lr = 0.9f;
    cfg->shuffle = 1;
    cfg->optimizer = CNN_OPTIM_SGD;
    cfg->beta1 = 0.9f, cfg->beta2 = 0.999f, cfg->eps = 1e-8f;
    cfg->schedule = CNN_SCHEDULE_NONE;
    cfg->step_size = 1;
    cfg->gamma = 0.1f;
    cfg->shard_size = 128;
    cfg->bucket_bytes = (size_t)1 << 20;
}

/* torchvision's RandomHorizontalFlip(0.5) then RandomCrop(size, padding=pad)
 * on each (c, h, w) image of x, drawing from rng (one flip and one crop per
 * image, every channel alike); tmp holds h*w floats. */
static void cnn__augment(float *x, float *tmp, int count, int64_t c, int64_t h, int64_t w, int flip, int pad,
                         cnn_rng *rng) {
    for (int k = 0; k < count; k++) {
        float *im = x + (size_t)k * (size_t)(c * h * w);
        if (flip && cnn_rng_uniform(rng) < 0.5f)
            for (int64_t ch = 0; ch < c; ch++) {
                float *img = im + ch * h * w;
                for (int64_t i = 0; i < h; i++)
                    for (int64_t j = 0; j < w / 2; j++) {
                        float t = img[i * w + j];
                        img[i * w + j] = img[i * w + w - 1 - j];
                        img[i * w + w - 1 - j] = t;
                    }
            }
        if (pad > 0) {
            /* top-left corner of the crop in the padded image: uniform in [0, 2 pad] */
            int64_t di = (int64_t)cnn_rng_below(rng, (uint64_t)(2 * pad + 1)) - pad;
            int64_t dj = (int64_t)cnn_rng_below(rng, (uint64_t)(2 * pad + 1)) - pad;
            for (int64_t ch = 0; ch < c; ch++) {
                float *img = im + ch * h * w;
                for (int64_t i = 0; i < h; i++)
                    for (int64_t j = 0; j < w; j++) {
                        int64_t si = i + di, sj = j + dj;
                        tmp[i * w + j] = si >= 0 && si < h && sj >= 0 && sj < w ? img[si * w + sj] : 0.0f;
                    }
                memcpy(img, tmp, (size_t)(h * w) * sizeof *img);
            }
        }
    }
}

/* torchvision's Normalize: x = (x - mean[c]) / std[c] on (count, c, plane) */
static void cnn__normalize(float *x, int count, int64_t c, int64_t plane, const float *mean, const float *std) {
    for (int k = 0; k < count; k++)
        for (int64_t ch = 0; ch < c; ch++) {
            float *p = x + ((int64_t)k * c + ch) * plane;
            const float m = mean[ch], s = std[ch];
            for (int64_t i = 0; i < plane; i++) p[i] = (p[i] - m) / s;
        }
}

static double cnn__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The model's output is one vector of class scores per example, (N, C):
 * nn.CrossEntropyLoss takes (N, C, d1, ...) only with targets (N, d1, ...),
 * and an image has one label, so a Conv2d's (N, C, H, W) output is refused
 * rather than read as C*H*W classes. needs: what needs the scores. */
static int cnn__check_output(const cnn_model *m, const char *needs) {
    int n = cnn_model_num_layers(m), ndim = 0;
    int64_t shape[CNN_MAX_DIMS];
    if (n <= 0) return cnn__fail(CNN_EINVAL, "the model has no layers");
    CNN_TRY(cnn_model_layer_shape(m, n - 1, &ndim, shape));
    if (ndim == 2) return CNN_OK;
    if (ndim < 2)
        return cnn__fail(CNN_ESHAPE,
                         "the model's output is %lld values for a batch of 1, with no dimension per example "
                         "(a Flatten(start_dim=0)?); %s needs a vector of class scores per example "
                         "(add nn.Flatten() and nn.Linear)",
                         (long long)(ndim == 1 ? shape[0] : 1), needs);
    char dims[96] = "";
    size_t k = 0;
    for (int d = 1; d < ndim && k < sizeof dims; d++)
        k += (size_t)snprintf(dims + k, sizeof dims - k, d > 1 ? "x%lld" : "%lld", (long long)shape[d]);
    return cnn__fail(CNN_ESHAPE,
                     "the model's output is %s per example; %s needs a vector of class scores "
                     "(add nn.Flatten() and nn.Linear)",
                     dims, needs);
}

/* Checks shared by training and evaluation: the data fit the model. The
 * message names the data's file (ds->source) where there is one. */
static int cnn__check_data(const cnn_model *m, const cnn_dataset *ds, const char *what, int resize, int resize_w) {
    int64_t chw[3];
    cnn_model_input_shape(m, chw);
    if (!ds || (!ds->images && !ds->fimages) || !ds->labels || ds->n <= 0)
        return cnn__fail(CNN_EINVAL, "%s set is empty", what);
    if (resize < 0 || resize > (1 << 16) || resize_w < 0 || resize_w > (1 << 16))
        return cnn__fail(CNN_ERANGE, "resize to %dx%d, expected 0..%d", resize, resize_w, 1 << 16);
    const char *src = ds->source ? ds->source : what, *sep = ds->source ? ": " : " ";
    const int64_t c = cnn_dataset_channels(ds), h = resize ? resize : ds->h,
                  w = resize ? (resize_w ? resize_w : resize) : ds->w;
    if (chw[0] != c || chw[1] != h || chw[2] != w)
        return cnn__fail(CNN_ESHAPE, "%s%simages are %lldx%lldx%lld%s but the model expects %lldx%lldx%lld", src, sep,
                         (long long)c, (long long)h, (long long)w, resize ? " (resized)" : "", (long long)chw[0],
                         (long long)chw[1], (long long)chw[2]);
    int64_t outputs = cnn_model_num_outputs(m);
    if (ds->num_classes > 0 && ds->num_classes != outputs)
        return cnn__fail(CNN_ESHAPE, "%s%sthe data has %lld classes but the model has %lld outputs", src, sep,
                         (long long)ds->num_classes, (long long)outputs);
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->labels[i] >= outputs)
            return cnn__fail(CNN_ERANGE, "%s%slabel #%lld is %d but the model has only %lld outputs", src, sep,
                             (long long)i, ds->labels[i], (long long)outputs);
    return CNN_OK;
}

typedef struct {
    float *x;        /* (batch, C, H, W) */
    int32_t *y;      /* (batch) */
    float *probs;    /* (batch, classes) */
    float *dlogits;  /* (batch, classes) */
    uint32_t *order; /* (n) */
    float *tmp;      /* (H, W): one plane, for random crops */
    float *raw;      /* (batch, c, h, w): images before resizing, or NULL */
} cnn__train_bufs;

static void cnn__bufs_free(cnn__train_bufs *b) {
    cnn_free(b->x), cnn_free(b->y), cnn_free(b->probs), cnn_free(b->dlogits), cnn_free(b->order), cnn_free(b->tmp),
        cnn_free(b->raw);
}

static int cnn__batch_resized(float *x, float *tmp, int32_t *y, const cnn_dataset *ds, const uint32_t *order,
                              int64_t start, int count, int resize, int resize_w) {
    if (!resize) return cnn_dataset_batch(x, y, ds, order, start, count);
    if (!tmp) return cnn__fail(CNN_EINVAL, "cnn_dataset_batch_resized: tmp is NULL");
    CNN_TRY(cnn_dataset_batch(tmp, y, ds, order, start, count));
    return cnn_resize_bilinear(x, tmp, count * cnn_dataset_channels(ds), ds->h, ds->w, resize,
                               resize_w ? resize_w : resize);
}

int cnn_dataset_batch_resized(float *x, float *tmp, int32_t *y, const cnn_dataset *ds, const uint32_t *order,
                              int64_t start, int count, int resize) {
    return cnn__batch_resized(x, tmp, y, ds, order, start, count, resize, 0);
}

static int cnn__check_norm(const cnn_train_config *cfg, int64_t c) {
    if (!cfg->normalize) return CNN_OK;
    if (c > CNN_MAX_NORM_CHANNELS)
        return cnn__fail(CNN_ERANGE, "normalize: %lld channels, at most %d", (long long)c, CNN_MAX_NORM_CHANNELS);
    for (int64_t k = 0; k < c; k++)
        if (!isfinite(cfg->mean[k]) || !(cfg->std[k] > 0.0f) || !isfinite(cfg->std[k]))
            return cnn__fail(CNN_ERANGE, "normalize: channel %lld: mean %g, std %g; expected finite values, std > 0",
                             (long long)k, (double)cfg->mean[k], (double)cfg->std[k]);
    return CNN_OK;
}

int cnn_dataset_batch_prep(float *x, float *tmp, int32_t *y, const cnn_dataset *ds, const uint32_t *order,
                           int64_t start, int count, const cnn_train_config *cfg) {
    if (!cfg) return cnn_dataset_batch(x, y, ds, order, start, count);
    const int64_t c = cnn_dataset_channels(ds);
    CNN_TRY(cnn__check_norm(cfg, c));
    CNN_TRY(cnn__batch_resized(x, tmp, y, ds, order, start, count, cfg->resize, cfg->resize_w));
    if (cfg->normalize) {
        const int64_t h = cfg->resize ? cfg->resize : ds->h;
        const int64_t w = cfg->resize ? (cfg->resize_w ? cfg->resize_w : cfg->resize) : ds->w;
        cnn__normalize(x, count, c, h * w, cfg->mean, cfg->std);
    }
    return CNN_OK;
}

int cnn_dataset_mean_std(const cnn_dataset *ds, float *mean, float *std) {
    if (!ds || !mean || !std || (!ds->images && !ds->fimages) || ds->n <= 0)
        return cnn__fail(CNN_EINVAL, "cnn_dataset_mean_std: empty dataset or NULL argument");
    const int64_t c = cnn_dataset_channels(ds), plane = ds->h * ds->w;
    if (c > CNN_MAX_NORM_CHANNELS)
        return cnn__fail(CNN_ERANGE, "cnn_dataset_mean_std: %lld channels, at most %d", (long long)c,
                         CNN_MAX_NORM_CHANNELS);
    for (int64_t ch = 0; ch < c; ch++) {
        double sum = 0.0, sq = 0.0;
#pragma omp parallel for reduction(+ : sum, sq) schedule(static)
        for (int64_t i = 0; i < ds->n; i++) {
            const int64_t off = (i * c + ch) * plane;
            for (int64_t p = 0; p < plane; p++) {
                double v = ds->fimages ? (double)ds->fimages[off + p] : (double)((float)ds->images[off + p] / 255.0f);
                sum += v, sq += v * v;
            }
        }
        const double cnt = (double)ds->n * (double)plane, m = sum / cnt;
        double var = sq / cnt - m * m;
        mean[ch] = (float)m;
        std[ch] = (float)sqrt(var > 0.0 ? var : 0.0);
        if (!(std[ch] > 0.0f)) std[ch] = 1.0f; /* a constant channel: only centre it */
    }
    return CNN_OK;
}

static int cnn__bufs_init(cnn__train_bufs *b, const cnn_model *m, int batch, int64_t n_order, const cnn_dataset *ds,
                          int resize) {
    int64_t chw[3];
    cnn_model_input_shape(m, chw);
    size_t bs = (size_t)batch, c = (size_t)cnn_model_num_outputs(m);
    memset(b, 0, sizeof *b);
    b->x = cnn_malloc(bs * (size_t)(chw[0] * chw[1] * chw[2]) * sizeof(float));
    b->y = cnn_malloc(bs * sizeof(int32_t));
    b->probs = cnn_malloc(bs * c * sizeof(float));
    b->dlogits = cnn_malloc(bs * c * sizeof(float));
    b->order = n_order ? cnn_malloc((size_t)n_order * sizeof(uint32_t)) : NULL;
    b->tmp = n_order ? cnn_malloc((size_t)(chw[1] * chw[2]) * sizeof(float)) : NULL;
    b->raw = resize ? cnn_malloc(bs * (size_t)(cnn_dataset_channels(ds) * ds->h * ds->w) * sizeof(float)) : NULL;
    if (!b->x || !b->y || !b->probs || !b->dlogits || (n_order && (!b->order || !b->tmp)) || (resize && !b->raw)) {
        cnn__bufs_free(b);
        return cnn__fail(CNN_ENOMEM, "out of memory for batch buffers (batch %d)", batch);
    }
    return CNN_OK;
}

int cnn_evaluate(cnn_model *m, const cnn_dataset *ds, int batch_size, double *accuracy) {
    return cnn_evaluate_resized(m, ds, batch_size, 0, accuracy);
}

int cnn_evaluate_resized(cnn_model *m, const cnn_dataset *ds, int batch_size, int resize, double *accuracy) {
    cnn_train_config cfg;
    cnn_train_config_default(&cfg);
    cfg.batch_size = batch_size;
    cfg.resize = resize;
    return cnn_evaluate_config(m, ds, &cfg, accuracy);
}

/* With comm, process r evaluates batches r, r + P, ... and the counts are
 * added: each batch is the one a single process would evaluate. */
static int cnn__evaluate(cnn_model *m, const cnn_dataset *ds, const cnn_train_config *cfg, const cnn_comm *comm,
                         double *accuracy);

int cnn_evaluate_config(cnn_model *m, const cnn_dataset *ds, const cnn_train_config *cfg, double *accuracy) {
    return cnn__evaluate(m, ds, cfg, NULL, accuracy);
}

static int cnn__evaluate(cnn_model *m, const cnn_dataset *ds, const cnn_train_config *cfg, const cnn_comm *comm,
                         double *accuracy) {
    if (!m || !accuracy || !cfg) return cnn__fail(CNN_EINVAL, "cnn_evaluate: NULL argument");
    const int batch_size = cfg->batch_size;
    if (batch_size <= 0) return cnn__fail(CNN_ERANGE, "cnn_evaluate: batch size %d, expected >= 1", batch_size);
    CNN_TRY(cnn__check_output(m, "accuracy"));
    CNN_TRY(cnn__check_data(m, ds, "evaluation", cfg->resize, cfg->resize_w));
    CNN_TRY(cnn__check_norm(cfg, cnn_dataset_channels(ds)));
    int bs = (int64_t)batch_size > ds->n ? (int)ds->n : batch_size;
    cnn__train_bufs b;
    CNN_TRY(cnn_model_reserve(m, bs));
    CNN_TRY(cnn__bufs_init(&b, m, bs, 0, ds, cfg->resize));
    int64_t classes = cnn_model_num_outputs(m), correct = 0;
    int rc = CNN_OK;
    const int64_t stride = comm ? (int64_t)bs * comm->size : bs;
    for (int64_t start = comm ? (int64_t)bs * comm->rank : 0; start < ds->n && rc == CNN_OK; start += stride) {
        int count = (int)(ds->n - start < bs ? ds->n - start : bs);
        const float *logits;
        rc = cnn_dataset_batch_prep(b.x, b.raw, b.y, ds, NULL, start, count, cfg);
        if (rc == CNN_OK) rc = cnn_model_forward(m, &logits, b.x, count, 0, NULL);
        if (rc == CNN_OK) {
            cnn_tensor t = {2, {count, classes, 0, 0}, (float *)logits, 0};
            int64_t c;
            rc = cnn_count_correct(&c, &t, b.y);
            correct += c;
        }
    }
    cnn__bufs_free(&b);
    if (rc == CNN_OK && comm) {
        int64_t *all = cnn_malloc((size_t)comm->size * sizeof *all);
        rc = all ? comm->allgather(comm->ctx, &correct, sizeof correct, all)
                 : cnn__fail(CNN_ENOMEM, "out of memory for %d counts", comm->size);
        if (rc < 0 && all) rc = cnn__fail_context(rc, "exchanging test counts with the other processes");
        for (int q = 0; rc == CNN_OK && q < comm->size; q++) correct = q ? correct + all[q] : all[0];
        cnn_free(all);
    }
    if (rc == CNN_OK) *accuracy = (double)correct / (double)ds->n;
    return rc;
}

/* ---- more than one process ------------------------------------------------- */

/* Every process has what process 0 has, or CNN_EPEER naming the first that does not. */
static int cnn__check_peers(cnn__ckpt *ck, const cnn_dataset *test, const cnn_comm *comm) {
    enum { K = 7 };
    static const char *const what[K] = {
        "the model (--model, input shape)", "the settings", "the training data (--data)",
        "the weights it starts from (--init, --seed, --resume)", "the test data (--data)",
        "the instruction set or cnn version (--isa)", "the point training resumes from (--resume)"};
    uint32_t mine[K];
    cnn__ckpt_fingerprint(ck, mine);
    mine[4] = test ? cnn__dataset_crc(test) : 0;
    char isa[64];
    snprintf(isa, sizeof isa, "%s %s", cnn_isa_name(cnn_get_isa()), cnn_version());
    mine[5] = cnn__crc32(0, isa, strlen(isa));
    const int64_t pos[3] = {ck->epoch, ck->batch, ck->step};
    mine[6] = cnn__crc32(cnn__crc32(0, pos, sizeof pos), ck->rng, sizeof *ck->rng);
    uint32_t *all = cnn_malloc((size_t)comm->size * sizeof mine);
    if (!all) return cnn__fail(CNN_ENOMEM, "out of memory for %d processes' checksums", comm->size);
    int rc = comm->allgather(comm->ctx, mine, sizeof mine, all);
    if (rc < 0) rc = cnn__fail_context(rc, "exchanging checksums with the other processes");
    for (int q = 1; rc == CNN_OK && q < comm->size; q++)
        for (int k = 0; k < K && rc == CNN_OK; k++)
            if (all[q * K + k] != all[k])
                rc = cnn__fail(CNN_EPEER,
                               "process %d of %d differs from process 0 in %s (crc32 %08" PRIx32 ", process 0: "
                               "%08" PRIx32 "); every process must run the same command on the same files",
                               q, comm->size, what[k], all[q * K + k], all[k]);
    cnn_free(all);
    return rc;
}

/* The running statistics (BatchNorm's buffers) of process 0 to every process. */
static int cnn__share_buffers(cnn_model *m, const cnn_comm *comm) {
    size_t nb = 0, nc = 0;
    for (int i = 0; i < cnn_model_num_buffers(m); i++) {
        cnn_buffer_info b;
        cnn_model_buffer_info(m, i, &b);
        size_t *end = b.is_counter ? &nc : &nb;
        if (b.offset + b.numel > *end) *end = b.offset + b.numel;
    }
    int rc = nb ? comm->bcast(comm->ctx, cnn_model_buffers(m), nb * sizeof(float), 0) : CNN_OK;
    if (rc == CNN_OK && nc) rc = comm->bcast(comm->ctx, cnn_model_counters(m), nc * sizeof(int64_t), 0);
    return rc < 0 ? cnn__fail_context(rc, "sharing the running statistics with the other processes") : CNN_OK;
}

/* Process 0 writes the checkpoint; every process learns whether it could. */
static int cnn__ckpt_save_lead(cnn__ckpt *ck, const cnn_comm *comm, int epoch, int64_t batch, int64_t step,
                               double loss_sum, int64_t correct, int64_t seen) {
    int rc = CNN_OK;
    if (!comm || comm->rank == 0) rc = cnn__ckpt_save_at(ck, epoch, batch, step, loss_sum, correct, seen);
    if (!comm) return rc;
    int64_t v = rc;
    int rc2 = comm->bcast(comm->ctx, &v, sizeof v, 0);
    if (rc2 < 0) return cnn__fail_context(rc2, "sharing the checkpoint's status with the other processes");
    if (comm->rank != 0 && v < 0)
        return cnn__fail(CNN_EPEER, "process 0 could not write the checkpoint %s", ck->cfg->checkpoint);
    return rc;
}

int cnn_train(cnn_model *m, const cnn_dataset *train, const cnn_dataset *test,
              const cnn_train_config *cfg, cnn_train_callback cb, void *user) {
    if (!m || !cfg) return cnn__fail(CNN_EINVAL, "cnn_train: NULL argument");
    if (cfg->epochs <= 0) return cnn__fail(CNN_ERANGE, "cnn_train: epochs %d, expected >= 1", cfg->epochs);
    if (cfg->batch_size <= 0 || cfg->batch_size > (1 << 20))
        return cnn__fail(CNN_ERANGE, "cnn_train: batch size %d, expected 1..%d", cfg->batch_size, 1 << 20);
    if (cfg->max_steps < 0)
        return cnn__fail(CNN_ERANGE, "cnn_train: max steps %lld, expected >= 0", (long long)cfg->max_steps);
    CNN_TRY(cnn__check_output(m, "cross-entropy"));
    CNN_TRY(cnn__check_data(m, train, "training", cfg->resize, cfg->resize_w));
    if (test) CNN_TRY(cnn__check_data(m, test, "test", cfg->resize, cfg->resize_w));
    CNN_TRY(cnn__check_norm(cfg, cnn_dataset_channels(train)));
    if (train->n > UINT32_MAX) return cnn__fail(CNN_ERANGE, "cnn_train: %lld examples, too many", (long long)train->n);
    if (cfg->schedule < CNN_SCHEDULE_NONE || cfg->schedule > CNN_SCHEDULE_ONECYCLE)
        return cnn__fail(CNN_EINVAL, "cnn_train: unknown schedule %d", (int)cfg->schedule);
    if (cfg->schedule == CNN_SCHEDULE_STEP && cfg->step_size < 1)
        return cnn__fail(CNN_ERANGE, "cnn_train: step size %d, expected >= 1", cfg->step_size);
    if (!(cfg->clip_grad_norm >= 0.0f) || !(cfg->gamma >= 0.0f) || !(cfg->max_lr >= 0.0f) ||
        !isfinite(cfg->clip_grad_norm) || !isfinite(cfg->gamma) || !isfinite(cfg->max_lr))
        return cnn__fail(CNN_ERANGE, "cnn_train: clip_grad_norm %g, gamma %g, max_lr %g; expected finite values >= 0",
                         (double)cfg->clip_grad_norm, (double)cfg->gamma, (double)cfg->max_lr);
    if (cfg->random_crop < 0 || cfg->random_crop > 1 << 16)
        return cnn__fail(CNN_ERANGE, "cnn_train: random crop padding %d, expected 0..%d", cfg->random_crop, 1 << 16);

    const int bs = (int64_t)cfg->batch_size > train->n ? (int)train->n : cfg->batch_size;
    const int64_t n = train->n, num_batches = (n + bs - 1) / bs;
    cnn__train_bufs b;
    cnn_rng rng;
    cnn_optim opt = cnn_optim_make(cfg->optimizer, cfg->lr);
    opt.momentum = cfg->momentum, opt.nesterov = cfg->nesterov, opt.weight_decay = cfg->weight_decay;
    opt.beta1 = cfg->beta1, opt.beta2 = cfg->beta2, opt.eps = cfg->eps;
    cnn_schedule sched = {cfg->schedule, cfg->lr, cfg->step_size, cfg->gamma, cfg->epochs,
                          cfg->max_lr > 0.0f ? cfg->max_lr : cfg->lr, (int64_t)cfg->epochs * num_batches};
    if (cfg->schedule == CNN_SCHEDULE_ONECYCLE && cfg->max_steps && cfg->max_steps < sched.total_steps)
        sched.total_steps = cfg->max_steps;
    if (cfg->schedule == CNN_SCHEDULE_ONECYCLE && sched.total_steps < 4)
        return cnn__fail(CNN_ERANGE, "cnn_train: one-cycle needs at least 4 steps, found %lld",
                         (long long)sched.total_steps);
    if (cfg->shard_size < 0 || cfg->shard_size > (1 << 20))
        return cnn__fail(CNN_ERANGE, "cnn_train: shard size %d, expected 0..%d", cfg->shard_size, 1 << 20);
    const cnn_comm *comm = cfg->comm;
    if (comm && (comm->size < 1 || comm->rank < 0 || comm->rank >= comm->size || !comm->allgather || !comm->send ||
                 !comm->recv || !comm->bcast))
        return cnn__fail(CNN_EINVAL, "cnn_train: comm: rank %d of %d, or a NULL function", comm->rank, comm->size);
    if (comm && comm->size == 1) comm = NULL;
    CNN_TRY(cnn_model_reserve(m, bs));
    CNN_TRY(cnn__bufs_init(&b, m, bs, n, train, cfg->resize));
    int rc = cnn_optim_init(&opt, cnn_model_num_params(m));
    if (rc < 0) {
        cnn__bufs_free(&b);
        return rc;
    }
    cnn__shards sh;
    if ((rc = cnn__shards_init(&sh, m, bs, cfg, comm)) < 0) {
        cnn_optim_free(&opt);
        cnn__bufs_free(&b);
        return rc;
    }
    cnn_rng_seed(&rng, cfg->seed);
    cnn__ckpt ck = {.m = m, .cfg = cfg, .train = train, .opt = &opt, .rng = &rng, .order = b.order,
                    .batch_size = bs, .num_batches = num_batches,
                    .schedule_steps = cfg->schedule == CNN_SCHEDULE_ONECYCLE ? sched.total_steps : 0};
    if (cfg->resume) rc = cnn__ckpt_load(&ck, cfg->resume);
    if (rc == CNN_OK && comm) rc = cnn__check_peers(&ck, test, comm);
    float *params = cnn_model_params(m);
    float *grads = cnn_model_grads(m);
    double compute = 0.0;
    int64_t step = ck.step;
    int stop = cfg->max_steps && step >= cfg->max_steps ? 2 : 0;
    for (int epoch = ck.epoch; rc == CNN_OK && epoch < cfg->epochs && !stop; epoch++) {
        /* first > 0: resumed inside this epoch, with its order and sums from the checkpoint */
        const int64_t first = epoch == ck.epoch ? ck.batch : 0;
        if (first == 0 && cfg->shuffle) {
            cnn_rng_permutation(&rng, b.order, (uint32_t)n);
        } else if (first == 0) {
            for (int64_t i = 0; i < n; i++) b.order[i] = (uint32_t)i;
        }
        double loss_sum = first ? ck.loss_sum : 0.0;
        int64_t correct = first ? ck.correct : 0, seen = first ? ck.seen : 0;
        for (int64_t batch = first; batch < num_batches; batch++) {
            int count = (int)(n - batch * bs < bs ? n - batch * bs : bs);
            /* Every process prepares the whole batch (the random transforms
             * draw from the one generator) and trains on its shards of it. */
            rc = cnn__batch_resized(b.x, b.raw, b.y, train, b.order, batch * bs, count, cfg->resize, cfg->resize_w);
            if (rc < 0) break;
            int64_t chw[3];
            cnn_model_input_shape(m, chw);
            if (cfg->random_flip || cfg->random_crop)
                cnn__augment(b.x, b.tmp, count, chw[0], chw[1], chw[2], cfg->random_flip, cfg->random_crop, &rng);
            if (cfg->normalize) cnn__normalize(b.x, count, chw[0], chw[1] * chw[2], cfg->mean, cfg->std);
            double t0 = cnn__now(), batch_loss = 0.0;
            int64_t c = 0;
            rc = cnn__shards_step(&sh, m, b.x, b.y, count, step, &batch_loss, &c);
            if (rc < 0) break;
            const double loss = batch_loss / (double)count;
            if (!isfinite(loss)) {
                rc = cnn__diverged(m, loss, epoch + 1, step + 1, batch + 1, num_batches);
                break;
            }
            if (cfg->clip_grad_norm > 0.0f) cnn_clip_grad_norm(grads, cnn_model_num_params(m), cfg->clip_grad_norm);
            if (cfg->schedule != CNN_SCHEDULE_NONE) {
                float mom = cfg->optimizer == CNN_OPTIM_SGD ? opt.momentum : opt.beta1;
                opt.lr = cnn_schedule_lr(&sched, epoch, step, &mom);
                if (cfg->optimizer == CNN_OPTIM_SGD) opt.momentum = mom;
                else opt.beta1 = mom;
            }
            cnn_optim_step(&opt, params, grads);
            step++;
            loss_sum += batch_loss, correct += c, seen += count;
            compute += cnn__now() - t0;
            if (cb) {
                cnn_train_event ev = {CNN_EVENT_BATCH, epoch, step, batch + 1, num_batches,
                                      loss_sum / (double)seen, (double)correct / (double)seen, -1.0,
                                      seen, compute, opt.lr, sh.comm_seconds, sh.grad_seconds};
                if (cb(&ev, user)) stop = 1;
            }
            if (comm && (rc = cnn__shards_agree(&sh, &stop)) < 0) break; /* one stops: all stop */
            if (!stop && cfg->max_steps && step >= cfg->max_steps) stop = 2;
            /* Checkpoint every checkpoint_every steps and where training stops. */
            if (cfg->checkpoint && (stop || (cfg->checkpoint_every > 0 && step % cfg->checkpoint_every == 0)))
                rc = cnn__ckpt_save_lead(&ck, comm, epoch, batch + 1, step, loss_sum, correct, seen);
            if (stop || rc < 0) break;
        }
        const int partial = stop != 0; /* the epoch ended early */
        if (rc < 0 || stop == 1) break;
        /* Processes without a shard kept the running statistics of their start. */
        if (comm) rc = cnn__share_buffers(m, comm);
        double test_acc = -1.0;
        if (test && rc == CNN_OK) {
            cnn_train_config ecfg = *cfg;
            ecfg.batch_size = bs;
            rc = cnn__evaluate(m, test, &ecfg, comm, &test_acc);
        }
        if (rc < 0) break;
        if (cb && seen) {
            cnn_train_event ev = {CNN_EVENT_EPOCH, epoch, step, num_batches, num_batches,
                                  loss_sum / (double)seen, (double)correct / (double)seen, test_acc,
                                  seen, compute, opt.lr, sh.comm_seconds, sh.grad_seconds};
            if (cb(&ev, user)) stop = 1;
        }
        if (comm && (rc = cnn__shards_agree(&sh, &stop)) < 0) break;
        if (cfg->checkpoint && !partial && (cfg->checkpoint_every == 0 || stop == 1))
            rc = cnn__ckpt_save_lead(&ck, comm, epoch + 1, 0, step, 0.0, 0, 0);
    }
    if (rc == CNN_OK && comm) rc = cnn__share_buffers(m, comm);
    cnn__shards_free(&sh);
    cnn_optim_free(&opt);
    cnn__bufs_free(&b);
    if (rc == CNN_OK && stop == 1)
        rc = cnn__fail(CNN_EINTR, "training stopped at step %lld%s%s", (long long)step,
                       cfg->checkpoint ? "; checkpoint written to " : "", cfg->checkpoint ? cfg->checkpoint : "");
    return rc;
}
