/*
 * replay.c -- a main() for the fuzz targets in builds without libFuzzer:
 * feeds LLVMFuzzerTestOneInput every file under the directories (or the
 * files) named on the command line, in sorted order, one at a time. It is
 * how the committed seed corpus and every past crasher (tests/fuzz/
 * regressions/) run as a plain test in the optimised and the ASan builds,
 * with or without clang on the machine.
 *
 * A crash or a broken invariant aborts (fuzz.h), a leak fails the ASan run
 * at exit; an unreadable argument is an error (exit 1), so a misspelt
 * directory cannot silently replay nothing, except after "-o" (optional:
 * the regressions directory of a target, absent until its first crasher is
 * committed, and looked for at run time so that adding it needs no meson
 * reconfigure). Files whose names start with
 * '.' or end in ".md" are skipped (README.md, editor files).
 *
 * Prints "<N> passed, 0 failed" at the end: N inputs replayed.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

/* Reads a whole file (malloc'd, exact size; *len its length). NULL on error. */
static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *nb = realloc(buf, cap);
      if (!nb) abort();
      buf = nb;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    free(buf);
    return NULL;
  }
  /* Exactly n bytes, so that an over-read of the input is caught by ASan. */
  uint8_t *exact = malloc(n ? n : 1);
  if (!exact) abort();
  memcpy(exact, buf, n);
  free(buf);
  *len = n;
  return exact;
}

static int skip_name(const char *name) {
  size_t n = strlen(name);
  return name[0] == '.' || (n >= 3 && strcmp(name + n - 3, ".md") == 0);
}

static int cmp_str(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Replays path (a file, or a directory walked recursively); adds to *count.
 * 0, or -1 if something could not be read. */
static int replay(const char *path, long *count) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "replay: cannot stat %s\n", path);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    size_t len = 0;
    uint8_t *data = read_file(path, &len);
    if (!data) {
      fprintf(stderr, "replay: cannot read %s\n", path);
      return -1;
    }
    if (getenv("FUZZ_REPLAY_VERBOSE")) fprintf(stderr, "replay: %s\n", path);
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    (*count)++;
    return 0;
  }
  DIR *d = opendir(path);
  if (!d) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (skip_name(de->d_name)) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nn = realloc(names, cap * sizeof *names);
      if (!nn) abort();
      names = nn;
    }
    size_t l = strlen(path) + strlen(de->d_name) + 2;
    names[n] = malloc(l);
    if (!names[n]) abort();
    snprintf(names[n], l, "%s/%s", path, de->d_name);
    n++;
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_str);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    if (replay(names[i], count) != 0) rc = -1;
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s [-o] DIR|FILE...\n", argv[0]);
    return 2;
  }
  long total = 0;
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    long count = 0;
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
      struct stat st;
      if (stat(argv[++i], &st) != 0) {
        printf("replayed 0 inputs from %s (absent)\n", argv[i]);
        continue;
      }
    }
    if (replay(argv[i], &count) != 0) rc = 1;
    printf("replayed %ld inputs from %s\n", count, argv[i]);
    total += count;
  }
  if (total == 0) {
    fprintf(stderr, "replay: no inputs\n");
    rc = 1;
  }
  printf("%ld passed, %d failed\n", rc ? 0 : total, rc);
  return rc;
}
