/*
 * test_events.c -- change events through storage.h: event logs as catalog
 * entries, the event of every kind of write for every view type (images,
 * keys, sizes, sequence numbers), batches, reading with bounds, trimming,
 * attaching and detaching, dropping either side, compatibility with
 * version-1 catalogs and log records, and crash simulations in which the
 * table's items must equal exactly what the surviving events replay to.
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "storage/catalog.h"
#include "storage/codec.h"
#include "storage/storage.h"
#include "storage/wal.h"
#include "tests/testlib.h"

/* ---- helpers ---------------------------------------------------------------- */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static void rm_rf(const char *dir) {
  nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static char *tmpdir(void) {
  char *d = strdup("/tmp/dftest-events-XXXXXX");
  if (!mkdtemp(d)) abort();
  return d;
}

static st_db *open_db(const char *dir, const st_options *o) {
  st_options def = {.no_fsync = 1, .partitions = 4};
  st_db *db = NULL;
  char err[256] = "";
  int rc = st_open(dir, o ? o : &def, &db, err, sizeof err);
  if (rc != ST_OK) fprintf(stderr, "st_open(%s): %s: %s\n", dir, st_errname(rc), err);
  CHECK_EQ_INT(rc, ST_OK);
  return db;
}

static dv_value S(dv_arena *a, const char *s) {
  return dv_make_s(a, s, strlen(s));
}

static dv_value Nint(dv_arena *a, long long v) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%lld", v);
  return dv_make_n_text(a, buf, (size_t)n);
}

/* A map from n (name, value) pairs. */
static dv_value M(dv_arena *a, int n, ...) {
  dv_value m = {.type = DV_M, .n = (uint32_t)n};
  m.u.attrs = dv_arena_calloc(a, sizeof(dv_attr) * (size_t)(n ? n : 1));
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) {
    const char *name = va_arg(ap, const char *);
    m.u.attrs[i].name = name;
    m.u.attrs[i].name_len = (uint32_t)strlen(name);
    m.u.attrs[i].value = va_arg(ap, dv_value);
  }
  va_end(ap);
  if (dv_map_sort(&m) != 0) abort();
  return m;
}

static st_table *make_table(st_db *db, const char *name, const char *range) {
  st_table_def d = {.ns = "ns",
                    .name = name,
                    .hash = {"pk", DV_S},
                    .range = {range, range ? DV_N : DV_NONE},
                    .created = 1700000000.0};
  uint64_t lsn = 0;
  CHECK_EQ_INT(st_table_create(db, &d, &lsn), ST_OK);
  return st_table_find(db, "ns", name);
}

static st_table *make_log(st_db *db, const char *name) {
  st_table_def d = {.kind = ST_KIND_EVENTS,
                    .ns = "ns",
                    .name = name,
                    .meta = "stream",
                    .meta_len = 6,
                    .created = 1700000001.0};
  uint64_t lsn = 0;
  CHECK_EQ_INT(st_table_create(db, &d, &lsn), ST_OK);
  return st_table_find(db, "ns", name);
}

static int put_ex(st_db *db, st_table *t, const dv_value *item, unsigned flags, uint64_t *lsn) {
  st_write_req w = {t, ST_PUT, item, flags};
  return st_write(db, &w, 1, lsn);
}

static int del_ex(st_db *db, st_table *t, const dv_value *key, unsigned flags, uint64_t *lsn) {
  st_write_req w = {t, ST_DEL, key, flags};
  return st_write(db, &w, 1, lsn);
}

