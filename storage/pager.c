/*
 * pager.c -- the page cache shared by every B-tree file, and the page I/O
 * helpers (checksummed page reads, full pread/pwrite, fdatasync).
 *
 * The cache maps (file id, page number) to a page buffer through a chained
 * hash table. Pages are in one of three states (btree_int.h): CLEAN pages
 * mirror the durable file and sit, when nobody pins them, on an LRU list from
 * which the oldest are evicted whenever the LRU holds more than the budget;
 * DIRTY pages (allocated since the last checkpoint began) and SEALED pages
 * (being written by a checkpoint) live on per-file lists and are never
 * evicted, since their bytes are not (yet) on disk. The cache does not write
 * pages: bt_checkpoint_run does, from the (pgno, buffer) pairs that
 * bt_checkpoint_begin collected from the sealed list.
 *
 * Everything here except the I/O helpers runs on the owner thread only.
 *
 * Page checksum (on disk, every page but the two meta pages): bytes 0..7
 * hold xxh64(bytes 8..8191, seed = page number), little-endian. The checksum
 * is computed by the writer (bt_checkpoint_run, on a private copy) and
 * checked by pc_read_page on every read from disk; the copy in the cache is
 * not kept up to date and never checked.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "storage/btree_int.h"
#include "storage/storage.h"

/* The shared cache. */
struct pc_cache {
  size_t budget;        /* bytes of clean unpinned pages kept (LRU) */
  pc_page **buckets;    /* hash table of every cached page */
  size_t nbuckets;      /* power of two */
  size_t npages;        /* pages held */
  size_t ndirty;        /* PC_DIRTY pages held */
  pc_list lru;          /* clean unpinned pages, head = most recent */
  uint64_t next_id;     /* id of the next registered file */
  int nosync;           /* 1: pc_sync does nothing (tests only) */
  uint8_t *scratch;     /* the trees' shared scratch (pc_scratch), or NULL */
  size_t scratch_len;   /* its size */
};

static void *pc_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "dynafile: out of memory (%zu bytes)\n", n);
    abort();
  }
  return p;
}

static void *pc_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) {
    fprintf(stderr, "dynafile: out of memory (%zu x %zu bytes)\n", n, size);
    abort();
  }
  return p;
}

/* ---- lists --------------------------------------------------------------- */

static void pc_list_push(pc_list *l, pc_page *p) {
  p->prev = NULL;
  p->next = l->head;
  if (l->head)
    l->head->prev = p;
  else
    l->tail = p;
  l->head = p;
  l->n++;
}

static void pc_list_remove(pc_list *l, pc_page *p) {
  if (p->prev)
    p->prev->next = p->next;
  else
    l->head = p->next;
  if (p->next)
    p->next->prev = p->prev;
  else
    l->tail = p->prev;
  p->prev = p->next = NULL;
  l->n--;
}

static pc_list *pc_list_of(pc_page *p) {
  switch (p->list) {
  case PC_LIST_LRU:
    return &p->file->cache->lru;
  case PC_LIST_DIRTY:
    return &p->file->dirty;
  case PC_LIST_SEALED:
    return &p->file->sealed;
  default:
    return NULL;
  }
}

/* Move p to list `which` (PC_LIST_*). */
static void pc_relink(pc_page *p, uint8_t which) {
  pc_list *l = pc_list_of(p);
  if (l) pc_list_remove(l, p);
  p->list = which;
  l = pc_list_of(p);
  if (l) pc_list_push(l, p);
}

/* ---- hash table ---------------------------------------------------------- */

static size_t pc_hash(const pc_cache *c, uint64_t id, uint32_t pgno) {
  uint64_t h = (id * 0x9E3779B97F4A7C15ull) ^ (pgno * 0xC2B2AE3D27D4EB4Full);
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return (size_t)h & (c->nbuckets - 1);
}

static void pc_grow(pc_cache *c) {
  size_t old_n = c->nbuckets;
  pc_page **old = c->buckets;
  c->nbuckets = old_n * 2;
  c->buckets = pc_xcalloc(c->nbuckets, sizeof *c->buckets);
  for (size_t i = 0; i < old_n; i++) {
    pc_page *p = old[i];
    while (p) {
      pc_page *next = p->hnext;
      size_t h = pc_hash(c, p->file->id, p->pgno);
      p->hnext = c->buckets[h];
      c->buckets[h] = p;
      p = next;
    }
  }
  free(old);
}

