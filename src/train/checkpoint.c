/* checkpoint.c — training checkpoints and divergence reports.
 *
 * A checkpoint is a safetensors file (docs/CHECKPOINTS.md), written by the
 * one safetensors writer (io/safetensors.h) with its checksum header:
 *
 *   u64 LE N | header: N bytes of JSON | data: tensors, little-endian
 *
 * The header starts, at a fixed place, with
 *   {"__metadata__":{"crc32":"XXXXXXXX","bytes":"DDDDDDDDDDDDDDDD",...
 * where bytes is the file size (16 decimal digits) and crc32 is zlib's crc32
 * of the whole file with the eight X digits written as '0'. The rest of the
 * metadata holds the position (epoch, batch, step, running sums), the RNG
 * state, the optimizer's step count and the settings a resumed run must
 * share; the tensors are the model's parameters and buffers ("model.0.weight",
 * "model.1.running_mean"), the optimizer's buffers ("optim.momentum_buffer",
 * or "optim.exp_avg" and "optim.exp_avg_sq"), all F32 or I64, and the epoch's
 * data order ("data.order", U32). The metadata field "model" holds every
 * layer's canonical text (nn/describe.h), so a model with the same tensor
 * shapes but other layers (ReLU for Sigmoid, max for average pooling) is
 * refused, not resumed.
 *
 * Loading checks, in this order, the size, the checksum, the safetensors
 * structure, the format and version, the model's layers, every setting,
 * every tensor's name, dtype and shape, and the position; only then is
 * anything changed.
 */
#include "train/checkpoint.h"
#include "train/shard.h"

#include "cnn_internal.h"
#include "io/safetensors.h"
#include "nn/describe.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { KV_MAX = 64, KV_VALUE = 640, T_MAX_EXTRA = 4 };

/* One metadata entry; opt names the option that sets it (for messages) or
 * is NULL when the entry is state rather than a setting. */
typedef struct {
    const char *key;
    char value[KV_VALUE];
    const char *opt;
} ckpt_kv;

typedef struct {
    ckpt_kv kv[KV_MAX];
    int n;
} ckpt_meta;

static void kv_add(ckpt_meta *m, const char *key, const char *opt, const char *fmt, ...) CNN__PRINTF(4, 5);

static void kv_add(ckpt_meta *m, const char *key, const char *opt, const char *fmt, ...) {
    CNN_ASSERT(m->n < KV_MAX);
    ckpt_kv *e = &m->kv[m->n++];
    e->key = key, e->opt = opt;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->value, sizeof e->value, fmt, ap);
    va_end(ap);
}

static const char *sched_name(cnn_schedule_kind k) {
    switch (k) {
    case CNN_SCHEDULE_NONE: return "none";
    case CNN_SCHEDULE_STEP: return "step";
    case CNN_SCHEDULE_COSINE: return "cosine";
    case CNN_SCHEDULE_ONECYCLE: return "onecycle";
    }
    return "?";
}

uint32_t cnn__dataset_crc(const cnn_dataset *ds) {
    {
        const uint64_t px = (uint64_t)ds->n * (uint64_t)cnn_dataset_channels(ds) * (uint64_t)ds->h * (uint64_t)ds->w;
        uint32_t crc = ds->fimages ? cnn__crc32(0, ds->fimages, px * sizeof(float)) : cnn__crc32(0, ds->images, px);
        /* labels as one byte each while they fit (the form of IDX files), else two (little-endian) */
        int wide = 0;
        for (int64_t i = 0; i < ds->n && !wide; i++) wide = ds->labels[i] > 255;
        for (int64_t i = 0; i < ds->n; i++) {
            uint8_t b[2] = {(uint8_t)(ds->labels[i] & 0xff), (uint8_t)(ds->labels[i] >> 8)};
            crc = cnn__crc32(crc, b, wide ? 2 : 1);
        }
        return crc;
    }
}

static uint32_t data_crc(cnn__ckpt *c) {
    if (!c->data_crc_done) c->data_crc = cnn__dataset_crc(c->train), c->data_crc_done = 1;
    return c->data_crc;
}

