/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * _ebpfaccel: the C API, one Python function per C function, same names.
 *
 * Nothing here names a library function: headers.i (generated at build time
 * from the installed header list) %includes every public header, so a
 * function added to a header is wrapped by the next build.  What this file
 * adds are rules by C type or parameter name, which keep holding as the API
 * grows:
 *   - a negative int/ssize_t result, or a NULL pointer result with errno
 *     set, raises (OSError, or what the `ebpfaccel` package installs with
 *     py_set_error_factory) carrying the errno, the library's description
 *     and the last warning the library logged during the call;
 *   - (const void *buf, size_t len) takes any bytes-like object,
 *     (void *buf, size_t len) any writable one (bytearray, memoryview);
 *   - (char *buf, size_t size|len) output strings become the return value;
 *   - parameters named fd, sock_fd, cgroup_fd, in_fd, out_fd take an int or
 *     any object with fileno() (socket.socket, open files);
 *   - structs that start with `size_t sz` get a constructor that sets sz,
 *     and (struct x *stats, size_t sz) gets sizeof(struct x) itself;
 *   - iteration callbacks (fn, void *ctx) take a Python callable;
 *   - u16_array(n) builds the arrays options point to (ports),
 *     str_array(seq) the arrays of strings (servers, prefixes).
 * Strings set in options structs are copied by SWIG and not freed: a few
 * bytes per options object.
 */
%module(package="ebpfaccel") _ebpfaccel

%begin %{
#define PY_SSIZE_T_CLEAN
%}

%{
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ebpfaccel/ebpfaccel.h>

/* Per calling thread: errno right after the C call (before Python code can
 * clobber it) and the last warning the library printed during the call. */
static __thread int ebpfaccel_py_errno;
static __thread char ebpfaccel_py_warning[1024];

/* Python callables installed by the ebpfaccel package; NULL = defaults. */
static PyObject *ebpfaccel_py_error_factory;
static PyObject *ebpfaccel_py_log_handler;

/* Library calls, not the accessors SWIG writes for struct members (a
 * negative field value is data, not an error). */
static int ebpfaccel_py_is_call(const char *symname)
{
	size_t n = strlen(symname);

	if (strncmp(symname, "ebpfaccel_", 10) != 0)
		return 0;
	return n < 4 || (strcmp(symname + n - 4, "_get") && strcmp(symname + n - 4, "_set"));
}

/* Set the Python error for library error @err (positive errno value). */
static void ebpfaccel_py_set_error(int err)
{
	char msg[256];
	PyObject *exc;

	/* An exception raised by a Python callback wins: it is the cause. */
	if (PyErr_Occurred())
		return;
	ebpfaccel_strerror(err, msg, sizeof(msg));
	if (ebpfaccel_py_error_factory)
		exc = PyObject_CallFunction(ebpfaccel_py_error_factory, "iss", err, msg,
					    ebpfaccel_py_warning);
	else
		exc = PyObject_CallFunction(PyExc_OSError, "is", err, msg);
	if (!exc)
		return;
	PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
}

static int ebpfaccel_py_print(enum ebpfaccel_print_level level, const char *fmt, va_list ap)
{
	char msg[sizeof(ebpfaccel_py_warning)];
	PyGILState_STATE gil;
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	if (level == EBPFACCEL_WARN)
		memcpy(ebpfaccel_py_warning, msg, n + 1);
	/* Library threads may still log while the interpreter shuts down. */
	if (!Py_IsInitialized() || _Py_IsFinalizing())
		return 0;
	gil = PyGILState_Ensure();
	if (ebpfaccel_py_log_handler) {
		PyObject *r = PyObject_CallFunction(ebpfaccel_py_log_handler, "is", (int)level, msg);

		if (r)
			Py_DECREF(r);
		else
			PyErr_WriteUnraisable(ebpfaccel_py_log_handler);
	}
	PyGILState_Release(gil);
	return 0;
}

static void ebpfaccel_py_replace(PyObject **slot, PyObject *obj)
{
	PyObject *old = *slot;

	*slot = obj == Py_None ? NULL : obj;
	Py_XINCREF(*slot);
	Py_XDECREF(old);
}
%}

