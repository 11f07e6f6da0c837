/* fuzz_idx.c — libFuzzer target for the IDX reader (src/data/idx.c).
 *
 * Input: one mode byte, then the file body. Mode bit 0 gzips the body before
 * it is written (so the header checks are reached behind the gzip layer as
 * well; a body that already starts with 1f 8b exercises corrupt gzip
 * streams). Mode bits 1-2 pick the role of the file:
 *   0, 3  images file: cnn_idx_read_images
 *   1     labels file: cnn_dataset_load(valid 2-image file, input)
 *   2     images file: cnn_dataset_load(input, valid 2-label file), then
 *         cnn_dataset_batch over the whole set
 * On success the returned sizes must agree with the buffers (every byte is
 * read, so AddressSanitizer sees a short buffer: bytes, or float32 pixels for
 * dtype 0x0D, of n x c x h x w) and labels must be < CNN_MAX_CLASSES.
 */
#include "fuzz_util.h"

#include <zlib.h>

static const char *valid_images, *valid_labels;

/* A 2 x 3 x 3 images file and a 2-label file, written once. */
static void write_valid_pair(void) {
    static const uint8_t images[4 + 12 + 18] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3,
                                               0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 255};
    static const uint8_t labels[4 + 4 + 2] = {0, 0, 8, 1, 0, 0, 0, 2, 9, 0};
    valid_images = fuzz_temp_path(1, "-images");
    valid_labels = fuzz_temp_path(2, "-labels");
    fuzz_write_file(valid_images, images, sizeof images);
    fuzz_write_file(valid_labels, labels, sizeof labels);
}

/* gzip-compress src into a new buffer (*out, *out_len); 0 on success. */
static int gzip_bytes(uint8_t **out, size_t *out_len, const uint8_t *src, size_t n) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    uLong cap = deflateBound(&zs, (uLong)n);
    uint8_t *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)src;
    zs.avail_in = (uInt)n;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

static volatile unsigned fuzz_sink;

static void touch(const uint8_t *p, int64_t n) {
    unsigned s = 0;
    for (int64_t i = 0; i < n; i++) s += p[i];
    fuzz_sink = s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    if (!valid_images) write_valid_pair();
    if (size < 1 || size > (1u << 20)) return 0;
    const int gz = data[0] & 1, role = (data[0] >> 1) & 3;
    const char *path = fuzz_temp_path(0, gz ? ".gz" : "");
    if (gz) {
        uint8_t *z = NULL;
        size_t zn = 0;
        if (gzip_bytes(&z, &zn, data + 1, size - 1) != 0) return 0;
        fuzz_write_file(path, z, zn);
        free(z);
    } else {
        fuzz_write_file(path, data + 1, size - 1);
    }

    cnn_clear_error();
    if (role == 1 || role == 2) {
        cnn_dataset ds;
        int rc = role == 1 ? cnn_dataset_load(&ds, valid_images, path) : cnn_dataset_load(&ds, path, valid_labels);
        fuzz_check_message(rc, "cnn_dataset_load");
        if (rc == CNN_OK) {
            const int64_t px = ds.n * cnn_dataset_channels(&ds) * ds.h * ds.w;
            if (ds.n != 2 || ds.h < 1 || ds.w < 1 || ds.c < 1 || !ds.images == !ds.fimages) abort();
            if (ds.images) touch(ds.images, px);
            else touch((const uint8_t *)ds.fimages, px * (int64_t)sizeof(float));
            for (int64_t i = 0; i < ds.n; i++)
                if (ds.labels[i] >= CNN_MAX_CLASSES) abort();
            float *x = malloc((size_t)px * sizeof *x);
            int32_t y[2];
            if (x && cnn_dataset_batch(x, y, &ds, NULL, 0, (int)ds.n) != CNN_OK) abort();
            free(x);
        } else if (ds.images || ds.labels || ds.n) {
            abort(); /* a failed load must leave the dataset empty */
        }
        cnn_dataset_free(&ds);
    } else {
        uint8_t *px = NULL;
        int64_t n = -1, h = -1, w = -1;
        int rc = cnn_idx_read_images(&px, &n, &h, &w, path);
        fuzz_check_message(rc, "cnn_idx_read_images");
        if (rc == CNN_OK) {
            if (n < 1 || h < 1 || w < 1 || !px) abort();
            touch(px, n * h * w);
        } else if (px) {
            abort();
        }
        cnn_free(px);
    }
    return 0;
}
