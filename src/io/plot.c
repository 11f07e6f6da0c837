/* plot.c — d2l's Animator picture (train loss, train acc, test acc per epoch)
 * written as a standalone SVG file.
 *
 * Geometry follows matplotlib's defaults as d2l uses them: a 3.5 x 2.5 inch
 * figure (252 x 180 pt), 10 pt DejaVu Sans, ticks 3.5 pt long pointing out,
 * 0.8 pt black spines, a #b0b0b0 grid, 1.5 pt lines, dashes scaled by the line
 * width, and the legend at matplotlib's 'best' place (the candidate position
 * covering the fewest data vertices and segments). Ticks are picked the way
 * MaxNLocator does: the smallest step in {1, 2, 2.5, 5, 10} x 10^k that keeps
 * the number of intervals within what the axis length allows.
 * Coordinates are in pt; y grows downwards as in SVG.
 */

#include "cnn_internal.h"


#include <math.h>
#include <string.h>

#define PLOT_W 252.0
#define PLOT_H 180.0
#define PLOT_FONT 10.0          /* pt */
#define PLOT_TICK 3.5           /* tick length and label pad, pt */
#define PLOT_MAX_TICKS 24

typedef struct {
    const char *label, *cls, *color, *dash; /* dash NULL = solid */
    size_t field;                     /* offset of the value in cnn_plot_point */
} plot_series;

/* d2l's fmts ('-', 'm--', 'g-.') with matplotlib's colors and dash patterns
 * (dashed 3.7,1.6 and dashdot 6.4,1.6,1,1.6, times the 1.5 pt line width). */
static const plot_series plot_series_list[3] = {
    {"train loss", "train-loss", "#0000ff", NULL, offsetof(cnn_plot_point, train_loss)},
    {"train acc", "train-acc", "#bf00bf", "5.55,2.4", offsetof(cnn_plot_point, train_acc)},
    {"test acc", "test-acc", "#008000", "9.6,2.4,1.5,2.4", offsetof(cnn_plot_point, test_acc)},
};

static double plot_value(const cnn_plot_point *p, const plot_series *s) {
    double v;
    memcpy(&v, (const char *)p + s->field, sizeof v);
    return v;
}

/* Approximate advance width of text in DejaVu Sans, in pt. */
static double plot_text_width(const char *s) {
    double w = 0;
    for (; *s; s++) {
        char c = *s;
        double em = c >= '0' && c <= '9' ? 0.636
                    : strchr("ail", c) ? (c == 'a' ? 0.613 : 0.278)
                    : strchr("cehnop", c) ? (c == 'c' ? 0.550 : c == 'o' ? 0.612 : 0.634)
                    : c == 'r' ? 0.411
                    : c == 's' ? 0.521
                    : c == 't' ? 0.392
                    : c == ' ' || c == '.' ? 0.318
                    : c == '-' ? 0.838 /* U+2212 minus */
                               : 0.6;
        w += em * PLOT_FONT;
    }
    return w;
}

typedef struct {
    double v[PLOT_MAX_TICKS];
    int n, decimals;
} plot_ticks;

/* MaxNLocator(nbins, steps=[1, 2, 2.5, 5, 10]) on [lo, hi]. */
static void plot_make_ticks(plot_ticks *t, double lo, double hi, int nbins) {
    static const double steps[] = {1, 2, 2.5, 5, 10};
    double raw = (hi - lo) / nbins, scale = pow(10, floor(log10(raw))), step = 10 * scale;
    for (int i = 0; i < 5; i++)
        if (steps[i] * scale >= raw * (1 - 1e-9)) {
            step = steps[i] * scale;
            break;
        }
    t->n = 0;
    for (double k = ceil(lo / step - 1e-9); t->n < PLOT_MAX_TICKS && k * step <= hi + 1e-9 * step; k++) {
        double v = k * step;
        t->v[t->n++] = fabs(v) < 1e-9 * step ? 0 : v;
    }
    /* As few decimals as the step needs (0.25 -> 2, 0.5 -> 1, 2 -> 0). */
    t->decimals = 0;
    while (t->decimals < 8) {
        double s = step * pow(10, t->decimals);
        if (fabs(s - floor(s + 0.5)) < 1e-6 * s) break;
        t->decimals++;
    }
}

static void plot_tick_label(char *buf, size_t cap, double v, int decimals) {
    snprintf(buf, cap, "%.*f", decimals, v);
}

