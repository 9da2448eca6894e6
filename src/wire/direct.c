/*
 * A Publish with an application payload, written straight from values into
 * its wire bytes (the same bytes protobuf-c encodes for the same message),
 * with its slim_peek filled from the values as the bytes are laid out: the
 * path for an application in the same process as the router, which knows
 * every routing field already and should pay for neither a protobuf tree,
 * nor a peek, nor a copy (docs/architecture.md).
 *
 * Field order and omissions follow proto3 as protobuf-c writes it: fields
 * in number order, scalars and strings left out at their defaults,
 * sub-messages always written when set.
 */
#include "wire/fastpath.h"
#include "wire/pbscan.h"

#include <string.h>

enum {
    TAG_LEN = 2, /* wire type of a length-delimited field */
    TAG_VARINT = 0,
};

static size_t vs(uint64_t v) {
    return slim_pb_varint_size(v);
}

/* Size of a field holding `n` bytes (tag, length, bytes). */
static size_t len_field(size_t n) {
    return 1 + vs(n) + n;
}

static size_t opt_varint(uint64_t v) {
    return v != 0 ? 1 + vs(v) : 0;
}

static size_t opt_str(size_t n) {
    return n != 0 ? len_field(n) : 0;
}

typedef struct name_sizes {
    size_t id, encoded, strings, name;
} name_sizes;

static name_sizes name_size(const slim_wire_name *n) {
    name_sizes z;
    z.id = opt_varint(n->name->id.hi) + opt_varint(n->name->id.lo);
    z.encoded = opt_varint(n->name->component[0]) + opt_varint(n->name->component[1]) +
                opt_varint(n->name->component[2]) + len_field(z.id);
    z.strings = 0;
    if (n->text != NULL)
        for (int i = 0; i < 3; i++)
            z.strings += opt_str(n->text[i].len);
    z.name = len_field(z.encoded) + (n->text != NULL ? len_field(z.strings) : 0);
    return z;
}

typedef struct sizes {
    name_sizes src, dst;
    size_t header, session, app, content, publish, total;
    uint32_t ttl;
} sizes;

static sizes layout(const slim_wire_publish_values *v) {
    const slim_wire_header_spec *h = &v->header;
    const slim_wire_session_spec *s = &v->session;
    sizes z;
    z.ttl = h->ttl ? h->ttl : SLIM_WIRE_DEFAULT_TTL;
    z.src = name_size(&h->source);
    z.dst = name_size(&h->destination);
    size_t identity = h->identity != NULL ? strlen(h->identity) : 0;
    z.header = len_field(z.src.name) + len_field(z.dst.name) + opt_str(identity) +
               opt_varint(h->fanout) + opt_varint(z.ttl) + (h->has_error ? 2 : 0);
    z.session = opt_varint((uint64_t)s->session_type) + opt_varint((uint64_t)s->message_type) +
                opt_varint(s->session_id) + opt_varint(s->message_id);
    size_t ptype = v->payload_type != NULL ? strlen(v->payload_type) : 0;
    z.app = opt_str(ptype) + opt_str(v->payload.len);
    z.content = len_field(z.app);
    z.publish = len_field(z.header) + len_field(z.session) + len_field(z.content);
    z.total = len_field(z.publish);
    return z;
}

size_t slim_wire_publish_values_size(const slim_wire_publish_values *v) {
    return layout(v).total;
}

/* ---- writing ---- */

