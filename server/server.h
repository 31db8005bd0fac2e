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
} df_config;

typedef struct df_server df_server;

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
  int stopping;              /* 1 once SIGINT/SIGTERM arrived */
};

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
/* A storage failure: logged, answered 500 InternalServerError (SDKs retry). */
void df_reply_storage_error(df_req *r, int rc, const char *what);

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

/* log.c */
void df_log(df_server *s, df_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* DF_SERVER_H */
