/*
 * test_indexes.c -- unit tests of protocol/'s secondary-index functions
 * (protocol.h "secondary indexes" and the index parts of CreateTable,
 * DescribeTable, Query/Scan, capacity and UpdateTable): reading indexes back
 * from meta, projection rules, the meta status update, the DescribeTable
 * index lists (exact JSON text, member order included), write-path key
 * checks, index write units and ConsumedCapacity shapes, needs_fetch, index
 * LastEvaluatedKeys, and the CreateTable -> meta -> p_table_indexes round
 * trip. The error messages of every request row are data-driven cases
 * (tests/protocol/cases/{create_table_indexes, query_index, scan_index,
 * write_index, update_table_gsi}).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/expr.h"
#include "protocol/protocol.h"
#include "tests/testlib.h"

static const p_context k_ctx = {"us-east-1", "123456789012"};
static const p_key_schema k_ks = {"pk", DV_S, "sk", DV_N};

/* pk S / sk N; LSI byL (pk, l S) INCLUDE [x]; GSI byG (g S, gr N) KEYS_ONLY,
 * provisioned 3/4; GSI byAll (b B) ALL, CREATING + Backfilling. */
static const char *const k_meta =
    "{\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},"
    "{\"AttributeName\":\"sk\",\"AttributeType\":\"N\"},{\"AttributeName\":\"l\",\"AttributeType\":\"S\"},"
    "{\"AttributeName\":\"g\",\"AttributeType\":\"S\"},{\"AttributeName\":\"gr\",\"AttributeType\":\"N\"},"
    "{\"AttributeName\":\"b\",\"AttributeType\":\"B\"}],"
    "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"sk\",\"KeyType\":"
    "\"RANGE\"}],\"BillingMode\":\"PROVISIONED\",\"ProvisionedThroughput\":{\"ReadCapacityUnits\":5,\"WriteCapacityUnits\":5},"
    "\"LocalSecondaryIndexes\":[{\"IndexName\":\"byL\",\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":"
    "\"HASH\"},{\"AttributeName\":\"l\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":\"INCLUDE\","
    "\"NonKeyAttributes\":[\"x\"]}}],"
    "\"GlobalSecondaryIndexes\":[{\"IndexName\":\"byG\",\"KeySchema\":[{\"AttributeName\":\"g\",\"KeyType\":"
    "\"HASH\"},{\"AttributeName\":\"gr\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":"
    "\"KEYS_ONLY\"},\"ProvisionedThroughput\":{\"ReadCapacityUnits\":3,\"WriteCapacityUnits\":4},"
    "\"IndexStatus\":\"ACTIVE\"},{\"IndexName\":\"byAll\",\"KeySchema\":[{\"AttributeName\":\"b\",\"KeyType\":"
    "\"HASH\"}],\"Projection\":{\"ProjectionType\":\"ALL\"},\"ProvisionedThroughput\":{\"ReadCapacityUnits\":1,"
    "\"WriteCapacityUnits\":1},\"IndexStatus\":\"CREATING\",\"Backfilling\":true}]}";

static json_t *parse(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
  if (!j) fprintf(stderr, "bad test JSON: %s: %.200s\n", je.text, text);
  return j;
}

/* An item from wire JSON text (NULL on a bad value). */
static dv_value item(dv_arena *a, const char *text) {
  json_t *j = parse(text);
  dv_value v = {.type = DV_NONE};
  p_error e;
  p_error_init(&e);
  if (p_item_from_json(j, P_LAYER_CURRENT, a, &v, &e) != 0) fprintf(stderr, "bad item %s: %s\n", text, e.msg);
  p_error_clear(&e);
  json_decref(j);
  return v;
}

