/*
 * storage.h -- the public C API of dynafile's embedded storage engine.
 *
 * The engine knows nothing of HTTP or the wire JSON. It keeps a catalog of
 * tables (each in a namespace), stores items (dv_value maps, see value.h) in
 * per-partition B-tree files, and makes every change durable through one
 * write-ahead batch log shared by all tables, with group commit.
 *
 * Threading: an st_db is used from one thread (the "owner", the server's
 * event-loop thread), except st_flush_run() and st_checkpoint_run(), which
 * do the slow I/O and run on other threads while the owner goes on (each
 * job on one thread; several flush jobs and the checkpoint job may run at
 * the same time). That is how fsync never blocks the event loop.
 *
 * Durability contract (the numbered invariants are in storage.c and
 * docs/ARCHITECTURE.md):
 *   - st_write() and the catalog calls apply a change in memory at once and
 *     return the LSN of the log record that holds it. The change is visible to
 *     later reads immediately, but it is durable only when st_durable_lsn()
 *     >= that LSN. A caller must not acknowledge a write (or reveal state
 *     read after it) before then.
 *   - st_flush_begin/run/end move every pending record to the log with one
 *     write and one fdatasync (group commit); up to max_flushes such jobs
 *     run concurrently, and the durable LSN covers only a prefix of the log
 *     every record of which has been fdatasynced.
 *   - st_checkpoint_begin/run/end write dirty B-tree pages to the partition
 *     files (copy-on-write, then the meta page), write the catalog, and then
 *     delete log segments that recovery no longer needs.
 */
#ifndef DF_STORAGE_H
#define DF_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/value.h"

/* ---- errors -------------------------------------------------------------- */

#define ST_ERRORS(X)                                                   \
  X(ST_OK, 0, "ok")                                                    \
  X(ST_ENOMEM, -1, "out of memory")                                    \
  X(ST_EIO, -2, "I/O error")                                           \
  X(ST_ECORRUPT, -3, "corrupt data on disk")                           \
  X(ST_EEXIST, -4, "already exists")                                   \
  X(ST_ENOTFOUND, -5, "not found")                                     \
  X(ST_ELOCKED, -6, "data directory is in use by another process")    \
  X(ST_EINVAL, -7, "invalid argument")                                 \
  X(ST_ETOOBIG, -8, "too big")                                         \
  X(ST_EFAILED, -9, "engine stopped after an earlier I/O error")      \
  X(ST_EBUSY, -10, "busy")                                             \
  X(ST_EVERSION, -11, "unsupported on-disk format version")

enum {
#define X(name, val, msg) name = val,
  ST_ERRORS(X)
#undef X
};

/* Static message for a status code. */
const char *st_strerror(int code);
/* Symbolic name for a status code ("ST_EIO"). */
const char *st_errname(int code);

/* ---- database ------------------------------------------------------------ */

typedef struct st_db st_db;

typedef struct st_options {
  size_t cache_bytes;          /* page-cache budget (0 = 64 MiB) */
  size_t checkpoint_log_bytes; /* checkpoint due when the log passes this (0 = 64 MiB) */
  size_t checkpoint_dirty_bytes; /* ... or dirty pages pass this (0 = cache_bytes / 2) */
  unsigned partitions;         /* partitions of a new table, power of two (0 = 8) */
  int no_fsync;                /* 1: skip fsync (tests of logic only; not durable) */
  size_t log_segment_bytes;    /* log rotates to a new segment file past this (0 = 64 MiB) */
  size_t log_zero_chunk;       /* bytes of log space one st_prep job zero-fills (0 = 1 MiB) */
  unsigned max_flushes;        /* flush jobs in flight at once (0 = 3; 1 = strictly one by one) */
} st_options;

/* Open (creating if needed) the database in directory dir: take the
 * directory's lock (ST_ELOCKED if another process holds it), load the
 * catalog, replay the log after the last checkpoint, stopping cleanly at a
 * torn or corrupt tail. On failure *out is NULL and errbuf holds a sentence
 * for the operator. opt may be NULL for defaults. */
