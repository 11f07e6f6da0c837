/* dataset.c — open a data set by what --data points at (docs/DATA.md).
 *
 *   DIR/train-images-idx3-ubyte[.gz] (or idx4) + labels, t10k-...   IDX
 *   DIR/data_batch_1.bin .. data_batch_5.bin, test_batch.bin        CIFAR-10 binary
 *   DIR/train.bin, test.bin (+ fine/coarse_label_names.txt)         CIFAR-100 binary
 *   DIR/train.csv, DIR/test.csv (label,pixel0,...)                  CSV (Kaggle)
 *   DIR/train/<class>/<image>.png|.jpg, DIR/test/<class>/...        image folder
 *
 * A CIFAR archive's own folder (cifar-10-batches-bin, cifar-100-binary)
 * inside DIR is found too. An optional DIR/classes.txt (one name per line)
 * names the classes of IDX and CSV sets.
 */
#include "data/data.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int cnn__is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int cnn__is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cnn__path(char *out, size_t cap, const char *dir, const char *name) {
    int k = snprintf(out, cap, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= cap) return cnn__fail(CNN_EINVAL, "%s/%s: path too long", dir, name);
    return CNN_OK;
}

/* names[0..n) <- the lines of path (LF or CRLF; a last empty line ignored),
 * each 1..255 bytes of printable text; *n must come out as want (0: any). */
int cnn__read_names(char ***names, int64_t *n, const char *path, int64_t want) {
    *names = NULL;
    *n = 0;
    char *text = NULL;
    size_t len = 0;
    CNN_TRY(cnn_file_read(path, (size_t)1 << 24, &text, &len));
    int64_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    if (len && text[len - 1] != '\n') lines++;
    if (lines > CNN_MAX_CLASSES) {
        cnn_free(text);
        return cnn__fail(CNN_EFORMAT, "%s: expected at most %d class names, found %lld lines", path, CNN_MAX_CLASSES,
                         (long long)lines);
    }
    char **out = cnn_calloc(lines ? (size_t)lines : 1, sizeof *out);
    if (!out) {
        cnn_free(text);
        return cnn__fail(CNN_ENOMEM, "%s: out of memory", path);
    }
    int64_t k = 0;
    int rc = CNN_OK;
    for (size_t i = 0; i < len && rc == CNN_OK;) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        size_t e = j;
        if (e > i && text[e - 1] == '\r') e--;
        if (e == i) {
            /* CIFAR's meta files end with an empty line or two */
            size_t r = j;
            while (r < len && (text[r] == '\n' || text[r] == '\r')) r++;
            if (r < len) rc = cnn__fail(CNN_EFORMAT, "%s: line %lld: empty class name", path, (long long)k + 1);
            break;
        }
        if (e - i > 255) {
            rc = cnn__fail(CNN_EFORMAT, "%s: line %lld: class name longer than 255 bytes", path, (long long)k + 1);
            break;
        }
        for (size_t q = i; q < e && rc == CNN_OK; q++)
            if ((unsigned char)text[q] < 0x20 || text[q] == 0x7f)
                rc = cnn__fail(CNN_EFORMAT, "%s: line %lld: control character 0x%02x in a class name", path,
                               (long long)k + 1, (unsigned char)text[q]);
        if (rc != CNN_OK) break;
        out[k] = cnn_malloc(e - i + 1);
        if (!out[k]) {
            rc = cnn__fail(CNN_ENOMEM, "%s: out of memory", path);
            break;
        }
        memcpy(out[k], text + i, e - i);
        out[k][e - i] = '\0';
        k++;
        i = j + 1;
    }
    cnn_free(text);
    if (rc == CNN_OK && k == 0) rc = cnn__fail(CNN_EFORMAT, "%s: no class names", path);
    if (rc == CNN_OK && want && k != want)
        rc = cnn__fail(CNN_EFORMAT, "%s: expected %lld class names, found %lld", path, (long long)want, (long long)k);
    if (rc != CNN_OK) {
        for (int64_t i = 0; i < k; i++) cnn_free(out[i]);
        cnn_free(out);
        return rc;
    }
    *names = out;
    *n = k;
    return CNN_OK;
}

/* Every label of ds has a name. */
static int check_names(const cnn_dataset *ds, const char *dir) {
    for (int64_t i = 0; ds->class_names && i < ds->n; i++)
        if (ds->labels[i] >= ds->num_classes)
            return cnn__fail(CNN_ERANGE, "%s: label #%lld is %d but %s/classes.txt names %lld classes",
                             ds->source ? ds->source : dir, (long long)i, ds->labels[i], dir,
                             (long long)ds->num_classes);
    return CNN_OK;
}

/* Give ds the names of DIR/classes.txt, if there is one. */
static int idx_class_names(cnn_dataset *ds, const char *dir) {
    char path[4200];
    CNN_TRY(cnn__path(path, sizeof path, dir, "classes.txt"));
    if (!cnn__is_file(path)) return CNN_OK;
    CNN_TRY(cnn__read_names(&ds->class_names, &ds->num_classes, path, 0));
    return check_names(ds, dir);
}