/* The settings a resumed run must share, as canonical strings (%.9g gives
 * the same text for the same float). */
static void settings(cnn__ckpt *c, ckpt_meta *m) {
    const cnn_train_config *cfg = c->cfg;
    kv_add(m, "optimizer", "--optimizer", "%s", cnn_optim_name(cfg->optimizer));
    kv_add(m, "batch_size", "--batch-size", "%d", cfg->batch_size);
    kv_add(m, "lr", "--lr", "%.9g", (double)cfg->lr);
    kv_add(m, "momentum", "--momentum", "%.9g", (double)cfg->momentum);
    kv_add(m, "nesterov", "--nesterov", "%d", cfg->nesterov);
    kv_add(m, "weight_decay", "--weight-decay", "%.9g", (double)c->opt->weight_decay);
    kv_add(m, "beta1", "beta1", "%.9g", (double)cfg->beta1);
    kv_add(m, "beta2", "beta2", "%.9g", (double)cfg->beta2);
    kv_add(m, "eps", "eps", "%.9g", (double)cfg->eps);
    kv_add(m, "schedule", "--schedule", "%s", sched_name(cfg->schedule));
    kv_add(m, "step_size", "--step-size", "%d", cfg->step_size);
    kv_add(m, "gamma", "--gamma", "%.9g", (double)cfg->gamma);
    kv_add(m, "max_lr", "--max-lr", "%.9g", (double)cfg->max_lr);
    kv_add(m, "schedule_steps", "--epochs and --max-steps (one-cycle's total steps)", "%lld",
           (long long)c->schedule_steps);
    /* Only cosine annealing depends on the number of epochs; otherwise a
     * resumed run may train for more (or fewer) epochs. */
    kv_add(m, "cosine_epochs", "--epochs (cosine's T_max)", "%d",
           cfg->schedule == CNN_SCHEDULE_COSINE ? cfg->epochs : 0);
    kv_add(m, "clip_grad_norm", "--clip-grad-norm", "%.9g", (double)cfg->clip_grad_norm);
    kv_add(m, "random_flip", "--random-flip", "%d", cfg->random_flip);
    kv_add(m, "random_crop", "--random-crop", "%d", cfg->random_crop);
    if (cfg->resize_w && cfg->resize_w != cfg->resize)
        kv_add(m, "resize", "--resize", "%d,%d", cfg->resize, cfg->resize_w);
    else
        kv_add(m, "resize", "--resize", "%d", cfg->resize);
    if (cfg->normalize) {
        /* present only when normalizing, so that earlier checkpoints still resume */
        char mean[CNN_MAX_NORM_CHANNELS * 20] = "", std[CNN_MAX_NORM_CHANNELS * 20] = "";
        size_t a = 0, b = 0;
        for (int64_t k = 0; k < cnn_dataset_channels(c->train) && k < CNN_MAX_NORM_CHANNELS; k++) {
            a += (size_t)snprintf(mean + a, sizeof mean - a, "%s%.9g", k ? "," : "", (double)cfg->mean[k]);
            b += (size_t)snprintf(std + b, sizeof std - b, "%s%.9g", k ? "," : "", (double)cfg->std[k]);
        }
        kv_add(m, "normalize", "--normalize", "%s/%s", mean, std);
    }
    kv_add(m, "shuffle", "--no-shuffle", "%d", cfg->shuffle);
    kv_add(m, "shard_size", "--shard-size", "%d", cnn__shards_effective(c->batch_size, cfg->shard_size));
    kv_add(m, "seed", "--seed", "%" PRIu64, cfg->seed);
    kv_add(m, "num_params", "--model", "%zu", cnn_model_num_params(c->m));
    kv_add(m, "examples", "--data (training images)", "%lld", (long long)c->train->n);
    if (cnn_dataset_channels(c->train) == 1)
        kv_add(m, "image_size", "--data (image size)", "%lldx%lld", (long long)c->train->h, (long long)c->train->w);
    else
        kv_add(m, "image_size", "--data (image size)", "%lldx%lldx%lld", (long long)cnn_dataset_channels(c->train),
               (long long)c->train->h, (long long)c->train->w);
    kv_add(m, "data_crc32", "--data (training set content)", "%08" PRIx32, data_crc(c));
}