/* Text with '-' drawn as U+2212, as matplotlib does. */
static void plot_text(FILE *f, double x, double y, const char *anchor, const char *s) {
    fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\">", x, y, anchor);
    for (; *s; s++) {
        if (*s == '-') fputs("&#8722;", f);
        else fputc(*s, f);
    }
    fputs("</text>\n", f);
}

typedef struct {
    double left, right, top, bottom; /* axes box, pt */
    double x0, x1, y0, y1;           /* data limits */
} plot_frame;

static double plot_px(const plot_frame *fr, double x) {
    return fr->left + (x - fr->x0) / (fr->x1 - fr->x0) * (fr->right - fr->left);
}
static double plot_py(const plot_frame *fr, double y) {
    return fr->bottom - (y - fr->y0) / (fr->y1 - fr->y0) * (fr->bottom - fr->top);
}

/* Does the segment (ax, ay)-(bx, by) touch the rectangle? (Liang-Barsky) */
static int plot_segment_hits(double ax, double ay, double bx, double by, double x0, double y0, double x1,
                             double y1) {
    double t0 = 0, t1 = 1, dx = bx - ax, dy = by - ay;
    double p[4] = {-dx, dx, -dy, dy}, q[4] = {ax - x0, x1 - ax, ay - y0, y1 - ay};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return 0;
            continue;
        }
        double r = q[i] / p[i];
        if (p[i] < 0) {
            if (r > t1) return 0;
            if (r > t0) t0 = r;
        } else {
            if (r < t0) return 0;
            if (r < t1) t1 = r;
        }
    }
    return 1;
}

/* matplotlib's loc='best': the first of its candidate places (upper right,
 * upper left, lower left, lower right, right, center left, center right,
 * lower center, upper center, center) with the least data under it. */
static void plot_legend_place(double *lx, double *ly, const plot_frame *fr, double w, double h,
                              const cnn_plot_point *pts, int n) {
    const double pad = 0.5 * PLOT_FONT;
    double xl = fr->left + pad, xr = fr->right - pad - w, xc = 0.5 * (fr->left + fr->right - w);
    double yt = fr->top + pad, yb = fr->bottom - pad - h, yc = 0.5 * (fr->top + fr->bottom - h);
    const double cand[10][2] = {{xr, yt}, {xl, yt}, {xl, yb}, {xr, yb}, {xr, yc},
                                {xl, yc}, {xr, yc}, {xc, yb}, {xc, yt}, {xc, yc}};
    long best = -1;
    for (int c = 0; c < 10; c++) {
        double x0 = cand[c][0], y0 = cand[c][1], x1 = x0 + w, y1 = y0 + h;
        long bad = 0;
        for (int s = 0; s < 3; s++) {
            int have = 0;
            double px = 0, py = 0;
            for (int i = 0; i < n; i++) {
                double v = plot_value(&pts[i], &plot_series_list[s]);
                if (!isfinite(v) || !isfinite(pts[i].x)) continue;
                double qx = plot_px(fr, pts[i].x), qy = plot_py(fr, v);
                if (qx >= x0 && qx <= x1 && qy >= y0 && qy <= y1) bad++;
                if (have && plot_segment_hits(px, py, qx, qy, x0, y0, x1, y1)) bad++;
                px = qx, py = qy, have = 1;
            }
        }
        if (best < 0 || bad < best) {
            best = bad;
            *lx = x0, *ly = y0;
        }
    }
}

static void plot_line_style(FILE *f, const plot_series *s) {
    fprintf(f, "fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" stroke-linejoin=\"round\" ", s->color);
    if (s->dash) fprintf(f, "stroke-linecap=\"butt\" stroke-dasharray=\"%s\"", s->dash);
    else fputs("stroke-linecap=\"square\"", f);
}

/* Markers: a series shows one at each of its points when they are at least
 * PLOT_MARKER_GAP pt apart on average, so a short run (one epoch: a single
 * test-accuracy point, which as a line would be invisible) shows every value,
 * and a long one (100 epochs) stays a clean line. Shapes as matplotlib's
 * 'o', 's', '^', 2.5 pt across the centre, drawn over the axes edge. */
#define PLOT_MARKER_R 2.5
#define PLOT_MARKER_GAP 8.0

static int plot_series_count(const cnn_plot_point *pts, int n, const plot_series *s) {
    int k = 0;
    for (int i = 0; i < n; i++) k += isfinite(plot_value(&pts[i], s)) && isfinite(pts[i].x);
    return k;
}

