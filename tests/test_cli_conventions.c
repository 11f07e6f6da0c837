/* test_cli_conventions.c — the command line follows getopt_long's
 * conventions (README, "Command line"):
 *   - --opt=value, --opt value, the short forms and a unique prefix of a long
 *     name give the same run (byte-identical weights);
 *   - options and arguments in any order (predict IMAGE... before --weights);
 *   - an unknown option or subcommand gets "did you mean ...?", an ambiguous
 *     prefix names its candidates, a flag given a value is refused;
 *   - cnn help CMD prints what cnn CMD --help prints, for every command. */
#include "test_util.h"

#include "cli_run.h"

#define LIMIT 60
#define STEP CNN_FIXTURES_DIR "/step"

static char root[] = "/tmp/cnn-cli-conventions-XXXXXX";
static int n_bad;

/* Run cnn with argv; check the exit code and that stderr / stdout hold a text. */
static void expect(cli_result *r, char *const *argv, int code, const char *in_err, const char *in_out) {
    cli_run(r, root, NULL, argv, LIMIT);
    int ok = !r->hung && r->code == code && (!in_err || strstr(r->err, in_err)) && (!in_out || strstr(r->out, in_out));
    if (!ok) {
        fprintf(stderr, "expected exit %d%s%s%s%s\n", code, in_err ? ", stderr with: " : "", in_err ? in_err : "",
                in_out ? ", stdout with: " : "", in_out ? in_out : "");
        cli_report(argv[1], argv, r);
        n_bad++;
    }
    CHECK(ok);
}

