/* train_cmd.c — `cnn train`, `cnn eval` and `cnn summary`.
 *
 * train is d2l's train_ch6 as a command: it validates every input (model,
 * both data splits, initial weights) before the first step, then trains with
 * SGD + cross-entropy, printing per-epoch figures, a progress bar on a
 * terminal, the d2l Animator plot (SVG) and a JSON-lines log.
 */
#include "args.h"
#include "cli.h"
#include "dist.h"
#include "opts.h"
#include "paths.h"
#include "train_signal.h"
#include "weights_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum {
    OPT_MOMENTUM = CLI_LONG(0), OPT_WEIGHT_DECAY, OPT_OPTIMIZER, OPT_NESTEROV, OPT_SCHEDULE, OPT_STEP_SIZE,
    OPT_GAMMA, OPT_MAX_LR, OPT_CLIP, OPT_FLIP, OPT_CROP, OPT_RESIZE, OPT_SEED, OPT_INIT, OPT_MAX_STEPS,
    OPT_CHECKPOINT, OPT_CHECKPOINT_EVERY, OPT_RESUME, OPT_NO_SHUFFLE, OPT_PLOT, OPT_LOG, OPT_NORMALIZE,
    OPT_COARSE, OPT_CHANNELS, OPT_NO_CACHE, OPT_SHARD_SIZE, OPT_BUCKET_KB, OPT_OVERLAP
};

