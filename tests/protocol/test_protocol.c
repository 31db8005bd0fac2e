/*
 * test_protocol.c -- protocol/ unit tests plus the data-driven case runner.
 *
 * Usage: test_protocol [CASES_DIR] [test names...]. CASES_DIR (the first
 * argument when it is a directory) holds one JSON file per case, in folders
 * by category:
 *
 *   {"op": "PutItem" | "GetItem" | "DeleteItem" | "UpdateItem" | "CreateTable" | "DescribeTable"
 *          | "DeleteTable" | "ListTables" | "Value" | "Item"
 *          | "BatchWriteItem" | "BatchGetItem" | "Query" | "Scan"
 *          | "UpdateTable" | "UpdateTimeToLive" | "DescribeTimeToLive"
 *          | "ListStreams" | "DescribeStream" | "GetShardIterator" | "GetRecords",
 *    "request": <body, or the AttributeValue / item for Value / Item>,
 *    "layer": "current" | "older"            (Value / Item only, default current),
 *    "schema": {"hash": ["pk","S"], "range": ["sk","N"]}
 *                                            (items: also run p_check_put_item / p_check_key),
 *    "expect": {"error": "ValidationException", "message": "..."}   exact message;
 *              {"error": "SerializationException", "no_message": true}
 *              {"ok": true, "item"/"key"/"value": <normalised wire JSON>, "table_name": "t",
 *               "rv": "ALL_OLD", "rcc": "TOTAL", "consistent": true, "attrs_to_get": [...],
 *               "limit": 5, "exclusive_start": "x", "size": 12, "rvcf_all_old": true,
 *               "key_schema": {"hash": [...], "range": [...]},
 *               "indexes": [CreateTable's p_index list, see indexes_json],
 *               "meta": {<members of CreateTable's meta, compared exactly>},
 *               "description": {<members that p_table_description must produce>},
 *               "description_absent": ["BillingModeSummary"],
 *               "condition": "(= a :v)" | null, "update": "(update (SET a :v))",
 *               "projection": "(projection a b.c)" | null   (expr_print renderings of the
 *                                            parsed trees; null = the request has none)}}
 *
 * A case runs the parse function, then (if it passed and a schema is given)
 * the schema check, and compares the first failure or the success fields.
 * A "meta" (a table meta with LocalSecondaryIndexes / GlobalSecondaryIndexes)
 * gives the table's indexes (p_table_indexes): PutItem and BatchWriteItem
 * puts then run p_check_index_keys, UpdateItem p_check_update_index, Query /
 * Scan resolve IndexName among them (the summary adds "which",
 * "select_given", "needs_fetch").
 * Query / Scan compare "query": {member: value} against the rendering of
 * the parsed (and, with a schema, checked) request (query_case).
 * UpdateTable / UpdateTimeToLive / DescribeTimeToLive take an optional
 * "meta" (the table's stored meta): with it the state check runs too
 * (p_check_update_table / p_check_update_ttl) and the results compare as
 * described at table_stream_case; the Streams requests compare their parsed
 * members there as well.
 * Batch ops run the schema check of every table with the one schema, and
 * compare "request_items": the parsed request rendered back as wire JSON
 * (BatchWriteItem {"t":[{"PutRequest":{"Item":..}} | {"DeleteRequest":{"Key":..}}]},
 * BatchGetItem {"t": p_batch_get_unprocessed(t, 0)}), "count" (requests or
 * keys over all tables), "rcc" and "ricm_size".
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "protocol/expr.h"
#include "protocol/protocol.h"
#include "protocol/protocol_int.h"
#include "tests/testlib.h"

static const p_context k_ctx = {"us-east-1", "123456789012"};

/* ---- helpers --------------------------------------------------------------------- */

static json_t *parse(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
  if (!j) fprintf(stderr, "bad test JSON: %s: %.200s\n", je.text, text);
  return j;
}

/* Runs p_value_from_json on text; returns the error message (static buffer)
 * or the normalised JSON of the value. */
static char g_out[1 << 16];
static const char *value_result(const char *text, p_layer layer) {
  json_t *j = parse(text);
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  dv_value v;
  if (p_value_from_json(j, 1, layer, a, &v, &e) == 0) {
    json_t *o = p_value_to_json(&v);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    snprintf(g_out, sizeof g_out, "%s", s);
    free(s);
    json_decref(o);
  } else {
    const char *t = p_error_type(e.code);
    const char *h = strrchr(t, '#');
    snprintf(g_out, sizeof g_out, "%s: %s", h ? h + 1 : t, e.msg ? e.msg : "(none)");
  }
  p_error_clear(&e);
  dv_arena_free(a);
  json_decref(j);
  return g_out;
}

