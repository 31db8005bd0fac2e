/*
 * items.c -- the single-item data plane (operations.md 5.0-5.2): PutItem,
 * GetItem, DeleteItem and UpdateItem requests with their expressions, the
 * key/schema checks that follow the table lookup, and AttributesToGet
 * projection.
 *
 * Each parse function runs protocol.md 2.1 steps 8-10 in order: shapes
 * (SerializationException), member constraints (the joined "N validation
 * errors detected" message, with Put/Update/DeleteItem's TableName ''
 * answered alone in the new layer's form, UpdateItem's ReturnValues too),
 * then request semantics, in this order:
 *   1. the ReturnValues rule (Put/Delete: ALL_OLD or NONE);
 *   2. legacy/expression mixing, then ExpressionAttributeNames / Values
 *      given without an expression (expressions.md 11);
 *   3. the ExpressionAttributeNames / Values maps themselves (9 step 2);
 *   4. each expression: UpdateExpression, ConditionExpression,
 *      ProjectionExpression (9 step 3), then unused names / values (step 4);
 *   5. the Item / Key attribute values, PutItem's item size;
 *   6. the legacy maps converted into the same trees: AttributeUpdates,
 *      Expected (+ ConditionalOperator), AttributesToGet.
 * Put/Update/Delete put every message of steps 1-6 in the "1 validation
 * error detected: " envelope (protocol.md 2.3) -- except the item size,
 * which is bare, and except when the old validation layer reads the request
 * (a value nested too deep, or UpdateItem without Key), which answers steps
 * 1-4 bare; GetItem answers everything bare. The expression functions of
 * expr.h return bare messages; the envelope is added here.
 */
#include <stdlib.h>
#include <string.h>

#include "protocol/expr.h"
#include "protocol/protocol_int.h"

#define INVALID "One or more parameter values were invalid: "
#define MAX_ITEM_SIZE 409600u
#define MAX_HASH_KEY 2048u
#define MAX_RANGE_KEY 1024u

#define RV_ENUM_NEW "ALL_OLD, UPDATED_OLD, ALL_NEW, UPDATE_NEW, NONE"

/* ---- shapes ------------------------------------------------------------------ */

static const p__member k_put_members[] = {{"TableName", &p__sh_string},
                                          {"Item", &p__sh_av_map},
                                          {"Expected", &p__sh_expected_map},
                                          {"ReturnValues", &p__sh_string},
                                          {"ReturnConsumedCapacity", &p__sh_string},
                                          {"ReturnItemCollectionMetrics", &p__sh_string},
                                          {"ConditionalOperator", &p__sh_string},
                                          {"ConditionExpression", &p__sh_string},
                                          {"ExpressionAttributeNames", &p__sh_string_map},
                                          {"ExpressionAttributeValues", &p__sh_av_map},
                                          {"ReturnValuesOnConditionCheckFailure", &p__sh_string},
                                          {NULL, NULL}};
static const p__shape sh_put = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.PutItemRequest", NULL,
                                k_put_members};

static const p__member k_delete_members[] = {{"TableName", &p__sh_string},
                                             {"Key", &p__sh_av_map},
                                             {"Expected", &p__sh_expected_map},
                                             {"ConditionalOperator", &p__sh_string},
                                             {"ReturnValues", &p__sh_string},
                                             {"ReturnConsumedCapacity", &p__sh_string},
                                             {"ReturnItemCollectionMetrics", &p__sh_string},
                                             {"ConditionExpression", &p__sh_string},
                                             {"ExpressionAttributeNames", &p__sh_string_map},
                                             {"ExpressionAttributeValues", &p__sh_av_map},
                                             {"ReturnValuesOnConditionCheckFailure", &p__sh_string},
                                             {NULL, NULL}};
static const p__shape sh_delete = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.DeleteItemRequest",
                                   NULL, k_delete_members};

