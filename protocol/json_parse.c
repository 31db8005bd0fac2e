/*
 * json_parse.c -- the request-body JSON parser: a drop-in for jansson's
 * json_loadb(buf, len, JSON_ALLOW_NUL, NULL) that is 4-7 times faster
 * (jansson lexes through a per-byte stream with a token buffer; what is
 * left is mostly the tree building). The tree is still jansson's: every
 * node comes from jansson's constructors, so everything downstream is
 * unchanged.
 *
 * The contract is equality with jansson 2.14 (tests/protocol/
 * test_json_parse.c and tests/fuzz/fuzz_json.c check it differentially):
 * NULL exactly when json_loadb returns NULL, otherwise a tree with the same
 * types, integer and (bit-identical) real values, string bytes, array
 * elements and object members in the same iteration order. What that means
 * in detail, each rule as jansson applies it:
 *
 *   - top level: an object or an array (no JSON_DECODE_ANY), then only
 *     whitespace (space, \t, \n, \r) up to the end; empty input is an error;
 *   - depth: every value counts one, the top-level container is 1; more than
 *     JSON_PARSER_MAX_DEPTH (2048) is an error, so 2048 nested empty arrays
 *     parse and 2048 nested arrays around a scalar do not;
 *   - objects: members are inserted in order with
 *     json_object_setn_new_nocheck, so a duplicate key keeps its first
 *     position and its last value (jansson's hashtable_set); a key with a
 *     NUL in it (from \u0000) is an error; trailing commas are errors;
 *   - strings: strict UTF-8 (no overlong forms, no UTF-8-encoded surrogates,
 *     nothing above U+10FFFF, no truncated sequence, no stray continuation
 *     byte, no C0/C1/F5..FF), no raw byte below 0x20 (DEL is fine), escapes
 *     \" \\ \/ \b \f \n \r \t \uXXXX (hex in either case); a \u high
 *     surrogate must be followed at once by a \u low surrogate, a lone low
 *     surrogate is an error; \u0000 is kept in values (JSON_ALLOW_NUL);
 *   - numbers: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; without
 *     fraction and exponent an integer, and one outside json_int_t (int64)
 *     is an error ("too big integer"); otherwise a real, the value strtod
 *     gives for the text (correctly rounded), an error when it overflows to
 *     +-inf, accepted when it underflows (to a subnormal or +-0); "-0" is the
 *     integer 0, "-0.0" the real -0.0;
 *   - true, false, null;
 *   - jansson's quirk: a single NUL byte right after a number or a
 *     true/false/null is skipped (its lexer ungets the byte that ends such a
 *     token, and its one-byte lookahead buffer cannot tell an ungot NUL from
 *     an empty buffer), so "[1\0]" parses as [1]; a NUL anywhere else is an
 *     error.
 *
 * Speed: one pass over the bytes. Strings are scanned 8 bytes at a time
 * (SWAR) until a quote, backslash, control or non-ASCII byte; a string
 * without escapes goes straight from the input into json_stringn_nocheck
 * (or, as a key, json_object_setn_new_nocheck, which copies it); only a
 * string with escapes is decoded, into a stack buffer (heap when longer
 * than 256 bytes). Numbers with at most 19 significant digits and a small
 * exponent are converted exactly without strtod (Clinger's fast path); the
 * rest go through strtod on a digits-and-exponent copy with no decimal
 * point, so the locale never matters.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol.h"

/* Deepest nesting accepted, as jansson counts it (jansson_config.h). */
#define JP_MAX_DEPTH JSON_PARSER_MAX_DEPTH
/* Escaped strings up to this many source bytes are decoded on the stack. */
#define JP_STACK_STRING 256

typedef struct jp_parser {
  const unsigned char *p;   /* next unread byte */
  const unsigned char *end; /* one past the last byte of the input */
} jp_parser;

/* ---- byte classes ------------------------------------------------------------ */

/* Class of a byte inside a string. */
enum {
  JC_PLAIN = 0, /* ASCII 0x20..0x7F except '"' and '\\' */
  JC_QUOTE,     /* '"' ends the string */
  JC_ESC,       /* '\\' */
  JC_CTRL,      /* below 0x20: never raw in a string */
  JC_U2,        /* C2..DF: lead of a 2-byte sequence */
  JC_E0,        /* E0: 3 bytes, second A0..BF (no overlong) */
  JC_U3,        /* E1..EC, EE, EF: 3 bytes */
  JC_ED,        /* ED: 3 bytes, second 80..9F (no surrogates) */
  JC_F0,        /* F0: 4 bytes, second 90..BF (no overlong) */
  JC_U4,        /* F1..F3: 4 bytes */
  JC_F4,        /* F4: 4 bytes, second 80..8F (nothing above U+10FFFF) */
  JC_BAD        /* 80..BF (stray continuation), C0, C1, F5..FF */
};

