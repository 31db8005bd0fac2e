/*
 * btree.h -- one B-tree file per partition, over a shared page cache.
 * Internal to storage/ (the engine's own API is storage.h).
 *
 * A tree maps byte-string keys (memcmp order, shorter prefix first) to
 * byte-string values. Keys are at most BT_MAX_KEY bytes; values may be up to
 * BT_MAX_VALUE bytes (long values go to overflow pages).
 *
 * Copy-on-write between checkpoints: pages reachable from the last durable
 * meta page (or from a checkpoint in flight) are never overwritten in place;
 * modifying one copies it to a newly allocated page first. So the file always
 * holds the complete, consistent tree of the last checkpoint, and the log
 * replays on top of it. The file format and the invariants are described at
 * the top of btree.c and in docs/ARCHITECTURE.md.
 *
 * Threading: every call except bt_checkpoint_run() is made from the owner
 * thread. bt_checkpoint_run() may run on another thread concurrently with
 * owner-thread calls on the same tree (it only reads pages that copy-on-write
 * keeps immutable, and writes with pwrite).
 *
 * Return codes are the ST_* codes of storage.h.
 */
#ifndef DF_BTREE_H
#define DF_BTREE_H

#include <stddef.h>
#include <stdint.h>

#define BT_PAGE_SIZE 8192
#define BT_MAX_KEY 3200
#define BT_MAX_VALUE (16u * 1024 * 1024)

/* ---- growable byte buffer (shared by the storage modules) ---------------- */

typedef struct st_buf {
  uint8_t *p;  /* bytes (malloc'd), NULL when cap is 0 */
  size_t len;  /* bytes in use */
  size_t cap;  /* bytes allocated */
} st_buf;

void st_buf_init(st_buf *b);
void st_buf_free(st_buf *b);
/* Ensure room for extra more bytes; aborts on out-of-memory. */
void st_buf_reserve(st_buf *b, size_t extra);
void st_buf_append(st_buf *b, const void *p, size_t n);

/* ---- page cache ----------------------------------------------------------- */

typedef struct pc_cache pc_cache;

/* A cache shared by every tree, holding at most budget bytes of clean pages
 * (dirty and pinned pages are not evictable and are counted apart). */
pc_cache *pc_cache_new(size_t budget_bytes);
/* Frees the cache; every tree using it must be closed first. */
void pc_cache_free(pc_cache *c);
size_t pc_cache_bytes(const pc_cache *c); /* all pages held */
size_t pc_cache_dirty_bytes(const pc_cache *c); /* dirty pages held */
/* 1: checkpoints skip fdatasync (st_options.no_fsync; tests only, not
 * durable). Read by bt_checkpoint_begin and bt_open. */
void pc_cache_set_nosync(pc_cache *c, int nosync);

/* ---- trees ----------------------------------------------------------------- */

typedef struct bt_tree bt_tree;

/* Open the tree in file path, creating an empty one if the file does not
 * exist (written to path.tmp, fsynced, renamed, directory fsynced) or is
 * empty. ST_ECORRUPT if neither meta page is valid, ST_EVERSION for an
 * unknown format version, ST_EIO if the file cannot be opened or read. */
int bt_open(pc_cache *c, const char *path, bt_tree **out);
/* Close (dirty pages are dropped: call a checkpoint first to keep them). A
 * job begun and not ended is freed; its run must not be in progress (the
 * file then holds whichever snapshot its run made durable). */
void bt_close(bt_tree *t);

/* LSN stored in the meta page of the last checkpoint (0 for a new file). */
uint64_t bt_checkpoint_lsn(const bt_tree *t);
/* Four 64-bit words the engine keeps with the tree (item count, bytes...):
 * read at open from the meta page, written with every checkpoint. */
void bt_user_get(const bt_tree *t, uint64_t u[4]);
void bt_user_set(bt_tree *t, const uint64_t u[4]);
/* 1 if the tree has changes since its last checkpoint. */
int bt_dirty(const bt_tree *t);

/* Value of key, copied into val (val->len = 0 first). *found = 0 if absent. */
int bt_get(bt_tree *t, const void *key, size_t klen, st_buf *val, int *found);
/* Insert or replace. If old is not NULL it receives the previous value
 * (old->len = 0 first) and *replaced says whether there was one.
 * ST_ETOOBIG for a key > BT_MAX_KEY or a value > BT_MAX_VALUE. A read error
 * (ST_EIO / ST_ECORRUPT) is returned before anything changes; once the
 * change is made, nothing can fail (bt_put / bt_delete are all or nothing). */
