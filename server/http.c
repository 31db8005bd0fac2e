/*
 * http.c -- the request pipeline: what happens to one HTTP request between
 * libmicrohttpd reading its headers and the handler being called, and how
 * the handler's reply becomes an HTTP response.
 *
 * Checks run in the order of protocol.md 2.1, steps 1-7; the first failure
 * is the answer:
 *   1. body > 16 MiB                          413, empty body
 *   2. GET/HEAD /                             200 "healthy: dynamodb.<region>.amazonaws.com "
 *      GET/HEAD other paths                   404, empty body
 *      OPTIONS with Origin (CORS preflight)   200, empty body
 *   3. not POST, or a non-empty body whose media type is not
 *      application/x-amz-json-1.0 / application/json
 *                                             404 "<UnknownOperationException/>\n"
 *   4. non-empty body not a JSON object       400 SerializationException (no message)
 *   5. X-Amz-Target missing or unknown        400 UnknownOperationException
 *   6. authentication present (not verified)  400 MissingAuthenticationToken /
 *                                                 IncompleteSignature / InvalidSignature
 *   7. empty body                             400 SerializationException
 * then router.c dispatches to the handler. Paths starting with "/v1/" (the
 * plain-JSON face, rest.c) leave this pipeline at step 1, whatever their
 * method (except a CORS preflight, answered as in step 2; a body over
 * 16 MiB is a 413 PayloadTooLarge JSON error): rest.c's df_rest_handle()
 * is their handler. It sees the request-target as sent (percent-encoded,
 * query string included: libmicrohttpd's URI log callback keeps it, since
 * the path MHD hands the access handler is already decoded, "%2F" made a
 * '/') and answers with an MHD response of its own through
 * df_rest_reply(), which goes through the same durable-reply and
 * answer-later machinery as the DynamoDB face's replies (below), and is
 * queued with x-amzn-RequestId, Access-Control-Allow-Origin and
 * Connection: close as below.
 *
 * Every response carries Content-Type (application/x-amz-json-1.0, or
 * application/json when the request used it), Content-Length and Date (from
 * MHD), x-amzn-RequestId and x-amz-crc32 (the CRC-32 of the exact body, as
 * zlib defines it; libdeflate computes it with carry-less multiplication);
 * with an Origin header also the CORS headers of protocol.md 10.
 *
 * A request's state (df_conn) is MHD's per-request pointer. Everything the
 * request allocated -- the body buffer, the parsed JSON, the dv_arena the
 * handler used, an unsent reply -- is freed in one place, df_http_completed(),
 * after MHD has sent the response (or dropped the connection).
 *
 * Durable replies: a handler's reply may carry an LSN not yet fsynced. The
 * reply is serialised at once, the connection is suspended and parked in
 * commit.c; when the LSN is durable the connection is resumed, MHD calls the
 * access handler again, and the prepared reply is queued. MHD only accepts a
 * response from inside the access handler, hence this dance.
 *
 * Replies given later: a handler that calls df_req_later() returns without a
 * reply; the connection is suspended the same way (and counted in
 * h->suspended, so shutdown waits for it) until the reply comes from a loop
 * callback -- a sliced page -- or df_req_rerun() runs the handler again
 * from scratch -- a write that waited for a page (server/pages.c). The
 * reply then resumes the connection, or leaves it suspended for its flush.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libdeflate.h>

#include "server/server_int.h"

#define CT_AMZ "application/x-amz-json-1.0"
#define CT_JSON "application/json"
#define UNKNOWN_OP_XML "<UnknownOperationException/>\n"
#define INTERNAL_MSG "The server encountered an internal error trying to fulfill the request."
/* Grow the body buffer by at most this much ahead of the data. */
#define BODY_PREALLOC_MAX ((size_t)1024 * 1024)

typedef enum { M_GET, M_HEAD, M_POST, M_OPTIONS, M_OTHER } http_method;

