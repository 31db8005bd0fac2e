/*
 * test_indexes.c -- secondary indexes through storage.h: maintenance by
 * st_write checked against a model (every index's full iteration equals
 * the entries recomputed from the table, in order, with counts and sizes),
 * query bounds over escaped sort keys against a brute-force filter, resume
 * with start_after, scan segments, backfill with st_index_fill interleaved
 * with writes, crash rounds (abandon, partial checkpoints) after which every
 * index equals its table again, drops (index, base with cascade, files),
 * the catalog encoding and older catalogs. The expected order is computed
 * here independently of codec.c: index partition-key hash, then DynamoDB
 * order (dv_compare) of index sort key, base partition key, base sort key.
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "storage/btree.h"
#include "storage/catalog.h"
#include "storage/codec.h"
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
  char *d = strdup("/tmp/dftest-indexes-XXXXXX");
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
static dv_value Sn(dv_arena *a, const char *s, size_t n) { return dv_make_s(a, s, n); }
static dv_value Bn(dv_arena *a, const void *p, size_t n) { return dv_make_b(a, p, n); }

/* A number from any DynamoDB number text (canonicalised). */
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

/* A map built attribute by attribute. */
typedef struct mb {
  dv_attr at[16]; /* attributes so far */
  uint32_t n;     /* how many */
} mb;

static void mb_add(mb *m, const char *name, dv_value v) {
  if (m->n >= 16) abort();
  m->at[m->n++] = (dv_attr){name, (uint32_t)strlen(name), v};
}

static dv_value mb_done(dv_arena *a, mb *m) {
  dv_value v = {.type = DV_M, .n = m->n};
  v.u.attrs = dv_arena_alloc(a, sizeof(dv_attr) * (m->n ? m->n : 1));
  memcpy(v.u.attrs, m->at, sizeof(dv_attr) * m->n);
  if (dv_map_sort(&v) != 0) abort();
  return v;
}

static int flush(st_db *db) {
  st_flush_job *j = st_flush_begin(db);
  if (!j) return ST_OK;
  st_flush_run(j);
  return st_flush_end(db, j);
}

static int dir_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- index specs and the expected entries ------------------------------------ */

typedef struct ixspec {
  const char *name;     /* IndexName */
  const char *h;        /* index partition key */
  dv_type ht;           /* its type */
  const char *r;        /* index sort key (NULL: none) */
  dv_type rt;           /* its type */
  st_projection proj;   /* projection */
  const char *inc[4];   /* INCLUDE names */
  size_t ninc;          /* how many */
} ixspec;

typedef struct basespec {
  const char *h; /* base partition key name */
  const char *r; /* base sort key name (NULL: none) */
} basespec;

static st_table *make_index(st_db *db, st_table *t, const ixspec *x) {
  st_index_def d = {.name = x->name,
                    .hash = {x->h, x->ht},
                    .range = {x->r, x->r ? x->rt : DV_NONE},
                    .projection = x->proj,
                    .include = x->inc,
                    .n_include = x->ninc};
  st_table *ix = NULL;
  uint64_t lsn = 0;
  CHECK_EQ_INT(st_index_create(db, t, &d, &ix, &lsn), ST_OK);
  CHECK(ix != NULL && lsn > 0);
  return ix;
}

/* Membership of one key attribute, written independently of storage.c. */
static const dv_value *member_key(const dv_value *item, const char *name, dv_type t, size_t max) {
  const dv_value *v = dv_map_get(item, name, strlen(name));
  if (!v || v->type != t) return NULL;
  if (t != DV_N && v->n == 0) return NULL;
  if (v->n > max) return NULL;
  return v;
}

typedef struct entry {
  uint64_t hash;   /* codec_hash_key of ihk */
  dv_value ihk;    /* index partition key */
  dv_value irk;    /* index sort key (DV_NONE: none) */
  dv_value bhk;    /* base partition key */
  dv_value brk;    /* base sort key (DV_NONE: none) */
  dv_value proj;   /* the projected item */
} entry;

static int cmp_val(const dv_value *x, const dv_value *y) {
  if (x->type == DV_NONE || y->type == DV_NONE) return (x->type != DV_NONE) - (y->type != DV_NONE);
  return dv_compare(x, y);
}

static int entry_cmp(const void *pa, const void *pb) {
  const entry *x = pa, *y = pb;
  if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
  int c = cmp_val(&x->ihk, &y->ihk);
  if (!c) c = cmp_val(&x->irk, &y->irk);
  if (!c) c = cmp_val(&x->bhk, &y->bhk);
  if (!c) c = cmp_val(&x->brk, &y->brk);
  return c;
}

/* The entry of item in x, or 0 if it is not in the index. */
static int expect_entry(dv_arena *a, const basespec *bs, const ixspec *x, const dv_value *item,
                        entry *e) {
  memset(e, 0, sizeof *e);
  const dv_value *h = member_key(item, x->h, x->ht, 2048), *r = NULL;
  if (!h) return 0;
  if (x->r && !(r = member_key(item, x->r, x->rt, 1024))) return 0;
  e->ihk = *h;
  e->hash = codec_hash_key(h);
  if (r) e->irk = *r;
  e->bhk = *dv_map_get(item, bs->h, strlen(bs->h));
  if (bs->r) e->brk = *dv_map_get(item, bs->r, strlen(bs->r));
  if (x->proj == ST_PROJ_ALL) {
    e->proj = *item;
    return 1;
  }
  const char *names[8];
  size_t nn = 0;
  names[nn++] = bs->h;
  if (bs->r) names[nn++] = bs->r;
  names[nn++] = x->h;
  if (x->r) names[nn++] = x->r;
  if (x->proj == ST_PROJ_INCLUDE)
    for (size_t i = 0; i < x->ninc; i++) names[nn++] = x->inc[i];
  mb m = {0};
  for (size_t i = 0; i < nn; i++) {
    int dup = 0;
    for (size_t k = 0; k < i; k++) dup |= !strcmp(names[k], names[i]);
    const dv_value *v = dv_map_get(item, names[i], strlen(names[i]));
    if (!dup && v) mb_add(&m, names[i], *v);
  }
  e->proj = mb_done(a, &m);
  return 1;
}

/* The expected entries of x over items[0..n), sorted. *bytes = their sizes. */
static entry *expect_all(dv_arena *a, const basespec *bs, const ixspec *x, const dv_value *items,
                         size_t n, size_t *cnt, uint64_t *bytes) {
  entry *es = malloc(sizeof *es * (n ? n : 1));
  size_t k = 0;
  *bytes = 0;
  for (size_t i = 0; i < n; i++)
    if (expect_entry(a, bs, x, &items[i], &es[k])) {
      *bytes += dv_item_size(&es[k].proj);
      k++;
    }
  qsort(es, k, sizeof *es, entry_cmp);
  *cnt = k;
  return es;
}

/* Every item of t (a scan), into a. */
static dv_value *scan_items(st_table *t, dv_arena *a, size_t *n) {
  size_t cap = 64;
  dv_value *v = malloc(sizeof *v * cap);
  *n = 0;
  st_iter *it = NULL;
  st_iter_spec sp = {0};
  CHECK_EQ_INT(st_iter_open(t, &sp, &it), ST_OK);
  if (!it) return v;
  for (;;) {
    dv_value item;
    int rc = st_iter_next(it, a, &item);
    CHECK_EQ_INT(rc, ST_OK);
    if (rc != ST_OK || item.type == DV_NONE) break;
    if (*n == cap) v = realloc(v, sizeof *v * (cap *= 2));
    v[(*n)++] = item;
  }
  st_iter_close(it);
  return v;
}

/* Entries of index ix from an iterator opened with sp. */
static dv_value *iter_all(st_table *ix, const st_iter_spec *sp, dv_arena *a, size_t *n) {
  size_t cap = 64;
  dv_value *v = malloc(sizeof *v * cap);
  *n = 0;
  st_iter *it = NULL;
  int rc = st_iter_open(ix, sp, &it);
  CHECK_EQ_INT(rc, ST_OK);
  if (!it) return v;
  for (;;) {
    dv_value item;
    rc = st_iter_next(it, a, &item);
    CHECK_EQ_INT(rc, ST_OK);
    if (rc != ST_OK || item.type == DV_NONE) break;
    if (*n == cap) v = realloc(v, sizeof *v * (cap *= 2));
    v[(*n)++] = item;
  }
  st_iter_close(it);
  return v;
}

