/*
 * sendFile(socketFd, fileFd, offset, length[, head]): sendfile(2) from a file to a non-blocking
 * socket, without blocking the loop. `head` (bytes, such as an HTTP response head) goes first,
 * with MSG_MORE: it leaves in the first full segment with the file's bytes instead of as a small
 * packet of its own, which on loopback made the reader handle the rest of the response in its
 * own softirq time and halved what one wrk thread could read (sendfile's own chunks already
 * carry MSG_MORE but the last).
 *
 *   call --> sendfile() until done / EAGAIN / 8 MiB --done--> promise resolves, no fd kept
 *                         | EAGAIN or budget spent
 *                         v
 *            dup(socket), dup(file); uv_poll_t(WRITABLE) on the socket's dup
 *                         | writable
 *                         +--> sendfile() on the dups ... --> close poll and dups, settle
 *
 * Why the dups: libuv allows one watcher per fd number in a loop, and the socket's own number
 * belongs to its net.Socket; the dups also keep our fd numbers valid even if the caller closes
 * theirs, so a reused number can never receive our bytes. After cancel() returns, the poll is
 * closed and both dups are closed: nothing touches the socket again.
 *
 * The socket must be non-blocking (every socket libuv or the acceptor made is). The caller must
 * not write to it while a transfer runs (the libuv write queue must be empty when it starts).
 * Call everything from the thread that started the transfer.
 */
#include "polyloop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define BUDGET ((int64_t)8 << 20)      /* bytes per wake-up: one big file cannot hold the loop */
#define MAX_CHUNK ((int64_t)0x7ffff000) /* the most Linux sends in one sendfile() call */

typedef struct task {
  napi_env env;
  napi_ref self;          /* from napi_wrap; strong while running (pinned) */
  napi_deferred deferred; /* NULL once settled */
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup;
  uv_poll_t poll;
  int socket_fd, file_fd; /* the caller's numbers, for messages only */
  int socket_dup, file_dup; /* ours while waiting, else -1 */
  bool waiting;             /* the poll is active; the dups are open */
  bool handle_open;         /* until the poll's close callback */
  bool pinned, wrapper_gone;
  int64_t offset, remaining;
  double sent, waits;
  char *head;      /* the part of the head not sent yet (malloc'd), or NULL */
  size_t head_len; /* bytes left at head + head_off */
  size_t head_off;
} task_t;

static void task_free(task_t *t) {
  free(t->head);
  free(t);
}

enum pump_result { PUMP_DONE, PUMP_AGAIN, PUMP_BUDGET, PUMP_EOF, PUMP_ERROR };

/* Sends what is left of the head; MSG_MORE holds it for the file bytes that follow. */
static enum pump_result pump_head(task_t *t, int out, int *err) {
  int flags = MSG_DONTWAIT | MSG_NOSIGNAL | (t->remaining > 0 ? MSG_MORE : 0);
  while (t->head_len > 0) {
    ssize_t n = send(out, t->head + t->head_off, t->head_len, flags);
    if (n >= 0) {
      t->head_off += (size_t)n;
      t->head_len -= (size_t)n;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return PUMP_AGAIN;
    *err = errno;
    return PUMP_ERROR;
  }
  free(t->head);
  t->head = NULL;
  return PUMP_DONE;
}

static enum pump_result pump(task_t *t, int out, int in, int *err) {
  int64_t budget = BUDGET;
  if (t->head != NULL) {
    enum pump_result r = pump_head(t, out, err);
    if (r != PUMP_DONE) return r;
  }
  while (t->remaining > 0) {
    if (budget <= 0) return PUMP_BUDGET;
    int64_t want = t->remaining < budget ? t->remaining : budget;
    if (want > MAX_CHUNK) want = MAX_CHUNK;
    off_t off = (off_t)t->offset;
    ssize_t n = sendfile(out, in, &off, (size_t)want);
    if (n > 0) {
      t->offset += n;
      t->remaining -= n;
      t->sent += (double)n;
      budget -= n;
      continue;
    }
    if (n == 0) return PUMP_EOF; /* the file is shorter than offset + length */
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return PUMP_AGAIN;
    *err = errno;
    return PUMP_ERROR;
  }
  return PUMP_DONE;
}

static void pin(task_t *t, bool on) {
  if (t->wrapper_gone || t->pinned == on) return;
  uint32_t count;
  if ((on ? napi_reference_ref : napi_reference_unref)(t->env, t->self, &count) == napi_ok)
    t->pinned = on;
}

static void on_closed(uv_handle_t *handle) {
  task_t *t = handle->data;
  t->handle_open = false;
  napi_remove_async_cleanup_hook(t->cleanup);
  napi_async_destroy(t->env, t->async);
  if (t->wrapper_gone) task_free(t);
}

/* Stops watching and closes the dups now; the poll handle finishes closing later. No JS. */
static void stop_io(task_t *t) {
  if (!t->waiting) return;
  t->waiting = false;
  /* uv_close takes the fd out of epoll (EPOLL_CTL_DEL) before it returns: closing the dup
   * right after is safe, and nothing watches or writes the socket any more. */
  uv_close((uv_handle_t *)&t->poll, on_closed);
  close(t->socket_dup);
  close(t->file_dup);
  t->socket_dup = t->file_dup = -1;
}

static void on_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  stop_io(arg); /* the promise stays pending: its environment is going away */
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  task_t *t = data;
  napi_delete_reference(env, t->self);
  t->self = NULL;
  t->wrapper_gone = true;
  stop_io(t);
  if (!t->handle_open) task_free(t);
}

