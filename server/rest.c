/*
 * rest.c -- the plain-JSON face under /v1/ (docs/REST.md; server_int.h,
 * "rest.c"): the router, access control, request parsing helpers, errors,
 * and the table resources. The item resources are rest_items.c's, the
 * change stream sse.c's, the OpenAPI document openapi.c's.
 *
 *   /v1/openapi.json                      GET     the OpenAPI 3.1 document
 *   /v1/tables                            GET     list tables; POST create one
 *   /v1/tables/<t>                        GET     describe; DELETE drop
 *   /v1/tables/<t>/stream                 GET     change events (sse.c)
 *   /v1/tables/<t>/items                  GET     scan / NDJSON export; PUT put an item
 *   /v1/tables/<t>/items:batch            POST    NDJSON import
 *   /v1/tables/<t>/items/<pk>[/<sk>]      GET, PATCH, DELETE one item; GET on <pk>
 *                                                 alone of a table with a sort key (or
 *                                                 with ?index=<name>, of any table):
 *                                                 the item collection
 *
 * A table resource lists the table's secondary indexes ("indexes": name,
 * type, keys, projection, status, live counts) when it has any; they are
 * made with the DynamoDB face.
 *
 * One implementation, two faces: every request goes through the DynamoDB
 * face's validation (table names, key schemas, values, expressions: same
 * checks, same messages) and the same shared functions (df_table_create,
 * df_table_delete, df_ttl_update, df_item_read, df_run_page, st_write);
 * a REST request is a df_req like any other, so its answer waits for its
 * LSN to be durable, and a write to a table with a sliced page in progress
 * is parked and run again after it (df_wait_tables), exactly as on the
 * DynamoDB face.
 *
 * Errors are {"error":{"code":"..","message":".."}} (application/json):
 *   400 ValidationError   what the DynamoDB face answers with ValidationException (same message)
 *   400 BadRequest        malformed JSON / NDJSON line, bad query parameter or path segment
 *   401 Unauthorized      --rest-token set, Authorization: Bearer <token> missing or wrong
 *   404 NotFound / ResourceNotFound / ItemNotFound
 *   405 MethodNotAllowed  (with Allow)
 *   409 ResourceInUse / StreamNotEnabled
 *   412 PreconditionFailed
 *   413 PayloadTooLarge   (http.c)
 *   415 UnsupportedMediaType
 *   500 InternalError, 503 ServiceUnavailable
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server_int.h"

/* ---- responses and errors ------------------------------------------------------ */

struct MHD_Response *rest_json_response(char *text, size_t len) {
  if (text == NULL) return NULL;
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
  if (resp == NULL) {
    free(text);
    return NULL;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  return resp;
}

/* {"error":{"code":..,"message":..}} text (malloc'd). */
static char *error_text(const char *code, const char *message, size_t *len) {
  p_buf b;
  p_buf_init(&b);
  p_buf_puts(&b, "{\"error\":{\"code\":");
  p_write_json_string(&b, code, strlen(code));
  p_buf_puts(&b, ",\"message\":");
  p_write_json_string(&b, message, strlen(message));
  p_buf_puts(&b, "}}");
  return p_buf_steal(&b, len);
}

struct MHD_Response *df_rest_error(const char *code, const char *message) {
  size_t len = 0;
  char *text = error_text(code, message, &len);
  return rest_json_response(text, len);
}

void rest_send(df_rest *x, struct MHD_Response *resp, unsigned status, uint64_t wait_lsn) {
  df_rest_reply(x->r, resp, status, wait_lsn);
}

void rest_fail(df_rest *x, uint64_t wait_lsn, unsigned status, const char *code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct MHD_Response *resp = df_rest_error(code, msg);
  if (resp != NULL && status == 405) {
    /* The message names the methods allowed: "... use GET, PUT." */
    const char *use = strstr(msg, "; use ");
    if (use != NULL) {
      char allow[64];
      snprintf(allow, sizeof allow, "%s", use + 6);
      size_t n = strlen(allow);
      if (n > 0 && allow[n - 1] == '.') allow[n - 1] = '\0';
      MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    }
  }
  if (resp != NULL && status == 401)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"dynafile\"");
  rest_send(x, resp, status, wait_lsn);
}

