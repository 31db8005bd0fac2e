/*
 * batch.c -- BatchWriteItem and BatchGetItem requests (operations.md 5.6,
 * 5.7; protocol.md 2.1-2.3): shapes, member constraints with AWS's echoes of
 * the RequestItems map, request semantics (values, sizes, counts,
 * duplicates), the per-table schema checks that follow the table lookups,
 * and the UnprocessedKeys entry of a table.
 *
 * Order of checks, each answered at the first failure:
 *   1. shapes (SerializationException);
 *   2. member constraints, joined: ReturnConsumedCapacity,
 *      ReturnItemCollectionMetrics (BatchWriteItem), RequestItems (null, size,
 *      map keys, map values), then members inside each table's entry;
 *   3. semantics in request order, table by table: BatchWriteItem -- a
 *      WriteRequest with not exactly one of Put/Delete, attribute values
 *      (older layer, bare), item size, then the count over all tables;
 *      BatchGetItem -- members not supported yet, key values (current layer,
 *      bare), duplicate keys (by value), the running count over all tables
 *      (> 100), AttributesToGet duplicates;
 *   4. (caller) every table looked up: RNF for the whole call;
 *   5. p_check_batch_*_table per table in request order: key vs schema,
 *      empty or oversize key values, and (BatchWriteItem) two requests on
 *      one item, which needs the key schema to be seen.
 *
 * The echo of the RequestItems map in a member-constraint message is JSON
 * for BatchGetItem and the Java toString of AWS's model classes for
 * BatchWriteItem ({t=[WriteRequest(putRequest=PutRequest(item={pk=
 * AttributeValue(s=a, n=null, ...)}, workloadProfileName=null),
 * deleteRequest=null)]}), maps in request order.
 *
 * Pinned by the spec: the messages of protocol.md 2.2's table and
 * operations.md 5.6-5.7. Our choices where no source pins AWS's answer:
 * RequestItems absent -> old-form "Value null at 'requestItems'"; the
 * per-table paths 'RequestItems.<t>.member.Keys' (null) /
 * '.AttributesToGet' ([]) and 'requestItems.<t>.member.putRequest.item'
 * (null); DeleteRequest's toString shaped like PutRequest's; the > 25
 * count checked after every value, the > 100 count key by key; BatchWrite
 * duplicates after the table lookup (they need the key schema),
 * BatchGet duplicates before it (whole keys compared by value).
 */
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol_int.h"

#define INVALID "One or more parameter values were invalid: "
#define MAX_ITEM_SIZE 409600u
#define MAX_WRITES P_BATCH_WRITE_MAX
#define MAX_GET_KEYS P_BATCH_GET_MAX
#define MAX_GET_TABLES 100u

#define MSG_DUPLICATES "Provided list of item keys contains duplicates"
#define MSG_NOT_SCHEMA "The provided key element does not match the schema"
#define MSG_MAP_KEYS                                                                                       \
  "failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or " \
  "equal to 255, Member must have length greater than or equal to 3, Member must satisfy regular "         \
  "expression pattern: [a-zA-Z0-9_.-]+]"
#define MSG_MAP_VALUES                                                                                      \
  "failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or " \
  "equal to 25, Member must have length greater than or equal to 1]"

/* ---- shapes ------------------------------------------------------------------ */

static const p__member k_put_req_members[] = {{"Item", &p__sh_av_map}, {NULL, NULL}};
static const p__shape sh_put_req = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.PutRequest", NULL,
                                    k_put_req_members};
static const p__member k_del_req_members[] = {{"Key", &p__sh_av_map}, {NULL, NULL}};
static const p__shape sh_del_req = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.DeleteRequest", NULL,
                                    k_del_req_members};
static const p__member k_write_req_members[] = {
    {"PutRequest", &sh_put_req}, {"DeleteRequest", &sh_del_req}, {NULL, NULL}};
static const p__shape sh_write_req = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.WriteRequest",
                                      NULL, k_write_req_members};
