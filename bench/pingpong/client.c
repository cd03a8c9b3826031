/*
 * Ping-pong load client, after muduo's examples/pingpong/client.cc.
 *
 * N sessions connect to HOST:PORT. Once every session is connected the clock starts and each
 * session sends one block of B bytes; from then on every byte a session reads is written straight
 * back, so each session keeps exactly B bytes in flight. After T seconds the client stops and
 * prints one JSON line: total bytes read and MiB/s (bytes read / elapsed / 2^20).
 *
 * It must never be the bottleneck: one epoll loop, level-triggered, one big read buffer shared by
 * every session, and a per-session output buffer allocated once (it never needs more than B bytes:
 * a session cannot receive more than it has sent).
 *
 *   pingpong-client --host 127.0.0.1 --port 9000 --sessions 100 --block 16384 --seconds 5
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF_SIZE (256 * 1024)
#define MAX_EVENTS 1024
#define CONNECT_TIMEOUT_S 30.0

/*
 * A session's output buffer:
 *
 *   | sent (discarded) | pending  | free           |
 *   0                 off       off+len          cap
 */
struct session {
  int fd;
  int connected;
  int want_out; /* EPOLLOUT is armed */
  char *out;
  size_t off, len, cap;
  uint64_t bytes_read, bytes_written;
};

static struct session *sessions;
static int nsessions;
static int epfd;
static char readbuf[READ_BUF_SIZE];
static volatile sig_atomic_t interrupted;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "pingpong-client: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void usage(void) {
  fprintf(stderr, "usage: pingpong-client --host H --port P --sessions N --block B --seconds T\n");
  exit(2);
}

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

static void arm(struct session *s, int want_out) {
  if (s->want_out == want_out) return;
  struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = s};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev) < 0) die("epoll_ctl MOD");
  s->want_out = want_out;
}

/* Queues bytes behind what is pending. Grows only if a peer sends more than it was sent. */
static void queue(struct session *s, const char *data, size_t n) {
  if (s->off > 0) {
    memmove(s->out, s->out + s->off, s->len);
    s->off = 0;
  }
  if (s->len + n > s->cap) {
    size_t cap = s->cap * 2 > s->len + n ? s->cap * 2 : s->len + n;
    char *p = realloc(s->out, cap);
    if (p == NULL) die("realloc");
    s->out = p;
    s->cap = cap;
  }
  memcpy(s->out + s->len, data, n);
  s->len += n;
}

/* Writes what is pending; returns -1 on a fatal error. */
static int flush(struct session *s) {
  while (s->len > 0) {
    ssize_t n = write(s->fd, s->out + s->off, s->len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return -1;
    }
    s->off += (size_t)n;
    s->len -= (size_t)n;
    s->bytes_written += (uint64_t)n;
  }
  if (s->len == 0) s->off = 0;
  arm(s, s->len > 0);
  return 0;
}

/* Echoes `data` back: writes directly if nothing is pending, queues whatever the kernel refused. */
static int echo(struct session *s, const char *data, size_t n) {
  if (s->len == 0) {
    while (n > 0) {
      ssize_t w = write(s->fd, data, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return -1;
      }
      s->bytes_written += (uint64_t)w;
      data += w;
      n -= (size_t)w;
    }
    if (n == 0) return 0;
  }
  queue(s, data, n);
  arm(s, 1);
  return 0;
}

