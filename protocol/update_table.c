/*
 * update_table.c -- UpdateTable, UpdateTimeToLive and DescribeTimeToLive
 * (operations.md 4.5-4.6, streams-ttl.md 1.2 and 7.1-7.2): the request
 * checks in protocol.md 2.1's order, the checks against the table's current
 * meta, and the rewritten meta.
 *
 * The meta is control.c's JSON object (layout at the top of control.c);
 * every change is applied in the representation CreateTable stores, so that
 * p_table_description shows the result without knowing how it came:
 *   BillingMode               "PROVISIONED" | "PAY_PER_REQUEST"
 *   ProvisionedThroughput     {ReadCapacityUnits, WriteCapacityUnits} as integers,
 *                             removed when the table goes on-demand
 *   DeletionProtectionEnabled boolean
 *   TableClass, SSESpecification  as sent (kept, not shown)
 *   OnDemandThroughput, WarmThroughput  members merged into the stored object
 *   StreamSpecification       {StreamEnabled:true, StreamViewType} while enabled
 *   TimeToLive                {AttributeName} while TTL is enabled
 *   GlobalSecondaryIndexes    a Create appends the index (indexes.c's form) with
 *                             IndexStatus CREATING and Backfilling true; a Delete
 *                             removes it; an Update sets its ProvisionedThroughput;
 *                             going on-demand removes every GSI's throughput
 *   AttributeDefinitions      a Create adds the definitions of its key attributes
 *                             that are not stored yet (a stored one keeps its type;
 *                             the request's other definitions are dropped); a Delete
 *                             prunes those no key uses any more (the table's keys
 *                             are known from the meta's KeySchema; a meta without
 *                             one, from before indexes, prunes nothing)
 *
 * UpdateTable check order (the first failure answers; where AWS's order is
 * not pinned by the spec the choice is ours and marked so):
 *   1. shapes (SerializationException), TableName present;
 *   2. member constraints of UpdateTableInput, joined, in the model's member
 *      order (AWS's join order for this operation is unverified);
 *   3. nothing asked; GSI update entries (empty entry, one index twice, more
 *      than one Create/Delete); a Create's key schema against the request's
 *      AttributeDefinitions and its projection (CreateTable's messages), GSI
 *      throughput bounds; stream view-type rules; "... modification
 *      must be the only operation in the request" (SSE, TableClass,
 *      DeletionProtection); stream + throughput; stream + index Create/Delete;
 *      throughput with PAY_PER_REQUEST; capacity bounds; global-table members
 *      dynafile does not support;
 *   4. after the table lookup (p_check_update_table): stream state, billing
 *      mode / throughput against the current values, then the GSI updates
 *      against the table's indexes: a Create or Delete while a GSI is
 *      CREATING (LimitExceeded), then entry by entry: a Create whose name
 *      exists (LSI or GSI), a 21st GSI, a Create's throughput against the
 *      billing mode after the request; a Delete or Update of an unknown GSI
 *      (ResourceNotFound), an Update's throughput on an on-demand table;
 *      last, a table going PROVISIONED whose GSIs get no throughput
 *      ("ProvisionedThroughput must be specified for index: a,b").
 * Messages no source pins (dynafile's choice): a Create of an existing name
 * ("Global Secondary Index already exists: X", moto's) and the unknown-index
 * ResourceNotFoundException ("Requested resource not found: Index: X not
 * found").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol_int.h"

#define INVALID "One or more parameter values were invalid: "
#define CLASS(name) "class com.amazonaws.dynamodb.v20120810." name

/* ---- shapes (botocore's UpdateTableInput, 2012-08-10) ------------------------- */

static const p__member k_gsi_update_members[] = {{"IndexName", &p__sh_string},
                                                 {"ProvisionedThroughput", &p__sh_pt},
                                                 {"OnDemandThroughput", &p__sh_odt},
                                                 {"WarmThroughput", &p__sh_wt},
                                                 {NULL, NULL}};
static const p__shape sh_gsi_update = {P_SH_STRUCT, CLASS("UpdateGlobalSecondaryIndexAction"), NULL,
                                       k_gsi_update_members};
static const p__member k_gsi_create_members[] = {{"IndexName", &p__sh_string},
                                                 {"KeySchema", &p__sh_key_schema},
                                                 {"Projection", &p__sh_proj},
                                                 {"ProvisionedThroughput", &p__sh_pt},
                                                 {"OnDemandThroughput", &p__sh_odt},
                                                 {"WarmThroughput", &p__sh_wt},
                                                 {NULL, NULL}};
static const p__shape sh_gsi_create = {P_SH_STRUCT, CLASS("CreateGlobalSecondaryIndexAction"), NULL,
                                       k_gsi_create_members};
static const p__member k_index_name_members[] = {{"IndexName", &p__sh_string}, {NULL, NULL}};
static const p__shape sh_gsi_delete = {P_SH_STRUCT, CLASS("DeleteGlobalSecondaryIndexAction"), NULL,
                                       k_index_name_members};
static const p__member k_gsi_entry_members[] = {
    {"Update", &sh_gsi_update}, {"Create", &sh_gsi_create}, {"Delete", &sh_gsi_delete}, {NULL, NULL}};
static const p__shape sh_gsi_entry = {P_SH_STRUCT, CLASS("GlobalSecondaryIndexUpdate"), NULL,
                                      k_gsi_entry_members};
static const p__shape sh_gsi_updates = {P_SH_LIST, NULL, &sh_gsi_entry, NULL};

static const p__member k_pt_override_members[] = {{"ReadCapacityUnits", &p__sh_long}, {NULL, NULL}};
static const p__shape sh_pt_override = {P_SH_STRUCT, CLASS("ProvisionedThroughputOverride"), NULL,
                                        k_pt_override_members};
static const p__member k_odt_override_members[] = {{"MaxReadRequestUnits", &p__sh_long}, {NULL, NULL}};
static const p__shape sh_odt_override = {P_SH_STRUCT, CLASS("OnDemandThroughputOverride"), NULL,
                                         k_odt_override_members};
static const p__member k_replica_gsi_members[] = {{"IndexName", &p__sh_string},
                                                  {"ProvisionedThroughputOverride", &sh_pt_override},
                                                  {"OnDemandThroughputOverride", &sh_odt_override},
                                                  {NULL, NULL}};
