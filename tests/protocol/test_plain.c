/*
 * test_plain.c -- protocol/plain.c: the plain JSON notation of the /v1/
 * face. Every notation read and written, every error (with the DynamoDB
 * face's message where the check is shared, compared against what
 * p_value_from_json answers for the same value), number edge cases, a
 * random round trip (write, json_loads, read: equal) over thousands of
 * items of all ten types, exactness of the written number literals, key
 * segments, RFC 7396's examples as merge patches of items, and stream
 * records with plain images.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol.h"
#include "tests/testlib.h"

/* ---- helpers ----------------------------------------------------------------------- */

static json_t *loads(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
  if (!j) fprintf(stderr, "bad JSON in test (%s): %s\n", je.text, text);
  return j;
}

/* Plain JSON text -> value (0) or -1 with *msg (malloc'd) and *code. */
static int plain_of(const char *text, dv_arena *a, dv_value *out, char **msg, p_errcode *code) {
  json_t *j = loads(text);
  p_error e;
  p_error_init(&e);
  int rc = j ? p_plain_value(j, 1, a, out, &e) : -1;
  if (msg) *msg = e.msg ? strdup(e.msg) : NULL;
  if (code) *code = e.code;
  p_error_clear(&e);
  json_decref(j);
  return rc;
}

static char *write_value(const dv_value *v) {
  p_buf b;
  p_buf_init(&b);
  p_write_plain_value(&b, v);
  return p_buf_steal(&b, NULL);
}

static char *write_item(const dv_value *v) {
  p_buf b;
  p_buf_init(&b);
  p_write_plain_item(&b, v);
  return p_buf_steal(&b, NULL);
}

/* Reads plain text, writes it back: the text it gives. */
static void check_rewrite(const char *in, const char *want) {
  dv_arena *a = dv_arena_new();
  dv_value v;
  char *msg = NULL;
  int rc = plain_of(in, a, &v, &msg, NULL);
  if (rc != 0) fprintf(stderr, "rejected %s: %s\n", in, msg ? msg : "?");
  CHECK_EQ_INT(rc, 0);
  if (rc == 0) {
    char *got = write_value(&v);
    CHECK_EQ_STR(got, want);
    free(got);
  }
  free(msg);
  dv_arena_free(a);
}

/* Plain text must be refused with exactly msg. */
static void check_error(const char *in, const char *want) {
  dv_arena *a = dv_arena_new();
  dv_value v;
  char *msg = NULL;
  p_errcode code = P_OK;
  CHECK_EQ_INT(plain_of(in, a, &v, &msg, &code), -1);
  CHECK_EQ_INT(code, P_VALIDATION);
  CHECK_EQ_STR(msg, want);
  free(msg);
  dv_arena_free(a);
}

/* The message p_value_from_json (current layer) gives for wire text. */
static char *wire_error(const char *wire) {
  json_t *j = loads(wire);
  dv_arena *a = dv_arena_new();
  dv_value v;
  p_error e;
  p_error_init(&e);
  int rc = p_value_from_json(j, 1, P_LAYER_CURRENT, a, &v, &e);
  char *msg = rc == 0 ? strdup("(accepted)") : strdup(e.msg ? e.msg : "(no message)");
  p_error_clear(&e);
  dv_arena_free(a);
  json_decref(j);
  return msg;
}

/* Plain text refused with the wire converter's message for wire text. */
static void check_same_error(const char *plain, const char *wire) {
  char *want = wire_error(wire);
  CHECK(strcmp(want, "(accepted)") != 0);
  check_error(plain, want);
  free(want);
}

/* Plain text and wire text give equal values. */
static void check_same_value(const char *plain, const char *wire) {
  dv_arena *a = dv_arena_new();
  dv_value p, w;
  char *msg = NULL;
  int rc = plain_of(plain, a, &p, &msg, NULL);
  if (rc != 0) fprintf(stderr, "rejected %s: %s\n", plain, msg ? msg : "?");
  CHECK_EQ_INT(rc, 0);
  json_t *j = loads(wire);
  p_error e;
  p_error_init(&e);
  CHECK_EQ_INT(p_value_from_json(j, 1, P_LAYER_CURRENT, a, &w, &e), 0);
  if (rc == 0) {
    int eq = dv_equal(&p, &w) && p.type == w.type;
    if (!eq) fprintf(stderr, "differ: plain %s wire %s\n", plain, wire);
    CHECK(eq);
  }
  p_error_clear(&e);
  json_decref(j);
  free(msg);
  dv_arena_free(a);
}

/* The canonical text of a plain number (must be an N). */
static void check_number(const char *plain, const char *canon) {
  dv_arena *a = dv_arena_new();
  dv_value v;
  char *msg = NULL;
  int rc = plain_of(plain, a, &v, &msg, NULL);
  if (rc != 0) fprintf(stderr, "rejected %s: %s\n", plain, msg ? msg : "?");
  CHECK_EQ_INT(rc, 0);
  if (rc == 0) {
    CHECK_EQ_INT(v.type, DV_N);
    CHECK_EQ_STR(v.u.bytes, canon);
  }
  free(msg);
  dv_arena_free(a);
}

/* The canonical text of exact decimal text (static buffer). */
static const char *canon_of(const char *exact) {
  static char buf[DV_NUM_MAXTEXT];
  dv_num num;
  CHECK_EQ_INT(dv_num_parse(exact, strlen(exact), &num), DV_NUM_OK);
  dv_num_format(&num, buf);
  return buf;
}

/* ---- reading -------------------------------------------------------------------------- */

static void test_scalars(void) {
  check_same_value("\"text\"", "{\"S\":\"text\"}");
  check_same_value("\"\"", "{\"S\":\"\"}");
  check_same_value("\"h\\u00e9\\u0000\\ud83d\\ude00\"", "{\"S\":\"h\\u00e9\\u0000\\ud83d\\ude00\"}");
  check_same_value("12", "{\"N\":\"12\"}");
  check_same_value("-0.5", "{\"N\":\"-0.5\"}");
  check_same_value("true", "{\"BOOL\":true}");
  check_same_value("false", "{\"BOOL\":false}");
  check_same_value("null", "{\"NULL\":true}");
  check_same_value("[]", "{\"L\":[]}");
  check_same_value("{}", "{\"M\":{}}");
  check_same_value("[1,\"a\",null,[true]]",
                   "{\"L\":[{\"N\":\"1\"},{\"S\":\"a\"},{\"NULL\":true},{\"L\":[{\"BOOL\":true}]}]}");
  check_same_value("{\"a\":{\"b\":[{}]},\"\":1}",
                   "{\"M\":{\"a\":{\"M\":{\"b\":{\"L\":[{\"M\":{}}]}}},\"\":{\"N\":\"1\"}}}");
  /* Several members, some starting with '$': a plain map. */
  check_same_value("{\"$b\":1,\"$n\":2}", "{\"M\":{\"$b\":{\"N\":\"1\"},\"$n\":{\"N\":\"2\"}}}");
  check_same_value("{\"a\":1}", "{\"M\":{\"a\":{\"N\":\"1\"}}}");
}