static const p__shape sh_write_reqs = {P_SH_LIST, NULL, &sh_write_req, NULL};
static const p__shape sh_write_map = {
    P_SH_MAP,
    "java.util.Map<java.lang.String, java.util.List<com.amazonaws.dynamodb.v20120810.WriteRequest>>",
    &sh_write_reqs, NULL};
static const p__member k_bw_members[] = {{"RequestItems", &sh_write_map},
                                         {"ReturnConsumedCapacity", &p__sh_string},
                                         {"ReturnItemCollectionMetrics", &p__sh_string},
                                         {NULL, NULL}};
static const p__shape sh_bw = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.BatchWriteItemRequest",
                               NULL, k_bw_members};

static const p__shape sh_key_list = {P_SH_LIST, NULL, &p__sh_av_map, NULL};
static const p__member k_ka_members[] = {{"Keys", &sh_key_list},
                                         {"AttributesToGet", &p__sh_string_list},
                                         {"ConsistentRead", &p__sh_bool},
                                         {"ProjectionExpression", &p__sh_string},
                                         {"ExpressionAttributeNames", &p__sh_string_map},
                                         {NULL, NULL}};
static const p__shape sh_ka = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.KeysAndAttributes", NULL,
                               k_ka_members};
static const p__shape sh_get_map = {
    P_SH_MAP, "java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.KeysAndAttributes>", &sh_ka,
    NULL};
static const p__member k_bg_members[] = {
    {"RequestItems", &sh_get_map}, {"ReturnConsumedCapacity", &p__sh_string}, {NULL, NULL}};
static const p__shape sh_bg = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.BatchGetItemRequest",
                               NULL, k_bg_members};

/* ---- shared helpers ------------------------------------------------------------- */

static bool str_in(const json_t *j, const char *const *set) {
  if (!json_is_string(j)) return false;
  for (; *set; set++)
    if (!strcmp(json_string_value(j), *set)) return true;
  return false;
}

static const char *const k_rcc[] = {"INDEXES", "TOTAL", "NONE", NULL};
static const char *const k_ricm[] = {"SIZE", "NONE", NULL};

static int body_check(const json_t *body, const p__shape *sh, p_error *err) {
  if (!json_is_object(body)) return p_error_set(err, P_SERIALIZATION, NULL);
  return p__shape_check(body, sh, err);
}

/* Java String.length() of UTF-8 text (UTF-16 code units). */
static size_t java_len(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c & 0xC0) != 0x80) n += c >= 0xF0 ? 2 : 1;
  }
  return n;
}

/* TableName rule on a RequestItems map key: 3..255 and the pattern. */
static bool table_key_ok(const char *name) {
  size_t len = strlen(name), n = java_len(name, len);
  return n >= 3 && n <= 255 && p__table_name_chars_ok(name, len);
}

static bool any_bad_table_key(const json_t *map) {
  const char *k;
  const json_t *v;
  json_object_foreach((json_t *)map, k, v) if (!table_key_ok(k)) return true;
  return false;
}

/* ---- Java toString of BatchWriteItem's RequestItems ------------------------------- */

/* The toString of a request of many small values is several times its JSON
 * size: the echo stops growing past this many bytes and ends in "...". */
#define ECHO_MAX ((size_t)1 << 20)

static void sb_str(p__sbuf *b, const char *s) {
  if (b->len <= ECHO_MAX) p__sbuf_add(b, s, strlen(s));
}

static void sb_json_str(p__sbuf *b, const json_t *s) {
  if (b->len <= ECHO_MAX) p__sbuf_add(b, json_string_value(s), json_string_length(s));
}

/* java.nio.ByteBuffer.toString() of a decoded blob (the text passed the
 * shape check, so it is valid base64). */
static void java_blob(p__sbuf *b, const json_t *s) {
  size_t n = json_is_string(s) ? p__b64_decoded_len(json_string_value(s), json_string_length(s)) : 0;
  if (b->len <= ECHO_MAX) p__sbuf_addf(b, "java.nio.HeapByteBuffer[pos=0 lim=%zu cap=%zu]", n, n);
}

static void java_av(p__sbuf *b, const json_t *av);
static void java_write_request(p__sbuf *b, const json_t *wr);