static void print_item(const char *what, const dv_value *v) {
  fprintf(stderr, "  %s: {", what);
  for (uint32_t i = 0; v->type == DV_M && i < v->n; i++) {
    const dv_value *x = &v->u.attrs[i].value;
    fprintf(stderr, "%s%s:%s", i ? ", " : "", v->u.attrs[i].name, dv_type_name(x->type));
    if (x->type == DV_S || x->type == DV_N) fprintf(stderr, "=%.*s", (int)x->n, x->u.bytes);
  }
  fprintf(stderr, "}\n");
}

/* Index ix must hold exactly the entries of x over items (in order), with
 * the right count and size bytes. subset: only check that every entry is
 * a right one, in order (an index still being backfilled). Returns 1 if
 * all is well. */
static int check_index(st_table *ix, const basespec *bs, const ixspec *x, const dv_value *items,
                       size_t n, int subset) {
  dv_arena *a = dv_arena_new();
  size_t ne, ng;
  uint64_t bytes;
  entry *es = expect_all(a, bs, x, items, n, &ne, &bytes);
  st_iter_spec sp = {0};
  dv_value *got = iter_all(ix, &sp, a, &ng);
  int ok = 1;
  if (!subset) {
    if (ng != ne || st_table_item_count(ix) != ne || st_table_size_bytes(ix) != bytes) {
      fprintf(stderr, "index %s: %zu entries iterated, count %" PRIu64 ", expected %zu; bytes %" PRIu64
                      " expected %" PRIu64 "\n",
              x->name, ng, st_table_item_count(ix), ne, st_table_size_bytes(ix), bytes);
      ok = 0;
    }
    for (size_t i = 0; ok && i < ne; i++)
      if (!dv_equal(&got[i], &es[i].proj)) {
        fprintf(stderr, "index %s: entry %zu differs\n", x->name, i);
        print_item("got", &got[i]);
        print_item("expected", &es[i].proj);
        ok = 0;
      }
  } else {
    size_t j = 0;
    uint64_t gbytes = 0;
    for (size_t i = 0; ok && i < ng; i++) {
      entry ge;
      if (!expect_entry(a, bs, x, &got[i], &ge)) {
        fprintf(stderr, "index %s: entry %zu lacks its keys\n", x->name, i);
        ok = 0;
        break;
      }
      while (j < ne && entry_cmp(&es[j], &ge) < 0) j++;
      if (j >= ne || !dv_equal(&es[j].proj, &got[i])) {
        fprintf(stderr, "index %s: entry %zu is not expected\n", x->name, i);
        print_item("got", &got[i]);
        ok = 0;
      }
      gbytes += dv_item_size(&got[i]);
      j++;
    }
    if (ok && (st_table_item_count(ix) != ng || st_table_size_bytes(ix) != gbytes)) {
      fprintf(stderr, "index %s: counters %" PRIu64 "/%" PRIu64 " vs %zu/%" PRIu64 "\n", x->name,
              st_table_item_count(ix), st_table_size_bytes(ix), ng, gbytes);
      ok = 0;
    }
  }
  free(es);
  free(got);
  dv_arena_free(a);
  return ok;
}

/* ---- the model table ----------------------------------------------------------- */

/* Base: pk (S) + sk (N). */
static const basespec BASE = {"pk", "sk"};

static const ixspec IXS[] = {
    {"gsi_hash", "g1", DV_S, NULL, DV_NONE, ST_PROJ_KEYS_ONLY, {0}, 0},
    {"gsi_hr", "g2h", DV_S, "g2r", DV_N, ST_PROJ_INCLUDE, {"a", "c", "zz"}, 3},
    {"sparse", "sp", DV_B, "pk", DV_S, ST_PROJ_ALL, {0}, 0},
    {"lsi", "pk", DV_S, "l", DV_S, ST_PROJ_ALL, {0}, 0},
    {"gsi_n", "g2r", DV_N, NULL, DV_NONE, ST_PROJ_INCLUDE, {"g1", "sk"}, 2},
};
#define NIX (sizeof IXS / sizeof IXS[0])

#define NPK 8
#define NSK 24

typedef struct model {
  dv_value slot[NPK][NSK]; /* item, or DV_NONE */
} model;

static size_t model_items(const model *m, dv_value *out) {
  size_t n = 0;
  for (int i = 0; i < NPK; i++)
    for (int j = 0; j < NSK; j++)
      if (m->slot[i][j].type != DV_NONE) out[n++] = m->slot[i][j];
  return n;
}

static const char *PKS[NPK] = {"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"};

static dv_value rnd_key(dv_arena *a, int pk, int sk) {
  mb m = {0};
  mb_add(&m, "pk", S(a, PKS[pk]));
  mb_add(&m, "sk", Nint(a, sk));
  return mb_done(a, &m);
}

static dv_value rnd_item(dv_arena *a, unsigned *seed, int pk, int sk) {
  static const char *g1s[] = {"x", "y", "z"};
  static const char *nums[] = {"-100", "-1.5", "0", "1", "1.0", "1.5", "2", "10", "0.001", "2.50"};
  mb m = {0};
  mb_add(&m, "pk", S(a, PKS[pk]));
  mb_add(&m, "sk", Nint(a, sk));
  int r = rand_r(seed) % 10;
  if (r < 3) mb_add(&m, "g1", S(a, g1s[r]));
  else if (r == 3) mb_add(&m, "g1", Sn(a, "x\0y", 3));
  else if (r == 4) mb_add(&m, "g1", Nint(a, rand_r(seed) % 3)); /* wrong type */
  else if (r == 5) mb_add(&m, "g1", S(a, ""));                  /* empty: not a key */
  r = rand_r(seed) % 8;
  if (r < 4) mb_add(&m, "g2h", S(a, r == 3 ? "h\0" : r == 2 ? "h" : r ? "h1" : "h0"));
  else if (r == 4) mb_add(&m, "g2h", Nint(a, 7));
  if (r == 3) m.at[m.n - 1].value = Sn(a, "h\0", 2);
  r = rand_r(seed) % 8;
  if (r < 5) mb_add(&m, "g2r", N(a, nums[rand_r(seed) % 10]));
  else if (r == 5) mb_add(&m, "g2r", S(a, "5"));
  r = rand_r(seed) % 10;
  static const uint8_t b1[] = {0x00}, b2[] = {0x00, 0x01}, b3[] = {0xff};
  if (r == 0) mb_add(&m, "sp", Bn(a, b1, 1));
  else if (r == 1) mb_add(&m, "sp", Bn(a, b2, 2));
  else if (r == 2) mb_add(&m, "sp", Bn(a, b3, 1));
  else if (r == 3) mb_add(&m, "sp", Bn(a, b3, 0)); /* empty B: not a key */
  r = rand_r(seed) % 6;
  if (r == 0) mb_add(&m, "l", S(a, "l0"));
  else if (r == 1) mb_add(&m, "l", Sn(a, "l\0", 2));
  else if (r == 2) mb_add(&m, "l", S(a, "l"));
  else if (r == 3) mb_add(&m, "l", S(a, "m"));
  else if (r == 4) mb_add(&m, "l", Bn(a, "l", 1)); /* wrong type */
  if (rand_r(seed) % 2) mb_add(&m, "a", Nint(a, rand_r(seed) % 1000));
  if (rand_r(seed) % 2) mb_add(&m, "b", dv_make_bool(rand_r(seed) % 2));
  if (rand_r(seed) % 3) {
    char buf[32];
    int len = snprintf(buf, sizeof buf, "c%d", rand_r(seed) % 5);
    mb_add(&m, "c", Sn(a, buf, (size_t)len));
  }
  if (rand_r(seed) % 4 == 0) {
    dv_value l = {.type = DV_L, .n = 2};
    l.u.elems = dv_arena_alloc(a, 2 * sizeof(dv_value));
    l.u.elems[0] = S(a, "e");
    l.u.elems[1] = Nint(a, rand_r(seed) % 10);
    mb_add(&m, "zz", l);
  }
  return mb_done(a, &m);
}

