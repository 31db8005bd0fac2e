/*
 * ttl.c -- Time To Live: UpdateTimeToLive / DescribeTimeToLive, hiding
 * expired items from reads, and the sweeper that deletes them.
 *
 * TTL is enabled per table by the "TimeToLive" member of the table's meta
 * (protocol.h); this file keeps a parsed copy of it in the table's
 * df_table_state (server.h: the per-table struct hung on st_table_user,
 * shared with indexes.c) so that the read paths can test an item in a few
 * instructions. An item is expired when its TTL attribute is a Number of
 * epoch seconds <= now and not more than five years in the past
 * (streams-ttl.md 7.3).
 *
 * Reads: with cfg.ttl_hide_expired (the default, dynafile's original
 * behaviour) GetItem, BatchGetItem, Query and Scan skip expired items, and
 * the writes' conditions and UpdateItem see them as absent; with
 * --ttl-hide-expired=false they are returned until swept, as AWS does.
 * Index reads test the entry (or, for an LSI read that fetches it, the base
 * item): an entry whose projection lacks the TTL attribute (KEYS_ONLY,
 * INCLUDE without it) cannot be tested and shows until the sweeper deletes
 * its item -- what AWS does for every read.
 *
 * Sweeper: every cfg.ttl_sweep_ms a round walks every table with TTL
 * enabled in key order with one storage iterator, in slices of at most
 * SLICE_NS of loop time (then it yields and goes on a millisecond later), and
 * deletes expired items through st_write with ST_WF_TTL, so each deletion
 * logs its REMOVE event (with the service's userIdentity) in the same
 * record. Expiry is decided and the delete written in one synchronous step
 * of the loop, so a concurrent update that saves the item cannot be undone.
 * A table with a sliced page in progress is skipped for the round (writes
 * to it must wait for the page).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"

#define SLICE_NS 2000000ull              /* loop time per sweeper slice */
#define DELETE_BATCH 25                  /* expired items per st_write */
#define FIVE_YEARS (5.0 * 365.25 * 86400.0) /* older TTL values are ignored */

typedef struct df_ttl {
  uv_timer_t timer;     /* rounds and slices */
  int up;               /* timer initialised */
  char *table;          /* the table being swept (name), NULL between rounds */
  st_iter *it;          /* its iterator, NULL before its first slice */
  st_table *it_table;   /* the table it belongs to */
  uint64_t deleted;     /* items deleted since start (log lines) */
} df_ttl;

static const df_table_state *info_of(const st_table *t) {
  return df_table_state_peek(t);
}

void df_ttl_table_changed(df_server *s, st_table *t) {
  (void)s;
  json_t *m = df_table_meta(t);
  const char *attr = json_string_value(json_object_get(json_object_get(m, "TimeToLive"), "AttributeName"));
  df_table_state *ti = attr != NULL ? df_table_state_of(t) : df_table_state_peek(t);
  if (ti != NULL) {
    free(ti->ttl_attr);
    ti->ttl_attr = NULL;
    ti->ttl_attr_len = 0;
    if (attr != NULL) {
      ti->ttl_attr_len = strlen(attr);
      ti->ttl_attr = df_xmalloc(ti->ttl_attr_len + 1);
      memcpy(ti->ttl_attr, attr, ti->ttl_attr_len + 1);
    }
  }
  json_decref(m);
}

static void sweep_stop_table(df_ttl *tt) {
  if (tt->it != NULL) st_iter_close(tt->it);
  tt->it = NULL;
  tt->it_table = NULL;
}

void df_ttl_table_forget(df_server *s, st_table *t) {
  df_ttl *tt = s->ttl;
  if (tt != NULL && tt->it_table == t) sweep_stop_table(tt);
  /* its df_table_state goes with it (df_table_delete) */
}

/* 1 when a TTL attribute value (a Number of epoch seconds) has passed. */
static int ttl_value_expired(const dv_value *v, double now) {
  if (v == NULL || v->type != DV_N) return 0;
  double x = strtod(v->u.bytes, NULL);
  return x <= now && x >= now - FIVE_YEARS;
}

static int item_expired(const df_table_state *ti, const dv_value *item, double now) {
  if (ti == NULL || ti->ttl_attr == NULL || item->type != DV_M) return 0;
  return ttl_value_expired(dv_map_get(item, ti->ttl_attr, ti->ttl_attr_len), now);
}