static int same_file(const char *a, const char *b) {
    char pa[4200], pb[4200];
    snprintf(pa, sizeof pa, "%s/%s", root, a);
    snprintf(pb, sizeof pb, "%s/%s", root, b);
    FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
    int same = fa && fb, ca, cb;
    while (same && ((ca = fgetc(fa)) != EOF) | ((cb = fgetc(fb)) != EOF)) same = ca == cb;
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

int main(void) {
    static cli_result r, r2;
    (void)cli_split; /* cli_run.h helper this test does not need */
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    /* The same run spelled four ways. */
    char *long_sep[] = {"cnn", "train", "--data", STEP, "--epochs", "1", "--batch-size", "8", "--threads", "1",
                        "--lr", "0.5", "--seed", "3", "--quiet", "--save", "a.safetensors", NULL};
    char *long_eq[] = {"cnn", "train", "--data=" STEP, "--epochs=1", "--batch-size=8", "--threads=1", "--lr=0.5",
                       "--seed=3", "--quiet", "--save=b.safetensors", NULL};
    char *shorts[] = {"cnn", "train", "-d", STEP, "-e1", "-b", "8", "-j", "1", "-l0.5", "--seed", "3", "-q",
                      "-o", "c.safetensors", NULL};
    char *prefix[] = {"cnn", "train", "--dat", STEP, "--epo=1", "--batch=8", "--thr", "1", "--lr", "0.5", "--se",
                      "3", "--qu", "--sa", "d.safetensors", NULL};
    expect(&r, long_sep, 0, NULL, "test acc");
    expect(&r, long_eq, 0, NULL, "test acc");
    expect(&r, shorts, 0, NULL, "test acc");
    expect(&r, prefix, 0, NULL, "test acc");
    CHECK(same_file("a.safetensors", "b.safetensors"));
    CHECK(same_file("a.safetensors", "c.safetensors"));
    CHECK(same_file("a.safetensors", "d.safetensors"));
    /* --lr=X is read as X: another rate gives other weights. */
    char *other_lr[] = {"cnn", "train", "--data=" STEP, "--epochs=1", "--batch-size=8", "--threads=1", "--lr=0.05",
                        "--seed=3", "--quiet", "--save=e.safetensors", NULL};
    expect(&r, other_lr, 0, NULL, "test acc");
    CHECK(!same_file("a.safetensors", "e.safetensors"));

    /* Arguments before options: getopt_long's permutation keeps them. */
    char *pred1[] = {"cnn", "predict", STEP "/t10k-images-idx3-ubyte", "--json", "-w", "a.safetensors", NULL};
    char *pred2[] = {"cnn", "predict", "--weights=a.safetensors", "--json", STEP "/t10k-images-idx3-ubyte", NULL};
    expect(&r, pred1, 0, NULL, "\"index\": 31");
    expect(&r2, pred2, 0, NULL, "\"index\": 31");
    CHECK_STR_EQ(r.out, r2.out);
    char *sum1[] = {"cnn", "summary", "lenet", "--trace", NULL};
    char *sum2[] = {"cnn", "summary", "--trace", "--", "lenet", NULL};
    expect(&r, sum1, 0, NULL, "Linear output shape");
    expect(&r2, sum2, 0, NULL, "Linear output shape");
    CHECK_STR_EQ(r.out, r2.out);

    /* Mistakes. */
    char *typo[] = {"cnn", "train", "--epohcs", "1", NULL};
    expect(&r, typo, 2, "did you mean --epochs?", NULL);
    char *typo_eq[] = {"cnn", "eval", "--wieghts=w.safetensors", NULL};
    expect(&r, typo_eq, 2, "did you mean --weights?", NULL);
    char *ambiguous[] = {"cnn", "train", "--ma", "3", NULL};
    expect(&r, ambiguous, 2, "--max-lr, --max-steps", NULL);
    char *unknown[] = {"cnn", "train", "--bogus", NULL};
    expect(&r, unknown, 2, "unknown option '--bogus'", NULL);
    CHECK(!strstr(r.err, "did you mean"));
    char *flag_value[] = {"cnn", "train", "--quiet=yes", NULL};
    expect(&r, flag_value, 2, "--quiet: takes no value", NULL);
    char *missing[] = {"cnn", "eval", "-w", NULL};
    expect(&r, missing, 2, "--weights: expected a value", NULL);
    char *short_unknown[] = {"cnn", "train", "-Z", NULL};
    expect(&r, short_unknown, 2, "unknown option '-Z'", NULL);
    char *stray[] = {"cnn", "train", "lenet", NULL};
    expect(&r, stray, 2, "unexpected argument 'lenet'", NULL);
    char *cmd_typo[] = {"cnn", "trian", NULL};
    expect(&r, cmd_typo, 2, "did you mean 'train'?", NULL);
    char *cmd_typo2[] = {"cnn", "sumary", NULL};
    expect(&r, cmd_typo2, 2, "did you mean 'summary'?", NULL);
    char *help_typo[] = {"cnn", "help", "evl", NULL};
    expect(&r, help_typo, 2, "did you mean 'eval'?", NULL);

    /* cnn help CMD == cnn CMD --help, for every command. */
    const char *cmds[] = {"train", "eval", "predict", "summary", "data"};
    for (int k = 0; k < 5; k++) {
        char *h1[] = {"cnn", "help", (char *)cmds[k], NULL};
        char *h2[] = {"cnn", (char *)cmds[k], "--help", NULL};
        char *h3[] = {"cnn", (char *)cmds[k], "-h", NULL};
        expect(&r, h1, 0, NULL, "usage: cnn ");
        expect(&r2, h2, 0, NULL, "usage: cnn ");
        CHECK_STR_EQ(r.out, r2.out);
        expect(&r2, h3, 0, NULL, "usage: cnn ");
        CHECK_STR_EQ(r.out, r2.out);
        CHECK(strstr(r.out, cmds[k]) != NULL);
    }
    char *help_help[] = {"cnn", "help", "help", NULL};
    expect(&r, help_help, 0, NULL, "usage: cnn <command>");
    char *help_train[] = {"cnn", "help", "train", NULL};
    expect(&r, help_train, 0, NULL, "-e, --epochs N");
    char *version[] = {"cnn", "--version", NULL};
    expect(&r, version, 0, NULL, "cnn " CNN_VERSION);

    const char *outs[] = {"a", "b", "c", "d", "e"};
    for (int k = 0; k < 5; k++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.safetensors", root, outs[k]);
        unlink(path);
    }
    rmdir(root);
    if (n_bad) fprintf(stderr, "%d command lines did not behave\n", n_bad);
    return test_report();
}
