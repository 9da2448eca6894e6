/*
 * The node, connection and subscription commands: listings of what the
 * controller knows about nodes and what a node's live tables hold.
 */
#include "slimctl.h"

#include "controlplane/v1/controlplane.pb-c.h"

#include <stdlib.h>
#include <string.h>

typedef Controlplane__Proto__V1__Node NodeMsg;
typedef Controlplane__Proto__V1__NodeListRequest NodeListRequest;
typedef Controlplane__Proto__V1__NodeListResponse NodeListResponse;
typedef Controller__Proto__V1__ConnectionListResponse ConnectionListResponse;
typedef Controller__Proto__V1__ConnectionEntry ConnectionEntry;
typedef Controller__Proto__V1__SubscriptionListResponse SubscriptionListResponse;

/* The name of an enum value without `prefix` ("CONNECTION_TYPE_LOCAL" ->
 * "LOCAL"); the number when the value is unknown. */
static const char *enum_text(const ProtobufCEnumDescriptor *d, int v, const char *prefix,
                             char buf[16]) {
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    if (ev == NULL) {
        snprintf(buf, 16, "%d", v);
        return buf;
    }
    size_t n = strlen(prefix);
    return strncmp(ev->name, prefix, n) == 0 ? ev->name + n : ev->name;
}

/* ---- node list ---- */

