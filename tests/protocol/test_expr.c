/*
 * test_expr.c -- tests of the expression parser (protocol/expr.h): unit
 * tests plus the data-driven case runner.
 *
 * Usage: test_expr [CASES_DIR] [test names...]. CASES_DIR (the first
 * argument when it is a directory) holds one JSON file per case, in folders
 * by category:
 *
 *   {"kind": "condition" | "filter" | "key_condition" | "update" | "projection"
 *            | "expected" | "query_filter" | "scan_filter" | "key_conditions"
 *            | "attribute_updates",
 *    "expr": "...",                     the expression (expression kinds), or
 *    "repeat": {"prefix": "", "unit": "a = :v AND ", "count": 300, "suffix": "a = :v"},
 *                                       an expression built by repetition (limits);
 *    "exprs": [{"kind": ..., "expr": ...}, ...]   several expressions of one request
 *                                       (parsed in order, sharing one usage record);
 *    "request": {...},                  the legacy map (legacy kinds);
 *    "conditional_operator": "OR",      (legacy, optional)
 *    "names": {...}, "values": {...},   ExpressionAttributeNames / Values (optional);
 *    "check_unused": true,              run expr_check_unused after the parse;
 *    "schema": {"hash": ["pk","S"], "range": ["sk","N"]}
 *                                       key_condition: also run expr_check_key_conds;
 *    "expect": {"tree": "<expr_print / expr_print_update / expr_print_projection>"}
 *              {"trees": ["...", ...]}  ("exprs" cases)
 *              {"keys": "<expr_print_key_conds>"}    (key_condition, optional beside "tree")
 *              {"error": "<exact message>"}}
 *
 * The first failure of names, values, parse(s), key schema check, unused
 * check is compared with "error"; else the printed trees are compared.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "protocol/expr.h"
#include "tests/testlib.h"

static const char *g_cases_dir;

/* ---- helpers ------------------------------------------------------------------------ */

static json_t *parse_json(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
  if (!j) fprintf(stderr, "bad test JSON: %s: %.200s\n", je.text, text);
  return j;
}

/* Parses one condition; returns the printed tree or "ERR: msg" (malloc'd). */
static char *cond(const char *text, expr_kind kind, const char *names, const char *values) {
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  expr_names ean;
  expr_values eav;
  json_t *jn = names ? parse_json(names) : NULL, *jv = values ? parse_json(values) : NULL;
  char *out = NULL;
  if (jn && expr_names_from_json(jn, a, &ean, &e)) goto fail;
  if (jv && expr_values_from_json(jv, P_LAYER_CURRENT, EXPR_EAV_BARE, a, &eav, &e)) goto fail;
  expr_node *n;
  if (expr_parse_condition(text, strlen(text), kind, jn ? &ean : NULL, jv ? &eav : NULL, NULL, a, &n, &e))
    goto fail;
  out = expr_print(n);
  goto done;
fail:
  out = malloc(strlen(e.msg ? e.msg : "") + 8);
  sprintf(out, "ERR: %s", e.msg ? e.msg : "");
done:
  p_error_clear(&e);
  json_decref(jn);
  json_decref(jv);
  dv_arena_free(a);
  return out;
}

#define CHECK_COND(text, kind, names, values, expect) \
  do {                                                \
    char *got_ = cond(text, kind, names, values);     \
    CHECK_EQ_STR(got_, expect);                       \
    free(got_);                                       \
  } while (0)

/* ---- unit tests ----------------------------------------------------------------------- */

static void test_reserved(void) {
  FILE *f = fopen("/work/shared/spec/reserved-words.txt", "r");
  int n = 0;
  if (f) {
    char line[64];
    while (fgets(line, sizeof line, f)) {
      size_t l = strcspn(line, "\r\n");
      if (!l) continue;
      CHECK(expr_is_reserved(line, l));
      for (size_t i = 0; i < l; i++)
        if (line[i] >= 'A' && line[i] <= 'Z') line[i] = (char)(line[i] - 'A' + 'a');
      CHECK(expr_is_reserved(line, l));
      n++;
    }
    fclose(f);
    CHECK_EQ_INT(n, 573);
  }
  CHECK(expr_is_reserved("Name", 4));
  CHECK(expr_is_reserved("aBoRt", 5));
  CHECK(expr_is_reserved("ZONE", 4));
  CHECK(expr_is_reserved("NAMES", 5));
  CHECK(!expr_is_reserved("NAMESX", 6));
  CHECK(!expr_is_reserved("", 0));
  CHECK(!expr_is_reserved("pk", 2));
  CHECK(!expr_is_reserved("ABORTX", 6));
  CHECK(!expr_is_reserved("AAAAAAAAAAAAAAAAAAAAAAAAA", 25));
}

