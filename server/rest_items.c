/*
 * rest_items.c -- the item resources of the /v1/ face (docs/REST.md):
 * one item by key (GET / PUT / PATCH / DELETE with ETags), listings (an
 * item collection, a scan; paged), the NDJSON export and the NDJSON
 * import. rest.c routes here.
 *
 * Same engine, same rules as the DynamoDB face:
 *   - values are read with protocol/plain.c (the DynamoDB face's checks and
 *     messages), key schemas checked with p_check_put_item / p_check_key,
 *     item sizes with DynamoDB's 400 KB rule and message;
 *   - listings are DynamoDB Query / Scan requests built from the query
 *     parameters (KeyConditionExpression from the path and from / to /
 *     begins_with, FilterExpression from filter / names / values, Limit,
 *     ExclusiveStartKey from the cursor, IndexName from index) and parsed by
 *     p_parse_query / p_parse_scan, then run by handlers_query.c's sliced
 *     pages in plain mode (df_run_page): same validation, same 1 MB page
 *     cap, same slicing. With index=<name>, /items/<pk> lists the index
 *     partition <pk> (its value of the INDEX's partition key, from / to /
 *     begins_with on the index's sort key) whatever the table's key, and
 *     /items scans the index; the cursor then holds the index and table keys;
 *   - item bodies are checked against the table's indexes like PutItem's
 *     (p_check_index_keys: a wrong-typed or empty index key is a 400);
 *   - a write is applied with st_write, which emits its stream events, and
 *     answered once its LSN is durable (df_rest_reply holds it); a write to
 *     a table with a page in progress is parked and run again after it
 *     (df_wait_tables), like the DynamoDB face's writes.
 *
 * Conditional requests (If-Match / If-None-Match) are atomic by the same
 * argument as handlers.c's condition checks: reading the current item,
 * comparing its ETag and st_write() happen in one synchronous step of the
 * loop thread, with no await in between, so no other request can change
 * the item in between and concurrent conditional writers cannot lose an
 * update. The ETag is "<16 hex digits>" of st_item_hash (xxh64 of the
 * item's canonical encoding): equal items have equal ETags whichever face
 * wrote them.
 *
 * The NDJSON export streams the whole table through an MHD callback
 * response: each chunk opens a fresh storage iterator starting after the
 * last key sent, reads for at most SLICE_NS or EXPORT_CHUNK_BYTES,
 * and closes it, so no iterator lives across loop turns (a table may be
 * dropped between two chunks: the response then ends with an error, i.e.
 * without the final empty chunk) and memory stays bounded. Before each
 * chunk the table's newest change must be durable (a read never reveals a
 * write before it is acknowledged): if it is not, the connection is
 * suspended until the flush (as sse.c does). The export is not a snapshot:
 * an item written during it may or may not appear, each item appears at
 * most once (key order), as in a DynamoDB Scan of several pages.
 *
 * The NDJSON import parses and validates every line first (nothing is
 * written if one is bad: 400 naming the 1-based line), then applies them
 * in order, in st_write batches of at most IMPORT_BATCH writes; a batch is
 * cut before a key it already holds (st_write refuses two writes of one
 * item in a batch on a table with a stream or indexes), so the later line
 * wins. The answer waits for the last batch's LSN. The batches are atomic one by
 * one, not together: a crash during an import leaves a prefix of them.
 * Both phases run in slices of about SLICE_NS (the first in the
 * handler, the others one per loop iteration from an idle handle, the
 * request answered later), so a 16 MiB import never holds the loop for
 * long; a batch is written only while the table has no page in progress
 * (df_table_busy; the slice tries again next iteration), so pages stay
 * consistent views, and other
 * writes to the table interleave with the import's batches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/expr.h"
#include "protocol/expr_eval.h"
#include "server/server_int.h"

#define MAX_ITEM_SIZE 409600u                  /* DynamoDB's item size limit */
#define LIST_DEFAULT 100                       /* items evaluated per listing page by default */
#define LIST_MAX 1000                          /* ... at most */
#define IMPORT_BATCH 1000                      /* writes per st_write of an import (at most) */
#define EXPORT_CHUNK_BYTES ((size_t)64 * 1024) /* NDJSON read per export chunk (about) */
#define SLICE_NS ((uint64_t)1000 * 1000)       /* loop time per export chunk / import slice (about) */
#define EXPORT_BLOCK (32 * 1024)               /* MHD's block for the callback response */

/* Placeholders the listings add to the user's names / values. */
#define PH_PK_NAME "#_pk_"
#define PH_SK_NAME "#_sk_"
#define PH_PK ":_pk_"
#define PH_LO ":_lo_"
#define PH_HI ":_hi_"

static const char *const k_json_types[] = {"application/json", NULL};
static const char *const k_patch_types[] = {"application/merge-patch+json", "application/json", NULL};
static const char *const k_ndjson_types[] = {"application/x-ndjson", "text/plain", NULL};

/* ---- ETags and answers ----------------------------------------------------------- */

/* "\"<16 hex>\"" of an item (DV_M). */
static void etag_of(const dv_value *item, char out[24]) {
  snprintf(out, 24, "\"%016llx\"", (unsigned long long)st_item_hash(item));
}

/* Does the If-Match / If-None-Match value hdr match etag (of an existing
 * item when exists)? "*" matches any existing item; W/"..." only when
 * weak_ok (If-None-Match uses weak comparison, If-Match strong); an entry
 * without quotes is compared without them. */
static int etag_list_match(const char *hdr, const char *etag, int exists, int weak_ok) {
  const char *p = hdr;
  size_t elen = strlen(etag);
  while (*p != '\0') {
    p += strspn(p, " \t,");
    if (*p == '\0') break;
    size_t n = strcspn(p, ",");
    size_t tl = n;
    while (tl > 0 && (p[tl - 1] == ' ' || p[tl - 1] == '\t')) tl--;
    const char *tok = p;
    if (tl == 1 && tok[0] == '*') {
      if (exists) return 1;
    } else if (exists) {
      int weak = tl > 2 && tok[0] == 'W' && tok[1] == '/';
      if (weak) {
        tok += 2;
        tl -= 2;
      }
      if (!weak || weak_ok) {
        if (tl == elen && memcmp(tok, etag, tl) == 0) return 1;
        if (tl > 0 && tok[0] != '"' && tl == elen - 2 && memcmp(tok, etag + 1, tl) == 0) return 1;
      }
    }
    p += n;
  }
  return 0;
}

