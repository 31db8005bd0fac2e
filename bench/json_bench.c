/*
 * json_bench.c -- how long parsing a request body takes: jansson's
 * json_loadb(body, n, JSON_ALLOW_NUL, ...) against p_json_parse
 * (protocol/json_parse.c), each followed by json_decref of the tree, as the
 * transport does per request. Not a test: prints figures.
 *
 * Bodies: the 266-byte PutItem of `make bench`, a Query with a key
 * condition and names/values, a 25-item BatchWriteItem, and a body dense
 * in escapes and number literals. Each figure is the best of several
 * alternating rounds (the machine is shared), in microseconds per parse.
 *
 * Usage: json_bench [SECONDS_PER_ROUND=0.2]
 *   build-<dir>/protocol/json_bench 0.5
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/protocol.h"

#define ROUNDS 5

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct body {
  const char *name; /* what it is */
  char *text;       /* the JSON (malloc'd) */
  size_t len;       /* its length */
} body;

static json_t *parse_jansson(const char *s, size_t n) {
  json_error_t e;
  return json_loadb(s, n, JSON_ALLOW_NUL, &e);
}

/* Microseconds per parse + decref of b with fn, over about secs seconds. */
static double per_parse(json_t *(*fn)(const char *, size_t), const body *b, double secs) {
  double t0 = now(), t;
  long n = 0;
  do {
    for (int i = 0; i < 64; i++, n++) {
      json_t *j = fn(b->text, b->len);
      if (!j) {
        fprintf(stderr, "json_bench: %s does not parse\n", b->name);
        exit(1);
      }
      json_decref(j);
    }
    t = now();
  } while (t - t0 < secs);
  return (t - t0) * 1e6 / (double)n;
}

static char *dup_printf_buf(const char *s) {
  char *d = strdup(s);
  if (!d) abort();
  return d;
}

/* {"TableName":"bench","Item":{"pk":...,"sk":...,"data":{"S":"www..."}}},
 * 266 bytes as in `make bench`. */
static body put_item(void) {
  const char *head = "{\"TableName\":\"bench\",\"Item\":{\"pk\":{\"S\":\"p00123\"},\"sk\":{\"S\":\"s04\"},"
                     "\"data\":{\"S\":\"";
  const char *tail = "\"}}}";
  size_t total = 266, fill = total - strlen(head) - strlen(tail);
  char *t = malloc(total + 1);
  if (!t) abort();
  strcpy(t, head);
  memset(t + strlen(head), 'w', fill);
  strcpy(t + strlen(head) + fill, tail);
  return (body){"PutItem (266 B)", t, total};
}

static body query(void) {
  const char *s =
      "{\"TableName\":\"bench\",\"KeyConditionExpression\":\"#pk = :pk AND #sk BETWEEN :a AND :b\","
      "\"ExpressionAttributeNames\":{\"#pk\":\"pk\",\"#sk\":\"sk\"},"
      "\"ExpressionAttributeValues\":{\":pk\":{\"S\":\"p00123\"},\":a\":{\"S\":\"s00\"},\":b\":{\"S\":\"s09\"}},"
      "\"ProjectionExpression\":\"pk, sk, #d\",\"Limit\":25,\"ScanIndexForward\":false,"
      "\"ConsistentRead\":true,\"ReturnConsumedCapacity\":\"TOTAL\"}";
  return (body){"Query", dup_printf_buf(s), strlen(s)};
}

static body batch_write(void) {
  size_t cap = 16384, n = 0;
  char *t = malloc(cap);
  if (!t) abort();
  n += (size_t)snprintf(t + n, cap - n, "{\"RequestItems\":{\"bench\":[");
  for (int i = 0; i < 25; i++)
    n += (size_t)snprintf(t + n, cap - n,
                          "%s{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"p%05d\"},\"sk\":{\"S\":\"s%02d\"},"
                          "\"n\":{\"N\":\"%d\"},\"data\":{\"S\":\"%.*s\"}}}}",
                          i ? "," : "", i * 7, i, i * 1000 + 17, 100,
                          "dddddddddddddddddddddddddddddddddddddddddddddddddd"
                          "dddddddddddddddddddddddddddddddddddddddddddddddddd");
  n += (size_t)snprintf(t + n, cap - n, "]},\"ReturnConsumedCapacity\":\"TOTAL\"}");
  return (body){"BatchWriteItem (25 items)", t, n};
}

static body escapes_numbers(void) {
  size_t cap = 16384, n = 0;
  char *t = malloc(cap);
  if (!t) abort();
  n += (size_t)snprintf(t + n, cap - n, "{\"nums\":[");
  for (int i = 0; i < 40; i++)
    n += (size_t)snprintf(t + n, cap - n, "%s%d,%d.%03d,%de%d,-%d.5e-%d", i ? "," : "", i * 12345,
                          i, i * 7 % 1000, i + 1, i % 30, i, i % 20);
  n += (size_t)snprintf(t + n, cap - n, "],\"strs\":[");
  for (int i = 0; i < 20; i++)
    n += (size_t)snprintf(t + n, cap - n,
                          "%s\"line %d\\n\\ttab \\\"quoted\\\" back\\\\slash \\u00e9\\u20ac\\ud83d\\ude00 \\/ end\"",
                          i ? "," : "", i);
  n += (size_t)snprintf(t + n, cap - n, "],\"k\\u0065y\":\"v\",\"utf8\":\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac\"}");
  return (body){"escapes + numbers", t, n};
}

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 0.2;
  if (secs <= 0) secs = 0.2;
  body bodies[] = {put_item(), query(), batch_write(), escapes_numbers()};
  printf("%-28s %7s %12s %12s %8s\n", "body", "bytes", "jansson us", "p_json us", "speedup");
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    body *b = &bodies[i];
    json_t *a = parse_jansson(b->text, b->len), *c = p_json_parse(b->text, b->len);
    if (!a || !c || !json_equal(a, c)) {
      fprintf(stderr, "json_bench: %s: the parsers disagree\n", b->name);
      return 1;
    }
    json_decref(a);
    json_decref(c);
    double best_j = 1e9, best_p = 1e9;
    for (int r = 0; r < ROUNDS; r++) {
      double tj = per_parse(parse_jansson, b, secs), tp = per_parse(p_json_parse, b, secs);
      if (tj < best_j) best_j = tj;
      if (tp < best_p) best_p = tp;
    }
    printf("%-28s %7zu %12.3f %12.3f %7.1fx\n", b->name, b->len, best_j, best_p, best_j / best_p);
    free(b->text);
  }
  return 0;
}
