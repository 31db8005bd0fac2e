/*
 * indexes.c -- secondary indexes on the server side: the parsed index list
 * of a table (cached on its df_table_state), storage indexes made from
 * protocol definitions, DescribeTable's live figures, write capacity with
 * index arms, the GSI backfill jobs, and the startup reconciliation of the
 * tables' meta with storage.
 *
 * Who holds the truth: a table's meta (protocol/control.c's layout, the
 * "LocalSecondaryIndexes" / "GlobalSecondaryIndexes" lists) says which
 * indexes exist and in which state; storage holds one ST_KIND_INDEX entry
 * per index, kept exact by st_write itself (storage.h, "secondary
 * indexes"). Every change writes storage and meta in an order that leaves
 * meta right after a crash:
 *   1. CreateTable: the table, then its indexes, one record each; a crash
 *      in between leaves a table whose meta names an index storage lacks:
 *      df_indexes_init creates it and fills it at once.
 *   2. UpdateTable Create: the storage index first, then the meta naming it
 *      (IndexStatus CREATING, Backfilling true); a crash in between leaves
 *      a storage index that meta does not name: df_indexes_init drops it.
 *   3. UpdateTable Delete: the meta without it first, then the drop; a
 *      crash in between is repaired the same way.
 *   4. A backfill ends with the meta that says ACTIVE; a crash before it
 *      leaves the GSI CREATING, and df_indexes_init starts its backfill
 *      again from the first item (st_index_fill is idempotent: entries
 *      already right are left alone).
 *
 * Backfill: one job per GSI being created, holding a storage iterator over
 * the whole base table. One uv_idle handle (or, with
 * --backfill-delay-ms, a timer between slices) runs the jobs: each call of
 * st_index_fill reads --backfill-items base items and writes the entries
 * they need in one log record; a tick goes on for at most SLICE_NS of loop
 * time. Writes to the base go on meanwhile and maintain the index for items
 * before and after the iterator alike, so the index is exact once the
 * iterator is exhausted. A table with a sliced page in progress (or writes
 * parked behind one) is not filled during that tick: the backfill counts as
 * a write for pages.c's consistency rule. A job is stopped (its iterator
 * closed) before its table or index is dropped (df_index_backfill_stop).
 */
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"

/* Loop time one backfill tick may take (it stops after the fill call that
 * crosses it). */
#define SLICE_NS ((uint64_t)2 * 1000 * 1000)

/* The most indexes a table can have (5 LSIs + 20 GSIs) with room to spare. */
#define MAX_INDEXES 64

/* One GSI being filled. */
typedef struct bf_job {
  struct bf_job *next; /* the jobs' list */
  st_table *t;         /* the base table */
  st_table *ix;        /* its storage index being filled */
  char *name;          /* IndexName (malloc'd) */
  st_iter *it;         /* over the whole base, NULL until the first slice */
  uint64_t read;       /* base items read so far */
  uint64_t started;    /* uv_hrtime() at the start (log line) */
} bf_job;

struct df_indexes {
  df_server *s;    /* the server */
  bf_job *head;    /* jobs, oldest first */
  uv_idle_t idle;  /* runs ticks while jobs exist (no delay configured) */
  uv_timer_t wait; /* --backfill-delay-ms between ticks */
  int idle_on;     /* idle started */
  int timer_on;    /* wait started */
  int handles;     /* handles whose close callback is pending */
};

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = df_xmalloc(n);
  memcpy(p, s, n);
  return p;
}

/* ---- the index list ----------------------------------------------------------- */

int df_table_indexes_cached(st_table *t, const p_index **idx, size_t *n) {
  df_table_state *ts = df_table_state_of(t);
  if (!ts->idx_loaded) {
    json_t *meta = df_table_meta(t);
    if (meta == NULL) return -1;
    dv_arena *a = dv_arena_new();
    p_index *list = NULL;
    size_t cnt = 0;
    if (p_table_indexes(meta, a, &list, &cnt) != 0) {
      dv_arena_free(a);
      json_decref(meta);
      return -1;
    }
    ts->idx_meta = meta;
    ts->idx_arena = a;
    ts->idx = list;
    ts->n_idx = cnt;
    ts->idx_loaded = 1;
  }
  *idx = ts->idx;
  *n = ts->n_idx;
  return 0;
}

static const char *arena_str(dv_arena *a, const char *s) {
  return s != NULL ? dv_arena_strndup(a, s, strlen(s)) : NULL;
}