void rest_p_error(df_rest *x, p_error *e, uint64_t wait_lsn) {
  unsigned status = 400;
  const char *code = "ValidationError";
  switch (e->code) {
    case P_RESOURCE_NOT_FOUND:
    case P_TABLE_NOT_FOUND:
      status = 404;
      code = "ResourceNotFound";
      break;
    case P_RESOURCE_IN_USE:
      status = 409;
      code = "ResourceInUse";
      break;
    case P_CONDITIONAL_CHECK_FAILED:
      status = 412;
      code = "PreconditionFailed";
      break;
    case P_SERIALIZATION:
      code = "BadRequest";
      break;
    case P_INTERNAL:
      status = 500;
      code = "InternalError";
      break;
    case P_UNAVAILABLE:
      status = 503;
      code = "ServiceUnavailable";
      break;
    default:
      break;
  }
  struct MHD_Response *resp = df_rest_error(code, e->msg != NULL ? e->msg : code);
  p_error_clear(e);
  rest_send(x, resp, status, wait_lsn);
}

void df_rest_reply_text(df_req *r, unsigned status, char *body, size_t len, uint64_t wait_lsn) {
  if (body == NULL) {
    df_rest_reply(r, df_rest_error("InternalError", "The server could not build the answer."), 500, 0);
    return;
  }
  df_rest_reply(r, rest_json_response(body, len), status, wait_lsn);
}

void df_rest_reply_storage_error(df_req *r, int rc, const char *what) {
  df_log(r->srv, DF_LOG_ERROR, "%s failed: %s (%s)", what, st_strerror(rc), st_errname(rc));
  df_rest_reply(r,
                df_rest_error("InternalError",
                              "The server encountered an internal error trying to fulfill the request."),
                500, 0);
}

/* ---- base64url ------------------------------------------------------------------ */

void df_base64url_append(p_buf *b, const void *data, size_t n) {
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const unsigned char *p = data;
  p_buf_reserve(b, (n + 2) / 3 * 4);
  char *d = b->data + b->len;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    *d++ = abc[v >> 18];
    *d++ = abc[(v >> 12) & 63];
    *d++ = abc[(v >> 6) & 63];
    *d++ = abc[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)p[i] << 16;
    *d++ = abc[v >> 18];
    *d++ = abc[(v >> 12) & 63];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
    *d++ = abc[v >> 18];
    *d++ = abc[(v >> 12) & 63];
    *d++ = abc[(v >> 6) & 63];
  }
  b->len = (size_t)(d - b->data);
}

/* ---- request parsing ------------------------------------------------------------ */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decode s[0..n) into the arena (plus_space: '+' is a space, as in
 * query strings). NULL if a '%' is not followed by two hex digits. */
static char *pct_decode(dv_arena *a, const char *s, size_t n, int plus_space, size_t *out_len) {
  char *d = dv_arena_alloc(a, n + 1);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      int hi = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
      int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return NULL;
      d[k++] = (char)(hi << 4 | lo);
      i += 2;
    } else if (plus_space && s[i] == '+') {
      d[k++] = ' ';
    } else {
      d[k++] = s[i];
    }
  }
  d[k] = '\0';
  *out_len = k;
  return d;
}

/* Split raw_url into decoded path segments and query arguments. -1 (and a
 * message in msg) for a malformed target. */