int df_ttl_expired(df_server *s, const st_table *t, const dv_value *item) {
  if (!s->cfg.ttl_hide_expired) return 0;
  const df_table_state *ti = info_of(t);
  if (ti == NULL || ti->ttl_attr == NULL) return 0;
  return item_expired(ti, item, df_now());
}

/* ---- the sweeper ------------------------------------------------------------------- */

/* df_tables_each: the first table with TTL enabled after ctx's name. */
typedef struct next_ctx {
  const char *after; /* name to pass (NULL = none) */
  st_table *found;   /* the table found */
} next_ctx;

static int find_ttl_table(df_server *s, st_table *t, void *ctx) {
  (void)s;
  next_ctx *nc = ctx;
  const df_table_state *ti = info_of(t);
  if (st_index_base(t) != NULL || ti == NULL || ti->ttl_attr == NULL ||
      (nc->after != NULL && strcmp(st_table_info(t)->name, nc->after) <= 0))
    return 0;
  nc->found = t;
  return 1;
}

/* The next table with TTL enabled after name (NULL = from the first). */
static st_table *next_ttl_table(df_server *s, const char *after) {
  next_ctx nc = {after, NULL};
  df_tables_each(s, df_default_ns, find_ttl_table, &nc);
  return nc.found;
}

/* Delete items[0..n) of t (found expired in this same loop step). */
static int delete_expired(df_server *s, st_table *t, dv_value *items, size_t n) {
  if (n == 0) return ST_OK;
  st_write_req w[DELETE_BATCH];
  for (size_t i = 0; i < n; i++) w[i] = (st_write_req){.table = t, .op = ST_DEL, .item = &items[i], .flags = ST_WF_TTL};
  uint64_t lsn;
  int rc = st_write(s->db, w, n, &lsn);
  if (rc == ST_OK) {
    s->ttl->deleted += n;
    df_commit_kick(s);
  }
  return rc;
}

/* One slice of the round. Returns 1 when the round is over. */
static int sweep_slice(df_server *s) {
  df_ttl *tt = s->ttl;
  uint64_t t0 = uv_hrtime();
  double now = df_now();
  dv_arena *a = dv_arena_new();
  int over = 0;
  while (uv_hrtime() - t0 < SLICE_NS) {
    if (tt->it == NULL) { /* next table */
      st_table *t = next_ttl_table(s, tt->table);
      if (t == NULL) {
        over = 1;
        break;
      }
      free(tt->table);
      const char *name = st_table_info(t)->name;
      tt->table = df_xmalloc(strlen(name) + 1);
      memcpy(tt->table, name, strlen(name) + 1);
      if (df_table_busy(s, t) || df_table_is_creating(s, t)) continue; /* skipped this round */
      st_iter_spec spec;
      memset(&spec, 0, sizeof spec);
      if (st_iter_open(t, &spec, &tt->it) != ST_OK) {
        tt->it = NULL;
        continue;
      }
      tt->it_table = t;
    }
    st_table *t = tt->it_table;
    if (df_table_busy(s, t)) { /* a page began meanwhile: leave the table for this round */
      sweep_stop_table(tt);
      continue;
    }
    const df_table_state *ti = info_of(t);
    dv_value batch[DELETE_BATCH];
    size_t nb = 0;
    int done = 0;
    for (int k = 0; k < 256 && nb < DELETE_BATCH; k++) {
      dv_value item;
      if (st_iter_next(tt->it, a, &item) != ST_OK || item.type != DV_M) {
        done = 1;
        break;
      }
      if (item_expired(ti, &item, now)) batch[nb++] = item;
    }
    int rc = delete_expired(s, t, batch, nb);
    if (rc != ST_OK) df_log(s, DF_LOG_ERROR, "TTL sweeper: deleting from %s: %s", st_table_info(t)->name, st_strerror(rc));
    if (done || rc != ST_OK) sweep_stop_table(tt);
    if (dv_arena_used(a) > (1u << 20)) {
      dv_arena_free(a);
      a = dv_arena_new();
    }
  }
  dv_arena_free(a);
  if (over) {
    free(tt->table);
    tt->table = NULL;
  }
  return over;
}

static void on_timer(uv_timer_t *tm) {
  df_server *s = tm->data;
  if (s->stopping) return;
  int over = sweep_slice(s);
  uv_timer_start(&s->ttl->timer, on_timer, over ? (uint64_t)s->cfg.ttl_sweep_ms : 1, 0);
}

