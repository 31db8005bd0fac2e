/*
 * buf.c -- the growable byte buffer shared by the storage modules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/btree.h"

void st_buf_init(st_buf *b) {
  b->p = NULL;
  b->len = 0;
  b->cap = 0;
}

void st_buf_free(st_buf *b) {
  free(b->p);
  st_buf_init(b);
}

void st_buf_reserve(st_buf *b, size_t extra) {
  size_t need = b->len + extra;
  if (need <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap *= 2;
  uint8_t *p = realloc(b->p, cap);
  if (!p) {
    fprintf(stderr, "dynafile: out of memory (%zu bytes)\n", cap);
    abort();
  }
  b->p = p;
  b->cap = cap;
}

void st_buf_append(st_buf *b, const void *p, size_t n) {
  if (n == 0) return;
  st_buf_reserve(b, n);
  memcpy(b->p + b->len, p, n);
  b->len += n;
}