/* State of one request (MHD's con_cls). */
typedef struct df_conn {
  df_http *h;                      /* transport */
  struct MHD_Connection *mc;       /* MHD's connection */
  http_method method;              /* request method */
  char path[64];                   /* request path (truncated), for the access log */
  char *url;                       /* a /v1/ request's target as sent (rest.c), malloc'd; NULL otherwise */
  int fresh;                       /* 1: made by the URI log callback, headers not seen yet */
  int counted;                     /* 1: counted in h->inflight */
  char mname[16];                  /* request method (truncated), for rest.c's reruns */
  struct MHD_Response *rresp;      /* a /v1/ reply not yet queued (rest.c's), owned */
  char rid[DF_REQUEST_ID_LEN + 1]; /* x-amzn-RequestId */
  uint64_t t0;                     /* uv_hrtime() when the headers arrived */
  char *body;                      /* request body, malloc'd, NULL while empty */
  size_t body_len;                 /* bytes received */
  size_t body_cap;                 /* bytes allocated */
  int too_big;                     /* 1: body passed DF_MAX_BODY (rest discarded) */
  int ctype_json;                  /* 1: request Content-Type was application/json */
  int origin;                      /* 1: request had an Origin header (CORS) */
  int preflight;                   /* 1: the answer is a CORS preflight */
  json_t *json;                    /* parsed body, owned */
  dv_arena *arena;                 /* handler's request-scoped memory, owned */
  df_req req;                      /* what the handler sees */
  int in_handler;                  /* 1 while the handler runs */
  int replied;                     /* 1: the reply below is ready */
  int status;                      /* HTTP status of the reply */
  char *resp;                      /* reply body, malloc'd (NULL = empty) */
  size_t resp_len;                 /* bytes in resp */
  const char *resp_static;         /* reply body when constant (health, 404 XML) */
  int queued;                      /* 1: handed to MHD */
  int suspended;                   /* 1: connection suspended (waiting for a flush, or answered later) */
  int later;                       /* 1: the handler answers later (df_req_later), not yet replied */
  df_waiter waiter;                /* commit.c's hook */
} df_conn;

#define CONN_OF_WAITER(w) ((df_conn *)((char *)(w)-offsetof(df_conn, waiter)))

/* ---- request arenas ------------------------------------------------------ */

dv_arena *df_arena_take(df_server *s) {
  if (s->n_spare_arenas > 0) return s->spare_arenas[--s->n_spare_arenas];
  return dv_arena_new();
}

void df_arena_give(df_server *s, dv_arena *a) {
  if (a == NULL) return;
  if (s->n_spare_arenas == DF_SPARE_ARENAS) {
    dv_arena_free(a);
    return;
  }
  dv_arena_reset(a);
  s->spare_arenas[s->n_spare_arenas++] = a;
}

void df_arenas_free(df_server *s) {
  while (s->n_spare_arenas > 0) dv_arena_free(s->spare_arenas[--s->n_spare_arenas]);
}

