/* ember-shell's parser: tokens into syntax trees for the Scala subset of Spark's Streaming
 * Programming Guide. Scala's rules it keeps: newlines end statements except inside parentheses
 * and before a line starting with `.`; `_` placeholders make the smallest enclosing argument,
 * parenthesized expression or statement a function (`_ + _` is (a, b) => a + b); operator
 * precedence by the operator's first character. Types are read and ignored, except that a
 * lambda keeps its parameters' types as written. */
#include "shell.h"

#include <string.h>

typedef struct parser {
    const sh_source *src;
    GArray *toks;
    guint p;
    em_arena *arena;
    int nl_off;              /* > 0: newlines are not significant (inside parentheses) */
    GPtrArray *placeholders; /* the `_`s met since the enclosing boundary */
    GError **err;
    bool failed;
    int depth; /* expressions being parsed, one inside the other */
} parser;

#define MAX_DEPTH 200

#define TOK(ps, k) (&g_array_index((ps)->toks, sh_token, (k)))

/* The current token, newlines skipped when they are not significant here. */
static sh_token *peek(parser *ps)
{
    if (ps->nl_off > 0)
        while (TOK(ps, ps->p)->kind == T_NEWLINE)
            ps->p++;
    return TOK(ps, ps->p);
}

static void skip_newlines(parser *ps)
{
    while (TOK(ps, ps->p)->kind == T_NEWLINE)
        ps->p++;
}

static sh_token *next(parser *ps)
{
    sh_token *t = peek(ps);
    if (t->kind != T_EOF)
        ps->p++;
    return t;
}

static bool is(parser *ps, sh_tok kind) { return peek(ps)->kind == kind; }

static bool is_kw(parser *ps, const char *kw)
{
    sh_token *t = peek(ps);
    return t->kind == T_KEYWORD && !strcmp(t->text, kw);
}

static const char *tok_desc(const sh_token *t)
{
    switch (t->kind) {
    case T_EOF: return "end of input";
    case T_NEWLINE: return "end of line";
    case T_IDENT: return "identifier";
    case T_INT:
    case T_DOUBLE: return "number";
    case T_STRING:
    case T_INTERP: return "string literal";
    case T_LPAREN: return "'('";
    case T_RPAREN: return "')'";
    case T_LBRACE: return "'{'";
    case T_RBRACE: return "'}'";
    case T_LBRACKET: return "'['";
    case T_RBRACKET: return "']'";
    case T_COMMA: return "','";
    case T_DOT: return "'.'";
    case T_SEMI: return "';'";
    case T_COLON: return "':'";
    case T_ARROW: return "'=>'";
    case T_EQUALS: return "'='";
    case T_UNDERSCORE: return "'_'";
    case T_OP:
    case T_KEYWORD: return NULL;
    }
    return "token";
}

/* Reports an error at token t (once); an error at the end of input is "incomplete". */
static void fail_at(parser *ps, const sh_token *t, const char *fmt, const char *arg)
{
    if (ps->failed)
        return;
    ps->failed = true;
    int code = t->kind == T_EOF ? SH_ERROR_INCOMPLETE : SH_ERROR_SYNTAX;
    sh_pos pos = {ps->src, t->off, t->end > t->off ? t->end : t->off + 1};
    if (t->kind == T_EOF) {
        /* The end of input is shown right after the last token, not on an empty line. */
        guint k = ps->p;
        while (k > 0 && (TOK(ps, k)->kind == T_EOF || TOK(ps, k)->kind == T_NEWLINE))
            k--;
        if (TOK(ps, k)->kind != T_EOF && TOK(ps, k)->kind != T_NEWLINE)
            pos.off = TOK(ps, k)->end, pos.end = pos.off + 1;
    }
    const char *desc = tok_desc(t);
    char *what = desc ? g_strdup(desc) : g_strdup_printf("'%s'", t->text);
    char *msg = g_strdup_printf(fmt, arg ? arg : what);
    sh_error_at(ps->err, code, &pos, "%s", msg);
    g_free(msg);
    g_free(what);
}

/* An input that ended inside brackets: the caret goes under the opening one. */
static void fail_at_open(parser *ps, const sh_token *open, const char *msg)
{
    if (ps->failed)
        return;
    ps->failed = true;
    sh_error_at(ps->err, SH_ERROR_INCOMPLETE, &(sh_pos){ps->src, open->off, open->end}, "%s", msg);
}

static bool expect(parser *ps, sh_tok kind, const char *what)
{
    sh_token *t = peek(ps);
    if (t->kind == kind) {
        next(ps);
        return true;
    }
    char *fmt = g_strdup_printf("expected %s but found %%s", what);
    fail_at(ps, t, fmt, NULL);
    g_free(fmt);
    return false;
}

