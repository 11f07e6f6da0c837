/* test_idx.c — IDX reading and writing, datasets and batches.
 *
 * Valid files are written by cnn_idx_write_u8 (plain and gzip) and read back;
 * broken files are written byte by byte into a temporary directory and each
 * must fail with the right status and a message that names the file and the
 * field. A file that claims far more data than it holds must fail before any
 * large allocation (checked with a counting allocator), and so must a gzip
 * file that really inflates to gigabytes when its labels file does not
 * match it. */
#include "test_util.h"
#include "data/data.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[64];

static const char *tmp_path(const char *name) {
    static char buf[8][256];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static void write_gz(const char *path, const void *data, size_t n) {
    gzFile gz = gzopen(path, "wb");
    if (!gz || (n && gzwrite(gz, data, (unsigned)n) != (int)n) || gzclose(gz) != Z_OK) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len + 1);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    return buf;
}

static size_t put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
    return 4;
}

/* An images file: magic, n, h, w, then n*h*w bytes of pixels (i * 37 + 11). */
static size_t make_images(unsigned char *buf, uint32_t magic, uint32_t n, uint32_t h, uint32_t w) {
    size_t k = 0;
    k += put_be32(buf + k, magic);
    k += put_be32(buf + k, n);
    k += put_be32(buf + k, h);
    k += put_be32(buf + k, w);
    for (uint32_t i = 0; i < n * h * w; i++) buf[k++] = (unsigned char)(i * 37 + 11);
    return k;
}

static size_t make_labels(unsigned char *buf, uint32_t n) {
    size_t k = 0;
    k += put_be32(buf + k, 0x801);
    k += put_be32(buf + k, n);
    for (uint32_t i = 0; i < n; i++) buf[k++] = (unsigned char)(i % 10);
    return k;
}

/* The load must fail with want; the message must name the file and contain word. */
#define CHECK_LOAD_FAILS(img_path, lab_path, want, named, word)                               \
    do {                                                                                      \
        cnn_dataset test__ds;                                                                 \
        CHECK_STATUS(cnn_dataset_load(&test__ds, (img_path), (lab_path)), (want));            \
        CHECK(test__ds.images == NULL && test__ds.labels == NULL && test__ds.n == 0);         \
        if (!strstr(cnn_last_error(), (named)) || !strstr(cnn_last_error(), (word))) {        \
            CHECK(!"message names the file and the field");                                   \
            fprintf(stderr, "  message \"%s\" should contain \"%s\" and \"%s\"\n",              \
                    cnn_last_error(), (named), (word));                                       \
        }                                                                                     \
    } while (0)

/* ---- a counting allocator: the largest single request; with refuse_above
 * set, larger requests fail as they would on a small machine ---- */
static size_t largest_request, refuse_above;
static int fail_allocations;
static int refused(size_t n) { return fail_allocations || (refuse_above && n > refuse_above); }
static void *count_malloc(size_t n) {
    if (n > largest_request) largest_request = n;
    return refused(n) ? NULL : malloc(n);
}
static void *count_realloc(void *p, size_t n) {
    if (n > largest_request) largest_request = n;
    return refused(n) ? NULL : realloc(p, n);
}
static void *count_calloc(size_t c, size_t n) {
    if (c * n > largest_request) largest_request = c * n;
    return refused(c * n) ? NULL : calloc(c, n);
}

static int count_tmp_leftovers(void) {
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += strstr(e->d_name, ".tmp-") != NULL;
    if (d) closedir(d);
    return n;
}

