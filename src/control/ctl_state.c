/*
 * What each node should have, from the store: the connections and
 * subscriptions made for it through the API, and its routes (manual, and
 * automatic ones made from the subscriptions other nodes report). A
 * registration gets the whole of it; later changes go as deltas.
 */
#include "control/ctl_int.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "name/id_text.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* ---- commands ---- */

void ctl_cmd_init(ctl_cmd *cmd) {
    memset(cmd, 0, sizeof *cmd);
}

static void sub_free(Controller__Proto__V1__Subscription *s) {
    if (s == NULL)
        return;
    slim_free(s->component_0);
    slim_free(s->component_1);
    slim_free(s->component_2);
    slim_free(s->connection_id);
    if (s->_id_case == CONTROLLER__PROTO__V1__SUBSCRIPTION___ID_ID)
        slim_free(s->id);
    slim_free(s);
}

void ctl_cmd_cleanup(ctl_cmd *cmd) {
    for (size_t i = 0; i < cmd->n_conns; i++) {
        slim_free(cmd->conns[i]->connection_id);
        slim_free(cmd->conns[i]->config_data);
        slim_free(cmd->conns[i]);
    }
    for (size_t i = 0; i < cmd->n_set; i++) {
        sub_free(cmd->set[i]);
        if (cmd->set_routes != NULL)
            slim_free(cmd->set_routes[i]);
    }
    for (size_t i = 0; i < cmd->n_del; i++)
        sub_free(cmd->del[i]);
    for (size_t i = 0; i < cmd->n_conn_del; i++)
        slim_free(cmd->conn_del[i]);
    slim_free(cmd->conns);
    slim_free(cmd->set);
    slim_free(cmd->set_routes);
    slim_free(cmd->del);
    slim_free(cmd->conn_del);
    memset(cmd, 0, sizeof *cmd);
}

bool ctl_cmd_empty(const ctl_cmd *cmd) {
    return cmd->n_conns + cmd->n_set + cmd->n_del + cmd->n_conn_del == 0;
}

/* Appends p to a pointer array. */
static bool push(void ***v, size_t *n, void *p) {
    void **nv = slim_realloc(*v, (*n + 1) * sizeof *nv);
    if (nv == NULL)
        return false;
    nv[(*n)++] = p;
    *v = nv;
    return true;
}

void ctl_cmd_conn(ctl_cmd *cmd, const char *id, const char *config) {
    for (size_t i = 0; i < cmd->n_conns; i++)
        if (strcmp(cmd->conns[i]->connection_id, id) == 0)
            return;
    Controller__Proto__V1__Connection *c = slim_malloc(sizeof *c);
    if (c == NULL) {
        cmd->err = SLIM_E_NOMEM;
        return;
    }
    controller__proto__v1__connection__init(c);
    c->connection_id = slim_strdup(id);
    c->config_data = slim_strdup(config);
    if (c->connection_id == NULL || c->config_data == NULL ||
        !push((void ***)&cmd->conns, &cmd->n_conns, c)) {
        slim_free(c->connection_id);
        slim_free(c->config_data);
        slim_free(c);
        cmd->err = SLIM_E_NOMEM;
    }
}

static bool same_sub(const Controller__Proto__V1__Subscription *s, const slim_store_name *n,
                     const char *conn) {
    bool has_id = s->_id_case == CONTROLLER__PROTO__V1__SUBSCRIPTION___ID_ID;
    return strcmp(s->component_0, n->c[0]) == 0 && strcmp(s->component_1, n->c[1]) == 0 &&
           strcmp(s->component_2, n->c[2]) == 0 && strcmp(s->connection_id, conn) == 0 &&
           has_id == (n->id != NULL) && (!has_id || strcmp(s->id, n->id) == 0);
}