static char *repeat(char c, size_t n) {
  char *s = malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

/* ---- unit tests ------------------------------------------------------------------- */

static void test_errors(void) {
  p_error e;
  p_error_init(&e);
  p_error_set(&e, P_SERIALIZATION, NULL);
  size_t len;
  char *b = p_error_body(&e, &len);
  CHECK_EQ_STR(b, "{\"__type\":\"com.amazon.coral.service#SerializationException\"}");
  CHECK_EQ_INT(len, strlen(b));
  free(b);
  p_error_set(&e, P_SERIALIZATION, "NUMBER_VALUE cannot be converted to String");
  b = p_error_body(&e, NULL);
  CHECK_EQ_STR(b,
               "{\"__type\":\"com.amazon.coral.service#SerializationException\",\"Message\":\"NUMBER_VALUE "
               "cannot be converted to String\"}");
  free(b);
  p_error_set(&e, P_UNKNOWN_OPERATION, "ignored");
  b = p_error_body(&e, NULL);
  CHECK_EQ_STR(b, "{\"__type\":\"com.amazon.coral.service#UnknownOperationException\"}");
  free(b);
  p_error_set(&e, P_RESOURCE_NOT_FOUND, "Requested resource not found: Table: %s not found", "caf\xc3\xa9");
  b = p_error_body(&e, NULL);
  CHECK_EQ_STR(b,
               "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\",\"message\":"
               "\"Requested resource not found: Table: caf\xc3\xa9 not found\"}");
  free(b);
  p_error_set(&e, P_CONDITIONAL_CHECK_FAILED, "The conditional request failed");
  e.extra = json_pack("{s:{s:{s:s}}}", "Item", "pk", "S", "a");
  b = p_error_body(&e, NULL);
  CHECK_EQ_STR(b,
               "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
               "\"message\":\"The conditional request failed\",\"Item\":{\"pk\":{\"S\":\"a\"}}}");
  free(b);
  CHECK_EQ_INT(p_error_status(P_INTERNAL), 500);
  CHECK_EQ_INT(p_error_status(P_UNAVAILABLE), 503);
  CHECK_EQ_INT(p_error_status(P_VALIDATION), 400);
  CHECK_EQ_STR(p_error_type(P_VALIDATION), "com.amazon.coral.validate#ValidationException");
  CHECK_EQ_STR(p_error_type(P_ACCESS_DENIED), "com.amazon.coral.service#AccessDeniedException");
  p_error_set(&e, P_ACCESS_DENIED, "no");
  b = p_error_body(&e, NULL);
  CHECK(strstr(b, "\"Message\":\"no\"") != NULL);
  free(b);
  p_error_clear(&e);
  CHECK_EQ_INT(e.code, P_OK);
  CHECK(e.msg == NULL && e.extra == NULL);
}

static void test_ops(void) {
  CHECK_EQ_INT(p_op_from_target("DynamoDB_20120810.PutItem"), P_OP_PutItem);
  CHECK_EQ_INT(p_op_from_target("DynamoDB_20111205.GetItem"), P_OP_GetItem);
  CHECK_EQ_INT(p_op_from_target("DynamoDB_20120810.UpdateTimeToLive"), P_OP_UpdateTimeToLive);
  CHECK_EQ_INT(p_op_from_target("DynamoDB_20120810.BatchExecuteStatement"), P_OP_BatchExecuteStatement);
  CHECK_EQ_INT(p_op_from_target("DynamoDBStreams_20120810.GetRecords"), P_OP_Streams_GetRecords);
  CHECK_EQ_INT(p_op_from_target("DynamoDBStreams_20120810.ListStreams"), P_OP_Streams_ListStreams);
  CHECK_EQ_INT(p_op_from_target("DynamoDBStreams_20120810.PutItem"), P_OP_NONE);
  CHECK_EQ_INT(p_op_from_target("DynamoDB_20120810.GetRecords"), P_OP_NONE);
  CHECK_EQ_INT(p_op_from_target("DynamoDB_20120810.putitem"), P_OP_NONE);
  CHECK_EQ_INT(p_op_from_target("DynamoDB_20120810."), P_OP_NONE);
  CHECK_EQ_INT(p_op_from_target("DynamoDB_20120810"), P_OP_NONE);
  CHECK_EQ_INT(p_op_from_target("Dynamo.PutItem"), P_OP_NONE);
  CHECK_EQ_INT(p_op_from_target(""), P_OP_NONE);
  CHECK_EQ_INT(p_op_from_target(NULL), P_OP_NONE);
  /* Every operation by its own name, and each name with a wrong last letter. */
  for (p_op op = P_OP_NONE + 1; op < P_OP_COUNT; op++) {
    char t[96];
    snprintf(t, sizeof t, "%s.%s",
             op < P_OP_Streams_DescribeStream ? "DynamoDB_20120810" : "DynamoDBStreams_20120810",
             p_op_name(op));
    CHECK_EQ_INT(p_op_from_target(t), op);
    t[strlen(t) - 1] ^= 0x20;
    CHECK_EQ_INT(p_op_from_target(t), P_OP_NONE);
  }
  CHECK_EQ_STR(p_op_name(P_OP_CreateTable), "CreateTable");
  CHECK_EQ_STR(p_op_name(P_OP_Streams_DescribeStream), "DescribeStream");
  CHECK_EQ_STR(p_op_name(P_OP_NONE), "");
  for (int op = 1; op < P_OP_Streams_DescribeStream; op++) {
    char t[128];
    snprintf(t, sizeof t, "DynamoDB_20120810.%s", p_op_name((p_op)op));
    CHECK_EQ_INT(p_op_from_target(t), op);
  }
}

static void test_base64(void) {
  /* Round trips through the value model. */
  CHECK_EQ_STR(value_result("{\"B\":\"\"}", P_LAYER_CURRENT), "{\"B\":\"\"}");
  CHECK_EQ_STR(value_result("{\"B\":\"AA==\"}", P_LAYER_CURRENT), "{\"B\":\"AA==\"}");
  CHECK_EQ_STR(value_result("{\"B\":\"AAE=\"}", P_LAYER_CURRENT), "{\"B\":\"AAE=\"}");
  CHECK_EQ_STR(value_result("{\"B\":\"AAEC\"}", P_LAYER_CURRENT), "{\"B\":\"AAEC\"}");
  CHECK_EQ_STR(value_result("{\"B\":\"aGVsbG8gd29ybGQ=\"}", P_LAYER_CURRENT), "{\"B\":\"aGVsbG8gd29ybGQ=\"}");
  CHECK_EQ_STR(value_result("{\"B\":\"+/+/\"}", P_LAYER_CURRENT), "{\"B\":\"+/+/\"}");
  CHECK_EQ_STR(
      value_result("{\"B\":\"23456\"}", P_LAYER_CURRENT),
      "SerializationException: Base64 encoded length is expected a multiple of 4 bytes but found: 5");
  CHECK_EQ_STR(value_result("{\"B\":\"=+/=\"}", P_LAYER_CURRENT),
               "SerializationException: Invalid Base64 character: '='");
  CHECK_EQ_STR(value_result("{\"B\":\"+/+=\"}", P_LAYER_CURRENT),
               "SerializationException: Invalid last non-pad Base64 character dectected");
  CHECK_EQ_STR(value_result("{\"B\":\"AB==\"}", P_LAYER_CURRENT),
               "SerializationException: Invalid last non-pad Base64 character dectected");
  CHECK_EQ_STR(value_result("{\"B\":\"A===\"}", P_LAYER_CURRENT),
               "SerializationException: Invalid last non-pad Base64 character dectected");
  CHECK_EQ_STR(value_result("{\"B\":\"====\"}", P_LAYER_CURRENT),
               "SerializationException: Invalid last non-pad Base64 character dectected");
  CHECK_EQ_STR(value_result("{\"B\":\"AA*A\"}", P_LAYER_CURRENT),
               "SerializationException: Invalid Base64 character: '*'");
  CHECK_EQ_STR(value_result("{\"B\":\"AA\\u00e9A\"}", P_LAYER_CURRENT),
               "SerializationException: Invalid Base64 character: '\xc3\xa9'");
  CHECK_EQ_STR(value_result("{\"B\":\"A\\ud83d\\ude00A\"}", P_LAYER_CURRENT),
               "SerializationException: Invalid Base64 character: '\xf0\x9f\x98\x80'");
  CHECK_EQ_STR(value_result("{\"B\":\"AA=A\"}", P_LAYER_CURRENT),
               "SerializationException: Invalid Base64 character: '='");
  CHECK_EQ_STR(value_result("{\"B\":true}", P_LAYER_CURRENT),
               "SerializationException: only base-64-encoded strings are convertible to bytes");
  CHECK_EQ_STR(value_result("{\"B\":12}", P_LAYER_CURRENT),
               "SerializationException: only base-64-encoded strings are convertible to bytes");
  /* Every byte value round trips, at every length modulo 3. */
  for (int n = 0; n < 260; n++) {
    uint8_t raw[260];
    for (int i = 0; i < n; i++) raw[i] = (uint8_t)(i * 37 + 11);
    dv_arena *a = dv_arena_new();
    dv_value v = dv_make_b(a, raw, (size_t)n);
    json_t *j = p_value_to_json(&v);
    p_error e;
    p_error_init(&e);
    dv_value back;
    CHECK_EQ_INT(p_value_from_json(j, 1, P_LAYER_CURRENT, a, &back, &e), 0);
    CHECK_EQ_INT(back.n, n);
    CHECK(n == 0 || memcmp(back.u.bytes, raw, (size_t)n) == 0);
    CHECK_EQ_INT(json_string_length(json_object_get(j, "B")), (n + 2) / 3 * 4);
    json_decref(j);
    p_error_clear(&e);
    dv_arena_free(a);
  }
}

static void test_numbers(void) {
  static const char *const pairs[][2] = {
      {"007", "7"},
      {"001.23", "1.23"},
      {"00", "0"},
      {"1.0", "1"},
      {"1.10", "1.1"},
      {"100.000", "100"},
      {"1e3", "1000"},
      {"1.23e4", "12300"},
      {"+3", "3"},
      {"-0", "0"},
      {"-0.0", "0"},
      {"+0", "0"},
      {"0.10", "0.1"},
      {"0e5", "0"},
      {"0.0e3", "0"},
      {"1e-3", "0.001"},
      {"1.0e-1", "0.1"},
      {".5", "0.5"},
      {"-.5", "-0.5"},
      {"5.", "5"},
      {"1e20", "100000000000000000000"},
      {"1e-20", "0.00000000000000000001"},
      {"-17e5", "-1700000"},
      {"1e+5", "100000"},
      {"0e125", "0"},
  };
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    char in[128], want[256];
    snprintf(in, sizeof in, "{\"N\":\"%s\"}", pairs[i][0]);
    snprintf(want, sizeof want, "{\"N\":\"%s\"}", pairs[i][1]);
    CHECK_EQ_STR(value_result(in, P_LAYER_CURRENT), want);
  }
  const char *nan = "ValidationException: The parameter cannot be converted to a numeric value: ";
  static const char *const bad[] = {"abc", "1.2.3", "0x10", "1e", "NaN", "Infinity",
                                    " 1",  "1 ",    "e5",   ".",  "-",   "1e9223372036854775808"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char in[128], want[256];
    snprintf(in, sizeof in, "{\"N\":\"%s\"}", bad[i]);
    snprintf(want, sizeof want, "%s%s", nan, bad[i]);
    CHECK_EQ_STR(value_result(in, P_LAYER_CURRENT), want);
  }
  CHECK_EQ_STR(value_result("{\"N\":\"\"}", P_LAYER_CURRENT), nan);
  CHECK_EQ_STR(value_result("{\"N\":\"\"}", P_LAYER_OLDER),
               "ValidationException: The parameter cannot be converted to a numeric value");
  const char *over =
      "ValidationException: Number overflow. Attempting to store a number with magnitude larger "
      "than supported range";
  const char *under =
      "ValidationException: Number underflow. Attempting to store a number with magnitude smaller "
      "than supported range";
  CHECK_EQ_STR(value_result("{\"N\":\"1e126\"}", P_LAYER_CURRENT), over);
  CHECK_EQ_STR(value_result("{\"N\":\"0e126\"}", P_LAYER_CURRENT), over);
  CHECK_EQ_STR(value_result("{\"N\":\"1e-131\"}", P_LAYER_CURRENT), under);
  CHECK_EQ_STR(value_result("{\"N\":\"0e-131\"}", P_LAYER_CURRENT), under);
  CHECK_EQ_STR(value_result("{\"N\":\"1e99999999999\"}", P_LAYER_CURRENT), over);
  CHECK_EQ_STR(value_result("{\"N\":\"1e-99999999999\"}", P_LAYER_CURRENT), under);
  CHECK_EQ_STR(value_result("{\"N\":\"1e2147483647\"}", P_LAYER_CURRENT), over);
  CHECK_EQ_STR(value_result("{\"N\":\"1e2147483647\"}", P_LAYER_OLDER), under);
  CHECK_EQ_STR(value_result("{\"N\":\"1e2147483646\"}", P_LAYER_OLDER), over);
  CHECK_EQ_STR(value_result("{\"N\":\"1e2147483648\"}", P_LAYER_OLDER), over);
  CHECK_EQ_STR(value_result("{\"N\":\"1e-130\"}", P_LAYER_CURRENT),
               "{\"N\":\"0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000"
               "000000000000000000000000000000000000000000000001\"}");
  CHECK_EQ_STR(
      value_result("{\"N\":\"9.9999999999999999999999999999999999999e125\"}", P_LAYER_CURRENT),
      "{\"N\":\"99999999999999999999999999999999999999000000000000000000000000000000000000000000000000"
      "0000000000000000000000000000000000000000\"}");
  CHECK_EQ_STR(value_result("{\"N\":\"12345678901234567890123456789012345678\"}", P_LAYER_CURRENT),
               "{\"N\":\"12345678901234567890123456789012345678\"}");
  CHECK_EQ_STR(value_result("{\"N\":\"123456789012345678901234567890123456789\"}", P_LAYER_CURRENT),
               "ValidationException: Attempting to store more than 38 significant digits in a Number");
  CHECK_EQ_STR(value_result("{\"N\":\"0.000123456789012345678901234567890123456780000\"}", P_LAYER_CURRENT),
               "{\"N\":\"0.00012345678901234567890123456789012345678\"}");
  CHECK_EQ_STR(value_result("{\"N\":5}", P_LAYER_CURRENT),
               "SerializationException: NUMBER_VALUE cannot be converted to String");
  CHECK_EQ_STR(value_result("{\"N\":5.5}", P_LAYER_CURRENT),
               "SerializationException: DECIMAL_VALUE cannot be converted to String");
}

static void test_sets(void) {
  CHECK_EQ_STR(value_result("{\"SS\":[\"b\",\"a\",\"\"]}", P_LAYER_CURRENT), "{\"SS\":[\"\",\"a\",\"b\"]}");
  CHECK_EQ_STR(value_result("{\"NS\":[\"10\",\"9\",\"-1\",\"1.5\"]}", P_LAYER_CURRENT),
               "{\"NS\":[\"-1\",\"1.5\",\"9\",\"10\"]}");
  CHECK_EQ_STR(value_result("{\"BS\":[\"/w==\",\"AA==\",\"\"]}", P_LAYER_CURRENT),
               "{\"BS\":[\"\",\"AA==\",\"/w==\"]}");
  CHECK_EQ_STR(
      value_result("{\"SS\":[\"b\",\"a\",\"b\"]}", P_LAYER_CURRENT),
      "ValidationException: One or more parameter values were invalid: Input collection [\"a\", \"b\", "
      "\"b\"] contains duplicates.");
  CHECK_EQ_STR(
      value_result("{\"SS\":[\"c\",\"b\",\"c\",\"a\"]}", P_LAYER_CURRENT),
      "ValidationException: One or more parameter values were invalid: Input collection [\"b\", \"c\", "
      "\"c\", \"a\"] contains duplicates.");
  CHECK_EQ_STR(value_result("{\"SS\":[\"b\",\"a\",\"b\"]}", P_LAYER_OLDER),
               "ValidationException: One or more parameter values were invalid: Input collection [b, a, b] "
               "contains duplicates.");
  CHECK_EQ_STR(value_result("{\"BS\":[\"/w==\",\"AA==\",\"AA==\"]}", P_LAYER_CURRENT),
               "ValidationException: One or more parameter values were invalid: Input collection "
               "[\"AA==\",\"/w==\",\"AA==\"]of type BS contains duplicates.");
  CHECK_EQ_STR(
      value_result("{\"BS\":[\"/w==\",\"AA==\",\"AA==\"]}", P_LAYER_OLDER),
      "ValidationException: One or more parameter values were invalid: Input collection [/w==, AA==, "
      "AA==]of type BS contains duplicates.");
  CHECK_EQ_STR(value_result("{\"NS\":[\"2\",\"1\",\"2.0\"]}", P_LAYER_CURRENT),
               "ValidationException: One or more parameter values were invalid: Input collection contains "
               "duplicates.");
  CHECK_EQ_STR(value_result("{\"NS\":[\"2\",\"1\",\"2\"]}", P_LAYER_OLDER),
               "ValidationException: Input collection contains duplicates");
  CHECK_EQ_STR(
      value_result("{\"SS\":[]}", P_LAYER_CURRENT),
      "ValidationException: One or more parameter values were invalid: An string set  may not be empty");
  CHECK_EQ_STR(
      value_result("{\"NS\":[]}", P_LAYER_CURRENT),
      "ValidationException: One or more parameter values were invalid: An number set  may not be empty");
  CHECK_EQ_STR(
      value_result("{\"BS\":[]}", P_LAYER_CURRENT),
      "ValidationException: One or more parameter values were invalid: Binary sets should not be empty");
  CHECK_EQ_STR(value_result("{\"NS\":[\"1\",\"\"]}", P_LAYER_CURRENT),
               "ValidationException: The parameter cannot be converted to a numeric value: ");
  CHECK_EQ_STR(value_result("{\"SS\":[1]}", P_LAYER_CURRENT),
               "SerializationException: NUMBER_VALUE cannot be converted to String");
  CHECK_EQ_STR(value_result("{\"SS\":\"a\"}", P_LAYER_CURRENT),
               "SerializationException: Unexpected field type");
  CHECK_EQ_STR(value_result("{\"SS\":{}}", P_LAYER_CURRENT),
               "SerializationException: Start of structure or map found where not expected");
  /* 1, 1.0, 1e0 are one member. */
  CHECK_EQ_STR(value_result("{\"NS\":[\"1\",\"1e0\"]}", P_LAYER_CURRENT),
               "ValidationException: One or more parameter values were invalid: Input collection contains "
               "duplicates.");
}