static void test_roundtrip(void) {
    /* 5 images of 3x4, labels 0..4; written plain and gzip. */
    enum { N = 5, H = 3, W = 4 };
    uint8_t pixels[N * H * W], labels[N] = {3, 0, 9, 1, 7};
    for (int i = 0; i < N * H * W; i++) pixels[i] = (uint8_t)(i * 53 + 2);
    int64_t idims[3] = {N, H, W}, ldims[1] = {N};
    CHECK_OK(cnn_idx_write_u8(tmp_path("a-images"), 3, idims, pixels));
    CHECK_OK(cnn_idx_write_u8(tmp_path("a-labels"), 1, ldims, labels));
    CHECK_OK(cnn_idx_write_u8(tmp_path("a-images.gz"), 3, idims, pixels));
    CHECK_OK(cnn_idx_write_u8(tmp_path("a-labels.gz"), 1, ldims, labels));
    CHECK_INT_EQ(count_tmp_leftovers(), 0);

    /* Bytes on disk: plain IDX header; gzip magic for .gz. */
    size_t n;
    unsigned char *raw = read_file(tmp_path("a-images"), &n);
    CHECK_INT_EQ(n, 16 + N * H * W);
    CHECK(raw && raw[0] == 0 && raw[1] == 0 && raw[2] == 8 && raw[3] == 3 && raw[7] == N &&
          raw[11] == H && raw[15] == W && memcmp(raw + 16, pixels, sizeof pixels) == 0);
    free(raw);
    raw = read_file(tmp_path("a-images.gz"), &n);
    CHECK(raw && n > 2 && raw[0] == 0x1f && raw[1] == 0x8b);
    free(raw);
    struct stat st;
    CHECK(stat(tmp_path("a-images.gz"), &st) == 0 && (st.st_mode & 0777) == 0644);

    /* The checksum is CRC-32 of header + data. */
    unsigned char file[16 + N * H * W];
    memcpy(file, "\0\0\x08\x03\0\0\0\x05\0\0\0\x03\0\0\0\x04", 16);
    memcpy(file + 16, pixels, sizeof pixels);
    CHECK_INT_EQ(cnn_idx_crc32(3, idims, pixels), crc32(0, file, sizeof file));

    const char *combos[4][2] = {{"a-images", "a-labels"}, {"a-images.gz", "a-labels.gz"},
                                {"a-images", "a-labels.gz"}, {"a-images.gz", "a-labels"}};
    for (int c = 0; c < 4; c++) {
        cnn_dataset ds;
        CHECK_OK(cnn_dataset_load(&ds, tmp_path(combos[c][0]), tmp_path(combos[c][1])));
        CHECK_INT_EQ(ds.n, N);
        CHECK_INT_EQ(ds.h, H);
        CHECK_INT_EQ(ds.w, W);
        CHECK(ds.images && memcmp(ds.images, pixels, sizeof pixels) == 0);
        for (int k = 0; k < N; k++) CHECK(ds.labels && ds.labels[k] == labels[k]);
        CHECK_INT_EQ(cnn_dataset_channels(&ds), 1);
        CHECK(ds.fimages == NULL);
        cnn_dataset_free(&ds);
        CHECK(ds.images == NULL && ds.n == 0);
    }
    cnn_dataset_free(NULL);

    /* cnn_idx_read_images alone. */
    uint8_t *px = NULL;
    int64_t rn, rh, rw;
    CHECK_OK(cnn_idx_read_images(&px, &rn, &rh, &rw, tmp_path("a-images.gz")));
    CHECK(rn == N && rh == H && rw == W && px && memcmp(px, pixels, sizeof pixels) == 0);
    cnn_free(px);
    CHECK_STATUS(cnn_idx_read_images(&px, &rn, &rh, &rw, tmp_path("a-labels")), CNN_EFORMAT);
    CHECK(px == NULL);

    /* Batches: pixels / 255 in float32 (as torch computes x / 255), labels as int32. */
    cnn_dataset ds;
    CHECK_OK(cnn_dataset_load(&ds, tmp_path("a-images.gz"), tmp_path("a-labels")));
    float x[3 * H * W];
    int32_t y[3];
    CHECK_OK(cnn_dataset_batch(x, y, &ds, NULL, 1, 3));
    int exact = 1;
    for (int i = 0; i < 3 * H * W; i++) exact &= x[i] == (float)pixels[H * W + i] / 255.0f;
    CHECK(exact);
    CHECK(x[0] == (float)pixels[H * W] / 255.0f);
    CHECK_INT_EQ(y[0], 0);
    CHECK_INT_EQ(y[2], 1);
    uint8_t white = 255, black = 0;
    CHECK(((float)white / 255.0f) == 1.0f && ((float)black / 255.0f) == 0.0f);

    uint32_t order[N] = {4, 2, 0, 1, 3};
    CHECK_OK(cnn_dataset_batch(x, y, &ds, order, 1, 2)); /* examples 2 and 0 */
    CHECK(x[0] == (float)pixels[2 * H * W] / 255.0f && x[H * W] == (float)pixels[0] / 255.0f);
    CHECK_INT_EQ(y[0], 9);
    CHECK_INT_EQ(y[1], 3);
    CHECK_OK(cnn_dataset_batch(x, y, &ds, order, 5, 0));
    CHECK_STATUS(cnn_dataset_batch(x, y, &ds, NULL, 3, 3), CNN_ERANGE);
    CHECK_STATUS(cnn_dataset_batch(x, y, &ds, NULL, -1, 1), CNN_ERANGE);
    CHECK_STATUS(cnn_dataset_batch(x, y, &ds, NULL, 0, -1), CNN_EINVAL);
    uint32_t bad_order[N] = {0, 1, 5, 2, 3};
    CHECK_STATUS(cnn_dataset_batch(x, y, &ds, bad_order, 1, 2), CNN_ERANGE);
    CHECK(strstr(cnn_last_error(), "order[2]") != NULL);
    CHECK_STATUS(cnn_dataset_batch(NULL, y, &ds, NULL, 0, 1), CNN_EINVAL);
    cnn_dataset_free(&ds);

    /* Writing: bad arguments, and failures leave no file behind. */
    CHECK_STATUS(cnn_idx_write_u8(tmp_path("w"), 0, idims, pixels), CNN_EINVAL);
    int64_t zero[3] = {N, 0, W};
    CHECK_STATUS(cnn_idx_write_u8(tmp_path("w"), 3, zero, pixels), CNN_EINVAL);
    CHECK_STATUS(cnn_idx_write_u8(tmp_path("w"), 3, idims, NULL), CNN_EINVAL);
    CHECK(stat(tmp_path("w"), &st) != 0);
    CHECK_STATUS(cnn_idx_write_u8(tmp_path("no-such-dir/x.gz"), 3, idims, pixels), CNN_EIO);
    CHECK(strstr(cnn_last_error(), "no-such-dir/x.gz") != NULL);
    CHECK(mkdir(tmp_path("a-dir"), 0755) == 0);
    CHECK_STATUS(cnn_idx_write_u8(tmp_path("a-dir"), 3, idims, pixels), CNN_EIO); /* rename fails */
    CHECK_INT_EQ(count_tmp_leftovers(), 0);
    /* Overwriting an existing file replaces it. */
    uint8_t labels2[N] = {1, 1, 1, 1, 1};
    CHECK_OK(cnn_idx_write_u8(tmp_path("a-labels.gz"), 1, ldims, labels2));
    CHECK_OK(cnn_dataset_load(&ds, tmp_path("a-images"), tmp_path("a-labels.gz")));
    CHECK(ds.labels && ds.labels[0] == 1 && ds.labels[2] == 1);
    cnn_dataset_free(&ds);
}

