/*
 * btree.c -- a copy-on-write B+tree in one file per partition: the tree
 * operations, cursors, the two meta pages, the persisted free list and the
 * checkpoint protocol (begin / run / end). The page cache is in pager.c.
 *
 * Keys (<= BT_MAX_KEY bytes) and short values live in leaf cells; values that
 * would make a cell bigger than BT_INLINE_MAX go to a chain of overflow pages.
 * Interior pages hold separator keys and child page numbers. Nothing on disk
 * is trusted: every page read is checksum-verified (pager.c) and then
 * structurally validated (bt_validate_node) before use, and any bad byte is
 * reported as ST_ECORRUPT, never asserted on.
 *
 * ======================================================================
 * FILE LAYOUT (page size 8192 bytes, all integers little-endian)
 *
 *   +--------+--------+--------+--------+--------+-----     -----+
 *   | meta 0 | meta 1 | page 2 | page 3 | page 4 |  ...          |
 *   +--------+--------+--------+--------+--------+-----     -----+
 *   offset 0   8192     16384    ...      pgno * 8192
 *
 * Pages 0 and 1 are the two meta slots. Every other page is a leaf, an
 * interior page, an overflow page, a free-list page, or free (content
 * meaningless). The file may be longer than the meta's page count (pages
 * written by a checkpoint that never committed) or shorter (pages allocated
 * and freed before ever being written): only pages < page count that the
 * snapshot references are ever read.
 *
 * META PAGE (slot 0 at offset 0, slot 1 at offset 8192; bytes 128..8191 zero)
 *   off size meaning
 *     0   8  magic "DFBTREE\0"
 *     8   4  format version (BT_VERSION = 1)
 *    12   4  page size (8192)
 *    16   8  generation: a checkpoint writes generation g+1 into slot
 *            (g+1) % 2, i.e. never into the slot holding the current meta
 *    24   8  root page number (0 = empty tree)
 *    32   8  page count: pages 0 .. count-1 are owned by this snapshot
 *    40   8  checkpoint LSN (the log position the snapshot includes)
 *    48  32  four user words (engine-defined: item count, bytes, ...)
 *    80   8  first free-list page (0 = none)
 *    88   8  number of free-list pages
 *    96   8  number of free page numbers listed in them
 *   104  16  zero
 *   120   8  xxh64(bytes 0..119, seed 0)
 * Validity rule: a slot is valid iff its magic matches and the checksum at
 * 120 matches; the valid slot with the highest generation is the snapshot.
 * If neither slot is valid the file is corrupt (ST_ECORRUPT); a valid slot
 * with another version gives ST_EVERSION. A new file is written as
 * path.tmp (slot 0 = generation 0, empty tree; slot 1 zero), fsynced and
 * renamed into place, so a file at path always has a valid slot; a 0-byte
 * file is initialised the same way in place.
 *
 * PAGE HEADER (every page but the meta pages; 24 bytes)
 *   off size meaning
 *     0   8  checksum: xxh64(bytes 8..8191, seed = page number)
 *     8   1  type: 1 leaf, 2 interior, 3 overflow, 4 free list
 *     9   1  level: 0 for leaves, child level + 1 for interior pages
 *    10   2  leaf/interior: cell count; overflow: data bytes; free list:
 *            page numbers listed
 *    12   2  leaf/interior: content start (lowest byte used by cells)
 *    14   2  leaf/interior: fragmented free bytes inside the content area
 *    16   4  overflow / free list: next page of the chain (0 = last)
 *    20   4  zero
 * The checksum covers the whole page but its own 8 bytes, and is seeded with
 * the page number so that a page written at the wrong offset fails too. It
 * is computed at write time (bt_checkpoint_run, on a private copy) and
 * checked at every read from disk.
 *
 * LEAF AND INTERIOR PAGES: a slotted page.
 *   +--------+---------------------+---------- - - ----+------------------+
 *   | header | slot 0 | slot 1 ... |   free space        | cells (any order) |
 *   +--------+---------------------+---------- - - ----+------------------+
 *   0        24                    24 + 2 * count       content start    8192
 * Slot i (2 bytes) is the offset of cell i; slots are in key order. The
 * content area holds the cells plus `fragmented` bytes of holes:
 *   8192 - content start == sum(cell sizes) + fragmented.
 *
 * LEAF CELL                                 INTERIOR CELL
 *   off    size  meaning                      off  size  meaning
 *     0     2    key length k (<= 3200)         0    2    key length k
 *     2     1    flags: bit 0 = overflow        2    4    child page
 *     3     4    value length v (<= 16 MiB)     6    k    key
 *     7     k    key
 *   7+k     v    value (inline), or
 *   7+k     4    first overflow page
 * A value is inline iff 7 + k + v <= BT_INLINE_MAX (2048) or v <= 4, so a
 * cell is at most 3211 bytes and a page always holds at least two cells.
 * Interior page with n cells = n children: child i holds the keys K with
 * key(i) <= K < key(i+1); key(0) is stored empty and means "minus infinity".
 * Leaf separators are shortened (shortest prefix of the right key that is
 * greater than the left key).
 *
 * OVERFLOW PAGE: header (count = data bytes, next = next page), then up to
 * 8168 data bytes at offset 24. A value of v bytes uses ceil(v / 8168) pages;
 * the chain must hold exactly v bytes. Overflow pages are written once and
 * never modified: replacing or deleting the value frees the whole chain.
 *
 * FREE-LIST PAGE: header (count = entries, next = next page), then count
 * 4-byte page numbers at offset 24 (at most 2042 per page). The free list of
 * a snapshot lists exactly the pages < page count that the snapshot neither
 * reaches from its root nor uses for the free list itself.
 *
 * ======================================================================
 * IN-MEMORY PAGE ACCOUNTING. Pages of the live tree are CLEAN (as in the
 * durable snapshot D), DIRTY (allocated since the last checkpoint began, in
 * no snapshot) or SEALED (in the snapshot S of the checkpoint in flight, or
 * of one that failed). Page numbers not in the live tree are in exactly one
 * of: free_now (reusable now), freed_cur (left the live tree since the last
 * begin), job->freed (left the tree before the checkpoint in flight began),
 * fl_pages (hold the free list of the last begun snapshot).
 *
 * INVARIANTS
 *  1. Copy-on-write: only DIRTY pages are written in place. Modifying a CLEAN
 *     or SEALED page first copies it to a newly allocated page number and
 *     repoints the parent (made writable first, up to the root).
 *  2. A new page number comes from free_now or from extending the file.
 *     free_now holds only pages referenced by neither D nor S: pages freed
 *     while DIRTY, and the pages a snapshot stopped referencing, moved there
 *     by bt_checkpoint_end(success) once that snapshot is durable.
 *  3. Hence a checkpoint writes only pages that D does not reference, and D
 *     stays complete on disk until the meta page naming S is durable.
 *  4. A checkpoint writes every sealed page and the new free list, then
 *     fdatasync, then the meta slot not holding D's meta, then fdatasync. So
 *     a meta page is only ever valid after the pages it references are
 *     durable. Crash cases:
 *       a. during page writes / before the first fdatasync: D's meta is the
 *          newest valid one and every page D references is untouched (3).
 *       b. during the meta write: the new slot is torn (bad checksum) or
 *          whole; either way the survivor (D, or S whose pages are synced) is
 *          complete.
 *       c. after the second fdatasync: S is durable.
 *     The file therefore always holds the last complete snapshot.
 *  5. After a failed run the failed snapshot's meta may still have reached
 *     the disk, so its pages stay SEALED (immutable; rewritten identically by
 *     the next run), the pages it dropped stay unavailable (back to
 *     freed_cur), and the next checkpoint reuses generation D+1, i.e. the
 *     failed job's slot, never D's.
 *  6. Sealed page buffers are never modified or freed before
 *     bt_checkpoint_end; the run thread reads only those buffers, its own
 *     job and the fd, so it shares no mutable state with the owner thread.
 *  7. Free list design: persisted with each snapshot (begin builds it in
 *     job-owned pages allocated like any other page), loaded at open into
 *     free_now. The free-list pages of a snapshot are released (job->freed)
 *     by the next checkpoint that replaces it.
 *     In memory a bitmap marks every page not in the live tree (free,
 *     pending, free-list page): loading such a page through a tree pointer
 *     is ST_ECORRUPT and freeing it again is ignored, so even a
 *     checksum-valid page with duplicated pointers cannot make a page be
 *     allocated twice.
 *  8. Shape: every interior page has >= 2 children (splits give each half
 *     two: an overflowing interior page has >= 4 cells since cell 0 is
 *     blank and a cell is <= 3206 bytes; rebalancing an interior page with
 *     one child always merges or redistributes), so every non-root page has
 *     a sibling. Every non-root leaf is at least BT_MIN_FILL full: splits and
 *     redistributions leave >= (8169 - 3213) / 2 bytes per side, merges keep
 *     the sibling's fill. The root is never an interior page with one child
 *     nor an empty leaf. bt_check verifies all of this. (The only exception:
 *     a read error while rebalancing leaves the node as it is; the tree is
 *     still valid.)
 *  9. Fill (a policy, not needed for correctness): a leaf that overflows on
 *     insert first shares its cells with its emptier adjacent sibling under
 *     the same parent, when that one has BT_SHARE_MIN free bytes: the two
 *     leaves' cells plus the new one are divided at the most balanced split
 *     point (the cells that cross move, nearest the sibling first) and the
 *     parent's separator between them is replaced, as in a redistribution;
 *     it splits only when neither sibling has room. The sibling is made
 *     dirty with bt_cow before it is changed (rule 1), and the sides differ
 *     by at most one cell, like a split's, so rule 8 holds. With keys
 *     inserted in random order this keeps leaves ~83 % full instead of
 *     ~65 %, in ascending or descending order ~99 % instead of 50 %
 *     (bt_stats measures it). Interior pages still split plainly.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "storage/btree_int.h"
#include "storage/storage.h"

#define BT_VERSION 1
#define BT_MAGIC "DFBTREE"            /* 8 bytes with its NUL */
#define BT_HDR 24                     /* page header bytes */
#define BT_USABLE (BT_PAGE_SIZE - BT_HDR)
#define BT_MIN_FILL (BT_USABLE / 4)   /* below this a node is rebalanced */
#define BT_INLINE_MAX 2048            /* largest leaf cell with inline value */
#define BT_OVF_CAP BT_USABLE          /* data bytes per overflow page */
#define BT_FL_CAP (BT_USABLE / 4)     /* page numbers per free-list page */
#define BT_MAX_DEPTH 48               /* deeper trees are corrupt */
#define BT_MAX_CELL (7 + BT_MAX_KEY + 4)
#define BT_META_SUM 120               /* offset of the meta checksum */
/* Free bytes a sibling needs before an overflowing leaf shares cells with it
 * rather than splitting (rule 9): room for the new cell, and at least 1/64
 * of a page so that tiny cells do not rewrite two pages for every insert.
 * (Each share halves the room left, so a run of shares ends in a split
 * after a few steps: the cost per insert stays bounded.) */
#define BT_SHARE_MIN(len) \
  ((len) + 2 > BT_USABLE / 64 ? (len) + 2 : BT_USABLE / 64)

enum { BT_LEAF = 1, BT_INTERIOR = 2, BT_OVERFLOW = 3, BT_FREELIST = 4 };

/* A growable array of page numbers. */
typedef struct bt_vec {
  uint32_t *v;  /* entries (malloc'd) */
  size_t n;     /* entries used */
  size_t cap;   /* entries allocated */
} bt_vec;