static void test_values_misc(void) {
  CHECK_EQ_STR(
      value_result("{}", P_LAYER_CURRENT),
      "ValidationException: Supplied AttributeValue is empty, must contain exactly one of the supported "
      "datatypes");
  CHECK_EQ_STR(
      value_result("{\"x\":\"\"}", P_LAYER_CURRENT),
      "ValidationException: Supplied AttributeValue is empty, must contain exactly one of the supported "
      "datatypes");
  CHECK_EQ_STR(
      value_result("{\"S\":null}", P_LAYER_CURRENT),
      "ValidationException: Supplied AttributeValue is empty, must contain exactly one of the supported "
      "datatypes");
  CHECK_EQ_STR(value_result("{\"S\":\"a\",\"N\":\"1\"}", P_LAYER_CURRENT),
               "ValidationException: Supplied AttributeValue has more than one datatypes set, must contain "
               "exactly one of the supported datatypes");
  CHECK_EQ_STR(value_result("{\"S\":null,\"N\":\"01\"}", P_LAYER_CURRENT), "{\"N\":\"1\"}");
  CHECK_EQ_STR(
      value_result("{\"NULL\":false}", P_LAYER_CURRENT),
      "ValidationException: One or more parameter values were invalid: Null attribute value types must "
      "have the value of true");
  CHECK_EQ_STR(value_result("{\"NULL\":\"yes\"}", P_LAYER_CURRENT), "{\"NULL\":true}");
  CHECK_EQ_STR(
      value_result("{\"NULL\":\"no\"}", P_LAYER_CURRENT),
      "ValidationException: One or more parameter values were invalid: Null attribute value types must "
      "have the value of true");
  CHECK_EQ_STR(value_result("{\"BOOL\":\"TRUE\"}", P_LAYER_CURRENT), "{\"BOOL\":true}");
  CHECK_EQ_STR(value_result("{\"BOOL\":\"0\"}", P_LAYER_CURRENT), "{\"BOOL\":false}");
  CHECK_EQ_STR(value_result("{\"BOOL\":\"No\"}", P_LAYER_CURRENT), "{\"BOOL\":false}");
  CHECK_EQ_STR(value_result("{\"BOOL\":\"maybe\"}", P_LAYER_CURRENT),
               "SerializationException: 'MAYBE' can not be converted to an Boolean");
  CHECK_EQ_STR(value_result("{\"BOOL\":1}", P_LAYER_CURRENT),
               "SerializationException: NUMBER_VALUE cannot be converted to Boolean");
  CHECK_EQ_STR(value_result("{\"BOOL\":[]}", P_LAYER_CURRENT),
               "SerializationException: Unrecognized collection type class java.lang.Boolean");
  CHECK_EQ_STR(value_result("{\"S\":true}", P_LAYER_CURRENT),
               "SerializationException: TRUE_VALUE cannot be converted to String");
  CHECK_EQ_STR(value_result("{\"S\":false}", P_LAYER_CURRENT),
               "SerializationException: FALSE_VALUE cannot be converted to String");
  CHECK_EQ_STR(value_result("{\"S\":[]}", P_LAYER_CURRENT),
               "SerializationException: Unrecognized collection type class java.lang.String");
  CHECK_EQ_STR(value_result("{\"M\":[]}", P_LAYER_CURRENT),
               "SerializationException: Unrecognized collection type java.util.Map<java.lang.String, "
               "com.amazonaws.dynamodb.v20120810.AttributeValue>");
  CHECK_EQ_STR(value_result("{\"M\":1}", P_LAYER_CURRENT), "SerializationException: Unexpected field type");
  CHECK_EQ_STR(value_result("{\"L\":{}}", P_LAYER_CURRENT),
               "SerializationException: Start of structure or map found where not expected");
  CHECK_EQ_STR(value_result("[]", P_LAYER_CURRENT),
               "SerializationException: Unrecognized collection type class "
               "com.amazonaws.dynamodb.v20120810.AttributeValue");
  CHECK_EQ_STR(value_result("\"x\"", P_LAYER_CURRENT),
               "SerializationException: Unexpected value type in payload");
  /* Maps sorted by name, lists in order, nested normalisation. */
  CHECK_EQ_STR(
      value_result("{\"M\":{\"b\":{\"N\":\"1.50\"},\"a\":{\"L\":[{\"S\":\"x\"},{\"NULL\":true},"
                   "{\"SS\":[\"z\",\"y\"]}]}}}",
                   P_LAYER_CURRENT),
      "{\"M\":{\"a\":{\"L\":[{\"S\":\"x\"},{\"NULL\":true},{\"SS\":[\"y\",\"z\"]}]},\"b\":{\"N\":\"1.5\"}}}");
  CHECK_EQ_STR(value_result("{\"M\":{}}", P_LAYER_CURRENT), "{\"M\":{}}");
  CHECK_EQ_STR(value_result("{\"L\":[]}", P_LAYER_CURRENT), "{\"L\":[]}");
  CHECK_EQ_STR(value_result("{\"S\":\"\\u00e9\\ud83d\\ude00\"}", P_LAYER_CURRENT),
               "{\"S\":\"\xc3\xa9\xf0\x9f\x98\x80\"}");
  /* An error deep inside a list. */
  CHECK_EQ_STR(value_result("{\"L\":[{\"S\":\"a\"},{\"M\":{\"x\":{\"N\":\"zz\"}}}]}", P_LAYER_CURRENT),
               "ValidationException: The parameter cannot be converted to a numeric value: zz");
  CHECK_EQ_STR(
      value_result("{\"L\":[null]}", P_LAYER_CURRENT),
      "ValidationException: Supplied AttributeValue is empty, must contain exactly one of the supported "
      "datatypes");
}

/* {"M":{"a": ... {"S":"x"} ... }} with `wraps` maps around the scalar. */
static char *nested(int wraps, const char *kind) {
  size_t cap = (size_t)wraps * 24 + 64;
  char *s = malloc(cap);
  size_t o = 0;
  for (int i = 0; i < wraps; i++)
    o += (size_t)snprintf(s + o, cap - o, !strcmp(kind, "M") ? "{\"M\":{\"a\":" : "{\"L\":[");
  o += (size_t)snprintf(s + o, cap - o, "{\"S\":\"x\"}");
  for (int i = 0; i < wraps; i++) o += (size_t)snprintf(s + o, cap - o, !strcmp(kind, "M") ? "}}" : "]}");
  return s;
}

static void test_nesting(void) {
  const char *msg =
      "ValidationException: Nesting Levels have exceeded supported limits: Attributes in the item "
      "have nested levels beyond supported limit";
  for (int k = 0; k < 2; k++) {
    const char *kind = k ? "L" : "M";
    char *s = nested(31, kind);
    CHECK(value_result(s, P_LAYER_CURRENT)[0] == '{');
    free(s);
    s = nested(32, kind);
    CHECK_EQ_STR(value_result(s, P_LAYER_CURRENT), msg);
    free(s);
    s = nested(1000, kind); /* deep, but within jansson's parse limit: no crash */
    CHECK_EQ_STR(value_result(s, P_LAYER_CURRENT), msg);
    free(s);
  }
  /* Through PutItem: enveloped. */
  char *v = nested(32, "M");
  size_t n = strlen(v) + 128;
  char *body = malloc(n);
  snprintf(body, n, "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"deep\":%s}}", v);
  json_t *j = parse(body);
  dv_arena *a = dv_arena_new();
  p_put_item put;
  p_error e;
  p_error_init(&e);
  CHECK_EQ_INT(p_parse_put_item(j, a, &put, &e), -1);
  CHECK_EQ_STR(e.msg,
               "1 validation error detected: Nesting Levels have exceeded supported limits: Attributes in "
               "the item have nested levels beyond supported limit");
  p_error_clear(&e);
  dv_arena_free(a);
  json_decref(j);
  free(body);
  free(v);
}

/* PutItem body with one string attribute "pad" of the given length besides pk="a". */
static int put_with_pad(size_t pad_len, p_error *e) {
  char *pad = repeat('x', pad_len);
  json_t *j =
      json_pack("{s:s,s:{s:{s:s},s:{s:s}}}", "TableName", "tbl", "Item", "pk", "S", "a", "pad", "S", pad);
  free(pad);
  dv_arena *a = dv_arena_new();
  p_put_item put;
  int rc = p_parse_put_item(j, a, &put, e);
  if (rc == 0) CHECK_EQ_INT(dv_item_size(&put.item), 2 + 1 + 3 + pad_len);
  dv_arena_free(a);
  json_decref(j);
  return rc;
}

static void test_item_size(void) {
  p_error e;
  p_error_init(&e);
  /* pk(2) + "a"(1) + pad(3) + value = 409600 exactly. */
  CHECK_EQ_INT(put_with_pad(409600 - 6, &e), 0);
  CHECK_EQ_INT(put_with_pad(409600 - 5, &e), -1);
  CHECK_EQ_STR(e.msg, "Item size has exceeded the maximum allowed size");
  CHECK_EQ_INT(e.code, P_VALIDATION);
  p_error_clear(&e);
  /* Attribute names: 65535 bytes accepted, 65536 rejected (enveloped). */
  for (int k = 0; k < 2; k++) {
    char *name = repeat('n', 65535 + (size_t)k);
    json_t *j =
        json_pack("{s:s,s:{s:{s:s},s:{s:s}}}", "TableName", "tbl", "Item", "pk", "S", "a", name, "S", "v");
    dv_arena *a = dv_arena_new();
    p_put_item put;
    CHECK_EQ_INT(p_parse_put_item(j, a, &put, &e), k ? -1 : 0);
    if (k)
      CHECK_EQ_STR(e.msg,
                   "1 validation error detected: One or more parameter values were invalid: Attribute name "
                   "exceeds the maximum length of 65535 bytes");
    p_error_clear(&e);
    dv_arena_free(a);
    json_decref(j);
    free(name);
  }
  /* Empty names are only refused at the top level. */
  json_t *j =
      parse("{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"m\":{\"M\":{\"\":{\"S\":\"x\"}}}}}");
  dv_arena *a = dv_arena_new();
  p_put_item put;
  CHECK_EQ_INT(p_parse_put_item(j, a, &put, &e), 0);
  p_error_clear(&e);
  dv_arena_free(a);
  json_decref(j);
}