static int parse_target(df_rest *x, const char *raw_url, char *msg, size_t cap) {
  dv_arena *a = x->r->arena;
  size_t plen = strcspn(raw_url, "?#");
  const char *p = raw_url + 4, *end = raw_url + plen; /* after "/v1/" */
  x->nseg = 0;
  while (p <= end) {
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *e = slash != NULL ? slash : end;
    if (x->nseg == REST_MAX_SEGS) {
      snprintf(msg, cap, "No such resource: the path has too many segments.");
      return -2;
    }
    size_t n = 0;
    char *seg = pct_decode(a, p, (size_t)(e - p), 0, &n);
    if (seg == NULL) {
      snprintf(msg, cap, "Malformed percent-encoding in the path.");
      return -1;
    }
    x->seg[x->nseg] = seg;
    x->seg_len[x->nseg] = n;
    x->nseg++;
    if (slash == NULL) break;
    p = slash + 1;
  }
  x->nargs = 0;
  if (raw_url[plen] != '?') return 0;
  const char *q = raw_url + plen + 1;
  size_t qlen = strcspn(q, "#");
  size_t cnt = 1;
  for (size_t i = 0; i < qlen; i++) cnt += q[i] == '&';
  x->arg_name = dv_arena_alloc(a, cnt * sizeof *x->arg_name);
  x->arg_val = dv_arena_alloc(a, cnt * sizeof *x->arg_val);
  x->arg_len = dv_arena_alloc(a, cnt * sizeof *x->arg_len);
  const char *qe = q + qlen;
  while (q < qe) {
    const char *amp = memchr(q, '&', (size_t)(qe - q));
    const char *e = amp != NULL ? amp : qe;
    if (e > q) {
      const char *eq = memchr(q, '=', (size_t)(e - q));
      const char *ne = eq != NULL ? eq : e;
      size_t nl = 0, vl = 0;
      char *name = pct_decode(a, q, (size_t)(ne - q), 1, &nl);
      char *val =
          eq != NULL ? pct_decode(a, eq + 1, (size_t)(e - eq - 1), 1, &vl) : dv_arena_strndup(a, "", 0);
      if (name == NULL || val == NULL) {
        snprintf(msg, cap, "Malformed percent-encoding in the query string.");
        return -1;
      }
      x->arg_name[x->nargs] = name;
      x->arg_val[x->nargs] = val;
      x->arg_len[x->nargs] = vl;
      x->nargs++;
    }
    if (amp == NULL) break;
    q = amp + 1;
  }
  return 0;
}

const char *rest_arg(const df_rest *x, const char *name, size_t *len) {
  for (size_t i = 0; i < x->nargs; i++)
    if (strcmp(x->arg_name[i], name) == 0) {
      if (len != NULL) *len = x->arg_len[i];
      return x->arg_val[i];
    }
  return NULL;
}

const char *rest_header(const df_rest *x, const char *name) {
  return MHD_lookup_connection_value(x->mc, MHD_HEADER_KIND, name);
}

int rest_accept_has(const char *accept, const char *type) {
  size_t want = strlen(type);
  for (const char *p = accept; *p != '\0';) {
    p += strspn(p, " \t,");
    size_t tl = strcspn(p, ",;");
    while (tl > 0 && (p[tl - 1] == ' ' || p[tl - 1] == '\t')) tl--;
    if (tl == want && strncasecmp(p, type, tl) == 0) return 1;
    p += strcspn(p, ",");
  }
  return 0;
}

json_t *rest_parse_json(const char *text, size_t len, json_error_t *err) {
  /* Number literals a double would round are read as {"$n": "<literal>"}
   * (protocol.h, p_plain_exact_numbers): plain numbers are exact to
   * DynamoDB's 38 digits, so an item read and written back is unchanged. */
  size_t xlen = 0;
  char *exact = p_plain_exact_numbers(text, len, &xlen);
  const char *in = exact != NULL ? exact : text;
  size_t inlen = exact != NULL ? xlen : len;
  json_t *j = p_json_parse(in, inlen); /* = json_loadb(JSON_ALLOW_NUL), faster */
  if (j == NULL) /* jansson again, for its error text and position (NULL too) */
    json_decref(json_loadb(in, inlen, JSON_ALLOW_NUL, err));
  free(exact);
  return j;
}

