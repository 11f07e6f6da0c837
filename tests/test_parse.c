/* test_parse.c — the nn.Sequential text parser: the chapter's LeNet field by
 * field, every syntax feature, bad inputs with their status and line:column,
 * and random mutations of LeNet that must never crash. */
#include "test_util.h"

#include <stdint.h>

/* The chapter's network, exactly as d2l chapter 6 writes it. */
static const char *LENET =
    "net = nn.Sequential(\n"
    "    # 输入 1 *  28 * 28\n"
    "\n"
    "    # 第一层卷积，尺度没有发生变化，通道数增加\n"
    "    nn.Conv2d(1,6,kernel_size=5, padding=2,), # 6 * 28 * 28\n"
    "    nn.Sigmoid(),\n"
    "    nn.AvgPool2d(kernel_size=2,stride=2), # 6 * 14 * 14\n"
    "    nn.Conv2d(6,16,kernel_size=5), # 16 * (14 - 5 + 1) * (14 - 5 + 1)\n"
    "    nn.Sigmoid(), # 16 * 10 * 10\n"
    "    nn.AvgPool2d(kernel_size=2, stride=2), # 16 * floor[(10 - 2 + 1 + 2) / 2 ]* floor[(10 - 2 + 1 + 2) / 2 ]= 16 * 5 * 5\n"
    "    nn.Flatten(), # 16 * 5 * 5\n"
    "    nn.Linear(16 * 5 * 5, 120),\n"
    "    nn.Sigmoid(),\n"
    "    nn.Linear(120,84),\n"
    "    nn.Sigmoid(),\n"
    "    nn.Linear(84, 10)\n"
    ")\n";

/* Parse text that must be accepted; returns the layer count (-1 on failure). */
static int parse_ok(cnn_layer_desc **layers, const char *text, int line) {
    int n = -1;
    int rc = cnn_model_parse(layers, &n, text, "test.txt");
    test__checked++;
    if (rc != CNN_OK) {
        test__failed++;
        fprintf(stderr, "%s:%d: parse failed: %s: %s\n  text: %s\n", __FILE__, line,
                cnn_status_name(rc), cnn_last_error(), text);
        return -1;
    }
    return n;
}
#define PARSE_OK(layers, text) parse_ok((layers), (text), __LINE__)

/* Parse one layer wrapped in nn.Sequential(...); fills *out. */
static int parse_one(cnn_layer_desc *out, const char *layer_text, int line) {
    char text[512];
    cnn_layer_desc *layers = NULL;
    snprintf(text, sizeof text, "nn.Sequential(%s)", layer_text);
    int n = parse_ok(&layers, text, line);
    test__checked++;
    if (n != 1) {
        if (n >= 0) fprintf(stderr, "%s:%d: expected 1 layer, got %d\n", __FILE__, line, n);
        test__failed++;
        cnn_free(layers);
        memset(out, 0, sizeof *out);
        return 0;
    }
    *out = layers[0];
    cnn_free(layers);
    return 1;
}
#define PARSE_ONE(out, text) parse_one((out), (text), __LINE__)

/* Text that must be rejected with status want, a message that starts with
 * "test.txt:<where>: " and contains what, and reads "..., expected ..., found ...". */
static void parse_bad(const char *text, int want, const char *where, const char *what, int line) {
    cnn_layer_desc *layers = (cnn_layer_desc *)&layers; /* must come back NULL */
    int n = 77;
    char prefix[64];
    int rc = cnn_model_parse(&layers, &n, text, "test.txt");
    const char *msg = cnn_last_error();
    snprintf(prefix, sizeof prefix, "test.txt:%s: ", where);
    test__checked++;
    if (rc != want || strncmp(msg, prefix, strlen(prefix)) != 0 || !strstr(msg, what) ||
        !strstr(msg, ", expected ") || !strstr(msg, ", found ") || layers != NULL || n != 0) {
        test__failed++;
        fprintf(stderr,
                "%s:%d: bad input\n  text: %s\n  expected %s at %s with \"%s\"\n  got %s: %s\n",
                __FILE__, line, text, cnn_status_name(want), where, what, cnn_status_name(rc), msg);
    }
    if (rc == CNN_OK) cnn_free(layers);
}
#define PARSE_BAD(text, want, where, what) parse_bad((text), (want), (where), (what), __LINE__)

