/*
 * indexes.c -- secondary indexes as the protocol sees them (operations.md
 * 2, 4.1, 4.2, 5.1, 5.3-5.5, 6; expressions.md 6): CreateTable's index
 * definitions and their meta form, reading them back from a table's meta
 * (p_table_indexes), the index lists of DescribeTable, the write-path checks
 * of index key values, and the index-read helpers (what an index projects,
 * when an LSI read fetches the base item, the LastEvaluatedKey of an index
 * page). Query/Scan's index checks are in query.c, the capacity of index
 * writes and reads in capacity.c, UpdateTable's GSI changes in
 * update_table.c.
 *
 * Meta form (members of control.c's meta object):
 *
 *   LocalSecondaryIndexes   [{IndexName, KeySchema, Projection}]
 *   GlobalSecondaryIndexes  [{IndexName, KeySchema, Projection,
 *                             ProvisionedThroughput   {ReadCapacityUnits, WriteCapacityUnits}
 *                                                     (integers; provisioned tables only),
 *                             OnDemandThroughput,     as sent (if sent)
 *                             WarmThroughput,
 *                             IndexStatus             "CREATING" | "ACTIVE",
 *                             Backfilling             true while the index is being filled
 *                                                     (absent otherwise)}]
 *
 *   KeySchema   [{AttributeName, KeyType}] as sent: HASH first, RANGE second
 *               (an LSI's HASH is the table's);
 *   Projection  {ProjectionType, NonKeyAttributes (INCLUDE only)}.
 *
 * The key attributes' types are the table's AttributeDefinitions, which
 * hold exactly the attributes some table or index key uses.
 *
 * CreateTable index checks, in this order (the first failure answers;
 * operations.md 4.1's row order within dynalite's layering: the table's
 * own checks first (control.c), then LSIs, then GSIs, then the limits that
 * span indexes, then unused definitions):
 *   1. LSIs on a hash-only table;
 *   2. per LSI in request order: key schema (undefined attribute, same
 *      name, HASH first, RANGE second), no RANGE, another leading hash,
 *      projection (ProjectionType null, NonKeyAttributes with ALL /
 *      KEYS_ONLY, INCLUDE without them), duplicate index name;
 *   3. more than 5 LSIs;
 *   4. per GSI: key schema, projection, duplicate name, throughput against
 *      the billing mode (given on-demand, missing provisioned), bounds;
 *   5. more than 20 GSIs;
 *   6. more than 100 NonKeyAttributes over all indexes (a name in two
 *      indexes counts twice);
 *   7. a definition no key uses ("Some AttributeDefinitions are not used",
 *      both lists sorted, as moto prints them).
 * Texts not pinned by the spec (dynafile's choice, closest known wording):
 * the 100-attribute limit (DynamoDB's older "Number of projected attributes
 * in all indexes exceeds limit of 20" with the current limit), the
 * empty-binary variants of the empty-string messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/expr.h"
#include "protocol/protocol_int.h"

#define INVALID "One or more parameter values were invalid: "
#define MAX_HASH_KEY 2048u   /* bytes of a partition key value (operations.md 1.5) */
#define MAX_RANGE_KEY 1024u  /* bytes of a sort key value */
#define MAX_LSIS 5           /* LocalSecondaryIndexes per table */
#define MAX_GSIS 20          /* GlobalSecondaryIndexes per table */
#define MAX_PROJECTED 100    /* NonKeyAttributes over all indexes */

/* ---- helpers ----------------------------------------------------------------- */

static bool str_is(const json_t *j, const char *s) {
  return json_is_string(j) && !strcmp(json_string_value(j), s);
}

static dv_type def_type_of(const json_t *defs, const char *name) {
  const json_t *d = p__find_def(defs, name);
  const char *t = d ? json_string_value(p__member_get(d, "AttributeType")) : NULL;
  return t ? dv_type_from_name(t, strlen(t)) : DV_NONE;
}

