/*
 * wal.c -- the write-ahead batch log: segment files, record framing, group
 * commit and recovery. See wal.h for the API; the engine's payload format
 * (the operations inside a record) is documented in storage.c.
 *
 * Files. The log lives in one directory (<data>/wal). Each segment is named
 * after the LSN of its first record, as 16 lowercase hex digits:
 * "0000000000000001.wal". Segments follow each other without gaps: the first
 * record of a segment has the LSN after the last record of the previous one.
 * The log rotates to a new segment when a flush finds the current one at or
 * beyond the configured size (so a segment may exceed it by the flushes in
 * flight when it filled up).
 *
 * All integers are little-endian.
 *
 * Segment header (40 bytes, at offset 0 of every segment):
 *
 *   offset size meaning
 *   0      8    magic "DFWALSEG"
 *   8      4    format version, 1
 *   12     4    reserved, 0
 *   16     8    first LSN: the LSN of the segment's first record (must equal
 *               the number in the file name)
 *   24     8    salt: random per segment, seeds every record checksum
 *   32     8    xxh64 (seed 0) of bytes [0, 32)
 *
 * Record (24-byte header + payload), records follow the header back to back:
 *
 *   offset size meaning
 *   0      8    checksum: xxh64 seeded with the segment's salt over bytes
 *               [8, 24 + len) of the record (the rest of the header and
 *               the payload)
 *   8      4    len: payload bytes, <= WAL_MAX_PAYLOAD
 *   12     1    type, 1..255 (0 never appears in a valid record)
 *   13     3    reserved, 0
 *   16     8    LSN
 *   24     len  payload (opaque to this file)
 *
 * Validity rule. Recovery reads the segments in LSN order starting from the
 * one that holds the first LSN it needs. A segment header is valid iff the
 * file holds 40 bytes, the magic, version and checksum match, and the first
 * LSN equals both the file name and the LSN expected next (one after the
 * previous segment's last record). A record at offset off is valid iff its
 * header and payload lie inside the file, len <= WAL_MAX_PAYLOAD, type != 0,
 * the reserved bytes are 0, the LSN is exactly the expected next LSN, and the
 * checksum matches. The log is the longest prefix of valid records; reading
 * stops at the first invalid record or segment header (a torn write from a
 * crash, a flipped bit, stale bytes), and recovery truncates the log there:
 * the segment is cut at that offset (removed if its header is bad) and every
 * later segment is removed. The salt makes a record copied from another
 * segment fail its checksum.
 *
 * Durability. A flush job writes its records with one pwrite and fdatasyncs
 * the file; when it starts a new segment it writes the header with the
 * records, fdatasyncs, then fsyncs the directory so that the file's name is
 * durable too. Several jobs may be in flight at once (the engine bounds how
 * many), on any threads, concurrently:
 *
 *   W1. Ranges. wal_flush_begin gives each job the file range that follows
 *       the previous job's: the log keeps a reserved end of the active
 *       segment (its durable size plus the bytes of the jobs in flight).
 *       Jobs take the pending records in LSN order, so the ranges of jobs
 *       in flight are disjoint and their order in the file is LSN order.
 *   W2. Prefix. The jobs wait in a FIFO in begin order. wal_flush_end may be
 *       called in any completion order; it marks the job finished and then
 *       advances the durable LSN (and the segment's durable size) over the
 *       longest prefix of the FIFO whose jobs have all finished with
 *       success. So a record is durable (and acknowledged) only when it and
 *       every record before it have been written and fdatasynced.
 *   W3. Rotation. A job that starts a new segment begins only when no other
 *       job is in flight, and no job begins while it is in flight; jobs
 *       never span two segments.
 *   W4. Failure. A failed job puts the log in the failed state: no job
 *       begins any more, and the durable LSN never passes the failed job's
 *       first record. Jobs before it may still finish and advance it; jobs
 *       after it may still finish (their bytes may be on disk) but never
 *       advance it.
 *   W5. Zero-filled space. The active segment may hold written zeros
 *       after its reserved end, up to zero_end: overwriting them needs no
 *       new file size in fdatasync, so a flush costs less than an append.
 *       A prep job (no records, not in the FIFO) writes and fdatasyncs the
 *       zeros of [from, to), from >= the reserved end at its begin (from =
 *       zero_end when the segment still has room, else a little further:
 *       the jobs that begin meanwhile append before it). At most one is in
 *       flight; while it is, a flush job begins only if its range ends at
 *       or before from (so no records are ever overwritten by zeros), and
 *       no rotating job begins (so its descriptor's segment stays the
 *       active one). Its end sets zero_end = to. A failed prep only stops
 *       the zero-filling of that segment: records never depend on it.
 *
 * Recovery needs nothing more. A crash may leave a later job's range written
 * and an earlier one's torn or a hole of zeros (never valid: type 0), and
 * the longest-valid-prefix rule then cuts the log at the hole and discards
 * the later range. That is exact: by W2 no record at or after the hole was
 * acknowledged, since the hole's records were not all fdatasynced.
 *
 * Where the scan stops, the rest of the file is either all zeros (the
 * zero-filled space of W5, or a job that never reached the disk: nothing to
 * discard) or not (a torn or corrupt record, or records written past a
 * hole). Only the second is a cut, and the file is truncated there: the
 * bytes past a hole may be valid records of this segment's salt with the
 * LSNs that new records will take, which must never be read again once the
 * log has grown back up to them. An all-zero tail is kept, and appending
 * overwrites it. A segment that is not the last can end in zeros too: W3
 * starts the next one only after every record before it is durable.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "storage/storage.h"
#include "storage/wal.h"

#define SEG_MAGIC "DFWALSEG"
#define SEG_VERSION 1
#define SEG_HDR 40
#define REC_HDR 24
#define SEG_NAME_LEN 20 /* 16 hex digits + ".wal" */
#define ZERO_ALIGN 4096u /* zero-filled ranges start and end on this */

