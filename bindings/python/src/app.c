/*
 * _slim_bindings._App: one libslim app (include/slim/app.h, session.h),
 * the low-level object under the asyncio layer (slim_bindings/_service.py).
 *
 * Every call that waits is made in its `_async` form: the method returns
 * the operation id (a positive int) at once, or the call's own error as a
 * negative status code (no event follows then). Results arrive as events,
 * taken by next_events() when fd() is readable. The only calls that can
 * block (creating and freeing the app, saving state) release the GIL.
 *
 * Strings handed to libslim are borrowed from the Python objects for the
 * length of the call only: libslim copies what it keeps.
 */
#include "bindings.h"

#include <string.h>

typedef struct {
    PyObject ob_base; /* PyObject_HEAD */
    slim_app *app;
} pyapp;

/* ---- argument helpers ---- */

/* The status first, then the op id it wrote: never both in one argument
 * list (their order of evaluation is unspecified). */

/* A str, or None (NULL). 0, or -1 with TypeError. */
static int opt_utf8(PyObject *obj, const char *what, const char **out) {
    if (obj == NULL || obj == Py_None) {
        *out = NULL;
        return 0;
    }
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, not %.100s", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    *out = PyUnicode_AsUTF8(obj);
    return *out != NULL ? 0 : -1;
}

/* dict[str, str] (or None) to an array of borrowed entries. The array is
 * PyMem_Malloc'ed (free with PyMem_Free); 0, or -1 with TypeError. */
static int metadata_from(PyObject *dict, slim_metadata **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (dict == NULL || dict == Py_None)
        return 0;
    if (!PyDict_Check(dict)) {
        PyErr_Format(PyExc_TypeError, "metadata must be a dict, not %.100s",
                     Py_TYPE(dict)->tp_name);
        return -1;
    }
    Py_ssize_t len = PyDict_Size(dict);
    if (len == 0)
        return 0;
    slim_metadata *md = PyMem_Calloc((size_t)len, sizeof *md);
    if (md == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    while (PyDict_Next(dict, &pos, &k, &v)) {
        if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) {
            PyErr_SetString(PyExc_TypeError, "metadata keys and values must be str");
            PyMem_Free(md);
            return -1;
        }
        md[i].key = PyUnicode_AsUTF8(k);
        md[i].value = PyUnicode_AsUTF8(v);
        if (md[i].key == NULL || md[i].value == NULL) {
            PyMem_Free(md);
            return -1;
        }
        i++;
    }
    *out = md;
    *n = (size_t)i;
    return 0;
}

static PyObject *op_result(slim_status st, slim_op op) {
    if (st != SLIM_OK)
        return PyLong_FromLong(st);
    return PyLong_FromUnsignedLongLong(op);
}

static slim_app *live(pyapp *self) {
    if (self->app == NULL)
        PyErr_SetString(PyExc_RuntimeError, "the app is closed");
    return self->app;
}

/* ---- identity configs ---- */

/* Strings of an identity dict stay borrowed from the dict for the call. */
typedef struct {
    slim_identity_config cfg;
    const char *audience[64];
} identity_buf;

static int dict_str(PyObject *d, const char *key, const char **out) {
    return opt_utf8(PyDict_GetItemString(d, key), key, out);
}

static int dict_bool(PyObject *d, const char *key, bool *out) {
    PyObject *v = PyDict_GetItemString(d, key);
    if (v == NULL)
        return 0;
    int t = PyObject_IsTrue(v);
    if (t < 0)
        return -1;
    *out = t != 0;
    return 0;
}

static int dict_u32(PyObject *d, const char *key, uint32_t *out) {
    PyObject *v = PyDict_GetItemString(d, key);
    if (v == NULL || v == Py_None)
        return 0;
    unsigned long x = PyLong_AsUnsignedLong(v);
    if (PyErr_Occurred())
        return -1;
    if (x > UINT32_MAX) {
        PyErr_Format(PyExc_OverflowError, "%s does not fit in 32 bits", key);
        return -1;
    }
    *out = (uint32_t)x;
    return 0;
}

