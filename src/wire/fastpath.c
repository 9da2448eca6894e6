/*
 * Field numbers used here come from proto/data-plane/v1/data_plane.proto:
 *   Message     { subscribe = 1, unsubscribe = 2, publish = 3 }
 *   Publish     { header = 1, session = 2 }
 *   Subscribe, Unsubscribe { header = 1, subscription_id = 2 }
 *   SLIMHeader  { source = 1, destination = 2, fanout = 4, ttl = 6,
 *                 recv_from = 7, forward_to = 8, incoming_conn = 9, error = 10,
 *                 header_mac = 11 }
 *   SessionHeader { session_type = 1, session_message_type = 2,
 *                   session_id = 3, message_id = 4 }
 *   Name        { name = 1 (EncodedName), str_name = 2 (StringName) }
 *   EncodedName { component_0..2 = 1..3, name_id = 4 }
 *   NameId      { id_0 = 1, id_1 = 2 }
 *   StringName  { str_component_0..2 = 1..3 }
 * As in protobuf, the last occurrence of a singular scalar field wins.
 */
#include "wire/fastpath.h"
#include "wire/pbscan.h"

#include <string.h>

enum {
    F_MSG_SUBSCRIBE = 1,
    F_MSG_PUBLISH = 3,
    F_PUB_HEADER = 1,
    F_PUB_SESSION = 2,
    F_HDR_SOURCE = 1,
    F_HDR_DESTINATION = 2,
    F_HDR_FANOUT = 4,
    F_HDR_TTL = 6,
    F_HDR_RECV_FROM = 7,
    F_HDR_FORWARD_TO = 8,
    F_HDR_INCOMING_CONN = 9,
    F_HDR_ERROR = 10,
    F_HDR_MAC = 11,
};

/* Each walker below reads one message level with slim_pb_next_checked()
 * (which checks wire types and repetitions against the schema), picks the
 * fields routing needs, and scans every other nested message, so one pass
 * both validates the whole message and reads it. */

/* The header fields the egress form rewrites: the ttl, the node-local
 * fields, the per-hop header MAC (it authenticates one link and means
 * nothing on the next) and, because it sits between them in field order,
 * the error flag, which is written back as it was. */
static bool rewritten(uint32_t number) {
    return number >= F_HDR_TTL && number <= F_HDR_MAC;
}

/* Scans a nested message field that the walker does not interpret. */
static slim_status other(const slim_pb_field *f, const slim_pb_rule *ru) {
    if (ru == NULL || ru->sub == NULL)
        return SLIM_OK;
    return slim_pb_scan_nested(f->bytes, ru->sub);
}

/* The name walkers run twice per forwarded message, so they check their
 * few fields by hand instead of through the descriptors: the same rules
 * (wire type of each known field, a nested message at most once, unknown
 * fields skipped) in a fraction of the work. */

/* The usual shape of a name's numeric fields, read without filling a
 * slim_pb_field: a one-byte tag of a varint field, then its value. *number
 * is 0 when the next field has another shape (the caller reads it with
 * slim_pb_next, which also reports errors the same way). */
static inline slim_status next_varint(slim_reader *r, uint32_t *number, uint64_t *value) {
    uint8_t key = r->ptr[r->pos];
    *number = 0;
    if (key >= 0x80 || key < 8 || (key & 7) != SLIM_PB_VARINT)
        return SLIM_OK;
    r->pos++;
    slim_status st = slim_pb_read_varint(r, value);
    if (st == SLIM_OK)
        *number = key >> 3;
    return st;
}

static slim_status walk_name_id(slim_bytes v, slim_id *id) {
    slim_reader r;
    slim_pb_field f;
    *id = (slim_id){0, 0};
    slim_reader_init(&r, v);
    while (slim_reader_remaining(&r) > 0) {
        uint32_t number;
        uint64_t x;
        slim_status st = next_varint(&r, &number, &x);
        if (st == SLIM_OK && number == 0 && (st = slim_pb_next(&r, &f)) == SLIM_OK) {
            if (f.number > 2)
                continue;
            if (f.wire_type != SLIM_PB_VARINT)
                return SLIM_E_WIRE_MALFORMED;
            number = f.number;
            x = f.value;
        }
        if (st != SLIM_OK)
            return st;
        if (number == 1)
            id->hi = x;
        else if (number == 2)
            id->lo = x;
    }
    return SLIM_OK;
}

