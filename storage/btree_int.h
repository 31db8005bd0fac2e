/*
 * btree_int.h -- declarations shared by pager.c (the page cache and the page
 * I/O helpers) and btree.c (the tree, the meta pages, the free list and the
 * checkpoint protocol). Internal to storage/: nothing outside pager.c and
 * btree.c includes it.
 *
 * The cache is used only from the owner thread. A checkpoint run on another
 * thread never touches a pc_page, a pc_file or the cache: it only reads the
 * page buffers that bt_checkpoint_begin sealed (immutable until
 * bt_checkpoint_end) and the file descriptor.
 */
#ifndef DF_BTREE_INT_H
#define DF_BTREE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "storage/btree.h"

/* Page states. The state says whether the page may be written in place. */
enum {
  PC_CLEAN = 0,  /* identical to the page of the durable snapshot on disk;
                    immutable; evictable when unpinned */
  PC_DIRTY = 1,  /* allocated since the last checkpoint began: in no snapshot
                    on disk, so written in place; never evicted */
  PC_SEALED = 2  /* part of a checkpoint in flight (or of one that failed):
                    immutable, never evicted, written by the next run */
};

/* Which list a page is linked into (through prev/next). */
enum {
  PC_LIST_NONE = 0,   /* clean and pinned */
  PC_LIST_LRU = 1,    /* clean and unpinned: the cache's LRU */
  PC_LIST_DIRTY = 2,  /* its file's dirty list */
  PC_LIST_SEALED = 3  /* its file's sealed list */
};

typedef struct pc_file pc_file;

/* One cached page of one file. */
typedef struct pc_page {
  uint8_t *data;          /* BT_PAGE_SIZE bytes: the start of the malloc'd
                             block that holds this struct after them */
  pc_file *file;          /* file the page belongs to */
  uint32_t pgno;          /* page number in that file */
  uint32_t pins;          /* references held by callers; pinned pages stay */
  uint8_t state;          /* PC_CLEAN / PC_DIRTY / PC_SEALED */
  uint8_t list;           /* PC_LIST_*: the list prev/next link into */
  uint8_t dead;           /* sealed page freed from the live tree: dropped at
                             checkpoint end */
  uint8_t verified;       /* structure validated by btree.c since loaded */
  struct pc_page *hnext;  /* next page in the same hash bucket */
  struct pc_page *prev;   /* previous page in list (LRU: towards newest) */
  struct pc_page *next;   /* next page in list (LRU: towards oldest) */
} pc_page;

/* A doubly-linked list of pages. */
typedef struct pc_list {
  pc_page *head;  /* first page (LRU: most recently used) */
  pc_page *tail;  /* last page (LRU: least recently used) */
  size_t n;       /* pages in the list */
} pc_list;

/* A file registered with the cache (embedded in bt_tree). */
struct pc_file {
  pc_cache *cache;  /* the shared cache */
  int fd;           /* the open file (owned by the tree) */
  uint64_t id;      /* cache-unique id: the hash key with pgno */
  pc_list dirty;    /* PC_DIRTY pages */
  pc_list sealed;   /* PC_SEALED pages (live and dead) */
  size_t npages;    /* pages of this file in the cache */
};

/* ---- cache (pager.c) ---------------------------------------------------- */

void pc_file_init(pc_file *f, pc_cache *c, int fd);
/* Drop every page of the file from the cache (none may be pinned). */
void pc_file_drop(pc_file *f);
/* The page, pinned; read from disk and checksum-verified if not cached.
 * ST_ECORRUPT on a checksum mismatch or a page past the end of the file,
 * ST_EIO on a read error. */
int pc_get(pc_file *f, uint32_t pgno, pc_page **out);
/* The cached page or NULL; no I/O, no pin. */
pc_page *pc_lookup(pc_file *f, uint32_t pgno);
/* A new PC_DIRTY page, pinned: a copy of src's BT_PAGE_SIZE bytes, or zeroed
 * when src is NULL. pgno must not be cached (or only as a clean unpinned
 * page, which is replaced). */
pc_page *pc_new(pc_file *f, uint32_t pgno, const uint8_t *src);
void pc_pin(pc_page *p);
/* Release one pin; a clean page becomes evictable. */
void pc_unpin(pc_page *p);
/* The page pgno leaves the live tree. p is the page if the caller holds a
 * pin on it (the pin is consumed) or NULL. Returns 1 if the page was dirty
 * (no snapshot references it: reusable at once), 0 otherwise (it is
 * reusable only after the next checkpoint is durable). A sealed page is kept
 * (its buffer is being written) and dropped at checkpoint end. */
int pc_free(pc_file *f, uint32_t pgno, pc_page *p);
/* Move every dirty page of f to the sealed list; returns the number of live
 * sealed pages (those of an earlier failed checkpoint included). */
size_t pc_seal(pc_file *f);
/* Checkpoint end: drop dead sealed pages; on success make the live ones
 * clean (evictable), on failure keep them sealed for the next checkpoint. */
void pc_unseal(pc_file *f, int success);
/* 1 if fsync is disabled (pc_cache_set_nosync). */
int pc_cache_nosync(const pc_cache *c);
/* Scratch memory shared by every tree of the cache: n bytes, allocated by
 * the first call and kept (at the same address) until pc_cache_free; every
 * call must pass the same n. Owner thread only; a tree call uses it only
 * until it returns, so trees never see each other's scratch. */
uint8_t *pc_scratch(pc_cache *c, size_t n);

/* ---- page I/O (pager.c) -------------------------------------------------- */

/* Page checksum: xxh64 of bytes 8..BT_PAGE_SIZE-1 seeded with pgno (so a page
 * written at the wrong place fails too). Stored little-endian at offset 0. */
uint64_t pc_page_sum(const uint8_t *page, uint32_t pgno);
/* Read page pgno into buf and verify its checksum. */
int pc_read_page(int fd, uint32_t pgno, uint8_t *buf);
/* Full pread / pwrite (EINTR and short transfers handled). pc_pread returns
 * ST_ECORRUPT if the file ends before n bytes. */
int pc_pread(int fd, void *buf, size_t n, uint64_t off);
int pc_pwrite(int fd, const void *buf, size_t n, uint64_t off);
/* fdatasync unless nosync. */
int pc_sync(int fd, int nosync);

/* ---- little-endian helpers ------------------------------------------------ */

static inline uint16_t bt__get16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t bt__get32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
         ((uint32_t)p[3] << 24);
}
static inline uint64_t bt__get64(const uint8_t *p) {
  return (uint64_t)bt__get32(p) | ((uint64_t)bt__get32(p + 4) << 32);
}
static inline void bt__put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void bt__put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
static inline void bt__put64(uint8_t *p, uint64_t v) {
  bt__put32(p, (uint32_t)v);
  bt__put32(p + 4, (uint32_t)(v >> 32));
}

#endif /* DF_BTREE_INT_H */
