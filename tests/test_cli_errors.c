/* test_cli_errors.c — the `cnn` tool on bad command lines and bad input files.
 *
 * Every case of the table runs CNN_BINARY_DIR/cnn (fork + exec) inside a
 * fresh mkdtemp directory that holds valid inputs (copies of
 * tests/fixtures/step/)  and broken variants built here: IDX files cut at each
 * header field or with a wrong magic, dtype, ndim, size or label; corrupt and
 * truncated gzip; truncated, wrong-size and non-PNG images; safetensors files
 * with a bad header length, malformed JSON, a wrong dtype or shape, offsets
 * past the end, a missing or extra tensor; model files with syntax errors,
 * unknown layers or arguments, shapes that do not chain, absurd sizes; and
 * option values out of range, non-numbers, unknown options, missing values.
 *
 * Each case checks that
 *   - the tool exits with status 1 or 2 (not 0, not a signal, no sanitizer report),
 *   - stderr contains the case's substrings (the file or option, and what was wrong),
 *   - no output file was created: every `train` case runs with
 *     --save out.safetensors --log out.jsonl --plot out.svg, and a case may
 *     name one more path that must not appear.
 * A first row runs the same base command lines on valid inputs and expects
 * success, so a case that fails for the wrong reason cannot pass by accident.
 */
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define CASE_TIMEOUT_SECONDS 60

static char root[] = "/tmp/cnn-cli-errors-XXXXXX";

/* ---- files ---------------------------------------------------------------- */

/* Buffers of the generated inputs live until the end of the test. */
static void *scratch_list[256];
static int scratch_n;

static void *scratch(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p || scratch_n == (int)(sizeof scratch_list / sizeof scratch_list[0])) {
        fprintf(stderr, "out of scratch memory\n");
        exit(1);
    }
    return scratch_list[scratch_n++] = p;
}

static void scratch_free(void) {
    while (scratch_n > 0) free(scratch_list[--scratch_n]);
}

typedef struct {
    uint8_t *p;
    size_t n;
} bytes;

static bytes read_bytes(const char *path) {
    bytes b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = scratch((size_t)n + 1);
    b.n = (size_t)n;
    if (!b.p || fread(b.p, 1, b.n, f) != b.n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    return b;
}

/* root/rel <- data[0..n) */
static void put(const char *rel, const void *data, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static void put_text(const char *rel, const char *text) { put(rel, text, strlen(text)); }

static void make_dir(const char *rel) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(1);
    }
}

/* root/rel <- gzip(data[0..n)) */
static bytes gzip_bytes(const uint8_t *data, size_t n) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    bytes out = {NULL, 0};
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) exit(1);
    uLong cap = deflateBound(&zs, (uLong)n);
    out.p = scratch(cap);
    zs.next_in = (Bytef *)data, zs.avail_in = (uInt)n;
    zs.next_out = out.p, zs.avail_out = (uInt)cap;
    if (!out.p || deflate(&zs, Z_FINISH) != Z_STREAM_END) exit(1);
    out.n = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static void be32(uint8_t *b, uint32_t v) {
    b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8), b[3] = (uint8_t)v;
}

/* An IDX file: 00 00 dtype ndim_byte, the given dims, then n_data bytes of
 * fill (label-like values 0..9). */
static bytes idx_make(uint8_t dtype, uint8_t ndim_byte, int n_dims, const uint32_t *dims, size_t n_data) {
    bytes b;
    b.n = 4 + 4 * (size_t)n_dims + n_data;
    b.p = scratch(b.n);
    b.p[2] = dtype, b.p[3] = ndim_byte;
    for (int i = 0; i < n_dims; i++) be32(b.p + 4 + 4 * i, dims[i]);
    for (size_t i = 0; i < n_data; i++) b.p[4 + 4 * n_dims + i] = (uint8_t)(i % 10);
    return b;
}

static bytes good[4]; /* train images, train labels, t10k images, t10k labels */
static const char *split_names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                     "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

/* A data directory: the four good files, except file `which` replaced by
 * b (written as NAME.gz instead when gz is set; b is then already gzip). */
static void data_dir(const char *dir, int which, bytes b, int gz) {
    char rel[512];
    make_dir(dir);
    for (int i = 0; i < 4; i++) {
        snprintf(rel, sizeof rel, "%s/%s%s", dir, split_names[i], i == which && gz ? ".gz" : "");
        if (i == which) put(rel, b.p, b.n);
        else put(rel, good[i].p, good[i].n);
    }
}

