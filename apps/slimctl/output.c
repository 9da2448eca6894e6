/*
 * Output of slimctl: aligned text tables, protobuf messages as JSON (walked
 * through their protobuf-c descriptors, so every response type is covered
 * by one function), and the small helpers the commands share.
 */
#include "slimctl.h"

#include "core/base64.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- Helpers ---- */

static void oom(void) {
    fputs("slimctl: out of memory\n", stderr);
    exit(CTL_EXIT_FAIL);
}

void *ctl_xcalloc(size_t n, size_t size) {
    void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
    if (p == NULL)
        oom();
    return p;
}

char *ctl_xstrdup(const char *s) {
    char *p = strdup(s != NULL ? s : "");
    if (p == NULL)
        oom();
    return p;
}

void ctl_err(const char *fmt, ...) {
    va_list ap;
    fputs("slimctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void str_reserve(ctl_str *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap == 0 ? 64 : b->cap;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->s, cap);
    if (p == NULL)
        oom();
    b->s = p;
    b->cap = cap;
}

void ctl_str_add(ctl_str *b, const char *text) {
    size_t n = strlen(text);
    str_reserve(b, n);
    memcpy(b->s + b->len, text, n + 1);
    b->len += n;
}

void ctl_str_addf(ctl_str *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    str_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *ctl_str_get(ctl_str *b) {
    return b->s != NULL ? b->s : "";
}

void ctl_str_cleanup(ctl_str *b) {
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

/* ---- Tables ---- */

void ctl_table_init(ctl_table *t, size_t ncols, const char *const *titles) {
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    ctl_table_add(t, titles);
}

/* A cell as it is printed: control characters (a multi-line config, say)
 * become spaces so that a row stays one line. */
static char *cell_copy(const char *s) {
    char *c = ctl_xstrdup(s != NULL && s[0] != '\0' ? s : "-");
    for (char *p = c; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return c;
}

void ctl_table_add(ctl_table *t, const char *const *cells) {
    if (t->nrows == t->cap) {
        size_t cap = t->cap == 0 ? 8 : t->cap * 2;
        char **p = realloc(t->cells, cap * t->ncols * sizeof *p);
        if (p == NULL)
            oom();
        t->cells = p;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = cell_copy(cells[i]);
    t->nrows++;
}

/* Width on a terminal, counting UTF-8 code points (not bytes). */
static size_t text_width(const char *s) {
    size_t w = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

void ctl_table_print(const ctl_table *t, FILE *f) {
    size_t *width = ctl_xcalloc(t->ncols, sizeof *width);
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t w = text_width(t->cells[r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            fputs(cell, f);
            if (c + 1 < t->ncols)
                fprintf(f, "%*s", (int)(width[c] - text_width(cell) + 3), "");
        }
        fputc('\n', f);
    }
    free(width);
}

void ctl_table_cleanup(ctl_table *t) {
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* ---- Protobuf to JSON ---- */

/* A JSON string of text that should be UTF-8; bytes that are not valid
 * UTF-8 become U+FFFD so the document stays valid. */
static json_t *json_text(const char *s) {
    json_t *j = json_string(s != NULL ? s : "");
    if (j != NULL)
        return j;
    ctl_str b = {0};
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        char one[2] = {(char)*p, '\0'};
        ctl_str_add(&b, *p < 0x80 ? one : "\xef\xbf\xbd");
    }
    j = json_string(ctl_str_get(&b));
    ctl_str_cleanup(&b);
    return j;
}

static json_t *json_u64(uint64_t v) {
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return json_string(buf);
}

static json_t *json_i64(int64_t v) {
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return json_string(buf);
}

/* One value of field `f` stored at `p`. */
static json_t *field_value(const ProtobufCFieldDescriptor *f, const void *p) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_i64(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_u64(*(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value((const ProtobufCEnumDescriptor *)f->descriptor, v);
        return ev != NULL ? json_string(ev->name) : json_integer(v);
    }
    case PROTOBUF_C_TYPE_STRING:
        return json_text(*(char *const *)p);
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        slim_buf out = SLIM_BUF_INIT;
        json_t *j = NULL;
        if (slim_b64_encode(slim_bytes_of(b->data, b->len), SLIM_B64_PAD, &out) == SLIM_OK)
            j = json_stringn((const char *)out.data, out.len);
        slim_buf_cleanup(&out);
        return j;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        return m != NULL ? ctl_pb_to_json(m) : json_null();
    }
    }
    return json_null();
}

static size_t value_size(ProtobufCType type) {
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

json_t *ctl_pb_to_json(const ProtobufCMessage *m) {
    json_t *obj = json_object();
    if (obj == NULL)
        oom();
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *p = base + f->offset;
        json_t *v;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *items = *(char *const *)p;
            v = json_array();
            for (size_t k = 0; v != NULL && k < n; k++)
                json_array_append_new(v, field_value(f, items + k * value_size(f->type)));
        } else {
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                /* A proto3 optional (a one-field oneof here): only when set. */
                if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                    continue;
            } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
                       f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
                if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset))
                    continue;
            }
            if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage *const *)p == NULL)
                continue; /* an unset message field */
            v = field_value(f, p);
        }
        if (v == NULL || json_object_set_new(obj, f->name, v) != 0)
            oom();
    }
    return obj;
}

void ctl_print_json(const ProtobufCMessage *m) {
    json_t *j = ctl_pb_to_json(m);
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(j);
}
