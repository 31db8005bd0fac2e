/*
 * handlers_query.c -- Query and Scan (operations.md 5.3-5.5): the handlers
 * that join protocol/query.c to the storage iterators.
 *
 * Each request computes ONE page on the event-loop thread: items are
 * evaluated in key order from the ExclusiveStartKey until Limit items were
 * evaluated, or their sizes reach 1 MB (the crossing item included), or the
 * range ends. Evaluated items go through the filter, the passing ones
 * through the projection, and are written straight into the JSON answer
 * text (protocol/json_write.c, no jansson tree). The work is cut in slices
 * of about SLICE_NS: the first runs in the handler, and a page that needs
 * more is answered later, one slice per loop iteration (server/pages.c), so
 * other requests are served in between. While such a page is in progress,
 * writes to its table wait (pages.c), so every page is a consistent view of
 * the table and a writer waits at most for the pages in progress
 * (docs/ARCHITECTURE.md, "Query and Scan").
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
 *
 * The /v1/ face's listings (rest_items.c) run the same pages in plain mode:
 * items in plain JSON, answered as {"items":[..],"count":N,"cursor":".."}
 * where the cursor is the base64url of the LastEvaluatedKey's plain JSON.
 *
 * IndexName (operations.md 5.3-5.5, "secondary indexes"): the page walks
 * the storage index (st_iter_open on it: entries in index-key order, ties
 * by table key, each its projected item) with the range of p_check_query
 * in the index's terms and ExclusiveStartKey (index keys plus table keys)
 * as start_after; LastEvaluatedKey is p_index_item_key of the last entry.
 * Without Select and projection an index answers its entries as stored
 * (ALL_PROJECTED_ATTRIBUTES). An LSI asked for attributes it does not
 * project (p_index_needs_fetch) reads the base item of each entry
 * (st_item_get; an entry whose item vanished is skipped), and the filter,
 * Select ALL_ATTRIBUTES and the projection see that item. The 1 MB rule
 * counts entry sizes; capacity counts entries (one rounding) plus each
 * fetched item rounded to 4 KB, charged to the index
 * (p_consumed_capacity_read). TTL hiding tests what was read
 * (ttl.c). The page counts as one on the BASE table for pages.c (st_write
 * of the base changes the index's tree), so base writes wait for it, like
 * for a table page. Parallel Scan of an index splits the INDEX partition
 * key's hash space.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/expr.h"
#include "protocol/expr_eval.h"
#include "server/server.h"

/* Scratch memory for decoded items is recycled past this many bytes. */
#define SCRATCH_BYTES ((size_t)4 * 1024 * 1024)

/* One slice of a page does at most this much work before yielding to the
 * loop, give or take SLICE_CHECK - 1 items: the longest the loop is held by
 * it. The clock is read after every SLICE_CHECK items, not after each: a
 * read cost as much as a small item's whole evaluation (1.5 % of a Query's
 * loop thread at 10 items a page). */
#define SLICE_NS ((uint64_t)1000 * 1000)
#define SLICE_CHECK 8

/* A page being computed: the iterator, the answer so far, the counters. */
typedef struct page {
  df_slice_job job;   /* pages.c's hook (first: the job is the page) */
  df_req *r;          /* the request answered */
  st_table *t;        /* its table (the base table of an index read) */
  p_key_schema ks;    /* the table's key schema (LastEvaluatedKey) */
  const p_index *ix;  /* the index read (in r->arena), NULL for the table */
  int fetch;          /* 1: read each entry's base item (p_index_needs_fetch) */
  int as_stored;      /* 1: answer entries as stored (ALL_PROJECTED_ATTRIBUTES) */
  p_query q;          /* the parsed request (strings in r->arena) */
  int never_resume;   /* 1: no LastEvaluatedKey (a one-row Query) */
  int plain;          /* 1: a /v1/ listing (plain JSON items, REST answer) */
  st_iter *it;        /* the iterator, positioned after the last item read */
  dv_arena *scratch;  /* decoded items, recycled past SCRATCH_BYTES */
  dv_value item;      /* the last item (index entry) read (in scratch) */
  p_buf out;          /* the answer so far: '{"Items":[' and the items */
  uint64_t scanned;   /* items evaluated */
  uint64_t count;     /* items that passed the filter */
  uint64_t bytes;     /* their total size (the 1 MB cap and the capacity) */
  double fetch_units; /* read units of the base items fetched (each rounded up to 4 KB) */
  uint64_t t_start;   /* uv_hrtime() when the page started (debug log) */
  uint64_t max_slice; /* longest slice so far, ns (debug log) */
  unsigned slices;    /* slices run so far (debug log) */
  uint64_t slice_t0;  /* uv_hrtime() when the current slice started */
} page;

