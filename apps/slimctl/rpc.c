/*
 * slimctl's calls: one unary call to the controller, or one control stream
 * to a node, per run, on a libuv loop of its own that is run until the
 * answer (or the deadline) came, then until the client has released
 * everything.
 *
 * ctl_client_new() is the one place that turns the settings into a gRPC
 * client (the TLS options, ctl_tls); auth_md() the one that makes the
 * authorization header: "Bearer <--token>", or a shared-secret token
 * minted for the identity "slimctl" from --shared-secret
 * (docs/identity.md, "Tokens").
 */
#include "slimctl.h"

#include "config/endpoint.h"
#include "core/alloc.h"
#include "session/identity.h"
#include "transport/grpc.h"
#include "transport/tls.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static char *dup_or_null(const char *s) {
    return s != NULL ? slim_strdup(s) : NULL;
}

/* A client for opt->server. The connection attempt may take at most the
 * call's timeout. TLS (an https:// server): verified against the system
 * roots and opt->tls.ca_file, or not at all with opt->tls.insecure; the
 * client certificate of opt->tls for mutual TLS. Settings the TLS layer
 * refuses (a file that is not PEM, a key that does not match) are printed
 * with the cause. */
static slim_status ctl_client_new(uv_loop_t *loop, const ctl_options *opt, slim_grpc_client **out) {
    slim_client_config cc;
    slim_client_config_defaults(&cc);
    cc.endpoint = slim_strdup(opt->server);
    cc.connect_timeout_ms = opt->timeout_ms;
    /* One run, one attempt: the call fails at once when it fails. */
    cc.backoff.max_attempts = 0;
    cc.tls.insecure = !opt->use_tls;
    if (opt->use_tls) {
        cc.tls.insecure_skip_verify = opt->tls.insecure;
        cc.tls.include_system_ca = true;
        cc.tls.ca_file = dup_or_null(opt->tls.ca_file);
        cc.tls.cert_file = dup_or_null(opt->tls.cert_file);
        cc.tls.key_file = dup_or_null(opt->tls.key_file);
    }
    slim_status st = SLIM_E_NOMEM;
    if (cc.endpoint != NULL && (opt->tls.ca_file == NULL || cc.tls.ca_file != NULL) &&
        (opt->tls.cert_file == NULL || cc.tls.cert_file != NULL) &&
        (opt->tls.key_file == NULL || cc.tls.key_file != NULL))
        st = slim_grpc_client_new_config(loop, &cc, NULL, NULL, NULL, out);
    if (st == SLIM_E_TLS_CONFIG) {
        /* The transport logged the cause below our log level: ask again. */
        char err[256] = "";
        slim_tls_ctx *ctx = NULL;
        if (slim_tls_ctx_new(&cc.tls, false, &ctx, err, sizeof err) == SLIM_OK)
            slim_tls_ctx_unref(ctx);
        ctl_err("cannot use the TLS settings: %s", err[0] != '\0' ? err : slim_status_str(st));
    }
    slim_client_config_cleanup(&cc);
    return st;
}

/* The request metadata of every call: "authorization: Bearer <token>" with
 * --token, else with a token minted from --shared-secret, else nothing.
 * On error prints why and returns CTL_EXIT_FAIL. */