void ctl_cmd_sub(ctl_cmd *cmd, bool set, const slim_store_name *n, const char *conn,
                 const char *route_id) {
    Controller__Proto__V1__Subscription ***v = set ? &cmd->set : &cmd->del;
    size_t *len = set ? &cmd->n_set : &cmd->n_del;
    for (size_t i = 0; i < *len; i++)
        if (same_sub((*v)[i], n, conn))
            return;
    Controller__Proto__V1__Subscription *s = slim_malloc(sizeof *s);
    if (s == NULL) {
        cmd->err = SLIM_E_NOMEM;
        return;
    }
    controller__proto__v1__subscription__init(s);
    s->component_0 = slim_strdup(n->c[0]);
    s->component_1 = slim_strdup(n->c[1]);
    s->component_2 = slim_strdup(n->c[2]);
    s->connection_id = slim_strdup(conn);
    bool ok = s->component_0 && s->component_1 && s->component_2 && s->connection_id;
    if (n->id != NULL) {
        s->_id_case = CONTROLLER__PROTO__V1__SUBSCRIPTION___ID_ID;
        ok = ok && (s->id = slim_strdup(n->id)) != NULL;
    }
    if (ok && set) {
        char **r = slim_realloc(cmd->set_routes, (*len + 1) * sizeof *r);
        if (r == NULL)
            ok = false;
        else {
            cmd->set_routes = r;
            r[*len] = NULL;
            if (route_id != NULL && (r[*len] = slim_strdup(route_id)) == NULL)
                ok = false;
        }
    }
    if (!ok || !push((void ***)v, len, s)) {
        if (set && cmd->set_routes != NULL)
            slim_free(cmd->set_routes[*len]), cmd->set_routes[*len] = NULL;
        sub_free(s);
        cmd->err = SLIM_E_NOMEM;
    }
}

void ctl_cmd_proto(ctl_cmd *cmd, Controller__Proto__V1__ConfigurationCommand *out) {
    out->connections_to_create = cmd->conns;
    out->n_connections_to_create = cmd->n_conns;
    out->subscriptions_to_set = cmd->set;
    out->n_subscriptions_to_set = cmd->n_set;
    out->subscriptions_to_delete = cmd->del;
    out->n_subscriptions_to_delete = cmd->n_del;
    out->connections_to_delete = cmd->conn_del;
    out->n_connections_to_delete = cmd->n_conn_del;
}

/* ---- names ---- */

slim_status ctl_name_from_sub(const Controller__Proto__V1__Subscription *s, slim_store_name *out,
                              const char **why) {
    memset(out, 0, sizeof *out);
    if (s == NULL) {
        *why = "no subscription given";
        return SLIM_E_INVALID_ARG;
    }
    const char *c[3] = {s->component_0, s->component_1, s->component_2};
    for (int i = 0; i < 3; i++) {
        if (c[i] == NULL || c[i][0] == '\0' || strchr(c[i], '/') != NULL || strlen(c[i]) > 1024) {
            *why = "malformed name: components 0-2 must be non-empty and hold no '/'";
            return SLIM_E_INVALID_ARG;
        }
    }
    char idtext[SLIM_ID_TEXT_LEN + 1];
    bool has_id = s->_id_case == CONTROLLER__PROTO__V1__SUBSCRIPTION___ID_ID;
    if (has_id) {
        slim_id id;
        if (slim_id_parse_api(s->id, strlen(s->id), &id) != SLIM_OK) {
            *why = "malformed id: expected a UUID or a decimal integer";
            return SLIM_E_INVALID_ARG;
        }
        slim_id_format(id, idtext);
    }
    slim_store_name tmp = {{(char *)c[0], (char *)c[1], (char *)c[2]}, has_id ? idtext : NULL};
    if (slim_store_name_copy(&tmp, out) != SLIM_OK) {
        *why = "out of memory";
        return SLIM_E_NOMEM;
    }
    return SLIM_OK;
}

void ctl_name_text(const slim_store_name *n, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s/%s%s%s", n->c[0], n->c[1], n->c[2], n->id ? "/" : "",
             n->id ? n->id : "");
}

