/*
 * test_expr_eval.c -- tests of protocol/expr_eval.{c,h} and expr_update.c:
 * condition evaluation (a table-driven type matrix for every comparator and
 * function), update application with every action and runtime error, the
 * ReturnValues UPDATED_OLD / UPDATED_NEW maps and projection shapes.
 *
 * Trees are built two ways: by hand with the expr.h constructors (the
 * matrices, so that they do not depend on the parser), and by parsing
 * expression text with expr_parse_* (the end-to-end tests at the bottom).
 * Values and items are written as wire JSON and compared as compact JSON
 * with sorted keys.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/expr.h"
#include "protocol/expr_eval.h"
#include "protocol/protocol.h"
#include "tests/testlib.h"

static dv_arena *A; /* arena of the whole run (freed at the end) */

/* ---- helpers --------------------------------------------------------------------- */

static json_t *jparse(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
  if (!j) {
    fprintf(stderr, "bad test JSON: %s: %.200s\n", je.text, text);
    abort();
  }
  return j;
}

/* A value from wire JSON ({"S":"x"}); NULL text = missing. */
static const dv_value *V(const char *text) {
  if (!text) return NULL;
  json_t *j = jparse(text);
  dv_value *v = dv_arena_alloc(A, sizeof *v);
  p_error e;
  p_error_init(&e);
  if (p_value_from_json(j, 1, P_LAYER_CURRENT, A, v, &e) != 0) {
    fprintf(stderr, "bad test value %s: %s\n", text, e.msg);
    abort();
  }
  p_error_clear(&e);
  json_decref(j);
  return v;
}

/* An item from wire JSON ({"a":{"S":"x"}}). */
static const dv_value *ITEM(const char *text) {
  json_t *j = jparse(text);
  dv_value *v = dv_arena_alloc(A, sizeof *v);
  p_error e;
  p_error_init(&e);
  if (p_item_from_json(j, P_LAYER_CURRENT, A, v, &e) != 0) {
    fprintf(stderr, "bad test item %s: %s\n", text, e.msg);
    abort();
  }
  p_error_clear(&e);
  json_decref(j);
  return v;
}

/* Compact sorted JSON of an item, in the arena (for CHECK_EQ_STR). */
static const char *J(const dv_value *item) {
  json_t *j = p_item_to_json(item);
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(j);
  char *r = dv_arena_strndup(A, s, strlen(s));
  free(s);
  return r;
}

/* Normalises expected JSON text the same way. */
static const char *N(const char *text) {
  json_t *j = jparse(text);
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(j);
  char *r = dv_arena_strndup(A, s, strlen(s));
  free(s);
  return r;
}

/* A document path from "a.b[1].c" (names: any bytes but . and [). */
static expr_path P(const char *text) {
  expr_path p = {0, NULL};
  p.elems = dv_arena_calloc(A, sizeof(expr_path_elem) * EXPR_MAX_PATH_DEPTH);
  const char *s = text;
  while (*s) {
    expr_path_elem *e = &p.elems[p.n++];
    if (*s == '[') {
      e->index = (uint32_t)strtoul(s + 1, (char **)&s, 10);
      s++; /* ] */
    } else {
      const char *b = s;
      while (*s && *s != '.' && *s != '[') s++;
      e->name = dv_arena_strndup(A, b, (size_t)(s - b));
      e->name_len = (uint32_t)(s - b);
    }
    if (*s == '.') s++;
  }
  return p;
}

/* Operand nodes. */
static expr_node *PN(const char *path) {
  expr_path p = P(path);
  return expr_node_path(A, &p);
}
static expr_node *VN(const char *json) { return expr_node_value(A, V(json)); }
static expr_node *F1(expr_node_kind k, expr_node *x) { return expr_node_new(A, k, 1, &x); }
static expr_node *F2(expr_node_kind k, expr_node *x, expr_node *y) { return expr_node_new2(A, k, x, y); }
static expr_node *F3(expr_node_kind k, expr_node *x, expr_node *y, expr_node *z) {
  expr_node *kids[3] = {x, y, z};
  return expr_node_new(A, k, 3, kids);
}

/* Evaluates a condition; -1 on an error. */
static int EV(const expr_node *c, const dv_value *item) {
  int r = -1;
  p_error e;
  p_error_init(&e);
  if (expr_eval_condition(c, item, &r, &e) != 0) r = -1;
  p_error_clear(&e);
  return r;
}

/* ---- the type matrix ----------------------------------------------------------------- */

/* One sample per type (and "missing"), plus same-type partners for ordering. */
typedef struct sample {
  const char *name; /* label in failure output */
  const char *json; /* wire value, NULL = missing attribute */
} sample;

static const sample k_samples[] = {
    {"S", "{\"S\":\"abc\"}"},
    {"N", "{\"N\":\"5\"}"},
    {"B", "{\"B\":\"AQID\"}"},
    {"BOOL", "{\"BOOL\":true}"},
    {"NULL", "{\"NULL\":true}"},
    {"M", "{\"M\":{\"k\":{\"S\":\"v\"}}}"},
    {"L", "{\"L\":[{\"S\":\"abc\"},{\"N\":\"5\"}]}"},
    {"SS", "{\"SS\":[\"abc\",\"x\"]}"},
    {"NS", "{\"NS\":[\"5\",\"7\"]}"},
    {"BS", "{\"BS\":[\"AQID\",\"BAU=\"]}"},
    {"missing", NULL},
};
#define N_SAMPLES (sizeof k_samples / sizeof k_samples[0])

static const expr_node_kind k_cmps[] = {EXPR_EQ, EXPR_NE, EXPR_LT, EXPR_LE, EXPR_GT, EXPR_GE};

/* Evaluates "x <op> y" on {x: lhs, y: rhs}, both as two paths and as a path
 * against a literal (when rhs is present); checks both give want. */
static void check_cmp(expr_node_kind op, const char *lhs, const char *rhs, int want, int line) {
  const dv_value *l = V(lhs), *r = V(rhs);
  dv_value *item = dv_arena_calloc(A, sizeof *item);
  dv_attr *attrs = dv_arena_calloc(A, sizeof(dv_attr) * 2);
  item->type = DV_M;
  item->u.attrs = attrs;
  if (l) attrs[item->n++] = (dv_attr){"x", 1, *l};
  if (r) attrs[item->n++] = (dv_attr){"y", 1, *r};
  int got = EV(F2(op, PN("x"), PN("y")), item);
  if (got != want)
    fprintf(stderr, "line %d: x %s y with x=%s y=%s: got %d want %d\n", line, expr_node_kind_name(op),
            lhs ? lhs : "missing", rhs ? rhs : "missing", got, want);
  CHECK_EQ_INT(got, want);
  if (r) {
    got = EV(F2(op, PN("x"), expr_node_value(A, r)), item);
    if (got != want)
      fprintf(stderr, "line %d: x %s :v with x=%s :v=%s: got %d want %d\n", line, expr_node_kind_name(op),
              lhs ? lhs : "missing", rhs, got, want);
    CHECK_EQ_INT(got, want);
  }
}

/* Every pair of different types (missing included): = false, <> true,
 * ordering false. */
static void test_cmp_type_mismatch(void) {
  for (size_t i = 0; i < N_SAMPLES; i++)
    for (size_t j = 0; j < N_SAMPLES; j++) {
      if (i == j && k_samples[i].json) continue;
      for (size_t k = 0; k < sizeof k_cmps / sizeof k_cmps[0]; k++)
        check_cmp(k_cmps[k], k_samples[i].json, k_samples[j].json, k_cmps[k] == EXPR_NE, __LINE__);
    }
}

/* Same-type comparisons: a table of (lhs, rhs, = <> < <= > >=). */
typedef struct cmp_row {
  const char *lhs, *rhs; /* wire values */
  int eq, ne, lt, le, gt, ge;
} cmp_row;