/* One segment file of the log. */
typedef struct wal_seg {
  uint64_t first; /* LSN of its first record (and its name) */
  uint64_t size;  /* bytes in the file (header included) */
  uint64_t salt;  /* checksum seed from its header */
} wal_seg;

struct wal_log {
  char *dir;             /* the log directory */
  int dirfd;             /* open directory, for fsync after create/unlink */
  int fd;                /* the last segment, where records are appended */
  wal_seg *segs;         /* segments in LSN order; the last is the active one */
  size_t nseg;           /* entries in segs */
  size_t segcap;         /* allocated entries */
  size_t seg_max;        /* rotation size */
  int no_fsync;          /* skip fsyncs (tests) */
  st_buf pend;           /* pending records, framed, checksums not yet filled */
  st_buf spare;          /* an empty buffer to swap in when a job takes pend */
  size_t pend_records;   /* records in pend */
  size_t rec_start;      /* offset in pend of the record being built */
  int in_rec;            /* 1 between wal_rec_begin and commit/abort */
  uint64_t last_lsn;     /* last LSN assigned */
  uint64_t durable_lsn;  /* last LSN fsynced */
  uint64_t appended;     /* bytes appended (and replayed) since open */
  uint64_t resv_end;     /* end of the active segment's last job range (W1) */
  wal_flush *head;       /* oldest job not yet retired (FIFO, W2) */
  wal_flush *tail;       /* newest job */
  size_t in_flight;      /* jobs begun and not yet ended */
  int rotating;          /* 1 while a rotating job is in the FIFO (W3) */
  int rotate_soon;       /* 1: the next flush starts a new segment */
  int failed;            /* 1 after a failed flush: no more flushes */
  uint64_t fail_lsn;     /* first LSN of the first failed job (W4; UINT64_MAX if none) */
  uint64_t zero_end;     /* the active segment holds written zeros up to here (W5) */
  size_t zero_chunk;     /* bytes a prep job writes */
  wal_prep *prep;        /* the prep job in flight, or NULL */
  int prep_off;          /* 1 after a failed prep: none more in this segment */
};

/* A prep job: zeros for [from, to) of the active segment (W5). */
struct wal_prep {
  int fd;        /* its own descriptor of the segment */
  uint64_t from; /* first byte to zero */
  uint64_t to;   /* end */
  int no_fsync;  /* skip the fdatasync (tests) */
  int status;    /* result of wal_prep_run */
};

struct wal_flush {
  wal_flush *next;     /* next job in the log's FIFO */
  int fd;              /* segment written to (a new one after creating it) */
  int dirfd;           /* log directory, fsynced after creating a segment */
  int rotate;          /* 1: create the segment at path first */
  char *path;          /* new segment's path when rotating */
  uint64_t salt;       /* salt of the segment written to */
  uint64_t seg_first;  /* first LSN of the new segment when rotating */
  uint64_t off;        /* file offset where the records go */
  st_buf buf;          /* the records (taken from the pending buffer) */
  uint64_t first_lsn;  /* LSN of the job's first record */
  uint64_t last_lsn;   /* LSN of the job's last record */
  size_t records;      /* records in buf */
  int ended;           /* 1 once wal_flush_end saw it (it waits in the FIFO for W2) */
  int no_fsync;        /* skip fsyncs (tests) */
  int inject;          /* test hook: fail without writing */
  int status;          /* result of wal_flush_run */
};