/* ---- where a route goes ---- */

static bool wildcard_host(const char *h, size_t n) {
    return n == 0 || (n == 7 && memcmp(h, "0.0.0.0", 7) == 0) ||
           (n == 2 && memcmp(h, "::", 2) == 0) || (n == 4 && memcmp(h, "[::]", 4) == 0);
}

/* "host:port" of a registered listener, with the host made reachable. */
static slim_status reachable(const slim_store_node *dest, const slim_store_details *d,
                             bool external, char *out, size_t cap) {
    const char *ep = external ? d->external_endpoint : d->endpoint;
    if (ep == NULL || ep[0] == '\0')
        return SLIM_E_STATE;
    if (strncmp(ep, "http://", 7) == 0)
        ep += 7;
    else if (strncmp(ep, "https://", 8) == 0)
        ep += 8;
    if (external) {
        snprintf(out, cap, "%s", ep);
        return SLIM_OK;
    }
    const char *colon = strrchr(ep, ':');
    if (colon == NULL || colon[1] == '\0')
        return SLIM_E_STATE;
    size_t hlen = (size_t)(colon - ep);
    const char *host = ep;
    if (d->local_endpoint != NULL && d->local_endpoint[0] != '\0') {
        host = d->local_endpoint;
        hlen = strlen(host);
    } else if (wildcard_host(ep, hlen)) {
        if (dest->peer_host == NULL || dest->peer_host[0] == '\0')
            return SLIM_E_STATE;
        host = dest->peer_host;
        hlen = strlen(host);
    }
    bool v6 = memchr(host, ':', hlen) != NULL && host[0] != '[';
    int n = snprintf(out, cap, "%s%.*s%s%s", v6 ? "[" : "", (int)hlen, host, v6 ? "]" : "", colon);
    return n > 0 && (size_t)n < cap ? SLIM_OK : SLIM_E_STATE;
}

static bool same_group(const char *a, const char *b) {
    if (a == NULL || a[0] == '\0')
        return b == NULL || b[0] == '\0';
    return b != NULL && strcmp(a, b) == 0;
}

slim_status ctl_route_conn(slim_ctl *c, const slim_store_route *r, char **id, char **config,
                           const char **why) {
    *id = *config = NULL;
    if (r->dest_node_id == NULL) {
        *id = slim_strdup(r->connection_id);
        *config = slim_strdup(r->config_data);
        if (*id == NULL || *config == NULL) {
            slim_free(*id), slim_free(*config);
            *id = *config = NULL;
            *why = "out of memory";
            return SLIM_E_NOMEM;
        }
        return SLIM_OK;
    }
    slim_store_node dest, holder;
    if (slim_store_node_get(c->store, r->dest_node_id, &dest) != SLIM_OK) {
        *why = "the destination node is not registered";
        return SLIM_E_NOT_FOUND;
    }
    bool have_holder = slim_store_node_get(c->store, r->node_id, &holder) == SLIM_OK;
    bool external = have_holder && !same_group(holder.group_name, dest.group_name);
    if (have_holder)
        slim_store_node_free(&holder);
    slim_status st = SLIM_E_STATE;
    char hostport[600];
    const slim_store_details *d = NULL;
    for (size_t i = 0; i < dest.n_details && st != SLIM_OK; i++) {
        d = &dest.details[i];
        st = reachable(&dest, d, external, hostport, sizeof hostport);
    }
    if (st != SLIM_OK) {
        slim_store_node_free(&dest);
        *why = external ? "the destination node has no external_endpoint (another group)"
                        : "the destination node registered no usable data-plane endpoint";
        return SLIM_E_STATE;
    }
    char url[640];
    snprintf(url, sizeof url, "%s://%s", d->mtls_required ? "https" : "http", hostport);
    slim_store_node_free(&dest);
    json_t *j = json_pack("{s:s}", "endpoint", url);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    *id = slim_strdup(url);
    *config = text != NULL ? slim_strdup(text) : NULL;
    free(text);
    if (*id == NULL || *config == NULL) {
        slim_free(*id), slim_free(*config);
        *id = *config = NULL;
        *why = "out of memory";
        return SLIM_E_NOMEM;
    }
    return SLIM_OK;
}

