/*
 * expr_parse.c -- the expression parser (expressions.md 3, 4, 8, 9, 10).
 *
 * Two stages. (1) A recursive-descent parser over the token array builds a
 * raw tree (rnode) that still holds token indexes: function names unchecked,
 * #n and :v unresolved, parentheses counted per node. Syntax errors stop
 * there with DynamoDB's token/near message. (2) Check passes walk the raw
 * tree in source order, one pass per step of expressions.md 9's order for
 * the expression kind, and a final pass builds the resolved expr_node tree.
 * Keeping the passes separate is what makes the error order right: e.g. a
 * reserved word early in a condition loses against an invalid function
 * name later in it.
 *
 * The condition grammar has one ambiguity: "(" may open a parenthesised
 * condition or a parenthesised operand ("(a) = :v"). Inside an ambiguous
 * "(", the parser parses a condition but lets its first primary end as a
 * bare operand when the next token is ")"; what follows the ")" (a
 * comparator, BETWEEN, IN) then decides. No backtracking, so the parse is
 * linear. Recursion depth is bounded by EXPR_MAX_NESTING (and, since the
 * text is at most 4096 bytes, by the text too).
 */
#include <stdlib.h>
#include <string.h>

#include "protocol/expr_int.h"

/* ---- raw tree ------------------------------------------------------------------------ */

typedef enum rk {
  RK_PATH,  /* document path: ptoks */
  RK_VALUE, /* :v (tok) */
  RK_CALL,  /* function call: name token tok, arguments kids */
  RK_OP     /* operator op over kids */
} rk;

typedef struct rnode rnode;
struct rnode {
  rk kind; /* what the node is */
  expr_node_kind
      op;       /* RK_OP: EXPR_EQ .. EXPR_NOT, EXPR_PLUS, EXPR_MINUS; RK_CALL: set once the name is known */
  uint32_t tok; /* VALUE: the :v token; CALL: the name token; OP: the operator token; PATH: first token */
  uint32_t parens;     /* parentheses directly around this node */
  uint32_t n;          /* children */
  rnode **kids;        /* children in source order */
  uint32_t npath;      /* PATH: elements */
  uint32_t *ptoks;     /* PATH: token of each element (NAME, NAMEREF or NUMBER) */
  expr_path path;      /* PATH: resolved (after the undefined-#n step) */
  const dv_value *val; /* VALUE: resolved (after the undefined-:v step) */
};

/* Raw update action. */
typedef struct raction {
  expr_action_kind kind; /* clause */
  uint32_t clause_tok;   /* the clause keyword token */
  rnode *path;           /* target */
  rnode *value;          /* SET value, ADD/DELETE :v, REMOVE NULL */
} raction;

typedef struct ps {
  const char *text;       /* the expression */
  expr_kind kind;         /* which expression */
  expr__tok *t;           /* tokens, EOF-terminated */
  uint32_t nt;            /* tokens including EOF */
  uint32_t i;             /* current token */
  dv_arena *a;            /* allocations */
  int failed;             /* a syntax error was found */
  uint32_t err_tok;       /* its token */
  uint32_t depth;         /* current nesting */
  uint32_t ops;           /* operators counted */
  p_error *err;           /* where messages go */
  const expr_names *ean;  /* EAN (may be NULL) */
  const expr_values *eav; /* EAV (may be NULL) */
  expr_usage *usage;      /* usage flags (may be NULL) */
} ps;

static expr__tk cur(const ps *p) {
  return p->t[p->i].kind;
}
static void adv(ps *p) {
  if (p->t[p->i].kind != EXPR_T_EOF) p->i++;
}
static void *fail(ps *p) {
  if (!p->failed) {
    p->failed = 1;
    p->err_tok = p->i;
  }
  return NULL;
}
static int expect(ps *p, expr__tk k) {
  if (cur(p) != k) {
    fail(p);
    return 0;
  }
  adv(p);
  return 1;
}
static const char *tok_text(const ps *p, uint32_t i) {
  return p->text + p->t[i].start;
}
static uint32_t tok_len(const ps *p, uint32_t i) {
  return p->t[i].len;
}

static rnode *rnew(ps *p, rk kind, uint32_t tok) {
  rnode *r = dv_arena_calloc(p->a, sizeof *r);
  r->kind = kind;
  r->tok = tok;
  return r;
}

/* Growable arena vector of rnode pointers. */
typedef struct rvec {
  rnode **v;    /* elements */
  uint32_t n;   /* used */
  uint32_t cap; /* allocated */
} rvec;
static void rvec_push(ps *p, rvec *v, rnode *r) {
  if (v->n == v->cap) {
    uint32_t cap = v->cap ? v->cap * 2 : 4;
    rnode **nv = dv_arena_alloc(p->a, cap * sizeof *nv);
    if (v->n) memcpy(nv, v->v, v->n * sizeof *nv);
    v->v = nv;
    v->cap = cap;
  }
  v->v[v->n++] = r;
}

static rnode *rop(ps *p, expr_node_kind op, uint32_t tok, rvec *kids) {
  rnode *r = rnew(p, RK_OP, tok);
  r->op = op;
  r->n = kids->n;
  r->kids = kids->v;
  return r;
}

static int enter(ps *p) {
  if (++p->depth > EXPR_MAX_NESTING) {
    fail(p);
    return 0;
  }
  return 1;
}
static void leave(ps *p) {
  p->depth--;
}

/* ---- shared grammar: paths and operands ---------------------------------------------------- */

static uint32_t tok_index_value(const ps *p, uint32_t i, int *ok) {
  uint64_t v = 0;
  const char *s = tok_text(p, i);
  for (uint32_t k = 0; k < tok_len(p, i); k++) {
    v = v * 10 + (uint64_t)(s[k] - '0');
    if (v > 0x7fffffffu) {
      *ok = 0;
      return 0;
    }
  }
  *ok = 1;
  return (uint32_t)v;
}

