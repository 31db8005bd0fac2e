/*
 * test_json_parse.c -- protocol/json_parse.c: p_json_parse must return
 * exactly what json_loadb(buf, len, JSON_ALLOW_NUL, NULL) of jansson 2.14
 * returns: NULL for the same inputs, otherwise a strictly equal tree (same
 * types, integer values, bit-identical reals, string bytes and lengths,
 * array elements, object members in the same iteration order -- json_equal
 * ignores member order, so the comparison here is our own).
 *
 * Two parts: a table of tricky inputs, one or more per rule, each with the
 * verdict hard-coded AND jansson's verdict computed at run time (so a
 * change on either side is noticed); and a deterministic differential run
 * over a quarter of a million inputs made by mutating seed documents (byte
 * flips, inserted quotes / escapes / UTF-8 fragments / NULs / number forms,
 * deletions, truncations, duplications, deep nesting) and over random
 * number literals.
 */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol.h"
#include "tests/json_strict.h"
#include "tests/testlib.h"

/* Parses with both; 1 when they agree. *ok_out = jansson accepted. */
static int agree(const char *buf, size_t len, int *ok_out) {
  json_t *ref = json_loadb(buf, len, JSON_ALLOW_NUL, NULL);
  json_t *got = p_json_parse(buf, len);
  int same = strict_equal(ref, got);
  if (ok_out) *ok_out = ref != NULL;
  json_decref(ref);
  json_decref(got);
  return same;
}

static void print_input(const char *what, const char *buf, size_t len) {
  fprintf(stderr, "%s (%zu bytes): \"", what, len);
  for (size_t i = 0; i < len && i < 300; i++) {
    unsigned char c = (unsigned char)buf[i];
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != '"')
      fputc(c, stderr);
    else
      fprintf(stderr, "\\x%02x", c);
  }
  fprintf(stderr, "%s\"\n", len > 300 ? "..." : "");
}

/* ---- the table ------------------------------------------------------------ */

typedef struct jcase {
  const char *text; /* input bytes */
  size_t len;       /* their count (NULs included) */
  int ok;           /* the verdict of jansson 2.14: 1 = a tree, 0 = NULL */
} jcase;

#define C(lit, ok) {lit, sizeof(lit) - 1, ok}

