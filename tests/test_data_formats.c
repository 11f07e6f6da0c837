/* test_data_formats.c — the data formats beyond IDX and the weights'
 * metadata:
 *   1. self-describing weights: cnn_model_save_info / cnn_weights_info_read
 *      round trip (model text, input shape, resize, normalize, class names
 *      with quotes and backslashes), cnn_model_create_from_weights, bad
 *      metadata named by key, a file without metadata;
 *   2. CIFAR-10/100 records: layout, fine and coarse labels, a truncated
 *      record, a label out of range, meta files through cnn_data_load;
 *   3. CSV: 1 x s x s and 3 x s x s, CRLF, and every malformed field;
 *   4. cnn_dataset_mean_std and the normalized batches. */
#include "cnn_internal.h"
#include "data/data.h"
#include "io/safetensors.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static const char *at(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void put(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

static int has(const char *needle) {
    if (strstr(cnn_last_error(), needle)) return 1;
    fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", cnn_last_error(), needle);
    return 0;
}

static const char *model_text = "nn.Sequential(nn.Conv2d(3, 4, kernel_size=3, padding=1), nn.ReLU(),\n"
                                "  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))";

static void test_weights_meta(void) {
    int64_t chw[3] = {3, 8, 6};
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, model_text, "test", chw));
    cnn_rng rng;
    cnn_rng_seed(&rng, 7);
    CHECK_OK(cnn_model_init_params(m, CNN_INIT_DEFAULT, &rng));
    char *names[3] = {"cat", "say \"hi\"", "back\\slash"};
    cnn_weights_info in = {0};
    in.model_text = (char *)model_text;
    in.resize_h = 8, in.resize_w = 6;
    in.normalize = 1;
    float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.247f, 0.2435f, 0.2616f};
    memcpy(in.mean, mean, sizeof mean);
    memcpy(in.std, std, sizeof std);
    in.num_classes = 3, in.class_names = names;
    const char *w = at("w.safetensors");
    CHECK_OK(cnn_model_save_info(m, w, &in));

    cnn_weights_info out;
    CHECK_OK(cnn_weights_info_read(&out, w));
    CHECK(out.model_text && strcmp(out.model_text, model_text) == 0);
    CHECK(out.version && strcmp(out.version, CNN_VERSION) == 0);
    CHECK_INT_EQ(out.input_chw[0], 3);
    CHECK_INT_EQ(out.input_chw[1], 8);
    CHECK_INT_EQ(out.input_chw[2], 6);
    CHECK_INT_EQ(out.resize_h, 8);
    CHECK_INT_EQ(out.resize_w, 6);
    CHECK_INT_EQ(out.normalize, 1);
    for (int k = 0; k < 3; k++) CHECK(out.mean[k] == mean[k] && out.std[k] == std[k]); /* %.9g: exact */
    CHECK_INT_EQ(out.num_classes, 3);
    for (int k = 0; k < 3 && out.class_names; k++) CHECK_STR_EQ(out.class_names[k], names[k]);
    cnn_weights_info_free(&out);

    /* the file alone gives the model back, with the same parameters */
    cnn_model *m2 = NULL;
    CHECK_OK(cnn_model_create_from_weights(&m2, &out, w));
    if (m2) {
        CHECK_INT_EQ(cnn_model_num_params(m2), cnn_model_num_params(m));
        CHECK(memcmp(cnn_model_params(m2), cnn_model_params(m), cnn_model_num_params(m) * sizeof(float)) == 0);
        int64_t c2[3];
        cnn_model_input_shape(m2, c2);
        CHECK(c2[0] == 3 && c2[1] == 8 && c2[2] == 6);
    }
    cnn_weights_info_free(&out);
    cnn_model_free(m2);

    /* a file without metadata (as PyTorch writes it) reads as "nothing recorded" */
    const char *plain = at("plain.safetensors");
    CHECK_OK(cnn_model_save(m, plain));
    CHECK_OK(cnn_weights_info_read(&out, plain));
    CHECK(out.model_text == NULL && out.input_chw[0] == 0 && out.class_names == NULL && !out.normalize);
    cnn_weights_info_free(&out);
    CHECK_STATUS(cnn_model_create_from_weights(&m2, &out, plain), CNN_ENOTFOUND);
    CHECK(has("cnn.model") && has("--model"));

    /* bad metadata: each named by its key, expected vs found */
    struct { const char *key, *value, *want; } bad[] = {
        {"cnn.input_shape", "3,32", "C,H,W"},
        {"cnn.input_shape", "3,0,32", "cnn.input_shape"},
        {"cnn.resize", "56", "H,W"},
        {"cnn.normalize", "0.5,0.5/0.2,0.2", "3 means"},
        {"cnn.normalize", "0.5,0.5,0.5/0.2,0,0.2", "stds > 0"},
        {"cnn.classes", "{\"a\": 1}", "array"},
        {"cnn.classes", "[\"a\", 3]", "item 1"},
        {"cnn.classes", "[\"a\"", "cnn.classes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t shape[1] = {2};
        float data[2] = {0, 0};
        cnn_st_write_tensor t = {"x", "F32", 1, shape, data};
        const char *meta[6] = {"cnn.model", model_text, "cnn.input_shape", "3,8,6", bad[i].key, bad[i].value};
        if (!strcmp(bad[i].key, "cnn.input_shape")) meta[3] = bad[i].value;
        const char *p = at("bad.safetensors");
        CHECK_OK(cnn_safetensors_write(p, &t, 1, meta, 3, 0));
        CHECK_STATUS(cnn_weights_info_read(&out, p), CNN_EFORMAT);
        CHECK(has(p) && has(bad[i].want));
        CHECK(out.model_text == NULL && out.class_names == NULL);
    }
    cnn_model_free(m);
}

