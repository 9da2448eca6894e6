/*
 * PyName: a SLIM name as a Python value (upstream: utils.rs).
 *
 * Holds the numeric slim_name (three XXH64 component hashes and a 128-bit
 * instance id, computed by libslim's slim_name_hash_component) and the three
 * text components as Python str objects. Equality and hashing use only the
 * numeric parts, as upstream's pyclass eq does; the text form is ours
 * (slim_name_format): "org/ns/svc", or "org/ns/svc/<uuid>" with an id.
 *
 * Components are hashed as given, with no checks: upstream accepts any
 * string, including the empty ones of PyName("", "", ""), which a
 * message context uses for "no destination".
 *
 * Objects are immutable except for the `id` property. All functions run with
 * the GIL held.
 */
#include "bindings.h"

#include <string.h>

typedef struct {
    PyObject ob_base; /* PyObject_HEAD */
    slim_name name;
    PyObject *strings[3]; /* str, owned */
} pyname;

/* 2**128 - 1, the largest id; created at module init. */
static PyObject *id_max;

PyObject *slim_py_id_to_int(slim_id id) {
    PyObject *hi = PyLong_FromUnsignedLongLong(id.hi);
    PyObject *lo = PyLong_FromUnsignedLongLong(id.lo);
    PyObject *sixty_four = PyLong_FromLong(64);
    PyObject *shifted = NULL, *out = NULL;
    if (hi != NULL && lo != NULL && sixty_four != NULL)
        shifted = PyNumber_Lshift(hi, sixty_four);
    if (shifted != NULL)
        out = PyNumber_Or(shifted, lo);
    Py_XDECREF(hi);
    Py_XDECREF(lo);
    Py_XDECREF(sixty_four);
    Py_XDECREF(shifted);
    return out;
}

int slim_py_id_from_int(PyObject *obj, slim_id *out) {
    PyObject *v = PyNumber_Index(obj);
    if (v == NULL)
        return -1;
    PyObject *zero = PyLong_FromLong(0);
    if (zero == NULL) {
        Py_DECREF(v);
        return -1;
    }
    int neg = PyObject_RichCompareBool(v, zero, Py_LT);
    Py_DECREF(zero);
    int big = neg == 0 ? PyObject_RichCompareBool(v, id_max, Py_GT) : 0;
    if (neg < 0 || big < 0) {
        Py_DECREF(v);
        return -1;
    }
    if (neg || big) {
        PyErr_SetString(PyExc_OverflowError, "id must be an int in 0..2**128-1");
        Py_DECREF(v);
        return -1;
    }
    slim_id id;
    id.lo = PyLong_AsUnsignedLongLongMask(v);
    PyObject *sixty_four = PyLong_FromLong(64);
    PyObject *hi = sixty_four != NULL ? PyNumber_Rshift(v, sixty_four) : NULL;
    Py_XDECREF(sixty_four);
    Py_DECREF(v);
    if (hi == NULL)
        return -1;
    id.hi = PyLong_AsUnsignedLongLong(hi);
    Py_DECREF(hi);
    if (PyErr_Occurred())
        return -1;
    *out = id;
    return 0;
}

static PyObject *pyname_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"component0", "component1", "component2", "id", NULL};
    PyObject *c[3];
    PyObject *id_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "UUU|O:PyName", kwlist, &c[0], &c[1], &c[2],
                                     &id_obj))
        return NULL;
    slim_name name;
    for (int i = 0; i < 3; i++) {
        Py_ssize_t len;
        const char *utf8 = PyUnicode_AsUTF8AndSize(c[i], &len);
        if (utf8 == NULL)
            return NULL;
        name.component[i] = slim_name_hash_component(utf8, (size_t)len);
    }
    name.id = slim_id_any();
    if (id_obj != Py_None && slim_py_id_from_int(id_obj, &name.id) < 0)
        return NULL;
    pyname *self = (pyname *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->name = name;
    for (int i = 0; i < 3; i++) {
        Py_INCREF(c[i]);
        self->strings[i] = c[i];
    }
    return (PyObject *)self;
}

static void pyname_dealloc(PyObject *obj) {
    pyname *self = (pyname *)obj;
    for (int i = 0; i < 3; i++)
        Py_XDECREF(self->strings[i]);
    Py_TYPE(obj)->tp_free(obj);
}

static PyObject *pyname_get_id(PyObject *obj, void *closure) {
    (void)closure;
    return slim_py_id_to_int(((pyname *)obj)->name.id);
}

static int pyname_set_id(PyObject *obj, PyObject *value, void *closure) {
    (void)closure;
    if (value == NULL) {
        PyErr_SetString(PyExc_TypeError, "can't delete attribute 'id'");
        return -1;
    }
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "id must be an int, not %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    slim_id id;
    if (slim_py_id_from_int(value, &id) < 0)
        return -1;
    ((pyname *)obj)->name.id = id;
    return 0;
}