static const cmp_row k_cmp_rows[] = {
    /* strings by UTF-8 bytes */
    {"{\"S\":\"abc\"}", "{\"S\":\"abc\"}", 1, 0, 0, 1, 0, 1},
    {"{\"S\":\"abc\"}", "{\"S\":\"abd\"}", 0, 1, 1, 1, 0, 0},
    {"{\"S\":\"a\"}", "{\"S\":\"A\"}", 0, 1, 0, 0, 1, 1},
    {"{\"S\":\"ab\"}", "{\"S\":\"abc\"}", 0, 1, 1, 1, 0, 0},
    {"{\"S\":\"\"}", "{\"S\":\"a\"}", 0, 1, 1, 1, 0, 0},
    {"{\"S\":\"\\u00bf\"}", "{\"S\":\"z\"}", 0, 1, 0, 0, 1, 1}, /* 0xC2BF > 'z' */
    {"{\"S\":\"\\ud834\\udd1e\"}", "{\"S\":\"\\uffff\"}", 0, 1, 0, 0, 1, 1}, /* F0.. > EF.. (bytes, not UTF-16) */
    /* numbers by value */
    {"{\"N\":\"1\"}", "{\"N\":\"1.0\"}", 1, 0, 0, 1, 0, 1},
    {"{\"N\":\"1E0\"}", "{\"N\":\"1\"}", 1, 0, 0, 1, 0, 1},
    {"{\"N\":\"2\"}", "{\"N\":\"10\"}", 0, 1, 1, 1, 0, 0},
    {"{\"N\":\"-2\"}", "{\"N\":\"-10\"}", 0, 1, 0, 0, 1, 1},
    {"{\"N\":\"0.001\"}", "{\"N\":\"0\"}", 0, 1, 0, 0, 1, 1},
    {"{\"N\":\"-0.5\"}", "{\"N\":\"0\"}", 0, 1, 1, 1, 0, 0},
    {"{\"N\":\"99999999999999999999999999999999999999\"}", "{\"N\":\"1E38\"}", 0, 1, 1, 1, 0, 0},
    /* binary by unsigned bytes */
    {"{\"B\":\"gA==\"}", "{\"B\":\"fw==\"}", 0, 1, 0, 0, 1, 1}, /* 0x80 > 0x7F */
    {"{\"B\":\"AQID\"}", "{\"B\":\"AQID\"}", 1, 0, 0, 1, 0, 1},
    {"{\"B\":\"AQI=\"}", "{\"B\":\"AQID\"}", 0, 1, 1, 1, 0, 0},
    {"{\"B\":\"\"}", "{\"B\":\"AA==\"}", 0, 1, 1, 1, 0, 0},
    /* not orderable: only = and <> */
    {"{\"BOOL\":true}", "{\"BOOL\":true}", 1, 0, 0, 0, 0, 0},
    {"{\"BOOL\":true}", "{\"BOOL\":false}", 0, 1, 0, 0, 0, 0},
    {"{\"NULL\":true}", "{\"NULL\":true}", 1, 0, 0, 0, 0, 0},
    {"{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"b\",\"a\"]}", 1, 0, 0, 0, 0, 0},
    {"{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"a\"]}", 0, 1, 0, 0, 0, 0},
    {"{\"NS\":[\"1\",\"2.0\"]}", "{\"NS\":[\"2\",\"1.00\"]}", 1, 0, 0, 0, 0, 0},
    {"{\"NS\":[\"1\"]}", "{\"NS\":[\"2\"]}", 0, 1, 0, 0, 0, 0},
    {"{\"BS\":[\"AQ==\",\"Ag==\"]}", "{\"BS\":[\"Ag==\",\"AQ==\"]}", 1, 0, 0, 0, 0, 0},
    {"{\"L\":[{\"N\":\"1\"},{\"S\":\"a\"}]}", "{\"L\":[{\"N\":\"1.0\"},{\"S\":\"a\"}]}", 1, 0, 0, 0, 0, 0},
    {"{\"L\":[{\"N\":\"1\"},{\"S\":\"a\"}]}", "{\"L\":[{\"S\":\"a\"},{\"N\":\"1\"}]}", 0, 1, 0, 0, 0, 0},
    {"{\"L\":[]}", "{\"L\":[]}", 1, 0, 0, 0, 0, 0},
    {"{\"M\":{\"a\":{\"N\":\"1\"},\"b\":{\"L\":[]}}}", "{\"M\":{\"b\":{\"L\":[]},\"a\":{\"N\":\"1.0\"}}}", 1, 0, 0, 0, 0, 0},
    {"{\"M\":{\"a\":{\"N\":\"1\"}}}", "{\"M\":{\"a\":{\"N\":\"1\"},\"b\":{\"S\":\"\"}}}", 0, 1, 0, 0, 0, 0},
    {"{\"M\":{}}", "{\"M\":{}}", 1, 0, 0, 0, 0, 0},
};

static void test_cmp_same_type(void) {
  for (size_t i = 0; i < sizeof k_cmp_rows / sizeof k_cmp_rows[0]; i++) {
    const cmp_row *r = &k_cmp_rows[i];
    int want[6] = {r->eq, r->ne, r->lt, r->le, r->gt, r->ge};
    for (int k = 0; k < 6; k++) check_cmp(k_cmps[k], r->lhs, r->rhs, want[k], (int)(1000 + i));
  }
  /* Two missing attributes are not equal; <> is true. */
  check_cmp(EXPR_EQ, NULL, NULL, 0, __LINE__);
  check_cmp(EXPR_NE, NULL, NULL, 1, __LINE__);
  /* Literal against literal. */
  CHECK_EQ_INT(EV(F2(EXPR_EQ, VN("{\"N\":\"3\"}"), VN("{\"N\":\"3.00\"}")), NULL), 1);
  CHECK_EQ_INT(EV(F2(EXPR_LT, VN("{\"S\":\"a\"}"), VN("{\"S\":\"b\"}")), NULL), 1);
}

/* BETWEEN: all three of one orderable type and lo <= v <= hi. */
static void test_between(void) {
  static const struct {
    const char *v, *lo, *hi;
    int want;
  } rows[] = {
      {"{\"N\":\"5\"}", "{\"N\":\"1\"}", "{\"N\":\"10\"}", 1},
      {"{\"N\":\"1\"}", "{\"N\":\"1.0\"}", "{\"N\":\"10\"}", 1},   /* inclusive low */
      {"{\"N\":\"10\"}", "{\"N\":\"1\"}", "{\"N\":\"1E1\"}", 1},   /* inclusive high */
      {"{\"N\":\"11\"}", "{\"N\":\"1\"}", "{\"N\":\"10\"}", 0},
      {"{\"N\":\"0\"}", "{\"N\":\"1\"}", "{\"N\":\"10\"}", 0},
      {"{\"S\":\"b\"}", "{\"S\":\"a\"}", "{\"S\":\"c\"}", 1},
      {"{\"S\":\"cc\"}", "{\"S\":\"a\"}", "{\"S\":\"c\"}", 0},
      {"{\"B\":\"Ag==\"}", "{\"B\":\"AQ==\"}", "{\"B\":\"gA==\"}", 1},
      {"{\"S\":\"5\"}", "{\"N\":\"1\"}", "{\"N\":\"10\"}", 0},     /* type mismatch */
      {"{\"N\":\"5\"}", "{\"N\":\"1\"}", "{\"S\":\"z\"}", 0},      /* bounds of different types */
      {"{\"BOOL\":true}", "{\"BOOL\":false}", "{\"BOOL\":true}", 0}, /* not orderable */
      {"{\"N\":\"5\"}", "{\"N\":\"10\"}", "{\"N\":\"1\"}", 0},     /* lo > hi from the item: false */
      {NULL, "{\"N\":\"1\"}", "{\"N\":\"10\"}", 0},               /* missing */
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const dv_value *v = V(rows[i].v);
    dv_value *item = dv_arena_calloc(A, sizeof *item);
    item->type = DV_M;
    item->u.attrs = dv_arena_calloc(A, sizeof(dv_attr) * 3);
    if (v) item->u.attrs[item->n++] = (dv_attr){"a", 1, *v};
    item->u.attrs[item->n++] = (dv_attr){"hi", 2, *V(rows[i].hi)};
    item->u.attrs[item->n++] = (dv_attr){"lo", 2, *V(rows[i].lo)};
    dv_map_sort(item);
    int got = EV(F3(EXPR_BETWEEN, PN("a"), VN(rows[i].lo), VN(rows[i].hi)), item);
    int got2 = EV(F3(EXPR_BETWEEN, PN("a"), PN("lo"), PN("hi")), item);
    if (got != rows[i].want || got2 != rows[i].want) fprintf(stderr, "BETWEEN row %zu\n", i);
    CHECK_EQ_INT(got, rows[i].want);
    CHECK_EQ_INT(got2, rows[i].want);
  }
}

static void test_in(void) {
  const dv_value *item = ITEM("{\"a\":{\"N\":\"2\"},\"s\":{\"S\":\"x\"},\"l\":{\"L\":[{\"N\":\"1\"}]}}");
  expr_node *k[4];
  k[0] = PN("a");
  k[1] = VN("{\"S\":\"2\"}");
  k[2] = VN("{\"N\":\"2.0\"}");
  k[3] = VN("{\"N\":\"3\"}");
  CHECK_EQ_INT(EV(expr_node_new(A, EXPR_IN, 4, k), item), 1);
  k[2] = VN("{\"N\":\"4\"}");
  CHECK_EQ_INT(EV(expr_node_new(A, EXPR_IN, 4, k), item), 0);
  k[0] = PN("missing");
  k[1] = PN("other_missing");
  CHECK_EQ_INT(EV(expr_node_new(A, EXPR_IN, 2, k), item), 0);
  k[0] = PN("l");
  k[1] = VN("{\"L\":[{\"N\":\"1.0\"}]}");
  CHECK_EQ_INT(EV(expr_node_new(A, EXPR_IN, 2, k), item), 1);
  k[0] = PN("s");
  k[1] = PN("a");
  k[2] = VN("{\"S\":\"x\"}");
  CHECK_EQ_INT(EV(expr_node_new(A, EXPR_IN, 3, k), item), 1);
}

static void test_logic(void) {
  const dv_value *item = ITEM("{\"a\":{\"N\":\"1\"}}");
  expr_node *t = F2(EXPR_EQ, PN("a"), VN("{\"N\":\"1\"}"));
  expr_node *f = F2(EXPR_EQ, PN("a"), VN("{\"N\":\"2\"}"));
  CHECK_EQ_INT(EV(F2(EXPR_AND, t, t), item), 1);
  CHECK_EQ_INT(EV(F2(EXPR_AND, t, f), item), 0);
  CHECK_EQ_INT(EV(F2(EXPR_OR, f, t), item), 1);
  CHECK_EQ_INT(EV(F2(EXPR_OR, f, f), item), 0);
  CHECK_EQ_INT(EV(F1(EXPR_NOT, f), item), 1);
  CHECK_EQ_INT(EV(F1(EXPR_NOT, F1(EXPR_NOT, t)), item), 1);
  expr_node *k3[3] = {t, t, f};
  CHECK_EQ_INT(EV(expr_node_new(A, EXPR_AND, 3, k3), item), 0);
  CHECK_EQ_INT(EV(expr_node_new(A, EXPR_OR, 3, k3), item), 1);
  /* No condition holds; a missing item is the empty item. */
  CHECK_EQ_INT(EV(NULL, item), 1);
  CHECK_EQ_INT(EV(F1(EXPR_ATTR_NOT_EXISTS, PN("pk")), NULL), 1);
  CHECK_EQ_INT(EV(F2(EXPR_NE, PN("pk"), VN("{\"S\":\"x\"}")), NULL), 1);
  CHECK_EQ_INT(EV(F2(EXPR_EQ, PN("pk"), VN("{\"S\":\"x\"}")), NULL), 0);
  CHECK_EQ_INT(expr_matches(t, item), 1);
  CHECK_EQ_INT(expr_matches(f, item), 0);
}