static void test_basic(void) {
  CHECK_COND("a = :v", EXPR_CONDITION, NULL, "{\":v\":{\"S\":\"x\"}}", "(= a :v)");
  CHECK_COND("#n.b[3] <> :v", EXPR_FILTER, "{\"#n\":\"x.y\"}", "{\":v\":{\"N\":\"1\"}}",
             "(<> \"x.y\".b[3] :v)");
  CHECK_COND(
      "a = :v", EXPR_CONDITION, NULL, NULL,
      "ERR: Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
      "attribute value: :v");
  CHECK_COND("", EXPR_FILTER, NULL, NULL, "ERR: Invalid FilterExpression: The expression can not be empty;");
}

/* The resolved tree's pointers: values point into the EAV, names resolved. */
static void test_resolution(void) {
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  json_t *jn = parse_json("{\"#a\":\"attr\",\"#unused\":\"x\"}");
  json_t *jv = parse_json("{\":t\":{\"S\":\"SS\"},\":u\":{\"N\":\"1\"}}");
  expr_names ean;
  expr_values eav;
  CHECK(expr_names_from_json(jn, a, &ean, &e) == 0);
  CHECK(expr_values_from_json(jv, P_LAYER_CURRENT, EXPR_EAV_BARE, a, &eav, &e) == 0);
  expr_usage u;
  expr_usage_init(&u, &ean, &eav, a);
  expr_node *n = NULL;
  const char *text = "attribute_type(#a.l[2], :t)";
  CHECK(expr_parse_condition(text, strlen(text), EXPR_CONDITION, &ean, &eav, &u, a, &n, &e) == 0);
  CHECK(n && n->kind == EXPR_ATTR_TYPE && n->type == DV_SS && n->n == 2);
  if (n && n->n == 2) {
    CHECK(n->kids[0]->kind == EXPR_PATH && n->kids[0]->path.n == 3);
    CHECK_EQ_STR(n->kids[0]->path.elems[0].name, "attr");
    CHECK(n->kids[0]->path.elems[2].name == NULL && n->kids[0]->path.elems[2].index == 2);
    CHECK(n->kids[1]->value == &expr_values_find(&eav, ":t", 2)->value);
    CHECK_EQ_STR(n->kids[1]->ref, ":t");
  }
  CHECK(expr_check_unused(&ean, &eav, &u, &e) == -1);
  CHECK_EQ_STR(e.msg, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}");
  expr_projection *pr;
  CHECK(expr_parse_projection("#unused", 7, &ean, &u, a, &pr, &e) == 0);
  CHECK(expr_check_unused(&ean, &eav, &u, &e) == -1);
  CHECK_EQ_STR(e.msg, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:u}");
  CHECK(expr_node_mentions(n, "attr", 4));
  CHECK(!expr_node_mentions(n, "att", 3));
  p_error_clear(&e);
  json_decref(jn);
  json_decref(jv);
  dv_arena_free(a);
}

