/*
 * expr_eval.c -- condition / filter evaluation and projection
 * (shared/spec/expressions.md 5 and 7) over the resolved trees of expr.h.
 *
 * Conditions: operands evaluate to a borrowed dv_value or to "no value"
 * (NULL: a path that does not resolve, size() of a value without a size).
 * Every comparison with a missing operand or operands of different types is
 * false, except <>, which is then true; nothing here raises an error, since
 * the parser already rejected every literal DynamoDB rejects.
 *
 * Projection: the requested paths are merged into a small tree keyed by
 * name / list index (a leaf takes the whole value there), then the tree is
 * walked over the item, copying what resolves into a fresh document of the
 * same shape: list elements compacted in ascending index order, containers
 * with nothing resolved under them left out. The same walk builds the
 * ReturnValues UPDATED_OLD / UPDATED_NEW maps (expr_update.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/expr_eval.h"

/* ---- paths ------------------------------------------------------------------------ */

const dv_value *expr_path_resolve(const dv_value *item, const expr_path *p) {
  const dv_value *v = item;
  for (uint32_t i = 0; v && i < p->n; i++) {
    const expr_path_elem *e = &p->elems[i];
    if (e->name) {
      if (v->type != DV_M) return NULL;
      v = dv_map_get(v, e->name, e->name_len);
    } else {
      if (v->type != DV_L || e->index >= v->n) return NULL;
      v = &v->u.elems[e->index];
    }
  }
  return v;
}

/* ---- value functions ---------------------------------------------------------------- */

/* 1 if both values are present and of one orderable type (S, N, B). */
static int orderable_pair(const dv_value *a, const dv_value *b) {
  return a && b && a->type == b->type && dv_type_is_scalar_key(a->type);
}

/* a <kind> b for the six comparators; NULL = no value. */
static int compare(expr_node_kind kind, const dv_value *a, const dv_value *b) {
  if (kind == EXPR_EQ) return a && b && dv_equal(a, b);
  if (kind == EXPR_NE) return !(a && b && dv_equal(a, b));
  if (!orderable_pair(a, b)) return 0;
  int c = dv_compare(a, b);
  switch (kind) {
  case EXPR_LT: return c < 0;
  case EXPR_LE: return c <= 0;
  case EXPR_GT: return c > 0;
  case EXPR_GE: return c >= 0;
  default: return 0;
  }
}

/* 1 if needle[0..nl) occurs in hay[0..hl) (the empty needle always does). */
static int bytes_contain(const char *hay, size_t hl, const char *needle, size_t nl) {
  if (nl == 0) return 1;
  if (nl > hl) return 0;
  for (size_t i = 0; i + nl <= hl; i++)
    if (hay[i] == needle[0] && memcmp(hay + i, needle, nl) == 0) return 1;
  return 0;
}

/* begins_with: S/S or B/B byte prefix. */
static int fn_begins_with(const dv_value *a, const dv_value *b) {
  if (!a || !b || a->type != b->type || (a->type != DV_S && a->type != DV_B)) return 0;
  return b->n <= a->n && (b->n == 0 || memcmp(a->u.bytes, b->u.bytes, b->n) == 0);
}

/* contains: S/S or B/B substring, set member of the set's element type, or
 * list element deep-equal to b (any type). Maps contain nothing. */
static int fn_contains(const dv_value *a, const dv_value *b) {
  if (!a || !b) return 0;
  switch (a->type) {
  case DV_S:
  case DV_B:
    return b->type == a->type && bytes_contain(a->u.bytes, a->n, b->u.bytes, b->n);
  case DV_SS:
  case DV_NS:
  case DV_BS:
    if (b->type != dv_set_elem_type(a->type)) return 0;
    for (uint32_t i = 0; i < a->n; i++) /* dv_equal: NS members by value */
      if (dv_equal(&a->u.elems[i], b)) return 1;
    return 0;
  case DV_L:
    for (uint32_t i = 0; i < a->n; i++)
      if (dv_equal(&a->u.elems[i], b)) return 1;
    return 0;
  default:
    return 0;
  }
}

/* UTF-16 code units of UTF-8 text: one per code point, two for code points
 * above U+FFFF (the 4-byte sequences, lead bytes 0xF0..0xF7). */
static size_t utf16_units(const char *s, size_t n) {
  size_t units = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c & 0xC0) != 0x80) units++;
    if (c >= 0xF0) units++;
  }
  return units;
}

