/* parse.c — the model description parser: the text of a PyTorch
 * nn.Sequential(...) expression -> an array of cnn_layer_desc.
 *
 * The accepted text is a small subset of Python, exactly as a PyTorch user
 * writes it (docs/MODELS.md has the reference):
 *
 *   model  := [IDENT '='] callee '(' layer {',' layer} [','] ')' END
 *   layer  := callee '(' [arg {',' arg} [',']] ')'
 *   callee := ['torch' '.'] ['nn' '.'] IDENT
 *   arg    := [IDENT '='] expr                  (keywords after positionals)
 *   expr   := term {('+' | '-') term}
 *   term   := unary {('*' | '/' | '//' | '%') unary}
 *   unary  := ('-' | '+') unary | atom
 *   atom   := INT | FLOAT | STRING | True | False | None
 *           | '(' expr ')' | '(' [expr ',' {expr ','} [expr]] ')'   (tuples)
 *
 * '#' starts a comment that runs to the end of the line; any layout of
 * spaces, tabs and newlines is fine. Integers are 64-bit and every operation
 * on them is checked for overflow; '//' and '%' round toward -inf as in
 * Python, '/' gives a float.
 *
 * Arguments bind to PyTorch's parameter names and order for each layer, as
 * the layer's table entry declares them (nn/layer.h: name, type, default,
 * range, or a function of the layer's file for the odd ones), and values
 * are checked as PyTorch's constructors check them (plus limits on absurd
 * sizes). This file knows no layer: it has the lexer, the expression
 * evaluator, the lookup in the layer table and the generic binder. Every
 * error names the place and what was expected:
 *   "<source>:<line>:<col>: <layer>: <what>, expected <x>, found <y>"
 * Columns count characters (UTF-8 sequences), not bytes.
 *
 * Robustness: the lexer never reads past the terminating NUL, expression
 * nesting is bounded (MAX_DEPTH), and nothing is allocated but the output
 * array. Shape chaining is checked later, by cnn_model_create.
 */
#include "nn/layer.h"

#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    MAX_DEPTH = 48,          /* nesting of parentheses / unary operators */
    MAX_LAYERS = 4096,       /* layers in one Sequential */
    MAX_PARAMS = 16,         /* parameters of the largest constructor (Conv2d has 9) */
    STR_CAP = CNN__STR_CAP,  /* string contents kept (longer ones are cut) */
};

/* ---- tokens --------------------------------------------------------------- */

typedef enum {
    T_END, T_IDENT, T_INT, T_FLOAT, T_STR, T_LPAREN, T_RPAREN, T_COMMA, T_EQ, T_DOT,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_DSLASH, T_PERCENT
} tok_kind;

typedef struct {
    tok_kind kind;
    const char *start; /* the token's bytes in the text */
    size_t len;
    int line, col;     /* 1-based; col in characters */
    int64_t ival;      /* T_INT */
    double fval;       /* T_FLOAT */
    char str[STR_CAP]; /* T_STR: contents, NUL-terminated, cut at STR_CAP-1 bytes */
    int str_cut;
} tok;

/* ---- values ---------------------------------------------------------------- */

/* cnn__value (nn/layer.h): int, float, bool, None, string or tuple. */
typedef cnn__value pval;
#define V_INT CNN__V_INT
#define V_FLOAT CNN__V_FLOAT
#define V_BOOL CNN__V_BOOL
#define V_NONE CNN__V_NONE
#define V_STR CNN__V_STR
#define V_TUPLE CNN__V_TUPLE
typedef cnn__vtype vtype;

/* ---- parser state --------------------------------------------------------- */

typedef struct cnn__binder {
    const char *text, *source;
    size_t pos;                 /* lexer position (byte offset) */
    int line, col;              /* position of text[pos] */
    tok t;                      /* current token */
    int depth;                  /* expression nesting */
    int nopen;                  /* open parentheses, innermost last */
    int open_line[MAX_DEPTH + 8], open_col[MAX_DEPTH + 8];
    const char *layer;          /* name used in messages */
    char layer_buf[40];
} parser; /* cnn__binder while a layer's arguments bind */

static const char *const layer_names[CNN_LAYER_COUNT] = {
#define CNN__LAYER_NAME(name, text, ops) text,
    CNN_LAYER_MAP(CNN__LAYER_NAME)
#undef CNN__LAYER_NAME
};

/* "Conv2d, MaxPool2d, ..." for messages. */
static const char all_layers[] =
#define CNN__LAYER_LIST(name, text, ops) text ", "
    CNN_LAYER_MAP(CNN__LAYER_LIST)
#undef CNN__LAYER_LIST
    "(and nn.Sequential as the outer call)";

/* ---- messages ------------------------------------------------------------- */

static int perr(parser *p, int status, int line, int col, const char *fmt, ...) CNN__PRINTF(5, 6);
static int perr(parser *p, int status, int line, int col, const char *fmt, ...) {
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cnn__fail(status, "%s:%d:%d: %s: %s", p->source, line, col, p->layer, msg);
}

/* Copy n bytes of s into out[cap] (cap >= 4) as printable text: ASCII as
 * is, other bytes as \xNN; cut with "..." when too long. */
static void printable(char *out, size_t cap, const char *s, size_t n) {
    size_t o = 0; /* invariant: o + 4 <= cap */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        if (c >= 0x20 && c < 0x7f) tmp[0] = (char)c, tmp[1] = 0;
        else snprintf(tmp, sizeof tmp, "\\x%02x", c);
        size_t k = strlen(tmp);
        if (o + k + 4 > cap) {
            memcpy(out + o, "...", 4);
            return;
        }
        memcpy(out + o, tmp, k);
        o += k;
    }
    out[o] = 0;
}

