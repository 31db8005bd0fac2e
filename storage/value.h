/*
 * value.h -- the typed value model shared by storage/ and protocol/.
 *
 * DynamoDB's ten attribute types, exact decimal numbers, DynamoDB's ordering
 * and DynamoDB's item-size rule. Pure code: no I/O, no JSON, no storage
 * calls. This is the only header of storage/ that protocol/ may include.
 *
 * Memory: every dv_value tree lives in a dv_arena. Nothing in a value is
 * freed on its own; the arena is freed in one step when the request (or the
 * test) that owns it ends. Functions that build values take the arena they
 * allocate from; pointers they return are valid until that arena is freed.
 */
#ifndef DF_VALUE_H
#define DF_VALUE_H

#include <stddef.h>
#include <stdint.h>

/* ---- arena --------------------------------------------------------------- */

typedef struct dv_arena dv_arena;

/* New empty arena. Aborts on out-of-memory (small allocation rule). */
dv_arena *dv_arena_new(void);
/* Frees every allocation of the arena and the arena itself. NULL is a no-op. */
void dv_arena_free(dv_arena *a);
/* Frees every allocation of the arena but keeps the arena, and its first
 * (smallest) chunk for reuse: the arena is then as dv_arena_new() made it
 * after one allocation, without a malloc. Pointers into it are invalid. */
void dv_arena_reset(dv_arena *a);
/* n bytes, 8-byte aligned, uninitialised. Aborts on out-of-memory. */
void *dv_arena_alloc(dv_arena *a, size_t n);
/* Zeroed n bytes. */
void *dv_arena_calloc(dv_arena *a, size_t n);
/* Copy of s[0..len) with a NUL appended. */
char *dv_arena_strndup(dv_arena *a, const char *s, size_t len);
/* Total bytes handed out (for memory accounting and tests). */
size_t dv_arena_used(const dv_arena *a);

/* ---- values -------------------------------------------------------------- */

typedef enum dv_type {
  DV_NONE = 0, /* "no value" (absent attribute); never stored */
  DV_S,        /* string: UTF-8 bytes */
  DV_N,        /* number: canonical decimal text (see dv_num_format) */
  DV_B,        /* binary: raw (decoded) bytes */
  DV_BOOL,     /* boolean */
  DV_NULL,     /* null (always true) */
  DV_M,        /* map: attributes sorted by name bytes, names unique */
  DV_L,        /* list: elements in order, any types */
  DV_SS,       /* string set: DV_S elements, sorted bytewise, unique */
  DV_NS,       /* number set: DV_N elements, sorted by value, unique */
  DV_BS        /* binary set: DV_B elements, sorted bytewise, unique */
} dv_type;

typedef struct dv_value dv_value;
typedef struct dv_attr dv_attr;

struct dv_value {
  dv_type type; /* which member of u is live */
  uint32_t n;   /* S/N/B: byte length; M: attribute count; L/SS/NS/BS: element count */
  union {
    const char *bytes; /* S, N, B: n bytes (S and N are also NUL-terminated) */
    int boolean;       /* BOOL: 0 or 1 */
    dv_value *elems;   /* L, SS, NS, BS: n elements */
    dv_attr *attrs;    /* M: n attributes, sorted by name, unique */
  } u;
};

struct dv_attr {
  const char *name;  /* UTF-8 name, NUL-terminated */
  uint32_t name_len; /* bytes in name, without the NUL */
  dv_value value;    /* the attribute's value */
};

/* An item is a dv_value of type DV_M whose attributes are the top-level
 * attributes. */

/* Name of a type as DynamoDB spells it ("S", "N", ..., "BS"). */
const char *dv_type_name(dv_type t);
/* Type from its wire name ("S", ...), DV_NONE if unknown. */
dv_type dv_type_from_name(const char *name, size_t len);
/* 1 for S, N, B (the types that can be keys, set members, compared with < ). */
int dv_type_is_scalar_key(dv_type t);
/* The element type of a set type (DV_SS -> DV_S ...), DV_NONE otherwise. */
dv_type dv_set_elem_type(dv_type set);

/* Constructors: allocate from a; bytes are copied. */
dv_value dv_make_s(dv_arena *a, const char *s, size_t len);
dv_value dv_make_b(dv_arena *a, const void *p, size_t len);
dv_value dv_make_bool(int b);
dv_value dv_make_null(void);
/* Number from canonical text (the caller already validated it). */
dv_value dv_make_n_text(dv_arena *a, const char *canon, size_t len);

/* Deep copy into a. */
dv_value dv_clone(dv_arena *a, const dv_value *v);

/* Lookup of an attribute of a map by name; NULL if absent. Binary search. */
const dv_value *dv_map_get(const dv_value *m, const char *name, size_t len);

/* Sort a map's attributes by name (bytewise). Returns 0, or -1 if two
 * attributes share a name (the map is still sorted). */