/* ---- helpers ---------------------------------------------------------------- */

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint64_t get_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "dynafile: out of memory (%zu bytes)\n", n);
    abort();
  }
  return p;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = xmalloc(n);
  memcpy(p, s, n);
  return p;
}

static void errf(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static uint64_t new_salt(void) {
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s = XXH64(&ts, sizeof ts, (uint64_t)getpid());
  }
  return s;
}

static char *seg_path(const char *dir, uint64_t first) {
  size_t n = strlen(dir) + 1 + SEG_NAME_LEN + 1;
  char *p = xmalloc(n);
  snprintf(p, n, "%s/%016" PRIx64 ".wal", dir, first);
  return p;
}

/* 1 and *first set if name is a segment name. */
static int seg_parse_name(const char *name, uint64_t *first) {
  if (strlen(name) != SEG_NAME_LEN || strcmp(name + 16, ".wal") != 0) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 16; i++) {
    char c = name[i];
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else
      return 0;
    v = (v << 4) | (uint64_t)d;
  }
  *first = v;
  return 1;
}

static void seg_header_encode(uint8_t *h, uint64_t first, uint64_t salt) {
  memcpy(h, SEG_MAGIC, 8);
  put_le32(h + 8, SEG_VERSION);
  put_le32(h + 12, 0);
  put_le64(h + 16, first);
  put_le64(h + 24, salt);
  put_le64(h + 32, XXH64(h, 32, 0));
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, (off_t)off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ST_EIO;
    }
    p += w;
    n -= (size_t)w;
    off += (uint64_t)w;
  }
  return ST_OK;
}

static int sync_fd(int fd, int no_fsync) {
  if (no_fsync) return ST_OK;
  return fdatasync(fd) == 0 ? ST_OK : ST_EIO;
}

static int sync_dir(int dirfd, int no_fsync) {
  if (no_fsync) return ST_OK;
  return fsync(dirfd) == 0 ? ST_OK : ST_EIO;
}

static void segs_push(wal_log *w, uint64_t first, uint64_t size, uint64_t salt) {
  if (w->nseg == w->segcap) {
    size_t cap = w->segcap ? w->segcap * 2 : 8;
    wal_seg *s = realloc(w->segs, cap * sizeof *s);
    if (!s) {
      fprintf(stderr, "dynafile: out of memory\n");
      abort();
    }
    w->segs = s;
    w->segcap = cap;
  }
  w->segs[w->nseg++] = (wal_seg){first, size, salt};
}

/* Create segment first (truncating any file of that name), write its header,
 * make it and its name durable. *fd receives the open descriptor. */
static int seg_create(wal_log *w, uint64_t first, uint64_t salt, int *fd) {
  char *path = seg_path(w->dir, first);
  int rc = ST_EIO;
  int f = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f < 0) goto fail;
  uint8_t h[SEG_HDR];
  seg_header_encode(h, first, salt);
  if ((rc = pwrite_all(f, h, SEG_HDR, 0)) != ST_OK) goto fail;
  if ((rc = sync_fd(f, w->no_fsync)) != ST_OK) goto fail;
  if ((rc = sync_dir(w->dirfd, w->no_fsync)) != ST_OK) goto fail;
  *fd = f;
  free(path);
  return ST_OK;
fail:
  if (f >= 0) close(f);
  free(path);
  return rc;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* ---- recovery ----------------------------------------------------------- */

/* Zeros to compare with (all_zero) and to write (wal_prep_run). */
static const uint8_t zeros[64 * 1024];

/* 1 if the n bytes at p are all zero. */
static int all_zero(const uint8_t *p, size_t n) {
  while (n >= sizeof zeros) {
    if (memcmp(p, zeros, sizeof zeros) != 0) return 0;
    p += sizeof zeros;
    n -= sizeof zeros;
  }
  return memcmp(p, zeros, n) == 0;
}

/* Outcome of reading one segment. */
typedef struct seg_scan {
  int hdr_ok;        /* header valid */
  uint64_t salt;     /* from the header */
  uint64_t end;      /* offset after the last valid record (0 if hdr bad) */
  uint64_t size;     /* file size */
  uint64_t zero_end; /* end of the zeros that follow end (= end if none) */
  int cut;           /* 1 if an invalid record stopped the scan before size */
  char why[120];     /* reason for the cut */
} seg_scan;