static void test_split(void) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/split", tmpdir);
    CHECK(mkdir(dir, 0755) == 0);
    uint8_t pixels[2 * 2 * 2] = {0, 1, 2, 3, 4, 5, 6, 255}, labels[2] = {8, 9};
    int64_t idims[3] = {2, 2, 2}, ldims[1] = {2};
    char path[256];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    CHECK_OK(cnn_idx_write_u8(path, 3, idims, pixels));
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    CHECK_OK(cnn_idx_write_u8(path, 1, ldims, labels));
    cnn_dataset ds;
    CHECK_OK(cnn_dataset_load_split(&ds, dir, "train"));
    CHECK(ds.n == 2 && ds.labels && ds.labels[1] == 9 && ds.images[7] == 255);
    cnn_dataset_free(&ds);

    CHECK_STATUS(cnn_dataset_load_split(&ds, dir, "t10k"), CNN_ENOTFOUND);
    char tried[256];
    snprintf(tried, sizeof tried, "%s/t10k-images-idx3-ubyte.gz", dir);
    CHECK(strstr(cnn_last_error(), tried) != NULL);
    snprintf(tried, sizeof tried, "%s/t10k-images-idx3-ubyte and", dir);
    CHECK(strstr(cnn_last_error(), tried) != NULL);
    CHECK_STATUS(cnn_dataset_load_split(&ds, dir, "test"), CNN_EINVAL);
    CHECK_STATUS(cnn_dataset_load_split(&ds, NULL, "train"), CNN_EINVAL);
}