static const p__shape sh_replica_gsi = {P_SH_STRUCT, CLASS("ReplicaGlobalSecondaryIndex"), NULL,
                                        k_replica_gsi_members};
static const p__shape sh_replica_gsis = {P_SH_LIST, NULL, &sh_replica_gsi, NULL};
static const p__member k_replica_member_members[] = {{"RegionName", &p__sh_string},
                                                     {"KMSMasterKeyId", &p__sh_string},
                                                     {"ProvisionedThroughputOverride", &sh_pt_override},
                                                     {"OnDemandThroughputOverride", &sh_odt_override},
                                                     {"GlobalSecondaryIndexes", &sh_replica_gsis},
                                                     {"TableClassOverride", &p__sh_string},
                                                     {NULL, NULL}};
static const p__shape sh_replica_create = {P_SH_STRUCT, CLASS("CreateReplicationGroupMemberAction"), NULL,
                                           k_replica_member_members};
static const p__shape sh_replica_update = {P_SH_STRUCT, CLASS("UpdateReplicationGroupMemberAction"), NULL,
                                           k_replica_member_members};
static const p__member k_region_members[] = {{"RegionName", &p__sh_string}, {NULL, NULL}};
static const p__shape sh_replica_delete = {P_SH_STRUCT, CLASS("DeleteReplicationGroupMemberAction"), NULL,
                                           k_region_members};
static const p__member k_replica_entry_members[] = {{"Create", &sh_replica_create},
                                                    {"Update", &sh_replica_update},
                                                    {"Delete", &sh_replica_delete},
                                                    {NULL, NULL}};
static const p__shape sh_replica_entry = {P_SH_STRUCT, CLASS("ReplicationGroupUpdate"), NULL,
                                          k_replica_entry_members};
static const p__shape sh_replica_updates = {P_SH_LIST, NULL, &sh_replica_entry, NULL};

static const p__shape sh_witness_create = {P_SH_STRUCT, CLASS("CreateGlobalTableWitnessGroupMemberAction"),
                                           NULL, k_region_members};
static const p__shape sh_witness_delete = {P_SH_STRUCT, CLASS("DeleteGlobalTableWitnessGroupMemberAction"),
                                           NULL, k_region_members};
static const p__member k_witness_entry_members[] = {
    {"Create", &sh_witness_create}, {"Delete", &sh_witness_delete}, {NULL, NULL}};
static const p__shape sh_witness_entry = {P_SH_STRUCT, CLASS("GlobalTableWitnessGroupUpdate"), NULL,
                                          k_witness_entry_members};
static const p__shape sh_witness_updates = {P_SH_LIST, NULL, &sh_witness_entry, NULL};

static const p__member k_update_members[] = {{"AttributeDefinitions", &p__sh_attrdefs},
                                             {"TableName", &p__sh_string},
                                             {"BillingMode", &p__sh_string},
                                             {"ProvisionedThroughput", &p__sh_pt},
                                             {"GlobalSecondaryIndexUpdates", &sh_gsi_updates},
                                             {"StreamSpecification", &p__sh_stream},
                                             {"SSESpecification", &p__sh_sse},
                                             {"ReplicaUpdates", &sh_replica_updates},
                                             {"TableClass", &p__sh_string},
                                             {"DeletionProtectionEnabled", &p__sh_bool},
                                             {"MultiRegionConsistency", &p__sh_string},
                                             {"GlobalTableWitnessUpdates", &sh_witness_updates},
                                             {"OnDemandThroughput", &p__sh_odt},
                                             {"WarmThroughput", &p__sh_wt},
                                             {"GlobalTableSettingsReplicationMode", &p__sh_string},
                                             {NULL, NULL}};
static const p__shape sh_update = {P_SH_STRUCT, CLASS("UpdateTableRequest"), NULL, k_update_members};

static const p__member k_ttl_spec_members[] = {
    {"Enabled", &p__sh_bool}, {"AttributeName", &p__sh_string}, {NULL, NULL}};
static const p__shape sh_ttl_spec = {P_SH_STRUCT, CLASS("TimeToLiveSpecification"), NULL, k_ttl_spec_members};
static const p__member k_ttl_members[] = {
    {"TableName", &p__sh_string}, {"TimeToLiveSpecification", &sh_ttl_spec}, {NULL, NULL}};
static const p__shape sh_ttl = {P_SH_STRUCT, CLASS("UpdateTimeToLiveRequest"), NULL, k_ttl_members};

/* ---- helpers ------------------------------------------------------------------ */

static int body_check(const json_t *body, const p__shape *sh, p_error *err) {
  if (!json_is_object(body)) return p_error_set(err, P_SERIALIZATION, NULL);
  return p__shape_check(body, sh, err);
}

static int required_table_name(const json_t *body, p_error *err) {
  if (!p__member_get(body, "TableName"))
    return p_error_set(err, P_VALIDATION,
                       "The parameter 'TableName' is required but was not present in the request");
  return 0;
}


static bool str_is(const json_t *j, const char *s) {
  return json_is_string(j) && !strcmp(json_string_value(j), s);
}

/* A string member against an enum (names separated by ", " in set). */
static void enum_check(p__verrs *v, const json_t *j, const char *path, const char *set) {
  if (!j) return;
  const char *s = json_string_value(j);
  size_t n = json_string_length(j);
  for (const char *p = set; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == n && !memcmp(p, s, n)) return;
    if (!e) break;
    p = e + 2;
  }
  p__verr_enum(v, s, path, set);
}

static void required_string(p__verrs *v, const json_t *j, const char *path, size_t min, size_t max,
                            const char *pattern) {
  if (!j)
    p__verr_null(v, path);
  else
    p__verr_string(v, json_string_value(j), json_string_length(j), path, min, max, pattern);
}

static void list_min1(p__verrs *v, const json_t *list, const char *path) {
  if (list && json_array_size(list) == 0)
    p__verrs_add(v,
                 "Value '[]' at '%s' failed to satisfy constraint: Member must have length greater than or "
                 "equal to 1",
                 path);
}

static void positive_long(p__verrs *v, const json_t *j, const char *path) {
  if (j && p__long_value(j) < 1)
    p__verrs_add(v,
                 "Value '%lld' at '%s' failed to satisfy constraint: Member must have value greater than or "
                 "equal to 1",
                 p__long_value(j), path);
}

/* ---- view types ---------------------------------------------------------------- */

