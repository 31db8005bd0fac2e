/*
 * fuzz_expr.c -- libFuzzer target for the expression parser (protocol/expr.h)
 * and, whenever a parse succeeds, the evaluator (protocol/expr_eval.h) on a
 * small fixed item that holds every value type.
 *
 * Input layout (make_seeds.py writes it; any bytes are accepted):
 *
 *   byte 0        selector: kind = byte % 10, flags = byte / 10
 *                   kind 0 ConditionExpression   5 Expected         (legacy)
 *                        1 FilterExpression      6 QueryFilter      (legacy)
 *                        2 KeyConditionExpr.     7 ScanFilter       (legacy)
 *                        3 UpdateExpression      8 KeyConditions    (legacy)
 *                        4 ProjectionExpression  9 AttributeUpdates (legacy)
 *                   flags bit 0 older value layer, bit 1 wrapped EAV wording,
 *                         bit 2 ConditionalOperator OR, bit 3 final-size-only
 *                         update rule
 *   line 1        ExpressionAttributeNames as JSON ("" = member absent)
 *   line 2        ExpressionAttributeValues as JSON ("" = member absent)
 *   rest          the expression text (kinds 0-4, copied to a buffer of
 *                 exactly its length so over-reads are caught), or the legacy
 *                 map as JSON (kinds 5-9)
 *
 * JSON goes through the same steps as in a request: json_loadb with
 * JSON_ALLOW_NUL (server/http.c), the shape check of protocol.md 2.1 step 8
 * (the parsers' stated precondition), then the parse functions. After a
 * successful parse the target prints the tree, checks unused names/values,
 * runs the schema checks against a (pk S, sk N) schema and a hash-only one,
 * evaluates conditions on the item and on a missing item, applies updates to
 * the item and as an upsert, builds the UPDATED_OLD/NEW maps, and projects.
 * Invariants checked (abort on failure): a condition yields 0 or 1; an
 * update result and a projection are maps that survive p_item_to_json ->
 * p_item_from_json unchanged; printers return text.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/expr.h"
#include "protocol/expr_eval.h"
#include "protocol/protocol.h"
#include "protocol/protocol_int.h"
#include "tests/fuzz/fuzz.h"

/* The item every parsed expression is evaluated on: the names the seed
 * expressions use most (a, b, c, d, l, s, x, n, pk, sk, name, foo, "a.b"),
 * every value type, nested maps and lists. */
static const char k_item[] =
    "{\"pk\":{\"S\":\"k1\"},\"sk\":{\"N\":\"10\"},"
    "\"a\":{\"M\":{\"b\":{\"M\":{\"c\":{\"N\":\"1\"}}},\"c\":{\"L\":[{\"S\":\"x\"},{\"N\":\"2\"},"
    "{\"L\":[{\"M\":{\"d\":{\"S\":\"deep\"}}}]}]},\"s\":{\"SS\":[\"p\",\"q\"]}}},"
    "\"b\":{\"L\":[{\"N\":\"1\"},{\"S\":\"two\"},{\"NULL\":true},{\"BOOL\":false}]},"
    "\"c\":{\"N\":\"-3.5\"},\"d\":{\"SS\":[\"x\",\"y\",\"zz\"]},\"s\":{\"NS\":[\"1\",\"2.5\",\"-7\"]},"
    "\"l\":{\"L\":[{\"N\":\"0\"},{\"L\":[]},{\"M\":{}}]},\"x\":{\"S\":\"abc\"},\"n\":{\"BS\":[\"AQ==\",\"AgM=\"]},"
    "\"name\":{\"S\":\"\"},\"foo\":{\"BOOL\":true},\"a.b\":{\"S\":\"dotted\"},\"year\":{\"N\":\"1999\"},"
    "\"set\":{\"NULL\":true},\"extra\":{\"B\":\"AAEC\"},\"big\":{\"N\":\"9.9999999999999999999999999999999999999E+125\"}}";
static const char k_key[] = "{\"pk\":{\"S\":\"k1\"},\"sk\":{\"N\":\"10\"}}";

static const p_key_schema k_ks_range = {"pk", DV_S, "sk", DV_N};
static const p_key_schema k_ks_hash = {"pk", DV_S, NULL, DV_NONE};

