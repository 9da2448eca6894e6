/*
 * Field numbers used here come from proto/data-plane/v1/data_plane.proto:
 *   Message     { publish = 3 }
 *   Publish     { header = 1, session = 2 }
 *   SLIMHeader  { source = 1, destination = 2, fanout = 4, ttl = 6,
 *                 recv_from = 7, forward_to = 8, incoming_conn = 9, error = 10 }
 *   SessionHeader { session_type = 1, session_message_type = 2,
 *                   session_id = 3, message_id = 4 }
 *   Name        { name = 1 (EncodedName), str_name = 2 (StringName) }
 *   EncodedName { component_0..2 = 1..3, name_id = 4 }
 *   NameId      { id_0 = 1, id_1 = 2 }
 *   StringName  { str_component_0..2 = 1..3 }
 * Wire types were checked by the structural scan before any of this runs,
 * and the scan refused repeated message fields and oneof conflicts, so the
 * walkers below only pick fields by number. As in protobuf, the last
 * occurrence of a singular scalar field wins.
 */
#include "wire/fastpath.h"
#include "wire/pbscan.h"

enum {
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
};

/* Reads a Name; false when it has no EncodedName. Strings are optional. */
static bool read_name(slim_bytes v, slim_name *out, slim_str text[3]) {
    slim_reader r, er, ir;
    slim_pb_field f, g, h;
    bool have = false;
    slim_name n = {{0, 0, 0}, {UINT64_MAX, UINT64_MAX}};
    if (text != NULL)
        for (int i = 0; i < 3; i++)
            text[i] = (slim_str){"", 0};
    slim_reader_init(&r, v);
    while (slim_reader_remaining(&r) > 0 && slim_pb_next(&r, &f) == SLIM_OK) {
        if (f.number == 1) {
            have = true;
            slim_reader_init(&er, f.bytes);
            while (slim_reader_remaining(&er) > 0 && slim_pb_next(&er, &g) == SLIM_OK) {
                if (g.number >= 1 && g.number <= 3) {
                    n.component[g.number - 1] = g.value;
                } else if (g.number == 4) {
                    n.id = (slim_id){0, 0};
                    slim_reader_init(&ir, g.bytes);
                    while (slim_reader_remaining(&ir) > 0 && slim_pb_next(&ir, &h) == SLIM_OK) {
                        if (h.number == 1)
                            n.id.hi = h.value;
                        else if (h.number == 2)
                            n.id.lo = h.value;
                    }
                }
            }
        } else if (f.number == 2 && text != NULL) {
            slim_reader_init(&er, f.bytes);
            while (slim_reader_remaining(&er) > 0 && slim_pb_next(&er, &g) == SLIM_OK)
                if (g.number >= 1 && g.number <= 3)
                    text[g.number - 1] = (slim_str){(const char *)g.bytes.ptr, g.bytes.len};
        }
    }
    *out = n;
    return have;
}

