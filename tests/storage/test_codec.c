/*
 * test_codec.c -- item and key encodings: varints, round trips of random
 * nested items of all ten types, rejection of truncated and corrupted bytes
 * (ST_ECORRUPT, never a crash: run under ASan+UBSan too), and key order.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "storage/codec.h"
#include "storage/storage.h"
#include "tests/testlib.h"

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}

static unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }

static int sgn(int x) { return x < 0 ? -1 : x > 0; }

static int key_memcmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return sgn(c);
  return al < bl ? -1 : al > bl;
}

static void rand_bytes(char *p, size_t n, int ascii) {
  for (size_t i = 0; i < n; i++) p[i] = (char)(ascii ? 'a' + rndn(4) : rnd());
}

static dv_value rand_n(dv_arena *a) {
  dv_num n;
  memset(&n, 0, sizeof n);
  if (rndn(10)) {
    n.sign = rndn(2) ? 1 : -1;
    n.ndig = (uint8_t)(1 + rndn(rndn(3) ? 4 : DV_NUM_MAXDIG));
    for (int k = 0; k < n.ndig; k++) n.dig[k] = (uint8_t)rndn(10);
    if (!n.dig[0]) n.dig[0] = 1;
    while (!n.dig[n.ndig - 1]) n.ndig--;
    n.exp = rndn(2) ? (int)rndn(8) - 3 : -129 + (int)rndn(256);
  }
  char buf[DV_NUM_MAXTEXT];
  size_t len = dv_num_format(&n, buf);
  return dv_make_n_text(a, buf, len);
}

static dv_value rand_scalar(dv_arena *a, dv_type t) {
  char buf[64];
  size_t len = rndn(4) ? rndn(12) : rndn(sizeof buf);
  if (t == DV_S) {
    rand_bytes(buf, len, rndn(2));
    return dv_make_s(a, buf, len);
  }
  if (t == DV_B) {
    rand_bytes(buf, len, 0);
    return dv_make_b(a, buf, len);
  }
  return rand_n(a);
}

static dv_value rand_set(dv_arena *a, dv_type st) {
  dv_type et = dv_set_elem_type(st);
  uint32_t n = 1 + rndn(rndn(4) ? 4 : 40);
  dv_value s = {.type = st, .n = n};
  s.u.elems = dv_arena_alloc(a, sizeof(dv_value) * n);
  for (uint32_t i = 0; i < n; i++) s.u.elems[i] = rand_scalar(a, et);
  /* sort, then drop duplicates */
  uint32_t dup;
  while (dv_set_sort(&s, &dup) != 0) {
    memmove(&s.u.elems[dup], &s.u.elems[dup + 1], sizeof(dv_value) * (s.n - dup - 1));
    s.n--;
  }
  return s;
}

static dv_value rand_value(dv_arena *a, int depth_left);

static dv_value rand_map(dv_arena *a, uint32_t n, int depth_left) {
  dv_value m = {.type = DV_M, .n = n};
  m.u.attrs = n ? dv_arena_alloc(a, sizeof(dv_attr) * n) : NULL;
  for (uint32_t i = 0; i < n; i++) {
    char name[40];
    size_t len = (size_t)snprintf(name, sizeof name, "%.*s%u", (int)rndn(8), "attrname", i);
    if (rndn(5) == 0) name[len++] = (char)(0x80 + rndn(0x40)); /* non-ASCII bytes */
    m.u.attrs[i].name = dv_arena_strndup(a, name, len);
    m.u.attrs[i].name_len = (uint32_t)len;
    m.u.attrs[i].value = rand_value(a, depth_left);
  }
  CHECK_EQ_INT(dv_map_sort(&m), 0);
  return m;
}