/* {kind, id, secret, algorithm, key_format, key, key_file, duration_s,
 *  issuer, subject, audience, require_iss, require_aud, require_sub,
 *  autoresolve, ca_file, token_file} to a slim_identity_config. */
static int identity_from(PyObject *d, identity_buf *b) {
    memset(b, 0, sizeof *b);
    if (!PyDict_Check(d)) {
        PyErr_SetString(PyExc_TypeError, "identity config must be a dict");
        return -1;
    }
    slim_identity_config *c = &b->cfg;
    uint32_t kind = 0;
    if (dict_u32(d, "kind", &kind) < 0 || dict_str(d, "id", &c->id) < 0 ||
        dict_str(d, "secret", &c->secret) < 0 || dict_str(d, "algorithm", &c->algorithm) < 0 ||
        dict_str(d, "key_format", &c->key_format) < 0 || dict_str(d, "key", &c->key) < 0 ||
        dict_str(d, "key_file", &c->key_file) < 0 ||
        dict_u32(d, "duration_s", &c->duration_s) < 0 || dict_str(d, "issuer", &c->issuer) < 0 ||
        dict_str(d, "subject", &c->subject) < 0 ||
        dict_bool(d, "require_iss", &c->require_iss) < 0 ||
        dict_bool(d, "require_aud", &c->require_aud) < 0 ||
        dict_bool(d, "require_sub", &c->require_sub) < 0 ||
        dict_bool(d, "autoresolve", &c->autoresolve) < 0 ||
        dict_str(d, "ca_file", &c->ca_file) < 0 || dict_str(d, "token_file", &c->token_file) < 0)
        return -1;
    c->kind = (slim_identity_kind)kind;
    PyObject *aud = PyDict_GetItemString(d, "audience");
    if (aud != NULL && aud != Py_None) {
        if (!PyList_Check(aud) || PyList_GET_SIZE(aud) > 64) {
            PyErr_SetString(PyExc_TypeError, "audience must be a list of at most 64 str");
            return -1;
        }
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(aud); i++)
            if (opt_utf8(PyList_GET_ITEM(aud, i), "audience", &b->audience[i]) < 0)
                return -1;
        c->audience = b->audience;
        c->audience_len = (size_t)PyList_GET_SIZE(aud);
    }
    return 0;
}

/* _App(name: str, provider: dict, verifier: dict, options: dict | None) */
static PyObject *pyapp_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"name", "provider", "verifier", "options", NULL};
    const char *name;
    PyObject *prov, *ver, *opts = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sO!O!|O:_App", kwlist, &name, &PyDict_Type,
                                     &prov, &PyDict_Type, &ver, &opts))
        return NULL;
    identity_buf p, v;
    if (identity_from(prov, &p) < 0 || identity_from(ver, &v) < 0)
        return NULL;
    slim_app_options o = {0};
    Py_buffer key = {0};
    if (opts != Py_None) {
        if (!PyDict_Check(opts)) {
            PyErr_SetString(PyExc_TypeError, "options must be a dict");
            return NULL;
        }
        uint32_t suite = 0;
        if (dict_u32(opts, "max_sessions", &o.max_sessions) < 0 ||
            dict_u32(opts, "session_queue", &o.session_queue) < 0 ||
            dict_u32(opts, "event_queue", &o.event_queue) < 0 ||
            dict_u32(opts, "heartbeat_ms", &o.heartbeat_ms) < 0 ||
            dict_u32(opts, "max_message_size", &o.max_message_size) < 0 ||
            dict_u32(opts, "mls_suite", &suite) < 0 ||
            dict_str(opts, "state_file", &o.state_file) < 0)
            return NULL;
        o.mls_suite = (uint16_t)suite;
        PyObject *k = PyDict_GetItemString(opts, "state_key");
        if (k != NULL && k != Py_None) {
            if (PyObject_GetBuffer(k, &key, PyBUF_SIMPLE) < 0)
                return NULL;
            if (key.len != 32) {
                PyBuffer_Release(&key);
                PyErr_SetString(PyExc_ValueError, "state_key must be 32 bytes");
                return NULL;
            }
            o.state_key = key.buf;
        }
    }
    slim_app *app = NULL;
    slim_status st;
    PyThreadState *ts = PyEval_SaveThread();
    st = slim_app_new(name, &p.cfg, &v.cfg, &o, &app);
    PyEval_RestoreThread(ts);
    if (key.obj != NULL)
        PyBuffer_Release(&key);
    if (st != SLIM_OK) {
        PyObject *e = Py_BuildValue("(iss)", (int)st, slim_status_name(st), slim_status_str(st));
        if (e != NULL) {
            PyErr_SetObject(slim_py_status_error, e);
            Py_DECREF(e);
        }
        return NULL;
    }
    pyapp *self = (pyapp *)type->tp_alloc(type, 0);
    if (self == NULL) {
        ts = PyEval_SaveThread();
        slim_app_free(app, 0);
        PyEval_RestoreThread(ts);
        return NULL;
    }
    self->app = app;
    return (PyObject *)self;
}