json_t *rest_body_object(df_rest *x) {
  if (x->len == 0) {
    rest_fail(x, 0, 400, "BadRequest", "The request needs a JSON body.");
    return NULL;
  }
  json_error_t err;
  json_t *j = rest_parse_json(x->body, x->len, &err);
  if (j == NULL) {
    rest_fail(x, 0, 400, "BadRequest", "Malformed JSON at line %d, column %d: %s", err.line, err.column,
              err.text);
    return NULL;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    rest_fail(x, 0, 400, "BadRequest", "The request body must be a JSON object.");
    return NULL;
  }
  return j;
}

/* Media type of a Content-Type value (parameters after ';' ignored). */
static int media_type_is(const char *ct, const char *want) {
  while (*ct == ' ' || *ct == '\t') ct++;
  size_t n = strcspn(ct, ";");
  while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
  return n == strlen(want) && strncasecmp(ct, want, n) == 0;
}

int rest_media_type_ok(df_rest *x, const char *const *types) {
  const char *ct = rest_header(x, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (ct == NULL || x->len == 0) return 1;
  for (size_t i = 0; types[i] != NULL; i++)
    if (media_type_is(ct, types[i])) return 1;
  char list[160] = "";
  size_t n = 0;
  for (size_t i = 0; types[i] != NULL && n < sizeof list; i++)
    n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? " or " : "", types[i]);
  rest_fail(x, 0, 415, "UnsupportedMediaType", "Content-Type %.80s is not accepted here; send %s.", ct, list);
  return 0;
}

st_table *rest_item_table(df_rest *x, const char *name) {
  st_table *t = df_item_table_find(x->s, name);
  if (t == NULL)
    rest_fail(x, st_last_lsn(x->s->db), 404, "ResourceNotFound",
              "Requested resource not found: Table: %s not found", name);
  return t;
}

/* --rest-token: "Authorization: Bearer <token>", compared in constant time
 * (for a given token length). */
static int token_ok(const char *hdr, const char *token) {
  if (hdr == NULL || strncasecmp(hdr, "Bearer ", 7) != 0) return 0;
  const char *p = hdr + 7;
  while (*p == ' ') p++;
  size_t a = strlen(p), b = strlen(token);
  while (a > 0 && (p[a - 1] == ' ' || p[a - 1] == '\t')) a--;
  volatile unsigned char diff = (unsigned char)(a != b);
  for (size_t i = 0; i < b; i++)
    diff |= (unsigned char)((i < a ? (unsigned char)p[i] : 0) ^ (unsigned char)token[i]);
  return diff == 0;
}

/* ---- tables ------------------------------------------------------------------------ */

/* The "indexes" member of a table resource: [{name, type "global" |
 * "local", partitionKey, sortKey?, projection, include?, status,
 * itemCount, sizeBytes}] in meta order; NULL when t has none. */
static json_t *index_resources(const st_table *t) {
  const p_index *idx;
  size_t n;
  if (df_table_indexes_cached((st_table *)t, &idx, &n) != 0 || n == 0) return NULL;
  static const char *const proj[] = {"KEYS_ONLY", "INCLUDE", "ALL"};
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    const p_index *ix = &idx[i];
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(ix->name));
    json_object_set_new(o, "type", json_string(ix->global ? "global" : "local"));
    json_object_set_new(
        o, "partitionKey",
        json_pack("{s:s,s:s}", "name", ix->key.hash_name, "type", dv_type_name(ix->key.hash_type)));
    if (ix->key.range_name != NULL)
      json_object_set_new(
          o, "sortKey",
          json_pack("{s:s,s:s}", "name", ix->key.range_name, "type", dv_type_name(ix->key.range_type)));
    json_object_set_new(o, "projection", json_string(proj[ix->projection]));
    if (ix->n_include > 0) {
      json_t *inc = json_array();
      for (size_t k = 0; k < ix->n_include; k++) json_array_append_new(inc, json_string(ix->include[k]));
      json_object_set_new(o, "include", inc);
    }
    json_object_set_new(o, "status", json_string(ix->creating ? "CREATING" : "ACTIVE"));
    st_table *st = st_index_find(t, ix->name);
    json_object_set_new(o, "itemCount", json_integer(st != NULL ? (json_int_t)st_table_item_count(st) : 0));
    json_object_set_new(o, "sizeBytes", json_integer(st != NULL ? (json_int_t)st_table_size_bytes(st) : 0));
    json_array_append_new(arr, o);
  }
  return arr;
}

