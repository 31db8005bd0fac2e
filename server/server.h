/*
 * server.h -- the daemon's one context and the contract between the HTTP
 * transport (http.c, loop.c, commit.c) and the operation handlers
 * (handlers.c).
 *
 * Every handler runs on the event-loop thread, synchronously, with a parsed
 * request; it answers exactly once with df_reply_json(), df_reply_text() or
 * df_reply_error() -- or, after df_req_later(), later from a loop callback
 * (a sliced Scan/Query page) or by being run again (a write that waits for
 * a page, server/pages.c).
 * A reply that reveals or depends on a change not yet durable carries the
 * LSN the client must not see before it is fsynced (wait_lsn); the transport
 * holds the HTTP response until st_durable_lsn() >= wait_lsn.
 */
#ifndef DF_SERVER_H
#define DF_SERVER_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "protocol/protocol.h"
#include "storage/storage.h"

typedef enum df_log_level { DF_LOG_ERROR = 0, DF_LOG_WARN, DF_LOG_INFO, DF_LOG_DEBUG } df_log_level;

typedef struct df_config {
  const char *host;          /* listen address, default 127.0.0.1 */
  int port;                  /* default 8000 */
  const char *data_dir;      /* default ./data */
  df_log_level log_level;    /* default info */
  int create_delay_ms;       /* hold new tables in CREATING this long (0 = ACTIVE at once) */
  int delete_delay_ms;       /* hold deleted tables in DELETING this long */
  size_t cache_mb;           /* page-cache budget */
  int no_fsync;              /* testing only: acknowledge without fsync */
  int ttl_hide_expired;      /* 1 (default): reads skip items whose TTL has passed */
  int ttl_sweep_ms;          /* TTL sweeper period (default 5000) */
  int ttl_cooldown_s;        /* UpdateTimeToLive cooldown (default 0; AWS ~3600) */
  int stream_retention_s;    /* stream records and disabled streams kept (default 86400) */
  int iterator_ttl_s;        /* shard iterator lifetime (default 900) */
  int sse_heartbeat_ms;      /* SSE comment heartbeat (default 15000) */
  size_t sse_backlog;        /* SSE events queued per subscriber before it is cut off (default 4096) */
  const char *rest_token;    /* --rest-token: /v1/ requires "Authorization: Bearer <it>" (NULL = open) */
  int backfill_items;        /* --backfill-items: base items read per GSI backfill slice (default 1000) */
  int backfill_delay_ms;     /* --backfill-delay-ms: pause between backfill slices (default 0; tests) */
} df_config;

typedef struct df_server df_server;

/* Spare request arenas kept for reuse (a few per connection in flight would
 * be more than requests need at once on one loop thread). */
#define DF_SPARE_ARENAS 32

/* The one server context, passed explicitly (no mutable globals). */
struct df_server {
  df_config cfg;             /* settings from the command line */
  uv_loop_t *loop;           /* the one event loop */
  st_db *db;                 /* the storage engine */
  p_context pctx;            /* region and account for ARNs */
  struct df_http *http;      /* transport state (http.c) */
  struct df_commit *commit;  /* group commit and checkpoint driver (commit.c) */
  struct df_tables *tables;  /* CREATING/DELETING timers and ghosts (handlers.c) */
  struct df_pages *pages;    /* sliced Scan/Query pages and the writes waiting for them (pages.c) */
  struct df_streams *streams; /* stream registry, trimming (streams.c) */
  struct df_sse *sse;        /* server-sent-event subscribers (sse.c) */
  struct df_ttl *ttl;        /* TTL sweeper (ttl.c) */
  struct df_indexes *indexes; /* GSI backfill jobs (indexes.c) */
  int stopping;              /* 1 once SIGINT/SIGTERM arrived */
  dv_arena *spare_arenas[DF_SPARE_ARENAS]; /* reset arenas for the next requests (http.c) */
  int n_spare_arenas;        /* entries of spare_arenas in use */
};

/* Request-scoped arenas (http.c): a reset arena from the spares, or a new
 * one. Reusing them spares each request a 4 KiB malloc, which would make
 * glibc consolidate its fast bins every time (docs/PERFORMANCE.md). */
dv_arena *df_arena_take(df_server *s);
/* Give an arena back (reset and kept as a spare, or freed); NULL is a no-op. */
void df_arena_give(df_server *s, dv_arena *a);
/* Free the spares (at exit). */
void df_arenas_free(df_server *s);

