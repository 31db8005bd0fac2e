/*
 * test_streams.c -- unit tests of protocol/streams.c and
 * protocol/update_table.c: shard iterators (round trip, garbage, every
 * single-character tamper, length), stream ARNs, labels, sequence-number
 * text, stream records (exact text of streams-ttl.md 4's example, members
 * and order, view filtering, jansson parses them), the UpdateTable and TTL
 * state checks and the meta they produce, and the new error codes. The
 * request messages themselves are data-driven cases of test_protocol
 * (cases/update_table, update_ttl, describe_ttl, streams).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol.h"
#include "tests/testlib.h"

static const p_context k_ctx = {"us-east-1", "123456789012"};
static const char *const k_arn =
    "arn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/2026-11-27T10:00:00.000";
static const char *const k_shard = "shardId-00000001414562045508-2bac9cd2";

static json_t *parse(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  if (!j) fprintf(stderr, "bad test JSON: %s: %.200s\n", je.text, text);
  return j;
}

/* ---- errors, views ------------------------------------------------------------------ */

static void test_error_codes(void) {
  CHECK_EQ_STR(p_error_type(P_TRIMMED_DATA_ACCESS),
               "com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException");
  CHECK_EQ_STR(p_error_type(P_EXPIRED_ITERATOR), "com.amazonaws.dynamodb.v20120810#ExpiredIteratorException");
  CHECK_EQ_INT(p_error_status(P_TRIMMED_DATA_ACCESS), 400);
  CHECK_EQ_INT(p_error_status(P_EXPIRED_ITERATOR), 400);
  p_error e;
  p_error_init(&e);
  p_error_set(&e, P_EXPIRED_ITERATOR, "Iterator expired");
  char *b = p_error_body(&e, NULL);
  CHECK_EQ_STR(b,
               "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ExpiredIteratorException\","
               "\"message\":\"Iterator expired\"}");
  free(b);
  p_error_clear(&e);
}

static void test_views(void) {
  static const char *const names[] = {"KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"};
  for (int i = 0; i < 4; i++) {
    p_view v = p_view_from_name(names[i]);
    CHECK(v != P_VIEW_NONE);
    CHECK_EQ_STR(p_view_name(v), names[i]);
  }
  CHECK_EQ_INT(p_view_from_name("new_image"), P_VIEW_NONE);
  CHECK_EQ_INT(p_view_from_name(""), P_VIEW_NONE);
  CHECK_EQ_INT(p_view_from_name(NULL), P_VIEW_NONE);
  CHECK(p_view_name(P_VIEW_NONE) == NULL);
}

/* ---- labels, sequence numbers, ARNs ---------------------------------------------------- */

static void test_labels(void) {
  char l[24];
  p_stream_label(0, l);
  CHECK_EQ_STR(l, "1970-01-01T00:00:00.000");
  p_stream_label(1432154470252LL, l);
  CHECK_EQ_STR(l, "2015-05-20T20:41:10.252");
  p_stream_label(1716000000123LL, l);
  CHECK_EQ_STR(l, "2024-05-18T02:40:00.123");
  p_stream_label(951868799999LL, l); /* leap day of a century leap year */
  CHECK_EQ_STR(l, "2000-02-29T23:59:59.999");
  p_stream_label(951868800000LL, l);
  CHECK_EQ_STR(l, "2000-03-01T00:00:00.000");
  p_stream_label(253402300799999LL, l);
  CHECK_EQ_STR(l, "9999-12-31T23:59:59.999");
  p_stream_label(INT64_MAX, l); /* clamped: fixed width kept */
  CHECK_EQ_STR(l, "9999-12-31T23:59:59.999");
  p_stream_label(-5, l);
  CHECK_EQ_STR(l, "1970-01-01T00:00:00.000");
  /* Every label this makes is accepted inside an ARN. */
  dv_arena *a = dv_arena_new();
  for (int64_t ms = 0; ms < 253402300799999LL; ms = ms * 3 + 7777) {
    p_stream_label(ms, l);
    CHECK_EQ_INT(strlen(l), 23);
    char *arn = p_stream_arn(&k_ctx, "Music", l);
    const char *t, *lab;
    CHECK_EQ_INT(p_stream_arn_parse(arn, a, &t, &lab), 0);
    CHECK_EQ_STR(lab, l);
    free(arn);
  }
  dv_arena_free(a);
}

