/*
 * expr_names.c -- everything around the parser that is not grammar:
 * ExpressionAttributeNames / ExpressionAttributeValues maps and their usage
 * tracking, the unused-reference check, AST constructors, document path
 * helpers (rendering, overlap/conflict), KeyConditionExpression flattening
 * and its schema checks, the update key-attribute check, and the message
 * helpers shared by the parser files.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/expr_int.h"

#define INVALID "One or more parameter values were invalid: "

/* ---- names of things ---------------------------------------------------------------- */

const char *expr_kind_name(expr_kind kind) {
  switch (kind) {
    case EXPR_CONDITION:
      return "ConditionExpression";
    case EXPR_FILTER:
      return "FilterExpression";
    case EXPR_KEY_CONDITION:
      return "KeyConditionExpression";
    case EXPR_UPDATE:
      return "UpdateExpression";
    case EXPR_PROJECTION:
      return "ProjectionExpression";
  }
  return "Expression";
}

static const char *const k_node_names[] = {
#define X(name, printed, arity) printed,
    EXPR_NODES(X)
#undef X
};

const char *expr_node_kind_name(expr_node_kind k) {
  return (unsigned)k < EXPR_NODE_KIND_COUNT ? k_node_names[k] : "?";
}

int expr_node_is_condition(expr_node_kind k) {
  return k >= EXPR_EQ && k <= EXPR_CONTAINS;
}

const char *expr__long_type_name(dv_type t) {
  switch (t) {
    case DV_S:
      return "STRING";
    case DV_N:
      return "NUMBER";
    case DV_B:
      return "BINARY";
    case DV_BOOL:
      return "BOOLEAN";
    case DV_NULL:
      return "NULL";
    case DV_L:
      return "LIST";
    case DV_M:
      return "MAP";
    case DV_SS:
      return "STRING_SET";
    case DV_NS:
      return "NUMBER_SET";
    case DV_BS:
      return "BINARY_SET";
    default:
      return "NONE";
  }
}

/* ---- messages -------------------------------------------------------------------------- */

