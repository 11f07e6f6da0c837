/* test_formats_cli.c — every data format end to end, and the references:
 *   1. a 3-channel ResNet-style model (models/resnet-cifar.txt, 3 x 32 x 32)
 *      trained briefly on the CIFAR-10, 4-D IDX, CSV and image-folder sets of
 *      tests/fixtures/formats (made by tools/fixtures/gen_data_formats.py);
 *      eval and predict then run with the weights file alone;
 *   2. one SGD step of a 3-channel model with Normalize equals PyTorch's to 1e-5;
 *   3. JPEG decoding equals libjpeg-turbo's as PIL reports it (baseline, gray,
 *      progressive), CMYK is refused; resizing bytes equals torchvision's
 *      Resize on a uint8 tensor, exactly;
 *   4. bad input: an empty class folder, a non-image file, an unreadable
 *      file, a corrupt image, mixed channel counts, a missing class folder,
 *      and a stale or corrupt cache (rebuilt, never trusted). */
#include "cnn_internal.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define F CNN_FIXTURES_DIR "/formats"

static char dir[64];

static const char *at(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Run cnn with args, stdout to out (or /dev/null), stderr to err (or /dev/null). */
static int run_cnn(char *const args[], const char *out, const char *err) {
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(out ? out : "/dev/null", "w", stdout)) _exit(127);
        if (!freopen(err ? err : "/dev/null", "w", stderr)) _exit(127);
        execv(CNN_BINARY_DIR "/cnn", args);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path, size_t *len) {
    char *b = NULL;
    size_t n = 0;
    if (cnn_file_read(path, (size_t)1 << 26, &b, &n) != CNN_OK) return NULL;
    if (len) *len = n;
    return b;
}

static int file_has(const char *path, const char *needle) {
    char *t = slurp(path, NULL);
    int ok = t && strstr(t, needle);
    if (!ok) fprintf(stderr, "  %s lacks \"%s\":\n%s\n", path, needle, t ? t : "(unreadable)");
    cnn_free(t);
    return ok;
}