static const p__member k_get_members[] = {{"TableName", &p__sh_string},
                                          {"Key", &p__sh_av_map},
                                          {"AttributesToGet", &p__sh_string_list},
                                          {"ConsistentRead", &p__sh_bool},
                                          {"ReturnConsumedCapacity", &p__sh_string},
                                          {"ProjectionExpression", &p__sh_string},
                                          {"ExpressionAttributeNames", &p__sh_string_map},
                                          {NULL, NULL}};
static const p__shape sh_get = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.GetItemRequest", NULL,
                                k_get_members};

static const p__member k_attr_update_members[] = {
    {"Value", &p__sh_av}, {"Action", &p__sh_string}, {NULL, NULL}};
static const p__shape sh_attr_update = {
    P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.AttributeValueUpdate", NULL, k_attr_update_members};
static const p__shape sh_attr_updates = {
    P_SH_MAP, "java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.AttributeValueUpdate>",
    &sh_attr_update, NULL};

static const p__member k_update_members[] = {{"TableName", &p__sh_string},
                                             {"Key", &p__sh_av_map},
                                             {"AttributeUpdates", &sh_attr_updates},
                                             {"Expected", &p__sh_expected_map},
                                             {"ConditionalOperator", &p__sh_string},
                                             {"ReturnValues", &p__sh_string},
                                             {"ReturnConsumedCapacity", &p__sh_string},
                                             {"ReturnItemCollectionMetrics", &p__sh_string},
                                             {"UpdateExpression", &p__sh_string},
                                             {"ConditionExpression", &p__sh_string},
                                             {"ExpressionAttributeNames", &p__sh_string_map},
                                             {"ExpressionAttributeValues", &p__sh_av_map},
                                             {"ReturnValuesOnConditionCheckFailure", &p__sh_string},
                                             {NULL, NULL}};
static const p__shape sh_update = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.UpdateItemRequest",
                                   NULL, k_update_members};

/* ---- shared checks --------------------------------------------------------------- */

static bool str_is(const json_t *j, const char *s) {
  return json_is_string(j) && !strcmp(json_string_value(j), s);
}

static bool in_set(const json_t *j, const char *const *set) {
  for (; *set; set++)
    if (str_is(j, *set)) return true;
  return false;
}

static const char *const k_rcc[] = {"INDEXES", "TOTAL", "NONE", NULL};
static const char *const k_ricm[] = {"SIZE", "NONE", NULL};
static const char *const k_rv[] = {"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW", NULL};
static const char *const k_cop[] = {"AND", "OR", NULL};
static const char *const k_rvoccf[] = {"ALL_OLD", "NONE", NULL};

p_rcc p__rcc_from(const char *s) {
  if (!s) return P_RCC_NONE;
  if (!strcmp(s, "TOTAL")) return P_RCC_TOTAL;
  if (!strcmp(s, "INDEXES")) return P_RCC_INDEXES;
  return P_RCC_NONE;
}

static p_return_values rv_from(const json_t *j) {
  if (!j) return P_RV_NONE;
  const char *s = json_string_value(j);
  if (!strcmp(s, "ALL_OLD")) return P_RV_ALL_OLD;
  if (!strcmp(s, "UPDATED_OLD")) return P_RV_UPDATED_OLD;
  if (!strcmp(s, "ALL_NEW")) return P_RV_ALL_NEW;
  if (!strcmp(s, "UPDATED_NEW")) return P_RV_UPDATED_NEW;
  return P_RV_NONE;
}

static void rcc_constraint(p__verrs *v, const json_t *body) {
  const json_t *x = p__member_get(body, "ReturnConsumedCapacity");
  if (x && !in_set(x, k_rcc))
    p__verr_enum(v, json_string_value(x), "returnConsumedCapacity", "INDEXES, TOTAL, NONE");
}

static void ricm_constraint(p__verrs *v, const json_t *body) {
  const json_t *x = p__member_get(body, "ReturnItemCollectionMetrics");
  if (x && !in_set(x, k_ricm))
    p__verr_enum(v, json_string_value(x), "returnItemCollectionMetrics", "SIZE, NONE");
}