static const cli_option train_options[] = {
    {"model", 'm', 1, "NAME|FILE", "model name in models/ or a model file (default lenet)"},
    {"data", 'd', 1, "DIR",
     "the data set: IDX files (default " CNN_DEFAULT_DATA_DIR "), CIFAR-10/100\n"
     "binary files, train.csv/test.csv, or train/<class>/ and test/<class>/\n"
     "folders of PNG/JPEG images (docs/DATA.md)"},
    {"coarse", OPT_COARSE, 0, NULL, "CIFAR-100: the 20 coarse classes instead of the 100 fine ones"},
    {"channels", OPT_CHANNELS, 1, "1|3", "image folders: gray or RGB (default: RGB if any image has colour)"},
    {"no-cache", OPT_NO_CACHE, 0, NULL, "image folders: decode every image, write no cache file"},
    {"epochs", 'e', 1, "N", "default 10"},
    {"batch-size", 'b', 1, "N", "default 256"},
    {"lr", 'l', 1, "X", "learning rate, default 0.9"},
    {"momentum", OPT_MOMENTUM, 1, "X", "SGD momentum, default 0"},
    {"weight-decay", OPT_WEIGHT_DECAY, 1, "X", "L2 penalty (AdamW: decoupled decay), default 0 (AdamW 0.01)"},
    {"optimizer", OPT_OPTIMIZER, 1, "sgd|adam|adamw", "default sgd (torch.optim's rules)"},
    {"nesterov", OPT_NESTEROV, 0, NULL, "Nesterov momentum (SGD, needs --momentum)"},
    {"schedule", OPT_SCHEDULE, 1, "none|step|cosine|onecycle",
     "learning-rate schedule: StepLR and CosineAnnealingLR step per epoch,\n"
     "OneCycleLR per batch (it also cycles momentum / beta1); default none"},
    {"step-size", OPT_STEP_SIZE, 1, "N", "step schedule: epochs between decays, default 1"},
    {"gamma", OPT_GAMMA, 1, "X", "step schedule: decay factor, default 0.1"},
    {"max-lr", OPT_MAX_LR, 1, "X", "onecycle: peak learning rate, default --lr"},
    {"clip-grad-norm", OPT_CLIP, 1, "X", "clip the gradients' total 2-norm to X (clip_grad_norm_)"},
    {"random-flip", OPT_FLIP, 0, NULL, "flip training images horizontally with p = 0.5"},
    {"random-crop", OPT_CROP, 1, "PAD", "random crop of the image size from the zero-padded image"},
    {"resize", OPT_RESIZE, 1, "H[,W]",
     "resize images to H x W first (bilinear, as torchvision's Resize on\n"
     "tensors without antialias); the model then takes C x H x W inputs"},
    {"normalize", OPT_NORMALIZE, 1, "MEAN,STD|auto",
     "Normalize: (x - mean) / std per channel (MEAN,STD for every channel,\n"
     "or C means then C stds; auto: computed from the training set)"},
    {"seed", OPT_SEED, 1, "N", "seed of initialisation, shuffling and dropout, default 0"},
    {"threads", 'j', 1, "N", "default: all cores (under mpirun: shared among a host's processes)"},
    {"shard-size", OPT_SHARD_SIZE, 1, "N",
     "cut each batch into shards of N examples, trained one by one or\n"
     "on other processes and added in order (0: the whole batch; default 128).\n"
     "The weights depend on N, never on the process or thread count"},
    {"bucket-kb", OPT_BUCKET_KB, 1, "KB",
     "under mpirun: send the gradients in buckets of KB kibibytes, the last\n"
     "layers' first (0: one message per tensor; default 1024)"},
    {"overlap", OPT_OVERLAP, 0, NULL,
     "under mpirun: send each bucket from a thread of its own while the\n"
     "backward computes the earlier layers (the same weights either way)"},
    {"init", OPT_INIT, 1, "xavier|default|FILE",
     "xavier (d2l, the default), PyTorch's default init, or weights\nfrom a .safetensors file"},
    {"max-steps", OPT_MAX_STEPS, 1, "K", "stop after K optimizer steps"},
    {"checkpoint", OPT_CHECKPOINT, 1, "FILE",
     "save the whole training state to FILE at the end of each epoch, and\n"
     "when stopped by SIGINT/SIGTERM or --max-steps (see docs/CHECKPOINTS.md)"},
    {"checkpoint-every", OPT_CHECKPOINT_EVERY, 1, "N", "... every N optimizer steps instead of each epoch"},
    {"resume", OPT_RESUME, 1, "FILE", "continue bit-exactly from a checkpoint (same options otherwise)"},
    {"no-shuffle", OPT_NO_SHUFFLE, 0, NULL, "keep the training set in file order"},
    {"save", 'o', 1, "FILE",
     "save the trained weights (safetensors, with the model, input shape,\n"
     "preprocessing and class names in its metadata: docs/WEIGHTS.md)"},
    {"plot", OPT_PLOT, 1, "FILE.svg", "draw train loss, train acc and test acc per epoch (rewritten each epoch)"},
    {"log", OPT_LOG, 1, "FILE.jsonl", "one JSON line per epoch (docs/TOOL.md)"},
    {"quiet", 'q', 0, NULL, "print only the final two lines"},
    {"help", 'h', 0, NULL, "print this help and exit"},
    {NULL, 0, 0, NULL, NULL},
};

typedef struct {
    int quiet, tty, epochs;
    double start_wall;
    const char *log_path;      /* rewritten whole, atomically, after each epoch */
    char *log;                 /* its lines so far */
    size_t log_len, log_cap;
    int failed;                /* a write of --log or --plot failed: stop, exit 1 */
    int64_t events;            /* steps and epochs reported (0: nothing was trained) */
    const char *plot_path;
    cnn_plot_point *points;
    int n_points, cap_points;
    int64_t num_batches;
    double last_loss, last_acc, last_test;
    int64_t examples_done;   /* examples of finished epochs */
    double compute_seconds;  /* as d2l's Timer: forward, backward and step only */
    double comm_seconds, grad_seconds; /* of it, exchanging with the other processes */
} train_ui;

static void ui_add_point(train_ui *ui, double x, double loss, double acc, double test) {
    if (!ui->plot_path || ui->n_points >= ui->cap_points) return;
    cnn_plot_point p = {x, loss, acc, test};
    ui->points[ui->n_points++] = p;
}

/* The shortest text that reads back as the same float (0.9f: "0.9", not
 * "0.899999976"): the learning rate is a float. */
