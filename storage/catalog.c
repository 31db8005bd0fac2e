/*
 * catalog.c -- encodings of table definitions and of the catalog file.
 *
 * The catalog file (<data>/catalog) is the list of live tables, event logs
 * and secondary indexes as of a checkpoint, with the checkpoint's LSN and
 * the next table id (indexes and logs draw their ids from it too). It is written
 * only by checkpoints, always as a whole and atomically (temporary file,
 * fsync, rename, fsync of the directory), so it is either the old or the
 * new version, never a mix. Integers are little-endian; "varint" is the
 * unsigned LEB128 of codec.h.
 *
 * Catalog file:
 *
 *   offset  size  meaning
 *   0       8     magic "DFCATLOG"
 *   8       4     format version V: 2 (written), or 1 (still read)
 *   12      4     number of entries N (tables, event logs and indexes)
 *   16      8     checkpoint LSN C: every log record <= C is reflected in
 *                 the catalog and in the partition files
 *   24      8     next table id (ids are never reused, even after a drop)
 *   32      ...   N definitions, back to back, each in definition version
 *                 V (below): a version-1 file holds only tables
 *   end-8   8     xxh64 (seed 0) of every byte before it
 *
 * Validity rule: the file is valid iff it is at least 40 bytes long, the
 * magic and the checksum match, the version is 1 or 2 (another version is
 * ST_EVERSION), and exactly N well-formed definitions of that version fill
 * the bytes between offset 32 and the checksum. A file that fails the rule
 * is ST_ECORRUPT: unlike the log's tail, the catalog is never expected to
 * be torn (it is renamed into place only after it is durable), so it is not
 * guessed at.
 *
 * Table definition, version 2 (catalog files of version 2 and the log's
 * CREATE_V2 operation): one kind byte, then the version-1 fields, then, for
 * an index only, the index fields.
 *
 *   field        encoding
 *   kind         1 byte: 0 = table (ST_KIND_TABLE), 1 = event log
 *                (ST_KIND_EVENTS; then partitions must be 1), 2 = secondary
 *                index (ST_KIND_INDEX)
 *   ...          the version-1 fields below
 *   -- kind 2 only, after meta: --
 *   base id      varint: id of the base table (> 0, < the index's own id)
 *   index name   varint length + bytes (1..255): the IndexName
 *   projection   1 byte: 0 KEYS_ONLY, 1 INCLUDE, 2 ALL (st_projection)
 *   n include    varint (<= 1000; 0 unless projection is INCLUDE)
 *   include      n include x (varint length + bytes, not empty)
 *
 * An index's version-1 fields hold: ns = "\x01ix" (CAT_IX_NS), name =
 * "<base id in decimal>/<index name>", hash / range = the INDEX's key
 * attributes (range absent for a hash-only index), partitions like a
 * table, meta empty. Validity rule for kind 2 (else ST_ECORRUPT): ns and
 * name exactly as just said, the fields above in range. That the base
 * exists and is a table is checked by storage.c when it links the index
 * (ST_ECORRUPT at open for a dangling index). Catalogs and records written
 * before indexes existed hold no kind 2 and read as before.
 *
 * Table definition, version 1 (catalog files of version 1 and the log's
 * CREATE_TABLE operation; always a table):
 *
 *   field        encoding
 *   id           varint
 *   partitions   varint, a power of two in [1, 65536]
 *   ns           varint length + bytes (may be empty)
 *   name         varint length + bytes (not empty)
 *   hash name    varint length + bytes (not empty)
 *   hash type    1 byte: 'S', 'N' or 'B'
 *   range name   varint length + bytes (length 0: the table has no sort key)
 *   range type   1 byte: 'S', 'N', 'B', or 0 when there is no sort key
 *   created      8 bytes: IEEE-754 double, little-endian bit pattern
 *   meta         varint length + bytes
 *
 * An event log stores hash name "seq", type 'N' and no sort key there (the
 * engine's own placeholder: an event log has no key schema of its own).
 * Names may not contain NUL bytes (they are C strings in memory).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "storage/catalog.h"
#include "storage/codec.h"
#include "storage/storage.h"

#define CAT_MAGIC "DFCATLOG"
#define CAT_VERSION 2      /* the version written */
#define CAT_VERSION_MIN 1  /* the oldest version read */
#define CAT_HDR 32
#define CAT_MAX_NAME 65535u