static void test_maps(void) {
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  expr_names ean;
  expr_values eav;
  json_t *j = parse_json("{}");
  CHECK(expr_names_from_json(j, a, &ean, &e) == -1);
  CHECK_EQ_STR(e.msg, "ExpressionAttributeNames must not be empty");
  CHECK(expr_values_from_json(j, P_LAYER_CURRENT, EXPR_EAV_BARE, a, &eav, &e) == -1);
  CHECK_EQ_STR(e.msg, "ExpressionAttributeValues must not be empty");
  json_decref(j);
  j = parse_json("{\"#ok\":\"x\",\"a\":\"y\"}");
  CHECK(expr_names_from_json(j, a, &ean, &e) == -1);
  CHECK_EQ_STR(e.msg, "ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\"");
  json_decref(j);
  j = parse_json("{\"#\":\"x\"}");
  CHECK(expr_names_from_json(j, a, &ean, &e) == -1);
  CHECK_EQ_STR(e.msg, "ExpressionAttributeNames contains invalid key: Syntax error; key: \"#\"");
  json_decref(j);
  j = parse_json("{\":a-b\":{\"S\":\"x\"}}");
  CHECK(expr_values_from_json(j, P_LAYER_CURRENT, EXPR_EAV_BARE, a, &eav, &e) == -1);
  CHECK_EQ_STR(e.msg, "ExpressionAttributeValues contains invalid key: Syntax error; key: \":a-b\"");
  json_decref(j);
  j = parse_json("{\":a\":{\"SS\":[]}}");
  CHECK(expr_values_from_json(j, P_LAYER_CURRENT, EXPR_EAV_WRAPPED, a, &eav, &e) == -1);
  CHECK(e.msg && strncmp(e.msg, "ExpressionAttributeValues contains invalid value: ", 50) == 0);
  CHECK(e.msg && strstr(e.msg, " for key :a") != NULL);
  CHECK(expr_values_from_json(j, P_LAYER_CURRENT, EXPR_EAV_BARE, a, &eav, &e) == -1);
  CHECK(e.msg && strncmp(e.msg, "ExpressionAttributeValues", 25) != 0);
  json_decref(j);
  j = parse_json("{\":b\":{\"S\":\"1\"},\":a\":{\"N\":\"01.50\"},\":C\":{\"BOOL\":true}}");
  CHECK(expr_values_from_json(j, P_LAYER_CURRENT, EXPR_EAV_BARE, a, &eav, &e) == 0);
  CHECK_EQ_INT(eav.n, 3);
  CHECK_EQ_STR(eav.e[0].key, ":C");
  CHECK_EQ_STR(eav.e[1].key, ":a");
  CHECK_EQ_STR(expr_values_find(&eav, ":a", 2)->value.u.bytes, "1.5");
  CHECK(expr_values_find(&eav, ":c", 2) == NULL);
  CHECK(expr_values_find(NULL, ":a", 2) == NULL);
  CHECK(expr_names_find(NULL, "#a", 2) == NULL);
  /* No usage record: everything unused; NULL maps: nothing to report. */
  CHECK(expr_check_unused(NULL, NULL, NULL, &e) == 0);
  CHECK(expr_check_unused(NULL, &eav, NULL, &e) == -1);
  CHECK_EQ_STR(e.msg,
               "Value provided in ExpressionAttributeValues unused in expressions: keys: {:C, :a, :b}");
  json_decref(j);
  p_error_clear(&e);
  dv_arena_free(a);
}