void ctl_cmd_route(slim_ctl *c, ctl_cmd *cmd, const slim_store_route *r, bool remove) {
    char *id, *config;
    const char *why = NULL;
    if (ctl_route_conn(c, r, &id, &config, &why) != SLIM_OK) {
        if (!remove)
            (void)slim_store_route_set_status(c->store, r->id, why);
        return;
    }
    if (!remove)
        ctl_cmd_conn(cmd, id, config);
    ctl_cmd_sub(cmd, !remove, &r->name, id, remove ? NULL : r->id);
    slim_free(id);
    slim_free(config);
}

void ctl_state_build(slim_ctl *c, const char *node_id, ctl_cmd *cmd) {
    slim_store_conn *conns = NULL;
    size_t n = 0;
    if (slim_store_conn_list(c->store, node_id, &conns, &n) == SLIM_OK) {
        for (size_t i = 0; i < n; i++)
            ctl_cmd_conn(cmd, conns[i].connection_id, conns[i].config_data);
        slim_store_conn_list_free(conns, n);
    }
    slim_store_route *routes = NULL;
    if (slim_store_route_list(c->store, node_id, &routes, &n) == SLIM_OK) {
        for (size_t i = 0; i < n; i++)
            ctl_cmd_route(c, cmd, &routes[i], false);
        slim_store_route_list_free(routes, n);
    }
    slim_store_sub *subs = NULL;
    if (slim_store_sub_list(c->store, node_id, &subs, &n) == SLIM_OK) {
        for (size_t i = 0; i < n; i++)
            ctl_cmd_sub(cmd, true, &subs[i].name, subs[i].connection_id, NULL);
        slim_store_sub_list_free(subs, n);
    }
}

bool ctl_state_has_sub(slim_ctl *c, const char *node_id, const slim_store_name *n,
                       const char *conn) {
    ctl_cmd cmd;
    ctl_cmd_init(&cmd);
    ctl_state_build(c, node_id, &cmd);
    bool found = false;
    for (size_t i = 0; i < cmd.n_set && !found; i++)
        found = same_sub(cmd.set[i], n, conn);
    ctl_cmd_cleanup(&cmd);
    return found;
}

void ctl_route_push(slim_ctl *c, const slim_store_route *r, bool remove) {
    if (ctl_session_of(c, r->node_id) == NULL)
        return;
    ctl_cmd cmd;
    ctl_cmd_init(&cmd);
    ctl_cmd_route(c, &cmd, r, remove);
    /* A removal the node still needs for another reason is not sent. */
    if (remove && cmd.n_del == 1 &&
        ctl_state_has_sub(c, r->node_id, &r->name, cmd.del[0]->connection_id)) {
        ctl_cmd_cleanup(&cmd);
        return;
    }
    (void)ctl_send_cmd(c, r->node_id, &cmd, NULL);
    ctl_cmd_cleanup(&cmd);
}

/* ---- automatic routes ---- */

/* Makes "holder reaches name through dest" if missing, and sends it. */
static void auto_route_add(slim_ctl *c, const char *holder, const char *dest,
                           const slim_store_name *name) {
    slim_store_route r = {0};
    char id[37];
    if (slim_uuid_v4(id) != SLIM_OK)
        return;
    r.id = id;
    r.node_id = (char *)holder;
    r.name = *name;
    r.dest_node_id = (char *)dest;
    r.automatic = true;
    r.status = "pending";
    slim_status st = slim_store_route_add(c->store, &r, NULL);
    if (st == SLIM_OK)
        ctl_route_push(c, &r, false);
    else if (st != SLIM_E_EXISTS)
        SLIM_LOGW(CTL_MOD, "cannot store an automatic route: %s", slim_status_str(st));
}