/* AttributeUpdates' shape (Map<String, AttributeValueUpdate>); protocol/
 * has no shared one yet since UpdateItem's request shape is not written. */
static const p__member k_avu_members[] = {{"Value", &p__sh_av}, {"Action", &p__sh_string}, {NULL, NULL}};
static const p__shape k_sh_avu = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.AttributeValueUpdate",
                                  NULL, k_avu_members};
static const p__shape k_sh_avu_map = {P_SH_MAP, NULL, &k_sh_avu, NULL};

/* Loads a fixed wire item into a (the texts above are valid). */
static dv_value *load_item(const char *text, dv_arena *a) {
  json_t *j = json_loads(text, 0, NULL);
  FZ_ASSERT(j, "fixed item JSON");
  dv_value *v = dv_arena_alloc(a, sizeof *v);
  p_error e;
  p_error_init(&e);
  int rc = p_item_from_json(j, P_LAYER_CURRENT, a, v, &e);
  FZ_ASSERT(rc == 0, "fixed item rejected: %s", e.msg ? e.msg : "");
  p_error_clear(&e);
  json_decref(j);
  return v;
}

/* A map produced by the evaluator must be a valid wire item: rendering it
 * and reading it back gives the same value. */
static void check_roundtrip(const dv_value *item, const char *what) {
  FZ_ASSERT(item->type == DV_M, "%s: type %d, not a map", what, (int)item->type);
  json_t *j = p_item_to_json(item);
  FZ_ASSERT(j, "%s: p_item_to_json failed", what);
  dv_arena *a = dv_arena_new();
  dv_value back;
  p_error e;
  p_error_init(&e);
  if (p_item_from_json(j, P_LAYER_CURRENT, a, &back, &e) != 0) {
    char *s = json_dumps(j, JSON_COMPACT);
    FZ_DIE("%s: rendered item rejected (%s): %.2000s", what, e.msg ? e.msg : "", s ? s : "?");
  }
  if (!dv_equal(item, &back)) {
    char *s = json_dumps(j, JSON_COMPACT);
    FZ_DIE("%s: item changed by a JSON round trip: %.2000s", what, s ? s : "?");
  }
  p_error_clear(&e);
  dv_arena_free(a);
  json_decref(j);
}

/* Frees printer output after checking there is some. */
static void take_text(char *s, const char *what) {
  FZ_ASSERT(s && *s, "%s printed nothing", what);
  free(s);
}

/* Everything done with a condition tree (cond may be NULL: no condition). */
static void use_condition(const expr_node *cond, int key_shaped, const dv_value *item, dv_arena *a) {
  p_error e;
  p_error_init(&e);
  int r = -1;
  if (expr_eval_condition(cond, item, &r, &e) == 0)
    FZ_ASSERT(r == 0 || r == 1, "condition result %d", r);
  p_error_clear(&e);
  r = -1;
  if (expr_eval_condition(cond, NULL, &r, &e) == 0)
    FZ_ASSERT(r == 0 || r == 1, "condition result on a missing item %d", r);
  p_error_clear(&e);
  int m = expr_matches(cond, item);
  FZ_ASSERT(m == 0 || m == 1, "expr_matches %d", m);
  if (!cond) return;
  take_text(expr_print(cond), "expr_print");
  (void)expr_node_mentions(cond, "pk", 2);
  if (expr_check_filter_keys(cond, &k_ks_range, &e) != 0) FZ_ASSERT(e.msg, "filter key check without message");
  p_error_clear(&e);
  if (key_shaped) {
    expr_key_conds kc;
    expr_key_conds_get(cond, a, &kc);
    FZ_ASSERT(kc.n >= 1, "key conditions: none");
    take_text(expr_print_key_conds(&kc), "expr_print_key_conds");
    const expr_key_cond *h = NULL, *rg = NULL;
    const p_key_schema *schemas[2] = {&k_ks_range, &k_ks_hash};
    for (int i = 0; i < 2; i++) {
      if (expr_check_key_conds(&kc, schemas[i], &h, &rg, &e) == 0)
        FZ_ASSERT(h != NULL, "key conditions accepted without a hash condition");
      p_error_clear(&e);
    }
  }
}