static char *adup(parser *ps, const char *s, size_t n)
{
    char *c = em_arena_alloc(ps->arena, n + 1);
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

static sh_node *node(parser *ps, sh_kind kind, uint32_t off)
{
    sh_node *n = em_arena_alloc(ps->arena, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->pos = (sh_pos){ps->src, off, off + 1};
    return n;
}

/* Ends n's span at the end of the previous token. */
static sh_node *finish(parser *ps, sh_node *n)
{
    if (n && ps->p > 0) {
        guint k = ps->p - 1;
        while (k > 0 && TOK(ps, k)->kind == T_NEWLINE)
            k--;
        if (TOK(ps, k)->end > n->pos.off)
            n->pos.end = TOK(ps, k)->end;
    }
    return n;
}

static void set_kids(parser *ps, sh_node *n, GPtrArray *kids)
{
    n->n_kids = (int)kids->len;
    n->kids = em_arena_alloc(ps->arena, sizeof(sh_node *) * (kids->len ? kids->len : 1));
    for (guint i = 0; i < kids->len; i++)
        n->kids[i] = kids->pdata[i];
    g_ptr_array_free(kids, TRUE);
}

static sh_node *node1(parser *ps, sh_kind kind, uint32_t off, sh_node *kid)
{
    sh_node *n = node(ps, kind, off);
    GPtrArray *kids = g_ptr_array_new();
    g_ptr_array_add(kids, kid);
    set_kids(ps, n, kids);
    return n;
}

static sh_node *parse_expr(parser *ps);
static sh_node *parse_block_body(parser *ps, uint32_t off);

/* ---- Types: read and skipped ---- */

static bool skip_type(parser *ps)
{
    if (is(ps, T_LPAREN)) {
        next(ps);
        ps->nl_off++;
        while (!is(ps, T_RPAREN) && !is(ps, T_EOF) && !ps->failed) {
            skip_type(ps);
            if (!is(ps, T_COMMA))
                break;
            next(ps);
        }
        expect(ps, T_RPAREN, "')'");
        ps->nl_off--;
    } else {
        if (!is(ps, T_IDENT)) {
            fail_at(ps, peek(ps), "expected a type but found %s", NULL);
            return false;
        }
        next(ps);
        while (is(ps, T_DOT) && TOK(ps, ps->p + 1)->kind == T_IDENT)
            next(ps), next(ps);
        if (is(ps, T_LBRACKET)) {
            next(ps);
            ps->nl_off++;
            while (!ps->failed) {
                skip_type(ps);
                if (!is(ps, T_COMMA))
                    break;
                next(ps);
            }
            expect(ps, T_RBRACKET, "']'");
            ps->nl_off--;
        }
    }
    if (is(ps, T_ARROW) && ps->nl_off > 0) { /* a function type, inside a parameter list */
        next(ps);
        skip_type(ps);
    }
    return !ps->failed;
}

/* `[Type, ...]` after a method name: skipped. */
static void skip_type_args(parser *ps)
{
    next(ps);
    ps->nl_off++;
    while (!ps->failed) {
        skip_type(ps);
        if (!is(ps, T_COMMA))
            break;
        next(ps);
    }
    expect(ps, T_RBRACKET, "']'");
    ps->nl_off--;
}

/* ---- Placeholders ---- */

/* Parses an expression that is a placeholder boundary: if it holds `_`s (not itself a bare
 * `_`), it becomes a lambda of as many parameters, in order. */
static sh_node *parse_boundary(parser *ps)
{
    GPtrArray *saved = ps->placeholders;
    ps->placeholders = g_ptr_array_new();
    sh_node *e = parse_expr(ps);
    GPtrArray *found = ps->placeholders;
    ps->placeholders = saved;
    if (e && found->len > 0) {
        if (e->kind == N_PLACEHOLDER) {
            if (saved)
                g_ptr_array_add(saved, e);
        } else {
            sh_node *lam = node1(ps, N_LAMBDA, e->pos.off, e);
            lam->pos.end = e->pos.end;
            lam->n_params = (int)found->len;
            lam->params = em_arena_alloc(ps->arena, sizeof(sh_param) * found->len);
            for (guint i = 0; i < found->len; i++) {
                sh_node *ph = found->pdata[i];
                char pname[16];
                int plen = g_snprintf(pname, sizeof pname, "_$%u", i);
                ph->i = i;
                ph->name = adup(ps, pname, (size_t)plen);
                lam->params[i] = (sh_param){.name = ph->name};
            }
            e = lam;
        }
    }
    g_ptr_array_free(found, TRUE);
    return e;
}

/* ---- Lambdas ---- */

/* Whether the tokens from the current '(' to its match are followed by '=>'. */
static bool paren_lambda_ahead(parser *ps)
{
    int depth = 0;
    for (guint k = ps->p;; k++) {
        sh_tok kind = TOK(ps, k)->kind;
        if (kind == T_EOF)
            return false;
        if (kind == T_LPAREN || kind == T_LBRACKET)
            depth++;
        else if (kind == T_RPAREN || kind == T_RBRACKET) {
            if (--depth == 0) {
                k++;
                while (TOK(ps, k)->kind == T_NEWLINE)
                    k++;
                return TOK(ps, k)->kind == T_ARROW;
            }
        }
    }
}

static bool parse_param(parser *ps, GArray *params)
{
    sh_token *t = peek(ps);
    if (t->kind != T_IDENT && t->kind != T_UNDERSCORE) {
        fail_at(ps, t, "expected a parameter name but found %s", NULL);
        return false;
    }
    next(ps);
    sh_param p = {
        .name = adup(ps, t->kind == T_IDENT ? t->text : "_", t->kind == T_IDENT ? t->len : 1)};
    if (is(ps, T_COLON)) {
        next(ps);
        uint32_t from = peek(ps)->off;
        if (!skip_type(ps))
            return false;
        uint32_t to = TOK(ps, ps->p - 1)->end;
        p.type = adup(ps, ps->src->text + from, to - from);
    }
    g_array_append_val(params, p);
    return true;
}

static void set_params(parser *ps, sh_node *n, GArray *params)
{
    n->n_params = (int)params->len;
    n->params = em_arena_alloc(ps->arena, sizeof(sh_param) * (params->len ? params->len : 1));
    if (params->len)
        memcpy(n->params, params->data, sizeof(sh_param) * params->len);
    g_array_free(params, TRUE);
}

/* The body of a lambda: everything up to the end of the enclosing block or argument. */
static sh_node *parse_lambda_body(parser *ps, sh_node *lam, bool in_braces)
{
    expect(ps, T_ARROW, "'=>'");
    skip_newlines(ps);
    GPtrArray *saved = ps->placeholders;
    ps->placeholders = NULL; /* a `_` in a lambda's body binds inside the body */
    sh_node *body = in_braces ? parse_block_body(ps, peek(ps)->off) : parse_boundary(ps);
    ps->placeholders = saved;
    if (!body)
        return NULL;
    GPtrArray *kids = g_ptr_array_new();
    g_ptr_array_add(kids, body);
    set_kids(ps, lam, kids);
    return finish(ps, lam);
}

static sh_node *parse_paren_lambda(parser *ps, bool in_braces)
{
    sh_node *lam = node(ps, N_LAMBDA, peek(ps)->off);
    GArray *params = g_array_new(FALSE, TRUE, sizeof(sh_param));
    next(ps);
    ps->nl_off++;
    while (!is(ps, T_RPAREN) && !ps->failed) {
        if (!parse_param(ps, params))
            break;
        if (!is(ps, T_COMMA))
            break;
        next(ps);
    }
    expect(ps, T_RPAREN, "')'");
    ps->nl_off--;
    set_params(ps, lam, params);
    return ps->failed ? NULL : parse_lambda_body(ps, lam, in_braces);
}

static sh_node *parse_ident_lambda(parser *ps, bool in_braces)
{
    sh_node *lam = node(ps, N_LAMBDA, peek(ps)->off);
    GArray *params = g_array_new(FALSE, TRUE, sizeof(sh_param));
    parse_param(ps, params);
    set_params(ps, lam, params);
    return ps->failed ? NULL : parse_lambda_body(ps, lam, in_braces);
}

/* ---- Blocks and statements ---- */

static sh_node *parse_statement(parser *ps);

/* Statements up to the closing '}' (already past the '{'); a lambda `x => ...` right after
 * the brace takes the whole block as its body. */
static sh_node *parse_block_body(parser *ps, uint32_t off)
{
    int saved_nl = ps->nl_off;
    ps->nl_off = 0;
    sh_node *block = node(ps, N_BLOCK, off);
    GPtrArray *kids = g_ptr_array_new();
    for (;;) {
        while (is(ps, T_NEWLINE) || is(ps, T_SEMI))
            next(ps);
        if (is(ps, T_RBRACE) || is(ps, T_EOF) || ps->failed)
            break;
        sh_node *s = parse_statement(ps);
        if (!s)
            break;
        g_ptr_array_add(kids, s);
        if (!is(ps, T_NEWLINE) && !is(ps, T_SEMI) && !is(ps, T_RBRACE)) {
            fail_at(ps, peek(ps), "expected end of statement but found %s", NULL);
            break;
        }
    }
    ps->nl_off = saved_nl;
    set_kids(ps, block, kids);
    if (ps->failed)
        return NULL;
    if (block->n_kids == 1 && block->kids[0]->kind != N_VAL && block->kids[0]->kind != N_DEF)
        return block->kids[0];
    return finish(ps, block);
}

/* `case (a, b) => ...` (the whole of a `{ ... }`): a lambda whose one record, a tuple, is
 * taken apart into the names (i = 1), or `case x => ...`. One case, names only. */
static sh_node *parse_case(parser *ps)
{
    next(ps);
    if (is(ps, T_IDENT) && TOK(ps, ps->p + 1)->kind == T_ARROW)
        return parse_ident_lambda(ps, true);
    if (!is(ps, T_LPAREN)) {
        fail_at(ps, peek(ps),
                "ember-shell reads `case (a, b) => ...` and `case x => ...` only, not a "
                "pattern starting with %s",
                NULL);
        return NULL;
    }
    int depth = 0;
    for (guint k = ps->p; TOK(ps, k)->kind != T_EOF; k++) {
        sh_tok kind = TOK(ps, k)->kind;
        if (kind == T_LPAREN && ++depth > 1) {
            fail_at(ps, TOK(ps, k),
                    "nested patterns are not supported by ember-shell; bind the tuple and use "
                    "._1, ._2 (found %s)",
                    NULL);
            return NULL;
        }
        if (kind == T_RPAREN && --depth == 0)
            break;
    }
    sh_node *lam = parse_paren_lambda(ps, true);
    if (lam)
        lam->i = 1;
    if (lam && is_kw(ps, "case"))
        fail_at(ps, peek(ps),
                "one case only: ember-shell does not match several patterns (found %s)", NULL);
    return ps->failed ? NULL : lam;
}

/* '{' ... '}': a block, or a lambda written `{ x => ... }` / `{ (a, b) => ... }`. */
static sh_node *parse_braces(parser *ps)
{
    uint32_t off = peek(ps)->off;
    sh_token *open = next(ps);
    int saved_nl = ps->nl_off;
    ps->nl_off = 0;
    skip_newlines(ps);
    sh_node *e;
    if (is_kw(ps, "case")) {
        e = parse_case(ps);
    } else if (is(ps, T_IDENT) && TOK(ps, ps->p + 1)->kind == T_ARROW) {
        e = parse_ident_lambda(ps, true);
    } else if (is(ps, T_LPAREN) && paren_lambda_ahead(ps)) {
        e = parse_paren_lambda(ps, true);
    } else {
        GPtrArray *saved = ps->placeholders;
        ps->placeholders = NULL;
        e = parse_block_body(ps, off);
        ps->placeholders = saved;
    }
    ps->nl_off = saved_nl;
    skip_newlines(ps);
    if (!ps->failed && is(ps, T_EOF))
        fail_at_open(ps, open, "'{' is never closed");
    if (!ps->failed)
        expect(ps, T_RBRACE, "'}'");
    return ps->failed ? NULL : e;
}

/* `(args)` of a call: each argument is a placeholder boundary. Appends to kids. */
static bool parse_args(parser *ps, GPtrArray *kids)
{
    sh_token *open = next(ps);
    ps->nl_off++;
    while (!is(ps, T_RPAREN) && !ps->failed) {
        sh_node *a;
        if (is(ps, T_IDENT) && TOK(ps, ps->p + 1)->kind == T_EQUALS) {
            /* A named argument, stop(stopGracefully = true): an N_ASSIGN the callee reads. */
            sh_token *name = next(ps);
            next(ps);
            sh_node *value = parse_boundary(ps);
            if (!value)
                break;
            a = node1(ps, N_ASSIGN, name->off, value);
            a->name = adup(ps, name->text, name->len);
            finish(ps, a);
        } else {
            a = parse_boundary(ps);
        }
        if (!a)
            break;
        g_ptr_array_add(kids, a);
        if (!is(ps, T_COMMA))
            break;
        next(ps);
    }
    if (!ps->failed && is(ps, T_EOF))
        fail_at_open(ps, open, "'(' is never closed");
    if (!ps->failed)
        expect(ps, T_RPAREN, "')' or ','");
    ps->nl_off--;
    return !ps->failed;
}

static sh_node *parse_new(parser *ps)
{
    sh_node *n = node(ps, N_NEW, peek(ps)->off);
    next(ps);
    sh_token *t = peek(ps);
    if (t->kind != T_IDENT) {
        fail_at(ps, t, "expected a class name after new but found %s", NULL);
        return NULL;
    }
    GString *name = g_string_new(t->text);
    next(ps);
    while (is(ps, T_DOT) && TOK(ps, ps->p + 1)->kind == T_IDENT) {
        next(ps);
        g_string_append_printf(name, ".%s", next(ps)->text);
    }
    n->name = adup(ps, name->str, name->len);
    g_string_free(name, TRUE);
    if (is(ps, T_LBRACKET))
        skip_type_args(ps);
    GPtrArray *kids = g_ptr_array_new();
    if (is(ps, T_LPAREN))
        parse_args(ps, kids);
    set_kids(ps, n, kids);
    return ps->failed ? NULL : finish(ps, n);
}

/* s"... $x ... ${expr} ...": string parts and expressions, parsed from the literal's text. */
static sh_node *parse_interp(parser *ps, sh_token *t)
{
    sh_node *n = node(ps, N_INTERP, t->off);
    GPtrArray *kids = g_ptr_array_new();
    const char *s = t->text;
    size_t i = 0, start = 0;
    while (i <= t->len && !ps->failed) {
        if (i < t->len && s[i] != '$') {
            i++;
            continue;
        }
        sh_node *part = node(ps, N_STRING, t->off);
        part->s = adup(ps, s + start, i - start);
        part->slen = i - start;
        g_ptr_array_add(kids, part);
        if (i == t->len)
            break;
        i++;
        if (s[i] == '$') { /* $$ is a dollar sign */
            sh_node *dollar = node(ps, N_STRING, t->off);
            dollar->s = adup(ps, "$", 1);
            dollar->slen = 1;
            g_ptr_array_add(kids, dollar);
            start = ++i;
            continue;
        }
        size_t from = i, to;
        if (s[i] == '{') {
            const char *close = memchr(s + i, '}', t->len - i);
            if (!close) {
                fail_at(ps, t, "unclosed ${ in interpolated string", NULL);
                break;
            }
            from = i + 1;
            to = (size_t)(close - s);
            i = to + 1;
        } else {
            while (i < t->len && (g_ascii_isalnum(s[i]) || s[i] == '_'))
                i++;
            to = i;
            if (to == from) {
                fail_at(ps, t, "expected an identifier or ${expression} after $ in %s",
                        "s\"...\"");
                break;
            }
        }
        /* The embedded expression is parsed as a source of its own. */
        sh_source *sub = em_arena_alloc(ps->arena, sizeof *sub);
        *sub = (sh_source){.name = ps->src->name,
                           .text = adup(ps, s + from, to - from),
                           .len = to - from,
                           .first_line = 1};
        GError *e = NULL;
        GPtrArray *stmts = g_ptr_array_new();
        if (!sh_parse(sub, ps->arena, stmts, &e) || stmts->len != 1) {
            if (!ps->failed) {
                ps->failed = true;
                sh_error_at(ps->err, SH_ERROR_SYNTAX, &(sh_pos){ps->src, t->off, t->end},
                            "cannot read the expression ${%s} in an interpolated string",
                            sub->text);
            }
            g_clear_error(&e);
            g_ptr_array_free(stmts, TRUE);
            break;
        }
        g_ptr_array_add(kids, stmts->pdata[0]);
        g_ptr_array_free(stmts, TRUE);
        start = i;
    }
    set_kids(ps, n, kids);
    n->pos.end = t->end;
    return ps->failed ? NULL : n;
}

static sh_node *parse_primary(parser *ps)
{
    sh_token *t = peek(ps);
    sh_node *n;
    switch (t->kind) {
    case T_INT:
        next(ps);
        n = node(ps, N_INT, t->off);
        n->i = t->i;
        return finish(ps, n);
    case T_DOUBLE:
        next(ps);
        n = node(ps, N_DOUBLE, t->off);
        n->d = t->d;
        return finish(ps, n);
    case T_STRING:
        next(ps);
        n = node(ps, N_STRING, t->off);
        n->s = adup(ps, t->text, t->len);
        n->slen = t->len;
        return finish(ps, n);
    case T_INTERP: next(ps); return parse_interp(ps, t);
    case T_IDENT:
        if (TOK(ps, ps->p + 1)->kind == T_ARROW)
            return parse_ident_lambda(ps, false);
        next(ps);
        n = node(ps, N_IDENT, t->off);
        n->name = adup(ps, t->text, t->len);
        return finish(ps, n);
    case T_UNDERSCORE:
        next(ps);
        n = finish(ps, node(ps, N_PLACEHOLDER, t->off));
        if (!ps->placeholders) {
            fail_at(ps, t, "unbound placeholder parameter %s", "'_'");
            return NULL;
        }
        g_ptr_array_add(ps->placeholders, n);
        return n;
    case T_LBRACE: return parse_braces(ps);
    case T_LPAREN: {
        if (paren_lambda_ahead(ps))
            return parse_paren_lambda(ps, false);
        sh_token *open = next(ps);
        ps->nl_off++;
        GPtrArray *kids = g_ptr_array_new();
        while (!is(ps, T_RPAREN) && !ps->failed) {
            /* A tuple's fields are not boundaries: (_, 1) is x => (x, 1). A lone
             * parenthesized expression is: (_ + 1). */
            sh_node *e = parse_expr(ps);
            if (!e)
                break;
            g_ptr_array_add(kids, e);
            if (!is(ps, T_COMMA))
                break;
            next(ps);
        }
        if (!ps->failed && is(ps, T_EOF))
            fail_at_open(ps, open, "'(' is never closed");
        if (!ps->failed)
            expect(ps, T_RPAREN, "')' or ','");
        ps->nl_off--;
        if (ps->failed) {
            g_ptr_array_free(kids, TRUE);
            return NULL;
        }
        if (kids->len == 1) {
            n = kids->pdata[0];
            g_ptr_array_free(kids, TRUE);
            return n;
        }
        n = node(ps, kids->len == 0 ? N_UNIT : N_TUPLE, t->off);
        set_kids(ps, n, kids);
        return finish(ps, n);
    }
    case T_KEYWORD:
        if (!strcmp(t->text, "true") || !strcmp(t->text, "false")) {
            next(ps);
            n = node(ps, N_BOOL, t->off);
            n->i = t->text[0] == 't';
            return finish(ps, n);
        }
        if (!strcmp(t->text, "null")) {
            next(ps);
            return finish(ps, node(ps, N_NULL, t->off));
        }
        if (!strcmp(t->text, "new"))
            return parse_new(ps);
        if (!strcmp(t->text, "if")) {
            n = node(ps, N_IF, t->off);
            next(ps);
            GPtrArray *kids = g_ptr_array_new();
            if (expect(ps, T_LPAREN, "'(' after if")) {
                ps->nl_off++;
                g_ptr_array_add(kids, parse_expr(ps));
                expect(ps, T_RPAREN, "')'");
                ps->nl_off--;
            }
            if (!ps->failed) {
                skip_newlines(ps);
                g_ptr_array_add(kids, parse_expr(ps));
            }
            if (!ps->failed) {
                guint save = ps->p;
                skip_newlines(ps);
                if (is_kw(ps, "else")) {
                    next(ps);
                    skip_newlines(ps);
                    g_ptr_array_add(kids, parse_expr(ps));
                } else {
                    ps->p = save;
                    g_ptr_array_add(kids, NULL);
                }
            }
            set_kids(ps, n, kids);
            return ps->failed ? NULL : finish(ps, n);
        }
        fail_at(ps, t, "'%s' is not supported by ember-shell", t->text);
        return NULL;
    default: fail_at(ps, t, "expected an expression but found %s", NULL); return NULL;
    }
}

/* Selections, calls and type arguments after a primary. */
static sh_node *parse_postfix(parser *ps)
{
    uint32_t off = peek(ps)->off;
    sh_node *e = parse_primary(ps);
    while (e && !ps->failed) {
        /* A line starting with '.' continues the expression before it. */
        guint save = ps->p;
        skip_newlines(ps);
        if (!is(ps, T_DOT))
            ps->p = save;
        sh_token *t = peek(ps);
        if (t->kind == T_DOT) {
            next(ps);
            sh_token *name = peek(ps);
            if (name->kind != T_IDENT) {
                fail_at(ps, name, "expected a member name after '.' but found %s", NULL);
                return NULL;
            }
            next(ps);
            sh_node *sel = node1(ps, N_SELECT, off, e);
            sel->name = adup(ps, name->text, name->len);
            sel->i = name->off; /* where the member name is, for errors */
            e = finish(ps, sel);
        } else if (t->kind == T_LBRACKET) {
            skip_type_args(ps);
        } else if (t->kind == T_LPAREN) {
            GPtrArray *kids = g_ptr_array_new();
            g_ptr_array_add(kids, e);
            sh_node *call = node(ps, N_CALL, off);
            parse_args(ps, kids);
            set_kids(ps, call, kids);
            e = ps->failed ? NULL : finish(ps, call);
        } else if (t->kind == T_LBRACE && (e->kind == N_SELECT || e->kind == N_CALL)) {
            /* recv.method { ... }: a block argument. */
            GPtrArray *kids = g_ptr_array_new();
            g_ptr_array_add(kids, e);
            sh_node *call = node(ps, N_CALL, off);
            sh_node *arg = parse_braces(ps);
            g_ptr_array_add(kids, arg);
            set_kids(ps, call, kids);
            e = arg ? finish(ps, call) : NULL;
        } else if (t->kind == T_UNDERSCORE && e->kind != N_PLACEHOLDER) {
            next(ps);
            e = finish(ps, node1(ps, N_ETA, off, e));
        } else {
            break;
        }
    }
    return e;
}

static sh_node *parse_prefix(parser *ps)
{
    sh_token *t = peek(ps);
    if (t->kind == T_OP &&
        (!strcmp(t->text, "-") || !strcmp(t->text, "!") || !strcmp(t->text, "+"))) {
        next(ps);
        sh_token *operand = peek(ps);
        if (t->text[0] == '-' && (operand->kind == T_INT || operand->kind == T_DOUBLE) &&
            operand->off == t->end) {
            sh_node *lit = parse_postfix(ps);
            if (lit && lit->kind == N_INT)
                lit->i = -lit->i;
            else if (lit && lit->kind == N_DOUBLE)
                lit->d = -lit->d;
            else if (lit) {
                sh_node *n = node1(ps, N_UNOP, t->off, lit);
                n->name = adup(ps, "-", 1);
                return finish(ps, n);
            }
            if (lit)
                lit->pos.off = t->off;
            return lit;
        }
        if (++ps->depth > MAX_DEPTH) {
            fail_at(ps, t, "expression nested too deeply (more than 200 levels) at %s", NULL);
            return NULL;
        }
        sh_node *e = parse_prefix(ps);
        ps->depth--;
        if (!e)
            return NULL;
        sh_node *n = node1(ps, N_UNOP, t->off, e);
        n->name = adup(ps, t->text, t->len);
        return finish(ps, n);
    }
    return parse_postfix(ps);
}

/* Scala's precedence: by the operator's first character; letters lowest, assignment lower. */
static int precedence(const char *op)
{
    size_t n = strlen(op);
    if (n >= 2 && op[n - 1] == '=' && strcmp(op, "<=") && strcmp(op, ">=") && strcmp(op, "!=") &&
        strcmp(op, "==") && op[0] != '=')
        return 0; /* +=, -=, ... */
    switch (op[0]) {
    case '|': return 2;
    case '^': return 3;
    case '&': return 4;
    case '=':
    case '!': return 5;
    case '<':
    case '>': return 6;
    case ':': return 7;
    case '+':
    case '-': return 8;
    case '*':
    case '/':
    case '%': return 9;
    default:
        if (g_ascii_isalpha(op[0]))
            return 1;
        return 10;
    }
}

static const char *const word_ops[] = {"to", "until", "max", "min", "by", NULL};

/* The infix operator at the current token, or NULL. */
static const char *infix_op(parser *ps)
{
    sh_token *t = peek(ps);
    if (t->kind == T_OP)
        return t->text;
    if (t->kind == T_IDENT && g_strv_contains(word_ops, t->text))
        return t->text;
    return NULL;
}

static sh_node *parse_infix(parser *ps, int min_prec)
{
    uint32_t off = peek(ps)->off;
    sh_node *lhs = parse_prefix(ps);
    int operators = 0;
    while (lhs && !ps->failed) {
        const char *op = infix_op(ps);
        if (!op)
            break;
        int prec = precedence(op);
        if (prec < min_prec)
            break;
        sh_token *t = next(ps);
        if (++operators > 10000) {
            /* Evaluating the tree recurses once per operator. */
            fail_at(ps, t, "expression too long (more than 10000 operators) at %s", NULL);
            return NULL;
        }
        skip_newlines(ps);
        /* Assignment operators and those ending in ':' are right-associative. */
        bool right = prec == 0 || op[strlen(op) - 1] == ':';
        sh_node *rhs = parse_infix(ps, right ? prec : prec + 1);
        if (!rhs)
            return NULL;
        sh_node *n = node(ps, N_BINOP, off);
        GPtrArray *kids = g_ptr_array_new();
        g_ptr_array_add(kids, lhs);
        g_ptr_array_add(kids, rhs);
        set_kids(ps, n, kids);
        n->name = adup(ps, t->text, t->len);
        n->i = t->off; /* where the operator is */
        lhs = finish(ps, n);
    }
    return lhs;
}

static sh_node *parse_expr(parser *ps)
{
    if (ps->failed)
        return NULL;
    if (ps->depth >= MAX_DEPTH) {
        fail_at(ps, peek(ps), "expression nested too deeply (more than 200 levels) at %s", NULL);
        return NULL;
    }
    ps->depth++;
    sh_node *e = parse_infix(ps, 0);
    ps->depth--;
    return e;
}

static sh_node *parse_val(parser *ps)
{
    sh_token *kw = next(ps);
    sh_node *n = node(ps, N_VAL, kw->off);
    n->i = kw->text[1] == 'a' && kw->text[2] == 'r';
    sh_token *name = peek(ps);
    if (name->kind != T_IDENT) {
        fail_at(ps, name,
                name->kind == T_LPAREN
                    ? "patterns in %s are not supported by ember-shell; bind one name"
                    : "expected a name after val but found %s",
                name->kind == T_LPAREN ? kw->text : NULL);
        return NULL;
    }
    next(ps);
    n->name = adup(ps, name->text, name->len);
    if (is(ps, T_COLON)) {
        next(ps);
        if (!skip_type(ps))
            return NULL;
    }
    if (!expect(ps, T_EQUALS, "'='"))
        return NULL;
    skip_newlines(ps);
    sh_node *rhs = parse_boundary(ps);
    if (!rhs)
        return NULL;
    GPtrArray *kids = g_ptr_array_new();
    g_ptr_array_add(kids, rhs);
    set_kids(ps, n, kids);
    return finish(ps, n);
}

static sh_node *parse_def(parser *ps)
{
    sh_token *kw = next(ps);
    sh_node *n = node(ps, N_DEF, kw->off);
    sh_token *name = peek(ps);
    if (name->kind != T_IDENT) {
        fail_at(ps, name, "expected a name after def but found %s", NULL);
        return NULL;
    }
    next(ps);
    n->name = adup(ps, name->text, name->len);
    if (is(ps, T_LBRACKET))
        skip_type_args(ps);
    GArray *params = g_array_new(FALSE, TRUE, sizeof(sh_param));
    if (is(ps, T_LPAREN)) {
        next(ps);
        ps->nl_off++;
        while (!is(ps, T_RPAREN) && !ps->failed) {
            if (!parse_param(ps, params))
                break;
            if (!is(ps, T_COMMA))
                break;
            next(ps);
        }
        expect(ps, T_RPAREN, "')'");
        ps->nl_off--;
    }
    set_params(ps, n, params);
    if (!ps->failed && is(ps, T_COLON)) {
        next(ps);
        skip_type(ps);
    }
    if (ps->failed || !expect(ps, T_EQUALS, "'='"))
        return NULL;
    skip_newlines(ps);
    sh_node *body = parse_boundary(ps);
    if (!body)
        return NULL;
    GPtrArray *kids = g_ptr_array_new();
    g_ptr_array_add(kids, body);
    set_kids(ps, n, kids);
    return finish(ps, n);
}

static sh_node *parse_statement(parser *ps)
{
    sh_token *t = peek(ps);
    if (t->kind == T_KEYWORD) {
        if (!strcmp(t->text, "val") || !strcmp(t->text, "var"))
            return parse_val(ps);
        if (!strcmp(t->text, "def"))
            return parse_def(ps);
        if (!strcmp(t->text, "import")) {
            sh_node *n = node(ps, N_IMPORT, t->off);
            int depth = 0;
            next(ps);
            while (!is(ps, T_EOF) && (depth > 0 || (!is(ps, T_NEWLINE) && !is(ps, T_SEMI)))) {
                sh_tok k = next(ps)->kind;
                depth += k == T_LBRACE ? 1 : k == T_RBRACE ? -1 : 0;
            }
            return finish(ps, n);
        }
        if (!strcmp(t->text, "lazy")) {
            next(ps);
            return parse_statement(ps);
        }
    }
    sh_node *e = parse_boundary(ps);
    if (e && is(ps, T_EQUALS)) {
        sh_token *eq = next(ps);
        if (e->kind != N_IDENT) {
            fail_at(ps, eq, "only a var can be assigned (name = value); found %s", "'='");
            return NULL;
        }
        skip_newlines(ps);
        sh_node *rhs = parse_boundary(ps);
        if (!rhs)
            return NULL;
        sh_node *n = node1(ps, N_ASSIGN, e->pos.off, rhs);
        n->name = e->name;
        return finish(ps, n);
    }
    return e;
}

bool sh_parse(const sh_source *src, em_arena *arena, GPtrArray *stmts, GError **err)
{
    GArray *toks = sh_lex(src, err);
    if (!toks)
        return false;
    parser ps = {.src = src, .toks = toks, .arena = arena, .err = err};
    for (;;) {
        while (is(&ps, T_NEWLINE) || is(&ps, T_SEMI))
            next(&ps);
        if (is(&ps, T_EOF))
            break;
        sh_node *s = parse_statement(&ps);
        if (!s)
            break;
        g_ptr_array_add(stmts, s);
        if (!is(&ps, T_NEWLINE) && !is(&ps, T_SEMI) && !is(&ps, T_EOF)) {
            sh_token *t = peek(&ps);
            fail_at(&ps, t,
                    t->kind == T_RPAREN || t->kind == T_RBRACE || t->kind == T_RBRACKET
                        ? "unmatched %s"
                        : "expected end of statement but found %s",
                    NULL);
            break;
        }
    }
    sh_tokens_free(toks);
    return !ps.failed;
}
