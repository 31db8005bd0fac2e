/*
 * sse.c -- live change streams over server-sent events:
 * GET /v1/tables/<table>/stream (rest.c routes it here).
 *
 * A subscriber gets every change event of the table's enabled stream as it
 * becomes durable, in sequence order, as
 *
 *   id: 000000000000000131073          the sequence number (p_seq_format)
 *   event: INSERT                      INSERT / MODIFY / REMOVE
 *   data: {"eventID":..,"dynamodb":..} the record GetRecords returns, one line
 *   <empty line>
 *
 * (with ?format=plain the data line is p_write_stream_record_plain's: the
 * same record with keys and images in the plain JSON of the /v1/ face)
 * after a first comment (": ok"), with comment heartbeats (": heartbeat")
 * every cfg.sse_heartbeat_ms and these notices (data: one JSON object):
 *   event: trimmed   the resume point was trimmed already: {"message",
 *                    "first_retained" (sequence number or null)}; the
 *                    stream goes on from the oldest retained event
 *   event: overflow  the subscriber fell cfg.sse_backlog events behind:
 *                    {"message", "resume_after": the id of the last event
 *                    it was sent}; then the response ends
 *   event: end       the stream was disabled or its table deleted, and
 *                    everything it held was sent; then the response ends
 *   event: error     the event log could not be read; then the response ends
 *
 * Where a subscription starts: after the Last-Event-ID header, else after
 * ?after=<seq>, else ?from=latest (default: events that become durable from
 * now on) or ?from=trim_horizon (the oldest retained event).
 *
 * Two ways events reach a subscriber:
 *   catch-up  a subscriber behind the stream's live position reads its
 *             own chunks from the event log (st_events_read), one chunk
 *             whenever its queue runs empty, encoding them for itself;
 *   live      once it has read everything below the live position it
 *             joins the live path: df_sse_on_durable() reads the events
 *             that became durable once per stream, encodes each ONCE into
 *             a reference-counted buffer (sse_buf) and appends a reference
 *             to the queue of every live subscriber.
 *
 * Invariants:
 *   E1. Only durable events are sent: every read is bounded by
 *       (st_durable_lsn() + 1) << 16 (storage.h: an event is durable when
 *       the durable LSN reaches seq >> 16).
 *   E2. ss->live only grows, never past that bound; every event with seq
 *       < ss->live has been handed to each live subscriber whose position
 *       (sub->next) was <= its seq; a catch-up subscriber reads only below
 *       ss->live, and joins the live path only when that read is empty, so
 *       no event is skipped or sent twice at the hand-over.
 *   E3. A subscriber's queue holds at most cfg.sse_backlog events from the
 *       live path (besides comments and notices); the live path never waits
 *       for a subscriber: one that would pass the bound is cut off (its
 *       unsent events are dropped, "overflow" is queued) and leaves the
 *       stream. Catch-up reads one chunk at a time, only when the queue is
 *       empty. So a slow reader never blocks writers or other readers and
 *       its memory is bounded.
 *   E4. A subscriber's connection is suspended exactly when its content
 *       reader found nothing to send (sub->suspended); whoever queues
 *       something resumes it and wakes the loop (never running MHD from an
 *       MHD callback). The suspended count is part of the transport's
 *       (df_http.suspended), and df_sse_shutdown() resumes everything, so
 *       MHD is never stopped with a suspended subscriber.
 *   E5. A subscriber is freed only by MHD's response free callback; until
 *       then it stays in x->subs (heartbeats, shutdown) even after it left
 *       its stream (sub->ss == NULL: drain the queue, then end).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server_int.h"

/* Events per catch-up read, and the byte bound of one read. */
#define CATCHUP_MAX 64
#define CATCHUP_BYTES ((size_t)1024 * 1024)
/* Events per read on the live path (it loops until the bound). */
#define LIVE_MAX 256
#define LIVE_BYTES ((size_t)4 * 1024 * 1024)
/* Block size handed to MHD for the callback response. */
#define SSE_BLOCK (16 * 1024)
#define HEARTBEAT_TEXT ": heartbeat\n\n"
/* First bytes of every stream: libmicrohttpd sends the response headers
 * together with the first body bytes, so a stream that began with nothing
 * to send would keep its client waiting for the headers. */
