/*
 * streams.c -- the DynamoDB Streams side of the protocol (streams-ttl.md
 * 2, 4 and 5): the four DynamoDBStreams_20120810 requests checked with
 * DynamoDB's messages, stream ARNs and labels, sequence-number text, shard
 * iterators and the JSON of one stream record.
 *
 * Request checks, in this order (the first failure answers):
 *   1. shapes (SerializationException, protocol.md 2.1 step 8);
 *   2. a StreamArn / ExclusiveStartStreamArn that is not a stream ARN:
 *      bare "Invalid StreamArn" (AWS-verified for StreamArn; it wins over the
 *      length constraint) / "Invalid ExclusiveStartStreamArn" (unverified);
 *   3. member constraints joined in the model's member order (required,
 *      lengths, enums, Limit ranges: the server caps ListStreams and
 *      DescribeStream at 100, GetRecords at 1000);
 *   4. GetShardIterator: SequenceNumber given exactly for the
 *      AT_/AFTER_SEQUENCE_NUMBER types (AWS answers a ValidationException;
 *      its wording is unverified, ours is below).
 *
 * Shard iterator text: "<StreamArn>|1|<base64 of the blob>", at most ~470
 * characters for the longest ARN this server makes (limit 2048). The blob,
 * all integers little-endian:
 *
 *   offset  size  meaning
 *   0       1     version, 1
 *   1       8     position: the next sequence number to return (u64)
 *   9       8     issued_ms: issue time, epoch milliseconds (i64, two's complement)
 *   17      1     n: length of the shard id, 1..65
 *   18      n     the shard id (printable ASCII)
 *   18+n    8     XXH64 over the ARN text followed by bytes [0, 18+n), seed K_ITER_SEED
 *
 * Valid iff the text splits as above, the ARN is a stream ARN, the base64 is
 * canonical, the blob is exactly 26+n bytes, version 1, and the checksum
 * matches: anything else (garbage, truncation, an edited byte or ARN) is
 * the ValidationException "Invalid ShardIterator". The checksum catches
 * damage and guessing, it is not a secret: iterators are not credentials.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* Header-only xxhash: protocol/ then links without libxxhash (the fuzz
 * targets compile protocol/ into themselves with jansson only). */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "protocol/protocol_int.h"

#define CLASS(name) "class com.amazonaws.dynamodb.v20120810." name
#define K_ITER_SEED 0x64796e6166696c65ULL /* "dynafile" */
#define ITER_VERSION 1
#define ITER_FIXED 18   /* blob bytes before the shard id */
#define SHARD_ID_MAX 65 /* ShardId: 28..65 characters */
#define LABEL_LEN 23    /* "YYYY-MM-DDTHH:MM:SS.mmm" */

/* ---- shapes (botocore's dynamodbstreams 2012-08-10) ------------------------------ */

static const p__member k_list_members[] = {{"TableName", &p__sh_string},
                                           {"Limit", &p__sh_integer},
                                           {"ExclusiveStartStreamArn", &p__sh_string},
                                           {NULL, NULL}};
static const p__shape sh_list = {P_SH_STRUCT, CLASS("ListStreamsRequest"), NULL, k_list_members};

static const p__member k_filter_members[] = {
    {"Type", &p__sh_string}, {"ShardId", &p__sh_string}, {NULL, NULL}};
static const p__shape sh_filter = {P_SH_STRUCT, CLASS("ShardFilter"), NULL, k_filter_members};
static const p__member k_describe_members[] = {{"StreamArn", &p__sh_string},
                                               {"Limit", &p__sh_integer},
                                               {"ExclusiveStartShardId", &p__sh_string},
                                               {"ShardFilter", &sh_filter},
                                               {NULL, NULL}};
static const p__shape sh_describe = {P_SH_STRUCT, CLASS("DescribeStreamRequest"), NULL, k_describe_members};

static const p__member k_iter_members[] = {{"StreamArn", &p__sh_string},
                                           {"ShardId", &p__sh_string},
                                           {"ShardIteratorType", &p__sh_string},
                                           {"SequenceNumber", &p__sh_string},
                                           {NULL, NULL}};
