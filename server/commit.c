/*
 * commit.c -- the group-commit and checkpoint driver.
 *
 * Handlers apply changes in memory on the loop thread and reply with the
 * LSN that must be durable before the client may see the answer; http.c
 * parks such replies here as df_waiters. This file moves log records to disk
 * without ever blocking the loop:
 *
 *   loop thread                         libuv thread pool
 *   -----------                         -----------------
 *   job = st_flush_begin(db)   ------>  st_flush_run(job)   (write + fdatasync)
 *   (again while it gives a job)        ... several at once, on several threads
 *   st_flush_end(db, job)      <------  (in any order)
 *   release waiters with lsn <= st_durable_lsn()
 *   start more flushes if records arrived meanwhile
 *
 * Up to st_options.max_flushes flushes (--max-flushes, default 3) are in
 * flight, each writing and fdatasyncing its own range of the log (a further
 * one starts only once the newest has run FLUSH_STAGGER_MS); the
 * engine advances the durable LSN only over the prefix of jobs that have all
 * finished (storage.h). Every record appended while they run goes into the
 * next one, so concurrent writers share fsyncs (group commit), and a new
 * cohort of writers need not wait for the previous cohort's fdatasync to end
 * before its own begins: the disk completes concurrent fdatasyncs of one
 * file far faster in total than back-to-back ones. A uv_check handle starts
 * flushes after any loop iteration that left records pending, whoever wrote
 * them (handlers, table timers).
 *
 * Threads: libuv's pool (UV_THREADPOOL_SIZE, 4 by default; main.c raises it
 * to max_flushes + 2 when needed) runs the flushes, the log-space job (C7)
 * and the checkpoint. Its queue is FIFO and a checkpoint run is queued only
 * once it is ready (C4), so it never waits on a flush and takes the next
 * free thread: flushes cannot starve it, and with max_flushes + 1 < pool
 * size one thread is always free for it.
 *
 * Invariants:
 *   C1. A waiter is released with ST_OK only when st_durable_lsn() >= its
 *       lsn, i.e. after st_flush_end() returned ST_OK for the job covering
 *       it and for every job begun before that one.
 *   C2. If a flush fails the engine is failed for good (storage.h); every
 *       waiter beyond the durable LSN is released with the error (the client
 *       gets a 500 and may retry; the change may or may not survive).
 *   C3. A waiter's done() is never called from inside df_commit_wait(), so
 *       http.c may suspend the connection after queuing it.
 *   C4. A checkpoint is begun (sealed at the last LSN) whenever it is due,
 *       even with records pending; its run goes to the thread pool only once
 *       st_checkpoint_ready() says the log is durable up to that LSN, so the
 *       run never waits on a flush and requests are never paused for it.
 *       flush_after() re-checks readiness after every flush.
 *   C5. A checkpoint job and flush jobs may run at the same time (storage.h
 *       allows it); at most one checkpoint job, and at most max_flushes flush
 *       jobs (st_flush_begin enforces it).
 *   C6. Shutdown waits until no job is in flight; st_close() then does
 *       the final flush and checkpoint synchronously.
 *   C7. At most one log-space job (st_prep_begin: zeros written ahead of
 *       the log's appends, so that a flush's fdatasync has no new file size
 *       to commit) is on the thread pool. It carries no records, so no
 *       waiter waits for it, but a flush may (st_flush_begin refuses one
 *       whose records would reach the zeros being written): while it is in
 *       flight waiters are not "stuck", and its end kicks the flushes.
 */
#include <stdlib.h>

#include "server/server_int.h"

/* Periodic checkpoint when the log is not empty (milliseconds). */
#define CKPT_PERIOD_MS 30000

/* A further flush starts only once the newest one in flight has run this
 * long (and the stagger timer re-kicks after it): on a disk whose fdatasync
 * takes ~0.2 ms flushes then never overlap, which keeps group commits large
 * (overlapping them there cost 10-20 % of PutItem throughput); on a disk
 * taking milliseconds, new cohorts of writers no longer wait for the whole
 * previous fdatasync (+42-56 % PutItem with a 3.7 ms fdatasync). */
#define FLUSH_STAGGER_MS 1

/* The log-space job on the thread pool (st_prep_begin): one at a time. */
typedef struct df_prep {
  uv_work_t req;            /* thread-pool request (req.data = this) */
  struct df_commit *c;      /* back pointer */
  st_prep_job *job;         /* the engine's job */
  int rc;                   /* st_prep_run's result */
} df_prep;

/* One flush job on the thread pool. */
typedef struct df_flush {
  uv_work_t req;            /* thread-pool request (req.data = this) */
  struct df_commit *c;      /* back pointer */
  st_flush_job *job;        /* the engine's job */
  int rc;                   /* st_flush_run's result */
} df_flush;