static void *cat_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "dynafile: out of memory (%zu bytes)\n", n);
    abort();
  }
  return p;
}

static void put_str(st_buf *out, const char *s) {
  size_t n = s ? strlen(s) : 0;
  codec_put_varint(out, n);
  st_buf_append(out, s, n);
}

static uint8_t type_char(dv_type t) {
  return t == DV_S ? 'S' : t == DV_N ? 'N' : t == DV_B ? 'B' : 0;
}

static dv_type char_type(uint8_t c) {
  return c == 'S' ? DV_S : c == 'N' ? DV_N : c == 'B' ? DV_B : DV_NONE;
}

char *cat_ix_entry_name(uint64_t base_id, const char *ix_name) {
  size_t n = strlen(ix_name) + 24;
  char *p = cat_xmalloc(n);
  snprintf(p, n, "%llu/%s", (unsigned long long)base_id, ix_name);
  return p;
}

void cat_table_encode(const cat_table *t, unsigned version, st_buf *out) {
  assert(version == CAT_DEF_V2 || (version == CAT_DEF_V1 && t->kind == ST_KIND_TABLE));
  if (version == CAT_DEF_V2) {
    uint8_t k = (uint8_t)t->kind;
    st_buf_append(out, &k, 1);
  }
  codec_put_varint(out, t->id);
  codec_put_varint(out, t->partitions);
  put_str(out, t->ns);
  put_str(out, t->name);
  put_str(out, t->hash_name);
  uint8_t c = type_char(t->hash_type);
  st_buf_append(out, &c, 1);
  put_str(out, t->range_name);
  c = t->range_name ? type_char(t->range_type) : 0;
  st_buf_append(out, &c, 1);
  uint64_t bits;
  memcpy(&bits, &t->created, 8);
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(bits >> (8 * i));
  st_buf_append(out, b, 8);
  codec_put_varint(out, t->meta_len);
  st_buf_append(out, t->meta, t->meta_len);
  if (t->kind == ST_KIND_INDEX) {
    assert(version == CAT_DEF_V2);
    codec_put_varint(out, t->base_id);
    put_str(out, t->ix_name);
    st_buf_append(out, &t->projection, 1);
    size_t n = t->projection == ST_PROJ_INCLUDE ? t->n_include : 0;
    codec_put_varint(out, n);
    for (size_t i = 0; i < n; i++) put_str(out, t->include[i]);
  }
}

/* Reader over a byte range; every get fails (returns 0) past the end. */
typedef struct cat_rd {
  const uint8_t *p;   /* next byte */
  const uint8_t *end; /* one past the last byte */
} cat_rd;

static int rd_varint(cat_rd *r, uint64_t *v) {
  size_t n = codec_get_varint(r->p, (size_t)(r->end - r->p), v);
  if (!n) return 0;
  r->p += n;
  return 1;
}

/* A string: malloc'd copy, NUL-terminated; rejects embedded NULs. */
static int rd_str(cat_rd *r, char **out, size_t *len) {
  uint64_t n;
  if (!rd_varint(r, &n) || n > CAT_MAX_NAME || n > (uint64_t)(r->end - r->p)) return 0;
  if (memchr(r->p, 0, (size_t)n)) return 0;
  char *s = cat_xmalloc((size_t)n + 1);
  memcpy(s, r->p, (size_t)n);
  s[n] = 0;
  r->p += n;
  *out = s;
  *len = (size_t)n;
  return 1;
}

static int rd_byte(cat_rd *r, uint8_t *b) {
  if (r->p >= r->end) return 0;
  *b = *r->p++;
  return 1;
}

void cat_table_free(cat_table *t) {
  free(t->ns);
  free(t->name);
  free(t->hash_name);
  free(t->range_name);
  free(t->meta);
  free(t->ix_name);
  for (size_t i = 0; i < t->n_include; i++) free(t->include[i]);
  free(t->include);
  memset(t, 0, sizeof *t);
}

/* The index fields of a kind-2 definition (after meta), and the rule that
 * ties its ns and name to them. */
