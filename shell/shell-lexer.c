/* ember-shell's lexer: Scala text into tokens carrying byte offsets, so that every error can
 * put a caret under its column. Also the error formatting shared by all of the shell. */
#include "shell.h"

#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK(ember - shell - error - quark, sh_error)

static const char *const keywords[] = {
    "val",   "var",  "def",    "new",   "if",   "else",  "true",
    "false", "null", "import", "match", "case", "class", "object",
    "while", "for",  "return", "try",   "lazy", "yield", NULL,
};

/* Line (1-based within src) and column (1-based) of byte off. */
static void line_col(const sh_source *src, uint32_t off, int *line, int *col, uint32_t *bol)
{
    *line = src->first_line;
    *bol = 0;
    for (uint32_t i = 0; i < off && i < src->len; i++)
        if (src->text[i] == '\n') {
            (*line)++;
            *bol = i + 1;
        }
    *col = (int)g_utf8_strlen(src->text + *bol, off - *bol) + 1;
}

char *sh_pos_where(const sh_pos *pos)
{
    int line, col;
    uint32_t bol;
    line_col(pos->src, pos->off, &line, &col, &bol);
    return g_strdup_printf("%s:%d:%d", pos->src->name, line, col);
}

char *sh_pos_text(const sh_pos *pos)
{
    return g_strndup(pos->src->text + pos->off, pos->end - pos->off);
}

void sh_error_at(GError **err, int code, const sh_pos *pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (!pos || !pos->src) {
        g_set_error(err, SH_ERROR, code, "error: %s", msg);
        g_free(msg);
        return;
    }
    int line, col;
    uint32_t bol;
    line_col(pos->src, pos->off, &line, &col, &bol);
    const char *text = pos->src->text + bol;
    size_t n = strcspn(text, "\n");
    GString *out = g_string_new(NULL);
    g_string_append_printf(out, "%s:%d:%d: error: %s\n%.*s\n", pos->src->name, line, col, msg,
                           (int)n, text);
    for (int i = 1; i < col; i++)
        g_string_append_c(out, text[i - 1] == '\t' ? '\t' : ' ');
    g_string_append_c(out, '^');
    g_set_error_literal(err, SH_ERROR, code, out->str);
    g_string_free(out, TRUE);
    g_free(msg);
}

static bool is_op_char(char c) { return c && strchr("+-*/%<>=!&|^~:#?@\\", c); }
static bool is_ident_start(char c) { return g_ascii_isalpha(c) || c == '$' || (c & 0x80); }
static bool is_ident_char(char c)
{
    return g_ascii_isalnum(c) || c == '_' || c == '$' || (c & 0x80);
}

typedef struct lexer {
    const sh_source *src;
    const char *t;
    uint32_t p;
    GArray *toks;
} lexer;

static void push(lexer *lx, sh_tok kind, uint32_t off, char *text, size_t len)
{
    sh_token tok = {.kind = kind, .off = off, .end = lx->p, .text = text, .len = len};
    g_array_append_val(lx->toks, tok);
}

#define AT(lx, o) (&(sh_pos){(lx)->src, (o), (o) + 1})

/* A string literal's body after the opening quote, decoded into out; false at an error. */
static bool lex_string_body(lexer *lx, GString *out, uint32_t start, GError **err)
{
    for (;;) {
        char c = lx->t[lx->p];
        if (c == '\0' || c == '\n') {
            sh_error_at(err, c ? SH_ERROR_SYNTAX : SH_ERROR_INCOMPLETE,
                        &(sh_pos){lx->src, start, start + 1}, "unclosed string literal");
            return false;
        }
        lx->p++;
        if (c == '"')
            return true;
        if (c != '\\') {
            g_string_append_c(out, c);
            continue;
        }
        char e = lx->t[lx->p++];
        switch (e) {
        case 'n': g_string_append_c(out, '\n'); break;
        case 't': g_string_append_c(out, '\t'); break;
        case 'r': g_string_append_c(out, '\r'); break;
        case '0': g_string_append_c(out, '\0'); break;
        case '"':
        case '\\':
        case '\'': g_string_append_c(out, e); break;
        default:
            sh_error_at(err, SH_ERROR_SYNTAX, AT(lx, lx->p - 2), "invalid escape character \\%c",
                        e);
            return false;
        }
    }
}