/* attribute_exists / not_exists / attribute_type over nested paths. */
static void test_exists_and_type(void) {
  const dv_value *item = ITEM(
      "{\"m\":{\"M\":{\"l\":{\"L\":[{\"S\":\"a\"},{\"M\":{\"x\":{\"NULL\":true}}}]}}},"
      "\"s\":{\"S\":\"\"},\"n\":{\"N\":\"0\"}}");
  static const struct {
    const char *path;
    int exists;
  } rows[] = {
      {"m", 1},       {"m.l", 1},       {"m.l[0]", 1}, {"m.l[1].x", 1}, {"m.l[2]", 0},
      {"m.l[1].y", 0}, {"m.l.x", 0},     {"m[0]", 0},   {"s", 1},        {"s.x", 0},
      {"s[0]", 0},    {"n", 1},         {"zz", 0},     {"zz.y", 0},     {"m.l[0][0]", 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    CHECK_EQ_INT(EV(F1(EXPR_ATTR_EXISTS, PN(rows[i].path)), item), rows[i].exists);
    CHECK_EQ_INT(EV(F1(EXPR_ATTR_NOT_EXISTS, PN(rows[i].path)), item), !rows[i].exists);
  }
  /* attribute_type: every sample against every type name. */
  for (size_t i = 0; i < N_SAMPLES; i++) {
    dv_value *it = dv_arena_calloc(A, sizeof *it);
    it->type = DV_M;
    const dv_value *v = V(k_samples[i].json);
    if (v) {
      it->u.attrs = dv_arena_calloc(A, sizeof(dv_attr));
      it->u.attrs[0] = (dv_attr){"a", 1, *v};
      it->n = 1;
    }
    for (int t = DV_S; t <= DV_BS; t++) {
      expr_node *n = F2(EXPR_ATTR_TYPE, PN("a"), VN("{\"S\":\"S\"}"));
      n->type = (dv_type)t;
      int want = v && v->type == (dv_type)t;
      CHECK_EQ_INT(EV(n, it), want);
    }
  }
  expr_node *n = F2(EXPR_ATTR_TYPE, PN("m.l[1].x"), VN("{\"S\":\"NULL\"}"));
  n->type = DV_NULL;
  CHECK_EQ_INT(EV(n, item), 1);
}

/* begins_with and contains over every pair of sample types, plus the
 * positive cases. */
static void test_functions_matrix(void) {
  for (size_t i = 0; i < N_SAMPLES; i++)
    for (size_t j = 0; j < N_SAMPLES; j++) {
      const dv_value *l = V(k_samples[i].json), *r = V(k_samples[j].json);
      dv_value *it = dv_arena_calloc(A, sizeof *it);
      it->type = DV_M;
      it->u.attrs = dv_arena_calloc(A, sizeof(dv_attr) * 2);
      if (l) it->u.attrs[it->n++] = (dv_attr){"x", 1, *l};
      if (r) it->u.attrs[it->n++] = (dv_attr){"y", 1, *r};
      const char *ti = k_samples[i].name, *tj = k_samples[j].name;
      /* Samples are built so that a same-typed S/B pair is a prefix
       * (equal), the L holds the S and N samples, SS holds "abc", NS 5,
       * BS AQID. */
      int bw = i == j && (!strcmp(ti, "S") || !strcmp(ti, "B"));
      int ct = bw || (!strcmp(ti, "L") && (!strcmp(tj, "S") || !strcmp(tj, "N"))) ||
               (!strcmp(ti, "SS") && !strcmp(tj, "S")) || (!strcmp(ti, "NS") && !strcmp(tj, "N")) ||
               (!strcmp(ti, "BS") && !strcmp(tj, "B"));
      int got_bw = EV(F2(EXPR_BEGINS_WITH, PN("x"), PN("y")), it);
      int got_ct = EV(F2(EXPR_CONTAINS, PN("x"), PN("y")), it);
      if (got_bw != bw || got_ct != ct)
        fprintf(stderr, "functions x=%s y=%s: begins_with %d/%d contains %d/%d\n", ti, tj, got_bw, bw, got_ct,
                ct);
      CHECK_EQ_INT(got_bw, bw);
      CHECK_EQ_INT(got_ct, ct);
    }
  const dv_value *item = ITEM(
      "{\"s\":{\"S\":\"hello world\"},\"b\":{\"B\":\"AQIDBA==\"},\"ss\":{\"SS\":[\"\",\"a\"]},"
      "\"ns\":{\"NS\":[\"1.5\",\"2\"]},\"l\":{\"L\":[{\"M\":{\"k\":{\"N\":\"1\"}}},{\"SS\":[\"q\"]}]},"
      "\"m\":{\"M\":{\"hello\":{\"S\":\"x\"}}}}");
  static const struct {
    expr_node_kind k;
    const char *path, *val;
    int want;
  } rows[] = {
      {EXPR_BEGINS_WITH, "s", "{\"S\":\"hell\"}", 1},
      {EXPR_BEGINS_WITH, "s", "{\"S\":\"\"}", 1},
      {EXPR_BEGINS_WITH, "s", "{\"S\":\"hello world!\"}", 0},
      {EXPR_BEGINS_WITH, "s", "{\"S\":\"ello\"}", 0},
      {EXPR_BEGINS_WITH, "b", "{\"B\":\"AQI=\"}", 1},
      {EXPR_BEGINS_WITH, "b", "{\"B\":\"AgM=\"}", 0},
      {EXPR_BEGINS_WITH, "b", "{\"S\":\"\\u0001\"}", 0},
      {EXPR_CONTAINS, "s", "{\"S\":\"o w\"}", 1},
      {EXPR_CONTAINS, "s", "{\"S\":\"ld\"}", 1},
      {EXPR_CONTAINS, "s", "{\"S\":\"low\"}", 0},
      {EXPR_CONTAINS, "s", "{\"S\":\"\"}", 1},
      {EXPR_CONTAINS, "b", "{\"B\":\"AgM=\"}", 1},
      {EXPR_CONTAINS, "b", "{\"B\":\"AwI=\"}", 0},
      {EXPR_CONTAINS, "ss", "{\"S\":\"\"}", 1},
      {EXPR_CONTAINS, "ss", "{\"S\":\"b\"}", 0},
      {EXPR_CONTAINS, "ns", "{\"N\":\"1.50\"}", 1},
      {EXPR_CONTAINS, "ns", "{\"N\":\"2E0\"}", 1},
      {EXPR_CONTAINS, "ns", "{\"S\":\"2\"}", 0},
      {EXPR_CONTAINS, "l", "{\"M\":{\"k\":{\"N\":\"1.0\"}}}", 1},
      {EXPR_CONTAINS, "l", "{\"SS\":[\"q\"]}", 1},
      {EXPR_CONTAINS, "l", "{\"M\":{}}", 0},
      {EXPR_CONTAINS, "m", "{\"S\":\"hello\"}", 0}, /* maps contain nothing */
      {EXPR_CONTAINS, "missing", "{\"S\":\"a\"}", 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int got = EV(F2(rows[i].k, PN(rows[i].path), VN(rows[i].val)), item);
    if (got != rows[i].want) fprintf(stderr, "function row %zu\n", i);
    CHECK_EQ_INT(got, rows[i].want);
  }
  /* contains(path, path), begins_with(path, path). */
  const dv_value *it2 = ITEM("{\"a\":{\"S\":\"foobar\"},\"b\":{\"S\":\"foo\"},\"c\":{\"L\":[{\"S\":\"foo\"}]}}");
  CHECK_EQ_INT(EV(F2(EXPR_BEGINS_WITH, PN("a"), PN("b")), it2), 1);
  CHECK_EQ_INT(EV(F2(EXPR_CONTAINS, PN("c"), PN("b")), it2), 1);
  CHECK_EQ_INT(EV(F2(EXPR_CONTAINS, PN("b"), PN("a")), it2), 0);
}

/* size() of every type, and comparisons on it. */
static void test_size(void) {
  static const struct {
    const char *json; /* value of attribute a */
    const char *size; /* expected size, NULL = no value */
  } rows[] = {
      {"{\"S\":\"abc\"}", "3"},
      {"{\"S\":\"\"}", "0"},
      {"{\"S\":\"\\u00e9\\ud834\\udd1e\"}", "3"}, /* é + U+1D11E: UTF-16 units */
      {"{\"S\":\"\\u20ac\"}", "1"},               /* 3 UTF-8 bytes, 1 unit */
      {"{\"B\":\"AQIDBA==\"}", "4"},
      {"{\"B\":\"\"}", "0"},
      {"{\"SS\":[\"a\",\"b\",\"c\"]}", "3"},
      {"{\"NS\":[\"1\"]}", "1"},
      {"{\"BS\":[\"AQ==\",\"Ag==\"]}", "2"},
      {"{\"L\":[]}", "0"},
      {"{\"L\":[{\"NULL\":true},{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"}]}]}", "2"},
      {"{\"M\":{\"x\":{\"N\":\"1\"},\"y\":{\"N\":\"2\"}}}", "2"},
      {"{\"N\":\"12345\"}", NULL},
      {"{\"BOOL\":true}", NULL},
      {"{\"NULL\":true}", NULL},
      {NULL, NULL},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    dv_value *it = dv_arena_calloc(A, sizeof *it);
    it->type = DV_M;
    const dv_value *v = V(rows[i].json);
    if (v) {
      it->u.attrs = dv_arena_calloc(A, sizeof(dv_attr));
      it->u.attrs[0] = (dv_attr){"a", 1, *v};
      it->n = 1;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "{\"N\":\"%s\"}", rows[i].size ? rows[i].size : "0");
    int eq = EV(F2(EXPR_EQ, F1(EXPR_SIZE, PN("a")), VN(buf)), it);
    int ne = EV(F2(EXPR_NE, F1(EXPR_SIZE, PN("a")), VN(buf)), it);
    int ge = EV(F2(EXPR_GE, F1(EXPR_SIZE, PN("a")), VN("{\"N\":\"0\"}")), it);
    if (eq != (rows[i].size != NULL)) fprintf(stderr, "size row %zu\n", i);
    CHECK_EQ_INT(eq, rows[i].size != NULL);
    CHECK_EQ_INT(ne, rows[i].size == NULL);
    CHECK_EQ_INT(ge, rows[i].size != NULL);
  }
  /* size of a nested path, of a literal, size vs size, size in IN / BETWEEN. */
  const dv_value *item = ITEM("{\"m\":{\"M\":{\"l\":{\"L\":[{\"S\":\"ab\"},{\"S\":\"abcd\"}]}}}}");
  CHECK_EQ_INT(EV(F2(EXPR_GT, F1(EXPR_SIZE, PN("m.l[1]")), F1(EXPR_SIZE, PN("m.l[0]"))), item), 1);
  CHECK_EQ_INT(EV(F2(EXPR_EQ, F1(EXPR_SIZE, VN("{\"S\":\"xyz\"}")), VN("{\"N\":\"3\"}")), item), 1);
  CHECK_EQ_INT(EV(F3(EXPR_BETWEEN, F1(EXPR_SIZE, PN("m.l")), VN("{\"N\":\"1\"}"), VN("{\"N\":\"2\"}")), item), 1);
  expr_node *k[3] = {F1(EXPR_SIZE, PN("m.l[1]")), VN("{\"N\":\"3\"}"), VN("{\"N\":\"4\"}")};
  CHECK_EQ_INT(EV(expr_node_new(A, EXPR_IN, 3, k), item), 1);
  /* size(size(x)): size of a number has no value. */
  CHECK_EQ_INT(EV(F2(EXPR_GE, F1(EXPR_SIZE, F1(EXPR_SIZE, PN("m.l"))), VN("{\"N\":\"0\"}")), item), 0);
}