static const p__shape sh_iter = {P_SH_STRUCT, CLASS("GetShardIteratorRequest"), NULL, k_iter_members};

static const p__member k_records_members[] = {
    {"ShardIterator", &p__sh_string}, {"Limit", &p__sh_integer}, {NULL, NULL}};
static const p__shape sh_records = {P_SH_STRUCT, CLASS("GetRecordsRequest"), NULL, k_records_members};

/* ---- helpers ------------------------------------------------------------------ */

static int body_check(const json_t *body, const p__shape *sh, p_error *err) {
  if (!json_is_object(body)) return p_error_set(err, P_SERIALIZATION, NULL);
  return p__shape_check(body, sh, err);
}

static long long long_value(const json_t *j) {
  if (json_is_integer(j)) return (long long)json_integer_value(j);
  double d = json_real_value(j);
  if (d >= 9.2e18) return INT64_MAX;
  if (d <= -9.2e18) return INT64_MIN;
  return (long long)d;
}

/* Limit: 1..max (the model's minimum, the server's maximum). *out = the
 * value, or dflt when absent. */
static void limit_constraints(p__verrs *v, const json_t *lim, long long max, int dflt, int *out) {
  long long l = lim ? long_value(lim) : dflt;
  if (lim && l < 1)
    p__verrs_add(
        v,
        "Value '%lld' at 'limit' failed to satisfy constraint: Member must have value greater than or "
        "equal to 1",
        l);
  if (lim && l > max)
    p__verrs_add(v,
                 "Value '%lld' at 'limit' failed to satisfy constraint: Member must have value less than or "
                 "equal to %lld",
                 l, max);
  *out = l >= 1 && l <= max ? (int)l : dflt;
}

/* A string member with length bounds; required ones report null. */
static void string_member(p__verrs *v, const json_t *j, const char *path, size_t min, size_t max,
                          int required) {
  if (!j) {
    if (required) p__verr_null(v, path);
    return;
  }
  p__verr_string(v, json_string_value(j), json_string_length(j), path, min, max, NULL);
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* ---- ARNs, labels, sequence numbers ------------------------------------------------ */

/* Label "YYYY-MM-DDTHH:MM:SS.mmm": digits where the pattern has them. */
static int label_ok(const char *s, size_t n) {
  static const char pattern[] = "dddd-dd-ddTdd:dd:dd.ddd";
  if (n != LABEL_LEN) return 0;
  for (size_t i = 0; i < n; i++)
    if (pattern[i] == 'd' ? !is_digit(s[i]) : s[i] != pattern[i]) return 0;
  return 1;
}

/* Span of characters accepted by ok() starting at s; stops at NUL. */
static size_t span(const char *s, int (*ok)(char)) {
  size_t n = 0;
  while (s[n] && ok(s[n])) n++;
  return n;
}
static int partition_char(char c) {
  return (c >= 'a' && c <= 'z') || c == '-';
}
static int region_char(char c) {
  return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-';
}
static int table_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '.' || c == '-';
}

int p_stream_arn_parse(const char *arn, dv_arena *a, const char **table, const char **label) {
  if (table) *table = NULL;
  if (label) *label = NULL;
  if (!arn || strncmp(arn, "arn:", 4)) return -1;
  const char *p = arn + 4;
  size_t n = span(p, partition_char);
  if (n == 0 || strncmp(p + n, ":dynamodb:", 10)) return -1;
  p += n + 10;
  n = span(p, region_char);
  if (n == 0 || p[n] != ':') return -1;
  p += n + 1;
  n = span(p, is_digit);
  if (n != 12 || strncmp(p + n, ":table/", 7)) return -1;
  p += n + 7;
  const char *name = p;
  size_t name_len = span(p, table_char);
  if (name_len < 3 || name_len > 255 || strncmp(p + name_len, "/stream/", 8)) return -1;
  p += name_len + 8;
  if (!label_ok(p, strlen(p))) return -1;
  if (a && table) *table = dv_arena_strndup(a, name, name_len);
  if (a && label) *label = dv_arena_strndup(a, p, LABEL_LEN);
  return 0;
}