static void pc_hash_insert(pc_cache *c, pc_page *p) {
  if (c->npages + 1 > c->nbuckets) pc_grow(c);
  size_t h = pc_hash(c, p->file->id, p->pgno);
  p->hnext = c->buckets[h];
  c->buckets[h] = p;
  c->npages++;
}

static void pc_hash_remove(pc_cache *c, pc_page *p) {
  pc_page **pp = &c->buckets[pc_hash(c, p->file->id, p->pgno)];
  while (*pp != p) pp = &(*pp)->hnext;
  *pp = p->hnext;
  c->npages--;
}

/* Remove p from the cache entirely and free it. */
static void pc_destroy(pc_page *p) {
  pc_cache *c = p->file->cache;
  pc_relink(p, PC_LIST_NONE);
  if (p->state == PC_DIRTY) c->ndirty--;
  pc_hash_remove(c, p);
  p->file->npages--;
  free(p->data); /* the block holding p too */
}

static void pc_evict(pc_cache *c) {
  while (c->lru.tail && c->lru.n * (size_t)BT_PAGE_SIZE > c->budget) {
    pc_page *p = c->lru.tail;
    assert(p->state == PC_CLEAN && p->pins == 0);
    pc_destroy(p);
  }
}

/* ---- public cache API ------------------------------------------------------ */

pc_cache *pc_cache_new(size_t budget_bytes) {
  pc_cache *c = pc_xcalloc(1, sizeof *c);
  c->budget = budget_bytes;
  c->nbuckets = 1024;
  c->buckets = pc_xcalloc(c->nbuckets, sizeof *c->buckets);
  c->next_id = 1;
  return c;
}

void pc_cache_free(pc_cache *c) {
  if (!c) return;
  /* Every tree must have been closed: only stray pages could remain. */
  for (size_t i = 0; i < c->nbuckets; i++) {
    pc_page *p = c->buckets[i];
    while (p) {
      pc_page *next = p->hnext;
      free(p->data);
      p = next;
    }
  }
  free(c->buckets);
  free(c->scratch);
  free(c);
}

size_t pc_cache_bytes(const pc_cache *c) { return c->npages * (size_t)BT_PAGE_SIZE; }

size_t pc_cache_dirty_bytes(const pc_cache *c) { return c->ndirty * (size_t)BT_PAGE_SIZE; }

void pc_cache_set_nosync(pc_cache *c, int nosync) { c->nosync = nosync ? 1 : 0; }

int pc_cache_nosync(const pc_cache *c) { return c->nosync; }

uint8_t *pc_scratch(pc_cache *c, size_t n) {
  if (!c->scratch) {
    c->scratch = pc_xmalloc(n);
    c->scratch_len = n;
  }
  assert(c->scratch_len == n);
  return c->scratch;
}

/* ---- files and pages --------------------------------------------------------- */

void pc_file_init(pc_file *f, pc_cache *c, int fd) {
  memset(f, 0, sizeof *f);
  f->cache = c;
  f->fd = fd;
  f->id = c->next_id++;
}

void pc_file_drop(pc_file *f) {
  pc_cache *c = f->cache;
  for (size_t i = 0; i < c->nbuckets && f->npages; i++) {
    pc_page *p = c->buckets[i];
    while (p) {
      pc_page *next = p->hnext;
      if (p->file == f) pc_destroy(p);
      p = next;
    }
  }
}

pc_page *pc_lookup(pc_file *f, uint32_t pgno) {
  pc_cache *c = f->cache;
  for (pc_page *p = c->buckets[pc_hash(c, f->id, pgno)]; p; p = p->hnext)
    if (p->pgno == pgno && p->file == f) return p;
  return NULL;
}

void pc_pin(pc_page *p) {
  if (p->pins++ == 0 && p->list == PC_LIST_LRU) pc_relink(p, PC_LIST_NONE);
}

void pc_unpin(pc_page *p) {
  if (--p->pins == 0 && p->state == PC_CLEAN) {
    pc_relink(p, PC_LIST_LRU);
    pc_evict(p->file->cache);
  }
}

/* A page is one malloc'd block: its BT_PAGE_SIZE bytes (at the start, so
 * aligned like any malloc'd block), then the struct (one header, one call). */
_Static_assert(BT_PAGE_SIZE % _Alignof(pc_page) == 0, "pc_page alignment");