/* ---- updates (hand-built) ---------------------------------------------------------- */

/* Update builders. */
static expr_update *UPD0(void) {
  expr_update *u = dv_arena_calloc(A, sizeof *u);
  u->actions = dv_arena_calloc(A, sizeof(expr_action) * 16);
  return u;
}
static expr_update *act(expr_update *u, expr_action_kind k, const char *path, expr_node *value) {
  expr_action *x = &u->actions[u->n++];
  x->kind = k;
  x->path = P(path);
  x->value = value;
  return u;
}

/* Applies u to old (JSON item text, NULL = no item) with key {"pk":{"S":"k"}}
 * and schema pk (S). Returns the new item's JSON, or "ERR:<message>". */
static expr_changes g_changes;
static const char *APPLY(const expr_update *u, const char *old, unsigned flags) {
  static const p_key_schema ks = {"pk", DV_S, NULL, DV_NONE};
  const dv_value *o = old ? ITEM(old) : NULL;
  const dv_value *key = ITEM("{\"pk\":{\"S\":\"k\"}}");
  dv_value *nw = dv_arena_alloc(A, sizeof *nw);
  p_error e;
  p_error_init(&e);
  const char *r;
  if (expr_apply_update(u, o, key, &ks, flags, A, nw, &g_changes, &e) != 0) {
    char buf[512];
    snprintf(buf, sizeof buf, "ERR:%s", e.msg ? e.msg : "(none)");
    r = dv_arena_strndup(A, buf, strlen(buf));
  } else {
    r = J(nw);
  }
  p_error_clear(&e);
  return r;
}

static const char *UPDATED(expr_updated_which w) {
  dv_value out;
  expr_updated_values(&g_changes, w, A, &out);
  return J(&out);
}

#define ITEM0 "{\"pk\":{\"S\":\"k\"}"

static void test_update_set(void) {
  expr_update *u;
  /* new attribute, replace with another type */
  u = act(UPD0(), EXPR_ACT_SET, "a", VN("{\"N\":\"1\"}"));
  CHECK_EQ_STR(APPLY(u, NULL, 0), N(ITEM0 ",\"a\":{\"N\":\"1\"}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"a\":{\"S\":\"x\"},\"b\":{\"BOOL\":true}}", 0),
               N(ITEM0 ",\"a\":{\"N\":\"1\"},\"b\":{\"BOOL\":true}}"));
  /* nested map key: new and replaced */
  u = act(UPD0(), EXPR_ACT_SET, "m.x.y", VN("{\"S\":\"v\"}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"m\":{\"M\":{\"x\":{\"M\":{}}}}}", 0),
               N(ITEM0 ",\"m\":{\"M\":{\"x\":{\"M\":{\"y\":{\"S\":\"v\"}}}}}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"m\":{\"M\":{\"x\":{\"M\":{\"y\":{\"N\":\"0\"},\"z\":{\"N\":\"1\"}}}}}}", 0),
               N(ITEM0 ",\"m\":{\"M\":{\"x\":{\"M\":{\"y\":{\"S\":\"v\"},\"z\":{\"N\":\"1\"}}}}}}"));
  /* parent missing / wrong type / item missing + nested */
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"m\":{\"M\":{}}}", 0), "ERR:" EXPR_MSG_BAD_PATH);
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"m\":{\"M\":{\"x\":{\"S\":\"str\"}}}}", 0), "ERR:" EXPR_MSG_BAD_PATH);
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"m\":{\"M\":{\"x\":{\"L\":[]}}}}", 0), "ERR:" EXPR_MSG_BAD_PATH);
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"m\":{\"L\":[]}}", 0), "ERR:" EXPR_MSG_BAD_PATH);
  CHECK_EQ_STR(APPLY(u, NULL, 0), "ERR:" EXPR_MSG_BAD_PATH);
  /* list element replace, index on a map, append past the end */
  u = act(UPD0(), EXPR_ACT_SET, "l[1]", VN("{\"S\":\"new\"}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"},{\"N\":\"2\"}]}}", 0),
               N(ITEM0 ",\"l\":{\"L\":[{\"N\":\"0\"},{\"S\":\"new\"},{\"N\":\"2\"}]}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"M\":{\"1\":{\"N\":\"1\"}}}}", 0), "ERR:" EXPR_MSG_BAD_PATH);
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"SS\":[\"a\",\"b\"]}}", 0), "ERR:" EXPR_MSG_BAD_PATH);
  u = act(UPD0(), EXPR_ACT_SET, "l[0]", VN("{\"S\":\"first\"}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"L\":[]}}", 0), N(ITEM0 ",\"l\":{\"L\":[{\"S\":\"first\"}]}}"));
  u = act(UPD0(), EXPR_ACT_SET, "l[84]", VN("{\"N\":\"84\"}"));
  act(u, EXPR_ACT_SET, "l[37]", VN("{\"N\":\"37\"}"));
  act(u, EXPR_ACT_SET, "l[17]", VN("{\"N\":\"17\"}"));
  act(u, EXPR_ACT_SET, "l[50]", VN("{\"N\":\"50\"}"));
  act(u, EXPR_ACT_SET, "l[0]", VN("{\"N\":\"0\"}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"L\":[{\"S\":\"a\"},{\"S\":\"b\"}]}}", 0),
               N(ITEM0 ",\"l\":{\"L\":[{\"N\":\"0\"},{\"S\":\"b\"},{\"N\":\"17\"},{\"N\":\"37\"},"
                       "{\"N\":\"50\"},{\"N\":\"84\"}]}}"));
  /* nested path under an element past the end */
  u = act(UPD0(), EXPR_ACT_SET, "l[5].x", VN("{\"N\":\"1\"}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"L\":[{\"M\":{}}]}}", 0), "ERR:" EXPR_MSG_BAD_PATH);
  u = act(UPD0(), EXPR_ACT_SET, "l[0].x", VN("{\"N\":\"1\"}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"L\":[{\"M\":{}}]}}", 0),
               N(ITEM0 ",\"l\":{\"L\":[{\"M\":{\"x\":{\"N\":\"1\"}}}]}}"));
  /* nested lists */
  u = act(UPD0(), EXPR_ACT_SET, "l[1][0]", VN("{\"N\":\"9\"}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"L\":[{\"N\":\"0\"},{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"}]}]}}", 0),
               N(ITEM0 ",\"l\":{\"L\":[{\"N\":\"0\"},{\"L\":[{\"N\":\"9\"},{\"N\":\"2\"}]}]}}"));
  /* copying paths: pre-update values */
  u = act(UPD0(), EXPR_ACT_SET, "x", VN("{\"N\":\"2\"}"));
  act(u, EXPR_ACT_SET, "y", PN("x"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"x\":{\"N\":\"1\"}}", 0), N(ITEM0 ",\"x\":{\"N\":\"2\"},\"y\":{\"N\":\"1\"}}"));
  CHECK_EQ_STR(APPLY(u, NULL, 0), "ERR:" EXPR_MSG_MISSING_RHS);
  u = act(UPD0(), EXPR_ACT_SET, "z", PN("z"));
  CHECK_EQ_STR(APPLY(u, NULL, 0), "ERR:" EXPR_MSG_MISSING_RHS);
  u = act(UPD0(), EXPR_ACT_REMOVE, "a", NULL);
  act(u, EXPR_ACT_SET, "b", PN("a.c[0]"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"a\":{\"M\":{\"c\":{\"L\":[{\"S\":\"q\"}]}}}}", 0),
               N(ITEM0 ",\"b\":{\"S\":\"q\"}}"));
  /* RHS reading the key on a new item (the item starts as the key) */
  u = act(UPD0(), EXPR_ACT_SET, "copy", PN("pk"));
  CHECK_EQ_STR(APPLY(u, NULL, 0), N(ITEM0 ",\"copy\":{\"S\":\"k\"}}"));
  /* a map copied from a literal keeps its shape */
  u = act(UPD0(), EXPR_ACT_SET, "m", VN("{\"M\":{\"l\":{\"L\":[{\"NULL\":true}]}}}"));
  CHECK_EQ_STR(APPLY(u, NULL, 0), N(ITEM0 ",\"m\":{\"M\":{\"l\":{\"L\":[{\"NULL\":true}]}}}}"));
  /* key attribute */
  u = act(UPD0(), EXPR_ACT_SET, "pk", VN("{\"S\":\"other\"}"));
  CHECK_EQ_STR(APPLY(u, NULL, 0),
               "ERR:One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key");
  u = act(UPD0(), EXPR_ACT_REMOVE, "pk.x", NULL);
  CHECK(strncmp(APPLY(u, ITEM0 "}", 0), "ERR:One or more parameter values were invalid: Cannot update attribute pk", 70) == 0);
}