/* The table resource (docs/REST.md): new reference, NULL if its meta is
 * unreadable. status NULL = its current one. */
static json_t *table_resource(df_server *s, const st_table *t, const char *status) {
  const st_table_def *d = st_table_info(t);
  json_t *meta = df_table_meta(t);
  if (meta == NULL) return NULL;
  json_t *o = json_object();
  json_object_set_new(o, "name", json_string(d->name));
  json_object_set_new(o, "partitionKey",
                      json_pack("{s:s,s:s}", "name", d->hash.name, "type", dv_type_name(d->hash.type)));
  if (d->range.name != NULL)
    json_object_set_new(o, "sortKey",
                        json_pack("{s:s,s:s}", "name", d->range.name, "type", dv_type_name(d->range.type)));
  if (status == NULL) status = df_table_is_creating(s, t) ? "CREATING" : "ACTIVE";
  json_object_set_new(o, "status", json_string(status));
  json_object_set_new(o, "itemCount", json_integer((json_int_t)st_table_item_count(t)));
  json_object_set_new(o, "sizeBytes", json_integer((json_int_t)st_table_size_bytes(t)));
  double created = d->created;
  if (created == floor(created))
    json_object_set_new(o, "created", json_integer((json_int_t)created));
  else
    json_object_set_new(o, "created", json_real(created));
  json_t *spec = json_object_get(meta, "StreamSpecification");
  if (spec != NULL && json_is_true(json_object_get(spec, "StreamEnabled"))) {
    json_t *st = json_object();
    json_object_set(st, "viewType", json_object_get(spec, "StreamViewType"));
    json_t *arn = json_object_get(meta, "LatestStreamArn"),
           *label = json_object_get(meta, "LatestStreamLabel");
    if (arn != NULL) json_object_set(st, "arn", arn);
    if (label != NULL) json_object_set(st, "label", label);
    json_object_set_new(o, "stream", st);
  }
  json_t *ttl = json_object_get(json_object_get(meta, "TimeToLive"), "AttributeName");
  if (json_is_string(ttl)) json_object_set(o, "ttlAttribute", ttl);
  json_decref(meta);
  json_t *ixs = index_resources(t);
  if (ixs != NULL) json_object_set_new(o, "indexes", ixs);
  return o;
}

static void send_json(df_rest *x, unsigned status, json_t *j, uint64_t lsn, const char *location) {
  char *text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) : NULL;
  json_decref(j);
  if (text == NULL) {
    rest_fail(x, 0, 500, "InternalError", "The server could not build the answer.");
    return;
  }
  struct MHD_Response *resp = rest_json_response(text, strlen(text));
  if (resp != NULL && location != NULL) MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
  rest_send(x, resp, status, lsn);
}

static void storage_fail(df_rest *x, int rc, const char *what) {
  df_rest_reply_storage_error(x->r, rc, what);
}

/* A positive integer query argument lo..hi (absent: def). -1 = answered. */
static int int_arg(df_rest *x, const char *name, long lo, long hi, long def, long *out) {
  const char *v = rest_arg(x, name, NULL);
  *out = def;
  if (v == NULL) return 0;
  char *end;
  long n = strtol(v, &end, 10);
  if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
    rest_fail(x, 0, 400, "BadRequest", "Invalid %s: '%.40s' (expected an integer from %ld to %ld).", name, v,
              lo, hi);
    return -1;
  }
  *out = n;
  return 0;
}