static void check_key_size(const char *hash_t, size_t hash_len, const char *range_t, size_t range_len,
                           const char *want) {
  char *h = repeat('h', hash_len), *r = repeat('r', range_len);
  json_t *j =
      json_pack("{s:s,s:{s:{s:s},s:{s:s}}}", "TableName", "tbl", "Item", "pk", hash_t, h, "sk", range_t, r);
  dv_arena *a = dv_arena_new();
  p_put_item put;
  p_error e;
  p_error_init(&e);
  p_key_schema ks = {"pk", !strcmp(hash_t, "S") ? DV_S : DV_B, "sk", !strcmp(range_t, "S") ? DV_S : DV_B};
  int rc = p_parse_put_item(j, a, &put, &e);
  CHECK_EQ_INT(rc, 0);
  if (rc == 0) rc = p_check_put_item(&ks, &put.item, &e);
  if (want) {
    CHECK_EQ_INT(rc, -1);
    CHECK_EQ_STR(e.msg, want);
  } else {
    CHECK_EQ_INT(rc, 0);
  }
  /* The same through p_check_key on a Key of just the two attributes. */
  json_t *kj = json_pack("{s:{s:s},s:{s:s}}", "pk", hash_t, h, "sk", range_t, r);
  dv_value key;
  p_error_clear(&e);
  CHECK_EQ_INT(p_item_from_json(kj, P_LAYER_CURRENT, a, &key, &e), 0);
  rc = p_check_key(&ks, &key, &e);
  if (want) {
    CHECK_EQ_INT(rc, -1);
    CHECK_EQ_STR(e.msg, want);
  } else {
    CHECK_EQ_INT(rc, 0);
  }
  json_decref(kj);
  p_error_clear(&e);
  dv_arena_free(a);
  json_decref(j);
  free(h);
  free(r);
}

static void test_key_sizes(void) {
  const char *hmsg =
      "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size "
      "limit of2048 bytes";
  const char *rmsg =
      "One or more parameter values were invalid: Aggregated size of all range keys has exceeded "
      "the size limit of 1024 bytes";
  check_key_size("S", 2048, "S", 1024, NULL);
  check_key_size("S", 2049, "S", 1, hmsg);
  check_key_size("S", 1, "S", 1025, rmsg);
  check_key_size("S", 2049, "S", 1025, hmsg);
  /* Binary: decoded bytes count. 2048 bytes = 2732 base64 chars; build by value. */
  dv_arena *a = dv_arena_new();
  uint8_t *raw = calloc(1, 2049);
  raw[0] = 1;
  for (int k = 0; k < 2; k++) {
    size_t hn = k ? 2049 : 2048;
    dv_attr at[1];
    at[0].name = "pk";
    at[0].name_len = 2;
    at[0].value = dv_make_b(a, raw, hn);
    dv_value item = {.type = DV_M, .n = 1, .u.attrs = at};
    p_key_schema ks = {"pk", DV_B, NULL, DV_NONE};
    p_error e;
    p_error_init(&e);
    CHECK_EQ_INT(p_check_put_item(&ks, &item, &e), k ? -1 : 0);
    if (k) CHECK_EQ_STR(e.msg, hmsg);
    p_error_clear(&e);
    CHECK_EQ_INT(p_check_key(&ks, &item, &e), k ? -1 : 0);
    p_error_clear(&e);
  }
  free(raw);
  dv_arena_free(a);
}

static void test_capacity(void) {
  CHECK(p_read_units(1, 1, 1) == 1.0);
  CHECK(p_read_units(4096, 1, 1) == 1.0);
  CHECK(p_read_units(4097, 1, 1) == 2.0);
  CHECK(p_read_units(4097, 1, 0) == 1.0);
  CHECK(p_read_units(10000, 1, 0) == 1.5);
  CHECK(p_read_units(0, 0, 1) == 1.0);
  CHECK(p_read_units(0, 0, 0) == 0.5);
  CHECK(p_write_units(1, 0, 0) == 1.0);
  CHECK(p_write_units(1024, 0, 0) == 1.0);
  CHECK(p_write_units(1025, 0, 0) == 2.0);
  CHECK(p_write_units(100, 3000, 1) == 3.0);
  CHECK(p_write_units(100, 3000, 0) == 1.0);
  CHECK(p_write_units(0, 2049, 1) == 3.0); /* DeleteItem of a 2049-byte item */
  CHECK(p_write_units(0, 0, 0) == 1.0);    /* DeleteItem of a missing item */
  CHECK(p_write_units(409600, 0, 0) == 400.0);
  CHECK(p_consumed_capacity("t", 1.0, P_RCC_NONE) == NULL);
  json_t *c = p_consumed_capacity("t", 1.0, P_RCC_TOTAL);
  char *s = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER);
  CHECK_EQ_STR(s, "{\"TableName\":\"t\",\"CapacityUnits\":1.0}");
  free(s);
  json_decref(c);
  c = p_consumed_capacity("t", 0.5, P_RCC_INDEXES);
  s = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER);
  CHECK_EQ_STR(s, "{\"TableName\":\"t\",\"CapacityUnits\":0.5,\"Table\":{\"CapacityUnits\":0.5}}");
  free(s);
  json_decref(c);
}