int st_open(const char *dir, const st_options *opt, st_db **out, char *errbuf, size_t errlen);

/* Make everything durable (flush + checkpoint, synchronously), close files,
 * release the lock and free db. Returns the first error met; db is freed in
 * every case. Must not be called with a flush or checkpoint job in flight. */
int st_close(st_db *db);

/* ---- catalog ------------------------------------------------------------- */

typedef struct st_table st_table; /* borrowed handle: valid until the table is dropped */

typedef struct st_key_def {
  const char *name; /* attribute name (UTF-8, NUL-terminated); NULL = no such key */
  dv_type type;     /* DV_S, DV_N or DV_B */
} st_key_def;

/* What a catalog entry is. */
typedef enum st_kind {
  ST_KIND_TABLE = 0,  /* a table of items */
  ST_KIND_EVENTS = 1, /* an event log: the change events of a table's stream (below) */
  ST_KIND_INDEX = 2   /* a secondary index of a table (below; made by st_index_create only) */
} st_kind;

typedef struct st_table_def {
  st_kind kind;        /* ST_KIND_TABLE, or ST_KIND_EVENTS (hash/range are then ignored) */
  const char *ns;      /* namespace ("" = default); tables are unique per (ns, name) */
  const char *name;    /* table name */
  st_key_def hash;     /* partition key (required) */
  st_key_def range;    /* sort key (name NULL when the table has none) */
  const void *meta;    /* opaque bytes the caller keeps with the table (copied) */
  size_t meta_len;     /* bytes in meta */
  double created;      /* creation time, epoch seconds (set by the caller) */
} st_table_def;

/* Create a table. ST_EEXIST if (ns, name) exists. *lsn = the log record. */
int st_table_create(st_db *db, const st_table_def *def, uint64_t *lsn);
/* Drop a table and all its items; its files are deleted once the drop is
 * durable. The handle is invalid after this call. */
int st_table_drop(st_db *db, st_table *t, uint64_t *lsn);
/* Replace the table's opaque meta bytes (logged like any change). */
int st_table_set_meta(st_db *db, st_table *t, const void *meta, size_t len, uint64_t *lsn);
/* Find a table by namespace and name; NULL if absent. */
st_table *st_table_find(st_db *db, const char *ns, const char *name);
/* The table's definition; pointers borrowed, valid while the table exists
 * and until the next st_table_set_meta on it. */
const st_table_def *st_table_info(const st_table *t);
/* Engine-assigned id, unique for the life of the data directory. */
uint64_t st_table_id(const st_table *t);
/* Live counters: items and the sum of their DynamoDB sizes (of an event
 * log: its events and the sum of their encoded bytes). */
uint64_t st_table_item_count(const st_table *t);
uint64_t st_table_size_bytes(const st_table *t);
/* LSN of the newest change to the table made since open (0 if none): a
 * reader of the table must not reveal what it read before this LSN is
 * durable. */
uint64_t st_table_last_lsn(const st_table *t);

/* A pointer the caller keeps with the table in memory only (NULL at open
 * and creation). The engine never looks at it; the caller frees what it
 * points to before dropping the table and before st_close. */
void st_table_set_user(st_table *t, void *user);
void *st_table_user(const st_table *t);

/* Tables of namespace ns with name > after (after NULL = from the start), in
 * ascending byte order of name, at most max of them. Fills out[] with
 * borrowed handles and returns how many; *more is set to 1 if further tables
 * follow. */
size_t st_table_list(st_db *db, const char *ns, const char *after, st_table **out, size_t max, int *more);

/* ---- items --------------------------------------------------------------- */

/* Read the item whose key attributes equal those of key (a DV_M holding at
 * least the table's key attributes with the right types; other attributes
 * are ignored). On success *out is the item decoded into arena a, or has
 * type DV_NONE when there is none. Errors: ST_EINVAL for a bad key,
 * ST_ECORRUPT / ST_EIO from disk. */
