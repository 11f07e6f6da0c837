/* weights.c — cnn_model_save / cnn_model_load: a model's state_dict (its
 * parameters, then running statistics and counters) as a safetensors file,
 * byte for byte what safetensors.torch.save_file writes for the same
 * state_dict. Loading checks every name, dtype and shape before a single
 * weight changes, so a bad file leaves the model as it was. */
#include "cnn_internal.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "nn/describe.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cnn__model_save_meta(const cnn_model *m, const char *path, const char *const *meta, int n_meta);

int cnn_model_save(const cnn_model *m, const char *path) {
    static const char *const meta[] = {"format", "pt"};
    return cnn__model_save_meta(m, path, meta, 1);
}

static int cnn__model_save_meta(const cnn_model *m, const char *path, const char *const *meta, int n_meta) {
    if (!m || !path) return cnn__fail(CNN_EINVAL, "cnn_model_save: %s is NULL", !m ? "model" : "path");
    int n = cnn_model_num_tensors(m), nb = cnn_model_num_buffers(m);
    if (n < 0) return n;
    cnn_param_info *info = cnn_malloc((size_t)(n ? n : 1) * sizeof *info);
    cnn_buffer_info *binfo = cnn_malloc((size_t)(nb ? nb : 1) * sizeof *binfo);
    cnn_st_write_tensor *wt = cnn_malloc((size_t)(n + nb ? n + nb : 1) * sizeof *wt);
    int rc = CNN_OK;
    if (!info || !binfo || !wt) rc = cnn__fail(CNN_ENOMEM, "%s: out of memory", path);
    /* The buffers are only read here; the accessors are not const. */
    const float *params = cnn_model_params((cnn_model *)m), *bufs = cnn_model_buffers((cnn_model *)m);
    const int64_t *counters = cnn_model_counters((cnn_model *)m);
    for (int i = 0; i < n && rc == CNN_OK; i++) {
        rc = cnn_model_tensor_info(m, i, &info[i]);
        wt[i].name = info[i].name;
        wt[i].dtype = "F32";
        wt[i].ndim = info[i].ndim;
        wt[i].shape = info[i].shape;
        wt[i].data = params ? params + info[i].offset : NULL;
    }
    for (int i = 0; i < nb && rc == CNN_OK; i++) {
        rc = cnn_model_buffer_info(m, i, &binfo[i]);
        cnn_st_write_tensor *w = &wt[n + i];
        w->name = binfo[i].name, w->shape = binfo[i].shape;
        if (binfo[i].is_counter) w->dtype = "I64", w->ndim = 0, w->data = counters + binfo[i].offset;
        else w->dtype = "F32", w->ndim = binfo[i].ndim, w->data = bufs + binfo[i].offset;
    }
    if (rc == CNN_OK) rc = cnn_safetensors_write(path, wt, n + nb, meta, n_meta, 0);
    cnn_free(info);
    cnn_free(binfo);
    cnn_free(wt);
    return rc;
}

/* What the model expects of one file entry. */
typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
    size_t numel;
    int is_counter; /* I64 (or F32) scalar num_batches_tracked */
} st_want;

/* Every model tensor present with the model's shape and dtype (F32; counters
 * I64, or F32 holding an integer); no other tensors. */