typedef struct df_commit {
  df_server *srv;           /* back pointer */
  df_waiter head;           /* sentinel of the waiter list (FIFO) */
  uint64_t n_waiters;       /* waiters queued */
  unsigned nflush;          /* flush jobs in flight (C5) */
  df_prep *prep;            /* the log-space job in flight (C7), NULL if none */
  uint64_t flush_started;   /* uv_hrtime() when the newest flush job started */
  uv_timer_t stagger_timer; /* re-kick once the newest flush has run FLUSH_STAGGER_MS */
  uv_work_t ckpt_req;       /* thread-pool request of the checkpoint in flight */
  st_ckpt_job *cjob;        /* the checkpoint job in flight, NULL if none */
  int ckpt_rc;              /* st_checkpoint_run's result */
  int ckpt_wanted;          /* 1: checkpoint at the next quiet point (timer or due) */
  int ckpt_running;         /* 1: cjob is on the thread pool */
  int failed;               /* first flush error (C2), ST_OK while healthy */
  int closing;              /* 1: no new work is started */
  uv_check_t check;         /* after each loop iteration: flush pending records */
  uv_timer_t ckpt_timer;    /* periodic checkpoint */
  uv_timer_t release_timer; /* asynchronous release pass (C3) */
  uv_timer_t soon_timer;    /* df_commit_checkpoint_soon(), outside the handler */
  int open_handles;         /* handles whose close callback has not run yet */
} df_commit;

static void maybe_checkpoint(df_commit *c);

/* 1 while a job that a waiter may depend on is in flight: a flush, or the
 * log-space job that a flush may be waiting for (C7). */
static int log_jobs_in_flight(const df_commit *c) { return c->nflush > 0 || c->prep != NULL; }

static void flush_work(uv_work_t *req) {
  df_flush *fl = req->data;
  fl->rc = st_flush_run(fl->job);
}

/* Release every waiter whose LSN is durable. With stuck = 1 (no flush is in
 * flight and df_commit_kick() could not start one) the others can never
 * become durable: fail them (C2) instead of leaving them hanging. */
static void release_waiters(df_commit *c, int stuck) {
  df_server *s = c->srv;
  uint64_t durable = st_durable_lsn(s->db);
  uint64_t last = st_last_lsn(s->db);
  df_waiter *w = c->head.next;
  while (w != &c->head) {
    df_waiter *next = w->next;
    int status = ST_OK;
    if (w->lsn > durable) {
      if (!stuck && c->failed == ST_OK) {
        w = next;
        continue;
      }
      if (c->failed != ST_OK) {
        status = c->failed;
      } else if (w->lsn > last) { /* a handler bug: an LSN that was never written */
        df_log(s, DF_LOG_ERROR, "reply waits on lsn %llu beyond the last lsn %llu",
               (unsigned long long)w->lsn, (unsigned long long)last);
        status = ST_EINVAL;
      } else { /* the engine refuses to flush (failed state, D9 of storage.c) */
        status = ST_EFAILED;
      }
    }
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->prev = w->next = NULL;
    c->n_waiters--;
    w->done(w, status);
    w = next;
  }
}

/* After a flush or the log-space job ended: start what may start now, and
 * if no log job is left in flight, fail the waiters none can cover (C2). */
static void log_job_done(df_commit *c) {
  df_server *s = c->srv;
  df_commit_kick(s);
  if (!log_jobs_in_flight(c) && c->n_waiters > 0) release_waiters(c, 1);
  if (s->stopping) df_main_check_stop(s);
}

static void flush_after(uv_work_t *req, int uvstatus) {
  df_flush *fl = req->data;
  df_commit *c = fl->c;
  df_server *s = c->srv;
  int run_rc = fl->rc;
  (void)uvstatus; /* never cancelled */
  int rc = st_flush_end(s->db, fl->job);
  free(fl);
  c->nflush--;
  if (rc != ST_OK) {
    if (c->failed == ST_OK) {
      df_log(s, DF_LOG_ERROR, "log flush failed: %s (run: %s); the engine refuses writes from now on",
             st_strerror(rc), st_strerror(run_rc));
      c->failed = rc;
    }
  }
  release_waiters(c, 0);
  if (rc == ST_OK && s->sse != NULL) df_sse_on_durable(s); /* new events are durable now */
  maybe_checkpoint(c);
  log_job_done(c);
}

static void prep_work(uv_work_t *req) {
  df_prep *p = req->data;
  p->rc = st_prep_run(p->job);
}

static void prep_after(uv_work_t *req, int uvstatus) {
  df_prep *p = req->data;
  df_commit *c = p->c;
  df_server *s = c->srv;
  (void)uvstatus; /* never cancelled */
  int rc = st_prep_end(s->db, p->job);
  if (rc != ST_OK)
    df_log(s, DF_LOG_WARN, "cannot zero-fill log space ahead (%s): the log appends instead",
           st_strerror(rc));
  free(p);
  c->prep = NULL;
  log_job_done(c); /* a flush may have waited for it */
}

