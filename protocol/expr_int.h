/*
 * expr_int.h -- declarations shared by the expression parser's files only
 * (expr_lex.c, expr_parse.c, expr_names.c, expr_print.c, expr_legacy.c):
 * the token stream, and small message helpers.
 */
#ifndef DF_EXPR_INT_H
#define DF_EXPR_INT_H

#include "protocol/expr.h"
#include "protocol/protocol_int.h"

/* ---- tokens (expr_lex.c) ------------------------------------------------------- */

typedef enum expr__tk {
  EXPR_T_EOF = 0, /* end of input (start = text length, len 0) */
  EXPR_T_NAME,    /* [A-Za-z][A-Za-z0-9_]* that is not a keyword of this kind */
  EXPR_T_NAMEREF, /* #[A-Za-z0-9_]+ */
  EXPR_T_VALREF,  /* :[A-Za-z0-9_]+ */
  EXPR_T_NUMBER,  /* [0-9]+ */
  EXPR_T_LPAREN,  /* ( */
  EXPR_T_RPAREN,  /* ) */
  EXPR_T_LBRACK,  /* [ */
  EXPR_T_RBRACK,  /* ] */
  EXPR_T_COMMA,   /* , */
  EXPR_T_DOT,     /* . */
  EXPR_T_EQ,      /* = */
  EXPR_T_NE,      /* <> */
  EXPR_T_LT,      /* < */
  EXPR_T_LE,      /* <= */
  EXPR_T_GT,      /* > */
  EXPR_T_GE,      /* >= */
  EXPR_T_PLUS,    /* + */
  EXPR_T_MINUS,   /* - */
  EXPR_T_AND,     /* AND (condition kinds) */
  EXPR_T_OR,      /* OR (condition kinds) */
  EXPR_T_NOT,     /* NOT (condition kinds) */
  EXPR_T_BETWEEN, /* BETWEEN (condition kinds) */
  EXPR_T_IN,      /* IN (condition kinds) */
  EXPR_T_SET,     /* SET (update) */
  EXPR_T_REMOVE,  /* REMOVE (update) */
  EXPR_T_ADD,     /* ADD (update) */
  EXPR_T_DELETE,  /* DELETE (update) */
  EXPR_T_BAD      /* a character (a whole UTF-8 sequence) that starts no token */
} expr__tk;

typedef struct expr__tok {
  expr__tk kind;  /* what the token is */
  uint32_t start; /* byte offset in the text */
  uint32_t len;   /* bytes */
} expr__tok;

/* Splits text (len <= EXPR_MAX_SIZE) into tokens, keywords according to
 * kind; the array (from a) always ends with one EXPR_T_EOF token. Never
 * fails: characters that start no token become EXPR_T_BAD tokens. */
expr__tok *expr__lex(const char *text, size_t len, expr_kind kind, dv_arena *a, uint32_t *ntok);

/* Sets err to DynamoDB's syntax error for token i:
 * Invalid <X>: Syntax error; token: "<tok>", near: "<prev..next>". Returns -1. */
int expr__syntax_error(const char *text, const expr__tok *toks, uint32_t ntok, uint32_t i, expr_kind kind,
                       p_error *err);

/* ---- messages (expr_names.c) ---------------------------------------------------- */

/* Sets err to "Invalid <X>: <printf message>". Returns -1. */
int expr__error(p_error *err, expr_kind kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "{S:a}" style rendering of a literal, as in the BETWEEN messages; malloc'd. */
char *expr__value_render(const dv_value *v);
/* Long type names of the ADD/DELETE message: STRING NUMBER BINARY BOOLEAN NULL LIST MAP. */
const char *expr__long_type_name(dv_type t);
/* Element-wise path equality. */
int expr__path_equal(const expr_path *x, const expr_path *y);
/* Overlap / conflict check of a list of paths (expressions.md 6): 0, or -1
 * with err set to the first pair's message. */
int expr__paths_check(const expr_path *const *paths, uint32_t n, expr_kind kind, p_error *err);

#endif /* DF_EXPR_INT_H */