static void free_app(pyapp *self, int64_t timeout_ms) {
    slim_app *app = self->app;
    self->app = NULL;
    if (app != NULL) {
        PyThreadState *ts = PyEval_SaveThread();
        slim_app_free(app, timeout_ms);
        PyEval_RestoreThread(ts);
    }
}

static void pyapp_dealloc(PyObject *obj) {
    free_app((pyapp *)obj, 1000);
    Py_TYPE(obj)->tp_free(obj);
}

static PyObject *pyapp_close(PyObject *obj, PyObject *args) {
    long long timeout_ms = 2000;
    if (!PyArg_ParseTuple(args, "|L:close", &timeout_ms))
        return NULL;
    free_app((pyapp *)obj, timeout_ms);
    Py_RETURN_NONE;
}

static PyObject *pyapp_fd(PyObject *obj, PyObject *unused) {
    (void)unused;
    slim_app *app = live((pyapp *)obj);
    return app != NULL ? PyLong_FromLong(slim_app_fd(app)) : NULL;
}

static PyObject *pyapp_name(PyObject *obj, PyObject *unused) {
    (void)unused;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    char buf[4 * SLIM_NAME_COMPONENT_MAX];
    slim_status st = slim_app_name_text(app, buf, sizeof buf);
    if (st != SLIM_OK) {
        PyErr_SetString(PyExc_RuntimeError, slim_status_str(st));
        return NULL;
    }
    return slim_py_name_from_text(buf);
}

/* ---- events ---- */

/* "" and short texts of events, made once: most events carry no name and
 * no detail. */
static PyObject *empty_text;

static PyObject *event_text(const char *s) {
    if (s[0] == 0) {
        Py_INCREF(empty_text);
        return empty_text;
    }
    return PyUnicode_FromString(s);
}

/* One event as a tuple (kind, op, status, session, conn, message_id,
 * count, message, member, name, detail); message is None or a tuple
 * (PyMessageContext, bytes). Built item by item (no format string to
 * parse per event). */
static PyObject *event_tuple(slim_event *ev) {
    PyObject *msg = Py_None;
    Py_INCREF(msg);
    if (ev->message != NULL) {
        Py_DECREF(msg);
        msg = slim_py_message_take(ev->message); /* owns it from here */
        ev->message = NULL;
        if (msg == NULL)
            return NULL;
    }
    PyObject *t = PyTuple_New(11);
    if (t == NULL) {
        Py_DECREF(msg);
        return NULL;
    }
    PyObject *items[11] = {
        PyLong_FromLong((long)ev->kind),
        PyLong_FromUnsignedLongLong((unsigned long long)ev->op),
        PyLong_FromLong((long)ev->status),
        PyLong_FromUnsignedLongLong((unsigned long long)ev->session),
        PyLong_FromUnsignedLongLong((unsigned long long)ev->conn),
        PyLong_FromUnsignedLong((unsigned long)ev->message_id),
        PyLong_FromUnsignedLongLong((unsigned long long)ev->count),
        msg,
        PyLong_FromLong((long)ev->member),
        event_text(ev->name),
        event_text(ev->detail),
    };
    int failed = 0;
    for (Py_ssize_t i = 0; i < 11; i++) {
        if (items[i] == NULL)
            failed = 1;
        PyTuple_SET_ITEM(t, i, items[i]); /* a NULL item is fine for the DECREF below */
    }
    if (failed) {
        Py_DECREF(t);
        return NULL;
    }
    return t;
}

