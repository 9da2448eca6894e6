/*
 * node-connect: commands sent straight to a node's own control endpoint,
 * which serves the controller's southbound method
 * (/controller.proto.v1.ControllerService/OpenControlChannel). Each command
 * opens one stream, sends one ControlMessage with a fresh UUID as its
 * message_id, reads the node's answers to that id, and ends the stream:
 *
 *   route list        subscription_list_request; the answer comes in
 *                     subscription_list_response chunks, the last done
 *   route add N via D config_command{connections_to_create: [D],
 *                     subscriptions_to_set: [N via D]}; answered by one
 *                     config_command_ack with a status per item
 *   route del N via D config_command{subscriptions_to_delete: [N via D]}
 *   connection list   connection_list_request; connection_list_response
 *                     chunks, the last done
 *
 * D is an endpoint (http://HOST:PORT or https://HOST:PORT: the connection
 * {"endpoint": D}) or a .json file holding a client config with an
 * "endpoint"; the connection's id is that endpoint. An Ack that answers
 * our message with success false (a node that refuses the request) is a
 * failure; anything else on the stream is ignored.
 */
#include "slimctl.h"

#include "controller/v1/controller.pb-c.h"
#include "core/util.h"
#include "control/agent.h"

#include <stdlib.h>
#include <string.h>

typedef Controller__Proto__V1__ControlMessage ControlMessage;
typedef Controller__Proto__V1__Subscription Subscription;
typedef Controller__Proto__V1__Connection Connection;
typedef Controller__Proto__V1__ItemStatus ItemStatus;

/* ---- One exchange ---- */

/* What the stream callbacks share with the command. */
typedef struct exchange {
    const ctl_ctx *ctx;
    char id[37];    /* our message_id */
    int rc;         /* CTL_EXIT_OK, or CTL_EXIT_FAIL once an answer says so */
    ctl_table t;    /* table output */
    json_t *items;  /* JSON output of a list: every chunk's entries */
    size_t entries; /* list entries seen */
} exchange;

/* A new ControlMessage with a fresh message_id (kept in x->id). */
static int msg_init(exchange *x, ControlMessage *m) {
    controller__proto__v1__control_message__init(m);
    if (slim_uuid_v4(x->id) != SLIM_OK) {
        ctl_err("cannot make a message id: no randomness");
        return CTL_EXIT_FAIL;
    }
    m->message_id = x->id;
    return CTL_EXIT_OK;
}

/* A refusal (Ack, success false) of our message: printed; done. */
static bool refused(exchange *x, const ControlMessage *m) {
    if (m->payload_case != CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK ||
        strcmp(m->ack->original_message_id, x->id) != 0)
        return false;
    if (m->ack->success) /* not an answer to a list or a command: ignore */
        return false;
    ctl_str why = {0};
    for (size_t i = 0; i < m->ack->n_messages; i++)
        ctl_str_addf(&why, "%s%s", i > 0 ? "; " : "", m->ack->messages[i]);
    ctl_err("%s: the node refused the request%s%s", x->ctx->path, why.len > 0 ? ": " : "",
            ctl_str_get(&why));
    ctl_str_cleanup(&why);
    x->rc = CTL_EXIT_FAIL;
    return true;
}

static int run(exchange *x, const ControlMessage *m, ctl_stream_fn fn) {
    int rc = ctl_stream(x->ctx->opt, SLIM_AGENT_METHOD, &m->base,
                        &controller__proto__v1__control_message__descriptor, fn, x);
    return rc != CTL_EXIT_OK ? rc : x->rc;
}

/* ---- route list, connection list ---- */

static int on_list(void *ud, const ProtobufCMessage *msg) {
    exchange *x = ud;
    const ControlMessage *m = (const ControlMessage *)msg;
    if (refused(x, m))
        return CTL_STREAM_DONE;
    ProtobufCMessage *const *entries;
    size_t n;
    bool done;
    if (m->payload_case ==
            CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_RESPONSE &&
        strcmp(m->subscription_list_response->original_message_id, x->id) == 0) {
        entries = (ProtobufCMessage *const *)m->subscription_list_response->entries;
        n = m->subscription_list_response->n_entries;
        done = m->subscription_list_response->done;
        for (size_t i = 0; x->items == NULL && i < n; i++)
            ctl_subscription_row(&x->t, entries[i]);
    } else if (m->payload_case ==
                   CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONNECTION_LIST_RESPONSE &&
               strcmp(m->connection_list_response->original_message_id, x->id) == 0) {
        entries = (ProtobufCMessage *const *)m->connection_list_response->entries;
        n = m->connection_list_response->n_entries;
        done = m->connection_list_response->done;
        for (size_t i = 0; x->items == NULL && i < n; i++)
            ctl_connection_row(&x->t, entries[i]);
    } else {
        return CTL_STREAM_MORE; /* not an answer to our request */
    }
    for (size_t i = 0; x->items != NULL && i < n; i++)
        json_array_append_new(x->items, ctl_pb_to_json(entries[i]));
    x->entries += n;
    return done ? CTL_STREAM_DONE : CTL_STREAM_MORE;
}