/* One random batch of 1..5 requests on distinct items of t, applied to m on
 * success. Returns st_write's status. *changes += requests that change data. */
static int rnd_batch(st_db *db, st_table *t, model *m, dv_arena *a, unsigned *seed,
                     size_t *changes) {
  int n = 1 + rand_r(seed) % 5;
  st_write_req w[5];
  dv_value vals[5];
  int pks[5], sks[5];
  for (int i = 0; i < n; i++) {
    int dup;
    do {
      pks[i] = rand_r(seed) % NPK;
      sks[i] = rand_r(seed) % NSK;
      dup = 0;
      for (int k = 0; k < i; k++) dup |= pks[k] == pks[i] && sks[k] == sks[i];
    } while (dup);
    int del = rand_r(seed) % 4 == 0;
    vals[i] = del ? rnd_key(a, pks[i], sks[i]) : rnd_item(a, seed, pks[i], sks[i]);
    w[i] = (st_write_req){t, del ? ST_DEL : ST_PUT, &vals[i], 0};
  }
  uint64_t lsn;
  int rc = st_write(db, w, (size_t)n, &lsn);
  if (rc != ST_OK) return rc;
  for (int i = 0; i < n; i++) {
    dv_value *s = &m->slot[pks[i]][sks[i]];
    if (w[i].op == ST_DEL) {
      if (s->type != DV_NONE) (*changes)++;
      memset(s, 0, sizeof *s);
      s->type = DV_NONE;
    } else {
      if (s->type == DV_NONE || !dv_equal(s, &vals[i])) (*changes)++;
      *s = vals[i];
    }
  }
  return ST_OK;
}

static st_table *make_base(st_db *db, const char *name) {
  st_table_def d = {.ns = "ns",
                    .name = name,
                    .hash = {"pk", DV_S},
                    .range = {"sk", DV_N},
                    .created = 1700000000.0};
  uint64_t lsn = 0;
  CHECK_EQ_INT(st_table_create(db, &d, &lsn), ST_OK);
  return st_table_find(db, "ns", name);
}

static int check_model_indexes(st_table *t, const model *m) {
  dv_value *items = malloc(sizeof *items * NPK * NSK);
  size_t n = model_items(m, items);
  int ok = 1;
  for (size_t i = 0; i < NIX; i++) {
    st_table *ix = st_index_find(t, IXS[i].name);
    CHECK(ix != NULL);
    if (ix) ok &= check_index(ix, &BASE, &IXS[i], items, n, 0);
  }
  free(items);
  return ok;
}

/* ---- tests ------------------------------------------------------------------------ */

/* (a) Thousands of random puts, deletes and batches with key type changes;
 * every index equals its recomputation after each round. */
