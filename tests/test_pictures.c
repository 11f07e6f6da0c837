/* test_pictures.c — the pictures as a user sees them: each SVG is rendered
 * to PNG by rsvg-convert (librsvg, as an image viewer or a browser would) and
 * the test looks at the pixels (decoded with libpng):
 *   - the training plot of a 1-epoch run shows its test accuracy (one value,
 *     a marker: a line through one point would be invisible), and the
 *     training points;
 *   - its x tick labels are all there, apart and inside the picture, for 1
 *     epoch (0.0 ... 1.0) and for 100 epochs (20 ... 100), and a 100-epoch run
 *     shows three clean lines (no markers);
 *   - the confusion matrix keeps every label inside the canvas (nothing
 *     touches its border), for Fashion-MNIST's names and for long names. */
#include "test_util.h"

#include <png.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define ZOOM 2.0
#define PX_PER_PT (ZOOM * 96.0 / 72.0)

static char dir[] = "/tmp/cnn-pictures-XXXXXX";

typedef struct {
    int w, h;
    unsigned char *rgba;
} image;

/* Render path.svg to path.png with rsvg-convert and decode it; 0 on success. */
static int render(image *im, const char *svg) {
    char png[1200], zoom[16];
    snprintf(png, sizeof png, "%s.png", svg);
    snprintf(zoom, sizeof zoom, "%g", ZOOM);
    char *argv[] = {"rsvg-convert", "-z", zoom, "-b", "white", "-o", png, (char *)svg, NULL};
    pid_t pid;
    int st;
    if (posix_spawnp(&pid, "rsvg-convert", NULL, NULL, argv, environ) != 0 || waitpid(pid, &st, 0) < 0 ||
        !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "rsvg-convert failed on %s (is librsvg2-bin installed? tools/install-deps.sh)\n", svg);
        return -1;
    }
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&p, png)) {
        fprintf(stderr, "%s: %s\n", png, p.message);
        return -1;
    }
    p.format = PNG_FORMAT_RGBA;
    im->w = (int)p.width, im->h = (int)p.height;
    im->rgba = malloc(PNG_IMAGE_SIZE(p));
    if (!im->rgba || !png_image_finish_read(&p, NULL, im->rgba, 0, NULL)) {
        fprintf(stderr, "%s: %s\n", png, p.message);
        return -1;
    }
    return 0;
}

static const unsigned char *px(const image *im, int x, int y) { return im->rgba + 4 * ((size_t)y * im->w + x); }
static int dark(const image *im, int x, int y) {
    const unsigned char *p = px(im, x, y);
    return p[0] + p[1] + p[2] < 3 * 100;
}
/* Pixels near a color (each channel within 60). */
static int count_color(const image *im, int r, int g, int b) {
    int n = 0;
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            const unsigned char *p = px(im, x, y);
            n += abs(p[0] - r) < 60 && abs(p[1] - g) < 60 && abs(p[2] - b) < 60;
        }
    return n;
}

/* The lowest row that is mostly black: the bottom spine of the axes. */
static int bottom_spine(const image *im) {
    for (int y = im->h - 1; y >= 0; y--) {
        int n = 0;
        for (int x = 0; x < im->w; x++) n += dark(im, x, y);
        if (n > im->w / 2) return y;
    }
    return -1;
}

/* Groups of columns with dark pixels in rows [y0, y1), split by gaps of at
 * least gap columns: the tick labels under the axes. *touches is set when a
 * group reaches the left or right edge. */
static int label_groups(const image *im, int y0, int y1, int gap, int *touches) {
    int groups = 0, blank = gap;
    *touches = 0;
    for (int x = 0; x < im->w; x++) {
        int any = 0;
        for (int y = y0; y < y1 && y < im->h; y++) any |= dark(im, x, y);
        if (any) {
            if (blank >= gap) groups++;
            blank = 0;
            if (x == 0 || x == im->w - 1) *touches = 1;
        } else {
            blank++;
        }
    }
    return groups;
}

/* Non-white pixels within `border` pixels of the edge of the picture. */
static int border_ink(const image *im, int border) {
    int n = 0;
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            if (x >= border && x < im->w - border && y >= border && y < im->h - border) continue;
            const unsigned char *p = px(im, x, y);
            n += p[0] + p[1] + p[2] < 3 * 230;
        }
    return n;
}

/* Points as cnn train gives them: 5 per epoch, test accuracy at its end. */
static int run_points(cnn_plot_point *pts, int epochs, int with_test) {
    int n = 0;
    for (int e = 0; e < epochs; e++) {
        for (int b = 1; b <= 5; b++) {
            double x = e + b / 5.0, t = x / epochs;
            pts[n++] = (cnn_plot_point){x, 0.45 + 1.85 * exp(-6 * t), 0.82 - 0.72 * exp(-7 * t), NAN};
        }
        pts[n++] = (cnn_plot_point){e + 1, NAN, NAN, with_test ? 0.79 - 0.6 * exp(-0.08 * (e + 1)) : NAN};
    }
    return n;
}

