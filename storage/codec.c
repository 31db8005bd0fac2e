/*
 * codec.c -- binary encodings of items (B-tree values) and keys (B-tree
 * keys), and the LEB128 varints they are built from.
 *
 * Both encodings are read back from disk, so decoding treats its input as
 * untrusted: every length is checked against the bytes that remain, counts
 * are bounded by the bytes that could hold them, nesting is bounded, and any
 * malformation returns ST_ECORRUPT. Nothing here asserts on input bytes.
 *
 * ---- Item encoding (version 1) ----------------------------------------------
 *
 *   field        size      meaning
 *   size         varint    DynamoDB item size (dv_item_size), so the engine
 *                          can keep TableSizeBytes without decoding
 *   version      1         0x01
 *   count        varint    number of top-level attributes
 *   attribute    ...       count times: name_len varint, name bytes, value
 *
 *   value := tag (1 byte), then the payload for that tag:
 *
 *   tag   type   payload
 *   0x01  S      len varint, UTF-8 bytes
 *   0x02  N      len varint, canonical decimal text (dv_num_format)
 *   0x03  B      len varint, raw bytes
 *   0x04  BOOL   none (false)
 *   0x05  BOOL   none (true)
 *   0x06  NULL   none
 *   0x07  M      count varint, count x (name_len varint, name bytes, value)
 *   0x08  L      count varint, count x value
 *   0x09  SS     count varint, count x (len varint, bytes)
 *   0x0A  NS     count varint, count x (len varint, canonical text)
 *   0x0B  BS     count varint, count x (len varint, bytes)
 *
 * Varints are unsigned LEB128 (7 bits per byte, least significant first,
 * high bit = more), at most 10 bytes. Byte order is otherwise irrelevant.
 *
 * Validity rule (anything else is ST_ECORRUPT): known version and tags;
 * every length and count fits in the remaining bytes and in 32 bits; map
 * names strictly increasing (bytewise, shorter first) at every level; set
 * members strictly increasing in their set order (so unique) and sets
 * non-empty; N texts canonical; nesting at most CODEC_MAX_DEPTH containers;
 * no bytes after the last attribute; and the stored size equal to the size
 * recomputed from the decoded item. There is no checksum here: the pages and
 * log records that hold these bytes carry their own.
 *
 * ---- Key encoding -------------------------------------------------------------
 *
 *   offset  size    meaning
 *   0       8       xxh64 (seed 0) of [type byte 'S'|'N'|'B'] + [pk bytes],
 *                   big-endian
 *   8       2       pk_len: length of the partition key bytes, big-endian
 *   10      pk_len  partition key bytes: S/B raw, N as dv_num_keyenc
 *   10+pk_len rest  sort key bytes (tables with a sort key): S/B raw, N as
 *                   dv_num_keyenc; empty for hash-only tables
 *
 * The prefix (first 10 + pk_len bytes) is shared by all items of one
 * partition key. Numbers are hashed through their key encoding, which is
 * canonical, so 1 and 1.0 hash alike. Validity rule for decoding: at least
 * 10 bytes, pk_len fits, an N key consumes its bytes exactly, the hash
 * matches, and a hash-only key has no trailing bytes.
 *
 * ---- Index entry key encoding ------------------------------------------------
 *
 * The B-tree key of one entry of a secondary index (storage.h "secondary
 * indexes"): the index partition key's prefix exactly as above, then the
 * index sort key and the base item's key.
 *
 *   offset  size    meaning
 *   0       8       xxh64 of the INDEX partition key, as for a table key
 *   8       2       pk_len, big-endian
 *   10      pk_len  index partition key bytes (S/B raw, N as dv_num_keyenc)
 *   ...     var     index sort key bytes (when the index has one), ESCAPED,
 *                   then the terminator 0x00 0x01
 *   ...     var     base partition key bytes, ESCAPED, then 0x00 0x01
 *   ...     rest    base sort key bytes, raw (when the base has one); none
 *                   for a hash-only base
 *
 * ESCAPED: every 0x00 byte becomes 0x00 0xFF, other bytes stay. The
 * terminator 0x00 0x01 is below every escaped continuation (0x00 0xFF and
 * any byte >= 0x01), so for two byte strings x < y (bytewise, shorter
 * prefix first) esc(x)+T < esc(y)+T, and no esc(x)+T is a prefix of another:
 * memcmp order of entry keys is (index partition key hash, its bytes, index
 * sort key in DynamoDB order, base partition key bytes, base sort key
 * bytes). N values are escaped from their dv_num_keyenc bytes, so numbers
 * sort by value and 1 and 1.0 encode alike.
 *
 * Sort bounds (codec_ix_sort_bound): prefix + esc(v) is <= every entry with
 * sort key v and > every entry with a smaller sort key; prefix + esc(v) +
 * 0x00 0x02 is > every entry with sort key v (which continue with 0x00 0x01)
 * and <= every entry with a greater sort key (which continue with 0x00 0xFF
 * or a byte >= 0x01). Validity rule for decoding: a valid key prefix, each
 * escaped part ends in a terminator and holds only 0x00 0xFF pairs for
 * zeros, N parts consume their bytes exactly, nothing follows a hash-only
 * base's partition key.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "storage/codec.h"
#include "storage/storage.h"

#define CODEC_VERSION 1
/* Containers (M/L) nested inside one top-level attribute value. DynamoDB
 * allows 31; the slack only bounds recursion on corrupt input. */