/* path = (NAME | NAMEREF) { "." (NAME | NAMEREF) | "[" INDEX "]" } */
static rnode *parse_path(ps *p) {
  if (cur(p) != EXPR_T_NAME && cur(p) != EXPR_T_NAMEREF) return fail(p);
  rnode *r = rnew(p, RK_PATH, p->i);
  uint32_t cap = 4, n = 0;
  uint32_t *toks = dv_arena_alloc(p->a, cap * sizeof *toks);
  toks[n++] = p->i;
  adv(p);
  for (;;) {
    uint32_t el;
    if (cur(p) == EXPR_T_DOT) {
      adv(p);
      if (cur(p) != EXPR_T_NAME && cur(p) != EXPR_T_NAMEREF) return fail(p);
      el = p->i;
      adv(p);
    } else if (cur(p) == EXPR_T_LBRACK) {
      adv(p);
      if (cur(p) != EXPR_T_NUMBER) return fail(p);
      int ok;
      tok_index_value(p, p->i, &ok);
      if (!ok) return fail(p);
      el = p->i;
      adv(p);
      if (!expect(p, EXPR_T_RBRACK)) return NULL;
    } else {
      break;
    }
    if (n == cap) {
      uint32_t *nt = dv_arena_alloc(p->a, cap * 2 * sizeof *nt);
      memcpy(nt, toks, n * sizeof *nt);
      toks = nt;
      cap *= 2;
    }
    toks[n++] = el;
  }
  r->npath = n;
  r->ptoks = toks;
  return r;
}

static rnode *parse_operand(ps *p);

/* call = NAME "(" operand { "," operand } ")" */
static rnode *parse_call(ps *p) {
  rnode *r = rnew(p, RK_CALL, p->i);
  adv(p); /* name */
  adv(p); /* ( */
  if (!enter(p)) return NULL;
  rvec args = {0};
  for (;;) {
    rnode *x = parse_operand(p);
    if (!x) return NULL;
    rvec_push(p, &args, x);
    if (cur(p) == EXPR_T_COMMA) {
      adv(p);
      continue;
    }
    break;
  }
  if (!expect(p, EXPR_T_RPAREN)) return NULL;
  leave(p);
  r->n = args.n;
  r->kids = args.v;
  if (p->kind == EXPR_UPDATE) p->ops++;
  return r;
}

/* operand = call | VALREF | path | "(" operand ")" */
static rnode *parse_operand(ps *p) {
  switch (cur(p)) {
    case EXPR_T_LPAREN: {
      adv(p);
      if (!enter(p)) return NULL;
      rnode *r = parse_operand(p);
      if (!r || !expect(p, EXPR_T_RPAREN)) return NULL;
      leave(p);
      r->parens++;
      return r;
    }
    case EXPR_T_VALREF: {
      rnode *r = rnew(p, RK_VALUE, p->i);
      adv(p);
      return r;
    }
    case EXPR_T_NAME:
      if (p->t[p->i + 1].kind == EXPR_T_LPAREN) return parse_call(p);
      return parse_path(p);
    case EXPR_T_NAMEREF:
      return parse_path(p);
    default:
      return fail(p);
  }
}

/* ---- condition grammar --------------------------------------------------------------------------- */

static rnode *parse_or(ps *p, int allow_bare);

static expr_node_kind comparator(expr__tk k) {
  switch (k) {
    case EXPR_T_EQ:
      return EXPR_EQ;
    case EXPR_T_NE:
      return EXPR_NE;
    case EXPR_T_LT:
      return EXPR_LT;
    case EXPR_T_LE:
      return EXPR_LE;
    case EXPR_T_GT:
      return EXPR_GT;
    case EXPR_T_GE:
      return EXPR_GE;
    default:
      return EXPR_NODE_KIND_COUNT;
  }
}

static int is_operand(const rnode *r) {
  return r->kind != RK_OP;
}

/* What may follow an operand in a primary: comparator, BETWEEN, IN; else
 * the operand must be a call (a condition), or, inside an ambiguous "(",
 * a bare operand closed by ")". */
static rnode *rel_tail(ps *p, rnode *lhs, int allow_bare) {
  expr_node_kind op = comparator(cur(p));
  uint32_t optok = p->i;
  rvec kids = {0};
  rvec_push(p, &kids, lhs);
  if (op != EXPR_NODE_KIND_COUNT) {
    adv(p);
    rnode *rhs = parse_operand(p);
    if (!rhs) return NULL;
    rvec_push(p, &kids, rhs);
    p->ops++;
    return rop(p, op, optok, &kids);
  }
  if (cur(p) == EXPR_T_BETWEEN) {
    adv(p);
    rnode *lo = parse_operand(p);
    if (!lo || !expect(p, EXPR_T_AND)) return NULL;
    rnode *hi = parse_operand(p);
    if (!hi) return NULL;
    rvec_push(p, &kids, lo);
    rvec_push(p, &kids, hi);
    p->ops++;
    return rop(p, EXPR_BETWEEN, optok, &kids);
  }
  if (cur(p) == EXPR_T_IN) {
    adv(p);
    if (!expect(p, EXPR_T_LPAREN)) return NULL;
    for (;;) {
      rnode *x = parse_operand(p);
      if (!x) return NULL;
      rvec_push(p, &kids, x);
      if (cur(p) == EXPR_T_COMMA) {
        adv(p);
        continue;
      }
      break;
    }
    if (!expect(p, EXPR_T_RPAREN)) return NULL;
    p->ops++;
    return rop(p, EXPR_IN, optok, &kids);
  }
  if (lhs->kind == RK_CALL) return lhs;
  if (allow_bare && cur(p) == EXPR_T_RPAREN) return lhs;
  return fail(p);
}

