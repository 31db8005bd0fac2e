/*
 * test_value.c -- the value model: arena, numbers (parse, format, ranges,
 * comparison, arithmetic, size, order-preserving key encoding), set and map
 * sorting, comparison, equality, item size and depth.
 *
 * Number comparison is checked against an independent reference that
 * compares aligned plain-decimal strings, on thousands of random numbers.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "storage/value.h"
#include "tests/testlib.h"

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}

static unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }

/* A random valid number: mixes of huge, tiny, short, long, related digits. */
static void rand_num(dv_num *n) {
  memset(n, 0, sizeof *n);
  if (rndn(20) == 0) return; /* zero */
  n->sign = rndn(2) ? 1 : -1;
  unsigned kind = rndn(4);
  int nd = kind == 0 ? 1 + (int)rndn(3) : 1 + (int)rndn(DV_NUM_MAXDIG);
  for (int k = 0; k < nd; k++) n->dig[k] = (uint8_t)(kind == 1 ? rndn(2) * 9 : rndn(10));
  if (n->dig[0] == 0) n->dig[0] = 1 + (uint8_t)rndn(9);
  while (n->dig[nd - 1] == 0) nd--;
  n->ndig = (uint8_t)nd;
  switch (rndn(4)) {
  case 0: n->exp = -129 + (int)rndn(256); break;      /* anywhere in range */
  case 1: n->exp = (int)rndn(5) - 2; break;            /* around 1 */
  case 2: n->exp = rndn(2) ? 126 - (int)rndn(3) : -129 + (int)rndn(3); break; /* edges */
  default: n->exp = (int)rndn(40) - 20; break;
  }
}

static int parse_str(const char *s, dv_num *n) { return dv_num_parse(s, strlen(s), n); }

/* Canonical text of s, or an error marker. */
static const char *canon(const char *s, char *buf) {
  dv_num n;
  int rc = parse_str(s, &n);
  if (rc != DV_NUM_OK) {
    snprintf(buf, DV_NUM_MAXTEXT, "E%d", rc);
    return buf;
  }
  dv_num_format(&n, buf);
  return buf;
}

/* Reference comparison of canonical texts: align integer and fraction parts
 * on a fixed grid and compare as strings. Independent of dv_num_cmp. */
static void ref_align(const char *s, int *neg, char *grid) {
  *neg = s[0] == '-';
  if (*neg) s++;
  const char *dot = strchr(s, '.');
  size_t ilen = dot ? (size_t)(dot - s) : strlen(s);
  memset(grid, '0', 320);
  grid[320] = '\0';
  memcpy(grid + 140 - ilen, s, ilen);
  if (dot) memcpy(grid + 140, dot + 1, strlen(dot + 1));
}

static int ref_cmp(const char *a, const char *b) {
  char ga[321], gb[321];
  int na, nb;
  ref_align(a, &na, ga);
  ref_align(b, &nb, gb);
  int za = strspn(ga, "0") == 320, zb = strspn(gb, "0") == 320;
  int sa = za ? 0 : na ? -1 : 1, sb = zb ? 0 : nb ? -1 : 1;
  if (sa != sb) return sa < sb ? -1 : 1;
  int c = strcmp(ga, gb);
  c = c < 0 ? -1 : c > 0;
  return sa < 0 ? -c : c;
}

static int sgn(int x) { return x < 0 ? -1 : x > 0; }

static int key_memcmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  int c = memcmp(a, b, m);
  if (c) return sgn(c);
  return al < bl ? -1 : al > bl;
}

static dv_value mk_n(dv_arena *a, const char *s) { return dv_make_n_text(a, s, strlen(s)); }
static dv_value mk_s(dv_arena *a, const char *s) { return dv_make_s(a, s, strlen(s)); }

/* ---- arena -------------------------------------------------------------------- */

static void test_arena(void) {
  dv_arena *a = dv_arena_new();
  CHECK_EQ_INT(dv_arena_used(a), 0);
  size_t total = 0;
  for (int i = 0; i < 5000; i++) {
    size_t n = i % 100 == 0 ? 100000 : (size_t)rndn(300);
    unsigned char *p = dv_arena_alloc(a, n);
    CHECK(((uintptr_t)p & 7) == 0);
    memset(p, 0xAB, n);
    total += n;
  }
  CHECK(dv_arena_used(a) >= total);
  char *z = dv_arena_calloc(a, 1000);
  int allzero = 1;
  for (int i = 0; i < 1000; i++)
    if (z[i]) allzero = 0;
  CHECK(allzero);
  char *s = dv_arena_strndup(a, "hello world", 5);
  CHECK_EQ_STR(s, "hello");
  CHECK(dv_arena_alloc(a, 0) != NULL);
  dv_arena_free(a);
  dv_arena_free(NULL);

  /* Reset: everything handed out is gone, the first chunk is reused, and the
   * arena works as new afterwards (ASan checks the freed chunks). */
  a = dv_arena_new();
  dv_arena_reset(a); /* empty: no chunk to keep */
  CHECK_EQ_INT(dv_arena_used(a), 0);
  unsigned char *first = NULL;
  for (int round = 0; round < 50; round++) {
    unsigned char *p = dv_arena_alloc(a, 40);
    if (round == 0) first = p;
    CHECK(p == first); /* the kept chunk, from its start */
    memset(p, round, 40);
    size_t n = 0;
    for (int i = 0; i < 200 + round * 10; i++) { /* past the first chunk, and a big one */
      size_t k = i == 7 ? 50000 : (size_t)rndn(200);
      memset(dv_arena_alloc(a, k), 0xCD, k);
      n += k;
    }
    CHECK(dv_arena_used(a) >= n + 40);
    CHECK_EQ_INT(p[39], round); /* later allocations did not overlap it */
    dv_arena_reset(a);
    CHECK_EQ_INT(dv_arena_used(a), 0);
  }
  dv_arena_free(a);
}

static void test_types(void) {
  const char *names[] = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"};
  for (int i = 0; i < 10; i++) {
    dv_type t = dv_type_from_name(names[i], strlen(names[i]));
    CHECK_EQ_INT(t, DV_S + i);
    CHECK_EQ_STR(dv_type_name(t), names[i]);
  }
  CHECK_EQ_INT(dv_type_from_name("SSS", 3), DV_NONE);
  CHECK_EQ_INT(dv_type_from_name("S", 0), DV_NONE);
  CHECK_EQ_INT(dv_type_from_name("s", 1), DV_NONE);
  CHECK(dv_type_is_scalar_key(DV_S) && dv_type_is_scalar_key(DV_N) && dv_type_is_scalar_key(DV_B));
  CHECK(!dv_type_is_scalar_key(DV_BOOL) && !dv_type_is_scalar_key(DV_SS));
  CHECK_EQ_INT(dv_set_elem_type(DV_SS), DV_S);
  CHECK_EQ_INT(dv_set_elem_type(DV_NS), DV_N);
  CHECK_EQ_INT(dv_set_elem_type(DV_BS), DV_B);
  CHECK_EQ_INT(dv_set_elem_type(DV_L), DV_NONE);
}