int st_item_get(st_table *t, const dv_value *key, dv_arena *a, dv_value *out);

typedef enum st_write_op {
  ST_PUT = 1, /* replace the whole item (item holds the key attributes) */
  ST_DEL = 2  /* delete the item with this key (no-op if absent) */
} st_write_op;

/* st_write_req.flags */
enum {
  ST_WF_TTL = 1 /* a deletion by the TTL sweeper: its event carries ST_EVF_TTL */
};

typedef struct st_write_req {
  st_table *table;       /* target table (ST_KIND_TABLE) */
  st_write_op op;        /* ST_PUT or ST_DEL */
  const dv_value *item;  /* ST_PUT: the item; ST_DEL: a map holding the key */
  unsigned flags;        /* ST_WF_* */
} st_write_req;

/* Apply n writes as one atomic batch: one log record, all or nothing (after
 * a crash either all of them are present or none). Validates every request
 * first (key attributes present with declared types, key sizes, item size
 * <= 400 KiB; two requests of one batch on the same item of a table that
 * has an event log attached): ST_EINVAL / ST_ETOOBIG and nothing is
 * written. *lsn receives the batch's LSN. For a table with an event log
 * attached (st_table_set_events), every request that changes data adds its
 * change event to the same log record (see "change events"). */
int st_write(st_db *db, const st_write_req *w, size_t n, uint64_t *lsn);

/* ---- change events -------------------------------------------------------- */

/* An event log (a catalog entry of kind ST_KIND_EVENTS, created with
 * st_table_create and dropped with st_table_drop like a table, with its
 * own namespace, name and opaque meta, one B-tree file, never written by
 * st_write) holds the change events of one table's stream. A table has at
 * most one event log attached; while attached, st_write logs, in the same
 * log record as the change and so atomically with it, one event for every
 * request that changes data:
 *   ST_PUT of a new item                 ST_EV_INSERT
 *   ST_PUT that changes an existing item ST_EV_MODIFY (an identical item:
 *                                        no event; items compare by their
 *                                        canonical encoding, i.e. by value)
 *   ST_DEL of an existing item           ST_EV_REMOVE (missing item: none)
 * The event's sequence number is (LSN of the record << 16) | (index of the
 * event within the record), so numbers are unique across the data
 * directory, strictly increasing in commit order, never reused (LSNs never
 * are), and an event is durable exactly when st_durable_lsn() >=
 * seq >> 16. Events survive the table: dropping the table detaches its log,
 * which stays until it is dropped itself. */

/* Which images an event keeps (the stream's view type); bit flags. */
enum {
  ST_VIEW_KEYS = 0, /* keys only */
  ST_VIEW_NEW = 1,  /* the item after the change */
  ST_VIEW_OLD = 2,  /* the item before the change */
  ST_VIEW_BOTH = 3  /* both */
};

/* Attach event log `log` to table t with view type `view` (ST_VIEW_*), or
 * detach with log NULL. In memory only: the caller records the attachment
 * in its own meta and attaches again after every st_open. ST_EINVAL if t is
 * not a table, log not an event log, or log is attached to another table. */
int st_table_set_events(st_table *t, st_table *log, unsigned view);
/* The log attached to t, NULL if none. */
st_table *st_table_events(const st_table *t);

/* st_event.kind */
typedef enum st_event_kind { ST_EV_INSERT = 1, ST_EV_MODIFY = 2, ST_EV_REMOVE = 3 } st_event_kind;
/* st_event.flags */
enum { ST_EVF_TTL = 1 /* deleted by the TTL sweeper (ST_WF_TTL) */ };

typedef struct st_event {
  uint64_t seq;        /* sequence number */
  st_event_kind kind;  /* INSERT / MODIFY / REMOVE */
  unsigned flags;      /* ST_EVF_* */
  int64_t time_ms;     /* wall-clock time of the st_write, epoch milliseconds */
  dv_value keys;       /* DV_M: the table's key attributes */
  dv_value old_image;  /* DV_M, or DV_NONE when the view or the kind has none */
  dv_value new_image;  /* DV_M, or DV_NONE when the view or the kind has none */
  uint64_t size_bytes; /* dv_item_size of keys + old_image + new_image as present */
} st_event;

