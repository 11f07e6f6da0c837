/* csv.c — images as CSV in the common Kaggle layout:
 *
 *   label,pixel0,pixel1,...,pixelP-1        a header line (the first name is "label")
 *   5,0,0,...,255                           one example per line
 *
 * Labels are integers 0..65534, pixels integers 0..255 (plain digits: no
 * sign, fraction, exponent, quotes or spaces); every row has the header's
 * number of fields; lines end in LF or CRLF, the last one may not. The image
 * is 1 x s x s when P = s^2, else 3 x s x s when P = 3 s^2 (channel-major,
 * as a flattened CHW tensor); any other P is refused. Errors name the file,
 * the line and the field with expected vs found.
 */
#include "data/data.h"

#include <stdio.h>
#include <string.h>

static int64_t isqrt64(int64_t v) {
    int64_t r = 0;
    while ((r + 1) * (r + 1) <= v) r++;
    return r;
}

int cnn__csv_parse(cnn_dataset *ds, const char *text, size_t len, const char *name) {
    memset(ds, 0, sizeof *ds);
    /* the header: "label" then P more names */
    size_t i = 0;
    while (i < len && text[i] != '\n') i++;
    size_t hend = i > 0 && text[i - 1] == '\r' ? i - 1 : i;
    const int plain = hend >= 5 && memcmp(text, "label", 5) == 0 && (hend == 5 || text[5] == ',');
    const int quoted = hend >= 7 && memcmp(text, "\"label\"", 7) == 0 && (hend == 7 || text[7] == ',');
    if (!plain && !quoted)
        return cnn__fail(CNN_EFORMAT, "%s: line 1: expected a header starting with \"label,\", found \"%.*s\"", name,
                         (int)(hend < 24 ? hend : 24), text);
    int64_t fields = 1;
    for (size_t k = 0; k < hend; k++) fields += text[k] == ',';
    const int64_t p = fields - 1;
    if (p < 1) return cnn__fail(CNN_EFORMAT, "%s: line 1: the header names no pixel columns", name);
    int64_t c = 1, s = isqrt64(p);
    if (s * s != p) {
        s = isqrt64(p / 3);
        c = 3;
        if (p % 3 != 0 || 3 * s * s != p)
            return cnn__fail(CNN_EFORMAT,
                             "%s: line 1: %lld pixel columns: expected s*s (gray s x s) or 3*s*s (colour 3 x s x s)",
                             name, (long long)p);
    }
    /* count the rows */
    int64_t rows = 0;
    for (size_t k = i < len ? i + 1 : len; k < len;) {
        size_t e = k;
        while (e < len && text[e] != '\n') e++;
        if (!(e == k || (e == k + 1 && text[k] == '\r'))) {
            rows++;
        } else {
            /* an empty line is allowed only at the very end */
            size_t r = e;
            while (r < len && (text[r] == '\n' || text[r] == '\r')) r++;
            if (r < len) return cnn__fail(CNN_EFORMAT, "%s: line %lld: empty line", name, (long long)rows + 2);
            break;
        }
        k = e + 1;
    }
    if (rows == 0) return cnn__fail(CNN_EFORMAT, "%s: no examples after the header", name);
    if (rows > CNN_IDX_MAX_COUNT) return cnn__fail(CNN_EFORMAT, "%s: %lld rows, too many", name, (long long)rows);
    size_t px;
    if (cnn__mul_overflow((size_t)rows, (size_t)p, &px) || (int64_t)px > CNN_MAX_NUMEL)
        return cnn__fail(CNN_EFORMAT, "%s: %lld rows of %lld pixels are too many", name, (long long)rows, (long long)p);
    ds->images = cnn_malloc(px);
    ds->labels = cnn_malloc((size_t)rows * sizeof *ds->labels);
    if (!ds->images || !ds->labels) {
        cnn_dataset_free(ds);
        return cnn__fail(CNN_ENOMEM, "%s: cannot allocate %lld images", name, (long long)rows);
    }
    size_t k = i + 1;
    for (int64_t r = 0; r < rows; r++) {
        const long long line = (long long)r + 2;
        for (int64_t f = 0; f < fields; f++) {
            size_t b = k;
            uint64_t v = 0;
            while (k < len && text[k] >= '0' && text[k] <= '9' && v < 1000000) v = v * 10 + (uint64_t)(text[k++] - '0');
            const uint64_t max = f == 0 ? CNN_MAX_CLASSES - 1 : 255;
            const char *what = f == 0 ? "label" : "pixel";
            char end = k < len ? text[k] : '\n';
            if (end == '\r' && k + 1 < len && text[k + 1] == '\n') end = '\n';
            else if (end == '\r' && k + 1 == len) end = '\n';
            const char want = f < fields - 1 ? ',' : '\n';
            if (k == b || (end != ',' && end != '\n') || (k - b > 1 && text[b] == '0')) {
                size_t e = b;
                while (e < len && text[e] != ',' && text[e] != '\n' && e - b < 16) e++;
                return cnn__fail(CNN_EFORMAT, "%s: line %lld, field %lld (%s): expected an integer 0..%llu, found \"%.*s\"",
                                 name, line, (long long)f + 1, what, (unsigned long long)max, (int)(e - b), text + b),
                       cnn_dataset_free(ds), CNN_EFORMAT;
            }
            if (end != want)
                return cnn_dataset_free(ds),
                       cnn__fail(CNN_EFORMAT, "%s: line %lld: expected %lld fields as the header has, found %s", name,
                                 line, (long long)fields, end == ',' ? "more" : "fewer");
            if (v > max)
                return cnn_dataset_free(ds),
                       cnn__fail(CNN_ERANGE, "%s: line %lld, field %lld (%s): expected 0..%llu, found %llu%s", name,
                                 line, (long long)f + 1, what, (unsigned long long)max, (unsigned long long)v,
                                 v >= 1000000 ? "..." : "");
            if (f == 0) ds->labels[r] = (uint16_t)v;
            else ds->images[(size_t)r * (size_t)p + (size_t)(f - 1)] = (uint8_t)v;
            if (k < len && text[k] == '\r') k++;
            k++; /* the ',' or '\n' */
        }
    }
    ds->n = rows, ds->c = c, ds->h = s, ds->w = s;
    return CNN_OK;
}

