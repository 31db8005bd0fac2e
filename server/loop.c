/*
 * loop.c -- libmicrohttpd driven by the one libuv loop.
 *
 * MHD runs in "external epoll" mode: it keeps its own epoll set (listening
 * socket, connections, the inter-thread channel used by resume) and exposes
 * its fd. libuv polls that fd; when it is readable, or when the timeout MHD
 * asks for (MHD_get_timeout) expires, we call MHD_run(), which reads,
 * parses, calls http.c's access handler and writes, without blocking. No
 * other thread ever touches a connection.
 *
 * Rules that keep this sound:
 *   L1. MHD_run() is only called from a uv callback (poll or timer), never
 *       from inside an MHD callback; whoever needs MHD to run again (a resumed
 *       connection) calls df_loop_wake(), which arms the
 *       timer at 0 ms.
 *   L2. After every MHD_run() the timer is re-armed from MHD_get_timeout():
 *       0 means MHD still has buffered work (edge-triggered epoll inside MHD),
 *       so it runs again on the next loop iteration.
 *   L3. The uv_poll handle is stopped before MHD closes its epoll fd.
 *
 * The listening socket is ours (so that --port 0 and bind errors are
 * reported precisely); MHD_quiesce_daemon() hands it back on shutdown and
 * we close it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/server_int.h"

/* Idle keep-alive connections are closed after this many seconds. */
#define IDLE_TIMEOUT_S 120
/* Per-connection buffer for headers (AWS allows ~16 KB of headers). Not
 * bigger than that needs: libmicrohttpd clears it after every request, which
 * at 64 KiB was a tenth of a GetItem's CPU (docs/PERFORMANCE.md). */
#define CONN_MEMORY (32 * 1024)

static void on_timer(uv_timer_t *t);

/* L2: follow MHD's timeout. */
static void arm_timer(df_http *h) {
  MHD_UNSIGNED_LONG_LONG to = 0;
  if (h->closing) return;
  if (MHD_get_timeout(h->mhd, &to) == MHD_YES)
    uv_timer_start(&h->timer, on_timer, (uint64_t)to, 0);
  else
    uv_timer_stop(&h->timer);
}

static void run_mhd(df_http *h) {
  if (h->closing) return;
  MHD_run(h->mhd);
  arm_timer(h);
  if (h->srv->stopping) df_main_check_stop(h->srv);
}

static void on_timer(uv_timer_t *t) {
  run_mhd(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  df_http *h = p->data;
  (void)events;
  if (status < 0) df_log(h->srv, DF_LOG_WARN, "poll on MHD's epoll fd: %s", uv_strerror(status));
  run_mhd(h);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap) {
  df_http *h = cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  /* While starting, MHD's messages explain a failure; later they are about
   * single connections (resets, timeouts). */
  df_log(h->srv, h->mhd == NULL ? DF_LOG_ERROR : DF_LOG_DEBUG, "http: %s", msg);
}

/* Bind and listen; fills h->listen_url. Returns the fd or -1 (logged). */
static int open_listener(df_server *s, df_http *h, int *family) {
  char port[16];
  snprintf(port, sizeof port, "%d", s->cfg.port);
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int rc = getaddrinfo(s->cfg.host, port, &hints, &res);
  if (rc != 0) {
    df_log(s, DF_LOG_ERROR, "cannot resolve listen address %s: %s", s->cfg.host, gai_strerror(rc));
    return -1;
  }
  int fd = -1, err = 0;
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) {
      *family = ai->ai_family;
      break;
    }
    err = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    df_log(s, DF_LOG_ERROR, "cannot listen on %s:%d: %s", s->cfg.host, s->cfg.port, strerror(err));
    return -1;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char addr[INET6_ADDRSTRLEN] = "?";
  int bound_port = s->cfg.port;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
      inet_ntop(AF_INET6, &a6->sin6_addr, addr, sizeof addr);
      bound_port = ntohs(a6->sin6_port);
    } else {
      struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
      inet_ntop(AF_INET, &a4->sin_addr, addr, sizeof addr);
      bound_port = ntohs(a4->sin_port);
    }
  }
  s->cfg.port = bound_port; /* --port 0: the handlers (DescribeEndpoints) see the real one */
  snprintf(h->listen_url, sizeof h->listen_url, ss.ss_family == AF_INET6 ? "http://[%s]:%d" : "http://%s:%d",
           addr, bound_port);
  return fd;
}

