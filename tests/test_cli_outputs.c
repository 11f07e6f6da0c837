/* test_cli_outputs.c — the rules for the files `cnn` reads and writes
 * (docs/RELIABILITY.md, "Outputs and inputs"), one case per way a careless
 * user lost data or hung the tool:
 *   - an output that is a directory, in a missing directory, or a device is
 *     refused before any training (no "loss" line, exit 1, the path named);
 *   - two outputs, or an output and an input, that are one file (spelled
 *     differently, through a hard or a symbolic link) are refused, and the
 *     input is left byte for byte as it was; --resume ck --checkpoint ck works;
 *   - --save through a symbolic link replaces the target, the link stays;
 *   - a full filesystem (a small tmpfs, when this test may mount one) gives
 *     exit 1 with "No space left on device", leaving the old file intact
 *     and no temporary file;
 *   - FIFOs as weights, checkpoint, model, initial weights, PNG or data files
 *     give exit 1 at once instead of blocking;
 *   - resuming a finished run prints no invented figures;
 *   - predict --json writes valid JSON for non-finite logits and file names
 *     that are not UTF-8, and predict names the argmax class on a +inf logit.
 * Every case runs under a time limit; a hang fails the case. */
#include "test_util.h"

#include "cli_run.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mount.h>

#define LIMIT 60

static char root[] = "/tmp/cnn-cli-outputs-XXXXXX";

typedef struct {
    uint64_t hash;
    long long size;
    int exists;
} file_sig;

static file_sig sig_of(const char *rel) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    file_sig s = {1469598103934665603ull, 0, 0};
    FILE *f = fopen(path, "rb");
    if (!f) return s;
    s.exists = 1;
    int c;
    while ((c = fgetc(f)) != EOF) s.hash = (s.hash ^ (uint64_t)c) * 1099511628211ull, s.size++;
    fclose(f);
    return s;
}

static int same_sig(file_sig a, file_sig b) { return a.exists == b.exists && a.hash == b.hash && a.size == b.size; }

static void copy_file(const char *from, const char *rel) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *in = fopen(from, "rb"), *out = fopen(path, "wb");
    if (!in || !out) {
        fprintf(stderr, "cannot copy %s to %s\n", from, path);
        exit(1);
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    fclose(in);
    if (fclose(out) != 0) exit(1);
}

static const char *at(const char *rel) {
    static char path[8][4200];
    static int k;
    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", root, rel);
    return path[k];
}

/* Run "cnn ARGS" in root; expect exit code want (-1: any of 1, 2); the
 * stderr must contain msg (when not NULL). Returns the result. */
static cli_result last;
static void expect(const char *what, const char *args, int want, const char *msg) {
    char buf[4096], *argv[64];
    snprintf(buf, sizeof buf, "%s", args);
    cli_split(argv, 64, buf);
    cli_run(&last, root, NULL, argv, LIMIT);
    int ok = !last.hung && (want == -1 ? (last.code == 1 || last.code == 2) : last.code == want);
    if (ok && msg && !strstr(last.err, msg)) ok = 0;
    test__checked++;
    if (!ok) {
        test__failed++;
        fprintf(stderr, "%s:%d: expected exit %d%s%s%s\n", __FILE__, __LINE__, want, msg ? " and stderr with '" : "",
                msg ? msg : "", msg ? "'" : "");
        cli_report(what, argv, &last);
    }
}

/* No training happened: the refusal came before any work. */
static void expect_no_training(const char *what) {
    test__checked++;
    if (strstr(last.out, "loss") || strstr(last.out, "epoch")) {
        test__failed++;
        fprintf(stderr, "%s: expected a refusal before training, but it trained:\n%s\n", what, last.out);
    }
}

static int no_temporary_files(const char *dir) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q '\\.tmp\\.'", dir);
    return system(cmd) != 0;
}

/* Weights for LeNet whose last bias is +inf at one class and NaN at another
 * with every other logit finite: written from the fixture's weights. */