/* Give the engine's log-space job to the thread pool when it wants one. */
static void prep_kick(df_commit *c) {
  df_server *s = c->srv;
  if (c->prep != NULL) return;
  st_prep_job *job = st_prep_begin(s->db);
  if (job == NULL) return;
  df_prep *p = df_xcalloc(1, sizeof *p);
  p->c = c;
  p->job = job;
  p->rc = ST_OK;
  p->req.data = p;
  c->prep = p;
  if (uv_queue_work(s->loop, &p->req, prep_work, prep_after) != 0) {
    prep_work(&p->req); /* cannot happen with a live loop */
    prep_after(&p->req, 0);
  }
}

/* Start flush jobs while records are pending and the engine gives one (it
 * refuses past max_flushes in flight, C5). */
static void on_stagger_timer(uv_timer_t *t) {
  df_commit *c = t->data;
  df_commit_kick(c->srv);
}

void df_commit_kick(df_server *s) {
  df_commit *c = s->commit;
  if (c == NULL || c->closing || c->failed != ST_OK) return;
  if (st_last_lsn(s->db) > st_durable_lsn(s->db)) prep_kick(c); /* not for an idle log */
  while (st_last_lsn(s->db) > st_durable_lsn(s->db)) {
    if (c->nflush > 0) { /* overlap only a flush that is taking long */
      uint64_t ran = uv_hrtime() - c->flush_started;
      if (ran < (uint64_t)FLUSH_STAGGER_MS * 1000000) {
        if (!uv_is_active((uv_handle_t *)&c->stagger_timer))
          uv_timer_start(&c->stagger_timer, on_stagger_timer, FLUSH_STAGGER_MS, 0);
        return;
      }
    }
    st_flush_job *job = st_flush_begin(s->db);
    if (job == NULL) return;
    df_flush *fl = df_xcalloc(1, sizeof *fl);
    fl->c = c;
    fl->job = job;
    fl->rc = ST_OK;
    fl->req.data = fl;
    c->nflush++;
    c->flush_started = uv_hrtime();
    int rc = uv_queue_work(s->loop, &fl->req, flush_work, flush_after);
    if (rc != 0) { /* cannot happen with a live loop; keep the loop going */
      df_log(s, DF_LOG_ERROR, "uv_queue_work: %s; flushing on the loop thread", uv_strerror(rc));
      flush_work(&fl->req);
      flush_after(&fl->req, 0); /* kicks again itself */
      return;
    }
  }
}

static void ckpt_work(uv_work_t *req) {
  df_commit *c = req->data;
  c->ckpt_rc = st_checkpoint_run(c->cjob);
}

static void ckpt_after(uv_work_t *req, int uvstatus) {
  df_commit *c = req->data;
  df_server *s = c->srv;
  st_ckpt_job *job = c->cjob;
  (void)uvstatus;
  c->cjob = NULL;
  c->ckpt_running = 0;
  if (c->ckpt_rc != ST_OK) df_log(s, DF_LOG_ERROR, "checkpoint failed: %s", st_strerror(c->ckpt_rc));
  int rc = st_checkpoint_end(s->db, job);
  if (rc != ST_OK && rc != c->ckpt_rc) df_log(s, DF_LOG_ERROR, "checkpoint end failed: %s", st_strerror(rc));
  if (rc == ST_OK && c->ckpt_rc == ST_OK && df_log_enabled(s, DF_LOG_DEBUG)) {
    st_stats st;
    st_get_stats(s->db, &st);
    df_log(s, DF_LOG_DEBUG, "checkpoint done at lsn %llu (%llu checkpoints)",
           (unsigned long long)st.checkpoint_lsn, (unsigned long long)st.checkpoints);
  }
  /* Due again already (a burst during the checkpoint)? */
  maybe_checkpoint(c);
  if (s->stopping) df_main_check_stop(s);
}

/* Begin a checkpoint if one is wanted or due, and hand the begun job to the
 * thread pool once it is ready (C4, C5). */