static int st_check_model(const cnn_safetensors *st, const st_want *want, int n, const char *path) {
    char ws[200], got[200];
    for (int i = 0; i < n; i++) {
        const cnn_st_tensor *t = cnn_safetensors_find(st, want[i].name);
        snprintf(ws, sizeof ws, "%s", cnn__shape_str(want[i].ndim, want[i].shape).s);
        if (!t)
            return cnn__fail(CNN_ENOTFOUND, "%s: tensor '%s' (shape %s) is missing from the file", path,
                             want[i].name, ws);
        int elem = 4;
        if (want[i].is_counter && strcmp(t->dtype, "I64") == 0) elem = 8;
        else if (strcmp(t->dtype, "F32") != 0)
            return cnn__fail(CNN_EFORMAT, "%s: tensor '%s' has dtype %s; expected %s", path, t->name, t->dtype,
                             want[i].is_counter ? "I64 (or F32)" : "F32");
        snprintf(got, sizeof got, "%s", cnn__shape_str(t->ndim, t->shape).s);
        int same = t->ndim == want[i].ndim;
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == want[i].shape[d];
        if (!same && want[i].is_counter) same = t->ndim == 1 && t->shape[0] == 1; /* [1] for () */
        if (!same)
            return cnn__fail(CNN_ESHAPE, "%s: tensor '%s': expected shape %s, found %s", path, t->name, ws, got);
        if ((t->end - t->begin) / (uint64_t)elem != want[i].numel)
            return cnn__fail(CNN_ESHAPE, "%s: tensor '%s': the model holds %zu values, the file %llu", path,
                             t->name, want[i].numel, (unsigned long long)((t->end - t->begin) / (uint64_t)elem));
    }
    for (int j = 0; j < st->n_tensors; j++) {
        int known = 0;
        for (int i = 0; i < n && !known; i++) known = strcmp(st->tensors[j].name, want[i].name) == 0;
        if (!known) {
            snprintf(got, sizeof got, "%s", cnn__shape_str(st->tensors[j].ndim, st->tensors[j].shape).s);
            return cnn__fail(CNN_EFORMAT, "%s: unexpected tensor '%s' (shape %s): the model has no such parameter",
                             path, st->tensors[j].name, got);
        }
    }
    return CNN_OK;
}

int cnn_model_load(cnn_model *m, const char *path) {
    if (!m || !path) return cnn__fail(CNN_EINVAL, "cnn_model_load: %s is NULL", !m ? "model" : "path");
    int n = cnn_model_num_tensors(m), nb = cnn_model_num_buffers(m);
    if (n < 0) return n;
    cnn_param_info *info = cnn_malloc((size_t)(n ? n : 1) * sizeof *info);
    cnn_buffer_info *binfo = cnn_malloc((size_t)(nb ? nb : 1) * sizeof *binfo);
    st_want *want = cnn_malloc((size_t)(n + nb ? n + nb : 1) * sizeof *want);
    if (!info || !binfo || !want) {
        cnn_free(info), cnn_free(binfo), cnn_free(want);
        return cnn__fail(CNN_ENOMEM, "%s: out of memory", path);
    }
    int rc = CNN_OK;
    for (int i = 0; i < n && rc == CNN_OK; i++) {
        rc = cnn_model_tensor_info(m, i, &info[i]);
        st_want w = {info[i].name, info[i].ndim, info[i].shape, info[i].numel, 0};
        want[i] = w;
    }
    for (int i = 0; i < nb && rc == CNN_OK; i++) {
        rc = cnn_model_buffer_info(m, i, &binfo[i]);
        st_want w = {binfo[i].name, binfo[i].ndim, binfo[i].shape, binfo[i].numel, binfo[i].is_counter};
        want[n + i] = w;
    }
    cnn_safetensors st;
    memset(&st, 0, sizeof st);
    if (rc == CNN_OK) rc = cnn_safetensors_read(&st, path);
    if (rc == CNN_OK) rc = st_check_model(&st, want, n + nb, path);
    /* Everything is checked: from here on nothing can fail, so the model
     * changes only when the whole file is good. */
    float *params = cnn_model_params(m), *bufs = cnn_model_buffers(m);
    int64_t *counters = cnn_model_counters(m);
    for (int i = 0; i < n && rc == CNN_OK; i++)
        rc = cnn_safetensors_get_f32(&st, cnn_safetensors_find(&st, info[i].name), params + info[i].offset);
    for (int i = 0; i < nb && rc == CNN_OK; i++) {
        const cnn_st_tensor *t = cnn_safetensors_find(&st, binfo[i].name);
        if (!binfo[i].is_counter) {
            rc = cnn_safetensors_get_f32(&st, t, bufs + binfo[i].offset);
        } else if (strcmp(t->dtype, "I64") == 0) {
            rc = cnn_safetensors_get_i64(&st, t, &counters[binfo[i].offset]);
        } else {
            float v;
            rc = cnn_safetensors_get_f32(&st, t, &v);
            counters[binfo[i].offset] = isfinite(v) && v >= 0.0f && v < 9.0e18f ? (int64_t)v : 0;
        }
    }
    cnn_safetensors_free(&st);
    cnn_free(info);
    cnn_free(binfo);
    cnn_free(want);
    return rc;
}