/* ---- numbers: parse and format ------------------------------------------------ */

static void test_num_format_table(void) {
  /* operations.md 1.3, In -> Out, every row. */
  static const char *const t[][2] = {
      {"007", "7"},     {"001.23", "1.23"}, {"00", "0"},       {"1.0", "1"},
      {"1.10", "1.1"},  {"100.000", "100"}, {"1e3", "1000"},   {"1.23e4", "12300"},
      {"+3", "3"},      {"-0", "0"},        {"-0.0", "0"},     {"+0", "0"},
      {"0.10", "0.1"},  {"0e5", "0"},       {"0.0e3", "0"},    {"1e-3", "0.001"},
      {"1.0e-1", "0.1"}, {".5", "0.5"},     {"-.5", "-0.5"},
      {"1e20", "100000000000000000000"},
      {"1e-20", "0.00000000000000000001"},
      /* more */
      {".123", "0.123"}, {"0001.23", "1.23"}, {"-17e5", "-1700000"}, {"1e+5", "100000"},
      {"1.", "1"},      {"-1.", "-1"},      {"0.", "0"},       {"1E2", "100"},
      {"123.456e1", "1234.56"}, {"123.456e-1", "12.3456"}, {"123.456e-3", "0.123456"},
      {"123.456e-4", "0.0123456"}, {"123.456e3", "123456"}, {"123.456e4", "1234560"},
      {"-000.000100e+2", "-0.01"}, {"5e0", "5"}, {"5e-0", "5"}, {"5e+000000000000000000000002", "500"},
      {"12345678901234567890123456789012345678", "12345678901234567890123456789012345678"},
      {"1234567890123456789012345678901234567800000", "1234567890123456789012345678901234567800000"},
      {"0.000000000012345678901234567890123456789012345678", "0.000000000012345678901234567890123456789012345678"},
      {"1e-130", "0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001"},
      {"0e125", "0"}, {"0.0e126", "0"}, {"0e-130", "0"}, {"000e-128", "0"},
  };
  char buf[DV_NUM_MAXTEXT];
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) CHECK_EQ_STR(canon(t[i][0], buf), t[i][1]);

  /* 1e125 -> 1 followed by 125 zeros */
  char want[200];
  want[0] = '1';
  memset(want + 1, '0', 125);
  want[126] = '\0';
  CHECK_EQ_STR(canon("1e125", buf), want);
  /* largest: 38 nines then 88 zeros */
  memset(want, '9', 38);
  memset(want + 38, '0', 88);
  want[126] = '\0';
  CHECK_EQ_STR(canon("9.9999999999999999999999999999999999999E+125", buf), want);
  /* smallest magnitude with 38 digits: longest text fits the buffer */
  dv_num n;
  CHECK_EQ_INT(parse_str("-1.1111111111111111111111111111111111111e-130", &n), DV_NUM_OK);
  size_t len = dv_num_format(&n, buf);
  CHECK_EQ_INT(len, strlen(buf));
  CHECK(len < DV_NUM_MAXTEXT);
  CHECK_EQ_INT(len, 1 + 2 + 129 + 38);
}

static void test_num_errors(void) {
  static const struct {
    const char *in;
    int rc;
  } t[] = {
      {"", DV_NUM_ENOTNUM},        {"abc", DV_NUM_ENOTNUM},     {"1.2.3", DV_NUM_ENOTNUM},
      {"0x10", DV_NUM_ENOTNUM},    {"1e", DV_NUM_ENOTNUM},      {"NaN", DV_NUM_ENOTNUM},
      {"Infinity", DV_NUM_ENOTNUM}, {"-Infinity", DV_NUM_ENOTNUM}, {" 1", DV_NUM_ENOTNUM},
      {"1 ", DV_NUM_ENOTNUM},      {".", DV_NUM_ENOTNUM},       {"-", DV_NUM_ENOTNUM},
      {"+", DV_NUM_ENOTNUM},       {"e5", DV_NUM_ENOTNUM},      {".e5", DV_NUM_ENOTNUM},
      {"1e+", DV_NUM_ENOTNUM},     {"1e-", DV_NUM_ENOTNUM},     {"1e5.5", DV_NUM_ENOTNUM},
      {"--1", DV_NUM_ENOTNUM},     {"+-1", DV_NUM_ENOTNUM},     {"1-", DV_NUM_ENOTNUM},
      {"1,000", DV_NUM_ENOTNUM},   {"dog", DV_NUM_ENOTNUM},     {"1ee5", DV_NUM_ENOTNUM},
      {"1e9223372036854775808", DV_NUM_ENOTNUM},
      {"1e-9223372036854775809", DV_NUM_ENOTNUM},
      {"1e99999999999999999999", DV_NUM_ENOTNUM},
      {"0e9223372036854775808", DV_NUM_ENOTNUM},
      /* digits */
      {"123456789012345678901234567890123456789", DV_NUM_EDIGITS},
      {"1.23456789012345678901234567890123456789", DV_NUM_EDIGITS},
      {"0.000123456789012345678901234567890123456789", DV_NUM_EDIGITS},
      {"100000000000000000000000000000000000001", DV_NUM_EDIGITS},
      /* range */
      {"1e126", DV_NUM_EOVERFLOW},  {"-1e126", DV_NUM_EOVERFLOW}, {"10e125", DV_NUM_EOVERFLOW},
      {"1e-131", DV_NUM_EUNDERFLOW}, {"-1e-131", DV_NUM_EUNDERFLOW},
      {"0.9e-130", DV_NUM_EUNDERFLOW}, {"0.99999e-130", DV_NUM_EUNDERFLOW},
      {"1e99999999999", DV_NUM_EOVERFLOW}, {"1e2147483648", DV_NUM_EOVERFLOW},
      {"1e2147483647", DV_NUM_EOVERFLOW}, {"1e-99999999999", DV_NUM_EUNDERFLOW},
      {"1e9223372036854775807", DV_NUM_EOVERFLOW},
      {"1e-9223372036854775808", DV_NUM_EUNDERFLOW},
      {"0.0000000000000000001e-9223372036854775808", DV_NUM_EUNDERFLOW},
      {"1000000000000000000000e9223372036854775807", DV_NUM_EOVERFLOW},
      /* zero by the exponent it is written with */
      {"0e126", DV_NUM_EOVERFLOW}, {"00e126", DV_NUM_EOVERFLOW}, {"0e-131", DV_NUM_EUNDERFLOW},
      {"0.0e-130", DV_NUM_EUNDERFLOW}, {"0e99999999999", DV_NUM_EOVERFLOW},
      {"-0e-99999999999", DV_NUM_EUNDERFLOW},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    dv_num n;
    int rc = parse_str(t[i].in, &n);
    if (rc != t[i].rc) fprintf(stderr, "  parse \"%s\": got %d want %d\n", t[i].in, rc, t[i].rc);
    CHECK_EQ_INT(rc, t[i].rc);
  }
  /* boundaries that are fine */
  static const char *const ok[] = {
      "1e125", "-1e125", "9.9999999999999999999999999999999999999E+125", "1e-130", "-1e-130",
      "1.5e-130", "0e125", "0e-130", "0.0e126", "12345678901234567890123456789012345678e-167",
      "1e0000000000000000000000000000000000000000000000000000000000000000000000005",
      "000000000000000000000000000000000000000000000000000000000000000000000000000001",
      "0.00000000000000000000000000000000000000000000000000000000000000000000000001000000000000",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    dv_num n;
    int rc = parse_str(ok[i], &n);
    if (rc) fprintf(stderr, "  parse \"%s\": got %d\n", ok[i], rc);
    CHECK_EQ_INT(rc, DV_NUM_OK);
  }
  /* Length counts: an embedded NUL ends nothing; text past len is ignored. */
  dv_num n;
  CHECK_EQ_INT(dv_num_parse("12x", 2, &n), DV_NUM_OK);
  CHECK_EQ_INT(dv_num_parse("1\0", 2, &n), DV_NUM_ENOTNUM);
}