/* Read the events of log with from <= seq < below, in order, decoded into a:
 * at most max events, stopping after the event that brings the sum of
 * their size_bytes to max_bytes or more (0 = no byte bound). Fills out[0..*n).
 * *next is the sequence number to read from next time (the last event's
 * seq + 1, or from when none was read). Pass below = (st_durable_lsn() + 1)
 * << 16 to read only durable events. ST_EINVAL if log is not an event log;
 * ST_ECORRUPT / ST_EIO from disk. */
int st_events_read(st_table *log, uint64_t from, uint64_t below, size_t max, size_t max_bytes,
                   dv_arena *a, st_event *out, size_t *n, uint64_t *next);
/* The trim point: every event with seq < it was trimmed (0 if none ever
 * was). Persistent. */
uint64_t st_events_trimmed(const st_table *log);
/* Delete every event with seq < before (logged, one record); the trim point
 * becomes before (it never goes back: a smaller before is a no-op). */
int st_events_trim(st_db *db, st_table *log, uint64_t before, uint64_t *lsn);

/* xxh64 of the item's canonical encoding (equal items by DynamoDB's rules
 * hash alike): the REST face's ETag. item must be a DV_M. */
uint64_t st_item_hash(const dv_value *item);

/* ---- secondary indexes ------------------------------------------------------ */

/* A secondary index (a catalog entry of kind ST_KIND_INDEX, made by
 * st_index_create) belongs to one table, its base, and holds one entry per
 * base item that has every index key attribute with the index's declared
 * type and a legal key value (non-empty S/B, partition key <= 2048 bytes,
 * sort key <= 1024 bytes): a sparse index. Items without them, or with a
 * value of another type, are simply not in it. The entry is the item's
 * projection (ST_PROJ_*; it always holds the base table's key attributes
 * and the index's) and its B-tree key orders entries by index partition key
 * (in hash order, partitioned like a table), then index sort key (DynamoDB
 * order), then the base item's key, so ties are broken by the table key.
 *
 * Maintenance is the engine's: every st_write to the base (put, delete,
 * TTL deletion, any batch) adds to the SAME log record, after the item
 * operations, the index operations that keep every index of the table
 * exact: the old entry is deleted when the item leaves the index or its
 * index key changes, the new entry written when the item is in the index
 * and its entry (key or projected data) changed. After a crash table and
 * indexes agree (one record, D3). A batch may not touch one item of a table
 * with indexes twice (ST_EINVAL), as with an event log.
 *
 * The association is persistent (the index's catalog definition names its
 * base): no re-attaching after st_open. Dropping the base drops its
 * indexes in the same record. st_table_item_count / st_table_size_bytes of
 * an index are its entry count and the sum of the entries' DynamoDB sizes
 * (IndexSizeBytes). st_iter_open on an index iterates entries (below). */

/* What an index entry holds beyond the table and index keys. */
typedef enum st_projection {
  ST_PROJ_KEYS_ONLY = 0, /* the keys only */
  ST_PROJ_INCLUDE = 1,   /* the keys and the attributes named in include[] (those present) */
  ST_PROJ_ALL = 2        /* the whole item */
} st_projection;

typedef struct st_index_def {
  const char *name;           /* index name, unique among the base's indexes (1..255 bytes) */
  st_key_def hash;            /* index partition key (required; may be the table's, an LSI) */
  st_key_def range;           /* index sort key (name NULL: none) */
  st_projection projection;   /* ST_PROJ_* */
  const char *const *include; /* ST_PROJ_INCLUDE: non-key attribute names (others: ignored) */
  size_t n_include;           /* entries in include (<= 1000) */
} st_index_def;