/* ---- request ids --------------------------------------------------------- */

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman & Vigna): fast, good enough for opaque ids. */
static uint64_t rng_next(uint64_t s[4]) {
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* Fill id with DF_REQUEST_ID_LEN chars of [0-9A-Z] and a NUL. */
static void request_id(df_http *h, char *id) {
  static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (int i = 0; i < DF_REQUEST_ID_LEN; i += 8) {
    uint64_t r = rng_next(h->rng);
    for (int j = 0; j < 8 && i + j < DF_REQUEST_ID_LEN; j++, r >>= 8) id[i + j] = alphabet[(r & 0xff) % 36];
  }
  id[DF_REQUEST_ID_LEN] = '\0';
}

/* ---- replies ------------------------------------------------------------- */

static void set_reply(df_conn *c, int status, char *body, size_t len) {
  free(c->resp);
  c->status = status;
  c->resp = body;
  c->resp_len = body != NULL ? len : 0;
  c->resp_static = NULL;
  c->replied = 1;
}

static void set_reply_static(df_conn *c, int status, const char *body) {
  set_reply(c, status, NULL, 0);
  c->resp_static = body;
  c->resp_len = body != NULL ? strlen(body) : 0;
}

static void set_error(df_conn *c, p_errcode code, const char *msg) {
  p_error e;
  p_error_init(&e);
  if (msg != NULL)
    p_error_set(&e, code, "%s", msg);
  else
    p_error_set(&e, code, NULL);
  size_t len = 0;
  char *body = p_error_body(&e, &len);
  set_reply(c, p_error_status(code), body, len);
  p_error_clear(&e);
}

/* A /v1/ request's reply becomes a 500 InternalError. */
static void set_rest_internal(df_conn *c) {
  if (c->rresp != NULL) MHD_destroy_response(c->rresp);
  c->rresp = df_rest_error("InternalError", INTERNAL_MSG);
  c->status = 500;
  c->replied = 1;
}

static void on_durable(df_waiter *w, int status) {
  df_conn *c = CONN_OF_WAITER(w);
  df_http *h = c->h;
  if (status != ST_OK) {
    df_log(h->srv, DF_LOG_ERROR, "request %s: reply not durable (%s); answering 500", c->rid,
           st_strerror(status));
    if (c->url != NULL)
      set_rest_internal(c);
    else
      set_error(c, P_INTERNAL, INTERNAL_MSG);
  }
  c->suspended = 0;
  h->suspended--;
  MHD_resume_connection(c->mc);
  df_loop_wake(h->srv);
}

/* Hold the reply until wait_lsn is durable. A connection already suspended
 * (a reply given after the handler returned, df_req_later) is resumed at
 * once or left suspended for the flush. */
static void hold_reply(df_conn *c, uint64_t wait_lsn) {
  df_server *s = c->h->srv;
  c->later = 0;
  if (wait_lsn == 0 || wait_lsn <= st_durable_lsn(s->db)) {
    if (c->suspended) {
      c->suspended = 0;
      c->h->suspended--;
      MHD_resume_connection(c->mc);
      df_loop_wake(s);
    }
    return;
  }
  if (!c->suspended) {
    c->suspended = 1;
    c->h->suspended++;
    MHD_suspend_connection(c->mc);
  }
  c->waiter.done = on_durable;
  df_commit_wait(s, &c->waiter, wait_lsn);
}

const char *df_req_header(const df_req *r, const char *name) {
  const df_conn *c = (const df_conn *)r->conn;
  return MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, name);
}

static df_conn *reply_target(df_req *r) {
  df_conn *c = (df_conn *)r->conn;
  if (c->replied || !(c->in_handler || c->later) || c->url != NULL) {
    df_log(r->srv, DF_LOG_ERROR, "request %s: %s handler replied %s; reply dropped", c->rid, p_op_name(r->op),
           c->url != NULL ? "to a /v1/ request with a DynamoDB reply"
           : c->replied   ? "twice"
                          : "after returning");
    return NULL;
  }
  return c;
}

/* A 200 reply with body text (owned, malloc'd; NULL = could not be
 * serialised: answer 500 instead). */
static void reply_body(df_req *r, df_conn *c, char *text, size_t len, uint64_t wait_lsn) {
  if (text == NULL) {
    df_log(r->srv, DF_LOG_ERROR, "request %s: cannot serialise the %s reply", c->rid, p_op_name(r->op));
    set_error(c, P_INTERNAL, INTERNAL_MSG);
    hold_reply(c, 0); /* nothing was promised durable */
    return;
  }
  set_reply(c, 200, text, len);
  hold_reply(c, wait_lsn);
}

void df_reply_json(df_req *r, json_t *body, uint64_t wait_lsn) {
  df_conn *c = reply_target(r);
  if (c == NULL) {
    json_decref(body);
    return;
  }
  /* 15 significant digits print epoch-second timestamps like AWS does
   * (1700000000.123, not 1700000000.1229999). */
  char *text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
  json_decref(body);
  reply_body(r, c, text, text != NULL ? strlen(text) : 0, wait_lsn);
}

