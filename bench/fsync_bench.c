/*
 * fsync_bench.c -- what one log flush costs on this disk: N times a
 * W-byte pwrite + fdatasync, (0) appending to a new file, (1) overwriting a
 * file written with zeros and fsynced first, (2) writing into a file
 * preallocated with fallocate. Prints wall time, this process's CPU time
 * and the machine's CPU time (/proc/stat: includes the journal thread) per
 * flush. Appending makes every fdatasync commit the file's new size in the
 * file system's journal; overwriting does not. docs/PERFORMANCE.md
 * ("Session 4") quotes it. Not a test.
 *
 *   cc -O2 bench/fsync_bench.c -o /tmp/fsync_bench
 *   cd <a directory on the disk to measure> && /tmp/fsync_bench [N=3000] [W=8192]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double wall(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double proc_cpu(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
}

static double machine_cpu(void) { /* busy jiffies of all CPUs, in seconds */
  unsigned long long u = 0, n = 0, s = 0, i = 0, w = 0, irq = 0, si = 0;
  FILE *f = fopen("/proc/stat", "r");
  if (f == NULL) return 0;
  if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &u, &n, &s, &i, &w, &irq, &si) != 7) u = n = s = irq = si = 0;
  fclose(f);
  return (double)(u + n + s + irq + si) / (double)sysconf(_SC_CLK_TCK);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 3000;
  size_t w = argc > 2 ? (size_t)atol(argv[2]) : 8192;
  static const char *const names[] = {"append", "overwrite pre-zeroed", "fallocated"};
  char *buf = malloc(w), *zero = calloc(1, 1 << 20);
  if (buf == NULL || zero == NULL || n <= 0) return 2;
  memset(buf, 'x', w);
  for (int mode = 0; mode < 3; mode++) {
    int fd = open("fsync_bench.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
      perror("open");
      return 1;
    }
    off_t total = (off_t)n * (off_t)w;
    if (mode == 1) {
      for (off_t done = 0; done < total; done += 1 << 20)
        if (write(fd, zero, 1 << 20) != 1 << 20) return 1;
      fsync(fd);
    } else if (mode == 2) {
      if (fallocate(fd, 0, 0, total) != 0) perror("fallocate");
      fsync(fd);
    }
    double t0 = wall(), c0 = proc_cpu(), m0 = machine_cpu();
    for (int i = 0; i < n; i++) {
      if (pwrite(fd, buf, w, (off_t)i * (off_t)w) != (ssize_t)w || fdatasync(fd) != 0) {
        perror("pwrite/fdatasync");
        return 1;
      }
    }
    double t1 = wall(), c1 = proc_cpu(), m1 = machine_cpu();
    printf("%-22s %7.1f us wall  %6.1f us process CPU  %6.1f us machine CPU  per %zu-byte flush\n", names[mode],
           (t1 - t0) / n * 1e6, (c1 - c0) / n * 1e6, (m1 - m0) / n * 1e6, w);
    close(fd);
    unlink("fsync_bench.dat");
  }
  free(buf);
  free(zero);
  return 0;
}