static void plot_marker(FILE *f, int s, double x, double y) {
    const double r = PLOT_MARKER_R;
    if (s == 0) fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\"/>\n", x, y, r);
    else if (s == 1) fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>\n", x - r, y - r, 2 * r, 2 * r);
    else fprintf(f, "<path d=\"M%.2f %.2fL%.2f %.2fL%.2f %.2fZ\"/>\n", x, y - 1.2 * r, x + 1.1 * r, y + 0.8 * r, x - 1.1 * r,
                 y + 0.8 * r);
}

static void plot_draw(FILE *f, const cnn_plot_point *pts, int n, int num_epochs) {
    plot_frame fr;
    /* x limits as d2l sets them; a single epoch shows [0, 1]. */
    fr.x0 = num_epochs > 1 ? 1 : 0;
    fr.x1 = num_epochs;
    /* y limits: the data of all points (matplotlib autoscales over the clipped
     * ones too) together with [0, 1], plus matplotlib's 5% margins. */
    double lo = 0, hi = 1;
    for (int i = 0; i < n; i++)
        for (int s = 0; s < 3; s++) {
            double v = plot_value(&pts[i], &plot_series_list[s]);
            if (isfinite(v) && isfinite(pts[i].x)) {
                if (v < lo) lo = v;
                if (v > hi) hi = v;
            }
        }
    fr.y0 = lo - 0.05 * (hi - lo);
    fr.y1 = hi + 0.05 * (hi - lo);
    if (!isfinite(fr.y1 - fr.y0)) fr.y0 = -0.05, fr.y1 = 1.05;

    /* Axes box: room for the y tick labels on the left, x tick labels and
     * the 'epoch' label below. */
    fr.top = 8, fr.bottom = PLOT_H - 36;
    plot_ticks yt, xt;
    plot_make_ticks(&yt, fr.y0, fr.y1, (int)fmax(1, fmin(9, floor((fr.bottom - fr.top) / (2 * PLOT_FONT)))));
    double label_w = 0;
    char buf[64];
    for (int i = 0; i < yt.n; i++) {
        plot_tick_label(buf, sizeof buf, yt.v[i], yt.decimals);
        label_w = fmax(label_w, plot_text_width(buf));
    }
    fr.left = ceil(label_w + 2 * PLOT_TICK + 5);
    fr.right = PLOT_W - 12;
    plot_make_ticks(&xt, fr.x0, fr.x1, (int)fmax(1, fmin(9, floor((fr.right - fr.left) / (3 * PLOT_FONT)))));
    /* Keep the last x tick label inside the figure. */
    if (xt.n > 0) {
        plot_tick_label(buf, sizeof buf, xt.v[xt.n - 1], xt.decimals);
        double half = 0.5 * plot_text_width(buf) + 4, over = plot_px(&fr, xt.v[xt.n - 1]) + half - PLOT_W;
        if (over > 0) fr.right -= over;
    }

    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%gpt\" height=\"%gpt\" viewBox=\"0 0 %g %g\" "
            "version=\"1.1\">\n",
            PLOT_W, PLOT_H, PLOT_W, PLOT_H);
    fputs("<title>train loss, train acc, test acc per epoch</title>\n", f);
    fprintf(f,
            "<defs><clipPath id=\"cnn-axes\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/></clipPath>"
            "</defs>\n",
            fr.left, fr.top, fr.right - fr.left, fr.bottom - fr.top);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%g\" height=\"%g\" fill=\"#ffffff\"/>\n", PLOT_W, PLOT_H);

    /* Grid, below the data. */
    fputs("<g stroke=\"#b0b0b0\" stroke-width=\"0.8\" stroke-linecap=\"square\">\n", f);
    for (int i = 0; i < xt.n; i++) {
        double x = plot_px(&fr, xt.v[i]);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", x, fr.top, x, fr.bottom);
    }
    for (int i = 0; i < yt.n; i++) {
        double y = plot_py(&fr, yt.v[i]);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", fr.left, y, fr.right, y);
    }
    fputs("</g>\n", f);

    /* The three series, clipped to the axes like matplotlib's lines. */
    fputs("<g clip-path=\"url(#cnn-axes)\">\n", f);
    for (int s = 0; s < 3; s++) {
        const plot_series *ser = &plot_series_list[s];
        fprintf(f, "<polyline class=\"%s\" ", ser->cls);
        plot_line_style(f, ser);
        fputs(" points=\"", f);
        int k = 0;
        for (int i = 0; i < n; i++) {
            double v = plot_value(&pts[i], ser);
            if (!isfinite(v) || !isfinite(pts[i].x)) continue;
            fprintf(f, "%s%.2f,%.2f", k++ ? " " : "", plot_px(&fr, pts[i].x), plot_py(&fr, v));
        }
        fputs("\"/>\n", f);
    }
    fputs("</g>\n", f);
    int marked[3];
    for (int s = 0; s < 3; s++) {
        const plot_series *ser = &plot_series_list[s];
        int k = plot_series_count(pts, n, ser);
        marked[s] = k > 0 && (k == 1 || (fr.right - fr.left) / (k - 1) >= PLOT_MARKER_GAP);
        if (!marked[s]) continue;
        fprintf(f, "<g class=\"%s-markers\" fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"0.5\">\n", ser->cls,
                ser->color);
        for (int i = 0; i < n; i++) {
            double v = plot_value(&pts[i], ser);
            if (isfinite(v) && isfinite(pts[i].x)) plot_marker(f, s, plot_px(&fr, pts[i].x), plot_py(&fr, v));
        }
        fputs("</g>\n", f);
    }

    /* Spines and ticks. */
    fprintf(f,
            "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke=\"#000000\" "
            "stroke-width=\"0.8\" stroke-linejoin=\"miter\"/>\n",
            fr.left, fr.top, fr.right - fr.left, fr.bottom - fr.top);
    fputs("<g stroke=\"#000000\" stroke-width=\"0.8\">\n", f);
    for (int i = 0; i < xt.n; i++) {
        double x = plot_px(&fr, xt.v[i]);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", x, fr.bottom, x, fr.bottom + PLOT_TICK);
    }
    for (int i = 0; i < yt.n; i++) {
        double y = plot_py(&fr, yt.v[i]);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", fr.left - PLOT_TICK, y, fr.left, y);
    }
    fputs("</g>\n", f);

    /* Tick labels and the x label. Baselines: cap height ~0.73 em below the top. */
    fprintf(f, "<g font-family=\"DejaVu Sans, Bitstream Vera Sans, Arial, Helvetica, sans-serif\" "
               "font-size=\"%g\" fill=\"#000000\">\n", PLOT_FONT);
    for (int i = 0; i < xt.n; i++) {
        plot_tick_label(buf, sizeof buf, xt.v[i], xt.decimals);
        plot_text(f, plot_px(&fr, xt.v[i]), fr.bottom + 2 * PLOT_TICK + 0.76 * PLOT_FONT, "middle", buf);
    }
    for (int i = 0; i < yt.n; i++) {
        plot_tick_label(buf, sizeof buf, yt.v[i], yt.decimals);
        plot_text(f, fr.left - 2 * PLOT_TICK, plot_py(&fr, yt.v[i]) + 0.36 * PLOT_FONT, "end", buf);
    }
    plot_text(f, 0.5 * (fr.left + fr.right), fr.bottom + 2 * PLOT_TICK + 1.16 * PLOT_FONT + 4 + 0.76 * PLOT_FONT,
              "middle", "epoch");

    /* Legend: borderpad 0.4 em, handle 2 em, handle-text pad 0.8 em, rows 1.16 em + 0.5 em apart. */
    double row = 1.16 * PLOT_FONT, gap = 0.5 * PLOT_FONT, bpad = 0.4 * PLOT_FONT;
    double text_w = 0;
    for (int s = 0; s < 3; s++) text_w = fmax(text_w, plot_text_width(plot_series_list[s].label));
    double lw = 2 * bpad + 2 * PLOT_FONT + 0.8 * PLOT_FONT + text_w, lh = 2 * bpad + 3 * row + 2 * gap;
    double lx = 0, ly = 0;
    plot_legend_place(&lx, &ly, &fr, lw, lh, pts, n);
    fprintf(f,
            "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" rx=\"2\" fill=\"#ffffff\" "
            "fill-opacity=\"0.8\" stroke=\"#cccccc\" stroke-width=\"0.8\"/>\n",
            lx, ly, lw, lh);
    for (int s = 0; s < 3; s++) {
        double cy = ly + bpad + s * (row + gap) + 0.5 * row;
        double hx = lx + bpad;
        fprintf(f, "<path d=\"M%.2f %.2fH%.2f\" ", hx, cy, hx + 2 * PLOT_FONT);
        plot_line_style(f, &plot_series_list[s]);
        fputs("/>\n", f);
        if (marked[s]) {
            fprintf(f, "<g fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"0.5\">", plot_series_list[s].color);
            plot_marker(f, s, hx + PLOT_FONT, cy);
            fputs("</g>\n", f);
        }
        plot_text(f, hx + 2.8 * PLOT_FONT, cy + 0.36 * PLOT_FONT, "start", plot_series_list[s].label);
    }
    fputs("</g>\n</svg>\n", f);
}

