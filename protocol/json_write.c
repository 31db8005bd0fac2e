/*
 * json_write.c -- items straight to wire JSON text, without building a
 * jansson tree: the fast path for big answers (Scan and Query pages).
 *
 * The text written for an item is byte for byte what
 * json_dumps(p_item_to_json(item), JSON_COMPACT) prints (the tests compare
 * the two over random items): no spaces, attributes in the item's order,
 * every AttributeValue a one-member object {"S":...}, numbers as their
 * canonical text in a JSON string, B and BS members as padded standard
 * base64. Strings (values and attribute names) are escaped as jansson does
 * by default: '"' and '\\' with a backslash, \b \f \n \r \t, the other
 * control characters below 0x20 as \u00XX (upper-case hex); '/' and DEL are
 * not escaped, and valid UTF-8 passes through unchanged. Invalid UTF-8 (never
 * stored: the request parser validates every string) is written as \uFFFD
 * per offending byte, so the output is always valid JSON, where jansson
 * would fail the whole dump.
 *
 * Speed: bytes that need no escaping are found and copied 16 at a time
 * (SSE2, every x86-64 has it) or 8 at a time (a 64-bit word); the buffer
 * grows geometrically.
 */
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "protocol/protocol_int.h"

/* ---- the buffer -------------------------------------------------------------- */