static void test_num_roundtrip_random(void) {
  char buf[DV_NUM_MAXTEXT], buf2[DV_NUM_MAXTEXT];
  for (int i = 0; i < 20000; i++) {
    dv_num n, m;
    rand_num(&n);
    size_t len = dv_num_format(&n, buf);
    CHECK(len < DV_NUM_MAXTEXT);
    CHECK_EQ_INT(dv_num_parse(buf, len, &m), DV_NUM_OK);
    CHECK(dv_num_cmp(&n, &m) == 0);
    CHECK(m.sign == n.sign && m.ndig == n.ndig && m.exp == n.exp);
    CHECK(memcmp(m.dig, n.dig, n.ndig) == 0);
    /* the same value written with an exponent parses to the same number */
    int off = (int)rndn(50) - 25;
    char sci[300];
    if (n.ndig) {
      int p = 0;
      if (n.sign < 0) sci[p++] = '-';
      sci[p++] = '0';
      sci[p++] = '.';
      for (int k = 0; k < n.ndig; k++) sci[p++] = (char)('0' + n.dig[k]);
      for (int k = 0; k < off + 25; k++) sci[p++] = '0';
      snprintf(sci + p, sizeof sci - (size_t)p, "E%+d", n.exp);
    } else {
      snprintf(sci, sizeof sci, "0.000e%d", (int)rndn(100));
    }
    CHECK_EQ_INT(parse_str(sci, &m), DV_NUM_OK);
    dv_num_format(&m, buf2);
    CHECK_EQ_STR(buf2, buf);
  }
}

/* ---- numbers: ordering and key encoding --------------------------------------- */