/* "a, b, c" from names[0..n) into out[cap]. */
static void join_names(char *out, size_t cap, const char *const *names, int n) {
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", names[i]);
}

/* Length of a well-formed UTF-8 sequence at s (1..4), or 0. */
static int utf8_len(const unsigned char *s) {
    int n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (s[0] >= 0xf5) n = 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0; /* also stops at the NUL */
    return n;
}

/* "end of input", "string 'same'", "'foo'", ... */
static void tok_desc(char *out, size_t cap, const tok *t) {
    char tmp[64];
    switch (t->kind) {
    case T_END: snprintf(out, cap, "end of input"); return;
    case T_STR:
        printable(tmp, sizeof tmp, t->str, strlen(t->str));
        snprintf(out, cap, "string '%s%s'", tmp, t->str_cut ? "..." : "");
        return;
    default:
        printable(tmp, sizeof tmp, t->start, t->len);
        snprintf(out, cap, "'%s'", tmp);
    }
}

static void scalar_desc(char *out, size_t cap, vtype type, int64_t i, double f) {
    switch (type) {
    case V_INT: snprintf(out, cap, "%lld", (long long)i); break;
    case V_FLOAT: snprintf(out, cap, "%g", f); break;
    case V_BOOL: snprintf(out, cap, "%s", i ? "True" : "False"); break;
    case V_NONE: snprintf(out, cap, "None"); break;
    case V_STR: snprintf(out, cap, "'...'"); break;
    case V_TUPLE: snprintf(out, cap, "(...)"); break;
    }
}

/* "int 0", "float 2.5", "string 'a'", "tuple (2, 3, ...)", ... */
static void val_desc(char *out, size_t cap, const pval *v) {
    char a[40], b[40], s[64];
    switch (v->type) {
    case V_INT: snprintf(out, cap, "int %lld", (long long)v->i); return;
    case V_FLOAT: snprintf(out, cap, "float %g", v->f); return;
    case V_BOOL: snprintf(out, cap, "bool %s", v->i ? "True" : "False"); return;
    case V_NONE: snprintf(out, cap, "None"); return;
    case V_STR:
        printable(s, sizeof s, v->s, strlen(v->s));
        snprintf(out, cap, "string '%s%s'", s, v->s_cut ? "..." : "");
        return;
    case V_TUPLE:
        if (v->n == 0) { snprintf(out, cap, "empty tuple ()"); return; }
        scalar_desc(a, sizeof a, v->et[0], v->ei[0], v->ef[0]);
        if (v->n == 1) { snprintf(out, cap, "1-tuple (%s,)", a); return; }
        scalar_desc(b, sizeof b, v->et[1], v->ei[1], v->ef[1]);
        snprintf(out, cap, "%d-tuple (%s, %s%s)", v->n, a, b, v->n > 2 ? ", ..." : "");
        return;
    }
}

/* Levenshtein distance, ignoring case, of a[0..na) and b (both cut at 63). */
static int edit_distance(const char *a, size_t na, const char *b) {
    size_t nb = strlen(b);
    if (na > 63) na = 63;
    if (nb > 63) nb = 63;
    int row[64];
    for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = diag + cost;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

static const char *closest(const char *s, size_t n, const char *const *names, int count) {
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int i = 0; i < count; i++) {
        if (!names[i]) continue;
        int d = edit_distance(s, n, names[i]);
        if (d < best_d) best_d = d, best = names[i];
    }
    return best;
}

/* ---- lexer ---------------------------------------------------------------- */

static unsigned char cur(const parser *p) { return (unsigned char)p->text[p->pos]; }
/* The byte after the current one; never reads past the NUL. */
static unsigned char ahead(const parser *p) { return cur(p) ? (unsigned char)p->text[p->pos + 1] : 0; }

static void advance(parser *p) {
    unsigned char c = cur(p);
    if (!c) return;
    p->pos++;
    if (c == '\n') p->line++, p->col = 1;
    else if ((c & 0xc0) != 0x80) p->col++; /* continuation bytes share a column */
}

static int is_ident_start(unsigned char c) { return isalpha(c) || c == '_'; }
static int is_ident_char(unsigned char c) { return isalnum(c) || c == '_'; }

static int digit_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'z') return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    return 99;
}

/* Digits of one base with single underscores between them, appended to
 * buf[*n] (without the underscores). Returns the number of digits read. */
static int lex_digits(parser *p, int base, char *buf, size_t cap, size_t *n) {
    int count = 0;
    for (;;) {
        unsigned char c = cur(p);
        if (c == '_' && count > 0 && digit_value(ahead(p)) < base) {
            advance(p);
            continue;
        }
        if (digit_value(c) >= base) break;
        if (*n + 1 < cap) buf[(*n)++] = (char)c;
        else *n = cap; /* marks "too long" */
        advance(p);
        count++;
    }
    return count;
}