#define CODEC_MAX_DEPTH 64

enum {
  TAG_S = 0x01,
  TAG_N = 0x02,
  TAG_B = 0x03,
  TAG_FALSE = 0x04,
  TAG_TRUE = 0x05,
  TAG_NULL = 0x06,
  TAG_M = 0x07,
  TAG_L = 0x08,
  TAG_SS = 0x09,
  TAG_NS = 0x0A,
  TAG_BS = 0x0B,
};

/* ---- varints ------------------------------------------------------------------ */

void codec_put_varint(st_buf *out, uint64_t v) {
  uint8_t b[10];
  size_t n = 0;
  do {
    uint8_t c = v & 0x7f;
    v >>= 7;
    b[n++] = (uint8_t)(c | (v ? 0x80 : 0));
  } while (v);
  st_buf_append(out, b, n);
}

size_t codec_get_varint(const uint8_t *p, size_t len, uint64_t *v) {
  uint64_t r = 0;
  for (size_t i = 0; i < 10; i++) {
    if (i >= len) return 0;
    uint8_t c = p[i];
    if (i == 9 && c > 1) return 0; /* would overflow 64 bits */
    r |= (uint64_t)(c & 0x7f) << (7 * i);
    if (!(c & 0x80)) {
      *v = r;
      return i + 1;
    }
  }
  return 0;
}

/* ---- item encoding ------------------------------------------------------------ */

static void put_bytes(st_buf *out, const void *p, size_t n) {
  codec_put_varint(out, n);
  st_buf_append(out, p, n);
}

static void put_byte(st_buf *out, uint8_t b) { st_buf_append(out, &b, 1); }

static void encode_value(const dv_value *v, st_buf *out);

static void encode_attrs(const dv_value *m, st_buf *out) {
  codec_put_varint(out, m->n);
  for (uint32_t i = 0; i < m->n; i++) {
    const dv_attr *at = &m->u.attrs[i];
#ifndef NDEBUG
    if (i) {
      const dv_attr *pr = &m->u.attrs[i - 1];
      size_t k = pr->name_len < at->name_len ? pr->name_len : at->name_len;
      int c = k ? memcmp(pr->name, at->name, k) : 0;
      assert(c < 0 || (c == 0 && pr->name_len < at->name_len)); /* dv_map_sort first */
    }
#endif
    put_bytes(out, at->name, at->name_len);
    encode_value(&at->value, out);
  }
}

static void encode_value(const dv_value *v, st_buf *out) {
  switch (v->type) {
  case DV_S:
    put_byte(out, TAG_S);
    put_bytes(out, v->u.bytes, v->n);
    break;
  case DV_N:
    put_byte(out, TAG_N);
    put_bytes(out, v->u.bytes, v->n);
    break;
  case DV_B:
    put_byte(out, TAG_B);
    put_bytes(out, v->u.bytes, v->n);
    break;
  case DV_BOOL:
    put_byte(out, v->u.boolean ? TAG_TRUE : TAG_FALSE);
    break;
  case DV_NULL:
    put_byte(out, TAG_NULL);
    break;
  case DV_M:
    put_byte(out, TAG_M);
    encode_attrs(v, out);
    break;
  case DV_L:
    put_byte(out, TAG_L);
    codec_put_varint(out, v->n);
    for (uint32_t i = 0; i < v->n; i++) encode_value(&v->u.elems[i], out);
    break;
  case DV_SS:
  case DV_NS:
  case DV_BS:
    put_byte(out, v->type == DV_SS ? TAG_SS : v->type == DV_NS ? TAG_NS : TAG_BS);
    codec_put_varint(out, v->n);
    for (uint32_t i = 0; i < v->n; i++) put_bytes(out, v->u.elems[i].u.bytes, v->u.elems[i].n);
    break;
  default:
    assert(!"codec: DV_NONE cannot be stored");
    put_byte(out, TAG_NULL);
    break;
  }
}