static void test_seq_format(void) {
  char s[24];
  p_seq_format(0, s);
  CHECK_EQ_STR(s, "000000000000000000000");
  p_seq_format(42, s);
  CHECK_EQ_STR(s, "000000000000000000042");
  p_seq_format(UINT64_MAX, s);
  CHECK_EQ_STR(s, "018446744073709551615");
  /* Fixed width: text order is numeric order. */
  char prev[24];
  p_seq_format(1, prev);
  for (uint64_t x = 2; x < UINT64_MAX / 3; x = x * 3 + 1) {
    p_seq_format(x, s);
    CHECK_EQ_INT(strlen(s), 21);
    CHECK(strcmp(prev, s) < 0);
    memcpy(prev, s, 24);
  }
}

static void test_arns(void) {
  dv_arena *a = dv_arena_new();
  char *arn = p_stream_arn(&k_ctx, "Music", "2026-11-27T10:00:00.000");
  CHECK_EQ_STR(arn, k_arn);
  const char *t = NULL, *l = NULL;
  CHECK_EQ_INT(p_stream_arn_parse(arn, a, &t, &l), 0);
  CHECK_EQ_STR(t, "Music");
  CHECK_EQ_STR(l, "2026-11-27T10:00:00.000");
  free(arn);
  /* NULL outputs are allowed (a well-formedness check only). */
  CHECK_EQ_INT(p_stream_arn_parse(k_arn, NULL, NULL, NULL), 0);
  CHECK_EQ_INT(p_stream_arn_parse("arn:aws-us-gov:dynamodb:us-gov-west-1:123456789012:table/a.b_c-d/stream/"
                                  "2026-11-27T10:00:00.000",
                                  a, &t, &l),
               0);
  CHECK_EQ_STR(t, "a.b_c-d");
  static const char *const bad[] = {
      "",
      "fake-stream",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Music",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/2026-11-27T10:00:00",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/2026-11-27T10:00:00.0000",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/2026-11-27 10:00:00.000",
      "arn:aws:dynamodb:us-east-1:1234567890123:table/Music/stream/2026-11-27T10:00:00.000",
      "arn:aws:dynamodb:us-east-1:12345678901a:table/Music/stream/2026-11-27T10:00:00.000",
      "arn:aws:dynamodb:US-EAST-1:123456789012:table/Music/stream/2026-11-27T10:00:00.000",
      "arn::dynamodb:us-east-1:123456789012:table/Music/stream/2026-11-27T10:00:00.000",
      "arn:aws:dynamodb:us-east-1:123456789012:index/Music/stream/2026-11-27T10:00:00.000",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Mu/stream/2026-11-27T10:00:00.000",
      "arn:aws:dynamodb:us-east-1:123456789012:table//stream/2026-11-27T10:00:00.000",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Music/streams/2026-11-27T10:00:00.000",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/2026-11-27T10:00:00.000|1|AQ==",
      "xarn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/2026-11-27T10:00:00.000",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    t = l = "unchanged";
    if (p_stream_arn_parse(bad[i], a, &t, &l) != -1) fprintf(stderr, "accepted: %s\n", bad[i]);
    CHECK_EQ_INT(p_stream_arn_parse(bad[i], a, &t, &l), -1);
    CHECK(t == NULL && l == NULL);
  }
  CHECK_EQ_INT(p_stream_arn_parse(NULL, a, &t, &l), -1);
  /* A table name of 255 characters is fine, 256 is not. */
  char name[257];
  memset(name, 'n', 256);
  name[255] = '\0';
  arn = p_stream_arn(&k_ctx, name, "2026-11-27T10:00:00.000");
  CHECK_EQ_INT(p_stream_arn_parse(arn, a, &t, &l), 0);
  CHECK_EQ_INT(strlen(t), 255);
  free(arn);
  name[255] = 'n';
  name[256] = '\0';
  arn = p_stream_arn(&k_ctx, name, "2026-11-27T10:00:00.000");
  CHECK_EQ_INT(p_stream_arn_parse(arn, a, &t, &l), -1);
  free(arn);
  dv_arena_free(a);
}

/* ---- iterators -------------------------------------------------------------------------- */

