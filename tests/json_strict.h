/*
 * json_strict.h -- strict equality of two jansson trees, shared by the
 * differential checks of protocol/json_parse.c (tests/protocol/
 * test_json_parse.c and tests/fuzz/fuzz_json.c): same types, integer values,
 * bit-identical reals, string bytes and lengths, array elements, and object
 * members in the same iteration order (json_equal ignores member order and
 * compares reals by value).
 */
#ifndef DF_TESTS_JSON_STRICT_H
#define DF_TESTS_JSON_STRICT_H

#include <jansson.h>
#include <string.h>

/* 1 when a and b are the same tree, member order included. */
static inline int strict_equal(const json_t *a, const json_t *b) {
  if (!a || !b) return a == b;
  if (json_typeof(a) != json_typeof(b)) return 0;
  switch (json_typeof(a)) {
  case JSON_OBJECT: {
    if (json_object_size(a) != json_object_size(b)) return 0;
    void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
    while (ia && ib) {
      size_t la = json_object_iter_key_len(ia), lb = json_object_iter_key_len(ib);
      if (la != lb || memcmp(json_object_iter_key(ia), json_object_iter_key(ib), la) != 0) return 0;
      if (!strict_equal(json_object_iter_value(ia), json_object_iter_value(ib))) return 0;
      ia = json_object_iter_next((json_t *)a, ia);
      ib = json_object_iter_next((json_t *)b, ib);
    }
    return !ia && !ib;
  }
  case JSON_ARRAY:
    if (json_array_size(a) != json_array_size(b)) return 0;
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!strict_equal(json_array_get(a, i), json_array_get(b, i))) return 0;
    return 1;
  case JSON_STRING:
    return json_string_length(a) == json_string_length(b) &&
           memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
  case JSON_INTEGER:
    return json_integer_value(a) == json_integer_value(b);
  case JSON_REAL: {
    double x = json_real_value(a), y = json_real_value(b);
    return memcmp(&x, &y, sizeof x) == 0;
  }
  default: /* true, false, null: the type says it all */
    return 1;
  }
}

#endif
