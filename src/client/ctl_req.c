/*
 * Requests of a node's controller, carried out by this app as a channel's
 * moderator (docs/protocol.md, "Channels through the controller").
 *
 * The node hands a request to the app as a Publish of session message
 * type CONTROLLER_REQUEST, whose metadata SLIM_IDENTITY holds a token of
 * the node's provider and whose app_payload blob is the controller's
 * ControlMessage. The loop takes it before the session core sees it
 * (slim_app__sessions_input), checks the token with the app's own
 * verifier (shared secret or JWT), and acts through the same core calls
 * the program's commands make: open a group session (handed to the
 * program as a new session, as a peer's is), invite, remove, close. Each
 * of these is an operation of the loop's own (OP_CALL): when the core
 * reports it done, ctl_done answers the node with a CONTROLLER_REPLY
 * Publish (an Ack naming the request's message_id). Nothing blocks the
 * loop.
 *
 * A request whose token is missing or refused, or that does not decode,
 * is dropped unanswered and counted (controller_requests_refused).
 */
#include "client/app_int.h"
#include "controller/v1/controller.pb-c.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "wire/pbscan.h"
#include "wire/wire.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MOD "app"

#define CTL_PAYLOAD_TYPE "application/x-slim-controller"
#define CTL_TIMEOUT_MS   5000u /* the group sessions it creates: timeout ... */
#define CTL_RETRIES      5u    /* ... and max_retries */

#define T_REQUEST                                                                                  \
    DATAPLANE__PROTO__V1__SESSION_MESSAGE_TYPE__SESSION_MESSAGE_TYPE_CONTROLLER_REQUEST
#define T_REPLY DATAPLANE__PROTO__V1__SESSION_MESSAGE_TYPE__SESSION_MESSAGE_TYPE_CONTROLLER_REPLY

typedef Controller__Proto__V1__ControlMessage ctl_msg;

/* A request being carried out: what its answer needs. */
typedef struct ctl_req {
    slim_msg *req;     /* the request as received (owned) */
    ctl_msg *cm;       /* its ControlMessage (owned) */
    const char *what;  /* the channel or participant it is about (borrowed from cm) */
    bool offer_failed; /* create: the program could not be handed the session */
} ctl_req;

static void req_free(ctl_req *rq) {
    if (rq == NULL)
        return;
    if (rq->cm != NULL)
        protobuf_c_message_free_unpacked(&rq->cm->base, &slim_wire_allocator);
    slim_wire_free(rq->req);
    slim_free(rq);
}

/* ---- recognising a request (no allocation) ---- */

/* The LEN field `number` of the message in v, or an empty view. */
static slim_bytes sub_field(slim_bytes v, uint32_t number) {
    slim_reader r;
    slim_reader_init(&r, v);
    slim_pb_field f;
    while (slim_reader_remaining(&r) > 0 && slim_pb_next(&r, &f) == SLIM_OK)
        if (f.number == number && f.wire_type == SLIM_PB_LEN)
            return f.bytes;
    return (slim_bytes){NULL, 0};
}

bool slim_app__ctl_is_request(slim_bytes msg) {
    /* Message.publish (3) -> Publish.session (2) -> session_message_type (2) */
    slim_bytes session = sub_field(sub_field(msg, 3), 2);
    if (session.ptr == NULL)
        return false;
    slim_reader r;
    slim_reader_init(&r, session);
    slim_pb_field f;
    while (slim_reader_remaining(&r) > 0 && slim_pb_next(&r, &f) == SLIM_OK)
        if (f.number == 2 && f.wire_type == SLIM_PB_VARINT)
            return f.value == (uint64_t)T_REQUEST;
    return false;
}

/* ---- the answer ---- */

static void app_name_text(const slim_app *app, char *buf, size_t cap) {
    if (slim_name_format(app->name_parts, app->name.id, buf, cap, NULL) != SLIM_OK)
        snprintf(buf, cap, "%s/%s/%s", app->name_text[0], app->name_text[1], app->name_text[2]);
}

/* Sends the Ack for rq to the request's source, over the connection the
 * request came on. Loop thread. */
