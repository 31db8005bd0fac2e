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

/* ---- rest.c: the /v1/ face ------------------------------------------------ */

/* http.c hands every request whose path starts with "/v1/" here (after the
 * body is read; url is the full path, query string excluded: arguments are
 * read with MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND, ..)).
 * Returns the response to queue and its status, or NULL to drop the
 * connection. JSON errors are {"error":{"code":..,"message":..}}. */
struct MHD_Response *df_rest_handle(df_server *s, struct MHD_Connection *mc, const char *method,
                                    const char *url, const char *body, size_t len, unsigned *status);
/* A JSON error response {"error":{"code":code,"message":message}} (new;
 * NULL if MHD has no memory). */
struct MHD_Response *df_rest_error(const char *code, const char *message);
/* sse.c: GET /v1/tables/<table>/stream -- the subscription response
 * (status 200) or a JSON error with its status. */
struct MHD_Response *df_sse_subscribe(df_server *s, struct MHD_Connection *mc, const char *table,
                                      unsigned *status);

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
