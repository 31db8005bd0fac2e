/*
 * control.c -- the control plane's requests and answers (operations.md
 * 4.1-4.4): CreateTable, DescribeTable/DeleteTable ({"TableName"}),
 * ListTables, and the TableDescription they return.
 *
 * Table meta: CreateTable's answer to "what must DescribeTable echo beyond
 * the key schema" is one JSON object, which the server stores as the table's
 * opaque meta bytes and hands back to p_table_description. Its members
 * (all optional unless marked):
 *
 *   member                     JSON      meaning
 *   AttributeDefinitions *     array     [{AttributeName, AttributeType}] as sent
 *   KeySchema                  array     the table's [{AttributeName, KeyType}] (the key
 *                                        itself is the catalog's; this copy tells
 *                                        UpdateTable which definitions a table key
 *                                        uses; absent in metas made before indexes)
 *   BillingMode *              string    "PROVISIONED" | "PAY_PER_REQUEST"
 *   ProvisionedThroughput      object    {ReadCapacityUnits, WriteCapacityUnits}
 *                                        (provisioned tables only)
 *   TableId                    string    lowercase UUID v4 (p_create_table_set_id)
 *   DeletionProtectionEnabled  boolean   echoed
 *   OnDemandThroughput         object    echoed
 *   WarmThroughput             object    echoed
 *   SSESpecification, Tags,    as sent   kept (not shown by DescribeTable)
 *   TableClass, ResourcePolicy
 *   StreamSpecification        object    {StreamEnabled:true, StreamViewType} while a
 *                                        stream is enabled (absent otherwise)
 *   LatestStreamArn,           string    the newest stream's ARN and label (set by the
 *   LatestStreamLabel                    server; they stay after a disable)
 *   TimeToLive                 object    {AttributeName} while TTL is enabled
 *   LocalSecondaryIndexes      array     [{IndexName, KeySchema, Projection}]
 *   GlobalSecondaryIndexes     array     [{IndexName, KeySchema, Projection,
 *                                        ProvisionedThroughput, IndexStatus,
 *                                        Backfilling}] (details: indexes.c)
 *
 * UpdateTable and UpdateTimeToLive (update_table.c) rewrite the meta in the
 * same representation.
 *
 * Unknown members are ignored when read back, so later releases may add
 * some without a format change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol_int.h"

#define INVALID "One or more parameter values were invalid: "
#define MAX_CAPACITY 1000000000000LL /* RCU / WCU upper bound (operations.md 4.1) */

/* ---- shapes ------------------------------------------------------------------ */

static const p__member k_attrdef_members[] = {
    {"AttributeName", &p__sh_string}, {"AttributeType", &p__sh_string}, {NULL, NULL}};
static const p__shape sh_attrdef = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.AttributeDefinition",
                                    NULL, k_attrdef_members};
const p__shape p__sh_attrdefs = {P_SH_LIST, NULL, &sh_attrdef, NULL};

static const p__member k_kse_members[] = {
    {"AttributeName", &p__sh_string}, {"KeyType", &p__sh_string}, {NULL, NULL}};
static const p__shape sh_kse = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.KeySchemaElement", NULL,
                                k_kse_members};
const p__shape p__sh_key_schema = {P_SH_LIST, NULL, &sh_kse, NULL};

static const p__member k_pt_members[] = {
    {"ReadCapacityUnits", &p__sh_long}, {"WriteCapacityUnits", &p__sh_long}, {NULL, NULL}};
const p__shape p__sh_pt = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.ProvisionedThroughput", NULL,
                           k_pt_members};

static const p__member k_odt_members[] = {
    {"MaxReadRequestUnits", &p__sh_long}, {"MaxWriteRequestUnits", &p__sh_long}, {NULL, NULL}};
const p__shape p__sh_odt = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.OnDemandThroughput", NULL,
                            k_odt_members};
static const p__member k_wt_members[] = {
    {"ReadUnitsPerSecond", &p__sh_long}, {"WriteUnitsPerSecond", &p__sh_long}, {NULL, NULL}};
const p__shape p__sh_wt = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.WarmThroughput", NULL,
                           k_wt_members};

static const p__member k_proj_members[] = {
    {"ProjectionType", &p__sh_string}, {"NonKeyAttributes", &p__sh_string_list}, {NULL, NULL}};
const p__shape p__sh_proj = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.Projection", NULL,
                             k_proj_members};
static const p__member k_lsi_members[] = {{"IndexName", &p__sh_string},
                                          {"KeySchema", &p__sh_key_schema},
                                          {"Projection", &p__sh_proj},
                                          {NULL, NULL}};
