/*
 * query.c -- Query and Scan requests (operations.md 5.3-5.5, expressions.md
 * 8-11, protocol.md 2.1-2.3): shapes, member constraints, request semantics
 * (expression/legacy mixing, Select, ExclusiveStartKey values, the
 * expressions and legacy conditions), and the checks that follow the table
 * lookup (index, key conditions against the schema, filter and projection
 * on key attributes, ExclusiveStartKey against the schema and the key
 * condition), plus the key of an item for LastEvaluatedKey.
 *
 * Order of checks, each answered at the first failure:
 *   1. shapes (SerializationException);
 *   2. member constraints. Query: a ConditionalOperator outside its enum is
 *      answered alone and bare in the new layer's form ("[ALL, OR]"); the
 *      rest joins ("N validation errors detected: ") in the order
 *      returnConsumedCapacity, attributesToGet, Limit (new form "Value at
 *      'Limit'"), tableName, select, indexName. Scan: old forms, joined, in
 *      the order attributesToGet, returnConsumedCapacity, conditionalOperator,
 *      limit, tableName, select, segment, totalSegments, indexName;
 *   3. semantics: mixing of expression and legacy members, EAN / EAV without
 *      an expression, Query without key condition / Scan's Segment and
 *      TotalSegments rules, Select rules, AttributesToGet duplicates,
 *      ExclusiveStartKey values (Query: current layer, bare; Scan: older
 *      layer, "The provided starting key is invalid: " in front of all but
 *      the number, empty-NS and duplicate messages), EAN, EAV (Scan wraps
 *      bad values), KeyConditionExpression or KeyConditions, FilterExpression
 *      or QueryFilter/ScanFilter (with the ConditionalOperator rule),
 *      ProjectionExpression or AttributesToGet, then unused EAN/EAV;
 *   4. (caller) the table lookup (ResourceNotFoundException);
 *   5. p_check_query / p_check_scan: IndexName among the table's indexes
 *      ("The table does not have the specified index"), then on an index:
 *      ConsistentRead on a GSI, a GSI still backfilling, Select
 *      ALL_ATTRIBUTES on a GSI that does not project ALL, a projection
 *      naming attributes a GSI does not project (the missing top-level
 *      names, first-use order, each once); then the key conditions against
 *      the queried schema (the index's on an index) and key value sizes,
 *      filter on the queried key attributes (Query), nested projection
 *      into a key (Query), the ExclusiveStartKey against the schema (on an
 *      index: the table keys plus the index keys, bare "The provided
 *      starting key is invalid"), then (Query) whether it can be restarted
 *      at all (never "one row" on an index: index keys are not unique),
 *      lies in the queried partition and satisfies the sort-key condition;
 *   6. (caller, Scan) the ExclusiveStartKey's segment (p_scan_segment_error),
 *      which needs the storage engine's hash.
 *
 * Messages whose wording no source pins are dynafile's choice, in the style
 * of the pinned ones: the Select enum (old form, dynalite's order), the join
 * orders of step 2, the key-value size messages of key conditions (those of
 * p_check_key), Scan's "Cannot specify the ... when choosing to get ..."
 * (the Query ones are pinned), and an ExclusiveStartKey with an empty key
 * value ("The provided starting key is invalid: " + p_check_key's message).
 */
#include <stdlib.h>
#include <string.h>

#include "protocol/expr.h"
#include "protocol/protocol_int.h"

#define INVALID "One or more parameter values were invalid: "
#define STARTING_KEY "The provided starting key is invalid: "
#define MAX_HASH_KEY 2048u
#define MAX_RANGE_KEY 1024u
#define MAX_SEGMENT 999999
#define MAX_TOTAL_SEGMENTS 1000000

/* ---- shapes ------------------------------------------------------------------ */

static const p__shape sh_av_list = {P_SH_LIST, NULL, &p__sh_av, NULL};
static const p__member k_condition_members[] = {
    {"AttributeValueList", &sh_av_list}, {"ComparisonOperator", &p__sh_string}, {NULL, NULL}};
static const p__shape sh_condition = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.Condition", NULL,
                                      k_condition_members};
static const p__shape sh_condition_map = {
    P_SH_MAP, "java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.Condition>", &sh_condition,
    NULL};

