/* paths.c — the one rule for the files a subcommand reads and writes (paths.h). */
#include "paths.h"

#include "cnn.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void cli_paths_input(cli_paths *ps, const char *opt, const char *path) {
    if (!path || ps->n_in == CLI_MAX_PATHS) return;
    ps->in[ps->n_in++] = (cli_path){opt, path, NULL};
}

void cli_paths_output(cli_paths *ps, const char *opt, const char *path, const char *may_be) {
    if (!path || ps->n_out == CLI_MAX_PATHS) return;
    ps->out[ps->n_out++] = (cli_path){opt, path, may_be};
}

void cli_paths_data(cli_paths *ps, const char *dir, int with_train) {
    static const char *idx[4] = {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte",
                                 "train-labels-idx1-ubyte"};
    static const char *cifar10[2] = {"test_batch.bin", "data_batch_1.bin"};
    static const char *cifar100[2] = {"test.bin", "train.bin"};
    static const char *csv[2] = {"test.csv", "train.csv"};
    static char paths[8][4200];
    const char *fmt = cnn_data_format(dir);
    if (!fmt || !strcmp(fmt, "idx")) {
        for (int k = 0; k < (with_train ? 4 : 2); k++)
            for (int gz = 0; gz < 2; gz++) {
                char *p = paths[2 * k + gz];
                snprintf(p, sizeof paths[0], "%s/%s%s", dir, idx[k], gz ? ".gz" : "");
                cli_paths_input(ps, "--data", p);
            }
        return;
    }
    const char **names = !strcmp(fmt, "cifar10") ? cifar10 : !strcmp(fmt, "cifar100") ? cifar100
                         : !strcmp(fmt, "csv")   ? csv : NULL;
    for (int k = 0; names && k < (with_train ? 2 : 1); k++) {
        snprintf(paths[k], sizeof paths[0], "%s/%s", dir, names[k]);
        cli_paths_input(ps, "--data", paths[k]);
    }
}

/* What names a file, however it is spelled: the inode of an existing file
 * (links followed), or for a file still to be made, the inode of its
 * directory and its last name. */
typedef struct {
    int exists, ok;
    dev_t dev;
    ino_t ino;
    char name[256];
} file_id;

static file_id identify(const char *path) {
    file_id id;
    memset(&id, 0, sizeof id);
    struct stat st;
    if (stat(path, &st) == 0) {
        id.exists = id.ok = 1, id.dev = st.st_dev, id.ino = st.st_ino;
        return id;
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (strlen(base) < sizeof id.name && stat(dir, &st) == 0) {
        id.ok = 1, id.dev = st.st_dev, id.ino = st.st_ino;
        memcpy(id.name, base, strlen(base) + 1);
    }
    return id;
}

static int same_file(const file_id *a, const file_id *b) {
    return a->ok && b->ok && a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
           strcmp(a->name, b->name) == 0;
}

int cli_paths_check(const char *cmd, const cli_paths *ps) {
    for (int i = 0; i < ps->n_out; i++)
        if (cnn_file_check_output(ps->out[i].path) < 0) {
            fprintf(stderr, "cnn %s: error: %s: %s\n", cmd, ps->out[i].opt, cnn_last_error());
            return -1;
        }
    file_id in[CLI_MAX_PATHS], out[CLI_MAX_PATHS];
    for (int i = 0; i < ps->n_in; i++) in[i] = identify(ps->in[i].path);
    for (int i = 0; i < ps->n_out; i++) out[i] = identify(ps->out[i].path);
    for (int i = 0; i < ps->n_out; i++) {
        const cli_path *o = &ps->out[i];
        for (int j = 0; j < i; j++)
            if (same_file(&out[i], &out[j])) {
                fprintf(stderr, "cnn %s: error: %s %s and %s %s are the same file; give each output its own path\n",
                        cmd, ps->out[j].opt, ps->out[j].path, o->opt, o->path);
                return -1;
            }
        for (int j = 0; j < ps->n_in; j++)
            if (in[j].exists && same_file(&out[i], &in[j]) && !(o->may_be && !strcmp(o->may_be, ps->in[j].opt))) {
                fprintf(stderr, "cnn %s: error: %s %s is the same file as %s %s, which it would overwrite; "
                                "give the output another path\n",
                        cmd, o->opt, o->path, ps->in[j].opt, ps->in[j].path);
                return -1;
            }
    }
    return 0;
}
