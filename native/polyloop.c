/*
 * polyloop native layer: module set-up, per-environment state, errors, argument checks.
 * The features live in socket.c, acceptor.c, sendfile.c and fdpass.c.
 */
#include "polyloop.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- per-environment state ---------------------------------------------------------------- */

pl_instance *pl_instance_of(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return data;
}

static void instance_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  pl_instance *inst = data;
  if (inst->error_factory != NULL) napi_delete_reference(env, inst->error_factory);
  if (inst->acceptor_ctor != NULL) napi_delete_reference(env, inst->acceptor_ctor);
  if (inst->task_ctor != NULL) napi_delete_reference(env, inst->task_ctor);
  free(inst);
}

/* ---- errors ------------------------------------------------------------------------------- */

const char *pl_errno_name(int err, char *buf, size_t len) {
  return uv_err_name_r(-err, buf, len); /* libuv's codes are -errno on Unix */
}

void pl_set_number(napi_env env, napi_value obj, const char *name, double value) {
  napi_value v;
  if (napi_create_double(env, value, &v) == napi_ok) napi_set_named_property(env, obj, name, v);
}

static void set_string(napi_env env, napi_value obj, const char *name, const char *value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, obj, name, v);
}

napi_value pl_error(napi_env env, const char *code, int err, const char *syscall,
                    const char *message) {
  napi_value code_v, message_v, error = NULL;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_v) != napi_ok)
    return NULL;
  /* The loader's factory makes a PolyloopError; without it (addon required directly) an Error. */
  pl_instance *inst = pl_instance_of(env);
  napi_value factory = NULL, global, result;
  if (inst != NULL && inst->error_factory != NULL &&
      napi_get_reference_value(env, inst->error_factory, &factory) == napi_ok &&
      factory != NULL && napi_get_global(env, &global) == napi_ok) {
    napi_value argv[2] = {code_v, message_v};
    napi_valuetype type = napi_undefined;
    if (napi_call_function(env, global, factory, 2, argv, &result) == napi_ok &&
        napi_typeof(env, result, &type) == napi_ok && type == napi_object) {
      error = result;
    } else {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  if (error == NULL && napi_create_error(env, code_v, message_v, &error) != napi_ok) return NULL;
  if (err != 0) {
    char name[64];
    set_string(env, error, "errno", pl_errno_name(err, name, sizeof name));
  }
  if (syscall != NULL) set_string(env, error, "syscall", syscall);
  return error;
}

napi_value pl_throw(napi_env env, const char *code, const char *message) {
  napi_value error = pl_error(env, code, 0, NULL, message);
  if (error != NULL) napi_throw(env, error);
  return NULL;
}

napi_value pl_throw_errno(napi_env env, const char *code, int err, const char *syscall,
                          const char *what) {
  char name[64], text[128], message[512];
  snprintf(message, sizeof message, "%s: %s (%s)", what, pl_errno_name(err, name, sizeof name),
           uv_strerror_r(-err, text, sizeof text));
  napi_value error = pl_error(env, code, err, syscall, message);
  if (error != NULL) napi_throw(env, error);
  return NULL;
}

napi_value pl_throw_napi(napi_env env, const char *call) {
  const napi_extended_error_info *info = NULL;
  char detail[160] = "unknown";
  /* Read the failure first: every later napi_* call overwrites it. */
  if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL &&
      info->error_message != NULL)
    snprintf(detail, sizeof detail, "%s", info->error_message);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return NULL;
  char message[512];
  snprintf(message, sizeof message, "N-API call failed: %s (%s)", call, detail);
  return pl_throw(env, "PL_ERR_NATIVE", message);
}

/* A short rendering of a JS value for messages: 12, "abc", undefined, object. */
static void describe(napi_env env, napi_value v, char *buf, size_t len) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok) {
    snprintf(buf, len, "an unknown value");
    return;
  }
  switch (type) {
  case napi_number: {
    double d = 0;
    napi_get_value_double(env, v, &d);
    if (isnan(d)) snprintf(buf, len, "NaN");
    else if (isinf(d)) snprintf(buf, len, d > 0 ? "Infinity" : "-Infinity");
    else snprintf(buf, len, "%.17g", d);
    return;
  }
  case napi_string: {
    char s[44];
    size_t n = 0;
    napi_get_value_string_utf8(env, v, s, sizeof s, &n);
    snprintf(buf, len, "\"%s%s\"", s, n >= sizeof s - 1 ? "..." : "");
    return;
  }
  case napi_boolean: {
    bool b = false;
    napi_get_value_bool(env, v, &b);
    snprintf(buf, len, b ? "true" : "false");
    return;
  }
  case napi_undefined: snprintf(buf, len, "undefined"); return;
  case napi_null: snprintf(buf, len, "null"); return;
  case napi_function: snprintf(buf, len, "a function"); return;
  case napi_bigint: snprintf(buf, len, "a bigint"); return;
  case napi_symbol: snprintf(buf, len, "a symbol"); return;
  default: {
    bool array = false;
    napi_is_array(env, v, &array);
    snprintf(buf, len, array ? "an array" : "an object");
    return;
  }
  }
}

napi_value pl_throw_arg(napi_env env, const char *what, const char *expected, napi_value got) {
  char seen[96], message[512];
  if (got == NULL) snprintf(seen, sizeof seen, "nothing");
  else describe(env, got, seen, sizeof seen);
  snprintf(message, sizeof message, "%s must be %s; got %s", what, expected, seen);
  return pl_throw(env, "PL_ERR_INVALID_ARG", message);
}