static void reply(slim_app *app, const ctl_req *rq, bool success, const char *text) {
    const slim_pb_header *rh = rq->req->publish->header;
    const slim_pb_session *rs = rq->req->publish->session;
    slim_name to;
    slim_str to_text[3];
    slim_status st = slim_wire_name_get(rh->source, &to);
    if (st != SLIM_OK) {
        SLIM_LOGW(MOD, "controller request without a source: not answered");
        return;
    }
    bool has_text = slim_wire_name_strings(rh->source, to_text);
    slim_wire_header_spec h = {.source = {&app->name, app->name_parts},
                               .destination = {&to, has_text ? to_text : NULL},
                               .fanout = 1};
    if (rh->_incoming_conn_case) {
        h.has_forward_to = true;
        h.forward_to = rh->incoming_conn;
    }
    slim_wire_session_spec s = {.session_type = rs->session_type,
                                .message_type = T_REPLY,
                                .session_id = 0,
                                .message_id = rs->message_id};

    char id[37] = "";
    if (slim_uuid_v4(id) != SLIM_OK)
        snprintf(id, sizeof id, "%016llx", (unsigned long long)slim_now_ns());
    Controller__Proto__V1__Ack ack = CONTROLLER__PROTO__V1__ACK__INIT;
    ack.original_message_id = rq->cm->message_id;
    ack.success = success;
    char *msgs[1] = {(char *)text};
    ack.n_messages = 1;
    ack.messages = msgs;
    ctl_msg cm = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    cm.message_id = id;
    cm.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK;
    cm.ack = &ack;
    size_t n = controller__proto__v1__control_message__get_packed_size(&cm);
    uint8_t *blob = slim_malloc(n ? n : 1);
    slim_msg *m = NULL;
    slim_buf b = SLIM_BUF_INIT;
    st = blob != NULL ? SLIM_OK : SLIM_E_NOMEM;
    if (st == SLIM_OK) {
        (void)controller__proto__v1__control_message__pack(&cm, blob);
        st = slim_wire_publish_new(&h, &s, &m);
    }
    if (st == SLIM_OK)
        st = slim_wire_set_app_payload(m, CTL_PAYLOAD_TYPE, (slim_bytes){blob, n});
    if (st == SLIM_OK)
        st = slim_wire_encode(m, SIZE_MAX, &b);
    if (st == SLIM_OK)
        st = slim_hub_local_input(app->hub, app->local, slim_buf_view(&b), uv_now(&app->loop));
    if (st != SLIM_OK)
        SLIM_LOGW(MOD, "answer to controller request %s not sent: %s", rq->cm->message_id,
                  slim_status_str(st));
    else
        SLIM_LOGI(MOD, "controller request %s: %s (%s)", rq->cm->message_id,
                  success ? "done" : "failed", text);
    slim_buf_cleanup(&b);
    slim_wire_free(m);
    slim_free(blob);
}

/* OP_CALL: the operation rq started is over; answers and frees rq. */
static void ctl_done(slim_app *app, void *ud, const slim_event *ev) {
    ctl_req *rq = ud;
    if (ev == NULL) { /* the app is being freed */
        req_free(rq);
        return;
    }
    char text[512];
    bool ok = ev->status == SLIM_OK && !rq->offer_failed;
    if (ok) {
        switch (rq->cm->payload_case) {
        case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CREATE_CHANNEL_REQUEST:
            snprintf(text, sizeof text, "channel %s created", rq->what);
            break;
        case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ADD_PARTICIPANT_REQUEST:
            snprintf(text, sizeof text, "%s joined", rq->what);
            break;
        case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_DELETE_PARTICIPANT_REQUEST:
            snprintf(text, sizeof text, "%s removed", rq->what);
            break;
        default:
            snprintf(text, sizeof text, "channel %s deleted", rq->what);
            break;
        }
    } else if (rq->offer_failed) {
        snprintf(text, sizeof text, "channel %s: the application cannot take another session",
                 rq->what);
    } else if (ev->detail[0] != 0) {
        snprintf(text, sizeof text, "%s", ev->detail);
    } else {
        snprintf(text, sizeof text, "%s: %s", rq->what, slim_status_str(ev->status));
    }
    reply(app, rq, ok, text);
    req_free(rq);
}

/* Answers at once (no operation) and frees rq. */
static void answer_now(slim_app *app, ctl_req *rq, bool success, const char *text) {
    reply(app, rq, success, text);
    req_free(rq);
}

/* ---- carrying it out ---- */

