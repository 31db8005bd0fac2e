/*
 * storage.c -- the engine behind storage.h: the data directory, the
 * in-memory catalog, item reads and writes over per-partition B-trees,
 * change events (event logs), secondary indexes, group commit over the
 * write-ahead log, checkpoints and recovery.
 *
 * ---- Data directory ------------------------------------------------------
 *
 *   <dir>/LOCK                 flock(LOCK_EX|LOCK_NB) held while open; holds
 *                              the owner's pid (for the "in use" message)
 *   <dir>/catalog              tables as of the last checkpoint (catalog.c)
 *   <dir>/catalog.tmp          a catalog being written (removed at open)
 *   <dir>/wal/<lsn16>.wal      log segments, named by first LSN (wal.c)
 *   <dir>/tables/<id>/p<n>.bt  B-tree of partition n of table <id> (btree.c),
 *                              created on the first write to that partition:
 *                              a table without data has no files. An event
 *                              log <id> has one partition, p0.bt (below); a
 *                              secondary index <id> has partitions like a
 *                              table, holding its entries (below)
 *
 * ---- Log payload ---------------------------------------------------------
 *
 * Every record the engine writes has type 1 ("operations") and its payload
 * is a sequence of operations applied in order, all or nothing: one st_write
 * batch is one record. Each operation is one opcode byte then its fields
 * (varint = unsigned LEB128):
 *
 *   op  name          fields
 *   1   PUT           varint table id, varint partition, varint key length,
 *                     key (codec.h key encoding), varint item length, item
 *                     (codec.h item encoding). On an index: the entry key
 *                     (codec.h index entry key) and the projected item
 *   2   DEL           varint table id, varint partition, varint key length, key
 *                     (a table's item or an index's entry)
 *   3   CREATE_TABLE  table definition, version 1 (catalog.c encoding, with
 *                     its id; always a table). Written by older versions,
 *                     still replayed
 *   4   DROP_TABLE    varint table id (a table, an event log or an index).
 *                     st_table_drop of a table with indexes writes one
 *                     DROP_TABLE per index first, then the table's, in one
 *                     record; applying a table's drop also drops any index
 *                     still linked to it (cascade), so no index ever
 *                     outlives its base
 *   5   SET_META      varint table id, varint length, meta bytes
 *   6   CREATE_V2     table definition, version 2 (with its kind: a table, an
 *                     event log or an index); every creation writes this one
 *   7   EVENT         varint event-log id, varint index i of the event
 *                     within the record (0, 1, 2... in request order; <
 *                     65536), then the event encoding (below)
 *   8   TRIM          varint event-log id, varint before: delete the log's
 *                     events with seq < before and raise its trim point to
 *                     before
 *
 * A record that passes the log's checksum but does not parse, or names a
 * table that does not exist, makes st_open fail with ST_ECORRUPT: it is not
 * a torn tail but damage (or a bug), and guessing would lose data silently.
 *
 * Event encoding (the bytes after the index of an EVENT operation, and the
 * value stored for the event in its log's tree):
 *
 *   field     encoding
 *   kind      1 byte: 1 INSERT, 2 MODIFY, 3 REMOVE (st_event_kind)
 *   flags     1 byte: ST_EVF_* (bit 0: TTL deletion)
 *   time_ms   varint: wall-clock time of the st_write, epoch milliseconds
 *   keys      varint length (> 0) + codec.h item encoding of a map holding
 *             the table's key attributes
 *   old       varint length + item encoding of the item before the change;
 *             length 0 = absent (INSERT, or the view keeps no old image)
 *   new       varint length + item encoding of the item after the change;
 *             length 0 = absent (REMOVE, or the view keeps no new image)
 *
 * Event logs: an event log is a catalog entry of kind ST_KIND_EVENTS with
 * one partition whose tree maps the 8-byte big-endian sequence number
 * seq = (LSN << 16) | i of each event to its event encoding. Applying an
 * EVENT computes seq from the LSN of the record that holds it (live and at
 * replay alike), so nothing guesses an LSN ahead of the commit. A table
 * with a log attached (in memory, st_table_set_events) gets, from st_write,
 * one EVENT operation per request that changes data, appended to the same
 * record after the item operations; whether a request changes data is
 * decided before logging, from the item's stored bytes (the item encoding
 * is canonical, so equal bytes are equal items).
 *
 * Secondary indexes: an index is a catalog entry of kind ST_KIND_INDEX
 * whose definition names its base table (catalog.c; its own ns is
 * CAT_IX_NS, so it never appears among a namespace's tables). In memory an
 * index points to its base and the base lists its indexes in creation
 * order; the link is made when the catalog is loaded (a dangling index is
 * ST_ECORRUPT), when a CREATE_V2 of an index is applied, and undone when
 * either side is dropped. Its partition trees map the codec.h index entry
 * key to the item encoding of the entry's projection (KEYS_ONLY: the base's
 * and the index's key attributes; INCLUDE: those and the named attributes
 * present; ALL: the item's own encoding), so its user words keep the entry
 * count and the sum of the entries' DynamoDB sizes (IndexSizeBytes). An
 * item is in an index when it has every index key attribute with the
 * declared type and a legal key value (check_key) and its entry key fits a
 * B-tree key (BT_MAX_KEY; only keys of several KB together miss it). For a
 * table with indexes, st_write reads each item as it was before the batch,
 * computes for every index its old and new entry, and appends to the same
 * record, after all the item operations and before the EVENT operations,
 * a DEL of the old entry key when the item left the index or its entry
 * key changed and a PUT of the new entry when the item is in the index and
 * its entry key or bytes changed (an unchanged entry writes nothing). Its
 * index operations are ordinary PUT / DEL on the index's id and partition.
 * st_index_fill (backfill) writes a record of PUTs of the entries of the
 * items it read, skipping those stored byte-identical.
 *
 * Partitions: the partition of a key is the top log2(partitions) bits of the
 * 64-bit partition-key hash that begins its encoding (codec.h), so partition
 * order is hash order and a whole table in (partition, key) order is in
 * encoded-key order. Each partition's tree keeps in its user words
 * u[0] = item count and u[1] = sum of DynamoDB item sizes, written by every
 * checkpoint of that tree and maintained by replay. An event log's tree
 * keeps u[0] = event count, u[1] = sum of their event-encoding bytes and
 * u[2] = the trim point (the trim point changes the words, which makes the
 * tree part of the next checkpoint even when a trim deleted nothing).
 *
 * ---- Durability invariants ---------------------------------------------------
 *
 * D1. Write-ahead. Every change (item or catalog) is appended to the log as
 *     one record before it is applied to the in-memory trees or catalog; the
 *     call returns the record's LSN. The change is visible to later reads at
 *     once but durable only when st_durable_lsn() >= that LSN: the server
 *     acknowledges nothing (and reveals no state read after it) before then.
 *
 * D2. Group commit. A flush job takes the pending records in LSN order and
 *     writes them with one write and one fdatasync (plus an fsync of the log
 *     directory when it starts a segment) to its own file range, the one
 *     after the previous job's. Up to opt.max_flushes jobs run at once, in
 *     any completion order; the durable LSN advances only over the longest
 *     prefix of jobs (in LSN order) that have all finished with success
 *     (wal.c W1-W4), so records still become durable in LSN order, and a
 *     record is durable only when every record before it is too. A prep
 *     job (st_prep_begin) writes zeros ahead of the appends, outside every
 *     range in flight, so that flushes overwrite instead of growing the
 *     file (wal.c W5); it carries no records and nothing waits on it but a
 *     flush that would reach its zeros.
 *
 * D3. Torn tail. Recovery replays the longest valid prefix of the log
 *     (validity rule in wal.c) and truncates the rest (unless it is all
 *     zeros: W5's space, kept for appending). A record that is not
 *     entirely valid was written by a flush that never finished, so neither
 *     it nor any record after it (which a concurrent later job may have
 *     written completely) was ever durable or acknowledged (D1, D2). A
 *     batch is one record, so after a crash a batch is present entirely or
 *     not at all.
 *
 * D4. Copy-on-write trees. A partition file always holds the complete tree
 *     of its last finished checkpoint, labelled with an LSN L_p in its meta
 *     page, reflecting exactly the records <= L_p that touch it.
 *     st_checkpoint_begin seals every dirty tree at the last LSN C (all
 *     records <= C applied, none after, batches whole), and
 *     st_checkpoint_run writes nothing before the log is durable up to C.
 *     So no file ever holds a change whose record is not durable, and a
 *     crash in the middle of a checkpoint cannot leave half a batch.
 *
 * D5. Checkpoint order. st_checkpoint_run, for a checkpoint at LSN C:
 *       (0) waits until the log is durable up to C (D4);
 *       (a) writes every sealed tree's pages, fdatasync, then its meta page
 *           (L_p = C), fdatasync (bt_checkpoint_run); stops at the first
 *           failure, without writing the catalog;
 *       (b) fsyncs the directories in which partition files were created
 *           since the last checkpoint, so that their names are durable;
 *       (c) writes the catalog (live tables, C, next id) to catalog.tmp,
 *           fsyncs it, renames it over catalog, fsyncs the data directory;
 *       (d) only then deletes the log segments all of whose records are
 *           <= C, and the directories of tables dropped before C.
 *
 * D6. Recovery is exact. st_open loads the catalog (tables and C), opens the
 *     existing partition files, and replays every log record > C: catalog
 *     operations always, an item operation on partition p only if its LSN
 *     > L_p. This applies each change exactly once: a partition with a
 *     change at an LSN <= C was dirty when the checkpoint at C began, so it
 *     was sealed and written at C (D5a) before the catalog named C (D5c);
 *     hence every change of partition p with LSN <= C has LSN <= L_p and is
 *     in the file, and the log holds every record > C (D5d). Replay
 *     recomputes the item count and size bytes from the old values the
 *     trees return. (PUT and DEL are last-writer-wins, so even re-applying
 *     a record would not change the result; the L_p rule keeps replay exact
 *     for any future operation that is not.)
 *
 * D7. A crash at any point of a checkpoint is safe. Before (c) completes the
 *     old catalog (C_old) is in force and every segment it needs is still
 *     there; trees that finished (a) carry L_p = C > C_old and replay skips
 *     what they already hold, trees that did not still have their old
 *     snapshot (D4). After (c), C is in force; the deletions of (d) are
 *     idempotent: a segment that comes back after a crash is wholly <= C
 *     and recovery removes it, a table directory that comes back is not in
 *     the catalog and is deleted again at the next checkpoint.
 *
 * D8. Files. A partition file is created by its first write (bt_open
 *     creates it atomically and fsyncs it and its directory); the table
 *     directory's own name is made durable by the next checkpoint (D5b),
 *     before any catalog claims to cover its records. So a missing
 *     partition file means that no finished checkpoint covered any change
 *     of it: it is empty and replay rebuilds it from the log. The data,
 *     wal/ and tables/ directories are fsynced into their parents when
 *     st_open creates them. Files of a dropped table are deleted at the
 *     first checkpoint whose catalog no longer lists the table (D5d); at
 *     open, table directories whose id is not live after replay are queued
 *     for that deletion too. Replay tolerates missing files throughout.
 *
 * D9. Failure. If a flush fails, the engine enters the failed state: every
 *     later write returns ST_EFAILED, because memory holds changes that may
 *     never become durable. The same happens if a logged batch cannot be
 *     applied to the trees (an I/O error reading a page), since memory and
 *     log would disagree. A restart recovers from the disk. A failed
 *     checkpoint leaves the engine usable: the old catalog stays in force,
 *     the log is kept, and the next checkpoint retries.
 *
 * D10. Table ids are never reused (next id is in every catalog and every
 *     CREATE_TABLE / CREATE_V2 record), so a log record can never reach a
 *     table or event log other than the one it was written for.
 *
 * D11. LSNs are never reused against a file. By D4 no partition file is
 *     ahead of the durable log; if the log nevertheless ends below some
 *     file's L_p (a damaged middle record cut it, segments were deleted by
 *     hand), st_open continues the log after the highest L_p and
 *     checkpoints at once, so that a new record can never carry an LSN that
 *     replay would skip as "already in the file". What was lost is reported
 *     by st_recovery_note().
 *
 * D12. Events. A change event is an operation of the same record as the
 *     change it describes, so after a crash a change and its event are both
 *     present or both absent (D3), and a checkpoint covers both or neither
 *     (D4-D6: the log's tree follows the same L_p rule as a partition).
 *     Its seq derives from the record's LSN, so a seq is never reused
 *     (D11), seqs increase in commit order, and an event is durable exactly
 *     when its record is. A TRIM is logged like any change; the trim point
 *     it sets is in the log tree's user words, never lowered, so trimmed
 *     events never come back after recovery.
 *
 * D13. Indexes. A base write and the index operations that keep every
 *     index of the base exact are operations of one record (the index
 *     operations computed from the item as it was before the batch, which
 *     may not touch one item twice), so after a crash the base item and all
 *     its entries are both at the new state or both at the old (D3), and a
 *     checkpoint never holds one without the other (D4). Replay applies an
 *     index's PUT / DEL exactly like an item's, under the same L_p rule per
 *     index partition (D6), and recomputes the entry count and size bytes
 *     from the old values its trees return. The index's CREATE_V2 is a
 *     record of its own that precedes every record that maintains it, and
 *     the DROPs of a base's indexes are in the base's DROP record, so replay
 *     never meets an index operation on a missing index or an index whose
 *     base is gone (either is ST_ECORRUPT). A backfill record (st_index_fill)
 *     holds ordinary PUTs of entries as they are at that moment; any later
 *     write to those items is a later record, so replay ends at the same
 *     entries as the live engine did. An index's files go like a dropped
 *     table's (D5d, D8).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "storage/btree.h"
#include "storage/catalog.h"
#include "storage/codec.h"
#include "storage/storage.h"
#include "storage/wal.h"

#define REC_OPS 1 /* the engine's only log record type */