void codec_item_encode(const dv_value *item, st_buf *out) {
  assert(item->type == DV_M);
  codec_put_varint(out, dv_item_size(item));
  put_byte(out, CODEC_VERSION);
  encode_attrs(item, out);
}

/* ---- item decoding ------------------------------------------------------------ */

typedef struct rd {
  const uint8_t *p; /* next byte */
  const uint8_t *end; /* one past the last byte */
  dv_arena *a;      /* where decoded values go */
} rd;

static int rd_varint(rd *r, uint64_t *v) {
  size_t n = codec_get_varint(r->p, (size_t)(r->end - r->p), v);
  if (!n) return ST_ECORRUPT;
  r->p += n;
  return ST_OK;
}

/* A count of things each at least min_bytes long that must still fit. */
static int rd_count(rd *r, size_t min_bytes, uint32_t *n) {
  uint64_t v;
  if (rd_varint(r, &v)) return ST_ECORRUPT;
  if (v > UINT32_MAX || v > (uint64_t)(r->end - r->p) / min_bytes) return ST_ECORRUPT;
  *n = (uint32_t)v;
  return ST_OK;
}

/* Length-prefixed bytes, left in place (*s points into the input). */
static int rd_bytes(rd *r, const uint8_t **s, uint32_t *n) {
  uint64_t v;
  if (rd_varint(r, &v)) return ST_ECORRUPT;
  if (v > UINT32_MAX || v > (uint64_t)(r->end - r->p)) return ST_ECORRUPT;
  *s = r->p;
  *n = (uint32_t)v;
  r->p += v;
  return ST_OK;
}

static int bytes_order(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  size_t m = alen < blen ? alen : blen;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return c;
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* N text must be exactly what dv_num_format writes for its value. */
static int rd_number(rd *r, dv_value *out, dv_num *num) {
  const uint8_t *s;
  uint32_t n;
  if (rd_bytes(r, &s, &n)) return ST_ECORRUPT;
  if (n == 0 || n >= DV_NUM_MAXTEXT) return ST_ECORRUPT;
  if (dv_num_parse((const char *)s, n, num) != DV_NUM_OK) return ST_ECORRUPT;
  char canon[DV_NUM_MAXTEXT];
  size_t clen = dv_num_format(num, canon);
  if (clen != n || memcmp(canon, s, n) != 0) return ST_ECORRUPT;
  *out = dv_make_n_text(r->a, canon, clen);
  return ST_OK;
}

static int decode_value(rd *r, int depth, dv_value *out);

static int decode_attrs(rd *r, int depth, dv_value *out) {
  uint32_t n;
  /* name_len varint + tag: at least 2 bytes per attribute */
  if (rd_count(r, 2, &n)) return ST_ECORRUPT;
  memset(out, 0, sizeof *out);
  out->type = DV_M;
  out->n = n;
  out->u.attrs = n ? dv_arena_alloc(r->a, sizeof(dv_attr) * (size_t)n) : NULL;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *name;
    uint32_t nlen;
    if (rd_bytes(r, &name, &nlen)) return ST_ECORRUPT;
    if (i) {
      const dv_attr *pr = &out->u.attrs[i - 1];
      if (bytes_order((const uint8_t *)pr->name, pr->name_len, name, nlen) >= 0)
        return ST_ECORRUPT;
    }
    dv_attr *at = &out->u.attrs[i];
    at->name = dv_arena_strndup(r->a, (const char *)name, nlen);
    at->name_len = nlen;
    /* Keep the map well-formed while the value is decoded. */
    memset(&at->value, 0, sizeof at->value);
    if (decode_value(r, depth, &at->value)) return ST_ECORRUPT;
  }
  return ST_OK;
}