static void raise_nofile(int need) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) die("getrlimit");
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need) {
    fprintf(stderr, "pingpong-client: ulimit -n is %lu, need at least %d\n",
            (unsigned long)rl.rlim_cur, need);
    exit(1);
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  const char *port = NULL;
  long block = 16384;
  double seconds = 5;
  nsessions = 10;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    const char *k = argv[i], *v = argv[++i];
    if (strcmp(k, "--host") == 0) host = v;
    else if (strcmp(k, "--port") == 0) port = v;
    else if (strcmp(k, "--sessions") == 0) nsessions = atoi(v);
    else if (strcmp(k, "--block") == 0) block = atol(v);
    else if (strcmp(k, "--seconds") == 0) seconds = atof(v);
    else usage();
  }
  if (port == NULL || nsessions <= 0 || block <= 0 || seconds <= 0) usage();

  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  raise_nofile(nsessions + 16);

  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc != 0) {
    fprintf(stderr, "pingpong-client: %s:%s: %s\n", host, port, gai_strerror(rc));
    return 1;
  }

  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  sessions = calloc((size_t)nsessions, sizeof *sessions);
  char *message = malloc((size_t)block);
  if (sessions == NULL || message == NULL) die("malloc");
  for (long i = 0; i < block; i++) message[i] = (char)(i % 128);

  /* Connect every session; the clock starts only once all are connected. */
  for (int i = 0; i < nsessions; i++) {
    struct session *s = &sessions[i];
    s->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) die("socket");
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s->cap = (size_t)block;
    s->out = malloc(s->cap);
    if (s->out == NULL) die("malloc");
    if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) die("connect");
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0) die("epoll_ctl ADD");
    s->want_out = 1;
  }
  freeaddrinfo(ai);

  struct epoll_event events[MAX_EVENTS];
  int connected = 0;
  double connect_deadline = now_s() + CONNECT_TIMEOUT_S;
  while (connected < nsessions) {
    if (interrupted) return 130;
    if (now_s() > connect_deadline) {
      fprintf(stderr, "pingpong-client: only %d of %d sessions connected after %.0f s\n",
              connected, nsessions, CONNECT_TIMEOUT_S);
      return 1;
    }
    int n = epoll_wait(epfd, events, MAX_EVENTS, 100);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      struct session *s = events[i].data.ptr;
      if (s->connected) continue;
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) die("getsockopt");
      if (err != 0) {
        fprintf(stderr, "pingpong-client: connect: %s\n", strerror(err));
        return 1;
      }
      s->connected = 1;
      connected++;
      /* Idle until the clock starts: watch nothing but input. */
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
      if (epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev) < 0) die("epoll_ctl MOD");
      s->want_out = 0;
    }
  }

  double start = now_s();
  double deadline = start + seconds;
  for (int i = 0; i < nsessions; i++) {
    if (echo(&sessions[i], message, (size_t)block) < 0) die("write");
  }

  int failed = 0;
  const char *failure = NULL;
  double t = start;
  while (!interrupted && (t = now_s()) < deadline) {
    int timeout_ms = (int)((deadline - t) * 1000) + 1;
    int n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct session *s = events[i].data.ptr;
      if (s->fd < 0) continue;
      uint32_t e = events[i].events;
      int bad = 0;
      if (e & EPOLLOUT) {
        if (flush(s) < 0) bad = 1, failure = strerror(errno);
      }
      if (!bad && (e & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        ssize_t r = read(s->fd, readbuf, sizeof readbuf);
        if (r > 0) {
          s->bytes_read += (uint64_t)r;
          if (echo(s, readbuf, (size_t)r) < 0) bad = 1, failure = strerror(errno);
        } else if (r == 0) {
          bad = 1, failure = "server closed the connection";
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          bad = 1, failure = strerror(errno);
        }
      }
      if (bad) {
        failed++;
        close(s->fd);
        s->fd = -1;
      }
    }
  }
  double elapsed = now_s() - start;

  uint64_t bytes_read = 0, bytes_written = 0;
  for (int i = 0; i < nsessions; i++) {
    bytes_read += sessions[i].bytes_read;
    bytes_written += sessions[i].bytes_written;
    if (sessions[i].fd >= 0) close(sessions[i].fd);
  }
  double mibps = (double)bytes_read / elapsed / (1024.0 * 1024.0);
  printf("{\"sessions\":%d,\"block\":%ld,\"seconds\":%.3f,\"bytesRead\":%llu,"
         "\"bytesWritten\":%llu,\"mibps\":%.2f,\"failedSessions\":%d,\"interrupted\":%s}\n",
         nsessions, block, elapsed, (unsigned long long)bytes_read,
         (unsigned long long)bytes_written, mibps, failed, interrupted ? "true" : "false");
  fflush(stdout);
  if (failed > 0) {
    fprintf(stderr, "pingpong-client: %d sessions failed (last: %s)\n", failed, failure);
    return 1;
  }
  return interrupted ? 130 : 0;
}