/* Scratch storage for one computed operand (size()). */
typedef struct opval {
  dv_value v;   /* the computed number */
  char buf[24]; /* its text */
} opval;

/* size(v) into s->v; NULL if v has no size (missing, N, BOOL, NULL). */
static const dv_value *fn_size(const dv_value *v, opval *s) {
  size_t sz;
  if (!v) return NULL;
  switch (v->type) {
  case DV_S: sz = utf16_units(v->u.bytes, v->n); break;
  case DV_B:
  case DV_SS:
  case DV_NS:
  case DV_BS:
  case DV_L:
  case DV_M: sz = v->n; break;
  default: return NULL;
  }
  int len = snprintf(s->buf, sizeof s->buf, "%zu", sz);
  memset(&s->v, 0, sizeof s->v);
  s->v.type = DV_N;
  s->v.n = (uint32_t)len;
  s->v.u.bytes = s->buf;
  return &s->v;
}

/* ---- conditions ------------------------------------------------------------------- */

/* Value of a condition operand (PATH, VALUE, size()); NULL = no value. s
 * holds a computed result. */
static const dv_value *operand(const expr_node *n, const dv_value *item, opval *s) {
  switch (n->kind) {
  case EXPR_PATH: return expr_path_resolve(item, &n->path);
  case EXPR_VALUE: return n->value;
  case EXPR_SIZE: return n->n == 1 ? fn_size(operand(n->kids[0], item, s), s) : NULL;
  default: return NULL; /* update-only operands never reach a condition (parser) */
  }
}

static int eval(const expr_node *n, const dv_value *item) {
  opval s0, s1, s2;
  switch (n->kind) {
  case EXPR_EQ:
  case EXPR_NE:
  case EXPR_LT:
  case EXPR_LE:
  case EXPR_GT:
  case EXPR_GE:
    return compare(n->kind, operand(n->kids[0], item, &s0), operand(n->kids[1], item, &s1));
  case EXPR_BETWEEN: {
    const dv_value *v = operand(n->kids[0], item, &s0);
    const dv_value *lo = operand(n->kids[1], item, &s1);
    const dv_value *hi = operand(n->kids[2], item, &s2);
    return orderable_pair(v, lo) && orderable_pair(v, hi) && dv_compare(lo, v) <= 0 &&
           dv_compare(v, hi) <= 0;
  }
  case EXPR_IN: {
    const dv_value *v = operand(n->kids[0], item, &s0);
    if (!v) return 0;
    for (uint32_t i = 1; i < n->n; i++) {
      const dv_value *w = operand(n->kids[i], item, &s1);
      if (w && dv_equal(v, w)) return 1;
    }
    return 0;
  }
  case EXPR_AND:
    for (uint32_t i = 0; i < n->n; i++)
      if (!eval(n->kids[i], item)) return 0;
    return 1;
  case EXPR_OR:
    for (uint32_t i = 0; i < n->n; i++)
      if (eval(n->kids[i], item)) return 1;
    return 0;
  case EXPR_NOT:
    return !eval(n->kids[0], item);
  case EXPR_ATTR_EXISTS:
    return operand(n->kids[0], item, &s0) != NULL;
  case EXPR_ATTR_NOT_EXISTS:
    return operand(n->kids[0], item, &s0) == NULL;
  case EXPR_ATTR_TYPE: {
    const dv_value *v = operand(n->kids[0], item, &s0);
    return v && v->type == n->type;
  }
  case EXPR_BEGINS_WITH:
    return fn_begins_with(operand(n->kids[0], item, &s0), operand(n->kids[1], item, &s1));
  case EXPR_CONTAINS:
    return fn_contains(operand(n->kids[0], item, &s0), operand(n->kids[1], item, &s1));
  default:
    return 0; /* an operand used as a condition: the parser rejects it */
  }
}

int expr_eval_condition(const expr_node *cond, const dv_value *item, int *result, p_error *err) {
  static const dv_value empty = {.type = DV_M, .n = 0, .u.attrs = NULL};
  (void)err;
  *result = cond ? eval(cond, item ? item : &empty) : 1;
  return 0;
}

int expr_matches(const expr_node *cond, const dv_value *item) {
  int r = 0;
  p_error err;
  p_error_init(&err);
  if (expr_eval_condition(cond, item, &r, &err) != 0) r = 0;
  p_error_clear(&err);
  return r;
}

/* ---- projection ------------------------------------------------------------------- */

