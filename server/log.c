/*
 * log.c -- the daemon's log: one line per message on stderr,
 *
 *   2026-01-15T10:04:05.123Z INFO  dynafiled listening on ...
 *
 * UTC timestamp with milliseconds, the level, the message. Each line is
 * written with a single write(2) so that lines never interleave. Messages
 * above the configured level are dropped before formatting. Access-log
 * lines (one per request, from http.c) are at debug level.
 *
 * Also here: the allocation wrappers of server/, which abort on
 * out-of-memory after saying so.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "server/server_int.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const level_tags[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};

int df_log_level_parse(const char *name) {
  for (int i = 0; i < 4; i++)
    if (strcasecmp(name, level_names[i]) == 0) return i;
  if (strcasecmp(name, "warning") == 0) return DF_LOG_WARN;
  return -1;
}

int df_log_enabled(const df_server *s, df_log_level level) {
  return s == NULL || level <= s->cfg.log_level;
}

void df_log(df_server *s, df_log_level level, const char *fmt, ...) {
  if (!df_log_enabled(s, level)) return;
  char line[2048];
  struct timeval tv;
  struct tm tm;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000),
                   (unsigned)level < 4 ? level_tags[level] : "?    ");
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2) { /* truncated: mark it */
    len = sizeof line - 2;
    memcpy(line + len - 3, "...", 3);
  }
  while (len > 0 && line[len - 1] == '\n') len--;
  line[len++] = '\n';
  /* A failed write to stderr has nowhere to be reported. */
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}

static void *oom(size_t n) {
  char msg[96];
  int len = snprintf(msg, sizeof msg, "dynafiled: out of memory (%zu bytes)\n", n);
  ssize_t w = write(STDERR_FILENO, msg, (size_t)len);
  (void)w;
  abort();
}

void *df_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  return p != NULL ? p : oom(n);
}

void *df_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  return p != NULL ? p : oom(n * size);
}

void *df_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  return q != NULL ? q : oom(n);
}
