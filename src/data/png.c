/* png.c — read a PNG as a grayscale float image, as torchvision does.
 *
 * cnn_png_read_gray matches torchvision.io.read_image(path, ImageReadMode.GRAY)
 * followed by / 255, because it asks libpng for the same transformations that
 * torchvision's decode_png asks for in GRAY mode:
 *   gray, 1/2/4 bits    png_set_expand_gray_1_2_4_to_8
 *   palette             png_set_palette_to_rgb (then treated as having alpha)
 *   any alpha           png_set_strip_alpha (alpha is dropped, not composited)
 *   RGB / RGBA          png_set_rgb_to_gray(png, 1, 0.2989, 0.587)
 *                       gray = (9794 R + 19234 G + 3740 B) >> 15 in libpng's
 *                       15-bit fixed point (blue = 1 - 0.2989 - 0.587), and
 *                       R unchanged where R == G == B
 * 8-bit results are divided by 255 (in float, as torch computes x / 255).
 * 16-bit images stay 16-bit in torchvision, so they are divided by 65535
 * instead, which keeps the result in [0, 1] (what convert_image_dtype gives).
 *
 * Errors: libpng reports through an error callback that records the message
 * and longjmps back; every allocation (libpng's included) goes through
 * cnn_malloc and is released on every path. Truncated or corrupt files give
 * CNN_EFORMAT, a wrong size CNN_ESHAPE, a missing file CNN_ENOTFOUND.
 */
#include "cnn_internal.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#define PNG_MAX_SIDE 65536

typedef struct {
    FILE *f;
    char msg[256];
    int oom; /* an allocation failed: report CNN_ENOMEM, not a corrupt file */
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* the library never prints unasked */
}

static png_voidp png_on_malloc(png_structp png, png_alloc_size_t size) {
    png_voidp p = cnn_malloc(size);
    png_ctx *ctx = png_get_mem_ptr(png);
    if (!p && ctx) ctx->oom = 1;
    return p;
}

static void png_on_free(png_structp png, png_voidp ptr) {
    (void)png;
    cnn_free(ptr);
}

/* libpng's default reader says only "Read Error"; name truncation clearly. */
static void png_on_read(png_structp png, png_bytep data, size_t n) {
    png_ctx *ctx = png_get_io_ptr(png);
    size_t got = fread(data, 1, n, ctx->f);
    if (got != n) png_error(png, ferror(ctx->f) ? "read error" : "unexpected end of file (truncated)");
}

/* Stage 1: signature already checked; read the header chunks. */
static int png_read_header(png_structp png, png_infop info, png_ctx *ctx, png_uint_32 *w,
                           png_uint_32 *h, int *depth, int *color) {
    if (setjmp(png_jmpbuf(png))) return CNN_EFORMAT;
    png_set_read_fn(png, ctx, png_on_read);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, PNG_MAX_SIDE, PNG_MAX_SIDE);
    png_set_chunk_malloc_max(png, (png_alloc_size_t)8 << 20);
    png_read_info(png, info);
    int interlace;
    png_get_IHDR(png, info, w, h, depth, color, &interlace, NULL, NULL);
    return CNN_OK;
}

/* Stage 2: torchvision's GRAY transformations, then the pixels into rows
 * (each w * bytes_per_sample bytes). */
static int png_read_pixels(png_structp png, png_infop info, int depth, int color,
                           png_bytep *rows, size_t row_bytes) {
    if (setjmp(png_jmpbuf(png))) return CNN_EFORMAT;
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (color != PNG_COLOR_TYPE_GRAY) {
        int is_palette = (color & PNG_COLOR_MASK_PALETTE) != 0;
        int has_color = (color & PNG_COLOR_MASK_COLOR) != 0;
        int has_alpha = (color & PNG_COLOR_MASK_ALPHA) != 0;
        if (is_palette) {
            png_set_palette_to_rgb(png);
            has_alpha = 1;
        }
        if (has_alpha) png_set_strip_alpha(png);
        if (has_color) png_set_rgb_to_gray(png, 1, 0.2989, 0.587);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != 1 || png_get_rowbytes(png, info) != row_bytes) {
        png_error(png, "unexpected layout after conversion to gray");
    }
    png_read_image(png, rows);
    return CNN_OK;
}

