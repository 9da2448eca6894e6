/*
 * See agent_server.h. One gRPC server with the controller's method, one
 * listener per ServerConfig; each call is a `stream` that lives until the
 * call closes.
 */
#include "control/agent_server.h"
#include "controller/v1/controller.pb-c.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "session/identity.h"
#include "transport/md.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MOD "control"

typedef struct stream {
    slim_agent_server *s;
    slim_grpc_call *call;
    struct stream *next;
} stream;

struct slim_agent_server {
    uv_loop_t *loop;
    slim_agent_core *core;
    slim_agent_server_config cfg;
    slim_grpc_server *srv;
    slim_identity_verifier *verifier; /* NULL: no token required */
    stream *streams;
    size_t n_streams;
    uint64_t calls, refused_no_token, refused_bad_token;
    bool stopped;
};

/* ---- authentication ---- */

/* The header check: a shared-secret token in `authorization: Bearer`. */
static slim_status check_token(slim_grpc_call *call, void *ud, const char **message) {
    slim_agent_server *s = ud;
    if (s->verifier == NULL)
        return SLIM_OK;
    slim_bytes v;
    static const char bearer[] = "bearer "; /* the scheme in any case */
    if (!slim_grpc_md_get(slim_grpc_call_metadata(call), "authorization", &v) ||
        v.len <= sizeof bearer - 1 ||
        strncasecmp((const char *)v.ptr, bearer, sizeof bearer - 1) != 0) {
        s->refused_no_token++;
        SLIM_LOGW_LIMITED(MOD, "control endpoint: a call from %s without a token; refused",
                          slim_grpc_call_peer(call));
        *message = "a token is required (authorization: Bearer <shared-secret token>)";
        return SLIM_E_GRPC_UNAUTHENTICATED;
    }
    slim_str token = {(const char *)v.ptr + sizeof bearer - 1, v.len - (sizeof bearer - 1)};
    slim_status st =
        slim_identity_verifier_check_token(s->verifier, token, (uint64_t)time(NULL), NULL);
    if (st != SLIM_OK) {
        s->refused_bad_token++;
        SLIM_LOGW_LIMITED(
            MOD,
            "control endpoint: a call from %s with a token that does not verify (%s); "
            "refused",
            slim_grpc_call_peer(call), slim_status_str(st));
        *message = "the token is not accepted";
        return SLIM_E_GRPC_UNAUTHENTICATED;
    }
    return SLIM_OK;
}

/* ---- streams ---- */

static void reply(void *ud, slim_bytes msg) {
    stream *t = ud;
    if (t->call == NULL)
        return;
    slim_status st = slim_grpc_call_send(t->call, msg);
    if (st != SLIM_OK)
        SLIM_LOGW(MOD, "control endpoint: answer to %s not sent: %s", slim_grpc_call_peer(t->call),
                  slim_status_str(st));
}

/* Channel requests are a controller's, through the node's own streams:
 * refused here with a failed ack. True when msg was one. */
static bool refuse_channel_request(stream *t, slim_bytes msg) {
    Controller__Proto__V1__ControlMessage *m =
        controller__proto__v1__control_message__unpack(NULL, msg.len, msg.ptr);
    if (m == NULL)
        return false;
    bool channel = false;
    switch (m->payload_case) {
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CREATE_CHANNEL_REQUEST:
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_DELETE_CHANNEL_REQUEST:
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ADD_PARTICIPANT_REQUEST:
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_DELETE_PARTICIPANT_REQUEST:
        channel = true;
        break;
    default:
        break;
    }
    char id[37];
    if (channel && slim_uuid_v4(id) == SLIM_OK) {
        Controller__Proto__V1__Ack a = CONTROLLER__PROTO__V1__ACK__INIT;
        a.original_message_id = m->message_id;
        char *text = "channel requests come from a controller; not on the node's control endpoint";
        a.messages = &text;
        a.n_messages = 1;
        Controller__Proto__V1__ControlMessage out = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
        out.message_id = id;
        out.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK;
        out.ack = &a;
        size_t n = controller__proto__v1__control_message__get_packed_size(&out);
        uint8_t *buf = slim_malloc(n > 0 ? n : 1);
        if (buf != NULL) {
            controller__proto__v1__control_message__pack(&out, buf);
            reply(t, (slim_bytes){buf, n});
            slim_free(buf);
        }
    }
    controller__proto__v1__control_message__free_unpacked(m, NULL);
    return channel;
}

static void on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    stream *t = data;
    if (t == NULL || refuse_channel_request(t, msg))
        return;
    slim_status st =
        slim_agent_core_handle(t->s->core, msg, slim_now_ms(), (uint64_t)time(NULL), reply, t);
    if (st == SLIM_E_INVALID_ARG) {
        SLIM_LOGW_LIMITED(
            MOD, "control endpoint: undecodable message from %s (%zu bytes); ending the call",
            slim_grpc_call_peer(call), msg.len);
        (void)slim_grpc_call_finish(call, SLIM_E_GRPC_INVALID_ARGUMENT, "not a ControlMessage",
                                    NULL);
    } else if (st != SLIM_OK) {
        SLIM_LOGW_LIMITED(MOD, "control endpoint: message from %s not handled: %s",
                          slim_grpc_call_peer(call), slim_status_str(st));
    }
}