/* Hostile input: deep nesting and random token soup never crash. */
static void test_hostile(void) {
  static const expr_kind kinds[] = {EXPR_CONDITION, EXPR_KEY_CONDITION, EXPR_UPDATE, EXPR_PROJECTION};
  char buf[EXPR_MAX_SIZE + 1];
  const char *units[] = {"(", "NOT ", "size(", "a[", "((a)", "f(", "(a = :v AND "};
  for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
    size_t ul = strlen(units[u]), n = 0;
    while (n + ul <= EXPR_MAX_SIZE) {
      memcpy(buf + n, units[u], ul);
      n += ul;
    }
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
      dv_arena *a = dv_arena_new();
      p_error e;
      p_error_init(&e);
      expr_node *node;
      expr_update *up;
      expr_projection *pr;
      int rc;
      if (kinds[k] == EXPR_UPDATE)
        rc = expr_parse_update(buf, n, NULL, NULL, NULL, a, &up, &e);
      else if (kinds[k] == EXPR_PROJECTION)
        rc = expr_parse_projection(buf, n, NULL, NULL, a, &pr, &e);
      else
        rc = expr_parse_condition(buf, n, kinds[k], NULL, NULL, NULL, a, &node, &e);
      CHECK(rc == -1 && e.msg != NULL);
      p_error_clear(&e);
      dv_arena_free(a);
    }
  }
  /* Balanced deep nesting that is syntactically fine: redundant parentheses. */
  size_t n = 0;
  for (int i = 0; i < 1000; i++) buf[n++] = '(';
  buf[n++] = 'a';
  buf[n++] = '=';
  buf[n++] = 'b';
  for (int i = 0; i < 1000; i++) buf[n++] = ')';
  buf[n] = '\0';
  CHECK_COND(buf, EXPR_CONDITION, NULL, NULL,
             "ERR: Invalid ConditionExpression: The expression has redundant parentheses;");
  /* NOT chains: too many operators. */
  n = 0;
  for (int i = 0; i < 1000; i++) {
    memcpy(buf + n, "NOT ", 4);
    n += 4;
  }
  memcpy(buf + n, "a=b", 4);
  CHECK_COND(
      buf, EXPR_CONDITION, NULL, NULL,
      "ERR: Invalid ConditionExpression: The expression contains too many operators; operator count: 1001");
  /* Random soup of tokens, fixed seed. */
  static const char *const soup[] = {"a",
                                     "#n",
                                     ":v",
                                     "(",
                                     ")",
                                     "[",
                                     "]",
                                     "1",
                                     ",",
                                     ".",
                                     "=",
                                     "<>",
                                     "<",
                                     ">=",
                                     "+",
                                     "-",
                                     "AND",
                                     "OR",
                                     "NOT",
                                     "BETWEEN",
                                     "IN",
                                     "SET",
                                     "REMOVE",
                                     "ADD",
                                     "DELETE",
                                     "size",
                                     "contains",
                                     "if_not_exists",
                                     "list_append",
                                     " ",
                                     "!",
                                     "\xc3\xa9",
                                     "attribute_type",
                                     "begins_with",
                                     "#",
                                     ":",
                                     "name",
                                     "99999999999"};
  uint32_t seed = 12345;
  json_t *jn = parse_json("{\"#n\":\"nn\"}");
  json_t *jv = parse_json("{\":v\":{\"N\":\"1\"}}");
  dv_arena *ma = dv_arena_new();
  p_error me;
  p_error_init(&me);
  expr_names ean;
  expr_values eav;
  expr_names_from_json(jn, ma, &ean, &me);
  expr_values_from_json(jv, P_LAYER_CURRENT, EXPR_EAV_BARE, ma, &eav, &me);
  int ok = 0;
  for (int iter = 0; iter < 20000; iter++) {
    size_t len = 0;
    int ntok = 1 + (int)((seed >> 8) % 12);
    for (int t = 0; t < ntok; t++) {
      seed = seed * 1103515245u + 12345u;
      const char *s = soup[(seed >> 16) % (sizeof soup / sizeof soup[0])];
      size_t l = strlen(s);
      memcpy(buf + len, s, l);
      len += l;
      if ((seed >> 4) & 1) buf[len++] = ' ';
    }
    dv_arena *a = dv_arena_new();
    p_error e;
    p_error_init(&e);
    expr_usage us;
    expr_usage_init(&us, &ean, &eav, a);
    expr_node *node;
    expr_update *up;
    expr_projection *pr;
    int rc;
    switch (iter % 4) {
      case 0:
        rc = expr_parse_condition(buf, len, EXPR_CONDITION, &ean, &eav, &us, a, &node, &e);
        break;
      case 1:
        rc = expr_parse_condition(buf, len, EXPR_KEY_CONDITION, &ean, &eav, &us, a, &node, &e);
        break;
      case 2:
        rc = expr_parse_update(buf, len, &ean, &eav, &us, a, &up, &e);
        break;
      default:
        rc = expr_parse_projection(buf, len, &ean, &us, a, &pr, &e);
        break;
    }
    CHECK(rc == 0 || (rc == -1 && e.msg && strncmp(e.msg, "Invalid ", 8) == 0) ||
          (rc == -1 && iter % 4 == 1 && e.msg));
    if (rc == 0) {
      ok++;
      char *s = iter % 4 == 2   ? expr_print_update(up)
                : iter % 4 == 3 ? expr_print_projection(pr)
                                : expr_print(node);
      CHECK(s && (s[0] == '(' || iter % 4 < 2));
      free(s);
      if (iter % 4 == 1) {
        expr_key_conds kc;
        expr_key_conds_get(node, a, &kc);
        CHECK(kc.n >= 1);
      }
    }
    p_error_clear(&e);
    dv_arena_free(a);
  }
  CHECK(ok > 10);
  json_decref(jn);
  json_decref(jv);
  p_error_clear(&me);
  dv_arena_free(ma);
}