/* Cells gathered from pages being split or merged (copied: the pages are
 * rewritten from them). */
typedef struct bt_cv {
  uint8_t *buf;   /* cell bytes */
  size_t used;    /* bytes of buf in use */
  uint32_t *off;  /* offset of cell i in buf */
  uint16_t *len;  /* size of cell i */
  int n;          /* cells */
} bt_cv;

#define BT_CV_BYTES (4 * BT_PAGE_SIZE)
#define BT_CV_CELLS (BT_CV_BYTES / 6)
/* The scratch of every tree (tmp page, then cv's bytes, offsets and sizes)
 * lives in one block owned by the cache and shared by all its trees: tree
 * calls run one at a time on the owner thread and use it only until they
 * return (bt_checkpoint_run, on another thread, never touches it). */
#define BT_SCRATCH_BYTES \
  (BT_PAGE_SIZE + BT_CV_BYTES + BT_CV_CELLS * (sizeof(uint32_t) + sizeof(uint16_t)))

struct bt_ckpt {
  int fd;                  /* the tree's file (not owned) */
  int nosync;              /* skip fdatasync */
  size_t npages;           /* pages to write */
  uint32_t *pgnos;         /* their numbers, ascending */
  const uint8_t **bufs;    /* their bytes: sealed cache pages or fl_buf */
  uint8_t *fl_buf;         /* the free-list pages (job-owned) */
  size_t nfl;              /* free-list pages */
  uint32_t *fl_pgnos;      /* their numbers */
  uint8_t meta[BT_PAGE_SIZE]; /* the meta page to write */
  uint32_t slot;           /* meta slot to write (0 or 1) */
  uint64_t gen;            /* generation of the new meta */
  uint64_t lsn;            /* its LSN */
  uint64_t user[4];        /* its user words */
  bt_vec freed;            /* pages the snapshot no longer references */
};

struct bt_tree {
  pc_file f;               /* cache registration and fd */
  char *path;              /* file path (for messages) */
  uint32_t root;           /* root page, 0 when empty */
  uint32_t page_count;     /* pages allocated (file pages in use or free) */
  uint64_t gen;            /* generation of the durable meta */
  uint64_t lsn;            /* LSN of the durable meta */
  uint64_t dur_user[4];    /* user words of the durable meta */
  uint64_t user[4];        /* current user words */
  int changed;             /* changes since the last checkpoint began */
  uint64_t seq;            /* bumped by every modification (cursors) */
  bt_ckpt *job;            /* checkpoint in flight, or NULL */
  bt_vec free_now;         /* reusable pages */
  bt_vec freed_cur;        /* freed since the last begin */
  bt_vec fl_pages;         /* free-list pages of the last begun snapshot */
  bt_vec chain;            /* scratch: overflow chain being freed */
  uint8_t *notlive;        /* bit per page: 1 = not in the live tree (free,
                              pending or free-list page): loading it is
                              corruption, freeing it again is ignored */
  size_t notlive_bytes;    /* bytes allocated for notlive */
  bt_cv cv;                /* scratch: cells of a split or merge (its
                              arrays are in the cache's shared scratch) */
  uint8_t *tmp;            /* scratch page (compaction; shared scratch) */
};

/* One level of a root-to-leaf path; the page is pinned. */
typedef struct bt_level {
  pc_page *pg;  /* the page (pinned) */
  int idx;      /* interior: child taken; leaf: cell index / insert point */
} bt_level;

typedef struct bt_path {
  int depth;                    /* levels used */
  int found;                    /* leaf: key present at lv[depth-1].idx */
  bt_level lv[BT_MAX_DEPTH];    /* lv[0] is the root */
} bt_path;

struct bt_cursor {
  bt_tree *t;       /* the tree */
  uint64_t seq;     /* t->seq when positioned: otherwise re-seek by key */
  int valid;        /* on an entry */
  int depth;        /* levels in lv */
  struct {
    uint32_t pgno;  /* page */
    int idx;        /* cell index */
    int n;          /* cells in the page */
  } lv[BT_MAX_DEPTH];
  st_buf key;       /* copy of the current key */
};

/* ---- small helpers -------------------------------------------------------- */

static void *bt_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) {
    fprintf(stderr, "dynafile: out of memory\n");
    abort();
  }
  return p;
}

static void bt_vec_push(bt_vec *v, uint32_t x) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 64;
    uint32_t *p = realloc(v->v, cap * sizeof *p);
    if (!p) {
      fprintf(stderr, "dynafile: out of memory\n");
      abort();
    }
    v->v = p;
    v->cap = cap;
  }
  v->v[v->n++] = x;
}

static void bt_vec_append(bt_vec *v, const bt_vec *w) {
  for (size_t i = 0; i < w->n; i++) bt_vec_push(v, w->v[i]);
}

static void bt_vec_free(bt_vec *v) {
  free(v->v);
  memset(v, 0, sizeof *v);
}

