/*
 * expr_lex.c -- the expression lexer (expressions.md 2) and DynamoDB's
 * syntax-error message.
 *
 * The whole text is split up front into an array of tokens: the parser then
 * indexes tokens freely, and the "near" part of a syntax error needs the
 * tokens on both sides of the offending one. A character that starts no
 * token is not an error here: it becomes an EXPR_T_BAD token, which no
 * grammar rule accepts, so the parser reports it as DynamoDB does (the
 * character itself is the token: `!!! X` -> token "!", near "!!").
 */
#include <string.h>

#include "protocol/expr_int.h"

static int is_alpha(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
static int is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
static int is_word(unsigned char c) {
  return is_alpha(c) || is_digit(c) || c == '_';
}
static int is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int word_eq(const char *s, size_t len, const char *kw) {
  size_t n = strlen(kw);
  if (n != len) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    if (c != kw[i]) return 0;
  }
  return 1;
}

/* Keyword of a word for this expression kind, EXPR_T_NAME if none. */
static expr__tk keyword(const char *s, size_t len, expr_kind kind) {
  static const struct {
    const char *w;
    expr__tk t;
  } cond_kw[] = {{"AND", EXPR_T_AND},
                 {"OR", EXPR_T_OR},
                 {"NOT", EXPR_T_NOT},
                 {"BETWEEN", EXPR_T_BETWEEN},
                 {"IN", EXPR_T_IN}},
    upd_kw[] = {
        {"SET", EXPR_T_SET}, {"REMOVE", EXPR_T_REMOVE}, {"ADD", EXPR_T_ADD}, {"DELETE", EXPR_T_DELETE}};
  if (kind == EXPR_CONDITION || kind == EXPR_FILTER || kind == EXPR_KEY_CONDITION) {
    for (size_t i = 0; i < sizeof cond_kw / sizeof cond_kw[0]; i++)
      if (word_eq(s, len, cond_kw[i].w)) return cond_kw[i].t;
  } else if (kind == EXPR_UPDATE) {
    for (size_t i = 0; i < sizeof upd_kw / sizeof upd_kw[0]; i++)
      if (word_eq(s, len, upd_kw[i].w)) return upd_kw[i].t;
  }
  return EXPR_T_NAME;
}

/* Bytes of the UTF-8 sequence that starts at s[0] (1 for a stray byte). */
static size_t utf8_len(const unsigned char *s, size_t avail) {
  size_t n = 1;
  if (s[0] >= 0xF0)
    n = 4;
  else if (s[0] >= 0xE0)
    n = 3;
  else if (s[0] >= 0xC0)
    n = 2;
  if (n > avail) n = avail;
  for (size_t i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) return i;
  return n;
}

expr__tok *expr__lex(const char *text, size_t len, expr_kind kind, dv_arena *a, uint32_t *ntok) {
  /* At most one token per byte, plus EOF. */
  expr__tok *t = dv_arena_alloc(a, (len + 1) * sizeof *t);
  const unsigned char *s = (const unsigned char *)text;
  uint32_t n = 0;
  size_t i = 0;
  while (i < len) {
    if (is_space(s[i])) {
      i++;
      continue;
    }
    size_t st = i;
    expr__tk k;
    unsigned char c = s[i];
    if (is_alpha(c)) {
      while (i < len && is_word(s[i])) i++;
      k = keyword(text + st, i - st, kind);
      /* A keyword glued to a reference is not a keyword (expressions.md 2). */
      if (k != EXPR_T_NAME && i < len && (s[i] == '#' || s[i] == ':')) k = EXPR_T_NAME;
    } else if (is_digit(c)) {
      while (i < len && is_digit(s[i])) i++;
      k = EXPR_T_NUMBER;
    } else if (c == '#' || c == ':') {
      i++;
      while (i < len && is_word(s[i])) i++;
      if (i - st == 1)
        k = EXPR_T_BAD;
      else
        k = c == '#' ? EXPR_T_NAMEREF : EXPR_T_VALREF;
    } else {
      i++;
      switch (c) {
        case '(':
          k = EXPR_T_LPAREN;
          break;
        case ')':
          k = EXPR_T_RPAREN;
          break;
        case '[':
          k = EXPR_T_LBRACK;
          break;
        case ']':
          k = EXPR_T_RBRACK;
          break;
        case ',':
          k = EXPR_T_COMMA;
          break;
        case '.':
          k = EXPR_T_DOT;
          break;
        case '=':
          k = EXPR_T_EQ;
          break;
        case '+':
          k = EXPR_T_PLUS;
          break;
        case '-':
          k = EXPR_T_MINUS;
          break;
        case '<':
          k = EXPR_T_LT;
          if (i < len && s[i] == '>') {
            k = EXPR_T_NE;
            i++;
          } else if (i < len && s[i] == '=') {
            k = EXPR_T_LE;
            i++;
          }
          break;
        case '>':
          k = EXPR_T_GT;
          if (i < len && s[i] == '=') {
            k = EXPR_T_GE;
            i++;
          }
          break;
        default:
          k = EXPR_T_BAD;
          if (c >= 0x80) i = st + utf8_len(s + st, len - st);
          break;
      }
    }
    t[n].kind = k;
    t[n].start = (uint32_t)st;
    t[n].len = (uint32_t)(i - st);
    n++;
  }
  t[n].kind = EXPR_T_EOF;
  t[n].start = (uint32_t)len;
  t[n].len = 0;
  *ntok = n + 1;
  return t;
}

int expr__syntax_error(const char *text, const expr__tok *toks, uint32_t ntok, uint32_t i, expr_kind kind,
                       p_error *err) {
  const expr__tok *t = &toks[i];
  const expr__tok *prev = i > 0 ? &toks[i - 1] : NULL;
  const expr__tok *next =
      (t->kind != EXPR_T_EOF && i + 1 < ntok && toks[i + 1].kind != EXPR_T_EOF) ? &toks[i + 1] : NULL;
  uint32_t from, to;
  if (t->kind == EXPR_T_EOF) {
    from = prev ? prev->start : t->start;
    to = prev ? prev->start + prev->len : t->start;
  } else {
    from = prev ? prev->start : t->start;
    to = next ? next->start + next->len : t->start + t->len;
  }
  if (t->kind == EXPR_T_EOF)
    return expr__error(err, kind, "Syntax error; token: \"<EOF>\", near: \"%.*s\"", (int)(to - from),
                       text + from);
  return expr__error(err, kind, "Syntax error; token: \"%.*s\", near: \"%.*s\"", (int)t->len, text + t->start,
                     (int)(to - from), text + from);
}