static slim_status walk_encoded(slim_bytes v, slim_name *n, bool *have_id) {
    slim_reader r;
    slim_pb_field f;
    *have_id = false;
    *n = (slim_name){{0, 0, 0}, {UINT64_MAX, UINT64_MAX}};
    slim_reader_init(&r, v);
    while (slim_reader_remaining(&r) > 0) {
        uint32_t number;
        uint64_t x;
        slim_status st = next_varint(&r, &number, &x);
        if (st == SLIM_OK && number == 0 && (st = slim_pb_next(&r, &f)) == SLIM_OK) {
            if (f.number == 4) {
                if (f.wire_type != SLIM_PB_LEN || *have_id)
                    return SLIM_E_WIRE_MALFORMED;
                *have_id = true;
                st = walk_name_id(f.bytes, &n->id);
                if (st != SLIM_OK)
                    return st;
                continue;
            }
            if (f.number > 3)
                continue;
            if (f.wire_type != SLIM_PB_VARINT)
                return SLIM_E_WIRE_MALFORMED;
            number = f.number;
            x = f.value;
        }
        if (st != SLIM_OK)
            return st;
        if (number == 4)
            return SLIM_E_WIRE_MALFORMED; /* name_id is a message, not a varint */
        if (number >= 1 && number <= 3)
            n->component[number - 1] = x;
    }
    return SLIM_OK;
}

static slim_status walk_strings(slim_bytes v, slim_str text[3]) {
    slim_reader r;
    slim_pb_field f;
    slim_reader_init(&r, v);
    while (slim_reader_remaining(&r) > 0) {
        slim_status st = slim_pb_next(&r, &f);
        if (st != SLIM_OK)
            return st;
        if (f.number >= 1 && f.number <= 3) {
            if (f.wire_type != SLIM_PB_LEN)
                return SLIM_E_WIRE_MALFORMED;
            text[f.number - 1] = (slim_str){(const char *)f.bytes.ptr, f.bytes.len};
        }
    }
    return SLIM_OK;
}

/* A Name: its hashes and id into out, the rest of what it looked like into
 * w (a name without an EncodedName keeps the default hashes, and
 * w->has_encoded is false). */
static slim_status walk_name(slim_bytes v, slim_name *out, slim_peek_name *w) {
    slim_reader r;
    slim_pb_field f;
    *w = (slim_peek_name){.present = true, .text = {{"", 0}, {"", 0}, {"", 0}}};
    *out = (slim_name){{0, 0, 0}, {UINT64_MAX, UINT64_MAX}};
    slim_reader_init(&r, v);
    while (slim_reader_remaining(&r) > 0) {
        slim_status st = slim_pb_next(&r, &f);
        if (st != SLIM_OK)
            return st;
        if (f.number != 1 && f.number != 2)
            continue;
        bool *seen = f.number == 1 ? &w->has_encoded : &w->has_strings;
        if (f.wire_type != SLIM_PB_LEN || *seen)
            return SLIM_E_WIRE_MALFORMED;
        *seen = true;
        st =
            f.number == 1 ? walk_encoded(f.bytes, out, &w->has_id) : walk_strings(f.bytes, w->text);
        if (st != SLIM_OK)
            return st;
    }
    return SLIM_OK;
}

static slim_status walk_session(slim_bytes v, const slim_pb_schema *s, slim_peek *p) {
    slim_reader r;
    slim_pb_field f;
    const slim_pb_rule *ru;
    uint64_t seen = 0;
    slim_reader_init(&r, v);
    while (slim_reader_remaining(&r) > 0) {
        slim_status st = slim_pb_next_checked(&r, s, &seen, &f, &ru);
        if (st != SLIM_OK)
            return st;
        if (ru == NULL)
            continue;
        uint32_t x = (uint32_t)f.value;
        switch (f.number) {
        case 1:
            p->session_type = x;
            break;
        case 2:
            p->message_type = x;
            break;
        case 3:
            p->session_id = x;
            break;
        case 4:
            p->message_id = x;
            break;
        default:
            break;
        }
    }
    return SLIM_OK;
}