static void test_num_cmp_and_keys(void) {
  enum { N = 3000 };
  static dv_num nums[N];
  static char texts[N][DV_NUM_MAXTEXT];
  static uint8_t keys[N][DV_NUM_KEYMAX];
  static size_t klen[N];
  for (int i = 0; i < N; i++) {
    if (i > 0 && rndn(4) == 0) {
      /* a close relative of the previous number: share a prefix */
      nums[i] = nums[i - 1];
      if (nums[i].ndig && nums[i].ndig < DV_NUM_MAXDIG) {
        nums[i].dig[nums[i].ndig] = (uint8_t)(1 + rndn(9));
        nums[i].ndig++;
      } else if (nums[i].ndig > 1) {
        nums[i].ndig--;
        while (nums[i].dig[nums[i].ndig - 1] == 0) nums[i].ndig--;
      }
      if (rndn(2)) nums[i].sign = (int8_t)-nums[i].sign;
    } else {
      rand_num(&nums[i]);
    }
    dv_num_format(&nums[i], texts[i]);
    klen[i] = dv_num_keyenc(&nums[i], keys[i]);
    CHECK(klen[i] >= 1 && klen[i] <= DV_NUM_KEYMAX);
    dv_num back;
    CHECK_EQ_INT(dv_num_keydec(keys[i], klen[i], &back), klen[i]);
    CHECK(dv_num_cmp(&back, &nums[i]) == 0);
    /* self-delimiting: trailing garbage is not consumed */
    uint8_t ext[DV_NUM_KEYMAX + 3];
    memcpy(ext, keys[i], klen[i]);
    memcpy(ext + klen[i], "\x00\xff\x42", 3);
    CHECK_EQ_INT(dv_num_keydec(ext, klen[i] + 3, &back), klen[i]);
    /* any strict prefix is malformed */
    CHECK_EQ_INT(dv_num_keydec(keys[i], klen[i] - 1, &back), 0);
  }
  long mismatches = 0;
  for (int t = 0; t < 200000; t++) {
    int i = (int)rndn(N), j = rndn(8) == 0 ? i : (int)rndn(N);
    int c = sgn(dv_num_cmp(&nums[i], &nums[j]));
    int r = ref_cmp(texts[i], texts[j]);
    int k = key_memcmp(keys[i], klen[i], keys[j], klen[j]);
    if (c != r || c != k) {
      if (mismatches++ < 5)
        fprintf(stderr, "  cmp %s vs %s: cmp %d ref %d key %d\n", texts[i], texts[j], c, r, k);
    }
    dv_value a = {.type = DV_N, .n = (uint32_t)strlen(texts[i]), .u.bytes = texts[i]};
    dv_value b = {.type = DV_N, .n = (uint32_t)strlen(texts[j]), .u.bytes = texts[j]};
    if (sgn(dv_compare(&a, &b)) != c) mismatches++;
    if (dv_equal(&a, &b) != (c == 0)) mismatches++;
  }
  CHECK_EQ_INT(mismatches, 0);

  /* fixed ladder, ascending */
  static const char *const ladder[] = {
      "-9.9999999999999999999999999999999999999E+125", "-1e125", "-1e20", "-100", "-12", "-11.9",
      "-10.0001", "-10", "-2", "-1.01", "-1.001", "-1", "-0.99", "-0.1", "-0.01", "-1e-129",
      "-1e-130", "0", "1e-130", "1.1e-130", "1e-129", "0.001", "0.1", "0.11", "0.110001", "0.12",
      "0.9", "1", "1.000000000000000000000000000000000001", "1.01", "1.1", "2", "9", "10", "10.5",
      "99", "100", "101", "1e38", "1e125", "9.9999999999999999999999999999999999999E+125",
  };
  size_t nl = sizeof ladder / sizeof ladder[0];
  uint8_t prev[DV_NUM_KEYMAX];
  size_t prevlen = 0;
  for (size_t i = 0; i < nl; i++) {
    dv_num n;
    CHECK_EQ_INT(parse_str(ladder[i], &n), DV_NUM_OK);
    uint8_t k[DV_NUM_KEYMAX];
    size_t kl = dv_num_keyenc(&n, k);
    if (i) {
      int c = key_memcmp(prev, prevlen, k, kl);
      if (c >= 0) fprintf(stderr, "  ladder %s not above %s\n", ladder[i], ladder[i - 1]);
      CHECK(c < 0);
      dv_num p;
      parse_str(ladder[i - 1], &p);
      CHECK(dv_num_cmp(&p, &n) < 0);
      CHECK(dv_num_cmp(&n, &p) > 0);
    }
    memcpy(prev, k, kl);
    prevlen = kl;
  }
  /* equal values, different texts: one key */
  static const char *const same[] = {"1", "1.0", "1e0", "+1", "0.1e1", "10e-1", "000001.000"};
  uint8_t k0[DV_NUM_KEYMAX];
  dv_num n0;
  parse_str(same[0], &n0);
  size_t k0l = dv_num_keyenc(&n0, k0);
  for (size_t i = 1; i < sizeof same / sizeof same[0]; i++) {
    dv_num n;
    uint8_t k[DV_NUM_KEYMAX];
    CHECK_EQ_INT(parse_str(same[i], &n), DV_NUM_OK);
    CHECK_EQ_INT(dv_num_cmp(&n, &n0), 0);
    size_t kl = dv_num_keyenc(&n, k);
    CHECK(kl == k0l && memcmp(k, k0, kl) == 0);
  }
  /* the longest encoding */
  dv_num big;
  parse_str("-1.2345678901234567890123456789012345678e-100", &big);
  uint8_t kb[DV_NUM_KEYMAX];
  CHECK_EQ_INT(dv_num_keyenc(&big, kb), 22);
  /* malformed encodings */
  dv_num bad;
  CHECK_EQ_INT(dv_num_keydec((const uint8_t *)"", 0, &bad), 0);
  CHECK_EQ_INT(dv_num_keydec((const uint8_t *)"\x80", 1, &bad), 1);
  CHECK_EQ_INT(bad.sign, 0);
  CHECK_EQ_INT(dv_num_keydec((const uint8_t *)"\x81", 1, &bad), 0);     /* class */
  CHECK_EQ_INT(dv_num_keydec((const uint8_t *)"\xC0\x81\x00", 3, &bad), 0); /* no digits */
  CHECK_EQ_INT(dv_num_keydec((const uint8_t *)"\xC0\x81\x65\x00", 4, &bad), 0); /* pair byte 101 */
  CHECK_EQ_INT(dv_num_keydec((const uint8_t *)"\xC0\x81\x64\x00", 4, &bad), 4); /* "99" */
  CHECK_EQ_INT(bad.ndig, 2);
  CHECK_EQ_INT(dv_num_keydec((const uint8_t *)"\xC0\x81\x05\x00", 4, &bad), 0); /* leading 0 */
  CHECK_EQ_INT(dv_num_keydec((const uint8_t *)"\xC0\x81\x0B\x01\x00", 5, &bad), 0); /* "1000" */
  CHECK_EQ_INT(dv_num_keydec((const uint8_t *)"\xC0\x81\x0B\x00", 4, &bad), 4); /* "1" */
  CHECK_EQ_INT(bad.ndig, 1);
  CHECK_EQ_INT(dv_num_keydec((const uint8_t *)"\xC0\x81\x0B\xff", 4, &bad), 0);
  CHECK_EQ_INT(dv_num_keydec((const uint8_t *)"\x40\x81\x0B\x00", 4, &bad), 0);
  uint8_t toolong[2 + 20 + 1];
  toolong[0] = 0xC0;
  toolong[1] = 0x81;
  memset(toolong + 2, 0x0C, 20);
  toolong[22] = 0;
  CHECK_EQ_INT(dv_num_keydec(toolong, sizeof toolong, &bad), 0);
  CHECK_EQ_INT(dv_num_keydec(toolong + 1, sizeof toolong - 1, &bad), 0);
  /* 19 pairs is the maximum */
  memmove(toolong + 3, toolong + 4, 19);
  CHECK_EQ_INT(dv_num_keydec(toolong, sizeof toolong - 1, &bad), 22);
  CHECK_EQ_INT(bad.ndig, 38);
  /* fuzz: any bytes either decode to a valid number that re-encodes the same,
   * or are rejected */
  for (int t = 0; t < 100000; t++) {
    uint8_t b[DV_NUM_KEYMAX + 2];
    size_t bl = 1 + rndn(sizeof b);
    for (size_t i = 0; i < bl; i++) b[i] = (uint8_t)(rndn(3) ? 1 + rndn(100) : rnd());
    if (rndn(2)) b[0] = rndn(2) ? 0xC0 : 0x40;
    size_t used = dv_num_keydec(b, bl, &bad);
    if (used) {
      uint8_t re[DV_NUM_KEYMAX];
      size_t rl = dv_num_keyenc(&bad, re);
      CHECK(rl == used && memcmp(re, b, used) == 0);
    }
  }
}

/* ---- numbers: arithmetic -------------------------------------------------------- */

static void check_arith(const char *a, const char *op, const char *b, const char *want) {
  dv_num x, y, r;
  char buf[DV_NUM_MAXTEXT];
  CHECK_EQ_INT(parse_str(a, &x), DV_NUM_OK);
  CHECK_EQ_INT(parse_str(b, &y), DV_NUM_OK);
  int rc = *op == '+' ? dv_num_add(&x, &y, &r) : dv_num_sub(&x, &y, &r);
  const char *got;
  if (rc == DV_NUM_EOVERFLOW)
    got = "OVERFLOW";
  else if (rc == DV_NUM_EUNDERFLOW)
    got = "UNDERFLOW";
  else if (rc != DV_NUM_OK)
    got = "ERROR";
  else {
    dv_num_format(&r, buf);
    got = buf;
  }
  if (strcmp(got, want)) fprintf(stderr, "  %s %s %s = %s, want %s\n", a, op, b, got, want);
  CHECK_EQ_STR(got, want);
}

