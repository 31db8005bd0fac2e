/*
 * expr_bench.c -- how fast the expression layer of one request is: a
 * typical three-clause ConditionExpression (the optimistic-locking shape
 * with a prefix check) parsed and resolved against its
 * ExpressionAttributeNames / Values, then evaluated against a stored item;
 * and a whole UpdateItem request body through p_parse_update_item (JSON
 * members, EAN/EAV, UpdateExpression, ConditionExpression, unused check,
 * Key) plus expr_apply_update. Not a test: prints figures.
 *
 * Each iteration uses a fresh dv_arena, as a request does. The JSON is
 * parsed once up front (jansson's cost is the transport's, not ours).
 *
 * Usage: expr_bench [SECONDS_PER_FIGURE=1]
 *   build-<dir>/protocol/expr_bench 2
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/expr.h"
#include "protocol/expr_eval.h"
#include "protocol/protocol.h"

#define COND "attribute_exists(#v) AND #v = :oldv AND begins_with(#s, :prefix)"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *load(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  if (!j) {
    fprintf(stderr, "expr_bench: bad JSON: %s\n", je.text);
    exit(2);
  }
  return j;
}

/* Runs fn until secs elapsed (checking the clock every 256 calls); returns
 * calls per second. fn returns 0 on success; a failure aborts the bench. */
static double rate(int (*fn)(void *), void *ctx, double secs) {
  double t0 = now(), t;
  long n = 0;
  do {
    for (int i = 0; i < 256; i++, n++)
      if (fn(ctx) != 0) {
        fprintf(stderr, "expr_bench: iteration failed\n");
        exit(1);
      }
    t = now();
  } while (t - t0 < secs);
  return (double)n / (t - t0);
}

typedef struct bench_ctx {
  json_t *ean_json;   /* ExpressionAttributeNames of the condition */
  json_t *eav_json;   /* ExpressionAttributeValues of the condition */
  expr_names ean;     /* converted once, for the parse-only figure */
  expr_values eav;    /* converted once, for the parse-only figure */
  dv_arena *keep;     /* holds ean / eav / item / tree */
  expr_node *tree;    /* the condition, parsed once, for the evaluation figure */
  dv_value item;      /* a stored item the condition holds on */
  json_t *update_req; /* a whole UpdateItem body */
} bench_ctx;

/* Parse + resolve only (names / values already converted). */
static int parse_only(void *p) {
  bench_ctx *c = p;
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  expr_usage u;
  expr_usage_init(&u, &c->ean, &c->eav, a);
  expr_node *t;
  int rc = expr_parse_condition(COND, strlen(COND), EXPR_CONDITION, &c->ean, &c->eav, &u, a, &t, &e);
  if (rc == 0) rc = expr_check_unused(&c->ean, &c->eav, &u, &e);
  p_error_clear(&e);
  dv_arena_free(a);
  return rc;
}

/* The request's whole expression step: EAN / EAV from JSON, parse, unused. */
static int parse_with_maps(void *p) {
  bench_ctx *c = p;
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  expr_names ean;
  expr_values eav;
  expr_usage u;
  expr_node *t;
  int rc = expr_names_from_json(c->ean_json, a, &ean, &e);
  if (rc == 0) rc = expr_values_from_json(c->eav_json, P_LAYER_CURRENT, EXPR_EAV_BARE, a, &eav, &e);
  if (rc == 0) {
    expr_usage_init(&u, &ean, &eav, a);
    rc = expr_parse_condition(COND, strlen(COND), EXPR_CONDITION, &ean, &eav, &u, a, &t, &e);
  }
  if (rc == 0) rc = expr_check_unused(&ean, &eav, &u, &e);
  p_error_clear(&e);
  dv_arena_free(a);
  return rc;
}

static int eval_only(void *p) {
  bench_ctx *c = p;
  int ok = 0;
  p_error e;
  p_error_init(&e);
  int rc = expr_eval_condition(c->tree, &c->item, &ok, &e);
  p_error_clear(&e);
  return rc != 0 || !ok;
}

/* p_parse_update_item + condition + expr_apply_update: the protocol-side
 * CPU of one UpdateItem (no storage). */
static int update_request(void *p) {
  bench_ctx *c = p;
  dv_arena *a = dv_arena_new();
  p_error e;
  p_error_init(&e);
  p_update_item req;
  int rc = p_parse_update_item(c->update_req, a, &req, &e);
  int ok = 0;
  if (rc == 0) rc = expr_eval_condition(req.condition, &c->item, &ok, &e);
  dv_value nw;
  if (rc == 0) rc = expr_apply_update(req.update, &c->item, &req.key, NULL, 0, a, &nw, NULL, &e);
  p_error_clear(&e);
  dv_arena_free(a);
  return rc != 0 || !ok;
}

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 1.0;
  if (secs <= 0) secs = 1.0;
  bench_ctx c;
  memset(&c, 0, sizeof c);
  c.keep = dv_arena_new();
  c.ean_json = load("{\"#v\":\"version\",\"#s\":\"status\"}");
  c.eav_json = load("{\":oldv\":{\"N\":\"41\"},\":prefix\":{\"S\":\"act\"}}");
  p_error e;
  p_error_init(&e);
  json_t *item = load(
      "{\"pk\":{\"S\":\"user#1\"},\"version\":{\"N\":\"41\"},\"status\":{\"S\":\"active\"},"
      "\"count\":{\"N\":\"7\"},\"name\":{\"S\":\"someone\"}}");
  if (expr_names_from_json(c.ean_json, c.keep, &c.ean, &e) ||
      expr_values_from_json(c.eav_json, P_LAYER_CURRENT, EXPR_EAV_BARE, c.keep, &c.eav, &e) ||
      expr_parse_condition(COND, strlen(COND), EXPR_CONDITION, &c.ean, &c.eav, NULL, c.keep, &c.tree, &e) ||
      p_item_from_json(item, P_LAYER_CURRENT, c.keep, &c.item, &e)) {
    fprintf(stderr, "expr_bench: setup failed: %s\n", e.msg ? e.msg : "?");
    return 1;
  }
  c.update_req = load(
      "{\"TableName\":\"bench\",\"Key\":{\"pk\":{\"S\":\"user#1\"}},"
      "\"UpdateExpression\":\"SET #c = #c + :one, #v = :newv\","
      "\"ConditionExpression\":\"" COND
      "\","
      "\"ExpressionAttributeNames\":{\"#c\":\"count\",\"#v\":\"version\",\"#s\":\"status\"},"
      "\"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"},\":oldv\":{\"N\":\"41\"},"
      "\":newv\":{\"N\":\"42\"},\":prefix\":{\"S\":\"act\"}},\"ReturnValues\":\"UPDATED_NEW\"}");

  printf("condition: %s\n", COND);
  printf("parse + resolve (EAN/EAV converted once) : %10.0f expressions/s\n", rate(parse_only, &c, secs));
  printf("EAN/EAV from JSON + parse + unused check : %10.0f expressions/s\n",
         rate(parse_with_maps, &c, secs));
  printf("evaluate against a 5-attribute item      : %10.0f evaluations/s\n", rate(eval_only, &c, secs));
  printf("UpdateItem body: parse + condition + apply: %10.0f requests/s\n", rate(update_request, &c, secs));

  json_decref(c.ean_json);
  json_decref(c.eav_json);
  json_decref(item);
  json_decref(c.update_req);
  dv_arena_free(c.keep);
  return 0;
}
