/*
 * streams.c -- DynamoDB Streams: the registry of streams, their event logs,
 * retention, UpdateTable, and the four DynamoDBStreams_20120810 operations.
 *
 * A stream is one storage event log (ST_KIND_EVENTS) in the catalog
 * namespace STREAMS_NS, named "<table>/<label>", whose opaque meta (JSON,
 * layout below) holds what the Streams API shows. While a stream is
 * ENABLED its log is attached to the table (st_table_set_events), so every
 * write of the table logs its change event in the same log record as the
 * change (storage.h, "change events"); this file only decides when streams
 * begin and end and answers the API.
 *
 * Log meta (JSON object):
 *   TableName, TableId     the table (name, st_table_id) it belongs to
 *   Label, View            StreamLabel, StreamViewType
 *   Created                CreationRequestDateTime (epoch seconds)
 *   StartSeq               first sequence number the shard can hold (string)
 *   Enabled                true while ENABLED
 *   EndSeq, DisabledAt     once DISABLED: last sequence number, when
 *   Key                    [hash name, hash type, range name, range type]
 *
 * Crash safety of enable/disable: enabling writes the log's creation (one
 * record), then the table's meta naming it (a later record); disabling
 * writes the table's meta, then the log's meta. After a crash,
 * df_streams_init trusts the table's meta: a log marked enabled that its
 * table does not name (or whose table is gone) is marked DISABLED, and a
 * table whose meta names a stream whose log is missing loses the
 * StreamSpecification. Events are in the records of their writes, so a
 * write acknowledged while the stream was attached has its event.
 *
 * One shard per stream, ShardId "shardId-<20-digit creation ms>-<8 hex>".
 * UpdateTable also carries GlobalSecondaryIndexUpdates: after
 * p_check_update_table, a Create makes the storage index, stores the meta
 * showing it CREATING (Backfilling) and starts its backfill (indexes.c); a
 * Delete stops its backfill, stores the meta without it and drops it. The
 * answer shows the new GSI CREATING (the table stays ACTIVE). Both wait for
 * the table's sliced pages like a write (an iterator may be on the index).
 *
 * Sequence numbers are storage's ((LSN << 16) | index), printed with 21
 * digits. Retention: every RETENTION_TICK_MS the events older than
 * cfg.stream_retention_s are trimmed, and DISABLED streams older than that
 * are dropped with their logs.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "server/server_int.h"

#define STREAMS_NS "\x01streams"
#define RETENTION_TICK_MS 10000
#define TRIM_SCAN_MAX 4096        /* events looked at per stream and tick */
#define RECORDS_MAX_BYTES 1048576 /* GetRecords page budget (about 1 MB) */

typedef struct df_streams {
  df_stream *head;      /* every stream, newest first */
  uv_timer_t timer;     /* retention */
  int timer_up;         /* timer initialised */
} df_streams;

/* ---- small helpers --------------------------------------------------------- */

static char *xstrdup0(const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s) + 1;
  char *p = df_xmalloc(n);
  memcpy(p, s, n);
  return p;
}

static void stream_free(df_stream *st) {
  free(st->table);
  free(st->arn);
  free(st->label);
  free(st->shard_id);
  free((char *)st->key.hash_name);
  free((char *)st->key.range_name);
  free(st);
}

static uint64_t seq_of_json(const json_t *j) {
  const char *s = json_string_value(j);
  return s != NULL ? strtoull(s, NULL, 10) : 0;
}

static void shard_id_make(df_stream *st) {
  char buf[64];
  snprintf(buf, sizeof buf, "shardId-%020" PRId64 "-%08x", (int64_t)llround(st->created * 1000.0),
           (unsigned)XXH32(st->arn, strlen(st->arn), 0));
  st->shard_id = xstrdup0(buf);
}