static void test_table_description(void) {
  json_t *body = parse(
      "{\"TableName\":\"Music\",\"AttributeDefinitions\":[{\"AttributeName\":\"a\","
      "\"AttributeType\":\"S\"},{\"AttributeName\":\"b\",\"AttributeType\":\"N\"}],"
      "\"KeySchema\":[{\"AttributeName\":\"a\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"b\","
      "\"KeyType\":\"RANGE\"}],\"BillingMode\":\"PAY_PER_REQUEST\",\"Tags\":[{\"Key\":\"k\","
      "\"Value\":\"v\"}]}");
  dv_arena *a = dv_arena_new();
  p_create_table ct;
  p_error e;
  p_error_init(&e);
  CHECK_EQ_INT(p_parse_create_table(body, &k_ctx, a, &ct, &e), 0);
  uint8_t rnd[16];
  for (int i = 0; i < 16; i++) rnd[i] = (uint8_t)(0xF0 + i);
  p_create_table_set_id(&ct, rnd);
  /* Stored as bytes, read back. */
  char *meta_text = json_dumps(ct.meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(ct.meta);
  json_t *meta = parse(meta_text);
  json_t *d = p_table_description(&k_ctx, ct.table_name, &ct.key, meta, 1421866952.062, "ACTIVE", 3, 120, NULL, 0);
  char *s = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
  CHECK_EQ_STR(
      s,
      "{\"AttributeDefinitions\":[{\"AttributeName\":\"a\",\"AttributeType\":\"S\"},{\"AttributeName\":"
      "\"b\",\"AttributeType\":\"N\"}],\"TableName\":\"Music\",\"KeySchema\":[{\"AttributeName\":\"a\","
      "\"KeyType\":\"HASH\"},{\"AttributeName\":\"b\",\"KeyType\":\"RANGE\"}],\"TableStatus\":"
      "\"ACTIVE\",\"CreationDateTime\":1421866952.062,\"ProvisionedThroughput\":{"
      "\"NumberOfDecreasesToday\":0,\"ReadCapacityUnits\":0,\"WriteCapacityUnits\":0},"
      "\"TableSizeBytes\":120,\"ItemCount\":3,\"TableArn\":\"arn:aws:dynamodb:us-east-1:123456789012:"
      "table/Music\",\"TableId\":\"f0f1f2f3-f4f5-46f7-b8f9-fafbfcfdfeff\",\"BillingModeSummary\":{"
      "\"BillingMode\":\"PAY_PER_REQUEST\",\"LastUpdateToPayPerRequestDateTime\":1421866952.062},"
      "\"DeletionProtectionEnabled\":false}");
  free(s);
  json_decref(d);
  /* Tags are kept in meta for later tag operations. */
  CHECK(json_object_get(meta, "Tags") != NULL);
  json_decref(meta);
  free(meta_text);
  char id[37];
  memset(rnd, 0, sizeof rnd);
  p_table_id_format(rnd, id);
  CHECK_EQ_STR(id, "00000000-0000-4000-8000-000000000000");
  p_error_clear(&e);
  dv_arena_free(a);
  json_decref(body);
}

static void test_project(void) {
  json_t *j = parse("{\"a\":{\"S\":\"1\"},\"b\":{\"N\":\"2\"},\"c\":{\"M\":{\"x\":{\"S\":\"y\"}}}}");
  dv_arena *a = dv_arena_new();
  dv_value item;
  p_error e;
  p_error_init(&e);
  CHECK_EQ_INT(p_item_from_json(j, P_LAYER_CURRENT, a, &item, &e), 0);
  const char *names[] = {"c", "zz", "a"};
  dv_value p = p_project_attrs(&item, names, 3, a);
  json_t *o = p_item_to_json(&p);
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  CHECK_EQ_STR(s, "{\"a\":{\"S\":\"1\"},\"c\":{\"M\":{\"x\":{\"S\":\"y\"}}}}");
  free(s);
  json_decref(o);
  const char *none[] = {"q"};
  p = p_project_attrs(&item, none, 1, a);
  CHECK_EQ_INT(p.type, DV_M);
  CHECK_EQ_INT(p.n, 0);
  dv_arena_free(a);
  json_decref(j);
}

static void test_bodies(void) {
  /* Non-object bodies are bare SerializationExceptions. */
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  json_t *j = json_array();
  p_put_item put;
  CHECK_EQ_INT(p_parse_put_item(j, a, &put, &e), -1);
  CHECK_EQ_INT(e.code, P_SERIALIZATION);
  CHECK(e.msg == NULL);
  p_error_clear(&e);
  const char *name;
  CHECK_EQ_INT(p_parse_table_name(j, a, &name, &e), -1);
  CHECK_EQ_INT(e.code, P_SERIALIZATION);
  p_error_clear(&e);
  json_decref(j);
  /* ListTables defaults on {}. */
  j = json_object();
  p_list_tables lt;
  CHECK_EQ_INT(p_parse_list_tables(j, a, &lt, &e), 0);
  CHECK_EQ_INT(lt.limit, 100);
  CHECK(lt.exclusive_start == NULL);
  json_decref(j);
  /* Operations without input. */
  j = json_object();
  CHECK_EQ_INT(p_parse_no_input(j, &e), 0);
  json_decref(j);
  j = json_string("x");
  CHECK_EQ_INT(p_parse_no_input(j, &e), -1);
  CHECK_EQ_INT(e.code, P_SERIALIZATION);
  p_error_clear(&e);
  json_decref(j);
  j = p_describe_limits();
  char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  CHECK_EQ_STR(s,
               "{\"AccountMaxReadCapacityUnits\":80000,\"AccountMaxWriteCapacityUnits\":80000,"
               "\"TableMaxReadCapacityUnits\":40000,\"TableMaxWriteCapacityUnits\":40000}");
  free(s);
  json_decref(j);
  j = p_describe_endpoints("localhost:8000");
  s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  CHECK_EQ_STR(s, "{\"Endpoints\":[{\"Address\":\"localhost:8000\",\"CachePeriodInMinutes\":1440}]}");
  free(s);
  json_decref(j);
  /* The depth argument: a scalar given at level 32 is fine, at 33 too deep. */
  j = parse("{\"S\":\"x\"}");
  dv_value v;
  CHECK_EQ_INT(p_value_from_json(j, 32, P_LAYER_CURRENT, a, &v, &e), 0);
  CHECK_EQ_INT(p_value_from_json(j, 33, P_LAYER_CURRENT, a, &v, &e), -1);
  p_error_clear(&e);
  json_decref(j);
  /* Error messages with quotes stay valid JSON. */
  p_error_set(&e, P_VALIDATION, "Value '%s' at 'tableName'", "a\"b\\");
  s = p_error_body(&e, NULL);
  json_t *back = parse(s);
  CHECK_EQ_STR(json_string_value(json_object_get(back, "message")), "Value 'a\"b\\' at 'tableName'");
  json_decref(back);
  free(s);
  p_error_clear(&e);
  dv_arena_free(a);
}

/* ---- case runner ------------------------------------------------------------------- */

static int g_cases, g_case_failures;

static dv_type type_of(const char *s) {
  return dv_type_from_name(s, strlen(s));
}

static void schema_from(const json_t *s, p_key_schema *ks) {
  memset(ks, 0, sizeof *ks);
  const json_t *h = json_object_get(s, "hash"), *r = json_object_get(s, "range");
  ks->hash_name = json_string_value(json_array_get(h, 0));
  ks->hash_type = type_of(json_string_value(json_array_get(h, 1)));
  if (r) {
    ks->range_name = json_string_value(json_array_get(r, 0));
    ks->range_type = type_of(json_string_value(json_array_get(r, 1)));
  }
}

static const char *rv_name(p_return_values rv) {
  static const char *const n[] = {"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"};
  return n[rv];
}
static const char *rcc_name(p_rcc r) {
  static const char *const n[] = {"NONE", "TOTAL", "INDEXES"};
  return n[r];
}

static int fail(const char *file, const char *what, const char *got, const char *want) {
  fprintf(stderr, "case %s: %s\n   got:  %s\n   want: %s\n", file, what, got ? got : "(null)",
          want ? want : "(null)");
  return 1;
}

static int cmp_json(const char *file, const char *what, const json_t *got, const json_t *want) {
  if (json_equal((json_t *)got, (json_t *)want)) return 0;
  char *g = got ? json_dumps(got, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
  char *w = json_dumps(want, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
  fail(file, what, g, w);
  free(g);
  free(w);
  return 1;
}

static int cmp_str(const char *file, const char *what, const char *got, const json_t *want) {
  if (!want) return 0;
  const char *w = json_string_value(want);
  if (got && w && !strcmp(got, w)) return 0;
  return fail(file, what, got, w);
}

static int cmp_int(const char *file, const char *what, long long got, const json_t *want) {
  if (!want) return 0;
  if (json_is_boolean(want) ? got == json_is_true(want) : got == json_integer_value(want)) return 0;
  char g[32], w[32];
  snprintf(g, sizeof g, "%lld", got);
  snprintf(w, sizeof w, "%lld",
           json_is_boolean(want) ? (long long)json_is_true(want) : json_integer_value(want));
  return fail(file, what, g, w);
}

/* A printed tree (malloc'd, taken; NULL = no tree) against "want": a string,
 * or JSON null for "no tree"; absent = not compared. */
static int cmp_tree(const char *file, const char *what, char *got, const json_t *want) {
  int bad = 0;
  if (want && json_is_null(want)) {
    if (got) bad = fail(file, what, got, "(none)");
  } else if (want) {
    bad = cmp_str(file, what, got, want);
  }
  free(got);
  return bad;
}

/* Batch ops: parse, then (schema given) every table's check; on success
 * *rendered is the request rendered back (see the header comment). */
static int batch_case(const char *op, const json_t *req, const p_key_schema *ks, const p_index *idx, size_t nidx,
                      dv_arena *a, p_error *e, json_t **rendered, size_t *count, p_rcc *rcc, int *ricm) {
  json_t *out = json_object();
  int rc;
  if (!strcmp(op, "BatchWriteItem")) {
    p_batch_write bw;
    rc = p_parse_batch_write(req, a, &bw, e);
    for (size_t i = 0; rc == 0 && ks && i < bw.n_tables; i++)
      rc = p_check_batch_write_table(ks, &bw.tables[i], e);
    for (size_t i = 0; rc == 0 && ks && i < bw.n_tables; i++)
      for (size_t j = 0; rc == 0 && j < bw.tables[i].n_reqs; j++)
        if (bw.tables[i].reqs[j].is_put) rc = p_check_index_keys(idx, nidx, &bw.tables[i].reqs[j].item, e);
    for (size_t i = 0; rc == 0 && i < bw.n_tables; i++) {
      json_t *list = json_array();
      for (size_t j = 0; j < bw.tables[i].n_reqs; j++) {
        const p_batch_write_req *q = &bw.tables[i].reqs[j];
        json_array_append_new(list, json_pack("{s:{s:o}}", q->is_put ? "PutRequest" : "DeleteRequest",
                                              q->is_put ? "Item" : "Key", p_item_to_json(&q->item)));
      }
      json_object_set_new(out, bw.tables[i].table_name, list);
    }
    if (rc == 0) {
      *count = bw.n_reqs;
      *rcc = bw.rcc;
      *ricm = bw.ricm_size;
    }
  } else {
    p_batch_get bg;
    rc = p_parse_batch_get(req, a, &bg, e);
    for (size_t i = 0; rc == 0 && ks && i < bg.n_tables; i++)
      rc = p_check_batch_get_table(ks, &bg.tables[i], e);
    for (size_t i = 0; rc == 0 && i < bg.n_tables; i++)
      json_object_set_new(out, bg.tables[i].table_name, p_batch_get_unprocessed(&bg.tables[i], 0));
    if (rc == 0) {
      *count = bg.n_keys;
      *rcc = bg.rcc;
    }
  }
  if (rc == 0)
    *rendered = out;
  else
    json_decref(out);
  return rc;
}

/* Query / Scan: parse, then (schema given) p_check_query / p_check_scan; on
 * success *summary renders the parsed request: table_name, index_name,
 * select, limit, consistent, forward, rcc, segment, total_segments, esk
 * (wire JSON or null), key_cond / filter (expr_print or null),
 * legacy_filter, projection (expr_print_projection or null) and, for a
 * checked Query, range {hash, lo, lo_excl, hi, hi_excl, one_row}. */
static json_t *av_or_null(const dv_value *v) {
  return v && v->type != DV_NONE ? p_value_to_json(v) : json_null();
}
static json_t *str_or_null(char *s) {
  json_t *j = s ? json_string(s) : json_null();
  free(s);
  return j;
}
static int query_case(const char *op, const json_t *req, const p_key_schema *ks, const p_index *idx, size_t nidx,
                      dv_arena *a, p_error *e, json_t **summary) {
  static const char *const sel[] = {"ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES",
                                    "COUNT"};
  p_query q;
  p_query_range rg;
  const p_index *which = NULL;
  int scan = !strcmp(op, "Scan");
  int rc = scan ? p_parse_scan(req, a, &q, e) : p_parse_query(req, a, &q, e);
  if (rc == 0 && ks)
    rc = scan ? p_check_scan(ks, idx, nidx, &q, &which, e) : p_check_query(ks, idx, nidx, &q, a, &rg, &which, e);
  if (rc != 0) return rc;
  json_t *o = json_object();
  json_object_set_new(o, "table_name", json_string(q.table_name));
  json_object_set_new(o, "index_name", q.index_name ? json_string(q.index_name) : json_null());
  json_object_set_new(o, "select", json_string(sel[q.select]));
  json_object_set_new(o, "select_given", json_boolean(q.select_given));
  json_object_set_new(o, "which", which ? json_string(which->name) : json_null());
  if (ks) json_object_set_new(o, "needs_fetch", json_boolean(p_index_needs_fetch(ks, which, &q)));
  json_object_set_new(o, "limit", json_integer(q.limit));
  json_object_set_new(o, "consistent", json_boolean(q.consistent));
  json_object_set_new(o, "forward", json_boolean(q.forward));
  json_object_set_new(o, "rcc", json_string(rcc_name(q.rcc)));
  json_object_set_new(o, "segment", json_integer(q.segment));
  json_object_set_new(o, "total_segments", json_integer(q.total_segments));
  json_object_set_new(o, "esk", q.esk.type == DV_M ? p_item_to_json(&q.esk) : json_null());
  json_object_set_new(o, "key_cond", str_or_null(q.key_cond ? expr_print(q.key_cond) : NULL));
  json_object_set_new(o, "filter", str_or_null(q.filter ? expr_print(q.filter) : NULL));
  json_object_set_new(o, "legacy_filter", json_boolean(q.legacy_filter));
  json_object_set_new(o, "projection",
                      str_or_null(q.projection ? expr_print_projection(q.projection) : NULL));
  if (!scan && ks)
    json_object_set_new(o, "range",
                        json_pack("{s:o,s:o,s:b,s:o,s:b,s:b}", "hash", av_or_null(rg.hash), "lo",
                                  av_or_null(rg.lo), "lo_excl", rg.lo_excl, "hi", av_or_null(rg.hi),
                                  "hi_excl", rg.hi_excl, "one_row", rg.one_row));
  *summary = o;
  return 0;
}

/* A nullable string against want: absent = not compared, JSON null = got
 * must be NULL. */
static int cmp_nstr(const char *file, const char *what, const char *got, const json_t *want) {
  if (!want) return 0;
  if (json_is_null(want)) return got ? fail(file, what, got, "(null)") : 0;
  return cmp_str(file, what, got, want);
}

static int is_table_stream_op(const char *op) {
  static const char *const ops[] = {"UpdateTable",    "UpdateTimeToLive", "DescribeTimeToLive", "ListStreams",
                                    "DescribeStream", "GetShardIterator", "GetRecords",         NULL};
  for (const char *const *o = ops; *o; o++)
    if (!strcmp(op, *o)) return 1;
  return 0;
}

/* UpdateTable, TTL and Streams cases. Parses (and, with meta, runs the state
 * check); on success compares, when given in exp:
 *   UpdateTable       "table_name", "has_stream", "stream_enabled", "stream_view" (name or null),
 *                     "changes", "has_gsi_updates", "has_replica_updates", "gsi_create",
 *                     "gsi_delete" (name or null), "new_meta" (exact),
 *                     "description" / "description_absent" (p_table_description of the new
 *                     meta, key from "schema" or pk S)
 *   UpdateTimeToLive  "table_name", "enabled", "attribute", "response" (p_update_ttl_response),
 *                     "new_meta", "describe_ttl" (p_describe_ttl of the new meta)
 *   DescribeTimeToLive "table_name", "describe_ttl" (p_describe_ttl of meta)
 *   ListStreams       "table_name", "limit", "exclusive_start"
 *   DescribeStream    "arn", "limit", "exclusive_start_shard", "filter_parent"
 *   GetShardIterator  "arn", "shard_id", "type", "has_seq", "seq" (decimal text)
 *   GetRecords        "iterator", "limit"
 * Returns the parse / check status; mismatches are added to *bad. */
static int table_stream_case(const char *file, const char *op, const json_t *req, const json_t *meta,
                             const json_t *schema, const json_t *exp, dv_arena *a, p_error *e, int *bad) {
  int rc;
  json_t *new_meta = NULL;
  const json_t *w;
  if (!strcmp(op, "UpdateTable")) {
    p_update_table u;
    rc = p_parse_update_table(req, a, &u, e);
    if (rc == 0 && meta) rc = p_check_update_table(meta, &u, &new_meta, e);
    if (rc == 0) {
      *bad |= cmp_str(file, "table_name", u.table_name, json_object_get(exp, "table_name"));
      *bad |= cmp_int(file, "has_stream", u.has_stream, json_object_get(exp, "has_stream"));
      *bad |= cmp_int(file, "stream_enabled", u.stream_enabled, json_object_get(exp, "stream_enabled"));
      *bad |= cmp_nstr(file, "stream_view", p_view_name(u.stream_view), json_object_get(exp, "stream_view"));
      *bad |= cmp_int(file, "has_gsi_updates", u.has_gsi_updates, json_object_get(exp, "has_gsi_updates"));
      *bad |= cmp_int(file, "has_replica_updates", u.has_replica_updates,
                      json_object_get(exp, "has_replica_updates"));
      *bad |= cmp_nstr(file, "gsi_create", u.gsi_create, json_object_get(exp, "gsi_create"));
      *bad |= cmp_nstr(file, "gsi_delete", u.gsi_delete, json_object_get(exp, "gsi_delete"));
      if ((w = json_object_get(exp, "changes"))) *bad |= cmp_json(file, "changes", u.changes, w);
      if ((w = json_object_get(exp, "new_meta"))) *bad |= cmp_json(file, "new_meta", new_meta, w);
      p_key_schema ks = {"pk", DV_S, NULL, DV_NONE};
      if (schema) schema_from(schema, &ks);
      json_t *d = new_meta
                      ? p_table_description(&k_ctx, u.table_name, &ks, new_meta, 1700000000.5, "ACTIVE", 0, 0,
                                            NULL, 0)
                      : NULL;
      if ((w = json_object_get(exp, "description"))) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)w, k, v) {
          char what[128];
          snprintf(what, sizeof what, "description.%s", k);
          *bad |= cmp_json(file, what, json_object_get(d, k), v);
        }
      }
      if ((w = json_object_get(exp, "description_absent"))) {
        size_t i;
        json_t *v;
        json_array_foreach(w, i, v) if (json_object_get(d, json_string_value(v))) *bad |=
            fail(file, "member should be absent", json_string_value(v), NULL);
      }
      json_decref(d);
    }
    json_decref(u.changes);
  } else if (!strcmp(op, "UpdateTimeToLive")) {
    p_update_ttl t;
    rc = p_parse_update_ttl(req, a, &t, e);
    if (rc == 0 && meta) rc = p_check_update_ttl(meta, &t, &new_meta, e);
    if (rc == 0) {
      *bad |= cmp_str(file, "table_name", t.table_name, json_object_get(exp, "table_name"));
      *bad |= cmp_int(file, "enabled", t.enabled, json_object_get(exp, "enabled"));
      *bad |= cmp_str(file, "attribute", t.attribute, json_object_get(exp, "attribute"));
      json_t *r = p_update_ttl_response(&t);
      if ((w = json_object_get(exp, "response"))) *bad |= cmp_json(file, "response", r, w);
      json_decref(r);
      if ((w = json_object_get(exp, "new_meta"))) *bad |= cmp_json(file, "new_meta", new_meta, w);
      if ((w = json_object_get(exp, "describe_ttl"))) {
        json_t *dt = p_describe_ttl(new_meta);
        *bad |= cmp_json(file, "describe_ttl", dt, w);
        json_decref(dt);
      }
    }
  } else if (!strcmp(op, "DescribeTimeToLive")) {
    const char *name;
    rc = p_parse_table_name(req, a, &name, e);
    if (rc == 0) {
      *bad |= cmp_str(file, "table_name", name, json_object_get(exp, "table_name"));
      if ((w = json_object_get(exp, "describe_ttl"))) {
        json_t *dt = p_describe_ttl(meta);
        *bad |= cmp_json(file, "describe_ttl", dt, w);
        json_decref(dt);
      }
    }
  } else if (!strcmp(op, "ListStreams")) {
    p_list_streams l;
    rc = p_parse_list_streams(req, a, &l, e);
    if (rc == 0) {
      *bad |= cmp_nstr(file, "table_name", l.table_name, json_object_get(exp, "table_name"));
      *bad |= cmp_int(file, "limit", l.limit, json_object_get(exp, "limit"));
      *bad |= cmp_nstr(file, "exclusive_start", l.exclusive_start, json_object_get(exp, "exclusive_start"));
    }
  } else if (!strcmp(op, "DescribeStream")) {
    p_describe_stream d;
    rc = p_parse_describe_stream(req, a, &d, e);
    if (rc == 0) {
      *bad |= cmp_str(file, "arn", d.arn, json_object_get(exp, "arn"));
      *bad |= cmp_int(file, "limit", d.limit, json_object_get(exp, "limit"));
      *bad |= cmp_nstr(file, "exclusive_start_shard", d.exclusive_start_shard,
                       json_object_get(exp, "exclusive_start_shard"));
      *bad |= cmp_nstr(file, "filter_parent", d.filter_parent, json_object_get(exp, "filter_parent"));
    }
  } else if (!strcmp(op, "GetShardIterator")) {
    p_get_shard_iterator g;
    rc = p_parse_get_shard_iterator(req, a, &g, e);
    if (rc == 0) {
      static const char *const types[] = {"?", "TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER",
                                          "AFTER_SEQUENCE_NUMBER"};
      char seq[32];
      snprintf(seq, sizeof seq, "%llu", (unsigned long long)g.seq);
      *bad |= cmp_str(file, "arn", g.arn, json_object_get(exp, "arn"));
      *bad |= cmp_str(file, "shard_id", g.shard_id, json_object_get(exp, "shard_id"));
      *bad |=
          cmp_str(file, "type", types[g.type >= 1 && g.type <= 4 ? g.type : 0], json_object_get(exp, "type"));
      *bad |= cmp_int(file, "has_seq", g.has_seq, json_object_get(exp, "has_seq"));
      *bad |= cmp_str(file, "seq", seq, json_object_get(exp, "seq"));
    }
  } else {
    p_get_records g;
    rc = p_parse_get_records(req, a, &g, e);
    if (rc == 0) {
      *bad |= cmp_str(file, "iterator", g.iterator, json_object_get(exp, "iterator"));
      *bad |= cmp_int(file, "limit", g.limit, json_object_get(exp, "limit"));
    }
  }
  json_decref(new_meta);
  return rc;
}