static bool lex_number(lexer *lx, GError **err)
{
    uint32_t start = lx->p;
    const char *s = lx->t + start;
    bool is_double = false;
    size_t n = 0;
    while (g_ascii_isdigit(s[n]))
        n++;
    if (s[n] == '.' && g_ascii_isdigit(s[n + 1])) {
        is_double = true;
        n++;
        while (g_ascii_isdigit(s[n]))
            n++;
    }
    if ((s[n] == 'e' || s[n] == 'E') &&
        (g_ascii_isdigit(s[n + 1]) ||
         ((s[n + 1] == '-' || s[n + 1] == '+') && g_ascii_isdigit(s[n + 2])))) {
        is_double = true;
        n += 2;
        while (g_ascii_isdigit(s[n]))
            n++;
    }
    char *num = g_strndup(s, n);
    lx->p += (uint32_t)n;
    if (s[n] == 'd' || s[n] == 'D' || s[n] == 'f' || s[n] == 'F') {
        is_double = true;
        lx->p++;
    } else if (s[n] == 'L' || s[n] == 'l') {
        lx->p++;
    }
    if (is_ident_char(lx->t[lx->p])) {
        g_free(num);
        sh_error_at(err, SH_ERROR_SYNTAX, AT(lx, lx->p), "malformed number literal");
        return false;
    }
    sh_token tok = {.kind = is_double ? T_DOUBLE : T_INT, .off = start, .end = lx->p};
    if (is_double) {
        tok.d = g_ascii_strtod(num, NULL);
    } else {
        guint64 v;
        if (!g_ascii_string_to_unsigned(num, 10, 0, G_MAXINT64, &v, NULL)) {
            g_free(num);
            sh_error_at(err, SH_ERROR_SYNTAX, &(sh_pos){lx->src, start, lx->p},
                        "integer number too large");
            return false;
        }
        tok.i = (int64_t)v;
    }
    g_free(num);
    g_array_append_val(lx->toks, tok);
    return true;
}