static rnode *parse_primary(ps *p, int allow_bare) {
  rnode *lhs;
  if (cur(p) == EXPR_T_LPAREN) {
    adv(p);
    if (!enter(p)) return NULL;
    rnode *inner = parse_or(p, 1);
    if (!inner || !expect(p, EXPR_T_RPAREN)) return NULL;
    leave(p);
    inner->parens++;
    if (!is_operand(inner)) return inner;
    lhs = inner;
  } else {
    lhs = parse_operand(p);
    if (!lhs) return NULL;
  }
  return rel_tail(p, lhs, allow_bare);
}

/* NOT chains are parsed by a loop, not by recursion: "NOT NOT ... x" costs
 * no stack however long it is (the operator limit rejects it later). */
static rnode *parse_not(ps *p, int allow_bare) {
  uint32_t nots = 0, tok = p->i;
  while (cur(p) == EXPR_T_NOT) {
    adv(p);
    nots++;
    p->ops++;
  }
  rnode *x = parse_primary(p, nots ? 0 : allow_bare);
  for (uint32_t i = 0; x && i < nots; i++) {
    rvec kids = {0};
    rvec_push(p, &kids, x);
    x = rop(p, EXPR_NOT, tok, &kids);
  }
  return x;
}

static rnode *parse_and(ps *p, int allow_bare) {
  rnode *x = parse_not(p, allow_bare);
  if (!x || cur(p) != EXPR_T_AND) return x;
  rvec kids = {0};
  rvec_push(p, &kids, x);
  uint32_t tok = p->i;
  while (cur(p) == EXPR_T_AND) {
    adv(p);
    p->ops++;
    rnode *y = parse_not(p, 0);
    if (!y) return NULL;
    rvec_push(p, &kids, y);
  }
  return rop(p, EXPR_AND, tok, &kids);
}

static rnode *parse_or(ps *p, int allow_bare) {
  rnode *x = parse_and(p, allow_bare);
  if (!x || cur(p) != EXPR_T_OR) return x;
  rvec kids = {0};
  rvec_push(p, &kids, x);
  uint32_t tok = p->i;
  while (cur(p) == EXPR_T_OR) {
    adv(p);
    p->ops++;
    rnode *y = parse_and(p, 0);
    if (!y) return NULL;
    rvec_push(p, &kids, y);
  }
  return rop(p, EXPR_OR, tok, &kids);
}

/* ---- shared checks ----------------------------------------------------------------------------------- */

typedef struct fninfo {
  const char *name;    /* as DynamoDB spells it (case-sensitive) */
  expr_node_kind kind; /* node kind */
  uint32_t arity;      /* operands */
  int boolean;         /* 1 = a condition, 0 = an operand */
} fninfo;

static const fninfo k_functions[] = {
    {"attribute_exists", EXPR_ATTR_EXISTS, 1, 1},
    {"attribute_not_exists", EXPR_ATTR_NOT_EXISTS, 1, 1},
    {"attribute_type", EXPR_ATTR_TYPE, 2, 1},
    {"begins_with", EXPR_BEGINS_WITH, 2, 1},
    {"contains", EXPR_CONTAINS, 2, 1},
    {"size", EXPR_SIZE, 1, 0},
    {"if_not_exists", EXPR_IF_NOT_EXISTS, 2, 0},
    {"list_append", EXPR_LIST_APPEND, 2, 0},
};

static const fninfo *fn_lookup(const ps *p, const rnode *r) {
  const char *s = tok_text(p, r->tok);
  uint32_t n = tok_len(p, r->tok);
  for (size_t i = 0; i < sizeof k_functions / sizeof k_functions[0]; i++)
    if (strlen(k_functions[i].name) == n && memcmp(k_functions[i].name, s, n) == 0) return &k_functions[i];
  return NULL;
}

static int verr(ps *p, const char *fmt, const char *a1, uint32_t l1) {
  return expr__error(p->err, p->kind, fmt, (int)l1, a1);
}

/* Limits after a successful parse: operators, IN operands, path depth. */
static int check_operators(ps *p) {
  if (p->ops > EXPR_MAX_OPERATORS)
    return expr__error(p->err, p->kind, "The expression contains too many operators; operator count: %u",
                       p->ops);
  return 0;
}

static int check_limits_walk(ps *p, const rnode *r) {
  if (r->kind == RK_OP && r->op == EXPR_IN && r->n > EXPR_MAX_IN_OPERANDS)
    return expr__error(p->err, p->kind,
                       "The IN operator is provided with too many operands; number of operands: %u", r->n);
  if (r->kind == RK_PATH && r->npath > EXPR_MAX_PATH_DEPTH)
    return expr__error(p->err, p->kind, "The document path has too many nesting levels; nesting levels: %u",
                       r->npath);
  for (uint32_t i = 0; i < r->n; i++)
    if (check_limits_walk(p, r->kids[i])) return -1;
  return 0;
}

static int check_redundant(ps *p, const rnode *r) {
  if (r->parens >= 2) return expr__error(p->err, p->kind, "The expression has redundant parentheses;");
  for (uint32_t i = 0; i < r->n; i++)
    if (check_redundant(p, r->kids[i])) return -1;
  return 0;
}

static int check_fn_names(ps *p, rnode *r) {
  if (r->kind == RK_CALL) {
    const fninfo *f = fn_lookup(p, r);
    if (!f) return verr(p, "Invalid function name; function: %.*s", tok_text(p, r->tok), tok_len(p, r->tok));
    r->op = f->kind;
  }
  for (uint32_t i = 0; i < r->n; i++)
    if (check_fn_names(p, r->kids[i])) return -1;
  return 0;
}

static int not_allowed(ps *p, const rnode *r) {
  return verr(p, "The function is not allowed to be used this way in an expression; function: %.*s",
              tok_text(p, r->tok), tok_len(p, r->tok));
}