int df_loop_start(df_server *s) {
  df_http *h = df_xcalloc(1, sizeof *h);
  h->srv = s;
  h->listen_fd = -1;
  if (getrandom(h->rng, sizeof h->rng, 0) != (ssize_t)sizeof h->rng) {
    /* No entropy source: ids only need to be distinct, not secret. */
    uint64_t t = uv_hrtime() ^ ((uint64_t)getpid() << 32);
    for (int i = 0; i < 4; i++) h->rng[i] = t = t * 6364136223846793005ULL + 1442695040888963407ULL;
  }
  if ((h->rng[0] | h->rng[1] | h->rng[2] | h->rng[3]) == 0) h->rng[0] = 1;
  int family = AF_INET;
  h->listen_fd = open_listener(s, h, &family);
  if (h->listen_fd < 0) goto fail;
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
  if (family == AF_INET6) flags |= MHD_USE_IPv6;
  h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, df_http_access, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger,
                            h, /* first, so it sees all */
                            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)h->listen_fd, MHD_OPTION_NOTIFY_COMPLETED,
                            df_http_completed, h, MHD_OPTION_URI_LOG_CALLBACK, df_http_uri_log, h,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)IDLE_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY, MHD_OPTION_END);
  if (h->mhd == NULL) {
    df_log(s, DF_LOG_ERROR, "cannot start the HTTP server (libmicrohttpd)");
    goto fail;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  if (info == NULL || info->epoll_fd < 0) {
    df_log(s, DF_LOG_ERROR, "libmicrohttpd has no epoll fd");
    goto fail;
  }
  int rc = uv_poll_init(s->loop, &h->poll, info->epoll_fd);
  if (rc != 0) {
    df_log(s, DF_LOG_ERROR, "uv_poll_init: %s", uv_strerror(rc));
    goto fail;
  }
  h->poll.data = h;
  uv_timer_init(s->loop, &h->timer);
  h->timer.data = h;
  uv_poll_start(&h->poll, UV_READABLE, on_poll);
  s->http = h;
  df_loop_wake(s);
  return 0;

fail:
  if (h->mhd != NULL)
    MHD_stop_daemon(h->mhd); /* closes the listening socket too; no poll handle yet */
  else if (h->listen_fd >= 0)
    close(h->listen_fd);
  free(h);
  return -1;
}

void df_loop_wake(df_server *s) {
  df_http *h = s->http;
  if (h == NULL || h->closing) return;
  uv_timer_start(&h->timer, on_timer, 0, 0);
}

void df_loop_quiesce(df_server *s) {
  df_http *h = s->http;
  if (h == NULL || h->listen_fd < 0) return;
  MHD_socket fd = MHD_quiesce_daemon(h->mhd);
  if (fd != MHD_INVALID_SOCKET) close(fd); /* else MHD was not listening any more */
  h->listen_fd = -1;
  df_loop_wake(s);
}

static void on_closed(uv_handle_t *handle) {
  df_http *h = handle->data;
  if (--h->open_handles == 0) free(h); /* the last close callback frees the state */
}

void df_loop_stop(df_server *s) {
  df_http *h = s->http;
  if (h == NULL || h->closing) return;
  h->closing = 1;
  s->http = NULL;
  uv_poll_stop(&h->poll);  /* L3 */
  if (h->listen_fd >= 0) { /* not quiesced yet: take the socket back from MHD */
    MHD_socket fd = MHD_quiesce_daemon(h->mhd);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    h->listen_fd = -1;
  }
  if (h->suspended > 0) /* cannot happen: main.c waits for them */
    df_log(s, DF_LOG_ERROR, "stopping with %llu suspended connections", (unsigned long long)h->suspended);
  MHD_stop_daemon(h->mhd); /* closes every connection; completion callbacks run now */
  h->mhd = NULL;
  h->open_handles = 2;
  uv_close((uv_handle_t *)&h->poll, on_closed);
  uv_close((uv_handle_t *)&h->timer, on_closed);
}
