/*
 * protocol_int.h -- declarations shared by the files of protocol/ only.
 *
 * Three layers of request checking, in protocol.md 2.1's order, each with its
 * helpers here:
 *   1. shapes (step 8): a static description of each request's members, walked
 *      over the JSON body to raise SerializationException for a member of the
 *      wrong JSON type (p__shape_check);
 *   2. member constraints (step 9): an accumulator that joins the failing
 *      members into one "N validation errors detected: ..." message
 *      (p__verrs);
 *   3. semantics (step 10): the per-operation code in control.c / items.c.
 * Plus strict base64 (base64.c) and JSON member accessors.
 */
#ifndef DF_PROTOCOL_INT_H
#define DF_PROTOCOL_INT_H

#include <stdbool.h>

#include "protocol/protocol.h"

/* ---- base64 (base64.c) ----------------------------------------------------- */

/* Checks a wire blob as AWS's deserializer does. 0 if valid; else -1 and a
 * SerializationException message in err. */
int p__b64_check(const char *s, size_t len, p_error *err);
/* Decoded length of valid base64 text. */
size_t p__b64_decoded_len(const char *s, size_t len);
/* Decodes valid base64 text into out (p__b64_decoded_len bytes). */
void p__b64_decode(const char *s, size_t len, uint8_t *out);
/* Encodes n bytes as padded standard base64 into out (4*ceil(n/3) bytes + NUL).
 * Returns the text length. */
size_t p__b64_encode(const uint8_t *p, size_t n, char *out);
/* Encoded length without the NUL. */
static inline size_t p__b64_encoded_len(size_t n) {
  return (n + 2) / 3 * 4;
}

/* ---- shapes (json_value.c) ------------------------------------------------- */

typedef enum p__kind {
  P_SH_STRING,  /* JSON string */
  P_SH_LONG,    /* JSON integer (reals are truncated), Java Long */
  P_SH_INTEGER, /* JSON integer, Java Integer */
  P_SH_BOOL,    /* JSON boolean or a lenient string */
  P_SH_BLOB,    /* base64 string */
  P_SH_LIST,    /* JSON array of elem */
  P_SH_MAP,     /* JSON object of name -> elem */
  P_SH_STRUCT   /* JSON object with known members */
} p__kind;

typedef struct p__shape p__shape;

typedef struct p__member {
  const char *name;      /* wire name, e.g. "TableName" */
  const p__shape *shape; /* its shape */
} p__member;

struct p__shape {
  p__kind kind;             /* what JSON it must be */
  const char *java;         /* Java type named in messages ("java.lang.String", ...) */
  const p__shape *elem;     /* LIST/MAP: element shape */
  const p__member *members; /* STRUCT: members, ended by a NULL name */
};

/* Shared shapes. */
extern const p__shape p__sh_string, p__sh_long, p__sh_integer, p__sh_bool, p__sh_blob;
extern const p__shape p__sh_av;           /* AttributeValue */
extern const p__shape p__sh_av_map;       /* Map<String, AttributeValue> (Item, Key) */
extern const p__shape p__sh_string_list;  /* List<String> (AttributesToGet) */
extern const p__shape p__sh_string_map;   /* Map<String, String> (ExpressionAttributeNames) */
extern const p__shape p__sh_expected_map; /* Map<String, ExpectedAttributeValue> */

/* Walks j against shape (step 8 of protocol.md 2.1): 0, or -1 with a
 * SerializationException in err. JSON null anywhere = absent. */
int p__shape_check(const json_t *j, const p__shape *shape, p_error *err);

/* Item / key map that already passed p__shape_check -> DV_M (value checks
 * of operations.md 1.2, top-level names non-empty). */
int p__item_convert(const json_t *j, p_layer layer, dv_arena *a, dv_value *out, p_error *err);

/* Lenient boolean of a value that passed p__shape_check as P_SH_BOOL. */
int p__bool_value(const json_t *j);

/* ---- member constraints (error.c) ------------------------------------------ */

#define P_VERRS_MAX 10

/* Accumulates member-constraint failures (protocol.md 2.2). */
typedef struct p__verrs {
  int n;                    /* failures seen */
  char *items[P_VERRS_MAX]; /* the first P_VERRS_MAX messages, malloc'd */
} p__verrs;

