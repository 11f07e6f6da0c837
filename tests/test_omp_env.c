/* test_omp_env.c — the `cnn` tool under OpenMP settings that give fewer
 * threads than asked (OMP_THREAD_LIMIT, OMP_DYNAMIC, OMP_MAX_ACTIVE_LEVELS)
 * or far more than there are cores (OMP_NUM_THREADS=64), and a step that
 * does not end after SIGTERM.
 *
 *   (a) `cnn train` (one batch of 32, and batches of 8) and `cnn eval` on
 *       fixtures/step under each setting: every run ends within
 *       CASE_TIMEOUT_SECONDS with exit 0 (OpenBLAS's threaded GEMM used to
 *       spin forever inside a one-thread region), the weights saved by
 *       training are byte for byte those of a run with no OMP_ variable, eval
 *       prints the same accuracy, and where the thread count is printed it is
 *       the team OpenMP gives (OMP_THREAD_LIMIT=1 --threads 2: 1 thread);
 *   (b) one SIGTERM while a step runs far longer than the grace period (a
 *       model written here: about 30 s a step with one thread, some 850 MB
 *       while it runs; a faster machine may end the step in time): the process
 *       is gone within CLI_STOP_GRACE_SECONDS + 5 s, killed by SIGTERM (or
 *       exit 143 if the step ended in time), and says why on stderr;
 *   (c) SIGTERM, then SIGINT or SIGTERM during the same long step: gone at
 *       once, killed by the second signal.
 * The clean stop between steps (exit 143 and a checkpoint) is
 * tests/test_checkpoint.c's.
 */
#include "test_util.h"

#include "cli/train_signal.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CASE_TIMEOUT_SECONDS 60
#define STEP_DIR CNN_FIXTURES_DIR "/step"

static char dir[] = "/tmp/cnn_omp_env_XXXXXX";
static char out_path[300], err_path[300];

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_s(double s) {
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&t, NULL);
}

/* Start cnn with argv (argv[0] = "cnn"), the environment without any OMP_
 * variable plus env (NULL-terminated, may be NULL); stdout and stderr go to
 * out_path and err_path. */
static pid_t spawn(const char *const *argv, const char *const *env) {
    static const char *envp[512];
    int n = 0;
    for (char **e = environ; *e && n < 500; e++)
        if (strncmp(*e, "OMP_", 4) != 0) envp[n++] = *e;
    for (int i = 0; env && env[i] && n < 510; i++) envp[n++] = env[i];
    envp[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(out_path, "w", stdout) || !freopen(err_path, "w", stderr)) _exit(127);
        execve(CNN_BINARY_DIR "/cnn", (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    return pid;
}

/* Wait at most limit seconds: the wait status, or -1 after killing a process
 * still running then (SIGKILL). */
static int wait_limit(pid_t pid, double limit) {
    if (pid < 0) return -2;
    int st = 0;
    double t0 = now_s();
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return st;
        if (r < 0) return -2;
        if (now_s() - t0 > limit) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        sleep_s(0.005);
    }
}

/* A wait status in words. */
static const char *status_text(int st, double limit) {
    static char s[128];
    if (st == -1) snprintf(s, sizeof s, "still running after %.0f s (hung; killed)", limit);
    else if (st < 0) snprintf(s, sizeof s, "could not be started or waited for");
    else if (WIFSIGNALED(st)) snprintf(s, sizeof s, "killed by %s", strsignal(WTERMSIG(st)));
    else snprintf(s, sizeof s, "exit %d", WEXITSTATUS(st));
    return s;
}

/* The whole file, NUL-terminated, malloc'ed (NULL if unreadable); *size its length. */
static char *slurp(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)(n > 0 ? n : 0) + 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    fclose(f);
    if (b) b[n > 0 ? n : 0] = 0;
    if (size) *size = n;
    return b;
}

static int same_file(const char *a, const char *b) {
    long na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, (size_t)na) == 0;
    free(x), free(y);
    return same;
}