/* next_events() -> list of every waiting event. */
static PyObject *pyapp_next_events(PyObject *obj, PyObject *unused) {
    (void)unused;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    slim_event ev;
    while (slim_app_next_event(app, 0, &ev) == SLIM_OK) {
        PyObject *t = event_tuple(&ev);
        if (t == NULL) {
            /* keep draining: a lost event would leave an awaitable hanging */
            PyErr_Clear();
            if (ev.message != NULL)
                slim_message_free(ev.message);
            continue;
        }
        int rc = PyList_Append(list, t);
        Py_DECREF(t);
        if (rc < 0) {
            Py_DECREF(list);
            return NULL;
        }
    }
    return list;
}

/* ---- connections and names ---- */

static PyObject *pyapp_connect(PyObject *obj, PyObject *args) {
    const char *json;
    if (!PyArg_ParseTuple(args, "s:connect", &json))
        return NULL;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    slim_op op = 0;
    slim_status st = slim_app_connect_json_async(app, json, &op);
    return op_result(st, op);
}

static PyObject *pyapp_disconnect(PyObject *obj, PyObject *args) {
    unsigned long long conn;
    if (!PyArg_ParseTuple(args, "K:disconnect", &conn))
        return NULL;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    slim_op op = 0;
    slim_status st = slim_app_disconnect_async(app, conn, &op);
    return op_result(st, op);
}

static PyObject *pyapp_run_server(PyObject *obj, PyObject *args) {
    const char *json;
    if (!PyArg_ParseTuple(args, "s:run_server", &json))
        return NULL;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    slim_op op = 0;
    slim_status st = slim_app_run_server_async(app, json, &op);
    return op_result(st, op);
}

static PyObject *pyapp_stop_server(PyObject *obj, PyObject *args) {
    const char *endpoint;
    if (!PyArg_ParseTuple(args, "s:stop_server", &endpoint))
        return NULL;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    slim_op op = 0;
    slim_status st = slim_app_stop_server_async(app, endpoint, &op);
    return op_result(st, op);
}

typedef slim_status (*name_call)(slim_app *, const char *, slim_conn_id, slim_op *);

static PyObject *name_op(PyObject *obj, PyObject *args, name_call fn, const char *fmt) {
    const char *name;
    unsigned long long conn = 0;
    if (!PyArg_ParseTuple(args, fmt, &name, &conn))
        return NULL;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    slim_op op = 0;
    slim_status st = fn(app, name, conn, &op);
    return op_result(st, op);
}

static PyObject *pyapp_subscribe(PyObject *obj, PyObject *args) {
    return name_op(obj, args, slim_app_subscribe_async, "s|K:subscribe");
}

static PyObject *pyapp_unsubscribe(PyObject *obj, PyObject *args) {
    return name_op(obj, args, slim_app_unsubscribe_async, "s|K:unsubscribe");
}

static PyObject *pyapp_set_route(PyObject *obj, PyObject *args) {
    return name_op(obj, args, slim_app_set_route_async, "s|K:set_route");
}

static PyObject *pyapp_remove_route(PyObject *obj, PyObject *args) {
    return name_op(obj, args, slim_app_remove_route_async, "s|K:remove_route");
}

/* ---- sessions ---- */

/* session_create(type, peer, timeout_ms, max_retries, mls, metadata,
 *                rotation_s=None) -> op */