/* Create an empty index of table t (ST_KIND_TABLE) in one log record.
 * From this call on every st_write to t maintains it; the items t already
 * holds are NOT in it until st_index_fill has walked them (a GSI created on
 * a table with data). ST_EEXIST if t has an index of that name, ST_EINVAL
 * for a bad definition (hash and range the same attribute, bad types).
 * *out (may be NULL) receives the index. */
int st_index_create(st_db *db, st_table *t, const st_index_def *def, st_table **out, uint64_t *lsn);
/* The index of t named name, NULL if none. */
st_table *st_index_find(const st_table *t, const char *name);
/* t's indexes in creation order: fills out[0..max) and returns how many t
 * has (which may be more than max). */
size_t st_table_indexes(const st_table *t, st_table **out, size_t max);
/* An index's definition (borrowed; valid while the index exists); NULL if
 * idx is not an index. */
const st_index_def *st_index_info(const st_table *idx);
/* The base table of an index (NULL if idx is not an index). */
st_table *st_index_base(const st_table *idx);
typedef struct st_iter st_iter; /* (below) */
/* Backfill: read up to max items from base_it (an iterator the caller
 * opened on the index's base, st_iter_open with any spec, usually the whole
 * table) and write the entries of those that belong in the index, all in
 * one log record, as they are now. Entries already right are left alone.
 * *n_read = items read; *done = 1 when base_it is exhausted; *lsn = the
 * record's LSN, or 0 when nothing had to be written. Interleave with
 * st_write freely: writes maintain the index for items before and after
 * the backfill position alike, so once *done the index is exact. */
int st_index_fill(st_db *db, st_table *idx, st_iter *base_it, size_t max, size_t *n_read, int *done,
                  uint64_t *lsn);
/* Drop an index with st_table_drop(db, idx, lsn): one record; its entries
 * and files go like a dropped table's, t's writes stop maintaining it. */

/* ---- iterators ----------------------------------------------------------- */

/* Items of one table (or entries of one index) in key order, for Scan and
 * Query. The order is that of the encoded keys: items grouped by partition key in hash order (the order
 * Scan returns and the one its segments split), and within one partition key
 * by sort key in DynamoDB order (S/B bytewise, N by value). */
typedef struct st_iter st_iter;

typedef struct st_iter_spec {
  const dv_value *hash_key;    /* Query: only items with this partition-key value (S/N/B of
                                  the declared type); NULL = every item (Scan) */
  const dv_value *range_lo;    /* Query: lowest sort-key value (NULL = unbounded) */
  int lo_exclusive;            /* 1: an item whose sort key equals range_lo is skipped */
  const dv_value *range_hi;    /* Query: highest sort-key value (NULL = unbounded) */
  int hi_exclusive;            /* 1: an item whose sort key equals range_hi is skipped */
  const dv_value *start_after; /* exclusive start (ExclusiveStartKey): a map holding the key
                                  attributes of the last item already seen (of an index: its
                                  index keys AND its base table's keys); NULL = from the
                                  first item */
  int reverse;                 /* 1: descending order (Query's ScanIndexForward=false) */
  uint32_t segment;            /* Scan: which segment of total_segments (0-based) */
  uint32_t total_segments;     /* Scan: split the hash space in this many equal ranges
                                  (0 or 1 = whole table); items of one partition key are
                                  always in one segment */
} st_iter_spec;

/* The scan segment (0-based, of total_segments) that holds every item of
 * partition-key value hash_key: the split st_iter_spec.segment uses. */
uint32_t st_segment_of(const dv_value *hash_key, uint32_t total_segments);
/* Open an iterator on t, a table or an index. On an index, hash_key and
 * range_lo/hi are values of the INDEX's keys, entries come in index order
 * (ties by table key) and each is returned as its projected item; segments
 * split the index partition-key hash space. ST_EINVAL for a malformed spec
 * (wrong key types, sort-key bounds on a table without sort key, segment >=
 * total). The
 * iterator may be used across writes to the table (it resumes after the
 * last item returned); it must be closed before the table is dropped. */
