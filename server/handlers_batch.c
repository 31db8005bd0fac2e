/*
 * handlers_batch.c -- BatchWriteItem and BatchGetItem (operations.md 5.6,
 * 5.7): the handlers that join protocol/batch.c to storage.
 *
 * Both follow protocol.md 2.1's order for the whole call: every request
 * check without a table (p_parse_batch_*), then every table's lookup (one
 * missing or CREATING table answers RNF for the whole call), then each
 * table's schema checks in request order, then the work.
 *
 * BatchWriteItem is all or nothing: nothing is written unless the whole
 * request passed, and then every request of the call goes into ONE
 * st_write batch -- one log record, so after a crash either all of the
 * call's writes are present or none. The reply waits for that record to be
 * durable. UnprocessedItems is always {} (a local server never throttles).
 * A put's index key attributes are checked after its table's key checks
 * (p_check_index_keys); st_write keeps the indexes exact in the same
 * record, and ConsumedCapacity counts each table's index write units.
 *
 * BatchGetItem reads key by key in request order; once the items gathered
 * pass 16 MB, the keys not yet read go to UnprocessedKeys with their table's
 * options (SDKs loop on it). The reply waits for the newest change to any of
 * the tables read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/expr_eval.h"
#include "server/server.h"

static void reply_not_found(df_req *r) {
  p_error e;
  p_error_init(&e);
  p_error_set(&e, P_RESOURCE_NOT_FOUND, "Requested resource not found");
  df_reply_error(r, &e, 0);
}

/* Appends the table's ConsumedCapacity (if asked for) to the list. */
static void add_capacity(json_t *list, const char *table, double units, p_rcc rcc) {
  json_t *cc = p_consumed_capacity(table, units, rcc);
  if (cc) json_array_append_new(list, cc);
}

/* Append j as compact JSON text (as df_reply_json prints it) and drop it. */
static void append_json(p_buf *b, json_t *j) {
  char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
  if (text) p_buf_puts(b, text);
  free(text);
  json_decref(j);
}

/* ---- BatchWriteItem ------------------------------------------------------------ */