typedef struct df_req {
  df_server *srv;            /* the server */
  p_op op;                   /* operation from X-Amz-Target */
  json_t *body;              /* parsed request body (a JSON object), borrowed */
  dv_arena *arena;           /* request-scoped memory, freed after the reply is sent */
  const char *request_id;    /* x-amzn-RequestId of this request */
  struct df_conn *conn;      /* transport's connection state */
} df_req;

/* Answer with a JSON body (stolen). wait_lsn 0 = answer at once. */
void df_reply_json(df_req *r, json_t *body, uint64_t wait_lsn);
/* Answer with an error; the error's contents are moved out (e is cleared). */
void df_reply_error(df_req *r, p_error *e, uint64_t wait_lsn);
/* Answer with prebuilt JSON text: body is malloc'd, len bytes, and owned
 * from now on (NULL = could not be built: a 500 is sent). */
void df_reply_text(df_req *r, char *body, size_t len, uint64_t wait_lsn);

/* Answering later. A handler that calls df_req_later() may return without
 * replying: the connection is suspended and r -- its body, arena and
 * connection -- stays valid until the request is answered, which must then
 * happen exactly once from a loop callback (df_reply_*), or by running it
 * again with df_req_rerun(): the handler is dispatched from scratch on the
 * same parsed body with a fresh arena (it may call df_req_later() again). */
void df_req_later(df_req *r);
void df_req_rerun(df_req *r);

/* A request header (name case-insensitive), NULL if absent. Borrowed: valid
 * while the handler runs. E.g. "Host" for DescribeEndpoints. */
const char *df_req_header(const df_req *r, const char *name);

/* Handlers (handlers.c), one per implemented operation. */
typedef void (*df_handler)(df_req *r);
void h_create_table(df_req *r);
void h_describe_table(df_req *r);
void h_list_tables(df_req *r);
void h_delete_table(df_req *r);
void h_put_item(df_req *r);
void h_get_item(df_req *r);
void h_delete_item(df_req *r);
void h_update_item(df_req *r);
void h_describe_endpoints(df_req *r);
void h_describe_limits(df_req *r);
/* Batch handlers (handlers_batch.c). */
void h_batch_write_item(df_req *r);
void h_batch_get_item(df_req *r);
/* Query and Scan handlers (handlers_query.c). */
void h_query(df_req *r);
void h_scan(df_req *r);
/* Evaluate one Query/Scan page of q over spec on t -- or, ix non-NULL, on
 * t's index ix (spec in the index's terms) -- and answer it: the first
 * slice in the caller, the others from the loop (pages.c) while writes to t
 * wait. ix (what p_check_query / p_check_scan returned as *which) must stay
 * valid until the request is answered (r->arena: df_table_indexes).
 * never_resume: no LastEvaluatedKey (a one-row Query). plain: a /v1/
 * listing, answered {"items":[..],"count":N,"cursor":..} with
 * df_rest_reply_text (handlers_query.c). */
void df_run_page(df_req *r, st_table *t, const p_key_schema *ks, const p_index *ix, const p_query *q,
                 const st_iter_spec *spec, int never_resume, int plain);
/* A checked Scan (p_check_scan done, *which in ix): the parallel-scan
 * segment check of its ExclusiveStartKey, then df_run_page. 0, or -1 with
 * err set and nothing answered (the caller answers in its face's words). */
int df_run_scan(df_req *r, st_table *t, const p_key_schema *ks, const p_index *ix, const p_query *q,
                int plain, p_error *err);
/* A checked Query (p_check_query done, its range in rg, *which in ix):
 * df_run_page over the partition and sort-key range. */
void df_run_query(df_req *r, st_table *t, const p_key_schema *ks, const p_index *ix, const p_query *q,
                  const p_query_range *rg, int never_resume, int plain);

/* ---- pages.c: sliced pages and the writes that wait for them ------------ */

/* A long read (a big Scan/Query page) is computed in slices of bounded
 * work, one per loop iteration, so that the loop serves other requests in
 * between; while one is in progress on a table, writes to that table wait
 * (the page stays a consistent view) and are run again when the table has
 * no page in progress. */
typedef struct df_slice_job df_slice_job;
struct df_slice_job {
  df_slice_job *next;            /* pages.c's round-robin list */
  df_server *srv;                /* the server */
  st_table *table;               /* writes to this table wait while the job runs */
  int (*step)(df_slice_job *j);  /* one slice: 1 when finished (it has replied; it may free j) */
};
/* Queue j (its first slice already ran in the handler): j->table is busy
 * until j->step returns 1. */