static const p__member k_query_members[] = {{"TableName", &p__sh_string},
                                            {"IndexName", &p__sh_string},
                                            {"Select", &p__sh_string},
                                            {"AttributesToGet", &p__sh_string_list},
                                            {"Limit", &p__sh_integer},
                                            {"ConsistentRead", &p__sh_bool},
                                            {"KeyConditions", &sh_condition_map},
                                            {"QueryFilter", &sh_condition_map},
                                            {"ConditionalOperator", &p__sh_string},
                                            {"ScanIndexForward", &p__sh_bool},
                                            {"ExclusiveStartKey", &p__sh_av_map},
                                            {"ReturnConsumedCapacity", &p__sh_string},
                                            {"ProjectionExpression", &p__sh_string},
                                            {"FilterExpression", &p__sh_string},
                                            {"KeyConditionExpression", &p__sh_string},
                                            {"ExpressionAttributeNames", &p__sh_string_map},
                                            {"ExpressionAttributeValues", &p__sh_av_map},
                                            {NULL, NULL}};
static const p__shape sh_query = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.QueryRequest", NULL,
                                  k_query_members};

static const p__member k_scan_members[] = {{"TableName", &p__sh_string},
                                           {"IndexName", &p__sh_string},
                                           {"AttributesToGet", &p__sh_string_list},
                                           {"Limit", &p__sh_integer},
                                           {"Select", &p__sh_string},
                                           {"ScanFilter", &sh_condition_map},
                                           {"ConditionalOperator", &p__sh_string},
                                           {"ExclusiveStartKey", &p__sh_av_map},
                                           {"ReturnConsumedCapacity", &p__sh_string},
                                           {"TotalSegments", &p__sh_integer},
                                           {"Segment", &p__sh_integer},
                                           {"ProjectionExpression", &p__sh_string},
                                           {"FilterExpression", &p__sh_string},
                                           {"ExpressionAttributeNames", &p__sh_string_map},
                                           {"ExpressionAttributeValues", &p__sh_av_map},
                                           {"ConsistentRead", &p__sh_bool},
                                           {NULL, NULL}};
static const p__shape sh_scan = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.ScanRequest", NULL,
                                 k_scan_members};

/* ---- helpers ------------------------------------------------------------------- */

static bool str_is(const json_t *j, const char *s) {
  return json_is_string(j) && !strcmp(json_string_value(j), s);
}

static const json_t *member(const json_t *body, const char *name) {
  return p__member_get(body, name);
}

/* An integer member that passed the shape check (reals are truncated, as
 * Jackson does for an Integer). */
static long long int_value(const json_t *j) {
  if (json_is_integer(j)) return (long long)json_integer_value(j);
  double d = json_number_value(j);
  if (d > 9e18) return (long long)9e18;
  if (d < -9e18) return (long long)-9e18;
  return (long long)d;
}

static const char *const k_select_names[] = {"ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES",
                                             "SPECIFIC_ATTRIBUTES", "COUNT", NULL};
#define SELECT_ENUM_OLD "SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES"

static int select_from(const json_t *j) {
  for (int i = 0; k_select_names[i]; i++)
    if (str_is(j, k_select_names[i])) return i;
  return -1;
}

static bool rcc_ok(const json_t *j) {
  return str_is(j, "INDEXES") || str_is(j, "TOTAL") || str_is(j, "NONE");
}

/* Old-form string constraint of a name member (tableName, indexName). */
static void name_constraint(p__verrs *v, const json_t *j, const char *path, size_t min) {
  p__verr_string(v, json_string_value(j), json_string_length(j), path, min, 255, P_TABLE_NAME_PATTERN);
}

/* ---- member constraints (step 9) ---------------------------------------------------- */

static int query_constraints(const json_t *body, p_error *err) {
  const json_t *cop = member(body, "ConditionalOperator");
  if (cop && !str_is(cop, "AND") && !str_is(cop, "OR"))
    return p_error_set(err, P_VALIDATION,
                       "Failed to satisfy constraint: Member must satisfy enum value set: [ALL, OR]");
  p__verrs v;
  p__verrs_init(&v);
  const json_t *x;
  if ((x = member(body, "ReturnConsumedCapacity")) && !rcc_ok(x))
    p__verr_enum(&v, json_string_value(x), "returnConsumedCapacity", "INDEXES, TOTAL, NONE");
  if ((x = member(body, "AttributesToGet")) && json_array_size(x) == 0)
    p__verrs_add(
        &v,
        "Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater "
        "than or equal to 1");
  if ((x = member(body, "Limit")) && int_value(x) < 1)
    p__verrs_add(
        &v,
        "Value at 'Limit' failed to satisfy constraint: Member must have value greater than or equal to 1");
  if ((x = member(body, "TableName")))
    name_constraint(&v, x, "tableName", 1);
  else
    p__verr_null(&v, "tableName");
  if ((x = member(body, "Select")) && select_from(x) < 0)
    p__verr_enum(&v, json_string_value(x), "select", SELECT_ENUM_OLD);
  if ((x = member(body, "IndexName"))) name_constraint(&v, x, "indexName", 3);
  return p__verrs_finish(&v, err);
}