static uint64_t bt_be64(const uint8_t *p) { /* compiles to a load and a bswap */
  return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
         (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
         (uint64_t)p[6] << 8 | (uint64_t)p[7];
}

static int bt_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  size_t m = alen < blen ? alen : blen, i = 0;
  /* Keys begin with an 8-byte hash: most comparisons end in the first word,
   * short ones (shortened separators) in the first bytes. */
  if (m >= 8) {
    uint64_t x = bt_be64(a), y = bt_be64(b);
    if (x != y) return x < y ? -1 : 1;
    i = 8;
  } else {
    for (; i < m; i++)
      if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  int c = m > i ? memcmp(a + i, b + i, m - i) : 0;
  if (c) return c;
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* ---- page and cell accessors --------------------------------------------- */

static int pg_type(const uint8_t *d) { return d[8]; }
static int pg_level(const uint8_t *d) { return d[9]; }
static int pg_n(const uint8_t *d) { return bt__get16(d + 10); }
static int pg_cs(const uint8_t *d) { return bt__get16(d + 12); }
static int pg_frag(const uint8_t *d) { return bt__get16(d + 14); }
static uint32_t pg_next(const uint8_t *d) { return bt__get32(d + 16); }
static int pg_slot(const uint8_t *d, int i) { return bt__get16(d + BT_HDR + 2 * i); }
static uint8_t *pg_cell(uint8_t *d, int i) { return d + pg_slot(d, i); }
static int pg_free(const uint8_t *d) {
  return pg_cs(d) - (BT_HDR + 2 * pg_n(d)) + pg_frag(d);
}
static int pg_used(const uint8_t *d) { return BT_PAGE_SIZE - pg_free(d); }

static void pg_init(uint8_t *d, int type, int level) {
  memset(d, 0, BT_HDR);
  d[8] = (uint8_t)type;
  d[9] = (uint8_t)level;
  bt__put16(d + 12, BT_PAGE_SIZE);
}

static size_t cell_size(int type, const uint8_t *c) {
  size_t kl = bt__get16(c);
  if (type == BT_INTERIOR) return 6 + kl;
  return 7 + kl + ((c[2] & 1) ? 4 : bt__get32(c + 3));
}

static size_t cell_klen(const uint8_t *c) { return bt__get16(c); }
static const uint8_t *cell_key(int type, const uint8_t *c) {
  return c + (type == BT_INTERIOR ? 6 : 7);
}
static uint32_t cell_child(const uint8_t *c) { return bt__get32(c + 2); }
static void set_child(uint8_t *d, int i, uint32_t child) {
  bt__put32(pg_cell(d, i) + 2, child);
}

static size_t mk_int_cell(uint8_t *out, const uint8_t *key, size_t klen, uint32_t child) {
  bt__put16(out, (uint16_t)klen);
  bt__put32(out + 2, child);
  if (klen) memcpy(out + 6, key, klen);
  return 6 + klen;
}

/* Append a cell after the existing ones (building pages in order). */
static void pg_append(uint8_t *d, const uint8_t *cell, size_t len) {
  int n = pg_n(d);
  int cs = pg_cs(d) - (int)len;
  memcpy(d + cs, cell, len);
  bt__put16(d + 12, (uint16_t)cs);
  bt__put16(d + BT_HDR + 2 * n, (uint16_t)cs);
  bt__put16(d + 10, (uint16_t)(n + 1));
}

/* Rewrite the content area without holes. */
static void pg_compact(uint8_t *d, uint8_t *tmp) {
  int n = pg_n(d), type = pg_type(d), cs0 = pg_cs(d);
  memcpy(tmp + cs0, d + cs0, (size_t)(BT_PAGE_SIZE - cs0)); /* the content area */
  int cs = BT_PAGE_SIZE;
  for (int i = 0; i < n; i++) {
    const uint8_t *c = tmp + pg_slot(d, i); /* slot i is read before it is rewritten */
    size_t len = cell_size(type, c);
    cs -= (int)len;
    memcpy(d + cs, c, len);
    bt__put16(d + BT_HDR + 2 * i, (uint16_t)cs);
  }
  bt__put16(d + 12, (uint16_t)cs);
  bt__put16(d + 14, 0);
}

/* Insert a cell at idx; the caller checked pg_free(d) >= len + 2. */
static void pg_insert(uint8_t *d, uint8_t *tmp, int idx, const uint8_t *cell, size_t len) {
  int n = pg_n(d);
  if (pg_cs(d) - (BT_HDR + 2 * n) < (int)len + 2) pg_compact(d, tmp);
  int cs = pg_cs(d) - (int)len;
  memcpy(d + cs, cell, len);
  uint8_t *slots = d + BT_HDR;
  memmove(slots + 2 * (idx + 1), slots + 2 * idx, 2 * (size_t)(n - idx));
  bt__put16(slots + 2 * idx, (uint16_t)cs);
  bt__put16(d + 12, (uint16_t)cs);
  bt__put16(d + 10, (uint16_t)(n + 1));
}

static void pg_remove(uint8_t *d, int idx) {
  int n = pg_n(d);
  int off = pg_slot(d, idx);
  int sz = (int)cell_size(pg_type(d), d + off);
  if (off == pg_cs(d))
    bt__put16(d + 12, (uint16_t)(off + sz));
  else
    bt__put16(d + 14, (uint16_t)(pg_frag(d) + sz));
  uint8_t *slots = d + BT_HDR;
  memmove(slots + 2 * idx, slots + 2 * (idx + 1), 2 * (size_t)(n - idx - 1));
  bt__put16(d + 10, (uint16_t)(n - 1));
}

/* Key of cell i of a leaf or interior page. */
static const uint8_t *pg_key(uint8_t *d, int i, size_t *klen) {
  uint8_t *c = pg_cell(d, i);
  *klen = cell_klen(c);
  return cell_key(pg_type(d), c);
}

/* Leaf: first cell with key >= key. */
static int leaf_search(uint8_t *d, const uint8_t *key, size_t klen, int *found) {
  int lo = 0, hi = pg_n(d);
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    size_t kl;
    const uint8_t *k = pg_key(d, mid, &kl);
    if (bt_cmp(k, kl, key, klen) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = 0;
  if (lo < pg_n(d)) {
    size_t kl;
    const uint8_t *k = pg_key(d, lo, &kl);
    *found = bt_cmp(k, kl, key, klen) == 0;
  }
  return lo;
}

/* Interior: the child whose range holds key. */
static int int_search(uint8_t *d, const uint8_t *key, size_t klen) {
  int lo = 1, hi = pg_n(d);
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    size_t kl;
    const uint8_t *k = pg_key(d, mid, &kl);
    if (bt_cmp(k, kl, key, klen) <= 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo - 1;
}

/* ---- the not-live bitmap ----------------------------------------------- */

static int nl_get(const bt_tree *t, uint32_t pgno) {
  size_t i = pgno / 8;
  return i < t->notlive_bytes && (t->notlive[i] >> (pgno % 8)) & 1;
}

static void nl_set(bt_tree *t, uint32_t pgno, int on) {
  size_t i = pgno / 8;
  if (i >= t->notlive_bytes) {
    if (!on) return;
    size_t nb = t->notlive_bytes ? t->notlive_bytes : 1024;
    while (nb <= i) nb *= 2;
    uint8_t *p = realloc(t->notlive, nb);
    if (!p) {
      fprintf(stderr, "dynafile: out of memory\n");
      abort();
    }
    memset(p + t->notlive_bytes, 0, nb - t->notlive_bytes);
    t->notlive = p;
    t->notlive_bytes = nb;
  }
  if (on)
    t->notlive[i] |= (uint8_t)(1u << (pgno % 8));
  else
    t->notlive[i] &= (uint8_t)~(1u << (pgno % 8));
}

/* ---- validation of pages read from disk ---------------------------------- */

static int bt_validate_node(const bt_tree *t, uint8_t *d) {
  int type = pg_type(d), level = pg_level(d), n = pg_n(d), cs = pg_cs(d);
  if (type != BT_LEAF && type != BT_INTERIOR) return ST_ECORRUPT;
  if ((type == BT_LEAF) != (level == 0) || level >= BT_MAX_DEPTH) return ST_ECORRUPT;
  /* (an empty leaf is legal if useless: a delete whose rebalancing hit a
   * read error may leave one) */
  if ((type == BT_INTERIOR && n < 1) || BT_HDR + 2 * n > cs || cs > BT_PAGE_SIZE)
    return ST_ECORRUPT;
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    int off = pg_slot(d, i);
    if (off < cs || off + (type == BT_LEAF ? 7 : 6) > BT_PAGE_SIZE) return ST_ECORRUPT;
    const uint8_t *c = d + off;
    size_t kl = cell_klen(c);
    if (kl > BT_MAX_KEY) return ST_ECORRUPT;
    if (type == BT_LEAF) {
      if (c[2] & ~1u) return ST_ECORRUPT;
      uint32_t vlen = bt__get32(c + 3);
      if (vlen > BT_MAX_VALUE) return ST_ECORRUPT;
      if (c[2] & 1) {
        if (off + 7 + kl + 4 > BT_PAGE_SIZE) return ST_ECORRUPT;
        uint32_t first = bt__get32(c + 7 + kl);
        if (vlen == 0 || first < 2 || first >= t->page_count) return ST_ECORRUPT;
      }
    } else {
      uint32_t child = cell_child(c);
      if (child < 2 || child >= t->page_count) return ST_ECORRUPT;
      if (i == 0 && kl != 0) return ST_ECORRUPT;
    }
    size_t sz = cell_size(type, c);
    if (off + sz > BT_PAGE_SIZE) return ST_ECORRUPT;
    total += sz;
  }
  if (total + (size_t)pg_frag(d) != (size_t)(BT_PAGE_SIZE - cs)) return ST_ECORRUPT;
  return ST_OK;
}

/* Pinned tree page pgno, validated; level < 0 accepts any level. */
static int bt_load(bt_tree *t, uint32_t pgno, int level, pc_page **out) {
  *out = NULL;
  if (pgno < 2 || pgno >= t->page_count || nl_get(t, pgno)) return ST_ECORRUPT;
  pc_page *p;
  int rc = pc_get(&t->f, pgno, &p);
  if (rc != ST_OK) return rc;
  if (!p->verified) {
    rc = bt_validate_node(t, p->data);
    if (rc != ST_OK) {
      pc_unpin(p);
      return rc;
    }
    p->verified = 1;
  }
  if (pg_type(p->data) != BT_LEAF && pg_type(p->data) != BT_INTERIOR) {
    pc_unpin(p);
    return ST_ECORRUPT; /* a page we know as overflow reached as a node */
  }
  if (level >= 0 && pg_level(p->data) != level) {
    pc_unpin(p);
    return ST_ECORRUPT;
  }
  *out = p;
  return ST_OK;
}

static int bt_load_ovf(bt_tree *t, uint32_t pgno, pc_page **out) {
  *out = NULL;
  if (pgno < 2 || pgno >= t->page_count || nl_get(t, pgno)) return ST_ECORRUPT;
  pc_page *p;
  int rc = pc_get(&t->f, pgno, &p);
  if (rc != ST_OK) return rc;
  const uint8_t *d = p->data;
  if (pg_type(d) != BT_OVERFLOW || pg_n(d) == 0 || pg_n(d) > BT_OVF_CAP ||
      pg_next(d) == 1 || pg_next(d) >= t->page_count) {
    pc_unpin(p);
    return ST_ECORRUPT;
  }
  *out = p;
  return ST_OK;
}

/* ---- page allocation ---------------------------------------------------------- */

/* Callers reserve room first (bt_reserve), so this cannot fail. */
static uint32_t bt_alloc(bt_tree *t) {
  uint32_t pgno = t->free_now.n ? t->free_now.v[--t->free_now.n] : t->page_count++;
  nl_set(t, pgno, 0);
  return pgno;
}

/* Room for the pages one operation may allocate (a path of splits plus a
 * value's overflow chain), so that a tree change never stops halfway. */
static int bt_reserve(bt_tree *t, size_t vlen) {
  uint64_t need = 2 * BT_MAX_DEPTH + 4 + vlen / BT_OVF_CAP + 1;
  if ((uint64_t)t->page_count + need >= UINT32_MAX) return ST_ETOOBIG;
  return ST_OK;
}

/* pgno leaves the live tree (p: the page if pinned by the caller). */
static void bt_free_page(bt_tree *t, uint32_t pgno, pc_page *p) {
  if (nl_get(t, pgno)) {
    /* Freed twice: only a corrupt tree (two pointers to one page) gets
     * here; the page must not be listed twice. */
    if (p) pc_unpin(p);
    return;
  }
  nl_set(t, pgno, 1);
  if (pc_free(&t->f, pgno, p))
    bt_vec_push(&t->free_now, pgno);
  else
    bt_vec_push(&t->freed_cur, pgno);
}

static pc_page *bt_new_page(bt_tree *t, int type, int level) {
  pc_page *p = pc_new(&t->f, bt_alloc(t), NULL);
  pg_init(p->data, type, level);
  return p;
}

/* ---- paths ------------------------------------------------------------------ */

static void path_release(bt_path *path) {
  for (int i = 0; i < path->depth; i++)
    if (path->lv[i].pg) pc_unpin(path->lv[i].pg);
  path->depth = 0;
}

/* Pin the pages from the root to the leaf where key is or would be. */
static int bt_descend(bt_tree *t, const uint8_t *key, size_t klen, bt_path *path) {
  path->depth = 0;
  path->found = 0;
  if (!t->root) return ST_OK;
  uint32_t pgno = t->root;
  int level = -1;
  for (;;) {
    if (path->depth >= BT_MAX_DEPTH) return ST_ECORRUPT;
    pc_page *p;
    int rc = bt_load(t, pgno, level, &p);
    if (rc != ST_OK) return rc;
    bt_level *lv = &path->lv[path->depth++];
    lv->pg = p;
    if (pg_type(p->data) == BT_LEAF) {
      lv->idx = leaf_search(p->data, key, klen, &path->found);
      return ST_OK;
    }
    lv->idx = int_search(p->data, key, klen);
    pgno = cell_child(pg_cell(p->data, lv->idx));
    level = pg_level(p->data) - 1;
  }
}

/* Copy-on-write: make *pp (child idx of parent, or the root when parent is
 * NULL) a dirty page, repointing the parent. */
static void bt_cow(bt_tree *t, pc_page *parent, int idx, pc_page **pp) {
  pc_page *p = *pp;
  if (p->state == PC_DIRTY) return;
  pc_page *np = pc_new(&t->f, bt_alloc(t), p->data);
  bt_free_page(t, p->pgno, p);
  if (parent)
    set_child(parent->data, idx, np->pgno);
  else
    t->root = np->pgno;
  *pp = np;
}

static void path_cow(bt_tree *t, bt_path *path) {
  for (int i = 0; i < path->depth; i++)
    bt_cow(t, i ? path->lv[i - 1].pg : NULL, i ? path->lv[i - 1].idx : 0, &path->lv[i].pg);
}

/* ---- overflow chains ------------------------------------------------------ */

static int bt_read_value(bt_tree *t, const uint8_t *cell, st_buf *out) {
  size_t kl = cell_klen(cell);
  uint32_t vlen = bt__get32(cell + 3);
  if (!(cell[2] & 1)) {
    st_buf_append(out, cell + 7 + kl, vlen);
    return ST_OK;
  }
  st_buf_reserve(out, vlen);
  uint32_t pgno = bt__get32(cell + 7 + kl);
  size_t left = vlen;
  while (left) {
    pc_page *p;
    int rc = bt_load_ovf(t, pgno, &p);
    if (rc != ST_OK) return rc;
    size_t take = (size_t)pg_n(p->data);
    uint32_t next = pg_next(p->data);
    if (take > left || (take < left && take != BT_OVF_CAP) || (take == left && next)) {
      pc_unpin(p);
      return ST_ECORRUPT;
    }
    st_buf_append(out, p->data + BT_HDR, take);
    pc_unpin(p);
    left -= take;
    pgno = next;
  }
  return ST_OK;
}

/* Collect the pages of the value's overflow chain into t->chain. */
static int bt_collect_chain(bt_tree *t, const uint8_t *cell) {
  t->chain.n = 0;
  if (!(cell[2] & 1)) return ST_OK;
  size_t kl = cell_klen(cell);
  uint32_t pgno = bt__get32(cell + 7 + kl);
  size_t left = bt__get32(cell + 3);
  while (left) {
    pc_page *p;
    int rc = bt_load_ovf(t, pgno, &p);
    if (rc != ST_OK) return rc;
    size_t take = (size_t)pg_n(p->data);
    uint32_t next = pg_next(p->data);
    pc_unpin(p);
    if (take > left || (take < left && take != BT_OVF_CAP) || (take == left && next))
      return ST_ECORRUPT;
    bt_vec_push(&t->chain, pgno);
    left -= take;
    pgno = next;
  }
  return ST_OK;
}

static void bt_free_chain(bt_tree *t) {
  for (size_t i = 0; i < t->chain.n; i++) bt_free_page(t, t->chain.v[i], NULL);
  t->chain.n = 0;
}

/* Write val into a new chain; returns its first page. */
static uint32_t bt_write_chain(bt_tree *t, const uint8_t *val, size_t vlen) {
  size_t npages = (vlen + BT_OVF_CAP - 1) / BT_OVF_CAP;
  uint32_t next = 0;
  for (size_t i = npages; i-- > 0;) {
    size_t off = i * BT_OVF_CAP;
    size_t take = vlen - off < BT_OVF_CAP ? vlen - off : BT_OVF_CAP;
    pc_page *p = bt_new_page(t, BT_OVERFLOW, 0);
    bt__put16(p->data + 10, (uint16_t)take);
    bt__put32(p->data + 16, next);
    memcpy(p->data + BT_HDR, val + off, take);
    next = p->pgno;
    pc_unpin(p);
  }
  return next;
}

/* ---- splits, merges ------------------------------------------------------------- */

static void cv_reset(bt_cv *cv) {
  cv->used = 0;
  cv->n = 0;
}

static void cv_add(bt_cv *cv, const uint8_t *cell, size_t len) {
  assert(cv->used + len <= BT_CV_BYTES && cv->n < BT_CV_CELLS);
  memcpy(cv->buf + cv->used, cell, len);
  cv->off[cv->n] = (uint32_t)cv->used;
  cv->len[cv->n] = (uint16_t)len;
  cv->used += len;
  cv->n++;
}

static void cv_add_page(bt_cv *cv, uint8_t *d, int from) {
  int n = pg_n(d), type = pg_type(d);
  for (int i = from; i < n; i++) {
    uint8_t *c = pg_cell(d, i);
    cv_add(cv, c, cell_size(type, c));
  }
}

static uint8_t *cv_cell(const bt_cv *cv, int i) { return cv->buf + cv->off[i]; }

/* Bytes a page built from cells [a, b) would use. */
static size_t cv_bytes(const bt_cv *cv, int a, int b, int interior) {
  size_t s = BT_HDR;
  for (int i = a; i < b; i++) s += cv->len[i] + 2u;
  if (interior && a < b) s -= cell_klen(cv_cell(cv, a)); /* first key blanked */
  return s;
}

static void cv_build(const bt_cv *cv, int a, int b, uint8_t *d, int type, int level) {
  pg_init(d, type, level);
  for (int i = a; i < b; i++) {
    const uint8_t *c = cv_cell(cv, i);
    if (type == BT_INTERIOR && i == a) {
      uint8_t blank[6];
      mk_int_cell(blank, NULL, 0, cell_child(c));
      pg_append(d, blank, 6);
    } else {
      pg_append(d, c, cv->len[i]);
    }
  }
}

/* Most balanced split point k (cells [0,k) left, [k,n) right) where both
 * halves fit, or -1. Interior halves get at least two children each, so
 * that every interior node has two children and every node a sibling
 * (invariant 8; always possible for an overflowing node, see there). */
static int cv_split_point(const bt_cv *cv, int interior) {
  int best = -1, minside = interior ? 2 : 1;
  long best_diff = 0;
  size_t total = cv_bytes(cv, 0, cv->n, 0) - BT_HDR, left = 0;
  for (int k = 1; k <= cv->n - minside; k++) {
    left += cv->len[k - 1] + 2u;
    if (k < minside) continue;
    size_t right = total - left;
    if (interior) right -= cell_klen(cv_cell(cv, k));
    if (left + BT_HDR > BT_PAGE_SIZE || right + BT_HDR > BT_PAGE_SIZE) continue;
    long diff = labs((long)left - (long)right);
    if (best < 0 || diff < best_diff) {
      best = k;
      best_diff = diff;
    }
  }
  return best;
}

/* Leaf separator cell (pointing to child) between left key lk and right key
 * rk (lk < rk): the shortest prefix of rk that is greater than lk. */
static size_t leaf_separator(const uint8_t *lk, size_t ll, const uint8_t *rk, size_t rl,
                             uint32_t child, uint8_t *out) {
  size_t l = 0;
  while (l < ll && l < rl && lk[l] == rk[l]) l++;
  size_t sl = l + 1 <= rl ? l + 1 : rl;
  return mk_int_cell(out, rk, sl, child);
}

/* The separator cell (pointing to child) between cells k-1 and k of cv. */
static size_t cv_separator(const bt_cv *cv, int k, int interior, uint32_t child, uint8_t *out) {
  int type = interior ? BT_INTERIOR : BT_LEAF;
  const uint8_t *rc = cv_cell(cv, k);
  size_t rl = cell_klen(rc);
  const uint8_t *rk = cell_key(type, rc);
  if (interior) return mk_int_cell(out, rk, rl, child);
  const uint8_t *lc = cv_cell(cv, k - 1);
  return leaf_separator(cell_key(type, lc), cell_klen(lc), rk, rl, child, out);
}

/* Gather the cells of page d into cv with cell (len bytes) inserted at idx. */
static void cv_add_page_with(bt_cv *cv, uint8_t *d, int idx, const uint8_t *cell, size_t len) {
  int n = pg_n(d), type = pg_type(d);
  for (int i = 0; i <= n; i++) {
    if (i == idx) cv_add(cv, cell, len);
    if (i < n) {
      uint8_t *c = pg_cell(d, i);
      cv_add(cv, c, cell_size(type, c));
    }
  }
}

/* Bytes (cell and slot) of cell i of leaf d once cell `len` bytes long is
 * inserted at idx: the new cell itself when i == idx. */
static int with_size(uint8_t *d, int idx, size_t len, int i) {
  if (i == idx) return (int)len + 2;
  return (int)cell_size(BT_LEAF, pg_cell(d, i < idx ? i : i - 1)) + 2;
}

/* Make room for `need` more bytes (cells plus slots) between the slots and
 * the content of leaf d; the caller checked pg_free(d) >= need. */
static void pg_make_room(uint8_t *d, uint8_t *tmp, int need) {
  if (pg_cs(d) - (BT_HDR + 2 * pg_n(d)) < need) pg_compact(d, tmp);
}

/* Move the last cells of leaf src, from index a on, to the front of leaf dst
 * (every key of src is below every key of dst). */
static void pg_move_tail(uint8_t *src, uint8_t *dst, uint8_t *tmp, int a) {
  int n = pg_n(src), m = n - a, dn = pg_n(dst), bytes = 0;
  if (m <= 0) return;
  for (int i = a; i < n; i++) bytes += (int)cell_size(BT_LEAF, pg_cell(src, i)) + 2;
  pg_make_room(dst, tmp, bytes);
  uint8_t *slots = dst + BT_HDR;
  memmove(slots + 2 * m, slots, 2 * (size_t)dn);
  int cs = pg_cs(dst);
  for (int i = 0; i < m; i++) {
    const uint8_t *c = pg_cell(src, a + i);
    size_t len = cell_size(BT_LEAF, c);
    cs -= (int)len;
    memcpy(dst + cs, c, len);
    bt__put16(slots + 2 * i, (uint16_t)cs);
  }
  bt__put16(dst + 12, (uint16_t)cs);
  bt__put16(dst + 10, (uint16_t)(dn + m));
  for (int i = n - 1; i >= a; i--) pg_remove(src, i); /* last slot: no memmove */
}

/* Move the first b cells of leaf src to the end of leaf dst (every key of
 * dst is below every key of src). */
static void pg_move_head(uint8_t *src, uint8_t *dst, uint8_t *tmp, int b) {
  int n = pg_n(src), bytes = 0, freed = 0, cs = pg_cs(src);
  if (b <= 0) return;
  for (int i = 0; i < b; i++) bytes += (int)cell_size(BT_LEAF, pg_cell(src, i)) + 2;
  pg_make_room(dst, tmp, bytes);
  for (int i = 0; i < b; i++) {
    int off = pg_slot(src, i);
    size_t len = cell_size(BT_LEAF, src + off);
    pg_append(dst, src + off, len);
    if (off == cs)
      cs += (int)len; /* the lowest cell: the content area shrinks */
    else
      freed += (int)len;
  }
  uint8_t *slots = src + BT_HDR;
  memmove(slots, slots + 2 * b, 2 * (size_t)(n - b));
  bt__put16(src + 10, (uint16_t)(n - b));
  bt__put16(src + 12, (uint16_t)cs);
  bt__put16(src + 14, (uint16_t)(pg_frag(src) + freed));
}

/* The leaf at path level L > 0 has no room for cell (len bytes) at idx:
 * share its cells with the adjacent sibling under the same parent that has
 * the most free bytes, if that one has at least BT_SHARE_MIN(len) (rule 9).
 * The split point is the most balanced one of the two leaves' cells plus
 * the new one (as for a split); only the cells that change leaves are
 * moved, then the new cell is inserted where it belongs. The sibling is
 * made dirty first (copy-on-write, like a path page) and the parent cell of
 * the right leaf removed; the new separator (pointing to the right leaf) is
 * written to sep, its length to *seplen and the parent index where it goes
 * to *ri; returns 1. Returns 0, having changed nothing, when the caller must
 * split: no sibling with room, a sibling that cannot be read (the read
 * error is ignored: the split keeps the tree valid), or no split point where
 * both sides fit. */
static int bt_leaf_share(bt_tree *t, bt_path *path, int L, int idx, const uint8_t *cell,
                         size_t len, uint8_t *sep, size_t *seplen, int *ri) {
  pc_page *p = path->lv[L].pg, *parent = path->lv[L - 1].pg, *s = NULL;
  uint8_t *pd = parent->data;
  int pidx = path->lv[L - 1].idx, pn = pg_n(pd), sib = -1;
  for (int cand = pidx - 1; cand <= pidx + 1; cand += 2) {
    if (cand < 0 || cand >= pn) continue;
    pc_page *q;
    if (bt_load(t, cell_child(pg_cell(pd, cand)), 0, &q) != ST_OK) continue;
    if (q == p) { /* two pointers to one page: corrupt, do not touch it */
      pc_unpin(q);
      continue;
    }
    if (s && pg_free(s->data) >= pg_free(q->data)) {
      pc_unpin(q);
      continue;
    }
    if (s) pc_unpin(s);
    s = q;
    sib = cand;
  }
  if (!s) return 0;
  if (pg_free(s->data) < (int)BT_SHARE_MIN(len)) {
    pc_unpin(s);
    return 0;
  }
  int left = sib < pidx; /* the sibling is the left leaf */
  int np = pg_n(p->data), ns = pg_n(s->data);
  /* The most balanced split point of the cells of both leaves plus the new
   * one: move cells of p (with the new cell) across, nearest the sibling
   * first, while that narrows the gap; both sides must then fit. */
  int from = pg_used(p->data) - BT_HDR + (int)len + 2; /* bytes of p side */
  int to = pg_used(s->data) - BT_HDR;                  /* bytes of s side */
  int moved = 0;                                       /* cells moved */
  while (moved < np) { /* p keeps at least one cell */
    int sc = with_size(p->data, idx, len, left ? moved : np - moved);
    if (from - to <= sc) break;
    from -= sc;
    to += sc;
    moved++;
  }
  if (moved == 0 || from + BT_HDR > BT_PAGE_SIZE || to + BT_HDR > BT_PAGE_SIZE) {
    pc_unpin(s);
    return 0;
  }
  int k = left ? ns + moved : np + 1 - moved; /* as cv_split_point counts */
  /* From here on the change is made: the sibling becomes dirty (rule 1). */
  bt_cow(t, parent, sib, &s);
  uint8_t *pdat = p->data, *sdat = s->data;
  if (left) {
    /* the first j cells of p-with-the-new-cell go to the end of s */
    int j = k - ns;
    if (idx < j) {
      pg_move_head(pdat, sdat, t->tmp, j - 1);
      pg_insert(sdat, t->tmp, ns + idx, cell, len);
    } else {
      pg_move_head(pdat, sdat, t->tmp, j);
      pg_insert(pdat, t->tmp, idx - j, cell, len);
    }
  } else {
    /* cells k.. of p-with-the-new-cell go to the front of s */
    if (idx >= k) {
      pg_move_tail(pdat, sdat, t->tmp, k);
      pg_insert(sdat, t->tmp, idx - k, cell, len);
    } else {
      pg_move_tail(pdat, sdat, t->tmp, k - 1);
      pg_insert(pdat, t->tmp, idx, cell, len);
    }
  }
  pc_page *lp = left ? s : p, *rp = left ? p : s;
  size_t ll, rl;
  const uint8_t *lk = pg_key(lp->data, pg_n(lp->data) - 1, &ll);
  const uint8_t *rk = pg_key(rp->data, 0, &rl);
  *seplen = leaf_separator(lk, ll, rk, rl, rp->pgno, sep);
  *ri = left ? pidx : sib;
  pc_unpin(s);
  pg_remove(pd, *ri);
  return 1;
}

/* Insert cell at idx of the node at path level L, splitting up the path as
 * needed (all path pages are dirty); an overflowing leaf first tries to
 * share its cells with a sibling (rule 9). *split = 1 if the node split or
 * shared (the path no longer describes the tree). */
static void bt_node_insert(bt_tree *t, bt_path *path, int L, int idx, const uint8_t *cell,
                           size_t len, int *split) {
  uint8_t sepbuf[2][6 + BT_MAX_KEY];
  int which = 0;
  *split = 0;
  for (;;) {
    pc_page *p = path->lv[L].pg;
    uint8_t *d = p->data;
    if (pg_free(d) >= (int)len + 2) {
      pg_insert(d, t->tmp, idx, cell, len);
      return;
    }
    *split = 1;
    int type = pg_type(d), level = pg_level(d), interior = type == BT_INTERIOR;
    if (type == BT_LEAF && L > 0) {
      uint8_t *sep = sepbuf[which];
      size_t seplen;
      int ri;
      if (bt_leaf_share(t, path, L, idx, cell, len, sep, &seplen, &ri)) {
        which ^= 1;
        L--;
        idx = ri;
        cell = sep;
        len = seplen;
        continue;
      }
    }
    bt_cv *cv = &t->cv;
    cv_reset(cv);
    cv_add_page_with(cv, d, idx, cell, len);
    int k = cv_split_point(cv, interior);
    assert(k > 0); /* cells are at most BT_MAX_CELL bytes: two pages suffice */
    pc_page *r = bt_new_page(t, type, level);
    cv_build(cv, 0, k, d, type, level);
    cv_build(cv, k, cv->n, r->data, type, level);
    uint8_t *sep = sepbuf[which];
    which ^= 1;
    size_t seplen = cv_separator(cv, k, interior, r->pgno, sep);
    pc_unpin(r);
    if (L == 0) {
      pc_page *root = bt_new_page(t, BT_INTERIOR, level + 1);
      uint8_t first[6];
      mk_int_cell(first, NULL, 0, p->pgno);
      pg_append(root->data, first, 6);
      pg_append(root->data, sep, seplen);
      t->root = root->pgno;
      pc_unpin(root);
      return;
    }
    L--;
    idx = path->lv[L].idx + 1;
    cell = sep;
    len = seplen;
  }
}

/* The root lost children or cells: drop an empty root leaf, and replace an
 * interior root that has a single child by that child. */
static int bt_collapse_root(bt_tree *t, bt_path *path) {
  for (;;) {
    pc_page *p = path->lv[0].pg;
    uint8_t *d = p->data;
    if (pg_type(d) == BT_LEAF) {
      if (pg_n(d) == 0) {
        bt_free_page(t, p->pgno, p);
        path->lv[0].pg = NULL;
        t->root = 0;
      }
      return ST_OK;
    }
    if (pg_n(d) != 1) return ST_OK;
    uint32_t child = cell_child(pg_cell(d, 0));
    int level = pg_level(d) - 1;
    pc_page *c;
    int rc = bt_load(t, child, level, &c);
    if (rc != ST_OK) return rc;
    bt_free_page(t, p->pgno, p);
    path->lv[0].pg = c;
    t->root = child;
  }
}

/* After a removal at path level L: merge or redistribute underfull nodes up
 * the path, then collapse the root. */
static int bt_rebalance(bt_tree *t, bt_path *path, int L) {
  for (;;) {
    if (L == 0) return bt_collapse_root(t, path);
    pc_page *p = path->lv[L].pg;
    uint8_t *d = p->data;
    if (pg_n(d) > 0 && pg_used(d) >= BT_MIN_FILL) return ST_OK;
    pc_page *parent = path->lv[L - 1].pg;
    uint8_t *pd = parent->data;
    int pidx = path->lv[L - 1].idx, pn = pg_n(pd);
    if (pn < 2) return ST_OK; /* no sibling */
    int li = pidx > 0 ? pidx - 1 : pidx, ri = li + 1;
    int sib = li == pidx ? ri : li;
    pc_page *s;
    int rc = bt_load(t, cell_child(pg_cell(pd, sib)), pg_level(d), &s);
    if (rc != ST_OK) return rc;
    bt_cow(t, parent, sib, &s);
    pc_page *lp = sib == li ? s : p, *rp = sib == li ? p : s;
    int type = pg_type(d), level = pg_level(d), interior = type == BT_INTERIOR;
    bt_cv *cv = &t->cv;
    cv_reset(cv);
    cv_add_page(cv, lp->data, 0);
    if (interior) {
      size_t kl;
      const uint8_t *k = pg_key(pd, ri, &kl);
      uint8_t c[6 + BT_MAX_KEY];
      size_t cl = mk_int_cell(c, k, kl, cell_child(pg_cell(rp->data, 0)));
      cv_add(cv, c, cl);
      cv_add_page(cv, rp->data, 1);
    } else {
      cv_add_page(cv, rp->data, 0);
    }
    if (cv_bytes(cv, 0, cv->n, 0) <= BT_PAGE_SIZE) {
      /* merge into the left page */
      cv_build(cv, 0, cv->n, lp->data, type, level);
      bt_free_page(t, rp->pgno, rp);
      pg_remove(pd, ri);
      path->lv[L].pg = lp;
      L--;
      continue;
    }
    int k = cv_split_point(cv, interior);
    if (k < 0) { /* cannot redistribute (huge keys): leave it underfull */
      pc_unpin(s);
      return ST_OK;
    }
    cv_build(cv, 0, k, lp->data, type, level);
    cv_build(cv, k, cv->n, rp->data, type, level);
    uint8_t sep[6 + BT_MAX_KEY];
    size_t seplen = cv_separator(cv, k, interior, rp->pgno, sep);
    pc_unpin(s);
    pg_remove(pd, ri);
    int split;
    bt_node_insert(t, path, L - 1, ri, sep, seplen, &split);
    if (split) return ST_OK;
    L--;
  }
}

/* ---- meta pages ------------------------------------------------------------------ */

typedef struct bt_meta {
  uint64_t gen;        /* generation */
  uint64_t root;       /* root page */
  uint64_t page_count; /* pages */
  uint64_t lsn;        /* checkpoint LSN */
  uint64_t user[4];    /* user words */
  uint64_t fl_head;    /* first free-list page */
  uint64_t fl_pages;   /* free-list pages */
  uint64_t fl_count;   /* free page numbers listed */
} bt_meta;

static void meta_encode(const bt_meta *m, uint8_t *p) {
  memset(p, 0, BT_PAGE_SIZE);
  memcpy(p, BT_MAGIC, 8);
  bt__put32(p + 8, BT_VERSION);
  bt__put32(p + 12, BT_PAGE_SIZE);
  bt__put64(p + 16, m->gen);
  bt__put64(p + 24, m->root);
  bt__put64(p + 32, m->page_count);
  bt__put64(p + 40, m->lsn);
  for (int i = 0; i < 4; i++) bt__put64(p + 48 + 8 * i, m->user[i]);
  bt__put64(p + 80, m->fl_head);
  bt__put64(p + 88, m->fl_pages);
  bt__put64(p + 96, m->fl_count);
  bt__put64(p + BT_META_SUM, XXH64(p, BT_META_SUM, 0));
}

/* ST_OK, ST_ECORRUPT (not a valid meta) or ST_EVERSION. */
static int meta_decode(const uint8_t *p, bt_meta *m) {
  if (memcmp(p, BT_MAGIC, 8) != 0) return ST_ECORRUPT;
  if (bt__get64(p + BT_META_SUM) != XXH64(p, BT_META_SUM, 0)) return ST_ECORRUPT;
  if (bt__get32(p + 8) != BT_VERSION) return ST_EVERSION;
  if (bt__get32(p + 12) != BT_PAGE_SIZE) return ST_ECORRUPT;
  m->gen = bt__get64(p + 16);
  m->root = bt__get64(p + 24);
  m->page_count = bt__get64(p + 32);
  m->lsn = bt__get64(p + 40);
  for (int i = 0; i < 4; i++) m->user[i] = bt__get64(p + 48 + 8 * i);
  m->fl_head = bt__get64(p + 80);
  m->fl_pages = bt__get64(p + 88);
  m->fl_count = bt__get64(p + 96);
  if (m->page_count < 2 || m->page_count >= UINT32_MAX) return ST_ECORRUPT;
  if (m->root == 1 || (m->root && m->root >= m->page_count)) return ST_ECORRUPT;
  if (m->fl_head == 1 || (m->fl_head && m->fl_head >= m->page_count)) return ST_ECORRUPT;
  if ((m->fl_head == 0) != (m->fl_pages == 0) || m->fl_count > m->page_count ||
      m->fl_pages > m->page_count)
    return ST_ECORRUPT;
  return ST_OK;
}

/* Load the snapshot's free list into free_now and its pages into fl_pages. */
static int bt_load_freelist(bt_tree *t, const bt_meta *m) {
  int rc = ST_OK;
  uint8_t *seen = bt_xcalloc((t->page_count + 7) / 8, 1);
  uint8_t *buf = malloc(BT_PAGE_SIZE);
  if (!buf) abort();
  uint32_t pgno = (uint32_t)m->fl_head;
  uint64_t listed = 0;
  for (uint64_t i = 0; i < m->fl_pages; i++) {
    if (pgno < 2 || pgno >= t->page_count || (seen[pgno / 8] & (1u << (pgno % 8)))) {
      rc = ST_ECORRUPT;
      goto fail;
    }
    seen[pgno / 8] |= (uint8_t)(1u << (pgno % 8));
    rc = pc_read_page(t->f.fd, pgno, buf);
    if (rc != ST_OK) goto fail;
    int n = pg_n(buf);
    if (pg_type(buf) != BT_FREELIST || n > BT_FL_CAP) {
      rc = ST_ECORRUPT;
      goto fail;
    }
    bt_vec_push(&t->fl_pages, pgno);
    nl_set(t, pgno, 1);
    for (int j = 0; j < n; j++) {
      uint32_t f = bt__get32(buf + BT_HDR + 4 * j);
      if (f < 2 || f >= t->page_count || (seen[f / 8] & (1u << (f % 8)))) {
        rc = ST_ECORRUPT;
        goto fail;
      }
      seen[f / 8] |= (uint8_t)(1u << (f % 8));
      bt_vec_push(&t->free_now, f);
      nl_set(t, f, 1);
    }
    listed += (uint64_t)n;
    pgno = pg_next(buf);
  }
  if (pgno != 0 || listed != m->fl_count) rc = ST_ECORRUPT;
fail:
  free(buf);
  free(seen);
  return rc;
}

static int bt_fsync_dir(const char *path, int nosync) {
  if (nosync) return ST_OK;
  char *dir = strdup(path);
  if (!dir) abort();
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    dir[1] = 0;
  else if (slash)
    *slash = 0;
  else
    strcpy(dir, ".");
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(dir);
  if (fd < 0) return ST_EIO;
  int rc = fsync(fd) == 0 ? ST_OK : ST_EIO;
  close(fd);
  return rc;
}

/* Write a fresh empty tree file to path via a temporary file and a rename,
 * so that a file at path always has a valid meta page. */
static int bt_create(const char *path, int nosync) {
  int rc = ST_EIO, fd = -1;
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 5);
  uint8_t *pages = bt_xcalloc(2, BT_PAGE_SIZE);
  if (!tmp) abort();
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) goto fail;
  bt_meta m = {.gen = 0, .root = 0, .page_count = 2};
  meta_encode(&m, pages); /* slot 1 stays zero: invalid until gen 1 */
  rc = pc_pwrite(fd, pages, 2 * BT_PAGE_SIZE, 0);
  if (rc == ST_OK) rc = pc_sync(fd, nosync);
  if (close(fd) != 0 && rc == ST_OK) rc = ST_EIO;
  fd = -1;
  if (rc != ST_OK) goto fail;
  if (rename(tmp, path) != 0) {
    rc = ST_EIO;
    goto fail;
  }
  rc = bt_fsync_dir(path, nosync);
fail:
  if (rc != ST_OK) unlink(tmp);
  free(pages);
  free(tmp);
  return rc;
}

int bt_open(pc_cache *c, const char *path, bt_tree **out) {
  *out = NULL;
  int nosync = pc_cache_nosync(c);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    int rc = bt_create(path, nosync);
    if (rc != ST_OK) return rc;
    fd = open(path, O_RDWR | O_CLOEXEC);
  }
  if (fd < 0) return ST_EIO;
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    close(fd);
    return ST_EIO;
  }
  if (sb.st_size == 0) {
    /* created by somebody else but never written: make it an empty tree */
    uint8_t *pages = bt_xcalloc(2, BT_PAGE_SIZE);
    bt_meta m0 = {.gen = 0, .root = 0, .page_count = 2};
    meta_encode(&m0, pages);
    int wrc = pc_pwrite(fd, pages, 2 * BT_PAGE_SIZE, 0);
    free(pages);
    if (wrc == ST_OK) wrc = pc_sync(fd, nosync);
    if (wrc != ST_OK) {
      close(fd);
      return wrc;
    }
  }

  int rc = ST_ECORRUPT;
  bt_tree *t = NULL;
  uint8_t *mp = bt_xcalloc(2, BT_PAGE_SIZE);
  bt_meta m[2];
  int st[2];
  for (int i = 0; i < 2; i++) {
    st[i] = pc_pread(fd, mp + i * BT_PAGE_SIZE, BT_PAGE_SIZE, (uint64_t)i * BT_PAGE_SIZE);
    if (st[i] == ST_EIO) {
      rc = ST_EIO;
      goto fail;
    }
    if (st[i] == ST_OK) st[i] = meta_decode(mp + i * BT_PAGE_SIZE, &m[i]);
  }
  int best = -1;
  for (int i = 0; i < 2; i++)
    if (st[i] == ST_OK && (best < 0 || m[i].gen > m[best].gen)) best = i;
  if (best < 0) {
    rc = (st[0] == ST_EVERSION || st[1] == ST_EVERSION) ? ST_EVERSION : ST_ECORRUPT;
    goto fail;
  }
  /* A newer slot in an unknown version wins over an older known one. */
  for (int i = 0; i < 2; i++)
    if (st[i] == ST_EVERSION && bt__get64(mp + i * BT_PAGE_SIZE + 16) > m[best].gen) {
      rc = ST_EVERSION;
      goto fail;
    }

  t = bt_xcalloc(1, sizeof *t);
  pc_file_init(&t->f, c, fd);
  t->path = strdup(path);
  if (!t->path) abort();
  t->root = (uint32_t)m[best].root;
  t->page_count = (uint32_t)m[best].page_count;
  t->gen = m[best].gen;
  t->lsn = m[best].lsn;
  memcpy(t->dur_user, m[best].user, sizeof t->dur_user);
  memcpy(t->user, m[best].user, sizeof t->user);
  /* Scratch shared by every tree of the cache (see BT_SCRATCH_BYTES). */
  uint8_t *scratch = pc_scratch(c, BT_SCRATCH_BYTES);
  t->tmp = scratch;
  t->cv.buf = scratch + BT_PAGE_SIZE;
  t->cv.off = (uint32_t *)(void *)(scratch + BT_PAGE_SIZE + BT_CV_BYTES);
  t->cv.len = (uint16_t *)(void *)(scratch + BT_PAGE_SIZE + BT_CV_BYTES +
                                   BT_CV_CELLS * sizeof *t->cv.off);
  rc = bt_load_freelist(t, &m[best]);
  if (rc != ST_OK) goto fail;
  free(mp);
  *out = t;
  return ST_OK;