static char *vformat(const char *fmt, va_list ap) {
  va_list ap2;
  char probe[1];
  if (!fmt) fmt = ""; /* never NULL; keeps GCC's -Wformat-truncation quiet under UBSan */
  va_copy(ap2, ap);
  int n = vsnprintf(probe, sizeof probe, fmt, ap2);
  va_end(ap2);
  if (n < 0) n = 0;
  char *s = p__xmalloc((size_t)n + 1);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

int expr__error(p_error *err, expr_kind kind, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *m = vformat(fmt, ap);
  va_end(ap);
  p_error_set(err, P_VALIDATION, "Invalid %s: %s", expr_kind_name(kind), m);
  free(m);
  return -1;
}

static void render_into(p__sbuf *b, const dv_value *v) {
  switch (v->type) {
    case DV_S:
    case DV_N:
      p__sbuf_addf(b, "{%s:", dv_type_name(v->type));
      p__sbuf_add(b, v->u.bytes, v->n);
      p__sbuf_add(b, "}", 1);
      break;
    case DV_B: {
      char *enc = p__xmalloc(p__b64_encoded_len(v->n) + 1);
      p__b64_encode((const uint8_t *)v->u.bytes, v->n, enc);
      p__sbuf_addf(b, "{B:%s}", enc);
      free(enc);
      break;
    }
    case DV_BOOL:
      p__sbuf_addf(b, "{BOOL:%s}", v->u.boolean ? "true" : "false");
      break;
    case DV_NULL:
      p__sbuf_addf(b, "{NULL:true}");
      break;
    case DV_SS:
    case DV_NS:
    case DV_BS:
    case DV_L:
      p__sbuf_addf(b, "{%s:[", dv_type_name(v->type));
      for (uint32_t i = 0; i < v->n; i++) {
        if (i) p__sbuf_add(b, ", ", 2);
        if (v->type == DV_L)
          render_into(b, &v->u.elems[i]);
        else if (v->type == DV_BS) {
          char *enc = p__xmalloc(p__b64_encoded_len(v->u.elems[i].n) + 1);
          p__b64_encode((const uint8_t *)v->u.elems[i].u.bytes, v->u.elems[i].n, enc);
          p__sbuf_addf(b, "%s", enc);
          free(enc);
        } else
          p__sbuf_add(b, v->u.elems[i].u.bytes, v->u.elems[i].n);
      }
      p__sbuf_add(b, "]}", 2);
      break;
    case DV_M:
      p__sbuf_add(b, "{M:{", 4);
      for (uint32_t i = 0; i < v->n; i++) {
        if (i) p__sbuf_add(b, ", ", 2);
        p__sbuf_add(b, v->u.attrs[i].name, v->u.attrs[i].name_len);
        p__sbuf_add(b, "=", 1);
        render_into(b, &v->u.attrs[i].value);
      }
      p__sbuf_add(b, "}}", 2);
      break;
    default:
      p__sbuf_add(b, "{}", 2);
      break;
  }
}

char *expr__value_render(const dv_value *v) {
  p__sbuf b = {0};
  p__sbuf_add(&b, "", 0);
  render_into(&b, v);
  return b.p;
}

/* ---- EAN / EAV ---------------------------------------------------------------------------- */

static int key_ok(const char *k, size_t len, char sigil) {
  if (len < 2 || k[0] != sigil) return 0;
  for (size_t i = 1; i < len; i++) {
    char c = k[i];
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')) return 0;
  }
  return 1;
}

static int key_cmp(const char *a, size_t alen, const char *b, size_t blen) {
  int c = memcmp(a, b, alen < blen ? alen : blen);
  if (c) return c;
  return alen < blen ? -1 : alen > blen;
}

static int name_entry_cmp(const void *x, const void *y) {
  const expr_name *a = x, *b = y;
  return key_cmp(a->key, a->key_len, b->key, b->key_len);
}

static int value_entry_cmp(const void *x, const void *y) {
  const expr_value *a = x, *b = y;
  return key_cmp(a->key, a->key_len, b->key, b->key_len);
}

int expr_names_from_json(const json_t *ean, dv_arena *a, expr_names *out, p_error *err) {
  out->n = 0;
  out->e = NULL;
  size_t n = json_object_size(ean);
  if (n == 0) return p_error_set(err, P_VALIDATION, "ExpressionAttributeNames must not be empty");
  out->e = dv_arena_alloc(a, n * sizeof *out->e);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)ean, k, v) {
    size_t klen = strlen(k);
    if (!key_ok(k, klen, '#'))
      return p_error_set(err, P_VALIDATION,
                         "ExpressionAttributeNames contains invalid key: Syntax error; key: \"%s\"", k);
    expr_name *e = &out->e[out->n++];
    e->key = dv_arena_strndup(a, k, klen);
    e->key_len = (uint32_t)klen;
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    size_t slen = json_is_string(v) ? json_string_length(v) : 0;
    if (slen == 0)
      return p_error_set(err, P_VALIDATION,
                         "ExpressionAttributeNames contains invalid value: Empty attribute name for key %s",
                         k);
    e->name = dv_arena_strndup(a, s, slen);
    e->name_len = (uint32_t)slen;
  }
  qsort(out->e, out->n, sizeof *out->e, name_entry_cmp);
  return 0;
}