char *p_stream_arn(const p_context *ctx, const char *table, const char *label) {
  const char *fmt = "arn:aws:dynamodb:%s:%s:table/%s/stream/%s";
  int n = snprintf(NULL, 0, fmt, ctx->region, ctx->account, table, label);
  char *s = p__xmalloc((size_t)(n > 0 ? n : 0) + 1);
  snprintf(s, (size_t)(n > 0 ? n : 0) + 1, fmt, ctx->region, ctx->account, table, label);
  return s;
}

/* Days since 1970-01-01 -> civil date (proleptic Gregorian; H. Hinnant's
 * algorithm), for days >= 0. */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = z / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t yy = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int)(yy + (*m <= 2));
}

void p_stream_label(int64_t ms, char out[24]) {
  /* Clamp to 1970-01-01 .. 9999-12-31T23:59:59.999 so that the text keeps
   * its fixed width. */
  if (ms < 0) ms = 0;
  if (ms > 253402300799999LL) ms = 253402300799999LL;
  int64_t secs = ms / 1000, days = secs / 86400;
  unsigned sod = (unsigned)(secs % 86400);
  int y;
  unsigned mo, d;
  civil_from_days(days, &y, &mo, &d);
  char tmp[64]; /* wide enough for any int the compiler imagines */
  snprintf(tmp, sizeof tmp, "%04d-%02u-%02uT%02u:%02u:%02u.%03u", y, mo, d, sod / 3600, sod / 60 % 60,
           sod % 60, (unsigned)(ms % 1000));
  memcpy(out, tmp, LABEL_LEN);
  out[LABEL_LEN] = '\0';
}

void p_seq_format(uint64_t seq, char out[24]) {
  snprintf(out, 24, "%021" PRIu64, seq);
}

/* ---- ListStreams ------------------------------------------------------------------ */

int p_parse_list_streams(const json_t *body, dv_arena *a, p_list_streams *out, p_error *err) {
  memset(out, 0, sizeof *out);
  out->limit = 100;
  if (body_check(body, &sh_list, err)) return -1;
  const json_t *es = p__member_get(body, "ExclusiveStartStreamArn");
  if (es && p_stream_arn_parse(json_string_value(es), NULL, NULL, NULL))
    return p_error_set(err, P_VALIDATION, "Invalid ExclusiveStartStreamArn");
  p__verrs v;
  p__verrs_init(&v);
  const json_t *tn = p__member_get(body, "TableName");
  if (tn) p__table_name_constraints(&v, tn, "tableName");
  limit_constraints(&v, p__member_get(body, "Limit"), 100, 100, &out->limit);
  string_member(&v, es, "exclusiveStartStreamArn", 37, 1024, 0);
  if (p__verrs_finish(&v, err)) return -1;
  out->table_name = p__member_str(body, "TableName", a, NULL);
  out->exclusive_start = p__member_str(body, "ExclusiveStartStreamArn", a, NULL);
  return 0;
}

/* ---- DescribeStream ---------------------------------------------------------------- */

static int stream_arn_check(const json_t *body, p_error *err) {
  const json_t *arn = p__member_get(body, "StreamArn");
  if (arn && p_stream_arn_parse(json_string_value(arn), NULL, NULL, NULL))
    return p_error_set(err, P_VALIDATION, "Invalid StreamArn");
  return 0;
}

