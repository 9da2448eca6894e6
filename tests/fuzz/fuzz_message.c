/* libFuzzer target: the data-plane Message decoder. Whatever the input, the
 * decoder returns a status; a message it accepts must validate, re-encode and
 * decode again to the same encoding. */
#include "wire/wire.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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
