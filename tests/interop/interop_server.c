/*
 * Interop test server: our gRPC server with the methods of the service
 * "interop.Test" that run_interop.py calls with grpcio and with raw sockets.
 *
 *   interop_server [--cert F --key F [--client-ca F]] [endpoint...]
 *                                    (default 127.0.0.1:0)
 *
 * With --cert and --key every endpoint serves TLS 1.3 (ALPN h2); with
 * --client-ca too, mutual TLS.
 *
 * Prints "listening <address>" per endpoint once bound, then serves until
 * SIGTERM or SIGINT, tears everything down and exits 0 (1 on a start-up
 * error or when uv_loop_close fails, so leaks of handles show).
 *
 * Methods (messages are raw bytes):
 *   Unary         echo; "x-*" request metadata back as response headers,
 *                 "*-bin" request metadata back as trailers
 *   ServerStream  request "N": N messages "item-<i>"
 *   Bidi          echo each message; on half-close "done:<count>", OK
 *   Sink          client streaming; on half-close "count:<n> bytes:<b>"
 *   Hang          never answers (deadline tests)
 *   Fail          status FAILED_PRECONDITION, message needing percent-
 *                 encoding, trailer "x-why-bin", no messages (trailers-only)
 *   TooBig        tries to send max+1 bytes, then sends what send returned
 *   LastHang, LastBidi   the status the last Hang / Bidi call ended with
 *   Connections   the number of open connections
 */
#include "transport/grpc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SVC "/interop.Test/"

static uv_loop_t loop;
static uv_signal_t sig_term, sig_int;
static slim_grpc_server *srv;
static slim_status last_hang = SLIM_OK, last_bidi = SLIM_OK;
static bool hang_seen, bidi_seen;

typedef struct bidi_state {
    unsigned count;
    size_t bytes;
    uint8_t *stash; /* an echo refused with QUEUE_FULL, sent on_writable */
    size_t stash_len;
} bidi_state;

static void reply(slim_grpc_call *call, const char *text) {
    slim_grpc_call_send(call, slim_bytes_of(text, strlen(text)));
    slim_grpc_call_finish(call, SLIM_OK, NULL, NULL);
}

static void unary_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)ud;
    const slim_grpc_md *in = slim_grpc_call_metadata(call);
    slim_grpc_md hdr = SLIM_GRPC_MD_INIT, trl = SLIM_GRPC_MD_INIT;
    for (size_t i = 0; i < slim_grpc_md_count(in); i++) {
        slim_str n;
        slim_bytes v;
        slim_grpc_md_at(in, i, &n, &v);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)n.len, n.ptr);
        if (n.len > 2 && memcmp(n.ptr, "x-", 2) == 0)
            slim_grpc_md_add(&hdr, name, v);
        if (slim_grpc_header_is_bin(n))
            slim_grpc_md_add(&trl, name, v);
    }
    slim_grpc_call_send_headers(call, &hdr);
    slim_grpc_call_send(call, req);
    slim_grpc_call_finish(call, SLIM_OK, NULL, &trl);
    slim_grpc_md_cleanup(&hdr);
    slim_grpc_md_cleanup(&trl);
}

static void stream_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)ud;
    char text[16] = {0};
    memcpy(text, req.ptr, req.len < 15 ? req.len : 15);
    long n = strtol(text, NULL, 10);
    for (long i = 0; i < n; i++) {
        char item[32];
        int len = snprintf(item, sizeof item, "item-%ld", i);
        slim_grpc_call_send(call, slim_bytes_of(item, (size_t)len));
    }
    slim_grpc_call_finish(call, SLIM_OK, NULL, NULL);
}

static void bidi_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)req;
    (void)ud;
    slim_grpc_call_set_data(call, calloc(1, sizeof(bidi_state)));
}

/* Echo with backpressure, as a relay does it: when the echo does not fit,
 * keep it, stop reading, and resume once the queue has drained. */
static void bidi_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    bidi_state *b = data;
    b->count++;
    slim_status st = slim_grpc_call_send(call, msg);
    if (st == SLIM_E_QUEUE_FULL) {
        b->stash = malloc(msg.len ? msg.len : 1);
        memcpy(b->stash, msg.ptr, msg.len);
        b->stash_len = msg.len;
        slim_grpc_call_pause(call);
    } else if (st != SLIM_OK) {
        fprintf(stderr, "interop_server: echo send: %s\n", slim_status_name(st));
    }
}

static void bidi_on_writable(slim_grpc_call *call, void *data) {
    bidi_state *b = data;
    if (b->stash == NULL)
        return;
    slim_grpc_call_send(call, slim_bytes_of(b->stash, b->stash_len));
    free(b->stash);
    b->stash = NULL;
    slim_grpc_call_resume(call);
}

static void bidi_on_half_close(slim_grpc_call *call, void *data) {
    bidi_state *b = data;
    char done[32];
    snprintf(done, sizeof done, "done:%u", b->count);
    reply(call, done);
}

static void bidi_on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    bidi_state *b = data;
    last_bidi = res->status;
    bidi_seen = true;
    free(b->stash);
    free(b);
}

static void sink_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    (void)call;
    bidi_state *b = data;
    b->count++;
    b->bytes += msg.len;
}

static void sink_on_half_close(slim_grpc_call *call, void *data) {
    bidi_state *b = data;
    char text[64];
    snprintf(text, sizeof text, "count:%u bytes:%zu", b->count, b->bytes);
    reply(call, text);
}

static void free_data_on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    (void)res;
    free(data);
}

static void hang_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)call;
    (void)req;
    (void)ud;
}

