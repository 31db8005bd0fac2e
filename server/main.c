/*
 * main.c -- dynafiled: command line, startup and orderly shutdown.
 *
 * Startup: parse flags (environment variables give defaults), open the
 * storage engine (which takes the data directory's lock and replays the
 * log), set up the handlers' state (tables, streams, SSE, TTL, then the
 * indexes: df_indexes_init repairs what a crash left between a table's
 * meta and its storage indexes and restarts unfinished GSI backfills),
 * bind and start HTTP, run the loop.
 *
 * Shutdown on SIGINT/SIGTERM, in this order:
 *   1. stop accepting (MHD_quiesce_daemon, listening socket closed); every
 *      response from now on carries "Connection: close";
 *   2. wait for requests in flight, including those waiting for their fsync
 *      (a second signal, or DRAIN_TIMEOUT_MS, gives up on clients that are
 *      slow to send or receive -- never on a reply waiting for a flush);
 *   3. wait for the flush and checkpoint jobs in flight (commit.c);
 *   4. stop MHD, close the handlers' and commit's handles, leave the loop;
 *   5. st_close(): final flush + checkpoint; exit 0 (1 if that failed).
 *
 * Exit status: 0 after a clean shutdown, 1 when startup or the final
 * st_close fails (e.g. the data directory is locked by another dynafiled),
 * 2 for a bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"

#ifndef DF_VERSION
#define DF_VERSION "0.1.0"
#endif

/* Give up on slow clients this long after the first signal. */
#define DRAIN_TIMEOUT_MS 10000

/* main.c's own state around the shared server context. */
typedef struct df_main {
  df_server srv;       /* the server context (first: see main_of) */
  uv_signal_t sigint;  /* SIGINT watcher */
  uv_signal_t sigterm; /* SIGTERM watcher */
  uv_timer_t drain;    /* DRAIN_TIMEOUT_MS after the first signal */
  int tables_up;       /* df_tables_init succeeded */
  int streams_up;      /* df_streams_init, df_sse_init and df_ttl_init succeeded */
  int indexes_up;      /* df_indexes_init ran (its handles exist) */
  int force;           /* stop without waiting for slow clients */
  int finished;        /* step 4 done */
  unsigned max_flushes; /* --max-flushes: log flush jobs in flight at once */
} df_main;

static df_main *main_of(df_server *s) {
  return (df_main *)((char *)s - offsetof(df_main, srv));
}

static void usage(FILE *f) {
  fprintf(f,
          "Usage: dynafiled [options]\n"
          "A local, durable server speaking Amazon DynamoDB's JSON protocol.\n"
          "\n"
          "Options (environment variable in brackets):\n"
          "  --host ADDR            listen address (default 127.0.0.1) [DYNAFILE_HOST]\n"
          "  --port N               listen port, 0 = any free port (default 8000) [DYNAFILE_PORT]\n"
          "  --data-dir DIR         data directory, created if missing (default ./data)\n"
          "                         [DYNAFILE_DATA_DIR]\n"
          "  --log-level LEVEL      error, warn, info or debug (default info; debug logs\n"
          "                         every request) [DYNAFILE_LOG_LEVEL]\n"
          "  --create-delay-ms N    keep new tables in CREATING for N ms (default 0)\n"
          "  --delete-delay-ms N    keep deleted tables in DELETING for N ms (default 0)\n"
          "  --cache-mb N           page-cache budget in MiB (default 64) [DYNAFILE_CACHE_MB]\n"
          "  --no-fsync             UNSAFE, for tests only: acknowledge writes without\n"
          "                         fsync; a crash or power loss loses acknowledged data\n"
          "  --max-flushes N        log flushes (write + fdatasync) in flight at once,\n"
          "                         1..16 (default 3; 1 = one after the other)\n"
          "  --ttl-hide-expired B   true (default): reads skip items whose TTL has passed;\n"
          "                         false: return them until swept, as AWS does\n"
          "                         [DYNAFILE_TTL_HIDE_EXPIRED]\n"
          "  --ttl-sweep-ms N       TTL sweeper period (default 5000) [DYNAFILE_TTL_SWEEP_MS]\n"
          "  --ttl-cooldown-s N     minimum time between two TTL changes of a table\n"
          "                         (default 0; AWS: about an hour)\n"
          "  --stream-retention-s N stream records and disabled streams are kept N s\n"
          "                         (default 86400, as AWS)\n"
          "  --iterator-ttl-s N     shard iterators expire after N s (default 900)\n"
          "  --sse-heartbeat-ms N   SSE heartbeat comment period (default 15000)\n"
          "  --sse-backlog N        events queued for a slow SSE subscriber before it is\n"
          "                         cut off (default 4096)\n"
          "  --rest-token TOKEN     require 'Authorization: Bearer TOKEN' on /v1/ (default:\n"
          "                         none; the daemon binds to loopback) [DYNAFILE_REST_TOKEN]\n"
          "  --backfill-items N     base items read per slice of a GSI backfill (default 1000)\n"
          "  --backfill-delay-ms N  pause between two backfill slices (default 0; for tests\n"
          "                         that watch an index being built)\n"
          "  --version              print the version and exit\n"
          "  -h, --help             print this help and exit\n"
          "\n"
          "Point any AWS SDK at it with endpoint_url=http://HOST:PORT and any credentials.\n"
          "SIGINT/SIGTERM finish the requests in flight, flush, checkpoint and exit 0.\n");
}

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi) {
    fprintf(stderr, "dynafiled: %s: expected an integer in [%ld, %ld], got '%s'\n", flag, lo, hi, v);
    return -1;
  }
  *out = x;
  return 0;
}