/* Data-plane TableName: 1..255 and the pattern, old form ('' handled by
 * the caller where the new layer answers it). */
static void data_table_name_constraint(p__verrs *v, const json_t *body) {
  const json_t *t = p__member_get(body, "TableName");
  if (!t) {
    p__verr_null(v, "tableName");
    return;
  }
  p__verr_string(v, json_string_value(t), json_string_length(t), "tableName", 1, 255, P_TABLE_NAME_PATTERN);
}

static int body_check(const json_t *body, const p__shape *sh, p_error *err) {
  if (!json_is_object(body)) return p_error_set(err, P_SERIALIZATION, NULL);
  return p__shape_check(body, sh, err);
}

/* 1 if an AttributeValue in the map nests deeper than DynamoDB's 32 levels.
 * Such a request is read by the old validation layer (protocol.md 2.2, last
 * paragraph), which words the member constraints in its own way. */
static bool av_too_deep(const json_t *av, int depth) {
  if (depth > 32) return true;
  if (!json_is_object(av)) return false;
  const json_t *m = p__member_get(av, "M"), *l = p__member_get(av, "L");
  const char *k;
  const json_t *x;
  size_t i;
  if (json_is_object(m)) json_object_foreach((json_t *)m, k, x) if (av_too_deep(x, depth + 1)) return true;
  if (json_is_array(l)) json_array_foreach(l, i, x) if (av_too_deep(x, depth + 1)) return true;
  return false;
}

static bool map_too_deep(const json_t *map) {
  const char *k;
  const json_t *x;
  if (json_is_object(map)) json_object_foreach((json_t *)map, k, x) if (av_too_deep(x, 1)) return true;
  return false;
}

/* Put/Delete member constraints (protocol.md 2.1 step 9, 2.2). old: the old
 * layer answers (a value nested too deep). */
static int write_constraints(const json_t *body, const char *map_member, const char *map_path, bool join_ricm,
                             bool old, p_error *err) {
  const json_t *t = p__member_get(body, "TableName");
  if (!old && t && json_string_length(t) == 0)
    return p_error_set(
        err, P_VALIDATION,
        "1 validation error detected: Value at 'TableName' failed to satisfy constraint: Member "
        "must have length greater than or equal to 1");
  p__verrs v;
  p__verrs_init(&v);
  rcc_constraint(&v, body);
  data_table_name_constraint(&v, body);
  const json_t *rv = p__member_get(body, "ReturnValues");
  if (rv && !in_set(rv, k_rv)) {
    if (old)
      p__verr_enum(&v, json_string_value(rv), "returnValues",
                   "ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW");
    else
      p__verrs_add(&v, "Failed to satisfy constraint: Member must satisfy enum value set: [" RV_ENUM_NEW "]");
  }
  if (!p__member_get(body, map_member)) p__verr_null(&v, map_path);
  if (join_ricm || old) ricm_constraint(&v, body);
  const json_t *cop = p__member_get(body, "ConditionalOperator");
  if (cop && !in_set(cop, k_cop)) {
    if (old)
      p__verr_enum(&v, json_string_value(cop), "conditionalOperator", "OR, AND");
    else
      p__verrs_add(&v, "Failed to satisfy constraint: Member must satisfy enum value set: [ALL, OR]");
  }
  const json_t *rvo = p__member_get(body, "ReturnValuesOnConditionCheckFailure");
  if (rvo && !in_set(rvo, k_rvoccf))
    p__verr_enum(&v, json_string_value(rvo), "returnValuesOnConditionCheckFailure", "ALL_OLD, NONE");
  if (p__verrs_finish(&v, err)) return -1;
  if (!join_ricm && !old) { /* DeleteItem reports it on its own, after the others */
    ricm_constraint(&v, body);
    if (p__verrs_finish(&v, err)) return -1;
  }
  return 0;
}