static char *dump(const json_t *j) {
  return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

static void load(dv_arena *a, p_index **idx, size_t *n) {
  json_t *m = parse(k_meta);
  CHECK_EQ_INT(p_table_indexes(m, a, idx, n), 0);
  json_decref(m);
}

/* ---- p_table_indexes / p_index_find / p_index_projects ----------------------------- */

static void test_table_indexes(void) {
  dv_arena *a = dv_arena_new();
  p_index *idx;
  size_t n;
  load(a, &idx, &n);
  CHECK_EQ_INT(n, 3);
  CHECK_EQ_STR(idx[0].name, "byL");
  CHECK_EQ_INT(idx[0].global, 0);
  CHECK_EQ_STR(idx[0].key.hash_name, "pk");
  CHECK_EQ_INT(idx[0].key.hash_type, DV_S);
  CHECK_EQ_STR(idx[0].key.range_name, "l");
  CHECK_EQ_INT(idx[0].key.range_type, DV_S);
  CHECK_EQ_INT(idx[0].projection, P_PROJ_INCLUDE);
  CHECK_EQ_INT(idx[0].n_include, 1);
  CHECK_EQ_STR(idx[0].include[0], "x");
  CHECK_EQ_INT(idx[0].creating, 0);
  CHECK_EQ_STR(idx[1].name, "byG");
  CHECK_EQ_INT(idx[1].global, 1);
  CHECK_EQ_INT(idx[1].key.range_type, DV_N);
  CHECK_EQ_INT(idx[1].projection, P_PROJ_KEYS_ONLY);
  CHECK(idx[1].include == NULL);
  CHECK_EQ_STR(idx[2].name, "byAll");
  CHECK(idx[2].key.range_name == NULL);
  CHECK_EQ_INT(idx[2].key.hash_type, DV_B);
  CHECK_EQ_INT(idx[2].projection, P_PROJ_ALL);
  CHECK_EQ_INT(idx[2].creating, 1);
  CHECK(p_index_find(idx, n, "byG") == &idx[1]);
  CHECK(p_index_find(idx, n, "byg") == NULL);
  CHECK(p_index_find(idx, n, NULL) == NULL);

  /* projections */
  CHECK_EQ_INT(p_index_projects(&k_ks, &idx[0], "x", 1), 1);
  CHECK_EQ_INT(p_index_projects(&k_ks, &idx[0], "xy", 2), 0);
  CHECK_EQ_INT(p_index_projects(&k_ks, &idx[0], "xy", 1), 1); /* length-bounded name */
  CHECK_EQ_INT(p_index_projects(&k_ks, &idx[0], "sk", 2), 1);
  CHECK_EQ_INT(p_index_projects(&k_ks, &idx[1], "pk", 2), 1);
  CHECK_EQ_INT(p_index_projects(&k_ks, &idx[1], "gr", 2), 1);
  CHECK_EQ_INT(p_index_projects(&k_ks, &idx[1], "x", 1), 0);
  CHECK_EQ_INT(p_index_projects(&k_ks, &idx[2], "anything", 8), 1);

  /* no indexes, unreadable metas */
  json_t *m = parse("{\"AttributeDefinitions\":[]}");
  CHECK_EQ_INT(p_table_indexes(m, a, &idx, &n), 0);
  CHECK_EQ_INT(n, 0);
  CHECK(idx == NULL);
  json_decref(m);
  CHECK_EQ_INT(p_table_indexes(NULL, a, &idx, &n), 0);
  static const char *const bad[] = {
      "{\"GlobalSecondaryIndexes\":{}}",
      "{\"GlobalSecondaryIndexes\":[{\"IndexName\":\"g\",\"KeySchema\":[{\"AttributeName\":\"g\",\"KeyType\":"
      "\"HASH\"}],\"Projection\":{\"ProjectionType\":\"ALL\"}}]}",
      "{\"AttributeDefinitions\":[{\"AttributeName\":\"g\",\"AttributeType\":\"S\"}],"
      "\"LocalSecondaryIndexes\":[{\"KeySchema\":[]}]}",
      "{\"AttributeDefinitions\":[{\"AttributeName\":\"g\",\"AttributeType\":\"BOOL\"}],"
      "\"GlobalSecondaryIndexes\":[{\"IndexName\":\"x\",\"KeySchema\":[{\"AttributeName\":\"g\",\"KeyType\":"
      "\"HASH\"}]}]}",
      "{\"AttributeDefinitions\":[{\"AttributeName\":\"g\",\"AttributeType\":\"S\"}],"
      "\"GlobalSecondaryIndexes\":[{\"IndexName\":\"x\",\"KeySchema\":[{\"AttributeName\":\"g\",\"KeyType\":"
      "\"RANGE\"}]}]}",
      NULL};
  for (int i = 0; bad[i]; i++) {
    m = parse(bad[i]);
    CHECK_EQ_INT(p_table_indexes(m, a, &idx, &n), -1);
    json_decref(m);
  }
  dv_arena_free(a);
}

/* ---- meta status -------------------------------------------------------------------- */

static void test_meta_status(void) {
  json_t *m = parse(k_meta);
  json_t *m2 = p_meta_set_index_status(m, "byAll", "ACTIVE", 0);
  const json_t *g = json_array_get(json_object_get(m2, "GlobalSecondaryIndexes"), 1);
  CHECK_EQ_STR(json_string_value(json_object_get(g, "IndexStatus")), "ACTIVE");
  CHECK(json_object_get(g, "Backfilling") == NULL);
  /* the original is untouched */
  g = json_array_get(json_object_get(m, "GlobalSecondaryIndexes"), 1);
  CHECK_EQ_STR(json_string_value(json_object_get(g, "IndexStatus")), "CREATING");
  json_t *m3 = p_meta_set_index_status(m2, "byG", "CREATING", 1);
  g = json_array_get(json_object_get(m3, "GlobalSecondaryIndexes"), 0);
  CHECK_EQ_STR(json_string_value(json_object_get(g, "IndexStatus")), "CREATING");
  CHECK(json_is_true(json_object_get(g, "Backfilling")));
  dv_arena *a = dv_arena_new();
  p_index *idx;
  size_t n;
  CHECK_EQ_INT(p_table_indexes(m2, a, &idx, &n), 0);
  CHECK_EQ_INT(idx[2].creating, 0);
  CHECK_EQ_INT(p_table_indexes(m3, a, &idx, &n), 0);
  CHECK_EQ_INT(idx[1].creating, 1);
  /* unknown name: an unchanged copy */
  json_t *m4 = p_meta_set_index_status(m, "nope", "ACTIVE", 0);
  CHECK(json_equal(m4, m));
  dv_arena_free(a);
  json_decref(m4);
  json_decref(m3);
  json_decref(m2);
  json_decref(m);
}

/* ---- DescribeTable ---------------------------------------------------------------------- */

static void test_description(void) {
  json_t *m = parse(k_meta);
  p_index_stats st[2] = {{"byG", 7, 300}, {"byL", 2, 40}};
  json_t *d = p_table_description(&k_ctx, "Music", &k_ks, m, 1.5, "ACTIVE", 9, 900, st, 2);
  char *s = dump(json_object_get(d, "LocalSecondaryIndexes"));
  CHECK_EQ_STR(s,
               "[{\"IndexName\":\"byL\",\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},"
               "{\"AttributeName\":\"l\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":\"INCLUDE\","
               "\"NonKeyAttributes\":[\"x\"]},\"IndexSizeBytes\":40,\"ItemCount\":2,\"IndexArn\":"
               "\"arn:aws:dynamodb:us-east-1:123456789012:table/Music/index/byL\"}]");
  free(s);
  s = dump(json_object_get(d, "GlobalSecondaryIndexes"));
  CHECK_EQ_STR(s,
               "[{\"IndexName\":\"byG\",\"KeySchema\":[{\"AttributeName\":\"g\",\"KeyType\":\"HASH\"},"
               "{\"AttributeName\":\"gr\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":"
               "\"KEYS_ONLY\"},\"IndexStatus\":\"ACTIVE\",\"ProvisionedThroughput\":{\"NumberOfDecreasesToday\":0,"
               "\"ReadCapacityUnits\":3,\"WriteCapacityUnits\":4},\"IndexSizeBytes\":300,\"ItemCount\":7,"
               "\"IndexArn\":\"arn:aws:dynamodb:us-east-1:123456789012:table/Music/index/byG\"},"
               "{\"IndexName\":\"byAll\",\"KeySchema\":[{\"AttributeName\":\"b\",\"KeyType\":\"HASH\"}],"
               "\"Projection\":{\"ProjectionType\":\"ALL\"},\"IndexStatus\":\"CREATING\",\"Backfilling\":true,"
               "\"ProvisionedThroughput\":{\"NumberOfDecreasesToday\":0,\"ReadCapacityUnits\":1,"
               "\"WriteCapacityUnits\":1},\"IndexSizeBytes\":0,\"ItemCount\":0,\"IndexArn\":"
               "\"arn:aws:dynamodb:us-east-1:123456789012:table/Music/index/byAll\"}]");
  free(s);
  /* member order of the whole description: the index lists follow the table's figures */
  const char *order[] = {"AttributeDefinitions", "TableName", "KeySchema", "TableStatus", "CreationDateTime",
                         "ProvisionedThroughput", "TableSizeBytes", "ItemCount", "TableArn",
                         "LocalSecondaryIndexes", "GlobalSecondaryIndexes", "DeletionProtectionEnabled", NULL};
  void *it = json_object_iter(d);
  for (int i = 0; order[i] && it; i++, it = json_object_iter_next(d, it))
    CHECK_EQ_STR(json_object_iter_key(it), order[i]);
  json_decref(d);

  /* on-demand: GSI throughput zeros; CREATING without Backfilling shows false */
  json_t *m2 = p_meta_set_index_status(m, "byAll", "CREATING", 0);
  json_object_set_new(m2, "BillingMode", json_string("PAY_PER_REQUEST"));
  d = p_table_description(&k_ctx, "Music", &k_ks, m2, 1.5, "ACTIVE", 0, 0, NULL, 0);
  const json_t *g = json_array_get(json_object_get(d, "GlobalSecondaryIndexes"), 1);
  CHECK(json_is_false(json_object_get(g, "Backfilling")));
  s = dump(json_object_get(g, "ProvisionedThroughput"));
  CHECK_EQ_STR(s, "{\"NumberOfDecreasesToday\":0,\"ReadCapacityUnits\":0,\"WriteCapacityUnits\":0}");
  free(s);
  CHECK_EQ_INT(json_integer_value(json_object_get(g, "ItemCount")), 0);
  json_decref(d);
  json_decref(m2);
  json_decref(m);

  /* no indexes: no lists */
  m = parse("{\"BillingMode\":\"PAY_PER_REQUEST\"}");
  d = p_table_description(&k_ctx, "Music", &k_ks, m, 1.5, "ACTIVE", 0, 0, NULL, 0);
  CHECK(json_object_get(d, "LocalSecondaryIndexes") == NULL);
  CHECK(json_object_get(d, "GlobalSecondaryIndexes") == NULL);
  json_decref(d);
  json_decref(m);
}

/* ---- CreateTable round trip ---------------------------------------------------------------- */

static void test_create_round_trip(void) {
  json_t *body = parse(
      "{\"TableName\":\"Music\",\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},"
      "{\"AttributeName\":\"sk\",\"AttributeType\":\"N\"},{\"AttributeName\":\"l\",\"AttributeType\":\"B\"},"
      "{\"AttributeName\":\"g\",\"AttributeType\":\"S\"}],\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":"
      "\"HASH\"},{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}],\"BillingMode\":\"PAY_PER_REQUEST\","
      "\"GlobalSecondaryIndexes\":[{\"IndexName\":\"byG\",\"KeySchema\":[{\"AttributeName\":\"g\",\"KeyType\":"
      "\"HASH\"},{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":"
      "\"INCLUDE\",\"NonKeyAttributes\":[\"a\",\"b\"]}}],\"LocalSecondaryIndexes\":[{\"IndexName\":\"byL\","
      "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"l\",\"KeyType\":"
      "\"RANGE\"}],\"Projection\":{\"ProjectionType\":\"ALL\"}}]}");
  dv_arena *a = dv_arena_new();
  p_create_table ct;
  p_error e;
  p_error_init(&e);
  CHECK_EQ_INT(p_parse_create_table(body, &k_ctx, a, &ct, &e), 0);
  CHECK_EQ_INT(ct.n_indexes, 2);
  CHECK_EQ_STR(ct.indexes[0].name, "byL"); /* LSIs first, whatever the member order */
  CHECK_EQ_INT(ct.indexes[0].key.range_type, DV_B);
  CHECK_EQ_STR(ct.indexes[1].name, "byG");
  CHECK_EQ_INT(ct.indexes[1].n_include, 2);
  CHECK_EQ_STR(ct.indexes[1].include[1], "b");
  p_index *back;
  size_t n;
  CHECK_EQ_INT(p_table_indexes(ct.meta, a, &back, &n), 0);
  CHECK_EQ_INT(n, 2);
  for (size_t i = 0; i < n && i < 2; i++) {
    CHECK_EQ_STR(back[i].name, ct.indexes[i].name);
    CHECK_EQ_INT(back[i].global, ct.indexes[i].global);
    CHECK_EQ_STR(back[i].key.hash_name, ct.indexes[i].key.hash_name);
    CHECK_EQ_INT(back[i].projection, ct.indexes[i].projection);
    CHECK_EQ_INT(back[i].creating, 0);
  }
  json_decref(ct.meta);
  /* without indexes: no list, NULL indexes */
  json_object_del(body, "GlobalSecondaryIndexes");
  json_object_del(body, "LocalSecondaryIndexes");
  json_t *defs = json_object_get(body, "AttributeDefinitions");
  json_array_remove(defs, 3);
  json_array_remove(defs, 2);
  CHECK_EQ_INT(p_parse_create_table(body, &k_ctx, a, &ct, &e), 0);
  CHECK(ct.indexes == NULL);
  CHECK_EQ_INT(ct.n_indexes, 0);
  CHECK(json_object_get(ct.meta, "GlobalSecondaryIndexes") == NULL);
  json_decref(ct.meta);
  p_error_clear(&e);
  dv_arena_free(a);
  json_decref(body);
}

/* ---- write-path checks ------------------------------------------------------------------------ */

static const char *check_put(const p_index *idx, size_t n, dv_arena *a, const char *text) {
  static char buf[512];
  dv_value it = item(a, text);
  p_error e;
  p_error_init(&e);
  int rc = p_check_index_keys(idx, n, &it, &e);
  snprintf(buf, sizeof buf, "%s", rc ? (e.msg ? e.msg : "?") : "ok");
  CHECK(rc == 0 || e.code == P_VALIDATION);
  p_error_clear(&e);
  return buf;
}

static const char *check_updated(const p_index *idx, size_t n, dv_arena *a, const char *old_text,
                                 const char *text) {
  static char buf[512];
  dv_value it = item(a, text);
  dv_value old = {.type = DV_NONE};
  if (old_text) old = item(a, old_text);
  p_error e;
  p_error_init(&e);
  int rc = p_check_updated_index_keys(idx, n, old_text ? &old : NULL, &it, &e);
  snprintf(buf, sizeof buf, "%s", rc ? (e.msg ? e.msg : "?") : "ok");
  p_error_clear(&e);
  return buf;
}

static void test_write_checks(void) {
  dv_arena *a = dv_arena_new();
  p_index *idx;
  size_t n;
  load(a, &idx, &n);
  CHECK_EQ_STR(check_put(idx, n, a, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"}}"), "ok");
  CHECK_EQ_STR(check_put(idx, n, a, "{\"pk\":{\"S\":\"p\"},\"g\":{\"S\":\"x\"},\"gr\":{\"N\":\"2\"},\"l\":{\"S\":\"q\"}}"),
               "ok");
  CHECK_EQ_STR(check_put(idx, n, a, "{\"g\":{\"N\":\"1\"}}"),
               "One or more parameter values were invalid: Type mismatch for Index Key g Expected: S Actual: N "
               "IndexName: byG");
  CHECK_EQ_STR(check_put(idx, n, a, "{\"l\":{\"B\":\"AQ==\"},\"g\":{\"N\":\"1\"}}"),
               "One or more parameter values were invalid: Type mismatch for Index Key l Expected: S Actual: B "
               "IndexName: byL");
  CHECK_EQ_STR(check_put(idx, n, a, "{\"b\":{\"NULL\":true}}"),
               "One or more parameter values were invalid: Type mismatch for Index Key b Expected: B Actual: NULL "
               "IndexName: byAll");
  CHECK_EQ_STR(check_put(idx, n, a, "{\"b\":{\"B\":\"\"}}"),
               "One or more parameter values are not valid. A value specified for a secondary index key is not "
               "supported. The AttributeValue for a key attribute cannot contain an empty binary value. "
               "IndexName: byAll, IndexKey: b");
  /* an LSI's partition key is the table's: not the index check's business */
  CHECK_EQ_STR(check_put(idx, n, a, "{\"pk\":{\"N\":\"1\"}}"), "ok");
  CHECK_EQ_STR(check_put(NULL, 0, a, "{\"g\":{\"N\":\"1\"}}"), "ok");
  /* sizes: the 1024-byte sort-key limit is per attribute */
  char big[1200];
  snprintf(big, sizeof big, "{\"sk\":{\"N\":\"1\"},\"l\":{\"S\":\"%01024d\"}}", 0);
  CHECK_EQ_STR(check_put(idx, n, a, big), "ok");
  snprintf(big, sizeof big, "{\"l\":{\"S\":\"%01025d\"}}", 0);
  CHECK_EQ_STR(check_put(idx, n, a, big),
               "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size "
               "limit of 1024 bytes");

  CHECK_EQ_STR(check_updated(idx, n, a, NULL, "{\"g\":{\"S\":\"x\"},\"other\":{\"L\":[]}}"), "ok");
  CHECK_EQ_STR(check_updated(idx, n, a, NULL, "{\"gr\":{\"S\":\"x\"}}"),
               "The update expression attempted to update the secondary index key to unsupported type");
  CHECK_EQ_STR(check_updated(idx, n, a, NULL, "{\"l\":{\"S\":\"\"}}"),
               "One or more parameter values are not valid. The update expression attempted to update a secondary "
               "index key to a value that is not supported. The AttributeValue for a key attribute cannot contain "
               "an empty string value.");
  /* An attribute the update leaves as it was is not refused, even when its
   * value does not fit the index (an item written before the index). */
  CHECK_EQ_STR(check_updated(idx, n, a, "{\"gr\":{\"S\":\"x\"}}", "{\"gr\":{\"S\":\"x\"},\"v\":{\"N\":\"1\"}}"),
               "ok");
  CHECK_EQ_STR(check_updated(idx, n, a, "{\"gr\":{\"S\":\"x\"}}", "{\"gr\":{\"S\":\"y\"}}"),
               "The update expression attempted to update the secondary index key to unsupported type");

  /* p_check_update_index on parsed UpdateItem requests */
  static const struct {
    const char *body;
    const char *want;
  } cases[] = {
      {"{\"TableName\":\"Music\",\"Key\":{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"}},\"UpdateExpression\":"
       "\"SET g = :v\",\"ExpressionAttributeValues\":{\":v\":{\"S\":\"x\"}}}",
       "ok"},
      {"{\"TableName\":\"Music\",\"Key\":{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"}},\"UpdateExpression\":"
       "\"SET b.c = :v\",\"ExpressionAttributeValues\":{\":v\":{\"S\":\"x\"}}}",
       "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: IndexKey: b"},
      {"{\"TableName\":\"Music\",\"Key\":{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"}},\"UpdateExpression\":"
       "\"SET gr = :v\",\"ExpressionAttributeValues\":{\":v\":{\"BOOL\":true}}}",
       "One or more parameter values were invalid: Type mismatch for Index Key gr Expected: N Actual: BOOL "
       "IndexName: byG"},
      {"{\"TableName\":\"Music\",\"Key\":{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"}},\"UpdateExpression\":"
       "\"SET l = :v\",\"ExpressionAttributeValues\":{\":v\":{\"S\":\"\"}}}",
       "One or more parameter values are not valid. The update expression attempted to update a secondary index "
       "key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty "
       "string value."},
      {"{\"TableName\":\"Music\",\"Key\":{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"}},\"UpdateExpression\":"
       "\"REMOVE g, l\"}",
       "ok"},
      {NULL, NULL}};
  for (int i = 0; cases[i].body; i++) {
    json_t *b = parse(cases[i].body);
    p_update_item u;
    p_error e;
    p_error_init(&e);
    CHECK_EQ_INT(p_parse_update_item(b, a, &u, &e), 0);
    int rc = p_check_update_index(idx, n, &u, &e);
    CHECK_EQ_STR(rc ? e.msg : "ok", cases[i].want);
    p_error_clear(&e);
    json_decref(b);
  }
  dv_arena_free(a);
}