static void test_num_arith_table(void) {
  check_arith("1", "+", "2", "3");
  check_arith("0.1", "+", "0.2", "0.3");
  check_arith("1", "-", "1", "0");
  check_arith("1", "-", "1.0", "0");
  check_arith("-1", "+", "1", "0");
  check_arith("0", "+", "0", "0");
  check_arith("0", "-", "5", "-5");
  check_arith("5", "-", "0", "5");
  check_arith("0", "-", "-5", "5");
  check_arith("2", "-", "3", "-1");
  check_arith("-2", "-", "-3", "1");
  check_arith("-2", "+", "-3", "-5");
  check_arith("9.99", "+", "0.01", "10");
  check_arith("999", "+", "1", "1000");
  check_arith("1000", "-", "0.001", "999.999");
  check_arith("1e50", "+", "1", "OVERFLOW"); /* > 38 digits: AWS says overflow */
  check_arith("1e37", "+", "1", "10000000000000000000000000000000000001");
  check_arith("1e38", "+", "1", "OVERFLOW");
  check_arith("1e38", "+", "10", "100000000000000000000000000000000000010");
  check_arith("9.9999999999999999999999999999999999999E+125", "+", "1e88", "OVERFLOW");
  check_arith("9e125", "+", "1e125", "OVERFLOW");
  check_arith("-9e125", "-", "1e125", "OVERFLOW");
  check_arith("5e125", "+", "4e125", "900000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000");
  check_arith("1e125", "-", "1e125", "0");
  check_arith("1.5e-130", "-", "1.4e-130", "UNDERFLOW");
  check_arith("2e-130", "-", "1e-130", "0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001");
  check_arith("1.0000000000000000000000000000000000001e-129", "-", "1e-129", "UNDERFLOW");
  check_arith("12345678901234567890123456789012345678", "+", "1", "12345678901234567890123456789012345679");
  check_arith("99999999999999999999999999999999999999", "+", "1", "100000000000000000000000000000000000000");
  check_arith("99999999999999999999999999999999999999", "+", "2", "OVERFLOW");
  check_arith("0.5", "+", "0.5", "1");
  check_arith("-0.5", "-", "0.5", "-1");
  check_arith("123.456", "-", "123.455", "0.001");
  check_arith("1e-129", "+", "1e125", "OVERFLOW");
}

/* Reference: a = A * 10^k, b = B * 10^k with |A|, |B| < 1e17, so A +- B is
 * exact in int64. */
static void test_num_arith_random(void) {
  char ta[64], tb[64], tw[64], buf[DV_NUM_MAXTEXT], wbuf[DV_NUM_MAXTEXT];
  long bad = 0;
  for (int t = 0; t < 20000; t++) {
    int64_t A = (int64_t)(rnd() % 100000000000000000ull) * (rndn(2) ? 1 : -1);
    int64_t B = (int64_t)(rnd() % 100000000000000000ull) * (rndn(2) ? 1 : -1);
    if (rndn(4) == 0) A %= 1000;
    if (rndn(4) == 0) B %= 100000;
    if (rndn(10) == 0) B = -A;
    int k = (int)rndn(200) - 100;
    int sub = (int)rndn(2);
    int64_t W = sub ? A - B : A + B;
    snprintf(ta, sizeof ta, "%llde%d", (long long)A, k);
    snprintf(tb, sizeof tb, "%llde%d", (long long)B, k);
    snprintf(tw, sizeof tw, "%llde%d", (long long)W, k);
    dv_num x, y, r, w;
    if (parse_str(ta, &x) || parse_str(tb, &y) || parse_str(tw, &w)) {
      bad++;
      continue;
    }
    int rc = sub ? dv_num_sub(&x, &y, &r) : dv_num_add(&x, &y, &r);
    dv_num_format(&w, wbuf);
    if (rc != DV_NUM_OK) {
      bad++;
      continue;
    }
    dv_num_format(&r, buf);
    if (strcmp(buf, wbuf)) {
      if (bad < 5) fprintf(stderr, "  %s %c %s = %s, want %s\n", ta, sub ? '-' : '+', tb, buf, wbuf);
      bad++;
    }
    /* a - b + b == a */
    dv_num back;
    rc = sub ? dv_num_add(&r, &y, &back) : dv_num_sub(&r, &y, &back);
    if (rc != DV_NUM_OK || dv_num_cmp(&back, &x) != 0) bad++;
  }
  CHECK_EQ_INT(bad, 0);
  /* Random full-width operands: result exact or an error, never wrong.
   * Check x + y - y == x whenever both steps succeed. */
  long checked = 0;
  for (int t = 0; t < 20000; t++) {
    dv_num x, y, r, back;
    rand_num(&x);
    rand_num(&y);
    if (rndn(2)) y.exp = x.exp - (int)rndn(5);
    if (y.exp < -129) y.exp = -129;
    int rc = dv_num_add(&x, &y, &r);
    if (rc == DV_NUM_OK) {
      CHECK(r.ndig <= DV_NUM_MAXDIG);
      CHECK(r.ndig == 0 || (r.dig[0] != 0 && r.dig[r.ndig - 1] != 0));
      if (dv_num_sub(&r, &y, &back) == DV_NUM_OK) {
        CHECK(dv_num_cmp(&back, &x) == 0);
        checked++;
      }
      /* sign sanity: y > 0 => r > x */
      int cy = y.ndig ? y.sign : 0;
      CHECK(sgn(dv_num_cmp(&r, &x)) == cy);
    } else {
      CHECK(rc == DV_NUM_EOVERFLOW || rc == DV_NUM_EUNDERFLOW);
    }
  }
  CHECK(checked > 1000);
}

/* ---- numbers: size ---------------------------------------------------------------- */