static int file_has(const char *path, const char *needle) {
    char *s = slurp(path, NULL);
    int has = s && strstr(s, needle) != NULL;
    free(s);
    return has;
}

/* eval's accuracy line up to the speed: "test acc 0.0938 (32 images" */
static void eval_result(char *out, size_t cap, const char *path) {
    char *s = slurp(path, NULL);
    const char *p = s ? strstr(s, "test acc ") : NULL;
    size_t n = 0;
    if (p)
        while (p[n] && p[n] != ',' && p[n] != '\n') n++;
    snprintf(out, cap, "%.*s", (int)n, p ? p : "");
    free(s);
}

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

/* ---- (a) OpenMP settings ------------------------------------------------------ */

typedef struct {
    const char *name;
    const char *env[4];
    const char *threads; /* --threads, or NULL */
    const char *printed; /* the thread count the output must print, or NULL */
} omp_case;

static const omp_case cases[] = {
    {"OMP_THREAD_LIMIT=1", {"OMP_THREAD_LIMIT=1"}, NULL, "(1 threads, "},
    {"OMP_DYNAMIC=true", {"OMP_DYNAMIC=true"}, NULL, NULL},
    {"OMP_MAX_ACTIVE_LEVELS=0", {"OMP_MAX_ACTIVE_LEVELS=0"}, NULL, "(1 threads, "},
    {"OMP_NUM_THREADS=64", {"OMP_NUM_THREADS=64"}, NULL, NULL},
    {"OMP_THREAD_LIMIT=1 --threads 2", {"OMP_THREAD_LIMIT=1"}, "2", "(1 threads, "},
    {"OMP_NUM_THREADS=64 OMP_THREAD_LIMIT=1", {"OMP_NUM_THREADS=64", "OMP_THREAD_LIMIT=1"}, NULL, "(1 threads, "},
    {"OMP_DYNAMIC=true OMP_THREAD_LIMIT=1 --threads 2", {"OMP_DYNAMIC=true", "OMP_THREAD_LIMIT=1"}, "2",
     "(1 threads, "},
    {"OMP_DYNAMIC=true OMP_MAX_ACTIVE_LEVELS=0 OMP_NUM_THREADS=64",
     {"OMP_DYNAMIC=true", "OMP_MAX_ACTIVE_LEVELS=0", "OMP_NUM_THREADS=64"}, NULL, "(1 threads, "},
    {"OMP_NUM_THREADS=64 --threads 2", {"OMP_NUM_THREADS=64"}, "2", "(2 threads, "},
    {"--threads 1", {NULL}, "1", "(1 threads, "},
};

/* The three command lines: train with one batch of 32, train with batches of 8, eval. */
enum { RUN_TRAIN32, RUN_TRAIN8, RUN_EVAL, N_RUNS };
static const char *run_names[N_RUNS] = {"train", "train --batch-size 8", "eval"};

/* Run one; save: the weights' path (train). Returns the wait status. */
static int run_one(int kind, const char *const *env, const char *threads, const char *save) {
    const char *argv[32];
    int n = 0;
    argv[n++] = "cnn";
    argv[n++] = kind == RUN_EVAL ? "eval" : "train";
    argv[n++] = "--data";
    argv[n++] = STEP_DIR;
    if (kind == RUN_EVAL) {
        argv[n++] = "--weights";
        argv[n++] = STEP_DIR "/init.safetensors";
        argv[n++] = "--quiet";
    } else {
        argv[n++] = "--epochs";
        argv[n++] = "1";
        argv[n++] = "--save";
        argv[n++] = save;
        if (kind == RUN_TRAIN8) argv[n++] = "--batch-size", argv[n++] = "8";
        /* not --quiet: the thread count is printed */
    }
    if (threads) argv[n++] = "--threads", argv[n++] = threads;
    argv[n] = NULL;
    return wait_limit(spawn(argv, env), CASE_TIMEOUT_SECONDS);
}