/* GET /v1/tables[?limit=N&cursor=<last name>] */
static void list_tables(df_rest *x) {
  long limit;
  if (int_arg(x, "limit", 1, 1000, 0, &limit)) return;
  const char *after = rest_arg(x, "cursor", NULL);
  if (after != NULL && after[0] == '\0') after = NULL;
  json_t *names = json_array();
  int more = 0;
  char last[1024] = "";
  for (;;) {
    st_table *ts[64];
    size_t want = 64;
    if (limit > 0 && (size_t)limit - json_array_size(names) < want)
      want = (size_t)limit - json_array_size(names);
    size_t n = st_table_list(x->s->db, df_default_ns, after, ts, want, &more);
    for (size_t i = 0; i < n; i++) json_array_append_new(names, json_string(st_table_info(ts[i])->name));
    if (n > 0) {
      snprintf(last, sizeof last, "%s", st_table_info(ts[n - 1])->name);
      after = last;
    }
    if (n == 0 || !more || (limit > 0 && json_array_size(names) >= (size_t)limit)) break;
  }
  json_t *o = json_object();
  json_object_set_new(o, "tables", names);
  if (more && limit > 0 && last[0] != '\0') json_object_set_new(o, "cursor", json_string(last));
  send_json(x, 200, o, st_last_lsn(x->s->db), NULL);
}

/* One {"name":..,"type":..} key member of a create body into the DynamoDB
 * KeySchema / AttributeDefinitions. -1 = answered. */
static int key_member(df_rest *x, const json_t *k, const char *member, const char *key_type, json_t *schema,
                      json_t *defs) {
  const json_t *name = json_object_get(k, "name"), *type = json_object_get(k, "type");
  if (!json_is_object(k) || !json_is_string(name) || !json_is_string(type) || json_object_size(k) != 2) {
    rest_fail(x, 0, 400, "BadRequest",
              "%s must be an object {\"name\": <attribute name>, \"type\": \"S\"|\"N\"|\"B\"}.", member);
    return -1;
  }
  json_array_append_new(schema, json_pack("{s:O,s:s}", "AttributeName", name, "KeyType", key_type));
  json_array_append_new(defs, json_pack("{s:O,s:O}", "AttributeName", name, "AttributeType", type));
  return 0;
}

/* POST /v1/tables */
static void create_table(df_rest *x) {
  static const char *const types[] = {"application/json", NULL};
  if (!rest_media_type_ok(x, types)) return;
  json_t *in = rest_body_object(x);
  if (in == NULL) return;
  df_server *s = x->s;
  json_t *ddb = NULL, *ttl_body = NULL;
  const char *key;
  json_t *v;
  json_object_foreach(in, key, v) {
    if (strcmp(key, "name") && strcmp(key, "partitionKey") && strcmp(key, "sortKey") &&
        strcmp(key, "stream") && strcmp(key, "ttlAttribute")) {
      rest_fail(x, 0, 400, "BadRequest",
                "Unknown member '%.64s' (expected name, partitionKey, sortKey, stream, ttlAttribute).", key);
      goto done;
    }
  }
  const json_t *name = json_object_get(in, "name"), *pk = json_object_get(in, "partitionKey");
  const json_t *sk = json_object_get(in, "sortKey"), *stream = json_object_get(in, "stream");
  const json_t *ttl = json_object_get(in, "ttlAttribute");
  if (!json_is_string(name)) {
    rest_fail(x, 0, 400, "BadRequest", "name (a string) is required.");
    goto done;
  }
  if (pk == NULL) {
    rest_fail(x, 0, 400, "BadRequest", "partitionKey is required.");
    goto done;
  }
  if ((stream != NULL && !json_is_string(stream)) || (ttl != NULL && !json_is_string(ttl))) {
    rest_fail(x, 0, 400, "BadRequest", "%s must be a string.",
              stream != NULL && !json_is_string(stream) ? "stream" : "ttlAttribute");
    goto done;
  }
  /* The same CreateTable the DynamoDB face parses (same checks, messages). */
  json_t *schema = json_array(), *defs = json_array();
  ddb = json_pack("{s:O,s:o,s:o,s:s}", "TableName", name, "KeySchema", schema, "AttributeDefinitions", defs,
                  "BillingMode", "PAY_PER_REQUEST");
  if (key_member(x, pk, "partitionKey", "HASH", schema, defs)) goto done;
  if (sk != NULL && key_member(x, sk, "sortKey", "RANGE", schema, defs)) goto done;
  if (stream != NULL)
    json_object_set_new(ddb, "StreamSpecification",
                        json_pack("{s:b,s:O}", "StreamEnabled", 1, "StreamViewType", stream));
  p_error e;
  p_error_init(&e);
  p_create_table ct;
  if (p_parse_create_table(ddb, &s->pctx, x->r->arena, &ct, &e) != 0) {
    rest_p_error(x, &e, 0);
    goto done;
  }
  p_update_ttl q;
  if (ttl != NULL) {
    ttl_body = json_pack("{s:O,s:{s:O,s:b}}", "TableName", name, "TimeToLiveSpecification", "AttributeName",
                         ttl, "Enabled", 1);
    if (p_parse_update_ttl(ttl_body, x->r->arena, &q, &e) != 0) {
      json_decref(ct.meta);
      rest_p_error(x, &e, 0);
      goto done;
    }
  }
  st_table *t = NULL;
  uint64_t lsn = 0;
  int rc = df_table_create(s, &ct, &t, &lsn, &e);
  if (rc == ST_EEXIST) {
    rest_p_error(x, &e, 0);
    goto done;
  }
  if (rc != ST_OK) {
    storage_fail(x, rc, "REST create table");
    goto done;
  }
  if (ttl != NULL) {
    rc = df_ttl_update(s, t, &q, &lsn, &e);
    if (rc == ST_EINVAL) {
      rest_p_error(x, &e, lsn);
      goto done;
    }
    if (rc != ST_OK) {
      storage_fail(x, rc, "REST create table TTL");
      goto done;
    }
  }
  json_t *res = table_resource(s, t, NULL);
  if (res == NULL) {
    storage_fail(x, ST_ECORRUPT, "REST create table describe");
    goto done;
  }
  char location[300];
  snprintf(location, sizeof location, "/v1/tables/%s", st_table_info(t)->name);
  send_json(x, 201, res, lsn, location);
done:
  json_decref(ddb);
  json_decref(ttl_body);
  json_decref(in);
}