#define HELLO_TEXT ": ok\n\n"

/* One encoded chunk of the stream, shared by the queues holding it (E3). */
typedef struct sse_buf {
  unsigned refs; /* references: queues holding it, plus its maker while building */
  uint64_t seq;  /* the event's sequence number; 0 for notices and heartbeats */
  size_t len;    /* bytes of text */
  char *text;    /* the SSE text, malloc'd */
} sse_buf;

typedef struct sse_sub sse_sub;
typedef struct sse_stream sse_stream;

/* The subscribers of one df_stream (df_stream.sse). */
struct sse_stream {
  sse_stream *prev, *next; /* df_sse's list of streams with subscribers */
  df_stream *st;           /* the stream */
  sse_sub *subs;           /* its subscribers (doubly linked via sprev/snext) */
  size_t n_live;           /* of which on the live path */
  uint64_t live;           /* next sequence number the live path reads (E2) */
  int closed;              /* 1: disabled / table deleted (df_sse_stream_closed) */
  uint64_t end;            /* closed: every event of the stream has seq < end */
};

/* One subscription: one GET .../stream response. */
struct sse_sub {
  sse_sub *aprev, *anext;    /* df_sse's list of every subscriber (E5) */
  sse_sub *sprev, *snext;    /* its stream's list */
  struct df_sse *sse;        /* the module, NULL once df_sse_close() let go of it */
  df_http *h;                /* transport, for its suspended count (outlives MHD's callbacks) */
  sse_stream *ss;            /* its stream, NULL once it left it (final notice queued) */
  struct MHD_Connection *mc; /* its connection */
  uint64_t next;             /* next sequence number it needs */
  uint64_t last_sent;        /* id of the last event handed to MHD (for "overflow") */
  int live;                  /* 1: on the live path, 0: catching up */
  int plain;                 /* 1: records in plain JSON (?format=plain) */
  int suspended;             /* 1: connection suspended by its content reader (E4) */
  sse_buf **q;               /* ring buffer of queued chunks */
  size_t q_head;             /* index of the oldest */
  size_t q_len;              /* chunks queued */
  size_t q_events;           /* of which events (the backlog, E3) */
  size_t q_cap;              /* ring size (a power of two) */
  size_t off;                /* bytes of the oldest chunk already handed to MHD */
};

/* Module state (df_server.sse). */
typedef struct df_sse {
  df_server *srv;       /* back pointer */
  sse_stream *streams;  /* streams with subscribers */
  sse_sub *subs;        /* every subscriber not yet freed */
  size_t n_subs;        /* entries in subs */
  uv_timer_t heartbeat; /* every cfg.sse_heartbeat_ms while subscribers exist */
  int timer_on;         /* 1: heartbeat started */
  sse_buf *hb;          /* the heartbeat chunk, shared */
  sse_buf *hello;       /* the first chunk of every stream, shared */
  size_t backlog;       /* cfg.sse_backlog, or its default */
  uint64_t hb_ms;       /* heartbeat period */
  int stopping;         /* df_sse_shutdown() ran: no new subscriptions */
} df_sse;

/* ---- chunks ---------------------------------------------------------------- */

static sse_buf *buf_new(char *text, size_t len, uint64_t seq) {
  sse_buf *b = df_xmalloc(sizeof *b);
  b->refs = 1;
  b->seq = seq;
  b->len = len;
  b->text = text;
  return b;
}

/* A chunk of constant text (refs 1). */
static sse_buf *buf_const(const char *text) {
  size_t len = strlen(text);
  char *copy = df_xmalloc(len + 1);
  memcpy(copy, text, len + 1);
  return buf_new(copy, len, 0);
}

static sse_buf *buf_ref(sse_buf *b) {
  b->refs++;
  return b;
}

static void buf_unref(sse_buf *b) {
  if (b != NULL && --b->refs == 0) {
    free(b->text);
    free(b);
  }
}

static uint64_t durable_bound(df_server *s) {
  return (st_durable_lsn(s->db) + 1) << 16;
}

static const char *kind_name(st_event_kind k) {
  switch (k) {
    case ST_EV_INSERT:
      return "INSERT";
    case ST_EV_MODIFY:
      return "MODIFY";
    case ST_EV_REMOVE:
      return "REMOVE";
  }
  return "UNKNOWN";
}