/* Settles the promise: resolve with the byte count when code is NULL, else reject. */
static void settle(task_t *t, const char *code, int err, const char *message) {
  napi_env env = t->env;
  if (t->deferred == NULL) return;
  napi_value value = NULL;
  if (code == NULL) {
    napi_create_double(env, t->sent, &value);
  } else {
    value = pl_error(env, code, err, err != 0 ? "sendfile" : NULL, message);
    if (value != NULL) pl_set_number(env, value, "sent", t->sent);
  }
  if (value == NULL) napi_get_undefined(env, &value);
  if (code == NULL) napi_resolve_deferred(env, t->deferred, value);
  else napi_reject_deferred(env, t->deferred, value);
  t->deferred = NULL;
  pin(t, false);
}

static void settle_with(task_t *t, enum pump_result r, int err) {
  char message[256];
  if (r == PUMP_DONE) {
    settle(t, NULL, 0, NULL);
  } else if (r == PUMP_EOF) {
    snprintf(message, sizeof message,
             "sendFile(socket %d, file %d): the file ends at offset %lld, %lld bytes short of "
             "the requested length (was it truncated?)",
             t->socket_fd, t->file_fd, (long long)t->offset, (long long)t->remaining);
    settle(t, "PL_ERR_FILE_TRUNCATED", 0, message);
  } else {
    char name[64], text[128];
    snprintf(message, sizeof message, "sendFile(socket %d, file %d): %s (%s) after %.0f bytes",
             t->socket_fd, t->file_fd, pl_errno_name(err, name, sizeof name),
             uv_strerror_r(-err, text, sizeof text), t->sent);
    bool reset = err == EPIPE || err == ECONNRESET;
    settle(t, reset ? "PL_ERR_CONNECTION_RESET" : "PL_ERR_NATIVE", err, message);
  }
}

static void on_writable(uv_poll_t *handle, int status, int events) {
  (void)events;
  task_t *t = handle->data;
  if (!t->waiting) return;
  /* libuv reports POLLERR (e.g. the peer reset) as UV_EBADF and stops the handle: sendfile()
   * itself names the real error (ECONNRESET, EPIPE). */
  int err = 0;
  enum pump_result r = pump(t, t->socket_dup, t->file_dup, &err);
  if (r == PUMP_AGAIN) t->waits++;
  if (r == PUMP_AGAIN || r == PUMP_BUDGET) {
    if (status == 0) return; /* level-triggered: called again when writable */
    int again = uv_poll_start(&t->poll, UV_WRITABLE, on_writable);
    if (again == 0) return;
    r = PUMP_ERROR;
    err = -status;
  }
  stop_io(t);
  pl_scope scope;
  pl_scope_open(t->env, t->async, &scope);
  /* Settle even without a callback scope: a pending promise would be worse than a late one. */
  settle_with(t, r, err);
  pl_scope_close(t->env, &scope);
}