/* ---- self-describing weights -------------------------------------------- */

int cnn_model_describe(char *buf, size_t cap, const cnn_model *m) {
    return cnn__model_describe(buf, cap, m);
}

void cnn_weights_info_free(cnn_weights_info *info) {
    if (!info) return;
    cnn_free(info->version);
    cnn_free(info->model_text);
    for (int64_t i = 0; info->class_names && i < info->num_classes; i++) cnn_free(info->class_names[i]);
    cnn_free(info->class_names);
    memset(info, 0, sizeof *info);
}

static char *cnn__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = cnn_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* "a,b,c" of n positive integers in 1..max; -1 if it is not that. */
static int cnn__parse_ints(const char *s, int64_t *out, int n, int64_t max) {
    const char *p = s;
    for (int i = 0; i < n; i++) {
        if (*p < '0' || *p > '9') return -1;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || v < 1 || v > max || (i < n - 1 ? *end != ',' : *end != '\0')) return -1;
        out[i] = v;
        p = end + 1;
    }
    return 0;
}

/* "m1,...,mC/s1,...,sC": c values each side; -1 if it is not that. */
static int cnn__parse_norm(const char *s, float *mean, float *std, int64_t c) {
    const char *p = s;
    for (int side = 0; side < 2; side++)
        for (int64_t k = 0; k < c; k++) {
            char *end;
            errno = 0;
            double v = strtod(p, &end);
            char want = k < c - 1 ? ',' : side == 0 ? '/' : '\0';
            if (end == p || errno || !isfinite(v) || *end != want || (side == 1 && !(v > 0))) return -1;
            (side ? std : mean)[k] = (float)v;
            p = end + 1;
        }
    return 0;
}