int df_table_indexes(const st_table *t, dv_arena *a, p_index **idx, size_t *n) {
  const p_index *src;
  size_t cnt;
  *idx = NULL;
  *n = 0;
  if (df_table_indexes_cached((st_table *)t, &src, &cnt) != 0) return -1;
  if (cnt == 0) return 0;
  p_index *out = dv_arena_alloc(a, cnt * sizeof *out);
  for (size_t i = 0; i < cnt; i++) {
    out[i] = src[i];
    out[i].name = arena_str(a, src[i].name);
    out[i].key.hash_name = arena_str(a, src[i].key.hash_name);
    out[i].key.range_name = arena_str(a, src[i].key.range_name);
    if (src[i].n_include > 0) {
      const char **inc = dv_arena_alloc(a, src[i].n_include * sizeof *inc);
      for (size_t k = 0; k < src[i].n_include; k++) inc[k] = arena_str(a, src[i].include[k]);
      out[i].include = inc;
    }
  }
  *idx = out;
  *n = cnt;
  return 0;
}

/* ---- storage indexes ---------------------------------------------------------- */

int df_index_create(df_server *s, st_table *t, const p_index *ix, st_table **out, uint64_t *lsn) {
  st_index_def def = {
      .name = ix->name,
      .hash = {ix->key.hash_name, ix->key.hash_type},
      .range = {ix->key.range_name, ix->key.range_name != NULL ? ix->key.range_type : DV_NONE},
      .projection = ix->projection == P_PROJ_ALL       ? ST_PROJ_ALL
                    : ix->projection == P_PROJ_INCLUDE ? ST_PROJ_INCLUDE
                                                       : ST_PROJ_KEYS_ONLY,
      .include = ix->include,
      .n_include = ix->n_include,
  };
  return st_index_create(s->db, t, &def, out, lsn);
}

int df_index_fill_now(df_server *s, st_table *t, st_table *ix, uint64_t *lsn) {
  st_iter_spec spec;
  memset(&spec, 0, sizeof spec);
  st_iter *it = NULL;
  int rc = st_iter_open(t, &spec, &it);
  if (rc != ST_OK) return rc;
  size_t per = s->cfg.backfill_items > 0 ? (size_t)s->cfg.backfill_items : 1000;
  for (int done = 0; !done && rc == ST_OK;) {
    size_t nread = 0;
    uint64_t l = 0;
    rc = st_index_fill(s->db, ix, it, per, &nread, &done, &l);
    if (l > *lsn) *lsn = l;
  }
  st_iter_close(it);
  return rc;
}

size_t df_index_stats(const st_table *t, p_index_stats *out, size_t max) {
  st_table *ixs[MAX_INDEXES];
  size_t n = st_table_indexes(t, ixs, MAX_INDEXES);
  if (n > MAX_INDEXES) n = MAX_INDEXES;
  size_t k = 0;
  for (size_t i = 0; i < n && k < max; i++) {
    const st_index_def *d = st_index_info(ixs[i]);
    if (d == NULL) continue;
    out[k].name = d->name;
    out[k].item_count = st_table_item_count(ixs[i]);
    out[k].size_bytes = st_table_size_bytes(ixs[i]);
    k++;
  }
  return k;
}

/* ---- write capacity ----------------------------------------------------------- */

void df_index_units_add(const p_key_schema *ks, const p_index *idx, size_t n, const dv_value *old_item,
                        const dv_value *new_item, double *units) {
  for (size_t i = 0; i < n; i++) units[i] += p_index_write_units(ks, &idx[i], old_item, new_item);
}

json_t *df_write_capacity(const char *table, double table_units, const p_index *idx, const double *units,
                          size_t n, p_rcc rcc) {
  if (rcc == P_RCC_NONE) return NULL;
  if (n == 0) return p_consumed_capacity(table, table_units, rcc);
  return p_consumed_capacity_indexed(table, table_units, idx, units, n, rcc);
}

/* ---- backfill ------------------------------------------------------------------ */

static void job_free(bf_job *j) {
  if (j->it != NULL) st_iter_close(j->it);
  free(j->name);
  free(j);
}