static json_t *log_meta(const df_stream *st) {
  char seq[24];
  json_t *m = json_object();
  json_object_set_new(m, "TableName", json_string(st->table));
  json_object_set_new(m, "TableId", json_integer((json_int_t)st->table_id));
  json_object_set_new(m, "Label", json_string(st->label));
  json_object_set_new(m, "View", json_string(p_view_name(st->view)));
  json_object_set_new(m, "Created", json_real(st->created));
  snprintf(seq, sizeof seq, "%" PRIu64, st->start_seq);
  json_object_set_new(m, "StartSeq", json_string(seq));
  json_object_set_new(m, "Enabled", json_boolean(st->enabled));
  if (!st->enabled) {
    snprintf(seq, sizeof seq, "%" PRIu64, st->end_seq);
    json_object_set_new(m, "EndSeq", json_string(seq));
    json_object_set_new(m, "DisabledAt", json_real(st->disabled_at));
  }
  json_t *k = json_array();
  json_array_append_new(k, json_string(st->key.hash_name));
  json_array_append_new(k, json_string(dv_type_name(st->key.hash_type)));
  json_array_append_new(k, st->key.range_name ? json_string(st->key.range_name) : json_null());
  json_array_append_new(k, st->key.range_name ? json_string(dv_type_name(st->key.range_type)) : json_null());
  json_object_set_new(m, "Key", k);
  return m;
}

static int store_log_meta(df_server *s, const df_stream *st, uint64_t *lsn) {
  json_t *m = log_meta(st);
  int rc = df_table_set_meta(s, st->log, m, lsn);
  json_decref(m);
  return rc;
}

static dv_type type_of_name(const char *n) {
  if (n == NULL) return DV_NONE;
  if (!strcmp(n, "S")) return DV_S;
  if (!strcmp(n, "N")) return DV_N;
  if (!strcmp(n, "B")) return DV_B;
  return DV_NONE;
}

/* A stream from its log's meta; NULL if the meta is unreadable. */
static df_stream *stream_from_log(df_server *s, st_table *log) {
  json_t *m = df_table_meta(log);
  if (m == NULL) return NULL;
  df_stream *st = df_xcalloc(1, sizeof *st);
  st->log = log;
  const char *table = json_string_value(json_object_get(m, "TableName"));
  const char *label = json_string_value(json_object_get(m, "Label"));
  const json_t *k = json_object_get(m, "Key");
  st->view = p_view_from_name(json_string_value(json_object_get(m, "View")));
  if (table == NULL || label == NULL || !json_is_array(k) || json_array_size(k) != 4 || st->view == P_VIEW_NONE) {
    json_decref(m);
    free(st);
    return NULL;
  }
  st->table = xstrdup0(table);
  st->label = xstrdup0(label);
  st->table_id = (uint64_t)json_integer_value(json_object_get(m, "TableId"));
  st->created = json_number_value(json_object_get(m, "Created"));
  st->start_seq = seq_of_json(json_object_get(m, "StartSeq"));
  st->enabled = json_is_true(json_object_get(m, "Enabled"));
  st->end_seq = seq_of_json(json_object_get(m, "EndSeq"));
  st->disabled_at = json_number_value(json_object_get(m, "DisabledAt"));
  st->key.hash_name = xstrdup0(json_string_value(json_array_get(k, 0)));
  st->key.hash_type = type_of_name(json_string_value(json_array_get(k, 1)));
  st->key.range_name = xstrdup0(json_string_value(json_array_get(k, 2)));
  st->key.range_type = type_of_name(json_string_value(json_array_get(k, 3)));
  st->arn = p_stream_arn(&s->pctx, st->table, st->label);
  shard_id_make(st);
  json_decref(m);
  return st;
}

static unsigned view_bits(p_view v) {
  switch (v) {
    case P_VIEW_NEW_IMAGE:
      return ST_VIEW_NEW;
    case P_VIEW_OLD_IMAGE:
      return ST_VIEW_OLD;
    case P_VIEW_NEW_AND_OLD_IMAGES:
      return ST_VIEW_BOTH;
    default:
      return ST_VIEW_KEYS;
  }
}

/* Newest first: streams are inserted in creation order at startup. */
static void stream_insert(df_streams *ss, df_stream *st) {
  df_stream **pp = &ss->head;
  while (*pp != NULL && (*pp)->created > st->created) pp = &(*pp)->next;
  st->next = *pp;
  *pp = st;
}

/* ---- lookups ---------------------------------------------------------------- */

