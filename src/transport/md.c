/*
 * Metadata list storage: `text` holds name then value for each entry, and
 * `entries` an array of md_entry offsets into it. Offsets, not pointers, so
 * growing `text` never invalidates an entry.
 */
#include "transport/md.h"
#include "transport/codec.h"

#include <string.h>

typedef struct md_entry {
    uint32_t name_off;
    uint32_t name_len;
    uint32_t value_off;
    uint32_t value_len;
} md_entry;

void slim_grpc_md_init(slim_grpc_md *md) {
    slim_buf_init(&md->text);
    slim_buf_init(&md->entries);
    md->count = 0;
}

void slim_grpc_md_cleanup(slim_grpc_md *md) {
    slim_buf_cleanup(&md->text);
    slim_buf_cleanup(&md->entries);
    md->count = 0;
}

void slim_grpc_md_clear(slim_grpc_md *md) {
    md->text.len = 0;
    md->entries.len = 0;
    md->count = 0;
}

/* Appends the name and reserves an entry whose value starts at the end of
 * text; the caller appends the value bytes and then calls md_commit(). */
static slim_status md_begin(slim_grpc_md *md, slim_str name, md_entry *e) {
    if (name.len > UINT32_MAX || md->text.len > UINT32_MAX - name.len)
        return SLIM_E_TOO_LARGE;
    slim_status st = slim_buf_reserve(&md->entries, sizeof(md_entry));
    if (st == SLIM_OK)
        st = slim_buf_append(&md->text, name.ptr, name.len);
    if (st != SLIM_OK)
        return st;
    e->name_off = (uint32_t)(md->text.len - name.len);
    e->name_len = (uint32_t)name.len;
    e->value_off = (uint32_t)md->text.len;
    return SLIM_OK;
}

static slim_status md_commit(slim_grpc_md *md, md_entry *e) {
    if (md->text.len > UINT32_MAX)
        return SLIM_E_TOO_LARGE;
    e->value_len = (uint32_t)(md->text.len - e->value_off);
    /* Room was reserved by md_begin(). */
    memcpy(md->entries.data + md->entries.len, e, sizeof *e);
    md->entries.len += sizeof *e;
    md->count++;
    return SLIM_OK;
}

slim_status slim_grpc_md_add_raw(slim_grpc_md *md, slim_str name, slim_bytes value) {
    size_t mark = md->text.len;
    md_entry e;
    slim_status st = md_begin(md, name, &e);
    if (st == SLIM_OK)
        st = slim_buf_append(&md->text, value.ptr, value.len);
    if (st == SLIM_OK)
        st = md_commit(md, &e);
    if (st != SLIM_OK)
        md->text.len = mark;
    return st;
}

slim_status slim_grpc_md_add(slim_grpc_md *md, const char *name, slim_bytes value) {
    if (name == NULL || (value.ptr == NULL && value.len > 0))
        return SLIM_E_INVALID_ARG;
    slim_str n = slim_str_of(name, strlen(name));
    if (!slim_grpc_header_name_valid(n) || slim_grpc_header_name_reserved(n))
        return SLIM_E_INVALID_ARG;
    if (!slim_grpc_header_is_bin(n) && !slim_grpc_header_ascii_valid(value))
        return SLIM_E_INVALID_ARG;
    return slim_grpc_md_add_raw(md, n, value);
}

slim_status slim_grpc_md_add_str(slim_grpc_md *md, const char *name, const char *value) {
    if (value == NULL)
        return SLIM_E_INVALID_ARG;
    return slim_grpc_md_add(md, name, slim_bytes_of(value, strlen(value)));
}

slim_status slim_grpc_md_add_wire(slim_grpc_md *md, slim_str name, slim_str value) {
    if (!slim_grpc_header_is_bin(name))
        return slim_grpc_md_add_raw(md, name, slim_bytes_of(value.ptr, value.len));
    size_t mark_text = md->text.len, mark_entries = md->entries.len, mark_count = md->count;
    size_t start = 0;
    slim_status st = SLIM_OK;
    for (size_t i = 0; i <= value.len && st == SLIM_OK; i++) {
        if (i < value.len && value.ptr[i] != ',')
            continue;
        slim_str part = slim_str_of(value.ptr + start, i - start);
        /* Tolerate spaces around a comma, as joined headers may carry them. */
        while (part.len > 0 && part.ptr[0] == ' ') {
            part.ptr++;
            part.len--;
        }
        while (part.len > 0 && part.ptr[part.len - 1] == ' ')
            part.len--;
        md_entry e;
        st = md_begin(md, name, &e);
        if (st == SLIM_OK)
            st = slim_base64_decode(part, &md->text);
        if (st == SLIM_OK)
            st = md_commit(md, &e);
        start = i + 1;
    }
    if (st != SLIM_OK) {
        md->text.len = mark_text;
        md->entries.len = mark_entries;
        md->count = mark_count;
    }
    return st;
}

slim_status slim_grpc_md_append(slim_grpc_md *dst, const slim_grpc_md *src) {
    for (size_t i = 0; i < slim_grpc_md_count(src); i++) {
        slim_str n;
        slim_bytes v;
        slim_grpc_md_at(src, i, &n, &v);
        slim_status st = slim_grpc_md_add_raw(dst, n, v);
        if (st != SLIM_OK)
            return st;
    }
    return SLIM_OK;
}

void slim_grpc_md_at(const slim_grpc_md *md, size_t i, slim_str *name, slim_bytes *value) {
    md_entry e;
    memcpy(&e, md->entries.data + i * sizeof e, sizeof e);
    name->ptr = (const char *)md->text.data + e.name_off;
    name->len = e.name_len;
    value->ptr = md->text.data + e.value_off;
    value->len = e.value_len;
}

bool slim_grpc_md_get(const slim_grpc_md *md, const char *name, slim_bytes *value) {
    size_t n = strlen(name);
    for (size_t i = 0; i < slim_grpc_md_count(md); i++) {
        slim_str k;
        slim_bytes v;
        slim_grpc_md_at(md, i, &k, &v);
        if (k.len == n && memcmp(k.ptr, name, n) == 0) {
            *value = v;
            return true;
        }
    }
    return false;
}