enum {
  OP_PUT = 1,
  OP_DEL = 2,
  OP_CREATE = 3, /* version-1 definition (replay only) */
  OP_DROP = 4,
  OP_SET_META = 5,
  OP_CREATE_V2 = 6,
  OP_EVENT = 7,
  OP_TRIM = 8
};

#define MAX_HASH_KEY 2048     /* partition-key bytes */
#define MAX_RANGE_KEY 1024    /* sort-key bytes */
#define MAX_ITEM 409600       /* DynamoDB item size */
#define MAX_NAME 1024         /* namespace, table and key names (bytes) */
#define MAX_META (16u << 20)  /* opaque table meta bytes */
#define MAX_PARTITIONS 65536
#define MAX_EVENTS 65536      /* events of one record: the index is 16 bits of seq */
#define EV_SEQ_NAME "seq"     /* an event log's placeholder key name (catalog.c) */
/* Flush jobs in flight at once when st_options.max_flushes is 0 (D2). */
#define DEFAULT_MAX_FLUSHES 3

/* ---- errors ------------------------------------------------------------- */

const char *st_strerror(int code) {
  switch (code) {
#define X(name, val, msg) \
  case name:              \
    return msg;
    ST_ERRORS(X)
#undef X
  }
  return "unknown error";
}

const char *st_errname(int code) {
  switch (code) {
#define X(name, val, msg) \
  case name:              \
    return #name;
    ST_ERRORS(X)
#undef X
  }
  return "ST_E?";
}

/* ---- structures ------------------------------------------------------------ */

/* The durable LSN as seen by a checkpoint run on another thread: the owner
 * publishes it at every st_flush_end, the run waits on it (D4). */
typedef struct st_durable {
  pthread_mutex_t mu; /* guards lsn and failed */
  pthread_cond_t cv;  /* broadcast when either changes */
  uint64_t lsn;       /* durable LSN */
  int failed;         /* the engine failed: stop waiting */
} st_durable;

/* One partition of a table. */
typedef struct st_part {
  bt_tree *tree;  /* NULL while the partition has no file */
  uint64_t items; /* items in it */
  uint64_t bytes; /* sum of their DynamoDB sizes */
  uint64_t mods;  /* bumped by every change, so iterators know to re-seek */
  int new_file;   /* file created since the last checkpoint began (fsync its dir) */
} st_part;

struct st_table {
  st_db *db;          /* owning database */
  cat_table c;        /* persistent definition (owns the strings) */
  st_table_def def;   /* public view of c */
  size_t hash_len;    /* strlen(c.hash_name) */
  size_t range_len;   /* strlen(c.range_name), 0 if none */
  unsigned shift;     /* partition = hash >> shift; 64 when there is one partition */
  st_part *parts;     /* c.partitions partitions */
  uint64_t items;     /* sum over partitions */
  uint64_t bytes;     /* sum over partitions */
  int dir_exists;     /* tables/<id> exists */
  int dir_new;        /* tables/<id> created since the last checkpoint began */
  int dropped;        /* dropped; kept only while a checkpoint references it */
  int ckpt_refs;      /* trees of this table in the checkpoint in flight */
  uint64_t last_lsn;  /* LSN of the newest change to this table since open (0: none) */
  void *user;         /* the caller's pointer (st_table_set_user) */
  st_table *events;   /* table: the event log attached, NULL if none (in memory) */
  unsigned view;      /* table: ST_VIEW_* of the attached log */
  st_table *events_of; /* event log: the table it is attached to, NULL if none */
  uint64_t trimmed;   /* event log: trim point (user word u[2] of its tree) */
  st_table **ixs;     /* table: its secondary indexes, in creation (id) order */
  size_t nix;         /* table: entries in ixs */
  st_table *base;     /* index: its base table (NULL once either is dropped) */
  st_index_def idef;  /* index: public view of its definition (strings of c) */
  const char **pn;    /* index (KEYS_ONLY / INCLUDE): the attribute names projected */
  uint32_t *pnl;      /* index: their lengths */
  size_t npn;         /* index: entries in pn and pnl */
};

/* One tree of a checkpoint job. */
typedef struct ck_tree {
  st_table *t;      /* its table (ckpt_refs counted) */
  unsigned part;    /* partition index */
  bt_ckpt *job;     /* the tree's checkpoint job */
  int status;       /* result of bt_checkpoint_run (ST_EIO if not run) */
  int had_new;      /* it took the partition's new_file flag */
  int had_dir_new;  /* it took the table's dir_new flag */
} ck_tree;

struct st_ckpt_job {
  uint64_t lsn;         /* checkpoint LSN C */
  st_durable *ds;       /* the database's published durable LSN */
  uint64_t appended;    /* wal_appended_bytes at begin */
  ck_tree *trees;       /* sealed trees */
  size_t ntrees;        /* entries in trees */
  char **sync_dirs;     /* directories to fsync before the catalog (D5b) */
  size_t nsync;         /* entries in sync_dirs */
  char *data_dir;       /* where the catalog goes */
  st_buf catalog;       /* catalog file image */
  char **wal_paths;     /* log segments to delete after the catalog (D5d) */
  size_t nwal;          /* entries in wal_paths */
  char **drop_dirs;     /* dropped tables' directories to delete (D5d) */
  uint64_t *drop_ids;   /* their ids, put back on failure */
  size_t ndrop;         /* entries in drop_dirs and drop_ids */
  int no_fsync;         /* skip fsyncs */
  int status;           /* result of the run */
};

struct st_flush_job {
  wal_flush *wf; /* the log's job */
};

struct st_db {
  char *dir;              /* data directory */
  char *tables_dir;       /* <dir>/tables */
  int lockfd;             /* holds the flock */
  st_options opt;         /* options with defaults filled in */
  pc_cache *cache;        /* page cache of every tree */
  wal_log *wal;           /* the log */
  st_table **by_name;     /* live tables sorted by (ns, name) */
  st_table **by_id;       /* the same tables sorted by id */
  size_t ntables;         /* entries in both */
  size_t cap;             /* allocated entries in both */
  st_table **zombies;     /* dropped tables still referenced by the checkpoint */
  size_t nzombies;        /* entries in zombies */
  uint64_t next_id;       /* next table id */
  uint64_t *dropped;      /* ids whose directories await deletion (D8) */
  size_t ndropped;        /* entries in dropped */
  size_t capdropped;      /* allocated entries in dropped */
  uint64_t ckpt_lsn;      /* last completed checkpoint */
  uint64_t ckpt_appended; /* wal_appended_bytes when it began */
  int failed;             /* 0, or the error that stopped the engine (D9) */
  st_durable *ds;         /* durable LSN published to checkpoint runs */
  unsigned flushing;      /* flush jobs in flight (<= opt.max_flushes) */
  struct st_prep_job *prep; /* the st_prep job in flight, or NULL */
  st_ckpt_job *ckpt;      /* the checkpoint job in flight, NULL if none */
  st_buf kbuf;            /* scratch: an encoded key */
  st_buf vbuf;            /* scratch: an encoded item / a value read */
  st_buf obuf;            /* scratch: an old value replaced */
  st_buf rbuf;            /* scratch: an item's stored bytes read before a write */
  st_buf ebuf;            /* scratch: the EVENT operations of a batch */
  st_buf tbuf;            /* scratch: an event's keys; a batch's keys (duplicate check) */
  st_buf ibuf;            /* scratch: the index operations of a batch or a backfill */
  st_buf ixk[2];          /* scratch: an item's old [0] and new [1] index entry key */
  st_buf ixv[2];          /* scratch: an item's old [0] and new [1] index entry value */
  dv_attr *pattrs;        /* scratch: the attributes of a projection */
  size_t cappattrs;       /* allocated entries in pattrs */
  char replay_err[200];   /* why replay failed */
  char note[200];         /* what recovery cut off ("" if nothing) */
  uint64_t flushes;       /* stats: group commits */
  uint64_t flushed_records; /* stats: records they carried */
  uint64_t zero_fills;    /* stats: st_prep jobs done */
  uint64_t checkpoints;   /* stats: checkpoints completed */
  uint64_t recovered;     /* stats: records replayed at open */
  double recovery_seconds; /* stats: time spent in replay */
};

/* ---- helpers ------------------------------------------------------------------ */

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "dynafile: out of memory (%zu bytes)\n", n);
    abort();
  }
  return p;
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) {
    fprintf(stderr, "dynafile: out of memory\n");
    abort();
  }
  return p;
}

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
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

static char *xprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

static void errf(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return c;
  return al < bl ? -1 : al > bl;
}

static uint64_t be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

static void put_be64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static unsigned part_of_hash(const st_table *t, uint64_t h) {
  return t->shift >= 64 ? 0 : (unsigned)(h >> t->shift);
}

/* Partition of an encoded key (or bound) of at least 8 bytes. */
static unsigned part_of_key(const st_table *t, const uint8_t *key) {
  return part_of_hash(t, be64(key));
}

static char *table_dir(const st_db *db, uint64_t id) {
  return xprintf("%s/%" PRIu64, db->tables_dir, id);
}

static char *part_path(const st_db *db, uint64_t id, unsigned p) {
  return xprintf("%s/%" PRIu64 "/p%u.bt", db->tables_dir, id, p);
}

static void push_dropped(st_db *db, uint64_t id) {
  if (db->ndropped == db->capdropped) {
    db->capdropped = db->capdropped ? db->capdropped * 2 : 8;
    db->dropped = xrealloc(db->dropped, db->capdropped * sizeof *db->dropped);
  }
  db->dropped[db->ndropped++] = id;
}

/* Remove dir's entries and dir itself; missing is fine. */
static void remove_tree_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
      char *p = xprintf("%s/%s", dir, de->d_name);
      unlink(p);
      free(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ST_EIO;
  int rc = fsync(fd) == 0 ? ST_OK : ST_EIO;
  close(fd);
  return rc;
}

/* Publish the durable LSN and the failed state to a checkpoint run. */
static void publish_durable(st_db *db) {
  pthread_mutex_lock(&db->ds->mu);
  db->ds->lsn = wal_durable_lsn(db->wal);
  db->ds->failed = db->failed != 0;
  pthread_cond_broadcast(&db->ds->cv);
  pthread_mutex_unlock(&db->ds->mu);
}

static void set_failed(st_db *db, int rc) {
  if (!db->failed) db->failed = rc;
  publish_durable(db);
}

/* ---- catalog in memory ------------------------------------------------------- */

static int name_cmp(const st_table *t, const char *ns, const char *name) {
  int c = strcmp(t->c.ns, ns);
  return c ? c : strcmp(t->c.name, name);
}

