/*
 * Minimal epoll echo server: the reference for what this machine can do, on one core.
 *
 * One thread, level-triggered epoll, non-blocking accept4 until EAGAIN. Each read goes to one
 * shared buffer and is written straight back; what the kernel refuses is queued on the
 * connection, which then stops reading (EPOLLOUT only) until the queue drains, so a slow reader
 * cannot make the server buffer without bound.
 *
 *   echo-server [--host 127.0.0.1] [--port 0]   prints "listening on HOST:PORT" when ready
 *
 * SIGTERM and SIGINT stop it with exit status 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUF_SIZE (256 * 1024)
#define MAX_EVENTS 1024

/* Output a connection could not write yet:  | written | pending | free |  (off, len, cap). */
struct conn {
  int fd;
  char *out;
  size_t off, len, cap;
};

static int epfd;
static struct conn **conns; /* indexed by fd */
static size_t nconns;
static char buf[READ_BUF_SIZE];
static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static void die(const char *what) {
  fprintf(stderr, "echo-server: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void watch(int fd, int op, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.fd = fd};
  if (epoll_ctl(epfd, op, fd, &ev) < 0) die("epoll_ctl");
}

static void drop(struct conn *c) {
  conns[c->fd] = NULL;
  close(c->fd); /* also removes it from the epoll set */
  free(c->out);
  free(c);
}

static void queue(struct conn *c, const char *data, size_t n) {
  if (c->off > 0) {
    memmove(c->out, c->out + c->off, c->len);
    c->off = 0;
  }
  if (c->len + n > c->cap) {
    size_t cap = c->cap * 2 > c->len + n ? c->cap * 2 : c->len + n;
    char *p = realloc(c->out, cap);
    if (p == NULL) die("realloc");
    c->out = p;
    c->cap = cap;
  }
  memcpy(c->out + c->len, data, n);
  c->len += n;
}

/* Writes n bytes from data; returns how many were written, or -1 on a fatal error. */
static ssize_t write_all(int fd, const char *data, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, data + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return -1;
    }
    done += (size_t)w;
  }
  return (ssize_t)done;
}

static void on_readable(struct conn *c) {
  ssize_t r = read(c->fd, buf, sizeof buf);
  if (r <= 0) {
    if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) drop(c);
    return;
  }
  ssize_t w = write_all(c->fd, buf, (size_t)r);
  if (w < 0) {
    drop(c);
    return;
  }
  if (w < r) {
    queue(c, buf + w, (size_t)(r - w));
    watch(c->fd, EPOLL_CTL_MOD, EPOLLOUT); /* stop reading until the queue drains */
  }
}

/* Returns 0 if the connection was dropped. */
static int on_writable(struct conn *c) {
  ssize_t w = write_all(c->fd, c->out + c->off, c->len);
  if (w < 0) {
    drop(c);
    return 0;
  }
  c->off += (size_t)w;
  c->len -= (size_t)w;
  if (c->len == 0) {
    c->off = 0;
    watch(c->fd, EPOLL_CTL_MOD, EPOLLIN);
  }
  return 1;
}

static void on_acceptable(int lfd) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      fprintf(stderr, "echo-server: accept: %s\n", strerror(errno)); /* EMFILE...: keep going */
      return;
    }
    if ((size_t)fd >= nconns) {
      size_t n = nconns * 2 > (size_t)fd + 1 ? nconns * 2 : (size_t)fd + 1;
      struct conn **p = realloc(conns, n * sizeof *p);
      if (p == NULL) die("realloc");
      memset(p + nconns, 0, (n - nconns) * sizeof *p);
      conns = p;
      nconns = n;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) die("calloc");
    c->fd = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns[fd] = c;
    watch(fd, EPOLL_CTL_ADD, EPOLLIN);
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) host = argv[++i];
    else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: echo-server [--host 127.0.0.1] [--port 0]\n");
      return 2;
    }
  }

  struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: epoll_wait returns EINTR */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "echo-server: not an IPv4 address: %s\n", host);
    return 2;
  }
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (listen(lfd, 4096) < 0) die("listen");
  socklen_t len = sizeof addr;
  if (getsockname(lfd, (struct sockaddr *)&addr, &len) < 0) die("getsockname");

  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  watch(lfd, EPOLL_CTL_ADD, EPOLLIN);
  nconns = 1024;
  conns = calloc(nconns, sizeof *conns);
  if (conns == NULL) die("calloc");

  printf("listening on %s:%d\n", host, ntohs(addr.sin_port));
  fflush(stdout);

  struct epoll_event events[MAX_EVENTS];
  while (!stop) {
    int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        on_acceptable(lfd);
        continue;
      }
      struct conn *c = conns[fd];
      if (c == NULL) continue; /* dropped earlier in this batch */
      if ((events[i].events & EPOLLOUT) && !on_writable(c)) continue;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (c->len == 0) on_readable(c);
        else if (events[i].events & (EPOLLHUP | EPOLLERR)) drop(c);
      }
    }
  }
  return 0;
}
