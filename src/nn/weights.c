/* weights.c — cnn_model_save / cnn_model_load: a model's state_dict (its
 * parameters, then running statistics and counters) as a safetensors file,
 * byte for byte what safetensors.torch.save_file writes for the same
 * state_dict. Loading checks every name, dtype and shape before a single
 * weight changes, so a bad file leaves the model as it was. */
#include "cnn_internal.h"
#include "io/safetensors.h"

#include <math.h>
#include <string.h>

int cnn_model_save(const cnn_model *m, const char *path) {
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
    if (rc == CNN_OK) {
        static const char *const meta[] = {"format", "pt"};
        rc = cnn_safetensors_write(path, wt, n + nb, meta, 1, 0);
    }
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