/* First index in by_name whose (ns, name) >= (ns, name). */
static size_t name_lower(const st_db *db, const char *ns, const char *name) {
  size_t lo = 0, hi = db->ntables;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (name_cmp(db->by_name[mid], ns, name) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static size_t id_lower(const st_db *db, uint64_t id) {
  size_t lo = 0, hi = db->ntables;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (db->by_id[mid]->c.id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static st_table *table_by_id(const st_db *db, uint64_t id) {
  size_t i = id_lower(db, id);
  return i < db->ntables && db->by_id[i]->c.id == id ? db->by_id[i] : NULL;
}

st_table *st_table_find(st_db *db, const char *ns, const char *name) {
  if (!ns) ns = "";
  if (!name) return NULL;
  size_t i = name_lower(db, ns, name);
  return i < db->ntables && name_cmp(db->by_name[i], ns, name) == 0 ? db->by_name[i] : NULL;
}

static void table_free(st_table *t) {
  for (uint32_t p = 0; p < t->c.partitions; p++)
    if (t->parts[p].tree) bt_close(t->parts[p].tree);
  free(t->parts);
  free(t->ixs);
  free(t->pn);
  free(t->pnl);
  cat_table_free(&t->c);
  free(t);
}

static void table_sync_def(st_table *t) {
  t->def.kind = t->c.kind;
  t->def.ns = t->c.ns;
  t->def.name = t->c.name;
  t->def.hash.name = t->c.hash_name;
  t->def.hash.type = t->c.hash_type;
  t->def.range.name = t->c.range_name;
  t->def.range.type = t->c.range_type;
  t->def.meta = t->c.meta;
  t->def.meta_len = t->c.meta_len;
  t->def.created = t->c.created;
  if (t->c.kind == ST_KIND_INDEX) {
    t->idef.name = t->c.ix_name;
    t->idef.hash = t->def.hash;
    t->idef.range = t->def.range;
    t->idef.projection = (st_projection)t->c.projection;
    t->idef.include = (const char *const *)t->c.include;
    t->idef.n_include = t->c.n_include;
  }
}

/* Add name to ix's projected names unless it is there already. */
static void ix_add_pname(st_table *ix, const char *name) {
  if (!name) return;
  for (size_t i = 0; i < ix->npn; i++)
    if (strcmp(ix->pn[i], name) == 0) return;
  ix->pn = xrealloc(ix->pn, (ix->npn + 1) * sizeof *ix->pn);
  ix->pnl = xrealloc(ix->pnl, (ix->npn + 1) * sizeof *ix->pnl);
  ix->pn[ix->npn] = name;
  ix->pnl[ix->npn++] = (uint32_t)strlen(name);
}

/* Link index ix to its base b (which exists and is a table): append it to
 * b's indexes and compute the names its projection keeps. */
static void ix_link(st_table *ix, st_table *b) {
  ix->base = b;
  b->ixs = xrealloc(b->ixs, (b->nix + 1) * sizeof *b->ixs);
  b->ixs[b->nix++] = ix;
  if (ix->c.projection == ST_PROJ_ALL) return;
  ix_add_pname(ix, b->c.hash_name);
  ix_add_pname(ix, b->c.range_name);
  ix_add_pname(ix, ix->c.hash_name);
  ix_add_pname(ix, ix->c.range_name);
  for (size_t i = 0; i < ix->c.n_include; i++) ix_add_pname(ix, ix->c.include[i]);
}

/* The base of index definition c if it is live and a table, else NULL. */
static st_table *ix_base_of(const st_db *db, const cat_table *c);

/* Open the partition files of t that exist. */
static int table_open_parts(st_db *db, st_table *t, char *err, size_t errlen) {
  char *dir = table_dir(db, t->c.id);
  struct stat st;
  t->dir_exists = stat(dir, &st) == 0;
  free(dir);
  if (!t->dir_exists) return ST_OK;
  for (uint32_t p = 0; p < t->c.partitions; p++) {
    char *path = part_path(db, t->c.id, p);
    int rc = ST_OK;
    if (stat(path, &st) == 0) {
      rc = bt_open(db->cache, path, &t->parts[p].tree);
      if (rc != ST_OK) {
        errf(err, errlen, "cannot open %s: %s", path, st_strerror(rc));
      } else {
        uint64_t u[4];
        bt_user_get(t->parts[p].tree, u);
        t->parts[p].items = u[0];
        t->parts[p].bytes = u[1];
        t->items += u[0];
        t->bytes += u[1];
        if (t->c.kind == ST_KIND_EVENTS) t->trimmed = u[2];
      }
    }
    free(path);
    if (rc != ST_OK) return rc;
  }
  return ST_OK;
}

/* Make a table from c (taken) and insert it in the catalog. An index is
 * linked to its base when link is set (a CREATE_V2 replayed or applied);
 * st_open links the indexes of the catalog file once all are loaded. */
static int table_add(st_db *db, cat_table *c, int link, char *err, size_t errlen) {
  if (table_by_id(db, c->id) || st_table_find(db, c->ns, c->name)) {
    errf(err, errlen, "table %" PRIu64 " (%s) defined twice", c->id, c->name);
    cat_table_free(c);
    return ST_ECORRUPT;
  }
  st_table *base = NULL;
  if (c->kind == ST_KIND_INDEX && link && !(base = ix_base_of(db, c))) {
    errf(err, errlen, "index %" PRIu64 " (%s) belongs to table %" PRIu64 ", which does not exist",
         c->id, c->ix_name, c->base_id);
    cat_table_free(c);
    return ST_ECORRUPT;
  }
  st_table *t = xcalloc(1, sizeof *t);
  t->db = db;
  t->c = *c;
  memset(c, 0, sizeof *c);
  table_sync_def(t);
  t->hash_len = strlen(t->c.hash_name);
  t->range_len = t->c.range_name ? strlen(t->c.range_name) : 0;
  unsigned bits = 0;
  while ((1u << bits) < t->c.partitions) bits++;
  t->shift = 64 - bits;
  t->parts = xcalloc(t->c.partitions, sizeof *t->parts);
  int rc = table_open_parts(db, t, err, errlen);
  if (rc != ST_OK) {
    table_free(t);
    return rc;
  }
  if (db->ntables == db->cap) {
    db->cap = db->cap ? db->cap * 2 : 16;
    db->by_name = xrealloc(db->by_name, db->cap * sizeof *db->by_name);
    db->by_id = xrealloc(db->by_id, db->cap * sizeof *db->by_id);
  }
  size_t i = name_lower(db, t->c.ns, t->c.name);
  memmove(db->by_name + i + 1, db->by_name + i, (db->ntables - i) * sizeof *db->by_name);
  db->by_name[i] = t;
  size_t j = id_lower(db, t->c.id);
  memmove(db->by_id + j + 1, db->by_id + j, (db->ntables - j) * sizeof *db->by_id);
  db->by_id[j] = t;
  db->ntables++;
  if (t->c.id >= db->next_id) db->next_id = t->c.id + 1;
  if (base) ix_link(t, base);
  return ST_OK;
}

static st_table *ix_base_of(const st_db *db, const cat_table *c) {
  st_table *b = table_by_id(db, c->base_id);
  return b && b->c.kind == ST_KIND_TABLE ? b : NULL;
}

/* Link every index of a freshly loaded catalog (st_open). */
static int link_loaded_indexes(st_db *db, char *err, size_t errlen) {
  for (size_t i = 0; i < db->ntables; i++) {
    st_table *ix = db->by_id[i];
    if (ix->c.kind != ST_KIND_INDEX) continue;
    st_table *b = ix_base_of(db, &ix->c);
    if (!b) {
      errf(err, errlen,
           "catalog: index %" PRIu64 " (%s) belongs to table %" PRIu64 ", which does not exist",
           ix->c.id, ix->c.ix_name, ix->c.base_id);
      return ST_ECORRUPT;
    }
    ix_link(ix, b);
  }
  return ST_OK;
}

/* Take t out of the catalog; free it unless a checkpoint still uses it.
 * A table's remaining indexes go with it (cascade); an index is detached
 * from its base. */
static void table_remove(st_db *db, st_table *t) {
  while (t->nix) table_remove(db, t->ixs[t->nix - 1]);
  if (t->base) {
    st_table *b = t->base;
    size_t k = 0;
    while (k < b->nix && b->ixs[k] != t) k++;
    if (k < b->nix) {
      memmove(b->ixs + k, b->ixs + k + 1, (b->nix - k - 1) * sizeof *b->ixs);
      b->nix--;
    }
    t->base = NULL;
  }
  size_t i = name_lower(db, t->c.ns, t->c.name);
  memmove(db->by_name + i, db->by_name + i + 1, (db->ntables - i - 1) * sizeof *db->by_name);
  size_t j = id_lower(db, t->c.id);
  memmove(db->by_id + j, db->by_id + j + 1, (db->ntables - j - 1) * sizeof *db->by_id);
  db->ntables--;
  t->dropped = 1;
  /* Dropping either side detaches a table from its event log. */
  if (t->events) t->events->events_of = NULL;
  if (t->events_of) t->events_of->events = NULL;
  t->events = t->events_of = NULL;
  push_dropped(db, t->c.id);
  if (t->ckpt_refs == 0) {
    table_free(t);
  } else {
    db->zombies = xrealloc(db->zombies, (db->nzombies + 1) * sizeof *db->zombies);
    db->zombies[db->nzombies++] = t;
  }
}

/* Create the file of partition p (and the table's directory if needed). */
static int part_create(st_db *db, st_table *t, unsigned p) {
  if (!t->dir_exists) {
    char *dir = table_dir(db, t->c.id);
    int ok = mkdir(dir, 0755) == 0 || errno == EEXIST;
    free(dir);
    if (!ok) return ST_EIO;
    t->dir_exists = 1;
    t->dir_new = 1;
  }
  char *path = part_path(db, t->c.id, p);
  int rc = bt_open(db->cache, path, &t->parts[p].tree);
  free(path);
  if (rc == ST_OK) t->parts[p].new_file = 1;
  return rc;
}

const st_table_def *st_table_info(const st_table *t) { return &t->def; }
uint64_t st_table_id(const st_table *t) { return t->c.id; }
uint64_t st_table_item_count(const st_table *t) { return t->items; }
uint64_t st_table_size_bytes(const st_table *t) { return t->bytes; }

size_t st_table_list(st_db *db, const char *ns, const char *after, st_table **out, size_t max,
                     int *more) {
  if (!ns) ns = "";
  size_t i = name_lower(db, ns, after ? after : "");
  if (after && i < db->ntables && name_cmp(db->by_name[i], ns, after) == 0) i++;
  size_t n = 0;
  while (i < db->ntables && n < max && strcmp(db->by_name[i]->c.ns, ns) == 0)
    out[n++] = db->by_name[i++];
  if (more) *more = i < db->ntables && strcmp(db->by_name[i]->c.ns, ns) == 0;
  return n;
}

/* ---- applying operations (live writes and replay alike) -------------------- */

/* Reader over a payload. */
typedef struct op_rd {
  const uint8_t *p;   /* next byte */
  const uint8_t *end; /* end of the payload */
} op_rd;

static int rd_varint(op_rd *r, uint64_t *v) {
  size_t n = codec_get_varint(r->p, (size_t)(r->end - r->p), v);
  if (!n) return 0;
  r->p += n;
  return 1;
}

static int rd_bytes(op_rd *r, const uint8_t **b, size_t *len) {
  uint64_t n;
  if (!rd_varint(r, &n) || n > (uint64_t)(r->end - r->p)) return 0;
  *b = r->p;
  *len = (size_t)n;
  r->p += n;
  return 1;
}

static int no_table(st_db *db, uint64_t lsn, uint64_t id) {
  snprintf(db->replay_err, sizeof db->replay_err,
           "log record %" PRIu64 " writes to table %" PRIu64 ", which does not exist", lsn, id);
  return ST_ECORRUPT;
}

static int apply_item(st_db *db, uint64_t lsn, int op, op_rd *r) {
  uint64_t tid, part;
  const uint8_t *key, *val = NULL;
  size_t klen, vlen = 0;
  if (!rd_varint(r, &tid) || !rd_varint(r, &part) || !rd_bytes(r, &key, &klen))
    return ST_ECORRUPT;
  if (op == OP_PUT && !rd_bytes(r, &val, &vlen)) return ST_ECORRUPT;
  st_table *t = table_by_id(db, tid);
  if (!t) return no_table(db, lsn, tid);
  if (t->c.kind != ST_KIND_TABLE && t->c.kind != ST_KIND_INDEX) return ST_ECORRUPT;
  if (part >= t->c.partitions || klen < 8 || part_of_key(t, key) != part) return ST_ECORRUPT;
  st_part *pp = &t->parts[part];
  int rc;
  if (!pp->tree) {
    if (op == OP_DEL) return ST_OK; /* no file: nothing to delete (D8) */
    if ((rc = part_create(db, t, (unsigned)part)) != ST_OK) return rc;
  }
  if (lsn <= bt_checkpoint_lsn(pp->tree)) return ST_OK; /* already in the file (D6) */
  int had = 0;
  uint64_t nsize = 0, osize = 0;
  if (op == OP_PUT) {
    if (codec_item_size(val, vlen, &nsize) != ST_OK) return ST_ECORRUPT;
    rc = bt_put(pp->tree, key, klen, val, vlen, &db->obuf, &had);
  } else {
    rc = bt_delete(pp->tree, key, klen, &db->obuf, &had);
  }
  pp->mods++;
  if (rc != ST_OK) return rc;
  if (had && codec_item_size(db->obuf.p, db->obuf.len, &osize) != ST_OK) return ST_ECORRUPT;
  if (had) {
    pp->items--;
    t->items--;
    pp->bytes -= osize;
    t->bytes -= osize;
  }
  if (op == OP_PUT) {
    pp->items++;
    t->items++;
    pp->bytes += nsize;
    t->bytes += nsize;
  }
  return ST_OK;
}

/* An event encoding's fields (pointers into the bytes parsed). */
typedef struct ev_parts {
  uint8_t kind;             /* ST_EV_* */
  uint8_t flags;            /* ST_EVF_* */
  uint64_t time_ms;         /* epoch milliseconds */
  const uint8_t *keys;      /* keys item encoding */
  size_t keys_len;          /* its bytes (> 0) */
  const uint8_t *old_img;   /* old image encoding (old_len 0: absent) */
  size_t old_len;           /* its bytes */
  const uint8_t *new_img;   /* new image encoding (new_len 0: absent) */
  size_t new_len;           /* its bytes */
} ev_parts;

/* Parse one event encoding at r (the layout at the top); 0 if malformed. */
static int rd_event(op_rd *r, ev_parts *e) {
  if (r->end - r->p < 2) return 0;
  e->kind = r->p[0];
  e->flags = r->p[1];
  r->p += 2;
  if (e->kind < ST_EV_INSERT || e->kind > ST_EV_REMOVE) return 0;
  return rd_varint(r, &e->time_ms) && rd_bytes(r, &e->keys, &e->keys_len) && e->keys_len > 0 &&
         rd_bytes(r, &e->old_img, &e->old_len) && rd_bytes(r, &e->new_img, &e->new_len);
}

/* EVENT: store the event under seq = (lsn << 16) | index in its log. */
static int apply_event(st_db *db, uint64_t lsn, op_rd *r) {
  uint64_t lid, idx;
  ev_parts e;
  if (!rd_varint(r, &lid) || !rd_varint(r, &idx) || idx >= MAX_EVENTS) return ST_ECORRUPT;
  const uint8_t *ev = r->p;
  if (!rd_event(r, &e)) return ST_ECORRUPT;
  size_t evlen = (size_t)(r->p - ev);
  st_table *t = table_by_id(db, lid);
  if (!t) return no_table(db, lsn, lid);
  if (t->c.kind != ST_KIND_EVENTS || lsn > (UINT64_MAX >> 16)) return ST_ECORRUPT;
  st_part *pp = &t->parts[0];
  int rc;
  if (!pp->tree && (rc = part_create(db, t, 0)) != ST_OK) return rc;
  if (lsn <= bt_checkpoint_lsn(pp->tree)) return ST_OK; /* already in the file (D6) */
  uint8_t key[8];
  put_be64(key, (lsn << 16) | idx);
  int had = 0;
  rc = bt_put(pp->tree, key, 8, ev, evlen, &db->obuf, &had);
  pp->mods++;
  if (rc != ST_OK) return rc;
  if (had) { /* only if a record were applied twice; keeps the counts exact */
    pp->items--;
    t->items--;
    pp->bytes -= db->obuf.len;
    t->bytes -= db->obuf.len;
  }
  pp->items++;
  t->items++;
  pp->bytes += evlen;
  t->bytes += evlen;
  return ST_OK;
}

/* TRIM: delete the log's events with seq < before; raise the trim point. */
static int apply_trim(st_db *db, uint64_t lsn, op_rd *r) {
  uint64_t lid, before;
  if (!rd_varint(r, &lid) || !rd_varint(r, &before)) return ST_ECORRUPT;
  st_table *t = table_by_id(db, lid);
  if (!t) return no_table(db, lsn, lid);
  if (t->c.kind != ST_KIND_EVENTS) return ST_ECORRUPT;
  st_part *pp = &t->parts[0];
  int rc;
  /* The tree holds the trim point, so it must exist even if empty. */
  if (!pp->tree && (rc = part_create(db, t, 0)) != ST_OK) return rc;
  if (lsn <= bt_checkpoint_lsn(pp->tree)) return ST_OK; /* already in the file (D6) */
  uint8_t bound[8];
  put_be64(bound, before);
  bt_cursor *c;
  if ((rc = bt_cursor_open(pp->tree, &c)) != ST_OK) return rc;
  for (;;) {
    /* Every delete invalidates the cursor: seek to the first key again. */
    if ((rc = bt_cursor_seek(c, bound, 0)) != ST_OK || !bt_cursor_valid(c)) break;
    const uint8_t *k;
    size_t klen;
    bt_cursor_key(c, &k, &klen);
    if (keycmp(k, klen, bound, 8) >= 0) break;
    db->kbuf.len = 0;
    st_buf_append(&db->kbuf, k, klen);
    int found = 0;
    rc = bt_delete(pp->tree, db->kbuf.p, db->kbuf.len, &db->obuf, &found);
    pp->mods++;
    if (rc != ST_OK) break;
    if (found) {
      pp->items--;
      t->items--;
      pp->bytes -= db->obuf.len;
      t->bytes -= db->obuf.len;
    }
  }
  bt_cursor_close(c);
  if (rc != ST_OK) return rc;
  if (before > t->trimmed) t->trimmed = before;
  return ST_OK;
}

/* Apply every operation of a record's payload. */
static int apply_ops(st_db *db, uint64_t lsn, const uint8_t *p, size_t len) {
  op_rd r = {p, p + len};
  while (r.p < r.end) {
    int op = *r.p++;
    int rc = ST_OK;
    uint64_t tid;
    st_table *t;
    switch (op) {
      case OP_PUT:
      case OP_DEL:
        rc = apply_item(db, lsn, op, &r);
        break;
      case OP_CREATE:
      case OP_CREATE_V2: {
        cat_table c;
        size_t used;
        unsigned version = op == OP_CREATE ? CAT_DEF_V1 : CAT_DEF_V2;
        if (cat_table_decode(r.p, (size_t)(r.end - r.p), version, &used, &c) != ST_OK)
          return ST_ECORRUPT;
        r.p += used;
        rc = table_add(db, &c, 1, db->replay_err, sizeof db->replay_err);
        break;
      }
      case OP_DROP:
        if (!rd_varint(&r, &tid) || !(t = table_by_id(db, tid))) return ST_ECORRUPT;
        table_remove(db, t);
        break;
      case OP_SET_META: {
        const uint8_t *m;
        size_t mlen;
        if (!rd_varint(&r, &tid) || !(t = table_by_id(db, tid)) || !rd_bytes(&r, &m, &mlen))
          return ST_ECORRUPT;
        free(t->c.meta);
        t->c.meta = mlen ? xmalloc(mlen) : NULL;
        if (mlen) memcpy(t->c.meta, m, mlen);
        t->c.meta_len = mlen;
        table_sync_def(t);
        break;
      }
      case OP_EVENT:
        rc = apply_event(db, lsn, &r);
        break;
      case OP_TRIM:
        rc = apply_trim(db, lsn, &r);
        break;
      default:
        return ST_ECORRUPT;
    }
    if (rc != ST_OK) return rc;
  }
  return ST_OK;
}

static int replay_cb(void *ctx, uint64_t lsn, unsigned type, const uint8_t *p, size_t len) {
  st_db *db = ctx;
  int rc = type == REC_OPS ? apply_ops(db, lsn, p, len) : ST_ECORRUPT;
  if (rc != ST_OK && !db->replay_err[0])
    snprintf(db->replay_err, sizeof db->replay_err, "cannot replay log record %" PRIu64 ": %s",
             lsn, st_strerror(rc));
  return rc;
}

/* Commit the record being built in the log's pending buffer and apply it.
 * off is the payload offset from wal_rec_begin. */
static int commit_apply(st_db *db, st_buf *b, size_t off, uint64_t *lsn) {
  uint64_t l;
  int rc = wal_rec_commit(db->wal, REC_OPS, &l);
  if (rc != ST_OK) return rc;
  rc = apply_ops(db, l, b->p + off, b->len - off);
  if (rc != ST_OK) {
    set_failed(db, rc); /* D9: logged but not applied */
    return rc;
  }
  if (lsn) *lsn = l;
  return ST_OK;
}

/* ---- catalog operations ------------------------------------------------------ */

static int valid_name(const char *s, int allow_empty) {
  if (!s) return 0;
  size_t n = strlen(s);
  return (allow_empty || n > 0) && n <= MAX_NAME;
}

int st_table_create(st_db *db, const st_table_def *def, uint64_t *lsn) {
  if (db->failed) return ST_EFAILED;
  const char *ns = def && def->ns ? def->ns : "";
  if (!def || (def->kind != ST_KIND_TABLE && def->kind != ST_KIND_EVENTS) ||
      !valid_name(ns, 1) || !valid_name(def->name, 0) ||
      def->meta_len > MAX_META || (def->meta_len && !def->meta))
    return ST_EINVAL;
  int events = def->kind == ST_KIND_EVENTS;
  /* An event log has no key schema: the catalog gets a placeholder. */
  if (!events &&
      (!valid_name(def->hash.name, 0) || !dv_type_is_scalar_key(def->hash.type) ||
       (def->range.name &&
        (!valid_name(def->range.name, 0) || !dv_type_is_scalar_key(def->range.type)))))
    return ST_EINVAL;
  if (st_table_find(db, ns, def->name)) return ST_EEXIST;
  cat_table c = {
      .kind = def->kind,
      .id = db->next_id,
      .partitions = events ? 1 : db->opt.partitions,
      .ns = (char *)ns,
      .name = (char *)def->name,
      .hash_name = events ? EV_SEQ_NAME : (char *)def->hash.name,
      .hash_type = events ? DV_N : def->hash.type,
      .range_name = events ? NULL : (char *)def->range.name,
      .range_type = !events && def->range.name ? def->range.type : DV_NONE,
      .created = def->created,
      .meta = (uint8_t *)def->meta,
      .meta_len = def->meta_len,
  };
  size_t off;
  st_buf *b = wal_rec_begin(db->wal, &off);
  uint8_t op = OP_CREATE_V2;
  st_buf_append(b, &op, 1);
  cat_table_encode(&c, CAT_DEF_V2, b);
  int rc = commit_apply(db, b, off, lsn);
  st_table *t = rc == ST_OK ? st_table_find(db, ns, def->name) : NULL;
  if (t) t->last_lsn = *lsn;
  return rc;
}

int st_table_drop(st_db *db, st_table *t, uint64_t *lsn) {
  if (db->failed) return ST_EFAILED;
  if (!t || t->dropped || t->db != db) return ST_EINVAL;
  size_t off;
  st_buf *b = wal_rec_begin(db->wal, &off);
  uint8_t op = OP_DROP;
  /* A base's indexes first, in the same record (D13). */
  for (size_t i = 0; i < t->nix; i++) {
    st_buf_append(b, &op, 1);
    codec_put_varint(b, t->ixs[i]->c.id);
  }
  st_buf_append(b, &op, 1);
  codec_put_varint(b, t->c.id);
  return commit_apply(db, b, off, lsn);
}

int st_table_set_meta(st_db *db, st_table *t, const void *meta, size_t len, uint64_t *lsn) {
  if (db->failed) return ST_EFAILED;
  if (!t || t->dropped || t->db != db || len > MAX_META || (len && !meta)) return ST_EINVAL;
  size_t off;
  st_buf *b = wal_rec_begin(db->wal, &off);
  uint8_t op = OP_SET_META;
  st_buf_append(b, &op, 1);
  codec_put_varint(b, t->c.id);
  codec_put_varint(b, len);
  st_buf_append(b, meta, len);
  int rc = commit_apply(db, b, off, lsn);
  if (rc == ST_OK) t->last_lsn = *lsn;
  return rc;
}

/* ---- items ------------------------------------------------------------------- */

static int check_key(const dv_value *v, dv_type type, size_t max) {
  if (!v || v->type != type) return ST_EINVAL;
  if (type != DV_N && v->n == 0) return ST_EINVAL;
  if (v->n > max) return ST_ETOOBIG;
  return ST_OK;
}

/* The key attributes of item (a map) for table t. */
static int key_of(const st_table *t, const dv_value *item, const dv_value **hk,
                  const dv_value **rk) {
  if (!item || item->type != DV_M) return ST_EINVAL;
  *hk = dv_map_get(item, t->c.hash_name, t->hash_len);
  int rc = check_key(*hk, t->c.hash_type, MAX_HASH_KEY);
  if (rc != ST_OK) return rc;
  *rk = NULL;
  if (t->c.range_name) {
    *rk = dv_map_get(item, t->c.range_name, t->range_len);
    rc = check_key(*rk, t->c.range_type, MAX_RANGE_KEY);
  }
  return rc;
}

int st_item_get(st_table *t, const dv_value *key, dv_arena *a, dv_value *out) {
  memset(out, 0, sizeof *out);
  out->type = DV_NONE;
  if (!t || t->dropped || t->c.kind != ST_KIND_TABLE) return ST_EINVAL;
  st_db *db = t->db;
  const dv_value *hk, *rk;
  int rc = key_of(t, key, &hk, &rk);
  if (rc != ST_OK) return ST_EINVAL;
  db->kbuf.len = 0;
  codec_key_encode(hk, rk, &db->kbuf);
  st_part *pp = &t->parts[part_of_key(t, db->kbuf.p)];
  if (!pp->tree) return ST_OK;
  int found = 0;
  rc = bt_get(pp->tree, db->kbuf.p, db->kbuf.len, &db->vbuf, &found);
  if (rc != ST_OK || !found) return rc;
  rc = codec_item_decode(db->vbuf.p, db->vbuf.len, a, out);
  if (rc != ST_OK) {
    memset(out, 0, sizeof *out);
    out->type = DV_NONE;
  }
  return rc;
}

/* ---- index entries ----------------------------------------------------------- */

/* The entry key of item in index ix into kb (emptied first). Returns 1 if
 * the item is in the index (membership rule in the header comment), 0 if
 * not, ST_EINVAL if item lacks valid base key attributes. */
static int ix_key(const st_table *ix, const dv_value *item, st_buf *kb) {
  const st_table *b = ix->base;
  const dv_value *ihk = dv_map_get(item, ix->c.hash_name, ix->hash_len), *irk = NULL;
  if (check_key(ihk, ix->c.hash_type, MAX_HASH_KEY) != ST_OK) return 0;
  if (ix->c.range_name) {
    irk = dv_map_get(item, ix->c.range_name, ix->range_len);
    if (check_key(irk, ix->c.range_type, MAX_RANGE_KEY) != ST_OK) return 0;
  }
  const dv_value *bhk, *brk;
  if (key_of(b, item, &bhk, &brk) != ST_OK) return ST_EINVAL;
  kb->len = 0;
  codec_ix_key_encode(ihk, irk, bhk, brk, kb);
  return kb->len <= BT_MAX_KEY;
}

/* The entry of item in index ix: key into kb, projected item encoding into
 * vb (both emptied first). enc[0..enclen) is the item's own encoding when
 * the caller has it (NULL: encode here), the value of an ALL projection.
 * Returns 1 / 0 / ST_EINVAL as ix_key. */
static int ix_entry(st_db *db, const st_table *ix, const dv_value *item, const uint8_t *enc,
                    size_t enclen, st_buf *kb, st_buf *vb) {
  int in = ix_key(ix, item, kb);
  if (in != 1) return in;
  vb->len = 0;
  if (ix->c.projection == ST_PROJ_ALL) {
    if (enc)
      st_buf_append(vb, enc, enclen);
    else
      codec_item_encode(item, vb);
    return 1;
  }
  if (db->cappattrs < ix->npn) {
    db->cappattrs = ix->npn;
    db->pattrs = xrealloc(db->pattrs, db->cappattrs * sizeof *db->pattrs);
  }
  dv_value m = {.type = DV_M, .n = 0};
  m.u.attrs = db->pattrs;
  for (size_t i = 0; i < ix->npn; i++) {
    const dv_value *v = dv_map_get(item, ix->pn[i], ix->pnl[i]);
    if (v) db->pattrs[m.n++] = (dv_attr){ix->pn[i], ix->pnl[i], *v};
  }
  dv_map_sort(&m); /* names are unique (ix_add_pname) */
  codec_item_encode(&m, vb);
  return 1;
}

/* Append one PUT (val != NULL) or DEL operation on table or index t. */
static void put_item_op(st_buf *b, const st_table *t, unsigned part, const st_buf *key,
                        const st_buf *val) {
  uint8_t op = val ? OP_PUT : OP_DEL;
  st_buf_append(b, &op, 1);
  codec_put_varint(b, t->c.id);
  codec_put_varint(b, part);
  codec_put_varint(b, key->len);
  st_buf_append(b, key->p, key->len);
  if (val) {
    codec_put_varint(b, val->len);
    st_buf_append(b, val->p, val->len);
  }
}

static int buf_eq(const st_buf *x, const st_buf *y) {
  return x->len == y->len && (x->len == 0 || memcmp(x->p, y->p, x->len) == 0);
}

/* Append to db->ibuf the index operations of request r on t (a table with
 * indexes): db->rbuf / found hold the item before the batch, db->vbuf
 * (ST_PUT) the new item's encoding. Index partition files a PUT needs are
 * created here, so that an error logs nothing. */
static int add_ix_ops(st_db *db, st_table *t, const st_write_req *r, int found, dv_arena *a) {
  int put = r->op == ST_PUT;
  if (!found && !put) return ST_OK; /* deleting nothing */
  if (found && put && buf_eq(&db->rbuf, &db->vbuf)) return ST_OK; /* same item, same entries */
  dv_value old;
  if (found && codec_item_decode(db->rbuf.p, db->rbuf.len, a, &old) != ST_OK) return ST_ECORRUPT;
  for (size_t i = 0; i < t->nix; i++) {
    st_table *ix = t->ixs[i];
    int o = found ? ix_entry(db, ix, &old, db->rbuf.p, db->rbuf.len, &db->ixk[0], &db->ixv[0]) : 0;
    if (o < 0) return ST_ECORRUPT; /* a stored item without its keys */
    int nw = put ? ix_entry(db, ix, r->item, db->vbuf.p, db->vbuf.len, &db->ixk[1], &db->ixv[1])
                 : 0;
    if (nw < 0) return nw;
    int same_key = o && nw && buf_eq(&db->ixk[0], &db->ixk[1]);
    if (o && !same_key) put_item_op(&db->ibuf, ix, part_of_key(ix, db->ixk[0].p), &db->ixk[0], NULL);
    if (nw && !(same_key && buf_eq(&db->ixv[0], &db->ixv[1]))) {
      unsigned p = part_of_key(ix, db->ixk[1].p);
      int rc;
      if (!ix->parts[p].tree && (rc = part_create(db, ix, p)) != ST_OK) return rc;
      put_item_op(&db->ibuf, ix, p, &db->ixk[1], &db->ixv[1]);
    }
  }
  return ST_OK;
}

/* One request of a batch on a table with an event log or indexes, for the
 * duplicate check. */
typedef struct ev_key {
  const st_table *t; /* its table */
  const uint8_t *k;  /* its encoded key */
  size_t len;        /* bytes in k */
} ev_key;

static int ev_key_cmp(const void *a, const void *b) {
  const ev_key *x = a, *y = b;
  if (x->t != y->t) return x->t->c.id < y->t->c.id ? -1 : 1;
  return keycmp(x->k, x->len, y->k, y->len);
}

/* ST_EINVAL if two requests of w touch the same item of a table with an
 * event log or indexes (the event and the index operations of each must
 * see the item as it was before the batch), ST_ETOOBIG if the record could
 * hold more than MAX_EVENTS events. */
static int check_batch(st_db *db, const st_write_req *w, size_t n) {
  size_t m = 0, nev = 0;
  for (size_t i = 0; i < n; i++) {
    nev += w[i].table->events != NULL;
    m += w[i].table->events != NULL || w[i].table->nix != 0;
  }
  if (nev > MAX_EVENTS) return ST_ETOOBIG;
  if (m < 2) return ST_OK;
  ev_key *ks = xmalloc(m * sizeof *ks);
  size_t *offs = xmalloc(m * sizeof *offs);
  db->tbuf.len = 0;
  m = 0;
  for (size_t i = 0; i < n; i++) {
    if (!w[i].table->events && !w[i].table->nix) continue;
    const dv_value *hk, *rk;
    key_of(w[i].table, w[i].item, &hk, &rk);
    offs[m] = db->tbuf.len;
    codec_key_encode(hk, rk, &db->tbuf);
    ks[m].t = w[i].table;
    ks[m].len = db->tbuf.len - offs[m];
    m++;
  }
  for (size_t i = 0; i < m; i++) ks[i].k = db->tbuf.p + offs[i]; /* tbuf no longer moves */
  qsort(ks, m, sizeof *ks, ev_key_cmp);
  int rc = ST_OK;
  for (size_t i = 1; i < m && rc == ST_OK; i++)
    if (ev_key_cmp(&ks[i - 1], &ks[i]) == 0) rc = ST_EINVAL;
  free(ks);
  free(offs);
  return rc;
}

/* A map of the key attributes of t found in item (already validated). */
static dv_value event_keys(const st_table *t, const dv_value *item, dv_attr attrs[2]) {
  dv_value m = {.type = DV_M, .n = 1};
  attrs[0] = (dv_attr){t->c.hash_name, (uint32_t)t->hash_len,
                       *dv_map_get(item, t->c.hash_name, t->hash_len)};
  if (t->c.range_name && strcmp(t->c.range_name, t->c.hash_name) != 0) {
    attrs[1] = (dv_attr){t->c.range_name, (uint32_t)t->range_len,
                         *dv_map_get(item, t->c.range_name, t->range_len)};
    m.n = 2;
  }
  m.u.attrs = attrs;
  dv_map_sort(&m);
  return m;
}

/* Append to db->ebuf the EVENT operation of request r, if it changes data.
 * db->kbuf holds its encoded key, db->vbuf (ST_PUT) its encoded item, and
 * db->rbuf / found the item's bytes before the batch. *idx is the index the
 * event takes, incremented when there is one. */
static void add_event(st_db *db, const st_write_req *r, int found, int64_t time_ms,
                      size_t *idx) {
  st_table *t = r->table;
  uint8_t kind;
  if (r->op == ST_PUT) {
    if (found && db->rbuf.len == db->vbuf.len && !memcmp(db->rbuf.p, db->vbuf.p, db->vbuf.len))
      return; /* the same item: the encoding is canonical */
    kind = found ? ST_EV_MODIFY : ST_EV_INSERT;
  } else {
    if (!found) return;
    kind = ST_EV_REMOVE;
  }
  st_buf *e = &db->ebuf;
  uint8_t hdr[3] = {OP_EVENT, kind, (r->flags & ST_WF_TTL) ? ST_EVF_TTL : 0};
  st_buf_append(e, hdr, 1);
  codec_put_varint(e, t->events->c.id);
  codec_put_varint(e, (*idx)++);
  st_buf_append(e, hdr + 1, 2);
  codec_put_varint(e, time_ms > 0 ? (uint64_t)time_ms : 0);
  dv_attr attrs[2];
  dv_value keys = event_keys(t, r->item, attrs);
  db->tbuf.len = 0;
  codec_item_encode(&keys, &db->tbuf);
  codec_put_varint(e, db->tbuf.len);
  st_buf_append(e, db->tbuf.p, db->tbuf.len);
  int old = (t->view & ST_VIEW_OLD) && kind != ST_EV_INSERT;
  codec_put_varint(e, old ? db->rbuf.len : 0);
  if (old) st_buf_append(e, db->rbuf.p, db->rbuf.len);
  int neu = (t->view & ST_VIEW_NEW) && kind != ST_EV_REMOVE;
  codec_put_varint(e, neu ? db->vbuf.len : 0);
  if (neu) st_buf_append(e, db->vbuf.p, db->vbuf.len);
}

int st_write(st_db *db, const st_write_req *w, size_t n, uint64_t *lsn) {
  if (db->failed) return ST_EFAILED;
  if (!w || n == 0) return ST_EINVAL;
  /* Validate everything before logging anything. */
  int any_events = 0, any_ix = 0;
  for (size_t i = 0; i < n; i++) {
    st_table *t = w[i].table;
    const dv_value *hk, *rk;
    if (!t || t->dropped || t->db != db || t->c.kind != ST_KIND_TABLE ||
        (w[i].op != ST_PUT && w[i].op != ST_DEL))
      return ST_EINVAL;
    int rc = key_of(t, w[i].item, &hk, &rk);
    if (rc != ST_OK) return rc;
    if (w[i].op == ST_PUT && dv_item_size(w[i].item) > MAX_ITEM) return ST_ETOOBIG;
    any_events |= t->events != NULL;
    any_ix |= t->nix != 0;
  }
  int64_t time_ms = 0;
  if (any_events || any_ix) {
    int rc = check_batch(db, w, n);
    if (rc != ST_OK) return rc;
  }
  if (any_events) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  }
  db->ebuf.len = 0;
  db->ibuf.len = 0;
  dv_arena *ar = any_ix ? dv_arena_new() : NULL; /* old items of tables with indexes */
  size_t nev = 0;
  size_t off;
  st_buf *b = wal_rec_begin(db->wal, &off);
  for (size_t i = 0; i < n; i++) {
    st_table *t = w[i].table;
    const dv_value *hk, *rk;
    key_of(t, w[i].item, &hk, &rk);
    db->kbuf.len = 0;
    codec_key_encode(hk, rk, &db->kbuf);
    unsigned p = part_of_key(t, db->kbuf.p);
    int rc = ST_OK;
    if (w[i].op == ST_PUT && !t->parts[p].tree) {
      /* Create the file now, so that an error here logs nothing. */
      rc = part_create(db, t, p);
    }
    int found = 0;
    if (rc == ST_OK && (t->events || t->nix)) {
      /* The item as it is before the batch (no other request of the batch
       * touches it): read before anything is applied. */
      db->rbuf.len = 0;
      if (t->parts[p].tree) rc = bt_get(t->parts[p].tree, db->kbuf.p, db->kbuf.len, &db->rbuf,
                                        &found);
      /* The log's file too, for the same reason. */
      if (rc == ST_OK && t->events && !t->events->parts[0].tree)
        rc = part_create(db, t->events, 0);
    }
    if (rc == ST_OK && w[i].op == ST_PUT) {
      db->vbuf.len = 0;
      codec_item_encode(w[i].item, &db->vbuf);
    }
    if (rc == ST_OK && t->nix) rc = add_ix_ops(db, t, &w[i], found, ar);
    if (rc != ST_OK) {
      wal_rec_abort(db->wal);
      dv_arena_free(ar);
      return rc;
    }
    uint8_t op = w[i].op == ST_PUT ? OP_PUT : OP_DEL;
    st_buf_append(b, &op, 1);
    codec_put_varint(b, t->c.id);
    codec_put_varint(b, p);
    codec_put_varint(b, db->kbuf.len);
    st_buf_append(b, db->kbuf.p, db->kbuf.len);
    if (op == OP_PUT) {
      codec_put_varint(b, db->vbuf.len);
      st_buf_append(b, db->vbuf.p, db->vbuf.len);
    }
    if (t->events) add_event(db, &w[i], found, time_ms, &nev);
  }
  dv_arena_free(ar);
  /* The index operations follow the item operations in the same record
   * (D13), the events follow both (D12). */
  st_buf_append(b, db->ibuf.p, db->ibuf.len);
  st_buf_append(b, db->ebuf.p, db->ebuf.len);
  int rc = commit_apply(db, b, off, lsn);
  if (rc == ST_OK)
    for (size_t i = 0; i < n; i++) {
      st_table *t = w[i].table;
      t->last_lsn = *lsn;
      if (t->events) t->events->last_lsn = *lsn;
      for (size_t k = 0; k < t->nix; k++) t->ixs[k]->last_lsn = *lsn;
    }
  return rc;
}

uint64_t st_item_hash(const dv_value *item) {
  st_buf b;
  st_buf_init(&b);
  codec_item_encode(item, &b);
  uint64_t h = XXH64(b.p, b.len, 0);
  st_buf_free(&b);
  return h;
}

/* ---- secondary indexes ------------------------------------------------------------ */

static st_table *iter_table(const st_iter *it);

/* An index key attribute that is also a key attribute of the base must be
 * declared with the base's type (else no item could ever be in the index). */
static int ix_key_ok(const st_table *t, const st_key_def *k) {
  if (!valid_name(k->name, 0) || !dv_type_is_scalar_key(k->type)) return 0;
  if (!strcmp(k->name, t->c.hash_name) && k->type != t->c.hash_type) return 0;
  if (t->c.range_name && !strcmp(k->name, t->c.range_name) && k->type != t->c.range_type)
    return 0;
  return 1;
}

int st_index_create(st_db *db, st_table *t, const st_index_def *def, st_table **out,
                    uint64_t *lsn) {
  if (out) *out = NULL;
  if (db->failed) return ST_EFAILED;
  if (!t || t->dropped || t->db != db || t->c.kind != ST_KIND_TABLE || !def || !def->name)
    return ST_EINVAL;
  size_t nlen = strlen(def->name);
  if (nlen == 0 || nlen > CAT_IX_MAX_NAME || !ix_key_ok(t, &def->hash) ||
      (def->range.name &&
       (!ix_key_ok(t, &def->range) || !strcmp(def->range.name, def->hash.name))) ||
      (unsigned)def->projection > ST_PROJ_ALL)
    return ST_EINVAL;
  size_t ninc = def->projection == ST_PROJ_INCLUDE ? def->n_include : 0;
  if (ninc > CAT_IX_MAX_INCLUDE || (ninc && !def->include)) return ST_EINVAL;
  for (size_t i = 0; i < ninc; i++)
    if (!valid_name(def->include[i], 0)) return ST_EINVAL;
  if (st_index_find(t, def->name)) return ST_EEXIST;
  char *name = cat_ix_entry_name(t->c.id, def->name);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  cat_table c = {
      .kind = ST_KIND_INDEX,
      .id = db->next_id,
      .partitions = db->opt.partitions,
      .ns = CAT_IX_NS,
      .name = name,
      .hash_name = (char *)def->hash.name,
      .hash_type = def->hash.type,
      .range_name = (char *)def->range.name,
      .range_type = def->range.name ? def->range.type : DV_NONE,
      .created = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9,
      .base_id = t->c.id,
      .ix_name = (char *)def->name,
      .projection = (uint8_t)def->projection,
      .include = (char **)def->include,
      .n_include = ninc,
  };
  size_t off;
  st_buf *b = wal_rec_begin(db->wal, &off);
  uint8_t op = OP_CREATE_V2;
  st_buf_append(b, &op, 1);
  cat_table_encode(&c, CAT_DEF_V2, b);
  uint64_t l;
  int rc = commit_apply(db, b, off, &l);
  st_table *ix = rc == ST_OK ? st_table_find(db, CAT_IX_NS, name) : NULL;
  free(name);
  if (ix) {
    ix->last_lsn = l;
    if (out) *out = ix;
  }
  if (rc == ST_OK && lsn) *lsn = l;
  return rc;
}

st_table *st_index_find(const st_table *t, const char *name) {
  if (!t || !name) return NULL;
  for (size_t i = 0; i < t->nix; i++)
    if (!strcmp(t->ixs[i]->c.ix_name, name)) return t->ixs[i];
  return NULL;
}

size_t st_table_indexes(const st_table *t, st_table **out, size_t max) {
  for (size_t i = 0; i < t->nix && i < max; i++) out[i] = t->ixs[i];
  return t->nix;
}

const st_index_def *st_index_info(const st_table *idx) {
  return idx && idx->c.kind == ST_KIND_INDEX ? &idx->idef : NULL;
}

st_table *st_index_base(const st_table *idx) {
  return idx && idx->c.kind == ST_KIND_INDEX ? idx->base : NULL;
}

int st_index_fill(st_db *db, st_table *idx, st_iter *base_it, size_t max, size_t *n_read,
                  int *done, uint64_t *lsn) {
  *n_read = 0;
  *done = 0;
  if (lsn) *lsn = 0;
  if (db->failed) return ST_EFAILED;
  if (!idx || idx->dropped || idx->db != db || idx->c.kind != ST_KIND_INDEX || !idx->base ||
      !base_it || iter_table(base_it) != idx->base)
    return ST_EINVAL;
  dv_arena *a = dv_arena_new();
  db->ibuf.len = 0;
  int rc = ST_OK;
  while (*n_read < max) {
    dv_value item;
    if ((rc = st_iter_next(base_it, a, &item)) != ST_OK) goto done;
    if (item.type == DV_NONE) {
      *done = 1;
      break;
    }
    (*n_read)++;
    int in = ix_entry(db, idx, &item, NULL, 0, &db->ixk[1], &db->ixv[1]);
    if (in < 0) {
      rc = ST_ECORRUPT; /* a stored item without its keys */
      goto done;
    }
    if (!in) continue;
    unsigned p = part_of_key(idx, db->ixk[1].p);
    bt_tree *tree = idx->parts[p].tree;
    int found = 0;
    if (tree && (rc = bt_get(tree, db->ixk[1].p, db->ixk[1].len, &db->rbuf, &found)) != ST_OK)
      goto done;
    if (found && buf_eq(&db->rbuf, &db->ixv[1])) continue; /* already right */
    if (!tree && (rc = part_create(db, idx, p)) != ST_OK) goto done;
    put_item_op(&db->ibuf, idx, p, &db->ixk[1], &db->ixv[1]);
  }
  if (db->ibuf.len) {
    size_t off;
    st_buf *b = wal_rec_begin(db->wal, &off);
    st_buf_append(b, db->ibuf.p, db->ibuf.len);
    uint64_t l;
    if ((rc = commit_apply(db, b, off, &l)) != ST_OK) goto done;
    idx->last_lsn = l;
    if (lsn) *lsn = l;
  }
done:
  dv_arena_free(a);
  return rc;
}

uint64_t st_table_last_lsn(const st_table *t) {
  return t->last_lsn;
}

void st_table_set_user(st_table *t, void *user) { t->user = user; }
void *st_table_user(const st_table *t) { return t->user; }

/* ---- change events ------------------------------------------------------------- */

int st_table_set_events(st_table *t, st_table *log, unsigned view) {
  if (!t || t->dropped || t->c.kind != ST_KIND_TABLE) return ST_EINVAL;
  if (log && (log->dropped || log->c.kind != ST_KIND_EVENTS || log->db != t->db ||
              (log->events_of && log->events_of != t) || view > ST_VIEW_BOTH))
    return ST_EINVAL;
  if (t->events) t->events->events_of = NULL;
  t->events = log;
  t->view = log ? view : 0;
  if (log) log->events_of = t;
  return ST_OK;
}

st_table *st_table_events(const st_table *t) { return t->events; }

uint64_t st_events_trimmed(const st_table *log) { return log->trimmed; }

/* Decode the stored event (key k, value v) into e; ST_ECORRUPT if malformed. */
static int event_decode(const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen, dv_arena *a,
                        st_event *e) {
  memset(e, 0, sizeof *e);
  e->old_image.type = e->new_image.type = DV_NONE;
  op_rd r = {v, v + vlen};
  ev_parts p;
  if (klen != 8 || !rd_event(&r, &p) || r.p != r.end || p.time_ms > INT64_MAX)
    return ST_ECORRUPT;
  e->seq = be64(k);
  e->kind = (st_event_kind)p.kind;
  e->flags = p.flags;
  e->time_ms = (int64_t)p.time_ms;
  if (codec_item_decode(p.keys, p.keys_len, a, &e->keys) != ST_OK) return ST_ECORRUPT;
  e->size_bytes = dv_item_size(&e->keys);
  if (p.old_len) {
    if (codec_item_decode(p.old_img, p.old_len, a, &e->old_image) != ST_OK) return ST_ECORRUPT;
    e->size_bytes += dv_item_size(&e->old_image);
  }
  if (p.new_len) {
    if (codec_item_decode(p.new_img, p.new_len, a, &e->new_image) != ST_OK) return ST_ECORRUPT;
    e->size_bytes += dv_item_size(&e->new_image);
  }
  return ST_OK;
}

int st_events_read(st_table *log, uint64_t from, uint64_t below, size_t max, size_t max_bytes,
                   dv_arena *a, st_event *out, size_t *n, uint64_t *next) {
  *n = 0;
  *next = from;
  if (!log || log->dropped || log->c.kind != ST_KIND_EVENTS) return ST_EINVAL;
  bt_tree *tree = log->parts[0].tree;
  if (!tree || max == 0 || from >= below) return ST_OK;
  bt_cursor *c;
  int rc = bt_cursor_open(tree, &c);
  if (rc != ST_OK) return rc;
  st_buf val;
  st_buf_init(&val);
  uint8_t start[8];
  put_be64(start, from);
  uint64_t sum = 0;
  for (rc = bt_cursor_seek(c, start, 8); rc == ST_OK && bt_cursor_valid(c);
       rc = bt_cursor_next(c)) {
    const uint8_t *k;
    size_t klen;
    bt_cursor_key(c, &k, &klen);
    if (klen != 8) {
      rc = ST_ECORRUPT;
      break;
    }
    if (be64(k) >= below) break;
    uint8_t key[8];
    memcpy(key, k, 8); /* k is borrowed from the cursor's page */
    if ((rc = bt_cursor_value(c, &val)) != ST_OK) break;
    st_event *e = &out[*n];
    if ((rc = event_decode(key, 8, val.p, val.len, a, e)) != ST_OK) break;
    (*n)++;
    *next = e->seq + 1;
    sum += e->size_bytes;
    if (*n == max || (max_bytes && sum >= max_bytes)) break;
  }
  bt_cursor_close(c);
  st_buf_free(&val);
  if (rc != ST_OK) {
    *n = 0;
    *next = from;
  }
  return rc;
}

int st_events_trim(st_db *db, st_table *log, uint64_t before, uint64_t *lsn) {
  if (db->failed) return ST_EFAILED;
  if (!log || log->dropped || log->db != db || log->c.kind != ST_KIND_EVENTS) return ST_EINVAL;
  if (before <= log->trimmed) { /* never goes back */
    if (lsn) *lsn = log->last_lsn;
    return ST_OK;
  }
  /* The tree holds the trim point: create it first, so that an error here
   * logs nothing. */
  int rc;
  if (!log->parts[0].tree && (rc = part_create(db, log, 0)) != ST_OK) return rc;
  size_t off;
  st_buf *b = wal_rec_begin(db->wal, &off);
  uint8_t op = OP_TRIM;
  st_buf_append(b, &op, 1);
  codec_put_varint(b, log->c.id);
  codec_put_varint(b, before);
  uint64_t l;
  rc = commit_apply(db, b, off, &l);
  if (rc == ST_OK) {
    log->last_lsn = l;
    if (lsn) *lsn = l;
  }
  return rc;
}

/* ---- iterators ----------------------------------------------------------------- */

struct st_iter {
  st_table *t;       /* table iterated */
  st_buf lo;         /* lowest key (encoded; len 0 = unbounded) */
  int lo_excl;       /* lo itself excluded */
  st_buf hi;         /* highest key (encoded; len 0 = unbounded) */
  int hi_excl;       /* hi itself excluded */
  st_buf prefix;     /* Query: every key starts with this (len 0 = Scan) */
  int reverse;       /* descending */
  unsigned first;    /* lowest partition visited */
  unsigned last;     /* highest partition visited */
  unsigned part;     /* current partition */
  bt_cursor *cur;    /* cursor in the current partition (NULL = not positioned) */
  uint64_t mods;     /* the partition's mods when cur was positioned */
  st_buf lastkey;    /* key of the last item returned in this partition */
  int done;          /* no more items */
  st_buf val;        /* scratch for values */
};

static st_table *iter_table(const st_iter *it) { return it->t; }

static void buf_set(st_buf *b, const void *p, size_t n) {
  b->len = 0;
  st_buf_append(b, p, n);
}

/* Width of one scan segment's share of the 64-bit hash space: segment s of
 * total covers hashes [s * step, (s + 1) * step), the last one up to the end. */
static uint64_t segment_step(uint32_t total) {
  return UINT64_MAX / total + 1;
}

uint32_t st_segment_of(const dv_value *hash_key, uint32_t total_segments) {
  if (total_segments <= 1) return 0;
  return (uint32_t)(codec_hash_key(hash_key) / segment_step(total_segments));
}

int st_iter_open(st_table *t, const st_iter_spec *spec, st_iter **out) {
  *out = NULL;
  if (!t || t->dropped || (t->c.kind != ST_KIND_TABLE && t->c.kind != ST_KIND_INDEX) || !spec)
    return ST_EINVAL;
  /* An index's sort key is escaped in its entry keys (codec.h), so its
   * bounds are codec_ix_sort_bound's, which cover every entry of a sort
   * value whatever the base key that follows it. */
  int ix = t->c.kind == ST_KIND_INDEX;
  int rc = ST_EINVAL;
  st_iter *it = xcalloc(1, sizeof *it);
  it->t = t;
  it->reverse = spec->reverse;
  it->first = 0;
  it->last = t->c.partitions - 1;
  if (spec->hash_key) {
    if (spec->total_segments > 1) goto fail;
    if (check_key(spec->hash_key, t->c.hash_type, MAX_HASH_KEY) != ST_OK) goto fail;
    codec_key_prefix(spec->hash_key, &it->prefix);
    it->first = it->last = part_of_key(t, it->prefix.p);
    if ((spec->range_lo || spec->range_hi) && !t->c.range_name) goto fail;
    if (spec->range_lo) {
      if (check_key(spec->range_lo, t->c.range_type, MAX_RANGE_KEY) != ST_OK) goto fail;
      if (ix) {
        codec_ix_sort_bound(spec->hash_key, spec->range_lo, spec->lo_exclusive, &it->lo);
        it->lo_excl = 0;
      } else {
        codec_key_encode(spec->hash_key, spec->range_lo, &it->lo);
        it->lo_excl = spec->lo_exclusive;
      }
    } else {
      buf_set(&it->lo, it->prefix.p, it->prefix.len);
    }
    if (spec->range_hi) {
      if (check_key(spec->range_hi, t->c.range_type, MAX_RANGE_KEY) != ST_OK) goto fail;
      if (ix) {
        codec_ix_sort_bound(spec->hash_key, spec->range_hi, !spec->hi_exclusive, &it->hi);
        it->hi_excl = 1;
      } else {
        codec_key_encode(spec->hash_key, spec->range_hi, &it->hi);
        it->hi_excl = spec->hi_exclusive;
      }
    } else {
      /* Bound the top by the prefix's successor (exclusive), so that a
       * reverse walk starts at this partition key's last item and not at
       * the last key of the whole partition file. */
      buf_set(&it->hi, it->prefix.p, it->prefix.len);
      while (it->hi.len > 0 && it->hi.p[it->hi.len - 1] == 0xFF) it->hi.len--;
      if (it->hi.len > 0) {
        it->hi.p[it->hi.len - 1]++;
        it->hi_excl = 1;
      } /* else: an all-0xFF prefix has no successor; the top stays open */
    }
  } else {
    if (spec->range_lo || spec->range_hi) goto fail;
    if (spec->total_segments > 1) {
      if (spec->segment >= spec->total_segments) goto fail;
      /* Segment s covers hashes [s * step, (s + 1) * step), the last one up
       * to the end; no product overflows for total <= 2^32. */
      uint64_t step = segment_step(spec->total_segments);
      uint64_t hlo = step * spec->segment;
      uint8_t b[8];
      for (int i = 0; i < 8; i++) b[i] = (uint8_t)(hlo >> (56 - 8 * i));
      buf_set(&it->lo, b, 8);
      it->first = part_of_hash(t, hlo);
      if (spec->segment + 1 < spec->total_segments) {
        uint64_t hhi = step * (spec->segment + 1);
        for (int i = 0; i < 8; i++) b[i] = (uint8_t)(hhi >> (56 - 8 * i));
        buf_set(&it->hi, b, 8);
        it->hi_excl = 1;
        it->last = part_of_hash(t, hhi - 1);
      }
    }
  }
  if (spec->start_after) {
    const dv_value *hk, *rk;
    st_buf k;
    st_buf_init(&k);
    if (ix) {
      /* The index keys and the base keys: an entry's full key. */
      if (!t->base || ix_key(t, spec->start_after, &k) != 1) {
        st_buf_free(&k);
        goto fail;
      }
    } else {
      if (key_of(t, spec->start_after, &hk, &rk) != ST_OK) goto fail;
      codec_key_encode(hk, rk, &k);
    }
    unsigned kp = part_of_key(t, k.p);
    if (!it->reverse) {
      if (!it->lo.len || keycmp(k.p, k.len, it->lo.p, it->lo.len) >= 0) {
        buf_set(&it->lo, k.p, k.len);
        it->lo_excl = 1;
        if (kp > it->first) it->first = kp;
      }
    } else {
      if (!it->hi.len || keycmp(k.p, k.len, it->hi.p, it->hi.len) <= 0) {
        buf_set(&it->hi, k.p, k.len);
        it->hi_excl = 1;
        if (kp < it->last) it->last = kp;
      }
    }
    st_buf_free(&k);
  }
  if (it->first > it->last) it->done = 1;
  it->part = it->reverse ? it->last : it->first;
  *out = it;
  return ST_OK;
fail:
  st_iter_close(it);
  return rc;
}

void st_iter_close(st_iter *it) {
  if (!it) return;
  if (it->cur) bt_cursor_close(it->cur);
  st_buf_free(&it->lo);
  st_buf_free(&it->hi);
  st_buf_free(&it->prefix);
  st_buf_free(&it->lastkey);
  st_buf_free(&it->val);
  free(it);
}

static void iter_next_part(st_iter *it) {
  if (it->cur) bt_cursor_close(it->cur);
  it->cur = NULL;
  if (it->reverse ? it->part == it->first : it->part == it->last)
    it->done = 1;
  else
    it->part += it->reverse ? -1u : 1u;
}

/* 1 if the cursor's key equals k. */
static int cur_is(const bt_cursor *c, const st_buf *k) {
  const uint8_t *key;
  size_t klen;
  if (!bt_cursor_valid(c)) return 0;
  bt_cursor_key(c, &key, &klen);
  return keycmp(key, klen, k->p, k->len) == 0;
}

/* Position the fresh cursor at the first candidate of the partition. */
static int iter_seek_start(st_iter *it) {
  int rc;
  if (!it->reverse) {
    rc = bt_cursor_seek(it->cur, it->lo.p, it->lo.len);
    if (rc == ST_OK && it->lo_excl && cur_is(it->cur, &it->lo)) rc = bt_cursor_next(it->cur);
  } else {
    rc = bt_cursor_seek_le(it->cur, it->hi.len ? it->hi.p : NULL, it->hi.len);
    if (rc == ST_OK && it->hi_excl && it->hi.len && cur_is(it->cur, &it->hi))
      rc = bt_cursor_prev(it->cur);
  }
  return rc;
}

/* Re-position after the last key returned (the tree changed). */
static int iter_reseek(st_iter *it) {
  int rc;
  if (!it->reverse) {
    rc = bt_cursor_seek(it->cur, it->lastkey.p, it->lastkey.len);
    if (rc == ST_OK && cur_is(it->cur, &it->lastkey)) rc = bt_cursor_next(it->cur);
  } else {
    rc = bt_cursor_seek_le(it->cur, it->lastkey.p, it->lastkey.len);
    if (rc == ST_OK && cur_is(it->cur, &it->lastkey)) rc = bt_cursor_prev(it->cur);
  }
  return rc;
}

int st_iter_next(st_iter *it, dv_arena *a, dv_value *out) {
  memset(out, 0, sizeof *out);
  out->type = DV_NONE;
  int rc = ST_OK;
  while (!it->done) {
    st_part *pp = &it->t->parts[it->part];
    if (!it->cur) {
      if (!pp->tree) {
        iter_next_part(it);
        continue;
      }
      if ((rc = bt_cursor_open(pp->tree, &it->cur)) != ST_OK) return rc;
      rc = iter_seek_start(it);
    } else if (it->mods != pp->mods) {
      rc = iter_reseek(it);
    } else {
      rc = it->reverse ? bt_cursor_prev(it->cur) : bt_cursor_next(it->cur);
    }
    if (rc != ST_OK) return rc;
    it->mods = pp->mods;
    if (!bt_cursor_valid(it->cur)) {
      iter_next_part(it);
      continue;
    }
    const uint8_t *key;
    size_t klen;
    bt_cursor_key(it->cur, &key, &klen);
    if (it->prefix.len && (klen < it->prefix.len || memcmp(key, it->prefix.p, it->prefix.len))) {
      it->done = 1;
      break;
    }
    if (!it->reverse && it->hi.len) {
      int c = keycmp(key, klen, it->hi.p, it->hi.len);
      if (c > 0 || (c == 0 && it->hi_excl)) {
        it->done = 1;
        break;
      }
    }
    if (it->reverse && it->lo.len) {
      int c = keycmp(key, klen, it->lo.p, it->lo.len);
      if (c < 0 || (c == 0 && it->lo_excl)) {
        it->done = 1;
        break;
      }
    }
    buf_set(&it->lastkey, key, klen);
    if ((rc = bt_cursor_value(it->cur, &it->val)) != ST_OK) return rc;
    rc = codec_item_decode(it->val.p, it->val.len, a, out);
    if (rc != ST_OK) {
      memset(out, 0, sizeof *out);
      out->type = DV_NONE;
    }
    return rc;
  }
  return ST_OK;
}

/* ---- open / close ---------------------------------------------------------------- */

static int take_lock(st_db *db, char *err, size_t errlen) {
  char *path = xprintf("%s/LOCK", db->dir);
  int rc = ST_OK;
  db->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (db->lockfd < 0) {
    errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    rc = ST_EIO;
    goto done;
  }
  if (flock(db->lockfd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      char buf[32] = {0};
      ssize_t n = pread(db->lockfd, buf, sizeof buf - 1, 0);
      long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
      if (pid > 0)
        errf(err, errlen, "data directory %s is in use by another dynafiled (pid %ld)", db->dir,
             pid);
      else
        errf(err, errlen, "data directory %s is in use by another dynafiled", db->dir);
      rc = ST_ELOCKED;
    } else {
      errf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
      rc = ST_EIO;
    }
    close(db->lockfd);
    db->lockfd = -1;
    goto done;
  }
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(db->lockfd, 0) != 0 || pwrite(db->lockfd, pid, (size_t)n, 0) != n) {
    /* The pid is only for the message; the lock is what matters. */
  }
done:
  free(path);
  return rc;
}

/* Queue for deletion every table directory whose id is not live (D8). */
static int collect_orphans(st_db *db, char *err, size_t errlen) {
  DIR *d = opendir(db->tables_dir);
  if (!d) {
    errf(err, errlen, "cannot list %s: %s", db->tables_dir, strerror(errno));
    return ST_EIO;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *s = de->d_name;
    if (!*s) continue;
    uint64_t id = 0;
    int ok = 1;
    for (const char *c = s; *c; c++) {
      if (*c < '0' || *c > '9' || id > UINT64_MAX / 10) {
        ok = 0;
        break;
      }
      id = id * 10 + (uint64_t)(*c - '0');
    }
    if (ok && !table_by_id(db, id)) {
      int queued = 0;
      for (size_t i = 0; i < db->ndropped; i++) queued |= db->dropped[i] == id;
      if (!queued) push_dropped(db, id);
    }
  }
  closedir(d);
  return ST_OK;
}

static void ckpt_free(st_ckpt_job *job);

/* mkdir path if missing; when it was created, fsync its parent so that the
 * new name is durable before anything durable goes inside. */
static int make_dir(const char *path, int no_fsync, char *err, size_t errlen) {
  if (mkdir(path, 0755) != 0) {
    if (errno == EEXIST) return ST_OK;
    errf(err, errlen, "cannot create directory %s: %s", path, strerror(errno));
    return ST_EIO;
  }
  if (no_fsync) return ST_OK;
  char *parent = xstrdup(path);
  char *slash = strrchr(parent, '/');
  while (slash && slash > parent && slash[1] == 0) { /* trailing slashes */
    *slash = 0;
    slash = strrchr(parent, '/');
  }
  if (!slash)
    strcpy(parent, ".");
  else if (slash == parent)
    parent[1] = 0;
  else
    *slash = 0;
  int rc = fsync_dir(parent);
  if (rc != ST_OK) errf(err, errlen, "cannot fsync directory %s: %s", parent, strerror(errno));
  free(parent);
  return rc;
}

static void db_free(st_db *db) {
  if (db->ckpt) {
    /* Discard the job: the trees keep their last durable snapshot. */
    st_ckpt_job *job = db->ckpt;
    for (size_t i = 0; i < job->ntrees; i++) {
      ck_tree *ct = &job->trees[i];
      bt_checkpoint_end(ct->t->parts[ct->part].tree, ct->job, ST_EIO);
      ct->t->ckpt_refs--;
    }
    ckpt_free(job);
    db->ckpt = NULL;
  }
  for (size_t i = 0; i < db->ntables; i++) table_free(db->by_id[i]);
  for (size_t i = 0; i < db->nzombies; i++) table_free(db->zombies[i]);
  if (db->wal) wal_close(db->wal); /* frees a prep job's wal_prep too */
  free(db->prep);
  if (db->cache) pc_cache_free(db->cache);
  if (db->lockfd >= 0) close(db->lockfd); /* releases the flock */
  free(db->by_name);
  free(db->by_id);
  free(db->zombies);
  free(db->dropped);
  st_buf_free(&db->kbuf);
  st_buf_free(&db->vbuf);
  st_buf_free(&db->obuf);
  st_buf_free(&db->rbuf);
  st_buf_free(&db->ebuf);
  st_buf_free(&db->tbuf);
  st_buf_free(&db->ibuf);
  for (int i = 0; i < 2; i++) {
    st_buf_free(&db->ixk[i]);
    st_buf_free(&db->ixv[i]);
  }
  free(db->pattrs);
  pthread_mutex_destroy(&db->ds->mu);
  pthread_cond_destroy(&db->ds->cv);
  free(db->ds);
  free(db->tables_dir);
  free(db->dir);
  free(db);
}

/* A partition file is never ahead of the durable log (D4), unless the log
 * lost records it had made durable (a damaged middle record, deleted
 * segments). Then new records must not reuse LSNs a file already covers, or
 * the next replay would skip them: continue the log after the highest file
 * LSN, and checkpoint at once so that the older segments are not needed. */
static int skip_past_trees(st_db *db, char *err, size_t errlen) {
  uint64_t top = 0;
  for (size_t i = 0; i < db->ntables; i++)
    for (uint32_t p = 0; p < db->by_id[i]->c.partitions; p++) {
      bt_tree *t = db->by_id[i]->parts[p].tree;
      if (t && bt_checkpoint_lsn(t) > top) top = bt_checkpoint_lsn(t);
    }
  if (top <= wal_last_lsn(db->wal)) return ST_OK;
  size_t n = strlen(db->note);
  snprintf(db->note + n, sizeof db->note - n,
           "%spartition files reach LSN %" PRIu64 " but the log ends at %" PRIu64
           ": continuing after it",
           n ? "; " : "", top, wal_last_lsn(db->wal));
  int rc = wal_skip_to(db->wal, top);
  if (rc == ST_OK) {
    publish_durable(db);
    rc = st_sync(db);
  }
  if (rc != ST_OK)
    errf(err, errlen, "cannot continue the log after LSN %" PRIu64 ": %s", top, st_strerror(rc));
  return rc;
}

int st_open(const char *dir, const st_options *opt, st_db **out, char *errbuf, size_t errlen) {
  *out = NULL;
  if (errbuf && errlen) errbuf[0] = 0;
  st_options o = opt ? *opt : (st_options){0};
  if (!o.cache_bytes) o.cache_bytes = 64u << 20;
  if (!o.checkpoint_log_bytes) o.checkpoint_log_bytes = 64u << 20;
  if (!o.checkpoint_dirty_bytes) o.checkpoint_dirty_bytes = o.cache_bytes / 2;
  if (!o.partitions) o.partitions = 8;
  if (!o.log_segment_bytes) o.log_segment_bytes = WAL_DEFAULT_SEGMENT;
  if (!o.max_flushes) o.max_flushes = DEFAULT_MAX_FLUSHES;
  if (!dir || !*dir || o.partitions > MAX_PARTITIONS || (o.partitions & (o.partitions - 1))) {
    errf(errbuf, errlen, "invalid storage options (partitions must be a power of two <= %d)",
         MAX_PARTITIONS);
    return ST_EINVAL;
  }
  st_db *db = xcalloc(1, sizeof *db);
  db->lockfd = -1;
  db->opt = o;
  db->dir = xstrdup(dir);
  db->tables_dir = xprintf("%s/tables", dir);
  db->next_id = 1;
  db->ds = xcalloc(1, sizeof *db->ds);
  pthread_mutex_init(&db->ds->mu, NULL);
  pthread_cond_init(&db->ds->cv, NULL);
  st_buf_init(&db->kbuf);
  st_buf_init(&db->vbuf);
  st_buf_init(&db->obuf);
  st_buf_init(&db->rbuf);
  st_buf_init(&db->ebuf);
  st_buf_init(&db->tbuf);
  st_buf_init(&db->ibuf);
  for (int i = 0; i < 2; i++) {
    st_buf_init(&db->ixk[i]);
    st_buf_init(&db->ixv[i]);
  }
  cat_file cf = {0};
  char *waldir = xprintf("%s/wal", dir);
  char *tmp = xprintf("%s/" CAT_TMP, dir);
  int rc;
  if ((rc = make_dir(dir, o.no_fsync, errbuf, errlen)) != ST_OK) goto fail;
  if ((rc = take_lock(db, errbuf, errlen)) != ST_OK) goto fail;
  if ((rc = make_dir(waldir, o.no_fsync, errbuf, errlen)) != ST_OK) goto fail;
  if ((rc = make_dir(db->tables_dir, o.no_fsync, errbuf, errlen)) != ST_OK) goto fail;
  unlink(tmp);
  db->cache = pc_cache_new(o.cache_bytes);
  pc_cache_set_nosync(db->cache, o.no_fsync);

  rc = cat_file_load(dir, &cf, errbuf, errlen);
  if (rc == ST_ENOTFOUND) {
    rc = ST_OK;
  } else if (rc != ST_OK) {
    goto fail;
  } else {
    db->ckpt_lsn = cf.ckpt_lsn;
    db->next_id = cf.next_id;
    for (size_t i = 0; i < cf.n; i++)
      if ((rc = table_add(db, &cf.tables[i], 0, errbuf, errlen)) != ST_OK) goto fail;
    if ((rc = link_loaded_indexes(db, errbuf, errlen)) != ST_OK) goto fail;
  }

  double t0 = now_seconds();
  wal_options wo = {
      .segment_bytes = o.log_segment_bytes, .zero_chunk = o.log_zero_chunk, .no_fsync = o.no_fsync};
  wal_recovery rec;
  char werr[256] = "";
  rc = wal_open(waldir, db->ckpt_lsn, &wo, replay_cb, db, &db->wal, &rec, werr, sizeof werr);
  if (rc != ST_OK) {
    errf(errbuf, errlen, "cannot recover the log in %s: %s", waldir,
         db->replay_err[0] ? db->replay_err : werr[0] ? werr : st_strerror(rc));
    goto fail;
  }
  db->recovery_seconds = now_seconds() - t0;
  publish_durable(db);
  db->recovered = rec.replayed;
  if (rec.cut)
    snprintf(db->note, sizeof db->note, "log cut after LSN %" PRIu64 " (%" PRIu64 " bytes): %s",
             rec.last_lsn, rec.cut_bytes, rec.cut_reason);
  if ((rc = collect_orphans(db, errbuf, errlen)) != ST_OK) goto fail;
  if ((rc = skip_past_trees(db, errbuf, errlen)) != ST_OK) goto fail;
  cat_file_free(&cf);
  free(waldir);
  free(tmp);
  *out = db;
  return ST_OK;
fail:
  cat_file_free(&cf);
  free(waldir);
  free(tmp);
  db_free(db);
  return rc;
}

void st_abandon(st_db *db) {
  if (db) db_free(db);
}

int st_close(st_db *db) {
  if (!db) return ST_OK;
  int rc;
  if (db->flushing || db->prep || db->ckpt)
    rc = ST_EBUSY;
  else if (db->failed)
    rc = ST_EFAILED;
  else
    rc = st_sync(db);
  db_free(db);
  return rc;
}

const char *st_recovery_note(const st_db *db) { return db->note; }

/* ---- group commit ------------------------------------------------------------------ */

uint64_t st_last_lsn(const st_db *db) { return wal_last_lsn(db->wal); }
uint64_t st_durable_lsn(const st_db *db) { return wal_durable_lsn(db->wal); }

st_flush_job *st_flush_begin(st_db *db) {
  if (db->failed || db->flushing >= db->opt.max_flushes) return NULL;
  wal_flush *wf = wal_flush_begin(db->wal);
  if (!wf) return NULL;
  st_flush_job *job = xmalloc(sizeof *job);
  job->wf = wf;
  db->flushing++;
  return job;
}

int st_flush_run(st_flush_job *job) { return wal_flush_run(job->wf); }

void st_flush_inject_error(st_flush_job *job) { wal_flush_inject_error(job->wf); }

int st_flush_end(st_db *db, st_flush_job *job) {
  uint64_t recs = 0;
  int rc = wal_flush_end(db->wal, job->wf, &recs);
  free(job);
  db->flushing--;
  if (rc == ST_OK) { /* the durable LSN may not have moved (D2): an earlier job runs */
    db->flushes++;
    db->flushed_records += recs;
    publish_durable(db);
  } else {
    set_failed(db, rc); /* D9 */
  }
  return rc;
}

struct st_prep_job {
  wal_prep *wp;
};

st_prep_job *st_prep_begin(st_db *db) {
  if (db->failed) return NULL;
  wal_prep *wp = wal_prep_begin(db->wal);
  if (!wp) return NULL;
  st_prep_job *job = xmalloc(sizeof *job);
  job->wp = wp;
  db->prep = job;
  return job;
}

int st_prep_run(st_prep_job *job) { return wal_prep_run(job->wp); }

int st_prep_end(st_db *db, st_prep_job *job) {
  int rc = wal_prep_end(db->wal, job->wp);
  free(job);
  db->prep = NULL;
  if (rc == ST_OK) db->zero_fills++;
  return rc;
}

/* ---- checkpoints ------------------------------------------------------------------- */

int st_checkpoint_due(const st_db *db) {
  if (db->failed || db->ckpt) return 0;
  uint64_t logb = wal_appended_bytes(db->wal) - db->ckpt_appended;
  return logb >= db->opt.checkpoint_log_bytes ||
         pc_cache_dirty_bytes(db->cache) >= db->opt.checkpoint_dirty_bytes;
}

static void strv_push(char ***v, size_t *n, char *s) {
  *v = xrealloc(*v, (*n + 1) * sizeof **v);
  (*v)[(*n)++] = s;
}

static void ckpt_free(st_ckpt_job *job) {
  free(job->trees);
  wal_free_paths(job->sync_dirs, job->nsync);
  wal_free_paths(job->wal_paths, job->nwal);
  wal_free_paths(job->drop_dirs, job->ndrop);
  free(job->drop_ids);
  free(job->data_dir);
  st_buf_free(&job->catalog);
  free(job);
}

st_ckpt_job *st_checkpoint_begin(st_db *db, int *err) {
  *err = ST_OK;
  if (db->failed) {
    *err = ST_EFAILED;
    return NULL;
  }
  if (db->ckpt) {
    *err = ST_EBUSY;
    return NULL;
  }
  uint64_t lsn = wal_last_lsn(db->wal); /* may be beyond durable: the run waits (D4) */
  if (lsn == db->ckpt_lsn && db->ndropped == 0) return NULL; /* nothing new */
  st_ckpt_job *job = xcalloc(1, sizeof *job);
  job->lsn = lsn;
  job->ds = db->ds;
  job->appended = wal_appended_bytes(db->wal);
  job->no_fsync = db->opt.no_fsync;
  job->data_dir = xstrdup(db->dir);
  st_buf_init(&job->catalog);
  size_t cap = 0;
  int tables_dir_synced = 0;
  for (size_t i = 0; i < db->ntables; i++) {
    st_table *t = db->by_id[i];
    int table_dir_synced = 0;
    for (uint32_t p = 0; p < t->c.partitions; p++) {
      st_part *pp = &t->parts[p];
      if (!pp->tree) continue;
      /* Words first: a changed trim point alone makes the tree dirty. */
      uint64_t u[4] = {pp->items, pp->bytes, t->c.kind == ST_KIND_EVENTS ? t->trimmed : 0, 0};
      bt_user_set(pp->tree, u);
      if (!bt_dirty(pp->tree) && !pp->new_file) continue;
      bt_ckpt *bj;
      int rc = bt_checkpoint_begin(pp->tree, lsn, &bj);
      if (rc != ST_OK) {
        *err = rc;
        for (size_t k = 0; k < job->ntrees; k++) {
          ck_tree *ct = &job->trees[k];
          st_part *cp = &ct->t->parts[ct->part];
          bt_checkpoint_end(cp->tree, ct->job, rc);
          if (ct->had_new) cp->new_file = 1;
          if (ct->had_dir_new) ct->t->dir_new = 1;
          ct->t->ckpt_refs--;
        }
        ckpt_free(job);
        return NULL;
      }
      if (job->ntrees == cap) {
        cap = cap ? cap * 2 : 16;
        job->trees = xrealloc(job->trees, cap * sizeof *job->trees);
      }
      ck_tree *ct = &job->trees[job->ntrees++];
      *ct = (ck_tree){t, p, bj, ST_EIO, pp->new_file, 0};
      t->ckpt_refs++;
      pp->mods++;
      if (pp->new_file) {
        pp->new_file = 0;
        if (!table_dir_synced) {
          strv_push(&job->sync_dirs, &job->nsync, table_dir(db, t->c.id));
          table_dir_synced = 1;
        }
        if (t->dir_new) {
          t->dir_new = 0;
          ct->had_dir_new = 1;
          if (!tables_dir_synced) {
            strv_push(&job->sync_dirs, &job->nsync, xstrdup(db->tables_dir));
            tables_dir_synced = 1;
          }
        }
      }
    }
  }
  /* The catalog as of lsn: every live table. */
  const cat_table **defs = xmalloc((db->ntables ? db->ntables : 1) * sizeof *defs);
  for (size_t i = 0; i < db->ntables; i++) defs[i] = &db->by_id[i]->c;
  cat_file_encode(lsn, db->next_id, defs, db->ntables, &job->catalog);
  free(defs);
  job->nwal = wal_retirable(db->wal, lsn, &job->wal_paths);
  if (db->ndropped) {
    job->drop_ids = db->dropped;
    job->ndrop = db->ndropped;
    job->drop_dirs = xmalloc(job->ndrop * sizeof *job->drop_dirs);
    for (size_t i = 0; i < job->ndrop; i++) job->drop_dirs[i] = table_dir(db, job->drop_ids[i]);
    db->dropped = NULL;
    db->ndropped = db->capdropped = 0;
  }
  db->ckpt = job;
  return job;
}

size_t st_checkpoint_trees(const st_ckpt_job *job) { return job->ntrees; }

int st_checkpoint_ready(const st_db *db, const st_ckpt_job *job) {
  return db->failed || wal_durable_lsn(db->wal) >= job->lsn;
}

/* Wait until the log is durable up to the checkpoint (D4). */
static int ckpt_wait_durable(st_ckpt_job *job) {
  st_durable *ds = job->ds;
  pthread_mutex_lock(&ds->mu);
  while (ds->lsn < job->lsn && !ds->failed) pthread_cond_wait(&ds->cv, &ds->mu);
  int rc = ds->lsn >= job->lsn ? ST_OK : ST_EFAILED;
  pthread_mutex_unlock(&ds->mu);
  return rc;
}

static int ckpt_run_trees(st_ckpt_job *job, size_t n) {
  for (size_t i = 0; i < n && i < job->ntrees; i++) {
    int rc = bt_checkpoint_run(job->trees[i].job);
    job->trees[i].status = rc;
    if (rc != ST_OK) return rc; /* D5a: no catalog after a failed tree */
  }
  return ST_OK;
}

int st_checkpoint_run_partial(st_ckpt_job *job, size_t n) {
  job->status = ST_EIO;
  int rc = ckpt_wait_durable(job);
  return rc == ST_OK ? ckpt_run_trees(job, n) : rc;
}

int st_checkpoint_run(st_ckpt_job *job) {
  int rc = ckpt_wait_durable(job);
  if (rc == ST_OK) rc = ckpt_run_trees(job, job->ntrees);
  for (size_t i = 0; rc == ST_OK && !job->no_fsync && i < job->nsync; i++)
    rc = fsync_dir(job->sync_dirs[i]); /* D5b */
  if (rc == ST_OK) rc = cat_file_write(job->data_dir, &job->catalog, job->no_fsync); /* D5c */
  if (rc == ST_OK) {
    /* D5d: the catalog at lsn is durable; what it covers can go. */
    for (size_t i = 0; i < job->nwal; i++) unlink(job->wal_paths[i]);
    for (size_t i = 0; i < job->ndrop; i++) remove_tree_dir(job->drop_dirs[i]);
  }
  job->status = rc;
  return rc;
}

int st_checkpoint_end(st_db *db, st_ckpt_job *job) {
  int rc = job->status;
  for (size_t i = 0; i < job->ntrees; i++) {
    ck_tree *ct = &job->trees[i];
    st_part *pp = &ct->t->parts[ct->part];
    bt_checkpoint_end(pp->tree, ct->job, ct->status);
    pp->mods++;
    if (ct->status != ST_OK || rc != ST_OK) {
      if (ct->had_new) pp->new_file = 1;
      if (ct->had_dir_new) ct->t->dir_new = 1;
    }
    ct->t->ckpt_refs--;
  }
  /* Dropped tables the job held on to can go now. */
  for (size_t i = 0; i < db->nzombies;) {
    if (db->zombies[i]->ckpt_refs == 0) {
      table_free(db->zombies[i]);
      db->zombies[i] = db->zombies[--db->nzombies];
    } else {
      i++;
    }
  }
  if (rc == ST_OK) {
    db->ckpt_lsn = job->lsn;
    db->ckpt_appended = job->appended;
    wal_forget(db->wal, job->nwal);
    wal_rotate_soon(db->wal, db->opt.log_segment_bytes / 8);
    db->checkpoints++;
  } else {
    for (size_t i = 0; i < job->ndrop; i++) push_dropped(db, job->drop_ids[i]);
  }
  db->ckpt = NULL;
  ckpt_free(job);
  return rc;
}

int st_sync(st_db *db) {
  if (db->failed) return ST_EFAILED;
  if (db->flushing || db->ckpt) return ST_EBUSY;
  st_flush_job *f = st_flush_begin(db);
  if (f) {
    st_flush_run(f);
    int rc = st_flush_end(db, f);
    if (rc != ST_OK) return rc;
  }
  int err;
  st_ckpt_job *job = st_checkpoint_begin(db, &err);
  if (!job) return err;
  st_checkpoint_run(job);
  return st_checkpoint_end(db, job);
}

/* ---- statistics ------------------------------------------------------------------------ */

void st_get_stats(const st_db *db, st_stats *out) {
  memset(out, 0, sizeof *out);
  out->last_lsn = wal_last_lsn(db->wal);
  out->durable_lsn = wal_durable_lsn(db->wal);
  out->checkpoint_lsn = db->ckpt_lsn;
  out->log_bytes = wal_appended_bytes(db->wal) - db->ckpt_appended;
  out->cache_bytes = pc_cache_bytes(db->cache);
  out->dirty_bytes = pc_cache_dirty_bytes(db->cache);
  out->flushes = db->flushes;
  out->flushed_records = db->flushed_records;
  out->zero_fills = db->zero_fills;
  out->checkpoints = db->checkpoints;
  out->recovered_records = db->recovered;
  out->recovery_seconds = db->recovery_seconds;
}