/* Read segment path, expected to start at *expected; pass records with
 * LSN > after to fn; advance *expected past every valid record. Returns
 * ST_OK (the scan result is in sc) or an I/O error / fn's error. */
static int seg_read(const char *path, uint64_t name_first, uint64_t *expected, uint64_t after,
                    wal_replay_fn fn, void *ctx, seg_scan *sc, wal_recovery *rec) {
  memset(sc, 0, sizeof *sc);
  int rc = ST_OK;
  uint8_t *map = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ST_EIO;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    rc = ST_EIO;
    goto done;
  }
  sc->size = (uint64_t)st.st_size;
  if (sc->size < SEG_HDR) {
    snprintf(sc->why, sizeof sc->why, "segment header torn (%" PRIu64 " bytes)", sc->size);
    sc->cut = 1;
    goto done;
  }
  map = mmap(NULL, (size_t)sc->size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) {
    map = NULL;
    rc = ST_EIO;
    goto done;
  }
  const uint8_t *h = map;
  if (memcmp(h, SEG_MAGIC, 8) != 0 || get_le64(h + 32) != XXH64(h, 32, 0)) {
    snprintf(sc->why, sizeof sc->why, "bad segment header");
    sc->cut = 1;
    goto done;
  }
  if (get_le32(h + 8) != SEG_VERSION) {
    rc = ST_EVERSION;
    goto done;
  }
  uint64_t first = get_le64(h + 16);
  if (first != name_first || first != *expected) {
    snprintf(sc->why, sizeof sc->why,
             "segment starts at LSN %" PRIu64 ", expected %" PRIu64, first, *expected);
    sc->cut = 1;
    goto done;
  }
  sc->hdr_ok = 1;
  sc->salt = get_le64(h + 24);
  uint64_t off = SEG_HDR;
  while (off < sc->size) {
    const uint8_t *r = map + off;
    uint64_t left = sc->size - off;
    const char *bad = NULL;
    uint32_t len = 0;
    if (left < REC_HDR) {
      bad = "torn record header";
    } else {
      len = get_le32(r + 8);
      if (len > WAL_MAX_PAYLOAD)
        bad = "record length out of range";
      else if ((uint64_t)REC_HDR + len > left)
        bad = "torn record";
      else if (get_le64(r) != XXH64(r + 8, (size_t)REC_HDR - 8 + len, sc->salt))
        bad = "record checksum mismatch";
      else if (r[12] == 0 || r[13] || r[14] || r[15])
        bad = "bad record type";
      else if (get_le64(r + 16) != *expected)
        bad = "record out of sequence";
    }
    if (bad && all_zero(r, (size_t)left)) { /* the zero-filled space (W5) */
      sc->zero_end = sc->size;
      break;
    }
    if (bad) {
      snprintf(sc->why, sizeof sc->why, "%s at offset %" PRIu64 " (LSN %" PRIu64 ")", bad, off,
               *expected);
      sc->cut = 1;
      break;
    }
    uint64_t lsn = *expected;
    if (lsn > after) {
      if (fn) {
        rc = fn(ctx, lsn, r[12], r + REC_HDR, len);
        if (rc != ST_OK) goto done;
      }
      rec->replayed++;
      rec->replayed_bytes += REC_HDR + len;
    }
    (*expected)++;
    off += REC_HDR + len;
  }
  sc->end = off;
  if (sc->zero_end < off) sc->zero_end = off;
done:
  if (map) munmap(map, (size_t)sc->size);
  close(fd);
  return rc;
}

static int unlink_seg(wal_log *w, uint64_t first) {
  char *p = seg_path(w->dir, first);
  int rc = (unlink(p) == 0 || errno == ENOENT) ? ST_OK : ST_EIO;
  free(p);
  return rc;
}

