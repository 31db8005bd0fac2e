/*
 * plain.c -- items as plain JSON, the notation of the /v1/ REST face:
 * plain JSON <-> dv_value, a key attribute from a URL path segment, RFC 7396
 * merge patches of items, and stream records with plain images.
 *
 * The notation (protocol.h, docs/REST.md):
 *
 *   JSON                      type  notes
 *   "text"                    S
 *   12, -3.5, 1e-130          N     see "Numbers" below
 *   true / false              BOOL
 *   null                      NULL
 *   [ ... ]                   L
 *   { ... }                   M     unless it is one of the one-member objects below
 *   {"$b": "<base64>"}        B     standard base64, strict (the wire's rules)
 *   {"$n": "<decimal>"}       N     the text exactly (all 38 digits)
 *   {"$ss": ["a", ...]}       SS
 *   {"$ns": [1, "2.5", ...]}  NS    members numbers or decimal strings
 *   {"$bs": ["<base64>", ...]} BS
 *   {"$m": { ... }}           M     the object taken literally
 *
 * A one-member object whose member name starts with '$' is always read as
 * notation; any other such name is refused ("Unknown notation"), so a map
 * whose only member is "$x" must be written {"$m": {"$x": ...}} -- which is
 * what the writer does. An item (the top level of p_plain_item /
 * p_write_plain_item / a merge patch) is an object of attribute names, never
 * notation: an item whose only attribute is "$b" is just that.
 *
 * Numbers. A JSON integer (jansson: one that fits a long long) is read
 * exactly. A JSON real is a double by then: it becomes the shortest of its
 * %.15g, %.16g, %.17g texts that reads back as the same double, so 0.1 stays
 * 0.1; reals of 16 or more significant digits are thus rounded to what a
 * double holds ({"$n": "..."} keeps every digit). Either text then goes
 * through dv_num_parse with the DynamoDB face's messages (range, 38
 * digits). Output: the canonical digits as a JSON number literal -- as
 * dv_num_format prints them (plain decimal: "0.1", "-12", "0.00...01"),
 * except integers beyond a long long, which jansson (so our own PUT) could
 * not read back as an integer: those are written in exponent form with the
 * same digits, "1.5E+40", "1.2345678901234567890123456789012345678E+37". A
 * client that parses numbers as decimals gets every digit; our parser
 * reads them back exactly when they have at most 15 significant digits.
 *
 * Key segments (p_plain_key_segment): S is the segment as is (non-empty,
 * valid UTF-8), N any number text dv_num_parse reads (canonicalised), B
 * base64url or standard base64, padded or not, otherwise strict (unused
 * bits zero). Key sizes are p_check_key's business.
 *
 * Merge patches (p_plain_merge_patch) follow RFC 7396 on the typed item:
 * members in document order; null removes the attribute; an object that
 * is not notation merges into the attribute when it is a map (else into
 * an empty map, so nulls inside it vanish); anything else -- notation
 * objects included -- replaces, so {"$m": {...}} replaces a map wholesale.
 * As in RFC 7396, a patch cannot store NULL (null means "remove"): a PUT
 * can. Key attributes may appear only with their current value. The result
 * never borrows from the old item (names and values are copied into the
 * arena), so the old item's arena may be freed first.
 *
 * Checks and messages are the wire converter's (json_value.c, shared
 * through protocol_int.h): nesting depth 32, top-level attribute names
 * non-empty, set members unique and sets non-empty, base64. Errors are all
 * ValidationExceptions (bad base64 too, where the wire answers a
 * SerializationException: REST has no such class).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol_int.h"

#define INVALID "One or more parameter values were invalid: "

/* ---- plain JSON -> dv_value ------------------------------------------------------ */

/* The member name of a one-member object whose name starts with '$' (and
 * its value in *val), NULL for anything else. */