enum {
  OPT_HOST = 256,
  OPT_PORT,
  OPT_DATA,
  OPT_LOG,
  OPT_CDELAY,
  OPT_DDELAY,
  OPT_CACHE,
  OPT_NOFSYNC,
  OPT_VERSION,
  OPT_TTL_HIDE,
  OPT_REST_TOKEN,
  OPT_MAX_FLUSHES,
  OPT_INT /* first of the integer flags of int_flags[] */
};

/* Integer flags that only set a df_config field. */
typedef struct int_flag {
  const char *name;   /* flag without "--" */
  const char *env;    /* environment variable, NULL if none */
  long lo, hi;        /* accepted range */
  size_t off;         /* offsetof(df_config, field) */
  int is_size;        /* field is a size_t (else int) */
} int_flag;

static const int_flag int_flags[] = {
    {"ttl-sweep-ms", "DYNAFILE_TTL_SWEEP_MS", 10, INT_MAX, offsetof(df_config, ttl_sweep_ms), 0},
    {"ttl-cooldown-s", NULL, 0, INT_MAX, offsetof(df_config, ttl_cooldown_s), 0},
    {"stream-retention-s", NULL, 1, INT_MAX, offsetof(df_config, stream_retention_s), 0},
    {"iterator-ttl-s", NULL, 1, INT_MAX, offsetof(df_config, iterator_ttl_s), 0},
    {"sse-heartbeat-ms", NULL, 10, INT_MAX, offsetof(df_config, sse_heartbeat_ms), 0},
    {"sse-backlog", NULL, 1, 1L << 24, offsetof(df_config, sse_backlog), 1},
    {"backfill-items", NULL, 1, 1L << 20, offsetof(df_config, backfill_items), 0},
    {"backfill-delay-ms", NULL, 0, INT_MAX, offsetof(df_config, backfill_delay_ms), 0},
};
#define N_INT_FLAGS (sizeof int_flags / sizeof int_flags[0])

static void set_int_flag(df_config *cfg, const int_flag *f, long x) {
  char *field = (char *)cfg + f->off;
  if (f->is_size)
    *(size_t *)field = (size_t)x;
  else
    *(int *)field = (int)x;
}

/* "true"/"false" (also 1/0, yes/no); -1 if neither. */
static int parse_bool(const char *v) {
  if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) return 1;
  if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) return 0;
  return -1;
}