/* "id: ..\nevent: ..\ndata: <record>\n\n" of one event (refs 1); plain:
 * the record in plain JSON. */
static sse_buf *encode_event(df_server *s, const df_stream *st, const st_event *ev, int plain) {
  p_stream_record rec;
  char event_id[33], seq[24];
  df_stream_record(s, st, ev, &rec, event_id);
  p_seq_format(ev->seq, seq);
  p_buf b;
  p_buf_init(&b);
  p_buf_reserve(&b, 256 + (size_t)ev->size_bytes * 2);
  p_buf_puts(&b, "id: ");
  p_buf_puts(&b, seq);
  p_buf_puts(&b, "\nevent: ");
  p_buf_puts(&b, kind_name(ev->kind));
  p_buf_puts(&b, "\ndata: ");
  if (plain)
    p_write_stream_record_plain(&b, &rec);
  else
    p_write_stream_record(&b, &rec);
  p_buf_puts(&b, "\n\n");
  size_t len = 0;
  char *text = p_buf_steal(&b, &len);
  return buf_new(text, len, ev->seq);
}

/* "event: <name>\ndata: <data>\n\n" (data stolen; refs 1). */
static sse_buf *encode_notice(const char *name, json_t *data) {
  char *json = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(data);
  p_buf b;
  p_buf_init(&b);
  p_buf_puts(&b, "event: ");
  p_buf_puts(&b, name);
  p_buf_puts(&b, "\ndata: ");
  p_buf_puts(&b, json != NULL ? json : "{}");
  p_buf_puts(&b, "\n\n");
  free(json);
  size_t len = 0;
  char *text = p_buf_steal(&b, &len);
  return buf_new(text, len, 0);
}

static json_t *seq_json(uint64_t seq) {
  char text[24];
  p_seq_format(seq, text);
  return json_string(text);
}

/* ---- subscriber queues -------------------------------------------------------- */

/* Append b (the queue takes this reference). */
static void q_push(sse_sub *sub, sse_buf *b) {
  if (sub->q_len == sub->q_cap) {
    size_t cap = sub->q_cap ? sub->q_cap * 2 : 16;
    sse_buf **q = df_xmalloc(cap * sizeof *q);
    for (size_t i = 0; i < sub->q_len; i++) q[i] = sub->q[(sub->q_head + i) & (sub->q_cap - 1)];
    free(sub->q);
    sub->q = q;
    sub->q_cap = cap;
    sub->q_head = 0;
  }
  sub->q[(sub->q_head + sub->q_len) & (sub->q_cap - 1)] = b;
  sub->q_len++;
  if (b->seq != 0) sub->q_events++;
}

static sse_buf *q_front(const sse_sub *sub) {
  return sub->q[sub->q_head];
}

static void q_pop(sse_sub *sub) {
  if (sub->q[sub->q_head]->seq != 0) sub->q_events--;
  buf_unref(sub->q[sub->q_head]);
  sub->q_head = (sub->q_head + 1) & (sub->q_cap - 1);
  sub->q_len--;
}

/* Drop everything queued, except a chunk partly handed to MHD already
 * (the client must get it whole). */
static void q_drop_unsent(sse_sub *sub) {
  size_t keep = sub->off > 0 ? 1 : 0;
  while (sub->q_len > keep) {
    size_t last = (sub->q_head + sub->q_len - 1) & (sub->q_cap - 1);
    if (sub->q[last]->seq != 0) sub->q_events--;
    buf_unref(sub->q[last]);
    sub->q_len--;
  }
  if (keep == 0) sub->off = 0;
}

/* E4: make MHD call the content reader again. */
static void sub_resume(sse_sub *sub) {
  if (!sub->suspended) return;
  sub->suspended = 0;
  sub->h->suspended--;
  MHD_resume_connection(sub->mc);
  if (sub->sse != NULL) df_loop_wake(sub->sse->srv);
}

/* ---- streams -------------------------------------------------------------- */

static void ss_unlink_sub(sse_stream *ss, sse_sub *sub) {
  if (sub->sprev != NULL)
    sub->sprev->snext = sub->snext;
  else
    ss->subs = sub->snext;
  if (sub->snext != NULL) sub->snext->sprev = sub->sprev;
  sub->sprev = sub->snext = NULL;
  if (sub->live) ss->n_live--;
  sub->live = 0;
  sub->ss = NULL;
}