/* Applies u to old (NULL = upsert) and uses the results. */
static void apply_update(const expr_update *u, const dv_value *old, const dv_value *key, const p_key_schema *ks,
                         unsigned flags, dv_arena *a) {
  p_error e;
  p_error_init(&e);
  dv_value nu;
  expr_changes ch;
  memset(&ch, 0, sizeof ch);
  if (expr_apply_update(u, old, key, ks, flags, a, &nu, &ch, &e) == 0) {
    check_roundtrip(&nu, "updated item");
    FZ_ASSERT(dv_item_size(&nu) <= EXPR_MAX_ITEM_SIZE, "updated item of %zu bytes", dv_item_size(&nu));
    dv_value o, n;
    expr_updated_values(&ch, EXPR_UPDATED_OLD, a, &o);
    check_roundtrip(&o, "UPDATED_OLD");
    expr_updated_values(&ch, EXPR_UPDATED_NEW, a, &n);
    check_roundtrip(&n, "UPDATED_NEW");
  } else {
    FZ_ASSERT(e.msg, "update failed without a message");
  }
  p_error_clear(&e);
}

/* Everything done with an update. */
static void use_update(const expr_update *u, unsigned flags, const dv_value *item, const dv_value *key,
                       dv_arena *a) {
  p_error e;
  p_error_init(&e);
  take_text(expr_print_update(u), "expr_print_update");
  (void)expr_check_update_keys(u, &k_ks_range, &e);
  p_error_clear(&e);
  (void)expr_update_figure(u, item);
  (void)expr_update_figure(u, NULL);
  unsigned uf = (flags & 8) ? EXPR_UPD_FINAL_SIZE_ONLY : 0;
  apply_update(u, item, key, &k_ks_range, uf, a);
  apply_update(u, item, key, NULL, uf, a);
  apply_update(u, NULL, key, &k_ks_range, uf, a);
  p_error_clear(&e);
}

/* Everything done with a projection. */
static void use_projection(const expr_projection *p, const dv_value *item, dv_arena *a) {
  p_error e;
  p_error_init(&e);
  FZ_ASSERT(p->n >= 1, "empty projection");
  take_text(expr_print_projection(p), "expr_print_projection");
  (void)expr_check_projection_keys(p, &k_ks_range, &e);
  p_error_clear(&e);
  for (uint32_t i = 0; i < p->n; i++) {
    FZ_ASSERT(p->paths[i].n >= 1 && p->paths[i].n <= EXPR_MAX_PATH_DEPTH, "path of %u elements",
              p->paths[i].n);
    free(expr_path_render(&p->paths[i]));
    (void)expr_path_resolve(item, &p->paths[i]);
    (void)expr_path_resolve(NULL, &p->paths[i]);
  }
  dv_value out = expr_project(item, p->paths, p->n, a);
  check_roundtrip(&out, "projection");
}

