/*
 * fuzz_request.c -- libFuzzer target for the request JSON layer
 * (protocol/protocol.h): request bodies through the p_parse_* functions,
 * AttributeValues and items through p_value_from_json / p_item_from_json,
 * and everything accepted back out through the renderers.
 *
 * Input layout (make_seeds.py writes it; any bytes are accepted):
 *
 *   byte 0   operation = byte % 15:
 *              0 PutItem     4 ListTables          8 BatchGetItem   12 UpdateItem
 *              1 GetItem     5 table name          9 Value          13 Query
 *              2 DeleteItem  6 p_parse_no_input   10 Item           14 Scan
 *              3 CreateTable 7 BatchWriteItem     11 X-Amz-Target text
 *            (Value = p_value_from_json, Item = p_item_from_json)
 *            flags = byte / 15: bit 0 older value layer (Value / Item),
 *            bit 1 the second table instead (operation % 9):
 *              0 UpdateTable       3 DescribeStream     6 shard iterator text
 *              1 UpdateTimeToLive  4 GetShardIterator   7 stream ARN text
 *              2 ListStreams       5 GetRecords         8 stream record of an item
 *            bit 2 the plain JSON table of the /v1/ face (protocol/plain.c),
 *            before the other bits (operation % 4; bytes 60..63 select it):
 *              0 plain value   1 plain item   2 merge patch   3 key segment
 *   rest     the request body, loaded as server/http.c does (p_json_parse, i.e. json_loadb with
 *            JSON_ALLOW_NUL; operations need a JSON object, Value / Item
 *            take any JSON value); the iterator and ARN texts are the raw
 *            bytes (cut at a NUL), the stream record's item is JSON; plain:
 *            a JSON value / item, a merge patch as the array [old item,
 *            patch], a key segment as the raw bytes (tried as S, N and B)
 *
 * After a successful parse the target runs the post-lookup checks against
 * a (pk S, sk N) schema and a hash-only one, and against an indexed table
 * (an LSI, an INCLUDE GSI and a CREATING GSI: the index key checks of
 * Put/Update/BatchWrite, Query/Scan's IndexName resolution, needs_fetch,
 * index LastEvaluatedKeys, index write units and ConsumedCapacity), renders every item or key back
 * to wire JSON and reads it again (it must come back equal), evaluates the
 * request's condition / filter on its own item or key, applies UpdateItem's
 * update to its key (an upsert) and to the key plus the update's own SET
 * values, projects on AttributesToGet / ProjectionExpression, builds the TableDescription from a CreateTable's meta
 * after the meta's storage round trip (json_dumps, then json_loadb as
 * server/handlers.c reads it back; its indexes must read back as
 * CreateTable made them), and renders the UnprocessedKeys of
 * BatchGetItem. The second table: UpdateTable and UpdateTimeToLive run
 * their state checks against four table metas (one with indexes; a new
 * meta's indexes must read back, a GSI Create's as CREATING) and render the new meta
 * (TableDescription, DescribeTimeToLive); an accepted GetShardIterator
 * becomes an iterator that must parse back to the same fields; GetRecords'
 * iterator and raw texts go through p_iterator_parse / p_stream_arn_parse
 * (refused with "Invalid ShardIterator", never a crash); an item becomes
 * the keys and images of a stream record whose text must be JSON. The
 * plain table: whatever p_plain_value / p_plain_item accepts is written
 * with p_write_plain_* and read again: every number literal holds its exact
 * digits, values whose numbers have at most 15 significant digits come back
 * equal, and a second round trip is a fixed point (same value, same text);
 * the item also goes through the schema checks and a plain stream record.
 * A merge patch result is a sorted map that writes and reads back, keeps
 * the key attributes, and applying the same patch again changes nothing
 * (RFC 7396 patches are idempotent). Accepted key segments give back what
 * they hold when fed their own canonical text. Errors are rendered with
 * p_error_body. Invariants broken abort (fuzz.h).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/expr.h"
#include "protocol/expr_eval.h"
#include "protocol/protocol.h"
#include "tests/fuzz/fuzz.h"

#define FZ_OPS 15u

static const p_context k_ctx = {"us-east-1", "123456789012"};
static const p_key_schema k_ks_range = {"pk", DV_S, "sk", DV_N};
static const p_key_schema k_ks_hash = {"pk", DV_S, NULL, DV_NONE};
static const p_key_schema *const k_schemas[2] = {&k_ks_range, &k_ks_hash};

/* The indexed table's indexes (on k_ks_range), as k_metas[3] stores them;
 * the same as the index case files' table (tests/protocol/cases/query_index
 * etc.), so that their seeds name real indexes. */
static const char *k_lsk2_include[] = {"x", "y"};
static const char *k_byg_include[] = {"a", "b"};
static const p_index k_idx[6] = {
    {"byLsk", 0, {"pk", DV_S, "lsk", DV_S}, P_PROJ_KEYS_ONLY, NULL, 0, 0},
    {"byLsk2", 0, {"pk", DV_S, "lsk2", DV_N}, P_PROJ_INCLUDE, k_lsk2_include, 2, 0},
    {"byG", 1, {"g", DV_S, "gr", DV_N}, P_PROJ_INCLUDE, k_byg_include, 2, 0},
    {"byG2", 1, {"g2", DV_B, NULL, DV_NONE}, P_PROJ_ALL, NULL, 0, 0},
    {"byGKeys", 1, {"g", DV_S, NULL, DV_NONE}, P_PROJ_KEYS_ONLY, NULL, 0, 0},
    {"building", 1, {"gb", DV_N, NULL, DV_NONE}, P_PROJ_ALL, NULL, 0, 1},
};
#define K_NIDX 6u

