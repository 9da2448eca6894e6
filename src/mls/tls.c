/*
 * TLS presentation-language codec with MLS length headers (RFC 9420 §2.1).
 *
 * A nested vector is written by remembering where its body starts and, when
 * it ends, moving the body right by the size of its length header and
 * writing the header in front. That costs one memmove per vector, which
 * keeps encoders single-pass without knowing sizes in advance.
 */
#include "mls/tls.h"

#include <string.h>

/* ---- writer --------------------------------------------------------- */

void slim_mls_tls_writer_init(slim_mls_tls_writer *w, slim_buf *buf) {
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->st = SLIM_OK;
}

slim_status slim_mls_tls_writer_status(const slim_mls_tls_writer *w) {
    if (w->st != SLIM_OK)
        return w->st;
    return w->open == 0 ? SLIM_OK : SLIM_E_MLS_WRITER_NESTING;
}

slim_status slim_mls_tls_writer_fail(slim_mls_tls_writer *w, slim_status st) {
    if (w->st == SLIM_OK)
        w->st = st;
    return w->st;
}

static slim_status wkeep(slim_mls_tls_writer *w, slim_status st) {
    return st == SLIM_OK ? w->st : slim_mls_tls_writer_fail(w, st);
}

slim_status slim_mls_tls_put_u8(slim_mls_tls_writer *w, uint8_t v) {
    if (w->st != SLIM_OK)
        return w->st;
    return wkeep(w, slim_buf_append_u8(w->buf, v));
}

slim_status slim_mls_tls_put_u16(slim_mls_tls_writer *w, uint16_t v) {
    if (w->st != SLIM_OK)
        return w->st;
    return wkeep(w, slim_buf_append_u16(w->buf, v));
}

slim_status slim_mls_tls_put_u32(slim_mls_tls_writer *w, uint32_t v) {
    if (w->st != SLIM_OK)
        return w->st;
    return wkeep(w, slim_buf_append_u32(w->buf, v));
}

slim_status slim_mls_tls_put_u64(slim_mls_tls_writer *w, uint64_t v) {
    if (w->st != SLIM_OK)
        return w->st;
    return wkeep(w, slim_buf_append_u64(w->buf, v));
}

size_t slim_mls_tls_varint_size(uint64_t v) {
    if (v <= 0x3f)
        return 1;
    if (v <= 0x3fff)
        return 2;
    if (v <= SLIM_MLS_VARINT_MAX)
        return 4;
    return 0;
}

slim_status slim_mls_tls_varint_encode(uint64_t v, uint8_t out[4], size_t *n) {
    size_t size = slim_mls_tls_varint_size(v);
    switch (size) {
    case 1:
        out[0] = (uint8_t)v;
        break;
    case 2:
        out[0] = (uint8_t)(0x40 | (v >> 8));
        out[1] = (uint8_t)v;
        break;
    case 4:
        out[0] = (uint8_t)(0x80 | (v >> 24));
        out[1] = (uint8_t)(v >> 16);
        out[2] = (uint8_t)(v >> 8);
        out[3] = (uint8_t)v;
        break;
    default:
        return SLIM_E_MLS_VARINT_RANGE;
    }
    *n = size;
    return SLIM_OK;
}

slim_status slim_mls_tls_put_varint(slim_mls_tls_writer *w, uint64_t v) {
    if (w->st != SLIM_OK)
        return w->st;
    uint8_t hdr[4];
    size_t n;
    slim_status st = slim_mls_tls_varint_encode(v, hdr, &n);
    if (st != SLIM_OK)
        return slim_mls_tls_writer_fail(w, st);
    return wkeep(w, slim_buf_append(w->buf, hdr, n));
}

slim_status slim_mls_tls_put_raw(slim_mls_tls_writer *w, slim_bytes v) {
    if (w->st != SLIM_OK)
        return w->st;
    return wkeep(w, slim_buf_append(w->buf, v.ptr, v.len));
}

slim_status slim_mls_tls_put_opaque(slim_mls_tls_writer *w, slim_bytes v) {
    if (slim_mls_tls_put_varint(w, v.len) != SLIM_OK)
        return w->st;
    return slim_mls_tls_put_raw(w, v);
}

slim_status slim_mls_tls_put_optional(slim_mls_tls_writer *w, bool present) {
    return slim_mls_tls_put_u8(w, present ? 1 : 0);
}

size_t slim_mls_tls_vec_begin(slim_mls_tls_writer *w) {
    size_t mark = w->buf->len;
    if (w->st != SLIM_OK)
        return mark;
    if (w->open == SLIM_MLS_TLS_MAX_NESTING) {
        slim_mls_tls_writer_fail(w, SLIM_E_MLS_WRITER_NESTING);
        return mark;
    }
    w->marks[w->open++] = mark;
    return mark;
}

