/*
 * The channel calls of the northbound API. The controller never runs a
 * group itself: it finds the node the moderator application is connected
 * to (from the subscriptions nodes report), sends that node the request on
 * its control stream, and answers once the moderator reported the outcome
 * through the node (docs/protocol.md, "Channels through the controller").
 * Channels and participants are stored only once the moderator said yes,
 * so a refused or failed call leaves the state as it was.
 */
#include "control/ctl_int.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "name/id_text.h"

#include <stdio.h>
#include <string.h>

/* ---- names ---- */

/* Splits "a/b/c" or "a/b/c/id" (want_id: the id may be there) into parts.
 * Returns the number of components (3 or 4), 0 when malformed. */
static int split_name(const char *text, bool allow_id, char parts[4][256]) {
    int n = 0;
    const char *p = text;
    while (n < 4) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len >= 256)
            return 0;
        memcpy(parts[n], p, len);
        parts[n][len] = '\0';
        n++;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    if (n == 4 && strchr(p, '/') != NULL)
        return 0;
    if (n < 3 || (n == 4 && !allow_id))
        return 0;
    if (n == 4) {
        slim_id id;
        if (slim_id_parse_api(parts[3], strlen(parts[3]), &id) != SLIM_OK)
            return 0;
        slim_id_format(id, parts[3]);
    }
    return n;
}

/* The connected node an application `name` (3 or 4 parts) is on, from the
 * reports; allocated, or NULL. */
static char *node_of_app(slim_ctl *c, char parts[4][256], int n) {
    slim_store_report *v = NULL;
    size_t len = 0;
    char *found = NULL;
    if (slim_store_report_list(c->store, NULL, &v, &len) != SLIM_OK)
        return NULL;
    for (size_t i = 0; i < len && found == NULL; i++) {
        const slim_store_name *r = &v[i].name;
        if (strcmp(r->c[0], parts[0]) || strcmp(r->c[1], parts[1]) || strcmp(r->c[2], parts[2]))
            continue;
        if (n == 4 && (r->id == NULL || strcmp(r->id, parts[3]) != 0))
            continue;
        if (ctl_session_of(c, v[i].node_id) != NULL)
            found = slim_strdup(v[i].node_id);
    }
    slim_store_report_list_free(v, len);
    return found;
}

/* ---- the request to the moderator's node ---- */

typedef enum chan_op { OP_CREATE, OP_DELETE, OP_ADD, OP_REMOVE } chan_op;

typedef struct chan_ctx {
    chan_op op;
    char *channel;
    char *participant;
    char *moderator;
    char *node_id;
} chan_ctx;

static void chan_ctx_free(void *p) {
    chan_ctx *x = p;
    slim_free(x->channel);
    slim_free(x->participant);
    slim_free(x->moderator);
    slim_free(x->node_id);
    slim_free(x);
}

static void reply_ack(slim_ctl *c, slim_grpc_call *call, const char *orig, bool ok, char **messages,
                      size_t n) {
    Controller__Proto__V1__Ack a = CONTROLLER__PROTO__V1__ACK__INIT;
    a.original_message_id = (char *)orig;
    a.success = ok;
    a.messages = messages;
    a.n_messages = n;
    ctl_nb_reply(c, call, &a.base);
}

