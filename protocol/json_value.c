/*
 * json_value.c -- wire JSON <-> dv_value, and the request shape checker.
 *
 * Shapes (protocol.md 2.1 step 8): every request member has a static shape
 * (string, long, boolean, blob, list, map, structure) mirroring botocore's
 * model. p__shape_check walks a body against its shape before any other
 * check, so that a member of the wrong JSON type is a SerializationException
 * whatever else is wrong; the messages are those of AWS's Java (Jackson)
 * deserializer. JSON null anywhere means "absent"; unknown structure members
 * are ignored.
 *
 * Values (operations.md 1.1-1.4): p_value_from_json converts an
 * AttributeValue that passed the shape check into a dv_value, doing the
 * value checks of operations.md 1.2 in the wording of the given layer:
 * exactly one type key, numbers parsed and normalised, sets non-empty,
 * sorted and free of duplicates, NULL true, nesting at most 32 levels.
 * The pieces of those checks are shared with plain.c (the /v1/ face's plain
 * JSON) through protocol_int.h, so both faces answer with the same words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/protocol_int.h"

/* ---- shapes ------------------------------------------------------------------ */

const p__shape p__sh_string = {P_SH_STRING, "class java.lang.String", NULL, NULL};
const p__shape p__sh_long = {P_SH_LONG, "class java.lang.Long", NULL, NULL};
const p__shape p__sh_integer = {P_SH_INTEGER, "class java.lang.Integer", NULL, NULL};
const p__shape p__sh_bool = {P_SH_BOOL, "class java.lang.Boolean", NULL, NULL};
const p__shape p__sh_blob = {P_SH_BLOB, "class java.nio.ByteBuffer", NULL, NULL};

static const p__shape sh_string_set = {P_SH_LIST, NULL, &p__sh_string, NULL};
static const p__shape sh_blob_set = {P_SH_LIST, NULL, &p__sh_blob, NULL};
static const p__shape sh_av_list = {P_SH_LIST, NULL, &p__sh_av, NULL};

static const p__member k_av_members[] = {
    {"S", &p__sh_string},   {"N", &p__sh_string},  {"B", &p__sh_blob},   {"SS", &sh_string_set},
    {"NS", &sh_string_set}, {"BS", &sh_blob_set},  {"M", &p__sh_av_map}, {"L", &sh_av_list},
    {"NULL", &p__sh_bool},  {"BOOL", &p__sh_bool}, {NULL, NULL}};

const p__shape p__sh_av = {P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.AttributeValue", NULL,
                           k_av_members};
const p__shape p__sh_av_map = {
    P_SH_MAP, "java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.AttributeValue>", &p__sh_av,
    NULL};
const p__shape p__sh_string_list = {P_SH_LIST, NULL, &p__sh_string, NULL};
const p__shape p__sh_string_map = {P_SH_MAP, "java.util.Map<java.lang.String, java.lang.String>",
                                   &p__sh_string, NULL};

static const p__member k_expected_members[] = {{"Value", &p__sh_av},
                                               {"Exists", &p__sh_bool},
                                               {"ComparisonOperator", &p__sh_string},
                                               {"AttributeValueList", &sh_av_list},
                                               {NULL, NULL}};
static const p__shape sh_expected = {
    P_SH_STRUCT, "class com.amazonaws.dynamodb.v20120810.ExpectedAttributeValue", NULL, k_expected_members};
const p__shape p__sh_expected_map = {
    P_SH_MAP, "java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.ExpectedAttributeValue>",
    &sh_expected, NULL};

static const char *java_simple(p__kind k) {
  switch (k) {
    case P_SH_STRING:
      return "String";
    case P_SH_LONG:
      return "Long";
    case P_SH_INTEGER:
      return "Integer";
    case P_SH_BOOL:
      return "Boolean";
    default:
      return "Object";
  }
}

static int ser(p_error *err, const char *msg) {
  return p_error_set(err, P_SERIALIZATION, "%s", msg);
}

#define MSG_START_MAP "Start of structure or map found where not expected"

/* Lenient boolean text: 1 true, 0 false, -1 not a boolean. */
static int bool_text(const char *s) {
  if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes")) return 1;
  if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no")) return 0;
  return -1;
}

int p__bool_value(const json_t *j) {
  if (json_is_string(j)) return bool_text(json_string_value(j)) == 1;
  return json_is_true(j);
}