static int node_list(ctl_ctx *ctx) {
    NodeListRequest req = CONTROLPLANE__PROTO__V1__NODE_LIST_REQUEST__INIT;
    ProtobufCMessage *m;
    int rc = ctl_call(ctx->opt, "ListNodes", &req.base,
                      &controlplane__proto__v1__node_list_response__descriptor, &m);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (ctx->opt->output == CTL_OUTPUT_JSON) {
        ctl_print_json(m);
    } else {
        const NodeListResponse *resp = (const NodeListResponse *)m;
        static const char *const titles[] = {"ID", "STATUS", "ENDPOINTS", "LAST SEEN"};
        ctl_table t;
        ctl_table_init(&t, 4, titles);
        for (size_t i = 0; i < resp->n_entries; i++) {
            const Controlplane__Proto__V1__NodeEntry *e = resp->entries[i];
            ctl_str eps = {0};
            for (size_t k = 0; k < e->n_connections; k++)
                ctl_str_addf(&eps, "%s%s%s", k > 0 ? ", " : "", e->connections[k]->endpoint,
                             e->connections[k]->mtls_required ? " (tls)" : "");
            char num[16];
            const char *cells[] = {e->id,
                                   enum_text(&controlplane__proto__v1__node_status__descriptor,
                                             (int)e->status, "NODE_STATUS_", num),
                                   ctl_str_get(&eps), e->last_seen};
            ctl_table_add(&t, cells);
            ctl_str_cleanup(&eps);
        }
        ctl_table_print(&t, stdout);
        ctl_table_cleanup(&t);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return CTL_EXIT_OK;
}

/* ---- connection list ---- */

/* A connection's config for a table cell: the JSON made compact when it
 * is JSON, else as it came. Owned by the caller. */
static char *compact_config(const char *text) {
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    char *out = NULL;
    if (j != NULL) {
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        if (s != NULL)
            out = ctl_xstrdup(s);
        free(s);
        json_decref(j);
    }
    return out != NULL ? out : ctl_xstrdup(text);
}

void ctl_connection_table_init(ctl_table *t) {
    static const char *const titles[] = {"ID", "TYPE", "CONNECTION ID", "PEER", "CONFIG"};
    ctl_table_init(t, 5, titles);
}

void ctl_connection_row(ctl_table *t, const ProtobufCMessage *entry) {
    const ConnectionEntry *e = (const ConnectionEntry *)entry;
    char id[24], num[16];
    snprintf(id, sizeof id, "%llu", (unsigned long long)e->id);
    char *config = compact_config(e->config_data);
    const char *cells[] = {id,
                           enum_text(&controller__proto__v1__connection_type__descriptor,
                                     (int)e->connection_type, "CONNECTION_TYPE_", num),
                           e->connection_id, e->peer, config};
    ctl_table_add(t, cells);
    free(config);
}

static int connection_list(ctl_ctx *ctx) {
    NodeMsg req = CONTROLPLANE__PROTO__V1__NODE__INIT;
    req.id = (char *)ctx->node_id;
    ProtobufCMessage *m;
    int rc = ctl_call(ctx->opt, "ListConnections", &req.base,
                      &controller__proto__v1__connection_list_response__descriptor, &m);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (ctx->opt->output == CTL_OUTPUT_JSON) {
        ctl_print_json(m);
    } else {
        const ConnectionListResponse *resp = (const ConnectionListResponse *)m;
        ctl_table t;
        ctl_connection_table_init(&t);
        for (size_t i = 0; i < resp->n_entries; i++)
            ctl_connection_row(&t, &resp->entries[i]->base);
        ctl_table_print(&t, stdout);
        ctl_table_cleanup(&t);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return CTL_EXIT_OK;
}

/* ---- subscription list ---- */

static void add_conn_ids(ctl_str *b, size_t n, ConnectionEntry *const *conns) {
    for (size_t i = 0; i < n; i++)
        ctl_str_addf(b, "%s%llu", i > 0 ? "," : "", (unsigned long long)conns[i]->id);
}

void ctl_subscription_table_init(ctl_table *t) {
    static const char *const titles[] = {"NAME", "LOCAL", "REMOTE"};
    ctl_table_init(t, 3, titles);
}

void ctl_subscription_row(ctl_table *t, const ProtobufCMessage *entry) {
    const Controller__Proto__V1__SubscriptionEntry *e =
        (const Controller__Proto__V1__SubscriptionEntry *)entry;
    ctl_str name = {0}, local = {0}, remote = {0};
    ctl_str_addf(&name, "%s/%s/%s", e->component_0, e->component_1, e->component_2);
    if (e->_id_case == CONTROLLER__PROTO__V1__SUBSCRIPTION_ENTRY___ID_ID)
        ctl_str_addf(&name, "/%s", e->id);
    add_conn_ids(&local, e->n_local_connections, e->local_connections);
    add_conn_ids(&remote, e->n_remote_connections, e->remote_connections);
    const char *cells[] = {ctl_str_get(&name), ctl_str_get(&local), ctl_str_get(&remote)};
    ctl_table_add(t, cells);
    ctl_str_cleanup(&name);
    ctl_str_cleanup(&local);
    ctl_str_cleanup(&remote);
}

static int subscription_list(ctl_ctx *ctx) {
    NodeMsg req = CONTROLPLANE__PROTO__V1__NODE__INIT;
    req.id = (char *)ctx->node_id;
    ProtobufCMessage *m;
    int rc = ctl_call(ctx->opt, "ListSubscriptions", &req.base,
                      &controller__proto__v1__subscription_list_response__descriptor, &m);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (ctx->opt->output == CTL_OUTPUT_JSON) {
        ctl_print_json(m);
    } else {
        const SubscriptionListResponse *resp = (const SubscriptionListResponse *)m;
        ctl_table t;
        ctl_subscription_table_init(&t);
        for (size_t i = 0; i < resp->n_entries; i++)
            ctl_subscription_row(&t, &resp->entries[i]->base);
        ctl_table_print(&t, stdout);
        ctl_table_cleanup(&t);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return CTL_EXIT_OK;
}

/* ---- Tables ---- */

const ctl_cmd ctl_node_subs[] = {
    {.name = "list",
     .aliases = {"ls"},
     .args = "",
     .summary = "List the nodes registered with the controller",
     .details = "Columns: ID, STATUS (CONNECTED or NOT_CONNECTED), ENDPOINTS (the node's\n"
                "data-plane listeners, \"(tls)\" for a TLS one) and LAST SEEN.",
     .max_args = 0,
     .run = node_list},
    {0},
};

const ctl_cmd ctl_connection_subs[] = {
    {.name = "list",
     .aliases = {"ls"},
     .args = "",
     .summary = "List a node's connections",
     .details = "Asks the node (through the controller) for its live connection table.\n"
                "Columns: ID, TYPE (LOCAL or REMOTE), CONNECTION ID (the endpoint the\n"
                "controller knows it by), PEER and CONFIG (the client config as JSON).",
     .opts = CTL_OPT_NODE_ID,
     .required = CTL_OPT_NODE_ID,
     .max_args = 0,
     .run = connection_list},
    {0},
};

const ctl_cmd ctl_subscription_subs[] = {
    {.name = "list",
     .aliases = {"ls"},
     .args = "",
     .summary = "List a node's subscriptions",
     .details = "Asks the node (through the controller) for its live subscription table.\n"
                "Columns: NAME (org/ns/app, with /<uuid> for one instance), LOCAL and\n"
                "REMOTE (the ids of the connections the name is routed to).",
     .opts = CTL_OPT_NODE_ID,
     .required = CTL_OPT_NODE_ID,
     .max_args = 0,
     .run = subscription_list},
    {0},
};