/* GET /v1/tables/<t> */
static void describe_table(df_rest *x, const char *name) {
  st_table *t = st_table_find(x->s->db, df_default_ns, name);
  if (t == NULL) {
    rest_fail(x, st_last_lsn(x->s->db), 404, "ResourceNotFound",
              "Requested resource not found: Table: %s not found", name);
    return;
  }
  json_t *res = table_resource(x->s, t, NULL);
  if (res == NULL) {
    storage_fail(x, ST_ECORRUPT, "REST describe table");
    return;
  }
  send_json(x, 200, res, st_table_last_lsn(t), NULL);
}

/* DELETE /v1/tables/<t> */
static void delete_table(df_rest *x, const char *name) {
  df_server *s = x->s;
  st_table *t = st_table_find(s->db, df_default_ns, name);
  if (t == NULL) {
    rest_fail(x, st_last_lsn(s->db), 404, "ResourceNotFound",
              "Requested resource not found: Table: %s not found", name);
    return;
  }
  /* A page in progress holds an iterator on t: drop the table after it. */
  if (df_wait_tables(x->r, &t, 1)) return;
  if (df_table_is_creating(s, t)) {
    rest_fail(x, st_last_lsn(s->db), 409, "ResourceInUse",
              "Attempt to change a resource which is still in use: Table is being created: %s", name);
    return;
  }
  json_t *res = table_resource(s, t, "DELETING");
  json_t *desc = df_describe_table(s, t, "DELETING");
  if (res == NULL || desc == NULL) {
    json_decref(res);
    json_decref(desc);
    storage_fail(x, ST_ECORRUPT, "REST delete table describe");
    return;
  }
  uint64_t lsn = 0;
  int rc = df_table_delete(s, t, desc, &lsn);
  json_decref(desc);
  if (rc != ST_OK) {
    json_decref(res);
    storage_fail(x, rc, "REST delete table");
    return;
  }
  df_commit_checkpoint_soon(s); /* the dropped table's files go at a checkpoint */
  send_json(x, 200, res, lsn, NULL);
}

