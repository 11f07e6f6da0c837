/* cifar.c — the CIFAR-10 and CIFAR-100 binary formats, as distributed
 * (https://www.cs.toronto.edu/~kriz/cifar.html):
 *
 *   CIFAR-10   data_batch_1.bin .. data_batch_5.bin, test_batch.bin;
 *              records of 1 + 3072 bytes: <label 0..9> <1024 R> <1024 G> <1024 B>,
 *              each plane 32 x 32 row-major; batches.meta.txt names the 10 classes
 *   CIFAR-100  train.bin, test.bin; records of 2 + 3072 bytes:
 *              <coarse label 0..19> <fine label 0..99> <pixels as above>;
 *              fine_label_names.txt (100), coarse_label_names.txt (20)
 *
 * Images come out as (n, 3, 32, 32) bytes, which is the record layout, so a
 * record is copied as it is. A file whose length is not a whole number of
 * records is refused naming the record that is cut and its length; a label
 * out of range names the file, the record and the value.
 */
#include "data/data.h"

#include <stdio.h>
#include <string.h>

#define CIFAR_PIXELS 3072
#define CIFAR_MAX_BATCHES 64

int cnn__cifar_parse(cnn_dataset *ds, const uint8_t *bytes, size_t len, int cifar100, int coarse, const char *name) {
    memset(ds, 0, sizeof *ds);
    const size_t rec = (size_t)(cifar100 ? 2 : 1) + CIFAR_PIXELS;
    const int classes = !cifar100 ? 10 : coarse ? 20 : 100;
    if (len == 0) return cnn__fail(CNN_EFORMAT, "%s: empty file: expected records of %zu bytes", name, rec);
    if (len % rec != 0)
        return cnn__fail(CNN_EFORMAT, "%s: record #%zu: expected %zu bytes, found %zu (truncated CIFAR-%d record)", name,
                         len / rec, rec, len % rec, cifar100 ? 100 : 10);
    const size_t n = len / rec;
    if (n > (size_t)CNN_IDX_MAX_COUNT) return cnn__fail(CNN_EFORMAT, "%s: %zu records, too many", name, n);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = bytes + i * rec;
        int label = cifar100 ? r[coarse ? 0 : 1] : r[0];
        if (cifar100 && r[0] >= 20)
            return cnn__fail(CNN_ERANGE, "%s: record #%zu: coarse label: expected 0..19, found %d", name, i, r[0]);
        if (label >= classes)
            return cnn__fail(CNN_ERANGE, "%s: record #%zu: %slabel: expected 0..%d, found %d", name, i,
                             cifar100 ? "fine " : "", classes - 1, label);
    }
    ds->images = cnn_malloc(n * CIFAR_PIXELS);
    ds->labels = cnn_malloc(n * sizeof *ds->labels);
    if (!ds->images || !ds->labels) {
        cnn_dataset_free(ds);
        return cnn__fail(CNN_ENOMEM, "%s: cannot allocate %zu images", name, n);
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = bytes + i * rec;
        ds->labels[i] = cifar100 ? r[coarse ? 0 : 1] : r[0];
        memcpy(ds->images + i * CIFAR_PIXELS, r + (cifar100 ? 2 : 1), CIFAR_PIXELS);
    }
    ds->n = (int64_t)n, ds->c = 3, ds->h = 32, ds->w = 32;
    return CNN_OK;
}

