/* test_png.c — cnn_png_read_gray on PNGs written here with libpng: every
 * color type and bit depth, interlacing, and broken files.
 *
 * Expected gray values follow torchvision's GRAY mode (libpng's
 * png_set_rgb_to_gray(png, 1, 0.2989, 0.587)): in 15-bit fixed point
 *   gray8 = (9794 R + 19234 G + 3740 B) >> 15, and R itself where R == G == B;
 * alpha is dropped; palettes are expanded first. Results are gray / 255
 * (16-bit: gray / 65535). */
#include "test_util.h"

#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static char tmpdir[64];

static const char *tmp_path(const char *name) {
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

typedef struct {
    int w, h, color, depth, interlace;
    const png_color *palette;
    int n_palette;
    const png_byte *trns;
    int n_trns;
} png_spec;

/* Write rows (h rows of row_bytes each, PNG's packed layout). Returns 0 on success. */
static int write_png(const char *path, const png_spec *s, const unsigned char *data, size_t row_bytes) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *rows = malloc(sizeof *rows * (size_t)s->h);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        free(rows);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->depth, s->color,
                 s->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (s->palette) png_set_PLTE(png, info, s->palette, s->n_palette);
    if (s->trns) png_set_tRNS(png, info, s->trns, s->n_trns, NULL);
    for (int y = 0; y < s->h; y++) rows[y] = (png_bytep)(data + (size_t)y * row_bytes);
    png_set_rows(png, info, rows);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return fclose(f);
}

static float gray8(int r, int g, int b) {
    if (r == g && r == b) return (float)r / 255.0f;
    return (float)((9794 * r + 19234 * g + 3740 * b) >> 15) / 255.0f;
}

/* A few (r, g, b) triples: grays, primaries, mixtures, extremes. */
static const int rgb[][3] = {
    {0, 100, 64}, /* 66 with these weights, 65 with 0.299 / 0.587 / 0.114 */
    {0, 0, 0},     {255, 255, 255}, {128, 128, 128}, {255, 0, 0},   {0, 255, 0},   {0, 0, 255},
    {12, 200, 99}, {250, 251, 252}, {1, 0, 0},       {77, 77, 78},  {200, 10, 30}, {33, 66, 99},
};
enum { NRGB = sizeof rgb / sizeof rgb[0], W = 4, H = 3 };

static void check_read(const char *what, const char *path, const float *want, int h, int w) {
    float got[64];
    int rc = cnn_png_read_gray(got, path, h, w);
    test__checked++;
    if (rc != CNN_OK) {
        test__failed++;
        fprintf(stderr, "%s: %s: expected CNN_OK, got %s: %s\n", what, path, cnn_status_name(rc), cnn_last_error());
        return;
    }
    CHECK_CLOSE(what, got, want, (size_t)(h * w), 0, 0);
}

