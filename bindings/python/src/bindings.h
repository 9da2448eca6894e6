/*
 * Internal declarations shared by the C files of the _slim_bindings
 * extension module. The extension uses only libslim's public headers.
 */
#ifndef SLIM_PY_BINDINGS_H
#define SLIM_PY_BINDINGS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <slim/log.h>
#include <slim/session.h>
#include <slim/slim.h>

/* The PyName type (pyname.c). */
extern PyTypeObject slim_py_name_type;

/* Readies PyName and adds it to module. 0, or -1 with an exception set. */
int slim_py_name_init(PyObject *module);

/* A 128-bit id as a Python int (new reference), NULL with an exception. */
PyObject *slim_py_id_to_int(slim_id id);

/* An int-like object in 0..2**128-1 to an id. 0, or -1 with TypeError or
 * OverflowError set; *out is written only on success. */
int slim_py_id_from_int(PyObject *obj, slim_id *out);

/* PyMessageContext (message.c). */
extern PyTypeObject slim_py_message_type;
int slim_py_message_init(PyObject *module);

/* A (PyMessageContext, bytes) tuple that owns m from now on (m is freed
 * on failure too). NULL with an exception. */
PyObject *slim_py_message_take(slim_message *m);

/* The message of a PyMessageContext (borrowed), NULL with TypeError. */
const slim_message *slim_py_message_ptr(PyObject *obj);

/* A PyName from "org/ns/service[/id]" ("" gives PyName("", "", "")). */
PyObject *slim_py_name_from_text(const char *text);

/* _App (app.c). */
int slim_py_app_init(PyObject *module);

/* _slim_bindings._StatusError(code, name, text): a libslim status raised
 * by the extension; the Python layer turns it into the exception the API
 * promises (module.c). */
extern PyObject *slim_py_status_error;

#endif
