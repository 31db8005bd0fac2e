/*
 * handlers.c -- one handler per DynamoDB operation: the only code that joins
 * protocol/ (parse, validate, shape answers) and storage/ (catalog, items).
 *
 * Every handler follows protocol.md 2.1's order: request checks without a
 * table (p_parse_*), then the table lookup, then schema checks (p_check_*),
 * then the change. Replies that reveal state carry the LSN that must be
 * durable before the client sees them (server.h).
 *
 * Conditional writes (PutItem / UpdateItem / DeleteItem with a
 * ConditionExpression or Expected) are atomic by construction: a handler
 * runs start to finish on the one event-loop thread, and between reading
 * the old item (st_item_get), evaluating the condition / applying the update
 * and st_write() there is no await, no callback and no other thread that
 * writes items, so no other request can change the item in between. The
 * durability wait happens after st_write(), when the change is already
 * visible in memory to every later request.
 *
 * Secondary indexes: the write handlers check index key attributes at
 * DynamoDB's points (p_check_index_keys with the table's key checks for
 * PutItem; p_check_update_index before the item is read and
 * p_check_updated_index_keys on the finished item for UpdateItem), with
 * the index list cached on the table (df_table_indexes_cached); st_write
 * maintains the indexes in the write's own log record; ConsumedCapacity
 * adds each index's write units. CreateTable creates the storage indexes
 * right after the table; DescribeTable shows their live counts.
 *
 * Table life cycle for waiter tests (--create-delay-ms / --delete-delay-ms):
 * a table is CREATING until created + delay, which needs no state; a deleted
 * table is dropped from storage at once (with its indexes, after its GSI
 * backfills are stopped) and a "ghost" description answers
 * DescribeTable/ListTables with DELETING until its deadline.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <string.h>
#include <time.h>

#include "protocol/expr_eval.h"
#include "server/server.h"

/* A deleted table still shown as DELETING until its deadline. */
typedef struct df_ghost {
  struct df_ghost *next; /* next ghost */
  char *name;            /* table name (malloc'd) */
  json_t *desc;          /* its TableDescription in DELETING (owned) */
  double until;          /* epoch seconds after which it is gone */
} df_ghost;

struct df_tables {
  df_ghost *ghosts; /* deleted tables still visible as DELETING */
};

const char *const df_default_ns = ""; /* the default namespace */
#define k_ns df_default_ns

double df_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int df_tables_init(df_server *s) {
  s->tables = calloc(1, sizeof(*s->tables));
  if (!s->tables) return -1;
  if (df_pages_init(s) != 0) {
    free(s->tables);
    s->tables = NULL;
    return -1;
  }
  return 0;
}

static void ghost_free(df_ghost *g) {
  free(g->name);
  json_decref(g->desc);
  free(g);
}

static int state_release(df_server *s, st_table *t, void *ctx) {
  (void)s;
  (void)ctx;
  df_table_state_free(t);
  return 0;
}

void df_tables_close(df_server *s) {
  if (!s->tables) return;
  df_pages_close(s);
  df_tables_each(s, k_ns, state_release, NULL); /* the tables stay open until st_close */
  df_ghost *g = s->tables->ghosts;
  while (g) {
    df_ghost *next = g->next;
    ghost_free(g);
    g = next;
  }
  free(s->tables);
  s->tables = NULL;
}

/* Drop expired ghosts, then find name among the rest. */
static df_ghost *ghost_find(df_server *s, const char *name) {
  double now = df_now();
  df_ghost **pp = &s->tables->ghosts;
  while (*pp) {
    df_ghost *g = *pp;
    if (g->until <= now) {
      *pp = g->next;
      ghost_free(g);
      continue;
    }
    pp = &g->next;
  }
  for (df_ghost *g = s->tables->ghosts; g; g = g->next)
    if (strcmp(g->name, name) == 0) return g;
  return NULL;
}

/* ---- helpers --------------------------------------------------------------- */

static void reply_err(df_req *r, p_errcode code, const char *msg) {
  p_error e;
  p_error_init(&e);
  p_error_set(&e, code, "%s", msg);
  df_reply_error(r, &e, 0);
}