int dv_map_sort(dv_value *m);

/* Sort a set's elements (SS/BS bytewise, NS by numeric value). Returns 0, or
 * -1 if the set holds duplicates (equal by DynamoDB's rules: NS by value).
 * On -1, *dup_index (if not NULL) is the index, after sorting, of the first
 * element equal to its predecessor. */
int dv_set_sort(dv_value *set, uint32_t *dup_index);

/* DynamoDB ordering of two scalar values of the same type (S, N, B):
 * S and B by unsigned bytes (shorter prefix first), N by numeric value.
 * Returns <0, 0, >0. Undefined for other types or mixed types (asserts). */
int dv_compare(const dv_value *a, const dv_value *b);

/* Deep equality as DynamoDB's "=" sees it: same type and same value; numbers
 * by value, sets as sets, maps as maps, lists element by element. */
int dv_equal(const dv_value *a, const dv_value *b);

/* DynamoDB size of a value (operations.md 1.6): S/B bytes, N by digits,
 * BOOL/NULL 1, sets the sum of members, L 3 + sum(1 + elem), M 3 + sum(name
 * + 1 + value). */
size_t dv_value_size(const dv_value *v);
/* Size of an item: sum over top-level attributes of name bytes + value size. */
size_t dv_item_size(const dv_value *item);

/* Nesting depth with a scalar at depth 1 inside its attribute: a top-level
 * scalar attribute value has depth 1, {"M":{"a":{"S":"x"}}} has depth 2. */
int dv_depth(const dv_value *v);

/* ---- numbers ------------------------------------------------------------- */

#define DV_NUM_MAXDIG 38
/* Longest canonical text: sign, "0.", 129 zeros, 38 digits, NUL. */
#define DV_NUM_MAXTEXT 192
/* Longest order-preserving key encoding (dv_num_keyenc). */
#define DV_NUM_KEYMAX 24

/* A decimal number: value = sign * 0.d[0]d[1]...d[ndig-1] * 10^exp, with
 * d[0] != 0 and d[ndig-1] != 0 (normalised) unless the value is zero, where
 * sign = 0 and ndig = 0. */
typedef struct dv_num {
  int8_t sign;                 /* -1, 0 or +1 */
  uint8_t ndig;                /* significant digits, 0..38 */
  int32_t exp;                 /* decimal exponent as above */
  uint8_t dig[DV_NUM_MAXDIG];  /* digits 0..9 */
} dv_num;

/* Status codes of number parsing and arithmetic. */
#define DV_NUM_OK 0
#define DV_NUM_ENOTNUM 1   /* "The parameter cannot be converted to a numeric value" */
#define DV_NUM_EDIGITS 2   /* "Attempting to store more than 38 significant digits in a Number" */
#define DV_NUM_EOVERFLOW 3 /* "Number overflow. ..." (magnitude >= 1E126) */
#define DV_NUM_EUNDERFLOW 4 /* "Number underflow. ..." (0 < magnitude < 1E-130) */

/* Parse DynamoDB number text (operations.md 1.3): [+-]?digits?(.digits?)?([eE][+-]?digits)?,
 * at least one mantissa digit; no spaces. Zero is range-checked by the
 * exponent it is written with. Returns DV_NUM_OK or an error code. */
int dv_num_parse(const char *s, size_t len, dv_num *out);
/* Canonical plain decimal text (no exponent, no '+', no leading zeros, no
 * trailing fractional zeros, "-0" -> "0"). buf must hold DV_NUM_MAXTEXT
 * bytes; it is NUL-terminated. Returns the length. */
size_t dv_num_format(const dv_num *n, char *buf);
/* Numeric comparison: <0, 0, >0. */
int dv_num_cmp(const dv_num *a, const dv_num *b);
/* Exact a + b and a - b. DV_NUM_EOVERFLOW when the exact result needs more
 * than 38 significant digits or is out of range (DynamoDB reports both as
 * overflow), DV_NUM_EUNDERFLOW when too small. */
int dv_num_add(const dv_num *a, const dv_num *b, dv_num *out);
int dv_num_sub(const dv_num *a, const dv_num *b, dv_num *out);
/* DynamoDB size: 1 + ceil(i/2) + ceil(f/2) + (negative ? 1 : 0); zero = 1. */
size_t dv_num_size(const dv_num *n);
/* Order-preserving, self-delimiting binary encoding: memcmp order of two
 * encodings equals numeric order. Writes at most DV_NUM_KEYMAX bytes and
 * returns the length. */
size_t dv_num_keyenc(const dv_num *n, uint8_t *out);
/* Inverse of dv_num_keyenc; returns bytes consumed, 0 if malformed. */
size_t dv_num_keydec(const uint8_t *p, size_t len, dv_num *out);
/* Parse canonical text that is known valid (asserts in debug builds). */
void dv_num_from_value(const dv_value *v, dv_num *out);

#endif /* DF_VALUE_H */