int wal_open(const char *dir, uint64_t after_lsn, const wal_options *opt, wal_replay_fn fn,
             void *ctx, wal_log **out, wal_recovery *recp, char *err, size_t errlen) {
  wal_recovery rec_local;
  wal_recovery *rec = recp ? recp : &rec_local;
  memset(rec, 0, sizeof *rec);
  *out = NULL;
  if (err && errlen) err[0] = 0;
  int rc = ST_OK;
  uint64_t *names = NULL;
  size_t nnames = 0, capnames = 0;
  DIR *d = NULL;

  wal_log *w = xmalloc(sizeof *w);
  memset(w, 0, sizeof *w);
  w->fd = -1;
  w->fail_lsn = UINT64_MAX;
  w->dir = xstrdup(dir);
  w->seg_max = opt && opt->segment_bytes ? opt->segment_bytes : WAL_DEFAULT_SEGMENT;
  w->no_fsync = opt ? opt->no_fsync : 0;
  size_t chunk = opt && opt->zero_chunk ? opt->zero_chunk : WAL_DEFAULT_ZERO_CHUNK;
  w->zero_chunk = (chunk + ZERO_ALIGN - 1) / ZERO_ALIGN * ZERO_ALIGN;
  st_buf_init(&w->pend);
  st_buf_init(&w->spare);
  w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (w->dirfd < 0) {
    errf(err, errlen, "cannot open log directory %s: %s", dir, strerror(errno));
    rc = ST_EIO;
    goto fail;
  }

  /* Collect the segment names in LSN order. */
  d = opendir(dir);
  if (!d) {
    errf(err, errlen, "cannot list log directory %s: %s", dir, strerror(errno));
    rc = ST_EIO;
    goto fail;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    uint64_t first;
    if (!seg_parse_name(de->d_name, &first)) continue;
    if (nnames == capnames) {
      capnames = capnames ? capnames * 2 : 16;
      uint64_t *n = realloc(names, capnames * sizeof *n);
      if (!n) abort();
      names = n;
    }
    names[nnames++] = first;
  }
  closedir(d);
  d = NULL;
  if (nnames) qsort(names, nnames, sizeof *names, cmp_u64);

  /* Start at the last segment whose first LSN <= after_lsn + 1: it holds
   * the first record needed. Earlier ones are wholly covered (removed). */
  size_t start = 0;
  int have_start = 0;
  for (size_t i = 0; i < nnames; i++)
    if (names[i] <= after_lsn + 1) {
      start = i;
      have_start = 1;
    }
  if (nnames > 0 && !have_start) {
    errf(err, errlen,
         "log in %s begins at LSN %" PRIu64 " but LSN %" PRIu64
         " is needed: log segments are missing",
         dir, names[0], after_lsn + 1);
    rc = ST_ECORRUPT;
    goto fail;
  }
  for (size_t i = 0; i < start; i++) unlink_seg(w, names[i]);

  /* Read. */
  int changed = start > 0; /* directory changed: fsync it */
  uint64_t expected = nnames ? names[start] : after_lsn + 1;
  size_t stop = nnames; /* index of the segment where reading stopped */
  for (size_t i = start; i < nnames; i++) {
    char *path = seg_path(dir, names[i]);
    seg_scan sc;
    rc = seg_read(path, names[i], &expected, after_lsn, fn, ctx, &sc, rec);
    free(path);
    if (rc != ST_OK) {
      if (rc == ST_EVERSION)
        errf(err, errlen, "log segment %016" PRIx64 ".wal has an unsupported format version",
             names[i]);
      else if (!err || !err[0])
        errf(err, errlen, "cannot read log segment %016" PRIx64 ".wal (%s)", names[i],
             st_strerror(rc));
      goto fail;
    }
    if (sc.hdr_ok) {
      segs_push(w, names[i], sc.end, sc.salt);
      w->zero_end = sc.zero_end; /* = sc.end after a cut: it truncates */
    }
    if (sc.cut) {
      rec->cut = 1;
      snprintf(rec->cut_reason, sizeof rec->cut_reason, "segment %016" PRIx64 ".wal: %s",
               names[i], sc.why);
      rec->cut_bytes += sc.size - sc.end;
      stop = i;
      if (sc.hdr_ok) {
        /* Cut this segment at the last valid record. */
        char *p = seg_path(dir, names[i]);
        int tfd = open(p, O_RDWR | O_CLOEXEC);
        free(p);
        if (tfd < 0 || ftruncate(tfd, (off_t)sc.end) != 0 || sync_fd(tfd, w->no_fsync) != 0) {
          if (tfd >= 0) close(tfd);
          errf(err, errlen, "cannot truncate log segment %016" PRIx64 ".wal: %s", names[i],
               strerror(errno));
          rc = ST_EIO;
          goto fail;
        }
        close(tfd);
      } else {
        unlink_seg(w, names[i]);
        changed = 1;
      }
      break;
    }
  }
  /* Remove every segment after the stop point. */
  for (size_t i = stop + 1; i < nnames; i++) {
    struct stat st;
    char *p = seg_path(dir, names[i]);
    if (stat(p, &st) == 0) rec->cut_bytes += (uint64_t)st.st_size;
    free(p);
    unlink_seg(w, names[i]);
    changed = 1;
  }
  uint64_t last_valid = expected - 1;
  rec->last_lsn = last_valid > after_lsn ? last_valid : after_lsn;

  /* Appending continues in the last valid segment, unless the log ends
   * before after_lsn (then those records are covered anyway: start afresh). */
  if (w->nseg == 0 || last_valid < after_lsn) {
    for (size_t i = 0; i < w->nseg; i++) unlink_seg(w, w->segs[i].first);
    w->nseg = 0;
    uint64_t salt = new_salt();
    rc = seg_create(w, after_lsn + 1, salt, &w->fd);
    if (rc != ST_OK) {
      errf(err, errlen, "cannot create log segment in %s: %s", dir, strerror(errno));
      goto fail;
    }
    segs_push(w, after_lsn + 1, SEG_HDR, salt);
    w->zero_end = SEG_HDR;
    changed = 0; /* seg_create fsynced the directory */
  } else {
    char *p = seg_path(dir, w->segs[w->nseg - 1].first);
    w->fd = open(p, O_RDWR | O_CLOEXEC);
    free(p);
    if (w->fd < 0) {
      errf(err, errlen, "cannot open log segment: %s", strerror(errno));
      rc = ST_EIO;
      goto fail;
    }
  }
  if (changed && sync_dir(w->dirfd, w->no_fsync) != ST_OK) {
    errf(err, errlen, "cannot fsync log directory %s: %s", dir, strerror(errno));
    rc = ST_EIO;
    goto fail;
  }
  w->last_lsn = w->durable_lsn = rec->last_lsn;
  w->appended = rec->replayed_bytes;
  w->resv_end = w->segs[w->nseg - 1].size;
  free(names);
  *out = w;
  return ST_OK;
fail:
  if (d) closedir(d);
  free(names);
  wal_close(w);
  return rc;
}