/* A random value of any of the ten types, nesting at most depth_left levels. */
static dv_value rand_value(dv_arena *a, int depth_left) {
  unsigned pick = rndn(depth_left > 1 ? 12 : 8);
  switch (pick) {
  case 0: return rand_scalar(a, DV_S);
  case 1: return rand_scalar(a, DV_N);
  case 2: return rand_scalar(a, DV_B);
  case 3: return dv_make_bool(rndn(2));
  case 4: return dv_make_null();
  case 5: return rand_set(a, DV_SS);
  case 6: return rand_set(a, DV_NS);
  case 7: return rand_set(a, DV_BS);
  case 8:
  case 9:
    return rand_map(a, rndn(5), depth_left - 1);
  default: {
    uint32_t n = rndn(5);
    dv_value l = {.type = DV_L, .n = n};
    l.u.elems = n ? dv_arena_alloc(a, sizeof(dv_value) * n) : NULL;
    for (uint32_t i = 0; i < n; i++) l.u.elems[i] = rand_value(a, depth_left - 1);
    return l;
  }
  }
}

/* A value nested exactly `depth` levels: alternating M and L around a scalar. */
static dv_value deep_value(dv_arena *a, int depth) {
  dv_value v = rand_scalar(a, DV_S);
  for (int d = 2; d <= depth; d++) {
    if (d % 2) {
      dv_value m = {.type = DV_M, .n = 1};
      m.u.attrs = dv_arena_alloc(a, sizeof(dv_attr));
      m.u.attrs[0].name = "d";
      m.u.attrs[0].name_len = 1;
      m.u.attrs[0].value = v;
      v = m;
    } else {
      dv_value l = {.type = DV_L, .n = 2};
      l.u.elems = dv_arena_alloc(a, sizeof(dv_value) * 2);
      l.u.elems[0] = dv_make_null();
      l.u.elems[1] = v;
      v = l;
    }
  }
  return v;
}

static dv_value rand_item(dv_arena *a) {
  dv_value item = rand_map(a, rndn(8), 32);
  if (rndn(4) == 0 && item.n) item.u.attrs[0].value = deep_value(a, 1 + (int)rndn(32));
  return item;
}

/* ---- varints ------------------------------------------------------------------ */

static void test_varint(void) {
  const uint64_t vals[] = {0, 1, 127, 128, 255, 300, 16383, 16384, 1u << 31, UINT32_MAX,
                           (uint64_t)1 << 56, UINT64_MAX - 1, UINT64_MAX};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    st_buf b;
    st_buf_init(&b);
    codec_put_varint(&b, vals[i]);
    uint64_t v = 12345;
    CHECK_EQ_INT(codec_get_varint(b.p, b.len, &v), b.len);
    CHECK(v == vals[i]);
    for (size_t l = 0; l < b.len; l++) CHECK_EQ_INT(codec_get_varint(b.p, l, &v), 0);
    st_buf_free(&b);
  }
  st_buf b;
  st_buf_init(&b);
  codec_put_varint(&b, UINT64_MAX);
  CHECK_EQ_INT(b.len, 10);
  st_buf_free(&b);
  uint64_t v;
  /* 11 bytes, or a 10th byte that overflows 64 bits */
  const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  CHECK_EQ_INT(codec_get_varint(eleven, sizeof eleven, &v), 0);
  const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  CHECK_EQ_INT(codec_get_varint(over, sizeof over, &v), 0);
  CHECK_EQ_INT(codec_get_varint(NULL, 0, &v), 0);
  for (int t = 0; t < 10000; t++) {
    uint64_t x = rnd() >> rndn(64);
    st_buf_init(&b);
    codec_put_varint(&b, x);
    codec_put_varint(&b, 7);
    size_t n = codec_get_varint(b.p, b.len, &v);
    CHECK(n > 0 && v == x);
    CHECK(codec_get_varint(b.p + n, b.len - n, &v) == 1 && v == 7);
    st_buf_free(&b);
  }
}

/* ---- items -------------------------------------------------------------------- */

