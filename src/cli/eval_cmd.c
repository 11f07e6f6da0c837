/* eval_cmd.c — `cnn eval` (accuracy, per-class accuracy, confusion matrix
 * as a table and an SVG heat map, top-k accuracy), `cnn predict` and
 * `cnn summary`. */
#include "args.h"
#include "cli.h"
#include "opts.h"
#include "paths.h"
#include "weights_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define EVAL_MAX_MATRIX 1024

static const char *fashion_names[10] = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                        "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
static const char *digit_names[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

/* The model gives one vector of class scores per example, (N, C): a
 * Conv2d's (N, C, H, W) output is no set of classes (cnn_train and
 * cnn_evaluate refuse it the same way). */
static int check_class_scores(const char *cmd, const cnn_model *m) {
    int ndim = 0;
    int64_t s[CNN_MAX_DIMS];
    if (cnn_model_layer_shape(m, cnn_model_num_layers(m) - 1, &ndim, s) < 0 || ndim == 2) return 0;
    char dims[96] = "";
    size_t k = 0;
    for (int d = 1; d < ndim && k < sizeof dims; d++)
        k += (size_t)snprintf(dims + k, sizeof dims - k, d > 1 ? "x%lld" : "%lld", (long long)s[d]);
    fprintf(stderr,
            "cnn %s: error: the model's output is %s per example; classifying needs a vector of class scores "
            "(add nn.Flatten() and nn.Linear)\n",
            cmd, ndim > 1 ? dims : "not split by example");
    return -1;
}

/* torch.argmax of a row: the first largest value, a NaN counting as the largest. */
static int64_t argmax_row(const float *z, int64_t c) {
    int64_t best = 0;
    for (int64_t k = 1; k < c && !isnan(z[best]); k++)
        if (isnan(z[k]) || z[k] > z[best]) best = k;
    return best;
}

enum {
    OPT_CONFUSION = CLI_LONG(0), OPT_RESIZE, OPT_CLASSES, OPT_JSON, OPT_TRACE, OPT_PLAN, OPT_COARSE, OPT_NO_CACHE,
    OPT_INPUT_SHAPE
};

static const cli_option eval_options[] = {
    {"weights", 'w', 1, "FILE", "the weights to evaluate (safetensors; required)"},
    {"model", 'm', 1, "NAME|FILE",
     "model name in models/ or a model file: for weights without metadata\n"
     "(default lenet); otherwise it must agree with the recorded model"},
    {"data", 'd', 1, "DIR", "the data set's test split, any format of cnn train --data\n"
                             "(default " CNN_DEFAULT_DATA_DIR ")"},
    {"batch-size", 'b', 1, "N", "default 256"},
    {"threads", 'j', 1, "N", "default: all cores"},
    {"topk", 'k', 1, "K", "also print the top-K accuracy"},
    {"confusion", OPT_CONFUSION, 1, "FILE.svg", "draw the confusion matrix as an SVG heat map"},
    {"resize", OPT_RESIZE, 1, "H[,W]", "resize the images to H x W as training did (default: as the\nweights record)"},
    {"classes", OPT_CLASSES, 1, "FILE", "class names, one per line (default: the weights' or the data's)"},
    {"coarse", OPT_COARSE, 0, NULL, "CIFAR-100: the 20 coarse classes"},
    {"no-cache", OPT_NO_CACHE, 0, NULL, "image folders: decode every image, write no cache file"},
    {"quiet", 'q', 0, NULL, "print only the accuracy line"},
    {"help", 'h', 0, NULL, "print this help and exit"},
    {NULL, 0, 0, NULL, NULL},
};

/* The class names to print: --classes FILE, the weights', the data's, or
 * for 10 classes without names Fashion-MNIST's (as before names were kept). */
static const char **pick_names(const char *const *file_names, int64_t n_file, const cnn_weights_info *info,
                               const cnn_dataset *ds, int64_t c, const char **fallback10) {
    if (file_names && n_file == c) return (const char **)file_names;
    if (info->class_names && info->num_classes == c) return (const char **)info->class_names;
    if (ds && ds->class_names && ds->num_classes == c) return (const char **)ds->class_names;
    return c == 10 ? fallback10 : NULL;
}

int cnn_cli_eval(int argc, char **argv) {
    const char *cmd = "eval", *model_name = NULL, *data_dir = CNN_DEFAULT_DATA_DIR, *weights = NULL;
    const char *confusion = NULL, *classes_file = NULL;
    long long batch = 256, threads = 0, topk = 0;
    int quiet = 0, resize_h = 0, resize_w = 0;
    cnn_data_options dopt = {0};
    cli_parser p;
    cli_parser_init(&p, cmd, eval_options, argc, argv);
    for (int key; (key = cli_next(&p)) != -1;) {
        const char *a = p.name, *v = p.value;
        switch (key) {
        case 'h':
            cli_usage(stdout, "eval --weights FILE [options]",
                      "Print the test accuracy of saved weights on the test split of DIR, the accuracy of each\n"
                      "class, the confusion matrix (rows: true class, columns: predicted) and, with --topk K,\n"
                      "the top-K accuracy. The model, its input shape, the resizing and normalization and the\n"
                      "class names come from the weights' metadata (docs/WEIGHTS.md).\n",
                      eval_options);
            return 0;
        case 'q': quiet = 1; break;
        case 'm': model_name = v; break;
        case 'd': data_dir = v; break;
        case 'w': weights = v; break;
        case OPT_CONFUSION: confusion = v; break;
        case 'b': if (cli_parse_int(cmd, a, v, 1, 1 << 20, &batch) < 0) return 2; break;
        case 'j': if (cli_parse_int(cmd, a, v, 1, 1024, &threads) < 0) return 2; break;
        case 'k': if (cli_parse_int(cmd, a, v, 1, 1000, &topk) < 0) return 2; break;
        case OPT_RESIZE: if (cli_parse_resize(cmd, a, v, &resize_h, &resize_w) < 0) return 2; break;
        case OPT_CLASSES: classes_file = v; break;
        case OPT_COARSE: dopt.coarse = 1; break;
        case OPT_NO_CACHE: dopt.no_cache = 1; break;
        default: return 2;
        }
    }
    if (cli_first_arg() < argc) {
        fprintf(stderr, "cnn eval: unexpected argument '%s' (see cnn eval --help)\n", argv[cli_first_arg()]);
        return 2;
    }
    if (!weights) {
        fprintf(stderr, "cnn eval: --weights FILE is required\n");
        return 2;
    }
    cnn_set_threads((int)threads);
    const char *model_path = NULL;
    if (model_name && cli_find_model(cmd, model_name, &model_path) < 0) return 1;
    cli_paths ps = {0};
    cli_paths_input(&ps, "--model", model_path);
    cli_paths_input(&ps, "--weights", weights);
    cli_paths_input(&ps, "--classes", classes_file);
    cli_paths_data(&ps, data_dir, 0);
    cli_paths_output(&ps, "--confusion", confusion, NULL);
    if (cli_paths_check(cmd, &ps) < 0) return 1;
    cnn_dataset test = {0};
    cnn_model *m = NULL;
    cnn_weights_info info;
    memset(&info, 0, sizeof info);
    float *x = NULL, *raw = NULL;
    int32_t *y = NULL;
    int64_t *cm = NULL, *per = NULL;
    char **file_names = NULL;
    int64_t n_file = 0;
    int status = 1, rc;
    cnn_train_config pre;
    cnn_train_config_default(&pre);
    /* the metadata first: image folders are decoded at the recorded size */
    if ((rc = cnn_weights_info_read(&info, weights)) < 0) return cli_fail(cmd, rc);
    if (resize_h && info.resize_h && (resize_h != info.resize_h || resize_w != info.resize_w)) {
        fprintf(stderr, "cnn eval: --resize %d,%d: the weights were trained on images resized to %d,%d (%s)\n",
                resize_h, resize_w, info.resize_h, info.resize_w, weights);
        cnn_weights_info_free(&info);
        return 2;
    }
    if (!resize_h) resize_h = info.resize_h, resize_w = info.resize_w;
    if (!resize_h && info.input_chw[0]) resize_h = (int)info.input_chw[1], resize_w = (int)info.input_chw[2];
    dopt.resize_h = resize_h, dopt.resize_w = resize_w;
    if (info.input_chw[0]) dopt.channels = (int)info.input_chw[0];
    cnn_weights_info_free(&info);
    if ((rc = cnn_data_load(NULL, &test, data_dir, &dopt)) < 0) return cli_fail(cmd, rc);
    if (classes_file && cli_read_classes(cmd, classes_file, &file_names, &n_file) < 0) goto done;
    int64_t chw[3] = {cnn_dataset_channels(&test), resize_h ? resize_h : test.h, resize_h ? resize_w : test.w};
    if (cli_load_weights(cmd, weights, model_name, chw, &m, &info) < 0) goto done;
    if (check_class_scores(cmd, m) < 0) goto done;
    cnn_model_input_shape(m, chw);
    if (chw[0] != cnn_dataset_channels(&test)) {
        fprintf(stderr, "cnn eval: error: %s: images have %lld channels but the model takes %lld (mixed channel counts)\n",
                test.source ? test.source : data_dir, (long long)cnn_dataset_channels(&test), (long long)chw[0]);
        goto done;
    }
    if (chw[1] != test.h || chw[2] != test.w) {
        if (!resize_h || resize_h != chw[1] || resize_w != chw[2]) {
            fprintf(stderr, "cnn eval: error: %s: images are %lldx%lld but the model takes %lldx%lld%s\n",
                    test.source ? test.source : data_dir, (long long)test.h, (long long)test.w, (long long)chw[1],
                    (long long)chw[2], resize_h ? "" : " (give --resize H,W to resize them)");
            goto done;
        }
        pre.resize = resize_h, pre.resize_w = resize_w;
    }
    if (info.normalize) {
        pre.normalize = 1;
        memcpy(pre.mean, info.mean, sizeof pre.mean);
        memcpy(pre.std, info.std, sizeof pre.std);
    }
    const int64_t c = cnn_model_num_outputs(m);
    if (c > CNN_MAX_CLASSES) {
        fprintf(stderr, "cnn eval: the model has %lld outputs, at most %d are supported\n", (long long)c, CNN_MAX_CLASSES);
        goto done;
    }
    if (topk > c) {
        fprintf(stderr, "cnn eval: --topk: expected at most %lld (the number of classes), found %lld\n",
                (long long)c, topk);
        status = 2;
        goto done;
    }
    if (confusion && c > EVAL_MAX_MATRIX) {
        fprintf(stderr, "cnn eval: --confusion: at most %d classes, the model has %lld\n", EVAL_MAX_MATRIX, (long long)c);
        status = 2;
        goto done;
    }
    int bs = (int)(batch < test.n ? batch : test.n);
    x = malloc((size_t)bs * (size_t)(chw[0] * chw[1] * chw[2]) * sizeof *x);
    raw = pre.resize ? malloc((size_t)bs * (size_t)(chw[0] * test.h * test.w) * sizeof *raw) : NULL;
    y = malloc((size_t)bs * sizeof *y);
    /* the confusion matrix up to EVAL_MAX_MATRIX classes; per-class counts always */
    cm = c <= EVAL_MAX_MATRIX ? calloc((size_t)(c * c), sizeof *cm) : NULL;
    per = calloc((size_t)(2 * c), sizeof *per); /* per[2i]: images of class i, per[2i+1]: correct */
    if (!x || !y || (c <= EVAL_MAX_MATRIX && !cm) || !per || (pre.resize && !raw)) { fprintf(stderr, "cnn eval: out of memory\n"); goto done; }
    if (test.num_classes && test.num_classes != c) {
        fprintf(stderr, "cnn eval: error: %s: the data has %lld classes but the model has %lld outputs\n",
                test.source ? test.source : data_dir, (long long)test.num_classes, (long long)c);
        goto done;
    }
    for (int64_t i = 0; i < test.n; i++)
        if (test.labels[i] >= c) {
            fprintf(stderr, "cnn eval: error: %s: label #%lld is %d but the model has only %lld outputs\n",
                    test.source ? test.source : data_dir, (long long)i, test.labels[i], (long long)c);
            goto done;
        }
    /* The workspace for the batch size is planned before the clock starts. */
    if ((rc = cnn_model_reserve(m, bs)) < 0) {
        cli_fail(cmd, rc);
        goto done;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t correct = 0, in_topk = 0;
    for (int64_t start = 0; start < test.n; start += bs) {
        int count = (int)(test.n - start < bs ? test.n - start : bs);
        const float *logits;
        if ((rc = cnn_dataset_batch_prep(x, raw, y, &test, NULL, start, count, &pre)) < 0 ||
            (rc = cnn_model_forward(m, &logits, x, count, 0, NULL)) < 0) {
            cli_fail(cmd, rc);
            goto done;
        }
        for (int r = 0; r < count; r++) {
            const float *z = logits + (size_t)r * (size_t)c;
            int64_t best = argmax_row(z, c), rank = 0;
            for (int64_t k = 0; k < c; k++) /* classes strictly ahead of the true one, ties by index */
                rank += z[k] > z[y[r]] || (z[k] == z[y[r]] && k < y[r]);
            if (cm) cm[y[r] * c + best]++;
            per[2 * y[r]] += 1;
            per[2 * y[r] + 1] += best == y[r];
            correct += best == y[r];
            in_topk += rank < topk;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("test acc %.4f (%lld images, %.1f images/sec, %d threads, %s)\n", (double)correct / (double)test.n,
           (long long)test.n, secs > 0 ? (double)test.n / secs : 0.0, cnn_get_threads(), cnn_isa_name(cnn_get_isa()));
    if (topk > 0) printf("top-%lld acc %.4f\n", topk, (double)in_topk / (double)test.n);
    const char **names = pick_names((const char *const *)file_names, n_file, &info, &test, c, fashion_names);
    if (!quiet) {
        printf("\n%-12s %8s %8s\n", "class", "images", "acc");
        for (int64_t i = 0; i < c; i++) {
            int64_t row = per[2 * i];
            char label[64];
            if (names) snprintf(label, sizeof label, "%s", names[i]);
            else snprintf(label, sizeof label, "%lld", (long long)i);
            printf("%-12s %8lld %8.4f\n", label, (long long)row, row ? (double)per[2 * i + 1] / (double)row : 0.0);
        }
        if (!cm) printf("\n(no confusion matrix for more than %d classes)\n", EVAL_MAX_MATRIX);
    }
    if (!quiet && cm) {
        printf("\nconfusion matrix (rows: true class, columns: predicted)\n%-12s", "");
        for (int64_t j = 0; j < c; j++) printf(" %5lld", (long long)j);
        printf("\n");
        for (int64_t i = 0; i < c; i++) {
            char label[64];
            if (names) snprintf(label, sizeof label, "%lld %s", (long long)i, names[i]);
            else snprintf(label, sizeof label, "%lld", (long long)i);
            printf("%-12s", label);
            for (int64_t j = 0; j < c; j++) printf(" %5lld", (long long)cm[i * c + j]);
            printf("\n");
        }
    }
    if (confusion && (rc = cnn_confusion_svg(confusion, cm, (int)c, names)) < 0) {
        fprintf(stderr, "cnn eval: --confusion: %s\n", cnn_last_error());
        goto done;
    }
    status = 0;
done:
    free(x);
    free(raw);
    free(y);
    free(cm);
    free(per);
    cnn_model_free(m);
    cnn_dataset_free(&test);
    cnn_weights_info_free(&info);
    cli_free_classes(file_names, n_file);
    return status;
}

/* A PNG or JPEG signature at the start of a file (head: its first got bytes). */
static int cnn_image_kind_ok(const unsigned char *head, size_t got) {
    return (got >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff) ||
           (got >= 4 && head[0] == 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G');
}

/* Softmax of one row, in double. */
static void softmax_row(double *p, const float *z, int64_t c) {
    double mx = z[0], sum = 0;
    for (int64_t k = 1; k < c; k++) if (z[k] > mx) mx = z[k];
    for (int64_t k = 0; k < c; k++) sum += (p[k] = exp(z[k] - mx));
    for (int64_t k = 0; k < c; k++) p[k] /= sum;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF), or 0. */
static int utf8_length(const unsigned char *s) {
    if (s[0] < 0x80) return 1;
    int n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    for (int k = 1; k < n; k++)
        if ((s[k] & 0xc0) != 0x80) return 0;
    if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) return 0;
    if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))) return 0;
    return n;
}

/* A JSON string: quotes, backslashes and control characters escaped; bytes
 * that are not UTF-8 (a file name may hold any bytes) become U+FFFD. */
static void print_json_string(const char *str) {
    putchar('"');
    for (const unsigned char *s = (const unsigned char *)str; *s;) {
        int n = utf8_length(s);
        if (n == 0) {
            fputs("\\ufffd", stdout);
            s++;
        } else if (*s == '"' || *s == '\\') {
            printf("\\%c", *s++);
        } else if (*s < 0x20 || *s == 0x7f) {
            printf("\\u%04x", *s++);
        } else {
            fwrite(s, 1, (size_t)n, stdout);
            s += n;
        }
    }
    putchar('"');
}

/* One prediction: the best class and its probability, or the top k; with
 * json the raw outputs too. p holds c doubles of scratch. */
static void print_prediction(const char *input, long long index, const float *z, int64_t c, const char *const *names,
                             int64_t n_names, int json, int topk, double *p) {
    softmax_row(p, z, c);
    int64_t best = argmax_row(z, c); /* from the logits: softmax of an infinite logit is NaN */
    int k_out = topk > 0 ? topk : 1;
    if (json) {
        printf("{\"input\": ");
        print_json_string(input);
        if (index >= 0) printf(", \"index\": %lld", index);
        printf(", \"logits\": [");
        for (int64_t k = 0; k < c; k++) {
            if (isfinite(z[k])) printf("%s%.9g", k ? ", " : "", (double)z[k]);
            else printf("%snull", k ? ", " : ""); /* JSON has no NaN or infinity (as JSON.stringify) */
        }
        printf("], \"class\": %lld", (long long)best);
        if (names && best < n_names) {
            printf(", \"name\": ");
            print_json_string(names[best]);
        }
    } else {
        if (index >= 0) printf("%s[%lld]: ", input, index);
        else printf("%s: ", input);
    }
    if (json && topk <= 0) {
        printf("}\n");
        return;
    }
    if (json) printf(", \"topk\": [");
    /* the k best, by logit, ties by index (the first of equal values first) */
    int64_t prev = -1;
    for (int r = 0; r < k_out && r < c; r++) {
        int64_t pick = -1;
        for (int64_t k = 0; k < c; k++) {
            if (prev >= 0) {
                /* strictly after prev in the order (logit desc, index asc); NaN first */
                int after = isnan(z[prev]) ? (isnan(z[k]) ? k > prev : 1)
                            : isnan(z[k])  ? 0
                                           : (z[k] < z[prev] || (z[k] == z[prev] && k > prev));
                if (!after) continue;
            }
            if (pick < 0) { pick = k; continue; }
            int better = isnan(z[pick]) ? 0 : isnan(z[k]) ? 1 : z[k] > z[pick];
            if (better) pick = k;
        }
        if (r == 0) pick = best;
        prev = pick;
        if (json) {
            printf("%s{\"class\": %lld", r ? ", " : "", (long long)pick);
            if (names && pick < n_names) {
                printf(", \"name\": ");
                print_json_string(names[pick]);
            }
            if (isfinite(p[pick])) printf(", \"prob\": %.9g}", p[pick]);
            else printf(", \"prob\": null}");
        } else {
            if (r) printf(", ");
            if (names && pick < n_names) printf("%s ", names[pick]);
            else printf("class %lld ", (long long)pick);
            if (isnan(p[pick])) printf("(nan)");
            else printf("(%.3f)", p[pick]);
        }
    }
    printf(json ? "]}\n" : "\n");
}

/* The examples of predict: the inputs one after another, batched. */
typedef struct {
    cnn_model *m;
    int64_t chw[3];
    int bs, count, json, topk;
    float *x;            /* (bs, C, H, W) */
    const char **src;    /* input of each example of the batch */
    long long *index;    /* its index in an IDX file, or -1 */
    const cnn_train_config *pre;
    const char *const *names;
    int64_t n_names;
    double *p;
} predict_queue;

static int queue_flush(predict_queue *q) {
    if (q->count == 0) return 0;
    const float *logits;
    int rc = cnn_model_forward(q->m, &logits, q->x, q->count, 0, NULL);
    if (rc < 0) return cli_fail("predict", rc), -1;
    int64_t c = cnn_model_num_outputs(q->m);
    for (int i = 0; i < q->count; i++)
        print_prediction(q->src[i], q->index[i], logits + (size_t)i * (size_t)c, c, q->names, q->n_names, q->json,
                         q->topk, q->p);
    q->count = 0;
    return 0;
}

/* The next slot of the batch, (C, H, W) floats; flushes a full batch first. */
static float *queue_slot(predict_queue *q, const char *src, long long index) {
    if (q->count == q->bs && queue_flush(q) < 0) return NULL;
    q->src[q->count] = src;
    q->index[q->count] = index;
    return q->x + (size_t)q->count++ * (size_t)(q->chw[0] * q->chw[1] * q->chw[2]);
}

/* Normalize one (C, H, W) image as the weights record. */
static void queue_normalize(const predict_queue *q, float *img) {
    if (!q->pre->normalize) return;
    const int64_t plane = q->chw[1] * q->chw[2];
    for (int64_t ch = 0; ch < q->chw[0]; ch++)
        for (int64_t i = 0; i < plane; i++)
            img[ch * plane + i] = (img[ch * plane + i] - q->pre->mean[ch]) / q->pre->std[ch];
}

/* A PNG or JPEG into x (C, H, W): decoded with the model's channels,
 * resized (uint8, as torchvision's Resize on the decoded tensor), / 255,
 * normalized. Prints nothing: a failure leaves its message in err. */
static int decode_image(const predict_queue *q, const char *path, float *x, char *err, size_t cap) {
    uint8_t *px = NULL, *rs = NULL;
    int64_t c, h, w;
    int rc = cnn_image_read(&px, &c, &h, &w, path, (int)q->chw[0]);
    const int64_t oh = q->chw[1], ow = q->chw[2];
    if (rc == CNN_OK && (h != oh || w != ow)) {
        rs = malloc((size_t)(c * oh * ow));
        rc = rs ? cnn_resize_u8(rs, px, c, h, w, oh, ow) : CNN_ENOMEM;
    }
    if (rc == CNN_ENOMEM && !rs) {
        snprintf(err, cap, "%s: out of memory for %lldx%lld pixels", path, (long long)oh, (long long)ow);
    } else if (rc == CNN_OK) {
        for (int64_t i = 0; i < c * oh * ow; i++) x[i] = (float)(rs ? rs[i] : px[i]) / 255.0f;
        queue_normalize(q, x);
    } else {
        snprintf(err, cap, "%s (%s)", cnn_last_error(), cnn_strerror(rc));
    }
    cnn_free(px);
    free(rs);
    return rc;
}

/* n PNG/JPEG files into the next n slots of the batch (n fits), decoded in
 * parallel; the first failure in input order is reported. */
static int predict_images(predict_queue *q, char **paths, int n) {
    const int base = q->count;
    const int64_t img = q->chw[0] * q->chw[1] * q->chw[2];
    char(*err)[600] = calloc((size_t)n, sizeof *err);
    int *rcs = calloc((size_t)n, sizeof *rcs);
    if (!err || !rcs) {
        free(err), free(rcs);
        fprintf(stderr, "cnn predict: out of memory\n");
        return -1;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; i++)
        rcs[i] = decode_image(q, paths[i], q->x + (size_t)(base + i) * (size_t)img, err[i], sizeof err[i]);
    int status = 0;
    for (int i = 0; i < n && !status; i++)
        if (rcs[i] != CNN_OK) {
            fprintf(stderr, "cnn predict: error: %s\n", err[i]);
            status = -1;
        }
    for (int i = 0; i < n && !status; i++) q->src[base + i] = paths[i], q->index[base + i] = -1;
    if (!status) q->count += n;
    free(err), free(rcs);
    return status;
}

/* Every image of an IDX file: the model's channels, the recorded resize. */
static int predict_idx(predict_queue *q, const char *path) {
    cnn_dataset ds;
    int rc = cnn_idx_read_images_any(&ds, path);
    if (rc < 0) return cli_fail("predict", rc), -1;
    const int64_t c = cnn_dataset_channels(&ds), plane = c * ds.h * ds.w;
    int status = 0;
    float *tmp = NULL;
    if (c != q->chw[0]) {
        fprintf(stderr, "cnn predict: %s: images have %lld channels, the model takes %lld\n", path, (long long)c,
                (long long)q->chw[0]);
        status = -1;
    } else if ((ds.h != q->chw[1] || ds.w != q->chw[2]) && !q->pre->resize) {
        fprintf(stderr, "cnn predict: %s: images are %lldx%lld, expected %lldx%lld\n", path, (long long)ds.h,
                (long long)ds.w, (long long)q->chw[1], (long long)q->chw[2]);
        status = -1;
    } else if (ds.h != q->chw[1] || ds.w != q->chw[2]) {
        tmp = malloc((size_t)plane * sizeof *tmp);
        if (!tmp) status = -1;
    }
    ds.labels = cnn_calloc((size_t)ds.n, sizeof *ds.labels); /* cnn_dataset_batch wants labels: zeros */
    if (!ds.labels) {
        fprintf(stderr, "cnn predict: out of memory\n");
        status = -1;
    }
    for (int64_t i = 0; i < ds.n && status == 0; i++) {
        float *x = queue_slot(q, path, (long long)i);
        int32_t y;
        if (!x) { status = -1; break; }
        uint32_t one = (uint32_t)i;
        if (!tmp) {
            rc = cnn_dataset_batch(x, &y, &ds, &one, 0, 1);
        } else {
            rc = cnn_dataset_batch(tmp, &y, &ds, &one, 0, 1);
            if (rc == CNN_OK) rc = cnn_resize_bilinear(x, tmp, c, ds.h, ds.w, q->chw[1], q->chw[2]);
        }
        if (rc < 0) { cli_fail("predict", rc); status = -1; break; }
        queue_normalize(q, x);
    }
    cnn_dataset_free(&ds);
    free(tmp);
    return status;
}

static const cli_option predict_options[] = {
    {"weights", 'w', 1, "FILE", "the weights (safetensors; required)"},
    {"model", 'm', 1, "NAME|FILE",
     "model name in models/ or a model file: for weights without metadata\n"
     "(default lenet); otherwise it must agree with the recorded model"},
    {"input-shape", OPT_INPUT_SHAPE, 1, "C,H,W", "the input of weights without metadata (default 1,28,28)"},
    {"classes", OPT_CLASSES, 1, "FILE|fashion|digits",
     "class names, one per line (default: the weights', else fashion)"},
    {"topk", 'k', 1, "K", "print the K most likely classes"},
    {"batch-size", 'b', 1, "N", "images per forward, default 256"},
    {"threads", 'j', 1, "N", "default: all cores"},
    {"json", OPT_JSON, 0, NULL, "print the model's outputs as one JSON object per input"},
    {"help", 'h', 0, NULL, "print this help and exit"},
    {NULL, 0, 0, NULL, NULL},
};

int cnn_cli_predict(int argc, char **argv) {
    const char *cmd = "predict", *model_name = NULL, *weights = NULL, *classes = NULL;
    int json = 0, n_inputs = 0;
    long long topk = 0, batch = 256, threads = 0;
    int64_t fallback[3] = {1, 28, 28};
    char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) return 1;
    cli_parser p;
    cli_parser_init(&p, cmd, predict_options, argc, argv);
    for (int key; (key = cli_next(&p)) != -1;) {
        const char *a = p.name, *v = p.value;
        switch (key) {
        case 'h':
            cli_usage(stdout, "predict --weights FILE [options] INPUT...",
                      "Classify PNG and JPEG images of any size (decoded with the model's channels and resized\n"
                      "to its input, as the weights' metadata records) or every image of an IDX file (optionally\n"
                      ".gz). Prints the class and its probability (the K best with --topk K); with --json one\n"
                      "JSON object per input with the model's raw outputs, full precision.\n",
                      predict_options);
            free(inputs);
            return 0;
        case OPT_JSON: json = 1; break;
        case 'm': model_name = v; break;
        case 'w': weights = v; break;
        case OPT_CLASSES: classes = v; break;
        case 'k': if (cli_parse_int(cmd, a, v, 1, CNN_MAX_CLASSES, &topk) < 0) { free(inputs); return 2; } break;
        case 'b': if (cli_parse_int(cmd, a, v, 1, 1 << 16, &batch) < 0) { free(inputs); return 2; } break;
        case 'j': if (cli_parse_int(cmd, a, v, 1, 1024, &threads) < 0) { free(inputs); return 2; } break;
        case OPT_INPUT_SHAPE: if (cli_parse_shape(cmd, a, v, fallback) < 0) { free(inputs); return 2; } break;
        default: free(inputs); return 2;
        }
    }
    /* getopt_long moved the inputs after the options. */
    for (int i = cli_first_arg(); i < argc; i++) inputs[n_inputs++] = argv[i];
    if (!weights || n_inputs == 0) {
        fprintf(stderr, "cnn predict: expected --weights FILE and at least one INPUT\n");
        free(inputs);
        return 2;
    }
    cnn_set_threads((int)threads);
    cnn_model *m = NULL;
    cnn_weights_info info;
    memset(&info, 0, sizeof info);
    char **file_names = NULL;
    int64_t n_file = 0;
    cnn_train_config pre;
    cnn_train_config_default(&pre);
    predict_queue q;
    memset(&q, 0, sizeof q);
    int status = 1;
    int *kinds = NULL; /* 0: PNG or JPEG, 1: IDX */
    const char *const *names = NULL;
    int64_t n_names = 0;
    if (cli_load_weights(cmd, weights, model_name, fallback, &m, &info) < 0) goto done;
    if (check_class_scores(cmd, m) < 0) goto done;
    const int64_t c = cnn_model_num_outputs(m);
    if (topk > c) {
        fprintf(stderr, "cnn predict: --topk: expected at most %lld (the number of classes), found %lld\n", (long long)c, topk);
        status = 2;
        goto done;
    }
    if (classes && (!strcmp(classes, "fashion") || !strcmp(classes, "digits"))) {
        names = !strcmp(classes, "fashion") ? fashion_names : digit_names, n_names = 10;
    } else if (classes) {
        if (cli_read_classes(cmd, classes, &file_names, &n_file) < 0) goto done;
        if (n_file != c) {
            fprintf(stderr, "cnn predict: --classes: %s names %lld classes, the model has %lld outputs\n", classes,
                    (long long)n_file, (long long)c);
            goto done;
        }
        names = (const char *const *)file_names, n_names = n_file;
    } else if (info.class_names) {
        names = (const char *const *)info.class_names, n_names = info.num_classes;
    } else {
        names = fashion_names, n_names = 10; /* weights without names: Fashion-MNIST's, as ever */
    }
    cnn_model_input_shape(m, q.chw);
    if (info.resize_h) pre.resize = info.resize_h, pre.resize_w = info.resize_w;
    if (info.normalize) {
        pre.normalize = 1;
        memcpy(pre.mean, info.mean, sizeof pre.mean);
        memcpy(pre.std, info.std, sizeof pre.std);
    }
    q.m = m, q.bs = (int)batch, q.json = json, q.topk = (int)topk, q.pre = &pre, q.names = names, q.n_names = n_names;
    q.x = malloc((size_t)batch * (size_t)(q.chw[0] * q.chw[1] * q.chw[2]) * sizeof *q.x);
    q.src = malloc((size_t)batch * sizeof *q.src);
    q.index = malloc((size_t)batch * sizeof *q.index);
    q.p = malloc((size_t)c * sizeof *q.p);
    if (!q.x || !q.src || !q.index || !q.p) { fprintf(stderr, "cnn predict: out of memory\n"); goto done; }
    int rc;
    if ((rc = cnn_model_reserve(m, (int)batch)) < 0) { cli_fail(cmd, rc); goto done; }
    kinds = malloc((size_t)n_inputs * sizeof *kinds);
    if (!kinds) { fprintf(stderr, "cnn predict: out of memory\n"); goto done; }
    for (int k = 0; k < n_inputs; k++) {
        /* what the file is, by its first bytes (a file that is not regular
         * is left to cnn_file_read, which names what it is) */
        char *bytes = NULL;
        size_t len = 0;
        unsigned char head[4] = {0, 0, 0, 0};
        int regular = 0;
        size_t got = 0;
        int fd = open(inputs[k], O_RDONLY | O_NONBLOCK);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            regular = 1;
            ssize_t r = read(fd, head, 4);
            got = r > 0 ? (size_t)r : 0;
        }
        if (fd >= 0) close(fd);
        if (!regular) {
            rc = cnn_file_read(inputs[k], 1, &bytes, &len);
            cnn_free(bytes);
            if (rc < 0) { cli_fail(cmd, rc); goto done; }
            fprintf(stderr, "cnn predict: error: %s: cannot read\n", inputs[k]);
            goto done;
        }
        const int is_gz = got >= 2 && head[0] == 0x1f && head[1] == 0x8b;
        const int is_idx = got == 4 && head[0] == 0 && head[1] == 0 && (head[2] == 0x08 || head[2] == 0x0d);
        if (cnn_image_kind_ok(head, got)) {
            kinds[k] = 0;
        } else if (is_idx || is_gz) {
            kinds[k] = 1;
        } else {
            fprintf(stderr, "cnn predict: error: %s: not a PNG, JPEG or IDX file (signature: found %02x %02x %02x %02x)\n",
                    inputs[k], head[0], head[1], head[2], head[3]);
            goto done;
        }
    }
    for (int k = 0; k < n_inputs;) {
        if (kinds[k] == 1) {
            if (predict_idx(&q, inputs[k]) < 0) goto done;
            k++;
            continue;
        }
        /* a run of images, decoded together into free slots of the batch */
        if (q.count == q.bs && queue_flush(&q) < 0) goto done;
        int e = k;
        while (e < n_inputs && kinds[e] == 0 && e - k < q.bs - q.count) e++;
        if (predict_images(&q, inputs + k, e - k) < 0) goto done;
        k = e;
    }
    if (queue_flush(&q) < 0) goto done;
    status = 0;
