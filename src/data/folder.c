/* folder.c — an image-folder tree, as torchvision's ImageFolder reads it:
 *
 *   ROOT/train/<class>/<image>.png|.jpg|.jpeg     (names case-insensitive)
 *   ROOT/test/<class>/...
 *
 * Classes are the folder names of ROOT/train in byte order (Python's
 * sorted()), label k for the k-th; ROOT/test must have the same folders.
 * Files within a class are taken in byte order too. Names starting with '.'
 * are skipped; any other file that is not .png/.jpg/.jpeg, a folder inside a
 * class folder, or a class folder without images is an error naming it.
 *
 * Every image is decoded (image.c) as read_image(path, mode) would: with
 * opt->channels (1 GRAY, 3 RGB), or by default RGB when any image of the
 * split has colour (gray images then replicated, which is what RGB mode
 * does to them) and gray otherwise; then resized to opt->resize_h x
 * resize_w as torchvision's Resize does on the uint8 tensor. Without a
 * resize every image must have the first one's size. Decoding runs in
 * parallel (OpenMP, dynamic schedule); the first failing file (in file
 * order) is reported.
 *
 * The decoded split is cached in ROOT/.cnn-cache-<split>.bin:
 *   "CNNIMGC1"  u64 key  u64 n, c, h, w, classes, names bytes  names ('\n'-joined)
 *   u16 labels[n]  u8 pixels[n*c*h*w]  u32 crc32 of everything before
 * (little-endian). key is a hash of the settings and of every file's path,
 * size and modification time, so adding, removing, renaming or touching any
 * image rebuilds the cache; a cache that is truncated, corrupt or for other
 * settings is rebuilt too. A cache that cannot be written is skipped.
 */
#include "data/data.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define CACHE_MAGIC "CNNIMGC1"

typedef struct {
    char *path;   /* ROOT/split/class/file */
    int label;
    uint64_t size;
    int64_t mtime_ns;
} img_entry;

typedef struct {
    img_entry *e;
    int64_t n, cap;
    char **classes;
    int64_t n_classes;
} img_list;

static void list_free(img_list *l) {
    for (int64_t i = 0; i < l->n; i++) cnn_free(l->e[i].path);
    cnn_free(l->e);
    for (int64_t i = 0; i < l->n_classes; i++) cnn_free(l->classes[i]);
    cnn_free(l->classes);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *str_dup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = cnn_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* The sorted names in dir (not "." or ".."; hidden names skipped); dirs 1:
 * folders only, 0: everything else. */
static int list_dir(char ***names, int64_t *n, const char *dir, int dirs) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return cnn__fail(CNN_EIO, "%s: cannot open the folder", dir);
    int64_t cap = 0;
    char **out = NULL;
    int rc = CNN_OK;
    struct dirent *de;
    while (rc == CNN_OK && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[4200];
        if (cnn__path(p, sizeof p, dir, de->d_name) != CNN_OK) { rc = CNN_EINVAL; break; }
        if (cnn__is_dir(p) != dirs) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **q = cnn_realloc(out, (size_t)cap * sizeof *q);
            if (!q) { rc = cnn__fail(CNN_ENOMEM, "%s: out of memory", dir); break; }
            out = q;
        }
        if (!(out[*n] = str_dup(de->d_name))) { rc = cnn__fail(CNN_ENOMEM, "%s: out of memory", dir); break; }
        (*n)++;
    }
    closedir(d);
    if (rc != CNN_OK) {
        for (int64_t i = 0; i < *n; i++) cnn_free(out[i]);
        cnn_free(out);
        *n = 0;
        return rc;
    }
    if (*n) qsort(out, (size_t)*n, sizeof *out, cmp_str);
    *names = out;
    return CNN_OK;
}

static int is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

/* l <- every image of ROOT/split, classes as given (want, from the
 * training split) or found here. */