static void test_item_roundtrip(void) {
  long bad = 0;
  int types_seen[DV_BS + 1] = {0};
  for (int t = 0; t < 2000; t++) {
    dv_arena *a = dv_arena_new(), *b = dv_arena_new();
    dv_value item = rand_item(a);
    for (uint32_t i = 0; i < item.n; i++) types_seen[item.u.attrs[i].value.type]++;
    st_buf enc, enc2;
    st_buf_init(&enc);
    st_buf_init(&enc2);
    codec_item_encode(&item, &enc);
    uint64_t size = 0;
    CHECK_EQ_INT(codec_item_size(enc.p, enc.len, &size), ST_OK);
    CHECK_EQ_INT(size, dv_item_size(&item));
    dv_value out;
    int rc = codec_item_decode(enc.p, enc.len, b, &out);
    if (rc != ST_OK) bad++;
    if (rc == ST_OK) {
      if (!dv_equal(&item, &out)) bad++;
      if (dv_depth(&out) != dv_depth(&item)) bad++;
      codec_item_encode(&out, &enc2);
      if (enc2.len != enc.len || memcmp(enc.p, enc2.p, enc.len) != 0) bad++;
    }
    /* the decoded item does not point into the encoding */
    memset(enc.p, 0xEE, enc.len);
    if (rc == ST_OK && !dv_equal(&item, &out)) bad++;
    st_buf_free(&enc);
    st_buf_free(&enc2);
    dv_arena_free(a);
    dv_arena_free(b);
  }
  CHECK_EQ_INT(bad, 0);
  for (int ty = DV_S; ty <= DV_BS; ty++) CHECK(types_seen[ty] > 0);

  /* the deepest item DynamoDB allows (32 levels) and a bit beyond */
  for (int d = 1; d <= 40; d++) {
    dv_arena *a = dv_arena_new();
    dv_value v = deep_value(a, d);
    dv_value item = {.type = DV_M, .n = 1};
    item.u.attrs = dv_arena_alloc(a, sizeof(dv_attr));
    item.u.attrs[0] = (dv_attr){.name = "top", .name_len = 3, .value = v};
    st_buf enc;
    st_buf_init(&enc);
    codec_item_encode(&item, &enc);
    dv_value out;
    CHECK_EQ_INT(codec_item_decode(enc.p, enc.len, a, &out), ST_OK);
    CHECK(dv_equal(&out, &item));
    CHECK_EQ_INT(dv_depth(&out.u.attrs[0].value), d);
    st_buf_free(&enc);
    dv_arena_free(a);
  }

  /* empty item, empty strings/binaries, empty L and M */
  dv_arena *a = dv_arena_new();
  dv_value empty = {.type = DV_M, .n = 0};
  st_buf enc;
  st_buf_init(&enc);
  codec_item_encode(&empty, &enc);
  dv_value out;
  CHECK_EQ_INT(codec_item_decode(enc.p, enc.len, a, &out), ST_OK);
  CHECK(out.type == DV_M && out.n == 0);
  st_buf_free(&enc);
  dv_attr at[4] = {
      {.name = "a", .name_len = 1, .value = dv_make_s(a, "", 0)},
      {.name = "b", .name_len = 1, .value = dv_make_b(a, "", 0)},
      {.name = "c", .name_len = 1, .value = {.type = DV_L, .n = 0}},
      {.name = "d", .name_len = 1, .value = {.type = DV_M, .n = 0}},
  };
  dv_value it = {.type = DV_M, .n = 4, .u.attrs = at};
  st_buf_init(&enc);
  codec_item_encode(&it, &enc);
  CHECK_EQ_INT(codec_item_decode(enc.p, enc.len, a, &out), ST_OK);
  CHECK(dv_equal(&out, &it));
  CHECK_EQ_INT(dv_item_size(&out), 1 + 0 + 1 + 0 + 1 + 3 + 1 + 3);
  /* big string */
  st_buf_free(&enc);
  static char big[300000];
  memset(big, 'x', sizeof big);
  at[0].value = dv_make_s(a, big, sizeof big);
  st_buf_init(&enc);
  codec_item_encode(&it, &enc);
  CHECK_EQ_INT(codec_item_decode(enc.p, enc.len, a, &out), ST_OK);
  CHECK(dv_equal(&out, &it));
  uint64_t size;
  CHECK_EQ_INT(codec_item_size(enc.p, enc.len, &size), ST_OK);
  CHECK_EQ_INT(size, sizeof big + 10);
  st_buf_free(&enc);
  dv_arena_free(a);
}