static void test_paths(void) {
  expr_path_elem el[3] = {{"a", 1, 0}, {NULL, 0, 7}, {"b c", 3, 0}};
  expr_path p = {3, el};
  char *s = expr_path_render(&p);
  CHECK_EQ_STR(s, "[a, [7], b c]");
  free(s);
  dv_arena *a = dv_arena_new();
  const char *names[] = {"x", "y.z"};
  expr_projection *pr = expr_projection_from_names(names, 2, a);
  s = expr_print_projection(pr);
  CHECK_EQ_STR(s, "(projection x \"y.z\")");
  free(s);
  expr_node *n = expr_node_new2(a, EXPR_AND, expr_node_top_path(a, "q", 1), expr_node_path(a, &p));
  s = expr_print(n);
  CHECK_EQ_STR(s, "(AND q a[7].\"b c\")");
  free(s);
  dv_arena_free(a);
}

static void test_key_schema(void) {
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  json_t *jv =
      parse_json("{\":p\":{\"S\":\"x\"},\":a\":{\"N\":\"1\"},\":b\":{\"N\":\"2\"},\":s\":{\"S\":\"\"}}");
  expr_values eav;
  CHECK(expr_values_from_json(jv, P_LAYER_CURRENT, EXPR_EAV_BARE, a, &eav, &e) == 0);
  const char *text = ":a < sk AND pk = :p";
  expr_node *n;
  CHECK(expr_parse_condition(text, strlen(text), EXPR_KEY_CONDITION, NULL, &eav, NULL, a, &n, &e) == 0);
  expr_key_conds kc;
  expr_key_conds_get(n, a, &kc);
  CHECK_EQ_INT(kc.n, 2);
  p_key_schema ks = {"pk", DV_S, "sk", DV_N};
  const expr_key_cond *h, *r;
  CHECK(expr_check_key_conds(&kc, &ks, &h, &r, &e) == 0);
  CHECK(h == &kc.c[1] && r == &kc.c[0]);
  CHECK(r && r->op == EXPR_KEY_GT);
  p_key_schema ks2 = {"pk", DV_S, NULL, DV_NONE};
  CHECK(expr_check_key_conds(&kc, &ks2, &h, &r, &e) == -1);
  CHECK_EQ_STR(e.msg, "Query key condition not supported");
  p_key_schema ks3 = {"pk", DV_N, "sk", DV_N};
  CHECK(expr_check_key_conds(&kc, &ks3, &h, &r, &e) == -1);
  CHECK_EQ_STR(
      e.msg,
      "One or more parameter values were invalid: Condition parameter type does not match schema type");
  /* update key check */
  expr_update *u;
  json_t *jn = parse_json("{\"#k\":\"sk\"}");
  expr_names ean;
  CHECK(expr_names_from_json(jn, a, &ean, &e) == 0);
  text = "SET x = :a REMOVE #k.y";
  CHECK(expr_parse_update(text, strlen(text), &ean, &eav, NULL, a, &u, &e) == 0);
  CHECK(expr_check_update_keys(u, &ks, &e) == -1);
  CHECK_EQ_STR(e.msg,
               "One or more parameter values were invalid: Cannot update attribute sk. This attribute is "
               "part of the key");
  CHECK(expr_check_update_keys(u, &ks2, &e) == 0);
  /* Query filter and projection against the key schema */
  text = "x = :a OR attribute_exists(sk.y)";
  CHECK(expr_parse_condition(text, strlen(text), EXPR_FILTER, NULL, &eav, NULL, a, &n, &e) == 0);
  CHECK(expr_check_filter_keys(n, &ks, &e) == -1);
  CHECK_EQ_STR(e.msg,
               "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk");
  CHECK(expr_check_filter_keys(n, &ks2, &e) == 0);
  expr_projection *pr;
  CHECK(expr_parse_projection("pk, sk, x.y", 11, NULL, NULL, a, &pr, &e) == 0);
  CHECK(expr_check_projection_keys(pr, &ks, &e) == 0);
  CHECK(expr_parse_projection("x, sk[0]", 8, NULL, NULL, a, &pr, &e) == 0);
  CHECK(expr_check_projection_keys(pr, &ks, &e) == -1);
  CHECK_EQ_STR(
      e.msg,
      "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: sk");
  json_decref(jn);
  json_decref(jv);
  p_error_clear(&e);
  dv_arena_free(a);
}