static int lex_number(parser *p, tok *t) {
    char buf[512];
    size_t n = 0;
    int base = 10, is_float = 0;
    unsigned char c = cur(p), c1 = ahead(p);
    if (c == '0' && (c1 == 'x' || c1 == 'X' || c1 == 'o' || c1 == 'O' || c1 == 'b' || c1 == 'B')) {
        base = (c1 == 'x' || c1 == 'X') ? 16 : (c1 == 'o' || c1 == 'O') ? 8 : 2;
        advance(p), advance(p);
        if (cur(p) == '_') advance(p); /* 0x_ff is valid Python */
        if (lex_digits(p, base, buf, sizeof buf, &n) == 0)
            return perr(p, CNN_EPARSE, t->line, t->col,
                        "invalid number literal, expected base-%d digits after '0%c', found %s",
                        base, c1, cur(p) ? "another character" : "end of input");
    } else {
        lex_digits(p, 10, buf, sizeof buf, &n);
        if (cur(p) == '.') {
            is_float = 1;
            if (n < sizeof buf - 1) buf[n++] = '.';
            advance(p);
            lex_digits(p, 10, buf, sizeof buf, &n);
        }
        if (cur(p) == 'e' || cur(p) == 'E') {
            unsigned char s = ahead(p);
            int has_sign = s == '+' || s == '-';
            unsigned char d = has_sign ? (unsigned char)p->text[p->pos + 2] : s;
            if (d >= '0' && d <= '9') {
                is_float = 1;
                if (n < sizeof buf - 2) buf[n++] = 'e';
                advance(p);
                if (has_sign) {
                    if (n < sizeof buf - 1) buf[n++] = (char)s;
                    advance(p);
                }
                lex_digits(p, 10, buf, sizeof buf, &n);
            }
        }
    }
    t->len = (size_t)(p->text + p->pos - t->start);
    if (is_ident_char(cur(p)) || cur(p) == '.') {
        size_t len = t->len + 1;
        char shown[64];
        printable(shown, sizeof shown, t->start, len);
        return perr(p, CNN_EPARSE, t->line, t->col,
                    "invalid number literal, expected digits, found '%s'", shown);
    }
    if (n >= sizeof buf)
        return perr(p, CNN_EINVAL, t->line, t->col,
                    "number literal too long, expected at most %d digits, found more",
                    (int)sizeof buf - 2);
    buf[n] = 0;
    if (is_float) {
        /* strtod follows the locale's decimal point; give it that one. */
        const char *dp = localeconv()->decimal_point;
        char *dot = strchr(buf, '.');
        if (dot && dp && dp[0] && dp[0] != '.' && !dp[1]) *dot = dp[0];
        t->kind = T_FLOAT;
        t->fval = strtod(buf, NULL);
        return CNN_OK;
    }
    if (base == 10 && buf[0] == '0') {
        for (size_t i = 1; i < n; i++)
            if (buf[i] != '0')
                return perr(p, CNN_EPARSE, t->line, t->col,
                            "leading zeros in a decimal integer, expected '%s', found '%s'",
                            buf + i, buf);
    }
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = digit_value((unsigned char)buf[i]);
        if (v > (INT64_MAX - d) / base)
            return perr(p, CNN_EINVAL, t->line, t->col,
                        "integer literal too large, expected at most %lld, found %s",
                        (long long)INT64_MAX, n > 40 ? "a longer number" : buf);
        v = v * base + d;
    }
    t->kind = T_INT;
    t->ival = v;
    return CNN_OK;
}

static int lex_string(parser *p, tok *t) {
    unsigned char q = cur(p);
    size_t n = 0;
    advance(p);
    t->str_cut = 0;
    for (;;) {
        unsigned char c = cur(p);
        if (c == 0 || c == '\n')
            return perr(p, CNN_EPARSE, t->line, t->col,
                        "unterminated string, expected a closing %c, found %s", q,
                        c ? "end of line" : "end of input");
        advance(p);
        if (c == q) break;
        if (c == '\\') {
            unsigned char e = cur(p);
            if (e == 0) continue; /* reported as unterminated above */
            advance(p);
            switch (e) {
            case '\n': continue; /* line continuation */
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '0': c = 0; break;
            case '\\': case '\'': case '"': c = e; break;
            default: /* Python keeps unknown escapes as they are */
                if (n + 1 < STR_CAP) t->str[n++] = '\\';
                else t->str_cut = 1;
                c = e;
            }
        }
        if (n + 1 < STR_CAP) t->str[n++] = (char)c;
        else t->str_cut = 1;
    }
    t->str[n] = 0;
    t->kind = T_STR;
    t->len = (size_t)(p->text + p->pos - t->start);
    return CNN_OK;
}

