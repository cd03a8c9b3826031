/*
 * Acceptor: accepts connections on a listening fd in batches, driven by a uv_poll_t on the
 * loop of the environment (thread) that created it.
 *
 *   listening fd --readable--> accept4() x up to 64 --> callback(Int32Array fds, string[] peers)
 *                                  | EMFILE/ENFILE
 *                                  v
 *          close the spare fd, accept4(), close the new fd at once, reopen the spare  (shed++)
 *
 * Ownership: the acceptor never owns the listening fd (close the acceptor, then the fd); every
 * accepted fd belongs to the callback from the moment it is called. The poll and back-off
 * handles live until their uv_close callbacks; the struct lives until both those callbacks ran
 * and the JS wrapper was finalized. While started, the wrapper is held strongly, so a running
 * acceptor is never collected. At environment teardown (a worker thread exiting) an async
 * cleanup hook closes the handles, so the loop can close with nothing left open.
 *
 * Call every method only from the thread that created the acceptor.
 */
#include "polyloop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64          /* connections accepted per wake-up */
#define BACKOFF_MS 100    /* pause when no spare fd can help (EMFILE and no spare, ENOBUFS) */
#define PEER_LEN (INET6_ADDRSTRLEN + 10)

typedef struct acceptor {
  napi_env env;
  napi_ref self;      /* from napi_wrap; strong only while started (pinned) */
  napi_ref callback;  /* strong */
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup;
  uv_poll_t poll;
  uv_timer_t backoff;
  int listen_fd;
  int spare_fd;       /* /dev/null, given up on EMFILE so that one accept4() can succeed */
  int open_handles;   /* poll and timer, until their close callbacks ran */
  bool started;       /* the user wants it running (start() called, stop() not since) */
  bool watching;      /* the poll handle is active */
  bool pinned;        /* self holds one strong reference */
  bool closing;       /* uv_close() issued; no method does anything any more */
  bool wrapper_gone;  /* the JS object was finalized */
  int last_error;
  double accepted, shed, errors;
} acceptor_t;

static int open_spare(void) {
  return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void pin(acceptor_t *a, bool on) {
  if (a->wrapper_gone || a->pinned == on) return;
  uint32_t count;
  if ((on ? napi_reference_ref : napi_reference_unref)(a->env, a->self, &count) == napi_ok)
    a->pinned = on;
}

static void on_readable(uv_poll_t *handle, int status, int events);

static int watch_start(acceptor_t *a) {
  if (a->watching) return 0;
  int r = uv_poll_start(&a->poll, UV_READABLE, on_readable);
  if (r == 0) a->watching = true;
  return r;
}

static void watch_stop(acceptor_t *a) {
  if (a->watching) uv_poll_stop(&a->poll);
  a->watching = false;
  uv_timer_stop(&a->backoff);
}

static void on_closed(uv_handle_t *handle) {
  acceptor_t *a = handle->data;
  if (--a->open_handles > 0) return;
  napi_remove_async_cleanup_hook(a->cleanup);
  napi_delete_reference(a->env, a->callback);
  napi_async_destroy(a->env, a->async);
  a->callback = NULL;
  if (a->wrapper_gone) free(a);
}

/* Stops everything and closes the handles; safe to call more than once, and without JS. */
static void begin_close(acceptor_t *a) {
  if (a->closing) return;
  watch_stop(a);
  a->started = false;
  a->closing = true;
  pin(a, false);
  if (a->spare_fd >= 0) close(a->spare_fd);
  a->spare_fd = -1;
  uv_close((uv_handle_t *)&a->poll, on_closed);
  uv_close((uv_handle_t *)&a->backoff, on_closed);
}

/* The environment is going away (e.g. a worker thread exits): close without calling JS. */
static void on_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  begin_close(arg); /* on_closed removes the hook, which lets the teardown go on */
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  acceptor_t *a = data;
  napi_delete_reference(env, a->self);
  a->self = NULL;
  a->wrapper_gone = true;
  if (!a->closing) begin_close(a);
  else if (a->open_handles == 0) free(a);
}

/* A failure that accepting again cannot fix (the fd was closed, is no longer listening). The
 * caller counts it. */
static void fail(acceptor_t *a, int err) {
  a->last_error = err;
  watch_stop(a);
  a->started = false;
  pin(a, false);
}

static void on_backoff(uv_timer_t *timer) {
  acceptor_t *a = timer->data;
  if (a->spare_fd < 0) a->spare_fd = open_spare();
  if (!a->started || a->closing) return;
  int r = watch_start(a);
  if (r != 0) {
    a->errors++;
    fail(a, -r);
  }
}

