/* opts.c — subcommand options through getopt_long (opts.h). */
#include "opts.h"

#include <ctype.h>
#include <string.h>

void cli_parser_init(cli_parser *p, const char *cmd, const cli_option *opts, int argc, char **argv) {
    memset(p, 0, sizeof *p);
    p->cmd = cmd, p->opts = opts, p->argc = argc, p->argv = argv;
    /* ':' first: a missing value is reported as ':', not '?'. */
    size_t k = 0;
    p->shortopts[k++] = ':';
    for (int i = 0; opts[i].name && i < CLI_MAX_OPTIONS; i++) {
        p->longopts[i] = (struct option){opts[i].name, opts[i].has_arg ? required_argument : no_argument, NULL,
                                         opts[i].key};
        if (opts[i].key < 256) {
            p->shortopts[k++] = (char)opts[i].key;
            if (opts[i].has_arg) p->shortopts[k++] = ':';
        }
    }
    p->shortopts[k] = '\0';
    optind = 0; /* glibc: start over, reading the environment again */
    opterr = 0; /* the messages are ours */
}

int cli_first_arg(void) { return optind; }

static const cli_option *find_key(const cli_option *opts, int key) {
    for (int i = 0; opts[i].name; i++)
        if (opts[i].key == key) return &opts[i];
    return NULL;
}

/* Optimal string alignment distance (Levenshtein with transpositions) of a
 * and b, both at most 63 bytes. */
static int edit_distance(const char *a, const char *b) {
    int n = (int)strlen(a), m = (int)strlen(b);
    if (n > 63 || m > 63) return 1 << 20;
    int d[64][64];
    for (int i = 0; i <= n; i++) d[i][0] = i;
    for (int j = 0; j <= m; j++) d[0][j] = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

const char *cli_nearest(const char *s, const char *const *names, int n) {
    size_t len = strlen(s);
    const char *prefix = NULL, *best = NULL;
    int n_prefix = 0, best_d = 1 << 20;
    for (int i = 0; i < n; i++) {
        if (len > 0 && !strncmp(names[i], s, len)) prefix = names[i], n_prefix++;
        int d = edit_distance(s, names[i]);
        if (d < best_d) best = names[i], best_d = d;
    }
    if (n_prefix == 1) return prefix;
    /* At most one edit in four characters, and at least one. */
    int limit = (int)(strlen(best ? best : "") + 3) / 4;
    return best && best_d <= (limit > 1 ? limit : 1) ? best : NULL;
}

/* "unknown option '--epohcs'; did you mean --epochs?" or "option '--m' is ambiguous: --model, --momentum". */
static void report_unknown_long(const cli_parser *p, const char *arg) {
    char name[64];
    const char *s = arg + 2, *eq = strchr(s, '=');
    size_t len = eq ? (size_t)(eq - s) : strlen(s);
    if (len >= sizeof name) len = sizeof name - 1;
    memcpy(name, s, len);
    name[len] = '\0';
    const char *names[CLI_MAX_OPTIONS];
    int n = 0, n_prefix = 0;
    for (int i = 0; p->opts[i].name && n < CLI_MAX_OPTIONS; i++) {
        names[n++] = p->opts[i].name;
        n_prefix += len > 0 && !strncmp(p->opts[i].name, name, len);
    }
    if (n_prefix > 1) {
        fprintf(stderr, "cnn %s: option '--%s' is ambiguous; it may be", p->cmd, name);
        int k = 0;
        for (int i = 0; i < n; i++)
            if (!strncmp(names[i], name, len)) fprintf(stderr, "%s --%s", k++ ? "," : "", names[i]);
        fprintf(stderr, " (see cnn %s --help)\n", p->cmd);
        return;
    }
    const char *near = cli_nearest(name, names, n);
    fprintf(stderr, "cnn %s: unknown option '--%s'", p->cmd, name);
    if (near) fprintf(stderr, "; did you mean --%s?", near);
    fprintf(stderr, " (see cnn %s --help)\n", p->cmd);
}

int cli_next(cli_parser *p) {
    int prev = optind ? optind : 1;
    int key = getopt_long(p->argc, p->argv, p->shortopts, p->longopts, NULL);
    p->value = optarg;
    if (key == -1) return -1;
    const char *arg = prev < p->argc ? p->argv[prev] : "";
    const cli_option *o = find_key(p->opts, key == ':' || key == '?' ? optopt : key);
    if (o) snprintf(p->name, sizeof p->name, "--%s", o->name);
    if (key == ':') {
        fprintf(stderr, "cnn %s: %s: expected a value after it, found the end of the command line\n", p->cmd,
                o ? p->name : arg);
        return '?';
    }
    if (key == '?') {
        /* The argument getopt stopped at: the last one it consumed. */
        const char *bad = optind > 0 && optind - 1 < p->argc ? p->argv[optind - 1] : arg;
        if (!strncmp(bad, "--", 2) && optopt == 0) {
            report_unknown_long(p, bad);
        } else if (!strncmp(bad, "--", 2) && o) {
            fprintf(stderr, "cnn %s: %s: takes no value, found '%s'\n", p->cmd, p->name, bad);
        } else {
            fprintf(stderr, "cnn %s: unknown option '-%c' (see cnn %s --help)\n", p->cmd,
                    isprint(optopt) ? optopt : '?', p->cmd);
        }
        return '?';
    }
    return key;
}

void cli_usage(FILE *f, const char *synopsis, const char *about, const cli_option *opts) {
    fprintf(f, "usage: cnn %s\n\n%s\n", synopsis, about);
    for (int i = 0; opts[i].name; i++) {
        const cli_option *o = &opts[i];
        char head[80];
        int n = o->key < 256 ? snprintf(head, sizeof head, "  -%c, --%s", o->key, o->name)
                             : snprintf(head, sizeof head, "      --%s", o->name);
        if (o->has_arg) n += snprintf(head + n, sizeof head - (size_t)n, " %s", o->arg);
        fputs(head, f);
        /* The help text from column 30, each continuation line indented the same. */
        const char *h = o->help;
        if (n >= 29) fprintf(f, "\n%29s", "");
        else fprintf(f, "%*s", 29 - n, "");
        for (; *h; h++) {
            fputc(*h, f);
            if (*h == '\n') fprintf(f, "%29s", "");
        }
        fputc('\n', f);
    }
}