/* Read the next token into p->t. */
static int lex(parser *p) {
    tok *t = &p->t;
    for (;;) { /* blanks and comments */
        unsigned char c = cur(p);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            advance(p);
        } else if (c == '\\' && (ahead(p) == '\n' ||
                                 (ahead(p) == '\r' && p->text[p->pos + 2] == '\n'))) {
            advance(p); /* explicit line joining */
        } else if (c == '#') {
            while (cur(p) && cur(p) != '\n') advance(p);
        } else {
            break;
        }
    }
    memset(t, 0, sizeof *t);
    t->start = p->text + p->pos;
    t->line = p->line;
    t->col = p->col;
    unsigned char c = cur(p);
    if (c == 0) { t->kind = T_END; return CNN_OK; }
    if (is_ident_start(c)) {
        while (is_ident_char(cur(p))) advance(p);
        t->kind = T_IDENT;
        t->len = (size_t)(p->text + p->pos - t->start);
        return CNN_OK;
    }
    if ((c >= '0' && c <= '9') || (c == '.' && ahead(p) >= '0' && ahead(p) <= '9'))
        return lex_number(p, t);
    if (c == '\'' || c == '"') return lex_string(p, t);
    tok_kind k;
    switch (c) {
    case '(': k = T_LPAREN; break;
    case ')': k = T_RPAREN; break;
    case ',': k = T_COMMA; break;
    case '=': k = T_EQ; break;
    case '.': k = T_DOT; break;
    case '+': k = T_PLUS; break;
    case '-': k = T_MINUS; break;
    case '*': k = T_STAR; break;
    case '%': k = T_PERCENT; break;
    case '/': k = ahead(p) == '/' ? T_DSLASH : T_SLASH; break;
    default: {
        char shown[64];
        int n = c >= 0x80 ? utf8_len((const unsigned char *)t->start) : 0;
        if (n > 0) {
            /* Show the character and its code point: '，' (U+FF0C). */
            const unsigned char *u = (const unsigned char *)t->start;
            uint32_t cp = n == 2 ? (u[0] & 0x1fu) : n == 3 ? (u[0] & 0x0fu) : (u[0] & 0x07u);
            for (int i = 1; i < n; i++) cp = (cp << 6) | (u[i] & 0x3fu);
            snprintf(shown, sizeof shown, "'%.*s' (U+%04X)", n, t->start, (unsigned)cp);
        } else if (c >= 0x20 && c < 0x7f) {
            snprintf(shown, sizeof shown, "'%c'", c);
        } else {
            snprintf(shown, sizeof shown, "byte 0x%02X", c);
        }
        return perr(p, CNN_EPARSE, t->line, t->col,
                    "unexpected character, expected Python syntax (names, numbers, strings, "
                    "( ) , = . + - * / // %%), found %s", shown);
    }
    }
    advance(p);
    if (k == T_DSLASH) advance(p);
    t->kind = k;
    t->len = (size_t)(p->text + p->pos - t->start);
    return CNN_OK;
}

/* Kind of the token after the current one, without consuming anything. */
static tok_kind peek_kind(parser *p) {
    parser save = *p;
    tok_kind k = lex(p) == CNN_OK ? p->t.kind : T_END;
    *p = save;
    return k;
}

static int tok_is(const tok *t, const char *word) {
    return t->kind == T_IDENT && t->len == strlen(word) && memcmp(t->start, word, t->len) == 0;
}

/* An error for the current token: "expected <what>, found <token>"; at the
 * end of input inside parentheses it points at the unclosed '('. */
static int unexpected(parser *p, const char *what) {
    char found[96];
    if (p->t.kind == T_END && p->nopen > 0)
        return perr(p, CNN_EPARSE, p->open_line[p->nopen - 1], p->open_col[p->nopen - 1],
                    "'(' is never closed, expected %s, found end of input", what);
    tok_desc(found, sizeof found, &p->t);
    return perr(p, CNN_EPARSE, p->t.line, p->t.col, "syntax error, expected %s, found %s", what,
                found);
}

static int open_paren(parser *p) {
    if (p->nopen >= MAX_DEPTH + 8)
        return perr(p, CNN_EPARSE, p->t.line, p->t.col,
                    "parentheses nested too deeply, expected at most %d levels, found more",
                    MAX_DEPTH);
    p->open_line[p->nopen] = p->t.line;
    p->open_col[p->nopen] = p->t.col;
    p->nopen++;
    return lex(p);
}

static int close_paren(parser *p, const char *what) {
    if (p->t.kind != T_RPAREN) return unexpected(p, what);
    p->nopen--;
    return lex(p);
}

/* ---- expressions ---------------------------------------------------------- */

static int parse_expr(parser *p, pval *v);

static int add_ovf(int64_t a, int64_t b, int64_t *r) {
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return 1;
    *r = a + b;
    return 0;
}
static int sub_ovf(int64_t a, int64_t b, int64_t *r) {
    if ((b < 0 && a > INT64_MAX + b) || (b > 0 && a < INT64_MIN + b)) return 1;
    *r = a - b;
    return 0;
}
static int mul_ovf(int64_t a, int64_t b, int64_t *r) {
    if (a == 0 || b == 0) { *r = 0; return 0; }
    if ((a == -1 && b == INT64_MIN) || (b == -1 && a == INT64_MIN)) return 1;
    if (a > 0 ? (b > 0 ? a > INT64_MAX / b : b < INT64_MIN / a)
              : (b > 0 ? a < INT64_MIN / b : a < INT64_MAX / b))
        return 1;
    *r = a * b;
    return 0;
}

static const char *vtype_name(vtype t) {
    switch (t) {
    case V_INT: return "int";
    case V_FLOAT: return "float";
    case V_BOOL: return "bool";
    case V_NONE: return "None";
    case V_STR: return "str";
    case V_TUPLE: return "tuple";
    }
    return "?";
}