/* The old layer answers steps 1-4 of the semantics bare; the current
 * layer puts them in the envelope. Messages that already carry a count
 * prefix (joined member constraints of the legacy maps) are left alone.
 * Returns -1. */
static int envelope(p_error *err, bool bare) {
  if (bare || !err->msg) return -1;
  const char *m = err->msg;
  while (*m >= '0' && *m <= '9') m++;
  if (m != err->msg && !strncmp(m, " validation error", 17)) return -1;
  return p__value_error_envelope(err);
}

/* ReturnValues rule of Put/Delete (step 10). */
static int write_rv_rule(const json_t *body, bool old, p_return_values *rv, p_error *err) {
  *rv = rv_from(p__member_get(body, "ReturnValues"));
  if (*rv != P_RV_NONE && *rv != P_RV_ALL_OLD)
    return p_error_set(err, P_VALIDATION, "%sReturnValues can only be ALL_OLD or NONE",
                       old ? "" : "1 validation error detected: ");
  return 0;
}

/* ---- expressions ------------------------------------------------------------------ */

/* Appends the names of the members of body present in list to b ("A, B"),
 * returns how many. An empty-string expression counts as present. */
static int members_present(const json_t *body, const char *const *list, p__sbuf *b) {
  int n = 0;
  for (; *list; list++) {
    if (!p__member_get(body, *list)) continue;
    if (n++) p__sbuf_add(b, ", ", 2);
    p__sbuf_add(b, *list, strlen(*list));
  }
  return n;
}

/* Steps 2-3 of the semantics (expressions.md 11, then 9 step 2): mixing of
 * legacy and expression members, names / values given without an
 * expression (eav_member: the operation has an ExpressionAttributeValues
 * member; every expression of such an operation takes values), then the two
 * maps converted. Bare messages. */
int p__exprs_begin(const json_t *body, const char *const *legacy, const char *const *exprs,
                   bool eav_member, dv_arena *a, p__req_exprs *x, p_error *err) {
  memset(x, 0, sizeof *x);
  p__sbuf lb = {0}, eb = {0};
  int nl = members_present(body, legacy, &lb), ne = members_present(body, exprs, &eb);
  int rc = 0;
  if (nl && ne)
    rc = p_error_set(err, P_VALIDATION,
                     "Can not use both expression and non-expression parameters in the same request: "
                     "Non-expression parameters: {%s} Expression parameters: {%s}",
                     lb.p, eb.p);
  free(lb.p);
  free(eb.p);
  if (rc) return -1;
  const json_t *ean = p__member_get(body, "ExpressionAttributeNames");
  const json_t *eav = eav_member ? p__member_get(body, "ExpressionAttributeValues") : NULL;
  if (ean && !ne)
    return p_error_set(err, P_VALIDATION,
                       "ExpressionAttributeNames can only be specified when using expressions");
  if (eav && !ne)
    return p_error_set(err, P_VALIDATION,
                       "ExpressionAttributeValues can only be specified when using expressions");
  if (ean) {
    if (expr_names_from_json(ean, a, &x->ean_s, err)) return -1;
    x->ean = &x->ean_s;
  }
  if (eav) {
    if (expr_values_from_json(eav, P_LAYER_CURRENT, EXPR_EAV_BARE, a, &x->eav_s, err)) return -1;
    x->eav = &x->eav_s;
  }
  expr_usage_init(&x->usage, x->ean, x->eav, a);
  return 0;
}

/* ConditionExpression, if present. */
static int parse_condition(const json_t *body, p__req_exprs *x, dv_arena *a, struct expr_node **out,
                           p_error *err) {
  const json_t *j = p__member_get(body, "ConditionExpression");
  *out = NULL;
  if (!j) return 0;
  return expr_parse_condition(json_string_value(j), json_string_length(j), EXPR_CONDITION, x->ean, x->eav,
                              &x->usage, a, out, err);
}