static void int_range(p__verrs *v, const json_t *j, const char *path, long long min, long long max) {
  if (!j) return;
  long long n = int_value(j);
  if (n < min)
    p__verrs_add(v,
                 "Value '%lld' at '%s' failed to satisfy constraint: Member must have value greater than or "
                 "equal to %lld",
                 n, path, min);
  else if (max && n > max)
    p__verrs_add(v,
                 "Value '%lld' at '%s' failed to satisfy constraint: Member must have value less than or "
                 "equal to %lld",
                 n, path, max);
}

static int scan_constraints(const json_t *body, p_error *err) {
  p__verrs v;
  p__verrs_init(&v);
  const json_t *x;
  if ((x = member(body, "AttributesToGet")) && json_array_size(x) == 0)
    p__verrs_add(
        &v,
        "Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater "
        "than or equal to 1");
  if ((x = member(body, "ReturnConsumedCapacity")) && !rcc_ok(x))
    p__verr_enum(&v, json_string_value(x), "returnConsumedCapacity", "INDEXES, TOTAL, NONE");
  if ((x = member(body, "ConditionalOperator")) && !str_is(x, "AND") && !str_is(x, "OR"))
    p__verr_enum(&v, json_string_value(x), "conditionalOperator", "OR, AND");
  int_range(&v, member(body, "Limit"), "limit", 1, 0);
  if ((x = member(body, "TableName")))
    name_constraint(&v, x, "tableName", 1);
  else
    p__verr_null(&v, "tableName");
  if ((x = member(body, "Select")) && select_from(x) < 0)
    p__verr_enum(&v, json_string_value(x), "select", SELECT_ENUM_OLD);
  int_range(&v, member(body, "Segment"), "segment", 0, MAX_SEGMENT);
  int_range(&v, member(body, "TotalSegments"), "totalSegments", 1, MAX_TOTAL_SEGMENTS);
  if ((x = member(body, "IndexName"))) name_constraint(&v, x, "indexName", 3);
  return p__verrs_finish(&v, err);
}

/* ---- semantics (step 10) ------------------------------------------------------------- */

/* "{A, B}" of the members present among names; NULL if none is. */
static char *present_list(const json_t *body, const char *const *names, const char *skip) {
  p__sbuf b = {0};
  int n = 0;
  for (; *names; names++) {
    if (skip && !strcmp(*names, skip)) continue;
    if (!member(body, *names)) continue;
    p__sbuf_add(&b, n ? ", " : "{", n ? 2 : 1);
    p__sbuf_add(&b, *names, strlen(*names));
    n++;
  }
  if (!n) return NULL;
  p__sbuf_add(&b, "}", 1);
  return b.p;
}

static const char *const k_query_legacy[] = {"AttributesToGet", "QueryFilter", "ConditionalOperator",
                                             "KeyConditions", NULL};
static const char *const k_query_expr[] = {"ProjectionExpression", "FilterExpression",
                                           "KeyConditionExpression", NULL};
static const char *const k_scan_legacy[] = {"AttributesToGet", "ScanFilter", "ConditionalOperator", NULL};
static const char *const k_scan_expr[] = {"ProjectionExpression", "FilterExpression", NULL};

