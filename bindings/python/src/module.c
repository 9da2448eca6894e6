/*
 * The slim_bindings._slim_bindings extension module: the compiled part of
 * the Python bindings, over libslim's public C API (include/slim/).
 *
 * Here: PyName (pyname.c), PyMessageContext (message.c), _App, the
 * low-level app the asyncio layer drives (app.c), the version functions
 * below, and the value classes of the pure-Python module
 * slim_bindings._types (session types, key and identity enums, session
 * configurations), which this module re-exports so that they are reachable
 * as _slim_bindings.<name> as upstream's are. The package's __init__ adds
 * the service classes and functions of slim_bindings._service here too.
 *
 * Build facts (version, date, git SHA, profile) are compile definitions set
 * by bindings/python/CMakeLists.txt.
 */
#include "bindings.h"

#ifndef SLIM_PY_BUILD_DATE
#define SLIM_PY_BUILD_DATE "unknown"
#endif
#ifndef SLIM_PY_GIT_SHA
#define SLIM_PY_GIT_SHA "unknown"
#endif
#ifndef SLIM_PY_PROFILE
#define SLIM_PY_PROFILE "unknown"
#endif

static PyObject *build_info_str(void) {
    return PyUnicode_FromFormat("Version:\t%s\nBuild Date:\t%s\nGit SHA:\t%s\nProfile:\t%s",
                                slim_version(), SLIM_PY_BUILD_DATE, SLIM_PY_GIT_SHA,
                                SLIM_PY_PROFILE);
}

static PyObject *get_version(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    return PyUnicode_FromString(slim_version());
}

static PyObject *get_build_profile(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    return PyUnicode_FromString(SLIM_PY_PROFILE);
}

static PyObject *get_build_info(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    return build_info_str();
}

PyObject *slim_py_status_error;

static PyObject *status_name(PyObject *module, PyObject *arg) {
    (void)module;
    long code = PyLong_AsLong(arg);
    if (code == -1 && PyErr_Occurred())
        return NULL;
    return Py_BuildValue("(ss)", slim_status_name((slim_status)code),
                         slim_status_str((slim_status)code));
}

static PyObject *set_log_level(PyObject *module, PyObject *arg) {
    (void)module;
    const char *text = PyUnicode_AsUTF8(arg);
    if (text == NULL)
        return NULL;
    slim_log_level level;
    if (slim_log_level_parse(text, &level) != 0) {
        PyErr_Format(PyExc_ValueError, "unknown log level \"%s\"", text);
        return NULL;
    }
    slim_log_set_level(level);
    Py_RETURN_NONE;
}

static PyObject *name_from_text(PyObject *module, PyObject *arg) {
    (void)module;
    const char *text = PyUnicode_AsUTF8(arg);
    return text != NULL ? slim_py_name_from_text(text) : NULL;
}

static PyMethodDef module_methods[] = {
    {"_name_from_text", name_from_text, METH_O,
     "_name_from_text(text: str) -> PyName\n--\n\n"
     "\"org/ns/service\" or \"org/ns/service/<id>\" as a PyName (ValueError if it\n"
     "does not parse)."},
    {"_set_log_level", set_log_level, METH_O,
     "_set_log_level(level: str)\n--\n\n"
     "libslim's log level: \"error\", \"warn\", \"info\", \"debug\" or \"trace\"."},
    {"_status_name", status_name, METH_O,
     "_status_name(code: int) -> tuple[str, str]\n--\n\n"
     "The name (\"E_CLOSED\") and the text of a libslim status code."},
    {"get_version", get_version, METH_NOARGS,
     "get_version() -> str\n--\n\nThe version of libslim under these bindings, e.g. \"0.1.0\"."},
    {"get_build_profile", get_build_profile, METH_NOARGS,
     "get_build_profile() -> str\n--\n\nThe CMake build type the extension was built with."},
    {"get_build_info", get_build_info, METH_NOARGS,
     "get_build_info() -> str\n--\n\n"
     "\"Version:\\t...\\nBuild Date:\\t...\\nGit SHA:\\t...\\nProfile:\\t...\"."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "slim_bindings._slim_bindings",
    .m_doc = "Compiled part of slim_bindings, over libslim's public C API.",
    .m_size = -1,
    .m_methods = module_methods,
};

static int add_string(PyObject *module, const char *name, PyObject *value) {
    if (value == NULL)
        return -1;
    if (PyModule_AddObject(module, name, value) < 0) {
        Py_DECREF(value);
        return -1;
    }
    return 0;
}

/* Adds every name of slim_bindings._types.__all__ to module. */
static int add_reexports(PyObject *module) {
    PyObject *types = PyImport_ImportModule("slim_bindings._types");
    PyObject *names = types != NULL ? PyObject_GetAttrString(types, "__all__") : NULL;
    PyObject *seq = names != NULL ? PySequence_Fast(names, "_types.__all__ must be a list") : NULL;
    int rc = seq != NULL ? 0 : -1;
    for (Py_ssize_t i = 0; rc == 0 && i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *name = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *obj = PyObject_GetAttr(types, name);
        if (obj == NULL || PyObject_SetAttr(module, name, obj) < 0)
            rc = -1;
        Py_XDECREF(obj);
    }
    Py_XDECREF(seq);
    Py_XDECREF(names);
    Py_XDECREF(types);
    return rc;
}

PyMODINIT_FUNC PyInit__slim_bindings(void) {
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    slim_py_status_error =
        PyErr_NewExceptionWithDoc("slim_bindings._slim_bindings._StatusError",
                                  "A libslim status: args are (code, name, text).", NULL, NULL);
    if (slim_py_status_error == NULL ||
        PyModule_AddObjectRef(module, "_StatusError", slim_py_status_error) < 0 ||
        slim_py_name_init(module) < 0 || slim_py_message_init(module) < 0 ||
        slim_py_app_init(module) < 0 ||
        add_string(module, "__version__", PyUnicode_FromString(slim_version())) < 0 ||
        add_string(module, "build_profile", PyUnicode_FromString(SLIM_PY_PROFILE)) < 0 ||
        add_string(module, "build_info", build_info_str()) < 0 || add_reexports(module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
