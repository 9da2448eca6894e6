#include "wire/text.h"
#include "core/alloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct printer {
    slim_buf *out;
    slim_status st;
} printer;

static void put(printer *p, const char *s, size_t n) {
    if (p->st == SLIM_OK)
        p->st = slim_buf_append(p->out, s, n);
}

static void puts_(printer *p, const char *s) {
    put(p, s, strlen(s));
}

static void indent(printer *p, int depth) {
    for (int i = 0; i < depth; i++)
        put(p, "  ", 2);
}

static void escaped(printer *p, const uint8_t *s, size_t n) {
    put(p, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        char tmp[5];
        uint8_t c = s[i];
        switch (c) {
        case '\n':
            puts_(p, "\\n");
            break;
        case '\r':
            puts_(p, "\\r");
            break;
        case '\t':
            puts_(p, "\\t");
            break;
        case '"':
            puts_(p, "\\\"");
            break;
        case '\'':
            puts_(p, "\\'");
            break;
        case '\\':
            puts_(p, "\\\\");
            break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                put(p, (const char *)&c, 1);
            } else {
                snprintf(tmp, sizeof tmp, "\\%03o", c);
                put(p, tmp, 4);
            }
        }
    }
    put(p, "\"", 1);
}

static void message(printer *p, const ProtobufCMessage *m, int depth);

/* Prints one value of field f stored at v. */
static void value(printer *p, const ProtobufCFieldDescriptor *f, const void *v, int depth) {
    char tmp[32];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(tmp, sizeof tmp, "%" PRId32, *(const int32_t *)v);
        puts_(p, tmp);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(tmp, sizeof tmp, "%" PRIu32, *(const uint32_t *)v);
        puts_(p, tmp);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(tmp, sizeof tmp, "%" PRId64, *(const int64_t *)v);
        puts_(p, tmp);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(tmp, sizeof tmp, "%" PRIu64, *(const uint64_t *)v);
        puts_(p, tmp);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        puts_(p, *(const protobuf_c_boolean *)v ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        snprintf(tmp, sizeof tmp, "%g", (double)*(const float *)v);
        puts_(p, tmp);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        snprintf(tmp, sizeof tmp, "%g", *(const double *)v);
        puts_(p, tmp);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int e = *(const int *)v;
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value((const ProtobufCEnumDescriptor *)f->descriptor, e);
        if (ev != NULL) {
            puts_(p, ev->name);
        } else {
            snprintf(tmp, sizeof tmp, "%d", e);
            puts_(p, tmp);
        }
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)v;
        escaped(p, (const uint8_t *)s, s ? strlen(s) : 0);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = v;
        escaped(p, b->data, b->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        puts_(p, "{\n");
        message(p, *(ProtobufCMessage *const *)v, depth + 1);
        indent(p, depth);
        puts_(p, "}");
        break;
    }
}

static size_t type_size(const ProtobufCFieldDescriptor *f) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

/* Whether a singular field counts as present (proto3 rules). */
static int present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const void *v) {
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)((const char *)m + f->quantifier_offset) == f->id;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)v;
        return s != NULL && s[0] != '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)v)->len > 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(void *const *)v != NULL;
    default: {
        static const uint8_t zero[8];
        return memcmp(v, zero, type_size(f)) != 0;
    }
    }
}

/* Sort helper for map entries: compares the first (key) field as string. */
static int map_key_cmp(const void *a, const void *b) {
    const ProtobufCMessage *ma = *(ProtobufCMessage *const *)a;
    const ProtobufCMessage *mb = *(ProtobufCMessage *const *)b;
    const ProtobufCFieldDescriptor *k = &ma->descriptor->fields[0];
    if (k->type == PROTOBUF_C_TYPE_STRING) {
        const char *sa = *(char *const *)((const char *)ma + k->offset);
        const char *sb = *(char *const *)((const char *)mb + k->offset);
        return strcmp(sa ? sa : "", sb ? sb : "");
    }
    /* Map keys are scalars (at most 8 bytes); the bound also tells gcc
     * -O2 that the copy stays inside va/vb. */
    uint64_t va = 0, vb = 0;
    size_t n = type_size(k) < sizeof va ? type_size(k) : sizeof va;
    memcpy(&va, (const char *)ma + k->offset, n);
    memcpy(&vb, (const char *)mb + k->offset, n);
    return va < vb ? -1 : va > vb;
}

static int is_map_entry(const ProtobufCFieldDescriptor *f) {
    if (f->type != PROTOBUF_C_TYPE_MESSAGE)
        return 0;
    const ProtobufCMessageDescriptor *d = f->descriptor;
    size_t n = strlen(d->name);
    return n > 5 && strcmp(d->name + n - 5, "Entry") == 0 && d->n_fields == 2;
}

static void field_line(printer *p, const ProtobufCFieldDescriptor *f, const void *v, int depth) {
    indent(p, depth);
    puts_(p, f->name);
    puts_(p, f->type == PROTOBUF_C_TYPE_MESSAGE ? " " : ": ");
    value(p, f, v, depth);
    puts_(p, "\n");
}

static void message(printer *p, const ProtobufCMessage *m, int depth) {
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *v = (const char *)m + f->offset;
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            if (present(m, f, v))
                field_line(p, f, v, depth);
            continue;
        }
        size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
        const char *arr = *(char *const *)v;
        if (n == 0)
            continue;
        if (is_map_entry(f)) {
            void **sorted = slim_malloc(n * sizeof *sorted);
            if (sorted == NULL) {
                p->st = SLIM_E_NOMEM;
                return;
            }
            memcpy(sorted, arr, n * sizeof *sorted);
            qsort(sorted, n, sizeof *sorted, map_key_cmp);
            for (size_t j = 0; j < n; j++)
                field_line(p, f, &sorted[j], depth);
            slim_free(sorted);
            continue;
        }
        for (size_t j = 0; j < n; j++)
            field_line(p, f, arr + j * type_size(f), depth);
    }
}

slim_status slim_pb_to_text(const ProtobufCMessage *m, slim_buf *out) {
    printer p = {out, SLIM_OK};
    message(&p, m, 0);
    return p.st;
}