static int list(ctl_ctx *ctx, bool subscriptions) {
    exchange x = {.ctx = ctx};
    ControlMessage m;
    int rc = msg_init(&x, &m);
    if (rc != CTL_EXIT_OK)
        return rc;
    Controller__Proto__V1__SubscriptionListRequest sreq =
        CONTROLLER__PROTO__V1__SUBSCRIPTION_LIST_REQUEST__INIT;
    Controller__Proto__V1__ConnectionListRequest creq =
        CONTROLLER__PROTO__V1__CONNECTION_LIST_REQUEST__INIT;
    if (subscriptions) {
        m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_REQUEST;
        m.subscription_list_request = &sreq;
        ctl_subscription_table_init(&x.t);
    } else {
        m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONNECTION_LIST_REQUEST;
        m.connection_list_request = &creq;
        ctl_connection_table_init(&x.t);
    }
    if (ctx->opt->output == CTL_OUTPUT_JSON)
        x.items = json_array();
    rc = run(&x, &m, on_list);
    if (rc == CTL_EXIT_OK && x.items != NULL) {
        json_t *doc = json_object();
        json_object_set(doc, "entries", x.items);
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(doc);
    } else if (rc == CTL_EXIT_OK) {
        ctl_table_print(&x.t, stdout);
    }
    json_decref(x.items);
    ctl_table_cleanup(&x.t);
    return rc;
}

static int route_list(ctl_ctx *ctx) {
    return list(ctx, true);
}

static int connection_list(ctl_ctx *ctx) {
    return list(ctx, false);
}

/* ---- route add, route del ---- */

static void print_items(exchange *x, const char *kind, size_t n, ItemStatus *const *items,
                        size_t *failed) {
    for (size_t i = 0; i < n; i++) {
        const ItemStatus *it = items[i];
        if (x->ctx->opt->output != CTL_OUTPUT_JSON) {
            if (it->success)
                printf("%s %s: ok\n", kind, it->id);
            else
                printf("%s %s: failed: %s\n", kind, it->id, it->error_msg);
        }
        if (!it->success)
            (*failed)++;
    }
}

static int on_ack(void *ud, const ProtobufCMessage *msg) {
    exchange *x = ud;
    const ControlMessage *m = (const ControlMessage *)msg;
    if (refused(x, m))
        return CTL_STREAM_DONE;
    if (m->payload_case != CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND_ACK ||
        strcmp(m->config_command_ack->original_message_id, x->id) != 0)
        return CTL_STREAM_MORE;
    const Controller__Proto__V1__ConfigurationCommandAck *ack = m->config_command_ack;
    if (x->ctx->opt->output == CTL_OUTPUT_JSON)
        ctl_print_json(&ack->base);
    size_t failed = 0;
    print_items(x, "connection", ack->n_connections_status, ack->connections_status, &failed);
    print_items(x, "subscription", ack->n_subscriptions_status, ack->subscriptions_status, &failed);
    print_items(x, "connection deletion", ack->n_deletions_status, ack->deletions_status, &failed);
    if (failed > 0) {
        size_t all =
            ack->n_connections_status + ack->n_subscriptions_status + ack->n_deletions_status;
        ctl_err("%s: %zu of %zu items failed", x->ctx->path, failed, all);
        x->rc = CTL_EXIT_FAIL;
    }
    return CTL_STREAM_DONE;
}

/* "NAME via DEST": the subscription's name, and the connection DEST names:
 * *endpoint (its id) and *config (its client config as JSON). Owned. */
static int parse_route(ctl_ctx *ctx, ctl_name *name, char **endpoint, char **config) {
    *endpoint = *config = NULL;
    if (strcmp(ctx->argv[1], "via") != 0) {
        ctl_err("%s: expected \"via\" after the name, got \"%s\" (see slimctl %s --help)",
                ctx->path, ctx->argv[1], ctx->path);
        return CTL_EXIT_USAGE;
    }
    int rc = ctl_name_parse(ctx->path, ctx->argv[0], name);
    if (rc != CTL_EXIT_OK)
        return rc;
    const char *dest = ctx->argv[2];
    size_t scheme = strncmp(dest, "http://", 7) == 0    ? 7
                    : strncmp(dest, "https://", 8) == 0 ? 8
                                                        : 0;
    if (scheme == 0)
        return ctl_read_conn_file(ctx->path, dest, config, endpoint);
    if (dest[scheme] == '\0' || strchr(dest + scheme, ' ') != NULL) {
        ctl_err("%s: invalid endpoint \"%s\": want http://HOST:PORT or https://HOST:PORT",
                ctx->path, dest);
        return CTL_EXIT_USAGE;
    }
    json_t *j = json_pack("{s:s}", "endpoint", dest);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL) {
        ctl_err("out of memory");
        return CTL_EXIT_FAIL;
    }
    *config = ctl_xstrdup(text);
    free(text);
    *endpoint = ctl_xstrdup(dest);
    return CTL_EXIT_OK;
}