/* *a = *a <op> *b, with Python's int/float rules. */
static int binop(parser *p, const tok *op, pval *a, const pval *b) {
    const char *sym = op->kind == T_PLUS ? "+" : op->kind == T_MINUS ? "-" : op->kind == T_STAR ? "*"
                    : op->kind == T_SLASH ? "/" : op->kind == T_DSLASH ? "//" : "%";
    int num_a = a->type == V_INT || a->type == V_FLOAT, num_b = b->type == V_INT || b->type == V_FLOAT;
    if (!num_a || !num_b)
        return perr(p, CNN_EINVAL, op->line, op->col,
                    "unsupported operand types for %s, expected int or float operands, found %s "
                    "and %s", sym, vtype_name(a->type), vtype_name(b->type));
    int is_zero = b->type == V_INT ? b->i == 0 : b->f == 0.0;
    if (is_zero && (op->kind == T_SLASH || op->kind == T_DSLASH || op->kind == T_PERCENT))
        return perr(p, CNN_EINVAL, op->line, op->col,
                    "division by zero, expected a non-zero divisor after '%s', found 0", sym);
    if (a->type == V_INT && b->type == V_INT && op->kind != T_SLASH) {
        int64_t x = a->i, y = b->i, r = 0;
        int ovf = 0;
        switch (op->kind) {
        case T_PLUS: ovf = add_ovf(x, y, &r); break;
        case T_MINUS: ovf = sub_ovf(x, y, &r); break;
        case T_STAR: ovf = mul_ovf(x, y, &r); break;
        case T_DSLASH:
        case T_PERCENT:
            if (x == INT64_MIN && y == -1) { ovf = 1; break; }
            r = op->kind == T_DSLASH ? x / y : x % y;
            /* C truncates toward zero; Python floors. */
            if ((x % y != 0) && ((x < 0) != (y < 0))) r = op->kind == T_DSLASH ? r - 1 : r + y;
            break;
        default: break;
        }
        if (ovf)
            return perr(p, CNN_EINVAL, op->line, op->col,
                        "integer overflow in %lld %s %lld, expected a result in 64 bits, found "
                        "an overflow", (long long)x, sym, (long long)y);
        a->i = r;
        return CNN_OK;
    }
    double x = a->type == V_INT ? (double)a->i : a->f, y = b->type == V_INT ? (double)b->i : b->f;
    double r;
    switch (op->kind) {
    case T_PLUS: r = x + y; break;
    case T_MINUS: r = x - y; break;
    case T_STAR: r = x * y; break;
    case T_SLASH: r = x / y; break;
    case T_DSLASH: r = floor(x / y); break;
    default: r = fmod(x, y); if (r != 0 && ((r < 0) != (y < 0))) r += y; break;
    }
    a->type = V_FLOAT;
    a->f = r;
    return CNN_OK;
}

/* '(' already seen: a parenthesized expression or a tuple. */
static int parse_paren(parser *p, pval *v) {
    int line = p->t.line, col = p->t.col;
    CNN_TRY(open_paren(p));
    memset(v, 0, sizeof *v);
    v->line = line, v->col = col;
    if (p->t.kind == T_RPAREN) { /* () */
        v->type = V_TUPLE;
        return close_paren(p, "')'");
    }
    pval e;
    CNN_TRY(parse_expr(p, &e));
    if (p->t.kind == T_RPAREN) { /* (expr) */
        CNN_TRY(close_paren(p, "')'"));
        *v = e;
        v->line = line, v->col = col;
        return CNN_OK;
    }
    v->type = V_TUPLE;
    for (;;) {
        if (v->n < 2) {
            v->et[v->n] = e.type, v->ei[v->n] = e.i, v->ef[v->n] = e.f;
        }
        if (v->n == 1 << 20)
            return perr(p, CNN_EINVAL, e.line, e.col,
                        "tuple too long, expected at most %d elements, found more", 1 << 20);
        v->n++;
        if (p->t.kind == T_RPAREN) break;
        if (p->t.kind != T_COMMA) return unexpected(p, "',' or ')' in a tuple");
        CNN_TRY(lex(p));
        if (p->t.kind == T_RPAREN) break; /* trailing comma */
        CNN_TRY(parse_expr(p, &e));
    }
    return close_paren(p, "')'");
}

static int parse_atom(parser *p, pval *v) {
    tok *t = &p->t;
    memset(v, 0, sizeof *v);
    v->line = t->line, v->col = t->col;
    switch (t->kind) {
    case T_INT: v->type = V_INT, v->i = t->ival; return lex(p);
    case T_FLOAT: v->type = V_FLOAT, v->f = t->fval; return lex(p);
    case T_STR:
        v->type = V_STR;
        memcpy(v->s, t->str, sizeof v->s);
        v->s_cut = t->str_cut;
        return lex(p);
    case T_LPAREN: return parse_paren(p, v);
    case T_IDENT:
        if (tok_is(t, "True") || tok_is(t, "False")) {
            v->type = V_BOOL, v->i = tok_is(t, "True");
            return lex(p);
        }
        if (tok_is(t, "None")) { v->type = V_NONE; return lex(p); }
        {
            char name[64];
            printable(name, sizeof name, t->start, t->len);
            return perr(p, CNN_EPARSE, t->line, t->col,
                        "unknown name '%s', expected a value (a number, a string, True, False, "
                        "None or a tuple), found '%s'", name, name);
        }
    default: return unexpected(p, "a value");
    }
}

static int parse_unary(parser *p, pval *v) {
    if (p->depth >= MAX_DEPTH)
        return perr(p, CNN_EPARSE, p->t.line, p->t.col,
                    "expression nested too deeply, expected at most %d levels, found more",
                    MAX_DEPTH);
    p->depth++;
    int rc;
    if (p->t.kind == T_MINUS || p->t.kind == T_PLUS) {
        tok op = p->t;
        rc = lex(p);
        if (rc == CNN_OK) rc = parse_unary(p, v);
        if (rc == CNN_OK) {
            if (v->type != V_INT && v->type != V_FLOAT) {
                rc = perr(p, CNN_EINVAL, op.line, op.col,
                          "bad operand type for unary %c, expected int or float, found %s",
                          op.kind == T_MINUS ? '-' : '+', vtype_name(v->type));
            } else if (op.kind == T_MINUS) {
                if (v->type == V_FLOAT) v->f = -v->f;
                else if (v->i == INT64_MIN)
                    rc = perr(p, CNN_EINVAL, op.line, op.col,
                              "integer overflow in unary -, expected a result in 64 bits, "
                              "found an overflow");
                else v->i = -v->i;
            }
            v->line = op.line, v->col = op.col;
        }
    } else {
        rc = parse_atom(p, v);
    }
    p->depth--;
    return rc;
}

