/* safetensors.c — the safetensors reader and writer (see safetensors.h); a
 * model's weights are read and written with them in src/nn/weights.c.
 *
 * Reading loads the whole file into memory, parses the header with the strict
 * JSON parser and validates every entry before any element is converted.
 */
#include "io/safetensors.h"

#include "cnn_internal.h"
#include "io/json.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- little-endian helpers ---------------------------------------------- */

static uint64_t st_load_u64le(const uint8_t *b) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = (x << 8) | b[i];
    return x;
}

static void st_store_u64le(uint8_t *b, uint64_t x) {
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(x >> (8 * i));
}

static float st_load_f32le(const uint8_t *b) {
    uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void st_store_f32le(uint8_t *b, float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    b[0] = (uint8_t)u, b[1] = (uint8_t)(u >> 8), b[2] = (uint8_t)(u >> 16), b[3] = (uint8_t)(u >> 24);
}

/* ---- dtypes --------------------------------------------------------------- */

static const struct {
    const char *name;
    int size;
} st_dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
    {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8},
};

static int st_dtype_size(const char *name) {
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(st_dtypes[i].name, name) == 0) return st_dtypes[i].size;
    return 0;
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
    t->elem_size = dtype->len < sizeof t->dtype ? st_dtype_size(dtype->str) : 0;
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
    uint64_t n = st_load_u64le(bytes);
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
    FILE *f;
    uint64_t size;
    CNN_TRY(cnn__open_regular(&f, path, &size));
    uint8_t head[8];
    /* Check the header length before allocating for the whole file. */
    if (size >= 8) {
        if (fread(head, 1, 8, f) != 8) {
            fclose(f);
            return cnn__fail(CNN_EIO, "%s: read error", path);
        }
        int rc = st_check_header_len(st_load_u64le(head), size, path);
        if (rc != CNN_OK) {
            fclose(f);
            return rc;
        }
    }
    if (size > SIZE_MAX - 1) {
        fclose(f);
        return cnn__fail(CNN_ENOMEM, "%s: file of %llu bytes is too large", path, (unsigned long long)size);
    }
    uint8_t *file = cnn_malloc((size_t)size);
    if (!file) {
        fclose(f);
        return cnn__fail(CNN_ENOMEM, "%s: out of memory for %llu bytes", path, (unsigned long long)size);
    }
    size_t got = size >= 8 ? 8 : 0;
    if (got) memcpy(file, head, 8);
    got += fread(file + got, 1, (size_t)size - got, f);
    int extra = fgetc(f) != EOF; /* the file grew while we read it */
    int err = ferror(f);
    fclose(f);
    if (got != size || extra || err) {
        cnn_free(file);
        return cnn__fail(CNN_EIO, "%s: read %zu of %llu bytes (file changed or read error)", path, got,
                         (unsigned long long)size);
    }
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

int cnn_safetensors_get_f32(const cnn_safetensors *st, const cnn_st_tensor *t, float *out) {
    if (!st || !t || (!out && t->end > t->begin))
        return cnn__fail(CNN_EINVAL, "cnn_safetensors_get_f32: NULL argument");
    if (strcmp(t->dtype, "F32") != 0)
        return cnn__fail(CNN_EFORMAT, "tensor '%s' has dtype %s; only F32 is supported", t->name, t->dtype);
    const uint8_t *b = st->data + t->begin;
    uint64_t n = (t->end - t->begin) / 4;
    for (uint64_t i = 0; i < n; i++) out[i] = st_load_f32le(b + 4 * i);
    return CNN_OK;
}