/* ---- the router ------------------------------------------------------------------ */

static int seg_is(const df_rest *x, size_t i, const char *lit) {
  return i < x->nseg && x->seg_len[i] == strlen(lit) && memcmp(x->seg[i], lit, x->seg_len[i]) == 0;
}

static int method_is(const df_rest *x, const char *m) {
  return strcmp(x->method, m) == 0;
}

static void not_allowed(df_rest *x, const char *allow) {
  rest_fail(x, 0, 405, "MethodNotAllowed", "Method %.32s is not allowed here; use %s.", x->method, allow);
}

void df_rest_handle(df_req *r, struct MHD_Connection *mc, const char *method, const char *raw_url,
                    const char *body, size_t len) {
  df_rest *x = dv_arena_calloc(r->arena, sizeof *x);
  x->r = r;
  x->s = r->srv;
  x->mc = mc;
  x->method = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0 ? MHD_HTTP_METHOD_GET : method;
  x->body = body;
  x->len = len;
  df_server *s = r->srv;
  if (s->cfg.rest_token != NULL &&
      !token_ok(MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
                s->cfg.rest_token)) {
    rest_fail(x, 0, 401, "Unauthorized",
              "This server requires 'Authorization: Bearer <token>' (--rest-token).");
    return;
  }
  char msg[160];
  int prc = parse_target(x, raw_url, msg, sizeof msg);
  if (prc != 0) {
    rest_fail(x, 0, prc == -2 ? 404 : 400, prc == -2 ? "NotFound" : "BadRequest", "%s", msg);
    return;
  }
  if (x->nseg == 1 && seg_is(x, 0, "openapi.json")) {
    if (!method_is(x, "GET")) {
      not_allowed(x, "GET");
      return;
    }
    size_t n = strlen(df_openapi_json);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(n, (void *)df_openapi_json, MHD_RESPMEM_PERSISTENT);
    if (resp != NULL) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    rest_send(x, resp, 200, 0);
    return;
  }
  if (x->nseg >= 1 && seg_is(x, 0, "tables")) {
    if (x->nseg == 1) {
      if (method_is(x, "GET"))
        list_tables(x);
      else if (method_is(x, "POST"))
        create_table(x);
      else
        not_allowed(x, "GET, POST");
      return;
    }
    const char *table = x->seg[1];
    if (x->seg_len[1] == 0 || strlen(table) != x->seg_len[1]) goto not_found;
    if (x->nseg == 2) {
      if (method_is(x, "GET"))
        describe_table(x, table);
      else if (method_is(x, "DELETE"))
        delete_table(x, table);
      else
        not_allowed(x, "GET, DELETE");
      return;
    }
    if (x->nseg == 3 && seg_is(x, 2, "stream")) {
      if (!method_is(x, "GET")) {
        not_allowed(x, "GET");
        return;
      }
      const char *fmt = rest_arg(x, "format", NULL);
      if (fmt != NULL && strcmp(fmt, "plain") != 0 && strcmp(fmt, "dynamodb") != 0) {
        rest_fail(x, 0, 400, "BadRequest", "Invalid format: '%.40s' (expected plain or dynamodb).", fmt);
        return;
      }
      unsigned status = 500;
      struct MHD_Response *resp =
          df_sse_subscribe(s, mc, table, fmt != NULL && strcmp(fmt, "plain") == 0, &status);
      rest_send(x, resp, status, 0); /* a subscription starts at once */
      return;
    }
    if (x->nseg == 3 && seg_is(x, 2, "items")) {
      rest_items(x, table);
      return;
    }
    if (x->nseg == 3 && seg_is(x, 2, "items:batch")) {
      rest_batch(x, table);
      return;
    }
    if ((x->nseg == 4 || x->nseg == 5) && seg_is(x, 2, "items")) {
      rest_item(x, table);
      return;
    }
  }
not_found:
  rest_fail(x, 0, 404, "NotFound", "No such resource: %.200s", raw_url);
}