static void test_num_size(void) {
  static const struct {
    const char *in;
    size_t size;
  } t[] = {
      {"3.14159", 5}, {"123456", 4}, {"1E125", 2}, /* AWS-measured */
      {"0", 1},       {"-0", 1},     {"1", 2},     {"-1", 3},   {"12", 2},  {"123", 3},
      {"100", 2},     {"0.5", 2},    {"0.05", 2},  {"0.123", 3}, {"1.5", 3}, {"-1.5", 4},
      {"10.5", 3},    {"12345678901234567890123456789012345678", 20},
      {"-1.2345678901234567890123456789012345678", 22},
      {"1e-130", 2},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    dv_num n;
    CHECK_EQ_INT(parse_str(t[i].in, &n), DV_NUM_OK);
    size_t s = dv_num_size(&n);
    if (s != t[i].size) fprintf(stderr, "  size(%s) = %zu want %zu\n", t[i].in, s, t[i].size);
    CHECK_EQ_INT(s, t[i].size);
    dv_arena *a = dv_arena_new();
    char buf[DV_NUM_MAXTEXT];
    size_t len = dv_num_format(&n, buf);
    dv_value v = dv_make_n_text(a, buf, len);
    CHECK_EQ_INT(dv_value_size(&v), t[i].size);
    dv_arena_free(a);
  }
}

/* ---- values -------------------------------------------------------------------- */

static dv_value mk_map(dv_arena *a, int n, const char *const *names, const dv_value *vals) {
  dv_value m = {.type = DV_M, .n = (uint32_t)n};
  m.u.attrs = dv_arena_alloc(a, sizeof(dv_attr) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) {
    m.u.attrs[i].name = dv_arena_strndup(a, names[i], strlen(names[i]));
    m.u.attrs[i].name_len = (uint32_t)strlen(names[i]);
    m.u.attrs[i].value = vals[i];
  }
  return m;
}

static dv_value mk_list(dv_arena *a, dv_type t, int n, const dv_value *vals) {
  dv_value l = {.type = t, .n = (uint32_t)n};
  l.u.elems = dv_arena_alloc(a, sizeof(dv_value) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) l.u.elems[i] = vals[i];
  return l;
}

static void test_item_size(void) {
  dv_arena *a = dv_arena_new();
  /* docs example: {"shirt-color":"R","shirt-size":"M"} = 23 */
  const char *names[] = {"shirt-color", "shirt-size"};
  dv_value vals[] = {mk_s(a, "R"), mk_s(a, "M")};
  dv_value item = mk_map(a, 2, names, vals);
  CHECK_EQ_INT(dv_map_sort(&item), 0);
  CHECK_EQ_INT(dv_item_size(&item), 23);
  CHECK_EQ_INT(dv_value_size(&item), 3 + (11 + 1 + 1) + (10 + 1 + 1)); /* as a nested map */

  dv_value b = dv_make_b(a, "\x00\x01\x02", 3);
  CHECK_EQ_INT(dv_value_size(&b), 3);
  dv_value t = dv_make_bool(1), nul = dv_make_null();
  CHECK_EQ_INT(dv_value_size(&t), 1);
  CHECK_EQ_INT(dv_value_size(&nul), 1);
  dv_value ss_e[] = {mk_s(a, "ab"), mk_s(a, "cde"), mk_s(a, "")};
  dv_value ss = mk_list(a, DV_SS, 3, ss_e);
  CHECK_EQ_INT(dv_value_size(&ss), 5);
  dv_value ns_e[] = {mk_n(a, "123456"), mk_n(a, "-1")};
  dv_value ns = mk_list(a, DV_NS, 2, ns_e);
  CHECK_EQ_INT(dv_value_size(&ns), 4 + 3);
  dv_value l_e[] = {mk_s(a, "abc"), mk_n(a, "1"), dv_make_null()};
  dv_value l = mk_list(a, DV_L, 3, l_e);
  CHECK_EQ_INT(dv_value_size(&l), 3 + (1 + 3) + (1 + 2) + (1 + 1));
  dv_value empty_l = mk_list(a, DV_L, 0, NULL), empty_m = mk_map(a, 0, NULL, NULL);
  CHECK_EQ_INT(dv_value_size(&empty_l), 3);
  CHECK_EQ_INT(dv_value_size(&empty_m), 3);
  const char *n2[] = {"x", "list"};
  dv_value v2[] = {l, ss};
  dv_value m2 = mk_map(a, 2, n2, v2);
  dv_map_sort(&m2);
  CHECK_EQ_INT(dv_value_size(&m2), 3 + (1 + 1 + 12) + (4 + 1 + 5));
  const char *n3[] = {"m", "pk"};
  dv_value v3[] = {m2, mk_s(a, "k")};
  dv_value it = mk_map(a, 2, n3, v3);
  dv_map_sort(&it);
  CHECK_EQ_INT(dv_item_size(&it), 1 + dv_value_size(&m2) + 2 + 1);
  dv_value empty_item = mk_map(a, 0, NULL, NULL);
  CHECK_EQ_INT(dv_item_size(&empty_item), 0);
  dv_arena_free(a);
}

static void test_depth(void) {
  dv_arena *a = dv_arena_new();
  dv_value v = mk_s(a, "x");
  CHECK_EQ_INT(dv_depth(&v), 1);
  const char *nm[] = {"a"};
  for (int d = 2; d <= 40; d++) {
    dv_value in[] = {v};
    v = (d % 2) ? mk_map(a, 1, nm, in) : mk_list(a, DV_L, 1, in);
    CHECK_EQ_INT(dv_depth(&v), d);
  }
  dv_value e = mk_map(a, 0, NULL, NULL);
  CHECK_EQ_INT(dv_depth(&e), 1);
  dv_value ss_e[] = {mk_s(a, "a")};
  dv_value ss = mk_list(a, DV_SS, 1, ss_e);
  CHECK_EQ_INT(dv_depth(&ss), 1);
  /* {"M":{"a":{"S":"x"}}} has depth 2; the deepest branch counts */
  dv_value x = mk_s(a, "x");
  dv_value m1 = mk_map(a, 1, nm, &x);
  CHECK_EQ_INT(dv_depth(&m1), 2);
  dv_value lst_e[] = {x, m1, mk_s(a, "y")};
  dv_value lst = mk_list(a, DV_L, 3, lst_e);
  CHECK_EQ_INT(dv_depth(&lst), 3);
  dv_arena_free(a);
}

