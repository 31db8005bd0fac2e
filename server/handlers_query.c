/*
 * handlers_query.c -- Query and Scan (operations.md 5.3-5.5): the handlers
 * that join protocol/query.c to the storage iterators.
 *
 * Each request computes ONE page synchronously on the event-loop thread:
 * items are evaluated in key order from the ExclusiveStartKey until Limit
 * items were evaluated, or their sizes reach 1 MB (the crossing item
 * included), or the range ends. Evaluated items go through the filter, the
 * passing ones through the projection into the answer. A page is at most
 * 1 MB of item data, a few milliseconds of work, so no writer waits long
 * behind it, and since no write can interleave with it every page is a
 * consistent view of the table (docs/ARCHITECTURE.md, "Query and Scan").
 *
 * LastEvaluatedKey is the key of the last evaluated item, present iff the
 * page stopped on Limit or on the size cap -- except for a Query with
 * equality on every key attribute, whose range holds at most one item and
 * which DynamoDB refuses to restart.
 *
 * Parallel Scan: storage splits the 64-bit partition-key hash space into
 * TotalSegments contiguous ranges (st_iter_spec.segment); an item is in the
 * segment of its hash, so each item is in exactly one segment, whatever
 * writes happen between pages. A segment's LastEvaluatedKey has a hash in
 * that segment; an ExclusiveStartKey whose hash is in another segment is
 * refused (st_segment_of).
 *
 * The reply waits for the newest change to the table to be durable (a read
 * must not reveal a write before it is acknowledged).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "protocol/expr.h"
#include "protocol/expr_eval.h"
#include "server/server.h"

static const char *const k_ns = ""; /* the default namespace (as handlers.c) */

/* Scratch memory for decoded items is recycled past this many bytes. */
#define SCRATCH_BYTES ((size_t)4 * 1024 * 1024)

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void reply_storage_error(df_req *r, int rc, const char *what) {
  df_log(r->srv, DF_LOG_ERROR, "%s failed: %s (%s)", what, st_strerror(rc), st_errname(rc));
  p_error e;
  p_error_init(&e);
  p_error_set(&e, P_INTERNAL, "The server encountered an internal error trying to fulfill the request.");
  df_reply_error(r, &e, 0);
}

static void key_schema_of(const st_table *t, p_key_schema *ks) {
  const st_table_def *d = st_table_info(t);
  ks->hash_name = d->hash.name;
  ks->hash_type = d->hash.type;
  ks->range_name = d->range.name;
  ks->range_type = d->range.name ? d->range.type : DV_NONE;
}

/* The table, or NULL after answering RNF when it is missing or still
 * CREATING (operations.md 5.0), as handlers.c's item_table. */
static st_table *query_table(df_req *r, const char *name) {
  df_server *s = r->srv;
  st_table *t = st_table_find(s->db, k_ns, name);
  if (t && s->cfg.create_delay_ms > 0 &&
      now_seconds() < st_table_info(t)->created + s->cfg.create_delay_ms / 1000.0)
    t = NULL;
  if (!t) {
    p_error e;
    p_error_init(&e);
    p_error_set(&e, P_RESOURCE_NOT_FOUND, "Requested resource not found");
    df_reply_error(r, &e, 0);
  }
  return t;
}

/* Evaluate one page and answer it. never_resume: no LastEvaluatedKey (a
 * one-row Query). */
static void run_page(df_req *r, st_table *t, const p_key_schema *ks, const p_query *q,
                     const st_iter_spec *spec, int never_resume) {
  st_iter *it = NULL;
  int rc = st_iter_open(t, spec, &it);
  if (rc != ST_OK) {
    reply_storage_error(r, rc, q->scan ? "Scan" : "Query");
    return;
  }
  json_t *items = q->select == P_SELECT_COUNT ? NULL : json_array();
  uint64_t scanned = 0, count = 0, bytes = 0;
  int stopped = 0;
  dv_arena *scratch = dv_arena_new();
  dv_value item = {.type = DV_NONE};
  for (;;) {
    if (dv_arena_used(scratch) > SCRATCH_BYTES) {
      dv_arena_free(scratch);
      scratch = dv_arena_new();
    }
    if ((rc = st_iter_next(it, scratch, &item)) != ST_OK) break;
    if (item.type != DV_M) break;
    scanned++;
    bytes += dv_item_size(&item);
    if (!q->filter || expr_matches(q->filter, &item)) {
      count++;
      if (items) {
        if (q->projection) {
          dv_value p = expr_project(&item, q->projection->paths, q->projection->n, scratch);
          json_array_append_new(items, p_item_to_json(&p));
        } else {
          json_array_append_new(items, p_item_to_json(&item));
        }
      }
    }
    if ((q->limit && scanned >= q->limit) || bytes >= P_QUERY_PAGE_BYTES) {
      stopped = 1;
      break;
    }
  }
  st_iter_close(it);
  if (rc != ST_OK) {
    json_decref(items);
    dv_arena_free(scratch);
    reply_storage_error(r, rc, q->scan ? "Scan read" : "Query read");
    return;
  }
  json_t *out = json_object();
  if (items) json_object_set_new(out, "Items", items);
  json_object_set_new(out, "Count", json_integer((json_int_t)count));
  json_object_set_new(out, "ScannedCount", json_integer((json_int_t)scanned));
  if (stopped && !never_resume) {
    dv_value k = p_item_key(ks, &item, r->arena);
    json_object_set_new(out, "LastEvaluatedKey", p_item_to_json(&k));
  }
  dv_arena_free(scratch);
  /* One rounding per page over the evaluated sizes, at least one unit
   * (operations.md 3). */
  json_t *cc =
      p_consumed_capacity(q->table_name, p_read_units((size_t)bytes, bytes > 0, q->consistent), q->rcc);
  if (cc) json_object_set_new(out, "ConsumedCapacity", cc);
  df_reply_json(r, out, st_table_last_lsn(t));
}

void h_query(df_req *r) {
  p_query q;
  p_error e;
  p_error_init(&e);
  if (p_parse_query(r->body, r->arena, &q, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = query_table(r, q.table_name);
  if (!t) return;
  p_key_schema ks;
  key_schema_of(t, &ks);
  p_query_range rg;
  if (p_check_query(&ks, &q, r->arena, &rg, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_iter_spec spec = {
      .hash_key = rg.hash,
      .range_lo = rg.lo,
      .lo_exclusive = rg.lo_excl,
      .range_hi = rg.hi,
      .hi_exclusive = rg.hi_excl,
      .start_after = q.esk.type == DV_M ? &q.esk : NULL,
      .reverse = !q.forward,
  };
  run_page(r, t, &ks, &q, &spec, rg.one_row);
}

void h_scan(df_req *r) {
  p_query q;
  p_error e;
  p_error_init(&e);
  if (p_parse_scan(r->body, r->arena, &q, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = query_table(r, q.table_name);
  if (!t) return;
  p_key_schema ks;
  key_schema_of(t, &ks);
  if (p_check_scan(&ks, &q, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  if (q.total_segments > 1 && q.esk.type == DV_M) {
    const dv_value *hk = dv_map_get(&q.esk, ks.hash_name, strlen(ks.hash_name));
    if (st_segment_of(hk, q.total_segments) != q.segment) {
      p_scan_segment_error(&q, &e);
      df_reply_error(r, &e, 0);
      return;
    }
  }
  st_iter_spec spec = {
      .start_after = q.esk.type == DV_M ? &q.esk : NULL,
      .segment = q.segment,
      .total_segments = q.total_segments,
  };
  run_page(r, t, &ks, &q, &spec, 0);
}
