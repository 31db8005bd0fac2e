/*
 * expr_print.c -- canonical S-expression rendering of expression trees, for
 * the data-driven tests (tests/protocol/expr_cases) and for debugging. The
 * format is described in expr.h; it is stable because the tests compare it
 * byte for byte.
 */
#include <stdlib.h>
#include <string.h>

#include "protocol/expr_int.h"

static int plain_name(const char *s, uint32_t n) {
  if (n == 0) return 0;
  for (uint32_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')) return 0;
  }
  return 1;
}

static void print_name(p__sbuf *b, const char *s, uint32_t n) {
  if (plain_name(s, n)) {
    p__sbuf_add(b, s, n);
    return;
  }
  json_t *j = json_stringn(s, n);
  char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
  if (q)
    p__sbuf_add(b, q, strlen(q));
  else
    p__sbuf_add(b, "\"?\"", 3);
  free(q);
  json_decref(j);
}

static void print_path(p__sbuf *b, const expr_path *p) {
  for (uint32_t i = 0; i < p->n; i++) {
    const expr_path_elem *e = &p->elems[i];
    if (e->name) {
      if (i) p__sbuf_add(b, ".", 1);
      print_name(b, e->name, e->name_len);
    } else {
      p__sbuf_addf(b, "[%u]", e->index);
    }
  }
}

static void print_node(p__sbuf *b, const expr_node *n) {
  switch (n->kind) {
    case EXPR_PATH:
      print_path(b, &n->path);
      return;
    case EXPR_VALUE:
      if (n->ref)
        p__sbuf_add(b, n->ref, strlen(n->ref));
      else {
        char *s = expr__value_render(n->value);
        p__sbuf_add(b, s, strlen(s));
        free(s);
      }
      return;
    default:
      break;
  }
  p__sbuf_addf(b, "(%s", expr_node_kind_name(n->kind));
  for (uint32_t i = 0; i < n->n; i++) {
    p__sbuf_add(b, " ", 1);
    print_node(b, n->kids[i]);
  }
  p__sbuf_add(b, ")", 1);
}

char *expr_print(const expr_node *n) {
  p__sbuf b = {0};
  p__sbuf_add(&b, "", 0);
  if (n)
    print_node(&b, n);
  else
    p__sbuf_add(&b, "()", 2);
  return b.p;
}

static const char *const k_act[] = {"SET", "REMOVE", "ADD", "DELETE"};

char *expr_print_update(const expr_update *u) {
  p__sbuf b = {0};
  p__sbuf_add(&b, "(update", 7);
  for (uint32_t i = 0; i < u->n; i++) {
    const expr_action *a = &u->actions[i];
    p__sbuf_addf(&b, " (%s%s ", k_act[a->kind], a->legacy ? "*" : "");
    print_path(&b, &a->path);
    if (a->value) {
      p__sbuf_add(&b, " ", 1);
      print_node(&b, a->value);
    }
    p__sbuf_add(&b, ")", 1);
  }
  p__sbuf_add(&b, ")", 1);
  return b.p;
}

char *expr_print_projection(const expr_projection *p) {
  p__sbuf b = {0};
  p__sbuf_add(&b, "(projection", 11);
  for (uint32_t i = 0; i < p->n; i++) {
    p__sbuf_add(&b, " ", 1);
    print_path(&b, &p->paths[i]);
  }
  p__sbuf_add(&b, ")", 1);
  return b.p;
}

char *expr_print_key_conds(const expr_key_conds *kc) {
  static const char *const ops[] = {"=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"};
  p__sbuf b = {0};
  p__sbuf_add(&b, "(keys", 5);
  for (uint32_t i = 0; i < kc->n; i++) {
    const expr_key_cond *c = &kc->c[i];
    p__sbuf_addf(&b, " (%s ", ops[c->op]);
    print_name(&b, c->name, c->name_len);
    const dv_value *vs[2] = {c->v1, c->v2};
    for (int k = 0; k < 2; k++) {
      if (!vs[k]) continue;
      char *s = expr__value_render(vs[k]);
      p__sbuf_addf(&b, " %s", s);
      free(s);
    }
    p__sbuf_add(&b, ")", 1);
  }
  p__sbuf_add(&b, ")", 1);
  return b.p;
}