int st_iter_open(st_table *t, const st_iter_spec *spec, st_iter **out);
/* Next item, decoded into a; *out has type DV_NONE after the last one.
 * ST_ECORRUPT / ST_EIO from disk. */
int st_iter_next(st_iter *it, dv_arena *a, dv_value *out);
void st_iter_close(st_iter *it);

/* ---- durability: group commit ------------------------------------------- */

/* The owner's loop, with workers for the slow part of jobs:
 *   - after appending (st_write, catalog calls): st_flush_begin and give
 *     st_flush_run to a worker, again while it returns a job;
 *   - when a flush run returns: st_flush_end; acknowledge every request
 *     whose LSN <= st_durable_lsn; start flush jobs again as above; then,
 *     if no checkpoint job exists and st_checkpoint_due,
 *     st_checkpoint_begin; and if a checkpoint job exists that is not yet
 *     running and st_checkpoint_ready, give st_checkpoint_run to a worker;
 *   - when a checkpoint run returns: st_checkpoint_end.
 * Flushes are no longer sequential: up to max_flushes jobs are in flight,
 * each with its own file range, written and fdatasynced concurrently and
 * ended in any order. The durable LSN advances only over the longest
 * prefix of jobs (in LSN order) that have all succeeded, so it still only
 * grows, records still become durable in LSN order, and a job that
 * finishes before an earlier one makes nothing durable until that one has
 * finished too. A job that starts a new log segment runs alone.
 * Submitting the checkpoint run only once it is ready means it never waits,
 * so one worker thread running all jobs in turn is enough. */

/* LSN of the last record appended (durable or not). */
uint64_t st_last_lsn(const st_db *db);
/* Every record with LSN <= this is on disk (fsynced). */
uint64_t st_durable_lsn(const st_db *db);

typedef struct st_flush_job st_flush_job;
/* Owner thread: take the pending log records; NULL if there are none, if
 * max_flushes jobs are already in flight, if the job would start a new log
 * segment while others are in flight (it begins once they have ended) or
 * one that does is in flight, or in the failed state. */
st_flush_job *st_flush_begin(st_db *db);
/* Any thread: write the records and fdatasync. Touches nothing but the job
 * and the log file descriptor. */
int st_flush_run(st_flush_job *job);
/* Owner thread, jobs in any order: advance the durable LSN over the jobs
 * that have now all succeeded (possibly not at all, when an earlier job is
 * still running), free the job, and return its status. On failure the
 * engine enters the failed state (every later write returns ST_EFAILED)
 * and the error is returned; the durable LSN never passes the failed job's
 * first record, and the other jobs in flight must still be ended. */
int st_flush_end(st_db *db, st_flush_job *job);

/* Log space prepared ahead. An fdatasync after an append must also make the
 * new file size durable (a journal commit); one after overwriting written
 * zeros need not, and costs less. So the owner's loop, after starting
 * flushes, also calls st_prep_begin and gives the job it returns (if any)
 * to a worker: the job writes the next zeros (1 MiB) ahead of the log's
 * appends and fdatasyncs them. It carries no records, so it delays no
 * acknowledgement; while it runs, a flush whose records would reach the
 * zeros being written waits (st_flush_begin returns NULL; start flushes
 * again after st_prep_end). Skipping it is safe: the log then appends. */
typedef struct st_prep_job st_prep_job;
/* Owner thread: NULL when the log has room enough, one is in flight, or in
 * the failed state. */
st_prep_job *st_prep_begin(st_db *db);
/* Any thread: write the zeros and fdatasync. */
int st_prep_run(st_prep_job *job);
/* Owner thread: account for the zeros and free the job. A failed run only
 * stops the zero-filling of the current log segment (the status is
 * returned, for the operator's log); the engine goes on. */
int st_prep_end(st_db *db, st_prep_job *job);

/* ---- checkpoints --------------------------------------------------------- */

/* 1 when the log or the dirty pages passed their threshold. */
int st_checkpoint_due(const st_db *db);