static void test_omp_settings(void) {
    /* the reference: no OMP_ variable */
    char ref[N_RUNS][300], ref_eval[128] = "";
    for (int k = 0; k < N_RUNS; k++) {
        char name[64];
        snprintf(name, sizeof name, "ref%d.safetensors", k);
        path_in(ref[k], sizeof ref[k], name);
        int st = run_one(k, NULL, NULL, ref[k]);
        if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            test__checked++, test__failed++;
            fprintf(stderr, "no OMP_ variable: cnn %s: expected exit 0, got %s\n", run_names[k],
                    status_text(st, CASE_TIMEOUT_SECONDS));
        }
        if (k == RUN_EVAL) eval_result(ref_eval, sizeof ref_eval, out_path);
    }
    printf("reference: %s\n", ref_eval);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const omp_case *oc = &cases[c];
        for (int k = 0; k < N_RUNS; k++) {
            char save[300];
            path_in(save, sizeof save, "case.safetensors");
            unlink(save);
            double t0 = now_s();
            int st = run_one(k, oc->env, oc->threads, save);
            double secs = now_s() - t0;
            test__checked++;
            if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                test__failed++;
                fprintf(stderr, "%s: cnn %s: expected exit 0, got %s\n", oc->name, run_names[k],
                        status_text(st, CASE_TIMEOUT_SECONDS));
                continue;
            }
            if (k == RUN_EVAL) {
                char got[128];
                eval_result(got, sizeof got, out_path);
                test__checked++;
                if (strcmp(got, ref_eval) != 0 || !ref_eval[0]) {
                    test__failed++;
                    fprintf(stderr, "%s: cnn eval: expected \"%s\" (no OMP_ variable), got \"%s\"\n", oc->name,
                            ref_eval, got);
                }
            } else {
                test__checked++;
                if (!same_file(save, ref[k])) {
                    test__failed++;
                    fprintf(stderr, "%s: cnn %s: expected the weights of the run without OMP_ variables, "
                                    "got different bytes\n", oc->name, run_names[k]);
                }
            }
            /* eval --quiet prints "(N images, R images/sec, T threads)" */
            if (oc->printed) {
                char want[64];
                snprintf(want, sizeof want, "%s", oc->printed);
                if (k == RUN_EVAL) snprintf(want, sizeof want, " %s", oc->printed + 1);
                test__checked++;
                if (!file_has(out_path, want)) {
                    char *got = slurp(out_path, NULL);
                    test__failed++;
                    fprintf(stderr, "%s: cnn %s: expected the output to name \"%s\", got:\n%s\n", oc->name,
                            run_names[k], want, got ? got : "");
                    free(got);
                }
            }
            printf("%-60s cnn %-22s exit 0 in %.2f s\n", oc->name, run_names[k], secs);
        }
    }
}

/* ---- (b), (c) signals during a long step ---------------------------------- */

/* Three 256 -> 256 channel 9 x 9 convolutions on 28 x 28: about 2.4 TFLOP a
 * step of 32 images (forward and backward), some 30 s on one thread. Its
 * memory is mostly the im2col columns of 8 samples (520 MB). */
static const char *long_step_model =
    "nn.Sequential(nn.Conv2d(1, 256, kernel_size=3, padding=1),\n"
    "              nn.Conv2d(256, 256, kernel_size=9, padding=4),\n"
    "              nn.Conv2d(256, 256, kernel_size=9, padding=4),\n"
    "              nn.Conv2d(256, 256, kernel_size=9, padding=4),\n"
    "              nn.Flatten(), nn.Linear(200704, 10))\n";

/* 1 once pid catches SIGTERM (its handlers are installed: training runs);
 * 0 if it ended or timeout passed first. Without /proc: 1 after 5 s. */
static int wait_handlers(pid_t pid, double timeout) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    double t0 = now_s();
    while (now_s() - t0 < timeout) {
        siginfo_t info;
        info.si_pid = 0;
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
            return 0; /* ended (left to be reaped) */
        unsigned long long caught = 0;
        FILE *f = fopen(path, "r");
        if (!f) {
            if (now_s() - t0 > 5.0) return 1;
        } else {
            char line[256];
            while (fgets(line, sizeof line, f))
                if (sscanf(line, "SigCgt: %llx", &caught) == 1) break;
            fclose(f);
            if (caught & (1ull << (SIGTERM - 1))) return 1;
        }
        sleep_s(0.02);
    }
    return 0;
}