static PyObject *pyapp_session_create(PyObject *obj, PyObject *args) {
    int type, mls;
    PyObject *peer_obj, *md_obj, *rot = Py_None;
    unsigned int timeout_ms, max_retries;
    if (!PyArg_ParseTuple(args, "iOIIpO|O:session_create", &type, &peer_obj, &timeout_ms,
                          &max_retries, &mls, &md_obj, &rot))
        return NULL;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    slim_session_options o = {.type = (slim_session_type)type,
                              .timeout_ms = timeout_ms,
                              .max_retries = max_retries,
                              .mls = mls != 0};
    if (opt_utf8(peer_obj, "peer", &o.peer) < 0)
        return NULL;
    if (rot != Py_None) {
        unsigned long r = PyLong_AsUnsignedLong(rot);
        if (PyErr_Occurred())
            return NULL;
        o.mls_rotation_set = true;
        o.mls_rotation_s = (uint32_t)r;
    }
    slim_metadata *md;
    if (metadata_from(md_obj, &md, &o.metadata_len) < 0)
        return NULL;
    o.metadata = md;
    slim_op op = 0;
    slim_status st = slim_session_create_async(app, &o, &op);
    PyMem_Free(md);
    return op_result(st, op);
}

typedef slim_status (*session_call)(slim_app *, slim_session_id, slim_op *);

static PyObject *session_op(PyObject *obj, PyObject *args, session_call fn, const char *fmt) {
    unsigned long long s;
    if (!PyArg_ParseTuple(args, fmt, &s))
        return NULL;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    slim_op op = 0;
    slim_status st = fn(app, s, &op);
    return op_result(st, op);
}

static PyObject *pyapp_session_delete(PyObject *obj, PyObject *args) {
    return session_op(obj, args, slim_session_delete_async, "K:session_delete");
}

static PyObject *pyapp_get_message(PyObject *obj, PyObject *args) {
    return session_op(obj, args, slim_session_get_message_async, "K:get_message");
}

static PyObject *pyapp_rotate_keys(PyObject *obj, PyObject *args) {
    return session_op(obj, args, slim_session_rotate_keys_async, "K:rotate_keys");
}

static PyObject *pyapp_listen(PyObject *obj, PyObject *unused) {
    (void)unused;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    slim_op op = 0;
    slim_status st = slim_app_listen_async(app, &op);
    return op_result(st, op);
}

typedef slim_status (*member_call)(slim_app *, slim_session_id, const char *, slim_op *);

static PyObject *member_op(PyObject *obj, PyObject *args, member_call fn, const char *fmt) {
    unsigned long long s;
    const char *name;
    if (!PyArg_ParseTuple(args, fmt, &s, &name))
        return NULL;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    slim_op op = 0;
    slim_status st = fn(app, s, name, &op);
    return op_result(st, op);
}

static PyObject *pyapp_invite(PyObject *obj, PyObject *args) {
    return member_op(obj, args, slim_session_invite_async, "Ks:invite");
}

static PyObject *pyapp_remove(PyObject *obj, PyObject *args) {
    return member_op(obj, args, slim_session_remove_async, "Ks:remove");
}

/* publish(session, payload, payload_type, metadata, to=None, ctx=None)
 * -> op. `to` (a name) sends with a destination (ANYCAST); `ctx` (a
 * PyMessageContext) replies to that message. */
static PyObject *pyapp_publish(PyObject *obj, PyObject *args) {
    unsigned long long s;
    Py_buffer payload;
    PyObject *ptype_obj, *md_obj, *to_obj = Py_None, *ctx_obj = Py_None;
    if (!PyArg_ParseTuple(args, "Ky*OO|OO:publish", &s, &payload, &ptype_obj, &md_obj, &to_obj,
                          &ctx_obj))
        return NULL;
    PyObject *out = NULL;
    slim_app *app = live((pyapp *)obj);
    slim_publish_options po = {0};
    slim_metadata *md = NULL;
    const char *to = NULL;
    const slim_message *ctx = NULL;
    if (app == NULL || opt_utf8(ptype_obj, "payload_type", &po.payload_type) < 0 ||
        opt_utf8(to_obj, "destination", &to) < 0 ||
        metadata_from(md_obj, &md, &po.metadata_len) < 0)
        goto done;
    if (ctx_obj != Py_None && (ctx = slim_py_message_ptr(ctx_obj)) == NULL)
        goto done;
    po.metadata = md;
    slim_bytes b = {payload.buf, (size_t)payload.len};
    slim_op op = 0;
    slim_status st;
    if (ctx != NULL)
        st = slim_session_publish_to_async(app, s, ctx, b, &po, &op);
    else if (to != NULL)
        st = slim_session_publish_with_destination_async(app, s, to, b, &po, &op);
    else
        st = slim_session_publish_async(app, s, b, &po, &op);
    out = op_result(st, op);
done:
    PyMem_Free(md);
    PyBuffer_Release(&payload);
    return out;
}

