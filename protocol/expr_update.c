/*
 * expr_update.c -- applying an UpdateExpression (or legacy AttributeUpdates)
 * to an item: shared/spec/expressions.md 6 and operations.md 5.2.
 *
 * DynamoDB's processing model, which this file follows step by step:
 *   1. key attributes may not be written (checked first, needs the schema);
 *   2. every SET right-hand side is evaluated against the PRE-update item
 *      (so "SET x = :v, y = x" reads the old x, "REMOVE a SET b = a" copies
 *      the old a);
 *   3. the actions are applied; list indexes in every action name
 *      PRE-update positions ("REMOVE a[1] SET a[3] = :v" on [2,3,4,5,6,7]
 *      gives [2,4,:v,6,7]).
 * Step 3 cannot be done action by action (each REMOVE would renumber the
 * list for the next action), so the action paths are first merged into a
 * modification tree keyed by map name / list index, and the tree is walked
 * once over the old item, building a new document: each list is rebuilt
 * from its old elements in order, consulting the actions keyed by the old
 * positions, then out-of-range SETs are appended in ascending index order.
 * The parser guarantees that no action path is a prefix of another (overlap
 * check), so an action always sits at a leaf of the tree.
 *
 * While walking, the path each written value lands at in the new item is
 * recorded (list positions after shifts and appends); with the action paths
 * as written these give ReturnValues UPDATED_NEW / UPDATED_OLD through the
 * projection walk of expr_eval.c.
 *
 * Memory: everything comes from the caller's arena; the new item is built
 * over a deep copy of the old one, so it shares nothing with the inputs.
 * The modification tree is malloc'd and freed before returning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/expr_eval.h"

#define MSG_OVERFLOW "Number overflow. Attempting to store a number with magnitude larger than supported range"
#define MSG_UNDERFLOW "Number underflow. Attempting to store a number with magnitude smaller than supported range"
#define MSG_DIGITS "Attempting to store more than 38 significant digits in a Number"
#define MSG_NESTING                                                                                \
  "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond " \
  "supported limit"
#define MAX_DEPTH 32 /* levels of a top-level attribute value, the attribute itself included */

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    fprintf(stderr, "dynafile: out of memory\n");
    abort();
  }
  return q;
}

/* ---- the modification tree ------------------------------------------------------- */

/* One step of the merged action paths. */
typedef struct mod_node mod_node;
struct mod_node {
  const expr_path_elem *elem; /* the step from the parent (NULL at the root) */
  int action;                 /* index of the action whose path ends here, -1 for an inner step */
  uint32_t n;                 /* children in use */
  uint32_t cap;               /* children allocated */
  mod_node **kids;            /* children (malloc'd) */
};

static mod_node *mod_child(mod_node *nd, const expr_path_elem *e) {
  for (uint32_t i = 0; i < nd->n; i++)
    if (expr_path_elem_equal(nd->kids[i]->elem, e)) return nd->kids[i];
  if (nd->n == nd->cap) {
    nd->cap = nd->cap ? nd->cap * 2 : 4;
    nd->kids = xrealloc(nd->kids, sizeof(mod_node *) * nd->cap);
  }
  mod_node *k = xrealloc(NULL, sizeof *k);
  memset(k, 0, sizeof *k);
  k->elem = e;
  k->action = -1;
  nd->kids[nd->n++] = k;
  return k;
}

static void mod_free(mod_node *nd) {
  for (uint32_t i = 0; i < nd->n; i++) {
    mod_free(nd->kids[i]);
    free(nd->kids[i]);
  }
  free(nd->kids);
}

static int index_kid_cmp(const void *x, const void *y) {
  const mod_node *a = *(mod_node *const *)x, *b = *(mod_node *const *)y;
  return a->elem->index < b->elem->index ? -1 : a->elem->index > b->elem->index;
}

/* ---- context -------------------------------------------------------------------- */

typedef struct upd {
  const expr_update *u;                      /* the update being applied */
  dv_arena *a;                               /* result arena */
  p_error *err;                              /* where errors go */
  dv_value *rhs;                             /* per action: the evaluated SET value */
  expr_path *landed;                         /* per action: where its value landed (n = 0: nowhere) */
  expr_path_elem prefix[EXPR_MAX_PATH_DEPTH]; /* the new-item path of the node being built */
} upd;