static const p__shape sh_lsi = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.LocalSecondaryIndex",
                                NULL, k_lsi_members};
static const p__shape sh_lsis = {P_SH_LIST, NULL, &sh_lsi, NULL};
static const p__member k_gsi_members[] = {{"IndexName", &p__sh_string},
                                          {"KeySchema", &p__sh_key_schema},
                                          {"Projection", &p__sh_proj},
                                          {"ProvisionedThroughput", &p__sh_pt},
                                          {"OnDemandThroughput", &p__sh_odt},
                                          {"WarmThroughput", &p__sh_wt},
                                          {NULL, NULL}};
static const p__shape sh_gsi = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.GlobalSecondaryIndex",
                                NULL, k_gsi_members};
static const p__shape sh_gsis = {P_SH_LIST, NULL, &sh_gsi, NULL};

static const p__member k_stream_members[] = {
    {"StreamEnabled", &p__sh_bool}, {"StreamViewType", &p__sh_string}, {NULL, NULL}};
const p__shape p__sh_stream = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.StreamSpecification",
                               NULL, k_stream_members};
static const p__member k_sse_members[] = {
    {"Enabled", &p__sh_bool}, {"SSEType", &p__sh_string}, {"KMSMasterKeyId", &p__sh_string}, {NULL, NULL}};
const p__shape p__sh_sse = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.SSESpecification", NULL,
                            k_sse_members};
static const p__member k_tag_members[] = {{"Key", &p__sh_string}, {"Value", &p__sh_string}, {NULL, NULL}};
static const p__shape sh_tag = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.Tag", NULL,
                                k_tag_members};
static const p__shape sh_tags = {P_SH_LIST, NULL, &sh_tag, NULL};

static const p__member k_create_members[] = {{"AttributeDefinitions", &p__sh_attrdefs},
                                             {"TableName", &p__sh_string},
                                             {"KeySchema", &p__sh_key_schema},
                                             {"LocalSecondaryIndexes", &sh_lsis},
                                             {"GlobalSecondaryIndexes", &sh_gsis},
                                             {"BillingMode", &p__sh_string},
                                             {"ProvisionedThroughput", &p__sh_pt},
                                             {"StreamSpecification", &p__sh_stream},
                                             {"SSESpecification", &p__sh_sse},
                                             {"Tags", &sh_tags},
                                             {"TableClass", &p__sh_string},
                                             {"DeletionProtectionEnabled", &p__sh_bool},
                                             {"OnDemandThroughput", &p__sh_odt},
                                             {"WarmThroughput", &p__sh_wt},
                                             {"ResourcePolicy", &p__sh_string},
                                             {NULL, NULL}};
static const p__shape sh_create = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.CreateTableRequest",
                                   NULL, k_create_members};

static const p__member k_name_members[] = {{"TableName", &p__sh_string}, {NULL, NULL}};
static const p__shape sh_name_req = {
    P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.DescribeTableRequest", NULL, k_name_members};

static const p__member k_list_members[] = {
    {"ExclusiveStartTableName", &p__sh_string}, {"Limit", &p__sh_integer}, {NULL, NULL}};
static const p__shape sh_list_req = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.ListTablesRequest",
                                     NULL, k_list_members};

/* ---- helpers ------------------------------------------------------------------ */

/* Body must be a JSON object, then match its shape. */
static int body_check(const json_t *body, const p__shape *sh, p_error *err) {
  if (!json_is_object(body)) return p_error_set(err, P_SERIALIZATION, NULL);
  return p__shape_check(body, sh, err);
}

long long p__long_value(const json_t *j) {
  if (json_is_integer(j)) return (long long)json_integer_value(j);
  double d = json_real_value(j);
  if (d >= 9.2e18) return INT64_MAX;
  if (d <= -9.2e18) return INT64_MIN;
  return (long long)d;
}

int p__throughput_bounds(const json_t *pt, p_error *err) {
  long long r = p__long_value(p__member_get(pt, "ReadCapacityUnits"));
  long long w = p__long_value(p__member_get(pt, "WriteCapacityUnits"));
  if (r > MAX_CAPACITY)
    return p_error_set(err, P_VALIDATION, "Given value %lld for ReadCapacityUnits is out of bounds", r);
  if (w > MAX_CAPACITY)
    return p_error_set(err, P_VALIDATION, "Given value %lld for WriteCapacityUnits is out of bounds", w);
  return 0;
}

static bool str_is(const json_t *j, const char *s) {
  return json_is_string(j) && !strcmp(json_string_value(j), s);
}

/* Table name of a table operation (3..255, pattern), old form at path. */
void p__table_name_constraints(p__verrs *v, const json_t *name, const char *path) {
  p__verr_string(v, json_string_value(name), json_string_length(name), path, 3, 255, P_TABLE_NAME_PATTERN);
}