static const jcase cases[] = {
    /* top level */
    C("", 0), C(" ", 0), C("{}", 1), C("[]", 1), C(" \t\r\n{} \t\r\n", 1), C("1", 0), C("\"a\"", 0),
    C("true", 0), C("null", 0), C("{}{}", 0), C("{} x", 0), C("[]]", 0), C("{}\0", 0), C("\0{}", 0),
    C("\xef\xbb\xbf{}", 0), C("\f{}", 0), C("\v[]", 0), C("{", 0), C("[", 0), C("}", 0),
    /* objects */
    C("{\"a\":1}", 1), C("{\"a\" : 1 , \"b\" : [ ] }", 1), C("{\"a\":1,}", 0), C("{,}", 0),
    C("{\"a\"}", 0), C("{\"a\":}", 0), C("{\"a\" 1}", 0), C("{a:1}", 0), C("{'a':1}", 0), C("{1:1}", 0),
    C("{\"a\":1 \"b\":2}", 0), C("{\"a\":1,\"b\":2,\"a\":3}", 1), C("{\"\":1}", 1),
    C("{\"a\\u0000b\":1}", 0), C("{\"\\u0000\":1}", 0), C("{\"a\\u0041\":1,\"aA\":2}", 1),
    C("{\"a\":1", 0), C("{\"a\":1,", 0), C("{\"a", 0),
    /* arrays */
    C("[1,2,3]", 1), C("[1,]", 0), C("[,1]", 0), C("[1 2]", 0), C("[[]]", 1), C("[[],[{}]]", 1),
    C("[1,,2]", 0), C("[", 0), C("[1", 0), C("[1,", 0),
    /* literals */
    C("[true,false,null]", 1), C("[tru]", 0), C("[truee]", 0), C("[True]", 0), C("[nul]", 0),
    C("[null1]", 0), C("[true false]", 0), C("[NaN]", 0), C("[Infinity]", 0), C("[-Infinity]", 0),
    /* jansson's quirk: one NUL right after a number or literal is skipped */
    C("[1\0]", 1), C("[1\0\0]", 0), C("[true\0]", 1), C("[null\0,false\0]", 1), C("[1.5\0,2]", 1),
    C("{\"a\":1\0}", 1), C("[1 \0]", 0), C("[\"a\"\0]", 0), C("[[]\0]", 0), C("[\0]", 0),
    C("[-0\0]", 1), C("[1e5\0 ]", 1), C("[1\0 ]", 1), C("[\0 1]", 0),
    /* numbers */
    C("[0]", 1), C("[-0]", 1), C("[-0.0]", 1), C("[01]", 0), C("[-01]", 0), C("[00]", 0), C("[1.]", 0),
    C("[.5]", 0), C("[1e]", 0), C("[1e+]", 0), C("[1e-]", 0), C("[+1]", 0), C("[-]", 0), C("[- 1]", 0),
    C("[1.5e3]", 1), C("[1E3]", 1), C("[1e+3]", 1), C("[1e-3]", 1), C("[0e0]", 1), C("[0.0e-999999]", 1),
    C("[1.e3]", 0), C("[1e3.5]", 0), C("[0x10]", 0), C("[1_000]", 0), C("[--1]", 0), C("[1-2]", 0),
    C("[9223372036854775807]", 1), C("[9223372036854775808]", 0), C("[-9223372036854775808]", 1),
    C("[-9223372036854775809]", 0), C("[99999999999999999999]", 0), C("[18446744073709551616]", 0),
    C("[12345678901234567890123]", 0), C("[9223372036854775807.0]", 1),
    C("[1e308]", 1), C("[1.7976931348623157e308]", 1), C("[1.7976931348623158e308]", 1),
    C("[1.7976931348623159e308]", 0), C("[1e309]", 0), C("[-1e309]", 0), C("[1e400]", 0),
    C("[1e99999999999999999999999]", 0), C("[0e99999999999999999999999]", 1),
    C("[1e-400]", 1), C("[-1e-400]", 1), C("[5e-324]", 1), C("[2e-324]", 1), C("[3e-324]", 1),
    C("[2.4703282292062327e-324]", 1), C("[2.4703282292062328e-324]", 1), C("[1e-99999999999999999]", 1),
    C("[0.1]", 1), C("[0.30000000000000004]", 1), C("[123456789012345678901234567890e-10]", 1),
    C("[9007199254740993]", 1), C("[9007199254740993.0]", 1), C("[1.00000000000000011102230246251565404236316680908203125]", 1),
    C("[1.000000000000000111022302462515654042363166809082031250000000001]", 1),
    C("[0.0000000000000000000000000000000000000000000000000000000000000000000001e70]", 1),
    C("[1000000000000000000000000000000000000000000000000000000000000000000000e-70]", 1),
    /* strings: escapes */
    C("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", 1), C("[\"\\a\"]", 0), C("[\"\\x41\"]", 0), C("[\"\\'\"]", 0),
    C("[\"\\u0041\"]", 1), C("[\"\\u00e9\\u00E9\"]", 1), C("[\"\\u004\"]", 0), C("[\"\\u004g\"]", 0),
    C("[\"\\U0041\"]", 0), C("[\"\\u\"]", 0), C("[\"\\\"]", 0), C("[\"\\", 0), C("[\"\\u0000\"]", 1),
    C("[\"a\\u0000b\\u0000\"]", 1), C("[\"\\uffff\\uFFFE\"]", 1), C("[\"\\u0800\\u07ff\"]", 1),
    /* strings: surrogates */
    C("[\"\\ud800\\udc00\"]", 1), C("[\"\\uDBFF\\uDFFF\"]", 1), C("[\"\\ud800\"]", 0),
    C("[\"\\udc00\"]", 0), C("[\"\\ud800x\"]", 0), C("[\"\\ud800\\u0041\"]", 0),
    C("[\"\\ud800\\ud800\"]", 0), C("[\"\\udc00\\ud800\"]", 0), C("[\"\\ud800\\n\"]", 0),
    C("[\"\\ud800\\\"]", 0), C("[\"\\ud800\\udc0\"]", 0), C("[\"\\ud83d\\ude00 ok\"]", 1),
    /* strings: raw bytes */
    C("[\"\x01\"]", 0), C("[\"\x1f\"]", 0), C("[\"a\nb\"]", 0), C("[\"a\tb\"]", 0), C("[\"\0\"]", 0),
    C("[\"\x7f\"]", 1), C("[\" \"]", 1), C("[\"\"]", 1), C("[\"abc", 0),
    /* strings: UTF-8 */
    C("[\"\xc3\xa9\"]", 1), C("[\"\xe2\x82\xac\"]", 1), C("[\"\xf0\x9f\x98\x80\"]", 1),
    C("[\"\xf4\x8f\xbf\xbf\"]", 1), C("[\"\xef\xbf\xbf\"]", 1), C("[\"\xc2\x80\"]", 1),
    C("[\"\xc0\x80\"]", 0), C("[\"\xc1\xbf\"]", 0), C("[\"\xe0\x80\x80\"]", 0), C("[\"\xe0\x9f\xbf\"]", 0),
    C("[\"\xf0\x80\x80\x80\"]", 0), C("[\"\xf0\x8f\xbf\xbf\"]", 0), C("[\"\xed\xa0\x80\"]", 0),
    C("[\"\xed\xbf\xbf\"]", 0), C("[\"\xed\x9f\xbf\"]", 1), C("[\"\xf4\x90\x80\x80\"]", 0),
    C("[\"\xf5\x80\x80\x80\"]", 0), C("[\"\xf8\x88\x80\x80\x80\"]", 0), C("[\"\xff\"]", 0),
    C("[\"\xfe\"]", 0), C("[\"\x80\"]", 0), C("[\"\xbf\"]", 0), C("[\"\xc3\"]", 0), C("[\"\xc3", 0),
    C("[\"\xe2\x82\"]", 0), C("[\"\xf0\x9f\x98\"]", 0), C("[\"\xc3\xc3\xa9\"]", 0),
    C("[\"\xe2\x82\xac\xac\"]", 0), C("[\"\xc3\0\"]", 0), C("[\xc3\xa9]", 0), C("{\"\xc3\xa9\":1}", 1),
    C("{\"\xc3\":1}", 0), C("[1\xc3\xa9]", 0), C("[]\xc3\xa9", 0), C("[] \xff", 0),
    /* long strings (the 8-byte scan) with a special byte at every offset */
    C("[\"0123456789abcdef0123456789abcdef\"]", 1), C("[\"0123456789abcdef\x01" "0123456789abcdef\"]", 0),
    C("[\"0123456789abcde\\n0123456789abcdef\"]", 1), C("[\"0123456\xc3\xa9" "89abcdef01234567\"]", 1),
    C("[\"01234567\xed\xa0\x80" "9abcdef01234567\"]", 0), C("[\"0123456789abcdef\"0123456789abcdef\"]", 0),
};

