/*
 * The northbound API, controlplane.proto.v1.ControlPlaneService: one
 * handler per call. A request is checked completely before anything is
 * stored, so a refused request changes nothing; calls that change a
 * connected node answer once the node acknowledged the change (and undo
 * what the node refused).
 */
#include "control/ctl_int.h"
#include "config/cfg.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NB_PREFIX "/controlplane.proto.v1.ControlPlaneService/"

typedef Controller__Proto__V1__ConfigurationCommandAck cmd_ack;

/* ---- checks ---- */

static bool need_node(slim_ctl *c, slim_grpc_call *call, const char *id) {
    if (id == NULL || id[0] == '\0') {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT, "node_id is required");
        return false;
    }
    slim_store_node n;
    if (slim_store_node_get(c->store, id, &n) != SLIM_OK) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_NOT_FOUND, "node %s not found", id);
        return false;
    }
    slim_store_node_free(&n);
    return true;
}

/* A connection's config_data: a JSON object that the node's own parser
 * accepts as a ClientConfig. *endpoint gets its endpoint (allocated). */
static bool check_config(slim_ctl *c, slim_grpc_call *call, const char *json, char **endpoint) {
    json_error_t jerr;
    json_t *j = json_loads(json != NULL ? json : "", 0, &jerr);
    const char *ep = json_is_object(j) ? json_string_value(json_object_get(j, "endpoint")) : NULL;
    if (ep == NULL || ep[0] == '\0') {
        ctl_nb_fail(
            c, call, SLIM_E_GRPC_INVALID_ARGUMENT,
            "connection.config_data must be a JSON object with a non-empty \"endpoint\"%s%s",
            j == NULL ? ": " : "", j == NULL ? jerr.text : "");
        json_decref(j);
        return false;
    }
    *endpoint = slim_strdup(ep);
    json_decref(j);
    slim_cfg_doc *doc = NULL;
    slim_cfg_error err = {{0}};
    slim_client_config cc;
    slim_status st = slim_cfg_load_string(json, strlen(json), "config_data", &doc, &err);
    if (st == SLIM_OK) {
        st = slim_client_config_parse(doc, doc->root, "config_data", &cc, NULL, NULL, &err);
        if (st == SLIM_OK)
            slim_client_config_cleanup(&cc);
    }
    slim_cfg_free(doc);
    if (st != SLIM_OK || *endpoint == NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT, "invalid connection.config_data: %s",
                    err.msg[0] ? err.msg : slim_status_str(st));
        slim_free(*endpoint);
        *endpoint = NULL;
        return false;
    }
    return true;
}

static bool name_of(slim_ctl *c, slim_grpc_call *call, const Controller__Proto__V1__Subscription *s,
                    slim_store_name *out) {
    const char *why;
    if (ctl_name_from_sub(s, out, &why) != SLIM_OK) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT, "%s", why);
        return false;
    }
    return true;
}

/* The outcome of a command's single item; NULL when it succeeded. */
static const char *item_error(const ctl_msg *answer, const char *why, bool conn) {
    if (answer == NULL)
        return why;
    const cmd_ack *a = answer->config_command_ack;
    size_t n = conn ? a->n_connections_status : a->n_subscriptions_status;
    Controller__Proto__V1__ItemStatus **v = conn ? a->connections_status : a->subscriptions_status;
    for (size_t i = 0; i < n; i++)
        if (!v[i]->success)
            return v[i]->error_msg[0] ? v[i]->error_msg : "refused without a reason";
    return NULL;
}

/* A node that did not answer: the change stays stored and is sent again
 * when the node registers. */
static void not_confirmed(slim_ctl *c, pending *p, const char *why) {
    slim_grpc_call *call = p->nb;
    p->nb = NULL;
    if (call != NULL)
        ctl_nb_fail(c, call,
                    strstr(why, "did not answer") ? SLIM_E_GRPC_DEADLINE_EXCEEDED
                                                  : SLIM_E_GRPC_UNAVAILABLE,
                    "stored, but not confirmed by the node (it gets it when it registers "
                    "again): %s",
                    why);
}

/* The start of the ack handler of a command made for a northbound call:
 * records the outcome; when the node did not answer, answers the call (not
 * confirmed) and returns false; else takes the waiting call out of p into
 * *call (NULL when it went away) and returns true. */