fail:
  free(mp);
  if (t) {
    t->f.fd = -1;
    bt_close(t);
  }
  close(fd);
  return rc;
}

void bt_close(bt_tree *t) {
  if (!t) return;
  if (t->job) {
    /* Its run must be over; the snapshot is whatever reached the disk. */
    bt_vec_free(&t->job->freed);
    free(t->job->pgnos);
    free(t->job->bufs);
    free(t->job->fl_buf);
    free(t->job->fl_pgnos);
    free(t->job);
  }
  pc_file_drop(&t->f);
  if (t->f.fd >= 0) close(t->f.fd);
  bt_vec_free(&t->free_now);
  bt_vec_free(&t->freed_cur);
  bt_vec_free(&t->fl_pages);
  bt_vec_free(&t->chain);
  free(t->notlive);
  free(t->path);
  free(t);
}

uint64_t bt_checkpoint_lsn(const bt_tree *t) { return t->lsn; }

void bt_user_get(const bt_tree *t, uint64_t u[4]) { memcpy(u, t->user, sizeof t->user); }

void bt_user_set(bt_tree *t, const uint64_t u[4]) {
  if (memcmp(t->user, u, sizeof t->user) == 0) return;
  memcpy(t->user, u, sizeof t->user);
  t->changed = 1;
}