/* What the headers use that SWIG needs only the names of. */
#define EBPFACCEL_API
#define __attribute__(x)
%include <stdint.i>
typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;
typedef int32_t __s32;
typedef uint16_t __be16;
typedef uint32_t __be32;
typedef long ssize_t;
typedef long off_t;

%exception {
	ebpfaccel_py_warning[0] = '\0';
	errno = 0;
	$action
	ebpfaccel_py_errno = errno;
}

%typemap(out) int {
	if ($1 < 0 && ebpfaccel_py_is_call("$symname")) {
		ebpfaccel_py_set_error(-$1);
		SWIG_fail;
	}
	$result = PyLong_FromLong($1);
}

%typemap(out) ssize_t {
	if ($1 < 0 && ebpfaccel_py_is_call("$symname")) {
		ebpfaccel_py_set_error((int)-$1);
		SWIG_fail;
	}
	$result = PyLong_FromSsize_t($1);
}

%typemap(out) SWIGTYPE * {
	if (!$1 && ebpfaccel_py_errno && ebpfaccel_py_is_call("$symname")) {
		ebpfaccel_py_set_error(ebpfaccel_py_errno);
		SWIG_fail;
	}
	$result = SWIG_NewPointerObj(SWIG_as_voidptr($1), $descriptor, $owner);
}

%typemap(out) const char *, char * {
	if (!$1 && ebpfaccel_py_errno && ebpfaccel_py_is_call("$symname")) {
		ebpfaccel_py_set_error(ebpfaccel_py_errno);
		SWIG_fail;
	}
	$result = SWIG_FromCharPtr($1);
}

%define EBPFACCEL_BUFFER(DECL, FLAGS)
%typemap(in) (DECL, size_t len) (Py_buffer view) {
	if (PyObject_GetBuffer($input, &view, FLAGS) < 0)
		SWIG_fail;
	$1 = view.buf;
	$2 = (size_t)view.len;
}
%typemap(arginit) (DECL, size_t len) "view$argnum.obj = NULL;"
%typemap(freearg) (DECL, size_t len) {
	if (view$argnum.obj)
		PyBuffer_Release(&view$argnum);
}
%enddef
EBPFACCEL_BUFFER(const void *buf, PyBUF_SIMPLE)
EBPFACCEL_BUFFER(void *buf, PyBUF_WRITABLE)

/* A socket address (struct in_addr / in6_addr): bytes from inet_pton(). */
%typemap(in) const void *addr (Py_buffer view) {
	if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) < 0)
		SWIG_fail;
	$1 = view.buf;
}
%typemap(arginit) const void *addr "view$argnum.obj = NULL;"
%typemap(freearg) const void *addr {
	if (view$argnum.obj)
		PyBuffer_Release(&view$argnum);
}

/* A file offset to start from: None (the file position) or an int; the
 * advanced offset is not returned (use the file position to track it). */
%typemap(in) off_t *offset (off_t temp) {
	if ($input == Py_None) {
		$1 = NULL;
	} else {
		temp = (off_t)PyLong_AsLongLong($input);
		if (temp == -1 && PyErr_Occurred())
			SWIG_fail;
		$1 = &temp;
	}
}

%define EBPFACCEL_STRING_OUT(SIZE)
%typemap(in, numinputs=0) (char *buf, size_t SIZE) (char temp[1024]) {
	temp[0] = '\0';
	$1 = temp;
	$2 = sizeof(temp);
}
%typemap(argout) (char *buf, size_t SIZE) {
	Py_XDECREF($result);
	$result = PyUnicode_DecodeUTF8($1, strlen($1), "replace");
}
%enddef
EBPFACCEL_STRING_OUT(size)
EBPFACCEL_STRING_OUT(len)

/* (char *why, size_t why_sz): the call returns (its int result, why) */
%typemap(in, numinputs=0) (char *why, size_t why_sz) (char temp[256]) {
	temp[0] = '\0';
	$1 = temp;
	$2 = sizeof(temp);
}
%typemap(argout) (char *why, size_t why_sz) {
	$result = Py_BuildValue("(NN)", $result,
				PyUnicode_DecodeUTF8($1, strlen($1), "replace"));
}