static void float_text(char *buf, size_t cap, double v) {
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, cap, "%.*g", digits, v);
        if ((float)strtod(buf, NULL) == (float)v) return;
    }
}

/* The epoch's line of the JSON-lines log, then the whole log rewritten. */
static int ui_log_epoch(train_ui *ui, const cnn_train_event *ev) {
    char line[512], lr[32];
    float_text(lr, sizeof lr, ev->lr);
    int n = snprintf(line, sizeof line,
                     "{\"epoch\": %d, \"step\": %lld, \"train_loss\": %.9g, \"train_acc\": %.9g, \"test_acc\": %.9g, "
                     "\"lr\": %s, \"compute_seconds\": %.6f, \"wall_seconds\": %.6f}\n",
                     ev->epoch + 1, (long long)ev->step, ev->train_loss, ev->train_acc, ev->test_acc, lr,
                     ev->compute_seconds, now_seconds() - ui->start_wall);
    if (n < 0 || (size_t)n >= sizeof line) return -1;
    if (ui->log_len + (size_t)n > ui->log_cap) {
        size_t cap = 2 * ui->log_cap + (size_t)n;
        char *p = realloc(ui->log, cap);
        if (!p) {
            fprintf(stderr, "cnn train: error: --log: out of memory\n");
            return -1;
        }
        ui->log = p, ui->log_cap = cap;
    }
    memcpy(ui->log + ui->log_len, line, (size_t)n);
    ui->log_len += (size_t)n;
    if (cnn_file_write(ui->log_path, ui->log, ui->log_len) < 0) {
        fprintf(stderr, "cnn train: error: --log: %s\n", cnn_last_error());
        return -1;
    }
    return 0;
}

static int on_train_event(const cnn_train_event *ev, void *user) {
    train_ui *ui = user;
    ui->events++;
    if (cli_train_should_stop(ev)) return 1; /* SIGINT / SIGTERM */
    int64_t every = ui->num_batches / 5 > 0 ? ui->num_batches / 5 : 1;
    ui->last_loss = ev->train_loss, ui->last_acc = ev->train_acc;
    if (ev->kind == CNN_EVENT_BATCH) {
        /* The Animator's points: five per epoch plus the last batch. */
        if (ev->batch % every == 0 || ev->batch == ev->num_batches)
            ui_add_point(ui, ev->epoch + (double)ev->batch / (double)ev->num_batches, ev->train_loss,
                         ev->train_acc, NAN);
        if (ui->tty && !ui->quiet) {
            int width = 30, fill = (int)(width * ev->batch / ev->num_batches);
            double elapsed = now_seconds() - ui->start_wall;
            double done = (double)(ev->epoch * ev->num_batches + ev->batch);
            double left = (double)ui->epochs * (double)ev->num_batches - done;
            double rate = ev->compute_seconds > 0 ? (double)(ui->examples_done + ev->examples) / ev->compute_seconds : 0;
            printf("\repoch %d/%d [", ev->epoch + 1, ui->epochs);
            for (int k = 0; k < width; k++) putchar(k < fill ? '=' : (k == fill ? '>' : ' '));
            printf("] %lld/%lld  %.0f ex/s  ETA %.0fs  loss %.3f ", (long long)ev->batch,
                   (long long)ev->num_batches, rate, elapsed / done * left, ev->train_loss);
            fflush(stdout);
        }
        return 0;
    }
    ui->last_test = ev->test_acc;
    ui->examples_done += ev->examples;
    ui->compute_seconds = ev->compute_seconds;
    ui->comm_seconds = ev->comm_seconds, ui->grad_seconds = ev->grad_seconds;
    if (ev->test_acc >= 0) ui_add_point(ui, ev->epoch + 1, NAN, NAN, ev->test_acc);
    if (ui->tty && !ui->quiet) printf("\r\033[K");
    if (!ui->quiet) {
        printf("epoch %d/%d: loss %.3f, train acc %.3f", ev->epoch + 1, ui->epochs, ev->train_loss, ev->train_acc);
        if (ev->test_acc >= 0) printf(", test acc %.3f", ev->test_acc);
        printf("  (%.1f s)\n", now_seconds() - ui->start_wall);
        fflush(stdout);
    }
    if (ui->log_path && ui_log_epoch(ui, ev) < 0) ui->failed = 1;
    if (!ui->failed && ui->plot_path && cnn_plot_svg(ui->plot_path, ui->points, ui->n_points, ui->epochs) < 0) {
        fprintf(stderr, "cnn train: error: --plot: %s\n", cnn_last_error());
        ui->failed = 1;
    }
    return ui->failed; /* a lost log or plot stops training (the checkpoint is still written) */
    return 0;
}