/* Expected (+ ConditionalOperator), if present (after the item values). */
static int parse_expected(const json_t *body, dv_arena *a, struct expr_node **out, p_error *err) {
  const json_t *exp = p__member_get(body, "Expected");
  if (!exp) return 0;
  const json_t *cop = p__member_get(body, "ConditionalOperator");
  return expr_legacy_conditions(exp, EXPR_LEGACY_EXPECTED, cop ? json_string_value(cop) : NULL,
                                P_LAYER_CURRENT, a, out, err);
}

/* 1 if the Item / Key nests deeper than av_too_deep's bound (the old layer
 * reads the request). Values elsewhere (ExpressionAttributeValues,
 * AttributeUpdates, Expected) do not switch layers: their nesting error is
 * enveloped like any other value error (expressions.md 9, "EAV nested"). */
static bool request_too_deep(const json_t *body, const char *map_member) {
  return map_too_deep(p__member_get(body, map_member));
}

static const char *const k_put_legacy[] = {"Expected", NULL};
static const char *const k_put_exprs[] = {"ConditionExpression", NULL};
static const char *const k_update_legacy[] = {"AttributeUpdates", "Expected", NULL};
static const char *const k_update_exprs[] = {"UpdateExpression", "ConditionExpression", NULL};
static const char *const k_get_legacy[] = {"AttributesToGet", NULL};
static const char *const k_get_exprs[] = {"ProjectionExpression", NULL};

/* Put/Delete: steps 1-4 of the semantics, then the Item / Key values, then
 * Expected. map_member is "Item" or "Key"; *map gets it converted. */
static int write_semantics(const json_t *body, const char *map_member, bool old, dv_arena *a,
                           p_return_values *rv, dv_value *map, struct expr_node **cond, p_error *err) {
  if (write_rv_rule(body, old, rv, err)) return -1;
  p__req_exprs x;
  if (p__exprs_begin(body, k_put_legacy, k_put_exprs, true, a, &x, err)) return envelope(err, old);
  if (parse_condition(body, &x, a, cond, err)) return envelope(err, old);
  if (expr_check_unused(x.ean, x.eav, &x.usage, err)) return envelope(err, old);
  if (p__item_convert(p__member_get(body, map_member), P_LAYER_CURRENT, a, map, err))
    return p__value_error_envelope(err);
  if (!strcmp(map_member, "Item") && dv_item_size(map) > MAX_ITEM_SIZE)
    return p_error_set(err, P_VALIDATION, "Item size has exceeded the maximum allowed size");
  if (parse_expected(body, a, cond, err)) return envelope(err, false);
  return 0;
}

/* ---- PutItem ------------------------------------------------------------------- */

int p_parse_put_item(const json_t *body, dv_arena *a, p_put_item *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (body_check(body, &sh_put, err)) return -1;
  bool old = request_too_deep(body, "Item");
  if (write_constraints(body, "Item", "item", true, old, err)) return -1;
  if (write_semantics(body, "Item", old, a, &out->rv, &out->item, &out->condition, err)) return -1;
  out->table_name = p__member_str(body, "TableName", a, NULL);
  out->rcc = p__rcc_from(json_string_value(p__member_get(body, "ReturnConsumedCapacity")));
  out->rvcf_all_old = str_is(p__member_get(body, "ReturnValuesOnConditionCheckFailure"), "ALL_OLD");
  out->ricm_size = str_is(p__member_get(body, "ReturnItemCollectionMetrics"), "SIZE");
  return 0;
}

/* ---- DeleteItem ---------------------------------------------------------------- */