/* Function misuse in conditions. as_cond: r sits where a condition goes. */
static int check_misuse_cond(ps *p, const rnode *r, int as_cond) {
  if (r->kind == RK_CALL) {
    const fninfo *f = fn_lookup(p, r);
    if (f->kind == EXPR_IF_NOT_EXISTS || f->kind == EXPR_LIST_APPEND) return not_allowed(p, r);
    if (as_cond != f->boolean) return not_allowed(p, r);
    for (uint32_t i = 0; i < r->n; i++)
      if (check_misuse_cond(p, r->kids[i], 0)) return -1;
    return 0;
  }
  if (r->kind == RK_OP) {
    int kids_cond = r->op == EXPR_AND || r->op == EXPR_OR || r->op == EXPR_NOT;
    for (uint32_t i = 0; i < r->n; i++)
      if (check_misuse_cond(p, r->kids[i], kids_cond)) return -1;
  }
  return 0;
}

static int check_reserved(ps *p, const rnode *r) {
  if (r->kind == RK_PATH) {
    for (uint32_t i = 0; i < r->npath; i++) {
      uint32_t t = r->ptoks[i];
      if (p->t[t].kind == EXPR_T_NAME && expr_is_reserved(tok_text(p, t), tok_len(p, t)))
        return verr(p, "Attribute name is a reserved keyword; reserved keyword: %.*s", tok_text(p, t),
                    tok_len(p, t));
    }
  }
  for (uint32_t i = 0; i < r->n; i++)
    if (check_reserved(p, r->kids[i])) return -1;
  return 0;
}

/* Resolves a path's #n elements (undefined #n -> error) and index values. */
static int resolve_path(ps *p, rnode *r) {
  if (r->path.elems) return 0;
  expr_path_elem *el = dv_arena_calloc(p->a, r->npath * sizeof *el);
  for (uint32_t i = 0; i < r->npath; i++) {
    uint32_t t = r->ptoks[i];
    switch (p->t[t].kind) {
      case EXPR_T_NAME:
        el[i].name = dv_arena_strndup(p->a, tok_text(p, t), tok_len(p, t));
        el[i].name_len = tok_len(p, t);
        break;
      case EXPR_T_NAMEREF: {
        const expr_name *e = expr_names_find(p->ean, tok_text(p, t), tok_len(p, t));
        if (!e)
          return verr(
              p,
              "An expression attribute name used in the document path is not defined; attribute name: %.*s",
              tok_text(p, t), tok_len(p, t));
        if (p->usage && p->usage->names_used) p->usage->names_used[e - p->ean->e] = 1;
        el[i].name = e->name;
        el[i].name_len = e->name_len;
        break;
      }
      default: {
        int ok;
        el[i].index = tok_index_value(p, t, &ok);
        break;
      }
    }
  }
  r->path.n = r->npath;
  r->path.elems = el;
  return 0;
}

static int resolve_value(ps *p, rnode *r) {
  if (r->val) return 0;
  const expr_value *e = expr_values_find(p->eav, tok_text(p, r->tok), tok_len(p, r->tok));
  if (!e)
    return verr(p, "An expression attribute value used in expression is not defined; attribute value: %.*s",
                tok_text(p, r->tok), tok_len(p, r->tok));
  if (p->usage && p->usage->values_used) p->usage->values_used[e - p->eav->e] = 1;
  r->val = &e->value;
  return 0;
}

/* Resolves references under r in source order. which: 1 names, 2 values, 3 both. */
static int resolve_refs(ps *p, rnode *r, int which) {
  if (r->kind == RK_PATH && (which & 1)) return resolve_path(p, r);
  if (r->kind == RK_VALUE && (which & 2)) return resolve_value(p, r);
  for (uint32_t i = 0; i < r->n; i++)
    if (resolve_refs(p, r->kids[i], which)) return -1;
  return 0;
}

static int check_arity(ps *p, const rnode *r) {
  if (r->kind == RK_CALL) {
    const fninfo *f = fn_lookup(p, r);
    if (r->n != f->arity)
      return expr__error(
          p->err, p->kind,
          "Incorrect number of operands for operator or function; operator or function: %.*s, number "
          "of operands: %u",
          (int)tok_len(p, r->tok), tok_text(p, r->tok), r->n);
  }
  for (uint32_t i = 0; i < r->n; i++)
    if (check_arity(p, r->kids[i])) return -1;
  return 0;
}

static int operand_type_error(ps *p, const char *op, dv_type t) {
  return expr__error(
      p->err, p->kind,
      "Incorrect operand type for operator or function; operator or function: %s, operand type: %s", op,
      dv_type_name(t));
}

static int requires_path(ps *p, const char *op) {
  return expr__error(p->err, p->kind,
                     "Operator or function requires a document path; operator or function: %s", op);
}

static const char *op_name(const ps *p, const rnode *r, char *buf, size_t cap) {
  if (r->kind == RK_CALL) {
    size_t n = tok_len(p, r->tok) < cap - 1 ? tok_len(p, r->tok) : cap - 1;
    memcpy(buf, tok_text(p, r->tok), n);
    buf[n] = '\0';
    return buf;
  }
  return expr_node_kind_name(r->op);
}

static int scalar_key_type(dv_type t) {
  return t == DV_S || t == DV_N || t == DV_B;
}

/* ---- condition checks ------------------------------------------------------------------------------ */

static int check_distinct(ps *p, const rnode *r) {
  int applies = (r->kind == RK_OP && r->op >= EXPR_EQ && r->op <= EXPR_IN) ||
                (r->kind == RK_CALL && (r->op == EXPR_BEGINS_WITH || r->op == EXPR_CONTAINS));
  if (!applies || r->n < 2 || r->kids[0]->kind != RK_PATH) return 0;
  for (uint32_t i = 1; i < r->n; i++) {
    if (r->kids[i]->kind == RK_PATH && expr__path_equal(&r->kids[0]->path, &r->kids[i]->path)) {
      char buf[32];
      char *path = expr_path_render(&r->kids[0]->path);
      expr__error(
          p->err, p->kind,
          "The first operand must be distinct from the remaining operands for this operator or function; "
          "operator: %s, first operand: %s",
          op_name(p, r, buf, sizeof buf), path);
      free(path);
      return -1;
    }
  }
  return 0;
}