/* ds <- the records of files[0..nf) one after another. */
static int cifar_read_files(cnn_dataset *ds, char files[][4200], int nf, int cifar100, int coarse) {
    memset(ds, 0, sizeof *ds);
    cnn_dataset part[CIFAR_MAX_BATCHES];
    memset(part, 0, sizeof part);
    int rc = CNN_OK;
    int64_t total = 0;
    for (int f = 0; f < nf && rc == CNN_OK; f++) {
        char *bytes = NULL;
        size_t len = 0;
        rc = cnn_file_read(files[f], (size_t)1 << 31, &bytes, &len);
        if (rc == CNN_OK) rc = cnn__cifar_parse(&part[f], (const uint8_t *)bytes, len, cifar100, coarse, files[f]);
        cnn_free(bytes);
        total += part[f].n;
    }
    if (rc == CNN_OK) {
        ds->images = cnn_malloc((size_t)total * CIFAR_PIXELS);
        ds->labels = cnn_malloc((size_t)total * sizeof *ds->labels);
        size_t nlen = strlen(files[nf - 1]) + 1;
        ds->source = cnn_malloc(nlen);
        if (!ds->images || !ds->labels || !ds->source) {
            rc = cnn__fail(CNN_ENOMEM, "%s: cannot allocate %lld images", files[0], (long long)total);
        } else {
            memcpy(ds->source, files[nf - 1], nlen);
            int64_t at = 0;
            for (int f = 0; f < nf; f++) {
                memcpy(ds->images + at * CIFAR_PIXELS, part[f].images, (size_t)part[f].n * CIFAR_PIXELS);
                memcpy(ds->labels + at, part[f].labels, (size_t)part[f].n * sizeof *ds->labels);
                at += part[f].n;
            }
            ds->n = total, ds->c = 3, ds->h = 32, ds->w = 32;
        }
    }
    for (int f = 0; f < nf; f++) cnn_dataset_free(&part[f]);
    if (rc != CNN_OK) cnn_dataset_free(ds);
    return rc;
}

static int set_names(cnn_dataset *ds, char **names, int64_t n) {
    if (names) return cnn__copy_names(ds, names, n);
    ds->num_classes = n;
    return CNN_OK;
}

int cnn__cifar_load(cnn_dataset *train, cnn_dataset *test, const char *path, int cifar100, int coarse) {
    char dir[4200];
    const char *sub = cifar100 ? "cifar-100-binary" : "cifar-10-batches-bin";
    CNN_TRY(cnn__path(dir, sizeof dir, path, sub));
    if (!cnn__is_dir(dir)) snprintf(dir, sizeof dir, "%s", path);
    static char files[CIFAR_MAX_BATCHES][4200];
    int nf = 0;
    if (train) {
        if (cifar100) {
            CNN_TRY(cnn__path(files[nf++], sizeof files[0], dir, "train.bin"));
        } else {
            for (int b = 1; b < CIFAR_MAX_BATCHES; b++) {
                char name[32];
                snprintf(name, sizeof name, "data_batch_%d.bin", b);
                CNN_TRY(cnn__path(files[nf], sizeof files[0], dir, name));
                if (!cnn__is_file(files[nf])) break;
                nf++;
            }
            if (nf == 0) return cnn__fail(CNN_ENOTFOUND, "%s/data_batch_1.bin: not found (CIFAR-10 training batches)", dir);
        }
        CNN_TRY(cifar_read_files(train, files, nf, cifar100, coarse));
    }
    char tfile[1][4200];
    CNN_TRY(cnn__path(tfile[0], sizeof tfile[0], dir, cifar100 ? "test.bin" : "test_batch.bin"));
    if (!cnn__is_file(tfile[0])) return cnn__fail(CNN_ENOTFOUND, "%s: not found (the CIFAR test set)", tfile[0]);
    CNN_TRY(cifar_read_files(test, tfile, 1, cifar100, coarse));

    /* class names from the meta file, when it is there */
    char meta[4200];
    const int64_t classes = !cifar100 ? 10 : coarse ? 20 : 100;
    CNN_TRY(cnn__path(meta, sizeof meta, dir,
                      !cifar100 ? "batches.meta.txt" : coarse ? "coarse_label_names.txt" : "fine_label_names.txt"));
    char **names = NULL;
    int64_t n = 0;
    if (cnn__is_file(meta)) CNN_TRY(cnn__read_names(&names, &n, meta, classes));
    int rc = train ? set_names(train, names, classes) : CNN_OK;
    if (rc == CNN_OK) rc = set_names(test, names, classes);
    for (int64_t i = 0; i < n; i++) cnn_free(names[i]);
    cnn_free(names);
    return rc;
}
