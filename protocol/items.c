/*
 * items.c -- the single-item data plane (operations.md 5.0-5.1): PutItem,
 * GetItem and DeleteItem requests, the key/schema checks that follow the
 * table lookup, and AttributesToGet projection.
 *
 * Each parse function runs protocol.md 2.1 steps 8-10 in order: shapes
 * (SerializationException), member constraints (the joined "N validation
 * errors detected" message, with PutItem/DeleteItem's TableName '' answered
 * alone in the new layer's form), then request semantics: ReturnValues,
 * members dynafile does not support yet, attribute values (current layer;
 * enveloped "1 validation error detected: " on Put/Delete, bare on Get),
 * and PutItem's item size.
 */
#include <stdlib.h>
#include <string.h>

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

static const char *const k_unsupported_write[] = {"ConditionExpression",       "Expected",
                                                  "ConditionalOperator",       "ExpressionAttributeNames",
                                                  "ExpressionAttributeValues", NULL};

/* ReturnValues rule and not-yet-supported members of Put/Delete (step 10);
 * the old layer answers the ReturnValues rule bare. */
static int write_semantics(const json_t *body, bool old, p_return_values *rv, p_error *err) {
  *rv = rv_from(p__member_get(body, "ReturnValues"));
  if (*rv != P_RV_NONE && *rv != P_RV_ALL_OLD)
    return p_error_set(err, P_VALIDATION, "%sReturnValues can only be ALL_OLD or NONE",
                       old ? "" : "1 validation error detected: ");
  for (const char *const *m = k_unsupported_write; *m; m++)
    if (p__member_get(body, *m)) return p__unsupported(err, *m);
  return 0;
}

/* ---- PutItem ------------------------------------------------------------------- */

int p_parse_put_item(const json_t *body, dv_arena *a, p_put_item *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (body_check(body, &sh_put, err)) return -1;
  bool old = map_too_deep(p__member_get(body, "Item"));
  if (write_constraints(body, "Item", "item", true, old, err)) return -1;
  if (write_semantics(body, old, &out->rv, err)) return -1;
  if (p__item_convert(p__member_get(body, "Item"), P_LAYER_CURRENT, a, &out->item, err))
    return p__value_error_envelope(err);
  if (dv_item_size(&out->item) > MAX_ITEM_SIZE)
    return p_error_set(err, P_VALIDATION, "Item size has exceeded the maximum allowed size");
  out->table_name = p__member_str(body, "TableName", a, NULL);
  out->rcc = p__rcc_from(json_string_value(p__member_get(body, "ReturnConsumedCapacity")));
  out->rvcf_all_old = str_is(p__member_get(body, "ReturnValuesOnConditionCheckFailure"), "ALL_OLD");
  return 0;
}

/* ---- DeleteItem ---------------------------------------------------------------- */

int p_parse_delete_item(const json_t *body, dv_arena *a, p_delete_item *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (body_check(body, &sh_delete, err)) return -1;
  bool old = map_too_deep(p__member_get(body, "Key"));
  if (write_constraints(body, "Key", "key", false, old, err)) return -1;
  if (write_semantics(body, old, &out->rv, err)) return -1;
  if (p__item_convert(p__member_get(body, "Key"), P_LAYER_CURRENT, a, &out->key, err))
    return p__value_error_envelope(err);
  out->table_name = p__member_str(body, "TableName", a, NULL);
  out->rcc = p__rcc_from(json_string_value(p__member_get(body, "ReturnConsumedCapacity")));
  out->rvcf_all_old = str_is(p__member_get(body, "ReturnValuesOnConditionCheckFailure"), "ALL_OLD");
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

  if (p__member_get(body, "ProjectionExpression")) return p__unsupported(err, "ProjectionExpression");
  if (p__member_get(body, "ExpressionAttributeNames")) return p__unsupported(err, "ExpressionAttributeNames");
  if (p__item_convert(p__member_get(body, "Key"), P_LAYER_CURRENT, a, &out->key, err)) return -1;
  if (atg) {
    size_t n = json_array_size(atg), k = 0;
    const char **names = dv_arena_alloc(a, sizeof(char *) * n);
    for (size_t i = 0; i < n; i++) {
      const json_t *e = json_array_get(atg, i);
      if (!json_is_string(e)) continue;
      const char *s = json_string_value(e);
      for (size_t j = 0; j < k; j++)
        if (!strcmp(names[j], s))
          return p_error_set(err, P_VALIDATION, INVALID "Duplicate value in attribute name: %s", s);
      names[k++] = dv_arena_strndup(a, s, json_string_length(e));
    }
    out->attrs_to_get = names;
    out->n_attrs_to_get = k;
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