static void java_av_map(p__sbuf *b, const json_t *m) {
  if (!json_is_object(m)) {
    sb_str(b, "null");
    return;
  }
  const char *k;
  const json_t *v;
  int first = 1;
  sb_str(b, "{");
  json_object_foreach((json_t *)m, k, v) {
    if (b->len > ECHO_MAX) return;
    if (!first) sb_str(b, ", ");
    first = 0;
    sb_str(b, k);
    sb_str(b, "=");
    java_av(b, v);
  }
  sb_str(b, "}");
}

/* A List<...> member: elements rendered by kind ('s' string, 'b' blob, 'v'
 * AttributeValue, 'w' WriteRequest). */
static void java_list(p__sbuf *b, const json_t *l, char kind) {
  if (!json_is_array(l)) {
    sb_str(b, "null");
    return;
  }
  size_t i;
  const json_t *e;
  sb_str(b, "[");
  json_array_foreach(l, i, e) {
    if (b->len > ECHO_MAX) return;
    if (i) sb_str(b, ", ");
    if (json_is_null(e))
      sb_str(b, "null");
    else if (kind == 's')
      sb_json_str(b, e);
    else if (kind == 'b')
      java_blob(b, e);
    else if (kind == 'w')
      java_write_request(b, e);
    else
      java_av(b, e);
  }
  sb_str(b, "]");
}

static void java_bool(p__sbuf *b, const json_t *x) {
  sb_str(b, x ? (p__bool_value(x) ? "true" : "false") : "null");
}

/* AttributeValue(s=..., n=..., b=..., sS=..., nS=..., bS=..., m=..., l=...,
 * nULL=..., bOOL=...): botocore's member order, Lombok's field names. */
static void java_av(p__sbuf *b, const json_t *av) {
  if (!json_is_object(av)) {
    sb_str(b, "null");
    return;
  }
  const json_t *x;
  sb_str(b, "AttributeValue(s=");
  if ((x = p__member_get(av, "S")))
    sb_json_str(b, x);
  else
    sb_str(b, "null");
  sb_str(b, ", n=");
  if ((x = p__member_get(av, "N")))
    sb_json_str(b, x);
  else
    sb_str(b, "null");
  sb_str(b, ", b=");
  if ((x = p__member_get(av, "B")))
    java_blob(b, x);
  else
    sb_str(b, "null");
  sb_str(b, ", sS=");
  java_list(b, p__member_get(av, "SS"), 's');
  sb_str(b, ", nS=");
  java_list(b, p__member_get(av, "NS"), 's');
  sb_str(b, ", bS=");
  java_list(b, p__member_get(av, "BS"), 'b');
  sb_str(b, ", m=");
  java_av_map(b, p__member_get(av, "M"));
  sb_str(b, ", l=");
  java_list(b, p__member_get(av, "L"), 'v');
  sb_str(b, ", nULL=");
  java_bool(b, p__member_get(av, "NULL"));
  sb_str(b, ", bOOL=");
  java_bool(b, p__member_get(av, "BOOL"));
  sb_str(b, ")");
}

static void java_write_request(p__sbuf *b, const json_t *wr) {
  if (!json_is_object(wr)) {
    sb_str(b, "null");
    return;
  }
  const json_t *put = p__member_get(wr, "PutRequest"), *del = p__member_get(wr, "DeleteRequest");
  sb_str(b, "WriteRequest(putRequest=");
  if (put) {
    sb_str(b, "PutRequest(item=");
    java_av_map(b, p__member_get(put, "Item"));
    sb_str(b, ", workloadProfileName=null)");
  } else {
    sb_str(b, "null");
  }
  sb_str(b, ", deleteRequest=");
  if (del) {
    sb_str(b, "DeleteRequest(key=");
    java_av_map(b, p__member_get(del, "Key"));
    sb_str(b, ", workloadProfileName=null)");
  } else {
    sb_str(b, "null");
  }
  sb_str(b, ")");
}

