/*
 * Sockets and descriptors: listen() with chosen options, localPort(), dup(), close(), a direct
 * non-blocking send (writeBytes), and the RLIMIT_NOFILE limits. All synchronous; safe from any
 * thread's environment.
 */
#include "polyloop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_BACKLOG 511 /* as Node's net.Server */

/* Reads options[name] into *out when present; false (with an exception) on a wrong type. */
static bool opt_get(napi_env env, napi_value options, const char *name, napi_valuetype want,
                    napi_value *out, const char *expected) {
  *out = NULL;
  if (options == NULL) return true;
  napi_value v;
  napi_valuetype type;
  if (napi_get_named_property(env, options, name, &v) != napi_ok ||
      napi_typeof(env, v, &type) != napi_ok) {
    pl_throw_napi(env, "napi_get_named_property");
    return false;
  }
  if (type == napi_undefined) return true;
  if (type != want) {
    char what[64];
    snprintf(what, sizeof what, "listen() option %s", name);
    pl_throw_arg(env, what, expected, v);
    return false;
  }
  *out = v;
  return true;
}

static bool opt_bool(napi_env env, napi_value options, const char *name, bool fallback,
                     bool *out) {
  napi_value v;
  if (!opt_get(env, options, name, napi_boolean, &v, "a boolean")) return false;
  *out = fallback;
  if (v != NULL) napi_get_value_bool(env, v, out);
  return true;
}

static bool opt_int(napi_env env, napi_value options, const char *name, double fallback,
                    double max, double *out) {
  napi_value v;
  if (!opt_get(env, options, name, napi_number, &v, "a number")) return false;
  *out = fallback;
  if (v == NULL) return true;
  char what[64];
  snprintf(what, sizeof what, "listen() option %s", name);
  return pl_arg_int(env, v, what, 0, max, out);
}

/* Parses a numeric IPv4 or IPv6 address ("::1" or "[::1]") into addr. */
static bool parse_host(const char *host, uint16_t port, struct sockaddr_storage *addr,
                       socklen_t *len) {
  char bare[INET6_ADDRSTRLEN + 2];
  size_t n = strlen(host);
  if (n >= sizeof bare) return false;
  if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
    memcpy(bare, host + 1, n - 2);
    bare[n - 2] = '\0';
  } else {
    memcpy(bare, host, n + 1);
  }
  memset(addr, 0, sizeof *addr);
  struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
  if (inet_pton(AF_INET, bare, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof *v4;
    return true;
  }
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
  if (inet_pton(AF_INET6, bare, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof *v6;
    return true;
  }
  return false;
}

/*
 * listen({ host = '::', port = 0, backlog = 511, reuseAddr = true, reusePort = false,
 *          ipv6Only = false }) -> fd
 * The fd is non-blocking and close-on-exec; the caller owns it (close() it when done).
 */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL}, options = NULL;
  PL_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1 && argv[0] != NULL) {
    napi_valuetype type;
    PL_CHECK(env, napi_typeof(env, argv[0], &type));
    if (type == napi_object) options = argv[0];
    else if (type != napi_undefined)
      return pl_throw_arg(env, "listen(options)", "an object", argv[0]);
  }
  napi_value host_v;
  char host[64] = "::";
  double port, backlog;
  bool reuse_addr, reuse_port, v6only;
  if (!opt_get(env, options, "host", napi_string, &host_v, "a numeric IP address string") ||
      !opt_int(env, options, "port", 0, 65535, &port) ||
      !opt_int(env, options, "backlog", DEFAULT_BACKLOG, 2147483647.0, &backlog) ||
      !opt_bool(env, options, "reuseAddr", true, &reuse_addr) ||
      !opt_bool(env, options, "reusePort", false, &reuse_port) ||
      !opt_bool(env, options, "ipv6Only", false, &v6only))
    return NULL;
  bool host_given = host_v != NULL;
  if (host_given) {
    size_t n = 0;
    PL_CHECK(env, napi_get_value_string_utf8(env, host_v, host, sizeof host, &n));
  }
  struct sockaddr_storage addr;
  socklen_t addr_len;
  if (!parse_host(host, (uint16_t)port, &addr, &addr_len))
    return pl_throw_arg(env, "listen() option host", "a numeric IPv4 or IPv6 address", host_v);

  char where[128];
  snprintf(where, sizeof where, "listen on %s%s%s:%d", addr.ss_family == AF_INET6 ? "[" : "",
           host, addr.ss_family == AF_INET6 ? "]" : "", (int)port);
  char what[192];
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 && errno == EAFNOSUPPORT && !host_given) {
    /* No IPv6 on this host: the default '::' falls back to '0.0.0.0', as Node does. */
    parse_host("0.0.0.0", (uint16_t)port, &addr, &addr_len);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  }
  if (fd < 0) {
    snprintf(what, sizeof what, "%s: socket", where);
    return pl_throw_errno(env, "PL_ERR_LISTEN", errno, "socket", what);
  }
  int one = 1, v6 = v6only ? 1 : 0;
  const char *step = NULL;
  if (reuse_addr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    step = "setsockopt(SO_REUSEADDR)";
  else if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    step = "setsockopt(SO_REUSEPORT)";
  else if (addr.ss_family == AF_INET6 &&
           setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6) != 0)
    step = "setsockopt(IPV6_V6ONLY)";
  else if (bind(fd, (struct sockaddr *)&addr, addr_len) != 0)
    step = "bind";
  else if (listen(fd, (int)backlog) != 0)
    step = "listen";
  if (step != NULL) {
    int err = errno;
    close(fd);
    snprintf(what, sizeof what, "%s: %s", where, step);
    return pl_throw_errno(env, "PL_ERR_LISTEN", err,
                          strncmp(step, "setsockopt", 10) == 0 ? "setsockopt" : step, what);
  }
  napi_value result;
  PL_CHECK(env, napi_create_int32(env, fd, &result));
  return result;
}