df_stream *df_stream_of_table(df_server *s, const char *table) {
  if (s->streams == NULL) return NULL;
  for (df_stream *st = s->streams->head; st != NULL; st = st->next)
    if (st->enabled && !strcmp(st->table, table)) return st;
  return NULL;
}

df_stream *df_stream_by_arn(df_server *s, const char *arn) {
  if (s->streams == NULL) return NULL;
  for (df_stream *st = s->streams->head; st != NULL; st = st->next)
    if (!strcmp(st->arn, arn)) return st;
  return NULL;
}

void df_stream_record(df_server *s, const df_stream *st, const st_event *ev, p_stream_record *out,
                      char event_id[33]) {
  uint64_t h1 = XXH64(&ev->seq, sizeof ev->seq, XXH64(st->arn, strlen(st->arn), 1));
  uint64_t h2 = XXH64(&ev->seq, sizeof ev->seq, h1 ^ 0x9e3779b97f4a7c15ull);
  snprintf(event_id, 33, "%016" PRIx64 "%016" PRIx64, h1, h2);
  memset(out, 0, sizeof *out);
  out->event_id = event_id;
  out->kind = (int)ev->kind;
  out->ttl = (ev->flags & ST_EVF_TTL) != 0;
  out->region = s->pctx.region;
  out->time_ms = ev->time_ms;
  out->keys = &ev->keys;
  out->old_image = ev->old_image.type == DV_M ? &ev->old_image : NULL;
  out->new_image = ev->new_image.type == DV_M ? &ev->new_image : NULL;
  out->seq = ev->seq;
  out->size_bytes = ev->size_bytes;
  out->view = st->view;
}

/* ---- enable / disable ------------------------------------------------------- */

int df_stream_enable(df_server *s, st_table *t, p_view view, char label[24], char **arn, uint64_t *lsn) {
  df_streams *ss = s->streams;
  const st_table_def *d = st_table_info(t);
  if (df_stream_of_table(s, d->name) != NULL) return ST_EEXIST;
  int64_t ms = (int64_t)floor(df_now() * 1000.0);
  char name[2100];
  for (;;) { /* a label is unique per table: step past one taken this very millisecond */
    p_stream_label(ms, label);
    snprintf(name, sizeof name, "%s/%s", d->name, label);
    if (st_table_find(s->db, STREAMS_NS, name) == NULL) break;
    ms++;
  }
  df_stream *st = df_xcalloc(1, sizeof *st);
  st->table = xstrdup0(d->name);
  st->table_id = st_table_id(t);
  st->label = xstrdup0(label);
  st->view = view;
  st->created = (double)ms / 1000.0;
  st->enabled = 1;
  st->start_seq = (st_last_lsn(s->db) + 1) << 16; /* the creation record's LSN: no event of it */
  st->key.hash_name = xstrdup0(d->hash.name);
  st->key.hash_type = d->hash.type;
  st->key.range_name = xstrdup0(d->range.name);
  st->key.range_type = d->range.name ? d->range.type : DV_NONE;
  st->arn = p_stream_arn(&s->pctx, st->table, st->label);
  shard_id_make(st);
  json_t *m = log_meta(st);
  char *text = json_dumps(m, JSON_COMPACT);
  json_decref(m);
  st_table_def def = {
      .kind = ST_KIND_EVENTS,
      .ns = STREAMS_NS,
      .name = name,
      .hash = {"seq", DV_N},
      .meta = text,
      .meta_len = text ? strlen(text) : 0,
      .created = st->created,
  };
  int rc = text ? st_table_create(s->db, &def, lsn) : ST_ENOMEM;
  free(text);
  if (rc == ST_OK) {
    st->log = st_table_find(s->db, STREAMS_NS, name);
    rc = st->log ? st_table_set_events(t, st->log, view_bits(view)) : ST_ENOTFOUND;
  }
  if (rc != ST_OK) {
    stream_free(st);
    return rc;
  }
  *arn = xstrdup0(st->arn);
  st->next = ss->head;
  ss->head = st;
  return ST_OK;
}