int bt_dirty(const bt_tree *t) { return t->changed; }

/* ---- get / put / delete ------------------------------------------------------ */

int bt_get(bt_tree *t, const void *key, size_t klen, st_buf *val, int *found) {
  val->len = 0;
  *found = 0;
  if (klen > BT_MAX_KEY) return ST_OK; /* cannot be stored */
  bt_path path;
  int rc = bt_descend(t, key, klen, &path);
  if (rc == ST_OK && path.found) {
    bt_level *lv = &path.lv[path.depth - 1];
    rc = bt_read_value(t, pg_cell(lv->pg->data, lv->idx), val);
    if (rc == ST_OK)
      *found = 1;
    else
      val->len = 0;
  }
  path_release(&path);
  return rc;
}

int bt_put(bt_tree *t, const void *key, size_t klen, const void *val, size_t vlen,
           st_buf *old, int *replaced) {
  if (old) old->len = 0;
  if (replaced) *replaced = 0;
  if (klen > BT_MAX_KEY || vlen > BT_MAX_VALUE) return ST_ETOOBIG;
  int rc = bt_reserve(t, vlen);
  if (rc != ST_OK) return rc;
  bt_path path;
  rc = bt_descend(t, key, klen, &path);
  if (rc != ST_OK) goto fail;
  t->chain.n = 0;
  if (path.found) {
    bt_level *lv = &path.lv[path.depth - 1];
    const uint8_t *c = pg_cell(lv->pg->data, lv->idx);
    if (old) {
      rc = bt_read_value(t, c, old);
      if (rc != ST_OK) goto fail;
    }
    rc = bt_collect_chain(t, c);
    if (rc != ST_OK) goto fail;
    if (replaced) *replaced = 1;
  }
  /* From here on nothing reads the disk: the change cannot stop halfway. */
  uint8_t cell[BT_MAX_CELL];
  size_t clen;
  int inl = 7 + klen + vlen <= BT_INLINE_MAX || vlen <= 4;
  bt__put16(cell, (uint16_t)klen);
  cell[2] = inl ? 0 : 1;
  bt__put32(cell + 3, (uint32_t)vlen);
  if (klen) memcpy(cell + 7, key, klen);
  if (inl) {
    if (vlen) memcpy(cell + 7 + klen, val, vlen);
    clen = 7 + klen + vlen;
  } else {
    bt__put32(cell + 7 + klen, bt_write_chain(t, val, vlen));
    clen = 7 + klen + 4;
  }
  if (path.depth == 0) {
    pc_page *p = bt_new_page(t, BT_LEAF, 0);
    pg_append(p->data, cell, clen);
    t->root = p->pgno;
    pc_unpin(p);
  } else {
    path_cow(t, &path);
    bt_level *lv = &path.lv[path.depth - 1];
    if (path.found && cell_size(BT_LEAF, pg_cell(lv->pg->data, lv->idx)) == clen) {
      /* The same size (an item rewritten with a value as long): overwrite the
       * cell where it is; the page's layout and fill do not change. */
      memcpy(pg_cell(lv->pg->data, lv->idx), cell, clen);
      bt_free_chain(t);
      goto done;
    }
    if (path.found) pg_remove(lv->pg->data, lv->idx);
    int split;
    bt_node_insert(t, &path, path.depth - 1, lv->idx, cell, clen, &split);
    bt_free_chain(t);
    /* A smaller value may leave the leaf underfull. The put is complete and
     * the tree valid whatever happens here: a read error while rebalancing
     * only leaves a node underfull (and shows up again on a later access). */
    if (!split) (void)bt_rebalance(t, &path, path.depth - 1);
  }
done:
  t->changed = 1;
  t->seq++;
fail:
  path_release(&path);
  return rc;
}

