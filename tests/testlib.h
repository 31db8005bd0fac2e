/*
 * testlib.h -- the smallest useful C test harness: CHECK macros that count
 * failures and print where, and a main() helper that runs named tests.
 * A test executable exits 1 if any check failed.
 */
#ifndef DF_TESTLIB_H
#define DF_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tl_failures;
static int tl_checks;

#define CHECK(cond)                                                        \
  do {                                                                     \
    tl_checks++;                                                           \
    if (!(cond)) {                                                         \
      tl_failures++;                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                      \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                 \
  do {                                                                     \
    long long tl_a = (long long)(a), tl_b = (long long)(b);                \
    tl_checks++;                                                           \
    if (tl_a != tl_b) {                                                    \
      tl_failures++;                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n",    \
              __FILE__, __LINE__, #a, #b, tl_a, tl_b);                     \
    }                                                                      \
  } while (0)

#define CHECK_EQ_STR(a, b)                                                 \
  do {                                                                     \
    const char *tl_a = (a), *tl_b = (b);                                   \
    tl_checks++;                                                           \
    if (!tl_a || !tl_b || strcmp(tl_a, tl_b) != 0) {                       \
      tl_failures++;                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", \
              __FILE__, __LINE__, #a, #b, tl_a ? tl_a : "(null)",          \
              tl_b ? tl_b : "(null)");                                     \
    }                                                                      \
  } while (0)

typedef struct tl_test {
  const char *name;
  void (*fn)(void);
} tl_test;

/* Runs every test (or only those named on the command line); returns the
 * process exit status. */
static inline int tl_run(const tl_test *tests, int argc, char **argv) {
  for (const tl_test *t = tests; t->name; t++) {
    int selected = argc <= 1;
    for (int i = 1; i < argc; i++)
      if (strcmp(argv[i], t->name) == 0) selected = 1;
    if (!selected) continue;
    int before = tl_failures;
    t->fn();
    printf("%s %s\n", tl_failures == before ? "ok  " : "FAIL", t->name);
  }
  printf("%d checks, %d failed\n", tl_checks, tl_failures);
  return tl_failures ? 1 : 0;
}

#endif /* DF_TESTLIB_H */
