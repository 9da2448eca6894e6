/* libFuzzer target: the data-plane Message decoder and the forwarding fast
 * path. Whatever the input, both return a status; a message the decoder
 * accepts re-encodes and decodes again to the same encoding; a Publish the
 * fast path accepts also decodes, and its egress form decodes with the ttl
 * set and the node-local fields gone. */
#include "wire/fastpath.h"

#include <stdlib.h>
#include <string.h>

static void check_fast_path(const uint8_t *data, size_t size) {
    slim_peek p;
    if (slim_wire_peek(slim_bytes_of(data, size), 1u << 20, &p, NULL) != SLIM_OK)
        return;
    slim_msg *m = NULL;
    if (slim_wire_decode(slim_bytes_of(data, size), 1u << 20, &m) != SLIM_OK)
        abort(); /* the fast path accepted what the decoder refuses */
    if (slim_wire_kind(m) != p.kind)
        abort();
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
