/*
 * rest.c -- the plain-JSON face under /v1/ (server_int.h, "rest.c").
 *
 * http.c hands over every request whose path starts with "/v1/", whatever
 * its method, with its body read. For now one resource exists:
 *
 *   /v1/tables/<table>/stream   GET: live change events as server-sent
 *                               events (sse.c); other methods 405
 *
 * Any other /v1/ path is a 404. Errors are JSON objects
 * {"error":{"code":"..","message":".."}} with Content-Type application/json:
 *   404 NotFound          no such resource
 *   404 ResourceNotFound  no such table (sse.c)
 *   405 MethodNotAllowed  (with Allow)
 *   406 NotAcceptable     Accept excludes text/event-stream (sse.c)
 *   409 StreamNotEnabled  the table has no enabled stream (sse.c)
 *   400 ValidationError   bad Last-Event-ID / after / from (sse.c)
 *   503 ServiceUnavailable the server is stopping (sse.c)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"

#define TABLES_PREFIX "/v1/tables/"
#define STREAM_SUFFIX "/stream"

struct MHD_Response *df_rest_error(const char *code, const char *message) {
  json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
  char *text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(j);
  if (text == NULL) return NULL;
  struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  if (resp == NULL) {
    free(text);
    return NULL;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  return resp;
}

/* The <table> of "/v1/tables/<table>/stream" into name (size cap), or 0 if
 * url is not of that form. */
static int stream_path(const char *url, char *name, size_t cap) {
  size_t pl = strlen(TABLES_PREFIX), sl = strlen(STREAM_SUFFIX), len = strlen(url);
  if (len <= pl + sl || strncmp(url, TABLES_PREFIX, pl) != 0 || strcmp(url + len - sl, STREAM_SUFFIX) != 0)
    return 0;
  size_t n = len - pl - sl;
  if (n >= cap || memchr(url + pl, '/', n) != NULL) return 0;
  memcpy(name, url + pl, n);
  name[n] = '\0';
  return 1;
}

struct MHD_Response *df_rest_handle(df_server *s, struct MHD_Connection *mc, const char *method,
                                    const char *url, const char *body, size_t len, unsigned *status) {
  char table[512], msg[160];
  (void)body;
  (void)len;
  if (stream_path(url, table, sizeof table)) {
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
      snprintf(msg, sizeof msg, "Method %.32s is not allowed here; use GET.", method);
      *status = 405;
      struct MHD_Response *resp = df_rest_error("MethodNotAllowed", msg);
      if (resp != NULL) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET");
      return resp;
    }
    return df_sse_subscribe(s, mc, table, status);
  }
  snprintf(msg, sizeof msg, "No such resource: %.120s", url);
  *status = 404;
  return df_rest_error("NotFound", msg);
}
