/*
 * An app's connections, servers, subscriptions and routes.
 *
 * A connection is a dialled link of the app's hub (src/link/hub.h): it
 * reconnects by itself, and each stream it opens is a new forwarder
 * connection; the app's connection id stays the same. `connect` completes
 * once the first stream is negotiated and the app's own name is subscribed
 * over it, so that messages for the app can reach it from that moment.
 *
 * Subscriptions and routes are Subscribe/Unsubscribe messages the app
 * sends on its LOCAL connection (docs/protocol.md): with forward_to = the
 * link's connection for a subscription (the app's router registers the
 * name for the app and passes it on to the node), with recv_from for a
 * route (only the app's router learns it). The router acknowledges every
 * one at once on the LOCAL connection; for a subscription the node's
 * acknowledgement completes it.
 */
#include "client/app_int.h"
#include "config/cfg.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "core/time.h"
#include "slim/slim.h"

#include <stdio.h>
#include <string.h>

#define MOD            "app"
#define SUB_TIMEOUT_MS 10000 /* upstream's subscription-ack timeout */

/* ---- connections ---- */

static app_conn *conn_find(slim_app *app, slim_conn_id id) {
    if (id == 0)
        id = app->last_conn;
    for (app_conn *c = app->conns; c != NULL; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

static void kept_free(app_kept *k) {
    for (int i = 0; i < 3; i++)
        slim_free(k->part[i]);
    slim_free(k);
}

static void conn_remove(slim_app *app, app_conn *c) {
    for (app_conn **p = &app->conns; *p != NULL; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    if (app->last_conn == c->id)
        app->last_conn = app->conns != NULL ? app->conns->id : 0;
    if (c->link != NULL)
        slim_hub_link_close(app->hub, c->link);
    while (c->kept != NULL) {
        app_kept *k = c->kept;
        c->kept = k->next;
        kept_free(k);
    }
    slim_free(c->endpoint);
    slim_free(c);
}

/* Records (or forgets, for an unsubscribe or route removal) a name
 * subscribed or routed over c. */
static void keep(app_conn *c, const slim_name *name, const slim_str part[3], bool route,
                 bool forget) {
    for (app_kept **p = &c->kept; *p != NULL; p = &(*p)->next)
        if ((*p)->route == route && slim_name_equal(&(*p)->name, name)) {
            if (forget) {
                app_kept *k = *p;
                *p = k->next;
                kept_free(k);
            }
            return;
        }
    if (forget)
        return;
    app_kept *k = slim_calloc(1, sizeof *k);
    bool ok = k != NULL;
    for (int i = 0; ok && i < 3; i++)
        ok = (k->part[i] = slim_strndup(part[i].ptr, part[i].len)) != NULL;
    if (!ok) {
        if (k != NULL)
            kept_free(k);
        SLIM_LOGW(MOD, "out of memory: %.*s/%.*s/%.*s will not be renewed after a reconnect",
                  (int)part[0].len, part[0].ptr, (int)part[1].len, part[1].ptr, (int)part[2].len,
                  part[2].ptr);
        return;
    }
    k->name = *name;
    k->route = route;
    k->next = c->kept;
    c->kept = k;
}

void slim_app__route_seen(slim_app *app, slim_bytes msg) {
    /* The Message's first field: 1 Subscribe, 2 Unsubscribe (both
     * length-delimited). Publishes, by far the most, stop here. */
    if (msg.len == 0 || (msg.ptr[0] != 0x0a && msg.ptr[0] != 0x12))
        return;
    slim_msg *m = NULL;
    if (slim_wire_decode(msg, msg.len, &m) != SLIM_OK)
        return;
    const slim_pb_header *h = slim_wire_header(m);
    slim_name name;
    slim_str part[3];
    /* Routes (recv_from) and subscriptions (forward_to: a group's channel
     * names) alike. */
    bool route =
        h != NULL && h->_recv_from_case == DATAPLANE__PROTO__V1__SLIMHEADER___RECV_FROM_RECV_FROM;
    bool sub = h != NULL &&
               h->_forward_to_case == DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO_FORWARD_TO;
    uint64_t via = route ? h->recv_from : sub ? h->forward_to : 0;
    if ((route || sub) && slim_wire_name_get(h->destination, &name) == SLIM_OK &&
        slim_wire_name_strings(h->destination, part))
        for (app_conn *c = app->conns; c != NULL; c = c->next)
            if (c->fwd != 0 && c->fwd == via)
                keep(c, &name, part, route, slim_wire_kind(m) == SLIM_MSG_UNSUBSCRIBE);
    slim_wire_free(m);
}

/* Sends a Subscribe or Unsubscribe for `name` on the LOCAL connection.
 * flags: forward_to = fwd (subscription) or recv_from = fwd (route); fwd
 * 0: neither (the name is registered for the app in its own router only). */
static slim_status send_sub(slim_app *app, const slim_name *name, const slim_str *parts, bool unsub,
                            bool route, uint64_t fwd, uint64_t id) {
    slim_wire_name src = {&app->name, app->name_parts};
    slim_wire_name dst = {name, parts};
    slim_wire_header_spec h = {.source = src, .destination = dst, .fanout = 1};
    if (fwd == 0) {
        /* local only */
    } else if (route) {
        h.has_recv_from = true;
        h.recv_from = fwd;
    } else {
        h.has_forward_to = true;
        h.forward_to = fwd;
    }
    slim_msg *m = NULL;
    slim_buf b = SLIM_BUF_INIT;
    slim_status st = slim_wire_subscribe_new(&h, id, unsub, &m);
    if (st == SLIM_OK)
        st = slim_wire_encode(m, SIZE_MAX, &b);
    if (st == SLIM_OK)
        st = slim_hub_local_input(app->hub, app->local, slim_buf_view(&b), uv_now(&app->loop));
    slim_wire_free(m);
    slim_buf_cleanup(&b);
    return st;
}

static uint64_t random_id(void) {
    uint64_t v = 0;
    while (v == 0 && slim_random_bytes(&v, sizeof v) == SLIM_OK) {
    }
    return v != 0 ? v : slim_now_ns();
}

/* Starts a subscription (or route) and records what completes it. */
static slim_status start_sub(slim_app *app, slim_op op, app_conn *c, app_conn *owner,
                             const slim_name *name, const slim_str *parts, bool unsub, bool route) {
    app_sub *s = slim_calloc(1, sizeof *s);
    if (s == NULL)
        return SLIM_E_NOMEM;
    s->id = random_id();
    s->op = op;
    s->conn = c->id;
    s->owner = owner;
    s->fwd = c->fwd;
    s->remote = !route;
    s->route = route;
    s->name = *name;
    s->deadline_ms = slim_now_ms() + SUB_TIMEOUT_MS;
    s->next = app->subs;
    app->subs = s;
    slim_status st = send_sub(app, name, parts, unsub, route, c->fwd, s->id);
    if (st != SLIM_OK) {
        app->subs = s->next;
        slim_free(s);
    }
    return st;
}

static void sub_done(slim_app *app, app_sub *s, slim_status st, const char *detail) {
    for (app_sub **p = &app->subs; *p != NULL; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    slim_name_parts parts;
    if (st == SLIM_OK && s->name_text != NULL && !s->replay &&
        slim_name_parse(s->name_text, strlen(s->name_text), &(slim_name){0}, &parts) == SLIM_OK) {
        app_conn *c = conn_find(app, s->conn);
        if (c != NULL)
            keep(c, &s->name, parts.component, s->route, s->unsub);
        if (!s->route && app->ss != NULL) {
            /* The session layer answers for the names we subscribe. */
            slim_sname n = {.name = s->name};
            memcpy(n.text, parts.component, sizeof n.text);
            if (s->unsub)
                (void)slim_sessions_remove_name(app->ss, &n);
            else
                (void)slim_sessions_add_name(app->ss, &n);
        }
    }
    if (s->owner != NULL) {
        app_conn *c = s->owner;
        slim_op op = c->connect_op;
        c->connect_op = 0;
        slim_event r = {.conn = c->id};
        char why[256];
        if (st != SLIM_OK)
            snprintf(why, sizeof why, "subscribing our name on %s: %s", c->endpoint, detail);
        slim_app__complete(app, op, st, st != SLIM_OK ? why : NULL, &r);
        if (st != SLIM_OK) {
            c->dead = true; /* removed by conn_work: we may be inside its transport */
            app->deferred = true;
            uv_async_send(&app->wake);
        } else {
            app->last_conn = c->id;
            slim_app__state_restore(app, c->fwd); /* the groups of a saved state */
        }
    } else {
        slim_app__complete(app, s->op, st, detail, NULL);
    }
    slim_free(s->name_text);
    slim_free(s);
}

static app_sub *sub_find(slim_app *app, uint64_t id) {
    for (app_sub *s = app->subs; s != NULL; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

bool slim_app__local_ack(slim_app *app, const slim_msg *m) {
    const Dataplane__Proto__V1__SubscriptionAck *a = m->subscription_ack;
    if (a == NULL)
        return false;
    app_sub *s = sub_find(app, a->subscription_id);
    if (s == NULL || s->local_done)
        return false;
    s->local_done = true;
    if (!a->success) {
        char why[200];
        snprintf(why, sizeof why, "refused by this app's router: %s",
                 a->error != NULL && a->error[0] ? a->error : "no reason given");
        sub_done(app, s, SLIM_E_APP_REFUSED, why);
    } else if (!s->remote) {
        sub_done(app, s, SLIM_OK, NULL);
    }
    return true;
}

void slim_app__remote_ack(uint64_t conn, uint64_t id, bool success, const char *error, void *ud) {
    slim_app *app = ud;
    app_sub *s = sub_find(app, id);
    if (s == NULL || !s->remote || s->fwd != conn)
        return;
    if (success) {
        sub_done(app, s, SLIM_OK, NULL);
        return;
    }
    char why[200];
    snprintf(why, sizeof why, "refused by the node: %s",
             error != NULL && error[0] ? error : "no reason given");
    sub_done(app, s, SLIM_E_APP_REFUSED, why);
}

/* ---- link callbacks ---- */

static void link_up(void *ud, uint64_t conn) {
    app_conn *c = ud;
    c->fwd = conn;
    c->up_pending = true;
    c->app->deferred = true;
    uv_async_send(&c->app->wake); /* act outside the forwarder */
}

static void link_down(void *ud, uint64_t conn, slim_status why, const char *detail) {
    app_conn *c = ud;
    if (c->fwd != conn)
        return;
    c->fwd = 0;
    if (!c->ever_up)
        return;
    slim_event ev = {.kind = SLIM_EVENT_CONNECTION, .conn = c->id, .status = why};
    snprintf(ev.detail, sizeof ev.detail, "connection to %s lost: %s", c->endpoint,
             detail && detail[0] ? detail : slim_status_str(why));
    slim_app__event(c->app, &ev);
    /* Subscriptions waiting for that stream's node will not hear back. */
    for (app_sub *s = c->app->subs, *next; s != NULL; s = next) {
        next = s->next;
        if (s->fwd == conn && s->remote)
            sub_done(c->app, s, SLIM_E_CLOSED, "the connection went down before the node answered");
    }
}

static void link_failed(void *ud, slim_status why, const char *detail, bool final) {
    app_conn *c = ud;
    if (c->ever_up || c->connect_op == 0) {
        (void) final;
        return;
    }
    /* The first attempt failed: connect reports it instead of retrying. */
    char text[256];
    snprintf(text, sizeof text, "cannot connect to %s: %s", c->endpoint, detail);
    slim_op op = c->connect_op;
    c->connect_op = 0;
    slim_app__complete(c->app, op, why, text, NULL);
    c->app->deferred = true; /* removed in conn_work, outside the transport */
    uv_async_send(&c->app->wake);
}

/* A new stream of c: the names subscribed and routed over it go again. */
static void renew(slim_app *app, app_conn *c) {
    for (app_kept *k = c->kept; k != NULL; k = k->next) {
        slim_str part[3];
        for (int i = 0; i < 3; i++)
            part[i] = (slim_str){k->part[i], strlen(k->part[i])};
        slim_status st = start_sub(app, 0, c, NULL, &k->name, part, false, k->route);
        if (st == SLIM_OK)
            app->subs->replay = true;
        else
            SLIM_LOGW(MOD, "cannot renew %s/%s/%s on %s: %s", k->part[0], k->part[1], k->part[2],
                      c->endpoint, slim_status_str(st));
    }
}

void slim_app__conn_work(slim_app *app) {
    for (app_conn *c = app->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->dead || (!c->ever_up && c->connect_op == 0 && c->fwd == 0)) {
            conn_remove(app, c); /* a connect that failed */
            continue;
        }
        if (!c->up_pending || c->fwd == 0)
            continue;
        c->up_pending = false;
        bool first = !c->ever_up;
        c->ever_up = true;
        /* Our own name goes over every stream (a reconnected one too). */
        app_conn *owner = first && c->connect_op != 0 ? c : NULL;
        slim_status st = start_sub(app, 0, c, owner, &app->name, app->name_parts, false, false);
        if (st != SLIM_OK && owner != NULL) {
            slim_op op = c->connect_op;
            c->connect_op = 0;
            slim_app__complete(app, op, st, "cannot subscribe our name", NULL);
            conn_remove(app, c);
            continue;
        }
        if (!first) {
            uv_mutex_lock(&app->mu);
            app->counters.reconnects++;
            uv_mutex_unlock(&app->mu);
            renew(app, c);
            slim_event ev = {.kind = SLIM_EVENT_CONNECTION, .conn = c->id, .status = SLIM_OK};
            snprintf(ev.detail, sizeof ev.detail, "connection to %s up again", c->endpoint);
            slim_app__event(app, &ev);
        }
    }
}

void slim_app__conn_tick(slim_app *app, uint64_t now_ms) {
    for (app_sub *s = app->subs, *next; s != NULL; s = next) {
        next = s->next;
        if (now_ms >= s->deadline_ms)
            sub_done(app, s, SLIM_E_TIMEOUT,
                     s->remote ? "the node did not acknowledge within 10 s"
                               : "this app's router did not acknowledge");
    }
}

/* ---- servers ---- */

static void on_call(slim_grpc_call *call, slim_bytes request, void *ud) {
    (void)request;
    slim_app *app = ud;
    const slim_server_config *sc = slim_grpc_call_server_config(call);
    slim_fwd_link_opts opts = {.require_header_mac = sc == NULL || sc->require_header_mac};
    slim_hub_accept(app->hub, call, &opts, sc != NULL ? sc->negotiation_timeout_ms : 5000);
}

static void server_free(app_server *s) {
    slim_grpc_server_free(s->server);
    slim_server_config_cleanup(&s->sc);
    slim_free(s->endpoint);
    slim_free(s);
}

static void run_server(slim_app *app, app_cmd *cmd) {
    for (app_server *s = app->servers; s != NULL; s = s->next)
        if (strcmp(s->endpoint, cmd->sc.endpoint) == 0) {
            slim_app__complete(app, cmd->op, SLIM_E_EXISTS, "already listening there", NULL);
            return;
        }
    app_server *s = slim_calloc(1, sizeof *s);
    if (s == NULL) {
        slim_app__complete(app, cmd->op, SLIM_E_NOMEM, NULL, NULL);
        return;
    }
    s->sc = cmd->sc;
    memset(&cmd->sc, 0, sizeof cmd->sc); /* taken */
    s->endpoint = slim_strndup(s->sc.endpoint, strlen(s->sc.endpoint));
    slim_grpc_config gc = {.max_message_size = app->opts.max_message_size + 64 * 1024};
    slim_status st =
        s->endpoint != NULL ? slim_grpc_server_new(&app->loop, &gc, &s->server) : SLIM_E_NOMEM;
    if (st == SLIM_OK) {
        slim_grpc_method m = {.path = SLIM_DATAPLANE_METHOD,
                              .kind = SLIM_GRPC_BIDI_STREAMING,
                              .on_call = on_call,
                              .ud = app};
        slim_hub_call_cbs(&m.cbs);
        st = slim_grpc_server_add_method(s->server, &m);
    }
    char bound[128] = "";
    if (st == SLIM_OK)
        st = slim_grpc_server_listen_config(s->server, &s->sc, bound, sizeof bound);
    if (st != SLIM_OK) {
        char why[256];
        snprintf(why, sizeof why, "cannot listen on %s: %s", s->sc.endpoint, slim_status_str(st));
        slim_app__complete(app, cmd->op, st, why, NULL);
        server_free(s);
        return;
    }
    SLIM_LOGI(MOD, "listening on %s", bound);
    /* Apps that connect here reach this one by its name: register it in our
     * own router (a dialled connection does it with its subscription). No
     * acknowledgement is asked for: the router does it at once. */
    st = send_sub(app, &app->name, app->name_parts, false, false, 0, 0);
    if (st != SLIM_OK)
        SLIM_LOGW(MOD, "cannot register our name for %s: %s", bound, slim_status_str(st));
    s->next = app->servers;
    app->servers = s;
    slim_app__complete(app, cmd->op, SLIM_OK, bound, NULL);
}

static void stop_server(slim_app *app, app_cmd *cmd) {
    for (app_server **p = &app->servers; *p != NULL; p = &(*p)->next) {
        app_server *s = *p;
        if (strcmp(s->endpoint, cmd->text) != 0)
            continue;
        *p = s->next;
        server_free(s);
        slim_app__complete(app, cmd->op, SLIM_OK, NULL, NULL);
        return;
    }
    slim_app__complete(app, cmd->op, SLIM_E_NOT_FOUND, "no server listens there", NULL);
}

/* ---- commands ---- */

static void connect_cmd(slim_app *app, app_cmd *cmd) {
    app_conn *c = slim_calloc(1, sizeof *c);
    if (c == NULL ||
        (c->endpoint = slim_strndup(cmd->cc.endpoint, strlen(cmd->cc.endpoint))) == NULL) {
        slim_free(c);
        slim_app__complete(app, cmd->op, SLIM_E_NOMEM, NULL, NULL);
        return;
    }
    c->app = app;
    c->id = ++app->next_conn;
    c->connect_op = cmd->op;
    slim_hub_link_cbs cbs = {.up = link_up, .down = link_down, .failed = link_failed, .ud = c};
    slim_grpc_config base = {.max_message_size = app->opts.max_message_size + 64 * 1024};
    slim_status st = slim_hub_dial_link(app->hub, &cmd->cc, &base, &cbs, &c->link);
    if (st != SLIM_OK) {
        char why[256];
        snprintf(why, sizeof why, "cannot connect to %s: %s", c->endpoint, slim_status_str(st));
        slim_app__complete(app, cmd->op, st, why, NULL);
        slim_free(c->endpoint);
        slim_free(c);
        return;
    }
    c->next = app->conns;
    app->conns = c;
}

static void sub_cmd(slim_app *app, app_cmd *cmd) {
    app_conn *c = conn_find(app, cmd->conn);
    if (c == NULL) {
        slim_app__complete(app, cmd->op, SLIM_E_NOT_FOUND,
                           cmd->conn ? "no such connection" : "no connection yet", NULL);
        return;
    }
    if (c->fwd == 0) {
        slim_app__complete(app, cmd->op, SLIM_E_CLOSED, "the connection is down", NULL);
        return;
    }
    bool unsub = cmd->kind == CMD_UNSUBSCRIBE || cmd->kind == CMD_REMOVE_ROUTE;
    bool route = cmd->kind == CMD_SET_ROUTE || cmd->kind == CMD_REMOVE_ROUTE;
    slim_status st = start_sub(app, cmd->op, c, NULL, &cmd->name, cmd->parts, unsub, route);
    if (st != SLIM_OK) {
        slim_app__complete(app, cmd->op, st, NULL, NULL);
        return;
    }
    /* start_sub put it first */
    app->subs->name_text = slim_strndup(cmd->text, strlen(cmd->text));
    app->subs->unsub = unsub;
    app->subs->route = route;
}

void slim_app__run_conn_cmd(slim_app *app, app_cmd *cmd) {
    switch (cmd->kind) {
    case CMD_CONNECT:
        connect_cmd(app, cmd);
        break;
    case CMD_DISCONNECT: {
        app_conn *c = conn_find(app, cmd->conn);
        if (c == NULL || cmd->conn == 0) {
            slim_app__complete(app, cmd->op, SLIM_E_NOT_FOUND, "no such connection", NULL);
            break;
        }
        if (c->connect_op != 0)
            slim_app__complete(app, c->connect_op, SLIM_E_CLOSED, "disconnected", NULL);
        conn_remove(app, c);
        slim_app__complete(app, cmd->op, SLIM_OK, NULL, NULL);
        break;
    }
    case CMD_RUN_SERVER:
        run_server(app, cmd);
        break;
    case CMD_STOP_SERVER:
        stop_server(app, cmd);
        break;
    case CMD_SUBSCRIBE:
    case CMD_UNSUBSCRIBE:
    case CMD_SET_ROUTE:
    case CMD_REMOVE_ROUTE:
        sub_cmd(app, cmd);
        break;
    default:
        slim_app__complete(app, cmd->op, SLIM_E_INVALID_ARG, NULL, NULL);
        break;
    }
}

void slim_app__conn_stop(slim_app *app) {
    while (app->subs != NULL)
        sub_done(app, app->subs, SLIM_E_CLOSED, "the app stopped");
    while (app->conns != NULL) {
        app_conn *c = app->conns;
        if (c->connect_op != 0) {
            slim_op op = c->connect_op;
            c->connect_op = 0;
            slim_app__complete(app, op, SLIM_E_CLOSED, "the app stopped", NULL);
        }
        conn_remove(app, c);
    }
    while (app->servers != NULL) {
        app_server *s = app->servers;
        app->servers = s->next;
        server_free(s);
    }
}

/* ---- the API (callers' side) ---- */

static app_cmd *cmd_new(cmd_kind kind) {
    app_cmd *c = slim_calloc(1, sizeof *c);
    if (c != NULL)
        c->kind = kind;
    return c;
}

/* The client config from options: upstream's defaults, then the fields. */
static slim_status options_config(const slim_client_options *o, slim_client_config *cc) {
    if (o == NULL || o->endpoint == NULL || o->endpoint[0] == 0)
        return SLIM_E_INVALID_ARG;
    slim_client_config_defaults(cc);
    cc->connection_type = SLIM_LINK_TYPE_EDGE;
    struct {
        const char *from;
        char **to;
    } strs[] = {{o->endpoint, &cc->endpoint},           {o->ca_file, &cc->tls.ca_file},
                {o->cert_file, &cc->tls.cert_file},     {o->key_file, &cc->tls.key_file},
                {o->server_name, &cc->tls.server_name}, {o->link_id, &cc->link_id}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (strs[i].from == NULL)
            continue;
        if ((*strs[i].to = slim_strndup(strs[i].from, strlen(strs[i].from))) == NULL)
            return SLIM_E_NOMEM;
    }
    cc->tls.insecure_skip_verify = o->insecure_skip_verify;
    cc->tls.insecure = strncmp(o->endpoint, "https://", 8) != 0;
    return SLIM_OK;
}

static void warn_key(const char *path, unsigned line, const char *why, void *ud) {
    (void)ud;
    SLIM_LOGW(MOD, "client config %s (line %u): %s", path, line, why);
}

static slim_status json_config(const char *json, bool server, app_cmd *c) {
    if (json == NULL)
        return SLIM_E_INVALID_ARG;
    slim_cfg_doc *doc = NULL;
    slim_cfg_error err = {0};
    slim_status st = slim_cfg_load_string(json, strlen(json), "config", &doc, &err);
    if (st == SLIM_OK) {
        if (server) {
            st = slim_server_config_parse(doc, doc->root, "server", &c->sc, warn_key, NULL, &err);
        } else {
            st = slim_client_config_parse(doc, doc->root, "client", &c->cc, warn_key, NULL, &err);
            if (st == SLIM_OK && c->cc.connection_type == SLIM_LINK_TYPE_UNSET)
                c->cc.connection_type = SLIM_LINK_TYPE_EDGE;
        }
    }
    if (st != SLIM_OK)
        SLIM_LOGW(MOD, "%s config: %s", server ? "server" : "client", err.msg);
    slim_cfg_free(doc);
    return st;
}

static slim_status run(slim_app *app, app_cmd *c, bool wait, int64_t timeout_ms, slim_op *op,
                       slim_event *out) {
    return wait ? slim_app__post_wait(app, c, timeout_ms, out) : slim_app__post_async(app, c, op);
}

static slim_status do_connect(slim_app *app, const slim_client_options *o, const char *json,
                              bool wait, int64_t timeout_ms, slim_conn_id *conn, slim_op *op) {
    if (app == NULL)
        return SLIM_E_INVALID_ARG;
    app_cmd *c = cmd_new(CMD_CONNECT);
    if (c == NULL)
        return SLIM_E_NOMEM;
    slim_status st = json != NULL ? json_config(json, false, c) : options_config(o, &c->cc);
    if (st != SLIM_OK) {
        slim_app__cmd_free(c);
        return st;
    }
    slim_event r;
    st = run(app, c, wait, timeout_ms, op, &r);
    if (wait && st == SLIM_OK && conn != NULL)
        *conn = r.conn;
    return st;
}

slim_status slim_app_connect(slim_app *app, const slim_client_options *o, int64_t timeout_ms,
                             slim_conn_id *conn) {
    return do_connect(app, o, NULL, true, timeout_ms, conn, NULL);
}

slim_status slim_app_connect_async(slim_app *app, const slim_client_options *o, slim_op *op) {
    return do_connect(app, o, NULL, false, 0, NULL, op);
}

slim_status slim_app_connect_json(slim_app *app, const char *json, int64_t timeout_ms,
                                  slim_conn_id *conn) {
    if (json == NULL)
        return SLIM_E_INVALID_ARG;
    return do_connect(app, NULL, json, true, timeout_ms, conn, NULL);
}

slim_status slim_app_connect_json_async(slim_app *app, const char *json, slim_op *op) {
    if (json == NULL)
        return SLIM_E_INVALID_ARG;
    return do_connect(app, NULL, json, false, 0, NULL, op);
}

static slim_status do_disconnect(slim_app *app, slim_conn_id conn, bool wait, int64_t timeout_ms,
                                 slim_op *op) {
    if (app == NULL || conn == 0)
        return SLIM_E_INVALID_ARG;
    app_cmd *c = cmd_new(CMD_DISCONNECT);
    if (c == NULL)
        return SLIM_E_NOMEM;
    c->conn = conn;
    return run(app, c, wait, timeout_ms, op, NULL);
}

slim_status slim_app_disconnect(slim_app *app, slim_conn_id conn, int64_t timeout_ms) {
    return do_disconnect(app, conn, true, timeout_ms, NULL);
}

slim_status slim_app_disconnect_async(slim_app *app, slim_conn_id conn, slim_op *op) {
    return do_disconnect(app, conn, false, 0, op);
}

static slim_status do_run_server(slim_app *app, const char *json, bool wait, int64_t timeout_ms,
                                 slim_op *op) {
    if (app == NULL || json == NULL)
        return SLIM_E_INVALID_ARG;
    app_cmd *c = cmd_new(CMD_RUN_SERVER);
    if (c == NULL)
        return SLIM_E_NOMEM;
    slim_status st = json_config(json, true, c);
    if (st != SLIM_OK) {
        slim_app__cmd_free(c);
        return st;
    }
    return run(app, c, wait, timeout_ms, op, NULL);
}

slim_status slim_app_run_server(slim_app *app, const char *json, int64_t timeout_ms) {
    return do_run_server(app, json, true, timeout_ms, NULL);
}

slim_status slim_app_run_server_async(slim_app *app, const char *json, slim_op *op) {
    return do_run_server(app, json, false, 0, op);
}

static slim_status do_stop_server(slim_app *app, const char *endpoint, bool wait,
                                  int64_t timeout_ms, slim_op *op) {
    if (app == NULL || endpoint == NULL)
        return SLIM_E_INVALID_ARG;
    app_cmd *c = cmd_new(CMD_STOP_SERVER);
    if (c == NULL || (c->text = slim_strndup(endpoint, strlen(endpoint))) == NULL) {
        slim_app__cmd_free(c);
        return SLIM_E_NOMEM;
    }
    return run(app, c, wait, timeout_ms, op, NULL);
}

slim_status slim_app_stop_server(slim_app *app, const char *endpoint, int64_t timeout_ms) {
    return do_stop_server(app, endpoint, true, timeout_ms, NULL);
}

slim_status slim_app_stop_server_async(slim_app *app, const char *endpoint, slim_op *op) {
    return do_stop_server(app, endpoint, false, 0, op);
}

static slim_status do_sub(slim_app *app, cmd_kind kind, const char *name, slim_conn_id conn,
                          bool wait, int64_t timeout_ms, slim_op *op) {
    if (app == NULL || name == NULL)
        return SLIM_E_INVALID_ARG;
    app_cmd *c = cmd_new(kind);
    if (c == NULL || (c->text = slim_strndup(name, strlen(name))) == NULL) {
        slim_app__cmd_free(c);
        return SLIM_E_NOMEM;
    }
    slim_name_parts parts;
    slim_status st = slim_name_parse(c->text, strlen(c->text), &c->name, &parts);
    if (st != SLIM_OK) {
        slim_app__cmd_free(c);
        return st;
    }
    for (int i = 0; i < 3; i++)
        c->parts[i] = parts.component[i];
    /* The app is one instance of a name it subscribes without an id. */
    if (!parts.has_id && (kind == CMD_SUBSCRIBE || kind == CMD_UNSUBSCRIBE))
        c->name.id = app->name.id;
    c->conn = conn;
    return run(app, c, wait, timeout_ms, op, NULL);
}

/* Each name call comes in the two forms of app.h. */
#define NAME_CALL(fn, kind)                                                                        \
    slim_status slim_app_##fn(slim_app *app, const char *name, slim_conn_id conn,                  \
                              int64_t timeout_ms) {                                                \
        return do_sub(app, kind, name, conn, true, timeout_ms, NULL);                              \
    }                                                                                              \
    slim_status slim_app_##fn##_async(slim_app *app, const char *name, slim_conn_id conn,          \
                                      slim_op *op) {                                               \
        return do_sub(app, kind, name, conn, false, 0, op);                                        \
    }

NAME_CALL(subscribe, CMD_SUBSCRIBE)
NAME_CALL(unsubscribe, CMD_UNSUBSCRIBE)
NAME_CALL(set_route, CMD_SET_ROUTE)
NAME_CALL(remove_route, CMD_REMOVE_ROUTE)
