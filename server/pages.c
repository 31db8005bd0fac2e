/*
 * pages.c -- sliced pages and the writes that wait for them
 * (docs/ARCHITECTURE.md, "Query and Scan").
 *
 * A big Scan or Query page is computed in slices of bounded work (about a
 * millisecond each, handlers_query.c decides), one slice per loop
 * iteration: a uv_idle handle runs the next slice of the first job of a
 * round-robin list, and the loop polls for I/O between two slices, so other
 * requests are served while a page is built.
 *
 * Consistency: a page must never show half of a batch, so while a table has
 * a page in progress (busy), writes to it are not applied: the write
 * handlers (and DeleteTable) ask df_wait_tables() at their table lookup,
 * before changing anything, and a request that must wait is parked
 * (df_req_later) in one FIFO. Reads, and writes to other tables, proceed.
 * When a table's last page ends, every parked request is run again from
 * scratch (df_req_rerun) in arrival order; those still blocked -- by another
 * table's page -- park again, in the same order. So a write waits for the
 * pages in progress on its tables, at most one page's work each, never a
 * whole table scan (a scan is many pages, each a separate request).
 *
 * Index pages: a Query or Scan with IndexName iterates the index's tree,
 * which every st_write of the base table changes, so it registers as a
 * page of the BASE table: base writes wait for it the same way. A GSI
 * backfill (indexes.c) skips its table while the table is busy here.
 *
 * Fairness: a new page of a table that has parked writes parks too
 * (df_wait_writers), so overlapping pages from several clients cannot keep
 * a table busy forever; it runs after those writes.
 *
 * Shutdown: parked and in-progress requests keep their connection
 * suspended, which main.c counts as work in flight, so the daemon waits for
 * them; pages end by themselves and release the writes behind them.
 */
#include <stdlib.h>

#include "server/server_int.h"

typedef struct df_pages df_pages;

/* A table with a page in progress, or parked requests for it. */
typedef struct busy_table {
  st_table *t;      /* the table */
  unsigned pages;   /* sliced pages in progress */
  unsigned waiters; /* parked writes that touch it */
} busy_table;

struct df_pages {
  uv_idle_t idle;     /* runs one slice per loop iteration while jobs exist */
  df_slice_job *head; /* round-robin list of jobs */
  df_slice_job *tail; /* last job */
  busy_table *busy;   /* tables with pages or waiters */
  size_t n_busy;      /* entries in busy */
  size_t cap_busy;    /* allocated entries */
  df_req **parked;    /* parked requests, in arrival order */
  size_t n_parked;    /* entries in parked */
  size_t cap_parked;  /* allocated entries */
  int running;        /* 1 while the idle handle is started */
};

static busy_table *busy_find(df_pages *p, const st_table *t) {
  for (size_t i = 0; i < p->n_busy; i++)
    if (p->busy[i].t == t) return &p->busy[i];
  return NULL;
}

static busy_table *busy_get(df_pages *p, st_table *t) {
  busy_table *b = busy_find(p, t);
  if (b != NULL) return b;
  if (p->n_busy == p->cap_busy) {
    p->cap_busy = p->cap_busy ? p->cap_busy * 2 : 8;
    p->busy = df_xrealloc(p->busy, p->cap_busy * sizeof *p->busy);
  }
  b = &p->busy[p->n_busy++];
  b->t = t;
  b->pages = 0;
  b->waiters = 0;
  return b;
}

/* Forget entries with neither pages nor waiters. */
static void busy_compact(df_pages *p) {
  size_t k = 0;
  for (size_t i = 0; i < p->n_busy; i++)
    if (p->busy[i].pages > 0 || p->busy[i].waiters > 0) p->busy[k++] = p->busy[i];
  p->n_busy = k;
}