/* Decode must fail cleanly (or succeed with a valid item) on any bytes. */
static int decode_checked(const uint8_t *p, size_t len) {
  dv_arena *a = dv_arena_new();
  dv_value out;
  int rc = codec_item_decode(p, len, a, &out);
  int ok = rc == ST_OK || rc == ST_ECORRUPT;
  if (rc == ST_OK) {
    /* a successful decode is a well-formed item that round-trips */
    st_buf enc;
    st_buf_init(&enc);
    codec_item_encode(&out, &enc);
    dv_value again;
    if (codec_item_decode(enc.p, enc.len, a, &again) != ST_OK || !dv_equal(&again, &out)) ok = 0;
    st_buf_free(&enc);
  } else {
    if (out.type != DV_NONE) ok = 0;
  }
  dv_arena_free(a);
  CHECK(ok);
  return rc;
}

static void test_item_corrupt(void) {
  long truncated_ok = 0, flips = 0, flip_ok = 0;
  for (int t = 0; t < 300; t++) {
    dv_arena *a = dv_arena_new();
    dv_value item = rand_item(a);
    st_buf enc;
    st_buf_init(&enc);
    codec_item_encode(&item, &enc);
    /* every strict prefix is corrupt; a copy of exactly len bytes on the
     * heap lets ASan catch any read past the end */
    for (size_t l = 0; l < enc.len; l++) {
      uint8_t *cp = malloc(l ? l : 1);
      memcpy(cp, enc.p, l);
      if (decode_checked(cp, l) != ST_ECORRUPT) truncated_ok++;
      free(cp);
    }
    /* trailing garbage */
    uint8_t *ext = malloc(enc.len + 1);
    memcpy(ext, enc.p, enc.len);
    ext[enc.len] = 0;
    CHECK_EQ_INT(decode_checked(ext, enc.len + 1), ST_ECORRUPT);
    free(ext);
    /* random byte flips, single and multiple */
    for (int f = 0; f < 60; f++) {
      uint8_t *cp = malloc(enc.len);
      memcpy(cp, enc.p, enc.len);
      int nflip = 1 + (int)rndn(3);
      for (int k = 0; k < nflip; k++) {
        size_t pos = rndn((unsigned)enc.len);
        cp[pos] = rndn(2) ? (uint8_t)rnd() : (uint8_t)(cp[pos] ^ (1u << rndn(8)));
      }
      flips++;
      if (decode_checked(cp, enc.len) == ST_OK) flip_ok++;
      free(cp);
    }
    st_buf_free(&enc);
    dv_arena_free(a);
  }
  CHECK_EQ_INT(truncated_ok, 0);
  /* most flips must be caught (sizes, order and canonical checks) */
  CHECK(flip_ok * 4 < flips);
  /* pure random bytes */
  for (int t = 0; t < 20000; t++) {
    size_t len = rndn(64);
    uint8_t *p = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++) p[i] = (uint8_t)(rndn(2) ? rndn(16) : rnd());
    if (len > 1) p[1] = 1; /* valid version more often */
    decode_checked(p, len);
    free(p);
  }
  CHECK_EQ_INT(decode_checked(NULL, 0), ST_ECORRUPT);
  uint64_t size;
  CHECK_EQ_INT(codec_item_size(NULL, 0, &size), ST_ECORRUPT);
}