void p_buf_init(p_buf *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

static void buf_grow(p_buf *b, size_t more) {
  size_t cap = b->cap < 256 ? 256 : b->cap;
  while (cap - b->len < more) cap *= 2;
  b->data = p__xrealloc(b->data, cap);
  b->cap = cap;
}

/* p_buf_reserve for this file's writers: the common case, room enough,
 * costs a comparison and no call. */
static inline void room(p_buf *b, size_t more) {
  if (more > b->cap - b->len) buf_grow(b, more);
}

void p_buf_reserve(p_buf *b, size_t more) {
  room(b, more);
}

void p_buf_append(p_buf *b, const void *p, size_t n) {
  if (n == 0) return; /* memcpy wants valid pointers even for 0 bytes */
  room(b, n);
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

void p_buf_puts(p_buf *b, const char *s) {
  p_buf_append(b, s, strlen(s));
}

static inline void put_char(p_buf *b, char ch) {
  room(b, 1);
  b->data[b->len++] = ch;
}

char *p_buf_steal(p_buf *b, size_t *len) {
  put_char(b, '\0');
  char *out = b->data;
  if (len != NULL) *len = b->len - 1;
  p_buf_init(b);
  return out;
}

void p_buf_free(p_buf *b) {
  free(b->data);
  p_buf_init(b);
}

/* ---- strings ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid
 * (jansson's rules: no overlongs, no surrogates, at most U+10FFFF). */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  size_t len;
  unsigned cp;
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0; /* continuation byte or overlong 2-byte lead */
  if (c < 0xE0) {
    len = 2;
    cp = c & 0x1F;
  } else if (c < 0xF0) {
    len = 3;
    cp = c & 0x0F;
  } else if (c < 0xF5) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0; /* overlong */
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

/* 1 for the bytes written as they are: printable ASCII and DEL, but '"'
 * and '\\'. Bytes >= 0x80 go through the UTF-8 check; the rest are escaped. */
static inline int plain_ascii(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

void p_write_json_string(p_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *p = (const unsigned char *)s;
  /* Worst case: every byte becomes \u00XX or \uFFFD (6 bytes), plus quotes. */
  room(b, 6 * n + 2);
  char *d = b->data + b->len;
  *d++ = '"';
  size_t i = 0;
  while (i < n) {
#ifdef __SSE2__
    /* Sixteen bytes at a time. As signed bytes, those >= 0x80 are negative,
     * so one "less than 0x20" finds them and the control characters. The
     * 16-byte store may run past the plain bytes: the reserve above leaves
     * 6 bytes a byte still to write, and the next writes overwrite them. */
    while (i + 16 <= n) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
      __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                              _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
      unsigned m = (unsigned)_mm_movemask_epi8(bad);
      _mm_storeu_si128((__m128i *)(void *)d, v);
      if (m != 0) {
        unsigned k = (unsigned)__builtin_ctz(m);
        d += k;
        i += k;
        break;
      }
      d += 16;
      i += 16;
    }
#endif
    /* Eight plain bytes at a time: none >= 0x80, < 0x20, '"' or '\\'
     * (the classic exact "has a byte less than / equal to" word tests). */
    while (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
      uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
      uint64_t bad = (w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & highs;
      if (bad) break;
      memcpy(d, p + i, 8);
      d += 8;
      i += 8;
    }
    if (i == n) break;
    unsigned char c = p[i];
    if (plain_ascii(c)) {
      *d++ = (char)c;
      i++;
      continue;
    }
    if (c >= 0x80) {
      size_t len = utf8_len(p + i, n - i);
      if (len == 0) {
        memcpy(d, "\\uFFFD", 6);
        d += 6;
        i++;
      } else {
        memcpy(d, p + i, len);
        d += len;
        i += len;
      }
      continue;
    }
    *d++ = '\\';
    switch (c) {
      case '"':
        *d++ = '"';
        break;
      case '\\':
        *d++ = '\\';
        break;
      case '\b':
        *d++ = 'b';
        break;
      case '\f':
        *d++ = 'f';
        break;
      case '\n':
        *d++ = 'n';
        break;
      case '\r':
        *d++ = 'r';
        break;
      case '\t':
        *d++ = 't';
        break;
      default:
        d[0] = 'u';
        d[1] = '0';
        d[2] = '0';
        d[3] = hex[c >> 4];
        d[4] = hex[c & 0xF];
        d += 5;
        break;
    }
    i++;
  }
  *d++ = '"';
  b->len = (size_t)(d - b->data);
}

/* ---- values ------------------------------------------------------------------- */

static void write_blob(p_buf *b, const dv_value *v) {
  size_t elen = p__b64_encoded_len(v->n);
  room(b, elen + 3);
  b->data[b->len++] = '"';
  b->len += p__b64_encode((const uint8_t *)v->u.bytes, v->n, b->data + b->len);
  b->data[b->len++] = '"';
}

/* The '{"T":' opening of an AttributeValue. */
static void open_typed(p_buf *b, const char *type) {
  put_char(b, '{');
  put_char(b, '"');
  p_buf_puts(b, type);
  put_char(b, '"');
  put_char(b, ':');
}

void p_write_value_json(p_buf *b, const dv_value *v) {
  switch (v->type) {
    case DV_S:
      p_buf_append(b, "{\"S\":", 5);
      p_write_json_string(b, v->u.bytes, v->n);
      break;
    case DV_N:
      /* Canonical number text is plain ASCII digits, '-' and '.'. */
      p_buf_append(b, "{\"N\":", 5);
      p_write_json_string(b, v->u.bytes, v->n);
      break;
    case DV_B:
      p_buf_append(b, "{\"B\":", 5);
      write_blob(b, v);
      break;
    case DV_BOOL:
      if (v->u.boolean)
        p_buf_append(b, "{\"BOOL\":true", 12);
      else
        p_buf_append(b, "{\"BOOL\":false", 13);
      break;
    case DV_NULL:
      p_buf_append(b, "{\"NULL\":true", 12);
      break;
    case DV_M:
      p_buf_append(b, "{\"M\":", 5);
      p_write_item_json(b, v);
      break;
    case DV_L:
    case DV_SS:
    case DV_NS:
    case DV_BS:
      open_typed(b, dv_type_name(v->type));
      put_char(b, '[');
      for (uint32_t i = 0; i < v->n; i++) {
        const dv_value *e = &v->u.elems[i];
        if (i > 0) put_char(b, ',');
        if (v->type == DV_L)
          p_write_value_json(b, e);
        else if (v->type == DV_BS)
          write_blob(b, e);
        else
          p_write_json_string(b, e->u.bytes, e->n);
      }
      put_char(b, ']');
      break;
    default:
      put_char(b, '{'); /* p_value_to_json's empty object */
      break;
  }
  put_char(b, '}');
}

void p_write_item_json(p_buf *b, const dv_value *item) {
  put_char(b, '{');
  if (item != NULL && item->type == DV_M) {
    for (uint32_t i = 0; i < item->n; i++) {
      const dv_attr *at = &item->u.attrs[i];
      if (i > 0) put_char(b, ',');
      p_write_json_string(b, at->name, at->name_len);
      put_char(b, ':');
      p_write_value_json(b, &at->value);
    }
  }
  put_char(b, '}');
}