/* ---- capacity ------------------------------------------------------------------------------------- */

static void test_write_units(void) {
  dv_arena *a = dv_arena_new();
  p_index *idx;
  size_t n;
  load(a, &idx, &n);
  const p_index *lsi = &idx[0], *gsi = &idx[1], *all = &idx[2];
  dv_value none = {.type = DV_NONE};
  dv_value plain = item(a, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"x\":{\"S\":\"a\"}}");
  dv_value in_g = item(a, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"g\":{\"S\":\"a\"},\"gr\":{\"N\":\"1\"}}");
  dv_value in_g2 = item(a, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"g\":{\"S\":\"b\"},\"gr\":{\"N\":\"1\"}}");
  dv_value in_g_more =
      item(a, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"g\":{\"S\":\"a\"},\"gr\":{\"N\":\"1\"},\"z\":{\"S\":\"q\"}}");
  dv_value wrong_type = item(a, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"g\":{\"N\":\"1\"},\"gr\":{\"N\":\"1\"}}");
  dv_value empty_key = item(a, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"g\":{\"S\":\"\"},\"gr\":{\"N\":\"1\"}}");
  /* not indexed before or after */
  CHECK(p_index_write_units(&k_ks, gsi, &plain, &plain) == 0.0);
  CHECK(p_index_write_units(&k_ks, gsi, NULL, &plain) == 0.0);
  CHECK(p_index_write_units(&k_ks, gsi, &none, &wrong_type) == 0.0);
  CHECK(p_index_write_units(&k_ks, gsi, &none, &empty_key) == 0.0);
  /* put, delete, move */
  CHECK(p_index_write_units(&k_ks, gsi, &none, &in_g) == 1.0);
  CHECK(p_index_write_units(&k_ks, gsi, &in_g, NULL) == 1.0);
  CHECK(p_index_write_units(&k_ks, gsi, &in_g, &in_g2) == 2.0);
  CHECK(p_index_write_units(&k_ks, gsi, &in_g, &plain) == 1.0);
  /* unchanged overwrite; a non-projected attribute changed (KEYS_ONLY) */
  CHECK(p_index_write_units(&k_ks, gsi, &in_g, &in_g) == 0.0);
  CHECK(p_index_write_units(&k_ks, gsi, &in_g, &in_g_more) == 0.0);
  /* LSI INCLUDE x: x changes -> charged; z changes -> not */
  dv_value l1 = item(a, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"l\":{\"S\":\"a\"},\"x\":{\"S\":\"1\"}}");
  dv_value l2 = item(a, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"l\":{\"S\":\"a\"},\"x\":{\"S\":\"2\"}}");
  dv_value l3 = item(a, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"l\":{\"S\":\"a\"},\"x\":{\"S\":\"2\"},\"z\":{\"N\":\"3\"}}");
  dv_value l4 = item(a, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"l\":{\"S\":\"a\"}}");
  CHECK(p_index_write_units(&k_ks, lsi, &l1, &l2) == 1.0);
  CHECK(p_index_write_units(&k_ks, lsi, &l2, &l3) == 0.0);
  CHECK(p_index_write_units(&k_ks, lsi, &l2, &l4) == 1.0); /* x removed: the entry changed */
  /* ALL: entry size = item size, rounded up per KB */
  char *pad = malloc(3000);
  memset(pad, 'q', 2999);
  pad[2999] = '\0';
  char *text = malloc(3200);
  snprintf(text, 3200, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"b\":{\"B\":\"AQ==\"},\"pad\":{\"S\":\"%s\"}}", pad);
  dv_value big = item(a, text);
  CHECK(p_index_write_units(&k_ks, all, NULL, &big) == 3.0);
  CHECK(p_index_write_units(&k_ks, gsi, NULL, &big) == 0.0);
  free(text);
  free(pad);
  dv_arena_free(a);
}