static pc_page *pc_alloc(pc_file *f, uint32_t pgno, uint8_t state) {
  uint8_t *block = pc_xmalloc(BT_PAGE_SIZE + sizeof(pc_page));
  pc_page *p = (pc_page *)(void *)(block + BT_PAGE_SIZE);
  memset(p, 0, sizeof *p);
  p->data = block;
  p->file = f;
  p->pgno = pgno;
  p->pins = 1;
  p->state = state;
  pc_hash_insert(f->cache, p);
  f->npages++;
  return p;
}

int pc_get(pc_file *f, uint32_t pgno, pc_page **out) {
  *out = NULL;
  pc_page *p = pc_lookup(f, pgno);
  if (p) {
    pc_pin(p);
    *out = p;
    return ST_OK;
  }
  p = pc_alloc(f, pgno, PC_CLEAN);
  int rc = pc_read_page(f->fd, pgno, p->data);
  if (rc != ST_OK) {
    p->pins = 0;
    pc_destroy(p);
    return rc;
  }
  *out = p;
  return ST_OK;
}

pc_page *pc_new(pc_file *f, uint32_t pgno, const uint8_t *src) {
  pc_page *old = pc_lookup(f, pgno);
  if (old) {
    /* Only a clean unpinned copy can linger (not expected: free pages are
     * dropped from the cache); anything else is a program bug. */
    assert(old->state == PC_CLEAN && old->pins == 0);
    pc_destroy(old);
  }
  pc_page *p = pc_alloc(f, pgno, PC_DIRTY);
  if (src)
    memcpy(p->data, src, BT_PAGE_SIZE);
  else
    memset(p->data, 0, BT_PAGE_SIZE);
  p->verified = 1;
  f->cache->ndirty++;
  pc_relink(p, PC_LIST_DIRTY);
  return p;
}

int pc_free(pc_file *f, uint32_t pgno, pc_page *p) {
  if (p) {
    assert(p->pins == 1); /* freed while somebody else still uses it */
    p->pins = 0;
  } else {
    p = pc_lookup(f, pgno);
    if (!p) return 0; /* not cached, hence clean */
    assert(p->pins == 0);
  }
  int was_dirty = p->state == PC_DIRTY;
  if (p->state == PC_SEALED)
    p->dead = 1; /* the checkpoint run may be reading it */
  else
    pc_destroy(p);
  return was_dirty;
}

size_t pc_seal(pc_file *f) {
  pc_cache *c = f->cache;
  while (f->dirty.head) {
    pc_page *p = f->dirty.head;
    p->state = PC_SEALED;
    c->ndirty--;
    pc_relink(p, PC_LIST_SEALED);
  }
  size_t n = 0;
  for (pc_page *p = f->sealed.head; p; p = p->next)
    if (!p->dead) n++;
  return n;
}

void pc_unseal(pc_file *f, int success) {
  pc_page *p = f->sealed.head;
  while (p) {
    pc_page *next = p->next;
    if (p->dead) {
      assert(p->pins == 0);
      pc_destroy(p);
    } else if (success) {
      p->state = PC_CLEAN;
      pc_relink(p, p->pins ? PC_LIST_NONE : PC_LIST_LRU);
    }
    p = next;
  }
  pc_evict(f->cache);
}

/* ---- I/O helpers ------------------------------------------------------------------ */

uint64_t pc_page_sum(const uint8_t *page, uint32_t pgno) {
  return (uint64_t)XXH64(page + 8, BT_PAGE_SIZE - 8, pgno);
}

int pc_pread(int fd, void *buf, size_t n, uint64_t off) {
  uint8_t *b = buf;
  while (n) {
    ssize_t r = pread(fd, b, n, (off_t)off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ST_EIO;
    }
    if (r == 0) return ST_ECORRUPT; /* the file ends early */
    b += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return ST_OK;
}

int pc_pwrite(int fd, const void *buf, size_t n, uint64_t off) {
  const uint8_t *b = buf;
  while (n) {
    ssize_t r = pwrite(fd, b, n, (off_t)off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ST_EIO;
    }
    if (r == 0) return ST_EIO;
    b += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return ST_OK;
}

int pc_sync(int fd, int nosync) {
  if (nosync) return ST_OK;
  while (fdatasync(fd) != 0)
    if (errno != EINTR) return ST_EIO;
  return ST_OK;
}

int pc_read_page(int fd, uint32_t pgno, uint8_t *buf) {
  int rc = pc_pread(fd, buf, BT_PAGE_SIZE, (uint64_t)pgno * BT_PAGE_SIZE);
  if (rc != ST_OK) return rc;
  if (bt__get64(buf) != pc_page_sum(buf, pgno)) return ST_ECORRUPT;
  return ST_OK;
}