/* Start a run whose first step is long and wait until it is under way. */
static pid_t start_long_step(const char *model) {
    const char *argv[] = {"cnn", "train", "--model", model, "--data", STEP_DIR, "--epochs", "1",
                          "--threads", "1", "--quiet", NULL};
    pid_t pid = spawn(argv, NULL);
    if (pid < 0) return pid;
    if (!wait_handlers(pid, CASE_TIMEOUT_SECONDS)) {
        int st = wait_limit(pid, 0);
        fprintf(stderr, "long step: the run did not start training: %s\n", status_text(st, 0));
        return -1;
    }
    sleep_s(0.5); /* past the set-up, into the first step */
    return pid;
}

/* (b) one SIGTERM: gone within the grace period + 5 s. */
static void test_grace(const char *model) {
    pid_t pid = start_long_step(model);
    test__checked++;
    if (pid < 0) {
        test__failed++;
        return;
    }
    const double limit = CLI_STOP_GRACE_SECONDS + 5;
    double t0 = now_s();
    kill(pid, SIGTERM);
    int st = wait_limit(pid, limit);
    double secs = now_s() - t0;
    int by_signal = st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM;
    int clean = st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM;
    if (!by_signal && !clean) {
        test__failed++;
        fprintf(stderr, "one SIGTERM during a long step: expected killed by %s or exit %d within %.0f s, got %s\n",
                strsignal(SIGTERM), 128 + SIGTERM, limit, status_text(st, limit));
        return;
    }
    if (by_signal) {
        test__checked++;
        if (!file_has(err_path, "did not end within")) {
            char *got = slurp(err_path, NULL);
            test__failed++;
            fprintf(stderr, "one SIGTERM during a long step: expected stderr to say the step did not end, got:\n%s\n",
                    got ? got : "");
            free(got);
        }
    }
    printf("one SIGTERM during a long step: %s after %.1f s (grace %d s)\n",
           by_signal ? "killed by SIGTERM" : "exit 143 (the step ended in time)", secs, CLI_STOP_GRACE_SECONDS);
}

/* (c) SIGTERM, then second: gone at once, killed by second. */
static void test_second_signal(const char *model, int second) {
    pid_t pid = start_long_step(model);
    test__checked++;
    if (pid < 0) {
        test__failed++;
        return;
    }
    kill(pid, SIGTERM);
    sleep_s(0.5);
    const double limit = 3.0;
    double t0 = now_s();
    kill(pid, second);
    int st = wait_limit(pid, limit);
    double secs = now_s() - t0;
    if (st < 0 || !WIFSIGNALED(st) || WTERMSIG(st) != second) {
        test__failed++;
        fprintf(stderr, "SIGTERM then %s: expected killed by %s within %.0f s, got %s\n",
                second == SIGINT ? "SIGINT" : "SIGTERM", strsignal(second), limit, status_text(st, limit));
        return;
    }
    printf("SIGTERM then %s: killed by it after %.2f s\n", second == SIGINT ? "SIGINT" : "SIGTERM", secs);
}

static void remove_dir(void) {
    static const char *names[] = {"ref0.safetensors", "ref1.safetensors", "ref2.safetensors", "case.safetensors",
                                  "long.txt", "stdout.txt", "stderr.txt"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[300];
        path_in(p, sizeof p, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    path_in(out_path, sizeof out_path, "stdout.txt");
    path_in(err_path, sizeof err_path, "stderr.txt");
    char model[300];
    path_in(model, sizeof model, "long.txt");
    FILE *f = fopen(model, "w");
    if (!f || fputs(long_step_model, f) < 0 || fclose(f) != 0) return 1;

    test_omp_settings();
    test_grace(model);
    test_second_signal(model, SIGINT);
    test_second_signal(model, SIGTERM);

    remove_dir();
    return test_report();
}