/* The GSI is full: meta says ACTIVE without Backfilling. */
static void job_finish(df_server *s, bf_job *j) {
  json_t *meta = df_table_meta(j->t);
  json_t *nm = meta != NULL ? p_meta_set_index_status(meta, j->name, "ACTIVE", 0) : NULL;
  uint64_t lsn = 0;
  int rc = nm != NULL ? df_table_set_meta(s, j->t, nm, &lsn) : ST_ECORRUPT;
  json_decref(meta);
  json_decref(nm);
  if (rc != ST_OK) {
    df_log(s, DF_LOG_ERROR,
           "backfill of %s/%s: cannot mark it ACTIVE: %s (it is filled again at the next start)",
           st_table_info(j->t)->name, j->name, st_strerror(rc));
    return;
  }
  df_commit_kick(s);
  double secs = (double)(uv_hrtime() - j->started) / 1e9;
  df_log(s, DF_LOG_INFO, "backfill of %s/%s done: %llu items in %.3fs (%.0f items/s)",
         st_table_info(j->t)->name, j->name, (unsigned long long)j->read, secs,
         secs > 0 ? (double)j->read / secs : 0.0);
}

/* Fill j for this tick. 1 when the job is over (done or failed). */
static int job_run(df_server *s, bf_job *j, uint64_t t0) {
  if (df_table_busy(s, j->t)) return 0; /* a page of the base is in progress: next tick */
  int rc = ST_OK;
  if (j->it == NULL) {
    st_iter_spec spec;
    memset(&spec, 0, sizeof spec);
    rc = st_iter_open(j->t, &spec, &j->it);
    if (rc != ST_OK) j->it = NULL;
  }
  size_t per = s->cfg.backfill_items > 0 ? (size_t)s->cfg.backfill_items : 1000;
  int done = 0;
  while (rc == ST_OK) {
    size_t nread = 0;
    uint64_t lsn = 0;
    rc = st_index_fill(s->db, j->ix, j->it, per, &nread, &done, &lsn);
    j->read += nread;
    if (lsn != 0) df_commit_kick(s);
    if (rc != ST_OK || done || s->cfg.backfill_delay_ms > 0 || uv_hrtime() - t0 >= SLICE_NS) break;
  }
  if (rc != ST_OK) {
    df_log(s, DF_LOG_ERROR, "backfill of %s/%s stopped: %s (it is filled again at the next start)",
           st_table_info(j->t)->name, j->name, st_strerror(rc));
    return 1;
  }
  if (done) job_finish(s, j);
  return done;
}

static void schedule(struct df_indexes *x);

static void tick(struct df_indexes *x) {
  df_server *s = x->s;
  uint64_t t0 = uv_hrtime();
  for (bf_job **pp = &x->head; *pp != NULL;) {
    bf_job *j = *pp;
    if (uv_hrtime() - t0 >= SLICE_NS && s->cfg.backfill_delay_ms == 0) break; /* the others next tick */
    if (job_run(s, j, t0)) {
      *pp = j->next;
      job_free(j);
      continue;
    }
    pp = &j->next;
  }
  schedule(x);
}

static void on_idle(uv_idle_t *h) {
  tick(h->data);
}

static void on_wait(uv_timer_t *h) {
  struct df_indexes *x = h->data;
  x->timer_on = 0;
  tick(x);
}

/* Keep the right handle running for the jobs left. */
static void schedule(struct df_indexes *x) {
  int want = x->head != NULL;
  int delay = x->s->cfg.backfill_delay_ms;
  if (!want || delay > 0) {
    if (x->idle_on) uv_idle_stop(&x->idle);
    x->idle_on = 0;
  }
  if (!want) {
    if (x->timer_on) uv_timer_stop(&x->wait);
    x->timer_on = 0;
    return;
  }
  if (delay > 0) {
    if (!x->timer_on) uv_timer_start(&x->wait, on_wait, (uint64_t)delay, 0);
    x->timer_on = 1;
  } else if (!x->idle_on) {
    uv_idle_start(&x->idle, on_idle);
    x->idle_on = 1;
  }
}

void df_index_backfill_start(df_server *s, st_table *t, const char *name) {
  struct df_indexes *x = s->indexes;
  st_table *ix = st_index_find(t, name);
  if (x == NULL || ix == NULL) {
    df_log(s, DF_LOG_ERROR, "backfill of %s/%s: no such storage index", st_table_info(t)->name, name);
    return;
  }
  bf_job *j = df_xcalloc(1, sizeof *j);
  j->t = t;
  j->ix = ix;
  j->name = xstrdup(name);
  j->started = uv_hrtime();
  bf_job **pp = &x->head;
  while (*pp != NULL) pp = &(*pp)->next;
  *pp = j;
  df_log(s, DF_LOG_INFO, "backfill of %s/%s started (%llu items in the table)", st_table_info(t)->name, name,
         (unsigned long long)st_table_item_count(t));
  schedule(x);
}