/* AWS prints the StreamViewType enum in this order (streams-ttl.md 1.2). */
#define VIEW_SET "OLD_IMAGE, KEYS_ONLY, NEW_AND_OLD_IMAGES, NEW_IMAGE"

const char *p_view_name(p_view v) {
  switch (v) {
    case P_VIEW_KEYS_ONLY:
      return "KEYS_ONLY";
    case P_VIEW_NEW_IMAGE:
      return "NEW_IMAGE";
    case P_VIEW_OLD_IMAGE:
      return "OLD_IMAGE";
    case P_VIEW_NEW_AND_OLD_IMAGES:
      return "NEW_AND_OLD_IMAGES";
    default:
      return NULL;
  }
}

p_view p_view_from_name(const char *s) {
  if (!s) return P_VIEW_NONE;
  for (int v = P_VIEW_KEYS_ONLY; v <= P_VIEW_NEW_AND_OLD_IMAGES; v++)
    if (!strcmp(s, p_view_name((p_view)v))) return (p_view)v;
  return P_VIEW_NONE;
}

void p__stream_spec_constraints(p__verrs *v, const json_t *ss) {
  if (!p__member_get(ss, "StreamEnabled")) p__verr_null(v, "streamSpecification.streamEnabled");
  enum_check(v, p__member_get(ss, "StreamViewType"), "streamSpecification.streamViewType", VIEW_SET);
}

json_t *p__stream_spec_json(const char *view) {
  json_t *o = json_object();
  json_object_set_new(o, "StreamEnabled", json_true());
  json_object_set_new(o, "StreamViewType", json_string(view ? view : ""));
  return o;
}

/* ---- UpdateTable: member constraints --------------------------------------------- */

static void attrdefs_constraints(p__verrs *v, const json_t *defs) {
  char p[160];
  size_t i;
  const json_t *e;
  json_array_foreach(defs, i, e) {
    if (json_is_null(e)) {
      snprintf(p, sizeof p, "attributeDefinitions.%zu.member", i + 1);
      p__verr_null(v, p);
      continue;
    }
    snprintf(p, sizeof p, "attributeDefinitions.%zu.member.attributeName", i + 1);
    required_string(v, p__member_get(e, "AttributeName"), p, 1, 255, NULL);
    snprintf(p, sizeof p, "attributeDefinitions.%zu.member.attributeType", i + 1);
    const json_t *at = p__member_get(e, "AttributeType");
    if (!at)
      p__verr_null(v, p);
    else
      enum_check(v, at, p, "B, N, S");
  }
}

void p__index_name_constraints(p__verrs *v, const json_t *j, const char *path) {
  required_string(v, j, path, 3, 255, P_TABLE_NAME_PATTERN);
}

/* "[a, b]": a list of strings as Java's List.toString prints it. */
static char *string_list_text(const json_t *list) {
  p__sbuf b = {0};
  p__sbuf_add(&b, "[", 1);
  size_t i;
  const json_t *e;
  json_array_foreach(list, i, e) {
    if (i) p__sbuf_add(&b, ", ", 2);
    if (json_is_string(e))
      p__sbuf_add(&b, json_string_value(e), json_string_length(e));
    else
      p__sbuf_add(&b, "null", 4);
  }
  p__sbuf_add(&b, "]", 1);
  return b.p;
}

void p__projection_constraints(p__verrs *v, const json_t *proj, const char *path) {
  char p[256];
  if (!proj) {
    p__verr_null(v, path);
    return;
  }
  snprintf(p, sizeof p, "%s.projectionType", path);
  enum_check(v, p__member_get(proj, "ProjectionType"), p, "ALL, KEYS_ONLY, INCLUDE");
  const json_t *nka = p__member_get(proj, "NonKeyAttributes");
  if (!nka) return;
  size_t i;
  const json_t *e;
  json_array_foreach(nka, i, e) {
    snprintf(p, sizeof p, "%s.nonKeyAttributes.%zu.member", path, i + 1);
    required_string(v, json_is_null(e) ? NULL : e, p, 1, 255, NULL);
  }
  snprintf(p, sizeof p, "%s.nonKeyAttributes", path);
  if (json_array_size(nka) == 0) list_min1(v, nka, p);
  if (json_array_size(nka) > 20) {
    char *t = string_list_text(nka);
    p__verrs_add(
        v,
        "Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal "
        "to 20",
        t, p);
    free(t);
  }
}

static void gsi_updates_constraints(p__verrs *v, const json_t *list) {
  char base[96], p[192];
  size_t i;
  const json_t *e;
  json_array_foreach(list, i, e) {
    snprintf(base, sizeof base, "globalSecondaryIndexUpdates.%zu.member", i + 1);
    if (json_is_null(e)) {
      p__verr_null(v, base);
      continue;
    }
    const json_t *u = p__member_get(e, "Update"), *c = p__member_get(e, "Create"),
                 *d = p__member_get(e, "Delete");
    if (u) {
      snprintf(p, sizeof p, "%s.update.indexName", base);
      p__index_name_constraints(v, p__member_get(u, "IndexName"), p);
      const json_t *pt = p__member_get(u, "ProvisionedThroughput");
      snprintf(p, sizeof p, "%s.update.provisionedThroughput", base);
      if (pt) p__throughput_constraints(v, pt, p);
    }
    if (c) {
      snprintf(p, sizeof p, "%s.create.indexName", base);
      p__index_name_constraints(v, p__member_get(c, "IndexName"), p);
      snprintf(p, sizeof p, "%s.create.keySchema", base);
      p__key_schema_constraints(v, p__member_get(c, "KeySchema"), p);
      snprintf(p, sizeof p, "%s.create.projection", base);
      p__projection_constraints(v, p__member_get(c, "Projection"), p);
      const json_t *pt = p__member_get(c, "ProvisionedThroughput");
      snprintf(p, sizeof p, "%s.create.provisionedThroughput", base);
      if (pt) p__throughput_constraints(v, pt, p);
    }
    if (d) {
      snprintf(p, sizeof p, "%s.delete.indexName", base);
      p__index_name_constraints(v, p__member_get(d, "IndexName"), p);
    }
  }
}

