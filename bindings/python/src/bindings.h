/*
 * Internal declarations shared by the C files of the _slim_bindings
 * extension module. The extension uses only libslim's public headers.
 */
#ifndef SLIM_PY_BINDINGS_H
#define SLIM_PY_BINDINGS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

#endif