static void test_capacity_json(void) {
  dv_arena *a = dv_arena_new();
  p_index *idx;
  size_t n;
  load(a, &idx, &n);
  double units[3] = {1.0, 2.0, 0.0};
  CHECK(p_consumed_capacity_indexed("Music", 1.0, idx, units, n, P_RCC_NONE) == NULL);
  json_t *c = p_consumed_capacity_indexed("Music", 1.0, idx, units, n, P_RCC_TOTAL);
  char *s = dump(c);
  CHECK_EQ_STR(s, "{\"TableName\":\"Music\",\"CapacityUnits\":4.0}");
  free(s);
  json_decref(c);
  c = p_consumed_capacity_indexed("Music", 1.0, idx, units, n, P_RCC_INDEXES);
  s = dump(c);
  CHECK_EQ_STR(s,
               "{\"TableName\":\"Music\",\"CapacityUnits\":4.0,\"Table\":{\"CapacityUnits\":1.0},"
               "\"LocalSecondaryIndexes\":{\"byL\":{\"CapacityUnits\":1.0}},\"GlobalSecondaryIndexes\":{\"byG\":"
               "{\"CapacityUnits\":2.0}}}");
  free(s);
  json_decref(c);
  double none[3] = {0, 0, 0};
  c = p_consumed_capacity_indexed("Music", 2.0, idx, none, n, P_RCC_INDEXES);
  s = dump(c);
  CHECK_EQ_STR(s, "{\"TableName\":\"Music\",\"CapacityUnits\":2.0,\"Table\":{\"CapacityUnits\":2.0}}");
  free(s);
  json_decref(c);
  /* reads */
  CHECK(p_consumed_capacity_read("Music", &idx[1], 0.5, P_RCC_NONE) == NULL);
  c = p_consumed_capacity_read("Music", &idx[1], 0.5, P_RCC_INDEXES);
  s = dump(c);
  CHECK_EQ_STR(s,
               "{\"TableName\":\"Music\",\"CapacityUnits\":0.5,\"Table\":{\"CapacityUnits\":0.0},"
               "\"GlobalSecondaryIndexes\":{\"byG\":{\"CapacityUnits\":0.5}}}");
  free(s);
  json_decref(c);
  c = p_consumed_capacity_read("Music", &idx[0], 1.5, P_RCC_INDEXES);
  s = dump(c);
  CHECK_EQ_STR(s,
               "{\"TableName\":\"Music\",\"CapacityUnits\":1.5,\"Table\":{\"CapacityUnits\":0.0},"
               "\"LocalSecondaryIndexes\":{\"byL\":{\"CapacityUnits\":1.5}}}");
  free(s);
  json_decref(c);
  c = p_consumed_capacity_read("Music", &idx[0], 1.5, P_RCC_TOTAL);
  s = dump(c);
  CHECK_EQ_STR(s, "{\"TableName\":\"Music\",\"CapacityUnits\":1.5}");
  free(s);
  json_decref(c);
  c = p_consumed_capacity_read("Music", NULL, 1.0, P_RCC_INDEXES);
  s = dump(c);
  CHECK_EQ_STR(s, "{\"TableName\":\"Music\",\"CapacityUnits\":1.0,\"Table\":{\"CapacityUnits\":1.0}}");
  free(s);
  json_decref(c);
  dv_arena_free(a);
}