/* Takes the transfer off the caller's stack: dups, a poll on the socket's dup, a cleanup hook. */
static void go_async(napi_env env, task_t *t, napi_value self) {
  uv_loop_t *loop;
  int err = 0;
  const char *step = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    err = EINVAL;
    step = "napi_get_uv_event_loop";
  } else if ((t->socket_dup = fcntl(t->socket_fd, F_DUPFD_CLOEXEC, 0)) < 0 ||
             (t->file_dup = fcntl(t->file_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
    err = errno;
    step = "dup";
  } else {
    int r = uv_poll_init(loop, &t->poll, t->socket_dup);
    if (r != 0) {
      err = -r;
      step = "uv_poll_init";
    }
  }
  if (step != NULL) {
    if (t->socket_dup >= 0) close(t->socket_dup);
    if (t->file_dup >= 0) close(t->file_dup);
    t->socket_dup = t->file_dup = -1;
    char name[64], message[256];
    snprintf(message, sizeof message, "sendFile(socket %d, file %d): %s failed: %s", t->socket_fd,
             t->file_fd, step, pl_errno_name(err, name, sizeof name));
    napi_value error = pl_error(env, "PL_ERR_NATIVE", err, step, message);
    if (error == NULL) napi_get_undefined(env, &error);
    else pl_set_number(env, error, "sent", t->sent);
    napi_reject_deferred(env, t->deferred, error);
    t->deferred = NULL;
    return;
  }
  napi_value name;
  t->poll.data = t;
  t->handle_open = true;
  t->waiting = true;
  if (napi_create_string_utf8(env, "polyloop.sendFile", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, self, name, &t->async) != napi_ok)
    t->async = NULL; /* pl_scope_open then runs without a callback scope */
  napi_add_async_cleanup_hook(env, on_teardown, t, &t->cleanup);
  uv_poll_start(&t->poll, UV_WRITABLE, on_writable);
  pin(t, true);
}

static napi_value js_send_file(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5] = {NULL, NULL, NULL, NULL, NULL};
  int socket_fd, file_fd;
  double offset, length;
  PL_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!pl_arg_fd(env, argv[0], "sendFile(socketFd)", &socket_fd) ||
      !pl_arg_fd(env, argv[1], "sendFile(socketFd, fileFd)", &file_fd) ||
      !pl_arg_int(env, argv[2], "sendFile(..., offset)", 0, PL_MAX_SAFE_INTEGER, &offset) ||
      !pl_arg_int(env, argv[3], "sendFile(..., length)", 0, PL_MAX_SAFE_INTEGER, &length))
    return NULL;
  void *head = NULL;
  size_t head_len = 0;
  if (argc >= 5 && argv[4] != NULL) {
    napi_valuetype type;
    bool is_typed = false;
    PL_CHECK(env, napi_typeof(env, argv[4], &type));
    if (type != napi_undefined) {
      PL_CHECK(env, napi_is_typedarray(env, argv[4], &is_typed));
      napi_typedarray_type kind = napi_int8_array;
      if (is_typed)
        PL_CHECK(env, napi_get_typedarray_info(env, argv[4], &kind, &head_len, &head, NULL, NULL));
      if (!is_typed || kind != napi_uint8_array)
        return pl_throw_arg(env, "sendFile(..., head)", "a Uint8Array", argv[4]);
    }
  }
  char what[96];
  int flags = fcntl(socket_fd, F_GETFL);
  if (flags < 0) {
    snprintf(what, sizeof what, "sendFile(socketFd %d)", socket_fd);
    return pl_throw_errno(env, "PL_ERR_NATIVE", errno, "fcntl", what);
  }
  if (!(flags & O_NONBLOCK)) {
    /* sendfile() would block the whole thread until the peer reads. */
    snprintf(what, sizeof what, "sendFile(socketFd %d): the socket is in blocking mode", socket_fd);
    return pl_throw(env, "PL_ERR_INVALID_ARG", what);
  }
  if (fcntl(file_fd, F_GETFD) < 0) {
    snprintf(what, sizeof what, "sendFile(fileFd %d)", file_fd);
    return pl_throw_errno(env, "PL_ERR_NATIVE", errno, "fcntl", what);
  }
  pl_instance *inst = pl_instance_of(env);
  if (inst == NULL || inst->task_ctor == NULL)
    return pl_throw(env, "PL_ERR_NATIVE", "sendFile: the addon is not initialized");
  napi_value ctor, self, promise;
  PL_CHECK(env, napi_get_reference_value(env, inst->task_ctor, &ctor));
  PL_CHECK(env, napi_new_instance(env, ctor, 0, NULL, &self));

  task_t *t = calloc(1, sizeof *t);
  if (t == NULL) return pl_throw(env, "PL_ERR_NATIVE", "sendFile: out of memory");
  t->env = env;
  t->socket_fd = socket_fd;
  t->file_fd = file_fd;
  t->socket_dup = t->file_dup = -1;
  t->offset = (int64_t)offset;
  t->remaining = (int64_t)length;
  if (head_len > 0) {
    /* A copy: the JS bytes may be reused once this returns, the transfer may go on later. */
    t->head = malloc(head_len);
    if (t->head == NULL) {
      free(t);
      return pl_throw(env, "PL_ERR_NATIVE", "sendFile: out of memory");
    }
    memcpy(t->head, head, head_len);
    t->head_len = head_len;
  }
  if (napi_create_promise(env, &t->deferred, &promise) != napi_ok) {
    task_free(t);
    return pl_throw_napi(env, "napi_create_promise");
  }
  if (napi_wrap(env, self, t, finalize, NULL, &t->self) != napi_ok) {
    napi_value result = pl_throw_napi(env, "napi_wrap");
    napi_value ignored;
    napi_get_undefined(env, &ignored);
    napi_reject_deferred(env, t->deferred, ignored); /* frees the deferred */
    task_free(t);
    return result;
  }
  napi_property_descriptor prop = {"promise", NULL, NULL, NULL, NULL, promise, napi_enumerable,
                                   NULL};
  PL_CHECK(env, napi_define_properties(env, self, 1, &prop));

  /* First try on the caller's stack: small files usually finish here, with no dup at all. */
  int err = 0;
  enum pump_result r = pump(t, socket_fd, file_fd, &err);
  if (r == PUMP_AGAIN) t->waits++;
  if (r == PUMP_AGAIN || r == PUMP_BUDGET) go_async(env, t, self);
  else settle_with(t, r, err);
  return self;
}

