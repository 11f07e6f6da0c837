/* test_plot.c — the Animator SVG: well-formed XML, three series in d2l's
 * styles, legend and axis texts, clean failures on bad arguments and paths,
 * and no temporary file left behind. */
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

/* One directory per run of this test (it runs once per instruction set, at
 * the same time): CNN_BINARY_DIR/test_plot_out.<CNN_ISA>. */
static char out_dir[1024];

/* out_dir/name, in one of eight buffers (several may be in use at once). */
static const char *outp(const char *name) {
    static char bufs[8][1200];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", out_dir, name);
    return b;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, f) != (size_t)n) exit(1);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Minimal XML check: tags balance, attributes are quoted, '&' starts an
 * entity, '<' never appears in text or attribute values. Returns NULL if
 * well formed, else a description of the first problem. */
static const char *xml_problem(const char *s) {
    static char why[160];
    char stack[64][32];
    int depth = 0, roots = 0;
    while (*s) {
        if (*s == '&') {
            const char *semi = strchr(s, ';');
            if (!semi || semi - s > 8) return "bare '&'";
            s = semi + 1;
            continue;
        }
        if (*s != '<') {
            if (depth == 0 && *s != '\n' && *s != ' ') return "text outside the root element";
            s++;
            continue;
        }
        int closing = s[1] == '/';
        const char *p = s + 1 + closing;
        char name[32];
        int k = 0;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-')
            if (k < 31) name[k++] = *p++;
            else return "tag name too long";
        name[k] = '\0';
        if (k == 0) return "empty tag name";
        /* Attributes: name="value" ... */
        for (;;) {
            while (*p == ' ' || *p == '\n') p++;
            if (*p == '>' || (*p == '/' && p[1] == '>')) break;
            while (*p && *p != '=' && *p != '>' && *p != ' ') p++;
            if (*p != '=' || p[1] != '"') return "attribute without a quoted value";
            p += 2;
            while (*p && *p != '"') {
                if (*p == '<') return "'<' in an attribute value";
                p++;
            }
            if (!*p) return "unterminated attribute value";
            p++;
        }
        int self = *p == '/';
        s = p + (self ? 2 : 1);
        if (closing) {
            if (depth == 0 || strcmp(stack[depth - 1], name) != 0) {
                snprintf(why, sizeof why, "</%s> does not close <%s>", name, depth ? stack[depth - 1] : "");
                return why;
            }
            depth--;
        } else if (!self) {
            if (depth == 0) roots++;
            if (depth == 64) return "nesting too deep";
            strcpy(stack[depth++], name);
        }
        if (roots > 1) return "more than one root element";
    }
    if (depth) {
        snprintf(why, sizeof why, "<%s> never closed", stack[depth - 1]);
        return why;
    }
    return NULL;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

/* The polyline of one series must carry its color (and dashes). */
static void check_series(const char *svg, const char *cls, const char *color, const char *dash) {
    char key[64];
    snprintf(key, sizeof key, "<polyline class=\"%s\"", cls);
    const char *p = strstr(svg, key);
    CHECK(p != NULL);
    if (!p) return;
    const char *end = strstr(p, "/>");
    char tag[256];
    snprintf(tag, sizeof tag, "%.*s", (int)(end && end - p < 255 ? end - p : 255), p);
    char want[64];
    snprintf(want, sizeof want, "stroke=\"%s\"", color);
    test__checked++;
    if (!strstr(tag, want) || (dash && !strstr(tag, dash)) || (!dash && strstr(tag, "dasharray"))) {
        test__failed++;
        fprintf(stderr, "series %s: expected %s %s, got %s\n", cls, want, dash ? dash : "(solid)", tag);
    }
}

static void check_svg(const char *path, int want_points) {
    char *svg = read_text(path);
    CHECK(svg != NULL);
    if (!svg) return;
    size_t n = strlen(svg);
    CHECK(strncmp(svg, "<svg", 4) == 0);
    CHECK(n > 7 && strcmp(svg + n - 7, "</svg>\n") == 0);
    const char *problem = xml_problem(svg);
    test__checked++;
    if (problem) {
        test__failed++;
        fprintf(stderr, "%s: not well-formed XML: %s\n", path, problem);
    }
    CHECK_INT_EQ(count(svg, "<polyline"), 3);
    check_series(svg, "train-loss", "#0000ff", NULL);
    check_series(svg, "train-acc", "#bf00bf", "stroke-dasharray");
    check_series(svg, "test-acc", "#008000", "stroke-dasharray");
    CHECK(strstr(svg, ">train loss</text>") != NULL);
    CHECK(strstr(svg, ">train acc</text>") != NULL);
    CHECK(strstr(svg, ">test acc</text>") != NULL);
    CHECK(strstr(svg, ">epoch</text>") != NULL);
    if (want_points >= 0) {
        /* Points are "x,y" pairs separated by spaces; count the commas. */
        int pts = 0;
        for (const char *p = svg; (p = strstr(p, "points=\"")); p++)
            for (const char *q = p + 8; *q && *q != '"'; q++) pts += *q == ',';
        CHECK_INT_EQ(pts, want_points);
    }
    free(svg);
}

int main(void) {
    const char *isa = getenv("CNN_ISA");
    snprintf(out_dir, sizeof out_dir, "%s/test_plot_out.%s", CNN_BINARY_DIR, isa && *isa ? isa : "default");
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", out_dir);
        return 1;
    }
    /* A d2l-like run: 10 epochs, 5 points per epoch, test acc per epoch. */
    enum { EPOCHS = 10, PER = 5 };
    cnn_plot_point pts[EPOCHS * (PER + 1)];
    int n = 0;
    for (int e = 0; e < EPOCHS; e++) {
        for (int b = 1; b <= PER; b++) {
            double x = e + (double)b / PER, t = x / EPOCHS;
            pts[n++] = (cnn_plot_point){x, 0.45 + 1.85 * exp(-6 * t), 0.82 - 0.72 * exp(-7 * t), NAN};
        }
        pts[n++] = (cnn_plot_point){e + 1, NAN, NAN, 0.79 - 0.6 * exp(-0.8 * (e + 1))};
    }
    char path[1200];
    snprintf(path, sizeof path, "%s", outp("animator.svg"));
    CHECK_OK(cnn_plot_svg(path, pts, 3, EPOCHS));
    check_svg(path, 3 * 2);
    /* Rewriting the same file replaces it (this one stays for a look). */
    CHECK_OK(cnn_plot_svg(path, pts, n, EPOCHS));
    check_svg(path, EPOCHS * PER * 2 + EPOCHS);

    /* Early in training: no points at all, one epoch, all-absent values. */
    CHECK_OK(cnn_plot_svg(outp("empty.svg"), NULL, 0, 10));
    check_svg(outp("empty.svg"), 0);
    CHECK_OK(cnn_plot_svg(outp("one_epoch.svg"), pts, PER + 1, 1));
    check_svg(outp("one_epoch.svg"), PER * 2 + 1);
    cnn_plot_point absent[2] = {{0.5, NAN, NAN, NAN}, {NAN, 1, 1, 1}};
    CHECK_OK(cnn_plot_svg(outp("absent.svg"), absent, 2, 3));
    check_svg(outp("absent.svg"), 0);
    /* Values outside [0, 1] (a diverging loss) widen the y axis. */
    cnn_plot_point wide[2] = {{1, 40, 0.1, NAN}, {2, -3, 0.2, 0.3}};
    CHECK_OK(cnn_plot_svg(outp("wide.svg"), wide, 2, 2));
    check_svg(outp("wide.svg"), 5);

    /* Failures. */
    CHECK_STATUS(cnn_plot_svg(outp("no/such/dir/plot.svg"), pts, n, EPOCHS), CNN_EIO);
    CHECK(strstr(cnn_last_error(), outp("no/such/dir/plot.svg")) != NULL);
    CHECK_STATUS(cnn_plot_svg(out_dir, pts, n, EPOCHS), CNN_EIO); /* a directory */
    CHECK_STATUS(cnn_plot_svg(NULL, pts, n, EPOCHS), CNN_EINVAL);
    CHECK_STATUS(cnn_plot_svg("", pts, n, EPOCHS), CNN_EINVAL);
    CHECK_STATUS(cnn_plot_svg(path, NULL, 3, EPOCHS), CNN_EINVAL);
    CHECK_STATUS(cnn_plot_svg(path, pts, -1, EPOCHS), CNN_EINVAL);
    CHECK_STATUS(cnn_plot_svg(path, pts, n, 0), CNN_EINVAL);

    DIR *d = opendir(out_dir);
    CHECK(d != NULL);
    for (struct dirent *e; d && (e = readdir(d));) {
        test__checked++;
        if (strstr(e->d_name, ".tmp.")) {
            test__failed++;
            fprintf(stderr, "temporary file left behind: %s\n", e->d_name);
        }
    }
    if (d) closedir(d);
    return test_report();
}