int cnn_plot_svg(const char *path, const cnn_plot_point *pts, int n, int num_epochs) {
    if (!path || !path[0]) return cnn__fail(CNN_EINVAL, "cnn_plot_svg: path is empty");
    if (n < 0 || (n > 0 && !pts)) return cnn__fail(CNN_EINVAL, "cnn_plot_svg: bad points (n = %d)", n);
    if (num_epochs < 1) return cnn__fail(CNN_EINVAL, "cnn_plot_svg: num_epochs = %d, expected >= 1", num_epochs);
    cnn__atomic_file af;
    CNN_TRY(cnn__atomic_open(&af, path));
    plot_draw(af.f, pts, n, num_epochs);
    return cnn__atomic_commit(&af);
}

/* Text as SVG character data: &, < and > escaped. */
static void plot_xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else fputc(*s, f);
    }
}

/* Confusion matrix as an SVG heat map: rows true class, columns predicted,
 * cells shaded by the fraction of the row, with the counts written in.
 * Sizes in px, 11 px text; the canvas is made to hold every label: row labels
 * right-aligned left of the grid, column labels rotated 40 degrees above it
 * (a label w long reaches w cos 40 to the right and w sin 40 up), the title. */
int cnn_confusion_svg(const char *path, const int64_t *cm, int c, const char *const *names) {
    if (!path || !path[0]) return cnn__fail(CNN_EINVAL, "cnn_confusion_svg: path is empty");
    if (!cm || c < 1)
        return cnn__fail(CNN_EINVAL, "cnn_confusion_svg: expected a matrix of c >= 1 classes, found c = %d", c);
    const double font = 11, em = font / PLOT_FONT, cos40 = 0.766, sin40 = 0.643, margin = 10;
    const char *title = "Confusion matrix (rows: true class, columns: predicted)";
    const int cell = 44;
    char label[64];
    double row_w = 0, reach_right = 0, reach_up = 0;
    for (int i = 0; i < c; i++) {
        if (names && names[i]) snprintf(label, sizeof label, "%s", names[i]);
        else snprintf(label, sizeof label, "%d", i);
        double w = plot_text_width(label) * em;
        row_w = fmax(row_w, w);
        /* The column label starts at the cell's centre, 6 px above the grid. */
        reach_right = fmax(reach_right, (i + 0.5) * cell + w * cos40 + 0.3 * font);
        reach_up = fmax(reach_up, w * sin40 + font * cos40);
    }
    const double title_w = plot_text_width(title) * 14 / PLOT_FONT;
    const int left = (int)ceil(fmax(row_w + 6 + margin, 40));
    const int top = (int)ceil(30 + 6 + reach_up + 4);
    const int width = (int)ceil(fmax(fmax(left + c * cell, left + reach_right) + margin, title_w + 2 * margin));
    const int height = top + c * cell + (int)margin;
    cnn__atomic_file af;
    int rc = cnn__atomic_open(&af, path);
    if (rc < 0) return rc;
    FILE *f = af.f;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"DejaVu Sans, "
               "Bitstream Vera Sans, Arial, Helvetica, sans-serif\" font-size=\"%g\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", width, height, font);
    fprintf(f, "<text x=\"%d\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">%s</text>\n", width / 2, title);
    for (int i = 0; i < c; i++) {
        int64_t row = 0;
        for (int j = 0; j < c; j++) row += cm[i * c + j];
        if (names && names[i]) snprintf(label, sizeof label, "%s", names[i]);
        else snprintf(label, sizeof label, "%d", i);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6, top + i * cell + cell / 2 + 4);
        plot_xml_text(f, label);
        fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"start\" transform=\"rotate(-40 %d %d)\">",
                left + i * cell + cell / 2, top - 6, left + i * cell + cell / 2, top - 6);
        plot_xml_text(f, label);
        fputs("</text>\n", f);
        for (int j = 0; j < c; j++) {
            double frac = row ? (double)cm[i * c + j] / (double)row : 0.0;
            int shade = 255 - (int)(frac * 200.0 + 0.5); /* white .. deep blue */
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,255)\" stroke=\"#ccc\"/>\n",
                    left + j * cell, top + i * cell, cell, cell, shade, shade);
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">%lld</text>\n",
                    left + j * cell + cell / 2, top + i * cell + cell / 2 + 4, frac > 0.5 ? "white" : "black",
                    (long long)cm[i * c + j]);
        }
    }
    fprintf(f, "</svg>\n");
    return cnn__atomic_commit(&af);
}