void cnn__ckpt_fingerprint(cnn__ckpt *c, uint32_t fp[4]) {
    const cnn_model *mdl = c->m;
    uint32_t crc = 0;
    for (int i = 0; i < cnn_model_num_layers(mdl); i++) {
        char text[CNN__LAYER_DESCRIBE_MAX] = "";
        cnn__layer_describe(text, sizeof text, cnn_model_layer(mdl, i));
        crc = cnn__crc32(crc, text, strlen(text) + 1);
    }
    int64_t chw[3];
    cnn_model_input_shape(mdl, chw);
    fp[0] = cnn__crc32(crc, chw, sizeof chw);
    ckpt_meta m;
    m.n = 0;
    settings(c, &m);
    crc = 0;
    for (int i = 0; i < m.n; i++) {
        if (!strcmp(m.kv[i].key, "data_crc32")) continue; /* fp[2] */
        crc = cnn__crc32(crc, m.kv[i].key, strlen(m.kv[i].key) + 1);
        crc = cnn__crc32(crc, m.kv[i].value, strlen(m.kv[i].value) + 1);
    }
    fp[1] = crc;
    fp[2] = data_crc(c);
    crc = cnn__crc32(0, cnn_model_params_const(mdl), cnn_model_num_params(mdl) * sizeof(float));
    size_t nb = 0, nc = 0;
    for (int i = 0; i < cnn_model_num_buffers(mdl); i++) {
        cnn_buffer_info b;
        cnn_model_buffer_info(mdl, i, &b);
        if (b.is_counter) nc = b.offset + b.numel > nc ? b.offset + b.numel : nc;
        else nb = b.offset + b.numel > nb ? b.offset + b.numel : nb;
    }
    crc = cnn__crc32(crc, cnn_model_buffers_const(mdl), nb * sizeof(float));
    fp[3] = cnn__crc32(crc, cnn_model_counters_const(mdl), nc * sizeof(int64_t));
}

/* ---- tensors ---------------------------------------------------------------- */

typedef struct {
    char name[48];
    const char *dtype; /* "F32", "I64" or "U32" */
    int ndim;
    int64_t shape[CNN_MAX_DIMS];
    uint64_t numel;
    void *data; /* float, int64_t or uint32_t */
} ckpt_tensor;

/* The tensors of this run; *list is cnn_malloc'ed. */
static int tensor_list(cnn__ckpt *c, ckpt_tensor **list, int *count) {
    cnn_model *m = c->m;
    int nt = cnn_model_num_tensors(m), nb = cnn_model_num_buffers(m);
    int total = nt + nb + T_MAX_EXTRA;
    ckpt_tensor *t = cnn_calloc((size_t)total, sizeof *t);
    if (!t) return cnn__fail(CNN_ENOMEM, "checkpoint: out of memory for %d tensors", total);
    int k = 0;
    float *params = cnn_model_params(m), *bufs = cnn_model_buffers(m);
    int64_t *counters = cnn_model_counters(m);
    for (int i = 0; i < nt; i++, k++) {
        cnn_param_info info;
        int rc = cnn_model_tensor_info(m, i, &info);
        if (rc < 0) {
            cnn_free(t);
            return rc;
        }
        snprintf(t[k].name, sizeof t[k].name, "model.%s", info.name);
        t[k].dtype = "F32", t[k].ndim = info.ndim, t[k].numel = info.numel, t[k].data = params + info.offset;
        memcpy(t[k].shape, info.shape, sizeof info.shape);
    }
    for (int i = 0; i < nb; i++, k++) {
        cnn_buffer_info info;
        int rc = cnn_model_buffer_info(m, i, &info);
        if (rc < 0) {
            cnn_free(t);
            return rc;
        }
        snprintf(t[k].name, sizeof t[k].name, "model.%s", info.name);
        t[k].ndim = info.ndim, t[k].numel = info.numel;
        memcpy(t[k].shape, info.shape, sizeof info.shape);
        if (info.is_counter) t[k].dtype = "I64", t[k].data = counters + info.offset;
        else t[k].dtype = "F32", t[k].data = bufs + info.offset;
    }
    const int64_t np = (int64_t)cnn_model_num_params(m);
    const char *names[2] = {"optim.momentum_buffer", NULL};
    if (c->opt->kind != CNN_OPTIM_SGD) names[0] = "optim.exp_avg", names[1] = "optim.exp_avg_sq";
    for (int j = 0; j < 2 && names[j]; j++, k++) {
        snprintf(t[k].name, sizeof t[k].name, "%s", names[j]);
        t[k].dtype = "F32", t[k].ndim = 1, t[k].shape[0] = np, t[k].numel = (uint64_t)np;
        t[k].data = j == 0 ? c->opt->buf1 : c->opt->buf2;
    }
    snprintf(t[k].name, sizeof t[k].name, "data.order");
    t[k].dtype = "U32", t[k].ndim = 1, t[k].shape[0] = c->train->n, t[k].numel = (uint64_t)c->train->n;
    t[k].data = c->order;
    k++;
    *list = t, *count = k;
    return CNN_OK;
}