/* ---- arguments ---------------------------------------------------------------------------- */

bool pl_arg_int(napi_env env, napi_value v, const char *what, double min, double max,
                double *out) {
  napi_valuetype type = napi_undefined;
  double d = 0;
  if (v == NULL || napi_typeof(env, v, &type) != napi_ok || type != napi_number ||
      napi_get_value_double(env, v, &d) != napi_ok || !isfinite(d) || d != trunc(d) || d < min ||
      d > max) {
    char expected[96];
    snprintf(expected, sizeof expected, "an integer from %.17g to %.17g", min, max);
    pl_throw_arg(env, what, expected, v);
    return false;
  }
  *out = d;
  return true;
}

bool pl_arg_fd(napi_env env, napi_value v, const char *what, int *out) {
  napi_valuetype type = napi_undefined;
  double d = -1;
  if (v == NULL || napi_typeof(env, v, &type) != napi_ok || type != napi_number ||
      napi_get_value_double(env, v, &d) != napi_ok || !isfinite(d) || d != trunc(d) || d < 0 ||
      d > INT_MAX) {
    pl_throw_arg(env, what, "a file descriptor (a non-negative integer)", v);
    return false;
  }
  *out = (int)d;
  return true;
}

bool pl_arg_function(napi_env env, napi_value v, const char *what) {
  napi_valuetype type = napi_undefined;
  if (v == NULL || napi_typeof(env, v, &type) != napi_ok || type != napi_function) {
    pl_throw_arg(env, what, "a function", v);
    return false;
  }
  return true;
}

/* ---- calling into JS from libuv callbacks ------------------------------------------------- */

void pl_report_pending(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return;
  napi_value exception;
  if (napi_get_and_clear_last_exception(env, &exception) == napi_ok)
    napi_fatal_exception(env, exception); /* 'uncaughtException', as for any callback */
}

void pl_scope_open(napi_env env, napi_async_context async, pl_scope *scope) {
  scope->handles = NULL;
  scope->callback = NULL;
  scope->ok = false;
  if (napi_open_handle_scope(env, &scope->handles) != napi_ok) return;
  if (async == NULL) { /* napi_async_init failed earlier: go on without a callback scope */
    scope->ok = true;
    return;
  }
  napi_value resource;
  if (napi_create_object(env, &resource) != napi_ok ||
      napi_open_callback_scope(env, resource, async, &scope->callback) != napi_ok)
    return;
  scope->ok = true;
}

void pl_scope_close(napi_env env, pl_scope *scope) {
  pl_report_pending(env);
  /* Closing the outermost callback scope runs process.nextTick callbacks and microtasks. */
  if (scope->callback != NULL) napi_close_callback_scope(env, scope->callback);
  if (scope->handles != NULL) napi_close_handle_scope(env, scope->handles);
}

/* ---- module ------------------------------------------------------------------------------- */

/* setErrorFactory(fn): fn(code, message) returns the error object to throw or reject with. */
static napi_value js_set_error_factory(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  PL_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!pl_arg_function(env, argv[0], "setErrorFactory(factory)")) return NULL;
  pl_instance *inst = pl_instance_of(env);
  if (inst == NULL) return pl_throw(env, "PL_ERR_NATIVE", "polyloop: instance data is missing");
  napi_ref ref;
  PL_CHECK(env, napi_create_reference(env, argv[0], 1, &ref));
  if (inst->error_factory != NULL) napi_delete_reference(env, inst->error_factory);
  inst->error_factory = ref;
  return NULL;
}

NAPI_MODULE_INIT() {
  pl_instance *inst = calloc(1, sizeof *inst);
  if (inst == NULL) {
    napi_throw_error(env, "PL_ERR_NATIVE", "polyloop: out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, inst, instance_finalize, NULL) != napi_ok) {
    free(inst);
    return pl_throw_napi(env, "napi_set_instance_data");
  }
  napi_property_descriptor props[] = {
      {"setErrorFactory", NULL, js_set_error_factory, NULL, NULL, NULL, napi_default_jsproperty,
       NULL},
  };
  if (napi_define_properties(env, exports, 1, props) != napi_ok)
    return pl_throw_napi(env, "napi_define_properties");
  if (pl_init_socket(env, exports) != napi_ok) return pl_throw_napi(env, "pl_init_socket");
  if (pl_init_acceptor(env, exports, inst) != napi_ok)
    return pl_throw_napi(env, "pl_init_acceptor");
  if (pl_init_sendfile(env, exports, inst) != napi_ok)
    return pl_throw_napi(env, "pl_init_sendfile");
  if (pl_init_fdpass(env, exports) != napi_ok) return pl_throw_napi(env, "pl_init_fdpass");
  return exports;
}

void *pl_unwrap_this(napi_env env, napi_callback_info info, const char *cls, const char *method) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok ||
      napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    char what[96], expected[64];
    snprintf(what, sizeof what, "%s.%s: this", cls, method);
    snprintf(expected, sizeof expected, "a%s %s", strchr("AEIOU", cls[0]) ? "n" : "", cls);
    pl_throw_arg(env, what, expected, self);
    return NULL;
  }
  return data;
}