static int flush(st_db *db) {
  st_flush_job *j = st_flush_begin(db);
  if (!j) return ST_OK;
  st_flush_run(j);
  return st_flush_end(db, j);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every event of log (from 0, no bound), at most max. */
static size_t read_all(st_table *log, dv_arena *a, st_event *out, size_t max) {
  size_t n = 0;
  uint64_t next = 0;
  CHECK_EQ_INT(st_events_read(log, 0, UINT64_MAX, max, 0, a, out, &n, &next), ST_OK);
  return n;
}

/* ---- tests ------------------------------------------------------------------------ */

/* Event logs are catalog entries of their own kind; what may be done to
 * which kind. */
static void test_kinds(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  dv_arena *a = dv_arena_new();
  st_table *t = make_table(db, "t", "sk");
  st_table *log = make_log(db, "t-stream");
  CHECK(t && log);
  CHECK_EQ_INT(st_table_info(t)->kind, ST_KIND_TABLE);
  CHECK_EQ_INT(st_table_info(log)->kind, ST_KIND_EVENTS);
  CHECK_EQ_INT(st_table_info(log)->meta_len, 6);
  CHECK(!memcmp(st_table_info(log)->meta, "stream", 6));
  CHECK(st_table_info(log)->created == 1700000001.0);
  /* Listed with the tables of its namespace. */
  st_table *out[4];
  int more = 0;
  CHECK_EQ_INT(st_table_list(db, "ns", NULL, out, 4, &more), 2);
  CHECK(out[0] == t && out[1] == log);
  /* Same name as a table: the names are one space. */
  st_table_def dup = {.kind = ST_KIND_EVENTS, .ns = "ns", .name = "t"};
  uint64_t lsn;
  CHECK_EQ_INT(st_table_create(db, &dup, &lsn), ST_EEXIST);
  st_table_def badkind = {.kind = (st_kind)7, .ns = "ns", .name = "zz", .hash = {"pk", DV_S}};
  CHECK_EQ_INT(st_table_create(db, &badkind, &lsn), ST_EINVAL);
  /* The meta of a log changes like a table's. */
  CHECK_EQ_INT(st_table_set_meta(db, log, "x", 1, &lsn), ST_OK);
  CHECK_EQ_INT(st_table_info(log)->meta_len, 1);

  /* Item calls on a log, event calls on a table: ST_EINVAL. */
  uint64_t before = st_last_lsn(db);
  dv_value item = M(a, 2, "pk", S(a, "a"), "sk", Nint(a, 1));
  dv_value seqkey = M(a, 1, "seq", Nint(a, 1));
  CHECK_EQ_INT(put_ex(db, log, &seqkey, 0, &lsn), ST_EINVAL);
  CHECK_EQ_INT(del_ex(db, log, &seqkey, 0, &lsn), ST_EINVAL);
  st_write_req mixed[2] = {{t, ST_PUT, &item, 0}, {log, ST_PUT, &seqkey, 0}};
  CHECK_EQ_INT(st_write(db, mixed, 2, &lsn), ST_EINVAL);
  dv_value got;
  CHECK_EQ_INT(st_item_get(log, &seqkey, a, &got), ST_EINVAL);
  st_iter *it = NULL;
  st_iter_spec sp = {0};
  CHECK_EQ_INT(st_iter_open(log, &sp, &it), ST_EINVAL);
  CHECK(it == NULL);
  st_event ev[4];
  size_t n = 9;
  uint64_t next = 9;
  CHECK_EQ_INT(st_events_read(t, 0, UINT64_MAX, 4, 0, a, ev, &n, &next), ST_EINVAL);
  CHECK_EQ_INT(st_events_trim(db, t, 5, &lsn), ST_EINVAL);
  CHECK_EQ_INT(st_last_lsn(db), before);

  /* Attaching: only a log to a table, one table per log. */
  st_table *t2 = make_table(db, "t2", NULL);
  st_table *log2 = make_log(db, "t2-stream");
  CHECK_EQ_INT(st_table_set_events(log, t, ST_VIEW_BOTH), ST_EINVAL);
  CHECK_EQ_INT(st_table_set_events(t, t2, ST_VIEW_BOTH), ST_EINVAL);
  CHECK_EQ_INT(st_table_set_events(t, log, 4), ST_EINVAL);
  CHECK(st_table_events(t) == NULL);
  CHECK_EQ_INT(st_table_set_events(t, log, ST_VIEW_NEW), ST_OK);
  CHECK(st_table_events(t) == log);
  CHECK_EQ_INT(st_table_set_events(t2, log, ST_VIEW_NEW), ST_EINVAL);
  CHECK_EQ_INT(st_table_set_events(t, log, ST_VIEW_OLD), ST_OK); /* again: new view */
  /* Moving t to another log frees the first one. */
  CHECK_EQ_INT(st_table_set_events(t, log2, ST_VIEW_KEYS), ST_OK);
  CHECK(st_table_events(t) == log2);
  CHECK_EQ_INT(st_table_set_events(t2, log, ST_VIEW_KEYS), ST_OK);
  CHECK_EQ_INT(st_table_set_events(t, NULL, 0), ST_OK);
  CHECK(st_table_events(t) == NULL);
  CHECK_EQ_INT(st_table_set_events(t2, log2, ST_VIEW_KEYS), ST_OK); /* log2 is free again */

  /* The caller's pointer. */
  int mark;
  CHECK(st_table_user(t) == NULL);
  st_table_set_user(t, &mark);
  st_table_set_user(log, &mark);
  CHECK(st_table_user(t) == &mark && st_table_user(log) == &mark);

  /* Kinds persist: after a clean close, and after a crash (log replay). */
  CHECK_EQ_INT(st_close(db), ST_OK);
  db = open_db(dir, NULL);
  t = st_table_find(db, "ns", "t");
  log = st_table_find(db, "ns", "t-stream");
  CHECK(t && log);
  CHECK_EQ_INT(st_table_info(t)->kind, ST_KIND_TABLE);
  CHECK_EQ_INT(st_table_info(log)->kind, ST_KIND_EVENTS);
  CHECK(st_table_user(t) == NULL);   /* in memory only */
  CHECK(st_table_events(t) == NULL); /* so is the attachment */
  st_table_def d3 = {.kind = ST_KIND_EVENTS, .ns = "", .name = "late"};
  CHECK_EQ_INT(st_table_create(db, &d3, &lsn), ST_OK);
  CHECK_EQ_INT(flush(db), ST_OK);
  st_abandon(db);
  db = open_db(dir, NULL);
  st_table *late = st_table_find(db, "", "late");
  CHECK(late && st_table_info(late)->kind == ST_KIND_EVENTS);
  CHECK_EQ_INT(st_table_info(st_table_find(db, "ns", "t-stream"))->kind, ST_KIND_EVENTS);
  CHECK_EQ_INT(st_table_info(st_table_find(db, "ns", "t"))->kind, ST_KIND_TABLE);
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* INSERT / MODIFY / REMOVE and the writes that make no event, for every
 * view type: kinds, keys, images, sizes, seq, time. */
static void test_views(void) {
  for (unsigned view = 0; view <= ST_VIEW_BOTH; view++) {
    char *dir = tmpdir();
    st_db *db = open_db(dir, NULL);
    dv_arena *a = dv_arena_new();
    st_table *t = make_table(db, "t", "sk");
    st_table *log = make_log(db, "log");
    CHECK_EQ_INT(st_table_set_events(t, log, view), ST_OK);
    dv_value k = M(a, 2, "pk", S(a, "user"), "sk", Nint(a, -5));
    dv_value v1 = M(a, 4, "pk", S(a, "user"), "sk", Nint(a, -5), "name", S(a, "Ann"), "n", Nint(a, 1));
    dv_value v1same = M(a, 4, "n", Nint(a, 1), "name", S(a, "Ann"), "sk", Nint(a, -5), "pk", S(a, "user"));
    dv_value v2 = M(a, 3, "pk", S(a, "user"), "sk", Nint(a, -5), "tags", dv_make_bool(1));
    dv_value other = M(a, 2, "pk", S(a, "nobody"), "sk", Nint(a, 0));
    uint64_t l_ins, l_mod, l_rem, l, last;
    int64_t t0 = now_ms();
    CHECK_EQ_INT(put_ex(db, t, &v1, 0, &l_ins), ST_OK);
    CHECK_EQ_INT(st_table_last_lsn(log), l_ins);
    last = st_table_last_lsn(log);
    CHECK_EQ_INT(put_ex(db, t, &v1same, 0, &l), ST_OK); /* identical item: no event */
    CHECK_EQ_INT(put_ex(db, t, &v2, 0, &l_mod), ST_OK);
    CHECK_EQ_INT(del_ex(db, t, &other, 0, &l), ST_OK); /* missing item: no event */
    CHECK_EQ_INT(del_ex(db, t, &k, 0, &l_rem), ST_OK);
    CHECK_EQ_INT(del_ex(db, t, &k, 0, &l), ST_OK); /* gone already: no event */
    int64_t t1 = now_ms();
    CHECK(last <= l_ins);
    CHECK_EQ_INT(st_table_item_count(log), 3);
    CHECK(st_table_size_bytes(log) > 0);
    CHECK_EQ_INT(st_events_trimmed(log), 0);
    for (int pass = 0; pass < 2; pass++) {
      st_event ev[8];
      size_t n = read_all(log, a, ev, 8);
      CHECK_EQ_INT(n, 3);
      if (n != 3) break;
      CHECK_EQ_INT(ev[0].kind, ST_EV_INSERT);
      CHECK_EQ_INT(ev[1].kind, ST_EV_MODIFY);
      CHECK_EQ_INT(ev[2].kind, ST_EV_REMOVE);
      CHECK_EQ_INT(ev[0].seq, l_ins << 16);
      CHECK_EQ_INT(ev[1].seq, l_mod << 16);
      CHECK_EQ_INT(ev[2].seq, l_rem << 16);
      for (int i = 0; i < 3; i++) {
        CHECK(ev[i].keys.type == DV_M && dv_equal(&ev[i].keys, &k));
        CHECK_EQ_INT(ev[i].flags, 0);
        CHECK(ev[i].time_ms >= t0 && ev[i].time_ms <= t1);
        uint64_t size = dv_item_size(&ev[i].keys);
        if (ev[i].old_image.type == DV_M) size += dv_item_size(&ev[i].old_image);
        if (ev[i].new_image.type == DV_M) size += dv_item_size(&ev[i].new_image);
        CHECK_EQ_INT(ev[i].size_bytes, size);
      }
      int nv = (view & ST_VIEW_NEW) != 0, ov = (view & ST_VIEW_OLD) != 0;
      /* INSERT: new only; MODIFY: both; REMOVE: old only (as the view allows). */
      CHECK_EQ_INT(ev[0].old_image.type, DV_NONE);
      CHECK_EQ_INT(ev[0].new_image.type, nv ? DV_M : DV_NONE);
      if (nv) CHECK(dv_equal(&ev[0].new_image, &v1));
      CHECK_EQ_INT(ev[1].old_image.type, ov ? DV_M : DV_NONE);
      if (ov) CHECK(dv_equal(&ev[1].old_image, &v1));
      CHECK_EQ_INT(ev[1].new_image.type, nv ? DV_M : DV_NONE);
      if (nv) CHECK(dv_equal(&ev[1].new_image, &v2));
      CHECK_EQ_INT(ev[2].old_image.type, ov ? DV_M : DV_NONE);
      if (ov) CHECK(dv_equal(&ev[2].old_image, &v2));
      CHECK_EQ_INT(ev[2].new_image.type, DV_NONE);
      CHECK_EQ_INT(ev[0].size_bytes, dv_item_size(&k) + (nv ? dv_item_size(&v1) : 0));
      CHECK_EQ_INT(ev[2].size_bytes, dv_item_size(&k) + (ov ? dv_item_size(&v2) : 0));
      /* The same after a reopen (from the files) and the counters too. */
      if (pass == 0) {
        uint64_t bytes = st_table_size_bytes(log);
        CHECK_EQ_INT(st_close(db), ST_OK);
        db = open_db(dir, NULL);
        log = st_table_find(db, "ns", "log");
        CHECK_EQ_INT(st_table_item_count(log), 3);
        CHECK_EQ_INT(st_table_size_bytes(log), bytes);
      }
    }
    CHECK_EQ_INT(st_close(db), ST_OK);
    dv_arena_free(a);
    rm_rf(dir);
    free(dir);
  }
}

/* A hash-only table's keys hold one attribute; a TTL deletion carries its
 * flag; numbers in keys compare by value. */
static void test_hash_only_ttl(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  dv_arena *a = dv_arena_new();
  st_table *t = make_table(db, "h", NULL);
  st_table *log = make_log(db, "hl");
  CHECK_EQ_INT(st_table_set_events(t, log, ST_VIEW_KEYS), ST_OK);
  dv_value it = M(a, 2, "pk", S(a, "x"), "ttl", Nint(a, 1700000000));
  dv_value k = M(a, 2, "pk", S(a, "x"), "junk", S(a, "ignored"));
  uint64_t l;
  CHECK_EQ_INT(put_ex(db, t, &it, ST_WF_TTL, &l), ST_OK); /* the flag is carried as given */
  CHECK_EQ_INT(del_ex(db, t, &k, ST_WF_TTL, &l), ST_OK);
  CHECK_EQ_INT(put_ex(db, t, &it, 0, &l), ST_OK);
  CHECK_EQ_INT(del_ex(db, t, &k, 0, &l), ST_OK);
  st_event ev[8];
  size_t n = read_all(log, a, ev, 8);
  CHECK_EQ_INT(n, 4);
  dv_value keys = M(a, 1, "pk", S(a, "x"));
  for (size_t i = 0; i < n; i++) {
    CHECK(dv_equal(&ev[i].keys, &keys));
    CHECK_EQ_INT(ev[i].old_image.type, DV_NONE);
    CHECK_EQ_INT(ev[i].new_image.type, DV_NONE);
    CHECK_EQ_INT(ev[i].size_bytes, 3);
  }
  if (n == 4) {
    CHECK_EQ_INT(ev[0].flags, ST_EVF_TTL);
    CHECK_EQ_INT(ev[1].flags, ST_EVF_TTL);
    CHECK_EQ_INT(ev[1].kind, ST_EV_REMOVE);
    CHECK_EQ_INT(ev[2].flags, 0);
    CHECK_EQ_INT(ev[3].flags, 0);
  }
  /* A flag survives a crash (replay from the log). */
  CHECK_EQ_INT(flush(db), ST_OK);
  st_abandon(db);
  db = open_db(dir, NULL);
  log = st_table_find(db, "ns", "hl");
  n = read_all(log, a, ev, 8);
  CHECK_EQ_INT(n, 4);
  if (n == 4) CHECK_EQ_INT(ev[1].flags, ST_EVF_TTL);
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* Batches: one record, events indexed in request order across tables; the
 * duplicate-key rule. */
static void test_batches(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  dv_arena *a = dv_arena_new();
  st_table *t1 = make_table(db, "t1", "sk");
  st_table *t2 = make_table(db, "t2", "sk");
  st_table *plain = make_table(db, "plain", "sk");
  st_table *l1 = make_log(db, "l1");
  st_table *l2 = make_log(db, "l2");
  CHECK_EQ_INT(st_table_set_events(t1, l1, ST_VIEW_BOTH), ST_OK);
  CHECK_EQ_INT(st_table_set_events(t2, l2, ST_VIEW_NEW), ST_OK);
  dv_value a1 = M(a, 3, "pk", S(a, "a"), "sk", Nint(a, 1), "v", Nint(a, 1));
  dv_value a2 = M(a, 3, "pk", S(a, "a"), "sk", Nint(a, 2), "v", Nint(a, 1));
  dv_value a1k = M(a, 2, "pk", S(a, "a"), "sk", Nint(a, 1));
  uint64_t l;
  CHECK_EQ_INT(put_ex(db, t1, &a1, 0, &l), ST_OK); /* event 0 of its record */
  /* t1: a1 unchanged (no event), a2 new; t2: a1 new; plain: a1 twice (no
   * log attached: allowed); t1: delete of a missing key (no event). */
  dv_value missing = M(a, 2, "pk", S(a, "zz"), "sk", Nint(a, 0));
  st_write_req w[6] = {
      {t1, ST_PUT, &a1, 0}, {t2, ST_PUT, &a1, 0},     {plain, ST_PUT, &a1, 0},
      {t1, ST_PUT, &a2, 0}, {plain, ST_DEL, &a1k, 0}, {t1, ST_DEL, &missing, 0},
  };
  uint64_t lb;
  CHECK_EQ_INT(st_write(db, w, 6, &lb), ST_OK);
  st_event ev[8];
  size_t n = read_all(l1, a, ev, 8);
  CHECK_EQ_INT(n, 2);
  if (n == 2) {
    CHECK_EQ_INT(ev[0].seq, l << 16);
    /* In request order: t2's event took index 0, t1's a2 index 1. */
    CHECK_EQ_INT(ev[1].seq, (lb << 16) | 1);
    CHECK_EQ_INT(ev[1].kind, ST_EV_INSERT);
    CHECK(dv_equal(&ev[1].new_image, &a2));
  }
  n = read_all(l2, a, ev, 8);
  CHECK_EQ_INT(n, 1);
  if (n == 1) CHECK_EQ_INT(ev[0].seq, lb << 16);
  CHECK_EQ_INT(st_table_last_lsn(l1), lb);
  CHECK_EQ_INT(st_table_last_lsn(l2), lb);

  /* Two requests on one item of an attached table: rejected, nothing logged. */
  uint64_t before = st_last_lsn(db);
  dv_value a1b = M(a, 3, "pk", S(a, "a"), "sk", Nint(a, 1), "v", Nint(a, 2));
  dv_value a3 = M(a, 2, "pk", S(a, "a"), "sk", Nint(a, 3));
  st_write_req d1[3] = {{t1, ST_PUT, &a1b, 0}, {t1, ST_PUT, &a3, 0}, {t1, ST_DEL, &a1k, 0}};
  CHECK_EQ_INT(st_write(db, d1, 3, &l), ST_EINVAL);
  /* The same key in two different tables is fine, and the key compares by
   * value whatever else the item holds. */
  st_write_req ok2[2] = {{t1, ST_PUT, &a1b, 0}, {t2, ST_PUT, &a1b, 0}};
  st_write_req d2[2] = {{t2, ST_PUT, &a1b, 0}, {t2, ST_DEL, &a1k, 0}};
  CHECK_EQ_INT(st_write(db, d2, 2, &l), ST_EINVAL);
  CHECK_EQ_INT(st_last_lsn(db), before);
  dv_value got;
  CHECK_EQ_INT(st_item_get(t1, &a1k, a, &got), ST_OK);
  CHECK(dv_equal(&got, &a1));
  CHECK_EQ_INT(st_table_item_count(l1), 2);
  CHECK_EQ_INT(st_write(db, ok2, 2, &l), ST_OK);
  CHECK_EQ_INT(st_table_item_count(l1), 3);
  CHECK_EQ_INT(st_table_item_count(l2), 2);

  /* A big batch: indexes 0..n-1, seq strictly increasing. */
  enum { BIG = 300 };
  st_write_req *bw = malloc(BIG * sizeof *bw);
  dv_value *items = malloc(BIG * sizeof *items);
  for (int i = 0; i < BIG; i++) {
    items[i] = M(a, 3, "pk", S(a, "big"), "sk", Nint(a, i), "x", S(a, "y"));
    bw[i] = (st_write_req){i % 2 ? t1 : t2, ST_PUT, &items[i], 0};
  }
  CHECK_EQ_INT(st_write(db, bw, BIG, &lb), ST_OK);
  st_event *all = malloc(1000 * sizeof *all);
  n = read_all(l1, a, all, 1000);
  CHECK_EQ_INT(n, 3 + BIG / 2);
  int ok = 1;
  for (size_t i = 1; i < n; i++) ok &= all[i].seq > all[i - 1].seq;
  for (size_t i = 3; i < n; i++) ok &= all[i].seq == ((lb << 16) | (2 * (i - 3) + 1));
  CHECK(ok);
  n = read_all(l2, a, all, 1000);
  CHECK_EQ_INT(n, 2 + BIG / 2);
  ok = 1;
  for (size_t i = 2; i < n; i++) ok &= all[i].seq == ((lb << 16) | (2 * (i - 2)));
  CHECK(ok);
  free(all);
  free(items);
  free(bw);
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* st_events_read's bounds: from, below, max, max_bytes, next; the durable
 * bound. */
static void test_read_bounds(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  dv_arena *a = dv_arena_new();
  st_table *t = make_table(db, "t", "sk");
  st_table *log = make_log(db, "log");
  st_event ev[64];
  size_t n = 7;
  uint64_t next = 0;
  /* An empty log (no file yet). */
  CHECK_EQ_INT(st_events_read(log, 5, UINT64_MAX, 10, 0, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, 0);
  CHECK_EQ_INT(next, 5);
  CHECK_EQ_INT(st_table_set_events(t, log, ST_VIEW_NEW), ST_OK);
  enum { NE = 20 };
  uint64_t seqs[NE];
  for (int i = 0; i < NE; i++) {
    dv_value it = M(a, 3, "pk", S(a, "k"), "sk", Nint(a, i + 1), "pad", S(a, "0123456789"));
    uint64_t l;
    CHECK_EQ_INT(put_ex(db, t, &it, 0, &l), ST_OK);
    seqs[i] = l << 16;
  }
  CHECK_EQ_INT(flush(db), ST_OK);
  uint64_t each = 0;
  /* Pages of 6 from the start. */
  uint64_t from = 0;
  size_t total = 0;
  int ok = 1;
  for (int page = 0; page < 5; page++) {
    CHECK_EQ_INT(st_events_read(log, from, UINT64_MAX, 6, 0, a, ev, &n, &next), ST_OK);
    for (size_t i = 0; i < n; i++) ok &= ev[i].seq == seqs[total + i];
    if (n) ok &= next == ev[n - 1].seq + 1;
    if (!n) ok &= next == from;
    if (total == 0 && n) each = ev[0].size_bytes;
    total += n;
    from = next;
  }
  CHECK(ok);
  CHECK_EQ_INT(total, NE);
  /* from = a seq exactly, or between two. */
  CHECK_EQ_INT(st_events_read(log, seqs[5], UINT64_MAX, 64, 0, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, NE - 5);
  CHECK_EQ_INT(st_events_read(log, seqs[5] + 1, UINT64_MAX, 64, 0, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, NE - 6);
  if (n) CHECK_EQ_INT(ev[0].seq, seqs[6]);
  /* below excludes. */
  CHECK_EQ_INT(st_events_read(log, seqs[2], seqs[7], 64, 0, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, 5);
  CHECK_EQ_INT(next, seqs[6] + 1);
  CHECK_EQ_INT(st_events_read(log, seqs[2], seqs[2], 64, 0, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, 0);
  CHECK_EQ_INT(next, seqs[2]);
  /* max_bytes: stop after the event that reaches it. */
  CHECK(each > 0);
  CHECK_EQ_INT(st_events_read(log, 0, UINT64_MAX, 64, 1, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, 1);
  CHECK_EQ_INT(st_events_read(log, 0, UINT64_MAX, 64, each * 3, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, 3);
  CHECK_EQ_INT(st_events_read(log, 0, UINT64_MAX, 64, each * 3 + 1, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, 4);
  CHECK_EQ_INT(st_events_read(log, 0, UINT64_MAX, 2, each * 3, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(st_events_read(log, 0, UINT64_MAX, 0, 0, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, 0);
  CHECK_EQ_INT(next, 0);
  /* The durable bound excludes events not yet durable. */
  dv_value it = M(a, 2, "pk", S(a, "k"), "sk", Nint(a, 1000));
  uint64_t l;
  CHECK_EQ_INT(put_ex(db, t, &it, 0, &l), ST_OK);
  CHECK(st_durable_lsn(db) < l);
  uint64_t dbound = (st_durable_lsn(db) + 1) << 16;
  CHECK_EQ_INT(st_events_read(log, 0, dbound, 64, 0, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, NE);
  CHECK_EQ_INT(st_events_read(log, 0, UINT64_MAX, 64, 0, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, NE + 1); /* visible, not durable */
  CHECK_EQ_INT(flush(db), ST_OK);
  dbound = (st_durable_lsn(db) + 1) << 16;
  CHECK_EQ_INT(st_events_read(log, 0, dbound, 64, 0, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, NE + 1);
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* Trimming: the trim point, the counters, persistence, never going back. */
static void test_trim(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  dv_arena *a = dv_arena_new();
  st_table *t = make_table(db, "t", "sk");
  st_table *log = make_log(db, "log");
  st_table *empty = make_log(db, "empty");
  uint64_t l;
  /* Trimming a log that has no file yet: the point persists. */
  CHECK_EQ_INT(st_events_trim(db, empty, 77, &l), ST_OK);
  CHECK_EQ_INT(st_events_trimmed(empty), 77);
  CHECK_EQ_INT(st_table_last_lsn(empty), l);
  CHECK_EQ_INT(st_table_set_events(t, log, ST_VIEW_BOTH), ST_OK);
  enum { NE = 30 };
  uint64_t seqs[NE];
  for (int i = 0; i < NE; i++) {
    dv_value it = M(a, 2, "pk", S(a, "k"), "sk", Nint(a, i));
    CHECK_EQ_INT(put_ex(db, t, &it, 0, &l), ST_OK);
    seqs[i] = l << 16;
  }
  uint64_t bytes_all = st_table_size_bytes(log);
  CHECK_EQ_INT(st_table_item_count(log), NE);
  st_event ev[64];
  size_t n;
  uint64_t next;
  CHECK_EQ_INT(st_events_trim(db, log, seqs[10], &l), ST_OK); /* deletes 0..9 */
  CHECK_EQ_INT(st_events_trimmed(log), seqs[10]);
  CHECK_EQ_INT(st_table_item_count(log), NE - 10);
  CHECK(st_table_size_bytes(log) < bytes_all);
  CHECK_EQ_INT(st_table_last_lsn(log), l);
  n = read_all(log, a, ev, 64);
  CHECK_EQ_INT(n, NE - 10);
  if (n) CHECK_EQ_INT(ev[0].seq, seqs[10]);
  /* Sum of encoded bytes: what is left is what a fresh count says. */
  uint64_t bytes_after = st_table_size_bytes(log);
  /* Never back: a smaller point is a no-op (nothing logged). */
  uint64_t before = st_last_lsn(db);
  CHECK_EQ_INT(st_events_trim(db, log, seqs[3], &l), ST_OK);
  CHECK_EQ_INT(st_events_trim(db, log, seqs[10], &l), ST_OK);
  CHECK_EQ_INT(st_last_lsn(db), before);
  CHECK_EQ_INT(st_events_trimmed(log), seqs[10]);
  /* Between two events: seqs[12] + 1 deletes 10..12. */
  CHECK_EQ_INT(st_events_trim(db, log, seqs[12] + 1, &l), ST_OK);
  CHECK_EQ_INT(st_table_item_count(log), NE - 13);
  CHECK_EQ_INT(st_events_trimmed(log), seqs[12] + 1);
  bytes_after = st_table_size_bytes(log);
  /* Survives a clean close. */
  CHECK_EQ_INT(st_close(db), ST_OK);
  db = open_db(dir, NULL);
  log = st_table_find(db, "ns", "log");
  empty = st_table_find(db, "ns", "empty");
  t = st_table_find(db, "ns", "t");
  CHECK_EQ_INT(st_events_trimmed(log), seqs[12] + 1);
  CHECK_EQ_INT(st_events_trimmed(empty), 77);
  CHECK_EQ_INT(st_table_item_count(log), NE - 13);
  CHECK_EQ_INT(st_table_size_bytes(log), bytes_after);
  CHECK_EQ_INT(st_table_item_count(empty), 0);
  /* A trim that deletes nothing, then a checkpoint: the point must still be
   * written (the tree had no other change). */
  CHECK_EQ_INT(st_events_trim(db, log, seqs[12] + 2, &l), ST_OK);
  CHECK_EQ_INT(st_table_item_count(log), NE - 13);
  CHECK_EQ_INT(st_events_trim(db, empty, 78, &l), ST_OK);
  CHECK_EQ_INT(st_sync(db), ST_OK);
  st_abandon(db); /* nothing pending: the checkpoint holds everything */
  db = open_db(dir, NULL);
  log = st_table_find(db, "ns", "log");
  empty = st_table_find(db, "ns", "empty");
  t = st_table_find(db, "ns", "t");
  st_stats s;
  st_get_stats(db, &s);
  CHECK_EQ_INT(s.recovered_records, 0);
  CHECK_EQ_INT(st_events_trimmed(log), seqs[12] + 2);
  CHECK_EQ_INT(st_events_trimmed(empty), 78);
  /* From the log only: trim, flush, crash. */
  CHECK_EQ_INT(st_events_trim(db, log, seqs[20], &l), ST_OK);
  CHECK_EQ_INT(flush(db), ST_OK);
  CHECK_EQ_INT(st_events_trim(db, log, seqs[25], &l), ST_OK); /* lost */
  st_abandon(db);
  db = open_db(dir, NULL);
  log = st_table_find(db, "ns", "log");
  t = st_table_find(db, "ns", "t");
  CHECK_EQ_INT(st_events_trimmed(log), seqs[20]);
  CHECK_EQ_INT(st_table_item_count(log), NE - 20);
  n = read_all(log, a, ev, 64);
  CHECK_EQ_INT(n, NE - 20);
  if (n) CHECK_EQ_INT(ev[0].seq, seqs[20]);
  /* Reading from before the trim point starts at the first event left. */
  CHECK_EQ_INT(st_events_read(log, 0, UINT64_MAX, 1, 0, a, ev, &n, &next), ST_OK);
  CHECK_EQ_INT(n, 1);
  CHECK_EQ_INT(next, seqs[20] + 1);
  /* Trim everything, then new events come after. */
  CHECK_EQ_INT(st_events_trim(db, log, (st_last_lsn(db) + 1) << 16, &l), ST_OK);
  CHECK_EQ_INT(st_table_item_count(log), 0);
  CHECK_EQ_INT(st_table_size_bytes(log), 0);
  CHECK_EQ_INT(st_table_set_events(t, log, ST_VIEW_KEYS), ST_OK);
  dv_value it = M(a, 2, "pk", S(a, "new"), "sk", Nint(a, 0));
  CHECK_EQ_INT(put_ex(db, t, &it, 0, &l), ST_OK);
  CHECK(l << 16 >= st_events_trimmed(log));
  CHECK_EQ_INT(st_table_item_count(log), 1);
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* Dropping the table keeps its events; dropping the log detaches it;
 * detaching stops events. */
static void test_drop_detach(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  dv_arena *a = dv_arena_new();
  st_table *t = make_table(db, "t", "sk");
  st_table *log = make_log(db, "log");
  CHECK_EQ_INT(st_table_set_events(t, log, ST_VIEW_BOTH), ST_OK);
  uint64_t l;
  for (int i = 0; i < 5; i++) {
    dv_value it = M(a, 2, "pk", S(a, "k"), "sk", Nint(a, i));
    CHECK_EQ_INT(put_ex(db, t, &it, 0, &l), ST_OK);
  }
  CHECK_EQ_INT(st_table_drop(db, t, &l), ST_OK);
  CHECK_EQ_INT(st_table_item_count(log), 5);
  st_event ev[16];
  CHECK_EQ_INT(read_all(log, a, ev, 16), 5);
  /* The log is free for a new table of the same name. */
  t = make_table(db, "t", "sk");
  CHECK_EQ_INT(st_table_set_events(t, log, ST_VIEW_KEYS), ST_OK);
  dv_value it = M(a, 2, "pk", S(a, "k"), "sk", Nint(a, 0));
  CHECK_EQ_INT(put_ex(db, t, &it, 0, &l), ST_OK);
  CHECK_EQ_INT(st_table_item_count(log), 6);
  /* Events survive a checkpoint after the drop (the table's files go). */
  CHECK_EQ_INT(st_sync(db), ST_OK);
  CHECK_EQ_INT(st_close(db), ST_OK);
  db = open_db(dir, NULL);
  t = st_table_find(db, "ns", "t");
  log = st_table_find(db, "ns", "log");
  CHECK_EQ_INT(st_table_item_count(log), 6);
  CHECK_EQ_INT(read_all(log, a, ev, 16), 6);
  /* Detach: no more events. */
  CHECK_EQ_INT(st_table_set_events(t, log, ST_VIEW_KEYS), ST_OK);
  dv_value it2 = M(a, 2, "pk", S(a, "k"), "sk", Nint(a, 1));
  CHECK_EQ_INT(put_ex(db, t, &it2, 0, &l), ST_OK);
  CHECK_EQ_INT(st_table_item_count(log), 7);
  CHECK_EQ_INT(st_table_set_events(t, NULL, 0), ST_OK);
  CHECK_EQ_INT(del_ex(db, t, &it2, 0, &l), ST_OK);
  CHECK_EQ_INT(st_table_item_count(log), 7);
  /* Duplicates in a batch are fine again once detached. */
  st_write_req w[2] = {{t, ST_PUT, &it2, 0}, {t, ST_DEL, &it2, 0}};
  CHECK_EQ_INT(st_write(db, w, 2, &l), ST_OK);
  /* Dropping the log detaches it from its table. */
  CHECK_EQ_INT(st_table_set_events(t, log, ST_VIEW_KEYS), ST_OK);
  uint64_t log_id = st_table_id(log);
  CHECK_EQ_INT(st_table_drop(db, log, &l), ST_OK);
  CHECK(st_table_events(t) == NULL);
  CHECK(st_table_find(db, "ns", "log") == NULL);
  CHECK_EQ_INT(put_ex(db, t, &it2, 0, &l), ST_OK);
  CHECK_EQ_INT(st_write(db, w, 2, &l), ST_OK);
  /* Its files go at the next checkpoint; a crash replays the drop. */
  CHECK_EQ_INT(flush(db), ST_OK);
  st_abandon(db);
  db = open_db(dir, NULL);
  CHECK(st_table_find(db, "ns", "log") == NULL);
  CHECK_EQ_INT(st_sync(db), ST_OK);
  char path[512];
  snprintf(path, sizeof path, "%s/tables/%" PRIu64, dir, log_id);
  struct stat sb;
  CHECK(stat(path, &sb) != 0);
  /* A new log with the old name is a new log: empty, new id. */
  log = make_log(db, "log");
  CHECK(st_table_id(log) > log_id);
  CHECK_EQ_INT(st_table_item_count(log), 0);
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* The definition encodings: version 2 round trip, version 1 reads as a
 * table, malformed kinds rejected. */
static void test_catalog_encoding(void) {
  cat_table c = {.kind = ST_KIND_EVENTS,
                 .id = 9,
                 .partitions = 1,
                 .ns = "n",
                 .name = "x",
                 .hash_name = "seq",
                 .hash_type = DV_N,
                 .created = 2.5,
                 .meta = (uint8_t *)"mm",
                 .meta_len = 2};
  st_buf b;
  st_buf_init(&b);
  cat_table_encode(&c, CAT_DEF_V2, &b);
  cat_table d;
  size_t used;
  CHECK_EQ_INT(cat_table_decode(b.p, b.len, CAT_DEF_V2, &used, &d), ST_OK);
  CHECK_EQ_INT(used, b.len);
  CHECK_EQ_INT(d.kind, ST_KIND_EVENTS);
  CHECK_EQ_INT(d.id, 9);
  CHECK_EQ_STR(d.name, "x");
  cat_table_free(&d);
  /* Read as version 1, the kind byte is not an id. */
  CHECK(cat_table_decode(b.p, b.len, CAT_DEF_V1, &used, &d) != ST_OK || used != b.len);
  if (used != b.len) cat_table_free(&d);
  /* Unknown kind; an event log with several partitions. */
  b.p[0] = 2;
  CHECK_EQ_INT(cat_table_decode(b.p, b.len, CAT_DEF_V2, &used, &d), ST_ECORRUPT);
  b.len = 0;
  c.partitions = 4;
  cat_table_encode(&c, CAT_DEF_V2, &b);
  CHECK_EQ_INT(cat_table_decode(b.p, b.len, CAT_DEF_V2, &used, &d), ST_ECORRUPT);
  /* Every truncation fails cleanly. */
  b.len = 0;
  c.partitions = 1;
  cat_table_encode(&c, CAT_DEF_V2, &b);
  int ok = 1;
  for (size_t k = 0; k < b.len; k++) ok &= cat_table_decode(b.p, k, CAT_DEF_V2, &used, &d) != ST_OK;
  CHECK(ok);
  /* Version 1: a table. */
  cat_table t1 = {.kind = ST_KIND_TABLE,
                  .id = 3,
                  .partitions = 2,
                  .ns = "",
                  .name = "old",
                  .hash_name = "pk",
                  .hash_type = DV_S,
                  .range_name = "sk",
                  .range_type = DV_N};
  b.len = 0;
  cat_table_encode(&t1, CAT_DEF_V1, &b);
  CHECK_EQ_INT(cat_table_decode(b.p, b.len, CAT_DEF_V1, &used, &d), ST_OK);
  CHECK_EQ_INT(d.kind, ST_KIND_TABLE);
  CHECK_EQ_STR(d.range_name, "sk");
  cat_table_free(&d);
  st_buf_free(&b);
}

static void put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* A data directory of the previous format: a version-1 catalog file and a
 * version-1 CREATE_TABLE record in the log. */
static void test_catalog_v1(void) {
  char *dir = tmpdir();
  char path[512];
  /* Catalog v1: table 1 "old1", checkpoint LSN 0, next id 2. */
  cat_table c1 = {.kind = ST_KIND_TABLE,
                  .id = 1,
                  .partitions = 4,
                  .ns = "",
                  .name = "old1",
                  .hash_name = "pk",
                  .hash_type = DV_S,
                  .created = 1.5,
                  .meta = (uint8_t *)"m1",
                  .meta_len = 2};
  st_buf img;
  st_buf_init(&img);
  uint8_t h[32];
  memcpy(h, "DFCATLOG", 8);
  put_le(h + 8, 1, 4);
  put_le(h + 12, 1, 4);
  put_le(h + 16, 0, 8);
  put_le(h + 24, 2, 8);
  st_buf_append(&img, h, 32);
  cat_table_encode(&c1, CAT_DEF_V1, &img);
  uint8_t sum[8];
  put_le(sum, XXH64(img.p, img.len, 0), 8);
  st_buf_append(&img, sum, 8);
  CHECK_EQ_INT(cat_file_write(dir, &img, 1), ST_OK);
  st_buf_free(&img);
  /* Log: one record with opcode 3 (CREATE_TABLE, a v1 definition). */
  snprintf(path, sizeof path, "%s/wal", dir);
  CHECK_EQ_INT(mkdir(path, 0755), 0);
  wal_options wo = {.no_fsync = 1};
  wal_log *w = NULL;
  char err[256] = "";
  CHECK_EQ_INT(wal_open(path, 0, &wo, NULL, NULL, &w, NULL, err, sizeof err), ST_OK);
  if (w) {
    size_t off;
    st_buf *b = wal_rec_begin(w, &off);
    uint8_t op = 3;
    st_buf_append(b, &op, 1);
    cat_table c2 = {.kind = ST_KIND_TABLE,
                    .id = 2,
                    .partitions = 2,
                    .ns = "x",
                    .name = "old2",
                    .hash_name = "h",
                    .hash_type = DV_N,
                    .range_name = "r",
                    .range_type = DV_B,
                    .created = 2.5};
    cat_table_encode(&c2, CAT_DEF_V1, b);
    uint64_t lsn;
    CHECK_EQ_INT(wal_rec_commit(w, 1, &lsn), ST_OK);
    CHECK_EQ_INT(lsn, 1);
    wal_flush *f = wal_flush_begin(w);
    CHECK(f != NULL);
    wal_flush_run(f);
    CHECK_EQ_INT(wal_flush_end(w, f, NULL), ST_OK);
    wal_close(w);
  }
  st_db *db = open_db(dir, NULL);
  if (!db) goto out;
  st_table *o1 = st_table_find(db, "", "old1");
  st_table *o2 = st_table_find(db, "x", "old2");
  CHECK(o1 && o2);
  if (!o1 || !o2) {
    st_abandon(db);
    goto out;
  }
  CHECK_EQ_INT(st_table_info(o1)->kind, ST_KIND_TABLE);
  CHECK_EQ_INT(st_table_info(o2)->kind, ST_KIND_TABLE);
  CHECK_EQ_STR(st_table_info(o2)->range.name, "r");
  CHECK_EQ_INT(st_table_id(o2), 2);
  /* Usable with events. */
  st_table *log = make_log(db, "log");
  CHECK(st_table_id(log) == 3);
  CHECK_EQ_INT(st_table_set_events(o1, log, ST_VIEW_NEW), ST_OK);
  dv_arena *a = dv_arena_new();
  dv_value it = M(a, 1, "pk", S(a, "a"));
  uint64_t l;
  CHECK_EQ_INT(put_ex(db, o1, &it, 0, &l), ST_OK);
  CHECK_EQ_INT(st_close(db), ST_OK);
  /* The catalog is rewritten as version 2 and still reads. */
  snprintf(path, sizeof path, "%s/catalog", dir);
  FILE *fp = fopen(path, "rb");
  uint8_t hdr[12] = {0};
  if (fp) {
    CHECK_EQ_INT(fread(hdr, 1, 12, fp), 12);
    fclose(fp);
  }
  CHECK_EQ_INT(hdr[8], 2);
  db = open_db(dir, NULL);
  CHECK_EQ_INT(st_table_info(st_table_find(db, "", "old1"))->kind, ST_KIND_TABLE);
  CHECK_EQ_INT(st_table_info(st_table_find(db, "x", "old2"))->kind, ST_KIND_TABLE);
  log = st_table_find(db, "ns", "log");
  CHECK(log && st_table_info(log)->kind == ST_KIND_EVENTS);
  CHECK_EQ_INT(st_table_item_count(log), 1);
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
out:
  rm_rf(dir);
  free(dir);
}

/* Log records with malformed EVENT / TRIM operations make st_open fail with
 * ST_ECORRUPT (never an assertion, never a guess). */
static void test_corrupt_records(void) {
  enum { NCASES = 8 }; /* the last one is valid */
  for (int cs = 0; cs < NCASES; cs++) {
    char *dir = tmpdir();
    st_db *db = open_db(dir, NULL);
    st_table *t = make_table(db, "t", NULL);
    st_table *log = make_log(db, "log");
    uint64_t tid = st_table_id(t), lid = st_table_id(log);
    st_stats s;
    st_get_stats(db, &s);
    CHECK_EQ_INT(st_close(db), ST_OK);
    /* A valid keys encoding to build events from. */
    dv_arena *a = dv_arena_new();
    dv_value keys = M(a, 1, "pk", S(a, "k"));
    st_buf kb;
    st_buf_init(&kb);
    codec_item_encode(&keys, &kb);
    st_buf p;
    st_buf_init(&p);
    uint8_t op = cs < 6 || cs == 7 ? 7 : 8; /* EVENT, TRIM */
    st_buf_append(&p, &op, 1);
    codec_put_varint(&p, cs == 1 || cs == 6 ? tid : cs == 2 ? 999 : lid);
    if (op == 7) {
      codec_put_varint(&p, cs == 3 ? 65536 : 0);
      uint8_t kf[2] = {cs == 4 ? 9 : 1, 0};
      st_buf_append(&p, kf, 2);
      codec_put_varint(&p, 1);
      codec_put_varint(&p, cs == 5 ? 0 : kb.len); /* keys may not be empty */
      if (cs != 5) st_buf_append(&p, kb.p, kb.len);
      codec_put_varint(&p, 0);
      if (cs != 0) codec_put_varint(&p, 0); /* case 0: truncated */
    } else {
      codec_put_varint(&p, 100);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/wal", dir);
    wal_options wo = {.no_fsync = 1};
    wal_log *w = NULL;
    char err[256] = "";
    CHECK_EQ_INT(wal_open(path, s.last_lsn, &wo, NULL, NULL, &w, NULL, err, sizeof err), ST_OK);
    if (w) {
      size_t off;
      st_buf *b = wal_rec_begin(w, &off);
      st_buf_append(b, p.p, p.len);
      uint64_t lsn;
      CHECK_EQ_INT(wal_rec_commit(w, 1, &lsn), ST_OK);
      wal_flush *f = wal_flush_begin(w);
      wal_flush_run(f);
      CHECK_EQ_INT(wal_flush_end(w, f, NULL), ST_OK);
      wal_close(w);
    }
    st_options o = {.no_fsync = 1, .partitions = 4};
    db = NULL;
    int rc = st_open(dir, &o, &db, err, sizeof err);
    int want = cs == 7 ? ST_OK : ST_ECORRUPT;
    if (rc != want) fprintf(stderr, "case %d: %s (%s)\n", cs, st_errname(rc), err);
    CHECK_EQ_INT(rc, want);
    CHECK((db != NULL) == (cs == 7));
    if (db) {
      log = st_table_find(db, "ns", "log");
      st_event ev[2];
      CHECK(log && read_all(log, a, ev, 2) == 1);
      if (log) CHECK_EQ_INT(ev[0].seq, (s.last_lsn + 1) << 16);
      if (log) CHECK(dv_equal(&ev[0].keys, &keys));
      CHECK_EQ_INT(st_close(db), ST_OK);
    }
    st_buf_free(&p);
    st_buf_free(&kb);
    dv_arena_free(a);
    rm_rf(dir);
    free(dir);
  }
}

/* ---- crash simulation ------------------------------------------------------------ */

#define KEYS 120
#define MAX_TRIMS 4096

/* Version of each key's item (0 = absent). */
typedef struct model {
  int ver[KEYS]; /* per key */
} model;

static dv_value model_item(dv_arena *a, int i, int ver) {
  char pk[16];
  snprintf(pk, sizeof pk, "p%d", i % 17);
  char pad[48];
  int padlen = (i * 5 + ver) % 40;
  memset(pad, 'x', (size_t)padlen);
  pad[padlen] = 0;
  return M(a, 4, "pk", S(a, pk), "sk", Nint(a, i), "v", Nint(a, ver), "pad", S(a, pad));
}

static dv_value model_key(dv_arena *a, int i) {
  char pk[16];
  snprintf(pk, sizeof pk, "p%d", i % 17);
  return M(a, 2, "pk", S(a, pk), "sk", Nint(a, i));
}

/* The state as of a trim point: what the events before it replayed to. */
typedef struct trim_base {
  uint64_t point; /* trim point */
  model m;        /* state after every event with seq < point */
} trim_base;

/* Key index and version of an event's image (keys / an item). */
static int ev_key_index(const dv_value *keys) {
  const dv_value *sk = keys->type == DV_M ? dv_map_get(keys, "sk", 2) : NULL;
  return sk && sk->type == DV_N ? atoi(sk->u.bytes) : -1;
}

static int img_ver(const dv_value *img) {
  const dv_value *v = img->type == DV_M ? dv_map_get(img, "v", 1) : NULL;
  return v && v->type == DV_N ? atoi(v->u.bytes) : -1;
}

/* Apply the events of log with from <= seq < below to m, checking each
 * against the state it finds: an INSERT of an absent item, a MODIFY or
 * REMOVE whose old image is the item present, a MODIFY that changes it.
 * Returns the number of events, -1 on a mismatch. */
static long replay_events(st_table *log, uint64_t from, uint64_t below, model *m) {
  dv_arena *a = dv_arena_new();
  st_event ev[64];
  long count = 0;
  uint64_t prev = 0;
  for (;;) {
    size_t n;
    uint64_t next;
    if (st_events_read(log, from, below, 64, 0, a, ev, &n, &next) != ST_OK) {
      count = -1;
      break;
    }
    if (n == 0) break;
    for (size_t k = 0; k < n; k++) {
      const st_event *e = &ev[k];
      int i = ev_key_index(&e->keys);
      dv_value want_keys = i >= 0 && i < KEYS ? model_key(a, i) : (dv_value){0};
      int bad = i < 0 || i >= KEYS || !dv_equal(&e->keys, &want_keys) || e->seq <= prev;
      if (!bad) {
        int cur = m->ver[i];
        dv_value cur_item = cur ? model_item(a, i, cur) : (dv_value){0};
        switch (e->kind) {
          case ST_EV_INSERT:
            bad = cur != 0 || e->old_image.type != DV_NONE || img_ver(&e->new_image) <= 0;
            if (!bad) m->ver[i] = img_ver(&e->new_image);
            break;
          case ST_EV_MODIFY:
            bad = cur == 0 || !dv_equal(&e->old_image, &cur_item) || img_ver(&e->new_image) <= 0 ||
                  img_ver(&e->new_image) == cur;
            if (!bad) m->ver[i] = img_ver(&e->new_image);
            break;
          case ST_EV_REMOVE:
            bad = cur == 0 || !dv_equal(&e->old_image, &cur_item) || e->new_image.type != DV_NONE;
            if (!bad) m->ver[i] = 0;
            break;
          default:
            bad = 1;
        }
        if (!bad && e->new_image.type == DV_M) {
          dv_value want = model_item(a, i, img_ver(&e->new_image));
          bad = !dv_equal(&e->new_image, &want);
        }
      }
      if (bad) {
        fprintf(stderr, "event seq %" PRIu64 " (kind %d, key %d) does not fit the state\n", e->seq, e->kind,
                i);
        dv_arena_free(a);
        return -1;
      }
      prev = e->seq;
      count++;
    }
    from = next;
    dv_arena_free(a);
    a = dv_arena_new();
  }
  dv_arena_free(a);
  return count;
}

/* 1 if t holds exactly m. */
static int model_check(st_table *t, const model *m) {
  dv_arena *a = dv_arena_new();
  int ok = 1;
  uint64_t items = 0;
  for (int i = 0; i < KEYS && ok; i++) {
    dv_value key = model_key(a, i), got;
    if (st_item_get(t, &key, a, &got) != ST_OK) {
      ok = 0;
      break;
    }
    if (m->ver[i] == 0) {
      if (got.type != DV_NONE) {
        fprintf(stderr, "key %d: expected absent\n", i);
        ok = 0;
      }
      continue;
    }
    items++;
    dv_value want = model_item(a, i, m->ver[i]);
    if (got.type != DV_M || !dv_equal(&got, &want)) {
      fprintf(stderr, "key %d: expected version %d, got %d\n", i, m->ver[i], img_ver(&got));
      ok = 0;
    }
  }
  if (ok && st_table_item_count(t) != items) {
    fprintf(stderr, "item count %" PRIu64 ", expected %" PRIu64 "\n", st_table_item_count(t), items);
    ok = 0;
  }
  dv_arena_free(a);
  return ok;
}

/* One random batch on distinct keys: puts (some identical to the current
 * item, so without an event), deletes (some of absent items). */
static int crash_batch(st_db *db, st_table *t, model *m, unsigned *seed) {
  dv_arena *a = dv_arena_new();
  st_write_req w[6];
  dv_value vals[6];
  int keys[6], vers[6];
  int n = 1 + (int)(rand_r(seed) % 6);
  for (int k = 0; k < n; k++) {
    int i, dup;
    do {
      i = (int)(rand_r(seed) % KEYS);
      dup = 0;
      for (int j = 0; j < k; j++) dup |= keys[j] == i;
    } while (dup);
    keys[k] = i;
    int r = (int)(rand_r(seed) % 8);
    if (r < 2) {
      vals[k] = model_key(a, i);
      vers[k] = 0;
      w[k] = (st_write_req){t, ST_DEL, &vals[k], r == 0 ? ST_WF_TTL : 0};
    } else {
      vers[k] = r == 2 && m->ver[i] ? m->ver[i] : m->ver[i] + 1 + (int)(rand_r(seed) % 3);
      vals[k] = model_item(a, i, vers[k]);
      w[k] = (st_write_req){t, ST_PUT, &vals[k], 0};
    }
  }
  uint64_t lsn;
  int rc = st_write(db, w, (size_t)n, &lsn);
  if (rc == ST_OK)
    for (int k = 0; k < n; k++) m->ver[keys[k]] = vers[k];
  dv_arena_free(a);
  return rc;
}

/* Random batches with flushes, checkpoints, partial checkpoints and trims;
 * crash at random points; after each reopen the table must equal both the
 * durable writes and what the surviving events replay to from the state at
 * the surviving trim point. */
static void test_crash(void) {
  char *dir = tmpdir();
  unsigned seed = 4242;
  st_options o = {.no_fsync = 1, .partitions = 4, .log_segment_bytes = 32768};
  st_db *db = open_db(dir, &o);
  st_table *t = make_table(db, "t", "sk");
  st_table *log = make_log(db, "log");
  CHECK_EQ_INT(st_sync(db), ST_OK);
  model cur, durable;
  memset(&cur, 0, sizeof cur);
  durable = cur;
  trim_base *bases = calloc(MAX_TRIMS, sizeof *bases);
  size_t nbases = 1; /* bases[0]: point 0, empty */
  uint64_t durable_trim = 0;
  int all_ok = 1;
  long events_seen = 0;
  enum { ROUNDS = 400 };
  for (int round = 0; round < ROUNDS && all_ok; round++) {
    CHECK_EQ_INT(st_table_set_events(t, log, ST_VIEW_BOTH), ST_OK);
    int nb = 1 + (int)(rand_r(&seed) % 25);
    int crash_kind = (int)(rand_r(&seed) % 4);
    st_ckpt_job *job = NULL;
    int ckpt_at = crash_kind >= 2 ? (int)(rand_r(&seed) % (unsigned)nb) : -1;
    for (int b = 0; b < nb; b++) {
      if (b == ckpt_at) {
        int err;
        job = st_checkpoint_begin(db, &err);
      }
      CHECK_EQ_INT(crash_batch(db, t, &cur, &seed), ST_OK);
      int r = (int)(rand_r(&seed) % 12);
      if (r < 3) {
        CHECK_EQ_INT(flush(db), ST_OK);
        durable = cur;
        durable_trim = st_events_trimmed(log);
      } else if (r == 3 && !job) {
        CHECK_EQ_INT(st_sync(db), ST_OK);
        durable = cur;
        durable_trim = st_events_trimmed(log);
      } else if (r == 4 && nbases < MAX_TRIMS) {
        /* Trim at a random point between the trim point and the end: the
         * base for it is the old base plus the events trimmed. */
        uint64_t lo = st_events_trimmed(log), hi = (st_last_lsn(db) + 1) << 16;
        uint64_t point = lo + 1 + ((uint64_t)rand_r(&seed) * 7919u) % (hi - lo);
        size_t bi = nbases;
        while (bi > 0 && bases[bi - 1].point != lo) bi--;
        if (bi == 0) {
          fprintf(stderr, "round %d: no base for trim point %" PRIu64 "\n", round, lo);
          all_ok = 0;
          break;
        }
        trim_base nbse = {point, bases[bi - 1].m};
        if (replay_events(log, lo, point, &nbse.m) < 0) {
          fprintf(stderr, "round %d: events before trimming do not replay\n", round);
          all_ok = 0;
          break;
        }
        uint64_t l;
        CHECK_EQ_INT(st_events_trim(db, log, point, &l), ST_OK);
        bases[nbases++] = nbse;
      }
    }
    if (!all_ok) break;
    if (job) {
      /* The owner goes on while the checkpoint "runs", then it stops after
       * some of its trees (or after the catalog, before the end). */
      for (int b = 0; b < 3; b++) CHECK_EQ_INT(crash_batch(db, t, &cur, &seed), ST_OK);
      CHECK_EQ_INT(flush(db), ST_OK);
      durable = cur;
      durable_trim = st_events_trimmed(log);
      for (int b = 0; b < 2; b++) CHECK_EQ_INT(crash_batch(db, t, &cur, &seed), ST_OK);
      size_t nt = st_checkpoint_trees(job);
      if (crash_kind == 2)
        st_checkpoint_run_partial(job, nt ? (size_t)rand_r(&seed) % (nt + 1) : 0);
      else
        CHECK_EQ_INT(st_checkpoint_run(job), ST_OK);
    }
    st_abandon(db);
    db = open_db(dir, &o);
    if (!db) {
      all_ok = 0;
      break;
    }
    cur = durable;
    t = st_table_find(db, "ns", "t");
    log = st_table_find(db, "ns", "log");
    if (!t || !log) {
      all_ok = 0;
      break;
    }
    uint64_t tp = st_events_trimmed(log);
    size_t bi = nbases;
    while (bi > 0 && bases[bi - 1].point != tp) bi--;
    if (tp < durable_trim || bi == 0) {
      fprintf(stderr, "round %d: trim point %" PRIu64 " (durable %" PRIu64 ") unknown or back\n", round, tp,
              durable_trim);
      all_ok = 0;
      break;
    }
    /* Forget the trims that did not survive. */
    nbases = bi;
    model replayed = bases[bi - 1].m;
    long ne = replay_events(log, tp, UINT64_MAX, &replayed);
    if (ne < 0 || (uint64_t)ne != st_table_item_count(log)) {
      fprintf(stderr, "round %d: %ld events replayed, count %" PRIu64 "\n", round, ne, st_table_item_count(log));
      all_ok = 0;
      break;
    }
    events_seen += ne;
    if (!model_check(t, &durable) || !model_check(t, &replayed)) {
      fprintf(stderr, "round %d: table, durable writes and events disagree\n", round);
      all_ok = 0;
      break;
    }
    /* Sometimes reopen cleanly too. */
    if (round % 50 == 49) {
      CHECK_EQ_INT(st_close(db), ST_OK);
      db = open_db(dir, &o);
      t = st_table_find(db, "ns", "t");
      log = st_table_find(db, "ns", "log");
      durable_trim = st_events_trimmed(log);
    }
  }
  CHECK(all_ok);
  CHECK(events_seen > 0);
  CHECK(nbases > 1);
  if (db) CHECK_EQ_INT(st_close(db), ST_OK);
  free(bases);
  rm_rf(dir);
  free(dir);
}

/* Crash while several events of one batch are in flight in a checkpoint:
 * each possible number of trees written. */
static void test_crash_mid_checkpoint(void) {
  int all_ok = 1;
  for (size_t stop = 0; stop <= 6; stop++) {
    char *dir = tmpdir();
    unsigned seed = 99 + (unsigned)stop;
    st_options o = {.no_fsync = 1, .partitions = 4};
    st_db *db = open_db(dir, &o);
    st_table *t = make_table(db, "t", "sk");
    st_table *log = make_log(db, "log");
    CHECK_EQ_INT(st_table_set_events(t, log, ST_VIEW_BOTH), ST_OK);
    model cur, durable;
    memset(&cur, 0, sizeof cur);
    for (int b = 0; b < 30; b++) crash_batch(db, t, &cur, &seed);
    CHECK_EQ_INT(st_sync(db), ST_OK);
    for (int b = 0; b < 30; b++) crash_batch(db, t, &cur, &seed);
    uint64_t l;
    uint64_t point = (st_last_lsn(db) - 10) << 16;
    model base;
    memset(&base, 0, sizeof base);
    CHECK(replay_events(log, 0, point, &base) > 0);
    CHECK_EQ_INT(st_events_trim(db, log, point, &l), ST_OK);
    int err;
    st_ckpt_job *job = st_checkpoint_begin(db, &err);
    CHECK(job != NULL);
    size_t nt = job ? st_checkpoint_trees(job) : 0;
    CHECK(nt >= 5); /* four partitions and the log */
    for (int b = 0; b < 10; b++) crash_batch(db, t, &cur, &seed);
    CHECK_EQ_INT(flush(db), ST_OK);
    durable = cur;
    for (int b = 0; b < 3; b++) crash_batch(db, t, &cur, &seed); /* lost */
    if (stop < 6)
      st_checkpoint_run_partial(job, stop);
    else
      CHECK_EQ_INT(st_checkpoint_run(job), ST_OK);
    st_abandon(db);
    db = open_db(dir, &o);
    t = st_table_find(db, "ns", "t");
    log = st_table_find(db, "ns", "log");
    model replayed = base;
    long ne = t && log ? replay_events(log, point, UINT64_MAX, &replayed) : -1;
    if (!t || !log || st_events_trimmed(log) != point || ne < 0 || (uint64_t)ne != st_table_item_count(log) ||
        !model_check(t, &durable) || !model_check(t, &replayed)) {
      fprintf(stderr, "crash after %zu of %zu trees: mismatch\n", stop, nt);
      all_ok = 0;
    }
    CHECK_EQ_INT(st_close(db), ST_OK);
    rm_rf(dir);
    free(dir);
  }
  CHECK(all_ok);
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {
      {"kinds", test_kinds},
      {"views", test_views},
      {"hash_only_ttl", test_hash_only_ttl},
      {"batches", test_batches},
      {"read_bounds", test_read_bounds},
      {"trim", test_trim},
      {"drop_detach", test_drop_detach},
      {"catalog_encoding", test_catalog_encoding},
      {"catalog_v1", test_catalog_v1},
      {"corrupt_records", test_corrupt_records},
      {"crash", test_crash},
      {"crash_mid_checkpoint", test_crash_mid_checkpoint},
      {NULL, NULL},
  };
  return tl_run(tests, argc, argv);
}
