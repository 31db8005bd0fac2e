/*
 * expr.h -- DynamoDB's expression language: the parser and its AST
 * (shared/spec/expressions.md). Pure code: text + ExpressionAttributeNames +
 * ExpressionAttributeValues in, a resolved tree out, or a p_error with the
 * exact DynamoDB message. Evaluation (conditions, update application,
 * projection) lives in expr_eval.c and works on the trees declared here.
 *
 * Five expression kinds share one lexer and one operand grammar:
 *   ConditionExpression / FilterExpression / KeyConditionExpression
 *       -> expr_parse_condition -> expr_node tree (a boolean condition);
 *   UpdateExpression -> expr_parse_update -> expr_update (list of actions);
 *   ProjectionExpression -> expr_parse_projection -> expr_projection (paths).
 * Legacy parameters (Expected, QueryFilter, ScanFilter, KeyConditions,
 * AttributeUpdates, AttributesToGet) are converted into the same trees by the
 * expr_legacy_* functions, so the evaluator knows one representation only.
 *
 * Resolution: every tree handed out is fully resolved. `#n` references are
 * replaced by the names they stand for (one path element each, "a.b" stays
 * one element); `:v` references point at the converted dv_value of the
 * ExpressionAttributeValues map. Nothing in a tree refers back to the text.
 *
 * Every static check that needs no item and no table is done here, in the
 * order of expressions.md section 9 (syntax, limits, redundant parentheses,
 * function names and misuse, reserved words, undefined references, operand
 * counts, distinct operands, literal operand types, update path
 * overlap/conflict, KeyConditionExpression structure). The checks that need
 * the table's key schema are separate functions (expr_check_*), called after
 * the table lookup.
 *
 * Ownership: everything a function returns is allocated from the dv_arena it
 * is given and lives until that arena is freed. expr_node VALUE nodes borrow
 * the dv_value stored in the expr_values they were resolved against (or, for
 * legacy trees, one copied into the arena): keep the expr_values (and its
 * arena) alive as long as the tree. Error messages go to p_error (malloc'd,
 * freed by p_error_clear), always code P_VALIDATION, always bare: callers
 * add the "1 validation error detected: " envelope where protocol.md 2.3
 * wants it.
 *
 * Recursion: the parser's recursion depth is bounded: parentheses and
 * function calls nested deeper than EXPR_MAX_NESTING are a syntax error at
 * the token where the limit is passed (DynamoDB would answer "redundant
 * parentheses" or a syntax error elsewhere for such input; no real
 * expression nests 1024 deep), NOT chains are parsed iteratively, so hostile
 * input cannot overflow the stack (about 256 KB worst case, 1 MB under
 * ASan). Trees handed out are at most EXPR_MAX_NESTING + 300 (NOT) + a few
 * levels deep; AND/OR nodes are n-ary, so long chains are flat (legacy trees
 * too).
 */
#ifndef DF_EXPR_H
#define DF_EXPR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/protocol.h"
#include "storage/value.h"

/* ---- limits (expressions.md 10) ----------------------------------------------- */

#define EXPR_MAX_SIZE 4096       /* bytes of one expression string, raw */
#define EXPR_MAX_OPERATORS 300   /* comparators, BETWEEN, IN, AND, OR, NOT (+ - and functions in updates) */
#define EXPR_MAX_IN_OPERANDS 100 /* operands of IN, the left one included */
#define EXPR_MAX_PATH_DEPTH 32   /* elements of one document path, the top-level name included */
#define EXPR_MAX_NESTING 1024    /* nested parentheses / calls the parser accepts (stack bound) */

/* ---- expression kinds ----------------------------------------------------------- */

typedef enum expr_kind {
  EXPR_CONDITION = 0, /* ConditionExpression (Put/Update/DeleteItem, TransactWriteItems) */
  EXPR_FILTER,        /* FilterExpression (Query, Scan) */
  EXPR_KEY_CONDITION, /* KeyConditionExpression (Query) */
  EXPR_UPDATE,        /* UpdateExpression */
  EXPR_PROJECTION     /* ProjectionExpression */
} expr_kind;

