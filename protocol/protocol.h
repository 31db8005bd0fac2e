/*
 * protocol.h -- DynamoDB's wire JSON <-> typed values, request validation,
 * response shapes and error objects. Pure: no I/O, no storage calls. The only
 * storage header it uses is storage/value.h (the value model).
 *
 * Validation follows shared/spec/protocol.md section 2: the order of checks
 * and the exact messages. A parse function does the checks that need no
 * table (steps 8-10 of protocol.md 2.1); the p_check_* functions do the
 * schema checks that come after the table lookup (step 12).
 *
 * Ownership: parse functions allocate everything they return from the arena
 * they are given (dv_value trees, strings); json_t results are new
 * references the caller must json_decref. p_error messages are malloc'd and
 * freed by p_error_clear.
 */
#ifndef DF_PROTOCOL_H
#define DF_PROTOCOL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/value.h"

/* ---- errors -------------------------------------------------------------- */

/* name, namespace + code for __type, HTTP status, message member ("" = none) */
#define P_ERRORS(X)                                                                                   \
  X(P_OK, "", 200, "")                                                                                \
  X(P_VALIDATION, "com.amazon.coral.validate#ValidationException", 400, "message")                    \
  X(P_SERIALIZATION, "com.amazon.coral.service#SerializationException", 400, "Message")               \
  X(P_UNKNOWN_OPERATION, "com.amazon.coral.service#UnknownOperationException", 400, "")               \
  X(P_MISSING_AUTH, "com.amazon.coral.service#MissingAuthenticationTokenException", 400, "message")   \
  X(P_INCOMPLETE_SIGNATURE, "com.amazon.coral.service#IncompleteSignatureException", 400, "message")  \
  X(P_INVALID_SIGNATURE, "com.amazon.coral.service#InvalidSignatureException", 400, "message")        \
  X(P_UNRECOGNIZED_CLIENT, "com.amazon.coral.service#UnrecognizedClientException", 400, "message")    \
  X(P_ACCESS_DENIED, "com.amazon.coral.service#AccessDeniedException", 400, "Message")                \
  X(P_RESOURCE_NOT_FOUND, "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", 400, "message") \
  X(P_RESOURCE_IN_USE, "com.amazonaws.dynamodb.v20120810#ResourceInUseException", 400, "message")     \
  X(P_CONDITIONAL_CHECK_FAILED, "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", 400, "message") \
  X(P_LIMIT_EXCEEDED, "com.amazonaws.dynamodb.v20120810#LimitExceededException", 400, "message")      \
  X(P_TABLE_NOT_FOUND, "com.amazonaws.dynamodb.v20120810#TableNotFoundException", 400, "message")     \
  X(P_TRIMMED_DATA_ACCESS, "com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException", 400, "message") \
  X(P_EXPIRED_ITERATOR, "com.amazonaws.dynamodb.v20120810#ExpiredIteratorException", 400, "message")  \
  X(P_INTERNAL, "com.amazonaws.dynamodb.v20120810#InternalServerError", 500, "message")               \
  X(P_UNAVAILABLE, "com.amazonaws.dynamodb.v20120810#ServiceUnavailable", 503, "message")

typedef enum p_errcode {
#define X(name, type, status, member) name,
  P_ERRORS(X)
#undef X
  P_ERRCODE_COUNT
} p_errcode;

typedef struct p_error {
  p_errcode code; /* P_OK when no error */
  char *msg;      /* malloc'd message, NULL for none */
  json_t *extra;  /* optional members merged into the body (e.g. "Item"), new ref */
} p_error;

void p_error_init(p_error *e);
void p_error_clear(p_error *e);
/* Set code and printf-style message (replaces any previous one). Returns -1
 * so callers can write `return p_error_set(...)`. fmt NULL = no message. */