static void test_notations(void) {
  check_same_value("{\"$b\":\"AQI=\"}", "{\"B\":\"AQI=\"}");
  check_same_value("{\"$b\":\"\"}", "{\"B\":\"\"}");
  check_same_value("{\"$n\":\"12345678901234567890123456789012345678\"}",
                   "{\"N\":\"12345678901234567890123456789012345678\"}");
  check_same_value("{\"$n\":\"-1.50E+3\"}", "{\"N\":\"-1500\"}");
  check_same_value("{\"$ss\":[\"b\",\"a\",\"\"]}", "{\"SS\":[\"a\",\"b\",\"\"]}");
  check_same_value("{\"$ns\":[1,\"2.5\",-3e2,\"1e-130\"]}", "{\"NS\":[\"1\",\"2.5\",\"-300\",\"1e-130\"]}");
  check_same_value("{\"$bs\":[\"AQ==\",\"Ag==\"]}", "{\"BS\":[\"Ag==\",\"AQ==\"]}");
  check_same_value("{\"$m\":{\"$b\":\"AQ==\"}}", "{\"M\":{\"$b\":{\"S\":\"AQ==\"}}}");
  check_same_value("{\"$m\":{}}", "{\"M\":{}}");
  check_same_value("{\"$m\":{\"a\":{\"$b\":\"AQ==\"}}}", "{\"M\":{\"a\":{\"B\":\"AQ==\"}}}");
  check_same_value("{\"$m\":{\"$m\":{\"$m\":{}}}}", "{\"M\":{\"$m\":{\"M\":{}}}}");
  check_same_value("{\"$m\":{\"$m\":{\"$m\":{\"$m\":{}}}}}", "{\"M\":{\"$m\":{\"M\":{\"$m\":{\"M\":{}}}}}}");
  check_same_value("[{\"$ss\":[\"x\"]},{\"k\":{\"$n\":\"0.1\"}}]",
                   "{\"L\":[{\"SS\":[\"x\"]},{\"M\":{\"k\":{\"N\":\"0.1\"}}}]}");
  /* The item level is never notation. */
  dv_arena *a = dv_arena_new();
  json_t *j = loads("{\"$b\":\"AQ==\"}");
  dv_value item;
  p_error e;
  p_error_init(&e);
  CHECK_EQ_INT(p_plain_item(j, a, &item, &e), 0);
  CHECK_EQ_INT(item.type, DV_M);
  CHECK_EQ_INT(item.n, 1);
  CHECK_EQ_INT(item.u.attrs[0].value.type, DV_S);
  char *t = write_item(&item);
  CHECK_EQ_STR(t, "{\"$b\":\"AQ==\"}");
  free(t);
  json_decref(j);
  j = loads("[1]");
  CHECK_EQ_INT(p_plain_item(j, a, &item, &e), -1);
  CHECK_EQ_STR(e.msg, "One or more parameter values were invalid: An item must be a JSON object");
  p_error_clear(&e);
  json_decref(j);
  j = loads("{\"\":1}");
  CHECK_EQ_INT(p_plain_item(j, a, &item, &e), -1);
  CHECK_EQ_STR(e.msg, "Empty attribute name");
  p_error_clear(&e);
  json_decref(j);
  dv_arena_free(a);
}

static void test_errors(void) {
  check_error(
      "{\"$x\":1}",
      "One or more parameter values were invalid: Unknown notation \"$x\": an object whose only member "
      "name starts with '$' must be one of $b, $n, $ss, $ns, $bs, $m (write such a map as {\"$m\": "
      "{...}})");
  check_error(
      "{\"a\":[{\"$\":1}]}",
      "One or more parameter values were invalid: Unknown notation \"$\": an object whose only member "
      "name starts with '$' must be one of $b, $n, $ss, $ns, $bs, $m (write such a map as {\"$m\": "
      "{...}})");
  check_error(
      "{\"$B\":\"AQ==\"}",
      "One or more parameter values were invalid: Unknown notation \"$B\": an object whose only member "
      "name starts with '$' must be one of $b, $n, $ss, $ns, $bs, $m (write such a map as {\"$m\": "
      "{...}})");
  check_error("{\"$b\":1}", "One or more parameter values were invalid: \"$b\" takes a base64 string");
  check_error("{\"$n\":1}",
              "One or more parameter values were invalid: \"$n\" takes a string holding a decimal number");
  check_error("{\"$m\":[]}", "One or more parameter values were invalid: \"$m\" takes an object");
  check_error("{\"$ss\":\"a\"}",
              "One or more parameter values were invalid: \"$ss\" takes an array of strings");
  check_error("{\"$ss\":[\"a\",1]}",
              "One or more parameter values were invalid: \"$ss\" takes an array of strings");
  check_error(
      "{\"$ns\":[true]}",
      "One or more parameter values were invalid: \"$ns\" takes an array of numbers or decimal strings");
  check_error("{\"$bs\":[null]}",
              "One or more parameter values were invalid: \"$bs\" takes an array of base64 strings");
  /* Shared with the wire converter: same words (bad base64 as a
   * ValidationException here). */
  check_error("{\"$b\":\"AQ=\"}", "Base64 encoded length is expected a multiple of 4 bytes but found: 3");
  check_error("{\"$b\":\"AQ!=\"}", "Invalid Base64 character: '!'");
  check_error("{\"$b\":\"AR==\"}", "Invalid last non-pad Base64 character dectected");
  check_error("{\"$bs\":[\"AQ==\",\"A\"]}",
              "Base64 encoded length is expected a multiple of 4 bytes but found: 1");
  check_same_error("{\"$n\":\"abc\"}", "{\"N\":\"abc\"}");
  check_same_error("{\"$n\":\"\"}", "{\"N\":\"\"}");
  check_same_error("{\"$n\":\" 1\"}", "{\"N\":\" 1\"}");
  check_same_error("{\"$n\":\"123456789012345678901234567890123456789\"}",
                   "{\"N\":\"123456789012345678901234567890123456789\"}");
  check_same_error("{\"$n\":\"1E+126\"}", "{\"N\":\"1E+126\"}");
  check_same_error("{\"$n\":\"1E-131\"}", "{\"N\":\"1E-131\"}");
  check_same_error("1e126", "{\"N\":\"1e126\"}");
  check_same_error("-1e-131", "{\"N\":\"-1e-131\"}");
  check_same_error("{\"$ss\":[]}", "{\"SS\":[]}");
  check_same_error("{\"$ns\":[]}", "{\"NS\":[]}");
  check_same_error("{\"$bs\":[]}", "{\"BS\":[]}");
  check_same_error("{\"$ss\":[\"b\",\"a\",\"b\",\"c\"]}", "{\"SS\":[\"b\",\"a\",\"b\",\"c\"]}");
  check_same_error("{\"$bs\":[\"Ag==\",\"AQ==\",\"Ag==\"]}", "{\"BS\":[\"Ag==\",\"AQ==\",\"Ag==\"]}");
  check_same_error("{\"$ns\":[1,\"1.0\"]}", "{\"NS\":[\"1\",\"1.0\"]}");
  check_same_error("{\"$ns\":[1,1e0]}", "{\"NS\":[\"1\",\"1\"]}");
  check_same_error("{\"$ns\":[\"x\"]}", "{\"NS\":[\"x\"]}");
  check_same_error("{\"$ns\":[1e200]}", "{\"NS\":[\"1e200\"]}");
  /* Nesting: 32 levels pass, 33 fail, with the wire's words (lists, maps,
   * $m maps; wire text built alongside). */
  for (int kind = 0; kind < 3; kind++) {
    for (int levels = 31; levels <= 33; levels++) {
      char plain[1024] = "", wire[2048] = "";
      for (int i = 1; i < levels; i++) {
        strcat(plain, kind == 0 ? "[" : kind == 1 ? "{\"k\":" : "{\"$m\":{\"$k\":");
        strcat(wire, kind == 0 ? "{\"L\":[" : "{\"M\":{\"$k\":");
      }
      strcat(plain, "1");
      strcat(wire, "{\"N\":\"1\"}");
      for (int i = 1; i < levels; i++) {
        strcat(plain, kind == 0 ? "]" : kind == 1 ? "}" : "}}");
        strcat(wire, kind == 0 ? "]}" : "}}");
      }
      if (kind == 1) { /* wire used "$k" as the name: same shape, other name */
        char *p;
        while ((p = strstr(wire, "$k")) != NULL) memmove(p, p + 1, strlen(p));
      }
      if (levels <= 32)
        check_same_value(plain, wire);
      else
        check_same_error(plain, wire);
    }
  }
}

