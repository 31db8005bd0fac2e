/*
 * fuzz_json.c -- libFuzzer target for the request-body JSON parser
 * (protocol/json_parse.c): a differential check against the parser it
 * replaces. Every input, any bytes, goes through both
 * json_loadb(data, size, JSON_ALLOW_NUL, NULL) (jansson 2.14, what the
 * transport used before) and p_json_parse(data, size); they must both fail
 * or both return the same tree, compared strictly: same types, integer
 * values, reals bit for bit, strings by length and bytes, arrays element by
 * element, objects member by member in iteration order (json_equal ignores
 * that order, so it is not used). Any difference aborts.
 *
 * Input layout: the whole input is the body, no selector byte. libFuzzer
 * hands over a buffer of exactly `size` bytes, so a read past the end is
 * caught by ASan.
 */
#include <jansson.h>
#include <string.h>

#include "protocol/protocol.h"
#include "tests/fuzz/fuzz.h"

/* 1 when a and b are the same tree, member order included. */
static int strict_equal(const json_t *a, const json_t *b) {
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
  default: /* true, false, null */
    return 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_error_t je;
  json_t *ref = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &je);
  json_t *got = p_json_parse((const char *)data, size);
  if (!strict_equal(ref, got)) {
    char *r = ref ? json_dumps(ref, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    char *g = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    FZ_DIE("p_json_parse differs from json_loadb on %zu bytes: jansson %s (%s), p_json_parse %s",
           size, r ? r : "NULL", ref ? "tree" : je.text, g ? g : "NULL");
  }
  json_decref(ref);
  json_decref(got);
  return 0;
}