/* "ConditionExpression", ... : the word in "Invalid <X>: ..." messages. */
const char *expr_kind_name(expr_kind kind);

/* ---- ExpressionAttributeNames / Values -------------------------------------------- */

typedef struct expr_name {
  const char *key;   /* "#n" as written in the EAN map, NUL-terminated */
  uint32_t key_len;  /* bytes of key */
  const char *name;  /* the attribute name it stands for, NUL-terminated */
  uint32_t name_len; /* bytes of name */
} expr_name;

typedef struct expr_names {
  uint32_t n;   /* entries */
  expr_name *e; /* entries sorted by key bytes (binary search), keys unique */
} expr_names;

typedef struct expr_value {
  const char *key;  /* ":v" as written in the EAV map, NUL-terminated */
  uint32_t key_len; /* bytes of key */
  dv_value value;   /* the converted AttributeValue */
} expr_value;

typedef struct expr_values {
  uint32_t n;    /* entries */
  expr_value *e; /* entries sorted by key bytes (binary search), keys unique */
} expr_values;

/* ExpressionAttributeNames (a JSON object of strings that already passed
 * the shape check) -> expr_names in a. Checks, in order: empty map
 * ("ExpressionAttributeNames must not be empty"); then per key in the JSON
 * object's order: the key against ^#[0-9A-Za-z_]+$
 * ("ExpressionAttributeNames contains invalid key: Syntax error; key:
 * \"a\""), the value not empty ("ExpressionAttributeNames contains invalid
 * value: Empty attribute name for key #a" -- wording unverified). 0 or -1
 * with err set. */
int expr_names_from_json(const json_t *ean, dv_arena *a, expr_names *out, p_error *err);

/* How an invalid value inside ExpressionAttributeValues is worded
 * (protocol.md 2.3 / expressions.md 9, row "EAV bad value"). */
typedef enum expr_eav_wording {
  EXPR_EAV_BARE = 0, /* the value's own message (Put/Update/Delete (caller envelopes), Query) */
  EXPR_EAV_WRAPPED   /* "ExpressionAttributeValues contains invalid value: <msg> for key :v" (Scan, Batch*,
                        Transact*) */
} expr_eav_wording;

/* ExpressionAttributeValues (a JSON object of AttributeValues that passed
 * the shape check) -> expr_values in a. Checks, in order: empty map
 * ("ExpressionAttributeValues must not be empty"); then per key in the JSON
 * object's order: key against ^:[0-9A-Za-z_]+$ ("ExpressionAttributeValues
 * contains invalid key: Syntax error; key: \"a\""), the value by
 * p_value_from_json(layer). 0 or -1 with err set. */
int expr_values_from_json(const json_t *eav, p_layer layer, expr_eav_wording wording, dv_arena *a,
                          expr_values *out, p_error *err);

/* Lookups; NULL if absent or if the map pointer is NULL. */
const expr_name *expr_names_find(const expr_names *ean, const char *key, size_t len);
const expr_value *expr_values_find(const expr_values *eav, const char *key, size_t len);

/* Which EAN / EAV entries the expressions of one request used. Initialise
 * once per request, pass to every parse call of that request, then call
 * expr_check_unused. A reference counts as used as soon as an expression
 * that mentions it parses (syntactic use: a branch that is never evaluated
 * still uses its names). */
typedef struct expr_usage {
  uint32_t n_names;     /* entries of names_used (= ean->n, 0 if no EAN) */
  uint8_t *names_used;  /* 1 per used EAN entry, same order as expr_names.e */
  uint32_t n_values;    /* entries of values_used (= eav->n, 0 if no EAV) */
  uint8_t *values_used; /* 1 per used EAV entry, same order as expr_values.e */
} expr_usage;

