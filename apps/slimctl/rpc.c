/*
 * slimctl's calls to the controller: one unary call per run, on a libuv
 * loop of its own that is run until the answer (or the deadline) came,
 * then until the client has released everything.
 *
 * ctl_client_new() is the one place that turns the settings into a gRPC
 * client; the TLS options (ctl_tls) belong there.
 */
#include "slimctl.h"

#include "config/endpoint.h"
#include "core/alloc.h"
#include "transport/grpc.h"

#include <stdlib.h>
#include <string.h>

#define SERVICE "/controlplane.proto.v1.ControlPlaneService/"

/* What the unary callback saw, copied out of the borrowed views. */
typedef struct call_result {
    bool done;
    slim_status status;
    int code;
    bool local;
    char *message;
    uint8_t *response;
    size_t response_len;
} call_result;

static void on_unary(const slim_grpc_result *res, slim_bytes response, const slim_grpc_md *headers,
                     void *ud) {
    (void)headers;
    call_result *r = ud;
    r->done = true;
    r->status = res->status;
    r->code = res->code;
    r->local = res->local;
    r->message = ctl_xcalloc(res->message.len + 1, 1);
    if (res->message.len > 0)
        memcpy(r->message, res->message.ptr, res->message.len);
    if (res->status == SLIM_OK) {
        r->response = ctl_xcalloc(response.len, 1);
        if (response.len > 0)
            memcpy(r->response, response.ptr, response.len);
        r->response_len = response.len;
    }
}

/* A client for opt->server. The connection attempt may take at most the
 * call's timeout. TLS: an https:// server is verified against the system
 * roots; opt->tls (CA, client certificate, no verification) goes into
 * cc.tls here once the options exist. */
static slim_status ctl_client_new(uv_loop_t *loop, const ctl_options *opt, slim_grpc_client **out) {
    slim_client_config cc;
    slim_client_config_defaults(&cc);
    cc.endpoint = slim_strdup(opt->server);
    if (cc.endpoint == NULL)
        return SLIM_E_NOMEM;
    cc.connect_timeout_ms = opt->timeout_ms;
    /* One run, one attempt: the call fails at once when it fails. */
    cc.backoff.max_attempts = 0;
    slim_status st = slim_grpc_client_new_config(loop, &cc, NULL, NULL, NULL, out);
    slim_client_config_cleanup(&cc);
    return st;
}

/* "slimctl: CODE: message" for a failed call; an error of our own (no
 * connection, the deadline) names the server too. */
static void print_failure(const ctl_options *opt, const call_result *r) {
    const char *code = slim_grpc_code_name(r->code);
    const char *msg =
        r->message != NULL && r->message[0] != '\0' ? r->message : slim_status_str(r->status);
    if (r->local)
        ctl_err("%s: %s: %s", code, opt->server_text, msg);
    else
        ctl_err("%s: %s", code, msg);
}

int ctl_call(const ctl_options *opt, const char *method, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **out) {
    *out = NULL;
    size_t len = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = ctl_xcalloc(len, 1);
    protobuf_c_message_pack(req, buf);

    char path[160];
    snprintf(path, sizeof path, SERVICE "%s", method);
    call_result r = {0};

    uv_loop_t loop;
    int uv_rc = uv_loop_init(&loop);
    if (uv_rc != 0) {
        free(buf);
        ctl_err("cannot start the event loop: %s", uv_strerror(uv_rc));
        return CTL_EXIT_FAIL;
    }
    slim_grpc_client *cli = NULL;
    slim_status st = ctl_client_new(&loop, opt, &cli);
    if (st == SLIM_OK) {
        slim_grpc_call_opts copts = {path, NULL, opt->timeout_ms};
        st = slim_grpc_client_unary(cli, &copts, slim_bytes_of(buf, len), on_unary, &r);
    }
    if (st == SLIM_OK) {
        while (!r.done && uv_run(&loop, UV_RUN_ONCE) != 0) {
        }
        if (!r.done) { /* the loop ran dry without an answer: cannot happen */
            r.status = SLIM_E_GRPC_INTERNAL;
            r.code = SLIM_GRPC_INTERNAL;
            r.local = true;
        }
    } else {
        r.status = st;
        r.code = (int)slim_grpc_status_to_code(st);
        r.local = true;
    }
    slim_grpc_client_free(cli);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(buf);

    int rc = CTL_EXIT_OK;
    if (r.status != SLIM_OK) {
        print_failure(opt, &r);
        rc = CTL_EXIT_FAIL;
    } else {
        *out = protobuf_c_message_unpack(resp_desc, NULL, r.response_len, r.response);
        if (*out == NULL) {
            ctl_err("INTERNAL: the server's answer to %s is not a valid %s", method,
                    resp_desc->name);
            rc = CTL_EXIT_FAIL;
        }
    }
    free(r.message);
    free(r.response);
    return rc;
}
