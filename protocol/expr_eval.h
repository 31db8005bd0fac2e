/*
 * expr_eval.h -- evaluating DynamoDB expressions against items
 * (shared/spec/expressions.md 5-7, operations.md 5.2): conditions and
 * filters, UpdateExpression application with its runtime errors, the
 * ReturnValues UPDATED_OLD / UPDATED_NEW maps, and projections.
 *
 * Pure code over the resolved trees of protocol/expr.h and the value model
 * of storage/value.h: no I/O, no JSON. Every static check (syntax, literal
 * operand types, BETWEEN literal bounds, attribute_type names, path overlap)
 * was done by the parser; what is left here is what depends on the item.
 *
 * Items are dv_values of type DV_M. A missing item is passed as NULL and
 * evaluated as the empty item (expressions.md 5).
 *
 * Ownership: results are allocated from the dv_arena given and share no
 * memory with the input items (they are copied), so an input item may be
 * freed before the result. expr_changes keeps borrowed pointers to the old
 * and new items and to the update: keep those alive while it is used.
 */
#ifndef DF_EXPR_EVAL_H
#define DF_EXPR_EVAL_H

#include "protocol/expr.h"
#include "protocol/protocol.h"
#include "storage/value.h"

/* ---- paths ------------------------------------------------------------------------ */

/* The value a document path names inside item (DV_M, or NULL for a missing
 * item): NULL if any step does not resolve (missing key, index past the end,
 * a name step on a non-map or an index step on a non-list). Borrowed from
 * item. */
const dv_value *expr_path_resolve(const dv_value *item, const expr_path *p);

/* ---- conditions / filters (expressions.md 5) ---------------------------------------- */

/* Evaluates a condition tree (expr_parse_condition or expr_legacy_conditions)
 * against item (DV_M, or NULL = no item = the empty item). *result = 1 when
 * the condition holds. Type mismatches and missing attributes make a
 * comparison false (<> true), never an error. Returns 0, or -1 with err set
 * for an error DynamoDB raises at evaluation time (none is known today: the
 * literal-only errors are raised by the parser; the int return keeps room for
 * them). cond NULL (no condition) holds. */
int expr_eval_condition(const expr_node *cond, const dv_value *item, int *result, p_error *err);

/* Convenience for filters: 1 if cond holds on item, 0 if not or on error. */
int expr_matches(const expr_node *cond, const dv_value *item);

/* ---- UpdateExpression (expressions.md 6, operations.md 5.2) ------------------------- */

/* Largest item an update may produce, and the statement figure it is
 * compared with (expressions.md 6 "result size"). */
#define EXPR_MAX_ITEM_SIZE 409600u
#define EXPR_MSG_ITEM_TOO_BIG "Item size to update has exceeded the maximum allowed size"

/* Flags of expr_apply_update. */
#define EXPR_UPD_FINAL_SIZE_ONLY 1u /* size rule of TransactWriteItems Update: finished item only
                                       (legacy AttributeUpdates updates always use it) */
#define EXPR_UPD_NO_SIZE_CHECK 2u   /* skip the item-size check entirely */

/* What an applied update touched, for ReturnValues UPDATED_OLD / UPDATED_NEW. */
typedef struct expr_changes {
  const dv_value *old_item; /* item before the update (borrowed), NULL if there was none */
  const dv_value *new_item; /* item after the update (borrowed: the caller's new_item) */
  uint32_t n_old;           /* entries of old_paths */
  expr_path *old_paths;     /* written paths as the actions name them (SET, REMOVE, ADD, DELETE) */
  uint32_t n_new;           /* entries of new_paths */
  expr_path *new_paths;     /* where the written values landed in new_item (list indexes after
                               shifts and appends); removed paths are not here */
} expr_changes;

/* Applies u to old_item (DV_M, NULL if the item does not exist: upsert from
 * key) and writes the resulting item to *new_item (allocated from a, sorted,
 * sharing nothing with the inputs). In order:
 *   1. key attributes (ks non-NULL): expr_check_update_keys ("Cannot update
 *      attribute <a>. This attribute is part of the key");
 *   2. every SET right-hand side evaluated against the pre-update item
 *      (missing path, operand types, number overflow);
 *   3. the actions applied, list indexes meaning pre-update positions
 *      (document path errors, ADD / DELETE operand types, empty set results
 *      remove the attribute, out-of-range list SETs append in index order);
 *   4. nesting depth and item size (409,600 bytes: the finished item, and
 *      unless EXPR_UPD_FINAL_SIZE_ONLY the statement figure too).
 * REMOVE / DELETE below a missing parent of a missing item are ignored.
 * key is the request's Key (DV_M); it seeds the new item when old_item is
 * NULL. changes may be NULL. Returns 0, or -1 with err set (P_VALIDATION,
 * bare message). */
int expr_apply_update(const expr_update *u, const dv_value *old_item, const dv_value *key,
                      const p_key_schema *ks, unsigned flags, dv_arena *a, dv_value *new_item,
                      expr_changes *changes, p_error *err);

/* The statement figure of expressions.md 6 "result size" for u against the
 * pre-update item (ADD of a set counts only the members not already there). */
size_t expr_update_figure(const expr_update *u, const dv_value *old_item);

typedef enum expr_updated_which {
  EXPR_UPDATED_OLD = 0, /* prior values of the written paths that existed */
  EXPR_UPDATED_NEW = 1  /* new values of the written paths (removed ones absent) */
} expr_updated_which;

/* The ReturnValues UPDATED_OLD / UPDATED_NEW map: each touched path inside
 * its parents ("SET a.b = :v" -> {"a":{"b":...}}), several merged. *out is a
 * DV_M, possibly empty (then the response has no "Attributes"). */
void expr_updated_values(const expr_changes *c, expr_updated_which which, dv_arena *a, dv_value *out);

/* ---- projection (expressions.md 7) --------------------------------------------------- */

/* The item projected on paths: each resolving path keeps its document shape
 * ("a.b[1]" -> {"a":{"b":[elem]}}), list elements compacted in ascending
 * index order, paths sharing a prefix merged; non-resolving paths skipped.
 * item must be a DV_M; the result is a DV_M (possibly empty) in a. */
dv_value expr_project(const dv_value *item, const expr_path *paths, size_t n, dv_arena *a);

/* 1 when two path elements are the same map key (bytes) or the same list
 * index. */
int expr_path_elem_equal(const expr_path_elem *x, const expr_path_elem *y);

#endif /* DF_EXPR_EVAL_H */