/* Free ss if nobody subscribes any more. */
static void ss_gc(df_sse *x, sse_stream *ss) {
  if (ss == NULL || ss->subs != NULL) return;
  if (ss->prev != NULL)
    ss->prev->next = ss->next;
  else
    x->streams = ss->next;
  if (ss->next != NULL) ss->next->prev = ss->prev;
  ss->st->sse = NULL;
  free(ss);
}

/* The subscriber leaves its stream: queue the final chunk (taken; NULL =
 * none) after what is queued, and let the reader end the response once
 * it is drained. ss is not freed here (callers run ss_gc). */
static void sub_finish(sse_sub *sub, sse_buf *final) {
  if (sub->ss != NULL) ss_unlink_sub(sub->ss, sub);
  if (final != NULL) q_push(sub, final);
  sub_resume(sub);
}

static sse_buf *end_notice(void) {
  return encode_notice("end", json_pack("{s:s}", "message",
                                        "The stream was disabled or its table deleted; every event it "
                                        "held was sent."));
}

/* "trimmed": the events between the subscriber's position and the trim
 * point are gone; first = the oldest retained event (NULL: none yet). */
static sse_buf *trimmed_notice(const st_event *first) {
  json_t *data = json_pack("{s:s,s:o}", "message",
                           "Events after the requested position were trimmed (older than the retention "
                           "period); continuing from the oldest retained event.",
                           "first_retained", first != NULL ? seq_json(first->seq) : json_null());
  return encode_notice("trimmed", data);
}

static sse_buf *error_notice(int rc) {
  char msg[160];
  snprintf(msg, sizeof msg, "The stream's event log could not be read (%s).", st_strerror(rc));
  return encode_notice("error", json_pack("{s:s}", "message", msg));
}

/* E3: cut a live subscriber off. */
static void sub_overflow(df_sse *x, sse_sub *sub) {
  q_drop_unsent(sub);
  uint64_t after = sub->q_len > 0 ? q_front(sub)->seq : 0; /* the chunk being sent, if an event */
  if (after == 0) after = sub->last_sent;
  char msg[200];
  snprintf(msg, sizeof msg,
           "The subscriber fell more than %zu events behind and was disconnected; resume after "
           "resume_after (Last-Event-ID or ?after=).",
           x->backlog);
  json_t *data = json_pack("{s:s,s:o}", "message", msg, "resume_after", seq_json(after));
  sub_finish(sub, encode_notice("overflow", data));
}

/* A catch-up subscriber joins the live path (E2); a closed stream whose
 * end it reached ends it. */
static void sub_go_live(sse_sub *sub) {
  sse_stream *ss = sub->ss;
  sub->live = 1;
  ss->n_live++;
  if (ss->closed && ss->live >= ss->end) sub_finish(sub, end_notice());
}

/* Queue the subscriber's next events below `below`, at most max of them
 * (first a "trimmed" notice if events it still needed were trimmed since
 * it subscribed). *n = events queued. ST_OK or the storage error. */
static int sub_fill(df_sse *x, sse_sub *sub, uint64_t below, size_t max, size_t *n) {
  sse_stream *ss = sub->ss;
  uint64_t trim = st_events_trimmed(ss->st->log);
  dv_arena *a = dv_arena_new();
  st_event *evs = dv_arena_alloc(a, max * sizeof *evs);
  uint64_t next = sub->next;
  *n = 0;
  int rc = st_events_read(ss->st->log, sub->next, below, max, CATCHUP_BYTES, a, evs, n, &next);
  if (rc == ST_OK) {
    if (sub->next < trim) {
      q_push(sub, trimmed_notice(*n > 0 ? &evs[0] : NULL));
      sub->next = trim;
    }
    for (size_t i = 0; i < *n; i++) q_push(sub, encode_event(x->srv, ss->st, &evs[i], sub->plain));
    if (*n > 0) sub->next = evs[*n - 1].seq + 1;
  }
  dv_arena_free(a);
  return rc;
}

/* Catch-up: read the subscriber's next chunk below ss->live into its queue,
 * or join the live path when there is none. ST_OK or the storage error. */
