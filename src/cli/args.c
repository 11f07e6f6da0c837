/* args.c — value parsing and model lookup shared by the subcommands. */
#include "args.h"


#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_fail(const char *cmd, int status) {
    fprintf(stderr, "cnn %s: error: %s (%s)\n", cmd, cnn_last_error(), cnn_strerror(status));
    return 1;
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "cnn %s: %s: expected a value after it, found the end of the command line\n", cmd, argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cli_parse_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) {
        fprintf(stderr, "cnn %s: %s: expected an integer, found '%s'\n", cmd, opt, s);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "cnn %s: %s: expected an integer in %lld..%lld, found %lld\n", cmd, opt, lo, hi, v);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_float(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        fprintf(stderr, "cnn %s: %s: expected a finite number, found '%s'\n", cmd, opt, s);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "cnn %s: %s: expected a number in [%g, %g], found %g\n", cmd, opt, lo, hi, v);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_shape(const char *cmd, const char *opt, const char *s, int64_t chw[3]) {
    const char *p = s;
    for (int d = 0; d < 3; d++) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno == ERANGE || v < 1 || v > 65536 || (d < 2 ? *end != ',' : *end != '\0')) {
            fprintf(stderr, "cnn %s: %s: expected C,H,W with each in 1..65536, found '%s'\n", cmd, opt, s);
            return -1;
        }
        chw[d] = v;
        p = end + 1;
    }
    return 0;
}

static int cli_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The installed models beside the executable: <bindir>/CNN_MODELS_FROM_BIN
 * (../share/cnn/models), found through /proc/self/exe, so an installed cnn
 * finds them under any prefix. NULL if there is no such directory. */
static const char *models_beside_exe(void) {
#ifdef CNN_MODELS_FROM_BIN
    static char dir[4096];
    char exe[3800];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    *slash = '\0';
    snprintf(dir, sizeof dir, "%s/%s", exe, CNN_MODELS_FROM_BIN);
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
#else
    return NULL;
#endif
}

int cli_find_model(const char *cmd, const char *name, const char **path_out) {
    static char path[4096];
    const char *dirs[4];
    int nd = 0;
    const char *env = getenv("CNN_MODELS_DIR");
    struct stat st;
    if (cli_is_file(name) || (stat(name, &st) == 0 && !S_ISDIR(st.st_mode))) {
        snprintf(path, sizeof path, "%s", name); /* not a regular file: reading it says so */
        *path_out = path;
        return 0;
    }
    if (env && *env) dirs[nd++] = env;
    dirs[nd++] = "models";
    const char *installed = models_beside_exe();
    if (installed) dirs[nd++] = installed;
#ifdef CNN_SOURCE_MODELS_DIR
    dirs[nd++] = CNN_SOURCE_MODELS_DIR;
#endif
    for (int k = 0; k < nd; k++) {
        snprintf(path, sizeof path, "%s/%s.txt", dirs[k], name);
        if (cli_is_file(path)) {
            *path_out = path;
            return 0;
        }
    }
    fprintf(stderr, "cnn %s: model '%s': not a file, and no %s.txt in", cmd, name, name);
    for (int k = 0; k < nd; k++) fprintf(stderr, "%s %s/", k ? "," : "", dirs[k]);
    fprintf(stderr, "\n");
    return -1;
}

int cli_read_model(const char *cmd, const char *name, char **text, const char **path_out) {
    const char *path;
    *text = NULL;
    if (cli_find_model(cmd, name, &path) < 0) return -1;
    if (cnn_file_read(path, 1 << 20, text, NULL) < 0) {
        fprintf(stderr, "cnn %s: model file %s\n", cmd, cnn_last_error());
        return -1;
    }
    *path_out = path;
    return 0;
}

int cli_load_model(const char *cmd, const char *name, const int64_t chw[3], cnn_model **m) {
    char *text;
    const char *path;
    *m = NULL;
    if (cli_read_model(cmd, name, &text, &path) < 0) return -1;
    int rc = cnn_model_create_from_text(m, text, path, chw);
    cnn_free(text);
    if (rc < 0) {
        fprintf(stderr, "cnn %s: error: %s\n", cmd, cnn_last_error());
        return -1;
    }
    return 0;
}