static bool name_is(const char *a, const char *b, size_t blen) {
  return a && strlen(a) == blen && !memcmp(a, b, blen);
}

/* An index object (request or meta form: the member names are the same)
 * -> p_index. -1 when it cannot be read (missing name or key, key
 * attribute without a definition of a key type). */
static int index_read(const json_t *o, int global, const json_t *defs, dv_arena *a, p_index *out) {
  memset(out, 0, sizeof *out);
  const json_t *name = p__member_get(o, "IndexName");
  const json_t *ks = p__member_get(o, "KeySchema");
  if (!json_is_string(name) || !json_is_array(ks)) return -1;
  out->name = dv_arena_strndup(a, json_string_value(name), json_string_length(name));
  out->global = global;
  size_t i;
  const json_t *e;
  json_array_foreach(ks, i, e) {
    const json_t *an = p__member_get(e, "AttributeName");
    if (!json_is_string(an)) return -1;
    const char *n = dv_arena_strndup(a, json_string_value(an), json_string_length(an));
    dv_type t = def_type_of(defs, n);
    if (!dv_type_is_scalar_key(t)) return -1;
    if (str_is(p__member_get(e, "KeyType"), "RANGE")) {
      out->key.range_name = n;
      out->key.range_type = t;
    } else {
      out->key.hash_name = n;
      out->key.hash_type = t;
    }
  }
  if (!out->key.hash_name) return -1;
  const json_t *proj = p__member_get(o, "Projection");
  const json_t *pt = p__member_get(proj, "ProjectionType");
  out->projection = str_is(pt, "ALL") ? P_PROJ_ALL : str_is(pt, "INCLUDE") ? P_PROJ_INCLUDE : P_PROJ_KEYS_ONLY;
  if (out->projection == P_PROJ_INCLUDE) {
    const json_t *nka = p__member_get(proj, "NonKeyAttributes");
    size_t n = json_array_size(nka);
    out->include = n ? dv_arena_alloc(a, n * sizeof *out->include) : NULL;
    json_array_foreach(nka, i, e) {
      if (!json_is_string(e)) continue;
      out->include[out->n_include++] = dv_arena_strndup(a, json_string_value(e), json_string_length(e));
    }
  }
  out->creating = global && str_is(p__member_get(o, "IndexStatus"), "CREATING");
  return 0;
}

/* ---- CreateTable ----------------------------------------------------------------- */

int p__projection_check(const json_t *proj, p_error *err) {
  const json_t *pt = p__member_get(proj, "ProjectionType");
  const json_t *nka = p__member_get(proj, "NonKeyAttributes");
  if (!pt) return p_error_set(err, P_VALIDATION, INVALID "Unknown ProjectionType: null");
  if (nka && !str_is(pt, "INCLUDE"))
    return p_error_set(err, P_VALIDATION, INVALID "ProjectionType is %s, but NonKeyAttributes is specified",
                       json_string_value(pt));
  if (!nka && str_is(pt, "INCLUDE"))
    return p_error_set(err, P_VALIDATION, INVALID "ProjectionType is INCLUDE, but NonKeyAttributes is not specified");
  return 0;
}

/* {ProjectionType, NonKeyAttributes?} of a validated Projection (new ref). */
static json_t *projection_meta(const json_t *proj) {
  json_t *o = json_object();
  json_object_set_new(o, "ProjectionType", json_deep_copy(p__member_get(proj, "ProjectionType")));
  const json_t *nka = p__member_get(proj, "NonKeyAttributes");
  if (nka) json_object_set_new(o, "NonKeyAttributes", json_deep_copy(nka));
  return o;
}

static json_t *key_schema_meta(const json_t *ks) {
  json_t *arr = json_array();
  size_t i;
  const json_t *e;
  json_array_foreach(ks, i, e) {
    json_t *o = json_object();
    json_object_set_new(o, "AttributeName", json_deep_copy(p__member_get(e, "AttributeName")));
    json_object_set_new(o, "KeyType", json_deep_copy(p__member_get(e, "KeyType")));
    json_array_append_new(arr, o);
  }
  return arr;
}