/* ---- writing ---------------------------------------------------------------- */

int cnn__ckpt_save_at(cnn__ckpt *c, int epoch, int64_t batch, int64_t step, double loss_sum, int64_t correct,
                      int64_t seen) {
    const char *path = c->cfg->checkpoint;
    if (!path) return CNN_OK;
    c->epoch = epoch, c->batch = batch, c->step = step;
    c->loss_sum = loss_sum, c->correct = correct, c->seen = seen;

    ckpt_meta meta;
    meta.n = 0;
    kv_add(&meta, "format", NULL, "%s", CNN__CKPT_FORMAT);
    kv_add(&meta, "version", NULL, "%d", CNN__CKPT_VERSION);
    kv_add(&meta, "epoch", NULL, "%d", epoch);
    kv_add(&meta, "batch", NULL, "%lld", (long long)batch);
    kv_add(&meta, "step", NULL, "%lld", (long long)step);
    kv_add(&meta, "loss_sum", NULL, "%.17g", loss_sum);
    kv_add(&meta, "correct", NULL, "%lld", (long long)correct);
    kv_add(&meta, "seen", NULL, "%lld", (long long)seen);
    kv_add(&meta, "rng", NULL, "%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64, c->rng->s[0],
           c->rng->s[1], c->rng->s[2], c->rng->s[3]);
    kv_add(&meta, "optimizer_steps", NULL, "%lld", (long long)c->opt->steps);
    kv_add(&meta, "momentum_live", NULL, "%d", c->opt->buf_live);
    kv_add(&meta, "epochs", NULL, "%d", c->cfg->epochs);
    kv_add(&meta, "batches_per_epoch", NULL, "%lld", (long long)c->num_batches);
    settings(c, &meta);

    /* The model's layers: any length, so outside the fixed-size entries. */
    int dlen = cnn__model_describe(NULL, 0, c->m);
    if (dlen < 0) return dlen;
    char *desc = cnn_malloc((size_t)dlen + 1);
    if (!desc) return cnn__fail(CNN_ENOMEM, "%s: out of memory for the checkpoint header", path);
    cnn__model_describe(desc, (size_t)dlen + 1, c->m);
    const char *pairs[2 * (KV_MAX + 1)];
    for (int i = 0; i < meta.n; i++) pairs[2 * i] = meta.kv[i].key, pairs[2 * i + 1] = meta.kv[i].value;
    pairs[2 * meta.n] = "model", pairs[2 * meta.n + 1] = desc;

    ckpt_tensor *t = NULL;
    int nt = 0;
    int rc = tensor_list(c, &t, &nt);
    cnn_st_write_tensor *w = rc < 0 ? NULL : cnn_malloc((size_t)nt * sizeof *w);
    if (rc == CNN_OK && !w) rc = cnn__fail(CNN_ENOMEM, "%s: out of memory for the checkpoint header", path);
    for (int i = 0; i < nt && rc == CNN_OK; i++) {
        cnn_st_write_tensor wi = {t[i].name, t[i].dtype, t[i].ndim, t[i].shape, t[i].data};
        w[i] = wi;
    }
    if (rc == CNN_OK) {
        rc = cnn_safetensors_write(path, w, nt, pairs, meta.n + 1, CNN_ST_CHECKSUM);
        if (rc < 0) rc = cnn__fail_context(rc, "checkpoint");
    }
    cnn_free(w);
    cnn_free(t);
    cnn_free(desc);
    return rc;
}

