/* train.c — d2l's train_ch6 and evaluate_accuracy: minibatch SGD with
 * cross-entropy over a dataset, running loss/accuracy, test accuracy per epoch.
 *
 * Every buffer is allocated before the first step; the loop itself allocates
 * nothing. The seeded generator drives the shuffle (a fresh permutation per
 * epoch, as DataLoader(shuffle=True)) and Dropout, so a seed fixes the run.
 */
#include "cnn_internal.h"
#include "ops/ops.h"

#include <math.h>
#include <string.h>
#include <time.h>

void cnn_train_config_default(cnn_train_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->epochs = 10;
    cfg->batch_size = 256;
    cfg->lr = 0.9f;
    cfg->shuffle = 1;
}

static double cnn__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Checks shared by training and evaluation: the data fit the model. */
static int cnn__check_data(const cnn_model *m, const cnn_dataset *ds, const char *what) {
    int64_t chw[3];
    cnn_model_input_shape(m, chw);
    if (!ds || !ds->images || !ds->labels || ds->n <= 0)
        return cnn__fail(CNN_EINVAL, "%s set is empty", what);
    if (chw[0] != 1 || chw[1] != ds->h || chw[2] != ds->w)
        return cnn__fail(CNN_ESHAPE, "%s images are 1x%lldx%lld but the model expects %lldx%lldx%lld", what,
                         (long long)ds->h, (long long)ds->w, (long long)chw[0], (long long)chw[1],
                         (long long)chw[2]);
    int64_t c = cnn_model_num_outputs(m);
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->labels[i] >= c)
            return cnn__fail(CNN_ERANGE, "%s label #%lld is %d but the model has only %lld outputs", what,
                             (long long)i, ds->labels[i], (long long)c);
    return CNN_OK;
}

typedef struct {
    float *x;        /* (batch, C, H, W) */
    int32_t *y;      /* (batch) */
    float *probs;    /* (batch, classes) */
    float *dlogits;  /* (batch, classes) */
    uint32_t *order; /* (n) */
} cnn__train_bufs;

static void cnn__bufs_free(cnn__train_bufs *b) {
    cnn_free(b->x), cnn_free(b->y), cnn_free(b->probs), cnn_free(b->dlogits), cnn_free(b->order);
}

static int cnn__bufs_init(cnn__train_bufs *b, const cnn_model *m, int batch, int64_t n_order) {
    int64_t chw[3];
    cnn_model_input_shape(m, chw);
    size_t bs = (size_t)batch, c = (size_t)cnn_model_num_outputs(m);
    memset(b, 0, sizeof *b);
    b->x = cnn_malloc(bs * (size_t)(chw[0] * chw[1] * chw[2]) * sizeof(float));
    b->y = cnn_malloc(bs * sizeof(int32_t));
    b->probs = cnn_malloc(bs * c * sizeof(float));
    b->dlogits = cnn_malloc(bs * c * sizeof(float));
    b->order = n_order ? cnn_malloc((size_t)n_order * sizeof(uint32_t)) : NULL;
    if (!b->x || !b->y || !b->probs || !b->dlogits || (n_order && !b->order)) {
        cnn__bufs_free(b);
        return cnn__fail(CNN_ENOMEM, "out of memory for batch buffers (batch %d)", batch);
    }
    return CNN_OK;
}

