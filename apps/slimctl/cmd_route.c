/*
 * The route commands: list, add and delete the controller's routes
 * ("node A reaches name N through node B, or through an endpoint").
 *
 *   route add NAME via DEST   DEST is an existing .json file holding a
 *                             ClientConfig with a non-empty "endpoint"
 *                             (the route goes through that connection), or
 *                             else the id of the destination node.
 *   route del NAME via DEST   DEST is an http:// or https:// endpoint (the
 *                             connection the route used), or a node id.
 */
#include "slimctl.h"

#include "controlplane/v1/controlplane.pb-c.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef Controlplane__Proto__V1__Node NodeMsg;
typedef Controlplane__Proto__V1__RouteListResponse RouteListResponse;
typedef Controlplane__Proto__V1__AddRouteRequest AddRouteRequest;
typedef Controlplane__Proto__V1__AddRouteResponse AddRouteResponse;
typedef Controlplane__Proto__V1__DeleteRouteRequest DeleteRouteRequest;
typedef Controller__Proto__V1__Subscription Subscription;
typedef Controller__Proto__V1__Connection Connection;

/* Largest route file read. */
#define ROUTE_FILE_MAX (1024 * 1024)

/* ---- route list ---- */

static int route_list(ctl_ctx *ctx) {
    NodeMsg req = CONTROLPLANE__PROTO__V1__NODE__INIT;
    if (ctx->node_id != NULL)
        req.id = (char *)ctx->node_id;
    ProtobufCMessage *m;
    int rc = ctl_call(ctx->opt, "ListRoutes", &req.base,
                      &controlplane__proto__v1__route_list_response__descriptor, &m);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (ctx->opt->output == CTL_OUTPUT_JSON) {
        ctl_print_json(m);
    } else {
        const RouteListResponse *resp = (const RouteListResponse *)m;
        static const char *const titles[] = {"ROUTE ID", "NODE", "NAME", "VIA", "KIND", "STATUS"};
        ctl_table t;
        ctl_table_init(&t, 6, titles);
        for (size_t i = 0; i < resp->n_entries; i++) {
            const Controlplane__Proto__V1__RouteEntry *e = resp->entries[i];
            const char *via = e->dest_node_id[0] != '\0' ? e->dest_node_id : e->connection_id;
            const char *cells[] = {
                e->route_id, e->node_id, e->name, via, e->automatic ? "automatic" : "manual",
                e->status};
            ctl_table_add(&t, cells);
        }
        ctl_table_print(&t, stdout);
        ctl_table_cleanup(&t);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return CTL_EXIT_OK;
}

/* ---- Shared by add and del ---- */

/* Checks "NAME via DEST" and fills the subscription's name. */
static int parse_name_via(ctl_ctx *ctx, ctl_name *name, Subscription *sub) {
    if (strcmp(ctx->argv[1], "via") != 0) {
        ctl_err("%s: expected \"via\" after the name, got \"%s\" (see slimctl %s --help)",
                ctx->path, ctx->argv[1], ctx->path);
        return CTL_EXIT_USAGE;
    }
    int rc = ctl_name_parse(ctx->path, ctx->argv[0], name);
    if (rc != CTL_EXIT_OK)
        return rc;
    sub->component_0 = name->component[0];
    sub->component_1 = name->component[1];
    sub->component_2 = name->component[2];
    if (name->id != NULL) {
        sub->_id_case = CONTROLLER__PROTO__V1__SUBSCRIPTION___ID_ID;
        sub->id = name->id;
    }
    return CTL_EXIT_OK;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A route file: a JSON object with a non-empty string "endpoint"
 * (slimctl.h). */
int ctl_read_conn_file(const char *cmd, const char *path, char **text, char **endpoint) {
    if (!ends_with(path, ".json")) {
        ctl_err("%s: %s: a connection config file must be JSON and end in .json", cmd, path);
        return CTL_EXIT_USAGE;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        ctl_err("%s: cannot read %s", cmd, path);
        return CTL_EXIT_USAGE;
    }
    char *buf = ctl_xcalloc(ROUTE_FILE_MAX + 1, 1);
    size_t n = fread(buf, 1, ROUTE_FILE_MAX + 1, f);
    bool bad_read = ferror(f) != 0;
    fclose(f);
    if (bad_read || n > ROUTE_FILE_MAX) {
        ctl_err("%s: cannot read %s%s", cmd, path, bad_read ? "" : ": larger than 1 MiB");
        free(buf);
        return CTL_EXIT_USAGE;
    }
    buf[n] = '\0';
    json_error_t jerr;
    json_t *j = json_loadb(buf, n, 0, &jerr);
    if (j == NULL) {
        ctl_err("%s: %s:%d: not valid JSON: %s", cmd, path, jerr.line, jerr.text);
        free(buf);
        return CTL_EXIT_USAGE;
    }
    json_t *ep = json_object_get(j, "endpoint");
    if (!json_is_string(ep) || json_string_length(ep) == 0) {
        ctl_err("%s: %s: the connection config needs a non-empty string \"endpoint\"", cmd, path);
        json_decref(j);
        free(buf);
        return CTL_EXIT_USAGE;
    }
    *endpoint = ctl_xstrdup(json_string_value(ep));
    *text = buf;
    json_decref(j);
    return CTL_EXIT_OK;
}

static bool is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode);
}

/* ---- route add ---- */

