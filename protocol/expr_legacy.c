/*
 * expr_legacy.c -- the legacy condition and update parameters
 * (expressions.md 11) converted into the expression trees of expr.h, so the
 * evaluator knows one representation:
 *
 *   Expected {a: {Value: v}}                  -> (= a v)
 *   Expected {a: {Exists: false}}             -> (attribute_not_exists a)
 *   {a: {ComparisonOperator: OP, AttributeValueList: [...]}} (Expected,
 *   QueryFilter, ScanFilter, KeyConditions):
 *     EQ NE LE LT GE GT -> (= a v) (<> a v) ...; NULL / NOT_NULL ->
 *     attribute_not_exists / attribute_exists; CONTAINS -> (contains a v);
 *     NOT_CONTAINS -> (NOT (contains a v)); BEGINS_WITH -> (begins_with a v);
 *     IN -> (IN a v1 ...); BETWEEN -> (BETWEEN a lo hi)
 *   joined by one n-ary AND (or OR with ConditionalOperator OR);
 *   AttributeUpdates {a: {Action, Value}} -> SET / REMOVE / ADD / DELETE
 *   actions flagged legacy.
 *
 * Semantics line up: legacy NE and NOT_CONTAINS are true on a missing
 * attribute, exactly as <> and NOT contains(...) are. The checks here are
 * the request-time ones of section 11, with its messages; the JSON shapes
 * were checked by the caller (p__shape_check).
 */
#include <stdio.h>
#include <string.h>

#include "protocol/expr_int.h"

#define INVALID "One or more parameter values were invalid: "

typedef enum lop {
  L_EQ,
  L_NE,
  L_LE,
  L_LT,
  L_GE,
  L_GT,
  L_NOT_NULL,
  L_NULL,
  L_CONTAINS,
  L_NOT_CONTAINS,
  L_BEGINS_WITH,
  L_IN,
  L_BETWEEN,
  L_COUNT
} lop;

static const char *const k_lop_names[] = {"EQ",          "NE",       "LE",     "LT",       "GE",
                                          "GT",          "NOT_NULL", "NULL",   "CONTAINS", "NOT_CONTAINS",
                                          "BEGINS_WITH", "IN",       "BETWEEN"};

static lop lop_from(const char *s) {
  for (int i = 0; i < L_COUNT; i++)
    if (!strcmp(s, k_lop_names[i])) return (lop)i;
  return L_COUNT;
}

static const char *member_name(expr_legacy_kind kind) {
  switch (kind) {
    case EXPR_LEGACY_EXPECTED:
      return "expected";
    case EXPR_LEGACY_QUERY_FILTER:
      return "queryFilter";
    case EXPR_LEGACY_SCAN_FILTER:
      return "scanFilter";
    case EXPR_LEGACY_KEY_CONDITIONS:
      return "keyConditions";
  }
  return "?";
}

/* Is type t allowed in the AttributeValueList of op? */
static int lop_type_ok(lop op, dv_type t) {
  switch (op) {
    case L_EQ:
    case L_NE:
      return t == DV_S || t == DV_N || t == DV_B || t == DV_SS || t == DV_NS || t == DV_BS;
    case L_BEGINS_WITH:
      return t == DV_S || t == DV_B;
    default:
      return t == DV_S || t == DV_N || t == DV_B;
  }
}