static const char *cnn__meta(const cnn_safetensors *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

int cnn_weights_info_read(cnn_weights_info *info, const char *path) {
    if (!info || !path) return cnn__fail(CNN_EINVAL, "cnn_weights_info_read: NULL argument");
    memset(info, 0, sizeof *info);
    cnn_safetensors st;
    CNN_TRY(cnn_safetensors_read(&st, path));
    int rc = CNN_OK;
    const char *v;
    if ((v = cnn__meta(&st, "cnn.version")) && !(info->version = cnn__strdup(v))) rc = CNN_ENOMEM;
    if (rc == CNN_OK && (v = cnn__meta(&st, "cnn.model")) && !(info->model_text = cnn__strdup(v))) rc = CNN_ENOMEM;
    if (rc == CNN_ENOMEM) rc = cnn__fail(CNN_ENOMEM, "%s: out of memory for the metadata", path);
    if (rc == CNN_OK && (v = cnn__meta(&st, "cnn.input_shape")) &&
        cnn__parse_ints(v, info->input_chw, 3, 1 << 16) < 0)
        rc = cnn__fail(CNN_EFORMAT, "%s: metadata \"cnn.input_shape\": expected C,H,W (each 1..65536), found \"%.60s\"",
                       path, v);
    if (rc == CNN_OK && info->model_text && !info->input_chw[0])
        rc = cnn__fail(CNN_EFORMAT, "%s: metadata \"cnn.model\" is present but \"cnn.input_shape\" is missing", path);
    int64_t hw[2] = {0, 0};
    if (rc == CNN_OK && (v = cnn__meta(&st, "cnn.resize"))) {
        if (cnn__parse_ints(v, hw, 2, 1 << 16) < 0)
            rc = cnn__fail(CNN_EFORMAT, "%s: metadata \"cnn.resize\": expected H,W, found \"%.60s\"", path, v);
        info->resize_h = (int)hw[0], info->resize_w = (int)hw[1];
    }
    if (rc == CNN_OK && (v = cnn__meta(&st, "cnn.normalize"))) {
        int64_t c = info->input_chw[0];
        if (c < 1 || c > CNN_MAX_NORM_CHANNELS || cnn__parse_norm(v, info->mean, info->std, c) < 0)
            rc = cnn__fail(CNN_EFORMAT,
                           "%s: metadata \"cnn.normalize\": expected %lld means, '/', %lld stds > 0 (one per input "
                           "channel), found \"%.80s\"",
                           path, (long long)c, (long long)c, v);
        info->normalize = 1;
    }
    if (rc == CNN_OK && (v = cnn__meta(&st, "cnn.classes"))) {
        cnn_json j;
        rc = cnn_json_parse(&j, v, strlen(v));
        if (rc != CNN_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", cnn_last_error()); /* the message buffer is rewritten below */
            rc = cnn__fail(rc, "%s: metadata \"cnn.classes\": %s", path, why);
        } else if (j.type != CNN_JSON_ARRAY || j.len < 1 || j.len > CNN_MAX_CLASSES) {
            rc = cnn__fail(CNN_EFORMAT, "%s: metadata \"cnn.classes\": expected an array of 1..%d strings, found %s of %zu",
                           path, CNN_MAX_CLASSES, cnn_json_type_name(j.type), j.len);
        } else {
            info->class_names = cnn_calloc(j.len, sizeof *info->class_names);
            if (!info->class_names) rc = cnn__fail(CNN_ENOMEM, "%s: out of memory for the class names", path);
            info->num_classes = info->class_names ? (int64_t)j.len : 0;
            for (size_t i = 0; rc == CNN_OK && i < j.len; i++) {
                if (j.items[i].type != CNN_JSON_STRING || strlen(j.items[i].str) != j.items[i].len)
                    rc = cnn__fail(CNN_EFORMAT, "%s: metadata \"cnn.classes\": item %zu: expected a string, found %s",
                                   path, i, cnn_json_type_name(j.items[i].type));
                else if (!(info->class_names[i] = cnn__strdup(j.items[i].str)))
                    rc = cnn__fail(CNN_ENOMEM, "%s: out of memory for the class names", path);
            }
        }
        cnn_json_free(&j);
    }
    cnn_safetensors_free(&st);
    if (rc != CNN_OK) cnn_weights_info_free(info);
    return rc;
}

/* A growing string for the metadata values. */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} cnn__buf;

static void cnn__buf_put(cnn__buf *b, const char *fmt, ...) CNN__PRINTF(2, 3);
static void cnn__buf_put(cnn__buf *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (k < 0) { b->oom = 1; return; }
    if (!b->s || b->len + (size_t)k >= b->cap) {
        size_t cap = 2 * (b->len + (size_t)k) + 64;
        char *p = cnn_realloc(b->s, cap);
        if (!p) { b->oom = 1; return; }
        b->s = p, b->cap = cap;
        va_start(ap, fmt);
        vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)k;
}

/* A JSON string literal of s (quotes, backslashes and control characters escaped). */
static void cnn__buf_json(cnn__buf *b, const char *s) {
    cnn__buf_put(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') cnn__buf_put(b, "\\%c", *p);
        else if (*p < 0x20) cnn__buf_put(b, "\\u%04x", *p);
        else cnn__buf_put(b, "%c", *p);
    }
    cnn__buf_put(b, "\"");
}