static int decode_set(rd *r, dv_type type, dv_value *out) {
  uint32_t n;
  if (rd_count(r, 1, &n)) return ST_ECORRUPT;
  if (n == 0) return ST_ECORRUPT;
  memset(out, 0, sizeof *out);
  out->type = type;
  out->n = n;
  out->u.elems = dv_arena_alloc(r->a, sizeof(dv_value) * (size_t)n);
  dv_num prev, cur;
  for (uint32_t i = 0; i < n; i++) {
    dv_value *e = &out->u.elems[i];
    if (type == DV_NS) {
      if (rd_number(r, e, &cur)) return ST_ECORRUPT;
      if (i && dv_num_cmp(&prev, &cur) >= 0) return ST_ECORRUPT;
      prev = cur;
    } else {
      const uint8_t *s;
      uint32_t len;
      if (rd_bytes(r, &s, &len)) return ST_ECORRUPT;
      if (i) {
        const dv_value *pe = &out->u.elems[i - 1];
        if (bytes_order((const uint8_t *)pe->u.bytes, pe->n, s, len) >= 0) return ST_ECORRUPT;
      }
      *e = type == DV_SS ? dv_make_s(r->a, (const char *)s, len) : dv_make_b(r->a, s, len);
    }
  }
  return ST_OK;
}

static int decode_value(rd *r, int depth, dv_value *out) {
  if (r->p >= r->end) return ST_ECORRUPT;
  uint8_t tag = *r->p++;
  const uint8_t *s;
  uint32_t n;
  dv_num num;
  switch (tag) {
  case TAG_S:
    if (rd_bytes(r, &s, &n)) return ST_ECORRUPT;
    *out = dv_make_s(r->a, (const char *)s, n);
    return ST_OK;
  case TAG_B:
    if (rd_bytes(r, &s, &n)) return ST_ECORRUPT;
    *out = dv_make_b(r->a, s, n);
    return ST_OK;
  case TAG_N:
    return rd_number(r, out, &num);
  case TAG_FALSE:
  case TAG_TRUE:
    *out = dv_make_bool(tag == TAG_TRUE);
    return ST_OK;
  case TAG_NULL:
    *out = dv_make_null();
    return ST_OK;
  case TAG_M:
    if (depth >= CODEC_MAX_DEPTH) return ST_ECORRUPT;
    return decode_attrs(r, depth + 1, out);
  case TAG_L:
    if (depth >= CODEC_MAX_DEPTH) return ST_ECORRUPT;
    if (rd_count(r, 1, &n)) return ST_ECORRUPT;
    memset(out, 0, sizeof *out);
    out->type = DV_L;
    out->n = n;
    out->u.elems = n ? dv_arena_calloc(r->a, sizeof(dv_value) * (size_t)n) : NULL;
    for (uint32_t i = 0; i < n; i++)
      if (decode_value(r, depth + 1, &out->u.elems[i])) return ST_ECORRUPT;
    return ST_OK;
  case TAG_SS:
    return decode_set(r, DV_SS, out);
  case TAG_NS:
    return decode_set(r, DV_NS, out);
  case TAG_BS:
    return decode_set(r, DV_BS, out);
  default:
    return ST_ECORRUPT;
  }
}

static int read_header(rd *r, uint64_t *size) {
  if (rd_varint(r, size)) return ST_ECORRUPT;
  if (r->p >= r->end || *r->p != CODEC_VERSION) return ST_ECORRUPT;
  r->p++;
  return ST_OK;
}

int codec_item_decode(const uint8_t *p, size_t len, dv_arena *a, dv_value *out) {
  rd r = {p, p + len, a};
  uint64_t size;
  dv_value item;
  memset(out, 0, sizeof *out);
  if (!p && len) return ST_ECORRUPT;
  if (read_header(&r, &size)) goto fail;
  if (decode_attrs(&r, 0, &item)) goto fail;
  if (r.p != r.end) goto fail;
  if (dv_item_size(&item) != size) goto fail;
  *out = item;
  return ST_OK;
fail:
  /* Whatever was decoded stays in the arena until it is freed. */
  return ST_ECORRUPT;
}

int codec_item_size(const uint8_t *p, size_t len, uint64_t *size) {
  rd r = {p, p + len, NULL};
  if (!p && len) return ST_ECORRUPT;
  return read_header(&r, size);
}

/* ---- keys ------------------------------------------------------------------- */

/* The key bytes of a scalar key value: S/B raw, N through dv_num_keyenc
 * (into tmp, which holds DV_NUM_KEYMAX bytes). */
static const uint8_t *key_bytes(const dv_value *k, uint8_t *tmp, size_t *len) {
  assert(dv_type_is_scalar_key(k->type));
  if (k->type == DV_N) {
    dv_num num;
    dv_num_from_value(k, &num);
    *len = dv_num_keyenc(&num, tmp);
    return tmp;
  }
  *len = k->n;
  return (const uint8_t *)k->u.bytes;
}

