/* tensor_format.c — the text of a tensor exactly as PyTorch 1.13's print(t)
 * shows a float32 CPU tensor (torch/_tensor_str.py with the default print
 * options: precision 4, threshold 1000, edgeitems 3, linewidth 80), and the
 * text of a shape ("torch.Size([1, 2, 4, 4])").
 *
 * The rules, as _tensor_str.py has them:
 * - The formatter looks at the nonzero finite values that will be shown.
 *   If all are integers it uses int mode ("19."), else fixed mode ("0.9637").
 *   Scientific mode ("1.0000e-05") is chosen when max/min > 1000 or
 *   max > 1e8, or (fixed mode only) min < 1e-4, over absolute values.
 *   The column width is the longest of those values' texts (plus one for
 *   the "." in int mode); every element is right-aligned to it. Zeros and
 *   non-finite values print as "0.", "nan", "inf" and do not widen columns.
 * - A row holds floor((80 - indent) / (width + 2)) elements per line.
 * - Rows of a k-D block are separated by "," then k-1 newlines, indented one
 *   column more than their bracket.
 * - With more than 1000 elements, each dimension longer than 6 shows its
 *   first and last 3 entries around "..." (also only those feed the formatter).
 * - No elements: "tensor([])", plus ", size=(0, 3)" unless 1-D.
 * The empty tensor (ndim 0) prints as "tensor([])".
 *
 * Output goes straight into the caller's buffer, truncated like snprintf;
 * nothing is allocated except by cnn_tensor_print for long texts.
 */
#include "core/core.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { PRECISION = 4, THRESHOLD = 1000, EDGEITEMS = 3, LINEWIDTH = 80 };

/* ---- output sink: snprintf-like writing into buf[cap] ---------------------- */

typedef struct {
    char *buf;
    size_t cap, len; /* len counts every byte, written or not */
} sink;

static void put_n(sink *s, const char *str, size_t n) {
    if (s->cap > 0 && s->len < s->cap - 1) {
        size_t room = s->cap - 1 - s->len;
        memcpy(s->buf + s->len, str, n < room ? n : room);
    }
    s->len += n;
}

static void put(sink *s, const char *str) { put_n(s, str, strlen(str)); }

static void put_repeat(sink *s, char c, size_t n) {
    for (size_t i = 0; i < n; i++) put_n(s, &c, 1);
}

/* NUL-terminates and returns the full length, as snprintf does. */
static int finish(sink *s) {
    if (s->cap > 0) s->buf[s->len < s->cap ? s->len : s->cap - 1] = '\0';
    if (s->len > (size_t)INT32_MAX) return cnn__fail(CNN_ERANGE, "text longer than 2^31 bytes");
    return (int)s->len;
}

/* ---- the formatter (_Formatter) ------------------------------------------------ */

typedef struct {
    int int_mode, sci_mode, width;
} formatter;

/* Python's "{:.Nf}" / "{:.Ne}" of a finite double; both round the exact
 * binary value half-to-even, as glibc's printf does. */
static int text_fixed(char *out, size_t cap, double v, int digits) {
    return snprintf(out, cap, "%.*f", digits, v);
}
static int text_sci(char *out, size_t cap, double v) {
    return snprintf(out, cap, "%.*e", PRECISION, v);
}

/* Shape of the walk that get_summarized_data and the printer share: along a
 * dimension of size n, summarizing keeps indices < 3 and >= n - 3 if n > 6. */
static int dim_summarized(int summarize, int64_t n) { return summarize && n > 2 * EDGEITEMS; }

typedef struct {
    double max_abs, min_abs; /* over nonzero finite values */
    int any, all_int;
} value_stats;

typedef struct {
    const cnn_tensor *t;
    int summarize;
} walk_ctx;