static int scalar_type_error(const json_t *j, const p__shape *sh, p_error *err) {
  const char *to = java_simple(sh->kind);
  switch (json_typeof(j)) {
    case JSON_TRUE:
      return p_error_set(err, P_SERIALIZATION, "TRUE_VALUE cannot be converted to %s", to);
    case JSON_FALSE:
      return p_error_set(err, P_SERIALIZATION, "FALSE_VALUE cannot be converted to %s", to);
    case JSON_INTEGER:
      return p_error_set(err, P_SERIALIZATION, "NUMBER_VALUE cannot be converted to %s", to);
    case JSON_REAL:
      return p_error_set(err, P_SERIALIZATION, "DECIMAL_VALUE cannot be converted to %s", to);
    case JSON_STRING:
      return p_error_set(err, P_SERIALIZATION, "STRING_VALUE cannot be converted to %s", to);
    case JSON_ARRAY:
      return p_error_set(err, P_SERIALIZATION, "Unrecognized collection type %s", sh->java);
    case JSON_OBJECT:
      return ser(err, MSG_START_MAP);
    default:
      return 0;
  }
}

int p__shape_check(const json_t *j, const p__shape *sh, p_error *err) {
  if (!j || json_is_null(j)) return 0;
  switch (sh->kind) {
    case P_SH_STRING:
      if (json_is_string(j)) return 0;
      return scalar_type_error(j, sh, err);
    case P_SH_LONG:
    case P_SH_INTEGER:
      if (json_is_number(j)) return 0;
      return scalar_type_error(j, sh, err);
    case P_SH_BOOL:
      if (json_is_boolean(j)) return 0;
      if (json_is_string(j)) {
        const char *s = json_string_value(j);
        if (bool_text(s) >= 0) return 0;
        size_t n = json_string_length(j);
        char *up = p__xmalloc(n + 1);
        for (size_t i = 0; i < n; i++) up[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 32) : s[i];
        up[n] = '\0';
        p_error_set(err, P_SERIALIZATION, "'%s' can not be converted to an Boolean", up);
        free(up);
        return -1;
      }
      return scalar_type_error(j, sh, err);
    case P_SH_BLOB:
      if (json_is_string(j)) return p__b64_check(json_string_value(j), json_string_length(j), err);
      if (json_is_boolean(j) || json_is_number(j))
        return ser(err, "only base-64-encoded strings are convertible to bytes");
      return scalar_type_error(j, sh, err);
    case P_SH_LIST: {
      if (json_is_object(j)) return ser(err, MSG_START_MAP);
      if (!json_is_array(j)) return ser(err, "Unexpected field type");
      size_t i;
      const json_t *v;
      json_array_foreach(j, i, v) if (p__shape_check(v, sh->elem, err)) return -1;
      return 0;
    }
    case P_SH_MAP: {
      if (json_is_array(j))
        return p_error_set(err, P_SERIALIZATION, "Unrecognized collection type %s", sh->java);
      if (!json_is_object(j)) return ser(err, "Unexpected field type");
      const char *k;
      const json_t *v;
      json_object_foreach((json_t *)j, k, v) if (p__shape_check(v, sh->elem, err)) return -1;
      return 0;
    }
    case P_SH_STRUCT: {
      if (json_is_array(j))
        return p_error_set(err, P_SERIALIZATION, "Unrecognized collection type %s", sh->java);
      if (!json_is_object(j)) return ser(err, "Unexpected value type in payload");
      /* Document order, as a streaming deserializer meets them. */
      const char *k;
      const json_t *v;
      json_object_foreach((json_t *)j, k, v) {
        for (const p__member *m = sh->members; m->name; m++)
          if (strcmp(m->name, k) == 0) {
            if (p__shape_check(v, m->shape, err)) return -1;
            break;
          }
      }
      return 0;
    }
  }
  return 0;
}

/* ---- JSON helpers -------------------------------------------------------------- */

/* Request objects are small and the checks ask for every member an
 * operation knows (38 for a Query), most of them absent: up to
 * SMALL_OBJECT members, a walk over the keys is cheaper than jansson's
 * hashing of the name (about 200 instructions a lookup). */
#define SMALL_OBJECT 8

