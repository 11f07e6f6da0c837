/* weights_io.c — what eval and predict share: the model of a weights file
 * (from its metadata, or --model), the preprocessing it records, class
 * names, and the data set of --data. */
#include "weights_io.h"

#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_resize(const char *cmd, const char *opt, const char *s, int *h, int *w) {
    long long v[2] = {0, 0};
    const char *p = s;
    int n = 0, ok = 1;
    while (ok && n < 2) {
        char *end;
        errno = 0;
        ok = *p >= '0' && *p <= '9';
        if (ok) v[n] = strtoll(p, &end, 10);
        ok = ok && !errno && v[n] >= 1 && v[n] <= 4096;
        if (!ok) break;
        n++;
        p = end;
        if (*p == '\0') break;
        ok = *p == ',' && n == 1;
        p++;
    }
    if (!ok || n < 1) {
        fprintf(stderr, "cnn %s: %s: expected H or H,W with each in 1..4096, found '%s'\n", cmd, opt, s);
        return -1;
    }
    *h = (int)v[0];
    *w = n == 2 ? (int)v[1] : (int)v[0];
    return 0;
}

int cli_parse_normalize(const char *cmd, const char *s, int64_t c, float *mean, float *std) {
    double v[2 * CNN_MAX_NORM_CHANNELS];
    int n = 0;
    const char *p = s;
    while (n < 2 * CNN_MAX_NORM_CHANNELS) {
        char *end;
        errno = 0;
        v[n] = strtod(p, &end);
        if (end == p || errno || !isfinite(v[n])) break;
        n++;
        p = end;
        if (*p != ',') break;
        p++;
    }
    if (*p != '\0' || (n != 2 && n != 2 * c)) {
        fprintf(stderr,
                "cnn %s: --normalize: expected auto, MEAN,STD (every channel) or %lld means then %lld stds, "
                "comma-separated, found '%s'\n",
                cmd, (long long)c, (long long)c, s);
        return -1;
    }
    for (int64_t k = 0; k < c; k++) {
        mean[k] = (float)(n == 2 ? v[0] : v[k]);
        std[k] = (float)(n == 2 ? v[1] : v[c + k]);
        if (!(std[k] > 0)) {
            fprintf(stderr, "cnn %s: --normalize: std of channel %lld: expected > 0, found %g\n", cmd, (long long)k,
                    (double)std[k]);
            return -1;
        }
    }
    return 0;
}

int cli_load_weights(const char *cmd, const char *weights, const char *model_name, const int64_t fallback_chw[3],
                     cnn_model **m, cnn_weights_info *info) {
    *m = NULL;
    int rc = cnn_weights_info_read(info, weights);
    if (rc < 0) return cli_fail(cmd, rc), -1;
    if (!info->model_text) {
        /* no metadata (PyTorch's file, or an older cnn): the model comes from --model */
        if (cli_load_model(cmd, model_name ? model_name : "lenet", fallback_chw, m) < 0) return -1;
        if ((rc = cnn_model_load(*m, weights)) < 0) return cli_fail(cmd, rc), -1;
        return 0;
    }
    char source[1100];
    snprintf(source, sizeof source, "%s (metadata \"cnn.model\")", weights);
    if ((rc = cnn_model_create_from_text(m, info->model_text, source, info->input_chw)) < 0) return cli_fail(cmd, rc), -1;
    if (model_name) {
        /* --model must describe the same function as the recorded model */
        cnn_model *given = NULL;
        if (cli_load_model(cmd, model_name, info->input_chw, &given) < 0) return -1;
        int na = cnn_model_describe(NULL, 0, *m), nb = cnn_model_describe(NULL, 0, given);
        char *a = na >= 0 ? malloc((size_t)na + 1) : NULL, *b = nb >= 0 ? malloc((size_t)nb + 1) : NULL;
        int same = a && b && cnn_model_describe(a, (size_t)na + 1, *m) == na &&
                   cnn_model_describe(b, (size_t)nb + 1, given) == nb && !strcmp(a, b);
        if (!same && a && b) {
            /* the first layer that differs */
            int layer = 0;
            size_t i = 0;
            while (a[i] && a[i] == b[i]) layer += a[i++] == ';';
            const char *la = a + i, *lb = b + i;
            while (la > a && la[-1] != ';') la--;
            while (lb > b && lb[-1] != ';') lb--;
            fprintf(stderr,
                    "cnn %s: error: --model %s differs from the model recorded in %s: layer %d is %.*s there, "
                    "%.*s here\n",
                    cmd, model_name, weights, layer, (int)strcspn(la, ";"), la, (int)strcspn(lb, ";"), lb);
        } else if (!same) {
            fprintf(stderr, "cnn %s: error: out of memory\n", cmd);
        }
        free(a);
        free(b);
        cnn_model_free(given);
        if (!same) return -1;
    }
    if ((rc = cnn_model_load(*m, weights)) < 0) return cli_fail(cmd, rc), -1;
    return 0;
}

int cli_read_classes(const char *cmd, const char *path, char ***names, int64_t *n) {
    *names = NULL;
    *n = 0;
    char *text = NULL;
    size_t len = 0;
    int rc = cnn_file_read(path, (size_t)1 << 24, &text, &len);
    if (rc < 0) {
        fprintf(stderr, "cnn %s: --classes: %s\n", cmd, cnn_last_error());
        return -1;
    }
    int64_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += text[i] == '\n';
    char **out = calloc((size_t)cap, sizeof *out);
    int64_t k = 0;
    for (char *p = text; out && p < text + len;) {
        char *e = memchr(p, '\n', (size_t)(text + len - p));
        if (!e) e = text + len;
        size_t l = (size_t)(e - p);
        if (l && p[l - 1] == '\r') l--;
        if (l) {
            out[k] = malloc(l + 1);
            if (!out[k]) break;
            memcpy(out[k], p, l);
            out[k++][l] = '\0';
        }
        p = e + 1;
    }
    cnn_free(text);
    if (!out || k == 0) {
        fprintf(stderr, "cnn %s: --classes: %s: %s\n", cmd, path, out ? "no class names (one per line)" : "out of memory");
        free(out);
        return -1;
    }
    *names = out;
    *n = k;
    return 0;
}

void cli_free_classes(char **names, int64_t n) {
    for (int64_t i = 0; names && i < n; i++) free(names[i]);
    free(names);
}