/* Load both splits; every file is validated before training starts. */
static int load_data(const char *cmd, const char *dir, cnn_dataset *train, cnn_dataset *test,
                     const cnn_data_options *opt) {
    int rc = cnn_data_load(train, test, dir, opt);
    if (rc < 0) {
        fprintf(stderr, "cnn %s: error: %s\n", cmd, cnn_last_error());
        return -1;
    }
    return 0;
}

/* Both splits have the same channels and image size, and every label is an output of the model. */
static int check_data_fits(const char *dir, const cnn_dataset *train, const cnn_dataset *test, int64_t outputs,
                           int resized) {
    const char *tsrc = test->source ? test->source : dir, *src = train->source ? train->source : dir;
    if (cnn_dataset_channels(test) != cnn_dataset_channels(train) ||
        (!resized && (test->h != train->h || test->w != train->w))) {
        fprintf(stderr, "cnn train: error: %s: images are %lldx%lldx%lld, expected %lldx%lldx%lld as the training images (%s)%s\n",
                tsrc, (long long)cnn_dataset_channels(test), (long long)test->h, (long long)test->w,
                (long long)cnn_dataset_channels(train), (long long)train->h, (long long)train->w, src,
                cnn_dataset_channels(test) != cnn_dataset_channels(train) ? " (mixed channel counts)" : "");
        return -1;
    }
    if (train->num_classes && outputs != train->num_classes) {
        fprintf(stderr, "cnn train: error: %s: the data has %lld classes but the model has %lld outputs\n", src,
                (long long)train->num_classes, (long long)outputs);
        return -1;
    }
    const cnn_dataset *sets[2] = {train, test};
    for (int k = 0; k < 2; k++)
        for (int64_t i = 0; i < sets[k]->n; i++)
            if (sets[k]->labels[i] >= outputs) {
                fprintf(stderr, "cnn train: error: %s: label #%lld is %d but the model has only %lld outputs\n",
                        sets[k]->source ? sets[k]->source : dir, (long long)i, sets[k]->labels[i], (long long)outputs);
                return -1;
            }
    return 0;
}

static int train_main(int argc, char **argv, int *shared);

/* Under mpirun, every process runs this; a failure that only some of them
 * meet ends the job (dist.h). */
int cnn_cli_train(int argc, char **argv) {
    int threads = 0; /* --overlap: MPI calls from two threads */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) threads |= !strcmp(argv[i], "--overlap");
    int status = cli_dist_init(threads), shared = 0;
    if (status) return status;
    status = train_main(argc, argv, &shared);
    return cli_dist_finish(status, shared || status == 0 || status == 2);
}