static int iter_rejected(const char *text) {
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  p_iterator it;
  int rc = p_iterator_parse(text, a, &it, &e);
  int ok = rc == -1 && e.code == P_VALIDATION && e.msg && !strcmp(e.msg, "Invalid ShardIterator") &&
           it.arn == NULL && it.shard_id == NULL;
  p_error_clear(&e);
  dv_arena_free(a);
  return ok;
}

static void roundtrip(const char *arn, const char *shard, uint64_t pos, int64_t issued) {
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  p_iterator it = {arn, shard, pos, issued}, back;
  char *text = p_iterator_format(&it);
  CHECK(strlen(text) <= 2048);
  CHECK(!strncmp(text, arn, strlen(arn)) && !strncmp(text + strlen(arn), "|1|", 3));
  CHECK_EQ_INT(p_iterator_parse(text, a, &back, &e), 0);
  CHECK_EQ_STR(back.arn, arn);
  CHECK_EQ_STR(back.shard_id, shard);
  CHECK(back.position == pos);
  CHECK(back.issued_ms == issued);
  p_error_clear(&e);
  free(text);
  dv_arena_free(a);
}

static void test_iterator_roundtrip(void) {
  roundtrip(k_arn, k_shard, 0, 0);
  roundtrip(k_arn, k_shard, 42, 1764237600000LL);
  roundtrip(k_arn, k_shard, UINT64_MAX, INT64_MAX);
  roundtrip(k_arn, k_shard, 1ULL << 63, INT64_MIN);
  roundtrip(k_arn, k_shard, 12345, -1);
  roundtrip(k_arn, "s", 1, 2);
  char shard65[66];
  memset(shard65, 'x', 65);
  shard65[65] = '\0';
  roundtrip(k_arn, shard65, 7, 8);
  /* The longest ARN the server can make (255-character table name). */
  char name[256];
  memset(name, 'T', 255);
  name[255] = '\0';
  p_context ctx = {"ap-southeast-2", "123456789012"};
  char *arn = p_stream_arn(&ctx, name, "2026-11-27T10:00:00.000");
  roundtrip(arn, shard65, UINT64_MAX, INT64_MAX);
  p_iterator it = {arn, shard65, 1, 1};
  char *text = p_iterator_format(&it);
  CHECK(strlen(text) < 600);
  free(text);
  free(arn);
  /* Two different positions give different texts. */
  p_iterator i1 = {k_arn, k_shard, 1, 5}, i2 = {k_arn, k_shard, 2, 5};
  char *t1 = p_iterator_format(&i1), *t2 = p_iterator_format(&i2);
  CHECK(strcmp(t1, t2) != 0);
  free(t1);
  free(t2);
}

static void test_iterator_garbage(void) {
  static const char *const bad[] = {
      "",
      "x",
      "|1|",
      "|1|AAAA",
      "fake-stream|1|AQID",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/2026-11-27T10:00:00.000",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/2026-11-27T10:00:00.000|1|",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/2026-11-27T10:00:00.000|1|AQ==",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/2026-11-27T10:00:00.000|1|not base64!",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/2026-11-27T10:00:00.000|2|AQID",
      "arn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/"
      "2026-11-27T10:00:00.000|1|AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8w",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(iter_rejected(bad[i]));
  CHECK(iter_rejected(NULL));
  /* Base64 far longer than any blob. */
  size_t n = strlen(k_arn) + 3 + 4000;
  char *big = malloc(n + 1);
  memcpy(big, k_arn, strlen(k_arn));
  memcpy(big + strlen(k_arn), "|1|", 3);
  memset(big + strlen(k_arn) + 3, 'A', 4000);
  big[n] = '\0';
  CHECK(iter_rejected(big));
  free(big);
  /* Random printable and binary-ish text never crashes and is refused. */
  uint64_t r = 0x243F6A8885A308D3ULL;
  char buf[300];
  for (int round = 0; round < 20000; round++) {
    r = r * 6364136223846793005ULL + 1442695040888963407ULL;
    size_t len = (size_t)(r >> 56) % sizeof buf;
    size_t pre = 0;
    if (round % 2) { /* a valid ARN prefix, then noise */
      pre = (size_t)snprintf(buf, sizeof buf, "%s|1|", k_arn);
      if (len < pre) len = pre;
    }
    for (size_t i = pre; i < len; i++) {
      r = r * 6364136223846793005ULL + 1442695040888963407ULL;
      unsigned c = (unsigned)(r >> 58);
      buf[i] =
          (char)(round % 4 < 2 ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="[c % 65]
                               : (char)(1 + (r >> 40) % 255));
    }
    buf[len] = '\0';
    CHECK(iter_rejected(buf));
  }
}

static void test_iterator_tamper(void) {
  p_iterator it = {k_arn, k_shard, 987654321, 1764237600000LL};
  char *text = p_iterator_format(&it);
  size_t n = strlen(text);
  /* Every single-character change anywhere (ARN, separator, blob). */
  static const char repl[] = "AB09+/=|:-xz";
  int tried = 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < sizeof repl - 1; k++) {
      if (text[i] == repl[k]) continue;
      char saved = text[i];
      text[i] = repl[k];
      if (!iter_rejected(text)) fprintf(stderr, "tamper at %zu ('%c') accepted: %s\n", i, repl[k], text);
      CHECK(iter_rejected(text));
      text[i] = saved;
      tried++;
    }
  }
  CHECK(tried > 1000);
  /* Every truncation. */
  for (size_t i = 0; i < n; i++) {
    char saved = text[i];
    text[i] = '\0';
    CHECK(iter_rejected(text));
    text[i] = saved;
  }
  /* The blob moved under another stream's ARN. */
  const char *blob = strstr(text, "|1|");
  char other[600];
  snprintf(other, sizeof other,
           "arn:aws:dynamodb:us-east-1:123456789012:table/Other/stream/2026-11-27T10:00:00.000%s", blob);
  CHECK(iter_rejected(other));
  /* Still fine after all that. */
  CHECK(!iter_rejected(text));
  free(text);
}