static int rd_index_fields(cat_rd *r, cat_table *t) {
  uint64_t v;
  size_t n;
  uint8_t c;
  if (!rd_varint(r, &t->base_id) || t->base_id == 0 || t->base_id >= t->id) return 0;
  if (!rd_str(r, &t->ix_name, &n) || n == 0 || n > CAT_IX_MAX_NAME) return 0;
  if (!rd_byte(r, &c) || c > ST_PROJ_ALL) return 0;
  t->projection = c;
  if (!rd_varint(r, &v) || v > CAT_IX_MAX_INCLUDE || (v && c != ST_PROJ_INCLUDE)) return 0;
  t->include = v ? cat_xmalloc((size_t)v * sizeof *t->include) : NULL;
  for (uint64_t i = 0; i < v; i++) {
    if (!rd_str(r, &t->include[i], &n)) return 0;
    t->n_include++;
    if (n == 0) return 0;
  }
  if (strcmp(t->ns, CAT_IX_NS) != 0) return 0;
  char *want = cat_ix_entry_name(t->base_id, t->ix_name);
  int ok = strcmp(want, t->name) == 0;
  free(want);
  return ok;
}

int cat_table_decode(const uint8_t *p, size_t len, unsigned version, size_t *used,
                     cat_table *t) {
  cat_rd r = {p, p + len};
  memset(t, 0, sizeof *t);
  t->kind = ST_KIND_TABLE;
  uint64_t v;
  size_t n;
  uint8_t c;
  if (version != CAT_DEF_V1 && version != CAT_DEF_V2) goto fail;
  if (version == CAT_DEF_V2) {
    if (!rd_byte(&r, &c) || (c != ST_KIND_TABLE && c != ST_KIND_EVENTS && c != ST_KIND_INDEX))
      goto fail;
    t->kind = (st_kind)c;
  }
  if (!rd_varint(&r, &t->id) || t->id == 0) goto fail;
  if (!rd_varint(&r, &v) || v == 0 || v > 65536 || (v & (v - 1))) goto fail;
  if (t->kind == ST_KIND_EVENTS && v != 1) goto fail;
  t->partitions = (uint32_t)v;
  if (!rd_str(&r, &t->ns, &n)) goto fail;
  if (!rd_str(&r, &t->name, &n) || n == 0) goto fail;
  if (!rd_str(&r, &t->hash_name, &n) || n == 0) goto fail;
  if (!rd_byte(&r, &c) || (t->hash_type = char_type(c)) == DV_NONE) goto fail;
  if (!rd_str(&r, &t->range_name, &n)) goto fail;
  if (!rd_byte(&r, &c)) goto fail;
  if (n == 0) {
    free(t->range_name);
    t->range_name = NULL;
    if (c != 0) goto fail;
    t->range_type = DV_NONE;
  } else if ((t->range_type = char_type(c)) == DV_NONE) {
    goto fail;
  }
  if (r.end - r.p < 8) goto fail;
  uint64_t bits = 0;
  for (int i = 7; i >= 0; i--) bits = (bits << 8) | r.p[i];
  memcpy(&t->created, &bits, 8);
  r.p += 8;
  if (!rd_varint(&r, &v) || v > (uint64_t)(r.end - r.p)) goto fail;
  t->meta_len = (size_t)v;
  if (v) {
    t->meta = cat_xmalloc((size_t)v);
    memcpy(t->meta, r.p, (size_t)v);
  }
  r.p += v;
  if (t->kind == ST_KIND_INDEX && !rd_index_fields(&r, t)) goto fail;
  *used = (size_t)(r.p - p);
  return ST_OK;
fail:
  cat_table_free(t);
  return ST_ECORRUPT;
}

/* ---- the file ---------------------------------------------------------------- */

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

void cat_file_encode(uint64_t ckpt_lsn, uint64_t next_id, const cat_table *const *tables,
                     size_t n, st_buf *out) {
  size_t start = out->len;
  uint8_t h[CAT_HDR];
  memcpy(h, CAT_MAGIC, 8);
  put_le32(h + 8, CAT_VERSION);
  put_le32(h + 12, (uint32_t)n);
  put_le64(h + 16, ckpt_lsn);
  put_le64(h + 24, next_id);
  st_buf_append(out, h, CAT_HDR);
  for (size_t i = 0; i < n; i++) cat_table_encode(tables[i], CAT_DEF_V2, out);
  uint8_t sum[8];
  put_le64(sum, XXH64(out->p + start, out->len - start, 0));
  st_buf_append(out, sum, 8);
}