/* If-Match / If-None-Match of a write against the current item cur
 * (DV_NONE = none). 0: go on; -1: answered 412 PreconditionFailed. */
static int write_preconditions(df_rest *x, st_table *t, const dv_value *cur) {
  int exists = cur->type == DV_M;
  char etag[24] = "";
  if (exists) etag_of(cur, etag);
  const char *im = rest_header(x, "If-Match"), *inm = rest_header(x, "If-None-Match");
  if (im != NULL && !etag_list_match(im, etag, exists, 0)) {
    if (exists)
      rest_fail(x, st_table_last_lsn(t), 412, "PreconditionFailed",
                "If-Match failed: the item's current ETag is %s.", etag);
    else
      rest_fail(x, st_table_last_lsn(t), 412, "PreconditionFailed",
                "If-Match failed: the item does not exist.");
    return -1;
  }
  if (inm != NULL && etag_list_match(inm, etag, exists, 1)) {
    rest_fail(x, st_table_last_lsn(t), 412, "PreconditionFailed",
              "If-None-Match failed: the item exists (ETag %s).", etag);
    return -1;
  }
  return 0;
}

/* Answer {"item": <item>} with its ETag. */
static void send_item(df_rest *x, unsigned status, const dv_value *item, uint64_t lsn) {
  p_buf b;
  p_buf_init(&b);
  p_buf_puts(&b, "{\"item\":");
  p_write_plain_item(&b, item);
  p_buf_puts(&b, "}");
  size_t len = 0;
  char *text = p_buf_steal(&b, &len);
  struct MHD_Response *resp = rest_json_response(text, len);
  if (resp != NULL) {
    char etag[24];
    etag_of(item, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
  }
  rest_send(x, resp, status, lsn);
}

/* A value error of an item body as PutItem words it: in the "1 validation
 * error detected: " envelope (protocol.md 2.3), unless it has one. */
static void put_envelope(p_error *e) {
  if (e->code != P_VALIDATION || e->msg == NULL) return;
  const char *m = e->msg;
  while (*m >= '0' && *m <= '9') m++;
  if (m != e->msg && strncmp(m, " validation error", 17) == 0) return;
  char *old = e->msg;
  e->msg = NULL;
  p_error_set(e, P_VALIDATION, "1 validation error detected: %s", old);
  free(old);
}

/* st_write of one item request, with DynamoDB's answer for an oversized
 * item. 0, or -1 answered. */
static int write_one(df_rest *x, st_table *t, st_write_op op, const dv_value *item, const char *too_big,
                     uint64_t *lsn) {
  st_write_req w = {.table = t, .op = op, .item = item};
  int rc = st_write(x->s->db, &w, 1, lsn);
  if (rc == ST_ETOOBIG) {
    rest_fail(x, 0, 400, "ValidationError", "%s", too_big);
    return -1;
  }
  if (rc != ST_OK) {
    df_rest_reply_storage_error(x->r, rc, "REST item write");
    return -1;
  }
  return 0;
}

/* ---- keys ------------------------------------------------------------------------ */

/* The key of /items/<pk>[/<sk>] (segments 3 and 4) as a DV_M in the
 * arena, checked as a GetItem Key (p_check_key). 0, or -1 answered. */
static int path_key(df_rest *x, const p_key_schema *ks, dv_value *key) {
  dv_arena *a = x->r->arena;
  size_t nk = x->nseg - 3;
  if (nk == 2 && ks->range_name == NULL) {
    rest_fail(x, 0, 400, "ValidationError", "The provided key element does not match the schema");
    return -1;
  }
  const char *names[2] = {ks->hash_name, ks->range_name};
  dv_type types[2] = {ks->hash_type, ks->range_type};
  dv_attr *at = dv_arena_calloc(a, 2 * sizeof *at);
  for (size_t i = 0; i < nk; i++) {
    p_error e;
    p_error_init(&e);
    if (p_plain_key_segment(x->seg[3 + i], x->seg_len[3 + i], types[i], a, &at[i].value, &e) != 0) {
      rest_p_error(x, &e, 0);
      return -1;
    }
    at[i].name = names[i];
    at[i].name_len = (uint32_t)strlen(names[i]);
  }
  key->type = DV_M;
  key->n = (uint32_t)nk;
  key->u.attrs = at;
  dv_map_sort(key);
  p_error e;
  p_error_init(&e);
  if (p_check_key(ks, key, &e) != 0) {
    rest_p_error(x, &e, 0);
    return -1;
  }
  return 0;
}

/* ---- listings: DynamoDB Query / Scan bodies from the query string ---------------- */

/* A JSON object query argument (names / values); *out NULL if absent.
 * -1 = answered 400 BadRequest. */
static int json_arg(df_rest *x, const char *name, json_t **out) {
  size_t len = 0;
  const char *v = rest_arg(x, name, &len);
  *out = NULL;
  if (v == NULL) return 0;
  json_error_t err;
  json_t *j = rest_parse_json(v, len, &err);
  if (j == NULL || !json_is_object(j)) {
    json_decref(j);
    rest_fail(x, 0, 400, "BadRequest", "Invalid %s: expected a JSON object%s%s.", name, j == NULL ? ": " : "",
              j == NULL ? err.text : "");
    return -1;
  }
  *out = j;
  return 0;
}

/* filter / names / values into body's FilterExpression,
 * ExpressionAttributeNames and ExpressionAttributeValues (the values
 * converted from plain JSON to AttributeValues), next to *names_out /
 * *values_out, which the caller may extend (new objects, owned by body).
 * -1 = answered. */
static int add_expressions(df_rest *x, json_t *body, json_t **names_out, json_t **values_out) {
  json_t *names = NULL, *values = NULL;
  if (json_arg(x, "names", &names) || json_arg(x, "values", &values)) {
    json_decref(names);
    return -1;
  }
  json_t *en = json_object(), *ev = json_object();
  json_object_set_new(body, "ExpressionAttributeNames", en);
  json_object_set_new(body, "ExpressionAttributeValues", ev);
  *names_out = en;
  *values_out = ev;
  int rc = 0;
  const char *k;
  json_t *v;
  json_object_foreach(names, k, v) {
    if (!strcmp(k, PH_PK_NAME) || !strcmp(k, PH_SK_NAME)) {
      rest_fail(x, 0, 400, "BadRequest", "names: %s is reserved by the server.", k);
      rc = -1;
      goto done;
    }
    json_object_set(en, k, v);
  }
  json_object_foreach(values, k, v) {
    if (!strcmp(k, PH_PK) || !strcmp(k, PH_LO) || !strcmp(k, PH_HI)) {
      rest_fail(x, 0, 400, "BadRequest", "values: %s is reserved by the server.", k);
      rc = -1;
      goto done;
    }
    dv_value dv;
    p_error e;
    p_error_init(&e);
    if (p_plain_value(v, 1, x->r->arena, &dv, &e) != 0) {
      rest_fail(x, 0, 400, "ValidationError",
                "ExpressionAttributeValues contains invalid value: %s for key %s",
                e.msg != NULL ? e.msg : "invalid", k);
      p_error_clear(&e);
      rc = -1;
      goto done;
    }
    json_object_set_new(ev, k, p_value_to_json(&dv));
  }
  size_t flen = 0;
  const char *filter = rest_arg(x, "filter", &flen);
  if (filter != NULL) json_object_set_new(body, "FilterExpression", json_stringn(filter, flen));
done:
  json_decref(names);
  json_decref(values);
  return rc;
}

/* Drop empty ExpressionAttributeNames / Values (DynamoDB refuses empty
 * maps; absent ones are what the user meant). */
static void drop_empty_maps(json_t *body) {
  if (json_object_size(json_object_get(body, "ExpressionAttributeNames")) == 0)
    json_object_del(body, "ExpressionAttributeNames");
  if (json_object_size(json_object_get(body, "ExpressionAttributeValues")) == 0)
    json_object_del(body, "ExpressionAttributeValues");
}

/* cursor -> body's ExclusiveStartKey. -1 = answered. */
static int add_cursor(df_rest *x, json_t *body) {
  size_t len = 0;
  const char *c = rest_arg(x, "cursor", &len);
  if (c == NULL || len == 0) return 0;
  json_t *j = NULL;
  json_error_t err;
  dv_value raw, key;
  p_error e;
  p_error_init(&e);
  /* base64url of the key's plain JSON: decoded as a binary key segment is */
  if (p_plain_key_segment(c, len, DV_B, x->r->arena, &raw, &e) != 0 ||
      (j = rest_parse_json(raw.u.bytes, raw.n, &err)) == NULL || !json_is_object(j) ||
      p_plain_item(j, x->r->arena, &key, &e) != 0) {
    json_decref(j);
    p_error_clear(&e);
    rest_fail(x, 0, 400, "BadRequest", "Invalid cursor (pass the cursor of the previous page as it was).");
    return -1;
  }
  json_decref(j);
  json_object_set_new(body, "ExclusiveStartKey", p_item_to_json(&key));
  return 0;
}

/* limit -> body's Limit. -1 = answered. */
static int add_limit(df_rest *x, json_t *body) {
  const char *v = rest_arg(x, "limit", NULL);
  long n = LIST_DEFAULT;
  if (v != NULL) {
    char *end;
    n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < 1 || n > LIST_MAX) {
      rest_fail(x, 0, 400, "BadRequest", "Invalid limit: '%.40s' (expected an integer from 1 to %d).", v,
                LIST_MAX);
      return -1;
    }
  }
  json_object_set_new(body, "Limit", json_integer(n));
  return 0;
}