/* {t=[WriteRequest(...), ...], u=[...]}: malloc'd. */
static char *java_request_items(const json_t *map) {
  p__sbuf b = {0};
  const char *k;
  const json_t *v;
  int first = 1;
  sb_str(&b, "{");
  json_object_foreach((json_t *)map, k, v) {
    if (!first) sb_str(&b, ", ");
    first = 0;
    sb_str(&b, k);
    sb_str(&b, "=");
    java_list(&b, v, 'w');
    if (b.len > ECHO_MAX) break;
  }
  if (b.len > ECHO_MAX)
    p__sbuf_add(&b, "...", 3);
  else
    sb_str(&b, "}");
  return b.p;
}

/* ---- BatchWriteItem ------------------------------------------------------------- */

static int bw_constraints(const json_t *body, p_error *err) {
  p__verrs v;
  p__verrs_init(&v);
  const json_t *x = p__member_get(body, "ReturnConsumedCapacity");
  if (x && !str_in(x, k_rcc))
    p__verr_enum(&v, json_string_value(x), "returnConsumedCapacity", "INDEXES, TOTAL, NONE");
  x = p__member_get(body, "ReturnItemCollectionMetrics");
  if (x && !str_in(x, k_ricm))
    p__verr_enum(&v, json_string_value(x), "returnItemCollectionMetrics", "SIZE, NONE");
  const json_t *ri = p__member_get(body, "RequestItems");
  if (!ri) {
    p__verr_null(&v, "requestItems");
  } else if (json_object_size(ri) > 0) {
    char *echo = NULL;
    if (json_object_size(ri) > MAX_WRITES) {
      echo = java_request_items(ri);
      p__verrs_add(&v,
                   "Value '%s' at 'requestItems' failed to satisfy constraint: Member must have length less "
                   "than or equal to 25",
                   echo);
    }
    if (any_bad_table_key(ri)) {
      if (!echo) echo = java_request_items(ri);
      p__verrs_add(&v, "Value '%s' at 'requestItems' " MSG_MAP_KEYS, echo);
    }
    const char *k;
    const json_t *l;
    bool bad_len = false;
    json_object_foreach((json_t *)ri, k, l) {
      size_t n = json_array_size(l); /* 0 for JSON null */
      if (n < 1 || n > MAX_WRITES) bad_len = true;
    }
    if (bad_len) {
      if (!echo) echo = java_request_items(ri);
      p__verrs_add(&v, "Value '%s' at 'requestItems' " MSG_MAP_VALUES, echo);
    }
    free(echo);
    /* Required members inside each WriteRequest. */
    json_object_foreach((json_t *)ri, k, l) {
      size_t i;
      const json_t *wr;
      json_array_foreach(l, i, wr) {
        const json_t *put = p__member_get(wr, "PutRequest"), *del = p__member_get(wr, "DeleteRequest");
        if (put && !p__member_get(put, "Item"))
          p__verrs_add(&v,
                       "Value null at 'requestItems.%s.member.putRequest.item' failed to satisfy constraint: "
                       "Member must not be null",
                       k);
        if (del && !p__member_get(del, "Key"))
          p__verrs_add(&v,
                       "Value null at 'requestItems.%s.member.deleteRequest.key' failed to satisfy "
                       "constraint: Member must not be null",
                       k);
      }
    }
  }
  if (p__verrs_finish(&v, err)) return -1;
  if (json_object_size(ri) == 0)
    return p_error_set(err, P_VALIDATION, "The requestItems parameter is required for BatchWriteItem");
  return 0;
}