static void test_update_arith(void) {
  expr_update *u;
  u = act(UPD0(), EXPR_ACT_SET, "n", F2(EXPR_PLUS, PN("n"), VN("{\"N\":\"1.5\"}")));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"N\":\"2\"}}", 0), N(ITEM0 ",\"n\":{\"N\":\"3.5\"}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"S\":\"2\"}}", 0), "ERR:" EXPR_MSG_BAD_TYPE);
  CHECK_EQ_STR(APPLY(u, ITEM0 "}", 0), "ERR:" EXPR_MSG_MISSING_RHS);
  u = act(UPD0(), EXPR_ACT_SET, "n", F2(EXPR_MINUS, PN("n"), PN("m")));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"N\":\"2\"},\"m\":{\"N\":\"5\"}}", 0),
               N(ITEM0 ",\"n\":{\"N\":\"-3\"},\"m\":{\"N\":\"5\"}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"N\":\"2\"},\"m\":{\"NS\":[\"5\"]}}", 0), "ERR:" EXPR_MSG_BAD_TYPE);
  /* exact decimal */
  u = act(UPD0(), EXPR_ACT_SET, "n", F2(EXPR_PLUS, VN("{\"N\":\"0.1\"}"), VN("{\"N\":\"0.2\"}")));
  CHECK_EQ_STR(APPLY(u, NULL, 0), N(ITEM0 ",\"n\":{\"N\":\"0.3\"}}"));
  u = act(UPD0(), EXPR_ACT_SET, "n", F2(EXPR_MINUS, PN("n"), VN("{\"N\":\"0.000000000000000000000000000000000001\"}")));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"N\":\"1\"}}", 0),
               N(ITEM0 ",\"n\":{\"N\":\"0.999999999999999999999999999999999999\"}}"));
  /* more than 38 digits -> the overflow message */
  u = act(UPD0(), EXPR_ACT_SET, "n", F2(EXPR_PLUS, PN("n"), VN("{\"N\":\"1\"}")));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"N\":\"1E50\"}}", 0),
               "ERR:Number overflow. Attempting to store a number with magnitude larger than supported range");
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"N\":\"99999999999999999999999999999999999999\"}}", 0),
               N(ITEM0 ",\"n\":{\"N\":\"100000000000000000000000000000000000000\"}}")); /* 1 digit */
  u = act(UPD0(), EXPR_ACT_SET, "n", F2(EXPR_PLUS, PN("n"), VN("{\"N\":\"0.1\"}")));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"N\":\"99999999999999999999999999999999999999\"}}", 0),
               "ERR:Number overflow. Attempting to store a number with magnitude larger than supported range");
  /* if_not_exists */
  u = act(UPD0(), EXPR_ACT_SET, "n",
          F2(EXPR_PLUS, F2(EXPR_IF_NOT_EXISTS, PN("n"), VN("{\"N\":\"0\"}")), VN("{\"N\":\"1\"}")));
  CHECK_EQ_STR(APPLY(u, NULL, 0), N(ITEM0 ",\"n\":{\"N\":\"1\"}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"N\":\"41\"}}", 0), N(ITEM0 ",\"n\":{\"N\":\"42\"}}"));
  u = act(UPD0(), EXPR_ACT_SET, "a", F2(EXPR_IF_NOT_EXISTS, PN("b.c"), VN("{\"S\":\"dflt\"}")));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"b\":{\"M\":{\"c\":{\"BOOL\":false}}}}", 0),
               N(ITEM0 ",\"a\":{\"BOOL\":false},\"b\":{\"M\":{\"c\":{\"BOOL\":false}}}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"b\":{\"S\":\"notamap\"}}", 0),
               N(ITEM0 ",\"a\":{\"S\":\"dflt\"},\"b\":{\"S\":\"notamap\"}}"));
  u = act(UPD0(), EXPR_ACT_SET, "a",
          F2(EXPR_IF_NOT_EXISTS, PN("a"), F2(EXPR_IF_NOT_EXISTS, PN("b"), VN("{\"N\":\"3\"}"))));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"b\":{\"N\":\"2\"}}", 0), N(ITEM0 ",\"a\":{\"N\":\"2\"},\"b\":{\"N\":\"2\"}}"));
  /* list_append */
  u = act(UPD0(), EXPR_ACT_SET, "l", F2(EXPR_LIST_APPEND, PN("l"), VN("{\"L\":[{\"N\":\"3\"}]}")));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"}]}}", 0),
               N(ITEM0 ",\"l\":{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"},{\"N\":\"3\"}]}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"SS\":[\"a\"]}}", 0), "ERR:" EXPR_MSG_BAD_TYPE);
  CHECK_EQ_STR(APPLY(u, ITEM0 "}", 0), "ERR:" EXPR_MSG_MISSING_RHS);
  u = act(UPD0(), EXPR_ACT_SET, "l", F2(EXPR_LIST_APPEND, VN("{\"L\":[{\"N\":\"0\"}]}"), PN("l")));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"L\":[{\"N\":\"1\"}]}}", 0),
               N(ITEM0 ",\"l\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"}]}}"));
  u = act(UPD0(), EXPR_ACT_SET, "l",
          F2(EXPR_LIST_APPEND, F2(EXPR_IF_NOT_EXISTS, PN("l"), VN("{\"L\":[]}")), VN("{\"L\":[{\"S\":\"x\"}]}")));
  CHECK_EQ_STR(APPLY(u, NULL, 0), N(ITEM0 ",\"l\":{\"L\":[{\"S\":\"x\"}]}}"));
}

static void test_update_remove(void) {
  expr_update *u;
  const char *l6 = ITEM0 ",\"a\":{\"L\":[{\"N\":\"2\"},{\"N\":\"3\"},{\"N\":\"4\"},{\"N\":\"5\"},{\"N\":\"6\"},{\"N\":\"7\"}]}}";
  u = act(UPD0(), EXPR_ACT_REMOVE, "a[1]", NULL);
  act(u, EXPR_ACT_SET, "a[3]", VN("{\"N\":\"17\"}"));
  CHECK_EQ_STR(APPLY(u, l6, 0),
               N(ITEM0 ",\"a\":{\"L\":[{\"N\":\"2\"},{\"N\":\"4\"},{\"N\":\"17\"},{\"N\":\"6\"},{\"N\":\"7\"}]}}"));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_OLD), N("{\"a\":{\"L\":[{\"N\":\"3\"},{\"N\":\"5\"}]}}"));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_NEW), N("{\"a\":{\"L\":[{\"N\":\"17\"}]}}"));
  u = act(UPD0(), EXPR_ACT_REMOVE, "a[1]", NULL);
  act(u, EXPR_ACT_REMOVE, "a[2]", NULL);
  CHECK_EQ_STR(APPLY(u, l6, 0), N(ITEM0 ",\"a\":{\"L\":[{\"N\":\"2\"},{\"N\":\"5\"},{\"N\":\"6\"},{\"N\":\"7\"}]}}"));
  u = act(UPD0(), EXPR_ACT_REMOVE, "a[10]", NULL);
  CHECK_EQ_STR(APPLY(u, l6, 0), N(l6));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_OLD), "{}");
  u = act(UPD0(), EXPR_ACT_REMOVE, "a[0]", NULL);
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"a\":{\"L\":[{\"N\":\"1\"}]}}", 0), N(ITEM0 ",\"a\":{\"L\":[]}}"));
  u = act(UPD0(), EXPR_ACT_REMOVE, "m.x", NULL);
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"m\":{\"M\":{\"x\":{\"N\":\"1\"}}}}", 0), N(ITEM0 ",\"m\":{\"M\":{}}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"m\":{\"M\":{\"y\":{\"N\":\"1\"}}}}", 0), N(ITEM0 ",\"m\":{\"M\":{\"y\":{\"N\":\"1\"}}}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 "}", 0), "ERR:" EXPR_MSG_BAD_PATH);             /* parent missing */
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"m\":{\"N\":\"1\"}}", 0), "ERR:" EXPR_MSG_BAD_PATH); /* parent scalar */
  CHECK_EQ_STR(APPLY(u, NULL, 0), N(ITEM0 "}"));                             /* no item: ignored */
  u = act(UPD0(), EXPR_ACT_REMOVE, "a", NULL);
  act(u, EXPR_ACT_REMOVE, "b", NULL);
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"a\":{\"N\":\"1\"},\"c\":{\"N\":\"3\"}}", 0), N(ITEM0 ",\"c\":{\"N\":\"3\"}}"));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_OLD), N("{\"a\":{\"N\":\"1\"}}"));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_NEW), "{}");
  /* remove inside a list element */
  u = act(UPD0(), EXPR_ACT_REMOVE, "l[1].x", NULL);
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"L\":[{\"N\":\"0\"},{\"M\":{\"x\":{\"N\":\"1\"},\"y\":{\"N\":\"2\"}}}]}}", 0),
               N(ITEM0 ",\"l\":{\"L\":[{\"N\":\"0\"},{\"M\":{\"y\":{\"N\":\"2\"}}}]}}"));
}