/* Hand-built encodings, each breaking one validity rule. */
static void test_item_corrupt_cases(void) {
  static const struct {
    const char *what;
    const char *bytes;
    size_t len;
    int rc;
  } t[] = {
#define C(what, s, rc) {what, s, sizeof(s) - 1, rc}
      C("empty item", "\x00\x01\x00", ST_OK),
      C("bad version", "\x00\x02\x00", ST_ECORRUPT),
      C("no version", "\x00", ST_ECORRUPT),
      C("one S attr", "\x02\x01\x01\x01" "a\x01\x01" "b", ST_OK),
      C("size mismatch", "\x03\x01\x01\x01" "a\x01\x01" "b", ST_ECORRUPT),
      C("unknown tag", "\x02\x01\x01\x01" "a\x0C\x01" "b", ST_ECORRUPT),
      C("tag zero", "\x02\x01\x01\x01" "a\x00", ST_ECORRUPT),
      C("string past end", "\x02\x01\x01\x01" "a\x01\x05" "b", ST_ECORRUPT),
      C("huge count", "\x00\x01\xff\xff\xff\xff\x0f", ST_ECORRUPT),
      C("count over 32 bits", "\x00\x01\x80\x80\x80\x80\x80\x01", ST_ECORRUPT),
      C("bool", "\x02\x01\x01\x01" "a\x05", ST_OK),
      C("null", "\x02\x01\x01\x01" "a\x06", ST_OK),
      C("N ok", "\x03\x01\x01\x01" "a\x02\x01" "5", ST_OK),
      C("N non-canonical", "\x03\x01\x01\x01" "a\x02\x02" "05", ST_ECORRUPT),
      C("N 1.0", "\x03\x01\x01\x01" "a\x02\x03" "1.0", ST_ECORRUPT),
      C("N not numeric", "\x03\x01\x01\x01" "a\x02\x01" "x", ST_ECORRUPT),
      C("N empty", "\x01\x01\x01\x01" "a\x02\x00", ST_ECORRUPT),
      C("N -0", "\x02\x01\x01\x01" "a\x02\x02" "-0", ST_ECORRUPT),
      C("names sorted", "\x04\x01\x02\x01" "a\x06\x01" "b\x06", ST_OK),
      C("names unsorted", "\x04\x01\x02\x01" "b\x06\x01" "a\x06", ST_ECORRUPT),
      C("names duplicate", "\x04\x01\x02\x01" "a\x06\x01" "a\x06", ST_ECORRUPT),
      C("nested map", "\x07\x01\x01\x01" "m\x07\x01\x01" "x\x06", ST_OK),
      C("nested unsorted", "\x09\x01\x01\x01" "m\x07\x02\x01" "y\x06\x01" "x\x06", ST_ECORRUPT),
      C("list", "\x08\x01\x01\x01" "l\x08\x02\x06\x05", ST_OK),
      C("list short", "\x08\x01\x01\x01" "l\x08\x03\x06\x05", ST_ECORRUPT),
      C("SS", "\x02\x01\x01\x01" "s\x09\x02\x00\x01" "a", ST_OK),
      C("SS unsorted", "\x03\x01\x01\x01" "s\x09\x02\x01" "a\x00", ST_ECORRUPT),
      C("SS dup", "\x03\x01\x01\x01" "s\x09\x02\x01" "a\x01" "a", ST_ECORRUPT),
      C("SS empty", "\x01\x01\x01\x01" "s\x09\x00", ST_ECORRUPT),
      C("NS", "\x06\x01\x01\x01" "s\x0A\x02\x02" "-1\x01" "3", ST_OK),
      C("NS unsorted", "\x05\x01\x01\x01" "s\x0A\x02\x01" "3\x02" "-1", ST_ECORRUPT),
      C("NS by value", "\x05\x01\x01\x01" "s\x0A\x02\x01" "9\x02" "10", ST_OK),
      C("NS dup", "\x05\x01\x01\x01" "s\x0A\x02\x01" "3\x01" "3", ST_ECORRUPT),
      C("BS", "\x03\x01\x01\x01" "s\x0B\x02\x01\x00\x01\xff", ST_OK),
      C("BS unsorted", "\x03\x01\x01\x01" "s\x0B\x02\x01\xff\x01\x00", ST_ECORRUPT),
      C("varint 11 bytes", "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00\x01\x00", ST_ECORRUPT),
      C("trailing byte", "\x00\x01\x00\x00", ST_ECORRUPT),
#undef C
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    dv_arena *a = dv_arena_new();
    uint8_t *p = malloc(t[i].len ? t[i].len : 1);
    memcpy(p, t[i].bytes, t[i].len);
    dv_value out;
    int rc = codec_item_decode(p, t[i].len, a, &out);
    if (rc != t[i].rc) fprintf(stderr, "  case \"%s\": got %d want %d\n", t[i].what, rc, t[i].rc);
    CHECK_EQ_INT(rc, t[i].rc);
    free(p);
    dv_arena_free(a);
  }
  /* nesting: the decoder takes 64 containers in one attribute, no more
   * (bounded recursion on corrupt input; DynamoDB itself stops at 31) */
  const int depths[] = {65, 66, 200};
  const int want[] = {ST_OK, ST_ECORRUPT, ST_ECORRUPT};
  for (int i = 0; i < 3; i++) {
    dv_arena *a = dv_arena_new();
    dv_value item = {.type = DV_M, .n = 1};
    item.u.attrs = dv_arena_alloc(a, sizeof(dv_attr));
    item.u.attrs[0] = (dv_attr){.name = "x", .name_len = 1, .value = deep_value(a, depths[i])};
    st_buf b;
    st_buf_init(&b);
    codec_item_encode(&item, &b);
    dv_value out;
    CHECK_EQ_INT(codec_item_decode(b.p, b.len, a, &out), want[i]);
    st_buf_free(&b);
    dv_arena_free(a);
  }
}