/* [{"name", "global", "hash":[n,t], "range":[n,t] | null, "projection", "include":[..],
 * "creating"}] of a p_index list. */
static json_t *indexes_json(const p_index *idx, size_t n) {
  static const char *const proj[] = {"KEYS_ONLY", "INCLUDE", "ALL"};
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    const p_index *x = &idx[i];
    json_t *inc = json_array();
    for (size_t k = 0; k < x->n_include; k++) json_array_append_new(inc, json_string(x->include[k]));
    json_array_append_new(
        arr, json_pack("{s:s,s:b,s:[s,s],s:o,s:s,s:o,s:b}", "name", x->name, "global", x->global, "hash",
                       x->key.hash_name, dv_type_name(x->key.hash_type), "range",
                       x->key.range_name ? json_pack("[s,s]", x->key.range_name, dv_type_name(x->key.range_type))
                                         : json_null(),
                       "projection", proj[x->projection], "include", inc, "creating", x->creating));
  }
  return arr;
}

static int run_case(const char *file) {
  json_error_t je;
  json_t *c = json_load_file(file, 0, &je);
  if (!c) return fail(file, "unreadable case", je.text, "valid JSON");
  const char *op = json_string_value(json_object_get(c, "op"));
  const json_t *req = json_object_get(c, "request");
  const json_t *exp = json_object_get(c, "expect");
  const json_t *schema = json_object_get(c, "schema");
  const char *layer_s = json_string_value(json_object_get(c, "layer"));
  p_layer layer = layer_s && !strcmp(layer_s, "older") ? P_LAYER_OLDER : P_LAYER_CURRENT;
  int bad = 0;
  if (!op || !exp) {
    json_decref(c);
    return fail(file, "case needs op and expect", NULL, NULL);
  }
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  p_key_schema ks;
  if (schema) schema_from(schema, &ks);
  int rc = -1;
  json_t *got_item = NULL, *got_desc = NULL;
  p_put_item put;
  p_get_item get;
  p_delete_item del;
  p_update_item upd;
  p_create_table ct = {0};
  p_list_tables lt;
  const char *name = NULL;
  dv_value val;
  size_t batch_count = 0;
  p_rcc batch_rcc = P_RCC_NONE;
  int batch_ricm = 0;
  int ts_bad = 0; /* table_stream_case's mismatches */
  /* The table's indexes, from "meta" (Query, Scan, PutItem, UpdateItem, BatchWriteItem). */
  p_index *idx = NULL;
  size_t nidx = 0;
  const json_t *meta = json_object_get(c, "meta");
  if (meta && p_table_indexes(meta, a, &idx, &nidx) != 0) {
    bad = fail(file, "unreadable meta indexes", NULL, NULL);
    goto done;
  }
  if (!strcmp(op, "PutItem")) {
    rc = p_parse_put_item(req, a, &put, &e);
    if (rc == 0 && schema) rc = p_check_put_item(&ks, &put.item, &e);
    if (rc == 0 && schema) rc = p_check_index_keys(idx, nidx, &put.item, &e);
    if (rc == 0) got_item = p_item_to_json(&put.item);
  } else if (!strcmp(op, "GetItem")) {
    rc = p_parse_get_item(req, a, &get, &e);
    if (rc == 0 && schema) rc = p_check_key(&ks, &get.key, &e);
    if (rc == 0) got_item = p_item_to_json(&get.key);
  } else if (!strcmp(op, "DeleteItem")) {
    rc = p_parse_delete_item(req, a, &del, &e);
    if (rc == 0 && schema) rc = p_check_key(&ks, &del.key, &e);
    if (rc == 0) got_item = p_item_to_json(&del.key);
  } else if (!strcmp(op, "UpdateItem")) {
    rc = p_parse_update_item(req, a, &upd, &e);
    if (rc == 0 && schema) rc = p_check_update_item(&ks, &upd, &e);
    if (rc == 0 && schema) rc = p_check_update_index(idx, nidx, &upd, &e);
    if (rc == 0) got_item = p_item_to_json(&upd.key);
  } else if (!strcmp(op, "CreateTable")) {
    rc = p_parse_create_table(req, &k_ctx, a, &ct, &e);
    if (rc == 0) {
      uint8_t rnd[16];
      for (int i = 0; i < 16; i++) rnd[i] = (uint8_t)i;
      p_create_table_set_id(&ct, rnd);
      got_desc = p_table_description(&k_ctx, ct.table_name, &ct.key, ct.meta, 1700000000.5, "ACTIVE", 0, 0,
                                     NULL, 0);
    }
  } else if (!strcmp(op, "DescribeTable") || !strcmp(op, "DeleteTable")) {
    rc = p_parse_table_name(req, a, &name, &e);
  } else if (!strcmp(op, "ListTables")) {
    rc = p_parse_list_tables(req, a, &lt, &e);
  } else if (!strcmp(op, "BatchWriteItem") || !strcmp(op, "BatchGetItem")) {
    rc = batch_case(op, req, schema ? &ks : NULL, idx, nidx, a, &e, &got_item, &batch_count, &batch_rcc,
                    &batch_ricm);
  } else if (!strcmp(op, "Query") || !strcmp(op, "Scan")) {
    rc = query_case(op, req, schema ? &ks : NULL, idx, nidx, a, &e, &got_item);
  } else if (is_table_stream_op(op)) {
    rc = table_stream_case(file, op, req, json_object_get(c, "meta"), schema, exp, a, &e, &ts_bad);
  } else if (!strcmp(op, "Value")) {
    rc = p_value_from_json(req, 1, layer, a, &val, &e);
    if (rc == 0) got_item = p_value_to_json(&val);
  } else if (!strcmp(op, "Item")) {
    rc = p_item_from_json(req, layer, a, &val, &e);
    if (rc == 0) got_item = p_item_to_json(&val);
  } else {
    bad = fail(file, "unknown op", op, NULL);
    goto done;
  }

  const json_t *want_err = json_object_get(exp, "error");
  if (want_err) {
    if (rc == 0) {
      bad = fail(file, "expected an error, parse succeeded", NULL, json_string_value(want_err));
      goto done;
    }
    const char *t = p_error_type(e.code);
    const char *h = strrchr(t, '#');
    bad |= cmp_str(file, "error code", h ? h + 1 : t, want_err);
    bad |= cmp_str(file, "message", e.msg, json_object_get(exp, "message"));
    if (json_is_true(json_object_get(exp, "no_message")) && e.msg)
      bad |= fail(file, "message", e.msg, "(none)");
    goto done;
  }
  if (rc != 0) {
    bad = fail(file, "unexpected error", e.msg ? e.msg : p_error_type(e.code), "success");
    goto done;
  }
  bad |= ts_bad;
  const json_t *w;
  if ((w = json_object_get(exp, "item")) || (w = json_object_get(exp, "key")) ||
      (w = json_object_get(exp, "value")) || (w = json_object_get(exp, "request_items")))
    bad |= cmp_json(file, "item", got_item, w);
  if ((w = json_object_get(exp, "query"))) { /* Query / Scan: the members given */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)w, k, v) {
      char what[64];
      snprintf(what, sizeof what, "query.%s", k);
      bad |= cmp_json(file, what, json_object_get(got_item, k), v);
    }
  }
  if (!strncmp(op, "Batch", 5)) {
    bad |= cmp_int(file, "count", (long long)batch_count, json_object_get(exp, "count"));
    bad |= cmp_str(file, "rcc", rcc_name(batch_rcc), json_object_get(exp, "rcc"));
    bad |= cmp_int(file, "ricm_size", batch_ricm, json_object_get(exp, "ricm_size"));
  }
  if (!strcmp(op, "PutItem") || !strcmp(op, "DeleteItem") || !strcmp(op, "UpdateItem")) {
    const struct expr_node *cond =
        !strcmp(op, "PutItem") ? put.condition : !strcmp(op, "DeleteItem") ? del.condition : upd.condition;
    bad |= cmp_tree(file, "condition", cond ? expr_print(cond) : NULL, json_object_get(exp, "condition"));
  }
  if (!strcmp(op, "GetItem"))
    bad |= cmp_tree(file, "projection", get.projection ? expr_print_projection(get.projection) : NULL,
                    json_object_get(exp, "projection"));
  if (!strcmp(op, "PutItem")) {
    bad |= cmp_str(file, "table_name", put.table_name, json_object_get(exp, "table_name"));
    bad |= cmp_str(file, "rv", rv_name(put.rv), json_object_get(exp, "rv"));
    bad |= cmp_str(file, "rcc", rcc_name(put.rcc), json_object_get(exp, "rcc"));
    bad |= cmp_int(file, "rvcf_all_old", put.rvcf_all_old, json_object_get(exp, "rvcf_all_old"));
    bad |= cmp_int(file, "size", (long long)dv_item_size(&put.item), json_object_get(exp, "size"));
  } else if (!strcmp(op, "DeleteItem")) {
    bad |= cmp_str(file, "table_name", del.table_name, json_object_get(exp, "table_name"));
    bad |= cmp_str(file, "rv", rv_name(del.rv), json_object_get(exp, "rv"));
    bad |= cmp_str(file, "rcc", rcc_name(del.rcc), json_object_get(exp, "rcc"));
    bad |= cmp_int(file, "rvcf_all_old", del.rvcf_all_old, json_object_get(exp, "rvcf_all_old"));
  } else if (!strcmp(op, "UpdateItem")) {
    bad |= cmp_str(file, "table_name", upd.table_name, json_object_get(exp, "table_name"));
    bad |= cmp_str(file, "rv", rv_name(upd.rv), json_object_get(exp, "rv"));
    bad |= cmp_str(file, "rcc", rcc_name(upd.rcc), json_object_get(exp, "rcc"));
    bad |= cmp_int(file, "rvcf_all_old", upd.rvcf_all_old, json_object_get(exp, "rvcf_all_old"));
    bad |= cmp_tree(file, "update", expr_print_update(upd.update), json_object_get(exp, "update"));
  } else if (!strcmp(op, "GetItem")) {
    bad |= cmp_str(file, "table_name", get.table_name, json_object_get(exp, "table_name"));
    bad |= cmp_str(file, "rcc", rcc_name(get.rcc), json_object_get(exp, "rcc"));
    bad |= cmp_int(file, "consistent", get.consistent, json_object_get(exp, "consistent"));
    if ((w = json_object_get(exp, "attrs_to_get"))) {
      json_t *arr = json_array();
      for (size_t i = 0; i < get.n_attrs_to_get; i++)
        json_array_append_new(arr, json_string(get.attrs_to_get[i]));
      bad |= cmp_json(file, "attrs_to_get", arr, w);
      json_decref(arr);
    }
  } else if (!strcmp(op, "DescribeTable") || !strcmp(op, "DeleteTable")) {
    bad |= cmp_str(file, "table_name", name, json_object_get(exp, "table_name"));
  } else if (!strcmp(op, "ListTables")) {
    bad |= cmp_int(file, "limit", lt.limit, json_object_get(exp, "limit"));
    if ((w = json_object_get(exp, "exclusive_start"))) {
      if (json_is_null(w) ? lt.exclusive_start != NULL
                          : cmp_str(file, "exclusive_start", lt.exclusive_start, w))
        bad |= fail(file, "exclusive_start", lt.exclusive_start, json_string_value(w));
    }
  } else if (!strcmp(op, "CreateTable")) {
    bad |= cmp_str(file, "table_name", ct.table_name, json_object_get(exp, "table_name"));
    if ((w = json_object_get(exp, "key_schema"))) {
      p_key_schema want;
      schema_from(w, &want);
      if (strcmp(want.hash_name, ct.key.hash_name) || want.hash_type != ct.key.hash_type ||
          (want.range_name == NULL) != (ct.key.range_name == NULL) ||
          (want.range_name &&
           (strcmp(want.range_name, ct.key.range_name) || want.range_type != ct.key.range_type)))
        bad |= fail(file, "key schema", ct.key.hash_name, want.hash_name);
    }
    if ((w = json_object_get(exp, "description"))) {
      const char *k;
      json_t *v;
      json_object_foreach((json_t *)w, k, v) {
        char what[128];
        snprintf(what, sizeof what, "description.%s", k);
        bad |= cmp_json(file, what, json_object_get(got_desc, k), v);
      }
    }
    if ((w = json_object_get(exp, "description_absent"))) {
      size_t i;
      json_t *v;
      json_array_foreach(w, i, v) if (json_object_get(got_desc, json_string_value(v))) bad |=
          fail(file, "member should be absent", json_string_value(v), NULL);
    }
    if ((w = json_object_get(exp, "indexes"))) {
      json_t *got = indexes_json(ct.indexes, ct.n_indexes);
      bad |= cmp_json(file, "indexes", got, w);
      json_decref(got);
    }
    if ((w = json_object_get(exp, "meta"))) { /* the meta members given */
      const char *k;
      json_t *v;
      json_object_foreach((json_t *)w, k, v) {
        char what[128];
        snprintf(what, sizeof what, "meta.%s", k);
        bad |= cmp_json(file, what, json_object_get(ct.meta, k), v);
      }
    }
  }