/* index -> IndexName (checked by p_check_query / p_check_scan against the
 * table's indexes). */
static void add_index(df_rest *x, json_t *body) {
  size_t len = 0;
  const char *v = rest_arg(x, "index", &len);
  if (v != NULL) json_object_set_new(body, "IndexName", json_stringn(v, len));
}

/* A boolean query argument; -1 = answered. */
static int bool_arg(df_rest *x, const char *name, int *out) {
  const char *v = rest_arg(x, name, NULL);
  *out = 0;
  if (v == NULL) return 0;
  if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "")) {
    *out = 1;
    return 0;
  }
  if (!strcmp(v, "false") || !strcmp(v, "0")) return 0;
  rest_fail(x, 0, 400, "BadRequest", "Invalid %s: '%.40s' (expected true or false).", name, v);
  return -1;
}

/* A sort-key bound (from / to / begins_with) as an AttributeValue of the
 * sort key's type; *out NULL if the argument is absent. -1 = answered. */
static int sk_arg(df_rest *x, const p_key_schema *ks, const char *name, json_t **out) {
  size_t len = 0;
  const char *v = rest_arg(x, name, &len);
  *out = NULL;
  if (v == NULL) return 0;
  dv_value dv;
  p_error e;
  p_error_init(&e);
  if (p_plain_key_segment(v, len, ks->range_type, x->r->arena, &dv, &e) != 0) {
    rest_p_error(x, &e, 0);
    return -1;
  }
  *out = p_value_to_json(&dv);
  return 0;
}

/* GET /v1/tables/<t>/items/<pk> on a table with a sort key, or with
 * index=<name>: a Query. ks: the table's key schema; lks: that of what is
 * listed (the index's, or ks); key holds lks's partition key. */