static bool take_answer(slim_ctl *c, pending *p, const ctl_msg *answer, const char *why,
                        slim_grpc_call **call) {
    ctl_config_acked(c, p, answer, why);
    if (answer == NULL) {
        not_confirmed(c, p, why);
        return false;
    }
    *call = p->nb;
    p->nb = NULL;
    return true;
}

/* ---- CreateConnection ---- */

typedef struct conn_ctx {
    slim_store_conn now;
    bool had_prev;
    slim_store_conn prev;
} conn_ctx;

static void conn_ctx_free(void *p) {
    conn_ctx *x = p;
    slim_free(x->now.node_id);
    slim_free(x->now.connection_id);
    slim_free(x->now.config_data);
    if (x->had_prev)
        slim_store_conn_free(&x->prev);
    slim_free(x);
}

static void reply_conn(slim_ctl *c, slim_grpc_call *call, const char *id) {
    Controlplane__Proto__V1__CreateConnectionResponse r =
        CONTROLPLANE__PROTO__V1__CREATE_CONNECTION_RESPONSE__INIT;
    r.success = true;
    r.connection_id = (char *)id;
    ctl_nb_reply(c, call, &r.base);
}

static void conn_acked(slim_ctl *c, pending *p, const ctl_msg *answer, const char *why) {
    conn_ctx *x = p->ctx;
    slim_grpc_call *call;
    if (!take_answer(c, p, answer, why, &call))
        return;
    const char *err = item_error(answer, why, true);
    if (err != NULL) {
        if (x->had_prev)
            (void)slim_store_conn_put(c->store, &x->prev);
        else
            (void)slim_store_conn_delete(c->store, x->now.node_id, x->now.connection_id);
        if (call != NULL)
            ctl_nb_fail(c, call, SLIM_E_GRPC_FAILED_PRECONDITION,
                        "node %s refused connection %s: %s", x->now.node_id, x->now.connection_id,
                        err);
        return;
    }
    if (call != NULL)
        reply_conn(c, call, x->now.connection_id);
}