static uint8_t *w_varint(uint8_t *o, uint64_t v) {
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

static uint8_t *w_tag(uint8_t *o, uint32_t number, int type) {
    *o++ = (uint8_t)(number << 3 | (uint32_t)type);
    return o;
}

static uint8_t *w_head(uint8_t *o, uint32_t number, size_t len) {
    return w_varint(w_tag(o, number, TAG_LEN), len);
}

static uint8_t *w_opt_varint(uint8_t *o, uint32_t number, uint64_t v) {
    return v != 0 ? w_varint(w_tag(o, number, TAG_VARINT), v) : o;
}

static uint8_t *w_bytes(uint8_t *o, uint32_t number, const void *p, size_t n, slim_str *view) {
    if (n == 0)
        return o;
    o = w_head(o, number, n);
    memcpy(o, p, n);
    if (view != NULL)
        *view = (slim_str){(const char *)o, n};
    return o + n;
}

static uint8_t *w_name(uint8_t *o, uint32_t number, const slim_wire_name *n, const name_sizes *z,
                       slim_peek_name *w) {
    const slim_name *nm = n->name;
    *w = (slim_peek_name){.present = true,
                          .has_encoded = true,
                          .has_id = true,
                          .has_strings = n->text != NULL,
                          .text = {{"", 0}, {"", 0}, {"", 0}}};
    o = w_head(o, number, z->name);
    o = w_head(o, 1, z->encoded);
    for (uint32_t i = 0; i < 3; i++)
        o = w_opt_varint(o, i + 1, nm->component[i]);
    o = w_head(o, 4, z->id);
    o = w_opt_varint(o, 1, nm->id.hi);
    o = w_opt_varint(o, 2, nm->id.lo);
    if (n->text != NULL) {
        o = w_head(o, 2, z->strings);
        for (uint32_t i = 0; i < 3; i++)
            o = w_bytes(o, i + 1, n->text[i].ptr, n->text[i].len, &w->text[i]);
    }
    return o;
}

void slim_wire_publish_values_write(const slim_wire_publish_values *v, uint8_t *out, slim_peek *p) {
    const slim_wire_header_spec *h = &v->header;
    const slim_wire_session_spec *s = &v->session;
    sizes z = layout(v);
    memset(p, 0, sizeof *p);
    p->kind = SLIM_MSG_PUBLISH;
    p->has_header = p->has_source = p->has_destination = p->has_session = true;
    p->source = *h->source.name;
    p->destination = *h->destination.name;
    p->fanout = h->fanout;
    p->ttl = z.ttl;
    p->has_forward_to = h->has_forward_to; /* for routing: never written */
    p->forward_to = h->forward_to;
    p->has_error = h->has_error;
    p->error = h->has_error && h->error;
    p->session_type = (uint32_t)s->session_type;
    p->message_type = (uint32_t)s->message_type;
    p->session_id = s->session_id;
    p->message_id = s->message_id;
    p->hdr_ordered = true;

    uint8_t *o = w_head(out, 3, z.publish); /* Message.publish */
    p->pub_start = 0;
    p->pub_value = (size_t)(o - out);
    p->pub_end = z.total;
    uint8_t *pub = o;
    o = w_head(o, 1, z.header); /* Publish.header */
    p->hdr_start = 0;
    p->hdr_value = (size_t)(o - pub);
    p->hdr_end = p->hdr_value + z.header;
    uint8_t *hdr = o;
    o = w_name(o, 1, &h->source, &z.src, &p->src_wire);
    o = w_name(o, 2, &h->destination, &z.dst, &p->dst_wire);
    memcpy(p->dst_text, p->dst_wire.text, sizeof p->dst_text);
    size_t identity = h->identity != NULL ? strlen(h->identity) : 0;
    slim_str id_view = {"", 0};
    o = w_bytes(o, 3, h->identity, identity, &id_view);
    p->identity = slim_bytes_of(id_view.ptr, id_view.len);
    o = w_opt_varint(o, 4, h->fanout);
    p->cut_start = (size_t)(o - hdr);
    o = w_opt_varint(o, 6, z.ttl);
    if (h->has_error) {
        o = w_tag(o, 10, TAG_VARINT);
        *o++ = h->error ? 1 : 0;
    }
    p->cut_end = (size_t)(o - hdr);
    o = w_head(o, 2, z.session); /* Publish.session */
    o = w_opt_varint(o, 1, (uint64_t)s->session_type);
    o = w_opt_varint(o, 2, (uint64_t)s->message_type);
    o = w_opt_varint(o, 3, s->session_id);
    o = w_opt_varint(o, 4, s->message_id);
    o = w_head(o, 3, z.content); /* Publish.msg */
    o = w_head(o, 1, z.app);     /* Content.app_payload */
    size_t ptype = v->payload_type != NULL ? strlen(v->payload_type) : 0;
    o = w_bytes(o, 1, v->payload_type, ptype, NULL);
    w_bytes(o, 2, v->payload.ptr, v->payload.len, NULL);
}