void df_reply_storage_error(df_req *r, int rc, const char *what) {
  df_log(r->srv, DF_LOG_ERROR, "%s failed: %s (%s)", what, st_strerror(rc), st_errname(rc));
  reply_err(r, P_INTERNAL, "The server encountered an internal error trying to fulfill the request.");
}

void df_key_schema_of(const st_table *t, p_key_schema *ks) {
  const st_table_def *d = st_table_info(t);
  ks->hash_name = d->hash.name;
  ks->hash_type = d->hash.type;
  ks->range_name = d->range.name;
  ks->range_type = d->range.name ? d->range.type : DV_NONE;
}

int df_table_is_creating(const df_server *s, const st_table *t) {
  if (s->cfg.create_delay_ms <= 0) return 0;
  return df_now() < st_table_info(t)->created + s->cfg.create_delay_ms / 1000.0;
}

json_t *df_table_meta(const st_table *t) {
  const st_table_def *d = st_table_info(t);
  return p_json_parse(d->meta, d->meta_len); /* as stored */
}

/* Forget what was derived from t's meta (indexes.c's parsed index list). */
static void state_meta_changed(st_table *t) {
  df_table_state *ts = df_table_state_peek(t);
  if (ts == NULL || !ts->idx_loaded) return;
  dv_arena_free(ts->idx_arena);
  json_decref(ts->idx_meta);
  ts->idx_arena = NULL;
  ts->idx_meta = NULL;
  ts->idx = NULL;
  ts->n_idx = 0;
  ts->idx_loaded = 0;
}

int df_table_set_meta(df_server *s, st_table *t, const json_t *meta, uint64_t *lsn) {
  char *text = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (!text) return ST_ENOMEM;
  int rc = st_table_set_meta(s->db, t, text, strlen(text), lsn);
  free(text);
  state_meta_changed(t); /* even on failure: re-read from what storage holds */
  return rc;
}

df_table_state *df_table_state_peek(const st_table *t) {
  return st_table_user(t);
}

df_table_state *df_table_state_of(st_table *t) {
  df_table_state *ts = st_table_user(t);
  if (ts == NULL) {
    ts = calloc(1, sizeof *ts);
    if (ts == NULL) abort(); /* small allocation (STYLE 5) */
    st_table_set_user(t, ts);
  }
  return ts;
}

void df_table_state_free(st_table *t) {
  df_table_state *ts = st_table_user(t);
  if (ts == NULL) return;
  state_meta_changed(t);
  free(ts->ttl_attr);
  free(ts);
  st_table_set_user(t, NULL);
}

json_t *df_describe_table(df_server *s, const st_table *t, const char *status) {
  const st_table_def *d = st_table_info(t);
  json_t *meta = df_table_meta(t);
  if (!meta) return NULL;
  p_key_schema ks;
  df_key_schema_of(t, &ks);
  if (!status) status = df_table_is_creating(s, t) ? "CREATING" : "ACTIVE";
  p_index_stats stats[64];
  size_t nstats = df_index_stats(t, stats, 64);
  json_t *desc = p_table_description(&s->pctx, d->name, &ks, meta, d->created, status, st_table_item_count(t),
                                     st_table_size_bytes(t), stats, nstats);
  json_decref(meta);
  return desc;
}

/* The LSN a reply must wait for when it reveals the catalog (which tables
 * exist): the newest change of any kind, since it may be a create or drop. */
static uint64_t read_wait_lsn(df_server *s) {
  return st_last_lsn(s->db);
}

/* The LSN a read of table t must wait for: the newest change to it. */
static uint64_t table_wait_lsn(const st_table *t) {
  return st_table_last_lsn(t);
}

int df_tables_each(df_server *s, const char *ns, int (*fn)(df_server *s, st_table *t, void *ctx), void *ctx) {
  char after[2100] = "";
  for (;;) {
    st_table *ts[64];
    int more = 0;
    size_t n = st_table_list(s->db, ns, after[0] ? after : NULL, ts, 64, &more);
    if (n > 0) snprintf(after, sizeof after, "%s", st_table_info(ts[n - 1])->name); /* before fn may change them */
    for (size_t i = 0; i < n; i++) {
      int rc = fn(s, ts[i], ctx);
      if (rc != 0) return rc;
    }
    if (n == 0 || !more) return 0;
  }
}