static int required_table_name(const json_t *body, p_error *err) {
  if (!p__member_get(body, "TableName"))
    return p_error_set(err, P_VALIDATION,
                       "The parameter 'TableName' is required but was not present in the request");
  return 0;
}

/* Java's String.hashCode over UTF-16 units. */
int32_t p__java_string_hash(const char *s) {
  uint32_t h = 0;
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    uint32_t cp;
    int n;
    if (p[0] < 0x80)
      cp = p[0], n = 1;
    else if (p[0] < 0xE0 && p[1])
      cp = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F), n = 2;
    else if (p[0] < 0xF0 && p[1] && p[2])
      cp = (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F), n = 3;
    else if (p[1] && p[2] && p[3])
      cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 | (uint32_t)(p[2] & 0x3F) << 6 |
           (p[3] & 0x3F),
      n = 4;
    else
      cp = p[0], n = 1;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      h = h * 31 + (0xD800 + (cp >> 10));
      h = h * 31 + (0xDC00 + (cp & 0x3FF));
    } else {
      h = h * 31 + cp;
    }
    p += n;
  }
  return (int32_t)h;
}

/* KeySchemaElement@<hex hashCode> as AWS SDK v1's model objects print. */
static uint32_t kse_hash(const json_t *e) {
  const json_t *n = p__member_get(e, "AttributeName"), *t = p__member_get(e, "KeyType");
  uint32_t h = 1;
  h = 31 * h + (uint32_t)(n && json_is_string(n) ? p__java_string_hash(json_string_value(n)) : 0);
  h = 31 * h + (uint32_t)(t && json_is_string(t) ? p__java_string_hash(json_string_value(t)) : 0);
  return h;
}

static json_t *kse_json(const char *name, const char *type);

/* ---- CreateTable ----------------------------------------------------------------- */

void p__key_schema_constraints(p__verrs *v, const json_t *ks, const char *path) {
  char p[160];
  if (!ks) {
    p__verr_null(v, path);
    return;
  }
  size_t n = json_array_size(ks);
  size_t i;
  const json_t *e;
  json_array_foreach(ks, i, e) {
    if (json_is_null(e)) {
      snprintf(p, sizeof p, "%s.%zu.member", path, i + 1);
      p__verr_null(v, p);
      continue;
    }
    const json_t *an = p__member_get(e, "AttributeName"), *kt = p__member_get(e, "KeyType");
    snprintf(p, sizeof p, "%s.%zu.member.attributeName", path, i + 1);
    if (!an)
      p__verr_null(v, p);
    else
      p__verr_string(v, json_string_value(an), json_string_length(an), p, 1, 255, NULL);
    snprintf(p, sizeof p, "%s.%zu.member.keyType", path, i + 1);
    if (!kt)
      p__verr_null(v, p);
    else if (!str_is(kt, "HASH") && !str_is(kt, "RANGE"))
      p__verr_enum(v, json_string_value(kt), p, "HASH, RANGE");
  }
  if (n == 0) {
    p__verrs_add(v,
                 "Value '[]' at '%s' failed to satisfy constraint: Member must have length greater than or "
                 "equal to 1",
                 path);
  } else if (n > 2) {
    p__sbuf b = {0};
    for (i = 0; i < n; i++) {
      if (i) p__sbuf_add(&b, ", ", 2);
      p__sbuf_addf(&b, "com.amazonaws.dynamodb.v20120810.KeySchemaElement@%x",
                   kse_hash(json_array_get(ks, i)));
    }
    p__verrs_add(v,
                 "Value '[%s]' at '%s' failed to satisfy constraint: Member must have length less than or "
                 "equal to 2",
                 b.p, path);
    free(b.p);
  }
}

void p__throughput_constraints(p__verrs *v, const json_t *pt, const char *path) {
  static const char *const members[2] = {"WriteCapacityUnits", "ReadCapacityUnits"};
  static const char *const paths[2] = {"writeCapacityUnits", "readCapacityUnits"};
  for (int k = 0; k < 2; k++) {
    char p[160];
    snprintf(p, sizeof p, "%s.%s", path, paths[k]);
    const json_t *x = p__member_get(pt, members[k]);
    if (!x)
      p__verr_null(v, p);
    else if (p__long_value(x) < 1)
      p__verrs_add(
          v,
          "Value '%lld' at '%s' failed to satisfy constraint: Member must have value greater than or "
          "equal to 1",
          p__long_value(x), p);
  }
}