static void replica_member_constraints(p__verrs *v, const json_t *m, const char *base, int is_delete) {
  char p[320];
  snprintf(p, sizeof p, "%s.regionName", base);
  if (!p__member_get(m, "RegionName")) p__verr_null(v, p);
  if (is_delete) return;
  snprintf(p, sizeof p, "%s.provisionedThroughputOverride.readCapacityUnits", base);
  positive_long(v, p__member_get(p__member_get(m, "ProvisionedThroughputOverride"), "ReadCapacityUnits"), p);
  const json_t *gsis = p__member_get(m, "GlobalSecondaryIndexes");
  size_t i;
  const json_t *e;
  json_array_foreach(gsis, i, e) {
    char gb[256];
    snprintf(gb, sizeof gb, "%s.globalSecondaryIndexes.%zu.member", base, i + 1);
    if (json_is_null(e)) {
      p__verr_null(v, gb);
      continue;
    }
    snprintf(p, sizeof p, "%s.indexName", gb);
    p__index_name_constraints(v, p__member_get(e, "IndexName"), p);
    snprintf(p, sizeof p, "%s.provisionedThroughputOverride.readCapacityUnits", gb);
    positive_long(v, p__member_get(p__member_get(e, "ProvisionedThroughputOverride"), "ReadCapacityUnits"),
                  p);
  }
  snprintf(p, sizeof p, "%s.globalSecondaryIndexes", base);
  list_min1(v, gsis, p);
  snprintf(p, sizeof p, "%s.tableClassOverride", base);
  enum_check(v, p__member_get(m, "TableClassOverride"), p, "STANDARD, STANDARD_INFREQUENT_ACCESS");
}

static void replica_updates_constraints(p__verrs *v, const json_t *list) {
  char base[96], p[192];
  size_t i;
  const json_t *e;
  json_array_foreach(list, i, e) {
    snprintf(base, sizeof base, "replicaUpdates.%zu.member", i + 1);
    if (json_is_null(e)) {
      p__verr_null(v, base);
      continue;
    }
    static const char *const kinds[3] = {"Create", "Update", "Delete"};
    static const char *const paths[3] = {"create", "update", "delete"};
    for (int k = 0; k < 3; k++) {
      const json_t *m = p__member_get(e, kinds[k]);
      if (!m) continue;
      snprintf(p, sizeof p, "%s.%s", base, paths[k]);
      replica_member_constraints(v, m, p, k == 2);
    }
  }
  list_min1(v, list, "replicaUpdates");
}

/* AWS SDK v1 model objects hash as 31 * h + field hash, from 1, null = 0. */
static uint32_t region_action_hash(const json_t *action) {
  if (!action) return 0;
  const json_t *r = p__member_get(action, "RegionName");
  return 31u + (uint32_t)(r && json_is_string(r) ? p__java_string_hash(json_string_value(r)) : 0);
}

static void witness_constraints(p__verrs *v, const json_t *list) {
  char p[128];
  size_t i;
  const json_t *e;
  json_array_foreach(list, i, e) {
    snprintf(p, sizeof p, "globalTableWitnessUpdates.%zu.member", i + 1);
    if (json_is_null(e)) {
      p__verr_null(v, p);
      continue;
    }
    const json_t *c = p__member_get(e, "Create"), *d = p__member_get(e, "Delete");
    snprintf(p, sizeof p, "globalTableWitnessUpdates.%zu.member.create.regionName", i + 1);
    if (c && !p__member_get(c, "RegionName")) p__verr_null(v, p);
    snprintf(p, sizeof p, "globalTableWitnessUpdates.%zu.member.delete.regionName", i + 1);
    if (d && !p__member_get(d, "RegionName")) p__verr_null(v, p);
  }
  list_min1(v, list, "globalTableWitnessUpdates");
  if (json_array_size(list) > 1) {
    p__sbuf b = {0};
    json_array_foreach(list, i, e) {
      if (i) p__sbuf_add(&b, ", ", 2);
      if (json_is_null(e)) {
        p__sbuf_add(&b, "null", 4);
        continue;
      }
      uint32_t h = 1;
      h = 31 * h + region_action_hash(p__member_get(e, "Create"));
      h = 31 * h + region_action_hash(p__member_get(e, "Delete"));
      p__sbuf_addf(&b, "com.amazonaws.dynamodb.v20120810.GlobalTableWitnessGroupUpdate@%x", h);
    }
    p__verrs_add(v,
                 "Value '[%s]' at 'globalTableWitnessUpdates' failed to satisfy constraint: Member must have "
                 "length less than or equal to 1",
                 b.p);
    free(b.p);
  }
}

static int update_constraints(const json_t *body, p_error *err) {
  p__verrs v;
  p__verrs_init(&v);
  const json_t *defs = p__member_get(body, "AttributeDefinitions");
  if (defs) attrdefs_constraints(&v, defs);
  p__table_name_constraints(&v, p__member_get(body, "TableName"), "tableName");
  enum_check(&v, p__member_get(body, "BillingMode"), "billingMode", "PROVISIONED, PAY_PER_REQUEST");
  const json_t *pt = p__member_get(body, "ProvisionedThroughput");
  if (pt) p__throughput_constraints(&v, pt, "provisionedThroughput");
  const json_t *gsi = p__member_get(body, "GlobalSecondaryIndexUpdates");
  if (gsi) gsi_updates_constraints(&v, gsi);
  const json_t *ss = p__member_get(body, "StreamSpecification");
  if (ss) p__stream_spec_constraints(&v, ss);
  enum_check(&v, p__member_get(p__member_get(body, "SSESpecification"), "SSEType"),
             "sSESpecification.sSEType", "AES256, KMS");
  const json_t *ru = p__member_get(body, "ReplicaUpdates");
  if (ru) replica_updates_constraints(&v, ru);
  enum_check(&v, p__member_get(body, "TableClass"), "tableClass", "STANDARD, STANDARD_INFREQUENT_ACCESS");
  enum_check(&v, p__member_get(body, "MultiRegionConsistency"), "multiRegionConsistency", "EVENTUAL, STRONG");
  const json_t *wu = p__member_get(body, "GlobalTableWitnessUpdates");
  if (wu) witness_constraints(&v, wu);
  enum_check(&v, p__member_get(body, "GlobalTableSettingsReplicationMode"),
             "globalTableSettingsReplicationMode", "ENABLED, DISABLED, ENABLED_WITH_OVERRIDES");
  return p__verrs_finish(&v, err);
}

/* ---- UpdateTable: semantics without the table ------------------------------------- */

