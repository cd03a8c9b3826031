/*
 * polyloop native layer: shared declarations.
 *
 * Threading: every function here runs on the thread of the Node environment (main thread or
 * worker thread) that owns `env`. Nothing is shared between environments: per-environment state
 * lives in the instance data (napi_set_instance_data), so the addon can be loaded by any number
 * of worker threads in one process.
 *
 * Errors: every failure becomes a JS error whose `code` is a PL_ERR_* code. When the loader has
 * installed its factory (setErrorFactory), that error is a PolyloopError; a failed system call
 * also carries `errno` ('EBADF') and `syscall` ('sendfile') and names both in the message.
 */
#ifndef POLYLOOP_H
#define POLYLOOP_H

#ifndef __linux__
#error "the polyloop native addon supports Linux only (accept4, sendfile, SCM_RIGHTS)"
#endif

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Largest integer a JS number holds exactly: offsets, lengths and counters stay below it. */
#define PL_MAX_SAFE_INTEGER 9007199254740991.0

/* Per-environment state; one per Node environment (thread) that loads the addon. */
typedef struct pl_instance {
  napi_ref error_factory; /* (code, message) => Error, installed by the loader; may be NULL */
  napi_ref acceptor_ctor;
  napi_ref task_ctor;
} pl_instance;

pl_instance *pl_instance_of(napi_env env);

/* ---- errors (polyloop.c) ------------------------------------------------------------------- */

/* Builds an error object; never throws. `err` is an errno value or 0; `syscall` may be NULL. */
napi_value pl_error(napi_env env, const char *code, int err, const char *syscall,
                    const char *message);
/* Throws PL_ERR_INVALID_ARG: "<what> must be <expected>; got <value>". Returns NULL. */
napi_value pl_throw_arg(napi_env env, const char *what, const char *expected, napi_value got);
/* Throws `code` for a failed system call: "<what>: EBADF (bad file descriptor)". Returns NULL. */
napi_value pl_throw_errno(napi_env env, const char *code, int err, const char *syscall,
                          const char *what);
/* Throws a plain `code` error with `message`. Returns NULL. */
napi_value pl_throw(napi_env env, const char *code, const char *message);
/* After a failed napi_* call: throws PL_ERR_NATIVE unless an exception is already pending. */
napi_value pl_throw_napi(napi_env env, const char *call);
/* The errno name ("EBADF") into buf. */
const char *pl_errno_name(int err, char *buf, size_t len);
/* Sets a number property; errors are ignored (used on freshly built error objects). */
void pl_set_number(napi_env env, napi_value obj, const char *name, double value);

/* Bails out of a napi_callback when a napi_* call fails, with the call in the message. */
#define PL_CHECK(env, call)                                                                    \
  do {                                                                                         \
    if ((call) != napi_ok) return pl_throw_napi((env), #call);                                 \
  } while (0)

/* ---- arguments (polyloop.c) ---------------------------------------------------------------- */

/* A file descriptor: an integer in [0, INT_MAX]. Throws PL_ERR_INVALID_ARG and returns false. */
bool pl_arg_fd(napi_env env, napi_value v, const char *what, int *out);
/* An integer in [min, max] (max at most 2^53 - 1). Throws and returns false otherwise. */
bool pl_arg_int(napi_env env, napi_value v, const char *what, double min, double max,
                double *out);
/* A function. Throws and returns false otherwise. */
bool pl_arg_function(napi_env env, napi_value v, const char *what);
/* The native object behind `this` of a method of class `cls` (napi_wrap), or NULL with a
 * PL_ERR_INVALID_ARG pending when `this` is not one. */
void *pl_unwrap_this(napi_env env, napi_callback_info info, const char *cls, const char *method);

/* ---- calling into JS from libuv callbacks (polyloop.c) ------------------------------------- */

/*
 * A libuv callback has no JS frame under it: open a handle scope and a callback scope (so that
 * promise reactions and process.nextTick callbacks run when it closes), and report a throwing
 * callback as an uncaught exception rather than leaving it pending.
 */
typedef struct pl_scope {
  napi_handle_scope handles;
  napi_callback_scope callback;
  bool ok;
} pl_scope;

void pl_scope_open(napi_env env, napi_async_context async, pl_scope *scope);
void pl_scope_close(napi_env env, pl_scope *scope);
/* Reports a pending exception (if any) as uncaught; for use after napi_make_callback. */
void pl_report_pending(napi_env env);

/* ---- the features (one file each) -------------------------------------------------------- */

napi_status pl_init_acceptor(napi_env env, napi_value exports, pl_instance *inst);
napi_status pl_init_sendfile(napi_env env, napi_value exports, pl_instance *inst);
napi_status pl_init_fdpass(napi_env env, napi_value exports);
napi_status pl_init_socket(napi_env env, napi_value exports);

#endif /* POLYLOOP_H */