int p_parse_describe_stream(const json_t *body, dv_arena *a, p_describe_stream *out, p_error *err) {
  memset(out, 0, sizeof *out);
  out->limit = 100;
  if (body_check(body, &sh_describe, err)) return -1;
  if (stream_arn_check(body, err)) return -1;
  p__verrs v;
  p__verrs_init(&v);
  string_member(&v, p__member_get(body, "StreamArn"), "streamArn", 37, 1024, 1);
  limit_constraints(&v, p__member_get(body, "Limit"), 100, 100, &out->limit);
  string_member(&v, p__member_get(body, "ExclusiveStartShardId"), "exclusiveStartShardId", 28, 65, 0);
  const json_t *f = p__member_get(body, "ShardFilter");
  if (f) {
    /* The model leaves both members optional; a filter without them means
     * nothing, so we ask for both (AWS's answer unverified). */
    const json_t *t = p__member_get(f, "Type");
    if (!t)
      p__verr_null(&v, "shardFilter.type");
    else if (strcmp(json_string_value(t), "CHILD_SHARDS") || json_string_length(t) != 12)
      p__verr_enum(&v, json_string_value(t), "shardFilter.type", "CHILD_SHARDS");
    string_member(&v, p__member_get(f, "ShardId"), "shardFilter.shardId", 28, 65, 1);
  }
  if (p__verrs_finish(&v, err)) return -1;
  out->arn = p__member_str(body, "StreamArn", a, NULL);
  out->exclusive_start_shard = p__member_str(body, "ExclusiveStartShardId", a, NULL);
  out->filter_parent = f ? p__member_str(f, "ShardId", a, NULL) : NULL;
  return 0;
}

/* ---- GetShardIterator -------------------------------------------------------------- */

static const char *const k_iter_types[] = {NULL, "TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER",
                                           "AFTER_SEQUENCE_NUMBER"};

int p_parse_get_shard_iterator(const json_t *body, dv_arena *a, p_get_shard_iterator *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (body_check(body, &sh_iter, err)) return -1;
  if (stream_arn_check(body, err)) return -1;
  p__verrs v;
  p__verrs_init(&v);
  string_member(&v, p__member_get(body, "StreamArn"), "streamArn", 37, 1024, 1);
  string_member(&v, p__member_get(body, "ShardId"), "shardId", 28, 65, 1);
  const json_t *t = p__member_get(body, "ShardIteratorType");
  p_iter_type type = 0;
  if (!t) {
    p__verr_null(&v, "shardIteratorType");
  } else {
    for (int i = P_ITER_TRIM_HORIZON; i <= P_ITER_AFTER_SEQUENCE_NUMBER; i++)
      if (!strcmp(json_string_value(t), k_iter_types[i]) && json_string_length(t) == strlen(k_iter_types[i]))
        type = (p_iter_type)i;
    if (!type)
      p__verr_enum(&v, json_string_value(t), "shardIteratorType",
                   "TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER");
  }
  const json_t *sq = p__member_get(body, "SequenceNumber");
  const char *s = json_string_value(sq);
  size_t sn = json_string_length(sq);
  if (sq) {
    /* The model has lengths only; AWS also refuses non-digits with a
     * constraint item (streams-ttl.md 5.3; the pattern text is ours). */
    size_t i = 0;
    while (i < sn && is_digit(s[i])) i++;
    if (i < sn || sn == 0)
      p__verrs_add(&v,
                   "Value '%s' at 'sequenceNumber' failed to satisfy constraint: Member must satisfy regular "
                   "expression pattern: [0-9]+",
                   s);
    string_member(&v, sq, "sequenceNumber", 21, 40, 0);
  }
  if (p__verrs_finish(&v, err)) return -1;
  /* Type and SequenceNumber must agree (messages ours: AWS's unverified). */
  bool needs_seq = type == P_ITER_AT_SEQUENCE_NUMBER || type == P_ITER_AFTER_SEQUENCE_NUMBER;
  if (needs_seq && !sq)
    return p_error_set(err, P_VALIDATION, "SequenceNumber must be specified when ShardIteratorType is %s",
                       k_iter_types[type]);
  if (!needs_seq && sq)
    return p_error_set(err, P_VALIDATION, "SequenceNumber must not be specified when ShardIteratorType is %s",
                       k_iter_types[type]);
  out->arn = p__member_str(body, "StreamArn", a, NULL);
  out->shard_id = p__member_str(body, "ShardId", a, NULL);
  out->type = type;
  if (sq) {
    out->has_seq = 1;
    uint64_t x = 0;
    for (size_t i = 0; i < sn; i++) {
      unsigned dgt = (unsigned)(s[i] - '0');
      if (x > (UINT64_MAX - dgt) / 10) {
        x = UINT64_MAX;
        break;
      }
      x = x * 10 + dgt;
    }
    out->seq = x;
  }
  return 0;
}