/* ---- stream records ---------------------------------------------------------------------- */

static dv_value item(dv_arena *a, const char *text) {
  json_t *j = parse(text);
  p_error e;
  p_error_init(&e);
  dv_value v = {0};
  CHECK_EQ_INT(p_item_from_json(j, P_LAYER_CURRENT, a, &v, &e), 0);
  p_error_clear(&e);
  json_decref(j);
  return v;
}

static char *record_text(const p_stream_record *r) {
  p_buf b;
  p_buf_init(&b);
  p_write_stream_record(&b, r);
  return p_buf_steal(&b, NULL);
}

static char *item_text(const dv_value *v) {
  p_buf b;
  p_buf_init(&b);
  p_write_item_json(&b, v);
  return p_buf_steal(&b, NULL);
}

/* The example of streams-ttl.md 4 (a TTL deletion, NEW_AND_OLD_IMAGES), byte for byte. */
static void test_record_example(void) {
  dv_arena *a = dv_arena_new();
  dv_value keys = item(a, "{\"pk\":{\"S\":\"a\"}}");
  dv_value old = item(a, "{\"pk\":{\"S\":\"a\"},\"exp\":{\"N\":\"1715990000\"}}");
  p_stream_record r = {
      "7de3041dd709b024af6f29e4fa13d34c", 3, 1, "us-east-1", 1716000000999LL, &keys, &old, NULL, 42, 13,
      P_VIEW_NEW_AND_OLD_IMAGES};
  char *s = record_text(&r);
  char *old_s = item_text(&old);
  char want[1024];
  snprintf(
      want, sizeof want,
      "{\"eventID\":\"7de3041dd709b024af6f29e4fa13d34c\",\"eventName\":\"REMOVE\",\"eventVersion\":\"1.1\","
      "\"eventSource\":\"aws:dynamodb\",\"awsRegion\":\"us-east-1\","
      "\"userIdentity\":{\"PrincipalId\":\"dynamodb.amazonaws.com\",\"Type\":\"Service\"},"
      "\"dynamodb\":{\"ApproximateCreationDateTime\":1716000000,\"Keys\":{\"pk\":{\"S\":\"a\"}},"
      "\"OldImage\":%s,\"SequenceNumber\":\"000000000000000000042\",\"SizeBytes\":13,"
      "\"StreamViewType\":\"NEW_AND_OLD_IMAGES\"}}",
      old_s);
  CHECK_EQ_STR(s, want);
  free(s);
  free(old_s);
  dv_arena_free(a);
}

/* Member names of an object in order, joined by ','. */
static void member_order(const json_t *o, char *out, size_t cap) {
  out[0] = '\0';
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)o, k, v) {
    if (out[0]) strncat(out, ",", cap - strlen(out) - 1);
    strncat(out, k, cap - strlen(out) - 1);
  }
}