static void create_connection(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m) {
    const Controlplane__Proto__V1__CreateConnectionRequest *r = (const void *)m;
    if (!need_node(c, call, r->node_id))
        return;
    if (r->connection == NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT, "connection is required");
        return;
    }
    char *endpoint = NULL;
    if (!check_config(c, call, r->connection->config_data, &endpoint))
        return;
    conn_ctx *x = slim_calloc(1, sizeof *x);
    const char *id = r->connection->connection_id[0] ? r->connection->connection_id : endpoint;
    if (x == NULL || (x->now.node_id = slim_strdup(r->node_id)) == NULL ||
        (x->now.connection_id = slim_strdup(id)) == NULL ||
        (x->now.config_data = slim_strdup(r->connection->config_data)) == NULL) {
        if (x != NULL)
            conn_ctx_free(x);
        slim_free(endpoint);
        ctl_nb_fail(c, call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    slim_free(endpoint);
    x->had_prev = slim_store_conn_get(c->store, r->node_id, id, &x->prev) == SLIM_OK;
    if (slim_store_conn_put(c->store, &x->now) != SLIM_OK) {
        conn_ctx_free(x);
        ctl_nb_fail(c, call, SLIM_E_GRPC_INTERNAL, "cannot store the connection");
        return;
    }
    SLIM_LOGI(CTL_MOD, "connection %s created on node %s", id, r->node_id);
    ctl_cmd cmd;
    ctl_cmd_init(&cmd);
    ctl_cmd_conn(&cmd, x->now.connection_id, x->now.config_data);
    pending *p = ctl_send_cmd(c, r->node_id, &cmd, conn_acked);
    ctl_cmd_cleanup(&cmd);
    if (p == NULL) {
        reply_conn(c, call, x->now.connection_id);
        conn_ctx_free(x);
        return;
    }
    p->ctx = x;
    p->ctx_free = conn_ctx_free;
    ctl_pending_attach(p, call);
}

/* ---- subscriptions ---- */

/* True when conn is a connection node_id has (made through the API or by
 * one of its routes). */
static bool node_has_conn(slim_ctl *c, const char *node_id, const char *conn) {
    ctl_cmd cmd;
    ctl_cmd_init(&cmd);
    ctl_state_build(c, node_id, &cmd);
    bool found = false;
    for (size_t i = 0; i < cmd.n_conns && !found; i++)
        found = strcmp(cmd.conns[i]->connection_id, conn) == 0;
    ctl_cmd_cleanup(&cmd);
    return found;
}

static void reply_sub(slim_ctl *c, slim_grpc_call *call, const char *id) {
    Controlplane__Proto__V1__CreateSubscriptionResponse r =
        CONTROLPLANE__PROTO__V1__CREATE_SUBSCRIPTION_RESPONSE__INIT;
    r.success = true;
    r.subscription_id = (char *)id;
    ctl_nb_reply(c, call, &r.base);
}

static void sub_acked(slim_ctl *c, pending *p, const ctl_msg *answer, const char *why) {
    char *id = p->ctx;
    slim_grpc_call *call;
    if (!take_answer(c, p, answer, why, &call))
        return;
    const char *err = item_error(answer, why, false);
    if (err != NULL) {
        (void)slim_store_sub_delete(c->store, id);
        if (call != NULL)
            ctl_nb_fail(c, call, SLIM_E_GRPC_FAILED_PRECONDITION,
                        "the node refused the subscription: %s", err);
        return;
    }
    if (call != NULL)
        reply_sub(c, call, id);
}

static void create_subscription(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m) {
    const Controlplane__Proto__V1__CreateSubscriptionRequest *r = (const void *)m;
    if (!need_node(c, call, r->node_id))
        return;
    slim_store_name name;
    if (!name_of(c, call, r->subscription, &name))
        return;
    const char *conn = r->subscription->connection_id;
    if (conn[0] == '\0') {
        slim_store_name_cleanup(&name);
        ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT,
                    "subscription.connection_id is required");
        return;
    }
    if (!node_has_conn(c, r->node_id, conn)) {
        slim_store_name_cleanup(&name);
        ctl_nb_fail(c, call, SLIM_E_GRPC_NOT_FOUND, "connection %s not found on node %s", conn,
                    r->node_id);
        return;
    }
    char id[37];
    slim_store_sub sub = {id, r->node_id, name, (char *)conn};
    slim_status st = slim_uuid_v4(id);
    if (st == SLIM_OK)
        st = slim_store_sub_add(c->store, &sub);
    if (st != SLIM_OK) {
        slim_store_name_cleanup(&name);
        ctl_nb_fail(c, call, SLIM_E_GRPC_INTERNAL, "cannot store the subscription: %s",
                    slim_status_str(st));
        return;
    }
    char text[1200];
    ctl_name_text(&name, text, sizeof text);
    SLIM_LOGI(CTL_MOD, "subscription %s (%s via %s) created on node %s", id, text, conn,
              r->node_id);
    ctl_cmd cmd;
    ctl_cmd_init(&cmd);
    ctl_cmd_sub(&cmd, true, &name, conn, NULL);
    slim_store_name_cleanup(&name);
    pending *p = ctl_send_cmd(c, r->node_id, &cmd, sub_acked);
    ctl_cmd_cleanup(&cmd);
    char *copy = p != NULL ? slim_strdup(id) : NULL;
    if (p == NULL || copy == NULL) {
        reply_sub(c, call, id);
        return;
    }
    p->ctx = copy;
    p->ctx_free = slim_free;
    ctl_pending_attach(p, call);
}

/* delete_acked answers a DeleteRoute when the pending's ctx is this. */
static char route_marker;

static void delete_acked(slim_ctl *c, pending *p, const ctl_msg *answer, const char *why) {
    ctl_config_acked(c, p, answer, why);
    slim_grpc_call *call = p->nb;
    p->nb = NULL;
    if (call == NULL)
        return;
    if (answer == NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_UNAVAILABLE,
                    "deleted from the controller's state; the node did not confirm (%s) and "
                    "gets the new state when it registers again",
                    why);
        return;
    }
    /* Removing is idempotent on the node; report what it said anyway. */
    const char *err = item_error(answer, why, false);
    if (err != NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INTERNAL, "the node failed to remove it: %s", err);
        return;
    }
    if (p->ctx == &route_marker) {
        Controlplane__Proto__V1__DeleteRouteResponse r =
            CONTROLPLANE__PROTO__V1__DELETE_ROUTE_RESPONSE__INIT;
        r.success = true;
        ctl_nb_reply(c, call, &r.base);
    } else {
        Controlplane__Proto__V1__DeleteSubscriptionResponse r =
            CONTROLPLANE__PROTO__V1__DELETE_SUBSCRIPTION_RESPONSE__INIT;
        r.success = true;
        ctl_nb_reply(c, call, &r.base);
    }
}