/* ---- reading ---------------------------------------------------------------- */

/* The whole file, with at least the size and crc32 fields. */
static int read_all(const char *path, uint8_t **bytes, uint64_t *size) {
    *bytes = NULL, *size = 0;
    uint8_t *b;
    size_t n;
    /* Refuses a FIFO or a directory without blocking; its messages start
     * with the path, ours with "checkpoint PATH". */
    int rc = cnn__read_all(path, SIZE_MAX, &b, &n);
    if (rc < 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", cnn_last_error());
        size_t plen = strlen(path);
        const char *why = strncmp(msg, path, plen) == 0 && msg[plen] == ':' ? msg + plen + 1 : msg;
        while (*why == ' ') why++;
        return cnn__fail(rc, "checkpoint %s: %s", path, why);
    }
    if (n < CNN_ST_SUM_MIN_SIZE) {
        cnn_free(b);
        return cnn__fail(CNN_EFORMAT, "checkpoint %s: truncated or not a checkpoint: %zu bytes, expected at least %zu",
                         path, n, (size_t)CNN_ST_SUM_MIN_SIZE);
    }
    *bytes = b, *size = n;
    return CNN_OK;
}

static int is_digits(const uint8_t *p, size_t n, int hex) {
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (hex && p[i] >= 'a' && p[i] <= 'f'))) return 0;
    return 1;
}

/* The fixed-place size and crc32 of the file. */
static int check_integrity(const uint8_t *b, uint64_t size, const char *path) {
    uint32_t stored, crc;
    uint64_t want;
    if (cnn_safetensors_checksum(b, size, &stored, &want, &crc) != 0)
        return cnn__fail(CNN_EFORMAT,
                         "checkpoint %s: not a cnn checkpoint (the header does not start with its crc32 and size)",
                         path);
    if (want != size)
        return cnn__fail(CNN_EFORMAT, "checkpoint %s: %s: the file has %llu bytes, it was written with %llu", path,
                         size < want ? "truncated" : "trailing bytes", (unsigned long long)size,
                         (unsigned long long)want);
    if (crc != stored)
        return cnn__fail(CNN_EFORMAT,
                         "checkpoint %s: checksum mismatch (crc32 stored %08" PRIx32 ", computed %08" PRIx32
                         "): the file is damaged",
                         path, stored, crc);
    return CNN_OK;
}

static const char *meta_get(const cnn_safetensors *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

/* Strict decimal integer in [lo, hi]. */
static int meta_i64(const cnn_safetensors *st, const char *key, int64_t lo, int64_t hi, int64_t *out,
                    const char *path) {
    const char *v = meta_get(st, key);
    if (!v) return cnn__fail(CNN_EFORMAT, "checkpoint %s: metadata field '%s' is missing", path, key);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi)
        return cnn__fail(CNN_EFORMAT, "checkpoint %s: metadata field '%s' is '%s', expected an integer in [%lld, %lld]",
                         path, key, v, (long long)lo, (long long)hi);
    *out = x;
    return CNN_OK;
}

/* The saved model text equals this model's, layer by layer; the first
 * difference is named. (Same-shaped tensors do not mean the same model:
 * ReLU for Sigmoid changes nothing in the tensor list.) */