static void list_collection(df_rest *x, st_table *t, const p_key_schema *ks, const p_key_schema *lks,
                            const dv_value *key) {
  df_req *r = x->r;
  json_t *body = json_pack("{s:s}", "TableName", st_table_info(t)->name);
  r->body = body; /* owned by the request from now on (server_int.h) */
  json_t *names, *values, *lo = NULL, *hi = NULL, *prefix = NULL;
  int reverse = 0;
  if (add_expressions(x, body, &names, &values) || add_limit(x, body) || add_cursor(x, body) ||
      bool_arg(x, "reverse", &reverse) || sk_arg(x, lks, "from", &lo) || sk_arg(x, lks, "to", &hi) ||
      sk_arg(x, lks, "begins_with", &prefix))
    goto fail;
  if (prefix != NULL && (lo != NULL || hi != NULL)) {
    rest_fail(x, 0, 400, "BadRequest", "begins_with cannot be combined with from or to.");
    goto fail;
  }
  add_index(x, body);
  if ((lo != NULL || hi != NULL || prefix != NULL) && lks->range_name == NULL) {
    rest_fail(x, 0, 400, "BadRequest", "from, to and begins_with need a sort key; the index has none.");
    goto fail;
  }
  json_object_set_new(names, PH_PK_NAME, json_string(lks->hash_name));
  json_object_set_new(values, PH_PK,
                      p_value_to_json(dv_map_get(key, lks->hash_name, strlen(lks->hash_name))));
  const char *kce = PH_PK_NAME " = " PH_PK;
  if (lo != NULL || hi != NULL || prefix != NULL)
    json_object_set_new(names, PH_SK_NAME, json_string(lks->range_name));
  if (prefix != NULL) {
    kce = PH_PK_NAME " = " PH_PK " AND begins_with(" PH_SK_NAME ", " PH_LO ")";
    json_object_set_new(values, PH_LO, prefix);
    prefix = NULL;
  } else if (lo != NULL && hi != NULL) {
    kce = PH_PK_NAME " = " PH_PK " AND " PH_SK_NAME " BETWEEN " PH_LO " AND " PH_HI;
  } else if (lo != NULL) {
    kce = PH_PK_NAME " = " PH_PK " AND " PH_SK_NAME " >= " PH_LO;
  } else if (hi != NULL) {
    kce = PH_PK_NAME " = " PH_PK " AND " PH_SK_NAME " <= " PH_HI;
  }
  if (lo != NULL) json_object_set_new(values, PH_LO, lo);
  if (hi != NULL) json_object_set_new(values, PH_HI, hi);
  lo = hi = NULL;
  json_object_set_new(body, "KeyConditionExpression", json_string(kce));
  if (reverse) json_object_set_new(body, "ScanIndexForward", json_false());
  drop_empty_maps(body);

  p_query q;
  p_query_range rg;
  p_error e;
  p_error_init(&e);
  p_index *idx;
  size_t nidx;
  const p_index *ix = NULL;
  if (df_table_indexes(t, r->arena, &idx, &nidx) != 0) {
    df_rest_reply_storage_error(r, ST_ECORRUPT, "REST query meta");
    return;
  }
  if (p_parse_query(body, r->arena, &q, &e) != 0 ||
      p_check_query(ks, idx, nidx, &q, r->arena, &rg, &ix, &e) != 0) {
    rest_p_error(x, &e, 0);
    return;
  }
  df_run_query(r, t, ks, ix, &q, &rg, 0, 1);
  return;
fail:
  json_decref(lo);
  json_decref(hi);
  json_decref(prefix);
}

/* segment / segments -> Segment / TotalSegments. -1 = answered. */
static int add_segments(df_rest *x, json_t *body) {
  static const char *const args[2] = {"segment", "segments"};
  static const char *const members[2] = {"Segment", "TotalSegments"};
  for (int i = 0; i < 2; i++) {
    const char *v = rest_arg(x, args[i], NULL);
    if (v == NULL) continue;
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < 0 || n > 1000000) {
      rest_fail(x, 0, 400, "BadRequest", "Invalid %s: '%.40s' (expected an integer).", args[i], v);
      return -1;
    }
    json_object_set_new(body, members[i], json_integer(n));
  }
  return 0;
}

/* ---- the NDJSON export -------------------------------------------------------------- */

/* One export (the callback response's state). */
typedef struct export_job {
  df_server *s;                   /* the server */
  df_http *h;                     /* transport: its suspended count */
  struct MHD_Connection *mc;      /* the connection */
  char *table;                    /* table name (malloc'd) */
  uint64_t table_id;              /* st_table_id when it started: a new table of that name is not it */
  p_key_schema ks;                /* key schema (names in arena) */
  dv_arena *arena;                /* the filter tree and the key schema names */
  json_t *body;                   /* the Scan body the filter was parsed from (its trees borrow it) */
  const struct expr_node *filter; /* FilterExpression, NULL = none */
  dv_arena *karena;               /* holds last */
  dv_value last;                  /* key of the last item read (DV_NONE: none yet) */
  p_buf out;                      /* NDJSON read, not yet handed to MHD */
  size_t off;                     /* bytes of out already handed over */
  int done;                       /* 1: the table has been read to its end */
  int failed;                     /* 1: end the response with an error */
  int waiting;                    /* 1: waiter queued in commit.c */
  int suspended;                  /* 1: connection suspended by the reader */
  df_waiter waiter;               /* durability of the table's newest change */
} export_job;

#define JOB_OF_WAITER(w) ((export_job *)((char *)(w)-offsetof(export_job, waiter)))

static void export_durable(df_waiter *w, int status) {
  export_job *ex = JOB_OF_WAITER(w);
  ex->waiting = 0;
  if (status != ST_OK) ex->failed = 1;
  if (ex->suspended) {
    ex->suspended = 0;
    ex->h->suspended--;
    MHD_resume_connection(ex->mc);
    df_loop_wake(ex->s);
  }
}