static void test_numbers(void) {
  check_number("0.1", "0.1");
  check_number("0.3", "0.3");
  check_number("100.0", "100");
  check_number("1E+2", "100");
  check_number("-0.0", "0");
  check_number("0", "0");
  check_number("1.5e40", "15000000000000000000000000000000000000000");
  check_number("1e-130", canon_of("1e-130"));
  CHECK_EQ_INT(strlen(canon_of("1e-130")), 2 + 129 + 1);
  check_number("-9.99999999999999e125", canon_of("-9.99999999999999e125"));
  CHECK_EQ_INT(strlen(canon_of("-9.99999999999999e125")), 1 + 126);
  /* JSON integers are exact (what fits jansson's long long). */
  check_number("9223372036854775807", "9223372036854775807");
  check_number("-9223372036854775808", "-9223372036854775808");
  check_number("12345678901234567", "12345678901234567");
  /* Reals: the shortest text that gives the double back; 16+ significant
   * digits are rounded to what a double holds (documented). */
  check_number("0.30000000000000004", "0.30000000000000004");
  check_number("0.1000000000000000055511151231257827", "0.1");
  check_number("1.2345678901234567890", "1.2345678901234567");
  check_number("123456789012345.678", "123456789012345.67");
  check_number("1e22", "10000000000000000000000");
  /* (An integer literal beyond a long long is a jansson parse error: the
   * REST layer's 400, not a value; the writer never prints one.) */
  CHECK(json_loads("12345678901234567890", JSON_DECODE_ANY, NULL) == NULL);
  /* 9.99...9E+125 (38 nines) rounds to 1E+126 as a double: overflow. */
  check_same_error("9.9999999999999999999999999999999999999E+125", "{\"N\":\"1E+126\"}");
  /* ... but exact with $n. */
  check_number("{\"$n\":\"9.9999999999999999999999999999999999999E+125\"}",
               canon_of("9.9999999999999999999999999999999999999E+125"));
  CHECK_EQ_INT(strlen(canon_of("9.9999999999999999999999999999999999999E+125")), 126);
  check_number("{\"$n\":\"1E-130\"}", canon_of("1e-130"));
  check_number("{\"$n\":\"0.12345678901234567890123456789012345678\"}",
               "0.12345678901234567890123456789012345678");
  check_number("{\"$n\":\"-00012.3400\"}", "-12.34");
}

/* ---- writing --------------------------------------------------------------------------- */

static void test_write(void) {
  check_rewrite("\"a\\\"b\\u0001/\"", "\"a\\\"b\\u0001/\"");
  check_rewrite("12", "12");
  check_rewrite("-0.25", "-0.25");
  check_rewrite("true", "true");
  check_rewrite("false", "false");
  check_rewrite("null", "null");
  check_rewrite("[]", "[]");
  check_rewrite("{}", "{}");
  check_rewrite("{\"$b\":\"AQI=\"}", "{\"$b\":\"AQI=\"}");
  check_rewrite("{\"$b\":\"\"}", "{\"$b\":\"\"}");
  check_rewrite("{\"$ss\":[\"b\",\"a\"]}", "{\"$ss\":[\"a\",\"b\"]}");
  check_rewrite("{\"$ns\":[10,\"-2.5\",\"1E+40\"]}", "{\"$ns\":[-2.5,10,1E+40]}");
  check_rewrite("{\"$bs\":[\"Ag==\",\"AQ==\"]}", "{\"$bs\":[\"AQ==\",\"Ag==\"]}");
  check_rewrite("{\"b\":1,\"a\":[2,{\"$n\":\"3\"}]}", "{\"a\":[2,3],\"b\":1}");
  /* A map whose only member starts with '$' is wrapped, at every level. */
  check_rewrite("{\"$m\":{\"$x\":{\"$m\":{\"$y\":1}}}}", "{\"$m\":{\"$x\":{\"$m\":{\"$y\":1}}}}");
  check_rewrite("{\"$m\":{\"x\":1}}", "{\"x\":1}");
  check_rewrite("{\"$m\":{\"$x\":1,\"$y\":2}}", "{\"$x\":1,\"$y\":2}");
  check_rewrite("[{\"$m\":{\"$\":null}}]", "[{\"$m\":{\"$\":null}}]");
  check_rewrite("{\"$m\":{\"\":1}}", "{\"\":1}");
  /* Numbers: canonical digits; integers past a long long in exponent form
   * (our parser can read them back); fractions in plain decimal. */
  check_rewrite("{\"$n\":\"9223372036854775807\"}", "9223372036854775807");
  check_rewrite("{\"$n\":\"-9223372036854775807\"}", "-9223372036854775807");
  check_rewrite("{\"$n\":\"9223372036854775808\"}", "9.223372036854775808E+18");
  check_rewrite("{\"$n\":\"-9223372036854775808\"}", "-9.223372036854775808E+18");
  check_rewrite("{\"$n\":\"10000000000000000000\"}", "1E+19");
  check_rewrite("{\"$n\":\"1.5E+40\"}", "1.5E+40");
  check_rewrite("{\"$n\":\"12345678901234567890123456789012345678\"}",
                "1.2345678901234567890123456789012345678E+37");
  check_rewrite("{\"$n\":\"-9.9999999999999999999999999999999999999E+125\"}",
                "-9.9999999999999999999999999999999999999E+125");
  char tiny[DV_NUM_MAXTEXT];
  snprintf(tiny, sizeof tiny, "%s", canon_of("1E-130"));
  check_rewrite("{\"$n\":\"1E-130\"}", tiny);
  CHECK(strncmp(tiny, "0.000", 5) == 0);
  check_rewrite("{\"$n\":\"123456789012345678\"}", "123456789012345678");
  /* Non-items are written as an empty object; DV_NONE as null. */
  p_buf b;
  p_buf_init(&b);
  dv_value s = dv_make_null(), none = {.type = DV_NONE};
  p_write_plain_item(&b, &s);
  p_write_plain_item(&b, NULL);
  p_write_plain_value(&b, &none);
  char *t = p_buf_steal(&b, NULL);
  CHECK_EQ_STR(t, "{}{}null");
  free(t);
}

/* ---- random round trip --------------------------------------------------------------------- */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void) {
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 2685821657736338717ull;
}

static unsigned rnd_below(unsigned n) {
  return (unsigned)(rnd() % n);
}

/* Random valid UTF-8 of up to max characters (buf: 4*max bytes), NUL and
 * control characters included unless no_nul. */
