/*
 * PyMessageContext: what came with a received message (its sender, where
 * it was sent, payload type, metadata, the connection it came in on). It
 * owns the slim_message libslim handed over, so that a reply
 * (PySession.publish_to) can name it to slim_session_publish_to; the
 * payload is handed to Python separately, as bytes.
 */
#include "bindings.h"

#include <string.h>

typedef struct {
    PyObject ob_base; /* PyObject_HEAD */
    slim_message *m;
} pymessage;

PyObject *slim_py_name_from_text(const char *text) {
    slim_name name;
    slim_name_parts parts;
    if (text == NULL || text[0] == 0)
        return PyObject_CallFunction((PyObject *)&slim_py_name_type, "sss", "", "", "");
    slim_status st = slim_name_parse(text, strlen(text), &name, &parts);
    if (st != SLIM_OK) {
        PyErr_Format(PyExc_ValueError, "bad name \"%s\": %s", text, slim_status_str(st));
        return NULL;
    }
    PyObject *id = slim_py_id_to_int(name.id);
    if (id == NULL)
        return NULL;
    return PyObject_CallFunction((PyObject *)&slim_py_name_type, "s#s#s#N", parts.component[0].ptr,
                                 (Py_ssize_t)parts.component[0].len, parts.component[1].ptr,
                                 (Py_ssize_t)parts.component[1].len, parts.component[2].ptr,
                                 (Py_ssize_t)parts.component[2].len, id);
}

static PyObject *pymessage_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)type;
    (void)args;
    (void)kwargs;
    PyErr_SetString(PyExc_Exception, "Cannot construct PyMessageContext directly");
    return NULL;
}

static void pymessage_dealloc(PyObject *obj) {
    slim_message_free(((pymessage *)obj)->m);
    Py_TYPE(obj)->tp_free(obj);
}

static PyObject *get_source(PyObject *obj, void *closure) {
    (void)closure;
    return slim_py_name_from_text(((pymessage *)obj)->m->source_text);
}

static PyObject *get_destination(PyObject *obj, void *closure) {
    (void)closure;
    return slim_py_name_from_text(((pymessage *)obj)->m->destination_text);
}

static PyObject *get_payload_type(PyObject *obj, void *closure) {
    (void)closure;
    const char *t = ((pymessage *)obj)->m->payload_type;
    return PyUnicode_FromString(t != NULL ? t : "");
}

static PyObject *get_metadata(PyObject *obj, void *closure) {
    (void)closure;
    const slim_message *m = ((pymessage *)obj)->m;
    PyObject *d = PyDict_New();
    for (size_t i = 0; d != NULL && i < m->metadata_len; i++) {
        PyObject *v = PyUnicode_FromString(m->metadata[i].value);
        if (v == NULL || PyDict_SetItemString(d, m->metadata[i].key, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

static PyObject *get_input_connection(PyObject *obj, void *closure) {
    (void)closure;
    return PyLong_FromUnsignedLongLong(((pymessage *)obj)->m->input_conn);
}

static PyObject *get_message_id(PyObject *obj, void *closure) {
    (void)closure;
    return PyLong_FromUnsignedLong(((pymessage *)obj)->m->message_id);
}

static PyObject *pymessage_repr(PyObject *obj) {
    const slim_message *m = ((pymessage *)obj)->m;
    return PyUnicode_FromFormat("PyMessageContext(source_name=%s, destination_name=%s, "
                                "payload_type=%s, message_id=%lu)",
                                m->source_text, m->destination_text,
                                m->payload_type != NULL ? m->payload_type : "",
                                (unsigned long)m->message_id);
}

static PyGetSetDef pymessage_getset[] = {
    {"source_name", get_source, NULL, "The sender, with its id (PyName).", NULL},
    {"destination_name", get_destination, NULL,
     "Where it was sent: this app, or the group's channel (PyName).", NULL},
    {"payload_type", get_payload_type, NULL, "The payload type (\"msg\" by default).", NULL},
    {"metadata", get_metadata, NULL, "The message's metadata (a new dict each time).", NULL},
    {"input_connection", get_input_connection, NULL,
     "The connection it came in on (replies go back on it).", NULL},
    {"message_id", get_message_id, NULL, "Its id in the session.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject slim_py_message_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "slim_bindings._slim_bindings.PyMessageContext",
    .tp_basicsize = sizeof(pymessage),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The context of a received message (read only); PySession.get_message returns\n"
              "it with the payload. It cannot be constructed directly.",
    .tp_new = pymessage_new,
    .tp_dealloc = pymessage_dealloc,
    .tp_repr = pymessage_repr,
    .tp_getset = pymessage_getset,
};

PyObject *slim_py_message_take(slim_message *m) {
    pymessage *self = PyObject_New(pymessage, &slim_py_message_type);
    if (self == NULL) {
        slim_message_free(m);
        return NULL;
    }
    self->m = m;
    PyObject *payload =
        PyBytes_FromStringAndSize((const char *)m->payload.ptr, (Py_ssize_t)m->payload.len);
    if (payload == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    PyObject *t = PyTuple_New(2);
    if (t == NULL) {
        Py_DECREF(self);
        Py_DECREF(payload);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, (PyObject *)self);
    PyTuple_SET_ITEM(t, 1, payload);
    return t;
}

const slim_message *slim_py_message_ptr(PyObject *obj) {
    if (!PyObject_TypeCheck(obj, &slim_py_message_type)) {
        PyErr_Format(PyExc_TypeError, "expected a PyMessageContext, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    return ((pymessage *)obj)->m;
}

int slim_py_message_init(PyObject *module) {
    if (PyType_Ready(&slim_py_message_type) < 0)
        return -1;
    Py_INCREF(&slim_py_message_type);
    if (PyModule_AddObject(module, "PyMessageContext", (PyObject *)&slim_py_message_type) < 0) {
        Py_DECREF(&slim_py_message_type);
        return -1;
    }
    return 0;
}