static const char *notation_key(const json_t *j, const json_t **val) {
  if (!json_is_object(j) || json_object_size(j) != 1) return NULL;
  void *it = json_object_iter((json_t *)j);
  const char *k = json_object_iter_key(it);
  if (k[0] != '$') return NULL;
  if (val) *val = json_object_iter_value(it);
  return k;
}

/* Shortest of %.15g .. %.17g that reads back as d (cap >= 32). */
static void real_text(double d, char *buf, size_t cap) {
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, cap, "%.*g", prec, d);
    if (prec == 17 || strtod(buf, NULL) == d) return;
  }
}

/* ---- exact numbers in request text ----------------------------------------- */

/* 1 when the number literal t[0..n) would not survive jansson (a double
 * keeps 15 significant digits; an integer literal past int64 is refused). */
static int literal_needs_exact(const char *t, size_t n) {
  size_t sig = 0, digits = 0;
  int leading = 1, integer = 1;
  for (size_t i = 0; i < n; i++) {
    char c = t[i];
    if (c == 'e' || c == 'E') {
      integer = 0;
      break;
    }
    if (c == '.') {
      integer = 0;
      continue;
    }
    if (c < '0' || c > '9') continue;
    digits++;
    if (c == '0' && leading) continue;
    leading = 0;
    sig++;
  }
  return sig > 15 || (integer && digits > 18);
}

char *p_plain_exact_numbers(const char *text, size_t len, size_t *out_len) {
  p_buf b;
  p_buf_init(&b);
  size_t done = 0; /* text[0..done) is in b already */
  int changed = 0;
  for (size_t i = 0; i < len;) {
    char c = text[i];
    if (c == '"') { /* skip a string, escapes included */
      for (i++; i < len && text[i] != '"'; i++)
        if (text[i] == '\\') i++;
      i++;
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) {
      i++;
      continue;
    }
    size_t j = i + 1;
    while (j < len && (strchr("0123456789.eE+-", text[j]) != NULL && text[j] != '\0')) j++;
    if (literal_needs_exact(text + i, j - i)) {
      p_buf_append(&b, text + done, i - done);
      p_buf_puts(&b, "{\"$n\":\"");
      p_buf_append(&b, text + i, j - i);
      p_buf_puts(&b, "\"}");
      done = j;
      changed = 1;
    }
    i = j;
  }
  if (!changed) {
    p_buf_free(&b);
    return NULL;
  }
  p_buf_append(&b, text + done, len - done);
  return p_buf_steal(&b, out_len);
}

/* A JSON number (integer or real) -> N. */
static int number_json(const json_t *j, dv_arena *a, dv_value *out, p_error *err) {
  char buf[40];
  if (json_is_integer(j)) {
    snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
  } else {
    double d = json_real_value(j);
    if (!isfinite(d)) /* jansson never parses one; json_real() refuses them too */
      return p_error_set(err, P_VALIDATION, "The parameter cannot be converted to a numeric value: %g", d);
    real_text(d, buf, sizeof buf);
  }
  return p__number_from(buf, strlen(buf), P_LAYER_CURRENT, a, out, err);
}

/* Base64 text -> B, with the wire's checks but as a ValidationException. */
static int blob_text(const char *s, size_t len, dv_arena *a, dv_value *out, p_error *err) {
  if (p__b64_check(s, len, err)) {
    err->code = P_VALIDATION;
    return -1;
  }
  *out = p__blob_from(s, len, a);
  return 0;
}