const json_t *p__member_get(const json_t *obj, const char *name) {
  if (!json_is_object(obj)) return NULL;
  const json_t *v = NULL;
  if (json_object_size(obj) <= SMALL_OBJECT) {
    json_t *o = (json_t *)obj; /* the iterator API takes no const */
    size_t n = strlen(name);
    for (void *it = json_object_iter(o); it != NULL; it = json_object_iter_next(o, it))
      if (json_object_iter_key_len(it) == n && memcmp(json_object_iter_key(it), name, n) == 0) {
        v = json_object_iter_value(it);
        break;
      }
  } else {
    v = json_object_get(obj, name);
  }
  return v && !json_is_null(v) ? v : NULL;
}

const char *p__member_str(const json_t *obj, const char *name, dv_arena *a, size_t *len) {
  const json_t *v = p__member_get(obj, name);
  if (!v || !json_is_string(v)) {
    if (len) *len = 0;
    return NULL;
  }
  size_t n = json_string_length(v);
  if (len) *len = n;
  return dv_arena_strndup(a, json_string_value(v), n);
}

/* ---- values: JSON -> dv_value -------------------------------------------------- */

#define INVALID "One or more parameter values were invalid: "

static int verr(p_error *err, const char *msg) {
  return p_error_set(err, P_VALIDATION, "%s", msg);
}

/* Old layer: Java's int exponent wraps for numbers whose adjusted exponent
 * passes 2^31 ("1e2147483647" reads as an underflow). */
static int old_layer_wraps(const char *s, size_t len) {
  size_t i = 0;
  if (i < len && (s[i] == '+' || s[i] == '-')) i++;
  size_t nint = 0, nfrac = 0, lead = 0;
  int seen_nonzero = 0;
  for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, nint++) {
    if (s[i] != '0') seen_nonzero = 1;
    if (!seen_nonzero) lead++;
  }
  if (i < len && s[i] == '.')
    for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nfrac++) {
      if (s[i] != '0') seen_nonzero = 1;
      if (!seen_nonzero) lead++;
    }
  if (!seen_nonzero || i >= len || (s[i] != 'e' && s[i] != 'E')) return 0;
  i++;
  int neg = 0;
  if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  long long e = 0;
  for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
    e = e * 10 + (s[i] - '0');
    if (e > 2147483647LL) return 0; /* not an int: plain overflow */
  }
  if (neg) return 0;
  long long precision = (long long)(nint + nfrac - lead);
  return precision - (long long)nfrac + e > 2147483647LL;
}

int p__number_from(const char *s, size_t len, p_layer layer, dv_arena *a, dv_value *out, p_error *err) {
  dv_num num;
  int rc = dv_num_parse(s, len, &num);
  if (rc == DV_NUM_EOVERFLOW && layer == P_LAYER_OLDER && old_layer_wraps(s, len)) rc = DV_NUM_EUNDERFLOW;
  switch (rc) {
    case DV_NUM_OK:
      break;
    case DV_NUM_EDIGITS:
      return verr(err, "Attempting to store more than 38 significant digits in a Number");
    case DV_NUM_EOVERFLOW:
      return verr(err,
                  "Number overflow. Attempting to store a number with magnitude larger than supported range");
    case DV_NUM_EUNDERFLOW:
      return verr(
          err, "Number underflow. Attempting to store a number with magnitude smaller than supported range");
    default:
      if (len == 0 && layer == P_LAYER_OLDER)
        return verr(err, "The parameter cannot be converted to a numeric value");
      return p_error_set(err, P_VALIDATION, "The parameter cannot be converted to a numeric value: %.*s",
                         (int)len, s);
  }
  char buf[DV_NUM_MAXTEXT];
  size_t n = dv_num_format(&num, buf);
  *out = dv_make_n_text(a, buf, n);
  return 0;
}

dv_value p__blob_from(const char *s, size_t len, dv_arena *a) {
  size_t n = p__b64_decoded_len(s, len);
  uint8_t *tmp = p__xmalloc(n);
  p__b64_decode(s, len, tmp);
  dv_value v = dv_make_b(a, tmp, n);
  free(tmp);
  return v;
}

static int bytes_cmp(const dv_value *x, const dv_value *y) {
  size_t n = x->n < y->n ? x->n : y->n;
  int c = n ? memcmp(x->u.bytes, y->u.bytes, n) : 0;
  if (c) return c;
  return x->n < y->n ? -1 : x->n > y->n;
}