/* n CIFAR records: label i % classes, pixel p of record i = (i * 7 + p) & 255 */
static size_t cifar_bytes(uint8_t *buf, int n, int cifar100) {
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        if (cifar100) buf[k++] = (uint8_t)(i % 20);
        buf[k++] = (uint8_t)(i % (cifar100 ? 100 : 10));
        for (int p = 0; p < 3072; p++) buf[k++] = (uint8_t)((i * 7 + p) & 255);
    }
    return k;
}

static void test_cifar(void) {
    static uint8_t buf[4 * 3074];
    cnn_dataset ds;
    size_t n = cifar_bytes(buf, 3, 0);
    CHECK_OK(cnn__cifar_parse(&ds, buf, n, 0, 0, "b.bin"));
    CHECK(ds.n == 3 && ds.c == 3 && ds.h == 32 && ds.w == 32);
    CHECK(ds.labels[2] == 2 && ds.images[3072 + 5] == 12 && ds.images[2 * 3072 + 1024] == (uint8_t)(14 + 1024));
    cnn_dataset_free(&ds);
    /* truncated: the cut record and its length */
    CHECK_STATUS(cnn__cifar_parse(&ds, buf, n - 100, 0, 0, "b.bin"), CNN_EFORMAT);
    CHECK(has("b.bin") && has("record #2") && has("3073") && has("2973") && has("truncated"));
    CHECK(ds.images == NULL && ds.n == 0);
    CHECK_STATUS(cnn__cifar_parse(&ds, buf, 0, 0, 0, "e.bin"), CNN_EFORMAT);
    CHECK(has("empty"));
    buf[3073] = 10; /* record #1's label */
    CHECK_STATUS(cnn__cifar_parse(&ds, buf, n, 0, 0, "b.bin"), CNN_ERANGE);
    CHECK(has("record #1") && has("0..9") && has("found 10"));
    /* CIFAR-100: fine by default, coarse on request */
    n = cifar_bytes(buf, 4, 1);
    buf[3 * 3074 + 1] = 99;
    CHECK_OK(cnn__cifar_parse(&ds, buf, n, 1, 0, "train.bin"));
    CHECK(ds.n == 4 && ds.labels[3] == 99 && ds.images[5] == 5);
    cnn_dataset_free(&ds);
    CHECK_OK(cnn__cifar_parse(&ds, buf, n, 1, 1, "train.bin"));
    CHECK(ds.labels[3] == 3);
    cnn_dataset_free(&ds);
    buf[0] = 20;
    CHECK_STATUS(cnn__cifar_parse(&ds, buf, n, 1, 0, "train.bin"), CNN_ERANGE);
    CHECK(has("record #0") && has("coarse label") && has("found 20"));
    buf[0] = 0, buf[1] = 100;
    CHECK_STATUS(cnn__cifar_parse(&ds, buf, n, 1, 0, "train.bin"), CNN_ERANGE);
    CHECK(has("fine label") && has("found 100"));

    /* a CIFAR-10 directory: two training batches, the test batch, meta names */
    n = cifar_bytes(buf, 2, 0);
    put(at("data_batch_1.bin"), buf, n);
    put(at("data_batch_2.bin"), buf, n);
    put(at("test_batch.bin"), buf, n);
    const char *meta = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
    put(at("batches.meta.txt"), meta, strlen(meta));
    CHECK_STR_EQ(cnn_data_format(dir), "cifar10");
    cnn_dataset train, test;
    CHECK_OK(cnn_data_load(&train, &test, dir, NULL));
    CHECK(train.n == 4 && test.n == 2 && train.num_classes == 10 && test.num_classes == 10);
    CHECK(train.class_names && strcmp(train.class_names[9], "truck") == 0);
    CHECK(test.class_names && strcmp(test.class_names[3], "cat") == 0);
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    /* a meta file with 9 names, a truncated batch: refused, naming the file */
    put(at("batches.meta.txt"), meta, 50);
    CHECK_STATUS(cnn_data_load(&train, &test, dir, NULL), CNN_EFORMAT);
    CHECK(has("batches.meta.txt") && has("expected 10 class names"));
    put(at("batches.meta.txt"), meta, strlen(meta));
    put(at("data_batch_2.bin"), buf, n - 1);
    CHECK_STATUS(cnn_data_load(&train, &test, dir, NULL), CNN_EFORMAT);
    CHECK(has("data_batch_2.bin") && has("record #1"));
    CHECK(train.images == NULL && test.images == NULL);
    unlink(at("data_batch_1.bin")), unlink(at("data_batch_2.bin")), unlink(at("test_batch.bin"));
    unlink(at("batches.meta.txt"));
}