json_t *p__gsi_meta(const json_t *req, bool on_demand, const char *status) {
  json_t *o = json_object();
  json_object_set_new(o, "IndexName", json_deep_copy(p__member_get(req, "IndexName")));
  json_object_set_new(o, "KeySchema", key_schema_meta(p__member_get(req, "KeySchema")));
  json_object_set_new(o, "Projection", projection_meta(p__member_get(req, "Projection")));
  const json_t *pt = p__member_get(req, "ProvisionedThroughput");
  if (pt && !on_demand) {
    json_t *t = json_object();
    json_object_set_new(t, "ReadCapacityUnits", json_integer(p__long_value(p__member_get(pt, "ReadCapacityUnits"))));
    json_object_set_new(t, "WriteCapacityUnits",
                        json_integer(p__long_value(p__member_get(pt, "WriteCapacityUnits"))));
    json_object_set_new(o, "ProvisionedThroughput", t);
  }
  static const char *const kept[] = {"OnDemandThroughput", "WarmThroughput"};
  for (size_t i = 0; i < 2; i++) {
    const json_t *x = p__member_get(req, kept[i]);
    if (x) json_object_set_new(o, kept[i], json_deep_copy(x));
  }
  json_object_set_new(o, "IndexStatus", json_string(status));
  return o;
}

/* A growing set of names (the key attributes used), in first-use order. */
typedef struct name_set {
  const char **v; /* names (borrowed) */
  size_t n;       /* used */
  size_t cap;     /* allocated */
} name_set;

static void name_set_add(name_set *s, const char *name) {
  if (!name) return;
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->v[i], name)) return;
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 8;
    s->v = p__xrealloc(s->v, s->cap * sizeof *s->v);
  }
  s->v[s->n++] = name;
}