/* The moderator's outcome (or none): store it, answer the call. */
static void chan_answered(slim_ctl *c, pending *p, const ctl_msg *answer, const char *why) {
    chan_ctx *x = p->ctx;
    slim_grpc_call *call = p->nb;
    p->nb = NULL;
    if (answer == NULL) {
        SLIM_LOGW(CTL_MOD, "channel %s: %s", x->channel, why);
        if (call != NULL)
            ctl_nb_fail(c, call,
                        strstr(why, "did not answer") ? SLIM_E_GRPC_DEADLINE_EXCEEDED
                                                      : SLIM_E_GRPC_UNAVAILABLE,
                        "%s", why);
        return;
    }
    const Controller__Proto__V1__Ack *a = answer->ack;
    SLIM_LOGI(CTL_MOD, "channel %s: moderator %s answered %s%s%s", x->channel, x->moderator,
              a->success ? "yes" : "no", a->n_messages ? ": " : "",
              a->n_messages ? a->messages[0] : "");
    slim_status st = SLIM_OK;
    if (a->success) {
        switch (x->op) {
        case OP_CREATE: {
            slim_store_channel ch = {x->channel, &x->moderator, 1, x->node_id};
            st = slim_store_channel_add(c->store, &ch);
            break;
        }
        case OP_DELETE:
            st = slim_store_channel_delete(c->store, x->channel);
            break;
        case OP_ADD:
            st = slim_store_participant_add(c->store, x->channel, x->participant);
            if (st == SLIM_E_EXISTS)
                st = SLIM_OK;
            break;
        case OP_REMOVE:
            st = slim_store_participant_delete(c->store, x->channel, x->participant);
            if (st == SLIM_E_NOT_FOUND)
                st = SLIM_OK;
            break;
        }
        if (st != SLIM_OK)
            SLIM_LOGE(CTL_MOD, "channel %s: cannot store the outcome: %s", x->channel,
                      slim_status_str(st));
    }
    if (call == NULL)
        return;
    if (x->op == OP_CREATE) {
        if (!a->success) {
            ctl_nb_fail(c, call, SLIM_E_GRPC_FAILED_PRECONDITION,
                        "moderator %s did not create the channel: %s", x->moderator,
                        a->n_messages ? a->messages[0] : "no reason given");
            return;
        }
        Controlplane__Proto__V1__CreateChannelResponse r =
            CONTROLPLANE__PROTO__V1__CREATE_CHANNEL_RESPONSE__INIT;
        r.channel_id = x->channel;
        ctl_nb_reply(c, call, &r.base);
        return;
    }
    reply_ack(c, call, p->id, a->success && st == SLIM_OK, a->messages, a->n_messages);
}

/* Sends the request built in m to node_id and waits for the moderator. */
static void chan_send(slim_ctl *c, slim_grpc_call *call, ctl_msg *m, chan_ctx *x) {
    sb_sess *s = ctl_session_of(c, x->node_id);
    pending *p = NULL;
    if (s == NULL || ctl_request(s, m, CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK,
                                 chan_answered, &p) != SLIM_OK) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_UNAVAILABLE, "cannot reach node %s", x->node_id);
        chan_ctx_free(x);
        return;
    }
    ctl_pending_set_timeout(p, c->cfg->channel_timeout_ms);
    p->ctx = x;
    p->ctx_free = chan_ctx_free;
    ctl_pending_attach(p, call);
}

static chan_ctx *ctx_new(chan_op op, const char *channel, const char *participant,
                         const char *moderator, char *node_id) {
    chan_ctx *x = slim_calloc(1, sizeof *x);
    if (x == NULL) {
        slim_free(node_id);
        return NULL;
    }
    x->op = op;
    x->node_id = node_id;
    x->channel = slim_strdup(channel);
    x->participant = participant ? slim_strdup(participant) : NULL;
    x->moderator = slim_strdup(moderator);
    if (x->channel == NULL || x->moderator == NULL || (participant && !x->participant)) {
        chan_ctx_free(x);
        return NULL;
    }
    return x;
}

/* ---- CreateChannel ---- */

static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

