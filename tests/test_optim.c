/* test_optim.c — optimizer steps, gradient clipping and learning-rate
 * schedules against PyTorch (tools/fixtures/gen_modern.py ->
 * fixtures/modern_optim.txt): four steps of SGD (momentum, Nesterov, weight
 * decay), Adam and AdamW from the same state agree to 1e-6; clip_grad_norm_'s
 * total and clipped gradients; StepLR, CosineAnnealingLR and OneCycleLR (with
 * its momentum / beta1 cycle) rates; bilinear resizing as torchvision's
 * Resize on tensors. */
#include "fixture.h"
#include "test_util.h"

#include <math.h>

static void run_optim(const fixture_case *c) {
    const char *kind = fixture_str(c, "kind");
    cnn_optim_kind k = !strcmp(kind, "sgd") ? CNN_OPTIM_SGD : !strcmp(kind, "adam") ? CNN_OPTIM_ADAM : CNN_OPTIM_ADAMW;
    cnn_optim o = cnn_optim_make(k, (float)fixture_float(c, "lr", 0));
    o.momentum = (float)fixture_float(c, "momentum", 0);
    o.nesterov = (int)fixture_int(c, "nesterov", 0);
    o.weight_decay = (float)fixture_float(c, "weight_decay", 0);
    o.beta1 = (float)fixture_float(c, "beta1", 0.9);
    o.beta2 = (float)fixture_float(c, "beta2", 0.999);
    o.eps = (float)fixture_float(c, "eps", 1e-8);
    const cnn_tensor *p0 = fixture_tensor(c, "p0");
    size_t n = (size_t)cnn_tensor_numel(p0);
    float p[64];
    CHECK(n <= 64);
    memcpy(p, p0->data, n * sizeof *p);
    CHECK_OK(cnn_optim_init(&o, n));
    for (int s = 0; s < 4; s++) {
        char key[16], what[192];
        snprintf(key, sizeof key, "g%d", s);
        const cnn_tensor *g = fixture_tensor(c, key);
        snprintf(key, sizeof key, "p%d", s + 1);
        const cnn_tensor *want = fixture_tensor(c, key);
        CHECK(g && want);
        if (!g || !want) break;
        cnn_optim_step(&o, p, g->data);
        snprintf(what, sizeof what, "%s after step %d", c->name, s + 1);
        CHECK_CLOSE(what, p, want->data, n, 1e-6, 1e-6);
    }
    CHECK(o.steps == 4);
    cnn_optim_free(&o);
}

static void run_clip(const fixture_case *c) {
    const cnn_tensor *g = fixture_tensor(c, "g"), *want = fixture_tensor(c, "clipped");
    float buf[64];
    size_t n = (size_t)cnn_tensor_numel(g);
    memcpy(buf, g->data, n * sizeof *buf);
    double total = cnn_clip_grad_norm(buf, n, fixture_float(c, "max_norm", 0));
    float got = (float)total, want_total = (float)fixture_float(c, "total", 0);
    CHECK_CLOSE(c->name, &got, &want_total, 1, 1e-6, 1e-6);
    CHECK_CLOSE(c->name, buf, want->data, n, 1e-6, 1e-7);
}

static void run_sched(const fixture_case *c) {
    cnn_schedule s;
    memset(&s, 0, sizeof s);
    const cnn_tensor *lr = fixture_tensor(c, "lr"), *mom = fixture_tensor(c, "momentum");
    int n = (int)cnn_tensor_numel(lr);
    float got[64], got_m[64];
    CHECK(n <= 64);
    s.base_lr = (float)fixture_float(c, "base_lr", 0);
    if (strstr(c->name, "step")) {
        s.kind = CNN_SCHEDULE_STEP;
        s.step_size = (int)fixture_int(c, "step_size", 0);
        s.gamma = (float)fixture_float(c, "gamma", 0);
    } else if (strstr(c->name, "cosine")) {
        s.kind = CNN_SCHEDULE_COSINE;
        s.epochs = (int)fixture_int(c, "epochs", 0);
    } else {
        s.kind = CNN_SCHEDULE_ONECYCLE;
        s.max_lr = (float)fixture_float(c, "max_lr", 0);
        s.total_steps = fixture_int(c, "total_steps", 0);
    }
    for (int i = 0; i < n; i++) {
        got_m[i] = -1.0f;
        /* step and cosine change per epoch, one-cycle per optimizer step */
        got[i] = s.kind == CNN_SCHEDULE_ONECYCLE ? cnn_schedule_lr(&s, 0, i, &got_m[i]) : cnn_schedule_lr(&s, i, 0, NULL);
    }
    CHECK_CLOSE(c->name, got, lr->data, (size_t)n, 1e-6, 1e-9);
    if (mom) CHECK_CLOSE(c->name, got_m, mom->data, (size_t)n, 1e-6, 1e-9);
}

static void run_resize(const fixture_case *c) {
    const cnn_tensor *x = fixture_tensor(c, "x"), *want = fixture_tensor(c, "y");
    int64_t oh = fixture_int(c, "oh", 0), ow = fixture_int(c, "ow", 0);
    float out[1024];
    CHECK(cnn_tensor_numel(want) <= 1024 && cnn_tensor_numel(want) == x->shape[0] * oh * ow);
    CHECK_OK(cnn_resize_bilinear(out, x->data, x->shape[0], x->shape[1], x->shape[2], oh, ow));
    CHECK_CLOSE(c->name, out, want->data, (size_t)cnn_tensor_numel(want), 1e-6, 1e-6);
}

static void test_invalid(void) {
    cnn_optim o = cnn_optim_make(CNN_OPTIM_ADAM, 0.1f);
    o.beta1 = 1.0f;
    CHECK_STATUS(cnn_optim_init(&o, 4), CNN_ERANGE);
    o = cnn_optim_make(CNN_OPTIM_SGD, -1.0f);
    CHECK_STATUS(cnn_optim_init(&o, 4), CNN_ERANGE);
    o = cnn_optim_make(CNN_OPTIM_SGD, 0.1f);
    o.nesterov = 1;
    CHECK_STATUS(cnn_optim_init(&o, 4), CNN_EINVAL);
    o = cnn_optim_make(CNN_OPTIM_ADAMW, 0.1f);
    CHECK(fabsf(o.weight_decay - 0.01f) < 1e-9f);
    CHECK_STR_EQ(cnn_optim_name(CNN_OPTIM_ADAMW), "adamw");
    cnn_optim_free(&o);
}

int main(void) {
    fixture_case *cs;
    int n = fixture_load(CNN_FIXTURES_DIR "/modern_optim.txt", &cs);
    CHECK(n == 16);
    for (int i = 0; i < n; i++) {
        if (!strncmp(cs[i].name, "optim_", 6)) run_optim(&cs[i]);
        else if (!strncmp(cs[i].name, "resize", 6)) run_resize(&cs[i]);
        else if (strstr(cs[i].name, "clip")) run_clip(&cs[i]);
        else run_sched(&cs[i]);
    }
    if (n > 0) fixture_free(cs, n);
    test_invalid();
    return test_report();
}