int p_parse_batch_write(const json_t *body, dv_arena *a, p_batch_write *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (body_check(body, &sh_bw, err)) return -1;
  if (bw_constraints(body, err)) return -1;
  const json_t *ri = p__member_get(body, "RequestItems");
  size_t nt = json_object_size(ri);
  p_batch_write_table *tables = dv_arena_calloc(a, sizeof(*tables) * nt);
  size_t ti = 0, total = 0;
  const char *k;
  const json_t *l;
  json_object_foreach((json_t *)ri, k, l) {
    p_batch_write_table *t = &tables[ti++];
    size_t n = json_array_size(l);
    t->table_name = dv_arena_strndup(a, k, strlen(k));
    t->reqs = dv_arena_calloc(a, sizeof(*t->reqs) * (n ? n : 1));
    t->n_reqs = n;
    for (size_t i = 0; i < n; i++) {
      const json_t *wr = json_array_get(l, i);
      const json_t *put = p__member_get(wr, "PutRequest"), *del = p__member_get(wr, "DeleteRequest");
      if ((put != NULL) == (del != NULL))
        return p_error_set(
            err, P_VALIDATION,
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one "
            "of the supported datatypes");
      p_batch_write_req *r = &t->reqs[i];
      r->is_put = put != NULL;
      const json_t *m = put ? p__member_get(put, "Item") : p__member_get(del, "Key");
      if (p__item_convert(m, P_LAYER_OLDER, a, &r->item, err)) return -1;
      if (r->is_put && dv_item_size(&r->item) > MAX_ITEM_SIZE)
        return p_error_set(err, P_VALIDATION, "Item size has exceeded the maximum allowed size");
    }
    total += n;
  }
  if (total > MAX_WRITES)
    return p_error_set(err, P_VALIDATION, "Too many items requested for the BatchWriteItem call");
  out->tables = tables;
  out->n_tables = nt;
  out->n_reqs = total;
  out->rcc = p__rcc_from(json_string_value(p__member_get(body, "ReturnConsumedCapacity")));
  const json_t *ricm = p__member_get(body, "ReturnItemCollectionMetrics");
  out->ricm_size = json_is_string(ricm) && !strcmp(json_string_value(ricm), "SIZE");
  return 0;
}

static const dv_value *attr_of(const dv_value *m, const char *name) {
  return name ? dv_map_get(m, name, strlen(name)) : NULL;
}

/* The key attributes of a request against the schema: exactly the key for a
 * DeleteRequest, present with the declared types in a PutRequest's item.
 * Fills kv[0..1] (hash, range) on success. */
static int write_key_check(const p_key_schema *ks, const p_batch_write_req *r, const dv_value *kv[2],
                           p_error *err) {
  if (!r->is_put) {
    if (p_check_key(ks, &r->item, err)) return -1;
    kv[0] = attr_of(&r->item, ks->hash_name);
    kv[1] = attr_of(&r->item, ks->range_name);
    return 0;
  }
  kv[0] = attr_of(&r->item, ks->hash_name);
  kv[1] = attr_of(&r->item, ks->range_name);
  if (!kv[0] || kv[0]->type != ks->hash_type || (ks->range_name && (!kv[1] || kv[1]->type != ks->range_type)))
    return p_error_set(err, P_VALIDATION, MSG_NOT_SCHEMA);
  /* The key alone, as a sorted map, for the empty-value and size checks. */
  dv_attr attrs[2];
  dv_value key = {.type = DV_M, .n = 1, .u.attrs = attrs};
  attrs[0] = (dv_attr){ks->hash_name, (uint32_t)strlen(ks->hash_name), *kv[0]};
  if (ks->range_name) {
    dv_attr r2 = {ks->range_name, (uint32_t)strlen(ks->range_name), *kv[1]};
    if (strcmp(ks->range_name, ks->hash_name) < 0) {
      attrs[1] = attrs[0];
      attrs[0] = r2;
    } else {
      attrs[1] = r2;
    }
    key.n = 2;
  }
  return p_check_key(ks, &key, err);
}

int p_check_batch_write_table(const p_key_schema *ks, const p_batch_write_table *t, p_error *err) {
  const dv_value **keys = p__xmalloc(sizeof(*keys) * 2 * (t->n_reqs ? t->n_reqs : 1));
  int rc = 0;
  for (size_t i = 0; i < t->n_reqs && rc == 0; i++) {
    const dv_value *kv[2] = {NULL, NULL};
    if (write_key_check(ks, &t->reqs[i], kv, err)) {
      rc = -1;
      break;
    }
    keys[2 * i] = kv[0];
    keys[2 * i + 1] = kv[1];
    for (size_t j = 0; j < i; j++)
      if (dv_equal(keys[2 * j], kv[0]) && (!kv[1] || dv_equal(keys[2 * j + 1], kv[1]))) {
        rc = p_error_set(err, P_VALIDATION, MSG_DUPLICATES);
        break;
      }
  }
  free(keys);
  return rc;
}