static int plain_set(const json_t *arr, dv_type t, const char *key, dv_arena *a, dv_value *out,
                     p_error *err) {
  const char *what = t == DV_SS ? "strings" : t == DV_NS ? "numbers or decimal strings" : "base64 strings";
  if (!json_is_array(arr))
    return p_error_set(err, P_VALIDATION, INVALID "\"%s\" takes an array of %s", key, what);
  uint32_t n = (uint32_t)json_array_size(arr);
  if (n == 0) return p__set_empty_error(t, err);
  dv_value *el = dv_arena_alloc(a, sizeof(dv_value) * n);
  for (uint32_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(arr, i);
    int rc = 0;
    const json_t *exact = t == DV_NS && json_is_object(e) && json_object_size(e) == 1 ? json_object_get(e, "$n") : NULL;
    if (t == DV_NS && json_is_number(e))
      rc = number_json(e, a, &el[i], err);
    else if (exact && json_is_string(exact)) /* {"$n": "..."}: what p_plain_exact_numbers writes */
      rc = p__number_from(json_string_value(exact), json_string_length(exact), P_LAYER_CURRENT, a, &el[i], err);
    else if (!json_is_string(e))
      return p_error_set(err, P_VALIDATION, INVALID "\"%s\" takes an array of %s", key, what);
    else if (t == DV_SS)
      el[i] = dv_make_s(a, json_string_value(e), json_string_length(e));
    else if (t == DV_NS)
      rc = p__number_from(json_string_value(e), json_string_length(e), P_LAYER_CURRENT, a, &el[i], err);
    else
      rc = blob_text(json_string_value(e), json_string_length(e), a, &el[i], err);
    if (rc) return -1;
  }
  /* texts is read only for SS and BS, whose members are all strings here. */
  return p__set_finish(el, n, t, arr, P_LAYER_CURRENT, a, out, err);
}

/* Members of obj, each at depth, taken literally -> DV_M. top: an item's
 * attributes (names must be non-empty). */
static int plain_map(const json_t *obj, int depth, bool top, dv_arena *a, dv_value *out, p_error *err) {
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
    if (p_plain_value(v, depth, a, &attrs[k].value, err)) return -1;
    k++;
  }
  out->type = DV_M;
  out->n = k;
  out->u.attrs = attrs;
  dv_map_sort(out); /* names of a JSON object are unique */
  return 0;
}

static int notation_value(const char *key, const json_t *v, int depth, dv_arena *a, dv_value *out,
                          p_error *err) {
  if (!strcmp(key, "$b")) {
    if (!json_is_string(v)) return p_error_set(err, P_VALIDATION, INVALID "\"$b\" takes a base64 string");
    return blob_text(json_string_value(v), json_string_length(v), a, out, err);
  }
  if (!strcmp(key, "$n")) {
    if (!json_is_string(v))
      return p_error_set(err, P_VALIDATION, INVALID "\"$n\" takes a string holding a decimal number");
    return p__number_from(json_string_value(v), json_string_length(v), P_LAYER_CURRENT, a, out, err);
  }
  if (!strcmp(key, "$m")) {
    if (!json_is_object(v)) return p_error_set(err, P_VALIDATION, INVALID "\"$m\" takes an object");
    return plain_map(v, depth + 1, false, a, out, err);
  }
  if (!strcmp(key, "$ss")) return plain_set(v, DV_SS, key, a, out, err);
  if (!strcmp(key, "$ns")) return plain_set(v, DV_NS, key, a, out, err);
  if (!strcmp(key, "$bs")) return plain_set(v, DV_BS, key, a, out, err);
  return p_error_set(err, P_VALIDATION,
                     INVALID
                     "Unknown notation \"%.200s\": an object whose only member name starts with '$' "
                     "must be one of $b, $n, $ss, $ns, $bs, $m (write such a map as {\"$m\": {...}})",
                     key);
}

int p_plain_value(const json_t *j, int depth, dv_arena *a, dv_value *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (p__depth_check(depth, err)) return -1;
  switch (j ? json_typeof(j) : JSON_NULL) {
    case JSON_STRING:
      *out = dv_make_s(a, json_string_value(j), json_string_length(j));
      return 0;
    case JSON_INTEGER:
    case JSON_REAL:
      return number_json(j, a, out, err);
    case JSON_TRUE:
      *out = dv_make_bool(1);
      return 0;
    case JSON_FALSE:
      *out = dv_make_bool(0);
      return 0;
    case JSON_NULL:
      *out = dv_make_null();
      return 0;
    case JSON_ARRAY: {
      uint32_t n = (uint32_t)json_array_size(j);
      dv_value *el = dv_arena_alloc(a, sizeof(dv_value) * (n ? n : 1));
      for (uint32_t i = 0; i < n; i++)
        if (p_plain_value(json_array_get(j, i), depth + 1, a, &el[i], err)) return -1;
      out->type = DV_L;
      out->n = n;
      out->u.elems = el;
      return 0;
    }
    case JSON_OBJECT: {
      const json_t *v = NULL;
      const char *key = notation_key(j, &v);
      if (key) return notation_value(key, v, depth, a, out, err);
      return plain_map(j, depth + 1, false, a, out, err);
    }
  }
  return -1; /* not reached: every json_type is handled */
}