static bytes cut(bytes b, size_t n) {
    bytes c = {b.p, n < b.n ? n : b.n};
    return c;
}

/* ---- safetensors ------------------------------------------------------------ */

typedef struct {
    const char *name;
    int ndim;
    int64_t shape[4];
} st_entry;

/* LeNet's state_dict. */
static const st_entry lenet_tensors[] = {
    {"0.weight", 4, {6, 1, 5, 5}}, {"0.bias", 1, {6}},         {"3.weight", 4, {16, 6, 5, 5}},
    {"3.bias", 1, {16}},           {"7.weight", 2, {120, 400}}, {"7.bias", 1, {120}},
    {"9.weight", 2, {84, 120}},    {"9.bias", 1, {84}},         {"11.weight", 2, {10, 84}},
    {"11.bias", 1, {10}},
};
#define N_LENET ((int)(sizeof lenet_tensors / sizeof lenet_tensors[0]))

typedef enum {
    ST_MISSING,        /* 11.bias left out */
    ST_EXTRA,          /* an extra "12.weight" */
    ST_DTYPE,          /* 0.bias as F64 */
    ST_SHAPE,          /* 0.weight as [6, 1, 5, 4] (... and 6 more values elsewhere) */
    ST_OFFSET_PAST,    /* the last tensor ends past the end of the file */
    ST_BAD_JSON,       /* the header is cut in the middle of a key */
    ST_HEADER_HUGE,    /* header length 2^60 */
    ST_HEADER_PAST,    /* header length larger than the file */
    ST_TRUNCATED,      /* the data stops 100 bytes early */
    ST_NEGATIVE_SHAPE, /* a shape of -6 */
    ST_DUPLICATE,      /* 0.bias twice */
    ST_UNKNOWN_KEY,    /* a "foo" key in a tensor entry */
} st_variant;