void df_slice_start(df_slice_job *j);
/* For a write (or DeleteTable) about to touch tables ts[0..n): if one of
 * them has a page in progress, park r (df_req_later; the handler must
 * return at once without replying) and return 1; it runs again from
 * scratch once that page ends. 0: go ahead. */
int df_wait_tables(df_req *r, st_table *const *ts, size_t n);
/* For a read starting a page of t: 1 (r parked, as above) when writes to
 * t are already waiting, so that a stream of pages cannot starve them. */
int df_wait_writers(df_req *r, st_table *t);
int df_pages_init(df_server *s);
void df_pages_close(df_server *s);

/* Helpers every handler file shares (handlers.c). */
/* The namespace of the catalog the wire protocol uses. */
extern const char *const df_default_ns;
/* Wall-clock time, epoch seconds. */
double df_now(void);
/* The table's key schema in protocol terms (strings borrowed from t). */
void df_key_schema_of(const st_table *t, p_key_schema *ks);
/* 1 while t is held in CREATING by --create-delay-ms. */
int df_table_is_creating(const df_server *s, const st_table *t);
/* Table lookup for item operations, Query and Scan: NULL when it is missing
 * or still CREATING (operations.md 5.0). */
st_table *df_item_table_find(df_server *s, const char *name);
/* The same, answering ResourceNotFoundException when it returns NULL. */
st_table *df_item_table(df_req *r, const char *name);
/* The table's meta (protocol/control.c's JSON object) parsed; new ref, NULL
 * if unreadable. */
json_t *df_table_meta(const st_table *t);
/* Store meta as the table's meta (logged); drops what df_table_state
 * derived from the old meta (the cached index list). */
int df_table_set_meta(df_server *s, st_table *t, const json_t *meta, uint64_t *lsn);

/* What the server keeps in memory on a live table (st_table_user), all of
 * it derived from the table's meta: ttl.c's TTL facts and indexes.c's
 * parsed index list. Made on first use; freed when the table is dropped
 * (df_table_delete) or the server stops (df_tables_close). */
typedef struct df_table_state {
  char *ttl_attr;        /* ttl.c: TTL attribute name, NULL while TTL is disabled */
  size_t ttl_attr_len;   /* its length */
  double ttl_changed_at; /* ttl.c: last successful UpdateTimeToLive (cooldown), 0 = never */
  int idx_loaded;        /* indexes.c: idx / n_idx hold the current meta's indexes */
  json_t *idx_meta;      /* the meta they were parsed from (kept: their strings may point into it) */
  dv_arena *idx_arena;   /* their memory */
  p_index *idx;          /* the table's indexes, LSIs then GSIs (NULL when none) */
  size_t n_idx;          /* entries in idx */
} df_table_state;
/* t's state, made if it has none. */
df_table_state *df_table_state_of(st_table *t);
/* t's state, NULL if it has none yet. */
df_table_state *df_table_state_peek(const st_table *t);
/* Free t's state (before t is dropped; at shutdown). */
void df_table_state_free(st_table *t);
/* The TableDescription of a live table in the given status (NULL = its
 * current one). New reference, NULL if its stored meta is unreadable. */
json_t *df_describe_table(df_server *s, const st_table *t, const char *status);
/* 1 while a sliced page is in progress on t (writes to t must wait). */
int df_table_busy(df_server *s, const st_table *t);
/* Call fn for every table of namespace ns in name order, until it returns
 * non-zero (returned). fn may change the tables' meta, not drop them. */
int df_tables_each(df_server *s, const char *ns, int (*fn)(df_server *s, st_table *t, void *ctx), void *ctx);
/* ResourceNotFoundException "Requested resource not found: Table: <name> not found". */
void df_reply_table_not_found(df_req *r, const char *name);
/* A storage failure: logged, answered 500 InternalServerError (SDKs retry). */
void df_reply_storage_error(df_req *r, int rc, const char *what);

/* Shared by the DynamoDB and /v1/ faces (handlers.c). */
/* CreateTable after p_parse_create_table: a table id, the ghost check, the
 * catalog entry, and the stream asked for at creation. ct->meta is taken.
 * ST_OK (*out the table, *lsn the last record written), ST_EEXIST with e
 * set (ResourceInUse "Table already exists: <name>"), or a storage error. */
int df_table_create(df_server *s, p_create_table *ct, st_table **out, uint64_t *lsn, p_error *e);
/* DeleteTable after the page wait and the CREATING check: disable its
 * stream, forget its TTL state, drop it, and keep desc (borrowed: the
 * DELETING TableDescription) as a ghost under --delete-delay-ms. t is
 * invalid afterwards. ST_OK or a storage error. */