/* Loads one JSON section; NULL if absent (empty) or not JSON (*bad = 1). */
static json_t *load_section(const uint8_t *p, size_t n, int *bad) {
  if (n == 0) return NULL;
  json_t *j = json_loadb((const char *)p, n, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
  if (!j) *bad = 1;
  return j;
}

/* Splits off one line: [*p, nl) is returned through *len, *p moves past it. */
static const uint8_t *take_line(const uint8_t **p, const uint8_t *end, size_t *len) {
  const uint8_t *b = *p, *nl = memchr(b, '\n', (size_t)(end - b));
  if (!nl) nl = end;
  *len = (size_t)(nl - b);
  *p = nl < end ? nl + 1 : end;
  return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned kind = data[0] % 10u, flags = data[0] / 10u;
  const uint8_t *p = data + 1, *end = data + size;
  size_t nlen, vlen;
  const uint8_t *nb = take_line(&p, end, &nlen);
  const uint8_t *vb = take_line(&p, end, &vlen);
  size_t tlen = (size_t)(end - p);

  p_layer layer = (flags & 1) ? P_LAYER_OLDER : P_LAYER_CURRENT;
  expr_eav_wording wording = (flags & 2) ? EXPR_EAV_WRAPPED : EXPR_EAV_BARE;
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  int bad = 0;
  json_t *jn = load_section(nb, nlen, &bad), *jv = load_section(vb, vlen, &bad), *jmap = NULL;
  char *text = NULL;
  if (bad) goto done;
  /* Step 8 of protocol.md 2.1, as the request parser would do it. */
  if (jn && p__shape_check(jn, &p__sh_string_map, &e)) goto done;
  if (jv && p__shape_check(jv, &p__sh_av_map, &e)) goto done;
  if (jn && !json_is_object(jn)) goto done; /* JSON null: the member is absent */
  if (jv && !json_is_object(jv)) goto done;

  expr_names ean;
  expr_values eav;
  if (jn && expr_names_from_json(jn, a, &ean, &e)) goto done;
  if (jv && expr_values_from_json(jv, layer, wording, a, &eav, &e)) goto done;
  const expr_names *pean = jn ? &ean : NULL;
  const expr_values *peav = jv ? &eav : NULL;
  expr_usage usage;
  expr_usage_init(&usage, pean, peav, a);

  const dv_value *item = load_item(k_item, a), *key = load_item(k_key, a);

  if (kind <= 4) {
    /* Exactly the expression's bytes, no NUL after them. */
    text = malloc(tlen ? tlen : 1);
    FZ_ASSERT(text, "out of memory");
    if (tlen) memcpy(text, p, tlen);
  }
  switch (kind) {
    case 0:
    case 1:
    case 2: {
      expr_kind k = kind == 0 ? EXPR_CONDITION : kind == 1 ? EXPR_FILTER : EXPR_KEY_CONDITION;
      expr_node *cond;
      if (expr_parse_condition(text, tlen, k, pean, peav, &usage, a, &cond, &e)) break;
      FZ_ASSERT(cond && expr_node_is_condition(cond->kind), "parse_condition root is not a condition");
      if (expr_check_unused(pean, peav, &usage, &e)) p_error_clear(&e);
      use_condition(cond, k == EXPR_KEY_CONDITION, item, a);
      break;
    }
    case 3: {
      expr_update *u;
      if (expr_parse_update(text, tlen, pean, peav, &usage, a, &u, &e)) break;
      FZ_ASSERT(u && u->n >= 1, "parse_update gave no actions");
      if (expr_check_unused(pean, peav, &usage, &e)) p_error_clear(&e);
      use_update(u, flags, item, key, a);
      break;
    }
    case 4: {
      expr_projection *pr;
      if (expr_parse_projection(text, tlen, pean, &usage, a, &pr, &e)) break;
      if (expr_check_unused(pean, NULL, &usage, &e)) p_error_clear(&e);
      use_projection(pr, item, a);
      break;
    }
    case 5:
    case 6:
    case 7:
    case 8: {
      jmap = load_section(p, tlen, &bad);
      if (!jmap || p__shape_check(jmap, &p__sh_expected_map, &e) || !json_is_object(jmap)) break;
      expr_legacy_kind lk = (expr_legacy_kind)(kind - 5);
      expr_node *cond;
      if (expr_legacy_conditions(jmap, lk, (flags & 4) ? "OR" : NULL, layer, a, &cond, &e)) break;
      FZ_ASSERT(cond || json_object_size(jmap) == 0, "legacy conditions: no tree for a non-empty map");
      use_condition(cond, lk == EXPR_LEGACY_KEY_CONDITIONS && cond, item, a);
      break;
    }
    default: {
      jmap = load_section(p, tlen, &bad);
      if (!jmap || p__shape_check(jmap, &k_sh_avu_map, &e) || !json_is_object(jmap)) break;
      expr_update *u;
      if (expr_legacy_attribute_updates(jmap, layer, a, &u, &e)) break;
      FZ_ASSERT(u, "legacy update: no result");
      if (u->n > 0) use_update(u, flags | 8, item, key, a);
      break;
    }
  }
done:
  if (e.code != P_OK) {
    FZ_ASSERT(e.msg || e.code == P_SERIALIZATION, "error %d without a message", (int)e.code);
    size_t blen = 0;
    char *body = p_error_body(&e, &blen);
    FZ_ASSERT(body && blen > 0, "empty error body");
    free(body);
  }
  p_error_clear(&e);
  free(text);
  json_decref(jmap);
  json_decref(jn);
  json_decref(jv);
  dv_arena_free(a);
  return 0;
}