static slim_status walk_header(slim_bytes v, const slim_pb_schema *s, slim_peek *p,
                               const char **what) {
    slim_reader r;
    slim_pb_field f;
    const slim_pb_rule *ru;
    uint64_t seen = 0;
    bool src = false, dst = false;
    slim_status st = SLIM_OK;
    uint32_t last = 0;
    bool cut_open = false;
    p->hdr_ordered = true;
    p->cut_start = p->cut_end = v.len;
    slim_reader_init(&r, v);
    while (st == SLIM_OK && slim_reader_remaining(&r) > 0) {
        if ((st = slim_pb_next_checked(&r, s, &seen, &f, &ru)) != SLIM_OK)
            break;
        /* Where the rewritten fields sit, for a two-copy egress. */
        if (f.number < last)
            p->hdr_ordered = false;
        last = f.number;
        if (f.number >= F_HDR_TTL && !cut_open) {
            cut_open = true;
            p->cut_start = p->cut_end = f.start;
        }
        if (rewritten(f.number))
            p->cut_end = r.pos;
        if (ru == NULL)
            continue;
        switch (f.number) {
        case F_HDR_SOURCE:
            st = walk_name(f.bytes, &p->source, &p->src_wire);
            src = p->src_wire.has_encoded;
            break;
        case F_HDR_DESTINATION:
            st = walk_name(f.bytes, &p->destination, &p->dst_wire);
            dst = p->dst_wire.has_encoded;
            memcpy(p->dst_text, p->dst_wire.text, sizeof p->dst_text);
            break;
        case 3:
            p->identity = f.bytes;
            break;
        case F_HDR_FANOUT:
            p->fanout = (uint32_t)f.value;
            break;
        case F_HDR_TTL:
            p->ttl = (uint32_t)f.value;
            break;
        case F_HDR_RECV_FROM:
            p->has_recv_from = true;
            p->recv_from = f.value;
            break;
        case F_HDR_FORWARD_TO:
            p->has_forward_to = true;
            p->forward_to = f.value;
            break;
        case F_HDR_ERROR:
            p->has_error = true;
            p->error = f.value != 0;
            break;
        case F_HDR_MAC:
            p->has_mac = true;
            p->mac = f.bytes;
            break;
        default:
            break;
        }
    }
    if (st != SLIM_OK)
        return st;
    p->has_source = src;
    p->has_destination = dst;
    if (!src || !dst) {
        if (what != NULL)
            *what = !src ? "header.source" : "header.destination";
        return SLIM_E_WIRE_MISSING_FIELD;
    }
    return SLIM_OK;
}

/* A Publish, Subscribe or Unsubscribe (their header is field 1; a
 * Publish's session header field 2). A Publish needs a header with both
 * names; the others are checked in full by whoever handles them, so a
 * missing header is only noted (has_header) for them. */
static slim_status walk_routed(slim_bytes v, const slim_pb_schema *s, slim_peek *p,
                               const char **what) {
    slim_reader r;
    slim_pb_field f;
    const slim_pb_rule *ru;
    uint64_t seen = 0;
    bool is_pub = p->kind == SLIM_MSG_PUBLISH;
    slim_bytes hdr = {NULL, 0};
    const slim_pb_schema *hdr_schema = NULL;
    slim_status st = SLIM_OK;
    slim_reader_init(&r, v);
    while (st == SLIM_OK && slim_reader_remaining(&r) > 0) {
        if ((st = slim_pb_next_checked(&r, s, &seen, &f, &ru)) != SLIM_OK)
            break;
        if (ru == NULL)
            continue;
        if (f.number == F_PUB_HEADER) {
            p->has_header = true;
            hdr = f.bytes;
            hdr_schema = ru->sub;
            p->hdr_start = f.start;
            p->hdr_value = f.value_off;
            p->hdr_end = r.pos;
        } else if (is_pub && f.number == F_PUB_SESSION) {
            p->has_session = true;
            st = walk_session(f.bytes, ru->sub, p);
        } else {
            st = other(&f, ru);
        }
    }
    if (st == SLIM_E_TRUNCATED)
        st = SLIM_E_WIRE_MALFORMED;
    if (st != SLIM_OK)
        return st;
    if (!p->has_header) {
        if (!is_pub)
            return SLIM_OK;
        if (what != NULL)
            *what = "header";
        return SLIM_E_WIRE_MISSING_FIELD;
    }
    st = walk_header(hdr, hdr_schema, p, what);
    if (st == SLIM_E_WIRE_MISSING_FIELD && !is_pub)
        st = SLIM_OK;
    return st == SLIM_E_TRUNCATED ? SLIM_E_WIRE_MALFORMED : st;
}