static int csv_read(cnn_dataset *ds, const char *path) {
    char *text = NULL;
    size_t len = 0;
    CNN_TRY(cnn_file_read(path, (size_t)1 << 32, &text, &len));
    int rc = cnn__csv_parse(ds, text, len, path);
    cnn_free(text);
    if (rc == CNN_OK) {
        size_t n = strlen(path) + 1;
        if (!(ds->source = cnn_malloc(n))) {
            cnn_dataset_free(ds);
            return cnn__fail(CNN_ENOMEM, "%s: out of memory", path);
        }
        memcpy(ds->source, path, n);
    }
    return rc;
}

/* DIR/train.csv or a Kaggle name (mnist_train.csv, fashion-mnist_train.csv). */
static int csv_find(char *out, size_t cap, const char *dir, const char *split) {
    const char *pre[3] = {"", "mnist_", "fashion-mnist_"};
    for (int k = 0; k < 3; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s%s.csv", pre[k], split);
        CNN_TRY(cnn__path(out, cap, dir, name));
        if (cnn__is_file(out)) return CNN_OK;
    }
    return cnn__fail(CNN_ENOTFOUND, "%s/%s.csv: not found (CSV data sets have train.csv and test.csv)", dir, split);
}

int cnn__csv_load(cnn_dataset *train, cnn_dataset *test, const char *dir) {
    char path[4200];
    if (train) {
        CNN_TRY(csv_find(path, sizeof path, dir, "train"));
        CNN_TRY(csv_read(train, path));
    }
    CNN_TRY(csv_find(path, sizeof path, dir, "test"));
    return csv_read(test, path);
}