int expr_values_from_json(const json_t *eav, p_layer layer, expr_eav_wording wording, dv_arena *a,
                          expr_values *out, p_error *err) {
  out->n = 0;
  out->e = NULL;
  size_t n = json_object_size(eav);
  if (n == 0) return p_error_set(err, P_VALIDATION, "ExpressionAttributeValues must not be empty");
  out->e = dv_arena_alloc(a, n * sizeof *out->e);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)eav, k, v) {
    size_t klen = strlen(k);
    if (!key_ok(k, klen, ':'))
      return p_error_set(err, P_VALIDATION,
                         "ExpressionAttributeValues contains invalid key: Syntax error; key: \"%s\"", k);
    expr_value *e = &out->e[out->n++];
    e->key = dv_arena_strndup(a, k, klen);
    e->key_len = (uint32_t)klen;
    if (p_value_from_json(v, 1, layer, a, &e->value, err) != 0) {
      if (wording == EXPR_EAV_WRAPPED) {
        char *inner = err->msg ? err->msg : NULL;
        err->msg = NULL;
        p_error_set(err, P_VALIDATION, "ExpressionAttributeValues contains invalid value: %s for key %s",
                    inner ? inner : "", k);
        free(inner);
      }
      return -1;
    }
  }
  qsort(out->e, out->n, sizeof *out->e, value_entry_cmp);
  return 0;
}