/* ean / eav may be NULL (member absent). Flags allocated from a. */
void expr_usage_init(expr_usage *u, const expr_names *ean, const expr_values *eav, dv_arena *a);
/* Unused EAN first, then unused EAV (expressions.md 9 step 4):
 * "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}"
 * "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"
 * (keys in sorted byte order). 0 or -1 with err set. */
int expr_check_unused(const expr_names *ean, const expr_values *eav, const expr_usage *u, p_error *err);

/* ---- document paths ---------------------------------------------------------------- */

typedef struct expr_path_elem {
  const char *name;  /* map key (after #n substitution), NUL-terminated; NULL = list index */
  uint32_t name_len; /* bytes of name (0 for an index; names are never empty) */
  uint32_t index;    /* list index when name == NULL */
} expr_path_elem;

typedef struct expr_path {
  uint32_t n;            /* elements, 1..EXPR_MAX_PATH_DEPTH */
  expr_path_elem *elems; /* elems[0] is always a name (the top-level attribute) */
} expr_path;

/* Appends "[a, b, [1]]" (DynamoDB's rendering in messages) to a malloc'd
 * string; returns it. */
char *expr_path_render(const expr_path *p);

/* ---- condition / operand tree -------------------------------------------------------- */

/* X(name, printed name, arity): arity -1 = variable (>= 2 for AND/OR, >= 2 for IN).
 * Operand nodes produce a value; condition nodes produce a boolean. */
#define EXPR_NODES(X)                                                                                   \
  /* operands */                                                                                        \
  X(EXPR_PATH, "path", 0)                   /* document path into the item: node.path */                \
  X(EXPR_VALUE, "value", 0)                 /* literal: node.value (from :v or legacy) */               \
  X(EXPR_SIZE, "size", 1)                   /* size(k0): N, or no value */                              \
  X(EXPR_IF_NOT_EXISTS, "if_not_exists", 2) /* k0 (a PATH node) if it exists, else k1 */                \
  X(EXPR_LIST_APPEND, "list_append", 2)     /* k0 ++ k1, both lists */                                  \
  X(EXPR_PLUS, "+", 2)                      /* k0 + k1, numbers (UpdateExpression SET) */               \
  X(EXPR_MINUS, "-", 2)                     /* k0 - k1, numbers (UpdateExpression SET) */               \
  /* conditions */                                                                                      \
  X(EXPR_EQ, "=", 2)                                 /* k0 = k1 */                                      \
  X(EXPR_NE, "<>", 2)                                /* k0 <> k1 (true when either is missing) */       \
  X(EXPR_LT, "<", 2)                                 /* k0 < k1 */                                      \
  X(EXPR_LE, "<=", 2)                                /* k0 <= k1 */                                     \
  X(EXPR_GT, ">", 2)                                 /* k0 > k1 */                                      \
  X(EXPR_GE, ">=", 2)                                /* k0 >= k1 */                                     \
  X(EXPR_BETWEEN, "BETWEEN", 3)                      /* k1 <= k0 <= k2 */                               \
  X(EXPR_IN, "IN", -1)                               /* k0 = one of k1..k(n-1) */                       \
  X(EXPR_AND, "AND", -1)                             /* all of k0..k(n-1) (n >= 2) */                   \
  X(EXPR_OR, "OR", -1)                               /* any of k0..k(n-1) (n >= 2) */                   \
  X(EXPR_NOT, "NOT", 1)                              /* not k0 */                                       \
  X(EXPR_ATTR_EXISTS, "attribute_exists", 1)         /* k0 (PATH) resolves */                           \
  X(EXPR_ATTR_NOT_EXISTS, "attribute_not_exists", 1) /* k0 (PATH) does not resolve */                   \
  X(EXPR_ATTR_TYPE, "attribute_type", 2)             /* k0 (PATH) has type node.type (k1 = VALUE :t) */ \
  X(EXPR_BEGINS_WITH, "begins_with", 2)              /* k0 starts with k1 (S/S or B/B) */               \
  X(EXPR_CONTAINS, "contains", 2)                    /* k0 contains k1 (substring / member / element) */