static void make_nonfinite_weights(const char *rel, int inf_class, int nan_class) {
    FILE *f = fopen(CNN_SOURCE_DIR "/models/lenet.txt", "rb");
    char text[8192];
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = '\0';
    int64_t chw[3] = {1, 28, 28};
    cnn_model *m = NULL;
    CHECK_OK(cnn_model_create_from_text(&m, text, "lenet.txt", chw));
    if (!m) exit(1);
    CHECK_OK(cnn_model_load(m, CNN_FIXTURES_DIR "/step/plain.safetensors"));
    float *p = cnn_model_params(m);
    size_t np = cnn_model_num_params(m); /* the last Linear's bias is the last 10 floats */
    p[np - 10 + inf_class] = INFINITY;
    if (nan_class >= 0) p[np - 10 + nan_class] = NAN;
    CHECK_OK(cnn_model_save(m, at(rel)));
    cnn_model_free(m);
}

/* A 28x28 gray PNG through the library's own reader's counterpart: the
 * fixture's first training image, written with libpng by the test. */
#include <png.h>
static void make_png(const char *rel) {
    FILE *f = fopen(at(rel), "wb");
    png_structp w = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(w);
    if (!f || !w || !info || setjmp(png_jmpbuf(w))) exit(1);
    png_init_io(w, f);
    png_set_IHDR(w, info, 28, 28, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(w, info);
    png_byte row[28];
    for (int y = 0; y < 28; y++) {
        for (int x = 0; x < 28; x++) row[x] = (png_byte)((x * 9 + y * 5) & 255);
        png_write_row(w, row);
    }
    png_write_end(w, NULL);
    png_destroy_write_struct(&w, &info);
    fclose(f);
}

int main(void) {
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    const char *names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte", "plain.safetensors"};
    char cmdbuf[8192];
    /* Devices of our own (as root), so that a regression cannot replace the
     * system's /dev/full or /dev/null; links to them otherwise. */
    snprintf(cmdbuf, sizeof cmdbuf,
             "mkdir -p %s/d %s/adir && cd %s && { mknod dev-full c 1 7 || ln -s /dev/full dev-full; } 2>/dev/null && "
             "{ mknod dev-null c 1 3 || ln -s /dev/null dev-null; } 2>/dev/null", root, root, root);
    if (system(cmdbuf) != 0) return 1;
    for (int k = 0; k < 5; k++) {
        char from[4200], rel[300];
        snprintf(from, sizeof from, "%s/step/%s", CNN_FIXTURES_DIR, names[k]);
        snprintf(rel, sizeof rel, "d/%s", names[k]);
        copy_file(from, rel);
    }
    copy_file(CNN_SOURCE_DIR "/models/lenet.txt", "d/m.txt");
    const char *T = "train --data d --epochs 1 --batch-size 8 --quiet";
    char a[4096];

    /* 1. Outputs that cannot be written are refused before training. */
    const char *bad_outs[][2] = {{"--save", "adir"}, {"--checkpoint", "adir"}, {"--plot", "adir"},
                                 {"--log", "adir"}, {"--plot", "nodir/p.svg"}, {"--log", "nodir/l.jsonl"},
                                 {"--save", "nodir/w.safetensors"}, {"--log", "dev-full"},
                                 {"--save", "dev-null"}, {"--plot", "/proc/cnn.svg"}};
    for (size_t k = 0; k < sizeof bad_outs / sizeof bad_outs[0]; k++) {
        snprintf(a, sizeof a, "%s %s %s", T, bad_outs[k][0], bad_outs[k][1]);
        expect("unwritable output", a, 1, bad_outs[k][1]);
        expect_no_training(a);
    }
    expect("directory output", "train --data d --save adir", 1, "directory");
    snprintf(a, sizeof a, "eval --weights d/plain.safetensors --data d --quiet --confusion adir");
    expect("eval --confusion directory", a, 1, "directory");

    /* An immutable file (chattr +i, where the filesystem and privileges allow it). */
    snprintf(cmdbuf, sizeof cmdbuf, "touch %s/imm && chattr +i %s/imm 2>/dev/null", root, root);
    if (system(cmdbuf) == 0) {
        snprintf(a, sizeof a, "%s --save imm", T);
        expect("immutable --save", a, 1, "imm");
        expect_no_training(a);
        snprintf(a, sizeof a, "%s --checkpoint imm", T);
        expect("immutable --checkpoint", a, 1, "Operation not permitted");
        snprintf(cmdbuf, sizeof cmdbuf, "chattr -i %s/imm", root);
        if (system(cmdbuf) != 0) fprintf(stderr, "warning: chattr -i %s/imm failed\n", root);
    } else {
        printf("skipped: the immutable-file cases (chattr +i is not allowed here)\n");
    }

    /* 4. One file for two purposes. */
    expect("save = checkpoint", "train --data d --epochs 1 --quiet --save x --checkpoint ./x", 1, "same file");
    test__checked++;
    if (sig_of("x").exists) test__failed++, fprintf(stderr, "x was written\n");
    expect("make a checkpoint", "train --data d --epochs 1 --batch-size 8 --quiet --checkpoint ck", 0, NULL);
    file_sig ck = sig_of("ck"), w = sig_of("d/plain.safetensors");
    CHECK(ck.exists && ck.size > 0);
    expect("log = resume", "train --data d --epochs 2 --batch-size 8 --quiet --resume ck --log ck", 1, "same file");
    expect("plot = resume", "train --data d --epochs 2 --batch-size 8 --quiet --resume ck --plot ./ck", 1, "same file");
    CHECK(same_sig(sig_of("ck"), ck));
    if (link(at("ck"), at("ck.hard")) != 0 || symlink("ck", at("ck.sym")) != 0) return 1;
    expect("save = resume (hard link)", "train --data d --epochs 2 --quiet --resume ck --save ck.hard", 1, "same file");
    expect("save = resume (symlink)", "train --data d --epochs 2 --quiet --resume ck --save ck.sym", 1, "same file");
    expect("save = init", "train --data d --epochs 1 --quiet --init d/plain.safetensors --save d/../d/plain.safetensors",
           1, "same file");
    expect("log = data", "train --data d --epochs 1 --quiet --log d/train-labels-idx1-ubyte", 1, "same file");
    expect("save = model", "train --data d --epochs 1 --quiet --model d/m.txt --save d/m.txt", 1, NULL);
    expect("confusion = weights", "eval --weights d/plain.safetensors --data d --quiet --confusion ./d/plain.safetensors",
           1, "same file");
    CHECK(same_sig(sig_of("ck"), ck));
    CHECK(same_sig(sig_of("d/plain.safetensors"), w));
    /* The one pair allowed: a checkpoint resumed and written again. */
    expect("resume = checkpoint", "train --data d --epochs 2 --batch-size 8 --quiet --resume ck --checkpoint ck.sym", 0,
           NULL);
    struct stat st;
    CHECK(lstat(at("ck.sym"), &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(!same_sig(sig_of("ck"), ck)); /* the target was replaced through the link */

    /* --save through a symbolic link replaces the target; the link stays. */
    if (symlink("target.safetensors", at("wlink")) != 0) return 1;
    copy_file(CNN_FIXTURES_DIR "/step/plain.safetensors", "target.safetensors");
    file_sig before = sig_of("target.safetensors");
    expect("save through a symlink", "train --data d --epochs 1 --batch-size 8 --quiet --save wlink", 0, NULL);
    CHECK(lstat(at("wlink"), &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(!same_sig(sig_of("target.safetensors"), before));
    CHECK(no_temporary_files(root));

    /* data fetch checks where it will write before it downloads or unpacks anything. */
    expect("data fetch into /proc", "data fetch --dir /proc/cnn-data --tarball missing.tgz", 1, "/proc/cnn-data");
    test__checked++;
    if (strstr(last.err, "missing.tgz")) test__failed++, fprintf(stderr, "data fetch read the tarball first:\n%s\n", last.err);

    /* 6. Resuming a finished run invents no figures. */
    expect("resume a finished run", "train --data d --epochs 2 --batch-size 8 --resume ck", 0, "already complete");
    test__checked++;
    if (strstr(last.out, "loss 0.000") || strstr(last.out, "examples/sec")) {
        test__failed++;
        fprintf(stderr, "resume of a finished run printed figures:\n%s\n", last.out);
    }

    /* 7. FIFOs never block a reader. */
    if (mkfifo(at("f"), 0644) != 0 || mkfifo(at("f.png"), 0644) != 0 || mkfifo(at("f.txt"), 0644) != 0) return 1;
    snprintf(cmdbuf, sizeof cmdbuf, "mkdir -p %s/fd && cp %s/d/t10k* %s/d/train-labels* %s/fd/ && mkfifo %s/fd/train-images-idx3-ubyte",
             root, root, root, root, root);
    if (system(cmdbuf) != 0) return 1;
    expect("eval --weights FIFO", "eval --data d --weights f", 1, "FIFO");
    expect("train --resume FIFO", "train --data d --epochs 1 --resume f", 1, "FIFO");
    expect("train --init FIFO", "train --data d --epochs 1 --init f", 1, "FIFO");
    expect("train --model FIFO", "train --data d --epochs 1 --model f.txt", 1, "FIFO");
    expect("summary FIFO", "summary f.txt", 1, "FIFO");
    expect("predict FIFO.png", "predict --weights d/plain.safetensors f.png", 1, "FIFO");
    expect("predict FIFO idx", "predict --weights d/plain.safetensors f", 1, "FIFO");
    expect("data file FIFO", "train --data fd --epochs 1", 1, "regular file");

    /* 8, 9. predict: +inf and NaN logits; file names that are not UTF-8. */
    make_nonfinite_weights("inf.safetensors", 3, -1);
    make_png("img.png");
    expect("predict +inf logit", "predict --weights inf.safetensors img.png", 0, NULL);
    CHECK(strstr(last.out, "img.png: dress") != NULL);
    if (!strstr(last.out, "img.png: dress")) fprintf(stderr, "  expected 'img.png: dress ...', got: %s\n", last.out);
    make_nonfinite_weights("nan.safetensors", 3, 5);
    char odd[16] = "a\xff\xc3(.png";
    if (rename(at("img.png"), at(odd)) != 0) return 1;
    snprintf(a, sizeof a, "predict --json --weights nan.safetensors %s", odd);
    expect("predict --json", a, 0, NULL);
    const char *want = "{\"input\": \"a\\ufffd\\ufffd(.png\", \"logits\": [";
    test__checked++;
    if (strncmp(last.out, want, strlen(want)) != 0 || strstr(last.out, "nan") || strstr(last.out, "inf") ||
        !strstr(last.out, "null, ")) {
        test__failed++;
        fprintf(stderr, "predict --json: expected %s... with null for the two non-finite logits, got:\n%s\n", want,
                last.out);
    }
    for (const char *p = last.out; *p; p++)
        if ((unsigned char)*p >= 0x80) {
            test__failed++;
            fprintf(stderr, "predict --json wrote a raw byte 0x%02x\n", (unsigned char)*p);
            break;
        }

    /* 3. A full filesystem: a 64 KiB tmpfs (needs root and a mount namespace
     * that allows it; skipped with a message otherwise). */
    char full[1024];
    snprintf(full, sizeof full, "%s/full", root);
    mkdir(full, 0755);
    if (mount("tmpfs", full, "tmpfs", 0, "size=64k") != 0) {
        printf("skipped: the full-filesystem cases (mount tmpfs: %s)\n", strerror(errno));
    } else {
        copy_file(CNN_FIXTURES_DIR "/step/plain.safetensors", "d/w.safetensors");
        snprintf(cmdbuf, sizeof cmdbuf, "echo old > %s/log.jsonl; dd if=/dev/zero of=%s/filler bs=4k 2>/dev/null", full, full);
        if (system(cmdbuf) == -1) return 1;
        file_sig old_log = sig_of("full/log.jsonl");
        expect("log on a full disk", "train --data d --epochs 1 --batch-size 8 --quiet --log full/log.jsonl", 1,
               "No space left on device");
        CHECK(same_sig(sig_of("full/log.jsonl"), old_log));
        expect("save on a full disk", "train --data d --epochs 1 --batch-size 8 --quiet --save full/w.safetensors", 1,
               "No space left on device");
        CHECK(!sig_of("full/w.safetensors").exists);
        expect("checkpoint on a full disk", "train --data d --epochs 1 --batch-size 8 --quiet --checkpoint full/c", 1,
               "No space left on device");
        expect("confusion on a full disk", "eval --weights d/w.safetensors --data d --quiet --confusion full/c.svg", 1,
               "No space left on device");
        CHECK(!sig_of("full/c.svg").exists);
        CHECK(no_temporary_files(full));
        umount(full);
        if (mount("tmpfs", full, "tmpfs", MS_RDONLY, "size=64k") == 0) {
            expect("data fetch into a read-only directory", "data fetch --dir full --tarball missing.tgz", 1,
                   "Read-only file system");
            umount(full);
        }
    }

    snprintf(cmdbuf, sizeof cmdbuf, "rm -rf '%s'", root);
    if (system(cmdbuf) != 0) fprintf(stderr, "warning: could not remove %s\n", root);
    return test_report();
}