const expr_name *expr_names_find(const expr_names *ean, const char *key, size_t len) {
  if (!ean) return NULL;
  size_t lo = 0, hi = ean->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = key_cmp(key, len, ean->e[mid].key, ean->e[mid].key_len);
    if (c == 0) return &ean->e[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

const expr_value *expr_values_find(const expr_values *eav, const char *key, size_t len) {
  if (!eav) return NULL;
  size_t lo = 0, hi = eav->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = key_cmp(key, len, eav->e[mid].key, eav->e[mid].key_len);
    if (c == 0) return &eav->e[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

void expr_usage_init(expr_usage *u, const expr_names *ean, const expr_values *eav, dv_arena *a) {
  u->n_names = ean ? ean->n : 0;
  u->n_values = eav ? eav->n : 0;
  u->names_used = u->n_names ? dv_arena_calloc(a, u->n_names) : NULL;
  u->values_used = u->n_values ? dv_arena_calloc(a, u->n_values) : NULL;
}

int expr_check_unused(const expr_names *ean, const expr_values *eav, const expr_usage *u, p_error *err) {
  p__sbuf b = {0};
  int bad = 0;
  if (ean) {
    for (uint32_t i = 0; i < ean->n; i++) {
      if (u && i < u->n_names && u->names_used[i]) continue;
      p__sbuf_add(&b, bad ? ", " : "", bad ? 2 : 0);
      p__sbuf_add(&b, ean->e[i].key, ean->e[i].key_len);
      bad = 1;
    }
    if (bad) {
      p_error_set(err, P_VALIDATION,
                  "Value provided in ExpressionAttributeNames unused in expressions: keys: {%s}", b.p);
      free(b.p);
      return -1;
    }
  }
  if (eav) {
    for (uint32_t i = 0; i < eav->n; i++) {
      if (u && i < u->n_values && u->values_used[i]) continue;
      p__sbuf_add(&b, bad ? ", " : "", bad ? 2 : 0);
      p__sbuf_add(&b, eav->e[i].key, eav->e[i].key_len);
      bad = 1;
    }
    if (bad) {
      p_error_set(err, P_VALIDATION,
                  "Value provided in ExpressionAttributeValues unused in expressions: keys: {%s}", b.p);
      free(b.p);
      return -1;
    }
  }
  free(b.p);
  return 0;
}

/* ---- constructors --------------------------------------------------------------------------- */

expr_node *expr_node_new(dv_arena *a, expr_node_kind kind, uint32_t n, expr_node *const *kids) {
  expr_node *x = dv_arena_calloc(a, sizeof *x);
  x->kind = kind;
  x->n = n;
  if (n) {
    x->kids = dv_arena_alloc(a, n * sizeof *x->kids);
    memcpy(x->kids, kids, n * sizeof *x->kids);
  }
  x->type = DV_NONE;
  return x;
}

expr_node *expr_node_new2(dv_arena *a, expr_node_kind kind, expr_node *k0, expr_node *k1) {
  expr_node *kids[2] = {k0, k1};
  return expr_node_new(a, kind, k1 ? 2 : 1, kids);
}

expr_node *expr_node_top_path(dv_arena *a, const char *name, size_t len) {
  expr_node *x = expr_node_new(a, EXPR_PATH, 0, NULL);
  x->path.n = 1;
  x->path.elems = dv_arena_calloc(a, sizeof *x->path.elems);
  x->path.elems[0].name = dv_arena_strndup(a, name, len);
  x->path.elems[0].name_len = (uint32_t)len;
  return x;
}

expr_node *expr_node_path(dv_arena *a, const expr_path *p) {
  expr_node *x = expr_node_new(a, EXPR_PATH, 0, NULL);
  x->path.n = p->n;
  x->path.elems = dv_arena_alloc(a, p->n * sizeof *p->elems);
  memcpy(x->path.elems, p->elems, p->n * sizeof *p->elems);
  return x;
}

expr_node *expr_node_value(dv_arena *a, const dv_value *v) {
  expr_node *x = expr_node_new(a, EXPR_VALUE, 0, NULL);
  x->value = v;
  return x;
}

expr_projection *expr_projection_from_names(const char *const *names, size_t n, dv_arena *a) {
  expr_projection *p = dv_arena_calloc(a, sizeof *p);
  p->n = (uint32_t)n;
  p->paths = dv_arena_calloc(a, (n ? n : 1) * sizeof *p->paths);
  for (size_t i = 0; i < n; i++) {
    p->paths[i].n = 1;
    p->paths[i].elems = dv_arena_calloc(a, sizeof *p->paths[i].elems);
    p->paths[i].elems[0].name = dv_arena_strndup(a, names[i], strlen(names[i]));
    p->paths[i].elems[0].name_len = (uint32_t)strlen(names[i]);
  }
  return p;
}

/* ---- paths ----------------------------------------------------------------------------------- */

char *expr_path_render(const expr_path *p) {
  p__sbuf b = {0};
  p__sbuf_add(&b, "[", 1);
  for (uint32_t i = 0; i < p->n; i++) {
    if (i) p__sbuf_add(&b, ", ", 2);
    if (p->elems[i].name)
      p__sbuf_add(&b, p->elems[i].name, p->elems[i].name_len);
    else
      p__sbuf_addf(&b, "[%u]", p->elems[i].index);
  }
  p__sbuf_add(&b, "]", 1);
  return b.p;
}

static int elem_equal(const expr_path_elem *x, const expr_path_elem *y) {
  if (!x->name != !y->name) return 0;
  if (!x->name) return x->index == y->index;
  return x->name_len == y->name_len && memcmp(x->name, y->name, x->name_len) == 0;
}

int expr__path_equal(const expr_path *x, const expr_path *y) {
  if (x->n != y->n) return 0;
  for (uint32_t i = 0; i < x->n; i++)
    if (!elem_equal(&x->elems[i], &y->elems[i])) return 0;
  return 1;
}

/* 0 independent, 1 overlap, 2 conflict. */
static int path_relation(const expr_path *x, const expr_path *y) {
  uint32_t m = x->n < y->n ? x->n : y->n;
  for (uint32_t i = 0; i < m; i++) {
    const expr_path_elem *a = &x->elems[i], *b = &y->elems[i];
    if (!a->name != !b->name) return 2;
    if (!elem_equal(a, b)) return 0;
  }
  return 1;
}

int expr__paths_check(const expr_path *const *paths, uint32_t n, expr_kind kind, p_error *err) {
  for (uint32_t j = 1; j < n; j++) {
    for (uint32_t i = 0; i < j; i++) {
      int r = path_relation(paths[i], paths[j]);
      if (!r) continue;
      char *one = expr_path_render(paths[i]), *two = expr_path_render(paths[j]);
      expr__error(
          err, kind,
          "Two document paths %s with each other; must remove or rewrite one of these paths; path one: "
          "%s, path two: %s",
          r == 1 ? "overlap" : "conflict", one, two);
      free(one);
      free(two);
      return -1;
    }
  }
  return 0;
}

static int mentions(const expr_node *n, const char *name, size_t len, int depth) {
  if (!n || depth > 10000) return 0;
  if (n->kind == EXPR_PATH)
    return n->path.n && n->path.elems[0].name_len == len && memcmp(n->path.elems[0].name, name, len) == 0;
  for (uint32_t i = 0; i < n->n; i++)
    if (mentions(n->kids[i], name, len, depth + 1)) return 1;
  return 0;
}

int expr_node_mentions(const expr_node *n, const char *name, size_t len) {
  return mentions(n, name, len, 0);
}

/* ---- KeyConditionExpression ----------------------------------------------------------------- */

static uint32_t key_leaves(const expr_node *n) {
  if (n->kind != EXPR_AND) return 1;
  uint32_t c = 0;
  for (uint32_t i = 0; i < n->n; i++) c += key_leaves(n->kids[i]);
  return c;
}

static void key_fill(const expr_node *n, expr_key_cond *c, uint32_t *i) {
  if (n->kind == EXPR_AND) {
    for (uint32_t k = 0; k < n->n; k++) key_fill(n->kids[k], c, i);
    return;
  }
  expr_key_cond *kc = &c[(*i)++];
  memset(kc, 0, sizeof *kc);
  const expr_node *path = n->kids[0], *val = n->n > 1 ? n->kids[1] : NULL;
  int swapped = 0;
  if (path->kind != EXPR_PATH && val && val->kind == EXPR_PATH) {
    const expr_node *t = path;
    path = val;
    val = t;
    swapped = 1;
  }
  kc->name = path->path.n ? path->path.elems[0].name : "";
  kc->name_len = path->path.n ? path->path.elems[0].name_len : 0;
  kc->v1 = val ? val->value : NULL;
  switch (n->kind) {
    case EXPR_EQ:
      kc->op = EXPR_KEY_EQ;
      break;
    case EXPR_LT:
      kc->op = swapped ? EXPR_KEY_GT : EXPR_KEY_LT;
      break;
    case EXPR_LE:
      kc->op = swapped ? EXPR_KEY_GE : EXPR_KEY_LE;
      break;
    case EXPR_GT:
      kc->op = swapped ? EXPR_KEY_LT : EXPR_KEY_GT;
      break;
    case EXPR_GE:
      kc->op = swapped ? EXPR_KEY_LE : EXPR_KEY_GE;
      break;
    case EXPR_BETWEEN:
      kc->op = EXPR_KEY_BETWEEN;
      kc->v2 = n->kids[2]->value;
      break;
    case EXPR_BEGINS_WITH:
      kc->op = EXPR_KEY_BEGINS_WITH;
      break;
    default:
      kc->op = EXPR_KEY_EQ;
      break;
  }
}

void expr_key_conds_get(const expr_node *tree, dv_arena *a, expr_key_conds *out) {
  out->n = key_leaves(tree);
  out->c = dv_arena_calloc(a, out->n * sizeof *out->c);
  uint32_t i = 0;
  key_fill(tree, out->c, &i);
}

static int key_name_is(const expr_key_cond *c, const char *name) {
  return name && strlen(name) == c->name_len && memcmp(c->name, name, c->name_len) == 0;
}

static int key_value_check(const expr_key_cond *c, dv_type t, const char *name, p_error *err) {
  const dv_value *vs[2] = {c->v1, c->v2};
  for (int i = 0; i < 2; i++) {
    if (!vs[i]) continue;
    if (vs[i]->type != t)
      return p_error_set(err, P_VALIDATION, INVALID "Condition parameter type does not match schema type");
  }
  for (int i = 0; i < 2; i++) {
    if (!vs[i]) continue;
    if ((vs[i]->type == DV_S || vs[i]->type == DV_B) && vs[i]->n == 0)
      return p_error_set(
          err, P_VALIDATION,
          "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
          "contain an empty string value. Key: %s",
          name);
  }
  return 0;
}

int expr_check_key_conds(const expr_key_conds *kc, const p_key_schema *ks, const expr_key_cond **hash,
                         const expr_key_cond **range, p_error *err) {
  uint32_t nkeys = ks->range_name ? 2 : 1;
  *hash = NULL;
  *range = NULL;
  if (kc->n > 2)
    return p_error_set(
        err, P_VALIDATION,
        "The number of query conditions (%u) exceeds the number of key attributes defined in the "
        "schema (%u)",
        kc->n, nkeys);
  const expr_key_cond *h = NULL, *r = NULL;
  for (uint32_t i = 0; i < kc->n; i++)
    if (key_name_is(&kc->c[i], ks->hash_name)) h = &kc->c[i];
  if (!h)
    return p_error_set(err, P_VALIDATION, "Query condition missed key schema element: %s", ks->hash_name);
  if (h->op != EXPR_KEY_EQ) return p_error_set(err, P_VALIDATION, "Query key condition not supported");
  if (kc->n == 2) {
    if (!ks->range_name) return p_error_set(err, P_VALIDATION, "Query key condition not supported");
    for (uint32_t i = 0; i < kc->n; i++)
      if (&kc->c[i] != h && key_name_is(&kc->c[i], ks->range_name)) r = &kc->c[i];
    if (!r)
      return p_error_set(err, P_VALIDATION, "Query condition missed key schema element: %s", ks->range_name);
  }
  if (key_value_check(h, ks->hash_type, ks->hash_name, err)) return -1;
  if (r) {
    if (r->op == EXPR_KEY_BEGINS_WITH && ks->range_type == DV_N)
      return p_error_set(err, P_VALIDATION, INVALID "Condition parameter type does not match schema type");
    if (key_value_check(r, ks->range_type, ks->range_name, err)) return -1;
  }
  *hash = h;
  *range = r;
  return 0;
}

/* ---- UpdateExpression key attributes ------------------------------------------------------- */

int expr_check_update_keys(const expr_update *u, const p_key_schema *ks, p_error *err) {
  for (uint32_t i = 0; i < u->n; i++) {
    const expr_path_elem *e = &u->actions[i].path.elems[0];
    const char *keys[2] = {ks->hash_name, ks->range_name};
    for (int k = 0; k < 2; k++) {
      if (keys[k] && strlen(keys[k]) == e->name_len && memcmp(keys[k], e->name, e->name_len) == 0)
        return p_error_set(err, P_VALIDATION,
                           INVALID "Cannot update attribute %s. This attribute is part of the key", keys[k]);
    }
  }
  return 0;
}

/* ---- Query: filter and projection against the key schema ------------------------------------ */

static int top_is(const expr_path *p, const char *name) {
  return name && p->n && strlen(name) == p->elems[0].name_len &&
         memcmp(p->elems[0].name, name, p->elems[0].name_len) == 0;
}

int expr_check_filter_keys(const expr_node *filter, const p_key_schema *ks, p_error *err) {
  const char *keys[2] = {ks->hash_name, ks->range_name};
  for (int k = 0; k < 2; k++)
    if (keys[k] && filter && expr_node_mentions(filter, keys[k], strlen(keys[k])))
      return p_error_set(
          err, P_VALIDATION,
          "Filter Expression can only contain non-primary key attributes: Primary key attribute: %s",
          keys[k]);
  return 0;
}

int expr_check_projection_keys(const expr_projection *p, const p_key_schema *ks, p_error *err) {
  const char *keys[2] = {ks->hash_name, ks->range_name};
  for (uint32_t i = 0; i < p->n; i++)
    for (int k = 0; k < 2; k++)
      if (p->paths[i].n > 1 && top_is(&p->paths[i], keys[k]))
        return p_error_set(
            err, P_VALIDATION,
            "Key attributes must be scalars; list random access '[]' and map lookup '.' are not "
            "allowed: Key: %s",
            keys[k]);
  return 0;
}