/* Mixing, then EAN / EAV without an expression (expressions.md 11). */
static int mixing_check(const json_t *body, bool scan, p_error *err) {
  /* Query's KeyConditions may go with Filter/ProjectionExpression as long
   * as there is no KeyConditionExpression; it is then not listed. */
  const char *skip = !scan && !member(body, "KeyConditionExpression") ? "KeyConditions" : NULL;
  char *legacy = present_list(body, scan ? k_scan_legacy : k_query_legacy, skip);
  char *expr = present_list(body, scan ? k_scan_expr : k_query_expr, NULL);
  if (legacy && expr) {
    p_error_set(err, P_VALIDATION,
                "Can not use both expression and non-expression parameters in the same request: "
                "Non-expression parameters: %s Expression parameters: %s",
                legacy, expr);
    free(legacy);
    free(expr);
    return -1;
  }
  free(legacy);
  free(expr);
  if (member(body, "ExpressionAttributeNames") && !member(body, "ProjectionExpression") &&
      !member(body, "FilterExpression") && (scan || !member(body, "KeyConditionExpression")))
    return p_error_set(err, P_VALIDATION,
                       "ExpressionAttributeNames can only be specified when using expressions");
  if (member(body, "ExpressionAttributeValues") && !member(body, "FilterExpression") &&
      (scan || !member(body, "KeyConditionExpression")))
    return p_error_set(
        err, P_VALIDATION, "ExpressionAttributeValues can only be specified when using expressions: %s",
        scan ? "FilterExpression is null" : "FilterExpression and KeyConditionExpression are null");
  return 0;
}

/* Select against the projection members (operations.md 5.3). */
static int select_check(const json_t *body, bool scan, p_query *q, p_error *err) {
  const json_t *js = member(body, "Select");
  const char *proj = member(body, "ProjectionExpression") ? "ProjectionExpression"
                     : member(body, "AttributesToGet")    ? "AttributesToGet"
                                                          : NULL;
  int sel = js ? select_from(js) : -1;
  q->select_given = sel >= 0;
  if (sel < 0) {
    q->select = proj ? P_SELECT_SPECIFIC : P_SELECT_ALL;
    return 0;
  }
  q->select = (p_select)sel;
  switch (q->select) {
    case P_SELECT_SPECIFIC:
      if (!proj)
        return p_error_set(err, P_VALIDATION,
                           "%sMust specify the AttributesToGet or ProjectionExpression when choosing to get "
                           "SPECIFIC_ATTRIBUTES",
                           scan ? "" : "1 validation error detected: ");
      return 0;
    case P_SELECT_COUNT:
      if (proj)
        return p_error_set(err, P_VALIDATION, "Cannot specify the %s when choosing to get only the Count",
                           proj);
      return 0;
    case P_SELECT_ALL:
      if (proj)
        return p_error_set(err, P_VALIDATION, "Cannot specify the %s when choosing to get ALL_ATTRIBUTES",
                           proj);
      return 0;
    case P_SELECT_PROJECTED:
      if (!member(body, "IndexName"))
        return p_error_set(err, P_VALIDATION,
                           "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName");
      return 0;
  }
  return 0;
}

/* Scan's ExclusiveStartKey messages that keep no "The provided starting key
 * is invalid: " in front (operations.md 1.2): numbers, empty NS, duplicates. */
static bool esk_message_bare(const char *m) {
  return !strncmp(m, "The parameter cannot be converted to a numeric value", 52) ||
         !strncmp(m, "Attempting to store more than 38 significant digits", 51) ||
         !strncmp(m, "Number overflow", 15) || !strncmp(m, "Number underflow", 16) ||
         strstr(m, "An number set  may not be empty") || strstr(m, "contains duplicates");
}

static int esk_convert(const json_t *body, bool scan, dv_arena *a, p_query *q, p_error *err) {
  const json_t *esk = member(body, "ExclusiveStartKey");
  q->esk.type = DV_NONE;
  if (!esk) return 0;
  if (p__item_convert(esk, scan ? P_LAYER_OLDER : P_LAYER_CURRENT, a, &q->esk, err) == 0) return 0;
  if (scan && err->msg && !esk_message_bare(err->msg)) {
    char *m = err->msg;
    err->msg = NULL;
    p_error_set(err, err->code, STARTING_KEY "%s", m);
    free(m);
  }
  return -1;
}

/* The legacy condition map of a request; an empty object when the member is
 * absent but ConditionalOperator is present (so its rule still applies). */
static int legacy_filter(const json_t *body, const char *name, expr_legacy_kind kind, p_layer layer,
                         dv_arena *a, p_query *q, p_error *err) {
  const json_t *map = member(body, name);
  const json_t *cop = member(body, "ConditionalOperator");
  if (!map && !cop) return 0;
  json_t *empty = map ? NULL : json_object();
  expr_node *tree = NULL;
  int rc = expr_legacy_conditions(map ? map : empty, kind, cop ? json_string_value(cop) : NULL, layer, a,
                                  &tree, err);
  json_decref(empty);
  if (rc) return -1;
  q->filter = tree;
  q->legacy_filter = 1;
  return 0;
}