int p_plain_item(const json_t *j, dv_arena *a, dv_value *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(j)) return p_error_set(err, P_VALIDATION, INVALID "An item must be a JSON object");
  return plain_map(j, 1, true, a, out, err);
}

/* ---- dv_value -> plain JSON ------------------------------------------------------- */

static inline void put_char(p_buf *b, char ch) {
  p_buf_append(b, &ch, 1);
}

/* Canonical number text as a JSON number literal (see the top). */
static void write_number(p_buf *b, const char *t, size_t n) {
  static const char llmax[] = "9223372036854775807";
  size_t neg = n > 0 && t[0] == '-';
  size_t digits = n - neg;
  if (memchr(t, '.', n) || digits < sizeof llmax - 1 ||
      (digits == sizeof llmax - 1 && memcmp(t + neg, llmax, digits) <= 0)) {
    p_buf_append(b, t, n);
    return;
  }
  /* An integer of 19+ digits, no leading zero: d.ddd E+(digits-1), the
   * trailing zeros dropped. */
  size_t k = digits;
  while (k > 1 && t[neg + k - 1] == '0') k--;
  if (neg) put_char(b, '-');
  put_char(b, t[neg]);
  if (k > 1) {
    put_char(b, '.');
    p_buf_append(b, t + neg + 1, k - 1);
  }
  char e[32];
  snprintf(e, sizeof e, "E+%zu", digits - 1);
  p_buf_puts(b, e);
}

static void write_blob(p_buf *b, const dv_value *v) {
  p_buf_reserve(b, p__b64_encoded_len(v->n) + 3);
  b->data[b->len++] = '"';
  b->len += p__b64_encode((const uint8_t *)v->u.bytes, v->n, b->data + b->len);
  b->data[b->len++] = '"';
}

/* A map's members, literally. */
static void write_map(p_buf *b, const dv_value *m) {
  put_char(b, '{');
  for (uint32_t i = 0; i < m->n; i++) {
    const dv_attr *at = &m->u.attrs[i];
    if (i > 0) put_char(b, ',');
    p_write_json_string(b, at->name, at->name_len);
    put_char(b, ':');
    p_write_plain_value(b, &at->value);
  }
  put_char(b, '}');
}

void p_write_plain_value(p_buf *b, const dv_value *v) {
  switch (v->type) {
    case DV_S:
      p_write_json_string(b, v->u.bytes, v->n);
      return;
    case DV_N:
      write_number(b, v->u.bytes, v->n);
      return;
    case DV_B:
      p_buf_puts(b, "{\"$b\":");
      write_blob(b, v);
      put_char(b, '}');
      return;
    case DV_BOOL:
      p_buf_puts(b, v->u.boolean ? "true" : "false");
      return;
    case DV_M:
      if (v->n == 1 && v->u.attrs[0].name_len > 0 && v->u.attrs[0].name[0] == '$') {
        p_buf_puts(b, "{\"$m\":");
        write_map(b, v);
        put_char(b, '}');
      } else {
        write_map(b, v);
      }
      return;
    case DV_L:
      put_char(b, '[');
      for (uint32_t i = 0; i < v->n; i++) {
        if (i > 0) put_char(b, ',');
        p_write_plain_value(b, &v->u.elems[i]);
      }
      put_char(b, ']');
      return;
    case DV_SS:
    case DV_NS:
    case DV_BS:
      p_buf_puts(b, v->type == DV_SS ? "{\"$ss\":[" : v->type == DV_NS ? "{\"$ns\":[" : "{\"$bs\":[");
      for (uint32_t i = 0; i < v->n; i++) {
        const dv_value *e = &v->u.elems[i];
        if (i > 0) put_char(b, ',');
        if (v->type == DV_SS)
          p_write_json_string(b, e->u.bytes, e->n);
        else if (v->type == DV_NS)
          write_number(b, e->u.bytes, e->n);
        else
          write_blob(b, e);
      }
      p_buf_puts(b, "]}");
      return;
    case DV_NULL:
    default: /* DV_NONE: never stored; null keeps the text JSON */
      p_buf_puts(b, "null");
      return;
  }
}