static void park(df_pages *p, df_req *r) {
  if (p->n_parked == p->cap_parked) {
    p->cap_parked = p->cap_parked ? p->cap_parked * 2 : 16;
    p->parked = df_xrealloc(p->parked, p->cap_parked * sizeof *p->parked);
  }
  p->parked[p->n_parked++] = r;
  df_req_later(r);
}

int df_table_busy(df_server *s, const st_table *t) {
  const busy_table *b = s->pages != NULL ? busy_find(s->pages, t) : NULL;
  return b != NULL && (b->pages > 0 || b->waiters > 0);
}

int df_wait_tables(df_req *r, st_table *const *ts, size_t n) {
  df_pages *p = r->srv->pages;
  if (p == NULL) return 0;
  int wait = 0;
  for (size_t i = 0; i < n && !wait; i++) {
    const busy_table *b = ts[i] != NULL ? busy_find(p, ts[i]) : NULL;
    wait = b != NULL && b->pages > 0;
  }
  if (!wait) return 0;
  for (size_t i = 0; i < n; i++)
    if (ts[i] != NULL) busy_get(p, ts[i])->waiters++;
  park(p, r);
  return 1;
}

int df_wait_writers(df_req *r, st_table *t) {
  df_pages *p = r->srv->pages;
  if (p == NULL) return 0;
  const busy_table *b = busy_find(p, t);
  if (b == NULL || b->waiters == 0) return 0;
  park(p, r);
  return 1;
}

/* A table's last page ended: run every parked request again, in order. */
static void release_parked(df_pages *p) {
  if (p->n_parked == 0) return;
  df_req **list = p->parked;
  size_t n = p->n_parked;
  p->parked = NULL;
  p->n_parked = p->cap_parked = 0;
  for (size_t i = 0; i < p->n_busy; i++) p->busy[i].waiters = 0;
  busy_compact(p);
  for (size_t i = 0; i < n; i++) df_req_rerun(list[i]);
  free(list);
}

static void on_idle(uv_idle_t *h) {
  df_pages *p = h->data;
  df_slice_job *j = p->head;
  if (j == NULL) {
    uv_idle_stop(&p->idle);
    p->running = 0;
    return;
  }
  p->head = j->next;
  if (p->head == NULL) p->tail = NULL;
  j->next = NULL;
  st_table *t = j->table;
  if (!j->step(j)) { /* not finished: back at the end of the list */
    if (p->tail != NULL)
      p->tail->next = j;
    else
      p->head = j;
    p->tail = j;
    return;
  }
  busy_table *b = busy_find(p, t);
  if (b != NULL && b->pages > 0) b->pages--;
  if (b != NULL && b->pages == 0) {
    busy_compact(p);
    release_parked(p);
  }
  if (p->head == NULL) {
    uv_idle_stop(&p->idle);
    p->running = 0;
  }
}

void df_slice_start(df_slice_job *j) {
  df_pages *p = j->srv->pages;
  busy_get(p, j->table)->pages++;
  j->next = NULL;
  if (p->tail != NULL)
    p->tail->next = j;
  else
    p->head = j;
  p->tail = j;
  if (!p->running) {
    uv_idle_start(&p->idle, on_idle);
    p->running = 1;
  }
}

int df_pages_init(df_server *s) {
  df_pages *p = df_xcalloc(1, sizeof *p);
  if (uv_idle_init(s->loop, &p->idle) != 0) {
    free(p);
    return -1;
  }
  p->idle.data = p;
  s->pages = p;
  return 0;
}

static void on_closed(uv_handle_t *h) {
  df_pages *p = h->data;
  free(p->busy);
  free(p->parked);
  free(p);
}

void df_pages_close(df_server *s) {
  df_pages *p = s->pages;
  if (p == NULL) return;
  s->pages = NULL;
  if (p->head != NULL || p->n_parked > 0)
    df_log(s, DF_LOG_ERROR, "closing with sliced pages or parked requests left");
  uv_close((uv_handle_t *)&p->idle, on_closed);
}