static int sh(const char *cmd) {
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The JSON lines a and b name the same inputs and classes, with logits
 * within 1e-5 (the kernels may round differently for another batch size);
 * want lines each. */
static int same_predictions(const char *a, const char *b, int want) {
    int lines = 0;
    while (a && b && *a && *b) {
        const char *la = strstr(a, "\"logits\": ["), *lb = strstr(b, "\"logits\": [");
        if (!la || !lb || la - a != lb - b || strncmp(a, b, (size_t)(la - a)) != 0) return 0;
        char *ea, *eb;
        la += 11, lb += 11;
        for (;;) {
            double x = strtod(la, &ea), y = strtod(lb, &eb);
            if (ea == la || eb == lb || fabs(x - y) > 1e-5) return 0;
            if (*ea != ',' || *eb != ',') break;
            la = ea + 1, lb = eb + 1;
        }
        const char *na = strchr(ea, '\n'), *nb = strchr(eb, '\n');
        if (!na || !nb || na - ea != nb - eb || strncmp(ea, eb, (size_t)(na - ea)) != 0) return 0;
        a = na + 1, b = nb + 1;
        lines++;
    }
    return a && b && !*a && !*b && lines == want;
}

/* 1. train on each format; eval and predict with the weights alone */
static void test_formats(void) {
    char folder[512];
    snprintf(folder, sizeof folder, "%s/folder", dir);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp -r '%s/folder' '%s/'", F, dir);
    CHECK_INT_EQ(sh(cmd), 0);
    struct { const char *name, *data, *resize, *predict; } sets[] = {
        {"cifar10", F "/cifar10", NULL, F "/folder/test/cat/test_0.jpg"},
        {"idx4", F "/idx4", NULL, F "/idx4/t10k-images-idx4-ubyte.gz"},
        {"csv", F "/csv", NULL, F "/jpeg/rgb.jpg"},
        {"folder", folder, "32", F "/folder/test/cat/test_0.jpg"},
    };
    /* the same layers but Tanh for ReLU: another function, refused as --model */
    char *text = slurp(CNN_SOURCE_DIR "/models/resnet-cifar.txt", NULL);
    CHECK(text != NULL);
    for (char *p = text ? strstr(text, "nn.ReLU()") : NULL; p; p = strstr(p, "nn.ReLU()")) memcpy(p, "nn.Tanh()", 9);
    if (text) CHECK_OK(cnn_file_write(at("tanh.txt"), text, strlen(text)));
    cnn_free(text);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        char w[512], out[512], err[512];
        snprintf(w, sizeof w, "%s/%s.safetensors", dir, sets[i].name);
        snprintf(out, sizeof out, "%s/out.txt", dir);
        snprintf(err, sizeof err, "%s/err.txt", dir);
        char *train[] = {"cnn", "train", "--data", (char *)sets[i].data, "--model", CNN_SOURCE_DIR "/models/resnet-cifar.txt",
                         "--epochs", "1", "--batch-size", "10", "--lr", "0.05", "--normalize", "auto", "--threads", "2",
                         "--quiet", "--save", w, sets[i].resize ? "--resize" : NULL, (char *)sets[i].resize, NULL};
        int rc = run_cnn(train, out, err);
        CHECK_INT_EQ(rc, 0);
        if (rc) fprintf(stderr, "  train on %s failed\n", sets[i].name), file_has(err, "?");
        /* the weights describe themselves */
        cnn_weights_info info;
        CHECK_OK(cnn_weights_info_read(&info, w));
        CHECK(info.model_text && strstr(info.model_text, "Residual(16, 32"));
        CHECK(info.input_chw[0] == 3 && info.input_chw[1] == 32 && info.input_chw[2] == 32);
        CHECK(info.normalize && info.std[0] > 0.0f);
        CHECK(info.num_classes == 10 && info.class_names && strcmp(info.class_names[9], "truck") == 0);
        CHECK(strcmp(sets[i].name, "folder") ? info.resize_h == 0 : info.resize_h == 32 && info.resize_w == 32);
        cnn_weights_info_free(&info);
        /* eval and predict with nothing but the weights (and the data) */
        char *eval[] = {"cnn", "eval", "--weights", w, "--data", (char *)sets[i].data, "--threads", "2", NULL};
        CHECK_INT_EQ(run_cnn(eval, out, err), 0);
        CHECK(file_has(out, "test acc ") && file_has(out, "(10 images") && file_has(out, "truck"));
        char *pred[] = {"cnn", "predict", "--weights", w, "--topk", "3", "--json", (char *)sets[i].predict, NULL};
        CHECK_INT_EQ(run_cnn(pred, out, err), 0);
        CHECK(file_has(out, "\"topk\": [{\"class\": ") && file_has(out, "\"name\": "));
        if (!strcmp(sets[i].name, "folder")) {
            /* batches of 3 across images and an IDX file: the same outputs as one image at a time */
            char one[512], three[512];
            snprintf(one, sizeof one, "%s/one.txt", dir);
            snprintf(three, sizeof three, "%s/three.txt", dir);
            char *p1[] = {"cnn", "predict", "--weights", w, "--json", "--batch-size", "1", F "/folder/test/cat/test_0.jpg",
                          F "/folder/test/bird/test_0.png", F "/idx4/t10k-images-idx4-ubyte.gz", F "/jpeg/rgb.jpg",
                          F "/jpeg/gray.jpg", F "/jpeg/progressive.jpg", NULL};
            CHECK_INT_EQ(run_cnn(p1, one, err), 0);
            char *p3[] = {"cnn", "predict", "--weights", w, "--json", "--threads", "1", "--batch-size", "3",
                          F "/folder/test/cat/test_0.jpg", F "/folder/test/bird/test_0.png",
                          F "/idx4/t10k-images-idx4-ubyte.gz", F "/jpeg/rgb.jpg", F "/jpeg/gray.jpg",
                          F "/jpeg/progressive.jpg", NULL};
            CHECK_INT_EQ(run_cnn(p3, three, err), 0);
            char *a = slurp(one, NULL), *b = slurp(three, NULL);
            CHECK(a && b);
            CHECK(same_predictions(a, b, 2 + 10 + 3));
            cnn_free(a), cnn_free(b);
        }
        if (!strcmp(sets[i].name, "cifar10")) {
            /* summary from the weights alone */
            char *sum[] = {"cnn", "summary", "--weights", w, NULL};
            CHECK_INT_EQ(run_cnn(sum, out, err), 0);
            CHECK(file_has(out, "Conv2d-1") && file_has(out, "[1, 16, 32, 32]"));
        }
        /* --model must agree with the recorded one */
        char *other[] = {"cnn", "eval", "--weights", w, "--data", (char *)sets[i].data, "--model", (char *)at("tanh.txt"), NULL};
        CHECK_INT_EQ(run_cnn(other, out, err), 1);
        CHECK(file_has(err, "differs from the model recorded") && file_has(err, "layer 2 is ReLU()"));
        unlink(w);
    }
    char out[512], err[512];
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(err, sizeof err, "%s/err.txt", dir);
    /* 65,535 classes: labels up to 65534, checked against the model's outputs */
    CHECK_INT_EQ(mkdir(at("wide"), 0755), 0);
    const char *csv = "label,p0,p1,p2,p3\n0,1,2,3,4\n65534,200,100,50,25\n";
    CHECK_OK(cnn_file_write(at("wide/train.csv"), csv, strlen(csv)));
    CHECK_OK(cnn_file_write(at("wide/test.csv"), csv, strlen(csv)));
    const char *m65535 = "nn.Sequential(nn.Flatten(), nn.Linear(4, 65535))\n";
    const char *m1000 = "nn.Sequential(nn.Flatten(), nn.Linear(4, 1000))\n";
    CHECK_OK(cnn_file_write(at("m65535.txt"), m65535, strlen(m65535)));
    CHECK_OK(cnn_file_write(at("m1000.txt"), m1000, strlen(m1000)));
    char *wide_bad[] = {"cnn", "train", "--data", (char *)at("wide"), "--model", (char *)at("m1000.txt"), "--epochs", "1",
                        "--quiet", NULL};
    CHECK_INT_EQ(run_cnn(wide_bad, out, err), 1);
    CHECK(file_has(err, "train.csv: label #1 is 65534 but the model has only 1000 outputs"));
    char *wide[] = {"cnn", "train", "--data", (char *)at("wide"), "--model", (char *)at("m65535.txt"), "--epochs", "2",
                    "--lr", "0.5", "--quiet", "--save", (char *)at("wide.safetensors"), NULL};
    CHECK_INT_EQ(run_cnn(wide, out, err), 0);
    char *wide_eval[] = {"cnn", "eval", "--weights", (char *)at("wide.safetensors"), "--data", (char *)at("wide"), "--topk",
                         "5", "--quiet", NULL};
    CHECK_INT_EQ(run_cnn(wide_eval, out, err), 0);
    CHECK(file_has(out, "(2 images") && file_has(out, "top-5 acc"));
    char *wide_cm[] = {"cnn", "eval", "--weights", (char *)at("wide.safetensors"), "--data", (char *)at("wide"),
                       "--confusion", (char *)at("cm.svg"), NULL};
    CHECK_INT_EQ(run_cnn(wide_cm, out, err), 2);
    CHECK(file_has(err, "--confusion: at most 1024 classes"));
    unlink(at("wide.safetensors"));

    /* cnn data check: any set; CIFAR against the official counts */
    char *check_idx[] = {"cnn", "data", "check", F "/idx4", NULL};
    CHECK_INT_EQ(run_cnn(check_idx, out, err), 0);
    CHECK(file_has(out, "30 training and 10 test images of 3x32x32, 10 classes (named)"));
    char *check_cifar[] = {"cnn", "data", "check", F "/cifar10", NULL};
    CHECK_INT_EQ(run_cnn(check_cifar, out, err), 1);
    CHECK(file_has(err, "expected 50000 images (the official set), found 30"));
    char *fetch[] = {"cnn", "data", "fetch", "--dataset", "cifar10", "--dir", (char *)at("c10"), NULL};
    CHECK_INT_EQ(run_cnn(fetch, out, err), 0);
    CHECK(file_has(out, "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz") &&
          file_has(out, "c32a1d4ab5d03f1284b67883e8d87530") && file_has(out, "cnn data check"));
    struct stat st;
    CHECK(stat(at("c10"), &st) != 0); /* it only says where: nothing is written */
    /* predict: any other file is named for what it is not */
    char *junk[] = {"cnn", "predict", "--weights", F "/step3/init.safetensors", "--model", F "/step3/m3.txt",
                    "--input-shape", "3,8,8", F "/cifar10/batches.meta.txt", NULL};
    CHECK_INT_EQ(run_cnn(junk, out, err), 1);
    CHECK(file_has(err, "batches.meta.txt: not a PNG, JPEG or IDX file"));
}