/* Index write units and the ConsumedCapacity of a write of new over old. */
static void index_units(const dv_value *old_item, const dv_value *new_item) {
  double u[K_NIDX];
  for (size_t i = 0; i < K_NIDX; i++) {
    u[i] = p_index_write_units(&k_ks_range, &k_idx[i], old_item, new_item);
    FZ_ASSERT(u[i] >= 0.0 && u[i] <= 1000.0, "index write units %g", u[i]);
  }
  json_t *c = p_consumed_capacity_indexed("t", 1.0, k_idx, u, K_NIDX, P_RCC_INDEXES);
  FZ_ASSERT(c, "no indexed ConsumedCapacity");
  json_decref(c);
}

/* A value / item accepted from the wire renders back to JSON that is
 * accepted again and gives the same value. */
static void check_value_roundtrip(const dv_value *v, int is_item, p_layer layer) {
  json_t *j = is_item ? p_item_to_json(v) : p_value_to_json(v);
  FZ_ASSERT(j, "rendering failed");
  dv_arena *a = dv_arena_new();
  dv_value back;
  p_error e;
  p_error_init(&e);
  int rc = is_item ? p_item_from_json(j, layer, a, &back, &e) : p_value_from_json(j, 1, layer, a, &back, &e);
  if (rc != 0) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    FZ_DIE("rendered %s rejected (%s): %.2000s", is_item ? "item" : "value", e.msg ? e.msg : "", s ? s : "?");
  }
  if (!dv_equal(v, &back)) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    FZ_DIE("%s changed by a JSON round trip: %.2000s", is_item ? "item" : "value", s ? s : "?");
  }
  FZ_ASSERT(dv_value_size(v) == dv_value_size(&back), "size changed by a round trip");
  p_error_clear(&e);
  dv_arena_free(a);
  json_decref(j);
}

/* The checks a handler runs after the table lookup; they may fail, but
 * must say why. */
static void check_item_against_schemas(const dv_value *item, int is_put) {
  for (int i = 0; i < 2; i++) {
    p_error e;
    p_error_init(&e);
    int rc = is_put ? p_check_put_item(k_schemas[i], item, &e) : p_check_key(k_schemas[i], item, &e);
    if (rc != 0) FZ_ASSERT(e.code != P_OK && e.msg, "schema check failed without a message");
    if (rc == 0 && is_put && i == 0 && p_check_index_keys(k_idx, K_NIDX, item, &e) != 0)
      FZ_ASSERT(e.code == P_VALIDATION && e.msg, "index key check failed without a message");
    p_error_clear(&e);
  }
  if (is_put) {
    index_units(NULL, item);
    index_units(item, item);
    index_units(item, NULL);
  }
}

/* A parsed condition (NULL = none) evaluated on an item and on no item. */
static void eval_condition(const expr_node *cond, const dv_value *item) {
  p_error e;
  p_error_init(&e);
  int r = -1;
  if (expr_eval_condition(cond, item, &r, &e) == 0) FZ_ASSERT(r == 0 || r == 1, "condition result %d", r);
  p_error_clear(&e);
  r = -1;
  if (expr_eval_condition(cond, NULL, &r, &e) == 0) FZ_ASSERT(r == 0 || r == 1, "condition result %d", r);
  p_error_clear(&e);
}

static void use_put(const p_put_item *r) {
  FZ_ASSERT(r->table_name, "PutItem without a table name");
  check_value_roundtrip(&r->item, 1, P_LAYER_CURRENT);
  check_item_against_schemas(&r->item, 1);
  eval_condition(r->condition, &r->item);
  size_t sz = dv_item_size(&r->item);
  (void)p_write_units(sz, sz / 2, 1);
  json_t *cc = p_consumed_capacity(r->table_name, 1.0, r->rcc);
  json_decref(cc);
}

static void use_get(const p_get_item *r, dv_arena *a) {
  FZ_ASSERT(r->table_name, "GetItem without a table name");
  check_value_roundtrip(&r->key, 1, P_LAYER_CURRENT);
  check_item_against_schemas(&r->key, 0);
  if (r->attrs_to_get) {
    dv_value pr = p_project_attrs(&r->key, r->attrs_to_get, r->n_attrs_to_get, a);
    FZ_ASSERT(pr.type == DV_M, "p_project_attrs gave type %d", (int)pr.type);
    check_value_roundtrip(&pr, 1, P_LAYER_CURRENT);
  }
  if (r->projection) {
    dv_value pr = expr_project(&r->key, r->projection->paths, r->projection->n, a);
    FZ_ASSERT(pr.type == DV_M, "expr_project gave type %d", (int)pr.type);
    check_value_roundtrip(&pr, 1, P_LAYER_CURRENT);
  }
  (void)p_read_units(dv_item_size(&r->key), 1, r->consistent);
}

static void use_delete(const p_delete_item *r) {
  FZ_ASSERT(r->table_name, "DeleteItem without a table name");
  check_value_roundtrip(&r->key, 1, P_LAYER_CURRENT);
  check_item_against_schemas(&r->key, 0);
  eval_condition(r->condition, &r->key);
}

/* Applies UpdateItem's update to old (NULL = upsert) with its key. */
static void apply_update(const p_update_item *r, const dv_value *old, const p_key_schema *ks, dv_arena *a) {
  p_error e;
  p_error_init(&e);
  dv_value nu;
  expr_changes ch;
  memset(&ch, 0, sizeof ch);
  if (expr_apply_update(r->update, old, &r->key, ks, 0, a, &nu, &ch, &e) == 0) {
    check_value_roundtrip(&nu, 1, P_LAYER_CURRENT);
    p_error ie;
    p_error_init(&ie);
    if (p_check_updated_index_keys(k_idx, K_NIDX, old, &nu, &ie) != 0) FZ_ASSERT(ie.msg, "updated index keys: no message");
    p_error_clear(&ie);
    index_units(old, &nu);
    dv_value o, n;
    expr_updated_values(&ch, EXPR_UPDATED_OLD, a, &o);
    check_value_roundtrip(&o, 1, P_LAYER_CURRENT);
    expr_updated_values(&ch, EXPR_UPDATED_NEW, a, &n);
    check_value_roundtrip(&n, 1, P_LAYER_CURRENT);
  } else {
    FZ_ASSERT(e.msg, "update failed without a message");
  }
  p_error_clear(&e);
}