static void check_conv(const cnn_layer_desc *l, int in, int out, int kh, int kw, int sh, int sw,
                       int ph, int pw, int dh, int dw, int groups, int bias, cnn_padding_kind pk) {
    CHECK_INT_EQ(l->kind, CNN_LAYER_CONV2D);
    const cnn_conv2d_desc *d = &l->u.conv;
    CHECK_INT_EQ(d->in_channels, in);
    CHECK_INT_EQ(d->out_channels, out);
    CHECK_INT_EQ(d->kernel_size[0], kh);
    CHECK_INT_EQ(d->kernel_size[1], kw);
    CHECK_INT_EQ(d->stride[0], sh);
    CHECK_INT_EQ(d->stride[1], sw);
    CHECK_INT_EQ(d->padding[0], ph);
    CHECK_INT_EQ(d->padding[1], pw);
    CHECK_INT_EQ(d->dilation[0], dh);
    CHECK_INT_EQ(d->dilation[1], dw);
    CHECK_INT_EQ(d->groups, groups);
    CHECK_INT_EQ(d->bias, bias);
    CHECK_INT_EQ(d->padding_kind, pk);
}

static void check_pool(const cnn_layer_desc *l, cnn_layer_kind kind, int kh, int kw, int sh,
                       int sw, int ph, int pw, int dh, int dw, int ceil_mode,
                       int count_include_pad, int divisor_override) {
    CHECK_INT_EQ(l->kind, kind);
    const cnn_pool2d_desc *d = &l->u.pool;
    CHECK_INT_EQ(d->kind, kind == CNN_LAYER_MAXPOOL2D ? CNN_POOL_MAX : CNN_POOL_AVG);
    CHECK_INT_EQ(d->kernel_size[0], kh);
    CHECK_INT_EQ(d->kernel_size[1], kw);
    CHECK_INT_EQ(d->stride[0], sh);
    CHECK_INT_EQ(d->stride[1], sw);
    CHECK_INT_EQ(d->padding[0], ph);
    CHECK_INT_EQ(d->padding[1], pw);
    CHECK_INT_EQ(d->dilation[0], dh);
    CHECK_INT_EQ(d->dilation[1], dw);
    CHECK_INT_EQ(d->ceil_mode, ceil_mode);
    CHECK_INT_EQ(d->count_include_pad, count_include_pad);
    CHECK_INT_EQ(d->divisor_override, divisor_override);
}

static void check_linear(const cnn_layer_desc *l, int in, int out, int bias) {
    CHECK_INT_EQ(l->kind, CNN_LAYER_LINEAR);
    CHECK_INT_EQ(l->u.linear.in_features, in);
    CHECK_INT_EQ(l->u.linear.out_features, out);
    CHECK_INT_EQ(l->u.linear.bias, bias);
}