/* 2. one SGD step of a 3-channel model with Normalize, against PyTorch */
static void test_step3(void) {
    const char *w = at("step3.safetensors");
    char *train[] = {"cnn", "train", "--data", F "/step3", "--model", F "/step3/m3.txt", "--init",
                     F "/step3/init.safetensors", "--no-shuffle", "--max-steps", "1", "--batch-size", "16", "--lr", "0.9",
                     "--normalize", "0.5,0.4,0.3,0.25,0.2,0.3", "--threads", "1", "--quiet", "--save", (char *)w, NULL};
    CHECK_INT_EQ(run_cnn(train, NULL, NULL), 0);
    cnn_model *got = NULL, *want = NULL, *init = NULL;
    cnn_weights_info info;
    CHECK_OK(cnn_model_create_from_weights(&got, &info, w));
    cnn_weights_info_free(&info);
    if (!got) return;
    int64_t chw[3] = {3, 8, 8};
    char *text = slurp(F "/step3/m3.txt", NULL);
    CHECK_OK(cnn_model_create_from_text(&want, text, "m3.txt", chw));
    CHECK_OK(cnn_model_create_from_text(&init, text, "m3.txt", chw));
    cnn_free(text);
    CHECK_OK(cnn_model_load(want, F "/step3/plain.safetensors"));
    CHECK_OK(cnn_model_load(init, F "/step3/init.safetensors"));
    const size_t n = cnn_model_num_params(got);
    const float *g = cnn_model_params(got), *e = cnn_model_params(want), *i0 = cnn_model_params(init);
    double worst = 0, moved = 0;
    for (size_t k = 0; k < n; k++) {
        double d = fabs((double)g[k] - (double)e[k]);
        if (d > worst) worst = d;
        if (fabs((double)e[k] - (double)i0[k]) > moved) moved = fabs((double)e[k] - (double)i0[k]);
    }
    CHECK(worst <= 1e-5);
    CHECK(moved > 1e-3); /* the step moved the weights: the comparison sees something */
    if (worst > 1e-5) fprintf(stderr, "  3-channel SGD step: largest difference %g, expected <= 1e-5\n", worst);
    cnn_model_free(got), cnn_model_free(want), cnn_model_free(init);
}