/* session_info(session) -> dict, or a negative status code. */
static PyObject *pyapp_session_info(PyObject *obj, PyObject *args) {
    unsigned long long s;
    if (!PyArg_ParseTuple(args, "K:session_info", &s))
        return NULL;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    slim_session_info *i = NULL;
    slim_status st = slim_session_info_get(app, s, &i);
    if (st != SLIM_OK)
        return PyLong_FromLong(st);
    PyObject *md = PyDict_New();
    for (size_t k = 0; md != NULL && k < i->metadata_len; k++) {
        PyObject *v = PyUnicode_FromString(i->metadata[k].value);
        if (v == NULL || PyDict_SetItemString(md, i->metadata[k].key, v) < 0)
            Py_CLEAR(md);
        Py_XDECREF(v);
    }
    PyObject *out =
        md == NULL
            ? NULL
            : Py_BuildValue("{s:k,s:i,s:O,s:s,s:s,s:N,s:k,s:k,s:O,s:O}", "id", (unsigned long)i->id,
                            "type", (int)i->type, "initiator", i->initiator ? Py_True : Py_False,
                            "src", i->src, "dst", i->dst, "metadata", md, "timeout_ms",
                            (unsigned long)i->timeout_ms, "max_retries",
                            (unsigned long)i->max_retries, "mls", i->mls ? Py_True : Py_False,
                            "moderator", i->moderator ? Py_True : Py_False);
    slim_session_info_free(i);
    return out;
}

/* members(session) -> list[str], or a negative status code. */
static PyObject *pyapp_members(PyObject *obj, PyObject *args) {
    unsigned long long s;
    if (!PyArg_ParseTuple(args, "K:members", &s))
        return NULL;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    char **names = NULL;
    size_t n = 0;
    slim_status st = slim_session_members(app, s, &names, &n);
    if (st != SLIM_OK)
        return PyLong_FromLong(st);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list != NULL && i < n; i++) {
        PyObject *v = PyUnicode_FromString(names[i]);
        if (v == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, v);
    }
    slim_session_members_free(names);
    return list;
}

static PyObject *pyapp_counters(PyObject *obj, PyObject *unused) {
    (void)unused;
    slim_app *app = live((pyapp *)obj);
    if (app == NULL)
        return NULL;
    slim_app_counters c;
    slim_status st = slim_app_counters_get(app, &c);
    if (st != SLIM_OK)
        return PyLong_FromLong(st);
    return Py_BuildValue(
        "{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}",
        "messages_dropped", c.messages_dropped, "events_dropped", c.events_dropped,
        "sessions_refused", c.sessions_refused, "calls_refused", c.calls_refused, "sessions_open",
        c.sessions_open, "messages_in", c.messages_in, "messages_out", c.messages_out,
        "retransmissions", c.retransmissions, "undelivered", c.undelivered, "lost", c.lost,
        "drop_identity", c.drop_identity, "drop_malformed", c.drop_malformed, "drop_other",
        c.drop_other, "drop_unrouted", c.drop_unrouted, "drop_queue_full", c.drop_queue_full,
        "reconnects", c.reconnects, "mls_commits", c.mls_commits, "controller_requests_refused",
        c.controller_requests_refused);
}

/* save_state(path, key, timeout_ms) -> status code (0: saved). Blocks,
 * without the GIL. */
static PyObject *pyapp_save_state(PyObject *obj, PyObject *args) {
    const char *path;
    Py_buffer key;
    long long timeout_ms;
    if (!PyArg_ParseTuple(args, "sy*L:save_state", &path, &key, &timeout_ms))
        return NULL;
    slim_app *app = live((pyapp *)obj);
    PyObject *out = NULL;
    if (app != NULL && key.len != 32) {
        PyErr_SetString(PyExc_ValueError, "key must be 32 bytes");
    } else if (app != NULL) {
        PyThreadState *ts = PyEval_SaveThread();
        slim_status st = slim_app_save_state(app, path, key.buf, timeout_ms);
        PyEval_RestoreThread(ts);
        out = PyLong_FromLong(st);
    }
    PyBuffer_Release(&key);
    return out;
}