/* ---- reads ----------------------------------------------------------------------------------------- */

static int fetch_of(const p_index *idx, size_t n, const char *body_text, const char *index) {
  dv_arena *a = dv_arena_new();
  json_t *b = parse(body_text);
  p_query q;
  p_error e;
  p_error_init(&e);
  int r = -1;
  if (p_parse_scan(b, a, &q, &e) == 0) r = p_index_needs_fetch(&k_ks, p_index_find(idx, n, index), &q);
  else fprintf(stderr, "scan parse: %s\n", e.msg);
  p_error_clear(&e);
  json_decref(b);
  dv_arena_free(a);
  return r;
}

static void test_reads(void) {
  dv_arena *a = dv_arena_new();
  p_index *idx;
  size_t n;
  load(a, &idx, &n);
  CHECK_EQ_INT(fetch_of(idx, n, "{\"TableName\":\"Music\",\"IndexName\":\"byL\"}", "byL"), 0);
  CHECK_EQ_INT(fetch_of(idx, n, "{\"TableName\":\"Music\",\"IndexName\":\"byL\",\"Select\":\"ALL_ATTRIBUTES\"}", "byL"), 1);
  CHECK_EQ_INT(fetch_of(idx, n, "{\"TableName\":\"Music\",\"IndexName\":\"byL\",\"Select\":\"ALL_PROJECTED_ATTRIBUTES\"}", "byL"), 0);
  CHECK_EQ_INT(fetch_of(idx, n, "{\"TableName\":\"Music\",\"IndexName\":\"byL\",\"ProjectionExpression\":\"x, l, pk\"}", "byL"), 0);
  CHECK_EQ_INT(fetch_of(idx, n, "{\"TableName\":\"Music\",\"IndexName\":\"byL\",\"ProjectionExpression\":\"x, y\"}", "byL"), 1);
  CHECK_EQ_INT(fetch_of(idx, n,
                        "{\"TableName\":\"Music\",\"IndexName\":\"byL\",\"Select\":\"COUNT\",\"FilterExpression\":"
                        "\"NOT (x = :v AND contains(y, :v))\",\"ExpressionAttributeValues\":{\":v\":{\"S\":\"1\"}}}",
                        "byL"),
               1);
  CHECK_EQ_INT(fetch_of(idx, n,
                        "{\"TableName\":\"Music\",\"IndexName\":\"byL\",\"ScanFilter\":{\"x\":{\"ComparisonOperator\":"
                        "\"NOT_NULL\"}}}",
                        "byL"),
               0);
  CHECK_EQ_INT(fetch_of(idx, n, "{\"TableName\":\"Music\",\"IndexName\":\"byG\",\"ProjectionExpression\":\"zz\"}", "byG"), 0);
  CHECK_EQ_INT(fetch_of(idx, n, "{\"TableName\":\"Music\",\"Select\":\"ALL_ATTRIBUTES\"}", NULL), 0);

  /* LastEvaluatedKey of index entries: table keys + index keys, each once */
  dv_value entry = item(a, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"g\":{\"S\":\"a\"},\"gr\":{\"N\":\"2\"},\"x\":{\"S\":\"1\"}}");
  dv_value k = p_index_item_key(&k_ks, &idx[1], &entry, a);
  json_t *j = p_item_to_json(&k);
  char *s = dump(j);
  CHECK_EQ_STR(s, "{\"g\":{\"S\":\"a\"},\"gr\":{\"N\":\"2\"},\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"}}");
  free(s);
  json_decref(j);
  dv_value le = item(a, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"l\":{\"S\":\"a\"},\"x\":{\"S\":\"1\"}}");
  k = p_index_item_key(&k_ks, &idx[0], &le, a);
  CHECK_EQ_INT(k.n, 3); /* pk once */
  k = p_index_item_key(&k_ks, NULL, &le, a);
  CHECK_EQ_INT(k.n, 2);
  /* an inverted GSI (hash sk, range pk) shares both names */
  p_index inv = {"inv", 1, {"sk", DV_N, "pk", DV_S}, P_PROJ_ALL, NULL, 0, 0};
  k = p_index_item_key(&k_ks, &inv, &le, a);
  CHECK_EQ_INT(k.n, 2);

  /* p_check_query fills which and the range in the index's terms */
  json_t *b = parse(
      "{\"TableName\":\"Music\",\"IndexName\":\"byG\",\"KeyConditionExpression\":\"g = :g AND gr >= :r\","
      "\"ExpressionAttributeValues\":{\":g\":{\"S\":\"a\"},\":r\":{\"N\":\"5\"}},\"ExclusiveStartKey\":"
      "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"g\":{\"S\":\"a\"},\"gr\":{\"N\":\"6\"}}}");
  p_query q;
  p_query_range rg;
  const p_index *which = NULL;
  p_error e;
  p_error_init(&e);
  CHECK_EQ_INT(p_parse_query(b, a, &q, &e), 0);
  CHECK_EQ_INT(q.select_given, 0);
  CHECK_EQ_INT(p_check_query(&k_ks, idx, n, &q, a, &rg, &which, &e), 0);
  CHECK(which == &idx[1]);
  CHECK(rg.lo && dv_compare(rg.lo, &(dv_value){.type = DV_N, .n = 1, .u.bytes = "5"}) == 0);
  CHECK_EQ_INT(rg.lo_excl, 0);
  CHECK_EQ_INT(rg.one_row, 0);
  /* the same request against a table without that index */
  CHECK_EQ_INT(p_check_query(&k_ks, NULL, 0, &q, a, &rg, &which, &e), -1);
  CHECK_EQ_STR(e.msg, "The table does not have the specified index: byG");
  CHECK(which == NULL);
  p_error_clear(&e);
  json_decref(b);
  /* Scan: which */
  b = parse("{\"TableName\":\"Music\",\"IndexName\":\"byL\",\"ConsistentRead\":true}");
  CHECK_EQ_INT(p_parse_scan(b, a, &q, &e), 0);
  CHECK_EQ_INT(p_check_scan(&k_ks, idx, n, &q, &which, &e), 0);
  CHECK(which == &idx[0]);
  json_decref(b);
  b = parse("{\"TableName\":\"Music\",\"IndexName\":\"byAll\"}");
  CHECK_EQ_INT(p_parse_scan(b, a, &q, &e), 0);
  CHECK_EQ_INT(p_check_scan(&k_ks, idx, n, &q, &which, &e), -1);
  CHECK_EQ_STR(e.msg, "Cannot read from backfilling global secondary index: byAll");
  p_error_clear(&e);
  json_decref(b);
  dv_arena_free(a);
}

