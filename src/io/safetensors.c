/* safetensors.c — the safetensors reader and writer (see safetensors.h); a
 * model's weights are read and written with them in src/nn/weights.c, the
 * training checkpoints in src/train/checkpoint.c.
 *
 * Reading loads the whole file into memory (cnn__read_all), parses the
 * header with the strict JSON parser and validates every entry before any
 * element is converted.
 */
#include "io/safetensors.h"

#include "cnn_internal.h"
#include "io/json.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* ---- little-endian values ------------------------------------------------- */

/* dst <- n values of size bytes (1, 2, 4 or 8) at src, as the host stores
 * them (float, int64_t, uint32_t, ...), each written little-endian. */
static void st_store_le(uint8_t *dst, const void *src, size_t n, int size) {
    const uint8_t *p = src;
    for (size_t i = 0; i < n; i++, p += size, dst += size) {
        uint64_t v;
        uint32_t u32;
        uint16_t u16;
        switch (size) {
        case 1: v = p[0]; break;
        case 2: memcpy(&u16, p, 2), v = u16; break;
        case 4: memcpy(&u32, p, 4), v = u32; break;
        default: memcpy(&v, p, 8);
        }
        for (int k = 0; k < size; k++) dst[k] = (uint8_t)(v >> (8 * k));
    }
}

/* The inverse: dst <- n host values of size bytes from the little-endian
 * ones at src. */
static void st_load_le(void *dst, const uint8_t *src, size_t n, int size) {
    uint8_t *p = dst;
    for (size_t i = 0; i < n; i++, p += size, src += size) {
        uint64_t v = 0;
        for (int k = size - 1; k >= 0; k--) v = (v << 8) | src[k];
        uint32_t u32 = (uint32_t)v;
        uint16_t u16 = (uint16_t)v;
        switch (size) {
        case 1: p[0] = (uint8_t)v; break;
        case 2: memcpy(p, &u16, 2); break;
        case 4: memcpy(p, &u32, 4); break;
        default: memcpy(p, &v, 8);
        }
    }
}

static int st_is_digits(const uint8_t *p, size_t n, int hex) {
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (hex && p[i] >= 'a' && p[i] <= 'f'))) return 0;
    return 1;
}

/* ---- dtypes --------------------------------------------------------------- */

/* In the official library's order (by alignment), which the writer's layout follows. */
static const struct {
    const char *name;
    int size;
} st_dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
    {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8},
};

/* The index of dtype name in st_dtypes, or -1. */
static int st_dtype_index(const char *name) {
    for (int i = 0; i < (int)(sizeof st_dtypes / sizeof st_dtypes[0]); i++)
        if (strcmp(st_dtypes[i].name, name) == 0) return i;
    return -1;
}

/* ---- reader --------------------------------------------------------------- */

void cnn_safetensors_free(cnn_safetensors *st) {
    if (!st) return;
    for (int i = 0; st->tensors && i < st->n_tensors; i++) cnn_free(st->tensors[i].name);
    for (int i = 0; st->meta_keys && i < st->n_meta; i++) {
        cnn_free(st->meta_keys[i]);
        cnn_free(st->meta_values[i]);
    }
    cnn_free(st->tensors);
    cnn_free(st->meta_keys);
    cnn_free(st->meta_values);
    cnn_free(st->file);
    memset(st, 0, sizeof *st);
}

