/*
 * fuzz.h -- what the fuzz targets of tests/fuzz share: the libFuzzer entry
 * point (built two ways: linked with libFuzzer under clang -Dfuzz=true, or
 * with replay.c's main() in every build, which feeds it the committed corpus
 * and regression inputs) and the rule for reporting a broken invariant.
 *
 * A target returns 0 for every input it handled, valid or not; a broken
 * invariant (a round trip that changes a value, a result of the wrong type)
 * prints what broke and aborts, which libFuzzer and the replay test both
 * report as a crash. Leaks are failures too: LeakSanitizer runs at the end
 * of each libFuzzer input and at the exit of the ASan replay test.
 */
#ifndef DF_FUZZ_H
#define DF_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The libFuzzer entry point: one input, any bytes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports a broken invariant and aborts (a crash for the fuzzer). */
#define FZ_DIE(...)                                                \
  do {                                                             \
    fprintf(stderr, "%s:%d: fuzz invariant broken: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__);                                  \
    fputc('\n', stderr);                                           \
    abort();                                                       \
  } while (0)

#define FZ_ASSERT(cond, ...)  \
  do {                        \
    if (!(cond)) FZ_DIE(__VA_ARGS__); \
  } while (0)

/* Known open bugs (README.md, "Known open issues"): a target steps around
 * the input that shows one, so that fuzzing (and `make test`) goes on past
 * it, unless FUZZ_STRICT is set to something other than "" or "0", when the
 * invariant is checked as usual. Each use names its issue; delete the use
 * when the bug is fixed and add the crasher to regressions/. */
static inline int fz_strict(void) {
  const char *s = getenv("FUZZ_STRICT");
  return s != NULL && s[0] != '\0' && !(s[0] == '0' && s[1] == '\0');
}

#endif /* DF_FUZZ_H */