#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
static const unsigned char jp_class[256] = {
    R16(JC_CTRL), R16(JC_CTRL),
    /* 0x20 */ JC_PLAIN, JC_PLAIN, JC_QUOTE, JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_PLAIN,
    JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_PLAIN,
    R16(JC_PLAIN), R16(JC_PLAIN),
    /* 0x50 */ JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_PLAIN,
    JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_PLAIN, JC_ESC, JC_PLAIN, JC_PLAIN, JC_PLAIN,
    R16(JC_PLAIN), R16(JC_PLAIN),
    /* 0x80 */ R16(JC_BAD), R16(JC_BAD), R16(JC_BAD), R16(JC_BAD),
    /* 0xC0 */ JC_BAD, JC_BAD, JC_U2, JC_U2, JC_U2, JC_U2, JC_U2, JC_U2,
    JC_U2, JC_U2, JC_U2, JC_U2, JC_U2, JC_U2, JC_U2, JC_U2,
    R16(JC_U2),
    /* 0xE0 */ JC_E0, JC_U3, JC_U3, JC_U3, JC_U3, JC_U3, JC_U3, JC_U3,
    JC_U3, JC_U3, JC_U3, JC_U3, JC_U3, JC_ED, JC_U3, JC_U3,
    /* 0xF0 */ JC_F0, JC_U4, JC_U4, JC_U4, JC_F4, JC_BAD, JC_BAD, JC_BAD,
    JC_BAD, JC_BAD, JC_BAD, JC_BAD, JC_BAD, JC_BAD, JC_BAD, JC_BAD};
#undef R16

/* Value + 1 of a hex digit, 0 (the zero-initialised rest) for anything else. */
static const unsigned char jp_hex[256] = {
    ['0'] = 0 + 1, ['1'] = 1 + 1, ['2'] = 2 + 1, ['3'] = 3 + 1, ['4'] = 4 + 1,
    ['5'] = 5 + 1, ['6'] = 6 + 1, ['7'] = 7 + 1, ['8'] = 8 + 1, ['9'] = 9 + 1,
    ['a'] = 10 + 1, ['b'] = 11 + 1, ['c'] = 12 + 1, ['d'] = 13 + 1, ['e'] = 14 + 1, ['f'] = 15 + 1,
    ['A'] = 10 + 1, ['B'] = 11 + 1, ['C'] = 12 + 1, ['D'] = 13 + 1, ['E'] = 14 + 1, ['F'] = 15 + 1};

static inline int jp_is_digit(unsigned char c) {
  return (unsigned)(c - '0') < 10;
}