static void test_set_sort(void) {
  dv_arena *a = dv_arena_new();
  uint32_t dup = 999;
  /* SS bytewise, "" first, high bytes after ASCII, shorter prefix first */
  dv_value ss_e[] = {mk_s(a, "b"), mk_s(a, "\xc3\xa9"), mk_s(a, ""), mk_s(a, "ab"), mk_s(a, "a"),
                     mk_s(a, "B")};
  dv_value ss = mk_list(a, DV_SS, 6, ss_e);
  CHECK_EQ_INT(dv_set_sort(&ss, &dup), 0);
  const char *want_ss[] = {"", "B", "a", "ab", "b", "\xc3\xa9"};
  for (int i = 0; i < 6; i++) CHECK_EQ_STR(ss.u.elems[i].u.bytes, want_ss[i]);
  /* SS duplicates */
  dv_value sd_e[] = {mk_s(a, "b"), mk_s(a, "a"), mk_s(a, "b")};
  dv_value sd = mk_list(a, DV_SS, 3, sd_e);
  CHECK_EQ_INT(dv_set_sort(&sd, &dup), -1);
  CHECK_EQ_INT(dup, 2);
  CHECK_EQ_STR(sd.u.elems[0].u.bytes, "a");
  dv_value se_e[] = {mk_s(a, ""), mk_s(a, "")};
  dv_value se = mk_list(a, DV_SS, 2, se_e);
  CHECK_EQ_INT(dv_set_sort(&se, NULL), -1);
  /* BS: unsigned bytes, embedded NULs */
  dv_value bs_e[] = {dv_make_b(a, "\xff", 1), dv_make_b(a, "\x00\x01", 2), dv_make_b(a, "\x00", 1),
                     dv_make_b(a, "", 0), dv_make_b(a, "\x7f", 1)};
  dv_value bs = mk_list(a, DV_BS, 5, bs_e);
  CHECK_EQ_INT(dv_set_sort(&bs, &dup), 0);
  CHECK_EQ_INT(bs.u.elems[0].n, 0);
  CHECK(bs.u.elems[1].n == 1 && bs.u.elems[1].u.bytes[0] == 0);
  CHECK(bs.u.elems[2].n == 2);
  CHECK((uint8_t)bs.u.elems[3].u.bytes[0] == 0x7f);
  CHECK((uint8_t)bs.u.elems[4].u.bytes[0] == 0xff);
  dv_value bd_e[] = {dv_make_b(a, "\xff", 1), dv_make_b(a, "\x00", 1), dv_make_b(a, "\x00", 1)};
  dv_value bd = mk_list(a, DV_BS, 3, bd_e);
  CHECK_EQ_INT(dv_set_sort(&bd, &dup), -1);
  CHECK_EQ_INT(dup, 1);
  /* NS by value, not by text */
  dv_value ns_e[] = {mk_n(a, "10"), mk_n(a, "9"), mk_n(a, "-1"), mk_n(a, "1.5"), mk_n(a, "-10"),
                     mk_n(a, "0"), mk_n(a, "0.01"), mk_n(a, "100")};
  dv_value ns = mk_list(a, DV_NS, 8, ns_e);
  CHECK_EQ_INT(dv_set_sort(&ns, &dup), 0);
  const char *want_ns[] = {"-10", "-1", "0", "0.01", "1.5", "9", "10", "100"};
  for (int i = 0; i < 8; i++) CHECK_EQ_STR(ns.u.elems[i].u.bytes, want_ns[i]);
  /* NS duplicates by value */
  dv_value nd_e[] = {mk_n(a, "2"), mk_n(a, "1"), mk_n(a, "2")};
  dv_value nd = mk_list(a, DV_NS, 3, nd_e);
  CHECK_EQ_INT(dv_set_sort(&nd, &dup), -1);
  CHECK_EQ_INT(dup, 2);
  dv_value nv_e[] = {mk_n(a, "1"), mk_n(a, "5"), mk_n(a, "1.0")};
  dv_value nv = mk_list(a, DV_NS, 3, nv_e);
  CHECK_EQ_INT(dv_set_sort(&nv, &dup), -1);
  CHECK_EQ_INT(dup, 1);
  /* one element, no duplicates possible */
  dv_value one = mk_list(a, DV_NS, 1, nv_e);
  CHECK_EQ_INT(dv_set_sort(&one, &dup), 0);
  /* random: sorted, and duplicates found exactly when present */
  for (int t = 0; t < 300; t++) {
    int n = 1 + (int)rndn(60);
    dv_value *e = dv_arena_alloc(a, sizeof(dv_value) * (size_t)n);
    for (int i = 0; i < n; i++) {
      dv_num x;
      rand_num(&x);
      if (rndn(3) == 0) { x.exp = 1; x.ndig = 1; x.dig[0] = (uint8_t)(1 + rndn(3)); }
      char buf[DV_NUM_MAXTEXT];
      size_t len = dv_num_format(&x, buf);
      e[i] = dv_make_n_text(a, buf, len);
    }
    int has_dup = 0;
    for (int i = 0; i < n; i++)
      for (int j = i + 1; j < n; j++)
        if (strcmp(e[i].u.bytes, e[j].u.bytes) == 0) has_dup = 1;
    dv_value s = {.type = DV_NS, .n = (uint32_t)n, .u.elems = e};
    int rc = dv_set_sort(&s, &dup);
    CHECK_EQ_INT(rc, has_dup ? -1 : 0);
    int ordered = 1;
    for (int i = 1; i < n; i++)
      if (dv_compare(&e[i - 1], &e[i]) > 0) ordered = 0;
    CHECK(ordered);
    if (rc) CHECK(dup >= 1 && dup < (uint32_t)n && dv_compare(&e[dup - 1], &e[dup]) == 0);
  }
  dv_arena_free(a);
}

static void test_map_sort_get(void) {
  dv_arena *a = dv_arena_new();
  const char *names[] = {"zeta", "alpha", "", "Alpha", "al", "\xc3\xa9t\xc3\xa9", "beta"};
  dv_value vals[7];
  for (int i = 0; i < 7; i++) vals[i] = mk_s(a, names[i]);
  dv_value m = mk_map(a, 7, names, vals);
  CHECK_EQ_INT(dv_map_sort(&m), 0);
  for (uint32_t i = 1; i < m.n; i++) CHECK(strcmp(m.u.attrs[i - 1].name, m.u.attrs[i].name) < 0);
  for (int i = 0; i < 7; i++) {
    const dv_value *v = dv_map_get(&m, names[i], strlen(names[i]));
    CHECK(v != NULL);
    if (v) CHECK_EQ_STR(v->u.bytes, names[i]);
  }
  CHECK(dv_map_get(&m, "alph", 4) == NULL);
  CHECK(dv_map_get(&m, "alphaa", 6) == NULL);
  CHECK(dv_map_get(&m, "zz", 2) == NULL);
  dv_value empty = mk_map(a, 0, NULL, NULL);
  CHECK(dv_map_get(&empty, "a", 1) == NULL);
  const char *dn[] = {"b", "a", "b"};
  dv_value dm = mk_map(a, 3, dn, vals);
  CHECK_EQ_INT(dv_map_sort(&dm), -1);
  CHECK_EQ_STR(dm.u.attrs[0].name, "a");
  /* big random map: every name found */
  enum { N = 2000 };
  const char **rn = malloc(sizeof(char *) * N);
  dv_value *rv = malloc(sizeof(dv_value) * N);
  for (int i = 0; i < N; i++) {
    char buf[32];
    snprintf(buf, sizeof buf, "k%llx_%d", (unsigned long long)(rnd() & 0xffffff), i);
    rn[i] = dv_arena_strndup(a, buf, strlen(buf));
    rv[i] = dv_make_bool(i & 1);
  }
  dv_value big = mk_map(a, N, rn, rv);
  CHECK_EQ_INT(dv_map_sort(&big), 0);
  int missing = 0;
  for (int i = 0; i < N; i++) {
    const dv_value *v = dv_map_get(&big, rn[i], strlen(rn[i]));
    if (!v || v->u.boolean != (i & 1)) missing++;
  }
  CHECK_EQ_INT(missing, 0);
  free(rn);
  free(rv);
  dv_arena_free(a);
}

