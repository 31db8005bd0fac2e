/*
 * value.c -- the typed value model: arenas, DynamoDB's ten attribute types,
 * exact decimal numbers, DynamoDB ordering, equality and item size.
 *
 * Pure code shared by storage/ and protocol/: no I/O, no JSON. Every value
 * lives in a dv_arena (a chunked bump allocator freed in one step); nothing
 * here frees a single value.
 *
 * Numbers (operations.md 1.3) are held as a dv_num: sign, up to 38
 * significant digits and a decimal exponent, value = sign * 0.d0d1.. * 10^exp.
 * In a dv_value they are kept as canonical plain decimal text. Range of a
 * non-zero number: 1E-130 <= |v| < 1E126, i.e. -129 <= exp <= 126 (exactly
 * 256 exponents, which is why the key encoding spends one byte on it).
 *
 * Order-preserving number key encoding (dv_num_keyenc), at most 22 bytes:
 *
 *   zero:      [0x80]
 *   positive:  [0xC0] [exp + 129]        [pair]... [0x00]
 *   negative:  [0x40] [255 - (exp + 129)] [101 - pair]... [0xFF]
 *
 *   offset  size     meaning
 *   0       1        class: 0x40 negative < 0x80 zero < 0xC0 positive
 *   1       1        exponent byte (absent for zero); for negatives it is
 *                    complemented so that a larger magnitude sorts first
 *   2       1..19    one byte per pair of significant digits, most
 *                    significant first: pair = 1 + 10*d[2k] + d[2k+1], in
 *                    1..100; an odd last digit is padded with a 0 digit
 *                    (unambiguous: a normalised number never ends in 0).
 *                    Negatives store 101 - pair (also 1..100), reversing
 *                    the digit order
 *   end     1        terminator: 0x00 for positives (a shorter digit
 *                    string that is a prefix of a longer one is smaller),
 *                    0xFF for negatives (there it is larger)
 *
 * memcmp of two encodings therefore orders by class, then exponent, then
 * digits, which is numeric order; the terminator makes each encoding
 * self-delimiting. Validity rule for decoding: known class byte, every pair
 * byte in 1..100, 1..19 pairs, first digit non-zero, last digit non-zero,
 * terminator present.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/value.h"

/* ---- arena --------------------------------------------------------------- */

#define ARENA_FIRST_CHUNK 4096u
#define ARENA_MAX_CHUNK (1024u * 1024u)

typedef struct arena_chunk {
  struct arena_chunk *next; /* older chunk (list ends at NULL) */
  size_t cap;               /* usable bytes in data */
  size_t used;              /* bytes of data handed out */
  _Alignas(16) unsigned char data[]; /* the memory itself */
} arena_chunk;

struct dv_arena {
  arena_chunk *head; /* chunk being filled; dedicated big chunks go after it */
  size_t next_cap;   /* capacity of the next regular chunk (doubles to a cap) */
  size_t used;       /* total bytes handed out, for accounting */
};

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "dynafile: out of memory (%zu bytes)\n", n);
    abort();
  }
  return p;
}

static arena_chunk *chunk_new(size_t cap) {
  if (cap > SIZE_MAX - sizeof(arena_chunk)) {
    fprintf(stderr, "dynafile: arena allocation too large (%zu bytes)\n", cap);
    abort();
  }
  arena_chunk *c = xmalloc(sizeof(arena_chunk) + cap);
  c->next = NULL;
  c->cap = cap;
  c->used = 0;
  return c;
}

dv_arena *dv_arena_new(void) {
  dv_arena *a = xmalloc(sizeof *a);
  a->head = NULL;
  a->next_cap = ARENA_FIRST_CHUNK;
  a->used = 0;
  return a;
}

void dv_arena_free(dv_arena *a) {
  if (!a) return;
  arena_chunk *c = a->head;
  while (c) {
    arena_chunk *next = c->next;
    free(c);
    c = next;
  }
  free(a);
}

void dv_arena_reset(dv_arena *a) {
  arena_chunk *keep = NULL, *c = a->head;
  while (c) {
    arena_chunk *next = c->next;
    if (keep == NULL && c->cap == ARENA_FIRST_CHUNK)
      keep = c;
    else
      free(c);
    c = next;
  }
  a->head = keep;
  a->next_cap = ARENA_FIRST_CHUNK;
  if (keep != NULL) {
    keep->next = NULL;
    keep->used = 0;
    a->next_cap = 2 * ARENA_FIRST_CHUNK; /* as after the first chunk_new() */
  }
  a->used = 0;
}