static task_t *unwrap_this(napi_env env, napi_callback_info info, const char *method) {
  return pl_unwrap_this(env, info, "SendFileTask", method);
}

/* cancel() -> true when it stopped a running transfer (the promise rejects PL_ERR_CANCELLED). */
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  task_t *t = unwrap_this(env, info, "cancel");
  if (t == NULL) return NULL;
  bool running = t->deferred != NULL;
  if (running) {
    stop_io(t);
    char message[160];
    snprintf(message, sizeof message, "sendFile(socket %d, file %d): cancelled after %.0f bytes",
             t->socket_fd, t->file_fd, t->sent);
    settle(t, "PL_ERR_CANCELLED", 0, message);
  }
  napi_value result;
  PL_CHECK(env, napi_get_boolean(env, running, &result));
  return result;
}

static napi_value js_sent(napi_env env, napi_callback_info info) {
  task_t *t = unwrap_this(env, info, "sent");
  napi_value result;
  if (t == NULL) return NULL;
  PL_CHECK(env, napi_create_double(env, t->sent, &result));
  return result;
}

static napi_value js_waits(napi_env env, napi_callback_info info) {
  task_t *t = unwrap_this(env, info, "waits");
  napi_value result;
  if (t == NULL) return NULL;
  PL_CHECK(env, napi_create_double(env, t->waits, &result));
  return result;
}

static napi_value js_settled(napi_env env, napi_callback_info info) {
  task_t *t = unwrap_this(env, info, "settled");
  napi_value result;
  if (t == NULL) return NULL;
  PL_CHECK(env, napi_get_boolean(env, t->deferred == NULL, &result));
  return result;
}

static napi_value js_constructor(napi_env env, napi_callback_info info) {
  napi_value target = NULL;
  PL_CHECK(env, napi_get_new_target(env, info, &target));
  if (target == NULL) return pl_throw(env, "PL_ERR_INVALID_ARG", "SendFileTask needs new");
  return NULL; /* wrapped by sendFile(); a task made any other way has no transfer */
}

napi_status pl_init_sendfile(napi_env env, napi_value exports, pl_instance *inst) {
  napi_property_descriptor methods[] = {
      {"cancel", NULL, js_cancel, NULL, NULL, NULL, napi_default_method, NULL},
      {"sent", NULL, NULL, js_sent, NULL, NULL, napi_enumerable, NULL},
      {"waits", NULL, NULL, js_waits, NULL, NULL, napi_enumerable, NULL},
      {"settled", NULL, NULL, js_settled, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value ctor, fn;
  napi_status s = napi_define_class(env, "SendFileTask", NAPI_AUTO_LENGTH, js_constructor, NULL,
                                    sizeof methods / sizeof methods[0], methods, &ctor);
  if (s != napi_ok) return s;
  if ((s = napi_create_reference(env, ctor, 1, &inst->task_ctor)) != napi_ok) return s;
  if ((s = napi_create_function(env, "sendFile", NAPI_AUTO_LENGTH, js_send_file, NULL, &fn)) !=
      napi_ok)
    return s;
  if ((s = napi_set_named_property(env, exports, "sendFile", fn)) != napi_ok) return s;
  /* Tells the loader that sendFile takes a head (an older build ignores a fifth argument). */
  napi_value yes;
  if ((s = napi_get_boolean(env, true, &yes)) != napi_ok) return s;
  return napi_set_named_property(env, exports, "sendFileHead", yes);
}
