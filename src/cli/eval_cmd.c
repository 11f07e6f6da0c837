/* eval_cmd.c — `cnn eval` (accuracy, per-class accuracy, confusion matrix
 * as a table and an SVG heat map, top-k accuracy), `cnn predict` and
 * `cnn summary`. */
#include "args.h"
#include "cli.h"
#include "opts.h"
#include "paths.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

enum { OPT_CONFUSION = CLI_LONG(0), OPT_RESIZE, OPT_CLASSES, OPT_JSON, OPT_TRACE, OPT_PLAN };

static const cli_option eval_options[] = {
    {"weights", 'w', 1, "FILE", "the weights to evaluate (safetensors; required)"},
    {"model", 'm', 1, "NAME|FILE", "model name in models/ or a model file (default lenet)"},
    {"data", 'd', 1, "DIR", "directory with t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte\n"
                             "(plain or .gz; default " CNN_DEFAULT_DATA_DIR ")"},
    {"batch-size", 'b', 1, "N", "default 256"},
    {"threads", 'j', 1, "N", "default: all cores"},
    {"topk", 'k', 1, "K", "also print the top-K accuracy"},
    {"confusion", OPT_CONFUSION, 1, "FILE.svg", "draw the confusion matrix as an SVG heat map"},
    {"resize", OPT_RESIZE, 1, "N", "resize the images to N x N as training did"},
    {"quiet", 'q', 0, NULL, "print only the accuracy line"},
    {"help", 'h', 0, NULL, "print this help and exit"},
    {NULL, 0, 0, NULL, NULL},
};