/* Mark st DISABLED (its table detached already or gone). */
static int stream_close(df_server *s, df_stream *st, uint64_t *lsn) {
  st->enabled = 0;
  st->end_seq = ((st_last_lsn(s->db) + 1) << 16) - 1; /* every event so far is below */
  if (st->end_seq < st->start_seq) st->end_seq = st->start_seq;
  st->disabled_at = df_now();
  int rc = store_log_meta(s, st, lsn);
  if (s->sse != NULL) df_sse_stream_closed(s, st, 0);
  return rc;
}

int df_stream_disable(df_server *s, st_table *t, uint64_t *lsn) {
  df_stream *st = df_stream_of_table(s, st_table_info(t)->name);
  if (st == NULL) return ST_ENOTFOUND;
  st_table_set_events(t, NULL, 0);
  return stream_close(s, st, lsn);
}

/* ---- startup, retention, shutdown -------------------------------------------- */

static void stream_drop(df_server *s, df_stream *st) {
  df_streams *ss = s->streams;
  if (s->sse != NULL) df_sse_stream_closed(s, st, 1);
  uint64_t lsn;
  int rc = st_table_drop(s->db, st->log, &lsn);
  if (rc != ST_OK) df_log(s, DF_LOG_ERROR, "dropping stream %s: %s", st->arn, st_strerror(rc));
  for (df_stream **pp = &ss->head; *pp != NULL; pp = &(*pp)->next)
    if (*pp == st) {
      *pp = st->next;
      break;
    }
  stream_free(st);
  df_commit_checkpoint_soon(s);
}

/* Trim st's events older than the retention; bounded work per call. */
static void stream_trim(df_server *s, df_stream *st, double cutoff) {
  int64_t cutoff_ms = (int64_t)(cutoff * 1000.0);
  uint64_t from = st_events_trimmed(st->log);
  uint64_t below = (st_durable_lsn(s->db) + 1) << 16;
  uint64_t before = from;
  size_t seen = 0;
  while (seen < TRIM_SCAN_MAX) {
    dv_arena *a = dv_arena_new();
    st_event ev[64];
    size_t n = 0;
    uint64_t next = from;
    int rc = st_events_read(st->log, from, below, 64, 0, a, ev, &n, &next);
    size_t i = 0;
    while (rc == ST_OK && i < n && ev[i].time_ms < cutoff_ms) before = ev[i++].seq + 1;
    dv_arena_free(a);
    if (rc != ST_OK || i < n || n == 0) break;
    seen += n;
    from = next;
  }
  if (before > st_events_trimmed(st->log)) {
    uint64_t lsn;
    int rc = st_events_trim(s->db, st->log, before, &lsn);
    if (rc != ST_OK) df_log(s, DF_LOG_ERROR, "trimming stream %s: %s", st->arn, st_strerror(rc));
    else df_commit_kick(s);
  }
}

static void on_retention(uv_timer_t *tm) {
  df_server *s = tm->data;
  if (s->stopping) return;
  double cutoff = df_now() - s->cfg.stream_retention_s;
  df_stream *next;
  for (df_stream *st = s->streams->head; st != NULL; st = next) {
    next = st->next;
    if (!st->enabled && st->disabled_at < cutoff)
      stream_drop(s, st);
    else
      stream_trim(s, st, cutoff);
  }
}

static int load_stream(df_server *s, st_table *log, void *ctx) {
  (void)ctx;
  df_stream *st = stream_from_log(s, log);
  if (st == NULL)
    df_log(s, DF_LOG_ERROR, "stream log %s has unreadable meta; ignored", st_table_info(log)->name);
  else
    stream_insert(s->streams, st);
  return 0;
}

static int repair_table(df_server *s, st_table *t, void *ctx) {
  (void)ctx;
  if (st_table_events(t) != NULL) return 0;
  json_t *m = df_table_meta(t);
  int rc = ST_OK;
  if (m != NULL && json_object_get(m, "StreamSpecification") != NULL) {
    uint64_t lsn;
    df_log(s, DF_LOG_WARN, "table %s named a stream that was never made; stream disabled", st_table_info(t)->name);
    json_object_del(m, "StreamSpecification");
    rc = df_table_set_meta(s, t, m, &lsn);
  }
  json_decref(m);
  return rc != ST_OK ? -1 : 0;
}