static void test_update_add_delete(void) {
  expr_update *u;
  u = act(UPD0(), EXPR_ACT_ADD, "n", VN("{\"N\":\"5\"}"));
  CHECK_EQ_STR(APPLY(u, NULL, 0), N(ITEM0 ",\"n\":{\"N\":\"5\"}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"N\":\"-5.5\"}}", 0), N(ITEM0 ",\"n\":{\"N\":\"-0.5\"}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"S\":\"5\"}}", 0), "ERR:" EXPR_MSG_BAD_TYPE);
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"NS\":[\"5\"]}}", 0), "ERR:" EXPR_MSG_BAD_TYPE);
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"L\":[]}}", 0), "ERR:" EXPR_MSG_BAD_TYPE);
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"N\":\"1E125\"}}", 0),
               "ERR:Number overflow. Attempting to store a number with magnitude larger than supported range");
  u = act(UPD0(), EXPR_ACT_ADD, "s", VN("{\"SS\":[\"c\",\"a\",\"\"]}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"s\":{\"SS\":[\"a\",\"b\"]}}", 0),
               N(ITEM0 ",\"s\":{\"SS\":[\"\",\"a\",\"b\",\"c\"]}}"));
  CHECK_EQ_STR(APPLY(u, NULL, 0), N(ITEM0 ",\"s\":{\"SS\":[\"\",\"a\",\"c\"]}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"s\":{\"NS\":[\"1\"]}}", 0), "ERR:" EXPR_MSG_BAD_TYPE);
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"s\":{\"S\":\"a\"}}", 0), "ERR:" EXPR_MSG_BAD_TYPE);
  u = act(UPD0(), EXPR_ACT_ADD, "s", VN("{\"NS\":[\"1.0\",\"10\"]}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"s\":{\"NS\":[\"1\",\"2\"]}}", 0), N(ITEM0 ",\"s\":{\"NS\":[\"1\",\"2\",\"10\"]}}"));
  u = act(UPD0(), EXPR_ACT_ADD, "s", VN("{\"BS\":[\"AQ==\"]}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"s\":{\"BS\":[\"gA==\"]}}", 0), N(ITEM0 ",\"s\":{\"BS\":[\"AQ==\",\"gA==\"]}}"));
  /* nested ADD, ADD to a list element, ADD past the end */
  u = act(UPD0(), EXPR_ACT_ADD, "m.c", VN("{\"N\":\"1\"}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"m\":{\"M\":{}}}", 0), N(ITEM0 ",\"m\":{\"M\":{\"c\":{\"N\":\"1\"}}}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 "}", 0), "ERR:" EXPR_MSG_BAD_PATH);
  u = act(UPD0(), EXPR_ACT_ADD, "l[0]", VN("{\"N\":\"1\"}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"L\":[{\"N\":\"1\"}]}}", 0), N(ITEM0 ",\"l\":{\"L\":[{\"N\":\"2\"}]}}"));
  /* DELETE */
  u = act(UPD0(), EXPR_ACT_DELETE, "s", VN("{\"SS\":[\"a\",\"zz\"]}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"s\":{\"SS\":[\"a\",\"b\"]}}", 0), N(ITEM0 ",\"s\":{\"SS\":[\"b\"]}}"));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_OLD), N("{\"s\":{\"SS\":[\"a\",\"b\"]}}"));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_NEW), N("{\"s\":{\"SS\":[\"b\"]}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"s\":{\"SS\":[\"a\"]}}", 0), N(ITEM0 "}")); /* empty -> removed */
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_NEW), "{}");
  CHECK_EQ_STR(APPLY(u, ITEM0 "}", 0), N(ITEM0 "}"));                      /* missing: no-op */
  CHECK_EQ_STR(APPLY(u, NULL, 0), N(ITEM0 "}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"s\":{\"NS\":[\"1\"]}}", 0), "ERR:" EXPR_MSG_BAD_TYPE);
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"s\":{\"S\":\"a\"}}", 0), "ERR:" EXPR_MSG_BAD_TYPE);
  u = act(UPD0(), EXPR_ACT_DELETE, "s", VN("{\"NS\":[\"1.00\"]}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"s\":{\"NS\":[\"1\",\"3\"]}}", 0), N(ITEM0 ",\"s\":{\"NS\":[\"3\"]}}"));
  u = act(UPD0(), EXPR_ACT_DELETE, "l[0]", VN("{\"NS\":[\"1\"]}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"L\":[{\"NS\":[\"1\"]},{\"N\":\"9\"}]}}", 0),
               N(ITEM0 ",\"l\":{\"L\":[{\"N\":\"9\"}]}}"));
  /* legacy AttributeUpdates: ADD appends lists, its own type message */
  u = act(UPD0(), EXPR_ACT_ADD, "l", VN("{\"L\":[{\"S\":\"b\"}]}"));
  u->actions[0].legacy = 1;
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"L\":[{\"S\":\"a\"}]}}", 0),
               N(ITEM0 ",\"l\":{\"L\":[{\"S\":\"a\"},{\"S\":\"b\"}]}}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"S\":\"a\"}}", 0), "ERR:" EXPR_MSG_LEGACY_TYPE);
  CHECK_EQ_STR(APPLY(u, NULL, 0), N(ITEM0 ",\"l\":{\"L\":[{\"S\":\"b\"}]}}"));
}

static void test_update_size(void) {
  /* A 1-byte key ("pk" = "k") and SET b = :pad: the figure is 3 + 19 + 1 +
   * size(:pad); the item pk(2)+1 + b(1) + pad. The limit is 409,600. */
  size_t pad = 409577;
  char *big = malloc(420000);
  for (int round = 0; round < 2; round++) {
    size_t n = pad + (size_t)round;
    int len = snprintf(big, 32, "{\"S\":\"");
    memset(big + len, 'x', n);
    strcpy(big + len + n, "\"}");
    expr_update *u = act(UPD0(), EXPR_ACT_SET, "b", VN(big));
    const char *r = APPLY(u, NULL, 0);
    if (round == 0) {
      CHECK(strncmp(r, "ERR:", 4) != 0);
      CHECK_EQ_INT(expr_update_figure(u, NULL), 409600);
    } else {
      CHECK_EQ_STR(r, "ERR:" EXPR_MSG_ITEM_TOO_BIG);
      /* the finished item alone (409,582 bytes) passes under the transact rule */
      CHECK(strncmp(APPLY(u, NULL, EXPR_UPD_FINAL_SIZE_ONLY), "ERR:", 4) != 0);
    }
  }
  /* finished item too big (the old item already big, a small SET) */
  int len = snprintf(big, 64, "{\"pk\":{\"S\":\"k\"},\"big\":{\"S\":\"");
  memset(big + len, 'y', 409590);
  strcpy(big + len + 409590, "\"}}");
  expr_update *u = act(UPD0(), EXPR_ACT_SET, "c", VN("{\"S\":\"0123456789\"}"));
  CHECK_EQ_STR(APPLY(u, big, EXPR_UPD_FINAL_SIZE_ONLY), "ERR:" EXPR_MSG_ITEM_TOO_BIG);
  CHECK(strncmp(APPLY(u, big, EXPR_UPD_NO_SIZE_CHECK), "ERR:", 4) != 0);
  free(big);
  /* the figure's parts */
  u = act(UPD0(), EXPR_ACT_REMOVE, "r", NULL);
  CHECK_EQ_INT(expr_update_figure(u, NULL), 3 + 2);
  u = act(UPD0(), EXPR_ACT_SET, "ab.c[12]", F2(EXPR_PLUS, PN("x.y"), VN("{\"N\":\"1\"}")));
  /* 3 + 19 + (2 + 4+1 + 4+2) + 34 + (1 + 14+1 + 14+1) + 2 */
  CHECK_EQ_INT(expr_update_figure(u, NULL), 3 + 19 + 13 + 34 + 31 + 2);
  u = act(UPD0(), EXPR_ACT_ADD, "s", VN("{\"SS\":[\"aa\",\"bbb\"]}"));
  CHECK_EQ_INT(expr_update_figure(u, ITEM("{\"s\":{\"SS\":[\"aa\"]}}")), 3 + 19 + 1 + 3);
  CHECK_EQ_INT(expr_update_figure(u, NULL), 3 + 19 + 1 + 5);
  /* nesting: 31 maps around a scalar pass, 32 fail */
  char doc[1024];
  for (int wraps = 30; wraps <= 31; wraps++) {
    size_t p = 0;
    for (int i = 0; i < wraps; i++) p += (size_t)snprintf(doc + p, sizeof doc - p, "{\"M\":{\"m\":");
    p += (size_t)snprintf(doc + p, sizeof doc - p, "{\"N\":\"1\"}");
    for (int i = 0; i < wraps; i++) p += (size_t)snprintf(doc + p, sizeof doc - p, "}}");
    u = act(UPD0(), EXPR_ACT_SET, "top.m", VN(doc)); /* top is itself a map: +1 level */
    const char *r = APPLY(u, ITEM0 ",\"top\":{\"M\":{}}}", 0);
    if (wraps == 30)
      CHECK(strncmp(r, "ERR:", 4) != 0);
    else
      CHECK_EQ_STR(r, "ERR:Nesting Levels have exceeded supported limits: Attributes in the item have nested "
                      "levels beyond supported limit");
  }
}

/* ReturnValues maps (operations.md 5.2). */
static void test_updated_values(void) {
  expr_update *u;
  u = act(UPD0(), EXPR_ACT_SET, "a.b", VN("{\"N\":\"2\"}"));
  APPLY(u, ITEM0 ",\"a\":{\"M\":{\"b\":{\"N\":\"1\"},\"z\":{\"N\":\"0\"}}}}", 0);
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_OLD), N("{\"a\":{\"M\":{\"b\":{\"N\":\"1\"}}}}"));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_NEW), N("{\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}}}"));
  u = act(UPD0(), EXPR_ACT_SET, "a.c[1]", VN("{\"N\":\"70\"}"));
  APPLY(u, ITEM0 ",\"a\":{\"M\":{\"c\":{\"L\":[{\"N\":\"10\"},{\"N\":\"20\"},{\"N\":\"30\"}]}}}}", 0);
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_OLD), N("{\"a\":{\"M\":{\"c\":{\"L\":[{\"N\":\"20\"}]}}}}"));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_NEW), N("{\"a\":{\"M\":{\"c\":{\"L\":[{\"N\":\"70\"}]}}}}"));
  /* new attribute: absent from OLD; new item: OLD empty */
  u = act(UPD0(), EXPR_ACT_SET, "x", VN("{\"S\":\"v\"}"));
  act(u, EXPR_ACT_SET, "y", VN("{\"S\":\"w\"}"));
  APPLY(u, ITEM0 ",\"y\":{\"S\":\"old\"}}", 0);
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_OLD), N("{\"y\":{\"S\":\"old\"}}"));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_NEW), N("{\"x\":{\"S\":\"v\"},\"y\":{\"S\":\"w\"}}"));
  APPLY(u, NULL, 0);
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_OLD), "{}");
  /* an appended element is reported at its landing position, merged with a
   * sibling write in the same list */
  u = act(UPD0(), EXPR_ACT_SET, "l[9]", VN("{\"S\":\"end\"}"));
  act(u, EXPR_ACT_SET, "l[0]", VN("{\"S\":\"first\"}"));
  APPLY(u, ITEM0 ",\"l\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"}]}}", 0);
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_OLD), N("{\"l\":{\"L\":[{\"N\":\"0\"}]}}"));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_NEW), N("{\"l\":{\"L\":[{\"S\":\"first\"},{\"S\":\"end\"}]}}"));
  /* ADD and rewriting an equal value count as updates */
  u = act(UPD0(), EXPR_ACT_ADD, "n", VN("{\"N\":\"1\"}"));
  act(u, EXPR_ACT_SET, "same", VN("{\"S\":\"v\"}"));
  APPLY(u, ITEM0 ",\"n\":{\"N\":\"1\"},\"same\":{\"S\":\"v\"}}", 0);
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_OLD), N("{\"n\":{\"N\":\"1\"},\"same\":{\"S\":\"v\"}}"));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_NEW), N("{\"n\":{\"N\":\"2\"},\"same\":{\"S\":\"v\"}}"));
  /* writes under a shifted list element land at the new position */
  u = act(UPD0(), EXPR_ACT_REMOVE, "l[0]", NULL);
  act(u, EXPR_ACT_SET, "l[2].k", VN("{\"N\":\"5\"}"));
  CHECK_EQ_STR(APPLY(u, ITEM0 ",\"l\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"},{\"M\":{\"j\":{\"N\":\"4\"}}}]}}", 0),
               N(ITEM0 ",\"l\":{\"L\":[{\"N\":\"1\"},{\"M\":{\"j\":{\"N\":\"4\"},\"k\":{\"N\":\"5\"}}}]}}"));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_OLD), N("{\"l\":{\"L\":[{\"N\":\"0\"}]}}"));
  CHECK_EQ_STR(UPDATED(EXPR_UPDATED_NEW), N("{\"l\":{\"L\":[{\"M\":{\"k\":{\"N\":\"5\"}}}]}}"));
}

