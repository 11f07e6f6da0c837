/* describe.c — the canonical text of a layer (see describe.h): the kind's
 * name, then what its table entry's describe writes between parentheses.
 *
 * Only the arguments a layer's computation depends on are written: a max
 * pooling has no count_include_pad, a Conv2d with padding='same' no padding
 * numbers. So a model built through the C API with leftover values in unused
 * fields describes the same as its parsed twin.
 */
#include "nn/describe.h"

#include "nn/layer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cnn__text_put(cnn__text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *at = t->buf && t->len < t->cap ? t->buf + t->len : NULL;
    int n = vsnprintf(at, at ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) t->len += (size_t)n;
}

const char *cnn__py_bool(int v) { return v ? "True" : "False"; }

/* Python's repr of the value PyTorch would hold as float32 shows more
 * digits, but equal floats give equal texts, which is what matters here. */
void cnn__text_float(cnn__text *t, float v) {
    char s[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, (double)v);
        if (strtof(s, NULL) == v) break;
    }
    cnn__text_put(t, "%s", s);
}

void cnn__text_pair(cnn__text *t, const char *name, const int v[2]) {
    cnn__text_put(t, ",%s=(%d,%d)", name, v[0], v[1]);
}

int cnn__layer_describe(char *buf, size_t cap, const cnn_layer_desc *l) {
    cnn__text t = {buf, cap, 0};
    if (buf && cap) buf[0] = '\0';
    const cnn__layer_ops *ops = l ? cnn__layer_ops_of(l->kind) : NULL;
    if (!ops) return CNN_EINVAL;
    cnn__text_put(&t, "%s(", cnn_layer_kind_name(l->kind));
    if (ops->describe) ops->describe(&t, l);
    cnn__text_put(&t, ")");
    return t.len > (size_t)INT32_MAX ? CNN_ERANGE : (int)t.len;
}

int cnn__model_describe(char *buf, size_t cap, const cnn_model *m) {
    if (buf && cap) buf[0] = '\0';
    if (!m) return cnn__fail(CNN_EINVAL, "cnn__model_describe: model is NULL");
    cnn__text t = {buf, cap, 0};
    for (int i = 0, n = cnn_model_num_layers(m); i < n; i++) {
        char one[CNN__LAYER_DESCRIBE_MAX];
        int k = cnn__layer_describe(one, sizeof one, cnn_model_layer(m, i));
        if (k < 0) return cnn__fail(CNN_EINVAL, "layer %d: unknown layer kind %d", i, (int)cnn_model_layer(m, i)->kind);
        CNN_ASSERT((size_t)k < sizeof one);
        cnn__text_put(&t, i ? ";%s" : "%s", one);
        if (t.len > (size_t)INT32_MAX) return cnn__fail(CNN_ERANGE, "cnn__model_describe: %d layers are too many", n);
    }
    return (int)t.len;
}