static uint8_t type_byte(dv_type t) { return t == DV_S ? 'S' : t == DV_N ? 'N' : 'B'; }

static uint64_t hash_bytes(dv_type t, const uint8_t *b, size_t len) {
  uint8_t stackbuf[1 + 4096];
  uint8_t *buf = stackbuf;
  if (len + 1 > sizeof stackbuf) {
    buf = malloc(len + 1);
    if (!buf) abort();
  }
  buf[0] = type_byte(t);
  if (len) memcpy(buf + 1, b, len);
  uint64_t h = (uint64_t)XXH64(buf, len + 1, 0);
  if (buf != stackbuf) free(buf);
  return h;
}

uint64_t codec_hash_key(const dv_value *hk) {
  uint8_t tmp[DV_NUM_KEYMAX];
  size_t len;
  const uint8_t *b = key_bytes(hk, tmp, &len);
  return hash_bytes(hk->type, b, len);
}

static void put_prefix(dv_type t, const uint8_t *b, size_t len, st_buf *out) {
  uint8_t hdr[10];
  uint64_t h = hash_bytes(t, b, len);
  assert(len <= 0xffff);
  for (int i = 0; i < 8; i++) hdr[i] = (uint8_t)(h >> (56 - 8 * i));
  hdr[8] = (uint8_t)(len >> 8);
  hdr[9] = (uint8_t)len;
  st_buf_append(out, hdr, sizeof hdr);
  st_buf_append(out, b, len);
}

void codec_key_prefix(const dv_value *hk, st_buf *out) {
  uint8_t tmp[DV_NUM_KEYMAX];
  size_t len;
  const uint8_t *b = key_bytes(hk, tmp, &len);
  put_prefix(hk->type, b, len, out);
}

void codec_key_encode(const dv_value *hk, const dv_value *rk, st_buf *out) {
  codec_key_prefix(hk, out);
  if (rk) {
    uint8_t tmp[DV_NUM_KEYMAX];
    size_t len;
    const uint8_t *b = key_bytes(rk, tmp, &len);
    st_buf_append(out, b, len);
  }
}

/* Key bytes back to a value of type t; N must consume exactly len bytes. */
static int key_value(const uint8_t *b, size_t len, dv_type t, dv_arena *a, dv_value *out) {
  if (t == DV_S) {
    *out = dv_make_s(a, (const char *)b, len);
  } else if (t == DV_B) {
    *out = dv_make_b(a, b, len);
  } else if (t == DV_N) {
    dv_num num;
    if (dv_num_keydec(b, len, &num) != len || len == 0) return ST_ECORRUPT;
    char text[DV_NUM_MAXTEXT];
    size_t tlen = dv_num_format(&num, text);
    *out = dv_make_n_text(a, text, tlen);
  } else {
    return ST_ECORRUPT;
  }
  return ST_OK;
}

int codec_key_decode(const uint8_t *p, size_t len, dv_type hk_type, dv_type rk_type,
                     dv_arena *a, dv_value *hk, dv_value *rk) {
  if (hk) memset(hk, 0, sizeof *hk);
  if (rk) memset(rk, 0, sizeof *rk);
  if (!p || len < 10) return ST_ECORRUPT;
  if (!dv_type_is_scalar_key(hk_type)) return ST_ECORRUPT;
  if (rk_type != DV_NONE && !dv_type_is_scalar_key(rk_type)) return ST_ECORRUPT;
  uint64_t h = 0;
  for (int i = 0; i < 8; i++) h = (h << 8) | p[i];
  size_t hlen = ((size_t)p[8] << 8) | p[9];
  if (hlen > len - 10) return ST_ECORRUPT;
  const uint8_t *hb = p + 10;
  if (hash_bytes(hk_type, hb, hlen) != h) return ST_ECORRUPT;
  const uint8_t *rb = hb + hlen;
  size_t rlen = len - 10 - hlen;
  if (rk_type == DV_NONE && rlen != 0) return ST_ECORRUPT;
  dv_value hv, rv;
  memset(&rv, 0, sizeof rv);
  if (key_value(hb, hlen, hk_type, a, &hv)) return ST_ECORRUPT;
  if (rk_type != DV_NONE && key_value(rb, rlen, rk_type, a, &rv)) return ST_ECORRUPT;
  if (hk) *hk = hv;
  if (rk) *rk = rv;
  return ST_OK;
}

/* ---- index entry keys ------------------------------------------------------- */