static int expr_member(const json_t *body, const char *name, expr_kind kind, const expr_names *ean,
                       const expr_values *eav, expr_usage *u, dv_arena *a, expr_node **out, p_error *err) {
  const json_t *x = member(body, name);
  if (!x) return 0;
  return expr_parse_condition(json_string_value(x), json_string_length(x), kind, ean, eav, u, a, out, err);
}

static int parse_common(const json_t *body, bool scan, dv_arena *a, p_query *q, p_error *err) {
  memset(q, 0, sizeof *q);
  q->scan = scan;
  q->forward = 1;
  q->esk.type = DV_NONE;
  if (!json_is_object(body)) return p_error_set(err, P_SERIALIZATION, NULL);
  if (p__shape_check(body, scan ? &sh_scan : &sh_query, err)) return -1;
  if (scan ? scan_constraints(body, err) : query_constraints(body, err)) return -1;

  if (mixing_check(body, scan, err)) return -1;
  if (!scan && !member(body, "KeyConditions") && !member(body, "KeyConditionExpression"))
    return p_error_set(
        err, P_VALIDATION,
        "Either the KeyConditions or KeyConditionExpression parameter must be specified in the "
        "request.");
  if (scan) {
    const json_t *seg = member(body, "Segment"), *tot = member(body, "TotalSegments");
    if (seg && !tot)
      return p_error_set(
          err, P_VALIDATION,
          "The TotalSegments parameter is required but was not present in the request when Segment "
          "parameter is present");
    if (tot && !seg)
      return p_error_set(
          err, P_VALIDATION,
          "The Segment parameter is required but was not present in the request when parameter "
          "TotalSegments is present");
    if (seg) {
      long long s = int_value(seg), t = int_value(tot);
      if (s >= t)
        return p_error_set(
            err, P_VALIDATION,
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
            "Segment: %lld is not less than TotalSegments: %lld",
            s, t);
      q->segment = (uint32_t)s;
      q->total_segments = (uint32_t)t;
    }
  }
  if (select_check(body, scan, q, err)) return -1;
  const char **atg = NULL;
  size_t n_atg = 0;
  if (member(body, "AttributesToGet") && p__attrs_to_get(member(body, "AttributesToGet"), a, &atg, &n_atg, err))
    return -1;
  if (esk_convert(body, scan, a, q, err)) return -1;

  /* Expressions (expressions.md 9): EAN, EAV, then KeyCondition, Filter,
   * Projection, then unused names and values. */
  expr_names *ean = NULL;
  expr_values *eav = NULL;
  const json_t *x;
  if ((x = member(body, "ExpressionAttributeNames"))) {
    ean = dv_arena_calloc(a, sizeof *ean);
    if (expr_names_from_json(x, a, ean, err)) return -1;
  }
  if ((x = member(body, "ExpressionAttributeValues"))) {
    eav = dv_arena_calloc(a, sizeof *eav);
    if (expr_values_from_json(x, scan ? P_LAYER_OLDER : P_LAYER_CURRENT,
                              scan ? EXPR_EAV_WRAPPED : EXPR_EAV_BARE, a, eav, err))
      return -1;
  }
  expr_usage usage;
  expr_usage_init(&usage, ean, eav, a);
  expr_node *tree = NULL;
  if (!scan) {
    if ((x = member(body, "KeyConditions"))) {
      if (expr_legacy_conditions(x, EXPR_LEGACY_KEY_CONDITIONS, NULL, P_LAYER_CURRENT, a, &tree, err))
        return -1;
    } else if (expr_member(body, "KeyConditionExpression", EXPR_KEY_CONDITION, ean, eav, &usage, a, &tree,
                           err)) {
      return -1;
    }
    q->key_cond = tree;
  }
  tree = NULL;
  if (member(body, "FilterExpression")) {
    if (expr_member(body, "FilterExpression", EXPR_FILTER, ean, eav, &usage, a, &tree, err)) return -1;
    q->filter = tree;
  } else if (legacy_filter(body, scan ? "ScanFilter" : "QueryFilter",
                           scan ? EXPR_LEGACY_SCAN_FILTER : EXPR_LEGACY_QUERY_FILTER,
                           scan ? P_LAYER_OLDER : P_LAYER_CURRENT, a, q, err)) {
    return -1;
  }
  if ((x = member(body, "ProjectionExpression"))) {
    expr_projection *p = NULL;
    if (expr_parse_projection(json_string_value(x), json_string_length(x), ean, &usage, a, &p, err))
      return -1;
    q->projection = p;
  } else if (atg) {
    q->projection = expr_projection_from_names(atg, n_atg, a);
  }
  if (expr_check_unused(ean, eav, &usage, err)) return -1;

  q->table_name = p__member_str(body, "TableName", a, NULL);
  q->index_name = p__member_str(body, "IndexName", a, NULL);
  if ((x = member(body, "Limit"))) {
    long long l = int_value(x);
    q->limit = l > (long long)UINT32_MAX ? UINT32_MAX : (uint32_t)l;
  }
  q->consistent = p__bool_value(member(body, "ConsistentRead"));
  if (!scan && (x = member(body, "ScanIndexForward"))) q->forward = p__bool_value(x);
  q->rcc = p__rcc_from(json_string_value(member(body, "ReturnConsumedCapacity")));
  return 0;
}