static void put_safetensors(const char *rel, st_variant v) {
    char *h = malloc(8192);
    size_t hn = 0;
    uint64_t off = 0;
    hn += (size_t)sprintf(h + hn, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i <= N_LENET; i++) {
        st_entry e;
        const char *dtype = "F32";
        int elem = 4;
        if (i == N_LENET) {
            if (v == ST_EXTRA) e = (st_entry){"12.weight", 1, {3}};
            else if (v == ST_DUPLICATE) e = lenet_tensors[1];
            else break;
        } else {
            e = lenet_tensors[i];
        }
        if (v == ST_MISSING && !strcmp(e.name, "11.bias")) continue;
        if (v == ST_DTYPE && i == 1) dtype = "F64", elem = 8;
        if (v == ST_SHAPE && i == 0) e.shape[3] = 4;
        int64_t numel = 1;
        for (int d = 0; d < e.ndim; d++) numel *= e.shape[d];
        uint64_t end = off + (uint64_t)numel * (uint64_t)elem;
        if (v == ST_OFFSET_PAST && i == N_LENET - 1) end += 400;
        hn += (size_t)sprintf(h + hn, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", e.name, dtype);
        for (int d = 0; d < e.ndim; d++)
            hn += (size_t)sprintf(h + hn, "%s%lld", d ? "," : "",
                                  (long long)(v == ST_NEGATIVE_SHAPE && i == 1 ? -e.shape[d] : e.shape[d]));
        hn += (size_t)sprintf(h + hn, "],\"data_offsets\":[%llu,%llu]%s}", (unsigned long long)off,
                              (unsigned long long)end, v == ST_UNKNOWN_KEY && i == 2 ? ",\"foo\":1" : "");
        off = end;
    }
    hn += (size_t)sprintf(h + hn, "}");
    if (v == ST_OFFSET_PAST) off -= 400; /* the data that is really there */
    if (v == ST_BAD_JSON) hn = 100;        /* cut inside the header text */
    while (hn % 8) h[hn++] = ' ';
    size_t n = 8 + hn + (size_t)off;
    uint8_t *file = calloc(1, n);
    uint64_t len = hn;
    if (v == ST_HEADER_HUGE) len = (uint64_t)1 << 60;
    if (v == ST_HEADER_PAST) len = (uint64_t)n + 100;
    for (int k = 0; k < 8; k++) file[k] = (uint8_t)(len >> (8 * k));
    memcpy(file + 8, h, hn);
    if (v == ST_TRUNCATED) n -= 100;
    put(rel, file, n);
    free(file);
    free(h);
}

/* ---- PNG ---------------------------------------------------------------------- */

static size_t png_chunk(uint8_t *out, const char *kind, const uint8_t *body, uint32_t n) {
    be32(out, n);
    memcpy(out + 4, kind, 4);
    if (n) memcpy(out + 8, body, n);
    uLong crc = crc32(0, out + 4, n + 4);
    be32(out + 8 + n, (uint32_t)crc);
    return 12 + (size_t)n;
}

/* A gray 8-bit w x h PNG. */
static bytes png_make(uint32_t w, uint32_t h) {
    uint8_t ihdr[13] = {0};
    be32(ihdr, w), be32(ihdr + 4, h);
    ihdr[8] = 8, ihdr[9] = 0;
    size_t raw_n = (size_t)h * (1 + w);
    uint8_t *raw = calloc(1, raw_n);
    for (size_t i = 0; i < raw_n; i++) raw[i] = i % (1 + w) ? (uint8_t)(i * 5) : 0;
    uLongf zn = compressBound((uLong)raw_n);
    uint8_t *z = malloc(zn);
    compress(z, &zn, raw, (uLong)raw_n);
    bytes b;
    b.p = scratch(8 + 25 + 12 + zn + 12);
    memcpy(b.p, "\x89PNG\r\n\x1a\n", 8);
    b.n = 8;
    b.n += png_chunk(b.p + b.n, "IHDR", ihdr, 13);
    b.n += png_chunk(b.p + b.n, "IDAT", z, (uint32_t)zn);
    b.n += png_chunk(b.p + b.n, "IEND", NULL, 0);
    free(raw);
    free(z);
    return b;
}

/* ---- the inputs ------------------------------------------------------------- */

static void build_inputs(void) {
    char path[1024];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/step/%s", CNN_FIXTURES_DIR, split_names[i]);
        good[i] = read_bytes(path);
    }
    bytes none = {NULL, 0};
    data_dir("good", -1, none, 0);
    snprintf(path, sizeof path, "%s/step/init.safetensors", CNN_FIXTURES_DIR);
    bytes w = read_bytes(path);
    put("good.safetensors", w.p, w.n);
    bytes png = png_make(28, 28);
    put("good.png", png.p, png.n);

    /* IDX images cut inside each header field, and in the data. */
    const bytes gi = good[0], gl = good[1];
    data_dir("img_cut_magic", 0, cut(gi, 2), 0);
    data_dir("img_cut_dims0", 0, cut(gi, 6), 0);
    data_dir("img_cut_dims1", 0, cut(gi, 10), 0);
    data_dir("img_cut_dims2", 0, cut(gi, 14), 0);
    data_dir("img_cut_data", 0, cut(gi, 16 + 1000), 0);
    data_dir("img_empty", 0, cut(gi, 0), 0);
    bytes trailing = {scratch(gi.n + 3), gi.n + 3};
    memcpy(trailing.p, gi.p, gi.n);
    memset(trailing.p + gi.n, 7, 3);
    data_dir("img_trailing", 0, trailing, 0);
    /* Wrong magic, dtype and ndim bytes; sizes out of range. */
    uint32_t d3[3] = {32, 28, 28};
    bytes b = idx_make(8, 3, 3, d3, 32 * 28 * 28);
    memcpy(b.p, "GIF8", 4);
    data_dir("img_magic", 0, b, 0);
    data_dir("img_dtype", 0, idx_make(0x0d, 3, 3, d3, 32 * 28 * 28), 0);
    data_dir("img_ndim", 0, idx_make(8, 1, 1, d3, 32), 0);
    uint32_t huge[3] = {0xFFFFFFFFu, 28, 28};
    data_dir("img_count_huge", 0, idx_make(8, 3, 3, huge, 0), 0);
    uint32_t zero_h[3] = {32, 0, 28};
    data_dir("img_height_zero", 0, idx_make(8, 3, 3, zero_h, 0), 0);
    uint32_t overflow[3] = {0x7FFFFFFFu, 65535, 65535};
    data_dir("img_product", 0, idx_make(8, 3, 3, overflow, 0), 0);
    /* Labels: cut, count mismatch, out of range (train and test). */
    data_dir("lab_cut_dims0", 1, cut(gl, 5), 0);
    uint32_t d31[1] = {31};
    data_dir("lab_count", 1, idx_make(8, 1, 1, d31, 31), 0);
    bytes lab10 = {scratch(gl.n), gl.n};
    memcpy(lab10.p, gl.p, gl.n);
    lab10.p[8 + 17] = 10;
    data_dir("lab_range", 1, lab10, 0);
    bytes lab255 = {scratch(good[3].n), good[3].n};
    memcpy(lab255.p, good[3].p, good[3].n);
    lab255.p[8 + 31] = 255;
    data_dir("t10k_lab_range", 3, lab255, 0);
    /* gzip: corrupt stream, truncated stream, a tiny file claiming a lot. */
    bytes z = gzip_bytes(gi.p, gi.n);
    bytes zc = {scratch(z.n), z.n};
    memcpy(zc.p, z.p, z.n);
    for (size_t i = z.n / 3; i < z.n / 3 + 16; i++) zc.p[i] ^= 0x5a;
    data_dir("gz_corrupt", 0, zc, 1);
    data_dir("gz_truncated", 0, cut(z, z.n / 2), 1);
    uint32_t claim[3] = {1000000, 28, 28};
    bytes hdr = idx_make(8, 3, 3, claim, 0);
    data_dir("gz_claims_more", 0, gzip_bytes(hdr.p, hdr.n), 1);
    data_dir("gz_not_gzip", 0, cut(z, 2), 1); /* only the gzip magic */
    /* Train and test images of different sizes (each file valid). */
    uint32_t d30[3] = {32, 30, 30};
    data_dir("size_mismatch", 0, idx_make(8, 3, 3, d30, 32 * 30 * 30), 0);
    /* Predict inputs. */
    put("cut.png", png.p, 50);
    bytes small = png_make(3, 2);
    put("small.png", small.p, small.n);
    put_text("text.png", "this is not an image\n");
    uint32_t d5[3] = {2, 5, 5};
    bytes i5 = idx_make(8, 3, 3, d5, 50);
    put("five.idx", i5.p, i5.n);
    put("labels_as_images.idx", gl.p, gl.n);

    /* Weights. */
    put_safetensors("missing.safetensors", ST_MISSING);
    put_safetensors("extra.safetensors", ST_EXTRA);
    put_safetensors("dtype.safetensors", ST_DTYPE);
    put_safetensors("shape.safetensors", ST_SHAPE);
    put_safetensors("offsets.safetensors", ST_OFFSET_PAST);
    put_safetensors("json.safetensors", ST_BAD_JSON);
    put_safetensors("hlen_huge.safetensors", ST_HEADER_HUGE);
    put_safetensors("hlen_past.safetensors", ST_HEADER_PAST);
    put_safetensors("truncated.safetensors", ST_TRUNCATED);
    put_safetensors("negative.safetensors", ST_NEGATIVE_SHAPE);
    put_safetensors("duplicate.safetensors", ST_DUPLICATE);
    put_safetensors("key.safetensors", ST_UNKNOWN_KEY);
    put("empty.safetensors", "", 0);
    put("short.safetensors", "\x10\0\0", 3);

    /* Model files. */
    put_text("m_syntax.txt", "nn.Sequential(\n    nn.Conv2d(1, 6, kernel_size=5,\n    nn.Sigmoid()\n");
    put_text("m_comma.txt", "nn.Sequential(nn.Flatten(),, nn.Linear(784, 10))");
    put_text("m_layer.txt", "nn.Sequential(nn.Conv3d(1, 6, 5), nn.Flatten(), nn.Linear(10, 10))");
    put_text("m_arg.txt", "nn.Sequential(nn.Flatten(), nn.Linear(784, 10, colour=3))");
    put_text("m_chain.txt", "nn.Sequential(nn.Flatten(), nn.Linear(100, 10))");
    put_text("m_kernel.txt", "nn.Sequential(nn.Conv2d(1, 4, kernel_size=29), nn.Flatten(), nn.Linear(4, 10))");
    put_text("m_channels.txt", "nn.Sequential(nn.Conv2d(3, 6, 5), nn.Flatten(), nn.Linear(6*24*24, 10))");
    put_text("m_absurd.txt", "nn.Sequential(nn.Conv2d(1, 100000000, 3), nn.Flatten(), nn.Linear(10, 10))");
    put_text("m_huge.txt", "nn.Sequential(nn.Flatten(), nn.Linear(784, 1000000), nn.Linear(1000000, 1000000),\n"
                           "    nn.Linear(1000000, 10))");
    put_text("m_negative.txt", "nn.Sequential(nn.Flatten(), nn.Linear(784, -10))");
    put_text("m_empty.txt", "");
    put_text("m_outputs.txt", "nn.Sequential(nn.Flatten(), nn.Linear(784, 5))"); /* labels go up to 9 */
    put_text("junk.tgz", "not a tarball\n");
}