/* The GlobalSecondaryIndexUpdates entries (operations.md 4.5): every entry
 * names an action, no index is named twice (not even inside one entry), at
 * most one Create or Delete. */
static int gsi_updates_semantics(const json_t *list, p_error *err) {
  size_t n = json_array_size(list), online = 0, n_names = 0;
  for (size_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(list, i);
    if (!p__member_get(e, "Update") && !p__member_get(e, "Create") && !p__member_get(e, "Delete"))
      return p_error_set(err, P_VALIDATION,
                         INVALID
                         "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, "
                         "GlobalSecondaryIndexUpdate.Delete must not be null");
  }
  const char **names = p__xmalloc(sizeof(char *) * 3 * n);
  static const char *const kinds[3] = {"Update", "Create", "Delete"};
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const json_t *e = json_array_get(list, i);
    for (int k = 0; k < 3 && rc == 0; k++) {
      const json_t *act = p__member_get(e, kinds[k]);
      if (!act) continue;
      if (k > 0) online++;
      const char *name = json_string_value(p__member_get(act, "IndexName"));
      if (!name) continue;
      for (size_t j = 0; j < n_names; j++)
        if (!strcmp(names[j], name)) {
          rc = p_error_set(err, P_VALIDATION,
                           INVALID
                           "Only one global secondary index update per index is allowed simultaneously. "
                           "Index: %s",
                           name);
          break;
        }
      names[n_names++] = name;
    }
  }
  free(names);
  if (rc) return rc;
  if (online > 1)
    return p_error_set(
        err, P_LIMIT_EXCEEDED,
        "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously "
        "per table");
  return 0;
}

/* A Create's key schema against the request's AttributeDefinitions and its
 * projection, with CreateTable's messages; throughput bounds of Create and
 * Update entries. */
static int gsi_entries_check(const json_t *list, const json_t *defs, p_error *err) {
  size_t i;
  const json_t *e;
  json_array_foreach(list, i, e) {
    const json_t *c = p__member_get(e, "Create"), *u = p__member_get(e, "Update");
    if (c) {
      if (p__key_schema_check(p__member_get(c, "KeySchema"), defs, err)) return -1;
      if (p__projection_check(p__member_get(c, "Projection"), err)) return -1;
      const json_t *pt = p__member_get(c, "ProvisionedThroughput");
      if (pt && p__throughput_bounds(pt, err)) return -1;
    }
    if (u) {
      const json_t *pt = p__member_get(u, "ProvisionedThroughput");
      if (pt && p__throughput_bounds(pt, err)) return -1;
    }
  }
  return 0;
}

static int gsi_has_create_or_delete(const json_t *list) {
  size_t i;
  const json_t *e;
  json_array_foreach(list, i, e) if (p__member_get(e, "Create") || p__member_get(e, "Delete")) return 1;
  return 0;
}

/* The members copied into p_update_table.changes, in this order. */
static const char *const k_change_members[] = {
    "BillingMode",    "ProvisionedThroughput", "DeletionProtectionEnabled",   "TableClass",
    "SSESpecification", "OnDemandThroughput",  "WarmThroughput",              "AttributeDefinitions",
    "GlobalSecondaryIndexUpdates", NULL};

static int update_semantics(const json_t *body, p_update_table *out, p_error *err) {
  const json_t *bm = p__member_get(body, "BillingMode");
  const json_t *pt = p__member_get(body, "ProvisionedThroughput");
  const json_t *gsi = p__member_get(body, "GlobalSecondaryIndexUpdates");
  const json_t *ss = p__member_get(body, "StreamSpecification");
  const json_t *sse = p__member_get(body, "SSESpecification");
  const json_t *ru = p__member_get(body, "ReplicaUpdates");
  const json_t *tc = p__member_get(body, "TableClass");
  const json_t *dp = p__member_get(body, "DeletionProtectionEnabled");
  const json_t *odt = p__member_get(body, "OnDemandThroughput");
  const json_t *wt = p__member_get(body, "WarmThroughput");
  const json_t *mrc = p__member_get(body, "MultiRegionConsistency");
  const json_t *wu = p__member_get(body, "GlobalTableWitnessUpdates");
  const json_t *gtsrm = p__member_get(body, "GlobalTableSettingsReplicationMode");
  bool has_gsi = gsi && json_array_size(gsi) > 0;
  /* Every member that asks for something, to tell "nothing asked" and
   * "must be the only operation". An empty GSI update list asks nothing
   * (our reading; unverified). */
  const json_t *asks[] = {bm, pt, has_gsi ? gsi : NULL, ss, sse, ru, tc, dp, odt, wt, mrc, wu, gtsrm};
  int n_asks = 0;
  for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) n_asks += asks[i] != NULL;
  if (n_asks == 0)
    return p_error_set(err, P_VALIDATION,
                       "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
                       "GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required");
  if (has_gsi && gsi_updates_semantics(gsi, err)) return -1;
  if (has_gsi && gsi_entries_check(gsi, p__member_get(body, "AttributeDefinitions"), err)) return -1;

  bool stream_on = ss && p__bool_value(p__member_get(ss, "StreamEnabled"));
  const json_t *vt = ss ? p__member_get(ss, "StreamViewType") : NULL;
  if (ss && stream_on && !vt)
    return p_error_set(err, P_VALIDATION,
                       INVALID "If stream is being enabled then UpdateViewType is required");
  if (ss && !stream_on && vt)
    return p_error_set(err, P_VALIDATION,
                       INVALID "If stream is being disabled, then UpdateViewType must not be specified");
  /* Order among these three when several are sent: ours (unverified). */
  if (sse && n_asks > 1)
    return p_error_set(err, P_VALIDATION,
                       INVALID
                       "Server-Side Encryption modification must be the only operation in the request");
  if (tc && n_asks > 1)
    return p_error_set(err, P_VALIDATION,
                       INVALID "TableClass modification must be the only operation in the request");
  if (dp && n_asks > 1)
    return p_error_set(err, P_VALIDATION,
                       INVALID "DeletionProtection modification must be the only operation in the request");
  if (ss && (pt || str_is(bm, "PROVISIONED")))
    return p_error_set(err, P_VALIDATION,
                       INVALID "You cannot modify stream status while updating table IOPS");
  if (ss && gsi_has_create_or_delete(gsi))
    return p_error_set(err, P_VALIDATION,
                       INVALID "You cannot create or delete index while changing stream status");
  if (pt && str_is(bm, "PAY_PER_REQUEST"))
    return p_error_set(
        err, P_VALIDATION,
        INVALID
        "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is "
        "PAY_PER_REQUEST");
  if (pt && p__throughput_bounds(pt, err)) return -1;
  if (mrc) return p__unsupported(err, "MultiRegionConsistency");
  if (wu) return p__unsupported(err, "GlobalTableWitnessUpdates");
  if (gtsrm) return p__unsupported(err, "GlobalTableSettingsReplicationMode");

  out->has_stream = ss != NULL;
  out->stream_enabled = stream_on;
  out->stream_view = p_view_from_name(json_string_value(vt));
  out->has_gsi_updates = has_gsi;
  out->has_replica_updates = ru != NULL;
  json_t *changes = json_object();
  for (const char *const *m = k_change_members; *m; m++) {
    const json_t *x = p__member_get(body, *m);
    if (x) json_object_set_new(changes, *m, json_deep_copy(x));
  }
  out->changes = changes;
  return 0;
}

