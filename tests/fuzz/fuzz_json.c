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
#include "tests/json_strict.h"


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