static void delete_subscription(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m) {
    const Controlplane__Proto__V1__DeleteSubscriptionRequest *r = (const void *)m;
    if (r->subscription_id[0] == '\0') {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT, "subscription_id is required");
        return;
    }
    slim_store_sub sub;
    if (slim_store_sub_get(c->store, r->subscription_id, &sub) != SLIM_OK) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_NOT_FOUND, "subscription %s not found",
                    r->subscription_id);
        return;
    }
    if (r->node_id[0] != '\0' && strcmp(r->node_id, sub.node_id) != 0) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_NOT_FOUND, "subscription %s not found on node %s",
                    r->subscription_id, r->node_id);
        slim_store_sub_free(&sub);
        return;
    }
    if (slim_store_sub_delete(c->store, sub.id) != SLIM_OK) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INTERNAL, "cannot delete the subscription");
        slim_store_sub_free(&sub);
        return;
    }
    SLIM_LOGI(CTL_MOD, "subscription %s deleted from node %s", sub.id, sub.node_id);
    pending *p = NULL;
    if (!ctl_state_has_sub(c, sub.node_id, &sub.name, sub.connection_id)) {
        ctl_cmd cmd;
        ctl_cmd_init(&cmd);
        ctl_cmd_sub(&cmd, false, &sub.name, sub.connection_id, NULL);
        p = ctl_send_cmd(c, sub.node_id, &cmd, delete_acked);
        ctl_cmd_cleanup(&cmd);
    }
    slim_store_sub_free(&sub);
    if (p != NULL) {
        ctl_pending_attach(p, call);
        return;
    }
    Controlplane__Proto__V1__DeleteSubscriptionResponse resp =
        CONTROLPLANE__PROTO__V1__DELETE_SUBSCRIPTION_RESPONSE__INIT;
    resp.success = true;
    ctl_nb_reply(c, call, &resp.base);
}

/* ---- live tables of a node ---- */

static void list_answered(slim_ctl *c, pending *p, const ctl_msg *answer, const char *why) {
    slim_grpc_call *call = p->nb;
    p->nb = NULL;
    if (call == NULL)
        return;
    if (answer == NULL && p->n_chunks == 0) {
        ctl_nb_fail(c, call,
                    strstr(why, "did not answer") ? SLIM_E_GRPC_DEADLINE_EXCEEDED
                                                  : SLIM_E_GRPC_UNAVAILABLE,
                    "%s", why);
        return;
    }
    const ctl_msg *const *chunks = answer != NULL ? &answer : (const ctl_msg *const *)p->chunks;
    size_t n_chunks = answer != NULL ? 1 : p->n_chunks;
    bool subs =
        p->expect == CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_RESPONSE;
    size_t total = 0;
    for (size_t i = 0; i < n_chunks; i++)
        total += subs ? chunks[i]->subscription_list_response->n_entries
                      : chunks[i]->connection_list_response->n_entries;
    void **all = slim_calloc(total + 1, sizeof *all);
    if (all == NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_chunks; i++) {
        size_t n = subs ? chunks[i]->subscription_list_response->n_entries
                        : chunks[i]->connection_list_response->n_entries;
        for (size_t j = 0; j < n; j++)
            all[k++] = subs ? (void *)chunks[i]->subscription_list_response->entries[j]
                            : (void *)chunks[i]->connection_list_response->entries[j];
    }
    if (subs) {
        Controller__Proto__V1__SubscriptionListResponse r =
            CONTROLLER__PROTO__V1__SUBSCRIPTION_LIST_RESPONSE__INIT;
        r.entries = (Controller__Proto__V1__SubscriptionEntry **)all;
        r.n_entries = total;
        r.done = true;
        ctl_nb_reply(c, call, &r.base);
    } else {
        Controller__Proto__V1__ConnectionListResponse r =
            CONTROLLER__PROTO__V1__CONNECTION_LIST_RESPONSE__INIT;
        r.entries = (Controller__Proto__V1__ConnectionEntry **)all;
        r.n_entries = total;
        r.done = true;
        ctl_nb_reply(c, call, &r.base);
    }
    slim_free(all);
}