static int bad_path(upd *c) { return p_error_set(c->err, P_VALIDATION, "%s", EXPR_MSG_BAD_PATH); }

static int bad_type(upd *c, const expr_action *act) {
  return p_error_set(c->err, P_VALIDATION, "%s", act && act->legacy ? EXPR_MSG_LEGACY_TYPE : EXPR_MSG_BAD_TYPE);
}

static int num_error(p_error *err, int rc) {
  const char *m = rc == DV_NUM_EUNDERFLOW ? MSG_UNDERFLOW : rc == DV_NUM_EDIGITS ? MSG_DIGITS : MSG_OVERFLOW;
  return p_error_set(err, P_VALIDATION, "%s", m);
}

/* ---- value operations ------------------------------------------------------------ */

/* x + y or x - y (both DV_N) into *out; -1 with err on overflow. */
static int num_arith(const dv_value *x, const dv_value *y, int minus, dv_arena *a, dv_value *out,
                     p_error *err) {
  dv_num p, q, r;
  char buf[DV_NUM_MAXTEXT];
  dv_num_from_value(x, &p);
  dv_num_from_value(y, &q);
  int rc = minus ? dv_num_sub(&p, &q, &r) : dv_num_add(&p, &q, &r);
  if (rc != DV_NUM_OK) return num_error(err, rc);
  size_t len = dv_num_format(&r, buf);
  *out = dv_make_n_text(a, buf, len);
  return 0;
}

/* Sorted shallow copy of a set's elements (sets are normally stored sorted;
 * sorting again costs little and makes the merges below safe). */
static dv_value sorted_set(const dv_value *s, dv_arena *a) {
  dv_value c = *s;
  c.u.elems = dv_arena_alloc(a, sizeof(dv_value) * (s->n ? s->n : 1));
  if (s->n) memcpy(c.u.elems, s->u.elems, sizeof(dv_value) * s->n);
  dv_set_sort(&c, NULL);
  return c;
}

/* x ∪ y (same set type) into *out. */
static void set_union(const dv_value *x, const dv_value *y, dv_arena *a, dv_value *out) {
  dv_value p = sorted_set(x, a), q = sorted_set(y, a);
  dv_value *e = dv_arena_alloc(a, sizeof(dv_value) * ((size_t)p.n + q.n + 1));
  uint32_t i = 0, j = 0, n = 0;
  while (i < p.n || j < q.n) {
    int c = i == p.n ? 1 : j == q.n ? -1 : dv_compare(&p.u.elems[i], &q.u.elems[j]);
    if (c <= 0) {
      e[n++] = dv_clone(a, &p.u.elems[i++]);
      if (c == 0) j++;
    } else {
      e[n++] = dv_clone(a, &q.u.elems[j++]);
    }
  }
  *out = p;
  out->n = n;
  out->u.elems = e;
}

/* x \ y (same set type) into *out (possibly n = 0). */
static void set_difference(const dv_value *x, const dv_value *y, dv_arena *a, dv_value *out) {
  dv_value p = sorted_set(x, a), q = sorted_set(y, a);
  dv_value *e = dv_arena_alloc(a, sizeof(dv_value) * ((size_t)p.n + 1));
  uint32_t i = 0, j = 0, n = 0;
  while (i < p.n) {
    int c = j == q.n ? -1 : dv_compare(&p.u.elems[i], &q.u.elems[j]);
    if (c < 0)
      e[n++] = p.u.elems[i++];
    else if (c == 0)
      i++, j++;
    else
      j++;
  }
  *out = p;
  out->n = n;
  out->u.elems = e;
}