static int cmp_str_ptr(const void *x, const void *y) {
  return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* "[a, b]" of names sorted bytewise (moto's rendering of the lists). */
static char *sorted_list(const char **names, size_t n) {
  const char **c = p__xmalloc((n ? n : 1) * sizeof *c);
  memcpy(c, names, n * sizeof *c);
  qsort(c, n, sizeof *c, cmp_str_ptr);
  p__sbuf b = {0};
  p__sbuf_add(&b, "[", 1);
  for (size_t i = 0; i < n; i++) {
    if (i) p__sbuf_add(&b, ", ", 2);
    p__sbuf_add(&b, c[i], strlen(c[i]));
  }
  p__sbuf_add(&b, "]", 1);
  free(c);
  return b.p;
}

static const char *key_name(const json_t *ks, size_t i) {
  return json_string_value(p__member_get(json_array_get(ks, i), "AttributeName"));
}

/* Record an index name; "Duplicate index name" if an LSI or GSI already has it. */
static int add_index_name(name_set *names, const char *name, p_error *err) {
  for (size_t j = 0; j < names->n; j++)
    if (!strcmp(names->v[j], name))
      return p_error_set(err, P_VALIDATION, INVALID "Duplicate index name: %s", name);
  name_set_add(names, name);
  return 0;
}

/* Record the key attributes of index definition e in used; returns its
 * NonKeyAttributes count (the 100-attribute limit). */
static size_t note_index_keys(name_set *used, const json_t *e) {
  const json_t *iks = p__member_get(e, "KeySchema");
  for (size_t k = 0; k < json_array_size(iks); k++) name_set_add(used, key_name(iks, k));
  return json_array_size(p__member_get(p__member_get(e, "Projection"), "NonKeyAttributes"));
}

int p__create_indexes(const json_t *body, const p_key_schema *ks, bool on_demand, dv_arena *a, json_t **lsi_out,
                      json_t **gsi_out, p_create_table *out, p_error *err) {
  *lsi_out = *gsi_out = NULL;
  const json_t *defs = p__member_get(body, "AttributeDefinitions");
  const json_t *lsi = p__member_get(body, "LocalSecondaryIndexes");
  const json_t *gsi = p__member_get(body, "GlobalSecondaryIndexes");
  size_t nl = json_array_size(lsi), ng = json_array_size(gsi);
  name_set used = {0}, names = {0};
  json_t *lm = lsi ? json_array() : NULL, *gm = gsi ? json_array() : NULL;
  p_index *idx = dv_arena_calloc(a, (nl + ng ? nl + ng : 1) * sizeof *idx);
  size_t n_idx = 0, projected = 0;
  name_set_add(&used, ks->hash_name);
  name_set_add(&used, ks->range_name);

  if (lsi && !ks->range_name) {
    p_error_set(err, P_VALIDATION,
                INVALID
                "Table KeySchema does not have a range key, which is required when specifying a "
                "LocalSecondaryIndex");
    goto fail;
  }
  for (size_t i = 0; i < nl; i++) {
    const json_t *e = json_array_get(lsi, i);
    const char *name = json_string_value(p__member_get(e, "IndexName"));
    const json_t *iks = p__member_get(e, "KeySchema");
    if (p__key_schema_check(iks, defs, err)) goto fail;
    if (json_array_size(iks) < 2) {
      p_error_set(err, P_VALIDATION, INVALID "Index KeySchema does not have a range key for index: %s", name);
      goto fail;
    }
    if (strcmp(key_name(iks, 0), ks->hash_name)) {
      p_error_set(err, P_VALIDATION,
                  INVALID
                  "Index KeySchema does not have the same leading hash key as table KeySchema for index: "
                  "%s. index hash key: %s, table hash key: %s",
                  name, key_name(iks, 0), ks->hash_name);
      goto fail;
    }
    if (p__projection_check(p__member_get(e, "Projection"), err)) goto fail;
    if (add_index_name(&names, name, err)) goto fail;
    projected += note_index_keys(&used, e);
    json_t *o = json_object();
    json_object_set_new(o, "IndexName", json_string(name));
    json_object_set_new(o, "KeySchema", key_schema_meta(iks));
    json_object_set_new(o, "Projection", projection_meta(p__member_get(e, "Projection")));
    json_array_append_new(lm, o);
  }
  if (nl > MAX_LSIS) {
    p_error_set(err, P_VALIDATION, INVALID "Number of LocalSecondaryIndexes exceeds per-table limit of %d",
                MAX_LSIS);
    goto fail;
  }
  for (size_t i = 0; i < ng; i++) {
    const json_t *e = json_array_get(gsi, i);
    const char *name = json_string_value(p__member_get(e, "IndexName"));
    const json_t *iks = p__member_get(e, "KeySchema");
    if (p__key_schema_check(iks, defs, err)) goto fail;
    if (p__projection_check(p__member_get(e, "Projection"), err)) goto fail;
    if (add_index_name(&names, name, err)) goto fail;
    const json_t *pt = p__member_get(e, "ProvisionedThroughput");
    if (on_demand && pt) {
      p_error_set(err, P_VALIDATION,
                  INVALID "ProvisionedThroughput should not be specified for index: %s when BillingMode is "
                          "PAY_PER_REQUEST",
                  name);
      goto fail;
    }
    if (!on_demand && !pt) {
      p_error_set(err, P_VALIDATION, INVALID "ProvisionedThroughput must be specified for index: %s", name);
      goto fail;
    }
    if (pt && p__throughput_bounds(pt, err)) goto fail;
    projected += note_index_keys(&used, e);
    json_array_append_new(gm, p__gsi_meta(e, on_demand, "ACTIVE"));
  }
  if (ng > MAX_GSIS) {
    p_error_set(err, P_VALIDATION, INVALID "GlobalSecondaryIndex count exceeds the per-table limit of %d",
                MAX_GSIS);
    goto fail;
  }
  if (projected > MAX_PROJECTED) {
    p_error_set(err, P_VALIDATION, INVALID "Number of projected attributes in all indexes exceeds limit of %d",
                MAX_PROJECTED);
    goto fail;
  }
  size_t nd = json_array_size(defs);
  if (nd != used.n) { /* every key is defined and definitions are unique: one is unused */
    const char **dn = p__xmalloc((nd ? nd : 1) * sizeof *dn);
    for (size_t i = 0; i < nd; i++) dn[i] = key_name(defs, i);
    char *dl = sorted_list(dn, nd), *ul = sorted_list(used.v, used.n);
    p_error_set(err, P_VALIDATION,
                INVALID "Some AttributeDefinitions are not used. AttributeDefinitions: %s, keys used: %s", dl,
                ul);
    free(dl);
    free(ul);
    free(dn);
    goto fail;
  }
  /* The p_index list: LSIs then GSIs, read back from the meta made above. */
  for (size_t i = 0; i < nl; i++)
    if (index_read(json_array_get(lm, i), 0, defs, a, &idx[n_idx]) == 0) n_idx++;
  for (size_t i = 0; i < ng; i++)
    if (index_read(json_array_get(gm, i), 1, defs, a, &idx[n_idx]) == 0) n_idx++;
  out->indexes = n_idx ? idx : NULL;
  out->n_indexes = n_idx;
  *lsi_out = lm;
  *gsi_out = gm;
  free(used.v);
  free(names.v);
  return 0;
fail:
  json_decref(lm);
  json_decref(gm);
  free(used.v);
  free(names.v);
  return -1;
}

/* ---- reading the meta -------------------------------------------------------------- */

int p_table_indexes(const json_t *meta, dv_arena *a, p_index **idx, size_t *n) {
  *idx = NULL;
  *n = 0;
  const json_t *defs = p__member_get(meta, "AttributeDefinitions");
  const json_t *lists[2] = {p__member_get(meta, "LocalSecondaryIndexes"),
                            p__member_get(meta, "GlobalSecondaryIndexes")};
  size_t total = 0;
  for (int k = 0; k < 2; k++) {
    if (lists[k] && !json_is_array(lists[k])) return -1;
    total += json_array_size(lists[k]);
  }
  if (total == 0) return 0;
  p_index *out = dv_arena_calloc(a, total * sizeof *out);
  size_t m = 0;
  for (int k = 0; k < 2; k++) {
    size_t i;
    const json_t *e;
    json_array_foreach(lists[k], i, e) {
      if (index_read(e, k, defs, a, &out[m])) return -1;
      m++;
    }
  }
  *idx = out;
  *n = m;
  return 0;
}

const p_index *p_index_find(const p_index *idx, size_t n, const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < n; i++)
    if (idx[i].name && !strcmp(idx[i].name, name)) return &idx[i];
  return NULL;
}

int p_index_projects(const p_key_schema *ks, const p_index *ix, const char *name, size_t len) {
  if (ix->projection == P_PROJ_ALL) return 1;
  if (name_is(ks->hash_name, name, len) || name_is(ks->range_name, name, len) ||
      name_is(ix->key.hash_name, name, len) || name_is(ix->key.range_name, name, len))
    return 1;
  for (size_t i = 0; i < ix->n_include; i++)
    if (name_is(ix->include[i], name, len)) return 1;
  return 0;
}

json_t *p_meta_set_index_status(const json_t *meta, const char *name, const char *status, int backfilling) {
  json_t *m = json_is_object(meta) ? json_deep_copy(meta) : json_object();
  json_t *list = json_object_get(m, "GlobalSecondaryIndexes");
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (!str_is(json_object_get(e, "IndexName"), name)) continue;
    json_object_set_new(e, "IndexStatus", json_string(status));
    if (backfilling)
      json_object_set_new(e, "Backfilling", json_true());
    else
      json_object_del(e, "Backfilling");
  }
  return m;
}