void ctl_create_channel(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *msg) {
    const Controlplane__Proto__V1__CreateChannelRequest *r = (const void *)msg;
    if (r->n_moderators == 0) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT, "at least one moderator is required");
        return;
    }
    char parts[4][256];
    int n = split_name(r->moderators[0], true, parts);
    if (n == 0) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT,
                    "malformed moderator name \"%s\": expected org/ns/app or org/ns/app/id",
                    r->moderators[0]);
        return;
    }
    char *node = node_of_app(c, parts, n);
    if (node == NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_NOT_FOUND,
                    "moderator %s is not connected to any registered node", r->moderators[0]);
        return;
    }
    /* org/ns/<18 random letters and digits> (rejection sampling: unbiased). */
    char channel[600], suffix[19];
    size_t k = 0;
    while (k < 18) {
        uint8_t b[32];
        if (slim_random_bytes(b, sizeof b) != SLIM_OK) {
            slim_free(node);
            ctl_nb_fail(c, call, SLIM_E_GRPC_INTERNAL, "no randomness");
            return;
        }
        for (size_t i = 0; i < sizeof b && k < 18; i++)
            if (b[i] < 248)
                suffix[k++] = alnum[b[i] % 62];
    }
    suffix[18] = '\0';
    snprintf(channel, sizeof channel, "%s/%s/%s", parts[0], parts[1], suffix);
    char moderator[1100];
    snprintf(moderator, sizeof moderator, "%s/%s/%s%s%s", parts[0], parts[1], parts[2],
             n == 4 ? "/" : "", n == 4 ? parts[3] : "");
    chan_ctx *x = ctx_new(OP_CREATE, channel, NULL, moderator, node);
    if (x == NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    SLIM_LOGI(CTL_MOD, "channel %s: asking moderator %s on node %s to create it", channel,
              moderator, x->node_id);
    Controller__Proto__V1__CreateChannelRequest req =
        CONTROLLER__PROTO__V1__CREATE_CHANNEL_REQUEST__INIT;
    char *mods[1] = {x->moderator};
    req.moderators = mods;
    req.n_moderators = 1;
    req.channel_name = x->channel;
    ctl_msg m = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CREATE_CHANNEL_REQUEST;
    m.create_channel_request = &req;
    chan_send(c, call, &m, x);
}

/* ---- the calls on an existing channel ---- */

/* The stored channel and the node its moderator is on now; NULL after
 * answering the call. */
static chan_ctx *existing(slim_ctl *c, slim_grpc_call *call, const char *channel_id, chan_op op,
                          const char *participant) {
    if (channel_id == NULL || channel_id[0] == '\0') {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT, "channel_id is required");
        return NULL;
    }
    slim_store_channel ch;
    if (slim_store_channel_get(c->store, channel_id, &ch) != SLIM_OK) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_NOT_FOUND, "channel %s not found", channel_id);
        return NULL;
    }
    char parts[4][256];
    int n = ch.n_moderators > 0 ? split_name(ch.moderators[0], true, parts) : 0;
    char *node = n > 0 ? node_of_app(c, parts, n) : NULL;
    chan_ctx *x = NULL;
    if (node == NULL)
        ctl_nb_fail(c, call, SLIM_E_GRPC_NOT_FOUND,
                    "the moderator of channel %s (%s) is not connected to any registered node",
                    channel_id, ch.n_moderators > 0 ? ch.moderators[0] : "none");
    else if ((x = ctx_new(op, channel_id, participant, ch.moderators[0], node)) == NULL)
        ctl_nb_fail(c, call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    slim_store_channel_free(&ch);
    return x;
}

static bool has_participant(slim_ctl *c, const char *channel, const char *p) {
    char **v = NULL;
    size_t n = 0;
    bool found = false;
    if (slim_store_participant_list(c->store, channel, &v, &n) == SLIM_OK)
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(v[i], p) == 0;
    slim_store_strings_free(v, n);
    return found;
}

static bool participant_name(slim_ctl *c, slim_grpc_call *call, const char *text) {
    char parts[4][256];
    if (text == NULL || split_name(text, false, parts) != 3) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT,
                    "malformed participant name \"%s\": expected org/ns/app", text ? text : "");
        return false;
    }
    return true;
}

void ctl_add_participant(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *msg) {
    const Controlplane__Proto__V1__AddParticipantRequest *r = (const void *)msg;
    if (!participant_name(c, call, r->participant_id))
        return;
    chan_ctx *x = existing(c, call, r->channel_id, OP_ADD, r->participant_id);
    if (x == NULL)
        return;
    char parts[4][256];
    split_name(r->participant_id, false, parts);
    char *pnode = node_of_app(c, parts, 3);
    if (pnode == NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_NOT_FOUND,
                    "participant %s is not connected to any registered node", r->participant_id);
        chan_ctx_free(x);
        return;
    }
    slim_free(pnode);
    if (has_participant(c, r->channel_id, r->participant_id)) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_ALREADY_EXISTS, "%s is already in channel %s",
                    r->participant_id, r->channel_id);
        chan_ctx_free(x);
        return;
    }
    Controller__Proto__V1__AddParticipantRequest req =
        CONTROLLER__PROTO__V1__ADD_PARTICIPANT_REQUEST__INIT;
    char *mods[1] = {x->moderator};
    req.channel_name = x->channel;
    req.participant_name = x->participant;
    req.moderators = mods;
    req.n_moderators = 1;
    ctl_msg m = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ADD_PARTICIPANT_REQUEST;
    m.add_participant_request = &req;
    SLIM_LOGI(CTL_MOD, "channel %s: asking %s to invite %s", x->channel, x->moderator,
              x->participant);
    chan_send(c, call, &m, x);
}