static void read_session(slim_bytes v, slim_peek *p) {
    slim_reader r;
    slim_pb_field f;
    slim_reader_init(&r, v);
    while (slim_reader_remaining(&r) > 0 && slim_pb_next(&r, &f) == SLIM_OK) {
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
}

static slim_status read_header(slim_bytes v, slim_peek *p, const char **what) {
    slim_reader r;
    slim_pb_field f;
    bool src = false, dst = false;
    slim_reader_init(&r, v);
    while (slim_reader_remaining(&r) > 0 && slim_pb_next(&r, &f) == SLIM_OK) {
        switch (f.number) {
        case F_HDR_SOURCE:
            src = read_name(f.bytes, &p->source, NULL);
            break;
        case F_HDR_DESTINATION:
            dst = read_name(f.bytes, &p->destination, p->dst_text);
            break;
        case F_HDR_FANOUT:
            p->fanout = (uint32_t)f.value;
            break;
        case F_HDR_TTL:
            p->ttl = (uint32_t)f.value;
            break;
        case F_HDR_FORWARD_TO:
            p->has_forward_to = true;
            p->forward_to = f.value;
            break;
        case F_HDR_ERROR:
            p->error = f.value != 0;
            break;
        default:
            break;
        }
    }
    if (!src || !dst) {
        if (what != NULL)
            *what = !src ? "header.source" : "header.destination";
        return SLIM_E_WIRE_MISSING_FIELD;
    }
    return SLIM_OK;
}

slim_status slim_wire_peek(slim_bytes msg, size_t max_size, slim_peek *out, const char **what) {
    if (msg.len > max_size)
        return SLIM_E_TOO_LARGE;
    slim_status st = slim_pb_scan(msg, &dataplane__proto__v1__message__descriptor);
    if (st != SLIM_OK)
        return st;
    slim_peek p = {0};
    slim_reader r;
    slim_pb_field f;
    slim_bytes publish = {NULL, 0};
    slim_reader_init(&r, msg);
    while (slim_reader_remaining(&r) > 0 && slim_pb_next(&r, &f) == SLIM_OK) {
        if (f.number >= 1 && f.number <= 6 && f.number != 4)
            p.kind = (slim_msg_kind)f.number;
        if (f.number == F_MSG_PUBLISH) {
            publish = f.bytes;
            p.pub_start = f.start;
            p.pub_value = f.value_off;
            p.pub_end = r.pos;
        }
    }
    if (p.kind == SLIM_MSG_NONE)
        return SLIM_E_WIRE_UNKNOWN_TYPE;
    if (p.kind == SLIM_MSG_PUBLISH) {
        bool have_header = false;
        slim_reader_init(&r, publish);
        while (slim_reader_remaining(&r) > 0 && slim_pb_next(&r, &f) == SLIM_OK) {
            if (f.number == F_PUB_HEADER) {
                have_header = true;
                p.hdr_start = f.start;
                p.hdr_value = f.value_off;
                p.hdr_end = r.pos;
            } else if (f.number == F_PUB_SESSION) {
                p.has_session = true;
                read_session(f.bytes, &p);
            }
        }
        if (!have_header) {
            if (what != NULL)
                *what = "header";
            return SLIM_E_WIRE_MISSING_FIELD;
        }
        slim_bytes hdr = {publish.ptr + p.hdr_value, p.hdr_end - p.hdr_value};
        st = read_header(hdr, &p, what);
        if (st != SLIM_OK)
            return st;
    }
    *out = p;
    return SLIM_OK;
}

static slim_status put_varint(slim_buf *b, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    return slim_buf_append(b, tmp, n);
}

/* Varint fields the egress header gets instead of fields 6-9: the ttl and,
 * for delivery to a local application, the incoming connection. */
typedef struct inserts {
    uint32_t number[2];
    uint64_t value[2];
    int n;
} inserts;

static void make_inserts(inserts *ins, uint32_t ttl, const uint64_t *incoming) {
    ins->n = 0;
    if (ttl != 0) {
        ins->number[ins->n] = F_HDR_TTL;
        ins->value[ins->n++] = ttl;
    }
    if (incoming != NULL) {
        ins->number[ins->n] = F_HDR_INCOMING_CONN;
        ins->value[ins->n++] = *incoming;
    }
}

static bool node_local(uint32_t number) {
    return number >= F_HDR_TTL && number <= F_HDR_INCOMING_CONN;
}

/* Size of the rewritten header value. */
static size_t header_size(slim_bytes hdr, const inserts *ins) {
    slim_reader r;
    slim_pb_field f;
    size_t n = 0;
    for (int i = 0; i < ins->n; i++)
        n += 1 + slim_pb_varint_size(ins->value[i]);
    slim_reader_init(&r, hdr);
    while (slim_reader_remaining(&r) > 0) {
        size_t before = r.pos;
        if (slim_pb_next(&r, &f) != SLIM_OK)
            break;
        if (!node_local(f.number))
            n += r.pos - before;
    }
    return n;
}

static void put_field(slim_buf *out, uint32_t number, uint64_t value) {
    slim_buf_append_u8(out, (uint8_t)(number << 3 | SLIM_PB_VARINT));
    put_varint(out, value);
}

slim_status slim_wire_publish_egress(slim_bytes msg, const slim_peek *p, uint32_t ttl,
                                     const uint64_t *incoming, slim_buf *out) {
    inserts ins;
    make_inserts(&ins, ttl, incoming);
    slim_bytes pub = {msg.ptr + p->pub_value, p->pub_end - p->pub_value};
    slim_bytes hdr = {pub.ptr + p->hdr_value, p->hdr_end - p->hdr_value};
    size_t new_hdr = header_size(hdr, &ins);
    size_t new_pub =
        (pub.len - (p->hdr_end - p->hdr_start)) + 1 + slim_pb_varint_size(new_hdr) + new_hdr;
    size_t total =
        p->pub_start + 1 + slim_pb_varint_size(new_pub) + new_pub + (msg.len - p->pub_end);
    size_t base = out->len;
    slim_status st = slim_buf_reserve(out, total);
    if (st != SLIM_OK)
        return st;
    /* Reserved above, so the appends below cannot fail. */
    slim_buf_append(out, msg.ptr, p->pub_start);
    slim_buf_append_u8(out, (F_MSG_PUBLISH << 3) | SLIM_PB_LEN);
    put_varint(out, new_pub);
    slim_buf_append(out, pub.ptr, p->hdr_start);
    slim_buf_append_u8(out, (F_PUB_HEADER << 3) | SLIM_PB_LEN);
    put_varint(out, new_hdr);

    /* Copy the header in order, placing each inserted field before the
     * first field with a higher number (canonical order). */
    slim_reader r;
    slim_pb_field f;
    int next = 0;
    slim_reader_init(&r, hdr);
    while (slim_reader_remaining(&r) > 0) {
        size_t before = r.pos;
        if (slim_pb_next(&r, &f) != SLIM_OK)
            break;
        while (next < ins.n && f.number > ins.number[next]) {
            put_field(out, ins.number[next], ins.value[next]);
            next++;
        }
        if (!node_local(f.number))
            slim_buf_append(out, hdr.ptr + before, r.pos - before);
    }
    for (; next < ins.n; next++)
        put_field(out, ins.number[next], ins.value[next]);
    slim_buf_append(out, pub.ptr + p->hdr_end, pub.len - p->hdr_end);
    slim_buf_append(out, msg.ptr + p->pub_end, msg.len - p->pub_end);
    return out->len - base == total ? SLIM_OK : SLIM_E_INTERNAL;
}