static void test_record_members(void) {
  dv_arena *a = dv_arena_new();
  dv_value keys = item(a, "{\"pk\":{\"S\":\"k\\\"q\"},\"sk\":{\"N\":\"5\"}}");
  dv_value old = item(
      a, "{\"pk\":{\"S\":\"k\\\"q\"},\"sk\":{\"N\":\"5\"},\"v\":{\"L\":[{\"B\":\"AQ==\"},{\"NULL\":true}]}}");
  dv_value neu = item(a, "{\"pk\":{\"S\":\"k\\\"q\"},\"sk\":{\"N\":\"5\"},\"v\":{\"SS\":[\"x\",\"y\"]}}");
  static const struct {
    p_view view;
    int kind;
    int want_new, want_old;
    const char *order;
  } rows[] = {
      {P_VIEW_NEW_AND_OLD_IMAGES, 2, 1, 1,
       "ApproximateCreationDateTime,Keys,NewImage,OldImage,SequenceNumber,SizeBytes,StreamViewType"},
      {P_VIEW_NEW_IMAGE, 2, 1, 0,
       "ApproximateCreationDateTime,Keys,NewImage,SequenceNumber,SizeBytes,StreamViewType"},
      {P_VIEW_OLD_IMAGE, 2, 0, 1,
       "ApproximateCreationDateTime,Keys,OldImage,SequenceNumber,SizeBytes,StreamViewType"},
      {P_VIEW_KEYS_ONLY, 2, 0, 0, "ApproximateCreationDateTime,Keys,SequenceNumber,SizeBytes,StreamViewType"},
      {P_VIEW_NEW_AND_OLD_IMAGES, 1, 1, 0,
       "ApproximateCreationDateTime,Keys,NewImage,SequenceNumber,SizeBytes,StreamViewType"},
      {P_VIEW_NEW_AND_OLD_IMAGES, 3, 0, 1,
       "ApproximateCreationDateTime,Keys,OldImage,SequenceNumber,SizeBytes,StreamViewType"},
  };
  static const char *const names[] = {"", "INSERT", "MODIFY", "REMOVE"};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    /* The caller hands the images a write has (INSERT: no old, REMOVE: no new). */
    p_stream_record r = {"0123456789abcdef0123456789abcdef",
                         rows[i].kind,
                         0,
                         "eu-west-\"1",
                         1500,
                         &keys,
                         rows[i].kind == 1 ? NULL : &old,
                         rows[i].kind == 3 ? NULL : &neu,
                         UINT64_MAX,
                         77,
                         rows[i].view};
    char *s = record_text(&r);
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    CHECK(j != NULL);
    if (!j) {
      fprintf(stderr, "record not JSON: %s\n%s\n", je.text, s);
      free(s);
      continue;
    }
    char order[512];
    member_order(j, order, sizeof order);
    CHECK_EQ_STR(order, "eventID,eventName,eventVersion,eventSource,awsRegion,dynamodb");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "eventName")), names[rows[i].kind]);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "awsRegion")), "eu-west-\"1");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "eventVersion")), "1.1");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "eventSource")), "aws:dynamodb");
    CHECK(json_object_get(j, "userIdentity") == NULL);
    json_t *d = json_object_get(j, "dynamodb");
    member_order(d, order, sizeof order);
    CHECK_EQ_STR(order, rows[i].order);
    CHECK(json_is_integer(json_object_get(d, "ApproximateCreationDateTime")));
    CHECK_EQ_INT(json_integer_value(json_object_get(d, "ApproximateCreationDateTime")), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(d, "SequenceNumber")), "018446744073709551615");
    CHECK_EQ_INT(json_integer_value(json_object_get(d, "SizeBytes")), 77);
    CHECK_EQ_STR(json_string_value(json_object_get(d, "StreamViewType")), p_view_name(rows[i].view));
    json_t *kj = p_item_to_json(&keys), *oj = p_item_to_json(&old), *nj = p_item_to_json(&neu);
    CHECK(json_equal(json_object_get(d, "Keys"), kj));
    if (rows[i].want_new) CHECK(json_equal(json_object_get(d, "NewImage"), nj));
    if (rows[i].want_old) CHECK(json_equal(json_object_get(d, "OldImage"), oj));
    json_decref(kj);
    json_decref(oj);
    json_decref(nj);
    json_decref(j);
    free(s);
  }
  /* TTL deletion: userIdentity between awsRegion and dynamodb. */
  p_stream_record r = {
      "0123456789abcdef0123456789abcdef", 3, 1, "us-east-1", 0, &keys, &old, NULL, 1, 1, P_VIEW_KEYS_ONLY};
  char *s = record_text(&r);
  json_t *j = parse(s);
  char order[256];
  member_order(j, order, sizeof order);
  CHECK_EQ_STR(order, "eventID,eventName,eventVersion,eventSource,awsRegion,userIdentity,dynamodb");
  json_t *ui = json_object_get(j, "userIdentity");
  CHECK_EQ_STR(json_string_value(json_object_get(ui, "PrincipalId")), "dynamodb.amazonaws.com");
  CHECK_EQ_STR(json_string_value(json_object_get(ui, "Type")), "Service");
  CHECK(json_object_get(json_object_get(j, "dynamodb"), "OldImage") == NULL); /* KEYS_ONLY */
  json_decref(j);
  free(s);
  /* Whole seconds rounded down, also before 1970; a DV_NONE image is absent. */
  dv_value none = {0};
  static const int64_t ms[] = {999, 1000, 1999, -1, -1000, -1001};
  static const int64_t want[] = {0, 1, 1, -1, -1, -2};
  for (size_t i = 0; i < 6; i++) {
    p_stream_record t = {"e", 1, 0, "r", ms[i], &keys, &none, &none, 1, 1, P_VIEW_NEW_AND_OLD_IMAGES};
    s = record_text(&t);
    j = parse(s);
    json_t *d = json_object_get(j, "dynamodb");
    CHECK_EQ_INT(json_integer_value(json_object_get(d, "ApproximateCreationDateTime")), want[i]);
    CHECK(json_object_get(d, "NewImage") == NULL && json_object_get(d, "OldImage") == NULL);
    json_decref(j);
    free(s);
  }
  /* Records append: two in one buffer. */
  p_buf b;
  p_buf_init(&b);
  p_write_stream_record(&b, &r);
  size_t first = b.len;
  p_write_stream_record(&b, &r);
  CHECK_EQ_INT(b.len, 2 * first);
  CHECK(memcmp(b.data, b.data + first, first) == 0);
  p_buf_free(&b);
  dv_arena_free(a);
}

