/*
 * getter: a keep-alive HTTP/1.1 GET load generator for large responses, one thread, epoll.
 *
 *   getter HOST PORT PATH CONNECTIONS SECONDS
 *
 * wrk reads 8 KiB per read(2), so at gigabytes per second its own syscalls, not the server,
 * set the pace; getter reads up to 1 MiB at a time, so the server under test stays the
 * bottleneck. Each connection sends one request, reads the head (Content-Length only; no
 * chunked bodies), discards the body, and sends the next. At the end it prints one JSON line in
 * the format of wrk-report.lua: requests, bytes, durationUs, errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BYTES (1 << 20)
#define HEAD_MAX 8192

struct conn {
  int fd;
  char head[HEAD_MAX];
  size_t headLen;
  long long bodyLeft; /* -1 while reading the head */
};

static char request[1024];
static size_t requestLen;
static long long requests, bytes;
static struct {
  long long connect, read, write, status, timeout;
} errors;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sendRequest(struct conn *c) {
  c->headLen = 0;
  c->bodyLeft = -1;
  ssize_t n = send(c->fd, request, requestLen, MSG_NOSIGNAL);
  if (n != (ssize_t)requestLen) {
    errors.write++;
    return -1;
  }
  return 0;
}

/* Parses the head in c->head; returns the bytes it spans, 0 if incomplete, -1 if bad. */
static long parseHead(struct conn *c) {
  char *end = memmem(c->head, c->headLen, "\r\n\r\n", 4);
  if (end == NULL) return c->headLen == HEAD_MAX ? -1 : 0;
  if (c->headLen < 12 || memcmp(c->head, "HTTP/1.1 200", 12) != 0) {
    errors.status++;
    return -1;
  }
  *end = '\0';
  char *cl = strcasestr(c->head, "\r\ncontent-length:");
  if (cl == NULL) return -1;
  c->bodyLeft = strtoll(cl + 17, NULL, 10);
  return (end - c->head) + 4;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: getter HOST PORT PATH CONNECTIONS SECONDS\n");
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  int count = atoi(argv[4]);
  double seconds = atof(argv[5]);
  requestLen = (size_t)snprintf(request, sizeof request,
                                "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", argv[3], host, port);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "getter: bad IPv4 address %s\n", host);
    return 2;
  }
  char *sink = malloc(READ_BYTES);
  struct conn *conns = calloc((size_t)count, sizeof *conns);
  int ep = epoll_create1(0);
  if (sink == NULL || conns == NULL || ep < 0) return 1;
  int open = 0;
  for (int i = 0; i < count; i++) {
    struct conn *c = &conns[i];
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
      errors.connect++;
      close(c->fd);
      c->fd = -1;
      continue;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    if (sendRequest(c) == 0) open++;
  }
  double start = now();
  double deadline = start + seconds;
  struct epoll_event events[256];
  while (open > 0) {
    double left = deadline - now();
    if (left <= 0) break;
    int n = epoll_wait(ep, events, 256, (int)(left * 1000) + 1);
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c->fd < 0) continue;
      ssize_t got;
      if (c->bodyLeft < 0) {
        got = recv(c->fd, c->head + c->headLen, HEAD_MAX - c->headLen, 0);
        if (got > 0) {
          c->headLen += (size_t)got;
          long used = parseHead(c);
          if (used == 0) continue;
          if (used > 0) {
            long long extra = (long long)c->headLen - used;
            bytes += got;
            if (extra <= c->bodyLeft) {
              c->bodyLeft -= extra;
              if (c->bodyLeft == 0) {
                requests++;
                if (sendRequest(c) != 0) goto fail;
              }
              continue;
            }
          }
          errors.read++;
          goto fail;
        }
      } else {
        size_t want = c->bodyLeft < READ_BYTES ? (size_t)c->bodyLeft : READ_BYTES;
        got = recv(c->fd, sink, want, 0);
        if (got > 0) {
          bytes += got;
          c->bodyLeft -= got;
          if (c->bodyLeft == 0) {
            requests++;
            if (sendRequest(c) != 0) goto fail;
          }
          continue;
        }
      }
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      errors.read++;
    fail:
      close(c->fd);
      c->fd = -1;
      open--;
    }
  }
  double elapsed = now() - start;
  printf("{\"requests\":%lld,\"bytes\":%lld,\"durationUs\":%lld,\"errors\":{\"connect\":%lld,"
         "\"read\":%lld,\"write\":%lld,\"status\":%lld,\"timeout\":%lld}}\n",
         requests, bytes, (long long)(elapsed * 1e6), errors.connect, errors.read, errors.write,
         errors.status, errors.timeout);
  return 0;
}