static int route_add(ctl_ctx *ctx) {
    AddRouteRequest req = CONTROLPLANE__PROTO__V1__ADD_ROUTE_REQUEST__INIT;
    Subscription sub = CONTROLLER__PROTO__V1__SUBSCRIPTION__INIT;
    Connection conn = CONTROLLER__PROTO__V1__CONNECTION__INIT;
    ctl_name name;
    memset(&name, 0, sizeof name);
    char *text = NULL, *endpoint = NULL;
    const char *dest = ctx->argv[2];

    int rc = parse_name_via(ctx, &name, &sub);
    if (rc == CTL_EXIT_OK && (is_file(dest) || ends_with(dest, ".json"))) {
        rc = ctl_read_conn_file(ctx->path, dest, &text, &endpoint);
        if (rc == CTL_EXIT_OK) {
            conn.connection_id = endpoint;
            conn.config_data = text;
            sub.connection_id = endpoint;
            req.connection = &conn;
        }
    } else if (rc == CTL_EXIT_OK) {
        req.dest_node_id = (char *)dest;
    }
    ProtobufCMessage *m = NULL;
    if (rc == CTL_EXIT_OK) {
        req.subscription = &sub;
        req.node_id = (char *)ctx->node_id;
        rc = ctl_call(ctx->opt, "AddRoute", &req.base,
                      &controlplane__proto__v1__add_route_response__descriptor, &m);
    }
    if (rc == CTL_EXIT_OK) {
        const AddRouteResponse *resp = (const AddRouteResponse *)m;
        if (ctx->opt->output == CTL_OUTPUT_JSON) {
            ctl_print_json(m);
        } else if (resp->success) {
            printf("route added: %s\n", resp->route_id);
        }
        if (!resp->success) {
            ctl_err("the controller did not add the route (success: false)");
            rc = CTL_EXIT_FAIL;
        }
    }
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    free(text);
    free(endpoint);
    ctl_name_cleanup(&name);
    return rc;
}

/* ---- route del ---- */

static int route_del(ctl_ctx *ctx) {
    DeleteRouteRequest req = CONTROLPLANE__PROTO__V1__DELETE_ROUTE_REQUEST__INIT;
    Subscription sub = CONTROLLER__PROTO__V1__SUBSCRIPTION__INIT;
    ctl_name name;
    memset(&name, 0, sizeof name);
    const char *dest = ctx->argv[2];

    int rc = parse_name_via(ctx, &name, &sub);
    ProtobufCMessage *m = NULL;
    if (rc == CTL_EXIT_OK) {
        if (strncmp(dest, "http://", 7) == 0 || strncmp(dest, "https://", 8) == 0)
            sub.connection_id = (char *)dest;
        else
            req.dest_node_id = (char *)dest;
        req.subscription = &sub;
        req.node_id = (char *)ctx->node_id;
        rc = ctl_call(ctx->opt, "DeleteRoute", &req.base,
                      &controlplane__proto__v1__delete_route_response__descriptor, &m);
    }
    if (rc == CTL_EXIT_OK) {
        const Controlplane__Proto__V1__DeleteRouteResponse *resp =
            (const Controlplane__Proto__V1__DeleteRouteResponse *)m;
        if (ctx->opt->output == CTL_OUTPUT_JSON)
            ctl_print_json(m);
        else if (resp->success)
            puts("route deleted");
        if (!resp->success) {
            ctl_err("the controller did not delete the route (success: false)");
            rc = CTL_EXIT_FAIL;
        }
    }
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    ctl_name_cleanup(&name);
    return rc;
}

/* ---- Table ---- */

const ctl_cmd ctl_route_subs[] = {
    {.name = "list",
     .aliases = {"ls"},
     .args = "",
     .summary = "List the routes of one node, or of all nodes",
     .details = "Without --node-id, the routes of every node. Columns: ROUTE ID, NODE (the\n"
                "node holding the route), NAME, VIA (the destination node, or the endpoint\n"
                "for a route through a connection), KIND (manual or automatic), STATUS.",
     .opts = CTL_OPT_NODE_ID,
     .max_args = 0,
     .run = route_list},
    {.name = "add",
     .args = "NAME via DEST-NODE|FILE.json",
     .summary = "Add a route: the node reaches NAME through another node or a connection",
     .details = "NAME is org/ns/app or org/ns/app/ID, ID a UUID or a decimal integer.\n"
                "When the third argument is an existing file, it must end in .json and hold\n"
                "a client config with a non-empty \"endpoint\", e.g.\n"
                "  {\"endpoint\": \"http://10.0.0.2:46357\"}\n"
                "The node dials that endpoint and routes NAME to it. Otherwise the argument\n"
                "is the id of the destination node (e.g. slim/1). Prints the new route's id.",
     .opts = CTL_OPT_NODE_ID,
     .required = CTL_OPT_NODE_ID,
     .min_args = 3,
     .max_args = 3,
     .run = route_add},
    {.name = "del",
     .aliases = {"delete", "rm"},
     .args = "NAME via DEST-NODE|ENDPOINT",
     .summary = "Delete a route",
     .details = "NAME as for route add. The third argument is the endpoint of the route's\n"
                "connection when it starts with http:// or https://, else the id of the\n"
                "destination node.",
     .opts = CTL_OPT_NODE_ID,
     .required = CTL_OPT_NODE_ID,
     .min_args = 3,
     .max_args = 3,
     .run = route_del},
    {0},
};