static PyObject *pyname_components(PyObject *obj, PyObject *unused) {
    (void)unused;
    pyname *self = (pyname *)obj;
    PyObject *id = slim_py_id_to_int(self->name.id);
    if (id == NULL)
        return NULL;
    return Py_BuildValue("[KKKN]", (unsigned long long)self->name.component[0],
                         (unsigned long long)self->name.component[1],
                         (unsigned long long)self->name.component[2], id);
}

static PyObject *pyname_components_strings(PyObject *obj, PyObject *unused) {
    (void)unused;
    pyname *self = (pyname *)obj;
    return Py_BuildValue("[OOO]", self->strings[0], self->strings[1], self->strings[2]);
}

static PyObject *pyname_equal_without_id(PyObject *obj, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"name", NULL};
    PyObject *other;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!:equal_without_id", kwlist,
                                     &slim_py_name_type, &other))
        return NULL;
    return PyBool_FromLong(
        slim_name_same_service(&((pyname *)obj)->name, &((pyname *)other)->name));
}

static PyObject *pyname_richcompare(PyObject *a, PyObject *b, int op) {
    if (!PyObject_TypeCheck(b, &slim_py_name_type) || (op != Py_EQ && op != Py_NE))
        Py_RETURN_NOTIMPLEMENTED;
    bool eq = slim_name_equal(&((pyname *)a)->name, &((pyname *)b)->name);
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t pyname_hash(PyObject *obj) {
    Py_hash_t h = (Py_hash_t)slim_name_hash(&((pyname *)obj)->name);
    return h == -1 ? -2 : h;
}

static PyObject *pyname_str(PyObject *obj) {
    pyname *self = (pyname *)obj;
    slim_str parts[3];
    size_t cap = 2 + 1 + 1 + SLIM_ID_TEXT_LEN + 1;
    for (int i = 0; i < 3; i++) {
        Py_ssize_t len;
        parts[i].ptr = PyUnicode_AsUTF8AndSize(self->strings[i], &len);
        if (parts[i].ptr == NULL)
            return NULL;
        parts[i].len = (size_t)len;
        cap += (size_t)len;
    }
    char *buf = PyMem_Malloc(cap);
    if (buf == NULL)
        return PyErr_NoMemory();
    size_t len = 0;
    slim_status st = slim_name_format(parts, self->name.id, buf, cap, &len);
    PyObject *out = NULL;
    if (st == SLIM_OK)
        out = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)len, "strict");
    else
        PyErr_SetString(PyExc_Exception, slim_status_str(st));
    PyMem_Free(buf);
    return out;
}

static PyGetSetDef pyname_getset[] = {
    {"id", pyname_get_id, pyname_set_id,
     "The 128-bit instance id as an int; 2**128-1 (all ones) means no id.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef pyname_methods[] = {
    {"components", pyname_components, METH_NOARGS,
     "components() -> list[int]\n--\n\nThe numeric name: the three component hashes and the id."},
    {"components_strings", pyname_components_strings, METH_NOARGS,
     "components_strings() -> list[str]\n--\n\nThe three text components."},
    {"equal_without_id", (PyCFunction)(void (*)(void))pyname_equal_without_id,
     METH_VARARGS | METH_KEYWORDS,
     "equal_without_id(name: PyName) -> bool\n--\n\n"
     "True when both names have the same three components, whatever their ids."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject slim_py_name_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "slim_bindings._slim_bindings.PyName",
    .tp_basicsize = sizeof(pyname),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "PyName(component0: str, component1: str, component2: str, id: int | None = None)\n"
              "--\n\n"
              "A SLIM name: three text components (organisation, namespace, service)\n"
              "and an optional 128-bit instance id. Without an id the name means any\n"
              "instance. Equality and hashing use the numeric form only.",
    .tp_new = pyname_new,
    .tp_dealloc = pyname_dealloc,
    .tp_richcompare = pyname_richcompare,
    .tp_hash = pyname_hash,
    .tp_str = pyname_str,
    .tp_repr = pyname_str,
    .tp_methods = pyname_methods,
    .tp_getset = pyname_getset,
};

int slim_py_name_init(PyObject *module) {
    id_max = PyLong_FromString("ffffffffffffffffffffffffffffffff", NULL, 16);
    if (id_max == NULL)
        return -1;
    if (PyType_Ready(&slim_py_name_type) < 0)
        return -1;
    Py_INCREF(&slim_py_name_type);
    if (PyModule_AddObject(module, "PyName", (PyObject *)&slim_py_name_type) < 0) {
        Py_DECREF(&slim_py_name_type);
        return -1;
    }
    return 0;
}