static void back_off(acceptor_t *a) {
  if (a->watching) uv_poll_stop(&a->poll);
  a->watching = false;
  uv_timer_start(&a->backoff, on_backoff, BACKOFF_MS, 0);
}

enum shed_result { SHED_ONE, SHED_NOTHING_PENDING, SHED_STUCK };

/* Out of fds: free the spare's slot, accept into it and close at once, so the peer gets a FIN
 * instead of waiting in the backlog forever, and the poll stops firing for it. */
static enum shed_result shed_one(acceptor_t *a) {
  if (a->spare_fd < 0) a->spare_fd = open_spare();
  if (a->spare_fd < 0) return SHED_STUCK;
  close(a->spare_fd);
  a->spare_fd = -1;
  int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  int err = errno;
  if (fd >= 0) {
    close(fd);
    a->shed++;
  }
  a->spare_fd = open_spare();
  if (fd >= 0) return SHED_ONE;
  if (err == EAGAIN || err == EWOULDBLOCK) return SHED_NOTHING_PENDING;
  return SHED_STUCK; /* another thread took the slot first */
}

static void format_peer(const struct sockaddr_storage *ss, char *out, size_t len) {
  char ip[INET6_ADDRSTRLEN] = "";
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof ip);
    snprintf(out, len, "%s:%u", ip, (unsigned)ntohs(v4->sin_port));
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof ip);
    snprintf(out, len, "[%s]:%u", ip, (unsigned)ntohs(v6->sin6_port));
  } else {
    out[0] = '\0'; /* a Unix socket peer is unnamed */
  }
}

static void close_all(const int *fds, int n) {
  for (int i = 0; i < n; i++) close(fds[i]);
}

/* Calls back once for the batch. The fds belong to JS from here on. */
static void deliver(acceptor_t *a, const int *fds, char (*peers)[PEER_LEN], int n) {
  napi_env env = a->env;
  pl_scope scope;
  pl_scope_open(env, a->async, &scope);
  napi_value buffer, array, names, self, callback, argv[2];
  void *data = NULL;
  bool ok = scope.ok && !a->wrapper_gone &&
            napi_create_arraybuffer(env, (size_t)n * sizeof(int32_t), &data, &buffer) == napi_ok &&
            napi_create_typedarray(env, napi_int32_array, (size_t)n, buffer, 0, &array) ==
                napi_ok &&
            napi_create_array_with_length(env, (size_t)n, &names) == napi_ok &&
            napi_get_reference_value(env, a->self, &self) == napi_ok && self != NULL &&
            napi_get_reference_value(env, a->callback, &callback) == napi_ok && callback != NULL;
  for (int i = 0; ok && i < n; i++) {
    napi_value name;
    ((int32_t *)data)[i] = fds[i];
    ok = napi_create_string_utf8(env, peers[i], NAPI_AUTO_LENGTH, &name) == napi_ok &&
         napi_set_element(env, names, (uint32_t)i, name) == napi_ok;
  }
  napi_status status = napi_generic_failure;
  if (ok) {
    argv[0] = array;
    argv[1] = names;
    /* The receiver must be an object: with undefined, napi_make_callback fails. */
    status = napi_make_callback(env, a->async, self, callback, 2, argv, NULL);
  }
  /* When the callback never ran, nobody else will close these fds. A callback that threw got
   * them (and is reported as an uncaught exception by pl_scope_close). */
  if (status != napi_ok && status != napi_pending_exception) close_all(fds, n);
  pl_scope_close(env, &scope);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  acceptor_t *a = handle->data;
  if (status < 0) {
    /* libuv reports POLLERR as UV_EBADF and stops the handle. accept4() below names a real
     * failure (and stops for good on a fatal one); otherwise watch again after a pause. */
    int err = -status;
    socklen_t len = sizeof err;
    getsockopt(a->listen_fd, SOL_SOCKET, SO_ERROR, &err, &len);
    a->errors++;
    a->last_error = err != 0 ? err : -status;
    back_off(a);
  }
  int fds[BATCH];
  char peers[BATCH][PEER_LEN];
  int n = 0;
  for (int attempt = 0; n < BATCH && attempt < 2 * BATCH; attempt++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(a->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      format_peer(&ss, peers[n], PEER_LEN);
      fds[n++] = fd;
      a->accepted++;
      continue;
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) break;
    if (err == EINTR || err == ECONNABORTED) continue;
    if (err == EMFILE || err == ENFILE) {
      a->last_error = err;
      enum shed_result r = shed_one(a);
      if (r == SHED_ONE) continue;
      if (r == SHED_STUCK) {
        a->errors++;
        back_off(a);
      }
      break;
    }
    a->errors++;
    a->last_error = err;
    if (err == EBADF || err == ENOTSOCK || err == EINVAL || err == EFAULT) {
      fail(a, err);
      break;
    }
    if (err == ENOBUFS || err == ENOMEM) {
      back_off(a);
      break;
    }
    /* Otherwise a network error pending on that one connection (EPROTO, EPERM, ...): the
     * connection is gone, the next one may be fine. */
  }
  if (n > 0) deliver(a, fds, peers, n);
}