static void job_free(wal_flush *f) {
  if (f->rotate && f->fd >= 0) close(f->fd);
  st_buf_free(&f->buf);
  free(f->path);
  free(f);
}

void wal_close(wal_log *w) {
  if (!w) return;
  while (w->head) { /* jobs abandoned in flight (a simulated crash) */
    wal_flush *f = w->head;
    w->head = f->next;
    job_free(f);
  }
  if (w->prep) { /* abandoned in flight too */
    close(w->prep->fd);
    free(w->prep);
  }
  if (w->fd >= 0) close(w->fd);
  if (w->dirfd >= 0) close(w->dirfd);
  st_buf_free(&w->pend);
  st_buf_free(&w->spare);
  free(w->segs);
  free(w->dir);
  free(w);
}

/* ---- appending ---------------------------------------------------------- */

st_buf *wal_rec_begin(wal_log *w, size_t *payload_off) {
  w->in_rec = 1;
  w->rec_start = w->pend.len;
  st_buf_reserve(&w->pend, REC_HDR);
  memset(w->pend.p + w->pend.len, 0, REC_HDR);
  w->pend.len += REC_HDR;
  *payload_off = w->pend.len;
  return &w->pend;
}

int wal_rec_commit(wal_log *w, unsigned type, uint64_t *lsn) {
  size_t len = w->pend.len - w->rec_start - REC_HDR;
  w->in_rec = 0;
  if (len > WAL_MAX_PAYLOAD || type == 0 || type > 255) {
    w->pend.len = w->rec_start;
    return len > WAL_MAX_PAYLOAD ? ST_ETOOBIG : ST_EINVAL;
  }
  uint8_t *h = w->pend.p + w->rec_start;
  put_le32(h + 8, (uint32_t)len);
  h[12] = (uint8_t)type;
  h[13] = h[14] = h[15] = 0;
  put_le64(h + 16, ++w->last_lsn);
  w->pend_records++;
  w->appended += REC_HDR + len;
  *lsn = w->last_lsn;
  return ST_OK;
}

void wal_rec_abort(wal_log *w) {
  w->pend.len = w->rec_start;
  w->in_rec = 0;
}

uint64_t wal_last_lsn(const wal_log *w) { return w->last_lsn; }
uint64_t wal_durable_lsn(const wal_log *w) { return w->durable_lsn; }
uint64_t wal_appended_bytes(const wal_log *w) { return w->appended; }
size_t wal_pending_bytes(const wal_log *w) { return w->pend.len; }
size_t wal_segment_count(const wal_log *w) { return w->nseg; }

/* ---- group commit --------------------------------------------------------- */

