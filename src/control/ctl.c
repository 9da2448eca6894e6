/*
 * The controller's runtime: its two gRPC servers, the nodes' control
 * streams (registration, the messages nodes send), and the requests sent to
 * nodes that wait for an answer (one timer each; an answer is matched by
 * original_message_id, never by type alone).
 *
 * Authentication (docs/control-plane.md, "Authentication"): both APIs read
 * "authorization: Bearer <token>" from the request metadata. Northbound
 * calls are checked before dispatch (a header check on the server) against
 * northbound.auth.tokens, in constant time. A control stream's token is
 * verified when the stream opens (its MAC and age, with the shared secret);
 * its subject is compared with the node id at registration, as is the
 * southbound.auth.nodes list. A refused node changes nothing: it is never
 * stored nor marked connected. Refusals are counted for /metrics.
 */
#include "control/ctl_int.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "node/metrics.h"
#include "session/identity.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <strings.h>
#include <time.h>
#include <stdio.h>
#include <string.h>

#define SB_METHOD "/controller.proto.v1.ControllerService/OpenControlChannel"

/* ---- sending ---- */

slim_status ctl_send(sb_sess *s, const ctl_msg *m) {
    size_t n = controller__proto__v1__control_message__get_packed_size(m);
    uint8_t *buf = slim_malloc(n ? n : 1);
    if (buf == NULL)
        return SLIM_E_NOMEM;
    controller__proto__v1__control_message__pack(m, buf);
    slim_status st = SLIM_OK;
    if (s->call != NULL)
        st = slim_grpc_call_send(s->call, (slim_bytes){buf, n});
    else if (s->fake_send != NULL)
        s->fake_send(s->fake_ud, buf, n);
    slim_free(buf);
    if (st != SLIM_OK)
        SLIM_LOGW(CTL_MOD, "cannot send to node %s: %s", s->node_id ? s->node_id : "?",
                  slim_status_str(st));
    return st;
}

sb_sess *ctl_session_of(slim_ctl *c, const char *node_id) {
    for (sb_sess *s = c->sessions; s != NULL; s = s->next)
        if (s->active && s->node_id != NULL && strcmp(s->node_id, node_id) == 0)
            return s;
    return NULL;
}

size_t slim_ctl_connected_nodes(const slim_ctl *c) {
    size_t n = 0;
    for (sb_sess *s = c->sessions; s != NULL; s = s->next)
        n += s->active;
    return n;
}

/* ---- northbound replies ---- */