/* Visits the shown elements of dims d.. starting at flat offset off. */
static void stats_walk(const walk_ctx *c, int d, int64_t off, value_stats *st, formatter *f,
                       int pass) {
    const cnn_tensor *t = c->t;
    if (d < 0 || d >= CNN_MAX_DIMS) return;
    int64_t n = t->shape[d], stride = 1;
    for (int e = d + 1; e < t->ndim; e++) stride *= t->shape[e];
    int skip = dim_summarized(c->summarize, n);
    for (int64_t i = 0; i < n; i++) {
        if (skip && i == EDGEITEMS) i = n - EDGEITEMS;
        int64_t o = off + i * stride;
        if (d + 1 < t->ndim) {
            stats_walk(c, d + 1, o, st, f, pass);
            continue;
        }
        float v = t->data[o];
        if (!isfinite(v) || v == 0.0f) continue;
        if (pass == 0) {
            double a = fabs((double)v);
            if (!st->any || a > st->max_abs) st->max_abs = a;
            if (!st->any || a < st->min_abs) st->min_abs = a;
            st->any = 1;
            if (ceilf(v) != v) st->all_int = 0;
        } else {
            char tmp[64];
            int len;
            if (f->sci_mode) len = text_sci(tmp, sizeof tmp, v);
            else if (f->int_mode) len = text_fixed(tmp, sizeof tmp, v, 0) + 1;
            else len = text_fixed(tmp, sizeof tmp, v, PRECISION);
            if (len > f->width) f->width = len;
        }
    }
}

static formatter make_formatter(const cnn_tensor *t, int summarize) {
    formatter f = {1, 0, 1};
    value_stats st = {0, 0, 0, 1};
    walk_ctx c = {t, summarize};
    stats_walk(&c, 0, 0, &st, &f, 0);
    if (!st.any) return f;
    double ratio = st.max_abs / st.min_abs;
    f.int_mode = st.all_int;
    if (st.all_int)
        f.sci_mode = ratio > 1000.0 || st.max_abs > 1.0e8;
    else
        f.sci_mode = ratio > 1000.0 || st.max_abs > 1.0e8 || st.min_abs < 1.0e-4;
    stats_walk(&c, 0, 0, &st, &f, 1);
    return f;
}

/* _Formatter.format: the value's text, right-aligned to the column width. */
static void put_value(sink *s, const formatter *f, float v) {
    char tmp[64];
    int len;
    if (isnan(v)) len = snprintf(tmp, sizeof tmp, "nan"); /* Python drops a NaN's sign */
    else if (isinf(v)) len = snprintf(tmp, sizeof tmp, v < 0 ? "-inf" : "inf");
    else if (f->sci_mode) len = text_sci(tmp, sizeof tmp, v);
    else if (f->int_mode) len = snprintf(tmp, sizeof tmp, "%.0f.", (double)v);
    else len = text_fixed(tmp, sizeof tmp, v, PRECISION);
    if (len < 0) len = 0;
    if (len < f->width) put_repeat(s, ' ', (size_t)(f->width - len));
    put_n(s, tmp, (size_t)len);
}

/* ---- layout (_tensor_str_with_formatter, _vector_str) -------------------------- */

static void put_dims(sink *s, const walk_ctx *c, const formatter *f, int d, int64_t off,
                     int indent) {
    const cnn_tensor *t = c->t;
    if (d < 0 || d >= CNN_MAX_DIMS) return;
    int64_t n = t->shape[d], stride = 1;
    for (int e = d + 1; e < t->ndim; e++) stride *= t->shape[e];
    int skip = dim_summarized(c->summarize, n);
    put(s, "[");
    if (d == t->ndim - 1) {
        /* One row: items (width + 2 each with ", ") wrapped per line. */
        int64_t per_line = (LINEWIDTH - indent) / (f->width + 2);
        if (per_line < 1) per_line = 1;
        int64_t item = 0;
        for (int64_t i = 0; i < n; i++, item++) {
            if (item > 0) {
                if (item % per_line == 0) {
                    put(s, ",\n");
                    put_repeat(s, ' ', (size_t)indent + 1);
                } else {
                    put(s, ", ");
                }
            }
            if (skip && i == EDGEITEMS) {
                put(s, " ...");
                i = n - EDGEITEMS - 1;
                continue;
            }
            put_value(s, f, t->data[off + i]);
        }
    } else {
        /* Sub-blocks separated by "," + (ndim - d - 1) newlines + indent. */
        for (int64_t i = 0; i < n; i++) {
            if (i > 0) {
                put(s, ",");
                put_repeat(s, '\n', (size_t)(t->ndim - d - 1));
                put_repeat(s, ' ', (size_t)indent + 1);
            }
            if (skip && i == EDGEITEMS) {
                put(s, "...");
                i = n - EDGEITEMS - 1;
                continue;
            }
            put_dims(s, c, f, d + 1, off + i * stride, indent + 1);
        }
    }
    put(s, "]");
}