static inline int jp_is_cont(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

/* The code unit of the 4 hex digits at s, -1 if one is not hex. */
static inline int32_t jp_hex4(const unsigned char *s) {
  int a = jp_hex[s[0]], b = jp_hex[s[1]], c = jp_hex[s[2]], d = jp_hex[s[3]];
  if (!a || !b || !c || !d) return -1;
  return ((a - 1) << 12) | ((b - 1) << 8) | ((c - 1) << 4) | (d - 1);
}

static inline const unsigned char *jp_ws(const unsigned char *p, const unsigned char *end) {
  while (p < end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  return p;
}

/* ---- strings ---------------------------------------------------------------- */

#define JP_ONES 0x0101010101010101ULL
#define JP_HIGHS 0x8080808080808080ULL

/* Nonzero when one of the 8 bytes of v needs a look: '"', '\\', below 0x20
 * or above 0x7F. Only bytes at or above the first such byte can be flagged
 * (the borrows of the subtractions run upwards), so on a little-endian
 * machine the lowest flagged bit marks exactly the first byte to look at. */
static inline uint64_t jp_special8(uint64_t v) {
  uint64_t q = v ^ (JP_ONES * '"'), b = v ^ (JP_ONES * '\\');
  uint64_t zq = (q - JP_ONES) & ~q, zb = (b - JP_ONES) & ~b;
  return (zq | zb | v | (v - JP_ONES * 0x20)) & JP_HIGHS;
}

/* Scans the string whose opening quote was just passed (jp->p is its first
 * byte): validates UTF-8, escapes and surrogate pairs, leaves jp->p past the
 * closing quote. *escaped = 1 when the string holds an escape (its bytes
 * then need jp_unescape). 0 or -1 (invalid or unterminated). */
static int jp_scan_string(jp_parser *jp, int *escaped) {
  const unsigned char *p = jp->p, *end = jp->end;
  for (;;) {
    while (end - p >= 8) {
      uint64_t v;
      memcpy(&v, p, 8);
      uint64_t s = jp_special8(v);
      if (s) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        p += __builtin_ctzll(s) >> 3; /* the lowest flagged byte is the first special one */
        goto special;
#else
        break;
#endif
      }
      p += 8;
    }
    while (p < end && jp_class[*p] == JC_PLAIN) p++;
    if (p >= end) return -1;
  special:
    switch (jp_class[*p]) {
    case JC_QUOTE:
      jp->p = p + 1;
      return 0;
    case JC_ESC:
      if (end - p < 2) return -1;
      switch (p[1]) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        p += 2;
        break;
      case 'u': {
        if (end - p < 6) return -1;
        int32_t cu = jp_hex4(p + 2);
        if (cu < 0 || (cu >= 0xDC00 && cu <= 0xDFFF)) return -1;
        if (cu >= 0xD800 && cu <= 0xDBFF) {
          if (end - p < 12 || p[6] != '\\' || p[7] != 'u') return -1;
          int32_t lo = jp_hex4(p + 8);
          if (lo < 0xDC00 || lo > 0xDFFF) return -1;
          p += 12;
        } else {
          p += 6;
        }
        break;
      }
      default:
        return -1;
      }
      *escaped = 1;
      break;
    case JC_U2:
      if (end - p < 2 || !jp_is_cont(p[1])) return -1;
      p += 2;
      break;
    case JC_E0:
      if (end - p < 3 || p[1] < 0xA0 || p[1] > 0xBF || !jp_is_cont(p[2])) return -1;
      p += 3;
      break;
    case JC_U3:
      if (end - p < 3 || !jp_is_cont(p[1]) || !jp_is_cont(p[2])) return -1;
      p += 3;
      break;
    case JC_ED:
      if (end - p < 3 || p[1] < 0x80 || p[1] > 0x9F || !jp_is_cont(p[2])) return -1;
      p += 3;
      break;
    case JC_F0:
      if (end - p < 4 || p[1] < 0x90 || p[1] > 0xBF || !jp_is_cont(p[2]) || !jp_is_cont(p[3]))
        return -1;
      p += 4;
      break;
    case JC_U4:
      if (end - p < 4 || !jp_is_cont(p[1]) || !jp_is_cont(p[2]) || !jp_is_cont(p[3])) return -1;
      p += 4;
      break;
    case JC_F4:
      if (end - p < 4 || p[1] < 0x80 || p[1] > 0x8F || !jp_is_cont(p[2]) || !jp_is_cont(p[3]))
        return -1;
      p += 4;
      break;
    default: /* JC_CTRL, JC_BAD */
      return -1;
    }
  }
}

/* Decodes the bytes [s, e) of a string that jp_scan_string accepted into
 * out (at least e - s bytes: no escape decodes longer than itself). Returns
 * the decoded length. */
static size_t jp_unescape(const unsigned char *s, const unsigned char *e, char *out) {
  char *o = out;
  while (s < e) {
    const unsigned char *bs = memchr(s, '\\', (size_t)(e - s));
    if (!bs) bs = e;
    memcpy(o, s, (size_t)(bs - s));
    o += bs - s;
    s = bs;
    if (s == e) break;
    unsigned char c = s[1];
    s += 2;
    switch (c) {
    case 'b': *o++ = '\b'; continue;
    case 'f': *o++ = '\f'; continue;
    case 'n': *o++ = '\n'; continue;
    case 'r': *o++ = '\r'; continue;
    case 't': *o++ = '\t'; continue;
    case 'u': break;
    default: *o++ = (char)c; continue; /* '"', '\\', '/' */
    }
    uint32_t cp = (uint32_t)jp_hex4(s);
    s += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) { /* a low surrogate follows: checked by the scan */
      cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)jp_hex4(s + 2) - 0xDC00);
      s += 6;
    }
    if (cp < 0x80) {
      *o++ = (char)cp;
    } else if (cp < 0x800) {
      *o++ = (char)(0xC0 | (cp >> 6));
      *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *o++ = (char)(0xE0 | (cp >> 12));
      *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
      *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
      *o++ = (char)(0xF0 | (cp >> 18));
      *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
      *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
      *o++ = (char)(0x80 | (cp & 0x3F));
    }
  }
  return (size_t)(o - out);
}