/* The elements of LocalSecondaryIndexes / GlobalSecondaryIndexes: indexName,
 * keySchema, projection (, provisionedThroughput), in the model's order. */
static void index_list_constraints(p__verrs *v, const json_t *list, const char *path, int global) {
  char p[192];
  size_t i;
  const json_t *e;
  json_array_foreach(list, i, e) {
    if (json_is_null(e)) {
      snprintf(p, sizeof p, "%s.%zu.member", path, i + 1);
      p__verr_null(v, p);
      continue;
    }
    snprintf(p, sizeof p, "%s.%zu.member.indexName", path, i + 1);
    p__index_name_constraints(v, p__member_get(e, "IndexName"), p);
    snprintf(p, sizeof p, "%s.%zu.member.keySchema", path, i + 1);
    p__key_schema_constraints(v, p__member_get(e, "KeySchema"), p);
    snprintf(p, sizeof p, "%s.%zu.member.projection", path, i + 1);
    p__projection_constraints(v, p__member_get(e, "Projection"), p);
    const json_t *pt = global ? p__member_get(e, "ProvisionedThroughput") : NULL;
    snprintf(p, sizeof p, "%s.%zu.member.provisionedThroughput", path, i + 1);
    if (pt) p__throughput_constraints(v, pt, p);
  }
}

static int create_constraints(const json_t *body, p_error *err) {
  p__verrs v;
  p__verrs_init(&v);
  char p[160];
  const json_t *defs = p__member_get(body, "AttributeDefinitions");
  if (!defs) {
    p__verr_null(&v, "attributeDefinitions");
  } else {
    size_t i;
    const json_t *e;
    json_array_foreach(defs, i, e) {
      if (json_is_null(e)) {
        snprintf(p, sizeof p, "attributeDefinitions.%zu.member", i + 1);
        p__verr_null(&v, p);
        continue;
      }
      const json_t *an = p__member_get(e, "AttributeName"), *at = p__member_get(e, "AttributeType");
      snprintf(p, sizeof p, "attributeDefinitions.%zu.member.attributeName", i + 1);
      if (!an)
        p__verr_null(&v, p);
      else
        p__verr_string(&v, json_string_value(an), json_string_length(an), p, 1, 255, NULL);
      snprintf(p, sizeof p, "attributeDefinitions.%zu.member.attributeType", i + 1);
      if (!at)
        p__verr_null(&v, p);
      else if (!str_is(at, "S") && !str_is(at, "N") && !str_is(at, "B"))
        p__verr_enum(&v, json_string_value(at), p, "B, N, S");
    }
  }
  p__table_name_constraints(&v, p__member_get(body, "TableName"), "tableName");
  p__key_schema_constraints(&v, p__member_get(body, "KeySchema"), "keySchema");
  index_list_constraints(&v, p__member_get(body, "LocalSecondaryIndexes"), "localSecondaryIndexes", 0);
  index_list_constraints(&v, p__member_get(body, "GlobalSecondaryIndexes"), "globalSecondaryIndexes", 1);
  const json_t *bm = p__member_get(body, "BillingMode");
  if (bm && !str_is(bm, "PROVISIONED") && !str_is(bm, "PAY_PER_REQUEST"))
    p__verr_enum(&v, json_string_value(bm), "billingMode", "PROVISIONED, PAY_PER_REQUEST");
  const json_t *pt = p__member_get(body, "ProvisionedThroughput");
  if (pt) p__throughput_constraints(&v, pt, "provisionedThroughput");
  const json_t *ss = p__member_get(body, "StreamSpecification");
  if (ss) p__stream_spec_constraints(&v, ss);
  const json_t *sse = p__member_get(body, "SSESpecification");
  if (sse) {
    const json_t *t = p__member_get(sse, "SSEType");
    if (t && !str_is(t, "AES256") && !str_is(t, "KMS"))
      p__verr_enum(&v, json_string_value(t), "sSESpecification.sSEType", "AES256, KMS");
  }
  const json_t *tags = p__member_get(body, "Tags");
  if (tags) {
    size_t i;
    const json_t *e;
    json_array_foreach(tags, i, e) {
      if (json_is_null(e)) {
        snprintf(p, sizeof p, "tags.%zu.member", i + 1);
        p__verr_null(&v, p);
        continue;
      }
      const json_t *k = p__member_get(e, "Key"), *val = p__member_get(e, "Value");
      snprintf(p, sizeof p, "tags.%zu.member.key", i + 1);
      if (!k)
        p__verr_null(&v, p);
      else
        p__verr_string(&v, json_string_value(k), json_string_length(k), p, 1, 128, NULL);
      snprintf(p, sizeof p, "tags.%zu.member.value", i + 1);
      if (!val)
        p__verr_null(&v, p);
      else
        p__verr_string(&v, json_string_value(val), json_string_length(val), p, 0, 256, NULL);
    }
  }
  const json_t *tc = p__member_get(body, "TableClass");
  if (tc && !str_is(tc, "STANDARD") && !str_is(tc, "STANDARD_INFREQUENT_ACCESS"))
    p__verr_enum(&v, json_string_value(tc), "tableClass", "STANDARD, STANDARD_INFREQUENT_ACCESS");
  return p__verrs_finish(&v, err);
}