/* Append b[0..len) escaped (0x00 -> 0x00 0xFF). */
static void put_escaped(const uint8_t *b, size_t len, st_buf *out) {
  size_t run = 0;
  for (size_t i = 0; i < len; i++) {
    if (b[i] == 0) {
      st_buf_append(out, b + run, i + 1 - run); /* up to and with the 0x00 */
      put_byte(out, 0xFF);
      run = i + 1;
    }
  }
  st_buf_append(out, b + run, len - run);
}

static void put_escaped_key(const dv_value *k, st_buf *out) {
  uint8_t tmp[DV_NUM_KEYMAX];
  size_t len;
  const uint8_t *b = key_bytes(k, tmp, &len);
  put_escaped(b, len, out);
}

static const uint8_t ix_term[2] = {0x00, 0x01};

void codec_ix_key_encode(const dv_value *ihk, const dv_value *irk, const dv_value *bhk,
                         const dv_value *brk, st_buf *out) {
  codec_key_prefix(ihk, out);
  if (irk) {
    put_escaped_key(irk, out);
    st_buf_append(out, ix_term, 2);
  }
  put_escaped_key(bhk, out);
  st_buf_append(out, ix_term, 2);
  if (brk) {
    uint8_t tmp[DV_NUM_KEYMAX];
    size_t len;
    const uint8_t *b = key_bytes(brk, tmp, &len);
    st_buf_append(out, b, len);
  }
}

void codec_ix_sort_bound(const dv_value *ihk, const dv_value *irk, int after, st_buf *out) {
  static const uint8_t past[2] = {0x00, 0x02};
  codec_key_prefix(ihk, out);
  put_escaped_key(irk, out);
  if (after) st_buf_append(out, past, 2);
}

/* Unescape one terminated part starting at *p (before end) into buf;
 * advances *p past the terminator. 0 if malformed. */
static int get_escaped(const uint8_t **p, const uint8_t *end, st_buf *buf) {
  buf->len = 0;
  const uint8_t *q = *p;
  while (q < end) {
    if (*q != 0) {
      put_byte(buf, *q++);
      continue;
    }
    if (end - q < 2) return 0;
    if (q[1] == 0x01) {
      *p = q + 2;
      return 1;
    }
    if (q[1] != 0xFF) return 0;
    put_byte(buf, 0);
    q += 2;
  }
  return 0;
}

int codec_ix_key_decode(const uint8_t *p, size_t len, dv_type ihk_type, dv_type irk_type,
                        dv_type bhk_type, dv_type brk_type, dv_arena *a, dv_value *ihk,
                        dv_value *irk, dv_value *bhk, dv_value *brk) {
  memset(ihk, 0, sizeof *ihk);
  memset(irk, 0, sizeof *irk);
  memset(bhk, 0, sizeof *bhk);
  memset(brk, 0, sizeof *brk);
  if (!p || len < 10 || !dv_type_is_scalar_key(ihk_type) || !dv_type_is_scalar_key(bhk_type))
    return ST_ECORRUPT;
  if (irk_type != DV_NONE && !dv_type_is_scalar_key(irk_type)) return ST_ECORRUPT;
  if (brk_type != DV_NONE && !dv_type_is_scalar_key(brk_type)) return ST_ECORRUPT;
  size_t hlen = ((size_t)p[8] << 8) | p[9];
  if (hlen > len - 10) return ST_ECORRUPT;
  uint64_t h = 0;
  for (int i = 0; i < 8; i++) h = (h << 8) | p[i];
  if (hash_bytes(ihk_type, p + 10, hlen) != h) return ST_ECORRUPT;
  int rc = ST_ECORRUPT;
  const uint8_t *q = p + 10 + hlen, *end = p + len;
  st_buf tmp;
  st_buf_init(&tmp);
  if (key_value(p + 10, hlen, ihk_type, a, ihk)) goto done;
  if (irk_type != DV_NONE) {
    if (!get_escaped(&q, end, &tmp) || !tmp.len || key_value(tmp.p, tmp.len, irk_type, a, irk))
      goto done;
  }
  if (!get_escaped(&q, end, &tmp) || !tmp.len || key_value(tmp.p, tmp.len, bhk_type, a, bhk))
    goto done;
  if (brk_type == DV_NONE) {
    if (q != end) goto done;
  } else if (q == end || key_value(q, (size_t)(end - q), brk_type, a, brk)) {
    goto done;
  }
  rc = ST_OK;
done:
  st_buf_free(&tmp);
  return rc;
}