slim_status slim_wire_peek(slim_bytes msg, size_t max_size, slim_peek *out, const char **what) {
    if (msg.len > max_size)
        return SLIM_E_TOO_LARGE;
    const slim_pb_schema *s = slim_wire_message_schema();
    if (s == NULL)
        return SLIM_E_INTERNAL;
    /* Filled in place: a local copy zeroed and then copied out cost more
     * than the rest of a short message's walk. memset's size is hidden
     * from the compiler, which would otherwise inline a slow `rep stos`
     * instead of calling the C library's vector version. */
    slim_peek *p = out;
    size_t size = sizeof *p;
    __asm__("" : "+r"(size));
    memset(p, 0, size);
    slim_reader r;
    slim_pb_field f;
    const slim_pb_rule *ru;
    const slim_pb_schema *routed_schema = NULL;
    uint64_t seen = 0;
    slim_bytes routed = {NULL, 0};
    slim_reader_init(&r, msg);
    while (slim_reader_remaining(&r) > 0) {
        slim_status st = slim_pb_next_checked(&r, s, &seen, &f, &ru);
        if (st != SLIM_OK)
            return st;
        if (ru == NULL)
            continue;
        if (f.number != 4)
            p->kind = (slim_msg_kind)f.number; /* the message_type oneof */
        if (f.number >= F_MSG_SUBSCRIBE && f.number <= F_MSG_PUBLISH) {
            routed = f.bytes;
            routed_schema = ru->sub;
            p->pub_start = f.start;
            p->pub_value = f.value_off;
            p->pub_end = r.pos;
        } else if ((st = other(&f, ru)) != SLIM_OK) {
            return st;
        }
    }
    if (p->kind == SLIM_MSG_NONE)
        return SLIM_E_WIRE_UNKNOWN_TYPE;
    if (p->kind >= SLIM_MSG_SUBSCRIBE && p->kind <= SLIM_MSG_PUBLISH)
        return walk_routed(routed, routed_schema, p, what);
    return SLIM_OK;
}

/* The fields the egress header gets instead of fields 6-11, in field
 * order: the ttl, for delivery to a local application the incoming
 * connection, the error flag when the input had one (varints), and the
 * header MAC of the next hop when there is one (32 bytes). */
typedef struct inserts {
    uint32_t number[4];
    uint64_t value[4];
    const uint8_t *mac; /* for the field SLIM_HDR_MAC */
    int n;
} inserts;

static void make_inserts(inserts *ins, const slim_peek *p, uint32_t ttl, const uint64_t *incoming,
                         const uint8_t *mac) {
    ins->n = 0;
    ins->mac = mac;
    if (ttl != 0) {
        ins->number[ins->n] = F_HDR_TTL;
        ins->value[ins->n++] = ttl;
    }
    if (incoming != NULL) {
        ins->number[ins->n] = F_HDR_INCOMING_CONN;
        ins->value[ins->n++] = *incoming;
    }
    if (p->has_error) {
        ins->number[ins->n] = F_HDR_ERROR;
        ins->value[ins->n++] = p->error;
    }
    if (mac != NULL) {
        ins->number[ins->n] = F_HDR_MAC;
        ins->value[ins->n++] = SLIM_WIRE_MAC_SIZE;
    }
}

static size_t insert_size(const inserts *ins, int i) {
    if (ins->number[i] == F_HDR_MAC)
        return 2 + SLIM_WIRE_MAC_SIZE; /* tag, length 32, bytes */
    return 1 + slim_pb_varint_size(ins->value[i]);
}

/* Size of the inserted fields. */
static size_t inserts_size(const inserts *ins) {
    size_t n = 0;
    for (int i = 0; i < ins->n; i++)
        n += insert_size(ins, i);
    return n;
}

