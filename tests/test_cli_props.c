/* test_cli_props.c — a property-based test of the whole command line.
 *
 * Each case draws a subcommand, a random subset of its options, a path of a
 * random kind for every file option (valid, missing, a directory, a FIFO, a
 * file of garbage, in a missing directory, a device, under /proc, the same as
 * another input or output, a symbolic link, a file from an earlier case) and
 * a random OpenMP environment, runs `cnn` under a time limit, and asserts:
 *   - it finishes (no hang) and exits with 0, 1 or 2 (no signal);
 *   - no input file changed (the one allowed pair, --resume F --checkpoint F,
 *     excepted: F is then a new complete checkpoint);
 *   - every output is complete or absent: a weights file or checkpoint
 *     parses as safetensors, an SVG ends with </svg>, every log line is a
 *     whole JSON object; no temporary file is left behind;
 *   - on exit 0 the outputs asked for exist (unless nothing was trained).
 * The seed is fixed (CNN_PROPS_SEED overrides it, CNN_PROPS_CASES the count);
 * a failing case prints its command and environment to replay it. */
#include "test_util.h"

#include "cli_run.h"
#include "io/safetensors.h"

#include <dirent.h>
#include <stdint.h>

#define LIMIT 60

static char root[] = "/tmp/cnn-cli-props-XXXXXX";
static uint64_t rng_state;

static uint32_t draw(uint32_t n) { /* splitmix64, reduced */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)((z ^ (z >> 31)) % n);
}

static const char *at(const char *rel) {
    static char path[8][4200];
    static int k;
    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", root, rel);
    return path[k];
}

static uint64_t sig_of(const char *rel) {
    FILE *f = fopen(at(rel), "rb");
    if (!f) return 0;
    uint64_t h = 1469598103934665603ull;
    int c;
    while ((c = fgetc(f)) != EOF) h = (h ^ (uint64_t)c) * 1099511628211ull;
    fclose(f);
    return h;
}

static void sh(const char *fmt, const char *a) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, fmt, a, a, a, a, a, a);
    if (system(cmd) != 0) {
        fprintf(stderr, "setup failed: %s\n", cmd);
        exit(1);
    }
}

/* The inputs every case may read; they must never change. */
static const char *inputs[] = {"d/train-images-idx3-ubyte", "d/train-labels-idx1-ubyte", "d/t10k-images-idx3-ubyte",
                               "d/t10k-labels-idx1-ubyte", "w.safetensors", "m.txt", "ck", "img.png", "garbage"};
#define N_INPUTS (int)(sizeof inputs / sizeof inputs[0])

/* A path for an input option of kind 'w' (weights), 'c' (checkpoint), 'm' (model). */
static const char *input_path_(char kind) {
    switch (draw(8)) {
    case 0: return "missing.file";
    case 1: return "adir";
    case 2: return "fifo";
    case 3: return "garbage";
    case 4: return "./d/../w.safetensors"; /* weights by another spelling */
    default: return kind == 'w' ? "w.safetensors" : kind == 'c' ? "ck" : "m.txt";
    }
}

static const char *used[16]; /* the inputs of the case being drawn */
static int n_used;

static const char *input_path(char kind) {
    const char *p = input_path_(kind);
    if (n_used < 16) used[n_used++] = p;
    return p;
}

/* A path for an output; fresh names live in the case's own directory cdir. */
static const char *output_path(const char *cdir, const char *ext, const char *taken[], int n_taken, char *buf) {
    switch (draw(14)) {
    case 0: return "adir";
    case 1: return "nodir/out";
    case 2: return "fifo";
    case 3: return "dev-full"; /* a device node of our own: see the setup */
    case 4: return "/proc/cnn-out";
    case 5: if (n_used) return used[draw((uint32_t)n_used)]; /* fall through */
    case 6: if (n_taken) return taken[draw((uint32_t)n_taken)]; /* fall through */
    case 7: return "old.out"; /* a complete file of an earlier case's kind, or garbage */
    case 8: return "link.out"; /* a symbolic link to a file in adir2 */
    default: sprintf(buf, "%s/out%u%s", cdir, draw(3), ext); return buf;
    }
}

static int ends_with(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Complete: parses as the kind of file the option writes. */
static int complete(const char *path, const char *opt) {
    FILE *f = fopen(path, "rb");
    if (!f) return 1; /* absent */
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (!strcmp(opt, "--save") || !strcmp(opt, "--checkpoint")) {
        cnn_safetensors st;
        int rc = cnn_safetensors_read(&st, path);
        if (rc == CNN_OK) cnn_safetensors_free(&st);
        return rc == CNN_OK;
    }
    if (!strcmp(opt, "--plot") || !strcmp(opt, "--confusion")) return ends_with(buf, n, "</svg>\n");
    if (!strcmp(opt, "--log")) {
        if (n == 0 || buf[0] != '{' || !ends_with(buf, n, "}\n")) return 0;
        for (size_t i = 0; i + 1 < n; i++)
            if (buf[i] == '\n' && buf[i + 1] != '{') return 0;
        return 1;
    }
    return 1;
}

static int temporary_files(const char *dir) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp.*' | grep -q .", dir);
    return system(cmd) == 0;
}