void *dv_arena_alloc(dv_arena *a, size_t n) {
  if (n == 0) n = 1;
  if (n > SIZE_MAX - 15) {
    fprintf(stderr, "dynafile: arena allocation too large (%zu bytes)\n", n);
    abort();
  }
  n = (n + 7) & ~(size_t)7;
  a->used += n;
  arena_chunk *h = a->head;
  if (h && h->cap - h->used >= n) {
    void *p = h->data + h->used;
    h->used += n;
    return p;
  }
  if (n > a->next_cap / 4) {
    /* A big allocation gets its own chunk, kept behind the head so the
     * head's free space is not wasted. */
    arena_chunk *c = chunk_new(n);
    c->used = n;
    if (h) {
      c->next = h->next;
      h->next = c;
    } else {
      a->head = c;
    }
    return c->data;
  }
  arena_chunk *c = chunk_new(a->next_cap);
  if (a->next_cap < ARENA_MAX_CHUNK) a->next_cap *= 2;
  c->next = h;
  a->head = c;
  c->used = n;
  return c->data;
}

void *dv_arena_calloc(dv_arena *a, size_t n) {
  void *p = dv_arena_alloc(a, n);
  memset(p, 0, n ? n : 1);
  return p;
}

char *dv_arena_strndup(dv_arena *a, const char *s, size_t len) {
  if (len == SIZE_MAX) abort();
  char *p = dv_arena_alloc(a, len + 1);
  if (len) memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

size_t dv_arena_used(const dv_arena *a) { return a->used; }

/* ---- types --------------------------------------------------------------- */

static const char *const type_names[] = {"NONE", "S", "N",  "B",  "BOOL", "NULL",
                                         "M",    "L", "SS", "NS", "BS"};

const char *dv_type_name(dv_type t) {
  if ((unsigned)t > (unsigned)DV_BS) return "NONE";
  return type_names[t];
}

dv_type dv_type_from_name(const char *name, size_t len) {
  for (int t = DV_S; t <= DV_BS; t++) {
    const char *n = type_names[t];
    if (strlen(n) == len && memcmp(n, name, len) == 0) return (dv_type)t;
  }
  return DV_NONE;
}

int dv_type_is_scalar_key(dv_type t) { return t == DV_S || t == DV_N || t == DV_B; }

dv_type dv_set_elem_type(dv_type set) {
  switch (set) {
  case DV_SS: return DV_S;
  case DV_NS: return DV_N;
  case DV_BS: return DV_B;
  default: return DV_NONE;
  }
}

/* ---- constructors ---------------------------------------------------------- */

static uint32_t len32(size_t len) {
  if (len > UINT32_MAX) {
    fprintf(stderr, "dynafile: value too long (%zu bytes)\n", len);
    abort();
  }
  return (uint32_t)len;
}

dv_value dv_make_s(dv_arena *a, const char *s, size_t len) {
  dv_value v;
  memset(&v, 0, sizeof v);
  v.type = DV_S;
  v.n = len32(len);
  v.u.bytes = dv_arena_strndup(a, s, len);
  return v;
}

dv_value dv_make_b(dv_arena *a, const void *p, size_t len) {
  dv_value v;
  memset(&v, 0, sizeof v);
  v.type = DV_B;
  v.n = len32(len);
  /* NUL-terminated too, harmlessly, so empty binaries have a valid pointer. */
  v.u.bytes = dv_arena_strndup(a, p, len);
  return v;
}

dv_value dv_make_bool(int b) {
  dv_value v;
  memset(&v, 0, sizeof v);
  v.type = DV_BOOL;
  v.u.boolean = b ? 1 : 0;
  return v;
}

dv_value dv_make_null(void) {
  dv_value v;
  memset(&v, 0, sizeof v);
  v.type = DV_NULL;
  v.u.boolean = 1;
  return v;
}

dv_value dv_make_n_text(dv_arena *a, const char *canon, size_t len) {
  dv_value v;
  memset(&v, 0, sizeof v);
  v.type = DV_N;
  v.n = len32(len);
  v.u.bytes = dv_arena_strndup(a, canon, len);
  return v;
}

dv_value dv_clone(dv_arena *a, const dv_value *v) {
  dv_value c = *v;
  switch (v->type) {
  case DV_S:
  case DV_N:
  case DV_B:
    c.u.bytes = dv_arena_strndup(a, v->u.bytes, v->n);
    break;
  case DV_L:
  case DV_SS:
  case DV_NS:
  case DV_BS:
    c.u.elems = v->n ? dv_arena_alloc(a, sizeof(dv_value) * (size_t)v->n) : NULL;
    for (uint32_t i = 0; i < v->n; i++) c.u.elems[i] = dv_clone(a, &v->u.elems[i]);
    break;
  case DV_M:
    c.u.attrs = v->n ? dv_arena_alloc(a, sizeof(dv_attr) * (size_t)v->n) : NULL;
    for (uint32_t i = 0; i < v->n; i++) {
      c.u.attrs[i].name = dv_arena_strndup(a, v->u.attrs[i].name, v->u.attrs[i].name_len);
      c.u.attrs[i].name_len = v->u.attrs[i].name_len;
      c.u.attrs[i].value = dv_clone(a, &v->u.attrs[i].value);
    }
    break;
  default:
    break;
  }
  return c;
}

/* ---- ordering helpers ------------------------------------------------------ */

/* Unsigned bytewise order, a shorter prefix first. */
static int bytes_cmp(const void *a, size_t alen, const void *b, size_t blen) {
  size_t m = alen < blen ? alen : blen;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return c;
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int attr_cmp(const void *x, const void *y) {
  const dv_attr *a = x, *b = y;
  return bytes_cmp(a->name, a->name_len, b->name, b->name_len);
}

static int value_bytes_cmp(const void *x, const void *y) {
  const dv_value *a = x, *b = y;
  return bytes_cmp(a->u.bytes, a->n, b->u.bytes, b->n);
}

const dv_value *dv_map_get(const dv_value *m, const char *name, size_t len) {
  assert(m->type == DV_M);
  size_t lo = 0, hi = m->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const dv_attr *at = &m->u.attrs[mid];
    int c = bytes_cmp(at->name, at->name_len, name, len);
    if (c == 0) return &at->value;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

int dv_map_sort(dv_value *m) {
  assert(m->type == DV_M);
  if (m->n < 2) return 0;
  qsort(m->u.attrs, m->n, sizeof(dv_attr), attr_cmp);
  for (uint32_t i = 1; i < m->n; i++)
    if (attr_cmp(&m->u.attrs[i - 1], &m->u.attrs[i]) == 0) return -1;
  return 0;
}

typedef struct num_elem {
  dv_num num;   /* parsed value, the sort key */
  dv_value val; /* the element itself */
} num_elem;

static int num_elem_cmp(const void *x, const void *y) {
  const num_elem *a = x, *b = y;
  return dv_num_cmp(&a->num, &b->num);
}

int dv_set_sort(dv_value *set, uint32_t *dup_index) {
  assert(set->type == DV_SS || set->type == DV_NS || set->type == DV_BS);
  uint32_t n = set->n;
  if (n < 2) return 0;
  if (set->type == DV_NS) {
    num_elem *tmp = malloc(sizeof(num_elem) * (size_t)n);
    if (!tmp) {
      fprintf(stderr, "dynafile: out of memory\n");
      abort();
    }
    for (uint32_t i = 0; i < n; i++) {
      tmp[i].val = set->u.elems[i];
      dv_num_from_value(&set->u.elems[i], &tmp[i].num);
    }
    qsort(tmp, n, sizeof(num_elem), num_elem_cmp);
    int rc = 0;
    for (uint32_t i = 0; i < n; i++) {
      set->u.elems[i] = tmp[i].val;
      if (i && rc == 0 && dv_num_cmp(&tmp[i - 1].num, &tmp[i].num) == 0) {
        rc = -1;
        if (dup_index) *dup_index = i;
      }
    }
    free(tmp);
    return rc;
  }
  qsort(set->u.elems, n, sizeof(dv_value), value_bytes_cmp);
  for (uint32_t i = 1; i < n; i++)
    if (value_bytes_cmp(&set->u.elems[i - 1], &set->u.elems[i]) == 0) {
      if (dup_index) *dup_index = i;
      return -1;
    }
  return 0;
}

int dv_compare(const dv_value *a, const dv_value *b) {
  assert(a->type == b->type);
  assert(dv_type_is_scalar_key(a->type));
  if (a->type == DV_N) {
    dv_num x, y;
    dv_num_from_value(a, &x);
    dv_num_from_value(b, &y);
    return dv_num_cmp(&x, &y);
  }
  return bytes_cmp(a->u.bytes, a->n, b->u.bytes, b->n);
}

static int num_text_equal(const dv_value *a, const dv_value *b) {
  /* Canonical texts are equal iff the values are; parse anyway so that a
   * non-canonical text (a caller's mistake) still compares by value. */
  if (a->n == b->n && memcmp(a->u.bytes, b->u.bytes, a->n) == 0) return 1;
  dv_num x, y;
  if (dv_num_parse(a->u.bytes, a->n, &x) != DV_NUM_OK) return 0;
  if (dv_num_parse(b->u.bytes, b->n, &y) != DV_NUM_OK) return 0;
  return dv_num_cmp(&x, &y) == 0;
}

/* 1 if v (a set of scalars) contains an element equal to e. */
static int set_contains(const dv_value *set, const dv_value *e) {
  for (uint32_t i = 0; i < set->n; i++)
    if (dv_equal(&set->u.elems[i], e)) return 1;
  return 0;
}

int dv_equal(const dv_value *a, const dv_value *b) {
  if (a->type != b->type) return 0;
  switch (a->type) {
  case DV_NONE:
  case DV_NULL:
    return 1;
  case DV_BOOL:
    return !a->u.boolean == !b->u.boolean;
  case DV_S:
  case DV_B:
    return a->n == b->n && (a->n == 0 || memcmp(a->u.bytes, b->u.bytes, a->n) == 0);
  case DV_N:
    return num_text_equal(a, b);
  case DV_L:
    if (a->n != b->n) return 0;
    for (uint32_t i = 0; i < a->n; i++)
      if (!dv_equal(&a->u.elems[i], &b->u.elems[i])) return 0;
    return 1;
  case DV_SS:
  case DV_NS:
  case DV_BS: {
    if (a->n != b->n) return 0;
    uint32_t i = 0;
    while (i < a->n && dv_equal(&a->u.elems[i], &b->u.elems[i])) i++;
    if (i == a->n) return 1;
    /* Not equal in order: sets are normally sorted, but compare as sets in
     * case one is not (e.g. a value not yet normalised). Sets hold unique
     * members, so same size + inclusion is equality. */
    for (uint32_t j = i; j < a->n; j++)
      if (!set_contains(b, &a->u.elems[j])) return 0;
    return 1;
  }
  case DV_M: {
    if (a->n != b->n) return 0;
    for (uint32_t i = 0; i < a->n; i++) {
      const dv_attr *x = &a->u.attrs[i], *y = &b->u.attrs[i];
      if (x->name_len == y->name_len && memcmp(x->name, y->name, x->name_len) == 0) {
        if (!dv_equal(&x->value, &y->value)) return 0;
        continue;
      }
      /* Out of step (unsorted input): look the name up linearly. */
      const dv_value *yv = NULL;
      for (uint32_t j = 0; j < b->n; j++) {
        const dv_attr *z = &b->u.attrs[j];
        if (z->name_len == x->name_len && memcmp(z->name, x->name, x->name_len) == 0) {
          yv = &z->value;
          break;
        }
      }
      if (!yv || !dv_equal(&x->value, yv)) return 0;
    }
    return 1;
  }
  }
  return 0;
}

/* ---- size and depth ---------------------------------------------------------- */

size_t dv_value_size(const dv_value *v) {
  size_t s = 0;
  switch (v->type) {
  case DV_S:
  case DV_B:
    return v->n;
  case DV_N: {
    dv_num x;
    dv_num_from_value(v, &x);
    return dv_num_size(&x);
  }
  case DV_BOOL:
  case DV_NULL:
    return 1;
  case DV_SS:
  case DV_NS:
  case DV_BS:
    for (uint32_t i = 0; i < v->n; i++) s += dv_value_size(&v->u.elems[i]);
    return s;
  case DV_L:
    s = 3;
    for (uint32_t i = 0; i < v->n; i++) s += 1 + dv_value_size(&v->u.elems[i]);
    return s;
  case DV_M:
    s = 3;
    for (uint32_t i = 0; i < v->n; i++)
      s += v->u.attrs[i].name_len + 1 + dv_value_size(&v->u.attrs[i].value);
    return s;
  default:
    return 0;
  }
}

size_t dv_item_size(const dv_value *item) {
  assert(item->type == DV_M);
  size_t s = 0;
  for (uint32_t i = 0; i < item->n; i++)
    s += item->u.attrs[i].name_len + dv_value_size(&item->u.attrs[i].value);
  return s;
}

int dv_depth(const dv_value *v) {
  int d = 0;
  if (v->type == DV_L) {
    for (uint32_t i = 0; i < v->n; i++) {
      int e = dv_depth(&v->u.elems[i]);
      if (e > d) d = e;
    }
  } else if (v->type == DV_M) {
    for (uint32_t i = 0; i < v->n; i++) {
      int e = dv_depth(&v->u.attrs[i].value);
      if (e > d) d = e;
    }
  } else {
    return 1;
  }
  return d + 1;
}

/* ---- numbers ----------------------------------------------------------------- */

#define NUM_EXP_MIN (-129) /* smallest exponent of a non-zero number (>= 1E-130) */
#define NUM_EXP_MAX 126    /* largest exponent (< 1E126) */

static int is_digit(char c) { return c >= '0' && c <= '9'; }

int dv_num_parse(const char *s, size_t len, dv_num *out) {
  size_t i = 0;
  int neg = 0;
  memset(out, 0, sizeof *out);
  if (i < len && (s[i] == '+' || s[i] == '-')) {
    neg = s[i] == '-';
    i++;
  }
  size_t int_start = i;
  while (i < len && is_digit(s[i])) i++;
  size_t nint = i - int_start;
  size_t frac_start = i, nfrac = 0;
  if (i < len && s[i] == '.') {
    i++;
    frac_start = i;
    while (i < len && is_digit(s[i])) i++;
    nfrac = i - frac_start;
  }
  if (nint + nfrac == 0) return DV_NUM_ENOTNUM;
  /* The exponent is read in full; beyond 64 bits the text is not a number.
   * It is then clamped: any exponent past +-2^60 decides the range check on
   * its own, whatever the mantissa length. */
  int64_t e = 0;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    int eneg = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
      eneg = s[i] == '-';
      i++;
    }
    if (i >= len || !is_digit(s[i])) return DV_NUM_ENOTNUM;
    uint64_t mag = 0;
    uint64_t limit = eneg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    while (i < len && is_digit(s[i])) {
      unsigned d = (unsigned)(s[i] - '0');
      if (mag > (limit - d) / 10) return DV_NUM_ENOTNUM;
      mag = mag * 10 + d;
      i++;
    }
    const uint64_t clamp = (uint64_t)1 << 60;
    if (mag > clamp) mag = clamp;
    e = eneg ? -(int64_t)mag : (int64_t)mag;
  }
  if (i != len) return DV_NUM_ENOTNUM;

  /* Mantissa digits D = int digits then fraction digits, point after nint. */
#define MDIG(k) ((k) < nint ? s[int_start + (k)] : s[frac_start + (k) - nint])
  size_t nd = nint + nfrac, first = 0, last;
  while (first < nd && MDIG(first) == '0') first++;
  if (first == nd) {
    /* Zero: range-checked by the exponent it is written with, after moving
     * the point to the end of the mantissa. */
    int64_t x = e - (int64_t)nfrac;
    if (x >= 126) return DV_NUM_EOVERFLOW;
    if (x < -130) return DV_NUM_EUNDERFLOW;
    return DV_NUM_OK;
  }
  last = nd - 1;
  while (MDIG(last) == '0') last--;
  size_t ndig = last - first + 1;
  if (ndig > DV_NUM_MAXDIG) return DV_NUM_EDIGITS;
  int64_t exp = e + (int64_t)nint - (int64_t)first;
  if (exp > NUM_EXP_MAX) return DV_NUM_EOVERFLOW;
  if (exp < NUM_EXP_MIN) return DV_NUM_EUNDERFLOW;
  out->sign = neg ? -1 : 1;
  out->ndig = (uint8_t)ndig;
  out->exp = (int32_t)exp;
  for (size_t k = 0; k < ndig; k++) out->dig[k] = (uint8_t)(MDIG(first + k) - '0');
#undef MDIG
  return DV_NUM_OK;
}

size_t dv_num_format(const dv_num *n, char *buf) {
  char *p = buf;
  if (n->sign == 0 || n->ndig == 0) {
    buf[0] = '0';
    buf[1] = '\0';
    return 1;
  }
  assert(n->exp >= NUM_EXP_MIN && n->exp <= NUM_EXP_MAX && n->ndig <= DV_NUM_MAXDIG);
  if (n->sign < 0) *p++ = '-';
  int exp = n->exp, nd = n->ndig;
  if (exp <= 0) {
    *p++ = '0';
    *p++ = '.';
    for (int k = 0; k < -exp; k++) *p++ = '0';
    for (int k = 0; k < nd; k++) *p++ = (char)('0' + n->dig[k]);
  } else if (exp >= nd) {
    for (int k = 0; k < nd; k++) *p++ = (char)('0' + n->dig[k]);
    for (int k = nd; k < exp; k++) *p++ = '0';
  } else {
    for (int k = 0; k < exp; k++) *p++ = (char)('0' + n->dig[k]);
    *p++ = '.';
    for (int k = exp; k < nd; k++) *p++ = (char)('0' + n->dig[k]);
  }
  *p = '\0';
  return (size_t)(p - buf);
}

/* Compare magnitudes of two non-zero numbers. */
static int mag_cmp(const dv_num *a, const dv_num *b) {
  if (a->exp != b->exp) return a->exp < b->exp ? -1 : 1;
  int m = a->ndig < b->ndig ? a->ndig : b->ndig;
  for (int k = 0; k < m; k++)
    if (a->dig[k] != b->dig[k]) return a->dig[k] < b->dig[k] ? -1 : 1;
  return a->ndig < b->ndig ? -1 : a->ndig > b->ndig ? 1 : 0;
}

int dv_num_cmp(const dv_num *a, const dv_num *b) {
  int sa = a->ndig ? a->sign : 0, sb = b->ndig ? b->sign : 0;
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  int c = mag_cmp(a, b);
  return sa > 0 ? c : -c;
}

/* Exact addition on a digit grid: index = power of ten - GRID_LOW. Powers
 * range over [NUM_EXP_MIN - DV_NUM_MAXDIG, NUM_EXP_MAX - 1], plus one carry. */
#define GRID_LOW (NUM_EXP_MIN - DV_NUM_MAXDIG)
#define GRID_SIZE (NUM_EXP_MAX - GRID_LOW + 2)

static void grid_put(const dv_num *n, int8_t *g) {
  for (int k = 0; k < n->ndig; k++) g[n->exp - 1 - k - GRID_LOW] = (int8_t)n->dig[k];
}

static int num_addsub(const dv_num *a, const dv_num *b, int negate_b, dv_num *out) {
  int sa = a->ndig ? a->sign : 0;
  int sb = b->ndig ? b->sign : 0;
  if (negate_b) sb = -sb;
  memset(out, 0, sizeof *out);
  if (sb == 0) {
    *out = *a;
    if (!out->ndig) out->sign = 0;
    return DV_NUM_OK;
  }
  if (sa == 0) {
    *out = *b;
    out->sign = (int8_t)sb;
    return DV_NUM_OK;
  }
  int8_t ga[GRID_SIZE], gb[GRID_SIZE], r[GRID_SIZE];
  memset(ga, 0, sizeof ga);
  memset(gb, 0, sizeof gb);
  memset(r, 0, sizeof r);
  int sign;
  if (sa == sb) {
    grid_put(a, ga);
    grid_put(b, gb);
    int carry = 0;
    for (int k = 0; k < GRID_SIZE; k++) {
      int d = ga[k] + gb[k] + carry;
      carry = d >= 10;
      r[k] = (int8_t)(carry ? d - 10 : d);
    }
    assert(carry == 0);
    sign = sa;
  } else {
    int c = mag_cmp(a, b);
    if (c == 0) return DV_NUM_OK; /* exact zero */
    const dv_num *big = c > 0 ? a : b, *small = c > 0 ? b : a;
    sign = c > 0 ? sa : sb;
    grid_put(big, ga);
    grid_put(small, gb);
    int borrow = 0;
    for (int k = 0; k < GRID_SIZE; k++) {
      int d = ga[k] - gb[k] - borrow;
      borrow = d < 0;
      r[k] = (int8_t)(borrow ? d + 10 : d);
    }
    assert(borrow == 0);
  }
  int hi = GRID_SIZE - 1, lo = 0;
  while (hi >= 0 && r[hi] == 0) hi--;
  if (hi < 0) return DV_NUM_OK;
  while (r[lo] == 0) lo++;
  if (hi - lo + 1 > DV_NUM_MAXDIG) return DV_NUM_EOVERFLOW;
  int exp = hi + GRID_LOW + 1;
  if (exp > NUM_EXP_MAX) return DV_NUM_EOVERFLOW;
  if (exp < NUM_EXP_MIN) return DV_NUM_EUNDERFLOW;
  out->sign = (int8_t)sign;
  out->exp = exp;
  out->ndig = (uint8_t)(hi - lo + 1);
  for (int k = hi, j = 0; k >= lo; k--, j++) out->dig[j] = (uint8_t)r[k];
  return DV_NUM_OK;
}

int dv_num_add(const dv_num *a, const dv_num *b, dv_num *out) {
  return num_addsub(a, b, 0, out);
}

int dv_num_sub(const dv_num *a, const dv_num *b, dv_num *out) {
  return num_addsub(a, b, 1, out);
}

size_t dv_num_size(const dv_num *n) {
  if (n->ndig == 0 || n->sign == 0) return 1;
  /* Digits d[k] with k < exp are left of the point. */
  int i = n->exp <= 0 ? 0 : (n->exp >= n->ndig ? n->ndig : n->exp);
  int f = n->ndig - i;
  return 1 + (size_t)((i + 1) / 2) + (size_t)((f + 1) / 2) + (n->sign < 0 ? 1 : 0);
}

#define KEY_NEG 0x40
#define KEY_ZERO 0x80
#define KEY_POS 0xC0

size_t dv_num_keyenc(const dv_num *n, uint8_t *out) {
  if (n->ndig == 0 || n->sign == 0) {
    out[0] = KEY_ZERO;
    return 1;
  }
  assert(n->exp >= NUM_EXP_MIN && n->exp <= NUM_EXP_MAX && n->ndig <= DV_NUM_MAXDIG);
  int neg = n->sign < 0;
  size_t o = 0;
  uint8_t eb = (uint8_t)(n->exp - NUM_EXP_MIN);
  out[o++] = neg ? KEY_NEG : KEY_POS;
  out[o++] = neg ? (uint8_t)(255 - eb) : eb;
  for (int k = 0; k < n->ndig; k += 2) {
    int d1 = n->dig[k], d2 = k + 1 < n->ndig ? n->dig[k + 1] : 0;
    uint8_t pair = (uint8_t)(1 + 10 * d1 + d2);
    out[o++] = neg ? (uint8_t)(101 - pair) : pair;
  }
  out[o++] = neg ? 0xFF : 0x00;
  assert(o <= DV_NUM_KEYMAX);
  return o;
}

size_t dv_num_keydec(const uint8_t *p, size_t len, dv_num *out) {
  memset(out, 0, sizeof *out);
  if (len < 1) return 0;
  if (p[0] == KEY_ZERO) return 1;
  if (p[0] != KEY_NEG && p[0] != KEY_POS) return 0;
  int neg = p[0] == KEY_NEG;
  if (len < 2) return 0;
  int eb = neg ? 255 - p[1] : p[1];
  uint8_t term = neg ? 0xFF : 0x00;
  size_t o = 2;
  int nd = 0;
  for (;;) {
    if (o >= len) return 0;
    uint8_t b = p[o++];
    if (b == term) break;
    if (b < 1 || b > 100) return 0;
    if (nd >= DV_NUM_MAXDIG) return 0;
    int pair = (neg ? 101 - b : b) - 1;
    out->dig[nd++] = (uint8_t)(pair / 10);
    out->dig[nd++] = (uint8_t)(pair % 10);
  }
  if (nd == 0) return 0;
  if (out->dig[nd - 1] == 0) nd--; /* odd digit count: padding */
  if (out->dig[0] == 0 || out->dig[nd - 1] == 0) {
    memset(out, 0, sizeof *out);
    return 0;
  }
  out->ndig = (uint8_t)nd;
  out->sign = neg ? -1 : 1;
  out->exp = eb + NUM_EXP_MIN;
  return o;
}

void dv_num_from_value(const dv_value *v, dv_num *out) {
  assert(v->type == DV_N);
  int rc = dv_num_parse(v->u.bytes, v->n, out);
  assert(rc == DV_NUM_OK);
  if (rc != DV_NUM_OK) memset(out, 0, sizeof *out);
}