static PyMethodDef pyapp_methods[] = {
    {"close", pyapp_close, METH_VARARGS,
     "close(timeout_ms=2000)\n--\n\nEnds the app's sessions (telling peers) and frees it."},
    {"fd", pyapp_fd, METH_NOARGS, "fd() -> int\n--\n\nReadable while an event waits."},
    {"name", pyapp_name, METH_NOARGS, "name() -> PyName\n--\n\nThe app's full name."},
    {"next_events", pyapp_next_events, METH_NOARGS,
     "next_events() -> list[tuple]\n--\n\nEvery waiting event: (kind, op, status, session, "
     "conn, message_id, count, message, member, name, detail)."},
    {"connect", pyapp_connect, METH_VARARGS, "connect(json: str) -> op"},
    {"disconnect", pyapp_disconnect, METH_VARARGS, "disconnect(conn: int) -> op"},
    {"run_server", pyapp_run_server, METH_VARARGS, "run_server(json: str) -> op"},
    {"stop_server", pyapp_stop_server, METH_VARARGS, "stop_server(endpoint: str) -> op"},
    {"subscribe", pyapp_subscribe, METH_VARARGS, "subscribe(name: str, conn=0) -> op"},
    {"unsubscribe", pyapp_unsubscribe, METH_VARARGS, "unsubscribe(name: str, conn=0) -> op"},
    {"set_route", pyapp_set_route, METH_VARARGS, "set_route(name: str, conn=0) -> op"},
    {"remove_route", pyapp_remove_route, METH_VARARGS, "remove_route(name: str, conn=0) -> op"},
    {"session_create", pyapp_session_create, METH_VARARGS,
     "session_create(type, peer, timeout_ms, max_retries, mls, metadata, rotation_s=None) -> op"},
    {"session_delete", pyapp_session_delete, METH_VARARGS, "session_delete(session) -> op"},
    {"get_message", pyapp_get_message, METH_VARARGS, "get_message(session) -> op"},
    {"rotate_keys", pyapp_rotate_keys, METH_VARARGS, "rotate_keys(session) -> op"},
    {"listen", pyapp_listen, METH_NOARGS, "listen() -> op"},
    {"invite", pyapp_invite, METH_VARARGS, "invite(session, name: str) -> op"},
    {"remove", pyapp_remove, METH_VARARGS, "remove(session, name: str) -> op"},
    {"publish", pyapp_publish, METH_VARARGS,
     "publish(session, payload, payload_type, metadata, to=None, ctx=None) -> op"},
    {"session_info", pyapp_session_info, METH_VARARGS, "session_info(session) -> dict | int"},
    {"members", pyapp_members, METH_VARARGS, "members(session) -> list[str] | int"},
    {"counters", pyapp_counters, METH_NOARGS, "counters() -> dict"},
    {"save_state", pyapp_save_state, METH_VARARGS,
     "save_state(path, key: bytes, timeout_ms) -> int"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject pyapp_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "slim_bindings._slim_bindings._App",
    .tp_basicsize = sizeof(pyapp),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "_App(name: str, provider: dict, verifier: dict, options: dict | None = None)\n"
              "--\n\n"
              "A libslim app, low level: calls return operation ids (or a negative status\n"
              "code), results come from next_events(). Used by slim_bindings._service.",
    .tp_new = pyapp_new,
    .tp_dealloc = pyapp_dealloc,
    .tp_methods = pyapp_methods,
};

int slim_py_app_init(PyObject *module) {
    if (empty_text == NULL && (empty_text = PyUnicode_FromStringAndSize("", 0)) == NULL)
        return -1;
    if (PyType_Ready(&pyapp_type) < 0)
        return -1;
    Py_INCREF(&pyapp_type);
    if (PyModule_AddObject(module, "_App", (PyObject *)&pyapp_type) < 0) {
        Py_DECREF(&pyapp_type);
        return -1;
    }
    return 0;
}