done:
    fflush(stdout);
    free(kinds);
    free(q.x);
    free(q.src);
    free(q.index);
    free(q.p);
    free(inputs);
    cnn_model_free(m);
    cnn_weights_info_free(&info);
    cli_free_classes(file_names, n_file);
    return status;
}

static const cli_option summary_options[] = {
    {"model", 'm', 1, "NAME|FILE", "the model, as the MODEL argument"},
    {"input-shape", 'i', 1, "C,H,W", "the shape of one input, default 1,28,28"},
    {"weights", 'w', 1, "FILE", "the model and input shape that a weights file records"},
    {"batch-size", 'b', 1, "N", "the batch size of the table, default 1 (--plan: 256)"},
    {"trace", OPT_TRACE, 0, NULL, "print each layer's output shape for one input"},
    {"plan", OPT_PLAN, 0, NULL, "print the steps a forward and backward run: the layers\n"
                               "each covers, its kernel, memory layout and workspace"},
    {"help", 'h', 0, NULL, "print this help and exit"},
    {NULL, 0, 0, NULL, NULL},
};

int cnn_cli_summary(int argc, char **argv) {
    const char *cmd = "summary", *model_name = "lenet", *weights = NULL;
    int64_t chw[3] = {1, 28, 28};
    long long batch = 1;
    int trace = 0, plan = 0, have_model = 0, batch_given = 0;
    cli_parser p;
    cli_parser_init(&p, cmd, summary_options, argc, argv);
    for (int key; (key = cli_next(&p)) != -1;) {
        const char *a = p.name, *v = p.value;
        switch (key) {
        case 'h':
            cli_usage(stdout, "summary [MODEL] [options]",
                      "Print the layer table of a model (torchsummary's columns plus mult-adds and memory),\n"
                      "or with --trace each layer's output shape for one input. MODEL is a name in models/\n"
                      "or a file (default lenet).\n",
                      summary_options);
            return 0;
        case OPT_TRACE: trace = 1; break;
        case OPT_PLAN: plan = 1; break;
        case 'm': model_name = v, have_model = 1; break;
        case 'i': if (cli_parse_shape(cmd, a, v, chw) < 0) return 2; break;
        case 'w': weights = v; break;
        case 'b':
            if (cli_parse_int(cmd, a, v, 1, 1 << 20, &batch) < 0) return 2;
            batch_given = 1;
            break;
        default: return 2;
        }
    }
    for (int i = cli_first_arg(); i < argc; i++) {
        if (have_model) {
            fprintf(stderr, "cnn summary: unexpected argument '%s' (one MODEL only; see cnn summary --help)\n", argv[i]);
            return 2;
        }
        model_name = argv[i], have_model = 1;
    }
    cnn_model *m = NULL;
    if (weights) {
        cnn_weights_info info;
        int r = cli_load_weights(cmd, weights, have_model ? model_name : NULL, chw, &m, &info);
        cnn_weights_info_free(&info);
        if (r < 0) return 1;
    } else if (cli_load_model(cmd, model_name, chw, &m) < 0) {
        return 1;
    }
    int rc = trace  ? cnn_model_trace(stdout, m)
             : plan ? cnn_model_plan_print(stdout, m, batch_given ? (int)batch : 256)
                    : cnn_model_summary(stdout, m, (int)batch);
    cnn_model_free(m);
    return rc < 0 ? cli_fail(cmd, rc) : 0;
}