/* ---- public ------------------------------------------------------------------- */

cnn__shape_text cnn__shape_str(int ndim, const int64_t *shape) {
    cnn__shape_text t;
    size_t len = 0;
    t.s[len++] = '[';
    for (int d = 0; d < ndim; d++) {
        int k = snprintf(t.s + len, sizeof t.s - len - 1, "%s%lld", d ? ", " : "", (long long)shape[d]);
        if (k < 0 || (size_t)k >= sizeof t.s - len - 1) {
            memcpy(t.s + sizeof t.s - 5, "...]", 5);
            return t;
        }
        len += (size_t)k;
    }
    t.s[len++] = ']';
    t.s[len] = '\0';
    return t;
}

int cnn_shape_format(char *buf, size_t cap, int ndim, const int64_t *shape) {
    if (!buf && cap > 0) return cnn__fail(CNN_EINVAL, "cnn_shape_format: buf is NULL but cap is %zu", cap);
    if (ndim < 0 || ndim > CNN_MAX_DIMS)
        return cnn__fail(CNN_EINVAL, "cnn_shape_format: ndim is %d; expected 0 to %d", ndim,
                         CNN_MAX_DIMS);
    if (ndim > 0 && !shape) return cnn__fail(CNN_EINVAL, "cnn_shape_format: shape is NULL");
    sink s = {buf, cap, 0};
    put(&s, "torch.Size(");
    put(&s, cnn__shape_str(ndim, shape).s);
    put(&s, ")");
    return finish(&s);
}

int cnn_tensor_format(char *buf, size_t cap, const cnn_tensor *t) {
    const char *fn = "cnn_tensor_format";
    if (!buf && cap > 0) return cnn__fail(CNN_EINVAL, "%s: buf is NULL but cap is %zu", fn, cap);
    CNN_TRY(cnn__tensor_check(fn, "tensor", t));
    sink s = {buf, cap, 0};
    const int indent = 7; /* strlen("tensor(") */
    put(&s, "tensor(");
    int64_t numel = cnn_tensor_numel(t);
    if (numel == 0) {
        put(&s, "[]");
        if (t->ndim > 1) {
            /* _add_suffixes: ", size=(0, 3)", on a new line past 80 columns. */
            char suffix[160], tmp[32];
            size_t len = (size_t)snprintf(suffix, sizeof suffix, "size=(");
            for (int d = 0; d < t->ndim; d++) {
                snprintf(tmp, sizeof tmp, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
                len += (size_t)snprintf(suffix + len, sizeof suffix - len, "%s", tmp);
            }
            snprintf(suffix + len, sizeof suffix - len, ")");
            size_t last_line = strlen("tensor([]") + 1;
            if (last_line + strlen(suffix) + 2 > LINEWIDTH) {
                put(&s, ",\n");
                put_repeat(&s, ' ', (size_t)indent);
            } else {
                put(&s, ", ");
            }
            put(&s, suffix);
        }
        put(&s, ")");
        return finish(&s);
    }
    walk_ctx c = {t, numel > THRESHOLD};
    formatter f = make_formatter(t, c.summarize);
    put_dims(&s, &c, &f, 0, 0, indent);
    put(&s, ")");
    return finish(&s);
}

int cnn_tensor_print(FILE *f, const cnn_tensor *t) {
    if (!f) return cnn__fail(CNN_EINVAL, "cnn_tensor_print: FILE is NULL");
    char small[4096];
    int len = cnn_tensor_format(small, sizeof small, t);
    if (len < 0) return len;
    char *text = small;
    if ((size_t)len >= sizeof small) {
        text = cnn_malloc((size_t)len + 1);
        if (!text) return cnn__fail(CNN_ENOMEM, "cnn_tensor_print: cannot allocate %d bytes", len + 1);
        cnn_tensor_format(text, (size_t)len + 1, t);
    }
    int ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (text != small) cnn_free(text);
    if (!ok) return cnn__fail(CNN_EIO, "cnn_tensor_print: write failed");
    return CNN_OK;
}