/* localPort(fd) -> the port the socket is bound to (getsockname), so that port 0 works. */
static napi_value js_local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  int fd;
  PL_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!pl_arg_fd(env, argv[0], "localPort(fd)", &fd)) return NULL;
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
    char what[64];
    snprintf(what, sizeof what, "localPort(%d)", fd);
    return pl_throw_errno(env, "PL_ERR_NATIVE", errno, "getsockname", what);
  }
  int port = -1;
  if (addr.ss_family == AF_INET) port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
  else if (addr.ss_family == AF_INET6) port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
  if (port < 0) {
    char message[96];
    snprintf(message, sizeof message, "localPort(%d): not an IPv4 or IPv6 socket", fd);
    return pl_throw(env, "PL_ERR_INVALID_ARG", message);
  }
  napi_value result;
  PL_CHECK(env, napi_create_int32(env, port, &result));
  return result;
}

/* dup(fd) -> a new close-on-exec fd for the same open file description. */
static napi_value js_dup(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  int fd;
  PL_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!pl_arg_fd(env, argv[0], "dup(fd)", &fd)) return NULL;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    char what[64];
    snprintf(what, sizeof what, "dup(%d)", fd);
    return pl_throw_errno(env, "PL_ERR_NATIVE", errno, "fcntl", what);
  }
  napi_value result;
  PL_CHECK(env, napi_create_int32(env, copy, &result));
  return result;
}

/* close(fd). Never use it on an fd that a libuv handle (a net.Socket) owns. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  int fd;
  PL_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!pl_arg_fd(env, argv[0], "close(fd)", &fd)) return NULL;
  /* On Linux the fd is released even when close() reports EINTR: never retry. */
  if (close(fd) != 0 && errno != EINTR) {
    char what[64];
    snprintf(what, sizeof what, "close(%d)", fd);
    return pl_throw_errno(env, "PL_ERR_NATIVE", errno, "close", what);
  }
  return NULL;
}