static int parse_term(parser *p, pval *v) {
    CNN_TRY(parse_unary(p, v));
    while (p->t.kind == T_STAR || p->t.kind == T_SLASH || p->t.kind == T_DSLASH ||
           p->t.kind == T_PERCENT) {
        tok op = p->t;
        pval b;
        CNN_TRY(lex(p));
        CNN_TRY(parse_unary(p, &b));
        CNN_TRY(binop(p, &op, v, &b));
    }
    return CNN_OK;
}

static int parse_expr(parser *p, pval *v) {
    CNN_TRY(parse_term(p, v));
    while (p->t.kind == T_PLUS || p->t.kind == T_MINUS) {
        tok op = p->t;
        pval b;
        CNN_TRY(lex(p));
        CNN_TRY(parse_term(p, &b));
        CNN_TRY(binop(p, &op, v, &b));
    }
    return CNN_OK;
}

/* ---- argument conversion (nn/layer.h's cnn__bind_*) ----------------------- */

void cnn__value_describe(char *out, size_t cap, const cnn__value *v) { val_desc(out, cap, v); }

int cnn__bind_error(cnn__binder *p, const cnn__value *v, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return perr(p, CNN_EINVAL, v->line, v->col, "%s", msg);
}

int cnn__bind_type_error(cnn__binder *p, const cnn__value *v, const char *arg, const char *expected) {
    char found[128];
    val_desc(found, sizeof found, v);
    return perr(p, CNN_EINVAL, v->line, v->col, "argument '%s' has the wrong type, expected %s, found %s",
                arg, expected, found);
}

int cnn__bind_range_error(cnn__binder *p, const cnn__value *v, const char *arg, int64_t lo, int64_t hi,
                          int64_t found) {
    return perr(p, CNN_EINVAL, v->line, v->col,
                "argument '%s' is out of range, expected an int in [%lld, %lld], found %lld", arg,
                (long long)lo, (long long)hi, (long long)found);
}

int cnn__bind_int(cnn__binder *p, const cnn__value *v, const char *arg, int64_t lo, int64_t hi, int *out) {
    if (v->type != V_INT) return cnn__bind_type_error(p, v, arg, "int");
    if (v->i < lo || v->i > hi) return cnn__bind_range_error(p, v, arg, lo, hi, v->i);
    *out = (int)v->i;
    return CNN_OK;
}

int cnn__bind_bool(cnn__binder *p, const cnn__value *v, const char *arg, int *out) {
    if (v->type != V_BOOL) return cnn__bind_type_error(p, v, arg, "bool (True or False)");
    *out = (int)v->i;
    return CNN_OK;
}

int cnn__bind_number(cnn__binder *p, const cnn__value *v, const char *arg, double *out) {
    if (v->type == V_INT) *out = (double)v->i;
    else if (v->type == V_FLOAT) *out = v->f;
    else return cnn__bind_type_error(p, v, arg, "float");
    if (!isfinite(*out)) {
        char found[128];
        val_desc(found, sizeof found, v);
        return perr(p, CNN_EINVAL, v->line, v->col, "argument '%s' must be finite, found %s", arg, found);
    }
    return CNN_OK;
}

int cnn__bind_pair(cnn__binder *p, const cnn__value *v, const char *arg, int64_t lo, int64_t hi, int allow_1tuple,
                   int out[2]) {
    const char *expected = allow_1tuple ? "int or (int, int)" : "int or (int, int) for a 2-D kernel";
    int64_t x[2];
    if (v->type == V_INT) {
        x[0] = x[1] = v->i;
    } else if (v->type == V_TUPLE && (v->n == 2 || (v->n == 1 && allow_1tuple)) &&
               v->et[0] == V_INT && (v->n == 1 || v->et[1] == V_INT)) {
        x[0] = v->ei[0];
        x[1] = v->n == 2 ? v->ei[1] : v->ei[0];
    } else {
        return cnn__bind_type_error(p, v, arg, expected);
    }
    for (int i = 0; i < 2; i++)
        if (x[i] < lo || x[i] > hi) return cnn__bind_range_error(p, v, arg, lo, hi, x[i]);
    out[0] = (int)x[0], out[1] = (int)x[1];
    return CNN_OK;
}

/* ---- binding ---------------------------------------------------------------- */

/* Every argument of the layer's table entry in order: its value converted
 * (given[k], or its default when NULL), then the entry's finish. */