/* Returns 0 to run, 1 to exit 0 (help/version), -1 for a usage error. */
static int parse_args(int argc, char **argv, df_config *cfg, unsigned *max_flushes) {
  struct option opts[32] = {
      {"host", required_argument, NULL, OPT_HOST},
      {"port", required_argument, NULL, OPT_PORT},
      {"data-dir", required_argument, NULL, OPT_DATA},
      {"log-level", required_argument, NULL, OPT_LOG},
      {"create-delay-ms", required_argument, NULL, OPT_CDELAY},
      {"delete-delay-ms", required_argument, NULL, OPT_DDELAY},
      {"cache-mb", required_argument, NULL, OPT_CACHE},
      {"no-fsync", no_argument, NULL, OPT_NOFSYNC},
      {"version", no_argument, NULL, OPT_VERSION},
      {"help", no_argument, NULL, 'h'},
      {"ttl-hide-expired", required_argument, NULL, OPT_TTL_HIDE},
      {"rest-token", required_argument, NULL, OPT_REST_TOKEN},
      {"max-flushes", required_argument, NULL, OPT_MAX_FLUSHES},
  };
  size_t nopts = 0;
  while (opts[nopts].name != NULL) nopts++;
  for (size_t i = 0; i < N_INT_FLAGS; i++)
    opts[nopts++] = (struct option){int_flags[i].name, required_argument, NULL, OPT_INT + (int)i};
  cfg->host = "127.0.0.1";
  cfg->port = 8000;
  cfg->data_dir = "./data";
  cfg->log_level = DF_LOG_INFO;
  cfg->cache_mb = 64;
  cfg->ttl_hide_expired = 1;
  cfg->ttl_sweep_ms = 5000;
  cfg->stream_retention_s = 86400;
  cfg->iterator_ttl_s = 900;
  cfg->sse_heartbeat_ms = 15000;
  cfg->sse_backlog = 4096;
  cfg->backfill_items = 1000;
  *max_flushes = 3;
  long x;
  const char *env;
  /* Environment first, so that flags win. */
  if ((env = getenv("DYNAFILE_HOST")) != NULL && *env) cfg->host = env;
  if ((env = getenv("DYNAFILE_PORT")) != NULL && *env) {
    if (parse_int("DYNAFILE_PORT", env, 0, 65535, &x) != 0) return -1;
    cfg->port = (int)x;
  }
  if ((env = getenv("DYNAFILE_DATA_DIR")) != NULL && *env) cfg->data_dir = env;
  if ((env = getenv("DYNAFILE_LOG_LEVEL")) != NULL && *env) {
    int l = df_log_level_parse(env);
    if (l < 0) {
      fprintf(stderr, "dynafiled: DYNAFILE_LOG_LEVEL: expected error, warn, info or debug, got '%s'\n", env);
      return -1;
    }
    cfg->log_level = (df_log_level)l;
  }
  if ((env = getenv("DYNAFILE_CACHE_MB")) != NULL && *env) {
    if (parse_int("DYNAFILE_CACHE_MB", env, 1, 1L << 20, &x) != 0) return -1;
    cfg->cache_mb = (size_t)x;
  }
  if ((env = getenv("DYNAFILE_TTL_HIDE_EXPIRED")) != NULL && *env) {
    int b = parse_bool(env);
    if (b < 0) {
      fprintf(stderr, "dynafiled: DYNAFILE_TTL_HIDE_EXPIRED: expected true or false, got '%s'\n", env);
      return -1;
    }
    cfg->ttl_hide_expired = b;
  }
  if ((env = getenv("DYNAFILE_REST_TOKEN")) != NULL && *env) cfg->rest_token = env;
  for (size_t i = 0; i < N_INT_FLAGS; i++) {
    if (int_flags[i].env == NULL || (env = getenv(int_flags[i].env)) == NULL || !*env) continue;
    if (parse_int(int_flags[i].env, env, int_flags[i].lo, int_flags[i].hi, &x) != 0) return -1;
    set_int_flag(cfg, &int_flags[i], x);
  }
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case OPT_HOST:
        cfg->host = optarg;
        break;
      case OPT_PORT:
        if (parse_int("--port", optarg, 0, 65535, &x) != 0) return -1;
        cfg->port = (int)x;
        break;
      case OPT_DATA:
        cfg->data_dir = optarg;
        break;
      case OPT_LOG: {
        int l = df_log_level_parse(optarg);
        if (l < 0) {
          fprintf(stderr, "dynafiled: --log-level: expected error, warn, info or debug, got '%s'\n", optarg);
          return -1;
        }
        cfg->log_level = (df_log_level)l;
        break;
      }
      case OPT_CDELAY:
        if (parse_int("--create-delay-ms", optarg, 0, INT_MAX, &x) != 0) return -1;
        cfg->create_delay_ms = (int)x;
        break;
      case OPT_DDELAY:
        if (parse_int("--delete-delay-ms", optarg, 0, INT_MAX, &x) != 0) return -1;
        cfg->delete_delay_ms = (int)x;
        break;
      case OPT_CACHE:
        if (parse_int("--cache-mb", optarg, 1, 1L << 20, &x) != 0) return -1;
        cfg->cache_mb = (size_t)x;
        break;
      case OPT_NOFSYNC:
        cfg->no_fsync = 1;
        break;
      case OPT_VERSION:
        printf("dynafiled %s\n", DF_VERSION);
        return 1;
      case OPT_REST_TOKEN:
        cfg->rest_token = *optarg ? optarg : NULL;
        break;
      case OPT_MAX_FLUSHES:
        if (parse_int("--max-flushes", optarg, 1, 16, &x) != 0) return -1;
        *max_flushes = (unsigned)x;
        break;
      case OPT_TTL_HIDE: {
        int b = parse_bool(optarg);
        if (b < 0) {
          fprintf(stderr, "dynafiled: --ttl-hide-expired: expected true or false, got '%s'\n", optarg);
          return -1;
        }
        cfg->ttl_hide_expired = b;
        break;
      }
      case 'h':
        usage(stdout);
        return 1;
      default:
        if (c >= OPT_INT && c < OPT_INT + (int)N_INT_FLAGS) {
          const int_flag *f = &int_flags[c - OPT_INT];
          char name[48];
          snprintf(name, sizeof name, "--%s", f->name);
          if (parse_int(name, optarg, f->lo, f->hi, &x) != 0) return -1;
          set_int_flag(cfg, f, x);
          break;
        }
        if (optopt != 0 && optopt < 256)
          fprintf(stderr, "dynafiled: unknown or incomplete option '-%c'\n", optopt);
        else
          fprintf(stderr, "dynafiled: unknown or incomplete option '%s'\n", argv[optind - 1]);
        fprintf(stderr, "Try 'dynafiled --help'.\n");
        return -1;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "dynafiled: unexpected argument '%s'\nTry 'dynafiled --help'.\n", argv[optind]);
    return -1;
  }
  return 0;
}