int df_table_delete(df_server *s, st_table *t, const json_t *desc, uint64_t *lsn);
/* The stored item of key (DV_NONE: none, or hidden by TTL, df_ttl_expired)
 * decoded into a. ST_OK or a storage error. */
int df_item_read(df_server *s, st_table *t, const dv_value *key, dv_arena *a, dv_value *out);

/* handlers.c state: set up and torn down around the loop. */
int df_tables_init(df_server *s);
void df_tables_close(df_server *s);

/* commit.c: ask for a group commit as soon as possible (called by the
 * transport when a reply waits on an LSN). */
void df_commit_kick(df_server *s);
/* commit.c: take a checkpoint soon, even if none is due (e.g. after
 * DeleteTable, so that the dropped table's files are deleted within moments
 * rather than at the next periodic checkpoint). Safe to call from a handler. */
void df_commit_checkpoint_soon(df_server *s);

/* ---- streams.c: the stream registry ------------------------------------ */

/* One stream: one event log (storage's ST_KIND_EVENTS) with the facts the
 * Streams API shows. A table has at most one ENABLED stream; disabled
 * streams (and those of deleted tables) stay DISABLED and readable for
 * cfg.stream_retention_s, then their logs are dropped. */
typedef struct df_stream df_stream;
struct df_stream {
  df_stream *next;           /* streams.c's list */
  st_table *log;             /* its event log */
  char *table;               /* table name */
  uint64_t table_id;         /* st_table_id of the table it belongs (belonged) to */
  char *arn;                 /* StreamArn */
  char *label;               /* StreamLabel */
  char *shard_id;            /* its one shard */
  p_view view;               /* StreamViewType */
  p_key_schema key;          /* the table's key schema (strings owned) */
  double created;            /* CreationRequestDateTime, epoch seconds */
  uint64_t start_seq;        /* first sequence number the shard can hold */
  int enabled;               /* 1 ENABLED, 0 DISABLED */
  uint64_t end_seq;          /* DISABLED: last sequence number it can hold */
  double disabled_at;        /* DISABLED: when, epoch seconds */
  void *sse;                 /* sse.c's subscribers of this stream (NULL: none) */
};

int df_streams_init(df_server *s);  /* after st_open: load streams, re-attach logs */
void df_streams_close(df_server *s);
/* The ENABLED stream of a table (namespace df_default_ns), NULL if none. */
df_stream *df_stream_of_table(df_server *s, const char *table);
/* A stream by ARN, NULL if unknown. */
df_stream *df_stream_by_arn(df_server *s, const char *arn);
/* Fill a record for ev of stream st (event_id must hold 33 bytes; the
 * record borrows ev's values, st's strings and event_id). */
void df_stream_record(df_server *s, const df_stream *st, const st_event *ev, p_stream_record *out,
                      char event_id[33]);
/* Create / disable the table's stream (UpdateTable, CreateTable,
 * DeleteTable). *lsn = the last log record written. */
int df_stream_enable(df_server *s, st_table *t, p_view view, char label[24], char **arn, uint64_t *lsn);
int df_stream_disable(df_server *s, st_table *t, uint64_t *lsn);
/* Handlers: DynamoDB Streams API. */
void h_list_streams(df_req *r);
void h_describe_stream(df_req *r);
void h_get_shard_iterator(df_req *r);
void h_get_records(df_req *r);
void h_update_table(df_req *r);

/* ---- sse.c: server-sent events (GET /v1/tables/<t>/stream) ------------- */

int df_sse_init(df_server *s);
/* commit.c: the durable LSN advanced; push new events to subscribers. */
void df_sse_on_durable(df_server *s);
/* streams.c: st was disabled or is about to be freed (its log dropped):
 * subscribers get what remains, then a final event, and are closed;
 * st->sse must be NULL when this returns if the stream is being freed. */
void df_sse_stream_closed(df_server *s, df_stream *st, int freeing);
/* main.c: the server stops: end every subscription now. */
void df_sse_shutdown(df_server *s);
void df_sse_close(df_server *s);

/* ---- ttl.c: Time To Live ----------------------------------------------------- */

int df_ttl_init(df_server *s);
void df_ttl_close(df_server *s);
/* 1 when reads must hide item of table t: cfg.ttl_hide_expired, TTL enabled
 * on t, and the item's TTL attribute is a Number of epoch seconds <= now
 * (and not more than 5 years in the past). */