/* The group session this app moderates on channel ch; 0 when none. */
static slim_session_id find_group(slim_app *app, const slim_name *ch) {
    slim_session_id ids[256];
    size_t n = 0;
    uv_mutex_lock(&app->mu);
    slim_hmap_iter it;
    for (slim_hnode *h = slim_hmap_first(&app->sessions, &it); h != NULL && n < 256;
         h = slim_hmap_next(&app->sessions, &it)) {
        const app_session *s = SLIM_CONTAINER_OF(h, app_session, node);
        if (!s->closed && s->info != NULL && s->info->type == SLIM_SESSION_MULTICAST &&
            s->info->moderator)
            ids[n++] = s->id;
    }
    uv_mutex_unlock(&app->mu);
    for (size_t i = 0; i < n; i++) {
        slim_ss_info ci;
        if (slim_sessions_info(app->ss, ids[i], &ci) == SLIM_OK &&
            ci.type == SLIM_SESSION_MULTICAST && ci.moderator &&
            slim_name_same_service(&ci.peer.name, ch))
            return ids[i];
    }
    return 0;
}

/* Routes name through the app's default connection, as slim_app_set_route
 * does (nobody waits for it: the route is in the router once sent). */
static void route_via_default(slim_app *app, const char *name) {
    app_cmd *c = slim_calloc(1, sizeof *c);
    if (c == NULL || (c->text = slim_strdup(name)) == NULL) {
        slim_app__cmd_free(c);
        return;
    }
    c->kind = CMD_SET_ROUTE;
    slim_name_parts parts;
    if (slim_name_parse(c->text, strlen(c->text), &c->name, &parts) == SLIM_OK) {
        for (int i = 0; i < 3; i++)
            c->parts[i] = parts.component[i];
        slim_app__run_conn_cmd(app, c);
    }
    slim_app__cmd_free(c);
}

static void carry_out(slim_app *app, ctl_req *rq) {
    ctl_msg *cm = rq->cm;
    const char *channel = NULL, *who = NULL;
    switch (cm->payload_case) {
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CREATE_CHANNEL_REQUEST:
        channel = cm->create_channel_request->channel_name;
        break;
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_DELETE_CHANNEL_REQUEST:
        channel = cm->delete_channel_request->channel_name;
        break;
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ADD_PARTICIPANT_REQUEST:
        channel = cm->add_participant_request->channel_name;
        who = cm->add_participant_request->participant_name;
        break;
    default: /* DELETE_PARTICIPANT (the caller let no other through) */
        channel = cm->delete_participant_request->channel_name;
        who = cm->delete_participant_request->participant_name;
        break;
    }
    rq->what = who != NULL ? who : channel;
    char text[1024];
    slim_name ch, pn = {0};
    slim_name_parts chp, pnp;
    slim_status st = slim_name_parse(channel, strlen(channel), &ch, &chp);
    if (st != SLIM_OK) {
        snprintf(text, sizeof text, "bad channel name \"%s\": %s", channel, slim_status_str(st));
        answer_now(app, rq, false, text);
        return;
    }
    if (who != NULL && (st = slim_name_parse(who, strlen(who), &pn, &pnp)) != SLIM_OK) {
        snprintf(text, sizeof text, "bad participant name \"%s\": %s", who, slim_status_str(st));
        answer_now(app, rq, false, text);
        return;
    }
    slim_session_id group = find_group(app, &ch);
    bool create =
        cm->payload_case == CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CREATE_CHANNEL_REQUEST;
    if (create && group != 0) {
        snprintf(text, sizeof text, "channel %s already exists", channel);
        answer_now(app, rq, false, text);
        return;
    }
    if (!create && group == 0) {
        char me[512];
        app_name_text(app, me, sizeof me);
        snprintf(text, sizeof text, "no channel %s moderated by %s", channel, me);
        answer_now(app, rq, false, text);
        return;
    }
    slim_op op = slim_app__op_call(app, ctl_done, rq);
    if (op == 0) {
        answer_now(app, rq, false, "out of memory");
        return;
    }
    /* From here the operation's completion answers and frees rq. */
    uint64_t now = slim_now_ms();
    const char *doing = "";
    switch (cm->payload_case) {
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CREATE_CHANNEL_REQUEST: {
        slim_session_config cfg = {
            .type = SLIM_SESSION_MULTICAST,
            .timeout_ms = CTL_TIMEOUT_MS,
            .max_retries = CTL_RETRIES,
            .mls = true,
            .mls_rotation_ms = SLIM_MLS_ROTATION_DEFAULT_S * 1000u,
            .session_id = SLIM_SESSION_ID_ANY,
        };
        cfg.peer.name = ch;
        memcpy(cfg.peer.text, chp.component, sizeof cfg.peer.text);
        uint64_t id = 0;
        doing = "create the channel";
        st = slim_sessions_open(app->ss, &cfg, op, now, &id);
        if (st == SLIM_OK && !slim_app__session_offer(app, id))
            rq->offer_failed = true; /* the core's DONE answers */
        break;
    }
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_DELETE_CHANNEL_REQUEST:
        doing = "delete the channel";
        st = slim_sessions_close(app->ss, group, op, now);
        break;
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ADD_PARTICIPANT_REQUEST: {
        route_via_default(app, who);
        slim_sname s = {.name = pn};
        memcpy(s.text, pnp.component, sizeof s.text);
        doing = "invite";
        st = slim_sessions_invite(app->ss, group, &s, op, now);
        break;
    }
    default: {
        slim_sname s = {.name = pn};
        memcpy(s.text, pnp.component, sizeof s.text);
        doing = "remove";
        st = slim_sessions_remove(app->ss, group, &s, op, now);
        break;
    }
    }
    if (st != SLIM_OK) {
        snprintf(text, sizeof text, "cannot %s %s: %s", doing, rq->what, slim_status_str(st));
        slim_event r = {0};
        slim_app__complete(app, op, st, text, &r);
    }
}