int p_parse_delete_item(const json_t *body, dv_arena *a, p_delete_item *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (body_check(body, &sh_delete, err)) return -1;
  bool old = request_too_deep(body, "Key");
  if (write_constraints(body, "Key", "key", false, old, err)) return -1;
  if (write_semantics(body, "Key", old, a, &out->rv, &out->key, &out->condition, err)) return -1;
  out->table_name = p__member_str(body, "TableName", a, NULL);
  out->rcc = p__rcc_from(json_string_value(p__member_get(body, "ReturnConsumedCapacity")));
  out->rvcf_all_old = str_is(p__member_get(body, "ReturnValuesOnConditionCheckFailure"), "ALL_OLD");
  out->ricm_size = str_is(p__member_get(body, "ReturnItemCollectionMetrics"), "SIZE");
  return 0;
}

/* ---- UpdateItem ---------------------------------------------------------------- */

/* UpdateItem member constraints (protocol.md 2.1 step 9): in the new layer
 * TableName '' alone, then ReturnValues outside its enum alone, then the
 * others joined; the old layer (a value nested too deep, or Key absent)
 * joins everything in member order returnConsumedCapacity, tableName,
 * returnValues, key, returnItemCollectionMetrics, conditionalOperator,
 * returnValuesOnConditionCheckFailure. */
static int update_constraints(const json_t *body, bool old, p_error *err) {
  const json_t *t = p__member_get(body, "TableName");
  const json_t *rv = p__member_get(body, "ReturnValues");
  bool rv_bad = rv && !in_set(rv, k_rv);
  if (!old) {
    if (t && json_string_length(t) == 0)
      return p_error_set(
          err, P_VALIDATION,
          "1 validation error detected: Value at 'TableName' failed to satisfy constraint: Member "
          "must have length greater than or equal to 1");
    if (rv_bad)
      return p_error_set(
          err, P_VALIDATION,
          "1 validation error detected: Failed to satisfy constraint: Member must satisfy enum "
          "value set: [" RV_ENUM_NEW "]");
  }
  p__verrs v;
  p__verrs_init(&v);
  rcc_constraint(&v, body);
  data_table_name_constraint(&v, body);
  if (old && rv_bad)
    p__verr_enum(&v, json_string_value(rv), "returnValues",
                 "ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW");
  if (!p__member_get(body, "Key")) p__verr_null(&v, "key");
  ricm_constraint(&v, body);
  const json_t *cop = p__member_get(body, "ConditionalOperator");
  if (cop && !in_set(cop, k_cop)) {
    if (old)
      p__verr_enum(&v, json_string_value(cop), "conditionalOperator", "OR, AND");
    else
      p__verrs_add(&v, "Failed to satisfy constraint: Member must satisfy enum value set: [ALL, OR]");
  }
  const json_t *rvo = p__member_get(body, "ReturnValuesOnConditionCheckFailure");
  if (rvo && !in_set(rvo, k_rvoccf))
    p__verr_enum(&v, json_string_value(rvo), "returnValuesOnConditionCheckFailure", "ALL_OLD, NONE");
  return p__verrs_finish(&v, err);
}

int p_parse_update_item(const json_t *body, dv_arena *a, p_update_item *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (body_check(body, &sh_update, err)) return -1;
  bool old = request_too_deep(body, "Key") || !p__member_get(body, "Key");
  if (update_constraints(body, old, err)) return -1;

  p__req_exprs x;
  if (p__exprs_begin(body, k_update_legacy, k_update_exprs, true, a, &x, err)) return envelope(err, old);
  const json_t *ue = p__member_get(body, "UpdateExpression");
  if (ue && expr_parse_update(json_string_value(ue), json_string_length(ue), x.ean, x.eav, &x.usage, a,
                              &out->update, err))
    return envelope(err, old);
  if (parse_condition(body, &x, a, &out->condition, err)) return envelope(err, old);
  if (expr_check_unused(x.ean, x.eav, &x.usage, err)) return envelope(err, old);
  if (p__item_convert(p__member_get(body, "Key"), P_LAYER_CURRENT, a, &out->key, err))
    return p__value_error_envelope(err);
  const json_t *au = p__member_get(body, "AttributeUpdates");
  if (au && expr_legacy_attribute_updates(au, P_LAYER_CURRENT, a, &out->update, err))
    return envelope(err, false);
  if (parse_expected(body, a, &out->condition, err)) return envelope(err, false);
  if (!out->update) out->update = dv_arena_calloc(a, sizeof *out->update);

  out->table_name = p__member_str(body, "TableName", a, NULL);
  out->rv = rv_from(p__member_get(body, "ReturnValues"));
  out->rcc = p__rcc_from(json_string_value(p__member_get(body, "ReturnConsumedCapacity")));
  out->rvcf_all_old = str_is(p__member_get(body, "ReturnValuesOnConditionCheckFailure"), "ALL_OLD");
  out->ricm_size = str_is(p__member_get(body, "ReturnItemCollectionMetrics"), "SIZE");
  return 0;
}