void h_batch_write_item(df_req *r) {
  df_server *s = r->srv;
  p_batch_write req;
  p_error e;
  p_error_init(&e);
  if (p_parse_batch_write(r->body, r->arena, &req, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table **tables = dv_arena_alloc(r->arena, sizeof(*tables) * req.n_tables);
  for (size_t i = 0; i < req.n_tables; i++) {
    tables[i] = df_item_table_find(s, req.tables[i].table_name);
    if (!tables[i]) {
      reply_not_found(r);
      return;
    }
  }
  /* One of the tables has a page in progress: run again after it (the
   * batch must not show half-applied in that page). */
  if (df_wait_tables(r, tables, req.n_tables)) return;
  const p_index **idx = dv_arena_alloc(r->arena, sizeof(*idx) * req.n_tables);
  size_t *nidx = dv_arena_alloc(r->arena, sizeof(*nidx) * req.n_tables);
  for (size_t i = 0; i < req.n_tables; i++) {
    p_key_schema ks;
    df_key_schema_of(tables[i], &ks);
    if (df_table_indexes_cached(tables[i], &idx[i], &nidx[i]) != 0) {
      df_reply_storage_error(r, ST_ECORRUPT, "BatchWriteItem meta");
      return;
    }
    if (p_check_batch_write_table(&ks, &req.tables[i], &e) != 0) {
      df_reply_error(r, &e, 0);
      return;
    }
    for (size_t j = 0; j < req.tables[i].n_reqs; j++) {
      const p_batch_write_req *q = &req.tables[i].reqs[j];
      if (q->is_put && p_check_index_keys(idx[i], nidx[i], &q->item, &e) != 0) {
        df_reply_error(r, &e, 0);
        return;
      }
    }
  }
  /* Write units need the old items' sizes: read them before the write. */
  double *units = dv_arena_calloc(r->arena, sizeof(double) * req.n_tables);
  double **ix_units = dv_arena_calloc(r->arena, sizeof(*ix_units) * req.n_tables);
  st_write_req *w = dv_arena_alloc(r->arena, sizeof(*w) * req.n_reqs);
  size_t n = 0;
  for (size_t i = 0; i < req.n_tables; i++) {
    const p_batch_write_table *bt = &req.tables[i];
    p_key_schema ks;
    df_key_schema_of(tables[i], &ks);
    if (req.rcc != P_RCC_NONE && nidx[i] > 0)
      ix_units[i] = dv_arena_calloc(r->arena, sizeof(double) * nidx[i]);
    for (size_t j = 0; j < bt->n_reqs; j++) {
      const p_batch_write_req *q = &bt->reqs[j];
      if (req.rcc != P_RCC_NONE) {
        dv_value old = {.type = DV_NONE};
        int rc = st_item_get(tables[i], &q->item, r->arena, &old);
        if (rc != ST_OK) {
          df_reply_storage_error(r, rc, "BatchWriteItem read");
          return;
        }
        int found = old.type == DV_M;
        units[i] +=
            p_write_units(q->is_put ? dv_item_size(&q->item) : 0, found ? dv_item_size(&old) : 0, found);
        df_index_units_add(&ks, idx[i], nidx[i], found ? &old : NULL, q->is_put ? &q->item : NULL,
                           ix_units[i]);
      }
      w[n++] = (st_write_req){.table = tables[i], .op = q->is_put ? ST_PUT : ST_DEL, .item = &q->item};
    }
  }
  uint64_t lsn = 0;
  int rc = st_write(s->db, w, n, &lsn);
  if (rc != ST_OK) {
    df_reply_storage_error(r, rc, "BatchWriteItem");
    return;
  }
  json_t *out = json_object();
  json_object_set_new(out, "UnprocessedItems", json_object());
  if (req.rcc != P_RCC_NONE) {
    json_t *list = json_array();
    for (size_t i = 0; i < req.n_tables; i++) {
      json_t *cc =
          df_write_capacity(req.tables[i].table_name, units[i], idx[i], ix_units[i], nidx[i], req.rcc);
      if (cc) json_array_append_new(list, cc);
    }
    json_object_set_new(out, "ConsumedCapacity", list);
  }
  /* ItemCollectionMetrics (SIZE): one entry per request on a table with an
   * LSI; none for other tables (operations.md 3). */
  if (req.ricm_size) {
    json_t *icm = NULL;
    for (size_t i = 0; i < req.n_tables; i++) {
      if (!p_indexes_have_lsi(idx[i], nidx[i])) continue;
      p_key_schema ks;
      df_key_schema_of(tables[i], &ks);
      json_t *list = json_array();
      for (size_t j = 0; j < req.tables[i].n_reqs; j++) {
        json_t *m = p_item_collection_metrics(&ks, &req.tables[i].reqs[j].item);
        if (m) json_array_append_new(list, m);
      }
      if (!icm) icm = json_object();
      json_object_set_new(icm, req.tables[i].table_name, list);
    }
    if (icm) json_object_set_new(out, "ItemCollectionMetrics", icm);
  }
  df_reply_json(r, out, lsn);
}

/* ---- BatchGetItem -------------------------------------------------------------- */

void h_batch_get_item(df_req *r) {
  df_server *s = r->srv;
  p_batch_get req;
  p_error e;
  p_error_init(&e);
  if (p_parse_batch_get(r->body, r->arena, &req, &e) != 0) {
    df_reply_error(r, &e, 0);
    return;
  }
  st_table **tables = dv_arena_alloc(r->arena, sizeof(*tables) * req.n_tables);
  for (size_t i = 0; i < req.n_tables; i++) {
    tables[i] = df_item_table_find(s, req.tables[i].table_name);
    if (!tables[i]) {
      reply_not_found(r);
      return;
    }
  }
  uint64_t wait_lsn = 0;
  for (size_t i = 0; i < req.n_tables; i++) {
    p_key_schema ks;
    df_key_schema_of(tables[i], &ks);
    if (p_check_batch_get_table(&ks, &req.tables[i], &e) != 0) {
      df_reply_error(r, &e, 0);
      return;
    }
    uint64_t l = st_table_last_lsn(tables[i]);
    if (l > wait_lsn) wait_lsn = l;
  }
  /* Up to 16 MB of items: written as text (protocol/json_write.c), not
   * through a jansson tree, so that even the biggest answer holds the loop
   * for milliseconds. The small members are built with jansson. */
  p_buf out;
  p_buf_init(&out);
  p_buf_puts(&out, "{\"Responses\":{");
  json_t *unprocessed = json_object();
  json_t *capacity = req.rcc != P_RCC_NONE ? json_array() : NULL;
  size_t bytes = 0; /* DynamoDB size of the items gathered so far */
  for (size_t i = 0; i < req.n_tables; i++) {
    const p_batch_get_table *bt = &req.tables[i];
    if (i > 0) p_buf_puts(&out, ",");
    p_write_json_string(&out, bt->table_name, strlen(bt->table_name));
    p_buf_puts(&out, ":[");
    double units = 0;
    int nitems = 0;
    size_t j = 0;
    for (; j < bt->n_keys && bytes <= P_BATCH_GET_MAX_BYTES; j++) {
      dv_value item = {.type = DV_NONE};
      int rc = df_item_read(s, tables[i], &bt->keys[j], r->arena, &item); /* expired: hidden */
      if (rc != ST_OK) {
        p_buf_free(&out);
        json_decref(unprocessed);
        json_decref(capacity);
        df_reply_storage_error(r, rc, "BatchGetItem");
        return;
      }
      int found = item.type == DV_M;
      units += p_read_units(found ? dv_item_size(&item) : 0, found, bt->consistent);
      if (!found) continue;
      if (bt->projection) item = expr_project(&item, bt->projection->paths, bt->projection->n, r->arena);
      bytes += dv_item_size(&item);
      if (nitems++ > 0) p_buf_puts(&out, ",");
      p_write_item_json(&out, &item);
    }
    p_buf_puts(&out, "]");
    if (j < bt->n_keys) json_object_set_new(unprocessed, bt->table_name, p_batch_get_unprocessed(bt, j));
    if (capacity && j > 0) add_capacity(capacity, bt->table_name, units, req.rcc);
  }
  p_buf_puts(&out, "},\"UnprocessedKeys\":");
  append_json(&out, unprocessed);
  if (capacity) {
    p_buf_puts(&out, ",\"ConsumedCapacity\":");
    append_json(&out, capacity);
  }
  p_buf_puts(&out, "}");
  size_t len = 0;
  char *body = p_buf_steal(&out, &len);
  df_reply_text(r, body, len, wait_lsn);
}