static int between_bounds(ps *p, const dv_value *lo, const dv_value *hi) {
  if (lo->type != hi->type || dv_compare(lo, hi) > 0) {
    char *l = expr__value_render(lo), *h = expr__value_render(hi);
    if (lo->type != hi->type)
      expr__error(
          p->err, p->kind,
          "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: "
          "AttributeValue: %s, upper bound operand: AttributeValue: %s",
          l, h);
    else
      expr__error(
          p->err, p->kind,
          "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound "
          "operand: AttributeValue: %s, upper bound operand: AttributeValue: %s",
          l, h);
    free(l);
    free(h);
    return -1;
  }
  return 0;
}

/* Literal operand types, document-path requirements and BETWEEN bounds under
 * r, pre-order. */
static int check_types(ps *p, const rnode *r) {
  char buf[32];
  if (r->kind == RK_OP) {
    const char *name = expr_node_kind_name(r->op);
    switch (r->op) {
      case EXPR_LT:
      case EXPR_LE:
      case EXPR_GT:
      case EXPR_GE:
      case EXPR_BETWEEN:
        for (uint32_t i = 0; i < r->n; i++)
          if (r->kids[i]->kind == RK_VALUE && !scalar_key_type(r->kids[i]->val->type))
            return operand_type_error(p, name, r->kids[i]->val->type);
        if (r->op == EXPR_BETWEEN && r->kids[1]->kind == RK_VALUE && r->kids[2]->kind == RK_VALUE &&
            between_bounds(p, r->kids[1]->val, r->kids[2]->val))
          return -1;
        break;
      case EXPR_PLUS:
      case EXPR_MINUS:
        for (uint32_t i = 0; i < r->n; i++)
          if (r->kids[i]->kind == RK_VALUE && r->kids[i]->val->type != DV_N)
            return operand_type_error(p, name, r->kids[i]->val->type);
        break;
      default:
        break;
    }
  } else if (r->kind == RK_CALL) {
    const char *name = op_name(p, r, buf, sizeof buf);
    const rnode *a0 = r->kids[0], *a1 = r->n > 1 ? r->kids[1] : NULL;
    switch (r->op) {
      case EXPR_ATTR_EXISTS:
      case EXPR_ATTR_NOT_EXISTS:
        if (a0->kind != RK_PATH) return requires_path(p, name);
        break;
      case EXPR_ATTR_TYPE:
        if (a0->kind != RK_PATH) return requires_path(p, name);
        if (a1->kind != RK_VALUE) return requires_path(p, name); /* unverified wording */
        if (a1->val->type != DV_S) return operand_type_error(p, name, a1->val->type);
        if (dv_type_from_name(a1->val->u.bytes, a1->val->n) == DV_NONE)
          return expr__error(
              p->err, p->kind,
              "Invalid attribute type name found; type: %.*s, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
              (int)a1->val->n, a1->val->u.bytes);
        break;
      case EXPR_BEGINS_WITH:
        for (uint32_t i = 0; i < r->n; i++)
          if (r->kids[i]->kind == RK_VALUE && r->kids[i]->val->type != DV_S && r->kids[i]->val->type != DV_B)
            return operand_type_error(p, name, r->kids[i]->val->type);
        break;
      case EXPR_SIZE:
        if (a0->kind == RK_VALUE &&
            (a0->val->type == DV_N || a0->val->type == DV_BOOL || a0->val->type == DV_NULL))
          return operand_type_error(p, name, a0->val->type);
        break;
      case EXPR_LIST_APPEND:
        for (uint32_t i = 0; i < r->n; i++)
          if (r->kids[i]->kind == RK_VALUE && r->kids[i]->val->type != DV_L)
            return operand_type_error(p, name, r->kids[i]->val->type);
        break;
      case EXPR_IF_NOT_EXISTS:
        if (a0->kind != RK_PATH) return requires_path(p, name);
        break;
      default:
        break;
    }
  }
  for (uint32_t i = 0; i < r->n; i++)
    if (check_types(p, r->kids[i])) return -1;
  return 0;
}

static int is_primitive(const rnode *r) {
  return !(r->kind == RK_OP && (r->op == EXPR_AND || r->op == EXPR_OR || r->op == EXPR_NOT));
}

/* Step 6 for Condition / Filter: each primitive condition in source order. */
static int check_primitives(ps *p, rnode *r) {
  if (!is_primitive(r)) {
    for (uint32_t i = 0; i < r->n; i++)
      if (check_primitives(p, r->kids[i])) return -1;
    return 0;
  }
  if (resolve_refs(p, r, 3) || check_arity(p, r) || check_distinct(p, r) || check_types(p, r)) return -1;
  return 0;
}

/* ---- KeyConditionExpression structure (expressions.md 8) ------------------------------------------- */

static int kc_error(ps *p, const char *fmt, const char *a1, uint32_t l1) {
  return p_error_set(p->err, P_VALIDATION, fmt, (int)l1, a1);
}

