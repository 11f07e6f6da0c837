/* train_signal.c — clean stops of `cnn train` on SIGINT / SIGTERM and the
 * messages around checkpoints (see train_signal.h, docs/CHECKPOINTS.md). */
#include "train_signal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal; /* the signal that arrived, or 0 */
static cnn_train_event last_event;         /* where training was at the last step */
static int have_event;
static struct sigaction default_action;    /* SIG_DFL, made before any handler runs */

/* The handlers call only async-signal-safe functions (sigaction, alarm,
 * write, raise, _exit) and keep errno as it was. */
static void on_signal(int sig) {
    int saved = errno;
    stop_signal = sig;
    /* either signal a second time ends the process (SA_RESETHAND covers
     * only the one that arrived) */
    sigaction(SIGINT, &default_action, NULL);
    sigaction(SIGTERM, &default_action, NULL);
    alarm(CLI_STOP_GRACE_SECONDS);
    errno = saved;
}

#define CLI__STR(x) #x
#define CLI__XSTR(x) CLI__STR(x)

/* The step did not end in time: end as the signal's default action would. */
static void on_grace_expired(int unused) {
    (void)unused;
    static const char msg[] = "cnn train: the step did not end within " CLI__XSTR(CLI_STOP_GRACE_SECONDS)
                              " s of the signal; stopped without a checkpoint\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    int sig = stop_signal ? stop_signal : SIGTERM;
    sigaction(sig, &default_action, NULL);
    raise(sig);
    _exit(128 + sig); /* only if the signal was blocked in this thread */
}

void cli_train_signals_install(void) {
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sa.sa_flags = SA_RESETHAND | SA_RESTART; /* a second signal is not caught; reads and writes go on */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct sigaction alrm;
    memset(&alrm, 0, sizeof alrm);
    alrm.sa_handler = on_grace_expired;
    sigemptyset(&alrm.sa_mask);
    sigaction(SIGALRM, &alrm, NULL);
}

int cli_train_should_stop(const cnn_train_event *ev) {
    last_event = *ev;
    have_event = 1;
    if (!stop_signal) return 0;
    alarm(0); /* the step ended in time: the checkpoint write that follows is not cut */
    return 1;
}

int cli_train_stop_signal(void) {
    if (stop_signal) alarm(0);
    return stop_signal;
}

int cli_train_check_checkpoint_options(const cnn_train_config *cfg) {
    if (cfg->checkpoint_every > 0 && !cfg->checkpoint) {
        fprintf(stderr, "cnn train: --checkpoint-every: needs --checkpoint FILE\n");
        return 2;
    }
    return 0;
}

/* An argument as the shell needs it: quoted unless made of safe characters. */
static void print_arg(FILE *f, const char *a) {
    int safe = a[0] != '\0';
    for (const char *p = a; *p && safe; p++)
        safe = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%", *p) != NULL;
    if (safe) {
        fprintf(f, " %s", a);
        return;
    }
    fputs(" '", f);
    for (const char *p = a; *p; p++) {
        if (*p == '\'') fputs("'\\''", f);
        else fputc(*p, f);
    }
    fputc('\'', f);
}

int cli_train_interrupted(int argc, char **argv, const cnn_train_config *cfg, int procs) {
    int sig = stop_signal;
    const char *name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a stop request";
    if (have_event)
        fprintf(stderr, "cnn train: stopped by %s after step %lld (epoch %d, batch %lld/%lld)\n", name,
                (long long)last_event.step, last_event.epoch + 1, (long long)last_event.batch,
                (long long)last_event.num_batches);
    else
        fprintf(stderr, "cnn train: stopped by %s before the first step\n", name);
    if (cfg->checkpoint) {
        fprintf(stderr, "cnn train: checkpoint written to %s\ncnn train: resume with", cfg->checkpoint);
        if (procs > 1) fprintf(stderr, " (on any number of processes)");
        fprintf(stderr, ":\n  ");
        if (procs > 1) fprintf(stderr, "mpirun -np %d ", procs);
        fprintf(stderr, "cnn");
        for (int i = 0; i < argc; i++) {
            if (!strcmp(argv[i], "--resume") && i + 1 < argc) {
                i++;
                continue;
            }
            if (!strncmp(argv[i], "--resume=", 9)) continue;
            print_arg(stderr, argv[i]);
        }
        print_arg(stderr, "--resume");
        print_arg(stderr, cfg->checkpoint);
        fputc('\n', stderr);
    } else {
        fprintf(stderr, "cnn train: no checkpoint written (run with --checkpoint FILE to be able to resume)\n");
    }
    return sig ? 128 + sig : 1;
}