%typemap(in) int fd, int sock_fd, int cgroup_fd, int in_fd, int out_fd {
	$1 = PyObject_AsFileDescriptor($input);
	if ($1 < 0)
		SWIG_fail;
}

/* (struct T *stats|st|out, size_t sz): the size of the caller's struct is sizeof(T).
 * Generated for every public struct. */
%define EBPFACCEL_SIZE_ARG(T)
%typemap(in) (struct T *stats, size_t sz), (struct T *st, size_t sz), (struct T *out, size_t sz) {
	void *argp = NULL;
	int res = SWIG_ConvertPtr($input, &argp, $1_descriptor, 0);

	if (!SWIG_IsOK(res))
		SWIG_exception_fail(SWIG_ArgError(res), "in method '$symname', expected struct T");
	$1 = (struct T *)argp;
	$2 = sizeof(struct T);
}
%enddef

/* Iteration callbacks int (*fn)(const struct T *, void *ctx), with their
 * ctx: any Python callable, called with a copy of the struct it may keep.
 * A true result stops the iteration; an exception stops it and is raised
 * by the iterating call. */
%define EBPFACCEL_CALLBACK(FN, T)
%{
static int FN ## _py_trampoline(const struct T *st, void *ctx)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	struct T *copy = malloc(sizeof(*copy));
	PyObject *obj, *res;
	int ret = -ECANCELED;

	if (!copy) {
		PyErr_NoMemory();
		goto out;
	}
	*copy = *st;
	obj = SWIG_Python_NewPointerObj(NULL, copy, SWIGTYPE_p_ ## T, SWIG_POINTER_OWN);
	res = obj ? PyObject_CallFunctionObjArgs((PyObject *)ctx, obj, NULL) : NULL;
	Py_XDECREF(obj);
	if (res) {
		ret = PyObject_IsTrue(res) ? 1 : 0;
		Py_DECREF(res);
	}
out:
	PyGILState_Release(gil);
	return ret;
}
%}
%typemap(in) (FN fn, void *ctx) {
	if (!PyCallable_Check($input)) {
		PyErr_SetString(PyExc_TypeError, "in method '$symname', expected a callable");
		SWIG_fail;
	}
	$1 = FN ## _py_trampoline;
	$2 = $input;
}
%enddef

/* Fixed-size array fields (per direction counters, addresses) read as
 * tuples of values, bytes for byte arrays, tuples of struct copies. */
%define EBPFACCEL_ARRAY_OUT(TYPES, CONVERT)
%typemap(out) TYPES {
	$result = PyTuple_New($1_dim0);
	for (size_t i = 0; $result && i < $1_dim0; i++)
		PyTuple_SET_ITEM($result, i, CONVERT($1[i]));
}
%enddef
EBPFACCEL_ARRAY_OUT(%arg(int [ANY], int16_t [ANY], int32_t [ANY], int64_t [ANY]), PyLong_FromLongLong)
EBPFACCEL_ARRAY_OUT(%arg(unsigned int [ANY], uint16_t [ANY], uint32_t [ANY], uint64_t [ANY]), PyLong_FromUnsignedLongLong)
EBPFACCEL_ARRAY_OUT(%arg(double [ANY], float [ANY]), PyFloat_FromDouble)
%typemap(out) uint8_t [ANY], unsigned char [ANY] {
	$result = PyBytes_FromStringAndSize((const char *)$1, $1_dim0);
}
%typemap(out) SWIGTYPE [ANY] {
	$result = PyTuple_New($1_dim0);
	for (size_t i = 0; $result && i < $1_dim0; i++) {
		$*1_ltype *copy = malloc(sizeof(*copy));

		if (!copy) {
			Py_CLEAR($result);
			PyErr_NoMemory();
			break;
		}
		*copy = $1[i];
		PyTuple_SET_ITEM($result, i, SWIG_Python_NewPointerObj(NULL, copy, SWIG_TypeQuery("$*1_ltype *"), SWIG_POINTER_OWN));
	}
	if (!$result)
		SWIG_fail;
}

