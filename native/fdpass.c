/*
 * Passing fds between processes over a Unix stream socket (SCM_RIGHTS).
 *
 * One message on the wire:  [ length: uint32 LE ][ payload: length bytes of UTF-8 ]
 *                            ^ the fd rides on this first byte (ancillary data)
 * Both calls are non-blocking (MSG_DONTWAIT) whatever the socket's mode: sendFd throws EAGAIN
 * when the socket buffer is full, recvFd returns null when nothing has arrived. A message is
 * small (payload at most 16 KiB), so the kernel queues it whole or not at all.
 *
 * The sender keeps its fd (close it when you no longer need it); the receiver gets a new,
 * close-on-exec fd for the same open file description.
 */
#include "polyloop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PAYLOAD (16 * 1024)
#define MAX_FDS 8 /* room for a sender that is not polyloop and sends several */

/* SCM_RIGHTS needs a Unix socket: anything else would drop the fd silently (TCP) or fail. */
static bool check_unix(napi_env env, int sock, const char *call) {
  int domain = 0;
  socklen_t len = sizeof domain;
  char what[96];
  if (getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) {
    snprintf(what, sizeof what, "%s(%d)", call, sock);
    pl_throw_errno(env, "PL_ERR_NATIVE", errno, "getsockopt", what);
    return false;
  }
  if (domain != AF_UNIX) {
    snprintf(what, sizeof what, "%s(%d): the fd is not a Unix socket", call, sock);
    pl_throw(env, "PL_ERR_INVALID_ARG", what);
    return false;
  }
  return true;
}

/* sendFd(unixSocketFd, fd, payload = '') */
static napi_value js_send_fd(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3] = {NULL, NULL, NULL};
  int sock, fd;
  PL_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!pl_arg_fd(env, argv[0], "sendFd(unixSocketFd)", &sock) ||
      !pl_arg_fd(env, argv[1], "sendFd(unixSocketFd, fd)", &fd) ||
      !check_unix(env, sock, "sendFd"))
    return NULL;
  char *message = malloc(4 + MAX_PAYLOAD + 1);
  if (message == NULL) return pl_throw(env, "PL_ERR_NATIVE", "sendFd: out of memory");
  size_t length = 0;
  napi_valuetype type = napi_undefined;
  if (argc >= 3 && argv[2] != NULL) napi_typeof(env, argv[2], &type);
  if (type == napi_string) {
    size_t needed = 0;
    if (napi_get_value_string_utf8(env, argv[2], NULL, 0, &needed) != napi_ok ||
        needed > MAX_PAYLOAD) {
      free(message);
      return pl_throw_arg(env, "sendFd(..., payload)", "a string of at most 16 KiB in UTF-8",
                          argv[2]);
    }
    napi_get_value_string_utf8(env, argv[2], message + 4, MAX_PAYLOAD + 1, &length);
  } else if (type != napi_undefined) {
    free(message);
    return pl_throw_arg(env, "sendFd(..., payload)", "a string", argv[2]);
  }
  uint32_t n = (uint32_t)length;
  message[0] = (char)(n & 0xff);
  message[1] = (char)((n >> 8) & 0xff);
  message[2] = (char)((n >> 16) & 0xff);
  message[3] = (char)((n >> 24) & 0xff);

  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {message, 4 + length};
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);

  ssize_t sent;
  do sent = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  int err = errno;
  free(message);
  char what[96];
  if (sent < 0) {
    snprintf(what, sizeof what, "sendFd(%d, %d)", sock, fd);
    return pl_throw_errno(env, err == EPIPE || err == ECONNRESET ? "PL_ERR_CONNECTION_RESET"
                                                                   : "PL_ERR_NATIVE",
                          err, "sendmsg", what);
  }
  if ((size_t)sent != 4 + length) {
    /* Cannot happen for a message this small; if it does, the stream is out of step. */
    snprintf(what, sizeof what, "sendFd(%d, %d): short write (%zd of %zu bytes)", sock, fd, sent,
             4 + length);
    return pl_throw(env, "PL_ERR_NATIVE", what);
  }
  return NULL;
}