static size_t rnd_utf8(char *buf, unsigned max, int no_nul) {
  unsigned chars = rnd_below(max + 1);
  size_t n = 0;
  for (unsigned i = 0; i < chars; i++) {
    unsigned kind = rnd_below(10);
    uint32_t cp;
    if (kind < 4)
      cp = 'a' + rnd_below(26);
    else if (kind == 4)
      cp = rnd_below(0x20);
    else if (kind == 5) {
      static const char special[] = "\"\\/\x7f '{}[]:,$";
      cp = (unsigned char)special[rnd_below(sizeof special - 1)];
    } else if (kind == 6)
      cp = 0x80 + rnd_below(0x800 - 0x80);
    else if (kind == 7) {
      do cp = 0x800 + rnd_below(0x10000 - 0x800);
      while (cp >= 0xD800 && cp <= 0xDFFF);
    } else if (kind == 8)
      cp = 0x10000 + rnd_below(0x110000 - 0x10000);
    else
      cp = 0x20 + rnd_below(0x5F);
    if (cp == 0 && no_nul) cp = '0';
    if (cp < 0x80) {
      buf[n++] = (char)cp;
    } else if (cp < 0x800) {
      buf[n++] = (char)(0xC0 | (cp >> 6));
      buf[n++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      buf[n++] = (char)(0xE0 | (cp >> 12));
      buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
      buf[n++] = (char)(0x80 | (cp & 0x3F));
    } else {
      buf[n++] = (char)(0xF0 | (cp >> 18));
      buf[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
      buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
      buf[n++] = (char)(0x80 | (cp & 0x3F));
    }
  }
  return n;
}

/* A number of 1..maxdig significant digits anywhere in DynamoDB's range
 * (|x| in [1E-130, 1E+126)), or zero. */
static dv_value rnd_n(dv_arena *a, unsigned maxdig) {
  if (rnd_below(30) == 0) return dv_make_n_text(a, "0", 1);
  char buf[80];
  int n = 0;
  if (rnd_below(2)) buf[n++] = '-';
  unsigned nd = 1 + rnd_below(maxdig);
  buf[n++] = (char)('1' + rnd_below(9));
  buf[n++] = '.';
  for (unsigned i = 1; i < nd; i++) buf[n++] = (char)('0' + rnd_below(10));
  /* Mostly everyday exponents, sometimes the edges. */
  int e = rnd_below(4) ? (int)rnd_below(40) - 20 : (int)rnd_below(256) - 130;
  n += snprintf(buf + n, sizeof buf - (size_t)n, "e%d", e);
  dv_num num;
  CHECK_EQ_INT(dv_num_parse(buf, (size_t)n, &num), DV_NUM_OK);
  char canon[DV_NUM_MAXTEXT];
  size_t len = dv_num_format(&num, canon);
  return dv_make_n_text(a, canon, len);
}

static dv_value rnd_s(dv_arena *a) {
  char buf[4 * 20];
  size_t n = rnd_utf8(buf, 20, 0);
  return dv_make_s(a, buf, n);
}

static dv_value rnd_b(dv_arena *a) {
  unsigned char buf[24];
  unsigned n = rnd_below(sizeof buf + 1);
  for (unsigned i = 0; i < n; i++) buf[i] = (unsigned char)rnd();
  return dv_make_b(a, buf, n);
}

static dv_value rnd_value(dv_arena *a, int depth, unsigned maxdig);

/* A map of up to max members with unique names (some starting with '$';
 * sometimes exactly one such member, the case written with $m). top: an
 * item (names non-empty). */
static dv_value rnd_map(dv_arena *a, unsigned max, int depth, int top, unsigned maxdig) {
  dv_value m = {.type = DV_M};
  int dollar_one = !top && rnd_below(6) == 0;
  m.n = dollar_one ? 1 : rnd_below(max + 1);
  m.u.attrs = dv_arena_calloc(a, (m.n ? m.n : 1) * sizeof(dv_attr));
  for (uint32_t i = 0; i < m.n; i++) {
    char buf[4 * 10 + 24];
    size_t n = 0;
    if (dollar_one || rnd_below(5) == 0) buf[n++] = '$';
    n += rnd_utf8(buf + n, 10, 1); /* jansson refuses NUL in object keys */
    if (!dollar_one || rnd_below(2)) n += (size_t)snprintf(buf + n, 24, "#%u", (unsigned)i);
    if (!top && !dollar_one && rnd_below(25) == 0) n = 0, m.n = i + 1; /* one empty name, last */
    m.u.attrs[i].name = dv_arena_strndup(a, buf, n);
    m.u.attrs[i].name_len = (uint32_t)n;
    m.u.attrs[i].value = rnd_value(a, depth + 1, maxdig);
  }
  CHECK_EQ_INT(dv_map_sort(&m), 0);
  return m;
}

static dv_value rnd_value(dv_arena *a, int depth, unsigned maxdig) {
  unsigned kind = rnd_below(depth >= 6 ? 5 : 10);
  switch (kind) {
    case 0:
      return rnd_s(a);
    case 1:
      return rnd_n(a, maxdig);
    case 2:
      return rnd_b(a);
    case 3:
      return dv_make_bool((int)rnd_below(2));
    case 4:
      return dv_make_null();
    case 5:
      return rnd_map(a, 4, depth, 0, maxdig);
    case 6: {
      dv_value l = {.type = DV_L, .n = rnd_below(5)};
      l.u.elems = dv_arena_calloc(a, (l.n ? l.n : 1) * sizeof(dv_value));
      for (uint32_t i = 0; i < l.n; i++) l.u.elems[i] = rnd_value(a, depth + 1, maxdig);
      return l;
    }
    default: {
      /* A valid set: 1..5 members, unique (duplicates dropped after sorting). */
      dv_type t = kind == 7 ? DV_SS : kind == 8 ? DV_NS : DV_BS;
      dv_value s = {.type = t, .n = 1 + rnd_below(5)};
      s.u.elems = dv_arena_calloc(a, s.n * sizeof(dv_value));
      for (uint32_t i = 0; i < s.n; i++)
        s.u.elems[i] = t == DV_SS ? rnd_s(a) : t == DV_NS ? rnd_n(a, maxdig) : rnd_b(a);
      uint32_t dup;
      while (s.n > 1 && dv_set_sort(&s, &dup) != 0) {
        memmove(&s.u.elems[dup], &s.u.elems[dup + 1], (s.n - dup - 1) * sizeof(dv_value));
        s.n--;
      }
      return s;
    }
  }
}

/* write -> json_loads -> read: equal (numbers of at most 15 digits). */
static void test_round_trip(void) {
  g_rng = 0x5EED1234u;
  int bad = 0;
  for (int iter = 0; iter < 4000; iter++) {
    dv_arena *a = dv_arena_new();
    dv_value item = rnd_map(a, 10, 0, 1, 15);
    char *text = write_item(&item);
    json_error_t je;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &je);
    if (!j) {
      if (bad++ < 3) fprintf(stderr, "written text is not JSON (%s): %s\n", je.text, text);
      CHECK(0);
    } else {
      dv_value back;
      p_error e;
      p_error_init(&e);
      int rc = p_plain_item(j, a, &back, &e);
      int eq = rc == 0 && dv_equal(&item, &back) && dv_item_size(&item) == dv_item_size(&back);
      if (!eq && bad++ < 3) fprintf(stderr, "round trip failed (%s): %s\n", e.msg ? e.msg : "differs", text);
      CHECK(eq);
      /* Written again: the same text (a canonical form). */
      if (rc == 0) {
        char *again = write_item(&back);
        CHECK_EQ_STR(again, text);
        free(again);
      }
      p_error_clear(&e);
      json_decref(j);
    }
    free(text);
    dv_arena_free(a);
  }
  CHECK_EQ_INT(bad, 0);
}

/* Numbers of up to 38 digits: the written literal holds the exact digits
 * (a decimal parser gets the value back); through jansson, integers that
 * fit a long long come back exactly and the rest as the shortest text of
 * the nearest double; through {"$n": canonical} every number exactly. */
static void test_number_literals(void) {
  g_rng = 0xC0FFEEu;
  for (int iter = 0; iter < 5000; iter++) {
    dv_arena *a = dv_arena_new();
    dv_value v = iter % 3 ? rnd_n(a, 38) : rnd_n(a, 19);
    char *lit = write_value(&v);
    dv_num num;
    CHECK_EQ_INT(dv_num_parse(lit, strlen(lit), &num), DV_NUM_OK);
    char canon[DV_NUM_MAXTEXT];
    dv_num_format(&num, canon);
    CHECK_EQ_STR(canon, v.u.bytes);
    /* through jansson */
    json_t *j = json_loads(lit, JSON_DECODE_ANY, NULL);
    CHECK(j != NULL && json_is_number(j));
    dv_value back;
    p_error e;
    p_error_init(&e);
    char want[64];
    if (json_is_integer(j)) {
      CHECK(strchr(v.u.bytes, '.') == NULL);
      snprintf(want, sizeof want, "%s", v.u.bytes);
    } else {
      double d = strtod(v.u.bytes, NULL);
      for (int p = 15; p <= 17; p++) {
        snprintf(want, sizeof want, "%.*g", p, d);
        if (strtod(want, NULL) == d) break;
      }
    }
    dv_value expect;
    p_error_init(&e);
    int rc_want = dv_num_parse(want, strlen(want), &num);
    int rc = p_plain_value(j, 1, a, &back, &e);
    if (rc_want == DV_NUM_OK) {
      dv_num_format(&num, canon);
      expect = dv_make_n_text(a, canon, strlen(canon));
      CHECK_EQ_INT(rc, 0);
      if (rc == 0) CHECK(dv_equal(&back, &expect));
    } else { /* rounded out of range, e.g. 9.99..9E+125 -> 1E+126 */
      CHECK_EQ_INT(rc, -1);
    }
    p_error_clear(&e);
    json_decref(j);
    /* through $n */
    json_t *o = json_pack("{s:s}", "$n", v.u.bytes);
    CHECK_EQ_INT(p_plain_value(o, 1, a, &back, &e), 0);
    CHECK(dv_equal(&back, &v));
    json_decref(o);
    p_error_clear(&e);
    free(lit);
    dv_arena_free(a);
  }
  /* Items with long numbers: written text is JSON and reads back (rounded). */
  g_rng = 0xBADC0DEu;
  for (int iter = 0; iter < 500; iter++) {
    dv_arena *a = dv_arena_new();
    dv_value item = rnd_map(a, 8, 0, 1, 38);
    char *text = write_item(&item);
    json_t *j = json_loads(text, JSON_ALLOW_NUL, NULL);
    CHECK(j != NULL);
    json_decref(j);
    free(text);
    dv_arena_free(a);
  }
}

/* ---- key segments ----------------------------------------------------------------------------- */

static void check_key(const char *seg, size_t len, dv_type t, const char *want_bytes, size_t want_len) {
  dv_arena *a = dv_arena_new();
  dv_value v;
  p_error e;
  p_error_init(&e);
  int rc = p_plain_key_segment(seg, len, t, a, &v, &e);
  if (rc) fprintf(stderr, "key segment refused: %s\n", e.msg ? e.msg : "?");
  CHECK_EQ_INT(rc, 0);
  if (rc == 0) {
    CHECK_EQ_INT(v.type, t);
    CHECK_EQ_INT(v.n, want_len);
    CHECK(v.n == want_len && memcmp(v.u.bytes, want_bytes, want_len) == 0);
  }
  p_error_clear(&e);
  dv_arena_free(a);
}

static void check_key_error(const char *seg, size_t len, dv_type t, const char *want) {
  dv_arena *a = dv_arena_new();
  dv_value v;
  p_error e;
  p_error_init(&e);
  CHECK_EQ_INT(p_plain_key_segment(seg, len, t, a, &v, &e), -1);
  CHECK_EQ_INT(e.code, P_VALIDATION);
  CHECK_EQ_STR(e.msg, want);
  p_error_clear(&e);
  dv_arena_free(a);
}

static void test_key_segments(void) {
  check_key("abc", 3, DV_S, "abc", 3);
  check_key("h\xc3\xa9/ \x00z", 7, DV_S, "h\xc3\xa9/ \x00z", 7);
  check_key("$b", 2, DV_S, "$b", 2);
  check_key("12.50", 5, DV_N, "12.5", 4);
  check_key("-1e2", 4, DV_N, "-100", 4);
  check_key("0012", 4, DV_N, "12", 2);
  check_key("12345678901234567890123456789012345678", 38, DV_N, "12345678901234567890123456789012345678", 38);
  /* B: base64url or base64, padded or not. 0xFB 0xFF = "+/8=" = "-_8". */
  check_key("-_8", 3, DV_B, "\xfb\xff", 2);
  check_key("-_8=", 4, DV_B, "\xfb\xff", 2);
  check_key("+/8=", 4, DV_B, "\xfb\xff", 2);
  check_key("+/8", 3, DV_B, "\xfb\xff", 2);
  check_key("AQ", 2, DV_B, "\x01", 1);
  check_key("AQ==", 4, DV_B, "\x01", 1);
  check_key("AQID", 4, DV_B, "\x01\x02\x03", 3);
  check_key("AQIDBA", 6, DV_B, "\x01\x02\x03\x04", 4);
  const char *b64 =
      "One or more parameter values were invalid: A binary key in the path must be base64url or base64: ";
  char want[256];
  snprintf(want, sizeof want, "%sbad length 1", b64);
  check_key_error("A", 1, DV_B, want);
  snprintf(want, sizeof want, "%sbad length 3", b64);
  check_key_error("AQ=", 3, DV_B, want);
  snprintf(want, sizeof want, "%sbad length 2", b64);
  check_key_error("==", 2, DV_B, want);
  snprintf(want, sizeof want, "%sbad length 5", b64);
  check_key_error("AQI==", 5, DV_B, want);
  snprintf(want, sizeof want, "%sInvalid Base64 character: '!'", b64);
  check_key_error("AQ!", 3, DV_B, want);
  snprintf(want, sizeof want, "%sInvalid Base64 character: '='", b64);
  check_key_error("A=AQ", 4, DV_B, want);
  snprintf(want, sizeof want, "%sInvalid last non-pad Base64 character dectected", b64);
  check_key_error("AR", 2, DV_B, want);
  check_key_error("", 0, DV_S,
                  "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                  "contain an empty string value.");
  check_key_error("", 0, DV_B,
                  "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                  "contain an empty binary value.");
  check_key_error("", 0, DV_N, "The parameter cannot be converted to a numeric value: ");
  check_key_error("abc", 3, DV_N, "The parameter cannot be converted to a numeric value: abc");
  check_key_error("1e126", 5, DV_N,
                  "Number overflow. Attempting to store a number with magnitude larger than supported range");
  check_key_error("\xc3(", 2, DV_S,
                  "One or more parameter values were invalid: A string key in the path is not valid UTF-8");
  check_key_error("x", 1, DV_BOOL,
                  "One or more parameter values were invalid: A key attribute must be of type S, N or B");
}

/* ---- merge patch ------------------------------------------------------------------------------ */

static const p_key_schema k_ks = {"pk", DV_S, "sk", DV_N};

/* old (plain item text, NULL = none) + patch -> want (plain item text) or
 * the error want_err. */
static void check_patch(const char *old_text, const char *patch_text, const p_key_schema *ks,
                        const char *want, const char *want_err) {
  dv_arena *old_arena = dv_arena_new(), *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  dv_value old, keep = {.type = DV_NONE}, out;
  json_t *oj = old_text ? loads(old_text) : NULL;
  if (oj) {
    CHECK_EQ_INT(p_plain_item(oj, old_arena, &old, &e), 0);
    keep = dv_clone(a, &old);
  }
  json_t *pj = loads(patch_text);
  int rc = p_plain_merge_patch(oj ? &old : NULL, pj, ks, a, &out, &e);
  if (oj) CHECK(dv_equal(&old, &keep)); /* old is not modified */
  /* out must not borrow from old's arena (ASan sees it). */
  dv_arena_free(old_arena);
  if (want) {
    if (rc) fprintf(stderr, "patch %s refused: %s\n", patch_text, e.msg ? e.msg : "?");
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
      CHECK_EQ_INT(out.type, DV_M);
      for (uint32_t i = 1; i < out.n; i++) {
        const dv_attr *x = &out.u.attrs[i - 1], *y = &out.u.attrs[i];
        size_t m = x->name_len < y->name_len ? x->name_len : y->name_len;
        int c = memcmp(x->name, y->name, m);
        CHECK(c < 0 || (c == 0 && x->name_len < y->name_len)); /* sorted, unique */
      }
      char *got = write_item(&out);
      CHECK_EQ_STR(got, want);
      free(got);
    }
  } else {
    CHECK_EQ_INT(rc, -1);
    CHECK_EQ_INT(e.code, P_VALIDATION);
    CHECK_EQ_STR(e.msg, want_err);
  }
  p_error_clear(&e);
  json_decref(oj);
  json_decref(pj);
  dv_arena_free(a);
}

static void test_merge_patch(void) {
  /* RFC 7396 appendix A, as items (its non-object targets and patches
   * moved one level down, into an attribute). */
  check_patch("{\"a\":\"b\"}", "{\"a\":\"c\"}", NULL, "{\"a\":\"c\"}", NULL);
  check_patch("{\"a\":\"b\"}", "{\"b\":\"c\"}", NULL, "{\"a\":\"b\",\"b\":\"c\"}", NULL);
  check_patch("{\"a\":\"b\"}", "{\"a\":null}", NULL, "{}", NULL);
  check_patch("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", NULL, "{\"b\":\"c\"}", NULL);
  check_patch("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", NULL, "{\"a\":\"c\"}", NULL);
  check_patch("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", NULL, "{\"a\":[\"b\"]}", NULL);
  check_patch("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", NULL, "{\"a\":{\"b\":\"d\"}}",
              NULL);
  check_patch("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", NULL, "{\"a\":[1]}", NULL);
  check_patch("{\"x\":[\"a\",\"b\"]}", "{\"x\":[\"c\",\"d\"]}", NULL, "{\"x\":[\"c\",\"d\"]}", NULL);
  check_patch("{\"x\":{\"a\":\"b\"}}", "{\"x\":[\"c\"]}", NULL, "{\"x\":[\"c\"]}", NULL);
  check_patch("{\"x\":{\"a\":\"foo\"}}", "{\"x\":null}", NULL, "{}", NULL);
  check_patch("{\"x\":{\"a\":\"foo\"}}", "{\"x\":\"bar\"}", NULL, "{\"x\":\"bar\"}", NULL);
  check_patch("{\"e\":null}", "{\"a\":1}", NULL, "{\"a\":1,\"e\":null}", NULL);
  check_patch("{\"x\":[1,2]}", "{\"x\":{\"a\":\"b\",\"c\":null}}", NULL, "{\"x\":{\"a\":\"b\"}}", NULL);
  check_patch("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", NULL, "{\"a\":{\"bb\":{}}}", NULL);
  /* Nulls inside arrays and notation values are values, not removals. */
  check_patch("{}", "{\"l\":[null,{\"k\":null}]}", NULL, "{\"l\":[null,{\"k\":null}]}", NULL);
  /* Non-object patches. */
  const char *not_obj = "One or more parameter values were invalid: A merge patch must be a JSON object";
  check_patch("{\"a\":\"b\"}", "[\"c\"]", NULL, NULL, not_obj);
  check_patch("{\"a\":\"b\"}", "null", NULL, NULL, not_obj);
  check_patch("{\"a\":\"b\"}", "\"bar\"", NULL, NULL, not_obj);
  /* No old item: a patch of {}. */
  check_patch(NULL, "{\"a\":1,\"b\":null,\"c\":{\"d\":null}}", NULL, "{\"a\":1,\"c\":{}}", NULL);
  /* Notation objects replace; $m replaces a map wholesale. */
  check_patch("{\"m\":{\"x\":1,\"y\":2}}", "{\"m\":{\"$m\":{\"y\":3}}}", NULL, "{\"m\":{\"y\":3}}", NULL);
  check_patch("{\"m\":{\"x\":1}}", "{\"m\":{\"$b\":\"AQ==\"}}", NULL, "{\"m\":{\"$b\":\"AQ==\"}}", NULL);
  check_patch("{\"s\":{\"$ss\":[\"a\"]}}", "{\"s\":{\"$ss\":[\"b\",\"c\"]}}", NULL,
              "{\"s\":{\"$ss\":[\"b\",\"c\"]}}", NULL);
  check_patch("{\"m\":{\"x\":{\"y\":{\"z\":1,\"w\":2}}}}",
              "{\"m\":{\"x\":{\"y\":{\"z\":null,\"v\":{\"$n\":\"7\"}}}}}", NULL,
              "{\"m\":{\"x\":{\"y\":{\"v\":7,\"w\":2}}}}", NULL);
  /* A merged map with one '$' member is written with $m. */
  check_patch("{\"m\":{\"a\":1,\"$z\":2}}", "{\"m\":{\"a\":null}}", NULL, "{\"m\":{\"$m\":{\"$z\":2}}}",
              NULL);
  /* Sorted result, many members in patch order. */
  check_patch("{\"b\":1,\"d\":2,\"f\":3}", "{\"z\":0,\"a\":0,\"d\":null,\"c\":9,\"f\":{\"g\":1}}", NULL,
              "{\"a\":0,\"b\":1,\"c\":9,\"f\":{\"g\":1},\"z\":0}", NULL);
  /* Key attributes. */
  const char *pk_err =
      "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the "
      "key";
  const char *sk_err =
      "One or more parameter values were invalid: Cannot update attribute sk. This attribute is part of the "
      "key";
  check_patch("{\"pk\":\"a\",\"sk\":1,\"x\":1}", "{\"pk\":\"b\"}", &k_ks, NULL, pk_err);
  check_patch("{\"pk\":\"a\",\"sk\":1,\"x\":1}", "{\"pk\":null}", &k_ks, NULL, pk_err);
  check_patch("{\"pk\":\"a\",\"sk\":1,\"x\":1}", "{\"x\":2,\"sk\":2}", &k_ks, NULL, sk_err);
  check_patch("{\"pk\":\"a\",\"sk\":1,\"x\":1}", "{\"sk\":{\"$n\":\"1.0\"},\"pk\":\"a\",\"x\":2}", &k_ks,
              "{\"pk\":\"a\",\"sk\":1,\"x\":2}", NULL);
  check_patch("{\"pk\":\"a\",\"sk\":1}", "{\"sk\":\"1\"}", &k_ks, NULL, sk_err);
  check_patch("{\"pk\":\"a\",\"sk\":1}", "{\"sk\":{\"a\":1}}", &k_ks, NULL, sk_err);
  check_patch(NULL, "{\"pk\":\"a\"}", &k_ks, NULL, pk_err);
  /* Same names nested are not keys. */
  check_patch("{\"pk\":\"a\",\"sk\":1}", "{\"m\":{\"pk\":null,\"sk\":2}}", &k_ks,
              "{\"m\":{\"sk\":2},\"pk\":\"a\",\"sk\":1}", NULL);
  /* Value errors, names, depth. */
  check_patch(
      "{}", "{\"a\":{\"$x\":1}}", NULL, NULL,
      "One or more parameter values were invalid: Unknown notation \"$x\": an object whose only member "
      "name starts with '$' must be one of $b, $n, $ss, $ns, $bs, $m (write such a map as {\"$m\": "
      "{...}})");
  check_patch("{}", "{\"a\":{\"$ss\":[]}}", NULL, NULL,
              "One or more parameter values were invalid: An string set  may not be empty");
  check_patch("{}", "{\"\":1}", NULL, NULL, "Empty attribute name");
  check_patch("{\"a\":1}", "{\"\":null}", NULL, "{\"a\":1}", NULL);
  check_patch("{}", "{\"m\":{\"\":1}}", NULL, "{\"m\":{\"\":1}}", NULL);
  const char *deep =
      "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels "
      "beyond supported limit";
  for (int levels = 31; levels <= 34; levels++) {
    char p[512] = "";
    for (int i = 0; i < levels; i++) strcat(p, "{\"k\":");
    strcat(p, "1");
    for (int i = 0; i < levels; i++) strcat(p, "}");
    /* levels objects: the innermost value sits at depth levels. */
    check_patch("{}", p, NULL, levels <= 32 ? p : NULL, levels <= 32 ? NULL : deep);
  }
  /* A deep patch of nulls only never builds anything deep. */
  char p[4096] = "";
  for (int i = 0; i < 100; i++) strcat(p, "{\"k\":");
  strcat(p, "null");
  for (int i = 0; i < 100; i++) strcat(p, "}");
  check_patch("{}", p, NULL, NULL, deep);
}

/* Random patches on random items: the result equals a reference merge done
 * on jansson trees (RFC 7396's pseudo-code) read as an item. */
static int is_notation(const json_t *j) {
  return json_is_object(j) && json_object_size(j) == 1 &&
         json_object_iter_key(json_object_iter((json_t *)j))[0] == '$';
}

static json_t *ref_merge(json_t *target, json_t *patch, int top) {
  if (!json_is_object(patch) || (!top && is_notation(patch))) return json_incref(patch);
  /* The item level is literal; below it, {"$m": {...}} is a map and other
   * notation objects are not maps. */
  json_t *inner = !top && is_notation(target) ? json_object_get(target, "$m") : NULL;
  json_t *t = json_is_object(inner)                                     ? json_deep_copy(inner)
              : json_is_object(target) && (top || !is_notation(target)) ? json_deep_copy(target)
                                                                        : json_object();
  const char *k;
  json_t *v;
  json_object_foreach(patch, k, v) {
    if (json_is_null(v))
      json_object_del(t, k);
    else
      json_object_set_new(t, k, ref_merge(json_object_get(t, k), v, 0));
  }
  if (!top && is_notation(t)) { /* a map, not notation: written with $m */
    json_t *w = json_object();
    json_object_set_new(w, "$m", t);
    return w;
  }
  return t;
}

static void test_merge_random(void) {
  g_rng = 0x7396u;
  int bad = 0, compared = 0;
  for (int iter = 0; iter < 2000; iter++) {
    dv_arena *a = dv_arena_new();
    dv_value old = rnd_map(a, 6, 0, 1, 15), pv = rnd_map(a, 6, 0, 1, 15);
    char *ot = write_item(&old), *pt = write_item(&pv);
    json_t *oj = json_loads(ot, JSON_ALLOW_NUL, NULL), *pj = json_loads(pt, JSON_ALLOW_NUL, NULL);
    /* Some members of the patch set to null, some to members of old. */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(oj, tmp, k, v) {
      unsigned r = rnd_below(4);
      if (r == 0) json_object_set_new(pj, k, json_null());
      if (r == 1 && json_is_object(v)) {
        json_t *sub = json_object();
        const char *k2;
        json_t *v2;
        json_object_foreach(v, k2, v2)
            json_object_set_new(sub, k2, rnd_below(2) ? json_null() : json_integer(7));
        json_object_set_new(pj, k, sub);
      }
    }
    json_t *want = ref_merge(oj, pj, 1);
    dv_value ref, out;
    p_error e;
    p_error_init(&e);
    int rc_ref = p_plain_item(want, a, &ref, &e);
    p_error_clear(&e);
    int rc = p_plain_merge_patch(&old, pj, NULL, a, &out, &e);
    /* Both refuse (e.g. a '$' map emptied to one member of nulls) or agree. */
    if (rc_ref == 0) {
      compared++;
      int eq = rc == 0 && dv_equal(&ref, &out);
      if (!eq && bad++ < 3) {
        char *pjt = json_dumps(pj, JSON_COMPACT), *wt = json_dumps(want, JSON_COMPACT);
        fprintf(stderr, "merge differs (%s):\n old %s\n patch %s\n want %s\n", e.msg ? e.msg : "", ot, pjt,
                wt);
        free(pjt);
        free(wt);
      }
      CHECK(eq);
    } else {
      CHECK_EQ_INT(rc, -1); /* an invalid notation value in the patch */
    }
    p_error_clear(&e);
    json_decref(want);
    json_decref(oj);
    json_decref(pj);
    free(ot);
    free(pt);
    dv_arena_free(a);
  }
  CHECK_EQ_INT(bad, 0);
  CHECK(compared > 1200); /* the rest: patches naming invalid notation ({"$ss": 7}) */
}

/* ---- stream records -------------------------------------------------------------------------- */

static void test_stream_record(void) {
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  /* Numbers of at most 15 digits, so that the images read back exactly. */
  json_t *kj = loads("{\"pk\":\"a\",\"sk\":{\"$n\":\"123456789012345E+20\"}}");
  json_t *nj = loads(
      "{\"pk\":\"a\",\"sk\":{\"$n\":\"123456789012345E+20\"},\"b\":{\"$b\":"
      "\"AQ==\"},\"s\":{\"$ss\":[\"x\"]},\"n\":{\"$ns\":[1,2.5]},\"bs\":{\"$bs\":[\"AQ==\"]},"
      "\"m\":{\"$m\":{\"$k\":null}},\"l\":[true,false,null,{}],\"t\":\"\\u00e9\"}");
  json_t *oj = loads("{\"pk\":\"a\",\"sk\":{\"$n\":\"123456789012345E+20\"},\"old\":1}");
  dv_value keys, ni, oi, none = {.type = DV_NONE};
  CHECK_EQ_INT(p_plain_item(kj, a, &keys, &e), 0);
  CHECK_EQ_INT(p_plain_item(nj, a, &ni, &e), 0);
  CHECK_EQ_INT(p_plain_item(oj, a, &oi, &e), 0);
  for (int view = P_VIEW_NONE; view <= P_VIEW_NEW_AND_OLD_IMAGES; view++) {
    for (int kind = 1; kind <= 3; kind++) {
      p_stream_record r = {"0123456789abcdef0123456789abcdef",
                           kind,
                           kind == 3,
                           "us-east-1",
                           1764237600123LL,
                           &keys,
                           kind == 1 ? &none : &oi,
                           kind == 3 ? NULL : &ni,
                           42,
                           dv_item_size(&ni),
                           (p_view)view};
      p_buf b;
      p_buf_init(&b);
      p_write_stream_record_plain(&b, &r);
      char *plain = p_buf_steal(&b, NULL);
      p_write_stream_record(&b, &r);
      char *wire = p_buf_steal(&b, NULL);
      json_t *pj = loads(plain), *wj = loads(wire);
      CHECK(pj != NULL && wj != NULL);
      if (!pj || !wj) continue;
      json_t *pd = json_object_get(pj, "dynamodb"), *wd = json_object_get(wj, "dynamodb");
      /* Each image: the plain one reads back as the item; present exactly
       * when the wire record has it. */
      static const char *const names[3] = {"Keys", "NewImage", "OldImage"};
      const dv_value *items[3] = {&keys, &ni, &oi};
      for (int i = 0; i < 3; i++) {
        json_t *pi = json_object_get(pd, names[i]);
        CHECK((pi != NULL) == (json_object_get(wd, names[i]) != NULL));
        if (pi) {
          dv_value back;
          CHECK_EQ_INT(p_plain_item(pi, a, &back, &e), 0);
          CHECK(dv_equal(&back, items[i]));
          json_object_del(pd, names[i]);
          json_object_del(wd, names[i]);
        }
      }
      /* The rest is the same record, member for member, in the same order. */
      CHECK(json_equal(pj, wj));
      char *pt = json_dumps(pj, JSON_COMPACT | JSON_PRESERVE_ORDER),
           *wt = json_dumps(wj, JSON_COMPACT | JSON_PRESERVE_ORDER);
      CHECK_EQ_STR(pt, wt);
      free(pt);
      free(wt);
      json_decref(pj);
      json_decref(wj);
      free(plain);
      free(wire);
    }
  }
  /* The exact text of one record (a 38-digit key: every digit written). */
  json_decref(kj);
  kj = loads("{\"pk\":\"a\",\"sk\":{\"$n\":\"12345678901234567890123456789012345678\"}}");
  CHECK_EQ_INT(p_plain_item(kj, a, &keys, &e), 0);
  p_stream_record r = {"e", 2, 0, "r", 5000, &keys, &oi, &ni, 7, 9, P_VIEW_KEYS_ONLY};
  p_buf b;
  p_buf_init(&b);
  p_write_stream_record_plain(&b, &r);
  char *t = p_buf_steal(&b, NULL);
  CHECK_EQ_STR(
      t,
      "{\"eventID\":\"e\",\"eventName\":\"MODIFY\",\"eventVersion\":\"1.1\",\"eventSource\":"
      "\"aws:dynamodb\",\"awsRegion\":\"r\",\"dynamodb\":{\"ApproximateCreationDateTime\":5,\"Keys\":"
      "{\"pk\":\"a\",\"sk\":1.2345678901234567890123456789012345678E+37},\"SequenceNumber\":"
      "\"000000000000000000007\",\"SizeBytes\":9,\"StreamViewType\":\"KEYS_ONLY\"}}");
  free(t);
  json_decref(kj);
  json_decref(nj);
  json_decref(oj);
  p_error_clear(&e);
  dv_arena_free(a);
}

/* p_plain_exact_numbers: literals a double would round become {"$n":..};
 * the rest of the text is untouched; the result reads back exactly. */
static void check_exact(const char *in, const char *want) {
  size_t n = 0;
  char *out = p_plain_exact_numbers(in, strlen(in), &n);
  if (want == NULL) {
    CHECK(out == NULL);
  } else {
    CHECK(out != NULL && n == strlen(want));
    if (out) CHECK_EQ_STR(out, want);
  }
  free(out);
}

static void test_exact_numbers(void) {
  check_exact("{\"a\":1,\"b\":0.1,\"c\":-3.5e10,\"d\":123456789012345}", NULL);
  check_exact("{\"a\":1234567890123456}", "{\"a\":{\"$n\":\"1234567890123456\"}}");
  check_exact("[12345678901234567890123456789012345678,0.1]",
              "[{\"$n\":\"12345678901234567890123456789012345678\"},0.1]");
  check_exact("{\"x\":3.14159265358979323846}", "{\"x\":{\"$n\":\"3.14159265358979323846\"}}");
  check_exact("{\"x\":1.2345678901234567890123456789012345678E+37}",
              "{\"x\":{\"$n\":\"1.2345678901234567890123456789012345678E+37\"}}");
  check_exact("{\"x\":-0.000000000000000000001}", NULL); /* one significant digit */
  check_exact("{\"x\":1000000000000000000000}", "{\"x\":{\"$n\":\"1000000000000000000000\"}}");
  /* numbers inside strings (escaped quotes too) are left alone */
  check_exact("{\"s\":\"12345678901234567890 \\\" 98765432109876543210\",\"n\":7}", NULL);
  /* a set of exact numbers, end to end */
  const char *in = "{\"pk\":\"k\",\"ns\":{\"$ns\":[12345678901234567890123456789,2]},\"v\":9.87654321098765432}";
  size_t n = 0;
  char *out = p_plain_exact_numbers(in, strlen(in), &n);
  CHECK(out != NULL);
  json_t *j = out ? json_loadb(out, n, 0, NULL) : NULL;
  CHECK(j != NULL);
  dv_arena *a = dv_arena_new();
  dv_value item;
  p_error e;
  p_error_init(&e);
  CHECK_EQ_INT(p_plain_item(j, a, &item, &e), 0);
  if (e.code == P_OK) {
    const dv_value *v = dv_map_get(&item, "v", 1);
    CHECK(v && v->type == DV_N && strcmp(v->u.bytes, "9.87654321098765432") == 0);
    const dv_value *ns = dv_map_get(&item, "ns", 2);
    CHECK(ns && ns->type == DV_NS && ns->n == 2);
    if (ns && ns->n == 2) CHECK(strcmp(ns->u.elems[1].u.bytes, "12345678901234567890123456789") == 0);
  }
  p_error_clear(&e);
  json_decref(j);
  free(out);
  dv_arena_free(a);
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {{"scalars", test_scalars},
                                  {"notations", test_notations},
                                  {"errors", test_errors},
                                  {"numbers", test_numbers},
                                  {"write", test_write},
                                  {"round_trip", test_round_trip},
                                  {"number_literals", test_number_literals},
                                  {"key_segments", test_key_segments},
                                  {"merge_patch", test_merge_patch},
                                  {"merge_random", test_merge_random},
                                  {"stream_record", test_stream_record},
                                  {"exact_numbers", test_exact_numbers},
                                  {NULL, NULL}};
  return tl_run(tests, argc, argv);
}