static void list_live(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m, bool subs) {
    const Controlplane__Proto__V1__Node *r = (const void *)m;
    if (!need_node(c, call, r->id))
        return;
    sb_sess *s = ctl_session_of(c, r->id);
    if (s == NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_UNAVAILABLE, "node %s is not connected", r->id);
        return;
    }
    ctl_msg msg = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    Controller__Proto__V1__SubscriptionListRequest sr =
        CONTROLLER__PROTO__V1__SUBSCRIPTION_LIST_REQUEST__INIT;
    Controller__Proto__V1__ConnectionListRequest cr =
        CONTROLLER__PROTO__V1__CONNECTION_LIST_REQUEST__INIT;
    int expect;
    if (subs) {
        msg.payload_case =
            CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_REQUEST;
        msg.subscription_list_request = &sr;
        expect = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_RESPONSE;
    } else {
        msg.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONNECTION_LIST_REQUEST;
        msg.connection_list_request = &cr;
        expect = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONNECTION_LIST_RESPONSE;
    }
    pending *p = NULL;
    if (ctl_request(s, &msg, expect, list_answered, &p) != SLIM_OK) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_UNAVAILABLE, "cannot send to node %s", r->id);
        return;
    }
    ctl_pending_attach(p, call);
}

static void list_subscriptions(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m) {
    list_live(c, call, m, true);
}

static void list_connections(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m) {
    list_live(c, call, m, false);
}

/* ---- nodes ---- */

static void list_nodes(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m) {
    (void)m;
    slim_store_node *nodes = NULL;
    size_t n = 0;
    if (slim_store_node_list(c->store, &nodes, &n) != SLIM_OK) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INTERNAL, "cannot read the nodes");
        return;
    }
    size_t n_details = 0;
    for (size_t i = 0; i < n; i++)
        n_details += nodes[i].n_details;
    Controlplane__Proto__V1__NodeEntry *entries = slim_calloc(n + 1, sizeof *entries);
    Controlplane__Proto__V1__NodeEntry **ep = slim_calloc(n + 1, sizeof *ep);
    Controller__Proto__V1__ConnectionDetails *det = slim_calloc(n_details + 1, sizeof *det);
    Controller__Proto__V1__ConnectionDetails **dp = slim_calloc(n_details + 1, sizeof *dp);
    char(*seen)[40] = slim_calloc(n + 1, sizeof *seen);
    if (entries == NULL || ep == NULL || det == NULL || dp == NULL || seen == NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        Controlplane__Proto__V1__NodeEntry *e = &entries[i];
        controlplane__proto__v1__node_entry__init(e);
        e->id = nodes[i].id;
        e->status = ctl_session_of(c, nodes[i].id) != NULL
                        ? CONTROLPLANE__PROTO__V1__NODE_STATUS__CONNECTED
                        : CONTROLPLANE__PROTO__V1__NODE_STATUS__NOT_CONNECTED;
        time_t t = (time_t)(nodes[i].last_seen_ms / 1000);
        struct tm tm;
        if (gmtime_r(&t, &tm) != NULL)
            strftime(seen[i], sizeof seen[i], "%Y-%m-%dT%H:%M:%SZ", &tm);
        e->last_seen = seen[i];
        e->connections = &dp[k];
        for (size_t j = 0; j < nodes[i].n_details; j++, k++) {
            const slim_store_details *d = &nodes[i].details[j];
            controller__proto__v1__connection_details__init(&det[k]);
            det[k].endpoint = d->endpoint;
            det[k].mtls_required = d->mtls_required;
            if (d->local_endpoint != NULL) {
                det[k]._local_endpoint_case =
                    CONTROLLER__PROTO__V1__CONNECTION_DETAILS___LOCAL_ENDPOINT_LOCAL_ENDPOINT;
                det[k].local_endpoint = d->local_endpoint;
            }
            if (d->external_endpoint != NULL) {
                det[k]._external_endpoint_case =
                    CONTROLLER__PROTO__V1__CONNECTION_DETAILS___EXTERNAL_ENDPOINT_EXTERNAL_ENDPOINT;
                det[k].external_endpoint = d->external_endpoint;
            }
            if (d->group_name != NULL) {
                det[k]._group_name_case =
                    CONTROLLER__PROTO__V1__CONNECTION_DETAILS___GROUP_NAME_GROUP_NAME;
                det[k].group_name = d->group_name;
            }
            dp[k] = &det[k];
            e->n_connections++;
        }
        ep[i] = e;
    }
    Controlplane__Proto__V1__NodeListResponse r = CONTROLPLANE__PROTO__V1__NODE_LIST_RESPONSE__INIT;
    r.entries = ep;
    r.n_entries = n;
    ctl_nb_reply(c, call, &r.base);
out:
    slim_free(entries);
    slim_free(ep);
    slim_free(det);
    slim_free(dp);
    slim_free(seen);
    slim_store_node_list_free(nodes, n);
}