int main(void) {
    const char *seed_env = getenv("CNN_PROPS_SEED"), *cases_env = getenv("CNN_PROPS_CASES");
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : 20261203;
    int n_cases = cases_env ? atoi(cases_env) : 150;
    rng_state = seed;
    printf("seed %llu, %d cases\n", (unsigned long long)seed, n_cases);
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    sh("mkdir -p %s/d %s/adir %s/adir2 && mkfifo %s/fifo", root);
    /* /dev/full's twin, so that a regression cannot replace the system's device. */
    sh("cd %s && { mknod dev-full c 1 7 || ln -s /dev/full dev-full; } 2>/dev/null", root);
    char setup[8192];
    snprintf(setup, sizeof setup,
             "cp %s/step/t10k-* %s/step/train-* %s/d/ && cp %s/step/plain.safetensors %s/w.safetensors && "
             "cp %s/models/lenet.txt %s/m.txt && head -c 3000 /dev/urandom > %s/garbage && "
             "ln -s adir2/target %s/link.out && printf 'old' > %s/old.out",
             CNN_FIXTURES_DIR, CNN_FIXTURES_DIR, root, CNN_FIXTURES_DIR, root, CNN_SOURCE_DIR, root, root, root, root);
    if (system(setup) != 0) return 1;
    {   /* a checkpoint and an image to read */
        char *argv[] = {"cnn", "train", "--data", "d", "--epochs", "1", "--batch-size", "8", "--quiet",
                        "--checkpoint", "ck", NULL};
        cli_result r;
        cli_run(&r, root, NULL, argv, LIMIT);
        if (r.code != 0) {
            cli_report("setup", argv, &r);
            return 1;
        }
        sh("cp %s/ck %s/ck.pristine", root);
    }
    /* A PNG input cut after its signature (an error to report, not a hang). */
    sh("printf '\\211PNG\\r\\n\\032\\n' > %s/img.png", root);
    uint64_t before[N_INPUTS];
    for (int k = 0; k < N_INPUTS; k++) before[k] = sig_of(inputs[k]);

    static const char *envs[][2] = {{NULL, NULL},
                                    {"OMP_THREAD_LIMIT=1", NULL},
                                    {"OMP_DYNAMIC=true", NULL},
                                    {"OMP_MAX_ACTIVE_LEVELS=0", NULL},
                                    {"OMP_NUM_THREADS=64", NULL},
                                    {"OMP_THREAD_LIMIT=1", "OMP_NUM_THREADS=8"},
                                    {"OMP_DYNAMIC=true", "OMP_MAX_ACTIVE_LEVELS=1"}};
    int n_env = (int)(sizeof envs / sizeof envs[0]);
    int failed_cases = 0;
    for (int c = 0; c < n_cases; c++) {
        char cdir[64], args[4096] = "", bufs[8][256];
        snprintf(cdir, sizeof cdir, "c%d", c);
        mkdir(at(cdir), 0755);
        const char *outs[8], *out_opts[8], *ins[8];
        int n_out = 0, n_in = 0, nb = 0;
        size_t len = 0;
#define ADD(...) (len += (size_t)snprintf(args + len, sizeof args - len, __VA_ARGS__))
        int cmd = (int)draw(10);
        n_used = 0;
        for (int k = cmd < 5 ? 0 : 2; k < 4 && cmd < 8; k++) used[n_used++] = inputs[k]; /* eval: t10k only */
        if (cmd < 5) { /* train */
            ADD("train --data %s --epochs %u --batch-size 8 --quiet", draw(8) ? "d" : draw(2) ? "adir" : "missing",
                1 + draw(2));
            if (draw(3) == 0) ADD(" --model %s", ins[n_in++] = input_path('m'));
            if (draw(4) == 0) ADD(" --init %s", ins[n_in++] = input_path('w'));
            if (draw(3) == 0) ADD(" --resume %s", ins[n_in++] = input_path('c'));
            const char *opts[4] = {"--save", "--checkpoint", "--plot", "--log"};
            const char *exts[4] = {".safetensors", ".ckpt", ".svg", ".jsonl"};
            for (int k = 0; k < 4; k++)
                if (draw(2)) {
                    const char *p = output_path(cdir, exts[k], outs, n_out, bufs[nb++]);
                    if (k == 1 && draw(4) == 0) p = "ck"; /* --resume ck --checkpoint ck is allowed */
                    ADD(" %s %s", opts[k], p);
                    out_opts[n_out] = opts[k], outs[n_out++] = p;
                }
            if (draw(8) == 0) ADD(" --epochs %s", draw(2) ? "0" : "x");
        } else if (cmd < 8) { /* eval */
            ADD("eval --data d --quiet --weights %s", ins[n_in++] = input_path('w'));
            if (draw(3) == 0) ADD(" --model %s", ins[n_in++] = input_path('m'));
            if (draw(2)) {
                const char *p = output_path(cdir, ".svg", outs, n_out, bufs[nb++]);
                ADD(" --confusion %s", p);
                out_opts[n_out] = "--confusion", outs[n_out++] = p;
            }
        } else if (cmd == 8) { /* predict */
            ADD("predict%s --weights %s", draw(2) ? " --json" : "", ins[n_in++] = input_path('w'));
            ADD(" %s", draw(2) ? "d/t10k-images-idx3-ubyte" : draw(2) ? "img.png" : draw(2) ? "fifo" : "adir");
        } else { /* summary */
            ADD("summary %s", ins[n_in++] = input_path('m'));
        }
        int e = (int)draw((uint32_t)n_env);
        char *env[3] = {(char *)envs[e][0], (char *)envs[e][1], NULL};
        char *argv[64], line[4096];
        snprintf(line, sizeof line, "%s", args);
        cli_split(argv, 64, line);
        cli_result r;
        cli_run(&r, root, env, argv, LIMIT);

        char why[512] = "";
        if (r.hung) snprintf(why, sizeof why, "did not finish within %d s", LIMIT);
        else if (r.code < 0 || r.code > 2) snprintf(why, sizeof why, "exit status %d (signal or unexpected code)", r.code);
        for (int k = 0; k < N_INPUTS && !why[0]; k++) {
            int is_output = 0, is_used = 0; /* a file this command does not read may be an output */
            for (int j = 0; j < n_out; j++) is_output |= !strcmp(outs[j], inputs[k]);
            for (int j = 0; j < n_used; j++) is_used |= !strcmp(used[j], inputs[k]);
            if (is_output && (!is_used || !strcmp(inputs[k], "ck"))) continue;
            if (sig_of(inputs[k]) != before[k]) snprintf(why, sizeof why, "input %s changed", inputs[k]);
        }
        for (int k = 0; k < n_out && !why[0]; k++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", root, outs[k][0] == '/' ? outs[k] + 0 : outs[k]);
            const char *p = outs[k][0] == '/' ? outs[k] : path;
            if (!strncmp(p, "/dev/", 5) || !strncmp(p, "/proc/", 6)) continue;
            int is_input = 0; /* an input named as an output (any spelling): checked above */
            struct stat so, si;
            for (int j = 0; j < N_INPUTS; j++)
                is_input |= stat(p, &so) == 0 && stat(at(inputs[j]), &si) == 0 && so.st_ino == si.st_ino &&
                            so.st_dev == si.st_dev;
            if (is_input) continue;
            struct stat st;
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && strcmp(outs[k], "old.out") != 0 &&
                !complete(p, out_opts[k]))
                snprintf(why, sizeof why, "output %s %s is neither complete nor absent", out_opts[k], outs[k]);
            if (!strcmp(outs[k], "old.out") && stat(p, &st) == 0 && st.st_size != 3 && !complete(p, out_opts[k]))
                snprintf(why, sizeof why, "output %s %s is neither the old file nor complete", out_opts[k], outs[k]);
            if (r.code == 0 && !strstr(r.err, "already complete") && strchr(outs[k], '/') &&
                !strncmp(outs[k], cdir, strlen(cdir)) && stat(p, &st) != 0)
                snprintf(why, sizeof why, "exit 0 but output %s %s is missing", out_opts[k], outs[k]);
        }
        if (!why[0] && temporary_files(root)) snprintf(why, sizeof why, "a temporary file was left behind");
        test__checked++;
        if (why[0]) {
            test__failed++;
            if (failed_cases++ < 20) {
                fprintf(stderr, "case %d: %s\n  env: %s %s\n", c, why, env[0] ? env[0] : "", env[1] ? env[1] : "");
                cli_report("property", argv, &r);
            }
        }
        /* Inputs back as they were for the next case; old.out and link.out too. */
        char reset[8192];
        snprintf(reset, sizeof reset,
                 "cd %s && cp ck.pristine ck && rm -f adir2/target && printf old > old.out.new && mv old.out.new old.out && "
                 "cp %s/step/t10k-* %s/step/train-* d/ && cp %s/step/plain.safetensors w.safetensors && cp %s/models/lenet.txt m.txt",
                 root, CNN_FIXTURES_DIR, CNN_FIXTURES_DIR, CNN_FIXTURES_DIR, CNN_SOURCE_DIR);
        if (system(reset) != 0) return 1;
        for (int k = 0; k < N_INPUTS; k++)
            if (sig_of(inputs[k]) != before[k]) {
                fprintf(stderr, "input %s could not be restored after case %d; stopping\n", inputs[k], c);
                return 1;
            }
    }
    printf("%d cases, %d failed\n", n_cases, failed_cases);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", root);
    return test_report();
}