void ctl_delete_participant(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *msg) {
    const Controlplane__Proto__V1__DeleteParticipantRequest *r = (const void *)msg;
    if (!participant_name(c, call, r->participant_id))
        return;
    slim_store_channel ch;
    if (slim_store_channel_get(c->store, r->channel_id, &ch) == SLIM_OK) {
        slim_store_channel_free(&ch);
        if (!has_participant(c, r->channel_id, r->participant_id)) {
            ctl_nb_fail(c, call, SLIM_E_GRPC_NOT_FOUND, "%s is not in channel %s",
                        r->participant_id, r->channel_id);
            return;
        }
    }
    chan_ctx *x = existing(c, call, r->channel_id, OP_REMOVE, r->participant_id);
    if (x == NULL)
        return;
    Controller__Proto__V1__DeleteParticipantRequest req =
        CONTROLLER__PROTO__V1__DELETE_PARTICIPANT_REQUEST__INIT;
    char *mods[1] = {x->moderator};
    req.channel_name = x->channel;
    req.participant_name = x->participant;
    req.moderators = mods;
    req.n_moderators = 1;
    ctl_msg m = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_DELETE_PARTICIPANT_REQUEST;
    m.delete_participant_request = &req;
    chan_send(c, call, &m, x);
}

void ctl_delete_channel(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *msg) {
    const Controlplane__Proto__V1__DeleteChannelRequest *r = (const void *)msg;
    chan_ctx *x = existing(c, call, r->channel_id, OP_DELETE, NULL);
    if (x == NULL)
        return;
    Controller__Proto__V1__DeleteChannelRequest req =
        CONTROLLER__PROTO__V1__DELETE_CHANNEL_REQUEST__INIT;
    char *mods[1] = {x->moderator};
    req.channel_name = x->channel;
    req.moderators = mods;
    req.n_moderators = 1;
    ctl_msg m = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_DELETE_CHANNEL_REQUEST;
    m.delete_channel_request = &req;
    chan_send(c, call, &m, x);
}

/* ---- lists, from the store ---- */

void ctl_list_channels(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *msg) {
    (void)msg;
    slim_store_channel *v = NULL;
    size_t n = 0;
    if (slim_store_channel_list(c->store, &v, &n) != SLIM_OK) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INTERNAL, "cannot read the channels");
        return;
    }
    char **ids = slim_calloc(n + 1, sizeof *ids);
    if (ids == NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++)
            ids[i] = v[i].id;
        Controlplane__Proto__V1__ListChannelsResponse r =
            CONTROLPLANE__PROTO__V1__LIST_CHANNELS_RESPONSE__INIT;
        r.channel_id = ids;
        r.n_channel_id = n;
        ctl_nb_reply(c, call, &r.base);
    }
    slim_free(ids);
    slim_store_channel_list_free(v, n);
}

void ctl_list_participants(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *msg) {
    const Controlplane__Proto__V1__ListParticipantsRequest *r = (const void *)msg;
    if (r->channel_id[0] == '\0') {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT, "channel_id is required");
        return;
    }
    char **v = NULL;
    size_t n = 0;
    if (slim_store_participant_list(c->store, r->channel_id, &v, &n) != SLIM_OK) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_NOT_FOUND, "channel %s not found", r->channel_id);
        return;
    }
    Controlplane__Proto__V1__ListParticipantsResponse resp =
        CONTROLPLANE__PROTO__V1__LIST_PARTICIPANTS_RESPONSE__INIT;
    resp.participant_id = v;
    resp.n_participant_id = n;
    ctl_nb_reply(c, call, &resp.base);
    slim_store_strings_free(v, n);
}