/* Read the next chunk into ex->out. ST_OK or a storage error. */
static int export_fill(export_job *ex, st_table *t) {
  st_iter_spec spec = {.start_after = ex->last.type == DV_M ? &ex->last : NULL};
  st_iter *it = NULL;
  int rc = st_iter_open(t, &spec, &it);
  if (rc != ST_OK) return rc;
  dv_arena *a = dv_arena_new();
  dv_value item = {.type = DV_NONE}, lastitem = {.type = DV_NONE};
  uint64_t t0 = uv_hrtime();
  for (;;) {
    rc = st_iter_next(it, a, &item);
    if (rc != ST_OK) break;
    if (item.type != DV_M) {
      ex->done = 1;
      break;
    }
    lastitem = item;
    if (!df_ttl_expired(ex->s, t, &item) && (ex->filter == NULL || expr_matches(ex->filter, &item))) {
      p_write_plain_item(&ex->out, &item);
      p_buf_append(&ex->out, "\n", 1);
    }
    if (ex->out.len >= EXPORT_CHUNK_BYTES || uv_hrtime() - t0 >= SLICE_NS) break;
  }
  st_iter_close(it);
  if (rc == ST_OK && lastitem.type == DV_M) {
    dv_arena *ka = dv_arena_new();
    ex->last = p_item_key(&ex->ks, &lastitem, ka);
    dv_arena_free(ex->karena);
    ex->karena = ka;
  }
  dv_arena_free(a);
  return rc;
}

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max) {
  export_job *ex = cls;
  (void)pos;
  if (ex->off == ex->out.len) {
    ex->out.len = 0;
    ex->off = 0;
    if (ex->failed) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (ex->done) return MHD_CONTENT_READER_END_OF_STREAM;
    st_table *t = st_table_find(ex->s->db, df_default_ns, ex->table);
    if (t == NULL || st_table_id(t) != ex->table_id) {
      df_log(ex->s, DF_LOG_WARN, "NDJSON export of %s: the table was deleted; response cut", ex->table);
      return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    uint64_t lsn = st_table_last_lsn(t);
    if (lsn > st_durable_lsn(ex->s->db)) { /* wait for the flush, then read (module comment) */
      ex->suspended = 1;
      ex->h->suspended++;
      MHD_suspend_connection(ex->mc);
      ex->waiting = 1;
      ex->waiter.done = export_durable;
      df_commit_wait(ex->s, &ex->waiter, lsn);
      return 0;
    }
    int rc = export_fill(ex, t);
    if (rc != ST_OK) {
      df_log(ex->s, DF_LOG_ERROR, "NDJSON export of %s: %s; response cut", ex->table, st_strerror(rc));
      return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (ex->out.len == 0) return ex->done ? MHD_CONTENT_READER_END_OF_STREAM : 0;
  }
  size_t n = ex->out.len - ex->off;
  if (n > max) n = max;
  memcpy(buf, ex->out.data + ex->off, n);
  ex->off += n;
  return (ssize_t)n;
}

static void export_free(void *cls) {
  export_job *ex = cls;
  if (ex->waiting) df_commit_cancel(ex->s, &ex->waiter);
  if (ex->suspended) ex->h->suspended--;
  p_buf_free(&ex->out);
  dv_arena_free(ex->karena);
  dv_arena_free(ex->arena);
  json_decref(ex->body);
  free(ex->table);
  free(ex);
}

/* GET /v1/tables/<t>/items?format=ndjson: the whole table, filter allowed. */
static void export_table(df_rest *x, st_table *t, const p_key_schema *ks) {
  df_server *s = x->s;
  if (s->http == NULL) {
    rest_fail(x, 0, 503, "ServiceUnavailable", "The server is shutting down.");
    return;
  }
  export_job *ex = df_xcalloc(1, sizeof *ex);
  ex->s = s;
  ex->h = s->http;
  ex->mc = x->mc;
  ex->arena = dv_arena_new();
  ex->last.type = DV_NONE;
  p_buf_init(&ex->out);
  ex->body = json_pack("{s:s}", "TableName", st_table_info(t)->name);
  json_t *names, *values;
  p_error e;
  p_error_init(&e);
  p_query q;
  if (add_expressions(x, ex->body, &names, &values)) goto fail;
  drop_empty_maps(ex->body);
  const p_index *which = NULL;
  if (p_parse_scan(ex->body, ex->arena, &q, &e) != 0 || p_check_scan(ks, NULL, 0, &q, &which, &e) != 0) {
    rest_p_error(x, &e, 0);
    goto fail;
  }
  ex->filter = q.filter;
  ex->ks.hash_name = dv_arena_strndup(ex->arena, ks->hash_name, strlen(ks->hash_name));
  ex->ks.hash_type = ks->hash_type;
  ex->ks.range_name =
      ks->range_name ? dv_arena_strndup(ex->arena, ks->range_name, strlen(ks->range_name)) : NULL;
  ex->ks.range_type = ks->range_type;
  size_t tl = strlen(st_table_info(t)->name);
  ex->table = df_xmalloc(tl + 1);
  memcpy(ex->table, st_table_info(t)->name, tl + 1);
  ex->table_id = st_table_id(t);
  struct MHD_Response *resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, EXPORT_BLOCK, export_read, ex, export_free);
  if (resp == NULL) goto fail;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
  rest_send(x, resp, 200, 0); /* each chunk waits for durability itself */
  return;
fail:
  export_free(ex);
}

/* Does the Accept header ask for NDJSON (and not for JSON)? */
static int accepts_ndjson_only(const char *accept) {
  return accept != NULL && rest_accept_has(accept, "application/x-ndjson") &&
         !rest_accept_has(accept, "application/json");
}

/* ---- /v1/tables/<t>/items ---------------------------------------------------------- */

/* GET: a Scan page, or the NDJSON export. */
static void scan_items(df_rest *x, const char *table) {
  const char *fmt = rest_arg(x, "format", NULL);
  if (fmt != NULL && strcmp(fmt, "ndjson") != 0 && strcmp(fmt, "json") != 0) {
    rest_fail(x, 0, 400, "BadRequest", "Invalid format: '%.40s' (expected json or ndjson).", fmt);
    return;
  }
  st_table *t = rest_item_table(x, table);
  if (t == NULL) return;
  p_key_schema ks;
  df_key_schema_of(t, &ks);
  if ((fmt != NULL && strcmp(fmt, "ndjson") == 0) ||
      (fmt == NULL && accepts_ndjson_only(rest_header(x, MHD_HTTP_HEADER_ACCEPT)))) {
    export_table(x, t, &ks);
    return;
  }
  df_req *r = x->r;
  json_t *body = json_pack("{s:s}", "TableName", table);
  r->body = body; /* owned by the request (server_int.h) */
  json_t *names, *values;
  if (add_expressions(x, body, &names, &values) || add_limit(x, body) || add_cursor(x, body) ||
      add_segments(x, body))
    return;
  add_index(x, body);
  drop_empty_maps(body);
  p_query q;
  p_error e;
  p_error_init(&e);
  p_index *idx;
  size_t nidx;
  const p_index *ix = NULL;
  if (df_table_indexes(t, r->arena, &idx, &nidx) != 0) {
    df_rest_reply_storage_error(r, ST_ECORRUPT, "REST scan meta");
    return;
  }
  if (p_parse_scan(body, r->arena, &q, &e) != 0 || p_check_scan(&ks, idx, nidx, &q, &ix, &e) != 0) {
    rest_p_error(x, &e, 0);
    return;
  }
  if (df_run_scan(r, t, &ks, ix, &q, 1, &e) != 0) rest_p_error(x, &e, 0);
}

/* PUT: replace (or create) one item. */
static void put_item(df_rest *x, const char *table) {
  if (!rest_media_type_ok(x, k_json_types)) return;
  json_t *j = rest_body_object(x);
  if (j == NULL) return;
  dv_value item;
  p_error e;
  p_error_init(&e);
  int bad = p_plain_item(j, x->r->arena, &item, &e);
  json_decref(j);
  if (bad != 0) {
    put_envelope(&e); /* PutItem's wording */
    rest_p_error(x, &e, 0);
    return;
  }
  if (dv_item_size(&item) > MAX_ITEM_SIZE) {
    rest_fail(x, 0, 400, "ValidationError", "Item size has exceeded the maximum allowed size");
    return;
  }
  st_table *t = rest_item_table(x, table);
  if (t == NULL) return;
  if (df_wait_tables(x->r, &t, 1)) return; /* a page of t is in progress: run again after it */
  p_key_schema ks;
  df_key_schema_of(t, &ks);
  const p_index *idx;
  size_t nidx;
  if (df_table_indexes_cached(t, &idx, &nidx) != 0) {
    df_rest_reply_storage_error(x->r, ST_ECORRUPT, "REST put meta");
    return;
  }
  if (p_check_put_item(&ks, &item, &e) != 0 || p_check_index_keys(idx, nidx, &item, &e) != 0) {
    rest_p_error(x, &e, 0);
    return;
  }
  /* From here to st_write: one synchronous step (module comment). */
  dv_value old;
  int rc = df_item_read(x->s, t, &item, x->r->arena, &old);
  if (rc != ST_OK) {
    df_rest_reply_storage_error(x->r, rc, "REST put read");
    return;
  }
  if (write_preconditions(x, t, &old)) return;
  uint64_t lsn = 0;
  if (write_one(x, t, ST_PUT, &item, "Item size has exceeded the maximum allowed size", &lsn)) return;
  send_item(x, old.type == DV_M ? 200 : 201, &item, lsn);
}

void rest_items(df_rest *x, const char *table) {
  if (!strcmp(x->method, "GET"))
    scan_items(x, table);
  else if (!strcmp(x->method, "PUT"))
    put_item(x, table);
  else
    rest_fail(x, 0, 405, "MethodNotAllowed", "Method %.32s is not allowed here; use GET, PUT.", x->method);
}

/* ---- /v1/tables/<t>/items/<pk>[/<sk>] ---------------------------------------------- */

static void get_item(df_rest *x, st_table *t, const dv_value *key) {
  dv_value item;
  int rc = df_item_read(x->s, t, key, x->r->arena, &item);
  if (rc != ST_OK) {
    df_rest_reply_storage_error(x->r, rc, "REST get");
    return;
  }
  uint64_t lsn = st_table_last_lsn(t);
  int exists = item.type == DV_M;
  char etag[24] = "";
  if (exists) etag_of(&item, etag);
  const char *im = rest_header(x, "If-Match"), *inm = rest_header(x, "If-None-Match");
  if (im != NULL && !etag_list_match(im, etag, exists, 0)) {
    rest_fail(x, lsn, 412, "PreconditionFailed", "If-Match failed: %s%s.",
              exists ? "the item's current ETag is " : "the item does not exist", etag);
    return;
  }
  if (!exists) {
    rest_fail(x, lsn, 404, "ItemNotFound", "No item with this key in table %s.", st_table_info(t)->name);
    return;
  }
  if (inm != NULL && etag_list_match(inm, etag, exists, 1)) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp != NULL) MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    rest_send(x, resp, 304, lsn);
    return;
  }
  send_item(x, 200, &item, lsn);
}