/* ---- BatchGetItem ----------------------------------------------------------------- */

static int bg_constraints(const json_t *body, p_error *err) {
  p__verrs v;
  p__verrs_init(&v);
  const json_t *x = p__member_get(body, "ReturnConsumedCapacity");
  if (x && !str_in(x, k_rcc))
    p__verr_enum(&v, json_string_value(x), "returnConsumedCapacity", "INDEXES, TOTAL, NONE");
  const json_t *ri = p__member_get(body, "RequestItems");
  if (!ri) {
    p__verr_null(&v, "requestItems");
  } else {
    size_t nt = json_object_size(ri);
    if (nt < 1)
      p__verrs_add(&v,
                   "Value at 'RequestItems' failed to satisfy constraint: Member must have length greater "
                   "than or equal to 1");
    if (nt > MAX_GET_TABLES)
      p__verrs_add(&v,
                   "Value at 'RequestItems' failed to satisfy constraint: Member must have length less "
                   "than or equal to 100");
    if (any_bad_table_key(ri)) {
      char *echo = json_dumps(ri, JSON_COMPACT | JSON_PRESERVE_ORDER);
      p__verrs_add(&v, "Value '%s' at 'requestItems' " MSG_MAP_KEYS, echo ? echo : "");
      free(echo);
    }
    const char *k;
    const json_t *ka;
    json_object_foreach((json_t *)ri, k, ka) {
      const json_t *keys = p__member_get(ka, "Keys");
      if (!keys)
        p__verrs_add(&v,
                     "Value at 'RequestItems.%s.member.Keys' failed to satisfy constraint: Member must not "
                     "be null",
                     k);
      else if (json_array_size(keys) < 1)
        p__verrs_add(&v,
                     "Value at 'RequestItems.%s.member.Keys' failed to satisfy constraint: Member must have "
                     "length greater than or equal to 1",
                     k);
      else if (json_array_size(keys) > MAX_GET_KEYS)
        p__verrs_add(&v,
                     "Value at 'RequestItems.%s.member.Keys' failed to satisfy constraint: Member must have "
                     "length less than or equal to 100",
                     k);
      const json_t *atg = p__member_get(ka, "AttributesToGet");
      if (atg && json_array_size(atg) == 0)
        p__verrs_add(&v,
                     "Value at 'RequestItems.%s.member.AttributesToGet' failed to satisfy constraint: "
                     "Member must have length greater than or equal to 1",
                     k);
    }
  }
  return p__verrs_finish(&v, err);
}

/* One table's KeysAndAttributes (semantics, step 10). *count runs over the
 * whole request. */