/* One attribute's condition. */
static int one_condition(const char *attr, const json_t *spec, expr_legacy_kind kind, p_layer layer,
                         dv_arena *a, expr_node **out, p_error *err) {
  const json_t *jvalue = p__member_get(spec, "Value");
  const json_t *jexists = p__member_get(spec, "Exists");
  const json_t *jop = p__member_get(spec, "ComparisonOperator");
  const json_t *jlist = p__member_get(spec, "AttributeValueList");
  size_t alen = strlen(attr);
  if (kind != EXPR_LEGACY_EXPECTED) {
    jvalue = NULL;
    jexists = NULL;
  }
  if (!jop && kind != EXPR_LEGACY_EXPECTED) {
    p__verrs v;
    p__verrs_init(&v);
    p__verrs_add(&v,
                 "Value null at '%s.%s.member.comparisonOperator' failed to satisfy constraint: Member must "
                 "not be null",
                 member_name(kind), attr);
    return p__verrs_finish(&v, err);
  }
  if (jop && !json_is_string(jop))
    return p_error_set(err, P_VALIDATION, INVALID "Invalid ComparisonOperator");
  lop op = jop ? lop_from(json_string_value(jop)) : L_COUNT;
  if (jop && op == L_COUNT) {
    p__verrs v;
    p__verrs_init(&v);
    p__verrs_add(
        &v,
        "Value '%s' at '%s.%s.member.comparisonOperator' failed to satisfy constraint: Member must satisfy "
        "enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, "
        "CONTAINS]",
        json_string_value(jop), member_name(kind), attr);
    return p__verrs_finish(&v, err);
  }
  if (!jop) {
    /* Expected without ComparisonOperator: Value / Exists. */
    int exists = jexists ? p__bool_value(jexists) : 1;
    if (jlist)
      return p_error_set(
          err, P_VALIDATION,
          INVALID "AttributeValueList can only be used with a ComparisonOperator for Attribute: %s", attr);
    if (!exists) {
      if (jvalue)
        return p_error_set(err, P_VALIDATION,
                           INVALID "Value cannot be used when Exists is false for Attribute: %s", attr);
      *out = expr_node_new2(a, EXPR_ATTR_NOT_EXISTS, expr_node_top_path(a, attr, alen), NULL);
      return 0;
    }
    if (!jvalue)
      return p_error_set(err, P_VALIDATION,
                         INVALID "Value must be provided when Exists is true for Attribute: %s", attr);
    dv_value *v = dv_arena_alloc(a, sizeof *v);
    if (p_value_from_json(jvalue, 1, layer, a, v, err)) return -1;
    *out = expr_node_new2(a, EXPR_EQ, expr_node_top_path(a, attr, alen), expr_node_value(a, v));
    return 0;
  }
  if (jexists)
    return p_error_set(err, P_VALIDATION,
                       INVALID "Exists and ComparisonOperator cannot be used together for Attribute: %s",
                       attr);
  if (jvalue && jlist)
    return p_error_set(err, P_VALIDATION,
                       INVALID "Value and AttributeValueList cannot be used together for Attribute: %s",
                       attr);
  if (kind == EXPR_LEGACY_KEY_CONDITIONS && op != L_EQ && op != L_LE && op != L_LT && op != L_GE &&
      op != L_GT && op != L_BEGINS_WITH && op != L_BETWEEN)
    return p_error_set(err, P_VALIDATION, "Attempted conditional constraint is not an indexable operation");
  size_t nargs = jvalue ? 1 : json_array_size(jlist);
  int want_ok;
  switch (op) {
    case L_NULL:
    case L_NOT_NULL:
      want_ok = nargs == 0;
      break;
    case L_IN:
      want_ok = nargs >= 1;
      break;
    case L_BETWEEN:
      want_ok = nargs == 2;
      break;
    default:
      want_ok = nargs == 1;
      break;
  }
  if (!want_ok) {
    if (kind == EXPR_LEGACY_EXPECTED && !jvalue && !jlist && op != L_NULL && op != L_NOT_NULL)
      return p_error_set(
          err, P_VALIDATION,
          INVALID "Value or AttributeValueList must be used with ComparisonOperator: %s for Attribute: %s",
          k_lop_names[op], attr);
    return p_error_set(err, P_VALIDATION,
                       INVALID "Invalid number of argument(s) for the %s ComparisonOperator",
                       k_lop_names[op]);
  }
  dv_value *vals = dv_arena_calloc(a, (nargs ? nargs : 1) * sizeof *vals);
  for (size_t i = 0; i < nargs; i++)
    if (p_value_from_json(jvalue ? jvalue : json_array_get(jlist, i), 1, layer, a, &vals[i], err)) return -1;
  for (size_t i = 0; i < nargs; i++) {
    if (!lop_type_ok(op, vals[i].type))
      return p_error_set(err, P_VALIDATION,
                         INVALID "ComparisonOperator %s is not valid for %s AttributeValue type",
                         k_lop_names[op], dv_type_name(vals[i].type));
    if ((op == L_IN || op == L_BETWEEN) && i > 0 && vals[i].type != vals[0].type)
      return p_error_set(err, P_VALIDATION,
                         INVALID "AttributeValues inside AttributeValueList must be of same type");
  }
  if (op == L_BETWEEN && dv_compare(&vals[0], &vals[1]) > 0)
    return p_error_set(
        err, P_VALIDATION,
        "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound");
  expr_node *path = expr_node_top_path(a, attr, alen);
  expr_node *v0 = nargs ? expr_node_value(a, &vals[0]) : NULL;
  switch (op) {
    case L_EQ:
      *out = expr_node_new2(a, EXPR_EQ, path, v0);
      break;
    case L_NE:
      *out = expr_node_new2(a, EXPR_NE, path, v0);
      break;
    case L_LE:
      *out = expr_node_new2(a, EXPR_LE, path, v0);
      break;
    case L_LT:
      *out = expr_node_new2(a, EXPR_LT, path, v0);
      break;
    case L_GE:
      *out = expr_node_new2(a, EXPR_GE, path, v0);
      break;
    case L_GT:
      *out = expr_node_new2(a, EXPR_GT, path, v0);
      break;
    case L_NOT_NULL:
      *out = expr_node_new2(a, EXPR_ATTR_EXISTS, path, NULL);
      break;
    case L_NULL:
      *out = expr_node_new2(a, EXPR_ATTR_NOT_EXISTS, path, NULL);
      break;
    case L_CONTAINS:
      *out = expr_node_new2(a, EXPR_CONTAINS, path, v0);
      break;
    case L_NOT_CONTAINS:
      *out = expr_node_new2(a, EXPR_NOT, expr_node_new2(a, EXPR_CONTAINS, path, v0), NULL);
      break;
    case L_BEGINS_WITH:
      *out = expr_node_new2(a, EXPR_BEGINS_WITH, path, v0);
      break;
    case L_IN:
    case L_BETWEEN: {
      expr_node **kids = dv_arena_alloc(a, (nargs + 1) * sizeof *kids);
      kids[0] = path;
      for (size_t i = 0; i < nargs; i++) kids[i + 1] = expr_node_value(a, &vals[i]);
      *out = expr_node_new(a, op == L_IN ? EXPR_IN : EXPR_BETWEEN, (uint32_t)nargs + 1, kids);
      break;
    }
    default:
      return p_error_set(err, P_VALIDATION, INVALID "Invalid ComparisonOperator");
  }
  return 0;
}