/* ---- data-driven cases ------------------------------------------------------------------------ */

static int g_ncases, g_case_fail;
static int g_cases_by_kind[16];

static expr_kind kind_of(const char *k, int *legacy) {
  *legacy = -1;
  if (!strcmp(k, "condition")) return EXPR_CONDITION;
  if (!strcmp(k, "filter")) return EXPR_FILTER;
  if (!strcmp(k, "key_condition")) return EXPR_KEY_CONDITION;
  if (!strcmp(k, "update")) return EXPR_UPDATE;
  if (!strcmp(k, "projection")) return EXPR_PROJECTION;
  if (!strcmp(k, "expected"))
    *legacy = EXPR_LEGACY_EXPECTED;
  else if (!strcmp(k, "query_filter"))
    *legacy = EXPR_LEGACY_QUERY_FILTER;
  else if (!strcmp(k, "scan_filter"))
    *legacy = EXPR_LEGACY_SCAN_FILTER;
  else if (!strcmp(k, "key_conditions"))
    *legacy = EXPR_LEGACY_KEY_CONDITIONS;
  else if (!strcmp(k, "attribute_updates"))
    *legacy = 100;
  else
    *legacy = -2;
  return EXPR_CONDITION;
}

static dv_type type_of(const char *s) {
  return dv_type_from_name(s, strlen(s));
}

/* Builds the text of one expression of a case (malloc'd). */
static char *case_text(const json_t *c, size_t *len) {
  const json_t *r = json_object_get(c, "repeat");
  if (r) {
    const char *pre = json_string_value(json_object_get(r, "prefix"));
    const char *unit = json_string_value(json_object_get(r, "unit"));
    const char *suf = json_string_value(json_object_get(r, "suffix"));
    size_t count = (size_t)json_integer_value(json_object_get(r, "count"));
    pre = pre ? pre : "";
    suf = suf ? suf : "";
    unit = unit ? unit : "";
    size_t n = strlen(pre) + strlen(unit) * count + strlen(suf);
    char *s = malloc(n + 1), *q = s;
    q = stpcpy(q, pre);
    for (size_t i = 0; i < count; i++) q = stpcpy(q, unit);
    stpcpy(q, suf);
    *len = n;
    return s;
  }
  const json_t *e = json_object_get(c, "expr");
  *len = json_string_length(e);
  char *s = malloc(*len + 1);
  memcpy(s, json_string_value(e) ? json_string_value(e) : "", *len);
  s[*len] = '\0';
  return s;
}