/*
 * writeBytes(fd, bytes, offset, length) -> bytes sent, or -errno (-EAGAIN when the socket buffer
 * is full). One non-blocking send(2) of bytes[offset, offset + length), without SIGPIPE; a short
 * count means the socket buffer filled up. A failed send is a return value, not an exception:
 * the caller falls back to its queued write, which reports the error the usual way. Only a bad
 * argument throws.
 */
static napi_value js_write_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4] = {NULL, NULL, NULL, NULL};
  PL_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  if (!pl_arg_fd(env, argv[0], "writeBytes(fd, ...)", &fd)) return NULL;
  bool is_typed = false;
  if (argv[1] != NULL) napi_is_typedarray(env, argv[1], &is_typed);
  napi_typedarray_type kind = napi_int8_array;
  size_t size = 0;
  void *data = NULL;
  if (is_typed)
    PL_CHECK(env, napi_get_typedarray_info(env, argv[1], &kind, &size, &data, NULL, NULL));
  if (!is_typed || kind != napi_uint8_array)
    return pl_throw_arg(env, "writeBytes(fd, bytes, ...)", "a Uint8Array", argv[1]);
  double offset, length;
  if (!pl_arg_int(env, argv[2], "writeBytes(..., offset, ...)", 0, (double)size, &offset) ||
      !pl_arg_int(env, argv[3], "writeBytes(..., length)", 0, (double)size - offset, &length))
    return NULL;
  ssize_t n = 0;
  if (length > 0) {
    do {
      n = send(fd, (char *)data + (size_t)offset, (size_t)length, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) n = errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
  napi_value result;
  /* A single send(2) moves at most 0x7ffff000 bytes on Linux: the count fits a double anyway. */
  PL_CHECK(env, napi_create_double(env, (double)n, &result));
  return result;
}

static double limit_number(rlim_t v) {
  return v == RLIM_INFINITY ? INFINITY : (double)v;
}

static napi_value limits_object(napi_env env, const struct rlimit *rl) {
  napi_value result;
  if (napi_create_object(env, &result) != napi_ok) return pl_throw_napi(env, "napi_create_object");
  pl_set_number(env, result, "soft", limit_number(rl->rlim_cur));
  pl_set_number(env, result, "hard", limit_number(rl->rlim_max));
  return result;
}

/* getFdLimit() -> { soft, hard } for RLIMIT_NOFILE; RLIM_INFINITY is Infinity. */
static napi_value js_get_fd_limit(napi_env env, napi_callback_info info) {
  (void)info;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return pl_throw_errno(env, "PL_ERR_NATIVE", errno, "getrlimit", "getFdLimit()");
  return limits_object(env, &rl);
}

/* setFdLimit(soft) -> { soft, hard }: sets the soft limit, keeps the hard one. */
static napi_value js_set_fd_limit(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  PL_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype type = napi_undefined;
  double soft = 0;
  if (argv[0] != NULL) napi_typeof(env, argv[0], &type);
  if (type == napi_number) napi_get_value_double(env, argv[0], &soft);
  if (!(type == napi_number && soft == INFINITY) &&
      !pl_arg_int(env, argv[0], "setFdLimit(soft)", 0, PL_MAX_SAFE_INTEGER, &soft))
    return NULL;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return pl_throw_errno(env, "PL_ERR_NATIVE", errno, "getrlimit", "setFdLimit()");
  rl.rlim_cur = soft == INFINITY ? RLIM_INFINITY : (rlim_t)soft;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    char what[96];
    snprintf(what, sizeof what, "setFdLimit(%.17g) with hard limit %.17g", soft,
             limit_number(rl.rlim_max));
    return pl_throw_errno(env, "PL_ERR_NATIVE", errno, "setrlimit", what);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return pl_throw_errno(env, "PL_ERR_NATIVE", errno, "getrlimit", "setFdLimit()");
  return limits_object(env, &rl);
}

napi_status pl_init_socket(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"localPort", NULL, js_local_port, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"dup", NULL, js_dup, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"writeBytes", NULL, js_write_bytes, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"getFdLimit", NULL, js_get_fd_limit, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"setFdLimit", NULL, js_set_fd_limit, NULL, NULL, NULL, napi_default_jsproperty, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