/* ---- running the tool --------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *args;       /* space-separated, run in root; a leading '!' skips base_args */
    const char *expect[3];  /* substrings of stderr */
    const char *not_created; /* one more path that must not appear, or NULL */
} cli_case;

/* Prefixes added to the case's arguments so that the command would succeed
 * without the bad part. */
static const char *base_args(const char *cmd) {
    if (!strcmp(cmd, "train"))
        return "--data good --epochs 1 --batch-size 8 --quiet --save out.safetensors --log out.jsonl --plot out.svg";
    if (!strcmp(cmd, "eval")) return "--data good --weights good.safetensors";
    if (!strcmp(cmd, "predict")) return "--weights good.safetensors";
    return "";
}

static const char *outputs[] = {"out.safetensors", "out.jsonl", "out.svg"};

static int exists(const char *rel) {
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return stat(path, &st) == 0;
}

static void remove_rel(const char *rel) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    unlink(path);
}

/* Split "cmd rest" into argv: cnn, cmd, base args, rest. */
static int build_argv(char **argv, int cap, char *buf, size_t bufcap, const char *args, int with_base) {
    int argc = 0;
    argv[argc++] = "cnn";
    char first[64] = "";
    sscanf(args, "%63s", first);
    snprintf(buf, bufcap, "%s %s %s", first, with_base ? base_args(first) : "", args + strlen(first));
    for (char *tok = strtok(buf, " "); tok && argc < cap - 1; tok = strtok(NULL, " ")) argv[argc++] = tok;
    argv[argc] = NULL;
    return argc;
}