static void deregister_node(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m) {
    const Controlplane__Proto__V1__Node *r = (const void *)m;
    if (!need_node(c, call, r->id))
        return;
    /* Routes through it go from their holders first. */
    ctl_routes_to_node_removed(c, r->id);
    slim_store_route *v = NULL;
    size_t n = 0;
    if (slim_store_route_list_to(c->store, r->id, &v, &n) == SLIM_OK) {
        for (size_t i = 0; i < n; i++)
            if (slim_store_route_delete(c->store, v[i].id) == SLIM_OK)
                ctl_route_push(c, &v[i], true);
        slim_store_route_list_free(v, n);
    }
    if (slim_store_node_delete(c->store, r->id) != SLIM_OK) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INTERNAL, "cannot delete node %s", r->id);
        return;
    }
    sb_sess *s = ctl_session_of(c, r->id);
    if (s != NULL) {
        s->active = false;
        ctl_session_end(s, SLIM_E_GRPC_ABORTED, "node deregistered by an operator");
    }
    SLIM_LOGI(CTL_MOD, "node %s deregistered", r->id);
    Controlplane__Proto__V1__DeregisterNodeResponse resp =
        CONTROLPLANE__PROTO__V1__DEREGISTER_NODE_RESPONSE__INIT;
    resp.success = true;
    ctl_nb_reply(c, call, &resp.base);
}

/* ---- routes ---- */

static void reply_route(slim_ctl *c, slim_grpc_call *call, const char *id) {
    Controlplane__Proto__V1__AddRouteResponse r = CONTROLPLANE__PROTO__V1__ADD_ROUTE_RESPONSE__INIT;
    r.success = true;
    r.route_id = (char *)id;
    ctl_nb_reply(c, call, &r.base);
}

static void route_acked(slim_ctl *c, pending *p, const ctl_msg *answer, const char *why) {
    char *id = p->ctx;
    slim_grpc_call *call;
    if (!take_answer(c, p, answer, why, &call))
        return;
    const char *err = item_error(answer, why, true);
    if (err == NULL)
        err = item_error(answer, why, false);
    if (err != NULL) {
        (void)slim_store_route_delete(c->store, id);
        if (call != NULL)
            ctl_nb_fail(c, call, SLIM_E_GRPC_FAILED_PRECONDITION, "the node refused the route: %s",
                        err);
        return;
    }
    if (call != NULL)
        reply_route(c, call, id);
}

static void add_route(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m) {
    const Controlplane__Proto__V1__AddRouteRequest *r = (const void *)m;
    if (!need_node(c, call, r->node_id))
        return;
    slim_store_name name;
    if (!name_of(c, call, r->subscription, &name))
        return;
    char id[37];
    slim_store_route route = {.id = id, .node_id = r->node_id, .name = name, .status = "pending"};
    char *endpoint = NULL;
    if (r->dest_node_id[0] != '\0') {
        if (strcmp(r->dest_node_id, r->node_id) == 0) {
            ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT,
                        "a route cannot go from node %s to itself", r->node_id);
            goto out;
        }
        slim_store_node dest;
        if (slim_store_node_get(c->store, r->dest_node_id, &dest) != SLIM_OK) {
            ctl_nb_fail(c, call, SLIM_E_GRPC_NOT_FOUND, "destination node %s not found",
                        r->dest_node_id);
            goto out;
        }
        slim_store_node_free(&dest);
        route.dest_node_id = r->dest_node_id;
    } else {
        if (r->connection == NULL) {
            ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT,
                        "a route needs dest_node_id or a connection");
            goto out;
        }
        if (!check_config(c, call, r->connection->config_data, &endpoint))
            goto out;
        route.connection_id =
            r->connection->connection_id[0] ? r->connection->connection_id : endpoint;
        route.config_data = r->connection->config_data;
        if (r->subscription->connection_id[0] != '\0' &&
            strcmp(r->subscription->connection_id, route.connection_id) != 0) {
            ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT,
                        "subscription.connection_id (%s) is not the connection's id (%s)",
                        r->subscription->connection_id, route.connection_id);
            goto out;
        }
    }
    char *existing = NULL;
    slim_status st = slim_uuid_v4(id);
    if (st == SLIM_OK)
        st = slim_store_route_add(c->store, &route, &existing);
    if (st == SLIM_E_EXISTS && existing != NULL) {
        reply_route(c, call, existing);
        slim_free(existing);
        goto out;
    }
    if (st != SLIM_OK) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INTERNAL, "cannot store the route: %s",
                    slim_status_str(st));
        goto out;
    }
    char text[1200];
    ctl_name_text(&name, text, sizeof text);
    SLIM_LOGI(CTL_MOD, "route %s: node %s reaches %s via %s", id, r->node_id, text,
              route.dest_node_id ? route.dest_node_id : route.connection_id);
    ctl_cmd cmd;
    ctl_cmd_init(&cmd);
    ctl_cmd_route(c, &cmd, &route, false);
    pending *p = ctl_send_cmd(c, r->node_id, &cmd, route_acked);
    ctl_cmd_cleanup(&cmd);
    char *copy = p != NULL ? slim_strdup(id) : NULL;
    if (p == NULL || copy == NULL) {
        reply_route(c, call, id);
        goto out;
    }
    p->ctx = copy;
    p->ctx_free = slim_free;
    ctl_pending_attach(p, call);