int p_error_set(p_error *e, p_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* HTTP status of an error code. */
int p_error_status(p_errcode code);
/* "__type" of an error code. */
const char *p_error_type(p_errcode code);
/* The JSON error body; malloc'd, *len its length. */
char *p_error_body(const p_error *e, size_t *len);

/* ---- request JSON parser (protocol/json_parse.c) ------------------------- */

/* Parses a request body: a drop-in for json_loadb(buf, len, JSON_ALLOW_NUL,
 * NULL) of jansson 2.14, 4-7 times faster. Returns a new reference to
 * a tree equal to jansson's (same types, values, member order), or NULL
 * exactly when jansson would return NULL (syntax, UTF-8, depth, range). */
json_t *p_json_parse(const char *buf, size_t len);

/* ---- operations ---------------------------------------------------------- */

/* Every operation of the DynamoDB and DynamoDB Streams APIs (botocore
 * model), so that the router can tell "unknown operation" from "not
 * implemented yet". */
#define P_OPS(X)                                                                  \
  X(BatchExecuteStatement) X(BatchGetItem) X(BatchWriteItem) X(CreateBackup)      \
  X(CreateGlobalTable) X(CreateTable) X(DeleteBackup) X(DeleteItem)               \
  X(DeleteResourcePolicy) X(DeleteTable) X(DescribeBackup)                        \
  X(DescribeContinuousBackups) X(DescribeContributorInsights) X(DescribeEndpoints)\
  X(DescribeExport) X(DescribeGlobalTable) X(DescribeGlobalTableSettings)         \
  X(DescribeImport) X(DescribeKinesisStreamingDestination) X(DescribeLimits)      \
  X(DescribeTable) X(DescribeTableReplicaAutoScaling) X(DescribeTimeToLive)       \
  X(DisableKinesisStreamingDestination) X(EnableKinesisStreamingDestination)      \
  X(ExecuteStatement) X(ExecuteTransaction) X(ExportTableToPointInTime)           \
  X(GetItem) X(GetResourcePolicy) X(ImportTable) X(ListBackups)                   \
  X(ListContributorInsights) X(ListExports) X(ListGlobalTables) X(ListImports)    \
  X(ListTables) X(ListTagsOfResource) X(PutItem) X(PutResourcePolicy) X(Query)    \
  X(RestoreTableFromBackup) X(RestoreTableToPointInTime) X(Scan) X(TagResource)   \
  X(TransactGetItems) X(TransactWriteItems) X(UntagResource)                      \
  X(UpdateContinuousBackups) X(UpdateContributorInsights) X(UpdateGlobalTable)    \
  X(UpdateGlobalTableSettings) X(UpdateItem) X(UpdateKinesisStreamingDestination) \
  X(UpdateTable) X(UpdateTableReplicaAutoScaling) X(UpdateTimeToLive)

#define P_STREAM_OPS(X) X(DescribeStream) X(GetRecords) X(GetShardIterator) X(ListStreams)

typedef enum p_op {
  P_OP_NONE = 0,
#define X(name) P_OP_##name,
  P_OPS(X)
#undef X
#define X(name) P_OP_Streams_##name,
  P_STREAM_OPS(X)
#undef X
  P_OP_COUNT
} p_op;

/* Operation named by an X-Amz-Target header value ("DynamoDB_20120810.PutItem",
 * "DynamoDBStreams_20120810.GetRecords"; the legacy DynamoDB_20111205 prefix
 * too). P_OP_NONE if the prefix or the name is unknown. */
p_op p_op_from_target(const char *target);
/* "PutItem" etc. */
const char *p_op_name(p_op op);

/* ---- context ------------------------------------------------------------- */

typedef struct p_context {
  const char *region;  /* e.g. "us-east-1": used in ARNs */
  const char *account; /* 12-digit account id for ARNs (not 000000000000) */
} p_context;

/* ---- common request members ---------------------------------------------- */

typedef struct p_key_schema {
  const char *hash_name; /* partition key attribute */
  dv_type hash_type;     /* DV_S, DV_N or DV_B */
  const char *range_name; /* sort key attribute, NULL if none */
  dv_type range_type;    /* DV_NONE if none */
} p_key_schema;

typedef enum p_return_values {
  P_RV_NONE = 0, P_RV_ALL_OLD, P_RV_UPDATED_OLD, P_RV_ALL_NEW, P_RV_UPDATED_NEW
} p_return_values;

typedef enum p_rcc { P_RCC_NONE = 0, P_RCC_TOTAL, P_RCC_INDEXES } p_rcc;

/* ---- values -------------------------------------------------------------- */

/* Which validation layer words the value errors (protocol.md 2.3,
 * operations.md 1.2). */
typedef enum p_layer { P_LAYER_CURRENT = 0, P_LAYER_OLDER = 1 } p_layer;

/* Wire AttributeValue -> dv_value, all checks of operations.md 1.1-1.4
 * (numbers normalised, base64 decoded, sets sorted and de-duplicated-checked,
 * NULL true, one type key, nesting). depth is the level of j (1 for a
 * top-level attribute value). Returns 0 or -1 with err set (message bare: the
 * caller adds any envelope). */
int p_value_from_json(const json_t *j, int depth, p_layer layer, dv_arena *a, dv_value *out,
                      p_error *err);
/* Wire item / key (map of name -> AttributeValue) -> DV_M. */
int p_item_from_json(const json_t *j, p_layer layer, dv_arena *a, dv_value *out, p_error *err);
/* dv_value -> wire AttributeValue / item (new references). */
json_t *p_value_to_json(const dv_value *v);
json_t *p_item_to_json(const dv_value *item);

/* ---- secondary indexes (protocol/indexes.c) ------------------------------- */

/* A table's secondary indexes as the protocol sees them, read from the
 * table's meta (p_table_indexes) or made by CreateTable. The meta keeps them
 * as DynamoDB shows them (protocol/control.c's meta layout):
 *   "LocalSecondaryIndexes"  [{IndexName, KeySchema, Projection}]
 *   "GlobalSecondaryIndexes" [{IndexName, KeySchema, Projection,
 *                              ProvisionedThroughput (provisioned tables),
 *                              IndexStatus "CREATING"|"ACTIVE",
 *                              Backfilling true (while being filled)}]
 * and the key attributes' types in AttributeDefinitions. */

typedef enum p_projection {
  P_PROJ_KEYS_ONLY = 0, /* table key + index key (storage's ST_PROJ_KEYS_ONLY) */
  P_PROJ_INCLUDE = 1,   /* those + NonKeyAttributes (ST_PROJ_INCLUDE) */
  P_PROJ_ALL = 2        /* the whole item (ST_PROJ_ALL) */
} p_projection;

typedef struct p_index {
  const char *name;        /* IndexName */
  int global;              /* 1: a GSI, 0: an LSI */
  p_key_schema key;        /* the index's key schema (an LSI's hash is the table's) */
  p_projection projection; /* ProjectionType */
  const char **include;    /* INCLUDE: NonKeyAttributes, in order (NULL otherwise) */
  size_t n_include;        /* names in include */
  int creating;            /* GSI: IndexStatus CREATING (not readable yet) */
} p_index;

/* The indexes in meta: LSIs first, then GSIs, each list in meta order.
 * *idx from the arena (NULL when n is 0). -1 only for an unreadable meta. */
int p_table_indexes(const json_t *meta, dv_arena *a, p_index **idx, size_t *n);
/* The index named name among idx[0..n), NULL if none. */
const p_index *p_index_find(const p_index *idx, size_t n, const char *name);
/* 1 when attribute name is projected into ix's entries (a table key, an
 * index key, ALL, or an INCLUDE name). ks: the table's key schema. */
int p_index_projects(const p_key_schema *ks, const p_index *ix, const char *name, size_t len);

/* Per-index live figures for DescribeTable. */
typedef struct p_index_stats {
  const char *name;    /* IndexName */
  uint64_t item_count; /* ItemCount */
  uint64_t size_bytes; /* IndexSizeBytes */
} p_index_stats;

/* A copy of meta (new ref) with GSI name's IndexStatus set to status
 * ("CREATING" / "ACTIVE") and Backfilling set to true (backfilling != 0) or
 * removed. meta itself is unchanged. */
json_t *p_meta_set_index_status(const json_t *meta, const char *name, const char *status, int backfilling);

/* Write-path checks of index keys (operations.md 5.1, 1.4; expressions.md
 * 6), after the table's own key checks:
 *   p_check_index_keys: an item to be written (PutItem, a BatchWriteItem
 *     PutRequest, the /v1/ face): every index key attribute present must
 *     have the index's type ("One or more parameter values were invalid:
 *     Type mismatch for Index Key x Expected: S Actual: N IndexName: idx"),
 *     a non-empty S/B ("One or more parameter values are not valid. A value
 *     specified for a secondary index key is not supported. The
 *     AttributeValue for a key attribute cannot contain an empty string
 *     value. IndexName: <idx>, IndexKey: <attr>") and a legal size.
 *   p_check_update_index: UpdateItem before the item is read: an action
 *     whose path goes inside an index key attribute ("Key attributes must
 *     be scalars; list random access '[]' and map lookup '.' are not
 *     allowed: IndexKey: <name>"), a SET of an index key to a literal
 *     (:value) of the wrong type or empty.
 *   p_check_updated_index_keys: UpdateItem on the finished item: an index
 *     key given a wrong-typed or empty value by a copy / function ("The
 *     update expression attempted to update the secondary index key to
 *     unsupported type", the empty-value message of expressions.md 6).
 * Bare messages; 0 or -1 with err set.
 * Callers: run them after the table's own checks (p_check_put_item /
 * p_check_batch_write_table / p_check_update_item): an LSI's partition key
 * is the table's and is not checked again here. Indexes are checked in idx
 * order, key by key (hash, then range), the first problem answers; CREATING
 * GSIs are checked too (writes during a backfill must fit the new index).
 * p_check_updated_index_keys looks at the index key attributes of the
 * finished item `item` whose value differs from the one in `old` (the item
 * before the update; NULL or DV_NONE for none): an attribute the update
 * leaves alone is never refused, even if its stored value does not fit an
 * index created later (such an item is simply not in that index). */
int p_check_index_keys(const p_index *idx, size_t n, const dv_value *item, p_error *err);
struct p_update_item;
int p_check_update_index(const p_index *idx, size_t n, const struct p_update_item *req, p_error *err);
int p_check_updated_index_keys(const p_index *idx, size_t n, const dv_value *old, const dv_value *item,
                               p_error *err);

/* ItemCollectionMetrics of a write to a table with an LSI, asked for with
 * ReturnItemCollectionMetrics SIZE (operations.md 3):
 * {"ItemCollectionKey":{<hash>:<value>},"SizeEstimateRangeGB":[0,1]} with
 * the partition-key value of item (an item or a key). New ref; NULL if
 * item lacks the partition key. Tables without an LSI answer none. */
json_t *p_item_collection_metrics(const p_key_schema *ks, const dv_value *item);
/* 1 when one of idx[0..n) is an LSI. */
int p_indexes_have_lsi(const p_index *idx, size_t n);

/* Index write units of one write (operations.md 3, "Index maintenance"):
 * old/new the item before and after (NULL or DV_NONE: none). 0 when the
 * index is untouched. An item is in the index when it has every index key
 * with the declared type and a legal value (storage.h's sparse rule); an
 * entry is ceil(projected bytes / 1024) units (at least 1); a moved entry
 * costs its delete plus its put; an unchanged entry (same keys, same
 * projected attributes) costs nothing. ks: the table's key schema. */
double p_index_write_units(const p_key_schema *ks, const p_index *ix, const dv_value *old_item,
                           const dv_value *new_item);
/* ConsumedCapacity of a write with index arms (NULL when mode is NONE):
 * TOTAL: {TableName, CapacityUnits = table + every index}; INDEXES adds
 * "Table":{CapacityUnits:table} and GlobalSecondaryIndexes /
 * LocalSecondaryIndexes arms for the indexes with units > 0. units[i]
 * belongs to idx[i]. */
json_t *p_consumed_capacity_indexed(const char *table, double table_units, const p_index *idx,
                                    const double *units, size_t n, p_rcc mode);

/* ---- control plane ------------------------------------------------------- */

typedef struct p_create_table {
  const char *table_name; /* validated name */
  p_key_schema key;       /* validated key schema */
  json_t *meta;           /* new ref: everything DescribeTable echoes beyond the key
                             schema (AttributeDefinitions, BillingMode,
                             ProvisionedThroughput, TableId, index lists ...), kept by
                             the server as the table's opaque meta bytes (layout:
                             protocol/control.c) */
  p_index *indexes;       /* LocalSecondaryIndexes then GlobalSecondaryIndexes, in request
                             order (arena; all ACTIVE); NULL when none. The meta also
                             keeps the table's "KeySchema" (UpdateTable's definition
                             pruning needs it) */
  size_t n_indexes;       /* entries in indexes */
} p_create_table;

int p_parse_create_table(const json_t *body, const p_context *ctx, dv_arena *a,
                         p_create_table *out, p_error *err);
/* Adds "TableId" (lowercase UUID v4 made from 16 caller-supplied random
 * bytes; protocol/ does no I/O) to a parsed CreateTable's meta. Call it after
 * a successful p_parse_create_table, before storing the meta. */
void p_create_table_set_id(p_create_table *ct, const uint8_t rand16[16]);
/* The UUID v4 text of 16 random bytes (version and variant bits set). */
void p_table_id_format(const uint8_t rand16[16], char out[37]);
/* For DescribeTable / DeleteTable / DescribeTimeToLive ...: {"TableName"}. */
int p_parse_table_name(const json_t *body, dv_arena *a, const char **name, p_error *err);

typedef struct p_list_tables {
  const char *exclusive_start; /* NULL = from the start */
  int limit;                   /* 1..100, default 100 */
} p_list_tables;
int p_parse_list_tables(const json_t *body, dv_arena *a, p_list_tables *out, p_error *err);

/* TableDescription (operations.md 4.2): new ref. meta is what
 * p_parse_create_table produced (parsed back from the stored bytes).
 * stats[0..n_stats): live figures of the indexes by name (an index of meta
 * without an entry shows 0 items, 0 bytes). The index lists show
 * IndexName, KeySchema, Projection, IndexSizeBytes, ItemCount, IndexArn
 * (<TableArn>/index/<name>) and, for GSIs, IndexStatus, Backfilling (while
 * set) and ProvisionedThroughput (zeros on-demand). */
json_t *p_table_description(const p_context *ctx, const char *name, const p_key_schema *key,
                            const json_t *meta, double created, const char *status,
                            uint64_t item_count, uint64_t size_bytes, const p_index_stats *stats,
                            size_t n_stats);

/* Operations without input members (DescribeLimits, DescribeEndpoints): the
 * body must be a JSON object (else bare SerializationException); members are
 * ignored. */
int p_parse_no_input(const json_t *body, p_error *err);
/* {"AccountMaxReadCapacityUnits":80000, ...} (operations.md 4.6); new ref. */
json_t *p_describe_limits(void);
/* {"Endpoints":[{"Address":address,"CachePeriodInMinutes":1440}]}
 * (protocol.md 8; address = the request's Host header); new ref. */
json_t *p_describe_endpoints(const char *address);

/* ---- items --------------------------------------------------------------- */

/* The expression trees of protocol/expr.h, declared here by tag only
 * (expr.h includes this header). A request's trees are allocated from the
 * arena given to its parse function and borrow the converted
 * ExpressionAttributeValues stored there: they live as long as the arena. */
struct expr_node;
struct expr_update;
struct expr_projection;

/* Item requests: each parse function runs protocol.md 2.1 steps 8-10,
 * expressions included (expressions.md 9 and 11: mixing, EAN/EAV misuse,
 * EAN/EAV contents, UpdateExpression, ConditionExpression,
 * ProjectionExpression, unused EAN/EAV, legacy Expected / AttributeUpdates /
 * AttributesToGet converted into the same trees). Put/Update/Delete put
 * every such message in the "1 validation error detected: " envelope,
 * GetItem answers them bare (protocol.md 2.3). */

typedef struct p_put_item {
  const char *table_name;
  dv_value item;               /* DV_M */
  p_return_values rv;          /* NONE or ALL_OLD */
  p_rcc rcc;                   /* ReturnConsumedCapacity */
  int rvcf_all_old;            /* ReturnValuesOnConditionCheckFailure = ALL_OLD */
  int ricm_size;               /* ReturnItemCollectionMetrics = SIZE */
  struct expr_node *condition; /* ConditionExpression or Expected (+ConditionalOperator); NULL = none */
} p_put_item;

typedef struct p_get_item {
  const char *table_name;
  dv_value key;                /* DV_M */
  int consistent;              /* ConsistentRead */
  p_rcc rcc;
  const char **attrs_to_get;   /* AttributesToGet (legacy projection), NULL if absent */
  size_t n_attrs_to_get;
  struct expr_projection *projection; /* ProjectionExpression or AttributesToGet as paths; NULL = all */
} p_get_item;

typedef struct p_delete_item {
  const char *table_name;
  dv_value key;                /* DV_M */
  p_return_values rv;          /* NONE or ALL_OLD */
  p_rcc rcc;
  int rvcf_all_old;
  int ricm_size;               /* ReturnItemCollectionMetrics = SIZE */
  struct expr_node *condition; /* ConditionExpression or Expected (+ConditionalOperator); NULL = none */
} p_delete_item;

typedef struct p_update_item {
  const char *table_name;      /* validated name */
  dv_value key;                /* DV_M */
  struct expr_update *update;  /* UpdateExpression or AttributeUpdates (legacy actions); never NULL:
                                  n = 0 when the request has neither */
  struct expr_node *condition; /* ConditionExpression or Expected (+ConditionalOperator); NULL = none */
  p_return_values rv;          /* any of the five */
  p_rcc rcc;                   /* ReturnConsumedCapacity */
  int rvcf_all_old;            /* ReturnValuesOnConditionCheckFailure = ALL_OLD */
  int ricm_size;               /* ReturnItemCollectionMetrics = SIZE */
} p_update_item;

int p_parse_put_item(const json_t *body, dv_arena *a, p_put_item *out, p_error *err);
int p_parse_get_item(const json_t *body, dv_arena *a, p_get_item *out, p_error *err);
int p_parse_delete_item(const json_t *body, dv_arena *a, p_delete_item *out, p_error *err);
int p_parse_update_item(const json_t *body, dv_arena *a, p_update_item *out, p_error *err);

/* After the table lookup: PutItem's item against the key schema
 * ("Missing the key", "Type mismatch for key", empty key values, key sizes). */
int p_check_put_item(const p_key_schema *ks, const dv_value *item, p_error *err);
/* After the table lookup: a Key (Get/Delete/UpdateItem) against the schema
 * ("The provided key element does not match the schema", empty values, sizes). */
int p_check_key(const p_key_schema *ks, const dv_value *key, p_error *err);
/* After the table lookup, UpdateItem: p_check_key, then no action may write
 * a key attribute ("One or more parameter values were invalid: Cannot
 * update attribute pk. This attribute is part of the key"). Bare messages. */
int p_check_update_item(const p_key_schema *ks, const p_update_item *req, p_error *err);

/* Project an item on AttributesToGet (new item in a). */
dv_value p_project_attrs(const dv_value *item, const char **names, size_t n, dv_arena *a);

/* ConsumedCapacity object for one table (operations.md 3); NULL when
 * mode is NONE. */
json_t *p_consumed_capacity(const char *table, double units, p_rcc mode);
/* Capacity units by DynamoDB's rules. */
double p_read_units(size_t item_size, int found, int consistent);
double p_write_units(size_t new_size, size_t old_size, int old_found);

/* ---- batch (protocol/batch.c) --------------------------------------------- */

/* BatchWriteItem and BatchGetItem (operations.md 5.6-5.7). A parse function
 * runs steps 8-10 of protocol.md 2.1 over the whole request; the caller then
 * looks up every table (RNF for the whole call if one is missing or
 * CREATING) and runs the p_check_batch_*_table check of each table in
 * request order (step 12). All memory comes from the arena. */

#define P_BATCH_WRITE_MAX 25u             /* requests per BatchWriteItem call */
#define P_BATCH_GET_MAX 100u              /* keys per BatchGetItem call */
#define P_BATCH_GET_MAX_BYTES (16u << 20) /* response size past which keys go unprocessed */

typedef struct p_batch_write_req {
  int is_put;    /* 1: PutRequest, 0: DeleteRequest */
  dv_value item; /* DV_M: the item to put, or the key to delete */
} p_batch_write_req;

typedef struct p_batch_write_table {
  const char *table_name;  /* the RequestItems map key */
  p_batch_write_req *reqs; /* its requests, in request order */
  size_t n_reqs;           /* 1..25 */
} p_batch_write_table;

typedef struct p_batch_write {
  p_batch_write_table *tables; /* in request order */
  size_t n_tables;             /* 1..25 */
  size_t n_reqs;               /* requests over all tables, 1..25 */
  p_rcc rcc;                   /* ReturnConsumedCapacity */
  int ricm_size;               /* ReturnItemCollectionMetrics = SIZE */
} p_batch_write;

int p_parse_batch_write(const json_t *body, dv_arena *a, p_batch_write *out, p_error *err);
/* After the table lookups: each request's key against the table's schema
 * (a PutRequest item missing a key attribute or holding one of the wrong
 * type is "The provided key element does not match the schema", not
 * PutItem's messages), empty/oversize key values, then two requests on one
 * item (key values equal by value) -> "Provided list of item keys contains
 * duplicates". Request by request: the first problem answers. */
int p_check_batch_write_table(const p_key_schema *ks, const p_batch_write_table *t, p_error *err);

typedef struct p_batch_get_table {
  const char *table_name;    /* the RequestItems map key */
  dv_value *keys;            /* n_keys keys (DV_M), in request order, no duplicates */
  size_t n_keys;             /* 1..100 */
  int consistent;            /* ConsistentRead */
  int consistent_given;      /* ConsistentRead was sent (echoed in UnprocessedKeys) */
  const char **attrs_to_get; /* AttributesToGet (legacy projection), NULL if absent */
  size_t n_attrs_to_get;     /* names in attrs_to_get (duplicates rejected) */
  struct expr_projection *projection; /* ProjectionExpression or AttributesToGet as paths; NULL = all */
  const char *projection_text; /* ProjectionExpression as sent (for UnprocessedKeys), NULL if absent */
  const char **ean_keys;     /* ExpressionAttributeNames as sent: names ... */
  const char **ean_values;   /* ... and their values */
  size_t n_ean;              /* entries in ean_keys / ean_values */
} p_batch_get_table;

typedef struct p_batch_get {
  p_batch_get_table *tables; /* in request order */
  size_t n_tables;           /* 1..100 */
  size_t n_keys;             /* keys over all tables, 1..100 */
  p_rcc rcc;                 /* ReturnConsumedCapacity */
} p_batch_get;

int p_parse_batch_get(const json_t *body, dv_arena *a, p_batch_get *out, p_error *err);
/* After the table lookups: every key of the table against its schema
 * (p_check_key's messages). */
int p_check_batch_get_table(const p_key_schema *ks, const p_batch_get_table *t, p_error *err);
/* The UnprocessedKeys entry of a table for its keys [from, n_keys): Keys
 * plus the table's options as sent (AttributesToGet, ConsistentRead). New
 * reference. */
json_t *p_batch_get_unprocessed(const p_batch_get_table *t, size_t from);

/* ---- query/scan (protocol/query.c) --------------------------------------- */

/* Query and Scan (operations.md 5.3-5.5). p_parse_query / p_parse_scan run
 * steps 8-10 of protocol.md 2.1 (shapes, member constraints, semantics with
 * every expression and legacy condition parsed); the caller looks the table
 * up (RNF), then runs p_check_query / p_check_scan (step 12). Everything is
 * allocated from the arena. The trees are expr.h's (struct tags only here,
 * so this header does not need expr.h). */

#define P_QUERY_PAGE_BYTES 1048576u /* evaluated item bytes that end a page (the crossing item included) */

typedef enum p_select {
  P_SELECT_ALL = 0,       /* ALL_ATTRIBUTES (the default without a projection) */
  P_SELECT_PROJECTED = 1, /* ALL_PROJECTED_ATTRIBUTES (index only) */
  P_SELECT_SPECIFIC = 2,  /* SPECIFIC_ATTRIBUTES (implied by a projection) */
  P_SELECT_COUNT = 3      /* COUNT: counts only, no Items */
} p_select;

struct expr_node;
struct expr_projection;

typedef struct p_query {
  int scan;                                 /* 1: a Scan request, 0: a Query */
  const char *table_name;                   /* TableName */
  const char *index_name;                   /* IndexName, NULL if absent */
  p_select select;                          /* Select, or the default it implies */
  int select_given;                         /* 1: Select was in the request (on an index, no
                                               Select and no projection = ALL_PROJECTED) */
  uint32_t limit;                           /* Limit (items evaluated per page), 0 = none */
  int consistent;                           /* ConsistentRead */
  int forward;                              /* Query: ScanIndexForward (default 1); Scan: 1 */
  p_rcc rcc;                                /* ReturnConsumedCapacity */
  uint32_t segment;                         /* Scan: Segment (valid when total_segments > 0) */
  uint32_t total_segments;                  /* Scan: TotalSegments, 0 = not a parallel scan */
  dv_value esk;                             /* ExclusiveStartKey (DV_M), type DV_NONE if absent */
  const struct expr_node *key_cond;         /* Query: KeyConditionExpression / KeyConditions tree */
  const struct expr_node *filter;           /* FilterExpression / QueryFilter / ScanFilter, NULL = none */
  int legacy_filter;                        /* 1: filter came from QueryFilter / ScanFilter */
  const struct expr_projection *projection; /* ProjectionExpression / AttributesToGet, NULL = whole items */
} p_query;

/* What p_check_query resolved: the partition and the sort-key range, in the
 * terms of storage's st_iter_spec. */
typedef struct p_query_range {
  const dv_value *hash; /* the partition-key value (equality) */
  const dv_value *lo;   /* lowest sort key, NULL = unbounded */
  int lo_excl;          /* 1: lo itself excluded */
  const dv_value *hi;   /* highest sort key, NULL = unbounded */
  int hi_excl;          /* 1: hi itself excluded */
  int one_row;          /* 1: equality on every key attribute (at most one item, never resumed) */
} p_query_range;

int p_parse_query(const json_t *body, dv_arena *a, p_query *out, p_error *err);
int p_parse_scan(const json_t *body, dv_arena *a, p_query *out, p_error *err);
/* After the table lookup: IndexName resolved among the table's indexes
 * idx[0..nidx) ("The table does not have the specified index: X"; *which =
 * the index, NULL for the table), then for an index: ConsistentRead on a
 * GSI, a GSI still CREATING ("Cannot read from backfilling global secondary
 * index: X"), Select ALL_ATTRIBUTES on a GSI not projecting ALL, a
 * projection naming attributes a GSI does not project ("Global secondary
 * index X does not project [a]"); then key conditions vs the (index's)
 * schema, filter and projection on key attributes, ExclusiveStartKey
 * (schema: table keys plus index keys on an index; restartable, partition,
 * sort-key predicate). Fills *out (in the terms of the index when there is
 * one). q->select P_SELECT_ALL with an index means ALL_PROJECTED when the
 * request did not send Select (p_query.select_given 0). which may be NULL;
 * on an index out->one_row is always 0 (index keys are not unique) and
 * out's values are the index's keys.
 * 0 or -1 with err set. */
int p_check_query(const p_key_schema *ks, const p_index *idx, size_t nidx, const p_query *q, dv_arena *a,
                  p_query_range *out, const p_index **which, p_error *err);
/* After the table lookup: IndexName (as above, with the same index
 * checks), ExclusiveStartKey vs schema (table keys plus index keys on an
 * index: "The provided starting key is invalid"). */
int p_check_scan(const p_key_schema *ks, const p_index *idx, size_t nidx, const p_query *q,
                 const p_index **which, p_error *err);
/* An index read that must fetch the base item for each entry: an LSI asked
 * (Select ALL_ATTRIBUTES, a projection or a filter) for attributes it does
 * not project. 0 for GSIs and for the table (ix NULL). */
int p_index_needs_fetch(const p_key_schema *ks, const p_index *ix, const p_query *q);
/* LastEvaluatedKey of an index page: the table keys and the index keys of
 * entry (each once), a new DV_M in a. */
dv_value p_index_item_key(const p_key_schema *ks, const p_index *ix, const dv_value *entry, dv_arena *a);
/* ConsumedCapacity of a Query/Scan page on index ix (NULL: the table, as
 * p_consumed_capacity): TOTAL {TableName, CapacityUnits}; INDEXES adds
 * "Table":{"CapacityUnits":0} and the index's arm. NULL when mode is NONE. */
json_t *p_consumed_capacity_read(const char *table, const p_index *ix, double units, p_rcc mode);
/* The error for a parallel Scan whose ExclusiveStartKey lies in another
 * segment (the caller finds that out from the storage hash). Returns -1. */
int p_scan_segment_error(const p_query *q, p_error *err);
/* The key attributes of item (LastEvaluatedKey), a new DV_M in a. */
dv_value p_item_key(const p_key_schema *ks, const dv_value *item, dv_arena *a);

/* ---- direct JSON writing (protocol/json_write.c) -------------------------- */

/* Items straight to wire JSON text, for big answers (Scan and Query pages):
 * the text equals json_dumps(p_item_to_json(item), JSON_COMPACT) byte for
 * byte, some 30 times faster and without a jansson tree. */

/* A growable byte buffer (malloc'd; growth aborts on out-of-memory). */
typedef struct p_buf {
  char *data; /* bytes, NULL while empty */
  size_t len; /* bytes used */
  size_t cap; /* bytes allocated */
} p_buf;

void p_buf_init(p_buf *b);
/* Make room for more bytes after len. */
void p_buf_reserve(p_buf *b, size_t more);
void p_buf_append(p_buf *b, const void *p, size_t n);
void p_buf_puts(p_buf *b, const char *s);
/* The bytes, NUL-terminated (the NUL not counted in *len), as a malloc'd
 * block the caller frees; b is left empty. */
char *p_buf_steal(p_buf *b, size_t *len);
void p_buf_free(p_buf *b);
/* Append s[0..n) as a JSON string literal (jansson's default escaping). */
void p_write_json_string(p_buf *b, const char *s, size_t n);
/* Append the wire AttributeValue of v (as p_value_to_json prints). */
void p_write_value_json(p_buf *b, const dv_value *v);
/* Append the wire item (as p_item_to_json prints); "{}" if not a DV_M. */
void p_write_item_json(p_buf *b, const dv_value *item);

/* ---- UpdateTable and TTL (protocol/update_table.c) ------------------------- */

/* Table meta members for streams and TTL (the meta is the JSON object that
 * p_parse_create_table makes and the server stores with the table):
 *   "StreamSpecification"  {"StreamEnabled":true,"StreamViewType":V}, present
 *                          only while a stream is enabled (p_parse_create_table
 *                          keeps it only when StreamEnabled is true)
 *   "LatestStreamLabel"    label of the newest stream (set by the server,
 *                          stays after a disable)
 *   "LatestStreamArn"      its ARN (set by the server)
 *   "TimeToLive"           {"AttributeName":A}, present only while TTL is enabled
 * p_table_description shows the first three as DynamoDB does (operations.md,
 * streams-ttl.md 1.1). */

/* StreamViewType enum, as stored in meta and in stream records. */
typedef enum p_view {
  P_VIEW_NONE = 0, P_VIEW_KEYS_ONLY, P_VIEW_NEW_IMAGE, P_VIEW_OLD_IMAGE, P_VIEW_NEW_AND_OLD_IMAGES
} p_view;
/* "KEYS_ONLY" ... ; NULL for P_VIEW_NONE. */
const char *p_view_name(p_view v);
/* Parse a view-type name; P_VIEW_NONE if unknown / NULL. */
p_view p_view_from_name(const char *s);

typedef struct p_update_table {
  const char *table_name;
  int has_stream;          /* StreamSpecification present */
  int stream_enabled;      /* its StreamEnabled */
  p_view stream_view;      /* its StreamViewType, P_VIEW_NONE if absent */
  json_t *changes;         /* new ref: the other accepted members as sent (BillingMode,
                              ProvisionedThroughput, DeletionProtectionEnabled, TableClass,
                              SSESpecification, OnDemandThroughput, WarmThroughput,
                              AttributeDefinitions, GlobalSecondaryIndexUpdates -- the
                              latter read by p_check_update_table); an empty object when
                              none */
  int has_gsi_updates;     /* GlobalSecondaryIndexUpdates present */
  const char *gsi_create;  /* the name of the GSI a Create entry adds, NULL if none */
  const char *gsi_delete;  /* the name of the GSI a Delete entry drops, NULL if none */
  int has_replica_updates; /* ReplicaUpdates present (not supported) */
} p_update_table;

/* UpdateTable steps 8-10: shapes, constraints, enums, and the checks that
 * need no table (UpdateViewType messages, "You cannot modify stream status
 * while updating table IOPS", "... must be the only operation in the
 * request", "At least one of ProvisionedThroughput, BillingMode,
 * UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or
 * ReplicaUpdates is required" when nothing is asked). */
int p_parse_update_table(const json_t *body, dv_arena *a, p_update_table *out, p_error *err);
/* After the table lookup: the checks against the table's current meta
 * ("Table already has an enabled stream: TableName: X", "Table has no
 * stream to disable: TableName: X", billing-mode / throughput rules, the
 * GlobalSecondaryIndexUpdates rules of operations.md 4.5: a Create whose
 * name exists, whose key attributes lack definitions, while another GSI is
 * CREATING (LimitExceeded), the 20-GSI limit; a Delete or Update of an
 * unknown GSI (ResourceNotFound); index + stream change), then *new_meta =
 * a copy of meta with the changes applied (new ref). Stream members: on
 * enable it sets StreamSpecification (the caller adds LatestStreamArn/Label);
 * on disable it removes StreamSpecification and keeps LatestStreamArn/Label.
 * A GSI Create appends the index to GlobalSecondaryIndexes with IndexStatus
 * CREATING (the caller fills it and then sets ACTIVE with
 * p_meta_set_index_status) and merges AttributeDefinitions; a Delete removes
 * it and prunes definitions no key uses any more; an Update sets its
 * ProvisionedThroughput. 0 or -1 with err set. */
int p_check_update_table(const json_t *meta, const p_update_table *req, json_t **new_meta, p_error *err);

typedef struct p_update_ttl {
  const char *table_name;
  int enabled;             /* TimeToLiveSpecification.Enabled */
  const char *attribute;   /* TimeToLiveSpecification.AttributeName */
} p_update_ttl;

/* UpdateTimeToLive steps 8-10 (streams-ttl.md 7.1 row group 1). */
int p_parse_update_ttl(const json_t *body, dv_arena *a, p_update_ttl *out, p_error *err);
/* The state checks of streams-ttl.md 7.1 (#3: already enabled, different
 * AttributeName, already disabled) against meta; on success *new_meta is a
 * copy of meta with "TimeToLive" set or removed (new ref). The cooldown
 * (#4) is the server's. */
int p_check_update_ttl(const json_t *meta, const p_update_ttl *req, json_t **new_meta, p_error *err);
/* {"TimeToLiveSpecification":{"Enabled":..,"AttributeName":..}} (new ref). */
json_t *p_update_ttl_response(const p_update_ttl *req);
/* {"TimeToLiveDescription":{...}} from meta (new ref). */
json_t *p_describe_ttl(const json_t *meta);

/* ---- DynamoDB Streams (protocol/streams.c) ---------------------------------- */

/* Requests of the DynamoDBStreams_20120810 operations (streams-ttl.md 5):
 * shapes, constraints and enums checked with DynamoDB's messages; strings
 * from the arena. */

typedef struct p_list_streams {
  const char *table_name;        /* TableName filter, NULL = all */
  int limit;                     /* 1..100, default 100 */
  const char *exclusive_start;   /* ExclusiveStartStreamArn, NULL if absent (well-formed ARN) */
} p_list_streams;

typedef struct p_describe_stream {
  const char *arn;               /* StreamArn (well-formed, see p_stream_arn_parse) */
  int limit;                     /* 1..100, default 100 */
  const char *exclusive_start_shard; /* ExclusiveStartShardId, NULL if absent */
  const char *filter_parent;     /* ShardFilter {Type: CHILD_SHARDS, ShardId}: the ShardId, NULL if absent */
} p_describe_stream;

typedef enum p_iter_type {
  P_ITER_TRIM_HORIZON = 1, P_ITER_LATEST, P_ITER_AT_SEQUENCE_NUMBER, P_ITER_AFTER_SEQUENCE_NUMBER
} p_iter_type;

typedef struct p_get_shard_iterator {
  const char *arn;               /* StreamArn (well-formed) */
  const char *shard_id;          /* ShardId */
  p_iter_type type;              /* ShardIteratorType */
  int has_seq;                   /* SequenceNumber given (required exactly for AT/AFTER) */
  uint64_t seq;                  /* its value (21..40 digits; a value above 2^64-1 is
                                    UINT64_MAX: no such record here) */
} p_get_shard_iterator;

typedef struct p_get_records {
  const char *iterator;          /* ShardIterator as sent (decode with p_iterator_parse) */
  int limit;                     /* 1..1000, default 1000 */
} p_get_records;

int p_parse_list_streams(const json_t *body, dv_arena *a, p_list_streams *out, p_error *err);
int p_parse_describe_stream(const json_t *body, dv_arena *a, p_describe_stream *out, p_error *err);
int p_parse_get_shard_iterator(const json_t *body, dv_arena *a, p_get_shard_iterator *out, p_error *err);
int p_parse_get_records(const json_t *body, dv_arena *a, p_get_records *out, p_error *err);

/* A stream ARN "arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>".
 * Returns 0 and the table name and label (arena strings) for a well-formed
 * ARN, -1 for anything else (the caller words the error). */
int p_stream_arn_parse(const char *arn, dv_arena *a, const char **table, const char **label);
/* The ARN of a stream (malloc'd). */
char *p_stream_arn(const p_context *ctx, const char *table, const char *label);
/* "YYYY-MM-DDTHH:MM:SS.mmm" (UTC) of epoch milliseconds; out holds 24 bytes. */
void p_stream_label(int64_t ms, char out[24]);
/* Sequence number text: at least 21 digits, zero-padded ("%021"). out holds 24. */
void p_seq_format(uint64_t seq, char out[24]);

/* A shard iterator: "<StreamArn>|1|<base64 blob>" where the blob holds the
 * position (the sequence number to read from), the shard id, the issue
 * time and a checksum, so that garbage is recognised. */
typedef struct p_iterator {
  const char *arn;      /* the stream's ARN (arena) */
  const char *shard_id; /* the shard (arena) */
  uint64_t position;    /* next sequence number to return (records with seq >= it) */
  int64_t issued_ms;    /* when it was issued, epoch ms */
} p_iterator;
/* Malloc'd iterator text (<= 2048 chars for ARNs the server makes). */
char *p_iterator_format(const p_iterator *it);
/* Decode; -1 with a ValidationException in err for anything malformed
 * (the message: "Invalid ShardIterator"). */
int p_iterator_parse(const char *text, dv_arena *a, p_iterator *out, p_error *err);

/* One stream record (streams-ttl.md 4). */
typedef struct p_stream_record {
  const char *event_id;      /* 32 lowercase hex characters */
  int kind;                  /* 1 INSERT, 2 MODIFY, 3 REMOVE (st_event_kind's values) */
  int ttl;                   /* 1: a TTL deletion (userIdentity) */
  const char *region;        /* awsRegion */
  int64_t time_ms;           /* ApproximateCreationDateTime = time_ms / 1000 (whole seconds) */
  const dv_value *keys;      /* DV_M */
  const dv_value *old_image; /* DV_M or NULL/DV_NONE: absent */
  const dv_value *new_image; /* DV_M or NULL/DV_NONE: absent */
  uint64_t seq;              /* SequenceNumber (p_seq_format) */
  uint64_t size_bytes;       /* SizeBytes */
  p_view view;               /* StreamViewType */
} p_stream_record;
/* Append the record's JSON (one line, no newline; member order as in
 * streams-ttl.md 4's example) to b. */
void p_write_stream_record(p_buf *b, const p_stream_record *r);

/* ---- plain JSON, the /v1/ face (protocol/plain.c) ------------------------ */

/* Items as plain JSON objects (docs/REST.md): string -> S, number -> N,
 * true/false -> BOOL, null -> NULL, object -> M, array -> L, and one-member
 * objects for the rest:
 *   {"$b": "<base64>"}            B
 *   {"$ss": ["a", ...]}           SS
 *   {"$ns": [1, "2.5", ...]}      NS (members as numbers or as decimal strings)
 *   {"$bs": ["<base64>", ...]}    BS
 *   {"$n": "<decimal text>"}      N given exactly (any of DynamoDB's 38 digits:
 *                                 a JSON number is read through a double, so
 *                                 only its first 15 significant digits are
 *                                 exact; see docs/REST.md)
 *   {"$m": {...}}                 M whose own single key starts with "$"
 * Output is the same notation; an N is written as a JSON number literal with
 * its exact canonical digits (a client that parses numbers as decimals gets
 * them exactly), NS members likewise.
 * Input runs the same checks as the DynamoDB face (numbers: range and
 * precision; sets: non-empty, unique; nesting depth 32; empty keys), with
 * the DynamoDB face's messages; the caller maps a p_error to a REST error. */

/* Request text with every number literal that jansson would not keep
 * exactly (more than 15 significant digits, or an integer past int64)
 * rewritten as {"$n":"<the literal>"}, so that plain JSON numbers are exact
 * to DynamoDB's 38 digits whatever the client sends. Returns a malloc'd
 * copy (*out_len its length), or NULL when nothing needed rewriting (use
 * the text as it is). Strings are left alone; malformed JSON stays
 * malformed. */
char *p_plain_exact_numbers(const char *text, size_t len, size_t *out_len);
/* Plain JSON value -> dv_value (depth as p_value_from_json). */
int p_plain_value(const json_t *j, int depth, dv_arena *a, dv_value *out, p_error *err);
/* Plain JSON object -> DV_M item. */
int p_plain_item(const json_t *j, dv_arena *a, dv_value *out, p_error *err);
/* Append the plain JSON of a value / an item (DV_M) to b. */
void p_write_plain_value(p_buf *b, const dv_value *v);
void p_write_plain_item(p_buf *b, const dv_value *item);
/* A key attribute from a URL path segment (already percent-decoded): S as
 * is, N parsed (canonical), B from base64url or base64. -1 with a
 * ValidationException message if it does not fit the type. */
int p_plain_key_segment(const char *seg, size_t len, dv_type type, dv_arena *a, dv_value *out, p_error *err);
/* RFC 7396 JSON merge patch of an item: old (DV_M, or NULL for none) with
 * patch (a JSON object in plain notation: a member set to null removes the
 * attribute, an object member merges into a map attribute recursively, any
 * other value replaces) -> *out (a new DV_M in a). The key attributes of ks
 * may not be changed by the patch (-1 with "Cannot update attribute <k>.
 * This attribute is part of the key"). */
int p_plain_merge_patch(const dv_value *old, const json_t *patch, const p_key_schema *ks, dv_arena *a,
                        dv_value *out, p_error *err);
/* The same record as p_write_stream_record with images in plain notation
 * (SSE format=plain). */
void p_write_stream_record_plain(p_buf *b, const p_stream_record *r);

#endif /* DF_PROTOCOL_H */