void ctl_nb_reply(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m) {
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = slim_malloc(n ? n : 1);
    if (buf == NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    protobuf_c_message_pack(m, buf);
    slim_grpc_call_set_data(call, NULL);
    slim_status st = slim_grpc_call_send(call, (slim_bytes){buf, n});
    slim_free(buf);
    (void)slim_grpc_call_finish(call, st == SLIM_OK ? SLIM_OK : SLIM_E_GRPC_INTERNAL,
                                st == SLIM_OK ? NULL : slim_status_str(st), NULL);
}

void ctl_nb_fail(slim_ctl *c, slim_grpc_call *call, slim_status code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    SLIM_LOGD(CTL_MOD, "%.*s: %s", (int)slim_grpc_call_method(call).len,
              slim_grpc_call_method(call).ptr, msg);
    (void)c;
    slim_grpc_call_set_data(call, NULL);
    (void)slim_grpc_call_finish(call, code, msg, NULL);
}

/* ---- requests waiting for nodes ---- */

static void pending_free_cb(uv_handle_t *h) {
    pending *p = h->data;
    for (size_t i = 0; i < p->n_route_ids; i++)
        slim_free(p->route_ids[i]);
    slim_free(p->route_ids);
    for (size_t i = 0; i < p->n_chunks; i++)
        controller__proto__v1__control_message__free_unpacked(p->chunks[i], NULL);
    slim_free(p->chunks);
    if (p->ctx_free != NULL)
        p->ctx_free(p->ctx);
    slim_free(p);
}

/* Runs p's callback once and frees it. */
static void pending_finish(pending *p, const ctl_msg *answer, const char *why) {
    slim_ctl *c = p->ctl;
    for (pending **pp = &c->pendings; *pp != NULL; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    uv_timer_stop(&p->timer);
    p->fn(c, p, answer, why);
    if (p->nb != NULL) /* the handler did not answer: never leave a call hanging */
        ctl_nb_fail(c, p->nb, SLIM_E_GRPC_INTERNAL, "no answer was made");
    uv_close((uv_handle_t *)&p->timer, pending_free_cb);
}

static void pending_timeout(uv_timer_t *t) {
    pending *p = t->data;
    char why[160];
    snprintf(why, sizeof why, "node %s did not answer within %llu ms",
             p->sess && p->sess->node_id ? p->sess->node_id : "?",
             (unsigned long long)p->timeout_ms);
    pending_finish(p, NULL, why);
}

slim_status ctl_request(sb_sess *s, ctl_msg *m, int expect, pending_fn fn, pending **out) {
    slim_ctl *c = s->ctl;
    pending *p = slim_calloc(1, sizeof *p);
    if (p == NULL)
        return SLIM_E_NOMEM;
    slim_status st = slim_uuid_v4(p->id);
    if (st != SLIM_OK) {
        slim_free(p);
        return st;
    }
    m->message_id = p->id;
    if ((st = ctl_send(s, m)) != SLIM_OK) {
        slim_free(p);
        return st;
    }
    p->ctl = c;
    p->sess = s;
    p->expect = expect;
    p->fn = fn;
    uv_timer_init(c->loop, &p->timer);
    p->timer.data = p;
    p->timeout_ms = c->cfg->node_timeout_ms;
    uv_timer_start(&p->timer, pending_timeout, p->timeout_ms, 0);
    p->next = c->pendings;
    c->pendings = p;
    *out = p;
    return SLIM_OK;
}

void ctl_pending_set_timeout(pending *p, uint64_t timeout_ms) {
    p->timeout_ms = timeout_ms;
    uv_timer_start(&p->timer, pending_timeout, timeout_ms, 0);
}

void ctl_pending_attach(pending *p, slim_grpc_call *call) {
    p->nb = call;
    slim_grpc_call_set_data(call, p);
}

/* A northbound call ended (answered, cancelled or its connection lost).
 * Its data is NULL, or the pending request waiting on its behalf (until
 * that answers it), which must then forget it. */
static void nb_call_closed(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)res;
    (void)call;
    if (data != NULL)
        ((pending *)data)->nb = NULL;
}

const slim_grpc_call_cbs ctl_nb_call_cbs = {.on_close = nb_call_closed};

/* Command acks: route statuses, then the waiting handler. */
static void config_acked(slim_ctl *c, pending *p, const ctl_msg *answer, const char *why) {
    const Controller__Proto__V1__ConfigurationCommandAck *ack =
        answer != NULL ? answer->config_command_ack : NULL;
    for (size_t i = 0; i < p->n_route_ids; i++) {
        if (p->route_ids[i] == NULL)
            continue;
        const char *status = why != NULL ? "pending" : "applied";
        if (ack != NULL && i < ack->n_subscriptions_status &&
            !ack->subscriptions_status[i]->success)
            status = ack->subscriptions_status[i]->error_msg;
        (void)slim_store_route_set_status(c->store, p->route_ids[i], status);
    }
}

pending *ctl_send_cmd(slim_ctl *c, const char *node_id, ctl_cmd *cmd, pending_fn fn) {
    sb_sess *s = ctl_session_of(c, node_id);
    if (s == NULL || ctl_cmd_empty(cmd) || cmd->err != SLIM_OK)
        return NULL;
    Controller__Proto__V1__ConfigurationCommand cc =
        CONTROLLER__PROTO__V1__CONFIGURATION_COMMAND__INIT;
    ctl_cmd_proto(cmd, &cc);
    ctl_msg m = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND;
    m.config_command = &cc;
    pending *p = NULL;
    if (ctl_request(s, &m, CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND_ACK,
                    fn != NULL ? fn : config_acked, &p) != SLIM_OK)
        return NULL;
    /* The route ids move to the pending request. */
    p->route_ids = cmd->set_routes;
    p->n_route_ids = cmd->n_set;
    cmd->set_routes = NULL;
    SLIM_LOGD(CTL_MOD, "node %s: sent %zu connection(s), %zu subscription(s), %zu removal(s)",
              node_id, cmd->n_conns, cmd->n_set, cmd->n_del + cmd->n_conn_del);
    return p;
}

/* Handlers that wait for a command ack call this first, so route statuses
 * are kept whoever waits. */
void ctl_config_acked(slim_ctl *c, pending *p, const ctl_msg *answer, const char *why) {
    config_acked(c, p, answer, why);
}

/* ---- node streams ---- */

static void sess_timer_closed(uv_handle_t *h) {
    sb_sess *s = h->data;
    slim_free(s->node_id);
    slim_free(s->subject);
    slim_free(s);
}

static void sess_free(sb_sess *s) {
    if (s->timer_open) {
        s->timer_open = false;
        uv_close((uv_handle_t *)&s->reg_timer, sess_timer_closed);
    } else {
        slim_free(s->node_id);
        slim_free(s->subject);
        slim_free(s);
    }
}

void ctl_session_end(sb_sess *s, slim_status why, const char *msg) {
    s->ended = true;
    if (s->call != NULL)
        (void)slim_grpc_call_finish(s->call, why, msg, NULL);
}

static void reg_timeout(uv_timer_t *t) {
    sb_sess *s = t->data;
    if (s->node_id == NULL) {
        SLIM_LOGW_LIMITED(CTL_MOD, "a stream from %s did not register in time; closing it",
                          s->peer_host);
        ctl_session_end(s, SLIM_E_GRPC_DEADLINE_EXCEEDED, "no registration received in time");
    }
}

static sb_sess *sess_new(slim_ctl *c, const char *peer) {
    sb_sess *s = slim_calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->ctl = c;
    /* "127.0.0.1:5000" -> "127.0.0.1", "[::1]:5000" -> "::1". */
    const char *colon = strrchr(peer, ':');
    size_t len = colon != NULL ? (size_t)(colon - peer) : strlen(peer);
    if (len >= 2 && peer[0] == '[' && peer[len - 1] == ']') {
        peer++;
        len -= 2;
    }
    if (len >= sizeof s->peer_host)
        len = sizeof s->peer_host - 1;
    memcpy(s->peer_host, peer, len);
    uv_timer_init(c->loop, &s->reg_timer);
    s->reg_timer.data = s;
    s->timer_open = true;
    uv_timer_start(&s->reg_timer, reg_timeout, c->cfg->register_timeout_ms, 0);
    s->next = c->sessions;
    c->sessions = s;
    return s;
}

static void ack(sb_sess *s, const char *orig, bool ok, const char *text) {
    Controller__Proto__V1__Ack a = CONTROLLER__PROTO__V1__ACK__INIT;
    a.original_message_id = (char *)orig;
    a.success = ok;
    char *msgs[1] = {(char *)text};
    a.messages = msgs;
    a.n_messages = 1;
    ctl_msg m = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    char id[37];
    if (slim_uuid_v4(id) != SLIM_OK)
        return;
    m.message_id = id;
    m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK;
    m.ack = &a;
    (void)ctl_send(s, &m);
}

static bool valid_node_id(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > 256)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x21 || id[i] == 0x7f)
            return false;
    return true;
}