/* ---- DescribeTable ------------------------------------------------------------------ */

static const p_index_stats *stats_of(const p_index_stats *stats, size_t n, const char *name) {
  for (size_t i = 0; name && i < n; i++)
    if (stats[i].name && !strcmp(stats[i].name, name)) return &stats[i];
  return NULL;
}

void p__describe_indexes(json_t *d, const char *table_arn, const json_t *meta, const p_index_stats *stats,
                         size_t n_stats) {
  static const char *const lists[2] = {"LocalSecondaryIndexes", "GlobalSecondaryIndexes"};
  bool on_demand = str_is(p__member_get(meta, "BillingMode"), "PAY_PER_REQUEST");
  for (int k = 0; k < 2; k++) {
    const json_t *list = p__member_get(meta, lists[k]);
    if (!json_is_array(list) || json_array_size(list) == 0) continue;
    json_t *arr = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e) {
      const json_t *name = p__member_get(e, "IndexName");
      if (!json_is_string(name)) continue;
      json_t *o = json_object();
      json_object_set_new(o, "IndexName", json_deep_copy(name));
      const json_t *x;
      if ((x = p__member_get(e, "KeySchema"))) json_object_set_new(o, "KeySchema", json_deep_copy(x));
      if ((x = p__member_get(e, "Projection"))) json_object_set_new(o, "Projection", json_deep_copy(x));
      if (k == 1) {
        const json_t *st = p__member_get(e, "IndexStatus");
        json_object_set_new(o, "IndexStatus", json_string(json_is_string(st) ? json_string_value(st) : "ACTIVE"));
        const json_t *bf = p__member_get(e, "Backfilling");
        if (json_is_true(bf))
          json_object_set_new(o, "Backfilling", json_true());
        else if (str_is(st, "CREATING"))
          json_object_set_new(o, "Backfilling", json_false());
        const json_t *pt = on_demand ? NULL : p__member_get(e, "ProvisionedThroughput");
        json_t *t = json_object();
        json_object_set_new(t, "NumberOfDecreasesToday", json_integer(0));
        json_object_set_new(t, "ReadCapacityUnits", json_integer(p__long_value(p__member_get(pt, "ReadCapacityUnits"))));
        json_object_set_new(t, "WriteCapacityUnits",
                            json_integer(p__long_value(p__member_get(pt, "WriteCapacityUnits"))));
        json_object_set_new(o, "ProvisionedThroughput", t);
      }
      const p_index_stats *s = stats_of(stats, n_stats, json_string_value(name));
      json_object_set_new(o, "IndexSizeBytes", json_integer(s ? (json_int_t)s->size_bytes : 0));
      json_object_set_new(o, "ItemCount", json_integer(s ? (json_int_t)s->item_count : 0));
      p__sbuf b = {0};
      p__sbuf_addf(&b, "%s/index/%s", table_arn, json_string_value(name));
      json_object_set_new(o, "IndexArn", json_string(b.p));
      free(b.p);
      if (k == 1) {
        static const char *const echoed[] = {"OnDemandThroughput", "WarmThroughput"};
        for (size_t j = 0; j < 2; j++)
          if ((x = p__member_get(e, echoed[j]))) json_object_set_new(o, echoed[j], json_deep_copy(x));
      }
      json_array_append_new(arr, o);
    }
    json_object_set_new(d, lists[k], arr);
  }
}