static void delete_item(df_rest *x, st_table *t, const dv_value *key) {
  dv_value old;
  int rc = df_item_read(x->s, t, key, x->r->arena, &old);
  if (rc != ST_OK) {
    df_rest_reply_storage_error(x->r, rc, "REST delete read");
    return;
  }
  if (write_preconditions(x, t, &old)) return;
  if (old.type != DV_M) {
    rest_fail(x, st_table_last_lsn(t), 404, "ItemNotFound", "No item with this key in table %s.",
              st_table_info(t)->name);
    return;
  }
  uint64_t lsn = 0;
  if (write_one(x, t, ST_DEL, key, "Item size has exceeded the maximum allowed size", &lsn)) return;
  send_item(x, 200, &old, lsn);
}

static void patch_item(df_rest *x, st_table *t, const p_key_schema *ks, const dv_value *key) {
  if (!rest_media_type_ok(x, k_patch_types)) return;
  json_t *patch = rest_body_object(x);
  if (patch == NULL) return;
  dv_value old;
  int rc = df_item_read(x->s, t, key, x->r->arena, &old);
  if (rc != ST_OK) {
    json_decref(patch);
    df_rest_reply_storage_error(x->r, rc, "REST patch read");
    return;
  }
  /* Absent: the patch applies to the key alone (an upsert, like UpdateItem). */
  dv_value nw;
  p_error e;
  p_error_init(&e);
  int bad = p_plain_merge_patch(old.type == DV_M ? &old : key, patch, ks, x->r->arena, &nw, &e);
  json_decref(patch);
  if (bad != 0) {
    rest_p_error(x, &e, 0);
    return;
  }
  if (dv_item_size(&nw) > MAX_ITEM_SIZE) {
    rest_fail(x, st_table_last_lsn(t), 400, "ValidationError", "%s", EXPR_MSG_ITEM_TOO_BIG);
    return;
  }
  const p_index *idx;
  size_t nidx;
  if (df_table_indexes_cached(t, &idx, &nidx) != 0) {
    df_rest_reply_storage_error(x->r, ST_ECORRUPT, "REST patch meta");
    return;
  }
  if (p_check_index_keys(idx, nidx, &nw, &e) != 0) {
    rest_p_error(x, &e, st_table_last_lsn(t));
    return;
  }
  if (write_preconditions(x, t, &old)) return;
  uint64_t lsn = 0;
  if (write_one(x, t, ST_PUT, &nw, EXPR_MSG_ITEM_TOO_BIG, &lsn)) return;
  send_item(x, old.type == DV_M ? 200 : 201, &nw, lsn);
}