void p_write_plain_item(p_buf *b, const dv_value *item) {
  if (item == NULL || item->type != DV_M) {
    p_buf_puts(b, "{}");
    return;
  }
  write_map(b, item);
}

/* ---- key attributes from URL path segments ----------------------------------------- */

/* Base64url or base64, padded or not -> B. */
static int key_blob(const char *seg, size_t len, dv_arena *a, dv_value *out, p_error *err) {
  size_t pad = 0;
  while (pad < len && pad < 2 && seg[len - 1 - pad] == '=') pad++;
  size_t n = len - pad;
  if (n % 4 == 1 || (pad && n % 4 + pad != 4)) goto bad_length; /* padded, but wrongly */
  /* Standard alphabet, padded to a multiple of 4, then the strict check. */
  size_t full = (n + 3) / 4 * 4;
  char *t = dv_arena_alloc(a, full + 1);
  for (size_t i = 0; i < n; i++) t[i] = seg[i] == '-' ? '+' : seg[i] == '_' ? '/' : seg[i];
  for (size_t i = n; i < full; i++) t[i] = '=';
  if (p__b64_check(t, full, err)) {
    char *why = err->msg;
    err->msg = NULL;
    p_error_set(err, P_VALIDATION, INVALID "A binary key in the path must be base64url or base64: %s",
                why ? why : "");
    free(why);
    return -1;
  }
  *out = p__blob_from(t, full, a);
  return 0;
bad_length:
  return p_error_set(err, P_VALIDATION,
                     INVALID "A binary key in the path must be base64url or base64: bad length %zu", len);
}

int p_plain_key_segment(const char *seg, size_t len, dv_type type, dv_arena *a, dv_value *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (type == DV_N) return p__number_from(seg, len, P_LAYER_CURRENT, a, out, err);
  if (type != DV_S && type != DV_B)
    return p_error_set(err, P_VALIDATION, INVALID "A key attribute must be of type S, N or B");
  if (len == 0)
    return p_error_set(err, P_VALIDATION,
                       "One or more parameter values are not valid. The AttributeValue for a key attribute "
                       "cannot contain an empty %s value.",
                       type == DV_S ? "string" : "binary");
  if (type == DV_B) return key_blob(seg, len, a, out, err);
  /* Strings are UTF-8 everywhere else (jansson checks them in bodies). */
  json_t *check = json_stringn(seg, len);
  if (!check) return p_error_set(err, P_VALIDATION, INVALID "A string key in the path is not valid UTF-8");
  json_decref(check);
  *out = dv_make_s(a, seg, len);
  return 0;
}

/* ---- merge patch ------------------------------------------------------------------- */

static int is_key_name(const p_key_schema *ks, const char *name) {
  return ks && ((ks->hash_name && !strcmp(name, ks->hash_name)) ||
                (ks->range_name && !strcmp(name, ks->range_name)));
}