void df_reply_table_not_found(df_req *r, const char *name) {
  p_error e;
  p_error_init(&e);
  p_error_set(&e, P_RESOURCE_NOT_FOUND, "Requested resource not found: Table: %s not found", name);
  df_reply_error(r, &e, read_wait_lsn(r->srv));
}

st_table *df_item_table_find(df_server *s, const char *name) {
  st_table *t = st_table_find(s->db, k_ns, name);
  return t && !df_table_is_creating(s, t) ? t : NULL;
}

st_table *df_item_table(df_req *r, const char *name) {
  st_table *t = df_item_table_find(r->srv, name);
  if (!t) reply_err(r, P_RESOURCE_NOT_FOUND, "Requested resource not found");
  return t;
}

/* "ItemCollectionMetrics" of a write to a table with an LSI (asked for
 * with ReturnItemCollectionMetrics SIZE): the item's partition key. */
static void add_collection_metrics(json_t *out, const p_key_schema *ks, const dv_value *item) {
  json_t *m = p_item_collection_metrics(ks, item);
  if (m) json_object_set_new(out, "ItemCollectionMetrics", m);
}

/* ConsumedCapacity of a write to a table with indexes idx[0..nidx): the
 * table's units plus each index's (old / new: the item before and after,
 * NULL for none). */
static void add_write_capacity(df_req *r, json_t *out, const char *table, const p_key_schema *ks,
                               const p_index *idx, size_t nidx, double table_units, const dv_value *old_item,
                               const dv_value *new_item, p_rcc rcc) {
  if (rcc == P_RCC_NONE) return;
  double *units = nidx > 0 ? dv_arena_calloc(r->arena, nidx * sizeof *units) : NULL;
  df_index_units_add(ks, idx, nidx, old_item, new_item, units);
  json_t *cc = df_write_capacity(table, table_units, idx, units, nidx, rcc);
  if (cc) json_object_set_new(out, "ConsumedCapacity", cc);
}

/* ---- control plane ----------------------------------------------------------- */

int df_table_create(df_server *s, p_create_table *ct, st_table **out, uint64_t *lsn, p_error *e) {
  *out = NULL;
  uint8_t rand16[16];
  if (getrandom(rand16, sizeof(rand16), 0) != (ssize_t)sizeof(rand16)) {
    for (size_t i = 0; i < sizeof(rand16); i++) rand16[i] = (uint8_t)(rand() >> 7);
  }
  p_create_table_set_id(ct, rand16);
  if (ghost_find(s, ct->table_name)) {
    json_decref(ct->meta);
    ct->meta = NULL;
    p_error_set(e, P_RESOURCE_IN_USE, "Table already exists: %s", ct->table_name);
    return ST_EEXIST;
  }
  json_t *m = ct->meta; /* kept below for the stream's names */
  ct->meta = NULL;
  char *meta = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (!meta) {
    json_decref(m);
    return ST_ENOMEM;
  }
  st_table_def def = {
      .ns = k_ns,
      .name = ct->table_name,
      .hash = {ct->key.hash_name, ct->key.hash_type},
      .range = {ct->key.range_name, ct->key.range_name ? ct->key.range_type : DV_NONE},
      .meta = meta,
      .meta_len = strlen(meta),
      .created = floor(df_now() * 1000.0) / 1000.0,
  };
  int rc = st_table_create(s->db, &def, lsn);
  free(meta);
  st_table *t = rc == ST_OK ? st_table_find(s->db, k_ns, ct->table_name) : NULL;
  if (rc == ST_OK && !t) rc = ST_ECORRUPT;
  if (rc != ST_OK) {
    json_decref(m);
    if (rc == ST_EEXIST) p_error_set(e, P_RESOURCE_IN_USE, "Table already exists: %s", ct->table_name);
    return rc;
  }
  /* Its indexes, one record each after the table's (a crash in between is
   * repaired by df_indexes_init: indexes.c). */
  for (size_t i = 0; i < ct->n_indexes && rc == ST_OK; i++)
    rc = df_index_create(s, t, &ct->indexes[i], NULL, lsn);
  if (rc != ST_OK) {
    json_decref(m);
    return rc;
  }
  /* A stream asked for at creation begins with the table. */
  json_t *spec = json_object_get(m, "StreamSpecification");
  if (spec && json_is_true(json_object_get(spec, "StreamEnabled"))) {
    char label[24];
    char *arn = NULL;
    rc = df_stream_enable(s, t, p_view_from_name(json_string_value(json_object_get(spec, "StreamViewType"))),
                          label, &arn, lsn);
    if (rc == ST_OK) {
      json_object_set_new(m, "LatestStreamLabel", json_string(label));
      json_object_set_new(m, "LatestStreamArn", json_string(arn));
      free(arn);
      rc = df_table_set_meta(s, t, m, lsn);
    }
  }
  json_decref(m);
  if (rc != ST_OK) return rc;
  *out = t;
  return ST_OK;
}