void rest_item(df_rest *x, const char *table) {
  int get = !strcmp(x->method, "GET"), del = !strcmp(x->method, "DELETE"),
      patch = !strcmp(x->method, "PATCH");
  if (!get && !del && !patch) {
    rest_fail(x, 0, 405, "MethodNotAllowed", "Method %.32s is not allowed here; use GET, PATCH, DELETE.",
              x->method);
    return;
  }
  st_table *t = rest_item_table(x, table);
  if (t == NULL) return;
  p_key_schema ks;
  df_key_schema_of(t, &ks);
  /* index=<name> on GET /items/<pk>: the index partition <pk> */
  size_t ilen = 0;
  const char *iname = get && x->nseg == 4 ? rest_arg(x, "index", &ilen) : NULL;
  p_key_schema lks = ks;
  if (iname != NULL) {
    p_index *idx;
    size_t nidx;
    if (df_table_indexes(t, x->r->arena, &idx, &nidx) != 0) {
      df_rest_reply_storage_error(x->r, ST_ECORRUPT, "REST index meta");
      return;
    }
    const p_index *ix = strlen(iname) == ilen ? p_index_find(idx, nidx, iname) : NULL;
    if (ix == NULL) {
      rest_fail(x, 0, 400, "ValidationError", "The table does not have the specified index: %.255s", iname);
      return;
    }
    lks = ix->key;
  }
  int collection = x->nseg == 4 && (ks.range_name != NULL || iname != NULL);
  if (collection && !get) {
    rest_fail(x, 0, 405, "MethodNotAllowed",
              "Method %.32s is not allowed on an item collection (/items/<pk> of a table with a sort key); "
              "use GET.",
              x->method);
    return;
  }
  if (!get && df_wait_tables(x->r, &t, 1)) return; /* a page of t is in progress: run again after it */
  dv_value key;
  if (collection) {
    dv_arena *a = x->r->arena;
    dv_attr *at = dv_arena_calloc(a, sizeof *at);
    p_error e;
    p_error_init(&e);
    if (p_plain_key_segment(x->seg[3], x->seg_len[3], lks.hash_type, a, &at->value, &e) != 0) {
      rest_p_error(x, &e, 0);
      return;
    }
    at->name = lks.hash_name;
    at->name_len = (uint32_t)strlen(lks.hash_name);
    key.type = DV_M;
    key.n = 1;
    key.u.attrs = at;
    list_collection(x, t, &ks, &lks, &key);
    return;
  }
  if (path_key(x, &ks, &key)) return;
  if (get)
    get_item(x, t, &key);
  else if (del)
    delete_item(x, t, &key);
  else
    patch_item(x, t, &ks, &key);
}

/* ---- /v1/tables/<t>/items:batch: the NDJSON import ------------------------------------- */

/* One line of an import. */
typedef struct import_op {
  int put;        /* 1: a put, 0: a delete */
  dv_value item;  /* the item, or the key to delete */
  uint64_t khash; /* st_item_hash of its key (batch cuts) */
} import_op;

/* An open-addressing set of key hashes (the keys of the current batch). */
typedef struct key_set {
  uint64_t slot[2 * IMPORT_BATCH * 2]; /* 0 = empty (a zero hash is stored as 1) */
  size_t n;                            /* keys held */
} key_set;

/* Add h; 1 if it was there already. */
static int key_set_add(key_set *ks, uint64_t h) {
  if (h == 0) h = 1;
  size_t cap = sizeof ks->slot / sizeof ks->slot[0];
  for (size_t i = (size_t)(h % cap);; i = (i + 1) % cap) {
    if (ks->slot[i] == h) return 1;
    if (ks->slot[i] == 0) {
      ks->slot[i] = h;
      ks->n++;
      return 0;
    }
  }
}

/* Parse and check one line (text[0..len), 1-based line number ln) into op.
 * 0, or -1 answered. */
static int import_line(df_rest *x, const p_key_schema *ks, const p_index *idx, size_t nidx, const char *text,
                       size_t len, size_t ln, import_op *op) {
  json_error_t err;
  json_t *j = rest_parse_json(text, len, &err);
  if (j == NULL) {
    rest_fail(x, 0, 400, "BadRequest", "line %zu: malformed JSON at column %d: %s", ln, err.column, err.text);
    return -1;
  }
  int rc = -1;
  p_error e;
  p_error_init(&e);
  const json_t *del = json_object_size(j) == 1 ? json_object_get(j, "$delete") : NULL;
  if (!json_is_object(j) || (del != NULL && !json_is_object(del))) {
    rest_fail(x, 0, 400, "BadRequest", "line %zu: expected a JSON object (an item, or {\"$delete\": <key>}).",
              ln);
    goto done;
  }
  op->put = del == NULL;
  if (p_plain_item(op->put ? j : del, x->r->arena, &op->item, &e) != 0) {
    put_envelope(&e); /* PutItem's / DeleteItem's wording */
    goto verr;
  }
  if (op->put) {
    if (dv_item_size(&op->item) > MAX_ITEM_SIZE) {
      p_error_set(&e, P_VALIDATION, "Item size has exceeded the maximum allowed size");
      goto verr;
    }
    if (p_check_put_item(ks, &op->item, &e) != 0 || p_check_index_keys(idx, nidx, &op->item, &e) != 0)
      goto verr;
    dv_value k = p_item_key(ks, &op->item, x->r->arena);
    op->khash = st_item_hash(&k);
  } else {
    if (p_check_key(ks, &op->item, &e) != 0) goto verr;
    op->khash = st_item_hash(&op->item);
  }
  rc = 0;
  goto done;
verr:
  rest_fail(x, 0, 400, "ValidationError", "line %zu: %s", ln, e.msg != NULL ? e.msg : "invalid");
  p_error_clear(&e);
done:
  json_decref(j);
  return rc;
}

/* One import in progress (its request is answered later when it needs more
 * than one slice). */
typedef struct import_job {
  df_rest *x;                   /* the request (arena memory: lives until it is answered) */
  df_server *s;                 /* the server */
  char *table;                  /* table name (malloc'd) */
  uint64_t table_id;            /* st_table_id when it started (a new table of that name is not it) */
  p_key_schema ks;              /* its key schema (names in the request's arena) */
  p_index *idx;                 /* its indexes when it started (request's arena) */
  size_t nidx;                  /* entries in idx */
  const char *p;                /* next line to parse */
  size_t ln;                    /* lines seen so far */
  import_op *ops;               /* parsed lines (malloc'd) */
  size_t n;                     /* entries in ops */
  size_t cap;                   /* allocated entries */
  size_t puts;                  /* of which puts */
  size_t next;                  /* writing: next op to write */
  int writing;                  /* 1: every line is parsed and valid */
  uint64_t lsn;                 /* LSN of the last batch written */
  key_set set;                  /* keys of the batch being built */
  st_write_req w[IMPORT_BATCH]; /* the batch being built */
  uv_idle_t idle;               /* runs one slice per loop iteration (a 0 ms timer would not yield) */
} import_job;

