/*
 * server_int.h -- declarations shared by the transport files of server/
 * (main.c, loop.c, http.c, router.c, commit.c, log.c). The handlers only
 * see server.h.
 *
 * Layering inside the daemon:
 *   main.c    command line, startup, signals, orderly shutdown
 *   loop.c    drives libmicrohttpd from the one libuv loop (df_loop_*)
 *   http.c    the request pipeline of protocol.md 2.1 steps 1-7, replies
 *   router.c  the operation table: p_op -> handler + flags
 *   commit.c  group commit (fsync off the loop) and checkpoints
 *   log.c     df_log
 */
#ifndef DF_SERVER_INT_H
#define DF_SERVER_INT_H

#include <microhttpd.h>
#include <stdint.h>
#include <uv.h>

#include "server/server.h"

/* Largest request body accepted (protocol.md 1): one byte more is a 413. */
#define DF_MAX_BODY ((size_t)16 * 1024 * 1024)

/* Length of an x-amzn-RequestId. */
#define DF_REQUEST_ID_LEN 52

/* ---- loop.c: libmicrohttpd on the libuv loop ----------------------------- */

/* Transport state hung off df_server.http. */
typedef struct df_http {
  df_server *srv;         /* back pointer */
  struct MHD_Daemon *mhd; /* the daemon (external epoll mode) */
  int listen_fd;          /* our listening socket, -1 once quiesced */
  char listen_url[128];   /* "http://127.0.0.1:8000" as bound */
  uv_poll_t poll;         /* readiness of MHD's epoll fd */
  uv_timer_t timer;       /* MHD_get_timeout() and "run MHD again soon" */
  int closing;            /* 1: handles are being closed */
  int open_handles;       /* uv handles whose close callback is pending */
  uint64_t inflight;      /* requests whose headers arrived and that are not completed */
  uint64_t suspended;     /* of which suspended, waiting for a flush */
  uint64_t served;        /* requests answered since start */
  uint64_t rng[4];        /* xoshiro256** state for request ids */
} df_http;

/* Bind host:port, start MHD on the loop. 0 or -1 (logged). */
int df_loop_start(df_server *s);
/* Stop accepting connections (close the listening socket); requests in
 * flight and idle keep-alive connections go on. */
void df_loop_quiesce(df_server *s);
/* Make MHD process soon (after a resume). Never runs MHD
 * from inside an MHD callback. */
void df_loop_wake(df_server *s);
/* Close every connection, stop MHD, close the uv handles. */
void df_loop_stop(df_server *s);

/* http.c: the MHD callbacks loop.c installs. */
enum MHD_Result df_http_access(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **con_cls);
void df_http_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                       enum MHD_RequestTerminationCode toe);
/* MHD's URI log callback: keeps the request-target of a /v1/ request as
 * sent (MHD decodes the path it passes to the access handler); its result
 * becomes the request's con_cls. */
void *df_http_uri_log(void *cls, const char *uri, struct MHD_Connection *mc);

/* ---- rest.c: the /v1/ face ------------------------------------------------ */

/* http.c hands every request whose path starts with "/v1/" here, whatever
 * its method, once its body is read, as a df_req without an operation
 * (op P_OP_NONE, body NULL): raw_url is the request-target as the client
 * sent it (percent-encoded, "?query" included), body/len the request body
 * (kept until the request ends). The handler answers exactly once with
 * df_rest_reply() -- at once or, after df_req_later() (a sliced page,
 * df_wait_tables()), from a loop callback -- like a DynamoDB handler; a
 * df_req_rerun() calls df_rest_handle() again with the same arguments and
 * a fresh arena. r->body may be set by the handler to a JSON value it
 * built (a request body in DynamoDB terms that parse functions read):
 * http.c decrefs it when the request ends and before a rerun. */
void df_rest_handle(df_req *r, struct MHD_Connection *mc, const char *method, const char *raw_url,
                    const char *body, size_t len);
/* The answer of a /v1/ request: resp (taken; NULL = out of memory: the
 * connection is dropped) with HTTP status `status`, held until wait_lsn is
 * durable (0 = at once; a flush failure answers 500 InternalError instead),
 * then queued with x-amzn-RequestId and the CORS headers. A callback
 * response (sse.c) is queued as it is once due. */
void df_rest_reply(df_req *r, struct MHD_Response *resp, unsigned status, uint64_t wait_lsn);
/* A JSON error response {"error":{"code":code,"message":message}} (new;
 * NULL if MHD has no memory). */
struct MHD_Response *df_rest_error(const char *code, const char *message);
/* sse.c: GET /v1/tables/<table>/stream -- the subscription response
 * (status 200) or a JSON error with its status. plain: records in plain
 * JSON (?format=plain, p_write_stream_record_plain). */
struct MHD_Response *df_sse_subscribe(df_server *s, struct MHD_Connection *mc, const char *table, int plain,
                                      unsigned *status);
/* openapi.c: the OpenAPI 3.1 document of the /v1/ face (static text). */
extern const char df_openapi_json[];

/* rest.c and rest_items.c share one request context and a few helpers.
 * Answers go out through rest_send()/rest_fail()/rest_p_error() (each
 * replies exactly once). */
#define REST_MAX_SEGS 8

