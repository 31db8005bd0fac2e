/*
 * wal.h -- the write-ahead batch log. Internal to storage/.
 *
 * One log for the whole database, kept as a sequence of segment files in one
 * directory. A record is an opaque payload with a type byte and an LSN; the
 * LSNs of consecutive records are consecutive. The engine (storage.c) puts
 * one atomic batch of changes in each record. The framing, the segment
 * header and the rule that decides which records are valid are documented at
 * the top of wal.c.
 *
 * Group commit: records are appended by the owner thread to an in-memory
 * pending buffer (wal_rec_begin/wal_rec_commit). wal_flush_begin takes that
 * buffer as a job with its own file range, wal_flush_run writes it with one
 * write and one fdatasync (on any thread, touching only the job and the file
 * descriptors it holds), and wal_flush_end advances the durable LSN. While
 * jobs run, new records accumulate for the next one, which may begin and run
 * at the same time as the earlier ones; the durable LSN only ever covers a
 * prefix of the log that is entirely fdatasynced (W1-W4 in wal.c).
 *
 * Threading: everything runs on the owner thread except wal_flush_run() and
 * wal_prep_run().
 * Return codes are the ST_* codes of storage.h.
 */
#ifndef DF_WAL_H
#define DF_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "storage/btree.h" /* st_buf */

/* Largest payload of one record. */
#define WAL_MAX_PAYLOAD (256u * 1024 * 1024)
/* Default segment size at which the log rotates to a new segment. */
#define WAL_DEFAULT_SEGMENT (64u * 1024 * 1024)

/* Default size of one zero-fill ahead of the appends (wal_prep_begin). */
#define WAL_DEFAULT_ZERO_CHUNK (1024u * 1024)

typedef struct wal_log wal_log;
typedef struct wal_flush wal_flush;
typedef struct wal_prep wal_prep;

typedef struct wal_options {
  size_t segment_bytes; /* start a new segment once one passes this (0 = 64 MiB) */
  size_t zero_chunk;    /* bytes one wal_prep zero-fills, rounded up to 4 KiB (0 = 1 MiB) */
  int no_fsync;         /* 1: skip fdatasync/fsync (logic tests only; not durable) */
} wal_options;

/* Called by wal_open for each valid record with LSN > after_lsn, in LSN
 * order. payload is borrowed for the call. A non-zero return aborts
 * wal_open with that status. */
typedef int (*wal_replay_fn)(void *ctx, uint64_t lsn, unsigned type, const uint8_t *payload,
                             size_t len);

/* What recovery found (filled by wal_open). */
typedef struct wal_recovery {
  uint64_t last_lsn;       /* last valid record in the log (after_lsn if the log ends before) */
  uint64_t replayed;       /* records passed to the replay callback */
  uint64_t replayed_bytes; /* their bytes, headers included */
  uint64_t cut_bytes;      /* bytes of torn/corrupt tail discarded (whole later segments included) */
  int cut;                 /* 1 if recovery stopped at an invalid record or segment */
  char cut_reason[160];    /* why it stopped, for the operator log ("" if it did not) */
} wal_recovery;

/* Open the log in directory dir (which must exist), recover it and make it
 * ready for appending. Every valid record with LSN > after_lsn is passed to
 * fn (fn may be NULL). Reading stops at the first torn, corrupt or
 * out-of-sequence record; the log is truncated there (the rest of that
 * segment and every later segment are removed), so that new records follow
 * the valid prefix. A segment whose bytes after its last valid record are
 * all zeros (the zero-filled space, W5) ends there: that is no cut, and the
 * zeros are kept for the appends. Segments wholly at or below after_lsn are removed.
 * The next record gets LSN max(last valid, after_lsn) + 1. rec may be NULL.
 * On failure *out is NULL and err holds a sentence. */
int wal_open(const char *dir, uint64_t after_lsn, const wal_options *opt, wal_replay_fn fn,
             void *ctx, wal_log **out, wal_recovery *rec, char *err, size_t errlen);
/* Close the files and free the log. Pending (unflushed) records are
 * dropped. No wal_flush_run or wal_prep_run may be executing; jobs begun and
 * not ended are freed as they are (what a crash leaves: tests use this). */
void wal_close(wal_log *w);

/* ---- appending (owner thread) ------------------------------------------- */

/* Start a record: returns the pending buffer, to which the caller appends
 * the payload, and sets *payload_off to the offset in it where the payload
 * begins. Nothing else may touch the log until wal_rec_commit or
 * wal_rec_abort. The buffer is borrowed; its p may move as it grows. */
st_buf *wal_rec_begin(wal_log *w, size_t *payload_off);
/* Finish the record started by wal_rec_begin with the given type (1..255).
 * *lsn = its LSN. ST_ETOOBIG (and the record is dropped) if the payload
 * exceeds WAL_MAX_PAYLOAD. */