static void on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    (void)res;
    stream *t = data;
    if (t == NULL)
        return;
    slim_agent_server *s = t->s;
    for (stream **pp = &s->streams; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            s->n_streams--;
            break;
        }
    }
    slim_free(t);
}

static void on_call(slim_grpc_call *call, slim_bytes request, void *ud) {
    (void)request;
    slim_agent_server *s = ud;
    stream *t = s->stopped ? NULL : slim_calloc(1, sizeof *t);
    slim_grpc_call_set_data(call, t);
    if (t == NULL) {
        (void)slim_grpc_call_finish(
            call, s->stopped ? SLIM_E_GRPC_UNAVAILABLE : SLIM_E_GRPC_RESOURCE_EXHAUSTED,
            s->stopped ? "node shutting down" : "out of memory", NULL);
        return;
    }
    t->s = s;
    t->call = call;
    t->next = s->streams;
    s->streams = t;
    s->n_streams++;
    s->calls++;
    SLIM_LOGI(MOD, "control endpoint: a stream from %s", slim_grpc_call_peer(call));
}

/* ---- life ---- */

slim_status slim_agent_server_new(uv_loop_t *loop, slim_agent_core *core,
                                  const slim_agent_server_config *cfg, slim_agent_server **out) {
    slim_agent_server *s = slim_calloc(1, sizeof *s);
    if (s == NULL)
        return SLIM_E_NOMEM;
    s->loop = loop;
    s->core = core;
    s->cfg = *cfg;
    slim_status st = SLIM_OK;
    if (cfg->verifier_secret != NULL)
        st = slim_identity_verifier_new(
            (slim_str){cfg->verifier_secret, strlen(cfg->verifier_secret)}, NULL, &s->verifier);
    /* Control streams stay open as long as their caller wants. */
    slim_grpc_config gc = {.max_connection_idle_ms = SLIM_GRPC_OFF,
                           .max_connection_age_ms = SLIM_GRPC_OFF};
    if (st == SLIM_OK)
        st = slim_grpc_server_new(loop, &gc, &s->srv);
    if (st == SLIM_OK) {
        slim_grpc_method m = {.path = SLIM_AGENT_METHOD,
                              .kind = SLIM_GRPC_BIDI_STREAMING,
                              .on_call = on_call,
                              .cbs = {.on_message = on_message, .on_close = on_close},
                              .ud = s};
        st = slim_grpc_server_add_method(s->srv, &m);
    }
    if (st != SLIM_OK) {
        slim_grpc_server_free(s->srv);
        slim_identity_verifier_free(s->verifier);
        slim_free(s);
        return st;
    }
    slim_grpc_server_set_header_check(s->srv, check_token, s);
    *out = s;
    return SLIM_OK;
}

slim_status slim_agent_server_start(slim_agent_server *s) {
    for (size_t i = 0; i < s->cfg.n_servers; i++) {
        const slim_server_config *sc = &s->cfg.servers[i];
        char bound[256];
        slim_status st = slim_grpc_server_listen_config(s->srv, sc, bound, sizeof bound);
        if (st != SLIM_OK) {
            SLIM_LOGE(MOD, "cannot serve the control endpoint on %s: %s", sc->endpoint,
                      slim_status_str(st));
            return st;
        }
        SLIM_LOGI(MOD, "control endpoint on %s (%s%s)", bound,
                  sc->tls.insecure ? "plaintext" : "TLS",
                  s->verifier != NULL ? ", token required" : "");
        if (s->cfg.listening != NULL)
            s->cfg.listening(bound, s->cfg.ud);
    }
    return SLIM_OK;
}

void slim_agent_server_stop(slim_agent_server *s) {
    if (s->stopped)
        return;
    s->stopped = true;
    /* The calls end with their connections; on_close frees each stream. */
    slim_grpc_server_shutdown(s->srv, 0, NULL, NULL);
}

void slim_agent_server_free(slim_agent_server *s) {
    if (s == NULL)
        return;
    slim_agent_server_stop(s);
    slim_grpc_server_free(s->srv); /* ends the calls: on_close frees the streams */
    while (s->streams != NULL) {
        stream *t = s->streams;
        s->streams = t->next;
        slim_grpc_call_set_data(t->call, NULL);
        slim_free(t);
    }
    slim_identity_verifier_free(s->verifier);
    slim_free(s);
}

void slim_agent_server_stats_get(const slim_agent_server *s, slim_agent_stats *out) {
    slim_grpc_server_stats gs;
    slim_grpc_server_stats_get(s->srv, &gs);
    out->endpoint_streams = s->n_streams;
    out->endpoint_calls = s->calls;
    out->endpoint_refused_no_token = s->refused_no_token;
    out->endpoint_refused_bad_token = s->refused_bad_token;
    out->endpoint_tls_failed = gs.tls_failed;
}