done:
  json_decref(got_item);
  json_decref(got_desc);
  json_decref(ct.meta);
  p_error_clear(&e);
  dv_arena_free(a);
  json_decref(c);
  return bad;
}

static int str_cmp_q(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

static void run_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "cannot open %s\n", dir);
    g_case_failures++;
    return;
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    names = realloc(names, sizeof(char *) * (n + 1));
    names[n++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof(char *), str_cmp_q);
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
      run_dir(path);
    } else {
      size_t l = strlen(names[i]);
      if (l > 5 && !strcmp(names[i] + l - 5, ".json")) {
        g_cases++;
        if (run_case(path)) g_case_failures++;
      }
    }
    free(names[i]);
  }
  free(names);
}

static const char *g_cases_dir;

/* ---- mutation sweep: every case request with subtrees replaced by values of
 * other JSON types; parsing must never crash and must always either succeed
 * or name an error (run under ASan in the sanitizer build). ---------------- */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(g_rng >> 33);
}

static json_t *random_json(void) {
  switch (rnd() % 9) {
    case 0:
      return json_null();
    case 1:
      return json_integer((json_int_t)rnd() % 200 - 50);
    case 2:
      return json_real(1.5);
    case 3:
      return json_string("");
    case 4:
      return json_string(rnd() % 2 ? "ALL_OLD" : "a=");
    case 5:
      return json_true();
    case 6:
      return json_array();
    case 7:
      return json_pack("{s:s}", "S", "x");
    default:
      return json_object();
  }
}

/* Replaces the k-th node (pre-order) of j; returns the remaining count. */
static int mutate(json_t *j, int k) {
  if (json_is_object(j)) {
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(j, tmp, key, v) {
      if (k == 0) {
        json_object_set_new(j, key, random_json());
        return -1;
      }
      k = mutate(v, k - 1);
      if (k < 0) return k;
    }
  } else if (json_is_array(j)) {
    for (size_t i = 0; i < json_array_size(j); i++) {
      if (k == 0) {
        json_array_set_new(j, i, random_json());
        return -1;
      }
      k = mutate(json_array_get(j, i), k - 1);
      if (k < 0) return k;
    }
  }
  return k;
}

static int g_mutations;

/* The sweep of the UpdateTable / TTL / Streams ops: parse, then the state
 * checks against a few metas and the renderers of what they produce. */