int bt_put(bt_tree *t, const void *key, size_t klen, const void *val, size_t vlen,
           st_buf *old, int *replaced);
/* Delete. If old is not NULL it receives the deleted value. *found = 0 if
 * the key was absent (not an error). */
int bt_delete(bt_tree *t, const void *key, size_t klen, st_buf *old, int *found);

/* ---- cursors ------------------------------------------------------------- */

typedef struct bt_cursor bt_cursor;

/* A cursor is invalidated by any bt_put/bt_delete on its tree: re-seek after
 * writing. */
int bt_cursor_open(bt_tree *t, bt_cursor **out);
void bt_cursor_close(bt_cursor *c);
/* Position at the first key >= key (klen 0: the first key). */
int bt_cursor_seek(bt_cursor *c, const void *key, size_t klen);
/* Position at the last key <= key (key NULL: the last key). */
int bt_cursor_seek_le(bt_cursor *c, const void *key, size_t klen);
int bt_cursor_next(bt_cursor *c);
int bt_cursor_prev(bt_cursor *c);
/* 1 while the cursor is on an entry. */
int bt_cursor_valid(const bt_cursor *c);
/* The current key: borrowed, valid until the cursor moves or the tree changes. */
void bt_cursor_key(const bt_cursor *c, const uint8_t **key, size_t *klen);
/* The current value, copied into val. */
int bt_cursor_value(bt_cursor *c, st_buf *val);

/* ---- checkpoints --------------------------------------------------------- */

typedef struct bt_ckpt bt_ckpt;

/* Owner thread: seal the current tree as the next snapshot, labelled lsn.
 * Pages are pinned (immutable from now on; later changes copy them) until
 * bt_checkpoint_end. Returns a job even when nothing is dirty if lsn moved
 * (the meta page still records it). At most one job per tree in flight
 * (ST_EBUSY otherwise). *job = NULL (and ST_OK) when there is nothing to do:
 * no change, same lsn; run and end accept a NULL job as a no-op. */
int bt_checkpoint_begin(bt_tree *t, uint64_t lsn, bt_ckpt **job);
/* Any thread: pwrite the sealed pages, fdatasync, pwrite the meta page
 * (the other of the two meta slots, higher generation), fdatasync. */
int bt_checkpoint_run(bt_ckpt *job);
/* Owner thread: on success the snapshot is the durable one: unpin its pages
 * and make the pages it no longer references free for reuse. On failure the
 * tree stays as it was (the old snapshot is still the durable one). Frees
 * the job. */
void bt_checkpoint_end(bt_tree *t, bt_ckpt *job, int status);

/* ---- checks (tests, fsck) ------------------------------------------------- */

/* Walk the whole tree checking ordering, fill and page checksums, and that
 * every page is either reachable or free exactly once. ST_OK or ST_ECORRUPT
 * with a description in msg. */
int bt_check(bt_tree *t, char *msg, size_t msglen);
/* Number of entries (walks the tree). */
int bt_count(bt_tree *t, uint64_t *n);
/* Pages in the file (including free ones) and free pages (including those
 * that become reusable only when the next checkpoint is durable). */
void bt_file_pages(const bt_tree *t, uint64_t *total, uint64_t *free_pages);

/* Shape of the live tree (bt_stats). */
typedef struct bt_shape {
  uint64_t leaves;         /* leaf pages */
  uint64_t interiors;      /* interior pages */
  uint64_t overflows;      /* overflow pages */
  uint64_t entries;        /* leaf cells */
  uint64_t leaf_bytes;     /* bytes used in leaves (header, slots, cells) */
  uint64_t interior_bytes; /* bytes used in interior pages */
  uint32_t depth;          /* levels (0 for an empty tree) */
} bt_shape;

/* Walk the tree (every page is loaded) and describe its shape. The fill of
 * the leaves is leaf_bytes / (leaves * BT_PAGE_SIZE). */
int bt_stats(bt_tree *t, bt_shape *out);

#endif /* DF_BTREE_H */
