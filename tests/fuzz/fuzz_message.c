/* libFuzzer target: the data-plane Message decoder and the forwarding fast
 * path. Whatever the input, both return a status; a message the decoder
 * accepts re-encodes and decodes again to the same encoding; a Publish the
 * fast path accepts also decodes, and its egress form decodes with the ttl
 * set and the node-local fields gone. The header MAC input the fast path
 * builds from its peek equals one built here from the decoded message. */
#include "wire/fastpath.h"

#include <stdlib.h>
#include <string.h>

/* ---- the header MAC input from a decoded header (docs/protocol.md) ---- */

static void put(slim_buf *b, const void *p, size_t n) {
    if (slim_buf_append(b, p, n) != SLIM_OK)
        abort();
}

static void put_int(slim_buf *b, uint64_t v, int bytes) {
    uint8_t x[8];
    for (int i = 0; i < bytes; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    put(b, x, (size_t)bytes);
}

static void put_flag(slim_buf *b, bool v) {
    uint8_t x = v;
    put(b, &x, 1);
}

static void put_str(slim_buf *b, const char *s) {
    size_t n = strlen(s);
    put_int(b, n, 4);
    put(b, s, n);
}

static void ref_name(slim_buf *b, const slim_pb_name *n) {
    put_flag(b, n != NULL);
    if (n == NULL)
        return;
    put_flag(b, n->name != NULL);
    if (n->name != NULL) {
        put_int(b, n->name->component_0, 8);
        put_int(b, n->name->component_1, 8);
        put_int(b, n->name->component_2, 8);
        put_flag(b, n->name->name_id != NULL);
        if (n->name->name_id != NULL) {
            put_int(b, n->name->name_id->id_0, 8);
            put_int(b, n->name->name_id->id_1, 8);
        }
    }
    put_flag(b, n->str_name != NULL);
    if (n->str_name != NULL) {
        put_str(b, n->str_name->str_component_0);
        put_str(b, n->str_name->str_component_1);
        put_str(b, n->str_name->str_component_2);
    }
}

static void ref_fields(slim_buf *b, const slim_pb_header *h) {
    ref_name(b, h->source);
    ref_name(b, h->destination);
    put_str(b, h->identity);
    put_int(b, h->fanout, 4);
    put_flag(b, h->_recv_from_case);
    if (h->_recv_from_case)
        put_int(b, h->recv_from, 8);
    put_flag(b, h->_forward_to_case);
    if (h->_forward_to_case)
        put_int(b, h->forward_to, 8);
    put_flag(b, h->_error_case);
    if (h->_error_case)
        put_flag(b, h->error);
    put_int(b, h->ttl, 4);
}

/* protobuf-c hands strings over NUL-terminated, so one with a NUL inside
 * reads shorter here than on the wire (where the MAC covers every byte). */
static bool has_nul(const slim_peek *p) {
    bool nul = p->identity.len > 0 && memchr(p->identity.ptr, 0, p->identity.len) != NULL;
    for (int i = 0; i < 3; i++) {
        const slim_str *s[2] = {&p->src_wire.text[i], &p->dst_wire.text[i]};
        for (int k = 0; k < 2; k++)
            nul = nul || (s[k]->len > 0 && memchr(s[k]->ptr, 0, s[k]->len) != NULL);
    }
    return nul;
}

static void check_mac_fields(const slim_peek *p, const slim_msg *m) {
    const slim_pb_header *h = slim_wire_header(m);
    if (!p->has_header || h == NULL || has_nul(p))
        return;
    slim_buf fast = SLIM_BUF_INIT, ref = SLIM_BUF_INIT;
    if (slim_wire_mac_fields(p, NULL, false, &fast) != SLIM_OK)
        abort();
    ref_fields(&ref, h);
    if (fast.len != ref.len || memcmp(fast.data, ref.data, fast.len) != 0)
        abort(); /* the peek read the header differently from the decoder */
    slim_buf_cleanup(&fast);
    slim_buf_cleanup(&ref);
}

static void check_fast_path(const uint8_t *data, size_t size) {
    slim_peek p;
    if (slim_wire_peek(slim_bytes_of(data, size), 1u << 20, &p, NULL) != SLIM_OK)
        return;
    slim_msg *m = NULL;
    if (slim_wire_decode(slim_bytes_of(data, size), 1u << 20, &m) != SLIM_OK)
        abort(); /* the fast path accepted what the decoder refuses */
    if (slim_wire_kind(m) != p.kind)
        abort();
    check_mac_fields(&p, m);
    slim_wire_free(m);
    if (p.kind != SLIM_MSG_PUBLISH)
        return;
    slim_buf out = SLIM_BUF_INIT;
    if (slim_wire_egress(slim_bytes_of(data, size), &p, 7, NULL, NULL, &out) != SLIM_OK)
        abort();
    slim_msg *e = NULL;
    if (slim_wire_decode(slim_buf_view(&out), SIZE_MAX, &e) != SLIM_OK)
        abort();
    slim_pb_header *h = slim_wire_header(e);
    if (h == NULL || h->ttl != 7 || h->_recv_from_case || h->_forward_to_case ||
        h->_incoming_conn_case || h->_header_mac_case)
        abort();
    slim_name d;
    if (slim_wire_name_get(h->destination, &d) != SLIM_OK || !slim_name_equal(&d, &p.destination))
        abort();
    slim_wire_free(e);
    slim_buf_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_fast_path(data, size);
    slim_msg *m = NULL;
    slim_status st = slim_wire_decode(slim_bytes_of(data, size), 1u << 20, &m);
    if (st != SLIM_OK)
        return 0;
    (void)slim_wire_validate(m, NULL);
    slim_pb_header *h = slim_wire_header(m);
    slim_name n;
    if (h != NULL)
        (void)slim_wire_name_get(h->destination, &n);
    slim_buf a = SLIM_BUF_INIT, b = SLIM_BUF_INIT;
    if (slim_wire_encode(m, SIZE_MAX, &a) != SLIM_OK)
        abort();
    slim_msg *again = NULL;
    if (slim_wire_decode(slim_buf_view(&a), SIZE_MAX, &again) != SLIM_OK)
        abort();
    if (slim_wire_encode(again, SIZE_MAX, &b) != SLIM_OK || a.len != b.len ||
        memcmp(a.data, b.data, a.len) != 0)
        abort();
    slim_wire_free(again);
    slim_wire_free(m);
    slim_buf_cleanup(&a);
    slim_buf_cleanup(&b);
    return 0;
}