/* Size of the rewritten header value. */
static size_t header_size(slim_bytes hdr, const inserts *ins) {
    slim_reader r;
    slim_pb_field f;
    size_t n = inserts_size(ins);
    slim_reader_init(&r, hdr);
    while (slim_reader_remaining(&r) > 0) {
        size_t before = r.pos;
        if (slim_pb_next(&r, &f) != SLIM_OK)
            break;
        if (!rewritten(f.number))
            n += r.pos - before;
    }
    return n;
}

static size_t egress_header_size(slim_bytes hdr, const slim_peek *p, const inserts *ins) {
    if (p->hdr_ordered)
        return hdr.len - (p->cut_end - p->cut_start) + inserts_size(ins);
    return header_size(hdr, ins);
}

typedef struct sizes {
    size_t hdr, pub, total;
} sizes;

static sizes egress_sizes(slim_bytes msg, const slim_peek *p, const inserts *ins) {
    slim_bytes pub = {msg.ptr + p->pub_value, p->pub_end - p->pub_value};
    slim_bytes hdr = {pub.ptr + p->hdr_value, p->hdr_end - p->hdr_value};
    sizes z;
    z.hdr = egress_header_size(hdr, p, ins);
    z.pub = (pub.len - (p->hdr_end - p->hdr_start)) + 1 + slim_pb_varint_size(z.hdr) + z.hdr;
    z.total = p->pub_start + 1 + slim_pb_varint_size(z.pub) + z.pub + (msg.len - p->pub_end);
    return z;
}

static uint8_t *put(uint8_t *o, const void *src, size_t n) {
    if (n > 0)
        memcpy(o, src, n);
    return o + n;
}

static uint8_t *put_varint_raw(uint8_t *o, uint64_t v) {
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

static uint8_t *put_inserts(uint8_t *o, const inserts *ins, int from, int to) {
    for (int i = from; i < to; i++) {
        if (ins->number[i] == F_HDR_MAC) {
            *o++ = (uint8_t)(F_HDR_MAC << 3 | SLIM_PB_LEN);
            *o++ = SLIM_WIRE_MAC_SIZE;
            o = put(o, ins->mac, SLIM_WIRE_MAC_SIZE);
            continue;
        }
        *o++ = (uint8_t)(ins->number[i] << 3 | SLIM_PB_VARINT);
        o = put_varint_raw(o, ins->value[i]);
    }
    return o;
}

size_t slim_wire_egress_size(slim_bytes msg, const slim_peek *p, uint32_t ttl,
                             const uint64_t *incoming, bool with_mac) {
    static const uint8_t none[SLIM_WIRE_MAC_SIZE];
    inserts ins;
    make_inserts(&ins, p, ttl, incoming, with_mac ? none : NULL);
    return egress_sizes(msg, p, &ins).total;
}

void slim_wire_egress_write(slim_bytes msg, const slim_peek *p, uint32_t ttl,
                            const uint64_t *incoming, const uint8_t *mac, uint8_t *o) {
    inserts ins;
    make_inserts(&ins, p, ttl, incoming, mac);
    sizes z = egress_sizes(msg, p, &ins);
    slim_bytes pub = {msg.ptr + p->pub_value, p->pub_end - p->pub_value};
    slim_bytes hdr = {pub.ptr + p->hdr_value, p->hdr_end - p->hdr_value};
    o = put(o, msg.ptr, p->pub_start);
    *o++ = (uint8_t)((uint32_t)p->kind << 3 | SLIM_PB_LEN);
    o = put_varint_raw(o, z.pub);
    o = put(o, pub.ptr, p->hdr_start);
    *o++ = (F_PUB_HEADER << 3) | SLIM_PB_LEN;
    o = put_varint_raw(o, z.hdr);
    if (p->hdr_ordered) {
        /* Canonical order: everything before field 6, our fields, the rest. */
        o = put(o, hdr.ptr, p->cut_start);
        o = put_inserts(o, &ins, 0, ins.n);
        o = put(o, hdr.ptr + p->cut_end, hdr.len - p->cut_end);
    } else {
        /* Any order: copy field by field, each inserted field before the
         * first field with a higher number. */
        slim_reader r;
        slim_pb_field f;
        int next = 0;
        slim_reader_init(&r, hdr);
        while (slim_reader_remaining(&r) > 0) {
            size_t before = r.pos;
            if (slim_pb_next(&r, &f) != SLIM_OK)
                break;
            while (next < ins.n && f.number > ins.number[next]) {
                o = put_inserts(o, &ins, next, next + 1);
                next++;
            }
            if (!rewritten(f.number))
                o = put(o, hdr.ptr + before, r.pos - before);
        }
        o = put_inserts(o, &ins, next, ins.n);
    }
    o = put(o, pub.ptr + p->hdr_end, pub.len - p->hdr_end);
    put(o, msg.ptr + p->pub_end, msg.len - p->pub_end);
}

slim_status slim_wire_egress(slim_bytes msg, const slim_peek *p, uint32_t ttl,
                             const uint64_t *incoming, const uint8_t *mac, slim_buf *out) {
    size_t n = slim_wire_egress_size(msg, p, ttl, incoming, mac != NULL);
    uint8_t *dst;
    slim_status st = slim_buf_append_zeros(out, n, &dst);
    if (st == SLIM_OK)
        slim_wire_egress_write(msg, p, ttl, incoming, mac, dst);
    return st;
}

/* ---- the header MAC's input ---- */

/* The preimage is little-endian and length-prefixed (docs/protocol.md,
 * "Header MAC"). Its fixed parts take at most 144 bytes (two names of 44
 * bytes and three string lengths each, identity length, fanout, recv_from,
 * forward_to, error, ttl) and its strings are copied from the header, so
 * MAC_FIXED_MAX + the length of the strings always suffices: it is written into
 * space reserved once, with plain stores. */
#define MAC_FIXED_MAX 160
static uint8_t *w_u32(uint8_t *o, uint32_t v) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(o, &v, 4);
#else
    for (int i = 0; i < 4; i++)
        o[i] = (uint8_t)(v >> (8 * i));
#endif
    return o + 4;
}