/* Operators and functions a key condition may not use. as_cond as above. */
static int kc_check_ops(ps *p, const rnode *r, int as_cond) {
  if (r->kind == RK_OP) {
    if (r->op == EXPR_OR || r->op == EXPR_NOT || r->op == EXPR_IN || r->op == EXPR_NE)
      return p_error_set(p->err, P_VALIDATION, "Invalid operator used in KeyConditionExpression: %s",
                         expr_node_kind_name(r->op));
    int kids_cond = r->op == EXPR_AND;
    for (uint32_t i = 0; i < r->n; i++)
      if (kc_check_ops(p, r->kids[i], kids_cond)) return -1;
    return 0;
  }
  if (r->kind == RK_CALL) {
    if (r->op == EXPR_BEGINS_WITH && as_cond) {
      for (uint32_t i = 0; i < r->n; i++)
        if (kc_check_ops(p, r->kids[i], 0)) return -1;
      return 0;
    }
    if (r->op == EXPR_SIZE || !as_cond || r->op == EXPR_BEGINS_WITH)
      return p_error_set(p->err, P_VALIDATION, "KeyConditionExpressions cannot contain nested operations");
    return kc_error(p, "Invalid operator used in KeyConditionExpression: %.*s", tok_text(p, r->tok),
                    tok_len(p, r->tok));
  }
  return 0;
}

#define KC_INVALID_COND "Invalid condition in KeyConditionExpression: "

/* One key condition clause: references, operand count, shape, literal types. */
static int kc_clause(ps *p, rnode *r) {
  if (resolve_refs(p, r, 3) || check_arity(p, r)) return -1;
  uint32_t npaths = 0;
  for (uint32_t i = 0; i < r->n; i++) npaths += r->kids[i]->kind == RK_PATH;
  int fn = r->kind == RK_CALL;
  const char *name = fn ? "begins_with" : expr_node_kind_name(r->op);
  if ((r->op == EXPR_BETWEEN || fn) && r->kids[0]->kind != RK_PATH)
    return p_error_set(p->err, P_VALIDATION,
                       KC_INVALID_COND "%s operator must have the key attribute as its first operand", name);
  if (npaths > 1)
    return p_error_set(p->err, P_VALIDATION,
                       KC_INVALID_COND "Multiple attribute names used in one condition");
  if (npaths == 0) return p_error_set(p->err, P_VALIDATION, KC_INVALID_COND "No key attribute specified");
  for (uint32_t i = 0; i < r->n; i++)
    if (r->kids[i]->kind == RK_PATH && r->kids[i]->npath > 1)
      return expr__error(p->err, p->kind,
                         "KeyConditionExpressions cannot have conditions on nested attributes");
  if (fn) {
    const dv_value *v = r->kids[1]->val;
    if (v->type != DV_S && v->type != DV_B) return operand_type_error(p, name, v->type);
    return 0;
  }
  if (r->op != EXPR_EQ) {
    char opbuf[8];
    uint32_t l = tok_len(p, r->tok) < 7 ? tok_len(p, r->tok) : 7;
    memcpy(opbuf, tok_text(p, r->tok), l);
    opbuf[l] = '\0';
    if (r->op == EXPR_BETWEEN) strcpy(opbuf, "BETWEEN");
    for (uint32_t i = 0; i < r->n; i++)
      if (r->kids[i]->kind == RK_VALUE && !scalar_key_type(r->kids[i]->val->type))
        return operand_type_error(p, opbuf, r->kids[i]->val->type);
    if (r->op == EXPR_BETWEEN && between_bounds(p, r->kids[1]->val, r->kids[2]->val)) return -1;
  }
  return 0;
}

static int kc_clauses(ps *p, rnode *r, rnode ***seen, uint32_t *nseen) {
  if (r->kind == RK_OP && r->op == EXPR_AND) {
    for (uint32_t i = 0; i < r->n; i++)
      if (kc_clauses(p, r->kids[i], seen, nseen)) return -1;
    return 0;
  }
  if (kc_clause(p, r)) return -1;
  (*seen)[(*nseen)++] = r;
  return 0;
}

static const rnode *kc_path(const rnode *r) {
  for (uint32_t i = 0; i < r->n; i++)
    if (r->kids[i]->kind == RK_PATH) return r->kids[i];
  return NULL;
}

static int kc_check(ps *p, rnode *root) {
  rnode **clauses = dv_arena_alloc(p->a, (p->nt + 1) * sizeof *clauses);
  uint32_t n = 0;
  if (kc_clauses(p, root, &clauses, &n)) return -1;
  for (uint32_t j = 1; j < n; j++)
    for (uint32_t i = 0; i < j; i++) {
      const expr_path_elem *x = &kc_path(clauses[i])->path.elems[0], *y = &kc_path(clauses[j])->path.elems[0];
      if (x->name_len == y->name_len && memcmp(x->name, y->name, x->name_len) == 0)
        return expr__error(p->err, p->kind,
                           "KeyConditionExpressions must only contain one condition per key");
    }
  return 0;
}

/* ---- building the resolved tree ------------------------------------------------------------------------ */

static expr_node *build(ps *p, const rnode *r) {
  expr_node *x;
  switch (r->kind) {
    case RK_PATH:
      x = expr_node_new(p->a, EXPR_PATH, 0, NULL);
      x->path = r->path;
      return x;
    case RK_VALUE:
      x = expr_node_value(p->a, r->val);
      x->ref = dv_arena_strndup(p->a, tok_text(p, r->tok), tok_len(p, r->tok));
      return x;
    case RK_CALL:
    case RK_OP:
      break;
  }
  expr_node **kids = dv_arena_alloc(p->a, (r->n ? r->n : 1) * sizeof *kids);
  for (uint32_t i = 0; i < r->n; i++) kids[i] = build(p, r->kids[i]);
  x = expr_node_new(p->a, r->op, r->n, kids);
  if (x->kind == EXPR_ATTR_TYPE) x->type = dv_type_from_name(r->kids[1]->val->u.bytes, r->kids[1]->val->n);
  return x;
}

/* ---- entry points
 * ------------------------------------------------------------------------------------------ */

static int start(ps *p, const char *text, size_t len, expr_kind kind, const expr_names *ean,
                 const expr_values *eav, expr_usage *usage, dv_arena *a, p_error *err) {
  memset(p, 0, sizeof *p);
  p->text = text;
  p->kind = kind;
  p->a = a;
  p->err = err;
  p->ean = ean;
  p->eav = eav;
  p->usage = usage;
  if (len == 0) return expr__error(err, kind, "The expression can not be empty;");
  if (len > EXPR_MAX_SIZE)
    return expr__error(err, kind,
                       "Expression size has exceeded the maximum allowed size; expression size: %zu", len);
  p->t = expr__lex(text, len, kind, a, &p->nt);
  return 0;
}