static int check_model(cnn__ckpt *c, const cnn_safetensors *st, const char *path) {
    const char *saved = meta_get(st, "model");
    if (!saved) return cnn__fail(CNN_EFORMAT, "checkpoint %s: metadata field 'model' is missing", path);
    const int n = cnn_model_num_layers(c->m);
    long n_saved = *saved != '\0';
    for (const char *s = saved; (s = strchr(s, ';')) != NULL; s++) n_saved++;
    const char *theirs = *saved ? saved : NULL; /* layer i of the saved text, len bytes */
    for (int i = 0; i < n || theirs; i++) {
        size_t len = theirs ? strcspn(theirs, ";") : 0;
        char mine[CNN__LAYER_DESCRIBE_MAX] = "";
        if (i < n && cnn__layer_describe(mine, sizeof mine, cnn_model_layer(c->m, i)) < 0)
            return cnn__fail(CNN_EINVAL, "checkpoint %s: layer %d of this model has an unknown kind", path, i);
        const int shown = len > 400 ? 400 : (int)len; /* the message has room for two layers */
        if (!theirs)
            return cnn__fail(CNN_EINVAL,
                             "checkpoint %s: layer %d: the checkpoint was trained with a model of %ld layers, this "
                             "model has %d (layer %d is %s) (--model must be the same to resume)",
                             path, i, n_saved, n, i, mine);
        if (i >= n)
            return cnn__fail(CNN_EINVAL,
                             "checkpoint %s: layer %d: the checkpoint was trained with %.*s, this model has only %d "
                             "layers (--model must be the same to resume)",
                             path, i, shown, theirs, n);
        if (strlen(mine) != len || memcmp(mine, theirs, len) != 0)
            return cnn__fail(CNN_EINVAL,
                             "checkpoint %s: layer %d: the checkpoint was trained with %.*s, this model has %s "
                             "(--model must be the same to resume)",
                             path, i, shown, theirs, mine);
        theirs = theirs[len] == ';' ? theirs + len + 1 : NULL;
    }
    return CNN_OK;
}

/* Everything about the file that must match this run. */
static int check_settings(cnn__ckpt *c, const cnn_safetensors *st, const char *path) {
    const char *fmt = meta_get(st, "format"), *ver = meta_get(st, "version");
    if (!fmt || strcmp(fmt, CNN__CKPT_FORMAT) != 0)
        return cnn__fail(CNN_EFORMAT, "checkpoint %s: metadata field 'format' is '%s', expected '%s'", path,
                         fmt ? fmt : "(missing)", CNN__CKPT_FORMAT);
    char want_ver[16];
    snprintf(want_ver, sizeof want_ver, "%d", CNN__CKPT_VERSION);
    if (ver && strcmp(ver, "1") == 0)
        return cnn__fail(CNN_EFORMAT,
                         "checkpoint %s: format version 1 (an older cnn) is not supported: this cnn reads version "
                         "%s, which records the model's layers so that a resume can check them; train again "
                         "without --resume",
                         path, want_ver);
    if (!ver || strcmp(ver, want_ver) != 0)
        return cnn__fail(CNN_EFORMAT, "checkpoint %s: version '%s' is not supported (expected %s)", path,
                         ver ? ver : "(missing)", want_ver);
    CNN_TRY(check_model(c, st, path));
    ckpt_meta m;
    m.n = 0;
    settings(c, &m);
    for (int i = 0; i < m.n; i++) {
        const char *v = meta_get(st, m.kv[i].key);
        if (!v && strcmp(m.kv[i].key, "shard_size") == 0) v = "0"; /* written before shards: one per batch */
        if (!v) return cnn__fail(CNN_EFORMAT, "checkpoint %s: metadata field '%s' is missing", path, m.kv[i].key);
        if (strcmp(v, m.kv[i].value) != 0)
            return cnn__fail(CNN_EINVAL,
                             "checkpoint %s: field '%s' is %s in the checkpoint but %s in this run (%s must be the "
                             "same to resume)",
                             path, m.kv[i].key, v, m.kv[i].value, m.kv[i].opt);
    }
    return CNN_OK;
}