static char *st_strdup(const char *s, size_t n) {
    char *d = cnn_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* One header entry: {"dtype": str, "shape": [u64...], "data_offsets": [u64, u64]}. */
static int st_parse_entry(cnn_st_tensor *t, const cnn_json *v, const char *file) {
    const char *name = t->name;
    if (v->type != CNN_JSON_OBJECT)
        return cnn__fail(CNN_EFORMAT, "%s: tensor '%s': expected an object, found %s", file, name,
                         cnn_json_type_name(v->type));
    const cnn_json *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (size_t i = 0; i < v->len; i++) {
        const char *key = v->keys[i];
        const cnn_json **slot = strcmp(key, "dtype") == 0          ? &dtype
                                : strcmp(key, "shape") == 0        ? &shape
                                : strcmp(key, "data_offsets") == 0 ? &offsets
                                                                   : NULL;
        if (!slot || strlen(key) != v->key_lens[i])
            return cnn__fail(CNN_EFORMAT,
                             "%s: tensor '%s': unknown key \"%s\" (expected dtype, shape, data_offsets)",
                             file, name, key);
        if (*slot) return cnn__fail(CNN_EFORMAT, "%s: tensor '%s': duplicate key \"%s\"", file, name, key);
        *slot = &v->items[i];
    }
    if (!dtype || !shape || !offsets)
        return cnn__fail(CNN_EFORMAT, "%s: tensor '%s': missing \"%s\"", file, name,
                         !dtype ? "dtype" : !shape ? "shape" : "data_offsets");

    if (dtype->type != CNN_JSON_STRING)
        return cnn__fail(CNN_EFORMAT, "%s: tensor '%s': dtype must be a string, found %s", file, name,
                         cnn_json_type_name(dtype->type));
    int k = dtype->len < sizeof t->dtype ? st_dtype_index(dtype->str) : -1;
    t->elem_size = k >= 0 ? st_dtypes[k].size : 0;
    if (t->elem_size == 0)
        return cnn__fail(CNN_EFORMAT, "%s: tensor '%s': unknown dtype \"%.32s\"", file, name, dtype->str);
    memcpy(t->dtype, dtype->str, dtype->len + 1);

    if (shape->type != CNN_JSON_ARRAY)
        return cnn__fail(CNN_EFORMAT, "%s: tensor '%s': shape must be an array, found %s", file, name,
                         cnn_json_type_name(shape->type));
    if (shape->len > CNN_ST_MAX_DIMS)
        return cnn__fail(CNN_EFORMAT, "%s: tensor '%s': shape has %zu dimensions, at most %d supported",
                         file, name, shape->len, CNN_ST_MAX_DIMS);
    t->ndim = (int)shape->len;
    uint64_t bytes = (uint64_t)t->elem_size;
    int overflow = 0;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t s;
        if (cnn_json_u64(&shape->items[d], &s) != 0 || s > (uint64_t)INT64_MAX)
            return cnn__fail(CNN_EFORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer (\"%.32s\")",
                             file, name, d, shape->items[d].str ? shape->items[d].str : cnn_json_type_name(shape->items[d].type));
        t->shape[d] = (int64_t)s;
        if (s != 0 && bytes > UINT64_MAX / s) overflow = 1;
        else bytes *= s;
    }
    for (int d = 0; overflow && d < t->ndim; d++)
        if (t->shape[d] == 0) overflow = 0, bytes = 0; /* a zero dimension wins over an overflow */
    if (overflow)
        return cnn__fail(CNN_EFORMAT, "%s: tensor '%s': shape size overflows", file, name);

    if (offsets->type != CNN_JSON_ARRAY || offsets->len != 2 ||
        cnn_json_u64(&offsets->items[0], &t->begin) != 0 || cnn_json_u64(&offsets->items[1], &t->end) != 0)
        return cnn__fail(CNN_EFORMAT, "%s: tensor '%s': data_offsets must be [begin, end] non-negative integers",
                         file, name);
    if (t->end < t->begin)
        return cnn__fail(CNN_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before begin", file, name,
                         (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end - t->begin != bytes) {
        char s[200];
        snprintf(s, sizeof s, "%s", cnn__shape_str(t->ndim, t->shape).s);
        return cnn__fail(CNN_EFORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but shape %s of %s needs %llu",
                         file, name, (unsigned long long)t->begin, (unsigned long long)t->end,
                         (unsigned long long)(t->end - t->begin), s, t->dtype, (unsigned long long)bytes);
    }
    return CNN_OK;
}

static int st_cmp_begin(const void *a, const void *b) {
    const cnn_st_tensor *x = *(const cnn_st_tensor *const *)a, *y = *(const cnn_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int st_cmp_name(const void *a, const void *b) {
    return strcmp((*(const cnn_st_tensor *const *)a)->name, (*(const cnn_st_tensor *const *)b)->name);
}

/* Names unique; offsets tile [0, data_size) exactly. order is scratch for n pointers. */
static int st_check_layout(const cnn_safetensors *st, const cnn_st_tensor **order, const char *file) {
    int n = st->n_tensors;
    for (int i = 0; i < n; i++) order[i] = &st->tensors[i];
    qsort(order, (size_t)n, sizeof *order, st_cmp_name);
    for (int i = 1; i < n; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            return cnn__fail(CNN_EFORMAT, "%s: duplicate tensor name '%s'", file, order[i]->name);
    qsort(order, (size_t)n, sizeof *order, st_cmp_begin);
    uint64_t expect = 0;
    for (int i = 0; i < n; i++) {
        const cnn_st_tensor *t = order[i];
        if (t->end > st->data_size)
            return cnn__fail(CNN_EFORMAT,
                             "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the %llu-byte buffer",
                             file, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                             (unsigned long long)st->data_size);
        if (t->begin != expect) {
            const char *prev = i ? order[i - 1]->name : "?";
            if (t->begin < expect)
                return cnn__fail(CNN_EFORMAT,
                                 "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' (which ends at %llu)",
                                 file, t->name, (unsigned long long)t->begin, (unsigned long long)t->end, prev,
                                 (unsigned long long)expect);
            return cnn__fail(CNN_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] leave a gap after byte %llu",
                             file, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                             (unsigned long long)expect);
        }
        expect = t->end;
    }
    if (expect != st->data_size)
        return cnn__fail(CNN_EFORMAT, "%s: the tensors cover %llu bytes but the buffer holds %llu (trailing data)",
                         file, (unsigned long long)expect, (unsigned long long)st->data_size);
    return CNN_OK;
}

static int st_parse_header(cnn_safetensors *st, const cnn_json *root, const char *file) {
    if (root->type != CNN_JSON_OBJECT)
        return cnn__fail(CNN_EFORMAT, "%s: header must be a JSON object, found %s", file,
                         cnn_json_type_name(root->type));
    if (root->len > (size_t)INT32_MAX / 2) return cnn__fail(CNN_EFORMAT, "%s: too many header entries", file);
    size_t n = root->len;
    st->tensors = cnn_calloc(n, sizeof *st->tensors);
    if (!st->tensors) return cnn__fail(CNN_ENOMEM, "%s: out of memory for %zu tensors", file, n);
    int seen_meta = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = root->keys[i];
        size_t key_len = root->key_lens[i];
        if (strcmp(key, "__metadata__") == 0) {
            const cnn_json *meta = &root->items[i];
            if (seen_meta) return cnn__fail(CNN_EFORMAT, "%s: duplicate \"__metadata__\"", file);
            seen_meta = 1;
            if (meta->type != CNN_JSON_OBJECT)
                return cnn__fail(CNN_EFORMAT, "%s: \"__metadata__\" must be an object, found %s", file,
                                 cnn_json_type_name(meta->type));
            st->meta_keys = cnn_calloc(meta->len, sizeof *st->meta_keys);
            st->meta_values = cnn_calloc(meta->len, sizeof *st->meta_values);
            if (!st->meta_keys || !st->meta_values) return cnn__fail(CNN_ENOMEM, "%s: out of memory", file);
            for (size_t j = 0; j < meta->len; j++) {
                if (meta->items[j].type != CNN_JSON_STRING)
                    return cnn__fail(CNN_EFORMAT, "%s: \"__metadata__\" value of \"%s\" must be a string, found %s",
                                     file, meta->keys[j], cnn_json_type_name(meta->items[j].type));
                st->meta_keys[j] = st_strdup(meta->keys[j], meta->key_lens[j]);
                st->meta_values[j] = st_strdup(meta->items[j].str, meta->items[j].len);
                st->n_meta = (int)j + 1;
                if (!st->meta_keys[j] || !st->meta_values[j]) return cnn__fail(CNN_ENOMEM, "%s: out of memory", file);
            }
            continue;
        }
        if (key_len == 0) return cnn__fail(CNN_EFORMAT, "%s: a tensor has an empty name", file);
        if (strlen(key) != key_len) return cnn__fail(CNN_EFORMAT, "%s: tensor name with a NUL character", file);
        cnn_st_tensor *t = &st->tensors[st->n_tensors];
        t->name = st_strdup(key, key_len);
        if (!t->name) return cnn__fail(CNN_ENOMEM, "%s: out of memory", file);
        st->n_tensors++;
        CNN_TRY(st_parse_entry(t, &root->items[i], file));
    }
    return CNN_OK;
}

/* The header length n read from a file of size bytes must fit the file and the limit. */
static int st_check_header_len(uint64_t n, uint64_t size, const char *name) {
    if (n > CNN_ST_MAX_HEADER)
        return cnn__fail(CNN_EFORMAT, "%s: header length %llu exceeds the limit of %llu bytes", name,
                         (unsigned long long)n, (unsigned long long)CNN_ST_MAX_HEADER);
    if (n > size - 8)
        return cnn__fail(CNN_EFORMAT, "%s: header length %llu exceeds the %llu bytes after it in the file", name,
                         (unsigned long long)n, (unsigned long long)(size - 8));
    return CNN_OK;
}

int cnn_safetensors_parse(cnn_safetensors *st, const uint8_t *bytes, uint64_t size, const char *name) {
    if (!st) return cnn__fail(CNN_EINVAL, "cnn_safetensors_parse: st is NULL");
    memset(st, 0, sizeof *st);
    if (!name) name = "safetensors";
    if (!bytes && size) return cnn__fail(CNN_EINVAL, "%s: bytes is NULL", name);
    if (size < 8)
        return cnn__fail(CNN_EFORMAT, "%s: file is %llu bytes, too short for the 8-byte header length", name,
                         (unsigned long long)size);
    uint64_t n;
    st_load_le(&n, bytes, 1, 8);
    CNN_TRY(st_check_header_len(n, size, name));
    if (n < 2 || bytes[8] != '{')
        return cnn__fail(CNN_EFORMAT, "%s: header does not start with '{' (not a safetensors file?)", name);
    cnn_json root;
    int rc = cnn_json_parse(&root, (const char *)bytes + 8, (size_t)n);
    if (rc != CNN_OK) return cnn__fail_context(rc, "%s: header", name);
    st->data = bytes + 8 + n;
    st->data_size = size - 8 - n;
    rc = st_parse_header(st, &root, name);
    cnn_json_free(&root);
    if (rc == CNN_OK) {
        const cnn_st_tensor **order = cnn_malloc((size_t)(st->n_tensors ? st->n_tensors : 1) * sizeof *order);
        rc = order ? st_check_layout(st, order, name) : cnn__fail(CNN_ENOMEM, "%s: out of memory", name);
        cnn_free(order);
    }
    if (rc != CNN_OK) cnn_safetensors_free(st);
    return rc;
}

int cnn_safetensors_read(cnn_safetensors *st, const char *path) {
    if (!st) return cnn__fail(CNN_EINVAL, "cnn_safetensors_read: st is NULL");
    memset(st, 0, sizeof *st);
    if (!path) return cnn__fail(CNN_EINVAL, "cnn_safetensors_read: path is NULL");
    uint8_t *file;
    size_t size;
    CNN_TRY(cnn__read_all(path, SIZE_MAX, &file, &size));
    int rc = cnn_safetensors_parse(st, file, size, path);
    if (rc != CNN_OK) {
        cnn_free(file);
        return rc;
    }
    st->file = file;
    return CNN_OK;
}

const cnn_st_tensor *cnn_safetensors_find(const cnn_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    for (int i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

int cnn_safetensors_get(const cnn_safetensors *st, const cnn_st_tensor *t, const char *dtype, void *out) {
    if (!st || !t || !dtype || (!out && t->end > t->begin))
        return cnn__fail(CNN_EINVAL, "cnn_safetensors_get: NULL argument");
    if (strcmp(t->dtype, dtype) != 0)
        return cnn__fail(CNN_EFORMAT, "tensor '%s' has dtype %s; expected %s", t->name, t->dtype, dtype);
    st_load_le(out, st->data + t->begin, (size_t)((t->end - t->begin) / (uint64_t)t->elem_size), t->elem_size);
    return CNN_OK;
}

int cnn_safetensors_get_f32(const cnn_safetensors *st, const cnn_st_tensor *t, float *out) {
    return cnn_safetensors_get(st, t, "F32", out);
}

int cnn_safetensors_get_i64(const cnn_safetensors *st, const cnn_st_tensor *t, int64_t *out) {
    return cnn_safetensors_get(st, t, "I64", out);
}

/* ---- writer ----------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} st_buf;

static void st_put(st_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        while (n > cap - b->len) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *s2 = cnn_realloc(b->s, cap);
        if (!s2) {
            b->oom = 1;
            return;
        }
        b->s = s2, b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
}

static void st_puts(st_buf *b, const char *s) { st_put(b, s, strlen(s)); }

static void st_put_u64(st_buf *b, uint64_t x) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)x);
    st_put(b, tmp, (size_t)n);
}

/* A JSON string escaped the way serde_json does it. */
static void st_put_json_string(st_buf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    st_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (*p) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            if (*p >= 0x20) {
                st_put(b, (const char *)p, 1);
                continue;
            }
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[*p >> 4], esc[5] = hex[*p & 15], n = 6;
        }
        st_put(b, esc, n);
    }
    st_put(b, "\"", 1);
}

/* One tensor to write, checked: its dtype's place in st_dtypes and its size. */
typedef struct {
    const cnn_st_write_tensor *w;
    int dtype;      /* index in st_dtypes */
    uint64_t bytes; /* in the buffer */
} st_item;

/* The official layout order: dtypes from the end of st_dtypes (I64 before
 * F32 before U32), then names in byte order. */
static int st_cmp_item(const void *a, const void *b) {
    const st_item *x = *(const st_item *const *)a, *y = *(const st_item *const *)b;
    if (x->dtype != y->dtype) return x->dtype > y->dtype ? -1 : 1;
    return strcmp(x->w->name, y->w->name);
}

static int st_cmp_item_name(const void *a, const void *b) {
    return strcmp((*(const st_item *const *)a)->w->name, (*(const st_item *const *)b)->w->name);
}

/* *t <- tensor i of the caller's list, w, once its arguments are checked. */
static int st_item_make(st_item *t, const cnn_st_write_tensor *w, int i, const char *path) {
    t->w = w;
    if (!w->name || !w->name[0] || strcmp(w->name, "__metadata__") == 0)
        return cnn__fail(CNN_EINVAL, "%s: tensor %d has an empty or reserved name", path, i);
    t->dtype = w->dtype ? st_dtype_index(w->dtype) : -1;
    if (t->dtype < 0)
        return cnn__fail(CNN_EINVAL, "%s: tensor '%s': unknown dtype \"%.32s\"", path, w->name,
                         w->dtype ? w->dtype : "(null)");
    if (w->ndim < 0 || w->ndim > CNN_ST_MAX_DIMS || (w->ndim > 0 && !w->shape))
        return cnn__fail(CNN_EINVAL, "%s: tensor '%s': ndim %d not in [0, %d]", path, w->name, w->ndim,
                         CNN_ST_MAX_DIMS);
    uint64_t numel = 1;
    for (int d = 0; d < w->ndim; d++) {
        if (w->shape[d] < 0 || (w->shape[d] > 0 && numel > UINT64_MAX / 8 / (uint64_t)w->shape[d]))
            return cnn__fail(CNN_EINVAL, "%s: tensor '%s': bad shape[%d] = %lld", path, w->name, d,
                             (long long)w->shape[d]);
        numel *= (uint64_t)w->shape[d];
    }
    if (numel > 0 && !w->data) return cnn__fail(CNN_EINVAL, "%s: tensor '%s': data is NULL", path, w->name);
    t->bytes = numel * (uint64_t)st_dtypes[t->dtype].size;
    return CNN_OK;
}

/* The header of the tensors in layout order: {"__metadata__":{...},
 * "name":{"dtype":"F32","shape":[..],"data_offsets":[b,e]},...}, padded with
 * spaces to a multiple of 8; with checksum, the metadata starts with the
 * crc32 and size fields: the crc digits '0', the size filled in. */
static int st_header(st_buf *h, const st_item *const *order, int n, const char *const *meta, int n_meta,
                     int checksum, const char *path) {
    if (checksum) st_puts(h, CNN_ST_SUM_HEAD "00000000" CNN_ST_SUM_MID "0000000000000000\"");
    else if (n_meta > 0) st_puts(h, "{\"__metadata__\":{");
    else st_puts(h, "{");
    for (int j = 0; j < n_meta; j++) {
        if (j || checksum) st_puts(h, ",");
        st_put_json_string(h, meta[2 * j]);
        st_puts(h, ":");
        st_put_json_string(h, meta[2 * j + 1]);
    }
    if (n_meta > 0 || checksum) st_puts(h, "}");
    uint64_t offset = 0;
    for (int k = 0; k < n; k++) {
        const st_item *t = order[k];
        if (k || n_meta > 0 || checksum) st_puts(h, ",");
        st_put_json_string(h, t->w->name);
        st_puts(h, ":{\"dtype\":\"");
        st_puts(h, st_dtypes[t->dtype].name);
        st_puts(h, "\",\"shape\":[");
        for (int d = 0; d < t->w->ndim; d++) {
            if (d) st_puts(h, ",");
            st_put_u64(h, (uint64_t)t->w->shape[d]);
        }
        st_puts(h, "],\"data_offsets\":[");
        st_put_u64(h, offset);
        st_puts(h, ",");
        if (t->bytes > UINT64_MAX - offset) return cnn__fail(CNN_EINVAL, "%s: total size overflows", path);
        offset += t->bytes;
        st_put_u64(h, offset);
        st_puts(h, "]}");
    }
    st_puts(h, "}");
    while (!h->oom && h->len % 8) st_puts(h, " ");
    if (h->oom) return cnn__fail(CNN_ENOMEM, "%s: out of memory for the header", path);
    if (checksum) {
        /* The size is known now: 16 digits, written in place. */
        char digits[17];
        uint64_t total = 8 + (uint64_t)h->len + offset;
        snprintf(digits, sizeof digits, "%016llu", (unsigned long long)total);
        memcpy(h->s + (CNN_ST_SUM_BYTES_AT - 8), digits, 16);
    }
    return CNN_OK;
}

/* The output file and, with a checksum, the crc32 of what went into it. */
typedef struct {
    FILE *f;
    int checksum;
    uint32_t crc;
} st_out;

static void st_write(st_out *o, const void *p, size_t n) {
    fwrite(p, 1, n, o->f);
    if (o->checksum) o->crc = cnn__crc32(o->crc, p, n);
}

int cnn_safetensors_write(const char *path, const cnn_st_write_tensor *tensors, int n, const char *const *meta,
                          int n_meta, unsigned flags) {
    if (!path) return cnn__fail(CNN_EINVAL, "cnn_safetensors_write: path is NULL");
    if (n < 0 || (n > 0 && !tensors)) return cnn__fail(CNN_EINVAL, "%s: bad tensor list (n = %d)", path, n);
    if (n_meta < 0 || (n_meta > 0 && !meta)) return cnn__fail(CNN_EINVAL, "%s: bad metadata list", path);
    for (int j = 0; j < 2 * n_meta; j++)
        if (!meta[j]) return cnn__fail(CNN_EINVAL, "%s: metadata entry %d is NULL", path, j / 2);
    const int checksum = (flags & CNN_ST_CHECKSUM) != 0;
    st_item *items = cnn_malloc((size_t)(n ? n : 1) * sizeof *items);
    const st_item **order = cnn_malloc((size_t)(n ? n : 1) * sizeof *order);
    st_buf h = {0};
    int rc = items && order ? CNN_OK : cnn__fail(CNN_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < n && rc == CNN_OK; i++) {
        rc = st_item_make(&items[i], &tensors[i], i, path);
        order[i] = &items[i];
    }
    if (rc == CNN_OK) {
        qsort(order, (size_t)n, sizeof *order, st_cmp_item_name);
        for (int i = 1; i < n && rc == CNN_OK; i++)
            if (strcmp(order[i - 1]->w->name, order[i]->w->name) == 0)
                rc = cnn__fail(CNN_EINVAL, "%s: duplicate tensor name '%s'", path, order[i]->w->name);
        qsort(order, (size_t)n, sizeof *order, st_cmp_item);
    }
    if (rc == CNN_OK) rc = st_header(&h, order, n, meta, n_meta, checksum, path);
    cnn__atomic_file af;
    if (rc == CNN_OK) rc = cnn__atomic_open(&af, path);
    if (rc != CNN_OK) goto done;

    st_out o = {af.f, checksum, 0};
    const uint64_t header_len = h.len;
    uint8_t len8[8], chunk[4096]; /* 4096: a multiple of every dtype's size */
    st_store_le(len8, &header_len, 1, 8);
    st_write(&o, len8, 8);
    st_write(&o, h.s, h.len);
    for (int k = 0; k < n && !ferror(af.f); k++) {
        const int size = st_dtypes[order[k]->dtype].size;
        const uint8_t *src = order[k]->w->data;
        for (uint64_t left = order[k]->bytes; left > 0;) {
            size_t m = left < sizeof chunk ? (size_t)left : sizeof chunk;
            st_store_le(chunk, src, m / (size_t)size, size);
            st_write(&o, chunk, m);
            src += m, left -= m;
        }
    }
    if (checksum) {
        char hex[9];
        snprintf(hex, sizeof hex, "%08" PRIx32, o.crc);
        if (fseek(af.f, (long)CNN_ST_SUM_CRC_AT, SEEK_SET) != 0 || fwrite(hex, 1, 8, af.f) != 8) {
            int err = errno;
            cnn__atomic_abort(&af);
            rc = cnn__fail(CNN_EIO, "%s: cannot write the checksum: %s", path, strerror(err));
            goto done;
        }
    }
    rc = cnn__atomic_commit(&af);
done:
    cnn_free(items);
    cnn_free(order);
    cnn_free(h.s);
    return rc;
}

int cnn_safetensors_checksum(const uint8_t *b, uint64_t size, uint32_t *stored, uint64_t *written,
                             uint32_t *computed) {
    static const char head[] = CNN_ST_SUM_HEAD, mid[] = CNN_ST_SUM_MID;
    if (size < CNN_ST_SUM_MIN_SIZE || memcmp(b + 8, head, sizeof head - 1) != 0 ||
        !st_is_digits(b + CNN_ST_SUM_CRC_AT, 8, 1) || memcmp(b + CNN_ST_SUM_CRC_AT + 8, mid, sizeof mid - 1) != 0 ||
        !st_is_digits(b + CNN_ST_SUM_BYTES_AT, 16, 0) || b[CNN_ST_SUM_BYTES_AT + 16] != '"')
        return -1;
    char tmp[17];
    memcpy(tmp, b + CNN_ST_SUM_BYTES_AT, 16), tmp[16] = 0;
    *written = strtoull(tmp, NULL, 10);
    memcpy(tmp, b + CNN_ST_SUM_CRC_AT, 8), tmp[8] = 0;
    *stored = (uint32_t)strtoul(tmp, NULL, 16);
    uint32_t crc = cnn__crc32(0, b, CNN_ST_SUM_CRC_AT);
    crc = cnn__crc32(crc, "00000000", 8);
    *computed = cnn__crc32(crc, b + CNN_ST_SUM_CRC_AT + 8, size - CNN_ST_SUM_CRC_AT - 8);
    return 0;
}