static void use_update(const p_update_item *r, dv_arena *a) {
  FZ_ASSERT(r->table_name && r->update, "UpdateItem result incomplete");
  check_value_roundtrip(&r->key, 1, P_LAYER_CURRENT);
  for (int i = 0; i < 2; i++) {
    p_error e;
    p_error_init(&e);
    if (p_check_update_item(k_schemas[i], r, &e) != 0) FZ_ASSERT(e.msg, "update check without a message");
    else if (i == 0 && p_check_update_index(k_idx, K_NIDX, r, &e) != 0)
      FZ_ASSERT(e.msg, "update index check without a message");
    p_error_clear(&e);
  }
  eval_condition(r->condition, &r->key);
  if (r->update->n == 0) return;
  /* Applied twice: as an upsert, then on the item that upsert made (paths
   * that the first pass created now exist, so the second goes deeper). */
  p_error e;
  p_error_init(&e);
  dv_value first;
  if (expr_apply_update(r->update, NULL, &r->key, NULL, 0, a, &first, NULL, &e) == 0) {
    apply_update(r, &first, NULL, a);
    apply_update(r, &first, &k_ks_range, a);
  }
  p_error_clear(&e);
  apply_update(r, NULL, &k_ks_hash, a);
}

static void use_query(const p_query *q, dv_arena *a) {
  FZ_ASSERT(q->table_name, "Query/Scan without a table name");
  for (int i = 0; i < 3; i++) {
    /* 0: (pk, sk) with indexes, 1: (pk, sk) without, 2: hash-only */
    const p_key_schema *ks = k_schemas[i == 2];
    const p_index *idx = i == 0 ? k_idx : NULL;
    size_t nidx = i == 0 ? K_NIDX : 0;
    const p_index *which = NULL;
    p_error e;
    p_error_init(&e);
    int rc;
    if (q->scan) {
      rc = p_check_scan(ks, idx, nidx, q, &which, &e);
      if (rc != 0) FZ_ASSERT(e.msg, "scan check without a message");
    } else {
      p_query_range qr;
      memset(&qr, 0, sizeof qr);
      rc = p_check_query(ks, idx, nidx, q, a, &qr, &which, &e);
      if (rc == 0)
        FZ_ASSERT(qr.hash != NULL && (!which || !qr.one_row), "query range without a partition key");
      else
        FZ_ASSERT(e.msg, "query check without a message");
    }
    if (rc == 0) {
      FZ_ASSERT(!q->index_name == !which, "IndexName resolved wrongly");
      FZ_ASSERT(!which || !which->creating, "a CREATING index was read");
      int f = p_index_needs_fetch(ks, which, q);
      FZ_ASSERT(f == 0 || (which && !which->global), "needs_fetch on a GSI or the table");
      json_decref(p_consumed_capacity_read(q->table_name, which, 1.5, q->rcc));
      if (which && q->esk.type == DV_M) {
        dv_value k = p_index_item_key(ks, which, &q->esk, a);
        FZ_ASSERT(k.type == DV_M && k.n == q->esk.n, "index key of an accepted ExclusiveStartKey");
      }
    } else {
      FZ_ASSERT(which == NULL, "failed check resolved an index");
    }
    p_error_clear(&e);
    if (q->esk.type == DV_M) {
      dv_value k = p_item_key(ks, &q->esk, a);
      FZ_ASSERT(k.type == DV_M, "p_item_key gave type %d", (int)k.type);
    }
  }
  if (q->esk.type == DV_M) {
    check_value_roundtrip(&q->esk, 1, P_LAYER_CURRENT);
    eval_condition(q->filter, &q->esk);
    eval_condition(q->key_cond, &q->esk);
    if (q->projection) {
      dv_value pr = expr_project(&q->esk, q->projection->paths, q->projection->n, a);
      check_value_roundtrip(&pr, 1, P_LAYER_CURRENT);
    }
  }
}

