/*
 * Download load client for the sendfile benchmark.
 *
 * N keep-alive connections to HOST:PORT each GET the same PATH over and over, one request in
 * flight per connection, for T seconds. Responses must be `200` with a Content-Length (no chunked
 * bodies); the body is read into one big buffer and thrown away. Prints one JSON line: completed
 * responses, body bytes received (including the part of the responses still in flight at the
 * end: for large files that part matters) and elapsed seconds. Any error ends it with status 1.
 *
 * It must never be the bottleneck: one epoll loop, level-triggered, one 1 MiB read buffer shared
 * by every connection (a 100 MiB body costs about 100 reads, not 12,800 as with wrk's 8 KiB), and
 * the request written once per response.
 *
 *   sendfile-client --host 127.0.0.1 --port 8080 --path /file --connections 2 --seconds 5
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF_SIZE (1024 * 1024)
#define HEAD_MAX 8192
#define MAX_EVENTS 256
#define CONNECT_TIMEOUT_S 30.0

struct conn {
  int fd;
  int connected;
  int in_body;           /* 0: reading the head; 1: reading the body */
  uint64_t remaining;    /* body bytes still to come */
  size_t head_len;       /* bytes of the head read so far */
  char head[HEAD_MAX];
};

static struct conn *conns;
static int nconns;
static int epfd;
static char readbuf[READ_BUF_SIZE];
static char request[1024];
static size_t request_len;
static volatile sig_atomic_t interrupted;
static uint64_t responses, body_bytes;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "sendfile-client: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void fail(const char *what) {
  fprintf(stderr, "sendfile-client: %s\n", what);
  exit(1);
}

static void usage(void) {
  fprintf(stderr, "usage: sendfile-client --host H --port P --path /F --connections N --seconds T\n");
  exit(2);
}

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

static void send_request(struct conn *c) {
  /* A request is tiny and the socket buffer is empty between responses: one write suffices. */
  ssize_t n = write(c->fd, request, request_len);
  if (n != (ssize_t)request_len) die("write");
  c->in_body = 0;
  c->head_len = 0;
}

/* Parses a complete head; returns the Content-Length. */
static uint64_t parse_head(const char *h, size_t len) {
  if (len < 12 || memcmp(h, "HTTP/1.1 200", 12) != 0) {
    fprintf(stderr, "sendfile-client: unexpected response: %.*s\n", (int)(len < 80 ? len : 80), h);
    exit(1);
  }
  const char *p = h, *end = h + len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (eol == NULL) break;
    if ((size_t)(eol - p) > 15 && strncasecmp(p, "content-length:", 15) == 0) {
      return strtoull(p + 15, NULL, 10);
    }
    p = eol + 1;
  }
  fail("response without Content-Length");
  return 0;
}

/* Consumes `n` bytes read into readbuf (for a head, those after what was copied already). */
static void on_bytes(struct conn *c, const char *data, size_t n) {
  while (n > 0) {
    if (c->in_body) {
      size_t take = n < c->remaining ? n : (size_t)c->remaining;
      c->remaining -= take;
      body_bytes += take;
      data += take;
      n -= take;
      if (c->remaining == 0) {
        responses++;
        if (n > 0) fail("bytes after a response (nothing was pipelined)");
        send_request(c);
      }
      continue;
    }
    size_t room = HEAD_MAX - c->head_len;
    size_t take = n < room ? n : room;
    memcpy(c->head + c->head_len, data, take);
    /* Search for the blank line from a little before the new bytes. */
    size_t from = c->head_len >= 3 ? c->head_len - 3 : 0;
    c->head_len += take;
    char *blank = memmem(c->head + from, c->head_len - from, "\r\n\r\n", 4);
    if (blank == NULL) {
      if (c->head_len == HEAD_MAX) fail("response head too large");
      return;
    }
    size_t head_len = (size_t)(blank - c->head) + 4;
    size_t used = head_len - (c->head_len - take); /* bytes of `data` that belonged to the head */
    c->remaining = parse_head(c->head, head_len);
    c->in_body = 1;
    data += used;
    n -= used;
    if (c->remaining == 0) {
      responses++;
      send_request(c);
      if (n > 0) fail("bytes after a response (nothing was pipelined)");
    }
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *port = NULL, *path = NULL;
  double seconds = 5;
  nconns = 1;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "--host") == 0) host = argv[++i];
    else if (strcmp(argv[i], "--port") == 0) port = argv[++i];
    else if (strcmp(argv[i], "--path") == 0) path = argv[++i];
    else if (strcmp(argv[i], "--connections") == 0) nconns = atoi(argv[++i]);
    else if (strcmp(argv[i], "--seconds") == 0) seconds = atof(argv[++i]);
    else usage();
  }
  if (port == NULL || path == NULL || nconns <= 0 || !(seconds > 0)) usage();
  int rl = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", path, host,
                    port);
  if (rl <= 0 || (size_t)rl >= sizeof request) fail("path too long");
  request_len = (size_t)rl;

  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
  int gai = getaddrinfo(host, port, &hints, &ai);
  if (gai != 0) {
    fprintf(stderr, "sendfile-client: %s:%s: %s\n", host, port, gai_strerror(gai));
    return 1;
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  conns = calloc((size_t)nconns, sizeof *conns);
  if (conns == NULL) die("calloc");
  for (int i = 0; i < nconns; i++) {
    struct conn *c = &conns[i];
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) die("connect");
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
  }
  freeaddrinfo(ai);

  /* Connect everything first; the clock starts with the first requests. */
  struct epoll_event events[MAX_EVENTS];
  int pending = nconns;
  double deadline = now_s() + CONNECT_TIMEOUT_S;
  while (pending > 0) {
    if (interrupted || now_s() > deadline) fail("connect timed out");
    int n = epoll_wait(epfd, events, MAX_EVENTS, 100);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c->connected) continue;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        errno = err;
        die("connect");
      }
      c->connected = 1;
      pending--;
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
      if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
    }
  }

  double start = now_s(), end = start + seconds, t = start;
  for (int i = 0; i < nconns; i++) send_request(&conns[i]);
  while (!interrupted && (t = now_s()) < end) {
    int timeout = (int)((end - t) * 1000) + 1;
    int n = epoll_wait(epfd, events, MAX_EVENTS, timeout > 100 ? 100 : timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      ssize_t r = read(c->fd, readbuf, READ_BUF_SIZE);
      if (r > 0) on_bytes(c, readbuf, (size_t)r);
      else if (r == 0) fail("server closed a connection");
      else if (errno != EAGAIN && errno != EINTR) die("read");
    }
  }
  double elapsed = now_s() - start;
  for (int i = 0; i < nconns; i++) close(conns[i].fd);
  printf("{\"connections\":%d,\"responses\":%llu,\"bodyBytes\":%llu,\"seconds\":%.6f}\n",
         nconns, (unsigned long long)responses, (unsigned long long)body_bytes, elapsed);
  return interrupted ? 130 : 0;
}