void p__verrs_init(p__verrs *v);
/* Adds one item (printf-style). */
void p__verrs_add(p__verrs *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* If any item was added: sets err to the joined VE and returns -1; else 0.
 * Frees the items either way. */
int p__verrs_finish(p__verrs *v, p_error *err);
void p__verrs_free(p__verrs *v);

/* Old-form items for common constraints. value NULL = "Value null". */
void p__verr_null(p__verrs *v, const char *path);
void p__verr_enum(p__verrs *v, const char *value, const char *path, const char *set);
/* Old-form string constraints: pattern (if pattern), min and max length, in
 * that order (AWS's order). */
void p__verr_string(p__verrs *v, const char *value, size_t len, const char *path, size_t min, size_t max,
                    const char *pattern);

/* Table-name character rule [a-zA-Z0-9_.-]+ (the empty string passes). */
bool p__table_name_chars_ok(const char *s, size_t len);
#define P_TABLE_NAME_PATTERN "[a-zA-Z0-9_.-]+"

/* ---- JSON helpers (json_value.c) ------------------------------------------- */

/* Member of an object, NULL when absent or JSON null. */
const json_t *p__member_get(const json_t *obj, const char *name);
/* String member copied into a (NULL if absent). *len gets its length. */
const char *p__member_str(const json_t *obj, const char *name, dv_arena *a, size_t *len);

/* Appends to a growing malloc'd string buffer. */
typedef struct p__sbuf {
  char *p;    /* NUL-terminated text, malloc'd */
  size_t len; /* bytes used, without the NUL */
  size_t cap; /* bytes allocated */
} p__sbuf;
void p__sbuf_add(p__sbuf *b, const char *s, size_t len);
void p__sbuf_addf(p__sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* malloc that aborts on out-of-memory (small allocation rule). */
void *p__xmalloc(size_t n);
void *p__xrealloc(void *p, size_t n);

/* Item-level message helper: sets err to "1 validation error detected: <msg>"
 * when enveloped, the bare message otherwise. */
int p__value_error_envelope(p_error *err);

/* Unsupported request member (expressions come in a later release). */
int p__unsupported(p_error *err, const char *member);

/* Parses the ReturnConsumedCapacity string (already constraint-checked). */
p_rcc p__rcc_from(const char *s);

/* ---- expression members of a request (items.c) ------------------------------ */

#include "protocol/expr.h"

/* The ExpressionAttributeNames / Values of one request and which of their
 * entries its expressions used. */
typedef struct p__req_exprs {
  expr_names ean_s;  /* converted names (valid when ean != NULL) */
  expr_names *ean;   /* &ean_s, or NULL when the member is absent */
  expr_values eav_s; /* converted values (valid when eav != NULL) */
  expr_values *eav;  /* &eav_s, or NULL when the member is absent */
  expr_usage usage;  /* used entries, over all expressions of the request */
} p__req_exprs;

/* Mixing of the legacy members and the expression members present in body,
 * names / values given without an expression (eav_member: the operation has
 * an ExpressionAttributeValues member), then the two maps converted (current
 * layer). Bare messages; the caller adds any envelope. */
int p__exprs_begin(const json_t *body, const char *const *legacy, const char *const *exprs, bool eav_member,
                   dv_arena *a, p__req_exprs *x, p_error *err);

/* AttributesToGet (a list of strings that passed the shape check): the
 * duplicate check ("Duplicate value in attribute name: a"), then the names,
 * copied into a. */
int p__attrs_to_get(const json_t *atg, dv_arena *a, const char ***names_out, size_t *n_out, p_error *err);

/* ---- control plane pieces shared by control.c and update_table.c ----------- */

/* Shapes of CreateTable members that UpdateTable has too (control.c). */
extern const p__shape p__sh_attrdefs;   /* List<AttributeDefinition> */
extern const p__shape p__sh_key_schema; /* List<KeySchemaElement> */
extern const p__shape p__sh_pt;         /* ProvisionedThroughput */
extern const p__shape p__sh_odt;        /* OnDemandThroughput */
extern const p__shape p__sh_wt;         /* WarmThroughput */
extern const p__shape p__sh_proj;       /* Projection */
extern const p__shape p__sh_stream;     /* StreamSpecification */
extern const p__shape p__sh_sse;        /* SSESpecification */

/* Old-form constraint items (control.c): a table name (3..255, pattern) at
 * path; a key schema list (null, elements, 1..2 entries); a
 * ProvisionedThroughput (both members present and >= 1). */
void p__table_name_constraints(p__verrs *v, const json_t *name, const char *path);
void p__key_schema_constraints(p__verrs *v, const json_t *ks, const char *path);
void p__throughput_constraints(p__verrs *v, const json_t *pt, const char *path);
/* Java's String.hashCode of UTF-8 text (over UTF-16 units), for the
 * "Class@<hex hash>" echoes of AWS SDK v1 model objects. */
int32_t p__java_string_hash(const char *s);

/* StreamSpecification constraint items (update_table.c): streamEnabled not
 * null, streamViewType in AWS's enum order (streams-ttl.md 1.2). */
void p__stream_spec_constraints(p__verrs *v, const json_t *ss);
/* {"StreamEnabled":true,"StreamViewType":view}, the meta form (new ref). */
json_t *p__stream_spec_json(const char *view);

/* A JSON number as a long long (reals truncated, clamped to int64). */
long long p__long_value(const json_t *j);
/* ProvisionedThroughput's units above DynamoDB's bound: "Given value N for
 * ReadCapacityUnits is out of bounds" (Read first). 0 or -1 with err set. */
int p__throughput_bounds(const json_t *pt, p_error *err);

/* Index members of CreateTable / UpdateTable (control.c, update_table.c,
 * indexes.c). */
/* Old-form constraint items of a Projection at path (update_table.c):
 * null, projectionType enum, NonKeyAttributes elements 1..255, list 1..20. */
void p__projection_constraints(p__verrs *v, const json_t *proj, const char *path);
/* Old-form constraint items of an index name (3..255, pattern) at path. */
void p__index_name_constraints(p__verrs *v, const json_t *name, const char *path);
/* Semantic checks of one key schema (table or index) against a list of
 * AttributeDefinitions (NULL = none), in CreateTable's order: a key
 * attribute without definition ("Some index key attributes are not defined
 * in AttributeDefinitions. Keys: [..], AttributeDefinitions: [..]"), NUL in
 * a name, HASH and RANGE of one name, HASH first, RANGE second (control.c).
 * 0 or -1 with err set. */
int p__key_schema_check(const json_t *ks, const json_t *defs, p_error *err);
/* Projection semantics (indexes.c): "Unknown ProjectionType: null",
 * NonKeyAttributes with ALL / KEYS_ONLY, INCLUDE without NonKeyAttributes. */
int p__projection_check(const json_t *proj, p_error *err);
/* The AttributeDefinitions entry of name in defs, NULL if none (control.c). */
const json_t *p__find_def(const json_t *defs, const char *name);
/* CreateTable's LocalSecondaryIndexes / GlobalSecondaryIndexes after the
 * table's own key checks (indexes.c): every index check of operations.md
 * 4.1 in order, then the definitions against the keys used ("Some
 * AttributeDefinitions are not used"). On success *lsi / *gsi are the meta
 * lists (new refs, NULL when the request has none) and out->indexes /
 * n_indexes are filled. ks: the table's validated key schema. */
int p__create_indexes(const json_t *body, const p_key_schema *ks, bool on_demand, dv_arena *a,
                      json_t **lsi, json_t **gsi, p_create_table *out, p_error *err);
/* The meta form of one GSI of a request (CreateTable or an UpdateTable
 * Create): IndexName, KeySchema, Projection, ProvisionedThroughput (when
 * given and !on_demand), OnDemandThroughput / WarmThroughput as sent,
 * IndexStatus status. New ref. */
json_t *p__gsi_meta(const json_t *req, bool on_demand, const char *status);
/* Adds "LocalSecondaryIndexes" / "GlobalSecondaryIndexes" of meta to the
 * TableDescription d (indexes.c). */
void p__describe_indexes(json_t *d, const char *table_arn, const json_t *meta, const p_index_stats *stats,
                         size_t n_stats);
/* "[a, b]" of the AttributeName members of a list (control.c), malloc'd. */
char *p__name_list(const json_t *list);

/* ---- value checks shared by the wire and the plain notation (json_value.c) -- */

/* Nesting levels allowed in a value (depth as p_value_from_json's). */
#define P__MAX_DEPTH 32
/* "Nesting Levels have exceeded supported limits..." when depth > 32:
 * -1 with err set, else 0. */
int p__depth_check(int depth, p_error *err);
/* Attribute name of len bytes: non-empty at the top level of an item ("Empty
 * attribute name"), at most 65535 bytes. 0 or -1 with err set. */
int p__attr_name_check(size_t len, bool top, p_error *err);
/* Number text -> canonical DV_N (dv_num_parse), with the layer's messages
 * for text that is not a number, too many digits, overflow, underflow. */
int p__number_from(const char *s, size_t len, p_layer layer, dv_arena *a, dv_value *out, p_error *err);
/* DV_B of base64 text that passed p__b64_check. */
dv_value p__blob_from(const char *s, size_t len, dv_arena *a);
/* The "may not be empty" message of an empty SS / NS / BS. Returns -1. */
int p__set_empty_error(dv_type t, p_error *err);
/* A set of n converted elements el (request order) -> *out: sorted, and
 * the duplicate messages of the layer if two are equal. texts is the JSON
 * array of the members as sent: strings for SS and BS, echoed by the
 * duplicate message (not read for NS). el is kept or copied into a. */
int p__set_finish(dv_value *el, uint32_t n, dv_type t, const json_t *texts, p_layer layer, dv_arena *a,
                  dv_value *out, p_error *err);

/* ---- stream records (streams.c) ------------------------------------------- */

/* p_write_stream_record with the item writer for Keys, NewImage and
 * OldImage given: p_write_item_json (wire) or p_write_plain_item (plain). */
void p__write_stream_record(p_buf *b, const p_stream_record *r,
                            void (*write_item)(p_buf *b, const dv_value *item));

#endif /* DF_PROTOCOL_INT_H */