/* Index of name in the sorted attrs[0..n), -1 if absent. */
static long find_attr(const dv_attr *attrs, uint32_t n, const char *name, size_t len) {
  uint32_t lo = 0, hi = n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    const dv_attr *at = &attrs[mid];
    size_t m = at->name_len < len ? at->name_len : len;
    int c = m ? memcmp(at->name, name, m) : 0;
    if (c == 0) c = at->name_len < len ? -1 : at->name_len > len;
    if (c == 0) return (long)mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

/* RFC 7396 MergePatch(target, patch) for an object patch: target (DV_M, or
 * NULL for {}) -> *out, a new sorted DV_M in a. depth is the level of the
 * patch's member values; ks (the top level only) names the key attributes. */
static int merge(const dv_value *target, const json_t *patch, int depth, const p_key_schema *ks, dv_arena *a,
                 dv_value *out, p_error *err) {
  uint32_t tn = target && target->type == DV_M ? target->n : 0;
  size_t cap = tn + json_object_size(patch);
  /* at[0..tn) starts as the target's attributes, borrowed; fresh[i] marks
   * values made here (the others are cloned at the end); a removed one has
   * type DV_NONE. New names go after tn (unique: a JSON object's names are). */
  dv_attr *at = dv_arena_alloc(a, sizeof(dv_attr) * (cap ? cap : 1));
  uint8_t *fresh = dv_arena_calloc(a, cap ? cap : 1);
  if (tn) memcpy(at, target->u.attrs, sizeof(dv_attr) * tn);
  uint32_t k = tn;
  const char *name;
  const json_t *v;
  json_object_foreach((json_t *)patch, name, v) {
    size_t nlen = strlen(name);
    long idx = find_attr(at, tn, name, nlen);
    dv_value *cur = idx >= 0 && at[idx].value.type != DV_NONE ? &at[idx].value : NULL;
    dv_value nv;
    if (is_key_name(ks, name)) {
      /* Allowed only when it leaves the key as it is. */
      if (!json_is_null(v) && cur != NULL) {
        if (p_plain_value(v, depth, a, &nv, err)) return -1;
        if (dv_equal(cur, &nv)) continue;
      }
      return p_error_set(err, P_VALIDATION,
                         INVALID "Cannot update attribute %s. This attribute is part of the key", name);
    }
    if (json_is_null(v)) {
      if (cur) cur->type = DV_NONE;
      continue;
    }
    if (p__attr_name_check(nlen, depth == 1, err)) return -1;
    if (json_is_object(v) && !notation_key(v, NULL)) {
      if (p__depth_check(depth, err)) return -1;
      if (merge(cur && cur->type == DV_M ? cur : NULL, v, depth + 1, NULL, a, &nv, err)) return -1;
    } else if (p_plain_value(v, depth, a, &nv, err)) {
      return -1;
    }
    if (idx < 0) idx = k++;
    at[idx].name = dv_arena_strndup(a, name, nlen); /* never old's: the result must not borrow */
    at[idx].name_len = (uint32_t)nlen;
    at[idx].value = nv;
    fresh[idx] = 1;
  }
  uint32_t n = 0;
  for (uint32_t i = 0; i < k; i++) {
    if (at[i].value.type == DV_NONE) continue;
    at[n] = at[i];
    if (!fresh[i]) {
      at[n].name = dv_arena_strndup(a, at[i].name, at[i].name_len);
      at[n].value = dv_clone(a, &at[i].value);
    }
    n++;
  }
  out->type = DV_M;
  out->n = n;
  out->u.attrs = at;
  dv_map_sort(out);
  return 0;
}

int p_plain_merge_patch(const dv_value *old, const json_t *patch, const p_key_schema *ks, dv_arena *a,
                        dv_value *out, p_error *err) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(patch))
    return p_error_set(err, P_VALIDATION, INVALID "A merge patch must be a JSON object");
  if (merge(old, patch, 1, ks, a, out, err)) {
    memset(out, 0, sizeof *out);
    return -1;
  }
  return 0;
}

/* ---- stream records --------------------------------------------------------------- */

void p_write_stream_record_plain(p_buf *b, const p_stream_record *r) {
  p__write_stream_record(b, r, p_write_plain_item);
}
