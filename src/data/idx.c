/* idx.c — IDX files (the MNIST / Fashion-MNIST format) and datasets.
 *
 * An IDX file is a big-endian header followed by raw data:
 *   bytes 0-1  zero
 *   byte  2    dtype: 0x08 unsigned byte, 0x0B int16, 0x0C int32, 0x0D float32
 *              (big-endian); images are 0x08 or 0x0D, labels 0x08, 0x0B or 0x0C
 *   byte  3    ndim: images 3 (n, h, w) or 4 (n, c, h, w), labels 1 (n)
 *   ndim x 4   big-endian uint32 sizes
 *   data       exactly the product of the sizes times the element size, nothing after it
 * Files are read plain or gzip, detected by the gzip magic 1f 8b.
 *
 * Every size comes from an untrusted file, so sizes are range-checked and
 * their products overflow-checked, and the claimed length is compared with
 * the file length before anything is allocated: a plain file must hold
 * exactly header + data; a gzip file cannot inflate beyond 1032x its size
 * (deflate's limit), so a tiny file that claims gigabytes fails at once.
 *
 * A dataset is two files: both headers are read and the pair checked (one
 * label per image) before either file's data is inflated, so a small gzip
 * file that honestly inflates to gigabytes of images costs nothing when its
 * labels file does not match.
 *
 * Statuses: CNN_ENOTFOUND (no such file), CNN_EIO (cannot read/write),
 * CNN_EFORMAT (bad header, length, gzip stream), CNN_ERANGE (label outside
 * 0..65534, a float pixel that is not finite),
 * CNN_ESHAPE (image and label counts differ), CNN_EINVAL (bad arguments).
 * Messages start with the file name and name the field (magic, dtype byte,
 * ndim byte, dims[i], data, label #i) with expected vs found.
 *
 * Writing goes to a temporary file in the destination's directory, which is
 * fsync'ed and renamed over the destination, so readers never see a partial
 * file; on failure the temporary file is removed.
 */
#include "data/data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

#define IDX_DTYPE_U8 0x08
#define IDX_DTYPE_I16 0x0B
#define IDX_DTYPE_I32 0x0C
#define IDX_DTYPE_F32 0x0D
#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
/* Deflate expands at most ~1032:1; the slack covers headers of tiny files. */
#define GZIP_MAX_RATIO 1032u
#define GZIP_SLACK 4096u
/* gzread takes an unsigned length; read in pieces well below INT_MAX. */
#define IO_CHUNK ((size_t)1 << 28)

/* ---- reading ------------------------------------------------------------ */

typedef struct {
    const char *path;
    gzFile gz;
    int is_gzip;
    uint64_t file_size; /* bytes on disk */
    uint64_t pos;       /* uncompressed bytes consumed */
} idx_reader;

/* Open path for reading, plain or gzip. cnn__open_regular refuses a FIFO
 * or a directory without blocking; zlib then reads a duplicate of that
 * descriptor (gzclose closes it), so the file opened is the file checked. */
static int idx_open(idx_reader *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->path = path;
    FILE *f;
    CNN_TRY(cnn__open_regular(&f, path, &r->file_size));
    unsigned char sig[2] = {0, 0};
    ssize_t got = pread(fileno(f), sig, 2, 0); /* leaves the offset at 0 for zlib */
    r->is_gzip = got == 2 && sig[0] == 0x1f && sig[1] == 0x8b;
    int fd = dup(fileno(f));
    int err = errno;
    fclose(f);
    if (fd < 0) return cnn__fail(CNN_EIO, "%s: cannot open: %s", path, strerror(err));
    r->gz = gzdopen(fd, "rb");
    if (!r->gz) {
        close(fd);
        return cnn__fail(CNN_ENOMEM, "%s: cannot open: out of memory for the gzip reader", path);
    }
    gzbuffer(r->gz, 1u << 17);
    return CNN_OK;
}

static void idx_close(idx_reader *r) {
    if (r->gz) gzclose(r->gz);
    r->gz = NULL;
}

/* Read up to n bytes; *got is the count read. Fails only on a broken gzip
 * stream (corrupt, or cut off inside the compressed data). */