int cnn_safetensors_get_i64(const cnn_safetensors *st, const cnn_st_tensor *t, int64_t *out) {
    if (!st || !t || (!out && t->end > t->begin))
        return cnn__fail(CNN_EINVAL, "cnn_safetensors_get_i64: NULL argument");
    if (strcmp(t->dtype, "I64") != 0)
        return cnn__fail(CNN_EFORMAT, "tensor '%s' has dtype %s; expected I64", t->name, t->dtype);
    const uint8_t *b = st->data + t->begin;
    uint64_t n = (t->end - t->begin) / 8;
    for (uint64_t i = 0; i < n; i++) out[i] = (int64_t)st_load_u64le(b + 8 * i);
    return CNN_OK;
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

/* One tensor to write: F32 (f32) or I64 (i64), normalised from the two lists. */
typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
    const float *f32;
    const int64_t *i64;
    uint64_t bytes;
} st_item;

/* The official layout order: larger dtypes first (I64 before F32), then by name. */
static int st_cmp_item(const void *a, const void *b) {
    const st_item *x = *(const st_item *const *)a, *y = *(const st_item *const *)b;
    if ((x->i64 != NULL) != (y->i64 != NULL)) return x->i64 ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int st_cmp_item_name(const void *a, const void *b) {
    return strcmp((*(const st_item *const *)a)->name, (*(const st_item *const *)b)->name);
}

static void st_store_i64le(uint8_t *b, int64_t x) { st_store_u64le(b, (uint64_t)x); }

int cnn_safetensors_write(const char *path, const cnn_st_write_tensor *tensors, int n, const char *const *meta,
                          int n_meta) {
    return cnn_safetensors_write_i64(path, tensors, n, NULL, 0, meta, n_meta);
}

int cnn_safetensors_write_i64(const char *path, const cnn_st_write_tensor *tensors, int n,
                              const cnn_st_write_i64 *ints, int n_ints, const char *const *meta, int n_meta) {
    if (!path) return cnn__fail(CNN_EINVAL, "cnn_safetensors_write: path is NULL");
    if (n < 0 || (n > 0 && !tensors)) return cnn__fail(CNN_EINVAL, "%s: bad tensor list (n = %d)", path, n);
    if (n_ints < 0 || (n_ints > 0 && !ints) || n_ints > INT32_MAX - n)
        return cnn__fail(CNN_EINVAL, "%s: bad int64 tensor list (n = %d)", path, n_ints);
    if (n_meta < 0 || (n_meta > 0 && !meta)) return cnn__fail(CNN_EINVAL, "%s: bad metadata list", path);
    for (int j = 0; j < 2 * n_meta; j++)
        if (!meta[j]) return cnn__fail(CNN_EINVAL, "%s: metadata entry %d is NULL", path, j / 2);
    const int total = n + n_ints;
    st_item *items = cnn_malloc((size_t)(total ? total : 1) * sizeof *items);
    const st_item **order = cnn_malloc((size_t)(total ? total : 1) * sizeof *order);
    st_buf h = {0};
    int rc = CNN_OK;
    if (!items || !order) {
        rc = cnn__fail(CNN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < total && rc == CNN_OK; i++) {
        st_item *t = &items[i];
        memset(t, 0, sizeof *t);
        if (i < n) {
            t->name = tensors[i].name, t->ndim = tensors[i].ndim, t->shape = tensors[i].shape;
            t->f32 = tensors[i].data;
        } else {
            const cnn_st_write_i64 *w = &ints[i - n];
            t->name = w->name, t->ndim = w->ndim, t->shape = w->shape, t->i64 = w->data;
        }
        order[i] = t;
        const int elem = i < n ? 4 : 8;
        if (!t->name || !t->name[0] || strcmp(t->name, "__metadata__") == 0) {
            rc = cnn__fail(CNN_EINVAL, "%s: tensor %d has an empty or reserved name", path, i);
            break;
        }
        if (t->ndim < 0 || t->ndim > CNN_ST_MAX_DIMS || (t->ndim > 0 && !t->shape)) {
            rc = cnn__fail(CNN_EINVAL, "%s: tensor '%s': ndim %d not in [0, %d]", path, t->name, t->ndim,
                           CNN_ST_MAX_DIMS);
            break;
        }
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0 || (t->shape[d] > 0 && numel > UINT64_MAX / 8 / (uint64_t)t->shape[d])) {
                rc = cnn__fail(CNN_EINVAL, "%s: tensor '%s': bad shape[%d] = %lld", path, t->name, d,
                               (long long)t->shape[d]);
                break;
            }
            numel *= (uint64_t)t->shape[d];
        }
        if (rc == CNN_OK && numel > 0 && !t->f32 && !t->i64)
            rc = cnn__fail(CNN_EINVAL, "%s: tensor '%s': data is NULL", path, t->name);
        if (i >= n && !t->i64) t->i64 = (const int64_t *)""; /* keeps the dtype visible for an empty tensor */
        t->bytes = (uint64_t)elem * numel;
    }
    if (rc != CNN_OK) goto done;
    qsort(order, (size_t)total, sizeof *order, st_cmp_item_name);
    for (int i = 1; i < total; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
            rc = cnn__fail(CNN_EINVAL, "%s: duplicate tensor name '%s'", path, order[i]->name);
            goto done;
        }
    qsort(order, (size_t)total, sizeof *order, st_cmp_item);

    /* Header: {"__metadata__":{...},"name":{"dtype":"F32","shape":[..],"data_offsets":[b,e]},...} */
    st_puts(&h, "{");
    if (n_meta > 0) {
        st_puts(&h, "\"__metadata__\":{");
        for (int j = 0; j < n_meta; j++) {
            if (j) st_puts(&h, ",");
            st_put_json_string(&h, meta[2 * j]);
            st_puts(&h, ":");
            st_put_json_string(&h, meta[2 * j + 1]);
        }
        st_puts(&h, "}");
    }
    uint64_t offset = 0;
    for (int k = 0; k < total; k++) {
        const st_item *t = order[k];
        if (k || n_meta > 0) st_puts(&h, ",");
        st_put_json_string(&h, t->name);
        st_puts(&h, t->i64 ? ":{\"dtype\":\"I64\",\"shape\":[" : ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) st_puts(&h, ",");
            st_put_u64(&h, (uint64_t)t->shape[d]);
        }
        st_puts(&h, "],\"data_offsets\":[");
        st_put_u64(&h, offset);
        st_puts(&h, ",");
        if (t->bytes > UINT64_MAX - offset) {
            rc = cnn__fail(CNN_EINVAL, "%s: total size overflows", path);
            goto done;
        }
        offset += t->bytes;
        st_put_u64(&h, offset);
        st_puts(&h, "]}");
    }
    st_puts(&h, "}");
    while (!h.oom && h.len % 8) st_puts(&h, " ");
    if (h.oom) {
        rc = cnn__fail(CNN_ENOMEM, "%s: out of memory for the header", path);
        goto done;
    }

    cnn__atomic_file af;
    rc = cnn__atomic_open(&af, path);
    if (rc != CNN_OK) goto done;
    uint8_t len8[8];
    st_store_u64le(len8, (uint64_t)h.len);
    fwrite(len8, 1, 8, af.f);
    fwrite(h.s, 1, h.len, af.f);
    uint8_t chunk[4096];
    for (int k = 0; k < total && !ferror(af.f); k++) {
        const st_item *t = order[k];
        const int elem = t->i64 ? 8 : 4;
        uint64_t numel = t->bytes / (uint64_t)elem;
        for (uint64_t i = 0; i < numel;) {
            size_t m = 0;
            for (; m < sizeof chunk / 8 && i < numel; m++, i++) {
                if (t->i64) st_store_i64le(chunk + 8 * m, t->i64[i]);
                else st_store_f32le(chunk + 4 * m, t->f32[i]);
            }
            fwrite(chunk, (size_t)elem, m, af.f);
        }
    }
    rc = cnn__atomic_commit(&af);
done:
    cnn_free(items);
    cnn_free(order);
    cnn_free(h.s);
    return rc;
}