/* ---- write-path checks ---------------------------------------------------------------- */

/* The key attributes of an index the table's checks do not already cover:
 * an LSI's partition key is the table's. */
static int index_keys(const p_index *ix, const char *names[2], dv_type types[2]) {
  int n = 0;
  if (ix->global) {
    names[n] = ix->key.hash_name;
    types[n++] = ix->key.hash_type;
  }
  if (ix->key.range_name) {
    names[n] = ix->key.range_name;
    types[n++] = ix->key.range_type;
  }
  return n;
}

static bool is_range(const p_index *ix, const char *name) {
  return ix->key.range_name && !strcmp(ix->key.range_name, name);
}

/* Key value sizes (operations.md 1.5: also for index keys on write). */
static int key_size_check(const p_index *ix, const char *name, const dv_value *v, p_error *err) {
  if (v->type != DV_S && v->type != DV_B) return 0;
  if (!is_range(ix, name) && v->n > MAX_HASH_KEY)
    return p_error_set(err, P_VALIDATION, INVALID "Size of hashkey has exceeded the maximum size limit of2048 bytes");
  if (is_range(ix, name) && v->n > MAX_RANGE_KEY)
    return p_error_set(err, P_VALIDATION,
                       INVALID "Aggregated size of all range keys has exceeded the size limit of 1024 bytes");
  return 0;
}