/* The escaped string [s, e) as a json string value (new reference), or NULL
 * on OOM. Kept out of line so that the recursive frames stay small. */
static __attribute__((noinline)) json_t *jp_escaped_string(const unsigned char *s,
                                                            const unsigned char *e) {
  char stack[JP_STACK_STRING];
  size_t n = (size_t)(e - s);
  char *buf = n <= sizeof stack ? stack : malloc(n);
  if (!buf) return NULL;
  json_t *j = json_stringn_nocheck(buf, jp_unescape(s, e, buf));
  if (buf != stack) free(buf);
  return j;
}

/* Sets obj[key] = value (taken, even on failure) for the escaped key
 * [s, e). -1 when the key holds a NUL (jansson: "NUL byte in object key not
 * supported") or on OOM. */
static __attribute__((noinline)) int jp_set_escaped_key(json_t *obj, const unsigned char *s,
                                                         const unsigned char *e, json_t *value) {
  char stack[JP_STACK_STRING];
  size_t n = (size_t)(e - s);
  char *buf = n <= sizeof stack ? stack : malloc(n);
  int rc = -1;
  if (!buf) {
    json_decref(value);
    return -1;
  }
  size_t len = jp_unescape(s, e, buf);
  if (memchr(buf, '\0', len))
    json_decref(value);
  else
    rc = json_object_setn_new_nocheck(obj, buf, len, value);
  if (buf != stack) free(buf);
  return rc;
}

/* ---- numbers ---------------------------------------------------------------- */

/* Exact powers of ten as doubles (10^22 is the largest). */
static const double jp_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The slow path of jp_real: strtod on "[-]DIGITSeEXP" (no decimal point, so
 * no locale dependence), where DIGITS are the n significant digits starting
 * at the first nonzero one of int part [ip, ie) + fraction [fs, fe), and exp
 * the decimal exponent of their last digit. 0 or -1 (overflow). */
static __attribute__((noinline)) int jp_real_slow(int neg, const unsigned char *ip,
                                                   const unsigned char *ie,
                                                   const unsigned char *fs,
                                                   const unsigned char *fe, size_t n,
                                                   int64_t exp, double *out) {
  if ((int64_t)n - 1 + exp > 310) return -1; /* >= 1e311: overflow, whatever the digits */
  if ((int64_t)n + exp < -330) {             /* < 1e-330: below half the least subnormal */
    *out = neg ? -0.0 : 0.0;
    return 0;
  }
  char stack[128];
  size_t need = n + 32;
  char *buf = need <= sizeof stack ? stack : malloc(need);
  if (!buf) return -1;
  char *o = buf;
  if (neg) *o++ = '-';
  size_t left = n;
  for (const unsigned char *q = ip; q < ie && left; q++) {
    if (o == buf + neg && *q == '0') continue; /* leading zeros */
    *o++ = (char)*q;
    left--;
  }
  for (const unsigned char *q = fs; q < fe && left; q++) {
    if (o == buf + neg && *q == '0') continue;
    *o++ = (char)*q;
    left--;
  }
  *o++ = 'e';
  /* exp is within about +-(n + 330) here: print it in decimal */
  uint64_t ue = exp < 0 ? (uint64_t)(-exp) : (uint64_t)exp;
  if (exp < 0) *o++ = '-';
  char digits[24];
  int nd = 0;
  do {
    digits[nd++] = (char)('0' + ue % 10);
    ue /= 10;
  } while (ue);
  while (nd) *o++ = digits[--nd];
  *o = '\0';
  errno = 0;
  double d = strtod(buf, NULL);
  int rc = 0;
  if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
    rc = -1;
  else
    *out = d;
  if (buf != stack) free(buf);
  return rc;
}

/* Significant digits of a number literal, read left to right. */
typedef struct jp_digits {
  uint64_t m;    /* the first 19 significant digits */
  size_t n;      /* significant digits seen so far (inner zeros included) */
  size_t zeros;  /* zeros since the last nonzero digit */
  int64_t last;  /* exponent of the last nonzero digit */
  int64_t pos;   /* exponent of the next digit + 1 */
} jp_digits;

