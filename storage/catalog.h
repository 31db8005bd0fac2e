/*
 * catalog.h -- the table catalog's persistent form. Internal to storage/.
 *
 * catalog.c owns two encodings: a table definition (used both as an entry
 * of the catalog file and as the payload of the log's CREATE_TABLE and
 * CREATE_V2 operations) and the catalog file itself, which a checkpoint
 * writes atomically with the checkpoint LSN. A definition has two versions:
 * version 1 (tables only, catalog files of version 1 and CREATE_TABLE) and
 * version 2 (with the entry's kind: table, event log or secondary index; an
 * index's definition also names its base table, its IndexName, projection
 * and INCLUDE attributes). The byte layouts are at the top of catalog.c.
 * The in-memory catalog (lookup by name and id, index <-> base links) is
 * storage.c's.
 */
#ifndef DF_CATALOG_H
#define DF_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "storage/btree.h" /* st_buf */
#include "storage/storage.h" /* st_kind */
#include "storage/value.h"

/* Name of the catalog file in the data directory, and of its temporary. */
#define CAT_FILE "catalog"
#define CAT_TMP "catalog.tmp"

/* The namespace of every secondary index's catalog entry. It starts with a
 * control byte, which no namespace the server makes does, so an index never
 * collides with a user table nor shows in st_table_list of a user
 * namespace. The entry's name is "<base id>/<IndexName>" (unique per base). */
#define CAT_IX_NS "\x01ix"
/* Longest IndexName (bytes) and most INCLUDE names an index definition holds. */
#define CAT_IX_MAX_NAME 255
#define CAT_IX_MAX_INCLUDE 1000

/* Versions of the table-definition encoding. */
#define CAT_DEF_V1 1 /* without kind: always a table */
#define CAT_DEF_V2 2 /* kind byte first */

/* One table definition. Strings are malloc'd and NUL-terminated. */
typedef struct cat_table {
  st_kind kind;         /* ST_KIND_TABLE, ST_KIND_EVENTS or ST_KIND_INDEX */
  uint64_t id;          /* engine-assigned id, never reused */
  uint32_t partitions;  /* partition count, a power of two */
  char *ns;             /* namespace ("" = default) */
  char *name;           /* table name */
  char *hash_name;      /* partition-key attribute */
  dv_type hash_type;    /* DV_S, DV_N or DV_B */
  char *range_name;     /* sort-key attribute, NULL if the table has none */
  dv_type range_type;   /* its type, DV_NONE if none */
  double created;       /* creation time, epoch seconds */
  uint8_t *meta;        /* caller's opaque bytes (NULL when meta_len is 0) */
  size_t meta_len;      /* bytes in meta */
  uint64_t base_id;     /* index: id of its base table (0 for other kinds) */
  char *ix_name;        /* index: its IndexName (NULL for other kinds) */
  uint8_t projection;   /* index: ST_PROJ_* */
  char **include;       /* index: INCLUDE attribute names (n_include of them) */
  size_t n_include;     /* index: entries in include (0 unless ST_PROJ_INCLUDE) */
} cat_table;

/* The catalog name of index ix_name of base table base_id (malloc'd). */
char *cat_ix_entry_name(uint64_t base_id, const char *ix_name);

/* Append the encoding of t in version `version` (CAT_DEF_V1 or CAT_DEF_V2)
 * to out. Version 1 can only hold a table (ST_KIND_TABLE); the engine
 * writes version 2, version 1 is for compatibility tests. */
void cat_table_encode(const cat_table *t, unsigned version, st_buf *out);
/* Decode one definition of version `version` from p[0..len): fills *t
 * (allocating its strings) and sets *used to the bytes consumed; a version
 * 1 definition is a table. ST_ECORRUPT if malformed (nothing to free then). */
int cat_table_decode(const uint8_t *p, size_t len, unsigned version, size_t *used,
                     cat_table *t);
/* Free the strings of t (not t itself). */
void cat_table_free(cat_table *t);

/* A loaded catalog file. */
typedef struct cat_file {
  uint64_t ckpt_lsn;  /* LSN the checkpoint that wrote it covers */
  uint64_t next_id;   /* next table id to assign */
  cat_table *tables;  /* tables, in file order */
  size_t n;           /* entries in tables */
} cat_file;

/* Build the file image (format version 2) for a checkpoint at ckpt_lsn. */
void cat_file_encode(uint64_t ckpt_lsn, uint64_t next_id, const cat_table *const *tables,
                     size_t n, st_buf *out);
/* Replace dir/catalog with image atomically: write dir/catalog.tmp, fsync
 * it, rename it over dir/catalog, fsync dir (the fsyncs are skipped when
 * no_fsync). ST_EIO on failure (dir/catalog is then unchanged). */
int cat_file_write(const char *dir, const st_buf *image, int no_fsync);
/* Load dir/catalog (format version 1 or 2). ST_ENOTFOUND if there is none
 * (a new database), ST_ECORRUPT / ST_EVERSION / ST_EIO with a sentence in
 * err. */
int cat_file_load(const char *dir, cat_file *out, char *err, size_t errlen);
void cat_file_free(cat_file *f);

#endif /* DF_CATALOG_H */