int p_parse_update_table(const json_t *body, dv_arena *a, p_update_table *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (body_check(body, &sh_update, err)) return -1;
  if (required_table_name(body, err)) return -1;
  if (update_constraints(body, err)) return -1;
  if (update_semantics(body, out, err)) return -1;
  out->table_name = p__member_str(body, "TableName", a, NULL);
  size_t i;
  const json_t *e;
  json_array_foreach(p__member_get(body, "GlobalSecondaryIndexUpdates"), i, e) {
    const json_t *c = p__member_get(e, "Create"), *d = p__member_get(e, "Delete");
    if (c) out->gsi_create = p__member_str(c, "IndexName", a, NULL);
    if (d) out->gsi_delete = p__member_str(d, "IndexName", a, NULL);
  }
  return 0;
}

/* ---- UpdateTable: against the table ------------------------------------------------ */

/* Merges the members of src into the object member name of meta. */
static void merge_member(json_t *meta, const char *name, const json_t *src) {
  json_t *cur = json_object_get(meta, name);
  if (!json_is_object(cur)) {
    json_object_set_new(meta, name, json_deep_copy(src));
    return;
  }
  const char *k;
  json_t *x;
  json_object_foreach((json_t *)src, k, x) {
    if (json_is_null(x)) continue;
    json_object_set_new(cur, k, json_deep_copy(x));
  }
}

static const json_t *gsi_find(const json_t *list, const char *name) {
  size_t i;
  const json_t *e;
  json_array_foreach(list, i, e) if (name && str_is(p__member_get(e, "IndexName"), name)) return e;
  return NULL;
}

/* The GlobalSecondaryIndexUpdates rules against the table's meta
 * (operations.md 4.5; order at the top of this file). on_demand: the billing
 * mode after the request; to_provisioned: the request makes an on-demand
 * table PROVISIONED. */
static int gsi_meta_check(const json_t *meta, const json_t *updates, bool on_demand, bool to_provisioned,
                          p_error *err) {
  const json_t *gsis = p__member_get(meta, "GlobalSecondaryIndexes");
  const json_t *lsis = p__member_get(meta, "LocalSecondaryIndexes");
  size_t i;
  const json_t *e;
  bool online = false, creating = false;
  json_array_foreach(updates, i, e) online |= p__member_get(e, "Create") || p__member_get(e, "Delete");
  json_array_foreach(gsis, i, e) creating |= str_is(p__member_get(e, "IndexStatus"), "CREATING");
  if (online && creating)
    return p_error_set(err, P_LIMIT_EXCEEDED,
                       "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously "
                       "per table");
  json_array_foreach(updates, i, e) {
    const json_t *c = p__member_get(e, "Create"), *d = p__member_get(e, "Delete"), *u = p__member_get(e, "Update");
    if (c) {
      const char *name = json_string_value(p__member_get(c, "IndexName"));
      if (gsi_find(gsis, name) || gsi_find(lsis, name))
        return p_error_set(err, P_VALIDATION, "Global Secondary Index already exists: %s", name);
      if (json_array_size(gsis) >= 20)
        return p_error_set(err, P_VALIDATION,
                           INVALID "GlobalSecondaryIndex count exceeds the per-table limit of 20");
      const json_t *pt = p__member_get(c, "ProvisionedThroughput");
      if (pt && on_demand)
        return p_error_set(err, P_VALIDATION,
                           INVALID "ProvisionedThroughput should not be specified for index: %s when BillingMode "
                                   "is PAY_PER_REQUEST",
                           name);
      if (!pt && !on_demand)
        return p_error_set(err, P_VALIDATION, INVALID "ProvisionedThroughput must be specified for index: %s",
                           name);
    }
    const json_t *du = d ? d : u;
    if (du) {
      const char *name = json_string_value(p__member_get(du, "IndexName"));
      if (!gsi_find(gsis, name))
        return p_error_set(err, P_RESOURCE_NOT_FOUND, "Requested resource not found: Index: %s not found", name);
    }
    if (u && p__member_get(u, "ProvisionedThroughput") && on_demand)
      return p_error_set(err, P_VALIDATION,
                         INVALID "ProvisionedThroughput should not be specified for index: %s when BillingMode is "
                                 "PAY_PER_REQUEST",
                         json_string_value(p__member_get(u, "IndexName")));
  }
  if (to_provisioned) { /* every remaining GSI needs an Update with throughput */
    p__sbuf b = {0};
    json_array_foreach(gsis, i, e) {
      const char *name = json_string_value(p__member_get(e, "IndexName"));
      bool given = false;
      size_t j;
      const json_t *x;
      json_array_foreach(updates, j, x) {
        const json_t *u = p__member_get(x, "Update"), *d = p__member_get(x, "Delete");
        given |= u && str_is(p__member_get(u, "IndexName"), name) && p__member_get(u, "ProvisionedThroughput");
        given |= d && str_is(p__member_get(d, "IndexName"), name);
      }
      if (given || !name) continue;
      if (b.len) p__sbuf_add(&b, ",", 1);
      p__sbuf_add(&b, name, strlen(name));
    }
    if (b.len) {
      p_error_set(err, P_VALIDATION, INVALID "ProvisionedThroughput must be specified for index: %s", b.p);
      free(b.p);
      return -1;
    }
    free(b.p);
  }
  return 0;
}