static int empty_update_error(dv_type t, p_error *err) {
  return p_error_set(err, P_VALIDATION,
                     "One or more parameter values are not valid. The update expression attempted to update a "
                     "secondary index key to a value that is not supported. The AttributeValue for a key "
                     "attribute cannot contain an empty %s value.",
                     t == DV_S ? "string" : "binary");
}

/* The index key attributes of item against idx[0..n): updated = 0 for an
 * item as sent (PutItem's messages), 1 for UpdateItem's finished item
 * (its messages; attributes equal in old are skipped). */
static int check_keys(const p_index *idx, size_t n, const dv_value *old, const dv_value *item, int updated,
                      p_error *err) {
  if (!item || item->type != DV_M) return 0;
  for (size_t i = 0; i < n; i++) {
    const char *names[2];
    dv_type types[2];
    int nk = index_keys(&idx[i], names, types);
    for (int k = 0; k < nk; k++) {
      const dv_value *v = dv_map_get(item, names[k], strlen(names[k]));
      if (!v) continue;
      if (updated) {
        const dv_value *was = old && old->type == DV_M ? dv_map_get(old, names[k], strlen(names[k])) : NULL;
        if (was && dv_equal(was, v)) continue; /* untouched by the update */
      }
      int empty = (v->type == DV_S || v->type == DV_B) && v->n == 0;
      if (v->type != types[k] && updated)
        return p_error_set(err, P_VALIDATION,
                           "The update expression attempted to update the secondary index key to unsupported type");
      if (v->type != types[k])
        return p_error_set(err, P_VALIDATION,
                           INVALID "Type mismatch for Index Key %s Expected: %s Actual: %s IndexName: %s", names[k],
                           dv_type_name(types[k]), dv_type_name(v->type), idx[i].name);
      if (empty && updated) return empty_update_error(v->type, err);
      if (empty)
        return p_error_set(err, P_VALIDATION,
                           "One or more parameter values are not valid. A value specified for a secondary index "
                           "key is not supported. The AttributeValue for a key attribute cannot contain an empty "
                           "%s value. IndexName: %s, IndexKey: %s",
                           v->type == DV_S ? "string" : "binary", idx[i].name, names[k]);
      if (key_size_check(&idx[i], names[k], v, err)) return -1;
    }
  }
  return 0;
}

int p_check_index_keys(const p_index *idx, size_t n, const dv_value *item, p_error *err) {
  return check_keys(idx, n, NULL, item, 0, err);
}

int p_check_updated_index_keys(const p_index *idx, size_t n, const dv_value *old, const dv_value *item,
                               p_error *err) {
  return check_keys(idx, n, old, item, 1, err);
}