static void test_gray(void) {
    /* 8-bit gray. */
    unsigned char g8[H * W];
    float want[H * W];
    for (int i = 0; i < H * W; i++) g8[i] = (unsigned char)(i * 23), want[i] = (float)g8[i] / 255.0f;
    png_spec s = {W, H, PNG_COLOR_TYPE_GRAY, 8, 0, NULL, 0, NULL, 0};
    CHECK(write_png(tmp_path("g8.png"), &s, g8, W) == 0);
    check_read("gray 8", tmp_path("g8.png"), want, H, W);
    CHECK(want[0] == 0.0f);

    /* Interlaced (Adam7) gives the same pixels. */
    s.interlace = 1;
    CHECK(write_png(tmp_path("g8i.png"), &s, g8, W) == 0);
    check_read("gray 8 interlaced", tmp_path("g8i.png"), want, H, W);

    s.interlace = 0;

    /* 16-bit gray, big-endian samples: v / 65535. */
    const unsigned v16[H * W] = {0, 1, 255, 256, 257, 4095, 12345, 32768, 40000, 65534, 65535, 7};
    unsigned char g16[H * W * 2];
    for (int i = 0; i < H * W; i++) {
        g16[2 * i] = (unsigned char)(v16[i] >> 8), g16[2 * i + 1] = (unsigned char)v16[i];
        want[i] = (float)v16[i] / 65535.0f;
    }
    s.depth = 16;
    CHECK(write_png(tmp_path("g16.png"), &s, g16, W * 2) == 0);
    check_read("gray 16", tmp_path("g16.png"), want, H, W);
    CHECK(want[10] == 1.0f);

    /* 1, 2 and 4 bits: expanded to 8 bits by bit replication (v * 255 / max). */
    for (int depth = 1; depth <= 4; depth *= 2) {
        const int max = (1 << depth) - 1, per_byte = 8 / depth;
        unsigned char packed[H * 1] = {0}; /* W = 4 samples fit one byte for depth <= 2; 2 for depth 4 */
        unsigned char packed4[H * 2] = {0};
        size_t row_bytes = (size_t)(W * depth + 7) / 8;
        unsigned char *rows = depth == 4 ? packed4 : packed;
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                int v = (y * W + x * 3) % (max + 1);
                int byte = x / per_byte, shift = 8 - depth * (x % per_byte + 1);
                rows[(size_t)y * row_bytes + (size_t)byte] |= (unsigned char)(v << shift);
                want[y * W + x] = (float)(v * (255 / max)) / 255.0f;
            }
        }
        png_spec sd = {W, H, PNG_COLOR_TYPE_GRAY, depth, 0, NULL, 0, NULL, 0};
        char name[32], what[32];
        snprintf(name, sizeof name, "g%d.png", depth);
        snprintf(what, sizeof what, "gray %d-bit", depth);
        CHECK(write_png(tmp_path(name), &sd, rows, row_bytes) == 0);
        check_read(what, tmp_path(name), want, H, W);
    }

    /* Gray + alpha: alpha is dropped, not composited. */
    unsigned char ga[H * W * 2];
    for (int i = 0; i < H * W; i++) {
        ga[2 * i] = (unsigned char)(255 - i * 20), ga[2 * i + 1] = (unsigned char)(i * 21);
        want[i] = (float)ga[2 * i] / 255.0f;
    }
    png_spec sga = {W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, NULL, 0, NULL, 0};
    CHECK(write_png(tmp_path("ga.png"), &sga, ga, W * 2) == 0);
    check_read("gray+alpha 8", tmp_path("ga.png"), want, H, W);
}

static void test_color(void) {
    float want[H * W];
    unsigned char rgb8[H * W * 3], rgba8[H * W * 4];
    for (int i = 0; i < H * W; i++) {
        const int *c = rgb[i % NRGB];
        for (int k = 0; k < 3; k++) rgb8[3 * i + k] = rgba8[4 * i + k] = (unsigned char)c[k];
        rgba8[4 * i + 3] = (unsigned char)(i * 19); /* any alpha */
        want[i] = gray8(c[0], c[1], c[2]);
    }
    /* Spot checks of the formula itself: pure red, green, blue. */
    CHECK(gray8(255, 0, 0) == 76.0f / 255.0f);
    CHECK(gray8(0, 255, 0) == 149.0f / 255.0f);
    CHECK(gray8(0, 0, 255) == 29.0f / 255.0f);

    png_spec s = {W, H, PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0};
    CHECK(write_png(tmp_path("rgb.png"), &s, rgb8, W * 3) == 0);
    check_read("RGB 8", tmp_path("rgb.png"), want, H, W);
    s.color = PNG_COLOR_TYPE_RGB_ALPHA;
    CHECK(write_png(tmp_path("rgba.png"), &s, rgba8, W * 4) == 0);
    check_read("RGBA 8", tmp_path("rgba.png"), want, H, W);

    /* Palette (8-bit and 4-bit indices), with a tRNS chunk: colors as RGB. */
    png_color pal[NRGB];
    png_byte trns[NRGB];
    for (int k = 0; k < NRGB; k++) {
        pal[k].red = (png_byte)rgb[k][0], pal[k].green = (png_byte)rgb[k][1], pal[k].blue = (png_byte)rgb[k][2];
        trns[k] = (png_byte)(k * 20);
    }
    unsigned char idx8[H * W], idx4[H * 2] = {0};
    for (int i = 0; i < H * W; i++) {
        int k = (i * 5) % NRGB;
        idx8[i] = (unsigned char)k;
        idx4[(i / W) * 2 + (i % W) / 2] |= (unsigned char)(k << ((i % 2) ? 0 : 4));
        want[i] = gray8(rgb[k][0], rgb[k][1], rgb[k][2]);
    }
    png_spec sp = {W, H, PNG_COLOR_TYPE_PALETTE, 8, 0, pal, NRGB, trns, NRGB};
    CHECK(write_png(tmp_path("pal8.png"), &sp, idx8, W) == 0);
    check_read("palette 8", tmp_path("pal8.png"), want, H, W);
    sp.depth = 4;
    sp.trns = NULL, sp.n_trns = 0;
    CHECK(write_png(tmp_path("pal4.png"), &sp, idx4, 2) == 0);
    check_read("palette 4", tmp_path("pal4.png"), want, H, W);

    /* 16-bit RGB: grays exact (v / 65535); colors within one 16-bit step of
     * the 15-bit fixed-point weights. */
    unsigned char rgb16[H * W * 6];
    float want16[H * W];
    for (int i = 0; i < H * W; i++) {
        const int *c = rgb[i % NRGB];
        unsigned v[3];
        for (int k = 0; k < 3; k++) {
            v[k] = ((unsigned)c[k] * 257u) ^ (unsigned)(i % 3); /* use the low byte too */
            if (c[0] == c[1] && c[0] == c[2]) v[k] = (unsigned)c[0] * 257u;
            rgb16[6 * i + 2 * k] = (unsigned char)(v[k] >> 8), rgb16[6 * i + 2 * k + 1] = (unsigned char)v[k];
        }
        want16[i] = (float)((9794.0 * v[0] + 19234.0 * v[1] + 3740.0 * v[2]) / 32768.0 / 65535.0);
    }
    png_spec s16 = {W, H, PNG_COLOR_TYPE_RGB, 16, 0, NULL, 0, NULL, 0};
    CHECK(write_png(tmp_path("rgb16.png"), &s16, rgb16, W * 6) == 0);
    float got[H * W];
    CHECK_OK(cnn_png_read_gray(got, tmp_path("rgb16.png"), H, W));
    CHECK_CLOSE("RGB 16", got, want16, H * W, 0, 1.01 / 65535.0);
}