static void maybe_checkpoint(df_commit *c) {
  df_server *s = c->srv;
  if (c->closing || c->failed != ST_OK || c->ckpt_running) return;
  if (c->cjob == NULL) {
    if (s->stopping) return; /* st_close() does the last one */
    if (!c->ckpt_wanted && !st_checkpoint_due(s->db)) return;
    int err = ST_OK;
    st_ckpt_job *job = st_checkpoint_begin(s->db, &err);
    c->ckpt_wanted = 0;
    if (job == NULL) {
      if (err != ST_OK) df_log(s, DF_LOG_ERROR, "checkpoint not started: %s", st_strerror(err));
      return;
    }
    c->cjob = job;
  }
  if (!st_checkpoint_ready(s->db, c->cjob)) {
    df_commit_kick(s); /* its records must be flushed first; flush_after() comes back here */
    return;
  }
  c->ckpt_running = 1;
  c->ckpt_rc = ST_OK;
  c->ckpt_req.data = c;
  int rc = uv_queue_work(s->loop, &c->ckpt_req, ckpt_work, ckpt_after);
  if (rc != 0) {
    df_log(s, DF_LOG_ERROR, "uv_queue_work: %s; checkpointing on the loop thread", uv_strerror(rc));
    ckpt_work(&c->ckpt_req);
    ckpt_after(&c->ckpt_req, 0);
  }
}

static void on_check(uv_check_t *h) {
  df_commit *c = h->data;
  df_commit_kick(c->srv);
}

static void on_ckpt_timer(uv_timer_t *t) {
  df_commit *c = t->data;
  st_stats st;
  st_get_stats(c->srv->db, &st);
  if (st.log_bytes == 0) return;
  c->ckpt_wanted = 1;
  if (c->nflush == 0) maybe_checkpoint(c);
  /* else: flush_after() calls maybe_checkpoint() */
}

static void on_soon_timer(uv_timer_t *t) {
  df_commit *c = t->data;
  if (c->nflush == 0) maybe_checkpoint(c); /* else flush_after() does it */
}

void df_commit_checkpoint_soon(df_server *s) {
  df_commit *c = s->commit;
  if (c == NULL || c->closing) return;
  c->ckpt_wanted = 1;
  uv_timer_start(&c->soon_timer, on_soon_timer, 0, 0);
}

static void on_release_timer(uv_timer_t *t) {
  df_commit *c = t->data;
  df_commit_kick(c->srv);
  release_waiters(c, !log_jobs_in_flight(c));
  if (c->srv->stopping) df_main_check_stop(c->srv);
}

int df_commit_init(df_server *s) {
  df_commit *c = df_xcalloc(1, sizeof *c);
  c->srv = s;
  c->head.next = c->head.prev = &c->head;
  c->failed = ST_OK;
  uv_check_init(s->loop, &c->check);
  c->check.data = c;
  uv_check_start(&c->check, on_check);
  uv_timer_init(s->loop, &c->ckpt_timer);
  c->ckpt_timer.data = c;
  uv_timer_start(&c->ckpt_timer, on_ckpt_timer, CKPT_PERIOD_MS, CKPT_PERIOD_MS);
  uv_timer_init(s->loop, &c->release_timer);
  c->release_timer.data = c;
  uv_timer_init(s->loop, &c->soon_timer);
  c->soon_timer.data = c;
  uv_timer_init(s->loop, &c->stagger_timer);
  c->stagger_timer.data = c;
  s->commit = c;
  return 0;
}

void df_commit_wait(df_server *s, df_waiter *w, uint64_t lsn) {
  df_commit *c = s->commit;
  w->lsn = lsn;
  w->next = &c->head;
  w->prev = c->head.prev;
  c->head.prev->next = w;
  c->head.prev = w;
  c->n_waiters++;
  df_commit_kick(s);
  /* No flush will cover it (engine failed, or it is already durable): let
   * the release pass decide, outside the caller (C3). */
  if (!log_jobs_in_flight(c)) uv_timer_start(&c->release_timer, on_release_timer, 0, 0);
}

void df_commit_cancel(df_server *s, df_waiter *w) {
  df_commit *c = s->commit;
  if (w->next == NULL) return; /* not queued */
  w->prev->next = w->next;
  w->next->prev = w->prev;
  w->prev = w->next = NULL;
  if (c != NULL) c->n_waiters--;
}

int df_commit_idle(const df_server *s) {
  const df_commit *c = s->commit;
  return c == NULL || (!log_jobs_in_flight(c) && c->cjob == NULL);
}

static void on_closed(uv_handle_t *h) {
  df_commit *c = h->data;
  if (--c->open_handles == 0) free(c); /* the last close callback frees the state */
}

void df_commit_close(df_server *s) {
  df_commit *c = s->commit;
  if (c == NULL || c->closing) return;
  c->closing = 1;
  /* Waiters left here would be requests still in flight: the caller waits for
   * those first. Fail any stragglers rather than leaving them hanging. */
  release_waiters(c, 1);
  s->commit = NULL;
  c->open_handles = 5;
  uv_close((uv_handle_t *)&c->stagger_timer, on_closed);
  uv_close((uv_handle_t *)&c->soon_timer, on_closed);
  uv_close((uv_handle_t *)&c->check, on_closed);
  uv_close((uv_handle_t *)&c->ckpt_timer, on_closed);
  uv_close((uv_handle_t *)&c->release_timer, on_closed);
}