static int sub_catch_up(df_sse *x, sse_sub *sub) {
  size_t n = 0;
  if (sub->next < sub->ss->live) {
    int rc = sub_fill(x, sub, sub->ss->live, CATCHUP_MAX, &n);
    if (rc != ST_OK) return rc;
  }
  if (n == 0) sub_go_live(sub);
  return ST_OK;
}

/* The live path for one stream (E1, E2): hand every event that became
 * durable to its live subscribers; end them at a closed stream's end. */
static void ss_advance(df_sse *x, sse_stream *ss) {
  df_server *s = x->srv;
  uint64_t bound = durable_bound(s);
  if (ss->closed && bound > ss->end) bound = ss->end;
  int rc = ST_OK;
  while (ss->live < bound && ss->n_live > 0) {
    dv_arena *a = dv_arena_new();
    st_event *evs = dv_arena_alloc(a, LIVE_MAX * sizeof *evs);
    size_t n = 0;
    uint64_t next = ss->live;
    uint64_t trim = st_events_trimmed(ss->st->log);
    rc = st_events_read(ss->st->log, ss->live, bound, LIVE_MAX, LIVE_BYTES, a, evs, &n, &next);
    if (rc != ST_OK) {
      dv_arena_free(a);
      break;
    }
    if (ss->live < trim) /* trimmed before the live path read it (a retention shorter than a flush) */
      for (sse_sub *sub = ss->subs; sub != NULL; sub = sub->snext)
        if (sub->live && sub->next < trim) {
          q_push(sub, trimmed_notice(n > 0 ? &evs[0] : NULL));
          sub->next = trim;
          sub_resume(sub);
        }
    for (size_t i = 0; i < n; i++) {
      sse_buf *bufs[2] = {NULL, NULL}; /* encoded once per format (E3), when needed */
      sse_sub *sub = ss->subs, *sn;
      for (; sub != NULL; sub = sn) {
        sn = sub->snext;
        if (!sub->live || evs[i].seq < sub->next) continue;
        sub->next = evs[i].seq + 1;
        if (sub->q_events >= x->backlog) {
          sub_overflow(x, sub);
          continue;
        }
        if (bufs[sub->plain] == NULL) bufs[sub->plain] = encode_event(s, ss->st, &evs[i], sub->plain);
        q_push(sub, buf_ref(bufs[sub->plain]));
        sub_resume(sub);
      }
      buf_unref(bufs[0]);
      buf_unref(bufs[1]);
    }
    ss->live = n > 0 ? evs[n - 1].seq + 1 : bound;
    dv_arena_free(a);
  }
  if (rc != ST_OK) {
    df_log(s, DF_LOG_ERROR, "sse: reading the events of stream %s: %s", ss->st->arn, st_strerror(rc));
    for (sse_sub *sub = ss->subs, *sn; sub != NULL; sub = sn) {
      sn = sub->snext;
      if (sub->live) sub_finish(sub, error_notice(rc));
    }
  }
  /* Nobody live (any more): catch-up subscribers read the rest themselves. */
  if (ss->n_live == 0 && ss->live < bound) ss->live = bound;
  if (ss->closed && ss->live >= ss->end)
    for (sse_sub *sub = ss->subs, *sn; sub != NULL; sub = sn) {
      sn = sub->snext;
      if (sub->live) sub_finish(sub, end_notice());
    }
}

/* ---- the response ------------------------------------------------------------ */

/* MHD's content reader: hand over queued chunks; catch up when the queue
 * is empty; end once the subscriber left its stream and everything was
 * sent; otherwise suspend until something is queued (E4). */