/* ---- GetRecords ----------------------------------------------------------------------- */

int p_parse_get_records(const json_t *body, dv_arena *a, p_get_records *out, p_error *err) {
  memset(out, 0, sizeof *out);
  out->limit = 1000;
  if (body_check(body, &sh_records, err)) return -1;
  p__verrs v;
  p__verrs_init(&v);
  string_member(&v, p__member_get(body, "ShardIterator"), "shardIterator", 1, 2048, 1);
  limit_constraints(&v, p__member_get(body, "Limit"), 1000, 1000, &out->limit);
  if (p__verrs_finish(&v, err)) return -1;
  out->iterator = p__member_str(body, "ShardIterator", a, NULL);
  return 0;
}

/* ---- shard iterators ------------------------------------------------------------------- */

static void put_u64(uint8_t *p, uint64_t x) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(x >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p) {
  uint64_t x = 0;
  for (int i = 0; i < 8; i++) x |= (uint64_t)p[i] << (8 * i);
  return x;
}

static uint64_t iter_checksum(const char *arn, size_t arn_len, const uint8_t *blob, size_t n) {
  XXH64_state_t st;
  XXH64_reset(&st, K_ITER_SEED);
  XXH64_update(&st, arn, arn_len);
  XXH64_update(&st, blob, n);
  return XXH64_digest(&st);
}

char *p_iterator_format(const p_iterator *it) {
  size_t arn_len = strlen(it->arn), sid_len = strlen(it->shard_id);
  if (sid_len > SHARD_ID_MAX) sid_len = SHARD_ID_MAX; /* never for the server's shard ids */
  uint8_t blob[ITER_FIXED + SHARD_ID_MAX + 8];
  blob[0] = ITER_VERSION;
  put_u64(blob + 1, it->position);
  put_u64(blob + 9, (uint64_t)it->issued_ms);
  blob[17] = (uint8_t)sid_len;
  memcpy(blob + ITER_FIXED, it->shard_id, sid_len);
  size_t n = ITER_FIXED + sid_len;
  put_u64(blob + n, iter_checksum(it->arn, arn_len, blob, n));
  n += 8;
  size_t b64 = p__b64_encoded_len(n);
  char *s = p__xmalloc(arn_len + 3 + b64 + 1);
  memcpy(s, it->arn, arn_len);
  memcpy(s + arn_len, "|1|", 3);
  p__b64_encode(blob, n, s + arn_len + 3);
  return s;
}

int p_iterator_parse(const char *text, dv_arena *a, p_iterator *out, p_error *err) {
  memset(out, 0, sizeof *out);
  const char *bar = text ? strchr(text, '|') : NULL;
  if (!bar || strncmp(bar, "|1|", 3)) goto invalid;
  size_t arn_len = (size_t)(bar - text);
  const char *b64 = bar + 3;
  size_t b64_len = strlen(b64);
  /* The largest valid blob encodes to 4 * ceil(91 / 3) = 124 characters. */
  if (b64_len == 0 || b64_len > p__b64_encoded_len(ITER_FIXED + SHARD_ID_MAX + 8)) goto invalid;
  p_error scratch;
  p_error_init(&scratch);
  int bad64 = p__b64_check(b64, b64_len, &scratch);
  p_error_clear(&scratch);
  if (bad64) goto invalid;
  uint8_t blob[ITER_FIXED + SHARD_ID_MAX + 8];
  size_t n = p__b64_decoded_len(b64, b64_len);
  if (n < ITER_FIXED + 1 + 8 || n > sizeof blob) goto invalid;
  p__b64_decode(b64, b64_len, blob);
  size_t sid_len = blob[17];
  if (blob[0] != ITER_VERSION || sid_len < 1 || sid_len > SHARD_ID_MAX || n != ITER_FIXED + sid_len + 8)
    goto invalid;
  for (size_t i = 0; i < sid_len; i++)
    if (blob[ITER_FIXED + i] < 0x21 || blob[ITER_FIXED + i] > 0x7e) goto invalid;
  if (get_u64(blob + ITER_FIXED + sid_len) != iter_checksum(text, arn_len, blob, ITER_FIXED + sid_len))
    goto invalid;
  char *arn = dv_arena_strndup(a, text, arn_len);
  if (p_stream_arn_parse(arn, NULL, NULL, NULL)) goto invalid;
  out->arn = arn;
  out->shard_id = dv_arena_strndup(a, (const char *)blob + ITER_FIXED, sid_len);
  out->position = get_u64(blob + 1);
  out->issued_ms = (int64_t)get_u64(blob + 9);
  return 0;
invalid:
  memset(out, 0, sizeof *out);
  return p_error_set(err, P_VALIDATION, "Invalid ShardIterator");
}