static void test_csv(void) {
    cnn_dataset ds;
    const char *good = "label,pixel0,pixel1,pixel2,pixel3\n3,0,255,7,10\r\n9,1,2,3,4";
    CHECK_OK(cnn__csv_parse(&ds, good, strlen(good), "t.csv"));
    CHECK(ds.n == 2 && ds.c == 1 && ds.h == 2 && ds.w == 2);
    CHECK(ds.labels[0] == 3 && ds.labels[1] == 9 && ds.images[1] == 255 && ds.images[7] == 4);
    cnn_dataset_free(&ds);
    /* 12 pixels: 3 x 2 x 2, channel-major; a label of 60000 */
    const char *rgb = "label,a,b,c,d,e,f,g,h,i,j,k,l\n60000,1,2,3,4,5,6,7,8,9,10,11,12\n\n";
    CHECK_OK(cnn__csv_parse(&ds, rgb, strlen(rgb), "c.csv"));
    CHECK(ds.n == 1 && ds.c == 3 && ds.h == 2 && ds.w == 2 && ds.labels[0] == 60000 && ds.images[11] == 12);
    cnn_dataset_free(&ds);
    struct { const char *text, *want[3]; int status; } bad[] = {
        {"pixel0,pixel1\n1,2\n", {"line 1", "label,"}, CNN_EFORMAT},
        {"label\n1\n", {"line 1", "no pixel"}, CNN_EFORMAT},
        {"label,a,b,c,d\n", {"no examples"}, CNN_EFORMAT},
        {"label,a,b,c,d,e\n1,2,3,4,5,6\n", {"5 pixel columns"}, CNN_EFORMAT},
        {"label,a,b,c,d\n1,2,3,4\n", {"line 2", "5 fields", "fewer"}, CNN_EFORMAT},
        {"label,a,b,c,d\n1,2,3,4,5,6\n", {"line 2", "more"}, CNN_EFORMAT},
        {"label,a,b,c,d\n1,2,3,4,5\n1,2,256,4,5\n", {"line 3", "field 3", "found 256"}, CNN_ERANGE},
        {"label,a,b,c,d\n65535,2,3,4,5\n", {"line 2", "field 1 (label)", "65535"}, CNN_ERANGE},
        {"label,a,b,c,d\n1,2,-3,4,5\n", {"line 2", "field 3", "\"-3\""}, CNN_EFORMAT},
        {"label,a,b,c,d\n1,2,3.5,4,5\n", {"field 3", "3.5"}, CNN_EFORMAT},
        {"label,a,b,c,d\n1,2,,4,5\n", {"field 3", "integer"}, CNN_EFORMAT},
        {"label,a,b,c,d\n1,2,03,4,5\n", {"field 3", "03"}, CNN_EFORMAT},
        {"label,a,b,c,d\n1,2,3,4,5\n\n1,2,3,4,5\n", {"line 3", "empty line"}, CNN_EFORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = cnn__csv_parse(&ds, bad[i].text, strlen(bad[i].text), "bad.csv");
        CHECK_INT_EQ(rc, bad[i].status);
        CHECK(has("bad.csv"));
        for (int k = 0; k < 3 && bad[i].want[k]; k++) CHECK(has(bad[i].want[k]));
        CHECK(ds.images == NULL && ds.labels == NULL);
    }
    /* a CSV directory, with classes.txt naming the classes */
    const char *t = "label,p0,p1,p2,p3\n0,1,2,3,4\n1,5,6,7,8\n";
    put(at("train.csv"), t, strlen(t));
    put(at("test.csv"), t, strlen(t));
    put(at("classes.txt"), "zero\none\n", 9);
    CHECK_STR_EQ(cnn_data_format(dir), "csv");
    cnn_dataset train, test;
    CHECK_OK(cnn_data_load(&train, &test, dir, NULL));
    CHECK(train.n == 2 && test.n == 2 && train.num_classes == 2 && test.class_names &&
          strcmp(test.class_names[1], "one") == 0);
    CHECK(train.source && strstr(train.source, "train.csv"));
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    /* a label beyond the names */
    put(at("test.csv"), "label,p0,p1,p2,p3\n2,1,2,3,4\n", 28);
    CHECK_STATUS(cnn_data_load(&train, &test, dir, NULL), CNN_ERANGE);
    CHECK(has("classes.txt") && has("label #0"));
    unlink(at("train.csv")), unlink(at("test.csv")), unlink(at("classes.txt"));
    /* nothing there */
    CHECK_STATUS(cnn_data_load(&train, &test, dir, NULL), CNN_ENOTFOUND);
    CHECK(has(dir) && has("data set not found"));
    CHECK_STATUS(cnn_data_load(&train, &test, at("nowhere"), NULL), CNN_ENOTFOUND);
    CHECK(has("nowhere") && has("not found"));
}

static void test_normalize(void) {
    /* 2 images of 2 channels x 1 x 2: channel 0 holds 0, 51, 102, 153; channel 1 is constant */
    uint8_t px[8] = {0, 51, 10, 10, 102, 153, 10, 10};
    uint16_t lab[2] = {0, 1};
    cnn_dataset ds = {0};
    ds.n = 2, ds.c = 2, ds.h = 1, ds.w = 2, ds.images = px, ds.labels = lab;
    float mean[CNN_MAX_NORM_CHANNELS], std[CNN_MAX_NORM_CHANNELS];
    CHECK_OK(cnn_dataset_mean_std(&ds, mean, std));
    /* x / 255 = 0, 0.2, 0.4, 0.6: mean 0.3, population std sqrt(0.05) */
    CHECK(fabsf(mean[0] - 0.3f) < 1e-6f && fabsf(std[0] - 0.2236068f) < 1e-6f);
    CHECK(fabsf(mean[1] - 10.0f / 255.0f) < 1e-6f && std[1] == 1.0f); /* constant: only centred */
    cnn_train_config cfg;
    cnn_train_config_default(&cfg);
    cfg.normalize = 1;
    memcpy(cfg.mean, mean, sizeof mean);
    memcpy(cfg.std, std, sizeof std);
    float x[8];
    int32_t y[2];
    CHECK_OK(cnn_dataset_batch_prep(x, NULL, y, &ds, NULL, 0, 2, &cfg));
    CHECK(fabsf(x[0] - (0.0f - mean[0]) / std[0]) < 1e-6f && fabsf(x[5] - (0.6f - mean[0]) / std[0]) < 1e-6f);
    CHECK(fabsf(x[2]) < 1e-6f && y[1] == 1);
    cfg.std[1] = 0.0f;
    CHECK_STATUS(cnn_dataset_batch_prep(x, NULL, y, &ds, NULL, 0, 2, &cfg), CNN_ERANGE);
    CHECK(has("channel 1"));
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/cnn-test-formats-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_weights_meta();
    test_cifar();
    test_csv();
    test_normalize();
    unlink(at("w.safetensors")), unlink(at("plain.safetensors")), unlink(at("bad.safetensors"));
    rmdir(dir);
    return test_report();
}