/* AttributesToGet: duplicates, then the names (copied into a). */
int p__attrs_to_get(const json_t *atg, dv_arena *a, const char ***names_out, size_t *n_out, p_error *err) {
  size_t n = json_array_size(atg), k = 0;
  const char **names = dv_arena_alloc(a, sizeof(char *) * (n ? n : 1));
  for (size_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(atg, i);
    if (!json_is_string(e)) continue;
    const char *s = json_string_value(e);
    for (size_t j = 0; j < k; j++)
      if (!strcmp(names[j], s))
        return p_error_set(err, P_VALIDATION, INVALID "Duplicate value in attribute name: %s", s);
    names[k++] = dv_arena_strndup(a, s, json_string_length(e));
  }
  *names_out = names;
  *n_out = k;
  return 0;
}

/* ---- GetItem ------------------------------------------------------------------- */

int p_parse_get_item(const json_t *body, dv_arena *a, p_get_item *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (body_check(body, &sh_get, err)) return -1;
  p__verrs v;
  p__verrs_init(&v);
  rcc_constraint(&v, body);
  const json_t *atg = p__member_get(body, "AttributesToGet");
  if (atg && json_array_size(atg) == 0)
    p__verrs_add(&v,
                 "Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length "
                 "greater than or equal to 1");
  data_table_name_constraint(&v, body);
  if (!p__member_get(body, "Key")) p__verr_null(&v, "key");
  if (p__verrs_finish(&v, err)) return -1;

  /* GetItem has no ExpressionAttributeValues member: one sent is ignored. */
  p__req_exprs x;
  if (p__exprs_begin(body, k_get_legacy, k_get_exprs, false, a, &x, err)) return -1;
  const json_t *pe = p__member_get(body, "ProjectionExpression");
  if (pe && expr_parse_projection(json_string_value(pe), json_string_length(pe), x.ean, &x.usage, a,
                                  &out->projection, err))
    return -1;
  if (expr_check_unused(x.ean, NULL, &x.usage, err)) return -1;
  if (p__item_convert(p__member_get(body, "Key"), P_LAYER_CURRENT, a, &out->key, err)) return -1;
  if (atg) {
    if (p__attrs_to_get(atg, a, &out->attrs_to_get, &out->n_attrs_to_get, err)) return -1;
    out->projection = expr_projection_from_names(out->attrs_to_get, out->n_attrs_to_get, a);
  }
  out->table_name = p__member_str(body, "TableName", a, NULL);
  out->consistent = p__bool_value(p__member_get(body, "ConsistentRead"));
  out->rcc = p__rcc_from(json_string_value(p__member_get(body, "ReturnConsumedCapacity")));
  return 0;
}

/* ---- schema checks (after the table lookup) ---------------------------------------- */