static void on_handle_closed(uv_handle_t *h) {
  (void)h;
}

/* Step 4: everything drained; close what keeps the loop alive. */
static void finish(df_main *m) {
  df_server *s = &m->srv;
  m->finished = 1;
  df_loop_stop(s);
  if (m->indexes_up) df_indexes_close(s); /* backfill iterators go before the tables */
  m->indexes_up = 0;
  if (m->streams_up) {
    df_sse_close(s);
    df_ttl_close(s);
    df_streams_close(s);
  }
  m->streams_up = 0;
  if (m->tables_up) df_tables_close(s);
  m->tables_up = 0;
  df_commit_close(s);
  uv_close((uv_handle_t *)&m->sigint, on_handle_closed);
  uv_close((uv_handle_t *)&m->sigterm, on_handle_closed);
  uv_close((uv_handle_t *)&m->drain, on_handle_closed);
}

void df_main_check_stop(df_server *s) {
  df_main *m = main_of(s);
  if (!s->stopping || m->finished) return;
  if (!df_commit_idle(s)) return;
  df_http *h = s->http;
  if (h != NULL && h->inflight > 0 && !(m->force && h->suspended == 0)) return;
  if (h != NULL && h->inflight > 0)
    df_log(s, DF_LOG_WARN, "closing %llu connections with unfinished requests",
           (unsigned long long)h->inflight);
  finish(m);
}

static void on_drain_timeout(uv_timer_t *t) {
  df_main *m = t->data;
  m->force = 1;
  df_main_check_stop(&m->srv);
}

static void on_signal(uv_signal_t *sig, int signum) {
  df_main *m = sig->data;
  df_server *s = &m->srv;
  if (s->stopping) {
    df_log(s, DF_LOG_WARN, "%s again: not waiting for slow clients", strsignal(signum));
    m->force = 1;
    df_main_check_stop(s);
    return;
  }
  s->stopping = 1;
  df_log(s, DF_LOG_INFO, "%s: shutting down (%llu requests served, %llu in flight)", strsignal(signum),
         (unsigned long long)(s->http != NULL ? s->http->served : 0),
         (unsigned long long)(s->http != NULL ? s->http->inflight : 0));
  df_loop_quiesce(s);
  if (m->streams_up) df_sse_shutdown(s);
  uv_timer_start(&m->drain, on_drain_timeout, DRAIN_TIMEOUT_MS, 0);
  df_main_check_stop(s);
}