/* ---- JS methods --------------------------------------------------------------------------- */

static acceptor_t *unwrap_this(napi_env env, napi_callback_info info, const char *method) {
  return pl_unwrap_this(env, info, "Acceptor", method);
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  acceptor_t *a = unwrap_this(env, info, "start");
  if (a == NULL) return NULL;
  if (a->closing) return pl_throw(env, "PL_ERR_SERVER_CLOSED", "Acceptor.start: it is closed");
  if (a->started) return NULL;
  int r = watch_start(a);
  if (r != 0) {
    char what[160];
    snprintf(what, sizeof what,
             r == UV_EEXIST ? "Acceptor.start (fd %d): another handle of this thread watches the "
                              "fd; give each acceptor its own dup()"
                            : "Acceptor.start (fd %d)",
             a->listen_fd);
    return pl_throw_errno(env, "PL_ERR_NATIVE", -r, "uv_poll_start", what);
  }
  a->started = true;
  pin(a, true);
  return NULL;
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  acceptor_t *a = unwrap_this(env, info, "stop");
  if (a == NULL || a->closing || !a->started) return NULL;
  watch_stop(a);
  a->started = false;
  pin(a, false);
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  acceptor_t *a = unwrap_this(env, info, "close");
  if (a != NULL) begin_close(a);
  return NULL;
}

static napi_value number(napi_env env, double v) {
  napi_value result;
  PL_CHECK(env, napi_create_double(env, v, &result));
  return result;
}

static napi_value boolean(napi_env env, bool v) {
  napi_value result;
  PL_CHECK(env, napi_get_boolean(env, v, &result));
  return result;
}

static napi_value js_accepted(napi_env env, napi_callback_info info) {
  acceptor_t *a = unwrap_this(env, info, "accepted");
  return a == NULL ? NULL : number(env, a->accepted);
}

static napi_value js_shed(napi_env env, napi_callback_info info) {
  acceptor_t *a = unwrap_this(env, info, "shed");
  return a == NULL ? NULL : number(env, a->shed);
}

static napi_value js_errors(napi_env env, napi_callback_info info) {
  acceptor_t *a = unwrap_this(env, info, "errors");
  return a == NULL ? NULL : number(env, a->errors);
}

static napi_value js_active(napi_env env, napi_callback_info info) {
  acceptor_t *a = unwrap_this(env, info, "active");
  return a == NULL ? NULL : boolean(env, a->started);
}

static napi_value js_closed(napi_env env, napi_callback_info info) {
  acceptor_t *a = unwrap_this(env, info, "closed");
  return a == NULL ? NULL : boolean(env, a->closing);
}

static napi_value js_fd(napi_env env, napi_callback_info info) {
  acceptor_t *a = unwrap_this(env, info, "fd");
  return a == NULL ? NULL : number(env, a->listen_fd);
}

static napi_value js_last_error(napi_env env, napi_callback_info info) {
  acceptor_t *a = unwrap_this(env, info, "lastError");
  if (a == NULL) return NULL;
  napi_value result;
  if (a->last_error == 0) {
    PL_CHECK(env, napi_get_null(env, &result));
  } else {
    char name[64];
    pl_errno_name(a->last_error, name, sizeof name);
    PL_CHECK(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &result));
  }
  return result;
}