int df_ttl_expired(df_server *s, const st_table *t, const dv_value *item);
/* The table's meta changed (UpdateTimeToLive, DeleteTable, CreateTable):
 * refresh the sweeper's view of it. */
void df_ttl_table_changed(df_server *s, st_table *t);
/* t is about to be dropped: forget it (stops sweeping it; its
 * df_table_state, TTL facts included, goes with df_table_state_free). */
void df_ttl_table_forget(df_server *s, st_table *t);
/* UpdateTimeToLive after the table lookup (shared by both faces): the
 * state checks (p_check_update_ttl), the cooldown, the new meta. ST_OK
 * (*lsn its record), ST_EINVAL with e set (ValidationException), or a
 * storage error. */
int df_ttl_update(df_server *s, st_table *t, const p_update_ttl *q, uint64_t *lsn, p_error *e);
void h_update_time_to_live(df_req *r);
void h_describe_time_to_live(df_req *r);

/* ---- indexes.c: secondary indexes -------------------------------------- */

/* The table's meta lists its indexes (p_table_indexes; parsed once per
 * meta version and cached in the table's df_table_state); storage holds
 * one ST_KIND_INDEX entry per index (st_index_find by IndexName),
 * maintained by st_write. A GSI added by UpdateTable is filled by a
 * backfill job in slices (st_index_fill) while reads and writes go on;
 * meta shows it CREATING with Backfilling true until the job ends, then
 * ACTIVE. Crash ordering and repair: indexes.c. */

int df_indexes_init(df_server *s); /* after df_tables_init: reconcile meta with storage, restart backfills */
void df_indexes_close(df_server *s);
/* The indexes of t (from its meta), copied into arena a (valid as long as
 * a, whatever happens to t). 0, or -1 if unreadable. */
int df_table_indexes(const st_table *t, dv_arena *a, p_index **idx, size_t *n);
/* The same without a copy, from t's df_table_state: borrowed, valid until
 * t's meta changes or t is dropped, i.e. within one synchronous step of a
 * handler (the write paths). 0, or -1 if unreadable. */
int df_table_indexes_cached(st_table *t, const p_index **idx, size_t *n);
/* Create t's storage index for ix (st_index_create; ST_EEXIST if it
 * exists). *out (may be NULL) receives it. */
int df_index_create(df_server *s, st_table *t, const p_index *ix, st_table **out, uint64_t *lsn);
/* Fill index ix of t from every item of t at once (a table just created,
 * startup repair). */
int df_index_fill_now(df_server *s, st_table *t, st_table *ix, uint64_t *lsn);
/* ItemCount / IndexSizeBytes of t's storage indexes, for
 * p_table_description: fills out[0..max), returns how many. */
size_t df_index_stats(const st_table *t, p_index_stats *out, size_t max);
/* Add the index write units of one write (old / new: the item before and
 * after, NULL for none) to units[0..n), one per index idx[i]. */
void df_index_units_add(const p_key_schema *ks, const p_index *idx, size_t n, const dv_value *old_item,
                        const dv_value *new_item, double *units);
/* ConsumedCapacity of a write (NULL when rcc is NONE): p_consumed_capacity
 * without indexes, p_consumed_capacity_indexed with them. */
json_t *df_write_capacity(const char *table, double table_units, const p_index *idx, const double *units,
                          size_t n, p_rcc rcc);
/* Start filling GSI name of t from the items t holds (its storage index
 * exists); meta goes to ACTIVE when done. */
void df_index_backfill_start(df_server *s, st_table *t, const char *name);
/* Stop the backfill jobs of t (all of them when name is NULL), before t or
 * the index is dropped. */
void df_index_backfill_stop(df_server *s, st_table *t, const char *name);

/* ---- rest.c: answers of the /v1/ face given by other files -------------- */

/* Answer a /v1/ request with JSON text (malloc'd, taken; NULL = 500) and
 * status, held until wait_lsn is durable. */
void df_rest_reply_text(df_req *r, unsigned status, char *body, size_t len, uint64_t wait_lsn);
/* A storage failure on a /v1/ request: logged, answered 500 InternalError. */
void df_rest_reply_storage_error(df_req *r, int rc, const char *what);
/* Append the base64url (RFC 4648 section 5, no padding) of data[0..n). */
void df_base64url_append(p_buf *b, const void *data, size_t n);

/* log.c */
void df_log(df_server *s, df_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* DF_SERVER_H */