/* ---- UpdateTable / TTL state checks ---------------------------------------------------------- */

static int parse_update(const char *body, dv_arena *a, p_update_table *u, p_error *e) {
  json_t *j = parse(body);
  int rc = p_parse_update_table(j, a, u, e);
  json_decref(j);
  return rc;
}

static void test_update_table_state(void) {
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  p_update_table u;
  json_t *meta = parse(
      "{\"BillingMode\":\"PROVISIONED\",\"ProvisionedThroughput\":{\"ReadCapacityUnits\":5,"
      "\"WriteCapacityUnits\":5},\"TableId\":\"x\"}");
  char *before = json_dumps(meta, JSON_COMPACT);
  json_t *nm = NULL;
  /* Enable, then the same again is refused on the new meta, then disable. */
  CHECK_EQ_INT(parse_update("{\"TableName\":\"Music\",\"StreamSpecification\":{\"StreamEnabled\":true,"
                            "\"StreamViewType\":\"NEW_IMAGE\"}}",
                            a, &u, &e),
               0);
  CHECK_EQ_INT(u.has_stream, 1);
  CHECK_EQ_INT(u.stream_enabled, 1);
  CHECK_EQ_INT(u.stream_view, P_VIEW_NEW_IMAGE);
  CHECK(json_is_object(u.changes) && json_object_size(u.changes) == 0);
  CHECK_EQ_INT(p_check_update_table(meta, &u, &nm, &e), 0);
  char *after = json_dumps(meta, JSON_COMPACT);
  CHECK_EQ_STR(after, before); /* the input meta is not touched */
  free(after);
  CHECK_EQ_STR(
      json_string_value(json_object_get(json_object_get(nm, "StreamSpecification"), "StreamViewType")),
      "NEW_IMAGE");
  CHECK(json_is_true(json_object_get(json_object_get(nm, "StreamSpecification"), "StreamEnabled")));
  /* The server adds the ARN and label; then a second enable is refused. */
  json_object_set_new(nm, "LatestStreamArn", json_string(k_arn));
  json_object_set_new(nm, "LatestStreamLabel", json_string("2026-11-27T10:00:00.000"));
  json_t *nm2 = NULL;
  CHECK_EQ_INT(p_check_update_table(nm, &u, &nm2, &e), -1);
  CHECK_EQ_STR(e.msg, "Table already has an enabled stream: TableName: Music");
  CHECK(nm2 == NULL);
  p_error_clear(&e);
  json_decref(u.changes);
  CHECK_EQ_INT(
      parse_update("{\"TableName\":\"Music\",\"StreamSpecification\":{\"StreamEnabled\":false}}", a, &u, &e),
      0);
  CHECK_EQ_INT(p_check_update_table(nm, &u, &nm2, &e), 0);
  CHECK(json_object_get(nm2, "StreamSpecification") == NULL);
  CHECK_EQ_STR(json_string_value(json_object_get(nm2, "LatestStreamArn")), k_arn);
  json_t *d = p_table_description(&k_ctx, "Music", &(p_key_schema){"pk", DV_S, NULL, DV_NONE}, nm2, 1.0,
                                  "ACTIVE", 0, 0, NULL, 0);
  CHECK(json_object_get(d, "StreamSpecification") == NULL);
  CHECK_EQ_STR(json_string_value(json_object_get(d, "LatestStreamArn")), k_arn);
  CHECK_EQ_STR(json_string_value(json_object_get(d, "LatestStreamLabel")), "2026-11-27T10:00:00.000");
  json_decref(d);
  /* Disabling again is refused. */
  json_t *nm3 = NULL;
  CHECK_EQ_INT(p_check_update_table(nm2, &u, &nm3, &e), -1);
  CHECK_EQ_STR(e.msg, "Table has no stream to disable: TableName: Music");
  p_error_clear(&e);
  json_decref(u.changes);
  /* A NULL meta counts as an empty one. */
  CHECK_EQ_INT(parse_update("{\"TableName\":\"Music\",\"BillingMode\":\"PAY_PER_REQUEST\"}", a, &u, &e), 0);
  CHECK_EQ_INT(p_check_update_table(NULL, &u, &nm3, &e), 0);
  CHECK_EQ_STR(json_string_value(json_object_get(nm3, "BillingMode")), "PAY_PER_REQUEST");
  json_decref(nm3);
  json_decref(u.changes);
  /* Throughput as a real number is stored as an integer. */
  CHECK_EQ_INT(parse_update("{\"TableName\":\"Music\",\"ProvisionedThroughput\":{\"ReadCapacityUnits\":7.9,"
                            "\"WriteCapacityUnits\":3}}",
                            a, &u, &e),
               0);
  CHECK_EQ_INT(p_check_update_table(meta, &u, &nm3, &e), 0);
  CHECK_EQ_INT(
      json_integer_value(json_object_get(json_object_get(nm3, "ProvisionedThroughput"), "ReadCapacityUnits")),
      7);
  json_decref(nm3);
  json_decref(u.changes);
  /* A failed parse leaves no changes object behind. */
  CHECK_EQ_INT(parse_update("{\"TableName\":\"Music\"}", a, &u, &e), -1);
  CHECK(u.changes == NULL);
  p_error_clear(&e);
  free(before);
  json_decref(nm);
  json_decref(nm2);
  json_decref(meta);
  dv_arena_free(a);
}