static int syntax_fail(ps *p) {
  return expr__syntax_error(p->text, p->t, p->nt, p->err_tok, p->kind, p->err);
}

int expr_parse_condition(const char *text, size_t len, expr_kind kind, const expr_names *ean,
                         const expr_values *eav, expr_usage *usage, dv_arena *a, expr_node **out,
                         p_error *err) {
  ps p;
  *out = NULL;
  if (start(&p, text, len, kind, ean, eav, usage, a, err)) return -1;
  rnode *root = parse_or(&p, 0);
  if (root && cur(&p) != EXPR_T_EOF) fail(&p);
  if (p.failed) return syntax_fail(&p);
  if (check_operators(&p) || check_limits_walk(&p, root) || check_redundant(&p, root) ||
      check_fn_names(&p, root))
    return -1;
  if (kind == EXPR_KEY_CONDITION) {
    if (kc_check_ops(&p, root, 1) || check_reserved(&p, root) || kc_check(&p, root)) return -1;
  } else {
    if (check_misuse_cond(&p, root, 1) || check_reserved(&p, root) || check_primitives(&p, root)) return -1;
  }
  *out = build(&p, root);
  return 0;
}

/* ---- UpdateExpression
 * ----------------------------------------------------------------------------------------- */

/* set-expr = operand [ ("+" | "-") operand ] */
static rnode *parse_set_expr(ps *p) {
  rnode *x = parse_operand(p);
  if (!x) return NULL;
  if (cur(p) == EXPR_T_PLUS || cur(p) == EXPR_T_MINUS) {
    expr_node_kind op = cur(p) == EXPR_T_PLUS ? EXPR_PLUS : EXPR_MINUS;
    uint32_t tok = p->i;
    adv(p);
    rnode *y = parse_operand(p);
    if (!y) return NULL;
    rvec kids = {0};
    rvec_push(p, &kids, x);
    rvec_push(p, &kids, y);
    p->ops++;
    return rop(p, op, tok, &kids);
  }
  return x;
}

/* set-value = "(" set-expr ")" | set-expr; "(x) + y" is an operand in
 * parentheses followed by an operator, so an ambiguous "(" holding a
 * single operand continues as a set-expr. */
static rnode *parse_set_value(ps *p) {
  if (cur(p) != EXPR_T_LPAREN) return parse_set_expr(p);
  adv(p);
  if (!enter(p)) return NULL;
  rnode *inner = parse_set_expr(p);
  if (!inner || !expect(p, EXPR_T_RPAREN)) return NULL;
  leave(p);
  inner->parens++;
  if (inner->kind == RK_OP) return inner;
  if (cur(p) == EXPR_T_PLUS || cur(p) == EXPR_T_MINUS) {
    expr_node_kind op = cur(p) == EXPR_T_PLUS ? EXPR_PLUS : EXPR_MINUS;
    uint32_t tok = p->i;
    adv(p);
    rnode *y = parse_operand(p);
    if (!y) return NULL;
    rvec kids = {0};
    rvec_push(p, &kids, inner);
    rvec_push(p, &kids, y);
    p->ops++;
    return rop(p, op, tok, &kids);
  }
  return inner;
}

static int clause_kind(expr__tk k, expr_action_kind *out) {
  switch (k) {
    case EXPR_T_SET:
      *out = EXPR_ACT_SET;
      return 1;
    case EXPR_T_REMOVE:
      *out = EXPR_ACT_REMOVE;
      return 1;
    case EXPR_T_ADD:
      *out = EXPR_ACT_ADD;
      return 1;
    case EXPR_T_DELETE:
      *out = EXPR_ACT_DELETE;
      return 1;
    default:
      return 0;
  }
}

static const char *const k_clause_names[] = {"SET", "REMOVE", "ADD", "DELETE"};

/* The update's raw actions; NULL on a syntax error. */
static raction *parse_update_raw(ps *p, uint32_t *nact) {
  uint32_t cap = 8, n = 0;
  raction *acts = dv_arena_alloc(p->a, cap * sizeof *acts);
  do {
    expr_action_kind k;
    if (!clause_kind(cur(p), &k)) return fail(p);
    uint32_t ctok = p->i;
    adv(p);
    for (;;) {
      raction act = {k, ctok, NULL, NULL};
      act.path = parse_path(p);
      if (!act.path) return NULL;
      if (k == EXPR_ACT_SET) {
        if (!expect(p, EXPR_T_EQ)) return NULL;
        act.value = parse_set_value(p);
        if (!act.value) return NULL;
      } else if (k == EXPR_ACT_ADD || k == EXPR_ACT_DELETE) {
        if (cur(p) != EXPR_T_VALREF) return fail(p);
        act.value = rnew(p, RK_VALUE, p->i);
        adv(p);
      }
      if (n == cap) {
        raction *na = dv_arena_alloc(p->a, cap * 2 * sizeof *na);
        memcpy(na, acts, n * sizeof *na);
        acts = na;
        cap *= 2;
      }
      acts[n++] = act;
      if (cur(p) != EXPR_T_COMMA) break;
      adv(p);
    }
  } while (cur(p) != EXPR_T_EOF);
  *nact = n;
  return acts;
}

/* Function misuse in an update SET value. in_append: inside list_append. */
static int check_misuse_update(ps *p, const rnode *r, int in_append) {
  if (r->kind == RK_CALL) {
    if (r->op != EXPR_IF_NOT_EXISTS && r->op != EXPR_LIST_APPEND) return not_allowed(p, r);
    if (r->op == EXPR_LIST_APPEND && in_append) return not_allowed(p, r);
    in_append = in_append || r->op == EXPR_LIST_APPEND;
  }
  for (uint32_t i = 0; i < r->n; i++)
    if (check_misuse_update(p, r->kids[i], in_append)) return -1;
  return 0;
}