/* ---- UpdateTable ------------------------------------------------------------------------------------ */

static void test_update_table(void) {
  dv_arena *a = dv_arena_new();
  json_t *meta = parse(k_meta);
  /* finish the backfill first: a CREATING GSI blocks another Create */
  json_t *m = p_meta_set_index_status(meta, "byAll", "ACTIVE", 0);
  json_t *b = parse(
      "{\"TableName\":\"Music\",\"AttributeDefinitions\":[{\"AttributeName\":\"n\",\"AttributeType\":\"N\"}],"
      "\"GlobalSecondaryIndexUpdates\":[{\"Create\":{\"IndexName\":\"byN\",\"KeySchema\":[{\"AttributeName\":"
      "\"n\",\"KeyType\":\"HASH\"}],\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"},\"ProvisionedThroughput\":"
      "{\"ReadCapacityUnits\":2,\"WriteCapacityUnits\":2}}}]}");
  p_update_table u;
  p_error e;
  p_error_init(&e);
  CHECK_EQ_INT(p_parse_update_table(b, a, &u, &e), 0);
  CHECK_EQ_STR(u.gsi_create, "byN");
  CHECK(u.gsi_delete == NULL);
  json_t *nm = NULL;
  CHECK_EQ_INT(p_check_update_table(m, &u, &nm, &e), 0);
  p_index *idx;
  size_t n;
  CHECK_EQ_INT(p_table_indexes(nm, a, &idx, &n), 0);
  CHECK_EQ_INT(n, 4);
  const p_index *x = p_index_find(idx, n, "byN");
  CHECK(x && x->creating && x->key.hash_type == DV_N && x->global);
  /* the caller finishes it */
  json_t *done = p_meta_set_index_status(nm, "byN", "ACTIVE", 0);
  CHECK_EQ_INT(p_table_indexes(done, a, &idx, &n), 0);
  CHECK_EQ_INT(p_index_find(idx, n, "byN")->creating, 0);
  /* a second Create while byN is CREATING */
  json_t *nm2 = NULL;
  CHECK_EQ_INT(p_check_update_table(nm, &u, &nm2, &e), -1);
  CHECK_EQ_INT(e.code, P_LIMIT_EXCEEDED);
  json_decref(u.changes);
  json_decref(b);
  /* delete it again: its definition goes */
  b = parse("{\"TableName\":\"Music\",\"GlobalSecondaryIndexUpdates\":[{\"Delete\":{\"IndexName\":\"byN\"}}]}");
  CHECK_EQ_INT(p_parse_update_table(b, a, &u, &e), 0);
  CHECK_EQ_STR(u.gsi_delete, "byN");
  CHECK_EQ_INT(p_check_update_table(done, &u, &nm2, &e), 0);
  CHECK(p_table_indexes(nm2, a, &idx, &n) == 0 && n == 3 && !p_index_find(idx, n, "byN"));
  const json_t *defs = json_object_get(nm2, "AttributeDefinitions");
  int has_n = 0;
  size_t i;
  const json_t *d;
  json_array_foreach(defs, i, d) has_n |= !strcmp(json_string_value(json_object_get(d, "AttributeName")), "n");
  CHECK_EQ_INT(has_n, 0);
  CHECK_EQ_INT(json_array_size(defs), 6);
  json_decref(u.changes);
  json_decref(b);
  json_decref(nm2);
  json_decref(done);
  json_decref(nm);
  json_decref(m);
  json_decref(meta);
  p_error_clear(&e);
  dv_arena_free(a);
}