static void test_table(void) {
  int n = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const jcase *c = &cases[i];
    int ok = -1;
    int same = agree(c->text, c->len, &ok);
    CHECK(same);
    CHECK_EQ_INT(ok, c->ok);
    if (!same || ok != c->ok) print_input(same ? "jansson's verdict changed" : "differs", c->text, c->len);
    n++;
  }
  printf("table: %d inputs\n", n);
}

/* The rules checked on the trees themselves, not only by agreement. */
static void test_values(void) {
  json_t *j = p_json_parse("{\"b\":1,\"a\":2,\"b\":3}", 19);
  CHECK(j && json_object_size(j) == 2);
  void *it = j ? json_object_iter(j) : NULL;
  CHECK(it && strcmp(json_object_iter_key(it), "b") == 0 &&
        json_integer_value(json_object_iter_value(it)) == 3);
  json_decref(j);

  j = p_json_parse("[-0, -0.0, 1e-400, -1e-400, 1.5, 9223372036854775807]", 53);
  CHECK(j && json_is_integer(json_array_get(j, 0)) && json_integer_value(json_array_get(j, 0)) == 0);
  double d = j ? json_real_value(json_array_get(j, 1)) : 1;
  CHECK(json_is_real(json_array_get(j, 1)) && d == 0 && signbit(d));
  d = j ? json_real_value(json_array_get(j, 3)) : 1;
  CHECK(json_is_real(json_array_get(j, 3)) && d == 0 && signbit(d));
  CHECK(json_integer_value(json_array_get(j, 5)) == INT64_MAX);
  json_decref(j);

  static const char nul[] = "[\"a\\u0000b\",\"\\ud83d\\ude00\"]";
  j = p_json_parse(nul, sizeof nul - 1);
  CHECK(j && json_string_length(json_array_get(j, 0)) == 3 &&
        memcmp(json_string_value(json_array_get(j, 0)), "a\0b", 3) == 0);
  CHECK(j && strcmp(json_string_value(json_array_get(j, 1)), "\xf0\x9f\x98\x80") == 0);
  json_decref(j);

  CHECK(p_json_parse(NULL, 0) == NULL);
  /* bytes past len are never read */
  j = p_json_parse("[1]garbage", 3);
  CHECK(j && json_array_size(j) == 1);
  json_decref(j);
}