/* One step of the merged projection tree. */
typedef struct proj_node proj_node;
struct proj_node {
  const expr_path_elem *elem; /* the step leading here from the parent (NULL at the root) */
  int leaf;                   /* 1: the whole value here is projected (children ignored) */
  uint32_t n;                 /* children in use */
  uint32_t cap;               /* children allocated */
  proj_node **kids;           /* children (malloc'd) */
};

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    fprintf(stderr, "dynafile: out of memory\n");
    abort();
  }
  return q;
}

int expr_path_elem_equal(const expr_path_elem *x, const expr_path_elem *y) {
  if (!x->name || !y->name) return !x->name && !y->name && x->index == y->index;
  return x->name_len == y->name_len && memcmp(x->name, y->name, x->name_len) == 0;
}

static proj_node *proj_child(proj_node *nd, const expr_path_elem *e) {
  for (uint32_t i = 0; i < nd->n; i++)
    if (expr_path_elem_equal(nd->kids[i]->elem, e)) return nd->kids[i];
  if (nd->n == nd->cap) {
    nd->cap = nd->cap ? nd->cap * 2 : 4;
    nd->kids = xrealloc(nd->kids, sizeof(proj_node *) * nd->cap);
  }
  proj_node *k = xrealloc(NULL, sizeof *k);
  memset(k, 0, sizeof *k);
  k->elem = e;
  nd->kids[nd->n++] = k;
  return k;
}

static void proj_free(proj_node *nd) {
  for (uint32_t i = 0; i < nd->n; i++) {
    proj_free(nd->kids[i]);
    free(nd->kids[i]);
  }
  free(nd->kids);
}

static int index_kid_cmp(const void *x, const void *y) {
  const proj_node *a = *(proj_node *const *)x, *b = *(proj_node *const *)y;
  return a->elem->index < b->elem->index ? -1 : a->elem->index > b->elem->index;
}

/* Projects v through nd into *out; 1 if anything resolved. */
static int proj_apply(proj_node *nd, const dv_value *v, dv_arena *a, dv_value *out) {
  if (nd->leaf) {
    *out = dv_clone(a, v);
    return 1;
  }
  memset(out, 0, sizeof *out);
  if (v->type == DV_M) {
    dv_attr *attrs = dv_arena_alloc(a, sizeof(dv_attr) * (nd->n ? nd->n : 1));
    uint32_t cnt = 0;
    for (uint32_t i = 0; i < nd->n; i++) {
      const expr_path_elem *e = nd->kids[i]->elem;
      if (!e->name) continue;
      const dv_value *child = dv_map_get(v, e->name, e->name_len);
      if (!child || !proj_apply(nd->kids[i], child, a, &attrs[cnt].value)) continue;
      attrs[cnt].name = dv_arena_strndup(a, e->name, e->name_len);
      attrs[cnt].name_len = e->name_len;
      cnt++;
    }
    out->type = DV_M;
    out->n = cnt;
    out->u.attrs = attrs;
    dv_map_sort(out);
    return cnt > 0;
  }
  if (v->type == DV_L) {
    qsort(nd->kids, nd->n, sizeof(proj_node *), index_kid_cmp);
    dv_value *elems = dv_arena_alloc(a, sizeof(dv_value) * (nd->n ? nd->n : 1));
    uint32_t cnt = 0;
    for (uint32_t i = 0; i < nd->n; i++) {
      const expr_path_elem *e = nd->kids[i]->elem;
      if (e->name || e->index >= v->n) continue;
      if (proj_apply(nd->kids[i], &v->u.elems[e->index], a, &elems[cnt])) cnt++;
    }
    out->type = DV_L;
    out->n = cnt;
    out->u.elems = elems;
    return cnt > 0;
  }
  return 0;
}

dv_value expr_project(const dv_value *item, const expr_path *paths, size_t n, dv_arena *a) {
  static const dv_value empty = {.type = DV_M, .n = 0, .u.attrs = NULL};
  proj_node root;
  memset(&root, 0, sizeof root);
  for (size_t i = 0; i < n; i++) {
    proj_node *nd = &root;
    for (uint32_t k = 0; k < paths[i].n && !nd->leaf; k++) nd = proj_child(nd, &paths[i].elems[k]);
    nd->leaf = 1;
  }
  dv_value out;
  /* The root is a map step over the item; a path of zero elements (never
   * produced by the parser) would make it a leaf: the whole item. */
  if (!proj_apply(&root, item ? item : &empty, a, &out) && out.type != DV_M) {
    out = empty;
  }
  proj_free(&root);
  return out;
}