enum { SLICE_DONE = 0, SLICE_MORE, SLICE_WAIT };

/* One slice: parse lines (then write batches) for about SLICE_NS.
 * SLICE_DONE once answered. */
static int import_slice(import_job *job) {
  df_rest *x = job->x;
  uint64_t t0 = uv_hrtime();
  const char *end = x->body + x->len;
  while (!job->writing) {
    if (job->p >= end) {
      job->writing = 1;
      break;
    }
    const char *nl = memchr(job->p, '\n', (size_t)(end - job->p));
    const char *e = nl != NULL ? nl : end;
    size_t len = (size_t)(e - job->p), blank = 0;
    job->ln++;
    while (blank < len && (job->p[blank] == ' ' || job->p[blank] == '\t' || job->p[blank] == '\r')) blank++;
    if (blank < len) {
      if (job->n == job->cap) {
        job->cap = job->cap ? job->cap * 2 : 256;
        job->ops = df_xrealloc(job->ops, job->cap * sizeof *job->ops);
      }
      if (import_line(x, &job->ks, job->idx, job->nidx, job->p, len, job->ln, &job->ops[job->n]))
        return SLICE_DONE;
      job->puts += job->ops[job->n].put;
      job->n++;
    }
    job->p = e + 1;
    if (uv_hrtime() - t0 >= SLICE_NS) return SLICE_MORE;
  }
  /* Writing: the table must still be the one validated against, and have
   * no page in progress (a page is a consistent view: pages.c). */
  st_table *t = st_table_find(job->s->db, df_default_ns, job->table);
  if (t == NULL || st_table_id(t) != job->table_id) {
    rest_fail(x, st_last_lsn(job->s->db), 404, "ResourceNotFound",
              "Table %s was deleted during the import; %zu of %zu lines were written.", job->table, job->next,
              job->n);
    return SLICE_DONE;
  }
  if (job->next < job->n && df_table_busy(job->s, t)) return SLICE_WAIT;
  while (job->next < job->n) {
    /* A batch: up to IMPORT_BATCH writes, cut before a key it holds. */
    size_t k = 0;
    memset(&job->set, 0, sizeof job->set);
    while (job->next < job->n && k < IMPORT_BATCH && !key_set_add(&job->set, job->ops[job->next].khash)) {
      const import_op *op = &job->ops[job->next];
      job->w[k++] = (st_write_req){.table = t, .op = op->put ? ST_PUT : ST_DEL, .item = &op->item};
      job->next++;
    }
    int rc = st_write(job->s->db, job->w, k, &job->lsn);
    if (rc != ST_OK) {
      df_log(job->s, DF_LOG_ERROR, "NDJSON import into %s stopped after %zu of %zu lines", job->table,
             job->next - k, job->n);
      df_rest_reply_storage_error(x->r, rc, "REST import");
      return SLICE_DONE;
    }
    if (job->next < job->n && uv_hrtime() - t0 >= SLICE_NS) return SLICE_MORE;
  }
  char text[128];
  int len = snprintf(text, sizeof text, "{\"written\":%zu,\"puts\":%zu,\"deletes\":%zu}", job->n, job->puts,
                     job->n - job->puts);
  char *body = df_xmalloc((size_t)len + 1);
  memcpy(body, text, (size_t)len + 1);
  df_rest_reply_text(x->r, 200, body, (size_t)len, job->lsn != 0 ? job->lsn : st_table_last_lsn(t));
  return SLICE_DONE;
}

static void import_free(import_job *job) {
  free(job->ops);
  free(job->table);
  free(job);
}

static void import_closed(uv_handle_t *h) {
  import_free(h->data);
}

/* One slice per loop iteration, I/O polled in between (a table that is
 * busy is only so while a page's own idle handle runs). */
static void import_tick(uv_idle_t *h) {
  import_job *job = h->data;
  if (import_slice(job) == SLICE_DONE) {
    uv_idle_stop(&job->idle);
    uv_close((uv_handle_t *)&job->idle, import_closed);
  }
}

void rest_batch(df_rest *x, const char *table) {
  if (strcmp(x->method, "POST") != 0) {
    rest_fail(x, 0, 405, "MethodNotAllowed", "Method %.32s is not allowed here; use POST.", x->method);
    return;
  }
  if (!rest_media_type_ok(x, k_ndjson_types)) return;
  st_table *t = rest_item_table(x, table);
  if (t == NULL) return;
  if (df_wait_tables(x->r, &t, 1)) return; /* a page of t is in progress: run again after it */
  import_job *job = df_xcalloc(1, sizeof *job);
  job->x = x;
  job->s = x->s;
  size_t tl = strlen(table);
  job->table = df_xmalloc(tl + 1);
  memcpy(job->table, table, tl + 1);
  job->table_id = st_table_id(t);
  df_key_schema_of(t, &job->ks);
  dv_arena *a = x->r->arena;
  job->ks.hash_name = dv_arena_strndup(a, job->ks.hash_name, strlen(job->ks.hash_name));
  if (job->ks.range_name != NULL)
    job->ks.range_name = dv_arena_strndup(a, job->ks.range_name, strlen(job->ks.range_name));
  if (df_table_indexes(t, a, &job->idx, &job->nidx) != 0) {
    import_free(job);
    df_rest_reply_storage_error(x->r, ST_ECORRUPT, "REST import meta");
    return;
  }
  job->p = x->body;
  /* The first slice here; the others from the loop, the request answered
   * later (like a sliced page). */
  int st = import_slice(job);
  if (st == SLICE_DONE) {
    import_free(job);
    return;
  }
  df_req_later(x->r);
  uv_idle_init(x->s->loop, &job->idle);
  job->idle.data = job;
  uv_idle_start(&job->idle, import_tick);
}