static size_t file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return (size_t)n;
}

static void copy_prefix(const char *dst, const char *src, size_t n, long flip_at) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    for (size_t i = 0; in && out && i < n; i++) {
        int c = fgetc(in);
        if (c == EOF) break;
        if ((long)i == flip_at) c ^= 0x55;
        fputc(c, out);
    }
    if (in) fclose(in);
    if (out) fclose(out);
}

#define CHECK_MESSAGE_HAS(word)                                                            \
    do {                                                                                   \
        test__checked++;                                                                   \
        if (!strstr(cnn_last_error(), (word))) {                                           \
            test__failed++;                                                                \
            fprintf(stderr, "%s:%d: message \"%s\" should contain \"%s\"\n", __FILE__,     \
                    __LINE__, cnn_last_error(), (word));                                   \
        }                                                                                  \
    } while (0)

static int fail_after, allocations;
static void *limited_malloc(size_t n) { return allocations++ >= fail_after ? NULL : malloc(n); }
static void *limited_realloc(void *p, size_t n) { return allocations++ >= fail_after ? NULL : realloc(p, n); }
static void *limited_calloc(size_t c, size_t n) { return allocations++ >= fail_after ? NULL : calloc(c, n); }

static void test_errors(void) {
    float out[30 * 28];
    /* A 28x28 image, then the wrong size asked for and a 30x28 image. */
    unsigned char img[30 * 28];
    for (int i = 0; i < 30 * 28; i++) img[i] = (unsigned char)(i * 7);
    png_spec s = {28, 28, PNG_COLOR_TYPE_GRAY, 8, 0, NULL, 0, NULL, 0};
    char good[256];
    snprintf(good, sizeof good, "%s", tmp_path("28.png"));
    CHECK(write_png(good, &s, img, 28) == 0);
    CHECK_OK(cnn_png_read_gray(out, good, 28, 28));
    s.h = 30;
    CHECK(write_png(tmp_path("30x28.png"), &s, img, 28) == 0);
    CHECK_STATUS(cnn_png_read_gray(out, tmp_path("30x28.png"), 28, 28), CNN_ESHAPE);
    CHECK_MESSAGE_HAS("expected 28x28 (height x width), found 30x28");
    CHECK_MESSAGE_HAS("30x28.png");
    CHECK_STATUS(cnn_png_read_gray(out, good, 28, 27), CNN_ESHAPE);

    /* Not a PNG; empty; missing. */
    FILE *f = fopen(tmp_path("text.png"), "wb");
    fputs("this is not an image\n", f);
    fclose(f);
    CHECK_STATUS(cnn_png_read_gray(out, tmp_path("text.png"), 28, 28), CNN_EFORMAT);
    CHECK_MESSAGE_HAS("signature");
    CHECK_MESSAGE_HAS("text.png");
    f = fopen(tmp_path("empty.png"), "wb");
    fclose(f);
    CHECK_STATUS(cnn_png_read_gray(out, tmp_path("empty.png"), 28, 28), CNN_EFORMAT);
    CHECK_STATUS(cnn_png_read_gray(out, tmp_path("missing.png"), 28, 28), CNN_ENOTFOUND);
    CHECK_MESSAGE_HAS("missing.png");
    CHECK_STATUS(cnn_png_read_gray(NULL, good, 28, 28), CNN_EINVAL);
    CHECK_STATUS(cnn_png_read_gray(out, good, 0, 28), CNN_EINVAL);

    /* Truncated at every length: a clean CNN_EFORMAT each time (never a crash). */
    size_t n = file_size(good);
    CHECK(n > 60);
    int all_fail = 1;
    for (size_t len = 0; len < n; len++) {
        /* A cut inside the IEND chunk still leaves every pixel readable, as for torchvision. */
        if (len >= n - 12) break;
        copy_prefix(tmp_path("cut.png"), good, len, -1);
        int rc = cnn_png_read_gray(out, tmp_path("cut.png"), 28, 28);
        if (rc != CNN_EFORMAT || !strstr(cnn_last_error(), "cut.png")) {
            all_fail = 0;
            fprintf(stderr, "truncated at %zu of %zu: got %s: %s\n", len, n, cnn_status_name(rc), cnn_last_error());
        }
    }
    CHECK(all_fail);
    copy_prefix(tmp_path("cut.png"), good, n / 2, -1);
    CHECK_STATUS(cnn_png_read_gray(out, tmp_path("cut.png"), 28, 28), CNN_EFORMAT);
    CHECK_MESSAGE_HAS("truncated");

    /* A flipped byte in every position of the header and image data: either
     * an error or (flips inside ancillary/unused bits) a success, never a crash. */
    int flips_failed = 0;
    for (size_t at = 8; at < n; at++) {
        copy_prefix(tmp_path("flip.png"), good, n, (long)at);
        int rc = cnn_png_read_gray(out, tmp_path("flip.png"), 28, 28);
        flips_failed += rc != CNN_OK;
        if (rc != CNN_OK && rc != CNN_EFORMAT && rc != CNN_ESHAPE) {
            CHECK(!"a flipped byte gives CNN_EFORMAT or CNN_ESHAPE");
            fprintf(stderr, "flip at %zu: %s: %s\n", at, cnn_status_name(rc), cnn_last_error());
        }
    }
    CHECK(flips_failed > (int)(n - 8) / 2); /* chunk CRCs catch most flips */

    /* Out of memory at every allocation: an error, never a crash or a leak. */
    int ok = 0;
    for (fail_after = 0; fail_after < 100 && !ok; fail_after++) {
        allocations = 0;
        cnn_set_allocator(limited_malloc, limited_realloc, limited_calloc, free);
        int rc = cnn_png_read_gray(out, good, 28, 28);
        cnn_set_allocator(NULL, NULL, NULL, NULL);
        if (rc == CNN_OK) ok = 1;
        else if (rc != CNN_ENOMEM && rc != CNN_EFORMAT) {
            CHECK(!"out of memory gives CNN_ENOMEM or CNN_EFORMAT");
            fprintf(stderr, "  fail_after %d: %s: %s\n", fail_after, cnn_status_name(rc), cnn_last_error());
        }
    }
    CHECK(ok);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cnn-test-png-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_gray();
    test_color();
    test_errors();
    int rc = test_report();
    if (rc == 0) {
        const char *names[] = {"g8.png", "g8i.png", "g16.png", "g1.png", "g2.png", "g4.png", "ga.png",
                               "rgb.png", "rgba.png", "pal8.png", "pal4.png", "rgb16.png", "28.png",
                               "30x28.png", "text.png", "empty.png", "cut.png", "flip.png"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(tmp_path(names[i]));
        rmdir(tmpdir);
    }
    return rc;
}