int cnn_cli_eval(int argc, char **argv) {
    const char *cmd = "eval", *model_name = "lenet", *data_dir = CNN_DEFAULT_DATA_DIR, *weights = NULL;
    const char *confusion = NULL;
    long long batch = 256, threads = 0, topk = 0, resize = 0;
    int quiet = 0;
    cli_parser p;
    cli_parser_init(&p, cmd, eval_options, argc, argv);
    for (int key; (key = cli_next(&p)) != -1;) {
        const char *a = p.name, *v = p.value;
        switch (key) {
        case 'h':
            cli_usage(stdout, "eval --weights FILE [options]",
                      "Print the test accuracy of saved weights on DIR/t10k-*, the accuracy of each class,\n"
                      "the confusion matrix (rows: true class, columns: predicted) and, with --topk K, the\n"
                      "top-K accuracy.\n",
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
        case OPT_RESIZE: if (cli_parse_int(cmd, a, v, 1, 4096, &resize) < 0) return 2; break;
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
    const char *model_path;
    if (cli_find_model(cmd, model_name, &model_path) < 0) return 1;
    cli_paths ps = {0};
    cli_paths_input(&ps, "--model", model_path);
    cli_paths_input(&ps, "--weights", weights);
    cli_paths_data(&ps, data_dir, 0);
    cli_paths_output(&ps, "--confusion", confusion, NULL);
    if (cli_paths_check(cmd, &ps) < 0) return 1;
    cnn_dataset test = {0};
    cnn_model *m = NULL;
    float *x = NULL, *raw = NULL;
    int32_t *y = NULL;
    int64_t *cm = NULL;
    int rc = cnn_dataset_load_split(&test, data_dir, "t10k"), status = 1;
    if (rc < 0) return cli_fail(cmd, rc);
    int64_t chw[3] = {1, resize ? resize : test.h, resize ? resize : test.w};
    if (cli_load_model(cmd, model_name, chw, &m) < 0) goto done;
    if ((rc = cnn_model_load(m, weights)) < 0) { cli_fail(cmd, rc); goto done; }
    if (check_class_scores(cmd, m) < 0) goto done;
    const int64_t c = cnn_model_num_outputs(m);
    if (c > 4096) {
        fprintf(stderr, "cnn eval: the model has %lld outputs, at most 4096 are supported\n", (long long)c);
        goto done;
    }
    if (topk > c) {
        fprintf(stderr, "cnn eval: --topk: expected at most %lld (the number of classes), found %lld\n",
                (long long)c, topk);
        status = 2;
        goto done;
    }
    int bs = (int)(batch < test.n ? batch : test.n);
    x = malloc((size_t)bs * (size_t)(chw[1] * chw[2]) * sizeof *x);
    raw = resize ? malloc((size_t)bs * (size_t)(test.h * test.w) * sizeof *raw) : NULL;
    y = malloc((size_t)bs * sizeof *y);
    cm = calloc((size_t)(c * c), sizeof *cm);
    if (!x || !y || !cm || (resize && !raw)) { fprintf(stderr, "cnn eval: out of memory\n"); goto done; }
    for (int64_t i = 0; i < test.n; i++)
        if (test.labels[i] >= c) {
            fprintf(stderr, "cnn eval: test label #%lld is %d but the model has only %lld outputs\n", (long long)i,
                    test.labels[i], (long long)c);
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
        if ((rc = cnn_dataset_batch_resized(x, raw, y, &test, NULL, start, count, (int)resize)) < 0 ||
            (rc = cnn_model_forward(m, &logits, x, count, 0, NULL)) < 0) {
            cli_fail(cmd, rc);
            goto done;
        }
        for (int r = 0; r < count; r++) {
            const float *z = logits + (size_t)r * (size_t)c;
            int64_t best = argmax_row(z, c), rank = 0;
            for (int64_t k = 0; k < c; k++) /* classes strictly ahead of the true one, ties by index */
                rank += z[k] > z[y[r]] || (z[k] == z[y[r]] && k < y[r]);
            cm[y[r] * c + best]++;
            correct += best == y[r];
            in_topk += rank < topk;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("test acc %.4f (%lld images, %.1f images/sec, %d threads, %s)\n", (double)correct / (double)test.n,
           (long long)test.n, secs > 0 ? (double)test.n / secs : 0.0, cnn_get_threads(), cnn_isa_name(cnn_get_isa()));
    if (topk > 0) printf("top-%lld acc %.4f\n", topk, (double)in_topk / (double)test.n);
    const char **names = c == 10 ? fashion_names : NULL;
    if (!quiet) {
        printf("\n%-12s %8s %8s\n", "class", "images", "acc");
        for (int64_t i = 0; i < c; i++) {
            int64_t row = 0;
            for (int64_t j = 0; j < c; j++) row += cm[i * c + j];
            char label[32];
            if (names) snprintf(label, sizeof label, "%s", names[i]);
            else snprintf(label, sizeof label, "%lld", (long long)i);
            printf("%-12s %8lld %8.4f\n", label, (long long)row, row ? (double)cm[i * c + i] / (double)row : 0.0);
        }
        printf("\nconfusion matrix (rows: true class, columns: predicted)\n%-12s", "");
        for (int64_t j = 0; j < c; j++) printf(" %5lld", (long long)j);
        printf("\n");
        for (int64_t i = 0; i < c; i++) {
            char label[32];
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
    cnn_model_free(m);
    cnn_dataset_free(&test);
    return status;
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
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

static void print_prediction(const char *input, long long index, const float *z, int64_t c, const char **names,
                             int json) {
    if (json) {
        printf("{\"input\": ");
        print_json_string(input);
        if (index >= 0) printf(", \"index\": %lld", index);
        printf(", \"logits\": [");
        for (int64_t k = 0; k < c; k++) {
            if (isfinite(z[k])) printf("%s%.9g", k ? ", " : "", (double)z[k]);
            else printf("%snull", k ? ", " : ""); /* JSON has no NaN or infinity (as JSON.stringify) */
        }
        printf("]}\n");
        return;
    }
    double p[4096];
    softmax_row(p, z, c);
    int64_t best = argmax_row(z, c); /* from the logits: softmax of an infinite logit is NaN */
    if (index >= 0) printf("%s[%lld]: ", input, index);
    else printf("%s: ", input);
    if (names && best < 10) printf("%s ", names[best]);
    else printf("class %lld ", (long long)best);
    if (isnan(p[best])) printf("(nan)\n");
    else printf("(%.3f)\n", p[best]);
}

static const cli_option predict_options[] = {
    {"weights", 'w', 1, "FILE", "the weights (safetensors; required)"},
    {"model", 'm', 1, "NAME|FILE", "model name in models/ or a model file (default lenet)"},
    {"classes", OPT_CLASSES, 1, "fashion|digits", "the names of the classes (default fashion)"},
    {"json", OPT_JSON, 0, NULL, "print the model's outputs as one JSON object per input"},
    {"help", 'h', 0, NULL, "print this help and exit"},
    {NULL, 0, 0, NULL, NULL},
};

int cnn_cli_predict(int argc, char **argv) {
    const char *cmd = "predict", *model_name = "lenet", *weights = NULL, *classes = "fashion";
    int json = 0, n_inputs = 0;
    long long size = 28;
    char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) return 1;
    cli_parser p;
    cli_parser_init(&p, cmd, predict_options, argc, argv);
    for (int key; (key = cli_next(&p)) != -1;) {
        const char *v = p.value;
        switch (key) {
        case 'h':
            cli_usage(stdout, "predict --weights FILE [options] INPUT...",
                      "Classify 28x28 PNG images (gray, RGB or palette) or every image of an IDX file\n"
                      "(optionally .gz). Prints the class and its probability; with --json the raw\n"
                      "outputs of the model for every input, full precision.\n",
                      predict_options);
            free(inputs);
            return 0;
        case OPT_JSON: json = 1; break;
        case 'm': model_name = v; break;
        case 'w': weights = v; break;
        case OPT_CLASSES:
            if (strcmp(v, "fashion") && strcmp(v, "digits")) {
                fprintf(stderr, "cnn predict: --classes: expected fashion or digits, found '%s'\n", v);
                free(inputs);
                return 2;
            }
            classes = v;
            break;
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
    const char **names = !strcmp(classes, "fashion") ? fashion_names : digit_names;
    int64_t chw[3] = {1, size, size};
    cnn_model *m = NULL;
    float *x = malloc((size_t)(size * size) * sizeof(float));
    int status = 1, rc;
    if (!x || cli_load_model(cmd, model_name, chw, &m) < 0) goto done;
    if ((rc = cnn_model_load(m, weights)) < 0) { cli_fail(cmd, rc); goto done; }
    if (check_class_scores(cmd, m) < 0) goto done;
    int64_t c = cnn_model_num_outputs(m);
    if (c > 4096) { fprintf(stderr, "cnn predict: model has %lld outputs, at most 4096 supported\n", (long long)c); goto done; }
    for (int k = 0; k < n_inputs; k++) {
        const float *logits;
        if (has_suffix(inputs[k], ".png") || has_suffix(inputs[k], ".PNG")) {
            if ((rc = cnn_png_read_gray(x, inputs[k], size, size)) < 0) { cli_fail(cmd, rc); goto done; }
            if ((rc = cnn_model_forward(m, &logits, x, 1, 0, NULL)) < 0) { cli_fail(cmd, rc); goto done; }
            print_prediction(inputs[k], -1, logits, c, names, json);
        } else {
            uint8_t *px = NULL;
            int64_t n = 0, h = 0, w = 0;
            if ((rc = cnn_idx_read_images(&px, &n, &h, &w, inputs[k])) < 0) { cli_fail(cmd, rc); goto done; }
            if (h != size || w != size) {
                fprintf(stderr, "cnn predict: %s: images are %lldx%lld, expected %lldx%lld\n", inputs[k],
                        (long long)h, (long long)w, size, size);
                cnn_free(px);
                goto done;
            }
            for (int64_t i = 0; i < n; i++) {
                for (int64_t q = 0; q < h * w; q++) x[q] = px[i * h * w + q] / 255.0f;
                if ((rc = cnn_model_forward(m, &logits, x, 1, 0, NULL)) < 0) { cnn_free(px); cli_fail(cmd, rc); goto done; }
                print_prediction(inputs[k], i, logits, c, names, json);
            }
            cnn_free(px);
        }
    }
    status = 0;
done:
    free(x);
    free(inputs);
    cnn_model_free(m);
    return status;
}

static const cli_option summary_options[] = {
    {"model", 'm', 1, "NAME|FILE", "the model, as the MODEL argument"},
    {"input-shape", 'i', 1, "C,H,W", "the shape of one input, default 1,28,28"},
    {"batch-size", 'b', 1, "N", "the batch size of the table, default 1 (--plan: 256)"},
    {"trace", OPT_TRACE, 0, NULL, "print each layer's output shape for one input"},
    {"plan", OPT_PLAN, 0, NULL, "print the steps a forward and backward run: the layers\n"
                               "each covers, its kernel, memory layout and workspace"},
    {"help", 'h', 0, NULL, "print this help and exit"},
    {NULL, 0, 0, NULL, NULL},
};

int cnn_cli_summary(int argc, char **argv) {
    const char *cmd = "summary", *model_name = "lenet";
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
    if (cli_load_model(cmd, model_name, chw, &m) < 0) return 1;
    int rc = trace  ? cnn_model_trace(stdout, m)
             : plan ? cnn_model_plan_print(stdout, m, batch_given ? (int)batch : 256)
                    : cnn_model_summary(stdout, m, (int)batch);
    cnn_model_free(m);
    return rc < 0 ? cli_fail(cmd, rc) : 0;
}