static ssize_t sub_read(void *cls, uint64_t pos, char *out, size_t max) {
  sse_sub *sub = cls;
  size_t n = 0;
  (void)pos;
  for (;;) {
    while (n < max && sub->q_len > 0) {
      sse_buf *b = q_front(sub);
      size_t k = b->len - sub->off;
      if (k > max - n) k = max - n;
      memcpy(out + n, b->text + sub->off, k);
      n += k;
      sub->off += k;
      if (sub->off == b->len) {
        if (b->seq != 0) sub->last_sent = b->seq;
        sub->off = 0;
        q_pop(sub);
      }
    }
    if (n > 0 || sub->sse == NULL || sub->ss == NULL || sub->live) break;
    /* Nothing queued while catching up: read the next chunk. The loop then
     * hands it over, or stops because the subscriber went live (an empty
     * read) or left its stream (its final notice is queued). */
    sse_stream *ss = sub->ss;
    int rc = sub_catch_up(sub->sse, sub);
    if (rc != ST_OK) {
      df_log(sub->sse->srv, DF_LOG_ERROR, "sse: reading the events of stream %s: %s", ss->st->arn,
             st_strerror(rc));
      sub_finish(sub, error_notice(rc));
    }
    ss_gc(sub->sse, ss);
  }
  if (n > 0) return (ssize_t)n;
  if (sub->ss == NULL) return MHD_CONTENT_READER_END_OF_STREAM;
  sub->suspended = 1;
  sub->h->suspended++;
  MHD_suspend_connection(sub->mc);
  return 0;
}

/* MHD's free callback: the response is gone, and with it the subscriber
 * (E5). */
static void sub_free(void *cls) {
  sse_sub *sub = cls;
  df_sse *x = sub->sse;
  if (sub->suspended) { /* only if MHD stopped under it; df_sse_shutdown prevents that */
    sub->suspended = 0;
    sub->h->suspended--;
  }
  while (sub->q_len > 0) q_pop(sub);
  free(sub->q);
  if (x != NULL) {
    sse_stream *ss = sub->ss;
    if (ss != NULL) {
      ss_unlink_sub(ss, sub);
      ss_gc(x, ss);
    }
    if (sub->aprev != NULL)
      sub->aprev->anext = sub->anext;
    else
      x->subs = sub->anext;
    if (sub->anext != NULL) sub->anext->aprev = sub->aprev;
    if (--x->n_subs == 0 && x->timer_on) {
      uv_timer_stop(&x->heartbeat);
      x->timer_on = 0;
    }
  }
  free(sub);
}

static void on_heartbeat(uv_timer_t *t) {
  df_sse *x = t->data;
  for (sse_sub *sub = x->subs; sub != NULL; sub = sub->anext)
    if (sub->q_len == 0 && sub->ss != NULL) {
      q_push(sub, buf_ref(x->hb));
      sub_resume(sub); /* also finds clients gone while suspended */
    }
}

/* ---- subscribing ------------------------------------------------------------------ */

/* Does the Accept header allow text/event-stream? (absent: yes) */
static int accepts_event_stream(const char *accept) {
  if (accept == NULL || accept[strspn(accept, " \t")] == '\0') return 1; /* absent or empty: anything */
  return rest_accept_has(accept, "text/event-stream") || rest_accept_has(accept, "text/*") ||
         rest_accept_has(accept, "*/*");
}

/* A sequence number as sent ("%021" digits, or any run of 1..40 digits).
 * 0 or -1. */
static int parse_seq(const char *v, uint64_t *out) {
  size_t len = strlen(v);
  if (len == 0 || len > 40 || strspn(v, "0123456789") != len) return -1;
  uint64_t x = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned d = (unsigned)(v[i] - '0');
    if (x > (UINT64_MAX - d) / 10) return -1;
    x = x * 10 + d;
  }
  *out = x;
  return 0;
}