/* 3. JPEG decoding and byte resizing against their references */
static void test_decode(void) {
    struct { const char *jpg, *ref; int channels; } cases[] = {
        {F "/jpeg/rgb.jpg", F "/jpeg/rgb.rgb", 3},
        {F "/jpeg/gray.jpg", F "/jpeg/gray.gray", 1},
        {F "/jpeg/progressive.jpg", F "/jpeg/progressive.rgb", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *px = NULL;
        int64_t c, h, w;
        CHECK_OK(cnn_image_read(&px, &c, &h, &w, cases[i].jpg, 0));
        size_t len = 0;
        char *ref = slurp(cases[i].ref, &len);
        CHECK(ref && c == cases[i].channels && h == 13 && w == 17 && len == (size_t)(c * h * w));
        int64_t diff = 0;
        for (int64_t p = 0; ref && px && len == (size_t)(c * h * w) && p < h * w; p++)
            for (int64_t k = 0; k < c; k++) diff += px[k * h * w + p] != (uint8_t)ref[p * c + k]; /* CHW vs HWC */
        CHECK_INT_EQ(diff, 0);
        cnn_free(px);
        cnn_free(ref);
    }
    /* GRAY mode of a colour JPEG, RGB mode of a gray one */
    uint8_t *px = NULL;
    int64_t c, h, w;
    CHECK_OK(cnn_image_read(&px, &c, &h, &w, F "/jpeg/rgb.jpg", 1));
    CHECK(c == 1 && h == 13);
    cnn_free(px);
    CHECK_OK(cnn_image_read(&px, &c, &h, &w, F "/jpeg/gray.jpg", 3));
    CHECK(c == 3 && px && memcmp(px, px + 13 * 17, 13 * 17) == 0);
    cnn_free(px);
    CHECK_STATUS(cnn_image_read(&px, &c, &h, &w, F "/jpeg/cmyk.jpg", 0), CNN_EFORMAT);
    CHECK(strstr(cnn_last_error(), "cmyk.jpg") && strstr(cnn_last_error(), "CMYK"));
    /* a truncated JPEG and a file that is none */
    size_t len = 0;
    char *jpg = slurp(F "/jpeg/rgb.jpg", &len);
    CHECK_STATUS(cnn_image_decode(&px, &c, &h, &w, jpg, len / 2, 0, "cut.jpg"), CNN_EFORMAT);
    CHECK(strstr(cnn_last_error(), "cut.jpg") && strstr(cnn_last_error(), "corrupt JPEG"));
    CHECK_STATUS(cnn_image_decode(&px, &c, &h, &w, "hello", 5, 0, "t.txt"), CNN_EFORMAT);
    CHECK(strstr(cnn_last_error(), "not a PNG or JPEG"));
    cnn_free(jpg);

    size_t n = 0;
    char *in = slurp(F "/resize/in_3x13x17.u8", &n);
    CHECK(in && n == 3 * 13 * 17);
    int sizes[3][2] = {{32, 32}, {8, 8}, {20, 11}};
    for (int k = 0; in && k < 3; k++) {
        char path[256];
        snprintf(path, sizeof path, F "/resize/out_%dx%d.u8", sizes[k][0], sizes[k][1]);
        size_t m = 0;
        char *want = slurp(path, &m);
        uint8_t *got = malloc(m);
        CHECK(want && got && m == (size_t)(3 * sizes[k][0] * sizes[k][1]));
        if (want && got) {
            CHECK_OK(cnn_resize_u8(got, (const uint8_t *)in, 3, 13, 17, sizes[k][0], sizes[k][1]));
            int bad = 0;
            for (size_t q = 0; q < m; q++) bad += got[q] != (uint8_t)want[q];
            CHECK_INT_EQ(bad, 0);
        }
        cnn_free(want);
        free(got);
    }
    cnn_free(in);
}

/* 4. bad input in image folders, IDX and caches */
static void expect_fail(const char *data, const char *want1, const char *want2) {
    cnn_dataset tr, te;
    int rc = cnn_data_load(&tr, &te, data, NULL);
    CHECK(rc < 0);
    CHECK(strstr(cnn_last_error(), want1) != NULL);
    CHECK(!want2 || strstr(cnn_last_error(), want2) != NULL);
    if (rc >= 0 || !strstr(cnn_last_error(), want1) || (want2 && !strstr(cnn_last_error(), want2)))
        fprintf(stderr, "  %s: got \"%s\", expected \"%s\"\n", data, rc < 0 ? cnn_last_error() : "success", want1);
    CHECK(tr.images == NULL && te.images == NULL);
}

static void test_bad(void) {
    char root[512], cmd[2400];
    snprintf(root, sizeof root, "%s/bad", dir);
    cnn_data_options none = {0};
    cnn_data_options r32 = {32, 32, 0, 0, 0};
    cnn_dataset tr, te;
#define FRESH()                                                                              \
    do {                                                                                     \
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s/folder' '%s'", root, F, root); \
        CHECK_INT_EQ(sh(cmd), 0);                                                            \
    } while (0)
    FRESH();
    /* without --resize, mixed sizes are named */
    CHECK(cnn_data_load(&tr, &te, root, &none) < 0 && strstr(cnn_last_error(), "give --resize"));
    CHECK_OK(cnn_data_load(&tr, &te, root, &r32));
    CHECK(tr.n == 30 && tr.c == 3 && tr.h == 32 && te.n == 10 && tr.class_names && !strcmp(tr.class_names[0], "airplane"));
    const uint8_t first = tr.images[0];
    cnn_dataset_free(&tr), cnn_dataset_free(&te);
    /* the cache is used, and rebuilt when a file changes or it is corrupt */
    char cache[600];
    snprintf(cache, sizeof cache, "%s/.cnn-cache-train.bin", root);
    struct stat st;
    CHECK(stat(cache, &st) == 0);
    snprintf(cmd, sizeof cmd, "cp '%s/folder/train/bird/train_1.jpg' '%s/train/airplane/train_0.png.jpg' && "
             "rm '%s/train/airplane/train_0.png'", F, root, root);
    CHECK_INT_EQ(sh(cmd), 0);
    CHECK_OK(cnn_data_load(&tr, &te, root, &r32)); /* renamed and replaced: stale, rebuilt */
    CHECK(tr.n == 30 && tr.images[0] != first);
    cnn_dataset_free(&tr), cnn_dataset_free(&te);
    /* the same name, other content (size and mtime change): stale, rebuilt */
    CHECK_OK(cnn_data_load(&tr, &te, root, &r32));
    const int64_t plane = 3 * 32 * 32;
    uint8_t before = tr.images[1 * plane + 100]; /* airplane/train_1.jpg, the second image */
    cnn_dataset_free(&tr), cnn_dataset_free(&te);
    snprintf(cmd, sizeof cmd, "sleep 0.01; cp '%s/folder/train/truck/train_0.jpg' '%s/train/airplane/train_1.jpg'", F, root);
    CHECK_INT_EQ(sh(cmd), 0);
    CHECK_OK(cnn_data_load(&tr, &te, root, &r32));
    CHECK(tr.images[1 * plane + 100] != before);
    cnn_dataset_free(&tr), cnn_dataset_free(&te);
    FILE *f = fopen(cache, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 200, SEEK_SET);
        fputc(0x5a, f), fputc(0xa5, f);
        fclose(f);
    }
    cnn_dataset fresh;
    CHECK_OK(cnn_data_load(&tr, &te, root, &r32)); /* corrupt: not trusted */
    cnn_dataset_free(&te);
    cnn_data_options nc = r32;
    nc.no_cache = 1;
    CHECK_OK(cnn_data_load(&fresh, &te, root, &nc));
    cnn_dataset_free(&te);
    CHECK(tr.n == fresh.n && memcmp(tr.images, fresh.images, (size_t)(tr.n * 3 * 32 * 32)) == 0);
    cnn_dataset_free(&tr), cnn_dataset_free(&fresh);
    snprintf(cmd, sizeof cmd, "truncate -s 100 '%s'", cache);
    CHECK_INT_EQ(sh(cmd), 0);
    CHECK_OK(cnn_data_load(&tr, &te, root, &r32)); /* truncated: rebuilt */
    CHECK(tr.n == 30);
    cnn_dataset_free(&tr), cnn_dataset_free(&te);

    /* an empty class folder */
    FRESH();
    snprintf(cmd, sizeof cmd, "rm '%s'/train/dog/*", root);
    CHECK_INT_EQ(sh(cmd), 0);
    expect_fail(root, "train/dog: class folder with no images", NULL);
    /* a non-image file */
    FRESH();
    snprintf(cmd, sizeof cmd, "echo hi > '%s/train/dog/notes.txt'", root);
    CHECK_INT_EQ(sh(cmd), 0);
    expect_fail(root, "notes.txt: not an image file name", ".png, .jpg or .jpeg");
    /* a file named .png that is none, and a corrupt one */
    FRESH();
    snprintf(cmd, sizeof cmd, "echo hi > '%s/train/dog/fake.png'", root);
    CHECK_INT_EQ(sh(cmd), 0);
    cnn_data_options r = r32;
    CHECK(cnn_data_load(&tr, &te, root, &r) < 0 && strstr(cnn_last_error(), "fake.png: not a PNG or JPEG file"));
    FRESH();
    snprintf(cmd, sizeof cmd, "head -c 300 '%s/folder/train/cat/train_1.png' > '%s/train/dog/cut.png'", F, root);
    CHECK_INT_EQ(sh(cmd), 0);
    CHECK(cnn_data_load(&tr, &te, root, &r) < 0 && strstr(cnn_last_error(), "cut.png: corrupt PNG") &&
          strstr(cnn_last_error(), "truncated"));
    /* an unreadable file (a dangling link) */
    FRESH();
    snprintf(cmd, sizeof cmd, "ln -s /nonexistent/x.png '%s/train/dog/gone.png'", root);
    CHECK_INT_EQ(sh(cmd), 0);
    expect_fail(root, "gone.png: not a regular file", NULL);
    /* a class folder missing from the test split */
    FRESH();
    snprintf(cmd, sizeof cmd, "rm -r '%s/test/ship'", root);
    CHECK_INT_EQ(sh(cmd), 0);
    expect_fail(root, "test/ship: missing", NULL);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    sh(cmd);

    /* mixed channel counts: 3-channel training images, 1-channel test images */
    snprintf(root, sizeof root, "%s/mixed", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/idx4/train-* '%s/' && cp '%s'/../step/t10k-* '%s/'", root, F,
             root, F, root);
    CHECK_INT_EQ(sh(cmd), 0);
    char out[512], err[512];
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(err, sizeof err, "%s/err.txt", dir);
    char *train[] = {"cnn", "train", "--data", root, "--model", CNN_SOURCE_DIR "/models/resnet-cifar.txt", "--epochs", "1",
                     "--quiet", NULL};
    CHECK_INT_EQ(run_cnn(train, out, err), 1);
    CHECK(file_has(err, "mixed channel counts") && file_has(err, "t10k-images-idx3-ubyte"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    sh(cmd);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/cnn-test-fmtcli-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_decode();
    test_step3();
    test_bad();
    test_formats();
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    sh(cmd);
    return test_report();
}