char *p__name_list(const json_t *list) {
  p__sbuf b = {0};
  p__sbuf_add(&b, "[", 1);
  size_t i;
  const json_t *e;
  int first = 1;
  json_array_foreach(list, i, e) {
    const json_t *n = p__member_get(e, "AttributeName");
    if (!n) continue;
    if (!first) p__sbuf_add(&b, ", ", 2);
    first = 0;
    p__sbuf_add(&b, json_string_value(n), json_string_length(n));
  }
  p__sbuf_add(&b, "]", 1);
  return b.p;
}

const json_t *p__find_def(const json_t *defs, const char *name) {
  size_t i;
  const json_t *e;
  json_array_foreach(defs, i, e) {
    const json_t *n = p__member_get(e, "AttributeName");
    if (n && !strcmp(json_string_value(n), name)) return e;
  }
  return NULL;
}

int p__key_schema_check(const json_t *ks, const json_t *defs, p_error *err) {
  size_t nk = json_array_size(ks);
  for (size_t i = 0; i < nk; i++) {
    const char *kn = json_string_value(p__member_get(json_array_get(ks, i), "AttributeName"));
    if (!p__find_def(defs, kn)) {
      char *kl = p__name_list(ks), *dl = p__name_list(defs);
      p_error_set(err, P_VALIDATION,
                  INVALID
                  "Some index key attributes are not defined in AttributeDefinitions. Keys: %s, "
                  "AttributeDefinitions: %s",
                  kl, dl);
      free(kl);
      free(dl);
      return -1;
    }
  }
  const json_t *k0 = json_array_get(ks, 0), *k1 = nk > 1 ? json_array_get(ks, 1) : NULL;
  const char *hash = json_string_value(p__member_get(k0, "AttributeName"));
  const char *range = k1 ? json_string_value(p__member_get(k1, "AttributeName")) : NULL;
  /* Key names are C strings in the catalog: a NUL inside one would cut it
   * (a dynafile limit, not DynamoDB's; no real schema has one). */
  for (size_t i = 0; i < nk; i++) {
    const json_t *an = p__member_get(json_array_get(ks, i), "AttributeName");
    if (json_string_length(an) != strlen(json_string_value(an)))
      return p_error_set(err, P_VALIDATION,
                         INVALID "dynafile does not support the NUL character in key attribute names");
  }
  if (range && !strcmp(hash, range))
    return p_error_set(err, P_VALIDATION,
                       "Both the Hash Key and the Range Key element in the KeySchema have the same name");
  if (!str_is(p__member_get(k0, "KeyType"), "HASH"))
    return p_error_set(err, P_VALIDATION,
                       "Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
  if (k1 && !str_is(p__member_get(k1, "KeyType"), "RANGE"))
    return p_error_set(err, P_VALIDATION,
                       "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type");
  return 0;
}

static dv_type def_type(const json_t *def) {
  const char *t = json_string_value(p__member_get(def, "AttributeType"));
  return dv_type_from_name(t, strlen(t));
}

/* Semantic checks of operations.md 4.1: index lists, stream, billing, the
 * table's key schema, definitions, then the indexes (indexes.c). */
static int create_semantics(const json_t *body, dv_arena *a, p_create_table *out, p_error *err) {
  const json_t *lsi = p__member_get(body, "LocalSecondaryIndexes");
  const json_t *gsi = p__member_get(body, "GlobalSecondaryIndexes");
  if (lsi && json_array_size(lsi) == 0)
    return p_error_set(err, P_VALIDATION, INVALID "List of LocalSecondaryIndexes is empty");
  if (gsi && json_array_size(gsi) == 0)
    return p_error_set(err, P_VALIDATION, INVALID "List of GlobalSecondaryIndexes is empty");
  const json_t *ss = p__member_get(body, "StreamSpecification");
  bool stream_on = ss && p__bool_value(p__member_get(ss, "StreamEnabled"));
  if (stream_on && !p__member_get(ss, "StreamViewType"))
    return p_error_set(err, P_VALIDATION,
                       INVALID "Table is being created with a stream enabled, UpdateViewType is required");
  if (ss && !stream_on && p__member_get(ss, "StreamViewType"))
    return p_error_set(
        err, P_VALIDATION,
        INVALID "Table is being created with a stream disabled, UpdateViewType should not be specified");

  const json_t *bm = p__member_get(body, "BillingMode");
  bool on_demand = bm && str_is(bm, "PAY_PER_REQUEST");
  const json_t *pt = p__member_get(body, "ProvisionedThroughput");
  if (on_demand && pt)
    return p_error_set(err, P_VALIDATION,
                       INVALID
                       "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when "
                       "BillingMode is PAY_PER_REQUEST");
  if (!on_demand && !pt)
    return p_error_set(err, P_VALIDATION,
                       INVALID
                       "ReadCapacityUnits and WriteCapacityUnits must both be specified when "
                       "BillingMode is PROVISIONED");
  if (pt && p__throughput_bounds(pt, err)) return -1;

  const json_t *defs = p__member_get(body, "AttributeDefinitions");
  const json_t *ks = p__member_get(body, "KeySchema");
  size_t nk = json_array_size(ks), nd = json_array_size(defs);
  if (nk > nd)
    return p_error_set(err, P_VALIDATION, "Invalid KeySchema: Some index key attribute have no definition");
  if (p__key_schema_check(ks, defs, err)) return -1;
  const json_t *k0 = json_array_get(ks, 0), *k1 = nk > 1 ? json_array_get(ks, 1) : NULL;
  const char *hash = json_string_value(p__member_get(k0, "AttributeName"));
  const char *range = k1 ? json_string_value(p__member_get(k1, "AttributeName")) : NULL;
  for (size_t i = 0; i < nd; i++)
    for (size_t j = 0; j < i; j++) {
      const char *x = json_string_value(p__member_get(json_array_get(defs, i), "AttributeName"));
      const char *y = json_string_value(p__member_get(json_array_get(defs, j), "AttributeName"));
      if (!strcmp(x, y))
        return p_error_set(err, P_VALIDATION,
                           INVALID "Duplicate AttributeName found in AttributeDefinitions: %s", x);
    }
  if (!lsi && !gsi && nd != nk)
    return p_error_set(err, P_VALIDATION,
                       INVALID
                       "Number of attributes in KeySchema does not exactly match number of attributes "
                       "defined in AttributeDefinitions");

  out->key.hash_name = dv_arena_strndup(a, hash, strlen(hash));
  out->key.hash_type = def_type(p__find_def(defs, hash));
  out->key.range_name = range ? dv_arena_strndup(a, range, strlen(range)) : NULL;
  out->key.range_type = range ? def_type(p__find_def(defs, range)) : DV_NONE;
  json_t *lsi_meta = NULL, *gsi_meta = NULL;
  if ((lsi || gsi) && p__create_indexes(body, &out->key, on_demand, a, &lsi_meta, &gsi_meta, out, err))
    return -1;

  /* The meta object (layout at the top of this file). */
  json_t *meta = json_object();
  json_t *adefs = json_array();
  for (size_t i = 0; i < nd; i++) {
    const json_t *d = json_array_get(defs, i);
    json_t *o = json_object();
    json_object_set(o, "AttributeName", (json_t *)p__member_get(d, "AttributeName"));
    json_object_set(o, "AttributeType", (json_t *)p__member_get(d, "AttributeType"));
    json_array_append_new(adefs, o);
  }
  json_object_set_new(meta, "AttributeDefinitions", adefs);
  json_t *kmeta = json_array();
  json_array_append_new(kmeta, kse_json(hash, "HASH"));
  if (range) json_array_append_new(kmeta, kse_json(range, "RANGE"));
  json_object_set_new(meta, "KeySchema", kmeta);
  json_object_set_new(meta, "BillingMode", json_string(on_demand ? "PAY_PER_REQUEST" : "PROVISIONED"));
  if (pt) {
    json_t *o = json_object();
    json_object_set_new(o, "ReadCapacityUnits",
                        json_integer(p__long_value(p__member_get(pt, "ReadCapacityUnits"))));
    json_object_set_new(o, "WriteCapacityUnits",
                        json_integer(p__long_value(p__member_get(pt, "WriteCapacityUnits"))));
    json_object_set_new(meta, "ProvisionedThroughput", o);
  }
  const json_t *dp = p__member_get(body, "DeletionProtectionEnabled");
  if (dp) json_object_set_new(meta, "DeletionProtectionEnabled", json_boolean(p__bool_value(dp)));
  if (lsi_meta) json_object_set_new(meta, "LocalSecondaryIndexes", lsi_meta);
  if (gsi_meta) json_object_set_new(meta, "GlobalSecondaryIndexes", gsi_meta);
  if (stream_on)
    json_object_set_new(meta, "StreamSpecification",
                        p__stream_spec_json(json_string_value(p__member_get(ss, "StreamViewType"))));
  static const char *const kept[] = {"OnDemandThroughput", "WarmThroughput", "SSESpecification", "Tags",
                                     "TableClass",         "ResourcePolicy"};
  for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
    const json_t *x = p__member_get(body, kept[i]);
    if (x) json_object_set_new(meta, kept[i], json_deep_copy(x));
  }
  out->meta = meta;
  return 0;
}