struct MHD_Response *df_sse_subscribe(df_server *s, struct MHD_Connection *mc, const char *table, int plain,
                                      unsigned *status) {
  df_sse *x = s->sse;
  if (x == NULL || x->stopping || s->stopping || s->http == NULL) {
    *status = 503;
    return df_rest_error("ServiceUnavailable", "The server is shutting down.");
  }
  if (!accepts_event_stream(MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT))) {
    *status = 406;
    return df_rest_error("NotAcceptable", "This resource is only available as text/event-stream.");
  }
  char msg[400];
  df_stream *st = df_stream_of_table(s, table);
  if (st == NULL || (st->sse != NULL && ((sse_stream *)st->sse)->closed)) {
    if (df_item_table_find(s, table) == NULL) {
      snprintf(msg, sizeof msg, "Requested resource not found: Table: %.255s not found", table);
      *status = 404;
      return df_rest_error("ResourceNotFound", msg);
    }
    snprintf(msg, sizeof msg, "Table %.255s has no enabled stream.", table);
    *status = 409;
    return df_rest_error("StreamNotEnabled", msg);
  }

  /* Where to start. */
  const char *last_id = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Last-Event-ID");
  const char *after = MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND, "after");
  const char *from = MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND, "from");
  const char *resume = last_id != NULL && last_id[0] != '\0' ? last_id : after;
  uint64_t bound = durable_bound(s), next, trim = 0;
  int trimmed = 0;
  if (resume != NULL) {
    uint64_t id;
    if (parse_seq(resume, &id) != 0) {
      snprintf(msg, sizeof msg, "Invalid %s: '%.64s' (expected a sequence number).",
               resume == last_id ? "Last-Event-ID" : "after", resume);
      *status = 400;
      return df_rest_error("ValidationError", msg);
    }
    next = id == UINT64_MAX ? id : id + 1;
    trim = st_events_trimmed(st->log);
    if (next < trim) {
      trimmed = 1;
      next = trim;
    }
  } else if (from == NULL || strcmp(from, "latest") == 0) {
    next = bound;
  } else if (strcmp(from, "trim_horizon") == 0) {
    next = st_events_trimmed(st->log); /* from the oldest retained event, no notice */
  } else {
    snprintf(msg, sizeof msg, "Invalid from: '%.64s' (expected trim_horizon or latest).", from);
    *status = 400;
    return df_rest_error("ValidationError", msg);
  }

  /* The trimmed notice names the oldest retained event. */
  sse_buf *notice = NULL;
  if (trimmed) {
    dv_arena *a = dv_arena_new();
    st_event ev;
    size_t n = 0;
    uint64_t nx;
    int rc = st_events_read(st->log, trim, bound, 1, 0, a, &ev, &n, &nx);
    if (rc == ST_OK) notice = trimmed_notice(n == 1 ? &ev : NULL);
    dv_arena_free(a);
    if (rc != ST_OK) {
      df_log(s, DF_LOG_ERROR, "sse: reading the events of stream %s: %s", st->arn, st_strerror(rc));
      *status = 500;
      return df_rest_error("InternalServerError", "The stream's event log could not be read.");
    }
  }

  sse_sub *sub = df_xcalloc(1, sizeof *sub);
  struct MHD_Response *resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sub_read, sub, sub_free);
  if (resp == NULL) {
    buf_unref(notice);
    free(sub);
    return NULL;
  }
  sse_stream *ss = st->sse;
  if (ss == NULL) {
    ss = df_xcalloc(1, sizeof *ss);
    ss->st = st;
    ss->live = bound;
    ss->next = x->streams;
    if (ss->next != NULL) ss->next->prev = ss;
    x->streams = ss;
    st->sse = ss;
  }
  sub->sse = x;
  sub->h = s->http;
  sub->mc = mc;
  sub->ss = ss;
  sub->next = next;
  sub->plain = plain != 0;
  sub->last_sent = next > 0 ? next - 1 : 0;
  sub->snext = ss->subs;
  if (sub->snext != NULL) sub->snext->sprev = sub;
  ss->subs = sub;
  sub->anext = x->subs;
  if (sub->anext != NULL) sub->anext->aprev = sub;
  x->subs = sub;
  if (x->n_subs++ == 0 && x->hb_ms > 0) {
    uv_timer_start(&x->heartbeat, on_heartbeat, x->hb_ms, x->hb_ms);
    x->timer_on = 1;
  }
  q_push(sub, buf_ref(x->hello));
  if (notice != NULL) q_push(sub, notice);
  if (sub->next >= ss->live) sub_go_live(sub);

  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  MHD_add_response_header(resp, "X-Accel-Buffering", "no");
  *status = 200;
  return resp;
}

/* ---- the server's hooks ---------------------------------------------------------- */

int df_sse_init(df_server *s) {
  df_sse *x = df_xcalloc(1, sizeof *x);
  x->srv = s;
  x->backlog = s->cfg.sse_backlog > 0 ? s->cfg.sse_backlog : 4096;
  x->hb_ms = s->cfg.sse_heartbeat_ms > 0 ? (uint64_t)s->cfg.sse_heartbeat_ms : 15000;
  x->hb = buf_const(HEARTBEAT_TEXT);
  x->hello = buf_const(HELLO_TEXT);
  uv_timer_init(s->loop, &x->heartbeat);
  x->heartbeat.data = x;
  s->sse = x;
  return 0;
}