static int list_split(img_list *l, const char *root, const char *split, char **want, int64_t n_want) {
    memset(l, 0, sizeof *l);
    char sdir[4200];
    CNN_TRY(cnn__path(sdir, sizeof sdir, root, split));
    if (!cnn__is_dir(sdir)) return cnn__fail(CNN_ENOTFOUND, "%s: not found (an image folder data set has %s/<class>/)", sdir, split);
    int rc = list_dir(&l->classes, &l->n_classes, sdir, 1);
    if (rc == CNN_OK && l->n_classes == 0)
        rc = cnn__fail(CNN_EFORMAT, "%s: no class folders (expected %s/<class>/<image>.png or .jpg)", sdir, split);
    if (rc == CNN_OK && l->n_classes > CNN_MAX_CLASSES)
        rc = cnn__fail(CNN_EFORMAT, "%s: %lld class folders, at most %d", sdir, (long long)l->n_classes, CNN_MAX_CLASSES);
    if (rc == CNN_OK && want) {
        for (int64_t i = 0, j = 0; rc == CNN_OK && (i < n_want || j < l->n_classes);) {
            int c = i >= n_want ? 1 : j >= l->n_classes ? -1 : strcmp(want[i], l->classes[j]);
            if (c < 0) rc = cnn__fail(CNN_EFORMAT, "%s/%s: missing: the training split has this class folder", sdir, want[i]);
            else if (c > 0)
                rc = cnn__fail(CNN_EFORMAT, "%s/%s: class folder not in the training split (classes must be the same)",
                               sdir, l->classes[j]);
            else i++, j++;
        }
    }
    for (int64_t k = 0; rc == CNN_OK && k < l->n_classes; k++) {
        char cdir[4200], p[4200];
        rc = cnn__path(cdir, sizeof cdir, sdir, l->classes[k]);
        char **sub = NULL, **files = NULL;
        int64_t n_sub = 0, n_files = 0;
        if (rc == CNN_OK) rc = list_dir(&sub, &n_sub, cdir, 1);
        if (rc == CNN_OK && n_sub > 0)
            rc = cnn__fail(CNN_EFORMAT, "%s/%s: expected image files in a class folder, found a folder", cdir, sub[0]);
        if (rc == CNN_OK) rc = list_dir(&files, &n_files, cdir, 0);
        int64_t images = 0;
        for (int64_t i = 0; rc == CNN_OK && i < n_files; i++) {
            rc = cnn__path(p, sizeof p, cdir, files[i]);
            if (rc != CNN_OK) break;
            if (!is_image_name(files[i])) {
                rc = cnn__fail(CNN_EFORMAT, "%s: not an image file name: expected .png, .jpg or .jpeg", p);
                break;
            }
            struct stat st;
            if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
                rc = cnn__fail(CNN_EIO, "%s: not a regular file", p);
                break;
            }
            if (l->n == l->cap) {
                int64_t cap = l->cap ? 2 * l->cap : 1024;
                img_entry *e = cnn_realloc(l->e, (size_t)cap * sizeof *e);
                if (!e) { rc = cnn__fail(CNN_ENOMEM, "out of memory listing %s", sdir); break; }
                l->e = e, l->cap = cap;
            }
            img_entry *e = &l->e[l->n];
            if (!(e->path = str_dup(p))) { rc = cnn__fail(CNN_ENOMEM, "out of memory listing %s", sdir); break; }
            e->label = (int)k;
            e->size = (uint64_t)st.st_size;
            e->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
            l->n++;
            images++;
        }
        if (rc == CNN_OK && images == 0)
            rc = cnn__fail(CNN_EFORMAT, "%s: class folder with no images (expected at least one .png, .jpg or .jpeg)", cdir);
        for (int64_t i = 0; i < n_sub; i++) cnn_free(sub[i]);
        for (int64_t i = 0; i < n_files; i++) cnn_free(files[i]);
        cnn_free(sub);
        cnn_free(files);
    }
    if (rc == CNN_OK && l->n > (int64_t)CNN_IDX_MAX_COUNT) rc = cnn__fail(CNN_EFORMAT, "%s: too many images", sdir);
    if (rc != CNN_OK) list_free(l);
    return rc;
}

/* FNV-1a, 64 bits, over the settings and every file's path, size and mtime */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t list_key(const img_list *l, const cnn_data_options *opt) {
    uint64_t h = 0xcbf29ce484222325ull;
    int32_t s[3] = {opt->channels, opt->resize_h, opt->resize_w};
    h = fnv(h, s, sizeof s);
    for (int64_t i = 0; i < l->n; i++) {
        h = fnv(h, l->e[i].path, strlen(l->e[i].path) + 1);
        h = fnv(h, &l->e[i].size, sizeof l->e[i].size);
        h = fnv(h, &l->e[i].mtime_ns, sizeof l->e[i].mtime_ns);
        h = fnv(h, &l->e[i].label, sizeof l->e[i].label);
    }
    return h;
}