/* ---- the request ---- */

static void refuse(slim_app *app, const char *why, slim_status st) {
    SLIM_LOGW(MOD, "controller request dropped: %s (%s)", why, slim_status_str(st));
    uv_mutex_lock(&app->mu);
    app->counters.controller_requests_refused++;
    uv_mutex_unlock(&app->mu);
}

void slim_app__ctl_input(slim_app *app, slim_bytes msg) {
    slim_msg *m = NULL;
    slim_status st = slim_wire_decode(msg, SIZE_MAX, &m);
    if (st != SLIM_OK || slim_wire_kind(m) != SLIM_MSG_PUBLISH || m->publish->header == NULL ||
        m->publish->session == NULL) {
        slim_wire_free(m);
        refuse(app, "not a Publish with a session header", st ? st : SLIM_E_WIRE_MISSING_FIELD);
        return;
    }
    /* The token travels in the metadata; the verifier reads the header's
     * identity: put it there (a copy: the request is ours). */
    const char *token = slim_wire_metadata_get(m, "SLIM_IDENTITY");
    if (token == NULL || token[0] == 0) {
        slim_wire_free(m);
        refuse(app, "no SLIM_IDENTITY", SLIM_E_WIRE_MISSING_FIELD);
        return;
    }
    st = slim_wire_set_identity(m, (slim_str){token, strlen(token)});
    if (st == SLIM_OK)
        st = slim_app__identity_verify(&app->identity, m, false, (uint64_t)time(NULL));
    if (st != SLIM_OK) {
        slim_wire_free(m);
        refuse(app, "identity refused", st);
        return;
    }
    const slim_pb_content *c = m->publish->msg;
    ctl_msg *cm = NULL;
    if (c != NULL &&
        c->content_type_case == DATAPLANE__PROTO__V1__CONTENT__CONTENT_TYPE_APP_PAYLOAD &&
        c->app_payload != NULL)
        cm = controller__proto__v1__control_message__unpack(
            &slim_wire_allocator, c->app_payload->blob.len, c->app_payload->blob.data);
    bool known = cm != NULL &&
                 (cm->payload_case ==
                      CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CREATE_CHANNEL_REQUEST ||
                  cm->payload_case ==
                      CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_DELETE_CHANNEL_REQUEST ||
                  cm->payload_case ==
                      CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ADD_PARTICIPANT_REQUEST ||
                  cm->payload_case ==
                      CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_DELETE_PARTICIPANT_REQUEST);
    ctl_req *rq = known ? slim_calloc(1, sizeof *rq) : NULL;
    if (rq == NULL) {
        if (cm != NULL)
            protobuf_c_message_free_unpacked(&cm->base, &slim_wire_allocator);
        slim_wire_free(m);
        refuse(app, known ? "out of memory" : "not a channel request",
               known ? SLIM_E_NOMEM : SLIM_E_WIRE_MALFORMED);
        return;
    }
    rq->req = m;
    rq->cm = cm;
    SLIM_LOGI(MOD, "controller request %s (%d)", cm->message_id, (int)cm->payload_case);
    carry_out(app, rq);
}