typedef enum expr_node_kind {
#define X(name, printed, arity) name,
  EXPR_NODES(X)
#undef X
      EXPR_NODE_KIND_COUNT
} expr_node_kind;

/* "=", "BETWEEN", "attribute_exists", "path", ... */
const char *expr_node_kind_name(expr_node_kind k);
/* 1 for the kinds that yield a boolean (EXPR_EQ .. EXPR_CONTAINS). */
int expr_node_is_condition(expr_node_kind k);

typedef struct expr_node expr_node;
struct expr_node {
  expr_node_kind kind;   /* what the node is (table above) */
  uint32_t n;            /* number of children in kids */
  expr_node **kids;      /* children: operands of an operator/function, or sub-conditions */
  expr_path path;        /* EXPR_PATH: the resolved path; zero otherwise */
  const dv_value *value; /* EXPR_VALUE: the literal (borrowed, see Ownership); NULL otherwise */
  const char *ref;       /* EXPR_VALUE: ":v" as written, NULL for legacy literals; else NULL */
  dv_type type;          /* EXPR_ATTR_TYPE: the type named by k1 (DV_S .. DV_BS); else DV_NONE */
};

/* Constructors (for the legacy converters, tests, and any code building
 * trees by hand). All allocate from a. kids are copied (the array, not the
 * nodes). */
expr_node *expr_node_new(dv_arena *a, expr_node_kind kind, uint32_t n, expr_node *const *kids);
expr_node *expr_node_new2(dv_arena *a, expr_node_kind kind, expr_node *k0, expr_node *k1);
/* One-element path naming a top-level attribute (name copied). */
expr_node *expr_node_top_path(dv_arena *a, const char *name, size_t len);
/* PATH node over a copy of p. */
expr_node *expr_node_path(dv_arena *a, const expr_path *p);
/* VALUE node borrowing v (ref NULL). */
expr_node *expr_node_value(dv_arena *a, const dv_value *v);

/* Parses a ConditionExpression, FilterExpression or KeyConditionExpression
 * (kind EXPR_CONDITION, EXPR_FILTER or EXPR_KEY_CONDITION): empty check,
 * size check, syntax, then every static check of expressions.md 9 for that
 * kind, KeyConditionExpression structure (8) included. text need not be
 * NUL-terminated. ean / eav may be NULL (member absent); usage may be NULL
 * (no tracking). On success *out is the root condition node. 0 or -1 with
 * err set. */
int expr_parse_condition(const char *text, size_t len, expr_kind kind, const expr_names *ean,
                         const expr_values *eav, expr_usage *usage, dv_arena *a, expr_node **out,
                         p_error *err);

/* Does any path in the tree start at the top-level attribute name? (Query's
 * "Filter Expression can only contain non-primary key attributes".) */
int expr_node_mentions(const expr_node *n, const char *name, size_t len);

/* After the table / index lookup, for a Query's FilterExpression: a path
 * that starts at a key attribute of ks -> "Filter Expression can only
 * contain non-primary key attributes: Primary key attribute: <name>"
 * (partition key checked first). 0 or -1 with err set. */
int expr_check_filter_keys(const expr_node *filter, const p_key_schema *ks, p_error *err);

/* ---- KeyConditionExpression -------------------------------------------------------- */

typedef enum expr_key_op {
  EXPR_KEY_EQ = 0,     /* attr = v1 */
  EXPR_KEY_LT,         /* attr < v1 */
  EXPR_KEY_LE,         /* attr <= v1 */
  EXPR_KEY_GT,         /* attr > v1 */
  EXPR_KEY_GE,         /* attr >= v1 */
  EXPR_KEY_BETWEEN,    /* v1 <= attr <= v2 */
  EXPR_KEY_BEGINS_WITH /* attr starts with v1 */
} expr_key_op;