static void page_free(page *pg) {
  if (pg->it) st_iter_close(pg->it);
  df_arena_give(pg->r->srv, pg->scratch);
  p_buf_free(&pg->out);
  free(pg);
}

/* The LastEvaluatedKey of the page ending on pg->item. */
static dv_value last_key(page *pg) {
  if (pg->ix != NULL) return p_index_item_key(&pg->ks, pg->ix, &pg->item, pg->r->arena);
  return p_item_key(&pg->ks, &pg->item, pg->r->arena);
}

/* Write the end of the answer, reply, free pg. stopped: Limit or the size
 * cap ended the page. */
static void page_finish(page *pg, int stopped) {
  df_req *r = pg->r;
  p_buf *b = &pg->out;
  char num[64];
  if (pg->plain) {
    snprintf(num, sizeof num, "],\"count\":%llu", (unsigned long long)pg->count);
    p_buf_puts(b, num);
    if (stopped && !pg->never_resume) {
      dv_value k = last_key(pg);
      p_buf kb;
      p_buf_init(&kb);
      p_write_plain_item(&kb, &k);
      p_buf_puts(b, ",\"cursor\":\"");
      df_base64url_append(b, kb.data, kb.len);
      p_buf_puts(b, "\"");
      p_buf_free(&kb);
    }
    p_buf_append(b, "}", 1);
    size_t len = 0;
    char *body = p_buf_steal(b, &len);
    uint64_t lsn = st_table_last_lsn(pg->t);
    page_free(pg);
    df_rest_reply_text(r, 200, body, len, lsn);
    return;
  }
  if (pg->q.select != P_SELECT_COUNT) p_buf_append(b, "],", 2);
  snprintf(num, sizeof num, "\"Count\":%llu,\"ScannedCount\":%llu", (unsigned long long)pg->count,
           (unsigned long long)pg->scanned);
  p_buf_puts(b, num);
  if (stopped && !pg->never_resume) {
    dv_value k = last_key(pg);
    p_buf_puts(b, ",\"LastEvaluatedKey\":");
    p_write_item_json(b, &k);
  }
  /* One rounding per page over the evaluated sizes, at least one unit
   * (operations.md 3). */
  json_t *cc = p_consumed_capacity_read(
      pg->q.table_name, pg->ix,
      p_read_units((size_t)pg->bytes, pg->bytes > 0, pg->q.consistent) + pg->fetch_units, pg->q.rcc);
  if (cc) {
    char *text = json_dumps(cc, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(cc);
    if (text == NULL) abort(); /* out of memory (small allocation) */
    p_buf_puts(b, ",\"ConsumedCapacity\":");
    p_buf_puts(b, text);
    free(text);
  }
  p_buf_append(b, "}", 1);
  size_t len = 0;
  char *body = p_buf_steal(b, &len);
  uint64_t lsn = st_table_last_lsn(pg->t);
  uint64_t spent = uv_hrtime() - pg->slice_t0;
  if (spent > pg->max_slice) pg->max_slice = spent;
  if (pg->slices > 1)
    df_log(r->srv, DF_LOG_DEBUG,
           "request %s: %s page of %llu items, %zu bytes, in %u slices (longest %.2f ms), %.2f ms",
           r->request_id, pg->q.scan ? "Scan" : "Query", (unsigned long long)pg->scanned, len, pg->slices,
           (double)pg->max_slice / 1e6, (double)(uv_hrtime() - pg->t_start) / 1e6);
  page_free(pg);
  df_reply_text(r, body, len, lsn);
}

/* 1 when the slice started at t0 has had its time, read from the clock
 * after every SLICE_CHECK items (*seen counts them). */
static int slice_over(page *pg, uint64_t t0, unsigned *seen) {
  if (++*seen % SLICE_CHECK != 0) return 0;
  uint64_t spent = uv_hrtime() - t0;
  if (spent < SLICE_NS) return 0;
  if (spent > pg->max_slice) pg->max_slice = spent;
  return 1;
}

/* Evaluate items for one slice, started at t0. Returns 1 when the page is
 * finished (and answered, pg freed), 0 when more slices are needed. */
static int page_slice(page *pg) {
  uint64_t t0 = uv_hrtime();
  const p_query *q = &pg->q;
  unsigned seen = 0; /* items read in this slice */
  int rc;
  pg->slices++;
  pg->slice_t0 = t0;
  for (;;) {
    if (dv_arena_used(pg->scratch) > SCRATCH_BYTES) {
      dv_arena_reset(pg->scratch);
    }
    if ((rc = st_iter_next(pg->it, pg->scratch, &pg->item)) != ST_OK) break;
    if (pg->item.type != DV_M) break;
    /* What the filter, the projection and TTL see: the entry, or the base
     * item it points to. */
    const dv_value *eval = &pg->item;
    dv_value base;
    if (pg->fetch) {
      if ((rc = st_item_get(pg->t, &pg->item, pg->scratch, &base)) != ST_OK) break;
      if (base.type != DV_M) { /* cannot happen while writes wait; skipped like a hidden item */
        if (slice_over(pg, t0, &seen)) return 0;
        continue;
      }
      eval = &base;
    }
    if (df_ttl_expired(pg->r->srv, pg->t, eval)) { /* hidden: not even counted */
      if (slice_over(pg, t0, &seen)) return 0;
      continue;
    }
    pg->scanned++;
    pg->bytes += dv_item_size(&pg->item);
    if (pg->fetch) pg->fetch_units += p_read_units(dv_item_size(eval), 1, q->consistent);
    if (!q->filter || expr_matches(q->filter, eval)) {
      pg->count++;
      if (q->select != P_SELECT_COUNT) {
        const dv_value *shown = pg->as_stored ? &pg->item : eval;
        if (pg->count > 1) p_buf_append(&pg->out, ",", 1);
        if (q->projection) {
          dv_value p = expr_project(shown, q->projection->paths, q->projection->n, pg->scratch);
          if (pg->plain)
            p_write_plain_item(&pg->out, &p);
          else
            p_write_item_json(&pg->out, &p);
        } else if (pg->plain) {
          p_write_plain_item(&pg->out, shown);
        } else {
          p_write_item_json(&pg->out, shown);
        }
      }
    }
    if ((q->limit && pg->scanned >= q->limit) || pg->bytes >= P_QUERY_PAGE_BYTES) {
      page_finish(pg, 1);
      return 1;
    }
    if (slice_over(pg, t0, &seen)) return 0;
  }
  if (rc != ST_OK) {
    df_req *r = pg->r;
    int scan = q->scan, plain = pg->plain;
    page_free(pg);
    if (plain)
      df_rest_reply_storage_error(r, rc, scan ? "REST scan read" : "REST query read");
    else
      df_reply_storage_error(r, rc, scan ? "Scan read" : "Query read");
    return 1;
  }
  page_finish(pg, 0);
  return 1;
}

static int page_step(df_slice_job *j) {
  return page_slice((page *)j);
}

void df_run_page(df_req *r, st_table *t, const p_key_schema *ks, const p_index *ix, const p_query *q,
                 const st_iter_spec *spec, int never_resume, int plain) {
  /* Writes to t are waiting for a page in progress: go after them. */
  if (df_wait_writers(r, t)) return;
  st_table *src = t;
  if (ix != NULL && (src = st_index_find(t, ix->name)) == NULL) { /* meta names it, storage lacks it */
    if (plain)
      df_rest_reply_storage_error(r, ST_ECORRUPT, "REST index read");
    else
      df_reply_storage_error(r, ST_ECORRUPT, "Index read");
    return;
  }
  st_iter *it = NULL;
  int rc = st_iter_open(src, spec, &it);
  if (rc != ST_OK) {
    if (plain)
      df_rest_reply_storage_error(r, rc, q->scan ? "REST scan" : "REST query");
    else
      df_reply_storage_error(r, rc, q->scan ? "Scan" : "Query");
    return;
  }
  page *pg = calloc(1, sizeof *pg);
  if (pg == NULL) abort(); /* small allocation */
  pg->r = r;
  pg->t = t;
  pg->ks = *ks;
  pg->ix = ix;
  pg->fetch = ix != NULL && p_index_needs_fetch(ks, ix, q);
  /* an index without Select (and without projection): its entries as stored */
  pg->as_stored =
      ix != NULL && (q->select == P_SELECT_PROJECTED || (q->select == P_SELECT_ALL && !q->select_given));
  pg->q = *q;
  pg->never_resume = never_resume;
  pg->plain = plain;
  pg->it = it;
  pg->scratch = df_arena_take(r->srv);
  pg->item.type = DV_NONE;
  pg->t_start = uv_hrtime();
  p_buf_init(&pg->out);
  p_buf_append(&pg->out, "{", 1);
  if (plain)
    p_buf_puts(&pg->out, "\"items\":[");
  else if (q->select != P_SELECT_COUNT)
    p_buf_puts(&pg->out, "\"Items\":[");
  if (page_slice(pg)) return;
  if (r->srv->pages == NULL) { /* no loop to slice on: finish here */
    while (!page_slice(pg)) {
    }
    return;
  }
  /* More than one slice: answer later; t is busy until the page ends. */
  df_req_later(r);
  pg->job.srv = r->srv;
  pg->job.table = t;
  pg->job.step = page_step;
  df_slice_start(&pg->job);
}

void h_query(df_req *r) {
  p_query q;
  p_error e;
  p_error_init(&e);
  if (p_parse_query(r->body, r->arena, &q, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = df_item_table(r, q.table_name);
  if (!t) return;
  p_key_schema ks;
  df_key_schema_of(t, &ks);
  p_index *idx;
  size_t nidx;
  if (df_table_indexes(t, r->arena, &idx, &nidx) != 0) {
    df_reply_storage_error(r, ST_ECORRUPT, "Query meta");
    return;
  }
  p_query_range rg;
  const p_index *ix = NULL;
  if (p_check_query(&ks, idx, nidx, &q, r->arena, &rg, &ix, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  df_run_query(r, t, &ks, ix, &q, &rg, rg.one_row && ix == NULL, 0);
}

void df_run_query(df_req *r, st_table *t, const p_key_schema *ks, const p_index *ix, const p_query *q,
                  const p_query_range *rg, int never_resume, int plain) {
  st_iter_spec spec = {
      .hash_key = rg->hash,
      .range_lo = rg->lo,
      .lo_exclusive = rg->lo_excl,
      .range_hi = rg->hi,
      .hi_exclusive = rg->hi_excl,
      .start_after = q->esk.type == DV_M ? &q->esk : NULL,
      .reverse = !q->forward,
  };
  df_run_page(r, t, ks, ix, q, &spec, never_resume, plain);
}

void h_scan(df_req *r) {
  p_query q;
  p_error e;
  p_error_init(&e);
  if (p_parse_scan(r->body, r->arena, &q, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table *t = df_item_table(r, q.table_name);
  if (!t) return;
  p_key_schema ks;
  df_key_schema_of(t, &ks);
  p_index *idx;
  size_t nidx;
  if (df_table_indexes(t, r->arena, &idx, &nidx) != 0) {
    df_reply_storage_error(r, ST_ECORRUPT, "Scan meta");
    return;
  }
  const p_index *ix = NULL;
  if (p_check_scan(&ks, idx, nidx, &q, &ix, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  if (df_run_scan(r, t, &ks, ix, &q, 0, &e) != 0) df_reply_error(r, &e, 0);
}

int df_run_scan(df_req *r, st_table *t, const p_key_schema *ks, const p_index *ix, const p_query *q,
                int plain, p_error *err) {
  if (q->total_segments > 1 && q->esk.type == DV_M) {
    /* segments split the partition-key hash space of what is scanned */
    const char *hname = ix != NULL ? ix->key.hash_name : ks->hash_name;
    const dv_value *hk = dv_map_get(&q->esk, hname, strlen(hname));
    if (st_segment_of(hk, q->total_segments) != q->segment) return p_scan_segment_error(q, err);
  }
  st_iter_spec spec = {
      .start_after = q->esk.type == DV_M ? &q->esk : NULL,
      .segment = q->segment,
      .total_segments = q->total_segments,
  };
  df_run_page(r, t, ks, ix, q, &spec, 0, plain);
  return 0;
}
