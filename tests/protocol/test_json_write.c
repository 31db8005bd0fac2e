/*
 * test_json_write.c -- protocol/json_write.c: the direct item serializer
 * must print exactly what json_dumps(p_item_to_json(item), JSON_COMPACT)
 * prints, over thousands of random items of every type (control
 * characters, '"', '\\', '/', DEL, 2-4 byte UTF-8, NUL, empty strings,
 * names, sets, lists and maps, deep nesting). Also: the buffer API, invalid
 * UTF-8 (still valid JSON), and a timing comparison that is printed, never
 * asserted.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/protocol.h"
#include "tests/testlib.h"

/* xorshift64*: deterministic, seeded per test. */
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

/* A random valid UTF-8 string of up to max characters into buf (4*max
 * bytes); returns the byte length. */
static size_t rnd_utf8(char *buf, unsigned max) {
  unsigned chars = rnd_below(max + 1);
  size_t n = 0;
  for (unsigned i = 0; i < chars; i++) {
    unsigned kind = rnd_below(10);
    uint32_t cp;
    if (kind < 4)
      cp = 'a' + rnd_below(26);
    else if (kind == 4)
      cp = rnd_below(0x20); /* control characters, NUL included */
    else if (kind == 5) {
      static const char special[] = "\"\\/\x7f '{}[]:,";
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

static dv_value rnd_s(dv_arena *a) {
  char buf[4 * 24];
  size_t n = rnd_utf8(buf, 24);
  return dv_make_s(a, buf, n);
}

static dv_value rnd_n(dv_arena *a) {
  char buf[64];
  int n = 0;
  if (rnd_below(2)) buf[n++] = '-';
  unsigned ilen = 1 + rnd_below(12);
  buf[n++] = (char)('1' + rnd_below(9));
  for (unsigned i = 1; i < ilen; i++) buf[n++] = (char)('0' + rnd_below(10));
  if (rnd_below(2)) {
    buf[n++] = '.';
    unsigned flen = rnd_below(8);
    for (unsigned i = 0; i < flen; i++) buf[n++] = (char)('0' + rnd_below(10));
    buf[n++] = (char)('1' + rnd_below(9));
  }
  return dv_make_n_text(a, buf, (size_t)n);
}

static dv_value rnd_b(dv_arena *a) {
  unsigned char buf[40];
  unsigned n = rnd_below(sizeof buf + 1);
  for (unsigned i = 0; i < n; i++) buf[i] = (unsigned char)rnd();
  return dv_make_b(a, buf, n);
}

static dv_value rnd_value(dv_arena *a, int depth);

/* A map of up to max attributes with unique (random) names. */
static dv_value rnd_map(dv_arena *a, unsigned max, int depth) {
  dv_value m = {.type = DV_M};
  m.n = rnd_below(max + 1);
  m.u.attrs = dv_arena_calloc(a, (m.n ? m.n : 1) * sizeof(dv_attr));
  for (uint32_t i = 0; i < m.n; i++) {
    char buf[4 * 12 + 16];
    size_t n = rnd_utf8(buf, 12);
    n += (size_t)snprintf(buf + n, 16, "#%u", (unsigned)i); /* unique */
    if (rnd_below(20) == 0) n = (size_t)snprintf(buf, sizeof buf, "%u", (unsigned)i);
    m.u.attrs[i].name = dv_arena_strndup(a, buf, n);
    m.u.attrs[i].name_len = (uint32_t)n;
    m.u.attrs[i].value = rnd_value(a, depth + 1);
  }
  return m;
}

static dv_value rnd_value(dv_arena *a, int depth) {
  unsigned kind = rnd_below(depth >= 5 ? 5 : 10);
  switch (kind) {
    case 0:
      return rnd_s(a);
    case 1:
      return rnd_n(a);
    case 2:
      return rnd_b(a);
    case 3:
      return dv_make_bool((int)rnd_below(2));
    case 4:
      return dv_make_null();
    case 5:
      return rnd_map(a, 4, depth);
    case 6: {
      dv_value l = {.type = DV_L, .n = rnd_below(5)};
      l.u.elems = dv_arena_calloc(a, (l.n ? l.n : 1) * sizeof(dv_value));
      for (uint32_t i = 0; i < l.n; i++) l.u.elems[i] = rnd_value(a, depth + 1);
      return l;
    }
    default: {
      /* Sets: serialization does not care about order or duplicates; an
       * empty set is printed too (never stored, but must not crash). */
      dv_type t = kind == 7 ? DV_SS : kind == 8 ? DV_NS : DV_BS;
      dv_value s = {.type = t, .n = rnd_below(5)};
      s.u.elems = dv_arena_calloc(a, (s.n ? s.n : 1) * sizeof(dv_value));
      for (uint32_t i = 0; i < s.n; i++)
        s.u.elems[i] = t == DV_SS ? rnd_s(a) : t == DV_NS ? rnd_n(a) : rnd_b(a);
      return s;
    }
  }
}

static char *jansson_text(const dv_value *item) {
  json_t *j = p_item_to_json(item);
  char *t = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  return t;
}

static char *direct_text(const dv_value *item, size_t *len) {
  p_buf b;
  p_buf_init(&b);
  p_write_item_json(&b, item);
  return p_buf_steal(&b, len);
}

static void test_random_items(void) {
  g_rng = 0x1234567u;
  int mismatches = 0;
  for (int iter = 0; iter < 5000; iter++) {
    dv_arena *a = dv_arena_new();
    dv_value item = rnd_map(a, 12, 1);
    char *want = jansson_text(&item);
    size_t len = 0;
    char *got = direct_text(&item, &len);
    CHECK(want != NULL);
    if (want != NULL && (strlen(want) != len || memcmp(want, got, len) != 0)) {
      if (mismatches++ < 3) fprintf(stderr, "mismatch:\n jansson %s\n direct  %s\n", want, got);
      CHECK(0);
    }
    free(want);
    free(got);
    dv_arena_free(a);
  }
  CHECK_EQ_INT(mismatches, 0);
}

static void test_values(void) {
  g_rng = 0xABCDEFu;
  for (int iter = 0; iter < 3000; iter++) {
    dv_arena *a = dv_arena_new();
    dv_value v = rnd_value(a, 1);
    json_t *j = p_value_to_json(&v);
    char *want = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    p_buf b;
    p_buf_init(&b);
    p_write_value_json(&b, &v);
    size_t len = 0;
    char *got = p_buf_steal(&b, &len);
    CHECK(want != NULL && strlen(want) == len && memcmp(want, got, len) == 0);
    free(want);
    free(got);
    dv_arena_free(a);
  }
}

static void test_fixed(void) {
  dv_arena *a = dv_arena_new();
  /* Every escape, '/' and DEL unescaped, UTF-8 through, NUL as \u0000. */
  static const char s[] = "a\"b\\c/d\b\f\n\r\t\x01\x1f\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  dv_value item = {.type = DV_M, .n = 3};
  item.u.attrs = dv_arena_calloc(a, 3 * sizeof(dv_attr));
  item.u.attrs[0] = (dv_attr){"", 0, dv_make_s(a, "", 0)};
  item.u.attrs[1] = (dv_attr){"n\x00ul", 4, dv_make_s(a, "x\0y", 3)};
  item.u.attrs[2] = (dv_attr){"s", 1, dv_make_s(a, s, sizeof s - 1)};
  size_t len = 0;
  char *got = direct_text(&item, &len);
  CHECK_EQ_STR(got,
               "{\"\":{\"S\":\"\"},\"n\\u0000ul\":{\"S\":\"x\\u0000y\"},\"s\":{\"S\":"
               "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001F\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}}");
  char *want = jansson_text(&item);
  CHECK_EQ_STR(got, want);
  free(want);
  free(got);
  /* Not a map: "{}" like p_item_to_json. */
  dv_value s1 = dv_make_s(a, "x", 1);
  got = direct_text(&s1, &len);
  CHECK_EQ_STR(got, "{}");
  CHECK_EQ_INT(len, 2);
  free(got);
  got = direct_text(NULL, &len);
  CHECK_EQ_STR(got, "{}");
  free(got);
  /* Empty binary, BOOL false, NULL, empty list and map. */
  dv_value it2 = {.type = DV_M, .n = 5};
  it2.u.attrs = dv_arena_calloc(a, 5 * sizeof(dv_attr));
  it2.u.attrs[0] = (dv_attr){"b", 1, dv_make_b(a, "", 0)};
  it2.u.attrs[1] = (dv_attr){"f", 1, dv_make_bool(0)};
  it2.u.attrs[2] = (dv_attr){"l", 1, {.type = DV_L, .n = 0}};
  it2.u.attrs[3] = (dv_attr){"m", 1, {.type = DV_M, .n = 0}};
  it2.u.attrs[4] = (dv_attr){"z", 1, dv_make_null()};
  got = direct_text(&it2, &len);
  CHECK_EQ_STR(
      got,
      "{\"b\":{\"B\":\"\"},\"f\":{\"BOOL\":false},\"l\":{\"L\":[]},\"m\":{\"M\":{}},\"z\":{\"NULL\":true}}");
  want = jansson_text(&it2);
  CHECK_EQ_STR(got, want);
  free(want);
  free(got);
  dv_arena_free(a);
}

static void test_invalid_utf8(void) {
  /* Overlong, surrogate, truncated, stray continuation, > U+10FFFF: each
   * offending byte becomes \uFFFD and the text stays valid JSON. */
  static const char *const bad[] = {"\xc0\xaf", "\xed\xa0\x80",     "\xe2\x82",
                                    "\x80",     "\xf4\x90\x80\x80", "\xff"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    p_buf b;
    p_buf_init(&b);
    p_write_json_string(&b, bad[i], strlen(bad[i]));
    size_t len = 0;
    char *t = p_buf_steal(&b, &len);
    json_error_t err;
    json_t *j = json_loadb(t, len, JSON_DECODE_ANY, &err);
    CHECK(j != NULL);
    CHECK(strstr(t, "\\uFFFD") != NULL);
    json_decref(j);
    free(t);
  }
}

static void test_buffer(void) {
  p_buf b;
  p_buf_init(&b);
  for (int i = 0; i < 10000; i++) p_buf_puts(&b, "abc");
  CHECK_EQ_INT(b.len, 30000);
  CHECK(b.cap >= b.len);
  size_t len = 0;
  char *t = p_buf_steal(&b, &len);
  CHECK_EQ_INT(len, 30000);
  CHECK_EQ_INT(t[30000], 0);
  CHECK(b.data == NULL && b.len == 0);
  free(t);
  p_buf_append(&b, "", 0);
  t = p_buf_steal(&b, &len);
  CHECK_EQ_INT(len, 0);
  CHECK_EQ_STR(t, "");
  free(t);
  p_buf_free(&b);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A 1 MB page of 12,000 items of ~85 bytes: jansson tree + dump vs direct.
 * Printed for information only. */
static void test_speed(void) {
  dv_arena *a = dv_arena_new();
  enum { N = 12000 };
  dv_value *items = dv_arena_alloc(a, N * sizeof(dv_value));
  for (int i = 0; i < N; i++) {
    char k[32], v[64];
    int kn = snprintf(k, sizeof k, "key-%08d", i);
    int vn = snprintf(v, sizeof v, "value-%d-abcdefghijklmnopqrstuvwxyz0123456789", i);
    dv_value it = {.type = DV_M, .n = 3};
    it.u.attrs = dv_arena_calloc(a, 3 * sizeof(dv_attr));
    it.u.attrs[0] = (dv_attr){"n", 1, dv_make_n_text(a, "12345", 5)};
    it.u.attrs[1] = (dv_attr){"pk", 2, dv_make_s(a, k, (size_t)kn)};
    it.u.attrs[2] = (dv_attr){"v", 1, dv_make_s(a, v, (size_t)vn)};
    items[i] = it;
  }
  /* Best of 5 runs each: the box may be busy. */
  double best_j = 1e9, best_d = 1e9;
  char *t1text = NULL, *t2text = NULL;
  size_t len = 0;
  for (int run = 0; run < 5; run++) {
    free(t1text);
    free(t2text);
    double t0 = now();
    json_t *arr = json_array();
    for (int i = 0; i < N; i++) json_array_append_new(arr, p_item_to_json(&items[i]));
    t1text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    double t1 = now();
    p_buf b;
    p_buf_init(&b);
    p_buf_append(&b, "[", 1);
    for (int i = 0; i < N; i++) {
      if (i > 0) p_buf_append(&b, ",", 1);
      p_write_item_json(&b, &items[i]);
    }
    p_buf_append(&b, "]", 1);
    t2text = p_buf_steal(&b, &len);
    double t2 = now();
    if (t1 - t0 < best_j) best_j = t1 - t0;
    if (t2 - t1 < best_d) best_d = t2 - t1;
  }
  CHECK_EQ_STR(t1text, t2text);
  printf("page of %d items, %zu bytes (best of 5): jansson %.2f ms, direct %.2f ms\n", N, len, best_j * 1e3,
         best_d * 1e3);
  free(t1text);
  free(t2text);
  dv_arena_free(a);
}

/* Strings of plain runs and special bytes at every offset against jansson's
 * escaping (p_write_json_string copies plain bytes sixteen (SSE2) and eight
 * (a word) at a time). */
static void test_string_words(void) {
  static const char *const pieces[] = {"a", "bcdefgh", "\"", "\\", "\x01", "\x1f", " ", "\x7f",
                                       "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\n", "/", "~"};
  g_rng = 0x5151u;
  int mismatches = 0;
  for (int iter = 0; iter < 20000; iter++) {
    char s[512];
    size_t n = 0;
    int parts = (int)(rnd() % 40);
    for (int k = 0; k < parts; k++) {
      /* mostly plain bytes, so runs of 8+ occur with specials between */
      const char *pc = rnd() % 3 ? pieces[rnd() % 2] : pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
      size_t l = strlen(pc);
      memcpy(s + n, pc, l);
      n += l;
    }
    json_t *j = json_stringn(s, n);
    CHECK(j != NULL);
    char *want = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(j);
    p_buf b;
    p_buf_init(&b);
    p_write_json_string(&b, s, n);
    if (want == NULL || strlen(want) != b.len || memcmp(want, b.data, b.len) != 0) {
      if (mismatches++ < 3) fprintf(stderr, "mismatch: jansson %s direct %.*s\n", want, (int)b.len, b.data);
      CHECK(0);
    }
    free(want);
    p_buf_free(&b);
  }
  CHECK_EQ_INT(mismatches, 0);
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {
      {"fixed", test_fixed},
      {"string_words", test_string_words},
      {"random_items", test_random_items},
      {"values", test_values},
      {"invalid_utf8", test_invalid_utf8},
      {"buffer", test_buffer},
      {"speed", test_speed},
      {NULL, NULL},
  };
  return tl_run(tests, argc, argv);
}