/* Take the digits [q, e) (of the int part, then of the fraction). */
static void jp_add_digits(jp_digits *d, const unsigned char *q, const unsigned char *e) {
  for (; q < e; q++) {
    d->pos--;
    if (*q == '0') {
      if (d->n) d->zeros++;
      continue;
    }
    d->n += d->zeros + 1;
    if (d->n <= 19) {
      for (; d->zeros; d->zeros--) d->m *= 10;
      d->m = d->m * 10 + (uint64_t)(*q - '0');
    }
    d->zeros = 0;
    d->last = d->pos;
  }
}

/* The double that strtod gives for the number with int part digits [ip, ie),
 * fraction digits [fs, fe) (empty if none) and exponent literal exp10
 * (saturated). 0 or -1 (overflows to +-inf: jansson's "real number
 * overflow"). */
static int jp_real(int neg, const unsigned char *ip, const unsigned char *ie,
                   const unsigned char *fs, const unsigned char *fe, int64_t exp10,
                   double *out) {
  /* Significant digits: from the first nonzero digit to the last nonzero
   * digit; m holds the first 19 of them. */
  jp_digits dg = {0, 0, 0, 0, (int64_t)(ie - ip)};
  jp_add_digits(&dg, ip, ie);
  jp_add_digits(&dg, fs, fe);
  uint64_t m = dg.m;
  size_t n = dg.n;
  int64_t last = dg.last;
  if (n == 0) {
    *out = neg ? -0.0 : 0.0;
    return 0;
  }
  int64_t e = last + exp10; /* value = digits * 10^e */
  if (n <= 19 && m <= (1ULL << 53) && e >= -22 && e <= 22) {
    double d = (double)m;
    d = e < 0 ? d / jp_pow10[-e] : d * jp_pow10[e];
    *out = neg ? -d : d;
    return 0;
  }
  return jp_real_slow(neg, ip, ie, fs, fe, n, e, out);
}

/* A number at jp->p (a digit or '-'), as a json integer or real. NULL when
 * invalid, out of range or on OOM. */
static json_t *jp_number(jp_parser *jp) {
  const unsigned char *p = jp->p, *end = jp->end;
  int neg = 0;
  if (*p == '-') {
    neg = 1;
    if (++p >= end) return NULL;
  }
  const unsigned char *ip = p;
  uint64_t m = 0;
  if (*p == '0') {
    p++;
    if (p < end && jp_is_digit(*p)) return NULL; /* leading zero */
  } else if (jp_is_digit(*p)) {
    do m = m * 10 + (uint64_t)(*p++ - '0');
    while (p < end && jp_is_digit(*p));
  } else {
    return NULL;
  }
  const unsigned char *ie = p;
  json_t *j;
  if (p >= end || (*p != '.' && *p != 'e' && *p != 'E')) {
    /* An integer: 19 digits fit m exactly, 20 are >= 1e19 > INT64_MAX + 1. */
    if (ie - ip > 19) return NULL;
    json_int_t v;
    if (neg) {
      if (m > (uint64_t)INT64_MAX + 1) return NULL;
      v = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(json_int_t)m;
    } else {
      if (m > (uint64_t)INT64_MAX) return NULL;
      v = (json_int_t)m;
    }
    j = json_integer(v);
  } else {
    const unsigned char *fs = p, *fe = p;
    if (*p == '.') {
      fs = ++p;
      if (p >= end || !jp_is_digit(*p)) return NULL;
      while (p < end && jp_is_digit(*p)) p++;
      fe = p;
    }
    int64_t exp10 = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
      int eneg = 0;
      if (++p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
      if (p >= end || !jp_is_digit(*p)) return NULL;
      do {
        if (exp10 < 100000000000000000LL) exp10 = exp10 * 10 + (*p - '0'); /* saturates */
        p++;
      } while (p < end && jp_is_digit(*p));
      if (eneg) exp10 = -exp10;
    }
    double d;
    if (jp_real(neg, ip, ie, fs, fe, exp10, &d)) return NULL;
    j = json_real(d);
  }
  if (p < end && *p == '\0') p++; /* jansson's ungot-NUL quirk (top of file) */
  jp->p = p;
  return j;
}

/* ---- values ----------------------------------------------------------------- */

static json_t *jp_value(jp_parser *jp, int depth);