static char *join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = cat_xmalloc(n);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

int cat_file_write(const char *dir, const st_buf *image, int no_fsync) {
  int rc = ST_EIO, fd = -1, dfd = -1;
  char *tmp = join(dir, CAT_TMP), *final = join(dir, CAT_FILE);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) goto fail;
  const uint8_t *p = image->p;
  size_t left = image->len;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      goto fail;
    }
    p += w;
    left -= (size_t)w;
  }
  if (!no_fsync && fsync(fd) != 0) goto fail;
  if (close(fd) != 0) {
    fd = -1;
    goto fail;
  }
  fd = -1;
  if (rename(tmp, final) != 0) goto fail;
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) goto fail;
  if (!no_fsync && fsync(dfd) != 0) goto fail;
  rc = ST_OK;
fail:
  if (fd >= 0) {
    close(fd);
    unlink(tmp);
  }
  if (dfd >= 0) close(dfd);
  free(tmp);
  free(final);
  return rc;
}

static void cat_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

void cat_file_free(cat_file *f) {
  for (size_t i = 0; i < f->n; i++) cat_table_free(&f->tables[i]);
  free(f->tables);
  memset(f, 0, sizeof *f);
}

int cat_file_load(const char *dir, cat_file *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  int rc = ST_EIO;
  uint8_t *img = NULL;
  char *path = join(dir, CAT_FILE);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      rc = ST_ENOTFOUND;
    } else {
      cat_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
    }
    goto done;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    cat_err(err, errlen, "cannot stat %s: %s", path, strerror(errno));
    goto done;
  }
  size_t len = (size_t)st.st_size;
  img = cat_xmalloc(len);
  for (size_t got = 0; got < len;) {
    ssize_t r = read(fd, img + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      cat_err(err, errlen, "cannot read %s: %s", path, r < 0 ? strerror(errno) : "short read");
      goto done;
    }
    got += (size_t)r;
  }
  rc = ST_ECORRUPT;
  if (len < CAT_HDR + 8 || memcmp(img, CAT_MAGIC, 8) != 0) {
    cat_err(err, errlen, "%s is not a dynafile catalog", path);
    goto done;
  }
  if (get_le(img + len - 8, 8) != XXH64(img, len - 8, 0)) {
    cat_err(err, errlen, "%s is corrupt (checksum mismatch)", path);
    goto done;
  }
  unsigned version = (unsigned)get_le(img + 8, 4);
  if (version < CAT_VERSION_MIN || version > CAT_VERSION) {
    rc = ST_EVERSION;
    cat_err(err, errlen, "%s has unsupported format version %u", path, version);
    goto done;
  }
  size_t n = (size_t)get_le(img + 12, 4);
  out->ckpt_lsn = get_le(img + 16, 8);
  out->next_id = get_le(img + 24, 8);
  if (n > (len - CAT_HDR - 8) / 8) {
    cat_err(err, errlen, "%s is corrupt (table count %zu)", path, n);
    goto done;
  }
  out->tables = cat_xmalloc(n * sizeof *out->tables);
  size_t off = CAT_HDR, end = len - 8;
  for (size_t i = 0; i < n; i++) {
    size_t used;
    /* File version 1 holds version-1 definitions, 2 version-2 ones. */
    if (cat_table_decode(img + off, end - off, version, &used, &out->tables[i]) != ST_OK) {
      cat_err(err, errlen, "%s is corrupt (table %zu of %zu)", path, i + 1, n);
      goto done;
    }
    out->n++;
    off += used;
    if (out->tables[i].id >= out->next_id) {
      cat_err(err, errlen, "%s is corrupt (table id %llu >= next id)", path,
              (unsigned long long)out->tables[i].id);
      goto done;
    }
  }
  if (off != end) {
    cat_err(err, errlen, "%s is corrupt (trailing bytes)", path);
    goto done;
  }
  rc = ST_OK;
done:
  if (rc != ST_OK) cat_file_free(out);
  if (fd >= 0) close(fd);
  free(img);
  free(path);
  return rc;
}