void df_sse_on_durable(df_server *s) {
  df_sse *x = s->sse;
  if (x == NULL) return;
  for (sse_stream *ss = x->streams, *sn; ss != NULL; ss = sn) {
    sn = ss->next;
    ss_advance(x, ss);
    ss_gc(x, ss);
  }
}

/* A stream about to be freed: queue what is left of it (up to the backlog)
 * for a subscriber, then its final notice. */
static void sub_drain_final(df_sse *x, sse_sub *sub, uint64_t bound) {
  sse_stream *ss = sub->ss;
  int rc = ST_OK, more = 0;
  while (sub->next < bound) {
    size_t n = 0, room = x->backlog > sub->q_events ? x->backlog - sub->q_events : 0;
    if (room == 0) { /* full: is anything left behind? */
      dv_arena *a = dv_arena_new();
      st_event ev;
      uint64_t nx;
      rc = st_events_read(ss->st->log, sub->next, bound, 1, 0, a, &ev, &n, &nx);
      dv_arena_free(a);
      more = n > 0;
      break;
    }
    rc = sub_fill(x, sub, bound, room < CATCHUP_MAX ? room : CATCHUP_MAX, &n);
    if (rc != ST_OK || n == 0) break;
  }
  if (rc != ST_OK) {
    df_log(x->srv, DF_LOG_ERROR, "sse: reading the events of stream %s: %s", ss->st->arn, st_strerror(rc));
    sub_finish(sub, error_notice(rc));
  } else if (more) {
    /* The client gets what is queued, then where it stopped; resuming
     * finds the stream gone. */
    json_t *data = json_pack("{s:s,s:o}", "message", "The stream was deleted before every event was sent.",
                             "resume_after", seq_json(sub->next - 1));
    sub_finish(sub, encode_notice("overflow", data));
  } else {
    sub_finish(sub, end_notice());
  }
}

void df_sse_stream_closed(df_server *s, df_stream *st, int freeing) {
  df_sse *x = s->sse;
  sse_stream *ss = st->sse;
  if (x == NULL || ss == NULL) return;
  if (!ss->closed) {
    /* The log is detached: every event of the stream is in a record
     * already appended. */
    ss->closed = 1;
    ss->end = (st_last_lsn(s->db) + 1) << 16;
  }
  ss_advance(x, ss);
  if (freeing) {
    uint64_t bound = durable_bound(s);
    if (bound > ss->end) bound = ss->end;
    for (sse_sub *sub = ss->subs, *sn; sub != NULL; sub = sn) {
      sn = sub->snext;
      sub_drain_final(x, sub, bound);
    }
  }
  ss_gc(x, ss); /* freeing: no subscriber is left, so st->sse becomes NULL */
}

void df_sse_shutdown(df_server *s) {
  df_sse *x = s->sse;
  if (x == NULL) return;
  x->stopping = 1;
  for (sse_sub *sub = x->subs; sub != NULL; sub = sub->anext) {
    q_drop_unsent(sub);
    sse_stream *ss = sub->ss;
    sub_finish(sub, NULL);
    ss_gc(x, ss);
  }
}

static void on_timer_closed(uv_handle_t *h) {
  df_sse *x = h->data;
  free(x);
}

void df_sse_close(df_server *s) {
  df_sse *x = s->sse;
  if (x == NULL) return;
  s->sse = NULL;
  /* Subscribers still alive (MHD not stopped yet) keep their queues and
   * free themselves later, without the module. */
  for (sse_sub *sub = x->subs, *sn; sub != NULL; sub = sn) {
    sn = sub->anext;
    sse_stream *ss = sub->ss;
    if (ss != NULL) {
      ss_unlink_sub(ss, sub);
      ss_gc(x, ss);
    }
    sub->sse = NULL;
    sub->aprev = sub->anext = NULL;
  }
  x->subs = NULL;
  buf_unref(x->hb);
  buf_unref(x->hello);
  uv_timer_stop(&x->heartbeat);
  uv_close((uv_handle_t *)&x->heartbeat, on_timer_closed);
}
