/* fixture.h — reader for the reference files that the Python scripts under tools/fixtures write
 * with PyTorch. Format (text, one record per line, "#" starts a comment):
 *
 *   case <name>                       starts a case; the records below belong to it
 *   int <key> <value>                 an integer parameter (kernel_h, ceil_mode, ...)
 *   float <key> <value>               a float parameter (lr, ...)
 *   str <key> <value>                 a string parameter (padding 'same', ...)
 *   tensor <key> <ndim> <d0> .. <dn-1> followed by numel floats (%.9g) on the next line(s)
 *
 * Floats are written with 9 significant digits, so float32 values round-trip exactly.
 * Usage: fixture_case *cs; int n = fixture_load(CNN_FIXTURES_DIR "/conv2d.txt", &cs);
 * then fixture_int(&cs[i], "stride_h", 1), fixture_tensor(&cs[i], "x"). fixture_free(cs, n). */
#ifndef CNN_TEST_FIXTURE_H
#define CNN_TEST_FIXTURE_H

#include "cnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char key[64];
    char kind;        /* 'i' int, 'f' float, 's' string, 't' tensor */
    long long ival;
    double fval;
    char sval[64];
    cnn_tensor t;
} fixture_item;

typedef struct {
    char name[128];
    fixture_item *items;
    int n_items;
} fixture_case;

static inline void fixture_free(fixture_case *cs, int n) {
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < cs[i].n_items; j++) cnn_tensor_free(&cs[i].items[j].t);
        free(cs[i].items);
    }
    free(cs);
}

/* Returns the number of cases, or -1 (with a message on stderr) on a bad file. */
static inline int fixture_load(const char *path, fixture_case **out) {
    FILE *f = fopen(path, "r");
    *out = NULL;
    if (!f) { fprintf(stderr, "fixture: cannot open %s\n", path); return -1; }
    fixture_case *cs = NULL;
    int n = 0;
    char word[64];
    while (fscanf(f, "%63s", word) == 1) {
        if (word[0] == '#') { int ch; while ((ch = fgetc(f)) != EOF && ch != '\n') {} continue; }
        if (strcmp(word, "case") == 0) {
            cs = realloc(cs, (size_t)(n + 1) * sizeof *cs);
            memset(&cs[n], 0, sizeof cs[n]);
            if (fscanf(f, "%127s", cs[n].name) != 1) goto bad;
            n++;
            continue;
        }
        if (n == 0) goto bad;
        fixture_case *c = &cs[n - 1];
        c->items = realloc(c->items, (size_t)(c->n_items + 1) * sizeof *c->items);
        fixture_item *it = &c->items[c->n_items++];
        memset(it, 0, sizeof *it);
        if (fscanf(f, "%63s", it->key) != 1) goto bad;
        if (strcmp(word, "int") == 0) {
            it->kind = 'i';
            if (fscanf(f, "%lld", &it->ival) != 1) goto bad;
        } else if (strcmp(word, "float") == 0) {
            it->kind = 'f';
            if (fscanf(f, "%lf", &it->fval) != 1) goto bad;
        } else if (strcmp(word, "str") == 0) {
            it->kind = 's';
            if (fscanf(f, "%63s", it->sval) != 1) goto bad;
        } else if (strcmp(word, "tensor") == 0) {
            int ndim;
            int64_t shape[CNN_MAX_DIMS] = {0};
            it->kind = 't';
            if (fscanf(f, "%d", &ndim) != 1 || ndim < 1 || ndim > CNN_MAX_DIMS) goto bad;
            for (int d = 0; d < ndim; d++)
                if (fscanf(f, "%lld", (long long *)&shape[d]) != 1) goto bad;
            if (cnn_tensor_zeros(&it->t, ndim, shape) != CNN_OK) goto bad;
            int64_t numel = cnn_tensor_numel(&it->t);
            for (int64_t k = 0; k < numel; k++)
                if (fscanf(f, "%f", &it->t.data[k]) != 1) goto bad;
        } else {
            goto bad;
        }
    }
    fclose(f);
    *out = cs;
    return n;
bad:
    fprintf(stderr, "fixture: malformed %s near case %d\n", path, n);
    fclose(f);
    fixture_free(cs, n);
    return -1;
}

static inline const fixture_item *fixture_find(const fixture_case *c, const char *key) {
    for (int i = 0; i < c->n_items; i++)
        if (strcmp(c->items[i].key, key) == 0) return &c->items[i];
    return NULL;
}
static inline long long fixture_int(const fixture_case *c, const char *key, long long dflt) {
    const fixture_item *it = fixture_find(c, key);
    return it && it->kind == 'i' ? it->ival : dflt;
}
static inline double fixture_float(const fixture_case *c, const char *key, double dflt) {
    const fixture_item *it = fixture_find(c, key);
    return it && it->kind == 'f' ? it->fval : dflt;
}
static inline const char *fixture_str(const fixture_case *c, const char *key) {
    const fixture_item *it = fixture_find(c, key);
    return it && it->kind == 's' ? it->sval : NULL;
}
/* The tensor, or NULL if the case has none by that name. */
static inline const cnn_tensor *fixture_tensor(const fixture_case *c, const char *key) {
    const fixture_item *it = fixture_find(c, key);
    return it && it->kind == 't' ? &it->t : NULL;
}

#endif /* CNN_TEST_FIXTURE_H */