static int train_main(int argc, char **argv, int *shared) {
    const char *cmd = "train", *model_name = "lenet", *data_dir = CNN_DEFAULT_DATA_DIR, *init = "xavier";
    const char *save = NULL, *plot = NULL, *log_path = NULL, *normalize = NULL;
    cnn_data_options dopt = {0};
    cnn_train_config cfg;
    cnn_train_config_default(&cfg);
    long long threads = 0, iv;
    double fv;
    int quiet = 0, wd_given = 0;
    cli_parser p;
    cli_parser_init(&p, cmd, train_options, argc, argv);
    for (int key; (key = cli_next(&p)) != -1;) {
        const char *a = p.name, *v = p.value;
        switch (key) {
        case 'h':
            cli_usage(stdout, "train [options]",
                      "Train a model with minibatch SGD (or Adam, AdamW) and cross-entropy, as d2l's train_ch6.\n"
                      "On N processes (or hosts), data-parallel and bit-identical to one process:\n"
                      "  mpirun -np N cnn train [options]   (--batch-size stays the global batch;\n"
                      "  process 0 alone prints and writes files; see docs/SCALING.md)\n",
                      train_options);
            return 0;
        case 'q': quiet = 1; break;
        case OPT_NO_SHUFFLE: cfg.shuffle = 0; break;
        case OPT_NESTEROV: cfg.nesterov = 1; break;
        case OPT_FLIP: cfg.random_flip = 1; break;
        case OPT_COARSE: dopt.coarse = 1; break;
        case OPT_NO_CACHE: dopt.no_cache = 1; break;
        case OPT_NORMALIZE: normalize = v; break;
        case 'm': model_name = v; break;
        case 'd': data_dir = v; break;
        case OPT_INIT: init = v; break;
        case 'o': save = v; break;
        case OPT_PLOT: plot = v; break;
        case OPT_CHECKPOINT: cfg.checkpoint = v; break;
        case OPT_RESUME: cfg.resume = v; break;
        case OPT_LOG: log_path = v; break;
        case OPT_CHECKPOINT_EVERY:
            if (cli_parse_int(cmd, a, v, 1, INT64_MAX, &iv) < 0) return 2;
            cfg.checkpoint_every = iv;
            break;
        case 'e':
            if (cli_parse_int(cmd, a, v, 1, 100000, &iv) < 0) return 2;
            cfg.epochs = (int)iv;
            break;
        case 'b':
            if (cli_parse_int(cmd, a, v, 1, 1 << 20, &iv) < 0) return 2;
            cfg.batch_size = (int)iv;
            break;
        case OPT_SEED:
            if (cli_parse_int(cmd, a, v, 0, INT64_MAX, &iv) < 0) return 2;
            cfg.seed = (uint64_t)iv;
            break;
        case 'j':
            if (cli_parse_int(cmd, a, v, 1, 1024, &threads) < 0) return 2;
            break;
        case OPT_MAX_STEPS:
            if (cli_parse_int(cmd, a, v, 1, INT64_MAX, &iv) < 0) return 2;
            cfg.max_steps = iv;
            break;
        case 'l':
            if (cli_parse_float(cmd, a, v, 0, 1e6, &fv) < 0) return 2;
            cfg.lr = (float)fv;
            break;
        case OPT_MOMENTUM:
            if (cli_parse_float(cmd, a, v, 0, 1, &fv) < 0) return 2;
            cfg.momentum = (float)fv;
            break;
        case OPT_WEIGHT_DECAY:
            if (cli_parse_float(cmd, a, v, 0, 1e6, &fv) < 0) return 2;
            cfg.weight_decay = (float)fv;
            wd_given = 1;
            break;
        case OPT_OPTIMIZER:
            if (!strcmp(v, "sgd")) cfg.optimizer = CNN_OPTIM_SGD;
            else if (!strcmp(v, "adam")) cfg.optimizer = CNN_OPTIM_ADAM;
            else if (!strcmp(v, "adamw")) cfg.optimizer = CNN_OPTIM_ADAMW;
            else {
                fprintf(stderr, "cnn train: --optimizer: expected sgd, adam or adamw, found '%s'\n", v);
                return 2;
            }
            break;
        case OPT_SCHEDULE:
            if (!strcmp(v, "none")) cfg.schedule = CNN_SCHEDULE_NONE;
            else if (!strcmp(v, "step")) cfg.schedule = CNN_SCHEDULE_STEP;
            else if (!strcmp(v, "cosine")) cfg.schedule = CNN_SCHEDULE_COSINE;
            else if (!strcmp(v, "onecycle")) cfg.schedule = CNN_SCHEDULE_ONECYCLE;
            else {
                fprintf(stderr, "cnn train: --schedule: expected none, step, cosine or onecycle, found '%s'\n", v);
                return 2;
            }
            break;
        case OPT_STEP_SIZE:
            if (cli_parse_int(cmd, a, v, 1, 100000, &iv) < 0) return 2;
            cfg.step_size = (int)iv;
            break;
        case OPT_GAMMA:
            if (cli_parse_float(cmd, a, v, 0, 1e6, &fv) < 0) return 2;
            cfg.gamma = (float)fv;
            break;
        case OPT_MAX_LR:
            if (cli_parse_float(cmd, a, v, 0, 1e6, &fv) < 0) return 2;
            cfg.max_lr = (float)fv;
            break;
        case OPT_CLIP:
            if (cli_parse_float(cmd, a, v, 0, 1e12, &fv) < 0) return 2;
            cfg.clip_grad_norm = (float)fv;
            break;
        case OPT_RESIZE:
            if (cli_parse_resize(cmd, a, v, &cfg.resize, &cfg.resize_w) < 0) return 2;
            break;
        case OPT_CHANNELS:
            if (cli_parse_int(cmd, a, v, 1, 3, &iv) < 0 || iv == 2) {
                if (iv == 2) fprintf(stderr, "cnn train: --channels: expected 1 or 3, found 2\n");
                return 2;
            }
            dopt.channels = (int)iv;
            break;
        case OPT_CROP:
            if (cli_parse_int(cmd, a, v, 0, 64, &iv) < 0) return 2;
            cfg.random_crop = (int)iv;
            break;
        case OPT_SHARD_SIZE:
            if (cli_parse_int(cmd, a, v, 0, 1 << 20, &iv) < 0) return 2;
            cfg.shard_size = (int)iv;
            break;
        case OPT_BUCKET_KB:
            if (cli_parse_int(cmd, a, v, 0, 1 << 20, &iv) < 0) return 2;
            cfg.bucket_bytes = (size_t)iv << 10;
            break;
        case OPT_OVERLAP: cfg.overlap = 1; break;
        default: return 2; /* '?': the parser printed why */
        }
    }
    if (cli_first_arg() < argc) {
        fprintf(stderr, "cnn train: unexpected argument '%s' (train takes options only; see cnn train --help)\n",
                argv[cli_first_arg()]);
        return 2;
    }
    if (cfg.optimizer == CNN_OPTIM_ADAMW && !wd_given) cfg.weight_decay = 0.01f; /* torch.optim.AdamW's default */
    if (cfg.nesterov && (cfg.optimizer != CNN_OPTIM_SGD || cfg.momentum <= 0)) {
        fprintf(stderr, "cnn train: --nesterov: needs --optimizer sgd and --momentum > 0\n");
        return 2;
    }
    if (cli_train_check_checkpoint_options(&cfg)) return 2;
    cnn_set_threads(threads ? (int)threads : cli_dist_default_threads());
    const cnn_comm *comm = cli_dist_comm();
    cfg.comm = comm;
    const int lead = !comm || comm->rank == 0; /* writes --save, --plot, --log (the checkpoint: the library) */

    /* Every output is checked before any work; none may overwrite an input. */
    const char *model_path;
    if (cli_find_model(cmd, model_name, &model_path) < 0) return 1;
    cli_paths ps = {0};
    cli_paths_input(&ps, "--model", model_path);
    cli_paths_data(&ps, data_dir, 1);
    if (strcmp(init, "xavier") && strcmp(init, "default")) cli_paths_input(&ps, "--init", init);
    cli_paths_input(&ps, "--resume", cfg.resume);
    cli_paths_output(&ps, "--save", save, NULL);
    cli_paths_output(&ps, "--checkpoint", cfg.checkpoint, "--resume"); /* read whole, then replaced */
    cli_paths_output(&ps, "--plot", plot, NULL);
    cli_paths_output(&ps, "--log", log_path, NULL);
    if (cli_paths_check(cmd, &ps) < 0) return 1;

    /* Validate every input before any long work. */
    cnn_dataset train = {0}, test = {0};
    dopt.resize_h = cfg.resize, dopt.resize_w = cfg.resize_w;
    if (load_data(cmd, data_dir, &train, &test, &dopt) < 0) return 1;
    const int resize_h = cfg.resize, resize_w = cfg.resize_w;
    /* image folders are resized as they are decoded */
    if (cfg.resize && train.h == cfg.resize && train.w == cfg.resize_w && test.h == train.h && test.w == train.w)
        cfg.resize = cfg.resize_w = 0;
    int64_t chw[3] = {cnn_dataset_channels(&train), cfg.resize ? cfg.resize : train.h,
                      cfg.resize ? cfg.resize_w : train.w};
    cnn_model *m = NULL;
    char *model_text = NULL;
    int status = 1;
    train_ui ui = {0};
    if (normalize && !strcmp(normalize, "auto")) {
        if (chw[0] > CNN_MAX_NORM_CHANNELS) {
            fprintf(stderr, "cnn train: --normalize: %lld channels, at most %d\n", (long long)chw[0], CNN_MAX_NORM_CHANNELS);
            goto done;
        }
        int nrc = cnn_dataset_mean_std(&train, cfg.mean, cfg.std);
        if (nrc < 0) {
            cli_fail(cmd, nrc);
            goto done;
        }
        cfg.normalize = 1;
        if (!quiet) {
            printf("normalize: mean");
            for (int64_t k = 0; k < chw[0]; k++) printf("%s%.4f", k ? "," : " ", (double)cfg.mean[k]);
            printf(", std");
            for (int64_t k = 0; k < chw[0]; k++) printf("%s%.4f", k ? "," : " ", (double)cfg.std[k]);
            printf(" (from the training set)\n");
        }
    } else if (normalize) {
        if (chw[0] > CNN_MAX_NORM_CHANNELS ||
            cli_parse_normalize(cmd, normalize, chw[0], cfg.mean, cfg.std) < 0) {
            status = 2;
            goto done;
        }
        cfg.normalize = 1;
    }
    if (cli_load_model(cmd, model_name, chw, &m) < 0) goto done;
    cnn_rng rng;
    cnn_rng_seed(&rng, cfg.seed);
    if (!strcmp(init, "xavier") || !strcmp(init, "default")) {
        cnn_model_init_params(m, !strcmp(init, "xavier") ? CNN_INIT_XAVIER : CNN_INIT_DEFAULT, &rng);
    } else if (cnn_model_load(m, init) < 0) {
        fprintf(stderr, "cnn train: --init: %s\n", cnn_last_error());
        goto done;
    }
    if (check_data_fits(data_dir, &train, &test, cnn_model_num_outputs(m), cfg.resize != 0) < 0) goto done;
    ui.quiet = quiet;
    ui.tty = isatty(STDOUT_FILENO);
    ui.epochs = cfg.epochs;
    ui.log_path = lead ? log_path : NULL;
    ui.plot_path = lead ? plot : NULL;
    int bs = cfg.batch_size < train.n ? cfg.batch_size : (int)train.n;
    ui.num_batches = (train.n + bs - 1) / bs;
    if (plot) {
        ui.cap_points = cfg.epochs * 7 + 2;
        ui.points = calloc((size_t)ui.cap_points, sizeof *ui.points);
        if (!ui.points) goto done;
    }
    if (!quiet) {
        printf("training %s on %s: %lld train / %lld test images, %zu parameters, %d threads", model_name,
               data_dir, (long long)train.n, (long long)test.n, cnn_model_num_params(m), cnn_get_threads());
        if (comm) printf(" x %d processes", comm->size);
        printf("\n");
        const int eff = cfg.shard_size <= 0 || cfg.shard_size >= bs ? bs : cfg.shard_size;
        const int shards = (bs + eff - 1) / eff;
        if (comm && shards < comm->size)
            printf("note: a batch of %d is %d shard%s of %d, so %d of the %d processes %s none "
                   "(--shard-size %d would give each one)\n",
                   bs, shards, shards > 1 ? "s" : "", eff, comm->size - shards, comm->size,
                   comm->size - shards > 1 ? "have" : "has",
                   (bs + comm->size - 1) / comm->size);
    }
    ui.start_wall = now_seconds();
    cli_train_signals_install();
    int rc = cnn_train(m, &train, &test, &cfg, on_train_event, &ui);
    double wall = now_seconds() - ui.start_wall;
    if (rc == CNN_EPEER || rc == CNN_EINTR || rc == CNN_EDIVERGED) *shared = 1; /* every process stopped here */
    if (rc == CNN_EINTR && ui.failed) goto done; /* the write error was printed */
    if (rc == CNN_EINTR) {
        if (ui.tty && !quiet) printf("\n");
        status = lead ? cli_train_interrupted(argc, argv, &cfg, comm ? comm->size : 1) : 1;
        goto done;
    }
    if (rc < 0) {
        if (ui.tty && !quiet) printf("\n");
        if (!cli_dist_quiet(rc)) cli_fail(cmd, rc);
        goto done;
    }
    if (ui.events == 0) {
        /* Resumed at or past the end: there are no figures to print. */
        fprintf(stderr, "cnn train: %s: the run is already complete (--epochs %d%s); nothing to train\n",
                cfg.resume ? cfg.resume : "", cfg.epochs, cfg.max_steps ? " or --max-steps reached" : "");
    } else {
        printf("loss %.3f, train acc %.3f, test acc %.3f\n", ui.last_loss, ui.last_acc, ui.last_test);
        /* d2l counts examples over the compute time only (its timer runs around
         * each batch); the wall time includes loading batches and evaluation. */
        printf("%.1f examples/sec on cpu (%d threads", 
               ui.compute_seconds > 0 ? (double)ui.examples_done / ui.compute_seconds : 0.0, cnn_get_threads());
        if (comm) printf(" x %d processes", comm->size);
        printf(", %s), %.1f s wall", cnn_isa_name(cnn_get_isa()), wall);
        if (comm && ui.compute_seconds > 0)
            printf("; %.0f%% of it exchanging: %.0f%% gradients, %.0f%% batch-norm sums, losses and counts",
                   100.0 * ui.comm_seconds / ui.compute_seconds, 100.0 * ui.grad_seconds / ui.compute_seconds,
                   100.0 * (ui.comm_seconds - ui.grad_seconds) / ui.compute_seconds);
        printf("\n");
    }
    if (save && lead) {
        /* the weights describe themselves: model, input, preprocessing, classes */
        const char *mpath;
        cnn_weights_info info;
        memset(&info, 0, sizeof info);
        if (cli_read_model(cmd, model_name, &model_text, &mpath) < 0) goto done;
        info.model_text = model_text;
        info.resize_h = resize_h, info.resize_w = resize_w;
        info.normalize = cfg.normalize;
        memcpy(info.mean, cfg.mean, sizeof info.mean);
        memcpy(info.std, cfg.std, sizeof info.std);
        info.num_classes = train.num_classes;
        info.class_names = train.class_names;
        if (cnn_model_save_info(m, save, &info) < 0) {
            fprintf(stderr, "cnn train: error: --save: %s\n", cnn_last_error());
            goto done;
        }
    }
    /* A signal after the last step: the run is complete (and saved, the
     * write being atomic), but the exit status still says it was stopped. */
    int sig = cli_train_stop_signal();
    if (sig) {
        *shared = 1;
        fprintf(stderr, "cnn train: signal %d arrived after the last step; the run is complete%s\n", sig,
                save ? " and its weights are saved" : "");
        status = 128 + sig;
        goto done;
    }
    status = 0;
done:
    cnn_free(model_text);
    free(ui.log);
    free(ui.points);
    cnn_model_free(m);
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    return status;
}