static int sweep_table_stream(const char *op, const json_t *req, dv_arena *a, p_error *e) {
  static const char *const metas[] = {
      "{\"BillingMode\":\"PROVISIONED\",\"ProvisionedThroughput\":{\"ReadCapacityUnits\":5,"
      "\"WriteCapacityUnits\":5}}",
      "{\"BillingMode\":\"PAY_PER_REQUEST\",\"StreamSpecification\":{\"StreamEnabled\":true,"
      "\"StreamViewType\":\"KEYS_ONLY\"},\"TimeToLive\":{\"AttributeName\":\"exp\"}}",
      "{}"};
  json_t *meta = parse(metas[rnd() % 3]);
  p_key_schema ks = {"pk", DV_S, NULL, DV_NONE};
  int rc;
  json_t *nm = NULL;
  if (!strcmp(op, "UpdateTable")) {
    p_update_table u;
    rc = p_parse_update_table(req, a, &u, e);
    if (rc == 0) rc = p_check_update_table(meta, &u, &nm, e);
    if (rc == 0) json_decref(p_table_description(&k_ctx, u.table_name, &ks, nm, 1.0, "ACTIVE", 0, 0, NULL, 0));
    json_decref(u.changes);
  } else if (!strcmp(op, "UpdateTimeToLive")) {
    p_update_ttl t;
    rc = p_parse_update_ttl(req, a, &t, e);
    if (rc == 0) rc = p_check_update_ttl(meta, &t, &nm, e);
    if (rc == 0) {
      json_decref(p_update_ttl_response(&t));
      json_decref(p_describe_ttl(nm));
    }
  } else if (!strcmp(op, "DescribeTimeToLive")) {
    const char *n;
    rc = p_parse_table_name(req, a, &n, e);
  } else if (!strcmp(op, "ListStreams")) {
    p_list_streams l;
    rc = p_parse_list_streams(req, a, &l, e);
    if (rc == 0) CHECK(l.limit >= 1 && l.limit <= 100);
  } else if (!strcmp(op, "DescribeStream")) {
    p_describe_stream d;
    rc = p_parse_describe_stream(req, a, &d, e);
    if (rc == 0) CHECK(d.arn && p_stream_arn_parse(d.arn, NULL, NULL, NULL) == 0);
  } else if (!strcmp(op, "GetShardIterator")) {
    p_get_shard_iterator g;
    rc = p_parse_get_shard_iterator(req, a, &g, e);
    if (rc == 0) {
      p_iterator it = {g.arn, g.shard_id, g.seq, 1}, back;
      char *t = p_iterator_format(&it);
      CHECK(p_iterator_parse(t, a, &back, e) == 0 && back.position == g.seq);
      free(t);
    }
  } else {
    p_get_records g;
    rc = p_parse_get_records(req, a, &g, e);
    if (rc == 0) {
      p_iterator it;
      if (p_iterator_parse(g.iterator, a, &it, e) != 0) {
        p_error_clear(e);
      }
    }
  }
  json_decref(nm);
  json_decref(meta);
  return rc;
}

/* The indexed table of the sweep: pk S / sk N, LSI "lsi1" on sk2 (KEYS_ONLY),
 * GSI "gsi1" on g S / gr N (INCLUDE a), GSI "gsi2" on g2 B (ALL, CREATING). */
static const char *const k_sweep_meta =
    "{\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},"
    "{\"AttributeName\":\"sk\",\"AttributeType\":\"N\"},{\"AttributeName\":\"sk2\",\"AttributeType\":\"S\"},"
    "{\"AttributeName\":\"g\",\"AttributeType\":\"S\"},{\"AttributeName\":\"gr\",\"AttributeType\":\"N\"},"
    "{\"AttributeName\":\"g2\",\"AttributeType\":\"B\"}],"
    "\"LocalSecondaryIndexes\":[{\"IndexName\":\"lsi1\",\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},"
    "{\"AttributeName\":\"sk2\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"}}],"
    "\"GlobalSecondaryIndexes\":[{\"IndexName\":\"gsi1\",\"KeySchema\":[{\"AttributeName\":\"g\",\"KeyType\":\"HASH\"},"
    "{\"AttributeName\":\"gr\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":\"INCLUDE\","
    "\"NonKeyAttributes\":[\"a\"]},\"IndexStatus\":\"ACTIVE\"},{\"IndexName\":\"gsi2\",\"KeySchema\":"
    "[{\"AttributeName\":\"g2\",\"KeyType\":\"HASH\"}],\"Projection\":{\"ProjectionType\":\"ALL\"},"
    "\"IndexStatus\":\"CREATING\",\"Backfilling\":true}]}";

static void sweep_one(const char *op, const json_t *req0) {
  for (int round = 0; round < 40; round++) {
    json_t *req = json_deep_copy(req0);
    mutate(req, (int)(rnd() % 24));
    if (rnd() % 3 == 0) mutate(req, (int)(rnd() % 24));
    dv_arena *a = dv_arena_new();
    p_error e;
    p_error_init(&e);
    p_key_schema ks = {"pk", DV_S, rnd() % 2 ? "sk" : NULL, DV_N};
    if (!ks.range_name) ks.range_type = DV_NONE;
    /* Half the rounds on a table with indexes (an LSI on sk, a GSI on g). */
    p_index *sweep_idx = NULL;
    size_t sweep_n = 0;
    if (rnd() % 2) {
      json_t *m = parse(k_sweep_meta);
      CHECK(p_table_indexes(m, a, &sweep_idx, &sweep_n) == 0 && sweep_n == 3);
      json_decref(m);
    }
    int rc = 0;
    if (!strcmp(op, "PutItem")) {
      p_put_item x;
      rc = p_parse_put_item(req, a, &x, &e);
      if (rc == 0) {
        rc = p_check_put_item(&ks, &x.item, &e);
        if (rc == 0) rc = p_check_index_keys(sweep_idx, sweep_n, &x.item, &e);
        json_decref(p_item_to_json(&x.item));
      }
    } else if (!strcmp(op, "GetItem")) {
      p_get_item x;
      rc = p_parse_get_item(req, a, &x, &e);
      if (rc == 0) {
        rc = p_check_key(&ks, &x.key, &e);
        p_project_attrs(&x.key, x.attrs_to_get, x.n_attrs_to_get, a);
      }
    } else if (!strcmp(op, "DeleteItem")) {
      p_delete_item x;
      rc = p_parse_delete_item(req, a, &x, &e);
      if (rc == 0) rc = p_check_key(&ks, &x.key, &e);
    } else if (!strcmp(op, "UpdateItem")) {
      p_update_item x;
      rc = p_parse_update_item(req, a, &x, &e);
      if (rc == 0) rc = p_check_update_item(&ks, &x, &e);
      if (rc == 0) rc = p_check_update_index(sweep_idx, sweep_n, &x, &e);
      if (rc == 0) free(expr_print_update(x.update));
    } else if (!strcmp(op, "CreateTable")) {
      p_create_table x;
      rc = p_parse_create_table(req, &k_ctx, a, &x, &e);
      if (rc == 0) {
        json_decref(p_table_description(&k_ctx, x.table_name, &x.key, x.meta, 1.0, "ACTIVE", 0, 0, x.indexes ? &(p_index_stats){x.indexes[0].name, 1, 2} : NULL, x.indexes ? 1 : 0));
        json_decref(x.meta);
      }
    } else if (!strncmp(op, "Batch", 5)) {
      json_t *r = NULL;
      size_t cnt;
      p_rcc rc2;
      int ricm;
      rc = batch_case(op, req, &ks, sweep_idx, sweep_n, a, &e, &r, &cnt, &rc2, &ricm);
      json_decref(r);
    } else if (!strcmp(op, "Query") || !strcmp(op, "Scan")) {
      json_t *r = NULL;
      rc = query_case(op, req, &ks, sweep_idx, sweep_n, a, &e, &r);
      json_decref(r);
    } else if (!strcmp(op, "ListTables")) {
      p_list_tables x;
      rc = p_parse_list_tables(req, a, &x, &e);
    } else if (!strcmp(op, "DescribeTable") || !strcmp(op, "DeleteTable")) {
      const char *n;
      rc = p_parse_table_name(req, a, &n, &e);
    } else if (is_table_stream_op(op)) {
      rc = sweep_table_stream(op, req, a, &e);
    } else {
      dv_value v;
      rc = !strcmp(op, "Value") ? p_value_from_json(req, 1, P_LAYER_CURRENT, a, &v, &e)
                                : p_item_from_json(req, P_LAYER_OLDER, a, &v, &e);
    }
    CHECK(rc == 0 ? e.code == P_OK : e.code != P_OK);
    if (rc != 0) {
      char *b = p_error_body(&e, NULL);
      CHECK(b != NULL);
      free(b);
    }
    g_mutations++;
    p_error_clear(&e);
    dv_arena_free(a);
    json_decref(req);
  }
}

static void sweep_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
      sweep_dir(path);
      continue;
    }
    json_t *c = json_load_file(path, 0, NULL);
    if (!c) continue;
    const char *op = json_string_value(json_object_get(c, "op"));
    if (op) sweep_one(op, json_object_get(c, "request"));
    json_decref(c);
  }
  closedir(d);
}

static void test_mutations(void) {
  if (!g_cases_dir) return;
  g_mutations = 0;
  sweep_dir(g_cases_dir);
  printf("mutations: %d parsed\n", g_mutations);
  CHECK(g_mutations > 1000);
}

static void test_cases(void) {
  if (!g_cases_dir) return;
  g_cases = g_case_failures = 0;
  run_dir(g_cases_dir);
  printf("cases: %d run, %d failed\n", g_cases, g_case_failures);
  CHECK(g_cases > 0);
  CHECK_EQ_INT(g_case_failures, 0);
}

/* p__member_get: a walk over small objects, jansson's hash over bigger ones,
 * the same answers either way (absent, null, prefixes, NUL in keys). */
static void test_member_get(void) {
  for (int size = 0; size <= 12; size++) {
    json_t *o = json_object();
    for (int i = 0; i < size; i++) {
      char k[16];
      snprintf(k, sizeof k, "Key%d", i);
      json_object_set_new(o, k, json_integer(i));
    }
    json_object_set_new(o, "Nul", json_null());
    json_object_setn_new(o, "Z\0x", 3, json_true());
    for (int i = 0; i < size; i++) {
      char k[16];
      snprintf(k, sizeof k, "Key%d", i);
      const json_t *v = p__member_get(o, k);
      CHECK(v != NULL && json_integer_value(v) == i);
    }
    CHECK(p__member_get(o, "Key") == NULL);
    CHECK(p__member_get(o, "Key00") == NULL);
    CHECK(p__member_get(o, "key0") == NULL);
    CHECK(p__member_get(o, "") == NULL);
    CHECK(p__member_get(o, "Nul") == NULL); /* null counts as absent */
    CHECK(p__member_get(o, "Z") == NULL);   /* a key "Z\0x" is not "Z" */
    json_decref(o);
  }
  json_t *a = json_array();
  CHECK(p__member_get(a, "x") == NULL);
  CHECK(p__member_get(NULL, "x") == NULL);
  json_decref(a);
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {
      {"errors", test_errors},
      {"ops", test_ops},
      {"member_get", test_member_get},
      {"base64", test_base64},
      {"numbers", test_numbers},
      {"sets", test_sets},
      {"values_misc", test_values_misc},
      {"nesting", test_nesting},
      {"item_size", test_item_size},
      {"key_sizes", test_key_sizes},
      {"capacity", test_capacity},
      {"table_description", test_table_description},
      {"project", test_project},
      {"bodies", test_bodies},
      {"cases", test_cases},
      {"mutations", test_mutations},
      {NULL, NULL},
  };
  struct stat st;
  if (argc > 1 && stat(argv[1], &st) == 0 && S_ISDIR(st.st_mode)) {
    g_cases_dir = argv[1];
    argv[1] = argv[0];
    argc--;
    argv++;
  }
  return tl_run(tests, argc, argv);
}