static int bg_table(const char *name, const json_t *ka, dv_arena *a, p_batch_get_table *t, size_t *count,
                    p_error *err) {
  /* Projection first, as GetItem does (expressions.md 9): mixing with
   * AttributesToGet, names without an expression, the expression, unused
   * names. */
  static const char *const legacy[] = {"AttributesToGet", NULL};
  static const char *const exprs[] = {"ProjectionExpression", NULL};
  p__req_exprs x;
  if (p__exprs_begin(ka, legacy, exprs, false, a, &x, err)) return -1;
  const json_t *pe = p__member_get(ka, "ProjectionExpression");
  if (pe) {
    if (expr_parse_projection(json_string_value(pe), json_string_length(pe), x.ean, &x.usage, a,
                              &t->projection, err))
      return -1;
    t->projection_text = dv_arena_strndup(a, json_string_value(pe), json_string_length(pe));
  }
  if (expr_check_unused(x.ean, NULL, &x.usage, err)) return -1;
  const json_t *ean = p__member_get(ka, "ExpressionAttributeNames");
  if (ean) {
    /* Kept as sent, for UnprocessedKeys. */
    size_t nn = json_object_size(ean), i = 0;
    t->ean_keys = dv_arena_alloc(a, sizeof(char *) * (nn ? nn : 1));
    t->ean_values = dv_arena_alloc(a, sizeof(char *) * (nn ? nn : 1));
    const char *ek;
    const json_t *ev;
    json_object_foreach((json_t *)ean, ek, ev) {
      t->ean_keys[i] = dv_arena_strndup(a, ek, strlen(ek));
      t->ean_values[i] = dv_arena_strndup(a, json_string_value(ev), json_string_length(ev));
      i++;
    }
    t->n_ean = i;
  }
  const json_t *keys = p__member_get(ka, "Keys");
  size_t n = json_array_size(keys);
  t->table_name = dv_arena_strndup(a, name, strlen(name));
  t->keys = dv_arena_calloc(a, sizeof(dv_value) * (n ? n : 1));
  for (size_t i = 0; i < n; i++) {
    if (p__item_convert(json_array_get(keys, i), P_LAYER_CURRENT, a, &t->keys[i], err)) return -1;
    for (size_t j = 0; j < i; j++)
      if (dv_equal(&t->keys[j], &t->keys[i])) return p_error_set(err, P_VALIDATION, MSG_DUPLICATES);
    t->n_keys = i + 1;
    if (++*count > MAX_GET_KEYS)
      return p_error_set(err, P_VALIDATION, "Too many items requested for the BatchGetItem call");
  }
  const json_t *atg = p__member_get(ka, "AttributesToGet");
  if (atg) {
    if (p__attrs_to_get(atg, a, &t->attrs_to_get, &t->n_attrs_to_get, err)) return -1;
    t->projection = expr_projection_from_names(t->attrs_to_get, t->n_attrs_to_get, a);
  }
  const json_t *cr = p__member_get(ka, "ConsistentRead");
  t->consistent_given = cr != NULL;
  t->consistent = cr ? p__bool_value(cr) : 0;
  return 0;
}

int p_parse_batch_get(const json_t *body, dv_arena *a, p_batch_get *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (body_check(body, &sh_bg, err)) return -1;
  if (bg_constraints(body, err)) return -1;
  const json_t *ri = p__member_get(body, "RequestItems");
  size_t nt = json_object_size(ri), ti = 0, count = 0;
  p_batch_get_table *tables = dv_arena_calloc(a, sizeof(*tables) * (nt ? nt : 1));
  const char *k;
  const json_t *ka;
  json_object_foreach((json_t *)ri, k, ka) {
    if (bg_table(k, ka, a, &tables[ti++], &count, err)) return -1;
  }
  out->tables = tables;
  out->n_tables = nt;
  out->n_keys = count;
  out->rcc = p__rcc_from(json_string_value(p__member_get(body, "ReturnConsumedCapacity")));
  return 0;
}

int p_check_batch_get_table(const p_key_schema *ks, const p_batch_get_table *t, p_error *err) {
  for (size_t i = 0; i < t->n_keys; i++)
    if (p_check_key(ks, &t->keys[i], err)) return -1;
  return 0;
}

json_t *p_batch_get_unprocessed(const p_batch_get_table *t, size_t from) {
  json_t *o = json_object();
  json_t *keys = json_array();
  for (size_t i = from; i < t->n_keys; i++) json_array_append_new(keys, p_item_to_json(&t->keys[i]));
  json_object_set_new(o, "Keys", keys);
  if (t->attrs_to_get) {
    json_t *names = json_array();
    for (size_t i = 0; i < t->n_attrs_to_get; i++)
      json_array_append_new(names, json_string(t->attrs_to_get[i]));
    json_object_set_new(o, "AttributesToGet", names);
  }
  if (t->projection_text) json_object_set_new(o, "ProjectionExpression", json_string(t->projection_text));
  if (t->n_ean) {
    json_t *names = json_object();
    for (size_t i = 0; i < t->n_ean; i++) json_object_set_new(names, t->ean_keys[i], json_string(t->ean_values[i]));
    json_object_set_new(o, "ExpressionAttributeNames", names);
  }
  if (t->consistent_given) json_object_set_new(o, "ConsistentRead", json_boolean(t->consistent));
  return o;
}