typedef struct expr_key_cond {
  const char *name;   /* the key attribute (resolved), NUL-terminated */
  uint32_t name_len;  /* bytes of name */
  expr_key_op op;     /* normalised so that the attribute is on the left (":v < sk" -> GT) */
  const dv_value *v1; /* first (or only) literal, borrowed */
  const dv_value *v2; /* upper bound of BETWEEN, NULL otherwise */
} expr_key_cond;

typedef struct expr_key_conds {
  uint32_t n;       /* conditions, >= 1, one per distinct attribute, in source order */
  expr_key_cond *c; /* the conditions */
} expr_key_conds;

/* Flattens a tree that expr_parse_condition(EXPR_KEY_CONDITION) accepted
 * (or expr_legacy_conditions(EXPR_LEGACY_KEY_CONDITIONS) built) into its
 * conditions. Cannot fail on such a tree. */
void expr_key_conds_get(const expr_node *tree, dv_arena *a, expr_key_conds *out);

/* Schema checks after the table / index lookup (expressions.md 8, "Schema
 * errors"): missed key schema element, too many conditions, unsupported key
 * condition, type mismatch, empty key value. On success *hash is the
 * partition-key condition and *range the sort-key one (NULL if none). 0 or
 * -1 with err set (bare messages). */
int expr_check_key_conds(const expr_key_conds *kc, const p_key_schema *ks, const expr_key_cond **hash,
                         const expr_key_cond **range, p_error *err);

/* ---- UpdateExpression ---------------------------------------------------------------- */

typedef enum expr_action_kind {
  EXPR_ACT_SET = 0, /* path = value */
  EXPR_ACT_REMOVE,  /* remove path */
  EXPR_ACT_ADD,     /* add value (N or set) to path */
  EXPR_ACT_DELETE   /* delete set members value from path */
} expr_action_kind;

typedef struct expr_action {
  expr_action_kind kind; /* which clause the action belongs to */
  expr_path path;        /* the target path (left-hand side) */
  expr_node *value;      /* SET: operand tree (PATH, VALUE, IF_NOT_EXISTS, LIST_APPEND, PLUS,
                            MINUS); ADD/DELETE: a VALUE node; REMOVE: NULL */
  int legacy;            /* 1 when built from AttributeUpdates: ADD may also append to a list
                            (L value), DELETE/ADD type errors use the legacy message */
} expr_action;

typedef struct expr_update {
  uint32_t n;           /* actions */
  expr_action *actions; /* actions in source order (clauses in the order written) */
} expr_update;

/* Parses an UpdateExpression: empty check, size check, syntax, reserved
 * words, function names, repeated sections, undefined #n, undefined :v,
 * path overlap and conflict, ADD/DELETE operand types, function operand
 * counts / types / paths (expressions.md 9 order). 0 or -1 with err set. */
int expr_parse_update(const char *text, size_t len, const expr_names *ean, const expr_values *eav,
                      expr_usage *usage, dv_arena *a, expr_update **out, p_error *err);

/* After the table lookup: an action whose path starts at a key attribute ->
 * "One or more parameter values were invalid: Cannot update attribute pk.
 * This attribute is part of the key". 0 or -1. */
int expr_check_update_keys(const expr_update *u, const p_key_schema *ks, p_error *err);

/* Messages of runtime update errors, for the evaluator (expressions.md 9). */
#define EXPR_MSG_BAD_TYPE "An operand in the update expression has an incorrect data type"
#define EXPR_MSG_MISSING_RHS "The provided expression refers to an attribute that does not exist in the item"
#define EXPR_MSG_BAD_PATH "The document path provided in the update expression is invalid for update"
#define EXPR_MSG_LEGACY_TYPE "Type mismatch for attribute to update"

/* ---- ProjectionExpression ------------------------------------------------------------ */

typedef struct expr_projection {
  uint32_t n;       /* paths, >= 1 */
  expr_path *paths; /* in source order; no two overlap or conflict */
} expr_projection;