/* Depth: 2048 nested empty arrays parse, 2048 around a scalar or 2049 do
 * not (jansson counts every value; the top level is 1). Objects too. */
static void test_depth(void) {
  size_t cap = 7 * 2100 + 16;
  char *b = malloc(cap);
  for (int d = 2040; d <= 2050; d++) {
    for (int scalar = 0; scalar < 2; scalar++) {
      size_t n = 0;
      for (int i = 0; i < d; i++) b[n++] = '[';
      if (scalar) b[n++] = '7';
      for (int i = 0; i < d; i++) b[n++] = ']';
      int ok = -1;
      CHECK(agree(b, n, &ok));
      CHECK_EQ_INT(ok, scalar ? d <= 2047 : d <= 2048);
      n = 0;
      for (int i = 0; i < d - 1; i++) {
        memcpy(b + n, "{\"k\":", 5);
        n += 5;
      }
      b[n++] = scalar ? '[' : '{';
      b[n++] = scalar ? ']' : '}';
      for (int i = 0; i < d - 1; i++) b[n++] = '}';
      CHECK(agree(b, n, &ok));
      CHECK_EQ_INT(ok, d <= 2048);
    }
  }
  free(b);
}

/* ---- the differential run ------------------------------------------------- */

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;

static uint64_t rnd(void) {
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 2685821657736338717ull;
}

static size_t rnd_below(size_t n) {
  return (size_t)(rnd() % n);
}

static const char *const seeds[] = {
    "{\"TableName\":\"bench\",\"Item\":{\"pk\":{\"S\":\"p00123\"},\"sk\":{\"S\":\"s04\"},\"data\":{\"S\":\"wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww\"}}}",
    "{\"TableName\":\"bench\",\"KeyConditionExpression\":\"pk = :p AND begins_with(sk, :s)\",\"ExpressionAttributeValues\":{\":p\":{\"S\":\"p00123\"},\":s\":{\"S\":\"s0\"}},\"Limit\":25,\"ScanIndexForward\":false,\"ConsistentRead\":true}",
    "{\"RequestItems\":{\"t\":[{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1.5e3\"}}}},{\"DeleteRequest\":{\"Key\":{\"pk\":{\"S\":\"b\"}}}}]}}",
    "{\"Key\":{\"id\":{\"B\":\"AAEC\"}},\"UpdateExpression\":\"SET #a = :v\",\"ExpressionAttributeNames\":{\"#a\":\"x\"},\"ReturnValues\":\"ALL_NEW\",\"Expected\":null}",
    "[1, -2, 3.25, -0.0, 1e10, 1E-5, 123456789012345678, -9223372036854775808, 0.1, 2.5e-308, 1.7976931348623157e308]",
    "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\", \"\\u0000x\", \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", \"\x7f\"]",
    "{\"a\":{\"b\":{\"c\":[[[{\"d\":[true,false,null]}]]]}},\"e\":[],\"f\":{},\"a\":\"dup\",\"\":0}",
    " { \"k\" : [ 1 , { \"x\" : \"y\" } , [ ] ] , \"z\" : null } \n",
    "{\"\\u006b\":1,\"k\":2,\"\\ud834\\udd1e\":\"clef\",\"esc\\\"aped\":\"v\\\\\"}",
    "[\"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\",\"short\",\"\"]",
};

/* Fragments inserted by the mutator: structure, escapes, UTF-8 (valid and
 * not), NULs, number forms, literals. */