/* Runs one expression; appends its printing to trees. Returns 0 / -1. */
static int run_one(const json_t *c, const char *kind_name, const expr_names *ean, const expr_values *eav,
                   expr_usage *u, const json_t *schema, dv_arena *a, json_t *trees, char **keys, p_error *e) {
  int legacy;
  expr_kind kind = kind_of(kind_name, &legacy);
  char *printed = NULL;
  int rc = -1;
  if (legacy == -2) {
    p_error_set(e, P_VALIDATION, "TEST: unknown kind %s", kind_name);
    return -1;
  }
  if (legacy >= 0) {
    const json_t *req = json_object_get(c, "request");
    const char *op = json_string_value(json_object_get(c, "conditional_operator"));
    if (legacy == 100) {
      expr_update *up;
      if ((rc = expr_legacy_attribute_updates(req, P_LAYER_CURRENT, a, &up, e)) == 0)
        printed = expr_print_update(up);
    } else {
      expr_node *n;
      if ((rc = expr_legacy_conditions(req, (expr_legacy_kind)legacy, op, P_LAYER_CURRENT, a, &n, e)) == 0) {
        printed = expr_print(n);
        if (legacy == EXPR_LEGACY_KEY_CONDITIONS && n) {
          expr_key_conds kc;
          expr_key_conds_get(n, a, &kc);
          *keys = expr_print_key_conds(&kc);
        }
      }
    }
  } else {
    size_t len;
    char *text = case_text(c, &len);
    if (kind == EXPR_UPDATE) {
      expr_update *up;
      if ((rc = expr_parse_update(text, len, ean, eav, u, a, &up, e)) == 0) printed = expr_print_update(up);
    } else if (kind == EXPR_PROJECTION) {
      expr_projection *pr;
      if ((rc = expr_parse_projection(text, len, ean, u, a, &pr, e)) == 0)
        printed = expr_print_projection(pr);
    } else {
      expr_node *n;
      if ((rc = expr_parse_condition(text, len, kind, ean, eav, u, a, &n, e)) == 0) {
        printed = expr_print(n);
        if (kind == EXPR_KEY_CONDITION) {
          expr_key_conds kc;
          expr_key_conds_get(n, a, &kc);
          free(*keys);
          *keys = expr_print_key_conds(&kc);
          if (schema) {
            const json_t *h = json_object_get(schema, "hash"), *r = json_object_get(schema, "range");
            p_key_schema ks = {json_string_value(json_array_get(h, 0)),
                               type_of(json_string_value(json_array_get(h, 1))),
                               r ? json_string_value(json_array_get(r, 0)) : NULL,
                               r ? type_of(json_string_value(json_array_get(r, 1))) : DV_NONE};
            const expr_key_cond *hc, *rc2;
            if (expr_check_key_conds(&kc, &ks, &hc, &rc2, e)) rc = -1;
          }
        }
      }
    }
    free(text);
  }
  if (printed) {
    json_array_append_new(trees, json_string(printed));
    free(printed);
  }
  return rc;
}