/* The x tick labels of a plot: `want` groups, none at the picture's edges. */
static void check_x_labels(const image *im, int want, const char *what) {
    int spine = bottom_spine(im), touches = 0;
    CHECK(spine > 0);
    if (spine <= 0) return;
    /* Labels sit from 2 x 3.5 pt (tick, pad) below the spine, 10 pt text. */
    int groups = label_groups(im, spine + (int)(5 * PX_PER_PT), spine + (int)(16 * PX_PER_PT),
                              (int)(3 * PX_PER_PT), &touches);
    test__checked++;
    if (groups != want || touches) {
        test__failed++;
        fprintf(stderr, "%s: expected %d separate x tick labels inside the picture, found %d%s\n", what, want,
                groups, touches ? " (one touches the edge)" : "");
    }
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[1200];
    static cnn_plot_point pts[100 * 6];
    const int green[3] = {0x00, 0x80, 0x00}, magenta[3] = {0xbf, 0x00, 0xbf}, blue[3] = {0x00, 0x00, 0xff};

    /* One epoch, with and without its test accuracy: the one value shows. */
    image one = {0}, none = {0};
    snprintf(path, sizeof path, "%s/one_epoch.svg", dir);
    CHECK_OK(cnn_plot_svg(path, pts, run_points(pts, 1, 1), 1));
    CHECK(render(&one, path) == 0);
    snprintf(path, sizeof path, "%s/one_epoch_no_test.svg", dir);
    CHECK_OK(cnn_plot_svg(path, pts, run_points(pts, 1, 0), 1));
    CHECK(render(&none, path) == 0);
    if (one.rgba && none.rgba) {
        int g1 = count_color(&one, green[0], green[1], green[2]), g0 = count_color(&none, green[0], green[1], green[2]);
        /* A marker 5 pt across is ~13 px across at this zoom: over 60 px. */
        test__checked++;
        if (g1 - g0 < 60) {
            test__failed++;
            fprintf(stderr, "1 epoch: the test accuracy adds %d green pixels, expected a visible marker (>= 60)\n",
                    g1 - g0);
        }
        CHECK(count_color(&one, magenta[0], magenta[1], magenta[2]) > 200);
        CHECK(count_color(&one, blue[0], blue[1], blue[2]) > 200);
        check_x_labels(&one, 6, "1 epoch"); /* 0.0 0.2 0.4 0.6 0.8 1.0 */
    }

    /* 100 epochs: three lines, 5 tick labels (20 ... 100), no clutter of markers. */
    image hundred = {0}, hundred_lines = {0};
    snprintf(path, sizeof path, "%s/hundred.svg", dir);
    int n = run_points(pts, 100, 1);
    CHECK_OK(cnn_plot_svg(path, pts, n, 100));
    CHECK(render(&hundred, path) == 0);
    if (hundred.rgba) {
        check_x_labels(&hundred, 5, "100 epochs");
        CHECK(count_color(&hundred, green[0], green[1], green[2]) > 200);
        CHECK(count_color(&hundred, magenta[0], magenta[1], magenta[2]) > 200);
        CHECK(count_color(&hundred, blue[0], blue[1], blue[2]) > 200);
        /* The same plot without its test values: the green then is the legend's only,
         * and the line adds no more than a 1.5 pt dash-dot line's worth (markers would). */
        for (int i = 0; i < n; i++) pts[i].test_acc = NAN;
        snprintf(path, sizeof path, "%s/hundred_no_test.svg", dir);
        CHECK_OK(cnn_plot_svg(path, pts, n, 100));
        CHECK(render(&hundred_lines, path) == 0);
        if (hundred_lines.rgba) {
            int line = count_color(&hundred, green[0], green[1], green[2]) -
                       count_color(&hundred_lines, green[0], green[1], green[2]);
            /* A 1.5 pt line across ~220 pt, 70% inked: ~ 220 * 4 * 2.7 * 0.7 px. */
            test__checked++;
            if (line > 3000) {
                test__failed++;
                fprintf(stderr, "100 epochs: the test accuracy takes %d green pixels; a clean line takes < 3000\n",
                        line);
            }
        }
    }

    /* Confusion matrices: nothing touches the border. */
    static const char *fashion[10] = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                      "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
    static const char *longer[2] = {"a rather long class name", "another long name, wider"};
    int64_t cm[100];
    for (int i = 0; i < 100; i++) cm[i] = (i * 7) % 13;
    const struct {
        const char *name;
        int c;
        const char *const *names;
    } mats[] = {{"fashion", 10, fashion}, {"long_names", 2, longer}, {"numbers", 10, NULL}, {"one", 1, NULL}};
    for (size_t k = 0; k < sizeof mats / sizeof mats[0]; k++) {
        image im = {0};
        snprintf(path, sizeof path, "%s/cm_%s.svg", dir, mats[k].name);
        CHECK_OK(cnn_confusion_svg(path, cm, mats[k].c, mats[k].names));
        CHECK(render(&im, path) == 0);
        if (!im.rgba) continue;
        int ink = border_ink(&im, 3);
        test__checked++;
        if (ink) {
            test__failed++;
            fprintf(stderr, "confusion matrix %s: %d pixels of ink within 3 px of the edge (a label cut off)\n",
                    mats[k].name, ink);
        }
        free(im.rgba);
    }
    free(one.rgba);
    free(none.rgba);
    free(hundred.rgba);
    free(hundred_lines.rgba);
    if (!test__failed) {
        char cmd[1400];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    } else {
        fprintf(stderr, "pictures kept in %s\n", dir);
    }
    return test_report();
}