static int idx_read(idx_reader *r, void *buf, size_t n, size_t *got, const char *field) {
    unsigned char *p = buf;
    *got = 0;
    while (*got < n) {
        size_t want = n - *got < IO_CHUNK ? n - *got : IO_CHUNK;
        int k = gzread(r->gz, p + *got, (unsigned)want);
        if (k < 0) {
            int zerr;
            const char *msg = gzerror(r->gz, &zerr);
            return cnn__fail(CNN_EFORMAT, "%s: %s: corrupt gzip data at uncompressed byte %llu (zlib: %s)",
                             r->path, field, (unsigned long long)(r->pos + *got), msg);
        }
        if (k == 0) break;
        *got += (size_t)k;
    }
    r->pos += *got;
    if (*got < n && r->is_gzip) {
        int zerr = Z_OK;
        const char *msg = gzerror(r->gz, &zerr);
        if (zerr != Z_OK) {
            return cnn__fail(CNN_EFORMAT, "%s: %s: corrupt gzip: the compressed stream ends early after %llu bytes (zlib: %s)",
                             r->path, field, (unsigned long long)r->pos, msg);
        }
    }
    return CNN_OK;
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static int idx_elem_size(int dtype) {
    return dtype == IDX_DTYPE_U8 ? 1 : dtype == IDX_DTYPE_I16 ? 2 : 4;
}

/* Read and check the header of an images file (magic 0x0803 / 0x0804 with
 * dtype u8 or f32) or a labels file (0x0801 with u8, i16 or i32): *dtype,
 * *ndim, dims[0..ndim) and *data_len (bytes). */
static int idx_read_header(idx_reader *r, uint32_t magic, int *dtype, int *ndim_out, int64_t *dims, size_t *data_len) {
    const int images = magic == IDX_MAGIC_IMAGES;
    const char *what = images ? "images" : "labels";
    unsigned char b[4];
    size_t got;
    CNN_TRY(idx_read(r, b, 4, &got, "magic"));
    if (got < 4) {
        return cnn__fail(CNN_EFORMAT, "%s: magic: expected 4 bytes (0x%08x, IDX %s), found %zu bytes",
                         r->path, magic, what, got);
    }
    uint32_t found = be32(b);
    if (b[0] != 0 || b[1] != 0) {
        return cnn__fail(CNN_EFORMAT, "%s: magic: expected 0x%08x (IDX %s), found 0x%08x%s", r->path,
                         magic, what, found, r->is_gzip ? "" : " (not an IDX file)");
    }
    if (images ? b[2] != IDX_DTYPE_U8 && b[2] != IDX_DTYPE_F32
               : b[2] != IDX_DTYPE_U8 && b[2] != IDX_DTYPE_I16 && b[2] != IDX_DTYPE_I32) {
        return cnn__fail(CNN_EFORMAT, "%s: dtype byte: expected %s, found 0x%02x", r->path,
                         images ? "0x08 (unsigned byte) or 0x0d (float32)"
                                : "0x08 (unsigned byte), 0x0b (int16) or 0x0c (int32)",
                         b[2]);
    }
    const int ndim = b[3];
    if (images ? ndim != 3 && ndim != 4 : ndim != 1) {
        return cnn__fail(CNN_EFORMAT, "%s: ndim byte: expected %s (IDX %s), found %d", r->path,
                         images ? "3 (n, h, w) or 4 (n, c, h, w)" : "1", what, ndim);
    }
    *dtype = b[2];
    *ndim_out = ndim;
    const size_t elem = (size_t)idx_elem_size(b[2]);
    size_t len = elem;
    for (int i = 0; i < ndim; i++) {
        char field[16];
        snprintf(field, sizeof field, "dims[%d]", i);
        CNN_TRY(idx_read(r, b, 4, &got, field));
        if (got < 4) {
            return cnn__fail(CNN_EFORMAT, "%s: %s: expected 4 bytes, found %zu (file ends inside the header)",
                             r->path, field, got);
        }
        int64_t d = be32(b);
        int64_t max = i == 0 ? CNN_IDX_MAX_COUNT : CNN_IDX_MAX_SIDE;
        if (d < 1 || d > max) {
            return cnn__fail(CNN_EFORMAT, "%s: %s: expected 1..%lld, found %lld", r->path, field,
                             (long long)max, (long long)d);
        }
        dims[i] = d;
        if (cnn__mul_overflow(len, (size_t)d, &len) || (int64_t)len > CNN_MAX_NUMEL) {
            return cnn__fail(CNN_EFORMAT, "%s: %s: %lld makes the data larger than %lld bytes", r->path,
                             field, (long long)d, (long long)CNN_MAX_NUMEL);
        }
    }

    /* Compare the claimed length with what the file can hold before allocating. */
    uint64_t header = 4 + 4 * (uint64_t)ndim;
    if (!r->is_gzip) {
        uint64_t have = r->file_size - header; /* the header was read, so no wrap */
        if (have != len) {
            return cnn__fail(CNN_EFORMAT, "%s: data: expected %zu bytes after the %llu-byte header, found %llu%s",
                             r->path, len, (unsigned long long)header, (unsigned long long)have,
                             have < len ? " (truncated)" : " (trailing bytes)");
        }
    } else {
        uint64_t most = r->file_size * GZIP_MAX_RATIO + GZIP_SLACK;
        if ((uint64_t)len + header > most) {
            return cnn__fail(CNN_EFORMAT, "%s: data: the header claims %zu bytes, but a %llu-byte gzip file holds at most %llu",
                             r->path, len, (unsigned long long)r->file_size, (unsigned long long)most);
        }
    }
    *data_len = len;
    return CNN_OK;
}

/* Read exactly len data bytes into a new buffer and check that nothing follows. */
static int idx_read_data(idx_reader *r, uint8_t **out, size_t len) {
    uint8_t *buf = cnn_malloc(len);
    if (!buf) return cnn__fail(CNN_ENOMEM, "%s: data: cannot allocate %zu bytes", r->path, len);
    size_t got;
    int rc = idx_read(r, buf, len, &got, "data");
    if (rc == CNN_OK && got < len) {
        rc = cnn__fail(CNN_EFORMAT, "%s: data: expected %zu bytes after the header, found %zu (truncated)",
                       r->path, len, got);
    }
    if (rc == CNN_OK) {
        unsigned char extra[256];
        size_t more = 0, k;
        do {
            rc = idx_read(r, extra, sizeof extra, &k, "data");
            more += k;
        } while (rc == CNN_OK && k == sizeof extra && more < ((size_t)1 << 20));
        if (rc == CNN_OK && more > 0) {
            rc = cnn__fail(CNN_EFORMAT, "%s: data: expected %zu bytes after the header, found %s%zu more (trailing bytes)",
                           r->path, len, more >= ((size_t)1 << 20) ? "at least " : "", more);
        }
    }
    if (rc != CNN_OK) {
        cnn_free(buf);
        return rc;
    }
    *out = buf;
    return CNN_OK;
}

/* Images of a file whose header r has read into ds: u8 pixels kept as
 * bytes, float32 converted from big-endian and checked to be finite. */
static int idx_read_image_data(idx_reader *r, cnn_dataset *ds, int dtype, int ndim, const int64_t *dims, size_t len) {
    uint8_t *data = NULL;
    CNN_TRY(idx_read_data(r, &data, len));
    ds->n = dims[0];
    ds->c = ndim == 4 ? dims[1] : 1;
    ds->h = dims[ndim - 2], ds->w = dims[ndim - 1];
    if (dtype == IDX_DTYPE_U8) {
        ds->images = data;
        return CNN_OK;
    }
    /* float32, big-endian: converted in place (same size) */
    float *f = (float *)(void *)data;
    const size_t count = len / 4;
    for (size_t i = 0; i < count; i++) {
        const unsigned char *b = data + 4 * i;
        uint32_t u = be32(b);
        float v;
        memcpy(&v, &u, 4);
        if (!isfinite(v)) {
            cnn_free(data);
            memset(ds, 0, sizeof *ds);
            return cnn__fail(CNN_ERANGE, "%s: pixel #%zu: expected a finite float32, found %g", r->path, i, (double)v);
        }
        f[i] = v;
    }
    ds->fimages = f;
    return CNN_OK;
}

int cnn_idx_read_images_any(cnn_dataset *ds, const char *path) {
    if (!ds || !path) return cnn__fail(CNN_EINVAL, "cnn_idx_read_images_any: ds and path must not be NULL");
    memset(ds, 0, sizeof *ds);
    idx_reader r;
    CNN_TRY(idx_open(&r, path));
    int64_t dims[4] = {0, 0, 0, 0};
    int dtype = 0, ndim = 0;
    size_t len = 0;
    int rc = idx_read_header(&r, IDX_MAGIC_IMAGES, &dtype, &ndim, dims, &len);
    if (rc == CNN_OK) rc = idx_read_image_data(&r, ds, dtype, ndim, dims, len);
    idx_close(&r);
    return rc;
}

int cnn_idx_read_images(uint8_t **pixels, int64_t *n, int64_t *h, int64_t *w, const char *path) {
    if (!pixels || !n || !h || !w || !path) {
        return cnn__fail(CNN_EINVAL, "cnn_idx_read_images: pixels, n, h, w and path must not be NULL");
    }
    *pixels = NULL;
    *n = *h = *w = 0;
    cnn_dataset ds;
    CNN_TRY(cnn_idx_read_images_any(&ds, path));
    if (!ds.images || ds.c != 1) {
        int64_t c = ds.c;
        cnn_dataset_free(&ds);
        return cnn__fail(CNN_EFORMAT, "%s: expected (n, h, w) unsigned bytes, found %s (use cnn_idx_read_images_any)",
                         path, c != 1 ? "4 dimensions" : "float32");
    }
    *pixels = ds.images;
    *n = ds.n, *h = ds.h, *w = ds.w;
    return CNN_OK;
}

/* The data of a labels file whose header r has read: n labels, each in
 * 0..CNN_MAX_CLASSES-1. */
static int idx_read_labels(idx_reader *r, uint16_t **labels, int dtype, int64_t n, size_t len) {
    uint8_t *data = NULL;
    CNN_TRY(idx_read_data(r, &data, len));
    uint16_t *out = cnn_malloc((size_t)n * sizeof *out);
    if (!out) {
        cnn_free(data);
        return cnn__fail(CNN_ENOMEM, "%s: cannot allocate %lld labels", r->path, (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t v = dtype == IDX_DTYPE_U8    ? data[i]
                    : dtype == IDX_DTYPE_I16 ? (int16_t)(uint16_t)(data[2 * i] << 8 | data[2 * i + 1])
                                             : (int32_t)be32(data + 4 * i);
        if (v < 0 || v >= CNN_MAX_CLASSES) {
            cnn_free(data);
            cnn_free(out);
            return cnn__fail(CNN_ERANGE, "%s: label #%lld: expected 0..%d, found %lld", r->path, (long long)i,
                             CNN_MAX_CLASSES - 1, (long long)v);
        }
        out[i] = (uint16_t)v;
    }
    cnn_free(data);
    *labels = out;
    return CNN_OK;
}

/* ---- datasets ----------------------------------------------------------- */

int cnn_dataset_load(cnn_dataset *ds, const char *images_path, const char *labels_path) {
    if (!ds) return cnn__fail(CNN_EINVAL, "cnn_dataset_load: ds must not be NULL");
    memset(ds, 0, sizeof *ds);
    if (!images_path || !labels_path) {
        return cnn__fail(CNN_EINVAL, "cnn_dataset_load: images_path and labels_path must not be NULL");
    }
    /* Both headers, then the pair, and only then the data. */
    idx_reader ri, rl;
    memset(&rl, 0, sizeof rl);
    int64_t idims[4] = {0, 0, 0, 0}, ldims[1] = {0};
    int idtype = 0, indim = 0, ldtype = 0, lndim = 0;
    size_t ilen = 0, llen = 0;
    uint16_t *labels = NULL;
    cnn_dataset out;
    memset(&out, 0, sizeof out);
    CNN_TRY(idx_open(&ri, images_path));
    int rc = idx_read_header(&ri, IDX_MAGIC_IMAGES, &idtype, &indim, idims, &ilen);
    if (rc == CNN_OK) rc = idx_open(&rl, labels_path);
    if (rc == CNN_OK) rc = idx_read_header(&rl, IDX_MAGIC_LABELS, &ldtype, &lndim, ldims, &llen);
    if (rc == CNN_OK && ldims[0] != idims[0]) {
        rc = cnn__fail(CNN_ESHAPE, "%s: dims[0]: expected %lld labels (one per image in %s), found %lld",
                       labels_path, (long long)idims[0], images_path, (long long)ldims[0]);
    }
    if (rc == CNN_OK) rc = idx_read_image_data(&ri, &out, idtype, indim, idims, ilen);
    if (rc == CNN_OK) rc = idx_read_labels(&rl, &labels, ldtype, ldims[0], llen);
    /* "IMAGES and LABELS" names the pair in messages */
    if (rc == CNN_OK && (out.source = cnn_malloc(strlen(images_path) + strlen(labels_path) + 6)))
        sprintf(out.source, "%s and %s", images_path, labels_path);
    else if (rc == CNN_OK)
        rc = cnn__fail(CNN_ENOMEM, "%s: out of memory", labels_path);
    idx_close(&ri);
    idx_close(&rl);
    out.labels = labels;
    if (rc != CNN_OK) {
        cnn_dataset_free(&out);
        return rc;
    }
    *ds = out;
    return CNN_OK;
}

/* path <- "dir/name" or "dir/name.gz", whichever exists first. tried lists
 * the candidates for the message when neither does. */
static int find_split_file(char *path, size_t cap, const char *dir, const char *name) {
    const char *suffix[2] = {"", ".gz"};
    char tried[2][1024];
    for (int i = 0; i < 2; i++) {
        int k = snprintf(tried[i], sizeof tried[i], "%s/%s%s", dir, name, suffix[i]);
        if (k < 0 || (size_t)k >= sizeof tried[i] || (size_t)k >= cap) {
            return cnn__fail(CNN_EINVAL, "cnn_dataset_load_split: dir '%s' is too long", dir);
        }
        struct stat st;
        if (stat(tried[i], &st) == 0) {
            memcpy(path, tried[i], (size_t)k + 1);
            return CNN_OK;
        }
    }
    return cnn__fail(CNN_ENOTFOUND, "%s: not found: tried %s and %s (run 'cnn data fetch')", name,
                     tried[0], tried[1]);
}

int cnn_dataset_load_split(cnn_dataset *ds, const char *dir, const char *split) {
    if (!ds) return cnn__fail(CNN_EINVAL, "cnn_dataset_load_split: ds must not be NULL");
    memset(ds, 0, sizeof *ds);
    if (!dir || !split) return cnn__fail(CNN_EINVAL, "cnn_dataset_load_split: dir and split must not be NULL");
    if (strcmp(split, "train") != 0 && strcmp(split, "t10k") != 0) {
        return cnn__fail(CNN_EINVAL, "cnn_dataset_load_split: split: expected \"train\" or \"t10k\", found \"%s\"", split);
    }
    char name[64], images[1024], labels[1024];
    snprintf(name, sizeof name, "%s-images-idx4-ubyte", split); /* (n, c, h, w), if that is the name */
    if (find_split_file(images, sizeof images, dir, name) != CNN_OK) {
        snprintf(name, sizeof name, "%s-images-idx3-ubyte", split);
        CNN_TRY(find_split_file(images, sizeof images, dir, name));
    }
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", split);
    CNN_TRY(find_split_file(labels, sizeof labels, dir, name));
    return cnn_dataset_load(ds, images, labels);
}

void cnn_dataset_free(cnn_dataset *ds) {
    if (!ds) return;
    cnn_free(ds->images);
    cnn_free(ds->fimages);
    cnn_free(ds->labels);
    for (int64_t i = 0; ds->class_names && i < ds->num_classes; i++) cnn_free(ds->class_names[i]);
    cnn_free(ds->class_names);
    cnn_free(ds->source);
    memset(ds, 0, sizeof *ds);
}

int64_t cnn_dataset_channels(const cnn_dataset *ds) {
    return ds && ds->c > 0 ? ds->c : 1;
}

int cnn_dataset_batch(float *x, int32_t *y, const cnn_dataset *ds, const uint32_t *order,
                      int64_t start, int count) {
    if (!ds) return cnn__fail(CNN_EINVAL, "cnn_dataset_batch: ds must not be NULL");
    if (count < 0) return cnn__fail(CNN_EINVAL, "cnn_dataset_batch: count: expected >= 0, found %d", count);
    if (count > 0 && (!x || !y)) return cnn__fail(CNN_EINVAL, "cnn_dataset_batch: x and y must not be NULL");
    if (count > 0 && ((!ds->images && !ds->fimages) || !ds->labels)) {
        return cnn__fail(CNN_EINVAL, "cnn_dataset_batch: the dataset is empty");
    }
    if (start < 0 || start > ds->n || count > ds->n - start) {
        return cnn__fail(CNN_ERANGE, "cnn_dataset_batch: examples [%lld, %lld): expected within [0, %lld)",
                         (long long)start, (long long)start + count, (long long)ds->n);
    }
    for (int i = 0; order && i < count; i++)
        if (order[start + i] >= (uint64_t)ds->n)
            return cnn__fail(CNN_ERANGE, "cnn_dataset_batch: order[%lld]: expected < %lld, found %u",
                             (long long)(start + i), (long long)ds->n, order[start + i]);
    /* x / 255 in float32, as torchvision's ToTensor computes it (a division
     * rounds the same in every lane); the images split across threads */
    const int64_t pixels = cnn_dataset_channels(ds) * ds->h * ds->w;
#pragma omp parallel for schedule(static) if ((int64_t)count * pixels >= 65536)
    for (int i = 0; i < count; i++) {
        int64_t k = order ? (int64_t)order[start + i] : start + i;
        float *dst = x + (int64_t)i * pixels;         /* (c, h, w) */
        y[i] = ds->labels[k];
        if (ds->fimages) {
            memcpy(dst, ds->fimages + k * pixels, (size_t)pixels * sizeof *dst);
            continue;
        }
        const uint8_t *src = ds->images + k * pixels; /* (c, h, w) */
        int64_t p = 0;
#ifdef __AVX2__
        const __m256 d = _mm256_set1_ps(255.0f);
        for (; p + 8 <= pixels; p += 8) {
            __m128i b = _mm_loadl_epi64((const __m128i *)(src + p));
            _mm256_storeu_ps(dst + p, _mm256_div_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)), d));
        }
#endif
        for (; p < pixels; p++) dst[p] = (float)src[p] / 255.0f;
    }
    return CNN_OK;
}