/* Randomised SET / REMOVE mixes on one list against a direct model of the
 * rule "indexes name pre-update positions, out-of-range SETs append in index
 * order", with UPDATED_OLD / UPDATED_NEW checked against the same model. */
static void test_update_list_random(void) {
  uint32_t seed = 12345;
#define RND(n) ((seed = seed * 1103515245u + 12345u) >> 16) % (n)
  for (int iter = 0; iter < 300; iter++) {
    int len = (int)RND(6), nact = 1 + (int)RND(5);
    int kind[12]; /* per index 0..11: 0 none, 1 SET, 2 REMOVE */
    memset(kind, 0, sizeof kind);
    char old[512], want[512], wold[512], wnew[512], buf[64];
    size_t p = (size_t)snprintf(old, sizeof old, ITEM0 ",\"l\":{\"L\":[");
    for (int i = 0; i < len; i++) p += (size_t)snprintf(old + p, sizeof old - p, "%s{\"N\":\"%d\"}", i ? "," : "", i);
    snprintf(old + p, sizeof old - p, "]}}");
    expr_update *u = UPD0();
    for (int k = 0; k < nact; k++) {
      int idx = (int)RND(10);
      if (kind[idx]) continue;
      kind[idx] = 1 + (int)RND(2);
      snprintf(buf, sizeof buf, "l[%d]", idx);
      if (kind[idx] == 1) {
        char v[64];
        snprintf(v, sizeof v, "{\"N\":\"%d\"}", 100 + idx);
        act(u, EXPR_ACT_SET, buf, VN(v));
      } else {
        act(u, EXPR_ACT_REMOVE, buf, NULL);
      }
    }
    /* the model */
    size_t w = (size_t)snprintf(want, sizeof want, ITEM0 ",\"l\":{\"L\":[");
    size_t wo = (size_t)snprintf(wold, sizeof wold, "{\"l\":{\"L\":[");
    size_t wn = (size_t)snprintf(wnew, sizeof wnew, "{\"l\":{\"L\":[");
    int n = 0, no = 0, nn = 0;
    for (int i = 0; i < 10; i++) {
      if (i < len && kind[i]) wo += (size_t)snprintf(wold + wo, sizeof wold - wo, "%s{\"N\":\"%d\"}", no++ ? "," : "", i);
      if (i < len && kind[i] == 0)
        w += (size_t)snprintf(want + w, sizeof want - w, "%s{\"N\":\"%d\"}", n++ ? "," : "", i);
      if (kind[i] == 1) {
        w += (size_t)snprintf(want + w, sizeof want - w, "%s{\"N\":\"%d\"}", n++ ? "," : "", 100 + i);
        wn += (size_t)snprintf(wnew + wn, sizeof wnew - wn, "%s{\"N\":\"%d\"}", nn++ ? "," : "", 100 + i);
      }
    }
    snprintf(want + w, sizeof want - w, "]}}");
    snprintf(wold + wo, sizeof wold - wo, "]}}");
    snprintf(wnew + wn, sizeof wnew - wn, "]}}");
    CHECK_EQ_STR(APPLY(u, old, 0), N(want));
    CHECK_EQ_STR(UPDATED(EXPR_UPDATED_OLD), no ? N(wold) : "{}");
    CHECK_EQ_STR(UPDATED(EXPR_UPDATED_NEW), nn ? N(wnew) : "{}");
  }
#undef RND
}

/* ---- projection ------------------------------------------------------------------- */

static const char *PROJ(const char *item, const char *const *paths, size_t n) {
  expr_path *ps = dv_arena_alloc(A, sizeof(expr_path) * (n + 1));
  for (size_t i = 0; i < n; i++) ps[i] = P(paths[i]);
  dv_value out = expr_project(ITEM(item), ps, n, A);
  return J(&out);
}

static void test_projection(void) {
  const char *item =
      "{\"pk\":{\"S\":\"k\"},\"a\":{\"M\":{\"b\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"},{\"N\":\"2\"}]},"
      "\"c\":{\"S\":\"x\"}}},\"l\":{\"L\":[{\"M\":{\"a\":{\"N\":\"1\"},\"b\":{\"N\":\"2\"},\"c\":{\"N\":\"3\"}}},"
      "{\"S\":\"s1\"},{\"S\":\"s2\"}]},\"s\":{\"S\":\"str\"},\"e\":{\"M\":{}}}";
  const char *p1[] = {"a.b[1]"};
  CHECK_EQ_STR(PROJ(item, p1, 1), N("{\"a\":{\"M\":{\"b\":{\"L\":[{\"N\":\"1\"}]}}}}"));
  const char *p2[] = {"l[2]", "l[0]"};
  CHECK_EQ_STR(PROJ(item, p2, 2),
               N("{\"l\":{\"L\":[{\"M\":{\"a\":{\"N\":\"1\"},\"b\":{\"N\":\"2\"},\"c\":{\"N\":\"3\"}}},{\"S\":\"s2\"}]}}"));
  const char *p3[] = {"l[0].a", "l[0].c"};
  CHECK_EQ_STR(PROJ(item, p3, 2), N("{\"l\":{\"L\":[{\"M\":{\"a\":{\"N\":\"1\"},\"c\":{\"N\":\"3\"}}}]}}"));
  const char *p4[] = {"pk", "a.c", "a.b[2]", "s"};
  CHECK_EQ_STR(PROJ(item, p4, 4),
               N("{\"pk\":{\"S\":\"k\"},\"a\":{\"M\":{\"b\":{\"L\":[{\"N\":\"2\"}]},\"c\":{\"S\":\"x\"}}},\"s\":{\"S\":\"str\"}}"));
  /* non-resolving: missing, index past the end, .x on a list, [0] on a map
   * or a scalar, a key missing inside an existing map */
  const char *p5[] = {"zz", "l[7]", "l.x", "a[0]", "s[0]", "a.nope", "e.x", "l[1].q"};
  CHECK_EQ_STR(PROJ(item, p5, 8), "{}");
  const char *p6[] = {"zz", "e"};
  CHECK_EQ_STR(PROJ(item, p6, 2), N("{\"e\":{\"M\":{}}}"));
  const char *p7[] = {"l[5]", "l[1]"};
  CHECK_EQ_STR(PROJ(item, p7, 2), N("{\"l\":{\"L\":[{\"S\":\"s1\"}]}}"));
  /* whole attribute plus a sub-path of it (the parser rejects the overlap;
   * the whole value wins here) */
  const char *p8[] = {"a", "a.c"};
  CHECK_EQ_STR(PROJ(item, p8, 2),
               N("{\"a\":{\"M\":{\"b\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"},{\"N\":\"2\"}]},\"c\":{\"S\":\"x\"}}}}"));
  /* a name containing a dot is one element */
  const char *p9[] = {"a"};
  CHECK_EQ_STR(PROJ("{\"a.b\":{\"N\":\"1\"},\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}}}", p9, 1),
               N("{\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}}}"));
  expr_path dotted = {1, NULL};
  dotted.elems = dv_arena_calloc(A, sizeof(expr_path_elem));
  dotted.elems[0].name = "a.b";
  dotted.elems[0].name_len = 3;
  dv_value o = expr_project(ITEM("{\"a.b\":{\"N\":\"1\"},\"a\":{\"M\":{\"b\":{\"N\":\"2\"}}}}"), &dotted, 1, A);
  CHECK_EQ_STR(J(&o), N("{\"a.b\":{\"N\":\"1\"}}"));
  /* nothing projected from an empty item; the result shares nothing with the input */
  CHECK_EQ_STR(PROJ("{}", p1, 1), "{}");
  dv_arena *tmp = dv_arena_new();
  dv_value src = dv_clone(tmp, ITEM(item));
  expr_path pp = P("a.c");
  dv_value out = expr_project(&src, &pp, 1, A);
  dv_arena_free(tmp);
  CHECK_EQ_STR(J(&out), N("{\"a\":{\"M\":{\"c\":{\"S\":\"x\"}}}}"));
}

/* ---- end to end through the parser ----------------------------------------------- */

typedef struct env {
  expr_names ean;   /* names */
  expr_values eav;  /* values */
  int has_ean;      /* EAN given */
  int has_eav;      /* EAV given */
} env;

static env *ENV(const char *ean_json, const char *eav_json) {
  env *e = dv_arena_calloc(A, sizeof *e);
  p_error err;
  p_error_init(&err);
  if (ean_json) {
    json_t *j = jparse(ean_json);
    if (expr_names_from_json(j, A, &e->ean, &err)) abort();
    json_decref(j);
    e->has_ean = 1;
  }
  if (eav_json) {
    json_t *j = jparse(eav_json);
    if (expr_values_from_json(j, P_LAYER_CURRENT, EXPR_EAV_BARE, A, &e->eav, &err)) abort();
    json_decref(j);
    e->has_eav = 1;
  }
  p_error_clear(&err);
  return e;
}