static void hang_on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    (void)data;
    last_hang = res->status;
    hang_seen = true;
}

static void fail_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)req;
    (void)ud;
    static const uint8_t why[] = {0xde, 0xad, 0x00, 0xbe, 0xef};
    slim_grpc_md trl = SLIM_GRPC_MD_INIT;
    slim_grpc_md_add(&trl, "x-why-bin", slim_bytes_of(why, sizeof why));
    slim_grpc_call_finish(call, SLIM_E_GRPC_FAILED_PRECONDITION,
                          "bad 100% \xc3\xbcnic\xc3\xb6"
                          "de\nline",
                          &trl);
    slim_grpc_md_cleanup(&trl);
}

static void too_big_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)req;
    (void)ud;
    size_t n = SLIM_GRPC_DEFAULT_MAX_MESSAGE_SIZE + 1;
    uint8_t *big = calloc(1, n);
    slim_status st = slim_grpc_call_send(call, slim_bytes_of(big, n));
    free(big);
    char text[96];
    snprintf(text, sizeof text, "refused:%s queued:%zu", slim_status_name(st),
             slim_grpc_call_send_queued(call));
    reply(call, text);
}

static void report(slim_grpc_call *call, bool seen, slim_status st) {
    reply(call, seen ? slim_status_name(st) : "none");
}

static void last_hang_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)req;
    (void)ud;
    report(call, hang_seen, last_hang);
}

static void last_bidi_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)req;
    (void)ud;
    report(call, bidi_seen, last_bidi);
}

static void connections_on_call(slim_grpc_call *call, slim_bytes req, void *ud) {
    (void)req;
    (void)ud;
    char text[32];
    snprintf(text, sizeof text, "%zu", slim_grpc_server_connections(srv));
    reply(call, text);
}

/* Initializers (not const objects: C wants constant expressions here). */
#define BIDI_CBS                                                                                   \
    { NULL, bidi_on_message, bidi_on_half_close, bidi_on_writable, bidi_on_close, NULL }
#define SINK_CBS                                                                                   \
    { NULL, sink_on_message, sink_on_half_close, NULL, free_data_on_close, NULL }
#define HANG_CBS                                                                                   \
    { NULL, NULL, NULL, NULL, hang_on_close, NULL }
#define NO_CBS                                                                                     \
    { NULL, NULL, NULL, NULL, NULL, NULL }

static const slim_grpc_method methods[] = {
    {SVC "Unary", SLIM_GRPC_UNARY, unary_on_call, NO_CBS, NULL},
    {SVC "ServerStream", SLIM_GRPC_SERVER_STREAMING, stream_on_call, NO_CBS, NULL},
    {SVC "Bidi", SLIM_GRPC_BIDI_STREAMING, bidi_on_call, BIDI_CBS, NULL},
    {SVC "Sink", SLIM_GRPC_CLIENT_STREAMING, bidi_on_call, SINK_CBS, NULL},
    {SVC "Hang", SLIM_GRPC_BIDI_STREAMING, hang_on_call, HANG_CBS, NULL},
    {SVC "Fail", SLIM_GRPC_UNARY, fail_on_call, NO_CBS, NULL},
    {SVC "TooBig", SLIM_GRPC_UNARY, too_big_on_call, NO_CBS, NULL},
    {SVC "LastHang", SLIM_GRPC_UNARY, last_hang_on_call, NO_CBS, NULL},
    {SVC "LastBidi", SLIM_GRPC_UNARY, last_bidi_on_call, NO_CBS, NULL},
    {SVC "Connections", SLIM_GRPC_UNARY, connections_on_call, NO_CBS, NULL},
};

static void on_signal(uv_signal_t *s, int signum) {
    (void)s;
    fprintf(stderr, "interop_server: signal %d, shutting down\n", signum);
    slim_grpc_server_free(srv);
    srv = NULL;
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
}

int main(int argc, char **argv) {
    slim_tls_config tls;
    memset(&tls, 0, sizeof tls);
    tls.version = SLIM_TLS_1_3;
    tls.insecure = true;
    while (argc > 2 && strncmp(argv[1], "--", 2) == 0) {
        if (strcmp(argv[1], "--cert") == 0)
            tls.cert_file = argv[2];
        else if (strcmp(argv[1], "--key") == 0)
            tls.key_file = argv[2];
        else if (strcmp(argv[1], "--client-ca") == 0)
            tls.client_ca_file = argv[2];
        else
            return 2;
        tls.insecure = tls.cert_file == NULL;
        argc -= 2;
        argv += 2;
    }
    uv_loop_init(&loop);
    if (slim_grpc_server_new(&loop, NULL, &srv) != SLIM_OK)
        return 1;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (slim_grpc_server_add_method(srv, &methods[i]) != SLIM_OK)
            return 1;
    const char *def[] = {"127.0.0.1:0"};
    const char **eps = argc > 1 ? (const char **)argv + 1 : def;
    int n = argc > 1 ? argc - 1 : 1;
    for (int i = 0; i < n; i++) {
        char bound[160];
        slim_status st = slim_grpc_server_listen_tls(srv, eps[i], &tls, NULL, bound, sizeof bound);
        if (st != SLIM_OK) {
            fprintf(stderr, "interop_server: cannot listen on %s: %s\n", eps[i],
                    slim_status_str(st));
            return 1;
        }
        printf("listening %s\n", bound);
    }
    fflush(stdout);
    uv_signal_init(&loop, &sig_term);
    uv_signal_init(&loop, &sig_int);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop);
    if (rc != 0) {
        fprintf(stderr, "interop_server: uv_loop_close: %s\n", uv_strerror(rc));
        return 1;
    }
    return 0;
}