static void test_ttl_state(void) {
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  p_update_ttl t;
  json_t *j = parse(
      "{\"TableName\":\"Music\",\"TimeToLiveSpecification\":{\"Enabled\":true,\"AttributeName\":\"exp\"}}");
  CHECK_EQ_INT(p_parse_update_ttl(j, a, &t, &e), 0);
  json_decref(j);
  json_t *m1 = NULL, *m2 = NULL, *m3 = NULL;
  /* NULL meta: TTL off. */
  json_t *dt = p_describe_ttl(NULL);
  char *s = json_dumps(dt, JSON_COMPACT);
  CHECK_EQ_STR(s, "{\"TimeToLiveDescription\":{\"TimeToLiveStatus\":\"DISABLED\"}}");
  free(s);
  json_decref(dt);
  CHECK_EQ_INT(p_check_update_ttl(NULL, &t, &m1, &e), 0);
  dt = p_describe_ttl(m1);
  s = json_dumps(dt, JSON_COMPACT);
  CHECK_EQ_STR(s, "{\"TimeToLiveDescription\":{\"TimeToLiveStatus\":\"ENABLED\",\"AttributeName\":\"exp\"}}");
  free(s);
  json_decref(dt);
  CHECK_EQ_INT(p_check_update_ttl(m1, &t, &m2, &e), -1);
  CHECK_EQ_STR(e.msg, "TimeToLive is already enabled");
  CHECK(m2 == NULL);
  p_error_clear(&e);
  /* Disable with the right name, then once more. */
  t.enabled = 0;
  CHECK_EQ_INT(p_check_update_ttl(m1, &t, &m2, &e), 0);
  CHECK(json_object_get(m2, "TimeToLive") == NULL);
  CHECK_EQ_INT(p_check_update_ttl(m2, &t, &m3, &e), -1);
  CHECK_EQ_STR(e.msg, "TimeToLive is already disabled");
  p_error_clear(&e);
  json_t *r = p_update_ttl_response(&t);
  s = json_dumps(r, JSON_COMPACT);
  CHECK_EQ_STR(s, "{\"TimeToLiveSpecification\":{\"Enabled\":false,\"AttributeName\":\"exp\"}}");
  free(s);
  json_decref(r);
  /* The meta keeps its other members; a foreign TimeToLive shape reads as off. */
  json_t *odd = parse("{\"TimeToLive\":{\"AttributeName\":5},\"BillingMode\":\"PAY_PER_REQUEST\"}");
  t.enabled = 1;
  CHECK_EQ_INT(p_check_update_ttl(odd, &t, &m3, &e), 0);
  CHECK_EQ_STR(json_string_value(json_object_get(m3, "BillingMode")), "PAY_PER_REQUEST");
  CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(m3, "TimeToLive"), "AttributeName")), "exp");
  json_decref(odd);
  json_decref(m1);
  json_decref(m2);
  json_decref(m3);
  dv_arena_free(a);
}