int p_parse_query(const json_t *body, dv_arena *a, p_query *out, p_error *err) {
  return parse_common(body, false, a, out, err);
}

int p_parse_scan(const json_t *body, dv_arena *a, p_query *out, p_error *err) {
  return parse_common(body, true, a, out, err);
}

/* ---- after the table lookup -------------------------------------------------------------- */

/* "[a, b]": the top-level attributes of the projection that ix does not
 * project, each once in first-use order; NULL when it projects them all. */
static char *missing_attrs(const p_key_schema *ks, const p_index *ix, const expr_projection *p) {
  p__sbuf b = {0};
  int n = 0;
  for (uint32_t i = 0; p && i < p->n; i++) {
    const expr_path_elem *top = &p->paths[i].elems[0];
    if (p_index_projects(ks, ix, top->name, top->name_len)) continue;
    bool seen = false;
    for (uint32_t j = 0; j < i && !seen; j++) {
      const expr_path_elem *o = &p->paths[j].elems[0];
      seen = o->name_len == top->name_len && !memcmp(o->name, top->name, top->name_len);
    }
    if (seen) continue;
    p__sbuf_add(&b, n ? ", " : "[", n ? 2 : 1);
    p__sbuf_add(&b, top->name, top->name_len);
    n++;
  }
  if (!n) return NULL;
  p__sbuf_add(&b, "]", 1);
  return b.p;
}

/* IndexName resolved, then the checks that only concern an index (the
 * p_check_query comment in protocol.h). */
static int resolve_index(const p_key_schema *ks, const p_index *idx, size_t nidx, const p_query *q,
                         const p_index **which, p_error *err) {
  *which = NULL;
  if (!q->index_name) return 0;
  const p_index *ix = p_index_find(idx, nidx, q->index_name);
  if (!ix)
    return p_error_set(err, P_VALIDATION, "The table does not have the specified index: %s", q->index_name);
  if (ix->global) {
    if (q->consistent)
      return p_error_set(err, P_VALIDATION, "Consistent reads are not supported on global secondary indexes");
    if (ix->creating)
      return p_error_set(err, P_VALIDATION, "Cannot read from backfilling global secondary index: %s", ix->name);
    if (q->select == P_SELECT_ALL && q->select_given && ix->projection != P_PROJ_ALL)
      return p_error_set(err, P_VALIDATION,
                         INVALID
                         "Select type ALL_ATTRIBUTES is not supported for global secondary index %s because "
                         "its projection type is not ALL",
                         ix->name);
    char *missing = missing_attrs(ks, ix, q->projection);
    if (missing) {
      p_error_set(err, P_VALIDATION, INVALID "Global secondary index %s does not project %s", ix->name, missing);
      free(missing);
      return -1;
    }
  }
  *which = ix;
  return 0;
}

/* An index's ExclusiveStartKey: exactly the table keys and the index keys,
 * each with its type ("The provided starting key is invalid"), no empty
 * value. */