static void test_model(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  dv_arena *a = dv_arena_new();
  st_table *t = make_base(db, "base");
  for (size_t i = 0; i < NIX; i++) make_index(db, t, &IXS[i]);
  st_table_def ld = {.kind = ST_KIND_EVENTS, .ns = "ns", .name = "base-log"};
  uint64_t lsn;
  CHECK_EQ_INT(st_table_create(db, &ld, &lsn), ST_OK);
  st_table *log = st_table_find(db, "ns", "base-log");
  CHECK_EQ_INT(st_table_set_events(t, log, ST_VIEW_BOTH), ST_OK);
  /* The catalog view. */
  st_table *list[8];
  CHECK_EQ_INT(st_table_indexes(t, list, 8), NIX);
  for (size_t i = 0; i < NIX; i++) {
    CHECK(list[i] == st_index_find(t, IXS[i].name));
    CHECK(st_index_base(list[i]) == t);
    const st_index_def *d = st_index_info(list[i]);
    CHECK(d && !strcmp(d->name, IXS[i].name) && !strcmp(d->hash.name, IXS[i].h));
    CHECK(d && d->projection == IXS[i].proj && d->n_include == IXS[i].ninc);
    CHECK_EQ_INT(st_table_info(list[i])->kind, ST_KIND_INDEX);
  }
  CHECK(st_index_info(t) == NULL && st_index_base(t) == NULL);
  CHECK(st_index_find(t, "nope") == NULL);
  int more;
  CHECK_EQ_INT(st_table_list(db, "ns", NULL, list, 8, &more), 2); /* base, base-log */
  CHECK_EQ_INT(st_table_list(db, "", NULL, list, 8, &more), 0);

  model m;
  memset(&m, 0, sizeof m);
  unsigned seed = 12345;
  size_t changes = 0;
  int ok = 1;
  for (int round = 0; round < 8 && ok; round++) {
    for (int i = 0; i < 400; i++) CHECK_EQ_INT(rnd_batch(db, t, &m, a, &seed, &changes), ST_OK);
    ok = check_model_indexes(t, &m);
    CHECK(ok);
  }
  /* Events are written after the index operations of the same record. */
  CHECK_EQ_INT(st_table_item_count(log), changes);
  /* A batch touching one item twice is refused (the table has indexes). */
  dv_value i1 = rnd_item(a, &seed, 0, 0), i2 = rnd_key(a, 0, 0);
  st_write_req dup[2] = {{t, ST_PUT, &i1, 0}, {t, ST_DEL, &i2, 0}};
  uint64_t before = st_last_lsn(db);
  CHECK_EQ_INT(st_write(db, dup, 2, &lsn), ST_EINVAL);
  CHECK_EQ_INT(st_last_lsn(db), before);
  /* Rewriting an identical item writes no index operation: same counts. */
  CHECK(check_model_indexes(t, &m));
  /* Writes straight to an index are refused, and so is st_item_get. */
  st_table *gi = st_index_find(t, "gsi_hash");
  st_write_req wi = {gi, ST_PUT, &i1, 0};
  CHECK_EQ_INT(st_write(db, &wi, 1, &lsn), ST_EINVAL);
  dv_value got;
  CHECK_EQ_INT(st_item_get(gi, &i2, a, &got), ST_EINVAL);
  CHECK_EQ_INT(st_table_set_events(gi, log, ST_VIEW_NEW), ST_EINVAL);
  /* Reopen: the indexes come back linked, from the catalog and from the log. */
  CHECK_EQ_INT(flush(db), ST_OK);
  st_abandon(db); /* from the log */
  db = open_db(dir, NULL);
  t = st_table_find(db, "ns", "base");
  CHECK(t && st_table_indexes(t, list, 8) == NIX);
  if (t) CHECK(check_model_indexes(t, &m));
  CHECK_EQ_INT(st_close(db), ST_OK); /* from the catalog */
  db = open_db(dir, NULL);
  t = st_table_find(db, "ns", "base");
  CHECK(t && st_table_indexes(t, list, 8) == NIX);
  if (t) {
    CHECK(check_model_indexes(t, &m));
    for (int i = 0; i < 300; i++) CHECK_EQ_INT(rnd_batch(db, t, &m, a, &seed, &changes), ST_OK);
    CHECK(check_model_indexes(t, &m));
  }
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* Membership edges: key sizes, types, entry keys too long for a B-tree key. */
static void test_membership(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  dv_arena *a = dv_arena_new();
  st_table *t = make_base(db, "mem");
  ixspec x = {"big", "h", DV_S, "r", DV_B, ST_PROJ_KEYS_ONLY, {0}, 0};
  st_table *ix = make_index(db, t, &x);
  char *big = malloc(3000), *zeros = calloc(1, 3000);
  memset(big, 'q', 3000);
  struct {
    size_t hlen, rlen;
    int zero, in;
  } cases[] = {{1, 1, 0, 1},       {2048, 1, 0, 1},    {2049, 1, 0, 0}, {1, 1024, 0, 1},
               {1, 1025, 0, 0},    {2048, 1024, 0, 1}, {2048, 1024, 1, 0}, /* escaped: > BT_MAX_KEY */
               {1500, 1000, 1, 0}, {1500, 1000, 0, 1}, {0, 1, 0, 0},     {1, 0, 0, 0}};
  size_t want = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    mb m = {0};
    mb_add(&m, "pk", S(a, "k"));
    mb_add(&m, "sk", Nint(a, (long long)i));
    mb_add(&m, "h", Sn(a, big, cases[i].hlen));
    mb_add(&m, "r", Bn(a, cases[i].zero ? zeros : big, cases[i].rlen));
    dv_value item = mb_done(a, &m);
    st_write_req w = {t, ST_PUT, &item, 0};
    uint64_t lsn;
    CHECK_EQ_INT(st_write(db, &w, 1, &lsn), ST_OK);
    want += (size_t)cases[i].in;
    CHECK_EQ_INT(st_table_item_count(ix), want);
  }
  /* Bad definitions. */
  st_index_def d = {.name = "big", .hash = {"h", DV_S}};
  uint64_t lsn;
  CHECK_EQ_INT(st_index_create(db, t, &d, NULL, &lsn), ST_EEXIST);
  d.name = "";
  CHECK_EQ_INT(st_index_create(db, t, &d, NULL, &lsn), ST_EINVAL);
  d.name = "x";
  d.hash.type = DV_BOOL;
  CHECK_EQ_INT(st_index_create(db, t, &d, NULL, &lsn), ST_EINVAL);
  d.hash = (st_key_def){"pk", DV_N}; /* the table's pk is S */
  CHECK_EQ_INT(st_index_create(db, t, &d, NULL, &lsn), ST_EINVAL);
  d.hash = (st_key_def){"h", DV_S};
  d.range = (st_key_def){"h", DV_S};
  CHECK_EQ_INT(st_index_create(db, t, &d, NULL, &lsn), ST_EINVAL);
  d.range = (st_key_def){"sk", DV_S};
  CHECK_EQ_INT(st_index_create(db, t, &d, NULL, &lsn), ST_EINVAL);
  d.range = (st_key_def){NULL, DV_NONE};
  d.projection = (st_projection)3;
  CHECK_EQ_INT(st_index_create(db, t, &d, NULL, &lsn), ST_EINVAL);
  d.projection = ST_PROJ_INCLUDE;
  d.n_include = 2; /* include NULL */
  CHECK_EQ_INT(st_index_create(db, t, &d, NULL, &lsn), ST_EINVAL);
  CHECK_EQ_INT(st_index_create(db, ix, &d, NULL, &lsn), ST_EINVAL); /* index of an index */
  CHECK_EQ_INT(st_table_indexes(t, NULL, 0), 1);
  free(big);
  free(zeros);
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* (b) Query bounds over an index: every combination of lo / hi, inclusive /
 * exclusive, reverse, against a brute-force filter; start_after resumes;
 * segments partition the index. */
typedef struct bq {
  const dv_value *cands; /* bound candidates */
  size_t ncand;          /* how many */
} bq;

static void check_bounds_one(st_table *ix, const basespec *bs, const ixspec *x, const entry *es,
                             size_t ne, const dv_value *hk, const bq *q, int *fails) {
  dv_arena *a = dv_arena_new();
  entry *want = malloc(sizeof *want * (ne ? ne : 1));
  (void)bs;
  for (int lo = -1; lo < (int)q->ncand; lo++)
    for (int hi = -1; hi < (int)q->ncand; hi++)
      for (int fl = 0; fl < 8; fl++) {
        int lox = fl & 1, hix = (fl >> 1) & 1, rev = (fl >> 2) & 1;
        if ((lo < 0 && lox) || (hi < 0 && hix)) continue;
        size_t nw = 0;
        for (size_t i = 0; i < ne; i++) {
          if (!dv_equal(&es[i].ihk, hk)) continue;
          if (lo >= 0) {
            int c = dv_compare(&es[i].irk, &q->cands[lo]);
            if (c < 0 || (c == 0 && lox)) continue;
          }
          if (hi >= 0) {
            int c = dv_compare(&es[i].irk, &q->cands[hi]);
            if (c > 0 || (c == 0 && hix)) continue;
          }
          want[nw++] = es[i];
        }
        st_iter_spec sp = {.hash_key = hk,
                           .range_lo = lo >= 0 ? &q->cands[lo] : NULL,
                           .lo_exclusive = lox,
                           .range_hi = hi >= 0 ? &q->cands[hi] : NULL,
                           .hi_exclusive = hix,
                           .reverse = rev};
        size_t ng;
        dv_value *got = iter_all(ix, &sp, a, &ng);
        int ok = ng == nw;
        for (size_t i = 0; ok && i < nw; i++)
          ok = dv_equal(&got[i], &want[rev ? nw - 1 - i : i].proj);
        if (!ok && (*fails)++ < 5)
          fprintf(stderr, "index %s: bounds lo %d%s hi %d%s rev %d: %zu got, %zu expected\n",
                  x->name, lo, lox ? "x" : "", hi, hix ? "x" : "", rev, ng, nw);
        /* Resume after each position equals the tail (a few positions). */
        for (size_t k = 0; ok && k < ng && k < 4; k++) {
          size_t at = (k * 7) % ng;
          st_iter_spec s2 = sp;
          s2.start_after = &got[at];
          size_t nt;
          dv_value *tail = iter_all(ix, &s2, a, &nt);
          int tok = nt == ng - at - 1;
          for (size_t i = 0; tok && i < nt; i++) tok = dv_equal(&tail[i], &got[at + 1 + i]);
          if (!tok && (*fails)++ < 5)
            fprintf(stderr, "index %s: resume after %zu of %zu: %zu got\n", x->name, at, ng, nt);
          free(tail);
        }
        free(got);
      }
  free(want);
  dv_arena_free(a);
}

static void test_bounds(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  dv_arena *a = dv_arena_new();
  /* A hash-only base (id S) and a hash+range base (id S, n N). */
  st_table_def d1 = {.ns = "ns", .name = "b1", .hash = {"id", DV_S}};
  st_table_def d2 = {.ns = "ns", .name = "b2", .hash = {"id", DV_S}, .range = {"n", DV_N}};
  uint64_t lsn;
  CHECK_EQ_INT(st_table_create(db, &d1, &lsn), ST_OK);
  CHECK_EQ_INT(st_table_create(db, &d2, &lsn), ST_OK);
  st_table *bases[2] = {st_table_find(db, "ns", "b1"), st_table_find(db, "ns", "b2")};
  basespec bss[2] = {{"id", NULL}, {"id", "n"}};
  ixspec xs[3] = {
      {"byS", "h", DV_S, "rs", DV_S, ST_PROJ_KEYS_ONLY, {0}, 0},
      {"byN", "h", DV_S, "rn", DV_N, ST_PROJ_INCLUDE, {"v"}, 1},
      {"byB", "hb", DV_B, "rb", DV_B, ST_PROJ_ALL, {0}, 0},
  };
  /* Sort values: 0x00 bytes, prefixes of each other, high bytes. */
  static const struct {
    const char *p;
    size_t n;
  } svals[] = {{"a", 1},      {"a\0", 2}, {"a\0b", 3}, {"a\0\0", 3}, {"a\x01", 2}, {"ab", 2},
               {"\0", 1},     {"\0\0", 2}, {"b", 1},   {"a\xff", 2}, {"\xff\xff", 2}, {"aa", 2}};
  static const char *nvals[] = {"-10", "-1.5", "-1", "0", "0.001", "1", "1.0", "1.5", "2", "10",
                                "100", "-0.5"};
  enum { NS = sizeof svals / sizeof svals[0], NN = sizeof nvals / sizeof nvals[0] };
  unsigned seed = 99;
  size_t nitems[2] = {0, 0};
  dv_value *items[2];
  for (int b = 0; b < 2; b++) {
    for (int k = 0; k < 3; k++) make_index(db, bases[b], &xs[k]);
    for (int i = 0; i < 400; i++) {
      mb m = {0};
      char id[16];
      /* ids with 0 bytes and prefixes too: ties are broken by them */
      int j = i % 37, il;
      if (j % 5 == 0) {
        id[0] = 'i';
        id[1] = 0;
        il = 2 + snprintf(id + 2, sizeof id - 2, "%d", j);
      } else {
        il = snprintf(id, sizeof id, "i%d", j);
      }
      mb_add(&m, "id", Sn(a, id, (size_t)il));
      if (b == 1) mb_add(&m, "n", Nint(a, i));
      else if (i >= 37) continue; /* hash-only: ids are unique */
      mb_add(&m, "h", S(a, (rand_r(&seed) % 3) ? "H1" : "H2"));
      mb_add(&m, "hb", Bn(a, (rand_r(&seed) % 2) ? "\0" : "\x01", 1));
      int si = rand_r(&seed) % NS;
      mb_add(&m, "rs", Sn(a, svals[si].p, svals[si].n));
      mb_add(&m, "rb", Bn(a, svals[si].p, svals[si].n));
      mb_add(&m, "rn", N(a, nvals[rand_r(&seed) % NN]));
      mb_add(&m, "v", Nint(a, i));
      dv_value item = mb_done(a, &m);
      st_write_req w = {bases[b], ST_PUT, &item, 0};
      CHECK_EQ_INT(st_write(db, &w, 1, &lsn), ST_OK);
    }
    items[b] = scan_items(bases[b], a, &nitems[b]);
  }
  CHECK_EQ_INT(nitems[0], 37);
  CHECK_EQ_INT(nitems[1], 400);
  /* Candidates: every stored value and some absent ones. */
  dv_value scand[NS + 2], ncand[NN + 2], bcand[NS + 2];
  for (int i = 0; i < NS; i++) {
    scand[i] = Sn(a, svals[i].p, svals[i].n);
    bcand[i] = Bn(a, svals[i].p, svals[i].n);
  }
  scand[NS] = Sn(a, "a\0a", 3);
  scand[NS + 1] = S(a, "a\x02");
  bcand[NS] = Bn(a, "\0\0\0", 3);
  bcand[NS + 1] = Bn(a, "a\0\xff", 3);
  for (int i = 0; i < NN; i++) ncand[i] = N(a, nvals[i]);
  ncand[NN] = N(a, "0.5");
  ncand[NN + 1] = N(a, "-100");
  bq qs[3] = {{scand, NS + 2}, {ncand, NN + 2}, {bcand, NS + 2}};
  int fails = 0;
  for (int b = 0; b < 2; b++)
    for (int k = 0; k < 3; k++) {
      st_table *ix = st_index_find(bases[b], xs[k].name);
      CHECK(check_index(ix, &bss[b], &xs[k], items[b], nitems[b], 0));
      size_t ne;
      uint64_t bytes;
      entry *es = expect_all(a, &bss[b], &xs[k], items[b], nitems[b], &ne, &bytes);
      dv_value hks[2];
      if (xs[k].ht == DV_S) {
        hks[0] = S(a, "H1");
        hks[1] = S(a, "H2");
      } else {
        hks[0] = Bn(a, "\0", 1);
        hks[1] = Bn(a, "\x01", 1);
      }
      for (int h = 0; h < 2; h++) check_bounds_one(ix, &bss[b], &xs[k], es, ne, &hks[h], &qs[k], &fails);
      /* Scan: resume after every entry equals the tail; segments partition. */
      st_iter_spec sp = {0};
      size_t ng;
      dv_value *all = iter_all(ix, &sp, a, &ng);
      CHECK_EQ_INT(ng, ne);
      for (size_t at = 0; at < ng; at += 13) {
        st_iter_spec s2 = {.start_after = &all[at]};
        size_t nt;
        dv_value *tail = iter_all(ix, &s2, a, &nt);
        CHECK_EQ_INT(nt, ng - at - 1);
        int tok = nt == ng - at - 1;
        for (size_t i = 0; tok && i < nt; i++) tok = dv_equal(&tail[i], &all[at + 1 + i]);
        CHECK(tok);
        free(tail);
      }
      for (uint32_t total = 2; total <= 7; total += 5) {
        size_t pos = 0;
        int sok = 1;
        for (uint32_t s = 0; s < total; s++) {
          st_iter_spec s3 = {.segment = s, .total_segments = total};
          size_t nsg;
          dv_value *seg = iter_all(ix, &s3, a, &nsg);
          for (size_t i = 0; i < nsg; i++) {
            const dv_value *hk = dv_map_get(&seg[i], xs[k].h, strlen(xs[k].h));
            sok &= hk && st_segment_of(hk, total) == s;
            sok &= pos < ng && dv_equal(&seg[i], &all[pos]);
            pos++;
          }
          free(seg);
        }
        CHECK(sok && pos == ng);
      }
      /* Malformed specs. */
      st_iter *it = NULL;
      dv_value wrong = Nint(a, 1);
      st_iter_spec bad = {.hash_key = &wrong};
      CHECK_EQ_INT(st_iter_open(ix, &bad, &it), (xs[k].ht == DV_N) ? ST_OK : ST_EINVAL);
      st_iter_close(it);
      it = NULL;
      dv_value nokeys = mb_done(a, &(mb){0});
      st_iter_spec bad2 = {.start_after = &nokeys};
      CHECK_EQ_INT(st_iter_open(ix, &bad2, &it), ST_EINVAL);
      free(all);
      free(es);
    }
  CHECK_EQ_INT(fails, 0);
  /* Range bounds on a hash-only index are malformed. */
  ixspec ho = {"ho", "h", DV_S, NULL, DV_NONE, ST_PROJ_KEYS_ONLY, {0}, 0};
  st_table *hoix = make_index(db, bases[1], &ho);
  dv_value h1 = S(a, "H1"), one = S(a, "a");
  st_iter *it = NULL;
  st_iter_spec bad3 = {.hash_key = &h1, .range_lo = &one};
  CHECK_EQ_INT(st_iter_open(hoix, &bad3, &it), ST_EINVAL);
  free(items[0]);
  free(items[1]);
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* (c) Backfill of indexes created on a populated table, interleaved with
 * random writes, then exact; a second pass writes nothing. */
static void test_fill(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  dv_arena *a = dv_arena_new();
  st_table *t = make_base(db, "fill");
  model m;
  memset(&m, 0, sizeof m);
  unsigned seed = 777;
  size_t changes = 0;
  for (int i = 0; i < 300; i++) CHECK_EQ_INT(rnd_batch(db, t, &m, a, &seed, &changes), ST_OK);
  dv_value *items = malloc(sizeof *items * NPK * NSK);
  for (size_t k = 0; k < NIX; k++) {
    st_table *ix = make_index(db, t, &IXS[k]);
    CHECK_EQ_INT(st_table_item_count(ix), 0); /* empty until filled */
    st_iter *it = NULL;
    st_iter_spec sp = {.reverse = (int)(k & 1)}; /* any spec */
    CHECK_EQ_INT(st_iter_open(t, &sp, &it), ST_OK);
    int done = 0, rounds = 0;
    while (!done && rounds < 10000) {
      size_t nr;
      uint64_t lsn;
      CHECK_EQ_INT(st_index_fill(db, ix, it, 1 + rand_r(&seed) % 20, &nr, &done, &lsn), ST_OK);
      for (int w = rand_r(&seed) % 4; w > 0; w--)
        CHECK_EQ_INT(rnd_batch(db, t, &m, a, &seed, &changes), ST_OK);
      size_t n = model_items(&m, items);
      CHECK(check_index(ix, &BASE, &IXS[k], items, n, 1)); /* right entries so far */
      rounds++;
    }
    st_iter_close(it);
    size_t n = model_items(&m, items);
    CHECK(check_index(ix, &BASE, &IXS[k], items, n, 0));
    /* Everything is right now: a second pass writes nothing. */
    CHECK_EQ_INT(st_iter_open(t, &(st_iter_spec){0}, &it), ST_OK);
    size_t nr;
    uint64_t lsn = 9;
    CHECK_EQ_INT(st_index_fill(db, ix, it, 100000, &nr, &done, &lsn), ST_OK);
    CHECK_EQ_INT(lsn, 0);
    CHECK_EQ_INT(nr, n);
    CHECK_EQ_INT(done, 1);
    /* Misuse: an iterator of another table; a table for an index. */
    CHECK_EQ_INT(st_index_fill(db, t, it, 1, &nr, &done, &lsn), ST_EINVAL);
    st_iter_close(it);
  }
  CHECK(check_model_indexes(t, &m));
  /* An index on a table that has items, with no fill at all: only new writes. */
  free(items);
  CHECK_EQ_INT(st_close(db), ST_OK);
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* (d) Crash rounds: random writes and fills, abandon at random points (also
 * in a partial checkpoint), reopen: the table equals the durable model and
 * every index equals its recomputation from the table. */
static void test_crash(void) {
  char *dir = tmpdir();
  st_db *db = open_db(dir, NULL);
  dv_arena *a = dv_arena_new();
  st_table *t = make_base(db, "crash");
  for (size_t k = 0; k < 3; k++) make_index(db, t, &IXS[k]);
  model m, durable;
  memset(&m, 0, sizeof m);
  durable = m;
  unsigned seed = 4242;
  size_t changes = 0;
  size_t next_ix = 3;   /* next of IXS to create (backfilled) */
  int filling = 0;      /* an index created this round is not filled yet */
  CHECK_EQ_INT(st_sync(db), ST_OK);
  for (int round = 0; round < 30; round++) {
    /* Writes and fills, flushing now and then. */
    st_iter *fit = NULL;
    st_table *fix = NULL;
    if (next_ix > 3 && !st_index_find(t, IXS[next_ix - 1].name)) {
      next_ix--; /* its creation was lost in the crash */
      filling = 0;
    }
    if (next_ix < NIX && !filling && round % 7 == 3) {
      fix = make_index(db, t, &IXS[next_ix]);
      next_ix++;
    } else if (filling) {
      fix = st_index_find(t, IXS[next_ix - 1].name); /* restart an unfinished fill */
    }
    if (fix) CHECK_EQ_INT(st_iter_open(t, &(st_iter_spec){0}, &fit), ST_OK);
    filling = fix != NULL;
    int steps = 20 + rand_r(&seed) % 60;
    for (int s = 0; s < steps; s++) {
      int r = rand_r(&seed) % 10;
      if (r < 7) {
        CHECK_EQ_INT(rnd_batch(db, t, &m, a, &seed, &changes), ST_OK);
      } else if (r < 8 && fit) {
        size_t nr;
        int done;
        uint64_t lsn;
        CHECK_EQ_INT(st_index_fill(db, fix, fit, 5, &nr, &done, &lsn), ST_OK);
        if (done) {
          st_iter_close(fit);
          fit = NULL;
        }
      } else if (r < 9) {
        CHECK_EQ_INT(flush(db), ST_OK);
        durable = m;
        if (!fit && fix) filling = 0; /* its fill is durable */
      } else if (rand_r(&seed) % 3 == 0) {
        CHECK_EQ_INT(st_sync(db), ST_OK);
        durable = m;
        if (!fit && fix) filling = 0;
      }
    }
    if (fit) st_iter_close(fit);
    fit = NULL;
    /* Crash: plain, or in the middle of a checkpoint. */
    if (rand_r(&seed) % 2) {
      int err;
      st_ckpt_job *job = st_checkpoint_begin(db, &err);
      if (job) {
        CHECK_EQ_INT(flush(db), ST_OK);
        durable = m;
        size_t nt = st_checkpoint_trees(job);
        st_checkpoint_run_partial(job, nt ? (size_t)rand_r(&seed) % (nt + 1) : 0);
      }
    }
    st_abandon(db);
    m = durable;
    db = open_db(dir, NULL);
    if (!db) break;
    t = st_table_find(db, "ns", "crash");
    CHECK(t != NULL);
    if (!t) break;
    /* The table equals the durable model. */
    dv_value *items = malloc(sizeof *items * NPK * NSK);
    size_t n = model_items(&m, items), ns;
    dv_value *scan = scan_items(t, a, &ns);
    CHECK_EQ_INT(ns, n);
    CHECK_EQ_INT(st_table_item_count(t), n);
    /* Every index equals its recomputation from the table. */
    for (size_t k = 0; k < NIX; k++) {
      st_table *ix = st_index_find(t, IXS[k].name);
      if (!ix) {
        CHECK(k >= 3);
        continue;
      }
      int partial = filling && k == next_ix - 1;
      int ok = check_index(ix, &BASE, &IXS[k], scan, ns, partial);
      CHECK(ok);
      if (!ok) fprintf(stderr, "round %d index %zu\n", round, k);
    }
    free(items);
    free(scan);
  }
  if (db) {
    /* Finish any backfill, then all exact. */
    if (filling) {
      st_table *fix = st_index_find(t, IXS[next_ix - 1].name);
      st_iter *fit = NULL;
      CHECK_EQ_INT(st_iter_open(t, &(st_iter_spec){0}, &fit), ST_OK);
      size_t nr;
      int done = 0;
      uint64_t lsn;
      CHECK_EQ_INT(st_index_fill(db, fix, fit, 1000000, &nr, &done, &lsn), ST_OK);
      CHECK(done);
      st_iter_close(fit);
    }
    size_t ns;
    dv_value *scan = scan_items(t, a, &ns);
    CHECK(next_ix > 3); /* at least one index was created during the rounds */
    for (size_t k = 0; k < next_ix; k++) {
      st_table *ix = st_index_find(t, IXS[k].name);
      CHECK(ix != NULL);
      if (ix) CHECK(check_index(ix, &BASE, &IXS[k], scan, ns, 0));
    }
    free(scan);
    CHECK_EQ_INT(st_close(db), ST_OK);
  }
  dv_arena_free(a);
  rm_rf(dir);
  free(dir);
}

/* (e) Dropping an index, and a base with its indexes (cascade), with and
 * without a checkpoint in between; files go after the checkpoint. */
static void test_drop(void) {
  for (int variant = 0; variant < 2; variant++) {
    char *dir = tmpdir();
    st_db *db = open_db(dir, NULL);
    dv_arena *a = dv_arena_new();
    st_table *t = make_base(db, "dr");
    st_table *keep = make_base(db, "other");
    st_table *i0 = make_index(db, t, &IXS[0]);
    st_table *i1 = make_index(db, t, &IXS[1]);
    st_table *i2 = make_index(db, t, &IXS[2]);
    st_table *ko = make_index(db, keep, &IXS[0]);
    model m, m2;
    memset(&m, 0, sizeof m);
    memset(&m2, 0, sizeof m2);
    unsigned seed = 5;
    size_t ch = 0;
    for (int i = 0; i < 200; i++) {
      CHECK_EQ_INT(rnd_batch(db, t, &m, a, &seed, &ch), ST_OK);
      CHECK_EQ_INT(rnd_batch(db, keep, &m2, a, &seed, &ch), ST_OK);
    }
    CHECK_EQ_INT(st_sync(db), ST_OK);
    uint64_t id0 = st_table_id(i0), id1 = st_table_id(i1), id2 = st_table_id(i2);
    uint64_t idt = st_table_id(t);
    char path[600];
    snprintf(path, sizeof path, "%s/tables/%" PRIu64, dir, id1);
    CHECK(dir_exists(path));
    /* Drop one index: the others stay, in order, and go on being maintained. */
    uint64_t lsn;
    CHECK_EQ_INT(st_table_drop(db, i1, &lsn), ST_OK);
    st_table *list[4];
    CHECK_EQ_INT(st_table_indexes(t, list, 4), 2);
    CHECK(list[0] == i0 && list[1] == i2);
    CHECK(st_index_find(t, IXS[1].name) == NULL);
    for (int i = 0; i < 50; i++) CHECK_EQ_INT(rnd_batch(db, t, &m, a, &seed, &ch), ST_OK);
    dv_value *items = malloc(sizeof *items * NPK * NSK);
    size_t n = model_items(&m, items);
    CHECK(check_index(i0, &BASE, &IXS[0], items, n, 0));
    CHECK(check_index(i2, &BASE, &IXS[2], items, n, 0));
    /* The name can be used again. */
    st_table *i1b = make_index(db, t, &IXS[1]);
    CHECK(i1b && st_table_id(i1b) != id1);
    if (variant == 0) {
      CHECK_EQ_INT(st_sync(db), ST_OK);
      CHECK(!dir_exists(path));
    }
    /* Drop the base: its indexes go in the same record. */
    CHECK_EQ_INT(st_table_drop(db, t, &lsn), ST_OK);
    CHECK(st_table_find(db, "ns", "dr") == NULL);
    char iname[64];
    snprintf(iname, sizeof iname, "%" PRIu64 "/%s", idt, IXS[0].name);
    CHECK(st_table_find(db, CAT_IX_NS, iname) == NULL);
    CHECK_EQ_INT(st_table_indexes(keep, list, 4), 1);
    if (variant == 0) {
      CHECK_EQ_INT(st_close(db), ST_OK);
    } else {
      CHECK_EQ_INT(flush(db), ST_OK);
      st_abandon(db); /* replay the drops */
    }
    db = open_db(dir, NULL);
    CHECK(st_table_find(db, "ns", "dr") == NULL);
    keep = st_table_find(db, "ns", "other");
    CHECK(keep && st_table_indexes(keep, list, 4) == 1);
    ko = keep ? st_index_find(keep, IXS[0].name) : NULL;
    n = model_items(&m2, items);
    if (ko) CHECK(check_index(ko, &BASE, &IXS[0], items, n, 0));
    CHECK_EQ_INT(st_sync(db), ST_OK);
    uint64_t gone[4] = {id0, id1, id2, idt};
    for (int i = 0; i < 4; i++) {
      snprintf(path, sizeof path, "%s/tables/%" PRIu64, dir, gone[i]);
      CHECK(!dir_exists(path));
    }
    CHECK_EQ_INT(st_close(db), ST_OK);
    db = open_db(dir, NULL);
    CHECK(db && st_table_find(db, "ns", "other") != NULL);
    CHECK_EQ_INT(st_close(db), ST_OK);
    free(items);
    dv_arena_free(a);
    rm_rf(dir);
    free(dir);
  }
}

static void put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Write a catalog file of version ver holding defs. */
static void write_catalog(const char *dir, unsigned ver, uint64_t next_id, const cat_table *defs,
                          size_t n) {
  st_buf img;
  st_buf_init(&img);
  uint8_t h[32];
  memcpy(h, "DFCATLOG", 8);
  put_le(h + 8, ver, 4);
  put_le(h + 12, n, 4);
  put_le(h + 16, 0, 8);
  put_le(h + 24, next_id, 8);
  st_buf_append(&img, h, 32);
  for (size_t i = 0; i < n; i++) cat_table_encode(&defs[i], ver, &img);
  uint8_t sum[8];
  put_le(sum, XXH64(img.p, img.len, 0), 8);
  st_buf_append(&img, sum, 8);
  CHECK_EQ_INT(cat_file_write(dir, &img, 1), ST_OK);
  st_buf_free(&img);
}

/* (f) The catalog encoding of an index; older catalogs; a dangling index. */
static void test_catalog(void) {
  char *inc[2] = {"a", "bb"};
  cat_table c = {.kind = ST_KIND_INDEX,
                 .id = 9,
                 .partitions = 4,
                 .ns = CAT_IX_NS,
                 .name = "3/gsi",
                 .hash_name = "h",
                 .hash_type = DV_N,
                 .range_name = "r",
                 .range_type = DV_B,
                 .created = 2.5,
                 .base_id = 3,
                 .ix_name = "gsi",
                 .projection = ST_PROJ_INCLUDE,
                 .include = inc,
                 .n_include = 2};
  st_buf b;
  st_buf_init(&b);
  cat_table_encode(&c, CAT_DEF_V2, &b);
  cat_table d;
  size_t used;
  CHECK_EQ_INT(cat_table_decode(b.p, b.len, CAT_DEF_V2, &used, &d), ST_OK);
  CHECK_EQ_INT(used, b.len);
  CHECK_EQ_INT(d.kind, ST_KIND_INDEX);
  CHECK_EQ_INT(d.base_id, 3);
  CHECK_EQ_STR(d.ix_name, "gsi");
  CHECK_EQ_INT(d.projection, ST_PROJ_INCLUDE);
  CHECK_EQ_INT(d.n_include, 2);
  if (d.n_include == 2) {
    CHECK_EQ_STR(d.include[0], "a");
    CHECK_EQ_STR(d.include[1], "bb");
  }
  CHECK_EQ_STR(d.range_name, "r");
  cat_table_free(&d);
  /* Every truncation fails cleanly. */
  int ok = 1;
  for (size_t k = 0; k < b.len; k++) ok &= cat_table_decode(b.p, k, CAT_DEF_V2, &used, &d) != ST_OK;
  CHECK(ok);
  /* The name must match the base id and index name; the ns must be CAT_IX_NS;
   * includes only with INCLUDE; base id below the index's. */
  cat_table bad[5];
  for (int i = 0; i < 5; i++) bad[i] = c;
  bad[0].name = "4/gsi";
  bad[1].ns = "";
  bad[2].projection = ST_PROJ_ALL;
  bad[3].base_id = 9;
  bad[4].ix_name = "";
  bad[4].name = "3/";
  for (int i = 0; i < 5; i++) {
    b.len = 0;
    cat_table_encode(&bad[i], CAT_DEF_V2, &b);
    int rc = cat_table_decode(b.p, b.len, CAT_DEF_V2, &used, &d);
    if (i == 2) { /* ALL writes no includes: valid, and they are dropped */
      CHECK_EQ_INT(rc, ST_OK);
      if (rc == ST_OK) {
        CHECK_EQ_INT(d.n_include, 0);
        cat_table_free(&d);
      }
    } else {
      CHECK_EQ_INT(rc, ST_ECORRUPT);
    }
  }
  /* A table definition with the kind byte changed to 2 lacks the index fields. */
  cat_table t = {.kind = ST_KIND_TABLE, .id = 3, .partitions = 2, .ns = CAT_IX_NS,
                 .name = "3/gsi", .hash_name = "pk", .hash_type = DV_S};
  b.len = 0;
  cat_table_encode(&t, CAT_DEF_V2, &b);
  b.p[0] = ST_KIND_INDEX;
  CHECK_EQ_INT(cat_table_decode(b.p, b.len, CAT_DEF_V2, &used, &d), ST_ECORRUPT);
  st_buf_free(&b);

  /* A version-1 catalog (no indexes): open, add indexes, write, reopen. */
  char *dir = tmpdir();
  cat_table c1 = {.kind = ST_KIND_TABLE, .id = 1, .partitions = 4, .ns = "ns", .name = "old",
                  .hash_name = "pk", .hash_type = DV_S, .range_name = "sk", .range_type = DV_N};
  write_catalog(dir, 1, 2, &c1, 1);
  st_db *db = open_db(dir, NULL);
  dv_arena *a = dv_arena_new();
  if (db) {
    st_table *o = st_table_find(db, "ns", "old");
    CHECK(o != NULL);
    model m;
    memset(&m, 0, sizeof m);
    unsigned seed = 1;
    size_t ch = 0;
    for (int i = 0; i < 50; i++) CHECK_EQ_INT(rnd_batch(db, o, &m, a, &seed, &ch), ST_OK);
    st_table *ix = make_index(db, o, &IXS[1]);
    CHECK_EQ_INT(st_table_id(ix), 2);
    st_iter *it;
    CHECK_EQ_INT(st_iter_open(o, &(st_iter_spec){0}, &it), ST_OK);
    size_t nr;
    int done;
    uint64_t lsn;
    CHECK_EQ_INT(st_index_fill(db, ix, it, 100000, &nr, &done, &lsn), ST_OK);
    st_iter_close(it);
    for (int i = 0; i < 50; i++) CHECK_EQ_INT(rnd_batch(db, o, &m, a, &seed, &ch), ST_OK);
    CHECK_EQ_INT(st_close(db), ST_OK);
    db = open_db(dir, NULL);
    o = db ? st_table_find(db, "ns", "old") : NULL;
    CHECK(o && st_index_find(o, IXS[1].name));
    dv_value items[NPK * NSK];
    size_t n = model_items(&m, items);
    if (o && st_index_find(o, IXS[1].name))
      CHECK(check_index(st_index_find(o, IXS[1].name), &BASE, &IXS[1], items, n, 0));
    if (db) CHECK_EQ_INT(st_close(db), ST_OK);
  }
  rm_rf(dir);
  free(dir);

  /* A version-2 catalog without indexes (a table and an event log). */
  dir = tmpdir();
  cat_table c2[2] = {c1, {.kind = ST_KIND_EVENTS, .id = 2, .partitions = 1, .ns = "ns",
                          .name = "log", .hash_name = "seq", .hash_type = DV_N}};
  write_catalog(dir, 2, 3, c2, 2);
  db = open_db(dir, NULL);
  if (db) {
    st_table *o = st_table_find(db, "ns", "old");
    CHECK(o && st_table_indexes(o, NULL, 0) == 0);
    CHECK(o && make_index(db, o, &IXS[0]) != NULL);
    CHECK_EQ_INT(st_close(db), ST_OK);
  }
  rm_rf(dir);
  free(dir);

  /* A dangling index (its base is not in the catalog), and an index whose
   * base is an event log: ST_ECORRUPT at open. */
  for (int v = 0; v < 2; v++) {
    dir = tmpdir();
    cat_table ix = c;
    ix.id = 5;
    ix.base_id = v == 0 ? 4 : 2;
    ix.name = v == 0 ? "4/gsi" : "2/gsi";
    cat_table defs[3] = {c1, c2[1], ix};
    write_catalog(dir, 2, 6, defs, 3);
    st_db *bad_db = NULL;
    char err[256] = "";
    st_options o = {.no_fsync = 1, .partitions = 4};
    CHECK_EQ_INT(st_open(dir, &o, &bad_db, err, sizeof err), ST_ECORRUPT);
    CHECK(bad_db == NULL && strstr(err, "does not exist") != NULL);
    /* With the base present it opens. */
    if (v == 0) {
      ix.base_id = 1;
      ix.name = "1/gsi";
      defs[2] = ix;
      write_catalog(dir, 2, 6, defs, 3);
      db = open_db(dir, NULL);
      if (db) {
        st_table *o1 = st_table_find(db, "ns", "old");
        CHECK(o1 && st_index_find(o1, "gsi") && st_index_base(st_index_find(o1, "gsi")) == o1);
        CHECK_EQ_INT(st_close(db), ST_OK);
      }
    }
    rm_rf(dir);
    free(dir);
  }
  dv_arena_free(a);
}

/* The index entry key codec on its own: round trip, and memcmp order equal
 * to (sort key, base key) order for values with 0x00 bytes and prefixes. */
static void test_codec(void) {
  dv_arena *a = dv_arena_new();
  static const struct {
    const char *p;
    size_t n;
  } v[] = {{"a", 1}, {"a\0", 2}, {"a\0\0", 3}, {"a\0\x01", 3}, {"a\0\xff", 3}, {"a\x01", 2},
           {"\0", 1}, {"\xff", 1}, {"ab", 2}, {"a\xff\0", 3}};
  enum { NV = sizeof v / sizeof v[0] };
  dv_value h = S(a, "h");
  int ok = 1;
  for (int i = 0; i < NV; i++)
    for (int j = 0; j < NV; j++)
      for (int bi = 0; bi < NV; bi++)
        for (int bj = 0; bj < 3; bj++) {
          dv_value r1 = Sn(a, v[i].p, v[i].n), r2 = Sn(a, v[j].p, v[j].n);
          dv_value b1 = Bn(a, v[bi].p, v[bi].n), b2 = Bn(a, v[bj].p, v[bj].n);
          dv_value s1 = Nint(a, bi), s2 = Nint(a, -bj);
          st_buf k1, k2;
          st_buf_init(&k1);
          st_buf_init(&k2);
          codec_ix_key_encode(&h, &r1, &b1, &s1, &k1);
          codec_ix_key_encode(&h, &r2, &b2, &s2, &k2);
          int want = dv_compare(&r1, &r2);
          if (!want) want = dv_compare(&b1, &b2);
          if (!want) want = dv_compare(&s1, &s2);
          size_t mn = k1.len < k2.len ? k1.len : k2.len;
          int got = memcmp(k1.p, k2.p, mn);
          if (!got) got = k1.len < k2.len ? -1 : k1.len > k2.len;
          ok &= (want < 0) == (got < 0) && (want == 0) == (got == 0);
          /* Bounds bracket exactly the entries of their sort value. */
          st_buf lo, hi;
          st_buf_init(&lo);
          st_buf_init(&hi);
          codec_ix_sort_bound(&h, &r2, 0, &lo);
          codec_ix_sort_bound(&h, &r2, 1, &hi);
          int c = dv_compare(&r1, &r2);
          int ge_lo = memcmp(k1.p, lo.p, k1.len < lo.len ? k1.len : lo.len) > 0 ||
                      (memcmp(k1.p, lo.p, k1.len < lo.len ? k1.len : lo.len) == 0 && k1.len >= lo.len);
          int lt_hi = memcmp(k1.p, hi.p, k1.len < hi.len ? k1.len : hi.len) < 0 ||
                      (memcmp(k1.p, hi.p, k1.len < hi.len ? k1.len : hi.len) == 0 && k1.len < hi.len);
          ok &= ge_lo == (c >= 0) && lt_hi == (c <= 0);
          /* Round trip. */
          dv_value x1, x2, x3, x4;
          int rc = codec_ix_key_decode(k1.p, k1.len, DV_S, DV_S, DV_B, DV_N, a, &x1, &x2, &x3, &x4);
          ok &= rc == ST_OK && dv_equal(&x1, &h) && dv_equal(&x2, &r1) && dv_equal(&x3, &b1) &&
                dv_equal(&x4, &s1);
          /* Truncations never decode (a few). */
          for (size_t t = 10; t + 1 < k1.len; t += 3)
            if (codec_ix_key_decode(k1.p, t, DV_S, DV_S, DV_B, DV_N, a, &x1, &x2, &x3, &x4) == ST_OK)
              ok &= 0;
          st_buf_free(&k1);
          st_buf_free(&k2);
          st_buf_free(&lo);
          st_buf_free(&hi);
        }
  CHECK(ok);
  /* Hash-only index and base. */
  st_buf k;
  st_buf_init(&k);
  dv_value n1 = N(a, "1.0"), b0 = Bn(a, "\0", 1);
  codec_ix_key_encode(&n1, NULL, &b0, NULL, &k);
  dv_value x1, x2, x3, x4;
  CHECK_EQ_INT(codec_ix_key_decode(k.p, k.len, DV_N, DV_NONE, DV_B, DV_NONE, a, &x1, &x2, &x3, &x4),
               ST_OK);
  CHECK(dv_equal(&x1, &n1) && x2.type == DV_NONE && dv_equal(&x3, &b0) && x4.type == DV_NONE);
  k.p[k.len - 1] = 0x02; /* a bad terminator */
  CHECK_EQ_INT(codec_ix_key_decode(k.p, k.len, DV_N, DV_NONE, DV_B, DV_NONE, a, &x1, &x2, &x3, &x4),
               ST_ECORRUPT);
  st_buf_free(&k);
  dv_arena_free(a);
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {
      {"codec", test_codec},       {"model", test_model}, {"membership", test_membership},
      {"bounds", test_bounds},     {"fill", test_fill},   {"crash", test_crash},
      {"drop", test_drop},         {"catalog", test_catalog},
      {NULL, NULL}};
  return tl_run(tests, argc, argv);
}