static void use_create(p_create_table *ct) {
  FZ_ASSERT(ct->table_name && ct->key.hash_name && ct->meta, "CreateTable result incomplete");
  static const uint8_t rand16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  p_create_table_set_id(ct, rand16);
  /* What server/handlers.c stores and reads back for DescribeTable. */
  char *bytes = json_dumps(ct->meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
  FZ_ASSERT(bytes, "meta does not serialise");
  json_error_t je;
  json_t *meta = json_loadb(bytes, strlen(bytes), JSON_ALLOW_NUL, &je); /* as handlers.c loads it */
  FZ_ASSERT(meta, "stored meta does not load back (%s): %.2000s", je.text, bytes);
  /* The indexes read back from the stored meta are CreateTable's. */
  dv_arena *a = dv_arena_new();
  p_index *back = NULL;
  size_t nb = 0;
  FZ_ASSERT(p_table_indexes(meta, a, &back, &nb) == 0, "CreateTable's meta indexes unreadable");
  FZ_ASSERT(nb == ct->n_indexes, "%zu indexes read back, %zu made", nb, ct->n_indexes);
  p_index_stats st[2];
  for (size_t i = 0; i < nb; i++) {
    FZ_ASSERT(!strcmp(back[i].name, ct->indexes[i].name) && back[i].global == ct->indexes[i].global &&
                  back[i].projection == ct->indexes[i].projection && back[i].n_include == ct->indexes[i].n_include &&
                  !back[i].creating,
              "index %zu changed by the meta round trip", i);
    if (i < 2) st[i] = (p_index_stats){back[i].name, i + 1, 100 * i};
  }
  json_t *d = p_table_description(&k_ctx, ct->table_name, &ct->key, meta, 1700000000.123, "ACTIVE", 3, 300, st,
                                  nb < 2 ? nb : 2);
  dv_arena_free(a);
  FZ_ASSERT(d && json_is_object(d), "no TableDescription");
  char *s = json_dumps(d, JSON_COMPACT);
  FZ_ASSERT(s, "TableDescription does not serialise");
  free(s);
  json_decref(d);
  json_decref(meta);
  free(bytes);
}

static void use_batch_write(const p_batch_write *r) {
  FZ_ASSERT(r->n_tables >= 1 && r->n_reqs >= 1 && r->n_reqs <= P_BATCH_WRITE_MAX, "BatchWriteItem counts");
  size_t total = 0;
  for (size_t i = 0; i < r->n_tables; i++) {
    const p_batch_write_table *t = &r->tables[i];
    total += t->n_reqs;
    for (size_t k = 0; k < t->n_reqs; k++) check_value_roundtrip(&t->reqs[k].item, 1, P_LAYER_CURRENT);
    for (int s = 0; s < 2; s++) {
      p_error e;
      p_error_init(&e);
      if (p_check_batch_write_table(k_schemas[s], t, &e) != 0) FZ_ASSERT(e.msg, "batch write check: no message");
      p_error_clear(&e);
    }
  }
  FZ_ASSERT(total == r->n_reqs, "BatchWriteItem: %zu requests counted, %zu in tables", r->n_reqs, total);
}

static void use_batch_get(const p_batch_get *r) {
  FZ_ASSERT(r->n_tables >= 1 && r->n_keys >= 1 && r->n_keys <= P_BATCH_GET_MAX, "BatchGetItem counts");
  size_t total = 0;
  for (size_t i = 0; i < r->n_tables; i++) {
    const p_batch_get_table *t = &r->tables[i];
    total += t->n_keys;
    for (size_t k = 0; k < t->n_keys; k++) check_value_roundtrip(&t->keys[k], 1, P_LAYER_CURRENT);
    for (int s = 0; s < 2; s++) {
      p_error e;
      p_error_init(&e);
      if (p_check_batch_get_table(k_schemas[s], t, &e) != 0) FZ_ASSERT(e.msg, "batch get check: no message");
      p_error_clear(&e);
    }
    json_t *u0 = p_batch_get_unprocessed(t, 0), *u1 = p_batch_get_unprocessed(t, t->n_keys / 2);
    FZ_ASSERT(u0 && u1, "UnprocessedKeys entry missing");
    json_decref(u0);
    json_decref(u1);
  }
  FZ_ASSERT(total == r->n_keys, "BatchGetItem: %zu keys counted, %zu in tables", r->n_keys, total);
}

/* ---- the second table: UpdateTable, TTL, Streams ---------------------------------------- */

#define K_NMETAS 4
static const char *const k_metas[K_NMETAS] = {
    "{\"BillingMode\":\"PROVISIONED\",\"ProvisionedThroughput\":{\"ReadCapacityUnits\":5,"
    "\"WriteCapacityUnits\":5}}",
    ("{\"BillingMode\":\"PAY_PER_REQUEST\",\"StreamSpecification\":{\"StreamEnabled\":true,"
     "\"StreamViewType\":"
     "\"KEYS_ONLY\"},\"LatestStreamArn\":\"a\",\"LatestStreamLabel\":\"l\",\"TimeToLive\":{\"AttributeName\":"
     "\"exp\"}}"),
    "{}",
    /* the indexed table of k_idx, on-demand */
    "{\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},{\"AttributeName\":\"s"
    "k\",\"AttributeType\":\"N\"},{\"AttributeName\":\"lsk\",\"AttributeType\":\"S\"},{\"AttributeName\":"
    "\"lsk2\",\"AttributeType\":\"N\"},{\"AttributeName\":\"g\",\"AttributeType\":\"S\"},{\"AttributeName"
    "\":\"gr\",\"AttributeType\":\"N\"},{\"AttributeName\":\"g2\",\"AttributeType\":\"B\"},{\"AttributeNa"
    "me\":\"gb\",\"AttributeType\":\"N\"}],\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}"
    ",{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}],\"BillingMode\":\"PAY_PER_REQUEST\",\"LocalSecond"
    "aryIndexes\":[{\"IndexName\":\"byLsk\",\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\""
    "},{\"AttributeName\":\"lsk\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\""
    "}},{\"IndexName\":\"byLsk2\",\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},{\"Attri"
    "buteName\":\"lsk2\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":\"INCLUDE\",\"NonKeyA"
    "ttributes\":[\"x\",\"y\"]}}],\"GlobalSecondaryIndexes\":[{\"IndexName\":\"byG\",\"KeySchema\":[{\"At"
    "tributeName\":\"g\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"gr\",\"KeyType\":\"RANGE\"}],\"Projec"
    "tion\":{\"ProjectionType\":\"INCLUDE\",\"NonKeyAttributes\":[\"a\",\"b\"]},\"IndexStatus\":\"ACTIVE\""
    "},{\"IndexName\":\"byG2\",\"KeySchema\":[{\"AttributeName\":\"g2\",\"KeyType\":\"HASH\"}],\"Projecti"
    "on\":{\"ProjectionType\":\"ALL\"},\"IndexStatus\":\"ACTIVE\"},{\"IndexName\":\"byGKeys\",\"KeySchema"
    "\":[{\"AttributeName\":\"g\",\"KeyType\":\"HASH\"}],\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\""
    "},\"IndexStatus\":\"ACTIVE\"},{\"IndexName\":\"building\",\"KeySchema\":[{\"AttributeName\":\"gb\",\""
    "KeyType\":\"HASH\"}],\"Projection\":{\"ProjectionType\":\"ALL\"},\"IndexStatus\":\"CREATING\",\"Back"
    "filling\":true}]}"};

/* A new meta as the server stores it (dumped, loaded back), then shown. */
static void use_new_meta(const char *name, json_t *nm) {
  char *bytes = json_dumps(nm, JSON_COMPACT | JSON_PRESERVE_ORDER);
  FZ_ASSERT(bytes, "new meta does not serialise");
  json_t *back = json_loadb(bytes, strlen(bytes), JSON_ALLOW_NUL, NULL);
  FZ_ASSERT(back, "new meta does not load back: %.2000s", bytes);
  json_t *d = p_table_description(&k_ctx, name, &k_ks_hash, back, 1.0, "ACTIVE", 0, 0, NULL, 0);
  FZ_ASSERT(d, "no TableDescription");
  json_t *t = p_describe_ttl(back);
  FZ_ASSERT(t, "no TimeToLiveDescription");
  json_decref(t);
  json_decref(d);
  json_decref(back);
  free(bytes);
}

/* k_metas[3] and k_idx describe the same indexes. */
static void check_indexed_meta(void) {
  json_t *m = json_loads(k_metas[3], 0, NULL);
  dv_arena *a = dv_arena_new();
  p_index *idx = NULL;
  size_t n = 0;
  FZ_ASSERT(p_table_indexes(m, a, &idx, &n) == 0 && n == K_NIDX, "indexed meta unreadable");
  for (size_t i = 0; i < n; i++)
    FZ_ASSERT(!strcmp(idx[i].name, k_idx[i].name) && idx[i].creating == k_idx[i].creating &&
                  idx[i].key.hash_type == k_idx[i].key.hash_type && idx[i].projection == k_idx[i].projection,
              "indexed meta and k_idx differ at %zu", i);
  dv_arena_free(a);
  json_decref(m);
}

static void use_update_table(const p_update_table *u) {
  check_indexed_meta();
  FZ_ASSERT(u->table_name && json_is_object(u->changes), "UpdateTable result incomplete");
  FZ_ASSERT(!u->stream_enabled || u->stream_view != P_VIEW_NONE, "stream enabled without a view");
  for (int i = 0; i < K_NMETAS; i++) {
    json_t *meta = json_loads(k_metas[i], 0, NULL);
    json_t *nm = NULL;
    p_error e;
    p_error_init(&e);
    if (p_check_update_table(meta, u, &nm, &e) == 0) {
      FZ_ASSERT(nm, "UpdateTable check without a meta");
      use_new_meta(u->table_name, nm);
      dv_arena *a = dv_arena_new();
      p_index *idx = NULL;
      size_t n = 0;
      FZ_ASSERT(p_table_indexes(nm, a, &idx, &n) == 0, "UpdateTable made an unreadable meta");
      if (u->gsi_create) {
        const p_index *x = p_index_find(idx, n, u->gsi_create);
        FZ_ASSERT(x && x->global && x->creating, "created GSI missing or not CREATING");
        json_t *done = p_meta_set_index_status(nm, u->gsi_create, "ACTIVE", 0);
        FZ_ASSERT(p_table_indexes(done, a, &idx, &n) == 0 && !p_index_find(idx, n, u->gsi_create)->creating,
                  "GSI not ACTIVE after p_meta_set_index_status");
        json_decref(done);
      }
      if (u->gsi_delete) FZ_ASSERT(!p_index_find(idx, n, u->gsi_delete), "deleted GSI still there");
      dv_arena_free(a);
    } else {
      FZ_ASSERT(!nm && e.msg, "UpdateTable check failed without a message");
    }
    p_error_clear(&e);
    json_decref(nm);
    json_decref(meta);
  }
}

static void use_update_ttl(const p_update_ttl *t) {
  FZ_ASSERT(t->table_name && t->attribute, "UpdateTimeToLive result incomplete");
  json_decref(p_update_ttl_response(t));
  for (int i = 0; i < K_NMETAS; i++) {
    json_t *meta = json_loads(k_metas[i], 0, NULL);
    json_t *nm = NULL;
    p_error e;
    p_error_init(&e);
    if (p_check_update_ttl(meta, t, &nm, &e) == 0)
      use_new_meta(t->table_name, nm);
    else
      FZ_ASSERT(!nm && e.msg, "TTL check failed without a message");
    p_error_clear(&e);
    json_decref(nm);
    json_decref(meta);
  }
}

/* A text through p_iterator_parse: accepted ones format back identically. */
static void check_iterator_text(const char *text, dv_arena *a) {
  p_iterator it;
  p_error e;
  p_error_init(&e);
  if (p_iterator_parse(text, a, &it, &e) == 0) {
    char *again = p_iterator_format(&it);
    FZ_ASSERT(!strcmp(again, text), "iterator does not format back: %.500s", text);
    free(again);
  } else {
    FZ_ASSERT(e.code == P_VALIDATION && e.msg && !strcmp(e.msg, "Invalid ShardIterator"), "iterator error");
  }
  p_error_clear(&e);
}

static void use_shard_iterator(const p_get_shard_iterator *g, dv_arena *a) {
  FZ_ASSERT(
      g->arn && g->shard_id && g->type >= P_ITER_TRIM_HORIZON && g->type <= P_ITER_AFTER_SEQUENCE_NUMBER,
      "GetShardIterator result incomplete");
  FZ_ASSERT(p_stream_arn_parse(g->arn, NULL, NULL, NULL) == 0, "malformed ARN accepted");
  p_iterator it = {g->arn, g->shard_id, g->seq, 1764237600000LL}, back;
  char *text = p_iterator_format(&it);
  p_error e;
  p_error_init(&e);
  /* A NUL inside the shard id cuts it: such an iterator may be refused. */
  if (strlen(g->shard_id) >= 1 && p_iterator_parse(text, a, &back, &e) == 0)
    FZ_ASSERT(back.position == g->seq && !strcmp(back.arn, g->arn), "iterator round trip");
  p_error_clear(&e);
  free(text);
}

/* An item as the keys and both images of a record of every view. */
static void use_record_item(const dv_value *item) {
  for (int v = P_VIEW_NONE; v <= P_VIEW_NEW_AND_OLD_IMAGES; v++) {
    p_stream_record r = {"0123456789abcdef0123456789abcdef",
                         1 + v % 3,
                         v & 1,
                         "us-east-1",
                         1764237600123LL,
                         item,
                         item,
                         item,
                         (uint64_t)v * 1000003u,
                         dv_item_size(item),
                         (p_view)v};
    p_buf b;
    p_buf_init(&b);
    p_write_stream_record(&b, &r);
    json_t *j = json_loadb(b.data, b.len, JSON_ALLOW_NUL, NULL);
    FZ_ASSERT(j && json_is_object(json_object_get(j, "dynamodb")), "record is not JSON: %.2000s", b.data);
    json_decref(j);
    p_buf_free(&b);
  }
}

static void second_table(unsigned op, const char *body, size_t blen, dv_arena *a, p_error *e) {
  if (op == 6 || op == 7) { /* raw text */
    char *t = malloc(blen + 1);
    FZ_ASSERT(t, "out of memory");
    memcpy(t, body, blen);
    t[blen] = '\0';
    if (op == 6) {
      check_iterator_text(t, a);
    } else {
      const char *table = NULL, *label = NULL;
      if (p_stream_arn_parse(t, a, &table, &label) == 0) {
        FZ_ASSERT(table && label && strlen(label) == 23, "ARN parts");
        p_context ctx = {"us-east-1", "123456789012"};
        char *again = p_stream_arn(&ctx, table, label);
        FZ_ASSERT(p_stream_arn_parse(again, NULL, NULL, NULL) == 0, "made ARN refused: %s", again);
        free(again);
      }
    }
    free(t);
    return;
  }
  json_t *j = p_json_parse(body, blen); /* as server/http.c */
  if (!json_is_object(j)) {
    json_decref(j);
    return;
  }
  switch (op) {
    case 0: {
      p_update_table u;
      if (p_parse_update_table(j, a, &u, e) == 0) use_update_table(&u);
      json_decref(u.changes);
      break;
    }
    case 1: {
      p_update_ttl t;
      if (p_parse_update_ttl(j, a, &t, e) == 0) use_update_ttl(&t);
      break;
    }
    case 2: {
      p_list_streams l;
      if (p_parse_list_streams(j, a, &l, e) == 0)
        FZ_ASSERT(l.limit >= 1 && l.limit <= 100, "ListStreams limit");
      break;
    }
    case 3: {
      p_describe_stream d;
      if (p_parse_describe_stream(j, a, &d, e) == 0)
        FZ_ASSERT(d.arn && d.limit >= 1 && d.limit <= 100 && p_stream_arn_parse(d.arn, NULL, NULL, NULL) == 0,
                  "DescribeStream result");
      break;
    }
    case 4: {
      p_get_shard_iterator g;
      if (p_parse_get_shard_iterator(j, a, &g, e) == 0) use_shard_iterator(&g, a);
      break;
    }
    case 5: {
      p_get_records g;
      if (p_parse_get_records(j, a, &g, e) == 0) {
        FZ_ASSERT(g.iterator && g.limit >= 1 && g.limit <= 1000, "GetRecords result");
        check_iterator_text(g.iterator, a);
      }
      break;
    }
    default: {
      dv_value v;
      p_error ie;
      p_error_init(&ie);
      if (p_item_from_json(j, P_LAYER_CURRENT, a, &v, &ie) == 0) use_record_item(&v);
      p_error_clear(&ie);
      break;
    }
  }
  json_decref(j);
}

/* ---- the plain JSON table (protocol/plain.c) ------------------------------------------------- */

/* Most significant digits of any number in v (N and NS, at any depth). */
static int max_digits(const dv_value *v) {
  int m = 0;
  switch (v->type) {
    case DV_N: {
      dv_num num;
      dv_num_from_value(v, &num);
      return num.ndig;
    }
    case DV_M:
      for (uint32_t i = 0; i < v->n; i++) {
        int d = max_digits(&v->u.attrs[i].value);
        if (d > m) m = d;
      }
      return m;
    case DV_L:
    case DV_NS:
      for (uint32_t i = 0; i < v->n; i++) {
        int d = max_digits(&v->u.elems[i]);
        if (d > m) m = d;
      }
      return m;
    default:
      return 0;
  }
}

/* Every number of v written alone parses back (dv_num_parse) to itself. */
static void check_number_literals(const dv_value *v) {
  if (v->type == DV_N) {
    p_buf b;
    p_buf_init(&b);
    p_write_plain_value(&b, v);
    dv_num num;
    FZ_ASSERT(dv_num_parse(b.data, b.len, &num) == DV_NUM_OK, "number literal %.*s", (int)b.len, b.data);
    char canon[DV_NUM_MAXTEXT];
    size_t n = dv_num_format(&num, canon);
    FZ_ASSERT(n == v->n && !memcmp(canon, v->u.bytes, n), "literal %.*s is not %s", (int)b.len, b.data,
              v->u.bytes);
    p_buf_free(&b);
    return;
  }
  if (v->type == DV_M)
    for (uint32_t i = 0; i < v->n; i++) check_number_literals(&v->u.attrs[i].value);
  if (v->type == DV_L || v->type == DV_NS)
    for (uint32_t i = 0; i < v->n; i++) check_number_literals(&v->u.elems[i]);
}

/* Writes v in plain notation and reads it back (0, *back set) or not (-1).
 * *text gets the malloc'd text. */
static int plain_reread(const dv_value *v, int is_item, dv_arena *a, dv_value *back, char **text) {
  p_buf b;
  p_buf_init(&b);
  if (is_item)
    p_write_plain_item(&b, v);
  else
    p_write_plain_value(&b, v);
  size_t len = 0;
  *text = p_buf_steal(&b, &len);
  json_error_t je;
  json_t *j = json_loadb(*text, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
  FZ_ASSERT(j, "plain text is not JSON (%s): %.2000s", je.text, *text);
  p_error e;
  p_error_init(&e);
  int rc = is_item ? p_plain_item(j, a, back, &e) : p_plain_value(j, 1, a, back, &e);
  if (rc != 0) FZ_ASSERT(e.code == P_VALIDATION && e.msg, "plain re-read failed without a message");
  p_error_clear(&e);
  json_decref(j);
  return rc;
}

/* The round-trip invariants of an accepted plain value / item. */
static void check_plain_roundtrip(const dv_value *v, int is_item, dv_arena *a) {
  check_number_literals(v);
  dv_value v2, v3, v4;
  char *t1 = NULL, *t2 = NULL, *t3 = NULL;
  int rc = plain_reread(v, is_item, a, &v2, &t1);
  /* Numbers of up to 15 digits survive a double; depth is unchanged. */
  if (max_digits(v) <= 15) {
    FZ_ASSERT(rc == 0, "plain text of an accepted value refused: %.2000s", t1);
    FZ_ASSERT(dv_equal(v, &v2), "plain round trip changed the value: %.2000s", t1);
  }
  if (rc == 0) {
    /* v2 holds numbers that came through JSON literals: a fixed point. */
    FZ_ASSERT(plain_reread(&v2, is_item, a, &v3, &t2) == 0, "second plain round trip refused: %.2000s", t2);
    FZ_ASSERT(dv_equal(&v2, &v3), "second plain round trip changed the value: %.2000s", t2);
    FZ_ASSERT(plain_reread(&v3, is_item, a, &v4, &t3) == 0 && !strcmp(t2, t3),
              "plain text not stable: %.2000s", t2);
  }
  free(t1);
  free(t2);
  free(t3);
}

/* Sorted by name bytes, names unique. */
static void check_sorted_map(const dv_value *m) {
  FZ_ASSERT(m->type == DV_M, "not a map: type %d", (int)m->type);
  for (uint32_t i = 1; i < m->n; i++) {
    const dv_attr *x = &m->u.attrs[i - 1], *y = &m->u.attrs[i];
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = n ? memcmp(x->name, y->name, n) : 0;
    FZ_ASSERT(c < 0 || (c == 0 && x->name_len < y->name_len), "map not sorted / names repeated");
  }
}

static void use_plain_item(const dv_value *item, dv_arena *a) {
  check_sorted_map(item);
  check_plain_roundtrip(item, 1, a);
  check_item_against_schemas(item, 1);
  p_stream_record r = {"0123456789abcdef0123456789abcdef",
                       2,
                       0,
                       "us-east-1",
                       1764237600123LL,
                       item,
                       item,
                       item,
                       7,
                       dv_item_size(item),
                       P_VIEW_NEW_AND_OLD_IMAGES};
  p_buf b;
  p_buf_init(&b);
  p_write_stream_record_plain(&b, &r);
  json_t *j = json_loadb(b.data, b.len, JSON_ALLOW_NUL, NULL);
  FZ_ASSERT(j && json_is_object(json_object_get(json_object_get(j, "dynamodb"), "NewImage")),
            "plain record is not JSON: %.2000s", b.data);
  json_decref(j);
  p_buf_free(&b);
}

/* [old item, patch]: merged with and without a key schema. */
static void use_merge_patch(const json_t *body, dv_arena *a, p_error *e) {
  if (!json_is_array(body) || json_array_size(body) != 2) return;
  dv_value old;
  if (p_plain_item(json_array_get(body, 0), a, &old, e) != 0) return;
  const json_t *patch = json_array_get(body, 1);
  for (int s = 0; s < 3; s++) {
    const p_key_schema *ks = s < 2 ? k_schemas[s] : NULL;
    dv_value out, again;
    p_error pe;
    p_error_init(&pe);
    if (p_plain_merge_patch(s == 1 ? NULL : &old, patch, ks, a, &out, &pe) != 0) {
      FZ_ASSERT(pe.code == P_VALIDATION && pe.msg, "merge patch failed without a message");
      p_error_clear(&pe);
      continue;
    }
    check_sorted_map(&out);
    if (ks) /* the key attributes are as they were */
      for (int k = 0; k < 2; k++) {
        const char *name = k == 0 ? ks->hash_name : ks->range_name;
        if (!name) continue;
        const dv_value *o = s == 1 ? NULL : dv_map_get(&old, name, strlen(name));
        const dv_value *n = dv_map_get(&out, name, strlen(name));
        FZ_ASSERT((o == NULL) == (n == NULL) && (!o || dv_equal(o, n)), "merge patch changed key %s", name);
      }
    /* Idempotent: the same patch on its own result changes nothing. */
    FZ_ASSERT(p_plain_merge_patch(&out, patch, ks, a, &again, &pe) == 0, "second merge refused: %s",
              pe.msg ? pe.msg : "");
    FZ_ASSERT(dv_equal(&out, &again), "merge patch is not idempotent");
    int depth = 0;
    for (uint32_t i = 0; i < out.n; i++) {
      int d = dv_depth(&out.u.attrs[i].value);
      if (d > depth) depth = d;
    }
    if (depth <= 32) check_plain_roundtrip(&out, 1, a); /* deeper: the caller refuses it */
    p_error_clear(&pe);
  }
}

/* Raw bytes as a key segment of each type. */
static void use_key_segment(const char *seg, size_t len, dv_arena *a) {
  static const dv_type types[3] = {DV_S, DV_N, DV_B};
  for (int i = 0; i < 3; i++) {
    dv_value v, back;
    p_error e;
    p_error_init(&e);
    if (p_plain_key_segment(seg, len, types[i], a, &v, &e) != 0) {
      FZ_ASSERT(e.code == P_VALIDATION && e.msg, "key segment refused without a message");
      p_error_clear(&e);
      continue;
    }
    FZ_ASSERT(v.type == types[i], "key segment of type %d", (int)v.type);
    /* Its canonical text (S as is, N canonical, B as base64) gives it back. */
    const char *text = v.u.bytes;
    size_t tlen = v.n;
    p_buf b;
    p_buf_init(&b);
    if (types[i] == DV_S) {
      FZ_ASSERT(v.n == len && !memcmp(v.u.bytes, seg, len), "S key segment changed");
    } else if (types[i] == DV_B) {
      FZ_ASSERT(v.n > 0, "empty B key accepted");
      p_write_plain_value(&b, &v); /* {"$b":"<base64>"} */
      text = b.data + 7;
      tlen = b.len - 9;
    }
    FZ_ASSERT(p_plain_key_segment(text, tlen, types[i], a, &back, &e) == 0 && dv_equal(&v, &back),
              "key segment not stable: %.*s", (int)tlen, text);
    p_buf_free(&b);
    p_error_clear(&e);
  }
}

static void plain_table(unsigned op, const char *body, size_t blen, dv_arena *a, p_error *e) {
  if (op == 3) {
    use_key_segment(body, blen, a);
    return;
  }
  json_t *j = json_loadb(body, blen, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
  if (!j) return;
  dv_value v;
  if (op == 0) {
    if (p_plain_value(j, 1, a, &v, e) == 0) check_plain_roundtrip(&v, 0, a);
  } else if (op == 1) {
    if (p_plain_item(j, a, &v, e) == 0) use_plain_item(&v, a);
  } else {
    use_merge_patch(j, a, e);
  }
  json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned op = data[0] % FZ_OPS, flags = data[0] / FZ_OPS;
  const char *body = (const char *)data + 1;
  size_t blen = size - 1;
  p_layer layer = (flags & 1) ? P_LAYER_OLDER : P_LAYER_CURRENT;

  if (flags & 6) {
    dv_arena *a = dv_arena_new();
    p_error e;
    p_error_init(&e);
    if (flags & 4)
      plain_table(op % 4, body, blen, a, &e);
    else
      second_table(op % 9, body, blen, a, &e);
    if (e.code != P_OK) {
      FZ_ASSERT(e.msg || e.code == P_SERIALIZATION, "error %d without a message", (int)e.code);
      char *b = p_error_body(&e, NULL);
      FZ_ASSERT(b, "empty error body");
      free(b);
    }
    p_error_clear(&e);
    dv_arena_free(a);
    return 0;
  }

  if (op == 11) { /* a header value: NUL-terminated copy */
    char *t = malloc(blen + 1);
    FZ_ASSERT(t, "out of memory");
    memcpy(t, body, blen);
    t[blen] = '\0';
    p_op o = p_op_from_target(t);
    FZ_ASSERT((int)o >= 0 && o < P_OP_COUNT, "p_op_from_target out of range");
    if (o != P_OP_NONE) FZ_ASSERT(p_op_name(o) && *p_op_name(o), "operation without a name");
    free(t);
    return 0;
  }

  /* Request bodies as server/http.c parses them (p_json_parse = json_loadb
   * with JSON_ALLOW_NUL, fuzz_json checks that); Value / Item take any value. */
  json_t *j = op == 9 || op == 10 ? json_loadb(body, blen, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL)
                                  : p_json_parse(body, blen);
  if (!j) return 0;
  if (op != 9 && op != 10 && !json_is_object(j)) { /* server/http.c answers SerializationException */
    json_decref(j);
    return 0;
  }
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  switch (op) {
    case 0: {
      p_put_item r;
      if (p_parse_put_item(j, a, &r, &e) == 0) use_put(&r);
      break;
    }
    case 1: {
      p_get_item r;
      if (p_parse_get_item(j, a, &r, &e) == 0) use_get(&r, a);
      break;
    }
    case 2: {
      p_delete_item r;
      if (p_parse_delete_item(j, a, &r, &e) == 0) use_delete(&r);
      break;
    }
    case 3: {
      p_create_table ct;
      if (p_parse_create_table(j, &k_ctx, a, &ct, &e) == 0) {
        use_create(&ct);
        json_decref(ct.meta);
      }
      break;
    }
    case 4: {
      p_list_tables r;
      if (p_parse_list_tables(j, a, &r, &e) == 0)
        FZ_ASSERT(r.limit >= 1 && r.limit <= 100, "ListTables limit %d", r.limit);
      break;
    }
    case 5: {
      const char *name = NULL;
      if (p_parse_table_name(j, a, &name, &e) == 0) FZ_ASSERT(name && *name, "empty table name accepted");
      break;
    }
    case 6:
      (void)p_parse_no_input(j, &e);
      break;
    case 7: {
      p_batch_write r;
      if (p_parse_batch_write(j, a, &r, &e) == 0) use_batch_write(&r);
      break;
    }
    case 8: {
      p_batch_get r;
      if (p_parse_batch_get(j, a, &r, &e) == 0) use_batch_get(&r);
      break;
    }
    case 9: {
      dv_value v;
      if (p_value_from_json(j, 1, layer, a, &v, &e) == 0) {
        FZ_ASSERT(v.type != DV_NONE, "value without a type");
        check_value_roundtrip(&v, 0, layer);
      }
      break;
    }
    case 12: {
      p_update_item r;
      if (p_parse_update_item(j, a, &r, &e) == 0) use_update(&r, a);
      break;
    }
    case 13:
    case 14: {
      p_query q;
      if ((op == 13 ? p_parse_query(j, a, &q, &e) : p_parse_scan(j, a, &q, &e)) == 0) use_query(&q, a);
      break;
    }
    case 10: {
      dv_value v;
      if (p_item_from_json(j, layer, a, &v, &e) == 0) {
        check_value_roundtrip(&v, 1, layer);
        check_item_against_schemas(&v, 1);
      }
      break;
    }
  }
  if (e.code != P_OK) {
    FZ_ASSERT(e.msg || e.code == P_SERIALIZATION, "error %d without a message", (int)e.code);
    size_t len = 0;
    char *b = p_error_body(&e, &len);
    FZ_ASSERT(b && len > 0, "empty error body");
    json_t *back = json_loadb(b, len, JSON_ALLOW_NUL, NULL);
    FZ_ASSERT(back, "error body is not JSON: %.2000s", b);
    json_decref(back);
    free(b);
    FZ_ASSERT(p_error_status(e.code) >= 400, "error status %d", p_error_status(e.code));
  }
  p_error_clear(&e);
  dv_arena_free(a);
  json_decref(j);
  return 0;
}