int bt_delete(bt_tree *t, const void *key, size_t klen, st_buf *old, int *found) {
  if (old) old->len = 0;
  *found = 0;
  if (klen > BT_MAX_KEY) return ST_OK;
  bt_path path;
  int rc = bt_descend(t, key, klen, &path);
  if (rc != ST_OK || !path.found) goto fail;
  bt_level *lv = &path.lv[path.depth - 1];
  const uint8_t *c = pg_cell(lv->pg->data, lv->idx);
  if (old) {
    rc = bt_read_value(t, c, old);
    if (rc != ST_OK) goto fail;
  }
  rc = bt_collect_chain(t, c);
  if (rc != ST_OK) goto fail;
  *found = 1;
  path_cow(t, &path);
  pg_remove(path.lv[path.depth - 1].pg->data, path.lv[path.depth - 1].idx);
  bt_free_chain(t);
  t->changed = 1;
  t->seq++;
  /* The delete is complete and the tree valid from here on; a read error
   * while rebalancing only leaves a node underfull (see bt_put). */
  (void)bt_rebalance(t, &path, path.depth - 1);
fail:
  path_release(&path);
  return rc;
}

/* ---- cursors ---------------------------------------------------------------------- */

int bt_cursor_open(bt_tree *t, bt_cursor **out) {
  bt_cursor *c = bt_xcalloc(1, sizeof *c);
  c->t = t;
  st_buf_init(&c->key);
  *out = c;
  return ST_OK;
}

void bt_cursor_close(bt_cursor *c) {
  if (!c) return;
  st_buf_free(&c->key);
  free(c);
}