int wal_rec_commit(wal_log *w, unsigned type, uint64_t *lsn);
/* Drop the record started by wal_rec_begin. */
void wal_rec_abort(wal_log *w);

/* LSN of the last record appended (pending or not). */
uint64_t wal_last_lsn(const wal_log *w);
/* Every record with LSN <= this is on disk. */
uint64_t wal_durable_lsn(const wal_log *w);
/* Total bytes of records appended since open, plus those replayed at open
 * (a monotonic counter for checkpoint scheduling). */
uint64_t wal_appended_bytes(const wal_log *w);
/* Bytes of records appended but not yet taken by a flush job. */
size_t wal_pending_bytes(const wal_log *w);
/* Number of segment files. */
size_t wal_segment_count(const wal_log *w);

/* ---- group commit ---------------------------------------------------------- */

/* Owner thread: take every pending record as one job, with the file range
 * after the previous job's. Any number of jobs may be in flight (the caller
 * bounds them). NULL when nothing is pending, in the failed state, while a
 * rotating job is in flight, or when the current segment is full and other
 * jobs are in flight (the rotating job that creates the next segment begins
 * once they have ended). */
wal_flush *wal_flush_begin(wal_log *w);
/* Any thread: checksum the records, write them (creating the new segment
 * first when rotating), fdatasync, and fsync the directory after creating
 * a segment. Touches only the job and the descriptors it holds. */
int wal_flush_run(wal_flush *f);
/* Owner thread, jobs in any order: mark the job ended and return its
 * status; *records (if not NULL) = records it carried. The job belongs to
 * the log from then on (freed once every earlier job has ended). The
 * durable LSN advances over the longest run of ended, successful jobs in
 * begin order (adopting a new segment on the way); a failed job stops it
 * for good, and the log accepts no further flush (wal_flush_begin returns
 * NULL). */
int wal_flush_end(wal_log *w, wal_flush *f, uint64_t *records);
/* Test hook: make wal_flush_run fail with ST_EIO without writing. */
void wal_flush_inject_error(wal_flush *f);

/* ---- zero-filling ahead of the appends (W5 in wal.c) ------------------------ */

/* A flush that writes inside the file's size and fdatasyncs has only data to
 * make durable; one that appends must also commit the new file size (a
 * journal commit on ext4, 40-70 % more per flush). So the log keeps written
 * zeros ahead of its appends in the active segment, in chunks written and
 * fdatasynced by jobs of their own that carry no records and delay no
 * acknowledgement.
 *
 * Owner thread: a job that zero-fills the next chunk of the active segment,
 * or NULL when the segment has room enough (half a chunk), when one is in
 * flight, when the segment is due to rotate, or in the failed state. While
 * it is in flight, wal_flush_begin does not begin a job whose range would
 * reach into the chunk, nor a rotating job. */
wal_prep *wal_prep_begin(wal_log *w);
/* Any thread: write the zeros and fdatasync. Touches only the job (it holds
 * its own descriptor). */
int wal_prep_run(wal_prep *p);
/* Owner thread: take the zeros into account (or, if the run failed, make no
 * more for this segment; the log appends as before) and free the job.
 * Returns the run's status. */
int wal_prep_end(wal_log *w, wal_prep *p);
/* Zero-filled bytes ahead of the reserved end of the active segment. */
uint64_t wal_zero_room(const wal_log *w);

/* ---- retiring segments (checkpoints) --------------------------------------- */

/* Owner thread: paths (malloc'd array of malloc'd strings) of the segments
 * every record of which has LSN <= lsn, never the segment being appended.
 * The caller deletes the files once a checkpoint at lsn is durable, then
 * calls wal_forget(w, n) with the count it got; wal_free_paths frees. */
size_t wal_retirable(const wal_log *w, uint64_t lsn, char ***paths);
/* Drop the first n segments from the log's list (their files are gone). */
void wal_forget(wal_log *w, size_t n);
void wal_free_paths(char **paths, size_t n);
/* Continue the log at LSN lsn + 1 (no-op if lsn <= the last LSN): start a
 * new segment there, synchronously, and consider every LSN up to lsn used.
 * Only with nothing pending or in flight. Recovery of the result stops at
 * the gap (and removes the new segment) until a checkpoint at >= lsn has
 * made the older segments unnecessary: the caller checkpoints at once. */
int wal_skip_to(wal_log *w, uint64_t lsn);
/* Make the next flush start a new segment if the current one holds at
 * least min_bytes: after a checkpoint, so that the next checkpoint can
 * delete the records the current segment holds instead of keeping them
 * until it fills up. */
void wal_rotate_soon(wal_log *w, uint64_t min_bytes);

#endif /* DF_WAL_H */