/* ---- keys ------------------------------------------------------------------------ */

static dv_value rand_key(dv_arena *a, dv_type t) {
  if (t == DV_N) return rand_n(a);
  char buf[40];
  size_t len = 1 + rndn(rndn(2) ? 3 : sizeof buf - 1);
  rand_bytes(buf, len, rndn(2));
  return t == DV_S ? dv_make_s(a, buf, len) : dv_make_b(a, buf, len);
}

static void test_keys(void) {
  static const dv_type kt[] = {DV_S, DV_N, DV_B};
  long order_bad = 0, decode_bad = 0, prefix_bad = 0;
  for (int t = 0; t < 300; t++) {
    dv_arena *a = dv_arena_new();
    dv_type ht = kt[rndn(3)], rt = kt[rndn(3)];
    dv_value hk = rand_key(a, ht);
    st_buf prefix;
    st_buf_init(&prefix);
    codec_key_prefix(&hk, &prefix);
    enum { R = 40 };
    dv_value rks[R];
    st_buf keys[R];
    for (int i = 0; i < R; i++) {
      rks[i] = rand_key(a, rt);
      st_buf_init(&keys[i]);
      codec_key_encode(&hk, &rks[i], &keys[i]);
      if (keys[i].len < prefix.len || memcmp(keys[i].p, prefix.p, prefix.len) != 0) prefix_bad++;
      dv_value h2, r2;
      if (codec_key_decode(keys[i].p, keys[i].len, ht, rt, a, &h2, &r2) != ST_OK ||
          !dv_equal(&h2, &hk) || !dv_equal(&r2, &rks[i]) || h2.type != ht || r2.type != rt)
        decode_bad++;
      /* N keys decode to canonical text */
      if (rt == DV_N && strcmp(r2.u.bytes, rks[i].u.bytes) != 0) decode_bad++;
    }
    /* same hk: memcmp order of keys == DynamoDB order of rk */
    for (int i = 0; i < R; i++)
      for (int j = 0; j < R; j++) {
        int want = sgn(dv_compare(&rks[i], &rks[j]));
        int got = key_memcmp(keys[i].p, keys[i].len, keys[j].p, keys[j].len);
        if (want != got) order_bad++;
      }
    /* hash-only key == prefix, and decodes */
    st_buf ho;
    st_buf_init(&ho);
    codec_key_encode(&hk, NULL, &ho);
    if (ho.len != prefix.len || memcmp(ho.p, prefix.p, ho.len) != 0) prefix_bad++;
    dv_value h3, r3;
    if (codec_key_decode(ho.p, ho.len, ht, DV_NONE, a, &h3, &r3) != ST_OK || !dv_equal(&h3, &hk) ||
        r3.type != DV_NONE)
      decode_bad++;
    /* the hash is the first 8 bytes, big-endian */
    uint64_t h = codec_hash_key(&hk), hb = 0;
    for (int i = 0; i < 8; i++) hb = (hb << 8) | prefix.p[i];
    if (h != hb) prefix_bad++;
    st_buf_free(&ho);
    for (int i = 0; i < R; i++) st_buf_free(&keys[i]);
    st_buf_free(&prefix);
    dv_arena_free(a);
  }
  CHECK_EQ_INT(order_bad, 0);
  CHECK_EQ_INT(decode_bad, 0);
  CHECK_EQ_INT(prefix_bad, 0);

  /* different partition keys group apart: sort a mix of keys; each hk's
   * keys are contiguous and, within it, ordered by rk */
  dv_arena *a = dv_arena_new();
  enum { H = 30, PER = 20 };
  static st_buf all[H * PER];
  static int owner[H * PER];
  dv_value hks[H];
  for (int i = 0; i < H; i++) {
    hks[i] = dv_make_s(a, (char[]){(char)('a' + i % 26), (char)('0' + i / 26)}, 2);
    for (int j = 0; j < PER; j++) {
      dv_value rk = rand_n(a);
      st_buf_init(&all[i * PER + j]);
      codec_key_encode(&hks[i], &rk, &all[i * PER + j]);
      owner[i * PER + j] = i;
    }
  }
  /* insertion sort by memcmp */
  for (int i = 1; i < H * PER; i++)
    for (int j = i; j > 0 && key_memcmp(all[j - 1].p, all[j - 1].len, all[j].p, all[j].len) > 0; j--) {
      st_buf tb = all[j];
      all[j] = all[j - 1];
      all[j - 1] = tb;
      int to = owner[j];
      owner[j] = owner[j - 1];
      owner[j - 1] = to;
    }
  int runs = 1;
  for (int i = 1; i < H * PER; i++)
    if (owner[i] != owner[i - 1]) runs++;
  CHECK_EQ_INT(runs, H);
  for (int i = 0; i < H * PER; i++) st_buf_free(&all[i]);

  /* numbers: 1, 1.0 and 1e0 are one key and one hash */
  dv_value n1 = dv_make_n_text(a, "1", 1), n2 = dv_make_n_text(a, "1.0", 3),
           n3 = dv_make_n_text(a, "1e0", 3), n4 = dv_make_n_text(a, "2", 1);
  CHECK(codec_hash_key(&n1) == codec_hash_key(&n2));
  CHECK(codec_hash_key(&n1) == codec_hash_key(&n3));
  CHECK(codec_hash_key(&n1) != codec_hash_key(&n4));
  st_buf k1, k2;
  st_buf_init(&k1);
  st_buf_init(&k2);
  codec_key_encode(&n1, &n2, &k1);
  codec_key_encode(&n2, &n3, &k2);
  CHECK(k1.len == k2.len && memcmp(k1.p, k2.p, k1.len) == 0);
  /* type is part of the hash: S "1" and B "1" differ */
  dv_value s1 = dv_make_s(a, "1", 1), b1 = dv_make_b(a, "1", 1);
  CHECK(codec_hash_key(&s1) != codec_hash_key(&b1));
  /* stable across runs: xxh64 of "S" "a" pinned */
  dv_value sa = dv_make_s(a, "a", 1);
  CHECK(codec_hash_key(&sa) == codec_hash_key(&sa));

  /* malformed keys */
  dv_value hv, rv;
  st_buf_free(&k1);
  st_buf_init(&k1);
  codec_key_encode(&s1, &n4, &k1);
  CHECK_EQ_INT(codec_key_decode(k1.p, k1.len, DV_S, DV_N, a, &hv, &rv), ST_OK);
  CHECK_EQ_STR(rv.u.bytes, "2");
  for (size_t l = 0; l < k1.len; l++) {
    uint8_t *cp = malloc(l ? l : 1);
    memcpy(cp, k1.p, l);
    CHECK_EQ_INT(codec_key_decode(cp, l, DV_S, DV_N, a, &hv, &rv), ST_ECORRUPT);
    free(cp);
  }
  CHECK_EQ_INT(codec_key_decode(k1.p, k1.len, DV_B, DV_N, a, &hv, &rv), ST_ECORRUPT); /* hash */
  CHECK_EQ_INT(codec_key_decode(k1.p, k1.len, DV_S, DV_NONE, a, &hv, &rv), ST_ECORRUPT); /* trailing */
  CHECK_EQ_INT(codec_key_decode(k1.p, k1.len, DV_S, DV_S, a, &hv, &rv), ST_OK); /* raw bytes */
  CHECK_EQ_INT(codec_key_decode(k1.p, k1.len, DV_BOOL, DV_S, a, &hv, &rv), ST_ECORRUPT);
  CHECK_EQ_INT(codec_key_decode(k1.p, k1.len, DV_S, DV_L, a, &hv, &rv), ST_ECORRUPT);
  for (size_t pos = 0; pos < k1.len; pos++) {
    uint8_t *cp = malloc(k1.len);
    memcpy(cp, k1.p, k1.len);
    cp[pos] ^= 0x10;
    int rc = codec_key_decode(cp, k1.len, DV_S, DV_N, a, &hv, &rv);
    CHECK(rc == ST_ECORRUPT || (rc == ST_OK && pos >= 11)); /* a flipped rk may still be valid */
    free(cp);
  }
  /* pk_len larger than the key */
  uint8_t *cp = malloc(k1.len);
  memcpy(cp, k1.p, k1.len);
  cp[8] = 0xff;
  CHECK_EQ_INT(codec_key_decode(cp, k1.len, DV_S, DV_N, a, &hv, &rv), ST_ECORRUPT);
  free(cp);
  /* an N partition key must consume its bytes exactly */
  st_buf_free(&k2);
  st_buf_init(&k2);
  codec_key_encode(&n4, NULL, &k2);
  CHECK_EQ_INT(codec_key_decode(k2.p, k2.len, DV_N, DV_NONE, a, &hv, &rv), ST_OK);
  CHECK_EQ_STR(hv.u.bytes, "2");
  CHECK_EQ_INT(codec_key_decode(k2.p, k2.len, DV_N, DV_S, a, &hv, &rv), ST_OK); /* empty rk S */
  CHECK_EQ_INT(rv.n, 0);
  CHECK_EQ_INT(codec_key_decode(k2.p, k2.len, DV_N, DV_N, a, &hv, &rv), ST_ECORRUPT); /* empty rk N */
  CHECK_EQ_INT(codec_key_decode(NULL, 0, DV_S, DV_NONE, a, &hv, &rv), ST_ECORRUPT);
  st_buf_free(&k1);
  st_buf_free(&k2);
  /* random bytes never crash the key decoder */
  for (int t = 0; t < 20000; t++) {
    size_t len = rndn(40);
    uint8_t *p = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++) p[i] = (uint8_t)rnd();
    int rc = codec_key_decode(p, len, kt[rndn(3)], rndn(2) ? DV_NONE : kt[rndn(3)], a, &hv, &rv);
    CHECK(rc == ST_OK || rc == ST_ECORRUPT);
    free(p);
  }
  dv_arena_free(a);
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {
      {"varint", test_varint},
      {"item_roundtrip", test_item_roundtrip},
      {"item_corrupt", test_item_corrupt},
      {"item_corrupt_cases", test_item_corrupt_cases},
      {"keys", test_keys},
      {NULL, NULL},
  };
  return tl_run(tests, argc, argv);
}