/* Every tensor of this run is in the file with its dtype and shape, and no other. */
static int check_tensors(const cnn_safetensors *st, const ckpt_tensor *t, int nt, const char *path) {
    char ws[200], got[200];
    for (int i = 0; i < nt; i++) {
        const cnn_st_tensor *f = cnn_safetensors_find(st, t[i].name);
        snprintf(ws, sizeof ws, "%s", cnn__shape_str(t[i].ndim, t[i].shape).s);
        if (!f)
            return cnn__fail(CNN_ENOTFOUND,
                             "checkpoint %s: tensor '%s' (shape %s) is missing: the checkpoint is for a different "
                             "model or optimizer",
                             path, t[i].name, ws);
        if (strcmp(f->dtype, t[i].dtype) != 0)
            return cnn__fail(CNN_EFORMAT, "checkpoint %s: tensor '%s' has dtype %s, expected %s", path, f->name,
                             f->dtype, t[i].dtype);
        int same = f->ndim == t[i].ndim;
        for (int d = 0; same && d < f->ndim; d++) same = f->shape[d] == t[i].shape[d];
        snprintf(got, sizeof got, "%s", cnn__shape_str(f->ndim, f->shape).s);
        if (!same || f->end - f->begin != t[i].numel * (uint64_t)f->elem_size)
            return cnn__fail(CNN_ESHAPE,
                             "checkpoint %s: tensor '%s' has shape %s in the checkpoint but %s in this run (a "
                             "different model?)",
                             path, f->name, got, ws);
    }
    if (st->n_tensors != nt)
        for (int j = 0; j < st->n_tensors; j++) {
            int known = 0;
            for (int i = 0; i < nt && !known; i++) known = strcmp(st->tensors[j].name, t[i].name) == 0;
            if (!known)
                return cnn__fail(CNN_EFORMAT,
                                 "checkpoint %s: unexpected tensor '%s': the checkpoint is for a different model or "
                                 "optimizer",
                                 path, st->tensors[j].name);
        }
    return CNN_OK;
}

/* The saved position, the optimizer's counters and the RNG, all checked. */
typedef struct {
    int64_t epoch, batch, step, correct, seen, opt_steps, live;
    double loss_sum;
    cnn_rng rng;
} ckpt_pos;

static int read_position(const cnn__ckpt *c, const cnn_safetensors *st, ckpt_pos *p, const char *path) {
    const int64_t n = c->train->n;
    CNN_TRY(meta_i64(st, "epoch", 0, INT32_MAX, &p->epoch, path));
    CNN_TRY(meta_i64(st, "batch", 0, c->num_batches, &p->batch, path));
    CNN_TRY(meta_i64(st, "step", 0, INT64_MAX, &p->step, path));
    CNN_TRY(meta_i64(st, "seen", 0, n, &p->seen, path));
    CNN_TRY(meta_i64(st, "correct", 0, p->seen, &p->correct, path));
    CNN_TRY(meta_i64(st, "optimizer_steps", 0, INT64_MAX, &p->opt_steps, path));
    CNN_TRY(meta_i64(st, "momentum_live", 0, 1, &p->live, path));
    const char *v = meta_get(st, "loss_sum");
    char *end;
    p->loss_sum = v ? strtod(v, &end) : NAN;
    if (!v || !*v || *end || !isfinite(p->loss_sum) || p->loss_sum < 0)
        return cnn__fail(CNN_EFORMAT, "checkpoint %s: metadata field 'loss_sum' is '%s', expected a finite value >= 0",
                         path, v ? v : "(missing)");
    v = meta_get(st, "rng");
    int ok = v && strlen(v) == 67;
    for (int k = 0; ok && k < 4; k++) {
        ok = is_digits((const uint8_t *)v + 17 * k, 16, 1) && (k == 3 || v[17 * k + 16] == ',');
        if (ok) p->rng.s[k] = strtoull(v + 17 * k, NULL, 16);
    }
    if (!ok || (p->rng.s[0] | p->rng.s[1] | p->rng.s[2] | p->rng.s[3]) == 0)
        return cnn__fail(CNN_EFORMAT, "checkpoint %s: metadata field 'rng' is '%s', expected four 16-digit hex words",
                         path, v ? v : "(missing)");
    if ((p->batch == 0) != (p->seen == 0))
        return cnn__fail(CNN_EFORMAT, "checkpoint %s: batch %lld but %lld examples seen in the epoch", path,
                         (long long)p->batch, (long long)p->seen);
    return CNN_OK;
}