static int bytes_cmp_q(const void *x, const void *y) {
  return bytes_cmp(x, y);
}

/* The duplicate message of a string or binary set (operations.md 1.2). sent
 * are the elements in request order, texts their wire texts. */
static int set_dup_error(dv_type t, const dv_value *sent, const json_t *texts, uint32_t n, p_layer layer,
                         p_error *err) {
  p__sbuf b = {0};
  const char *sep = t == DV_BS && layer == P_LAYER_CURRENT ? "," : ", ";
  p__sbuf_add(&b, INVALID "Input collection [", strlen(INVALID "Input collection ["));
  if (layer == P_LAYER_OLDER) {
    for (uint32_t i = 0; i < n; i++) {
      const json_t *e = json_array_get(texts, i);
      if (i) p__sbuf_add(&b, sep, strlen(sep));
      p__sbuf_add(&b, json_string_value(e), json_string_length(e));
    }
  } else {
    /* Sorted up to the first repeat, then the repeat, then the rest as sent:
     * what a sorted set holds when the insertion of the repeat fails. */
    uint32_t j = 1;
    for (; j < n; j++) {
      uint32_t i = 0;
      while (i < j && bytes_cmp(&sent[i], &sent[j]) != 0) i++;
      if (i < j) break;
    }
    uint32_t *order = p__xmalloc(sizeof(uint32_t) * (n ? n : 1));
    for (uint32_t i = 0; i < n; i++) order[i] = i;
    /* insertion sort of the prefix by element bytes (stable, small) */
    for (uint32_t i = 1; i < j && i < n; i++) {
      uint32_t x = order[i], k = i;
      while (k > 0 && bytes_cmp(&sent[order[k - 1]], &sent[x]) > 0) {
        order[k] = order[k - 1];
        k--;
      }
      order[k] = x;
    }
    for (uint32_t i = 0; i < n; i++) {
      const json_t *e = json_array_get(texts, order[i]);
      if (i) p__sbuf_add(&b, sep, strlen(sep));
      p__sbuf_add(&b, "\"", 1);
      p__sbuf_add(&b, json_string_value(e), json_string_length(e));
      p__sbuf_add(&b, "\"", 1);
    }
    free(order);
  }
  if (t == DV_BS)
    p__sbuf_add(&b, "]of type BS contains duplicates.", strlen("]of type BS contains duplicates."));
  else
    p__sbuf_add(&b, "] contains duplicates.", strlen("] contains duplicates."));
  p_error_set(err, P_VALIDATION, "%s", b.p);
  free(b.p);
  return -1;
}

int p__set_empty_error(dv_type t, p_error *err) {
  if (t == DV_SS) return verr(err, INVALID "An string set  may not be empty");
  if (t == DV_NS) return verr(err, INVALID "An number set  may not be empty");
  return verr(err, INVALID "Binary sets should not be empty");
}

int p__set_finish(dv_value *el, uint32_t n, dv_type t, const json_t *texts, p_layer layer, dv_arena *a,
                  dv_value *out, p_error *err) {
  out->type = t;
  out->n = n;
  out->u.elems = el;
  if (t == DV_NS) {
    if (dv_set_sort(out, NULL) != 0) {
      if (layer == P_LAYER_OLDER) return verr(err, "Input collection contains duplicates");
      return verr(err, INVALID "Input collection contains duplicates.");
    }
    return 0;
  }
  /* SS / BS: sort a copy first so the message can echo the request order. */
  dv_value *sorted = dv_arena_alloc(a, sizeof(dv_value) * n);
  memcpy(sorted, el, sizeof(dv_value) * n);
  qsort(sorted, n, sizeof(dv_value), bytes_cmp_q);
  for (uint32_t i = 1; i < n; i++)
    if (bytes_cmp(&sorted[i - 1], &sorted[i]) == 0) return set_dup_error(t, el, texts, n, layer, err);
  out->u.elems = sorted;
  return 0;
}