typedef struct st_ckpt_job st_ckpt_job;
/* Owner thread: seal the dirty pages of every partition and the catalog at
 * the last LSN (st_last_lsn). Returns NULL (and *err = 0) when there is
 * nothing to do; NULL with *err = ST_EBUSY when a checkpoint is already in
 * flight, ST_EFAILED in the failed state. Records may still be pending (not
 * yet durable) when it is called, which is the normal case under load: the
 * checkpoint then becomes runnable once a flush has made them durable (see
 * st_checkpoint_ready). Calling it right after st_flush_end keeps that wait
 * short. */
st_ckpt_job *st_checkpoint_begin(st_db *db, int *err);
/* Owner thread: 1 when st_checkpoint_run would not wait, i.e. the log is
 * durable up to the checkpoint's LSN (or the engine failed). */
int st_checkpoint_ready(const st_db *db, const st_ckpt_job *job);
/* Any thread: first wait until the log is durable up to the checkpoint's
 * LSN (the owner must keep flushing: st_flush_end wakes it; returns
 * ST_EFAILED if the engine fails meanwhile), then write pages and meta
 * pages, fsync the partition files, write the catalog file atomically, and
 * delete the log segments and dropped tables' files that are no longer
 * needed. May run alongside st_flush_run; never run it on the only thread
 * that runs flushes while it is not ready (it would wait forever). */
int st_checkpoint_run(st_ckpt_job *job);
/* Owner thread: finish the trees' checkpoints (recycle freed pages), retire
 * the log segments, free the job, and return the run's status. A failed
 * checkpoint loses nothing: the previous catalog stays in force, the log is
 * kept, and the engine stays usable (the next checkpoint retries). */
int st_checkpoint_end(st_db *db, st_ckpt_job *job);

/* Synchronous flush + checkpoint (for shutdown and tests). */
int st_sync(st_db *db);

/* ---- statistics ---------------------------------------------------------- */

typedef struct st_stats {
  uint64_t last_lsn;        /* last appended record */
  uint64_t durable_lsn;     /* last fsynced record */
  uint64_t checkpoint_lsn;  /* last completed checkpoint */
  uint64_t log_bytes;       /* bytes of log since that checkpoint */
  uint64_t cache_bytes;     /* bytes held by the page cache */
  uint64_t dirty_bytes;     /* of which dirty */
  uint64_t flushes;         /* group commits done */
  uint64_t flushed_records; /* records they carried */
  uint64_t zero_fills;      /* st_prep jobs done */
  uint64_t checkpoints;     /* checkpoints done */
  uint64_t recovered_records; /* records replayed at open */
  double recovery_seconds;  /* time spent replaying at open */
} st_stats;

void st_get_stats(const st_db *db, st_stats *out);
/* What recovery at st_open cut off the log, for the operator's log: "" when
 * the log was clean, else e.g. "log cut after LSN 42 (17 bytes): segment
 * 0000000000000001.wal: torn record at offset 4096 (LSN 43)". Borrowed,
 * valid while db is open. */
const char *st_recovery_note(const st_db *db);

/* ---- tests and crash simulation ------------------------------------------ */

/* Free db as if the process died now: close the files (dropping pending
 * records and dirty pages), release the lock, free everything, without any
 * flush or checkpoint. A checkpoint job that is not running is discarded
 * too. For crash tests; never used by the server. */
void st_abandon(st_db *db);
/* Fault injection for crash tests: run only the first n partition-tree
 * checkpoints of job and stop, as if the process died before the catalog
 * was written. Afterwards the only valid call is st_abandon(db). Returns the
 * trees' status. */
int st_checkpoint_run_partial(st_ckpt_job *job, size_t n);
/* Number of partition trees a checkpoint job writes. */
size_t st_checkpoint_trees(const st_ckpt_job *job);
/* Fault injection: make this flush job fail with ST_EIO without writing. */
void st_flush_inject_error(st_flush_job *job);

#endif /* DF_STORAGE_H */
