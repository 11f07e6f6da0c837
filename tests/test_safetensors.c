/* test_safetensors.c — safetensors weights: PyTorch's LeNet file loads and
 * gives PyTorch's logits; save writes the very bytes the reference writer
 * wrote; save -> load round-trips exactly; broken files fail with the right
 * status and a message naming the file and the problem, leaving the model's
 * weights untouched; random header damage never crashes the reader. */
#include "fixture.h"
#include "cnn_internal.h"
#include "io/safetensors.h"
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdint.h>
#include <unistd.h>

#define OUT_DIR CNN_BINARY_DIR "/test_safetensors_out"

static const char *lenet_text =
    "nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),\n"
    "              nn.AvgPool2d(kernel_size=2, stride=2),\n"
    "              nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),\n"
    "              nn.AvgPool2d(kernel_size=2, stride=2),\n"
    "              nn.Flatten(),\n"
    "              nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),\n"
    "              nn.Linear(120, 84), nn.Sigmoid(),\n"
    "              nn.Linear(84, 10))\n";

static cnn_model *make_lenet(void) {
    cnn_model *m = NULL;
    int rc = cnn_model_create_from_text(&m, lenet_text, "lenet", (int64_t[]){1, 28, 28});
    if (rc != CNN_OK) {
        fprintf(stderr, "cannot build LeNet: %s: %s\n", cnn_status_name(rc), cnn_last_error());
        exit(1);
    }
    return m;
}

static uint8_t *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) exit(1);
    fclose(f);
    *size = (size_t)n;
    return b;
}