int df_streams_init(df_server *s) {
  df_streams *ss = df_xcalloc(1, sizeof *ss);
  s->streams = ss;
  if (df_tables_each(s, STREAMS_NS, load_stream, NULL) != 0) return -1;
  /* Re-attach enabled streams to their tables; close those a crash left
   * half made (module comment). */
  for (df_stream *st = ss->head; st != NULL; st = st->next) {
    if (!st->enabled) continue;
    st_table *t = st_table_find(s->db, df_default_ns, st->table);
    int ok = 0;
    if (t != NULL && st_table_id(t) == st->table_id) {
      json_t *m = df_table_meta(t);
      const char *label = json_string_value(json_object_get(m, "LatestStreamLabel"));
      ok = label != NULL && !strcmp(label, st->label) && json_object_get(m, "StreamSpecification") != NULL;
      json_decref(m);
    }
    uint64_t lsn;
    if (ok && st_table_set_events(t, st->log, view_bits(st->view)) == ST_OK) continue;
    df_log(s, DF_LOG_WARN, "stream %s was left enabled without its table; now DISABLED", st->arn);
    if (stream_close(s, st, &lsn) != ST_OK) return -1;
  }
  /* Tables whose meta names an enabled stream that does not exist lose it. */
  if (df_tables_each(s, df_default_ns, repair_table, NULL) != 0) return -1;
  uv_timer_init(s->loop, &ss->timer);
  ss->timer.data = s;
  ss->timer_up = 1;
  uint64_t tick = (uint64_t)s->cfg.stream_retention_s * 1000 / 10;
  if (tick > RETENTION_TICK_MS) tick = RETENTION_TICK_MS;
  if (tick < 100) tick = 100;
  uv_timer_start(&ss->timer, on_retention, tick, tick);
  return 0;
}

static void on_timer_closed(uv_handle_t *h) {
  free(h->data);
}

void df_streams_close(df_server *s) {
  df_streams *ss = s->streams;
  if (ss == NULL) return;
  df_stream *next;
  for (df_stream *st = ss->head; st != NULL; st = next) {
    next = st->next;
    stream_free(st);
  }
  ss->head = NULL;
  s->streams = NULL;
  if (ss->timer_up) {
    ss->timer.data = ss;
    uv_close((uv_handle_t *)&ss->timer, on_timer_closed);
  } else {
    free(ss);
  }
}

/* ---- the Streams API -------------------------------------------------------- */

static void reply_e(df_req *r, p_errcode code, const char *msg) {
  p_error e;
  p_error_init(&e);
  p_error_set(&e, code, "%s", msg);
  df_reply_error(r, &e, 0);
}

static void stream_not_found(df_req *r, const char *arn) {
  p_error e;
  p_error_init(&e);
  p_error_set(&e, P_RESOURCE_NOT_FOUND, "Requested resource not found: Stream: %s not found", arn);
  df_reply_error(r, &e, 0);
}

/* The stream of a shard; NULL when either is unknown (answered). */
static df_stream *shard_stream(df_req *r, const char *arn, const char *shard_id) {
  df_stream *st = df_stream_by_arn(r->srv, arn);
  if (st == NULL)
    stream_not_found(r, arn);
  else if (strcmp(shard_id, st->shard_id) != 0)
    reply_e(r, P_RESOURCE_NOT_FOUND, "Requested resource not found: Shard does not exist");
  else
    return st;
  return NULL;
}

static json_t *key_schema_json(const p_key_schema *k) {
  json_t *arr = json_array();
  json_t *h = json_object();
  json_object_set_new(h, "AttributeName", json_string(k->hash_name));
  json_object_set_new(h, "KeyType", json_string("HASH"));
  json_array_append_new(arr, h);
  if (k->range_name) {
    json_t *g = json_object();
    json_object_set_new(g, "AttributeName", json_string(k->range_name));
    json_object_set_new(g, "KeyType", json_string("RANGE"));
    json_array_append_new(arr, g);
  }
  return arr;
}