out:
    slim_free(endpoint);
    slim_store_name_cleanup(&name);
}

static void delete_route(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m) {
    const Controlplane__Proto__V1__DeleteRouteRequest *r = (const void *)m;
    if (!need_node(c, call, r->node_id))
        return;
    slim_store_name name;
    if (!name_of(c, call, r->subscription, &name))
        return;
    const char *dest = r->dest_node_id[0] ? r->dest_node_id : NULL;
    const char *conn = dest == NULL ? r->subscription->connection_id : NULL;
    slim_store_route route;
    if (dest == NULL && conn[0] == '\0') {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT,
                    "say which route: dest_node_id, or the endpoint in "
                    "subscription.connection_id");
    } else if (slim_store_route_find(c->store, r->node_id, &name, dest, conn, &route) != SLIM_OK) {
        char text[1200];
        ctl_name_text(&name, text, sizeof text);
        ctl_nb_fail(c, call, SLIM_E_GRPC_NOT_FOUND, "no route on node %s to %s via %s", r->node_id,
                    text, dest ? dest : conn);
    } else {
        pending *p = NULL;
        if (slim_store_route_delete(c->store, route.id) != SLIM_OK) {
            ctl_nb_fail(c, call, SLIM_E_GRPC_INTERNAL, "cannot delete the route");
        } else {
            SLIM_LOGI(CTL_MOD, "route %s deleted", route.id);
            ctl_cmd cmd;
            ctl_cmd_init(&cmd);
            ctl_cmd_route(c, &cmd, &route, true);
            if (cmd.n_del == 1 &&
                !ctl_state_has_sub(c, route.node_id, &route.name, cmd.del[0]->connection_id))
                p = ctl_send_cmd(c, route.node_id, &cmd, delete_acked);
            ctl_cmd_cleanup(&cmd);
            if (p != NULL) {
                p->ctx = &route_marker;
                ctl_pending_attach(p, call);
            } else {
                Controlplane__Proto__V1__DeleteRouteResponse resp =
                    CONTROLPLANE__PROTO__V1__DELETE_ROUTE_RESPONSE__INIT;
                resp.success = true;
                ctl_nb_reply(c, call, &resp.base);
            }
        }
        slim_store_route_free(&route);
    }
    slim_store_name_cleanup(&name);
}

static void list_routes(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m) {
    const Controlplane__Proto__V1__Node *r = (const void *)m;
    if (r->id[0] != '\0' && !need_node(c, call, r->id))
        return;
    slim_store_route *v = NULL;
    size_t n = 0;
    if (slim_store_route_list(c->store, r->id[0] ? r->id : NULL, &v, &n) != SLIM_OK) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INTERNAL, "cannot read the routes");
        return;
    }
    Controlplane__Proto__V1__RouteEntry *e = slim_calloc(n + 1, sizeof *e);
    Controlplane__Proto__V1__RouteEntry **ep = slim_calloc(n + 1, sizeof *ep);
    char(*names)[1200] = slim_calloc(n + 1, sizeof *names);
    char **conns = slim_calloc(n + 1, sizeof *conns);
    if (e == NULL || ep == NULL || names == NULL || conns == NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            controlplane__proto__v1__route_entry__init(&e[i]);
            e[i].route_id = v[i].id;
            e[i].node_id = v[i].node_id;
            ctl_name_text(&v[i].name, names[i], sizeof names[i]);
            e[i].name = names[i];
            if (v[i].dest_node_id != NULL)
                e[i].dest_node_id = v[i].dest_node_id;
            char *config = NULL;
            const char *why;
            if (ctl_route_conn(c, &v[i], &conns[i], &config, &why) == SLIM_OK)
                e[i].connection_id = conns[i];
            slim_free(config);
            e[i].automatic = v[i].automatic;
            e[i].status = v[i].status;
            ep[i] = &e[i];
        }
        Controlplane__Proto__V1__RouteListResponse resp =
            CONTROLPLANE__PROTO__V1__ROUTE_LIST_RESPONSE__INIT;
        resp.entries = ep;
        resp.n_entries = n;
        ctl_nb_reply(c, call, &resp.base);
    }
    for (size_t i = 0; conns != NULL && i < n; i++)
        slim_free(conns[i]);
    slim_free(conns);
    slim_free(names);
    slim_free(ep);
    slim_free(e);
    slim_store_route_list_free(v, n);
}

