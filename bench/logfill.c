/*
 * logfill.c -- makes the "large unapplied log" of the recovery figure of
 * `make bench`: opens a data directory that dynafiled left (clean shut down,
 * table "bench" with pk/sk string keys preloaded), overwrites its items one
 * PutItem-shaped st_write each (one log record per item, as dynafiled's
 * PutItem does) in group commits of GROUP records, with checkpoints off,
 * until the log since the last checkpoint holds at least MB MiB, and then
 * dies by SIGKILL: nothing is checkpointed, so the next dynafiled to open
 * the directory must replay all of it.
 *
 * dynafiled itself cannot leave such a log (it checkpoints every 64 MiB of
 * log), hence this tool, which goes through the same storage API. The log is
 * written without fsync: a killed process leaves its writes in the page
 * cache, which is what a process crash (not a power loss) leaves too.
 *
 * Each item gets data = "g<generation, 8 digits>" padded with 'r' to 183
 * bytes, so every item stays 200 bytes (DynamoDB size). On stdout, before
 * dying: "logfill records=N log_bytes=B pk=P sk=S data_prefix=G", naming
 * the last item written and the prefix of its data after recovery.
 *
 * Usage: logfill DATA_DIR MB [PARTS=10000] [SORTS=10]
 * Not a test and not part of the daemon; bench/bench.py compiles it against
 * the build's storage library.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage.h"
#include "storage/value.h"

#define DATA_LEN 183 /* 2+6 (pk) + 2+3 (sk) + 4+183 (data) = 200 bytes */
#define GROUP 256    /* records per group commit */

/* One group commit, synchronously. */
static int flush_all(st_db *db) {
  st_flush_job *job;
  while ((job = st_flush_begin(db)) != NULL) {
    int rc = st_flush_run(job);
    int rc2 = st_flush_end(db, job);
    if (rc != ST_OK) return rc;
    if (rc2 != ST_OK) return rc2;
  }
  return ST_OK;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: logfill DATA_DIR MB [PARTS=10000] [SORTS=10]\n");
    return 2;
  }
  const char *dir = argv[1];
  uint64_t target = strtoull(argv[2], NULL, 10) << 20;
  long parts = argc > 3 ? atol(argv[3]) : 10000;
  long sorts = argc > 4 ? atol(argv[4]) : 10;
  if (target == 0 || parts <= 0 || sorts <= 0 || parts > 99999 || sorts > 99) {
    fprintf(stderr, "logfill: bad arguments\n");
    return 2;
  }

  st_options opt;
  memset(&opt, 0, sizeof opt);
  opt.cache_bytes = (size_t)1 << 30;
  opt.checkpoint_log_bytes = SIZE_MAX;   /* checkpoints off: the log grows */
  opt.checkpoint_dirty_bytes = SIZE_MAX; /* (the data set fits in the cache) */
  opt.no_fsync = 1;                      /* a killed process keeps its writes */
  st_db *db = NULL;
  char err[512] = "";
  int rc = st_open(dir, &opt, &db, err, sizeof err);
  if (rc != ST_OK) {
    fprintf(stderr, "logfill: cannot open %s: %s\n", dir, err[0] ? err : st_strerror(rc));
    return 1;
  }
  st_table *t = st_table_find(db, "", "bench");
  if (t == NULL) {
    fprintf(stderr, "logfill: no table 'bench' in %s\n", dir);
    return 1;
  }

  dv_arena *a = dv_arena_new();
  uint64_t records = 0, gen = 0;
  long last_i = 0, last_j = 0;
  st_stats st;
  char pk[16], sk[16], data[DATA_LEN + 1];
  memset(data, 'r', DATA_LEN);
  data[DATA_LEN] = '\0';
  for (;;) {
    for (long i = 0; i < parts; i++) {
      for (long j = 0; j < sorts; j++) {
        snprintf(pk, sizeof pk, "p%05ld", i);
        snprintf(sk, sizeof sk, "s%02ld", j);
        char g[16];
        int gl = snprintf(g, sizeof g, "g%08llu", (unsigned long long)gen);
        memcpy(data, g, (size_t)gl);
        dv_attr *attrs = dv_arena_alloc(a, 3 * sizeof *attrs); /* sorted by name */
        attrs[0] = (dv_attr){"data", 4, dv_make_s(a, data, DATA_LEN)};
        attrs[1] = (dv_attr){"pk", 2, dv_make_s(a, pk, strlen(pk))};
        attrs[2] = (dv_attr){"sk", 2, dv_make_s(a, sk, strlen(sk))};
        dv_value item = {.type = DV_M, .n = 3, .u.attrs = attrs};
        st_write_req w = {t, ST_PUT, &item, 0};
        uint64_t lsn;
        rc = st_write(db, &w, 1, &lsn);
        if (rc != ST_OK) goto fail;
        records++;
        last_i = i;
        last_j = j;
        if (records % GROUP == 0) {
          if ((rc = flush_all(db)) != ST_OK) goto fail;
          dv_arena_free(a);
          a = dv_arena_new();
          st_get_stats(db, &st);
          if (st.log_bytes >= target) goto done;
        }
      }
    }
    gen++;
  }
done:
  if ((rc = flush_all(db)) != ST_OK) goto fail;
  st_get_stats(db, &st);
  printf("logfill records=%llu log_bytes=%llu pk=p%05ld sk=s%02ld data_prefix=g%08llu\n",
         (unsigned long long)records, (unsigned long long)st.log_bytes, last_i, last_j,
         (unsigned long long)gen);
  fflush(stdout);
  raise(SIGKILL); /* die as a crash would: no checkpoint, no close */
  return 1;
fail:
  fprintf(stderr, "logfill: write failed after %llu records: %s\n", (unsigned long long)records,
          st_strerror(rc));
  return 1;
}