wal_flush *wal_flush_begin(wal_log *w) {
  if (w->failed || w->in_rec || w->pend_records == 0 || w->rotating) return NULL;
  int rotate = (w->resv_end >= w->seg_max || w->rotate_soon) && w->resv_end > SEG_HDR;
  if (rotate && (w->in_flight > 0 || w->prep)) return NULL; /* W3, W5: after the jobs in flight */
  if (!rotate && w->prep && w->resv_end + w->pend.len > w->prep->from) return NULL; /* W5 */
  wal_flush *f = xmalloc(sizeof *f);
  memset(f, 0, sizeof *f);
  wal_seg *cur = &w->segs[w->nseg - 1];
  f->dirfd = w->dirfd;
  f->no_fsync = w->no_fsync;
  f->status = ST_EIO; /* until wal_flush_run says otherwise */
  f->records = w->pend_records;
  f->last_lsn = w->last_lsn;
  f->first_lsn = w->last_lsn - w->pend_records + 1;
  f->buf = w->pend;
  w->pend = w->spare;
  w->pend.len = 0;
  st_buf_init(&w->spare);
  w->pend_records = 0;
  if (rotate) {
    w->rotate_soon = 0;
    w->rotating = 1;
    f->rotate = 1;
    f->fd = -1;
    f->seg_first = f->first_lsn;
    f->path = seg_path(w->dir, f->seg_first);
    f->salt = new_salt();
    f->off = SEG_HDR;
    w->zero_end = SEG_HDR; /* the new segment's: no prep begins before it is active */
    w->prep_off = 0;
  } else {
    f->fd = w->fd;
    f->salt = cur->salt;
    f->off = w->resv_end;
  }
  w->resv_end = f->off + f->buf.len; /* W1 */
  if (w->tail)
    w->tail->next = f;
  else
    w->head = f;
  w->tail = f;
  w->in_flight++;
  return f;
}

void wal_flush_inject_error(wal_flush *f) { f->inject = 1; }

int wal_flush_run(wal_flush *f) {
  int rc = ST_OK;
  /* Fill in the checksums: the salt is known only now that the segment is. */
  for (size_t off = 0; off < f->buf.len;) {
    uint8_t *r = f->buf.p + off;
    uint32_t len = get_le32(r + 8);
    put_le64(r, XXH64(r + 8, (size_t)REC_HDR - 8 + len, f->salt));
    off += REC_HDR + len;
  }
  if (f->inject) {
    rc = ST_EIO;
    goto done;
  }
  if (f->rotate) {
    f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
      rc = ST_EIO;
      goto done;
    }
    uint8_t h[SEG_HDR];
    seg_header_encode(h, f->seg_first, f->salt);
    if ((rc = pwrite_all(f->fd, h, SEG_HDR, 0)) != ST_OK) goto done;
  }
  if ((rc = pwrite_all(f->fd, f->buf.p, f->buf.len, f->off)) != ST_OK) goto done;
  if ((rc = sync_fd(f->fd, f->no_fsync)) != ST_OK) goto done;
  if (f->rotate && (rc = sync_dir(f->dirfd, f->no_fsync)) != ST_OK) goto done;
done:
  f->status = rc;
  return rc;
}

int wal_flush_end(wal_log *w, wal_flush *f, uint64_t *records) {
  int rc = f->status;
  if (records) *records = f->records;
  f->ended = 1;
  w->in_flight--;
  if (rc != ST_OK) {
    w->failed = 1; /* W4 */
    if (f->first_lsn < w->fail_lsn) w->fail_lsn = f->first_lsn;
  }
  /* W2: retire the finished prefix of the FIFO, advancing durability over
   * the jobs that succeeded before any failure. */
  while (w->head && w->head->ended) {
    wal_flush *h = w->head;
    w->head = h->next;
    if (!w->head) w->tail = NULL;
    if (h->status == ST_OK && h->last_lsn < w->fail_lsn) {
      if (h->rotate) {
        close(w->fd);
        w->fd = h->fd;
        h->fd = -1;
        segs_push(w, h->seg_first, SEG_HDR, h->salt);
      }
      w->segs[w->nseg - 1].size = h->off + h->buf.len;
      w->durable_lsn = h->last_lsn;
    }
    if (h->rotate) w->rotating = 0;
    /* Keep the job's buffer as the next spare (the larger one). */
    if (h->buf.cap > w->spare.cap) {
      st_buf tmp = w->spare;
      w->spare = h->buf;
      w->spare.len = 0;
      h->buf = tmp;
    }
    job_free(h);
  }
  return rc;
}