/* An object at jp->p ('{'). */
static json_t *jp_object(jp_parser *jp, int depth) {
  json_t *obj = json_object();
  if (!obj) return NULL;
  const unsigned char *end = jp->end;
  const unsigned char *p = jp_ws(jp->p + 1, end);
  if (p < end && *p == '}') {
    jp->p = p + 1;
    return obj;
  }
  for (;;) {
    if (p >= end || *p != '"') goto fail;
    const unsigned char *ks = p + 1;
    int escaped = 0;
    jp->p = ks;
    if (jp_scan_string(jp, &escaped)) goto fail;
    const unsigned char *ke = jp->p - 1;
    p = jp_ws(jp->p, end);
    if (p >= end || *p != ':') goto fail;
    p = jp_ws(p + 1, end);
    if (p >= end) goto fail;
    jp->p = p;
    json_t *v = jp_value(jp, depth + 1);
    if (!v) goto fail;
    if (!escaped) {
      if (json_object_setn_new_nocheck(obj, (const char *)ks, (size_t)(ke - ks), v)) goto fail;
    } else if (jp_set_escaped_key(obj, ks, ke, v)) {
      goto fail;
    }
    p = jp_ws(jp->p, end);
    if (p >= end) goto fail;
    if (*p == ',') {
      p = jp_ws(p + 1, end);
      continue;
    }
    if (*p != '}') goto fail;
    jp->p = p + 1;
    return obj;
  }
fail:
  json_decref(obj);
  return NULL;
}

/* An array at jp->p ('['). */
static json_t *jp_array(jp_parser *jp, int depth) {
  json_t *arr = json_array();
  if (!arr) return NULL;
  const unsigned char *end = jp->end;
  const unsigned char *p = jp_ws(jp->p + 1, end);
  if (p < end && *p == ']') {
    jp->p = p + 1;
    return arr;
  }
  for (;;) {
    if (p >= end) goto fail;
    jp->p = p;
    json_t *v = jp_value(jp, depth + 1);
    if (!v || json_array_append_new(arr, v)) goto fail;
    p = jp_ws(jp->p, end);
    if (p >= end) goto fail;
    if (*p == ',') {
      p = jp_ws(p + 1, end);
      continue;
    }
    if (*p != ']') goto fail;
    jp->p = p + 1;
    return arr;
  }
fail:
  json_decref(arr);
  return NULL;
}

/* A literal: jp->p starts with word (len bytes)? Then consumes it (and the
 * quirk's NUL). */
static inline int jp_literal(jp_parser *jp, const char *word, size_t len) {
  const unsigned char *p = jp->p;
  if ((size_t)(jp->end - p) < len || memcmp(p, word, len) != 0) return 0;
  p += len;
  if (p < jp->end && *p == '\0') p++; /* jansson's ungot-NUL quirk */
  jp->p = p;
  return 1;
}

/* The value at jp->p (which is < end, past any whitespace), at nesting
 * depth `depth` (the top level is 1). */
static json_t *jp_value(jp_parser *jp, int depth) {
  if (depth > JP_MAX_DEPTH) return NULL;
  const unsigned char *p = jp->p;
  switch (*p) {
  case '"': {
    int escaped = 0;
    jp->p = p + 1;
    if (jp_scan_string(jp, &escaped)) return NULL;
    if (!escaped) return json_stringn_nocheck((const char *)p + 1, (size_t)(jp->p - p - 2));
    return jp_escaped_string(p + 1, jp->p - 1);
  }
  case '{':
    return jp_object(jp, depth);
  case '[':
    return jp_array(jp, depth);
  case '-': case '0': case '1': case '2': case '3': case '4':
  case '5': case '6': case '7': case '8': case '9':
    return jp_number(jp);
  case 't':
    return jp_literal(jp, "true", 4) ? json_true() : NULL;
  case 'f':
    return jp_literal(jp, "false", 5) ? json_false() : NULL;
  case 'n':
    return jp_literal(jp, "null", 4) ? json_null() : NULL;
  default:
    return NULL;
  }
}

json_t *p_json_parse(const char *buf, size_t len) {
  if (!buf) return NULL;
  jp_parser jp = {.p = (const unsigned char *)buf, .end = (const unsigned char *)buf + len};
  jp.p = jp_ws(jp.p, jp.end);
  if (jp.p >= jp.end || (*jp.p != '{' && *jp.p != '[')) return NULL;
  json_t *j = jp_value(&jp, 1);
  if (!j) return NULL;
  if (jp_ws(jp.p, jp.end) != jp.end) {
    json_decref(j);
    return NULL;
  }
  return j;
}