static void run_case(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    CHECK(!"cannot open case");
    return;
  }
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)sz + 1);
  size_t got = fread(buf, 1, (size_t)sz, f);
  buf[got] = '\0';
  fclose(f);
  json_t *c = parse_json(buf);
  free(buf);
  if (!c) {
    g_case_fail++;
    fprintf(stderr, "%s: bad JSON\n", path);
    return;
  }
  g_ncases++;
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  expr_names ean;
  expr_values eav;
  const json_t *jn = json_object_get(c, "names"), *jv = json_object_get(c, "values");
  const json_t *expect = json_object_get(c, "expect");
  json_t *trees = json_array();
  char *keys = NULL;
  int rc = 0;
  expr_usage u;
  if (jn && expr_names_from_json(jn, a, &ean, &e)) rc = -1;
  if (!rc && jv && expr_values_from_json(jv, P_LAYER_CURRENT, EXPR_EAV_BARE, a, &eav, &e)) rc = -1;
  if (!rc) expr_usage_init(&u, jn ? &ean : NULL, jv ? &eav : NULL, a);
  const json_t *exprs = json_object_get(c, "exprs");
  const char *kind = json_string_value(json_object_get(c, "kind"));
  int legacy;
  kind_of(kind ? kind : "", &legacy);
  g_cases_by_kind[legacy >= 0 ? (legacy == 100 ? 9 : 5 + legacy) : (int)kind_of(kind ? kind : "", &legacy)]++;
  if (!rc) {
    if (exprs) {
      size_t i;
      const json_t *x;
      json_array_foreach(exprs, i, x) {
        if (run_one(x, json_string_value(json_object_get(x, "kind")), jn ? &ean : NULL, jv ? &eav : NULL, &u,
                    json_object_get(c, "schema"), a, trees, &keys, &e)) {
          rc = -1;
          break;
        }
      }
    } else {
      rc = run_one(c, kind ? kind : "", jn ? &ean : NULL, jv ? &eav : NULL, &u, json_object_get(c, "schema"),
                   a, trees, &keys, &e);
    }
  }
  if (!rc && json_is_true(json_object_get(c, "check_unused")) &&
      expr_check_unused(jn ? &ean : NULL, jv ? &eav : NULL, &u, &e))
    rc = -1;
  int bad = 0;
  const json_t *want_err = json_object_get(expect, "error");
  if (want_err) {
    if (rc == 0 || !e.msg || strcmp(e.msg, json_string_value(want_err)) != 0) {
      bad = 1;
      char *t = json_dumps(trees, JSON_ENCODE_ANY);
      fprintf(stderr, "%s:\n  want error: %s\n  got:        %s\n", path, json_string_value(want_err),
              rc ? (e.msg ? e.msg : "(null)") : t);
      free(t);
    }
  } else if (rc != 0) {
    bad = 1;
    fprintf(stderr, "%s:\n  unexpected error: %s\n", path, e.msg ? e.msg : "(null)");
  } else {
    const json_t *want_tree = json_object_get(expect, "tree");
    const json_t *want_trees = json_object_get(expect, "trees");
    const json_t *want_keys = json_object_get(expect, "keys");
    if (want_tree) {
      const char *g = json_string_value(json_array_get(trees, 0));
      if (json_array_size(trees) != 1 || strcmp(g, json_string_value(want_tree))) {
        bad = 1;
        fprintf(stderr, "%s:\n  want tree: %s\n  got:       %s\n", path, json_string_value(want_tree),
                g ? g : "(none)");
      }
    }
    if (want_trees && !json_equal((json_t *)want_trees, trees)) {
      bad = 1;
      char *t = json_dumps(trees, JSON_ENCODE_ANY);
      fprintf(stderr, "%s:\n  trees differ: %s\n", path, t);
      free(t);
    }
    if (want_keys && (!keys || strcmp(keys, json_string_value(want_keys)))) {
      bad = 1;
      fprintf(stderr, "%s:\n  want keys: %s\n  got:       %s\n", path, json_string_value(want_keys),
              keys ? keys : "(none)");
    }
    if (!want_tree && !want_trees && !want_keys && !json_is_true(json_object_get(expect, "ok"))) {
      bad = 1;
      fprintf(stderr, "%s: case expects nothing\n", path);
    }
  }
  tl_checks++;
  if (bad) {
    tl_failures++;
    g_case_fail++;
  }
  free(keys);
  json_decref(trees);
  p_error_clear(&e);
  dv_arena_free(a);
  json_decref(c);
}

static int name_cmp(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

static void run_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      names = realloc(names, cap * sizeof *names);
    }
    names[n++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, name_cmp);
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
      run_dir(path);
    else if (strlen(names[i]) > 5 && !strcmp(names[i] + strlen(names[i]) - 5, ".json"))
      run_case(path);
    free(names[i]);
  }
  free(names);
}

static void test_cases(void) {
  if (!g_cases_dir) {
    printf("no cases directory given; skipping data-driven cases\n");
    return;
  }
  run_dir(g_cases_dir);
  printf(
      "%d cases, %d failed (condition %d, filter %d, key_condition %d, update %d, projection %d, legacy "
      "%d)\n",
      g_ncases, g_case_fail, g_cases_by_kind[0], g_cases_by_kind[1], g_cases_by_kind[2], g_cases_by_kind[3],
      g_cases_by_kind[4],
      g_cases_by_kind[5] + g_cases_by_kind[6] + g_cases_by_kind[7] + g_cases_by_kind[8] + g_cases_by_kind[9]);
  CHECK(g_ncases > 0);
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {
      {"reserved", test_reserved}, {"basic", test_basic}, {"resolution", test_resolution},
      {"maps", test_maps},         {"paths", test_paths}, {"key_schema", test_key_schema},
      {"hostile", test_hostile},   {"cases", test_cases}, {NULL, NULL},
  };
  struct stat st;
  if (argc > 1 && stat(argv[1], &st) == 0 && S_ISDIR(st.st_mode)) {
    g_cases_dir = argv[1];
    argv[1] = argv[0];
    argc--;
    argv++;
  }
  return tl_run(tests, argc, argv);
}