/* Run the loop until every handle is closed; complain about leftovers. */
static void run_to_end(df_server *s) {
  uv_run(s->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(s->loop) == UV_EBUSY) {
    df_log(s, DF_LOG_WARN, "event loop still has open handles at exit");
  }
}

int main(int argc, char **argv) {
  df_main m;
  memset(&m, 0, sizeof m);
  df_server *s = &m.srv;
  int r = parse_args(argc, argv, &s->cfg, &m.max_flushes);
  if (r != 0) return r > 0 ? 0 : 2;
  /* libuv's pool runs the flushes, the log-space job and the checkpoint
   * (commit.c): make room for all of them, unless the operator sized it.
   * Read at its first use. */
  if (m.max_flushes + 2 > 4 && getenv("UV_THREADPOOL_SIZE") == NULL) {
    char n[16];
    snprintf(n, sizeof n, "%u", m.max_flushes + 2);
    setenv("UV_THREADPOOL_SIZE", n, 1);
  }
  signal(SIGPIPE, SIG_IGN);

  uv_loop_t loop;
  uv_loop_init(&loop);
  s->loop = &loop;
  s->pctx.region = "us-east-1";
  s->pctx.account = "123456789012";
  if (s->cfg.no_fsync)
    df_log(s, DF_LOG_WARN, "--no-fsync: writes are acknowledged before they are durable (testing only)");

  st_options opt;
  memset(&opt, 0, sizeof opt);
  opt.cache_bytes = s->cfg.cache_mb * 1024 * 1024;
  opt.no_fsync = s->cfg.no_fsync;
  opt.max_flushes = m.max_flushes;
  char err[512] = "";
  int rc = st_open(s->cfg.data_dir, &opt, &s->db, err, sizeof err);
  if (rc != ST_OK) {
    df_log(s, DF_LOG_ERROR, "cannot open data directory %s: %s", s->cfg.data_dir,
           err[0] != '\0' ? err : st_strerror(rc));
    uv_loop_close(&loop);
    return 1;
  }
  const char *note = st_recovery_note(s->db);
  if (note != NULL && note[0] != '\0') df_log(s, DF_LOG_WARN, "recovery: %s", note);
  {
    /* Recovery is worth an info line when it replayed anything. */
    st_stats st;
    st_get_stats(s->db, &st);
    df_log(s, st.recovered_records > 0 ? DF_LOG_INFO : DF_LOG_DEBUG,
           "storage open: lsn %llu, %llu log records replayed in %.3fs", (unsigned long long)st.last_lsn,
           (unsigned long long)st.recovered_records, st.recovery_seconds);
  }

  uv_signal_init(&loop, &m.sigint);
  uv_signal_init(&loop, &m.sigterm);
  uv_timer_init(&loop, &m.drain);
  m.sigint.data = m.sigterm.data = m.drain.data = &m;
  df_commit_init(s);
  int status = 0;
  if (df_tables_init(s) != 0) {
    df_log(s, DF_LOG_ERROR, "cannot set up the tables' state");
    status = 1;
  } else {
    m.tables_up = 1;
    if (df_streams_init(s) != 0 || df_sse_init(s) != 0 || df_ttl_init(s) != 0) {
      df_log(s, DF_LOG_ERROR, "cannot set up streams and TTL");
      status = 1;
    } else {
      m.streams_up = 1;
      m.indexes_up = 1;
      if (df_indexes_init(s) != 0) {
        df_log(s, DF_LOG_ERROR, "cannot reconcile the tables' indexes with storage");
        status = 1;
      } else if (df_loop_start(s) != 0) {
        status = 1;
      }
    }
  }
  if (status != 0) { /* close what was opened, then the storage */
    s->stopping = 1;
    finish(&m);
    run_to_end(s);
    df_arenas_free(s);
    st_close(s->db);
    return status;
  }
  uv_signal_start(&m.sigint, on_signal, SIGINT);
  uv_signal_start(&m.sigterm, on_signal, SIGTERM);
  df_log(s, DF_LOG_INFO, "dynafiled listening on %s (data: %s)", s->http->listen_url, s->cfg.data_dir);

  run_to_end(s);
  df_arenas_free(s);

  rc = st_close(s->db);
  s->db = NULL;
  if (rc != ST_OK) {
    df_log(s, DF_LOG_ERROR, "final flush/checkpoint failed: %s", st_strerror(rc));
    return 1;
  }
  df_log(s, DF_LOG_INFO, "stopped cleanly");
  return 0;
}