int p_parse_create_table(const json_t *body, const p_context *ctx, dv_arena *a, p_create_table *out,
                         p_error *err) {
  memset(out, 0, sizeof *out);
  if (body_check(body, &sh_create, err)) return -1;
  if (required_table_name(body, err)) return -1;
  if (create_constraints(body, err)) return -1;
  if (create_semantics(body, a, out, err)) return -1;
  size_t n;
  out->table_name = p__member_str(body, "TableName", a, &n);
  return 0;
}

void p_table_id_format(const uint8_t rand16[16], char out[37]) {
  uint8_t b[16];
  memcpy(b, rand16, 16);
  b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = hex[b[i] >> 4];
    out[o++] = hex[b[i] & 15];
  }
  out[o] = '\0';
}

void p_create_table_set_id(p_create_table *ct, const uint8_t rand16[16]) {
  char id[37];
  p_table_id_format(rand16, id);
  if (ct->meta) json_object_set_new(ct->meta, "TableId", json_string(id));
}

/* ---- DescribeTable / DeleteTable ----------------------------------------------- */

int p_parse_table_name(const json_t *body, dv_arena *a, const char **name, p_error *err) {
  *name = NULL;
  if (body_check(body, &sh_name_req, err)) return -1;
  if (required_table_name(body, err)) return -1;
  p__verrs v;
  p__verrs_init(&v);
  p__table_name_constraints(&v, p__member_get(body, "TableName"), "tableName");
  if (p__verrs_finish(&v, err)) return -1;
  *name = p__member_str(body, "TableName", a, NULL);
  return 0;
}