static void put64(uint8_t *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

#define CACHE_HEAD (8 + 8 * 7)

/* ds <- the cache at path if it is whole and for key; 0 if used, -1 if not. */
static int cache_read(cnn_dataset *ds, const char *path, uint64_t key, const img_list *l) {
    char *b = NULL;
    size_t len = 0;
    if (!cnn__is_file(path) || cnn_file_read(path, (size_t)1 << 36, &b, &len) != CNN_OK) {
        cnn_clear_error();
        return -1;
    }
    const uint8_t *u = (const uint8_t *)b;
    int ok = len >= CACHE_HEAD + 4 && memcmp(u, CACHE_MAGIC, 8) == 0 && get64(u + 8) == key;
    uint64_t n = ok ? get64(u + 16) : 0, c = ok ? get64(u + 24) : 0, h = ok ? get64(u + 32) : 0,
             w = ok ? get64(u + 40) : 0, k = ok ? get64(u + 48) : 0, nb = ok ? get64(u + 56) : 0;
    ok = ok && n == (uint64_t)l->n && k == (uint64_t)l->n_classes && (c == 1 || c == 3) && h >= 1 && w >= 1 &&
         h <= 65535 && w <= 65535 && nb < ((uint64_t)1 << 30);
    uint64_t px = ok ? n * c * h * w : 0;
    ok = ok && px / n / c / h == w && len == CACHE_HEAD + nb + 2 * n + px + 4;
    if (ok) {
        uint32_t stored = (uint32_t)u[len - 4] | (uint32_t)u[len - 3] << 8 | (uint32_t)u[len - 2] << 16 |
                          (uint32_t)u[len - 1] << 24;
        ok = cnn__crc32(0, u, len - 4) == stored;
    }
    if (ok) {
        memset(ds, 0, sizeof *ds);
        ds->labels = cnn_malloc((size_t)n * sizeof *ds->labels);
        ds->images = cnn_malloc((size_t)px);
        ok = ds->labels && ds->images;
        if (ok) {
            const uint8_t *lab = u + CACHE_HEAD + nb;
            for (uint64_t i = 0; i < n; i++) ds->labels[i] = (uint16_t)(lab[2 * i] | lab[2 * i + 1] << 8);
            memcpy(ds->images, lab + 2 * n, (size_t)px);
            ds->n = (int64_t)n, ds->c = (int64_t)c, ds->h = (int64_t)h, ds->w = (int64_t)w;
        } else {
            cnn_dataset_free(ds);
        }
    }
    cnn_free(b);
    return ok ? 0 : -1;
}

static void cache_write(const char *path, uint64_t key, const cnn_dataset *ds, const img_list *l) {
    size_t nb = 0;
    for (int64_t k = 0; k < l->n_classes; k++) nb += strlen(l->classes[k]) + 1;
    const size_t px = (size_t)(ds->n * ds->c * ds->h * ds->w);
    const size_t len = CACHE_HEAD + nb + 2 * (size_t)ds->n + px + 4;
    uint8_t *b = cnn_malloc(len);
    if (!b) {
        cnn_clear_error();
        return;
    }
    memcpy(b, CACHE_MAGIC, 8);
    uint64_t head[7] = {key, (uint64_t)ds->n, (uint64_t)ds->c, (uint64_t)ds->h, (uint64_t)ds->w,
                        (uint64_t)l->n_classes, (uint64_t)nb};
    for (int i = 0; i < 7; i++) put64(b + 8 + 8 * i, head[i]);
    uint8_t *p = b + CACHE_HEAD;
    for (int64_t k = 0; k < l->n_classes; k++) {
        size_t s = strlen(l->classes[k]);
        memcpy(p, l->classes[k], s);
        p[s] = '\n';
        p += s + 1;
    }
    for (int64_t i = 0; i < ds->n; i++) *p++ = (uint8_t)ds->labels[i], *p++ = (uint8_t)(ds->labels[i] >> 8);
    memcpy(p, ds->images, px);
    p += px;
    uint32_t crc = cnn__crc32(0, b, len - 4);
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(crc >> (8 * i));
    if (cnn_file_write(path, b, len) != CNN_OK) cnn_clear_error(); /* a read-only tree: no cache */
    cnn_free(b);
}

/* Decode every image of l into ds (see the top of the file). */
static int decode_split(cnn_dataset *ds, const img_list *l, const cnn_data_options *opt) {
    const int64_t n = l->n;
    uint8_t **px = cnn_calloc((size_t)n, sizeof *px);
    int64_t *dims = cnn_calloc((size_t)n * 3, sizeof *dims);
    char **err = cnn_calloc((size_t)n, sizeof *err);
    int *codes = cnn_calloc((size_t)n, sizeof *codes);
    int rc = CNN_OK;
    if (!px || !dims || !err || !codes) rc = cnn__fail(CNN_ENOMEM, "out of memory for %lld images", (long long)n);
    const int rh = opt->resize_h, rw = opt->resize_w ? opt->resize_w : opt->resize_h;
#pragma omp parallel for schedule(dynamic, 8) if (rc == CNN_OK)
    for (int64_t i = 0; i < n; i++) {
        if (rc != CNN_OK) continue;
        uint8_t *p = NULL;
        int64_t c, h, w;
        int r = cnn_image_read(&p, &c, &h, &w, l->e[i].path, opt->channels);
        if (r == CNN_OK && rh && (h != rh || w != rw)) {
            uint8_t *q = cnn_malloc((size_t)(c * rh * rw));
            r = q ? cnn_resize_u8(q, p, c, h, w, rh, rw) : cnn__fail(CNN_ENOMEM, "%s: out of memory", l->e[i].path);
            cnn_free(p);
            p = q;
            h = rh, w = rw;
        }
        if (r != CNN_OK) {
            cnn_free(p);
            codes[i] = r;
            err[i] = str_dup(cnn_last_error());
            continue;
        }
        px[i] = p;
        dims[3 * i] = c, dims[3 * i + 1] = h, dims[3 * i + 2] = w;
    }
    /* the first failure in file order */
    for (int64_t i = 0; rc == CNN_OK && i < n; i++)
        if (codes[i]) rc = cnn__fail(codes[i], "%s", err[i] ? err[i] : l->e[i].path);
    int64_t c = 1;
    for (int64_t i = 0; rc == CNN_OK && i < n; i++) {
        if (dims[3 * i] == 3) c = 3;
        if (dims[3 * i + 1] != dims[1] || dims[3 * i + 2] != dims[2])
            rc = cnn__fail(CNN_ESHAPE, "%s: size: expected %lldx%lld as %s, found %lldx%lld (give --resize H,W)",
                           l->e[i].path, (long long)dims[1], (long long)dims[2], l->e[0].path, (long long)dims[3 * i + 1],
                           (long long)dims[3 * i + 2]);
    }
    if (rc == CNN_OK) {
        const int64_t h = dims[1], w = dims[2], plane = h * w;
        memset(ds, 0, sizeof *ds);
        ds->images = cnn_malloc((size_t)(n * c * plane));
        ds->labels = cnn_malloc((size_t)n * sizeof *ds->labels);
        if (!ds->images || !ds->labels) {
            cnn_dataset_free(ds);
            rc = cnn__fail(CNN_ENOMEM, "out of memory for %lld images of %lldx%lldx%lld", (long long)n, (long long)c,
                           (long long)h, (long long)w);
        }
        for (int64_t i = 0; rc == CNN_OK && i < n; i++) {
            uint8_t *dst = ds->images + i * c * plane;
            if (dims[3 * i] == c) memcpy(dst, px[i], (size_t)(c * plane));
            else /* gray in an RGB set: replicated, as RGB mode decodes it */
                for (int64_t k = 0; k < c; k++) memcpy(dst + k * plane, px[i], (size_t)plane);
            ds->labels[i] = (uint16_t)l->e[i].label;
        }
        if (rc == CNN_OK) ds->n = n, ds->c = c, ds->h = h, ds->w = w;
    }
    for (int64_t i = 0; px && i < n; i++) cnn_free(px[i]);
    for (int64_t i = 0; err && i < n; i++) cnn_free(err[i]);
    cnn_free(px), cnn_free(dims), cnn_free(err), cnn_free(codes);
    return rc;
}

static int load_split(cnn_dataset *ds, const char *root, const char *split, const cnn_data_options *opt, img_list *l) {
    char cache[4200], name[64];
    snprintf(name, sizeof name, ".cnn-cache-%s.bin", split);
    CNN_TRY(cnn__path(cache, sizeof cache, root, name));
    const uint64_t key = list_key(l, opt);
    if (opt->no_cache || cache_read(ds, cache, key, l) != 0) {
        CNN_TRY(decode_split(ds, l, opt));
        if (!opt->no_cache) cache_write(cache, key, ds, l);
    }
    char sdir[4200];
    CNN_TRY(cnn__path(sdir, sizeof sdir, root, split));
    if (!(ds->source = str_dup(sdir))) return cnn__fail(CNN_ENOMEM, "out of memory");
    return cnn__copy_names(ds, l->classes, l->n_classes);
}

int cnn__folder_load(cnn_dataset *train, cnn_dataset *test, const char *root, const cnn_data_options *opt) {
    img_list ltrain, ltest;
    memset(&ltrain, 0, sizeof ltrain);
    memset(&ltest, 0, sizeof ltest);
    /* the class folders come from the training split, also when only the test split is read */
    int rc = list_split(&ltrain, root, "train", NULL, 0);
    if (rc == CNN_ENOTFOUND && !train) {
        cnn_clear_error();
        rc = list_split(&ltest, root, "test", NULL, 0);
    } else if (rc == CNN_OK) {
        rc = list_split(&ltest, root, "test", ltrain.classes, ltrain.n_classes);
    }
    cnn_data_options o = *opt;
    if (rc == CNN_OK && train) rc = load_split(train, root, "train", &o, &ltrain);
    /* the test split takes the training split's channels */
    if (rc == CNN_OK && train && !o.channels) o.channels = (int)train->c;
    if (rc == CNN_OK) rc = load_split(test, root, "test", &o, &ltest);
    list_free(&ltrain);
    list_free(&ltest);
    return rc;
}