static int bind_layer(parser *p, const cnn__layer_ops *ops, const pval *const *given, cnn_layer_desc *out) {
    for (int k = 0; k < ops->n_args; k++) {
        const cnn__arg *a = &ops->args[k];
        const pval *v = given[k];
        char *field = (char *)out + a->at;
        if (v && v->type == V_NONE && (a->flags & CNN__ARG_NONE_KEEPS)) v = NULL;
        switch (a->type) {
        case CNN__ARG_INT:
        case CNN__ARG_BOOL: {
            int x = (int)a->dflt;
            if (v && a->type == CNN__ARG_INT) CNN_TRY(cnn__bind_int(p, v, a->name, a->lo, a->hi, &x));
            if (v && a->type == CNN__ARG_BOOL) CNN_TRY(cnn__bind_bool(p, v, a->name, &x));
            memcpy(field, &x, sizeof x);
            break;
        }
        case CNN__ARG_NUMBER: {
            double x = a->dflt;
            if (v) CNN_TRY(cnn__bind_number(p, v, a->name, &x));
            float f = (float)x;
            memcpy(field, &f, sizeof f);
            break;
        }
        case CNN__ARG_PAIR: {
            int x[2] = {(int)a->dflt, (int)a->dflt};
            if (v) CNN_TRY(cnn__bind_pair(p, v, a->name, a->lo, a->hi, !(a->flags & CNN__ARG_NO_1TUPLE), x));
            memcpy(field, x, sizeof x);
            break;
        }
        case CNN__ARG_IGNORED_BOOL:
        case CNN__ARG_FALSE: {
            int x = 0;
            if (v) CNN_TRY(cnn__bind_bool(p, v, a->name, &x));
            if (x && a->type == CNN__ARG_FALSE)
                return perr(p, CNN_EINVAL, v->line, v->col, "%s=True is not supported, expected False, found True",
                            a->name);
            break;
        }
        case CNN__ARG_CUSTOM: CNN_TRY(a->bind(p, v, out)); break;
        }
    }
    return ops->finish ? ops->finish(p, out, given) : CNN_OK;
}

/* callee := ['torch' '.'] ['nn' '.'] IDENT. Leaves the name's token in *name. */
static int parse_callee(parser *p, tok *name) {
    tok parts[3];
    int n = 0;
    if (p->t.kind != T_IDENT) return unexpected(p, "a layer such as nn.Conv2d(...)");
    for (;;) {
        if (n == 3) {
            char shown[64];
            printable(shown, sizeof shown, parts[0].start,
                      (size_t)(p->t.start + p->t.len - parts[0].start));
            return perr(p, CNN_EPARSE, parts[0].line, parts[0].col,
                        "unknown module path, expected nn.<Layer> or torch.nn.<Layer>, found '%s'",
                        shown);
        }
        parts[n++] = p->t;
        CNN_TRY(lex(p));
        if (p->t.kind != T_DOT) break;
        CNN_TRY(lex(p));
        if (p->t.kind != T_IDENT) return unexpected(p, "a name after '.'");
    }
    int ok = n == 1 || (n == 2 && tok_is(&parts[0], "nn")) ||
             (n == 3 && tok_is(&parts[0], "torch") && tok_is(&parts[1], "nn"));
    if (!ok) {
        char shown[64];
        const tok *last = &parts[n - 1];
        printable(shown, sizeof shown, parts[0].start,
                  (size_t)(last->start + last->len - parts[0].start));
        return perr(p, CNN_EPARSE, parts[0].line, parts[0].col,
                    "unknown module path, expected nn.<Layer> or torch.nn.<Layer>, found '%s'",
                    shown);
    }
    *name = parts[n - 1];
    name->line = parts[0].line, name->col = parts[0].col; /* the layer starts at its prefix */
    return CNN_OK;
}

static int parse_layer(parser *p, cnn_layer_desc *out) {
    tok name;
    CNN_TRY(parse_callee(p, &name));
    int kind = -1;
    for (int k = 0; k < CNN_LAYER_COUNT; k++)
        if (tok_is(&name, layer_names[k])) kind = k;
    printable(p->layer_buf, sizeof p->layer_buf, name.start, name.len);
    p->layer = p->layer_buf;
    if (kind < 0) {
        if (tok_is(&name, "Sequential"))
            return perr(p, CNN_EINVAL, name.line, name.col,
                        "nested Sequential is not supported, expected a layer, found Sequential");
        return perr(p, CNN_EINVAL, name.line, name.col,
                    "unknown layer, expected one of %s, found '%s' (did you mean '%s'?)", all_layers,
                    p->layer_buf, closest(name.start, name.len, layer_names, CNN_LAYER_COUNT));
    }
    p->layer = layer_names[kind];
    memset(out, 0, sizeof *out);
    out->kind = (cnn_layer_kind)kind;
    out->line = name.line;
    out->column = name.col;
    if (p->t.kind != T_LPAREN) {
        char what[64];
        snprintf(what, sizeof what, "'(' to construct %s", layer_names[kind]);
        return unexpected(p, what);
    }
    CNN_TRY(open_paren(p));

    const cnn__layer_ops *ops = cnn__layer_ops_of((cnn_layer_kind)kind);
    const char *names[MAX_PARAMS];
    int n_args = ops->n_args, n_required = 0;
    CNN_ASSERT(n_args <= MAX_PARAMS);
    for (int i = 0; i < n_args; i++) {
        names[i] = ops->args[i].name;
        n_required += (ops->args[i].flags & CNN__ARG_REQUIRED) != 0;
    }
    pval vals[MAX_PARAMS];
    const pval *given[MAX_PARAMS] = {NULL};
    int npos = 0, seen_keyword = 0;
    while (p->t.kind != T_RPAREN) {
        int idx;
        if (p->t.kind == T_IDENT && peek_kind(p) == T_EQ) {
            tok kw = p->t;
            idx = -1;
            for (int i = 0; i < n_args; i++)
                if (tok_is(&kw, names[i])) idx = i;
            if (idx < 0) {
                char shown[64];
                printable(shown, sizeof shown, kw.start, kw.len);
                if (n_args == 0)
                    return perr(p, CNN_EINVAL, kw.line, kw.col,
                                "unknown keyword argument, expected no arguments, found '%s'", shown);
                char joined[256];
                join_names(joined, sizeof joined, names, n_args);
                return perr(p, CNN_EINVAL, kw.line, kw.col,
                            "unknown keyword argument, expected one of %s, found '%s' (did you "
                            "mean '%s'?)", joined, shown, closest(kw.start, kw.len, names, n_args));
            }
            if (given[idx])
                return perr(p, CNN_EINVAL, kw.line, kw.col,
                            "argument given twice, expected one value for '%s', found a second",
                            names[idx]);
            CNN_TRY(lex(p)); /* the name */
            CNN_TRY(lex(p)); /* '=' */
            seen_keyword = 1;
            CNN_TRY(parse_expr(p, &vals[idx]));
        } else {
            int line = p->t.line, col = p->t.col;
            if (p->t.kind == T_END) return unexpected(p, "an argument or ')'");
            if (seen_keyword)
                return perr(p, CNN_EPARSE, line, col,
                            "positional argument follows keyword argument, expected name=value, "
                            "found a value");
            pval v;
            CNN_TRY(parse_expr(p, &v));
            if (npos >= n_args)
                return perr(p, CNN_EINVAL, line, col,
                            "too many positional arguments, expected at most %d, found %d",
                            n_args, npos + 1);
            idx = npos++;
            vals[idx] = v;
        }
        given[idx] = &vals[idx];
        if (p->t.kind == T_COMMA) CNN_TRY(lex(p));
        else if (p->t.kind != T_RPAREN) return unexpected(p, "',' or ')' after an argument");
    }
    for (int i = 0; i < n_required; i++)
        if (!given[i])
            return perr(p, CNN_EINVAL, out->line, out->column,
                        "missing required argument '%s', expected %d required argument%s, "
                        "found %d", names[i], n_required,
                        n_required > 1 ? "s" : "", i);
    CNN_TRY(bind_layer(p, ops, given, out));
    p->layer = "Sequential"; /* the token after ')' belongs to the Sequential */
    return close_paren(p, "')'");
}