/* ---- dispatch ---- */

typedef void (*nb_handler)(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m);

typedef struct nb_method {
    const char *name;
    const ProtobufCMessageDescriptor *req;
    nb_handler fn;
} nb_method;

static const nb_method methods[] = {
    {"CreateConnection", &controlplane__proto__v1__create_connection_request__descriptor,
     create_connection},
    {"CreateSubscription", &controlplane__proto__v1__create_subscription_request__descriptor,
     create_subscription},
    {"ListSubscriptions", &controlplane__proto__v1__node__descriptor, list_subscriptions},
    {"ListConnections", &controlplane__proto__v1__node__descriptor, list_connections},
    {"DeleteSubscription", &controlplane__proto__v1__delete_subscription_request__descriptor,
     delete_subscription},
    {"ListNodes", &controlplane__proto__v1__node_list_request__descriptor, list_nodes},
    {"DeregisterNode", &controlplane__proto__v1__node__descriptor, deregister_node},
    {"AddRoute", &controlplane__proto__v1__add_route_request__descriptor, add_route},
    {"DeleteRoute", &controlplane__proto__v1__delete_route_request__descriptor, delete_route},
    {"ListRoutes", &controlplane__proto__v1__node__descriptor, list_routes},
    {"CreateChannel", &controlplane__proto__v1__create_channel_request__descriptor,
     ctl_create_channel},
    {"DeleteChannel", &controlplane__proto__v1__delete_channel_request__descriptor,
     ctl_delete_channel},
    {"AddParticipant", &controlplane__proto__v1__add_participant_request__descriptor,
     ctl_add_participant},
    {"DeleteParticipant", &controlplane__proto__v1__delete_participant_request__descriptor,
     ctl_delete_participant},
    {"ListChannels", &controlplane__proto__v1__list_channels_request__descriptor,
     ctl_list_channels},
    {"ListParticipants", &controlplane__proto__v1__list_participants_request__descriptor,
     ctl_list_participants},
};

typedef struct nb_ud {
    slim_ctl *ctl;
    const nb_method *m;
} nb_ud;

static void on_call(slim_grpc_call *call, slim_bytes request, void *ud) {
    const nb_ud *u = ud;
    slim_ctl *c = u->ctl;
    slim_grpc_call_set_data(call, NULL);
    if (c->shutting_down) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_UNAVAILABLE, "controller shutting down");
        return;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(u->m->req, NULL, request.len, request.ptr);
    if (m == NULL) {
        ctl_nb_fail(c, call, SLIM_E_GRPC_INVALID_ARGUMENT, "undecodable %s request", u->m->name);
        return;
    }
    u->m->fn(c, call, m);
    protobuf_c_message_free_unpacked(m, NULL);
}

slim_status ctl_nb_register(slim_ctl *c, slim_grpc_server *srv) {
    nb_ud *uds = slim_calloc(SLIM_ARRAY_LEN(methods), sizeof *uds);
    if (uds == NULL)
        return SLIM_E_NOMEM;
    slim_free(c->nb_uds);
    c->nb_uds = uds;
    for (size_t i = 0; i < SLIM_ARRAY_LEN(methods); i++) {
        char path[128];
        snprintf(path, sizeof path, "%s%s", NB_PREFIX, methods[i].name);
        uds[i] = (nb_ud){c, &methods[i]};
        slim_grpc_method m = {
            .path = path,
            .kind = SLIM_GRPC_UNARY,
            .on_call = on_call,
            .cbs = ctl_nb_call_cbs,
            .ud = &uds[i],
        };
        slim_status st = slim_grpc_server_add_method(srv, &m);
        if (st != SLIM_OK)
            return st;
    }
    return SLIM_OK;
}