int cnn_model_save_info(const cnn_model *m, const char *path, const cnn_weights_info *info) {
    if (!m || !path) return cnn__fail(CNN_EINVAL, "cnn_model_save_info: %s is NULL", !m ? "model" : "path");
    int64_t chw[3];
    cnn_model_input_shape(m, chw);
    cnn__buf v[4];
    memset(v, 0, sizeof v);
    cnn__buf_put(&v[0], "%lld,%lld,%lld", (long long)chw[0], (long long)chw[1], (long long)chw[2]);
    const char *meta[16];
    int n = 0;
    meta[2 * n] = "format", meta[2 * n + 1] = "pt", n++;
    meta[2 * n] = "cnn.version", meta[2 * n + 1] = CNN_VERSION, n++;
    meta[2 * n] = "cnn.input_shape", meta[2 * n + 1] = NULL, n++; /* v[0], set below */
    if (info && info->model_text) meta[2 * n] = "cnn.model", meta[2 * n + 1] = info->model_text, n++;
    if (info && info->resize_h > 0) {
        cnn__buf_put(&v[1], "%d,%d", info->resize_h, info->resize_w > 0 ? info->resize_w : info->resize_h);
        meta[2 * n] = "cnn.resize", meta[2 * n + 1] = NULL, n++;
    }
    if (info && info->normalize) {
        if (chw[0] > CNN_MAX_NORM_CHANNELS)
            return cnn__fail(CNN_ERANGE, "%s: normalize: %lld channels, at most %d", path, (long long)chw[0],
                             CNN_MAX_NORM_CHANNELS);
        for (int side = 0; side < 2; side++)
            for (int64_t k = 0; k < chw[0]; k++)
                cnn__buf_put(&v[2], "%s%.9g", k ? "," : side ? "/" : "", (double)(side ? info->std : info->mean)[k]);
        meta[2 * n] = "cnn.normalize", meta[2 * n + 1] = NULL, n++;
    }
    if (info && info->class_names && info->num_classes > 0) {
        cnn__buf_put(&v[3], "[");
        for (int64_t k = 0; k < info->num_classes; k++) {
            if (k) cnn__buf_put(&v[3], ", ");
            cnn__buf_json(&v[3], info->class_names[k] ? info->class_names[k] : "");
        }
        cnn__buf_put(&v[3], "]");
        meta[2 * n] = "cnn.classes", meta[2 * n + 1] = NULL, n++;
    }
    int rc = CNN_OK;
    for (int i = 0; i < 4; i++)
        if (v[i].oom) rc = cnn__fail(CNN_ENOMEM, "%s: out of memory for the metadata", path);
    for (int i = 0; i < n; i++) {
        if (meta[2 * i + 1]) continue;
        const char *k = meta[2 * i];
        meta[2 * i + 1] = !strcmp(k, "cnn.input_shape") ? v[0].s
                          : !strcmp(k, "cnn.resize")    ? v[1].s
                          : !strcmp(k, "cnn.normalize") ? v[2].s
                                                        : v[3].s;
    }
    if (rc == CNN_OK) rc = cnn__model_save_meta(m, path, meta, n);
    for (int i = 0; i < 4; i++) cnn_free(v[i].s);
    return rc;
}

int cnn_model_create_from_weights(cnn_model **m, cnn_weights_info *info, const char *path) {
    if (!m || !info || !path) return cnn__fail(CNN_EINVAL, "cnn_model_create_from_weights: NULL argument");
    *m = NULL;
    CNN_TRY(cnn_weights_info_read(info, path));
    if (!info->model_text) {
        cnn_weights_info_free(info);
        return cnn__fail(CNN_ENOTFOUND,
                         "%s: the file does not describe its model (no \"cnn.model\" in its metadata, as in a file "
                         "PyTorch wrote); give the model with --model",
                         path);
    }
    char source[1100];
    snprintf(source, sizeof source, "%s (metadata \"cnn.model\")", path);
    int rc = cnn_model_create_from_text(m, info->model_text, source, info->input_chw);
    if (rc == CNN_OK) rc = cnn_model_load(*m, path);
    if (rc != CNN_OK) {
        cnn_model_free(*m);
        *m = NULL;
        cnn_weights_info_free(info);
    }
    return rc;
}