static int parse_model(parser *p, cnn_layer_desc **layers, int *n_layers) {
    p->layer = "Sequential";
    CNN_TRY(lex(p));
    if (p->t.kind == T_IDENT && peek_kind(p) == T_EQ) { /* net = ... */
        CNN_TRY(lex(p));
        CNN_TRY(lex(p));
    }
    if (p->t.kind == T_END)
        return perr(p, CNN_EPARSE, p->t.line, p->t.col,
                    "empty model text, expected nn.Sequential(...), found end of input");
    tok name;
    if (p->t.kind != T_IDENT) return unexpected(p, "nn.Sequential(...)");
    CNN_TRY(parse_callee(p, &name));
    if (!tok_is(&name, "Sequential")) {
        char shown[64];
        printable(shown, sizeof shown, name.start, name.len);
        return perr(p, CNN_EPARSE, name.line, name.col,
                    "the model must be one nn.Sequential(...), expected Sequential, found '%s'",
                    shown);
    }
    if (p->t.kind != T_LPAREN) return unexpected(p, "'(' after Sequential");
    CNN_TRY(open_paren(p));

    int cap = 0, n = 0;
    while (p->t.kind != T_RPAREN) {
        if (p->t.kind == T_END) return unexpected(p, "a layer or ')'");
        if (p->t.kind == T_IDENT && peek_kind(p) == T_EQ)
            return perr(p, CNN_EPARSE, p->t.line, p->t.col,
                        "keyword argument to Sequential, expected a layer, found a keyword");
        if (n == MAX_LAYERS)
            return perr(p, CNN_EINVAL, p->t.line, p->t.col,
                        "too many layers, expected at most %d, found more", MAX_LAYERS);
        if (n == cap) {
            int new_cap = cap ? 2 * cap : 16;
            cnn_layer_desc *grown = cnn_realloc(*layers, (size_t)new_cap * sizeof **layers);
            if (!grown)
                return cnn__fail(CNN_ENOMEM, "%s: out of memory for %d layers", p->source, new_cap);
            *layers = grown;
            cap = new_cap;
        }
        CNN_TRY(parse_layer(p, &(*layers)[n]));
        n++;
        if (p->t.kind == T_COMMA) CNN_TRY(lex(p));
        else if (p->t.kind != T_RPAREN) return unexpected(p, "',' or ')' after a layer");
    }
    if (n == 0)
        return perr(p, CNN_EINVAL, p->t.line, p->t.col,
                    "empty Sequential, expected at least one layer, found ')'");
    CNN_TRY(close_paren(p, "')'"));
    if (p->t.kind != T_END) {
        char found[96];
        tok_desc(found, sizeof found, &p->t);
        return perr(p, CNN_EPARSE, p->t.line, p->t.col,
                    "unexpected text after the closing ')', expected end of input, found %s", found);
    }
    *n_layers = n;
    return CNN_OK;
}

int cnn_model_parse(cnn_layer_desc **layers, int *n_layers, const char *text, const char *source) {
    if (!layers || !n_layers)
        return cnn__fail(CNN_EINVAL, "cnn_model_parse: %s is NULL", layers ? "n_layers" : "layers");
    *layers = NULL;
    *n_layers = 0;
    if (!text) return cnn__fail(CNN_EINVAL, "cnn_model_parse: text is NULL");
    parser p;
    memset(&p, 0, sizeof p);
    p.text = text;
    p.source = source ? source : "<model>";
    p.line = p.col = 1;
    if ((unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb &&
        (unsigned char)text[2] == 0xbf)
        p.pos = 3; /* UTF-8 byte order mark */
    int rc = parse_model(&p, layers, n_layers);
    if (rc < 0) {
        cnn_free(*layers);
        *layers = NULL;
        *n_layers = 0;
    }
    return rc;
}