static int set_from(const json_t *arr, dv_type t, p_layer layer, dv_arena *a, dv_value *out, p_error *err) {
  uint32_t n = (uint32_t)json_array_size(arr);
  if (n == 0) return p__set_empty_error(t, err);
  dv_value *el = dv_arena_alloc(a, sizeof(dv_value) * n);
  for (uint32_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(arr, i);
    if (!json_is_string(e)) /* JSON null member: nothing to hold */
      return verr(err,
                  "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
    if (t == DV_SS) {
      el[i] = dv_make_s(a, json_string_value(e), json_string_length(e));
    } else if (t == DV_NS) {
      if (p__number_from(json_string_value(e), json_string_length(e), layer, a, &el[i], err)) return -1;
    } else {
      el[i] = p__blob_from(json_string_value(e), json_string_length(e), a);
    }
  }
  return p__set_finish(el, n, t, arr, layer, a, out, err);
}

static int av_convert(const json_t *j, int depth, p_layer layer, dv_arena *a, dv_value *out, p_error *err);

int p__attr_name_check(size_t len, bool top, p_error *err) {
  if (top && len == 0) return verr(err, "Empty attribute name");
  if (len > 65535) return verr(err, INVALID "Attribute name exceeds the maximum length of 65535 bytes");
  return 0;
}

int p__depth_check(int depth, p_error *err) {
  if (depth <= P__MAX_DEPTH) return 0;
  return verr(err,
              "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels "
              "beyond supported limit");
}

static int map_convert(const json_t *obj, int depth, p_layer layer, dv_arena *a, dv_value *out, p_error *err,
                       bool top) {
  uint32_t n = (uint32_t)json_object_size(obj);
  dv_attr *attrs = dv_arena_alloc(a, sizeof(dv_attr) * (n ? n : 1));
  uint32_t k = 0;
  const char *name;
  const json_t *v;
  json_object_foreach((json_t *)obj, name, v) {
    size_t nlen = strlen(name);
    if (p__attr_name_check(nlen, top, err)) return -1;
    attrs[k].name = dv_arena_strndup(a, name, nlen);
    attrs[k].name_len = (uint32_t)nlen;
    if (av_convert(v, depth, layer, a, &attrs[k].value, err)) return -1;
    k++;
  }
  out->type = DV_M;
  out->n = k;
  out->u.attrs = attrs;
  dv_map_sort(out); /* names of a JSON object are unique */
  return 0;
}

/* The type keys of an AttributeValue, in the order that picks the type when
 * several are set (only the count matters then: it is an error). */
static const dv_type k_type_vals[] = {DV_S, DV_N, DV_B, DV_SS, DV_NS, DV_BS, DV_M, DV_L, DV_NULL, DV_BOOL};

/* Index of key k in k_type_vals's order ("S" 0 ... "BOOL" 9), -1 if none. */
static int type_key_index(const char *k) {
  switch (k[0]) {
    case 'S':
      return k[1] == '\0' ? 0 : (k[1] == 'S' && k[2] == '\0') ? 3 : -1;
    case 'N':
      if (k[1] == '\0') return 1;
      if (k[1] == 'S' && k[2] == '\0') return 4;
      return strcmp(k + 1, "ULL") == 0 ? 8 : -1;
    case 'B':
      if (k[1] == '\0') return 2;
      if (k[1] == 'S' && k[2] == '\0') return 5;
      return strcmp(k + 1, "OOL") == 0 ? 9 : -1;
    case 'M':
      return k[1] == '\0' ? 6 : -1;
    case 'L':
      return k[1] == '\0' ? 7 : -1;
    default:
      return -1;
  }
}

static int av_convert(const json_t *j, int depth, p_layer layer, dv_arena *a, dv_value *out, p_error *err) {
  if (p__depth_check(depth, err)) return -1;
  memset(out, 0, sizeof *out);
  int found = 0, best = -1;
  const json_t *v = NULL;
  if (json_is_object(j)) { /* one pass over the members (usually one) */
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)j, k, x) {
      int i = type_key_index(k);
      if (i < 0 || json_is_null(x)) continue;
      if (best < 0 || i < best) {
        best = i;
        v = x;
      }
      found++;
    }
  }
  dv_type t = best >= 0 ? k_type_vals[best] : DV_NONE;
  if (found == 0)
    return verr(err, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
  if (found > 1)
    return verr(err,
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the "
                "supported datatypes");
  switch (t) {
    case DV_S:
      *out = dv_make_s(a, json_string_value(v), json_string_length(v));
      return 0;
    case DV_N:
      return p__number_from(json_string_value(v), json_string_length(v), layer, a, out, err);
    case DV_B:
      *out = p__blob_from(json_string_value(v), json_string_length(v), a);
      return 0;
    case DV_BOOL:
      *out = dv_make_bool(p__bool_value(v));
      return 0;
    case DV_NULL:
      if (!p__bool_value(v))
        return verr(err, INVALID "Null attribute value types must have the value of true");
      *out = dv_make_null();
      return 0;
    case DV_M:
      return map_convert(v, depth + 1, layer, a, out, err, false);
    case DV_L: {
      uint32_t n = (uint32_t)json_array_size(v);
      dv_value *el = dv_arena_alloc(a, sizeof(dv_value) * (n ? n : 1));
      for (uint32_t i = 0; i < n; i++)
        if (av_convert(json_array_get(v, i), depth + 1, layer, a, &el[i], err)) return -1;
      out->type = DV_L;
      out->n = n;
      out->u.elems = el;
      return 0;
    }
    case DV_SS:
    case DV_NS:
    case DV_BS:
      return set_from(v, t, layer, a, out, err);
    default:
      return -1;
  }
}