static int esk_index_check(const p_key_schema *ks, const p_index *ix, const p_query *q, p_error *err) {
  if (q->esk.type != DV_M) return 0;
  const char *names[4] = {ks->hash_name, ks->range_name, ix->key.hash_name, ix->key.range_name};
  dv_type types[4] = {ks->hash_type, ks->range_type, ix->key.hash_type, ix->key.range_type};
  uint32_t want = 0;
  for (int i = 0; i < 4; i++) {
    if (!names[i]) continue;
    bool dup = false;
    for (int j = 0; j < i; j++) dup |= names[j] && !strcmp(names[j], names[i]);
    if (dup) continue;
    want++;
    const dv_value *v = dv_map_get(&q->esk, names[i], strlen(names[i]));
    if (!v || v->type != types[i]) return p_error_set(err, P_VALIDATION, "The provided starting key is invalid");
  }
  if (q->esk.n != want) return p_error_set(err, P_VALIDATION, "The provided starting key is invalid");
  for (int i = 0; i < 4; i++) {
    if (!names[i]) continue;
    const dv_value *v = dv_map_get(&q->esk, names[i], strlen(names[i]));
    if ((v->type == DV_S || v->type == DV_B) && v->n == 0)
      return p_error_set(err, P_VALIDATION,
                         STARTING_KEY
                         "One or more parameter values are not valid. The AttributeValue for a key attribute "
                         "cannot contain an empty %s value. Key: %s",
                         v->type == DV_S ? "string" : "binary", names[i]);
  }
  return 0;
}

/* The ExclusiveStartKey against the table's key schema, with p_check_key's
 * messages behind "The provided starting key is invalid: ". */
static int esk_schema_check(const p_key_schema *ks, const p_query *q, p_error *err) {
  if (q->esk.type != DV_M) return 0;
  if (p_check_key(ks, &q->esk, err) == 0) return 0;
  char *m = err->msg;
  err->msg = NULL;
  p_error_set(err, P_VALIDATION, STARTING_KEY "%s", m ? m : "");
  free(m);
  return -1;
}

static bool is_prefix(const dv_value *v, const dv_value *prefix) {
  return v->n >= prefix->n && (prefix->n == 0 || !memcmp(v->u.bytes, prefix->u.bytes, prefix->n));
}

/* Does sort-key value v satisfy the condition? */
static bool range_holds(const expr_key_cond *c, const dv_value *v) {
  int c1 = dv_compare(v, c->v1);
  switch (c->op) {
    case EXPR_KEY_EQ:
      return c1 == 0;
    case EXPR_KEY_LT:
      return c1 < 0;
    case EXPR_KEY_LE:
      return c1 <= 0;
    case EXPR_KEY_GT:
      return c1 > 0;
    case EXPR_KEY_GE:
      return c1 >= 0;
    case EXPR_KEY_BETWEEN:
      return c1 >= 0 && dv_compare(v, c->v2) <= 0;
    case EXPR_KEY_BEGINS_WITH:
      return is_prefix(v, c->v1);
  }
  return false;
}

/* Smallest byte string above every string that starts with p: p without its
 * trailing 0xFF bytes, last byte plus one. Unbounded (DV_NONE) when p is all
 * 0xFF. */
static dv_value prefix_successor(const dv_value *p, dv_arena *a) {
  dv_value out = {.type = DV_NONE};
  size_t n = p->n;
  while (n > 0 && (uint8_t)p->u.bytes[n - 1] == 0xFF) n--;
  if (n == 0) return out;
  uint8_t *b = dv_arena_alloc(a, n);
  memcpy(b, p->u.bytes, n);
  b[n - 1]++;
  return p->type == DV_S ? dv_make_s(a, (const char *)b, n) : dv_make_b(a, b, n);
}

static bool key_too_big(const dv_value *v, size_t max) {
  return v && (v->type == DV_S || v->type == DV_B) && v->n > max;
}

