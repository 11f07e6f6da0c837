/* cli_run.h — run the `cnn` tool from a test: fork + exec in a working
 * directory, with extra environment variables, stdout and stderr captured,
 * killed with SIGKILL after a time limit (a hang is reported, not waited out).
 * Header-only; include after test_util.h. */
#ifndef CNN_TEST_CLI_RUN_H
#define CNN_TEST_CLI_RUN_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int status;   /* waitpid status; meaningless when hung */
    int hung;     /* killed after the time limit */
    int code;     /* exit code, or -1 if killed by a signal */
    double seconds;
    char out[16384], err[16384];
} cli_result;

static void cli__read(const char *path, char *buf, size_t cap) {
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Run CNN_BINARY_DIR/cnn with argv (argv[0] ignored, NULL-terminated) in dir,
 * with env ("NAME=VALUE" strings, NULL-terminated, may be NULL) added. */
static void cli_run(cli_result *r, const char *dir, char *const *env, char *const *argv, int limit_seconds) {
    char bin[1024], out_path[4200], err_path[4200];
    snprintf(bin, sizeof bin, "%s/cnn", CNN_BINARY_DIR);
    snprintf(out_path, sizeof out_path, "%s/.stdout", dir);
    snprintf(err_path, sizeof err_path, "%s/.stderr", dir);
    memset(r, 0, sizeof *r);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || in < 0 || chdir(dir) != 0) _exit(127);
        dup2(in, 0), dup2(o, 1), dup2(e, 2);
        for (int k = 0; env && env[k]; k++) {
            char var[256];
            const char *eq = strchr(env[k], '=');
            if (!eq || (size_t)(eq - env[k]) >= sizeof var) _exit(127);
            snprintf(var, sizeof var, "%.*s", (int)(eq - env[k]), env[k]);
            setenv(var, eq + 1, 1);
        }
        execv(bin, argv);
        _exit(127);
    }
    for (;;) {
        pid_t w = waitpid(pid, &r->status, WNOHANG);
        clock_gettime(CLOCK_MONOTONIC, &now);
        r->seconds = (double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec);
        if (w == pid) break;
        if (r->seconds > limit_seconds) {
            kill(pid, SIGKILL);
            waitpid(pid, &r->status, 0);
            r->hung = 1;
            break;
        }
        struct timespec nap = {0, 2 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    r->code = !r->hung && WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
    cli__read(out_path, r->out, sizeof r->out);
    cli__read(err_path, r->err, sizeof r->err);
    unlink(out_path);
    unlink(err_path);
}

/* Split a command line at spaces into argv (argv[0] = "cnn"); buf is modified. */
static int cli_split(char **argv, int cap, char *buf) {
    int n = 0;
    argv[n++] = "cnn";
    for (char *p = strtok(buf, " "); p && n < cap - 1; p = strtok(NULL, " ")) argv[n++] = p;
    argv[n] = NULL;
    return n;
}

/* Print the command, status and output of a failed case. */
static void cli_report(const char *what, char *const *argv, const cli_result *r) {
    fprintf(stderr, "  case: %s\n  command: cnn", what);
    for (int k = 1; argv[k]; k++) fprintf(stderr, " %s", argv[k]);
    fprintf(stderr, "\n  %s, exit %d after %.1f s\n  stdout: %.600s\n  stderr: %.600s\n",
            r->hung ? "HUNG (killed)" : "finished", r->code, r->seconds, r->out, r->err);
}

#endif /* CNN_TEST_CLI_RUN_H */