/* ... and are set from sequences of numbers. */
%define EBPFACCEL_ARRAY_IN(TYPE, CONVERT)
%typemap(in) TYPE [ANY] (TYPE temp[$1_dim0]) {
	PyObject *seq = PySequence_Fast($input, "expected a sequence");

	if (!seq)
		SWIG_fail;
	if (PySequence_Fast_GET_SIZE(seq) != $1_dim0) {
		Py_DECREF(seq);
		PyErr_SetString(PyExc_ValueError, "expected $1_dim0 items");
		SWIG_fail;
	}
	for (size_t i = 0; i < $1_dim0; i++)
		temp[i] = (TYPE)CONVERT(PySequence_Fast_GET_ITEM(seq, i));
	Py_DECREF(seq);
	if (PyErr_Occurred())
		SWIG_fail;
	$1 = temp;
}
%enddef
EBPFACCEL_ARRAY_IN(uint64_t, PyLong_AsUnsignedLongLong)
EBPFACCEL_ARRAY_IN(uint32_t, PyLong_AsUnsignedLong)
EBPFACCEL_ARRAY_IN(double, PyFloat_AsDouble)

/* Arrays of ports etc. for options that take a pointer and a count. */
%include <carrays.i>
%array_class(uint16_t, u16_array);
%array_class(struct ebpfaccel_auto_candidate, auto_candidate_array);

/* Arrays of strings for options that take a pointer and a count (the near
 * cache's servers and prefixes): str_array(sequence of str) copies them,
 * and they live as long as the object; .cast() is what the option takes. */
%inline %{
struct str_array {
	size_t n;
	char **v;
};
%}
%extend str_array {
	str_array(PyObject *items) {
		PyObject *seq = PySequence_Fast(items, "str_array wants a sequence of str");
		struct str_array *a;
		Py_ssize_t n;

		if (!seq)
			return NULL;
		n = PySequence_Fast_GET_SIZE(seq);
		a = calloc(1, sizeof(*a));
		if (a)
			a->v = calloc(n + 1, sizeof(char *));
		for (Py_ssize_t i = 0; a && a->v && i < n; i++, a->n++) {
			const char *s = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));

			if (!s || !(a->v[i] = strdup(s)))
				break;
		}
		Py_DECREF(seq);
		if (!a || !a->v || a->n != (size_t)n) {
			if (!PyErr_Occurred())
				PyErr_NoMemory();
			if (a) {
				for (size_t i = 0; a->v && i < a->n; i++)
					free(a->v[i]);
				free(a->v);
				free(a);
			}
			return NULL;
		}
		return a;
	}
	~str_array() {
		for (size_t i = 0; i < $self->n; i++)
			free($self->v[i]);
		free($self->v);
		free($self);
	}
	const char *const *cast() {
		return (const char *const *)$self->v;
	}
}

%define EBPFACCEL_SIZED(T)
%extend T {
	T() {
		struct T *o = calloc(1, sizeof(*o));

		if (o)
			o->sz = sizeof(*o);
		return o;
	}
	~T() {
		free($self);
	}
}
%enddef

%include "headers.i"

/* The print callback to pass to ebpfaccel_set_print(): it keeps the last
 * warning for the exceptions and forwards messages to py_set_log_handler's
 * callable as (level, message). */
%constant ebpfaccel_print_fn_t python_print = ebpfaccel_py_print;

%noexception py_set_error_factory;
%noexception py_set_log_handler;
%noexception py_last_warning;
%inline %{
/* callable(errno, message, warning) -> exception instance, or None. */
void py_set_error_factory(PyObject *factory)
{
	ebpfaccel_py_replace(&ebpfaccel_py_error_factory, factory);
}

/* callable(level, message), or None. */
void py_set_log_handler(PyObject *handler)
{
	ebpfaccel_py_replace(&ebpfaccel_py_log_handler, handler);
}

/* The last warning logged by the library during this thread's last call. */
const char *py_last_warning(void)
{
	return ebpfaccel_py_warning;
}
%}