/* {ReadCapacityUnits, WriteCapacityUnits} of a request's throughput as
 * integers (new ref). */
static json_t *throughput_meta(const json_t *pt) {
  json_t *o = json_object();
  json_object_set_new(o, "ReadCapacityUnits", json_integer(p__long_value(p__member_get(pt, "ReadCapacityUnits"))));
  json_object_set_new(o, "WriteCapacityUnits", json_integer(p__long_value(p__member_get(pt, "WriteCapacityUnits"))));
  return o;
}

/* Does any key of the table (meta "KeySchema") or of an index of m use name?
 * unknown: set when m has no KeySchema (a meta from before indexes). */
static bool key_uses(const json_t *m, const char *name, bool *unknown) {
  const json_t *tks = p__member_get(m, "KeySchema");
  if (!tks) *unknown = true;
  size_t i, j;
  const json_t *e, *k;
  json_array_foreach(tks, i, k) if (str_is(p__member_get(k, "AttributeName"), name)) return true;
  static const char *const lists[2] = {"LocalSecondaryIndexes", "GlobalSecondaryIndexes"};
  for (int l = 0; l < 2; l++)
    json_array_foreach(p__member_get(m, lists[l]), i, e) {
      json_array_foreach(p__member_get(e, "KeySchema"), j, k) if (str_is(p__member_get(k, "AttributeName"), name)) return true;
    }
  return false;
}

/* Applies the GSI updates to m (a copy of the meta). */
static void gsi_apply(json_t *m, const json_t *updates, const json_t *req_defs, bool on_demand) {
  json_t *gsis = json_object_get(m, "GlobalSecondaryIndexes");
  size_t i;
  json_t *e;
  if (on_demand) json_array_foreach(gsis, i, e) json_object_del(e, "ProvisionedThroughput");
  json_array_foreach((json_t *)updates, i, e) {
    const json_t *c = p__member_get(e, "Create"), *d = p__member_get(e, "Delete"), *u = p__member_get(e, "Update");
    if (c) {
      if (!json_is_array(gsis)) {
        gsis = json_array();
        json_object_set_new(m, "GlobalSecondaryIndexes", gsis);
      }
      json_t *g = p__gsi_meta(c, on_demand, "CREATING");
      json_object_set_new(g, "Backfilling", json_true());
      json_array_append_new(gsis, g);
      json_t *defs = json_object_get(m, "AttributeDefinitions");
      if (!json_is_array(defs)) {
        defs = json_array();
        json_object_set_new(m, "AttributeDefinitions", defs);
      }
      size_t k;
      const json_t *kse;
      json_array_foreach(p__member_get(c, "KeySchema"), k, kse) {
        const char *an = json_string_value(p__member_get(kse, "AttributeName"));
        const json_t *rd = p__find_def(req_defs, an);
        if (!an || p__find_def(defs, an) || !rd) continue;
        json_t *o = json_object();
        json_object_set_new(o, "AttributeName", json_string(an));
        json_object_set_new(o, "AttributeType", json_deep_copy(p__member_get(rd, "AttributeType")));
        json_array_append_new(defs, o);
      }
    }
    if (u && !on_demand && p__member_get(u, "ProvisionedThroughput")) {
      json_t *g = (json_t *)gsi_find(gsis, json_string_value(p__member_get(u, "IndexName")));
      if (g) json_object_set_new(g, "ProvisionedThroughput", throughput_meta(p__member_get(u, "ProvisionedThroughput")));
    }
    if (d) {
      const char *name = json_string_value(p__member_get(d, "IndexName"));
      size_t k;
      json_t *g;
      json_t *old = NULL;
      json_array_foreach(gsis, k, g) if (str_is(json_object_get(g, "IndexName"), name)) {
        old = json_incref(g);
        json_array_remove(gsis, k);
        break;
      }
      if (!old) continue;
      if (json_array_size(gsis) == 0) json_object_del(m, "GlobalSecondaryIndexes");
      json_t *defs = json_object_get(m, "AttributeDefinitions");
      const json_t *kse;
      json_array_foreach(json_object_get(old, "KeySchema"), k, kse) {
        const char *an = json_string_value(p__member_get(kse, "AttributeName"));
        bool unknown = false;
        if (!an || key_uses(m, an, &unknown) || unknown) continue;
        size_t x;
        json_t *def;
        json_array_foreach(defs, x, def) if (str_is(json_object_get(def, "AttributeName"), an)) {
          json_array_remove(defs, x);
          break;
        }
      }
      json_decref(old);
      gsis = json_object_get(m, "GlobalSecondaryIndexes");
    }
  }
}