int p_check_query(const p_key_schema *table_ks, const p_index *idx, size_t nidx, const p_query *q, dv_arena *a,
                  p_query_range *out, const p_index **which, p_error *err) {
  memset(out, 0, sizeof *out);
  const p_index *ix = NULL;
  if (which) *which = NULL;
  if (resolve_index(table_ks, idx, nidx, q, &ix, err)) return -1;
  /* From here on the queried key schema: the index's on an index. */
  const p_key_schema *ks = ix ? &ix->key : table_ks;
  if (!q->key_cond)
    return p_error_set(err, P_VALIDATION, "Query condition missed key schema element: %s", ks->hash_name);
  expr_key_conds kc;
  expr_key_conds_get(q->key_cond, a, &kc);
  const expr_key_cond *h = NULL, *r = NULL;
  if (expr_check_key_conds(&kc, ks, &h, &r, err)) return -1;
  if (key_too_big(h->v1, MAX_HASH_KEY))
    return p_error_set(err, P_VALIDATION,
                       INVALID "Size of hashkey has exceeded the maximum size limit of2048 bytes");
  if (r && (key_too_big(r->v1, MAX_RANGE_KEY) || key_too_big(r->v2, MAX_RANGE_KEY)))
    return p_error_set(err, P_VALIDATION,
                       INVALID "Aggregated size of all range keys has exceeded the size limit of 1024 bytes");
  if (q->filter) {
    if (!q->legacy_filter) {
      if (expr_check_filter_keys(q->filter, ks, err)) return -1;
    } else {
      const char *keys[2] = {ks->hash_name, ks->range_name};
      for (int k = 0; k < 2; k++)
        if (keys[k] && expr_node_mentions(q->filter, keys[k], strlen(keys[k])))
          return p_error_set(
              err, P_VALIDATION,
              "QueryFilter can only contain non-primary key attributes: Primary key attribute: %s", keys[k]);
    }
  }
  if (q->projection && ix && expr_check_projection_keys(q->projection, table_ks, err)) return -1;
  if (q->projection && expr_check_projection_keys(q->projection, ks, err)) return -1;

  out->hash = h->v1;
  out->one_row = !ix && (!ks->range_name || (r && r->op == EXPR_KEY_EQ));
  if (r) {
    switch (r->op) {
      case EXPR_KEY_EQ:
        out->lo = out->hi = r->v1;
        break;
      case EXPR_KEY_LT:
      case EXPR_KEY_LE:
        out->hi = r->v1;
        out->hi_excl = r->op == EXPR_KEY_LT;
        break;
      case EXPR_KEY_GT:
      case EXPR_KEY_GE:
        out->lo = r->v1;
        out->lo_excl = r->op == EXPR_KEY_GT;
        break;
      case EXPR_KEY_BETWEEN:
        out->lo = r->v1;
        out->hi = r->v2;
        break;
      case EXPR_KEY_BEGINS_WITH: {
        out->lo = r->v1;
        dv_value *succ = dv_arena_alloc(a, sizeof *succ);
        *succ = prefix_successor(r->v1, a);
        if (succ->type != DV_NONE) {
          out->hi = succ;
          out->hi_excl = 1;
        }
        break;
      }
    }
  }

  if (q->esk.type == DV_M) {
    if (ix ? esk_index_check(table_ks, ix, q, err) : esk_schema_check(ks, q, err)) return -1;
    if (out->one_row)
      return p_error_set(err, P_VALIDATION, "The query can return at most one row and cannot be restarted");
    const dv_value *eh = dv_map_get(&q->esk, ks->hash_name, strlen(ks->hash_name));
    if (!dv_equal(eh, h->v1))
      return p_error_set(
          err, P_VALIDATION,
          "The provided starting key is outside query boundaries based on provided conditions");
    const dv_value *er = r ? dv_map_get(&q->esk, ks->range_name, strlen(ks->range_name)) : NULL;
    if (r && !range_holds(r, er))
      return p_error_set(err, P_VALIDATION,
                         "The provided starting key does not match the range key predicate");
  }
  if (which) *which = ix;
  return 0;
}

int p_check_scan(const p_key_schema *ks, const p_index *idx, size_t nidx, const p_query *q,
                 const p_index **which, p_error *err) {
  const p_index *ix = NULL;
  if (which) *which = NULL;
  if (resolve_index(ks, idx, nidx, q, &ix, err)) return -1;
  if (ix ? esk_index_check(ks, ix, q, err) : esk_schema_check(ks, q, err)) return -1;
  if (which) *which = ix;
  return 0;
}

int p_scan_segment_error(const p_query *q, p_error *err) {
  return p_error_set(err, P_VALIDATION,
                     STARTING_KEY
                     "Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. "
                     "TotalSegments: %u Segment: %u",
                     q->total_segments, q->segment);
}

dv_value p_item_key(const p_key_schema *ks, const dv_value *item, dv_arena *a) {
  return p_index_item_key(ks, NULL, item, a); /* the table's keys only */
}
