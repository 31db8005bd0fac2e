/*
 * capacity.c -- capacity units and the ConsumedCapacity object
 * (operations.md 3). Reads are charged in 4 KB units (half for eventually
 * consistent reads), writes in 1 KB units; a missing item still costs one
 * unit. Units are JSON reals ("CapacityUnits":1.0) as AWS sends them.
 *
 * Secondary indexes: a write charges each index whose entry it touches
 * ceil(entry bytes / 1 KB) (an entry that moves to another index key: its
 * delete plus its put; nothing when the item is in the index neither before
 * nor after, or when its entry is unchanged); INDEXES mode lists the table's
 * own units under "Table" and each charged index under
 * "LocalSecondaryIndexes" / "GlobalSecondaryIndexes". A Query/Scan page on an
 * index charges the index: "Table" shows 0.
 */
#include <string.h>

#include "protocol/protocol_int.h"

#define READ_UNIT 4096u
#define WRITE_UNIT 1024u

double p_read_units(size_t item_size, int found, int consistent) {
  double units = found ? (double)((item_size + READ_UNIT - 1) / READ_UNIT) : 1.0;
  if (units < 1.0) units = 1.0;
  return consistent ? units : units * 0.5;
}

double p_write_units(size_t new_size, size_t old_size, int old_found) {
  size_t sz = new_size;
  if (old_found && old_size > sz) sz = old_size;
  double units = (double)((sz + WRITE_UNIT - 1) / WRITE_UNIT);
  return units < 1.0 ? 1.0 : units;
}

json_t *p_consumed_capacity(const char *table, double units, p_rcc mode) {
  return p_consumed_capacity_indexed(table, units, NULL, NULL, 0, mode); /* no index arm */
}

/* ---- secondary indexes (operations.md 3, "Index maintenance", "Query / Scan") ---- */

#define MAX_HASH_KEY 2048u  /* an index key value past these is never indexed */
#define MAX_RANGE_KEY 1024u

static bool key_legal(const dv_value *v, dv_type t, size_t max) {
  if (!v || v->type != t) return false;
  return !((t == DV_S || t == DV_B) && (v->n == 0 || v->n > max));
}

/* Is item an entry of ix (all index keys present, typed and legal: the
 * sparse-index rule of storage.h)? */
static bool indexed(const p_index *ix, const dv_value *item) {
  if (!item || item->type != DV_M) return false;
  const char *h = ix->key.hash_name, *r = ix->key.range_name;
  if (!key_legal(dv_map_get(item, h, strlen(h)), ix->key.hash_type, MAX_HASH_KEY)) return false;
  return !r || key_legal(dv_map_get(item, r, strlen(r)), ix->key.range_type, MAX_RANGE_KEY);
}

/* DynamoDB size of item's entry in ix (its projected attributes). */
static size_t entry_size(const p_key_schema *ks, const p_index *ix, const dv_value *item) {
  size_t sz = 0;
  for (uint32_t i = 0; i < item->n; i++) {
    const dv_attr *at = &item->u.attrs[i];
    if (p_index_projects(ks, ix, at->name, at->name_len)) sz += at->name_len + dv_value_size(&at->value);
  }
  return sz;
}

/* Do old and new have the same entry in ix (same projected attributes,
 * equal values)? */
static bool same_entry(const p_key_schema *ks, const p_index *ix, const dv_value *old, const dv_value *nw) {
  if (ix->projection == P_PROJ_ALL) return dv_equal(old, nw);
  uint32_t n_old = 0, n_new = 0;
  for (uint32_t i = 0; i < old->n; i++) {
    const dv_attr *at = &old->u.attrs[i];
    if (!p_index_projects(ks, ix, at->name, at->name_len)) continue;
    n_old++;
    const dv_value *v = dv_map_get(nw, at->name, at->name_len);
    if (!v || !dv_equal(v, &at->value)) return false;
  }
  for (uint32_t i = 0; i < nw->n; i++)
    if (p_index_projects(ks, ix, nw->u.attrs[i].name, nw->u.attrs[i].name_len)) n_new++;
  return n_old == n_new;
}