static const char *const frags[] = {
    "\"", "\\", "\\u", "\\u0000", "\\ud800", "\\udc00", "\\ud800\\udc00", "\\uDBFF\\uDFFF", "\\n",
    "\\x", "\\/", "{", "}", "[", "]", ":", ",", " ", "\t", "\r\n", "\f", "\x01", "\x1f", "\x7f",
    "\xc3\xa9", "\xc3", "\xa9", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xef\xbf\xbf",
    "\xf0\x9f\x98\x80", "\xf4\x90\x80\x80", "\xf5", "\xff", "\xfe", "\xe2\x82", "0", "-", "-0", "01",
    "1.", ".5", "1e", "1e+", "+1", "1e5", "1E-5", "0.0", "-0.0", "9223372036854775807",
    "9223372036854775808", "-9223372036854775809", "1e308", "1e309", "1e-400", "4.9e-324",
    "123456789012345678901234567890", "0.000000000000000000000001", "true", "false", "null", "tru",
    "nulll", "\"a\":", "\"k\":1,", "[[[[", "]]]]", "{\"a\":{\"b\":",
};
static const char frag_nul[] = {'\0'};

typedef struct mbuf {
  char *data; /* bytes */
  size_t len; /* used */
  size_t cap; /* allocated */
} mbuf;

static void mb_insert(mbuf *m, size_t at, const char *s, size_t n) {
  if (m->len + n > m->cap) {
    while (m->len + n > m->cap) m->cap = m->cap ? m->cap * 2 : 256;
    m->data = realloc(m->data, m->cap);
    if (!m->data) abort();
  }
  memmove(m->data + at + n, m->data + at, m->len - at);
  memcpy(m->data + at, s, n);
  m->len += n;
}

static void mb_delete(mbuf *m, size_t at, size_t n) {
  if (at + n > m->len) n = m->len - at;
  memmove(m->data + at, m->data + at + n, m->len - at - n);
  m->len -= n;
}

/* A random number literal, mostly valid, of every shape. */
static size_t rnd_number(char *out) {
  size_t n = 0;
  if (rnd_below(3) == 0) out[n++] = '-';
  size_t nint = 1 + rnd_below(rnd_below(4) == 0 ? 40 : 8);
  int lead = rnd_below(5) == 0;
  for (size_t i = 0; i < nint; i++)
    out[n++] = (char)('0' + (i == 0 && !lead && nint > 1 ? 1 + rnd_below(9) : rnd_below(10)));
  if (lead && nint > 1 && rnd_below(2)) out[0 + (out[0] == '-')] = '0';
  if (rnd_below(2)) {
    out[n++] = '.';
    size_t nf = rnd_below(8) == 0 ? 0 : 1 + rnd_below(rnd_below(4) == 0 ? 60 : 10);
    for (size_t i = 0; i < nf; i++) out[n++] = (char)('0' + (rnd_below(3) == 0 ? 0 : rnd_below(10)));
  }
  if (rnd_below(2)) {
    out[n++] = rnd_below(2) ? 'e' : 'E';
    unsigned s = (unsigned)rnd_below(3);
    if (s == 1) out[n++] = '+';
    if (s == 2) out[n++] = '-';
    static const int emax[] = {2, 3, 3, 3, 5, 25};
    int r = (int)rnd_below(sizeof emax / sizeof emax[0]);
    size_t ne = rnd_below(10) == 0 ? 0 : 1 + rnd_below((size_t)emax[r]);
    for (size_t i = 0; i < ne; i++) out[n++] = (char)('0' + rnd_below(10));
  }
  return n;
}