/* Parses a condition; NULL (and a message on stderr) if it does not parse. */
static expr_node *COND(const char *text, const env *e) {
  expr_node *n = NULL;
  p_error err;
  p_error_init(&err);
  if (expr_parse_condition(text, strlen(text), EXPR_CONDITION, e && e->has_ean ? &e->ean : NULL,
                           e && e->has_eav ? &e->eav : NULL, NULL, A, &n, &err) != 0) {
    fprintf(stderr, "condition %s does not parse: %s\n", text, err.msg);
    n = NULL;
  }
  p_error_clear(&err);
  return n;
}

static expr_update *UPDT(const char *text, const env *e) {
  expr_update *u = NULL;
  p_error err;
  p_error_init(&err);
  if (expr_parse_update(text, strlen(text), e && e->has_ean ? &e->ean : NULL, e && e->has_eav ? &e->eav : NULL,
                        NULL, A, &u, &err) != 0) {
    fprintf(stderr, "update %s does not parse: %s\n", text, err.msg);
    u = NULL;
  }
  p_error_clear(&err);
  return u;
}

static const char *PROJT(const char *item, const char *text, const env *e) {
  expr_projection *p = NULL;
  p_error err;
  p_error_init(&err);
  int rc = expr_parse_projection(text, strlen(text), e && e->has_ean ? &e->ean : NULL, NULL, A, &p, &err);
  if (rc) fprintf(stderr, "projection %s does not parse: %s\n", text, err.msg);
  p_error_clear(&err);
  if (rc) return "PARSE ERROR";
  dv_value out = expr_project(ITEM(item), p->paths, p->n, A);
  return J(&out);
}

static void test_parsed_conditions(void) {
  const dv_value *item = ITEM(
      "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"5\"},\"s\":{\"S\":\"hello\"},\"tags\":{\"SS\":[\"a\",\"b\"]},"
      "\"m\":{\"M\":{\"l\":{\"L\":[{\"N\":\"1\"},{\"M\":{\"x.y\":{\"BOOL\":true}}}]}}}}");
  env *e = ENV("{\"#d\":\"x.y\",\"#n\":\"n\"}",
               "{\":five\":{\"N\":\"5.0\"},\":lo\":{\"N\":\"1\"},\":hi\":{\"N\":\"9\"},\":h\":{\"S\":\"he\"},"
               "\":a\":{\"S\":\"a\"},\":t\":{\"S\":\"SS\"},\":two\":{\"N\":\"2\"},\":b\":{\"BOOL\":true}}");
  static const struct {
    const char *text;
    int want;
  } rows[] = {
      {"n = :five", 1},
      {"#n = :five", 1},
      {"n <> :five", 0},
      {"n BETWEEN :lo AND :hi", 1},
      {"n IN (:lo, :five)", 1},
      {"n IN (:lo, :hi)", 0},
      {"begins_with(s, :h)", 1},
      {"contains(tags, :a)", 1},
      {"contains(s, :a)", 0},
      {"attribute_type(tags, :t)", 1},
      {"size(tags) = :two", 1},
      {"size(m.l) = :two AND m.l[1].#d = :b", 1},
      {"attribute_exists(m.l[1].#d)", 1},
      {"attribute_exists(m.l[2])", 0},
      {"attribute_not_exists(nope) AND NOT n < :lo", 1},
      {"n < :lo OR s > :h", 1},
      {"NOT (n = :five OR s = :h)", 0},
      {"(n = :five AND s = :h) OR attribute_exists(pk)", 1},
      {"nope <> :five", 1},
      {"nope = nope2", 0},
      {"size(s) > size(m.l)", 1},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    expr_node *c = COND(rows[i].text, e);
    CHECK(c != NULL);
    if (!c) continue;
    int got = EV(c, item);
    if (got != rows[i].want) fprintf(stderr, "condition \"%s\": got %d\n", rows[i].text, got);
    CHECK_EQ_INT(got, rows[i].want);
  }
  /* on a missing item */
  CHECK_EQ_INT(EV(COND("attribute_not_exists(pk)", NULL), NULL), 1);
  CHECK_EQ_INT(EV(COND("pk <> :a", e), NULL), 1);
}

static void test_parsed_updates(void) {
  env *e = ENV("{\"#k\":\"a.b\"}",
               "{\":v\":{\"N\":\"17\"},\":one\":{\"N\":\"1\"},\":zero\":{\"N\":\"0\"},\":l\":{\"L\":[{\"S\":\"z\"}]},"
               "\":ss\":{\"SS\":[\"q\",\"r\"]},\":del\":{\"SS\":[\"q\"]},\":s\":{\"S\":\"str\"}}");
  const char *l6 = ITEM0 ",\"a\":{\"L\":[{\"N\":\"2\"},{\"N\":\"3\"},{\"N\":\"4\"},{\"N\":\"5\"},{\"N\":\"6\"},{\"N\":\"7\"}]}}";
  expr_update *u = UPDT("REMOVE a[1] SET a[3] = :v", e);
  CHECK(u != NULL);
  if (u)
    CHECK_EQ_STR(APPLY(u, l6, 0),
                 N(ITEM0 ",\"a\":{\"L\":[{\"N\":\"2\"},{\"N\":\"4\"},{\"N\":\"17\"},{\"N\":\"6\"},{\"N\":\"7\"}]}}"));
  u = UPDT("SET n = if_not_exists(n, :zero) + :one, l = list_append(if_not_exists(l, :l), :l) "
           "ADD ss :ss, c :one DELETE d :del REMOVE gone, #k",
           e);
  CHECK(u != NULL);
  if (u) {
    CHECK_EQ_STR(APPLY(u, NULL, 0),
                 N(ITEM0 ",\"n\":{\"N\":\"1\"},\"l\":{\"L\":[{\"S\":\"z\"},{\"S\":\"z\"}]},\"ss\":{\"SS\":[\"q\",\"r\"]},"
                         "\"c\":{\"N\":\"1\"}}"));
    CHECK_EQ_STR(APPLY(u, ITEM0 ",\"n\":{\"N\":\"9\"},\"d\":{\"SS\":[\"q\"]},\"gone\":{\"S\":\"x\"},\"a.b\":{\"N\":\"0\"}}", 0),
                 N(ITEM0 ",\"n\":{\"N\":\"10\"},\"l\":{\"L\":[{\"S\":\"z\"},{\"S\":\"z\"}]},\"ss\":{\"SS\":[\"q\",\"r\"]},"
                         "\"c\":{\"N\":\"1\"}}"));
    CHECK_EQ_STR(UPDATED(EXPR_UPDATED_OLD),
                 N("{\"n\":{\"N\":\"9\"},\"d\":{\"SS\":[\"q\"]},\"gone\":{\"S\":\"x\"},\"a.b\":{\"N\":\"0\"}}"));
    CHECK_EQ_STR(UPDATED(EXPR_UPDATED_NEW),
                 N("{\"n\":{\"N\":\"10\"},\"l\":{\"L\":[{\"S\":\"z\"},{\"S\":\"z\"}]},\"ss\":{\"SS\":[\"q\",\"r\"]},"
                   "\"c\":{\"N\":\"1\"}}"));
  }
  u = UPDT("SET x = :s, y = x", e);
  if (u) CHECK_EQ_STR(APPLY(u, ITEM0 ",\"x\":{\"N\":\"1\"}}", 0), N(ITEM0 ",\"x\":{\"S\":\"str\"},\"y\":{\"N\":\"1\"}}"));
  u = UPDT("SET x = x + y", e);
  if (u) CHECK_EQ_STR(APPLY(u, ITEM0 ",\"x\":{\"N\":\"1\"},\"y\":{\"S\":\"1\"}}", 0), "ERR:" EXPR_MSG_BAD_TYPE);
  u = UPDT("ADD s :one", e);
  if (u) CHECK_EQ_STR(APPLY(u, ITEM0 ",\"s\":{\"SS\":[\"1\"]}}", 0), "ERR:" EXPR_MSG_BAD_TYPE);
  u = UPDT("SET m.a.b = :one", e);
  if (u) CHECK_EQ_STR(APPLY(u, ITEM0 ",\"m\":{\"M\":{}}}", 0), "ERR:" EXPR_MSG_BAD_PATH);
  u = UPDT("SET pk = :s", e);
  if (u)
    CHECK_EQ_STR(APPLY(u, ITEM0 "}", 0),
                 "ERR:One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key");
}

static void test_parsed_projection(void) {
  const char *item = "{\"a\":{\"M\":{\"b\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"}]}}},\"c.d\":{\"S\":\"x\"},\"e\":{\"N\":\"3\"}}";
  env *e = ENV("{\"#cd\":\"c.d\"}", NULL);
  CHECK_EQ_STR(PROJT(item, "a.b[1], #cd", e), N("{\"a\":{\"M\":{\"b\":{\"L\":[{\"N\":\"1\"}]}}},\"c.d\":{\"S\":\"x\"}}"));
  CHECK_EQ_STR(PROJT(item, "a.b[1], a.b[0], e", NULL),
               N("{\"a\":{\"M\":{\"b\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"}]}}},\"e\":{\"N\":\"3\"}}"));
  CHECK_EQ_STR(PROJT(item, "zz, a.zz, e[0]", NULL), "{}");
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {
      {"cmp_type_mismatch", test_cmp_type_mismatch},
      {"cmp_same_type", test_cmp_same_type},
      {"between", test_between},
      {"in", test_in},
      {"logic", test_logic},
      {"exists_and_type", test_exists_and_type},
      {"functions_matrix", test_functions_matrix},
      {"size", test_size},
      {"update_set", test_update_set},
      {"update_arith", test_update_arith},
      {"update_remove", test_update_remove},
      {"update_add_delete", test_update_add_delete},
      {"update_size", test_update_size},
      {"updated_values", test_updated_values},
      {"update_list_random", test_update_list_random},
      {"projection", test_projection},
      {"parsed_conditions", test_parsed_conditions},
      {"parsed_updates", test_parsed_updates},
      {"parsed_projection", test_parsed_projection},
      {NULL, NULL},
  };
  A = dv_arena_new();
  int rc = tl_run(tests, argc, argv);
  dv_arena_free(A);
  return rc;
}
