/*
 * codec.h -- binary encodings of items and keys. Internal to storage/.
 *
 * Item encoding: a compact, self-describing binary form of a dv_value map,
 * the bytes stored as a B-tree value. It begins with the item's DynamoDB
 * size as a varint, so the engine can keep TableSizeBytes without decoding.
 *
 * Key encoding: the B-tree key of an item inside its partition file,
 *   [8 bytes: xxh64 of the partition key, big-endian]
 *   [2 bytes: length of the partition key bytes, big-endian]
 *   [partition key bytes: S/B raw, N as dv_num_keyenc]
 *   [sort key bytes, when the table has one: S/B raw, N as dv_num_keyenc]
 * memcmp order of encoded keys groups each partition key together (in hash
 * order, which Scan segments rely on) and orders one partition key's items
 * by sort key in DynamoDB's order (S/B by bytes, N by value). The sort key
 * is last, so raw bytes need no terminator.
 *
 * Index entry key encoding: the B-tree key of a secondary-index entry,
 *   [the key prefix above, of the INDEX partition key]
 *   [index sort key bytes, escaped and terminated (when the index has one)]
 *   [base partition key bytes, escaped and terminated]
 *   [base sort key bytes, raw (when the base table has one)]
 * Escaping (0x00 -> 0x00 0xFF, terminator 0x00 0x01) keeps memcmp order
 * equal to the order of the escaped bytes and makes each part prefix-free,
 * so entries order by index partition key (hash order), index sort key
 * (DynamoDB order), then the base item's key.
 *
 * The exact byte layouts are written at the top of codec.c.
 */
#ifndef DF_CODEC_H
#define DF_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "storage/btree.h"
#include "storage/value.h"

/* Append the encoding of item (a DV_M) to out. */
void codec_item_encode(const dv_value *item, st_buf *out);
/* Decode bytes written by codec_item_encode into arena a. ST_OK, or
 * ST_ECORRUPT if the bytes are malformed (never asserts on them). */
int codec_item_decode(const uint8_t *p, size_t len, dv_arena *a, dv_value *out);
/* The DynamoDB size stored at the front of an encoding; ST_ECORRUPT if bad. */
int codec_item_size(const uint8_t *p, size_t len, uint64_t *size);

/* 64-bit hash of a partition-key value (type and bytes; numbers by their
 * canonical value, so 1 and 1.0 hash alike). */
uint64_t codec_hash_key(const dv_value *hk);
/* Append the B-tree key of (hk, rk) to out; rk NULL for hash-only tables.
 * hk and rk must be S, N or B. */
void codec_key_encode(const dv_value *hk, const dv_value *rk, st_buf *out);
/* Append only the prefix shared by every item of partition key hk. */
void codec_key_prefix(const dv_value *hk, st_buf *out);
/* Decode a B-tree key back to key values (types from the schema);
 * rk_type DV_NONE for hash-only. ST_ECORRUPT if malformed. */
int codec_key_decode(const uint8_t *p, size_t len, dv_type hk_type, dv_type rk_type,
                     dv_arena *a, dv_value *hk, dv_value *rk);

/* Append the B-tree key of an index entry: index keys ihk / irk (irk NULL
 * for a hash-only index), base item keys bhk / brk (brk NULL for a
 * hash-only base). All must be S, N or B. */
void codec_ix_key_encode(const dv_value *ihk, const dv_value *irk, const dv_value *bhk,
                         const dv_value *brk, st_buf *out);
/* Append a bound on the entries of index partition key ihk by sort value
 * irk: after = 0 gives the smallest key >= every entry whose sort key is
 * >= irk (so every entry with sort key irk is >= it, every smaller one <);
 * after = 1 the smallest key greater than every entry whose sort key is
 * <= irk (so every entry with sort key irk is < it, every greater one >=). */
void codec_ix_sort_bound(const dv_value *ihk, const dv_value *irk, int after, st_buf *out);
/* Decode an index entry key back to its four key values (types from the
 * index and base schemas; DV_NONE for an absent sort key). ST_ECORRUPT if
 * malformed. */
int codec_ix_key_decode(const uint8_t *p, size_t len, dv_type ihk_type, dv_type irk_type,
                        dv_type bhk_type, dv_type brk_type, dv_arena *a, dv_value *ihk,
                        dv_value *irk, dv_value *bhk, dv_value *brk);

/* varints (LEB128, unsigned) */
void codec_put_varint(st_buf *out, uint64_t v);
/* Returns bytes read, 0 if truncated or longer than 10 bytes. */
size_t codec_get_varint(const uint8_t *p, size_t len, uint64_t *v);

#endif /* DF_CODEC_H */