static double entry_units(size_t sz) {
  double u = (double)((sz + WRITE_UNIT - 1) / WRITE_UNIT);
  return u < 1.0 ? 1.0 : u;
}

double p_index_write_units(const p_key_schema *ks, const p_index *ix, const dv_value *old_item,
                           const dv_value *new_item) {
  bool oi = indexed(ix, old_item), ni = indexed(ix, new_item);
  if (!oi && !ni) return 0.0;
  if (oi && ni) {
    const char *h = ix->key.hash_name, *r = ix->key.range_name;
    bool same_key = dv_equal(dv_map_get(old_item, h, strlen(h)), dv_map_get(new_item, h, strlen(h))) &&
                    (!r || dv_equal(dv_map_get(old_item, r, strlen(r)), dv_map_get(new_item, r, strlen(r))));
    if (same_key) return same_entry(ks, ix, old_item, new_item) ? 0.0 : entry_units(entry_size(ks, ix, new_item));
    /* the entry moves: one delete and one put */
    return entry_units(entry_size(ks, ix, old_item)) + entry_units(entry_size(ks, ix, new_item));
  }
  return entry_units(entry_size(ks, ix, oi ? old_item : new_item));
}

/* {"<name>":{"CapacityUnits":u}, ...} of the indexes of one kind (global or
 * local) charged something. NULL when none. */
static json_t *index_arm(const p_index *idx, const double *units, size_t n, int global) {
  json_t *arm = NULL;
  for (size_t i = 0; i < n; i++) {
    if (idx[i].global != global || units[i] <= 0.0) continue;
    if (!arm) arm = json_object();
    json_t *c = json_object();
    json_object_set_new(c, "CapacityUnits", json_real(units[i]));
    json_object_set_new(arm, idx[i].name, c);
  }
  return arm;
}

json_t *p_consumed_capacity_indexed(const char *table, double table_units, const p_index *idx,
                                    const double *units, size_t n, p_rcc mode) {
  if (mode == P_RCC_NONE) return NULL;
  double total = table_units;
  for (size_t i = 0; i < n; i++) total += units[i];
  json_t *o = json_object();
  json_object_set_new(o, "TableName", json_string(table));
  json_object_set_new(o, "CapacityUnits", json_real(total));
  if (mode == P_RCC_INDEXES) {
    json_t *t = json_object();
    json_object_set_new(t, "CapacityUnits", json_real(table_units));
    json_object_set_new(o, "Table", t);
    json_t *l = index_arm(idx, units, n, 0), *g = index_arm(idx, units, n, 1);
    if (l) json_object_set_new(o, "LocalSecondaryIndexes", l);
    if (g) json_object_set_new(o, "GlobalSecondaryIndexes", g);
  }
  return o;
}

json_t *p_consumed_capacity_read(const char *table, const p_index *ix, double units, p_rcc mode) {
  if (!ix) return p_consumed_capacity(table, units, mode);
  if (mode == P_RCC_NONE) return NULL;
  json_t *o = json_object();
  json_object_set_new(o, "TableName", json_string(table));
  json_object_set_new(o, "CapacityUnits", json_real(units));
  if (mode == P_RCC_INDEXES) {
    json_t *t = json_object();
    json_object_set_new(t, "CapacityUnits", json_real(0.0));
    json_object_set_new(o, "Table", t);
    json_t *arm = json_object(), *c = json_object();
    json_object_set_new(c, "CapacityUnits", json_real(units));
    json_object_set_new(arm, ix->name, c);
    json_object_set_new(o, ix->global ? "GlobalSecondaryIndexes" : "LocalSecondaryIndexes", arm);
  }
  return o;
}