/* ---- zero-filling (W5) -------------------------------------------------------- */

static uint64_t align_up(uint64_t v) { return (v + ZERO_ALIGN - 1) / ZERO_ALIGN * ZERO_ALIGN; }

wal_prep *wal_prep_begin(wal_log *w) {
  if (w->failed || w->rotating || w->prep || w->prep_off || w->rotate_soon) return NULL;
  uint64_t end = w->resv_end + w->pend.len; /* where the next job's range ends */
  if (w->zero_end >= end + w->zero_chunk / 2) return NULL; /* room enough */
  if (end >= w->seg_max) return NULL; /* the segment is due to rotate */
  /* With room left, continue the zeros; else leave a quarter chunk for the
   * jobs that begin meanwhile, which append as before. */
  uint64_t from = w->zero_end >= end ? w->zero_end : align_up(end + w->zero_chunk / 4);
  uint64_t to = align_up(from + w->zero_chunk);
  uint64_t cap = align_up(w->seg_max); /* zeros past it would never be used */
  if (from >= cap) return NULL;
  if (to > cap) to = cap;
  int fd = dup(w->fd);
  if (fd < 0) return NULL; /* out of descriptors: append as before */
  wal_prep *p = xmalloc(sizeof *p);
  *p = (wal_prep){.fd = fd, .from = from, .to = to, .no_fsync = w->no_fsync, .status = ST_EIO};
  w->prep = p;
  return p;
}

int wal_prep_run(wal_prep *p) {
  struct iovec iov[16];
  int rc = ST_OK;
  for (uint64_t off = p->from; off < p->to && rc == ST_OK;) {
    int n = 0;
    uint64_t e = off;
    while (n < 16 && e < p->to) {
      size_t k = p->to - e < sizeof zeros ? (size_t)(p->to - e) : sizeof zeros;
      iov[n++] = (struct iovec){(void *)zeros, k};
      e += k;
    }
    ssize_t wr = pwritev(p->fd, iov, n, (off_t)off);
    if (wr > 0)
      off += (uint64_t)wr; /* a short write goes on from where it stopped */
    else if (wr == 0 || errno != EINTR)
      rc = ST_EIO;
  }
  if (rc == ST_OK) rc = sync_fd(p->fd, p->no_fsync);
  p->status = rc;
  return rc;
}

int wal_prep_end(wal_log *w, wal_prep *p) {
  int rc = p->status;
  if (rc == ST_OK)
    w->zero_end = p->to;
  else
    w->prep_off = 1;
  w->prep = NULL;
  close(p->fd);
  free(p);
  return rc;
}

uint64_t wal_zero_room(const wal_log *w) {
  return w->zero_end > w->resv_end ? w->zero_end - w->resv_end : 0;
}

/* ---- retiring segments ------------------------------------------------------ */

size_t wal_retirable(const wal_log *w, uint64_t lsn, char ***paths) {
  size_t n = 0;
  while (n + 1 < w->nseg && w->segs[n + 1].first <= lsn + 1) n++;
  *paths = NULL;
  if (n == 0) return 0;
  char **p = xmalloc(n * sizeof *p);
  for (size_t i = 0; i < n; i++) p[i] = seg_path(w->dir, w->segs[i].first);
  *paths = p;
  return n;
}

void wal_forget(wal_log *w, size_t n) {
  if (n >= w->nseg) n = w->nseg - 1; /* never the active segment */
  memmove(w->segs, w->segs + n, (w->nseg - n) * sizeof *w->segs);
  w->nseg -= n;
}

int wal_skip_to(wal_log *w, uint64_t lsn) {
  if (lsn <= w->last_lsn) return ST_OK;
  if (w->in_flight || w->prep || w->in_rec || w->pend_records || w->failed) return ST_EBUSY;
  uint64_t salt = new_salt();
  int fd;
  int rc = seg_create(w, lsn + 1, salt, &fd);
  if (rc != ST_OK) return rc;
  close(w->fd);
  w->fd = fd;
  segs_push(w, lsn + 1, SEG_HDR, salt);
  w->resv_end = SEG_HDR;
  w->zero_end = SEG_HDR;
  w->prep_off = 0;
  w->last_lsn = w->durable_lsn = lsn;
  return ST_OK;
}

void wal_rotate_soon(wal_log *w, uint64_t min_bytes) {
  if (w->resv_end >= min_bytes) w->rotate_soon = 1;
}

void wal_free_paths(char **paths, size_t n) {
  for (size_t i = 0; i < n; i++) free(paths[i]);
  free(paths);
}
