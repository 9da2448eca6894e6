/*
 * Micro-benchmark of the wire codec and name parsing: full protobuf-c decode
 * and encode of a Publish carrying a 1 KiB payload, and parsing a name. It is
 * the baseline the node's fast forwarding path (which avoids the full decode)
 * is compared with. Prints the median of 5 runs.
 *
 *   bench_wire [iterations]
 */
#include "bench_args.h"
#include "core/time.h"
#include "wire/fastpath.h"
#include "wire/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median5(double v[5]) {
    qsort(v, 5, sizeof v[0], cmp_double);
    return v[2];
}

int main(int argc, char **argv) {
    long iters;
    int rc = bench_iterations(argc, argv,
                              "usage: bench_wire [ITERATIONS]   (default 200000)\n\n"
                              "Full protobuf-c decode and encode of a Publish with a 1 KiB\n"
                              "payload, the node's validating peek of the same bytes, and\n"
                              "name parsing; prints the median of 5 runs.\n",
                              200000, &iters);
    if (rc >= 0)
        return rc;
    slim_name src, dst;
    slim_name_parts sp, dp;
    const char *s = "agntcy/ns/alice/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    slim_name_parse(s, strlen(s), &src, &sp);
    slim_name_parse("agntcy/ns/chat", 14, &dst, &dp);
    slim_wire_header_spec h = {
        .source = {&src, sp.component}, .destination = {&dst, dp.component}, .fanout = 1};
    slim_wire_session_spec ss = {.session_id = 1, .message_id = 1};
    static uint8_t payload[1024];
    slim_msg *m = NULL;
    slim_buf enc = SLIM_BUF_INIT;
    if (slim_wire_publish_new(&h, &ss, &m) != SLIM_OK ||
        slim_wire_set_app_payload(m, "msg", slim_bytes_of(payload, sizeof payload)) != SLIM_OK ||
        slim_wire_encode(m, SLIM_WIRE_DEFAULT_MAX_SIZE, &enc) != SLIM_OK) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    double dec[5], en[5], parse[5], peek[5];
    for (int run = 0; run < 5; run++) {
        uint64_t t0 = slim_now_ns();
        for (long i = 0; i < iters; i++) {
            slim_msg *d = NULL;
            if (slim_wire_decode(slim_buf_view(&enc), SLIM_WIRE_DEFAULT_MAX_SIZE, &d) != SLIM_OK)
                return 1;
            slim_wire_free(d);
        }
        uint64_t t1 = slim_now_ns();
        slim_buf out = SLIM_BUF_INIT;
        for (long i = 0; i < iters; i++) {
            out.len = 0;
            if (slim_wire_encode(m, SLIM_WIRE_DEFAULT_MAX_SIZE, &out) != SLIM_OK)
                return 1;
        }
        uint64_t t2 = slim_now_ns();
        slim_buf_cleanup(&out);
        slim_name n;
        for (long i = 0; i < iters; i++)
            if (slim_name_parse(s, strlen(s), &n, NULL) != SLIM_OK)
                return 1;
        uint64_t t3 = slim_now_ns();
        for (long i = 0; i < iters; i++) {
            slim_peek p;
            if (slim_wire_peek(slim_buf_view(&enc), SLIM_WIRE_DEFAULT_MAX_SIZE, &p, NULL) !=
                SLIM_OK)
                return 1;
        }
        uint64_t t4 = slim_now_ns();
        peek[run] = (double)(t4 - t3) / (double)iters;
        dec[run] = (double)(t1 - t0) / (double)iters;
        en[run] = (double)(t2 - t1) / (double)iters;
        parse[run] = (double)(t3 - t2) / (double)iters;
    }
    printf("message: Publish, 1 KiB payload, %zu bytes encoded; %ld iterations x 5 runs\n", enc.len,
           iters);
    printf("decode (protobuf-c, full tree)  %8.1f ns/msg (median)\n", median5(dec));
    printf("encode (protobuf-c)             %8.1f ns/msg (median)\n", median5(en));
    printf("peek (node fast path, validates) %7.1f ns/msg (median)\n", median5(peek));
    printf("name parse + 3 XXH64            %8.1f ns/name (median)\n", median5(parse));
    slim_wire_free(m);
    slim_buf_cleanup(&enc);
    return 0;
}