/* Empty S/B key value, then key sizes (operations.md 1.4, 1.5). */
static int key_values_check(const p_key_schema *ks, const dv_value *hv, const dv_value *rv, p_error *err) {
  const dv_value *vals[2] = {hv, rv};
  const char *names[2] = {ks->hash_name, ks->range_name};
  for (int i = 0; i < 2; i++) {
    const dv_value *x = vals[i];
    if (!x || x->n > 0) continue;
    if (x->type == DV_S)
      return p_error_set(err, P_VALIDATION,
                         "One or more parameter values are not valid. The AttributeValue for a key attribute "
                         "cannot contain an empty string value. Key: %s",
                         names[i]);
    if (x->type == DV_B)
      return p_error_set(err, P_VALIDATION,
                         "One or more parameter values are not valid. The AttributeValue for a key attribute "
                         "cannot contain an empty binary value. Key: %s",
                         names[i]);
  }
  if (hv && (hv->type == DV_S || hv->type == DV_B) && hv->n > MAX_HASH_KEY)
    return p_error_set(err, P_VALIDATION,
                       INVALID "Size of hashkey has exceeded the maximum size limit of2048 bytes");
  if (rv && (rv->type == DV_S || rv->type == DV_B) && rv->n > MAX_RANGE_KEY)
    return p_error_set(err, P_VALIDATION,
                       INVALID "Aggregated size of all range keys has exceeded the size limit of 1024 bytes");
  return 0;
}

static const dv_value *attr_get(const dv_value *m, const char *name) {
  return name ? dv_map_get(m, name, strlen(name)) : NULL;
}

int p_check_put_item(const p_key_schema *ks, const dv_value *item, p_error *err) {
  const char *names[2] = {ks->hash_name, ks->range_name};
  dv_type types[2] = {ks->hash_type, ks->range_type};
  const dv_value *vals[2] = {NULL, NULL};
  for (int i = 0; i < 2; i++) {
    if (!names[i]) continue;
    vals[i] = attr_get(item, names[i]);
    if (!vals[i]) return p_error_set(err, P_VALIDATION, INVALID "Missing the key %s in the item", names[i]);
    if (vals[i]->type != types[i])
      return p_error_set(err, P_VALIDATION, INVALID "Type mismatch for key %s expected: %s actual: %s",
                         names[i], dv_type_name(types[i]), dv_type_name(vals[i]->type));
  }
  return key_values_check(ks, vals[0], vals[1], err);
}

int p_check_key(const p_key_schema *ks, const dv_value *key, p_error *err) {
  uint32_t want = ks->range_name ? 2 : 1;
  const dv_value *hv = attr_get(key, ks->hash_name);
  const dv_value *rv = ks->range_name ? attr_get(key, ks->range_name) : NULL;
  if (key->type != DV_M || key->n != want || !hv || hv->type != ks->hash_type ||
      (ks->range_name && (!rv || rv->type != ks->range_type)))
    return p_error_set(err, P_VALIDATION, "The provided key element does not match the schema");
  return key_values_check(ks, hv, rv, err);
}

int p_check_update_item(const p_key_schema *ks, const p_update_item *req, p_error *err) {
  if (p_check_key(ks, &req->key, err)) return -1;
  return expr_check_update_keys(req->update, ks, err);
}

/* ---- projection ------------------------------------------------------------------ */

dv_value p_project_attrs(const dv_value *item, const char **names, size_t n, dv_arena *a) {
  dv_value out = {.type = DV_M, .n = 0, .u.attrs = NULL};
  if (!item || item->type != DV_M || item->n == 0) return out;
  dv_attr *attrs = dv_arena_alloc(a, sizeof(dv_attr) * item->n);
  for (uint32_t i = 0; i < item->n; i++) {
    const dv_attr *at = &item->u.attrs[i];
    for (size_t k = 0; k < n; k++)
      if (strlen(names[k]) == at->name_len && !memcmp(names[k], at->name, at->name_len)) {
        attrs[out.n].name = dv_arena_strndup(a, at->name, at->name_len);
        attrs[out.n].name_len = at->name_len;
        attrs[out.n].value = dv_clone(a, &at->value);
        out.n++;
        break;
      }
  }
  out.u.attrs = attrs;
  return out;
}
