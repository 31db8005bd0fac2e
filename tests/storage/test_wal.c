/*
 * test_wal.c -- the write-ahead batch log: round trips, rotation, recovery
 * from a torn or corrupt tail at every byte, appending after recovery,
 * group commit on a second thread, flush failure; concurrent flush jobs
 * (every completion order, a failure in the middle, a crash with a middle
 * range unwritten, rotation waiting for the jobs in flight, random); log
 * space zero-filled ahead (W5: recovery of a zero tail, the jobs that wait
 * for a prep, stale records past a hole never read again, a failed prep,
 * random with preps on a thread of their own).
 */

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

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

static void rm_rf(const char *dir) { nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static char *tmpdir(void) {
  char *d = strdup("/tmp/dftest-wal-XXXXXX");
  if (!mkdtemp(d)) abort();
  return d;
}

/* Records collected by replay. */
typedef struct got {
  uint64_t lsn[4096];   /* LSNs seen */
  size_t len[4096];     /* payload lengths */
  int ok;               /* 1 while every payload matched the pattern */
  size_t n;             /* records seen */
} got;

/* Payload of record lsn: deterministic bytes of deterministic length. */
static size_t pat_len(uint64_t lsn) { return (size_t)((lsn * 37) % 300); }
static uint8_t pat_byte(uint64_t lsn, size_t i) { return (uint8_t)(lsn * 131 + i * 7); }

static int collect(void *ctx, uint64_t lsn, unsigned type, const uint8_t *p, size_t len) {
  got *g = ctx;
  if (g->n < 4096) {
    g->lsn[g->n] = lsn;
    g->len[g->n] = len;
  }
  g->n++;
  if (type != (unsigned)(1 + lsn % 3) || len != pat_len(lsn)) g->ok = 0;
  for (size_t i = 0; i < len; i++)
    if (p[i] != pat_byte(lsn, i)) g->ok = 0;
  return ST_OK;
}

static void append_pat(wal_log *w, uint64_t expect_lsn) {
  size_t off;
  st_buf *b = wal_rec_begin(w, &off);
  size_t n = pat_len(expect_lsn);
  st_buf_reserve(b, n);
  for (size_t i = 0; i < n; i++) b->p[b->len++] = pat_byte(expect_lsn, i);
  uint64_t lsn = 0;
  CHECK_EQ_INT(wal_rec_commit(w, (unsigned)(1 + expect_lsn % 3), &lsn), ST_OK);
  CHECK_EQ_INT(lsn, expect_lsn);
}

static int flush(wal_log *w) {
  wal_flush *f = wal_flush_begin(w);
  if (!f) return ST_OK;
  wal_flush_run(f);
  return wal_flush_end(w, f, NULL);
}

static wal_log *open_log_z(const char *dir, uint64_t after, size_t segbytes, size_t zero_chunk,
                           got *g, wal_recovery *rec) {
  wal_options o = {.segment_bytes = segbytes, .zero_chunk = zero_chunk, .no_fsync = 1};
  wal_log *w = NULL;
  char err[256];
  if (g) {
    memset(g, 0, sizeof *g);
    g->ok = 1;
  }
  int rc = wal_open(dir, after, &o, g ? collect : NULL, g, &w, rec, err, sizeof err);
  if (rc != ST_OK) fprintf(stderr, "wal_open: %s (%s)\n", err, st_errname(rc));
  CHECK_EQ_INT(rc, ST_OK);
  return w;
}

static wal_log *open_log(const char *dir, uint64_t after, size_t segbytes, got *g,
                         wal_recovery *rec) {
  return open_log_z(dir, after, segbytes, 0, g, rec);
}

/* Reopen the log and check what recovery found: n records, each as written,
 * and whether it cut the log. */
static wal_log *reopen_expect(const char *dir, size_t segbytes, got *g, wal_recovery *rec, uint64_t n,
                              int cut) {
  wal_log *w = open_log(dir, 0, segbytes, g, rec);
  CHECK_EQ_INT(g->n, n);
  CHECK(g->ok);
  CHECK_EQ_INT(rec->cut, cut);
  return w;
}

/* Write n records (flushing every `every`), close. */
static void write_log(const char *dir, uint64_t n, size_t segbytes, int every) {
  wal_log *w = open_log(dir, 0, segbytes, NULL, NULL);
  for (uint64_t l = 1; l <= n; l++) {
    append_pat(w, l);
    if ((int)(l % (uint64_t)every) == 0) CHECK_EQ_INT(flush(w), ST_OK);
  }
  CHECK_EQ_INT(flush(w), ST_OK);
  CHECK_EQ_INT(wal_durable_lsn(w), n);
  wal_close(w);
}

static size_t count_segments(const char *dir) {
  size_t n = 0;
  DIR *d = opendir(dir);
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (strstr(de->d_name, ".wal")) n++;
  closedir(d);
  return n;
}

/* Path of the segment with the highest name. */
static void last_segment(const char *dir, char *out, size_t outlen) {
  char best[300] = "";
  DIR *d = opendir(dir);
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (strstr(de->d_name, ".wal") && strcmp(de->d_name, best) > 0)
      snprintf(best, sizeof best, "%s", de->d_name);
  closedir(d);
  snprintf(out, outlen, "%s/%s", dir, best);
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = malloc((size_t)n + 1);
  *len = fread(p, 1, (size_t)n, f);
  fclose(f);
  return p;
}

static void write_file(const char *path, const uint8_t *p, size_t len) {
  FILE *f = fopen(path, "wb");
  fwrite(p, 1, len, f);
  fclose(f);
}

static off_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Offset of the record with the given index (0-based) in a segment image,
 * walking the framing (40-byte header, 24-byte record headers). */
static size_t rec_offset(const uint8_t *p, size_t len, size_t index) {
  size_t off = 40;
  for (size_t i = 0; i < index && off + 24 <= len; i++) {
    uint32_t l = (uint32_t)p[off + 8] | (uint32_t)p[off + 9] << 8 | (uint32_t)p[off + 10] << 16 |
                 (uint32_t)p[off + 11] << 24;
    off += 24 + l;
  }
  return off;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_round_trip(void) {
  char *dir = tmpdir();
  write_log(dir, 200, 0, 7);
  got g;
  wal_recovery rec;
  wal_log *w = open_log(dir, 0, 0, &g, &rec);
  CHECK_EQ_INT(g.n, 200);
  CHECK(g.ok);
  for (size_t i = 0; i < g.n; i++) CHECK_EQ_INT(g.lsn[i], i + 1);
  CHECK_EQ_INT(rec.cut, 0);
  CHECK_EQ_INT(rec.last_lsn, 200);
  CHECK_EQ_INT(rec.replayed, 200);
  CHECK_EQ_INT(wal_last_lsn(w), 200);
  CHECK_EQ_INT(wal_durable_lsn(w), 200);
  wal_close(w);

  /* Only records after after_lsn are replayed. */
  w = open_log(dir, 150, 0, &g, &rec);
  CHECK_EQ_INT(g.n, 50);
  CHECK_EQ_INT(g.lsn[0], 151);
  CHECK(g.ok);
  wal_close(w);

  /* An empty payload and an empty log. */
  char *dir2 = tmpdir();
  w = open_log(dir2, 0, 0, &g, &rec);
  CHECK_EQ_INT(g.n, 0);
  CHECK_EQ_INT(wal_last_lsn(w), 0);
  CHECK(wal_flush_begin(w) == NULL);
  size_t off;
  wal_rec_begin(w, &off);
  uint64_t lsn;
  CHECK_EQ_INT(wal_rec_commit(w, 9, &lsn), ST_OK);
  CHECK_EQ_INT(lsn, 1);
  /* An aborted record leaves no trace. */
  st_buf *b = wal_rec_begin(w, &off);
  st_buf_append(b, "junk", 4);
  wal_rec_abort(w);
  CHECK_EQ_INT(flush(w), ST_OK);
  wal_close(w);
  w = open_log(dir2, 0, 0, NULL, &rec);
  CHECK_EQ_INT(rec.last_lsn, 1);
  CHECK_EQ_INT(rec.cut, 0);
  wal_close(w);

  /* A fresh log after a checkpoint at 500 with no segments starts at 501. */
  char *dir3 = tmpdir();
  w = open_log(dir3, 500, 0, NULL, &rec);
  wal_rec_begin(w, &off);
  CHECK_EQ_INT(wal_rec_commit(w, 1, &lsn), ST_OK);
  CHECK_EQ_INT(lsn, 501);
  wal_close(w);

  rm_rf(dir);
  rm_rf(dir2);
  rm_rf(dir3);
  free(dir);
  free(dir2);
  free(dir3);
}

static void test_rotation(void) {
  char *dir = tmpdir();
  write_log(dir, 3000, 4096, 5);
  size_t nseg = count_segments(dir);
  CHECK(nseg > 20);
  got g;
  wal_recovery rec;
  wal_log *w = open_log(dir, 0, 4096, &g, &rec);
  CHECK_EQ_INT(g.n, 3000);
  CHECK(g.ok);
  int seq = 1;
  for (size_t i = 0; i < 3000 && i < g.n; i++) seq &= g.lsn[i] == i + 1;
  CHECK(seq);
  CHECK_EQ_INT(wal_segment_count(w), nseg);

  /* Retiring: every segment wholly at or below 1500 but never the last. */
  char **paths;
  size_t n = wal_retirable(w, 1500, &paths);
  CHECK(n > 5 && n < nseg);
  for (size_t i = 0; i < n; i++) CHECK_EQ_INT(unlink(paths[i]), 0);
  wal_free_paths(paths, n);
  wal_forget(w, n);
  CHECK_EQ_INT(wal_segment_count(w), nseg - n);
  /* Appending continues after the retirement. */
  append_pat(w, 3001);
  CHECK_EQ_INT(flush(w), ST_OK);
  wal_close(w);

  /* Recovery with after = 1500 still finds every record after it. */
  w = open_log(dir, 1500, 4096, &g, &rec);
  CHECK_EQ_INT(g.n, 1501);
  CHECK_EQ_INT(g.lsn[0], 1501);
  CHECK(g.ok);
  CHECK_EQ_INT(rec.cut, 0);
  wal_close(w);

  /* A segment that reappears below the start (an unlink that was not
   * durable) is ignored and removed. */
  char low[512];
  {
    char best[300] = "~";
    DIR *dd = opendir(dir);
    struct dirent *de;
    while ((de = readdir(dd)) != NULL)
      if (strstr(de->d_name, ".wal") && strcmp(de->d_name, best) < 0)
        snprintf(best, sizeof best, "%s", de->d_name);
    closedir(dd);
    snprintf(low, sizeof low, "%s/%s", dir, best);
  }
  size_t lowlen;
  uint8_t *lowimg = read_file(low, &lowlen);
  w = open_log(dir, 2000, 4096, &g, &rec);
  CHECK_EQ_INT(g.n, 1001);
  wal_close(w);
  CHECK(access(low, F_OK) != 0);
  write_file(low, lowimg, lowlen);
  free(lowimg);
  w = open_log(dir, 2000, 4096, &g, &rec);
  CHECK_EQ_INT(g.n, 1001);
  CHECK(g.ok);
  CHECK_EQ_INT(rec.cut, 0);
  wal_close(w);
  CHECK(access(low, F_OK) != 0);

  /* Records needed but missing: the log begins after after_lsn + 1. */
  wal_options o = {.segment_bytes = 4096, .no_fsync = 1};
  char err[256];
  CHECK_EQ_INT(wal_open(dir, 10, &o, NULL, NULL, &w, NULL, err, sizeof err), ST_ECORRUPT);
  CHECK(w == NULL);
  CHECK(strstr(err, "missing") != NULL);
  rm_rf(dir);
  free(dir);
}

/* Cut the last record at every byte: recovery returns exactly the complete
 * records, truncates the file, and appending afterwards works. */
static void test_torn_tail(void) {
  char *dir = tmpdir();
  const uint64_t N = 20;
  write_log(dir, N, 0, 3);
  char seg[512];
  last_segment(dir, seg, sizeof seg);
  size_t len;
  uint8_t *img = read_file(seg, &len);
  size_t last = rec_offset(img, len, N - 1);
  CHECK(last < len);
  int all_ok = 1;
  for (size_t cut = last; cut <= len; cut++) {
    write_file(seg, img, cut);
    got g;
    wal_recovery rec;
    wal_log *w = open_log(dir, 0, 0, &g, &rec);
    uint64_t want = cut == len ? N : N - 1;
    if (g.n != want || !g.ok || rec.last_lsn != want || rec.cut != (cut != len && cut != last) ||
        (uint64_t)file_size(seg) != (cut == len ? len : last)) {
      fprintf(stderr, "cut at %zu: got %zu records, cut=%d size=%lld\n", cut, g.n, rec.cut,
              (long long)file_size(seg));
      all_ok = 0;
    }
    /* Append after recovery: the new record follows the valid prefix. */
    append_pat(w, want + 1);
    CHECK_EQ_INT(flush(w), ST_OK);
    wal_close(w);
    w = open_log(dir, 0, 0, &g, &rec);
    if (g.n != want + 1 || !g.ok || rec.cut) {
      fprintf(stderr, "append after cut at %zu: got %zu records\n", cut, g.n);
      all_ok = 0;
    }
    wal_close(w);
  }
  CHECK(all_ok);

  /* A torn segment header (a crash while rotating) loses no earlier record. */
  free(img);
  rm_rf(dir);
  free(dir);
  dir = tmpdir();
  write_log(dir, 400, 2048, 10);
  last_segment(dir, seg, sizeof seg);
  img = read_file(seg, &len);
  uint64_t in_last = 0;
  while (rec_offset(img, len, in_last) < len) in_last++;
  for (size_t cut = 0; cut < 40; cut += 13) {
    write_file(seg, img, cut);
    got g;
    wal_recovery rec;
    wal_log *w = reopen_expect(dir, 2048, &g, &rec, 400 - in_last, 1);
    CHECK(access(seg, F_OK) != 0); /* removed */
    append_pat(w, 400 - in_last + 1);
    CHECK_EQ_INT(flush(w), ST_OK);
    wal_close(w);
    w = open_log(dir, 0, 2048, &g, &rec);
    CHECK_EQ_INT(g.n, 400 - in_last + 1);
    CHECK_EQ_INT(rec.cut, 0);
    wal_close(w);
    /* Put the original last segment back for the next round: drop the
     * appended record's segment state by rewriting the whole log. */
    rm_rf(dir);
    mkdir(dir, 0755);
    write_log(dir, 400, 2048, 10);
  }
  free(img);
  rm_rf(dir);
  free(dir);
}

/* Flip one byte anywhere in the last record, then in a middle record. */
static void test_corruption(void) {
  char *dir = tmpdir();
  const uint64_t N = 12;
  write_log(dir, N, 0, 4);
  char seg[512];
  last_segment(dir, seg, sizeof seg);
  size_t len;
  uint8_t *img = read_file(seg, &len);
  size_t last = rec_offset(img, len, N - 1);
  int all_ok = 1;
  for (size_t i = last; i < len; i++) {
    img[i] ^= 0x40;
    write_file(seg, img, len);
    img[i] ^= 0x40;
    got g;
    wal_recovery rec;
    wal_log *w = open_log(dir, 0, 0, &g, &rec);
    if (g.n != N - 1 || !g.ok || !rec.cut || (size_t)file_size(seg) != last) {
      fprintf(stderr, "flip at %zu: got %zu records\n", i, g.n);
      all_ok = 0;
    }
    wal_close(w);
  }
  CHECK(all_ok);

  /* A middle record: only the records before it survive. */
  size_t mid = rec_offset(img, len, 5);
  img[mid + 30] ^= 1;
  write_file(seg, img, len);
  got g;
  wal_recovery rec;
  wal_log *w = reopen_expect(dir, 0, &g, &rec, 5, 1);
  CHECK(strstr(rec.cut_reason, "checksum") != NULL);
  CHECK_EQ_INT(file_size(seg), (off_t)mid);
  append_pat(w, 6);
  CHECK_EQ_INT(flush(w), ST_OK);
  wal_close(w);
  w = open_log(dir, 0, 0, &g, &rec);
  CHECK_EQ_INT(g.n, 6);
  CHECK(g.ok);
  wal_close(w);
  free(img);
  rm_rf(dir);
  free(dir);

  /* Corrupt a record in an early segment: later segments are removed. */
  dir = tmpdir();
  write_log(dir, 500, 2048, 10);
  size_t nseg = count_segments(dir);
  CHECK(nseg > 5);
  char first[512];
  snprintf(first, sizeof first, "%s/0000000000000001.wal", dir);
  img = read_file(first, &len);
  size_t r3 = rec_offset(img, len, 3);
  img[r3 + 17] ^= 0x80; /* the LSN field: checksum mismatch */
  write_file(first, img, len);
  w = open_log(dir, 0, 2048, &g, &rec);
  CHECK_EQ_INT(g.n, 3);
  CHECK_EQ_INT(count_segments(dir), 1);
  CHECK(rec.cut_bytes > 0);
  wal_close(w);
  free(img);
  rm_rf(dir);
  free(dir);
}

/* Records with a valid checksum but the wrong LSN (stale bytes from a copy
 * of the same segment) stop recovery. */
static void test_out_of_sequence(void) {
  char *dir = tmpdir();
  write_log(dir, 10, 0, 10);
  char seg[512];
  last_segment(dir, seg, sizeof seg);
  size_t len;
  uint8_t *img = read_file(seg, &len);
  /* Duplicate records 0..9 after the end: same salt, valid checksums, but
   * LSNs 1..10 again. */
  uint8_t *dbl = malloc(2 * len);
  memcpy(dbl, img, len);
  memcpy(dbl + len, img + 40, len - 40);
  write_file(seg, dbl, 2 * len - 40);
  got g;
  wal_recovery rec;
  wal_log *w = open_log(dir, 0, 0, &g, &rec);
  CHECK_EQ_INT(g.n, 10);
  CHECK_EQ_INT(rec.cut, 1);
  CHECK(strstr(rec.cut_reason, "sequence") != NULL);
  CHECK_EQ_INT(file_size(seg), (off_t)len);
  wal_close(w);
  free(dbl);
  free(img);
  rm_rf(dir);
  free(dir);
}

/* Group commit: a flush runs on another thread while the owner appends. */
typedef struct flusher {
  wal_flush *job; /* job to run */
  int rc;         /* its result */
} flusher;

static void *flush_thread(void *arg) {
  flusher *fl = arg;
  fl->rc = wal_flush_run(fl->job);
  return NULL;
}

static void test_group_commit(void) {
  char *dir = tmpdir();
  wal_log *w = open_log(dir, 0, 8192, NULL, NULL);
  uint64_t next = 1;
  size_t jobs = 0;
  while (next <= 2000) {
    for (int i = 0; i < 10 && next <= 2000; i++) append_pat(w, next++);
    flusher fl = {wal_flush_begin(w), 0};
    CHECK(fl.job != NULL);
    CHECK(wal_flush_begin(w) == NULL); /* nothing pending */
    pthread_t th;
    pthread_create(&th, NULL, flush_thread, &fl);
    /* Meanwhile: more records for the next job, not yet durable. */
    for (int i = 0; i < 7 && next <= 2000; i++) append_pat(w, next++);
    pthread_join(th, NULL);
    CHECK_EQ_INT(fl.rc, ST_OK);
    uint64_t before = wal_durable_lsn(w);
    uint64_t recs = 0;
    CHECK_EQ_INT(wal_flush_end(w, fl.job, &recs), ST_OK);
    CHECK(wal_durable_lsn(w) > before);
    CHECK(wal_durable_lsn(w) < wal_last_lsn(w) || next > 2000);
    jobs++;
  }
  CHECK_EQ_INT(flush(w), ST_OK);
  CHECK_EQ_INT(wal_durable_lsn(w), 2000);
  wal_close(w);
  got g;
  w = open_log(dir, 0, 8192, &g, NULL);
  CHECK_EQ_INT(g.n, 2000);
  CHECK(g.ok);
  wal_close(w);
  rm_rf(dir);
  free(dir);
}

static void test_flush_failure(void) {
  char *dir = tmpdir();
  wal_log *w = open_log(dir, 0, 0, NULL, NULL);
  append_pat(w, 1);
  CHECK_EQ_INT(flush(w), ST_OK);
  append_pat(w, 2);
  wal_flush *f = wal_flush_begin(w);
  wal_flush_inject_error(f);
  CHECK_EQ_INT(wal_flush_run(f), ST_EIO);
  CHECK_EQ_INT(wal_flush_end(w, f, NULL), ST_EIO);
  CHECK_EQ_INT(wal_durable_lsn(w), 1);
  append_pat(w, 3);
  CHECK(wal_flush_begin(w) == NULL); /* failed: no more flushes */
  wal_close(w);
  got g;
  w = open_log(dir, 0, 0, &g, NULL);
  CHECK_EQ_INT(g.n, 1);
  wal_close(w);
  rm_rf(dir);
  free(dir);
}

/* ---- concurrent flush jobs (W1-W4 of wal.c) ------------------------------------ */

/* Run the jobs js[0..n) at once, one thread each (NULL entries skipped). */
static void run_all(wal_flush **js, size_t n, int *rcs) {
  flusher fl[8];
  pthread_t th[8];
  for (size_t i = 0; i < n; i++) {
    fl[i] = (flusher){js[i], 0};
    if (js[i]) pthread_create(&th[i], NULL, flush_thread, &fl[i]);
  }
  for (size_t i = 0; i < n; i++) {
    if (!js[i]) continue;
    pthread_join(th[i], NULL);
    if (rcs) rcs[i] = fl[i].rc;
  }
}

/* Bytes of the records a..b of the pattern, headers included. */
static uint64_t recs_bytes(uint64_t a, uint64_t b) {
  uint64_t n = 0;
  for (uint64_t l = a; l <= b; l++) n += 24 + pat_len(l);
  return n;
}

/* Three jobs in flight: A = LSN 1-3, B = 4-5, C = 6-9 (last LSNs 3, 5, 9). */
static const uint64_t three_last[3] = {3, 5, 9};

static void begin_three(wal_log *w, wal_flush **js) {
  uint64_t next = 1;
  for (int j = 0; j < 3; j++) {
    while (next <= three_last[j]) append_pat(w, next++);
    js[j] = wal_flush_begin(w);
    CHECK(js[j] != NULL);
  }
  CHECK(wal_flush_begin(w) == NULL); /* nothing pending */
  CHECK_EQ_INT(wal_durable_lsn(w), 0);
}

/* Every completion order of three jobs: the durable LSN covers exactly the
 * jobs of the longest ended prefix, and the log replays whole. */
static void test_concurrent_orders(void) {
  static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                  {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (int p = 0; p < 6; p++) {
    char *dir = tmpdir();
    wal_log *w = open_log(dir, 0, 0, NULL, NULL);
    wal_flush *js[3];
    begin_three(w, js);
    int rcs[3];
    run_all(js, 3, rcs);
    for (int j = 0; j < 3; j++) CHECK_EQ_INT(rcs[j], ST_OK);
    int ended[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
      int j = perms[p][k];
      uint64_t recs = 0;
      CHECK_EQ_INT(wal_flush_end(w, js[j], &recs), ST_OK);
      CHECK_EQ_INT(recs, three_last[j] - (j ? three_last[j - 1] : 0));
      ended[j] = 1;
      uint64_t want = 0;
      for (int q = 0; q < 3 && ended[q]; q++) want = three_last[q];
      if (wal_durable_lsn(w) != want)
        fprintf(stderr, "order %d%d%d, after ending job %d: durable %" PRIu64 ", want %" PRIu64 "\n",
                perms[p][0], perms[p][1], perms[p][2], j, wal_durable_lsn(w), want);
      CHECK_EQ_INT(wal_durable_lsn(w), want);
    }
    /* Appending goes on after the three ranges. */
    append_pat(w, 10);
    CHECK_EQ_INT(flush(w), ST_OK);
    CHECK_EQ_INT(wal_durable_lsn(w), 10);
    wal_close(w);
    got g;
    wal_recovery rec;
    w = reopen_expect(dir, 0, &g, &rec, 10, 0);
    wal_close(w);
    rm_rf(dir);
    free(dir);
  }
}

/* The middle job fails, the jobs around it end in several orders: the
 * durable LSN never passes the failed job's first record, no flush begins
 * any more, and the log on disk stops before the failed job although the
 * job after it wrote its range. */
static void test_concurrent_failure(void) {
  static const int orders[4][3] = {{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {1, 0, 2}};
  for (int o = 0; o < 4; o++) {
    char *dir = tmpdir();
    wal_log *w = open_log(dir, 0, 0, NULL, NULL);
    wal_flush *js[3];
    begin_three(w, js);
    wal_flush_inject_error(js[1]);
    int rcs[3];
    run_all(js, 3, rcs);
    CHECK_EQ_INT(rcs[0], ST_OK);
    CHECK_EQ_INT(rcs[1], ST_EIO);
    CHECK_EQ_INT(rcs[2], ST_OK);
    int ended[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
      int j = orders[o][k];
      CHECK_EQ_INT(wal_flush_end(w, js[j], NULL), j == 1 ? ST_EIO : ST_OK);
      ended[j] = 1;
      CHECK_EQ_INT(wal_durable_lsn(w), ended[0] ? 3 : 0);
      append_pat(w, wal_last_lsn(w) + 1);
      if (ended[1]) CHECK(wal_flush_begin(w) == NULL); /* failed */
    }
    CHECK_EQ_INT(wal_durable_lsn(w), 3);
    wal_close(w);
    got g;
    wal_recovery rec;
    w = reopen_expect(dir, 0, &g, &rec, 3, 1); /* job C's bytes lie after the hole */
    /* The log continues after the cut. */
    append_pat(w, 4);
    CHECK_EQ_INT(flush(w), ST_OK);
    wal_close(w);
    w = reopen_expect(dir, 0, &g, &rec, 4, 0);
    wal_close(w);
    rm_rf(dir);
    free(dir);
  }

  /* The first job fails: nothing becomes durable, whatever the order. */
  char *dir = tmpdir();
  wal_log *w = open_log(dir, 0, 0, NULL, NULL);
  wal_flush *js[3];
  begin_three(w, js);
  wal_flush_inject_error(js[0]);
  run_all(js, 3, NULL);
  CHECK_EQ_INT(wal_flush_end(w, js[2], NULL), ST_OK);
  CHECK_EQ_INT(wal_flush_end(w, js[1], NULL), ST_OK);
  CHECK_EQ_INT(wal_durable_lsn(w), 0);
  CHECK_EQ_INT(wal_flush_end(w, js[0], NULL), ST_EIO);
  CHECK_EQ_INT(wal_durable_lsn(w), 0);
  wal_close(w);
  got g;
  w = open_log(dir, 0, 0, &g, NULL);
  CHECK_EQ_INT(g.n, 0);
  wal_close(w);
  rm_rf(dir);
  free(dir);
}

/* A crash with the middle job never written but the last one written and
 * fdatasynced (W2): recovery returns exactly the first job's records. */
static void test_abandon_middle(void) {
  char *dir = tmpdir();
  wal_log *w = open_log(dir, 0, 0, NULL, NULL);
  wal_flush *js[3];
  begin_three(w, js);
  wal_flush *run[3] = {js[0], NULL, js[2]};
  int rcs[3];
  run_all(run, 3, rcs);
  CHECK_EQ_INT(rcs[0], ST_OK);
  CHECK_EQ_INT(rcs[2], ST_OK);
  CHECK_EQ_INT(wal_flush_end(w, js[2], NULL), ST_OK);
  CHECK_EQ_INT(wal_durable_lsn(w), 0);
  CHECK_EQ_INT(wal_flush_end(w, js[0], NULL), ST_OK);
  CHECK_EQ_INT(wal_durable_lsn(w), 3);
  /* Job C's range is on disk past B's hole. */
  char seg[512];
  last_segment(dir, seg, sizeof seg);
  CHECK_EQ_INT(file_size(seg), (off_t)(40 + recs_bytes(1, 9)));
  wal_close(w); /* the crash: job B is dropped unwritten */
  got g;
  wal_recovery rec;
  w = reopen_expect(dir, 0, &g, &rec, 3, 1);
  CHECK_EQ_INT(rec.last_lsn, 3);
  CHECK_EQ_INT(wal_last_lsn(w), 3);
  CHECK_EQ_INT(file_size(seg), (off_t)(40 + recs_bytes(1, 3))); /* cut at the hole */
  /* New records take LSN 4 on: three jobs again, all of them written. */
  for (uint64_t l = 4; l <= 6; l++) {
    append_pat(w, l);
    js[l - 4] = wal_flush_begin(w);
    CHECK(js[l - 4] != NULL);
  }
  run_all(js, 3, NULL);
  for (int j = 2; j >= 0; j--) CHECK_EQ_INT(wal_flush_end(w, js[j], NULL), ST_OK);
  CHECK_EQ_INT(wal_durable_lsn(w), 6);
  wal_close(w);
  w = reopen_expect(dir, 0, &g, &rec, 6, 0);
  wal_close(w);
  rm_rf(dir);
  free(dir);
}

/* A job that must start a new segment waits for the jobs in flight, and no
 * job begins while it is in flight (W3). */
static void test_rotation_waits(void) {
  char *dir = tmpdir();
  wal_log *w = open_log(dir, 0, 1024, NULL, NULL);
  uint64_t next = 1;
  /* Job A fills the segment past 1024 bytes. */
  while (wal_pending_bytes(w) < 1200) append_pat(w, next++);
  wal_flush *a = wal_flush_begin(w);
  CHECK(a != NULL);
  append_pat(w, next++);
  CHECK(wal_flush_begin(w) == NULL); /* must rotate, A is in flight */
  CHECK_EQ_INT(wal_flush_run(a), ST_OK);
  CHECK(wal_flush_begin(w) == NULL); /* run is not enough: A must end */
  CHECK_EQ_INT(wal_flush_end(w, a, NULL), ST_OK);
  CHECK_EQ_INT(wal_segment_count(w), 1);
  wal_flush *r = wal_flush_begin(w); /* the rotating job */
  CHECK(r != NULL);
  append_pat(w, next++);
  CHECK(wal_flush_begin(w) == NULL); /* rotating job in flight */
  CHECK_EQ_INT(wal_flush_run(r), ST_OK);
  CHECK(wal_flush_begin(w) == NULL);
  CHECK_EQ_INT(wal_flush_end(w, r, NULL), ST_OK);
  CHECK_EQ_INT(wal_segment_count(w), 2);
  CHECK_EQ_INT(wal_durable_lsn(w), next - 2);
  /* Then jobs run concurrently again, in the new segment. */
  wal_flush *js[3];
  js[0] = wal_flush_begin(w);
  CHECK(js[0] != NULL);
  append_pat(w, next++);
  js[1] = wal_flush_begin(w);
  CHECK(js[1] != NULL);
  append_pat(w, next++);
  js[2] = wal_flush_begin(w);
  CHECK(js[2] != NULL);
  run_all(js, 3, NULL);
  for (int j = 2; j >= 0; j--) CHECK_EQ_INT(wal_flush_end(w, js[j], NULL), ST_OK);
  CHECK_EQ_INT(wal_durable_lsn(w), next - 1);
  CHECK_EQ_INT(wal_segment_count(w), 2);
  wal_close(w);
  got g;
  wal_recovery rec;
  w = reopen_expect(dir, 1024, &g, &rec, next - 1, 0);
  wal_close(w);
  rm_rf(dir);
  free(dir);
}

/* Random: up to three jobs in flight on threads, ended in random order,
 * small segments so that rotations interleave; after each end the durable
 * LSN is the last LSN of the longest ended prefix. */
typedef struct rjob {
  wal_flush *f;     /* the job */
  uint64_t last;    /* its last LSN */
  pthread_t th;     /* its thread */
  flusher fl;       /* its run */
  int ended;        /* wal_flush_end called */
} rjob;

/* The jobs of a random test, in begin order. */
typedef struct rjobs {
  rjob q[64];        /* [lo, hi) not yet retired by the test */
  size_t lo, hi;     /* bounds */
  size_t inflight;   /* begun, not ended */
  uint64_t durable;  /* the durable LSN the log must show */
  int bad;           /* checks failed */
} rjobs;

/* Begin a job and start its run on a thread; 0 if the log gave none. */
static int rj_begin(wal_log *w, rjobs *r) {
  wal_flush *f = wal_flush_begin(w);
  if (!f) return 0;
  if (r->hi == 64) { /* compact */
    memmove(r->q, r->q + r->lo, (r->hi - r->lo) * sizeof *r->q);
    r->hi -= r->lo;
    r->lo = 0;
  }
  rjob *j = &r->q[r->hi++];
  *j = (rjob){.f = f, .last = wal_last_lsn(w), .fl = {f, 0}};
  pthread_create(&j->th, NULL, flush_thread, &j->fl);
  r->inflight++;
  return 1;
}

/* End a random job in flight and check the durable LSN. */
static void rj_end_one(wal_log *w, rjobs *r, unsigned *seed) {
  size_t k = (size_t)(rand_r(seed) % r->inflight), idx = r->lo;
  for (;; idx++)
    if (!r->q[idx].ended && k-- == 0) break;
  rjob *j = &r->q[idx];
  pthread_join(j->th, NULL);
  if (j->fl.rc != ST_OK || wal_flush_end(w, j->f, NULL) != ST_OK) r->bad++;
  j->ended = 1;
  r->inflight--;
  while (r->lo < r->hi && r->q[r->lo].ended) r->durable = r->q[r->lo++].last;
  if (wal_durable_lsn(w) != r->durable) r->bad++;
}

/* End every job in flight, in begin order. */
static void rj_end_all(wal_log *w, rjobs *r) {
  for (size_t i = r->lo; i < r->hi; i++) {
    if (r->q[i].ended) continue;
    pthread_join(r->q[i].th, NULL);
    if (wal_flush_end(w, r->q[i].f, NULL) != ST_OK) r->bad++;
    r->q[i].ended = 1;
  }
  r->inflight = 0;
}

/* The end of a random test: flush the rest, check that the log spans
 * several segments, close, and recover every record with no cut. */
static void rj_finish(wal_log *w, char *dir, size_t segbytes, uint64_t last) {
  CHECK_EQ_INT(flush(w), ST_OK);
  CHECK_EQ_INT(wal_durable_lsn(w), last);
  size_t nseg = wal_segment_count(w);
  CHECK(nseg > 5);
  wal_close(w);
  got g;
  wal_recovery rec;
  w = reopen_expect(dir, segbytes, &g, &rec, last, 0);
  CHECK_EQ_INT(wal_segment_count(w), nseg);
  wal_close(w);
  rm_rf(dir);
  free(dir);
}

static void test_concurrent_random(void) {
  char *dir = tmpdir();
  wal_log *w = open_log(dir, 0, 2048, NULL, NULL);
  unsigned seed = 777;
  uint64_t next = 1;
  rjobs r;
  memset(&r, 0, sizeof r);
  int rotations_waited = 0;
  for (int step = 0; step < 3000; step++) {
    int n = (int)(rand_r(&seed) % 4);
    for (int i = 0; i < n && next <= 4000; i++) append_pat(w, next++);
    if (r.inflight < 3 && rand_r(&seed) % 2 && !rj_begin(w, &r) && r.inflight > 0 &&
        wal_pending_bytes(w) > 0)
      rotations_waited++;
    if (r.inflight > 0 && rand_r(&seed) % 2) rj_end_one(w, &r, &seed);
  }
  rj_end_all(w, &r);
  CHECK_EQ_INT(r.bad, 0);
  CHECK(rotations_waited > 0);
  rj_finish(w, dir, 2048, next - 1);
}

/* ---- zero-filled log space (W5 of wal.c) ------------------------------------------ */

#define ZCH 16384 /* zero chunk of these tests */

static uint64_t align4k(uint64_t v) { return (v + 4095) / 4096 * 4096; }

/* Run a prep job to its end on this thread; its status. */
static int prep(wal_log *w) {
  wal_prep *p = wal_prep_begin(w);
  if (!p) return -1;
  wal_prep_run(p);
  return wal_prep_end(w, p);
}

/* A log of 1 MiB segments and ZCH chunks holding record 1, durable. */
static wal_log *zf_start(const char *dir) {
  wal_log *w = open_log_z(dir, 0, 1 << 20, ZCH, NULL, NULL);
  append_pat(w, 1);
  CHECK_EQ_INT(flush(w), ST_OK);
  return w;
}

/* 1 if bytes [from, to) of the file are all zero. */
static int file_zero(const char *path, uint64_t from, uint64_t to) {
  size_t len;
  uint8_t *img = read_file(path, &len);
  int z = to <= len;
  for (uint64_t i = from; z && i < to; i++) z = img[i] == 0;
  free(img);
  return z;
}

/* A prep writes zeros after the records (a quarter chunk further when the
 * segment has no room yet, then contiguously); flushes overwrite them
 * without growing the file; recovery keeps the zero tail without calling
 * it a cut; a non-zero byte in the tail is a cut and truncates. */
static void test_zero_fill(void) {
  char *dir = tmpdir();
  wal_log *w = open_log_z(dir, 0, 1 << 20, ZCH, NULL, NULL);
  char seg[512];
  last_segment(dir, seg, sizeof seg);
  CHECK_EQ_INT(wal_zero_room(w), 0);
  append_pat(w, 1);
  CHECK_EQ_INT(flush(w), ST_OK);
  uint64_t end = 40 + recs_bytes(1, 1);
  CHECK_EQ_INT(file_size(seg), (off_t)end);
  wal_prep *p = wal_prep_begin(w);
  CHECK(p != NULL);
  CHECK(wal_prep_begin(w) == NULL); /* one at a time */
  CHECK_EQ_INT(wal_prep_run(p), ST_OK);
  CHECK_EQ_INT(wal_prep_end(w, p), ST_OK);
  uint64_t size = align4k(end + ZCH / 4) + ZCH;
  CHECK_EQ_INT(file_size(seg), (off_t)size);
  CHECK(file_zero(seg, end, size));
  CHECK_EQ_INT(wal_zero_room(w), size - end);
  CHECK(wal_prep_begin(w) == NULL); /* room enough */
  /* Flushes overwrite the zeros: the file keeps its size until the room is
   * below half a chunk, when the next prep continues the zeros. */
  uint64_t next = 2;
  int preps = 0, grew = 0;
  while (next < 400) {
    append_pat(w, next);
    end += 24 + pat_len(next++);
    CHECK_EQ_INT(flush(w), ST_OK);
    grew += file_size(seg) != (off_t)size;
    p = wal_prep_begin(w);
    if (p) {
      CHECK(wal_zero_room(w) < ZCH / 2);
      CHECK_EQ_INT(wal_prep_run(p), ST_OK);
      CHECK_EQ_INT(wal_prep_end(w, p), ST_OK);
      size += ZCH;
      CHECK_EQ_INT(file_size(seg), (off_t)size);
      preps++;
    }
  }
  CHECK_EQ_INT(grew, 0);
  CHECK(preps >= 2);
  CHECK(file_zero(seg, end, size));
  wal_close(w);
  /* A clean reopen: every record, no cut, the zeros kept for appending. */
  got g;
  wal_recovery rec;
  w = reopen_expect(dir, 1 << 20, &g, &rec, next - 1, 0);
  CHECK_EQ_INT(rec.cut_bytes, 0);
  CHECK_EQ_INT(file_size(seg), (off_t)size);
  CHECK_EQ_INT(wal_zero_room(w), size - end);
  append_pat(w, next);
  end += 24 + pat_len(next++);
  CHECK_EQ_INT(flush(w), ST_OK);
  CHECK_EQ_INT(file_size(seg), (off_t)size);
  wal_close(w);
  /* One stale byte anywhere in the tail (the last one here): a cut, and the
   * file is truncated at the last record. */
  int fd = open(seg, O_WRONLY);
  CHECK_EQ_INT(pwrite(fd, "x", 1, (off_t)size - 1), 1);
  close(fd);
  w = reopen_expect(dir, 1 << 20, &g, &rec, next - 1, 1);
  CHECK(strstr(rec.cut_reason, "checksum") != NULL);
  CHECK_EQ_INT(rec.cut_bytes, size - end);
  CHECK_EQ_INT(file_size(seg), (off_t)end);
  CHECK_EQ_INT(wal_zero_room(w), 0);
  append_pat(w, next++);
  CHECK_EQ_INT(flush(w), ST_OK);
  CHECK_EQ_INT(prep(w), ST_OK);
  wal_close(w);
  w = reopen_expect(dir, 1 << 20, &g, &rec, next - 1, 0);
  wal_close(w);
  /* Zeros cut at any byte of the tail (a prep's write torn by a crash):
   * still no cut, and appending goes on. */
  size_t len;
  uint8_t *img = read_file(seg, &len);
  uint64_t data = rec_offset(img, len, next - 1);
  CHECK(data < len);
  int all_ok = 1;
  for (uint64_t cut = data; cut <= len; cut += 997) {
    write_file(seg, img, (size_t)cut);
    w = open_log_z(dir, 0, 1 << 20, ZCH, &g, &rec);
    if (g.n != next - 1 || rec.cut || (uint64_t)file_size(seg) != cut) all_ok = 0;
    append_pat(w, next);
    if (flush(w) != ST_OK) all_ok = 0;
    wal_close(w);
    w = open_log_z(dir, 0, 1 << 20, ZCH, &g, &rec);
    if (g.n != next || !g.ok || rec.cut) all_ok = 0;
    wal_close(w);
  }
  CHECK(all_ok);
  free(img);
  rm_rf(dir);
  free(dir);
}

/* While a prep is in flight, a flush whose records would reach its zeros
 * waits and one that ends before them does not; a rotating job waits for
 * the prep too, and the new segment gets zeros of its own. */
static void test_zero_fill_waits(void) {
  char *dir = tmpdir();
  wal_log *w = zf_start(dir);
  uint64_t end = 40 + recs_bytes(1, 1);
  uint64_t from = align4k(end + ZCH / 4);
  wal_prep *p = wal_prep_begin(w);
  CHECK(p != NULL);
  /* Records up to the prep's start: their job begins and appends. */
  uint64_t next = 2;
  while (end + 24 + pat_len(next) <= from) {
    append_pat(w, next);
    end += 24 + pat_len(next++);
  }
  wal_flush *a = wal_flush_begin(w);
  CHECK(a != NULL);
  CHECK_EQ_INT(wal_flush_run(a), ST_OK);
  CHECK_EQ_INT(wal_flush_end(w, a, NULL), ST_OK);
  /* One more record would cross into the zeros being written: it waits. */
  append_pat(w, next++);
  CHECK(wal_flush_begin(w) == NULL);
  CHECK_EQ_INT(wal_prep_run(p), ST_OK);
  CHECK(wal_flush_begin(w) == NULL); /* run is not enough: the prep must end */
  CHECK_EQ_INT(wal_prep_end(w, p), ST_OK);
  CHECK_EQ_INT(flush(w), ST_OK);
  CHECK_EQ_INT(wal_durable_lsn(w), next - 1);
  /* Rotation waits for a prep in flight. */
  while (wal_zero_room(w) >= ZCH / 2) {
    append_pat(w, next++);
    CHECK_EQ_INT(flush(w), ST_OK);
  }
  p = wal_prep_begin(w);
  CHECK(p != NULL);
  wal_rotate_soon(w, 0);
  append_pat(w, next++);
  CHECK(wal_flush_begin(w) == NULL);
  CHECK_EQ_INT(wal_prep_run(p), ST_OK);
  CHECK_EQ_INT(wal_prep_end(w, p), ST_OK);
  CHECK(wal_prep_begin(w) == NULL); /* the segment is due to rotate */
  CHECK_EQ_INT(flush(w), ST_OK);    /* the rotating job */
  CHECK_EQ_INT(wal_segment_count(w), 2);
  CHECK_EQ_INT(wal_zero_room(w), 0);
  CHECK_EQ_INT(prep(w), ST_OK);
  CHECK(wal_zero_room(w) > ZCH);
  append_pat(w, next++);
  CHECK_EQ_INT(flush(w), ST_OK);
  wal_close(w);
  /* The first segment ends in zeros too; recovery reads on into the next. */
  got g;
  wal_recovery rec;
  w = reopen_expect(dir, 1 << 20, &g, &rec, next - 1, 0);
  CHECK_EQ_INT(wal_segment_count(w), 2);
  wal_close(w);
  rm_rf(dir);
  free(dir);
}

/* Inside zero-filled space, a crash leaves the middle job unwritten and the
 * last one written past the hole: recovery cuts at the hole and truncates
 * there, so once new records have filled the hole, the stale records after
 * it (same salt, the LSNs the new ones continue with) are never read. With
 * neither written the tail is all zeros: no cut, nothing lost. */
static void test_zero_fill_hole(void) {
  for (int c_written = 1; c_written >= 0; c_written--) {
    char *dir = tmpdir();
    wal_log *w = zf_start(dir);
    CHECK_EQ_INT(prep(w), ST_OK);
    char seg[512];
    last_segment(dir, seg, sizeof seg);
    off_t size = file_size(seg);
    /* A = 2-4, B = 5-6, C = 7-10, all inside the zeros. */
    static const uint64_t last[3] = {4, 6, 10};
    wal_flush *js[3];
    uint64_t next = 2;
    for (int j = 0; j < 3; j++) {
      while (next <= last[j]) append_pat(w, next++);
      js[j] = wal_flush_begin(w);
      CHECK(js[j] != NULL);
    }
    wal_flush *run[3] = {js[0], NULL, c_written ? js[2] : NULL};
    run_all(run, 3, NULL);
    if (c_written) CHECK_EQ_INT(wal_flush_end(w, js[2], NULL), ST_OK);
    CHECK_EQ_INT(wal_flush_end(w, js[0], NULL), ST_OK);
    CHECK_EQ_INT(wal_durable_lsn(w), 4);
    CHECK_EQ_INT(file_size(seg), size); /* every job wrote inside the zeros */
    wal_close(w);                       /* the crash */
    got g;
    wal_recovery rec;
    w = reopen_expect(dir, 1 << 20, &g, &rec, 4, c_written);
    CHECK_EQ_INT(file_size(seg), c_written ? (off_t)(40 + recs_bytes(1, 4)) : size);
    /* B's records again, then a crash: C's old ones must not come back. */
    append_pat(w, 5);
    append_pat(w, 6);
    CHECK_EQ_INT(flush(w), ST_OK);
    wal_close(w);
    w = reopen_expect(dir, 1 << 20, &g, &rec, 6, 0);
    CHECK_EQ_INT(wal_last_lsn(w), 6);
    wal_close(w);
    rm_rf(dir);
    free(dir);
  }
}

/* A prep that fails (here: the file-size limit) leaves the log appending as
 * before: no error for the records, no more preps in that segment, and
 * preps again in the next one. */
static void test_zero_fill_failure(void) {
  char *dir = tmpdir();
  wal_log *w = zf_start(dir);
  char seg[512];
  last_segment(dir, seg, sizeof seg);
  struct rlimit old, lim;
  CHECK_EQ_INT(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
  lim = old;
  lim.rlim_cur = (rlim_t)file_size(seg) + 6000; /* inside the quarter chunk, short of the zeros */
  CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
  wal_prep *p = wal_prep_begin(w);
  CHECK(p != NULL);
  int prc = wal_prep_run(p);
  uint64_t next = 2;
  append_pat(w, next++);
  int frc = flush(w);
  CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, oldsig);
  CHECK_EQ_INT(prc, ST_EIO);
  CHECK_EQ_INT(frc, ST_OK); /* the records fit under the limit */
  CHECK_EQ_INT(wal_prep_end(w, p), ST_EIO);
  CHECK(wal_prep_begin(w) == NULL); /* no more in this segment */
  append_pat(w, next++);
  CHECK_EQ_INT(flush(w), ST_OK);
  wal_rotate_soon(w, 0);
  append_pat(w, next++);
  CHECK_EQ_INT(flush(w), ST_OK);
  CHECK_EQ_INT(wal_segment_count(w), 2);
  CHECK_EQ_INT(prep(w), ST_OK); /* the new segment gets zeros */
  append_pat(w, next++);
  CHECK_EQ_INT(flush(w), ST_OK);
  wal_close(w);
  got g;
  wal_recovery rec;
  w = reopen_expect(dir, 1 << 20, &g, &rec, next - 1, 0);
  wal_close(w);
  rm_rf(dir);
  free(dir);
}

/* Random with preps: up to three flush jobs and one prep in flight on
 * threads, ended in random order, small segments and chunks so that
 * rotations and preps interleave; the durable LSN is checked after every
 * end, and recovery finds every record with no cut. */
typedef struct prepper {
  wal_prep *p;  /* the job */
  pthread_t th; /* its thread */
} prepper;

static void *prep_thread(void *arg) {
  wal_prep_run(((prepper *)arg)->p);
  return NULL;
}

static void test_zero_fill_random(void) {
  char *dir = tmpdir();
  wal_log *w = open_log_z(dir, 0, 32768, 4096, NULL, NULL);
  unsigned seed = 4242;
  uint64_t next = 1;
  rjobs r;
  memset(&r, 0, sizeof r);
  prepper pr = {NULL, 0};
  int preps = 0, waited = 0;
  for (int step = 0; step < 4000; step++) {
    int n = (int)(rand_r(&seed) % 4);
    for (int i = 0; i < n && next <= 4000; i++) append_pat(w, next++);
    if (!pr.p && rand_r(&seed) % 3 == 0) {
      pr.p = wal_prep_begin(w);
      if (pr.p) pthread_create(&pr.th, NULL, prep_thread, &pr);
    }
    if (r.inflight < 3 && rand_r(&seed) % 2 && !rj_begin(w, &r) && pr.p &&
        wal_pending_bytes(w) > 0)
      waited++;
    if (pr.p && rand_r(&seed) % 3 == 0) {
      pthread_join(pr.th, NULL);
      if (wal_prep_end(w, pr.p) != ST_OK) r.bad++;
      pr.p = NULL;
      preps++;
    }
    if (r.inflight > 0 && rand_r(&seed) % 2) rj_end_one(w, &r, &seed);
  }
  if (pr.p) {
    pthread_join(pr.th, NULL);
    if (wal_prep_end(w, pr.p) != ST_OK) r.bad++;
  }
  rj_end_all(w, &r);
  CHECK_EQ_INT(r.bad, 0);
  CHECK(preps > 20);
  CHECK(waited > 0);
  rj_finish(w, dir, 32768, next - 1);
}

int main(int argc, char **argv) {
  static const tl_test tests[] = {
      {"round_trip", test_round_trip},
      {"rotation", test_rotation},
      {"torn_tail", test_torn_tail},
      {"corruption", test_corruption},
      {"out_of_sequence", test_out_of_sequence},
      {"group_commit", test_group_commit},
      {"flush_failure", test_flush_failure},
      {"concurrent_orders", test_concurrent_orders},
      {"concurrent_failure", test_concurrent_failure},
      {"abandon_middle", test_abandon_middle},
      {"rotation_waits", test_rotation_waits},
      {"concurrent_random", test_concurrent_random},
      {"zero_fill", test_zero_fill},
      {"zero_fill_waits", test_zero_fill_waits},
      {"zero_fill_hole", test_zero_fill_hole},
      {"zero_fill_failure", test_zero_fill_failure},
      {"zero_fill_random", test_zero_fill_random},
      {NULL, NULL},
  };
  return tl_run(tests, argc, argv);
}