/* ---- ListTables ----------------------------------------------------------------- */

int p_parse_list_tables(const json_t *body, dv_arena *a, p_list_tables *out, p_error *err) {
  out->exclusive_start = NULL;
  out->limit = 100;
  if (body_check(body, &sh_list_req, err)) return -1;
  p__verrs v;
  p__verrs_init(&v);
  const json_t *es = p__member_get(body, "ExclusiveStartTableName");
  if (es) p__table_name_constraints(&v, es, "exclusiveStartTableName");
  const json_t *lim = p__member_get(body, "Limit");
  long long l = lim ? p__long_value(lim) : 100;
  if (lim && l < 1)
    p__verrs_add(
        &v,
        "Value '%lld' at 'limit' failed to satisfy constraint: Member must have value greater than or "
        "equal to 1",
        l);
  if (lim && l > 100)
    p__verrs_add(&v,
                 "Value '%lld' at 'limit' failed to satisfy constraint: Member must have value less than or "
                 "equal to 100",
                 l);
  if (p__verrs_finish(&v, err)) return -1;
  out->exclusive_start = es ? p__member_str(body, "ExclusiveStartTableName", a, NULL) : NULL;
  out->limit = (int)l;
  return 0;
}

/* ---- TableDescription ------------------------------------------------------------ */

static json_t *kse_json(const char *name, const char *type) {
  json_t *o = json_object();
  json_object_set_new(o, "AttributeName", json_string(name));
  json_object_set_new(o, "KeyType", json_string(type));
  return o;
}

