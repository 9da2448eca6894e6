/*
 * libFuzzer target for the pure gRPC rules in src/transport/codec.c and
 * md.c. The input drives the reassembly of length-prefixed messages (cut
 * at points taken from the input itself) and is also read as a
 * grpc-timeout, a grpc-message, a base64 value, a "-bin" header and an
 * endpoint. Round trips must hold; anything else must fail cleanly.
 */
#include "transport/codec.h"
#include "transport/endpoint.h"
#include "transport/md.h"
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

#define MAX_MSG 4096

static void deframe(const uint8_t *data, size_t size) {
    slim_grpc_deframer d;
    slim_grpc_deframer_init(&d, MAX_MSG);
    size_t pos = 0;
    unsigned cut = size > 0 ? data[0] : 1;
    while (pos < size) {
        size_t piece = 1 + (cut % 97);
        cut = cut * 31 + 7;
        if (piece > size - pos)
            piece = size - pos;
        size_t off = 0;
        while (off < piece) {
            size_t used;
            bool have;
            slim_bytes msg;
            slim_status st = slim_grpc_deframe(&d, slim_bytes_of(data + pos + off, piece - off),
                                               &used, &have, &msg);
            if (used > piece - off)
                abort();
            off += used;
            if (st != SLIM_OK) {
                slim_grpc_deframer_cleanup(&d);
                return;
            }
            if (have && msg.len > MAX_MSG)
                abort();
            if (!have && used == 0)
                abort(); /* no progress without a message */
        }
        pos += piece;
    }
    slim_grpc_deframer_cleanup(&d);
}

static void text_rules(const uint8_t *data, size_t size) {
    slim_str in = slim_str_of((const char *)data, size);
    uint64_t ns, back;
    if (slim_grpc_timeout_parse(in, &ns) == SLIM_OK) {
        char out[16];
        slim_grpc_timeout_format(ns, out);
        if (slim_grpc_timeout_parse(slim_str_of(out, strlen(out)), &back) != SLIM_OK ||
            (back < ns && ns != UINT64_MAX && back < UINT64_MAX))
            abort();
    }
    (void)slim_grpc_code_parse(in);

    slim_buf enc = SLIM_BUF_INIT, dec = SLIM_BUF_INIT;
    if (slim_grpc_percent_encode(in, &enc) == SLIM_OK &&
        slim_grpc_percent_decode(slim_str_of((const char *)enc.data, enc.len), &dec) == SLIM_OK &&
        (dec.len != size || (size > 0 && memcmp(dec.data, data, size) != 0)))
        abort();
    enc.len = dec.len = 0;
    (void)slim_grpc_percent_decode(in, &dec);

    dec.len = 0;
    if (slim_base64_decode(in, &dec) == SLIM_OK) {
        slim_buf again = SLIM_BUF_INIT;
        if (slim_base64_encode(slim_buf_view(&dec), &enc) != SLIM_OK ||
            slim_base64_decode(slim_str_of((const char *)enc.data, enc.len), &again) != SLIM_OK ||
            again.len != dec.len || (dec.len > 0 && memcmp(again.data, dec.data, dec.len) != 0))
            abort();
        slim_buf_cleanup(&again);
    }
    slim_buf_cleanup(&enc);
    slim_buf_cleanup(&dec);

    slim_grpc_md md = SLIM_GRPC_MD_INIT;
    (void)slim_grpc_md_add_wire(&md, slim_str_of("x-bin", 5), in);
    (void)slim_grpc_md_add_wire(&md, slim_str_of("x-text", 6), in);
    slim_grpc_md_cleanup(&md);

    char *text = slim_strndup((const char *)data, size);
    if (text != NULL) {
        slim_endpoint ep;
        char out[300];
        if (slim_endpoint_parse(text, &ep) == SLIM_OK)
            (void)slim_endpoint_format(&ep, out, sizeof out);
        slim_free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    deframe(data, size);
    text_rules(data, size);
    return 0;
}