void df_reply_text(df_req *r, char *body, size_t len, uint64_t wait_lsn) {
  df_conn *c = reply_target(r);
  if (c == NULL) {
    free(body);
    return;
  }
  reply_body(r, c, body, len, wait_lsn);
}

void df_reply_error(df_req *r, p_error *e, uint64_t wait_lsn) {
  df_conn *c = reply_target(r);
  if (c == NULL) {
    p_error_clear(e);
    return;
  }
  if (e->code == P_OK || e->code >= P_ERRCODE_COUNT) {
    df_log(r->srv, DF_LOG_ERROR, "request %s: %s handler replied with error code %d", c->rid,
           p_op_name(r->op), (int)e->code);
    p_error_clear(e);
    set_error(c, P_INTERNAL, INTERNAL_MSG);
    hold_reply(c, 0);
    return;
  }
  if (e->code == P_INTERNAL || e->code == P_UNAVAILABLE)
    df_log(r->srv, DF_LOG_ERROR, "request %s: %s: %s", c->rid, p_op_name(r->op),
           e->msg != NULL ? e->msg : "(no message)");
  size_t len = 0;
  char *body = p_error_body(e, &len);
  int status = p_error_status(e->code);
  p_error_clear(e);
  set_reply(c, status, body, len);
  hold_reply(c, wait_lsn);
}

/* ---- answering later --------------------------------------------------------- */

void df_req_later(df_req *r) {
  df_conn *c = (df_conn *)r->conn;
  if (!c->in_handler || c->replied || c->later) {
    df_log(r->srv, DF_LOG_ERROR, "request %s: df_req_later outside a handler or after a reply", c->rid);
    return;
  }
  c->later = 1;
}

/* After the handler returned: suspend the connection of a request that is
 * answered later, or make sure one that is not has a reply. */
static void after_handler(df_conn *c) {
  if (c->later) {
    if (!c->suspended) {
      c->suspended = 1;
      c->h->suspended++;
      MHD_suspend_connection(c->mc);
    }
    return;
  }
  if (!c->replied) {
    df_log(c->h->srv, DF_LOG_ERROR, "request %s: %s handler did not reply", c->rid,
           c->url != NULL ? "REST" : p_op_name(c->req.op));
    if (c->url != NULL)
      set_rest_internal(c);
    else
      set_error(c, P_INTERNAL, INTERNAL_MSG);
    hold_reply(c, 0);
  }
}

/* Run rest.c's handler (again). */
static void rest_dispatch(df_conn *c) {
  df_rest_handle(&c->req, c->mc, c->mname, c->url, c->body, c->body_len);
}

void df_req_rerun(df_req *r) {
  df_conn *c = (df_conn *)r->conn;
  if (!c->later || c->replied || c->in_handler) {
    df_log(r->srv, DF_LOG_ERROR, "request %s: df_req_rerun of a request not waiting", c->rid);
    return;
  }
  /* From scratch: a fresh arena; the parsed body is unchanged (a /v1/
   * handler's own r->body is dropped: it builds it again). */
  dv_arena_reset(c->arena);
  c->req.arena = c->arena;
  c->later = 0;
  c->in_handler = 1;
  if (c->url != NULL) {
    json_decref(c->req.body);
    c->req.body = NULL;
    rest_dispatch(c);
  } else {
    df_router_dispatch(&c->req);
  }
  c->in_handler = 0;
  after_handler(c);
}