static int table_changed(df_server *s, st_table *t, void *ctx) {
  (void)ctx;
  if (st_index_base(t) != NULL) return 0; /* not a table */
  df_ttl_table_changed(s, t);
  return 0;
}

int df_ttl_init(df_server *s) {
  df_ttl *tt = df_xcalloc(1, sizeof *tt);
  s->ttl = tt;
  df_tables_each(s, df_default_ns, table_changed, NULL); /* parse every table's TTL member once */
  uv_timer_init(s->loop, &tt->timer);
  tt->timer.data = s;
  tt->up = 1;
  uv_timer_start(&tt->timer, on_timer, (uint64_t)s->cfg.ttl_sweep_ms, 0);
  return 0;
}

static void on_closed(uv_handle_t *h) {
  free(h->data);
}

void df_ttl_close(df_server *s) {
  df_ttl *tt = s->ttl;
  if (tt == NULL) return;
  sweep_stop_table(tt);
  free(tt->table);
  /* the tables' df_table_state goes in df_tables_close */
  s->ttl = NULL;
  if (tt->up) {
    tt->timer.data = tt;
    uv_close((uv_handle_t *)&tt->timer, on_closed);
  } else {
    free(tt);
  }
}

/* ---- UpdateTimeToLive / DescribeTimeToLive ----------------------------------------- */

static st_table *find_table(df_req *r, const char *name) {
  st_table *t = st_table_find(r->srv->db, df_default_ns, name);
  if (t == NULL) df_reply_table_not_found(r, name);
  return t;
}

int df_ttl_update(df_server *s, st_table *t, const p_update_ttl *q, uint64_t *lsn, p_error *e) {
  json_t *meta = df_table_meta(t);
  json_t *nmeta = NULL;
  if (meta == NULL) return ST_ECORRUPT;
  int bad = p_check_update_ttl(meta, q, &nmeta, e);
  json_decref(meta);
  if (bad != 0) return ST_EINVAL;
  const df_table_state *ti = info_of(t);
  double now = df_now();
  if (s->cfg.ttl_cooldown_s > 0 && ti != NULL && ti->ttl_changed_at > 0 &&
      now - ti->ttl_changed_at < s->cfg.ttl_cooldown_s) {
    json_decref(nmeta);
    p_error_set(e, P_VALIDATION, "Time to live has been modified multiple times within a fixed interval");
    return ST_EINVAL;
  }
  int rc = df_table_set_meta(s, t, nmeta, lsn);
  json_decref(nmeta);
  if (rc != ST_OK) return rc;
  df_ttl_table_changed(s, t);
  df_table_state_of(t)->ttl_changed_at = now;
  return ST_OK;
}

void h_update_time_to_live(df_req *r) {
  df_server *s = r->srv;
  p_update_ttl q;
  p_error e;
  p_error_init(&e);
  if (p_parse_update_ttl(r->body, r->arena, &q, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = find_table(r, q.table_name);
  if (t == NULL) return;
  if (df_table_is_creating(s, t)) {
    p_error_set(&e, P_RESOURCE_IN_USE, "Attempt to change a resource which is still in use: Table is being created: %s",
                q.table_name);
    df_reply_error(r, &e, 0);
    return;
  }
  uint64_t lsn = 0;
  int rc = df_ttl_update(s, t, &q, &lsn, &e);
  if (rc == ST_EINVAL) {
    df_reply_error(r, &e, st_table_last_lsn(t));
    return;
  }
  if (rc != ST_OK) {
    df_reply_storage_error(r, rc, "UpdateTimeToLive");
    return;
  }
  df_reply_json(r, p_update_ttl_response(&q), lsn);
}

void h_describe_time_to_live(df_req *r) {
  df_server *s = r->srv;
  const char *name;
  p_error e;
  p_error_init(&e);
  if (p_parse_table_name(r->body, r->arena, &name, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = find_table(r, name);
  if (t == NULL) return;
  if (df_table_is_creating(s, t)) {
    p_error_set(&e, P_VALIDATION,
                "Cannot describe time to live while table is in CREATING state: Current table state is CREATING");
    df_reply_error(r, &e, 0);
    return;
  }
  json_t *meta = df_table_meta(t);
  if (meta == NULL) {
    df_reply_storage_error(r, ST_ECORRUPT, "DescribeTimeToLive meta");
    return;
  }
  json_t *out = p_describe_ttl(meta);
  json_decref(meta);
  df_reply_json(r, out, st_table_last_lsn(t));
}