/* Copy the key under the cursor (positioned on a leaf cell). */
static int cur_load_key(bt_cursor *c) {
  pc_page *p;
  int L = c->depth - 1;
  int rc = bt_load(c->t, c->lv[L].pgno, 0, &p);
  if (rc != ST_OK) return rc;
  size_t kl;
  const uint8_t *k = pg_key(p->data, c->lv[L].idx, &kl);
  c->key.len = 0;
  st_buf_append(&c->key, k, kl);
  pc_unpin(p);
  c->valid = 1;
  c->seq = c->t->seq;
  return ST_OK;
}

/* From page pgno at level L (expected level `level`), descend to the first
 * (leftmost) or last entry. */
static int cur_descend_edge(bt_cursor *c, int L, uint32_t pgno, int level, int leftmost) {
  for (;;) {
    if (L >= BT_MAX_DEPTH) return ST_ECORRUPT;
    pc_page *p;
    int rc = bt_load(c->t, pgno, level, &p);
    if (rc != ST_OK) return rc;
    int n = pg_n(p->data);
    c->lv[L].pgno = pgno;
    c->lv[L].n = n;
    c->lv[L].idx = leftmost ? 0 : n - 1;
    int leaf = pg_type(p->data) == BT_LEAF;
    if (!leaf) {
      pgno = cell_child(pg_cell(p->data, c->lv[L].idx));
      level = pg_level(p->data) - 1;
    }
    pc_unpin(p);
    L++;
    if (leaf) {
      c->depth = L;
      return ST_OK;
    }
  }
}

/* Move to the neighbouring leaf (dir +1 / -1); c->valid = 0 past the end. */
static int cur_step_leaf(bt_cursor *c, int dir) {
  int L = c->depth - 2;
  while (L >= 0) {
    int idx = c->lv[L].idx + dir;
    if (idx >= 0 && idx < c->lv[L].n) break;
    L--;
  }
  if (L < 0) {
    c->valid = 0;
    return ST_OK;
  }
  c->lv[L].idx += dir;
  pc_page *p;
  int rc = bt_load(c->t, c->lv[L].pgno, -1, &p);
  if (rc != ST_OK) return rc;
  uint32_t child = cell_child(pg_cell(p->data, c->lv[L].idx));
  int level = pg_level(p->data) - 1;
  pc_unpin(p);
  return cur_descend_edge(c, L + 1, child, level, dir > 0);
}

static int cur_step(bt_cursor *c, int dir) {
  for (;;) {
    int L = c->depth - 1;
    int idx = c->lv[L].idx + dir;
    if (idx >= 0 && idx < c->lv[L].n) {
      c->lv[L].idx = idx;
      return cur_load_key(c);
    }
    int rc = cur_step_leaf(c, dir);
    if (rc != ST_OK || !c->valid) return rc;
    L = c->depth - 1;
    if (c->lv[L].n > 0) return cur_load_key(c);
    c->lv[L].idx = dir > 0 ? -1 : 0; /* an empty leaf: step over it */
  }
}

/* Descend by key. le = 0: first key >= key; le = 1: last key <= key. */
static int cur_seek(bt_cursor *c, const uint8_t *key, size_t klen, int le) {
  bt_tree *t = c->t;
  c->valid = 0;
  c->depth = 0;
  if (!t->root) return ST_OK;
  uint32_t pgno = t->root;
  int level = -1, L = 0, rc;
  for (;;) {
    if (L >= BT_MAX_DEPTH) return ST_ECORRUPT;
    pc_page *p;
    rc = bt_load(t, pgno, level, &p);
    if (rc != ST_OK) return rc;
    uint8_t *d = p->data;
    int n = pg_n(d);
    c->lv[L].pgno = pgno;
    c->lv[L].n = n;
    if (pg_type(d) == BT_LEAF) {
      int found;
      int idx = leaf_search(d, key, klen, &found);
      pc_unpin(p);
      c->depth = L + 1;
      c->valid = 1;
      if (le) {
        if (found) {
          c->lv[L].idx = idx;
          return cur_load_key(c);
        }
        c->lv[L].idx = idx; /* step back from the first key > key */
        return cur_step(c, -1);
      }
      c->lv[L].idx = idx - 1; /* step forward onto the first key >= key */
      return cur_step(c, +1);
    }
    c->lv[L].idx = int_search(d, key, klen);
    pgno = cell_child(pg_cell(d, c->lv[L].idx));
    level = pg_level(d) - 1;
    pc_unpin(p);
    L++;
  }
}

int bt_cursor_seek(bt_cursor *c, const void *key, size_t klen) {
  int rc = cur_seek(c, key, klen, 0);
  if (rc != ST_OK) c->valid = 0;
  return rc;
}

int bt_cursor_seek_le(bt_cursor *c, const void *key, size_t klen) {
  int rc;
  c->valid = 0;
  if (key) {
    rc = cur_seek(c, key, klen, 1);
  } else if (!c->t->root) {
    rc = ST_OK;
  } else {
    rc = cur_descend_edge(c, 0, c->t->root, -1, 0);
    c->valid = 1;
    if (rc == ST_OK) {
      c->lv[c->depth - 1].idx++; /* step back onto the last entry */
      rc = cur_step(c, -1);
    }
  }
  if (rc != ST_OK) c->valid = 0;
  return rc;
}

/* The tree changed since the cursor was positioned: find the saved key
 * again. *exact = 1 if it is still there. */
static int cur_reseek(bt_cursor *c, int le, int *exact) {
  st_buf k = c->key;
  st_buf_init(&c->key); /* cur_seek overwrites the key buffer */
  int rc = cur_seek(c, k.p, k.len, le);
  *exact = rc == ST_OK && c->valid && bt_cmp(c->key.p, c->key.len, k.p, k.len) == 0;
  if (!c->valid || rc != ST_OK) {
    st_buf_free(&c->key);
    c->key = k; /* keep showing the old key */
  } else {
    st_buf_free(&k);
  }
  return rc;
}

static int cur_move(bt_cursor *c, int dir) {
  if (!c->valid) return ST_OK;
  int rc;
  if (c->seq != c->t->seq) {
    int exact;
    rc = cur_reseek(c, dir < 0, &exact);
    if (rc != ST_OK || !c->valid || !exact) return rc;
  }
  rc = cur_step(c, dir);
  if (rc != ST_OK) c->valid = 0;
  return rc;
}

int bt_cursor_next(bt_cursor *c) { return cur_move(c, +1); }

int bt_cursor_prev(bt_cursor *c) { return cur_move(c, -1); }

int bt_cursor_valid(const bt_cursor *c) { return c->valid; }

void bt_cursor_key(const bt_cursor *c, const uint8_t **key, size_t *klen) {
  *key = c->valid ? c->key.p : NULL;
  *klen = c->valid ? c->key.len : 0;
}

int bt_cursor_value(bt_cursor *c, st_buf *val) {
  val->len = 0;
  if (!c->valid) return ST_ENOTFOUND;
  if (c->seq != c->t->seq) {
    int exact;
    int rc = cur_reseek(c, 0, &exact);
    if (rc != ST_OK) return rc;
    if (!exact) return ST_ENOTFOUND;
  }
  pc_page *p;
  int L = c->depth - 1;
  int rc = bt_load(c->t, c->lv[L].pgno, 0, &p);
  if (rc != ST_OK) return rc;
  rc = bt_read_value(c->t, pg_cell(p->data, c->lv[L].idx), val);
  pc_unpin(p);
  if (rc != ST_OK) val->len = 0;
  return rc;
}

/* ---- checkpoints -------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void bt_job_free(bt_ckpt *j) {
  bt_vec_free(&j->freed);
  free(j->pgnos);
  free(j->bufs);
  free(j->fl_buf);
  free(j->fl_pgnos);
  free(j);
}

int bt_checkpoint_begin(bt_tree *t, uint64_t lsn, bt_ckpt **job) {
  *job = NULL;
  if (t->job) return ST_EBUSY;
  if (!t->changed && lsn == t->lsn) return ST_OK;
  bt_ckpt *j = bt_xcalloc(1, sizeof *j);

  /* Pages the new snapshot does not reference and the durable one may. */
  j->freed = t->freed_cur;
  memset(&t->freed_cur, 0, sizeof t->freed_cur);
  bt_vec_append(&j->freed, &t->fl_pages);
  t->fl_pages.n = 0;

  /* The free list: allocate its pages first, then list all the others. */
  bt_vec flp = {0};
  while (flp.n * BT_FL_CAP < t->free_now.n + j->freed.n) bt_vec_push(&flp, bt_alloc(t));
  j->nfl = flp.n;
  j->fl_pgnos = flp.v;
  j->fl_buf = bt_xcalloc(j->nfl, BT_PAGE_SIZE);
  size_t nfree = t->free_now.n + j->freed.n;
  uint32_t *all = bt_xcalloc(nfree, sizeof *all);
  if (t->free_now.n) memcpy(all, t->free_now.v, t->free_now.n * sizeof *all);
  if (j->freed.n) memcpy(all + t->free_now.n, j->freed.v, j->freed.n * sizeof *all);
  qsort(all, nfree, sizeof *all, cmp_u32);
  for (size_t i = 0; i < j->nfl; i++) {
    uint8_t *d = j->fl_buf + i * BT_PAGE_SIZE;
    size_t from = i * BT_FL_CAP, cnt = nfree - from < BT_FL_CAP ? nfree - from : BT_FL_CAP;
    pg_init(d, BT_FREELIST, 0);
    bt__put16(d + 12, 0);
    bt__put16(d + 10, (uint16_t)cnt);
    bt__put32(d + 16, i + 1 < j->nfl ? j->fl_pgnos[i + 1] : 0);
    for (size_t k = 0; k < cnt; k++) bt__put32(d + BT_HDR + 4 * k, all[from + k]);
    bt_vec_push(&t->fl_pages, j->fl_pgnos[i]);
    nl_set(t, j->fl_pgnos[i], 1);
  }
  free(all);

  /* Seal the dirty pages: from now on they are immutable. */
  size_t nseal = pc_seal(&t->f);
  j->npages = nseal + j->nfl;
  j->pgnos = bt_xcalloc(j->npages, sizeof *j->pgnos);
  j->bufs = bt_xcalloc(j->npages, sizeof *j->bufs);
  /* Sort by page number so run can coalesce writes. */
  typedef struct {
    uint32_t pgno;       /* page number (first: the sort key) */
    const uint8_t *buf;  /* its bytes */
  } ent;
  ent *e = bt_xcalloc(j->npages, sizeof *e);
  size_t n = 0;
  for (pc_page *p = t->f.sealed.head; p; p = p->next)
    if (!p->dead) e[n++] = (ent){p->pgno, p->data};
  for (size_t i = 0; i < j->nfl; i++) e[n++] = (ent){j->fl_pgnos[i], j->fl_buf + i * BT_PAGE_SIZE};
  qsort(e, n, sizeof *e, cmp_u32); /* pgno is the first member */
  for (size_t i = 0; i < n; i++) {
    j->pgnos[i] = e[i].pgno;
    j->bufs[i] = e[i].buf;
  }
  free(e);

  bt_meta m = {.gen = t->gen + 1,
               .root = t->root,
               .page_count = t->page_count,
               .lsn = lsn,
               .fl_head = j->nfl ? j->fl_pgnos[0] : 0,
               .fl_pages = j->nfl,
               .fl_count = nfree};
  memcpy(m.user, t->user, sizeof m.user);
  meta_encode(&m, j->meta);
  j->slot = (uint32_t)(m.gen % 2);
  j->gen = m.gen;
  j->lsn = lsn;
  memcpy(j->user, t->user, sizeof j->user);
  j->fd = t->f.fd;
  j->nosync = pc_cache_nosync(t->f.cache);
  t->job = j;
  t->changed = 0;
  *job = j;
  return ST_OK;
}