/* Hand the prepared reply to MHD with the headers every response carries. */
static enum MHD_Result queue_reply(df_conn *c) {
  df_server *s = c->h->srv;
  struct MHD_Response *resp;
  const void *body = c->resp != NULL ? (const void *)c->resp : (const void *)c->resp_static;
  if (body == NULL) body = "";
  uint32_t crc = libdeflate_crc32(0, body, c->resp_len);
  if (c->resp != NULL) {
    resp = MHD_create_response_from_buffer(c->resp_len, c->resp, MHD_RESPMEM_MUST_FREE);
    if (resp != NULL) c->resp = NULL; /* MHD frees it */
  } else {
    resp = MHD_create_response_from_buffer(c->resp_len, (void *)body, MHD_RESPMEM_PERSISTENT);
  }
  if (resp == NULL) return MHD_NO; /* out of memory: drop the connection */
  char crcbuf[16], *d = crcbuf + sizeof crcbuf; /* decimal, as DynamoDB sends it */
  *--d = '\0';
  do *--d = (char)('0' + crc % 10);
  while ((crc /= 10) != 0);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, c->ctype_json ? CT_JSON : CT_AMZ);
  MHD_add_response_header(resp, "x-amzn-RequestId", c->rid);
  MHD_add_response_header(resp, "x-amz-crc32", d);
  if (c->origin) {
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    if (c->preflight) {
      const char *v = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Access-Control-Request-Headers");
      if (v != NULL) MHD_add_response_header(resp, "Access-Control-Allow-Headers", v);
      v = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Access-Control-Request-Method");
      if (v != NULL) MHD_add_response_header(resp, "Access-Control-Allow-Methods", v);
      MHD_add_response_header(resp, "Access-Control-Max-Age", "172800");
    } else {
      MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                              "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date");
    }
  }
  /* Shutting down: this is the connection's last request. After an early
   * 413 the unread body makes MHD close it anyway. */
  if (s->stopping || c->too_big) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result ret = MHD_queue_response(c->mc, (unsigned)c->status, resp);
  MHD_destroy_response(resp);
  c->queued = 1;
  if (ret != MHD_YES) df_log(s, DF_LOG_ERROR, "request %s: MHD refused the response", c->rid);
  return ret;
}

void df_rest_reply(df_req *r, struct MHD_Response *resp, unsigned status, uint64_t wait_lsn) {
  df_conn *c = (df_conn *)r->conn;
  if (c->url == NULL || c->replied || !(c->in_handler || c->later)) {
    df_log(r->srv, DF_LOG_ERROR, "request %s: REST reply %s; dropped", c->rid,
           c->url == NULL ? "to a DynamoDB request"
           : c->replied   ? "given twice"
                          : "after the handler returned");
    if (resp != NULL) MHD_destroy_response(resp);
    return;
  }
  c->rresp = resp; /* NULL: out of memory, the connection is dropped */
  c->status = (int)status;
  c->replied = 1;
  hold_reply(c, resp != NULL ? wait_lsn : 0);
}

/* A /v1/ request: set up its df_req and run rest.c's handler. */
static void rest_process(df_conn *c, const char *method) {
  snprintf(c->mname, sizeof c->mname, "%s", method);
  c->arena = df_arena_take(c->h->srv);
  c->req.srv = c->h->srv;
  c->req.body = NULL;
  c->req.arena = c->arena;
  c->req.request_id = c->rid;
  c->req.conn = (struct df_conn *)c;
  c->in_handler = 1;
  rest_dispatch(c);
  c->in_handler = 0;
  after_handler(c);
}

/* Queue rest.c's response (NULL: drop the connection). */
static enum MHD_Result rest_queue(df_conn *c) {
  df_server *s = c->h->srv;
  struct MHD_Response *resp = c->rresp;
  c->rresp = NULL;
  c->queued = 1;
  if (resp == NULL) return MHD_NO;
  MHD_add_response_header(resp, "x-amzn-RequestId", c->rid);
  if (c->origin) {
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", "ETag,Location,x-amzn-RequestId");
  }
  if (s->stopping || c->too_big) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result ret = MHD_queue_response(c->mc, (unsigned)c->status, resp);
  MHD_destroy_response(resp);
  if (ret != MHD_YES) df_log(s, DF_LOG_ERROR, "request %s: MHD refused the response", c->rid);
  return ret;
}

/* A /v1/ body over DF_MAX_BODY. */
static enum MHD_Result rest_too_big(df_conn *c) {
  char msg[96];
  snprintf(msg, sizeof msg, "The request body exceeds %zu bytes.", DF_MAX_BODY);
  c->rresp = df_rest_error("PayloadTooLarge", msg);
  c->status = 413;
  c->replied = 1;
  return rest_queue(c);
}