/* Parses a ProjectionExpression: empty check, size check, syntax, reserved
 * words, undefined #n, overlap, conflict. 0 or -1 with err set. */
int expr_parse_projection(const char *text, size_t len, const expr_names *ean, expr_usage *usage, dv_arena *a,
                          expr_projection **out, p_error *err);

/* After the table / index lookup, for a Query's ProjectionExpression: a
 * nested path (more than one element) into a key attribute of ks -> "Key
 * attributes must be scalars; list random access '[]' and map lookup '.' are
 * not allowed: Key: <name>". 0 or -1 with err set. */
int expr_check_projection_keys(const expr_projection *p, const p_key_schema *ks, p_error *err);

/* AttributesToGet (already validated names) -> projection of top-level
 * paths. */
expr_projection *expr_projection_from_names(const char *const *names, size_t n, dv_arena *a);

/* ---- legacy parameters (expressions.md 11) ------------------------------------------------ */

typedef enum expr_legacy_kind {
  EXPR_LEGACY_EXPECTED = 0,  /* Expected (Put/Update/DeleteItem): Value / Exists / ComparisonOperator */
  EXPR_LEGACY_QUERY_FILTER,  /* QueryFilter */
  EXPR_LEGACY_SCAN_FILTER,   /* ScanFilter */
  EXPR_LEGACY_KEY_CONDITIONS /* KeyConditions (EQ LE LT GE GT BEGINS_WITH BETWEEN only) */
} expr_legacy_kind;

/* Expected / QueryFilter / ScanFilter / KeyConditions (a JSON object that
 * passed the shape check) -> a condition tree: one condition per attribute,
 * joined by AND (or OR when conditional_operator is "OR"; NULL = AND; for
 * KeyConditions always AND). Values are converted with p_value_from_json
 * (layer) into a. All the checks and messages of expressions.md 11 for the
 * map itself (Exists/Value rules, argument counts, list types, BETWEEN
 * bounds, ConditionalOperator with one element, non-indexable KeyConditions
 * operators). An empty map gives *out = NULL (no condition). 0 or -1. */
int expr_legacy_conditions(const json_t *map, expr_legacy_kind kind, const char *conditional_operator,
                           p_layer layer, dv_arena *a, expr_node **out, p_error *err);

/* AttributeUpdates -> expr_update with legacy = 1 actions: PUT -> SET a =
 * v, DELETE without Value -> REMOVE a, DELETE with Value -> DELETE a v,
 * ADD -> ADD a v. Checks the per-attribute rules that need no item. An empty
 * map gives an update with n = 0. 0 or -1. */
int expr_legacy_attribute_updates(const json_t *map, p_layer layer, dv_arena *a, expr_update **out,
                                  p_error *err);

/* ---- canonical printing (tests, debugging) --------------------------------------------------- */

/* S-expression renderings, malloc'd (caller frees):
 *   paths      a.b[1]   ("a.b" quoted as JSON when a name is not [A-Za-z0-9_]+)
 *   values     :v       (legacy literals: {S:x}, {N:1}, ... as in messages)
 *   nodes      (= a :v) (AND x y z) (BETWEEN a :lo :hi) (IN a :x :y) (size a) (+ a :v)
 *   update     (update (SET a :v) (REMOVE b) (ADD c :x) (DELETE d :y))
 *              (legacy actions are marked: (SET* a {S:x}) (ADD* n {N:1}))
 *   projection (projection a b.c l[1])
 *   key conds  (keys (= pk :p) (BETWEEN sk :a :b))                                       */
char *expr_print(const expr_node *n);
char *expr_print_update(const expr_update *u);
char *expr_print_projection(const expr_projection *p);
char *expr_print_key_conds(const expr_key_conds *kc);

/* ---- reserved words (reserved_words.c) ------------------------------------------------------ */

/* 1 if the word is one of DynamoDB's 573 reserved words (case-insensitive). */
int expr_is_reserved(const char *word, size_t len);

#endif /* DF_EXPR_H */