/* Run the tool; returns the wait status, or -1 if it hung (then killed). */
static int run_tool(char **argv, const char *stderr_path) {
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/cnn", CNN_BINARY_DIR);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        int err = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int out = open("/dev/null", O_WRONLY);
        if (err < 0 || out < 0 || chdir(root) != 0) _exit(127);
        dup2(out, 1);
        dup2(err, 2);
        execv(bin, argv);
        _exit(127);
    }
    int status = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > CASE_TIMEOUT_SECONDS) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        struct timespec nap = {0, 5 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return calloc(1, 1);
    char *s = calloc(1, 65537);
    size_t n = fread(s, 1, 65536, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

static int n_failed_cases;

static void run_case(const cli_case *c, int want_success) {
    char buf[2048], *argv[64], err_path[1100], cmdline[2048] = "";
    for (int k = 0; k < 3; k++) remove_rel(outputs[k]);
    int with_base = c->args[0] != '!';
    int argc = build_argv(argv, 64, buf, sizeof buf, c->args + !with_base, with_base);
    for (int k = 1; k < argc; k++) {
        strncat(cmdline, argv[k], sizeof cmdline - strlen(cmdline) - 2);
        strcat(cmdline, " ");
    }
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", root);
    int status = run_tool(argv, err_path);
    char *err = slurp(err_path);
    int ok = 1;
    char why[512] = "";
    if (status == -1) {
        ok = 0;
        snprintf(why, sizeof why, "did not finish within %d s (killed)", CASE_TIMEOUT_SECONDS);
    } else if (WIFSIGNALED(status)) {
        ok = 0;
        snprintf(why, sizeof why, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else if (want_success && WEXITSTATUS(status) != 0) {
        ok = 0;
        snprintf(why, sizeof why, "expected exit status 0, got %d", WEXITSTATUS(status));
    } else if (!want_success && WEXITSTATUS(status) != 1 && WEXITSTATUS(status) != 2) {
        ok = 0;
        snprintf(why, sizeof why, "expected exit status 1 or 2, got %d", WEXITSTATUS(status));
    } else if (strstr(err, "Sanitizer") || strstr(err, "runtime error:") || strstr(err, "internal error")) {
        ok = 0;
        snprintf(why, sizeof why, "sanitizer or internal error report on stderr");
    }
    for (int k = 0; ok && !want_success && k < 3 && c->expect[k]; k++) {
        if (!strstr(err, c->expect[k])) {
            ok = 0;
            snprintf(why, sizeof why, "stderr lacks \"%s\"", c->expect[k]);
        }
    }
    if (ok && !want_success) {
        for (int k = 0; k < 3; k++) {
            if (exists(outputs[k])) {
                ok = 0;
                snprintf(why, sizeof why, "output file %s was created", outputs[k]);
                break;
            }
        }
        if (ok && c->not_created && exists(c->not_created)) {
            ok = 0;
            snprintf(why, sizeof why, "%s was created", c->not_created);
        }
    }
    test__checked++;
    if (!ok) {
        test__failed++;
        n_failed_cases++;
        fprintf(stderr, "FAIL %s: cnn %s\n  %s\n  stderr: %s\n", c->name, cmdline, why, err[0] ? err : "(empty)\n");
    } else {
        printf("ok   %-22s %s", c->name, err[0] ? err : "(no message)\n");
        if (err[0] && err[strlen(err) - 1] != '\n') printf("\n");
    }
    free(err);
}

/* ---- the table ------------------------------------------------------------------ */

static const cli_case cases[] = {
    /* IDX images cut at each header field, and in the data */
    {"img_cut_magic", "train --data img_cut_magic", {"train-images-idx3-ubyte", "magic"}, NULL},
    {"img_cut_dims0", "train --data img_cut_dims0", {"train-images-idx3-ubyte", "dims[0]"}, NULL},
    {"img_cut_dims1", "train --data img_cut_dims1", {"train-images-idx3-ubyte", "dims[1]"}, NULL},
    {"img_cut_dims2", "train --data img_cut_dims2", {"train-images-idx3-ubyte", "dims[2]"}, NULL},
    {"img_cut_data", "train --data img_cut_data", {"train-images-idx3-ubyte", "truncated"}, NULL},
    {"img_empty", "train --data img_empty", {"train-images-idx3-ubyte", "magic"}, NULL},
    {"img_trailing", "train --data img_trailing", {"train-images-idx3-ubyte", "trailing"}, NULL},
    /* wrong magic / dtype / ndim, sizes out of range */
    {"img_magic", "train --data img_magic", {"train-images-idx3-ubyte", "magic"}, NULL},
    {"img_dtype", "train --data img_dtype", {"train-images-idx3-ubyte", "dtype"}, NULL},
    {"img_ndim", "train --data img_ndim", {"train-images-idx3-ubyte", "ndim"}, NULL},
    {"img_count_huge", "train --data img_count_huge", {"train-images-idx3-ubyte", "dims[0]"}, NULL},
    {"img_height_zero", "train --data img_height_zero", {"train-images-idx3-ubyte", "dims[1]"}, NULL},
    {"img_product", "train --data img_product", {"train-images-idx3-ubyte", "dims[1]", "larger than"}, NULL},
    /* labels */
    {"lab_cut_dims0", "train --data lab_cut_dims0", {"train-labels-idx1-ubyte", "dims[0]"}, NULL},
    {"lab_count", "train --data lab_count", {"train-labels-idx1-ubyte", "32", "31"}, NULL},
    {"lab_range", "train --data lab_range", {"train-labels-idx1-ubyte", "label #17", "10"}, NULL},
    {"t10k_lab_range", "eval --data t10k_lab_range", {"t10k-labels-idx1-ubyte", "label #31", "255"}, NULL},
    /* gzip */
    {"gz_corrupt", "train --data gz_corrupt", {"train-images-idx3-ubyte.gz", "gzip"}, NULL},
    {"gz_truncated", "train --data gz_truncated", {"train-images-idx3-ubyte.gz", "gzip"}, NULL},
    {"gz_claims_more", "train --data gz_claims_more", {"train-images-idx3-ubyte.gz", "data"}, NULL},
    {"gz_not_gzip", "train --data gz_not_gzip", {"train-images-idx3-ubyte.gz"}, NULL},
    {"no_data_dir", "train --data nowhere", {"nowhere", "not found"}, NULL},
    {"size_mismatch", "train --data size_mismatch", {"t10k-images-idx3-ubyte", "28x28", "30x30"}, NULL},
    /* predict inputs */
    {"png_cut", "predict cut.png", {"cut.png", "truncated"}, NULL},
    {"png_text", "predict text.png", {"text.png", "signature"}, NULL},
    {"png_missing", "predict nothere.png", {"nothere.png"}, NULL},
    {"idx_small", "predict five.idx", {"five.idx", "5x5"}, NULL},
    {"idx_labels", "predict labels_as_images.idx", {"labels_as_images.idx", "ndim"}, NULL},
    /* weights */
    {"st_missing", "eval --weights missing.safetensors", {"missing.safetensors", "11.bias", "missing"}, NULL},
    {"st_extra", "eval --weights extra.safetensors", {"extra.safetensors", "12.weight"}, NULL},
    {"st_dtype", "eval --weights dtype.safetensors", {"dtype.safetensors", "0.bias", "F64"}, NULL},
    {"st_shape", "eval --weights shape.safetensors", {"shape.safetensors", "0.weight", "[6, 1, 5, 4]"}, NULL},
    {"st_offsets", "eval --weights offsets.safetensors", {"offsets.safetensors", "11.bias"}, NULL},
    {"st_json", "eval --weights json.safetensors", {"json.safetensors", "header"}, NULL},
    {"st_hlen_huge", "eval --weights hlen_huge.safetensors", {"hlen_huge.safetensors", "header"}, NULL},
    {"st_hlen_past", "eval --weights hlen_past.safetensors", {"hlen_past.safetensors", "header"}, NULL},
    {"st_truncated", "predict --weights truncated.safetensors good.png", {"truncated.safetensors"}, NULL},
    {"st_negative", "eval --weights negative.safetensors", {"negative.safetensors", "shape"}, NULL},
    {"st_duplicate", "eval --weights duplicate.safetensors", {"duplicate.safetensors", "0.bias"}, NULL},
    {"st_key", "eval --weights key.safetensors", {"key.safetensors", "foo"}, NULL},
    {"st_empty", "eval --weights empty.safetensors", {"empty.safetensors"}, NULL},
    {"st_short", "eval --weights short.safetensors", {"short.safetensors"}, NULL},
    {"st_not_found", "eval --weights nothere.safetensors", {"nothere.safetensors"}, NULL},
    {"st_init", "train --init shape.safetensors", {"--init", "shape.safetensors", "0.weight"}, NULL},
    /* model files */
    {"m_syntax", "summary m_syntax.txt", {"m_syntax.txt:"}, NULL},
    {"m_comma", "summary m_comma.txt", {"m_comma.txt:1:"}, NULL},
    {"m_layer", "summary m_layer.txt", {"m_layer.txt:1:", "Conv3d"}, NULL},
    {"m_arg", "summary m_arg.txt", {"m_arg.txt:1:", "colour"}, NULL},
    {"m_chain", "summary m_chain.txt", {"m_chain.txt", "100", "784"}, NULL},
    {"m_kernel", "summary m_kernel.txt", {"m_kernel.txt", "29"}, NULL},
    {"m_channels", "summary m_channels.txt", {"m_channels.txt", "3"}, NULL},
    {"m_absurd", "summary m_absurd.txt", {"m_absurd.txt", "100000000"}, NULL},
    {"m_huge", "summary m_huge.txt", {"m_huge.txt"}, NULL},
    {"m_negative", "summary m_negative.txt", {"m_negative.txt", "-10"}, NULL},
    {"m_empty", "summary m_empty.txt", {"m_empty.txt"}, NULL},
    {"m_not_found", "summary nothere.txt", {"nothere.txt"}, NULL},
    {"m_train", "train --model m_chain.txt", {"m_chain.txt", "100"}, NULL},
    {"m_outputs", "train --model m_outputs.txt", {"train-labels-idx1-ubyte", "label #2", "5 outputs"}, NULL},
    /* options */
    {"opt_lr_negative", "train --lr -0.1", {"--lr", "-0.1"}, NULL},
    {"opt_lr_nan", "train --lr nan", {"--lr", "nan"}, NULL},
    {"opt_lr_huge", "train --lr 1e400", {"--lr", "1e400"}, NULL},
    {"opt_lr_missing", "train --lr", {"--lr", "value"}, NULL},
    {"opt_batch_zero", "train --batch-size 0", {"--batch-size", "0"}, NULL},
    {"opt_batch_text", "train --batch-size many", {"--batch-size", "many"}, NULL},
    {"opt_batch_overflow", "train --batch-size 99999999999999999999", {"--batch-size", "99999999999999999999"}, NULL},
    {"opt_epochs_frac", "train --epochs 1.5", {"--epochs", "1.5"}, NULL},
    {"opt_epochs_trailing", "train --epochs 3x", {"--epochs", "3x"}, NULL},
    {"opt_momentum", "train --momentum 1.5", {"--momentum", "1.5"}, NULL},
    {"opt_wd", "train --weight-decay -1", {"--weight-decay", "-1"}, NULL},
    {"opt_seed", "train --seed -1", {"--seed", "-1"}, NULL},
    {"opt_threads", "train --threads 0", {"--threads", "0"}, NULL},
    {"opt_max_steps", "train --max-steps 0", {"--max-steps", "0"}, NULL},
    {"opt_unknown", "train --bogus 3", {"--bogus"}, NULL},
    {"opt_init", "train --init kaiming", {"--init", "kaiming"}, NULL},
    {"opt_save_dir", "train --save nodir/w.safetensors", {"nodir/w.safetensors"}, NULL},
    {"eval_no_weights", "!eval --data good", {"--weights"}, NULL},
    {"eval_batch", "eval --batch-size -4", {"--batch-size", "-4"}, NULL},
    {"predict_classes", "predict --classes cats good.png", {"--classes", "cats"}, NULL},
    {"predict_no_input", "predict", {"INPUT"}, NULL},
    {"summary_shape", "summary --input-shape 1,28", {"--input-shape", "1,28"}, NULL},
    {"summary_shape_zero", "summary --input-shape 0,28,28", {"--input-shape", "0,28,28"}, NULL},
    {"summary_batch", "summary --batch-size x", {"--batch-size", "x"}, NULL},
    {"command", "fit --epochs 1", {"unknown command", "fit"}, NULL},
    {"data_dataset", "data fetch --dataset cifar --dir fetched", {"--dataset", "cifar"}, "fetched"},
    {"data_tarball", "data fetch --tarball junk.tgz --dir fetched", {"junk.tgz"}, "fetched"},
    {"data_sub", "data get", {"get"}, NULL},
};

int main(void) {
    char bin[1024];
    struct stat st;
    snprintf(bin, sizeof bin, "%s/cnn", CNN_BINARY_DIR);
    if (stat(bin, &st) != 0) {
        fprintf(stderr, "%s: not built\n", bin);
        return 1;
    }
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    build_inputs();

    /* The base command lines succeed on valid inputs. */
    static const cli_case valid[] = {
        {"valid_train", "train", {NULL}, NULL},
        {"valid_eval", "eval", {NULL}, NULL},
        {"valid_predict", "predict good.png", {NULL}, NULL},
        {"valid_predict_small", "predict small.png", {NULL}, NULL}, /* any size: resized to the model's input */
        {"valid_summary", "summary", {NULL}, NULL},
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        run_case(&valid[i], 1);
        if (i == 0) {
            for (int k = 0; k < 3; k++) {
                if (!exists(outputs[k])) fprintf(stderr, "valid_train did not write %s\n", outputs[k]);
                CHECK(exists(outputs[k]));
            }
        }
    }

    const int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) run_case(&cases[i], 0);
    printf("%d bad command lines, %d handled as expected\n", n, n - n_failed_cases);

    /* Clean up the directory tree (two levels). */
    DIR *d = opendir(root);
    char path[1200], sub[2400];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        DIR *d2 = opendir(path);
        for (struct dirent *e2; d2 && (e2 = readdir(d2));) {
            if (!strcmp(e2->d_name, ".") || !strcmp(e2->d_name, "..")) continue;
            snprintf(sub, sizeof sub, "%s/%s", path, e2->d_name);
            unlink(sub);
        }
        if (d2) closedir(d2), rmdir(path);
        else unlink(path);
    }
    if (d) closedir(d);
    rmdir(root);
    scratch_free();
    return test_report();
}