static bool lex_one(lexer *lx, GError **err)
{
    const char *t = lx->t;
    uint32_t start = lx->p;
    char c = t[lx->p];
    if (c == '\n') {
        lx->p++;
        push(lx, T_NEWLINE, start, NULL, 0);
        return true;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
        lx->p++;
        return true;
    }
    if (c == '/' && t[lx->p + 1] == '/') {
        while (t[lx->p] && t[lx->p] != '\n')
            lx->p++;
        return true;
    }
    if (c == '/' && t[lx->p + 1] == '*') {
        const char *close = strstr(t + lx->p + 2, "*/");
        if (!close) {
            sh_error_at(err, SH_ERROR_INCOMPLETE, AT(lx, start), "unclosed comment");
            return false;
        }
        lx->p = (uint32_t)(close - t) + 2;
        return true;
    }
    if (g_ascii_isdigit(c) || (c == '.' && g_ascii_isdigit(t[lx->p + 1])))
        return lex_number(lx, err);
    if (c == '"' || (c == 's' && t[lx->p + 1] == '"')) {
        bool interp = c == 's';
        lx->p += interp ? 2 : 1;
        if (t[lx->p] == '"' && t[lx->p + 1] == '"') {
            sh_error_at(err, SH_ERROR_SYNTAX, AT(lx, start),
                        "triple-quoted strings are not supported by ember-shell");
            return false;
        }
        GString *s = g_string_new(NULL);
        if (!lex_string_body(lx, s, start, err)) {
            g_string_free(s, TRUE);
            return false;
        }
        size_t len = s->len;
        push(lx, interp ? T_INTERP : T_STRING, start, g_string_free(s, FALSE), len);
        return true;
    }
    if (c == '\'') {
        /* A character literal: a one-character string ('a', '\n'). */
        GString *s = g_string_new(NULL);
        lx->p++;
        if (t[lx->p] == '\\') {
            char e = t[lx->p + 1];
            g_string_append_c(s, e == 'n' ? '\n' : e == 't' ? '\t' : e);
            lx->p += 2;
        } else if (t[lx->p] && t[lx->p] != '\'') {
            int n = g_utf8_skip[(guchar)t[lx->p]];
            g_string_append_len(s, t + lx->p, n);
            lx->p += (uint32_t)n;
        }
        if (t[lx->p] != '\'' || s->len == 0) {
            g_string_free(s, TRUE);
            sh_error_at(err, SH_ERROR_SYNTAX, AT(lx, start), "unclosed character literal");
            return false;
        }
        lx->p++;
        size_t len = s->len;
        push(lx, T_STRING, start, g_string_free(s, FALSE), len);
        return true;
    }
    if (c == '`') {
        const char *close = strchr(t + lx->p + 1, '`');
        if (!close) {
            sh_error_at(err, SH_ERROR_SYNTAX, AT(lx, start), "unclosed quoted identifier");
            return false;
        }
        char *name = g_strndup(t + lx->p + 1, (size_t)(close - t - lx->p - 1));
        lx->p = (uint32_t)(close - t) + 1;
        push(lx, T_IDENT, start, name, strlen(name));
        return true;
    }
    if (is_ident_start(c) || (c == '_' && is_ident_char(t[lx->p + 1]))) {
        while (is_ident_char(t[lx->p]))
            lx->p++;
        char *name = g_strndup(t + start, lx->p - start);
        bool kw = g_strv_contains(keywords, name);
        push(lx, kw ? T_KEYWORD : T_IDENT, start, name, lx->p - start);
        return true;
    }
    static const struct {
        char c;
        sh_tok kind;
    } single[] = {
        {'(', T_LPAREN},   {')', T_RPAREN}, {'{', T_LBRACE}, {'}', T_RBRACE}, {'[', T_LBRACKET},
        {']', T_RBRACKET}, {',', T_COMMA},  {'.', T_DOT},    {';', T_SEMI},   {'_', T_UNDERSCORE},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(single); i++)
        if (single[i].c == c) {
            lx->p++;
            push(lx, single[i].kind, start, NULL, 0);
            return true;
        }
    if (is_op_char(c)) {
        while (is_op_char(t[lx->p]))
            lx->p++;
        size_t n = lx->p - start;
        char *op = g_strndup(t + start, n);
        sh_tok kind = !strcmp(op, "=>")  ? T_ARROW
                      : !strcmp(op, "=") ? T_EQUALS
                      : !strcmp(op, ":") ? T_COLON
                                         : T_OP;
        push(lx, kind, start, op, n);
        return true;
    }
    sh_error_at(err, SH_ERROR_SYNTAX, AT(lx, start), "illegal character '%.*s'",
                g_utf8_skip[(guchar)c], t + start);
    return false;
}

GArray *sh_lex(const sh_source *src, GError **err)
{
    lexer lx = {.src = src, .t = src->text, .toks = g_array_new(FALSE, TRUE, sizeof(sh_token))};
    while (lx.t[lx.p])
        if (!lex_one(&lx, err)) {
            sh_tokens_free(lx.toks);
            return NULL;
        }
    push(&lx, T_EOF, lx.p, NULL, 0);
    return lx.toks;
}

void sh_tokens_free(GArray *toks)
{
    if (!toks)
        return;
    for (guint i = 0; i < toks->len; i++)
        g_free(g_array_index(toks, sh_token, i).text);
    g_array_free(toks, TRUE);
}