void h_list_streams(df_req *r) {
  df_server *s = r->srv;
  p_list_streams q;
  p_error e;
  p_error_init(&e);
  if (p_parse_list_streams(r->body, r->arena, &q, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  df_stream *st = s->streams->head;
  if (q.exclusive_start != NULL) { /* resume after that stream (unknown: from the start) */
    df_stream *x = df_stream_by_arn(s, q.exclusive_start);
    st = x != NULL ? x->next : st;
  }
  json_t *arr = json_array();
  int n = 0;
  const df_stream *last = NULL;
  for (; st != NULL; st = st->next) {
    if (q.table_name != NULL && strcmp(q.table_name, st->table) != 0) continue;
    if (n == q.limit) break;
    json_t *o = json_object();
    json_object_set_new(o, "StreamArn", json_string(st->arn));
    json_object_set_new(o, "TableName", json_string(st->table));
    json_object_set_new(o, "StreamLabel", json_string(st->label));
    json_array_append_new(arr, o);
    last = st;
    n++;
  }
  json_t *out = json_object();
  json_object_set_new(out, "Streams", arr);
  if (st != NULL && last != NULL) json_object_set_new(out, "LastEvaluatedStreamArn", json_string(last->arn));
  df_reply_json(r, out, st_last_lsn(s->db));
}

void h_describe_stream(df_req *r) {
  df_server *s = r->srv;
  p_describe_stream q;
  p_error e;
  p_error_init(&e);
  if (p_parse_describe_stream(r->body, r->arena, &q, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  df_stream *st = df_stream_by_arn(s, q.arn);
  if (st == NULL) {
    stream_not_found(r, q.arn);
    return;
  }
  json_t *d = json_object();
  json_object_set_new(d, "StreamArn", json_string(st->arn));
  json_object_set_new(d, "StreamLabel", json_string(st->label));
  json_object_set_new(d, "StreamStatus", json_string(st->enabled ? "ENABLED" : "DISABLED"));
  json_object_set_new(d, "StreamViewType", json_string(p_view_name(st->view)));
  json_object_set_new(d, "CreationRequestDateTime", json_real(st->created));
  json_object_set_new(d, "TableName", json_string(st->table));
  json_object_set_new(d, "KeySchema", key_schema_json(&st->key));
  json_t *shards = json_array();
  /* One shard, without parent; a CHILD_SHARDS filter finds no children,
   * and a start after it (or any unknown id sorting after it) ends the list. */
  int show = q.filter_parent == NULL &&
             (q.exclusive_start_shard == NULL || strcmp(q.exclusive_start_shard, st->shard_id) < 0);
  if (show) {
    char seq[24];
    json_t *sh = json_object();
    json_object_set_new(sh, "ShardId", json_string(st->shard_id));
    json_t *range = json_object();
    p_seq_format(st->start_seq, seq);
    json_object_set_new(range, "StartingSequenceNumber", json_string(seq));
    if (!st->enabled) {
      p_seq_format(st->end_seq, seq);
      json_object_set_new(range, "EndingSequenceNumber", json_string(seq));
    }
    json_object_set_new(sh, "SequenceNumberRange", range);
    json_array_append_new(shards, sh);
  }
  json_object_set_new(d, "Shards", shards);
  json_t *out = json_object();
  json_object_set_new(out, "StreamDescription", d);
  df_reply_json(r, out, st_table_last_lsn(st->log));
}

/* The oldest position still readable. */
static uint64_t trim_horizon(const df_stream *st) {
  uint64_t t = st_events_trimmed(st->log);
  return t > st->start_seq ? t : st->start_seq;
}

void h_get_shard_iterator(df_req *r) {
  df_server *s = r->srv;
  p_get_shard_iterator q;
  p_error e;
  p_error_init(&e);
  if (p_parse_get_shard_iterator(r->body, r->arena, &q, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  df_stream *st = shard_stream(r, q.arn, q.shard_id);
  if (st == NULL) return;
  uint64_t end = st->enabled ? UINT64_MAX : st->end_seq;
  uint64_t pos = 0;
  switch (q.type) {
    case P_ITER_TRIM_HORIZON:
      pos = trim_horizon(st);
      break;
    case P_ITER_LATEST:
      pos = st->enabled ? (st_last_lsn(s->db) + 1) << 16 : st->end_seq + 1;
      break;
    case P_ITER_AT_SEQUENCE_NUMBER:
    case P_ITER_AFTER_SEQUENCE_NUMBER: {
      char seq[24];
      p_seq_format(q.seq, seq);
      if (q.seq < st->start_seq || q.seq > end) {
        p_error_set(&e, P_VALIDATION,
                    "Invalid SequenceNumber %s for shard %s: it is outside the shard's sequence number range",
                    seq, st->shard_id);
        df_reply_error(r, &e, 0);
        return;
      }
      if (q.seq < st_events_trimmed(st->log)) {
        reply_e(r, P_TRIMMED_DATA_ACCESS, "The data you are trying to access has been trimmed");
        return;
      }
      pos = q.type == P_ITER_AT_SEQUENCE_NUMBER ? q.seq : q.seq + 1;
      break;
    }
  }
  p_iterator it = {st->arn, st->shard_id, pos, (int64_t)floor(df_now() * 1000.0)};
  char *text = p_iterator_format(&it);
  json_t *out = json_object();
  json_object_set_new(out, "ShardIterator", json_string(text));
  free(text);
  df_reply_json(r, out, st_table_last_lsn(st->log));
}

void h_get_records(df_req *r) {
  df_server *s = r->srv;
  p_get_records q;
  p_iterator it;
  p_error e;
  p_error_init(&e);
  if (p_parse_get_records(r->body, r->arena, &q, &e) != 0 || p_iterator_parse(q.iterator, r->arena, &it, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  double age = df_now() - (double)it.issued_ms / 1000.0;
  if (age > s->cfg.iterator_ttl_s) {
    reply_e(r, P_EXPIRED_ITERATOR, "The provided iterator exceeds the maximum age allowed.");
    return;
  }
  df_stream *st = shard_stream(r, it.arn, it.shard_id);
  if (st == NULL) return;
  if (it.position < st_events_trimmed(st->log)) {
    reply_e(r, P_TRIMMED_DATA_ACCESS, "The data you are trying to access has been trimmed");
    return;
  }
  /* Only durable events, and none past the end of a closed shard. */
  uint64_t below = (st_durable_lsn(s->db) + 1) << 16;
  if (!st->enabled && below > st->end_seq + 1) below = st->end_seq + 1;
  st_event *ev = dv_arena_alloc(r->arena, sizeof *ev * (size_t)q.limit);
  size_t n = 0;
  uint64_t next = it.position;
  int rc = st_events_read(st->log, it.position, below, (size_t)q.limit, RECORDS_MAX_BYTES, r->arena, ev, &n, &next);
  if (rc != ST_OK) {
    df_reply_storage_error(r, rc, "GetRecords");
    return;
  }
  p_buf b;
  p_buf_init(&b);
  p_buf_puts(&b, "{\"Records\":[");
  for (size_t i = 0; i < n; i++) {
    p_stream_record rec;
    char id[33];
    df_stream_record(s, st, &ev[i], &rec, id);
    if (i) p_buf_puts(&b, ",");
    p_write_stream_record(&b, &rec);
  }
  p_buf_puts(&b, "]");
  /* A closed shard read to its end has no next iterator. */
  int ended = 0;
  if (!st->enabled) {
    st_event probe;
    size_t pn = 0;
    uint64_t pnext;
    rc = st_events_read(st->log, next, below, 1, 0, r->arena, &probe, &pn, &pnext);
    ended = rc == ST_OK && pn == 0;
  }
  if (!ended) {
    p_iterator nit = {st->arn, st->shard_id, next, (int64_t)floor(df_now() * 1000.0)};
    char *text = p_iterator_format(&nit);
    p_buf_puts(&b, ",\"NextShardIterator\":");
    p_write_json_string(&b, text, strlen(text));
    free(text);
  }
  p_buf_puts(&b, "}");
  size_t len;
  char *body = p_buf_steal(&b, &len);
  df_reply_text(r, body, len, 0);
}

/* ---- UpdateTable ------------------------------------------------------------------ */

void h_update_table(df_req *r) {
  df_server *s = r->srv;
  p_update_table q;
  p_error e;
  p_error_init(&e);
  if (p_parse_update_table(r->body, r->arena, &q, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = st_table_find(s->db, df_default_ns, q.table_name);
  if (t == NULL) {
    json_decref(q.changes);
    df_reply_table_not_found(r, q.table_name);
    return;
  }
  if (df_table_is_creating(s, t)) {
    json_decref(q.changes);
    p_error_set(&e, P_RESOURCE_IN_USE, "Attempt to change a resource which is still in use: Table is being created: %s",
                q.table_name);
    df_reply_error(r, &e, 0);
    return;
  }
  if (q.has_replica_updates) {
    json_decref(q.changes);
    p_error_set(&e, P_VALIDATION, "%s are not supported by dynafile yet", "ReplicaUpdates");
    df_reply_error(r, &e, 0);
    return;
  }
  /* Dropping an index closes what reads it: wait for t's pages in progress. */
  if (q.has_gsi_updates && df_wait_tables(r, &t, 1)) {
    json_decref(q.changes);
    return;
  }
  json_t *meta = df_table_meta(t);
  json_t *nmeta = NULL;
  if (meta == NULL) {
    json_decref(q.changes);
    df_reply_storage_error(r, ST_ECORRUPT, "UpdateTable meta");
    return;
  }
  int bad = p_check_update_table(meta, &q, &nmeta, &e);
  json_decref(meta);
  json_decref(q.changes);
  if (bad != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  uint64_t lsn = 0;
  int rc = ST_OK;
  /* GlobalSecondaryIndexUpdates (indexes.c's crash order): a Create makes
   * the storage index before the meta that names it (CREATING, Backfilling)
   * and then starts its backfill; a Delete stores the meta without it
   * before dropping it. */
  st_table *new_ix = NULL, *old_ix = NULL;
  if (q.gsi_create != NULL) {
    p_index *idx = NULL;
    size_t n = 0;
    const p_index *ix = NULL;
    if (p_table_indexes(nmeta, r->arena, &idx, &n) != 0 || (ix = p_index_find(idx, n, q.gsi_create)) == NULL)
      rc = ST_ECORRUPT;
    if (rc == ST_OK) rc = df_index_create(s, t, ix, &new_ix, &lsn);
    if (rc == ST_OK && new_ix == NULL) new_ix = st_index_find(t, q.gsi_create);
    if (rc == ST_OK) {
      json_t *m2 = p_meta_set_index_status(nmeta, q.gsi_create, "CREATING", 1);
      json_decref(nmeta);
      nmeta = m2;
    }
  }
  if (q.gsi_delete != NULL) {
    df_index_backfill_stop(s, t, q.gsi_delete);
    old_ix = st_index_find(t, q.gsi_delete);
  }
  if (rc == ST_OK && q.has_stream && q.stream_enabled) {
    char label[24];
    char *arn = NULL;
    rc = df_stream_enable(s, t, q.stream_view, label, &arn, &lsn);
    if (rc == ST_OK) {
      json_object_set_new(nmeta, "LatestStreamLabel", json_string(label));
      json_object_set_new(nmeta, "LatestStreamArn", json_string(arn));
      free(arn);
    }
  }
  if (rc == ST_OK) rc = df_table_set_meta(s, t, nmeta, &lsn);
  json_decref(nmeta);
  if (rc == ST_OK && q.has_stream && !q.stream_enabled) rc = df_stream_disable(s, t, &lsn);
  if (rc == ST_OK && old_ix != NULL) {
    rc = st_table_drop(s->db, old_ix, &lsn);
    if (rc == ST_OK) df_commit_checkpoint_soon(s); /* its files go at a checkpoint */
  }
  if (rc == ST_OK && new_ix != NULL) df_index_backfill_start(s, t, q.gsi_create);
  if (rc != ST_OK) {
    df_reply_storage_error(r, rc, "UpdateTable");
    return;
  }
  json_t *desc = df_describe_table(s, t, NULL);
  if (desc == NULL) {
    df_reply_storage_error(r, ST_ECORRUPT, "UpdateTable describe");
    return;
  }
  json_t *out = json_object();
  json_object_set_new(out, "TableDescription", desc);
  df_reply_json(r, out, lsn);
}