slim_status slim_mls_tls_vec_end(slim_mls_tls_writer *w, size_t mark) {
    if (w->st != SLIM_OK)
        return w->st;
    if (w->open == 0 || w->marks[w->open - 1] != mark || mark > w->buf->len)
        return slim_mls_tls_writer_fail(w, SLIM_E_MLS_WRITER_NESTING);
    w->open--;
    size_t body = w->buf->len - mark;
    uint8_t hdr[4];
    size_t n;
    slim_status st = slim_mls_tls_varint_encode(body, hdr, &n);
    if (st == SLIM_OK)
        st = slim_buf_reserve(w->buf, n);
    if (st != SLIM_OK)
        return slim_mls_tls_writer_fail(w, st);
    uint8_t *p = w->buf->data + mark;
    if (body > 0)
        memmove(p + n, p, body);
    memcpy(p, hdr, n);
    w->buf->len += n;
    return SLIM_OK;
}

/* ---- reader --------------------------------------------------------- */

void slim_mls_tls_reader_init(slim_mls_tls_reader *r, slim_bytes in) {
    /* An empty input still gets a real pointer, so views never carry NULL
     * plus an offset. */
    static const uint8_t nothing[1] = {0};
    if (in.ptr == NULL)
        in = slim_bytes_of(nothing, 0);
    slim_reader_init(&r->in, in);
    r->st = SLIM_OK;
}

size_t slim_mls_tls_reader_remaining(const slim_mls_tls_reader *r) {
    return r->st == SLIM_OK ? slim_reader_remaining(&r->in) : 0;
}

slim_bytes slim_mls_tls_reader_rest(const slim_mls_tls_reader *r) {
    return slim_bytes_of(r->in.ptr + r->in.pos, slim_mls_tls_reader_remaining(r));
}

bool slim_mls_tls_reader_more(const slim_mls_tls_reader *r) {
    return slim_mls_tls_reader_remaining(r) > 0;
}

slim_status slim_mls_tls_reader_status(const slim_mls_tls_reader *r) {
    return r->st;
}

slim_status slim_mls_tls_reader_fail(slim_mls_tls_reader *r, slim_status st) {
    if (r->st == SLIM_OK)
        r->st = st;
    return r->st;
}

slim_status slim_mls_tls_reader_finish(const slim_mls_tls_reader *r) {
    if (r->st != SLIM_OK)
        return r->st;
    return slim_reader_finish(&r->in) == SLIM_OK ? SLIM_OK : SLIM_E_MLS_TRAILING_BYTES;
}

/* Records a failure of the core reader (which only reports running out of
 * input) as the MLS status. */
static slim_status rkeep(slim_mls_tls_reader *r, slim_status st) {
    return st == SLIM_OK ? SLIM_OK : slim_mls_tls_reader_fail(r, SLIM_E_MLS_TRUNCATED);
}

slim_status slim_mls_tls_get_u8(slim_mls_tls_reader *r, uint8_t *out) {
    *out = 0;
    return r->st != SLIM_OK ? r->st : rkeep(r, slim_reader_u8(&r->in, out));
}

slim_status slim_mls_tls_get_u16(slim_mls_tls_reader *r, uint16_t *out) {
    *out = 0;
    return r->st != SLIM_OK ? r->st : rkeep(r, slim_reader_u16(&r->in, out));
}

slim_status slim_mls_tls_get_u32(slim_mls_tls_reader *r, uint32_t *out) {
    *out = 0;
    return r->st != SLIM_OK ? r->st : rkeep(r, slim_reader_u32(&r->in, out));
}

slim_status slim_mls_tls_get_u64(slim_mls_tls_reader *r, uint64_t *out) {
    *out = 0;
    return r->st != SLIM_OK ? r->st : rkeep(r, slim_reader_u64(&r->in, out));
}

slim_status slim_mls_tls_get_varint(slim_mls_tls_reader *r, uint64_t *out) {
    *out = 0;
    if (r->st != SLIM_OK)
        return r->st;
    if (slim_reader_remaining(&r->in) == 0)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_TRUNCATED);
    const uint8_t *p = r->in.ptr + r->in.pos;
    unsigned prefix = p[0] >> 6;
    if (prefix == 3)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_VARINT_PREFIX);
    size_t n = (size_t)1 << prefix;
    if (slim_reader_remaining(&r->in) < n)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_TRUNCATED);
    uint64_t v = p[0] & 0x3f;
    for (size_t i = 1; i < n; i++)
        v = (v << 8) | p[i];
    /* The value must not fit the next shorter form. */
    if (slim_mls_tls_varint_size(v) != n)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_VARINT_NONMINIMAL);
    r->in.pos += n;
    *out = v;
    return SLIM_OK;
}