static int copy_names(cnn_dataset *to, const cnn_dataset *from, const char *dir) {
    if (!from->class_names) return CNN_OK;
    CNN_TRY(cnn__copy_names(to, from->class_names, from->num_classes));
    return check_names(to, dir);
}

int cnn__copy_names(cnn_dataset *to, char *const *names, int64_t n) {
    to->class_names = cnn_calloc((size_t)n, sizeof *to->class_names);
    if (!to->class_names) return cnn__fail(CNN_ENOMEM, "out of memory for class names");
    to->num_classes = n;
    for (int64_t i = 0; i < n; i++) {
        size_t k = strlen(names[i]) + 1;
        if (!(to->class_names[i] = cnn_malloc(k))) return cnn__fail(CNN_ENOMEM, "out of memory for class names");
        memcpy(to->class_names[i], names[i], k);
    }
    return CNN_OK;
}

const char *cnn_data_format(const char *path) {
    char p[4200];
    if (!path || !cnn__is_dir(path)) return NULL;
    static const char *const idx[] = {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz",
                                      "t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz",
                                      "train-images-idx4-ubyte", "train-images-idx4-ubyte.gz",
                                      "t10k-images-idx4-ubyte", "t10k-images-idx4-ubyte.gz"};
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
        if (cnn__path(p, sizeof p, path, idx[i]) == CNN_OK && cnn__is_file(p)) return "idx";
    if (cnn__path(p, sizeof p, path, "data_batch_1.bin") == CNN_OK && cnn__is_file(p)) return "cifar10";
    if (cnn__path(p, sizeof p, path, "cifar-10-batches-bin") == CNN_OK && cnn__is_dir(p)) return "cifar10";
    if (cnn__path(p, sizeof p, path, "fine_label_names.txt") == CNN_OK && cnn__is_file(p)) return "cifar100";
    if (cnn__path(p, sizeof p, path, "cifar-100-binary") == CNN_OK && cnn__is_dir(p)) return "cifar100";
    if (cnn__path(p, sizeof p, path, "train.bin") == CNN_OK && cnn__is_file(p)) return "cifar100";
    if (cnn__path(p, sizeof p, path, "train.csv") == CNN_OK && cnn__is_file(p)) return "csv";
    if (cnn__path(p, sizeof p, path, "test.csv") == CNN_OK && cnn__is_file(p)) return "csv";
    if (cnn__path(p, sizeof p, path, "train") == CNN_OK && cnn__is_dir(p)) return "folder";
    if (cnn__path(p, sizeof p, path, "test") == CNN_OK && cnn__is_dir(p)) return "folder";
    return NULL;
}

int cnn_data_load(cnn_dataset *train, cnn_dataset *test, const char *path, const cnn_data_options *opt) {
    if (train) memset(train, 0, sizeof *train);
    if (!test || !path) return cnn__fail(CNN_EINVAL, "cnn_data_load: test and path must not be NULL");
    memset(test, 0, sizeof *test);
    cnn_data_options none;
    memset(&none, 0, sizeof none);
    if (!opt) opt = &none;
    const char *fmt = cnn_data_format(path);
    int rc;
    if (!fmt || !strcmp(fmt, "idx")) {
        /* IDX, or nothing recognised: the IDX loader's message lists what it tried */
        rc = train ? cnn_dataset_load_split(train, path, "train") : CNN_OK;
        if (rc == CNN_OK) rc = cnn_dataset_load_split(test, path, "t10k");
        if (rc == CNN_ENOTFOUND && !fmt && !cnn__is_dir(path))
            rc = cnn__fail(CNN_ENOTFOUND, "%s: not found (no such directory; run 'cnn data fetch')", path);
        else if (rc == CNN_ENOTFOUND && !fmt)
            rc = cnn__fail(CNN_ENOTFOUND,
                           "%s: data set not found: expected IDX files (train-images-idx3-ubyte[.gz], ...), CIFAR "
                           "binary files (data_batch_1.bin, test_batch.bin or train.bin, test.bin), train.csv and "
                           "test.csv, or folders train/<class>/ and test/<class>/ of images (run 'cnn data fetch')",
                           path);
        if (rc == CNN_OK && train) rc = idx_class_names(train, path);
        if (rc == CNN_OK) rc = train ? copy_names(test, train, path) : idx_class_names(test, path);
    } else if (!strcmp(fmt, "cifar10") || !strcmp(fmt, "cifar100")) {
        rc = cnn__cifar_load(train, test, path, !strcmp(fmt, "cifar100"), opt->coarse);
    } else if (!strcmp(fmt, "csv")) {
        rc = cnn__csv_load(train, test, path);
        if (rc == CNN_OK && train) rc = idx_class_names(train, path);
        if (rc == CNN_OK) rc = train ? copy_names(test, train, path) : idx_class_names(test, path);
    } else {
        rc = cnn__folder_load(train, test, path, opt);
    }
    if (rc != CNN_OK) {
        if (train) cnn_dataset_free(train);
        cnn_dataset_free(test);
    }
    return rc;
}