static void test_bad_files(void) {
    static unsigned char buf[1 << 16];
    char labels[256], images[256]; /* tmp_path reuses its buffers */
    snprintf(labels, sizeof labels, "%s", tmp_path("good-labels"));
    size_t ln = make_labels(buf, 4);
    write_file(labels, buf, ln);
    snprintf(images, sizeof images, "%s", tmp_path("good-images"));
    size_t n = make_images(buf, 0x803, 4, 3, 2);
    write_file(images, buf, n);
    cnn_dataset ds;
    CHECK_OK(cnn_dataset_load(&ds, images, labels));
    cnn_dataset_free(&ds);
    unsigned char good[64];
    memcpy(good, buf, n); /* 16 + 24 bytes */

    /* Truncated at every header field and in the data. */
    struct { size_t len; const char *field; } cuts[] = {
        {0, "magic"}, {2, "magic"}, {4, "dims[0]"}, {6, "dims[0]"}, {8, "dims[1]"},
        {11, "dims[1]"}, {12, "dims[2]"}, {15, "dims[2]"}, {16, "data"}, {39, "truncated"},
    };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        const char *p = tmp_path("cut");
        write_file(p, good, cuts[i].len);
        CHECK_LOAD_FAILS(p, labels, CNN_EFORMAT, p, cuts[i].field);
        const char *pz = tmp_path("cut.gz");
        write_gz(pz, good, cuts[i].len);
        CHECK_LOAD_FAILS(pz, labels, CNN_EFORMAT, pz, cuts[i].field);
    }

    /* Trailing bytes, plain and gzip. */
    unsigned char longer[64];
    memcpy(longer, good, n);
    longer[n] = 7;
    const char *p = tmp_path("trailing");
    write_file(p, longer, n + 1);
    CHECK_LOAD_FAILS(p, labels, CNN_EFORMAT, p, "trailing");
    p = tmp_path("trailing.gz");
    write_gz(p, longer, n + 1);
    CHECK_LOAD_FAILS(p, labels, CNN_EFORMAT, p, "trailing");

    /* Header fields. */
    unsigned char bad[64];
    struct { size_t at; unsigned char value; const char *field; } edits[] = {
        {0, 0x12, "magic"},     {1, 0x01, "magic"},     {2, 0x09, "dtype byte"}, /* signed byte */
        {3, 0x02, "ndim byte"}, {3, 0x01, "ndim byte"}, {7, 0x00, "dims[0]"},    /* n = 0 */
        {11, 0x00, "dims[1]"},  {15, 0x00, "dims[2]"},  {8, 0x01, "dims[1]"},    /* h = 2^24 + 3 */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(bad, good, n);
        bad[edits[i].at] = edits[i].value;
        p = tmp_path("edit");
        write_file(p, bad, n);
        CHECK_LOAD_FAILS(p, labels, CNN_EFORMAT, p, edits[i].field);
    }
    /* A labels file given as images, and an images file given as labels. */
    CHECK_LOAD_FAILS(labels, labels, CNN_EFORMAT, labels, "ndim byte");
    CHECK_LOAD_FAILS(images, images, CNN_EFORMAT, images, "ndim byte");

    /* Huge claims in tiny files: fail at once, no large allocation. */
    unsigned char hdr[16];
    cnn_set_allocator(count_malloc, count_realloc, count_calloc, free);
    struct { uint32_t n, h, w; const char *field; } claims[] = {
        {4000000000u, 28, 28, "dims[0]"},  /* 4e9 images: above the count limit */
        {1000000, 28, 28, "data"},         /* 784 MB of pixels in a 1 KB file */
        {2000000000u, 65536, 65536, "dims[1]"}, /* product overflows the size limit */
        {1, 65537, 1, "dims[1]"},          /* side above the limit */
    };
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        size_t k = 0;
        k += put_be32(hdr + k, 0x803);
        k += put_be32(hdr + k, claims[i].n);
        k += put_be32(hdr + k, claims[i].h);
        k += put_be32(hdr + k, claims[i].w);
        memset(buf, 0, 1024);
        memcpy(buf, hdr, 16);
        p = tmp_path("huge");
        write_file(p, buf, 1024);
        largest_request = 0;
        CHECK_LOAD_FAILS(p, labels, CNN_EFORMAT, p, claims[i].field);
        CHECK(largest_request < 4096);
        p = tmp_path("huge.gz");
        write_gz(p, buf, 1024);
        largest_request = 0;
        CHECK_LOAD_FAILS(p, labels, CNN_EFORMAT, p, claims[i].field);
        CHECK(largest_request < 4096);
    }
    /* Out of memory is reported, not crashed on. */
    fail_allocations = 1;
    CHECK_STATUS(cnn_dataset_load(&ds, images, labels), CNN_ENOMEM);
    fail_allocations = 0;
    cnn_set_allocator(NULL, NULL, NULL, NULL);

    /* Labels: count mismatch, a label of 10. */
    const char *l3 = tmp_path("labels3");
    ln = make_labels(buf, 3);
    write_file(l3, buf, ln);
    CHECK_LOAD_FAILS(images, l3, CNN_ESHAPE, l3, "dims[0]");
    CHECK(strstr(cnn_last_error(), "expected 4") != NULL);
    /* Any label up to 65534 is read (the model's outputs are checked later):
     * u8 labels of 200, int16 labels, int32 labels; 65535 and -1 are refused. */
    ln = make_labels(buf, 4);
    buf[8 + 3] = 200;
    const char *l10 = tmp_path("labels200.gz");
    write_gz(l10, buf, ln);
    CHECK_OK(cnn_dataset_load(&ds, images, l10));
    CHECK_INT_EQ(ds.labels[3], 200);
    cnn_dataset_free(&ds);
    {
        unsigned char lb[8 + 4 * 4];
        size_t k = put_be32(lb, 0x0c01); /* int32 labels */
        k += put_be32(lb + k, 4);
        uint32_t vals[4] = {0, 99, 65534, 7};
        for (int i = 0; i < 4; i++) k += put_be32(lb + k, vals[i]);
        const char *l32 = tmp_path("labels-i32");
        write_file(l32, lb, k);
        CHECK_OK(cnn_dataset_load(&ds, images, l32));
        CHECK_INT_EQ(ds.labels[1], 99);
        CHECK_INT_EQ(ds.labels[2], 65534);
        cnn_dataset_free(&ds);
        put_be32(lb + 8 + 2 * 4, 65535);
        write_file(l32, lb, k);
        CHECK_LOAD_FAILS(images, l32, CNN_ERANGE, l32, "label #2");
        CHECK(strstr(cnn_last_error(), "found 65535") != NULL);
        put_be32(lb + 8 + 3 * 4, 0xffffffffu);
        put_be32(lb + 8 + 2 * 4, 1);
        write_file(l32, lb, k);
        CHECK_LOAD_FAILS(images, l32, CNN_ERANGE, l32, "label #3");
        CHECK(strstr(cnn_last_error(), "found -1") != NULL);
        /* int16 labels */
        unsigned char l16b[8 + 4 * 2] = {0, 0, 0x0b, 1, 0, 0, 0, 4, 0, 1, 0x01, 0x2c, 0, 3, 0, 9};
        const char *l16 = tmp_path("labels-i16");
        write_file(l16, l16b, sizeof l16b);
        CHECK_OK(cnn_dataset_load(&ds, images, l16));
        CHECK_INT_EQ(ds.labels[1], 300);
        cnn_dataset_free(&ds);
        /* round trip through cnn_idx_write_labels (int32 when a label is > 255) */
        uint16_t wl[4] = {1, 2, 1000, 3};
        CHECK_OK(cnn_idx_write_labels(l16, 4, wl));
        CHECK_OK(cnn_dataset_load(&ds, images, l16));
        CHECK_INT_EQ(ds.labels[2], 1000);
        cnn_dataset_free(&ds);
    }

    /* 4-D images (n, c, h, w) and float32 images (big-endian). */
    {
        unsigned char ib[20 + 4 * 2 * 1 * 2 * 4];
        size_t k = put_be32(ib, 0x0d04); /* float32, 4 dims */
        k += put_be32(ib + k, 4);
        k += put_be32(ib + k, 2);
        k += put_be32(ib + k, 1);
        k += put_be32(ib + k, 2);
        for (int i = 0; i < 16; i++) {
            float v = 0.25f * (float)i - 1.0f;
            uint32_t u;
            memcpy(&u, &v, 4);
            k += put_be32(ib + k, u);
        }
        const char *f4 = tmp_path("images-f32-4d.gz");
        write_gz(f4, ib, k);
        CHECK_OK(cnn_dataset_load(&ds, f4, labels));
        CHECK_INT_EQ(ds.n, 4);
        CHECK_INT_EQ(ds.c, 2);
        CHECK_INT_EQ(ds.h, 1);
        CHECK_INT_EQ(ds.w, 2);
        CHECK(ds.images == NULL && ds.fimages != NULL);
        float x[16];
        int32_t y[4];
        CHECK_OK(cnn_dataset_batch(x, y, &ds, NULL, 0, 4));
        for (int i = 0; i < 16; i++) CHECK(x[i] == 0.25f * (float)i - 1.0f); /* as they are, no / 255 */
        cnn_dataset_free(&ds);
        /* a NaN pixel is refused */
        uint32_t nan = 0x7fc00000u;
        put_be32(ib + 20 + 4 * 5, nan);
        write_file(f4, ib, k);
        CHECK_LOAD_FAILS(f4, labels, CNN_ERANGE, f4, "pixel #5");
        /* u8, 4-D: pixels / 255 in (n, c, h, w) order */
        unsigned char ub[20 + 16];
        k = put_be32(ub, 0x0804);
        k += put_be32(ub + k, 4);
        k += put_be32(ub + k, 2);
        k += put_be32(ub + k, 2);
        k += put_be32(ub + k, 1);
        for (int i = 0; i < 16; i++) ub[k++] = (unsigned char)(i * 17);
        const char *u4 = tmp_path("images-u8-4d");
        write_file(u4, ub, k);
        CHECK_OK(cnn_dataset_load(&ds, u4, labels));
        CHECK_INT_EQ(cnn_dataset_channels(&ds), 2);
        CHECK_OK(cnn_dataset_batch(x, y, &ds, NULL, 0, 4));
        for (int i = 0; i < 16; i++) CHECK(x[i] == (float)(i * 17) / 255.0f);
        cnn_dataset_free(&ds);
        /* cnn_idx_read_images (3-D bytes only) names what it found */
        uint8_t *px = NULL;
        int64_t rn, rh, rw;
        CHECK_STATUS(cnn_idx_read_images(&px, &rn, &rh, &rw, u4), CNN_EFORMAT);
        CHECK(strstr(cnn_last_error(), "4 dimensions") != NULL);
    }

    /* Corrupt gzip: flipped bytes inside the deflate stream, a cut stream,
     * and a gzip header with nothing valid after it. The labels match the
     * 40 images, so the pair passes and the data is read. */
    static unsigned char big[16 + 40 * 28 * 28];
    size_t bn = make_images(big, 0x803, 40, 28, 28);
    const char *gz = tmp_path("big.gz");
    write_gz(gz, big, bn);
    char labels40[256];
    snprintf(labels40, sizeof labels40, "%s", tmp_path("labels40"));
    ln = make_labels(buf, 40);
    write_file(labels40, buf, ln);
    size_t zn;
    unsigned char *z = read_file(gz, &zn);
    CHECK(z != NULL && zn > 100);
    if (z) {
        unsigned char *flipped = malloc(zn);
        memcpy(flipped, z, zn);
        for (size_t i = zn / 3; i < zn / 3 + 16; i++) flipped[i] ^= 0x5a;
        p = tmp_path("flipped.gz");
        write_file(p, flipped, zn);
        CHECK_LOAD_FAILS(p, labels40, CNN_EFORMAT, p, "gzip");
        p = tmp_path("cut-stream.gz");
        write_file(p, z, zn / 2);
        CHECK_LOAD_FAILS(p, labels40, CNN_EFORMAT, p, "gzip");
        memcpy(flipped, z, zn);
        flipped[zn - 5] ^= 0xff; /* the CRC of the uncompressed data */
        p = tmp_path("badcrc.gz");
        write_file(p, flipped, zn);
        CHECK_LOAD_FAILS(p, labels40, CNN_EFORMAT, p, "gzip");
        free(flipped);
        free(z);
    }
    unsigned char junk[32] = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff};
    p = tmp_path("junk.gz");
    write_file(p, junk, sizeof junk);
    CHECK_LOAD_FAILS(p, labels, CNN_EFORMAT, p, "gzip");

    /* Missing file, a directory, NULL arguments. */
    p = tmp_path("missing");
    CHECK_LOAD_FAILS(p, labels, CNN_ENOTFOUND, p, "cannot open");
    CHECK_LOAD_FAILS(images, p, CNN_ENOTFOUND, p, "cannot open");
    CHECK_LOAD_FAILS(tmpdir, labels, CNN_EIO, tmpdir, "regular file");
    CHECK_STATUS(cnn_dataset_load(NULL, images, labels), CNN_EINVAL);
    CHECK_STATUS(cnn_dataset_load(&ds, NULL, labels), CNN_EINVAL);
}