static void write_all(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* A safetensors file from a header text (padded to 8) and a buffer. */
static void write_st(const char *path, const char *header, const uint8_t *buf, size_t buf_len) {
    size_t h = strlen(header), padded = (h + 7) / 8 * 8;
    uint8_t *out = malloc(8 + padded + buf_len + 1);
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(out + 8, header, h);
    memset(out + 8 + h, ' ', padded - h);
    if (buf_len) memcpy(out + 8 + padded, buf, buf_len);
    write_all(path, out, 8 + padded + buf_len);
    free(out);
}

/* The reference file, parsed once: entries in layout order with their bytes. */
static cnn_safetensors ref;

/* Rebuild the LeNet file with changes: the entry of tensor `name` is
 * replaced by `entry` ("{...}", where %llu %llu, if present, become the
 * offsets it gets), or
 * dropped when entry is NULL; `extra` entries are appended after all
 * ("name":{...} text without offsets handling). Offsets are assigned in
 * order, data copied from the reference. */
static void write_lenet_variant(const char *path, const char *name, const char *entry, const char *extra,
                                size_t extra_bytes) {
    char header[8192];
    uint8_t *buf = calloc(ref.data_size + extra_bytes + 1, 1);
    size_t len = 0, off = 0;
    len += (size_t)snprintf(header + len, sizeof header - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < ref.n_tensors; i++) {
        const cnn_st_tensor *t = &ref.tensors[i];
        size_t nb = (size_t)(t->end - t->begin);
        int is_target = name && strcmp(t->name, name) == 0;
        if (is_target && !entry) continue;
        len += (size_t)snprintf(header + len, sizeof header - len, ",\"%s\":", t->name);
        if (is_target) {
            len += (size_t)snprintf(header + len, sizeof header - len, entry, (unsigned long long)off,
                                    (unsigned long long)(off + nb));
        } else {
            char shape[200];
            snprintf(shape, sizeof shape, "%s", cnn__shape_str(t->ndim, t->shape).s);
            /* "[6, 1, 5, 5]" -> JSON allows the spaces. */
            len += (size_t)snprintf(header + len, sizeof header - len,
                                    "{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%llu,%llu]}", shape,
                                    (unsigned long long)off, (unsigned long long)(off + nb));
        }
        memcpy(buf + off, ref.data + t->begin, nb);
        off += nb;
    }
    if (extra) len += (size_t)snprintf(header + len, sizeof header - len, ",%s", extra);
    snprintf(header + len, sizeof header - len, "}");
    write_st(path, header, buf, off + extra_bytes);
    free(buf);
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* Load must fail with `want`, the message must name the file and each of the
 * words, and the model's parameters must be unchanged. */
static void expect_load_fails(cnn_model *m, const char *path, int want, const char *w1, const char *w2) {
    size_t n = cnn_model_num_params(m);
    float *before = malloc(n * sizeof *before);
    memcpy(before, cnn_model_params(m), n * sizeof *before);
    cnn_clear_error();
    CHECK_STATUS(cnn_model_load(m, path), want);
    const char *msg = cnn_last_error();
    test__checked++;
    if (!contains(msg, path) || (w1 && !contains(msg, w1)) || (w2 && !contains(msg, w2))) {
        test__failed++;
        fprintf(stderr, "  %s: message \"%s\" should name the file and contain \"%s\" and \"%s\"\n", path, msg,
                w1 ? w1 : "", w2 ? w2 : "");
    }
    test__checked++;
    if (memcmp(before, cnn_model_params(m), n * sizeof *before) != 0) {
        test__failed++;
        fprintf(stderr, "  %s: a failed load changed the weights\n", path);
    }
    free(before);
}

static void test_lenet_reference(void) {
    fixture_case *cs;
    int nc = fixture_load(CNN_FIXTURES_DIR "/safetensors_lenet.txt", &cs);
    CHECK(nc == 1);
    if (nc != 1) return;
    const cnn_tensor *x = fixture_tensor(&cs[0], "x"), *want = fixture_tensor(&cs[0], "logits");
    const cnn_tensor *w0 = fixture_tensor(&cs[0], "w0_head"), *b11 = fixture_tensor(&cs[0], "b11");
    CHECK(x && want && w0 && b11);
    if (!x || !want || !w0 || !b11) return;

    cnn_model *m = make_lenet();
    CHECK_INT_EQ(cnn_model_num_tensors(m), fixture_int(&cs[0], "num_tensors", -1));
    CHECK_OK(cnn_model_load(m, CNN_FIXTURES_DIR "/lenet_torch.safetensors"));

    /* Sample weights where the model keeps them. */
    cnn_param_info info;
    for (int i = 0; i < cnn_model_num_tensors(m); i++) {
        CHECK_OK(cnn_model_tensor_info(m, i, &info));
        const float *p = cnn_model_params(m) + info.offset;
        if (strcmp(info.name, "0.weight") == 0) CHECK_CLOSE("0.weight[:8]", p, w0->data, 8, 0, 0);
        if (strcmp(info.name, "11.bias") == 0) CHECK_CLOSE("11.bias", p, b11->data, 10, 0, 0);
    }

    /* Forward with PyTorch's weights gives PyTorch's logits. */
    const float *logits = NULL;
    CHECK_OK(cnn_model_reserve(m, 2));
    CHECK_OK(cnn_model_forward(m, &logits, x->data, 2, 0, NULL));
    if (logits) CHECK_CLOSE("LeNet logits", logits, want->data, 20, 1e-5, 1e-5);

    /* Save writes the bytes the reference writer wrote. */
    size_t ref_size, out_size;
    CHECK_OK(cnn_model_save(m, OUT_DIR "/lenet_cnn.safetensors"));
    uint8_t *a = read_all(CNN_FIXTURES_DIR "/lenet_torch.safetensors", &ref_size);
    uint8_t *b = read_all(OUT_DIR "/lenet_cnn.safetensors", &out_size);
    CHECK_INT_EQ(out_size, ref_size);
    CHECK_INT_EQ(out_size, fixture_int(&cs[0], "file_bytes", -1));
    CHECK(out_size == ref_size && memcmp(a, b, ref_size) == 0);
    free(a);
    free(b);

    /* Round trip into a fresh model: identical parameter bytes. */
    cnn_model *m2 = make_lenet();
    CHECK_OK(cnn_model_load(m2, OUT_DIR "/lenet_cnn.safetensors"));
    CHECK_INT_EQ(cnn_model_num_params(m2), cnn_model_num_params(m));
    CHECK(memcmp(cnn_model_params(m2), cnn_model_params(m), cnn_model_num_params(m) * sizeof(float)) == 0);

    /* Random weights round-trip too (every bit pattern, including -0). */
    cnn_rng rng;
    cnn_rng_seed(&rng, 42);
    CHECK_OK(cnn_model_init_params(m, CNN_INIT_XAVIER, &rng));
    cnn_model_params(m)[0] = -0.0f;
    CHECK_OK(cnn_model_save(m, OUT_DIR "/lenet_random.safetensors"));
    CHECK_OK(cnn_model_save(m, OUT_DIR "/lenet_random.safetensors")); /* overwrite in place */
    CHECK_OK(cnn_model_load(m2, OUT_DIR "/lenet_random.safetensors"));
    CHECK(memcmp(cnn_model_params(m2), cnn_model_params(m), cnn_model_num_params(m) * sizeof(float)) == 0);

    cnn_model_free(m);
    cnn_model_free(m2);
    fixture_free(cs, nc);
}

static void test_broken_files(void) {
    cnn_model *m = make_lenet();
    CHECK_OK(cnn_model_load(m, CNN_FIXTURES_DIR "/lenet_torch.safetensors"));
    size_t size;
    uint8_t *good = read_all(CNN_FIXTURES_DIR "/lenet_torch.safetensors", &size);
    char path[512];
#define P(name) (snprintf(path, sizeof path, OUT_DIR "/%s.safetensors", name), path)

    /* An unchanged rebuild loads, so the variants below differ in one thing only. */
    write_lenet_variant(P("rebuilt"), NULL, NULL, NULL, 0);
    CHECK_OK(cnn_model_load(m, path));

    write_all(P("short"), good, 5);
    expect_load_fails(m, path, CNN_EFORMAT, "too short", NULL);

    uint8_t *bad = malloc(size);
    memcpy(bad, good, size);
    uint64_t n = size; /* header length larger than the file */
    for (int i = 0; i < 8; i++) bad[i] = (uint8_t)(n >> (8 * i));
    write_all(P("header_past_file"), bad, size);
    expect_load_fails(m, path, CNN_EFORMAT, "header length", "exceeds");

    n = (uint64_t)1 << 40; /* over the 100 MB limit */
    for (int i = 0; i < 8; i++) bad[i] = (uint8_t)(n >> (8 * i));
    write_all(P("header_huge"), bad, size);
    expect_load_fails(m, path, CNN_EFORMAT, "limit", NULL);
    free(bad);

    write_all(P("truncated"), good, size - 100);
    expect_load_fails(m, path, CNN_EFORMAT, "9.weight", "past the end");

    write_st(P("json_trailing_comma"), "{\"0.bias\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]},}",
             good, 24);
    expect_load_fails(m, path, CNN_EFORMAT, "JSON", "trailing comma");
    write_st(P("json_unterminated"), "{\"0.bias\":{\"dtype\":\"F32", NULL, 0);
    expect_load_fails(m, path, CNN_EFORMAT, "JSON", "unterminated");
    write_st(P("json_array"), "[1, 2, 3]", NULL, 0);
    expect_load_fails(m, path, CNN_EFORMAT, "'{'", NULL);
    write_st(P("json_bad_utf8"), "{\"0.bias\xff\":{}}", NULL, 0);
    expect_load_fails(m, path, CNN_EFORMAT, "UTF-8", NULL);
    write_st(P("json_nan"), "{\"a\":{\"dtype\":\"F32\",\"shape\":[NaN],\"data_offsets\":[0,4]}}", good, 4);
    expect_load_fails(m, path, CNN_EFORMAT, "JSON", NULL);
    write_st(P("empty_name"), "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", good, 4);
    expect_load_fails(m, path, CNN_EFORMAT, "empty name", NULL);

    write_lenet_variant(P("dtype_f16"), "0.bias", "{\"dtype\":\"F16\",\"shape\":[12],\"data_offsets\":[%llu,%llu]}",
                        NULL, 0);
    expect_load_fails(m, path, CNN_EFORMAT, "0.bias", "F16");
    write_lenet_variant(P("dtype_unknown"), "0.bias", "{\"dtype\":\"F33\",\"shape\":[6],\"data_offsets\":[%llu,%llu]}",
                        NULL, 0);
    expect_load_fails(m, path, CNN_EFORMAT, "0.bias", "unknown dtype \"F33\"");
    write_lenet_variant(P("shape_model"), "0.weight",
                        "{\"dtype\":\"F32\",\"shape\":[6,1,25,1],\"data_offsets\":[%llu,%llu]}", NULL, 0);
    expect_load_fails(m, path, CNN_ESHAPE, "expected shape [6, 1, 5, 5]", "found [6, 1, 25, 1]");
    write_lenet_variant(P("shape_bytes"), "0.weight",
                        "{\"dtype\":\"F32\",\"shape\":[6,1,5,4],\"data_offsets\":[%llu,%llu]}", NULL, 0);
    expect_load_fails(m, path, CNN_EFORMAT, "0.weight", "needs 480");
    write_lenet_variant(P("shape_negative"), "0.bias", "{\"dtype\":\"F32\",\"shape\":[-6],\"data_offsets\":[%llu,%llu]}",
                        NULL, 0);
    expect_load_fails(m, path, CNN_EFORMAT, "0.bias", "shape[0]");
    write_lenet_variant(P("shape_float"), "0.bias", "{\"dtype\":\"F32\",\"shape\":[6.0],\"data_offsets\":[%llu,%llu]}",
                        NULL, 0);
    expect_load_fails(m, path, CNN_EFORMAT, "0.bias", "shape[0]");
    write_lenet_variant(P("unknown_key"), "0.bias",
                        "{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[%llu,%llu],\"offsets\":[0,24]}", NULL, 0);
    expect_load_fails(m, path, CNN_EFORMAT, "0.bias", "unknown key \"offsets\"");
    write_lenet_variant(P("missing_key"), "0.bias", "{\"dtype\":\"F32\",\"data_offsets\":[%llu,%llu]}", NULL, 0);
    expect_load_fails(m, path, CNN_EFORMAT, "0.bias", "missing \"shape\"");
    /* 9.weight is last in the buffer; move it 40 bytes further. */
    write_lenet_variant(P("offsets_past_end"), "9.weight",
                        "{\"dtype\":\"F32\",\"shape\":[84,120],\"data_offsets\":[%llu,%llu]}", NULL, 0);
    CHECK_OK(cnn_model_load(m, path)); /* the template itself is right */
    {
        /* Same entry, offsets shifted by hand. */
        const cnn_st_tensor *t = cnn_safetensors_find(&ref, "9.weight");
        char entry[256];
        snprintf(entry, sizeof entry, "{\"dtype\":\"F32\",\"shape\":[84,120],\"data_offsets\":[%llu,%llu]}",
                 (unsigned long long)t->begin + 40, (unsigned long long)t->end + 40);
        write_lenet_variant(P("offsets_past_end"), "9.weight", entry, NULL, 0);
        expect_load_fails(m, path, CNN_EFORMAT, "9.weight", "past the end");
    }
    write_lenet_variant(P("offsets_overlap"), "0.weight",
                        "{\"dtype\":\"F32\",\"shape\":[6,1,5,5],\"data_offsets\":[20,620]}", NULL, 0);
    expect_load_fails(m, path, CNN_EFORMAT, "0.weight", "overlap");
    write_lenet_variant(P("offsets_reversed"), "0.bias", "{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[24,0]}",
                        NULL, 0);
    expect_load_fails(m, path, CNN_EFORMAT, "0.bias", "end before begin");
    write_lenet_variant(P("trailing_bytes"), NULL, NULL, NULL, 4);
    expect_load_fails(m, path, CNN_EFORMAT, "trailing data", NULL);
    write_lenet_variant(P("missing_tensor"), "3.bias", NULL, NULL, 0);
    expect_load_fails(m, path, CNN_ENOTFOUND, "'3.bias'", "missing");
    {
        char extra[256];
        snprintf(extra, sizeof extra, "\"12.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%llu,%llu]}",
                 (unsigned long long)ref.data_size, (unsigned long long)ref.data_size + 8);
        write_lenet_variant(P("extra_tensor"), NULL, NULL, extra, 8);
        expect_load_fails(m, path, CNN_EFORMAT, "unexpected tensor '12.weight'", NULL);
        snprintf(extra, sizeof extra, "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%llu,%llu]}",
                 (unsigned long long)ref.data_size, (unsigned long long)ref.data_size + 8);
        write_lenet_variant(P("duplicate_name"), NULL, NULL, extra, 8);
        expect_load_fails(m, path, CNN_EFORMAT, "duplicate tensor name '0.bias'", NULL);
    }
    write_st(P("metadata_number"),
             "{\"__metadata__\":{\"epochs\":10},\"0.bias\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]}}",
             good, 24);
    expect_load_fails(m, path, CNN_EFORMAT, "__metadata__", "must be a string");

    expect_load_fails(m, OUT_DIR "/does_not_exist.safetensors", CNN_ENOTFOUND, "cannot open", NULL);
    expect_load_fails(m, OUT_DIR, CNN_EIO, "not a regular file", NULL);

    /* The model still holds PyTorch's weights. */
    cnn_model *fresh = make_lenet();
    CHECK_OK(cnn_model_load(fresh, CNN_FIXTURES_DIR "/lenet_torch.safetensors"));
    CHECK(memcmp(cnn_model_params(fresh), cnn_model_params(m), cnn_model_num_params(m) * sizeof(float)) == 0);
    cnn_model_free(fresh);
    free(good);
    cnn_model_free(m);
#undef P
}

/* Generic reader/writer: scalars, empty tensors, names needing JSON escapes,
 * metadata; bad writer arguments; a failed write leaves no file behind. */
static void test_generic(void) {
    const float a[6] = {1, -2, 3.5f, 1e-30f, -0.0f, 65504};
    const float s[1] = {7};
    const int64_t sa[2] = {2, 3}, se[2] = {0, 4};
    const cnn_st_write_tensor ts[] = {
        {"z\"quote\\back\nline\x01", "F32", 2, sa, a},
        {"scalar", "F32", 0, NULL, s},
        {"empty", "F32", 2, se, NULL},
        {"caf\xc3\xa9", "F32", 1, sa, a},
    };
    const char *meta[] = {"format", "pt", "note", "tab\there"};
    CHECK_OK(cnn_safetensors_write(OUT_DIR "/generic.safetensors", ts, 4, meta, 2, 0));
    cnn_safetensors st;
    CHECK_OK(cnn_safetensors_read(&st, OUT_DIR "/generic.safetensors"));
    CHECK_INT_EQ(st.n_tensors, 4);
    CHECK_INT_EQ(st.n_meta, 2);
    if (st.n_meta == 2) {
        CHECK_STR_EQ(st.meta_keys[1], "note");
        CHECK_STR_EQ(st.meta_values[1], "tab\there");
    }
    /* Layout order is byte order of the names. */
    if (st.n_tensors == 4) {
        CHECK_STR_EQ(st.tensors[0].name, "caf\xc3\xa9");
        CHECK_STR_EQ(st.tensors[1].name, "empty");
        CHECK_STR_EQ(st.tensors[2].name, "scalar");
        CHECK_STR_EQ(st.tensors[3].name, "z\"quote\\back\nline\x01");
    }
    const cnn_st_tensor *t = cnn_safetensors_find(&st, "z\"quote\\back\nline\x01");
    CHECK(t != NULL);
    if (t) {
        float got[6];
        CHECK_INT_EQ(t->ndim, 2);
        CHECK_OK(cnn_safetensors_get_f32(&st, t, got));
        CHECK(memcmp(got, a, sizeof a) == 0);
    }
    t = cnn_safetensors_find(&st, "scalar");
    CHECK(t && t->ndim == 0 && t->end - t->begin == 4);
    t = cnn_safetensors_find(&st, "empty");
    CHECK(t && t->ndim == 2 && t->shape[0] == 0 && t->begin == t->end);
    CHECK(cnn_safetensors_find(&st, "nope") == NULL);
    cnn_safetensors_free(&st);

    /* The header is what serde_json writes, padded to 8 bytes. */
    size_t size;
    uint8_t *raw = read_all(OUT_DIR "/generic.safetensors", &size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | raw[i];
    CHECK_INT_EQ(hlen % 8, 0);
    raw[8 + hlen - 1] = '\0';
    CHECK(strstr((char *)raw + 8, "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"tab\\there\"},"
                                  "\"caf\xc3\xa9\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                  "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[8,8]},"
                                  "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]}") ==
          (char *)raw + 8);
    CHECK(strstr((char *)raw + 8, "\"z\\\"quote\\\\back\\nline\\u0001\":") != NULL);
    free(raw);

    /* Writer argument errors. */
    const cnn_st_write_tensor dup[] = {{"a", "F32", 1, sa, a}, {"a", "F32", 1, sa, a}};
    CHECK_STATUS(cnn_safetensors_write(OUT_DIR "/dup.safetensors", dup, 2, NULL, 0, 0), CNN_EINVAL);
    const cnn_st_write_tensor reserved[] = {{"__metadata__", "F32", 1, sa, a}};
    CHECK_STATUS(cnn_safetensors_write(OUT_DIR "/dup.safetensors", reserved, 1, NULL, 0, 0), CNN_EINVAL);
    const int64_t neg[1] = {-1};
    const cnn_st_write_tensor negative[] = {{"a", "F32", 1, neg, a}};
    CHECK_STATUS(cnn_safetensors_write(OUT_DIR "/dup.safetensors", negative, 1, NULL, 0, 0), CNN_EINVAL);
    CHECK(access(OUT_DIR "/dup.safetensors", F_OK) != 0);

    /* Unwritable destination: an error naming the path, and no file. */
    cnn_model *m = make_lenet();
    CHECK_STATUS(cnn_model_save(m, OUT_DIR "/no/such/dir/w.safetensors"), CNN_EIO);
    CHECK(contains(cnn_last_error(), OUT_DIR "/no/such/dir/w.safetensors"));
    CHECK_STATUS(cnn_model_save(m, OUT_DIR), CNN_EIO); /* rename over a directory */
    cnn_model_free(m);

    /* No temporary file is left behind by any of the writes above. */
    DIR *d = opendir(OUT_DIR);
    CHECK(d != NULL);
    for (struct dirent *e; d && (e = readdir(d));) {
        test__checked++;
        if (strstr(e->d_name, ".tmp.")) {
            test__failed++;
            fprintf(stderr, "temporary file left behind: %s\n", e->d_name);
        }
    }
    if (d) closedir(d);
}

/* Damage the reference file's header at random and truncate it at every
 * length: the reader must answer OK or EFORMAT with a message, never crash. */
static void test_fuzz(void) {
    size_t size;
    uint8_t *good = read_all(CNN_FIXTURES_DIR "/lenet_torch.safetensors", &size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | good[i];
    uint8_t *bad = malloc(size);
    cnn_rng rng;
    cnn_rng_seed(&rng, 7);
    int ok = 0, failed = 0, other = 0;
    const char alphabet[] = "{}[]\",:0123456789-.eE \\u\x80\xff";
    for (int it = 0; it < 3000; it++) {
        memcpy(bad, good, size);
        int edits = 1 + (int)cnn_rng_below(&rng, 4);
        for (int e = 0; e < edits; e++) {
            uint64_t at = cnn_rng_below(&rng, 8 + hlen);
            bad[at] = cnn_rng_below(&rng, 2) ? (uint8_t)alphabet[cnn_rng_below(&rng, sizeof alphabet - 1)]
                                             : (uint8_t)cnn_rng_next(&rng);
        }
        cnn_safetensors st;
        cnn_clear_error();
        int rc = cnn_safetensors_parse(&st, bad, size, "fuzz");
        if (rc == CNN_OK) ok++, cnn_safetensors_free(&st);
        else if (rc == CNN_EFORMAT && cnn_last_error()[0]) failed++;
        else other++;
    }
    for (uint64_t len = 0; len <= 8 + hlen + 16; len++) {
        cnn_safetensors st;
        int rc = cnn_safetensors_parse(&st, good, len, "truncated");
        if (rc == CNN_OK) ok++, cnn_safetensors_free(&st);
        else if (rc == CNN_EFORMAT) failed++;
        else other++;
    }
    CHECK_INT_EQ(other, 0);
    CHECK(failed > 1000);
    printf("fuzz: %d accepted, %d rejected\n", ok, failed);
    free(bad);
    free(good);
}

int main(void) {
    if (mkdir(OUT_DIR, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", OUT_DIR);
        return 1;
    }
    CHECK_OK(cnn_safetensors_read(&ref, CNN_FIXTURES_DIR "/lenet_torch.safetensors"));
    test_lenet_reference();
    test_broken_files();
    test_generic();
    test_fuzz();
    cnn_safetensors_free(&ref);
    return test_report();
}