/* One mutation of m. */
static void mutate(mbuf *m) {
  size_t at = m->len ? rnd_below(m->len + 1) : 0;
  switch (rnd_below(10)) {
  case 0: /* flip bits of a byte */
    if (m->len) m->data[rnd_below(m->len)] ^= (char)(1u << rnd_below(8));
    break;
  case 1: /* replace a byte by anything */
    if (m->len) m->data[rnd_below(m->len)] = (char)rnd_below(256);
    break;
  case 2:
  case 3: { /* insert a fragment */
    size_t f = rnd_below(sizeof frags / sizeof frags[0] + 1);
    if (f == sizeof frags / sizeof frags[0])
      mb_insert(m, at, frag_nul, 1);
    else
      mb_insert(m, at, frags[f], strlen(frags[f]));
    break;
  }
  case 4: /* delete a few bytes */
    if (at < m->len) mb_delete(m, at, 1 + rnd_below(4));
    break;
  case 5: /* truncate */
    m->len = at;
    break;
  case 6: { /* duplicate a range */
    if (!m->len) break;
    size_t s = rnd_below(m->len), n = 1 + rnd_below(m->len - s);
    char *copy = malloc(n);
    memcpy(copy, m->data + s, n);
    mb_insert(m, at, copy, n);
    free(copy);
    break;
  }
  case 7: { /* a number literal in place of a digit run, or anywhere */
    char num[160];
    size_t n = rnd_number(num);
    size_t e = at;
    while (e < m->len && ((m->data[e] >= '0' && m->data[e] <= '9') || m->data[e] == '.' ||
                          m->data[e] == 'e' || m->data[e] == '-'))
      e++;
    mb_delete(m, at, e - at);
    mb_insert(m, at, num, n);
    break;
  }
  case 8: { /* wrap in deep nesting */
    size_t d = rnd_below(4) == 0 ? 2040 + rnd_below(16) : 1 + rnd_below(50);
    char *open = malloc(d), *close = malloc(d);
    int obj = rnd_below(4) == 0;
    memset(open, '[', d);
    memset(close, ']', d);
    if (obj) {
      mb_insert(m, m->len, "}", 1);
      mb_insert(m, 0, "{\"w\":", 5);
    }
    mb_insert(m, m->len, close, d);
    mb_insert(m, 0, open, d);
    free(open);
    free(close);
    break;
  }
  default: { /* a byte inserted: a special one half of the time */
    static const char special[] = "\"\\{}[]:, \t\n\r\x01\x7f\x80\xbf\xc2\xe0\xed\xf0\xf4\xff" "0-.eE+tfnu";
    char c = rnd_below(2) ? special[rnd_below(sizeof special - 1)] : (char)rnd_below(256);
    mb_insert(m, at, &c, 1);
    break;
  }
  }
}

static void test_differential(void) {
  mbuf m = {0};
  size_t total = 0, accepted = 0, failures = 0;
  const size_t rounds = 250000;
  for (size_t i = 0; i < rounds; i++) {
    const char *seed = seeds[i % (sizeof seeds / sizeof seeds[0])];
    m.len = 0;
    mb_insert(&m, 0, seed, strlen(seed));
    size_t nm = i % 17 == 0 ? 0 : 1 + rnd_below(rnd_below(4) == 0 ? 8 : 3);
    for (size_t k = 0; k < nm; k++) mutate(&m);
    int ok = 0;
    int same = agree(m.data, m.len, &ok);
    total++;
    accepted += ok;
    if (!same) {
      failures++;
      if (failures <= 10) print_input("p_json_parse differs from json_loadb", m.data, m.len);
    }
  }
  /* Random number literals on their own, valid or not. */
  for (size_t i = 0; i < 60000; i++) {
    char buf[200];
    buf[0] = '[';
    size_t n = 1 + rnd_number(buf + 1);
    buf[n++] = ']';
    int ok = 0;
    int same = agree(buf, n, &ok);
    total++;
    accepted += ok;
    if (!same) {
      failures++;
      if (failures <= 10) print_input("p_json_parse differs from json_loadb", buf, n);
    }
  }
  free(m.data);
  CHECK_EQ_INT(failures, 0);
  /* the mix must exercise both verdicts substantially */
  CHECK(accepted > total / 10 && accepted < total * 9 / 10);
  printf("differential: %zu inputs, %zu accepted by both, %zu differences\n", total, accepted,
         failures);
}

/* Reals near the edges, generated from doubles: the shortest and the
 * 17-digit text of random bit patterns, and halfway cases. */
static void test_reals(void) {
  size_t failures = 0;
  for (int i = 0; i < 40000; i++) {
    uint64_t bits = rnd();
    if (i % 4 == 0) bits &= 0x000FFFFFFFFFFFFFull; /* subnormals */
    if (i % 4 == 1) bits |= 0x7FE0000000000000ull; /* near DBL_MAX */
    double d;
    memcpy(&d, &bits, sizeof d);
    if (isnan(d) || isinf(d)) continue;
    char buf[64];
    int n = snprintf(buf, sizeof buf, "[%.*e]", (int)(i % 20), d);
    if (!agree(buf, (size_t)n, NULL) && ++failures <= 10) print_input("real differs", buf, (size_t)n);
    n = snprintf(buf, sizeof buf, "[%.17g]", d);
    if (!agree(buf, (size_t)n, NULL) && ++failures <= 10) print_input("real differs", buf, (size_t)n);
  }
  CHECK_EQ_INT(failures, 0);
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {
      {"table", test_table},
      {"values", test_values},
      {"depth", test_depth},
      {"differential", test_differential},
      {"reals", test_reals},
      {NULL, NULL},
  };
  return tl_run(tests, argc, argv);
}