/* ---- writing ------------------------------------------------------------ */

#define IDX_WRITE_MAX_DIMS 8

/* hdr (4 + 4 ndim bytes) <- the IDX header of a u8 array; ndim was checked. */
static size_t idx_header(unsigned char *hdr, int ndim, const int64_t *dims) {
    if (ndim < 0 || ndim > IDX_WRITE_MAX_DIMS) ndim = 0;
    hdr[0] = hdr[1] = 0;
    hdr[2] = IDX_DTYPE_U8;
    hdr[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++) {
        uint32_t d = (uint32_t)dims[i];
        unsigned char *b = hdr + 4 + 4 * i;
        b[0] = (unsigned char)(d >> 24), b[1] = (unsigned char)(d >> 16);
        b[2] = (unsigned char)(d >> 8), b[3] = (unsigned char)d;
    }
    return 4 + 4 * (size_t)ndim;
}

static int check_write_args(const char *fn, int ndim, const int64_t *dims, const uint8_t *data,
                            size_t *len) {
    if (ndim < 1 || ndim > IDX_WRITE_MAX_DIMS) {
        return cnn__fail(CNN_EINVAL, "%s: ndim: expected 1..%d, found %d", fn, IDX_WRITE_MAX_DIMS, ndim);
    }
    if (!dims || !data) return cnn__fail(CNN_EINVAL, "%s: dims and data must not be NULL", fn);
    *len = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 1 || dims[i] > (int64_t)UINT32_MAX) {
            return cnn__fail(CNN_EINVAL, "%s: dims[%d]: expected 1..%lld, found %lld", fn, i,
                             (long long)UINT32_MAX, (long long)dims[i]);
        }
        if (cnn__mul_overflow(*len, (size_t)dims[i], len)) {
            return cnn__fail(CNN_EINVAL, "%s: dims[%d]: the product of the sizes overflows", fn, i);
        }
    }
    return CNN_OK;
}