json_t *p_table_description(const p_context *ctx, const char *name, const p_key_schema *key,
                            const json_t *meta, double created, const char *status, uint64_t item_count,
                            uint64_t size_bytes, const p_index_stats *stats, size_t n_stats) {
  json_t *d = json_object();
  const json_t *defs = p__member_get(meta, "AttributeDefinitions");
  if (defs) {
    json_object_set_new(d, "AttributeDefinitions", json_deep_copy(defs));
  } else { /* meta without definitions: rebuild them from the key schema */
    json_t *arr = json_array();
    const char *names[2] = {key->hash_name, key->range_name};
    dv_type types[2] = {key->hash_type, key->range_type};
    for (int i = 0; i < 2; i++) {
      if (!names[i]) continue;
      json_t *o = json_object();
      json_object_set_new(o, "AttributeName", json_string(names[i]));
      json_object_set_new(o, "AttributeType", json_string(dv_type_name(types[i])));
      json_array_append_new(arr, o);
    }
    json_object_set_new(d, "AttributeDefinitions", arr);
  }
  json_object_set_new(d, "TableName", json_string(name));
  json_t *ks = json_array();
  json_array_append_new(ks, kse_json(key->hash_name, "HASH"));
  if (key->range_name) json_array_append_new(ks, kse_json(key->range_name, "RANGE"));
  json_object_set_new(d, "KeySchema", ks);
  json_object_set_new(d, "TableStatus", json_string(status));
  json_object_set_new(d, "CreationDateTime", json_real(created));
  const json_t *pt = p__member_get(meta, "ProvisionedThroughput");
  bool on_demand = str_is(p__member_get(meta, "BillingMode"), "PAY_PER_REQUEST");
  json_t *o = json_object();
  json_object_set_new(o, "NumberOfDecreasesToday", json_integer(0));
  const json_t *r = pt && !on_demand ? p__member_get(pt, "ReadCapacityUnits") : NULL;
  const json_t *w = pt && !on_demand ? p__member_get(pt, "WriteCapacityUnits") : NULL;
  json_object_set_new(o, "ReadCapacityUnits", json_integer(r ? json_integer_value(r) : 0));
  json_object_set_new(o, "WriteCapacityUnits", json_integer(w ? json_integer_value(w) : 0));
  json_object_set_new(d, "ProvisionedThroughput", o);
  json_object_set_new(d, "TableSizeBytes", json_integer((json_int_t)size_bytes));
  json_object_set_new(d, "ItemCount", json_integer((json_int_t)item_count));
  char *arn = NULL;
  size_t alen = (size_t)snprintf(NULL, 0, "arn:aws:dynamodb:%s:%s:table/%s", ctx->region, ctx->account, name);
  arn = p__xmalloc(alen + 1);
  snprintf(arn, alen + 1, "arn:aws:dynamodb:%s:%s:table/%s", ctx->region, ctx->account, name);
  json_object_set_new(d, "TableArn", json_string(arn));
  const json_t *id = p__member_get(meta, "TableId");
  if (id) json_object_set_new(d, "TableId", json_deep_copy(id));
  if (on_demand) {
    json_t *b = json_object();
    json_object_set_new(b, "BillingMode", json_string("PAY_PER_REQUEST"));
    json_object_set_new(b, "LastUpdateToPayPerRequestDateTime", json_real(created));
    json_object_set_new(d, "BillingModeSummary", b);
  }
  p__describe_indexes(d, arn, meta, stats, n_stats);
  free(arn);
  /* Streams (streams-ttl.md 1.1): the specification only while enabled,
   * the latest stream's ARN and label as long as the server keeps them. */
  static const char *const stream_members[] = {"StreamSpecification", "LatestStreamLabel", "LatestStreamArn"};
  for (size_t i = 0; i < 3; i++) {
    const json_t *x = p__member_get(meta, stream_members[i]);
    if (x) json_object_set_new(d, stream_members[i], json_deep_copy(x));
  }
  const json_t *dp = p__member_get(meta, "DeletionProtectionEnabled");
  json_object_set_new(d, "DeletionProtectionEnabled", json_boolean(dp && json_is_true(dp)));
  static const char *const echoed[] = {"OnDemandThroughput", "WarmThroughput"};
  for (size_t i = 0; i < 2; i++) {
    const json_t *x = p__member_get(meta, echoed[i]);
    if (x) json_object_set_new(d, echoed[i], json_deep_copy(x));
  }
  return d;
}

/* ---- DescribeLimits / DescribeEndpoints -------------------------------------------- */

json_t *p_describe_limits(void) {
  json_t *o = json_object();
  json_object_set_new(o, "AccountMaxReadCapacityUnits", json_integer(80000));
  json_object_set_new(o, "AccountMaxWriteCapacityUnits", json_integer(80000));
  json_object_set_new(o, "TableMaxReadCapacityUnits", json_integer(40000));
  json_object_set_new(o, "TableMaxWriteCapacityUnits", json_integer(40000));
  return o;
}

json_t *p_describe_endpoints(const char *address) {
  json_t *e = json_object();
  json_object_set_new(e, "Address", json_string(address ? address : ""));
  json_object_set_new(e, "CachePeriodInMinutes", json_integer(1440));
  json_t *arr = json_array();
  json_array_append_new(arr, e);
  json_t *o = json_object();
  json_object_set_new(o, "Endpoints", arr);
  return o;
}

int p_parse_no_input(const json_t *body, p_error *err) {
  if (!json_is_object(body)) return p_error_set(err, P_SERIALIZATION, NULL);
  return 0;
}