/* 1 if the sorted set s has a member equal to e (binary search). */
static int set_has(const dv_value *s, const dv_value *e) {
  uint32_t lo = 0, hi = s->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int c = dv_compare(&s->u.elems[mid], e);
    if (c == 0) return 1;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

/* x ++ y (both DV_L) into *out. */
static void list_concat(const dv_value *x, const dv_value *y, dv_arena *a, dv_value *out) {
  dv_value *e = dv_arena_alloc(a, sizeof(dv_value) * ((size_t)x->n + y->n + 1));
  for (uint32_t i = 0; i < x->n; i++) e[i] = x->u.elems[i];
  for (uint32_t i = 0; i < y->n; i++) e[x->n + i] = y->u.elems[i];
  memset(out, 0, sizeof *out);
  out->type = DV_L;
  out->n = x->n + y->n;
  out->u.elems = e;
}

static int is_set(dv_type t) { return t == DV_SS || t == DV_NS || t == DV_BS; }

/* ---- step 2: right-hand sides ------------------------------------------------------ */

/* Evaluates a SET value tree against the pre-update item into *out (values
 * of the item are borrowed from the item copy, literals are copied). */
static int rhs_eval(upd *c, const expr_action *act, const expr_node *n, const dv_value *item,
                    dv_value *out) {
  const dv_value *v;
  dv_value x, y;
  switch (n->kind) {
  case EXPR_PATH:
    v = expr_path_resolve(item, &n->path);
    if (!v) return p_error_set(c->err, P_VALIDATION, "%s", EXPR_MSG_MISSING_RHS);
    *out = *v;
    return 0;
  case EXPR_VALUE:
    *out = dv_clone(c->a, n->value);
    return 0;
  case EXPR_IF_NOT_EXISTS:
    v = n->kids[0]->kind == EXPR_PATH ? expr_path_resolve(item, &n->kids[0]->path) : NULL;
    if (v) {
      *out = *v;
      return 0;
    }
    return rhs_eval(c, act, n->kids[1], item, out);
  case EXPR_LIST_APPEND:
    if (rhs_eval(c, act, n->kids[0], item, &x) || rhs_eval(c, act, n->kids[1], item, &y)) return -1;
    if (x.type != DV_L || y.type != DV_L) return bad_type(c, act);
    list_concat(&x, &y, c->a, out);
    return 0;
  case EXPR_PLUS:
  case EXPR_MINUS:
    if (rhs_eval(c, act, n->kids[0], item, &x) || rhs_eval(c, act, n->kids[1], item, &y)) return -1;
    if (x.type != DV_N || y.type != DV_N) return bad_type(c, act);
    return num_arith(&x, &y, n->kind == EXPR_MINUS, c->a, out, c->err);
  default:
    return bad_type(c, act); /* not a SET operand: the parser never produces it */
  }
}

/* ---- step 3: applying the tree ------------------------------------------------------ */

/* Records that action k's value landed at prefix[0..depth]. */
static void land(upd *c, int k, uint32_t depth) {
  expr_path *p = &c->landed[k];
  p->n = depth + 1;
  p->elems = dv_arena_alloc(c->a, sizeof(expr_path_elem) * p->n);
  memcpy(p->elems, c->prefix, sizeof(expr_path_elem) * p->n);
}

/* The action at a leaf, on the current value cur (NULL: absent). Returns 1
 * with *out the new value, 0 when the result is "no value" (removed or
 * still absent), -1 on error. */
static int apply_leaf(upd *c, const mod_node *nd, const dv_value *cur, uint32_t depth, dv_value *out) {
  const expr_action *act = &c->u->actions[nd->action];
  const dv_value *val = act->value && act->value->kind == EXPR_VALUE ? act->value->value : NULL;
  switch (act->kind) {
  case EXPR_ACT_SET:
    *out = c->rhs[nd->action];
    break;
  case EXPR_ACT_REMOVE:
    return 0;
  case EXPR_ACT_ADD:
    if (!val) return bad_type(c, act);
    if (!cur) {
      *out = dv_clone(c->a, val);
    } else if (cur->type == DV_N && val->type == DV_N) {
      if (num_arith(cur, val, 0, c->a, out, c->err)) return -1;
    } else if (is_set(cur->type) && cur->type == val->type) {
      set_union(cur, val, c->a, out);
    } else if (act->legacy && cur->type == DV_L && val->type == DV_L) {
      dv_value copy = dv_clone(c->a, val);
      list_concat(cur, &copy, c->a, out);
    } else {
      return bad_type(c, act);
    }
    break;
  case EXPR_ACT_DELETE:
    if (!val) return bad_type(c, act);
    if (!cur) return 0;
    if (!is_set(cur->type) || cur->type != val->type) return bad_type(c, act);
    set_difference(cur, val, c->a, out);
    if (out->n == 0) return 0;
    break;
  default:
    return bad_type(c, act);
  }
  land(c, nd->action, depth);
  return 1;
}

static int apply_inner(upd *c, mod_node *nd, const dv_value *cur, uint32_t depth, dv_value *out);

/* Index of the attribute called name in the sorted map m; m->n if absent. */
static uint32_t map_index(const dv_value *m, const char *name, uint32_t len) {
  uint32_t lo = 0, hi = m->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    const dv_attr *at = &m->u.attrs[mid];
    size_t k = at->name_len < len ? at->name_len : len;
    int c = k ? memcmp(at->name, name, k) : 0;
    if (c == 0) c = at->name_len < len ? -1 : at->name_len > len;
    if (c == 0) return mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return m->n;
}

/* The children of nd applied to the map m (prefix[depth] is where they go). */
static int apply_map(upd *c, mod_node *nd, const dv_value *m, uint32_t depth, dv_value *out) {
  if (depth >= EXPR_MAX_PATH_DEPTH) return bad_path(c);
  dv_attr *attrs = dv_arena_alloc(c->a, sizeof(dv_attr) * ((size_t)m->n + nd->n + 1));
  uint8_t *gone = dv_arena_calloc(c->a, (size_t)m->n + nd->n + 1);
  if (m->n) memcpy(attrs, m->u.attrs, sizeof(dv_attr) * m->n);
  uint32_t cnt = m->n;
  for (uint32_t i = 0; i < nd->n; i++) {
    mod_node *k = nd->kids[i];
    const expr_path_elem *e = k->elem;
    if (!e->name) return bad_path(c); /* [i] on a map */
    uint32_t idx = map_index(m, e->name, e->name_len);
    const dv_value *cur = idx < m->n ? &m->u.attrs[idx].value : NULL;
    if (!cur) idx = cnt;
    c->prefix[depth] = *e;
    dv_value nv;
    int r;
    if (k->action >= 0) {
      r = apply_leaf(c, k, cur, depth, &nv);
      if (r < 0) return -1;
    } else {
      if (!cur) return bad_path(c); /* the parent of a nested path is missing */
      if (apply_inner(c, k, cur, depth + 1, &nv)) return -1;
      r = 1;
    }
    if (r == 0) {
      if (cur) gone[idx] = 1;
      continue;
    }
    if (!cur) {
      attrs[idx].name = dv_arena_strndup(c->a, e->name, e->name_len);
      attrs[idx].name_len = e->name_len;
      cnt++;
    }
    attrs[idx].value = nv;
  }
  uint32_t w = 0;
  for (uint32_t i = 0; i < cnt; i++)
    if (!gone[i]) attrs[w++] = attrs[i];
  memset(out, 0, sizeof *out);
  out->type = DV_M;
  out->n = w;
  out->u.attrs = attrs;
  dv_map_sort(out);
  return 0;
}

/* One child k of a list node, on the old element cur (NULL: past the end),
 * landing at new position pos: appends its result to elems[*cnt]. */
static int apply_list_kid(upd *c, mod_node *k, const dv_value *cur, uint32_t depth, uint32_t pos,
                          dv_value *elems, uint32_t *cnt) {
  dv_value nv;
  memset(&c->prefix[depth], 0, sizeof c->prefix[depth]);
  c->prefix[depth].index = pos;
  if (k->action >= 0) {
    int r = apply_leaf(c, k, cur, depth, &nv);
    if (r <= 0) return r; /* error, or removed / still absent */
  } else {
    if (!cur) return bad_path(c); /* nested path under an element past the end */
    if (apply_inner(c, k, cur, depth + 1, &nv)) return -1;
  }
  elems[(*cnt)++] = nv;
  return 0;
}

/* The children of nd applied to the list l: old elements in order with the
 * actions keyed by their old positions, then the actions past the end in
 * ascending index order (SET / ADD append, REMOVE / DELETE do nothing). */
static int apply_list(upd *c, mod_node *nd, const dv_value *l, uint32_t depth, dv_value *out) {
  if (depth >= EXPR_MAX_PATH_DEPTH) return bad_path(c);
  for (uint32_t i = 0; i < nd->n; i++)
    if (nd->kids[i]->elem->name) return bad_path(c); /* .name on a list */
  qsort(nd->kids, nd->n, sizeof(mod_node *), index_kid_cmp);
  dv_value *elems = dv_arena_alloc(c->a, sizeof(dv_value) * ((size_t)l->n + nd->n + 1));
  uint32_t cnt = 0, j = 0;
  for (uint32_t i = 0; i < l->n; i++) {
    if (j < nd->n && nd->kids[j]->elem->index == i) {
      if (apply_list_kid(c, nd->kids[j++], &l->u.elems[i], depth, cnt, elems, &cnt) < 0) return -1;
    } else {
      elems[cnt++] = l->u.elems[i];
    }
  }
  for (; j < nd->n; j++)
    if (apply_list_kid(c, nd->kids[j], NULL, depth, cnt, elems, &cnt) < 0) return -1;
  memset(out, 0, sizeof *out);
  out->type = DV_L;
  out->n = cnt;
  out->u.elems = elems;
  return 0;
}

static int apply_inner(upd *c, mod_node *nd, const dv_value *cur, uint32_t depth, dv_value *out) {
  if (cur->type == DV_M) return apply_map(c, nd, cur, depth, out);
  if (cur->type == DV_L) return apply_list(c, nd, cur, depth, out);
  return bad_path(c); /* a step into a scalar or a set */
}

/* ---- size figure ---------------------------------------------------------------- */

static size_t digits(uint32_t v) {
  size_t d = 1;
  while (v >= 10) v /= 10, d++;
  return d;
}

static size_t elem_bytes(const expr_path_elem *e) { return e->name ? e->name_len : digits(e->index); }

/* target(t): first name + sum(4 + element) over the later elements. */
static size_t target_cost(const expr_path *p) {
  size_t s = p->n ? elem_bytes(&p->elems[0]) : 0;
  for (uint32_t i = 1; i < p->n; i++) s += 4 + elem_bytes(&p->elems[i]);
  return s;
}

/* cost(e) of a SET value tree. */
static size_t value_cost(const expr_node *n) {
  size_t s = 0;
  switch (n->kind) {
  case EXPR_VALUE:
    return n->value ? dv_value_size(n->value) : 0;
  case EXPR_PATH:
    s = 1;
    for (uint32_t i = 0; i < n->path.n; i++) s += 14 + elem_bytes(&n->path.elems[i]);
    return s;
  case EXPR_PLUS: s = 34; break;
  case EXPR_MINUS: s = 37; break;
  case EXPR_IF_NOT_EXISTS: s = 39; break;
  case EXPR_LIST_APPEND: s = 37; break;
  default: break;
  }
  for (uint32_t i = 0; i < n->n; i++) s += value_cost(n->kids[i]);
  return s;
}

size_t expr_update_figure(const expr_update *u, const dv_value *old_item) {
  size_t fig = 3;
  for (uint32_t i = 0; i < u->n; i++) {
    const expr_action *act = &u->actions[i];
    switch (act->kind) {
    case EXPR_ACT_SET:
      fig += 19 + target_cost(&act->path) + (act->value ? value_cost(act->value) : 0);
      break;
    case EXPR_ACT_ADD: {
      fig += 19 + target_cost(&act->path);
      const dv_value *v = act->value && act->value->kind == EXPR_VALUE ? act->value->value : NULL;
      if (!v) break;
      const dv_value *cur = old_item ? expr_path_resolve(old_item, &act->path) : NULL;
      if (is_set(v->type) && cur && cur->type == v->type) {
        dv_arena *tmp = dv_arena_new();
        dv_value sorted = sorted_set(cur, tmp);
        for (uint32_t k = 0; k < v->n; k++)
          if (!set_has(&sorted, &v->u.elems[k])) fig += dv_value_size(&v->u.elems[k]);
        dv_arena_free(tmp);
      } else {
        fig += dv_value_size(v);
      }
      break;
    }
    case EXPR_ACT_REMOVE:
    case EXPR_ACT_DELETE:
      fig += 1 + target_cost(&act->path);
      break;
    }
  }
  return fig;
}

/* ---- entry points ---------------------------------------------------------------- */

int expr_apply_update(const expr_update *u, const dv_value *old_item, const dv_value *key,
                      const p_key_schema *ks, unsigned flags, dv_arena *a, dv_value *new_item,
                      expr_changes *changes, p_error *err) {
  static const dv_value empty = {.type = DV_M, .n = 0, .u.attrs = NULL};
  mod_node root;
  memset(&root, 0, sizeof root);
  root.action = -1;
  upd c;
  memset(&c, 0, sizeof c);
  c.u = u;
  c.a = a;
  c.err = err;
  int rc = -1, legacy = 0;

  /* 1. key attributes. */
  if (ks && expr_check_update_keys(u, ks, err)) goto fail;

  /* The item the update starts from: a copy of the old item, or the key. */
  const dv_value *src = old_item ? old_item : key ? key : &empty;
  dv_value base = dv_clone(a, src);
  if (base.type != DV_M) base = empty;

  /* 2. right-hand sides against the pre-update item. */
  c.rhs = dv_arena_calloc(a, sizeof(dv_value) * (u->n + 1));
  c.landed = dv_arena_calloc(a, sizeof(expr_path) * (u->n + 1));
  for (uint32_t i = 0; i < u->n; i++) {
    const expr_action *act = &u->actions[i];
    legacy |= act->legacy;
    if (act->kind != EXPR_ACT_SET) continue;
    if (!act->value) {
      bad_type(&c, act);
      goto fail;
    }
    if (rhs_eval(&c, act, act->value, &base, &c.rhs[i])) goto fail;
  }

  /* 3. merge the action paths into the tree, then walk it over the item. */
  for (uint32_t i = 0; i < u->n; i++) {
    const expr_action *act = &u->actions[i];
    /* REMOVE / DELETE on an item that does not exist: nothing to remove,
     * and a missing parent is not an error then (expressions.md 6). */
    if (!old_item && (act->kind == EXPR_ACT_REMOVE || act->kind == EXPR_ACT_DELETE)) continue;
    if (act->path.n == 0 || !act->path.elems[0].name) {
      bad_path(&c);
      goto fail;
    }
    mod_node *nd = &root;
    for (uint32_t k = 0; k < act->path.n; k++) {
      if (nd->action >= 0) { /* overlapping paths: the parser rejects them */
        bad_path(&c);
        goto fail;
      }
      nd = mod_child(nd, &act->path.elems[k]);
    }
    if (nd->action >= 0 || nd->n) {
      bad_path(&c);
      goto fail;
    }
    nd->action = (int)i;
  }
  if (apply_map(&c, &root, &base, 0, new_item)) goto fail;

  /* 4. nesting depth and size of the result. */
  for (uint32_t i = 0; i < new_item->n; i++)
    if (dv_depth(&new_item->u.attrs[i].value) > MAX_DEPTH) {
      p_error_set(err, P_VALIDATION, "%s", MSG_NESTING);
      goto fail;
    }
  if (!(flags & EXPR_UPD_NO_SIZE_CHECK)) {
    size_t size = dv_item_size(new_item);
    if (!(flags & EXPR_UPD_FINAL_SIZE_ONLY) && !legacy) {
      size_t fig = expr_update_figure(u, old_item);
      if (fig > size) size = fig;
    }
    if (size > EXPR_MAX_ITEM_SIZE) {
      p_error_set(err, P_VALIDATION, "%s", EXPR_MSG_ITEM_TOO_BIG);
      goto fail;
    }
  }

  if (changes) {
    memset(changes, 0, sizeof *changes);
    changes->old_item = old_item;
    changes->new_item = new_item;
    changes->old_paths = dv_arena_alloc(a, sizeof(expr_path) * (u->n + 1));
    changes->new_paths = dv_arena_alloc(a, sizeof(expr_path) * (u->n + 1));
    for (uint32_t i = 0; i < u->n; i++) {
      changes->old_paths[changes->n_old++] = u->actions[i].path;
      if (c.landed[i].n) changes->new_paths[changes->n_new++] = c.landed[i];
    }
  }
  rc = 0;
fail:
  mod_free(&root);
  return rc;
}

void expr_updated_values(const expr_changes *c, expr_updated_which which, dv_arena *a, dv_value *out) {
  static const dv_value empty = {.type = DV_M, .n = 0, .u.attrs = NULL};
  if (which == EXPR_UPDATED_OLD)
    *out = c->old_item ? expr_project(c->old_item, c->old_paths, c->n_old, a) : empty;
  else
    *out = c->new_item ? expr_project(c->new_item, c->new_paths, c->n_new, a) : empty;
}