uint32_t cnn_idx_crc32(int ndim, const int64_t *dims, const uint8_t *data) {
    size_t len = 0;
    if (check_write_args("cnn_idx_crc32", ndim, dims, data, &len) != CNN_OK) return 0;
    unsigned char hdr[4 + 4 * IDX_WRITE_MAX_DIMS];
    size_t hlen = idx_header(hdr, ndim, dims);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, hdr, (uInt)hlen);
    for (size_t off = 0; off < len; off += IO_CHUNK) {
        size_t k = len - off < IO_CHUNK ? len - off : IO_CHUNK;
        crc = crc32(crc, data + off, (uInt)k);
    }
    return (uint32_t)crc;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int write_all_gz(gzFile gz, const void *buf, size_t n) {
    const unsigned char *p = buf;
    while (n > 0) {
        size_t want = n < IO_CHUNK ? n : IO_CHUNK;
        int k = gzwrite(gz, p, (unsigned)want);
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Write header (dtype, ndim, dims) and len data bytes atomically. */
static int idx_write(const char *path, int dtype, int ndim, const int64_t *dims, const uint8_t *data, size_t len) {
    unsigned char hdr[4 + 4 * IDX_WRITE_MAX_DIMS];
    size_t hlen = idx_header(hdr, ndim, dims);
    hdr[2] = (unsigned char)dtype;
    cnn__atomic_file af;
    CNN_TRY(cnn__atomic_open(&af, path));
    if (ends_with(path, ".gz")) {
        /* zlib writes to a duplicate of the temporary file's descriptor. */
        int fd2 = dup(af.fd);
        gzFile gz = fd2 >= 0 ? gzdopen(fd2, "wb") : NULL;
        if (!gz) {
            if (fd2 >= 0) close(fd2);
            af.err = errno ? errno : ENOMEM;
        } else {
            if (write_all_gz(gz, hdr, hlen) != 0 || write_all_gz(gz, data, len) != 0) af.err = errno ? errno : EIO;
            if (gzclose(gz) != Z_OK && !af.err) af.err = errno ? errno : EIO;
        }
    } else {
        fwrite(hdr, 1, hlen, af.f);
        fwrite(data, 1, len, af.f);
    }
    if (!af.err && fchmod(af.fd, 0644) != 0) af.err = errno;
    CNN_TRY(cnn__atomic_commit(&af));
    return CNN_OK;
}

int cnn_idx_write_u8(const char *path, int ndim, const int64_t *dims, const uint8_t *data) {
    if (!path || !*path) return cnn__fail(CNN_EINVAL, "cnn_idx_write_u8: path must not be empty");
    size_t len = 0;
    CNN_TRY(check_write_args("cnn_idx_write_u8", ndim, dims, data, &len));
    return idx_write(path, IDX_DTYPE_U8, ndim, dims, data, len);
}

int cnn_idx_write_labels(const char *path, int64_t n, const uint16_t *labels) {
    if (!labels || n < 1) return cnn__fail(CNN_EINVAL, "cnn_idx_write_labels: expected n >= 1 labels");
    int wide = 0;
    for (int64_t i = 0; i < n && !wide; i++) wide = labels[i] > 255;
    int64_t dims[2] = {n, 4};
    uint8_t *b = cnn_malloc((size_t)n * (wide ? 4 : 1));
    if (!b) return cnn__fail(CNN_ENOMEM, "%s: out of memory for %lld labels", path ? path : "", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        if (!wide) {
            b[i] = (uint8_t)labels[i];
        } else {
            b[4 * i] = b[4 * i + 1] = 0; /* int32, big-endian */
            b[4 * i + 2] = (uint8_t)(labels[i] >> 8), b[4 * i + 3] = (uint8_t)labels[i];
        }
    }
    if (!path || !*path) {
        cnn_free(b);
        return cnn__fail(CNN_EINVAL, "cnn_idx_write_labels: path must not be empty");
    }
    int rc = wide ? idx_write(path, IDX_DTYPE_I32, 1, dims, b, (size_t)n * 4) : cnn_idx_write_u8(path, 1, dims, b);
    cnn_free(b);
    return rc;
}