void h_create_table(df_req *r) {
  df_server *s = r->srv;
  p_create_table ct;
  p_error e;
  p_error_init(&e);
  if (p_parse_create_table(r->body, &s->pctx, r->arena, &ct, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = NULL;
  uint64_t lsn = 0;
  int rc = df_table_create(s, &ct, &t, &lsn, &e);
  if (rc == ST_EEXIST) {
    df_reply_error(r, &e, 0);
    return;
  }
  if (rc != ST_OK) {
    df_reply_storage_error(r, rc, "CreateTable");
    return;
  }
  /* AWS answers CREATING; the first DescribeTable shows ACTIVE unless a
   * create delay is configured. */
  json_t *desc = df_describe_table(s, t, "CREATING");
  if (!desc) {
    df_reply_storage_error(r, ST_ECORRUPT, "CreateTable describe");
    return;
  }
  json_t *out = json_object();
  json_object_set_new(out, "TableDescription", desc);
  df_reply_json(r, out, lsn);
}

void h_describe_table(df_req *r) {
  df_server *s = r->srv;
  const char *name;
  p_error e;
  p_error_init(&e);
  if (p_parse_table_name(r->body, r->arena, &name, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = st_table_find(s->db, k_ns, name);
  json_t *desc = NULL;
  if (t) {
    desc = df_describe_table(s, t, NULL);
    if (!desc) {
      df_reply_storage_error(r, ST_ECORRUPT, "DescribeTable");
      return;
    }
  } else {
    df_ghost *g = ghost_find(s, name);
    if (!g) {
      df_reply_table_not_found(r, name);
      return;
    }
    desc = json_incref(g->desc);
  }
  json_t *out = json_object();
  json_object_set_new(out, "Table", desc);
  df_reply_json(r, out, t ? table_wait_lsn(t) : read_wait_lsn(s));
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void h_list_tables(df_req *r) {
  df_server *s = r->srv;
  p_list_tables lt;
  p_error e;
  p_error_init(&e);
  if (p_parse_list_tables(r->body, r->arena, &lt, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  size_t limit = (size_t)lt.limit;
  /* Live tables (one more than the limit tells whether more follow), then
   * the ghosts still DELETING, merged in name order. */
  st_table **live = dv_arena_alloc(r->arena, (limit + 1) * sizeof(*live));
  int more = 0;
  size_t nlive = st_table_list(s->db, k_ns, lt.exclusive_start, live, limit + 1, &more);
  ghost_find(s, ""); /* expire old ghosts */
  size_t nghost = 0;
  for (df_ghost *g = s->tables->ghosts; g; g = g->next) nghost++;
  const char **names = dv_arena_alloc(r->arena, (nlive + nghost + 1) * sizeof(*names));
  size_t n = 0;
  for (size_t i = 0; i < nlive; i++) names[n++] = st_table_info(live[i])->name;
  for (df_ghost *g = s->tables->ghosts; g; g = g->next)
    if (!lt.exclusive_start || strcmp(g->name, lt.exclusive_start) > 0) names[n++] = g->name;
  qsort(names, n, sizeof(*names), cmp_str);
  /* Live tables beyond the fetched window may sort before some ghosts; the
   * window is limit + 1 live names, so the first limit + 1 merged names are
   * exact. */
  int has_more = n > limit || more;
  size_t take = n < limit ? n : limit;
  json_t *arr = json_array();
  for (size_t i = 0; i < take; i++) json_array_append_new(arr, json_string(names[i]));
  json_t *out = json_object();
  json_object_set_new(out, "TableNames", arr);
  if (has_more && take > 0) json_object_set_new(out, "LastEvaluatedTableName", json_string(names[take - 1]));
  df_reply_json(r, out, read_wait_lsn(s));
}

void h_delete_table(df_req *r) {
  df_server *s = r->srv;
  const char *name;
  p_error e;
  p_error_init(&e);
  if (p_parse_table_name(r->body, r->arena, &name, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = st_table_find(s->db, k_ns, name);
  if (!t) {
    df_ghost *g = ghost_find(s, name);
    if (g) { /* deleting a DELETING table succeeds */
      json_t *out = json_object();
      json_object_set_new(out, "TableDescription", json_incref(g->desc));
      df_reply_json(r, out, read_wait_lsn(s));
      return;
    }
    df_reply_table_not_found(r, name);
    return;
  }
  /* A page in progress holds an iterator on t: drop the table after it. */
  if (df_wait_tables(r, &t, 1)) return;
  if (df_table_is_creating(s, t)) {
    p_error_set(&e, P_RESOURCE_IN_USE,
                "Attempt to change a resource which is still in use: Table is being created: %s", name);
    df_reply_error(r, &e, read_wait_lsn(s));
    return;
  }
  json_t *desc = df_describe_table(s, t, "DELETING");
  if (!desc) {
    df_reply_storage_error(r, ST_ECORRUPT, "DeleteTable describe");
    return;
  }
  uint64_t lsn = 0;
  int rc = df_table_delete(s, t, desc, &lsn);
  if (rc != ST_OK) {
    json_decref(desc);
    df_reply_storage_error(r, rc, "DeleteTable");
    return;
  }
  json_t *out = json_object();
  json_object_set_new(out, "TableDescription", desc);
  df_reply_json(r, out, lsn);
}

int df_table_delete(df_server *s, st_table *t, const json_t *desc, uint64_t *lsn) {
  char *name = strdup(st_table_info(t)->name);
  if (!name) return ST_ENOMEM;
  int rc = ST_OK;
  if (st_table_events(t)) rc = df_stream_disable(s, t, lsn); /* the stream outlives the table, DISABLED */
  df_index_backfill_stop(s, t, NULL);                        /* storage drops the indexes with the table */
  df_ttl_table_forget(s, t);
  df_table_state_free(t);
  if (rc == ST_OK) rc = st_table_drop(s->db, t, lsn);
  if (rc == ST_OK && s->cfg.delete_delay_ms > 0) {
    df_ghost *g = calloc(1, sizeof(*g));
    if (g) {
      g->name = name;
      name = NULL;
      g->desc = json_incref((json_t *)desc);
      g->until = df_now() + s->cfg.delete_delay_ms / 1000.0;
      g->next = s->tables->ghosts;
      s->tables->ghosts = g;
    }
  }
  free(name);
  return rc;
}

void h_describe_endpoints(df_req *r) {
  df_server *s = r->srv;
  p_error e;
  p_error_init(&e);
  if (p_parse_no_input(r->body, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  /* Like Alternator: the address the client used (its Host header). */
  char addr[300];
  const char *host = df_req_header(r, "Host");
  if (host && *host)
    snprintf(addr, sizeof(addr), "%s", host);
  else
    snprintf(addr, sizeof(addr), "%s:%d", s->cfg.host, s->cfg.port);
  df_reply_json(r, p_describe_endpoints(addr), 0);
}

void h_describe_limits(df_req *r) {
  p_error e;
  p_error_init(&e);
  if (p_parse_no_input(r->body, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  df_reply_json(r, p_describe_limits(), 0);
}

/* ---- items ------------------------------------------------------------------- */

int df_item_read(df_server *s, st_table *t, const dv_value *key, dv_arena *a, dv_value *out) {
  out->type = DV_NONE;
  int rc = st_item_get(t, key, a, out);
  if (rc != ST_OK) return rc;
  if (out->type == DV_M && df_ttl_expired(s, t, out)) out->type = DV_NONE; /* hidden: absent */
  return ST_OK;
}

/* The stored item of key, or DV_NONE; 0, or -1 answered (storage error). */
static int read_old(df_req *r, st_table *t, const dv_value *key, const char *what, dv_value *old) {
  int rc = df_item_read(r->srv, t, key, r->arena, old);
  if (rc != ST_OK) {
    df_reply_storage_error(r, rc, what);
    return -1;
  }
  return 0;
}

/* Evaluates a write's condition against the old item (DV_NONE = no item,
 * evaluated as the empty item). Returns 0 when it holds (or there is none);
 * otherwise answers ConditionalCheckFailedException -- with "Item": the old
 * item when ReturnValuesOnConditionCheckFailure is ALL_OLD and the item
 * exists (protocol.md 5) -- and returns -1. Nothing was written; the answer
 * reveals the item as read, so it waits for the table's newest change. */
static int condition_holds(df_req *r, st_table *t, const struct expr_node *cond, const dv_value *old,
                           int rvcf_all_old) {
  if (!cond) return 0;
  p_error e;
  p_error_init(&e);
  int ok = 0;
  if (expr_eval_condition(cond, old->type == DV_M ? old : NULL, &ok, &e) != 0) {
    df_reply_error(r, &e, table_wait_lsn(t));
    return -1;
  }
  if (ok) return 0;
  p_error_set(&e, P_CONDITIONAL_CHECK_FAILED, "The conditional request failed");
  if (rvcf_all_old && old->type == DV_M) {
    e.extra = json_object();
    json_object_set_new(e.extra, "Item", p_item_to_json(old));
  }
  df_reply_error(r, &e, table_wait_lsn(t));
  return -1;
}

void h_put_item(df_req *r) {
  df_server *s = r->srv;
  p_put_item req;
  p_error e;
  p_error_init(&e);
  if (p_parse_put_item(r->body, r->arena, &req, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = df_item_table(r, req.table_name);
  if (!t) return;
  if (df_wait_tables(r, &t, 1)) return; /* a page of t is in progress: run again after it */
  p_key_schema ks;
  df_key_schema_of(t, &ks);
  const p_index *idx;
  size_t nidx;
  if (df_table_indexes_cached(t, &idx, &nidx) != 0) {
    df_reply_storage_error(r, ST_ECORRUPT, "PutItem meta");
    return;
  }
  if (p_check_put_item(&ks, &req.item, &e) != 0 || p_check_index_keys(idx, nidx, &req.item, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  /* The old item is needed for the condition, ALL_OLD and the write units. */
  dv_value old = {.type = DV_NONE};
  if (req.condition || req.rv == P_RV_ALL_OLD || req.rcc != P_RCC_NONE) {
    if (read_old(r, t, &req.item, "PutItem read", &old)) return;
  }
  if (condition_holds(r, t, req.condition, &old, req.rvcf_all_old)) return;
  st_write_req w = {.table = t, .op = ST_PUT, .item = &req.item};
  uint64_t lsn = 0;
  int rc = st_write(s->db, &w, 1, &lsn);
  if (rc != ST_OK) {
    df_reply_storage_error(r, rc, "PutItem");
    return;
  }
  int icm = req.ricm_size && p_indexes_have_lsi(idx, nidx);
  if (req.rv == P_RV_NONE && req.rcc == P_RCC_NONE && !icm) { /* the common answer, without a jansson tree */
    char *empty = malloc(3);
    if (empty) memcpy(empty, "{}", 3);
    df_reply_text(r, empty, 2, lsn);
    return;
  }
  json_t *out = json_object();
  if (req.rv == P_RV_ALL_OLD && old.type == DV_M)
    json_object_set_new(out, "Attributes", p_item_to_json(&old));
  int old_found = old.type == DV_M;
  add_write_capacity(r, out, req.table_name, &ks, idx, nidx,
                     p_write_units(dv_item_size(&req.item), old_found ? dv_item_size(&old) : 0, old_found),
                     old_found ? &old : NULL, &req.item, req.rcc);
  if (icm) add_collection_metrics(out, &ks, &req.item);
  df_reply_json(r, out, lsn);
}

void h_get_item(df_req *r) {
  p_get_item req;
  p_error e;
  p_error_init(&e);
  if (p_parse_get_item(r->body, r->arena, &req, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = df_item_table(r, req.table_name);
  if (!t) return;
  p_key_schema ks;
  df_key_schema_of(t, &ks);
  if (p_check_key(&ks, &req.key, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  dv_value item = {.type = DV_NONE};
  int rc = df_item_read(r->srv, t, &req.key, r->arena, &item); /* expired: hidden */
  if (rc != ST_OK) {
    df_reply_storage_error(r, rc, "GetItem");
    return;
  }
  int found = item.type == DV_M;
  /* Written directly (no jansson tree): {"Item":..,"ConsumedCapacity":..}. */
  p_buf b;
  p_buf_init(&b);
  p_buf_puts(&b, "{");
  if (found) {
    /* ProjectionExpression or AttributesToGet; the read is charged on the
     * whole item (operations.md 3). */
    p_buf_puts(&b, "\"Item\":");
    if (req.projection) {
      dv_value proj = expr_project(&item, req.projection->paths, req.projection->n, r->arena);
      p_write_item_json(&b, &proj);
    } else {
      p_write_item_json(&b, &item);
    }
  }
  json_t *cc = p_consumed_capacity(req.table_name, p_read_units(found ? dv_item_size(&item) : 0, found,
                                                                req.consistent), req.rcc);
  if (cc) {
    char *text = json_dumps(cc, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(cc);
    if (found) p_buf_puts(&b, ",");
    p_buf_puts(&b, "\"ConsumedCapacity\":");
    if (text) p_buf_puts(&b, text);
    free(text);
  }
  p_buf_puts(&b, "}");
  size_t len = 0;
  char *body = p_buf_steal(&b, &len);
  df_reply_text(r, body, len, table_wait_lsn(t));
}

void h_delete_item(df_req *r) {
  df_server *s = r->srv;
  p_delete_item req;
  p_error e;
  p_error_init(&e);
  if (p_parse_delete_item(r->body, r->arena, &req, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = df_item_table(r, req.table_name);
  if (!t) return;
  if (df_wait_tables(r, &t, 1)) return; /* a page of t is in progress: run again after it */
  p_key_schema ks;
  df_key_schema_of(t, &ks);
  if (p_check_key(&ks, &req.key, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  const p_index *idx;
  size_t nidx;
  if (df_table_indexes_cached(t, &idx, &nidx) != 0) {
    df_reply_storage_error(r, ST_ECORRUPT, "DeleteItem meta");
    return;
  }
  dv_value old;
  if (read_old(r, t, &req.key, "DeleteItem read", &old)) return;
  if (condition_holds(r, t, req.condition, &old, req.rvcf_all_old)) return;
  uint64_t lsn = table_wait_lsn(t);
  if (old.type == DV_M) { /* deleting a missing item writes nothing */
    st_write_req w = {.table = t, .op = ST_DEL, .item = &req.key};
    int rc = st_write(s->db, &w, 1, &lsn);
    if (rc != ST_OK) {
      df_reply_storage_error(r, rc, "DeleteItem");
      return;
    }
  }
  json_t *out = json_object();
  int old_found = old.type == DV_M;
  if (req.rv == P_RV_ALL_OLD && old_found) json_object_set_new(out, "Attributes", p_item_to_json(&old));
  add_write_capacity(r, out, req.table_name, &ks, idx, nidx,
                     p_write_units(0, old_found ? dv_item_size(&old) : 0, old_found), old_found ? &old : NULL,
                     NULL, req.rcc);
  if (req.ricm_size && p_indexes_have_lsi(idx, nidx)) add_collection_metrics(out, &ks, &req.key);
  df_reply_json(r, out, lsn);
}

/* 1 if applying u to a missing item creates it. An update with only REMOVE
 * / DELETE actions has nothing to remove from a missing item and creates
 * nothing (the legacy documentation says so of AttributeUpdates DELETE:
 * "If no item with the specified key is found: Nothing happens"; the spec
 * leaves the expression case unverified, expressions.md 6 "missing item",
 * and we answer it the same way). Any SET or ADD upserts the item from its
 * key, and so does an update with no action at all (UpdateItem with only a
 * Key creates a key-only item). */
static int update_creates(const expr_update *u) {
  if (u->n == 0) return 1;
  for (uint32_t i = 0; i < u->n; i++)
    if (u->actions[i].kind == EXPR_ACT_SET || u->actions[i].kind == EXPR_ACT_ADD) return 1;
  return 0;
}

void h_update_item(df_req *r) {
  df_server *s = r->srv;
  p_update_item req;
  p_error e;
  p_error_init(&e);
  if (p_parse_update_item(r->body, r->arena, &req, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = df_item_table(r, req.table_name);
  if (!t) return;
  if (df_wait_tables(r, &t, 1)) return; /* a page of t is in progress: run again after it */
  p_key_schema ks;
  df_key_schema_of(t, &ks);
  const p_index *idx;
  size_t nidx;
  if (df_table_indexes_cached(t, &idx, &nidx) != 0) {
    df_reply_storage_error(r, ST_ECORRUPT, "UpdateItem meta");
    return;
  }
  /* key vs schema, then key attributes, then the actions on index keys */
  if (p_check_update_item(&ks, &req, &e) != 0 || p_check_update_index(idx, nidx, &req, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  dv_value old;
  if (read_old(r, t, &req.key, "UpdateItem read", &old)) return;
  const dv_value *oldp = old.type == DV_M ? &old : NULL;

  /* Item-dependent errors, ranked (protocol.md 2.1 step 13): the update is
   * applied to a copy first; an item-size error found there answers before
   * the condition (expressions.md 6 "result size": checked before the
   * condition), then a failed condition, then the other runtime errors
   * (operand types, missing right-hand sides, document paths), so that the
   * usual "update only if it exists" idiom -- attribute_exists(pk) with
   * SET n = n + :one on a missing item -- answers
   * ConditionalCheckFailedException. */
  dv_value nw;
  expr_changes ch;
  p_error ue;
  p_error_init(&ue);
  int bad_update = expr_apply_update(req.update, oldp, &req.key, &ks, 0, r->arena, &nw, &ch, &ue) != 0;
  /* These answers depend on the item as read: they wait for its newest
   * change, like a read. */
  if (bad_update && ue.msg && !strcmp(ue.msg, EXPR_MSG_ITEM_TOO_BIG)) {
    df_reply_error(r, &ue, table_wait_lsn(t));
    return;
  }
  if (condition_holds(r, t, req.condition, &old, req.rvcf_all_old)) {
    p_error_clear(&ue);
    return;
  }
  if (bad_update) {
    df_reply_error(r, &ue, table_wait_lsn(t));
    return;
  }

  int write = oldp || update_creates(req.update);
  /* The finished item's index keys (a copy or a function may have given
   * one a wrong type or an empty value). */
  if (write && p_check_updated_index_keys(idx, nidx, &old, &nw, &e) != 0) {
    df_reply_error(r, &e, table_wait_lsn(t));
    return;
  }
  uint64_t lsn = table_wait_lsn(t);
  if (write) {
    st_write_req w = {.table = t, .op = ST_PUT, .item = &nw};
    int rc = st_write(s->db, &w, 1, &lsn);
    if (rc != ST_OK) {
      df_reply_storage_error(r, rc, "UpdateItem");
      return;
    }
  }
  json_t *out = json_object();
  dv_value attrs = {.type = DV_NONE};
  switch (req.rv) {
    case P_RV_ALL_OLD:
      if (oldp) attrs = old;
      break;
    case P_RV_ALL_NEW:
      if (write) attrs = nw;
      break;
    case P_RV_UPDATED_OLD:
      expr_updated_values(&ch, EXPR_UPDATED_OLD, r->arena, &attrs);
      break;
    case P_RV_UPDATED_NEW:
      if (write) expr_updated_values(&ch, EXPR_UPDATED_NEW, r->arena, &attrs);
      break;
    case P_RV_NONE:
      break;
  }
  if (attrs.type == DV_M && attrs.n > 0) json_object_set_new(out, "Attributes", p_item_to_json(&attrs));
  add_write_capacity(
      r, out, req.table_name, &ks, idx, nidx,
      p_write_units(write ? dv_item_size(&nw) : 0, oldp ? dv_item_size(oldp) : 0, oldp != NULL), oldp,
      write ? &nw : NULL, req.rcc);
  if (req.ricm_size && p_indexes_have_lsi(idx, nidx)) add_collection_metrics(out, &ks, &req.key);
  df_reply_json(r, out, lsn);
}
