/* plot.h — the training curves of d2l's Animator as an SVG file.
 *
 * The picture matches what d2l.train_ch6 draws with matplotlib: x axis
 * 'epoch' limited to [1, num_epochs], y axis fitted to the data (and to [0, 1]),
 * a grid, and the legend 'train loss' (blue solid, 'b-'), 'train acc'
 * (magenta dashed, 'm--'), 'test acc' (green dash-dot, 'g-.'). The file is
 * written atomically, so a viewer that reloads it on change never sees half
 * of it.
 */
#ifndef CNN_IO_PLOT_H
#define CNN_IO_PLOT_H

/* One call of animator.add(x, (train_loss, train_acc, test_acc)); a value that
 * is NAN is absent (d2l's None) and that series skips the point. */
typedef struct cnn_plot_point {
    double x;
    double train_loss, train_acc, test_acc;
} cnn_plot_point;

/* Draw pts[0..n) into an SVG file at path. num_epochs >= 1. Returns CNN_OK,
 * CNN_EINVAL for bad arguments or CNN_EIO when the file cannot be written. */
int cnn_plot_svg(const char *path, const cnn_plot_point *pts, int n, int num_epochs);

#endif /* CNN_IO_PLOT_H */