int p_check_update_table(const json_t *meta, const p_update_table *req, json_t **new_meta, p_error *err) {
  *new_meta = NULL;
  const char *name = req->table_name ? req->table_name : "";
  bool stream_now = p__member_get(meta, "StreamSpecification") != NULL;
  if (req->has_stream && req->stream_enabled && stream_now)
    return p_error_set(err, P_VALIDATION, "Table already has an enabled stream: TableName: %s", name);
  if (req->has_stream && !req->stream_enabled && !stream_now)
    return p_error_set(err, P_VALIDATION, "Table has no stream to disable: TableName: %s", name);

  const json_t *ch = req->changes;
  const json_t *bm = p__member_get(ch, "BillingMode");
  const json_t *pt = p__member_get(ch, "ProvisionedThroughput");
  bool on_demand_now = str_is(p__member_get(meta, "BillingMode"), "PAY_PER_REQUEST");
  bool on_demand_after = bm ? str_is(bm, "PAY_PER_REQUEST") : on_demand_now;
  if (pt && on_demand_after)
    return p_error_set(
        err, P_VALIDATION,
        INVALID
        "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is "
        "PAY_PER_REQUEST");
  if (str_is(bm, "PROVISIONED") && !pt && on_demand_now)
    return p_error_set(err, P_VALIDATION,
                       INVALID "ProvisionedThroughput must be specified when BillingMode is PROVISIONED");
  const json_t *cur_pt = p__member_get(meta, "ProvisionedThroughput");
  long long cur_r = p__long_value(p__member_get(cur_pt, "ReadCapacityUnits"));
  long long cur_w = p__long_value(p__member_get(cur_pt, "WriteCapacityUnits"));
  long long new_r = pt ? p__long_value(p__member_get(pt, "ReadCapacityUnits")) : cur_r;
  long long new_w = pt ? p__long_value(p__member_get(pt, "WriteCapacityUnits")) : cur_w;
  /* A provisioned table asked for its own throughput again (also by a bare
   * BillingMode PROVISIONED: operations.md 4.5 keeps that a VE). */
  if (!on_demand_now && (pt || str_is(bm, "PROVISIONED")) && new_r == cur_r && new_w == cur_w)
    return p_error_set(
        err, P_VALIDATION,
        "The provisioned throughput for the table will not change. The requested value equals the "
        "current value. Current ReadCapacityUnits provisioned for the table: %lld. Requested "
        "ReadCapacityUnits: %lld. Current WriteCapacityUnits provisioned for the table: %lld. "
        "Requested WriteCapacityUnits: %lld. Refer to the Amazon DynamoDB Developer Guide for "
        "current limits and how to request higher limits.",
        cur_r, new_r, cur_w, new_w);
  const json_t *gsi_updates = p__member_get(ch, "GlobalSecondaryIndexUpdates");
  if (gsi_meta_check(meta, gsi_updates, on_demand_after, on_demand_now && !on_demand_after, err)) return -1;

  json_t *m = json_is_object(meta) ? json_deep_copy(meta) : json_object();
  if (on_demand_after) {
    json_object_set_new(m, "BillingMode", json_string("PAY_PER_REQUEST"));
    json_object_del(m, "ProvisionedThroughput");
  } else if (pt) {
    json_object_set_new(m, "BillingMode", json_string("PROVISIONED"));
    json_t *o = json_object();
    json_object_set_new(o, "ReadCapacityUnits", json_integer(new_r));
    json_object_set_new(o, "WriteCapacityUnits", json_integer(new_w));
    json_object_set_new(m, "ProvisionedThroughput", o);
  }
  const json_t *dp = p__member_get(ch, "DeletionProtectionEnabled");
  if (dp) json_object_set_new(m, "DeletionProtectionEnabled", json_boolean(p__bool_value(dp)));
  static const char *const replaced[] = {"TableClass", "SSESpecification"};
  for (size_t i = 0; i < 2; i++) {
    const json_t *x = p__member_get(ch, replaced[i]);
    if (x) json_object_set_new(m, replaced[i], json_deep_copy(x));
  }
  static const char *const merged[] = {"OnDemandThroughput", "WarmThroughput"};
  for (size_t i = 0; i < 2; i++) {
    const json_t *x = p__member_get(ch, merged[i]);
    if (x) merge_member(m, merged[i], x);
  }
  gsi_apply(m, gsi_updates, p__member_get(ch, "AttributeDefinitions"), on_demand_after);
  if (req->has_stream && req->stream_enabled)
    json_object_set_new(m, "StreamSpecification", p__stream_spec_json(p_view_name(req->stream_view)));
  else if (req->has_stream)
    json_object_del(m, "StreamSpecification");
  *new_meta = m;
  return 0;
}

/* ---- UpdateTimeToLive / DescribeTimeToLive ------------------------------------------ */

int p_parse_update_ttl(const json_t *body, dv_arena *a, p_update_ttl *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (body_check(body, &sh_ttl, err)) return -1;
  if (required_table_name(body, err)) return -1;
  p__verrs v;
  p__verrs_init(&v);
  p__table_name_constraints(&v, p__member_get(body, "TableName"), "tableName");
  const json_t *spec = p__member_get(body, "TimeToLiveSpecification");
  if (!spec) {
    p__verr_null(&v, "timeToLiveSpecification");
  } else {
    if (!p__member_get(spec, "Enabled")) p__verr_null(&v, "timeToLiveSpecification.enabled");
    required_string(&v, p__member_get(spec, "AttributeName"), "timeToLiveSpecification.attributeName", 1, 255,
                    NULL);
  }
  if (p__verrs_finish(&v, err)) return -1;
  out->table_name = p__member_str(body, "TableName", a, NULL);
  out->enabled = p__bool_value(p__member_get(spec, "Enabled"));
  out->attribute = p__member_str(spec, "AttributeName", a, NULL);
  return 0;
}

int p_check_update_ttl(const json_t *meta, const p_update_ttl *req, json_t **new_meta, p_error *err) {
  *new_meta = NULL;
  const json_t *cur = p__member_get(p__member_get(meta, "TimeToLive"), "AttributeName");
  const char *attr = req->attribute ? req->attribute : "";
  if (cur && !json_is_string(cur)) cur = NULL;
  if (req->enabled && cur && !strcmp(json_string_value(cur), attr))
    return p_error_set(err, P_VALIDATION, "TimeToLive is already enabled");
  if (cur && strcmp(json_string_value(cur), attr))
    return p_error_set(err, P_VALIDATION,
                       "TimeToLive is active on a different AttributeName: current AttributeName is %s",
                       json_string_value(cur));
  if (!req->enabled && !cur) return p_error_set(err, P_VALIDATION, "TimeToLive is already disabled");
  json_t *m = json_is_object(meta) ? json_deep_copy(meta) : json_object();
  if (req->enabled) {
    json_t *t = json_object();
    json_object_set_new(t, "AttributeName", json_string(attr));
    json_object_set_new(m, "TimeToLive", t);
  } else {
    json_object_del(m, "TimeToLive");
  }
  *new_meta = m;
  return 0;
}

json_t *p_update_ttl_response(const p_update_ttl *req) {
  json_t *spec = json_object();
  json_object_set_new(spec, "Enabled", json_boolean(req->enabled));
  json_object_set_new(spec, "AttributeName", json_string(req->attribute ? req->attribute : ""));
  json_t *o = json_object();
  json_object_set_new(o, "TimeToLiveSpecification", spec);
  return o;
}

json_t *p_describe_ttl(const json_t *meta) {
  json_t *d = json_object();
  const json_t *attr = p__member_get(p__member_get(meta, "TimeToLive"), "AttributeName");
  if (attr && json_is_string(attr)) {
    json_object_set_new(d, "TimeToLiveStatus", json_string("ENABLED"));
    json_object_set_new(d, "AttributeName", json_deep_copy(attr));
  } else {
    json_object_set_new(d, "TimeToLiveStatus", json_string("DISABLED"));
  }
  json_t *o = json_object();
  json_object_set_new(o, "TimeToLiveDescription", d);
  return o;
}