/* ---- the pipeline -------------------------------------------------------- */

/* Media type of a Content-Type value, parameters after ';' ignored. */
static int media_type_is(const char *ct, const char *want) {
  while (*ct == ' ' || *ct == '\t') ct++;
  size_t n = strcspn(ct, ";");
  while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
  return n == strlen(want) && strncasecmp(ct, want, n) == 0;
}

/* Does the Authorization header have a non-empty `name=` parameter? The
 * header is split on ',' and ' ' after the algorithm, like dynalite. */
static int auth_has_param(const char *hdr, const char *name) {
  size_t nlen = strlen(name);
  const char *p = hdr + strcspn(hdr, ", "); /* skip the algorithm */
  while (*p != '\0') {
    p += strspn(p, ", ");
    size_t tlen = strcspn(p, ", ");
    if (tlen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=' && nlen + 1 < tlen && p[nlen + 1] != '=')
      return 1;
    p += tlen;
  }
  return 0;
}

static int has_value(struct MHD_Connection *mc, enum MHD_ValueKind kind, const char *name) {
  const char *v = MHD_lookup_connection_value(mc, kind, name);
  return v != NULL && v[0] != '\0';
}

/* Step 6 (protocol.md 7): credentials must be present and well-formed; the
 * signature itself is not verified. Sets *e on failure. */
static int check_auth(df_conn *c, p_error *e) {
  struct MHD_Connection *mc = c->mc;
  const char *auth = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  const char *qv = NULL;
  size_t qlen = 0;
  int query = MHD_lookup_connection_value_n(mc, MHD_GET_ARGUMENT_KIND, "X-Amz-Algorithm",
                                            strlen("X-Amz-Algorithm"), &qv, &qlen) == MHD_YES;
  if (auth != NULL && query)
    return p_error_set(
        e, P_INVALID_SIGNATURE,
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.");
  if ((auth == NULL && !query) || (auth != NULL && strncmp(auth, "AWS4-", 5) != 0))
    return p_error_set(e, P_MISSING_AUTH, "Request is missing Authentication Token");
  char msg[1024];
  size_t n = 0;
  msg[0] = '\0';
#define ADD(...) (n += (size_t)snprintf(msg + n, n < sizeof msg ? sizeof msg - n : 0, __VA_ARGS__))
  if (auth != NULL) {
    static const char *const params[] = {"Credential", "Signature", "SignedHeaders"};
    for (int i = 0; i < 3; i++)
      if (!auth_has_param(auth, params[i])) ADD("Authorization header requires '%s' parameter. ", params[i]);
    if (!has_value(mc, MHD_HEADER_KIND, "X-Amz-Date") &&
        !has_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_DATE))
      ADD("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    if (n == 0) return 0;
    return p_error_set(e, P_INCOMPLETE_SIGNATURE, "%sAuthorization=%s", msg, auth);
  }
  static const char *const qparams[] = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature",
                                        "X-Amz-SignedHeaders", "X-Amz-Date"};
  for (int i = 0; i < 5; i++)
    if (!has_value(mc, MHD_GET_ARGUMENT_KIND, qparams[i]))
      ADD("AWS query-string parameters must include '%s'. ", qparams[i]);
#undef ADD
  if (n == 0) return 0;
  return p_error_set(e, P_INCOMPLETE_SIGNATURE, "%sRe-examine the query-string parameters.", msg);
}

static void reply_p_error(df_conn *c, p_error *e) {
  size_t len = 0;
  char *body = p_error_body(e, &len);
  set_reply(c, p_error_status(e->code), body, len);
  p_error_clear(e);
}

/* Steps 1-7, then the handler. Leaves a reply prepared (c->replied) unless
 * the connection was suspended. */
static void process(df_conn *c) {
  df_server *s = c->h->srv;
  struct MHD_Connection *mc = c->mc;
  p_error e;
  p_error_init(&e);

  if (c->too_big) { /* 1 */
    set_reply(c, 413, NULL, 0);
    return;
  }
  if (c->method == M_GET || c->method == M_HEAD) { /* 2 */
    if (strcmp(c->path, "/") == 0) {
      char buf[160];
      int n = snprintf(buf, sizeof buf, "healthy: dynamodb.%s.amazonaws.com ", s->pctx.region);
      char *body = df_xmalloc((size_t)n + 1);
      memcpy(body, buf, (size_t)n + 1);
      set_reply(c, 200, body, (size_t)n);
    } else {
      set_reply(c, 404, NULL, 0);
    }
    return;
  }
  if (c->method == M_OPTIONS && c->origin) {
    c->preflight = 1;
    set_reply(c, 200, NULL, 0);
    return;
  }
  const char *ct = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  c->ctype_json = ct != NULL && media_type_is(ct, CT_JSON);
  if (c->method != M_POST ||
      (c->body_len > 0 && (ct == NULL || !(c->ctype_json || media_type_is(ct, CT_AMZ))))) { /* 3 */
    set_reply_static(c, 404, UNKNOWN_OP_XML);
    return;
  }
  if (c->body_len > 0) { /* 4 */
    /* jansson's json_loadb(JSON_ALLOW_NUL), 4-7 times faster: \u0000 inside
     * strings is legal JSON and DynamoDB stores it; protocol/ reads string
     * values with their lengths. */
    c->json = p_json_parse(c->body, c->body_len);
    if (c->json == NULL || !json_is_object(c->json)) {
      set_error(c, P_SERIALIZATION, NULL);
      return;
    }
  }
  const char *target = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "X-Amz-Target");
  p_op op = target != NULL ? p_op_from_target(target) : P_OP_NONE;
  if (op == P_OP_NONE) { /* 5 */
    set_error(c, P_UNKNOWN_OPERATION, NULL);
    return;
  }
  c->req.op = op;
  if (check_auth(c, &e) != 0) { /* 6 */
    reply_p_error(c, &e);
    return;
  }
  if (c->json == NULL) { /* 7 */
    set_error(c, P_SERIALIZATION, NULL);
    return;
  }
  /* The body text is no longer needed: give its memory back early. */
  free(c->body);
  c->body = NULL;
  c->body_cap = 0;
  c->arena = df_arena_take(s);
  c->req.srv = s;
  c->req.body = c->json;
  c->req.arena = c->arena;
  c->req.request_id = c->rid;
  c->req.conn = (struct df_conn *)c;
  c->in_handler = 1;
  df_router_dispatch(&c->req);
  c->in_handler = 0;
  after_handler(c);
}