/* data.order is a permutation of 0..n-1. */
static int check_order(const cnn_safetensors *st, int64_t n, const char *path) {
    uint32_t *order = cnn_malloc((size_t)(n ? n : 1) * sizeof *order);
    uint8_t *seen = cnn_calloc((size_t)(n ? n : 1), 1);
    int rc = order && seen ? cnn_safetensors_get(st, cnn_safetensors_find(st, "data.order"), "U32", order)
                           : cnn__fail(CNN_ENOMEM, "checkpoint %s: out of memory", path);
    for (int64_t i = 0; i < n && rc == CNN_OK; i++) {
        uint32_t k = order[i];
        if (k >= (uint64_t)n || seen[k])
            rc = cnn__fail(CNN_EFORMAT, "checkpoint %s: data.order[%lld] = %lu is not part of a permutation of 0..%lld",
                           path, (long long)i, (unsigned long)k, (long long)n - 1);
        else seen[k] = 1;
    }
    cnn_free(order);
    cnn_free(seen);
    return rc;
}

int cnn__ckpt_load(cnn__ckpt *c, const char *path) {
    uint8_t *bytes;
    uint64_t size;
    CNN_TRY(read_all(path, &bytes, &size));
    cnn_safetensors st;
    memset(&st, 0, sizeof st);
    ckpt_tensor *t = NULL;
    int nt = 0;
    ckpt_pos p;
    memset(&p, 0, sizeof p);
    int rc = check_integrity(bytes, size, path);
    if (rc == CNN_OK) {
        char name[1100];
        snprintf(name, sizeof name, "checkpoint %s", path);
        rc = cnn_safetensors_parse(&st, bytes, size, name);
    }
    if (rc == CNN_OK) rc = check_settings(c, &st, path);
    if (rc == CNN_OK) rc = tensor_list(c, &t, &nt);
    if (rc == CNN_OK) rc = check_tensors(&st, t, nt, path);
    if (rc == CNN_OK) rc = read_position(c, &st, &p, path);
    if (rc == CNN_OK) rc = check_order(&st, c->train->n, path);
    /* Every check passed: restore. */
    for (int i = 0; i < nt && rc == CNN_OK; i++)
        rc = cnn_safetensors_get(&st, cnn_safetensors_find(&st, t[i].name), t[i].dtype, t[i].data);
    if (rc == CNN_OK) {
        *c->rng = p.rng;
        c->opt->steps = p.opt_steps, c->opt->buf_live = (int)p.live;
        c->epoch = (int)p.epoch, c->batch = p.batch, c->step = p.step;
        c->loss_sum = p.loss_sum, c->correct = p.correct, c->seen = p.seen;
    }
    cnn_safetensors_free(&st);
    cnn_free(t);
    cnn_free(bytes);
    return rc;
}

/* ---- divergence ------------------------------------------------------------- */

int cnn__diverged(cnn_model *m, double loss, int epoch, int64_t step, int64_t batch, int64_t num_batches) {
    char where[160] = "", params[160] = "";
    int layer = -1;
    if (cnn_model_first_nonfinite_layer(m, &layer) == CNN_OK && layer >= 0) {
        const cnn_layer_desc *l = cnn_model_layer(m, layer);
        snprintf(where, sizeof where, "; the first non-finite output is layer %d (%s)", layer,
                 cnn_layer_kind_name(l->kind));
    } else {
        snprintf(where, sizeof where, "; every layer's output is finite (the loss itself overflowed)");
    }
    const float *p = cnn_model_params(m);
    for (int i = 0, nt = cnn_model_num_tensors(m); i < nt && !params[0]; i++) {
        cnn_param_info info;
        if (cnn_model_tensor_info(m, i, &info) < 0) break;
        for (size_t k = 0; k < info.numel; k++)
            if (!isfinite(p[info.offset + k])) {
                snprintf(params, sizeof params, "; parameter '%s' is already non-finite (the previous update overflowed)",
                         info.name);
                break;
            }
    }
    const char *value = isnan(loss) ? "NaN" : loss > 0 ? "+Inf" : "-Inf";
    return cnn__fail(CNN_EDIVERGED, "training diverged at epoch %d, step %lld (batch %lld/%lld): the loss is %s%s%s",
                     epoch, (long long)step, (long long)batch, (long long)num_batches, value, where, params);
}