int cnn_evaluate(cnn_model *m, const cnn_dataset *ds, int batch_size, double *accuracy) {
    if (!m || !accuracy) return cnn__fail(CNN_EINVAL, "cnn_evaluate: NULL argument");
    if (batch_size <= 0) return cnn__fail(CNN_ERANGE, "cnn_evaluate: batch size %d, expected >= 1", batch_size);
    CNN_TRY(cnn__check_data(m, ds, "evaluation"));
    int bs = (int64_t)batch_size > ds->n ? (int)ds->n : batch_size;
    cnn__train_bufs b;
    CNN_TRY(cnn_model_reserve(m, bs));
    CNN_TRY(cnn__bufs_init(&b, m, bs, 0));
    int64_t classes = cnn_model_num_outputs(m), correct = 0;
    int rc = CNN_OK;
    for (int64_t start = 0; start < ds->n && rc == CNN_OK; start += bs) {
        int count = (int)(ds->n - start < bs ? ds->n - start : bs);
        const float *logits;
        rc = cnn_dataset_batch(b.x, b.y, ds, NULL, start, count);
        if (rc == CNN_OK) rc = cnn_model_forward(m, &logits, b.x, count, 0, NULL);
        if (rc == CNN_OK) {
            cnn_tensor t = {2, {count, classes, 0, 0}, (float *)logits, 0};
            int64_t c;
            rc = cnn_count_correct(&c, &t, b.y);
            correct += c;
        }
    }
    cnn__bufs_free(&b);
    if (rc == CNN_OK) *accuracy = (double)correct / (double)ds->n;
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
    CNN_TRY(cnn__check_data(m, train, "training"));
    if (test) CNN_TRY(cnn__check_data(m, test, "test"));
    if (train->n > UINT32_MAX) return cnn__fail(CNN_ERANGE, "cnn_train: %lld examples, too many", (long long)train->n);

    const int bs = (int64_t)cfg->batch_size > train->n ? (int)train->n : cfg->batch_size;
    const int64_t n = train->n, num_batches = (n + bs - 1) / bs, classes = cnn_model_num_outputs(m);
    cnn__train_bufs b;
    cnn_sgd opt;
    cnn_rng rng;
    CNN_TRY(cnn_model_reserve(m, bs));
    CNN_TRY(cnn__bufs_init(&b, m, bs, n));
    int rc = cnn_sgd_init(&opt, cnn_model_num_params(m), cfg->lr, cfg->momentum, cfg->weight_decay);
    if (rc < 0) {
        cnn__bufs_free(&b);
        return rc;
    }
    cnn_rng_seed(&rng, cfg->seed);
    float *params = cnn_model_params(m);
    const float *grads = cnn_model_grads(m);
    double compute = 0.0;
    int64_t step = 0;
    int stop = 0;
    for (int epoch = 0; epoch < cfg->epochs && !stop && rc == CNN_OK; epoch++) {
        if (cfg->shuffle) {
            cnn_rng_permutation(&rng, b.order, (uint32_t)n);
        } else {
            for (int64_t i = 0; i < n; i++) b.order[i] = (uint32_t)i;
        }
        double loss_sum = 0.0;
        int64_t correct = 0, seen = 0;
        for (int64_t batch = 0; batch < num_batches; batch++) {
            int count = (int)(n - batch * bs < bs ? n - batch * bs : bs);
            const float *logits;
            rc = cnn_dataset_batch(b.x, b.y, train, b.order, batch * bs, count);
            if (rc < 0) break;
            double t0 = cnn__now();
            cnn_model_zero_grad(m);
            rc = cnn_model_forward(m, &logits, b.x, count, 1, &rng);
            if (rc < 0) break;
            double loss = cnn__cross_entropy_forward(b.probs, logits, b.y, count, classes);
            if (!isfinite(loss)) {
                rc = cnn__fail(CNN_EDIVERGED, "loss is %g at epoch %d, step %lld", loss, epoch + 1,
                               (long long)step + 1);
                break;
            }
            cnn__cross_entropy_backward(b.dlogits, b.probs, b.y, count, classes, 1.0f / (float)count);
            rc = cnn_model_backward(m, b.dlogits);
            if (rc < 0) break;
            cnn_sgd_step(&opt, params, grads);
            step++;
            cnn_tensor t = {2, {count, classes, 0, 0}, (float *)logits, 0};
            int64_t c = 0;
            cnn_count_correct(&c, &t, b.y);
            loss_sum += loss * count, correct += c, seen += count;
            compute += cnn__now() - t0;
            if (cb) {
                cnn_train_event ev = {CNN_EVENT_BATCH, epoch, step, batch + 1, num_batches,
                                      loss_sum / (double)seen, (double)correct / (double)seen, -1.0,
                                      seen, compute};
                if (cb(&ev, user)) { stop = 1; break; }
            }
            if (cfg->max_steps && step >= cfg->max_steps) { stop = 2; break; }
        }
        if (rc < 0 || stop == 1) break;
        double test_acc = -1.0;
        if (test) {
            rc = cnn_evaluate(m, test, bs, &test_acc);
            if (rc < 0) break;
        }
        if (cb && seen) {
            cnn_train_event ev = {CNN_EVENT_EPOCH, epoch, step, num_batches, num_batches,
                                  loss_sum / (double)seen, (double)correct / (double)seen, test_acc,
                                  seen, compute};
            if (cb(&ev, user)) stop = 1;
        }
    }
    cnn_sgd_free(&opt);
    cnn__bufs_free(&b);
    if (rc == CNN_OK && stop == 1) rc = cnn__fail(CNN_EINTR, "training stopped at step %lld", (long long)step);
    return rc;
}