int bt_checkpoint_run(bt_ckpt *j) {
  if (!j) return ST_OK;
  enum { BATCH = 64 };
  uint8_t *stage = malloc((size_t)BATCH * BT_PAGE_SIZE);
  if (!stage) return ST_ENOMEM;
  int rc = ST_OK;
  size_t i = 0;
  while (i < j->npages && rc == ST_OK) {
    size_t k = 0;
    uint32_t first = j->pgnos[i];
    while (i + k < j->npages && k < BATCH && j->pgnos[i + k] == first + k) {
      uint8_t *d = stage + k * BT_PAGE_SIZE;
      memcpy(d, j->bufs[i + k], BT_PAGE_SIZE);
      bt__put64(d, pc_page_sum(d, first + (uint32_t)k));
      k++;
    }
    rc = pc_pwrite(j->fd, stage, k * BT_PAGE_SIZE, (uint64_t)first * BT_PAGE_SIZE);
    i += k;
  }
  free(stage);
  if (rc == ST_OK) rc = pc_sync(j->fd, j->nosync);
  if (rc == ST_OK)
    rc = pc_pwrite(j->fd, j->meta, BT_PAGE_SIZE, (uint64_t)j->slot * BT_PAGE_SIZE);
  if (rc == ST_OK) rc = pc_sync(j->fd, j->nosync);
  return rc;
}

void bt_checkpoint_end(bt_tree *t, bt_ckpt *j, int status) {
  if (!j) return;
  if (status == ST_OK) {
    pc_unseal(&t->f, 1);
    bt_vec_append(&t->free_now, &j->freed);
    t->gen = j->gen;
    t->lsn = j->lsn;
    memcpy(t->dur_user, j->user, sizeof t->dur_user);
  } else {
    /* Invariant 5: the failed snapshot may be on disk; keep what it uses. */
    pc_unseal(&t->f, 0);
    bt_vec_append(&t->freed_cur, &j->freed);
    bt_vec_append(&t->freed_cur, &t->fl_pages);
    t->fl_pages.n = 0;
    t->changed = 1;
  }
  t->job = NULL;
  bt_job_free(j);
}

/* ---- checks ------------------------------------------------------------------------ */

typedef struct bt_chk {
  bt_tree *t;        /* tree checked */
  uint8_t *seen;     /* one bit per page */
  uint8_t *disk;     /* scratch page for disk comparisons */
  uint64_t entries;  /* leaf cells */
  char *msg;         /* report */
  size_t msglen;     /* its size */
} bt_chk;

static int chk_fail(bt_chk *k, const char *what, uint32_t pgno) {
  if (k->msg && k->msglen) snprintf(k->msg, k->msglen, "%s: %s (page %u)", k->t->path, what, pgno);
  return ST_ECORRUPT;
}

static int chk_mark(bt_chk *k, uint32_t pgno, const char *what) {
  if (pgno < 2 || pgno >= k->t->page_count) return chk_fail(k, "page number out of range", pgno);
  if (k->seen[pgno / 8] & (1u << (pgno % 8))) return chk_fail(k, what, pgno);
  k->seen[pgno / 8] |= (uint8_t)(1u << (pgno % 8));
  return ST_OK;
}

/* A clean page must match the disk, whose checksum must be right. */
static int chk_disk(bt_chk *k, pc_page *p) {
  if (p->state != PC_CLEAN) return ST_OK;
  int rc = pc_read_page(k->t->f.fd, p->pgno, k->disk);
  if (rc != ST_OK) return chk_fail(k, "bad checksum on disk", p->pgno);
  if (memcmp(k->disk + 8, p->data + 8, BT_PAGE_SIZE - 8) != 0)
    return chk_fail(k, "cached page differs from disk", p->pgno);
  return ST_OK;
}

static int chk_chain(bt_chk *k, const uint8_t *cell) {
  size_t kl = cell_klen(cell);
  uint32_t pgno = bt__get32(cell + 7 + kl);
  size_t left = bt__get32(cell + 3);
  while (left) {
    int rc = chk_mark(k, pgno, "overflow page reachable twice or free");
    if (rc != ST_OK) return rc;
    pc_page *p;
    rc = bt_load_ovf(k->t, pgno, &p);
    if (rc != ST_OK) return chk_fail(k, "bad checksum or malformed overflow page", pgno);
    rc = chk_disk(k, p);
    size_t take = (size_t)pg_n(p->data);
    uint32_t next = pg_next(p->data);
    pc_unpin(p);
    if (rc != ST_OK) return rc;
    if (take > left || (take < left && take != BT_OVF_CAP) || (take == left && next))
      return chk_fail(k, "overflow chain length", pgno);
    left -= take;
    pgno = next;
  }
  return ST_OK;
}

/* Check the subtree at pgno: keys in [lo, hi) (NULL: unbounded). */
static int chk_node(bt_chk *k, uint32_t pgno, int level, const uint8_t *lo, size_t lol,
                    const uint8_t *hi, size_t hil, int is_root) {
  bt_tree *t = k->t;
  int rc = chk_mark(k, pgno, "page reachable twice or free");
  if (rc != ST_OK) return rc;
  pc_page *p;
  rc = bt_load(t, pgno, level, &p);
  if (rc == ST_EIO) return chk_fail(k, "read error", pgno);
  if (rc != ST_OK) return chk_fail(k, "bad checksum or malformed node", pgno);
  uint8_t *d = p->data;
  rc = bt_validate_node(t, d);
  if (rc != ST_OK) {
    rc = chk_fail(k, "malformed node", pgno);
    goto done;
  }
  rc = chk_disk(k, p);
  if (rc != ST_OK) goto done;
  int n = pg_n(d), type = pg_type(d);
  if (type == BT_INTERIOR && n < 2) {
    rc = chk_fail(k, "interior page with fewer than two children", pgno);
    goto done;
  }
  if (type == BT_LEAF && (is_root ? n == 0 : pg_used(d) < BT_MIN_FILL)) {
    rc = chk_fail(k, is_root ? "empty root leaf" : "underfull leaf", pgno);
    goto done;
  }
  const uint8_t *prev = NULL;
  size_t prevl = 0;
  for (int i = 0; i < n; i++) {
    size_t kl;
    const uint8_t *key = pg_key(d, i, &kl);
    int has_key = type == BT_LEAF || i > 0;
    if (has_key) {
      if (prev && bt_cmp(prev, prevl, key, kl) >= 0) {
        rc = chk_fail(k, "keys out of order", pgno);
        goto done;
      }
      if ((lo && bt_cmp(key, kl, lo, lol) < 0) || (hi && bt_cmp(key, kl, hi, hil) >= 0)) {
        rc = chk_fail(k, "key outside the parent's range", pgno);
        goto done;
      }
      prev = key;
      prevl = kl;
    }
    if (type == BT_LEAF) {
      k->entries++;
      if (pg_cell(d, i)[2] & 1) {
        rc = chk_chain(k, pg_cell(d, i));
        if (rc != ST_OK) goto done;
      }
    } else {
      const uint8_t *clo = i ? key : lo, *chi = hi;
      size_t clol = i ? kl : lol, chil = hil;
      if (i + 1 < n) chi = pg_key(d, i + 1, &chil);
      rc = chk_node(k, cell_child(pg_cell(d, i)), pg_level(d) - 1, clo, clol, chi, chil, 0);
      if (rc != ST_OK) goto done;
    }
  }
done:
  pc_unpin(p);
  return rc;
}

int bt_check(bt_tree *t, char *msg, size_t msglen) {
  bt_chk k = {.t = t, .msg = msg, .msglen = msglen};
  if (msg && msglen) msg[0] = 0;
  k.seen = bt_xcalloc((t->page_count + 7) / 8 + 1, 1);
  k.disk = malloc(BT_PAGE_SIZE);
  if (!k.disk) abort();
  k.seen[0] |= 3; /* meta pages */
  int rc = ST_OK;
  const bt_vec *lists[4] = {&t->free_now, &t->freed_cur, &t->fl_pages,
                            t->job ? &t->job->freed : NULL};
  for (int l = 0; l < 4 && rc == ST_OK; l++)
    for (size_t i = 0; lists[l] && i < lists[l]->n && rc == ST_OK; i++) {
      rc = chk_mark(&k, lists[l]->v[i], "page free twice");
      if (rc == ST_OK && !nl_get(t, lists[l]->v[i]))
        rc = chk_fail(&k, "free page not marked free", lists[l]->v[i]);
    }
  if (rc == ST_OK && t->root) rc = chk_node(&k, t->root, -1, NULL, 0, NULL, 0, 1);
  for (uint32_t p = 2; rc == ST_OK && p < t->page_count; p++)
    if (!(k.seen[p / 8] & (1u << (p % 8)))) rc = chk_fail(&k, "page neither reachable nor free", p);
  free(k.seen);
  free(k.disk);
  return rc;
}

static int count_node(bt_tree *t, uint32_t pgno, int level, uint64_t *n, int depth) {
  if (depth >= BT_MAX_DEPTH) return ST_ECORRUPT;
  pc_page *p;
  int rc = bt_load(t, pgno, level, &p);
  if (rc != ST_OK) return rc;
  int cells = pg_n(p->data);
  if (pg_type(p->data) == BT_LEAF) {
    *n += (uint64_t)cells;
  } else {
    for (int i = 0; i < cells && rc == ST_OK; i++)
      rc = count_node(t, cell_child(pg_cell(p->data, i)), pg_level(p->data) - 1, n, depth + 1);
  }
  pc_unpin(p);
  return rc;
}

int bt_count(bt_tree *t, uint64_t *n) {
  *n = 0;
  if (!t->root) return ST_OK;
  return count_node(t, t->root, -1, n, 0);
}

void bt_file_pages(const bt_tree *t, uint64_t *total, uint64_t *free_pages) {
  *total = t->page_count;
  *free_pages = t->free_now.n + t->freed_cur.n + (t->job ? t->job->freed.n : 0);
}

static int stats_node(bt_tree *t, uint32_t pgno, int level, int depth, bt_shape *sh) {
  if (depth >= BT_MAX_DEPTH) return ST_ECORRUPT;
  pc_page *p;
  int rc = bt_load(t, pgno, level, &p);
  if (rc != ST_OK) return rc;
  uint8_t *d = p->data;
  int cells = pg_n(d);
  if ((uint32_t)depth + 1 > sh->depth) sh->depth = (uint32_t)depth + 1;
  if (pg_type(d) == BT_LEAF) {
    sh->leaves++;
    sh->entries += (uint64_t)cells;
    sh->leaf_bytes += (uint64_t)pg_used(d);
    for (int i = 0; i < cells; i++) {
      const uint8_t *c = pg_cell(d, i);
      if (c[2] & 1) sh->overflows += (bt__get32(c + 3) + BT_OVF_CAP - 1) / BT_OVF_CAP;
    }
  } else {
    sh->interiors++;
    sh->interior_bytes += (uint64_t)pg_used(d);
    for (int i = 0; i < cells && rc == ST_OK; i++)
      rc = stats_node(t, cell_child(pg_cell(d, i)), pg_level(d) - 1, depth + 1, sh);
  }
  pc_unpin(p);
  return rc;
}

int bt_stats(bt_tree *t, bt_shape *out) {
  memset(out, 0, sizeof *out);
  if (!t->root) return ST_OK;
  return stats_node(t, t->root, -1, 0, out);
}