int p_check_update_index(const p_index *idx, size_t n, const struct p_update_item *req, p_error *err) {
  const expr_update *u = req ? req->update : NULL;
  if (!u) return 0;
  for (uint32_t a = 0; a < u->n; a++) {
    const expr_action *act = &u->actions[a];
    const expr_path_elem *top = &act->path.elems[0];
    for (size_t i = 0; i < n; i++) {
      const char *names[2];
      dv_type types[2];
      int nk = index_keys(&idx[i], names, types);
      for (int k = 0; k < nk; k++) {
        if (!name_is(names[k], top->name, top->name_len)) continue;
        if (act->path.n > 1)
          return p_error_set(err, P_VALIDATION,
                             "Key attributes must be scalars; list random access '[]' and map lookup '.' are not "
                             "allowed: IndexKey: %s",
                             names[k]);
        const expr_node *val = act->value;
        if (!val || val->kind != EXPR_VALUE || !val->value) continue;
        if (act->kind != EXPR_ACT_SET && act->kind != EXPR_ACT_ADD) continue;
        const dv_value *v = val->value;
        if (v->type != types[k])
          return p_error_set(err, P_VALIDATION,
                             INVALID "Type mismatch for Index Key %s Expected: %s Actual: %s IndexName: %s",
                             names[k], dv_type_name(types[k]), dv_type_name(v->type), idx[i].name);
        if (act->kind == EXPR_ACT_SET && (v->type == DV_S || v->type == DV_B) && v->n == 0)
          return empty_update_error(v->type, err);
        if (act->kind == EXPR_ACT_SET && key_size_check(&idx[i], names[k], v, err)) return -1;
      }
    }
  }
  return 0;
}

json_t *p_item_collection_metrics(const p_key_schema *ks, const dv_value *item) {
  const dv_value *h = item && item->type == DV_M ? dv_map_get(item, ks->hash_name, strlen(ks->hash_name)) : NULL;
  if (!h) return NULL;
  json_t *key = json_object();
  json_object_set_new(key, ks->hash_name, p_value_to_json(h));
  /* A small collection: DynamoDB's estimate is the range [0, 1] GB. */
  return json_pack("{s:o,s:[i,i]}", "ItemCollectionKey", key, "SizeEstimateRangeGB", 0, 1);
}

int p_indexes_have_lsi(const p_index *idx, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!idx[i].global) return 1;
  return 0;
}

/* ---- index reads ------------------------------------------------------------------------ */

/* Does a path of the tree start at an attribute ix does not project? */
static bool node_needs(const p_key_schema *ks, const p_index *ix, const expr_node *nd) {
  if (!nd) return false;
  if (nd->kind == EXPR_PATH && nd->path.n > 0)
    return !p_index_projects(ks, ix, nd->path.elems[0].name, nd->path.elems[0].name_len);
  for (uint32_t i = 0; i < nd->n; i++)
    if (node_needs(ks, ix, nd->kids[i])) return true;
  return false;
}

int p_index_needs_fetch(const p_key_schema *ks, const p_index *ix, const p_query *q) {
  if (!ix || ix->global || ix->projection == P_PROJ_ALL) return 0;
  if (q->select == P_SELECT_ALL && q->select_given) return 1;
  if (q->projection)
    for (uint32_t i = 0; i < q->projection->n; i++) {
      const expr_path_elem *top = &q->projection->paths[i].elems[0];
      if (!p_index_projects(ks, ix, top->name, top->name_len)) return 1;
    }
  return node_needs(ks, ix, q->filter) ? 1 : 0;
}

dv_value p_index_item_key(const p_key_schema *ks, const p_index *ix, const dv_value *entry, dv_arena *a) {
  dv_value out = {.type = DV_M, .n = 0};
  const char *names[4] = {ks->hash_name, ks->range_name, ix ? ix->key.hash_name : NULL,
                          ix ? ix->key.range_name : NULL};
  dv_attr *attrs = dv_arena_calloc(a, 4 * sizeof *attrs);
  for (int i = 0; i < 4; i++) {
    if (!names[i]) continue;
    int dup = 0;
    for (int j = 0; j < i; j++) dup |= names[j] && !strcmp(names[j], names[i]);
    if (dup) continue;
    const dv_value *v = entry && entry->type == DV_M ? dv_map_get(entry, names[i], strlen(names[i])) : NULL;
    if (!v) continue;
    attrs[out.n].name = dv_arena_strndup(a, names[i], strlen(names[i]));
    attrs[out.n].name_len = (uint32_t)strlen(names[i]);
    attrs[out.n].value = dv_clone(a, v);
    out.n++;
  }
  out.u.attrs = attrs;
  dv_map_sort(&out);
  return out;
}