static void check_lenet(const cnn_layer_desc *l, int n) {
    CHECK_INT_EQ(n, 12);
    if (n != 12) return;
    static const cnn_layer_kind kinds[12] = {
        CNN_LAYER_CONV2D, CNN_LAYER_SIGMOID, CNN_LAYER_AVGPOOL2D, CNN_LAYER_CONV2D,
        CNN_LAYER_SIGMOID, CNN_LAYER_AVGPOOL2D, CNN_LAYER_FLATTEN, CNN_LAYER_LINEAR,
        CNN_LAYER_SIGMOID, CNN_LAYER_LINEAR, CNN_LAYER_SIGMOID, CNN_LAYER_LINEAR};
    for (int i = 0; i < 12; i++) {
        CHECK_INT_EQ(l[i].kind, kinds[i]);
        CHECK_INT_EQ(l[i].line, 5 + i); /* one layer per line from line 5 */
        CHECK_INT_EQ(l[i].column, 5);
    }
    check_conv(&l[0], 1, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1, CNN_PADDING_EXPLICIT);
    check_pool(&l[2], CNN_LAYER_AVGPOOL2D, 2, 2, 2, 2, 0, 0, 1, 1, 0, 1, 0);
    check_conv(&l[3], 6, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1, 1, CNN_PADDING_EXPLICIT);
    check_pool(&l[5], CNN_LAYER_AVGPOOL2D, 2, 2, 2, 2, 0, 0, 1, 1, 0, 1, 0);
    CHECK_INT_EQ(l[6].u.flatten.start_dim, 1);
    CHECK_INT_EQ(l[6].u.flatten.end_dim, -1);
    check_linear(&l[7], 400, 120, 1);
    check_linear(&l[9], 120, 84, 1);
    check_linear(&l[11], 84, 10, 1);
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

static void test_lenet(void) {
    cnn_layer_desc *layers = NULL;
    int n = PARSE_OK(&layers, LENET);
    if (n >= 0) check_lenet(layers, n);
    cnn_free(layers);

    /* models/lenet.txt is the same text. */
    char *text = read_text(CNN_SOURCE_DIR "/models/lenet.txt");
    CHECK(text != NULL);
    if (text) {
        CHECK_STR_EQ(text, LENET);
        layers = NULL;
        n = PARSE_OK(&layers, text);
        if (n >= 0) check_lenet(layers, n);
        cnn_free(layers);
        free(text);
    }

    /* Windows line endings, no "net =", torch.nn. prefix, one line. */
    char crlf[4096];
    size_t o = 0;
    for (const char *s = LENET; *s && o + 2 < sizeof crlf; s++) {
        if (*s == '\n') crlf[o++] = '\r';
        crlf[o++] = *s;
    }
    crlf[o] = 0;
    layers = NULL;
    n = PARSE_OK(&layers, crlf);
    if (n >= 0) check_lenet(layers, n);
    cnn_free(layers);

    layers = NULL;
    n = PARSE_OK(&layers, "torch.nn.Sequential(torch.nn.Conv2d(1, 6, kernel_size=5, padding=2), "
                          "Sigmoid(), nn.AvgPool2d(2), Conv2d(6, 16, 5), nn.Sigmoid(), "
                          "nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(), "
                          "nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), "
                          "nn.Sigmoid(), nn.Linear(84, 10))");
    CHECK_INT_EQ(n, 12);
    if (n == 12) {
        check_conv(&layers[0], 1, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1, CNN_PADDING_EXPLICIT);
        check_pool(&layers[2], CNN_LAYER_AVGPOOL2D, 2, 2, 2, 2, 0, 0, 1, 1, 0, 1, 0);
        check_linear(&layers[7], 400, 120, 1);
        CHECK_INT_EQ(layers[0].line, 1);
        CHECK_INT_EQ(layers[0].column, 21);
        CHECK_INT_EQ(layers[1].column, 70);
        CHECK_INT_EQ(layers[3].column, 98);
    }
    cnn_free(layers);
}

static void test_layers(void) {
    cnn_layer_desc l;
    /* Conv2d: every argument positional, then every one by keyword. */
    if (PARSE_ONE(&l, "nn.Conv2d(4, 8, (3, 2), 2, (1, 0), 2, 2, False, 'zeros')"))
        check_conv(&l, 4, 8, 3, 2, 2, 2, 1, 0, 2, 2, 2, 0, CNN_PADDING_EXPLICIT);
    if (PARSE_ONE(&l, "nn.Conv2d(padding_mode=\"zeros\", bias=True, groups=3, dilation=(1, 2), "
                      "padding=(2,), stride=(3, 1), kernel_size=7, out_channels=9, in_channels=3)"))
        check_conv(&l, 3, 9, 7, 7, 3, 1, 2, 2, 1, 2, 3, 1, CNN_PADDING_EXPLICIT);
    if (PARSE_ONE(&l, "nn.Conv2d(1, 2, 3, padding='same', dilation=2)"))
        check_conv(&l, 1, 2, 3, 3, 1, 1, 0, 0, 2, 2, 1, 1, CNN_PADDING_SAME);
    if (PARSE_ONE(&l, "nn.Conv2d(1, 2, 3, 2, \"valid\")"))
        check_conv(&l, 1, 2, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1, CNN_PADDING_VALID);
    if (PARSE_ONE(&l, "nn.Conv2d(1, 2, kernel_size=(1, 5), stride=(2,))"))
        check_conv(&l, 1, 2, 1, 5, 2, 2, 0, 0, 1, 1, 1, 1, CNN_PADDING_EXPLICIT);

    /* MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False) */
    if (PARSE_ONE(&l, "nn.MaxPool2d(3)"))
        check_pool(&l, CNN_LAYER_MAXPOOL2D, 3, 3, 3, 3, 0, 0, 1, 1, 0, 1, 0);
    if (PARSE_ONE(&l, "nn.MaxPool2d(3, padding=1, stride=2)")) /* the chapter's pool2d */
        check_pool(&l, CNN_LAYER_MAXPOOL2D, 3, 3, 2, 2, 1, 1, 1, 1, 0, 1, 0);
    if (PARSE_ONE(&l, "nn.MaxPool2d((2, 3), None, (1, 0), 2, False, True)"))
        check_pool(&l, CNN_LAYER_MAXPOOL2D, 2, 3, 2, 3, 1, 0, 2, 2, 1, 1, 0);
    if (PARSE_ONE(&l, "nn.MaxPool2d((4,), stride=(), return_indices=False)"))
        check_pool(&l, CNN_LAYER_MAXPOOL2D, 4, 4, 4, 4, 0, 0, 1, 1, 0, 1, 0);

    /* AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None) */
    if (PARSE_ONE(&l, "nn.AvgPool2d(2, 1, 1, True, False, 3)"))
        check_pool(&l, CNN_LAYER_AVGPOOL2D, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 3);
    if (PARSE_ONE(&l, "nn.AvgPool2d(kernel_size=(3, 2), stride=None, divisor_override=None)"))
        check_pool(&l, CNN_LAYER_AVGPOOL2D, 3, 2, 3, 2, 0, 0, 1, 1, 0, 1, 0);

    /* Activations, Flatten, Linear, Dropout. */
    if (PARSE_ONE(&l, "nn.ReLU(inplace=True)")) CHECK_INT_EQ(l.kind, CNN_LAYER_RELU);
    if (PARSE_ONE(&l, "nn.ReLU(False)")) CHECK_INT_EQ(l.kind, CNN_LAYER_RELU);
    if (PARSE_ONE(&l, "nn.Tanh()")) CHECK_INT_EQ(l.kind, CNN_LAYER_TANH);
    if (PARSE_ONE(&l, "nn.Sigmoid()")) CHECK_INT_EQ(l.kind, CNN_LAYER_SIGMOID);
    if (PARSE_ONE(&l, "nn.Flatten(0, 2)")) {
        CHECK_INT_EQ(l.kind, CNN_LAYER_FLATTEN);
        CHECK_INT_EQ(l.u.flatten.start_dim, 0);
        CHECK_INT_EQ(l.u.flatten.end_dim, 2);
    }
    if (PARSE_ONE(&l, "nn.Flatten(end_dim=-2)")) {
        CHECK_INT_EQ(l.u.flatten.start_dim, 1);
        CHECK_INT_EQ(l.u.flatten.end_dim, -2);
    }
    if (PARSE_ONE(&l, "nn.Linear(in_features=7, out_features=3, bias=False)")) check_linear(&l, 7, 3, 0);
    if (PARSE_ONE(&l, "nn.Linear(7, 3, True)")) check_linear(&l, 7, 3, 1);
    if (PARSE_ONE(&l, "nn.Dropout()")) {
        CHECK_INT_EQ(l.kind, CNN_LAYER_DROPOUT);
        CHECK(l.u.dropout.p == 0.5f);
    }
    if (PARSE_ONE(&l, "nn.Dropout(.25, True)")) CHECK(l.u.dropout.p == 0.25f);
    if (PARSE_ONE(&l, "nn.Dropout(p=1e-3)")) CHECK(l.u.dropout.p == 1e-3f);
    if (PARSE_ONE(&l, "nn.Dropout(1)")) CHECK(l.u.dropout.p == 1.0f);
    if (PARSE_ONE(&l, "nn.Dropout(p=1 / 4)")) CHECK(l.u.dropout.p == 0.25f);
    if (PARSE_ONE(&l, "nn.Dropout(0.)")) CHECK(l.u.dropout.p == 0.0f);
    if (PARSE_ONE(&l, "nn.Dropout(2.5e-1 * 2)")) CHECK(l.u.dropout.p == 0.5f);
    if (PARSE_ONE(&l, "nn.Dropout(p=1 - 0.75)")) CHECK(l.u.dropout.p == 0.25f);
}

static void test_syntax(void) {
    cnn_layer_desc l, *layers = NULL;
    int n;
    /* Integer arithmetic with Python's precedence and floor semantics. */
    if (PARSE_ONE(&l, "nn.Linear(16 * 5 * 5, 2 + 3 * 4)")) check_linear(&l, 400, 14, 1);
    if (PARSE_ONE(&l, "nn.Linear((28 - 4) // 2, (2 + 3) * 4)")) check_linear(&l, 12, 20, 1);
    if (PARSE_ONE(&l, "nn.Linear(7 % 4, -(-3))")) check_linear(&l, 3, 3, 1);
    if (PARSE_ONE(&l, "nn.Linear(10 - 2 - 3, 100 // 10 // 5)")) check_linear(&l, 5, 2, 1);
    if (PARSE_ONE(&l, "nn.Linear(+5, --6)")) check_linear(&l, 5, 6, 1);
    if (PARSE_ONE(&l, "nn.Flatten(-7 // 2, -7 % 3)")) { /* -4 and 2, as in Python */
        CHECK_INT_EQ(l.u.flatten.start_dim, -4);
        CHECK_INT_EQ(l.u.flatten.end_dim, 2);
    }
    if (PARSE_ONE(&l, "nn.Flatten(7 // -2 + 1, 7 % -3 + 1)")) { /* -4 + 1 and -2 + 1 */
        CHECK_INT_EQ(l.u.flatten.start_dim, -3);
        CHECK_INT_EQ(l.u.flatten.end_dim, -1);
    }
    /* Number literals: underscores, hex, octal, binary, "00". */
    if (PARSE_ONE(&l, "nn.Linear(1_000, 0x10)")) check_linear(&l, 1000, 16, 1);
    if (PARSE_ONE(&l, "nn.Linear(0o17, 0b101 + 00)")) check_linear(&l, 15, 5, 1);
    /* Tuples: nested parentheses, trailing commas, parenthesized scalars. */
    if (PARSE_ONE(&l, "nn.Conv2d(1, 2, ((3), 2 + 1,), stride=((2)), padding=(1, 1,),)"))
        check_conv(&l, 1, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, CNN_PADDING_EXPLICIT);
    /* Comments anywhere, odd layout, explicit line joining. */
    n = PARSE_OK(&layers, "model=nn . Sequential ( # 模型\n"
                          "nn\n.\nReLU\n(\n)\n,# 注释，中文\n\tnn.Linear(  # in\n 3 ,\n 4  # out\n),\n"
                          "nn.Tanh() \\\n, )  # 结束\n# end\n");
    CHECK_INT_EQ(n, 3);
    if (n == 3) {
        CHECK_INT_EQ(layers[0].kind, CNN_LAYER_RELU);
        CHECK_INT_EQ(layers[0].line, 2);
        CHECK_INT_EQ(layers[0].column, 1);
        check_linear(&layers[1], 3, 4, 1);
        CHECK_INT_EQ(layers[1].line, 8);
        CHECK_INT_EQ(layers[1].column, 2);
        CHECK_INT_EQ(layers[2].line, 12);
    }
    cnn_free(layers);
    /* A byte order mark is skipped and not counted as a column. */
    layers = NULL;
    n = PARSE_OK(&layers, "\xef\xbb\xbfnn.Sequential(nn.ReLU())");
    CHECK_INT_EQ(n, 1);
    if (n == 1) CHECK_INT_EQ(layers[0].column, 15);
    cnn_free(layers);
}

static void test_bad(void) {
    /* Layers. */
    PARSE_BAD("nn.Sequential(nn.Conv3d(1, 6, 5))", CNN_EINVAL, "1:15", "did you mean 'Conv2d'");
    PARSE_BAD("nn.Sequential(\n  nn.relu())", CNN_EINVAL, "2:3", "unknown layer");
    PARSE_BAD("nn.Sequential(nn.relu())", CNN_EINVAL, "1:15", "did you mean 'ReLU'");
    PARSE_BAD("nn.Sequential(nn.GroupNorm(2, 6))", CNN_EINVAL, "1:15", "GroupNorm: unknown layer");
    PARSE_BAD("nn.Sequential(nn.Sequential(nn.ReLU()))", CNN_EINVAL, "1:15", "nested Sequential");
    PARSE_BAD("nn.Sequential(foo.Conv2d(1, 6, 5))", CNN_EPARSE, "1:15", "found 'foo.Conv2d'");
    PARSE_BAD("nn.Sequential(nn.ReLU, nn.Tanh())", CNN_EPARSE, "1:22", "expected '(' to construct ReLU");
    /* Arguments. */
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, 5, strid=2))", CNN_EINVAL, "1:34",
              "Conv2d: unknown keyword argument");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, 5, strid=2))", CNN_EINVAL, "1:34", "did you mean 'stride'");
    PARSE_BAD("nn.Sequential(nn.Sigmoid(inplace=True))", CNN_EINVAL, "1:26", "expected no arguments");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, 5, kernel_size=3))", CNN_EINVAL, "1:34",
              "argument given twice");
    PARSE_BAD("nn.Sequential(nn.Linear(1, 2, True, 4))", CNN_EINVAL, "1:37",
              "too many positional arguments, expected at most 3, found 4");
    PARSE_BAD("nn.Sequential(nn.Sigmoid(1))", CNN_EINVAL, "1:26", "expected at most 0");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6))", CNN_EINVAL, "1:15",
              "missing required argument 'kernel_size'");
    PARSE_BAD("nn.Sequential(nn.Linear(out_features=3))", CNN_EINVAL, "1:15",
              "missing required argument 'in_features'");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, 2))", CNN_EPARSE, "1:46",
              "positional argument follows keyword argument");
    /* Types. */
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, kernel_size='a'))", CNN_EINVAL, "1:43",
              "argument 'kernel_size' has the wrong type, expected int or (int, int)");
    PARSE_BAD("nn.Sequential(nn.Linear(2.5, 3))", CNN_EINVAL, "1:25", "expected int, found float 2.5");
    PARSE_BAD("nn.Sequential(nn.Linear(400 / 2, 3))", CNN_EINVAL, "1:25", "found float 200");
    PARSE_BAD("nn.Sequential(nn.Linear(True, 3))", CNN_EINVAL, "1:25", "found bool True");
    PARSE_BAD("nn.Sequential(nn.Linear(3, 4, bias=1))", CNN_EINVAL, "1:36", "expected bool");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, (5, 5, 5)))", CNN_EINVAL, "1:31", "found 3-tuple (5, 5, ...)");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, (5,)))", CNN_EINVAL, "1:31", "found 1-tuple (5,)");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, (5, 2.0)))", CNN_EINVAL, "1:31", "(5, 2)");
    PARSE_BAD("nn.Sequential(nn.Dropout(p='half'))", CNN_EINVAL, "1:28", "found string 'half'");
    PARSE_BAD("nn.Sequential(nn.Linear('a' * 2, 3))", CNN_EINVAL, "1:29", "unsupported operand types for *");
    PARSE_BAD("nn.Sequential(nn.Linear(-'a', 3))", CNN_EINVAL, "1:25", "bad operand type for unary -");
    /* Values out of range. */
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, kernel_size=0))", CNN_EINVAL, "1:43",
              "argument 'kernel_size' is out of range, expected an int in [1, 1048576], found 0");
    PARSE_BAD("nn.Sequential(nn.Conv2d(-1, 6, 5))", CNN_EINVAL, "1:25", "'in_channels' is out of range");
    PARSE_BAD("nn.Sequential(nn.Linear(1048577, 10))", CNN_EINVAL, "1:25", "found 1048577");
    PARSE_BAD("nn.Sequential(nn.Linear(10, 1 << 3))", CNN_EPARSE, "1:31", "found '<'");
    PARSE_BAD("nn.Sequential(nn.Dropout(p=1.5))", CNN_EINVAL, "1:28", "expected a number in [0, 1], found float 1.5");
    PARSE_BAD("nn.Sequential(nn.Dropout(-0.1))", CNN_EINVAL, "1:26", "dropout probability");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, 5, stride=0))", CNN_EINVAL, "1:41", "'stride' is out of range");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, 5, padding=-1))", CNN_EINVAL, "1:42", "'padding' is out of range");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, 5, padding='full'))", CNN_EINVAL, "1:42",
              "expected 'same' or 'valid', found string 'full'");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, 5, padding_mode='reflect'))", CNN_EINVAL, "1:47",
              "unsupported padding_mode, expected 'zeros'");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, 5, 2, padding='same'))", CNN_EINVAL, "1:45",
              "not supported for strided convolutions");
    PARSE_BAD("nn.Sequential(nn.Conv2d(4, 6, 5, groups=4))", CNN_EINVAL, "1:41", "divisible by groups");
    PARSE_BAD("nn.Sequential(nn.MaxPool2d(2, padding=2))", CNN_EINVAL, "1:39", "at most half of kernel size");
    PARSE_BAD("nn.Sequential(nn.MaxPool2d(2, return_indices=True))", CNN_EINVAL, "1:46",
              "return_indices=True is not supported");
    PARSE_BAD("nn.Sequential(nn.AvgPool2d(2, divisor_override=0))", CNN_EINVAL, "1:48", "divisor_override");
    PARSE_BAD("nn.Sequential(nn.Flatten(start_dim=7))", CNN_EINVAL, "1:36", "expected an int in [-4, 3]");
    /* Arithmetic. */
    PARSE_BAD("nn.Sequential(nn.Linear(16 // 0, 3))", CNN_EINVAL, "1:28", "division by zero");
    PARSE_BAD("nn.Sequential(nn.Linear(1, 5 % (2 - 2)))", CNN_EINVAL, "1:30", "division by zero");
    PARSE_BAD("nn.Sequential(nn.Dropout(1 / 0.0))", CNN_EINVAL, "1:28", "division by zero");
    PARSE_BAD("nn.Sequential(nn.Linear(9223372036854775807 + 1, 3))", CNN_EINVAL, "1:45", "integer overflow");
    PARSE_BAD("nn.Sequential(nn.Linear(4294967296 * 4294967296, 3))", CNN_EINVAL, "1:36", "integer overflow");
    PARSE_BAD("nn.Sequential(nn.Linear(-9223372036854775807 - 2, 3))", CNN_EINVAL, "1:46", "integer overflow");
    PARSE_BAD("nn.Sequential(nn.Linear(99999999999999999999, 3))", CNN_EINVAL, "1:25", "integer literal too large");
    PARSE_BAD("nn.Sequential(nn.Linear(05, 3))", CNN_EPARSE, "1:25", "leading zeros");
    PARSE_BAD("nn.Sequential(nn.Linear(5a, 3))", CNN_EPARSE, "1:25", "invalid number literal");
    PARSE_BAD("nn.Sequential(nn.Linear(x, 3))", CNN_EPARSE, "1:25", "unknown name 'x'");
    PARSE_BAD("nn.Sequential(nn.Linear(1, , 3))", CNN_EPARSE, "1:28", "expected a value, found ','");
    /* Structure. */
    PARSE_BAD("nn.Sequential()", CNN_EINVAL, "1:15", "empty Sequential");
    PARSE_BAD("net = nn.Sequential(\n  # nothing\n)", CNN_EINVAL, "3:1", "empty Sequential");
    PARSE_BAD("", CNN_EPARSE, "1:1", "empty model text");
    PARSE_BAD("  # 只有注释\n", CNN_EPARSE, "2:1", "empty model text");
    PARSE_BAD("nn.Conv2d(1, 6, 5)", CNN_EPARSE, "1:1", "expected Sequential, found 'Conv2d'");
    PARSE_BAD("nn.Sequential(nn.ReLU()) foo", CNN_EPARSE, "1:26", "unexpected text after the closing ')'");
    PARSE_BAD("nn.Sequential(nn.ReLU()))", CNN_EPARSE, "1:25", "found ')'");
    PARSE_BAD("nn.Sequential(nn.ReLU() nn.Tanh())", CNN_EPARSE, "1:25", "expected ',' or ')' after a layer");
    PARSE_BAD("nn.Sequential(inplace=True)", CNN_EPARSE, "1:15", "keyword argument to Sequential");
    PARSE_BAD("net = nn.Sequential(\n    nn.Conv2d(1, 6, 5),\n    nn.ReLU(\n", CNN_EPARSE, "3:12",
              "'(' is never closed");
    PARSE_BAD("nn.Sequential(\n    nn.ReLU()", CNN_EPARSE, "1:14", "'(' is never closed");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, (5, 5)", CNN_EPARSE, "1:24", "'(' is never closed");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, 5, padding='same))", CNN_EPARSE, "1:42",
              "unterminated string, expected a closing '");
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 6, 5, padding=\"same\n))", CNN_EPARSE, "1:42",
              "found end of line");
    /* A full-width comma, common in Chinese text, is shown with its code point. */
    PARSE_BAD("nn.Sequential(nn.ReLU()，nn.Tanh())", CNN_EPARSE, "1:24", "Sequential: unexpected character");
    PARSE_BAD("nn.Sequential(nn.ReLU()，nn.Tanh())", CNN_EPARSE, "1:24", "found '，' (U+FF0C)");
    PARSE_BAD("nn.Sequential(nn.ReLU(); nn.Tanh())", CNN_EPARSE, "1:24", "found ';'");
    PARSE_BAD("nn.Sequential(nn.ReLU(\x01))", CNN_EPARSE, "1:23", "byte 0x01");
    PARSE_BAD("nn.Sequential(nn.ReLU(\xff))", CNN_EPARSE, "1:23", "byte 0xFF");
    /* Columns count characters, not bytes: '零' is one column (three bytes). */
    PARSE_BAD("nn.Sequential(nn.Conv2d(1, 2, 3, padding_mode='零', groups=0))", CNN_EINVAL, "1:59",
              "'groups' is out of range");
    PARSE_BAD("# 第一层\nnn.Sequential(nn.Linear(1, 2), # 中文注释\n  nn.Linear(3))", CNN_EINVAL, "3:3",
              "Linear: missing required argument 'out_features'");

    /* Nesting is bounded. */
    char deep[512];
    size_t o = (size_t)snprintf(deep, sizeof deep, "nn.Sequential(nn.Linear(");
    for (int i = 0; i < 200; i++) deep[o++] = '(';
    deep[o] = 0;
    PARSE_BAD(deep, CNN_EPARSE, "1:73", "nested too deeply");
    o = (size_t)snprintf(deep, sizeof deep, "nn.Sequential(nn.Linear(");
    for (int i = 0; i < 300; i++) deep[o++] = '-';
    memcpy(deep + o, "1, 2))", 7);
    PARSE_BAD(deep, CNN_EPARSE, "1:73", "nested too deeply");

    /* NULL arguments. */
    cnn_layer_desc *layers = NULL;
    int n = 0;
    CHECK_STATUS(cnn_model_parse(&layers, &n, NULL, "x"), CNN_EINVAL);
    CHECK_STATUS(cnn_model_parse(NULL, &n, "nn.Sequential(nn.ReLU())", "x"), CNN_EINVAL);
    CHECK_STATUS(cnn_model_parse(&layers, NULL, "nn.Sequential(nn.ReLU())", "x"), CNN_EINVAL);
    /* A NULL source reads "<model>". */
    CHECK_STATUS(cnn_model_parse(&layers, &n, "nn.Sequential()", NULL), CNN_EINVAL);
    CHECK(strncmp(cnn_last_error(), "<model>:1:15: Sequential: ", 26) == 0);
}