slim_status slim_mls_tls_get_raw(slim_mls_tls_reader *r, size_t n, slim_bytes *out) {
    *out = slim_bytes_of(NULL, 0);
    if (r->st != SLIM_OK)
        return r->st;
    return rkeep(r, slim_reader_bytes(&r->in, n, out));
}

slim_status slim_mls_tls_get_opaque_max(slim_mls_tls_reader *r, size_t max, slim_bytes *out) {
    out->ptr = NULL;
    out->len = 0;
    uint64_t n;
    if (slim_mls_tls_get_varint(r, &n) != SLIM_OK)
        return r->st;
    if (n > slim_reader_remaining(&r->in))
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_VECTOR_PAST_END);
    if (n > max)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_VECTOR_TOO_LONG);
    return rkeep(r, slim_reader_bytes(&r->in, (size_t)n, out));
}

slim_status slim_mls_tls_get_opaque(slim_mls_tls_reader *r, slim_bytes *out) {
    return slim_mls_tls_get_opaque_max(r, SIZE_MAX, out);
}

slim_status slim_mls_tls_get_vector(slim_mls_tls_reader *r, slim_mls_tls_reader *sub) {
    slim_bytes body;
    slim_mls_tls_get_opaque(r, &body);
    slim_mls_tls_reader_init(sub, body);
    sub->st = r->st;
    return r->st;
}

slim_status slim_mls_tls_end_vector(slim_mls_tls_reader *r, const slim_mls_tls_reader *sub) {
    if (r->st != SLIM_OK)
        return r->st;
    return slim_mls_tls_reader_fail(r, slim_mls_tls_reader_finish(sub));
}

slim_status slim_mls_tls_get_optional(slim_mls_tls_reader *r, bool *present) {
    *present = false;
    uint8_t b;
    if (slim_mls_tls_get_u8(r, &b) != SLIM_OK)
        return r->st;
    if (b > 1)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_OPTIONAL);
    *present = b == 1;
    return SLIM_OK;
}

/* ---- encoded vectors ------------------------------------------------ */

slim_status slim_mls_tls_get_vec(slim_mls_tls_reader *r, slim_mls_tls_elem_fn elem, void *arg,
                                 slim_mls_vec *out) {
    slim_mls_vec v = {slim_bytes_of(NULL, 0), 0};
    slim_mls_tls_reader sub;
    if (slim_mls_tls_get_vector(r, &sub) != SLIM_OK)
        return r->st;
    v.body = slim_mls_tls_reader_rest(&sub);
    while (slim_mls_tls_reader_more(&sub)) {
        size_t before = slim_mls_tls_reader_remaining(&sub);
        if (elem(&sub, arg) != SLIM_OK)
            break;
        /* An element that reads nothing would loop forever. */
        if (slim_mls_tls_reader_remaining(&sub) == before) {
            slim_mls_tls_reader_fail(&sub, SLIM_E_MLS_BAD_VALUE);
            break;
        }
        v.count++;
    }
    if (slim_mls_tls_end_vector(r, &sub) == SLIM_OK)
        *out = v;
    return r->st;
}

slim_status slim_mls_tls_put_vec(slim_mls_tls_writer *w, const slim_mls_vec *v) {
    return slim_mls_tls_put_opaque(w, v->body);
}

slim_status slim_mls_tls_elem_u16(slim_mls_tls_reader *r, void *arg) {
    (void)arg;
    uint16_t v;
    return slim_mls_tls_get_u16(r, &v);
}

slim_status slim_mls_tls_elem_u32(slim_mls_tls_reader *r, void *arg) {
    (void)arg;
    uint32_t v;
    return slim_mls_tls_get_u32(r, &v);
}

slim_status slim_mls_tls_elem_opaque(slim_mls_tls_reader *r, void *arg) {
    (void)arg;
    slim_bytes v;
    return slim_mls_tls_get_opaque(r, &v);
}

uint16_t slim_mls_vec_u16(const slim_mls_vec *v, uint32_t i) {
    const uint8_t *p = v->body.ptr + 2 * (size_t)i;
    return (uint16_t)((p[0] << 8) | p[1]);
}

uint32_t slim_mls_vec_u32(const slim_mls_vec *v, uint32_t i) {
    const uint8_t *p = v->body.ptr + 4 * (size_t)i;
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

bool slim_mls_vec_has_u16(const slim_mls_vec *v, uint16_t value) {
    for (uint32_t i = 0; i < v->count; i++) {
        if (slim_mls_vec_u16(v, i) == value)
            return true;
    }
    return false;
}