static int route_change(ctl_ctx *ctx, bool add) {
    exchange x = {.ctx = ctx};
    ctl_name name;
    memset(&name, 0, sizeof name);
    char *endpoint = NULL, *config = NULL;
    int rc = parse_route(ctx, &name, &endpoint, &config);
    ControlMessage m;
    if (rc == CTL_EXIT_OK)
        rc = msg_init(&x, &m);
    if (rc == CTL_EXIT_OK) {
        Controller__Proto__V1__ConfigurationCommand cmd =
            CONTROLLER__PROTO__V1__CONFIGURATION_COMMAND__INIT;
        Subscription sub = CONTROLLER__PROTO__V1__SUBSCRIPTION__INIT;
        Connection conn = CONTROLLER__PROTO__V1__CONNECTION__INIT;
        Subscription *subs[] = {&sub};
        Connection *conns[] = {&conn};
        sub.component_0 = name.component[0];
        sub.component_1 = name.component[1];
        sub.component_2 = name.component[2];
        if (name.id != NULL) {
            sub._id_case = CONTROLLER__PROTO__V1__SUBSCRIPTION___ID_ID;
            sub.id = name.id;
        }
        sub.connection_id = endpoint;
        if (add) {
            conn.connection_id = endpoint;
            conn.config_data = config;
            cmd.n_connections_to_create = 1;
            cmd.connections_to_create = conns;
            cmd.n_subscriptions_to_set = 1;
            cmd.subscriptions_to_set = subs;
        } else {
            cmd.n_subscriptions_to_delete = 1;
            cmd.subscriptions_to_delete = subs;
        }
        m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND;
        m.config_command = &cmd;
        rc = run(&x, &m, on_ack);
    }
    free(endpoint);
    free(config);
    ctl_name_cleanup(&name);
    return rc;
}

static int route_add(ctl_ctx *ctx) {
    return route_change(ctx, true);
}

static int route_del(ctl_ctx *ctx) {
    return route_change(ctx, false);
}

/* ---- Tables ---- */

static const ctl_cmd nc_route_subs[] = {
    {.name = "list",
     .aliases = {"ls"},
     .args = "",
     .summary = "List the node's subscription table",
     .details = "Sends a subscription_list_request and prints every chunk of the answer\n"
                "(the last one says done). Columns: NAME (org/ns/app, with /<uuid> for\n"
                "one instance), LOCAL and REMOTE (the ids of the connections the name\n"
                "is routed to). -o json: {\"entries\": [...]} with every chunk's entries.",
     .max_args = 0,
     .run = route_list},
    {.name = "add",
     .args = "NAME via ENDPOINT|FILE.json",
     .summary = "Have the node connect to an endpoint and route NAME to it",
     .details = "NAME is org/ns/app or org/ns/app/ID, ID a UUID or a decimal integer.\n"
                "The third argument is http://HOST:PORT or https://HOST:PORT (the\n"
                "connection's config is then {\"endpoint\": \"<it>\"}), or an existing file\n"
                "ending in .json that holds a client config with a non-empty \"endpoint\".\n"
                "Sends config_command{connections_to_create: [{connection_id: <endpoint>,\n"
                "config_data: <config>}], subscriptions_to_set: [NAME via <endpoint>]} and\n"
                "prints the node's outcome per item; exit status 1 when any failed.",
     .min_args = 3,
     .max_args = 3,
     .run = route_add},
    {.name = "del",
     .aliases = {"delete", "rm"},
     .args = "NAME via ENDPOINT|FILE.json",
     .summary = "Have the node stop routing NAME to a connection",
     .details = "NAME and the third argument as for route add. Sends\n"
                "config_command{subscriptions_to_delete: [NAME via <endpoint>]} (the\n"
                "connection stays) and prints the node's outcome; exit status 1 when it\n"
                "failed.",
     .min_args = 3,
     .max_args = 3,
     .run = route_del},
    {0},
};

static const ctl_cmd nc_connection_subs[] = {
    {.name = "list",
     .aliases = {"ls"},
     .args = "",
     .summary = "List the node's connections",
     .details = "Sends a connection_list_request and prints every chunk of the answer.\n"
                "Columns: ID, TYPE (LOCAL or REMOTE), CONNECTION ID (the endpoint a\n"
                "controller or slimctl configured it with), PEER and CONFIG (the client\n"
                "config as JSON). -o json: {\"entries\": [...]}.",
     .max_args = 0,
     .run = connection_list},
    {0},
};

const ctl_cmd ctl_nc_subs[] = {
    {.name = "route",
     .aliases = {"routes"},
     .summary = "The node's routes: its subscription table",
     .subs = nc_route_subs},
    {.name = "connection",
     .aliases = {"conn", "connections"},
     .summary = "The node's connections",
     .subs = nc_connection_subs},
    {0},
};