void df_index_backfill_stop(df_server *s, st_table *t, const char *name) {
  struct df_indexes *x = s->indexes;
  if (x == NULL) return;
  for (bf_job **pp = &x->head; *pp != NULL;) {
    bf_job *j = *pp;
    if (j->t == t && (name == NULL || strcmp(j->name, name) == 0)) {
      *pp = j->next;
      job_free(j);
      continue;
    }
    pp = &j->next;
  }
  schedule(x);
}

/* ---- startup and shutdown ------------------------------------------------------ */

/* df_tables_each: make t's storage indexes match its meta. */
static int reconcile(df_server *s, st_table *t, void *ctx) {
  (void)ctx;
  if (st_index_base(t) != NULL) return 0; /* not a table */
  const char *tname = st_table_info(t)->name;
  const p_index *idx;
  size_t n;
  if (df_table_indexes_cached(t, &idx, &n) != 0) {
    df_log(s, DF_LOG_ERROR, "table %s: unreadable meta; its indexes are left as they are", tname);
    return 0;
  }
  /* Storage indexes that meta does not name: an UpdateTable cut short. */
  st_table *ixs[MAX_INDEXES];
  size_t ns = st_table_indexes(t, ixs, MAX_INDEXES);
  if (ns > MAX_INDEXES) ns = MAX_INDEXES;
  for (size_t i = 0; i < ns; i++) {
    const st_index_def *d = st_index_info(ixs[i]);
    if (d == NULL || p_index_find(idx, n, d->name) != NULL) continue;
    df_log(s, DF_LOG_WARN, "table %s: dropping index %s, which its meta does not name", tname, d->name);
    uint64_t lsn = 0;
    int rc = st_table_drop(s->db, ixs[i], &lsn);
    if (rc != ST_OK)
      df_log(s, DF_LOG_ERROR, "table %s: dropping index %s: %s", tname, d->name, st_strerror(rc));
  }
  /* Indexes that meta names and storage lacks: a CreateTable cut short. */
  for (size_t i = 0; i < n; i++) {
    if (st_index_find(t, idx[i].name) != NULL) continue;
    df_log(s, DF_LOG_WARN, "table %s: creating missing index %s and filling it", tname, idx[i].name);
    st_table *ix = NULL;
    uint64_t lsn = 0;
    int rc = df_index_create(s, t, &idx[i], &ix, &lsn);
    if (rc == ST_OK && ix == NULL) ix = st_index_find(t, idx[i].name);
    if (rc == ST_OK && ix != NULL && !idx[i].creating) rc = df_index_fill_now(s, t, ix, &lsn);
    if (rc != ST_OK) {
      df_log(s, DF_LOG_ERROR, "table %s: creating index %s: %s", tname, idx[i].name, st_strerror(rc));
      return -1;
    }
  }
  /* GSIs still CREATING: fill again from the start. */
  for (size_t i = 0; i < n; i++)
    if (idx[i].global && idx[i].creating) df_index_backfill_start(s, t, idx[i].name);
  return 0;
}

int df_indexes_init(df_server *s) {
  struct df_indexes *x = df_xcalloc(1, sizeof *x);
  x->s = s;
  uv_idle_init(s->loop, &x->idle);
  uv_timer_init(s->loop, &x->wait);
  x->idle.data = x;
  x->wait.data = x;
  s->indexes = x;
  if (df_tables_each(s, df_default_ns, reconcile, NULL) != 0) return -1;
  df_commit_kick(s);
  return 0;
}

static void on_closed(uv_handle_t *h) {
  struct df_indexes *x = h->data;
  if (--x->handles == 0) free(x);
}

void df_indexes_close(df_server *s) {
  struct df_indexes *x = s->indexes;
  if (x == NULL) return;
  while (x->head != NULL) {
    bf_job *j = x->head;
    x->head = j->next;
    df_log(s, DF_LOG_INFO, "backfill of %s/%s interrupted after %llu items (it resumes at the next start)",
           st_table_info(j->t)->name, j->name, (unsigned long long)j->read);
    job_free(j);
  }
  s->indexes = NULL;
  x->handles = 2;
  uv_close((uv_handle_t *)&x->idle, on_closed);
  uv_close((uv_handle_t *)&x->wait, on_closed);
}