/* Every prefix of LeNet and random byte edits: no crash, no leak, and either
 * CNN_OK or a failure with a located message. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void check_any(const char *text) {
    cnn_layer_desc *layers = NULL;
    int n = -1;
    int rc = cnn_model_parse(&layers, &n, text, "fuzz");
    if (rc == CNN_OK) {
        CHECK(n > 0 && layers != NULL);
        cnn_free(layers);
    } else {
        CHECK(rc == CNN_EPARSE || rc == CNN_EINVAL);
        CHECK(layers == NULL && n == 0);
        CHECK(strncmp(cnn_last_error(), "fuzz:", 5) == 0);
    }
}

static void test_fuzz(void) {
    size_t len = strlen(LENET);
    char *buf = malloc(len + 64);
    int accepted = 0;
    for (size_t cut = 0; cut < len; cut++) {
        memcpy(buf, LENET, cut);
        buf[cut] = 0;
        cnn_layer_desc *layers = NULL;
        int n = 0;
        int rc = cnn_model_parse(&layers, &n, buf, "fuzz");
        if (rc == CNN_OK) accepted++, cnn_free(layers);
    }
    CHECK_INT_EQ(accepted, 1); /* only the one without the final newline is complete */
    static const char alphabet[] = "()(),,=.#'\"+-*/%_0123456789eExabnTFNrue \n\t\\\x80\xe4\xff";
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, LENET, len + 1);
        int edits = 1 + (int)(next_rand() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)(next_rand() % len);
            buf[at] = alphabet[next_rand() % (sizeof alphabet - 1)];
        }
        check_any(buf);
    }
    free(buf);
}

int main(void) {
    test_lenet();
    test_layers();
    test_syntax();
    test_bad();
    test_fuzz();
    return test_report();
}