int cnn_png_read_gray(float *out, const char *path, int64_t want_h, int64_t want_w) {
    if (!out || !path) return cnn__fail(CNN_EINVAL, "cnn_png_read_gray: out and path must not be NULL");
    if (want_h < 1 || want_w < 1 || want_h > PNG_MAX_SIDE || want_w > PNG_MAX_SIDE) {
        return cnn__fail(CNN_EINVAL, "cnn_png_read_gray: size: expected 1..%d per side, found %lldx%lld",
                         PNG_MAX_SIDE, (long long)want_h, (long long)want_w);
    }
    png_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    CNN_TRY(cnn__open_regular(&ctx.f, path, NULL));
    unsigned char sig[8] = {0};
    size_t got = fread(sig, 1, 8, ctx.f);
    if (got != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(ctx.f);
        return cnn__fail(CNN_EFORMAT, "%s: signature: expected a PNG file (89 50 4e 47 0d 0a 1a 0a), found "
                         "%02x %02x %02x %02x %02x %02x %02x %02x%s",
                         path, sig[0], sig[1], sig[2], sig[3], sig[4], sig[5], sig[6], sig[7],
                         got < 8 ? " (file too short)" : "");
    }

    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning,
                                               &ctx, png_on_malloc, png_on_free);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        fclose(ctx.f);
        return cnn__fail(CNN_ENOMEM, "%s: cannot allocate the PNG decoder", path);
    }

    uint8_t *pixels = NULL; /* (h, w) samples of 1 or 2 bytes */
    png_bytep *rows = NULL; /* h pointers into pixels */
    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, rc;
    rc = png_read_header(png, info, &ctx, &w, &h, &depth, &color);
    if (rc != CNN_OK) {
        rc = ctx.oom ? cnn__fail(CNN_ENOMEM, "%s: out of memory while decoding the PNG", path)
                     : cnn__fail(CNN_EFORMAT, "%s: corrupt PNG: %s", path, ctx.msg);
    } else if ((int64_t)h != want_h || (int64_t)w != want_w) {
        rc = cnn__fail(CNN_ESHAPE, "%s: size: expected %lldx%lld (height x width), found %ux%u", path,
                       (long long)want_h, (long long)want_w, (unsigned)h, (unsigned)w);
    } else if (depth != 1 && depth != 2 && depth != 4 && depth != 8 && depth != 16) {
        rc = cnn__fail(CNN_EFORMAT, "%s: bit depth: expected 1, 2, 4, 8 or 16, found %d", path, depth);
    } else {
        const size_t sample = depth == 16 ? 2 : 1;
        const size_t row_bytes = (size_t)w * sample;
        pixels = cnn_malloc((size_t)h * row_bytes);
        rows = cnn_malloc((size_t)h * sizeof *rows);
        if (!pixels || !rows) {
            rc = cnn__fail(CNN_ENOMEM, "%s: cannot allocate %ux%u pixels", path, (unsigned)h, (unsigned)w);
        } else {
            for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * row_bytes;
            rc = png_read_pixels(png, info, depth, color, rows, row_bytes);
            if (rc != CNN_OK)
                rc = ctx.oom ? cnn__fail(CNN_ENOMEM, "%s: out of memory while decoding the PNG", path)
                             : cnn__fail(CNN_EFORMAT, "%s: corrupt PNG: %s", path, ctx.msg);
        }
        if (rc == CNN_OK) {
            const size_t n = (size_t)h * w;
            if (sample == 1) {
                for (size_t i = 0; i < n; i++) out[i] = (float)pixels[i] / 255.0f;
            } else {
                for (size_t i = 0; i < n; i++) {
                    unsigned v = (unsigned)pixels[2 * i] << 8 | pixels[2 * i + 1]; /* big-endian */
                    out[i] = (float)v / 65535.0f;
                }
            }
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    fclose(ctx.f);
    cnn_free(rows);
    cnn_free(pixels);
    return rc;
}