/* One gzip member (a complete gzip stream) holding n bytes of data; gzip
 * readers, zlib's gzread included, read concatenated members as one file.
 * *out is malloc'ed. */
static unsigned char *gzip_member(const void *data, size_t n, size_t *out_len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_RLE) != Z_OK) return NULL;
    size_t cap = deflateBound(&z, (uLong)n);
    unsigned char *out = malloc(cap);
    z.next_in = (Bytef *)data, z.avail_in = (uInt)n;
    z.next_out = out, z.avail_out = (uInt)cap;
    int zrc = out ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    if (zrc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A gzip images file whose header claims 5,000,000 images of 28x28 and
 * whose body really inflates to that much (3.9 GB of zeros, in 3.8 MB: the
 * header in one gzip member, then one member of 16 MiB of zeros written 234
 * times), so it passes the length check a gzip file gets; with a labels file
 * of 10 labels, loading must fail on the counts, from the two headers, in
 * well under a second and without asking for the 3.9 GB. */
static void test_gzip_bomb(void) {
    const uint32_t n = 5000000, side = 28;
    const size_t zeros = (size_t)1 << 24, members = 234; /* 234 * 16 MiB >= 5e6 * 784 */
    unsigned char hdr[16], lab[8 + 10];
    size_t k = 0;
    k += put_be32(hdr + k, 0x803);
    k += put_be32(hdr + k, n);
    k += put_be32(hdr + k, side);
    k += put_be32(hdr + k, side);
    size_t hz_len = 0, zz_len = 0;
    unsigned char *hz = gzip_member(hdr, sizeof hdr, &hz_len);
    unsigned char *zero = calloc(zeros, 1);
    unsigned char *zz = zero ? gzip_member(zero, zeros, &zz_len) : NULL;
    free(zero);
    CHECK(hz != NULL && zz != NULL);
    if (!hz || !zz) {
        free(hz), free(zz);
        return;
    }
    const char *images = tmp_path("bomb-images.gz");
    FILE *f = fopen(images, "wb");
    int ok = f && fwrite(hz, 1, hz_len, f) == hz_len;
    for (size_t i = 0; ok && i < members; i++) ok = fwrite(zz, 1, zz_len, f) == zz_len;
    ok = f && fclose(f) == 0 && ok;
    free(hz), free(zz);
    CHECK(ok);
    if (!ok) return;
    char labels[256];
    snprintf(labels, sizeof labels, "%s", tmp_path("bomb-labels"));
    write_file(labels, lab, make_labels(lab, 10));

    cnn_set_allocator(count_malloc, count_realloc, count_calloc, free);
    largest_request = 0, refuse_above = (size_t)64 << 20;
    double t0 = now_s();
    CHECK_LOAD_FAILS(images, labels, CNN_ESHAPE, labels, "dims[0]");
    double secs = now_s() - t0;
    refuse_above = 0;
    cnn_set_allocator(NULL, NULL, NULL, NULL);
    const char *msg = cnn_last_error();
    if (!strstr(msg, "expected 5000000 labels") || !strstr(msg, "found 10") || !strstr(msg, images)) {
        CHECK(!"the message names both files and both counts");
        fprintf(stderr, "  expected: %s: dims[0]: expected 5000000 labels (one per image in %s), found 10\n"
                        "  got:      %s\n", labels, images, msg);
    }
    if (largest_request > ((size_t)64 << 20)) {
        CHECK(largest_request <= ((size_t)64 << 20));
        fprintf(stderr, "  expected no allocation above 64 MiB, got a request for %zu bytes\n", largest_request);
    }
    if (!(secs < 0.5)) {
        CHECK(secs < 0.5);
        fprintf(stderr, "  expected the mismatch within 0.5 s, took %.2f s\n", secs);
    }
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cnn-test-idx-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_roundtrip();
    test_split();
    test_bad_files();
    test_gzip_bomb();
    int rc = test_report();
    if (rc == 0) {
        /* Clean up only on success, so a failure can be inspected. */
        DIR *d = opendir(tmpdir);
        struct dirent *e;
        char path[512];
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
            if (unlink(path) != 0) {
                /* a subdirectory: remove its files, then it */
                DIR *s = opendir(path);
                struct dirent *f;
                char sub[768];
                while (s && (f = readdir(s)) != NULL) {
                    if (f->d_name[0] == '.') continue;
                    snprintf(sub, sizeof sub, "%s/%s", path, f->d_name);
                    unlink(sub);
                }
                if (s) closedir(s);
                rmdir(path);
            }
        }
        if (d) closedir(d);
        rmdir(tmpdir);
    }
    return rc;
}