/* Removes the automatic routes through dest for name (every name when
 * NULL), telling their holders. */
static void auto_routes_remove(slim_ctl *c, const char *dest, const slim_store_name *name) {
    slim_store_route *v = NULL;
    size_t n = 0;
    if (slim_store_route_list_to(c->store, dest, &v, &n) != SLIM_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].automatic || (name != NULL && !slim_store_name_equal(&v[i].name, name)))
            continue;
        /* Delete first, so the check for other reasons does not see it. */
        if (slim_store_route_delete(c->store, v[i].id) == SLIM_OK)
            ctl_route_push(c, &v[i], true);
    }
    slim_store_route_list_free(v, n);
}

void ctl_routes_to_node_removed(slim_ctl *c, const char *node_id) {
    auto_routes_remove(c, node_id, NULL);
}

static void reported(slim_ctl *c, const char *node_id, const slim_store_name *name, bool added) {
    char text[1200];
    ctl_name_text(name, text, sizeof text);
    SLIM_LOGD(CTL_MOD, "node %s reports %s %s", node_id, added ? "subscription" : "unsubscription",
              text);
    if (!c->cfg->auto_routes)
        return;
    if (!added) {
        auto_routes_remove(c, node_id, name);
        return;
    }
    slim_store_node *nodes = NULL;
    size_t n = 0;
    if (slim_store_node_list(c->store, &nodes, &n) != SLIM_OK)
        return;
    for (size_t i = 0; i < n; i++)
        if (strcmp(nodes[i].id, node_id) != 0)
            auto_route_add(c, nodes[i].id, node_id, name);
    slim_store_node_list_free(nodes, n);
}

void ctl_node_reported(slim_ctl *c, const char *node_id,
                       const Controller__Proto__V1__ConfigurationCommand *cc) {
    for (size_t k = 0; k < 2; k++) {
        bool set = k == 0;
        size_t n = set ? cc->n_subscriptions_to_set : cc->n_subscriptions_to_delete;
        Controller__Proto__V1__Subscription **v =
            set ? cc->subscriptions_to_set : cc->subscriptions_to_delete;
        for (size_t i = 0; i < n; i++) {
            slim_store_name name;
            const char *why;
            if (ctl_name_from_sub(v[i], &name, &why) != SLIM_OK) {
                SLIM_LOGW(CTL_MOD, "node %s reported a subscription the controller ignores: %s",
                          node_id, why);
                continue;
            }
            bool changed = false;
            if (set)
                changed =
                    slim_store_report_add(c->store, node_id, &name, &changed) == SLIM_OK && changed;
            else
                changed = slim_store_report_delete(c->store, node_id, &name) == SLIM_OK;
            if (changed)
                reported(c, node_id, &name, set);
            slim_store_name_cleanup(&name);
        }
    }
    if (cc->n_connections_to_create > 0 || cc->n_connections_to_delete > 0)
        SLIM_LOGD(CTL_MOD, "node %s sent connections in a report: ignored", node_id);
}

static bool name_in(const slim_store_name *n, const slim_store_name *v, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (slim_store_name_equal(n, &v[i]))
            return true;
    return false;
}