/* The GetShardIterator parse feeds p_iterator_format: the fields it
 * accepts always make a valid iterator. */
static void test_parse_to_iterator(void) {
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  json_t *j = parse(
      "{\"StreamArn\":\"arn:aws:dynamodb:us-east-1:123456789012:table/Music/stream/"
      "2026-11-27T10:00:00.000\",\"ShardId\":\"shardId-00000001414562045508-2bac9cd2\","
      "\"ShardIteratorType\":\"AFTER_SEQUENCE_NUMBER\",\"SequenceNumber\":\"000000000000000000099\"}");
  p_get_shard_iterator g;
  CHECK_EQ_INT(p_parse_get_shard_iterator(j, a, &g, &e), 0);
  CHECK_EQ_INT(g.type, P_ITER_AFTER_SEQUENCE_NUMBER);
  CHECK(g.seq == 99);
  p_iterator it = {g.arn, g.shard_id, g.seq + 1, 1764237600000LL}, back;
  char *text = p_iterator_format(&it);
  json_decref(j);
  j = json_pack("{s:s,s:i}", "ShardIterator", text, "Limit", 10);
  p_get_records gr;
  CHECK_EQ_INT(p_parse_get_records(j, a, &gr, &e), 0);
  CHECK_EQ_INT(gr.limit, 10);
  CHECK_EQ_INT(p_iterator_parse(gr.iterator, a, &back, &e), 0);
  CHECK(back.position == 100);
  CHECK_EQ_STR(back.shard_id, "shardId-00000001414562045508-2bac9cd2");
  const char *table, *label;
  CHECK_EQ_INT(p_stream_arn_parse(back.arn, a, &table, &label), 0);
  CHECK_EQ_STR(table, "Music");
  free(text);
  json_decref(j);
  dv_arena_free(a);
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {
      {"error_codes", test_error_codes},
      {"views", test_views},
      {"labels", test_labels},
      {"seq_format", test_seq_format},
      {"arns", test_arns},
      {"iterator_roundtrip", test_iterator_roundtrip},
      {"iterator_garbage", test_iterator_garbage},
      {"iterator_tamper", test_iterator_tamper},
      {"record_example", test_record_example},
      {"record_members", test_record_members},
      {"update_table_state", test_update_table_state},
      {"ttl_state", test_ttl_state},
      {"parse_to_iterator", test_parse_to_iterator},
      {NULL, NULL},
  };
  return tl_run(tests, argc, argv);
}