static http_method method_of(const char *m) {
  if (strcmp(m, MHD_HTTP_METHOD_POST) == 0) return M_POST;
  if (strcmp(m, MHD_HTTP_METHOD_GET) == 0) return M_GET;
  if (strcmp(m, MHD_HTTP_METHOD_HEAD) == 0) return M_HEAD;
  if (strcmp(m, MHD_HTTP_METHOD_OPTIONS) == 0) return M_OPTIONS;
  return M_OTHER;
}

/* Append upload data, never holding more than DF_MAX_BODY bytes. */
static void take_body(df_conn *c, const char *data, size_t n) {
  if (c->too_big) return;
  if (n > DF_MAX_BODY - c->body_len) {
    c->too_big = 1;
    free(c->body);
    c->body = NULL;
    c->body_len = c->body_cap = 0;
    return;
  }
  size_t need = c->body_len + n;
  if (need > c->body_cap) {
    size_t cap = c->body_cap < 4096 ? 4096 : c->body_cap;
    while (cap < need) cap *= 2;
    if (cap > DF_MAX_BODY) cap = DF_MAX_BODY;
    c->body = df_xrealloc(c->body, cap);
    c->body_cap = cap;
  }
  memcpy(c->body + c->body_len, data, n);
  c->body_len = need;
}