static slim_status node_from_request(const sb_sess *s,
                                     const Controller__Proto__V1__RegisterNodeRequest *r,
                                     slim_store_node *n, int64_t now) {
    memset(n, 0, sizeof *n);
    n->id = r->node_id;
    n->group_name =
        r->_group_name_case == CONTROLLER__PROTO__V1__REGISTER_NODE_REQUEST___GROUP_NAME_GROUP_NAME
            ? r->group_name
            : NULL;
    n->peer_host = (char *)s->peer_host;
    n->registered_ms = n->last_seen_ms = now;
    n->n_details = r->n_connection_details;
    if (n->n_details == 0)
        return SLIM_OK;
    n->details = slim_calloc(n->n_details, sizeof *n->details);
    if (n->details == NULL)
        return SLIM_E_NOMEM;
    for (size_t i = 0; i < n->n_details; i++) {
        const Controller__Proto__V1__ConnectionDetails *d = r->connection_details[i];
        n->details[i].endpoint = d->endpoint;
        n->details[i].mtls_required = d->mtls_required;
        if (d->_local_endpoint_case)
            n->details[i].local_endpoint = d->local_endpoint;
        if (d->_external_endpoint_case)
            n->details[i].external_endpoint = d->external_endpoint;
        if (d->_group_name_case)
            n->details[i].group_name = d->group_name;
    }
    return SLIM_OK;
}

void ctl_node_registered(slim_ctl *c, sb_sess *s,
                         const Controller__Proto__V1__RegisterNodeRequest *r) {
    const char *id = r->node_id;
    slim_store_node node;
    if (node_from_request(s, r, &node, (int64_t)slim_wall_ms()) != SLIM_OK ||
        slim_store_node_put(c->store, &node) != SLIM_OK) {
        slim_free(node.details);
        SLIM_LOGE(CTL_MOD, "cannot store node %s", id);
        return;
    }
    slim_free(node.details);

    /* What it reports now replaces what it reported before. */
    slim_store_name *now = slim_calloc(r->n_subscriptions + 1, sizeof *now);
    size_t n_now = 0;
    for (size_t i = 0; now != NULL && i < r->n_subscriptions; i++) {
        const char *why;
        if (ctl_name_from_sub(r->subscriptions[i], &now[n_now], &why) == SLIM_OK)
            n_now++;
        else
            SLIM_LOGW(CTL_MOD, "node %s reported a subscription the controller ignores: %s", id,
                      why);
    }
    slim_store_report *old = NULL;
    size_t n_old = 0;
    if (now != NULL && slim_store_report_list(c->store, id, &old, &n_old) == SLIM_OK &&
        slim_store_report_replace(c->store, id, now, n_now) == SLIM_OK) {
        for (size_t i = 0; i < n_old; i++) {
            bool kept = false;
            for (size_t j = 0; j < n_now && !kept; j++)
                kept = slim_store_name_equal(&old[i].name, &now[j]);
            if (!kept)
                reported(c, id, &old[i].name, false);
        }
        slim_store_name *was = slim_calloc(n_old + 1, sizeof *was);
        for (size_t i = 0; was != NULL && i < n_old; i++)
            was[i] = old[i].name;
        for (size_t j = 0; j < n_now; j++)
            if (was == NULL || !name_in(&now[j], was, n_old))
                reported(c, id, &now[j], true);
        slim_free(was);
    }
    slim_store_report_list_free(old, n_old);
    for (size_t i = 0; i < n_now; i++)
        slim_store_name_cleanup(&now[i]);
    slim_free(now);

    /* Routes of the newcomer to what the others report. */
    if (c->cfg->auto_routes) {
        slim_store_report *all = NULL;
        size_t n_all = 0;
        if (slim_store_report_list(c->store, NULL, &all, &n_all) == SLIM_OK) {
            for (size_t i = 0; i < n_all; i++)
                if (strcmp(all[i].node_id, id) != 0)
                    auto_route_add(c, id, all[i].node_id, &all[i].name);
            slim_store_report_list_free(all, n_all);
        }
    }

    /* Everything it should have, in one command. */
    ctl_cmd cmd;
    ctl_cmd_init(&cmd);
    ctl_state_build(c, id, &cmd);
    if (!ctl_cmd_empty(&cmd))
        SLIM_LOGI(CTL_MOD, "node %s: sending its state (%zu connection(s), %zu subscription(s))",
                  id, cmd.n_conns, cmd.n_set);
    (void)ctl_send_cmd(c, id, &cmd, NULL);
    ctl_cmd_cleanup(&cmd);
}
