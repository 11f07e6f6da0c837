/* json.c — strict recursive-descent JSON parser (see json.h).
 *
 * Each array or object gathers its children in a growable array; strings are
 * decoded (escapes resolved, UTF-8 checked) into fresh NUL-terminated buffers.
 * Recursion depth is bounded by CNN_JSON_MAX_DEPTH.
 */
#include "io/json.h"

#include "cnn_internal.h"

#include <string.h>

typedef struct {
    const unsigned char *s;
    size_t len, pos;
} json_parser;

static int json_error(const json_parser *p, const char *what) {
    if (p->pos >= p->len) return cnn__fail(CNN_EFORMAT, "JSON byte %zu: %s (end of text)", p->pos, what);
    unsigned char c = p->s[p->pos];
    if (c >= 0x20 && c < 0x7f)
        return cnn__fail(CNN_EFORMAT, "JSON byte %zu: %s, found '%c'", p->pos, what, c);
    return cnn__fail(CNN_EFORMAT, "JSON byte %zu: %s, found byte 0x%02x", p->pos, what, c);
}

static void json_skip_ws(json_parser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

void cnn_json_free(cnn_json *v) {
    if (!v) return;
    for (size_t i = 0; v->items && i < v->len; i++) {
        cnn_json_free(&v->items[i]);
        if (v->keys) cnn_free(v->keys[i]);
    }
    cnn_free(v->items);
    cnn_free(v->keys);
    cnn_free(v->key_lens);
    cnn_free(v->str);
    memset(v, 0, sizeof *v);
}

static int json_hex4(json_parser *p, uint32_t *out) {
    uint32_t u = 0;
    if (p->len - p->pos < 4) return json_error(p, "expected 4 hex digits after \\u");
    for (int i = 0; i < 4; i++) {
        unsigned char c = p->s[p->pos];
        uint32_t d;
        if (c >= '0' && c <= '9') d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (uint32_t)(c - 'A' + 10);
        else return json_error(p, "expected a hex digit in \\u escape");
        u = u * 16 + d;
        p->pos++;
    }
    *out = u;
    return CNN_OK;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t json_utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp, min;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1fu, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0fu, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07u, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

/* Parse a string at p->pos (which is '"'); *out <- decoded bytes + NUL. */
static int json_string(json_parser *p, char **out, size_t *out_len) {
    size_t start = ++p->pos, cap = 0;
    /* First pass: find the closing quote; the decoded text is never longer. */
    while (p->pos < p->len && p->s[p->pos] != '"') p->pos += p->s[p->pos] == '\\' ? 2 : 1;
    if (p->pos >= p->len) {
        p->pos = start - 1;
        return json_error(p, "unterminated string");
    }
    cap = p->pos - start + 1;
    char *buf = cnn_malloc(cap);
    if (!buf) return cnn__fail(CNN_ENOMEM, "JSON: out of memory for a %zu-byte string", cap);
    size_t n = 0;
    p->pos = start;
    for (;;) {
        unsigned char c = p->s[p->pos];
        if (c == '"') break;
        if (c < 0x20) {
            cnn_free(buf);
            return json_error(p, "control character in string");
        }
        if (c != '\\') {
            size_t k = json_utf8_len(p->s + p->pos, p->len - p->pos);
            if (k == 0) {
                cnn_free(buf);
                return json_error(p, "invalid UTF-8 in string");
            }
            memcpy(buf + n, p->s + p->pos, k);
            n += k, p->pos += k;
            continue;
        }
        p->pos++;
        c = p->s[p->pos];
        const char *simple = strchr("\"\\/bfnrt", c);
        if (c != 0 && simple) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            buf[n++] = decoded[simple - "\"\\/bfnrt"];
            p->pos++;
            continue;
        }
        if (c != 'u') {
            cnn_free(buf);
            return json_error(p, "invalid escape in string");
        }
        p->pos++;
        uint32_t cp, lo;
        int rc = json_hex4(p, &cp);
        if (rc == CNN_OK && cp >= 0xdc00 && cp <= 0xdfff) rc = json_error(p, "lone low surrogate in \\u escape");
        if (rc == CNN_OK && cp >= 0xd800 && cp <= 0xdbff) {
            if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                rc = json_error(p, "high surrogate not followed by \\u low surrogate");
            } else {
                p->pos += 2;
                rc = json_hex4(p, &lo);
                if (rc == CNN_OK && !(lo >= 0xdc00 && lo <= 0xdfff))
                    rc = json_error(p, "high surrogate not followed by a low surrogate");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
        }
        if (rc != CNN_OK) {
            cnn_free(buf);
            return rc;
        }
        /* A \u escape takes 6 or 12 input bytes and yields at most 4 bytes. */
        if (cp < 0x80) {
            buf[n++] = (char)cp;
        } else if (cp < 0x800) {
            buf[n++] = (char)(0xc0 | (cp >> 6));
            buf[n++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            buf[n++] = (char)(0xe0 | (cp >> 12));
            buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            buf[n++] = (char)(0x80 | (cp & 0x3f));
        } else {
            buf[n++] = (char)(0xf0 | (cp >> 18));
            buf[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            buf[n++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    p->pos++; /* closing quote */
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return CNN_OK;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int json_number(json_parser *p, cnn_json *v) {
    size_t start = p->pos;
    const unsigned char *s = p->s;
#define JSON_DIGIT(i) ((i) < p->len && s[i] >= '0' && s[i] <= '9')
    if (p->pos < p->len && s[p->pos] == '-') p->pos++;
    if (!JSON_DIGIT(p->pos)) return json_error(p, "expected a digit");
    if (s[p->pos] == '0') {
        p->pos++;
        if (JSON_DIGIT(p->pos)) return json_error(p, "leading zero in number");
    } else {
        while (JSON_DIGIT(p->pos)) p->pos++;
    }
    if (p->pos < p->len && s[p->pos] == '.') {
        p->pos++;
        if (!JSON_DIGIT(p->pos)) return json_error(p, "expected a digit after '.'");
        while (JSON_DIGIT(p->pos)) p->pos++;
    }
    if (p->pos < p->len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (s[p->pos] == '+' || s[p->pos] == '-')) p->pos++;
        if (!JSON_DIGIT(p->pos)) return json_error(p, "expected a digit in exponent");
        while (JSON_DIGIT(p->pos)) p->pos++;
    }
#undef JSON_DIGIT
    size_t n = p->pos - start;
    v->str = cnn_malloc(n + 1);
    if (!v->str) return cnn__fail(CNN_ENOMEM, "JSON: out of memory");
    memcpy(v->str, s + start, n);
    v->str[n] = '\0';
    v->len = n;
    v->type = CNN_JSON_NUMBER;
    return CNN_OK;
}

static int json_value(json_parser *p, cnn_json *v, int depth);

/* Grow the children arrays of v to hold at least len + 1 entries. */
static int json_grow(cnn_json *v, size_t *cap, int object) {
    if (v->len < *cap) return CNN_OK;
    size_t new_cap = *cap ? *cap * 2 : 4, bytes;
    if (cnn__mul_overflow(new_cap, sizeof *v->items, &bytes))
        return cnn__fail(CNN_ENOMEM, "JSON: too many elements");
    cnn_json *items = cnn_realloc(v->items, bytes);
    if (!items) return cnn__fail(CNN_ENOMEM, "JSON: out of memory for %zu elements", new_cap);
    v->items = items;
    if (object) {
        char **keys = cnn_realloc(v->keys, new_cap * sizeof *keys);
        if (!keys) return cnn__fail(CNN_ENOMEM, "JSON: out of memory for %zu keys", new_cap);
        v->keys = keys;
        size_t *lens = cnn_realloc(v->key_lens, new_cap * sizeof *lens);
        if (!lens) return cnn__fail(CNN_ENOMEM, "JSON: out of memory for %zu keys", new_cap);
        v->key_lens = lens;
    }
    *cap = new_cap;
    return CNN_OK;
}

static int json_container(json_parser *p, cnn_json *v, int depth, int object) {
    unsigned char close = object ? '}' : ']';
    size_t cap = 0;
    v->type = object ? CNN_JSON_OBJECT : CNN_JSON_ARRAY;
    p->pos++; /* '{' or '[' */
    json_skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return CNN_OK;
    }
    for (;;) {
        json_skip_ws(p);
        CNN_TRY(json_grow(v, &cap, object));
        cnn_json *child = &v->items[v->len];
        memset(child, 0, sizeof *child);
        if (object) {
            if (p->pos >= p->len || p->s[p->pos] != '"') return json_error(p, "expected a string key");
            CNN_TRY(json_string(p, &v->keys[v->len], &v->key_lens[v->len]));
            json_skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                cnn_free(v->keys[v->len]);
                return json_error(p, "expected ':' after key");
            }
            p->pos++;
            json_skip_ws(p);
        }
        /* Count the child before parsing it so a failure inside frees it. */
        v->len++;
        CNN_TRY(json_value(p, child, depth + 1));
        json_skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            json_skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == close)
                return json_error(p, object ? "trailing comma in object" : "trailing comma in array");
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return CNN_OK;
        }
        return json_error(p, object ? "expected ',' or '}' in object" : "expected ',' or ']' in array");
    }
}

static int json_literal(json_parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) return json_error(p, "expected a value");
    p->pos += n;
    return CNN_OK;
}

static int json_value(json_parser *p, cnn_json *v, int depth) {
    if (depth > CNN_JSON_MAX_DEPTH)
        return cnn__fail(CNN_EFORMAT, "JSON byte %zu: nesting deeper than %d", p->pos, CNN_JSON_MAX_DEPTH);
    v->offset = p->pos;
    if (p->pos >= p->len) return json_error(p, "expected a value");
    switch (p->s[p->pos]) {
    case '{': return json_container(p, v, depth, 1);
    case '[': return json_container(p, v, depth, 0);
    case '"':
        v->type = CNN_JSON_STRING;
        return json_string(p, &v->str, &v->len);
    case 't': v->type = CNN_JSON_BOOL, v->boolean = 1; return json_literal(p, "true");
    case 'f': v->type = CNN_JSON_BOOL, v->boolean = 0; return json_literal(p, "false");
    case 'n': v->type = CNN_JSON_NULL; return json_literal(p, "null");
    default: return json_number(p, v);
    }
}

int cnn_json_parse(cnn_json *root, const char *text, size_t len) {
    json_parser p = {(const unsigned char *)text, len, 0};
    memset(root, 0, sizeof *root);
    if (!text && len) return cnn__fail(CNN_EINVAL, "cnn_json_parse: text is NULL");
    json_skip_ws(&p);
    int rc = json_value(&p, root, 0);
    if (rc == CNN_OK) {
        json_skip_ws(&p);
        if (p.pos != p.len) rc = json_error(&p, "unexpected data after the value");
    }
    if (rc != CNN_OK) cnn_json_free(root);
    return rc;
}

int cnn_json_u64(const cnn_json *v, uint64_t *out) {
    if (!v || v->type != CNN_JSON_NUMBER || v->len == 0) return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        char c = v->str[i];
        if (c < '0' || c > '9') return -1;
        uint64_t d = (uint64_t)(c - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

const char *cnn_json_type_name(cnn_json_type type) {
    switch (type) {
    case CNN_JSON_NULL: return "null";
    case CNN_JSON_BOOL: return "boolean";
    case CNN_JSON_NUMBER: return "number";
    case CNN_JSON_STRING: return "string";
    case CNN_JSON_ARRAY: return "array";
    case CNN_JSON_OBJECT: return "object";
    }
    return "?";
}