void *df_http_uri_log(void *cls, const char *uri, struct MHD_Connection *mc) {
  (void)cls;
  (void)mc;
  if (uri == NULL || strncmp(uri, "/v1/", 4) != 0) return NULL;
  df_conn *c = df_xcalloc(1, sizeof *c);
  size_t ulen = strlen(uri) + 1;
  c->url = df_xmalloc(ulen);
  memcpy(c->url, uri, ulen);
  c->fresh = 1;
  return c;
}

enum MHD_Result df_http_access(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **con_cls) {
  df_http *h = cls;
  df_conn *c = *con_cls;
  (void)version;
  if (c == NULL || c->fresh) { /* headers have arrived */
    if (c == NULL) c = df_xcalloc(1, sizeof *c);
    c->fresh = 0;
    c->counted = 1;
    c->h = h;
    c->mc = mc;
    c->t0 = uv_hrtime();
    c->method = method_of(method);
    snprintf(c->path, sizeof c->path, "%s", url);
    if (c->url == NULL && strncmp(url, "/v1/", 4) == 0) { /* no URI log: the decoded path */
      size_t ulen = strlen(url) + 1;
      c->url = df_xmalloc(ulen);
      memcpy(c->url, url, ulen);
    }
    request_id(h, c->rid);
    c->origin = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Origin") != NULL;
    *con_cls = c;
    h->inflight++;
    const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
      char *end;
      unsigned long long len = strtoull(cl, &end, 10);
      if (len > DF_MAX_BODY) { /* step 1, before reading a byte of it */
        c->too_big = 1;
        if (c->url != NULL) return rest_too_big(c);
        set_reply(c, 413, NULL, 0);
        return queue_reply(c);
      }
      if (len > 0) {
        c->body_cap = len < BODY_PREALLOC_MAX ? (size_t)len : BODY_PREALLOC_MAX;
        c->body = df_xmalloc(c->body_cap);
      }
    }
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    take_body(c, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (c->queued) return MHD_YES;
  if (c->url != NULL && !(c->method == M_OPTIONS && c->origin)) {
    if (c->too_big) return rest_too_big(c);
    if (!c->replied) rest_process(c, method);
    if (c->suspended) return MHD_YES; /* resumed by on_durable() or a later reply */
    return rest_queue(c);
  }
  if (!c->replied) process(c);
  if (c->suspended) return MHD_YES; /* resumed by on_durable(); we come back here */
  return queue_reply(c);
}

void df_http_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                       enum MHD_RequestTerminationCode toe) {
  df_http *h = cls;
  df_conn *c = *con_cls;
  (void)mc;
  if (c == NULL) return;
  *con_cls = NULL;
  if (!c->counted) { /* the URI log callback made it; the request never reached us */
    free(c->url);
    free(c);
    return;
  }
  if (df_log_enabled(h->srv, DF_LOG_DEBUG)) {
    static const char *const mnames[] = {"GET", "HEAD", "POST", "OPTIONS", "OTHER"};
    double ms = (double)(uv_hrtime() - c->t0) / 1e6;
    df_log(h->srv, DF_LOG_DEBUG, "%s %s %s %d %zuB %.3fms %s%s", mnames[c->method], c->path,
           c->req.op != P_OP_NONE ? p_op_name(c->req.op) : "-", c->queued ? c->status : 0, c->resp_len, ms,
           c->rid, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed early)");
  }
  if (c->suspended) { /* only if MHD is stopped under a suspended request; main.c prevents it */
    df_log(h->srv, DF_LOG_ERROR, "request %s freed while waiting for a flush", c->rid);
    df_commit_cancel(h->srv, &c->waiter);
    h->suspended--;
  }
  json_decref(c->json);
  if (c->url != NULL) json_decref(c->req.body); /* a /v1/ handler's own (server_int.h) */
  if (c->rresp != NULL) MHD_destroy_response(c->rresp);
  df_arena_give(h->srv, c->arena);
  free(c->body);
  free(c->resp);
  free(c->url);
  free(c);
  h->inflight--;
  h->served++;
}