static uint8_t *w_u64(uint8_t *o, uint64_t v) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(o, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        o[i] = (uint8_t)(v >> (8 * i));
#endif
    return o + 8;
}

static uint8_t *w_lp(uint8_t *o, slim_bytes s) {
    o = w_u32(o, (uint32_t)s.len);
    return put(o, s.ptr, s.len);
}

/* A name: presence byte, then the presence byte of its hashes, the three
 * hashes and its optional id, then the presence byte of its strings and
 * the three strings. */
static uint8_t *w_name(uint8_t *o, const slim_name *n, const slim_peek_name *w) {
    if (!w->present) {
        *o++ = 0;
        return o;
    }
    *o++ = 1;
    *o++ = w->has_encoded;
    if (w->has_encoded) {
        for (int i = 0; i < 3; i++)
            o = w_u64(o, n->component[i]);
        *o++ = w->has_id;
        if (w->has_id) {
            o = w_u64(o, n->id.hi);
            o = w_u64(o, n->id.lo);
        }
    }
    *o++ = w->has_strings;
    for (int i = 0; w->has_strings && i < 3; i++)
        o = w_lp(o, slim_bytes_of(w->text[i].ptr, w->text[i].len));
    return o;
}

slim_status slim_wire_mac_fields(const slim_peek *p, const uint32_t *ttl, bool clear_node_local,
                                 slim_buf *out) {
    if (!p->has_header)
        return SLIM_E_WIRE_MISSING_FIELD;
    bool rf = p->has_recv_from && !clear_node_local;
    bool ft = p->has_forward_to && !clear_node_local;
    size_t strings = p->identity.len;
    for (int i = 0; i < 3; i++)
        strings += p->src_wire.text[i].len + p->dst_wire.text[i].len;
    uint8_t *o;
    slim_status st = slim_buf_append_zeros(out, strings + MAC_FIXED_MAX, &o);
    if (st != SLIM_OK)
        return st;
    o = w_name(o, &p->source, &p->src_wire);
    o = w_name(o, &p->destination, &p->dst_wire);
    o = w_lp(o, p->identity);
    o = w_u32(o, p->fanout);
    *o++ = rf;
    if (rf)
        o = w_u64(o, p->recv_from);
    *o++ = ft;
    if (ft)
        o = w_u64(o, p->forward_to);
    *o++ = p->has_error;
    if (p->has_error)
        *o++ = p->error;
    o = w_u32(o, ttl != NULL ? *ttl : p->ttl);
    out->len = (size_t)(o - out->data);
    return SLIM_OK;
}