typedef struct df_rest {
  df_req *r;                      /* the request */
  df_server *s;                   /* its server */
  struct MHD_Connection *mc;      /* its connection (headers) */
  const char *method;             /* "GET", "PUT", ... (HEAD is answered as GET) */
  const char *seg[REST_MAX_SEGS]; /* path segments after "/v1/", percent-decoded (arena, NUL-terminated) */
  size_t seg_len[REST_MAX_SEGS];  /* their lengths (a key segment may hold a NUL byte) */
  size_t nseg;                    /* segments */
  const char **arg_name;          /* query arguments, decoded ('+' is a space), in order (arena) */
  const char **arg_val;           /* their values (NUL-terminated) */
  size_t *arg_len;                /* their value lengths */
  size_t nargs;                   /* arguments */
  const char *body;               /* request body (borrowed from http.c) */
  size_t len;                     /* its bytes */
} df_rest;

/* The first value of query argument name (and its length), NULL if absent. */
const char *rest_arg(const df_rest *x, const char *name, size_t *len);
/* The value of request header name, NULL if absent. */
const char *rest_header(const df_rest *x, const char *name);
/* Answer with resp (taken) and status; wait_lsn as df_rest_reply. */
void rest_send(df_rest *x, struct MHD_Response *resp, unsigned status, uint64_t wait_lsn);
/* An application/json response of text (malloc'd, taken). NULL = OOM. */
struct MHD_Response *rest_json_response(char *text, size_t len);
/* Answer an error {"error":{"code","message"}} (printf-style message). */
void rest_fail(df_rest *x, uint64_t wait_lsn, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Answer a protocol error as its REST error (ValidationException -> 400
 * ValidationError with the same message, ResourceNotFound -> 404,
 * ResourceInUse -> 409, ConditionalCheckFailed -> 412 PreconditionFailed,
 * InternalServerError -> 500, ...); e is cleared. */
void rest_p_error(df_rest *x, p_error *e, uint64_t wait_lsn);
/* The request body as JSON (numbers beyond a long long read as reals),
 * which must be an object; NULL = answered 400 BadRequest. New ref. */
json_t *rest_body_object(df_rest *x);
/* Parse JSON text (same number rule); NULL with a message in err. */
json_t *rest_parse_json(const char *text, size_t len, json_error_t *err);
/* 1 when the request's Content-Type is absent or one of the NULL-ended
 * media types; else answers 415 UnsupportedMediaType and returns 0. */
int rest_media_type_ok(df_rest *x, const char *const *types);
/* 1 when the Accept header value lists exactly the media range type
 * (case-insensitive; parameters after ';' ignored). */
int rest_accept_has(const char *accept, const char *type);
/* A table for item operations (not CREATING); NULL = answered 404
 * ResourceNotFound. */
st_table *rest_item_table(df_rest *x, const char *name);

/* rest_items.c: the item resources. seg[2] is "items" or "items:batch". */
void rest_items(df_rest *x, const char *table); /* /v1/tables/<t>/items */
void rest_batch(df_rest *x, const char *table); /* /v1/tables/<t>/items:batch */
void rest_item(df_rest *x, const char *table);  /* /v1/tables/<t>/items/<pk>[/<sk>] */

/* ---- router.c ------------------------------------------------------------ */

/* Operation flags: what an operation does, for logging and policy. */
enum {
  DF_OP_READ = 1 << 0,      /* reads items */
  DF_OP_WRITE = 1 << 1,     /* writes items (appends log records) */
  DF_OP_CONTROL = 1 << 2,   /* control plane: tables, limits, endpoints */
  DF_OP_STREAM = 1 << 3,    /* DynamoDB Streams API */
  DF_OP_CHECKPOINT = 1 << 4 /* checkpoint soon after it (DeleteTable: files go at a checkpoint) */
};

typedef struct df_route {
  df_handler handler; /* NULL: not implemented (ValidationException) */
  unsigned flags;     /* DF_OP_* */
} df_route;

/* The row for op (never NULL for a valid op). */
const df_route *df_router_get(p_op op);
/* Run the operation's handler, or answer "not implemented". The handler
 * answers exactly once; the transport checks. */
void df_router_dispatch(df_req *r);

/* ---- commit.c ------------------------------------------------------------ */

/* A reply held until its LSN is durable. Embedded in the request state. */
typedef struct df_waiter df_waiter;
struct df_waiter {
  df_waiter *prev, *next;                 /* commit.c's list */
  uint64_t lsn;                           /* release when st_durable_lsn() >= lsn */
  void (*done)(df_waiter *w, int status); /* ST_OK, or the flush's error */
};

int df_commit_init(df_server *s);
/* Queue w; done is called later from the loop (never from inside this
 * call). Kicks a flush. */
void df_commit_wait(df_server *s, df_waiter *w, uint64_t lsn);
/* Forget a queued waiter (its request is gone); done() is not called. */
void df_commit_cancel(df_server *s, df_waiter *w);
/* 1 when no flush or checkpoint job is in flight. */
int df_commit_idle(const df_server *s);
/* Stop starting new work (the final flush is st_close's) and close handles.
 * Must be called when df_commit_idle(). */
void df_commit_close(df_server *s);
/* main.c: called by commit.c and http.c whenever work drains while the
 * server stops; finishes the shutdown once nothing is in flight. */
void df_main_check_stop(df_server *s);

/* ---- log.c --------------------------------------------------------------- */

/* Small allocations: abort with a message on out-of-memory (STYLE 5). */
void *df_xmalloc(size_t n);
void *df_xcalloc(size_t n, size_t size);
void *df_xrealloc(void *p, size_t n);

/* Parse "error|warn|info|debug"; -1 if unknown. */
int df_log_level_parse(const char *name);
/* 1 if a message at level would be printed. */
int df_log_enabled(const df_server *s, df_log_level level);

#endif /* DF_SERVER_INT_H */
