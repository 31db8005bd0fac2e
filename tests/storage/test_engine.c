/*
 * test_engine.c -- the storage engine through storage.h: catalog, items,
 * key order, counters, iterators, reopen, crash simulation (abandon after
 * some flushes, crash in the middle of a checkpoint, torn log tail), the
 * data-directory lock, failure state, flush/checkpoint on a second
 * thread while the owner keeps writing, and up to three flush jobs in
 * flight ending in any order, with crashes and a failed middle job.
 */
#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/storage.h"
#include "tests/testlib.h"

/* ---- helpers ---------------------------------------------------------------- */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static void rm_rf(const char *dir) { nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static char *tmpdir(void) {
  char *d = strdup("/tmp/dftest-engine-XXXXXX");
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

static dv_value S(dv_arena *a, const char *s) { return dv_make_s(a, s, strlen(s)); }

/* A number from any DynamoDB number text. */
static dv_value N(dv_arena *a, const char *text) {
  dv_num n;
  if (dv_num_parse(text, strlen(text), &n) != DV_NUM_OK) abort();
  char buf[DV_NUM_MAXTEXT];
  size_t len = dv_num_format(&n, buf);
  return dv_make_n_text(a, buf, len);
}

static dv_value Nint(dv_arena *a, long long v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", v);
  return N(a, buf);
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

static st_table *make_table(st_db *db, const char *ns, const char *name, dv_type ht,
                            const char *range, dv_type rt) {
  st_table_def d = {.ns = ns, .name = name, .hash = {"pk", ht}, .range = {range, rt},
                    .meta = "meta!", .meta_len = 5, .created = 1700000000.5};
  uint64_t lsn = 0;
  int rc = st_table_create(db, &d, &lsn);
  CHECK_EQ_INT(rc, ST_OK);
  CHECK(lsn > 0);
  return st_table_find(db, ns, name);
}

static int put(st_db *db, st_table *t, const dv_value *item) {
  st_write_req w = {t, ST_PUT, item, 0};
  uint64_t lsn;
  return st_write(db, &w, 1, &lsn);
}

static int del(st_db *db, st_table *t, const dv_value *key) {
  st_write_req w = {t, ST_DEL, key, 0};
  uint64_t lsn;
  return st_write(db, &w, 1, &lsn);
}

static int flush(st_db *db) {
  st_flush_job *j = st_flush_begin(db);
  if (!j) return ST_OK;
  st_flush_run(j);
  return st_flush_end(db, j);
}

/* Count items of t through an iterator over everything. */
static size_t scan_count(st_table *t) {
  st_iter *it;
  st_iter_spec sp = {0};
  if (st_iter_open(t, &sp, &it) != ST_OK) return (size_t)-1;
  dv_arena *a = dv_arena_new();
  size_t n = 0;
  dv_value v;
  while (st_iter_next(it, a, &v) == ST_OK && v.type != DV_NONE) n++;
  dv_arena_free(a);
  st_iter_close(it);
  return n;
}

static int dir_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static size_t count_wal_segments(const char *dir) {
  char p[512];
  snprintf(p, sizeof p, "%s/wal", dir);
  DIR *d = opendir(p);
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (strstr(de->d_name, ".wal")) n++;
  closedir(d);
  return n;
}

/* ---- a model of a key space, for crash tests -------------------------------- */

#define KEYS 300

/* Expected contents: version of key i (0 = absent). */
typedef struct model {
  int ver[KEYS]; /* per key */
} model;

static dv_value model_item(dv_arena *a, int i, int ver) {
  char pk[16];
  snprintf(pk, sizeof pk, "p%d", i % 37);
  char pad[64];
  int padlen = (i * 7 + ver) % 60;
  memset(pad, 'x', (size_t)padlen);
  pad[padlen] = 0;
  return M(a, 4, "pk", S(a, pk), "sk", Nint(a, i - 150), "v", Nint(a, ver), "pad", S(a, pad));
}

static dv_value model_key(dv_arena *a, int i) {
  char pk[16];
  snprintf(pk, sizeof pk, "p%d", i % 37);
  return M(a, 2, "pk", S(a, pk), "sk", Nint(a, i - 150));
}

/* One random batch of up to 6 puts/deletes on distinct keys. */
static int model_batch(st_db *db, st_table *t, model *m, unsigned *seed) {
  dv_arena *a = dv_arena_new();
  st_write_req w[6];
  dv_value vals[6];
  int keys[6], vers[6];
  int n = 1 + (int)(rand_r(seed) % 6);
  for (int k = 0; k < n; k++) {
    int i;
    int dup;
    do {
      i = (int)(rand_r(seed) % KEYS);
      dup = 0;
      for (int j = 0; j < k; j++) dup |= keys[j] == i;
    } while (dup);
    keys[k] = i;
    if (rand_r(seed) % 4 == 0) {
      vals[k] = model_key(a, i);
      vers[k] = 0;
      w[k] = (st_write_req){t, ST_DEL, &vals[k], 0};
    } else {
      vers[k] = m->ver[i] + 1 + (int)(rand_r(seed) % 3);
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

/* Check that t holds exactly m: every item, the counters, the scan count. */
static int model_check(st_table *t, const model *m) {
  dv_arena *a = dv_arena_new();
  int ok = 1;
  uint64_t items = 0, bytes = 0;
  for (int i = 0; i < KEYS; i++) {
    dv_value key = model_key(a, i), got;
    if (st_item_get(t, &key, a, &got) != ST_OK) {
      ok = 0;
      continue;
    }
    if (m->ver[i] == 0) {
      if (got.type != DV_NONE) {
        fprintf(stderr, "key %d: expected absent\n", i);
        ok = 0;
      }
      continue;
    }
    dv_value want = model_item(a, i, m->ver[i]);
    items++;
    bytes += dv_item_size(&want);
    if (got.type != DV_M || !dv_equal(&got, &want)) {
      const dv_value *v = got.type == DV_M ? dv_map_get(&got, "v", 1) : NULL;
      fprintf(stderr, "key %d: expected version %d, got %s\n", i, m->ver[i],
              v ? v->u.bytes : "nothing");
      ok = 0;
    }
  }
  if (st_table_item_count(t) != items || st_table_size_bytes(t) != bytes) {
    fprintf(stderr, "counters: %" PRIu64 "/%" PRIu64 " items, %" PRIu64 "/%" PRIu64 " bytes\n",
            st_table_item_count(t), items, st_table_size_bytes(t), bytes);
    ok = 0;
  }
  if (scan_count(t) != items) {
    fprintf(stderr, "scan found %zu items, expected %" PRIu64 "\n", scan_count(t), items);
    ok = 0;
  }
  dv_arena_free(a);
  return ok;
}

/* A crash (st_abandon) and a restart: table "t" must then hold exactly the
 * durable model. Returns the reopened engine, *t its table (NULL if gone);
 * a mismatch clears *all_ok. */
static st_db *crash_and_check(st_db *db, const char *dir, const st_options *o, st_table **t,
                              const model *durable, int round, int *all_ok) {
  st_abandon(db);
  db = open_db(dir, o);
  *t = st_table_find(db, "", "t");
  CHECK(*t != NULL);
  if (!*t || !model_check(*t, durable)) {
    fprintf(stderr, "round %d: mismatch after crash\n", round);
    *all_ok = 0;
  }
  return db;
}


/* ---- tests ---------------------------------------------------------------------- */

static void test_tables(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  const char *names[] = {"delta", "alpha", "Zed", "charlie", "bravo", "echo"};
  for (int i = 0; i < 6; i++) make_table(db, "", names[i], DV_S, NULL, DV_NONE);
  make_table(db, "tenant1", "alpha", DV_N, "sk", DV_B);
  st_table_def dup = {.ns = "", .name = "alpha", .hash = {"pk", DV_S}};
  uint64_t lsn;
  CHECK_EQ_INT(st_table_create(db, &dup, &lsn), ST_EEXIST);
  st_table_def bad = {.ns = "", .name = "x", .hash = {"pk", DV_BOOL}};
  CHECK_EQ_INT(st_table_create(db, &bad, &lsn), ST_EINVAL);
  bad.hash.name = NULL;
  CHECK_EQ_INT(st_table_create(db, &bad, &lsn), ST_EINVAL);

  /* Listing: sorted by bytes ("Zed" < "alpha"), paged. */
  st_table *out[10];
  int more = 0;
  size_t n = st_table_list(db, "", NULL, out, 2, &more);
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(more, 1);
  CHECK_EQ_STR(st_table_info(out[0])->name, "Zed");
  CHECK_EQ_STR(st_table_info(out[1])->name, "alpha");
  n = st_table_list(db, "", "alpha", out, 2, &more);
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_STR(st_table_info(out[0])->name, "bravo");
  CHECK_EQ_STR(st_table_info(out[1])->name, "charlie");
  CHECK_EQ_INT(more, 1);
  n = st_table_list(db, "", "charlie", out, 10, &more);
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(more, 0);
  n = st_table_list(db, "", "d", out, 10, &more); /* after a name that is absent */
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_STR(st_table_info(out[0])->name, "delta");
  n = st_table_list(db, "tenant1", NULL, out, 10, &more);
  CHECK_EQ_INT(n, 1);
  CHECK_EQ_INT(more, 0);
  n = st_table_list(db, "nobody", NULL, out, 10, &more);
  CHECK_EQ_INT(n, 0);

  /* Definition and meta. */
  st_table *t = st_table_find(db, "tenant1", "alpha");
  CHECK(t != NULL);
  const st_table_def *d = st_table_info(t);
  CHECK_EQ_STR(d->hash.name, "pk");
  CHECK_EQ_INT(d->hash.type, DV_N);
  CHECK_EQ_STR(d->range.name, "sk");
  CHECK_EQ_INT(d->range.type, DV_B);
  CHECK_EQ_INT(d->meta_len, 5);
  CHECK(memcmp(d->meta, "meta!", 5) == 0);
  CHECK(d->created == 1700000000.5);
  CHECK(st_table_find(db, "", "alpha") != t);
  CHECK_EQ_INT(st_table_set_meta(db, t, "new meta", 8, &lsn), ST_OK);
  CHECK_EQ_INT(st_table_info(t)->meta_len, 8);

  /* Ids are never reused. */
  st_table *e = st_table_find(db, "", "echo");
  uint64_t old_id = st_table_id(e);
  CHECK_EQ_INT(st_table_drop(db, e, &lsn), ST_OK);
  CHECK(st_table_find(db, "", "echo") == NULL);
  e = make_table(db, "", "echo", DV_S, NULL, DV_NONE);
  CHECK(st_table_id(e) > old_id);
  uint64_t echo_id = st_table_id(e);
  CHECK_EQ_INT(st_close(db), ST_OK);

  /* Everything survives a reopen, ids included. */
  db = open_db(dir, NULL);
  n = st_table_list(db, "", NULL, out, 10, &more);
  CHECK_EQ_INT(n, 6);
  t = st_table_find(db, "tenant1", "alpha");
  CHECK(t && st_table_info(t)->meta_len == 8 && !memcmp(st_table_info(t)->meta, "new meta", 8));
  CHECK(t && st_table_info(t)->created == 1700000000.5);
  CHECK_EQ_INT(st_table_id(st_table_find(db, "", "echo")), echo_id);
  st_table *f = make_table(db, "", "foxtrot", DV_S, NULL, DV_NONE);
  CHECK(st_table_id(f) > echo_id);
  /* And after a crash (log replay only, nothing checkpointed). */
  CHECK_EQ_INT(st_table_set_meta(db, t, "", 0, &lsn), ST_OK);
  CHECK_EQ_INT(flush(db), ST_OK);
  uint64_t fox = st_table_id(f);
  st_abandon(db);
  db = open_db(dir, NULL);
  CHECK(st_table_find(db, "", "foxtrot") != NULL);
  CHECK_EQ_INT(st_table_id(st_table_find(db, "", "foxtrot")), fox);
  CHECK_EQ_INT(st_table_info(st_table_find(db, "tenant1", "alpha"))->meta_len, 0);
  CHECK_EQ_INT(st_close(db), ST_OK);
  rm_rf(dir);
  free(dir);
}

static void test_items(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  st_table *ts = make_table(db, "", "s", DV_S, "sk", DV_S);
  st_table *th = make_table(db, "", "h", DV_N, NULL, DV_NONE);
  st_table *tb = make_table(db, "", "b", DV_B, "sk", DV_N);
  dv_arena *a = dv_arena_new();
  dv_value got;

  dv_value i1 = M(a, 3, "pk", S(a, "user#1"), "sk", S(a, "2024"), "name", S(a, "Ann"));
  CHECK_EQ_INT(put(db, ts, &i1), ST_OK);
  dv_value k1 = M(a, 2, "pk", S(a, "user#1"), "sk", S(a, "2024"));
  CHECK_EQ_INT(st_item_get(ts, &k1, a, &got), ST_OK);
  CHECK(got.type == DV_M && dv_equal(&got, &i1));
  dv_value k1b = M(a, 2, "pk", S(a, "user#1"), "sk", S(a, "2025"));
  CHECK_EQ_INT(st_item_get(ts, &k1b, a, &got), ST_OK);
  CHECK_EQ_INT(got.type, DV_NONE);
  /* Overwrite replaces the whole item. */
  dv_value i1b = M(a, 3, "pk", S(a, "user#1"), "sk", S(a, "2024"), "age", Nint(a, 33));
  CHECK_EQ_INT(put(db, ts, &i1b), ST_OK);
  CHECK_EQ_INT(st_item_get(ts, &k1, a, &got), ST_OK);
  CHECK(dv_equal(&got, &i1b));
  CHECK(dv_map_get(&got, "name", 4) == NULL);
  CHECK_EQ_INT(st_table_item_count(ts), 1);
  CHECK_EQ_INT(st_table_size_bytes(ts), dv_item_size(&i1b));

  /* Numbers as partition keys: 1 and 1.0 are the same key. */
  dv_value h1 = M(a, 2, "pk", N(a, "1"), "x", dv_make_bool(1));
  CHECK_EQ_INT(put(db, th, &h1), ST_OK);
  dv_value h1k = M(a, 1, "pk", N(a, "1.0"));
  CHECK_EQ_INT(st_item_get(th, &h1k, a, &got), ST_OK);
  CHECK(got.type == DV_M && dv_equal(&got, &h1));
  /* Binary keys with zero bytes. */
  dv_value b1 = M(a, 3, "pk", dv_make_b(a, "\0\1\0", 3), "sk", N(a, "-7.25"), "l", dv_make_null());
  CHECK_EQ_INT(put(db, tb, &b1), ST_OK);
  dv_value b1k = M(a, 2, "pk", dv_make_b(a, "\0\1\0", 3), "sk", N(a, "-725e-2"));
  CHECK_EQ_INT(st_item_get(tb, &b1k, a, &got), ST_OK);
  CHECK(got.type == DV_M && dv_equal(&got, &b1));
  dv_value b2k = M(a, 2, "pk", dv_make_b(a, "\0\1", 2), "sk", N(a, "-7.25"));
  CHECK_EQ_INT(st_item_get(tb, &b2k, a, &got), ST_OK);
  CHECK_EQ_INT(got.type, DV_NONE);

  /* Delete; deleting again is a no-op. */
  CHECK_EQ_INT(del(db, ts, &k1), ST_OK);
  CHECK_EQ_INT(st_item_get(ts, &k1, a, &got), ST_OK);
  CHECK_EQ_INT(got.type, DV_NONE);
  CHECK_EQ_INT(del(db, ts, &k1), ST_OK);
  CHECK_EQ_INT(st_table_item_count(ts), 0);
  CHECK_EQ_INT(st_table_size_bytes(ts), 0);

  /* Validation. */
  uint64_t before = st_last_lsn(db);
  dv_value nosk = M(a, 1, "pk", S(a, "a"));
  CHECK_EQ_INT(put(db, ts, &nosk), ST_EINVAL);
  dv_value wrongtype = M(a, 2, "pk", Nint(a, 1), "sk", S(a, "a"));
  CHECK_EQ_INT(put(db, ts, &wrongtype), ST_EINVAL);
  dv_value emptyk = M(a, 2, "pk", S(a, ""), "sk", S(a, "a"));
  CHECK_EQ_INT(put(db, ts, &emptyk), ST_EINVAL);
  CHECK_EQ_INT(st_item_get(ts, &emptyk, a, &got), ST_EINVAL);
  dv_value notmap = S(a, "x");
  CHECK_EQ_INT(put(db, ts, &notmap), ST_EINVAL);
  char *big = malloc(409600);
  memset(big, 'k', 409600);
  dv_value pk2048 = M(a, 2, "pk", dv_make_s(a, big, 2048), "sk", dv_make_s(a, big, 1024));
  CHECK_EQ_INT(put(db, ts, &pk2048), ST_OK);
  before = st_last_lsn(db);
  dv_value pk2049 = M(a, 2, "pk", dv_make_s(a, big, 2049), "sk", S(a, "a"));
  CHECK_EQ_INT(put(db, ts, &pk2049), ST_ETOOBIG);
  dv_value sk1025 = M(a, 2, "pk", S(a, "a"), "sk", dv_make_s(a, big, 1025));
  CHECK_EQ_INT(put(db, ts, &sk1025), ST_ETOOBIG);
  /* Item size: name bytes + value bytes; exactly 409600 is allowed. */
  size_t keysz = 2 + 1 + 2 + 1; /* "pk"+"a", "sk"+"b" */
  dv_value fits = M(a, 3, "pk", S(a, "a"), "sk", S(a, "b"),
                    "d", dv_make_s(a, big, 409600 - keysz - 1));
  CHECK_EQ_INT(dv_item_size(&fits), 409600);
  CHECK_EQ_INT(put(db, ts, &fits), ST_OK);
  dv_value toobig = M(a, 3, "pk", S(a, "a"), "sk", S(a, "c"),
                      "d", dv_make_s(a, big, 409600 - keysz));
  CHECK_EQ_INT(put(db, ts, &toobig), ST_ETOOBIG);
  CHECK_EQ_INT(st_last_lsn(db), before + 1);
  dv_value fitsk = M(a, 2, "pk", S(a, "a"), "sk", S(a, "b"));
  CHECK_EQ_INT(st_item_get(ts, &fitsk, a, &got), ST_OK);
  CHECK(got.type == DV_M && dv_equal(&got, &fits));

  /* A batch with one bad request writes nothing. */
  before = st_last_lsn(db);
  dv_value g1 = M(a, 2, "pk", S(a, "good"), "sk", S(a, "1"));
  st_write_req batch[3] = {{ts, ST_PUT, &g1, 0}, {th, ST_PUT, &h1, 0}, {ts, ST_PUT, &nosk, 0}};
  uint64_t lsn;
  CHECK_EQ_INT(st_write(db, batch, 3, &lsn), ST_EINVAL);
  CHECK_EQ_INT(st_last_lsn(db), before);
  CHECK_EQ_INT(st_item_get(ts, &g1, a, &got), ST_OK);
  CHECK_EQ_INT(got.type, DV_NONE);
  /* A good batch across tables is one record. */
  batch[2] = (st_write_req){tb, ST_DEL, &b1k, 0};
  CHECK_EQ_INT(st_write(db, batch, 3, &lsn), ST_OK);
  CHECK_EQ_INT(lsn, before + 1);
  CHECK_EQ_INT(st_item_get(tb, &b1k, a, &got), ST_OK);
  CHECK_EQ_INT(got.type, DV_NONE);
  CHECK_EQ_INT(st_write(db, batch, 0, &lsn), ST_EINVAL);

  /* Reopen: all still there. */
  CHECK_EQ_INT(st_close(db), ST_OK);
  db = open_db(dir, NULL);
  ts = st_table_find(db, "", "s");
  th = st_table_find(db, "", "h");
  CHECK_EQ_INT(st_item_get(ts, &fitsk, a, &got), ST_OK);
  CHECK(got.type == DV_M && dv_equal(&got, &fits));
  CHECK_EQ_INT(st_item_get(ts, &g1, a, &got), ST_OK);
  CHECK(got.type == DV_M && dv_equal(&got, &g1));
  CHECK_EQ_INT(st_item_get(th, &h1k, a, &got), ST_OK);
  CHECK(got.type == DV_M);
  CHECK_EQ_INT(st_table_item_count(ts), 3);
  CHECK_EQ_INT(st_table_size_bytes(ts),
               dv_item_size(&fits) + dv_item_size(&g1) + dv_item_size(&pk2048));
  CHECK_EQ_INT(st_close(db), ST_OK);
  free(big);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* Sort keys come back in DynamoDB order, forward and backward, with bounds. */
static void test_order(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  st_table *t = make_table(db, "", "n", DV_S, "sk", DV_N);
  st_table *tsk = make_table(db, "", "s", DV_S, "sk", DV_S);
  dv_arena *a = dv_arena_new();
  /* In numeric order. */
  const char *nums[] = {"-9.9999999999999999999999999999999999999E+125",
                        "-1e10", "-3.5", "-1", "-0.5", "-0.001", "-1E-130", "0",
                        "1E-130", "0.001", "0.1", "1", "1.5", "2", "10", "10.5", "11",
                        "99999999999999999999999999999999999999", "1e38", "1e125",
                        "9.9999999999999999999999999999999999999E+125"};
  size_t nn = sizeof nums / sizeof *nums;
  /* Insert in a scrambled order, plus another partition key. */
  for (size_t k = 0; k < nn; k++) {
    size_t i = (k * 5) % nn;
    dv_value it = M(a, 3, "pk", S(a, "P"), "sk", N(a, nums[i]), "i", Nint(a, (long long)i));
    CHECK_EQ_INT(put(db, t, &it), ST_OK);
    dv_value other = M(a, 2, "pk", S(a, "Q"), "sk", N(a, nums[i]));
    CHECK_EQ_INT(put(db, t, &other), ST_OK);
  }
  CHECK_EQ_INT(st_table_item_count(t), 2 * nn);
  for (int pass = 0; pass < 2; pass++) {
    /* Forward. */
    dv_value hk = S(a, "P");
    st_iter_spec sp = {.hash_key = &hk};
    st_iter *it;
    CHECK_EQ_INT(st_iter_open(t, &sp, &it), ST_OK);
    size_t n = 0;
    int in_order = 1;
    dv_value v;
    while (st_iter_next(it, a, &v) == ST_OK && v.type != DV_NONE) {
      const dv_value *iv = dv_map_get(&v, "i", 1);
      dv_value want = Nint(a, (long long)n);
      if (!iv || !dv_equal(iv, &want)) in_order = 0;
      n++;
    }
    st_iter_close(it);
    CHECK_EQ_INT(n, nn);
    CHECK(in_order);
    /* Backward. */
    sp.reverse = 1;
    CHECK_EQ_INT(st_iter_open(t, &sp, &it), ST_OK);
    n = 0;
    in_order = 1;
    while (st_iter_next(it, a, &v) == ST_OK && v.type != DV_NONE) {
      const dv_value *iv = dv_map_get(&v, "i", 1);
      dv_value want = Nint(a, (long long)(nn - 1 - n));
      if (!iv || !dv_equal(iv, &want)) in_order = 0;
      n++;
    }
    st_iter_close(it);
    CHECK_EQ_INT(n, nn);
    CHECK(in_order);
    /* Bounds: -1 < sk <= 2, forward and backward. */
    dv_value lo = N(a, "-1"), hi = N(a, "2");
    st_iter_spec b = {.hash_key = &hk, .range_lo = &lo, .lo_exclusive = 1, .range_hi = &hi};
    for (int rev = 0; rev < 2; rev++) {
      b.reverse = rev;
      CHECK_EQ_INT(st_iter_open(t, &b, &it), ST_OK);
      n = 0;
      long long first = -1, last = -1;
      while (st_iter_next(it, a, &v) == ST_OK && v.type != DV_NONE) {
        const dv_value *iv = dv_map_get(&v, "i", 1);
        long long idx = strtoll(iv->u.bytes, NULL, 10);
        if (n == 0) first = idx;
        last = idx;
        n++;
      }
      st_iter_close(it);
      CHECK_EQ_INT(n, 10); /* -0.5 .. 2 */
      CHECK_EQ_INT(rev ? last : first, 4);
      CHECK_EQ_INT(rev ? first : last, 13);
    }
    /* Exclusive start: resume after "1". */
    dv_value start = M(a, 2, "pk", S(a, "P"), "sk", N(a, "1"));
    st_iter_spec r = {.hash_key = &hk, .start_after = &start};
    CHECK_EQ_INT(st_iter_open(t, &r, &it), ST_OK);
    CHECK_EQ_INT(st_iter_next(it, a, &v), ST_OK);
    CHECK(v.type == DV_M && !strcmp(dv_map_get(&v, "i", 1)->u.bytes, "12"));
    st_iter_close(it);
    r.reverse = 1;
    CHECK_EQ_INT(st_iter_open(t, &r, &it), ST_OK);
    CHECK_EQ_INT(st_iter_next(it, a, &v), ST_OK);
    CHECK(v.type == DV_M && !strcmp(dv_map_get(&v, "i", 1)->u.bytes, "10"));
    st_iter_close(it);
    /* After a reopen, the order comes from disk. */
    if (pass == 0) {
      CHECK_EQ_INT(st_close(db), ST_OK);
      db = open_db(dir, NULL);
      t = st_table_find(db, "", "n");
      tsk = st_table_find(db, "", "s");
    }
  }
  /* String sort keys: bytewise, shorter prefix first, UTF-8 above ASCII. */
  const char *strs[] = {"", "A", "B", "a", "ab", "abc", "b", "\x7f", "\xc3\xa9", "\xff"};
  for (size_t k = 1; k < 10; k++) {
    size_t i = 10 - k;
    dv_value it = M(a, 3, "pk", S(a, "x"), "sk", S(a, strs[i]), "i", Nint(a, (long long)i));
    CHECK_EQ_INT(put(db, tsk, &it), ST_OK);
  }
  dv_value hx = S(a, "x");
  st_iter_spec sp = {.hash_key = &hx};
  st_iter *it;
  CHECK_EQ_INT(st_iter_open(tsk, &sp, &it), ST_OK);
  dv_value v;
  int ok = 1;
  for (long long i = 1; i < 10; i++) {
    if (st_iter_next(it, a, &v) != ST_OK || v.type != DV_M) {
      ok = 0;
      break;
    }
    dv_value want = Nint(a, i);
    ok &= dv_equal(dv_map_get(&v, "i", 1), &want);
  }
  CHECK(ok);
  CHECK_EQ_INT(st_iter_next(it, a, &v), ST_OK);
  CHECK_EQ_INT(v.type, DV_NONE);
  st_iter_close(it);
  /* Bad specs. */
  dv_value wrong = Nint(a, 1);
  st_iter_spec bad = {.hash_key = &wrong};
  CHECK_EQ_INT(st_iter_open(tsk, &bad, &it), ST_EINVAL);
  st_iter_spec bad2 = {.segment = 4, .total_segments = 4};
  CHECK_EQ_INT(st_iter_open(tsk, &bad2, &it), ST_EINVAL);
  st_iter_spec bad3 = {.range_lo = &hx};
  CHECK_EQ_INT(st_iter_open(tsk, &bad3, &it), ST_EINVAL);
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* A reverse walk of one partition key sees exactly its items, descending,
 * whatever other partition keys share its partition file (one partition, so
 * every key shares it, and keys sort before and after it in the file). */
static void test_reverse_one_key(void) {
  char *dir = tmpdir();
  st_options o = {.partitions = 1, .no_fsync = 1};
  st_db *db = open_db(dir, &o);
  st_table *t = make_table(db, "", "r", DV_S, "sk", DV_N);
  dv_arena *a = dv_arena_new();
  enum { NKEYS = 40, PER = 3 };
  for (int k = 0; k < NKEYS; k++)
    for (int i = 0; i < PER; i++) {
      char pk[16];
      snprintf(pk, sizeof pk, "k%d", k);
      dv_value it = M(a, 2, "pk", S(a, pk), "sk", Nint(a, i));
      CHECK_EQ_INT(put(db, t, &it), ST_OK);
    }
  for (int k = 0; k < NKEYS; k++) {
    char pk[16];
    snprintf(pk, sizeof pk, "k%d", k);
    dv_value hk = S(a, pk);
    st_iter_spec sp = {.hash_key = &hk, .reverse = 1};
    st_iter *it;
    CHECK_EQ_INT(st_iter_open(t, &sp, &it), ST_OK);
    int n = 0, desc = 1;
    dv_value v;
    while (st_iter_next(it, a, &v) == ST_OK && v.type != DV_NONE) {
      const dv_value *pv = dv_map_get(&v, "pk", 2);
      const dv_value *sv = dv_map_get(&v, "sk", 2);
      if (!pv || strcmp(pv->u.bytes, pk) != 0) desc = 0;
      if (!sv || atoi(sv->u.bytes) != PER - 1 - n) desc = 0;
      n++;
    }
    st_iter_close(it);
    CHECK_EQ_INT(n, PER);
    CHECK(desc);
  }
  dv_arena_free(a);
  CHECK_EQ_INT(st_close(db), ST_OK);
  rm_rf(dir);
  free(dir);
}

/* Scan: segments partition the items; paging with start_after; writes
 * during iteration. */
static void test_scan(void) {
  char *dir = tmpdir();
  st_options o = {.no_fsync = 1, .partitions = 8};
  st_db *db = open_db(dir, &o);
  st_table *t = make_table(db, "", "t", DV_S, "sk", DV_N);
  dv_arena *a = dv_arena_new();
  const int NPK = 200, NSK = 3;
  for (int p = 0; p < NPK; p++)
    for (int s = 0; s < NSK; s++) {
      char pk[16];
      snprintf(pk, sizeof pk, "k%d", p);
      dv_value it = M(a, 3, "pk", S(a, pk), "sk", Nint(a, s), "id", Nint(a, p * NSK + s));
      CHECK_EQ_INT(put(db, t, &it), ST_OK);
    }
  const int TOTAL = NPK * NSK;
  CHECK_EQ_INT(scan_count(t), TOTAL);
  /* Segments: every item exactly once, in (hash, key) order inside each. */
  char *seen = calloc((size_t)TOTAL, 1);
  for (uint32_t seg = 0; seg < 5; seg++) {
    st_iter_spec sp = {.segment = seg, .total_segments = 5};
    st_iter *it;
    CHECK_EQ_INT(st_iter_open(t, &sp, &it), ST_OK);
    dv_value v;
    while (st_iter_next(it, a, &v) == ST_OK && v.type != DV_NONE) {
      long id = strtol(dv_map_get(&v, "id", 2)->u.bytes, NULL, 10);
      if (id >= 0 && id < TOTAL) seen[id]++;
    }
    st_iter_close(it);
  }
  int once = 1;
  for (int i = 0; i < TOTAL; i++) once &= seen[i] == 1;
  CHECK(once);
  free(seen);

  /* Paging: 7 at a time with the last item as exclusive start gives the same
   * sequence as one pass. */
  dv_value *all = calloc((size_t)TOTAL, sizeof *all);
  st_iter *it;
  st_iter_spec sp = {0};
  CHECK_EQ_INT(st_iter_open(t, &sp, &it), ST_OK);
  int n = 0;
  while (n < TOTAL && st_iter_next(it, a, &all[n]) == ST_OK && all[n].type != DV_NONE) n++;
  st_iter_close(it);
  CHECK_EQ_INT(n, TOTAL);
  int idx = 0, same = 1;
  dv_value last = {0};
  for (;;) {
    st_iter_spec pg = {.start_after = idx ? &last : NULL};
    CHECK_EQ_INT(st_iter_open(t, &pg, &it), ST_OK);
    dv_value v;
    int got = 0;
    while (got < 7 && st_iter_next(it, a, &v) == ST_OK && v.type != DV_NONE) {
      if (idx >= TOTAL || !dv_equal(&v, &all[idx])) same = 0;
      idx++;
      got++;
      last = v;
    }
    st_iter_close(it);
    if (got < 7) break;
  }
  CHECK(same);
  CHECK_EQ_INT(idx, TOTAL);

  /* Delete every item while scanning (the iterator re-seeks). */
  CHECK_EQ_INT(st_iter_open(t, &sp, &it), ST_OK);
  dv_value v;
  int deleted = 0;
  while (st_iter_next(it, a, &v) == ST_OK && v.type != DV_NONE) {
    CHECK_EQ_INT(del(db, t, &v), ST_OK);
    deleted++;
    if (deleted % 50 == 0) CHECK_EQ_INT(st_sync(db), ST_OK); /* checkpoints too */
  }
  st_iter_close(it);
  CHECK_EQ_INT(deleted, TOTAL);
  CHECK_EQ_INT(st_table_item_count(t), 0);
  CHECK_EQ_INT(st_table_size_bytes(t), 0);
  CHECK_EQ_INT(scan_count(t), 0);
  free(all);
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* Random batches with flushes, log-space jobs and checkpoints; "crash"
 * (abandon) at random points; the reopened database holds exactly the
 * flushed batches. */
static void test_crash_flushed(void) {
  char *dir = tmpdir();
  unsigned seed = 12345;
  model cur, durable;
  memset(&cur, 0, sizeof cur);
  st_options o = {.no_fsync = 1, .partitions = 4, .log_segment_bytes = 16384,
                  .log_zero_chunk = 4096};
  int preps = 0;
  st_db *db = open_db(dir, &o);
  make_table(db, "", "t", DV_S, "sk", DV_N);
  CHECK_EQ_INT(st_sync(db), ST_OK);
  durable = cur;
  int all_ok = 1;
  for (int round = 0; round < 12; round++) {
    st_table *t = st_table_find(db, "", "t");
    int nb = 20 + (int)(rand_r(&seed) % 60);
    for (int b = 0; b < nb; b++) {
      CHECK_EQ_INT(model_batch(db, t, &cur, &seed), ST_OK);
      int r = (int)(rand_r(&seed) % 10);
      if (r < 3) {
        CHECK_EQ_INT(flush(db), ST_OK);
        durable = cur;
      } else if (r == 3) {
        CHECK_EQ_INT(st_sync(db), ST_OK);
        durable = cur;
      } else if (r == 4) {
        st_prep_job *p = st_prep_begin(db);
        if (p) {
          CHECK_EQ_INT(st_prep_run(p), ST_OK);
          CHECK_EQ_INT(st_prep_end(db, p), ST_OK);
          preps++;
        }
      }
    }
    /* Unflushed batches at the end are lost by the crash. */
    db = crash_and_check(db, dir, &o, &t, &durable, round, &all_ok);
    cur = durable;
  }
  CHECK(all_ok);
  CHECK(preps > 10);
  /* The log was rotated and retired along the way. */
  CHECK_EQ_INT(st_sync(db), ST_OK);
  CHECK(count_wal_segments(dir) <= 2);
  st_stats s;
  st_get_stats(db, &s);
  CHECK_EQ_INT(s.durable_lsn, s.last_lsn);
  CHECK_EQ_INT(s.checkpoint_lsn, s.last_lsn);
  CHECK_EQ_INT(st_close(db), ST_OK);
  db = open_db(dir, &o);
  CHECK(model_check(st_table_find(db, "", "t"), &durable));
  st_get_stats(db, &s);
  CHECK_EQ_INT(s.recovered_records, 0);
  CHECK_EQ_INT(st_close(db), ST_OK);
  rm_rf(dir);
  free(dir);
}

/* Crash in the middle of a checkpoint, after each possible number of
 * partition trees, with writes (flushed) made after the checkpoint began;
 * and after the catalog but before st_checkpoint_end. */
static void test_crash_mid_checkpoint(void) {
  int all_ok = 1;
  for (size_t stop = 0; stop <= 9; stop++) {
    char *dir = tmpdir();
    unsigned seed = 777 + (unsigned)stop;
    model cur, durable;
    memset(&cur, 0, sizeof cur);
    st_options o = {.no_fsync = 1, .partitions = 8};
    st_db *db = open_db(dir, &o);
    st_table *t = make_table(db, "", "t", DV_S, "sk", DV_N);
    for (int b = 0; b < 60; b++) model_batch(db, t, &cur, &seed);
    CHECK_EQ_INT(st_sync(db), ST_OK); /* a first checkpoint: C_old */
    for (int b = 0; b < 60; b++) model_batch(db, t, &cur, &seed);
    /* A table created after C_old, written, part of the checkpoint. */
    st_table *t2 = make_table(db, "", "t2", DV_S, "sk", DV_N);
    model cur2, durable2;
    memset(&cur2, 0, sizeof cur2);
    for (int b = 0; b < 30; b++) model_batch(db, t2, &cur2, &seed);
    /* Half the time records are still pending when the checkpoint begins. */
    if (stop % 2) CHECK_EQ_INT(flush(db), ST_OK);
    int err;
    st_ckpt_job *job = st_checkpoint_begin(db, &err);
    CHECK(job != NULL);
    CHECK_EQ_INT(st_checkpoint_ready(db, job), stop % 2);
    size_t ntrees = job ? st_checkpoint_trees(job) : 0;
    CHECK(ntrees >= 9);
    /* The owner goes on while the checkpoint "runs". */
    for (int b = 0; b < 40; b++) model_batch(db, t, &cur, &seed);
    for (int b = 0; b < 10; b++) model_batch(db, t2, &cur2, &seed);
    CHECK_EQ_INT(flush(db), ST_OK);
    CHECK_EQ_INT(st_checkpoint_ready(db, job), 1);
    durable = cur;
    durable2 = cur2;
    for (int b = 0; b < 5; b++) model_batch(db, t, &cur, &seed); /* lost */
    if (stop < 9)
      st_checkpoint_run_partial(job, stop);
    else
      CHECK_EQ_INT(st_checkpoint_run(job), ST_OK); /* catalog written, end never ran */
    st_abandon(db);
    db = open_db(dir, &o);
    t = st_table_find(db, "", "t");
    t2 = st_table_find(db, "", "t2");
    if (!t || !t2 || !model_check(t, &durable) || !model_check(t2, &durable2)) {
      fprintf(stderr, "crash after %zu of %zu trees: mismatch\n", stop, ntrees);
      all_ok = 0;
    }
    /* And once more after a clean checkpoint and close. */
    CHECK_EQ_INT(st_close(db), ST_OK);
    db = open_db(dir, &o);
    t = st_table_find(db, "", "t");
    t2 = st_table_find(db, "", "t2");
    if (!t || !t2 || !model_check(t, &durable) || !model_check(t2, &durable2)) all_ok = 0;
    CHECK_EQ_INT(st_close(db), ST_OK);
    rm_rf(dir);
    free(dir);
  }
  CHECK(all_ok);
}

/* A torn log tail: the batch in the torn record is absent as a whole. */
static void test_torn_batch(void) {
  char *dir = tmpdir();
  st_options o = {.no_fsync = 1, .partitions = 8};
  st_db *db = open_db(dir, &o);
  st_table *t = make_table(db, "", "t", DV_S, NULL, DV_NONE);
  dv_arena *a = dv_arena_new();
  dv_value one = M(a, 2, "pk", S(a, "first"), "v", Nint(a, 1));
  CHECK_EQ_INT(put(db, t, &one), ST_OK);
  CHECK_EQ_INT(flush(db), ST_OK);
  /* A batch of 20 items across partitions, one record. */
  st_write_req w[20];
  dv_value items[20];
  for (int i = 0; i < 20; i++) {
    char pk[16];
    snprintf(pk, sizeof pk, "b%d", i);
    items[i] = M(a, 2, "pk", S(a, pk), "v", Nint(a, i));
    w[i] = (st_write_req){t, ST_PUT, &items[i], 0};
  }
  uint64_t lsn;
  CHECK_EQ_INT(st_write(db, w, 20, &lsn), ST_OK);
  CHECK_EQ_INT(flush(db), ST_OK);
  st_abandon(db);
  /* The last record is the batch; cut the segment at several points. */
  char seg[512];
  snprintf(seg, sizeof seg, "%s/wal/0000000000000001.wal", dir);
  struct stat st;
  CHECK_EQ_INT(stat(seg, &st), 0);
  off_t full = st.st_size;
  FILE *f = fopen(seg, "rb");
  uint8_t *img = malloc((size_t)full);
  CHECK_EQ_INT(fread(img, 1, (size_t)full, f), (size_t)full);
  fclose(f);
  int ok = 1;
  for (off_t cut = full - 1; cut > full - 400; cut -= 37) {
    f = fopen(seg, "wb");
    fwrite(img, 1, (size_t)cut, f);
    fclose(f);
    db = open_db(dir, &o);
    t = st_table_find(db, "", "t");
    dv_value got;
    int present = 0;
    for (int i = 0; i < 20; i++) {
      st_item_get(t, &items[i], a, &got);
      present += got.type == DV_M;
    }
    st_item_get(t, &one, a, &got);
    if (present != 0 || got.type != DV_M || st_table_item_count(t) != 1 ||
        !st_recovery_note(db)[0]) {
      fprintf(stderr, "cut at %lld: %d of the batch present\n", (long long)cut, present);
      ok = 0;
    }
    st_abandon(db);
  }
  CHECK(ok);
  /* The whole file: the whole batch. */
  f = fopen(seg, "wb");
  fwrite(img, 1, (size_t)full, f);
  fclose(f);
  db = open_db(dir, &o);
  t = st_table_find(db, "", "t");
  CHECK_EQ_INT(st_table_item_count(t), 21);
  CHECK_EQ_STR(st_recovery_note(db), "");
  CHECK_EQ_INT(st_close(db), ST_OK);
  free(img);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

static void test_lock(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  st_db *db2 = NULL;
  char err[256] = "";
  CHECK_EQ_INT(st_open(dir, NULL, &db2, err, sizeof err), ST_ELOCKED);
  CHECK(db2 == NULL);
  CHECK(strstr(err, "in use by another dynafiled") != NULL);
  char pid[32];
  snprintf(pid, sizeof pid, "(pid %ld)", (long)getpid());
  CHECK(strstr(err, pid) != NULL);
  CHECK(strstr(err, dir) != NULL);
  /* Another process too. */
  pid_t child = fork();
  if (child == 0) {
    st_db *c = NULL;
    char e[256];
    int rc = st_open(dir, NULL, &c, e, sizeof e);
    _exit(rc == ST_ELOCKED ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_EQ_INT(st_close(db), ST_OK);
  /* Released on close. */
  child = fork();
  if (child == 0) {
    st_db *c = NULL;
    char e[256];
    int rc = st_open(dir, NULL, &c, e, sizeof e);
    if (rc == ST_OK) rc = st_close(c);
    _exit(rc == ST_OK ? 0 : 1);
  }
  waitpid(child, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  db = open_db(dir, NULL);
  CHECK_EQ_INT(st_close(db), ST_OK);
  rm_rf(dir);
  free(dir);
}

/* Files of dropped tables go at the next checkpoint, including when the drop
 * happens while a checkpoint of that table is in flight. */
static void test_drop_files(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  st_table *t = make_table(db, "", "t", DV_S, NULL, DV_NONE);
  char tdir[600];
  snprintf(tdir, sizeof tdir, "%s/tables/%" PRIu64, dir, st_table_id(t));
  CHECK(!dir_exists(tdir)); /* no data, no files */
  dv_arena *a = dv_arena_new();
  dv_value it = M(a, 2, "pk", S(a, "x"), "v", Nint(a, 1));
  CHECK_EQ_INT(put(db, t, &it), ST_OK);
  CHECK(dir_exists(tdir));
  CHECK_EQ_INT(st_sync(db), ST_OK);
  uint64_t lsn;
  CHECK_EQ_INT(st_table_drop(db, t, &lsn), ST_OK);
  CHECK(dir_exists(tdir));
  CHECK_EQ_INT(st_sync(db), ST_OK);
  CHECK(!dir_exists(tdir));

  /* Drop while the checkpoint holds the table's trees. */
  t = make_table(db, "", "t", DV_S, NULL, DV_NONE);
  snprintf(tdir, sizeof tdir, "%s/tables/%" PRIu64, dir, st_table_id(t));
  CHECK_EQ_INT(put(db, t, &it), ST_OK);
  CHECK_EQ_INT(flush(db), ST_OK);
  int err;
  st_ckpt_job *job = st_checkpoint_begin(db, &err);
  CHECK(job && st_checkpoint_trees(job) == 1);
  CHECK_EQ_INT(st_table_drop(db, t, &lsn), ST_OK);
  CHECK_EQ_INT(st_checkpoint_run(job), ST_OK);
  CHECK_EQ_INT(st_checkpoint_end(db, job), ST_OK);
  CHECK(dir_exists(tdir));
  CHECK_EQ_INT(st_sync(db), ST_OK);
  CHECK(!dir_exists(tdir));

  /* A crash after a durable drop: the table stays dropped, and its files go
   * at the next checkpoint. */
  t = make_table(db, "", "t", DV_S, NULL, DV_NONE);
  snprintf(tdir, sizeof tdir, "%s/tables/%" PRIu64, dir, st_table_id(t));
  CHECK_EQ_INT(put(db, t, &it), ST_OK);
  CHECK_EQ_INT(st_sync(db), ST_OK);
  CHECK_EQ_INT(st_table_drop(db, t, &lsn), ST_OK);
  CHECK_EQ_INT(flush(db), ST_OK);
  st_abandon(db);
  db = open_db(dir, NULL);
  CHECK(st_table_find(db, "", "t") == NULL);
  CHECK(dir_exists(tdir));
  CHECK_EQ_INT(st_sync(db), ST_OK);
  CHECK(!dir_exists(tdir));
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

static void test_failed_flush(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  st_table *t = make_table(db, "", "t", DV_S, NULL, DV_NONE);
  dv_arena *a = dv_arena_new();
  dv_value i1 = M(a, 1, "pk", S(a, "one")), i2 = M(a, 1, "pk", S(a, "two"));
  CHECK_EQ_INT(put(db, t, &i1), ST_OK);
  CHECK_EQ_INT(flush(db), ST_OK);
  CHECK_EQ_INT(put(db, t, &i2), ST_OK);
  st_flush_job *j = st_flush_begin(db);
  CHECK(j != NULL);
  st_flush_inject_error(j);
  CHECK_EQ_INT(st_flush_run(j), ST_EIO);
  CHECK_EQ_INT(st_flush_end(db, j), ST_EIO);
  CHECK_EQ_INT(put(db, t, &i2), ST_EFAILED);
  uint64_t lsn;
  st_table_def d = {.name = "x", .hash = {"pk", DV_S}};
  CHECK_EQ_INT(st_table_create(db, &d, &lsn), ST_EFAILED);
  CHECK(st_flush_begin(db) == NULL);
  int err;
  CHECK(st_checkpoint_begin(db, &err) == NULL);
  CHECK_EQ_INT(err, ST_EFAILED);
  dv_value got;
  CHECK_EQ_INT(st_item_get(t, &i1, a, &got), ST_OK); /* reads still work */
  CHECK_EQ_INT(got.type, DV_M);
  CHECK_EQ_INT(st_close(db), ST_EFAILED);
  db = open_db(dir, NULL);
  t = st_table_find(db, "", "t");
  CHECK_EQ_INT(st_table_item_count(t), 1);
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* Recovery edge cases: partition files missing (never checkpointed), a
 * corrupt catalog, options that changed between runs, nothing to do. */
static void test_recovery_edges(void) {
  char *dir = tmpdir();
  st_options o4 = {.no_fsync = 1, .partitions = 4};
  st_db *db = open_db(dir, &o4);
  st_table *t = make_table(db, "", "t", DV_S, "sk", DV_N);
  unsigned seed = 99;
  model m;
  memset(&m, 0, sizeof m);
  for (int b = 0; b < 80; b++) model_batch(db, t, &m, &seed);
  CHECK_EQ_INT(flush(db), ST_OK);
  char tdir[600];
  snprintf(tdir, sizeof tdir, "%s/tables/%" PRIu64, dir, st_table_id(t));
  st_abandon(db);
  /* Nothing was checkpointed: the files may go, the log rebuilds them. */
  rm_rf(tdir);
  CHECK(!dir_exists(tdir));
  db = open_db(dir, &o4);
  t = st_table_find(db, "", "t");
  CHECK(t && model_check(t, &m));
  CHECK(dir_exists(tdir));
  CHECK_EQ_INT(st_sync(db), ST_OK);
  /* Nothing new: no checkpoint job. */
  int err = -1;
  CHECK(st_checkpoint_begin(db, &err) == NULL);
  CHECK_EQ_INT(err, ST_OK);
  CHECK_EQ_INT(st_close(db), ST_OK);

  /* The partition count of existing tables does not follow the option. */
  st_options o16 = {.no_fsync = 1, .partitions = 16};
  db = open_db(dir, &o16);
  t = st_table_find(db, "", "t");
  CHECK(t && model_check(t, &m));
  st_table *t16 = make_table(db, "", "t16", DV_S, "sk", DV_N);
  model m16;
  memset(&m16, 0, sizeof m16);
  for (int b = 0; b < 40; b++) model_batch(db, t16, &m16, &seed);
  CHECK_EQ_INT(st_close(db), ST_OK);
  db = open_db(dir, &o4);
  CHECK(model_check(st_table_find(db, "", "t"), &m));
  CHECK(model_check(st_table_find(db, "", "t16"), &m16));
  CHECK_EQ_INT(st_close(db), ST_OK);

  /* Bad options. */
  st_options bad = {.partitions = 3};
  char e[256];
  CHECK_EQ_INT(st_open(dir, &bad, &db, e, sizeof e), ST_EINVAL);
  CHECK(db == NULL);

  /* A corrupt catalog is reported, not guessed at. */
  char cat[600];
  snprintf(cat, sizeof cat, "%s/catalog", dir);
  FILE *f = fopen(cat, "r+b");
  fseek(f, 40, SEEK_SET);
  int c = fgetc(f);
  fseek(f, 40, SEEK_SET);
  fputc(c ^ 0x10, f);
  fclose(f);
  e[0] = 0;
  CHECK_EQ_INT(st_open(dir, &o4, &db, e, sizeof e), ST_ECORRUPT);
  CHECK(db == NULL);
  CHECK(strstr(e, "catalog") != NULL);
  /* The failed open released the lock: fixing the byte makes it open. */
  f = fopen(cat, "r+b");
  fseek(f, 40, SEEK_SET);
  fputc(c, f);
  fclose(f);
  db = open_db(dir, &o4);
  CHECK(model_check(st_table_find(db, "", "t"), &m));
  CHECK_EQ_INT(st_close(db), ST_OK);

  /* Log segments needed by the catalog are missing: reported. */
  st_options small = {.no_fsync = 1, .partitions = 4, .log_segment_bytes = 4096};
  db = open_db(dir, &small);
  t = st_table_find(db, "", "t");
  for (int b = 0; b < 200; b++) {
    model_batch(db, t, &m, &seed);
    if (b % 5 == 0) CHECK_EQ_INT(flush(db), ST_OK);
  }
  CHECK_EQ_INT(flush(db), ST_OK);
  st_abandon(db);
  CHECK(count_wal_segments(dir) > 3);
  /* Keep only the newest segment: the records after the catalog's LSN that
   * the older ones held are gone. */
  char wal[600], last[300] = "";
  snprintf(wal, sizeof wal, "%s/wal", dir);
  DIR *d = opendir(wal);
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (strstr(de->d_name, ".wal") && strcmp(de->d_name, last) > 0)
      snprintf(last, sizeof last, "%s", de->d_name);
  rewinddir(d);
  while ((de = readdir(d)) != NULL)
    if (strstr(de->d_name, ".wal") && strcmp(de->d_name, last) != 0) {
      char p[1000];
      snprintf(p, sizeof p, "%s/%s", wal, de->d_name);
      CHECK_EQ_INT(unlink(p), 0);
    }
  closedir(d);
  e[0] = 0;
  CHECK_EQ_INT(st_open(dir, &small, &db, e, sizeof e), ST_ECORRUPT);
  CHECK(strstr(e, "missing") != NULL);
  rm_rf(dir);
  free(dir);
}

/* The log lost records that a partition file already covers (damage in the
 * middle of the log): new writes must not reuse those LSNs. */
static void test_log_behind_files(void) {
  char *dir = tmpdir();
  st_options o = {.no_fsync = 1, .partitions = 2};
  st_db *db = open_db(dir, &o);
  st_table *t = make_table(db, "", "t", DV_S, "sk", DV_N);
  unsigned seed = 5;
  model m;
  memset(&m, 0, sizeof m);
  for (int b = 0; b < 20; b++) model_batch(db, t, &m, &seed);
  CHECK_EQ_INT(st_sync(db), ST_OK); /* catalog at C_old */
  for (int b = 0; b < 100; b++) model_batch(db, t, &m, &seed);
  CHECK_EQ_INT(flush(db), ST_OK);
  int err;
  st_ckpt_job *job = st_checkpoint_begin(db, &err);
  CHECK(job != NULL);
  /* Every tree reaches C, the catalog does not. */
  CHECK_EQ_INT(st_checkpoint_run_partial(job, st_checkpoint_trees(job)), ST_OK);
  uint64_t c = st_last_lsn(db);
  st_abandon(db);
  /* Damage: cut the log in the middle of the records after C_old. */
  char wal[600], seg[1000];
  snprintf(wal, sizeof wal, "%s/wal", dir);
  DIR *d = opendir(wal);
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (strstr(de->d_name, ".wal")) snprintf(seg, sizeof seg, "%s/%s", wal, de->d_name);
  closedir(d);
  struct stat st;
  stat(seg, &st);
  CHECK_EQ_INT(truncate(seg, st.st_size / 2), 0);
  db = open_db(dir, &o);
  CHECK(strstr(st_recovery_note(db), "partition files reach") != NULL);
  CHECK(st_last_lsn(db) >= c);
  t = st_table_find(db, "", "t");
  /* The files hold everything up to C: that is the state now. */
  CHECK(model_check(t, &m));
  /* New writes, flushed, survive a crash. */
  for (int b = 0; b < 30; b++) model_batch(db, t, &m, &seed);
  CHECK_EQ_INT(flush(db), ST_OK);
  st_abandon(db);
  db = open_db(dir, &o);
  CHECK_EQ_STR(st_recovery_note(db), "");
  CHECK(model_check(st_table_find(db, "", "t"), &m));
  CHECK_EQ_INT(st_close(db), ST_OK);
  rm_rf(dir);
  free(dir);
}

/* ---- flush and checkpoint on another thread ------------------------------------ */

/* A job running on a helper thread. */
typedef struct bg {
  pthread_t th;        /* the thread */
  st_flush_job *flush; /* flush job, or */
  st_prep_job *prep;   /* log-space job, or */
  st_ckpt_job *ckpt;   /* checkpoint job */
  atomic_int done;     /* set when the run returned */
  int rc;              /* its result */
  int running;         /* a thread exists */
} bg;

static void *bg_main(void *arg) {
  bg *b = arg;
  b->rc = b->flush  ? st_flush_run(b->flush)
          : b->prep ? st_prep_run(b->prep)
                    : st_checkpoint_run(b->ckpt);
  atomic_store(&b->done, 1);
  return NULL;
}

static void bg_start(bg *b) {
  atomic_store(&b->done, 0);
  b->running = 1;
  pthread_create(&b->th, NULL, bg_main, b);
}

static void bg_join(bg *b) {
  pthread_join(b->th, NULL);
  b->running = 0;
}

static void test_threads(void) {
  char *dir = tmpdir();
  /* Real fsyncs here, small thresholds so that checkpoints happen often. */
  st_options o = {.partitions = 4, .checkpoint_log_bytes = 64 * 1024,
                  .checkpoint_dirty_bytes = 256 * 1024, .log_segment_bytes = 32 * 1024};
  st_db *db = open_db(dir, &o);
  st_table *t = make_table(db, "", "t", DV_S, "sk", DV_N);
  unsigned seed = 4242;
  model cur, durable, inflight;
  memset(&cur, 0, sizeof cur);
  durable = cur;
  bg fl = {0}, ck = {0};
  int batches = 0, ckpts = 0, flushes = 0;
  /* Until enough of each happened (timing varies with the disk). */
  while (batches < 3000 || ((ckpts < 3 || flushes < 3) && batches < 300000)) {
    CHECK_EQ_INT(model_batch(db, t, &cur, &seed), ST_OK);
    batches++;
    if (fl.running && atomic_load(&fl.done)) {
      bg_join(&fl);
      CHECK_EQ_INT(fl.rc, ST_OK);
      CHECK_EQ_INT(st_flush_end(db, fl.flush), ST_OK);
      durable = inflight;
      flushes++;
    }
    if (ck.running && atomic_load(&ck.done)) {
      bg_join(&ck);
      CHECK_EQ_INT(ck.rc, ST_OK);
      CHECK_EQ_INT(st_checkpoint_end(db, ck.ckpt), ST_OK);
      ckpts++;
    }
    if (!fl.running) {
      fl.flush = st_flush_begin(db);
      if (fl.flush) {
        inflight = cur;
        bg_start(&fl);
      }
    }
    /* Begin a checkpoint whenever one is due, records pending or not: its
     * run waits on its thread until the flushes made them durable. */
    if (!ck.running && st_checkpoint_due(db)) {
      int err;
      ck.ckpt = st_checkpoint_begin(db, &err);
      CHECK_EQ_INT(err, ST_OK);
      if (ck.ckpt) bg_start(&ck);
    }
  }
  if (fl.running) {
    bg_join(&fl);
    CHECK_EQ_INT(st_flush_end(db, fl.flush), ST_OK);
    durable = inflight;
  }
  CHECK_EQ_INT(flush(db), ST_OK); /* lets the last checkpoint run */
  durable = cur;
  if (ck.running) {
    bg_join(&ck);
    CHECK_EQ_INT(st_checkpoint_end(db, ck.ckpt), ST_OK);
    ckpts++;
  }
  CHECK(flushes >= 3);
  CHECK(ckpts >= 3);
  CHECK(model_check(t, &cur));
  st_stats s;
  st_get_stats(db, &s);
  CHECK(s.flushed_records > s.flushes); /* group commit did group */
  CHECK_EQ_INT(s.checkpoints, (uint64_t)ckpts);
  /* A crash now keeps exactly what was durable. */
  st_abandon(db);
  db = open_db(dir, &o);
  t = st_table_find(db, "", "t");
  CHECK(t && model_check(t, &durable));
  CHECK_EQ_INT(st_close(db), ST_OK);
  rm_rf(dir);
  free(dir);
}

/* ---- several flush jobs in flight (max_flushes 3) ------------------------------- */

/* A flush job begun by the test, in begin order. */
typedef struct cjob {
  bg b;         /* its run on a thread */
  uint64_t lsn; /* st_last_lsn when it began: its last record */
  model snap;   /* the model at that moment */
  int ended;    /* st_flush_end called */
  int started;  /* its thread was started */
} cjob;

typedef struct cjobs {
  cjob q[64];     /* jobs not yet retired, [lo, hi) */
  size_t lo, hi;  /* bounds */
  int inflight;   /* begun, not ended */
  uint64_t want;  /* the durable LSN the engine must show */
  int failed;     /* a failed job was retired: nothing after it is durable */
  int bad;        /* a check failed */
} cjobs;

/* End job i (joining its thread) and retire the ended prefix: the durable
 * LSN must be the last LSN of the last successful job of that prefix that
 * no failed job precedes. want_rc: the job's expected status. */
static void cj_end(st_db *db, cjobs *c, size_t i, int want_rc, model *durable) {
  cjob *j = &c->q[i];
  bg_join(&j->b);
  int rc = st_flush_end(db, j->b.flush);
  if (rc != want_rc) {
    fprintf(stderr, "flush end: %s, want %s\n", st_errname(rc), st_errname(want_rc));
    c->bad++;
  }
  j->ended = 1;
  c->inflight--;
  while (c->lo < c->hi && c->q[c->lo].ended) {
    cjob *h = &c->q[c->lo++];
    if (h->b.rc != ST_OK) c->failed = 1;
    if (c->failed) continue;
    c->want = h->lsn;
    *durable = h->snap;
  }
  if (st_durable_lsn(db) != c->want) {
    fprintf(stderr, "durable lsn %" PRIu64 ", want %" PRIu64 "\n", st_durable_lsn(db), c->want);
    c->bad++;
  }
}

static void cj_begin(st_db *db, cjobs *c, const model *cur, int start) {
  if (c->hi == 64) {
    memmove(c->q, c->q + c->lo, (c->hi - c->lo) * sizeof *c->q);
    c->hi -= c->lo;
    c->lo = 0;
  }
  if (c->hi == 64) return;
  st_flush_job *f = st_flush_begin(db);
  if (!f) return;
  cjob *j = &c->q[c->hi++];
  memset(j, 0, sizeof *j);
  j->b.flush = f;
  j->lsn = st_last_lsn(db);
  j->snap = *cur;
  c->inflight++;
  if (c->inflight > 3) c->bad++; /* max_flushes */
  if (start) {
    j->started = 1;
    bg_start(&j->b);
  }
}

/* End every job in flight, in random order. */
static void cj_end_all(st_db *db, cjobs *c, unsigned *seed, size_t failed, model *durable) {
  while (c->inflight > 0) {
    size_t k = (size_t)(rand_r(seed) % (unsigned)c->inflight), i = c->lo;
    for (;; i++)
      if (!c->q[i].ended && k-- == 0) break;
    cj_end(db, c, i, i == failed ? ST_EIO : ST_OK, durable);
  }
}

/* The log-space job (st_prep) on a thread of its own: end it once its run
 * returned (wait = 1: wait for that), start one when the engine wants it
 * (not when waiting). */
static void prep_step(st_db *db, bg *pr, int *preps, int wait) {
  if (pr->running && (wait || atomic_load(&pr->done))) {
    bg_join(pr);
    CHECK_EQ_INT(pr->rc, ST_OK);
    CHECK_EQ_INT(st_prep_end(db, pr->prep), ST_OK);
    pr->prep = NULL;
    (*preps)++;
  }
  if (!wait && !pr->running && (pr->prep = st_prep_begin(db)) != NULL) {
    CHECK(st_prep_begin(db) == NULL); /* one at a time */
    bg_start(pr);
  }
}

/* Random batches with up to three flush jobs on threads, ended in random
 * completion order (and a checkpoint and the log-space job on threads of
 * their own), real fsyncs and small segments; then a crash: either every
 * job ended, or a fresh set of jobs of which a random one failed (not
 * written) while the later ones wrote their ranges. The reopened database
 * holds exactly what was durable. */
static void test_concurrent_flushes(void) {
  char *dir = tmpdir();
  st_options o = {.partitions = 4, .checkpoint_log_bytes = 64 * 1024,
                  .checkpoint_dirty_bytes = 256 * 1024, .log_segment_bytes = 16 * 1024,
                  .log_zero_chunk = 4096, .max_flushes = 3};
  unsigned seed = 9090;
  model cur, durable;
  memset(&cur, 0, sizeof cur);
  st_db *db = open_db(dir, &o);
  make_table(db, "", "t", DV_S, "sk", DV_N);
  CHECK_EQ_INT(st_sync(db), ST_OK);
  durable = cur;
  int all_ok = 1, three = 0, failures = 0, ckpts = 0, preps = 0, preps_before = 0;
  for (int round = 0; round < 10; round++) {
    st_table *t = st_table_find(db, "", "t");
    cjobs c;
    memset(&c, 0, sizeof c);
    c.want = st_durable_lsn(db);
    bg ck = {0}, pr = {0};
    int nb = 300 + (int)(rand_r(&seed) % 300);
    for (int b = 0; b < nb; b++) {
      CHECK_EQ_INT(model_batch(db, t, &cur, &seed), ST_OK);
      /* End some finished jobs, in random order. */
      for (size_t i = c.lo; i < c.hi; i++)
        if (!c.q[i].ended && atomic_load(&c.q[i].b.done) && rand_r(&seed) % 2)
          cj_end(db, &c, i, ST_OK, &durable);
      if (rand_r(&seed) % 2 == 0) prep_step(db, &pr, &preps, 0);
      if (rand_r(&seed) % 3 == 0) cj_begin(db, &c, &cur, 1);
      if (c.inflight == 3) three++;
      if (c.inflight == 3 && st_flush_begin(db) != NULL) c.bad++;
      if (ck.running && atomic_load(&ck.done)) {
        bg_join(&ck);
        CHECK_EQ_INT(ck.rc, ST_OK);
        CHECK_EQ_INT(st_checkpoint_end(db, ck.ckpt), ST_OK);
        ckpts++;
      }
      if (!ck.running && st_checkpoint_due(db)) {
        int err;
        ck.ckpt = st_checkpoint_begin(db, &err);
        CHECK_EQ_INT(err, ST_OK);
        if (ck.ckpt) bg_start(&ck);
      }
    }
    cj_end_all(db, &c, &seed, SIZE_MAX, &durable);
    prep_step(db, &pr, &preps, 1); /* a flush may wait for it */
    /* The checkpoint's records must become durable before it can run. */
    while (ck.running && !st_checkpoint_ready(db, ck.ckpt)) {
      cj_begin(db, &c, &cur, 1);
      cj_end_all(db, &c, &seed, SIZE_MAX, &durable);
    }
    if (ck.running) {
      bg_join(&ck);
      CHECK_EQ_INT(ck.rc, ST_OK);
      CHECK_EQ_INT(st_checkpoint_end(db, ck.ckpt), ST_OK);
      ckpts++;
    }
    if (round % 2 == 1) {
      /* A fresh set of jobs, one of which fails without writing. */
      c.lo = c.hi = 0; /* every job was retired */
      size_t first = c.hi;
      for (int k = 0; k < 3; k++) {
        CHECK_EQ_INT(model_batch(db, t, &cur, &seed), ST_OK);
        cj_begin(db, &c, &cur, 0);
      }
      size_t n = c.hi - first;
      CHECK(n >= 1);
      size_t failed = first + (size_t)(rand_r(&seed) % (unsigned)(n ? n : 1));
      if (n) st_flush_inject_error(c.q[failed].b.flush);
      for (size_t i = first; i < c.hi; i++) bg_start(&c.q[i].b);
      cj_end_all(db, &c, &seed, failed, &durable);
      CHECK(st_flush_begin(db) == NULL); /* failed state */
      CHECK(st_prep_begin(db) == NULL);
      failures++;
    } else {
      /* A crash with a log-space job begun, not run (if the log wants one):
       * it is dropped with the rest. */
      pr.prep = st_prep_begin(db);
    }
    st_stats st;
    st_get_stats(db, &st);
    CHECK_EQ_INT(st.zero_fills, (uint64_t)(preps - preps_before));
    preps_before = preps;
    CHECK_EQ_INT(c.bad, 0);
    /* Crash; unflushed batches are lost. */
    db = crash_and_check(db, dir, &o, &t, &durable, round, &all_ok);
    cur = durable;
  }
  CHECK(all_ok);
  CHECK(three > 0); /* three jobs were in flight at once */
  CHECK(failures > 0);
  CHECK(ckpts > 0);
  CHECK(preps > 0);
  CHECK_EQ_INT(st_close(db), ST_OK);
  rm_rf(dir);
  free(dir);
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {
      {"tables", test_tables},
      {"items", test_items},
      {"order", test_order},
      {"reverse_one_key", test_reverse_one_key},
      {"scan", test_scan},
      {"crash_flushed", test_crash_flushed},
      {"crash_mid_checkpoint", test_crash_mid_checkpoint},
      {"torn_batch", test_torn_batch},
      {"lock", test_lock},
      {"drop_files", test_drop_files},
      {"failed_flush", test_failed_flush},
      {"recovery_edges", test_recovery_edges},
      {"log_behind_files", test_log_behind_files},
      {"threads", test_threads},
      {"concurrent_flushes", test_concurrent_flushes},
      {NULL, NULL},
  };
  return tl_run(tests, argc, argv);
}