int expr_legacy_conditions(const json_t *map, expr_legacy_kind kind, const char *conditional_operator,
                           p_layer layer, dv_arena *a, expr_node **out, p_error *err) {
  *out = NULL;
  size_t n = json_object_size(map);
  if (conditional_operator && n < 2 && kind != EXPR_LEGACY_KEY_CONDITIONS)
    return p_error_set(
        err, P_VALIDATION,
        "ConditionalOperator can only be used when Filter or Expected has two or more elements");
  if (n == 0) return 0;
  expr_node **kids = dv_arena_alloc(a, n * sizeof *kids);
  size_t i = 0;
  const char *attr;
  json_t *spec;
  json_object_foreach((json_t *)map, attr, spec) {
    if (one_condition(attr, spec, kind, layer, a, &kids[i], err)) return -1;
    i++;
  }
  if (n == 1) {
    *out = kids[0];
    return 0;
  }
  int use_or =
      conditional_operator && !strcmp(conditional_operator, "OR") && kind != EXPR_LEGACY_KEY_CONDITIONS;
  *out = expr_node_new(a, use_or ? EXPR_OR : EXPR_AND, (uint32_t)n, kids);
  return 0;
}

int expr_legacy_attribute_updates(const json_t *map, p_layer layer, dv_arena *a, expr_update **out,
                                  p_error *err) {
  size_t n = json_object_size(map);
  expr_update *u = dv_arena_calloc(a, sizeof *u);
  u->actions = dv_arena_calloc(a, (n ? n : 1) * sizeof *u->actions);
  *out = NULL;
  const char *attr;
  json_t *spec;
  json_object_foreach((json_t *)map, attr, spec) {
    const json_t *jv = p__member_get(spec, "Value");
    const json_t *jact = p__member_get(spec, "Action");
    const char *act = jact && json_is_string(jact) ? json_string_value(jact) : "PUT";
    if (attr[0] == '\0') return p_error_set(err, P_VALIDATION, "Empty attribute name"); /* as in an Item */
    expr_action *x = &u->actions[u->n];
    x->legacy = 1;
    x->path.n = 1;
    x->path.elems = dv_arena_calloc(a, sizeof *x->path.elems);
    x->path.elems[0].name = dv_arena_strndup(a, attr, strlen(attr));
    x->path.elems[0].name_len = (uint32_t)strlen(attr);
    if (strcmp(act, "PUT") && strcmp(act, "ADD") && strcmp(act, "DELETE")) {
      p__verrs v;
      p__verrs_init(&v);
      p__verrs_add(
          &v,
          "Value '%s' at 'attributeUpdates.%s.member.action' failed to satisfy constraint: Member must "
          "satisfy enum value set: [ADD, PUT, DELETE]",
          act, attr);
      return p__verrs_finish(&v, err);
    }
    dv_value *val = NULL;
    if (jv) {
      val = dv_arena_alloc(a, sizeof *val);
      if (p_value_from_json(jv, 1, layer, a, val, err)) return -1;
    }
    if (!val && strcmp(act, "DELETE"))
      return p_error_set(err, P_VALIDATION,
                         INVALID "Only DELETE action is allowed when no attribute value is specified");
    if (!strcmp(act, "PUT")) {
      x->kind = EXPR_ACT_SET;
    } else if (!strcmp(act, "ADD")) {
      dv_type t = val->type;
      if (!(t == DV_N || t == DV_SS || t == DV_NS || t == DV_BS || t == DV_L))
        return p_error_set(err, P_VALIDATION, INVALID "ADD action is not supported for the type %s",
                           dv_type_name(t));
      x->kind = EXPR_ACT_ADD;
    } else if (val) {
      dv_type t = val->type;
      if (!(t == DV_SS || t == DV_NS || t == DV_BS))
        return p_error_set(err, P_VALIDATION,
                           INVALID "DELETE action with value is not supported for the type %s",
                           dv_type_name(t));
      x->kind = EXPR_ACT_DELETE;
    } else {
      x->kind = EXPR_ACT_REMOVE;
    }
    x->value = val ? expr_node_value(a, val) : NULL;
    u->n++;
  }
  *out = u;
  return 0;
}