int expr_parse_update(const char *text, size_t len, const expr_names *ean, const expr_values *eav,
                      expr_usage *usage, dv_arena *a, expr_update **out, p_error *err) {
  ps p;
  *out = NULL;
  if (start(&p, text, len, EXPR_UPDATE, ean, eav, usage, a, err)) return -1;
  uint32_t n = 0;
  raction *acts = parse_update_raw(&p, &n);
  if (p.failed) return syntax_fail(&p);
  /* limits */
  if (check_operators(&p)) return -1;
  for (uint32_t i = 0; i < n; i++)
    if (check_limits_walk(&p, acts[i].path) || (acts[i].value && check_limits_walk(&p, acts[i].value)))
      return -1;
  /* reserved words, in source order */
  for (uint32_t i = 0; i < n; i++)
    if (check_reserved(&p, acts[i].path) || (acts[i].value && check_reserved(&p, acts[i].value))) return -1;
  /* function names, then their misuse */
  for (uint32_t i = 0; i < n; i++)
    if (acts[i].value && check_fn_names(&p, acts[i].value)) return -1;
  for (uint32_t i = 0; i < n; i++)
    if (acts[i].kind == EXPR_ACT_SET && check_misuse_update(&p, acts[i].value, 0)) return -1;
  /* repeated sections */
  int seen[4] = {0};
  uint32_t last_clause = UINT32_MAX;
  for (uint32_t i = 0; i < n; i++) {
    if (acts[i].clause_tok == last_clause) continue;
    last_clause = acts[i].clause_tok;
    if (seen[acts[i].kind])
      return expr__error(err, EXPR_UPDATE,
                         "The \"%s\" section can only be used once in an update expression;",
                         k_clause_names[acts[i].kind]);
    seen[acts[i].kind] = 1;
  }
  /* undefined #n, then undefined :v */
  for (uint32_t i = 0; i < n; i++)
    if (resolve_refs(&p, acts[i].path, 1) || (acts[i].value && resolve_refs(&p, acts[i].value, 1))) return -1;
  for (uint32_t i = 0; i < n; i++)
    if (acts[i].value && resolve_refs(&p, acts[i].value, 2)) return -1;
  /* overlap / conflict of the targets */
  const expr_path **paths = dv_arena_alloc(a, (n ? n : 1) * sizeof *paths);
  for (uint32_t i = 0; i < n; i++) paths[i] = &acts[i].path->path;
  if (expr__paths_check(paths, n, EXPR_UPDATE, err)) return -1;
  /* ADD / DELETE literal types */
  for (uint32_t i = 0; i < n; i++) {
    if (acts[i].kind != EXPR_ACT_ADD && acts[i].kind != EXPR_ACT_DELETE) continue;
    dv_type t = acts[i].value->val->type;
    int ok = t == DV_SS || t == DV_NS || t == DV_BS || (acts[i].kind == EXPR_ACT_ADD && t == DV_N);
    if (!ok)
      return expr__error(err, EXPR_UPDATE,
                         "Incorrect operand type for operator or function; operator: %s, operand type: %s",
                         k_clause_names[acts[i].kind], expr__long_type_name(t));
  }
  /* function operand counts, types, paths */
  for (uint32_t i = 0; i < n; i++)
    if (acts[i].kind == EXPR_ACT_SET && (check_arity(&p, acts[i].value) || check_types(&p, acts[i].value)))
      return -1;
  expr_update *u = dv_arena_calloc(a, sizeof *u);
  u->n = n;
  u->actions = dv_arena_calloc(a, (n ? n : 1) * sizeof *u->actions);
  for (uint32_t i = 0; i < n; i++) {
    u->actions[i].kind = acts[i].kind;
    u->actions[i].path = acts[i].path->path;
    u->actions[i].value = acts[i].value ? build(&p, acts[i].value) : NULL;
  }
  *out = u;
  return 0;
}

/* ---- ProjectionExpression
 * ----------------------------------------------------------------------------------- */

int expr_parse_projection(const char *text, size_t len, const expr_names *ean, expr_usage *usage, dv_arena *a,
                          expr_projection **out, p_error *err) {
  ps p;
  *out = NULL;
  if (start(&p, text, len, EXPR_PROJECTION, ean, NULL, usage, a, err)) return -1;
  rvec paths = {0};
  for (;;) {
    rnode *r = parse_path(&p);
    if (!r) break;
    rvec_push(&p, &paths, r);
    if (cur(&p) != EXPR_T_COMMA) break;
    adv(&p);
  }
  if (!p.failed && cur(&p) != EXPR_T_EOF) fail(&p);
  if (p.failed) return syntax_fail(&p);
  for (uint32_t i = 0; i < paths.n; i++)
    if (check_limits_walk(&p, paths.v[i])) return -1;
  for (uint32_t i = 0; i < paths.n; i++)
    if (check_reserved(&p, paths.v[i])) return -1;
  for (uint32_t i = 0; i < paths.n; i++)
    if (resolve_path(&p, paths.v[i])) return -1;
  const expr_path **pp = dv_arena_alloc(a, paths.n * sizeof *pp);
  for (uint32_t i = 0; i < paths.n; i++) pp[i] = &paths.v[i]->path;
  if (expr__paths_check(pp, paths.n, EXPR_PROJECTION, err)) return -1;
  expr_projection *pr = dv_arena_calloc(a, sizeof *pr);
  pr->n = paths.n;
  pr->paths = dv_arena_alloc(a, paths.n * sizeof *pr->paths);
  for (uint32_t i = 0; i < paths.n; i++) pr->paths[i] = paths.v[i]->path;
  *out = pr;
  return 0;
}