/* Receives exactly `length` payload bytes that must already be queued. */
static bool recv_exact(int sock, char *buf, size_t length, int *err) {
  size_t got = 0;
  while (got < length) {
    ssize_t n = recv(sock, buf + got, length - got, MSG_DONTWAIT);
    if (n > 0) {
      got += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    *err = n == 0 ? 0 : errno;
    return false;
  }
  return true;
}

/* recvFd(unixSocketFd) -> { fd, payload } | null when nothing has arrived. */
static napi_value js_recv_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  int sock;
  PL_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!pl_arg_fd(env, argv[0], "recvFd(unixSocketFd)", &sock) || !check_unix(env, sock, "recvFd"))
    return NULL;

  unsigned char header[4];
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
  } control;
  struct iovec iov = {header, sizeof header};
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  char what[128];
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_value null_value;
      PL_CHECK(env, napi_get_null(env, &null_value));
      return null_value;
    }
    snprintf(what, sizeof what, "recvFd(%d)", sock);
    return pl_throw_errno(env, errno == ECONNRESET ? "PL_ERR_CONNECTION_RESET" : "PL_ERR_NATIVE",
                          errno, "recvmsg", what);
  }
  if (n == 0) {
    snprintf(what, sizeof what, "recvFd(%d): the peer closed the socket", sock);
    return pl_throw(env, "PL_ERR_NOT_CONNECTED", what);
  }
  /* Take every fd that arrived, so that none leaks whatever happens next. */
  int fds[MAX_FDS], count = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k && count < MAX_FDS; i++)
      memcpy(&fds[count++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
  }
  const char *problem = NULL;
  uint32_t length = 0;
  char *payload = NULL;
  int err = 0;
  if (n != (ssize_t)sizeof header) {
    problem = "a message shorter than its 4-byte header";
  } else {
    length = (uint32_t)header[0] | (uint32_t)header[1] << 8 | (uint32_t)header[2] << 16 |
             (uint32_t)header[3] << 24;
    if (length > MAX_PAYLOAD) problem = "a payload length over 16 KiB (not a polyloop sender?)";
    else if ((payload = malloc(length + 1)) == NULL) problem = "out of memory";
    else if (!recv_exact(sock, payload, length, &err)) problem = "a payload cut short";
    else if (msg.msg_flags & MSG_CTRUNC) problem = "more fds than it can take (MSG_CTRUNC)";
    else if (count != 1) problem = count == 0 ? "a message without an fd" : "several fds";
  }
  if (problem != NULL) {
    for (int i = 0; i < count; i++) close(fds[i]);
    free(payload);
    snprintf(what, sizeof what, "recvFd(%d): received %s", sock, problem);
    return pl_throw(env, "PL_ERR_BAD_FRAME", what);
  }
  napi_value result, fd_v, payload_v;
  napi_status s = napi_create_object(env, &result);
  if (s == napi_ok) s = napi_create_int32(env, fds[0], &fd_v);
  if (s == napi_ok) s = napi_create_string_utf8(env, payload, length, &payload_v);
  if (s == napi_ok) s = napi_set_named_property(env, result, "fd", fd_v);
  if (s == napi_ok) s = napi_set_named_property(env, result, "payload", payload_v);
  free(payload);
  if (s != napi_ok) {
    close(fds[0]);
    return pl_throw_napi(env, "recvFd: building the result");
  }
  return result;
}

/* socketPair() -> [fd, fd]: a connected AF_UNIX stream pair, close-on-exec. */
static napi_value js_socket_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return pl_throw_errno(env, "PL_ERR_NATIVE", errno, "socketpair", "socketPair()");
  napi_value result, a, b;
  napi_status s = napi_create_array_with_length(env, 2, &result);
  if (s == napi_ok) s = napi_create_int32(env, sv[0], &a);
  if (s == napi_ok) s = napi_create_int32(env, sv[1], &b);
  if (s == napi_ok) s = napi_set_element(env, result, 0, a);
  if (s == napi_ok) s = napi_set_element(env, result, 1, b);
  if (s != napi_ok) {
    close(sv[0]);
    close(sv[1]);
    return pl_throw_napi(env, "socketPair: building the result");
  }
  return result;
}

napi_status pl_init_fdpass(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sendFd", NULL, js_send_fd, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"recvFd", NULL, js_recv_fd, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"socketPair", NULL, js_socket_pair, NULL, NULL, NULL, napi_default_jsproperty, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