static const char *const refused_names[CTL_REFUSED_N] = {"no_token", "bad_token", "wrong_node",
                                                         "unknown_node"};

/* Counts and logs a refused stream or registration. */
static void refused(sb_sess *s, int reason, const char *why) {
    s->ctl->refused[reason]++;
    SLIM_LOGW_LIMITED(CTL_MOD, "control stream from %s refused (%s): %s", s->peer_host,
                      refused_names[reason], why);
}

/* True when subject is "<node_id>_<8 alphanumerics>", a provider id made
 * for node_id (docs/identity.md). */
static bool subject_of(const char *subject, const char *node_id) {
    size_t n = strlen(node_id);
    if (strlen(subject) != n + 1 + SLIM_IDENTITY_SUFFIX_LEN || strncmp(subject, node_id, n) != 0 ||
        subject[n] != '_')
        return false;
    for (size_t i = n + 1; subject[i] != '\0'; i++) {
        char ch = subject[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

/* southbound.auth: the token's subject and the list of nodes. Ends the
 * stream and returns false when the registration is refused. */
static bool may_register(sb_sess *s, const ctl_msg *m, const char *node_id) {
    const slim_ctl_config *cfg = s->ctl->cfg;
    char why[400];
    if (cfg->sb_secret != NULL && (s->subject == NULL || !subject_of(s->subject, node_id))) {
        snprintf(why, sizeof why, "node %s bears a token made for %s", node_id,
                 s->subject != NULL ? s->subject : "nobody");
        refused(s, CTL_REFUSED_WRONG_NODE, why);
        ack(s, m->message_id, false, "registration refused: the token was made for another node");
        ctl_session_end(s, SLIM_E_GRPC_PERMISSION_DENIED, "the token was made for another node");
        return false;
    }
    if (cfg->n_sb_nodes > 0) {
        bool known = false;
        for (size_t i = 0; i < cfg->n_sb_nodes && !known; i++)
            known = strcmp(cfg->sb_nodes[i], node_id) == 0;
        if (!known) {
            snprintf(why, sizeof why, "unknown node %s", node_id);
            refused(s, CTL_REFUSED_UNKNOWN_NODE, why);
            ack(s, m->message_id, false, "registration refused: unknown node");
            ctl_session_end(s, SLIM_E_GRPC_PERMISSION_DENIED, why);
            return false;
        }
    }
    return true;
}

static void on_register(sb_sess *s, const ctl_msg *m) {
    slim_ctl *c = s->ctl;
    const Controller__Proto__V1__RegisterNodeRequest *r = m->register_node_request;
    if (!valid_node_id(r->node_id)) {
        ack(s, m->message_id, false, "registration refused: the node id is empty or invalid");
        ctl_session_end(s, SLIM_E_GRPC_INVALID_ARGUMENT, "invalid node id");
        return;
    }
    if (!may_register(s, m, r->node_id))
        return;
    sb_sess *old = ctl_session_of(c, r->node_id);
    if (old != NULL && old != s) {
        SLIM_LOGW(CTL_MOD, "node %s registered again from %s: its previous stream is closed",
                  r->node_id, s->peer_host);
        old->active = false;
        ctl_session_end(old, SLIM_E_GRPC_ABORTED, "replaced by a newer stream of the same node");
    }
    if (s->node_id == NULL && (s->node_id = slim_strdup(r->node_id)) == NULL) {
        ctl_session_end(s, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    s->active = true;
    uv_timer_stop(&s->reg_timer);
    SLIM_LOGI(CTL_MOD, "node %s registered from %s (%zu listener(s), %zu subscription(s))",
              r->node_id, s->peer_host, r->n_connection_details, r->n_subscriptions);
    ack(s, m->message_id, true, "node registered");
    ctl_node_registered(c, s, r);
}

/* Fails every request waiting on s. */
static void fail_pendings(sb_sess *s, const char *why) {
    slim_ctl *c = s->ctl;
    for (;;) {
        pending *p = c->pendings;
        while (p != NULL && p->sess != s)
            p = p->next;
        if (p == NULL)
            return;
        pending_finish(p, NULL, why);
    }
}

void ctl_session_input(sb_sess *s, const uint8_t *p, size_t n) {
    slim_ctl *c = s->ctl;
    ctl_msg *m = controller__proto__v1__control_message__unpack(NULL, n, p);
    if (m == NULL) {
        SLIM_LOGW_LIMITED(CTL_MOD,
                          "undecodable control message from %s (%zu bytes); closing the stream",
                          s->node_id ? s->node_id : s->peer_host, n);
        ctl_session_end(s, SLIM_E_GRPC_INVALID_ARGUMENT, "undecodable ControlMessage");
        return;
    }
    if (s->node_id == NULL &&
        m->payload_case != CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_REGISTER_NODE_REQUEST) {
        SLIM_LOGW_LIMITED(CTL_MOD, "a stream from %s sent a message before registering; closing it",
                          s->peer_host);
        ack(s, m->message_id, false, "register first");
        ctl_session_end(s, SLIM_E_GRPC_INVALID_ARGUMENT,
                        "the first message must be a register_node_request");
        controller__proto__v1__control_message__free_unpacked(m, NULL);
        return;
    }
    if (s->node_id != NULL)
        (void)slim_store_node_touch(c->store, s->node_id, (int64_t)slim_wall_ms());
    bool kept = false;
    switch (m->payload_case) {
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_REGISTER_NODE_REQUEST:
        if (s->node_id != NULL && strcmp(s->node_id, m->register_node_request->node_id) != 0) {
            ack(s, m->message_id, false, "this stream is registered as another node");
            break;
        }
        on_register(s, m);
        break;
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND:
        if (s->active)
            ctl_node_reported(c, s->node_id, m->config_command);
        break;
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND_ACK:
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_RESPONSE:
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONNECTION_LIST_RESPONSE:
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK: {
        const char *orig =
            m->payload_case == CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK
                ? m->ack->original_message_id
            : m->payload_case == CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND_ACK
                ? m->config_command_ack->original_message_id
            : m->payload_case ==
                    CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_RESPONSE
                ? m->subscription_list_response->original_message_id
                : m->connection_list_response->original_message_id;
        pending *p = c->pendings;
        while (p != NULL && !(p->sess == s && strcmp(p->id, orig) == 0))
            p = p->next;
        if (p == NULL) {
            SLIM_LOGD(CTL_MOD, "node %s: answer to unknown request %s ignored", s->node_id, orig);
            break;
        }
        if (m->payload_case == CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK &&
            p->expect != CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK) {
            /* A node that could not handle the request says so in an Ack. */
            char why[300];
            snprintf(why, sizeof why, "node %s refused the request: %s", s->node_id,
                     m->ack->n_messages > 0 ? m->ack->messages[0] : "no reason given");
            pending_finish(p, NULL, why);
            break;
        }
        if ((int)m->payload_case != p->expect)
            break;
        bool done = true;
        if (m->payload_case ==
            CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_RESPONSE)
            done = m->subscription_list_response->done;
        else if (m->payload_case ==
                 CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONNECTION_LIST_RESPONSE)
            done = m->connection_list_response->done;
        if (!done || p->n_chunks > 0) {
            /* Chunks are kept until the last one; at most 10 000 of them. */
            ctl_msg **v =
                p->n_chunks < 10000 ? slim_realloc(p->chunks, (p->n_chunks + 1) * sizeof *v) : NULL;
            if (v == NULL) {
                pending_finish(p, NULL, "too many or too large list chunks");
                break;
            }
            p->chunks = v;
            p->chunks[p->n_chunks++] = m;
            kept = true;
            if (done)
                pending_finish(p, NULL, NULL);
            break;
        }
        pending_finish(p, m, NULL);
        break;
    }
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_DEREGISTER_NODE_REQUEST:
        SLIM_LOGI(CTL_MOD, "node %s says it leaves", s->node_id);
        s->active = false;
        ctl_session_end(s, SLIM_OK, NULL);
        break;
    default:
        SLIM_LOGD(CTL_MOD, "node %s: message of kind %d ignored", s->node_id, (int)m->payload_case);
        break;
    }
    if (!kept)
        controller__proto__v1__control_message__free_unpacked(m, NULL);
}

void ctl_session_closed(sb_sess *s) {
    slim_ctl *c = s->ctl;
    char why[160];
    snprintf(why, sizeof why, "the stream of node %s ended", s->node_id ? s->node_id : "?");
    s->call = NULL;
    fail_pendings(s, why);
    if (s->active)
        SLIM_LOGI(CTL_MOD, "node %s disconnected", s->node_id);
    s->active = false;
    for (sb_sess **pp = &c->sessions; *pp != NULL; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    sess_free(s);
}

sb_sess *ctl_fake_session(slim_ctl *c, const char *peer,
                          void (*send)(void *ud, const uint8_t *p, size_t n), void *ud) {
    sb_sess *s = sess_new(c, peer);
    if (s != NULL) {
        s->fake_send = send;
        s->fake_ud = ud;
    }
    return s;
}

/* The token of "authorization: Bearer <token>", or false when the call
 * carries none. */
static bool bearer(slim_grpc_call *call, slim_str *token) {
    slim_bytes v;
    if (!slim_grpc_md_get(slim_grpc_call_metadata(call), "authorization", &v) || v.len <= 7 ||
        strncasecmp((const char *)v.ptr, "bearer ", 7) != 0)
        return false;
    *token = (slim_str){(const char *)v.ptr + 7, v.len - 7};
    return true;
}

/* southbound.auth.sharedSecret: the stream's token must verify; its
 * subject is kept for the registration. Ends the stream when it does not
 * (the session goes with the call's on_close). */
static void sb_authenticate(sb_sess *s) {
    slim_str token;
    if (!bearer(s->call, &token)) {
        refused(s, CTL_REFUSED_NO_TOKEN, "no bearer token");
        ctl_session_end(s, SLIM_E_GRPC_UNAUTHENTICATED, "a token is required");
        return;
    }
    slim_identity_claims claims;
    slim_status st =
        slim_identity_verifier_check_token(s->ctl->verifier, token, (uint64_t)time(NULL), &claims);
    if (st == SLIM_OK && (s->subject = slim_malloc(claims.subject.len + 1)) != NULL) {
        memcpy(s->subject, claims.subject.ptr, claims.subject.len);
        s->subject[claims.subject.len] = '\0';
        return;
    }
    if (st == SLIM_OK) {
        ctl_session_end(s, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    refused(s, CTL_REFUSED_BAD_TOKEN, slim_status_str(st));
    ctl_session_end(s, SLIM_E_GRPC_UNAUTHENTICATED, slim_status_str(st));
}

static void sb_on_call(slim_grpc_call *call, slim_bytes request, void *ud) {
    (void)request;
    slim_ctl *c = ud;
    if (c->shutting_down) {
        slim_grpc_call_set_data(call, NULL);
        (void)slim_grpc_call_finish(call, SLIM_E_GRPC_UNAVAILABLE, "controller shutting down",
                                    NULL);
        return;
    }
    sb_sess *s = sess_new(c, slim_grpc_call_peer(call));
    if (s == NULL) {
        slim_grpc_call_set_data(call, NULL);
        (void)slim_grpc_call_finish(call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL);
        return;
    }
    s->call = call;
    slim_grpc_call_set_data(call, s);
    SLIM_LOGD(CTL_MOD, "control stream opened from %s", slim_grpc_call_peer(call));
    if (c->verifier != NULL)
        sb_authenticate(s);
}

static void sb_on_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    (void)call;
    if (data != NULL && !((sb_sess *)data)->ended)
        ctl_session_input(data, msg.ptr, msg.len);
}

static void sb_on_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    sb_sess *s = data;
    if (s == NULL)
        return;
    if (s->node_id != NULL)
        SLIM_LOGD(CTL_MOD, "control stream of %s closed: %s %.*s", s->node_id,
                  slim_status_str(res->status), (int)res->message.len, res->message.ptr);
    ctl_session_closed(s);
}

/* ---- lifecycle ---- */

slim_status slim_ctl_new(uv_loop_t *loop, const slim_ctl_config *cfg, slim_store *store,
                         const slim_ctl_callbacks *cbs, slim_ctl **out) {
    slim_ctl *c = slim_calloc(1, sizeof *c);
    if (c == NULL)
        return SLIM_E_NOMEM;
    c->loop = loop;
    c->cfg = cfg;
    c->store = store;
    if (cbs != NULL)
        c->cbs = *cbs;
    *out = c;
    return SLIM_OK;
}

/* northbound.auth.tokens: the call must bear one of them. Every token is
 * compared, each in constant time, whichever matches. */
static slim_status nb_check(slim_grpc_call *call, void *ud, const char **message) {
    slim_ctl *c = ud;
    slim_str token;
    bool has = bearer(call, &token), ok = false;
    for (size_t i = 0; has && i < c->cfg->n_nb_tokens; i++) {
        const char *t = c->cfg->nb_tokens[i];
        ok |= strlen(t) == token.len && CRYPTO_memcmp(t, token.ptr, token.len) == 0;
    }
    if (ok)
        return SLIM_OK;
    c->nb_unauthenticated++;
    *message = has ? "the token is not accepted" : "a token is required";
    SLIM_LOGW_LIMITED(CTL_MOD, "northbound call %.*s from %s refused: %s",
                      (int)slim_grpc_call_method(call).len, slim_grpc_call_method(call).ptr,
                      slim_grpc_call_peer(call), *message);
    return SLIM_E_GRPC_UNAUTHENTICATED;
}

static slim_status listen_one(slim_ctl *c, slim_grpc_server **srv, const char *kind,
                              const char *endpoint, const slim_tls_config *tls) {
    slim_grpc_config gc = {0};
    /* Control streams stay open for days: no idle or age limits. */
    gc.max_connection_idle_ms = SLIM_GRPC_OFF;
    gc.max_connection_age_ms = SLIM_GRPC_OFF;
    slim_status st = slim_grpc_server_new(c->loop, &gc, srv);
    if (st != SLIM_OK)
        return st;
    if (strcmp(kind, "southbound") == 0) {
        slim_grpc_method m = {
            .path = SB_METHOD,
            .kind = SLIM_GRPC_BIDI_STREAMING,
            .on_call = sb_on_call,
            .cbs = {.on_message = sb_on_message, .on_close = sb_on_close},
            .ud = c,
        };
        st = slim_grpc_server_add_method(*srv, &m);
    } else {
        st = ctl_nb_register(c, *srv);
        if (c->cfg->n_nb_tokens > 0)
            slim_grpc_server_set_header_check(*srv, nb_check, c);
    }
    if (st != SLIM_OK)
        return st;
    char bound[256];
    st = slim_grpc_server_listen_tls(*srv, endpoint, tls, NULL, bound, sizeof bound);
    if (st != SLIM_OK) {
        SLIM_LOGE(CTL_MOD, "cannot listen %s on %s: %s", kind, endpoint, slim_status_str(st));
        return st;
    }
    c->servers_running++;
    if (c->cbs.listening != NULL)
        c->cbs.listening(kind, bound, c->cbs.ud);
    return SLIM_OK;
}

/* ---- metrics ---- */

/* The /metrics page (on the loop thread). Every series is written, zeros
 * included. */
static void render_metrics(void *ud, slim_buf *out) {
    slim_ctl *c = ud;
    slim_metrics_page p = {out, SLIM_OK};
    slim_metrics_head(&p, "slim_controller_nodes_connected", "gauge",
                      "Nodes with an open, registered control stream.");
    slim_metrics_emit(&p, "slim_controller_nodes_connected %zu\n", slim_ctl_connected_nodes(c));
    slim_metrics_head(&p, "slim_controller_registrations_refused_total", "counter",
                      "Control streams or registrations refused by southbound.auth, by reason.");
    for (int i = 0; i < CTL_REFUSED_N; i++)
        slim_metrics_emit(&p, "slim_controller_registrations_refused_total{reason=\"%s\"} %llu\n",
                          refused_names[i], (unsigned long long)c->refused[i]);
    slim_metrics_head(&p, "slim_controller_unauthenticated_total", "counter",
                      "Calls refused for their token (northbound.auth).");
    slim_metrics_emit(&p, "slim_controller_unauthenticated_total{api=\"northbound\"} %llu\n",
                      (unsigned long long)c->nb_unauthenticated);
    slim_metrics_head(
        &p, "slim_controller_tls_failed_total", "counter",
        "Connections that ended on a TLS error (handshake, certificate, plaintext), by API.");
    const struct {
        const char *api;
        const slim_grpc_server *srv;
    } apis[] = {{"northbound", c->nb_server}, {"southbound", c->sb_server}};
    for (size_t i = 0; i < SLIM_ARRAY_LEN(apis); i++) {
        slim_grpc_server_stats gs = {0};
        if (apis[i].srv != NULL)
            slim_grpc_server_stats_get(apis[i].srv, &gs);
        slim_metrics_emit(&p, "slim_controller_tls_failed_total{api=\"%s\"} %llu\n", apis[i].api,
                          (unsigned long long)gs.tls_failed);
    }
}

slim_status slim_ctl_start(slim_ctl *c) {
    const slim_ctl_config *cfg = c->cfg;
    slim_status st;
    if (cfg->sb_secret != NULL) {
        st = slim_identity_verifier_new((slim_str){cfg->sb_secret, strlen(cfg->sb_secret)}, NULL,
                                        &c->verifier);
        if (st != SLIM_OK)
            return st;
    }
    st = listen_one(c, &c->sb_server, "southbound", cfg->sb_endpoint,
                    cfg->sb_tls.insecure ? NULL : &cfg->sb_tls);
    if (st == SLIM_OK)
        st = listen_one(c, &c->nb_server, "northbound", cfg->nb_endpoint,
                        cfg->nb_tls.insecure ? NULL : &cfg->nb_tls);
    if (st == SLIM_OK && cfg->metrics_endpoint != NULL) {
        char bound[128];
        st = slim_metrics_new(c->loop, cfg->metrics_endpoint, render_metrics, c, bound,
                              sizeof bound, &c->metrics);
        if (st != SLIM_OK)
            SLIM_LOGE(CTL_MOD, "cannot serve metrics on %s: %s", cfg->metrics_endpoint,
                      slim_status_str(st));
        else if (c->cbs.listening != NULL)
            c->cbs.listening("metrics", bound, c->cbs.ud);
    }
    return st;
}

static void server_down(slim_grpc_server *srv, void *ud) {
    (void)srv;
    slim_ctl *c = ud;
    if (--c->servers_running == 0 && c->cbs.stopped != NULL)
        c->cbs.stopped(c->cbs.ud);
}

void slim_ctl_shutdown(slim_ctl *c) {
    if (c->shutting_down)
        return;
    c->shutting_down = true;
    if (c->servers_running == 0) {
        if (c->cbs.stopped != NULL)
            c->cbs.stopped(c->cbs.ud);
        return;
    }
    slim_grpc_server *srvs[2] = {c->nb_server, c->sb_server};
    for (int i = 0; i < 2; i++)
        if (srvs[i] != NULL)
            slim_grpc_server_shutdown(srvs[i], c->cfg->drain_timeout_ms, server_down, c);
}

void slim_ctl_free(slim_ctl *c) {
    if (c == NULL)
        return;
    /* Freeing the servers ends every call: sessions and pendings go with
     * their on_close callbacks. */
    slim_metrics_free(c->metrics);
    slim_grpc_server_free(c->nb_server);
    slim_grpc_server_free(c->sb_server);
    while (c->sessions != NULL)
        ctl_session_closed(c->sessions);
    while (c->pendings != NULL)
        pending_finish(c->pendings, NULL, "controller stopped");
    slim_free(c->nb_uds);
    slim_identity_verifier_free(c->verifier);
    slim_free(c);
}