static void test_compare_equal_clone(void) {
  dv_arena *a = dv_arena_new();
  dv_value s1 = mk_s(a, "ab"), s2 = mk_s(a, "abc"), s3 = mk_s(a, "b");
  CHECK(dv_compare(&s1, &s2) < 0 && dv_compare(&s2, &s3) < 0 && dv_compare(&s3, &s1) > 0);
  CHECK(dv_compare(&s1, &s1) == 0);
  dv_value b1 = dv_make_b(a, "\x01", 1), b2 = dv_make_b(a, "\xff", 1), b0 = dv_make_b(a, "", 0);
  CHECK(dv_compare(&b1, &b2) < 0 && dv_compare(&b0, &b1) < 0);
  dv_value n1 = mk_n(a, "10"), n2 = mk_n(a, "9"), n3 = mk_n(a, "1e1");
  CHECK(dv_compare(&n1, &n2) > 0);
  CHECK(dv_compare(&n1, &n3) == 0);
  CHECK(dv_equal(&n1, &n3));
  CHECK(!dv_equal(&n1, &n2));
  CHECK(!dv_equal(&s1, &b1));
  dv_value t = dv_make_bool(1), f = dv_make_bool(0), t2 = dv_make_bool(7);
  CHECK(dv_equal(&t, &t2) && !dv_equal(&t, &f));
  dv_value nu = dv_make_null(), nu2 = dv_make_null();
  CHECK(dv_equal(&nu, &nu2) && !dv_equal(&nu, &f));
  /* sets as sets, numbers by value */
  dv_value nsa_e[] = {mk_n(a, "1"), mk_n(a, "2")}, nsb_e[] = {mk_n(a, "2"), mk_n(a, "1.0")};
  dv_value nsa = mk_list(a, DV_NS, 2, nsa_e), nsb = mk_list(a, DV_NS, 2, nsb_e);
  CHECK(dv_equal(&nsa, &nsb));
  dv_value nsc_e[] = {mk_n(a, "1"), mk_n(a, "3")};
  dv_value nsc = mk_list(a, DV_NS, 2, nsc_e);
  CHECK(!dv_equal(&nsa, &nsc));
  dv_value nsd = mk_list(a, DV_NS, 1, nsa_e);
  CHECK(!dv_equal(&nsa, &nsd));
  dv_value ssa = mk_list(a, DV_SS, 2, (dv_value[]){mk_s(a, "x"), mk_s(a, "y")});
  dv_value ssb = mk_list(a, DV_SS, 2, (dv_value[]){mk_s(a, "y"), mk_s(a, "x")});
  CHECK(dv_equal(&ssa, &ssb));
  /* lists in order */
  dv_value la = mk_list(a, DV_L, 2, (dv_value[]){mk_s(a, "x"), mk_n(a, "1")});
  dv_value lb = mk_list(a, DV_L, 2, (dv_value[]){mk_n(a, "1"), mk_s(a, "x")});
  dv_value lc = mk_list(a, DV_L, 2, (dv_value[]){mk_s(a, "x"), mk_n(a, "1.00")});
  CHECK(!dv_equal(&la, &lb));
  CHECK(dv_equal(&la, &lc));
  /* maps as maps (deep), order of attributes irrelevant */
  const char *mn1[] = {"a", "b"}, *mn2[] = {"b", "a"};
  dv_value ma = mk_map(a, 2, mn1, (dv_value[]){la, nsa});
  dv_value mb = mk_map(a, 2, mn2, (dv_value[]){nsb, lc});
  CHECK(dv_equal(&ma, &mb));
  dv_value mc = mk_map(a, 2, mn2, (dv_value[]){nsb, lb});
  CHECK(!dv_equal(&ma, &mc));
  const char *mn3[] = {"a", "c"};
  dv_value md = mk_map(a, 2, mn3, (dv_value[]){la, nsa});
  CHECK(!dv_equal(&ma, &md));
  dv_value e1 = mk_map(a, 0, NULL, NULL), e2 = mk_list(a, DV_L, 0, NULL);
  CHECK(!dv_equal(&e1, &e2));
  /* clone: equal, deep, into another arena */
  dv_arena *b = dv_arena_new();
  dv_value outer = mk_map(a, 2, mn1, (dv_value[]){ma, mk_list(a, DV_L, 2, (dv_value[]){ma, e1})});
  dv_value c = dv_clone(b, &outer);
  CHECK(dv_equal(&c, &outer));
  CHECK(c.u.attrs != outer.u.attrs);
  CHECK(c.u.attrs[0].name != outer.u.attrs[0].name);
  CHECK(c.u.attrs[0].value.u.attrs[0].value.u.elems[0].u.bytes !=
        outer.u.attrs[0].value.u.attrs[0].value.u.elems[0].u.bytes);
  CHECK_EQ_INT(dv_value_size(&c), dv_value_size(&outer));
  dv_arena_free(a); /* the clone must survive its source */
  CHECK_EQ_STR(c.u.attrs[0].value.u.attrs[0].value.u.elems[0].u.bytes, "x");
  CHECK_EQ_INT(dv_depth(&c), 5);
  dv_arena_free(b);
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {
      {"arena", test_arena},
      {"types", test_types},
      {"num_format_table", test_num_format_table},
      {"num_errors", test_num_errors},
      {"num_roundtrip_random", test_num_roundtrip_random},
      {"num_cmp_and_keys", test_num_cmp_and_keys},
      {"num_arith_table", test_num_arith_table},
      {"num_arith_random", test_num_arith_random},
      {"num_size", test_num_size},
      {"item_size", test_item_size},
      {"depth", test_depth},
      {"set_sort", test_set_sort},
      {"map_sort_get", test_map_sort_get},
      {"compare_equal_clone", test_compare_equal_clone},
      {NULL, NULL},
  };
  return tl_run(tests, argc, argv);
}