/* ---- stream records ----------------------------------------------------------------------- */

static int image_present(const dv_value *v) {
  return v && v->type == DV_M;
}

void p__write_stream_record(p_buf *b, const p_stream_record *r,
                            void (*write_item)(p_buf *b, const dv_value *item)) {
  static const char *const names[4] = {"MODIFY", "INSERT", "MODIFY", "REMOVE"};
  const char *event = names[r->kind >= 1 && r->kind <= 3 ? r->kind : 0];
  char num[32];
  p_buf_puts(b, "{\"eventID\":");
  p_write_json_string(b, r->event_id ? r->event_id : "", r->event_id ? strlen(r->event_id) : 0);
  p_buf_puts(b, ",\"eventName\":\"");
  p_buf_puts(b, event);
  p_buf_puts(b, "\",\"eventVersion\":\"1.1\",\"eventSource\":\"aws:dynamodb\",\"awsRegion\":");
  p_write_json_string(b, r->region ? r->region : "", r->region ? strlen(r->region) : 0);
  if (r->ttl)
    p_buf_puts(b, ",\"userIdentity\":{\"PrincipalId\":\"dynamodb.amazonaws.com\",\"Type\":\"Service\"}");
  /* Whole seconds, rounded down (also before 1970). */
  int64_t secs = r->time_ms / 1000 - (r->time_ms % 1000 < 0);
  snprintf(num, sizeof num, "%" PRId64, secs);
  p_buf_puts(b, ",\"dynamodb\":{\"ApproximateCreationDateTime\":");
  p_buf_puts(b, num);
  p_buf_puts(b, ",\"Keys\":");
  write_item(b, r->keys);
  /* Images the view carries (a view of P_VIEW_NONE filters nothing). */
  int want_new =
      r->view == P_VIEW_NONE || r->view == P_VIEW_NEW_IMAGE || r->view == P_VIEW_NEW_AND_OLD_IMAGES;
  int want_old =
      r->view == P_VIEW_NONE || r->view == P_VIEW_OLD_IMAGE || r->view == P_VIEW_NEW_AND_OLD_IMAGES;
  if (want_new && image_present(r->new_image)) {
    p_buf_puts(b, ",\"NewImage\":");
    write_item(b, r->new_image);
  }
  if (want_old && image_present(r->old_image)) {
    p_buf_puts(b, ",\"OldImage\":");
    write_item(b, r->old_image);
  }
  char seq[24];
  p_seq_format(r->seq, seq);
  p_buf_puts(b, ",\"SequenceNumber\":\"");
  p_buf_puts(b, seq);
  snprintf(num, sizeof num, "%" PRIu64, r->size_bytes);
  p_buf_puts(b, "\",\"SizeBytes\":");
  p_buf_puts(b, num);
  const char *view = p_view_name(r->view);
  if (view) {
    p_buf_puts(b, ",\"StreamViewType\":\"");
    p_buf_puts(b, view);
    p_buf_puts(b, "\"");
  }
  p_buf_puts(b, "}}");
}

void p_write_stream_record(p_buf *b, const p_stream_record *r) {
  p__write_stream_record(b, r, p_write_item_json);
}