/* ---- ItemCollectionMetrics ---------------------------------------------------------------- */

static void test_collection_metrics(void) {
  dv_arena *a = dv_arena_new();
  p_index *idx;
  size_t n;
  load(a, &idx, &n);
  CHECK_EQ_INT(p_indexes_have_lsi(idx, n), 1);
  size_t n_gsi = 0;
  for (size_t i = 0; i < n; i++) n_gsi += idx[i].global != 0;
  CHECK_EQ_INT(p_indexes_have_lsi(idx + (n - n_gsi), n_gsi), 0); /* the GSIs follow the LSIs */
  CHECK_EQ_INT(p_indexes_have_lsi(NULL, 0), 0);
  p_key_schema ks = {"Artist", DV_S, "SongTitle", DV_S};
  dv_value it = item(a, "{\"Artist\":{\"S\":\"Acme\"},\"SongTitle\":{\"S\":\"x\"},\"n\":{\"N\":\"1\"}}");
  json_t *m = p_item_collection_metrics(&ks, &it);
  char *s = dump(m);
  CHECK_EQ_STR(s, "{\"ItemCollectionKey\":{\"Artist\":{\"S\":\"Acme\"}},\"SizeEstimateRangeGB\":[0,1]}");
  free(s);
  json_decref(m);
  dv_value nokey = item(a, "{\"n\":{\"N\":\"1\"}}");
  CHECK(p_item_collection_metrics(&ks, &nokey) == NULL);
  dv_arena_free(a);
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {{"table_indexes", test_table_indexes},
                                  {"meta_status", test_meta_status},
                                  {"description", test_description},
                                  {"create_round_trip", test_create_round_trip},
                                  {"write_checks", test_write_checks},
                                  {"write_units", test_write_units},
                                  {"capacity_json", test_capacity_json},
                                  {"reads", test_reads},
                                  {"update_table", test_update_table},
                                  {"collection_metrics", test_collection_metrics},
                                  {NULL, NULL}};
  return tl_run(tests, argc, argv);
}