int p_value_from_json(const json_t *j, int depth, p_layer layer, dv_arena *a, dv_value *out, p_error *err) {
  if (p__shape_check(j, &p__sh_av, err)) return -1;
  return av_convert(j, depth, layer, a, out, err);
}

int p__item_convert(const json_t *j, p_layer layer, dv_arena *a, dv_value *out, p_error *err) {
  return map_convert(j, 1, layer, a, out, err, true);
}

int p_item_from_json(const json_t *j, p_layer layer, dv_arena *a, dv_value *out, p_error *err) {
  if (!json_is_object(j)) {
    if (p__shape_check(j, &p__sh_av_map, err)) return -1;
    return verr(err, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
  }
  if (p__shape_check(j, &p__sh_av_map, err)) return -1;
  return map_convert(j, 1, layer, a, out, err, true);
}

/* ---- values: dv_value -> JSON ---------------------------------------------------- */

static json_t *str_json(const char *p, size_t n) {
  json_t *s = json_stringn(p, n);
  return s ? s : json_stringn_nocheck(p, n);
}

static json_t *blob_json(const dv_value *v) {
  char *buf = p__xmalloc(p__b64_encoded_len(v->n) + 1);
  size_t n = p__b64_encode((const uint8_t *)v->u.bytes, v->n, buf);
  json_t *s = json_stringn_nocheck(buf, n);
  free(buf);
  return s;
}

static json_t *typed(const char *k, json_t *v) {
  json_t *o = json_object();
  json_object_set_new(o, k, v);
  return o;
}

json_t *p_value_to_json(const dv_value *v) {
  switch (v->type) {
    case DV_S:
      return typed("S", str_json(v->u.bytes, v->n));
    case DV_N:
      return typed("N", json_stringn_nocheck(v->u.bytes, v->n));
    case DV_B:
      return typed("B", blob_json(v));
    case DV_BOOL:
      return typed("BOOL", json_boolean(v->u.boolean));
    case DV_NULL:
      return typed("NULL", json_true());
    case DV_M:
      return typed("M", p_item_to_json(v));
    case DV_L: {
      json_t *arr = json_array();
      for (uint32_t i = 0; i < v->n; i++) json_array_append_new(arr, p_value_to_json(&v->u.elems[i]));
      return typed("L", arr);
    }
    case DV_SS:
    case DV_NS:
    case DV_BS: {
      json_t *arr = json_array();
      for (uint32_t i = 0; i < v->n; i++) {
        const dv_value *e = &v->u.elems[i];
        json_array_append_new(arr, v->type == DV_BS ? blob_json(e) : str_json(e->u.bytes, e->n));
      }
      return typed(dv_type_name(v->type), arr);
    }
    default:
      return json_object();
  }
}

json_t *p_item_to_json(const dv_value *item) {
  json_t *o = json_object();
  if (!item || item->type != DV_M) return o;
  for (uint32_t i = 0; i < item->n; i++) {
    const dv_attr *at = &item->u.attrs[i];
    json_object_setn_new_nocheck(o, at->name, at->name_len, p_value_to_json(&at->value));
  }
  return o;
}