/* new Acceptor(listenFd, callback): only through createAcceptor(). */
static napi_value js_constructor(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL}, self, target = NULL;
  int fd;
  PL_CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  PL_CHECK(env, napi_get_new_target(env, info, &target));
  if (target == NULL) return pl_throw(env, "PL_ERR_INVALID_ARG", "Acceptor needs new");
  if (!pl_arg_fd(env, argv[0], "createAcceptor(listenFd)", &fd) ||
      !pl_arg_function(env, argv[1], "createAcceptor(listenFd, callback)"))
    return NULL;

  char what[96];
  int listening = 0;
  socklen_t len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) {
    snprintf(what, sizeof what, "createAcceptor(%d)", fd);
    return pl_throw_errno(env, "PL_ERR_NATIVE", errno, "getsockopt", what);
  }
  if (!listening) {
    snprintf(what, sizeof what, "createAcceptor(%d): the fd is not a listening socket", fd);
    return pl_throw(env, "PL_ERR_INVALID_ARG", what);
  }
  uv_loop_t *loop;
  PL_CHECK(env, napi_get_uv_event_loop(env, &loop));

  acceptor_t *a = calloc(1, sizeof *a);
  if (a == NULL) return pl_throw(env, "PL_ERR_NATIVE", "createAcceptor: out of memory");
  a->env = env;
  a->listen_fd = fd;
  a->spare_fd = open_spare();
  napi_value name;
  if (napi_create_string_utf8(env, "polyloop.Acceptor", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &a->callback) != napi_ok) {
    if (a->spare_fd >= 0) close(a->spare_fd);
    free(a);
    return pl_throw_napi(env, "napi_create_reference");
  }
  if (napi_async_init(env, self, name, &a->async) != napi_ok) {
    napi_delete_reference(env, a->callback);
    if (a->spare_fd >= 0) close(a->spare_fd);
    free(a);
    return pl_throw_napi(env, "napi_async_init");
  }
  /* uv_poll_init fails with EEXIST when a handle of this loop already watches the fd. */
  int r = uv_poll_init(loop, &a->poll, fd);
  if (r != 0) {
    napi_async_destroy(env, a->async);
    napi_delete_reference(env, a->callback);
    if (a->spare_fd >= 0) close(a->spare_fd);
    free(a);
    snprintf(what, sizeof what,
             r == UV_EEXIST ? "createAcceptor(%d): another handle of this thread watches the fd; "
                              "give each acceptor its own dup()"
                            : "createAcceptor(%d)",
             fd);
    return pl_throw_errno(env, "PL_ERR_NATIVE", -r, "uv_poll_init", what);
  }
  uv_timer_init(loop, &a->backoff);
  a->poll.data = a;
  a->backoff.data = a;
  a->open_handles = 2;
  if (napi_add_async_cleanup_hook(env, on_teardown, a, &a->cleanup) != napi_ok ||
      napi_wrap(env, self, a, finalize, NULL, &a->self) != napi_ok) {
    napi_value result = pl_throw_napi(env, "napi_wrap");
    a->wrapper_gone = true; /* no JS object will finalize it: on_closed frees it */
    begin_close(a);
    return result;
  }
  return NULL;
}

/* createAcceptor(listenFd, callback) -> Acceptor (stopped; call start()). */
static napi_value js_create_acceptor(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL}, ctor, result;
  PL_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  pl_instance *inst = pl_instance_of(env);
  if (inst == NULL || inst->acceptor_ctor == NULL)
    return pl_throw(env, "PL_ERR_NATIVE", "createAcceptor: the addon is not initialized");
  PL_CHECK(env, napi_get_reference_value(env, inst->acceptor_ctor, &ctor));
  napi_value args[2];
  napi_get_undefined(env, &args[0]);
  args[1] = args[0];
  for (size_t i = 0; i < argc && i < 2; i++) args[i] = argv[i];
  PL_CHECK(env, napi_new_instance(env, ctor, 2, args, &result));
  return result;
}

napi_status pl_init_acceptor(napi_env env, napi_value exports, pl_instance *inst) {
  napi_property_descriptor methods[] = {
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default_method, NULL},
      {"stop", NULL, js_stop, NULL, NULL, NULL, napi_default_method, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default_method, NULL},
      {"accepted", NULL, NULL, js_accepted, NULL, NULL, napi_enumerable, NULL},
      {"shed", NULL, NULL, js_shed, NULL, NULL, napi_enumerable, NULL},
      {"errors", NULL, NULL, js_errors, NULL, NULL, napi_enumerable, NULL},
      {"active", NULL, NULL, js_active, NULL, NULL, napi_enumerable, NULL},
      {"closed", NULL, NULL, js_closed, NULL, NULL, napi_enumerable, NULL},
      {"fd", NULL, NULL, js_fd, NULL, NULL, napi_enumerable, NULL},
      {"lastError", NULL, NULL, js_last_error, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value ctor, create;
  napi_status s = napi_define_class(env, "Acceptor", NAPI_AUTO_LENGTH, js_constructor, NULL,
                                    sizeof methods / sizeof methods[0], methods, &ctor);
  if (s != napi_ok) return s;
  if ((s = napi_create_reference(env, ctor, 1, &inst->acceptor_ctor)) != napi_ok) return s;
  if ((s = napi_create_function(env, "createAcceptor", NAPI_AUTO_LENGTH, js_create_acceptor,
                                NULL, &create)) != napi_ok)
    return s;
  return napi_set_named_property(env, exports, "createAcceptor", create);
}