static int auth_md(const ctl_options *opt, slim_grpc_md *md) {
    slim_grpc_md_init(md);
    if (opt->token == NULL && opt->shared_secret == NULL)
        return CTL_EXIT_OK;
    ctl_str v = {0};
    slim_identity *id = NULL;
    slim_status st = SLIM_OK;
    if (opt->token != NULL) {
        ctl_str_addf(&v, "Bearer %s", opt->token);
    } else {
        slim_str secret = {opt->shared_secret, strlen(opt->shared_secret)};
        if (slim_identity_secret_is_weak(secret))
            fprintf(stderr, "slimctl: warning: the shared secret is shorter than %d bytes\n",
                    SLIM_IDENTITY_MIN_SECRET);
        slim_str tok;
        st = slim_identity_new((slim_str){"slimctl", 7}, secret, NULL, &id);
        if (st == SLIM_OK)
            st = slim_identity_token(id, (uint64_t)time(NULL), &tok);
        if (st == SLIM_OK)
            ctl_str_addf(&v, "Bearer %.*s", (int)tok.len, tok.ptr);
    }
    if (st == SLIM_OK)
        st = slim_grpc_md_add_str(md, "authorization", ctl_str_get(&v));
    slim_identity_free(id);
    ctl_str_cleanup(&v);
    if (st != SLIM_OK) {
        ctl_err("cannot make the authorization header: %s", slim_status_str(st));
        slim_grpc_md_cleanup(md);
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

/* "slimctl: CODE: message" for a failed call; an error of our own (no
 * connection, the deadline) names the server too, and the cause the
 * client saw (a certificate the handshake refused) when the message does
 * not say it already. */
static void print_failure(const ctl_options *opt, const call_result *r, const char *why) {
    const char *code = slim_grpc_code_name(r->code);
    const char *msg =
        r->message != NULL && r->message[0] != '\0' ? r->message : slim_status_str(r->status);
    bool add_why = why != NULL && why[0] != '\0' && strstr(msg, why) == NULL;
    if (r->local)
        ctl_err("%s: %s: %s%s%s", code, opt->server_text, msg, add_why ? ": " : "",
                add_why ? why : "");
    else
        ctl_err("%s: %s", code, msg);
}

/* The client's last failure in words, copied (NULL when none). */
static char *client_why(const slim_grpc_client *cli) {
    const char *w = cli != NULL ? slim_grpc_client_why(cli) : NULL;
    return w != NULL && w[0] != '\0' ? ctl_xstrdup(w) : NULL;
}

/* What one call needs: the request packed, a loop of its own, the
 * authorization metadata and a client. */
typedef struct rpc {
    uint8_t *buf;
    size_t len;
    uv_loop_t loop;
    slim_grpc_md md;
    slim_grpc_client *cli;
} rpc;

/* Frees the client (ending its calls) and everything else; returns the
 * client's last failure in words (free it; NULL when none). */
static char *rpc_close(rpc *x) {
    char *why = client_why(x->cli);
    slim_grpc_client_free(x->cli);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    uv_loop_close(&x->loop);
    slim_grpc_md_cleanup(&x->md);
    free(x->buf);
    return why;
}

/* Sets x up for req. CTL_EXIT_OK with *st the client's status (x->cli is
 * NULL unless it is SLIM_OK; call rpc_close either way), or CTL_EXIT_FAIL
 * with the reason printed (a TLS configuration error by ctl_client_new)
 * and nothing left to clean up. */
static int rpc_open(const ctl_options *opt, const ProtobufCMessage *req, rpc *x, slim_status *st) {
    memset(x, 0, sizeof *x);
    x->len = protobuf_c_message_get_packed_size(req);
    x->buf = ctl_xcalloc(x->len ? x->len : 1, 1);
    protobuf_c_message_pack(req, x->buf);
    int uv_rc = uv_loop_init(&x->loop);
    if (uv_rc != 0) {
        free(x->buf);
        ctl_err("cannot start the event loop: %s", uv_strerror(uv_rc));
        return CTL_EXIT_FAIL;
    }
    if (auth_md(opt, &x->md) != CTL_EXIT_OK) {
        free(x->buf);
        uv_loop_close(&x->loop);
        return CTL_EXIT_FAIL;
    }
    *st = ctl_client_new(&x->loop, opt, &x->cli);
    if (*st != SLIM_E_TLS_CONFIG)
        return CTL_EXIT_OK;
    free(rpc_close(x));
    return CTL_EXIT_FAIL;
}

int ctl_call(const ctl_options *opt, const char *method, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **out) {
    *out = NULL;
    char path[160];
    snprintf(path, sizeof path, SERVICE "%s", method);
    call_result r = {0};
    rpc x;
    slim_status st;
    if (rpc_open(opt, req, &x, &st) != CTL_EXIT_OK)
        return CTL_EXIT_FAIL;
    if (st == SLIM_OK) {
        slim_grpc_call_opts copts = {path, &x.md, opt->timeout_ms};
        st = slim_grpc_client_unary(x.cli, &copts, slim_bytes_of(x.buf, x.len), on_unary, &r);
    }
    if (st == SLIM_OK) {
        while (!r.done && uv_run(&x.loop, UV_RUN_ONCE) != 0) {
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
    char *why = rpc_close(&x);

    int rc = CTL_EXIT_OK;
    if (r.status != SLIM_OK) {
        print_failure(opt, &r, why);
        rc = CTL_EXIT_FAIL;
    } else {
        *out = protobuf_c_message_unpack(resp_desc, NULL, r.response_len, r.response);
        if (*out == NULL) {
            ctl_err("INTERNAL: the server's answer to %s is not a valid %s", method,
                    resp_desc->name);
            rc = CTL_EXIT_FAIL;
        }
    }
    free(why);
    free(r.message);
    free(r.response);
    return rc;
}

/* ---- Control streams ---- */

typedef struct stream_state {
    slim_grpc_call *call; /* NULL once closed */
    const ProtobufCMessageDescriptor *desc;
    ctl_stream_fn fn;
    void *ud;
    bool done;     /* fn said so */
    bool closed;   /* on_close came */
    bool bad;      /* a message did not decode */
    call_result r; /* how it closed, when it closed first */
} stream_state;

static void on_stream_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    stream_state *s = data;
    if (s->done || s->bad)
        return;
    ProtobufCMessage *m = protobuf_c_message_unpack(s->desc, NULL, msg.len, msg.ptr);
    if (m == NULL) {
        s->bad = true;
        slim_grpc_call_cancel(call);
        return;
    }
    if (s->fn(s->ud, m) == CTL_STREAM_DONE) {
        s->done = true;
        slim_grpc_call_cancel(call);
    }
    protobuf_c_message_free_unpacked(m, NULL);
}

static void on_stream_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    stream_state *s = data;
    s->call = NULL;
    s->closed = true;
    if (s->done)
        return;
    s->r.status = res->status;
    s->r.code = res->code;
    s->r.local = res->local;
    s->r.message = ctl_xcalloc(res->message.len + 1, 1);
    if (res->message.len > 0)
        memcpy(s->r.message, res->message.ptr, res->message.len);
}

int ctl_stream(const ctl_options *opt, const char *method, const ProtobufCMessage *req,
               const ProtobufCMessageDescriptor *resp_desc, ctl_stream_fn fn, void *ud) {
    stream_state s = {.desc = resp_desc, .fn = fn, .ud = ud};
    rpc x;
    slim_status st;
    if (rpc_open(opt, req, &x, &st) != CTL_EXIT_OK)
        return CTL_EXIT_FAIL;
    if (st == SLIM_OK) {
        static const slim_grpc_call_cbs cbs = {.on_message = on_stream_message,
                                               .on_close = on_stream_close};
        slim_grpc_call_opts copts = {method, &x.md, opt->timeout_ms};
        st = slim_grpc_client_open(x.cli, &copts, &cbs, &s, &s.call);
    }
    if (st == SLIM_OK) {
        st = slim_grpc_call_send(s.call, slim_bytes_of(x.buf, x.len));
        if (st == SLIM_OK)
            st = slim_grpc_call_close_send(s.call);
        if (st != SLIM_OK)
            slim_grpc_call_cancel(s.call);
    }
    if (st == SLIM_OK || s.call != NULL) {
        /* The deadline of the call (opts.timeout_ms) ends this loop. */
        while (!s.done && !s.closed && uv_run(&x.loop, UV_RUN_ONCE) != 0) {
        }
    }
    char *why = rpc_close(&x); /* ends the stream if still open */

    int rc = CTL_EXIT_OK;
    if (s.done) {
        rc = CTL_EXIT_OK;
    } else if (s.bad) {
        ctl_err("INTERNAL: %s sent a message that is not a valid %s", opt->server_text,
                resp_desc->name);
        rc = CTL_EXIT_FAIL;
    } else if (st != SLIM_OK && !s.closed) {
        call_result r = {.status = st, .code = (int)slim_grpc_status_to_code(st), .local = true};
        print_failure(opt, &r, why);
        rc = CTL_EXIT_FAIL;
    } else if (s.closed && s.r.status != SLIM_OK) {
        print_failure(opt, &s.r, why);
        rc = CTL_EXIT_FAIL;
    } else {
        ctl_err("%s ended the stream before the answer was complete", opt->server_text);
        rc = CTL_EXIT_FAIL;
    }
    free(why);
    free(s.r.message);
    return rc;
}
